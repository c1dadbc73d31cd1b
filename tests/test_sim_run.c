/* test_sim_run.c: a day run through the real engine (sim_run.c).
 *   - a hand-checked day: three banks in one currency whose payments form a cycle A -> B ->
 *     C -> A; with a = 0 (no liquidity: LB is zero) fifo settles nothing and everything is
 *     rejected at the cut-off, while rtgs_lsm's gridlock resolution settles the whole cycle at
 *     its first run; with a = 1 (A holds UB) every design settles each payment on arrival;
 *     netting in 600-second windows settles the cycle at the first window's close with no
 *     liquidity;
 *   - the same cycle as interbank payments after the customer cut-off: rtgs_lsm's resolution
 *     in the last second before the interbank cut-off settles it;
 *   - a customer payment whose payer is lent the money back after the customer cut-off: the
 *     lower bound holds it, so rtgs_lsm at a = 0 settles both;
 *   - netting carries a payment unwound from a short window into the next one, and on
 *     through every window, however many times that is (more carries than the day has
 *     payments);
 *   - two banks paying each other with A holding its lower bound: fifo gridlocks, offsetting
 *     on entry and one netting window each settle both with exactly the lower bound;
 *   - the default day (scale 0.05) under every design at a = 0 and a = 1, run twice: byte-
 *     identical metrics.json and payments.csv; under rtgs_lsm at a = 0 conversions settled in
 *     a set count in the value settled by offsetting;
 *   - design names round-trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/sim.h"

static struct sim_scenario scenario;

/* ----------------------------------------------------------------------------------------- */
/* The hand-checked cycle.                                                                    */

enum { CYCLE_AMOUNT = 10000, CYCLE_CLOSE = 3600, CYCLE_CUTOFF = 3000, OPEN = 30600 };
static const u32 cycle_submitted[3] = {10, 20, 30};

static void cycle_bank(u32 index, const char *bic, u8 role, const char *name) {
    struct sim_bank *bank = &scenario.banks[index];
    memset(bank, 0, sizeof(*bank));
    memcpy(bank->bic, bic, 11);
    bank->role = role;
    bank->weight_micro = 1000000;
    snprintf(bank->name, sizeof(bank->name), "%s", name);
}

static void cycle_scenario(void) {
    memset(&scenario, 0, sizeof(scenario));
    snprintf(scenario.name, sizeof(scenario.name), "cycle");
    scenario.currency_count = 1;
    scenario.currencies[0] = (struct sim_currency){"KZT", 398, 2, 452510000};
    scenario.country_count = 1;
    scenario.countries[0] = (struct sim_country){"KZ", "KA", 0, "Kazakhstan"};
    scenario.bank_count = 4;
    cycle_bank(0, "CENBKZKAXXX", SIM_ROLE_SETTLEMENT_AGENT, "central bank");
    cycle_bank(1, "BKAAKZKAXXX", SIM_ROLE_BANK, "bank A");
    cycle_bank(2, "BKABKZKAXXX", SIM_ROLE_BANK, "bank B");
    cycle_bank(3, "BKACKZKAXXX", SIM_ROLE_BANK, "bank C");
    scenario.business_days_per_year = 250;
    scenario.fx_spread_basis_points = 10;
    scenario.day_open_seconds = OPEN;
    scenario.customer_cutoff_seconds = OPEN + CYCLE_CUTOFF;
    scenario.interbank_cutoff_seconds = OPEN + CYCLE_CUTOFF + 300;
    scenario.day_close_seconds = OPEN + CYCLE_CLOSE;
}

/* A (1) -> B (2) at 10 s, B -> C (3) at 20 s, C -> A at 30 s, 100.00 KZT each. */
static void cycle_day(struct sim_day *day) {
    assert_int_equal(sim_day_init(day, 3), KHORGOS_ERROR_ok);
    for (u32 index = 0; index < 3; index++) {
        struct sim_payment *payment = &day->payments[index];
        memset(payment, 0, sizeof(*payment));
        payment->amount = CYCLE_AMOUNT;
        payment->id = index + 1;
        payment->submitted_at = cycle_submitted[index];
        payment->debtor = (u16)(1 + index);
        payment->creditor = (u16)(1 + (index + 1) % 3);
        payment->pair = SIM_PAIR_NONE;
        payment->priority = SIM_PRIORITY_NORMAL;
    }
    day->count = 3;
    day->close_seconds = CYCLE_CLOSE;
    day->customer_cutoff_seconds = CYCLE_CUTOFF;
    day->interbank_cutoff_seconds = CYCLE_CUTOFF + 300;
}

