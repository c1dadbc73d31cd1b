/* test_sim_interbank.c: the interbank layer (sim_interbank.c) added to the default day: the
 * trade payments are unchanged; each currency with banks gets interbank payments between its
 * own country's banks (and a provider), of four kinds, worth four times its trade value (to a
 * minor unit per payment); most of the value runs both ways between the same banks; the day
 * stays sorted and numbered; the same seed gives the same bytes; a day without room is
 * refused unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "sim/sim.h"

static struct sim_scenario scenario;

static void day_make(struct sim_day *day, u64 seed, bool interbank) {
    u32 count = sim_generate_count(&scenario, 1000);
    assert_int_equal(sim_day_init(day, count + sim_interbank_count_max(&scenario, count)),
                     KHORGOS_ERROR_ok);
    assert_int_equal(sim_generate(&scenario, seed, 1000, day), KHORGOS_ERROR_ok);
    if (interbank) assert_int_equal(sim_interbank_add(&scenario, seed, day), KHORGOS_ERROR_ok);
}

static void test_layer_adds_interbank_payments_of_each_kind(void **state) {
    (void)state;
    sim_scenario_default(&scenario);
    struct sim_day trade = {0}, day = {0};
    day_make(&trade, 7, false);
    day_make(&day, 7, true);
    assert_true(day.count > trade.count);
    u128 trade_value[SIM_CURRENCY_COUNT_MAX] = {0}, bank_value[SIM_CURRENCY_COUNT_MAX] = {0};
    u32 kinds[SIM_KIND_COUNT] = {0}, trade_seen = 0, added = 0;
    for (u32 index = 0; index < day.count; index++) {
        const struct sim_payment *payment = &day.payments[index];
        assert_int_equal(payment->id, index + 1);
        if (index > 0) assert_true(payment->submitted_at >= day.payments[index - 1].submitted_at);
        assert_true(payment->submitted_at < day.customer_cutoff_seconds);
        kinds[payment->kind]++;
        if (payment->kind == SIM_KIND_TRADE) {
            /* The trade payments, in the same order as without the layer. */
            const struct sim_payment *same = &trade.payments[trade_seen++];
            assert_true(payment->amount == same->amount && payment->debtor == same->debtor &&
                        payment->submitted_at == same->submitted_at);
            trade_value[payment->currency] += payment->amount;
            continue;
        }
        added++;
        assert_int_equal(payment->type, SIM_PAYMENT_INTERBANK);
        assert_int_equal(payment->currency, payment->creditor_currency);
        assert_true(payment->debtor != payment->creditor);
        for (u32 side = 0; side < 2; side++) { /* a home bank or a provider */
            const struct sim_bank *bank =
                &scenario.banks[side == 0 ? payment->debtor : payment->creditor];
            assert_true(bank->role == SIM_ROLE_LIQUIDITY_PROVIDER ||
                        scenario.countries[bank->country].currency == payment->currency);
        }
        bank_value[payment->currency] += payment->amount;
    }
    assert_int_equal(trade_seen, trade.count);
    assert_int_equal(added, day.count - trade.count);
    for (u32 kind = 0; kind < SIM_KIND_COUNT; kind++) assert_true(kinds[kind] > 0);
    for (u32 currency = 0; currency < scenario.currency_count; currency++) {
        if (bank_value[currency] == 0) continue; /* USD: no country banks */
        u128 target = 4 * trade_value[currency];
        u128 gap = bank_value[currency] > target ? bank_value[currency] - target
                                                 : target - bank_value[currency];
        assert_true(gap <= day.count); /* floor rounding: under a minor unit per payment */
    }
    sim_day_deinit(&trade);
    sim_day_deinit(&day);
}

/* Reciprocity: in each currency, the value A paid B and B paid A, summed over pairs as the
 * smaller of the two, is at least half of the interbank value. */
static void test_layer_runs_both_ways(void **state) {
    (void)state;
    sim_scenario_default(&scenario);
    struct sim_day day = {0};
    day_make(&day, 3, true);
    u32 banks = scenario.bank_count;
    u128 *paid = calloc((size_t)banks * banks, sizeof(u128)); /* [debtor x banks + creditor] */
    assert_non_null(paid);
    u32 cny = (u32)sim_scenario_currency_find(&scenario, "CNY");
    u128 total = 0;
    for (u32 index = 0; index < day.count; index++) {
        const struct sim_payment *payment = &day.payments[index];
        if (payment->kind == SIM_KIND_TRADE || payment->currency != cny) continue;
        paid[payment->debtor * banks + payment->creditor] += payment->amount;
        total += payment->amount;
    }
    u128 both = 0;
    for (u32 a = 0; a < banks; a++) {
        for (u32 b = 0; b < banks; b++) both += MIN(paid[a * banks + b], paid[b * banks + a]);
    }
    assert_true(total > 0 && both * 2 >= total);
    free(paid);
    sim_day_deinit(&day);
}

static void test_layer_is_deterministic_and_refuses_a_full_day(void **state) {
    (void)state;
    sim_scenario_default(&scenario);
    struct sim_day one = {0}, two = {0};
    day_make(&one, 11, true);
    day_make(&two, 11, true);
    assert_int_equal(one.count, two.count);
    assert_memory_equal(one.payments, two.payments, one.count * sizeof(struct sim_payment));
    sim_day_deinit(&two);
    u32 count = sim_generate_count(&scenario, 1000);
    assert_int_equal(sim_day_init(&two, count), KHORGOS_ERROR_ok);
    assert_int_equal(sim_generate(&scenario, 11, 1000, &two), KHORGOS_ERROR_ok);
    assert_int_equal(sim_interbank_add(&scenario, 11, &two), KHORGOS_ERROR_capacity_full);
    assert_int_equal(two.count, count);
    sim_day_deinit(&one);
    sim_day_deinit(&two);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layer_adds_interbank_payments_of_each_kind),
        cmocka_unit_test(test_layer_runs_both_ways),
        cmocka_unit_test(test_layer_is_deterministic_and_refuses_a_full_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
