/*
 * ledger_query.c: lookups, get_account_transfers, get_account_balances, query_accounts,
 * query_transfers (TigerBeetle 0.17 semantics), and the secondary indexes they walk.
 *
 * Semantics (TigerBeetle's docs/reference/account-filter.md, query-filter.md, requests/ and
 * its state machine's filter checks)
 *   - lookup_*: the records found, in request order; ids not found (0 and 2^128 - 1 included)
 *     are skipped.
 *   - An account filter is invalid when: account_id is 0 or 2^128 - 1; timestamp_min or
 *     timestamp_max is above 2^63 - 1 (TigerBeetle keeps the top bit for tombstones); timestamp_max
 *     is nonzero and below timestamp_min; limit is 0; neither debits nor credits is set; an
 *     unknown flag bit is set; reserved is not all zero. A query filter is invalid on the same
 *     timestamp, limit, flag and reserved rules. An invalid filter returns nothing.
 *   - Zero fields do not filter; nonzero ones are ANDed; timestamp_max 0 means no upper bound;
 *     the range is inclusive at both ends. Results are in timestamp order, newest first with
 *     `reversed`, at most min(limit, count_max) of them (the caller's count_max is the reply's
 *     room, the batch size for the engine).
 *   - get_account_transfers: transfers with the account as debit (flag debits) or credit (flag
 *     credits) side, further filtered by user_data_128/64/32 and code. An unknown account has no
 *     transfers.
 *   - get_account_balances: nothing unless the account exists and has the history flag; then,
 *     for each transfer get_account_transfers would return, the account's balances right after
 *     it. History entries whose timestamp is not their transfer's (if the state machine ever
 *     records one for another event, e.g. an expiry) are not transfers' and never returned.
 *
 * Structures (types in ledger.h, struct ledger_query_index)
 *   - Posting list: the record indexes holding some property, in increasing timestamp order.
 *     A list of one entry keeps it inline in its header (`offset` is the entry); a longer one
 *     lives in one contiguous block of 2^k >= count entries of a pool, so position p is one
 *     array access and a timestamp is found by binary search over positions. When a block is
 *     full the list moves to a block twice the size (copy, amortised O(1) per append; worst
 *     case one copy of the list, documented for latency) and the old block goes to its size's
 *     free list for another list to reuse.
 *   - Pool: a u32 array reserved at init, bump-allocated, with a free list per block size
 *     (linked through each free block's first entry). Bound: a list of n >= 2 entries has taken
 *     blocks of 2 + 4 + ... + 2^k < 4n entries over its life (2^k < 2n), so reserving 4 x the
 *     entries a pool's lists may ever hold means allocation never fails; reuse only lowers use.
 *   - Per account (by account index) and side: the transfers debiting it, those crediting it
 *     (a transfer is in exactly two lists, so 2 x transfer_count_max entries), and its history
 *     entries (balance indexes) split the same way by the side of their transfer.
 *   - Per field (user_data_128, user_data_64, user_data_32, ledger, code), for accounts and for
 *     transfers: a table from each nonzero value to its posting list. Open addressing, linear
 *     probing, slots of 8 bytes: a list index + 1 in the low half (0: empty, so calloc's lazily
 *     zeroed pages are an empty table and untouched pages cost nothing) and the high 32 bits of
 *     the value's hash above. The value itself is not stored: it is the field of the list's
 *     first record, read from the record arrays only when the hash bits agree, so a probe past
 *     other values touches no record. Zero values are not indexed (a zero filter field does
 *     not filter). Load at most 1/2.
 *   - Direct cells for ledger and code: every record has both, so hashing them was half of the
 *     index's cost. Their tables also hold an array of LEDGER_POSTING_DIRECT_VALUES u32 cells,
 *     indexed by the value itself, each the list index + 1 (0: no list yet). A value below
 *     2^16 (every u16 code; every ledger numbered as ISO 4217 currencies are) lives only there;
 *     a larger ledger goes through the slots as above. The code table has no slots.
 *   - Account hints: create_transfers writes each new transfer's debit and credit account
 *     indexes to account_hints[transfer index mod LEDGER_QUERY_HINT_COUNT] (ledger_index_hint,
 *     ledger_private.h), so indexing the transfer does not look both ids up again. A hint is
 *     used only when it names an account whose id is the transfer's; otherwise (records loaded
 *     from a snapshot, a ring slot reused by more than a batch of transfers since the last
 *     update, a rolled-back chain's leftovers) the id map answers. The index never depends on
 *     a hint being right.
 *
 * Complexity (n records of the kind, k results, c candidates walked)
 *   - lookup_accounts/lookup_transfers: expected O(1) per id (the state's id maps).
 *   - get_account_transfers: O(log n + c). Candidates: the account's list of each side asked
 *     (both sides: the two lists merged by timestamp as they are walked), or the list of one of
 *     the filter's nonzero user_data/code fields when that is narrower within the timestamp
 *     range (measuring a list costs two binary searches). With account_id, sides and a range
 *     only, every candidate matches: O(log n + k).
 *   - get_account_balances: O(log n + c), c the account's history entries of the sides asked
 *     in the range (user_data/code are checked on each entry's transfer).
 *   - query_accounts/query_transfers: O(log n + c). Candidates: the narrowest in range of the
 *     record array itself (binary search on timestamp order) and the nonzero fields' lists; a
 *     filter on one field plus a range is O(log n + k); other combinations walk the narrowest.
 *   - ledger_index_update: expected O(1) amortised per new record: per transfer two appends to
 *     the accounts' lists (hinted, else two id map lookups), an array access and append for
 *     ledger and code, one probe and append per nonzero user_data field; one append per
 *     balance. Measured with callgrind on `khorgos benchmark --transfers 200000` (user_data
 *     zero): about 245 instructions per transfer, where hashing ledger and code and looking
 *     the accounts up again cost about 815.
 *
 * Invariants (ASSERTed)
 *   1. indexed_*_count <= the record counts: records are only appended; a failed linked chain
 *      truncates the arrays before ledger_index_update runs, never below what is indexed.
 *   2. Queries run on an up-to-date index: indexed counts equal the record counts.
 *   3. Every posting list is in strictly increasing timestamp order (non-decreasing for history
 *      entries, which share their transfer's timestamp across its two accounts' lists).
 *   4. A table's list_count <= list_count_max, its slots at most half full; a pool's bump
 *      pointer never passes entry_count_max (the 4x bound above). A value is in the direct
 *      cells or in the slots, never both (below 2^16 and the table has cells: the cells).
 *
 * Memory: everything is reserved in ledger_query_index_init from the ledger's capacities; no
 * function here allocates afterwards. Per unit of capacity, at most: per transfer 8 x 4 bytes
 * of account-list pool, and per field table 8 bytes of list header, 16 of slots (load 1/2)
 * and 16 of pool; per account the same per field plus 16 bytes of list headers. The code
 * tables have no slots (at most 2 x 16 x 65,535 bytes saved); fixed, whatever the
 * capacities: four direct arrays of 256 KiB (ledger and code, for accounts and transfers) and
 * the 64 KiB hint ring. At the default capacities (2^16 accounts, 2^22 transfers, 2^20 history
 * entries) that is about 770 MB of address space, of which only what the records use is ever
 * touched (the arrays are lazily zeroed pages; a table of unique values fills slots and
 * headers, never its pool; a direct array touches one page per 1,024 values in use).
 * Pool offsets are u32, so a pool of more than 2^32 entries is refused at init
 * (invalid_argument): transfer_count_max up to 2^29 is served.
 */