/* The cycle as interbank payments after the customer cut-off (3,210 to 3,230 s), with the
 * interbank cut-off at 3,250 s, between two regular resolution runs (3,000 and 3,300 s). */
enum { LATE_CUTOFF = 3250 };
static void late_cycle_day(struct sim_day *day) {
    cycle_day(day);
    scenario.interbank_cutoff_seconds = OPEN + LATE_CUTOFF;
    day->interbank_cutoff_seconds = LATE_CUTOFF;
    for (u32 index = 0; index < 3; index++) {
        day->payments[index].submitted_at = 3210 + 10 * index;
        day->payments[index].type = SIM_PAYMENT_INTERBANK;
    }
}

/* A (1) pays B (2) 100.00 at 10 s; B pays A 100.00 at 700 s: under hourly-style netting in
 * 600-second windows, A is short in the first window (LB is zero: it pays what it receives),
 * so its payment is unwound and carried to the second, where the two net to zero. */
static void two_way_day(struct sim_day *day) {
    cycle_day(day);
    day->payments[0].creditor = 2;
    day->payments[1].submitted_at = 700;
    day->payments[1].debtor = 2;
    day->payments[1].creditor = 1;
    day->count = 2;
}

/* A (1) pays B (2) 100.00 at 10 s, a customer payment; B lends it back, 100.00 at 3,100 s, an
 * interbank payment after the customer cut-off (3,000 s) and before the interbank one
 * (3,300 s). Netted over the day A needs nothing, but its payment is due before the loan can
 * come: its lower bound is 100.00. */
static void loan_after_cutoff_day(struct sim_day *day) {
    two_way_day(day);
    day->payments[1].submitted_at = 3100;
    day->payments[1].type = SIM_PAYMENT_INTERBANK;
}

/* A pays B 100.00 at 10 s; B pays A 100.00 at 2,300 s: in 600-second windows A's payment is
 * unwound and carried at 600, 1,200 and 1,800 s (three carries, more than the day's two
 * payments) until B's arrives in the window closing at 2,400 s, where the two net to zero. */
static void late_return_day(struct sim_day *day) {
    two_way_day(day);
    day->payments[1].submitted_at = 2300;
}

/* A pays B 100.00 at 10 s; B pays A 40.00 at 20 s: A's lower bound is 60.00, its upper bound
 * 100.00, B's both zero. */
static void offset_day(struct sim_day *day) {
    two_way_day(day);
    day->payments[1].submitted_at = 20;
    day->payments[1].amount = 4000;
}

static void run_day(void (*build)(struct sim_day *day), u32 design, u32 alpha,
                    u32 netting_interval, struct sim_outcome *outcomes,
                    struct sim_metrics *metrics, struct sim_run *run, bool check_cycle_bounds) {
    static struct sim_runner runner;
    struct sim_day day = {0};
    cycle_scenario();
    build(&day);
    assert_int_equal(sim_runner_init(&runner, &scenario, &day), KHORGOS_ERROR_ok);
    assert_int_equal(sim_metrics_init(metrics, scenario.bank_count, 1), KHORGOS_ERROR_ok);
    struct sim_run_config config = {
        .design = design,
        .alpha_per_mille = alpha,
        .resolution_interval_seconds = SIM_RESOLUTION_INTERVAL_SECONDS_DEFAULT,
        .netting_interval_seconds = netting_interval,
    };
    khorgos_error error = sim_run_design(&runner, &config, outcomes, metrics, run);
    if (error != KHORGOS_ERROR_ok) fprintf(stderr, "sim_run_design: %s\n", runner.message);
    assert_int_equal(error, KHORGOS_ERROR_ok);
    if (check_cycle_bounds) {
        /* The bounds of the cycle, by hand: only A is ever in debit (100.00 from 10 s to
         * 30 s). */
        assert_true(sim_metrics_at(&runner.bounds[0], 1, 0)->upper_bound == CYCLE_AMOUNT);
        assert_true(sim_metrics_at(&runner.bounds[0], 2, 0)->upper_bound == 0);
        assert_true(sim_metrics_at(&runner.bounds[0], 3, 0)->upper_bound == 0);
        for (u32 bank = 1; bank <= 3; bank++) {
            assert_true(sim_metrics_at(&runner.bounds[0], bank, 0)->lower_bound == 0);
        }
    }
    sim_runner_deinit(&runner);
    sim_day_deinit(&day);
}

