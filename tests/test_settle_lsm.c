/*
 * test_settle_lsm.c: the liquidity-saving algorithms (src/settle/settle_lsm.h).
 *
 * Hand-made cases (the textbook gridlock, unequal amounts, fifo against bypass_fifo, limits,
 * offsetting on entry, bad input) and the exact oracle: thousands of random small instances
 * (at most 12 queued payments) where an exhaustive search over subsets, written here
 * independently of the engine, finds the most value that can settle. The engine's resolution
 * must always be feasible and never exceed it, must equal it under fifo (a theorem, see
 * settle_lsm.h invariant 7); how often it equals it under bypass_fifo is printed.
 * Also: algorithm 2 against a direct implementation of its definition, its idempotency,
 * resolution against the literal order rebuilt from the single algorithms, determinism, and
 * medium instances (3,000 payments) in two input orders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "settle/settle_lsm.h"

#define PARTICIPANTS_MAX 8u
#define PAYMENTS_MAX 16u
#define LIMITS_MAX 16u
#define ORACLE_PAYMENTS_MAX 12u
#define ORACLE_INSTANCE_COUNT 5000u

enum { A = 0, B = 1, C = 2, D = 3 };

struct instance {
    struct settle_lsm_participant participants[PARTICIPANTS_MAX];
    struct settle_lsm_payment payments[PAYMENTS_MAX];
    struct settle_lsm_bilateral_limit limits[LIMITS_MAX];
    struct settle_lsm_problem problem;
};

static struct settle_lsm_workspace workspace;

static int workspace_setup(void **state) {
    (void)state;
    return settle_lsm_workspace_init(&workspace, PARTICIPANTS_MAX, PAYMENTS_MAX, LIMITS_MAX) ==
                   KHORGOS_ERROR_ok
               ? 0
               : -1;
}

static int workspace_teardown(void **state) {
    (void)state;
    settle_lsm_workspace_deinit(&workspace);
    return 0;
}

static void instance_init(struct instance *instance, u32 participant_count, u32 queue_mode) {
    memset(instance, 0, sizeof(*instance));
    instance->problem.participants = instance->participants;
    instance->problem.payments = instance->payments;
    instance->problem.limits = instance->limits;
    instance->problem.participant_count = participant_count;
    instance->problem.queue_mode = queue_mode;
}

static u32 pay(struct instance *instance, u32 payer, u32 payee, u128 amount, u8 priority) {
    u32 index = instance->problem.payment_count++;
    assert_true(index < PAYMENTS_MAX);
    struct settle_lsm_payment *payment = &instance->payments[index];
    payment->payer = payer;
    payment->payee = payee;
    payment->amount = amount;
    payment->priority = priority;
    payment->arrival = 100 + index; /* arrival in the order written */
    return index;
}

static void limit(struct instance *instance, u32 participant, u32 counterparty, u128 cap,
                  i128 position) {
    u32 index = instance->problem.limit_count++;
    assert_true(index < LIMITS_MAX);
    instance->limits[index].participant = participant;
    instance->limits[index].counterparty = counterparty;
    instance->limits[index].limit = cap;
    instance->limits[index].position = position;
}

/* The selection as a bit mask over payment indexes. */
static u32 selected_mask(const struct settle_lsm_result *result) {
    u32 mask = 0;
    for (u32 index = 0; index < result->selected_count; index++) {
        if (index > 0) assert_true(result->selected[index - 1] < result->selected[index]);
        mask |= 1u << result->selected[index];
    }
    return mask;
}

/* ----------------------------------------------------------------------------------------- */
/* The oracle: independent of the engine, straight from the model's definition.               */

/* A u128 as i128, saturating at 2^126 (far above any sum the tests make). */
static i128 oracle_signed(u128 value) {
    return value > ((u128)1 << 126) ? (i128)1 << 126 : (i128)value;
}

static i128 oracle_capacity(const struct settle_lsm_participant *participant) {
    i128 capacity = oracle_signed(participant->liquidity);
    if (participant->has_net_debit_cap) {
        i128 headroom = oracle_signed(participant->net_debit_cap) - participant->net_debit_position;
        if (headroom < 0) headroom = 0;
        if (headroom < capacity) capacity = headroom;
    }
    return capacity;
}

/* Whether payment x (index i) comes before y (index j) in their payer's queue. */
static bool oracle_queue_before_payments(const struct settle_lsm_payment *x, u32 i,
                                         const struct settle_lsm_payment *y, u32 j) {
    if (x->priority != y->priority) return x->priority < y->priority;
    if (x->arrival != y->arrival) return x->arrival < y->arrival;
    return i < j;
}

static bool oracle_queue_before(const struct instance *instance, u32 earlier, u32 later) {
    return oracle_queue_before_payments(&instance->payments[earlier], earlier,
                                        &instance->payments[later], later);
}

struct oracle {
    u32 predecessors[PAYMENTS_MAX]; /* same payer, earlier in its queue */
    i128 capacity[PARTICIPANTS_MAX];
};

static void oracle_prepare(const struct instance *instance, struct oracle *oracle) {
    memset(oracle, 0, sizeof(*oracle));
    const struct settle_lsm_problem *problem = &instance->problem;
    for (u32 later = 0; later < problem->payment_count; later++) {
        for (u32 earlier = 0; earlier < problem->payment_count; earlier++) {
            if (earlier != later &&
                instance->payments[earlier].payer == instance->payments[later].payer &&
                oracle_queue_before(instance, earlier, later)) {
                oracle->predecessors[later] |= 1u << earlier;
            }
        }
    }
    for (u32 index = 0; index < problem->participant_count; index++) {
        oracle->capacity[index] = oracle_capacity(&instance->participants[index]);
    }
}

static bool oracle_feasible(const struct instance *instance, const struct oracle *oracle,
                            u32 mask) {
    const struct settle_lsm_problem *problem = &instance->problem;
    i128 net_sent[PARTICIPANTS_MAX] = {0};
    for (u32 index = 0; index < problem->payment_count; index++) {
        if (!(mask & (1u << index))) continue;
        if (problem->queue_mode == SETTLE_LSM_QUEUE_FIFO &&
            (oracle->predecessors[index] & ~mask) != 0) {
            return false;
        }
        net_sent[instance->payments[index].payer] += (i128)instance->payments[index].amount;
        net_sent[instance->payments[index].payee] -= (i128)instance->payments[index].amount;
    }
    for (u32 index = 0; index < problem->participant_count; index++) {
        if (net_sent[index] > oracle->capacity[index]) return false;
    }
    for (u32 l = 0; l < problem->limit_count; l++) {
        const struct settle_lsm_bilateral_limit *bilateral = &instance->limits[l];
        i128 flow = 0;
        for (u32 index = 0; index < problem->payment_count; index++) {
            if (!(mask & (1u << index))) continue;
            const struct settle_lsm_payment *p = &instance->payments[index];
            if (p->payer == bilateral->participant && p->payee == bilateral->counterparty) {
                flow += (i128)p->amount;
            }
            if (p->payee == bilateral->participant && p->payer == bilateral->counterparty) {
                flow -= (i128)p->amount;
            }
        }
        i128 headroom = oracle_signed(bilateral->limit) - bilateral->position;
        if (flow > (headroom < 0 ? 0 : headroom)) return false;
    }
    return true;
}

static u128 mask_value(const struct instance *instance, u32 mask) {
    u128 value = 0;
    for (u32 index = 0; index < instance->problem.payment_count; index++) {
        if (mask & (1u << index)) value += instance->payments[index].amount;
    }
    return value;
}

