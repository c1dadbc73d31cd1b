/* test_iso20022_gateway.c: the gateway over a real engine (include/khorgos_iso20022.h):
 * pacs.008 in -> settled ACSC; queued ACSP, then settled after funding, its resubmission the
 * first reply byte for byte; get_message_status ACSP then ACSC, RJCT TM01 after the cut-off,
 * RJCT NARR once cancelled; camt.056 on a queued payment -> camt.029 CNCL and the payment
 * cancelled, on a settled one RJCR ARDT; pacs.004 of a settled payment returns the money; every
 * ISO code of the engine's statuses is a reason the replies can carry; and camt.053 and camt.054
 * read back with libxml2, checked against structural rules, and reconciled to the ledger to the
 * minor unit over two business days; a gateway acting for a participant refuses another
 * sender's message RJCT AGNT, submitting nothing, and names the payments of the messages it
 * submitted. The payments' references: the same MsgId from the same sender with another body
 * DUPL, the originals in every status and camt.029, partial returns then AM09 (and the
 * engine's own checks), the references through a snapshot; the PvP convention settles a
 * converted payment, and its return converts back; a camt.056 sent again gets its first
 * camt.029, its Assgnmt/Id with another body DUPL, after a snapshot too. Run from the
 * repository's root (the corpus is tests/iso20022/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "engine/engine.h"
#include "iso20022/iso20022.h"
#include "khorgos_iso20022.h"
#include "settle_snapshot_round_trip.h"

#define CORPUS "tests/iso20022/"
#define KZT 398u
#define UETR_PACS008 "e7985fdc-04da-494d-9f89-cc9502ea84bb"

struct fixture {
    struct khorgos *engine;
    struct khorgos_gateway *gateway;
    u64 request_id;
};
static struct fixture fixture;
/* The customer cut-off of the fixture's day, from the clock's start; 0 = none. */
static u64 cut_off_after_ns;
static char reply[KHORGOS_MESSAGE_REPLY_BYTES_MAX];
static char statement[KHORGOS_STATEMENT_BYTES_MAX];
static struct iso20022_report report;

