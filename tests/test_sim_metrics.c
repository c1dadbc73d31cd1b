/* test_sim_metrics.c: the liquidity and delay measures on small days computed by hand (three
 * banks; a gridlock cycle; a net settlement that needs exactly the lower bound), the delay
 * indicator's edge cases, the intraday series, the starting liquidity rule and a randomised
 * property (everything settled on arrival uses exactly the upper bound). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "sim/sim.h"

enum { A = 0, B = 1, C = 2 };
#define PAYMENT SIM_FLOW_PAYMENT

static struct sim_metrics metrics;
static struct sim_metrics_workspace workspace;

static int setup(void **state) {
    (void)state;
    if (sim_metrics_init(&metrics, 3, 2) != KHORGOS_ERROR_ok) return -1;
    return sim_metrics_workspace_init(&workspace, 4096, 3) == KHORGOS_ERROR_ok ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    sim_metrics_deinit(&metrics);
    sim_metrics_workspace_deinit(&workspace);
    return 0;
}

static struct sim_flow flow(u16 payer, u16 payee, u128 amount, u32 submitted, u32 settled) {
    struct sim_flow result;
    memset(&result, 0, sizeof(result));
    result.payer = payer;
    result.payee = payee;
    result.amount = amount;
    result.submitted_at = submitted;
    result.settled_at = settled;
    result.ended_at = SIM_NEVER; /* a payment never settled waits until the close */
    result.currency = 0;
    result.flags = PAYMENT;
    return result;
}

static const struct sim_participant_metrics *at(u32 participant) {
    return sim_metrics_at(&metrics, participant, 0);
}

#define assert_u128(actual, expected) assert_true((u128)(actual) == (u128)(expected))

/* Three banks, close at 100:
 *   A->B 100 at 10, settled at 10;  B->C 60 at 20, settled 30;
 *   C->A 30 at 40, never settled;   B->A 50 at 50, settled 80. */
static void test_three_banks_by_hand(void **state) {
    (void)state;
    const struct sim_flow flows[] = {flow(A, B, 100, 10, 10), flow(B, C, 60, 20, 30),
                                     flow(C, A, 30, 40, SIM_NEVER), flow(B, A, 50, 50, 80)};
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, flows, 4, 100), KHORGOS_ERROR_ok);
    /* Positions at submission: A 100, 70, 20; B -100, -40, 10; C -60, -30. */
    assert_u128(at(A)->upper_bound, 100);
    assert_u128(at(A)->lower_bound, 20);
    assert_u128(at(B)->upper_bound, 10);
    assert_u128(at(B)->lower_bound, 10);
    assert_u128(at(C)->upper_bound, 0);
    assert_u128(at(C)->lower_bound, 0);
    /* At settlement: A 100 then 50; B -100, -40, 10; C -60. */
    assert_u128(at(A)->liquidity_used, 100);
    assert_u128(at(B)->liquidity_used, 10);
    assert_u128(at(C)->liquidity_used, 0);
    /* Delay: A 0 / 9000; B (60*10 + 50*30) / (60*80 + 50*50); C 1800 / 1800. */
    assert_u128(at(A)->delay_numerator, 0);
    assert_u128(at(A)->delay_denominator, 9000);
    assert_u128(at(B)->delay_numerator, 2100);
    assert_u128(at(B)->delay_denominator, 7300);
    assert_u128(at(C)->delay_numerator, 1800);
    assert_u128(at(C)->delay_denominator, 1800);
    /* Queues: A never waits; B has one at a time (60 the largest); C one of 30. */
    assert_int_equal(at(A)->queue_max_count, 0);
    assert_int_equal(at(B)->queue_max_count, 1);
    assert_u128(at(B)->queue_max_value, 60);
    assert_int_equal(at(C)->queue_max_count, 1);
    assert_u128(at(C)->queue_max_value, 30);
    const struct sim_currency_metrics *system = &metrics.currencies[0];
    assert_u128(system->total.upper_bound, 110);
    assert_u128(system->total.lower_bound, 30);
    assert_u128(system->total.liquidity_used, 110);
    /* System queue: [50, 80) holds C's 30 and B's 50 at once. */
    assert_int_equal(system->total.queue_max_count, 2);
    assert_u128(system->total.queue_max_value, 80);
    assert_true(fabs(system->delay_indicator - 3900.0 / 18100.0) < 1e-12);
    assert_true(fabs(system->settlement_ratio_value - 210.0 / 240.0) < 1e-12);
    assert_true(fabs(system->settlement_ratio_count - 0.75) < 1e-12);
    assert_int_equal(system->total.submitted_count, 4);
    assert_int_equal(system->total.settled_count, 3);
    /* The other currency saw nothing: no delay, nothing failed. */
    assert_true(metrics.currencies[1].delay_indicator == 0.0);
    assert_true(metrics.currencies[1].settlement_ratio_value == 1.0);
    assert_u128(metrics.currencies[1].total.upper_bound, 0);
}

