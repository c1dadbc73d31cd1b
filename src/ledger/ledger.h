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
 * Invariants (checked by ledger_check in tests, after every request, and on every snapshot
 * load):
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

/* One history entry, for an account with the history flag: its balances right after a transfer
 * touched it (transfer_index; the entry's timestamp is that transfer's). Entries are appended
 * in timestamp order, the debit account's before the credit account's for the same transfer.
 * Expiries append none (see ledger_expiry.c). */
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

/* Secondary indexes for queries; owned by ledger_query.c, whose header comment is the design.
 * A posting list holds record indexes in increasing timestamp order: one entry inline when it
 * has one, otherwise a block of a power-of-two size in a pool reserved at init. */
struct ledger_posting_list {
    u32 offset; /* count == 1: the entry itself; count >= 2: its block's offset in the pool */
    u32 count;
};

/* Blocks of 2^k entries (k >= 1), bump-allocated; freed blocks go to a free list per size. */
#define LEDGER_POSTING_CLASS_COUNT 33u
struct ledger_posting_pool {
    u32 *entries;
    u64 entry_count;     /* bump pointer */
    u64 entry_count_max; /* reserved at init: 4 x the entries its lists may ever hold */
    u64 free_head[LEDGER_POSTING_CLASS_COUNT]; /* offset + 1 of a free block; 0: none */
};

/* The fields query filters may name; each has a table per record kind. */
enum ledger_query_field {
    LEDGER_QUERY_FIELD_USER_DATA_128 = 0,
    LEDGER_QUERY_FIELD_USER_DATA_64 = 1,
    LEDGER_QUERY_FIELD_USER_DATA_32 = 2,
    LEDGER_QUERY_FIELD_LEDGER = 3,
    LEDGER_QUERY_FIELD_CODE = 4,
    LEDGER_QUERY_FIELD_COUNT = 5,
};

/* Values of the ledger and code fields below this are found by indexing an array by value, no
 * hashing: codes are u16, and ledgers are small in practice (ISO 4217 numeric currency codes). */
#define LEDGER_POSTING_DIRECT_VALUES 65536u
/* A field's nonzero values -> posting list of the records holding it. A slot holds the list
 * index + 1 in its low 32 bits (0: empty) and the value's hash's high 32 bits above; the value
 * itself is not stored but read from the list's first record when the hash bits agree. Ledger
 * and code tables also have `direct`: by value below LEDGER_POSTING_DIRECT_VALUES, the list
 * index + 1 (0: none); such values never enter the slots (code has no slots at all). */
struct ledger_posting_table {
    u64 *slots; /* NULL when every value is direct */
    u64 slot_mask;
    u32 *direct; /* NULL for the user_data fields */
    struct ledger_posting_list *lists;
    u32 list_count;
    u32 list_count_max;
    u32 field;        /* enum ledger_query_field */
    bool of_accounts; /* records are accounts (else transfers) */
    struct ledger_posting_pool pool;
};

/* Transfers' account indexes, by transfer index modulo this, noted by create_transfers so
 * ledger_index_update need not look both accounts up again (a hint: checked against the ids,
 * and looked up when stale). A power of two of at least a batch, so a request's hints do not
 * overwrite each other. */
#define LEDGER_QUERY_HINT_COUNT 8192u
struct ledger_query_index {
    /* By side (0: the account is the debit side, 1: the credit side), then account index: the
     * transfers on that side of it, and its history entries of those transfers. */
    struct ledger_posting_list *account_transfers[2];
    struct ledger_posting_pool account_transfer_pool;
    struct ledger_posting_list *account_balances[2];
    struct ledger_posting_pool account_balance_pool;
    struct ledger_posting_table account_tables[LEDGER_QUERY_FIELD_COUNT];
    struct ledger_posting_table transfer_tables[LEDGER_QUERY_FIELD_COUNT];
    u32 *account_hints; /* [LEDGER_QUERY_HINT_COUNT][2]: debit, credit account index */
    u32 account_count_max;
    u32 indexed_account_count; /* records [0, indexed_*) are indexed */
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
    /* The same ids in the order they failed (never removed), for the digest. */
    u128 *failed_transfer_ids;
    u32 failed_transfer_count;

    struct ledger_expiry *expiries; /* a binary min-heap */
    u32 expiry_count;

    struct ledger_balance_entry *balances; /* [account_balance_count_max] */
    u32 balance_count;
    /* History entries kept free for later appends that cannot be refused. Always 0: expiries
     * append no history (ledger_expiry.c); kept so the snapshot format need not change. */
    u32 balance_reserved_count;

    /* The last timestamp the ledger applied (a request's or a pulse's): the next must exceed
     * it by at least its event count. */
    u64 timestamp_last;

