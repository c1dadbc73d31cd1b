/* test_sim_generate.c: the default scenario, its file format, and the generated business day:
 * per-pair values against the reference's targets, determinism from the seed, the intraday
 * profile, and the shape of every payment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/sim.h"

#define EXAMPLE_PATH "examples/default-scenario.txt"

static struct sim_scenario scenario_default;
static struct sim_scenario scenario_other;

static int setup(void **state) {
    (void)state;
    sim_scenario_default(&scenario_default);
    return 0;
}

static struct sim_day day_generate(const struct sim_scenario *scenario, u64 seed, u32 scale) {
    struct sim_day day;
    u32 count = sim_generate_count(scenario, scale);
    assert_true(count > 0);
    assert_int_equal(sim_day_init(&day, count), KHORGOS_ERROR_ok);
    assert_int_equal(sim_generate(scenario, seed, scale, &day), KHORGOS_ERROR_ok);
    assert_int_equal(day.count, count);
    return day;
}

/* The value in USD, computed independently of sim_scenario_usd_cents. */
static double usd_of(const struct sim_scenario *scenario, u32 currency, u128 amount) {
    const struct sim_currency *entry = &scenario->currencies[currency];
    double major = (double)amount / pow(10.0, entry->minor_units);
    return major / ((double)entry->units_per_usd_micro / 1e6);
}

static void test_default_scenario_is_valid_and_matches_the_reference(void **state) {
    (void)state;
    struct sim_scenario_errors errors = {0};
    assert_int_equal(sim_scenario_validate(&scenario_default, &errors), KHORGOS_ERROR_ok);
    assert_int_equal(errors.count, 0);
    /* The published counts for the five states; the documented subsets for China and Russia. */
    const char *codes[] = {"CN", "KZ", "KG", "UZ", "TJ", "TM", "RU"};
    const u32 counts[] = {12, 22, 23, 33, 14, 11, 10};
    for (u32 index = 0; index < ARRAY_COUNT(codes); index++) {
        int country = sim_scenario_country_find(&scenario_default, codes[index]);
        assert_true(country >= 0);
        u32 banks = 0;
        for (u32 bank = 0; bank < scenario_default.bank_count; bank++) {
            const struct sim_bank *entry = &scenario_default.banks[bank];
            if (entry->country != (u32)country || entry->role != SIM_ROLE_BANK) continue;
            assert_true(sim_bic_valid(entry->bic, 11));
            assert_memory_equal(entry->bic + 4, codes[index], 2);
            banks++;
        }
        assert_int_equal(banks, counts[index]);
    }
    for (u32 currency = 0; currency < scenario_default.currency_count; currency++) {
        assert_true(sim_scenario_agent_of(&scenario_default, currency) >= 0);
    }
    /* 40 directed pairs; totals of the reference: 61.4 + 28.0 + 42.0 + 10.0 USD bn a year. */
    assert_int_equal(scenario_default.pair_count, 40);
    u64 millions = 0;
    for (u32 pair = 0; pair < scenario_default.pair_count; pair++) {
        millions += scenario_default.pairs[pair].usd_per_year_millions;
    }
    assert_int_equal(millions, 61400 + 28000 + 42000 + 10000);
    int kz = sim_scenario_country_find(&scenario_default, "KZ");
    int cn = sim_scenario_country_find(&scenario_default, "CN");
    assert_int_equal(scenario_default.pairs[0].exporter, cn);
    assert_int_equal(scenario_default.pairs[0].importer, kz);
    assert_int_equal(sim_pair_daily_usd_cents(&scenario_default, 0), 24700ull * 1000000 * 100 / 250);
}

