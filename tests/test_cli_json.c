/* test_cli_json.c: the JSON reader and writer of the apply front end: the token tree, exact
 * u128 numbers, strings and their escapes, every way a line can fail to be JSON, and a writer
 * that escapes correctly and never writes past its buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/cli_json.h"

#define TEST_TOKENS_MAX 64u

static struct cli_json_token test_tokens[TEST_TOKENS_MAX];
static struct cli_json_reader test_reader;

static enum cli_json_status parse(const char *text) {
    cli_json_reader_init(&test_reader, test_tokens, TEST_TOKENS_MAX);
    return cli_json_parse(&test_reader, text, (u32)strlen(text));
}

static void test_token_tree(void **state) {
    (void)state;
    const char *text = " {\"a\":[1,{\"b\":null}],\"c\":\"x\",\"d\":true,\"e\":false} ";
    assert_int_equal(parse(text), CLI_JSON_OK);
    /* {, "a", [, 1, {, "b", null, "c", "x", "d", true, "e", false */
    assert_int_equal(test_reader.token_count, 13);
    assert_int_equal(test_tokens[0].type, CLI_JSON_OBJECT);
    assert_int_equal(test_tokens[0].children, 4);
    assert_int_equal(test_tokens[0].end, 13);
    assert_int_equal(test_tokens[1].type, CLI_JSON_STRING);
    assert_true(cli_json_string_equals(text, &test_tokens[1], "a"));
    assert_int_equal(test_tokens[2].type, CLI_JSON_ARRAY);
    assert_int_equal(test_tokens[2].children, 2);
    assert_int_equal(test_tokens[2].end, 7); /* the next key "c" */
    assert_int_equal(test_tokens[4].type, CLI_JSON_OBJECT);
    assert_int_equal(test_tokens[4].end, 7);
    assert_int_equal(test_tokens[6].type, CLI_JSON_NULL);
    assert_true(cli_json_string_equals(text, &test_tokens[7], "c"));
    assert_int_equal(test_tokens[10].type, CLI_JSON_TRUE);
    assert_int_equal(test_tokens[12].type, CLI_JSON_FALSE);
    for (u32 index = 0; index < test_reader.token_count; index++) {
        assert_true(test_tokens[index].end > index);
        assert_true(test_tokens[index].end <= test_reader.token_count);
    }
}

static void test_invalid_json_is_refused(void **state) {
    (void)state;
    const char *invalid[] = {
        "",           "   ",          "{",           "}",           "[1,]",
        "{\"a\"}",    "{\"a\":}",     "{\"a\":1,}",  "{a:1}",       "{'a':1}",
        "01",         "1.",           ".5",          "+1",          "-",
        "1e",         "tru",          "nul",         "\"abc",       "\"a\\x\"",
        "\"\\u12\"",  "\"\\ud800\"",  "\"\\udc00\"", "\"\\ud800\\u0041\"", "[1 2]",
        "{} {}",      "\"\x01\"",     "\"\xff\"",    "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
        "[\"a\":1]",  "NaN",          "Infinity",    "{\"a\":1 \"b\":2}",
    };
    for (size_t index = 0; index < ARRAY_COUNT(invalid); index++) {
        if (parse(invalid[index]) != CLI_JSON_INVALID) fail_msg("accepted: %s", invalid[index]);
        assert_non_null(test_reader.error_reason);
    }
}

static void test_valid_edge_cases(void **state) {
    (void)state;
    const char *valid[] = {
        "0", "-0", "1.5e10", "1E+2", "-1.0e-3", "\"\"", "\"\\u00e9\\ud83d\\ude00\"",
        "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"", "[]", "{}", "[[[]]]", " \t\r\n[ ] ",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
    };
    for (size_t index = 0; index < ARRAY_COUNT(valid); index++) {
        if (parse(valid[index]) != CLI_JSON_OK) fail_msg("refused: %s", valid[index]);
    }
}

static void test_depth_and_token_limits(void **state) {
    (void)state;
    char deep[64] = "";
    for (u32 level = 0; level < LIMIT_JSON_DEPTH_MAX; level++) strcat(deep, "[");
    for (u32 level = 0; level < LIMIT_JSON_DEPTH_MAX; level++) strcat(deep, "]");
    assert_int_equal(parse(deep), CLI_JSON_OK);
    char deeper[64] = "";
    for (u32 level = 0; level <= LIMIT_JSON_DEPTH_MAX; level++) strcat(deeper, "[");
    for (u32 level = 0; level <= LIMIT_JSON_DEPTH_MAX; level++) strcat(deeper, "]");
    assert_int_equal(parse(deeper), CLI_JSON_TOO_DEEP);
    /* 63 values fit in 64 tokens with the array; 64 do not. */
    char many[256] = "[";
    for (u32 index = 0; index < TEST_TOKENS_MAX - 1; index++) strcat(many, index ? ",1" : "1");
    strcat(many, "]");
    assert_int_equal(parse(many), CLI_JSON_OK);
    assert_int_equal(test_reader.token_count, TEST_TOKENS_MAX);
    many[strlen(many) - 1] = '\0';
    strcat(many, ",1]");
    assert_int_equal(parse(many), CLI_JSON_TOO_MANY_VALUES);
}