static u128 oracle_best_value(const struct instance *instance) {
    struct oracle oracle;
    oracle_prepare(instance, &oracle);
    u32 mask_count = 1u << instance->problem.payment_count;
    u128 best = 0;
    for (u32 mask = 1; mask < mask_count; mask++) {
        u128 value = mask_value(instance, mask);
        if (value > best && oracle_feasible(instance, &oracle, mask)) best = value;
    }
    return best;
}

/* Checks a result against the model: feasible, positions and value consistent. */
static void check_result(const struct instance *instance, const struct settle_lsm_result *result) {
    struct oracle oracle;
    oracle_prepare(instance, &oracle);
    u32 mask = selected_mask(result);
    assert_true(oracle_feasible(instance, &oracle, mask));
    assert_true(mask_value(instance, mask) == result->selected_value);
    i128 net_sent[PARTICIPANTS_MAX] = {0};
    for (u32 index = 0; index < instance->problem.payment_count; index++) {
        if (!(mask & (1u << index))) continue;
        net_sent[instance->payments[index].payer] += (i128)instance->payments[index].amount;
        net_sent[instance->payments[index].payee] -= (i128)instance->payments[index].amount;
    }
    for (u32 index = 0; index < instance->problem.participant_count; index++) {
        assert_true(net_sent[index] == result->net_sent[index]);
    }
}

static struct settle_lsm_result resolve_checked(const struct instance *instance) {
    struct settle_lsm_result result;
    assert_int_equal(settle_lsm_resolve(&workspace, &instance->problem, &result),
                     KHORGOS_ERROR_ok);
    check_result(instance, &result);
    return result;
}

/* ----------------------------------------------------------------------------------------- */
/* Hand-made cases.                                                                           */

static void test_textbook_gridlock_settles_in_one_resolution(void **state) {
    (void)state;
    for (u32 mode = SETTLE_LSM_QUEUE_FIFO; mode <= SETTLE_LSM_QUEUE_BYPASS_FIFO; mode++) {
        struct instance instance;
        instance_init(&instance, 3, mode); /* no liquidity at all */
        pay(&instance, A, B, 1000, SETTLE_LSM_PRIORITY_NORMAL);
        pay(&instance, B, C, 1000, SETTLE_LSM_PRIORITY_NORMAL);
        pay(&instance, C, A, 1000, SETTLE_LSM_PRIORITY_NORMAL);
        struct settle_lsm_result result = resolve_checked(&instance);
        assert_int_equal(result.selected_count, 3);
        assert_true(result.selected_value == 3000);
        assert_int_equal(result.round_count, 1);
        assert_int_equal(result.step_count, 1);
        assert_int_equal(result.steps[0].algorithm, SETTLE_LSM_ALGORITHM_ALL_OR_NOTHING);
        for (u32 index = 0; index < 3; index++) assert_true(result.net_sent[index] == 0);
        /* Gross settlement alone moves nothing: nobody can pay first. */
        assert_int_equal(settle_lsm_bilateral(&workspace, &instance.problem, &result),
                         KHORGOS_ERROR_ok);
        assert_int_equal(result.selected_count, 0);
    }
}

static void test_unequal_cycle_needs_exactly_the_net_position(void **state) {
    (void)state;
    struct instance instance;
    instance_init(&instance, 3, SETTLE_LSM_QUEUE_BYPASS_FIFO);
    pay(&instance, A, B, 100, SETTLE_LSM_PRIORITY_NORMAL);
    pay(&instance, B, C, 60, SETTLE_LSM_PRIORITY_NORMAL);
    pay(&instance, C, A, 30, SETTLE_LSM_PRIORITY_NORMAL);
    instance.participants[A].liquidity = 70; /* A's net position: 100 - 30 */
    struct settle_lsm_result result = resolve_checked(&instance);
    assert_int_equal(result.selected_count, 3);
    assert_true(result.net_sent[A] == 70 && result.net_sent[B] == -40 && result.net_sent[C] == -30);
    instance.participants[A].liquidity = 69; /* one short: nothing is coverable at all */
    result = resolve_checked(&instance);
    assert_int_equal(result.selected_count, 0);
    assert_true(oracle_best_value(&instance) == 0);
}

static void test_unequal_amounts_settle_exactly_the_coverable_subset(void **state) {
    (void)state;
    for (u32 mode = SETTLE_LSM_QUEUE_FIFO; mode <= SETTLE_LSM_QUEUE_BYPASS_FIFO; mode++) {
        struct instance instance;
        instance_init(&instance, 4, mode);
        pay(&instance, A, B, 100, SETTLE_LSM_PRIORITY_NORMAL);
        pay(&instance, B, C, 100, SETTLE_LSM_PRIORITY_NORMAL);
        pay(&instance, C, A, 100, SETTLE_LSM_PRIORITY_NORMAL);
        u32 uncovered = pay(&instance, D, A, 70, SETTLE_LSM_PRIORITY_NORMAL);
        u32 tail = pay(&instance, A, C, 50, SETTLE_LSM_PRIORITY_NORMAL);
        instance.participants[D].liquidity = 30;
        /* D cannot cover 70; A cannot cover its extra 50 without D's 70: only the cycle. */
        struct settle_lsm_result result = resolve_checked(&instance);
        assert_int_equal(selected_mask(&result), 0x7u);
        assert_true(result.selected_value == oracle_best_value(&instance));
        assert_int_equal(result.steps[0].algorithm, SETTLE_LSM_ALGORITHM_PARTIAL);
        /* With D funded, D's payment settles and brings A the liquidity for its tail. */
        instance.participants[D].liquidity = 70;
        result = resolve_checked(&instance);
        assert_int_equal(result.selected_count, 5);
        assert_int_equal(result.steps[0].algorithm, SETTLE_LSM_ALGORITHM_ALL_OR_NOTHING);
        assert_true(result.net_sent[A] == 100 + 50 - 100 - 70);
        (void)uncovered;
        (void)tail;
    }
}

static void test_partial_removes_lowest_priority_latest_first(void **state) {
    (void)state;
    struct instance instance;
    instance_init(&instance, 3, SETTLE_LSM_QUEUE_BYPASS_FIFO);
    u32 urgent = pay(&instance, A, B, 40, SETTLE_LSM_PRIORITY_URGENT);
    u32 normal_early = pay(&instance, A, C, 40, SETTLE_LSM_PRIORITY_NORMAL);
    u32 high = pay(&instance, A, C, 40, SETTLE_LSM_PRIORITY_HIGH);
    u32 normal_late = pay(&instance, A, B, 40, SETTLE_LSM_PRIORITY_NORMAL);
    instance.participants[A].liquidity = 120; /* room for three of the four */
    struct settle_lsm_result result;
    assert_int_equal(settle_lsm_partial(&workspace, &instance.problem, &result),
                     KHORGOS_ERROR_ok);
    check_result(&instance, &result);
    assert_int_equal(selected_mask(&result),
                     (1u << urgent) | (1u << normal_early) | (1u << high));
    (void)normal_late;
}