static void execute(u32 operation, const void *body, u32 size, void *out, u32 capacity) {
    struct khorgos_request request = {.operation = operation, .body_size = size, .body = body,
                                      .reply = out, .reply_capacity = capacity};
    assert_int_equal(khorgos_execute(fixture.engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.error, KHORGOS_ERROR_ok);
}

static void participant_in(const char *bic, u8 role, const u32 *currencies, u32 count) {
    struct khorgos_participant event;
    memset(&event, 0, sizeof(event));
    memcpy(event.bic, bic, strlen(bic));
    memcpy(event.country, bic + 4, 2);
    event.role = role;
    memcpy(event.name, bic, 4);
    memcpy(event.currencies, currencies, count * sizeof(u32));
    struct khorgos_settle_result result;
    execute(KHORGOS_OPERATION_CREATE_PARTICIPANTS, &event, sizeof(event), &result,
            sizeof(result));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
}

static void participant(const char *bic, u8 role) {
    const u32 kzt[] = {KZT};
    participant_in(bic, role, kzt, 1);
}

static void fund(const char *bic, u128 amount) {
    struct khorgos_participant_event event;
    memset(&event, 0, sizeof(event));
    event.id = ++fixture.request_id;
    event.amount = amount;
    memcpy(event.bic, bic, strlen(bic));
    event.currency = KZT;
    struct khorgos_settle_result result;
    execute(KHORGOS_OPERATION_FUND, &event, sizeof(event), &result, sizeof(result));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
}

static int setup(void **state) {
    (void)state;
    memset(&fixture, 0, sizeof(fixture));
    struct khorgos_config config = {.clock_manual = 1, .account_count_max = 256,
                                    .transfer_count_max = 4096,
                                    .account_balance_count_max = 256};
    assert_int_equal(khorgos_open_memory(&fixture.engine, &config), KHORGOS_ERROR_ok);
    assert_int_equal(khorgos_gateway_open(&fixture.gateway, fixture.engine), KHORGOS_ERROR_ok);
    /* A client's account with the ledger and code of a settlement account, created first: a
     * statement must not take it for a participant's. */
    struct khorgos_account account = {.id = 7, .ledger = KZT, .code = 1};
    struct khorgos_create_result created;
    execute(KHORGOS_OPERATION_CREATE_ACCOUNTS, &account, sizeof(account), &created,
            sizeof(created));
    assert_int_equal(created.status, KHORGOS_CREATE_ACCOUNT_created);
    participant("NBRKKZKX", KHORGOS_ROLE_SETTLEMENT_AGENT);
    participant("HSBKKZKX", KHORGOS_ROLE_BANK);
    participant("KCJBKZKX", KHORGOS_ROLE_BANK);
    struct khorgos_business_day day;
    memset(&day, 0, sizeof(day));
    day.id = ++fixture.request_id;
    day.currency = KZT;
    day.date = 20230519;
    day.queue_mode = KHORGOS_QUEUE_MODE_FIFO;
    if (cut_off_after_ns != 0) {
        day.cut_off_customer = KHORGOS_MANUAL_CLOCK_START_NS + cut_off_after_ns;
        day.cut_off_interbank = day.cut_off_customer;
    }
    struct khorgos_settle_result result;
    execute(KHORGOS_OPERATION_OPEN_DAY, &day, sizeof(day), &result, sizeof(result));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    return 0;
}

static int setup_cut_off(void **state) {
    cut_off_after_ns = 60ull * 1000000000ull;
    int status = setup(state);
    cut_off_after_ns = 0;
    return status;
}

static int teardown(void **state) {
    (void)state;
    khorgos_gateway_close(fixture.gateway);
    khorgos_close(fixture.engine);
    return 0;
}

static char *file_read(const char *name, size_t *size) {
    char path[256];
    snprintf(path, sizeof(path), CORPUS "%s", name);
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    static char bytes[1u << 16];
    *size = fread(bytes, 1, sizeof(bytes), file);
    fclose(file);
    assert_true(*size > 0 && *size < sizeof(bytes));
    return bytes;
}

/* Submits bytes; the reply is read back into `report`. Returns the group status. */
static const char *submit_bytes(const char *xml, size_t size,
                                struct khorgos_message_result *result) {
    assert_int_equal(khorgos_submit_message(fixture.gateway, xml, size, reply, sizeof(reply),
                                            result),
                     KHORGOS_ERROR_ok);
    assert_int_equal(strlen(reply), result->reply_size);
    enum iso20022_reason reason = ISO20022_REASON_NONE;
    assert_true(iso20022_read_report((const u8 *)reply, result->reply_size, &report, &reason));
    assert_string_equal(iso20022_status_code(report.group_status), result->group_status);
    return result->group_status;
}

/* Submits a corpus file, as submit_bytes. */
static const char *submit(const char *name, struct khorgos_message_result *result) {
    size_t size = 0;
    const char *xml = file_read(name, &size);
    return submit_bytes(xml, size, result);
}

/* A corpus file with each pairs[2k] replaced by pairs[2k + 1] (in a buffer of its own),
 * submitted as submit_bytes. */
static const char *submit_edited(const char *name, const char *const *pairs, u32 pair_count,
                                 struct khorgos_message_result *result) {
    size_t size = 0;
    const char *xml = file_read(name, &size);
    static char out[1u << 16];
    size_t length = 0;
    for (size_t at = 0; at < size;) {
        u32 pair = 0;
        while (pair < pair_count && (size - at < strlen(pairs[2 * pair]) ||
                                     memcmp(xml + at, pairs[2 * pair],
                                            strlen(pairs[2 * pair])) != 0)) {
            pair++;
        }
        const char *to = pair < pair_count ? pairs[2 * pair + 1] : xml + at;
        size_t taken = pair < pair_count ? strlen(pairs[2 * pair]) : 1;
        size_t put = pair < pair_count ? strlen(to) : 1;
        assert_true(length + put < sizeof(out));
        memcpy(out + length, to, put);
        length += put;
        at += taken;
    }
    return submit_bytes(out, length, result);
}

static const char *submit_replaced(const char *name, const char *from, const char *to,
                                   struct khorgos_message_result *result) {
    const char *const pairs[] = {from, to};
    return submit_edited(name, pairs, 1, result);
}

static struct khorgos_payment lookup_payment(u128 id) {
    struct khorgos_payment payment;
    memset(&payment, 0, sizeof(payment));
    static u8 out[1u << 20];
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_LOOKUP_PAYMENTS,
                                      .body_size = sizeof(id), .body = &id, .reply = out,
                                      .reply_capacity = sizeof(out)};
    assert_int_equal(khorgos_execute(fixture.engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.reply_size, sizeof(payment));
    memcpy(&payment, out, sizeof(payment));
    return payment;
}

/* The participant's position in a currency now (get_positions). */
static struct khorgos_position position_of(const char *bic, u32 currency) {
    struct khorgos_settle_filter filter = {.currency = currency, .limit = 1};
    memcpy(filter.bic, bic, strlen(bic));
    static u8 out[1u << 20];
    execute(KHORGOS_OPERATION_GET_POSITIONS, &filter, sizeof(filter), out, sizeof(out));
    struct khorgos_position position;
    memcpy(&position, out, sizeof(position));
    return position;
}

/* The participant's settlement balance in KZT now. */
static u128 balance_of(const char *bic) {
    return position_of(bic, KZT).balance;
}

static u128 uetr_pacs008(void) {
    u128 value = 0;
    assert_true(iso20022_uetr_parse(UETR_PACS008, strlen(UETR_PACS008), &value));
    return value;
}

/* Closes 2023-05-19 and opens 2023-05-20 in KZT. */
static void next_day(void) {
    struct khorgos_business_day day;
    memset(&day, 0, sizeof(day));
    day.id = ++fixture.request_id;
    day.currency = KZT;
    struct khorgos_settle_result result;
    execute(KHORGOS_OPERATION_CLOSE_DAY, &day, sizeof(day), &result, sizeof(result));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    day.id = ++fixture.request_id;
    day.date = 20230520;
    day.queue_mode = KHORGOS_QUEUE_MODE_FIFO;
    execute(KHORGOS_OPERATION_OPEN_DAY, &day, sizeof(day), &result, sizeof(result));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
}

/* ---- payments ---------------------------------------------------------------------------- */

static void test_settled_is_acsc(void **state) {
    (void)state;
    fund("HSBKKZKX", 100000000);
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSC");
    assert_int_equal(result.transaction_count, 1);
    assert_int_equal(result.rejected_count, 0);
    assert_string_equal(report.original_message_id, "HSBK20230519-0001");
    assert_string_equal(report.original_message_name, "pacs.008.001.08");
    assert_string_equal(report.transactions[0].original_end_to_end_id, "INV-2023-0042");
    assert_string_equal(report.transactions[0].original_transaction_id, "HSBK-TX-0001");
    assert_string_equal(report.transactions[0].original_uetr, UETR_PACS008);
    struct khorgos_payment payment = lookup_payment(uetr_pacs008());
    assert_int_equal(payment.state, KHORGOS_PAYMENT_SETTLED);
    assert_true(payment.amount == 125050);
    assert_int_equal(payment.type, KHORGOS_PAYMENT_CUSTOMER);
}

static void test_queued_is_acsp_then_settles(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSP");
    static char first[KHORGOS_MESSAGE_REPLY_BYTES_MAX];
    memcpy(first, reply, result.reply_size + 1);
    fund("HSBKKZKX", 100000000);
    assert_int_equal(lookup_payment(uetr_pacs008()).state, KHORGOS_PAYMENT_SETTLED);
    /* The same bytes again: the first reply, byte for byte, and nothing changes. */
    khorgos_clock_advance(fixture.engine, 1000000000ull);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSP");
    assert_string_equal(reply, first);
}

static void test_refused_message_changes_nothing(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("participant_unknown.xml", &result), "RJCT");
    assert_string_equal(result.reason, "RC01");
    assert_string_equal(submit("decimals_kzt_three.xml", &result), "RJCT");
    assert_string_equal(result.reason, "AM12");
    /* A status without an ISO code: NARR, its name in AddtlInf (a CR in EndToEndId). */
    assert_string_equal(submit("pacs008_v08_end_to_end_cr.xml", &result), "RJCT");
    assert_string_equal(result.reason, "NARR");
    assert_string_equal(report.transactions[0].additional_info, "end_to_end_id_invalid");
    assert_string_equal(submit("other_camt053.xml", &result), "RJCT");
    assert_string_equal(report.original_message_name, "camt.053.001.08");
    assert_int_equal(result.transaction_count, 0);
}

/* Every ISO code of the engine's statuses (khorgos_settle_status_iso_code) is a reason the
 * replies can carry, so a refusal is never reported under another code. */
static void test_every_engine_code_is_a_reason(void **state) {
    (void)state;
    for (u32 status = 0; status < KHORGOS_SETTLE_STATUS_COUNT; status++) {
        const char *code = khorgos_settle_status_iso_code(status);
        enum iso20022_reason reason = ISO20022_REASON_NONE;
        if (code[0] == '\0') continue;
        assert_true(iso20022_reason_parse(code, &reason));
        assert_string_equal(iso20022_reason_code(reason), code);
    }
}

/* ---- payment versus payment ------------------------------------------------------------ */

#define CNY 156u

/* A CNY side: the PBOC, Bank of China, and a liquidity provider in KZT and CNY quoting
 * KZT -> CNY at 0.0152 and funded in CNY; the CNY day open. */
