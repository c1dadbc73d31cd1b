/*
 * ledger_state.c: the ledger's memory, the batch driver with its linked-chain undo log, the
 * capacity checks, the digest and the invariant check.
 *
 * Memory (all reserved by ledger_init from struct ledger_config; nothing is allocated later):
 *   accounts          [account_count_max] struct khorgos_account, creation (= timestamp) order
 *   account_map       id -> account index, room for account_count_max ids
 *   transfers         [transfer_count_max] struct khorgos_transfer, creation (= timestamp) order
 *   transfer_states   [transfer_count_max] u8, enum ledger_transfer_state
 *   transfer_map      id -> transfer index, room for transfer_count_max ids
 *   failed_transfer_map / failed_transfer_ids
 *                     ids burnt by a transient failure, room for transfer_count_max (each event
 *                     burns at most one id, so a request is refused before it could overflow)
 *   expiries          [transfer_count_max] min-heap (ledger_expiry.c); each transfer enters once
 *   balances          [account_balance_count_max] history entries, timestamp order
 *   undo_log          [LEDGER_UNDO_COUNT_MAX + account_count_max]: each account is logged
 *                     once per chain (account_undo_marks), so a full batch of linked transfers
 *                     fits, and so does a continued chain of any length over existing accounts
 *                     (below); 144 bytes per account of capacity, touched only when used
 *   account_undo_marks [account_count_max] u32: the chain (undo_mark) that logged the account
 *
 * Requests. The engine gives each create request a timestamp T, the last event's: event i of n
 * is assigned T - n + i + 1, and T - n must be at least the last timestamp the ledger applied
 * (ledger->timestamp_last), so assigned timestamps strictly increase over the ledger's life.
 *
 * Results (TigerBeetle 0.17 returns {timestamp, status} for every event):
 *   created       the record's timestamp: the assigned one, or the user's for imported events;
 *   exists        the existing record's timestamp;
 *   anything else the timestamp assigned to the event (T - n + i + 1), which is the instant the
 *                 event was decided; an event rolled back with its chain keeps the timestamp
 *                 its own outcome gave and takes the status linked_event_failed.
 *
 * Linked chains. States of the driver (struct ledger_chain), moved by ledger_batch_apply:
 *   closed --(event with linked)--> open --(an event fails)--> broken --(chain ends)--> closed
 *   open --(an event without linked succeeds: it ends the chain)--> closed (committed)
 * A chain ends at its first event without linked, or at the batch's last event, which then
 * answers linked_event_chain_open (a failure, so the chain breaks).
 * While open, every change to an existing record is logged first (ledger_undo_*: an account's
 * whole record, or a transfer's state); records appended (accounts, transfers, history) are
 * undone by truncating back to the counts saved when the chain opened, removing their ids from
 * the maps. The expiry heap is not touched inside a request (new pending transfers enter it
 * when the request ends; resolved ones leave it lazily), so it needs no undo. As in TigerBeetle,
 * the linked flag on a batch's last event answers linked_event_chain_open even when the chain
 * already broke, and a transient failure that breaks a chain still burns its id (the burn is
 * applied after the rollback, outside the chain).
 *
 * Continued chains (ledger_chain_continue): the engine's own chains may be longer than a
 * request (settlement books a whole set of payments, all receipts then all payments, as one
 * chain). The caller gives it in several create calls; a chain still open at the end of a call
 * is kept open (ledger->chain_continued with its starting counts) instead of answering
 * linked_event_chain_open, and the next call goes on with it. Breaking rolls back to the
 * starting counts, so earlier calls' records go too. Why not one call of any length: the
 * batch's scratch (results, hints, the undo log of transfer states) stays bounded by a batch,
 * and the caller's chain buffer too.
 *
 * Invariants checked by ledger_check (numbered as in ledger.h, plus):
 *  5. transfer_states are consistent with flags: only pending transfers are in states 1..4.
 *  6. Sum of debits_pending over all accounts = sum of amounts of transfers in state PENDING.
 *  7. History entries have non-decreasing timestamps, name a history account and the transfer
 *     whose timestamp they carry.
 *  8. The expiry heap is a heap; its live entries are exactly the pending transfers with a
 *     timeout.
 */
#include "ledger/ledger_private.h"

#include <stdlib.h>

/* ----------------------------------------------------------------------------------------- */
/* Init and deinit.                                                                           */