static void cycle_run(u32 design, u32 alpha, struct sim_outcome outcomes[3],
                      struct sim_metrics *metrics, struct sim_run *run) {
    run_day(cycle_day, design, alpha, SIM_NETTING_INTERVAL_SECONDS_DEFAULT, outcomes, metrics,
            run, true);
}

static void test_cycle_fifo_without_liquidity_settles_nothing(void **state) {
    (void)state;
    struct sim_outcome outcomes[3];
    struct sim_metrics metrics;
    struct sim_run run;
    cycle_run(SIM_DESIGN_RTGS_FIFO, 0, outcomes, &metrics, &run);
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(outcomes[index].status, SIM_STATUS_REJECTED); /* at the cut-off */
        assert_int_equal(outcomes[index].settled_at, SIM_NEVER);
    }
    const struct sim_currency_metrics *kzt = &metrics.currencies[0];
    assert_true(kzt->total.liquidity_used == 0);
    assert_int_equal(kzt->total.settled_count, 0);
    assert_int_equal(kzt->total.queue_max_count, 3);
    assert_true(kzt->total.queue_max_value == 3 * CYCLE_AMOUNT);
    assert_true(kzt->delay_indicator == 1.0); /* never settled counts as settled at the close */
    assert_true(kzt->settlement_ratio_count == 0.0);
    assert_int_equal(run.gridlocks_resolved[0], 0);
    assert_string_equal(run.design, "rtgs_fifo");
    sim_metrics_deinit(&metrics);
}

static void test_cycle_lsm_without_liquidity_resolves_the_gridlock(void **state) {
    (void)state;
    struct sim_outcome outcomes[3];
    struct sim_metrics metrics;
    struct sim_run run;
    cycle_run(SIM_DESIGN_RTGS_LSM, 0, outcomes, &metrics, &run);
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(outcomes[index].status, SIM_STATUS_SETTLED);
        /* The first resolution run, 300 s after the opening, settles the whole cycle. */
        assert_int_equal(outcomes[index].settled_at, SIM_RESOLUTION_INTERVAL_SECONDS_DEFAULT);
        assert_true(outcomes[index].creditor_amount == CYCLE_AMOUNT);
    }
    const struct sim_currency_metrics *kzt = &metrics.currencies[0];
    assert_true(kzt->total.liquidity_used == 0); /* the cycle settles with no money at all */
    assert_int_equal(kzt->total.settled_count, 3);
    assert_true(kzt->settlement_ratio_value == 1.0);
    /* Delay: sum v (300 - s) / sum v (3600 - s) = (290 + 280 + 270) / (3590 + 3580 + 3570). */
    assert_true(kzt->delay_indicator > 840.0 / 10740.0 - 1e-12);
    assert_true(kzt->delay_indicator < 840.0 / 10740.0 + 1e-12);
    assert_int_equal(run.gridlocks_resolved[0], 1);
    sim_metrics_deinit(&metrics);
}

/* rtgs_lsm resolves once more in the last second before the interbank cut-off: the late
 * cycle settles then, where the next regular run would come after the cut-off rejected it. */
static void test_late_cycle_resolves_before_the_interbank_cutoff(void **state) {
    (void)state;
    struct sim_outcome outcomes[3];
    struct sim_metrics metrics;
    struct sim_run run;
    run_day(late_cycle_day, SIM_DESIGN_RTGS_LSM, 0, SIM_NETTING_INTERVAL_SECONDS_DEFAULT,
            outcomes, &metrics, &run, true);
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(outcomes[index].status, SIM_STATUS_SETTLED);
        assert_int_equal(outcomes[index].settled_at, LATE_CUTOFF - 1);
    }
    assert_int_equal(run.gridlocks_resolved[0], 1);
    sim_metrics_deinit(&metrics);
}