static void check_pairs_within_one_percent(u32 scale) {
    struct sim_day day = day_generate(&scenario_default, 42, scale);
    static double value[SIM_PAIR_COUNT_MAX];
    memset(value, 0, sizeof(value));
    for (u32 index = 0; index < day.count; index++) {
        const struct sim_payment *payment = &day.payments[index];
        assert_true(payment->pair < scenario_default.pair_count);
        value[payment->pair] += usd_of(&scenario_default, payment->currency, payment->amount);
    }
    for (u32 pair = 0; pair < scenario_default.pair_count; pair++) {
        double target = (double)scenario_default.pairs[pair].usd_per_year_millions * 1e6 / 250;
        assert_true(fabs(value[pair] - target) <= 0.01 * target);
        /* The rescale is exact to the cent before conversion, so far better than 1% holds. */
        assert_true(fabs(value[pair] - target) <= 1e-6 * target + 1.0);
    }
    sim_day_deinit(&day);
}

static void test_pair_values_within_one_percent_at_scale_one(void **state) {
    (void)state;
    check_pairs_within_one_percent(1000);
}

static void test_pair_values_within_one_percent_at_other_scales(void **state) {
    (void)state;
    check_pairs_within_one_percent(250);
    check_pairs_within_one_percent(3000);
}

static void test_scale_multiplies_the_count_not_the_value(void **state) {
    (void)state;
    u32 one = sim_generate_count(&scenario_default, 1000);
    u32 three = sim_generate_count(&scenario_default, 3000);
    /* Each pair's count rounds on its own: at most one payment per pair off from 3x. */
    assert_true(three + scenario_default.pair_count >= 3 * one);
    assert_true(three <= 3 * one + scenario_default.pair_count);
    /* The day's value is about USD 565.6 million (141.4 bn / 250), so about 5,656 payments of
     * USD 100,000 on average. */
    assert_true(one > 5600 && one < 5700);
    assert_int_equal(sim_generate_count(&scenario_default, 0), 0);
    assert_int_equal(sim_generate_count(&scenario_default, SIM_SCALE_PER_MILLE_MAX + 1), 0);
}

static void test_same_seed_same_bytes_other_seed_other_day(void **state) {
    (void)state;
    struct sim_day first = day_generate(&scenario_default, 7, 1000);
    struct sim_day second = day_generate(&scenario_default, 7, 1000);
    struct sim_day third = day_generate(&scenario_default, 8, 1000);
    assert_int_equal(first.count, second.count);
    assert_memory_equal(first.payments, second.payments, first.count * sizeof(struct sim_payment));
    assert_int_equal(first.count, third.count); /* counts depend on the targets, not the seed */
    assert_true(memcmp(first.payments, third.payments,
                       first.count * sizeof(struct sim_payment)) != 0);
    sim_day_deinit(&first);
    sim_day_deinit(&second);
    sim_day_deinit(&third);
}

static void test_every_payment_is_well_formed_and_sorted(void **state) {
    (void)state;
    struct sim_day day = day_generate(&scenario_default, 1, 1000);
    const struct sim_scenario *scenario = &scenario_default;
    u32 cutoff = scenario->customer_cutoff_seconds - scenario->day_open_seconds;
    u32 high = 0;
    double total_usd = 0;
    for (u32 index = 0; index < day.count; index++) {
        const struct sim_payment *payment = &day.payments[index];
        const struct sim_pair *pair = &scenario->pairs[payment->pair];
        assert_int_equal(payment->id, index + 1);
        assert_true(payment->submitted_at < cutoff);
        if (index > 0) assert_true(payment->submitted_at >= day.payments[index - 1].submitted_at);
        assert_true(payment->amount > 0);
        /* The importer's bank pays the exporter's bank, which receives its home currency. */
        assert_int_equal(scenario->banks[payment->debtor].country, pair->importer);
        assert_int_equal(scenario->banks[payment->creditor].country, pair->exporter);
        assert_int_equal(scenario->banks[payment->debtor].role, SIM_ROLE_BANK);
        assert_int_equal(scenario->banks[payment->creditor].role, SIM_ROLE_BANK);
        assert_int_equal(payment->creditor_currency, scenario->countries[pair->exporter].currency);
        bool in_mix = false;
        for (u32 mix = 0; mix < pair->mix_count; mix++) {
            in_mix |= pair->mix[mix].currency == payment->currency;
        }
        assert_true(in_mix);
        assert_true(payment->priority == SIM_PRIORITY_HIGH ||
                    payment->priority == SIM_PRIORITY_NORMAL);
        high += payment->priority == SIM_PRIORITY_HIGH;
        assert_int_equal(payment->type, SIM_PAYMENT_CUSTOMER);
        const u8 zero[sizeof(payment->padding)] = {0};
        assert_memory_equal(payment->padding, zero, sizeof(zero));
        total_usd += usd_of(scenario, payment->currency, payment->amount);
    }
    /* 5% high priority, give or take; mean invoice about USD 100,000. */
    assert_true(high > day.count / 40 && high < day.count / 10);
    double mean = total_usd / day.count;
    assert_true(mean > 95000 && mean < 105000);
    sim_day_deinit(&day);
}