static bool ledger_config_valid(const struct ledger_config *config) {
    ASSERT(config != NULL);
    return config->account_count_max > 0 && config->account_count_max <= LIMIT_ACCOUNT_COUNT_MAX &&
           config->transfer_count_max > 0 &&
           config->transfer_count_max <= LIMIT_TRANSFER_COUNT_MAX &&
           config->account_balance_count_max > 0 &&
           config->account_balance_count_max <= LIMIT_ACCOUNT_BALANCE_COUNT_MAX;
}

static khorgos_error ledger_reserve_arrays(struct ledger *ledger) {
    const struct ledger_config *config = &ledger->config;
    ledger->accounts = calloc(config->account_count_max, sizeof(struct khorgos_account));
    ledger->transfers = calloc(config->transfer_count_max, sizeof(struct khorgos_transfer));
    ledger->transfer_states = calloc(config->transfer_count_max, sizeof(u8));
    ledger->failed_transfer_ids = calloc(config->transfer_count_max, sizeof(u128));
    ledger->expiries = calloc(config->transfer_count_max, sizeof(struct ledger_expiry));
    ledger->balances =
        calloc(config->account_balance_count_max, sizeof(struct ledger_balance_entry));
    ledger->undo_count_max = LEDGER_UNDO_COUNT_MAX + config->account_count_max;
    ledger->undo_log = calloc(ledger->undo_count_max, sizeof(struct ledger_undo));
    ledger->account_undo_marks = calloc(config->account_count_max, sizeof(u32));
    if (ledger->accounts == NULL || ledger->transfers == NULL || ledger->transfer_states == NULL ||
        ledger->failed_transfer_ids == NULL || ledger->expiries == NULL ||
        ledger->balances == NULL || ledger->undo_log == NULL ||
        ledger->account_undo_marks == NULL) {
        return KHORGOS_ERROR_out_of_memory;
    }
    return KHORGOS_ERROR_ok;
}

khorgos_error ledger_init(struct ledger *ledger, const struct ledger_config *config) {
    ASSERT(ledger != NULL);
    ASSERT(config != NULL);
    memset(ledger, 0, sizeof(*ledger));
    if (!ledger_config_valid(config)) return KHORGOS_ERROR_invalid_argument;
    ledger->config = *config;
    khorgos_error error = ledger_reserve_arrays(ledger);
    if (error != KHORGOS_ERROR_ok) goto release_memory;
    error = base_id_map_init(&ledger->account_map, config->account_count_max);
    if (error != KHORGOS_ERROR_ok) goto release_memory;
    error = base_id_map_init(&ledger->transfer_map, config->transfer_count_max);
    if (error != KHORGOS_ERROR_ok) goto release_memory;
    error = base_id_map_init(&ledger->failed_transfer_map, config->transfer_count_max);
    if (error != KHORGOS_ERROR_ok) goto release_memory;
    error = ledger_query_index_init(&ledger->query_index, config);
    if (error != KHORGOS_ERROR_ok) goto release_memory;
    ASSERT(ledger->account_count == 0 && ledger->transfer_count == 0);
    return KHORGOS_ERROR_ok;
release_memory:
    ledger_deinit(ledger);
    return error;
}

static void ledger_id_map_prefault(struct base_id_map *map) {
    ASSERT(map->slots != NULL);
    base_memory_resident(map->slots, (size_t)(map->slot_mask + 1) * sizeof(*map->slots));
}

void ledger_prefault(struct ledger *ledger) {
    ASSERT(ledger != NULL && ledger->accounts != NULL);
    ASSERT(!ledger->chain_open);
    const struct ledger_config *config = &ledger->config;
    base_memory_resident(ledger->accounts, config->account_count_max * sizeof(*ledger->accounts));
    base_memory_resident(ledger->transfers,
                         (size_t)config->transfer_count_max * sizeof(*ledger->transfers));
    base_memory_resident(ledger->transfer_states, config->transfer_count_max);
    base_memory_resident(ledger->failed_transfer_ids,
                         (size_t)config->transfer_count_max * sizeof(u128));
    base_memory_resident(ledger->expiries,
                         (size_t)config->transfer_count_max * sizeof(*ledger->expiries));
    base_memory_resident(ledger->balances,
                         (size_t)config->account_balance_count_max * sizeof(*ledger->balances));
    base_memory_resident(ledger->undo_log,
                         (size_t)ledger->undo_count_max * sizeof(*ledger->undo_log));
    base_memory_resident(ledger->account_undo_marks, config->account_count_max * sizeof(u32));
    ledger_id_map_prefault(&ledger->account_map);
    ledger_id_map_prefault(&ledger->transfer_map);
    ledger_id_map_prefault(&ledger->failed_transfer_map);
    ledger_query_index_prefault(&ledger->query_index);
}

