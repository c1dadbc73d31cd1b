/*
 * iso20022_statement.c: khorgos_get_statement, a participant's settlement account as camt.053
 * (BkToCstmrStmt .001.08, one business day) or camt.054 (BkToCstmrDbtCdtNtfctn .001.08, a time
 * range), from the engine's queries alone (include/khorgos_iso20022.h):
 *
 *   the account   get_positions of the currency lists its participants in their order, and
 *                 query_accounts (ledger = the currency, code = settlement, ids in the
 *                 settlement's namespace: a client's account with the same ledger and code is
 *                 passed over) their settlement accounts in the same order (each is created
 *                 with its participant); the participant's position and account are at the
 *                 same index, and their balances are asserted equal.
 *   the entries   get_account_transfers of that account over the range, a page at a time;
 *                 a payment's transfers (codes 1 to 3) carry its id in user_data_128, and
 *                 lookup_payments gives its EndToEndId, UETR and participants.
 *   the day       (camt.053) the currency's business day of that date (get_business_days):
 *                 from its open_day's timestamp to the next open_day's, excluded; the last
 *                 day opened runs to now (the later of the clock and its last entry).
 *   the balances  (camt.053) the closing booked balance is the account's balance now less
 *                 what was booked after the day, the opening one less what was booked from
 *                 the day's start, so opening + entries = closing, each equal to the ledger's
 *                 at that instant.
 */
#include "iso20022/iso20022_private.h"

#include <stdio.h>

#define CODE_PAYMENT_FIRST 1u /* transfer codes of a payment: settle.h's transfer kinds 1-3 */
#define CODE_PAYMENT_LAST 3u
#define ACCOUNT_CODE_SETTLEMENT 1u /* the settlement account's kind, its code and id byte */
#define SETTLEMENT_NAMESPACE 0x4B53u /* the top 16 bits of the settlement layer's ids */
/* A range's end that is no end: every entry booked so far (a filter's 0). */
#define STATEMENT_END_NONE (U64_MAX - 1)

_Static_assert(KHORGOS_STATEMENT_BYTES_MAX >= KHORGOS_STATEMENT_ENTRY_COUNT_MAX * 1024u,
               "room for every entry");

struct statement_sums {
    u128 credits_from_first, debits_from_first; /* booked at or after first_ns */
    u128 credits_after_last, debits_after_last; /* booked after last_ns */
};

struct statement {
    struct khorgos_gateway *gateway;
    const struct khorgos_statement_request *request;
    const struct khorgos_currency *currency;
    char bic[KHORGOS_BIC_BYTES + 1];
    struct khorgos_account account;
    u64 first_ns, last_ns;  /* the entries' range, both included */
    u64 latest_ns;          /* the latest entry's timestamp seen by the balances' walk */
    u128 opening, closing;  /* camt.053 */
    u32 entry_count;
    struct statement_sums sums;
    struct iso20022_output output;
};

static void hex32(u128 value, char out[33]) {
    ASSERT(out != NULL);
    static const char digits[] = "0123456789abcdef";
    for (u32 nibble = 0; nibble < 32; nibble++) {
        out[nibble] = digits[(u32)(value >> (124 - 4 * nibble)) & 0xFu];
    }
    out[32] = '\0';
    ASSERT(strlen(out) == 32);
}

/* Whether an account is a settlement account of the settlement layer: its id is in the
 * settlement's namespace (docs/api.md, "Model": bits 127-112 0x4B53, 111-104 the kind), not a
 * client's account that happens to have the same ledger and code. */
static bool settlement_account(const struct khorgos_account *account) {
    ASSERT(account != NULL);
    ASSERT(account->code == ACCOUNT_CODE_SETTLEMENT);
    return (u32)(account->id >> 112) == SETTLEMENT_NAMESPACE &&
           (u32)(account->id >> 104 & 0xFFu) == ACCOUNT_CODE_SETTLEMENT;
}

/* The `wanted`-th (from 0) settlement account of the currency, in creation order, by pages of
 * query_accounts; account_not_found when there are fewer. */