static void pvp_world(void) {
    const u32 cny[] = {CNY}, both[] = {KZT, CNY};
    participant_in("PBOCCNBJ", KHORGOS_ROLE_SETTLEMENT_AGENT, cny, 1);
    participant_in("BKCHCNBJ", KHORGOS_ROLE_BANK, cny, 1);
    participant_in("LPAAKZKA", KHORGOS_ROLE_LIQUIDITY_PROVIDER, both, 2);
    struct khorgos_business_day day = {.id = ++fixture.request_id, .currency = CNY,
                                       .date = 20230519, .queue_mode = KHORGOS_QUEUE_MODE_FIFO};
    struct khorgos_settle_result result;
    execute(KHORGOS_OPERATION_OPEN_DAY, &day, sizeof(day), &result, sizeof(result));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    struct khorgos_participant_event funding = {.id = ++fixture.request_id, .amount = 10000000,
                                                .currency = CNY};
    memcpy(funding.bic, "LPAAKZKA", 8);
    execute(KHORGOS_OPERATION_FUND, &funding, sizeof(funding), &result, sizeof(result));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    struct khorgos_fx_quote quote = {.id = 1, .amount_max = 100000000, .currency_source = KZT,
                                     .currency_target = CNY, .rate_mantissa = 152,
                                     .rate_exponent = -4,
                                     .expires_at = khorgos_clock_now(fixture.engine) +
                                                   3600ull * 1000000000ull};
    memcpy(quote.provider, "LPAAKZKA", 8);
    execute(KHORGOS_OPERATION_SET_FX_QUOTES, &quote, sizeof(quote), &result, sizeof(result));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
}

/* The PvP convention: PmtTpInf/LclInstrm/Prtry KHORGOS/PVP/CNY on a KZT pacs.008 to a CNY
 * bank settles as a cross-currency PvP payment through the provider: the debtor pays
 * 1250.50 KZT, the creditor gets 19.00 CNY (1250.50 x 0.0152, rounded down), ACSC. Without
 * the code the same message is refused (the creditor does not hold KZT: AM03); with the code
 * naming the settlement currency, or not a currency, FF01. */
static void test_pvp_convention_settles_converted(void **state) {
    (void)state;
    pvp_world();
    fund("HSBKKZKX", 100000000);
    struct khorgos_message_result result;
    /* (Under another MsgId and without the UETR: a payment the engine refused is kept, and
     * its MsgId and UETR with it.) */
    const char *const plain[] = {"KCJBKZKX", "BKCHCNBJ", "HSBK20230519-0001", "HSBK-PLAIN"};
    assert_string_equal(submit_edited("pacs008_v08_no_uetr.xml", plain, 2, &result), "RJCT");
    assert_string_equal(result.reason, "AM03");
    const char *const same[] = {"KCJBKZKX", "BKCHCNBJ", "</InstrPrty>",
                                ("</InstrPrty><LclInstrm><Prtry>KHORGOS/PVP/KZT</Prtry>"
                                 "</LclInstrm>")};
    assert_string_equal(submit_edited("pacs008_v08.xml", same, 2, &result), "RJCT");
    assert_string_equal(result.reason, "FF01");
    assert_non_null(strstr(report.group_additional_info, "into the settlement currency"));
    const char *const converted[] = {"KCJBKZKX", "BKCHCNBJ", "</InstrPrty>",
                                     ("</InstrPrty><LclInstrm><Prtry>KHORGOS/PVP/CNY</Prtry>"
                                      "</LclInstrm>")};
    assert_string_equal(submit_edited("pacs008_v08.xml", converted, 2, &result), "ACSC");
    assert_string_equal(report.transactions[0].original_uetr, UETR_PACS008);
    struct khorgos_payment payment = lookup_payment(uetr_pacs008());
    assert_int_equal(payment.state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(payment.currency, KZT);
    assert_int_equal(payment.currency_target, CNY);
    assert_int_equal(payment.route, KHORGOS_ROUTE_DIRECT);
    assert_true(payment.amount == 125050 && payment.amount_target == 1900);
    assert_true(balance_of("HSBKKZKX") == 100000000 - 125050);
    assert_true(position_of("BKCHCNBJ", CNY).balance == 1900);
    assert_true(position_of("LPAAKZKA", KZT).balance == 125050);
}

/* A pacs.004 of pacs008_v08's converted payment from Bank of China: `amount` (text) in
 * `currency`, today, under MsgId `message_id`. */
static const char *submit_pvp_return(const char *amount, const char *currency,
                                     const char *message_id,
                                     struct khorgos_message_result *result) {
    char returned[64];
    snprintf(returned, sizeof(returned), "<RtrdIntrBkSttlmAmt Ccy=\"%s\">%s<", currency, amount);
    const char *const pairs[] = {"<RtrdIntrBkSttlmAmt Ccy=\"KZT\">1250.50<", returned,
                                 "KCJB20230520-R001", message_id,
                                 "<IntrBkSttlmDt>2023-05-20</IntrBkSttlmDt>", "",
                                 "KCJBKZKX", "BKCHCNBJ"};
    return submit_edited("pacs004_v09.xml", pairs, 4, result);
}

/* The return of a converted payment: the creditor's participant returns, in the currency it
 * received (CNY), at most what it received less earlier returns (AM09 above), converted back
 * into KZT at the provider's quote of now (0.0152 there, 65 back: 19.00 CNY is 1235.00 KZT);
 * in the original's KZT it is refused AM03. */
static void test_return_of_converted_payment(void **state) {
    (void)state;
    pvp_world();
    fund("HSBKKZKX", 100000000);
    struct khorgos_message_result result;
    const char *const converted[] = {"KCJBKZKX", "BKCHCNBJ", "</InstrPrty>",
                                     ("</InstrPrty><LclInstrm><Prtry>KHORGOS/PVP/CNY</Prtry>"
                                      "</LclInstrm>")};
    assert_string_equal(submit_edited("pacs008_v08.xml", converted, 2, &result), "ACSC");
    struct khorgos_fx_quote quote = {.id = 2, .amount_max = 100000000, .currency_source = CNY,
                                     .currency_target = KZT, .rate_mantissa = 65,
                                     .expires_at = khorgos_clock_now(fixture.engine) +
                                                   3600ull * 1000000000ull};
    memcpy(quote.provider, "LPAAKZKA", 8);
    struct khorgos_settle_result outcome;
    execute(KHORGOS_OPERATION_SET_FX_QUOTES, &quote, sizeof(quote), &outcome, sizeof(outcome));
    assert_int_equal(outcome.status, KHORGOS_SETTLE_ok);
    assert_string_equal(submit_pvp_return("1250.50", "KZT", "BKCH-R0", &result), "RJCT");
    assert_string_equal(result.reason, "AM03");
    assert_non_null(strstr(report.group_additional_info, "currency the original's creditor"));
    assert_string_equal(submit_pvp_return("19.01", "CNY", "BKCH-R1", &result), "RJCT");
    assert_string_equal(result.reason, "AM09");
    assert_string_equal(submit_pvp_return("19.00", "CNY", "BKCH-R2", &result), "ACSC");
    struct khorgos_payment payment =
        lookup_payment(iso20022_payment_id("BKCHCNBJ", "BKCH-R2", 1));
    assert_int_equal(payment.currency, CNY);
    assert_int_equal(payment.currency_target, KZT);
    assert_true(payment.amount == 1900 && payment.amount_target == 123500);
    assert_true(position_of("BKCHCNBJ", CNY).balance == 0);
    assert_true(balance_of("HSBKKZKX") == 100000000 - 125050 + 123500);
    assert_string_equal(submit_pvp_return("0.01", "CNY", "BKCH-R3", &result), "RJCT");
    assert_string_equal(result.reason, "AM09");
}

/* ---- cancellations and returns --------------------------------------------------------- */

static void test_cancel_queued_is_cncl(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSP");
    assert_string_equal(submit("camt056_v08.xml", &result), "ACSC");
    assert_int_equal(report.type, ISO20022_MESSAGE_CAMT_029);
    assert_string_equal(report.transactions[0].original_end_to_end_id, "INV-2023-0042");
    assert_true(strstr(reply, "<Conf>CNCL</Conf>") != NULL);
    assert_true(strstr(reply, "<TxCxlSts>ACCR</TxCxlSts>") != NULL);
    assert_string_equal(report.transactions[0].original_message_id, "HSBK20230519-0001");
    struct khorgos_payment payment = lookup_payment(uetr_pacs008());
    assert_int_equal(payment.state, KHORGOS_PAYMENT_CANCELLED);
    fund("HSBKKZKX", 100000000); /* a cancelled payment does not settle */
    assert_int_equal(lookup_payment(uetr_pacs008()).state, KHORGOS_PAYMENT_CANCELLED);
}

/* A camt.056 naming its original by UETR and EndToEndId only: the camt.029 carries the
 * original's MsgId, message name, InstrId and TxId from the payment's references. */
static void test_camt029_names_the_original_from_its_references(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSP");
    const char *const bare[] = {"<OrgnlGrpInf>", "<!--", "</OrgnlGrpInf>", "-->",
                                "<OrgnlInstrId>HSBK-INSTR-0001</OrgnlInstrId>", "",
                                "<OrgnlTxId>HSBK-TX-0001</OrgnlTxId>", ""};
    assert_string_equal(submit_edited("camt056_v08.xml", bare, 4, &result), "ACSC");
    assert_null(strstr(reply, "<!--"));
    const struct iso20022_transaction_status *status = &report.transactions[0];
    assert_string_equal(status->original_message_id, "HSBK20230519-0001");
    assert_string_equal(status->original_message_name, "pacs.008.001.08");
    assert_string_equal(status->original_instruction_id, "HSBK-INSTR-0001");
    assert_string_equal(status->original_transaction_id, "HSBK-TX-0001");
    assert_string_equal(status->original_end_to_end_id, "INV-2023-0042");
    assert_string_equal(status->original_uetr, UETR_PACS008);
}

/* A camt.056 with no original is RJCR NOOR, and stays so when sent again after the original
 * arrived (the engine keeps its first answer); a new one on the settled original RJCR ARDT. */
static void test_cancel_settled_is_ardt_and_missing_noor(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("camt056_v08.xml", &result), "RJCT");
    assert_int_equal(report.transactions[0].reason, ISO20022_REASON_NOOR);
    static char first[KHORGOS_MESSAGE_REPLY_BYTES_MAX];
    memcpy(first, reply, result.reply_size + 1);
    fund("HSBKKZKX", 100000000);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSC");
    assert_string_equal(submit("camt056_v08.xml", &result), "RJCT");
    assert_string_equal(reply, first);
    assert_string_equal(submit_replaced("camt056_v08.xml", "HSBK20230519-C001",
                                        "HSBK20230519-C002", &result),
                        "RJCT");
    assert_true(strstr(reply, "<Conf>RJCR</Conf>") != NULL);
    assert_int_equal(report.transactions[0].reason, ISO20022_REASON_ARDT);
    assert_int_equal(lookup_payment(uetr_pacs008()).state, KHORGOS_PAYMENT_SETTLED);
}