void ledger_deinit(struct ledger *ledger) {
    ASSERT(ledger != NULL);
    ASSERT(!ledger->chain_open);
    ledger_query_index_deinit(&ledger->query_index);
    base_id_map_deinit(&ledger->account_map);
    base_id_map_deinit(&ledger->transfer_map);
    base_id_map_deinit(&ledger->failed_transfer_map);
    free(ledger->accounts);
    free(ledger->transfers);
    free(ledger->transfer_states);
    free(ledger->failed_transfer_ids);
    free(ledger->expiries);
    free(ledger->balances);
    free(ledger->undo_log);
    free(ledger->account_undo_marks);
    memset(ledger, 0, sizeof(*ledger));
}

/* ----------------------------------------------------------------------------------------- */
/* Capacity.                                                                                  */

bool ledger_capacity_accounts(const struct ledger *ledger, u32 count) {
    ASSERT(ledger != NULL);
    ASSERT(ledger->account_count <= ledger->config.account_count_max);
    if (count > LIMIT_BATCH_EVENTS_MAX) return false;
    return (u64)ledger->account_count + count <= ledger->config.account_count_max;
}

/* A transfer appends up to two history entries (expiries append none); the undo log always
 * holds a full batch. */
bool ledger_capacity_transfers(const struct ledger *ledger, u32 count) {
    ASSERT(ledger != NULL);
    ASSERT(ledger->undo_count_max >= LEDGER_UNDO_PER_EVENT_MAX * LIMIT_BATCH_EVENTS_MAX);
    if (count > LIMIT_BATCH_EVENTS_MAX) return false;
    const struct ledger_config *config = &ledger->config;
    ASSERT(ledger->balance_reserved_count == 0);
    u64 balances = (u64)ledger->balance_count + (u64)LEDGER_BALANCES_PER_TRANSFER_MAX * count;
    return (u64)ledger->transfer_count + count <= config->transfer_count_max &&
           (u64)ledger->failed_transfer_count + count <= config->transfer_count_max &&
           balances <= config->account_balance_count_max;
}

/* ----------------------------------------------------------------------------------------- */
/* Lookups.                                                                                   */

bool ledger_account_index(const struct ledger *ledger, u128 id, u32 *index) {
    ASSERT(id != 0 && id != U128_MAX);
    bool found = base_id_map_get(&ledger->account_map, id, index);
    ASSERT(!found || *index < ledger->account_count);
    return found;
}

bool ledger_transfer_index(const struct ledger *ledger, u128 id, u32 *index) {
    ASSERT(id != 0 && id != U128_MAX);
    bool found = base_id_map_get(&ledger->transfer_map, id, index);
    ASSERT(!found || *index < ledger->transfer_count);
    return found;
}

/* Binary search over records sorted by timestamp, `stride` bytes apart. */
static bool ledger_timestamp_search(const void *records, u32 count, size_t stride, u64 timestamp) {
    ASSERT(records != NULL);
    ASSERT(stride >= sizeof(u64));
    u32 low = 0;
    u32 high = count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        u64 found = 0;
        memcpy(&found,
               (const u8 *)records + (size_t)middle * stride +
                   offsetof(struct khorgos_account, timestamp),
               sizeof(found));
        if (found == timestamp) return true;
        if (found < timestamp)
            low = middle + 1;
        else
            high = middle;
    }
    return false;
}

bool ledger_account_timestamp_exists(const struct ledger *ledger, u64 timestamp) {
    ASSERT(timestamp > 0);
    return ledger_timestamp_search(ledger->accounts, ledger->account_count,
                                   sizeof(struct khorgos_account), timestamp);
}

bool ledger_transfer_timestamp_exists(const struct ledger *ledger, u64 timestamp) {
    ASSERT(timestamp > 0);
    return ledger_timestamp_search(ledger->transfers, ledger->transfer_count,
                                   sizeof(struct khorgos_transfer), timestamp);
}

/* ----------------------------------------------------------------------------------------- */
/* History.                                                                                   */

static void ledger_history_append_one(struct ledger *ledger, u32 account_index, u32 transfer_index,
                                      u64 timestamp) {
    const struct khorgos_account *account = &ledger->accounts[account_index];
    if ((account->flags & KHORGOS_ACCOUNT_HISTORY) == 0) return;
    ASSERT(ledger->balance_count < ledger->config.account_balance_count_max);
    ASSERT(ledger->balance_count == 0 ||
           ledger->balances[ledger->balance_count - 1].balance.timestamp <= timestamp);
    struct ledger_balance_entry *entry = &ledger->balances[ledger->balance_count++];
    memset(entry, 0, sizeof(*entry));
    entry->balance.debits_pending = account->debits_pending;
    entry->balance.debits_posted = account->debits_posted;
    entry->balance.credits_pending = account->credits_pending;
    entry->balance.credits_posted = account->credits_posted;
    entry->balance.timestamp = timestamp;
    entry->account_index = account_index;
    entry->transfer_index = transfer_index;
}