static void test_partial_starts_from_the_largest_uncovered_position(void **state) {
    (void)state;
    struct instance instance;
    instance_init(&instance, 3, SETTLE_LSM_QUEUE_BYPASS_FIFO);
    /* A is 10 short, B 50 short. Removing B's tail (B->A 50) covers B but leaves A 60 short
     * (it loses the 50 it was receiving); A then drops its tail, and so on. Starting from the
     * largest (B) is the rule; the result must be exactly what the rule gives. */
    u32 a_to_c = pay(&instance, A, C, 60, SETTLE_LSM_PRIORITY_NORMAL);
    u32 b_to_a = pay(&instance, B, A, 50, SETTLE_LSM_PRIORITY_NORMAL);
    u32 b_to_c = pay(&instance, B, C, 5, SETTLE_LSM_PRIORITY_NORMAL);
    instance.participants[B].liquidity = 5;
    struct settle_lsm_result result;
    assert_int_equal(settle_lsm_partial(&workspace, &instance.problem, &result),
                     KHORGOS_ERROR_ok);
    check_result(&instance, &result);
    /* B uncovered 50 (largest): its tail is B->C 5 -> B still 45 short; next B->A 50 -> B
     * covered, A now 60 short -> A->C removed. Left: nothing of A, nothing of B. */
    assert_int_equal(result.selected_count, 0);
    /* Algorithm 3 finds B->C alone (B covers 5). */
    result = resolve_checked(&instance);
    assert_int_equal(selected_mask(&result), 1u << b_to_c);
    assert_int_equal(result.steps[0].algorithm, SETTLE_LSM_ALGORITHM_BILATERAL);
    (void)a_to_c;
    (void)b_to_a;
}

static void test_bypass_fifo_settles_past_a_blocked_head(void **state) {
    (void)state;
    u32 masks[2];
    for (u32 mode = SETTLE_LSM_QUEUE_FIFO; mode <= SETTLE_LSM_QUEUE_BYPASS_FIFO; mode++) {
        struct instance instance;
        instance_init(&instance, 3, mode);
        pay(&instance, A, B, 100, SETTLE_LSM_PRIORITY_NORMAL); /* the head: not covered */
        pay(&instance, A, C, 10, SETTLE_LSM_PRIORITY_NORMAL);
        instance.participants[A].liquidity = 10;
        struct settle_lsm_result result = resolve_checked(&instance);
        masks[mode] = selected_mask(&result);
        assert_true(result.selected_value == oracle_best_value(&instance));
    }
    assert_int_equal(masks[SETTLE_LSM_QUEUE_FIFO], 0);      /* the head blocks */
    assert_int_equal(masks[SETTLE_LSM_QUEUE_BYPASS_FIFO], 0x2u); /* A->C goes past it */
}

static void test_fifo_takes_prefixes_in_priority_order(void **state) {
    (void)state;
    struct instance instance;
    instance_init(&instance, 3, SETTLE_LSM_QUEUE_FIFO);
    u32 normal = pay(&instance, A, B, 30, SETTLE_LSM_PRIORITY_NORMAL);
    u32 urgent = pay(&instance, A, C, 50, SETTLE_LSM_PRIORITY_URGENT); /* later, but urgent */
    u32 high = pay(&instance, A, B, 20, SETTLE_LSM_PRIORITY_HIGH);
    instance.participants[A].liquidity = 75;
    struct settle_lsm_result result = resolve_checked(&instance);
    /* Queue order: urgent 50, high 20, normal 30; 75 covers the first two. */
    assert_int_equal(selected_mask(&result), (1u << urgent) | (1u << high));
    (void)normal;
    instance.problem.queue_mode = SETTLE_LSM_QUEUE_BYPASS_FIFO;
    instance.participants[A].liquidity = 55;
    result = resolve_checked(&instance);
    /* Bypass: 55 covers urgent 50 but not the high 20 behind it; the rest waits. */
    assert_int_equal(selected_mask(&result), 1u << urgent);
}

static void test_net_debit_cap_keeps_payments_queued(void **state) {
    (void)state;
    struct instance instance;
    instance_init(&instance, 3, SETTLE_LSM_QUEUE_BYPASS_FIFO);
    u32 large = pay(&instance, A, B, 100, SETTLE_LSM_PRIORITY_NORMAL);
    u32 small = pay(&instance, A, C, 40, SETTLE_LSM_PRIORITY_NORMAL);
    instance.participants[A].liquidity = 1000000;
    instance.participants[A].has_net_debit_cap = 1;
    instance.participants[A].net_debit_cap = 150;
    instance.participants[A].net_debit_position = 100; /* 50 of headroom left */
    struct settle_lsm_result result = resolve_checked(&instance);
    assert_int_equal(selected_mask(&result), 1u << small);
    (void)large;
    /* A cap already breached (position over it) blocks net outflow, not a balanced pair. */
    instance_init(&instance, 2, SETTLE_LSM_QUEUE_FIFO);
    pay(&instance, A, B, 50, SETTLE_LSM_PRIORITY_NORMAL);
    pay(&instance, B, A, 50, SETTLE_LSM_PRIORITY_NORMAL);
    instance.participants[A].liquidity = 500;
    instance.participants[A].has_net_debit_cap = 1;
    instance.participants[A].net_debit_cap = 0;
    instance.participants[A].net_debit_position = 100;
    result = resolve_checked(&instance);
    assert_int_equal(result.selected_count, 2);
    pay(&instance, A, B, 1, SETTLE_LSM_PRIORITY_NORMAL);
    result = resolve_checked(&instance);
    assert_int_equal(selected_mask(&result), 0x3u); /* the extra 1 would add to the breach */
}

static void test_bilateral_limits_keep_payments_queued(void **state) {
    (void)state;
    for (u32 mode = SETTLE_LSM_QUEUE_FIFO; mode <= SETTLE_LSM_QUEUE_BYPASS_FIFO; mode++) {
        struct instance instance;
        instance_init(&instance, 3, mode);
        u32 to_c = pay(&instance, A, C, 40, SETTLE_LSM_PRIORITY_NORMAL);
        u32 to_b = pay(&instance, A, B, 40, SETTLE_LSM_PRIORITY_NORMAL);
        instance.participants[A].liquidity = 1000;
        limit(&instance, A, B, 50, 20); /* 30 of headroom toward B */
        struct settle_lsm_result result = resolve_checked(&instance);
        assert_int_equal(selected_mask(&result), 1u << to_c);
        /* B's payment to A offsets: A's flow toward B becomes 40 - 15 = 25 <= 30. */
        u32 from_b = pay(&instance, B, A, 15, SETTLE_LSM_PRIORITY_NORMAL);
        instance.participants[B].liquidity = 0;
        result = resolve_checked(&instance);
        assert_int_equal(selected_mask(&result), (1u << to_c) | (1u << to_b) | (1u << from_b));
        assert_int_equal(result.steps[0].algorithm, SETTLE_LSM_ALGORITHM_ALL_OR_NOTHING);
    }
}

static void test_bilateral_limit_under_fifo_blocks_what_follows(void **state) {
    (void)state;
    u32 masks[2];
    for (u32 mode = SETTLE_LSM_QUEUE_FIFO; mode <= SETTLE_LSM_QUEUE_BYPASS_FIFO; mode++) {
        struct instance instance;
        instance_init(&instance, 3, mode);
        pay(&instance, A, B, 40, SETTLE_LSM_PRIORITY_NORMAL); /* over the limit toward B */
        pay(&instance, A, C, 40, SETTLE_LSM_PRIORITY_NORMAL);
        instance.participants[A].liquidity = 1000;
        limit(&instance, A, B, 30, 0);
        struct settle_lsm_result result = resolve_checked(&instance);
        masks[mode] = selected_mask(&result);
        assert_true(result.selected_value == oracle_best_value(&instance));
    }
    assert_int_equal(masks[SETTLE_LSM_QUEUE_FIFO], 0);
    assert_int_equal(masks[SETTLE_LSM_QUEUE_BYPASS_FIFO], 0x2u);
}

