/* test_settle_codec.c: the settlement operations' JSON tables (cli_codec_settle.c) through the
 * codec's generic record walks and the engine: JSON events decoded into records, executed, and
 * the replies encoded back, with enums and statuses by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "cli/cli_codec_settle.h"
#include "engine/engine.h"

static struct cli_json_token *codec_tokens;
static struct cli_json_reader codec_reader;

static int codec_setup(void **state) {
    (void)state;
    codec_tokens = malloc(sizeof(*codec_tokens) * LIMIT_JSON_TOKENS_MAX);
    if (codec_tokens == NULL) return -1;
    cli_json_reader_init(&codec_reader, codec_tokens, LIMIT_JSON_TOKENS_MAX);
    return 0;
}

static int codec_teardown(void **state) {
    (void)state;
    free(codec_tokens);
    return 0;
}

static const struct cli_operation *codec_operation(const char *name) {
    const struct cli_operation *operation = cli_codec_settle_operation_find(name, (u32)strlen(name));
    assert_non_null(operation);
    return operation;
}

/* Decodes `line` as one event of `name`, executes it, returns the encoded result. */
static const char *codec_apply(struct khorgos *engine, const char *name, const char *line) {
    const struct cli_operation *operation = codec_operation(name);
    static _Alignas(16) u8 event[256];
    struct cli_codec_error error;
    assert_int_equal(cli_codec_record_decode(&codec_reader, line, (u32)strlen(line),
                                             operation->body, event, &error),
                     CLI_CODEC_DECODED);
    static struct khorgos_settle_result result;
    struct khorgos_request request = {.operation = operation->operation,
                                      .body_size = operation->body->size, .body = event,
                                      .reply = &result, .reply_capacity = sizeof(result)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.error, KHORGOS_ERROR_ok);
    static char text[1024];
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, text, sizeof(text) - 1);
    cli_codec_record_encode(&writer, operation->reply, &result);
    text[writer.length] = '\0';
    return text;
}

static void test_codec_settlement_day(void **state) {
    (void)state;
    struct khorgos_config config = {.clock_manual = 1, .account_count_max = 256,
                                    .transfer_count_max = 4096, .participant_count_max = 8,
                                    .payment_count_max = 64};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &config), KHORGOS_ERROR_ok);
    /* 16 of issue 4, 11 of issue 5, and issue 4's calendar (set_holidays) */
    assert_int_equal(cli_codec_settle_operation_count(), 28);
    assert_non_null(strstr(codec_apply(engine, "create_participants",
                                       "{\"bic\":\"NBRKKZKX\",\"country\":\"KZ\",\"role\":"
                                       "\"settlement_agent\",\"name\":\"National Bank\","
                                       "\"currencies\":[\"KZT\"]}"),
                           "\"status\":\"ok\""));
    assert_non_null(strstr(codec_apply(engine, "create_participants",
                                       "{\"bic\":\"HSBKKZKX\",\"country\":\"KZ\",\"role\":\"bank\","
                                       "\"name\":\"Halyk\",\"currencies\":[\"KZT\"]}"),
                           "\"status\":\"ok\""));
    assert_non_null(strstr(codec_apply(engine, "create_participants",
                                       "{\"bic\":\"KCJBKZKXXXX\",\"country\":\"KZ\",\"role\":"
                                       "\"bank\",\"name\":\"Kaspi\",\"currencies\":[\"KZT\"]}"),
                           "\"status\":\"ok\""));
    assert_non_null(strstr(codec_apply(engine, "create_participants",
                                       "{\"bic\":\"BAD\",\"country\":\"KZ\",\"role\":\"bank\","
                                       "\"name\":\"x\",\"currencies\":[\"KZT\"]}"),
                           "\"status\":\"bic_invalid\""));
    assert_non_null(strstr(codec_apply(engine, "open_day",
                                       "{\"id\":\"1\",\"currency\":\"KZT\",\"date\":20230519,"
                                       "\"queue_mode\":\"fifo\",\"flags\":[\"resolution_on_request\"]}"),
                           "\"status\":\"ok\""));
    assert_non_null(strstr(codec_apply(engine, "fund",
                                       "{\"id\":\"2\",\"bic\":\"HSBKKZKX\",\"currency\":\"KZT\","
                                       "\"amount\":\"1000.00\"}"),
                           "\"status\":\"ok\""));
    const char *reply = codec_apply(engine, "submit_payments",
                                    "{\"id\":\"10\",\"debtor\":\"HSBKKZKX\",\"creditor\":\"KCJBKZKX\","
                                    "\"amount\":\"2500.50\",\"currency\":\"KZT\",\"priority\":\"high\","
                                    "\"type\":\"interbank\",\"end_to_end_id\":\"INV-2023-0042\"}");
    assert_non_null(strstr(reply, "\"status\":\"queued\""));
    reply = codec_apply(engine, "submit_payments",
                        "{\"id\":\"11\",\"debtor\":\"HSBKKZKX\",\"creditor\":\"KCJBKZKX\","
                        "\"amount\":\"1.00\",\"currency\":\"KZT\",\"priority\":\"urgent\","
                        "\"end_to_end_id\":\"E2E\"}");
    assert_non_null(strstr(reply, "\"status\":\"settled\""));
    assert_non_null(strstr(reply, "\"payments_settled\":1"));
    /* The queued payment, looked up and written with its names. */
    u128 id = 10;
    struct khorgos_payment payment;
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_LOOKUP_PAYMENTS,
                                      .body_size = sizeof(id), .body = &id, .reply = &payment,
                                      .reply_capacity = sizeof(payment)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.reply_size, sizeof(payment));
    static char text[4096];
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, text, sizeof(text) - 1);
    cli_codec_record_encode(&writer, codec_operation("lookup_payments")->reply, &payment);
    text[writer.length] = '\0';
    assert_non_null(strstr(text, "\"state\":\"queued\""));
    assert_non_null(strstr(text, "\"priority\":\"high\""));
    assert_non_null(strstr(text, "\"type\":\"interbank\""));
    assert_non_null(strstr(text, "\"reason\":\"insufficient_funds\""));
    assert_non_null(strstr(text, "\"creditor\":\"KCJBKZKXXXX\""));
    assert_non_null(strstr(text, "\"amount\":\"2500.50\",")); /* 250050 minor units */
    assert_non_null(strstr(text, "\"currency\":\"KZT\","));
    /* An unknown priority name is refused by the codec before the engine sees it. */
    struct cli_codec_error error;
    static _Alignas(16) u8 event[256];
    const char *bad = "{\"id\":\"12\",\"priority\":\"fast\"}";
    assert_int_equal(cli_codec_record_decode(&codec_reader, bad, (u32)strlen(bad),
                                             codec_operation("submit_payments")->body, event,
                                             &error),
                     CLI_CODEC_REFUSED);
    khorgos_close(engine);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_settlement_day),
    };
    return cmocka_run_group_tests(tests, codec_setup, codec_teardown);
}
