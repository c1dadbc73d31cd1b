/*
 * bench_settle_gridlock.c: how long gridlock resolution across currencies
 * (settle_gridlock_resolve) takes on 100,000 queued payments among 200 participants in 8
 * currencies (1,600 positions).
 *
 * The queue is random but seeded (the same on every run). 192 banks and 8 liquidity providers;
 * every participant holds every currency. A payment is same-currency (40%), a conversion
 * through one provider (50%: payer -> provider in the source currency, provider -> payee in
 * the target) or through the vehicle currency (10%: payer -> provider 1, provider 1 ->
 * provider 2 in the vehicle currency, provider 2 -> payee). Payers, payees, currencies and
 * providers uniform; source amounts log-uniform from 10.00 to 1,000,000.00 (minor units),
 * converted at a fixed rate per currency pair; priorities 10% urgent, 20% high, 70% normal;
 * arrival in index order. Each position's available amount is a share (2%, 5%, 10%) of what
 * it pays out in the queue. One scenario adds exposure limits: one per provider and currency
 * pair (a quote's room), a conversion charging its source amount, each limit half of what
 * the queue would charge it. Both queue modes. The time includes validation and sorting; it
 * is the best of a few repetitions, wall and CPU time (CPU time is steadier on a shared
 * machine).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_settle.h"
#include "settle/settle_gridlock.h"

#define BENCH_PARTICIPANT_COUNT 200u
#define BENCH_PROVIDER_COUNT 8u
#define BENCH_CURRENCY_COUNT 8u
#define BENCH_VEHICLE_CURRENCY 7u
#define BENCH_POSITION_COUNT (BENCH_PARTICIPANT_COUNT * BENCH_CURRENCY_COUNT)
#define BENCH_EXPOSURE_COUNT (BENCH_PROVIDER_COUNT * BENCH_CURRENCY_COUNT * BENCH_CURRENCY_COUNT)
#define BENCH_PAYMENT_COUNT 100000u
#define BENCH_REPETITIONS 5u
#define BENCH_BANK_COUNT (BENCH_PARTICIPANT_COUNT - BENCH_PROVIDER_COUNT)

static u32 bench_below(u64 *seed, u32 bound) {
    ASSERT(bound > 0);
    return (u32)(bench_random(seed) % bound);
}

struct bench_queue {
    struct settle_gridlock_position positions[BENCH_POSITION_COUNT];
    u128 exposure_limits[BENCH_EXPOSURE_COUNT];
    struct settle_gridlock_payment payments[BENCH_PAYMENT_COUNT];
    u128 paid_out[BENCH_POSITION_COUNT];
    u128 charged[BENCH_EXPOSURE_COUNT];
    double rate[BENCH_CURRENCY_COUNT][BENCH_CURRENCY_COUNT];
};

static u32 bench_position(u32 participant, u32 currency) {
    ASSERT(participant < BENCH_PARTICIPANT_COUNT && currency < BENCH_CURRENCY_COUNT);
    return participant * BENCH_CURRENCY_COUNT + currency;
}

static void bench_leg(struct bench_queue *queue, struct settle_gridlock_payment *payment,
                      u32 debtor, u32 creditor, u32 currency, u128 amount) {
    struct settle_gridlock_leg *leg = &payment->legs[payment->leg_count++];
    leg->debtor = bench_position(debtor, currency);
    leg->creditor = bench_position(creditor, currency);
    leg->amount = amount == 0 ? 1 : amount;
    queue->paid_out[leg->debtor] += leg->amount;
    ASSERT(leg->debtor != leg->creditor);
}

static u128 bench_convert(const struct bench_queue *queue, u128 amount, u32 from, u32 to) {
    ASSERT(from < BENCH_CURRENCY_COUNT && to < BENCH_CURRENCY_COUNT);
    return (u128)((double)amount * queue->rate[from][to]);
}

/* One payment from payer to payee; conversions charge their source amount on the exposure
 * limit of (first provider, source, target). */
