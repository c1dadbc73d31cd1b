/* test_cli_codec.c: JSON request lines to binary records and binary replies to JSON lines:
 * every field of every record, flags by name, missing fields zero, every error code the codec
 * gives, the 8189-event limit, and reply encoding. No engine is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "cli/cli_codec.h"

static struct cli_json_token *test_tokens;
static struct cli_json_reader test_reader;
static _Alignas(64) u8 test_body[LIMIT_REQUEST_BODY_BYTES_MAX];
static struct cli_codec_request test_request;
static struct cli_codec_error test_error;

static int setup(void **state) {
    (void)state;
    test_tokens = malloc(sizeof(*test_tokens) * LIMIT_JSON_TOKENS_MAX);
    if (test_tokens == NULL) return -1;
    cli_json_reader_init(&test_reader, test_tokens, LIMIT_JSON_TOKENS_MAX);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(test_tokens);
    return 0;
}

static enum cli_codec_decode_status decode(const char *line) {
    memset(test_body, 0xAB, 512); /* decoding must zero what it does not set */
    return cli_codec_request_decode(&test_reader, line, (u32)strlen(line), test_body,
                                    sizeof(test_body), &test_request, &test_error);
}

/* Decodes a line that must be refused with `code`. */
static void refused(const char *line, enum cli_codec_error_code code) {
    enum cli_codec_decode_status status = decode(line);
    if (status != CLI_CODEC_REFUSED || test_error.code != code) {
        fail_msg("%s: status %d code %s (%s), expected %s", line, status,
                 status == CLI_CODEC_REFUSED ? cli_codec_error_name(test_error.code) : "-",
                 test_error.message, cli_codec_error_name(code));
    }
    assert_true(strlen(test_error.message) > 0);
}

static void test_create_accounts_every_field(void **state) {
    (void)state;
    const char *line =
        "{\"op\":\"create_accounts\",\"events\":[{\"id\":\"340282366920938463463374607431768211455\","
        "\"debits_pending\":1,\"debits_posted\":\"2\",\"credits_pending\":18446744073709551616,"
        "\"credits_posted\":\"4\",\"user_data_128\":5,\"user_data_64\":\"18446744073709551615\","
        "\"user_data_32\":4294967295,\"reserved\":7,\"ledger\":156,\"code\":65535,"
        "\"flags\":[\"linked\",\"history\",\"closed\"],\"timestamp\":\"9\"},{\"id\":2}]}";
    assert_int_equal(decode(line), CLI_CODEC_DECODED);
    assert_int_equal(test_request.operation->operation, KHORGOS_OPERATION_CREATE_ACCOUNTS);
    assert_int_equal(test_request.event_count, 2);
    assert_int_equal(test_request.body_size, 2 * sizeof(struct khorgos_account));
    struct khorgos_account account[2];
    memcpy(account, test_body, sizeof(account));
    assert_true(account[0].id == U128_MAX);
    assert_true(account[0].debits_pending == 1 && account[0].debits_posted == 2);
    assert_true(account[0].credits_pending == (u128)1 << 64 && account[0].credits_posted == 4);
    assert_true(account[0].user_data_128 == 5);
    assert_true(account[0].user_data_64 == U64_MAX);
    assert_int_equal(account[0].user_data_32, U32_MAX);
    assert_int_equal(account[0].reserved, 7);
    assert_int_equal(account[0].ledger, 156);
    assert_int_equal(account[0].code, 65535);
    assert_int_equal(account[0].flags, KHORGOS_ACCOUNT_LINKED | KHORGOS_ACCOUNT_HISTORY |
                                           KHORGOS_ACCOUNT_CLOSED);
    assert_int_equal(account[0].timestamp, 9);
    /* Missing fields are zero. */
    struct khorgos_account expected = {.id = 2};
    assert_memory_equal(&account[1], &expected, sizeof(expected));
}