#include "ledger/ledger.h"

#include <stdlib.h>

/* The largest timestamp a filter may name: TigerBeetle keeps a u64 timestamp's top bit. */
#define LEDGER_QUERY_TIMESTAMP_MAX ((u64)INT64_MAX)
/* Pool entries reserved per entry a pool's lists may hold (see "Pool" above). */
#define LEDGER_POSTING_POOL_FACTOR 4u
/* Smallest table: avoids a zero-sized table for tiny capacities. */
#define LEDGER_POSTING_TABLE_SLOTS_MIN 16u
/* Distinct nonzero values a u16 code can take. */
#define LEDGER_QUERY_CODE_VALUES_MAX 65535u
/* A list's count stays below this, so its block size 2^k (k < 32) never overflows a u32. */
#define LEDGER_POSTING_LIST_COUNT_MAX (1u << 31)

_Static_assert(LEDGER_POSTING_CLASS_COUNT >= 33, "a class per power of two up to 2^32");
_Static_assert(LIMIT_TRANSFER_COUNT_MAX < LEDGER_POSTING_LIST_COUNT_MAX, "lists fit their count");
_Static_assert(LEDGER_QUERY_TIMESTAMP_MAX < U64_MAX, "timestamp_max + 1 does not wrap");

/* What the entries of a scanned sequence index. */
enum ledger_query_kind {
    LEDGER_QUERY_KIND_ACCOUNT = 0,
    LEDGER_QUERY_KIND_TRANSFER = 1,
    LEDGER_QUERY_KIND_BALANCE = 2,
};

/* Which side of a transfer an account's list holds it on. */
enum ledger_query_side {
    LEDGER_QUERY_SIDE_DEBIT = 0,
    LEDGER_QUERY_SIDE_CREDIT = 1,
    LEDGER_QUERY_SIDE_COUNT = 2,
};

/* ----------------------------------------------------------------------------------------- */
/* Pool and posting lists.                                                                    */

/* The class k of the block for a list of `count` >= 2 entries: the least k with 2^k >= count. */
static u32 ledger_posting_class(u32 count) {
    ASSERT(count >= 2);
    ASSERT(count <= LEDGER_POSTING_LIST_COUNT_MAX);
    /* The bit length of count - 1 (>= 1): one instruction where a loop took one per bit. */
    u32 class = 32u - (u32)__builtin_clz(count - 1);
    ASSERT((1ull << class) >= count && (1ull << (class - 1)) < count);
    return class;
}

static khorgos_error ledger_posting_pool_init(struct ledger_posting_pool *pool,
                                              u64 list_entry_count_max) {
    ASSERT(pool != NULL);
    ASSERT(pool->entries == NULL);
    u64 entry_count_max = MAX(list_entry_count_max, 1u) * LEDGER_POSTING_POOL_FACTOR;
    if (entry_count_max > (u64)U32_MAX + 1) return KHORGOS_ERROR_invalid_argument;
    pool->entries = malloc(entry_count_max * sizeof(u32));
    if (pool->entries == NULL) return KHORGOS_ERROR_out_of_memory;
    pool->entry_count = 0;
    pool->entry_count_max = entry_count_max;
    memset(pool->free_head, 0, sizeof(pool->free_head));
    return KHORGOS_ERROR_ok;
}

static void ledger_posting_pool_deinit(struct ledger_posting_pool *pool) {
    ASSERT(pool != NULL);
    free(pool->entries);
    memset(pool, 0, sizeof(*pool));
    ASSERT(pool->entries == NULL);
}

/* A block of 2^class entries: a free one of that size if any, else from the bump pointer. */
static u32 ledger_posting_pool_allocate(struct ledger_posting_pool *pool, u32 class) {
    ASSERT(class >= 1 && class < LEDGER_POSTING_CLASS_COUNT);
    u64 size = 1ull << class;
    if (pool->free_head[class] != 0) {
        u32 offset = (u32)(pool->free_head[class] - 1);
        ASSERT(offset + size <= pool->entry_count);
        pool->free_head[class] = pool->entries[offset];
        return offset;
    }
    ASSERT(pool->entry_count + size <= pool->entry_count_max); /* the 4x bound (invariant 4) */
    u64 offset = pool->entry_count;
    pool->entry_count += size;
    return (u32)offset;
}

static void ledger_posting_pool_free(struct ledger_posting_pool *pool, u32 offset, u32 class) {
    ASSERT(class >= 1 && class < LEDGER_POSTING_CLASS_COUNT);
    ASSERT((u64)offset + (1ull << class) <= pool->entry_count);
    /* A block of >= 2 entries ends by 2^32, so offset + 1 fits the u32 link. */
    pool->entries[offset] = (u32)pool->free_head[class];
    pool->free_head[class] = (u64)offset + 1;
}

/* The list's entries as an array: inline for one entry, its block otherwise. */
static const u32 *ledger_posting_list_entries(const struct ledger_posting_pool *pool,
                                              const struct ledger_posting_list *list) {
    ASSERT(pool != NULL && list != NULL);
    ASSERT(list->count <= 1 || (u64)list->offset + list->count <= pool->entry_count);
    return list->count <= 1 ? &list->offset : &pool->entries[list->offset];
}

/* Appends when the list must change shape: it is empty, inline, or its block is full. */
static void ledger_posting_list_grow(struct ledger_posting_pool *pool,
                                     struct ledger_posting_list *list, u32 entry) {
    ASSERT(pool != NULL && list != NULL);
    ASSERT(list->count < LEDGER_POSTING_LIST_COUNT_MAX);
    if (list->count == 0) {
        list->offset = entry;
        list->count = 1;
        return;
    }
    if (list->count == 1) {
        u32 block = ledger_posting_pool_allocate(pool, 1);
        pool->entries[block] = list->offset;
        list->offset = block;
    } else if ((list->count & (list->count - 1)) == 0) { /* a power of two: the block is full */
        u32 class = ledger_posting_class(list->count);
        u32 block = ledger_posting_pool_allocate(pool, class + 1);
        memcpy(&pool->entries[block], &pool->entries[list->offset], list->count * sizeof(u32));
        ledger_posting_pool_free(pool, list->offset, class);
        list->offset = block;
    }
    pool->entries[list->offset + list->count] = entry;
    list->count++;
}

/* Appends `entry`, a record index above every one the list holds (records are appended in
 * timestamp order, invariant 3). Most appends land inside a block that has room: a store. */
static inline void ledger_posting_list_append(struct ledger_posting_pool *pool,
                                              struct ledger_posting_list *list, u32 entry) {
    u32 count = list->count;
    if (count < 2 || (count & (count - 1)) == 0) {
        ledger_posting_list_grow(pool, list, entry);
        return;
    }
    u32 *entries = &pool->entries[list->offset];
    ASSERT((u64)list->offset + count < pool->entry_count); /* inside its block of 2^k > count */
    ASSERT(entries[count - 1] < entry);                    /* invariant 3 */
    entries[count] = entry;
    list->count = count + 1;
}

