/*
 * fuzz_iso20022_gateway.c: libFuzzer target for the ISO 20022 gateway over a real engine
 * (include/khorgos_iso20022.h, src/iso20022/iso20022_gateway.c and iso20022_statement.c).
 *
 * Each input starts a small engine in memory (three KZT participants, the day open, Halyk
 * funded and one payment of its settled, so a pacs.004 or camt.056 can find an original) and
 * is submitted as one message, twice. Beyond the sanitizers' watch, a failure aborts when:
 *   1. the reply is not read back by the gateway's reader as the report it claims (its group
 *      status), or counts more refused transactions than the message has;
 *   2. the second submission's reply is not the first's byte for byte, or it changed any
 *      participant's position (a resubmission changes nothing);
 *   3. the camt.053 and camt.054 of each bank cannot be written (the statement's own checks
 *      assert that its account's balance is the position's);
 *   4. get_message_status of the message's sender and MsgId fails otherwise than not found.
 * The seed corpus is fuzz/corpus/iso20022_gateway (copies of tests/iso20022/ messages).
 */
#include "iso20022/iso20022.h"
#include "khorgos_iso20022.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KZT 398u

static char fuzz_reply[KHORGOS_MESSAGE_REPLY_BYTES_MAX];
static char fuzz_reply_again[KHORGOS_MESSAGE_REPLY_BYTES_MAX];
static char fuzz_statement[KHORGOS_STATEMENT_BYTES_MAX];
static struct iso20022_report fuzz_report;
static u8 fuzz_positions[2][1u << 20];

static void fuzz_execute(struct khorgos *engine, u32 operation, const void *body, u32 size,
                         void *reply, u32 capacity) {
    ASSERT(engine != NULL && body != NULL);
    struct khorgos_request request = {.operation = operation, .body_size = size, .body = body,
                                      .reply = reply, .reply_capacity = capacity};
    ASSERT(khorgos_execute(engine, &request, 1) == KHORGOS_ERROR_ok);
    ASSERT(request.error == KHORGOS_ERROR_ok);
}

static void fuzz_setup(struct khorgos *engine) {
    ASSERT(engine != NULL);
    static const char *const bics[] = {"NBRKKZKX", "HSBKKZKX", "KCJBKZKX"};
    struct khorgos_settle_result results[3];
    struct khorgos_participant participants[3];
    memset(participants, 0, sizeof(participants));
    for (u32 index = 0; index < 3; index++) {
        memcpy(participants[index].bic, bics[index], 8);
        memcpy(participants[index].country, "KZ", 2);
        participants[index].role = index == 0 ? KHORGOS_ROLE_SETTLEMENT_AGENT : KHORGOS_ROLE_BANK;
        memcpy(participants[index].name, bics[index], 4);
        participants[index].currencies[0] = KZT;
    }
    fuzz_execute(engine, KHORGOS_OPERATION_CREATE_PARTICIPANTS, participants,
                 sizeof(participants), results, sizeof(results));
    struct khorgos_business_day day = {.id = 1, .currency = KZT, .date = 20230519,
                                       .queue_mode = KHORGOS_QUEUE_MODE_FIFO};
    fuzz_execute(engine, KHORGOS_OPERATION_OPEN_DAY, &day, sizeof(day), results,
                 sizeof(results[0]));
    struct khorgos_participant_event fund = {.id = 2, .amount = 100000000, .currency = KZT};
    memcpy(fund.bic, "HSBKKZKX", 8);
    fuzz_execute(engine, KHORGOS_OPERATION_FUND, &fund, sizeof(fund), results,
                 sizeof(results[0]));
    ASSERT(results[0].status == KHORGOS_SETTLE_ok);
}

/* The corpus's first pacs.008 (UETR e7985fdc-...): settled, an original to return or cancel. */
static void fuzz_original(struct khorgos_gateway *gateway) {
    ASSERT(gateway != NULL);
    static const char xml[] =
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\"><FIToFICstmrCdtTrf>"
        "<GrpHdr><MsgId>HSBK20230519-0001</MsgId><CreDtTm>2023-05-19T10:15:00+06:00</CreDtTm>"
        "<NbOfTxs>1</NbOfTxs><SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr>"
        "<CdtTrfTxInf><PmtId><EndToEndId>INV-2023-0042</EndToEndId>"
        "<UETR>e7985fdc-04da-494d-9f89-cc9502ea84bb</UETR></PmtId>"
        "<IntrBkSttlmAmt Ccy=\"KZT\">1250.50</IntrBkSttlmAmt><ChrgBr>SHAR</ChrgBr>"
        "<Dbtr><Nm>A</Nm></Dbtr><DbtrAgt><FinInstnId><BICFI>HSBKKZKX</BICFI></FinInstnId>"
        "</DbtrAgt><CdtrAgt><FinInstnId><BICFI>KCJBKZKX</BICFI></FinInstnId></CdtrAgt>"
        "<Cdtr><Nm>B</Nm></Cdtr></CdtTrfTxInf></FIToFICstmrCdtTrf></Document>";
    struct khorgos_message_result result;
    ASSERT(khorgos_submit_message(gateway, xml, sizeof(xml) - 1, fuzz_reply, sizeof(fuzz_reply),
                                  &result) == KHORGOS_ERROR_ok);
    ASSERT(strcmp(result.group_status, "ACSC") == 0);
}