static khorgos_error statement_account_at(struct statement *statement, u32 wanted) {
    ASSERT(statement != NULL && statement->gateway != NULL);
    struct khorgos_gateway *gateway = statement->gateway;
    struct khorgos_query_filter filter = {.ledger = statement->currency->numeric,
                                          .code = ACCOUNT_CODE_SETTLEMENT,
                                          .limit = KHORGOS_BATCH_EVENTS_MAX};
    u32 seen = 0;
    ASSERT(filter.ledger != 0);
    for (;;) {
        u32 size = 0;
        if (iso20022_execute(gateway, KHORGOS_OPERATION_QUERY_ACCOUNTS, &filter, sizeof(filter),
                             gateway->lookup, &size) != KHORGOS_ERROR_ok) {
            return gateway->error;
        }
        u32 count = size / (u32)sizeof(struct khorgos_account);
        for (u32 index = 0; index < count; index++) {
            memcpy(&statement->account, gateway->lookup + index * sizeof(statement->account),
                   sizeof(statement->account));
            if (settlement_account(&statement->account) && seen++ == wanted) {
                return KHORGOS_ERROR_ok;
            }
        }
        if (count < KHORGOS_BATCH_EVENTS_MAX) return KHORGOS_ERROR_account_not_found;
        filter.timestamp_min = statement->account.timestamp + 1;
    }
}

/* The participant's settlement account (see the file's note). */
static khorgos_error statement_account(struct statement *statement) {
    ASSERT(statement != NULL && statement->gateway != NULL);
    struct khorgos_gateway *gateway = statement->gateway;
    struct khorgos_settle_filter filter = {.currency = statement->currency->numeric};
    u32 size = 0;
    if (iso20022_execute(gateway, KHORGOS_OPERATION_GET_POSITIONS, &filter, sizeof(filter),
                         gateway->query, &size) != KHORGOS_ERROR_ok) {
        return gateway->error;
    }
    char stored[KHORGOS_BIC_BYTES];
    iso20022_bic_stored(statement->bic, stored);
    for (u32 index = 0; index < size / sizeof(struct khorgos_position); index++) {
        struct khorgos_position position;
        memcpy(&position, gateway->query + index * sizeof(position), sizeof(position));
        if (memcmp(position.bic, stored, KHORGOS_BIC_BYTES) != 0) continue;
        khorgos_error error = statement_account_at(statement, index);
        if (error != KHORGOS_ERROR_ok) return error;
        /* The same participant: its position's balance is its account's. */
        ASSERT(statement->account.credits_posted - statement->account.debits_posted ==
               position.balance);
        return KHORGOS_ERROR_ok;
    }
    return KHORGOS_ERROR_account_not_found;
}

/* Calls `visit` on each transfer of the account from timestamp `from` to `to` (included), in
 * timestamp order, a page at a time; gateway->query holds the page, the visit's index in it. */
typedef void (*statement_visit)(struct statement *statement, const struct khorgos_transfer *page,
                                u32 count);

static khorgos_error statement_walk(struct statement *statement, u64 from, u64 to,
                                    statement_visit visit) {
    ASSERT(statement != NULL && visit != NULL);
    ASSERT(from <= to);
    struct khorgos_gateway *gateway = statement->gateway;
    struct khorgos_account_filter filter;
    memset(&filter, 0, sizeof(filter));
    filter.account_id = statement->account.id;
    filter.timestamp_min = from;
    filter.timestamp_max = to == STATEMENT_END_NONE ? 0 : to; /* 0: no upper bound */
    filter.limit = ISO20022_PAGE_TRANSFERS;
    filter.flags = KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS;
    for (;;) {
        u32 size = 0;
        if (iso20022_execute(gateway, KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS, &filter,
                             sizeof(filter), gateway->query, &size) != KHORGOS_ERROR_ok) {
            return gateway->error;
        }
        u32 count = size / (u32)sizeof(struct khorgos_transfer);
        if (count == 0) return KHORGOS_ERROR_ok;
        const struct khorgos_transfer *page = (const struct khorgos_transfer *)gateway->query;
        visit(statement, page, count);
        u64 last = page[count - 1].timestamp;
        if (count < ISO20022_PAGE_TRANSFERS || last >= to) return KHORGOS_ERROR_ok;
        filter.timestamp_min = last + 1;
    }
}

/* ---- the balances (camt.053) ------------------------------------------------------------ */