static void bench_payment(struct bench_queue *queue, u64 *seed, u32 index) {
    struct settle_gridlock_payment *payment = &queue->payments[index];
    u32 payer = bench_below(seed, BENCH_BANK_COUNT);
    u32 payee = (payer + 1 + bench_below(seed, BENCH_BANK_COUNT - 1)) % BENCH_BANK_COUNT;
    u32 source = bench_below(seed, BENCH_CURRENCY_COUNT);
    u32 kind = bench_below(seed, 10), target = source;
    while (kind >= 4 && target == source) target = bench_below(seed, BENCH_CURRENCY_COUNT);
    u32 provider = BENCH_BANK_COUNT + bench_below(seed, BENCH_PROVIDER_COUNT);
    double exponent = 3.0 + 5.0 * (double)(bench_random(seed) >> 11) / 9007199254740992.0;
    u128 amount = (u128)pow(10.0, exponent);
    bool vehicle = kind == 9 && source != BENCH_VEHICLE_CURRENCY &&
                   target != BENCH_VEHICLE_CURRENCY;
    if (kind < 4) {
        bench_leg(queue, payment, payer, payee, source, amount);
    } else if (!vehicle) {
        bench_leg(queue, payment, payer, provider, source, amount);
        bench_leg(queue, payment, provider, payee, target,
                  bench_convert(queue, amount, source, target));
    } else {
        u32 second = BENCH_BANK_COUNT + (provider - BENCH_BANK_COUNT + 1) % BENCH_PROVIDER_COUNT;
        u128 middle = bench_convert(queue, amount, source, BENCH_VEHICLE_CURRENCY);
        bench_leg(queue, payment, payer, provider, source, amount);
        bench_leg(queue, payment, provider, second, BENCH_VEHICLE_CURRENCY, middle);
        bench_leg(queue, payment, second, payee, target,
                  bench_convert(queue, middle, BENCH_VEHICLE_CURRENCY, target));
    }
    if (kind >= 4) {
        u32 limit = ((provider - BENCH_BANK_COUNT) * BENCH_CURRENCY_COUNT + source) *
                        BENCH_CURRENCY_COUNT + target;
        payment->charges[0].exposure = limit;
        payment->charges[0].amount = amount;
        payment->charge_count = 1;
        queue->charged[limit] += amount;
    }
    u32 draw = bench_below(seed, 10);
    payment->priority = draw == 0 ? SETTLE_GRIDLOCK_PRIORITY_URGENT
                        : draw <= 2 ? SETTLE_GRIDLOCK_PRIORITY_HIGH
                                    : SETTLE_GRIDLOCK_PRIORITY_NORMAL;
    payment->arrival = index;
    payment->value = amount; /* the source amount stands for value in the bench */
}

static void bench_generate(struct bench_queue *queue, u64 seed) {
    memset(queue, 0, sizeof(*queue));
    for (u32 from = 0; from < BENCH_CURRENCY_COUNT; from++) {
        for (u32 to = 0; to < BENCH_CURRENCY_COUNT; to++) {
            /* each currency worth 10^(k/2) units of currency 0: rates from 0.06 to 18 */
            queue->rate[from][to] = pow(10.0, ((double)to - (double)from) / 4.0);
        }
    }
    for (u32 index = 0; index < BENCH_PAYMENT_COUNT; index++) {
        bench_payment(queue, &seed, index);
    }
    ASSERT(queue->payments[0].leg_count > 0);
}

static void bench_configure(struct bench_queue *queue, struct settle_gridlock_problem *problem,
                            u32 percent, bool limits, u8 bypass_fifo) {
    for (u32 index = 0; index < BENCH_POSITION_COUNT; index++) {
        queue->positions[index].available = queue->paid_out[index] * percent / 100;
        queue->positions[index].currency = index % BENCH_CURRENCY_COUNT;
        queue->positions[index].bypass_fifo = bypass_fifo;
    }
    for (u32 index = 0; index < BENCH_EXPOSURE_COUNT; index++) {
        queue->exposure_limits[index] = limits ? queue->charged[index] / 2 : U128_MAX;
    }
    memset(problem, 0, sizeof(*problem));
    problem->positions = queue->positions;
    problem->exposure_limits = queue->exposure_limits;
    problem->payments = queue->payments;
    problem->position_count = BENCH_POSITION_COUNT;
    problem->exposure_count = BENCH_EXPOSURE_COUNT;
    problem->payment_count = BENCH_PAYMENT_COUNT;
    ASSERT(problem->payment_count > 0);
}

