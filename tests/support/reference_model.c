/*
 * reference_model.c: the reference model of TigerBeetle 0.17 (see reference_model.h for the
 * design: plain arrays, an insert-only id table, snapshots for linked chains, the engine's
 * public timestamp rule).
 *
 * Each check below is written in TigerBeetle's order of precedence, which is the order of
 * KHORGOS_CREATE_*_STATUSES in include/khorgos.h; the first failing check decides the status.
 *
 * Invariants the model keeps (checked by reference_model_invariants_hold):
 *  1. Per ledger, the sum of debits_pending equals the sum of credits_pending, and the sum of
 *     debits_posted equals the sum of credits_posted.
 *  2. An account with debits_must_not_exceed_credits has debits_pending + debits_posted <=
 *     credits_posted (and symmetrically), because only a check-passing transfer moves money.
 *  3. Accounts and transfers are stored in strictly increasing timestamp order, so "the last
 *     timestamp" of each kind is the last element's (imported events must not regress).
 *  4. expiry_indexes holds exactly the pending transfers with a timeout still pending.
 */
#include "reference_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_ASSERT(expression)                                                               \
    do {                                                                                       \
        if (!(expression)) {                                                                   \
            fprintf(stderr, "%s:%d: reference model assertion failed: %s\n", __FILE__,         \
                    __LINE__, #expression);                                                    \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

typedef khorgos_u128 u128;

#define MODEL_U128_MAX KHORGOS_U128_MAX
#define MODEL_NS_PER_S 1000000000ull

#define ACCOUNT(name) KHORGOS_CREATE_ACCOUNT_##name
#define TRANSFER(name) KHORGOS_CREATE_TRANSFER_##name

/* ----------------------------------------------------------------------------------------- */
/* Small helpers.                                                                            */

static uint64_t model_max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static u128 model_min_u128(u128 a, u128 b) { return a < b ? a : b; }
static bool model_add_overflows(u128 a, u128 b) { return a + b < a; }
static u128 model_saturating_sub(u128 a, u128 b) { return a > b ? a - b : 0; }

static uint64_t model_hash(u128 id) {
    uint64_t hash = (uint64_t)id ^ ((uint64_t)(id >> 64) * 0x9E3779B97F4A7C15ull);
    hash ^= hash >> 31;
    hash *= 0xBF58476D1CE4E5B9ull;
    hash ^= hash >> 29;
    return hash;
}

/* The slot holding `id`, or the empty slot where it would go. Tables never fill past half. */
static struct reference_model_id_slot *model_slot(struct reference_model_id_slot *slots,
                                                  uint64_t mask, u128 id) {
    MODEL_ASSERT(id != 0);
    for (uint64_t probe = model_hash(id) & mask;; probe = (probe + 1) & mask) {
        if (slots[probe].id == id || slots[probe].id == 0) return &slots[probe];
    }
}

static bool model_failed_contains(const struct reference_model *model, u128 id) {
    struct reference_model_id_slot *slot =
        model_slot(model->failed_slots, model->failed_slot_mask, id);
    return slot->id == id;
}

static void model_failed_insert(struct reference_model *model, u128 id) {
    struct reference_model_id_slot *slot =
        model_slot(model->failed_slots, model->failed_slot_mask, id);
    if (slot->id == id) return;
    MODEL_ASSERT((uint64_t)(model->failed_slot_used + 1) * 2 <= model->failed_slot_mask + 1);
    slot->id = id;
    model->failed_slot_used++;
}

static int64_t model_transfer_index(const struct reference_model *model, u128 id) {
    if (id == 0 || id == MODEL_U128_MAX) return -1;
    struct reference_model_id_slot *slot =
        model_slot(model->transfer_slots, model->transfer_slot_mask, id);
    if (slot->id != id) return -1;
    if (slot->index >= model->transfer_count) return -1;
    if (model->transfers[slot->index].id != id) return -1;
    return slot->index;
}

static int64_t model_account_index(const struct reference_model *model, u128 id) {
    if (id == 0) return -1;
    for (uint32_t index = 0; index < model->account_count; index++) {
        if (model->accounts[index].id == id) return index;
    }
    return -1;
}

static bool model_account_exists_at(const struct reference_model *model, uint64_t timestamp) {
    for (uint32_t index = 0; index < model->account_count; index++) {
        if (model->accounts[index].timestamp == timestamp) return true;
    }
    return false;
}

static bool model_transfer_exists_at(const struct reference_model *model, uint64_t timestamp) {
    uint32_t low = 0;
    uint32_t high = model->transfer_count;
    while (low < high) { /* transfers are sorted by timestamp (invariant 3) */
        uint32_t middle = low + (high - low) / 2;
        if (model->transfers[middle].timestamp < timestamp) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    return low < model->transfer_count && model->transfers[low].timestamp == timestamp;
}

static uint64_t model_account_timestamp_max(const struct reference_model *model) {
    return model->account_count == 0 ? 0 : model->accounts[model->account_count - 1].timestamp;
}

static uint64_t model_transfer_timestamp_max(const struct reference_model *model) {
    return model->transfer_count == 0 ? 0
                                      : model->transfers[model->transfer_count - 1].timestamp;
}

static uint64_t model_expires_at(const struct khorgos_transfer *transfer) {
    MODEL_ASSERT(transfer->timeout > 0);
    return transfer->timestamp + (uint64_t)transfer->timeout * MODEL_NS_PER_S;
}

/* ----------------------------------------------------------------------------------------- */
/* Lifecycle.                                                                                */

static uint64_t model_table_size(uint32_t count_max) {
    uint64_t size = 16;
    while (size < (uint64_t)count_max * 2 + 2) size *= 2;
    return size;
}

struct reference_model *reference_model_create(uint32_t transfer_count_max) {
    MODEL_ASSERT(transfer_count_max > 0);
    struct reference_model *model = calloc(1, sizeof(*model));
    if (model == NULL) return NULL;
    model->clock_ns = KHORGOS_MANUAL_CLOCK_START_NS;
    model->transfer_count_max = transfer_count_max;
    /* Every successful create inserts an id (rolled-back ones included), so the id table is
     * sized for twice the records; failed ids at most one per event. */
    uint64_t transfer_slots = model_table_size(transfer_count_max * 2);
    uint64_t failed_slots = model_table_size(transfer_count_max * 2);
    model->transfers = calloc(transfer_count_max, sizeof(*model->transfers));
    model->transfer_states = calloc(transfer_count_max, 1);
    model->transfer_balances = calloc((size_t)transfer_count_max * 2,
                                      sizeof(*model->transfer_balances));
    model->transfer_slots = calloc(transfer_slots, sizeof(*model->transfer_slots));
    model->failed_slots = calloc(failed_slots, sizeof(*model->failed_slots));
    model->expiry_indexes = calloc(transfer_count_max, sizeof(uint32_t));
    model->snapshot.expiry_indexes = calloc(transfer_count_max, sizeof(uint32_t));
    model->snapshot.state_undo_indexes = calloc(transfer_count_max, sizeof(uint32_t));
    model->snapshot.state_undo_values = calloc(transfer_count_max, 1);
    model->transfer_slot_mask = transfer_slots - 1;
    model->failed_slot_mask = failed_slots - 1;
    if (model->transfers == NULL || model->transfer_states == NULL ||
        model->transfer_balances == NULL ||
        model->transfer_slots == NULL || model->failed_slots == NULL ||
        model->expiry_indexes == NULL || model->snapshot.expiry_indexes == NULL ||
        model->snapshot.state_undo_indexes == NULL || model->snapshot.state_undo_values == NULL) {
        reference_model_destroy(model);
        return NULL;
    }
    return model;
}

void reference_model_destroy(struct reference_model *model) {
    if (model == NULL) return;
    free(model->transfers);
    free(model->transfer_states);
    free(model->transfer_balances);
    free(model->transfer_slots);
    free(model->failed_slots);
    free(model->expiry_indexes);
    free(model->snapshot.expiry_indexes);
    free(model->snapshot.state_undo_indexes);
    free(model->snapshot.state_undo_values);
    free(model);
}

/* ----------------------------------------------------------------------------------------- */
/* Linked chains: snapshot when a chain opens, restore when it fails.                        */

static void model_chain_open(struct reference_model *model) {
    MODEL_ASSERT(!model->chain_open);
    struct reference_model_snapshot *snapshot = &model->snapshot;
    snapshot->account_count = model->account_count;
    memcpy(snapshot->accounts, model->accounts,
           model->account_count * sizeof(struct khorgos_account));
    snapshot->transfer_count = model->transfer_count;
    snapshot->expiry_count = model->expiry_count;
    memcpy(snapshot->expiry_indexes, model->expiry_indexes,
           model->expiry_count * sizeof(uint32_t));
    snapshot->state_undo_count = 0;
    model->chain_open = true;
}

static void model_chain_rollback(struct reference_model *model) {
    MODEL_ASSERT(model->chain_open);
    struct reference_model_snapshot *snapshot = &model->snapshot;
    model->account_count = snapshot->account_count;
    memcpy(model->accounts, snapshot->accounts,
           snapshot->account_count * sizeof(struct khorgos_account));
    for (uint32_t undo = snapshot->state_undo_count; undo > 0; undo--) {
        model->transfer_states[snapshot->state_undo_indexes[undo - 1]] =
            snapshot->state_undo_values[undo - 1];
    }
    MODEL_ASSERT(snapshot->transfer_count <= model->transfer_count);
    model->transfer_count = snapshot->transfer_count;
    model->expiry_count = snapshot->expiry_count;
    memcpy(model->expiry_indexes, snapshot->expiry_indexes,
           snapshot->expiry_count * sizeof(uint32_t));
    model->chain_open = false;
}

static void model_chain_close(struct reference_model *model) {
    MODEL_ASSERT(model->chain_open);
    model->chain_open = false;
}

static void model_transfer_state_set(struct reference_model *model, uint32_t index,
                                     uint8_t state) {
    MODEL_ASSERT(index < model->transfer_count);
    if (model->chain_open) {
        struct reference_model_snapshot *snapshot = &model->snapshot;
        MODEL_ASSERT(snapshot->state_undo_count < model->transfer_count_max);
        snapshot->state_undo_indexes[snapshot->state_undo_count] = index;
        snapshot->state_undo_values[snapshot->state_undo_count] = model->transfer_states[index];
        snapshot->state_undo_count++;
    }
    model->transfer_states[index] = state;
}

/* ----------------------------------------------------------------------------------------- */
/* Expiry and time.                                                                          */

uint64_t reference_model_expiry_next(const struct reference_model *model) {
    uint64_t next = 0;
    for (uint32_t position = 0; position < model->expiry_count; position++) {
        uint32_t index = model->expiry_indexes[position];
        MODEL_ASSERT(model->transfer_states[index] == REFERENCE_MODEL_PENDING);
        uint64_t expires_at = model_expires_at(&model->transfers[index]);
        if (next == 0 || expires_at < next) next = expires_at;
    }
    return next;
}

static void model_expiry_remove(struct reference_model *model, uint32_t transfer_index) {
    for (uint32_t position = 0; position < model->expiry_count; position++) {
        if (model->expiry_indexes[position] == transfer_index) {
            model->expiry_indexes[position] = model->expiry_indexes[model->expiry_count - 1];
            model->expiry_count--;
            return;
        }
    }
    MODEL_ASSERT(false && "pending transfer with a timeout missing from the expiry list");
}

/* Releases a pending transfer's reservation; reopens what a closing transfer closed. */
static void model_pending_release(struct reference_model *model,
                                  const struct khorgos_transfer *pending) {
    int64_t debit = model_account_index(model, pending->debit_account_id);
    int64_t credit = model_account_index(model, pending->credit_account_id);
    MODEL_ASSERT(debit >= 0 && credit >= 0);
    struct khorgos_account *debit_account = &model->accounts[debit];
    struct khorgos_account *credit_account = &model->accounts[credit];
    MODEL_ASSERT(debit_account->debits_pending >= pending->amount);
    MODEL_ASSERT(credit_account->credits_pending >= pending->amount);
    debit_account->debits_pending -= pending->amount;
    credit_account->credits_pending -= pending->amount;
    if (pending->flags & KHORGOS_TRANSFER_CLOSING_DEBIT) {
        MODEL_ASSERT(debit_account->flags & KHORGOS_ACCOUNT_CLOSED);
        debit_account->flags &= (uint16_t)~KHORGOS_ACCOUNT_CLOSED;
    }
    if (pending->flags & KHORGOS_TRANSFER_CLOSING_CREDIT) {
        MODEL_ASSERT(credit_account->flags & KHORGOS_ACCOUNT_CLOSED);
        credit_account->flags &= (uint16_t)~KHORGOS_ACCOUNT_CLOSED;
    }
}

/* The pulse: expires every pending transfer due at or before `timestamp`. */
static void model_pulse(struct reference_model *model, uint64_t timestamp) {
    MODEL_ASSERT(!model->chain_open);
    for (;;) {
        uint64_t next = reference_model_expiry_next(model);
        if (next == 0 || next > timestamp) break;
        for (uint32_t position = 0; position < model->expiry_count; position++) {
            uint32_t index = model->expiry_indexes[position];
            if (model_expires_at(&model->transfers[index]) != next) continue;
            model_pending_release(model, &model->transfers[index]);
            model->transfer_states[index] = REFERENCE_MODEL_EXPIRED;
            model_expiry_remove(model, index);
            break;
        }
    }
}

static void model_pulse_if_due(struct reference_model *model, uint64_t due) {
    uint64_t next = reference_model_expiry_next(model);
    if (next == 0 || next > due) return;
    uint64_t pulse_timestamp = model_max_u64(model->clock_ns, model->timestamp_last + 1);
    model_pulse(model, pulse_timestamp);
    model->timestamp_last = pulse_timestamp;
}

static uint64_t model_timestamp_for(const struct reference_model *model, uint32_t count) {
    uint64_t events = count == 0 ? 1 : count;
    return model_max_u64(model->clock_ns, model->timestamp_last + 1) + events - 1;
}

uint64_t reference_model_timestamp_next(const struct reference_model *model, uint32_t count) {
    uint64_t timestamp = model_timestamp_for(model, count);
    uint64_t next = reference_model_expiry_next(model);
    if (next == 0 || next > timestamp) return timestamp;
    uint64_t pulse_timestamp = model_max_u64(model->clock_ns, model->timestamp_last + 1);
    uint64_t events = count == 0 ? 1 : count;
    return model_max_u64(model->clock_ns, pulse_timestamp + 1) + events - 1;
}

/* Step 2 of a state-changing request: pulse when due, then the request's timestamp. */
static uint64_t model_prepare(struct reference_model *model, uint32_t count) {
    model_pulse_if_due(model, model_timestamp_for(model, count));
    uint64_t timestamp = model_timestamp_for(model, count);
    MODEL_ASSERT(timestamp > model->timestamp_last);
    return timestamp;
}

void reference_model_clock_advance(struct reference_model *model, uint64_t nanoseconds) {
    MODEL_ASSERT(nanoseconds <= UINT64_MAX - model->clock_ns);
    model->clock_ns += nanoseconds;
    model_pulse_if_due(model, model->clock_ns);
}

/* ----------------------------------------------------------------------------------------- */
/* create_accounts.                                                                          */

static uint32_t model_account_exists(const struct khorgos_account *a,
                                     const struct khorgos_account *e) {
    if (a->flags != e->flags) return ACCOUNT(exists_with_different_flags);
    if (a->user_data_128 != e->user_data_128) return ACCOUNT(exists_with_different_user_data_128);
    if (a->user_data_64 != e->user_data_64) return ACCOUNT(exists_with_different_user_data_64);
    if (a->user_data_32 != e->user_data_32) return ACCOUNT(exists_with_different_user_data_32);
    if (a->ledger != e->ledger) return ACCOUNT(exists_with_different_ledger);
    if (a->code != e->code) return ACCOUNT(exists_with_different_code);
    return ACCOUNT(exists);
}

/* `a` carries its timestamp already (assigned, or the imported one). */
static uint32_t model_create_account(struct reference_model *model,
                                     const struct khorgos_account *a, uint64_t *result_timestamp) {
    if (a->reserved != 0) return ACCOUNT(reserved_field);
    if (a->flags & ~KHORGOS_ACCOUNT_FLAGS_ALL) return ACCOUNT(reserved_flag);
    if (a->id == 0) return ACCOUNT(id_must_not_be_zero);
    if (a->id == MODEL_U128_MAX) return ACCOUNT(id_must_not_be_int_max);
    int64_t existing = model_account_index(model, a->id);
    if (existing >= 0) {
        uint32_t status = model_account_exists(a, &model->accounts[existing]);
        if (status == ACCOUNT(exists)) *result_timestamp = model->accounts[existing].timestamp;
        return status;
    }
    if ((a->flags & KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        (a->flags & KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS)) {
        return ACCOUNT(flags_are_mutually_exclusive);
    }
    if (a->debits_pending != 0) return ACCOUNT(debits_pending_must_be_zero);
    if (a->debits_posted != 0) return ACCOUNT(debits_posted_must_be_zero);
    if (a->credits_pending != 0) return ACCOUNT(credits_pending_must_be_zero);
    if (a->credits_posted != 0) return ACCOUNT(credits_posted_must_be_zero);
    if (a->ledger == 0) return ACCOUNT(ledger_must_not_be_zero);
    if (a->code == 0) return ACCOUNT(code_must_not_be_zero);
    if (a->flags & KHORGOS_ACCOUNT_IMPORTED) {
        if (a->timestamp <= model_account_timestamp_max(model)) {
            return ACCOUNT(imported_event_timestamp_must_not_regress);
        }
        if (model_transfer_exists_at(model, a->timestamp)) {
            return ACCOUNT(imported_event_timestamp_must_not_regress);
        }
    }
    MODEL_ASSERT(model->account_count < REFERENCE_MODEL_ACCOUNT_COUNT_MAX);
    MODEL_ASSERT(a->timestamp > model_account_timestamp_max(model));
    model->accounts[model->account_count++] = *a;
    *result_timestamp = a->timestamp;
    return ACCOUNT(created);
}

/* ----------------------------------------------------------------------------------------- */
/* create_transfers.                                                                         */

bool reference_model_transfer_status_transient(uint32_t status) {
    return status == TRANSFER(debit_account_not_found) ||
           status == TRANSFER(credit_account_not_found) ||
           status == TRANSFER(pending_transfer_not_found) ||
           status == TRANSFER(exceeds_credits) || status == TRANSFER(exceeds_debits) ||
           status == TRANSFER(debit_account_already_closed) ||
           status == TRANSFER(credit_account_already_closed);
}

static uint32_t model_post_or_void_exists(const struct khorgos_transfer *t,
                                          const struct khorgos_transfer *e,
                                          const struct khorgos_transfer *p) {
    if (t->debit_account_id != 0 && t->debit_account_id != e->debit_account_id) {
        return TRANSFER(exists_with_different_debit_account_id);
    }
    if (t->credit_account_id != 0 && t->credit_account_id != e->credit_account_id) {
        return TRANSFER(exists_with_different_credit_account_id);
    }
    if (t->flags & KHORGOS_TRANSFER_VOID_PENDING_TRANSFER) {
        if (t->amount == 0 ? e->amount != p->amount : t->amount != e->amount) {
            return TRANSFER(exists_with_different_amount);
        }
    }
    if (t->flags & KHORGOS_TRANSFER_POST_PENDING_TRANSFER) {
        if (t->amount == KHORGOS_AMOUNT_MAX ? e->amount != p->amount : t->amount != e->amount) {
            return TRANSFER(exists_with_different_amount);
        }
    }
    if (t->user_data_128 == 0 ? e->user_data_128 != p->user_data_128
                              : t->user_data_128 != e->user_data_128) {
        return TRANSFER(exists_with_different_user_data_128);
    }
    if (t->user_data_64 == 0 ? e->user_data_64 != p->user_data_64
                             : t->user_data_64 != e->user_data_64) {
        return TRANSFER(exists_with_different_user_data_64);
    }
    if (t->user_data_32 == 0 ? e->user_data_32 != p->user_data_32
                             : t->user_data_32 != e->user_data_32) {
        return TRANSFER(exists_with_different_user_data_32);
    }
    if (t->ledger != 0 && t->ledger != e->ledger) return TRANSFER(exists_with_different_ledger);
    if (t->code != 0 && t->code != e->code) return TRANSFER(exists_with_different_code);
    return TRANSFER(exists);
}

static uint32_t model_transfer_exists(const struct reference_model *model,
                                      const struct khorgos_transfer *t,
                                      const struct khorgos_transfer *e) {
    if (t->flags != e->flags) return TRANSFER(exists_with_different_flags);
    if (t->pending_id != e->pending_id) return TRANSFER(exists_with_different_pending_id);
    if (t->timeout != e->timeout) return TRANSFER(exists_with_different_timeout);
    if (t->flags & (KHORGOS_TRANSFER_POST_PENDING_TRANSFER | KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)) {
        int64_t pending = model_transfer_index(model, t->pending_id);
        MODEL_ASSERT(pending >= 0); /* e was created against it */
        return model_post_or_void_exists(t, e, &model->transfers[pending]);
    }
    if (t->debit_account_id != e->debit_account_id) {
        return TRANSFER(exists_with_different_debit_account_id);
    }
    if (t->credit_account_id != e->credit_account_id) {
        return TRANSFER(exists_with_different_credit_account_id);
    }
    /* A balancing transfer's amount is an upper limit: resubmitting it with at least the amount
     * it moved answers exists. */
    if (t->flags & (KHORGOS_TRANSFER_BALANCING_DEBIT | KHORGOS_TRANSFER_BALANCING_CREDIT)) {
        if (t->amount < e->amount) return TRANSFER(exists_with_different_amount);
    } else {
        if (t->amount != e->amount) return TRANSFER(exists_with_different_amount);
    }
    if (t->user_data_128 != e->user_data_128) return TRANSFER(exists_with_different_user_data_128);
    if (t->user_data_64 != e->user_data_64) return TRANSFER(exists_with_different_user_data_64);
    if (t->user_data_32 != e->user_data_32) return TRANSFER(exists_with_different_user_data_32);
    if (t->ledger != e->ledger) return TRANSFER(exists_with_different_ledger);
    if (t->code != e->code) return TRANSFER(exists_with_different_code);
    return TRANSFER(exists);
}

static void model_transfer_insert(struct reference_model *model,
                                  const struct khorgos_transfer *transfer, uint8_t state) {
    MODEL_ASSERT(model->transfer_count < model->transfer_count_max);
    MODEL_ASSERT(transfer->timestamp > model_transfer_timestamp_max(model));
    uint32_t index = model->transfer_count++;
    model->transfers[index] = *transfer;
    model->transfer_states[index] = state;
    /* Called after the transfer moved its amounts: these are the balances right after it. */
    const u128 sides[2] = {transfer->debit_account_id, transfer->credit_account_id};
    for (uint32_t side = 0; side < 2; side++) {
        int64_t account_index = model_account_index(model, sides[side]);
        MODEL_ASSERT(account_index >= 0);
        const struct khorgos_account *account = &model->accounts[account_index];
        struct khorgos_account_balance *balance = &model->transfer_balances[2 * index + side];
        memset(balance, 0, sizeof(*balance));
        balance->debits_pending = account->debits_pending;
        balance->debits_posted = account->debits_posted;
        balance->credits_pending = account->credits_pending;
        balance->credits_posted = account->credits_posted;
        balance->timestamp = transfer->timestamp;
    }
    struct reference_model_id_slot *slot =
        model_slot(model->transfer_slots, model->transfer_slot_mask, transfer->id);
    if (slot->id == 0) {
        MODEL_ASSERT((uint64_t)(model->transfer_slot_used + 1) * 2 <=
                     model->transfer_slot_mask + 1);
        model->transfer_slot_used++;
        slot->id = transfer->id;
    }
    slot->index = index;
}

/* Imported timestamps must not regress past any transfer nor collide with an account. */
static bool model_imported_transfer_regresses(const struct reference_model *model,
                                              uint64_t timestamp) {
    return timestamp <= model_transfer_timestamp_max(model) ||
           model_account_exists_at(model, timestamp);
}

/* Everything a post or void checks before it may apply; sets *amount (what it posts). */
static uint32_t model_post_or_void_check(const struct reference_model *model,
                                         const struct khorgos_transfer *t, int64_t pending_index,
                                         u128 *amount) {
    const bool is_void = (t->flags & KHORGOS_TRANSFER_VOID_PENDING_TRANSFER) != 0;
    const struct khorgos_transfer *p = &model->transfers[pending_index];
    if (!(p->flags & KHORGOS_TRANSFER_PENDING)) return TRANSFER(pending_transfer_not_pending);
    if (t->debit_account_id != 0 && t->debit_account_id != p->debit_account_id) {
        return TRANSFER(pending_transfer_has_different_debit_account_id);
    }
    if (t->credit_account_id != 0 && t->credit_account_id != p->credit_account_id) {
        return TRANSFER(pending_transfer_has_different_credit_account_id);
    }
    if (t->ledger != 0 && t->ledger != p->ledger) {
        return TRANSFER(pending_transfer_has_different_ledger);
    }
    if (t->code != 0 && t->code != p->code) return TRANSFER(pending_transfer_has_different_code);
    if (is_void) {
        *amount = t->amount > 0 ? t->amount : p->amount;
    } else {
        *amount = t->amount == KHORGOS_AMOUNT_MAX ? p->amount : t->amount;
    }
    if (*amount > p->amount) return TRANSFER(exceeds_pending_transfer_amount);
    if (is_void && *amount < p->amount) return TRANSFER(pending_transfer_has_different_amount);
    switch (model->transfer_states[pending_index]) {
    case REFERENCE_MODEL_PENDING: break;
    case REFERENCE_MODEL_POSTED: return TRANSFER(pending_transfer_already_posted);
    case REFERENCE_MODEL_VOIDED: return TRANSFER(pending_transfer_already_voided);
    case REFERENCE_MODEL_EXPIRED: return TRANSFER(pending_transfer_expired);
    default: MODEL_ASSERT(false && "a pending transfer in a single-phase state");
    }
    /* Due but not yet expired by a pulse: TigerBeetle answers expired all the same. */
    if (p->timeout > 0 && model_expires_at(p) <= t->timestamp) {
        return TRANSFER(pending_transfer_expired);
    }
    if ((t->flags & KHORGOS_TRANSFER_IMPORTED) &&
        model_imported_transfer_regresses(model, t->timestamp)) {
        return TRANSFER(imported_event_timestamp_must_not_regress);
    }
    /* The only movement allowed in a closed account is voiding a pending transfer. */
    const int64_t debit = model_account_index(model, p->debit_account_id);
    const int64_t credit = model_account_index(model, p->credit_account_id);
    MODEL_ASSERT(debit >= 0 && credit >= 0);
    if ((model->accounts[debit].flags & KHORGOS_ACCOUNT_CLOSED) && !is_void) {
        return TRANSFER(debit_account_already_closed);
    }
    if ((model->accounts[credit].flags & KHORGOS_ACCOUNT_CLOSED) && !is_void) {
        return TRANSFER(credit_account_already_closed);
    }
    return TRANSFER(created);
}

/* Applies a checked post or void: releases the reservation, posts `amount` on a post. */
static void model_post_or_void_apply(struct reference_model *model,
                                     const struct khorgos_transfer *t, uint32_t pending_index,
                                     u128 amount) {
    const bool is_post = (t->flags & KHORGOS_TRANSFER_POST_PENDING_TRANSFER) != 0;
    const struct khorgos_transfer p = model->transfers[pending_index];
    struct khorgos_transfer stored = {
        .id = t->id,
        .debit_account_id = p.debit_account_id,
        .credit_account_id = p.credit_account_id,
        .amount = amount,
        .pending_id = t->pending_id,
        .user_data_128 = t->user_data_128 != 0 ? t->user_data_128 : p.user_data_128,
        .user_data_64 = t->user_data_64 != 0 ? t->user_data_64 : p.user_data_64,
        .user_data_32 = t->user_data_32 != 0 ? t->user_data_32 : p.user_data_32,
        .timeout = 0,
        .ledger = p.ledger,
        .code = p.code,
        .flags = t->flags,
        .timestamp = t->timestamp,
    };
    model_pending_release(model, &p);
    if (is_post) {
        MODEL_ASSERT(!(p.flags & (KHORGOS_TRANSFER_CLOSING_DEBIT | KHORGOS_TRANSFER_CLOSING_CREDIT)));
        model->accounts[model_account_index(model, p.debit_account_id)].debits_posted += amount;
        model->accounts[model_account_index(model, p.credit_account_id)].credits_posted += amount;
    }
    if (p.timeout > 0) model_expiry_remove(model, pending_index);
    model_transfer_state_set(model, pending_index,
                             is_post ? REFERENCE_MODEL_POSTED : REFERENCE_MODEL_VOIDED);
    model_transfer_insert(model, &stored, REFERENCE_MODEL_SINGLE_PHASE);
}

static uint32_t model_post_or_void(struct reference_model *model,
                                   const struct khorgos_transfer *t) {
    const bool is_void = (t->flags & KHORGOS_TRANSFER_VOID_PENDING_TRANSFER) != 0;
    const bool is_post = (t->flags & KHORGOS_TRANSFER_POST_PENDING_TRANSFER) != 0;
    if (is_void && is_post) return TRANSFER(flags_are_mutually_exclusive);
    if (t->flags & (KHORGOS_TRANSFER_PENDING | KHORGOS_TRANSFER_BALANCING_DEBIT |
                    KHORGOS_TRANSFER_BALANCING_CREDIT | KHORGOS_TRANSFER_CLOSING_DEBIT |
                    KHORGOS_TRANSFER_CLOSING_CREDIT)) {
        return TRANSFER(flags_are_mutually_exclusive);
    }
    if (t->pending_id == 0) return TRANSFER(pending_id_must_not_be_zero);
    if (t->pending_id == MODEL_U128_MAX) return TRANSFER(pending_id_must_not_be_int_max);
    if (t->pending_id == t->id) return TRANSFER(pending_id_must_be_different);
    if (t->timeout != 0) return TRANSFER(timeout_reserved_for_pending_transfer);
    const int64_t pending_index = model_transfer_index(model, t->pending_id);
    if (pending_index < 0) return TRANSFER(pending_transfer_not_found);
    u128 amount = 0;
    const uint32_t status = model_post_or_void_check(model, t, pending_index, &amount);
    if (status != TRANSFER(created)) return status;
    model_post_or_void_apply(model, t, (uint32_t)pending_index, amount);
    return TRANSFER(created);
}

/* The checks of a new (not post/void) transfer up to the accounts' ledgers. */
static uint32_t model_transfer_check_fields(const struct khorgos_transfer *t) {
    if (t->debit_account_id == 0) return TRANSFER(debit_account_id_must_not_be_zero);
    if (t->debit_account_id == MODEL_U128_MAX) return TRANSFER(debit_account_id_must_not_be_int_max);
    if (t->credit_account_id == 0) return TRANSFER(credit_account_id_must_not_be_zero);
    if (t->credit_account_id == MODEL_U128_MAX) {
        return TRANSFER(credit_account_id_must_not_be_int_max);
    }
    if (t->credit_account_id == t->debit_account_id) return TRANSFER(accounts_must_be_different);
    if (t->pending_id != 0) return TRANSFER(pending_id_must_be_zero);
    if (!(t->flags & KHORGOS_TRANSFER_PENDING)) {
        if (t->timeout != 0) return TRANSFER(timeout_reserved_for_pending_transfer);
        if (t->flags & (KHORGOS_TRANSFER_CLOSING_DEBIT | KHORGOS_TRANSFER_CLOSING_CREDIT)) {
            return TRANSFER(closing_transfer_must_be_pending);
        }
    }
    if (t->ledger == 0) return TRANSFER(ledger_must_not_be_zero);
    if (t->code == 0) return TRANSFER(code_must_not_be_zero);
    return TRANSFER(created);
}

/* The amount a (possibly balancing) transfer moves. */
static u128 model_transfer_amount(const struct khorgos_transfer *t,
                                  const struct khorgos_account *dr,
                                  const struct khorgos_account *cr) {
    u128 amount = t->amount;
    if (t->flags & KHORGOS_TRANSFER_BALANCING_DEBIT) {
        u128 debits = dr->debits_posted + dr->debits_pending;
        amount = model_min_u128(amount, model_saturating_sub(dr->credits_posted, debits));
    }
    if (t->flags & KHORGOS_TRANSFER_BALANCING_CREDIT) {
        u128 credits = cr->credits_posted + cr->credits_pending;
        amount = model_min_u128(amount, model_saturating_sub(cr->debits_posted, credits));
    }
    return amount;
}

static uint32_t model_transfer_check_balances(const struct khorgos_transfer *t, u128 amount,
                                              const struct khorgos_account *dr,
                                              const struct khorgos_account *cr) {
    if (t->flags & KHORGOS_TRANSFER_PENDING) {
        if (model_add_overflows(amount, dr->debits_pending)) {
            return TRANSFER(overflows_debits_pending);
        }
        if (model_add_overflows(amount, cr->credits_pending)) {
            return TRANSFER(overflows_credits_pending);
        }
    }
    if (model_add_overflows(amount, dr->debits_posted)) return TRANSFER(overflows_debits_posted);
    if (model_add_overflows(amount, cr->credits_posted)) return TRANSFER(overflows_credits_posted);
    if (model_add_overflows(amount, dr->debits_pending + dr->debits_posted)) {
        return TRANSFER(overflows_debits);
    }
    if (model_add_overflows(amount, cr->credits_pending + cr->credits_posted)) {
        return TRANSFER(overflows_credits);
    }
    /* Timestamps are u63 in TigerBeetle: timestamp + timeout must stay below 2^63. */
    uint64_t timeout_ns = (uint64_t)t->timeout * MODEL_NS_PER_S;
    MODEL_ASSERT(t->timestamp <= REFERENCE_MODEL_TIMESTAMP_MAX);
    if (timeout_ns > REFERENCE_MODEL_TIMESTAMP_MAX - t->timestamp) {
        return TRANSFER(overflows_timeout);
    }
    if ((dr->flags & KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        dr->debits_pending + dr->debits_posted + amount > dr->credits_posted) {
        return TRANSFER(exceeds_credits);
    }
    if ((cr->flags & KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
        cr->credits_pending + cr->credits_posted + amount > cr->debits_posted) {
        return TRANSFER(exceeds_debits);
    }
    return TRANSFER(created);
}

static uint32_t model_transfer_new(struct reference_model *model,
                                   const struct khorgos_transfer *t) {
    uint32_t status = model_transfer_check_fields(t);
    if (status != TRANSFER(created)) return status;
    int64_t debit = model_account_index(model, t->debit_account_id);
    if (debit < 0) return TRANSFER(debit_account_not_found);
    int64_t credit = model_account_index(model, t->credit_account_id);
    if (credit < 0) return TRANSFER(credit_account_not_found);
    struct khorgos_account *dr = &model->accounts[debit];
    struct khorgos_account *cr = &model->accounts[credit];
    if (dr->ledger != cr->ledger) return TRANSFER(accounts_must_have_the_same_ledger);
    if (t->ledger != dr->ledger) return TRANSFER(transfer_must_have_the_same_ledger_as_accounts);
    if (t->flags & KHORGOS_TRANSFER_IMPORTED) {
        if (model_imported_transfer_regresses(model, t->timestamp)) {
            return TRANSFER(imported_event_timestamp_must_not_regress);
        }
        if (t->timestamp <= dr->timestamp) {
            return TRANSFER(imported_event_timestamp_must_postdate_debit_account);
        }
        if (t->timestamp <= cr->timestamp) {
            return TRANSFER(imported_event_timestamp_must_postdate_credit_account);
        }
        if (t->timeout != 0) return TRANSFER(imported_event_timeout_must_be_zero);
    }
    MODEL_ASSERT(t->timestamp > dr->timestamp && t->timestamp > cr->timestamp);
    if (dr->flags & KHORGOS_ACCOUNT_CLOSED) return TRANSFER(debit_account_already_closed);
    if (cr->flags & KHORGOS_ACCOUNT_CLOSED) return TRANSFER(credit_account_already_closed);

    u128 amount = model_transfer_amount(t, dr, cr);
    status = model_transfer_check_balances(t, amount, dr, cr);
    if (status != TRANSFER(created)) return status;

    struct khorgos_transfer stored = *t;
    stored.amount = amount;
    const bool pending = (t->flags & KHORGOS_TRANSFER_PENDING) != 0;
    if (pending) {
        dr->debits_pending += amount;
        cr->credits_pending += amount;
    } else {
        dr->debits_posted += amount;
        cr->credits_posted += amount;
    }
    if (t->flags & KHORGOS_TRANSFER_CLOSING_DEBIT) dr->flags |= KHORGOS_ACCOUNT_CLOSED;
    if (t->flags & KHORGOS_TRANSFER_CLOSING_CREDIT) cr->flags |= KHORGOS_ACCOUNT_CLOSED;
    model_transfer_insert(model, &stored,
                          pending ? REFERENCE_MODEL_PENDING : REFERENCE_MODEL_SINGLE_PHASE);
    if (t->timeout > 0) {
        MODEL_ASSERT(pending);
        model->expiry_indexes[model->expiry_count++] = model->transfer_count - 1;
    }
    return TRANSFER(created);
}

/* `t` carries its timestamp already (assigned, or the imported one). */
static uint32_t model_create_transfer(struct reference_model *model,
                                      const struct khorgos_transfer *t,
                                      uint64_t *result_timestamp) {
    if (t->flags & ~KHORGOS_TRANSFER_FLAGS_ALL) return TRANSFER(reserved_flag);
    if (t->id == 0) return TRANSFER(id_must_not_be_zero);
    if (t->id == MODEL_U128_MAX) return TRANSFER(id_must_not_be_int_max);
    int64_t existing = model_transfer_index(model, t->id);
    if (existing >= 0) {
        uint32_t status = model_transfer_exists(model, t, &model->transfers[existing]);
        if (status == TRANSFER(exists)) *result_timestamp = model->transfers[existing].timestamp;
        return status;
    }
    if (model_failed_contains(model, t->id)) return TRANSFER(id_already_failed);
    uint32_t status;
    if (t->flags & (KHORGOS_TRANSFER_POST_PENDING_TRANSFER | KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)) {
        status = model_post_or_void(model, t);
    } else {
        status = model_transfer_new(model, t);
    }
    if (status == TRANSFER(created)) *result_timestamp = t->timestamp;
    return status;
}

/* ----------------------------------------------------------------------------------------- */
/* The batch loop shared by both create operations (TigerBeetle's execute_create).           */

enum model_kind { MODEL_KIND_ACCOUNTS, MODEL_KIND_TRANSFERS };

static uint16_t model_event_flags(enum model_kind kind, const void *events, uint32_t index) {
    return kind == MODEL_KIND_ACCOUNTS ? ((const struct khorgos_account *)events)[index].flags
                                       : ((const struct khorgos_transfer *)events)[index].flags;
}

static uint64_t model_event_timestamp(enum model_kind kind, const void *events, uint32_t index) {
    return kind == MODEL_KIND_ACCOUNTS
               ? ((const struct khorgos_account *)events)[index].timestamp
               : ((const struct khorgos_transfer *)events)[index].timestamp;
}

/* Runs one event after the batch-level checks; returns its status. */
static uint32_t model_event_apply(struct reference_model *model, enum model_kind kind,
                                  const void *events, uint32_t index, uint64_t timestamp,
                                  uint64_t *result_timestamp) {
    if (kind == MODEL_KIND_ACCOUNTS) {
        struct khorgos_account event = ((const struct khorgos_account *)events)[index];
        event.timestamp = timestamp;
        return model_create_account(model, &event, result_timestamp);
    }
    struct khorgos_transfer event = ((const struct khorgos_transfer *)events)[index];
    event.timestamp = timestamp;
    uint32_t status = model_create_transfer(model, &event, result_timestamp);
    return status;
}

/* The batch-level statuses come first in both enums, with the same numbers. */
_Static_assert((int)ACCOUNT(created) == (int)TRANSFER(created) &&
                   (int)ACCOUNT(linked_event_failed) == (int)TRANSFER(linked_event_failed) &&
                   (int)ACCOUNT(linked_event_chain_open) == (int)TRANSFER(linked_event_chain_open) &&
                   (int)ACCOUNT(imported_event_expected) == (int)TRANSFER(imported_event_expected) &&
                   (int)ACCOUNT(imported_event_not_expected) ==
                       (int)TRANSFER(imported_event_not_expected) &&
                   (int)ACCOUNT(timestamp_must_be_zero) == (int)TRANSFER(timestamp_must_be_zero) &&
                   (int)ACCOUNT(imported_event_timestamp_out_of_range) ==
                       (int)TRANSFER(imported_event_timestamp_out_of_range) &&
                   (int)ACCOUNT(imported_event_timestamp_must_not_advance) ==
                       (int)TRANSFER(imported_event_timestamp_must_not_advance),
               "the batch-level statuses share their numbers");

/* The checks of TigerBeetle's execute_create before the event's own (chain, imported batch,
 * timestamps); created when they pass. */
static uint32_t model_batch_status(enum model_kind kind, const void *events, uint32_t count,
                                   uint32_t index, bool chain_broken, uint64_t timestamp) {
    const uint32_t linked = 1u; /* bit 0 in both flag sets */
    const uint32_t imported = kind == MODEL_KIND_ACCOUNTS ? KHORGOS_ACCOUNT_IMPORTED
                                                          : KHORGOS_TRANSFER_IMPORTED;
    const uint32_t flags = model_event_flags(kind, events, index);
    const uint64_t event_timestamp = model_event_timestamp(kind, events, index);
    const bool first_imported = (model_event_flags(kind, events, 0) & imported) != 0;
    if ((flags & linked) && index == count - 1) return ACCOUNT(linked_event_chain_open);
    if (chain_broken) return ACCOUNT(linked_event_failed);
    if (first_imported != ((flags & imported) != 0)) {
        return (flags & imported) ? ACCOUNT(imported_event_not_expected)
                                  : ACCOUNT(imported_event_expected);
    }
    if (flags & imported) {
        if (event_timestamp < 1 || event_timestamp > REFERENCE_MODEL_TIMESTAMP_MAX) {
            return ACCOUNT(imported_event_timestamp_out_of_range);
        }
        if (event_timestamp >= timestamp) return ACCOUNT(imported_event_timestamp_must_not_advance);
    } else if (event_timestamp != 0) {
        return ACCOUNT(timestamp_must_be_zero);
    }
    return ACCOUNT(created);
}

static uint64_t model_execute_create(struct reference_model *model, enum model_kind kind,
                                     const void *events, uint32_t count,
                                     struct khorgos_create_result *results) {
    MODEL_ASSERT(!model->chain_open);
    const uint32_t linked = 1u; /* bit 0 in both flag sets */
    const uint32_t imported = kind == MODEL_KIND_ACCOUNTS ? KHORGOS_ACCOUNT_IMPORTED
                                                          : KHORGOS_TRANSFER_IMPORTED;
    const uint64_t timestamp = model_prepare(model, count);
    int64_t chain_start = -1;
    bool chain_broken = false;
    for (uint32_t index = 0; index < count; index++) {
        const uint32_t flags = model_event_flags(kind, events, index);
        const uint64_t slot_timestamp = timestamp - count + index + 1;
        uint64_t result_timestamp = slot_timestamp;
        if ((flags & linked) && chain_start < 0) {
            chain_start = index;
            model_chain_open(model);
        }
        uint32_t status = model_batch_status(kind, events, count, index, chain_broken, timestamp);
        if (status == ACCOUNT(created)) {
            const uint64_t event_timestamp = (flags & imported)
                                                 ? model_event_timestamp(kind, events, index)
                                                 : slot_timestamp;
            status = model_event_apply(model, kind, events, index, event_timestamp,
                                       &result_timestamp);
        }
        if (status != ACCOUNT(created)) {
            if (chain_start >= 0 && !chain_broken) {
                chain_broken = true;
                model_chain_rollback(model);
                /* Only the status changes: a rolled-back event keeps the timestamp it was
                 * created with (its own, when imported), as TigerBeetle does. */
                for (uint32_t earlier = (uint32_t)chain_start; earlier < index; earlier++) {
                    results[earlier].status = ACCOUNT(linked_event_failed);
                }
            }
            if (kind == MODEL_KIND_TRANSFERS && reference_model_transfer_status_transient(status)) {
                model_failed_insert(model, ((const struct khorgos_transfer *)events)[index].id);
            }
        }
        results[index] = (struct khorgos_create_result){
            .timestamp = result_timestamp, .status = status, .reserved = 0};
        if (chain_start >= 0 &&
            (!(flags & linked) || status == ACCOUNT(linked_event_chain_open))) {
            if (!chain_broken) model_chain_close(model);
            chain_start = -1;
            chain_broken = false;
        }
    }
    MODEL_ASSERT(chain_start < 0 && !model->chain_open);
    model->timestamp_last = timestamp;
    return timestamp;
}

uint64_t reference_model_create_accounts(struct reference_model *model,
                                         const struct khorgos_account *events, uint32_t count,
                                         struct khorgos_create_result *results) {
    MODEL_ASSERT(count == 0 || (events != NULL && results != NULL));
    return model_execute_create(model, MODEL_KIND_ACCOUNTS, events, count, results);
}

uint64_t reference_model_create_transfers(struct reference_model *model,
                                          const struct khorgos_transfer *events, uint32_t count,
                                          struct khorgos_create_result *results) {
    MODEL_ASSERT(count == 0 || (events != NULL && results != NULL));
    return model_execute_create(model, MODEL_KIND_TRANSFERS, events, count, results);
}

/* ----------------------------------------------------------------------------------------- */
/* Lookups and read access.                                                                  */

uint64_t reference_model_lookup_accounts(struct reference_model *model, const khorgos_u128 *ids,
                                         uint32_t count, struct khorgos_account *out,
                                         uint32_t *out_count) {
    MODEL_ASSERT(out_count != NULL);
    model_pulse_if_due(model, model->clock_ns);
    uint32_t found = 0;
    for (uint32_t index = 0; index < count; index++) {
        int64_t account = model_account_index(model, ids[index]);
        if (account >= 0) out[found++] = model->accounts[account];
    }
    *out_count = found;
    return model->timestamp_last;
}

uint64_t reference_model_lookup_transfers(struct reference_model *model, const khorgos_u128 *ids,
                                          uint32_t count, struct khorgos_transfer *out,
                                          uint32_t *out_count) {
    MODEL_ASSERT(out_count != NULL);
    model_pulse_if_due(model, model->clock_ns);
    uint32_t found = 0;
    for (uint32_t index = 0; index < count; index++) {
        int64_t transfer = model_transfer_index(model, ids[index]);
        if (transfer >= 0) out[found++] = model->transfers[transfer];
    }
    *out_count = found;
    return model->timestamp_last;
}

/* ----------------------------------------------------------------------------------------- */
/* Queries: a linear walk in timestamp order (or reversed) over the records.                  */

static bool model_bytes_zero(const uint8_t *bytes, size_t size) {
    for (size_t index = 0; index < size; index++) {
        if (bytes[index] != 0) return false;
    }
    return true;
}

static bool model_timestamps_valid(uint64_t timestamp_min, uint64_t timestamp_max) {
    if (timestamp_min == UINT64_MAX || timestamp_max == UINT64_MAX) return false;
    return timestamp_max == 0 || timestamp_min <= timestamp_max;
}

static bool model_timestamp_in(uint64_t timestamp, uint64_t timestamp_min, uint64_t timestamp_max) {
    return timestamp >= timestamp_min && (timestamp_max == 0 || timestamp <= timestamp_max);
}

static uint32_t model_limit(uint32_t limit) {
    return limit < KHORGOS_BATCH_EVENTS_MAX ? limit : KHORGOS_BATCH_EVENTS_MAX;
}

static bool model_account_filter_valid(const struct khorgos_account_filter *filter) {
    const uint32_t flags_known = KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS |
                                 KHORGOS_ACCOUNT_FILTER_REVERSED;
    return filter->account_id != 0 && filter->account_id != MODEL_U128_MAX &&
           model_timestamps_valid(filter->timestamp_min, filter->timestamp_max) &&
           filter->limit != 0 &&
           (filter->flags & (KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS)) &&
           (filter->flags & ~flags_known) == 0 &&
           model_bytes_zero(filter->reserved, sizeof(filter->reserved));
}

static bool model_query_filter_valid(const struct khorgos_query_filter *filter) {
    return model_timestamps_valid(filter->timestamp_min, filter->timestamp_max) &&
           filter->limit != 0 && (filter->flags & ~(uint32_t)KHORGOS_QUERY_FILTER_REVERSED) == 0 &&
           model_bytes_zero(filter->reserved, sizeof(filter->reserved));
}

static bool model_transfer_matches_account(const struct khorgos_transfer *t,
                                           const struct khorgos_account_filter *filter) {
    const bool debit = (filter->flags & KHORGOS_ACCOUNT_FILTER_DEBITS) &&
                       t->debit_account_id == filter->account_id;
    const bool credit = (filter->flags & KHORGOS_ACCOUNT_FILTER_CREDITS) &&
                        t->credit_account_id == filter->account_id;
    return (debit || credit) &&
           (filter->user_data_128 == 0 || t->user_data_128 == filter->user_data_128) &&
           (filter->user_data_64 == 0 || t->user_data_64 == filter->user_data_64) &&
           (filter->user_data_32 == 0 || t->user_data_32 == filter->user_data_32) &&
           (filter->code == 0 || t->code == filter->code) &&
           model_timestamp_in(t->timestamp, filter->timestamp_min, filter->timestamp_max);
}

uint64_t reference_model_get_account_transfers(struct reference_model *model,
                                               const struct khorgos_account_filter *filter,
                                               struct khorgos_transfer *out, uint32_t *out_count) {
    MODEL_ASSERT(filter != NULL && out_count != NULL);
    model_pulse_if_due(model, model->clock_ns);
    uint32_t found = 0;
    if (model_account_filter_valid(filter)) {
        const uint32_t limit = model_limit(filter->limit);
        const bool reversed = (filter->flags & KHORGOS_ACCOUNT_FILTER_REVERSED) != 0;
        for (uint32_t step = 0; step < model->transfer_count && found < limit; step++) {
            const uint32_t index = reversed ? model->transfer_count - 1 - step : step;
            if (model_transfer_matches_account(&model->transfers[index], filter)) {
                out[found++] = model->transfers[index];
            }
        }
    }
    *out_count = found;
    return model->timestamp_last;
}

uint64_t reference_model_get_account_balances(struct reference_model *model,
                                              const struct khorgos_account_filter *filter,
                                              struct khorgos_account_balance *out,
                                              uint32_t *out_count) {
    MODEL_ASSERT(filter != NULL && out_count != NULL);
    model_pulse_if_due(model, model->clock_ns);
    uint32_t found = 0;
    int64_t account = model_account_index(model, filter->account_id);
    if (model_account_filter_valid(filter) && account >= 0 &&
        (model->accounts[account].flags & KHORGOS_ACCOUNT_HISTORY)) {
        const uint32_t limit = model_limit(filter->limit);
        const bool reversed = (filter->flags & KHORGOS_ACCOUNT_FILTER_REVERSED) != 0;
        for (uint32_t step = 0; step < model->transfer_count && found < limit; step++) {
            const uint32_t index = reversed ? model->transfer_count - 1 - step : step;
            const struct khorgos_transfer *t = &model->transfers[index];
            if (!model_transfer_matches_account(t, filter)) continue;
            const uint32_t side = t->debit_account_id == filter->account_id ? 0 : 1;
            out[found++] = model->transfer_balances[2 * index + side];
        }
    }
    *out_count = found;
    return model->timestamp_last;
}

#define MODEL_QUERY_MATCHES(record, filter)                                                    \
    (((filter)->user_data_128 == 0 || (record)->user_data_128 == (filter)->user_data_128) &&    \
     ((filter)->user_data_64 == 0 || (record)->user_data_64 == (filter)->user_data_64) &&       \
     ((filter)->user_data_32 == 0 || (record)->user_data_32 == (filter)->user_data_32) &&       \
     ((filter)->ledger == 0 || (record)->ledger == (filter)->ledger) &&                         \
     ((filter)->code == 0 || (record)->code == (filter)->code) &&                               \
     model_timestamp_in((record)->timestamp, (filter)->timestamp_min, (filter)->timestamp_max))

uint64_t reference_model_query_accounts(struct reference_model *model,
                                        const struct khorgos_query_filter *filter,
                                        struct khorgos_account *out, uint32_t *out_count) {
    MODEL_ASSERT(filter != NULL && out_count != NULL);
    model_pulse_if_due(model, model->clock_ns);
    uint32_t found = 0;
    if (model_query_filter_valid(filter)) {
        const uint32_t limit = model_limit(filter->limit);
        const bool reversed = (filter->flags & KHORGOS_QUERY_FILTER_REVERSED) != 0;
        for (uint32_t step = 0; step < model->account_count && found < limit; step++) {
            const uint32_t index = reversed ? model->account_count - 1 - step : step;
            if (MODEL_QUERY_MATCHES(&model->accounts[index], filter)) {
                out[found++] = model->accounts[index];
            }
        }
    }
    *out_count = found;
    return model->timestamp_last;
}

uint64_t reference_model_query_transfers(struct reference_model *model,
                                         const struct khorgos_query_filter *filter,
                                         struct khorgos_transfer *out, uint32_t *out_count) {
    MODEL_ASSERT(filter != NULL && out_count != NULL);
    model_pulse_if_due(model, model->clock_ns);
    uint32_t found = 0;
    if (model_query_filter_valid(filter)) {
        const uint32_t limit = model_limit(filter->limit);
        const bool reversed = (filter->flags & KHORGOS_QUERY_FILTER_REVERSED) != 0;
        for (uint32_t step = 0; step < model->transfer_count && found < limit; step++) {
            const uint32_t index = reversed ? model->transfer_count - 1 - step : step;
            if (MODEL_QUERY_MATCHES(&model->transfers[index], filter)) {
                out[found++] = model->transfers[index];
            }
        }
    }
    *out_count = found;
    return model->timestamp_last;
}

const struct khorgos_account *reference_model_account_find(const struct reference_model *model,
                                                           khorgos_u128 id) {
    int64_t index = model_account_index(model, id);
    return index < 0 ? NULL : &model->accounts[index];
}

const struct khorgos_transfer *reference_model_transfer_find(const struct reference_model *model,
                                                             khorgos_u128 id, uint8_t *state) {
    int64_t index = model_transfer_index(model, id);
    if (index < 0) return NULL;
    if (state != NULL) *state = model->transfer_states[index];
    return &model->transfers[index];
}

bool reference_model_invariants_hold(const struct reference_model *model) {
    for (uint32_t first = 0; first < model->account_count; first++) {
        const uint32_t ledger = model->accounts[first].ledger;
        bool seen_before = false;
        for (uint32_t earlier = 0; earlier < first; earlier++) {
            if (model->accounts[earlier].ledger == ledger) seen_before = true;
        }
        if (seen_before) continue;
        u128 debits_pending = 0, credits_pending = 0, debits_posted = 0, credits_posted = 0;
        for (uint32_t index = first; index < model->account_count; index++) {
            const struct khorgos_account *account = &model->accounts[index];
            if (account->ledger != ledger) continue;
            /* Sums wrap mod 2^128 alike on both sides, so equality still means balance. */
            debits_pending += account->debits_pending;
            credits_pending += account->credits_pending;
            debits_posted += account->debits_posted;
            credits_posted += account->credits_posted;
        }
        if (debits_pending != credits_pending || debits_posted != credits_posted) return false;
    }
    for (uint32_t index = 0; index < model->account_count; index++) {
        const struct khorgos_account *a = &model->accounts[index];
        if ((a->flags & KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
            a->debits_pending + a->debits_posted > a->credits_posted) {
            return false;
        }
        if ((a->flags & KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
            a->credits_pending + a->credits_posted > a->debits_posted) {
            return false;
        }
        if (index > 0 && a->timestamp <= model->accounts[index - 1].timestamp) return false;
    }
    return true;
}
