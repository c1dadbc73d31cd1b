/* test_cli_codec_settle.c: the settlement fields of the JSON front end without the engine:
 * amounts as decimal strings in the major unit of their record's currency (every minor unit of
 * the table: 0, 2 and 3 decimals; up to 2^128 - 1 minor units; the currency after the amount),
 * currencies as letters, rates as decimal strings mapped exactly to mantissa and exponent, the
 * default priority, set_holidays, replies, and every error each of these gives. */
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
static _Alignas(64) u8 test_body[64 * 1024];
static struct cli_codec_request test_request;
static struct cli_codec_error test_error;
static char test_text[16 * 1024];

static int setup(void **state) {
    (void)state;
    test_tokens = malloc(sizeof(*test_tokens) * 4096);
    if (test_tokens == NULL) return -1;
    cli_json_reader_init(&test_reader, test_tokens, 4096);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(test_tokens);
    return 0;
}

static enum cli_codec_decode_status decode(const char *line) {
    memset(test_body, 0xAB, 1024); /* decoding must zero what it does not set */
    return cli_codec_request_decode(&test_reader, line, (u32)strlen(line), test_body,
                                    sizeof(test_body), &test_request, &test_error);
}

static void decoded(const char *line) {
    if (decode(line) != CLI_CODEC_DECODED) fail_msg("%s: %s", line, test_error.message);
}

/* A line refused with `code`, its message naming `named` (a field, usually). */
static void refused(const char *line, enum cli_codec_error_code code, const char *named) {
    enum cli_codec_decode_status status = decode(line);
    if (status != CLI_CODEC_REFUSED || test_error.code != code) {
        fail_msg("%s: status %d code %s (%s), expected %s", line, status,
                 status == CLI_CODEC_REFUSED ? cli_codec_error_name(test_error.code) : "-",
                 test_error.message, cli_codec_error_name(code));
    }
    if (named != NULL && strstr(test_error.message, named) == NULL) {
        fail_msg("%s: message \"%s\" does not name %s", line, test_error.message, named);
    }
}

static const struct cli_operation *operation(const char *name) {
    const struct cli_operation *found = cli_operation_find(name, (u32)strlen(name));
    assert_non_null(found);
    return found;
}

/* The first event of the body as the encoder writes it (a record object). */
static const char *encoded_event(const char *name) {
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, test_text, sizeof(test_text) - 1);
    cli_codec_record_encode(&writer, operation(name)->body, test_body);
    assert_false(writer.overflow);
    test_text[writer.length] = '\0';
    return test_text;
}

static struct khorgos_payment body_payment(u32 index) {
    struct khorgos_payment payment;
    memcpy(&payment, test_body + index * sizeof(payment), sizeof(payment));
    return payment;
}

/* Decodes a fund of `amount` in `currency` and checks the minor units and the text written. */
static void fund_round_trip(const char *currency, const char *amount, u128 minor,
                            const char *written) {
    char line[256];
    snprintf(line, sizeof(line),
             "{\"op\":\"fund\",\"events\":[{\"id\":\"1\",\"bic\":\"HSBKKZKX\",\"currency\":\"%s\","
             "\"amount\":\"%s\"}]}", currency, amount);
    decoded(line);
    struct khorgos_participant_event event;
    memcpy(&event, test_body, sizeof(event));
    assert_true(event.amount == minor);
    assert_int_equal(event.currency, khorgos_currency_by_letters(currency)->numeric);
    char expected[256];
    snprintf(expected, sizeof(expected), "\"amount\":\"%s\"", written);
    if (strstr(encoded_event("fund"), expected) == NULL) {
        fail_msg("%s %s: wrote %s, expected %s", currency, amount, test_text, expected);
    }
    snprintf(expected, sizeof(expected), "\"currency\":\"%s\"", currency);
    assert_non_null(strstr(test_text, expected));
}