struct bench_resolve {
    struct settle_gridlock_workspace *workspace;
    const struct settle_gridlock_problem *problem;
    struct settle_gridlock_result *result;
};

static void bench_resolve(void *context) {
    struct bench_resolve *resolve = context;
    khorgos_error error =
        settle_gridlock_resolve(resolve->workspace, resolve->problem, resolve->result);
    ASSERT(error == KHORGOS_ERROR_ok);
}

static void bench_run(struct settle_gridlock_workspace *workspace, struct bench_queue *queue,
                      u32 percent, bool limits, u8 bypass_fifo) {
    struct settle_gridlock_problem problem;
    bench_configure(queue, &problem, percent, limits, bypass_fifo);
    u128 total = 0;
    for (u32 index = 0; index < BENCH_PAYMENT_COUNT; index++) {
        total += queue->payments[index].value;
    }
    struct settle_gridlock_result result;
    struct bench_resolve resolve = {workspace, &problem, &result};
    u64 best_ns, best_cpu_ns;
    bench_best_time(bench_resolve, &resolve, BENCH_REPETITIONS, &best_ns, &best_cpu_ns);
    printf("%-11s liquidity %2u%% %-8s %6.1f ms (cpu %6.1f ms)  settled %6u of %u payments,"
           " %5.1f%% of value; removed %u forced, %u weighed; %u filled back"
           " in %u walks\n",
           bypass_fifo ? "bypass_fifo" : "fifo", percent, limits ? "exposure" : "none",
           (double)best_ns / 1e6, (double)best_cpu_ns / 1e6, result.selected_count,
           BENCH_PAYMENT_COUNT, 100.0 * (double)result.selected_value / (double)total,
           result.removed_forced, result.removed_weighed, result.filled_back,
           result.fill_passes);
}

/* With an argument fifo or bypass_fifo, only that queue mode's scenarios run. */
int main(int argc, char **argv) {
    static struct bench_queue queue;
    int only = -1;
    if (argc > 1) {
        only = strcmp(argv[1], "bypass_fifo") == 0 ? 1 : strcmp(argv[1], "fifo") == 0 ? 0 : -2;
    }
    if (only == -2) {
        fprintf(stderr, "usage: bench_settle_gridlock [fifo|bypass_fifo]\n");
        return 2;
    }
    static struct settle_gridlock_workspace workspace;
    bench_generate(&queue, 2026);
    khorgos_error error = settle_gridlock_workspace_init(&workspace, BENCH_POSITION_COUNT,
                                                         BENCH_PAYMENT_COUNT,
                                                         BENCH_EXPOSURE_COUNT, 0);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "bench_settle_gridlock: %s\n", khorgos_strerror(error));
        return 1;
    }
    printf("settle_gridlock_resolve: %u queued payments, %u participants, %u currencies, "
           "%u positions (best of %u)\n",
           BENCH_PAYMENT_COUNT, BENCH_PARTICIPANT_COUNT, BENCH_CURRENCY_COUNT,
           BENCH_POSITION_COUNT, BENCH_REPETITIONS);
    const u32 percents[] = {2, 5, 10};
    for (u8 bypass_fifo = 0; bypass_fifo <= 1; bypass_fifo++) {
        if (only >= 0 && bypass_fifo != only) continue;
        for (u32 index = 0; index < ARRAY_COUNT(percents); index++) {
            bench_run(&workspace, &queue, percents[index], false, bypass_fifo);
        }
        bench_run(&workspace, &queue, 5, true, bypass_fifo);
    }
    settle_gridlock_workspace_deinit(&workspace);
    return 0;
}
