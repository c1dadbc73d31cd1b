/* test_base.c: the base layer: exact u128 text, amounts in major units, the id map, checksums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/base.h"

static void test_u128_format_and_parse_round_trip(void **state) {
    (void)state;
    const u128 values[] = {0, 1, 9, 10, (u128)UINT64_MAX, (u128)UINT64_MAX + 1, U128_MAX - 1,
                           U128_MAX};
    for (size_t index = 0; index < ARRAY_COUNT(values); index++) {
        char text[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
        size_t length = base_u128_format(values[index], text);
        assert_int_equal(length, strlen(text));
        u128 parsed = 7;
        assert_int_equal(base_u128_parse(text, length, &parsed), 0);
        assert_true(parsed == values[index]);
    }
    char text[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
    base_u128_format(U128_MAX, text);
    assert_string_equal(text, "340282366920938463463374607431768211455");
    base_u128_format((u128)UINT64_MAX + 1, text);
    assert_string_equal(text, "18446744073709551616");
}

static void test_u128_parse_rejects_overflow_and_junk(void **state) {
    (void)state;
    u128 value = 42;
    const char *overflow = "340282366920938463463374607431768211456"; /* 2^128 */
    assert_int_equal(base_u128_parse(overflow, strlen(overflow), &value), -1);
    assert_int_equal(base_u128_parse("", 0, &value), -1);
    assert_int_equal(base_u128_parse("12a", 3, &value), -1);
    assert_int_equal(base_u128_parse("-1", 2, &value), -1);
    assert_true(value == 42); /* a failed parse leaves the output alone */
    const char *padded = "000000000000000000000000000000000000000000000000012";
    assert_int_equal(base_u128_parse(padded, strlen(padded), &value), 0);
    assert_true(value == 12);
}

static void test_amount_format(void **state) {
    (void)state;
    char text[64];
    assert_int_equal(khorgos_amount_format(123450, 2, text, sizeof(text)), 7);
    assert_string_equal(text, "1234.50");
    khorgos_amount_format(5, 2, text, sizeof(text));
    assert_string_equal(text, "0.05");
    khorgos_amount_format(0, 2, text, sizeof(text));
    assert_string_equal(text, "0.00");
    khorgos_amount_format(7, 0, text, sizeof(text));
    assert_string_equal(text, "7");
    khorgos_amount_format(1234, 3, text, sizeof(text));
    assert_string_equal(text, "1.234");
    khorgos_amount_format(U128_MAX, 2, text, sizeof(text));
    assert_string_equal(text, "3402823669209384634633746074317682114.55");
    assert_int_equal(khorgos_amount_format(123450, 2, text, 7), 0); /* no room for the NUL */
}

static void test_amount_parse(void **state) {
    (void)state;
    u128 amount = 0;
    assert_int_equal(khorgos_amount_parse("1234.5", 6, 2, &amount), 0);
    assert_true(amount == 123450);
    assert_int_equal(khorgos_amount_parse("1234", 4, 2, &amount), 0);
    assert_true(amount == 123400);
    assert_int_equal(khorgos_amount_parse("0.01", 4, 2, &amount), 0);
    assert_true(amount == 1);
    assert_int_equal(khorgos_amount_parse("7", 1, 0, &amount), 0);
    assert_true(amount == 7);
    amount = 99;
    assert_int_equal(khorgos_amount_parse("1.234", 5, 2, &amount), -1); /* too many decimals */
    assert_int_equal(khorgos_amount_parse("1.", 2, 2, &amount), -1);
    assert_int_equal(khorgos_amount_parse(".5", 2, 2, &amount), -1);
    assert_int_equal(khorgos_amount_parse("-1", 2, 2, &amount), -1);
    assert_int_equal(khorgos_amount_parse("1,5", 3, 2, &amount), -1);
    assert_int_equal(khorgos_amount_parse("", 0, 2, &amount), -1);
    assert_int_equal(khorgos_amount_parse("1.5", 3, 0, &amount), -1);
    const char *huge = "3402823669209384634633746074317682114.56"; /* 2^128 minor units */
    assert_int_equal(khorgos_amount_parse(huge, strlen(huge), 2, &amount), -1);
    assert_true(amount == 99);
}

static void test_currency_table(void **state) {
    (void)state;
    const char *letters[] = {"CNY", "KZT", "KGS", "UZS", "TJS", "TMT", "RUB", "USD"};
    const u32 numerics[] = {156, 398, 417, 860, 972, 934, 643, 840};
    for (size_t index = 0; index < ARRAY_COUNT(letters); index++) {
        const struct khorgos_currency *by_letters = khorgos_currency_by_letters(letters[index]);
        assert_non_null(by_letters);
        assert_int_equal(by_letters->numeric, numerics[index]);
        assert_ptr_equal(khorgos_currency_by_numeric(numerics[index]), by_letters);
        assert_int_equal(by_letters->minor_units, 2);
    }
    assert_null(khorgos_currency_by_numeric(1));
    assert_null(khorgos_currency_by_letters("XXX"));
    assert_null(khorgos_currency_by_letters("cny"));
}

