/*
 * bench_settle_lsm.c: how long gridlock resolution (settle_lsm_resolve: algorithms 1, 2, 3,
 * back to 1 after a success) takes on 100,000 queued payments among 200 participants.
 *
 * The queue is random but seeded (the same on every run): payers and payees uniform, amounts
 * log-uniform from 10.00 to 1,000,000.00 (minor units), priorities 10% urgent, 20% high, 70%
 * normal. Each participant's liquidity is a fraction (2%, 5%, 10%) of what it has queued to
 * send, small enough that all-or-nothing fails and the other algorithms decide what settles
 * (the steps printed show which). Scenarios without
 * limits and with net debit caps and bilateral limits; both queue modes. The time includes
 * loading (validation, sorting); it is the best of a few repetitions, wall and CPU time (CPU
 * time is steadier on a shared machine). Prints, per run: ms, payments and value settled,
 * rounds, and the steps.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "bench_settle.h"
#include "settle/settle_lsm.h"

#define BENCH_PARTICIPANT_COUNT 200u
#define BENCH_PAYMENT_COUNT 100000u
#define BENCH_LIMIT_COUNT 4000u
#define BENCH_REPETITIONS 5u

struct bench_queue {
    struct settle_lsm_participant participants[BENCH_PARTICIPANT_COUNT];
    struct settle_lsm_bilateral_limit limits[BENCH_LIMIT_COUNT];
    struct settle_lsm_payment payments[BENCH_PAYMENT_COUNT];
    u128 sent_gross[BENCH_PARTICIPANT_COUNT];
};

static void bench_generate(struct bench_queue *queue, u64 seed) {
    memset(queue, 0, sizeof(*queue));
    for (u32 index = 0; index < BENCH_PAYMENT_COUNT; index++) {
        struct settle_lsm_payment *payment = &queue->payments[index];
        payment->payer = (u32)(bench_random(&seed) % BENCH_PARTICIPANT_COUNT);
        u32 offset = 1 + (u32)(bench_random(&seed) % (BENCH_PARTICIPANT_COUNT - 1));
        payment->payee = (payment->payer + offset) % BENCH_PARTICIPANT_COUNT;
        /* log-uniform over five decades: 10^(3 + 5u) minor units */
        double exponent = 3.0 + 5.0 * (double)(bench_random(&seed) >> 11) / 9007199254740992.0;
        double amount = pow(10.0, exponent);
        payment->amount = (u128)amount;
        u32 draw = (u32)(bench_random(&seed) % 10);
        payment->priority = draw == 0   ? SETTLE_LSM_PRIORITY_URGENT
                            : draw <= 2 ? SETTLE_LSM_PRIORITY_HIGH
                                        : SETTLE_LSM_PRIORITY_NORMAL;
        payment->arrival = index;
        queue->sent_gross[payment->payer] += payment->amount;
    }
}

/* Liquidity = sent_gross * percent / 100; with limits, net debit caps and bilateral limits. */
static void bench_configure(struct bench_queue *queue, struct settle_lsm_problem *problem,
                            u32 percent, bool limits, u32 queue_mode) {
    for (u32 index = 0; index < BENCH_PARTICIPANT_COUNT; index++) {
        struct settle_lsm_participant *participant = &queue->participants[index];
        participant->liquidity = queue->sent_gross[index] * percent / 100;
        participant->has_net_debit_cap = limits && index % 4 == 0;
        participant->net_debit_cap = participant->liquidity / 2;
        participant->net_debit_position = 0;
    }
    u32 limit_count = 0;
    for (u32 index = 0; limits && index < BENCH_LIMIT_COUNT; index++) {
        /* distinct ordered pairs: each participant limits its next 20 counterparties */
        u32 participant = index % BENCH_PARTICIPANT_COUNT;
        u32 counterparty = (participant + 1 + index / BENCH_PARTICIPANT_COUNT) %
                           BENCH_PARTICIPANT_COUNT;
        struct settle_lsm_bilateral_limit *limit = &queue->limits[limit_count++];
        limit->participant = participant;
        limit->counterparty = counterparty;
        limit->limit = queue->sent_gross[participant] / 50;
        limit->position = 0;
    }
    memset(problem, 0, sizeof(*problem));
    problem->participants = queue->participants;
    problem->limits = queue->limits;
    problem->payments = queue->payments;
    problem->participant_count = BENCH_PARTICIPANT_COUNT;
    problem->limit_count = limit_count;
    problem->payment_count = BENCH_PAYMENT_COUNT;
    problem->queue_mode = queue_mode;
}