/* At a = 0 every bank holds a lower bound that counts the customer cut-off: A pays on arrival
 * and B pays the loan from what it received, where a bound counting the loan towards A's
 * payment left both rejected at their cut-offs. */
static void test_lower_bound_pays_before_the_customer_cutoff(void **state) {
    (void)state;
    struct sim_outcome outcomes[2];
    struct sim_metrics metrics;
    struct sim_run run;
    run_day(loan_after_cutoff_day, SIM_DESIGN_RTGS_LSM, 0, SIM_NETTING_INTERVAL_SECONDS_DEFAULT,
            outcomes, &metrics, &run, false);
    assert_true(sim_metrics_at(&metrics, 1, 0)->lower_bound == CYCLE_AMOUNT);
    assert_true(sim_metrics_at(&metrics, 2, 0)->lower_bound == 0);
    assert_int_equal(outcomes[0].status, SIM_STATUS_SETTLED);
    assert_int_equal(outcomes[0].settled_at, 10);
    assert_int_equal(outcomes[1].status, SIM_STATUS_SETTLED);
    assert_int_equal(outcomes[1].settled_at, 3100);
    assert_true(metrics.currencies[0].settlement_ratio_count == 1.0);
    sim_metrics_deinit(&metrics);
}

static void test_cycle_with_upper_bound_settles_on_arrival(void **state) {
    (void)state;
    static const u32 designs[] = {SIM_DESIGN_RTGS_NO_QUEUE, SIM_DESIGN_RTGS_FIFO,
                                  SIM_DESIGN_RTGS_LSM};
    for (u32 design = 0; design < ARRAY_COUNT(designs); design++) {
        struct sim_outcome outcomes[3];
        struct sim_metrics metrics;
        struct sim_run run;
        cycle_run(designs[design], 1000, outcomes, &metrics, &run);
        for (u32 index = 0; index < 3; index++) {
            assert_int_equal(outcomes[index].status, SIM_STATUS_SETTLED);
            assert_int_equal(outcomes[index].settled_at, cycle_submitted[index]);
        }
        const struct sim_currency_metrics *kzt = &metrics.currencies[0];
        assert_true(kzt->total.liquidity_used == CYCLE_AMOUNT); /* UB: A's 100.00 */
        assert_true(sim_metrics_at(&metrics, 1, 0)->liquidity_used == CYCLE_AMOUNT);
        assert_true(kzt->delay_indicator == 0.0);
        assert_int_equal(run.gridlocks_resolved[0], 0);
        sim_metrics_deinit(&metrics);
    }
}

static void test_cycle_without_queue_rejects_on_arrival(void **state) {
    (void)state;
    struct sim_outcome outcomes[3];
    struct sim_metrics metrics;
    struct sim_run run;
    cycle_run(SIM_DESIGN_RTGS_NO_QUEUE, 0, outcomes, &metrics, &run);
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(outcomes[index].status, SIM_STATUS_REJECTED);
    }
    /* Refused on arrival, never queued: no queue at any instant, though the delay indicator
     * counts them as settled at the close. */
    assert_int_equal(metrics.currencies[0].total.queue_max_count, 0);
    assert_true(metrics.currencies[0].total.queue_max_value == 0);
    assert_true(metrics.currencies[0].total.delay_numerator ==
                metrics.currencies[0].total.delay_denominator); /* delay indicator 1 */
    sim_metrics_deinit(&metrics);
}

static void test_cycle_nets_to_zero_in_a_window(void **state) {
    (void)state;
    struct sim_outcome outcomes[3];
    struct sim_metrics metrics;
    struct sim_run run;
    run_day(cycle_day, SIM_DESIGN_DNS_HOURLY, 0, 600, outcomes, &metrics, &run, true);
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(outcomes[index].status, SIM_STATUS_SETTLED);
        assert_int_equal(outcomes[index].settled_at, 600); /* the first window's close */
    }
    const struct sim_currency_metrics *kzt = &metrics.currencies[0];
    assert_true(kzt->total.liquidity_used == 0);
    /* (590 + 580 + 570) / (3590 + 3580 + 3570) */
    assert_true(kzt->delay_indicator > 1740.0 / 10740.0 - 1e-12);
    assert_true(kzt->delay_indicator < 1740.0 / 10740.0 + 1e-12);
    sim_metrics_deinit(&metrics);
}

