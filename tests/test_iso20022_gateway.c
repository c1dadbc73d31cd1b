/* test_iso20022_gateway.c: the gateway over a real engine (include/khorgos_iso20022.h):
 * pacs.008 in -> settled ACSC; queued ACSP, then settled after funding, its resubmission the
 * first reply byte for byte; get_message_status ACSP then ACSC, RJCT TM01 after the cut-off,
 * RJCT NARR once cancelled; camt.056 on a queued payment -> camt.029 CNCL and the payment
 * cancelled, on a settled one RJCR ARDT; pacs.004 of a settled payment returns the money; every
 * ISO code of the engine's statuses is a reason the replies can carry; and camt.053 and camt.054
 * read back with libxml2, checked against structural rules, and reconciled to the ledger to the
 * minor unit; a gateway acting for a participant refuses another sender's message RJCT AGNT,
 * submitting nothing, and names the payments of the messages it submitted. Run from the
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

#include "iso20022/iso20022.h"
#include "khorgos_iso20022.h"

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

static void participant(const char *bic, u8 role) {
    struct khorgos_participant event;
    memset(&event, 0, sizeof(event));
    memcpy(event.bic, bic, strlen(bic));
    memcpy(event.country, bic + 4, 2);
    event.role = role;
    memcpy(event.name, bic, 4);
    event.currencies[0] = KZT;
    struct khorgos_settle_result result;
    execute(KHORGOS_OPERATION_CREATE_PARTICIPANTS, &event, sizeof(event), &result,
            sizeof(result));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
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

/* The participant's settlement balance in KZT now (get_positions). */
static u128 balance_of(const char *bic) {
    struct khorgos_settle_filter filter = {.currency = KZT, .limit = 1};
    memcpy(filter.bic, bic, strlen(bic));
    static u8 out[1u << 20];
    execute(KHORGOS_OPERATION_GET_POSITIONS, &filter, sizeof(filter), out, sizeof(out));
    struct khorgos_position position;
    memcpy(&position, out, sizeof(position));
    return position.balance;
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
    struct khorgos_payment payment = lookup_payment(uetr_pacs008());
    assert_int_equal(payment.state, KHORGOS_PAYMENT_CANCELLED);
    fund("HSBKKZKX", 100000000); /* a cancelled payment does not settle */
    assert_int_equal(lookup_payment(uetr_pacs008()).state, KHORGOS_PAYMENT_CANCELLED);
}

static void test_cancel_settled_is_ardt_and_missing_noor(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("camt056_v08.xml", &result), "RJCT");
    assert_int_equal(report.transactions[0].reason, ISO20022_REASON_NOOR);
    fund("HSBKKZKX", 100000000);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSC");
    assert_string_equal(submit("camt056_v08.xml", &result), "RJCT");
    assert_true(strstr(reply, "<Conf>RJCR</Conf>") != NULL);
    assert_int_equal(report.transactions[0].reason, ISO20022_REASON_ARDT);
    assert_int_equal(lookup_payment(uetr_pacs008()).state, KHORGOS_PAYMENT_SETTLED);
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

static void test_return_above_original_is_am09(void **state) {
    (void)state;
    struct khorgos_message_result result;
    fund("HSBKKZKX", 100000000);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSC");
    size_t size = 0;
    char *xml = file_read("pacs004_v09.xml", &size);
    char *amount = strstr(xml, "<RtrdIntrBkSttlmAmt Ccy=\"KZT\">1250.50<");
    assert_non_null(amount);
    memcpy(amount + strlen("<RtrdIntrBkSttlmAmt Ccy=\"KZT\">"), "1250.60", 7);
    assert_string_equal(submit_bytes(xml, size, &result), "RJCT");
    assert_string_equal(result.reason, "AM09");
    assert_int_equal(result.rejected_count, 1);
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

static void test_status_acsp_then_acsc(void **state) {
    (void)state;
    struct khorgos_message_result result;
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSP");
    assert_string_equal(status_now(UETR_PACS008, "", "", &result), "ACSP");
    fund("HSBKKZKX", 100000000);
    assert_string_equal(status_now(UETR_PACS008, "", "", &result), "ACSC");
    assert_string_equal(report.transactions[0].original_uetr, UETR_PACS008);
    assert_string_equal(report.transactions[0].original_end_to_end_id, "INV-2023-0042");
    assert_string_equal(report.original_message_id, "NOTPROVIDED"); /* not in the record */
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

static xmlDoc *statement_read(const char *bic, u32 kind, const char *ns, size_t *size) {
    struct khorgos_statement_request request = {.kind = kind, .currency = KZT,
                                                .date = 20230519};
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

static void test_camt053_reconciles_to_the_ledger(void **state) {
    (void)state;
    struct khorgos_message_result result;
    fund("HSBKKZKX", 100000000);
    assert_string_equal(submit("pacs008_v08.xml", &result), "ACSC");
    assert_string_equal(submit("pacs008_v08_no_uetr.xml", &result), "ACSC");
    assert_string_equal(submit("pacs004_v09.xml", &result), "PDNG");
    next_day(); /* the return settles */
    size_t size = 0;
    xmlDoc *document = statement_read("HSBKKZKX", KHORGOS_STATEMENT_CAMT_053,
                                      "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08", &size);
    xmlNode *report_node = child(xmlDocGetRootElement(document), "BkToCstmrStmt");
    assert_non_null(child(child(report_node, "GrpHdr"), "MsgId"));
    xmlNode *stmt = child(report_node, "Stmt");
    assert_int_equal(strlen(text_of(child(child(child(child(stmt, "Acct"), "Id"), "Othr"),
                                          "Id"))), 32);
    u128 opening = 0, closing = 0, credits = 0, debits = 0;
    u32 entries = 0, balances = 0, with_reference = 0;
    for (xmlNode *at = stmt->children; at != NULL; at = at->next) {
        if (strcmp((const char *)at->name, "Bal") == 0) {
            const char *code = text_of(child(child(child(at, "Tp"), "CdOrPrtry"), "Cd"));
            assert_int_equal(entries, 0); /* balances come before entries */
            *(balances++ == 0 ? &opening : &closing) = amount_of(child(at, "Amt"));
            assert_string_equal(code, balances == 1 ? "OPBD" : "CLBD");
        } else if (strcmp((const char *)at->name, "Ntry") == 0) {
            entries++;
            check_entry(at, &credits, &debits, &with_reference);
        }
    }
    xmlFreeDoc(document);
    assert_int_equal(balances, 2);
    assert_int_equal(entries, 4); /* fund, two payments, the return */
    assert_int_equal(with_reference, 3);
    assert_true(opening == 0);
    assert_true(opening + credits - debits == closing);
    assert_true(closing == balance_of("HSBKKZKX")); /* to the minor unit */
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
    assert_string_equal(submit("pacs008_v08_no_uetr.xml", &result), "ACSP");
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
        cmocka_unit_test_setup_teardown(test_cancel_queued_is_cncl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_settled_is_ardt_and_missing_noor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_return_of_settled_payment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_return_above_original_is_am09, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_acsp_then_acsc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_cancelled_is_narr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_at_cut_off_is_tm01, setup_cut_off, teardown),
        cmocka_unit_test_setup_teardown(test_camt053_reconciles_to_the_ledger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_camt054_and_statement_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actor_agnt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