static void test_intraday_profile_has_an_opening_bump_and_a_late_peak(void **state) {
    (void)state;
    struct sim_day day = day_generate(&scenario_default, 3, 4000);
    u32 first_half_hour = 0, midday_hour = 0, last_hour = 0;
    for (u32 index = 0; index < day.count; index++) {
        u32 time = day.payments[index].submitted_at; /* since 08:30 */
        if (time < 1800) first_half_hour++;
        if (time >= 12600 && time < 16200) midday_hour++; /* 12:00-13:00 */
        if (time >= 27000 && time < 30600) last_hour++;   /* 16:00-17:00 */
    }
    assert_true(last_hour > 2 * midday_hour);
    assert_true(first_half_hour > midday_hour / 2 + midday_hour / 4);
    sim_day_deinit(&day);
}

static void test_generate_refuses_bad_scale_and_small_day(void **state) {
    (void)state;
    struct sim_day day;
    assert_int_equal(sim_day_init(&day, 10), KHORGOS_ERROR_ok);
    assert_int_equal(sim_generate(&scenario_default, 1, 0, &day), KHORGOS_ERROR_invalid_argument);
    assert_int_equal(sim_generate(&scenario_default, 1, 1000, &day), KHORGOS_ERROR_capacity_full);
    assert_int_equal(day.count, 0);
    sim_day_deinit(&day);
}

static void test_random_is_deterministic_and_in_range(void **state) {
    (void)state;
    struct sim_random first, second;
    sim_random_seed(&first, 0);
    sim_random_seed(&second, 0);
    u64 buckets[10] = {0};
    for (u32 index = 0; index < 100000; index++) {
        u64 value = sim_random_next(&first);
        assert_true(value == sim_random_next(&second));
        buckets[sim_random_below(&first, 10)]++;
        sim_random_below(&second, 10);
        double unit = sim_random_unit(&first);
        sim_random_unit(&second);
        assert_true(unit > 0.0 && unit <= 1.0);
    }
    for (u32 index = 0; index < 10; index++) assert_true(buckets[index] > 9000);
    sim_random_seed(&second, 1);
    assert_true(sim_random_next(&first) != sim_random_next(&second));
}