static void test_netting_carries_an_unwound_payment(void **state) {
    (void)state;
    struct sim_outcome outcomes[2];
    struct sim_metrics metrics;
    struct sim_run run;
    run_day(two_way_day, SIM_DESIGN_DNS_HOURLY, 0, 600, outcomes, &metrics, &run, false);
    /* Window 1 (0-600 s): A short by 100.00, unwound; window 2 (600-1200 s): A's payment
     * again and B's, netting to zero. */
    assert_int_equal(outcomes[0].status, SIM_STATUS_SETTLED);
    assert_int_equal(outcomes[0].settled_at, 1200);
    assert_int_equal(outcomes[1].status, SIM_STATUS_SETTLED);
    assert_int_equal(outcomes[1].settled_at, 1200);
    assert_true(metrics.currencies[0].total.liquidity_used == 0);
    sim_metrics_deinit(&metrics);
    /* With A's upper bound (100.00), the first window settles as it is. */
    run_day(two_way_day, SIM_DESIGN_DNS_HOURLY, 1000, 600, outcomes, &metrics, &run, false);
    assert_int_equal(outcomes[0].settled_at, 600);
    assert_int_equal(outcomes[1].settled_at, 1200);
    assert_true(metrics.currencies[0].total.liquidity_used == CYCLE_AMOUNT);
    sim_metrics_deinit(&metrics);
}

static void test_netting_carries_a_payment_through_every_window(void **state) {
    (void)state;
    struct sim_outcome outcomes[2];
    struct sim_metrics metrics;
    struct sim_run run;
    run_day(late_return_day, SIM_DESIGN_DNS_HOURLY, 0, 600, outcomes, &metrics, &run, false);
    for (u32 index = 0; index < 2; index++) {
        assert_int_equal(outcomes[index].status, SIM_STATUS_SETTLED);
        assert_int_equal(outcomes[index].settled_at, 2400);
    }
    assert_true(metrics.currencies[0].settlement_ratio_count == 1.0);
    assert_true(metrics.currencies[0].total.liquidity_used == 0);
    sim_metrics_deinit(&metrics);
}

/* At a = 0 (A holds its lower bound, 60.00): fifo gridlocks (A cannot pay 100.00, B has
 * nothing until A pays); offsetting on entry settles both at 20 s with exactly the lower
 * bound; one netting window settles both at its close with exactly the lower bound too. */
static void test_lower_bound_is_enough_to_offset_or_net(void **state) {
    (void)state;
    struct sim_outcome outcomes[2];
    struct sim_metrics metrics;
    struct sim_run run;
    run_day(offset_day, SIM_DESIGN_RTGS_FIFO, 0, 600, outcomes, &metrics, &run, false);
    assert_int_equal(outcomes[0].status, SIM_STATUS_REJECTED);
    assert_int_equal(outcomes[1].status, SIM_STATUS_REJECTED);
    assert_true(metrics.currencies[0].total.liquidity_used == 0);
    sim_metrics_deinit(&metrics);

    run_day(offset_day, SIM_DESIGN_RTGS_LSM, 0, 600, outcomes, &metrics, &run, false);
    assert_int_equal(outcomes[0].settled_at, 20);
    assert_int_equal(outcomes[1].settled_at, 20);
    assert_true(sim_metrics_at(&metrics, 1, 0)->lower_bound == 6000);
    assert_true(sim_metrics_at(&metrics, 1, 0)->upper_bound == CYCLE_AMOUNT);
    assert_true(sim_metrics_at(&metrics, 1, 0)->liquidity_used == 6000);
    assert_true(metrics.currencies[0].total.liquidity_used == 6000);
    assert_int_equal(run.gridlocks_resolved[0], 0); /* offsetting on entry did it */
    sim_metrics_deinit(&metrics);

    run_day(offset_day, SIM_DESIGN_DNS_HOURLY, 0, 600, outcomes, &metrics, &run, false);
    assert_int_equal(outcomes[0].settled_at, 600);
    assert_int_equal(outcomes[1].settled_at, 600);
    assert_true(metrics.currencies[0].total.liquidity_used == 6000);
    sim_metrics_deinit(&metrics);
}