static void test_amount_every_minor_unit(void **state) {
    (void)state;
    /* The region's currencies: two decimals each in the table (ledger_currency.c). */
    const char *region[] = {"CNY", "KZT", "KGS", "UZS", "TJS", "TMT", "RUB", "USD"};
    for (size_t index = 0; index < ARRAY_COUNT(region); index++) {
        assert_int_equal(khorgos_currency_by_letters(region[index])->minor_units, 2);
        fund_round_trip(region[index], "1250.50", 125050, "1250.50");
        fund_round_trip(region[index], "1250.5", 125050, "1250.50");
        fund_round_trip(region[index], "1250", 125000, "1250.00");
        fund_round_trip(region[index], "0.01", 1, "0.01");
        fund_round_trip(region[index], "007.10", 710, "7.10");
    }
    /* No decimals (JPY, KRW) and three (BHD, KWD, OMR). */
    fund_round_trip("JPY", "1250", 1250, "1250");
    fund_round_trip("KRW", "1", 1, "1");
    fund_round_trip("BHD", "1.234", 1234, "1.234");
    fund_round_trip("KWD", "0.001", 1, "0.001");
    fund_round_trip("OMR", "12.5", 12500, "12.500");
    refused("{\"op\":\"fund\",\"events\":[{\"currency\":\"JPY\",\"amount\":\"1250.5\"}]}",
            CLI_CODEC_ERROR_amount_too_precise, "JPY has 0 decimals");
    refused("{\"op\":\"fund\",\"events\":[{\"currency\":\"JPY\",\"amount\":\"1250.0\"}]}",
            CLI_CODEC_ERROR_amount_too_precise, "\"amount\"");
    refused("{\"op\":\"fund\",\"events\":[{\"currency\":\"BHD\",\"amount\":\"1.2345\"}]}",
            CLI_CODEC_ERROR_amount_too_precise, "BHD has 3 decimals");
}

static void test_amount_boundaries(void **state) {
    (void)state;
    /* 2^128 - 1 minor units, in each scale; one more is out of range. */
    fund_round_trip("KZT", "3402823669209384634633746074317682114.55", U128_MAX,
                    "3402823669209384634633746074317682114.55");
    fund_round_trip("JPY", "340282366920938463463374607431768211455", U128_MAX,
                    "340282366920938463463374607431768211455");
    fund_round_trip("BHD", "340282366920938463463374607431768211.455", U128_MAX,
                    "340282366920938463463374607431768211.455");
    fund_round_trip("KZT", "0000000000000000000000000000000000000000001", 100, "1.00");
    refused("{\"op\":\"fund\",\"events\":[{\"currency\":\"KZT\","
            "\"amount\":\"3402823669209384634633746074317682114.56\"}]}",
            CLI_CODEC_ERROR_out_of_range, "\"amount\"");
    refused("{\"op\":\"fund\",\"events\":[{\"currency\":\"JPY\","
            "\"amount\":\"340282366920938463463374607431768211456\"}]}",
            CLI_CODEC_ERROR_out_of_range, "\"amount\"");
    refused("{\"op\":\"fund\",\"events\":[{\"currency\":\"KZT\","
            "\"amount\":\"99999999999999999999999999999999999999999\"}]}",
            CLI_CODEC_ERROR_out_of_range, "\"amount\"");
}

/* The currency that scales an amount may come after it; amount_target falls back to currency. */
static void test_amount_scale_from_the_whole_object(void **state) {
    (void)state;
    decoded("{\"op\":\"submit_payments\",\"events\":[{\"amount\":\"1250.50\",\"id\":\"7\","
            "\"debtor\":\"HSBKKZKX\",\"creditor\":\"KCJBKZKX\",\"currency\":\"KZT\"},"
            "{\"id\":\"8\",\"amount_kind\":\"creditor\",\"amount_target\":\"100\","
            "\"currency\":\"KZT\",\"currency_target\":\"JPY\"},"
            "{\"id\":\"9\",\"amount_kind\":\"creditor\",\"amount_target\":\"100.25\","
            "\"currency\":398}]}");
    assert_int_equal(test_request.event_count, 3);
    struct khorgos_payment payment = body_payment(0);
    assert_true(payment.amount == 125050 && payment.amount_target == 0);
    assert_int_equal(payment.currency, 398);
    assert_int_equal(payment.currency_target, 0);
    payment = body_payment(1);
    assert_true(payment.amount == 0 && payment.amount_target == 100); /* JPY: no decimals */
    assert_int_equal(payment.currency_target, 392);
    assert_int_equal(payment.amount_kind, KHORGOS_AMOUNT_CREDITOR);
    payment = body_payment(2);
    assert_true(payment.amount_target == 10025); /* scaled by KZT, the payment's currency */
    /* JPY scales amount_target, wherever currency_target stands. */
    refused("{\"op\":\"submit_payments\",\"events\":[{\"amount_target\":\"1.5\","
            "\"currency\":\"KZT\",\"currency_target\":\"JPY\"}]}",
            CLI_CODEC_ERROR_amount_too_precise, "\"amount_target\"");
    /* Zero is zero in any scale (a reply's zero balance reads back); other amounts need one. */
    decoded("{\"op\":\"set_credit_lines\",\"events\":[{\"id\":\"1\",\"amount\":\"0.00\"}]}");
    refused("{\"op\":\"set_credit_lines\",\"events\":[{\"id\":\"1\",\"amount\":\"5\"}]}",
            CLI_CODEC_ERROR_missing_currency, "\"amount\"");
    refused("{\"op\":\"set_fx_quotes\",\"events\":[{\"id\":\"1\",\"amount_max\":\"5\","
            "\"currency_target\":\"CNY\"}]}", CLI_CODEC_ERROR_missing_currency, "\"amount_max\"");
}