void ledger_history_append(struct ledger *ledger, u32 debit_index, u32 credit_index,
                           u32 transfer_index, u64 timestamp) {
    ASSERT(transfer_index < ledger->transfer_count);
    ASSERT(timestamp > 0);
    ledger_history_append_one(ledger, debit_index, transfer_index, timestamp);
    ledger_history_append_one(ledger, credit_index, transfer_index, timestamp);
}

/* ----------------------------------------------------------------------------------------- */
/* The undo log.                                                                              */

bool ledger_chain_is_open(const struct ledger *ledger) {
    ASSERT(ledger != NULL);
    ASSERT(ledger->chain_open || ledger->undo_count == 0);
    return ledger->chain_open;
}

static struct ledger_undo *ledger_undo_next(struct ledger *ledger) {
    ASSERT(ledger->chain_open);
    ASSERT(ledger->undo_count < ledger->undo_count_max);
    return &ledger->undo_log[ledger->undo_count++];
}

void ledger_undo_account(struct ledger *ledger, u32 account_index) {
    ASSERT(account_index < ledger->account_count);
    if (!ledger->chain_open) return;
    /* The first save of an account in a chain holds its state before the chain; later ones
     * would be overwritten by it on rollback (newest first), so they are not needed. */
    ASSERT(ledger->undo_mark != 0);
    if (ledger->account_undo_marks[account_index] == ledger->undo_mark) return;
    ledger->account_undo_marks[account_index] = ledger->undo_mark;
    struct ledger_undo *undo = ledger_undo_next(ledger);
    undo->kind = LEDGER_UNDO_ACCOUNT;
    undo->index = account_index;
    undo->value = 0;
    undo->account_before = ledger->accounts[account_index];
}

void ledger_undo_transfer_state(struct ledger *ledger, u32 transfer_index) {
    ASSERT(transfer_index < ledger->transfer_count);
    if (!ledger->chain_open) return;
    struct ledger_undo *undo = ledger_undo_next(ledger);
    memset(undo, 0, sizeof(*undo));
    undo->kind = LEDGER_UNDO_TRANSFER_STATE;
    undo->index = transfer_index;
    undo->value = ledger->transfer_states[transfer_index];
}

/* ----------------------------------------------------------------------------------------- */
/* Linked chains.                                                                             */

struct ledger_chain {
    bool open;
    bool broken;
    u32 start; /* index of the chain's first event */
    u32 account_count;
    u32 transfer_count;
    u32 balance_count;
};

static void ledger_chain_begin(struct ledger *ledger, struct ledger_chain *chain, u32 start) {
    ASSERT(!chain->open && !chain->broken);
    ASSERT(!ledger->chain_open && ledger->undo_count == 0);
    chain->open = true;
    chain->start = start;
    chain->account_count = ledger->account_count;
    chain->transfer_count = ledger->transfer_count;
    chain->balance_count = ledger->balance_count;
    ledger->chain_open = true;
    ledger->undo_mark++;
    if (ledger->undo_mark == 0) { /* wrapped after 2^32 chains: forget every old mark */
        memset(ledger->account_undo_marks, 0,
               (size_t)ledger->config.account_count_max * sizeof(u32));
        ledger->undo_mark = 1;
    }
}

void ledger_chain_continue(struct ledger *ledger) {
    ASSERT(ledger != NULL);
    ASSERT(!ledger->chain_continued || ledger->chain_open);
    ledger->chain_continued = true;
}

/* A continued chain's state between create calls lives in the ledger; these move it. */
static void ledger_chain_resume(struct ledger *ledger, struct ledger_chain *chain) {
    ASSERT(!chain->open && !chain->broken);
    if (!ledger->chain_continued || !ledger->chain_open) return;
    chain->open = true;
    chain->start = 0; /* earlier events were in earlier calls */
    chain->account_count = ledger->chain_continued_account_count;
    chain->transfer_count = ledger->chain_continued_transfer_count;
    chain->balance_count = ledger->chain_continued_balance_count;
    ASSERT(chain->transfer_count <= ledger->transfer_count);
}