/* A gridlock: A->B at 10, B->C at 20, C->A at 30, 100 each, nobody has liquidity; one
 * resolution at 30 settles the cycle at once. */
static void test_gridlock_cycle_by_hand(void **state) {
    (void)state;
    const struct sim_flow flows[] = {flow(A, B, 100, 10, 30), flow(B, C, 100, 20, 30),
                                     flow(C, A, 100, 30, 30)};
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, flows, 3, 100), KHORGOS_ERROR_ok);
    assert_u128(at(A)->upper_bound, 100); /* had everything settled on arrival, A fronts 100 */
    assert_u128(at(B)->upper_bound, 0);
    assert_u128(at(C)->upper_bound, 0);
    for (u32 bank = A; bank <= C; bank++) {
        assert_u128(at(bank)->lower_bound, 0);
        assert_u128(at(bank)->liquidity_used, 0); /* the cycle settles with no liquidity */
    }
    const struct sim_currency_metrics *system = &metrics.currencies[0];
    /* (100*20 + 100*10 + 0) / (100*90 + 100*80 + 100*70) */
    assert_true(fabs(system->delay_indicator - 3000.0 / 24000.0) < 1e-12);
    assert_int_equal(system->total.queue_max_count, 2);
    assert_u128(system->total.queue_max_value, 200);
    assert_true(system->settlement_ratio_value == 1.0);
}

/* Net settlement at the close: A->B 100 at 10, B->A 70 at 20, A->C 50 at 30, C->B 40 at 40,
 * all settled together at the close. Only A is short (80), and that is all it uses. */
static void test_netting_needs_exactly_the_lower_bound(void **state) {
    (void)state;
    const struct sim_flow flows[] = {flow(A, B, 100, 10, 100), flow(B, A, 70, 20, 100),
                                     flow(A, C, 50, 30, 100), flow(C, B, 40, 40, 100)};
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, flows, 4, 100), KHORGOS_ERROR_ok);
    assert_u128(at(A)->lower_bound, 80);
    assert_u128(at(B)->lower_bound, 0);
    assert_u128(at(C)->lower_bound, 0);
    assert_u128(at(A)->upper_bound, 100);
    const struct sim_currency_metrics *system = &metrics.currencies[0];
    assert_u128(system->total.liquidity_used, system->total.lower_bound);
    assert_u128(system->total.liquidity_used, 80);
    /* Everything waited until the close: delay 1. */
    assert_true(system->delay_indicator == 1.0);
    assert_true(system->settlement_ratio_value == 1.0);
    /* All four were queued at once from 40 to the close. */
    assert_int_equal(system->total.queue_max_count, 4);
    assert_u128(system->total.queue_max_value, 260);
}

static void test_delay_edge_cases(void **state) {
    (void)state;
    /* All settled at submission: 0. */
    const struct sim_flow now[] = {flow(A, B, 5, 0, 0), flow(B, C, 7, 50, 50)};
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, now, 2, 100), KHORGOS_ERROR_ok);
    assert_true(metrics.currencies[0].delay_indicator == 0.0);
    assert_int_equal(metrics.currencies[0].total.queue_max_count, 0);
    /* None settled: each counts as settled at the close, so 1; ratios 0. */
    const struct sim_flow never[] = {flow(A, B, 5, 0, SIM_NEVER), flow(B, C, 7, 50, SIM_NEVER)};
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, never, 2, 100), KHORGOS_ERROR_ok);
    assert_true(metrics.currencies[0].delay_indicator == 1.0);
    assert_true(metrics.currencies[0].settlement_ratio_value == 0.0);
    assert_true(metrics.currencies[0].settlement_ratio_count == 0.0);
    assert_u128(metrics.currencies[0].total.liquidity_used, 0);
    /* Submitted at the close: nothing could wait, so 0 (the denominator is 0). */
    const struct sim_flow late[] = {flow(A, B, 5, 100, 100)};
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, late, 1, 100), KHORGOS_ERROR_ok);
    assert_true(metrics.currencies[0].delay_indicator == 0.0);
    assert_true(sim_delay_indicator(0, 0) == 0.0);
    assert_true(sim_delay_indicator(1, 4) == 0.25);
    /* An empty day. */
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, NULL, 0, 100), KHORGOS_ERROR_ok);
    assert_true(metrics.currencies[0].settlement_ratio_count == 1.0);
}