static void test_amount_errors(void **state) {
    (void)state;
    struct {
        const char *amount;
        enum cli_codec_error_code code;
    } cases[] = {
        {"\"1250.505\"", CLI_CODEC_ERROR_amount_too_precise},
        {"\"0\"", CLI_CODEC_ERROR_amount_not_positive},
        {"\"0.00\"", CLI_CODEC_ERROR_amount_not_positive},
        {"\"-5\"", CLI_CODEC_ERROR_amount_not_positive},
        {"\"-0.01\"", CLI_CODEC_ERROR_amount_not_positive},
        {"\"abc\"", CLI_CODEC_ERROR_amount_invalid},
        {"\"\"", CLI_CODEC_ERROR_amount_invalid},
        {"\"1e3\"", CLI_CODEC_ERROR_amount_invalid},
        {"\"12.\"", CLI_CODEC_ERROR_amount_invalid},
        {"\".5\"", CLI_CODEC_ERROR_amount_invalid},
        {"\"+5\"", CLI_CODEC_ERROR_amount_invalid},
        {"\" 5\"", CLI_CODEC_ERROR_amount_invalid},
        {"\"1,250.50\"", CLI_CODEC_ERROR_amount_invalid},
        {"\"1.2.3\"", CLI_CODEC_ERROR_amount_invalid},
        {"\"--5\"", CLI_CODEC_ERROR_amount_invalid},
        {"\"none\"", CLI_CODEC_ERROR_amount_invalid}, /* only where no limit is meant */
        {"\"00000000000000000000000000000000000000000000000000000000000000000000000001\"",
         CLI_CODEC_ERROR_amount_invalid},
        {"1250", CLI_CODEC_ERROR_wrong_type}, /* a JSON number: minor units once, now refused */
        {"1250.50", CLI_CODEC_ERROR_wrong_type},
        {"null", CLI_CODEC_ERROR_wrong_type},
        {"[\"1\"]", CLI_CODEC_ERROR_wrong_type},
    };
    char line[512];
    for (size_t index = 0; index < ARRAY_COUNT(cases); index++) {
        snprintf(line, sizeof(line),
                 "{\"op\":\"submit_payments\",\"events\":[{\"id\":\"1\",\"currency\":\"KZT\"},"
                 "{\"id\":\"2\",\"amount\":%s,\"currency\":\"KZT\"}]}", cases[index].amount);
        refused(line, cases[index].code, "\"amount\"");
        assert_non_null(strstr(test_error.message, "events[1]"));
        assert_int_equal(test_error.op_length, strlen("submit_payments"));
    }
    /* Each positive amount: payments, fund, defund, quotes. */
    refused("{\"op\":\"submit_payments\",\"events\":[{\"currency\":\"KZT\",\"amount_target\":"
            "\"0\"}]}", CLI_CODEC_ERROR_amount_not_positive, "\"amount_target\"");
    refused("{\"op\":\"fund\",\"events\":[{\"currency\":\"KZT\",\"amount\":\"0\"}]}",
            CLI_CODEC_ERROR_amount_not_positive, "\"amount\"");
    refused("{\"op\":\"defund\",\"events\":[{\"currency\":\"KZT\",\"amount\":\"-1\"}]}",
            CLI_CODEC_ERROR_amount_not_positive, "\"amount\"");
    refused("{\"op\":\"set_fx_quotes\",\"events\":[{\"currency_source\":\"KZT\","
            "\"amount_max\":\"0\"}]}", CLI_CODEC_ERROR_amount_not_positive, "\"amount_max\"");
    /* A credit line or a limit may be zero; a limit may be none. */
    decoded("{\"op\":\"set_credit_lines\",\"events\":[{\"currency\":\"KZT\",\"amount\":\"0\"}]}");
    decoded("{\"op\":\"set_limits\",\"events\":[{\"currency\":\"KZT\",\"amount\":\"0\","
            "\"limit_kind\":\"net_debit_cap\"}]}");
    decoded("{\"op\":\"set_limits\",\"events\":[{\"currency\":\"KZT\",\"amount\":\"none\","
            "\"limit_kind\":\"bilateral\",\"counterparty\":\"KCJBKZKX\"}]}");
    struct khorgos_participant_event event;
    memcpy(&event, test_body, sizeof(event));
    assert_true(event.amount == KHORGOS_AMOUNT_MAX);
    assert_non_null(strstr(encoded_event("set_limits"), "\"amount\":\"none\""));
    refused("{\"op\":\"fund\",\"events\":[{\"currency\":\"KZT\",\"amount\":\"none\"}]}",
            CLI_CODEC_ERROR_amount_invalid, "\"amount\"");
    /* suspend and reinstate name a participant only. */
    decoded("{\"op\":\"suspend\",\"events\":[{\"id\":\"3\",\"bic\":\"HSBKKZKX\"}]}");
    refused("{\"op\":\"reinstate\",\"events\":[{\"id\":\"3\",\"bic\":\"HSBKKZKX\","
            "\"amount\":\"1\"}]}", CLI_CODEC_ERROR_unknown_field, "\"amount\"");
}

