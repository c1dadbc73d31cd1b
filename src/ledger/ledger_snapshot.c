/*
 * ledger_snapshot.c: the ledger's section of a snapshot (STORAGE_SECTION_LEDGER, version 1).
 * The storage layer frames and checksums the section (src/storage/storage.h); this file decides
 * what of struct ledger is state and how it is laid out.
 *
 * Section bytes, little-endian, back to back:
 *     0   4  account_count
 *     4   4  transfer_count
 *     8   4  failed_transfer_count
 *    12   4  expiry_count            entries in the expiry heap (resolved ones included)
 *    16   4  balance_count
 *    20   4  balance_reserved_count
 *    24   8  timestamp_last          the last timestamp the ledger applied
 *    32      accounts                account_count x 128 (struct khorgos_account)
 *            transfers               transfer_count x 128 (struct khorgos_transfer)
 *            transfer_states         transfer_count x 1 (enum ledger_transfer_state)
 *            failed_transfer_ids     failed_transfer_count x 16, in the order they failed
 *            expiries                expiry_count x 16 (struct ledger_expiry), the heap's array
 *                                    as it is, so the order of equal expiries is kept exactly
 *            balances                balance_count x sizeof(struct ledger_balance_entry)
 *
 * Views (struct ledger_view, ledger.h). The section and ledger_digest are written from a
 * view: the counts and where each array's records are. ledger_snapshot_write uses the live
 * arrays; a checkpoint written by a thread while requests go on (engine_storage.c) captures a
 * view between requests, copying the arrays requests change in place (accounts: balances;
 * transfer_states; the expiry heap) and pointing at the live arrays requests only append to
 * (transfers, failed_transfer_ids, balances). Invariants that make this sound:
 *   V1. A record of transfers, failed_transfer_ids or balances at an index below its count is
 *       never written again: requests append (ledger_transfers.c, ledger_state.c) and a
 *       rolled-back chain truncates and zeroes only records it appended itself, which lie at
 *       or above the counts of the instant the chain opened, so above any captured count.
 *   V2. These arrays are reserved by ledger_init and never move, so a view's pointers stay
 *       valid until ledger_deinit (the engine joins a checkpoint's thread before closing).
 *   V3. A view is taken between requests (no undo log, no open chain), so its counts and
 *       copies are a state the ledger was in, and its digest is that state's ledger_digest.
 *
 * What is not written, because it is derived and rebuilt on load: the three id maps (from the
 * records and failed_transfer_ids: an id's value is its index), and the query indexes
 * (ledger_index_update indexes every record of a freshly initialized ledger). The undo log is
 * empty between requests (checked), so it is not state.
 *
 * Load validates before trusting: counts within the capacities the directory was formatted
 * with, ids nonzero and unique, states in range, heap entries naming transfers, history entries
 * naming records, transfers naming two existing accounts (what the query indexes rely on),
 * then every invariant ledger_check verifies (balances summing to zero per ledger, account
 * limits, pending totals, the expiry heap). A section that passes its checksum but fails
 * these (a bug, or a snapshot from another build) is corrupt, never a crash. The caller then
 * checks ledger_digest against the digest the snapshot recorded.
 *
 * The maps cost the load most: the transfer maps are sized for the capacity, not the count
 * (256 MiB each at the default), so each id is a probe into cold memory. Each id is therefore
 * probed once (found absent and inserted by one walk); the maps' own invariant (each id at
 * its record's index, no transfer id among the failed ones) is checked as they are built, the
 * failed ids against the transfer map, so ledger_check_records checks the rest without probing
 * again; a map about to be filled densely has its pages faulted in at once, as huge pages
 * where the kernel gives them (base_id_map_fault_in), rather than one read fault and one copy
 * per 4 KiB page and a TLB miss per id; and the slot of the id a fixed distance ahead is
 * prefetched, so several misses are in flight at once. Together these took the rebuild of a
 * 1.2 million transfer map (4 Mi slots, 128 MiB) from 0.42-0.50 s of CPU to 0.10-0.23 s.
 */
#include "ledger/ledger.h"
#include "storage/storage.h"

/* How many records ahead ledger_snapshot_map_ids prefetches a map slot: enough misses in flight
 * to hide a miss's latency (about 100 ns on the machines measured, against a few ns of work
 * per id), few enough that a slot fetched is still cached when its id's turn comes. */