/* Replaces the fixture's engine by one read back from its snapshot (with a new gateway). */
static struct khorgos *engine_from_snapshot(void) {
    struct khorgos *copy = NULL;
    struct khorgos_config config = {.clock_manual = 1, .account_count_max = 256,
                                    .transfer_count_max = 4096,
                                    .account_balance_count_max = 256};
    assert_int_equal(khorgos_open_memory(&copy, &config), KHORGOS_ERROR_ok);
    settle_snapshot_round_trip(fixture.engine, copy, 7, 4096, 256);
    khorgos_gateway_close(fixture.gateway);
    khorgos_close(fixture.engine);
    fixture.engine = copy;
    assert_int_equal(khorgos_gateway_open(&fixture.gateway, copy), KHORGOS_ERROR_ok);
    return copy;
}

/* camt.056 and duplicates: the same bytes again get the first camt.029 byte for byte and
 * change nothing; the same Assgnmt/Id from the same sender with another body is RJCT DUPL and
 * changes nothing (here its original is queued, and stays so); both still hold in an engine
 * read back from a snapshot. */
static void test_camt056_resubmission_and_dupl(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSP");
    const char *const other[] = {"HSBK-INSTR-0001", "HSBK-INSTR-0002", "HSBK-TX-0001",
                                 "HSBK-TX-0002", "HSBK20230519-0001", "HSBK20230519-0002"};
    assert_string_equal(submit_edited("pacs008_v08_no_uetr.xml", other, 3, &result), "ACSP");
    assert_string_equal(submit("camt056_v08.xml", &result), "ACSC");
    static char first[KHORGOS_MESSAGE_REPLY_BYTES_MAX];
    memcpy(first, reply, result.reply_size + 1);
    u128 digest = engine_state_digest(fixture.engine);
    for (u32 round = 0; round < 2; round++) {
        assert_string_equal(submit("camt056_v08.xml", &result), "ACSC");
        assert_string_equal(reply, first);
        assert_true(engine_state_digest(fixture.engine) == digest);
        /* Another body: the second payment's cancellation under the same Assgnmt/Id. */
        const char *const second[] = {"HSBK20230519-0001", "HSBK20230519-0002",
                                      ("<OrgnlUETR>e7985fdc-04da-494d-9f89-cc9502ea84bb"
                                       "</OrgnlUETR>"),
                                      ""};
        assert_string_equal(submit_edited("camt056_v08.xml", second, 2, &result), "RJCT");
        assert_string_equal(result.reason, "DUPL");
        assert_non_null(strstr(reply, "another body"));
        assert_true(engine_state_digest(fixture.engine) == digest);
        assert_string_equal(submit_replaced("camt056_v08.xml", "<Undrlyg>", " <Undrlyg>", &result),
                            "RJCT");
        assert_string_equal(result.reason, "DUPL");
        assert_true(engine_state_digest(fixture.engine) == digest);
        if (round == 0) {
            engine_from_snapshot();
            digest = engine_state_digest(fixture.engine);
        }
    }
    assert_int_equal(lookup_payment(uetr_pacs008()).state, KHORGOS_PAYMENT_CANCELLED);
    /* Under a new Assgnmt/Id the second payment is cancelled. */
    const char *const second[] = {"HSBK20230519-C001", "HSBK20230519-C003", "HSBK20230519-0001",
                                  "HSBK20230519-0002",
                                  "<OrgnlUETR>e7985fdc-04da-494d-9f89-cc9502ea84bb</OrgnlUETR>",
                                  ""};
    assert_string_equal(submit_edited("camt056_v08.xml", second, 3, &result), "ACSC");
}