static void test_create_transfers_flags_by_name(void **state) {
    (void)state;
    const char *line =
        "{\"events\":[{\"id\":1,\"debit_account_id\":10,\"credit_account_id\":20,\"amount\":"
        "\"100\",\"pending_id\":3,\"timeout\":60,\"ledger\":398,\"code\":1,\"flags\":[\"linked\","
        "\"pending\",\"post_pending_transfer\",\"void_pending_transfer\",\"balancing_debit\","
        "\"balancing_credit\",\"closing_debit\",\"closing_credit\",\"imported\"]}],"
        "\"op\":\"create_transfers\"}";
    assert_int_equal(decode(line), CLI_CODEC_DECODED);
    struct khorgos_transfer transfer;
    memcpy(&transfer, test_body, sizeof(transfer));
    assert_true(transfer.id == 1 && transfer.debit_account_id == 10);
    assert_true(transfer.credit_account_id == 20 && transfer.amount == 100);
    assert_true(transfer.pending_id == 3);
    assert_int_equal(transfer.timeout, 60);
    assert_int_equal(transfer.ledger, 398);
    assert_int_equal(transfer.flags, KHORGOS_TRANSFER_FLAGS_ALL);
    /* Flags as an integer of bits, to reach reserved_flag; an empty array is no flags. */
    assert_int_equal(decode("{\"op\":\"create_transfers\",\"events\":[{\"flags\":1024},"
                            "{\"flags\":[]}]}"), CLI_CODEC_DECODED);
    memcpy(&transfer, test_body, sizeof(transfer));
    assert_int_equal(transfer.flags, 1024);
    memcpy(&transfer, test_body + sizeof(transfer), sizeof(transfer));
    assert_int_equal(transfer.flags, 0);
}

static void test_ids_and_filters(void **state) {
    (void)state;
    assert_int_equal(decode("{\"op\":\"lookup_transfers\",\"ids\":[1,\"2\","
                            "\"340282366920938463463374607431768211455\"]}"),
                     CLI_CODEC_DECODED);
    assert_int_equal(test_request.body_size, 3 * sizeof(u128));
    u128 ids[3];
    memcpy(ids, test_body, sizeof(ids));
    assert_true(ids[0] == 1 && ids[1] == 2 && ids[2] == U128_MAX);
    assert_int_equal(decode("{\"op\":\"get_account_balances\",\"filter\":{\"account_id\":7,"
                            "\"user_data_128\":8,\"user_data_64\":9,\"user_data_32\":10,"
                            "\"code\":11,\"timestamp_min\":\"12\",\"timestamp_max\":13,"
                            "\"limit\":14,\"flags\":[\"debits\",\"credits\",\"reversed\"]}}"),
                     CLI_CODEC_DECODED);
    struct khorgos_account_filter filter;
    memcpy(&filter, test_body, sizeof(filter));
    assert_true(filter.account_id == 7 && filter.user_data_128 == 8);
    assert_true(filter.user_data_64 == 9 && filter.user_data_32 == 10 && filter.code == 11);
    assert_true(filter.timestamp_min == 12 && filter.timestamp_max == 13 && filter.limit == 14);
    assert_int_equal(filter.flags, 7);
    u8 zeros[sizeof(filter.reserved)] = {0};
    assert_memory_equal(filter.reserved, zeros, sizeof(zeros));
    assert_int_equal(decode("{\"op\":\"query_transfers\",\"filter\":{\"ledger\":840,"
                            "\"limit\":5,\"flags\":[\"reversed\"]}}"), CLI_CODEC_DECODED);
    struct khorgos_query_filter query;
    memcpy(&query, test_body, sizeof(query));
    assert_int_equal(query.ledger, 840);
    assert_int_equal(query.limit, 5);
    assert_int_equal(query.flags, KHORGOS_QUERY_FILTER_REVERSED);
    /* A missing filter is a zero filter; missing events or ids are none. */
    assert_int_equal(decode("{\"op\":\"query_accounts\"}"), CLI_CODEC_DECODED);
    assert_int_equal(test_request.body_size, sizeof(query));
    struct khorgos_query_filter zero = {0};
    assert_memory_equal(test_body, &zero, sizeof(zero));
    assert_int_equal(decode("{\"op\":\"create_accounts\"}"), CLI_CODEC_DECODED);
    assert_int_equal(test_request.body_size, 0);
    assert_int_equal(decode("{\"op\":\"lookup_accounts\",\"ids\":[]}"), CLI_CODEC_DECODED);
    assert_int_equal(test_request.body_size, 0);
}