static enum cli_json_number_status read_unsigned(const char *text, u128 maximum, u128 *value) {
    enum cli_json_status status = parse(text);
    assert_int_equal(status, CLI_JSON_OK);
    return cli_json_read_unsigned(text, &test_tokens[0], maximum, value);
}

static void test_u128_exact_round_trips(void **state) {
    (void)state;
    const u128 two_64 = (u128)1 << 64;
    struct {
        const char *text;
        u128 value;
    } cases[] = {
        {"0", 0},
        {"\"0\"", 0},
        {"18446744073709551616", two_64},
        {"\"18446744073709551616\"", two_64},
        {"340282366920938463463374607431768211455", U128_MAX},
        {"\"340282366920938463463374607431768211455\"", U128_MAX},
        {"\"000000000000000000000000000000000000000000000000000007\"", 7},
        {"\"\\u0031\\u0032\"", 12},
        {"9007199254740993", (u128)9007199254740993ull}, /* 2^53 + 1: a double would round */
    };
    for (size_t index = 0; index < ARRAY_COUNT(cases); index++) {
        u128 value = 99;
        assert_int_equal(read_unsigned(cases[index].text, U128_MAX, &value), CLI_JSON_NUMBER_OK);
        assert_true(value == cases[index].value);
        char buffer[64];
        struct cli_json_writer writer;
        cli_json_writer_init(&writer, buffer, sizeof(buffer));
        cli_json_decimal_string(&writer, value);
        u128 again = 0;
        buffer[writer.length] = '\0';
        assert_int_equal(read_unsigned(buffer, U128_MAX, &again), CLI_JSON_NUMBER_OK);
        assert_true(again == value);
    }
}

static void test_numbers_refused_exactly(void **state) {
    (void)state;
    u128 value = 5;
    assert_int_equal(read_unsigned("340282366920938463463374607431768211456", U128_MAX, &value),
                     CLI_JSON_NUMBER_OUT_OF_RANGE); /* 2^128 */
    assert_int_equal(read_unsigned("\"340282366920938463463374607431768211456\"", U128_MAX,
                                   &value), CLI_JSON_NUMBER_OUT_OF_RANGE);
    assert_int_equal(read_unsigned("1000000000000000000000000000000000000000000000000000000000",
                                   U128_MAX, &value), CLI_JSON_NUMBER_OUT_OF_RANGE);
    assert_int_equal(read_unsigned("18446744073709551616", U64_MAX, &value),
                     CLI_JSON_NUMBER_OUT_OF_RANGE);
    assert_int_equal(read_unsigned("18446744073709551615", U64_MAX, &value), CLI_JSON_NUMBER_OK);
    assert_true(value == U64_MAX);
    value = 5;
    assert_int_equal(read_unsigned("-1", U128_MAX, &value), CLI_JSON_NUMBER_OUT_OF_RANGE);
    assert_int_equal(read_unsigned("1.5", U128_MAX, &value), CLI_JSON_NUMBER_WRONG_TYPE);
    assert_int_equal(read_unsigned("1e3", U128_MAX, &value), CLI_JSON_NUMBER_WRONG_TYPE);
    assert_int_equal(read_unsigned("\"\"", U128_MAX, &value), CLI_JSON_NUMBER_WRONG_TYPE);
    assert_int_equal(read_unsigned("\"12a\"", U128_MAX, &value), CLI_JSON_NUMBER_WRONG_TYPE);
    assert_int_equal(read_unsigned("\"-1\"", U128_MAX, &value), CLI_JSON_NUMBER_WRONG_TYPE);
    assert_int_equal(read_unsigned("\" 1\"", U128_MAX, &value), CLI_JSON_NUMBER_WRONG_TYPE);
    assert_int_equal(read_unsigned("true", U128_MAX, &value), CLI_JSON_NUMBER_WRONG_TYPE);
    assert_int_equal(read_unsigned("[1]", U128_MAX, &value), CLI_JSON_NUMBER_WRONG_TYPE);
    assert_true(value == 5); /* failures leave the value alone */
    assert_int_equal(parse("\"12\""), CLI_JSON_OK);
    assert_int_equal(cli_json_read_integer("\"12\"", &test_tokens[0], U128_MAX, &value),
                     CLI_JSON_NUMBER_WRONG_TYPE); /* u32/u16 fields take JSON integers only */
}