/* A provider's leg moves liquidity but is not a payment: it counts for bounds only. */
static void test_legs_count_for_liquidity_not_for_delay(void **state) {
    (void)state;
    struct sim_flow flows[] = {flow(A, C, 100, 0, 60), flow(C, B, 40, 0, 60)};
    flows[1].currency = 1;
    flows[1].flags = 0;
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, flows, 2, 100), KHORGOS_ERROR_ok);
    assert_u128(sim_metrics_at(&metrics, C, 1)->upper_bound, 40);
    assert_u128(sim_metrics_at(&metrics, C, 1)->liquidity_used, 40);
    assert_int_equal(metrics.currencies[1].total.submitted_count, 0);
    assert_int_equal(metrics.currencies[1].total.queue_max_count, 0);
    assert_int_equal(metrics.currencies[0].total.submitted_count, 1);
    assert_true(fabs(metrics.currencies[0].delay_indicator - 0.6) < 1e-12);
}

static void test_intraday_series(void **state) {
    (void)state;
    /* Close at 900 s: three five-minute buckets. */
    const struct sim_flow flows[] = {flow(A, B, 100, 0, 400), flow(B, A, 100, 100, 700)};
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, flows, 2, 900), KHORGOS_ERROR_ok);
    const struct sim_currency_metrics *system = &metrics.currencies[0];
    assert_int_equal(system->series_count, 3);
    assert_u128(system->queue_series[0], 200);
    assert_u128(system->queue_series[1], 100);
    assert_u128(system->queue_series[2], 0);
    assert_u128(system->liquidity_series[0], 0);
    assert_u128(system->liquidity_series[1], 100);
    assert_u128(system->liquidity_series[2], 0);
    /* A payment settled at the close (a netting window closing then) shows in the last
     * bucket: each bucket's value is after everything at its last second. */
    const struct sim_flow at_close[] = {flow(A, B, 100, 0, 900)};
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, at_close, 1, 900),
                     KHORGOS_ERROR_ok);
    assert_u128(system->queue_series[1], 100);
    assert_u128(system->queue_series[2], 0);
    assert_u128(system->liquidity_series[1], 0);
    assert_u128(system->liquidity_series[2], 100);
}

/* Five payments in currency 0, one in currency 1: settled after 0, 100, 20 and 10 seconds (the
 * 10-second one in a set), one rejected. Nearest rank: the median of {0, 10, 20, 100} is the
 * 2nd value (10), the 95th percentile the 4th (100). */
static void test_outcome_figures_delay_distribution_and_rejections(void **state) {
    (void)state;
    struct sim_payment payments[6];
    struct sim_outcome outcomes[6];
    memset(payments, 0, sizeof(payments));
    memset(outcomes, 0, sizeof(outcomes));
    const u32 waits[6] = {0, 100, 20, 10, 0, 7};
    for (u32 index = 0; index < 6; index++) {
        payments[index].amount = 1000 * (index + 1);
        payments[index].submitted_at = 50 + index;
        payments[index].currency = index == 5 ? 1 : 0;
        outcomes[index].status = SIM_STATUS_SETTLED;
        outcomes[index].settled_at = 50 + index + waits[index];
    }
    outcomes[3].flags = SIM_OUTCOME_IN_SET;
    outcomes[4].status = SIM_STATUS_REJECTED;
    outcomes[4].settled_at = SIM_NEVER;
    struct sim_day day = {.payments = payments, .count = 6, .count_max = 6,
                          .close_seconds = 900};
    struct sim_run run;
    memset(&run, 0, sizeof(run));
    u32 scratch[6];
    sim_run_outcome_figures(&day, outcomes, 2, scratch, &run);
    assert_int_equal(run.delay_p50_seconds[0], 10);
    assert_int_equal(run.delay_p95_seconds[0], 100);
    assert_int_equal(run.delay_max_seconds[0], 100);
    assert_int_equal(run.rejected_count[0], 1);
    assert_u128(run.rejected_value[0], 5000);
    assert_u128(run.offset_value[0], 4000);
    assert_int_equal(run.delay_p50_seconds[1], 7); /* one payment: every percentile is it */
    assert_int_equal(run.delay_p95_seconds[1], 7);
    assert_int_equal(run.rejected_count[1], 0);
}

