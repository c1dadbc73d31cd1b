/*
 * reference_model: a small, deliberately simple reference model of TigerBeetle 0.17's
 * create_accounts / create_transfers / lookup semantics, written independently of src/ledger
 * as a test oracle (tests/test_model.c compares the engine with it on every reply).
 *
 * Sources: /work/shared/reference/ledger-semantics.md, TigerBeetle's docs/reference (*.md) and,
 * where they are silent, src/state_machine.zig (create_account, create_transfer,
 * post_or_void_pending_transfer, *_exists, execute_create, expire_pending_transfers).
 *
 * It is simple rather than fast: accounts are a plain array scanned linearly (a test uses a few
 * dozen), transfers a plain array in creation order with an insert-only id table, and a linked
 * chain is rolled back by restoring a snapshot taken when the chain opened.
 *
 * Time follows the engine's public rule (include/khorgos.h, src/engine/engine.h):
 *   - a request that changes state with n events gets T = max(clock, last + 1) + max(n, 1) - 1;
 *     event i (from 0) gets T - n + i + 1, the first never before the clock; `last` becomes T;
 *   - before such a request, when the earliest pending expiry is <= T, a pulse runs first at
 *     max(clock, last + 1), expiring every pending transfer with expires_at <= that instant,
 *     and `last` becomes the pulse's timestamp; T is then computed again;
 *   - before a lookup the same pulse runs when the earliest expiry is <= clock;
 *   - advancing the manual clock runs the pulse when the earliest expiry is <= the new clock.
 *
 * Result timestamps (TigerBeetle 0.17): `created` gives the record's timestamp (an imported
 * event's own), `exists` the existing record's timestamp, every other status the timestamp
 * assigned to the event's slot in the request (T - n + i + 1): when it was validated.
 *
 * Every external symbol starts with reference_model_: every file in tests/support links into every test.
 * The model depends on nothing but include/khorgos.h's types and libc.
 */
#ifndef REFERENCE_MODEL_H
#define REFERENCE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "khorgos.h"

/* Accounts the model can hold; a linear scan over them is the whole index. */
#define REFERENCE_MODEL_ACCOUNT_COUNT_MAX 256u

/* The largest timestamp TigerBeetle allows (a u63): imported timestamps must not exceed it and
 * timestamp + timeout must not pass it (overflows_timeout). */
#define REFERENCE_MODEL_TIMESTAMP_MAX ((uint64_t)INT64_MAX)

enum reference_model_transfer_state {
    REFERENCE_MODEL_SINGLE_PHASE = 0, /* a posted transfer, or a post/void itself */
    REFERENCE_MODEL_PENDING = 1,
    REFERENCE_MODEL_POSTED = 2,
    REFERENCE_MODEL_VOIDED = 3,
    REFERENCE_MODEL_EXPIRED = 4,
};

struct reference_model_id_slot {
    khorgos_u128 id; /* 0: empty */
    uint32_t index;
    uint32_t padding[3];
};

/* What a linked chain may change, saved when it opens and restored when it fails. */
struct reference_model_snapshot {
    uint32_t account_count;
    struct khorgos_account accounts[REFERENCE_MODEL_ACCOUNT_COUNT_MAX];
    uint32_t transfer_count;
    uint32_t expiry_count;
    uint32_t *expiry_indexes;      /* copy of the expiry list */
    uint32_t *state_undo_indexes;  /* transfers whose state the chain changed ... */
    uint8_t *state_undo_values;    /* ... and their states before */
    uint32_t state_undo_count;
};

struct reference_model {
    uint64_t clock_ns;
    uint64_t timestamp_last;

    struct khorgos_account accounts[REFERENCE_MODEL_ACCOUNT_COUNT_MAX];
    uint32_t account_count;

    struct khorgos_transfer *transfers; /* creation order == timestamp order */
    uint8_t *transfer_states;           /* enum reference_model_transfer_state */
    /* Balances of each transfer's debit and credit accounts right after it: the history that
     * get_account_balances returns for accounts with the history flag. */
    struct khorgos_account_balance *transfer_balances; /* [2 * index] debit, [2 * index + 1] credit */
    uint32_t transfer_count;
    uint32_t transfer_count_max;