/* ----------------------------------------------------------------------------------------- */
/* The default day, twice.                                                                    */

enum { SMALL_SCALE_PER_MILLE = 50, ALPHA_COUNT = 2, RUN_COUNT = SIM_DESIGN_COUNT * ALPHA_COUNT };
static const u32 alphas[ALPHA_COUNT] = {0, 1000};

static char *read_whole(const char *path, size_t *length) {
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    assert_int_equal(fseek(file, 0, SEEK_END), 0);
    long size = ftell(file);
    assert_true(size > 0);
    rewind(file);
    char *text = malloc((size_t)size);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
    fclose(file);
    *length = (size_t)size;
    return text;
}

/* Runs every design at both a and writes metrics.json and payments.csv into `directory`. */
/* Under rtgs_lsm at a = 0 some conversions settle in a set (a resolution or offsetting on entry
 * across currencies), and offset_value counts them with every other payment settled in one. */
static void assert_conversions_offset(const struct sim_day *day,
                                      const struct sim_outcome *outcomes,
                                      const struct sim_run *run) {
    u128 offset_value[SIM_CURRENCY_COUNT_MAX] = {0};
    u32 conversions_in_set = 0;
    for (u32 index = 0; index < day->count; index++) {
        const struct sim_payment *payment = &day->payments[index];
        if (outcomes[index].status != SIM_STATUS_SETTLED) continue;
        if ((outcomes[index].flags & SIM_OUTCOME_IN_SET) == 0) continue;
        offset_value[payment->currency] += payment->amount;
        conversions_in_set += payment->currency != payment->creditor_currency;
    }
    assert_true(conversions_in_set > 0);
    for (u32 currency = 0; currency < scenario.currency_count; currency++) {
        assert_true(run->offset_value[currency] == offset_value[currency]);
    }
}

static void default_day_report(const char *directory) {
    static struct sim_runner runner;
    static struct sim_outcome *outcomes[RUN_COUNT];
    static struct sim_metrics metrics[RUN_COUNT];
    static struct sim_run runs[RUN_COUNT];
    struct sim_day day = {0};
    sim_scenario_default(&scenario);
    assert_int_equal(sim_day_init(&day, sim_generate_count(&scenario, SMALL_SCALE_PER_MILLE)),
                     KHORGOS_ERROR_ok);
    assert_int_equal(sim_generate(&scenario, 7, SMALL_SCALE_PER_MILLE, &day), KHORGOS_ERROR_ok);
    assert_true(day.count > 100);
    assert_int_equal(sim_runner_init(&runner, &scenario, &day), KHORGOS_ERROR_ok);
    for (u32 index = 0; index < RUN_COUNT; index++) {
        outcomes[index] = calloc(day.count, sizeof(struct sim_outcome));
        assert_non_null(outcomes[index]);
        assert_int_equal(sim_metrics_init(&metrics[index], scenario.bank_count,
                                          scenario.currency_count), KHORGOS_ERROR_ok);
        struct sim_run_config config = {
            .design = index / ALPHA_COUNT,
            .alpha_per_mille = alphas[index % ALPHA_COUNT],
            .resolution_interval_seconds = SIM_RESOLUTION_INTERVAL_SECONDS_DEFAULT,
            .netting_interval_seconds = SIM_NETTING_INTERVAL_SECONDS_DEFAULT,
        };
        khorgos_error error = sim_run_design(&runner, &config, outcomes[index],
                                             &metrics[index], &runs[index]);
        if (error != KHORGOS_ERROR_ok) fprintf(stderr, "sim_run_design: %s\n", runner.message);
        assert_int_equal(error, KHORGOS_ERROR_ok);
        if (config.design == SIM_DESIGN_RTGS_LSM && config.alpha_per_mille == 0) {
            assert_conversions_offset(&day, outcomes[index], &runs[index]);
        }
        /* Every run of a routing reports the routing's bounds, whatever settled. */
        const struct sim_metrics *bounds =
            &runner.bounds[config.design == SIM_DESIGN_USD_VEHICLE ? 1 : 0];
        for (u32 currency = 0; currency < scenario.currency_count; currency++) {
            assert_true(metrics[index].currencies[currency].total.upper_bound ==
                        bounds->currencies[currency].total.upper_bound);
            assert_true(metrics[index].currencies[currency].total.lower_bound ==
                        bounds->currencies[currency].total.lower_bound);
        }
        if (config.alpha_per_mille == 1000 && config.design != SIM_DESIGN_DNS_HOURLY) {
            /* At the upper bound a gross design settles everything, nothing waiting. */
            for (u32 payment = 0; payment < day.count; payment++) {
                assert_int_equal(outcomes[index][payment].status, SIM_STATUS_SETTLED);
                assert_int_equal(outcomes[index][payment].settled_at,
                                 day.payments[payment].submitted_at);
            }
        }
    }
    struct sim_report report = {&scenario, &day, runs, RUN_COUNT, 1};
    char path[256];
    snprintf(path, sizeof(path), "%s/metrics.json", directory);
    assert_int_equal(sim_report_write_metrics_json(&report, path), KHORGOS_ERROR_ok);
    snprintf(path, sizeof(path), "%s/payments.csv", directory);
    assert_int_equal(sim_report_write_payments_csv(&report, path), KHORGOS_ERROR_ok);
    for (u32 index = 0; index < RUN_COUNT; index++) {
        free(outcomes[index]);
        sim_metrics_deinit(&metrics[index]);
    }
    sim_runner_deinit(&runner);
    sim_day_deinit(&day);
}