static void test_bilateral_algorithm_pairs_smallest_difference_first(void **state) {
    (void)state;
    struct instance instance;
    instance_init(&instance, 3, SETTLE_LSM_QUEUE_BYPASS_FIFO);
    /* A holds 10. Pair {A,B}: 50 vs 45 (differs by 5); pair {A,C}: 10 vs 0 (by 10). Taking
     * {A,B} first uses 5 of A's 10; {A,C} then needs 10 and is 5 short. */
    u32 ab = pay(&instance, A, B, 50, SETTLE_LSM_PRIORITY_NORMAL);
    u32 ba = pay(&instance, B, A, 45, SETTLE_LSM_PRIORITY_NORMAL);
    u32 ac = pay(&instance, A, C, 10, SETTLE_LSM_PRIORITY_NORMAL);
    instance.participants[A].liquidity = 10;
    struct settle_lsm_result result;
    assert_int_equal(settle_lsm_bilateral(&workspace, &instance.problem, &result),
                     KHORGOS_ERROR_ok);
    check_result(&instance, &result);
    assert_int_equal(selected_mask(&result), (1u << ab) | (1u << ba));
    assert_true(result.net_sent[A] == 5);
    (void)ac;
}

static void test_bilateral_readmits_what_fits_under_bypass(void **state) {
    (void)state;
    u32 masks[2];
    for (u32 mode = SETTLE_LSM_QUEUE_FIFO; mode <= SETTLE_LSM_QUEUE_BYPASS_FIFO; mode++) {
        struct instance instance;
        instance_init(&instance, 2, mode);
        pay(&instance, A, B, 50, SETTLE_LSM_PRIORITY_NORMAL);
        pay(&instance, A, B, 10, SETTLE_LSM_PRIORITY_NORMAL);
        instance.participants[A].liquidity = 45;
        /* Dropping tails removes the 10, then the 50; bypass then takes the 10 back. */
        struct settle_lsm_result result = resolve_checked(&instance);
        masks[mode] = selected_mask(&result);
        assert_true(result.selected_value == oracle_best_value(&instance));
    }
    assert_int_equal(masks[SETTLE_LSM_QUEUE_FIFO], 0);
    assert_int_equal(masks[SETTLE_LSM_QUEUE_BYPASS_FIFO], 0x2u);
}

static void test_offsetting_on_entry(void **state) {
    (void)state;
    struct instance instance;
    instance_init(&instance, 3, SETTLE_LSM_QUEUE_FIFO);
    u32 first = pay(&instance, B, A, 80, SETTLE_LSM_PRIORITY_NORMAL);
    u32 second = pay(&instance, B, A, 30, SETTLE_LSM_PRIORITY_NORMAL);
    struct settle_lsm_payment incoming = {.amount = 100, .payer = A, .payee = B,
                                          .priority = SETTLE_LSM_PRIORITY_NORMAL, .arrival = 999};
    struct settle_lsm_result result;
    /* A has nothing: it needs 100 of B's payments, B may take at most 100 (no liquidity);
     * the prefix 80 is too little, 80 + 30 too much. */
    assert_int_equal(settle_lsm_offset_on_entry(&workspace, &instance.problem, &incoming, &result),
                     KHORGOS_ERROR_ok);
    assert_false(result.incoming_settles);
    assert_int_equal(result.selected_count, 0);
    /* With 20 of its own, A settles against B's 80: both settle with 20 instead of 100. */
    instance.participants[A].liquidity = 20;
    assert_int_equal(settle_lsm_offset_on_entry(&workspace, &instance.problem, &incoming, &result),
                     KHORGOS_ERROR_ok);
    assert_true(result.incoming_settles);
    assert_int_equal(selected_mask(&result), 1u << first);
    assert_true(result.selected_value == 180);
    assert_true(result.net_sent[A] == 20 && result.net_sent[B] == -20);
    /* With B's 10 too, the whole 110 offsets. */
    instance.participants[B].liquidity = 10;
    assert_int_equal(settle_lsm_offset_on_entry(&workspace, &instance.problem, &incoming, &result),
                     KHORGOS_ERROR_ok);
    assert_int_equal(selected_mask(&result), (1u << first) | (1u << second));
    assert_true(result.net_sent[A] == -10);
    assert_int_equal(result.steps[0].algorithm, SETTLE_LSM_ALGORITHM_OFFSET_ON_ENTRY);
}

static void test_offsetting_respects_the_queue_mode(void **state) {
    (void)state;
    u32 masks[2];
    bool settles[2];
    for (u32 mode = SETTLE_LSM_QUEUE_FIFO; mode <= SETTLE_LSM_QUEUE_BYPASS_FIFO; mode++) {
        struct instance instance;
        instance_init(&instance, 3, mode);
        pay(&instance, B, C, 10, SETTLE_LSM_PRIORITY_NORMAL); /* ahead of B's payment to A */
        pay(&instance, B, A, 90, SETTLE_LSM_PRIORITY_NORMAL);
        instance.participants[A].liquidity = 10;
        struct settle_lsm_payment incoming = {.amount = 100, .payer = A, .payee = B,
                                              .priority = SETTLE_LSM_PRIORITY_NORMAL};
        struct settle_lsm_result result;
        assert_int_equal(
            settle_lsm_offset_on_entry(&workspace, &instance.problem, &incoming, &result),
            KHORGOS_ERROR_ok);
        masks[mode] = selected_mask(&result);
        settles[mode] = result.incoming_settles;
    }
    assert_false(settles[SETTLE_LSM_QUEUE_FIFO]); /* B->A waits behind B->C */
    assert_int_equal(masks[SETTLE_LSM_QUEUE_FIFO], 0);
    assert_true(settles[SETTLE_LSM_QUEUE_BYPASS_FIFO]);
    assert_int_equal(masks[SETTLE_LSM_QUEUE_BYPASS_FIFO], 0x2u);
    /* Fifo: the payer's own queue of equal or higher priority holds the new payment back. */
    struct instance instance;
    instance_init(&instance, 3, SETTLE_LSM_QUEUE_FIFO);
    pay(&instance, A, C, 5, SETTLE_LSM_PRIORITY_HIGH);
    instance.participants[A].liquidity = 1000;
    struct settle_lsm_payment incoming = {.amount = 100, .payer = A, .payee = B,
                                          .priority = SETTLE_LSM_PRIORITY_HIGH};
    struct settle_lsm_result result;
    assert_int_equal(settle_lsm_offset_on_entry(&workspace, &instance.problem, &incoming, &result),
                     KHORGOS_ERROR_ok);
    assert_false(result.incoming_settles);
    incoming.priority = SETTLE_LSM_PRIORITY_URGENT; /* goes ahead of A's queued high payment */
    assert_int_equal(settle_lsm_offset_on_entry(&workspace, &instance.problem, &incoming, &result),
                     KHORGOS_ERROR_ok);
    assert_true(result.incoming_settles);
    assert_true(result.net_sent[A] == 100);
}