static void ledger_chain_suspend(struct ledger *ledger, const struct ledger_chain *chain) {
    ASSERT(chain->open && !chain->broken);
    ASSERT(ledger->chain_continued && ledger->chain_open);
    ledger->chain_continued_account_count = chain->account_count;
    ledger->chain_continued_transfer_count = chain->transfer_count;
    ledger->chain_continued_balance_count = chain->balance_count;
}

static void ledger_undo_apply(struct ledger *ledger, const struct ledger_undo *undo) {
    switch (undo->kind) {
    case LEDGER_UNDO_ACCOUNT:
        ASSERT(undo->index < ledger->account_count);
        ASSERT(ledger->accounts[undo->index].id == undo->account_before.id);
        ledger->accounts[undo->index] = undo->account_before;
        break;
    case LEDGER_UNDO_TRANSFER_STATE:
        ASSERT(undo->index < ledger->transfer_count);
        ASSERT(undo->value <= LEDGER_TRANSFER_EXPIRED);
        ledger->transfer_states[undo->index] = (u8)undo->value;
        break;
    default: ASSERT(false && "unknown undo kind");
    }
}

/* Undoes everything the chain did, newest first, and truncates what it appended. */
static void ledger_chain_rollback(struct ledger *ledger, const struct ledger_chain *chain) {
    ASSERT(chain->open && ledger->chain_open);
    ASSERT(ledger->transfer_count >= chain->transfer_count);
    for (u32 index = ledger->undo_count; index > 0; index--) {
        ledger_undo_apply(ledger, &ledger->undo_log[index - 1]);
    }
    for (u32 index = chain->transfer_count; index < ledger->transfer_count; index++) {
        base_id_map_remove(&ledger->transfer_map, ledger->transfers[index].id);
        memset(&ledger->transfers[index], 0, sizeof(ledger->transfers[index]));
        ledger->transfer_states[index] = 0;
    }
    for (u32 index = chain->account_count; index < ledger->account_count; index++) {
        base_id_map_remove(&ledger->account_map, ledger->accounts[index].id);
        memset(&ledger->accounts[index], 0, sizeof(ledger->accounts[index]));
    }
    ledger->transfer_count = chain->transfer_count;
    ledger->account_count = chain->account_count;
    ledger->balance_count = chain->balance_count;
    ledger->undo_count = 0;
    ledger->chain_open = false;
    ASSERT(ledger->transfer_map.count == ledger->transfer_count);
    ASSERT(ledger->account_map.count == ledger->account_count);
}

static void ledger_chain_end(struct ledger *ledger, struct ledger_chain *chain) {
    ASSERT(chain->open);
    ASSERT(ledger->chain_open != chain->broken);
    ledger->undo_count = 0;
    ledger->chain_open = false;
    ledger->chain_continued = false;
    chain->open = false;
    chain->broken = false;
}

/* ----------------------------------------------------------------------------------------- */
/* The batch driver.                                                                          */

static u16 ledger_record_flags(const void *record) {
    ASSERT(record != NULL);
    u16 flags = 0;
    memcpy(&flags, (const u8 *)record + offsetof(struct khorgos_account, flags), sizeof(flags));
    return flags;
}

static u64 ledger_record_timestamp(const void *record) {
    ASSERT(record != NULL);
    u64 timestamp = 0;
    memcpy(&timestamp, (const u8 *)record + offsetof(struct khorgos_account, timestamp),
           sizeof(timestamp));
    return timestamp;
}

/* The checks every event passes before its kind looks at it: the batch's imported rule and the
 * timestamp field. */
static u32 ledger_event_header_status(const struct ledger_batch_kind *kind,
                                      const struct ledger_event *event, bool batch_imported) {
    bool imported = (ledger_record_flags(event->record) & kind->imported_flag) != 0;
    if (imported != batch_imported) {
        return imported ? KHORGOS_CREATE_ACCOUNT_imported_event_not_expected
                        : KHORGOS_CREATE_ACCOUNT_imported_event_expected;
    }
    u64 timestamp = ledger_record_timestamp(event->record);
    if (imported) {
        if (timestamp == 0 || timestamp > LEDGER_TIMESTAMP_MAX) {
            return KHORGOS_CREATE_ACCOUNT_imported_event_timestamp_out_of_range;
        }
        if (timestamp >= event->request_timestamp) {
            return KHORGOS_CREATE_ACCOUNT_imported_event_timestamp_must_not_advance;
        }
    } else if (timestamp != 0) {
        return KHORGOS_CREATE_ACCOUNT_timestamp_must_be_zero;
    }
    return KHORGOS_CREATE_ACCOUNT_created;
}