#define LEDGER_SNAPSHOT_PREFETCH_DISTANCE 16u

struct ledger_snapshot_counts {
    u32 account_count;
    u32 transfer_count;
    u32 failed_transfer_count;
    u32 expiry_count;
    u32 balance_count;
    u32 balance_reserved_count;
    u64 timestamp_last;
};
_Static_assert(sizeof(struct ledger_snapshot_counts) == 32, "the section starts with 32 bytes");

void ledger_view_live(const struct ledger *ledger, struct ledger_view *view) {
    ASSERT(ledger != NULL && view != NULL);
    ASSERT(!ledger->chain_open); /* between requests (V3) */
    *view = (struct ledger_view){
        .account_count = ledger->account_count,
        .transfer_count = ledger->transfer_count,
        .failed_transfer_count = ledger->failed_transfer_count,
        .expiry_count = ledger->expiry_count,
        .balance_count = ledger->balance_count,
        .balance_reserved_count = ledger->balance_reserved_count,
        .timestamp_last = ledger->timestamp_last,
        .accounts = ledger->accounts,
        .transfers = ledger->transfers,
        .transfer_states = ledger->transfer_states,
        .failed_transfer_ids = ledger->failed_transfer_ids,
        .expiries = ledger->expiries,
        .balances = ledger->balances,
    };
    ASSERT(view->transfer_count <= ledger->config.transfer_count_max);
}

void ledger_view_capture(const struct ledger *ledger, struct ledger_view *view,
                         struct khorgos_account *accounts, u8 *transfer_states,
                         struct ledger_expiry *expiries) {
    ASSERT(accounts != NULL && transfer_states != NULL && expiries != NULL);
    ASSERT(ledger->undo_count == 0);
    ledger_view_live(ledger, view);
    ASSERT(view->expiry_count <= ledger->config.transfer_count_max);
    memcpy(accounts, ledger->accounts, (size_t)view->account_count * sizeof(*accounts));
    memcpy(transfer_states, ledger->transfer_states, view->transfer_count);
    memcpy(expiries, ledger->expiries, (size_t)view->expiry_count * sizeof(*expiries));
    view->accounts = accounts;
    view->transfer_states = transfer_states;
    view->expiries = expiries;
}

void ledger_view_write(const struct ledger_view *view, struct storage_writer *writer) {
    ASSERT(view != NULL && writer != NULL);
    ASSERT(view->balance_reserved_count == 0 || view->balances != NULL);
    const struct ledger_snapshot_counts counts = {
        .account_count = view->account_count,
        .transfer_count = view->transfer_count,
        .failed_transfer_count = view->failed_transfer_count,
        .expiry_count = view->expiry_count,
        .balance_count = view->balance_count,
        .balance_reserved_count = view->balance_reserved_count,
        .timestamp_last = view->timestamp_last,
    };
    storage_writer_section_begin(writer, STORAGE_SECTION_LEDGER, LEDGER_SNAPSHOT_VERSION);
    storage_writer_put(writer, &counts, sizeof(counts));
    storage_writer_put(writer, view->accounts,
                       (u64)counts.account_count * sizeof(struct khorgos_account));
    storage_writer_put(writer, view->transfers,
                       (u64)counts.transfer_count * sizeof(struct khorgos_transfer));
    storage_writer_put(writer, view->transfer_states, counts.transfer_count);
    storage_writer_put(writer, view->failed_transfer_ids,
                       (u64)counts.failed_transfer_count * sizeof(u128));
    storage_writer_put(writer, view->expiries,
                       (u64)counts.expiry_count * sizeof(struct ledger_expiry));
    storage_writer_put(writer, view->balances,
                       (u64)counts.balance_count * sizeof(struct ledger_balance_entry));
    storage_writer_section_end(writer);
}

void ledger_snapshot_write(const struct ledger *ledger, struct storage_writer *writer) {
    ASSERT(ledger != NULL && writer != NULL);
    ASSERT(ledger->undo_count == 0 && !ledger->chain_open);
    struct ledger_view view;
    ledger_view_live(ledger, &view);
    ledger_view_write(&view, writer);
}