static void visit_sum(struct statement *statement, const struct khorgos_transfer *page,
                      u32 count) {
    ASSERT(statement != NULL && page != NULL);
    ASSERT(count >= 1);
    for (u32 index = 0; index < count; index++) {
        bool credit = page[index].credit_account_id == statement->account.id;
        bool after = page[index].timestamp > statement->last_ns;
        statement->latest_ns = MAX(statement->latest_ns, page[index].timestamp);
        *(credit ? &statement->sums.credits_from_first : &statement->sums.debits_from_first) +=
            page[index].amount;
        if (after) {
            *(credit ? &statement->sums.credits_after_last : &statement->sums.debits_after_last) +=
                page[index].amount;
        } else {
            statement->entry_count++;
        }
    }
}

static khorgos_error statement_balances(struct statement *statement) {
    ASSERT(statement != NULL);
    ASSERT(statement->first_ns <= statement->last_ns);
    memset(&statement->sums, 0, sizeof(statement->sums));
    khorgos_error error =
        statement_walk(statement, statement->first_ns, STATEMENT_END_NONE, visit_sum);
    if (error != KHORGOS_ERROR_ok) return error;
    const struct khorgos_account *account = &statement->account;
    const struct statement_sums *sums = &statement->sums;
    ASSERT(account->credits_posted >= sums->credits_from_first);
    statement->opening = (account->credits_posted - sums->credits_from_first) -
                         (account->debits_posted - sums->debits_from_first);
    statement->closing = (account->credits_posted - sums->credits_after_last) -
                         (account->debits_posted - sums->debits_after_last);
    return KHORGOS_ERROR_ok;
}

static void visit_count(struct statement *statement, const struct khorgos_transfer *page,
                        u32 count) {
    ASSERT(statement != NULL && page != NULL);
    ASSERT(count >= 1);
    statement->entry_count += count;
}

/* ---- writing ------------------------------------------------------------------------------ */


static void put_amount(struct statement *statement, const char *name, u128 amount) {
    ASSERT(statement != NULL && name != NULL);
    char text[48];
    size_t length = khorgos_amount_format(amount, statement->currency->minor_units, text,
                                          sizeof(text));
    ASSERT(length > 0);
    iso20022_put(&statement->output, "<");
    iso20022_put(&statement->output, name);
    iso20022_put(&statement->output, " Ccy=\"");
    iso20022_put(&statement->output, statement->currency->letters);
    iso20022_put(&statement->output, "\">");
    iso20022_put(&statement->output, text);
    iso20022_put(&statement->output, "</");
    iso20022_put(&statement->output, name);
    iso20022_put(&statement->output, ">");
}

static void put_balance(struct statement *statement, const char *code, u128 amount, u64 at_ns) {
    ASSERT(statement != NULL && code != NULL);
    ASSERT(strlen(code) == 4);
    struct iso20022_output *out = &statement->output;
    iso20022_put(out, "<Bal><Tp><CdOrPrtry>");
    iso20022_element(out, "Cd", code, true);
    iso20022_put(out, "</CdOrPrtry></Tp>");
    put_amount(statement, "Amt", amount);
    iso20022_element(out, "CdtDbtInd", "CRDT", true); /* a settlement account is never below 0 */
    iso20022_put(out, "<Dt>");
    iso20022_put_date(out, "Dt", at_ns);
    iso20022_put(out, "</Dt></Bal>");
}

static const char *transfer_kind_name(u16 code) {
    static const char *const names[] = {"other",       "payment",      "payment_debit",
                                        "payment_credit", "credit_draw", "credit_repay",
                                        "fund",        "defund"};
    ASSERT(ARRAY_COUNT(names) == 8);
    const char *name = code < ARRAY_COUNT(names) ? names[code] : names[0];
    ASSERT(name != NULL);
    return name;
}

