/*
 * model_driver: drives the engine through its public API (khorgos_open_memory with a manual
 * clock, khorgos_execute, khorgos_clock_advance) with seeded random requests, side by side with
 * tests/support/reference_model and (for the determinism test) with a second engine.
 *
 * It is compiled into each program that uses it (#include "model/model_driver.c") rather than
 * into tests/support, because everything in tests/support links into every test program and
 * this file needs the whole engine.
 *
 * Queries (get_account_transfers, get_account_balances, query_accounts, query_transfers) are
 * compared too, with random filters, valid and invalid.
 *
 * A run is a sequence of epochs; each epoch opens fresh engines and a fresh model (so that
 * balances near 2^128 saturate some accounts, but not all of them for the whole run) and then
 * takes random steps. A step is one of: a create_transfers batch (every kind of transfer,
 * valid and deliberately invalid, linked chains, resubmissions), a create_accounts batch, an
 * imported batch of either, lookups, a clock advance (which expires pending transfers), an
 * empty request, or several requests in one khorgos_execute call.
 *
 * After every step it compares every reply (status and timestamp of each event, the request's
 * timestamp, lookups byte for byte), looks every account up and compares it byte for byte, and
 * checks per ledger that debits equal credits, pending and posted alike.
 *
 * An operation is one event of a create request, one lookup request or one clock advance.
 * All external symbols start with model_driver_.
 */
#ifndef MODEL_DRIVER_H
#define MODEL_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "khorgos.h"

/* At most this many engines run the same requests side by side. */
#define MODEL_DRIVER_ENGINE_COUNT_MAX 2u

struct model_driver_config {
    uint64_t seed;
    uint64_t operation_count;       /* the run stops after at least this many operations */
    uint64_t epoch_operation_count; /* operations before fresh engines and model */
    uint32_t engine_count;          /* 1 for the model test, 2 for the determinism test */
    bool compare_model;             /* compare engine replies with the reference model */
    /* Nonzero: the clock moves this much before every step, like a real clock between
     * requests, so timestamps rarely run ahead of it. Zero: it moves only in clock steps. */
    uint64_t clock_tick_ns;
};

struct model_driver_statistics {
    uint64_t operation_count;
    uint64_t step_count;
    uint64_t epoch_count;
    uint64_t request_count;
    uint64_t lookup_count;
    uint64_t query_count;       /* get_account_transfers, query_accounts, query_transfers */
    uint64_t query_record_count; /* records those queries returned */
    uint64_t clock_advance_count;
    uint64_t expiry_count; /* pending transfers the model saw expire */
    uint64_t account_status_counts[KHORGOS_CREATE_ACCOUNT_STATUS_COUNT];
    uint64_t transfer_status_counts[KHORGOS_CREATE_TRANSFER_STATUS_COUNT];
    /* Determinism: digests of each engine's ledger, compared every few hundred steps and at
     * the end of every epoch. */
    uint64_t digest_comparison_count;
    /* FNV-1a over every reply of engine 0 (request timestamps included), and over its ledger
     * digest at the end of every epoch: equal runs give equal hashes. */
    uint64_t reply_hash;
    uint64_t state_hash;
    /* The first disagreement, described; empty when none. */
    char failure[4096];
};

/* Runs the configured workload; returns true when nothing disagreed. */
bool model_driver_run(const struct model_driver_config *config,
                      struct model_driver_statistics *statistics);

/* Prints the operation count and the histogram of statuses seen. */
void model_driver_print(const struct model_driver_statistics *statistics);

/* The number of statuses (of both kinds) never seen; lists them on stdout. */
uint32_t model_driver_statuses_unseen(const struct model_driver_statistics *statistics);

#endif /* MODEL_DRIVER_H */
