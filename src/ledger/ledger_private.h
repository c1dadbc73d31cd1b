/*
 * ledger_private.h: what the state machine's files share and nothing outside the ledger layer
 * may use: the linked-chain driver and its undo log (ledger_state.c), record lookups, history
 * entries, and the expiry heap's private operations (ledger_expiry.c).
 *
 * The batch driver. create_accounts and create_transfers differ only in how one event is
 * validated and applied; everything around it (timestamps, the imported flag's batch rule,
 * linked chains and their rollback, result timestamps) is one function, ledger_batch_apply,
 * parameterised by a struct ledger_batch_kind. This works because the two records share their
 * layout where the driver looks (flags at byte 118, timestamp at byte 120) and the two status
 * enums share their first eight values (checked below).
 */
#ifndef KHORGOS_LEDGER_PRIVATE_H
#define KHORGOS_LEDGER_PRIVATE_H

#include "ledger/ledger.h"

#include <stddef.h>

/* The largest timestamp TigerBeetle accepts (the top bit of a u64 is reserved), so imported
 * timestamps and timeouts are bounded by it. */
#define LEDGER_TIMESTAMP_MAX ((u64)INT64_MAX)
#define LEDGER_NANOSECONDS_PER_SECOND 1000000000ull
/* Undo entries one transfer event may push: its two accounts and its pending transfer's state.
 * Records appended by a chain (accounts, transfers, history) are undone by truncation. */
#define LEDGER_UNDO_PER_EVENT_MAX 3u
#define LEDGER_UNDO_COUNT_MAX (LEDGER_UNDO_PER_EVENT_MAX * LIMIT_BATCH_EVENTS_MAX)
/* History entries one transfer may append: one per account with the history flag. */
#define LEDGER_BALANCES_PER_TRANSFER_MAX 2u

_Static_assert(offsetof(struct khorgos_account, flags) == offsetof(struct khorgos_transfer, flags),
               "the batch driver reads flags at one offset");
_Static_assert(offsetof(struct khorgos_account, timestamp) ==
                   offsetof(struct khorgos_transfer, timestamp),
               "the batch driver reads the timestamp at one offset");
_Static_assert((int)KHORGOS_ACCOUNT_LINKED == (int)KHORGOS_TRANSFER_LINKED, "one linked bit");
#define LEDGER_SHARED_STATUS_(name)                                                                \
    _Static_assert((int)KHORGOS_CREATE_ACCOUNT_##name == (int)KHORGOS_CREATE_TRANSFER_##name,      \
                   "shared status " #name);
LEDGER_SHARED_STATUS_(created)
LEDGER_SHARED_STATUS_(linked_event_failed)
LEDGER_SHARED_STATUS_(linked_event_chain_open)
LEDGER_SHARED_STATUS_(imported_event_expected)
LEDGER_SHARED_STATUS_(imported_event_not_expected)
LEDGER_SHARED_STATUS_(timestamp_must_be_zero)
LEDGER_SHARED_STATUS_(imported_event_timestamp_out_of_range)
LEDGER_SHARED_STATUS_(imported_event_timestamp_must_not_advance)
#undef LEDGER_SHARED_STATUS_

/* Undo entry kinds (struct ledger_undo.kind). */
enum ledger_undo_kind {
    LEDGER_UNDO_ACCOUNT = 1,        /* accounts[index] = account_before */
    LEDGER_UNDO_TRANSFER_STATE = 2, /* transfer_states[index] = value */
};

/* One event of a batch as the driver sees it. */
struct ledger_event {
    const void *record;
    u64 timestamp;         /* the timestamp assigned to it: T - n + i + 1 */
    u64 request_timestamp; /* T */
};

/* How one kind of record is created. */
struct ledger_batch_kind {
    u32 record_size;
    u16 imported_flag;
    u32 status_exists;
    /* Validates and applies one event; returns its status and sets *result_timestamp when the
     * status is created or exists (the record's timestamp). */
    u32 (*apply)(struct ledger *ledger, const struct ledger_event *event, u64 *result_timestamp);
    /* Called for each failed event after any rollback (burns transient transfer ids). */
    void (*failed)(struct ledger *ledger, const void *record, u32 status);
    /* Asks the CPU for the cache lines a later event's apply will miss on (its id's home slot
     * in the map), or NULL. Changes nothing the ledger holds. */
    void (*prefetch)(const struct ledger *ledger, const void *record);
};

/* How many events ahead of the one applied ledger_batch_apply prefetches. A new id's home slot
 * is a cache miss in a map far larger than the cache; an event's apply takes about as long as
 * a few misses, so one a few events ahead has arrived when its event comes. Measured in memory
 * (khorgos benchmark, 2,000,000 transfers, four pairs): 1.47-1.58 million transfers per second
 * against 1.19-1.36 million without; 2, 8, 16 and 32 ahead were no better than 4. */
#define LEDGER_PREFETCH_EVENTS_AHEAD 4u

void ledger_batch_apply(struct ledger *ledger, const struct ledger_batch_kind *kind, u64 timestamp,
                        const void *records, u32 count, struct khorgos_create_result *results);

/* Saves accounts[index] (or a transfer's state) before a change, when a chain is open. */
void ledger_undo_account(struct ledger *ledger, u32 account_index);
void ledger_undo_transfer_state(struct ledger *ledger, u32 transfer_index);

/* Lookups. */
bool ledger_account_index(const struct ledger *ledger, u128 id, u32 *index);
bool ledger_transfer_index(const struct ledger *ledger, u128 id, u32 *index);
bool ledger_account_timestamp_exists(const struct ledger *ledger, u64 timestamp);
bool ledger_transfer_timestamp_exists(const struct ledger *ledger, u64 timestamp);

/* Appends history entries for the accounts of a transfer that have the history flag. */
void ledger_history_append(struct ledger *ledger, u32 debit_index, u32 credit_index,
                           u32 transfer_index, u64 timestamp);

/* Notes a new transfer's account indexes for ledger_index_update (ledger_query.c), which checks
 * the hint against the transfer's account ids before trusting it. */
static inline void ledger_index_hint(struct ledger *ledger, u32 transfer_index, u32 debit_index,
                                     u32 credit_index) {
    _Static_assert((LEDGER_QUERY_HINT_COUNT & (LEDGER_QUERY_HINT_COUNT - 1)) == 0, "a power of 2");
    _Static_assert(LEDGER_QUERY_HINT_COUNT >= LIMIT_BATCH_EVENTS_MAX, "a batch's hints fit");
    ASSERT(debit_index != credit_index);
    u32 *hint = &ledger->query_index
                     .account_hints[2 * (transfer_index & (LEDGER_QUERY_HINT_COUNT - 1))];
    hint[0] = debit_index;
    hint[1] = credit_index;
}

/* The expiry heap (ledger_expiry.c). */
void ledger_expiry_push(struct ledger *ledger, u64 expires_at, u32 transfer_index);
/* Pops entries whose transfer is no longer pending (posted or voided since). */
void ledger_expiry_drop_resolved(struct ledger *ledger);
u64 ledger_transfer_expires_at(const struct khorgos_transfer *transfer);

/* The chain of the batch being applied (ledger_state.c). */
bool ledger_chain_is_open(const struct ledger *ledger);

#endif /* KHORGOS_LEDGER_PRIVATE_H */