static bool ledger_snapshot_counts_valid(const struct ledger *ledger,
                                         const struct ledger_snapshot_counts *counts) {
    const struct ledger_config *config = &ledger->config;
    return counts->account_count <= config->account_count_max &&
           counts->transfer_count <= config->transfer_count_max &&
           counts->failed_transfer_count <= config->transfer_count_max &&
           counts->expiry_count <= config->transfer_count_max &&
           counts->balance_count <= config->account_balance_count_max &&
           (u64)counts->balance_count + counts->balance_reserved_count <=
               config->account_balance_count_max;
}

/* Inserts ids into a map with their indexes as values, refusing zero, the maximum, duplicates
 * and ids present in `disjoint` (when not NULL): corrupt input. One probe per id: the walk that
 * finds an id absent also names the slot it goes in. A map built so holds exactly the records'
 * ids at their indexes, which is what ledger_check's map part would probe again. */
static bool ledger_snapshot_map_ids(struct base_id_map *map, const void *records, u32 count,
                                    size_t stride, const struct base_id_map *disjoint) {
    ASSERT(map != NULL && map->count == 0);
    ASSERT(stride >= sizeof(u128));
    base_id_map_fault_in(map, count);
    for (u32 index = 0; index < count; index++) {
        u128 id;
        if (index + LEDGER_SNAPSHOT_PREFETCH_DISTANCE < count) {
            memcpy(&id, (const u8 *)records + (size_t)(index + LEDGER_SNAPSHOT_PREFETCH_DISTANCE) *
                                                  stride, sizeof(id));
            base_id_map_prefetch(map, id);
        }
        memcpy(&id, (const u8 *)records + (size_t)index * stride, sizeof(id));
        if (id == 0 || id == U128_MAX) return false;
        u32 existing = 0;
        u64 slot = 0;
        if (disjoint != NULL && base_id_map_get(disjoint, id, &existing)) return false;
        if (base_id_map_find(map, id, &existing, &slot)) return false;
        base_id_map_insert_at(map, slot, id, index);
    }
    ASSERT(map->count == count);
    return true;
}

static bool ledger_snapshot_references_valid(const struct ledger *ledger) {
    for (u32 index = 0; index < ledger->transfer_count; index++) {
        if (ledger->transfer_states[index] > LEDGER_TRANSFER_EXPIRED) return false;
    }
    for (u32 index = 0; index < ledger->expiry_count; index++) {
        if (ledger->expiries[index].transfer_index >= ledger->transfer_count) return false;
    }
    for (u32 index = 0; index < ledger->balance_count; index++) {
        const struct ledger_balance_entry *entry = &ledger->balances[index];
        if (entry->account_index >= ledger->account_count) return false;
        if (entry->transfer_index >= ledger->transfer_count) return false;
    }
    return true;
}

/* What the query indexes rely on (ledger_index_update), checked once the id maps are built:
 * each transfer names two different accounts that exist, and each history entry an account
 * its transfer names. */
static bool ledger_snapshot_postings_valid(const struct ledger *ledger) {
    ASSERT(ledger->account_map.count == ledger->account_count);
    ASSERT(ledger->transfer_count <= ledger->config.transfer_count_max);
    for (u32 index = 0; index < ledger->transfer_count; index++) {
        const struct khorgos_transfer *transfer = &ledger->transfers[index];
        u32 found = 0;
        if (transfer->debit_account_id == 0 || transfer->credit_account_id == 0 ||
            transfer->debit_account_id == transfer->credit_account_id ||
            !base_id_map_get(&ledger->account_map, transfer->debit_account_id, &found) ||
            !base_id_map_get(&ledger->account_map, transfer->credit_account_id, &found)) {
            return false;
        }
    }
    for (u32 index = 0; index < ledger->balance_count; index++) {
        const struct ledger_balance_entry *entry = &ledger->balances[index];
        const struct khorgos_transfer *transfer = &ledger->transfers[entry->transfer_index];
        u128 account_id = ledger->accounts[entry->account_index].id;
        if (transfer->debit_account_id != account_id && transfer->credit_account_id != account_id) {
            return false;
        }
    }
    return true;
}

/* Reads `bytes` into the start of an array reserved at init and not yet touched: that part,
 * and only that part, is made resident first, on huge pages where the kernel gives them (one
 * call rather than a fault per 4 KiB page inside the copy); the rest of the array is still
 * taken only as records are appended. */