static void put_entry_details(struct statement *statement, const struct khorgos_transfer *transfer,
                              const struct khorgos_payment *payment, bool credit) {
    ASSERT(statement != NULL && transfer != NULL);
    ASSERT(payment != NULL);
    struct iso20022_output *out = &statement->output;
    char text[48], end_to_end_id[KHORGOS_END_TO_END_ID_BYTES + 1] = {0};
    iso20022_put(out, "<NtryDtls><TxDtls><Refs>");
    hex32(payment->id, text);
    iso20022_element(out, "AcctSvcrRef", text, true);
    memcpy(end_to_end_id, payment->end_to_end_id, KHORGOS_END_TO_END_ID_BYTES);
    iso20022_element(out, "EndToEndId", end_to_end_id, false);
    if (payment->uetr != 0) {
        iso20022_uuid_text(payment->uetr, text);
        iso20022_element(out, "UETR", text, true);
    }
    iso20022_put(out, "</Refs>");
    put_amount(statement, "Amt", transfer->amount);
    iso20022_element(out, "CdtDbtInd", credit ? "CRDT" : "DBIT", true);
    char debtor[KHORGOS_BIC_BYTES + 1] = {0}, creditor[KHORGOS_BIC_BYTES + 1] = {0};
    memcpy(debtor, payment->debtor, KHORGOS_BIC_BYTES);
    memcpy(creditor, payment->creditor, KHORGOS_BIC_BYTES);
    iso20022_put(out, "<RltdAgts>");
    iso20022_agent(out, "DbtrAgt", debtor);
    iso20022_agent(out, "CdtrAgt", creditor);
    iso20022_put(out, "</RltdAgts></TxDtls></NtryDtls>");
}

static void put_entry(struct statement *statement, const struct khorgos_transfer *transfer,
                      const struct khorgos_payment *payment) {
    ASSERT(statement != NULL && transfer != NULL);
    ASSERT(transfer->debit_account_id == statement->account.id ||
           transfer->credit_account_id == statement->account.id);
    struct iso20022_output *out = &statement->output;
    bool credit = transfer->credit_account_id == statement->account.id;
    char reference[33];
    hex32(transfer->id, reference);
    iso20022_put(out, "<Ntry>");
    iso20022_element(out, "NtryRef", reference, true);
    put_amount(statement, "Amt", transfer->amount);
    iso20022_element(out, "CdtDbtInd", credit ? "CRDT" : "DBIT", true);
    iso20022_put(out, "<Sts><Cd>BOOK</Cd></Sts><BookgDt>");
    iso20022_put_time(out, "DtTm", transfer->timestamp);
    iso20022_put(out, "</BookgDt><ValDt>");
    iso20022_put_date(out, "Dt", transfer->timestamp);
    iso20022_put(out, "</ValDt>");
    iso20022_element(out, "AcctSvcrRef", reference, true);
    iso20022_put(out, "<BkTxCd><Prtry>");
    iso20022_element(out, "Cd", transfer_kind_name(transfer->code), true);
    iso20022_element(out, "Issr", "KHORGOS", true);
    iso20022_put(out, "</Prtry></BkTxCd>");
    if (payment != NULL) put_entry_details(statement, transfer, payment, credit);
    iso20022_put(out, "</Ntry>");
}

/* Whether the transfer books that payment: every leg a payment settles alone or across
 * currencies (code 1) carries its id; a leg of a set (codes 2 and 3) is its debit or credit
 * transfer, while a window's net transfer (codes 2 and 3 too) carries the window's number,
 * which may equal some payment's id. */
static bool transfer_of_payment(const struct khorgos_transfer *transfer,
                                const struct khorgos_payment *payment) {
    ASSERT(transfer != NULL && payment != NULL);
    ASSERT(transfer->user_data_128 == payment->id);
    return transfer->code == CODE_PAYMENT_FIRST || transfer->id == payment->transfer_id_debit ||
           transfer->id == payment->transfer_id_credit;
}

/* Writes the page's entries within the range, each with its payment when it has one. */
static void visit_write(struct statement *statement, const struct khorgos_transfer *page,
                        u32 count) {
    ASSERT(statement != NULL && page != NULL);
    ASSERT(count <= ISO20022_PAGE_TRANSFERS);
    struct khorgos_gateway *gateway = statement->gateway;
    u32 ids = 0;
    for (u32 index = 0; index < count; index++) {
        if (page[index].code >= CODE_PAYMENT_FIRST && page[index].code <= CODE_PAYMENT_LAST &&
            page[index].user_data_128 != 0) {
            gateway->ids[ids++] = page[index].user_data_128;
        }
    }
    u32 size = 0;
    if (ids > 0) {
        iso20022_execute(gateway, KHORGOS_OPERATION_LOOKUP_PAYMENTS, gateway->ids,
                         ids * (u32)sizeof(u128), gateway->lookup, &size);
    }
    const struct khorgos_payment *payments = (const struct khorgos_payment *)gateway->lookup;
    u32 found = size / (u32)sizeof(struct khorgos_payment), next = 0;
    for (u32 index = 0; index < count && page[index].timestamp <= statement->last_ns; index++) {
        const struct khorgos_payment *payment = NULL;
        if (next < found && payments[next].id == page[index].user_data_128 &&
            page[index].code >= CODE_PAYMENT_FIRST && page[index].code <= CODE_PAYMENT_LAST) {
            payment = &payments[next++];
        }
        if (payment != NULL && !transfer_of_payment(&page[index], payment)) payment = NULL;
        put_entry(statement, &page[index], payment);
    }
}