static void test_advance_clock_inline(void **state) {
    (void)state;
    assert_int_equal(decode("{\"op\":\"advance_clock\",\"seconds\":60}"), CLI_CODEC_DECODED);
    assert_int_equal(test_request.operation->operation, CLI_OPERATION_ADVANCE_CLOCK);
    struct cli_clock_advance advance;
    memcpy(&advance, test_body, sizeof(advance));
    assert_true(advance.seconds == 60 && advance.nanoseconds == 0);
    assert_int_equal(decode("{\"nanoseconds\":\"5\",\"op\":\"advance_clock\"}"),
                     CLI_CODEC_DECODED);
    memcpy(&advance, test_body, sizeof(advance));
    assert_true(advance.seconds == 0 && advance.nanoseconds == 5);
    refused("{\"op\":\"advance_clock\",\"minutes\":1}", CLI_CODEC_ERROR_unknown_field);
    refused("{\"op\":\"advance_clock\",\"seconds\":-1}", CLI_CODEC_ERROR_out_of_range);
}

static void test_every_error_code(void **state) {
    (void)state;
    refused("{\"op\":", CLI_CODEC_ERROR_invalid_json);
    refused("[[[[[[[[[[1]]]]]]]]]]", CLI_CODEC_ERROR_too_deep);
    refused("[1,2]", CLI_CODEC_ERROR_not_an_object);
    refused("{\"events\":[]}", CLI_CODEC_ERROR_missing_op);
    refused("{\"op\":7}", CLI_CODEC_ERROR_wrong_type);
    refused("{\"op\":\"create_things\"}", CLI_CODEC_ERROR_unknown_op);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"idx\":1}]}",
            CLI_CODEC_ERROR_unknown_field);
    refused("{\"op\":\"create_accounts\",\"event\":[]}", CLI_CODEC_ERROR_unknown_field);
    refused("{\"op\":\"lookup_accounts\",\"filter\":{}}", CLI_CODEC_ERROR_unknown_field);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"id\":1,\"id\":2}]}",
            CLI_CODEC_ERROR_duplicate_field);
    refused("{\"op\":\"create_accounts\",\"op\":\"create_accounts\"}",
            CLI_CODEC_ERROR_duplicate_field);
    refused("{\"op\":\"create_accounts\",\"events\":[],\"events\":[]}",
            CLI_CODEC_ERROR_duplicate_field);
    refused("{\"op\":\"create_accounts\",\"events\":{}}", CLI_CODEC_ERROR_wrong_type);
    refused("{\"op\":\"create_accounts\",\"events\":[1]}", CLI_CODEC_ERROR_wrong_type);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"id\":true}]}", CLI_CODEC_ERROR_wrong_type);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"id\":1.0}]}", CLI_CODEC_ERROR_wrong_type);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"ledger\":\"156\"}]}",
            CLI_CODEC_ERROR_wrong_type);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"flags\":\"linked\"}]}",
            CLI_CODEC_ERROR_wrong_type);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"flags\":[1]}]}",
            CLI_CODEC_ERROR_wrong_type);
    refused("{\"op\":\"lookup_accounts\",\"ids\":[{}]}", CLI_CODEC_ERROR_wrong_type);
    refused("{\"op\":\"query_accounts\",\"filter\":[]}", CLI_CODEC_ERROR_wrong_type);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"ledger\":4294967296}]}",
            CLI_CODEC_ERROR_out_of_range);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"code\":65536}]}",
            CLI_CODEC_ERROR_out_of_range);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"id\":-1}]}", CLI_CODEC_ERROR_out_of_range);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"id\":"
            "\"340282366920938463463374607431768211456\"}]}", CLI_CODEC_ERROR_out_of_range);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"timestamp\":18446744073709551616}]}",
            CLI_CODEC_ERROR_out_of_range);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"flags\":65536}]}",
            CLI_CODEC_ERROR_out_of_range);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"flags\":[\"pending\"]}]}",
            CLI_CODEC_ERROR_unknown_flag);
    refused("{\"op\":\"query_accounts\",\"filter\":{\"flags\":[\"debits\"]}}",
            CLI_CODEC_ERROR_unknown_flag);
    /* A reply's status is no field of the request's record. */
    refused("{\"op\":\"create_transfers\",\"events\":[{\"status\":\"created\"}]}",
            CLI_CODEC_ERROR_unknown_field);
}