static void test_currency_letters(void **state) {
    (void)state;
    decoded("{\"op\":\"create_participants\",\"events\":[{\"bic\":\"HSBKKZKX\",\"country\":"
            "\"KZ\",\"role\":\"bank\",\"name\":\"Halyk\",\"currencies\":[\"KZT\",156,\"RUB\"]}]}");
    struct khorgos_participant participant;
    memcpy(&participant, test_body, sizeof(participant));
    assert_int_equal(participant.currencies[0], 398);
    assert_int_equal(participant.currencies[1], 156);
    assert_int_equal(participant.currencies[2], 643);
    assert_int_equal(participant.currencies[3], 0);
    assert_non_null(strstr(encoded_event("create_participants"),
                           "\"currencies\":[\"KZT\",\"CNY\",\"RUB\"]"));
    decoded("{\"op\":\"get_positions\",\"filter\":{\"currency\":\"UZS\"}}");
    struct khorgos_settle_filter filter;
    memcpy(&filter, test_body, sizeof(filter));
    assert_int_equal(filter.currency, 860);
    decoded("{\"op\":\"set_fx_routing\",\"events\":[{\"id\":\"1\",\"vehicle_currency\":\"USD\","
            "\"mode\":\"vehicle_only\"}]}");
    struct khorgos_fx_routing routing;
    memcpy(&routing, test_body, sizeof(routing));
    assert_int_equal(routing.vehicle_currency, 840);
    const char *bad[] = {"\"XYZ\"", "\"kzt\"", "\"KZ\"", "\"KZTT\"", "\"\"", "999", "0",
                         "4294967296", "\"398\""};
    char line[256];
    for (size_t index = 0; index < ARRAY_COUNT(bad); index++) {
        snprintf(line, sizeof(line), "{\"op\":\"open_day\",\"events\":[{\"currency\":%s}]}",
                 bad[index]);
        refused(line, CLI_CODEC_ERROR_unknown_currency, "\"currency\"");
    }
    refused("{\"op\":\"open_day\",\"events\":[{\"currency\":[\"KZT\"]}]}",
            CLI_CODEC_ERROR_wrong_type, "\"currency\"");
    refused("{\"op\":\"create_participants\",\"events\":[{\"currencies\":[\"KZT\",\"ABC\"]}]}",
            CLI_CODEC_ERROR_unknown_currency, "\"currencies\"");
    /* An unknown currency is named even when an amount it would scale comes first. */
    refused("{\"op\":\"fund\",\"events\":[{\"amount\":\"1\",\"currency\":\"XXX\"}]}",
            CLI_CODEC_ERROR_unknown_currency, "XXX");
}