static void put_header(struct statement *statement, const char *name, u64 created_ns) {
    ASSERT(statement != NULL && name != NULL);
    ASSERT(statement->first_ns <= statement->last_ns);
    struct iso20022_output *out = &statement->output;
    bool camt053 = statement->request->kind == KHORGOS_STATEMENT_CAMT_053;
    char id[36];
    if (camt053) {
        snprintf(id, sizeof(id), "%.11sS%u%u", statement->bic, statement->currency->numeric,
                 statement->request->date);
    } else {
        snprintf(id, sizeof(id), "%.11sN%u-%llu", statement->bic, statement->currency->numeric,
                 (unsigned long long)(statement->first_ns / 1000000u));
    }
    iso20022_put(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:"
                      "std:iso:20022:tech:xsd:");
    iso20022_put(out, camt053 ? "camt.053.001.08\"><BkToCstmrStmt>"
                              : "camt.054.001.08\"><BkToCstmrDbtCdtNtfctn>");
    iso20022_put(out, "<GrpHdr>");
    iso20022_element(out, "MsgId", id, true);
    iso20022_put_time(out, "CreDtTm", created_ns);
    iso20022_put(out, "</GrpHdr><");
    iso20022_put(out, name);
    iso20022_put(out, ">");
    iso20022_element(out, "Id", id, true);
    iso20022_put_time(out, "CreDtTm", created_ns);
    iso20022_put(out, "<FrToDt>");
    iso20022_put_time(out, "FrDtTm", statement->first_ns);
    iso20022_put_time(out, "ToDtTm", statement->last_ns);
    iso20022_put(out, "</FrToDt><Acct><Id><Othr>");
    char account[33];
    hex32(statement->account.id, account);
    iso20022_element(out, "Id", account, true);
    iso20022_put(out, "</Othr></Id>");
    iso20022_element(out, "Ccy", statement->currency->letters, true);
    iso20022_put(out, "<Ownr><Id><OrgId>");
    iso20022_element(out, "AnyBIC", statement->bic, true);
    iso20022_put(out, "</OrgId></Id></Ownr></Acct>");
}

static khorgos_error statement_write(struct statement *statement) {
    ASSERT(statement != NULL && statement->request != NULL);
    bool camt053 = statement->request->kind == KHORGOS_STATEMENT_CAMT_053;
    const char *name = camt053 ? "Stmt" : "Ntfctn";
    put_header(statement, name, khorgos_clock_now(statement->gateway->engine));
    if (camt053) {
        put_balance(statement, "OPBD", statement->opening, statement->first_ns);
        put_balance(statement, "CLBD", statement->closing, statement->last_ns);
    }
    khorgos_error error = statement_walk(statement, statement->first_ns, statement->last_ns,
                                         visit_write);
    if (error != KHORGOS_ERROR_ok) return error;
    iso20022_put(&statement->output, "</");
    iso20022_put(&statement->output, name);
    iso20022_put(&statement->output, camt053 ? "></BkToCstmrStmt></Document>\n"
                                            : "></BkToCstmrDbtCdtNtfctn></Document>\n");
    ASSERT(!statement->output.overflow); /* the entries were counted against the capacity */
    return KHORGOS_ERROR_ok;
}

/* ---- the operation -------------------------------------------------------------------- */