static void test_error_details(void **state) {
    (void)state;
    refused("{\"op\":\"create_transfers\",\"events\":[{},{},{\"amount\":[]}]}",
            CLI_CODEC_ERROR_wrong_type);
    assert_non_null(strstr(test_error.message, "\"amount\""));
    assert_non_null(strstr(test_error.message, "events[2]"));
    /* The op is kept for the error reply once readable, unknown ones included. */
    assert_int_equal(test_error.op_length, strlen("create_transfers"));
    assert_memory_equal(test_error.op, "create_transfers", test_error.op_length);
    refused("{\"op\":\"fly\"}", CLI_CODEC_ERROR_unknown_op);
    assert_int_equal(test_error.op_length, 3);
    assert_memory_equal(test_error.op, "fly", 3);
    refused("{\"id\":1}", CLI_CODEC_ERROR_missing_op);
    assert_int_equal(test_error.op_length, 0);
    refused("{\"op\":\"create_accounts\",\"events\":[{\"ledger\":-5}]}",
            CLI_CODEC_ERROR_out_of_range);
    assert_non_null(strstr(test_error.message, "4294967295"));
}

/* A create_transfers line of `count` empty events. */
static char *events_line(u32 count) {
    size_t capacity = 64 + (size_t)count * 3;
    char *line = malloc(capacity);
    assert_non_null(line);
    size_t length = (size_t)snprintf(line, capacity, "{\"op\":\"create_transfers\",\"events\":[");
    for (u32 index = 0; index < count; index++) {
        memcpy(line + length, index ? ",{}" : "{}", index ? 3 : 2);
        length += index ? 3 : 2;
    }
    memcpy(line + length, "]}", 3);
    return line;
}

static void test_batch_limit_8189_vs_8190(void **state) {
    (void)state;
    char *line = events_line(LIMIT_BATCH_EVENTS_MAX);
    assert_int_equal(decode(line), CLI_CODEC_DECODED);
    assert_int_equal(test_request.event_count, LIMIT_BATCH_EVENTS_MAX);
    assert_int_equal(test_request.body_size, LIMIT_REQUEST_BODY_BYTES_MAX);
    free(line);
    line = events_line(LIMIT_BATCH_EVENTS_MAX + 1);
    refused(line, CLI_CODEC_ERROR_too_many_events);
    free(line);
}