static void test_bad_input_is_refused_and_changes_nothing(void **state) {
    (void)state;
    struct instance instance;
    instance_init(&instance, 3, SETTLE_LSM_QUEUE_FIFO);
    pay(&instance, A, B, 10, SETTLE_LSM_PRIORITY_NORMAL);
    struct settle_lsm_result result, untouched;
    memset(&result, 0x5A, sizeof(result));
    memcpy(&untouched, &result, sizeof(result));
    struct {
        struct instance instance;
        khorgos_error expected;
    } cases[12];
    u32 count = 0;
    for (u32 index = 0; index < ARRAY_COUNT(cases); index++) {
        memcpy(&cases[index].instance, &instance, sizeof(instance));
        cases[index].expected = KHORGOS_ERROR_invalid_argument;
    }
    cases[count++].instance.payments[0].payee = A;                       /* pays itself */
    cases[count++].instance.payments[0].amount = 0;                      /* zero */
    cases[count++].instance.payments[0].amount = SETTLE_LSM_AMOUNT_MAX + 1;
    cases[count++].instance.payments[0].priority = 3;                    /* unknown priority */
    cases[count++].instance.payments[0].payer = 3;                       /* no such payer */
    cases[count++].instance.problem.queue_mode = 2;                      /* unknown mode */
    cases[count++].instance.participants[1].has_net_debit_cap = 2;
    cases[count++].instance.participants[1].net_debit_position = SETTLE_LSM_POSITION_MAX + 1;
    limit(&cases[count++].instance, A, A, 10, 0);                         /* limit on oneself */
    limit(&cases[count].instance, A, B, 10, 0);
    limit(&cases[count++].instance, A, B, 20, 0);                         /* two on one pair */
    cases[count].instance.problem.participant_count = PARTICIPANTS_MAX + 1;
    cases[count++].expected = KHORGOS_ERROR_capacity_full;
    cases[count++].instance.problem.participant_count = 0;
    assert_int_equal(count, ARRAY_COUNT(cases));
    for (u32 index = 0; index < count; index++) {
        struct instance *bad = &cases[index].instance;
        bad->problem.participants = bad->participants; /* the copy points at its own arrays */
        bad->problem.payments = bad->payments;
        bad->problem.limits = bad->limits;
        assert_int_equal(settle_lsm_resolve(&workspace, &bad->problem, &result),
                         cases[index].expected);
        assert_int_equal(settle_lsm_partial(&workspace, &bad->problem, &result),
                         cases[index].expected);
        assert_memory_equal(&result, &untouched, sizeof(result));
    }
    struct settle_lsm_payment incoming = {.amount = 5, .payer = B, .payee = B};
    assert_int_equal(settle_lsm_offset_on_entry(&workspace, &instance.problem, &incoming, &result),
                     KHORGOS_ERROR_invalid_argument);
    assert_int_equal(settle_lsm_offset_on_entry(&workspace, &instance.problem, NULL, &result),
                     KHORGOS_ERROR_invalid_argument);
    assert_memory_equal(&result, &untouched, sizeof(result));
    struct settle_lsm_workspace other;
    assert_int_equal(settle_lsm_workspace_init(&other, 0, 1, 0), KHORGOS_ERROR_invalid_argument);
    assert_int_equal(settle_lsm_workspace_init(&other, SETTLE_LSM_PARTICIPANT_COUNT_MAX + 1, 1, 0),
                     KHORGOS_ERROR_invalid_argument);
    assert_int_equal(settle_lsm_workspace_init(&other, 1, SETTLE_LSM_PAYMENT_COUNT_MAX + 1, 0),
                     KHORGOS_ERROR_invalid_argument);
}

static void test_empty_queue_settles_nothing(void **state) {
    (void)state;
    struct instance instance;
    instance_init(&instance, 2, SETTLE_LSM_QUEUE_BYPASS_FIFO);
    struct settle_lsm_result result = resolve_checked(&instance);
    assert_int_equal(result.selected_count, 0);
    assert_int_equal(result.round_count, 0);
    assert_int_equal(result.step_count, 0);
    assert_true(result.net_sent[A] == 0 && result.net_sent[B] == 0);
    /* A new payment meets an empty queue: it settles when covered alone. */
    instance.participants[A].liquidity = 7;
    struct settle_lsm_payment incoming = {.amount = 7, .payer = A, .payee = B};
    assert_int_equal(settle_lsm_offset_on_entry(&workspace, &instance.problem, &incoming, &result),
                     KHORGOS_ERROR_ok);
    assert_true(result.incoming_settles);
    assert_true(result.selected_value == 7 && result.net_sent[B] == -7);
    incoming.amount = 8;
    assert_int_equal(settle_lsm_offset_on_entry(&workspace, &instance.problem, &incoming, &result),
                     KHORGOS_ERROR_ok);
    assert_false(result.incoming_settles);
    assert_true(result.selected_value == 0);
}

static void test_huge_amounts_and_liquidity_do_not_overflow(void **state) {
    (void)state;
    struct instance instance;
    instance_init(&instance, 3, SETTLE_LSM_QUEUE_BYPASS_FIFO);
    for (u32 index = 0; index < 6; index++) {
        pay(&instance, index % 3, (index + 1) % 3, SETTLE_LSM_AMOUNT_MAX, SETTLE_LSM_PRIORITY_HIGH);
    }
    pay(&instance, A, C, SETTLE_LSM_AMOUNT_MAX, SETTLE_LSM_PRIORITY_NORMAL);
    instance.participants[A].liquidity = U128_MAX; /* clamped: still covers everything */
    instance.participants[B].has_net_debit_cap = 1;
    instance.participants[B].net_debit_cap = U128_MAX;
    instance.participants[B].net_debit_position = -SETTLE_LSM_POSITION_MAX;
    limit(&instance, C, A, U128_MAX, SETTLE_LSM_POSITION_MAX);
    struct settle_lsm_result result = resolve_checked(&instance);
    assert_int_equal(result.selected_count, 7);
    assert_true(result.selected_value == 7 * SETTLE_LSM_AMOUNT_MAX);
}

/* ----------------------------------------------------------------------------------------- */
/* Random instances and the exact oracle.                                                     */