static void test_rates(void **state) {
    (void)state;
    struct {
        const char *text;
        u64 mantissa;
        int exponent;
        const char *written;
    } cases[] = {
        {"71.6532", 716532, -4, "71.6532"},
        {"0.0152", 152, -4, "0.0152"},
        {"71.6500", 7165, -2, "71.65"},
        {"1000", 1, 3, "1000"},
        {"1", 1, 0, "1"},
        {"000.5", 5, -1, "0.5"},
        {"123456789012", 123456789012ull, 0, "123456789012"},
        {"0.000000000000000001", 1, -18, "0.000000000000000001"},
        {"999999999999000000000000000000", 999999999999ull, 18,
         "999999999999000000000000000000"},
        {"1000000000000000000000", 1000, 18, "1000000000000000000000"},
        {"0.123456789012", 123456789012ull, -12, "0.123456789012"},
        {"12345.6789012", 123456789012ull, -7, "12345.6789012"},
    };
    char line[512];
    for (size_t index = 0; index < ARRAY_COUNT(cases); index++) {
        snprintf(line, sizeof(line),
                 "{\"op\":\"set_fx_quotes\",\"events\":[{\"id\":\"1\",\"provider\":\"LPAAKZKA\","
                 "\"rate\":\"%s\",\"currency_source\":\"KZT\",\"currency_target\":\"CNY\","
                 "\"amount_max\":\"1000000\",\"expires_at\":\"1684458000000000000\"}]}",
                 cases[index].text);
        decoded(line);
        struct khorgos_fx_quote quote;
        memcpy(&quote, test_body, sizeof(quote));
        if (quote.rate_mantissa != cases[index].mantissa ||
            quote.rate_exponent != cases[index].exponent) {
            fail_msg("%s: %llu x 10^%d", cases[index].text,
                     (unsigned long long)quote.rate_mantissa, quote.rate_exponent);
        }
        assert_true(quote.amount_max == 100000000);
        char expected[128];
        snprintf(expected, sizeof(expected), "\"rate\":\"%s\"", cases[index].written);
        if (strstr(encoded_event("set_fx_quotes"), expected) == NULL) {
            fail_msg("%s: wrote %s", cases[index].text, test_text);
        }
    }
    struct {
        const char *rate;
        enum cli_codec_error_code code;
    } bad[] = {
        {"\"1234567890123\"", CLI_CODEC_ERROR_rate_too_precise},
        {"\"71.65321234567\"", CLI_CODEC_ERROR_rate_too_precise},
        {"\"0.0000000000000000001\"", CLI_CODEC_ERROR_rate_too_precise},
        {"\"0\"", CLI_CODEC_ERROR_rate_not_positive},
        {"\"0.000\"", CLI_CODEC_ERROR_rate_not_positive},
        {"\"-1.5\"", CLI_CODEC_ERROR_rate_not_positive},
        {"\"abc\"", CLI_CODEC_ERROR_rate_invalid},
        {"\"1e5\"", CLI_CODEC_ERROR_rate_invalid},
        {"\"\"", CLI_CODEC_ERROR_rate_invalid},
        {"\"7.\"", CLI_CODEC_ERROR_rate_invalid},
        {"\"1000000000000000000000000000000\"", CLI_CODEC_ERROR_out_of_range},
        {"71.65", CLI_CODEC_ERROR_wrong_type},
        {"152", CLI_CODEC_ERROR_wrong_type},
    };
    for (size_t index = 0; index < ARRAY_COUNT(bad); index++) {
        snprintf(line, sizeof(line), "{\"op\":\"set_fx_quotes\",\"events\":[{\"rate\":%s}]}",
                 bad[index].rate);
        refused(line, bad[index].code, "\"rate\"");
    }
    /* The binary pair is no longer a JSON field. */
    refused("{\"op\":\"set_fx_quotes\",\"events\":[{\"rate_mantissa\":\"152\"}]}",
            CLI_CODEC_ERROR_unknown_field, "rate_mantissa");
    /* Writing any binary rate: exact, the shortest text. */
    char text[CLI_DECIMAL_RATE_TEXT_BYTES];
    assert_int_equal(cli_decimal_rate_format(716500, -4, text, sizeof(text)), 5);
    assert_string_equal(text, "71.65");
    cli_decimal_rate_format(U64_MAX, -128, text, sizeof(text));
    assert_int_equal(strlen(text), 2 + 128);
    cli_decimal_rate_format(U64_MAX, 127, text, sizeof(text));
    assert_int_equal(strlen(text), 20 + 127);
    cli_decimal_rate_format(0, -4, text, sizeof(text));
    assert_string_equal(text, "0");
    assert_int_equal(cli_decimal_rate_format(15, -1, text, 3), 0); /* "1.5" needs 4 bytes */
}