/* Marks a broken chain's earlier events failed (they keep their timestamps) and undoes them. */
static void ledger_chain_break(struct ledger *ledger, struct ledger_chain *chain, u32 index,
                               struct khorgos_create_result *results) {
    ASSERT(chain->open && !chain->broken);
    ASSERT(chain->start <= index);
    chain->broken = true;
    ledger_chain_rollback(ledger, chain);
    for (u32 earlier = chain->start; earlier < index; earlier++) {
        ASSERT(results[earlier].status == KHORGOS_CREATE_ACCOUNT_created);
        results[earlier].status = KHORGOS_CREATE_ACCOUNT_linked_event_failed;
    }
}

void ledger_batch_apply(struct ledger *ledger, const struct ledger_batch_kind *kind, u64 timestamp,
                        const void *records, u32 count, struct khorgos_create_result *results) {
    ASSERT(ledger != NULL && kind != NULL);
    ASSERT(count <= LIMIT_BATCH_EVENTS_MAX);
    ASSERT(count == 0 || (records != NULL && results != NULL));
    ASSERT(timestamp >= count && timestamp - count >= ledger->timestamp_last);
    ASSERT(ledger->chain_continued || (!ledger->chain_open && ledger->undo_count == 0));
    struct ledger_chain chain = {0};
    ledger_chain_resume(ledger, &chain);
    bool batch_imported = count > 0 && (ledger_record_flags(records) & kind->imported_flag) != 0;
    for (u32 index = 0; index < count; index++) {
        const void *record = (const u8 *)records + (size_t)index * kind->record_size;
        if (kind->prefetch != NULL && count - index > LEDGER_PREFETCH_EVENTS_AHEAD) {
            kind->prefetch(ledger, (const u8 *)record +
                                       (size_t)LEDGER_PREFETCH_EVENTS_AHEAD * kind->record_size);
        }
        struct ledger_event event = {record, timestamp - count + index + 1, timestamp};
        bool linked = (ledger_record_flags(record) & KHORGOS_ACCOUNT_LINKED) != 0;
        if (linked && !chain.open) ledger_chain_begin(ledger, &chain, index);
        u64 result_timestamp = event.timestamp;
        u32 status = KHORGOS_CREATE_ACCOUNT_created;
        if (linked && index == count - 1 && !ledger->chain_continued) {
            status = KHORGOS_CREATE_ACCOUNT_linked_event_chain_open;
        } else if (chain.broken) {
            status = KHORGOS_CREATE_ACCOUNT_linked_event_failed;
        } else {
            status = ledger_event_header_status(kind, &event, batch_imported);
            if (status == KHORGOS_CREATE_ACCOUNT_created) {
                status = kind->apply(ledger, &event, &result_timestamp);
            }
        }
        if (status != KHORGOS_CREATE_ACCOUNT_created && status != kind->status_exists) {
            result_timestamp = event.timestamp;
        }
        results[index] = (struct khorgos_create_result){result_timestamp, status, 0};
        if (status != KHORGOS_CREATE_ACCOUNT_created) {
            if (chain.open && !chain.broken) ledger_chain_break(ledger, &chain, index, results);
            if (kind->failed != NULL) kind->failed(ledger, record, status);
        }
        if (chain.open && (!linked || status == KHORGOS_CREATE_ACCOUNT_linked_event_chain_open)) {
            ledger_chain_end(ledger, &chain);
        }
    }
    if (chain.open && !chain.broken) {
        ledger_chain_suspend(ledger, &chain); /* continued into the next call */
    } else if (chain.open) {
        ledger_chain_end(ledger, &chain); /* a continued chain that broke ends with the call */
    }
    ASSERT(!chain.open || ledger->chain_continued);
    ASSERT(ledger->chain_open == (ledger->chain_continued && chain.open));
    ledger->timestamp_last = timestamp;
}

/* ----------------------------------------------------------------------------------------- */
/* Digest.                                                                                    */

/* The digest of the state a view shows; ledger_digest is it for the live view, so a view
 * captured for a checkpoint (ledger_snapshot.c, V1-V3) digests to the same bytes. */