static void test_limits_of_the_line(void **state) {
    (void)state;
    u32 length = LIMIT_JSON_LINE_BYTES_MAX + 1;
    char *line = malloc(length);
    assert_non_null(line);
    memset(line, ' ', length);
    assert_int_equal(cli_codec_request_decode(&test_reader, line, length, test_body,
                                              sizeof(test_body), &test_request, &test_error),
                     CLI_CODEC_REFUSED);
    assert_int_equal(test_error.code, CLI_CODEC_ERROR_line_too_long);
    free(line);
    /* A reader with few tokens refuses a line with more values. */
    struct cli_json_token few[8];
    struct cli_json_reader small;
    cli_json_reader_init(&small, few, ARRAY_COUNT(few));
    const char *many = "{\"op\":\"lookup_accounts\",\"ids\":[1,2,3,4,5,6]}";
    assert_int_equal(cli_codec_request_decode(&small, many, (u32)strlen(many), test_body,
                                              sizeof(test_body), &test_request, &test_error),
                     CLI_CODEC_REFUSED);
    assert_int_equal(test_error.code, CLI_CODEC_ERROR_too_many_values);
    /* Too little room for the body: the caller flushes and retries; nothing is refused. */
    const char *two = "{\"op\":\"create_accounts\",\"events\":[{\"id\":1},{\"id\":2}]}";
    assert_int_equal(cli_codec_request_decode(&test_reader, two, (u32)strlen(two), test_body,
                                              200, &test_request, &test_error),
                     CLI_CODEC_BODY_FULL);
    assert_int_equal(cli_codec_request_decode(&test_reader, two, (u32)strlen(two), test_body,
                                              256, &test_request, &test_error),
                     CLI_CODEC_DECODED);
}

static const struct cli_operation *operation(const char *name) {
    const struct cli_operation *found = cli_operation_find(name, (u32)strlen(name));
    assert_non_null(found);
    return found;
}

static void encode(const struct cli_operation *op, const void *reply, u32 size, char *out,
                   u32 capacity) {
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, out, capacity - 1);
    assert_true(cli_codec_reply_encode(&writer, op, reply, size));
    out[writer.length] = '\0';
}

static void test_reply_encoding(void **state) {
    (void)state;
    char text[2048];
    struct khorgos_create_result results[2] = {
        {.timestamp = 1684454400000000001ull, .status = KHORGOS_CREATE_TRANSFER_created},
        {.timestamp = 0, .status = KHORGOS_CREATE_TRANSFER_exceeds_credits},
    };
    encode(operation("create_transfers"), results, sizeof(results), text, sizeof(text));
    assert_string_equal(text, "{\"op\":\"create_transfers\",\"results\":["
                              "{\"status\":\"created\",\"timestamp\":\"1684454400000000001\"},"
                              "{\"status\":\"exceeds_credits\",\"timestamp\":\"0\"}]}\n");
    struct khorgos_account account = {.id = U128_MAX, .credits_posted = (u128)1 << 64,
                                      .user_data_32 = 3, .reserved = 9, .ledger = 156,
                                      .code = 2, .flags = KHORGOS_ACCOUNT_HISTORY, .timestamp = 5};
    encode(operation("lookup_accounts"), &account, sizeof(account), text, sizeof(text));
    assert_string_equal(
        text, "{\"op\":\"lookup_accounts\",\"accounts\":[{\"id\":"
              "\"340282366920938463463374607431768211455\",\"debits_pending\":\"0\","
              "\"debits_posted\":\"0\",\"credits_pending\":\"0\",\"credits_posted\":"
              "\"18446744073709551616\",\"user_data_128\":\"0\",\"user_data_64\":\"0\","
              "\"user_data_32\":3,\"ledger\":156,\"code\":2,\"flags\":[\"history\"],"
              "\"timestamp\":\"5\"}]}\n");
    struct khorgos_account_balance balance = {.debits_posted = 7, .timestamp = 8};
    encode(operation("get_account_balances"), &balance, sizeof(balance), text, sizeof(text));
    assert_string_equal(text, "{\"op\":\"get_account_balances\",\"balances\":[{\"timestamp\":"
                              "\"8\",\"debits_pending\":\"0\",\"debits_posted\":\"7\","
                              "\"credits_pending\":\"0\",\"credits_posted\":\"0\"}]}\n");
    encode(operation("query_transfers"), NULL, 0, text, sizeof(text));
    assert_string_equal(text, "{\"op\":\"query_transfers\",\"transfers\":[]}\n");
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, text, sizeof(text) - 1);
    assert_true(cli_codec_clock_reply_encode(&writer, KHORGOS_MANUAL_CLOCK_START_NS));
    text[writer.length] = '\0';
    assert_string_equal(text, "{\"op\":\"advance_clock\",\"now\":\"1684454400000000000\"}\n");
}

