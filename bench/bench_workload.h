/*
 * bench_workload.h: the ledger workload every benchmark runs, so Khorgos, SQLite and PostgreSQL
 * do the same work: 10,000 accounts spread evenly over the eight currencies of the region, each
 * funded once, then transfers between two accounts of one currency chosen uniformly or with a
 * Zipf law (a few hot accounts take most transfers, as a clearing bank's accounts do). The
 * transfers come as plain fields (bench_next_transfer, for SQLite and PostgreSQL) or as the
 * engine's records (bench_workload_transfers, for Khorgos in process and over the network).
 *
 * Deterministic: the same seed gives the same transfers in every program (splitmix64).
 * Header-only because it is shared by separate benchmark programs and nothing else.
 */
#ifndef KHORGOS_BENCH_WORKLOAD_H
#define KHORGOS_BENCH_WORKLOAD_H

#include "base/base.h"
#include "khorgos.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define BENCH_ACCOUNT_COUNT 10000u
#define BENCH_LEDGER_COUNT 8u
#define BENCH_ACCOUNTS_PER_LEDGER (BENCH_ACCOUNT_COUNT / BENCH_LEDGER_COUNT)
/* Each account starts with this credit, so a transfer rarely fails its balance check. */
#define BENCH_FUNDING_MINOR_UNITS 1000000000000ull
#define BENCH_AMOUNT_MAX_MINOR_UNITS 100000ull
/* Zipf exponent: 1.0 puts about a fifth of all transfers on the ten hottest accounts. */
#define BENCH_ZIPF_EXPONENT 1.0

_Static_assert(BENCH_ACCOUNT_COUNT % BENCH_LEDGER_COUNT == 0, "accounts split evenly");

static const uint32_t bench_ledgers[BENCH_LEDGER_COUNT] = {156, 398, 417, 860, 972, 934, 643, 840};

struct bench_workload {
    uint64_t random_state;
    int zipf;
    double zipf_cdf[BENCH_ACCOUNTS_PER_LEDGER];
};

struct bench_transfer {
    uint64_t id;
    uint64_t debit_account_id;  /* 1 .. BENCH_ACCOUNT_COUNT */
    uint64_t credit_account_id;
    uint64_t amount;
    uint32_t ledger;
};

static inline uint64_t bench_random(struct bench_workload *workload) {
    uint64_t z = (workload->random_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void bench_workload_init(struct bench_workload *workload, uint64_t seed, int zipf) {
    workload->random_state = seed;
    workload->zipf = zipf;
    double total = 0;
    for (uint32_t rank = 0; rank < BENCH_ACCOUNTS_PER_LEDGER; rank++) {
        total += 1.0 / pow((double)(rank + 1), BENCH_ZIPF_EXPONENT);
        workload->zipf_cdf[rank] = total;
    }
    for (uint32_t rank = 0; rank < BENCH_ACCOUNTS_PER_LEDGER; rank++) {
        workload->zipf_cdf[rank] /= total;
    }
}

/* An account's ledger: accounts 1..1250 are CNY, 1251..2500 KZT, and so on. */
static inline uint32_t bench_account_ledger(uint64_t account_id) {
    return bench_ledgers[(account_id - 1) / BENCH_ACCOUNTS_PER_LEDGER];
}

static inline uint32_t bench_pick_rank(struct bench_workload *workload) {
    uint64_t draw = bench_random(workload);
    if (!workload->zipf) return (uint32_t)(draw % BENCH_ACCOUNTS_PER_LEDGER);
    double uniform = (double)(draw >> 11) * (1.0 / 9007199254740992.0);
    uint32_t low = 0, high = BENCH_ACCOUNTS_PER_LEDGER - 1;
    while (low < high) {
        uint32_t middle = (low + high) / 2;
        if (workload->zipf_cdf[middle] < uniform) low = middle + 1; else high = middle;
    }
    return low;
}

/* The transfer with id `id` (ids are 1, 2, 3, ... in submission order). */
static inline void bench_next_transfer(struct bench_workload *workload, uint64_t id,
                                       struct bench_transfer *transfer) {
    uint32_t ledger_index = (uint32_t)(bench_random(workload) % BENCH_LEDGER_COUNT);
    uint64_t base = (uint64_t)ledger_index * BENCH_ACCOUNTS_PER_LEDGER + 1;
    uint32_t debit_rank = bench_pick_rank(workload);
    uint32_t credit_rank = bench_pick_rank(workload);
    if (credit_rank == debit_rank) credit_rank = (credit_rank + 1) % BENCH_ACCOUNTS_PER_LEDGER;
    transfer->id = id;
    transfer->debit_account_id = base + debit_rank;
    transfer->credit_account_id = base + credit_rank;
    transfer->amount = 1 + bench_random(workload) % BENCH_AMOUNT_MAX_MINOR_UNITS;
    transfer->ledger = bench_ledgers[ledger_index];
}

/* Fills `transfers` with the workload's next `count` transfers as the engine's records (code 1),
 * ids *next_id onwards, and moves *next_id past them. */
static inline void bench_workload_transfers(struct bench_workload *workload, u64 *next_id,
                                            struct khorgos_transfer *transfers, u32 count) {
    ASSERT(workload != NULL && next_id != NULL && transfers != NULL);
    ASSERT(count > 0 && count <= LIMIT_BATCH_EVENTS_MAX);
    for (u32 index = 0; index < count; index++) {
        struct bench_transfer generated;
        bench_next_transfer(workload, (*next_id)++, &generated);
        transfers[index] = (struct khorgos_transfer){
            .id = generated.id, .debit_account_id = generated.debit_account_id,
            .credit_account_id = generated.credit_account_id, .amount = generated.amount,
            .ledger = generated.ledger, .code = 1};
    }
}

#endif /* KHORGOS_BENCH_WORKLOAD_H */