static void test_bad_flows_are_refused_and_change_nothing(void **state) {
    (void)state;
    const struct sim_flow good[] = {flow(A, B, 100, 10, 10)};
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, good, 1, 100), KHORGOS_ERROR_ok);
    struct sim_flow bad[] = {
        flow(A, A, 1, 0, 0),         /* to itself */
        flow(A, 3, 1, 0, 0),         /* unknown payee */
        flow(A, B, 0, 0, 0),         /* zero amount */
        flow(A, B, 1, 50, 40),       /* settled before submitted */
        flow(A, B, 1, 0, 101),       /* settled after the close */
        flow(A, B, 1, 101, SIM_NEVER), /* submitted after the close */
        flow(A, B, SIM_AMOUNT_MAX + 1, 0, 0),
        flow(A, B, 1, 0, 0),         /* its cut-off after the close (below) */
    };
    bad[0].payee = A;
    bad[ARRAY_COUNT(bad) - 1].due_at = 101;
    for (u32 index = 0; index < ARRAY_COUNT(bad); index++) {
        assert_int_equal(sim_metrics_compute(&metrics, &workspace, &bad[index], 1, 100),
                         KHORGOS_ERROR_invalid_argument);
        assert_u128(at(A)->upper_bound, 100);
    }
    struct sim_flow wrong_currency = flow(A, B, 1, 0, 0);
    wrong_currency.currency = 2;
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, &wrong_currency, 1, 100),
                     KHORGOS_ERROR_invalid_argument);
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, good, 1, SIM_DAY_SECONDS),
                     KHORGOS_ERROR_invalid_argument);
}

static void test_starting_liquidity_rule(void **state) {
    (void)state;
    assert_u128(sim_liquidity_start(20, 100, 0), 20);
    assert_u128(sim_liquidity_start(20, 100, 250), 40);
    assert_u128(sim_liquidity_start(20, 100, 1000), 100);
    assert_u128(sim_liquidity_start(0, 3, 500), 2); /* 1.5 rounds up */
    assert_u128(sim_liquidity_start(0, 3, 750), 3); /* 2.25 rounds up */
    assert_u128(sim_liquidity_start(5, 5, 750), 5);
    u128 big = (u128)1 << 100;
    assert_u128(sim_liquidity_start(0, big, 500), big / 2);
}

/* Random days where everything settles on arrival: liquidity used is exactly the upper bound,
 * the delay is 0 and the queues stay empty; and the lower bound never exceeds the upper. */
static void test_random_days_settled_on_arrival_use_the_upper_bound(void **state) {
    (void)state;
    struct sim_random random;
    sim_random_seed(&random, 99);
    static struct sim_flow flows[1000];
    for (u32 round = 0; round < 50; round++) {
        u32 count = 1 + (u32)sim_random_below(&random, ARRAY_COUNT(flows));
        for (u32 index = 0; index < count; index++) {
            u16 payer = (u16)sim_random_below(&random, 3);
            u16 payee = (u16)((payer + 1 + sim_random_below(&random, 2)) % 3);
            u32 time = (u32)sim_random_below(&random, 1000);
            flows[index] = flow(payer, payee, 1 + sim_random_below(&random, 1000000), time, time);
            flows[index].currency = (u8)sim_random_below(&random, 2);
        }
        assert_int_equal(sim_metrics_compute(&metrics, &workspace, flows, count, 1000),
                         KHORGOS_ERROR_ok);
        for (u32 bank = 0; bank < 3; bank++) {
            for (u32 currency = 0; currency < 2; currency++) {
                const struct sim_participant_metrics *entry =
                    sim_metrics_at(&metrics, bank, currency);
                assert_u128(entry->liquidity_used, entry->upper_bound);
                assert_true(entry->lower_bound <= entry->upper_bound);
                assert_int_equal(entry->queue_max_count, 0);
            }
        }
        assert_true(metrics.currencies[0].delay_indicator == 0.0);
    }
}