/* ----------------------------------------------------------------------------------------- */
/* Records, fields and timestamps.                                                            */

static u128 ledger_query_account_field(const struct khorgos_account *account, u32 field) {
    ASSERT(account != NULL);
    ASSERT(field < LEDGER_QUERY_FIELD_COUNT);
    switch (field) {
    case LEDGER_QUERY_FIELD_USER_DATA_128: return account->user_data_128;
    case LEDGER_QUERY_FIELD_USER_DATA_64: return account->user_data_64;
    case LEDGER_QUERY_FIELD_USER_DATA_32: return account->user_data_32;
    case LEDGER_QUERY_FIELD_LEDGER: return account->ledger;
    default: return account->code;
    }
}

static u128 ledger_query_transfer_field(const struct khorgos_transfer *transfer, u32 field) {
    ASSERT(transfer != NULL);
    ASSERT(field < LEDGER_QUERY_FIELD_COUNT);
    switch (field) {
    case LEDGER_QUERY_FIELD_USER_DATA_128: return transfer->user_data_128;
    case LEDGER_QUERY_FIELD_USER_DATA_64: return transfer->user_data_64;
    case LEDGER_QUERY_FIELD_USER_DATA_32: return transfer->user_data_32;
    case LEDGER_QUERY_FIELD_LEDGER: return transfer->ledger;
    default: return transfer->code;
    }
}