static u64 random_next(u64 *seed) {
    u64 z = (*seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static u32 random_below(u64 *seed, u32 bound) { return (u32)(random_next(seed) % bound); }

/* A random small instance; `breached_limits` allows positions over their caps. */
static void random_instance(struct instance *instance, u64 *seed, u32 queue_mode,
                            bool breached_limits) {
    u32 participant_count = 2 + random_below(seed, 4);
    instance_init(instance, participant_count, queue_mode);
    u32 payment_count = 1 + random_below(seed, ORACLE_PAYMENTS_MAX);
    u32 amount_max = random_below(seed, 2) ? 10 : 100;
    for (u32 index = 0; index < payment_count; index++) {
        u32 payer = random_below(seed, participant_count);
        u32 payee = (payer + 1 + random_below(seed, participant_count - 1)) % participant_count;
        /* One draw per statement: argument evaluation order differs between compilers. */
        u128 amount = 1 + random_below(seed, amount_max);
        u8 priority = (u8)random_below(seed, SETTLE_LSM_PRIORITY_COUNT);
        u32 k = pay(instance, payer, payee, amount, priority);
        instance->payments[k].arrival = random_below(seed, 8); /* ties happen */
    }
    for (u32 index = 0; index < participant_count; index++) {
        struct settle_lsm_participant *participant = &instance->participants[index];
        bool dry = random_below(seed, 3) == 0;
        participant->liquidity = dry ? 0 : random_below(seed, amount_max * 2);
        if (random_below(seed, 4) == 0) {
            participant->has_net_debit_cap = 1;
            participant->net_debit_cap = random_below(seed, amount_max * 2);
            i128 position = (i128)random_below(seed, amount_max) - (i128)(amount_max / 2);
            if (!breached_limits && position > (i128)participant->net_debit_cap) position = 0;
            participant->net_debit_position = position;
        }
    }
    if (random_below(seed, 3) == 0) {
        u32 limit_count = 1 + random_below(seed, 4);
        for (u32 index = 0; index < limit_count; index++) {
            u32 participant = random_below(seed, participant_count);
            u32 counterparty =
                (participant + 1 + random_below(seed, participant_count - 1)) % participant_count;
            bool duplicate = false;
            for (u32 other = 0; other < instance->problem.limit_count; other++) {
                duplicate |= instance->limits[other].participant == participant &&
                             instance->limits[other].counterparty == counterparty;
            }
            if (duplicate) continue;
            u128 cap = random_below(seed, amount_max * 2);
            i128 position = (i128)random_below(seed, amount_max) - (i128)(amount_max / 2);
            if (!breached_limits && position > (i128)cap) position = 0;
            limit(instance, participant, counterparty, cap, position);
        }
    }
}

/* A successful algorithm 2 is never followed directly by another (it is idempotent). */
static void check_steps(const struct settle_lsm_result *result) {
    assert_true(result->step_count <= result->round_count);
    for (u32 index = 0; index + 1 < result->step_count; index++) {
        assert_true(result->steps[index].round < result->steps[index + 1].round);
        if (result->steps[index].algorithm == SETTLE_LSM_ALGORITHM_PARTIAL &&
            result->steps[index + 1].round == result->steps[index].round + 1) {
            assert_int_not_equal(result->steps[index + 1].algorithm, SETTLE_LSM_ALGORITHM_PARTIAL);
        }
    }
}

static void test_exact_oracle(void **state) {
    (void)state;
    const char *mode_names[2] = {"fifo", "bypass_fifo"};
    for (u32 mode = SETTLE_LSM_QUEUE_FIFO; mode <= SETTLE_LSM_QUEUE_BYPASS_FIFO; mode++) {
        u64 seed = 0x4B686F72676F73ull + mode; /* "Khorgos" */
        u32 equal = 0, gridlocked = 0;
        u128 engine_total = 0, oracle_total = 0;
        for (u32 trial = 0; trial < ORACLE_INSTANCE_COUNT; trial++) {
            struct instance instance;
            random_instance(&instance, &seed, mode, true);
            u128 best = oracle_best_value(&instance);
            struct settle_lsm_result result = resolve_checked(&instance);
            check_steps(&result);
            assert_true(result.selected_value <= best);
            /* Under fifo the feasible sets are closed under union, so the greatest one is
             * unique and algorithm 2 finds it: the engine is exact (settle_lsm.h). */
            if (mode == SETTLE_LSM_QUEUE_FIFO) assert_true(result.selected_value == best);
            equal += result.selected_value == best;
            engine_total += result.selected_value;
            oracle_total += best;
            /* The single algorithms are feasible too. */
            assert_int_equal(settle_lsm_all_or_nothing(&workspace, &instance.problem, &result),
                             KHORGOS_ERROR_ok);
            check_result(&instance, &result);
            gridlocked += result.selected_count == 0 && best > 0;
            assert_int_equal(settle_lsm_partial(&workspace, &instance.problem, &result),
                             KHORGOS_ERROR_ok);
            check_result(&instance, &result);
            assert_true(result.selected_value <= best);
            assert_int_equal(settle_lsm_bilateral(&workspace, &instance.problem, &result),
                             KHORGOS_ERROR_ok);
            check_result(&instance, &result);
        }
        print_message("oracle %s: engine equals oracle on %u of %u instances (%.1f%%); value "
                      "settled %.2f%% of the oracle's; %u needed more than all-or-nothing\n",
                      mode_names[mode], equal, ORACLE_INSTANCE_COUNT,
                      100.0 * equal / ORACLE_INSTANCE_COUNT,
                      100.0 * (double)engine_total / (double)oracle_total, gridlocked);
        /* Bypass: a regression floor below the measured rate (docs/liquidity-saving.md). */
        assert_true(equal * 100 >= ORACLE_INSTANCE_COUNT * 68);
    }
}

/* The remainder after algorithm 2, with positions moved by what settled. */
static void remainder_instance(const struct instance *instance,
                               const struct settle_lsm_result *result, struct instance *rest,
                               u32 *original, const u32 *original_before) {
    u32 mask = selected_mask(result);
    instance_init(rest, instance->problem.participant_count, instance->problem.queue_mode);
    memcpy(rest->participants, instance->participants, sizeof(rest->participants));
    memcpy(rest->limits, instance->limits, sizeof(rest->limits));
    rest->problem.limit_count = instance->problem.limit_count;
    for (u32 index = 0; index < instance->problem.participant_count; index++) {
        struct settle_lsm_participant *participant = &rest->participants[index];
        participant->liquidity = (u128)((i128)participant->liquidity - result->net_sent[index]);
        participant->net_debit_position += result->net_sent[index];
    }
    for (u32 index = 0; index < instance->problem.payment_count; index++) {
        const struct settle_lsm_payment *p = &instance->payments[index];
        if (mask & (1u << index)) {
            for (u32 l = 0; l < rest->problem.limit_count; l++) {
                struct settle_lsm_bilateral_limit *b = &rest->limits[l];
                if (b->participant == p->payer && b->counterparty == p->payee) {
                    b->position += (i128)p->amount;
                }
                if (b->participant == p->payee && b->counterparty == p->payer) {
                    b->position -= (i128)p->amount;
                }
            }
            continue;
        }
        if (original != NULL) original[rest->problem.payment_count] = original_before[index];
        rest->payments[rest->problem.payment_count++] = *p;
    }
}

static void test_partial_is_idempotent(void **state) {
    (void)state;
    u64 seed = 77;
    u32 settled_some = 0;
    for (u32 trial = 0; trial < 2000; trial++) {
        struct instance instance, rest;
        random_instance(&instance, &seed, trial % 2, false);
        struct settle_lsm_result result;
        assert_int_equal(settle_lsm_partial(&workspace, &instance.problem, &result),
                         KHORGOS_ERROR_ok);
        if (result.selected_count == 0) continue;
        settled_some++;
        remainder_instance(&instance, &result, &rest, NULL, NULL);
        assert_int_equal(settle_lsm_partial(&workspace, &rest.problem, &result), KHORGOS_ERROR_ok);
        assert_int_equal(result.selected_count, 0);
    }
    assert_true(settled_some > 500); /* the property was exercised, not skipped */
}

/* Algorithm 2 written directly from its definition, rescanning everything at each step. */
static u32 direct_partial(const struct instance *instance) {
    const struct settle_lsm_problem *problem = &instance->problem;
    struct oracle oracle;
    oracle_prepare(instance, &oracle);
    u32 mask = (1u << problem->payment_count) - 1;
    for (;;) {
        i128 net_sent[PARTICIPANTS_MAX] = {0};
        i128 flow[LIMITS_MAX] = {0};
        for (u32 k = 0; k < problem->payment_count; k++) {
            if (!(mask & (1u << k))) continue;
            const struct settle_lsm_payment *p = &instance->payments[k];
            net_sent[p->payer] += (i128)p->amount;
            net_sent[p->payee] -= (i128)p->amount;
            for (u32 l = 0; l < problem->limit_count; l++) {
                const struct settle_lsm_bilateral_limit *b = &instance->limits[l];
                if (b->participant == p->payer && b->counterparty == p->payee) {
                    flow[l] += (i128)p->amount;
                }
                if (b->participant == p->payee && b->counterparty == p->payer) {
                    flow[l] -= (i128)p->amount;
                }
            }
        }
        /* Constraints in tie order (participants, then limits by participant, counterparty);
         * the first with the largest breach wins. */
        u32 limit_order[LIMITS_MAX];
        for (u32 l = 0; l < problem->limit_count; l++) {
            u32 at = l;
            const struct settle_lsm_bilateral_limit *b = &instance->limits[l];
            while (at > 0) {
                const struct settle_lsm_bilateral_limit *a = &instance->limits[limit_order[at - 1]];
                if (a->participant < b->participant ||
                    (a->participant == b->participant && a->counterparty < b->counterparty)) {
                    break;
                }
                limit_order[at] = limit_order[at - 1];
                at--;
            }
            limit_order[at] = l;
        }
        i128 largest = 0;
        u32 chosen_participant = PARTICIPANTS_MAX, chosen_limit = LIMITS_MAX;
        for (u32 i = 0; i < problem->participant_count; i++) {
            if (net_sent[i] - oracle.capacity[i] > largest) {
                largest = net_sent[i] - oracle.capacity[i];
                chosen_participant = i;
            }
        }
        for (u32 rank = 0; rank < problem->limit_count; rank++) {
            u32 l = limit_order[rank];
            i128 headroom = oracle_signed(instance->limits[l].limit) - instance->limits[l].position;
            i128 breach = flow[l] - (headroom < 0 ? 0 : headroom);
            if (breach > largest) {
                largest = breach;
                chosen_participant = PARTICIPANTS_MAX;
                chosen_limit = l;
            }
        }
        if (largest == 0) return mask;
        u32 payer = chosen_participant != PARTICIPANTS_MAX
                        ? chosen_participant
                        : instance->limits[chosen_limit].participant;
        bool to_one_payee = chosen_participant == PARTICIPANTS_MAX &&
                            problem->queue_mode == SETTLE_LSM_QUEUE_BYPASS_FIFO;
        u32 victim = PAYMENTS_MAX;
        for (u32 k = 0; k < problem->payment_count; k++) {
            const struct settle_lsm_payment *p = &instance->payments[k];
            if (!(mask & (1u << k)) || p->payer != payer) continue;
            if (to_one_payee && p->payee != instance->limits[chosen_limit].counterparty) continue;
            if (victim == PAYMENTS_MAX || oracle_queue_before(instance, victim, k)) victim = k;
        }
        assert_true(victim != PAYMENTS_MAX);
        mask &= ~(1u << victim);
    }
}

static void test_partial_matches_a_direct_implementation(void **state) {
    (void)state;
    u64 seed = 1234;
    for (u32 trial = 0; trial < 3000; trial++) {
        struct instance instance;
        random_instance(&instance, &seed, trial % 2, true);
        struct settle_lsm_result result;
        assert_int_equal(settle_lsm_partial(&workspace, &instance.problem, &result),
                         KHORGOS_ERROR_ok);
        assert_int_equal(selected_mask(&result), direct_partial(&instance));
    }
}

/* Resolution in the literal order (1, 2, 3, back to 1 after a success), built from the single
 * algorithms on successive remainders; the mask is over the original payment indexes. */
static u32 literal_resolve(const struct instance *instance, u32 *rounds) {
    static struct instance current, rest;
    u32 original[PAYMENTS_MAX], original_rest[PAYMENTS_MAX];
    memcpy(&current, instance, sizeof(current));
    current.problem.participants = current.participants;
    current.problem.payments = current.payments;
    current.problem.limits = current.limits;
    for (u32 index = 0; index < PAYMENTS_MAX; index++) original[index] = index;
    u32 mask = 0;
    for (*rounds = 0; *rounds < SETTLE_LSM_ROUND_COUNT_MAX && current.problem.payment_count > 0;) {
        ++*rounds;
        struct settle_lsm_result result;
        assert_int_equal(settle_lsm_all_or_nothing(&workspace, &current.problem, &result), 0);
        if (result.selected_count == 0) {
            assert_int_equal(settle_lsm_partial(&workspace, &current.problem, &result), 0);
        }
        if (result.selected_count == 0) {
            assert_int_equal(settle_lsm_bilateral(&workspace, &current.problem, &result), 0);
        }
        if (result.selected_count == 0) break;
        for (u32 index = 0; index < result.selected_count; index++) {
            mask |= 1u << original[result.selected[index]];
        }
        remainder_instance(&current, &result, &rest, original_rest, original);
        memcpy(&current, &rest, sizeof(current));
        current.problem.participants = current.participants;
        current.problem.payments = current.payments;
        current.problem.limits = current.limits;
        memcpy(original, original_rest, sizeof(original));
    }
    return mask;
}

static void test_resolve_matches_the_literal_order(void **state) {
    (void)state;
    u64 seed = 4242;
    for (u32 trial = 0; trial < 2000; trial++) {
        struct instance instance;
        random_instance(&instance, &seed, trial % 2, false);
        struct settle_lsm_result result = resolve_checked(&instance);
        u32 mask = selected_mask(&result); /* before the workspace is used again */
        u32 rounds = 0;
        assert_int_equal(mask, literal_resolve(&instance, &rounds));
        /* The shortcut after algorithm 2 skips work, never a round that could settle. */
        assert_true(result.round_count <= rounds + 1);
    }
}

static void test_results_are_deterministic(void **state) {
    (void)state;
    u64 seed = 5;
    for (u32 trial = 0; trial < 200; trial++) {
        struct instance instance;
        random_instance(&instance, &seed, trial % 2, true);
        struct settle_lsm_result first = resolve_checked(&instance);
        u32 first_mask = selected_mask(&first);
        /* Another workspace, with other sizes, and the same problem again. */
        struct settle_lsm_workspace other;
        assert_int_equal(settle_lsm_workspace_init(&other, 64, 1000, 100), KHORGOS_ERROR_ok);
        struct settle_lsm_result second;
        assert_int_equal(settle_lsm_resolve(&other, &instance.problem, &second), KHORGOS_ERROR_ok);
        assert_int_equal(selected_mask(&second), first_mask);
        assert_int_equal(second.step_count, first.step_count);
        assert_memory_equal(second.steps, first.steps, first.step_count * sizeof(first.steps[0]));
        settle_lsm_workspace_deinit(&other);
    }
}

/* Medium instances: larger heaps, many pairs, both loading paths. */
#define MEDIUM_PARTICIPANTS 40u
#define MEDIUM_PAYMENTS 3000u
#define MEDIUM_LIMITS 200u

struct medium {
    struct settle_lsm_participant participants[MEDIUM_PARTICIPANTS];
    struct settle_lsm_payment payments[MEDIUM_PAYMENTS];
    struct settle_lsm_payment shuffled[MEDIUM_PAYMENTS];
    u32 shuffled_from[MEDIUM_PAYMENTS];
    struct settle_lsm_bilateral_limit limits[MEDIUM_LIMITS];
    u8 settled[MEDIUM_PAYMENTS];
    i128 net_sent[MEDIUM_PARTICIPANTS];
};

static void medium_generate(struct medium *m, u64 *seed) {
    memset(m, 0, sizeof(*m));
    for (u32 k = 0; k < MEDIUM_PAYMENTS; k++) {
        struct settle_lsm_payment *p = &m->payments[k];
        p->payer = random_below(seed, MEDIUM_PARTICIPANTS);
        u32 offset = 1 + random_below(seed, MEDIUM_PARTICIPANTS - 1);
        p->payee = (p->payer + offset) % MEDIUM_PARTICIPANTS;
        p->amount = 1 + random_below(seed, 1000);
        p->priority = (u8)random_below(seed, SETTLE_LSM_PRIORITY_COUNT);
        p->arrival = 10 * k; /* unique and in index order: the counting-sort path */
    }
    for (u32 i = 0; i < MEDIUM_PARTICIPANTS; i++) {
        m->participants[i].liquidity = random_below(seed, 3000);
        m->participants[i].has_net_debit_cap = random_below(seed, 4) == 0;
        m->participants[i].net_debit_cap = random_below(seed, 3000);
    }
    for (u32 l = 0; l < MEDIUM_LIMITS; l++) { /* distinct ordered pairs */
        m->limits[l].participant = l % MEDIUM_PARTICIPANTS;
        m->limits[l].counterparty = (l % MEDIUM_PARTICIPANTS + 1 + l / MEDIUM_PARTICIPANTS) %
                                    MEDIUM_PARTICIPANTS;
        m->limits[l].limit = random_below(seed, 2000);
        m->limits[l].position = (i128)random_below(seed, 1000) - 500;
    }
    for (u32 k = 0; k < MEDIUM_PAYMENTS; k++) m->shuffled_from[k] = k;
    for (u32 k = MEDIUM_PAYMENTS - 1; k > 0; k--) {
        u32 other = random_below(seed, k + 1);
        u32 swap = m->shuffled_from[k];
        m->shuffled_from[k] = m->shuffled_from[other];
        m->shuffled_from[other] = swap;
    }
    for (u32 k = 0; k < MEDIUM_PAYMENTS; k++) m->shuffled[k] = m->payments[m->shuffled_from[k]];
}

/* Independent feasibility check of a selection over m->payments. */
static void medium_check(struct medium *m, u32 queue_mode) {
    memset(m->net_sent, 0, sizeof(m->net_sent));
    for (u32 k = 0; k < MEDIUM_PAYMENTS; k++) {
        if (!m->settled[k]) continue;
        m->net_sent[m->payments[k].payer] += (i128)m->payments[k].amount;
        m->net_sent[m->payments[k].payee] -= (i128)m->payments[k].amount;
        for (u32 j = 0; queue_mode == SETTLE_LSM_QUEUE_FIFO && j < MEDIUM_PAYMENTS; j++) {
            if (m->payments[j].payer == m->payments[k].payer && !m->settled[j]) {
                assert_false(oracle_queue_before_payments(&m->payments[j], j, &m->payments[k], k));
            }
        }
    }
    for (u32 i = 0; i < MEDIUM_PARTICIPANTS; i++) {
        assert_true(m->net_sent[i] <= oracle_capacity(&m->participants[i]));
    }
    for (u32 l = 0; l < MEDIUM_LIMITS; l++) {
        i128 flow = 0;
        for (u32 k = 0; k < MEDIUM_PAYMENTS; k++) {
            const struct settle_lsm_payment *p = &m->payments[k];
            if (!m->settled[k]) continue;
            if (p->payer == m->limits[l].participant && p->payee == m->limits[l].counterparty) {
                flow += (i128)p->amount;
            }
            if (p->payee == m->limits[l].participant && p->payer == m->limits[l].counterparty) {
                flow -= (i128)p->amount;
            }
        }
        i128 headroom = (i128)m->limits[l].limit - m->limits[l].position;
        assert_true(flow <= (headroom < 0 ? 0 : headroom));
    }
}

static void test_medium_instances_feasible_and_independent_of_input_order(void **state) {
    (void)state;
    static struct medium m;
    struct settle_lsm_workspace medium_workspace;
    assert_int_equal(settle_lsm_workspace_init(&medium_workspace, MEDIUM_PARTICIPANTS,
                                               MEDIUM_PAYMENTS, MEDIUM_LIMITS),
                     KHORGOS_ERROR_ok);
    u64 seed = 31337;
    for (u32 trial = 0; trial < 8; trial++) {
        medium_generate(&m, &seed);
        struct settle_lsm_problem problem = {
            .participants = m.participants, .limits = m.limits, .payments = m.payments,
            .participant_count = MEDIUM_PARTICIPANTS, .limit_count = MEDIUM_LIMITS,
            .payment_count = MEDIUM_PAYMENTS, .queue_mode = trial % 2};
        struct settle_lsm_result result;
        assert_int_equal(settle_lsm_resolve(&medium_workspace, &problem, &result), 0);
        memset(m.settled, 0, sizeof(m.settled));
        for (u32 index = 0; index < result.selected_count; index++) {
            m.settled[result.selected[index]] = 1;
        }
        assert_true(result.selected_count > 0 && result.selected_count < MEDIUM_PAYMENTS);
        medium_check(&m, problem.queue_mode);
        /* The same queue given in another order: the same payments settle. */
        problem.payments = m.shuffled;
        assert_int_equal(settle_lsm_resolve(&medium_workspace, &problem, &result), 0);
        u32 count = 0;
        for (u32 index = 0; index < result.selected_count; index++) {
            assert_true(m.settled[m.shuffled_from[result.selected[index]]]);
            count++;
        }
        u32 expected = 0;
        for (u32 k = 0; k < MEDIUM_PAYMENTS; k++) expected += m.settled[k];
        assert_int_equal(count, expected);
    }
    settle_lsm_workspace_deinit(&medium_workspace);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_textbook_gridlock_settles_in_one_resolution),
        cmocka_unit_test(test_unequal_cycle_needs_exactly_the_net_position),
        cmocka_unit_test(test_unequal_amounts_settle_exactly_the_coverable_subset),
        cmocka_unit_test(test_partial_removes_lowest_priority_latest_first),
        cmocka_unit_test(test_partial_starts_from_the_largest_uncovered_position),
        cmocka_unit_test(test_bypass_fifo_settles_past_a_blocked_head),
        cmocka_unit_test(test_fifo_takes_prefixes_in_priority_order),
        cmocka_unit_test(test_net_debit_cap_keeps_payments_queued),
        cmocka_unit_test(test_bilateral_limits_keep_payments_queued),
        cmocka_unit_test(test_bilateral_limit_under_fifo_blocks_what_follows),
        cmocka_unit_test(test_bilateral_algorithm_pairs_smallest_difference_first),
        cmocka_unit_test(test_bilateral_readmits_what_fits_under_bypass),
        cmocka_unit_test(test_offsetting_on_entry),
        cmocka_unit_test(test_offsetting_respects_the_queue_mode),
        cmocka_unit_test(test_bad_input_is_refused_and_changes_nothing),
        cmocka_unit_test(test_empty_queue_settles_nothing),
        cmocka_unit_test(test_huge_amounts_and_liquidity_do_not_overflow),
        cmocka_unit_test(test_exact_oracle),
        cmocka_unit_test(test_partial_is_idempotent),
        cmocka_unit_test(test_partial_matches_a_direct_implementation),
        cmocka_unit_test(test_resolve_matches_the_literal_order),
        cmocka_unit_test(test_results_are_deterministic),
        cmocka_unit_test(test_medium_instances_feasible_and_independent_of_input_order),
    };
    return cmocka_run_group_tests(tests, workspace_setup, workspace_teardown);
}