static void test_error_encoding(void **state) {
    (void)state;
    char text[CLI_CODEC_ERROR_REPLY_BYTES_MAX];
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, text, sizeof(text) - 1);
    assert_true(cli_codec_error_encode(&writer, "x\"y", 3, "unknown_op", "bad \"op\"\n", 12));
    text[writer.length] = '\0';
    assert_string_equal(text, "{\"op\":\"x\\\"y\",\"error\":{\"code\":\"unknown_op\","
                              "\"message\":\"bad \\\"op\\\"\\n\"},\"line\":12}\n");
    cli_json_writer_init(&writer, text, sizeof(text) - 1);
    assert_true(cli_codec_error_encode(&writer, NULL, 0, "invalid_json", "m", 1));
    text[writer.length] = '\0';
    assert_string_equal(text, "{\"error\":{\"code\":\"invalid_json\",\"message\":\"m\"},"
                              "\"line\":1}\n");
    /* The worst op and message fit the documented bound. */
    char op[LIMIT_JSON_NAME_BYTES_MAX], message[sizeof(test_error.message)];
    memset(op, 1, sizeof(op));
    memset(message, 1, sizeof(message) - 1);
    message[sizeof(message) - 1] = '\0';
    cli_json_writer_init(&writer, text, sizeof(text));
    assert_true(cli_codec_error_encode(&writer, op, sizeof(op), "too_many_values", message,
                                       UINT64_MAX));
}

/* A record of every field at its maximum, all flags set: its text must fit the bound, and
 * decoding what was encoded gives the same bytes. */
static void test_round_trip_and_reply_bound(void **state) {
    (void)state;
    struct khorgos_transfer transfer;
    memset(&transfer, 0xFF, sizeof(transfer));
    transfer.flags = KHORGOS_TRANSFER_FLAGS_ALL;
    static char text[4096];
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, text, sizeof(text));
    assert_true(cli_codec_reply_encode(&writer, operation("lookup_transfers"), &transfer,
                                       sizeof(transfer)));
    assert_true(writer.length <= cli_codec_reply_bytes_max(operation("lookup_transfers"), 1));
    /* Turn the reply into a request: {"op":"create_transfers","events":[...]}. */
    char line[4096];
    const char *records = strchr(text, '[');
    snprintf(line, sizeof(line), "{\"op\":\"create_transfers\",\"events\":%.*s}",
             (int)(strrchr(text, ']') - records + 1), records);
    assert_int_equal(decode(line), CLI_CODEC_DECODED);
    assert_memory_equal(test_body, &transfer, sizeof(transfer));
    struct khorgos_account account;
    memset(&account, 0xFF, sizeof(account));
    account.flags = KHORGOS_ACCOUNT_FLAGS_ALL;
    cli_json_writer_init(&writer, text, sizeof(text));
    assert_true(cli_codec_reply_encode(&writer, operation("query_accounts"), &account,
                                       sizeof(account)));
    assert_true(writer.length <= cli_codec_reply_bytes_max(operation("query_accounts"), 1));
}

/* Field kinds the settlement records need: text, enums by name, small integers, fixed arrays. */
struct test_record {
    char bic[11];
    u8 role;
    u8 small;
    u32 currencies[8];
    u32 reason;
};
static const char *const test_role_names[] = {NULL, "bank", "liquidity_provider",
                                              "settlement_agent"};