static u64 ledger_query_timestamp(const struct ledger *ledger, u32 kind, u32 record) {
    ASSERT(ledger != NULL);
    switch (kind) {
    case LEDGER_QUERY_KIND_ACCOUNT:
        ASSERT(record < ledger->account_count);
        return ledger->accounts[record].timestamp;
    case LEDGER_QUERY_KIND_TRANSFER:
        ASSERT(record < ledger->transfer_count);
        return ledger->transfers[record].timestamp;
    default:
        ASSERT(kind == LEDGER_QUERY_KIND_BALANCE);
        ASSERT(record < ledger->balance_count);
        return ledger->balances[record].balance.timestamp;
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Field tables.                                                                              */

/* Whether a field's small values are direct (see LEDGER_POSTING_DIRECT_VALUES). */
static bool ledger_posting_field_direct(u32 field) {
    ASSERT(field < LEDGER_QUERY_FIELD_COUNT);
    return field == LEDGER_QUERY_FIELD_LEDGER || field == LEDGER_QUERY_FIELD_CODE;
}

static khorgos_error ledger_posting_table_init(struct ledger_posting_table *table,
                                               bool of_accounts, u32 field, u32 list_count_max,
                                               u64 entry_count_max) {
    ASSERT(table != NULL && table->slots == NULL);
    ASSERT(field < LEDGER_QUERY_FIELD_COUNT && list_count_max > 0);
    _Static_assert(LEDGER_QUERY_CODE_VALUES_MAX < LEDGER_POSTING_DIRECT_VALUES, "codes direct");
    u64 slot_count = LEDGER_POSTING_TABLE_SLOTS_MIN;
    while (slot_count < (u64)list_count_max * 2) slot_count *= 2;
    /* Every nonzero u16 code is direct, so the code table needs no slots. */
    if (field != LEDGER_QUERY_FIELD_CODE) {
        table->slots = calloc(slot_count, sizeof(u64));
        if (table->slots == NULL) return KHORGOS_ERROR_out_of_memory;
        table->slot_mask = slot_count - 1;
    }
    if (ledger_posting_field_direct(field)) {
        table->direct = calloc(LEDGER_POSTING_DIRECT_VALUES, sizeof(u32));
        if (table->direct == NULL) return KHORGOS_ERROR_out_of_memory;
    }
    table->lists = malloc((size_t)list_count_max * sizeof(struct ledger_posting_list));
    if (table->lists == NULL) return KHORGOS_ERROR_out_of_memory;
    table->list_count = 0;
    table->list_count_max = list_count_max;
    table->field = field;
    table->of_accounts = of_accounts;
    return ledger_posting_pool_init(&table->pool, entry_count_max);
}

static void ledger_posting_table_deinit(struct ledger_posting_table *table) {
    ASSERT(table != NULL);
    free(table->slots);
    free(table->direct);
    free(table->lists);
    ledger_posting_pool_deinit(&table->pool);
    memset(table, 0, sizeof(*table));
    ASSERT(table->slots == NULL && table->lists == NULL);
}

/* The field value a list stands for: that of its first record. */
static u128 ledger_posting_table_key(const struct ledger *ledger,
                                     const struct ledger_posting_table *table, u32 list_index) {
    ASSERT(list_index < table->list_count);
    const struct ledger_posting_list *list = &table->lists[list_index];
    ASSERT(list->count >= 1);
    u32 record = ledger_posting_list_entries(&table->pool, list)[0];
    if (table->of_accounts) {
        ASSERT(record < ledger->account_count);
        return ledger_query_account_field(&ledger->accounts[record], table->field);
    }
    ASSERT(record < ledger->transfer_count);
    return ledger_query_transfer_field(&ledger->transfers[record], table->field);
}

/* A slot's parts: the list index + 1 (0: empty) and the hash bits of the list's value. */
#define LEDGER_POSTING_SLOT_LIST(slot) ((u32)(slot))
#define LEDGER_POSTING_SLOT_HASH(slot) ((u32)((slot) >> 32))

/* The slot holding `value`'s list, or the empty slot where it would go. */
static u64 ledger_posting_table_probe(const struct ledger *ledger,
                                      const struct ledger_posting_table *table, u128 value) {
    ASSERT(value != 0);
    ASSERT(table->slots != NULL);
    u64 hash = base_hash_u128(value);
    for (u64 slot = hash & table->slot_mask;; slot = (slot + 1) & table->slot_mask) {
        u64 occupant = table->slots[slot];
        if (occupant == 0) return slot;
        if (LEDGER_POSTING_SLOT_HASH(occupant) != (u32)(hash >> 32)) continue;
        u32 list_index = LEDGER_POSTING_SLOT_LIST(occupant) - 1;
        if (ledger_posting_table_key(ledger, table, list_index) == value) return slot;
    }
}

static const struct ledger_posting_list *
ledger_posting_table_find(const struct ledger *ledger, const struct ledger_posting_table *table,
                          u128 value) {
    ASSERT(value != 0);
    if (table->direct != NULL && value < LEDGER_POSTING_DIRECT_VALUES) {
        u32 cell = table->direct[(u32)value];
        ASSERT(cell <= table->list_count);
        return cell == 0 ? NULL : &table->lists[cell - 1];
    }
    u64 slot = ledger_posting_table_probe(ledger, table, value);
    u32 occupant = LEDGER_POSTING_SLOT_LIST(table->slots[slot]);
    if (occupant == 0) return NULL;
    ASSERT(occupant <= table->list_count);
    return &table->lists[occupant - 1];
}

/* A new empty list; returns its index + 1, the form slots and direct cells hold. */
static u32 ledger_posting_table_list_new(struct ledger_posting_table *table) {
    ASSERT(table->list_count < table->list_count_max); /* invariant 4: load <= 1/2 */
    ASSERT(table->lists != NULL);
    table->lists[table->list_count] = (struct ledger_posting_list){0, 0};
    table->list_count++;
    return table->list_count;
}

/* The list index + 1 of a hashed `value`, its list created on first sight. */
static u32 ledger_posting_table_hashed(const struct ledger *ledger,
                                       struct ledger_posting_table *table, u128 value) {
    u64 slot = ledger_posting_table_probe(ledger, table, value);
    if (table->slots[slot] == 0) {
        u64 hash_high = base_hash_u128(value) >> 32;
        table->slots[slot] = (hash_high << 32) | ledger_posting_table_list_new(table);
    }
    /* The probe compared `value` with the list's first record (or the list is new). */
    ASSERT(LEDGER_POSTING_SLOT_LIST(table->slots[slot]) <= table->list_count);
    return LEDGER_POSTING_SLOT_LIST(table->slots[slot]);
}

/* Appends `record` to the list of a field's nonzero value below LEDGER_POSTING_DIRECT_VALUES in
 * a table with `direct` (the ledger and code of nearly every record): an array access. */
static inline void ledger_posting_table_add_direct(struct ledger_posting_table *table, u32 value,
                                                   u32 record) {
    ASSERT(value != 0 && value < LEDGER_POSTING_DIRECT_VALUES);
    u32 *cell = &table->direct[value];
    if (*cell == 0) *cell = ledger_posting_table_list_new(table);
    ASSERT(*cell <= table->list_count);
    ledger_posting_list_append(&table->pool, &table->lists[*cell - 1], record);
}

/* Appends `record` to the list of its nonzero `value`, creating the list on first sight. */
static void ledger_posting_table_add(const struct ledger *ledger,
                                     struct ledger_posting_table *table, u128 value, u32 record) {
    ASSERT(value != 0);
    u32 list = 0; /* index + 1 */
    if (table->direct != NULL && value < LEDGER_POSTING_DIRECT_VALUES) {
        u32 *cell = &table->direct[(u32)value];
        if (*cell == 0) *cell = ledger_posting_table_list_new(table);
        list = *cell;
    } else {
        list = ledger_posting_table_hashed(ledger, table, value);
    }
    ASSERT(list >= 1 && list <= table->list_count);
    ledger_posting_list_append(&table->pool, &table->lists[list - 1], record);
}

/* ----------------------------------------------------------------------------------------- */
/* Init, deinit.                                                                              */

static khorgos_error ledger_query_tables_init(struct ledger_query_index *index, bool of_accounts,
                                              u32 record_count_max, u32 ledger_count_max) {
    struct ledger_posting_table *tables =
        of_accounts ? index->account_tables : index->transfer_tables;
    for (u32 field = 0; field < LEDGER_QUERY_FIELD_COUNT; field++) {
        /* Distinct nonzero values: at most one per record, and few for ledger and code. */
        u32 list_count_max = record_count_max;
        if (field == LEDGER_QUERY_FIELD_LEDGER) {
            list_count_max = MIN(list_count_max, ledger_count_max);
        }
        if (field == LEDGER_QUERY_FIELD_CODE) {
            list_count_max = MIN(list_count_max, LEDGER_QUERY_CODE_VALUES_MAX);
        }
        khorgos_error error = ledger_posting_table_init(&tables[field], of_accounts, field,
                                                        list_count_max, record_count_max);
        if (error != KHORGOS_ERROR_ok) return error;
    }
    return KHORGOS_ERROR_ok;
}

khorgos_error ledger_query_index_init(struct ledger_query_index *index,
                                      const struct ledger_config *config) {
    ASSERT(index != NULL && config != NULL);
    ASSERT(config->account_count_max > 0 && config->transfer_count_max > 0);
    memset(index, 0, sizeof(*index));
    khorgos_error error = KHORGOS_ERROR_out_of_memory;
    u32 account_count_max = config->account_count_max;
    index->account_count_max = account_count_max;
    index->account_hints = calloc(2 * (size_t)LEDGER_QUERY_HINT_COUNT, sizeof(u32));
    if (index->account_hints == NULL) goto deinit_index;
    for (u32 side = 0; side < LEDGER_QUERY_SIDE_COUNT; side++) {
        index->account_transfers[side] =
            calloc(account_count_max, sizeof(struct ledger_posting_list));
        index->account_balances[side] =
            calloc(account_count_max, sizeof(struct ledger_posting_list));
        if (index->account_transfers[side] == NULL) goto deinit_index;
        if (index->account_balances[side] == NULL) goto deinit_index;
    }
    /* A transfer is in exactly two accounts' lists, one per side. */
    error = ledger_posting_pool_init(&index->account_transfer_pool,
                                     2 * (u64)config->transfer_count_max);
    if (error != KHORGOS_ERROR_ok) goto deinit_index;
    error = ledger_posting_pool_init(&index->account_balance_pool,
                                     config->account_balance_count_max);
    if (error != KHORGOS_ERROR_ok) goto deinit_index;
    error = ledger_query_tables_init(index, true, account_count_max, account_count_max);
    if (error != KHORGOS_ERROR_ok) goto deinit_index;
    /* A transfer's ledger is its accounts' ledger, so transfers have no more ledgers. */
    error = ledger_query_tables_init(index, false, config->transfer_count_max, account_count_max);
    if (error != KHORGOS_ERROR_ok) goto deinit_index;
    return KHORGOS_ERROR_ok;
deinit_index:
    ledger_query_index_deinit(index);
    return error;
}

static void ledger_posting_pool_prefault(struct ledger_posting_pool *pool) {
    ASSERT(pool->entries != NULL);
    ASSERT(pool->entry_count <= pool->entry_count_max);
    base_memory_resident(pool->entries, pool->entry_count_max * sizeof(u32));
}

void ledger_query_index_prefault(struct ledger_query_index *index) {
    ASSERT(index != NULL && index->account_hints != NULL);
    ASSERT(index->account_count_max > 0);
    base_memory_resident(index->account_hints, 2 * (size_t)LEDGER_QUERY_HINT_COUNT * sizeof(u32));
    for (u32 side = 0; side < LEDGER_QUERY_SIDE_COUNT; side++) {
        size_t list_bytes = (size_t)index->account_count_max * sizeof(struct ledger_posting_list);
        base_memory_resident(index->account_transfers[side], list_bytes);
        base_memory_resident(index->account_balances[side], list_bytes);
    }
    ledger_posting_pool_prefault(&index->account_transfer_pool);
    ledger_posting_pool_prefault(&index->account_balance_pool);
    for (u32 field = 0; field < LEDGER_QUERY_FIELD_COUNT; field++) {
        struct ledger_posting_table *tables[2] = {&index->account_tables[field],
                                                  &index->transfer_tables[field]};
        for (u32 kind = 0; kind < 2; kind++) {
            struct ledger_posting_table *table = tables[kind];
            if (table->lists == NULL) continue; /* a field this kind of record does not have */
            if (table->slots != NULL) {
                base_memory_resident(table->slots, (size_t)(table->slot_mask + 1) * sizeof(u64));
            }
            if (table->direct != NULL) {
                base_memory_resident(table->direct, LEDGER_POSTING_DIRECT_VALUES * sizeof(u32));
            }
            base_memory_resident(table->lists, (size_t)table->list_count_max *
                                                   sizeof(struct ledger_posting_list));
            ledger_posting_pool_prefault(&table->pool);
        }
    }
}

void ledger_query_index_deinit(struct ledger_query_index *index) {
    ASSERT(index != NULL);
    for (u32 side = 0; side < LEDGER_QUERY_SIDE_COUNT; side++) {
        free(index->account_transfers[side]);
        free(index->account_balances[side]);
    }
    free(index->account_hints);
    ledger_posting_pool_deinit(&index->account_transfer_pool);
    ledger_posting_pool_deinit(&index->account_balance_pool);
    for (u32 field = 0; field < LEDGER_QUERY_FIELD_COUNT; field++) {
        ledger_posting_table_deinit(&index->account_tables[field]);
        ledger_posting_table_deinit(&index->transfer_tables[field]);
    }
    memset(index, 0, sizeof(*index));
    ASSERT(index->account_transfers[LEDGER_QUERY_SIDE_DEBIT] == NULL);
}

/* ----------------------------------------------------------------------------------------- */
/* Index update.                                                                              */

static void ledger_index_account(struct ledger *ledger, u32 account_index) {
    struct ledger_query_index *index = &ledger->query_index;
    const struct khorgos_account *account = &ledger->accounts[account_index];
    ASSERT(account_index < index->account_count_max);
    ASSERT(account_index == 0 ||
           ledger->accounts[account_index - 1].timestamp < account->timestamp);
    for (u32 field = 0; field < LEDGER_QUERY_FIELD_COUNT; field++) {
        u128 value = ledger_query_account_field(account, field);
        if (value != 0) ledger_posting_table_add(ledger, &index->account_tables[field], value,
                                                 account_index);
    }
}

/* The index of account `id`: the hint create_transfers left when it names that account, else
 * a lookup (records restored from a snapshot, or built by hand, leave none). */
static inline u32 ledger_index_account_of(const struct ledger *ledger, u128 id, u32 hint) {
    ASSERT(id != 0);
    if (hint < ledger->account_count && ledger->accounts[hint].id == id) return hint;
    u32 account_index = U32_MAX;
    bool found = base_id_map_get(&ledger->account_map, id, &account_index);
    ASSERT(found && account_index < ledger->account_count);
    return account_index;
}

static void ledger_index_transfer(struct ledger *ledger, u32 transfer_index) {
    struct ledger_query_index *index = &ledger->query_index;
    const struct khorgos_transfer *transfer = &ledger->transfers[transfer_index];
    ASSERT(transfer_index == 0 ||
           ledger->transfers[transfer_index - 1].timestamp < transfer->timestamp);
    ASSERT(transfer->debit_account_id != transfer->credit_account_id);
    const u32 *hint = &index->account_hints[2 * (transfer_index & (LEDGER_QUERY_HINT_COUNT - 1))];
    u32 debit = ledger_index_account_of(ledger, transfer->debit_account_id, hint[0]);
    u32 credit = ledger_index_account_of(ledger, transfer->credit_account_id, hint[1]);
    ASSERT(debit < index->indexed_account_count && credit < index->indexed_account_count);
    ledger_posting_list_append(&index->account_transfer_pool,
                               &index->account_transfers[LEDGER_QUERY_SIDE_DEBIT][debit],
                               transfer_index);
    ledger_posting_list_append(&index->account_transfer_pool,
                               &index->account_transfers[LEDGER_QUERY_SIDE_CREDIT][credit],
                               transfer_index);
    struct ledger_posting_table *tables = index->transfer_tables;
    /* The fields one by one, not through ledger_query_transfer_field's switch: this is the
     * path every transfer takes, and most user_data fields are zero. */
    if (transfer->user_data_128 != 0) {
        ledger_posting_table_add(ledger, &tables[LEDGER_QUERY_FIELD_USER_DATA_128],
                                 transfer->user_data_128, transfer_index);
    }
    if (transfer->user_data_64 != 0) {
        ledger_posting_table_add(ledger, &tables[LEDGER_QUERY_FIELD_USER_DATA_64],
                                 transfer->user_data_64, transfer_index);
    }
    if (transfer->user_data_32 != 0) {
        ledger_posting_table_add(ledger, &tables[LEDGER_QUERY_FIELD_USER_DATA_32],
                                 transfer->user_data_32, transfer_index);
    }
    if (transfer->ledger != 0 && transfer->ledger < LEDGER_POSTING_DIRECT_VALUES) {
        ledger_posting_table_add_direct(&tables[LEDGER_QUERY_FIELD_LEDGER], transfer->ledger,
                                        transfer_index);
    } else if (transfer->ledger != 0) {
        ledger_posting_table_add(ledger, &tables[LEDGER_QUERY_FIELD_LEDGER], transfer->ledger,
                                 transfer_index);
    }
    if (transfer->code != 0) {
        ledger_posting_table_add_direct(&tables[LEDGER_QUERY_FIELD_CODE], transfer->code,
                                        transfer_index);
    }
}

static void ledger_index_balance(struct ledger *ledger, u32 balance_index) {
    struct ledger_query_index *index = &ledger->query_index;
    const struct ledger_balance_entry *entry = &ledger->balances[balance_index];
    ASSERT(entry->account_index < index->indexed_account_count);
    ASSERT(balance_index == 0 || ledger->balances[balance_index - 1].balance.timestamp <=
                                     entry->balance.timestamp);
    ASSERT(entry->transfer_index < index->indexed_transfer_count);
    const struct khorgos_transfer *transfer = &ledger->transfers[entry->transfer_index];
    u128 account_id = ledger->accounts[entry->account_index].id;
    ASSERT(transfer->debit_account_id == account_id || transfer->credit_account_id == account_id);
    u32 side = transfer->debit_account_id == account_id ? LEDGER_QUERY_SIDE_DEBIT
                                                         : LEDGER_QUERY_SIDE_CREDIT;
    ledger_posting_list_append(&index->account_balance_pool,
                               &index->account_balances[side][entry->account_index],
                               balance_index);
}

void ledger_index_update(struct ledger *ledger) {
    ASSERT(ledger != NULL);
    struct ledger_query_index *index = &ledger->query_index;
    ASSERT(index->account_transfers[LEDGER_QUERY_SIDE_DEBIT] != NULL);
    /* Invariant 1: rolled-back records were never indexed. */
    ASSERT(index->indexed_account_count <= ledger->account_count);
    ASSERT(index->indexed_transfer_count <= ledger->transfer_count);
    ASSERT(index->indexed_balance_count <= ledger->balance_count);
    for (; index->indexed_account_count < ledger->account_count; index->indexed_account_count++) {
        ledger_index_account(ledger, index->indexed_account_count);
    }
    for (; index->indexed_transfer_count < ledger->transfer_count;
         index->indexed_transfer_count++) {
        ledger_index_transfer(ledger, index->indexed_transfer_count);
    }
    for (; index->indexed_balance_count < ledger->balance_count; index->indexed_balance_count++) {
        ledger_index_balance(ledger, index->indexed_balance_count);
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Scans and walks. A scan is a timestamp range of a sequence of records, found by binary       */
/* search; a walk visits one scan, or merges two (an account's debit and credit sides) by       */
/* timestamp, forwards or backwards.                                                          */

struct ledger_query_scan {
    const u32 *entries; /* NULL: position p is record p of the kind's array */
    u32 kind;           /* enum ledger_query_kind: what the entries index */
    u32 begin;          /* first position in the range */
    u32 end;            /* one past the last */
};

struct ledger_query_walk {
    struct ledger_query_scan scans[LEDGER_QUERY_SIDE_COUNT];
    u32 taken[LEDGER_QUERY_SIDE_COUNT]; /* entries of each scan visited so far */
    u32 scan_count;                     /* 1 or 2 */
    bool reversed;
};

/* The first position among [0, count) whose record's timestamp is >= timestamp. */
static u32 ledger_query_lower_bound(const struct ledger *ledger, const u32 *entries, u32 kind,
                                    u32 count, u64 timestamp) {
    ASSERT(ledger != NULL);
    ASSERT(entries != NULL || kind != LEDGER_QUERY_KIND_BALANCE); /* history is walked by list */
    u32 low = 0;
    u32 high = count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        u32 record = entries == NULL ? middle : entries[middle];
        if (ledger_query_timestamp(ledger, kind, record) < timestamp) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    ASSERT(low <= count);
    return low;
}

static struct ledger_query_scan ledger_query_scan_make(const struct ledger *ledger,
                                                       const u32 *entries, u32 kind, u32 count,
                                                       u64 timestamp_min, u64 timestamp_max) {
    ASSERT(timestamp_max == 0 || timestamp_min <= timestamp_max);
    ASSERT(timestamp_max <= LEDGER_QUERY_TIMESTAMP_MAX);
    struct ledger_query_scan scan = {.entries = entries, .kind = kind};
    scan.begin = ledger_query_lower_bound(ledger, entries, kind, count, timestamp_min);
    scan.end = timestamp_max == 0
                   ? count
                   : ledger_query_lower_bound(ledger, entries, kind, count, timestamp_max + 1);
    ASSERT(scan.begin <= scan.end);
    return scan;
}

static struct ledger_query_scan ledger_query_scan_list(const struct ledger *ledger,
                                                       const struct ledger_posting_pool *pool,
                                                       const struct ledger_posting_list *list,
                                                       u32 kind, u64 timestamp_min,
                                                       u64 timestamp_max) {
    ASSERT(list != NULL);
    ASSERT(kind != LEDGER_QUERY_KIND_ACCOUNT || list->count <= ledger->account_count);
    return ledger_query_scan_make(ledger, ledger_posting_list_entries(pool, list), kind,
                                  list->count, timestamp_min, timestamp_max);
}

static void ledger_query_walk_single(struct ledger_query_walk *walk,
                                     const struct ledger_query_scan *scan, bool reversed) {
    ASSERT(walk != NULL && scan != NULL);
    ASSERT(scan->begin <= scan->end);
    memset(walk, 0, sizeof(*walk));
    walk->scans[0] = *scan;
    walk->scan_count = 1;
    walk->reversed = reversed;
}

/* Entries the walk may visit at most. */
static u64 ledger_query_walk_size(const struct ledger_query_walk *walk) {
    ASSERT(walk->scan_count >= 1 && walk->scan_count <= LEDGER_QUERY_SIDE_COUNT);
    u64 size = 0;
    for (u32 index = 0; index < walk->scan_count; index++) {
        ASSERT(walk->scans[index].begin <= walk->scans[index].end);
        size += walk->scans[index].end - walk->scans[index].begin;
    }
    return size;
}

/* The record scan `index` would give next, or false when it is used up. */
static bool ledger_query_walk_peek(const struct ledger_query_walk *walk, u32 index,
                                   u32 *record) {
    const struct ledger_query_scan *scan = &walk->scans[index];
    ASSERT(walk->taken[index] <= scan->end - scan->begin);
    if (walk->taken[index] == scan->end - scan->begin) return false;
    u32 position = walk->reversed ? scan->end - 1 - walk->taken[index]
                                  : scan->begin + walk->taken[index];
    *record = scan->entries == NULL ? position : scan->entries[position];
    return true;
}

/* The next record in timestamp order (newest first when reversed); false at the end. */
static bool ledger_query_walk_next(const struct ledger *ledger, struct ledger_query_walk *walk,
                                   u32 *record) {
    ASSERT(walk->scan_count >= 1 && walk->scan_count <= LEDGER_QUERY_SIDE_COUNT);
    u32 chosen = U32_MAX;
    u64 chosen_timestamp = 0;
    for (u32 index = 0; index < walk->scan_count; index++) {
        u32 candidate = U32_MAX;
        if (!ledger_query_walk_peek(walk, index, &candidate)) continue;
        u64 timestamp = ledger_query_timestamp(ledger, walk->scans[index].kind, candidate);
        ASSERT(chosen == U32_MAX || timestamp != chosen_timestamp); /* sides never share one */
        bool better = walk->reversed ? timestamp > chosen_timestamp
                                     : timestamp < chosen_timestamp;
        if (chosen == U32_MAX || better) {
            chosen = index;
            chosen_timestamp = timestamp;
            *record = candidate;
        }
    }
    if (chosen == U32_MAX) return false;
    walk->taken[chosen]++;
    return true;
}

/* Replaces the walk with a field's list when that is narrower: for each nonzero `values`
 * (indexed by field), its list in range. False when some value has no list: nothing matches. */
static bool ledger_query_walk_narrow(const struct ledger *ledger,
                                     const struct ledger_posting_table *tables,
                                     const u128 values[LEDGER_QUERY_FIELD_COUNT],
                                     u64 timestamp_min, u64 timestamp_max,
                                     struct ledger_query_walk *walk) {
    ASSERT(tables != NULL && walk != NULL);
    u32 kind = walk->scans[0].kind;
    ASSERT(kind == LEDGER_QUERY_KIND_ACCOUNT || kind == LEDGER_QUERY_KIND_TRANSFER);
    for (u32 field = 0; field < LEDGER_QUERY_FIELD_COUNT; field++) {
        if (values[field] == 0) continue;
        const struct ledger_posting_table *table = &tables[field];
        ASSERT(table->field == field);
        const struct ledger_posting_list *list = ledger_posting_table_find(ledger, table,
                                                                           values[field]);
        if (list == NULL) return false;
        struct ledger_query_scan candidate = ledger_query_scan_list(
            ledger, &table->pool, list, kind, timestamp_min, timestamp_max);
        if (candidate.end - candidate.begin < ledger_query_walk_size(walk)) {
            ledger_query_walk_single(walk, &candidate, walk->reversed);
        }
    }
    return true;
}

static void ledger_query_index_check_current(const struct ledger *ledger) {
    const struct ledger_query_index *index = &ledger->query_index;
    /* Invariant 2: ledger_index_update ran after the last change. */
    ASSERT(index->indexed_account_count == ledger->account_count);
    ASSERT(index->indexed_transfer_count == ledger->transfer_count);
    ASSERT(index->indexed_balance_count == ledger->balance_count);
}

/* ----------------------------------------------------------------------------------------- */
/* Filters.                                                                                   */

static bool ledger_query_timestamps_valid(u64 timestamp_min, u64 timestamp_max) {
    if (timestamp_min > LEDGER_QUERY_TIMESTAMP_MAX) return false;
    if (timestamp_max > LEDGER_QUERY_TIMESTAMP_MAX) return false;
    return timestamp_max == 0 || timestamp_min <= timestamp_max;
}

static bool ledger_account_filter_valid(const struct khorgos_account_filter *filter) {
    ASSERT(filter != NULL);
    const u32 sides = KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS;
    const u32 flags_all = sides | KHORGOS_ACCOUNT_FILTER_REVERSED;
    if (filter->account_id == 0 || filter->account_id == U128_MAX) return false;
    if (!ledger_query_timestamps_valid(filter->timestamp_min, filter->timestamp_max)) return false;
    if (filter->limit == 0) return false;
    if ((filter->flags & sides) == 0 || (filter->flags & ~flags_all) != 0) return false;
    return base_bytes_zero(filter->reserved, sizeof(filter->reserved));
}

static bool ledger_query_filter_valid(const struct khorgos_query_filter *filter) {
    ASSERT(filter != NULL);
    if (!ledger_query_timestamps_valid(filter->timestamp_min, filter->timestamp_max)) return false;
    if (filter->limit == 0) return false;
    if ((filter->flags & ~(u32)KHORGOS_QUERY_FILTER_REVERSED) != 0) return false;
    return base_bytes_zero(filter->reserved, sizeof(filter->reserved));
}

/* Whether a transfer passes an account filter's side flags and fields (account id aside). */
static bool ledger_account_filter_match(const struct khorgos_account_filter *filter,
                                        const struct khorgos_transfer *transfer) {
    ASSERT(filter != NULL && transfer != NULL);
    bool debit = (filter->flags & KHORGOS_ACCOUNT_FILTER_DEBITS) != 0 &&
                 transfer->debit_account_id == filter->account_id;
    bool credit = (filter->flags & KHORGOS_ACCOUNT_FILTER_CREDITS) != 0 &&
                  transfer->credit_account_id == filter->account_id;
    if (!debit && !credit) return false;
    if (filter->user_data_128 != 0 && transfer->user_data_128 != filter->user_data_128) {
        return false;
    }
    if (filter->user_data_64 != 0 && transfer->user_data_64 != filter->user_data_64) return false;
    if (filter->user_data_32 != 0 && transfer->user_data_32 != filter->user_data_32) return false;
    return filter->code == 0 || transfer->code == filter->code;
}

/* The query filter's fields, by enum ledger_query_field. */
static void ledger_query_filter_values(const struct khorgos_query_filter *filter,
                                       u128 values[LEDGER_QUERY_FIELD_COUNT]) {
    ASSERT(filter != NULL && values != NULL);
    values[LEDGER_QUERY_FIELD_USER_DATA_128] = filter->user_data_128;
    values[LEDGER_QUERY_FIELD_USER_DATA_64] = filter->user_data_64;
    values[LEDGER_QUERY_FIELD_USER_DATA_32] = filter->user_data_32;
    values[LEDGER_QUERY_FIELD_LEDGER] = filter->ledger;
    values[LEDGER_QUERY_FIELD_CODE] = filter->code;
}

/* ----------------------------------------------------------------------------------------- */
/* Lookups.                                                                                   */

u32 ledger_lookup_accounts(const struct ledger *ledger, const u128 *ids, u32 count,
                           struct khorgos_account *out) {
    ASSERT(ledger != NULL);
    ASSERT(count == 0 || (ids != NULL && out != NULL));
    u32 written = 0;
    for (u32 position = 0; position < count; position++) {
        u32 account_index = U32_MAX;
        if (ids[position] == 0 || ids[position] == U128_MAX) continue;
        if (!base_id_map_get(&ledger->account_map, ids[position], &account_index)) continue;
        ASSERT(account_index < ledger->account_count);
        out[written] = ledger->accounts[account_index];
        ASSERT(out[written].id == ids[position]);
        written++;
    }
    ASSERT(written <= count);
    return written;
}

u32 ledger_lookup_transfers(const struct ledger *ledger, const u128 *ids, u32 count,
                            struct khorgos_transfer *out) {
    ASSERT(ledger != NULL);
    ASSERT(count == 0 || (ids != NULL && out != NULL));
    u32 written = 0;
    for (u32 position = 0; position < count; position++) {
        u32 transfer_index = U32_MAX;
        if (ids[position] == 0 || ids[position] == U128_MAX) continue;
        if (!base_id_map_get(&ledger->transfer_map, ids[position], &transfer_index)) continue;
        ASSERT(transfer_index < ledger->transfer_count);
        out[written] = ledger->transfers[transfer_index];
        ASSERT(out[written].id == ids[position]);
        written++;
    }
    ASSERT(written <= count);
    return written;
}

/* ----------------------------------------------------------------------------------------- */
/* get_account_transfers, get_account_balances.                                               */

/* The account of a valid filter, or false when it does not exist. */
static bool ledger_query_account_find(const struct ledger *ledger,
                                      const struct khorgos_account_filter *filter,
                                      u32 *account_index) {
    ASSERT(filter->account_id != 0 && filter->account_id != U128_MAX);
    if (!base_id_map_get(&ledger->account_map, filter->account_id, account_index)) return false;
    ASSERT(*account_index < ledger->account_count);
    ASSERT(ledger->accounts[*account_index].id == filter->account_id);
    return true;
}

/* A walk over the filter's sides of one account's lists (transfers or history entries). */
static void ledger_query_walk_sides(const struct ledger *ledger,
                                    const struct khorgos_account_filter *filter,
                                    struct ledger_posting_list *const *lists,
                                    const struct ledger_posting_pool *pool, u32 kind,
                                    u32 account_index, struct ledger_query_walk *walk) {
    ASSERT(account_index < ledger->account_count);
    const u32 side_flags[LEDGER_QUERY_SIDE_COUNT] = {KHORGOS_ACCOUNT_FILTER_DEBITS,
                                                     KHORGOS_ACCOUNT_FILTER_CREDITS};
    memset(walk, 0, sizeof(*walk));
    walk->reversed = (filter->flags & KHORGOS_ACCOUNT_FILTER_REVERSED) != 0;
    for (u32 side = 0; side < LEDGER_QUERY_SIDE_COUNT; side++) {
        if ((filter->flags & side_flags[side]) == 0) continue;
        walk->scans[walk->scan_count++] =
            ledger_query_scan_list(ledger, pool, &lists[side][account_index], kind,
                                   filter->timestamp_min, filter->timestamp_max);
    }
    ASSERT(walk->scan_count >= 1); /* a valid filter asks for at least one side */
}

u32 ledger_get_account_transfers(const struct ledger *ledger,
                                 const struct khorgos_account_filter *filter,
                                 struct khorgos_transfer *out, u32 count_max) {
    ASSERT(ledger != NULL && filter != NULL);
    ASSERT(out != NULL || count_max == 0);
    ledger_query_index_check_current(ledger);
    u32 account_index = U32_MAX;
    if (!ledger_account_filter_valid(filter)) return 0;
    if (!ledger_query_account_find(ledger, filter, &account_index)) return 0;
    const struct ledger_query_index *index = &ledger->query_index;
    struct ledger_query_walk walk;
    ledger_query_walk_sides(ledger, filter, index->account_transfers,
                            &index->account_transfer_pool, LEDGER_QUERY_KIND_TRANSFER,
                            account_index, &walk);
    const u128 values[LEDGER_QUERY_FIELD_COUNT] = {filter->user_data_128, filter->user_data_64,
                                                   filter->user_data_32, 0, filter->code};
    if (!ledger_query_walk_narrow(ledger, index->transfer_tables, values, filter->timestamp_min,
                                  filter->timestamp_max, &walk)) {
        return 0;
    }
    u32 limit = MIN(filter->limit, count_max);
    u32 written = 0;
    u32 transfer_index = U32_MAX;
    while (written < limit && ledger_query_walk_next(ledger, &walk, &transfer_index)) {
        const struct khorgos_transfer *transfer = &ledger->transfers[transfer_index];
        if (ledger_account_filter_match(filter, transfer)) out[written++] = *transfer;
    }
    ASSERT(written <= limit);
    return written;
}

/* Whether history entry `balance_index` of the account passes the filter. */
static bool ledger_query_balance_match(const struct ledger *ledger,
                                       const struct khorgos_account_filter *filter,
                                       u32 account_index, u32 balance_index) {
    const struct ledger_balance_entry *entry = &ledger->balances[balance_index];
    ASSERT(entry->account_index == account_index);
    ASSERT(entry->transfer_index < ledger->transfer_count);
    const struct khorgos_transfer *transfer = &ledger->transfers[entry->transfer_index];
    /* Only a transfer's own entries are its history (TigerBeetle scans transfers). */
    if (transfer->timestamp != entry->balance.timestamp) return false;
    return ledger_account_filter_match(filter, transfer);
}

u32 ledger_get_account_balances(const struct ledger *ledger,
                                const struct khorgos_account_filter *filter,
                                struct khorgos_account_balance *out, u32 count_max) {
    ASSERT(ledger != NULL && filter != NULL);
    ASSERT(out != NULL || count_max == 0);
    ledger_query_index_check_current(ledger);
    u32 account_index = U32_MAX;
    if (!ledger_account_filter_valid(filter)) return 0;
    if (!ledger_query_account_find(ledger, filter, &account_index)) return 0;
    if ((ledger->accounts[account_index].flags & KHORGOS_ACCOUNT_HISTORY) == 0) return 0;
    const struct ledger_query_index *index = &ledger->query_index;
    struct ledger_query_walk walk;
    ledger_query_walk_sides(ledger, filter, index->account_balances,
                            &index->account_balance_pool, LEDGER_QUERY_KIND_BALANCE,
                            account_index, &walk);
    u32 limit = MIN(filter->limit, count_max);
    u32 written = 0;
    u32 balance_index = U32_MAX;
    while (written < limit && ledger_query_walk_next(ledger, &walk, &balance_index)) {
        if (!ledger_query_balance_match(ledger, filter, account_index, balance_index)) continue;
        out[written] = ledger->balances[balance_index].balance;
        memset(out[written].reserved, 0, sizeof(out[written].reserved));
        written++;
    }
    ASSERT(written <= limit);
    return written;
}

/* ----------------------------------------------------------------------------------------- */
/* query_accounts, query_transfers.                                                           */

static bool ledger_query_account_match(const struct khorgos_query_filter *filter,
                                       const struct khorgos_account *account) {
    ASSERT(filter != NULL && account != NULL);
    if (filter->user_data_128 != 0 && account->user_data_128 != filter->user_data_128) return false;
    if (filter->user_data_64 != 0 && account->user_data_64 != filter->user_data_64) return false;
    if (filter->user_data_32 != 0 && account->user_data_32 != filter->user_data_32) return false;
    if (filter->ledger != 0 && account->ledger != filter->ledger) return false;
    return filter->code == 0 || account->code == filter->code;
}

static bool ledger_query_transfer_match(const struct khorgos_query_filter *filter,
                                        const struct khorgos_transfer *transfer) {
    ASSERT(filter != NULL && transfer != NULL);
    if (filter->user_data_128 != 0 && transfer->user_data_128 != filter->user_data_128) {
        return false;
    }
    if (filter->user_data_64 != 0 && transfer->user_data_64 != filter->user_data_64) return false;
    if (filter->user_data_32 != 0 && transfer->user_data_32 != filter->user_data_32) return false;
    if (filter->ledger != 0 && transfer->ledger != filter->ledger) return false;
    return filter->code == 0 || transfer->code == filter->code;
}

/* The narrowest walk for a valid query filter over accounts or transfers; false: no match. */
static bool ledger_query_walk_choose(const struct ledger *ledger,
                                     const struct khorgos_query_filter *filter, u32 kind,
                                     struct ledger_query_walk *walk) {
    ASSERT(kind == LEDGER_QUERY_KIND_ACCOUNT || kind == LEDGER_QUERY_KIND_TRANSFER);
    const struct ledger_query_index *index = &ledger->query_index;
    bool of_accounts = kind == LEDGER_QUERY_KIND_ACCOUNT;
    u32 count = of_accounts ? ledger->account_count : ledger->transfer_count;
    struct ledger_query_scan all = ledger_query_scan_make(ledger, NULL, kind, count,
                                                          filter->timestamp_min,
                                                          filter->timestamp_max);
    ledger_query_walk_single(walk, &all, (filter->flags & KHORGOS_QUERY_FILTER_REVERSED) != 0);
    u128 values[LEDGER_QUERY_FIELD_COUNT];
    ledger_query_filter_values(filter, values);
    return ledger_query_walk_narrow(ledger, of_accounts ? index->account_tables
                                                        : index->transfer_tables,
                                    values, filter->timestamp_min, filter->timestamp_max, walk);
}

u32 ledger_query_accounts(const struct ledger *ledger, const struct khorgos_query_filter *filter,
                          struct khorgos_account *out, u32 count_max) {
    ASSERT(ledger != NULL && filter != NULL);
    ASSERT(out != NULL || count_max == 0);
    ledger_query_index_check_current(ledger);
    struct ledger_query_walk walk;
    if (!ledger_query_filter_valid(filter)) return 0;
    if (!ledger_query_walk_choose(ledger, filter, LEDGER_QUERY_KIND_ACCOUNT, &walk)) return 0;
    u32 limit = MIN(filter->limit, count_max);
    u32 written = 0;
    u32 account_index = U32_MAX;
    while (written < limit && ledger_query_walk_next(ledger, &walk, &account_index)) {
        const struct khorgos_account *account = &ledger->accounts[account_index];
        if (ledger_query_account_match(filter, account)) out[written++] = *account;
    }
    ASSERT(written <= limit);
    return written;
}

u32 ledger_query_transfers(const struct ledger *ledger, const struct khorgos_query_filter *filter,
                           struct khorgos_transfer *out, u32 count_max) {
    ASSERT(ledger != NULL && filter != NULL);
    ASSERT(out != NULL || count_max == 0);
    ledger_query_index_check_current(ledger);
    struct ledger_query_walk walk;
    if (!ledger_query_filter_valid(filter)) return 0;
    if (!ledger_query_walk_choose(ledger, filter, LEDGER_QUERY_KIND_TRANSFER, &walk)) return 0;
    u32 limit = MIN(filter->limit, count_max);
    u32 written = 0;
    u32 transfer_index = U32_MAX;
    while (written < limit && ledger_query_walk_next(ledger, &walk, &transfer_index)) {
        const struct khorgos_transfer *transfer = &ledger->transfers[transfer_index];
        if (ledger_query_transfer_match(filter, transfer)) out[written++] = *transfer;
    }
    ASSERT(written <= limit);
    return written;
}
