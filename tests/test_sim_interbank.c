/* test_sim_interbank.c: the interbank layer (sim_interbank.c) added to the default day: the
 * trade payments are unchanged; each currency with banks gets interbank payments between its
 * own country's banks (and a provider, its agent, and in KZT and RUB the yuan clearing bank),
 * of four kinds, worth four times its trade value (to a minor unit per payment); urgent only
 * for central-bank operations; loans up to the interbank cut-off; most FX, securities and
 * other flows crossing within minutes; most of the value runs both ways between the same
 * banks; the day stays sorted and numbered; the same seed gives the same bytes; a day without
 * room is refused unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

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
        assert_true(payment->submitted_at < day.close_seconds); /* the interbank cut-off */
        kinds[payment->kind]++;
        if (payment->kind == SIM_KIND_TRADE) {
            assert_true(payment->submitted_at < day.customer_cutoff_seconds);
            /* The trade payments, in the same order as without the layer. */
            const struct sim_payment *same = &trade.payments[trade_seen++];
            assert_true(payment->amount == same->amount && payment->debtor == same->debtor &&
                        payment->submitted_at == same->submitted_at);
            trade_value[payment->currency] += payment->amount;
            continue;
        }
        added++;
        /* No other payment of its participants in its currency in the same second. */
        for (u32 other = 0; other < day.count; other++) {
            const struct sim_payment *same = &day.payments[other];
            if (other == index || same->submitted_at != payment->submitted_at) continue;
            bool shared = same->debtor == payment->debtor || same->debtor == payment->creditor ||
                          same->creditor == payment->debtor ||
                          same->creditor == payment->creditor;
            assert_false(shared && (same->currency == payment->currency ||
                                    same->creditor_currency == payment->currency));
        }
        assert_int_equal(payment->type, SIM_PAYMENT_INTERBANK);
        assert_int_equal(payment->currency, payment->creditor_currency);
        assert_true(payment->debtor != payment->creditor);
        for (u32 side = 0; side < 2; side++) { /* a home bank, provider, agent or clearing bank */
            const struct sim_bank *bank =
                &scenario.banks[side == 0 ? payment->debtor : payment->creditor];
            const char *letters = scenario.currencies[payment->currency].letters;
            bool clearing = strcmp(scenario.countries[bank->country].code, "CN") == 0 &&
                            (strcmp(letters, "KZT") == 0 || strcmp(letters, "RUB") == 0);
            assert_true(bank->role != SIM_ROLE_BANK || clearing ||
                        scenario.countries[bank->country].currency == payment->currency);
            assert_true(bank->role != SIM_ROLE_SETTLEMENT_AGENT ||
                        payment->priority == SIM_PRIORITY_URGENT);
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

/* Priorities, times and the network: urgent payments are exactly the central-bank operations
 * (to or from the currency's agent); a share of money-market repayments is high; money-market
 * loans go on after the customer cut-off, up to the interbank cut-off; China's largest bank
 * (the yuan clearing bank) pays and receives in the KZT and RUB ledgers. */
static void test_layer_priorities_late_loans_and_clearing_banks(void **state) {
    (void)state;
    sim_scenario_default(&scenario);
    struct sim_day day = {0};
    day_make(&day, 5, true);
    u32 urgent = 0, high = 0, late = 0, clearing = 0;
    int kzt = sim_scenario_currency_find(&scenario, "KZT");
    int rub = sim_scenario_currency_find(&scenario, "RUB");
    u16 china_first = (u16)sim_scenario_bank_find(&scenario, "BKAACNBJXXX");
    for (u32 index = 0; index < day.count; index++) {
        const struct sim_payment *payment = &day.payments[index];
        bool agent = scenario.banks[payment->debtor].role == SIM_ROLE_SETTLEMENT_AGENT ||
                     scenario.banks[payment->creditor].role == SIM_ROLE_SETTLEMENT_AGENT;
        assert_true(agent == (payment->priority == SIM_PRIORITY_URGENT));
        urgent += agent;
        if (payment->priority == SIM_PRIORITY_HIGH && payment->kind == SIM_KIND_MONEY_MARKET) {
            high++;
        }
        if (payment->submitted_at >= day.customer_cutoff_seconds) {
            assert_int_equal(payment->kind, SIM_KIND_MONEY_MARKET);
            late++;
        }
        if ((payment->currency == (u8)kzt || payment->currency == (u8)rub) &&
            (payment->debtor == china_first || payment->creditor == china_first)) {
            clearing++;
        }
    }
    assert_true(urgent > 0 && high > 0 && late > 0 && clearing > 0);
    sim_day_deinit(&day);
}

/* Crossing flows: most of the FX, securities and other value has a payment back between the
 * same two participants within fifteen minutes, the flows offsetting can settle together. */
static void test_layer_flows_cross_within_minutes(void **state) {
    (void)state;
    sim_scenario_default(&scenario);
    struct sim_day day = {0};
    day_make(&day, 9, true);
    u128 total = 0, crossed = 0;
    for (u32 index = 0; index < day.count; index++) {
        const struct sim_payment *payment = &day.payments[index];
        if (payment->kind != SIM_KIND_FX && payment->kind != SIM_KIND_SECURITIES &&
            (payment->kind != SIM_KIND_OTHER || payment->priority == SIM_PRIORITY_URGENT)) {
            continue;
        }
        total += payment->amount;
        for (u32 other = 0; other < day.count; other++) {
            const struct sim_payment *back = &day.payments[other];
            u32 gap = back->submitted_at > payment->submitted_at
                          ? back->submitted_at - payment->submitted_at
                          : payment->submitted_at - back->submitted_at;
            if (back->debtor == payment->creditor && back->creditor == payment->debtor &&
                back->kind == payment->kind && gap <= 900) {
                crossed += payment->amount;
                break;
            }
        }
    }
    assert_true(total > 0 && crossed * 10 >= total * 9);
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
    for (u64 seed = 1; seed <= 4; seed++) { /* every seed's day has as many payments */
        day_make(&two, seed, true);
        assert_int_equal(two.count, one.count);
        sim_day_deinit(&two);
    }
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
        cmocka_unit_test(test_layer_priorities_late_loans_and_clearing_banks),
        cmocka_unit_test(test_layer_flows_cross_within_minutes),
        cmocka_unit_test(test_layer_is_deterministic_and_refuses_a_full_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