    struct ledger_undo *undo_log;
    u32 undo_count;
    u32 undo_count_max;
    /* A linked chain is being applied and its changes are logged (ledger_state.c). */
    bool chain_open;
    /* An account is logged once per chain: account_undo_marks[i] == undo_mark once it is. */
    u32 *account_undo_marks; /* [account_count_max] */
    u32 undo_mark;
    /* A chain that goes on into the next create call (ledger_chain_continue), and where it
     * started: the counts its rollback truncates back to. */
    bool chain_continued;
    u32 chain_continued_account_count;
    u32 chain_continued_transfer_count;
    u32 chain_continued_balance_count;

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
/* For the engine's own chains longer than a request may be (settlement's sets, settle.h): the
 * linked chain open at the end of the next create call is not answered linked_event_chain_open
 * but goes on into the following calls, until an event without the linked flag ends it. Every
 * call of it must fit ledger_capacity_transfers; the undo log holds any number of calls
 * because each account is logged once per chain. A failure anywhere rolls back the whole
 * chain, earlier calls included (their results already said created: such callers book only
 * what they checked, so they treat any failure as a bug). */
void ledger_chain_continue(struct ledger *ledger);

/* Whether a request of `count` events is sure to fit the remaining capacity (checked by the
 * engine before applying, so a full ledger refuses a request whole instead of half-applying). */
bool ledger_capacity_accounts(const struct ledger *ledger, u32 count);
bool ledger_capacity_transfers(const struct ledger *ledger, u32 count);

/* Expiry. ledger_expiry_next is the earliest expires_at of a pending transfer, 0 if none;
 * ledger_pulse expires, in expiry order, every pending transfer due at or before timestamp. */
u64 ledger_expiry_next(const struct ledger *ledger);
u32 ledger_pulse(struct ledger *ledger, u64 timestamp);
/* How many pending transfers are due at `timestamp` (what a pulse there would expire). */
u32 ledger_expiry_due_count(const struct ledger *ledger, u64 timestamp);

/* The query indexes (ledger_query.c): ledger_init calls ledger_query_index_init with its config
 * (returns ok, out_of_memory, or invalid_argument when a capacity exceeds what the index's u32
 * offsets can address); ledger_deinit calls ledger_query_index_deinit (safe on a zeroed index). */
khorgos_error ledger_query_index_init(struct ledger_query_index *index,
                                      const struct ledger_config *config);
void ledger_query_index_deinit(struct ledger_query_index *index);
/* Makes every page the ledger (and its query indexes) reserved resident (base_memory_prefault),
 * keeping its contents: a server's choice at open, so no request pays a first-touch page fault
 * (the id maps are touched at random, so the first batches would fault on most inserts). */
void ledger_prefault(struct ledger *ledger);
void ledger_query_index_prefault(struct ledger_query_index *index);

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
/* The same but for the id maps (invariant 4, and no transfer id among the failed ones): for a
 * snapshot's load, whose maps are built from the records with those checks
 * (ledger_snapshot.c), so probing a cold map again per record would only repeat them. */
bool ledger_check_records(const struct ledger *ledger);

/* ---- the ledger's snapshot section (ledger_snapshot.c documents its bytes) ---------------- */

/* Written and read through the storage layer's section writer and reader, which the engine
 * hands in: ledger_snapshot.c alone includes storage.h, for them and nothing else. */
struct storage_writer;
struct storage_reader;
#define LEDGER_SNAPSHOT_VERSION 1u
void ledger_snapshot_write(const struct ledger *ledger, struct storage_writer *writer);

/* The ledger's state at one instant, as a snapshot and its digest see it: the counts, and where
 * each array's first `count` records are. A live view points at the ledger's own arrays; a
 * captured view (a checkpoint written while the ledger goes on, engine_storage.c) points at
 * copies of the mutable arrays (accounts, transfer_states, the expiry heap) and at the live
 * append-only ones (transfers, failed_transfer_ids, balances), which later requests only
 * append to, never change below the counts fixed here (ledger_state.c: records are appended
 * and a rolled-back chain truncates only what it appended). */
struct ledger_view {
    u32 account_count;
    u32 transfer_count;
    u32 failed_transfer_count;
    u32 expiry_count;
    u32 balance_count;
    u32 balance_reserved_count;
    u64 timestamp_last;
    const struct khorgos_account *accounts;
    const struct khorgos_transfer *transfers;
    const u8 *transfer_states;
    const u128 *failed_transfer_ids;
    const struct ledger_expiry *expiries;
    const struct ledger_balance_entry *balances;
};
/* The live state, nothing copied (between requests). */
void ledger_view_live(const struct ledger *ledger, struct ledger_view *view);
/* Copies the mutable arrays into the buffers given, sized for the ledger's capacities
 * (account_count_max accounts, transfer_count_max states and expiries); the cost is
 * proportional to the mutable state, not to the transfers. */
void ledger_view_capture(const struct ledger *ledger, struct ledger_view *view,
                         struct khorgos_account *accounts, u8 *transfer_states,
                         struct ledger_expiry *expiries);
void ledger_view_write(const struct ledger_view *view, struct storage_writer *writer);
/* ledger_digest of the state the view shows (ledger_state.c): equal to ledger_digest of the
 * ledger at the instant the view was taken, byte for byte. */
u128 ledger_view_digest(const struct ledger_view *view);
/* Loads a section into a ledger freshly initialized with the directory's capacities; rebuilds
 * the id maps and query indexes. corrupt when the section does not describe a valid state. */
khorgos_error ledger_snapshot_read(struct ledger *ledger, struct storage_reader *reader);

#endif /* KHORGOS_LEDGER_H */