static void test_country_liquidity_in_usd(void **state) {
    (void)state;
    static struct sim_scenario scenario;
    sim_scenario_default(&scenario);
    struct sim_metrics day_metrics;
    struct sim_metrics_workspace day_workspace;
    assert_int_equal(sim_metrics_init(&day_metrics, scenario.bank_count, scenario.currency_count),
                     KHORGOS_ERROR_ok);
    assert_int_equal(sim_metrics_workspace_init(&day_workspace, 4, scenario.bank_count),
                     KHORGOS_ERROR_ok);
    int kz_bank = sim_scenario_bank_find(&scenario, "BKAAKZKAXXX");
    int cn_bank = sim_scenario_bank_find(&scenario, "BKAACNBJXXX");
    int ru_bank = sim_scenario_bank_find(&scenario, "BKAARUMMXXX");
    assert_true(kz_bank >= 0 && cn_bank >= 0 && ru_bank >= 0);
    /* KZ pays CNY 720.56 (USD 100 at 7.2056) and RUB 7,800 (USD 100 at 78). */
    struct sim_flow flows[] = {flow((u16)kz_bank, (u16)cn_bank, 72056, 0, 0),
                               flow((u16)kz_bank, (u16)ru_bank, 780000, 0, 0)};
    flows[1].currency = (u8)sim_scenario_currency_find(&scenario, "RUB");
    assert_int_equal(sim_metrics_compute(&day_metrics, &day_workspace, flows, 2, 1000),
                     KHORGOS_ERROR_ok);
    int kz = sim_scenario_country_find(&scenario, "KZ");
    int cn = sim_scenario_country_find(&scenario, "CN");
    assert_u128(sim_metrics_country_usd_cents(&scenario, &day_metrics, (u32)kz), 20000);
    assert_u128(sim_metrics_country_usd_cents(&scenario, &day_metrics, (u32)cn), 0);
    sim_metrics_deinit(&day_metrics);
    sim_metrics_workspace_deinit(&day_workspace);
}

/* A payment's flows: same currency, direct PvP, vehicle route, unsettled. */
static void test_flows_from_payments(void **state) {
    (void)state;
    enum { DEBTOR = 1, CREDITOR = 2, PROVIDER = 7, VEHICLE_PROVIDER = 8 };
    struct sim_payment payments[4];
    struct sim_outcome outcomes[4];
    memset(payments, 0, sizeof(payments));
    memset(outcomes, 0, sizeof(outcomes));
    for (u32 index = 0; index < 4; index++) {
        payments[index] = (struct sim_payment){.amount = 1000, .id = index + 1,
                                               .submitted_at = 10 * index, .debtor = DEBTOR,
                                               .creditor = CREDITOR, .currency = 0,
                                               .creditor_currency = 1};
        outcomes[index] = (struct sim_outcome){.creditor_amount = 500, .settled_at = 100,
                                               .provider = PROVIDER,
                                               .vehicle_provider = SIM_NONE,
                                               .status = SIM_STATUS_SETTLED};
    }
    payments[0].creditor_currency = 0; /* same currency */
    outcomes[0].provider = SIM_NONE;
    outcomes[2].vehicle_provider = VEHICLE_PROVIDER; /* through currency 2 */
    outcomes[2].vehicle_currency = 2;
    outcomes[2].vehicle_amount = 700;
    outcomes[3].status = SIM_STATUS_REJECTED;
    outcomes[3].settled_at = SIM_NEVER;
    outcomes[3].ended_at = SIM_NEVER; /* still queued at the close */
    struct sim_day day = {.payments = payments, .count = 4, .count_max = 4};
    struct sim_flow flows[4 * SIM_FLOWS_PER_PAYMENT_MAX];
    assert_int_equal(sim_flows_from_day(&day, outcomes, flows), 1 + 2 + 3 + 2);
    assert_true(flows[0].payer == DEBTOR && flows[0].payee == CREDITOR && flows[0].currency == 0);
    assert_true(flows[1].payee == PROVIDER && flows[1].flags == SIM_FLOW_PAYMENT);
    assert_true(flows[2].payer == PROVIDER && flows[2].payee == CREDITOR && flows[2].currency == 1);
    assert_u128(flows[2].amount, 500);
    assert_true(flows[3].payee == PROVIDER && flows[3].submitted_at == 20);
    assert_true(flows[4].payer == PROVIDER && flows[4].payee == VEHICLE_PROVIDER);
    assert_true(flows[4].currency == 2 && flows[4].flags == 0);
    assert_u128(flows[4].amount, 700);
    assert_true(flows[5].payer == VEHICLE_PROVIDER && flows[5].payee == CREDITOR);
    assert_int_equal(flows[6].settled_at, SIM_NEVER);
    assert_int_equal(flows[7].settled_at, SIM_NEVER);
    for (u32 index = 0; index < 6; index++) assert_int_equal(flows[index].settled_at, 100);
    /* Every leg is due at its payment's cut-off: the customer one, or the interbank one. */
    for (u32 index = 0; index < 8; index++) assert_int_equal(flows[index].due_at, 0);
    day.customer_cutoff_seconds = 50;
    day.interbank_cutoff_seconds = 60;
    payments[2].type = SIM_PAYMENT_INTERBANK;
    assert_int_equal(sim_flows_from_day(&day, outcomes, flows), 8);
    for (u32 index = 0; index < 8; index++) {
        assert_int_equal(flows[index].due_at, index >= 3 && index <= 5 ? 60 : 50);
    }
}

