/*
 * ledger: the double-entry state machine (accounts, transfers, two-phase transfers, expiry,
 * linked chains, history) and its queries, with TigerBeetle 0.17's semantics.
 *
 * Files of this layer
 *   ledger_state.c    init/deinit, records, undo log for linked chains, digest
 *   ledger_accounts.c create_accounts and its statuses
 *   ledger_transfers.c create_transfers and its statuses, pending/post/void, balancing, closing
 *   ledger_expiry.c   pending timeouts: the expiry heap and ledger_pulse
 *   ledger_query.c    lookups, get_account_transfers/balances, query_accounts/transfers, and the
 *                     secondary indexes they walk
 *
 * Memory. Everything is reserved in ledger_init from the config's capacities; no function
 * below allocates. A create that would exceed a capacity is not applied (see ledger_capacity_*).
 *
 * Records are stored in arrays in creation order, which is timestamp order (timestamps are
 * strictly increasing, imported ones included: they must not regress), so a timestamp range is a
 * binary search and "reversed" is walking backwards.
 *
 * Time. The caller (the engine) assigns each request a timestamp T, the last event's; event i of
 * n gets T - n + i + 1, as TigerBeetle does. The ledger never reads a clock: the same requests
 * with the same timestamps produce byte-identical state and replies.
 *
 * Linked chains. Effects of a chain's events are applied as they come and recorded in an undo
 * log; when the chain fails they are undone in reverse order, so arrays are truncated back and
 * balances restored. Secondary query indexes are updated only after a whole request is applied
 * (ledger_index_update), so they never see rolled-back records.
 *
 * Invariants (checked by ledger_check in tests, after every request):
 *  1. Per ledger, the sums over accounts of debits_pending and credits_pending are equal, and so
 *     are the sums of debits_posted and credits_posted.
 *  2. Timestamps of accounts (and of transfers) strictly increase with their array index.
 *  3. An account with debits_must_not_exceed_credits has debits_pending + debits_posted <=
 *     credits_posted; symmetrically for credits_must_not_exceed_debits.
 *  4. The id maps hold exactly the ids of the records in the arrays.
 */
#ifndef KHORGOS_LEDGER_H
#define KHORGOS_LEDGER_H

#include "base/base.h"

struct ledger_config {
    u32 account_count_max;
    u32 transfer_count_max;
    u32 account_balance_count_max;
};

/* The state of a transfer as a two-phase transfer. */
enum ledger_transfer_state {
    LEDGER_TRANSFER_SINGLE_PHASE = 0, /* not pending: posted at once, or a post/void itself */
    LEDGER_TRANSFER_PENDING = 1,      /* reserved, waiting for post, void or expiry */
    LEDGER_TRANSFER_POSTED = 2,
    LEDGER_TRANSFER_VOIDED = 3,
    LEDGER_TRANSFER_EXPIRED = 4,
};

/* A pending transfer waiting to expire: the heap is ordered by (expires_at, transfer index). */
struct ledger_expiry {
    u64 expires_at;
    u32 transfer_index;
    u32 padding;
};

/* One history entry, for an account with the history flag. */
struct ledger_balance_entry {
    struct khorgos_account_balance balance;
    u32 account_index;
    u32 transfer_index;
    u64 padding;
};

/* One step of the undo log of the open linked chain (see ledger_state.c). */
struct ledger_undo {
    u32 kind;
    u32 index;
    u64 value;
    struct khorgos_account account_before; /* for balance / flag changes */
};

/* Secondary indexes for queries; owned by ledger_query.c. */
struct ledger_query_index {
    /* Per account: the transfers that debit or credit it, in timestamp order, kept as a
     * chunked list in a pool reserved at init (see ledger_query.c). */
    u32 *account_transfer_head;  /* [account_count_max] first chunk, or U32_MAX */
    u32 *account_transfer_tail;  /* [account_count_max] last chunk, or U32_MAX */
    u32 *account_transfer_count; /* [account_count_max] */
    void *chunks;                /* pool of chunks */
    u32 chunk_count;
    u32 chunk_count_max;
    u32 indexed_account_count;   /* records [0, indexed_*) are indexed */
    u32 indexed_transfer_count;
    u32 indexed_balance_count;
};

struct ledger {
    struct ledger_config config;

    struct khorgos_account *accounts;
    u32 account_count;
    struct base_id_map account_map;

    struct khorgos_transfer *transfers;
    u8 *transfer_states; /* enum ledger_transfer_state, by transfer index */
    u32 transfer_count;
    struct base_id_map transfer_map;

    /* Ids that failed for a transient reason: a later attempt answers id_already_failed. */
    struct base_id_map failed_transfer_map;

    struct ledger_expiry *expiries; /* a binary min-heap */
    u32 expiry_count;

    struct ledger_balance_entry *balances;
    u32 balance_count;

    struct ledger_undo *undo_log;
    u32 undo_count;
    u32 undo_count_max;

    struct ledger_query_index query_index;
};

khorgos_error ledger_init(struct ledger *ledger, const struct ledger_config *config);
void ledger_deinit(struct ledger *ledger);

/* Applies a request's events; `timestamp` is the last event's. One result per event. */
void ledger_create_accounts(struct ledger *ledger, u64 timestamp,
                            const struct khorgos_account *events, u32 count,
                            struct khorgos_create_result *results);
void ledger_create_transfers(struct ledger *ledger, u64 timestamp,
                             const struct khorgos_transfer *events, u32 count,
                             struct khorgos_create_result *results);

/* Whether a request of `count` events is sure to fit the remaining capacity (checked by the
 * engine before applying, so a full ledger refuses a request whole instead of half-applying). */
bool ledger_capacity_accounts(const struct ledger *ledger, u32 count);
bool ledger_capacity_transfers(const struct ledger *ledger, u32 count);

/* Expiry. ledger_expiry_next is the earliest expires_at of a pending transfer, 0 if none;
 * ledger_pulse expires, in expiry order, every pending transfer due at or before timestamp. */
u64 ledger_expiry_next(const struct ledger *ledger);
u32 ledger_pulse(struct ledger *ledger, u64 timestamp);

/* Brings the query indexes up to date with the records; called after each request. */
void ledger_index_update(struct ledger *ledger);

/* Queries write at most `count_max` records to `out` and return how many they wrote. */
u32 ledger_lookup_accounts(const struct ledger *ledger, const u128 *ids, u32 count,
                           struct khorgos_account *out);
u32 ledger_lookup_transfers(const struct ledger *ledger, const u128 *ids, u32 count,
                            struct khorgos_transfer *out);
u32 ledger_get_account_transfers(const struct ledger *ledger,
                                 const struct khorgos_account_filter *filter,
                                 struct khorgos_transfer *out, u32 count_max);
u32 ledger_get_account_balances(const struct ledger *ledger,
                                const struct khorgos_account_filter *filter,
                                struct khorgos_account_balance *out, u32 count_max);
u32 ledger_query_accounts(const struct ledger *ledger, const struct khorgos_query_filter *filter,
                          struct khorgos_account *out, u32 count_max);
u32 ledger_query_transfers(const struct ledger *ledger, const struct khorgos_query_filter *filter,
                           struct khorgos_transfer *out, u32 count_max);

/* A digest of the whole state (records, states, failed ids, expiries, history), for replay and
 * recovery checks: equal states give equal digests. */
u128 ledger_digest(const struct ledger *ledger);

/* Checks the invariants above; returns true when they hold. For tests. */
bool ledger_check(const struct ledger *ledger);

#endif /* KHORGOS_LEDGER_H */