    /* Transfer id -> index. Insert only: an entry whose index is past transfer_count or points
     * at another id (left by a rolled-back chain) counts as absent. */
    struct reference_model_id_slot *transfer_slots;
    uint64_t transfer_slot_mask;
    uint32_t transfer_slot_used;

    /* Ids of transfers that failed with a transient status (id_already_failed). */
    struct reference_model_id_slot *failed_slots;
    uint64_t failed_slot_mask;
    uint32_t failed_slot_used;

    /* Indexes of pending transfers with a timeout that are still pending. */
    uint32_t *expiry_indexes;
    uint32_t expiry_count;

    bool chain_open;
    struct reference_model_snapshot snapshot;
};

/* Creates a model able to hold `transfer_count_max` transfers; NULL when out of memory. The
 * clock starts at KHORGOS_MANUAL_CLOCK_START_NS, like the engine's manual clock. */
struct reference_model *reference_model_create(uint32_t transfer_count_max);
void reference_model_destroy(struct reference_model *model);

/* The engine's operations. Each returns the request's timestamp as the engine reports it in
 * khorgos_request.timestamp (T for creates, the last assigned timestamp for lookups). */
uint64_t reference_model_create_accounts(struct reference_model *model,
                                         const struct khorgos_account *events, uint32_t count,
                                         struct khorgos_create_result *results);
uint64_t reference_model_create_transfers(struct reference_model *model,
                                          const struct khorgos_transfer *events, uint32_t count,
                                          struct khorgos_create_result *results);
uint64_t reference_model_lookup_accounts(struct reference_model *model, const khorgos_u128 *ids,
                                         uint32_t count, struct khorgos_account *out,
                                         uint32_t *out_count);
uint64_t reference_model_lookup_transfers(struct reference_model *model, const khorgos_u128 *ids,
                                          uint32_t count, struct khorgos_transfer *out,
                                          uint32_t *out_count);
void reference_model_clock_advance(struct reference_model *model, uint64_t nanoseconds);

/* The queries (get_account_transfers, query_accounts, query_transfers) with TigerBeetle's
 * filter rules: an invalid filter (zero limit, reserved bytes or unknown flags set, timestamps
 * of 2^64 - 1, min above a nonzero max; for an account filter also an account id of 0 or
 * 2^128 - 1, or neither debits nor credits) gives nothing; nonzero fields are ANDed; at most
 * min(limit, KHORGOS_BATCH_EVENTS_MAX) records, in timestamp order or reversed. */
uint64_t reference_model_get_account_transfers(struct reference_model *model,
                                               const struct khorgos_account_filter *filter,
                                               struct khorgos_transfer *out, uint32_t *out_count);
/* get_account_balances: the same filter and transfers as get_account_transfers, each as the
 * account's balances right after it; nothing unless the account has the history flag (expiry
 * writes no history, as in TigerBeetle). */
uint64_t reference_model_get_account_balances(struct reference_model *model,
                                              const struct khorgos_account_filter *filter,
                                              struct khorgos_account_balance *out,
                                              uint32_t *out_count);
uint64_t reference_model_query_accounts(struct reference_model *model,
                                        const struct khorgos_query_filter *filter,
                                        struct khorgos_account *out, uint32_t *out_count);
uint64_t reference_model_query_transfers(struct reference_model *model,
                                         const struct khorgos_query_filter *filter,
                                         struct khorgos_transfer *out, uint32_t *out_count);

/* The timestamp a create request of `count` events would get now (pulse included). */
uint64_t reference_model_timestamp_next(const struct reference_model *model, uint32_t count);

/* Read access for test generators: NULL when absent. */
const struct khorgos_account *reference_model_account_find(const struct reference_model *model,
                                                           khorgos_u128 id);
const struct khorgos_transfer *reference_model_transfer_find(const struct reference_model *model,
                                                             khorgos_u128 id,
                                                             uint8_t *state);
/* The earliest expires_at among pending transfers, 0 when none. */
uint64_t reference_model_expiry_next(const struct reference_model *model);

/* Checks, per ledger, that debits and credits balance (pending and posted alike) and that the
 * limit flags hold; returns true when they do. */
bool reference_model_invariants_hold(const struct reference_model *model);

/* Transient statuses burn a transfer id (TigerBeetle's CreateTransferResult.transient). */
bool reference_model_transfer_status_transient(uint32_t status);

#endif /* REFERENCE_MODEL_H */