static bool statement_range(const struct khorgos_statement_request *request, u64 *first_ns,
                            u64 *last_ns) {
    ASSERT(request != NULL);
    ASSERT(first_ns != NULL && last_ns != NULL);
    if (request->kind == KHORGOS_STATEMENT_CAMT_054) {
        bool all = request->timestamp_min == 0 && request->timestamp_max == 0;
        *first_ns = request->timestamp_min;
        *last_ns = all ? STATEMENT_END_NONE : request->timestamp_max;
        return *first_ns <= *last_ns && *last_ns < U64_MAX;
    }
    char text[16];
    snprintf(text, sizeof(text), "%04u-%02u-%02u", request->date / 10000,
             request->date / 100 % 100, request->date % 100);
    u32 date = 0;
    if (request->kind != KHORGOS_STATEMENT_CAMT_053 || request->date < 19700101 ||
        !iso20022_date_parse(text, 10, &date)) {
        return false;
    }
    *first_ns = 0; /* the business day's: statement_business_day */
    *last_ns = STATEMENT_END_NONE;
    return true;
}

/* A camt.053's range: its business day (get_business_days of the date and the day after). */
static khorgos_error statement_business_day(struct statement *statement) {
    ASSERT(statement != NULL);
    ASSERT(statement->request->kind == KHORGOS_STATEMENT_CAMT_053);
    struct khorgos_day_filter filter = {.currency = statement->request->currency,
                                        .date_min = statement->request->date, .limit = 2};
    u32 size = 0;
    struct khorgos_gateway *gateway = statement->gateway;
    khorgos_error error = iso20022_execute(gateway, KHORGOS_OPERATION_GET_BUSINESS_DAYS, &filter,
                                           sizeof(filter), gateway->lookup, &size);
    if (error != KHORGOS_ERROR_ok) return error;
    struct khorgos_business_day_record days[2];
    u32 count = MIN(size / (u32)sizeof(days[0]), 2u);
    memcpy(days, gateway->lookup, count * sizeof(days[0]));
    if (count == 0 || days[0].date != statement->request->date) {
        return KHORGOS_ERROR_day_not_found;
    }
    statement->first_ns = days[0].opened_at;
    statement->last_ns = count == 2 ? days[1].opened_at - 1 : STATEMENT_END_NONE;
    ASSERT(statement->first_ns <= statement->last_ns);
    return KHORGOS_ERROR_ok;
}

khorgos_error khorgos_get_statement(struct khorgos_gateway *gateway,
                                    const struct khorgos_statement_request *request, char *xml,
                                    size_t capacity, size_t *size) {
    ASSERT(gateway != NULL && request != NULL);
    ASSERT(size != NULL);
    *size = 0;
    if (xml == NULL || capacity < KHORGOS_STATEMENT_BYTES_MAX) {
        return KHORGOS_ERROR_reply_too_small;
    }
    struct statement statement = {.gateway = gateway, .request = request};
    size_t bic_length = strnlen(request->bic, sizeof(request->bic));
    statement.currency = khorgos_currency_by_numeric(request->currency);
    if ((bic_length != 8 && bic_length != KHORGOS_BIC_BYTES) ||
        !iso20022_bic_valid(request->bic, bic_length) || statement.currency == NULL ||
        !statement_range(request, &statement.first_ns, &statement.last_ns)) {
        return KHORGOS_ERROR_invalid_argument;
    }
    memcpy(statement.bic, request->bic, bic_length);
    gateway->error = KHORGOS_ERROR_ok;
    bool camt053 = request->kind == KHORGOS_STATEMENT_CAMT_053;
    khorgos_error error = statement_account(&statement);
    if (error == KHORGOS_ERROR_ok && camt053) error = statement_business_day(&statement);
    if (error == KHORGOS_ERROR_ok) {
        error = camt053 ? statement_balances(&statement)
                        : statement_walk(&statement, statement.first_ns, statement.last_ns,
                                         visit_count);
    }
    if (error != KHORGOS_ERROR_ok) return error;
    if (camt053 && statement.last_ns == STATEMENT_END_NONE) { /* the last day: to now */
        /* A manual clock may lag the timestamps it gave (each is after the one before). */
        u64 now = MAX(khorgos_clock_now(gateway->engine), statement.first_ns);
        statement.last_ns = MAX(now, statement.latest_ns);
    }
    if (statement.entry_count > KHORGOS_STATEMENT_ENTRY_COUNT_MAX) {
        return KHORGOS_ERROR_too_many_entries;
    }
    statement.output = (struct iso20022_output){.data = xml, .capacity = capacity};
    error = statement_write(&statement);
    if (error != KHORGOS_ERROR_ok) return error;
    *size = statement.output.length;
    return KHORGOS_ERROR_ok;
}