struct bench_resolve {
    struct settle_lsm_workspace *workspace;
    const struct settle_lsm_problem *problem;
    struct settle_lsm_result *result;
};

static void bench_resolve(void *context) {
    struct bench_resolve *resolve = context;
    khorgos_error error = settle_lsm_resolve(resolve->workspace, resolve->problem, resolve->result);
    ASSERT(error == KHORGOS_ERROR_ok);
}

static void bench_run(struct settle_lsm_workspace *workspace, struct bench_queue *queue,
                      u32 percent, bool limits, u32 queue_mode) {
    struct settle_lsm_problem problem;
    bench_configure(queue, &problem, percent, limits, queue_mode);
    u128 total = 0;
    for (u32 index = 0; index < BENCH_PAYMENT_COUNT; index++) {
        total += queue->payments[index].amount;
    }
    static struct settle_lsm_result result;
    struct bench_resolve resolve = {workspace, &problem, &result};
    u64 best_ns, best_cpu_ns;
    bench_best_time(bench_resolve, &resolve, BENCH_REPETITIONS, &best_ns, &best_cpu_ns);
    printf("%-11s liquidity %2u%% %-6s %6.1f ms (cpu %6.1f ms)  settled %6u of %u payments,"
           " %5.1f%% of value, %u rounds%s\n",
           queue_mode == SETTLE_LSM_QUEUE_FIFO ? "fifo" : "bypass_fifo", percent,
           limits ? "limits" : "none", (double)best_ns / 1e6, (double)best_cpu_ns / 1e6,
           result.selected_count,
           BENCH_PAYMENT_COUNT, 100.0 * (double)result.selected_value / (double)total,
           result.round_count, result.rounds_exhausted ? " (round limit reached)" : "");
    for (u32 index = 0; index < result.step_count; index++) {
        printf("      round %2u %-15s %6u payments\n", result.steps[index].round,
               settle_lsm_algorithm_name(result.steps[index].algorithm),
               result.steps[index].payment_count);
    }
}

int main(void) {
    static struct bench_queue queue;
    static struct settle_lsm_workspace workspace;
    bench_generate(&queue, 2026);
    khorgos_error error = settle_lsm_workspace_init(&workspace, BENCH_PARTICIPANT_COUNT,
                                                    BENCH_PAYMENT_COUNT, BENCH_LIMIT_COUNT);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "bench_settle_lsm: %s\n", khorgos_strerror(error));
        return 1;
    }
    printf("settle_lsm_resolve: %u queued payments, %u participants (best of %u)\n",
           BENCH_PAYMENT_COUNT, BENCH_PARTICIPANT_COUNT, BENCH_REPETITIONS);
    const u32 percents[] = {2, 5, 10};
    for (u32 mode = SETTLE_LSM_QUEUE_FIFO; mode <= SETTLE_LSM_QUEUE_BYPASS_FIFO; mode++) {
        for (u32 index = 0; index < ARRAY_COUNT(percents); index++) {
            bench_run(&workspace, &queue, percents[index], false, mode);
        }
        bench_run(&workspace, &queue, 5, true, mode);
    }
    settle_lsm_workspace_deinit(&workspace);
    return 0;
}