static void test_bic_and_decimals(void **state) {
    (void)state;
    assert_true(sim_bic_valid("BKCHCNBJXXX", 11));
    assert_true(sim_bic_valid("BKCHCNBJ", 8));
    assert_true(sim_bic_valid("HSBKKZKX", 8));
    assert_false(sim_bic_valid("BKCHCNB", 7));
    assert_false(sim_bic_valid("bkchcnbjxxx", 11));
    assert_false(sim_bic_valid("BKC1CNBJXXX", 11));
    assert_false(sim_bic_valid("BKCHC1BJXXX", 11));
    assert_false(sim_bic_valid("BKCHCNBJXX-", 11));
    u64 value = 0;
    assert_int_equal(sim_decimal_parse("24.7", 4, 3, &value), 0);
    assert_int_equal(value, 24700);
    assert_int_equal(sim_decimal_parse("7.2056", 6, 6, &value), 0);
    assert_int_equal(value, 7205600);
    assert_int_equal(sim_decimal_parse("3", 1, 2, &value), 0);
    assert_int_equal(value, 300);
    assert_int_equal(sim_decimal_parse("1.234", 5, 2, &value), -1);
    assert_int_equal(sim_decimal_parse("-1", 2, 2, &value), -1);
    assert_int_equal(sim_decimal_parse("1.", 2, 2, &value), -1);
    assert_int_equal(sim_decimal_parse(".5", 2, 2, &value), -1);
    assert_int_equal(sim_decimal_parse("", 0, 2, &value), -1);
    assert_int_equal(sim_decimal_parse("99999999999999999999", 20, 0, &value), -1);
    char text[32];
    assert_int_equal(sim_decimal_format(24700, 3, text, sizeof(text)), 4);
    assert_string_equal(text, "24.7");
    sim_decimal_format(3000000, 6, text, sizeof(text));
    assert_string_equal(text, "3");
    sim_decimal_format(0, 3, text, sizeof(text));
    assert_string_equal(text, "0");
    sim_decimal_format(250, 3, text, sizeof(text));
    assert_string_equal(text, "0.25");
}

static char *scenario_text(const struct sim_scenario *scenario, size_t *length) {
    char *text = NULL;
    FILE *file = open_memstream(&text, length);
    assert_non_null(file);
    assert_int_equal(sim_scenario_write(scenario, file), KHORGOS_ERROR_ok);
    assert_int_equal(fclose(file), 0);
    return text;
}

static void test_scenario_file_round_trip(void **state) {
    (void)state;
    size_t length = 0;
    char *text = scenario_text(&scenario_default, &length);
    struct sim_scenario_errors errors;
    assert_int_equal(sim_scenario_parse(text, length, &scenario_other, &errors), KHORGOS_ERROR_ok);
    assert_int_equal(errors.count, 0);
    assert_memory_equal(&scenario_other, &scenario_default, sizeof(scenario_default));
    free(text);
}

/* The committed example file is what the writer writes: it cannot drift from the default. */
static void test_example_file_is_the_default_scenario(void **state) {
    (void)state;
    struct sim_scenario_errors errors;
    khorgos_error error = sim_scenario_read_path(EXAMPLE_PATH, &scenario_other, &errors);
    if (error != KHORGOS_ERROR_ok && errors.count > 0) {
        print_error("%u: %s\n", errors.errors[0].line, errors.errors[0].message);
    }
    assert_int_equal(error, KHORGOS_ERROR_ok);
    assert_memory_equal(&scenario_other, &scenario_default, sizeof(scenario_default));
    assert_int_equal(sim_scenario_read_path("examples/no-such-file.txt", &scenario_other, &errors),
                     KHORGOS_ERROR_io);
    assert_int_equal(errors.count, 1);
    assert_int_equal(errors.errors[0].line, 0);
}

static void test_scenario_reader_reports_bad_lines_by_number(void **state) {
    (void)state;
    size_t length = 0;
    char *text = scenario_text(&scenario_default, &length);
    /* Three bad lines appended after the good file: lines L+1, L+3 and L+4. */
    u32 lines = 0;
    for (size_t index = 0; index < length; index++) lines += text[index] == '\n';
    const char *bad = "pair = CN XX 1 CNY:100\n# a comment\nbank = BKZZCNBJXXX bank 1\n"
                      "amount_sigma = 2\nnonsense\n";
    size_t total = length + strlen(bad);
    char *joined = malloc(total);
    memcpy(joined, text, length);
    memcpy(joined + length, bad, strlen(bad));
    struct sim_scenario_errors errors;
    assert_int_equal(sim_scenario_parse(joined, total, &scenario_other, &errors),
                     KHORGOS_ERROR_invalid_argument);
    assert_int_equal(errors.count, 4);
    assert_int_equal(errors.errors[0].line, lines + 1); /* unknown country XX */
    assert_int_equal(errors.errors[1].line, lines + 3); /* bank without a name */
    assert_int_equal(errors.errors[2].line, lines + 4); /* amount_sigma given twice */
    assert_non_null(strstr(errors.errors[2].message, "twice"));
    assert_int_equal(errors.errors[3].line, lines + 5); /* no '=' */
    free(joined);
    free(text);
}