static void compare_files(const char *first_directory, const char *second_directory,
                          const char *name) {
    char first_path[256], second_path[256];
    snprintf(first_path, sizeof(first_path), "%s/%s", first_directory, name);
    snprintf(second_path, sizeof(second_path), "%s/%s", second_directory, name);
    size_t first_length = 0, second_length = 0;
    char *first = read_whole(first_path, &first_length);
    char *second = read_whole(second_path, &second_length);
    assert_int_equal(first_length, second_length);
    assert_memory_equal(first, second, first_length);
    free(first);
    free(second);
    assert_int_equal(unlink(first_path), 0);
    assert_int_equal(unlink(second_path), 0);
}

static void test_same_seed_same_bytes(void **state) {
    (void)state;
    char first[] = "/tmp/khorgos_sim_run_XXXXXX";
    char second[] = "/tmp/khorgos_sim_run_XXXXXX";
    assert_non_null(mkdtemp(first));
    assert_non_null(mkdtemp(second));
    default_day_report(first);
    default_day_report(second);
    compare_files(first, second, "metrics.json");
    compare_files(first, second, "payments.csv");
    assert_int_equal(rmdir(first), 0);
    assert_int_equal(rmdir(second), 0);
}

static void test_design_names(void **state) {
    (void)state;
    for (u32 design = 0; design < SIM_DESIGN_COUNT; design++) {
        const char *name = sim_design_name(design);
        assert_non_null(name);
        assert_int_equal(sim_design_parse(name, strlen(name)), (int)design);
    }
    assert_null(sim_design_name(SIM_DESIGN_COUNT));
    assert_int_equal(sim_design_parse("rtgs", 4), -1);
    assert_int_equal(sim_design_parse("rtgs_lsmx", 9), -1);
    assert_string_equal(sim_design_name(SIM_DESIGN_USD_VEHICLE), "usd_vehicle");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cycle_fifo_without_liquidity_settles_nothing),
        cmocka_unit_test(test_cycle_lsm_without_liquidity_resolves_the_gridlock),
        cmocka_unit_test(test_late_cycle_resolves_before_the_interbank_cutoff),
        cmocka_unit_test(test_lower_bound_pays_before_the_customer_cutoff),
        cmocka_unit_test(test_cycle_with_upper_bound_settles_on_arrival),
        cmocka_unit_test(test_cycle_without_queue_rejects_on_arrival),
        cmocka_unit_test(test_cycle_nets_to_zero_in_a_window),
        cmocka_unit_test(test_netting_carries_an_unwound_payment),
        cmocka_unit_test(test_netting_carries_a_payment_through_every_window),
        cmocka_unit_test(test_lower_bound_is_enough_to_offset_or_net),
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_design_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