static void test_priority_default_and_holidays(void **state) {
    (void)state;
    decoded("{\"op\":\"submit_payments\",\"events\":[{\"id\":\"1\"},{\"id\":\"2\","
            "\"priority\":\"urgent\"},{\"id\":\"3\",\"priority\":1}]}");
    assert_int_equal(body_payment(0).priority, KHORGOS_PRIORITY_NORMAL);
    assert_int_equal(body_payment(1).priority, KHORGOS_PRIORITY_URGENT);
    assert_int_equal(body_payment(2).priority, KHORGOS_PRIORITY_HIGH);
    refused("{\"op\":\"submit_payments\",\"events\":[{\"priority\":\"fast\"}]}",
            CLI_CODEC_ERROR_unknown_name, "\"priority\"");
    /* reprioritize has no default: its priority is what it sets. */
    decoded("{\"op\":\"reprioritize_payments\",\"events\":[{\"id\":\"1\",\"payment_id\":\"2\"}]}");
    struct khorgos_payment_change change;
    memcpy(&change, test_body, sizeof(change));
    assert_int_equal(change.priority, KHORGOS_PRIORITY_URGENT);
    /* set_holidays: currency by letters, the date a YYYYMMDD integer as open_day's. */
    const struct cli_operation *holidays = operation("set_holidays");
    assert_int_equal(holidays->operation, KHORGOS_OPERATION_SET_HOLIDAYS);
    assert_int_equal(holidays->body->size, sizeof(struct khorgos_holiday));
    decoded("{\"op\":\"set_holidays\",\"events\":[{\"id\":\"5\",\"currency\":\"KZT\","
            "\"date\":20261216},{\"id\":\"6\",\"currency\":\"CNY\",\"date\":20261001,"
            "\"flags\":[\"remove\"]}]}");
    assert_int_equal(test_request.event_count, 2);
    struct khorgos_holiday holiday[2];
    memcpy(holiday, test_body, sizeof(holiday));
    struct khorgos_holiday expected = {.id = 5, .currency = 398, .date = 20261216};
    assert_memory_equal(&holiday[0], &expected, sizeof(expected));
    expected = (struct khorgos_holiday){.id = 6, .currency = 156, .date = 20261001,
                                        .flags = KHORGOS_HOLIDAY_REMOVE};
    assert_memory_equal(&holiday[1], &expected, sizeof(expected));
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, test_text, sizeof(test_text) - 1);
    cli_codec_record_encode(&writer, holidays->body, &holiday[1]);
    test_text[writer.length] = '\0';
    assert_string_equal(test_text, "{\"id\":\"6\",\"currency\":\"CNY\",\"date\":20261001,"
                                   "\"flags\":[\"remove\"]}");
    refused("{\"op\":\"set_holidays\",\"events\":[{\"date\":\"2026-12-16\"}]}",
            CLI_CODEC_ERROR_wrong_type, "\"date\"");
    refused("{\"op\":\"set_holidays\",\"events\":[{\"flags\":[\"add\"]}]}",
            CLI_CODEC_ERROR_unknown_flag, "\"flags\"");
    refused("{\"op\":\"set_holidays\",\"events\":[{\"currency\":\"ZZZ\"}]}",
            CLI_CODEC_ERROR_unknown_currency, "\"currency\"");
    /* Its reply is the settlement result. */
    struct khorgos_settle_result result = {.timestamp = 9, .status = KHORGOS_SETTLE_ok};
    cli_json_writer_init(&writer, test_text, sizeof(test_text) - 1);
    assert_true(cli_codec_reply_encode(&writer, holidays, &result, sizeof(result)));
    test_text[writer.length] = '\0';
    assert_string_equal(test_text, "{\"op\":\"set_holidays\",\"results\":[{\"status\":\"ok\","
                                   "\"timestamp\":\"9\",\"flags\":[],\"payments_settled\":0}]}\n");
}