/* The id map against a plain array, through inserts and removals in random order. */
static void test_id_map_against_array(void **state) {
    (void)state;
    enum { key_count = 5000 };
    static u128 keys[key_count];
    static bool present[key_count];
    struct base_id_map map;
    assert_int_equal(base_id_map_init(&map, key_count), KHORGOS_ERROR_ok);
    u64 random = 0x1234567;
    for (u32 index = 0; index < key_count; index++) {
        /* Sequential low halves collide in the low bits; the mix must spread them. */
        keys[index] = ((u128)(index % 7) << 64) | (u128)(index + 1);
    }
    for (u32 step = 0; step < 200000; step++) {
        random = random * 6364136223846793005ull + 1442695040888963407ull;
        u32 index = (u32)(random >> 33) % key_count;
        u32 value = 0;
        bool found = base_id_map_get(&map, keys[index], &value);
        assert_int_equal(found, present[index]);
        if (found) assert_int_equal(value, index);
        if (present[index] && (random & 1)) {
            base_id_map_remove(&map, keys[index]);
            present[index] = false;
        } else if (!present[index]) {
            base_id_map_insert(&map, keys[index], index);
            present[index] = true;
        }
    }
    u32 count = 0;
    for (u32 index = 0; index < key_count; index++) {
        u32 value = 0;
        assert_int_equal(base_id_map_get(&map, keys[index], &value), present[index]);
        count += present[index];
    }
    assert_int_equal(map.count, count);
    base_id_map_clear(&map);
    assert_int_equal(map.count, 0);
    u32 value = 0;
    assert_false(base_id_map_get(&map, keys[0], &value));
    base_id_map_deinit(&map);
}

static void test_checksums(void **state) {
    (void)state;
    u8 data[1000];
    for (u32 index = 0; index < sizeof(data); index++) data[index] = (u8)(index * 31);
    u128 whole = base_checksum128(data, sizeof(data));
    struct base_checksum_stream stream;
    base_checksum_stream_init(&stream);
    base_checksum_stream_add(&stream, data, 333);
    base_checksum_stream_add(&stream, data + 333, sizeof(data) - 333);
    assert_true(base_checksum_stream_final(&stream) == whole);
    data[500] ^= 1;
    assert_true(base_checksum128(data, sizeof(data)) != whole);
    /* SHA-256 of "abc", FIPS 180-2 appendix B.1. */
    u8 digest[BASE_SHA256_BYTES];
    base_sha256("abc", 3, digest);
    const u8 expected[4] = {0xba, 0x78, 0x16, 0xbf};
    assert_memory_equal(digest, expected, sizeof(expected));
    assert_int_equal(digest[31], 0xad);
}

/* The process's CPU clock runs while this thread computes and stands still while it sleeps. */
static void test_process_cpu_clock(void **state) {
    (void)state;
    u64 wall_start_ns = base_clock_monotonic_ns();
    u64 cpu_start_ns = base_clock_process_cpu_ns();
    volatile u64 sink = 0;
    while (base_clock_process_cpu_ns() - cpu_start_ns < 10000000ull) {
        for (u32 step = 0; step < 1000; step++) sink += step;
        assert_true(base_clock_monotonic_ns() - wall_start_ns < 60000000000ull);
    }
    u64 cpu_spun_ns = base_clock_process_cpu_ns() - cpu_start_ns;
    /* One thread's CPU time cannot outrun the wall clock, but the two clocks are read apart
     * and a virtual machine's CPU accounting can be ahead by a tick: 5 ms of slack. */
    assert_true(cpu_spun_ns <= base_clock_monotonic_ns() - wall_start_ns + 5000000ull);
    u64 cpu_before_sleep_ns = base_clock_process_cpu_ns();
    base_clock_system.sleep_ns(NULL, 100000000ull);
    assert_true(base_clock_process_cpu_ns() - cpu_before_sleep_ns < 50000000ull);
    assert_true(sink > 0);
}

static void test_errors_have_names_and_sentences(void **state) {
    (void)state;
    for (int error = 0; error < KHORGOS_ERROR_COUNT; error++) {
        assert_non_null(khorgos_strerror((khorgos_error)error));
        assert_true(strlen(khorgos_error_name((khorgos_error)error)) > 0);
    }
    assert_string_equal(khorgos_error_name(KHORGOS_ERROR_capacity_full), "capacity_full");
    assert_string_equal(khorgos_strerror((khorgos_error)9999), "unknown error");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u128_format_and_parse_round_trip),
        cmocka_unit_test(test_u128_parse_rejects_overflow_and_junk),
        cmocka_unit_test(test_amount_format),
        cmocka_unit_test(test_amount_parse),
        cmocka_unit_test(test_currency_table),
        cmocka_unit_test(test_id_map_against_array),
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_errors_have_names_and_sentences),
        cmocka_unit_test(test_process_cpu_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