static khorgos_error ledger_snapshot_read_array(struct storage_reader *reader, void *array,
                                                u64 bytes) {
    ASSERT(reader != NULL && array != NULL);
    ASSERT(bytes <= SIZE_MAX);
    base_memory_huge_pages(array, (size_t)bytes);
    base_memory_prefault(array, (size_t)bytes);
    return storage_reader_get(reader, array, bytes);
}

static khorgos_error ledger_snapshot_read_arrays(struct ledger *ledger,
                                                 struct storage_reader *reader) {
    khorgos_error error = storage_reader_get(
        reader, ledger->accounts, (u64)ledger->account_count * sizeof(struct khorgos_account));
    if (error == KHORGOS_ERROR_ok) {
        error = ledger_snapshot_read_array(reader, ledger->transfers,
                                           (u64)ledger->transfer_count *
                                               sizeof(struct khorgos_transfer));
    }
    if (error == KHORGOS_ERROR_ok) {
        error = storage_reader_get(reader, ledger->transfer_states, ledger->transfer_count);
    }
    if (error == KHORGOS_ERROR_ok) {
        error = storage_reader_get(reader, ledger->failed_transfer_ids,
                                   (u64)ledger->failed_transfer_count * sizeof(u128));
    }
    if (error == KHORGOS_ERROR_ok) {
        error = storage_reader_get(reader, ledger->expiries,
                                   (u64)ledger->expiry_count * sizeof(struct ledger_expiry));
    }
    if (error == KHORGOS_ERROR_ok) {
        error = storage_reader_get(
            reader, ledger->balances,
            (u64)ledger->balance_count * sizeof(struct ledger_balance_entry));
    }
    return error;
}

khorgos_error ledger_snapshot_read(struct ledger *ledger, struct storage_reader *reader) {
    ASSERT(ledger != NULL && reader != NULL);
    ASSERT(ledger->account_count == 0 && ledger->transfer_count == 0);
    struct ledger_snapshot_counts counts;
    khorgos_error error = storage_reader_get(reader, &counts, sizeof(counts));
    if (error != KHORGOS_ERROR_ok) return error;
    if (!ledger_snapshot_counts_valid(ledger, &counts)) return KHORGOS_ERROR_corrupt;
    ledger->account_count = counts.account_count;
    ledger->transfer_count = counts.transfer_count;
    ledger->failed_transfer_count = counts.failed_transfer_count;
    ledger->expiry_count = counts.expiry_count;
    ledger->balance_count = counts.balance_count;
    ledger->balance_reserved_count = counts.balance_reserved_count;
    ledger->timestamp_last = counts.timestamp_last;
    error = ledger_snapshot_read_arrays(ledger, reader);
    if (error != KHORGOS_ERROR_ok) return error;
    if (storage_reader_remaining(reader) != 0) return KHORGOS_ERROR_corrupt;
    if (!ledger_snapshot_references_valid(ledger)) return KHORGOS_ERROR_corrupt;
    if (!ledger_snapshot_map_ids(&ledger->account_map, ledger->accounts, ledger->account_count,
                                 sizeof(struct khorgos_account), NULL) ||
        !ledger_snapshot_map_ids(&ledger->transfer_map, ledger->transfers, ledger->transfer_count,
                                 sizeof(struct khorgos_transfer), NULL) ||
        !ledger_snapshot_map_ids(&ledger->failed_transfer_map, ledger->failed_transfer_ids,
                                 ledger->failed_transfer_count, sizeof(u128),
                                 &ledger->transfer_map)) {
        return KHORGOS_ERROR_corrupt;
    }
    /* The ledger's invariants (ledger.h): a state that breaks one would trip an assertion of
     * a later request instead of being refused here. The id maps' were checked as they were
     * built, so ledger_check_records checks the rest. */
    if (!ledger_snapshot_postings_valid(ledger) || !ledger_check_records(ledger)) {
        return KHORGOS_ERROR_corrupt;
    }
    ledger_index_update(ledger);
    ASSERT(ledger->query_index.indexed_transfer_count == ledger->transfer_count);
    return KHORGOS_ERROR_ok;
}