u128 ledger_view_digest(const struct ledger_view *view) {
    ASSERT(view != NULL);
    ASSERT(view->transfer_count == 0 || (view->transfers != NULL && view->transfer_states != NULL));
    struct base_checksum_stream stream;
    base_checksum_stream_init(&stream);
    const u64 header[] = {view->account_count,          view->transfer_count,
                          view->failed_transfer_count,  view->balance_count,
                          view->balance_reserved_count, view->timestamp_last};
    base_checksum_stream_add(&stream, header, sizeof(header));
    base_checksum_stream_add(&stream, view->accounts,
                             (size_t)view->account_count * sizeof(struct khorgos_account));
    base_checksum_stream_add(&stream, view->transfers,
                             (size_t)view->transfer_count * sizeof(struct khorgos_transfer));
    base_checksum_stream_add(&stream, view->transfer_states, view->transfer_count);
    base_checksum_stream_add(&stream, view->failed_transfer_ids,
                             (size_t)view->failed_transfer_count * sizeof(u128));
    base_checksum_stream_add(&stream, view->balances,
                             (size_t)view->balance_count * sizeof(struct ledger_balance_entry));
    /* Expiries in a canonical form (the heap's layout may hold resolved entries): the pending
     * transfers with a timeout, in index order, with their expiry instants. */
    for (u32 index = 0; index < view->transfer_count; index++) {
        const struct khorgos_transfer *transfer = &view->transfers[index];
        if (view->transfer_states[index] != LEDGER_TRANSFER_PENDING) continue;
        if (transfer->timeout == 0) continue;
        const u64 expiry[] = {index, ledger_transfer_expires_at(transfer)};
        base_checksum_stream_add(&stream, expiry, sizeof(expiry));
    }
    return base_checksum_stream_final(&stream);
}

u128 ledger_digest(const struct ledger *ledger) {
    ASSERT(ledger != NULL);
    ASSERT(!ledger->chain_open);
    struct ledger_view view;
    ledger_view_live(ledger, &view);
    return ledger_view_digest(&view);
}

/* ----------------------------------------------------------------------------------------- */
/* Invariants (for tests).                                                                    */

/* Invariant 1 per ledger without a table: each ledger's difference d_L is weighted by an odd
 * hash of its number, so sum w_L * d_L (mod 2^128) is zero when every d_L is, and nonzero
 * otherwise except with negligible probability. The plain sum is checked too. */
static bool ledger_check_sums(const struct ledger *ledger) {
    ASSERT(ledger->account_count <= ledger->config.account_count_max);
    u128 pending_plain = 0, posted_plain = 0, pending_weighted = 0, posted_weighted = 0;
    for (u32 index = 0; index < ledger->account_count; index++) {
        const struct khorgos_account *account = &ledger->accounts[index];
        u128 weight = ((u128)base_hash_u128(account->ledger) << 64) |
                      (base_hash_u128((u128)account->ledger << 64) | 1u);
        pending_plain += account->debits_pending - account->credits_pending;
        posted_plain += account->debits_posted - account->credits_posted;
        pending_weighted += weight * (account->debits_pending - account->credits_pending);
        posted_weighted += weight * (account->debits_posted - account->credits_posted);
    }
    return pending_plain == 0 && posted_plain == 0 && pending_weighted == 0 && posted_weighted == 0;
}

static bool ledger_check_accounts(const struct ledger *ledger) {
    ASSERT(ledger->account_count <= ledger->config.account_count_max);
    ASSERT(ledger->accounts != NULL);
    for (u32 index = 0; index < ledger->account_count; index++) {
        const struct khorgos_account *account = &ledger->accounts[index];
        if (account->id == 0 || account->id == U128_MAX) return false;
        if (index > 0 && account->timestamp <= ledger->accounts[index - 1].timestamp) return false;
        bool debit_limit = (account->flags & KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) != 0;
        bool credit_limit = (account->flags & KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) != 0;
        if (debit_limit &&
            (base_u128_add_overflows(account->debits_pending, account->debits_posted) ||
             account->debits_pending + account->debits_posted > account->credits_posted)) {
            return false;
        }
        if (credit_limit &&
            (base_u128_add_overflows(account->credits_pending, account->credits_posted) ||
             account->credits_pending + account->credits_posted > account->debits_posted)) {
            return false;
        }
    }
    return true;
}

static bool ledger_check_transfers(const struct ledger *ledger) {
    ASSERT(ledger->transfer_count <= ledger->config.transfer_count_max);
    ASSERT(ledger->transfers != NULL);
    u128 pending_total = 0;
    for (u32 index = 0; index < ledger->transfer_count; index++) {
        const struct khorgos_transfer *transfer = &ledger->transfers[index];
        if (index > 0 && transfer->timestamp <= ledger->transfers[index - 1].timestamp) {
            return false;
        }
        u8 state = ledger->transfer_states[index];
        bool pending = (transfer->flags & KHORGOS_TRANSFER_PENDING) != 0;
        if (state > LEDGER_TRANSFER_EXPIRED) return false;
        if (pending != (state != LEDGER_TRANSFER_SINGLE_PHASE)) return false;
        if (state == LEDGER_TRANSFER_PENDING) pending_total += transfer->amount;
    }
    u128 debits_pending_total = 0;
    for (u32 index = 0; index < ledger->account_count; index++) {
        debits_pending_total += ledger->accounts[index].debits_pending;
    }
    return pending_total == debits_pending_total;
}