static void test_replies(void **state) {
    (void)state;
    struct khorgos_payment payment = {
        .id = 20, .amount = 10000000, .debtor = "HSBKKZKXXXX", .creditor = "BKCHCNBJXXX",
        .end_to_end_id = "INV-7", .priority = KHORGOS_PRIORITY_NORMAL,
        .state = KHORGOS_PAYMENT_SETTLED, .currency = 398, .currency_target = 156,
        .rate_mantissa = 152, .rate_exponent = -4, .amount_target = 152000,
        .route = KHORGOS_ROUTE_DIRECT};
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, test_text, sizeof(test_text) - 1);
    assert_true(cli_codec_reply_encode(&writer, operation("lookup_payments"), &payment,
                                       sizeof(payment)));
    test_text[writer.length] = '\0';
    assert_non_null(strstr(test_text, "\"amount\":\"100000.00\""));
    assert_non_null(strstr(test_text, "\"currency\":\"KZT\""));
    assert_non_null(strstr(test_text, "\"currency_target\":\"CNY\""));
    assert_non_null(strstr(test_text, "\"rate\":\"0.0152\""));
    assert_non_null(strstr(test_text, "\"amount_target\":\"1520.00\""));
    assert_null(strstr(test_text, "rate_mantissa"));
    /* A same-currency payment: no currency_target, no rate, no amount_target. */
    payment.currency_target = 0;
    payment.rate_mantissa = 0;
    payment.rate_exponent = 0;
    payment.amount_target = 0;
    cli_json_writer_init(&writer, test_text, sizeof(test_text) - 1);
    cli_codec_record_encode(&writer, operation("lookup_payments")->reply, &payment);
    test_text[writer.length] = '\0';
    assert_null(strstr(test_text, "currency_target"));
    assert_null(strstr(test_text, "\"rate\""));
    assert_null(strstr(test_text, "amount_target"));
    struct khorgos_position position = {.bic = "HSBKKZKXXXX", .currency = 860,
                                        .balance = 123456, .net_debit_cap = KHORGOS_AMOUNT_MAX,
                                        .credit_line = 5};
    cli_json_writer_init(&writer, test_text, sizeof(test_text) - 1);
    cli_codec_record_encode(&writer, operation("get_positions")->reply, &position);
    test_text[writer.length] = '\0';
    assert_non_null(strstr(test_text, "\"currency\":\"UZS\",\"opening_balance\":\"0.00\","
                                      "\"balance\":\"1234.56\""));
    assert_non_null(strstr(test_text, "\"credit_line\":\"0.05\""));
    assert_non_null(strstr(test_text, "\"net_debit_cap\":\"none\""));
    struct khorgos_window_position net = {.bic = "HSBKKZKXXXX", .currency = 392, .sent = 7,
                                          .net_debit = 7};
    cli_json_writer_init(&writer, test_text, sizeof(test_text) - 1);
    cli_codec_record_encode(&writer, operation("get_window_positions")->reply, &net);
    test_text[writer.length] = '\0';
    assert_non_null(strstr(test_text, "\"currency\":\"JPY\""));
    assert_non_null(strstr(test_text, "\"sent\":\"7\",\"received\":\"0\",\"net_debit\":\"7\""));
    struct khorgos_fx_quote quote = {.id = 1, .amount_max = 100000000, .amount_used = 6579,
                                     .currency_source = 398, .currency_target = 156,
                                     .rate_mantissa = 716532, .rate_exponent = -4};
    cli_json_writer_init(&writer, test_text, sizeof(test_text) - 1);
    cli_codec_record_encode(&writer, operation("lookup_fx_quotes")->reply, &quote);
    test_text[writer.length] = '\0';
    assert_non_null(strstr(test_text, "\"amount_max\":\"1000000.00\",\"amount_used\":\"65.79\""));
    assert_non_null(strstr(test_text, "\"rate\":\"71.6532\""));
    /* A record from outside the table (currency 1): minor units, its number. */
    position.currency = 1;
    cli_json_writer_init(&writer, test_text, sizeof(test_text) - 1);
    cli_codec_record_encode(&writer, operation("get_positions")->reply, &position);
    test_text[writer.length] = '\0';
    assert_non_null(strstr(test_text, "\"currency\":1,\"opening_balance\":\"0\","
                                      "\"balance\":\"123456\""));
}

/* Every settlement reply of records at their largest fits the codec's bound, and a payment
 * written with every field decodes back to the same bytes. */