static void test_scenario_reader_checks_the_whole(void **state) {
    (void)state;
    const char *text = "name = tiny\nbusiness_days_per_year = 250\namount_mean_usd = 100\n"
                       "amount_sigma = 0.5\namount_max_usd = 1000\nhigh_priority_per_mille = 0\n"
                       "fx_spread_basis_points = 0\nfx_quote_max_usd = 1000\nday_open = 09:00\n"
                       "customer_cutoff = 10:00\ninterbank_cutoff = 10:00\nday_close = 10:00\n"
                       "profile_slot_minutes = 30\nprofile = 1 1\nliquidity_a = 0 1\n"
                       "currency = AAA 1 2 1\ncurrency = BBB 2 2 2.5\n"
                       "country = AA AAA AB Country A\ncountry = BB BBB CD Country B\n"
                       "bank = BANKAAABXXX bank 1 A bank\nbank = BANKBBCDXXX bank 1 B bank\n"
                       "bank = CENBAAABXXX settlement_agent 1 A agent\n"
                       "pair = AA BB 0.001 AAA:50 BBB:40\n";
    struct sim_scenario_errors errors;
    /* BBB has no agent, and the mix sums to 90%. */
    assert_int_equal(sim_scenario_parse(text, strlen(text), &scenario_other, &errors),
                     KHORGOS_ERROR_invalid_argument);
    assert_int_equal(errors.count, 2);
    assert_int_equal(errors.errors[0].line, 0);
    assert_non_null(strstr(errors.errors[0].message, "BBB has no settlement agent"));
    assert_non_null(strstr(errors.errors[1].message, "90%"));
    /* Fixed, the tiny scenario generates: one payment a day, exactly its target. */
    char fixed[2048];
    snprintf(fixed, sizeof(fixed), "%sbank = CENBBBCDXXX settlement_agent 1 B agent\n", text);
    char *mix = strstr(fixed, "BBB:40");
    mix[4] = '5'; /* BBB:50 */
    assert_int_equal(sim_scenario_parse(fixed, strlen(fixed), &scenario_other, &errors),
                     KHORGOS_ERROR_ok);
    struct sim_day day = day_generate(&scenario_other, 1, 1000);
    /* USD 1 million a year over 250 days is USD 4,000 a day: 40 payments of USD 100. */
    assert_int_equal(day.count, 40);
    double value = 0;
    for (u32 index = 0; index < day.count; index++) {
        value += usd_of(&scenario_other, day.payments[index].currency, day.payments[index].amount);
        assert_true(day.payments[index].submitted_at < 3600);
    }
    assert_true(fabs(value - 4000.0) < 0.01 * 4000.0);
    sim_day_deinit(&day);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_scenario_is_valid_and_matches_the_reference),
        cmocka_unit_test(test_pair_values_within_one_percent_at_scale_one),
        cmocka_unit_test(test_pair_values_within_one_percent_at_other_scales),
        cmocka_unit_test(test_scale_multiplies_the_count_not_the_value),
        cmocka_unit_test(test_same_seed_same_bytes_other_seed_other_day),
        cmocka_unit_test(test_every_payment_is_well_formed_and_sorted),
        cmocka_unit_test(test_intraday_profile_has_an_opening_bump_and_a_late_peak),
        cmocka_unit_test(test_generate_refuses_bad_scale_and_small_day),
        cmocka_unit_test(test_random_is_deterministic_and_in_range),
        cmocka_unit_test(test_bic_and_decimals),
        cmocka_unit_test(test_scenario_file_round_trip),
        cmocka_unit_test(test_example_file_is_the_default_scenario),
        cmocka_unit_test(test_scenario_reader_reports_bad_lines_by_number),
        cmocka_unit_test(test_scenario_reader_checks_the_whole),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