static bool ledger_check_balances(const struct ledger *ledger) {
    ASSERT(ledger->balance_count <= ledger->config.account_balance_count_max);
    for (u32 index = 0; index < ledger->balance_count; index++) {
        const struct ledger_balance_entry *entry = &ledger->balances[index];
        if (entry->account_index >= ledger->account_count) return false;
        if (entry->transfer_index >= ledger->transfer_count) return false;
        if ((ledger->accounts[entry->account_index].flags & KHORGOS_ACCOUNT_HISTORY) == 0) {
            return false;
        }
        if (ledger->transfers[entry->transfer_index].timestamp != entry->balance.timestamp) {
            return false;
        }
        if (index > 0 && entry->balance.timestamp < ledger->balances[index - 1].balance.timestamp) {
            return false;
        }
    }
    return true;
}

/* Invariant 8: the heap property, and live entries = pending transfers with a timeout. */
static bool ledger_check_expiries(const struct ledger *ledger) {
    ASSERT(ledger->expiry_count <= ledger->config.transfer_count_max);
    u64 live = 0;
    for (u32 index = 0; index < ledger->expiry_count; index++) {
        const struct ledger_expiry *expiry = &ledger->expiries[index];
        if (expiry->transfer_index >= ledger->transfer_count) return false;
        const struct ledger_expiry *parent = &ledger->expiries[(index - 1) / 2];
        if (index > 0 && (parent->expires_at > expiry->expires_at ||
                          (parent->expires_at == expiry->expires_at &&
                           parent->transfer_index > expiry->transfer_index))) {
            return false;
        }
        const struct khorgos_transfer *transfer = &ledger->transfers[expiry->transfer_index];
        if (ledger_transfer_expires_at(transfer) != expiry->expires_at) return false;
        if (ledger->transfer_states[expiry->transfer_index] == LEDGER_TRANSFER_PENDING) live++;
    }
    u64 expected = 0;
    for (u32 index = 0; index < ledger->transfer_count; index++) {
        const struct khorgos_transfer *transfer = &ledger->transfers[index];
        if (ledger->transfer_states[index] == LEDGER_TRANSFER_PENDING && transfer->timeout > 0) {
            expected++;
        }
    }
    return live == expected && ledger->balance_reserved_count == 0;
}

/* Invariant 4, and that no transfer id is also a failed transfer's id. */
static bool ledger_check_maps(const struct ledger *ledger) {
    ASSERT(ledger->account_count <= ledger->config.account_count_max);
    ASSERT(ledger->transfer_count <= ledger->config.transfer_count_max);
    if (ledger->account_map.count != ledger->account_count) return false;
    if (ledger->transfer_map.count != ledger->transfer_count) return false;
    if (ledger->failed_transfer_map.count != ledger->failed_transfer_count) return false;
    u32 found = U32_MAX;
    for (u32 index = 0; index < ledger->account_count; index++) {
        u128 id = ledger->accounts[index].id;
        if (id == 0 || !base_id_map_get(&ledger->account_map, id, &found) || found != index) {
            return false;
        }
    }
    for (u32 index = 0; index < ledger->transfer_count; index++) {
        u128 id = ledger->transfers[index].id;
        if (id == 0 || !base_id_map_get(&ledger->transfer_map, id, &found) || found != index) {
            return false;
        }
        if (base_id_map_get(&ledger->failed_transfer_map, id, &found)) return false;
    }
    return true;
}

bool ledger_check_records(const struct ledger *ledger) {
    ASSERT(ledger != NULL);
    ASSERT(!ledger->chain_open && ledger->undo_count == 0);
    return ledger_check_sums(ledger) && ledger_check_accounts(ledger) &&
           ledger_check_transfers(ledger) && ledger_check_balances(ledger) &&
           ledger_check_expiries(ledger);
}

bool ledger_check(const struct ledger *ledger) {
    ASSERT(ledger != NULL);
    ASSERT(!ledger->chain_open && ledger->undo_count == 0);
    return ledger_check_records(ledger) && ledger_check_maps(ledger);
}