/* Close 100, a customer cut-off at 50. A pays B 100 (customer, at 10); B pays A 100 back
 * (interbank, due at the close). Netting alone needs nothing, but when B's payment comes after
 * the cut-off (at 60) A needs the 100 to pay before it; when it comes before (at 40) the two
 * settle together at the cut-off's last second and nobody needs anything. */
static void test_lower_bound_counts_receipts_before_the_cutoff(void **state) {
    (void)state;
    struct sim_flow flows[] = {flow(A, B, 100, 10, 10), flow(B, A, 100, 60, 60)};
    flows[0].due_at = 50;
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, flows, 2, 100), KHORGOS_ERROR_ok);
    assert_u128(at(A)->lower_bound, 100);
    assert_u128(at(B)->lower_bound, 0);
    assert_u128(at(A)->upper_bound, 100);
    flows[1].submitted_at = 40;
    flows[1].settled_at = 49;
    flows[0].settled_at = 49;
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, flows, 2, 100), KHORGOS_ERROR_ok);
    assert_u128(at(A)->lower_bound, 0);
    assert_u128(at(B)->lower_bound, 0);
    /* Every flow submitted before the cut-off settles by it: B's payment at 40 must then be
     * paid by 49 too, so when A pays B 30 more after the cut-off, B needs nothing and A 30. */
    struct sim_flow three[] = {flows[0], flows[1], flow(A, B, 30, 70, 70)};
    assert_int_equal(sim_metrics_compute(&metrics, &workspace, three, 3, 100), KHORGOS_ERROR_ok);
    assert_u128(at(A)->lower_bound, 30);
    assert_u128(at(B)->lower_bound, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_banks_by_hand),
        cmocka_unit_test(test_gridlock_cycle_by_hand),
        cmocka_unit_test(test_netting_needs_exactly_the_lower_bound),
        cmocka_unit_test(test_delay_edge_cases),
        cmocka_unit_test(test_legs_count_for_liquidity_not_for_delay),
        cmocka_unit_test(test_intraday_series),
        cmocka_unit_test(test_outcome_figures_delay_distribution_and_rejections),
        cmocka_unit_test(test_bad_flows_are_refused_and_change_nothing),
        cmocka_unit_test(test_starting_liquidity_rule),
        cmocka_unit_test(test_random_days_settled_on_arrival_use_the_upper_bound),
        cmocka_unit_test(test_country_liquidity_in_usd),
        cmocka_unit_test(test_flows_from_payments),
        cmocka_unit_test(test_lower_bound_counts_receipts_before_the_cutoff),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