static void test_string_decode_and_equals(void **state) {
    (void)state;
    const char *text = "\"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\"";
    assert_int_equal(parse(text), CLI_JSON_OK);
    assert_true(test_tokens[0].escaped);
    char out[32];
    int length = cli_json_string_decode(text, &test_tokens[0], out, sizeof(out));
    const char expected[] = "a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80";
    assert_int_equal(length, (int)strlen(expected));
    assert_memory_equal(out, expected, strlen(expected));
    assert_int_equal(cli_json_string_decode(text, &test_tokens[0], out, 5), -1);
    const char *key = "\"\\u006fp\"";
    assert_int_equal(parse(key), CLI_JSON_OK);
    assert_true(cli_json_string_equals(key, &test_tokens[0], "op"));
    assert_false(cli_json_string_equals(key, &test_tokens[0], "o"));
    assert_int_equal(parse("\"op\""), CLI_JSON_OK);
    assert_false(test_tokens[0].escaped);
    assert_true(cli_json_string_equals("\"op\"", &test_tokens[0], "op"));
    assert_false(cli_json_string_equals("\"op\"", &test_tokens[0], "ops"));
}

static void test_writer_escapes_and_structure(void **state) {
    (void)state;
    char buffer[256];
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, buffer, sizeof(buffer));
    cli_json_object_begin(&writer);
    cli_json_key(&writer, "s");
    const char raw[] = "q\"b\\n\n\x01\xff\xc3\xa9";
    cli_json_string(&writer, raw, sizeof(raw) - 1);
    cli_json_key(&writer, "a");
    cli_json_array_begin(&writer);
    cli_json_integer(&writer, 7);
    cli_json_decimal_string(&writer, U128_MAX);
    cli_json_array_end(&writer);
    cli_json_key(&writer, "o");
    cli_json_object_begin(&writer);
    cli_json_object_end(&writer);
    cli_json_object_end(&writer);
    assert_false(writer.overflow);
    const char *expected = "{\"s\":\"q\\\"b\\\\n\\n\\u0001\\ufffd\xc3\xa9\",\"a\":[7,"
                           "\"340282366920938463463374607431768211455\"],\"o\":{}}";
    assert_int_equal(writer.length, strlen(expected));
    assert_memory_equal(buffer, expected, strlen(expected));
    /* What the writer writes, the reader reads back to the same bytes (U+FFFD aside). */
    buffer[writer.length] = '\0';
    assert_int_equal(parse(buffer), CLI_JSON_OK);
}

static void test_writer_never_overflows(void **state) {
    (void)state;
    char buffer[16];
    memset(buffer, 'z', sizeof(buffer));
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, buffer, 10);
    cli_json_array_begin(&writer);
    cli_json_integer(&writer, 12345);
    assert_int_equal(writer.length, 6);
    cli_json_string_literal(&writer, "too long to fit");
    assert_true(writer.overflow);
    assert_int_equal(writer.length, 6); /* the failed append left the buffer as it was */
    cli_json_array_end(&writer);
    assert_int_equal(writer.length, 6);
    for (size_t index = 10; index < sizeof(buffer); index++) assert_int_equal(buffer[index], 'z');
}

static void test_utf8_sequences(void **state) {
    (void)state;
    const u8 two[] = {0xC3, 0xA9}, three[] = {0xE4, 0xB8, 0xAD}, four[] = {0xF0, 0x9F, 0x98, 0x80};
    assert_int_equal(cli_json_utf8_sequence_length(two, 2), 2);
    assert_int_equal(cli_json_utf8_sequence_length(three, 3), 3);
    assert_int_equal(cli_json_utf8_sequence_length(four, 4), 4);
    assert_int_equal(cli_json_utf8_sequence_length(four, 3), 0); /* cut short */
    const u8 overlong[] = {0xC0, 0x80}, surrogate[] = {0xED, 0xA0, 0x80},
             too_high[] = {0xF4, 0x90, 0x80, 0x80}, lone[] = {0x80};
    assert_int_equal(cli_json_utf8_sequence_length(overlong, 2), 0);
    assert_int_equal(cli_json_utf8_sequence_length(surrogate, 3), 0);
    assert_int_equal(cli_json_utf8_sequence_length(too_high, 4), 0);
    assert_int_equal(cli_json_utf8_sequence_length(lone, 1), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_tree),
        cmocka_unit_test(test_invalid_json_is_refused),
        cmocka_unit_test(test_valid_edge_cases),
        cmocka_unit_test(test_depth_and_token_limits),
        cmocka_unit_test(test_u128_exact_round_trips),
        cmocka_unit_test(test_numbers_refused_exactly),
        cmocka_unit_test(test_string_decode_and_equals),
        cmocka_unit_test(test_writer_escapes_and_structure),
        cmocka_unit_test(test_writer_never_overflows),
        cmocka_unit_test(test_utf8_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