static const struct cli_field test_fields[] = {
    {.name = "bic", .kind = CLI_FIELD_TEXT, .size = 11, .count = 1,
     .offset = offsetof(struct test_record, bic)},
    {.name = "role", .kind = CLI_FIELD_ENUM, .size = 1, .count = 1,
     .offset = offsetof(struct test_record, role), .names = test_role_names,
     .name_count = ARRAY_COUNT(test_role_names)},
    {.name = "small", .kind = CLI_FIELD_UNSIGNED, .size = 1, .count = 1,
     .offset = offsetof(struct test_record, small)},
    {.name = "currencies", .kind = CLI_FIELD_UNSIGNED, .size = 4, .count = 8,
     .offset = offsetof(struct test_record, currencies)},
    {.name = "reason", .kind = CLI_FIELD_STATUS, .size = 4, .count = 1,
     .offset = offsetof(struct test_record, reason),
     .status_name = khorgos_create_transfer_status_name},
};
static const struct cli_record test_record_table = {"test_record", sizeof(struct test_record),
                                                    test_fields, ARRAY_COUNT(test_fields)};

static enum cli_codec_decode_status decode_test_record(const char *line,
                                                       struct test_record *record) {
    memset(record, 0x5A, sizeof(*record));
    return cli_codec_record_decode(&test_reader, line, (u32)strlen(line), &test_record_table,
                                   record, &test_error);
}

static void test_settlement_field_kinds(void **state) {
    (void)state;
    struct test_record record;
    const char *line = "{\"bic\":\"HSBKKZKX\",\"role\":\"settlement_agent\",\"small\":255,"
                       "\"currencies\":[156,398],\"reason\":\"exceeds_credits\"}";
    assert_int_equal(decode_test_record(line, &record), CLI_CODEC_DECODED);
    assert_memory_equal(record.bic, "HSBKKZKX\0\0\0", 11);
    assert_int_equal(record.role, 3);
    assert_int_equal(record.small, 255);
    assert_int_equal(record.currencies[0], 156);
    assert_int_equal(record.currencies[1], 398);
    for (u32 index = 2; index < 8; index++) assert_int_equal(record.currencies[index], 0);
    assert_int_equal(record.reason, KHORGOS_CREATE_TRANSFER_exceeds_credits);
    char text[512];
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, text, sizeof(text) - 1);
    cli_codec_record_encode(&writer, &test_record_table, &record);
    text[writer.length] = '\0';
    assert_string_equal(text, line); /* trailing unused currencies are left out */
    /* A number without a name is kept and written as a number. */
    assert_int_equal(decode_test_record("{\"role\":9,\"bic\":\"ABCDEFGHXXX\"}", &record),
                     CLI_CODEC_DECODED);
    assert_int_equal(record.role, 9);
    cli_json_writer_init(&writer, text, sizeof(text) - 1);
    cli_codec_record_encode(&writer, &test_record_table, &record);
    text[writer.length] = '\0';
    assert_string_equal(text, "{\"bic\":\"ABCDEFGHXXX\",\"role\":9,\"small\":0,\"currencies\":[],"
                              "\"reason\":\"created\"}");
    struct {
        const char *line;
        enum cli_codec_error_code code;
    } refusals[] = {
        {"{\"bic\":\"ABCDEFGHXXXY\"}", CLI_CODEC_ERROR_out_of_range},
        {"{\"bic\":\"ABC\\u00e9\"}", CLI_CODEC_ERROR_wrong_type},
        {"{\"bic\":\"AB\\u0000C\"}", CLI_CODEC_ERROR_wrong_type},
        {"{\"bic\":7}", CLI_CODEC_ERROR_wrong_type},
        {"{\"role\":\"central_bank\"}", CLI_CODEC_ERROR_unknown_name},
        {"{\"role\":256}", CLI_CODEC_ERROR_out_of_range},
        {"{\"role\":[]}", CLI_CODEC_ERROR_wrong_type},
        {"{\"small\":256}", CLI_CODEC_ERROR_out_of_range},
        {"{\"currencies\":[1,2,3,4,5,6,7,8,9]}", CLI_CODEC_ERROR_out_of_range},
        {"{\"currencies\":156}", CLI_CODEC_ERROR_wrong_type},
        {"{\"currencies\":[-1]}", CLI_CODEC_ERROR_out_of_range},
        {"{\"currencies\":[\"156\"]}", CLI_CODEC_ERROR_wrong_type},
        {"{\"colour\":1}", CLI_CODEC_ERROR_unknown_field},
        {"{\"reason\":\"no_such_status\"}", CLI_CODEC_ERROR_unknown_name},
        {"{\"reason\":[]}", CLI_CODEC_ERROR_wrong_type},
        {"{\"bic\":", CLI_CODEC_ERROR_invalid_json},
    };
    for (size_t index = 0; index < ARRAY_COUNT(refusals); index++) {
        enum cli_codec_decode_status status = decode_test_record(refusals[index].line, &record);
        if (status != CLI_CODEC_REFUSED || test_error.code != refusals[index].code) {
            fail_msg("%s: %s", refusals[index].line, test_error.message);
        }
    }
}