static void test_return_of_settled_payment(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs004_v09.xml", &result), "RJCT"); /* no original yet */
    assert_int_equal(report.transactions[0].reason, ISO20022_REASON_NARR);
    fund("HSBKKZKX", 100000000);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSC");
    /* Its IntrBkSttlmDt is the next business day: waiting, PDNG, until that day opens. */
    assert_string_equal(submit("pacs004_v09.xml", &result), "PDNG");
    next_day();
    /* paid 1250.50 and got it back */
    assert_true(balance_of("HSBKKZKX") == 100000000);
}

/* The same MsgId from the same sender with another body (here without the UETR): DUPL, and
 * nothing changes; the first message sent again gets its first reply byte for byte. */
static void test_same_msgid_other_body_is_dupl(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSP");
    static char first[KHORGOS_MESSAGE_REPLY_BYTES_MAX];
    memcpy(first, reply, result.reply_size + 1);
    u128 digest = engine_state_digest(fixture.engine);
    assert_string_equal(submit("pacs008_v08_no_uetr.xml", &result), "RJCT");
    assert_string_equal(result.reason, "DUPL");
    /* Another body byte for byte: one more space is enough. */
    assert_string_equal(submit_replaced("pacs008_v08.xml", "<NbOfTxs>", " <NbOfTxs>", &result),
                        "RJCT");
    assert_string_equal(result.reason, "DUPL");
    assert_true(engine_state_digest(fixture.engine) == digest);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSP");
    assert_string_equal(reply, first);
    assert_true(engine_state_digest(fixture.engine) == digest);
    /* Another sender may use the same MsgId (the message the other way round). */
    fund("KCJBKZKX", 100000000);
    const char *const swapped[] = {"HSBKKZKX", "KCJBKZKX", "KCJBKZKX", "HSBKKZKX"};
    assert_string_equal(submit_edited("pacs008_v08_no_uetr.xml", swapped, 2, &result), "ACSC");
}

/* A pacs.004 of pacs008_v08's payment returning `amount` (text) under MsgId `message_id`. */
static const char *submit_return(const char *amount, const char *message_id,
                                 struct khorgos_message_result *result) {
    char returned[64];
    snprintf(returned, sizeof(returned), ">%s</RtrdIntrBkSttlmAmt>", amount);
    const char *const pairs[] = {">1250.50</RtrdIntrBkSttlmAmt>", returned,
                                 "KCJB20230520-R001", message_id};
    return submit_edited("pacs004_v09.xml", pairs, 2, result);
}

/* Two partial returns of one payment, then a third above what is left: AM09 (each return's
 * IntrBkSttlmDt is the next day, so the earlier ones still wait: they count). */
static void test_partial_returns_then_am09(void **state) {
    (void)state;
    struct khorgos_message_result result;
    fund("HSBKKZKX", 100000000);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSC"); /* 1250.50 */
    assert_string_equal(submit_return("1250.51", "KCJB-R0", &result), "RJCT"); /* one too many */
    assert_string_equal(result.reason, "AM09");
    assert_int_equal(result.rejected_count, 1);
    assert_string_equal(submit_return("500.00", "KCJB-R1", &result), "PDNG");
    assert_string_equal(submit_return("700.00", "KCJB-R2", &result), "PDNG");
    /* A return sent again is not counted against itself: its first reply, byte for byte. */
    static char first[KHORGOS_MESSAGE_REPLY_BYTES_MAX];
    memcpy(first, reply, result.reply_size + 1);
    assert_string_equal(submit_return("700.00", "KCJB-R2", &result), "PDNG");
    assert_string_equal(reply, first);
    /* 50.50 is left: one minor unit more is refused, and changes nothing. */
    u128 digest = engine_state_digest(fixture.engine);
    assert_string_equal(submit_return("50.51", "KCJB-R3", &result), "RJCT");
    assert_string_equal(result.reason, "AM09");
    assert_true(engine_state_digest(fixture.engine) == digest);
    assert_string_equal(submit_return("50.50", "KCJB-R4", &result), "PDNG");
    assert_string_equal(submit_return("0.01", "KCJB-R5", &result), "RJCT");
    assert_string_equal(result.reason, "AM09");
    next_day(); /* the three returns settle: all of it is back */
    assert_true(balance_of("HSBKKZKX") == 100000000);
}

/* One submit_message_payments event past the gateway: its status. */
static u32 message_payment(const struct khorgos_message_payment *event) {
    struct khorgos_settle_result out;
    execute(KHORGOS_OPERATION_SUBMIT_MESSAGE_PAYMENTS, event, sizeof(*event), &out, sizeof(out));
    return out.status;
}

/* The engine's own check of a return (submit_message_payments past the gateway): above what
 * is left of the original, exceeds_original_amount; no settled original, or one in one
 * currency returned with a conversion, original_not_found;
 * a message's MsgId with another body, message_exists_with_different_body. */
static void test_engine_checks_returns_and_messages(void **state) {
    (void)state;
    struct khorgos_message_result result;
    fund("HSBKKZKX", 100000000);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSC");
    struct khorgos_message_payment event;
    memset(&event, 0, sizeof(event));
    event.payment.id = 77;
    event.payment.amount = 125051; /* 1250.51: one minor unit above the original */
    memcpy(event.payment.debtor, "KCJBKZKXXXX", 11);
    memcpy(event.payment.creditor, "HSBKKZKXXXX", 11);
    memcpy(event.payment.end_to_end_id, "INV-2023-0042", 13);
    event.payment.type = KHORGOS_PAYMENT_CUSTOMER;
    event.payment.currency = KZT;
    event.references.payment_id = 77;
    event.references.original_payment_id = uetr_pacs008();
    memcpy(event.references.sender, "KCJBKZKX", 8);
    memcpy(event.references.message_id, "R-1", 3);
    memcpy(event.references.message_name, "pacs.004.001.09", 15);
    event.references.position = 1;
    assert_int_equal(message_payment(&event), KHORGOS_SETTLE_exceeds_original_amount);
    event.references.original_payment_id = 5; /* no such payment */
    assert_int_equal(message_payment(&event), KHORGOS_SETTLE_original_not_found);
    event.references.original_payment_id = uetr_pacs008();
    /* Converted back, of an original in one currency. */
    event.payment.currency_target = CNY;
    event.payment.amount_kind = KHORGOS_AMOUNT_DEBTOR;
    assert_int_equal(message_payment(&event), KHORGOS_SETTLE_original_not_found);
    event.payment.currency_target = 0;
    event.payment.amount = 125050;
    event.references.body_checksum = 1;
    assert_int_equal(message_payment(&event), KHORGOS_SETTLE_settled);
    /* The same message (sender and MsgId) with another body checksum. */
    event.payment.id = 78;
    event.references.payment_id = 78;
    event.references.body_checksum = 2;
    event.payment.amount = 1;
    assert_int_equal(message_payment(&event), KHORGOS_SETTLE_message_exists_with_different_body);
    /* Its references: a position of 0 is not one. */
    event.references.body_checksum = 1;
    event.references.position = 0;
    assert_int_equal(message_payment(&event), KHORGOS_SETTLE_references_invalid);
    /* The returns of the original, found by it. */
    struct khorgos_references_filter filter = {.original_payment_id = uetr_pacs008(),
                                               .limit = 8};
    static struct khorgos_payment_references found[LIMIT_RECORDS_MAX(224)];
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_GET_PAYMENT_REFERENCES,
                                      .body_size = sizeof(filter), .body = &filter,
                                      .reply = found, .reply_capacity = sizeof(found)};
    assert_int_equal(khorgos_execute(fixture.engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.reply_size, sizeof(found[0]));
    assert_true(found[0].payment_id == 77);
}