static void test_reply_bounds_and_round_trip(void **state) {
    (void)state;
    static _Alignas(16) u8 record[512];
    for (u32 index = 0; index < cli_operation_count(); index++) {
        const struct cli_operation *op = cli_operation_at(index);
        if (op->reply == NULL) continue;
        for (u32 fill = 0; fill < 2; fill++) {
            memset(record, fill == 0 ? 0xFF : 0x01, sizeof(record));
            for (u32 field = 0; field < op->reply->field_count; field++) {
                const struct cli_field *f = &op->reply->fields[field];
                if (f->kind == CLI_FIELD_RATE) record[f->scale_offset] = 0x80; /* -128 */
                if (f->kind == CLI_FIELD_CURRENCY) memset(record + f->offset, 0xFF, f->size * f->count);
                if (f->kind == CLI_FIELD_TEXT) memset(record + f->offset, '"', f->size);
            }
            struct cli_json_writer writer;
            cli_json_writer_init(&writer, test_text, sizeof(test_text));
            assert_true(cli_codec_reply_encode(&writer, op, record, op->reply->size));
            assert_true(writer.length <= cli_codec_reply_bytes_max(op, 1));
        }
    }
    struct khorgos_payment payment = {
        .id = U128_MAX, .amount = U128_MAX, .uetr = 3, .debtor = "HSBKKZKXXXX",
        .creditor = "BKCHCNBJXXX", .end_to_end_id = "E2E", .purpose = "SUPP", .type = 1,
        .priority = KHORGOS_PRIORITY_URGENT, .state = KHORGOS_PAYMENT_QUEUED, .currency = 48,
        .value_date = 20230519, .settle_by = 9, .submitted_at = 10, .finished_at = 11,
        .transfer_id_debit = 12, .transfer_id_credit = 13, .transfer_id_credit_draw = 14,
        .reason = KHORGOS_SETTLE_insufficient_funds, .sequence = 15, .currency_target = 392,
        .amount_kind = 1, .settlement = 1, .route = 2, .rate_exponent = -18,
        .rate_mantissa = CLI_RATE_MANTISSA_MAX, .amount_target = U128_MAX, .window = 16,
        .provider = 17, .provider_vehicle = 18};
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, test_text, sizeof(test_text) - 1);
    assert_true(cli_codec_reply_encode(&writer, operation("lookup_payments"), &payment,
                                       sizeof(payment)));
    test_text[writer.length] = '\0';
    /* {"op":"lookup_payments","payments":[RECORD]}\n -> {"op":"submit_payments","events":[..]} */
    char line[4096];
    const char *records = strchr(test_text, '[');
    snprintf(line, sizeof(line), "{\"op\":\"submit_payments\",\"events\":%.*s}",
             (int)(strrchr(test_text, ']') - records + 1), records);
    decoded(line);
    assert_memory_equal(test_body, &payment, sizeof(payment));
}

/* Every amount and rate field of the tables is scaled by a currency or exponent inside its
 * record, of the size the codec reads there. */
static void test_tables_scale_fields(void **state) {
    (void)state;
    u32 amounts = 0, rates = 0, currencies = 0;
    for (u32 index = 0; index < cli_operation_count(); index++) {
        const struct cli_operation *op = cli_operation_at(index);
        const struct cli_record *records[2] = {op->body, op->reply};
        for (u32 which = 0; which < 2; which++) {
            const struct cli_record *record = records[which];
            if (record == NULL) continue;
            u32 record_amounts = 0;
            for (u32 field_index = 0; field_index < record->field_count; field_index++) {
                const struct cli_field *field = &record->fields[field_index];
                if (field->kind == CLI_FIELD_AMOUNT) {
                    assert_int_equal(field->size, 16);
                    assert_true(field->scale_offset + 4u <= record->size);
                    assert_true(field->scale_fallback_offset == CLI_OFFSET_NONE ||
                                field->scale_fallback_offset + 4u <= record->size);
                    const struct cli_field *scale = NULL;
                    for (u32 other = 0; other < record->field_count; other++) {
                        if (record->fields[other].offset == field->scale_offset) {
                            scale = &record->fields[other];
                        }
                    }
                    assert_non_null(scale);
                    assert_int_equal(scale->kind, CLI_FIELD_CURRENCY);
                    record_amounts++;
                    amounts++;
                }
                if (field->kind == CLI_FIELD_RATE) {
                    assert_int_equal(field->size, 8);
                    assert_true(field->scale_offset < record->size);
                    rates++;
                }
                if (field->kind == CLI_FIELD_CURRENCY) {
                    assert_int_equal(field->size, 4);
                    currencies++;
                }
            }
            assert_true(record_amounts <= CLI_RECORD_AMOUNTS_MAX);
        }
    }
    assert_true(amounts > 20 && rates >= 3 && currencies > 20);
    /* The ledger's amounts stay integers in minor units. */
    decoded("{\"op\":\"create_transfers\",\"events\":[{\"id\":1,\"amount\":\"125050\","
            "\"ledger\":398}]}");
    struct khorgos_transfer transfer;
    memcpy(&transfer, test_body, sizeof(transfer));
    assert_true(transfer.amount == 125050);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amount_every_minor_unit),
        cmocka_unit_test(test_amount_boundaries),
        cmocka_unit_test(test_amount_scale_from_the_whole_object),
        cmocka_unit_test(test_amount_errors),
        cmocka_unit_test(test_currency_letters),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_priority_default_and_holidays),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_reply_bounds_and_round_trip),
        cmocka_unit_test(test_tables_scale_fields),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