/* Every field of a record is one the codec can read and write: a numeric element of 1, 2, 4, 8
 * or 16 bytes (a reserved 3-byte gap once crashed the decoder, found by the fuzzer), inside
 * its record. */
static void check_record_fields(const struct cli_record *record) {
    if (record == NULL) return;
    for (u32 index = 0; index < record->field_count; index++) {
        const struct cli_field *field = &record->fields[index];
        assert_true(field->count >= 1);
        assert_true((u32)field->offset + (u32)field->size * field->count <= record->size);
        if (field->kind == CLI_FIELD_TEXT) continue;
        assert_true(field->size == 1 || field->size == 2 || field->size == 4 ||
                    field->size == 8 || field->size == 16);
    }
}

static void test_operation_table(void **state) {
    (void)state;
    for (u32 index = 0; index < cli_operation_count(); index++) {
        const struct cli_operation *op = cli_operation_at(index);
        check_record_fields(op->body);
        check_record_fields(op->reply);
        assert_ptr_equal(cli_operation_find(op->name, (u32)strlen(op->name)), op);
        assert_ptr_equal(cli_operation_by_code(op->operation), op);
        if (op->operation == CLI_OPERATION_ADVANCE_CLOCK) continue;
        /* set_holidays' codec row came before the engine's: its name may not be there yet. */
        if (op->operation == KHORGOS_OPERATION_SET_HOLIDAYS &&
            khorgos_operation_name(op->operation) == NULL) {
            continue;
        }
        assert_string_equal(khorgos_operation_name(op->operation), op->name);
    }
    assert_null(cli_operation_find("pulse", 5));
    for (u32 code = 0; code < CLI_CODEC_ERROR_COUNT; code++) {
        assert_non_null(cli_codec_error_name((enum cli_codec_error_code)code));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_accounts_every_field),
        cmocka_unit_test(test_create_transfers_flags_by_name),
        cmocka_unit_test(test_ids_and_filters),
        cmocka_unit_test(test_advance_clock_inline),
        cmocka_unit_test(test_every_error_code),
        cmocka_unit_test(test_error_details),
        cmocka_unit_test(test_batch_limit_8189_vs_8190),
        cmocka_unit_test(test_limits_of_the_line),
        cmocka_unit_test(test_reply_encoding),
        cmocka_unit_test(test_error_encoding),
        cmocka_unit_test(test_round_trip_and_reply_bound),
        cmocka_unit_test(test_settlement_field_kinds),
        cmocka_unit_test(test_operation_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