/* ---- a message's status now ------------------------------------------------------------- */

static const char *status_now(const char *uetr, const char *message_id, const char *sender,
                              struct khorgos_message_result *result) {
    struct khorgos_message_status_request request;
    memset(&request, 0, sizeof(request));
    snprintf(request.uetr, sizeof(request.uetr), "%s", uetr);
    snprintf(request.message_id, sizeof(request.message_id), "%s", message_id);
    snprintf(request.sender_bic, sizeof(request.sender_bic), "%s", sender);
    assert_int_equal(khorgos_get_message_status(fixture.gateway, &request, reply, sizeof(reply),
                                                result),
                     KHORGOS_ERROR_ok);
    enum iso20022_reason reason = ISO20022_REASON_NONE;
    assert_true(iso20022_read_report((const u8 *)reply, result->reply_size, &report, &reason));
    return result->group_status;
}

/* The references are in the snapshot and the digest: an engine read back from a snapshot
 * answers a status with the original MsgId and refuses the MsgId's other body (its maps are
 * rebuilt); a reference changed changes the digest. */
static void test_references_survive_a_snapshot(void **state) {
    (void)state;
    struct khorgos_message_result result;
    fund("HSBKKZKX", 100000000);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSC");
    assert_string_equal(submit_return("500.00", "KCJB-R1", &result), "PDNG");
    struct khorgos *copy = engine_from_snapshot();
    assert_string_equal(status_now(UETR_PACS008, "", "", &result), "ACSC");
    assert_string_equal(report.original_message_id, "HSBK20230519-0001");
    assert_string_equal(report.transactions[0].original_instruction_id, "HSBK-INSTR-0001");
    assert_string_equal(submit("pacs008_v08_no_uetr.xml", &result), "RJCT");
    assert_string_equal(result.reason, "DUPL");
    assert_string_equal(submit_return("750.51", "KCJB-R2", &result), "RJCT");
    assert_string_equal(result.reason, "AM09");
    u128 digest = settle_digest(&copy->settle);
    copy->settle.references[0].instruction_id[0] = 'X';
    assert_true(settle_digest(&copy->settle) != digest);
    copy->settle.references[0].instruction_id[0] = 'H';
}

static void test_status_acsp_then_acsc(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSP");
    assert_string_equal(status_now(UETR_PACS008, "", "", &result), "ACSP");
    fund("HSBKKZKX", 100000000);
    assert_string_equal(status_now(UETR_PACS008, "", "", &result), "ACSC");
    assert_string_equal(report.transactions[0].original_uetr, UETR_PACS008);
    assert_string_equal(report.transactions[0].original_end_to_end_id, "INV-2023-0042");
    /* The references kept beside the record: the original MsgId, its name, InstrId, TxId. */
    assert_string_equal(report.original_message_id, "HSBK20230519-0001");
    assert_string_equal(report.original_message_name, "pacs.008.001.08");
    assert_string_equal(report.transactions[0].original_instruction_id, "HSBK-INSTR-0001");
    assert_string_equal(report.transactions[0].original_transaction_id, "HSBK-TX-0001");
    /* By sender and MsgId, a message with a UETR is found too. */
    assert_string_equal(status_now("", "HSBK20230519-0001", "HSBKKZKX", &result), "ACSC");
    assert_int_equal(result.transaction_count, 1);
    assert_string_equal(report.transactions[0].original_uetr, UETR_PACS008);
    assert_string_equal(report.transactions[0].original_transaction_id, "HSBK-TX-0001");
    struct khorgos_message_status_request request;
    memset(&request, 0, sizeof(request));
    memcpy(request.uetr, "00000000-0000-4000-8000-000000000000", 36);
    assert_int_equal(khorgos_get_message_status(fixture.gateway, &request, reply, sizeof(reply),
                                                &result),
                     KHORGOS_ERROR_message_not_found);
    memcpy(request.uetr, "not-a-uetr", 11);
    assert_int_equal(khorgos_get_message_status(fixture.gateway, &request, reply, sizeof(reply),
                                                &result),
                     KHORGOS_ERROR_invalid_argument);
}

static void test_status_cancelled_is_narr(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSP");
    assert_string_equal(submit("camt056_v08.xml", &result), "ACSC");
    assert_string_equal(status_now(UETR_PACS008, "", "", &result), "RJCT");
    assert_string_equal(result.reason, "NARR");
    assert_string_equal(report.transactions[0].additional_info, "cancelled");
}

/* Queued at the customer cut-off: rejected then, and its status says TM01. Asked by sender and
 * MsgId (the message has no UETR). */
static void test_status_at_cut_off_is_tm01(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs008_v08_no_uetr.xml", &result), "ACSP");
    assert_string_equal(status_now("", "HSBK20230519-0001", "HSBKKZKX", &result), "ACSP");
    assert_int_equal(khorgos_clock_advance(fixture.engine, 90ull * 1000000000ull),
                     KHORGOS_ERROR_ok);
    assert_string_equal(status_now("", "HSBK20230519-0001", "HSBKKZKX", &result), "RJCT");
    assert_string_equal(result.reason, "TM01");
    assert_int_equal(result.transaction_count, 1);
    assert_string_equal(report.original_message_id, "HSBK20230519-0001");
    assert_string_equal(report.to, "HSBKKZKX");
}

/* ---- statements ---------------------------------------------------------------------------- */

static xmlNode *child(xmlNode *node, const char *name) {
    for (xmlNode *at = node != NULL ? node->children : NULL; at != NULL; at = at->next) {
        if (at->type == XML_ELEMENT_NODE && strcmp((const char *)at->name, name) == 0) return at;
    }
    return NULL;
}