static u32 fuzz_positions_now(struct khorgos *engine, u8 *out) {
    ASSERT(engine != NULL && out != NULL);
    struct khorgos_settle_filter filter = {.currency = KZT};
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_GET_POSITIONS,
                                      .body_size = sizeof(filter), .body = &filter,
                                      .reply = out, .reply_capacity = 1u << 20};
    ASSERT(khorgos_execute(engine, &request, 1) == KHORGOS_ERROR_ok);
    ASSERT(request.error == KHORGOS_ERROR_ok);
    return request.reply_size;
}

static void fuzz_statements(struct khorgos_gateway *gateway) {
    ASSERT(gateway != NULL);
    static const char *const banks[] = {"HSBKKZKX", "KCJBKZKX"};
    for (u32 index = 0; index < ARRAY_COUNT(banks); index++) {
        for (u32 kind = KHORGOS_STATEMENT_CAMT_053; kind <= KHORGOS_STATEMENT_CAMT_054;
             kind++) {
            struct khorgos_statement_request request = {.kind = kind, .currency = KZT,
                                                        .date = 20230519};
            memcpy(request.bic, banks[index], 8);
            size_t size = 0;
            ASSERT(khorgos_get_statement(gateway, &request, fuzz_statement,
                                         sizeof(fuzz_statement), &size) == KHORGOS_ERROR_ok);
            ASSERT(size > 0 && strlen(fuzz_statement) == size);
        }
    }
}

static void fuzz_status(struct khorgos_gateway *gateway) {
    ASSERT(gateway != NULL);
    struct khorgos_message_status_request request;
    memset(&request, 0, sizeof(request));
    memcpy(request.message_id, fuzz_report.original_message_id,
           strnlen(fuzz_report.original_message_id, sizeof(request.message_id) - 1));
    memcpy(request.sender_bic, fuzz_report.to,
           strnlen(fuzz_report.to, sizeof(request.sender_bic) - 1));
    struct khorgos_message_result result;
    khorgos_error error = khorgos_get_message_status(gateway, &request, fuzz_reply_again,
                                                     sizeof(fuzz_reply_again), &result);
    ASSERT(error == KHORGOS_ERROR_ok || error == KHORGOS_ERROR_message_not_found ||
           error == KHORGOS_ERROR_invalid_argument);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct khorgos_config config = {.clock_manual = 1, .account_count_max = 64,
                                    .transfer_count_max = 1024,
                                    .account_balance_count_max = 64,
                                    .participant_count_max = 8, .payment_count_max = 256};
    struct khorgos *engine = NULL;
    struct khorgos_gateway *gateway = NULL;
    ASSERT(khorgos_open_memory(&engine, &config) == KHORGOS_ERROR_ok);
    ASSERT(khorgos_gateway_open(&gateway, engine) == KHORGOS_ERROR_ok);
    fuzz_setup(engine);
    fuzz_original(gateway);
    struct khorgos_message_result result, again;
    ASSERT(khorgos_submit_message(gateway, data, size, fuzz_reply, sizeof(fuzz_reply),
                                  &result) == KHORGOS_ERROR_ok);
    enum iso20022_reason reason = ISO20022_REASON_NONE;
    ASSERT(iso20022_read_report((const u8 *)fuzz_reply, result.reply_size, &fuzz_report,
                                &reason));
    ASSERT(strcmp(iso20022_status_code(fuzz_report.group_status), result.group_status) == 0);
    ASSERT(result.rejected_count <= result.transaction_count);
    u32 positions = fuzz_positions_now(engine, fuzz_positions[0]);
    ASSERT(khorgos_submit_message(gateway, data, size, fuzz_reply_again,
                                  sizeof(fuzz_reply_again), &again) == KHORGOS_ERROR_ok);
    ASSERT(again.reply_size == result.reply_size);
    ASSERT(memcmp(fuzz_reply, fuzz_reply_again, result.reply_size) == 0);
    ASSERT(fuzz_positions_now(engine, fuzz_positions[1]) == positions);
    ASSERT(memcmp(fuzz_positions[0], fuzz_positions[1], positions) == 0);
    fuzz_statements(gateway);
    fuzz_status(gateway);
    khorgos_gateway_close(gateway);
    khorgos_close(engine);
    return 0;
}