static const char *text_of(xmlNode *node) {
    assert_non_null(node);
    assert_non_null(node->children);
    return (const char *)node->children->content;
}

static u128 amount_of(xmlNode *node) {
    xmlChar *currency = xmlGetProp(node, (const xmlChar *)"Ccy");
    assert_string_equal((const char *)currency, "KZT");
    xmlFree(currency);
    khorgos_u128 amount = 0;
    const char *text = text_of(node);
    assert_int_equal(khorgos_amount_parse(text, strlen(text), 2, &amount), 0);
    return amount;
}

static xmlDoc *statement_read_date(const char *bic, u32 kind, u32 date, const char *ns,
                                   size_t *size) {
    struct khorgos_statement_request request = {.kind = kind, .currency = KZT, .date = date};
    memcpy(request.bic, bic, strlen(bic));
    assert_int_equal(khorgos_get_statement(fixture.gateway, &request, statement,
                                           sizeof(statement), size),
                     KHORGOS_ERROR_ok);
    assert_int_equal(strlen(statement), *size);
    xmlDoc *document = xmlReadMemory(statement, (int)*size, NULL, NULL,
                                     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    assert_non_null(document);
    xmlNode *root = xmlDocGetRootElement(document);
    assert_string_equal((const char *)root->name, "Document");
    assert_string_equal((const char *)root->ns->href, ns);
    return document;
}

static xmlDoc *statement_read(const char *bic, u32 kind, const char *ns, size_t *size) {
    return statement_read_date(bic, kind, 20230519, ns, size);
}

/* Checks one entry's structure; adds its signed amount to *credits or *debits. */
static void check_entry(xmlNode *entry, u128 *credits, u128 *debits, u32 *with_reference) {
    const char *order[] = {"NtryRef", "Amt", "CdtDbtInd", "Sts", "BookgDt", "ValDt",
                           "AcctSvcrRef", "BkTxCd"};
    xmlNode *at = entry->children;
    for (size_t index = 0; index < ARRAY_COUNT(order); index++, at = at->next) {
        assert_non_null(at);
        assert_string_equal((const char *)at->name, order[index]);
    }
    assert_string_equal(text_of(child(child(entry, "Sts"), "Cd")), "BOOK");
    assert_int_equal(strlen(text_of(child(child(entry, "BookgDt"), "DtTm"))), 29);
    u128 amount = amount_of(child(entry, "Amt"));
    assert_true(amount > 0);
    const char *indicator = text_of(child(entry, "CdtDbtInd"));
    assert_true(strcmp(indicator, "CRDT") == 0 || strcmp(indicator, "DBIT") == 0);
    *(strcmp(indicator, "CRDT") == 0 ? credits : debits) += amount;
    xmlNode *references = child(child(child(entry, "NtryDtls"), "TxDtls"), "Refs");
    if (references == NULL) return;
    (*with_reference)++;
    assert_non_null(child(references, "EndToEndId"));
    assert_true(amount_of(child(child(child(entry, "NtryDtls"), "TxDtls"), "Amt")) == amount);
}

/* What khorgos_get_statement answers for a participant's camt.053 of `date` in KZT. */
static khorgos_error camt053_error(const char *bic, u32 date) {
    struct khorgos_statement_request request = {.kind = KHORGOS_STATEMENT_CAMT_053,
                                                .currency = KZT, .date = date};
    memcpy(request.bic, bic, strlen(bic));
    size_t size = 0;
    return khorgos_get_statement(fixture.gateway, &request, statement, sizeof(statement), &size);
}

/* A camt.053 of one business day, read back and checked: its opening and closing balances,
 * entries, and how many name a payment. */
struct day_statement {
    u128 opening, closing, credits, debits;
    u32 entries, with_reference;
};

static struct day_statement statement_of_day(const char *bic, u32 date) {
    size_t size = 0;
    xmlDoc *document = statement_read_date(bic, KHORGOS_STATEMENT_CAMT_053, date,
                                           "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
                                           &size);
    xmlNode *report_node = child(xmlDocGetRootElement(document), "BkToCstmrStmt");
    assert_non_null(child(child(report_node, "GrpHdr"), "MsgId"));
    xmlNode *stmt = child(report_node, "Stmt");
    assert_int_equal(strlen(text_of(child(child(child(child(stmt, "Acct"), "Id"), "Othr"),
                                          "Id"))), 32);
    struct day_statement day = {0};
    u32 balances = 0;
    for (xmlNode *at = stmt->children; at != NULL; at = at->next) {
        if (strcmp((const char *)at->name, "Bal") == 0) {
            const char *code = text_of(child(child(child(at, "Tp"), "CdOrPrtry"), "Cd"));
            assert_int_equal(day.entries, 0); /* balances come before entries */
            *(balances++ == 0 ? &day.opening : &day.closing) = amount_of(child(at, "Amt"));
            assert_string_equal(code, balances == 1 ? "OPBD" : "CLBD");
        } else if (strcmp((const char *)at->name, "Ntry") == 0) {
            day.entries++;
            check_entry(at, &day.credits, &day.debits, &day.with_reference);
        }
    }
    xmlFreeDoc(document);
    assert_int_equal(balances, 2);
    assert_true(day.opening + day.credits - day.debits == day.closing);
    return day;
}

/* Two business days of KZT (both within one UTC date): each camt.053 covers its own day, from
 * its open_day to the next; the first's closing is the ledger's balance when the second
 * opened (its position's opening balance), the second's closing the ledger's now. */
static void test_camt053_reconciles_to_the_ledger(void **state) {
    (void)state;
    struct khorgos_message_result result;
    fund("HSBKKZKX", 100000000);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSC");
    assert_string_equal(submit_replaced("pacs008_v08_no_uetr.xml", "HSBK20230519-0001",
                                        "HSBK20230519-0002", &result),
                        "ACSC");
    assert_string_equal(submit("pacs004_v09.xml", &result), "PDNG");
    next_day(); /* the return settles on 2023-05-20 */
    struct khorgos_position position = position_of("HSBKKZKX", KZT);
    struct day_statement first = statement_of_day("HSBKKZKX", 20230519);
    assert_int_equal(first.entries, 3); /* fund, two payments */
    assert_int_equal(first.with_reference, 2);
    assert_true(first.opening == 0);
    assert_true(first.closing == position.opening_balance); /* to the minor unit */
    struct day_statement second = statement_of_day("HSBKKZKX", 20230520);
    assert_int_equal(second.entries, 1); /* the return */
    assert_int_equal(second.with_reference, 1);
    assert_true(second.opening == first.closing);
    assert_true(second.closing == balance_of("HSBKKZKX"));
    assert_true(second.closing == position.balance);
    /* A date the currency never opened: day_not_found. */
    assert_int_equal(camt053_error("HSBKKZKX", 20230521), KHORGOS_ERROR_day_not_found);
}

/* The day after YYYYMMDD. */
static u32 date_next(u32 date) {
    static const u32 days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    u32 year = date / 10000, month = date / 100 % 100, day = date % 100;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    u32 last = days[month - 1] + (month == 2 && leap ? 1 : 0);
    if (day < last) return date + 1;
    return month < 12 ? year * 10000 + (month + 1) * 100 + 1 : (year + 1) * 10000 + 101;
}

/* A currency keeps its last SETTLE_DAY_HISTORY_MAX (512) days: after 512 more, the first is
 * dropped (its camt.053 is day_not_found), the others answer in date order. */
static void test_days_kept_are_the_last_512(void **state) {
    (void)state;
    u32 date = 20230519;
    for (u32 index = 0; index < 512; index++) {
        struct khorgos_business_day day = {.id = ++fixture.request_id, .currency = KZT};
        struct khorgos_settle_result result;
        execute(KHORGOS_OPERATION_CLOSE_DAY, &day, sizeof(day), &result, sizeof(result));
        assert_int_equal(result.status, KHORGOS_SETTLE_ok);
        date = date_next(date);
        day = (struct khorgos_business_day){.id = ++fixture.request_id, .currency = KZT,
                                            .date = date,
                                            .queue_mode = KHORGOS_QUEUE_MODE_FIFO};
        execute(KHORGOS_OPERATION_OPEN_DAY, &day, sizeof(day), &result, sizeof(result));
        assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    }
    struct khorgos_day_filter filter = {.currency = KZT, .limit = 1000};
    static struct khorgos_business_day_record days[(1u << 20) / 32]; /* a whole reply */
    execute(KHORGOS_OPERATION_GET_BUSINESS_DAYS, &filter, sizeof(filter), days, sizeof(days));
    assert_int_equal(days[0].date, 20230520);
    assert_int_equal(days[511].date, date);
    assert_true(days[510].closed_at > days[510].opened_at && days[511].closed_at == 0);
    assert_int_equal(camt053_error("HSBKKZKX", 20230519), KHORGOS_ERROR_day_not_found);
    assert_int_equal(camt053_error("HSBKKZKX", 20230520), KHORGOS_ERROR_ok);
}

static void test_camt054_and_statement_errors(void **state) {
    (void)state;
    struct khorgos_message_result result;
    fund("HSBKKZKX", 100000000);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSC");
    size_t size = 0;
    xmlDoc *document = statement_read("KCJBKZKX", KHORGOS_STATEMENT_CAMT_054,
                                      "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08", &size);
    xmlNode *notification = child(child(xmlDocGetRootElement(document),
                                        "BkToCstmrDbtCdtNtfctn"), "Ntfctn");
    u128 credits = 0, debits = 0;
    u32 with_reference = 0;
    check_entry(child(notification, "Ntry"), &credits, &debits, &with_reference);
    assert_true(credits == 125050 && debits == 0 && with_reference == 1);
    assert_null(child(notification, "Bal"));
    xmlFreeDoc(document);
    struct khorgos_statement_request request = {.kind = KHORGOS_STATEMENT_CAMT_053,
                                                .currency = KZT, .date = 20230519};
    memcpy(request.bic, "UNKNKZKX", 8);
    assert_int_equal(khorgos_get_statement(fixture.gateway, &request, statement,
                                           sizeof(statement), &size),
                     KHORGOS_ERROR_account_not_found);
    request.date = 20230230;
    assert_int_equal(khorgos_get_statement(fixture.gateway, &request, statement,
                                           sizeof(statement), &size),
                     KHORGOS_ERROR_invalid_argument);
}

/* ---- the actor ---------------------------------------------------------------------------- */

/* A participant's gateway takes only that participant's messages: another sender is RJCT AGNT
 * and nothing is submitted; its own is submitted as the participant, and the payments it
 * submitted are named for their later statuses. Back to the operator, no sender is compared. */
static void test_actor_agnt(void **state) {
    (void)state;
    struct khorgos_actor kaspi = {.role = KHORGOS_ACTOR_PARTICIPANT};
    memcpy(kaspi.bic, "KCJBKZKXXXX", KHORGOS_BIC_BYTES);
    khorgos_gateway_set_actor(fixture.gateway, &kaspi);
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs008_v08.xml", &result), "RJCT");
    assert_string_equal(result.reason, "AGNT");
    assert_string_equal(submit("pacs008_v08_apphdr.xml", &result), "RJCT");
    assert_string_equal(result.reason, "AGNT");
    u128 ids[4];
    struct khorgos_message_status_request requests[4];
    assert_int_equal(khorgos_message_payments(fixture.gateway, ids, requests, 4), 0);
    u128 uetr = uetr_pacs008();
    struct khorgos_request lookup = {.operation = KHORGOS_OPERATION_LOOKUP_PAYMENTS,
                                     .body_size = sizeof(uetr), .body = &uetr,
                                     .reply = reply, .reply_capacity = sizeof(reply)};
    assert_int_equal(khorgos_execute(fixture.engine, &lookup, 1), KHORGOS_ERROR_ok);
    assert_int_equal(lookup.reply_size, 0); /* nothing was submitted */
    struct khorgos_actor halyk = kaspi;
    memcpy(halyk.bic, "HSBKKZKXXXX", KHORGOS_BIC_BYTES);
    khorgos_gateway_set_actor(fixture.gateway, &halyk);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSP");
    assert_int_equal(khorgos_message_payments(fixture.gateway, ids, requests, 4), 1);
    assert_true(ids[0] == uetr);
    assert_string_equal(requests[0].uetr, UETR_PACS008);
    khorgos_gateway_set_actor(fixture.gateway, NULL);
    assert_string_equal(submit_replaced("pacs008_v08_no_uetr.xml", "HSBK20230519-0001",
                                        "HSBK20230519-0002", &result),
                        "ACSP");
    assert_int_equal(khorgos_message_payments(fixture.gateway, ids, requests, 4), 1);
    assert_string_equal(requests[0].uetr, "");
    assert_string_equal(requests[0].sender_bic, "HSBKKZKX");
    assert_true(requests[0].message_id[0] != '\0');
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_settled_is_acsc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_is_acsp_then_settles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_message_changes_nothing, setup, teardown),
        cmocka_unit_test(test_every_engine_code_is_a_reason),
        cmocka_unit_test_setup_teardown(test_pvp_convention_settles_converted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_queued_is_cncl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_camt056_resubmission_and_dupl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_return_of_converted_payment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_settled_is_ardt_and_missing_noor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_camt029_names_the_original_from_its_references,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_return_of_settled_payment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_msgid_other_body_is_dupl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_returns_then_am09, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_checks_returns_and_messages, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_references_survive_a_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_acsp_then_acsc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_cancelled_is_narr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_at_cut_off_is_tm01, setup_cut_off, teardown),
        cmocka_unit_test_setup_teardown(test_camt053_reconciles_to_the_ledger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_camt054_and_statement_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_days_kept_are_the_last_512, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actor_agnt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
