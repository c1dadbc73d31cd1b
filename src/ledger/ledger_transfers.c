/*
 * ledger_transfers.c: create_transfers, with TigerBeetle 0.17's statuses in its precedence order
 * (the order of KHORGOS_CREATE_TRANSFER_STATUSES in include/khorgos.h).
 *
 * The batch driver (ledger_state.c) answers the batch-level statuses (linked_event_failed,
 * linked_event_chain_open, imported_event_expected/not_expected, timestamp_must_be_zero,
 * imported_event_timestamp_out_of_range/_must_not_advance). Then, for one transfer:
 *   1. reserved_flag, id_must_not_be_zero, id_must_not_be_int_max.
 *   2. An existing transfer with the id: exists_with_different_{flags, pending_id, timeout,
 *      debit_account_id, credit_account_id, amount, user_data_128/64/32, ledger, code} or
 *      exists (with the existing transfer's timestamp). For a balancing transfer a request
 *      amount at or above the amount moved is the same transfer; for a post/void, zero fields
 *      mean "as the pending transfer" and AMOUNT_MAX (post) / 0 (void) mean "the whole".
 *   3. id_already_failed: the id was burnt by a transient failure.
 *   4. A post or void (flags post_pending_transfer / void_pending_transfer), see (B); anything
 *      else is a new single-phase or pending transfer, see (A).
 * (A) flags_are_mutually_exclusive never applies (pending, balancing and closing combine);
 *     debit/credit_account_id zero or int_max; accounts_must_be_different;
 *     pending_id_must_be_zero; timeout_reserved_for_pending_transfer and
 *     closing_transfer_must_be_pending (not pending); ledger_must_not_be_zero;
 *     code_must_not_be_zero; debit/credit_account_not_found; accounts_must_have_the_same_ledger;
 *     transfer_must_have_the_same_ledger_as_accounts; imported only: _must_not_regress,
 *     _must_postdate_debit_account, _must_postdate_credit_account, imported_event_timeout_
 *     must_be_zero; debit/credit_account_already_closed. Then the amount: balancing_debit clamps
 *     it to debit.credits_posted - (debit.debits_posted + debit.debits_pending), saturating at
 *     0; balancing_credit likewise on the credit account; then overflows_debits_pending,
 *     overflows_credits_pending (pending only), overflows_debits_posted, overflows_credits_posted,
 *     overflows_debits, overflows_credits, overflows_timeout (timestamp + timeout s > 2^63 - 1),
 *     exceeds_credits, exceeds_debits. A pending transfer reserves in *_pending; a closing flag
 *     closes its account.
 * (B) flags_are_mutually_exclusive (post with void, or with pending, balancing or closing);
 *     pending_id zero / int_max / equal to id; timeout_reserved_for_pending_transfer;
 *     pending_transfer_not_found; pending_transfer_not_pending; pending_transfer_has_different_
 *     {debit_account_id, credit_account_id, ledger, code} (zero fields match anything);
 *     exceeds_pending_transfer_amount; pending_transfer_has_different_amount (a void of less
 *     than the whole); pending_transfer_already_posted / _already_voided / _expired (expired by
 *     a pulse, or the event's timestamp is at or past the expiry instant); imported only:
 *     _must_not_regress; debit/credit_account_already_closed (posts only: voiding is the one
 *     movement a closed account allows). A post moves `amount` (AMOUNT_MAX: the whole) to
 *     *_posted and releases the rest; a void releases all and reopens accounts its pending
 *     transfer closed. The stored record takes accounts, ledger and code from the pending
 *     transfer, and user_data fields the event leaves zero.
 *
 * Transient failures burn the id (failed_transfer_map), even when they break a linked chain:
 * debit_account_not_found, credit_account_not_found, pending_transfer_not_found,
 * exceeds_credits, exceeds_debits, debit_account_already_closed, credit_account_already_closed.
 *
 * History: each created transfer appends one entry per account with the history flag (debit
 * account first), holding the account's balances after the transfer; transfers are created in
 * timestamp order (imported ones must postdate the last transfer), so history is too.
 */
#include "ledger/ledger_private.h"

#define TRANSFER_STATUS(name) KHORGOS_CREATE_TRANSFER_##name

static bool ledger_transfer_status_transient(u32 status) {
    ASSERT(status < KHORGOS_CREATE_TRANSFER_STATUS_COUNT);
    ASSERT(status != TRANSFER_STATUS(created));
    return status == TRANSFER_STATUS(debit_account_not_found) ||
           status == TRANSFER_STATUS(credit_account_not_found) ||
           status == TRANSFER_STATUS(pending_transfer_not_found) ||
           status == TRANSFER_STATUS(exceeds_credits) ||
           status == TRANSFER_STATUS(exceeds_debits) ||
           status == TRANSFER_STATUS(debit_account_already_closed) ||
           status == TRANSFER_STATUS(credit_account_already_closed);
}

static void ledger_transfer_failed(struct ledger *ledger, const void *record, u32 status) {
    const struct khorgos_transfer *transfer = record;
    ASSERT(status != TRANSFER_STATUS(created));
    if (!ledger_transfer_status_transient(status)) return;
    ASSERT(transfer->id != 0 && transfer->id != U128_MAX);
    ASSERT(ledger->failed_transfer_count < ledger->config.transfer_count_max);
    u32 unused = 0;
    ASSERT(!ledger_transfer_index(ledger, transfer->id, &unused));
    base_id_map_insert(&ledger->failed_transfer_map, transfer->id, ledger->failed_transfer_count);
    ledger->failed_transfer_ids[ledger->failed_transfer_count++] = transfer->id;
}

/* The timestamp a transfer event takes: the user's when imported, else the assigned one. */
static u64 ledger_transfer_timestamp(const struct ledger_event *event) {
    const struct khorgos_transfer *transfer = event->record;
    u64 timestamp =
        (transfer->flags & KHORGOS_TRANSFER_IMPORTED) ? transfer->timestamp : event->timestamp;
    ASSERT(timestamp > 0 && timestamp <= event->request_timestamp);
    return timestamp;
}

/* imported_event_timestamp_must_not_regress: not after the last transfer, or on an account's
 * instant (no two records share a timestamp). */
static bool ledger_imported_regresses(const struct ledger *ledger, u64 timestamp) {
    ASSERT(timestamp > 0);
    if (ledger->transfer_count > 0 &&
        timestamp <= ledger->transfers[ledger->transfer_count - 1].timestamp) {
        return true;
    }
    return ledger_account_timestamp_exists(ledger, timestamp);
}

/* ----------------------------------------------------------------------------------------- */
/* Existing transfers.                                                                        */

/* A field of a post/void event matches the stored one when equal, or when zero and the stored
 * one came from the pending transfer. */
static bool ledger_post_void_field_differs(u128 event, u128 stored, u128 pending) {
    return event == 0 ? stored != pending : event != stored;
}

static u32 ledger_post_void_exists(const struct khorgos_transfer *transfer,
                                   const struct khorgos_transfer *existing,
                                   const struct khorgos_transfer *pending) {
    ASSERT(transfer->pending_id == pending->id && existing->pending_id == pending->id);
    ASSERT(existing->debit_account_id == pending->debit_account_id);
    if (transfer->debit_account_id != 0 &&
        transfer->debit_account_id != existing->debit_account_id) {
        return TRANSFER_STATUS(exists_with_different_debit_account_id);
    }
    if (transfer->credit_account_id != 0 &&
        transfer->credit_account_id != existing->credit_account_id) {
        return TRANSFER_STATUS(exists_with_different_credit_account_id);
    }
    bool whole = (transfer->flags & KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)
                     ? transfer->amount == 0
                     : transfer->amount == KHORGOS_AMOUNT_MAX;
    if (whole ? existing->amount != pending->amount : transfer->amount != existing->amount) {
        return TRANSFER_STATUS(exists_with_different_amount);
    }
    if (ledger_post_void_field_differs(transfer->user_data_128, existing->user_data_128,
                                       pending->user_data_128)) {
        return TRANSFER_STATUS(exists_with_different_user_data_128);
    }
    if (ledger_post_void_field_differs(transfer->user_data_64, existing->user_data_64,
                                       pending->user_data_64)) {
        return TRANSFER_STATUS(exists_with_different_user_data_64);
    }
    if (ledger_post_void_field_differs(transfer->user_data_32, existing->user_data_32,
                                       pending->user_data_32)) {
        return TRANSFER_STATUS(exists_with_different_user_data_32);
    }
    if (transfer->ledger != 0 && transfer->ledger != existing->ledger) {
        return TRANSFER_STATUS(exists_with_different_ledger);
    }
    if (transfer->code != 0 && transfer->code != existing->code) {
        return TRANSFER_STATUS(exists_with_different_code);
    }
    return TRANSFER_STATUS(exists);
}

static u32 ledger_transfer_exists_fields(const struct khorgos_transfer *transfer,
                                         const struct khorgos_transfer *existing) {
    ASSERT(transfer->flags == existing->flags);
    ASSERT(transfer->pending_id == existing->pending_id && transfer->timeout == existing->timeout);
    if (transfer->debit_account_id != existing->debit_account_id) {
        return TRANSFER_STATUS(exists_with_different_debit_account_id);
    }
    if (transfer->credit_account_id != existing->credit_account_id) {
        return TRANSFER_STATUS(exists_with_different_credit_account_id);
    }
    const u16 balancing = KHORGOS_TRANSFER_BALANCING_DEBIT | KHORGOS_TRANSFER_BALANCING_CREDIT;
    bool amount_differs = (transfer->flags & balancing) ? transfer->amount < existing->amount
                                                        : transfer->amount != existing->amount;
    if (amount_differs) return TRANSFER_STATUS(exists_with_different_amount);
    if (transfer->user_data_128 != existing->user_data_128) {
        return TRANSFER_STATUS(exists_with_different_user_data_128);
    }
    if (transfer->user_data_64 != existing->user_data_64) {
        return TRANSFER_STATUS(exists_with_different_user_data_64);
    }
    if (transfer->user_data_32 != existing->user_data_32) {
        return TRANSFER_STATUS(exists_with_different_user_data_32);
    }
    if (transfer->ledger != existing->ledger) return TRANSFER_STATUS(exists_with_different_ledger);
    if (transfer->code != existing->code) return TRANSFER_STATUS(exists_with_different_code);
    return TRANSFER_STATUS(exists);
}

static u32 ledger_transfer_exists(const struct ledger *ledger,
                                  const struct khorgos_transfer *transfer, u32 existing_index,
                                  u64 *result_timestamp) {
    ASSERT(existing_index < ledger->transfer_count);
    const struct khorgos_transfer *existing = &ledger->transfers[existing_index];
    ASSERT(transfer->id == existing->id);
    if (transfer->flags != existing->flags) return TRANSFER_STATUS(exists_with_different_flags);
    if (transfer->pending_id != existing->pending_id) {
        return TRANSFER_STATUS(exists_with_different_pending_id);
    }
    if (transfer->timeout != existing->timeout)
        return TRANSFER_STATUS(exists_with_different_timeout);
    u32 status = TRANSFER_STATUS(exists);
    const u16 resolving =
        KHORGOS_TRANSFER_POST_PENDING_TRANSFER | KHORGOS_TRANSFER_VOID_PENDING_TRANSFER;
    if (transfer->flags & resolving) {
        u32 pending_index = 0;
        bool found = ledger_transfer_index(ledger, transfer->pending_id, &pending_index);
        ASSERT(found); /* the existing post/void resolved it */
        status = ledger_post_void_exists(transfer, existing, &ledger->transfers[pending_index]);
    } else {
        status = ledger_transfer_exists_fields(transfer, existing);
    }
    if (status == TRANSFER_STATUS(exists)) *result_timestamp = existing->timestamp;
    return status;
}

/* ----------------------------------------------------------------------------------------- */
/* (A) New single-phase and pending transfers.                                                */

static u32 ledger_transfer_validate_fields(const struct khorgos_transfer *transfer) {
    ASSERT(!(transfer->flags &
             (KHORGOS_TRANSFER_POST_PENDING_TRANSFER | KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)));
    if (transfer->debit_account_id == 0) return TRANSFER_STATUS(debit_account_id_must_not_be_zero);
    if (transfer->debit_account_id == U128_MAX) {
        return TRANSFER_STATUS(debit_account_id_must_not_be_int_max);
    }
    if (transfer->credit_account_id == 0) {
        return TRANSFER_STATUS(credit_account_id_must_not_be_zero);
    }
    if (transfer->credit_account_id == U128_MAX) {
        return TRANSFER_STATUS(credit_account_id_must_not_be_int_max);
    }
    if (transfer->credit_account_id == transfer->debit_account_id) {
        return TRANSFER_STATUS(accounts_must_be_different);
    }
    if (transfer->pending_id != 0) return TRANSFER_STATUS(pending_id_must_be_zero);
    if ((transfer->flags & KHORGOS_TRANSFER_PENDING) == 0) {
        if (transfer->timeout != 0) return TRANSFER_STATUS(timeout_reserved_for_pending_transfer);
        if (transfer->flags & (KHORGOS_TRANSFER_CLOSING_DEBIT | KHORGOS_TRANSFER_CLOSING_CREDIT)) {
            return TRANSFER_STATUS(closing_transfer_must_be_pending);
        }
    }
    if (transfer->ledger == 0) return TRANSFER_STATUS(ledger_must_not_be_zero);
    if (transfer->code == 0) return TRANSFER_STATUS(code_must_not_be_zero);
    return TRANSFER_STATUS(created);
}

static u32 ledger_transfer_validate_accounts(const struct ledger *ledger,
                                             const struct khorgos_transfer *transfer, u64 timestamp,
                                             const struct khorgos_account *debit,
                                             const struct khorgos_account *credit) {
    ASSERT(debit != credit); /* the ids were checked by the lookups, and differ */
    if (debit->ledger != credit->ledger) return TRANSFER_STATUS(accounts_must_have_the_same_ledger);
    if (transfer->ledger != debit->ledger) {
        return TRANSFER_STATUS(transfer_must_have_the_same_ledger_as_accounts);
    }
    if (transfer->flags & KHORGOS_TRANSFER_IMPORTED) {
        if (ledger_imported_regresses(ledger, timestamp)) {
            return TRANSFER_STATUS(imported_event_timestamp_must_not_regress);
        }
        if (timestamp <= debit->timestamp) {
            return TRANSFER_STATUS(imported_event_timestamp_must_postdate_debit_account);
        }
        if (timestamp <= credit->timestamp) {
            return TRANSFER_STATUS(imported_event_timestamp_must_postdate_credit_account);
        }
        if (transfer->timeout != 0) return TRANSFER_STATUS(imported_event_timeout_must_be_zero);
    }
    ASSERT(timestamp > debit->timestamp && timestamp > credit->timestamp);
    if (debit->flags & KHORGOS_ACCOUNT_CLOSED) return TRANSFER_STATUS(debit_account_already_closed);
    if (credit->flags & KHORGOS_ACCOUNT_CLOSED) {
        return TRANSFER_STATUS(credit_account_already_closed);
    }
    return TRANSFER_STATUS(created);
}

/* The amount to move: a balancing transfer's amount is an upper bound, clamped (possibly to 0)
 * so that the balancing side's debits (credits) do not exceed its posted credits (debits). */
static u128 ledger_transfer_amount(const struct khorgos_transfer *transfer,
                                   const struct khorgos_account *debit,
                                   const struct khorgos_account *credit) {
    ASSERT(debit != credit); /* ledger_transfer_account checked each id against its account */
    u128 amount = transfer->amount;
    if (transfer->flags & KHORGOS_TRANSFER_BALANCING_DEBIT) {
        u128 debits = debit->debits_posted + debit->debits_pending;
        u128 room = debit->credits_posted > debits ? debit->credits_posted - debits : 0;
        amount = MIN(amount, room);
    }
    if (transfer->flags & KHORGOS_TRANSFER_BALANCING_CREDIT) {
        u128 credits = credit->credits_posted + credit->credits_pending;
        u128 room = credit->debits_posted > credits ? credit->debits_posted - credits : 0;
        amount = MIN(amount, room);
    }
    ASSERT(amount <= transfer->amount);
    return amount;
}

static u32 ledger_transfer_validate_amount(const struct khorgos_transfer *transfer, u128 amount,
                                           u64 timestamp, const struct khorgos_account *debit,
                                           const struct khorgos_account *credit) {
    ASSERT(!base_u128_add_overflows(debit->debits_pending, debit->debits_posted));
    ASSERT(!base_u128_add_overflows(credit->credits_pending, credit->credits_posted));
    if (transfer->flags & KHORGOS_TRANSFER_PENDING) {
        if (base_u128_add_overflows(amount, debit->debits_pending)) {
            return TRANSFER_STATUS(overflows_debits_pending);
        }
        if (base_u128_add_overflows(amount, credit->credits_pending)) {
            return TRANSFER_STATUS(overflows_credits_pending);
        }
    }
    if (base_u128_add_overflows(amount, debit->debits_posted)) {
        return TRANSFER_STATUS(overflows_debits_posted);
    }
    if (base_u128_add_overflows(amount, credit->credits_posted)) {
        return TRANSFER_STATUS(overflows_credits_posted);
    }
    u128 debits = debit->debits_pending + debit->debits_posted;
    u128 credits = credit->credits_pending + credit->credits_posted;
    if (base_u128_add_overflows(amount, debits)) return TRANSFER_STATUS(overflows_debits);
    if (base_u128_add_overflows(amount, credits)) return TRANSFER_STATUS(overflows_credits);
    u64 timeout_ns = (u64)transfer->timeout * LEDGER_NANOSECONDS_PER_SECOND;
    if (timestamp > LEDGER_TIMESTAMP_MAX || timeout_ns > LEDGER_TIMESTAMP_MAX - timestamp) {
        return TRANSFER_STATUS(overflows_timeout);
    }
    if ((debit->flags & KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        debits + amount > debit->credits_posted) {
        return TRANSFER_STATUS(exceeds_credits);
    }
    if ((credit->flags & KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
        credits + amount > credit->debits_posted) {
        return TRANSFER_STATUS(exceeds_debits);
    }
    return TRANSFER_STATUS(created);
}

/* Account lookups of the hot path: the id map directly, without ledger_account_index's call.
 * The id was validated (nonzero, not int_max) by the caller's statuses. */
static inline bool ledger_transfer_account(const struct ledger *ledger, u128 id, u32 *index) {
    bool found = base_id_map_get(&ledger->account_map, id, index);
    ASSERT(!found || *index < ledger->account_count);
    ASSERT(!found || ledger->accounts[*index].id == id); /* invariant 4: the map is exact */
    return found;
}

/* Takes the next transfer slot for `id` (whose map slot ledger_transfer_apply's probe found
 * empty) and returns its index; the caller fills the record in place, saving a copy. */
static inline u32 ledger_transfer_append(struct ledger *ledger, u128 id, u64 map_slot,
                                         u8 state) {
    ASSERT(ledger->transfer_count < ledger->config.transfer_count_max);
    ASSERT(ledger->transfer_map.count == ledger->transfer_count); /* invariant 4 */
    u32 index = ledger->transfer_count++;
    ledger->transfer_states[index] = state;
    base_id_map_insert_at(&ledger->transfer_map, map_slot, id, index);
    return index;
}

/* History entries only for accounts with the flag: most have none, so skip the call. */
static inline void ledger_transfer_history(struct ledger *ledger, u32 debit_index, u32 credit_index,
                                    u32 transfer_index, u64 timestamp) {
    ASSERT(debit_index != credit_index);
    ASSERT(transfer_index < ledger->transfer_count);
    u16 flags = ledger->accounts[debit_index].flags | ledger->accounts[credit_index].flags;
    if (flags & KHORGOS_ACCOUNT_HISTORY) {
        ledger_history_append(ledger, debit_index, credit_index, transfer_index, timestamp);
    }
}

/* Saves both accounts for the undo log when a chain is open (a test, not a call, otherwise). */
static inline void ledger_transfer_undo_accounts(struct ledger *ledger, u32 debit_index,
                                          u32 credit_index) {
    ASSERT(debit_index != credit_index);
    ASSERT(ledger->chain_open || ledger->undo_count == 0);
    if (!ledger->chain_open) return;
    ledger_undo_account(ledger, debit_index);
    ledger_undo_account(ledger, credit_index);
}

static void ledger_transfer_commit(struct ledger *ledger, const struct khorgos_transfer *transfer,
                                   u64 timestamp, u128 amount, u32 debit_index, u32 credit_index,
                                   u64 map_slot) {
    ASSERT(debit_index != credit_index);
    ASSERT(amount <= transfer->amount);
    ASSERT(ledger->transfer_count == 0 ||
           ledger->transfers[ledger->transfer_count - 1].timestamp < timestamp);
    bool pending = (transfer->flags & KHORGOS_TRANSFER_PENDING) != 0;
    u32 index = ledger_transfer_append(
        ledger, transfer->id, map_slot,
        pending ? LEDGER_TRANSFER_PENDING : LEDGER_TRANSFER_SINGLE_PHASE);
    struct khorgos_transfer *record = &ledger->transfers[index];
    *record = *transfer;
    record->amount = amount;
    record->timestamp = timestamp;
    ledger_index_hint(ledger, index, debit_index, credit_index);
    ledger_transfer_undo_accounts(ledger, debit_index, credit_index);
    struct khorgos_account *debit = &ledger->accounts[debit_index];
    struct khorgos_account *credit = &ledger->accounts[credit_index];
    ASSERT(!(debit->flags & KHORGOS_ACCOUNT_CLOSED) && !(credit->flags & KHORGOS_ACCOUNT_CLOSED));
    if (pending) {
        debit->debits_pending += amount;
        credit->credits_pending += amount;
    } else {
        debit->debits_posted += amount;
        credit->credits_posted += amount;
    }
    if (transfer->flags & KHORGOS_TRANSFER_CLOSING_DEBIT) debit->flags |= KHORGOS_ACCOUNT_CLOSED;
    if (transfer->flags & KHORGOS_TRANSFER_CLOSING_CREDIT) credit->flags |= KHORGOS_ACCOUNT_CLOSED;
    ledger_transfer_history(ledger, debit_index, credit_index, index, timestamp);
}

static u32 ledger_transfer_create(struct ledger *ledger, const struct ledger_event *event,
                                  u64 map_slot, u64 *result_timestamp) {
    const struct khorgos_transfer *transfer = event->record;
    ASSERT(event->timestamp > 0 && event->timestamp <= event->request_timestamp);
    u32 status = ledger_transfer_validate_fields(transfer);
    if (status != TRANSFER_STATUS(created)) return status;
    u32 debit_index = 0, credit_index = 0;
    if (!ledger_transfer_account(ledger, transfer->debit_account_id, &debit_index)) {
        return TRANSFER_STATUS(debit_account_not_found);
    }
    if (!ledger_transfer_account(ledger, transfer->credit_account_id, &credit_index)) {
        return TRANSFER_STATUS(credit_account_not_found);
    }
    const struct khorgos_account *debit = &ledger->accounts[debit_index];
    const struct khorgos_account *credit = &ledger->accounts[credit_index];
    u64 timestamp = ledger_transfer_timestamp(event);
    status = ledger_transfer_validate_accounts(ledger, transfer, timestamp, debit, credit);
    if (status != TRANSFER_STATUS(created)) return status;
    u128 amount = ledger_transfer_amount(transfer, debit, credit);
    status = ledger_transfer_validate_amount(transfer, amount, timestamp, debit, credit);
    if (status != TRANSFER_STATUS(created)) return status;
    ledger_transfer_commit(ledger, transfer, timestamp, amount, debit_index, credit_index,
                           map_slot);
    ASSERT(ledger->transfers[ledger->transfer_count - 1].id == transfer->id);
    *result_timestamp = timestamp;
    return TRANSFER_STATUS(created);
}

/* ----------------------------------------------------------------------------------------- */
/* (B) Posting and voiding pending transfers.                                                 */

static u32 ledger_post_void_validate_fields(const struct khorgos_transfer *transfer) {
    const u16 post = KHORGOS_TRANSFER_POST_PENDING_TRANSFER;
    const u16 void_ = KHORGOS_TRANSFER_VOID_PENDING_TRANSFER;
    const u16 exclusive = KHORGOS_TRANSFER_PENDING | KHORGOS_TRANSFER_BALANCING_DEBIT |
                          KHORGOS_TRANSFER_BALANCING_CREDIT | KHORGOS_TRANSFER_CLOSING_DEBIT |
                          KHORGOS_TRANSFER_CLOSING_CREDIT;
    ASSERT(transfer->flags & (post | void_));
    ASSERT(transfer->id != 0 && transfer->id != U128_MAX);
    if ((transfer->flags & (post | void_)) == (post | void_)) {
        return TRANSFER_STATUS(flags_are_mutually_exclusive);
    }
    if (transfer->flags & exclusive) return TRANSFER_STATUS(flags_are_mutually_exclusive);
    if (transfer->pending_id == 0) return TRANSFER_STATUS(pending_id_must_not_be_zero);
    if (transfer->pending_id == U128_MAX) return TRANSFER_STATUS(pending_id_must_not_be_int_max);
    if (transfer->pending_id == transfer->id) return TRANSFER_STATUS(pending_id_must_be_different);
    if (transfer->timeout != 0) return TRANSFER_STATUS(timeout_reserved_for_pending_transfer);
    return TRANSFER_STATUS(created);
}

/* Fields against the pending transfer, then the amount to post (or void) into *amount. */
static u32 ledger_post_void_validate_pending(const struct khorgos_transfer *transfer,
                                             const struct khorgos_transfer *pending, u128 *amount) {
    ASSERT(pending->id == transfer->pending_id);
    if (!(pending->flags & KHORGOS_TRANSFER_PENDING)) {
        return TRANSFER_STATUS(pending_transfer_not_pending);
    }
    if (transfer->debit_account_id != 0 &&
        transfer->debit_account_id != pending->debit_account_id) {
        return TRANSFER_STATUS(pending_transfer_has_different_debit_account_id);
    }
    if (transfer->credit_account_id != 0 &&
        transfer->credit_account_id != pending->credit_account_id) {
        return TRANSFER_STATUS(pending_transfer_has_different_credit_account_id);
    }
    if (transfer->ledger != 0 && transfer->ledger != pending->ledger) {
        return TRANSFER_STATUS(pending_transfer_has_different_ledger);
    }
    if (transfer->code != 0 && transfer->code != pending->code) {
        return TRANSFER_STATUS(pending_transfer_has_different_code);
    }
    bool is_void = (transfer->flags & KHORGOS_TRANSFER_VOID_PENDING_TRANSFER) != 0;
    if (is_void)
        *amount = transfer->amount > 0 ? transfer->amount : pending->amount;
    else
        *amount = transfer->amount == KHORGOS_AMOUNT_MAX ? pending->amount : transfer->amount;
    if (*amount > pending->amount) return TRANSFER_STATUS(exceeds_pending_transfer_amount);
    if (is_void && *amount < pending->amount) {
        return TRANSFER_STATUS(pending_transfer_has_different_amount);
    }
    ASSERT(*amount <= pending->amount);
    return TRANSFER_STATUS(created);
}

static u32 ledger_post_void_validate_state(const struct ledger *ledger,
                                           const struct khorgos_transfer *transfer,
                                           u32 pending_index, u64 timestamp) {
    const struct khorgos_transfer *pending = &ledger->transfers[pending_index];
    switch (ledger->transfer_states[pending_index]) {
    case LEDGER_TRANSFER_PENDING: break;
    case LEDGER_TRANSFER_POSTED: return TRANSFER_STATUS(pending_transfer_already_posted);
    case LEDGER_TRANSFER_VOIDED: return TRANSFER_STATUS(pending_transfer_already_voided);
    case LEDGER_TRANSFER_EXPIRED: return TRANSFER_STATUS(pending_transfer_expired);
    default: ASSERT(false && "a pending transfer is never single-phase");
    }
    if (pending->timeout > 0 && ledger_transfer_expires_at(pending) <= timestamp) {
        return TRANSFER_STATUS(pending_transfer_expired);
    }
    if ((transfer->flags & KHORGOS_TRANSFER_IMPORTED) &&
        ledger_imported_regresses(ledger, timestamp)) {
        return TRANSFER_STATUS(imported_event_timestamp_must_not_regress);
    }
    if (transfer->flags & KHORGOS_TRANSFER_VOID_PENDING_TRANSFER) return TRANSFER_STATUS(created);
    u32 debit_index = 0, credit_index = 0;
    bool found = ledger_account_index(ledger, pending->debit_account_id, &debit_index) &&
                 ledger_account_index(ledger, pending->credit_account_id, &credit_index);
    ASSERT(found); /* a pending transfer's accounts exist: accounts are never removed */
    if (ledger->accounts[debit_index].flags & KHORGOS_ACCOUNT_CLOSED) {
        return TRANSFER_STATUS(debit_account_already_closed);
    }
    if (ledger->accounts[credit_index].flags & KHORGOS_ACCOUNT_CLOSED) {
        return TRANSFER_STATUS(credit_account_already_closed);
    }
    return TRANSFER_STATUS(created);
}

/* Releases the pending amount from both accounts; a post moves `amount` to posted, a void
 * reopens what the pending transfer closed. */
static void ledger_post_void_accounts(struct ledger *ledger, const struct khorgos_transfer *pending,
                                      bool is_void, u128 amount, u32 debit_index,
                                      u32 credit_index) {
    ledger_transfer_undo_accounts(ledger, debit_index, credit_index);
    struct khorgos_account *debit = &ledger->accounts[debit_index];
    struct khorgos_account *credit = &ledger->accounts[credit_index];
    ASSERT(debit->debits_pending >= pending->amount);
    ASSERT(credit->credits_pending >= pending->amount);
    debit->debits_pending -= pending->amount;
    credit->credits_pending -= pending->amount;
    if (!is_void) {
        ASSERT(amount <= pending->amount);
        debit->debits_posted += amount;
        credit->credits_posted += amount;
    } else {
        if (pending->flags & KHORGOS_TRANSFER_CLOSING_DEBIT)
            debit->flags &= ~KHORGOS_ACCOUNT_CLOSED;
        if (pending->flags & KHORGOS_TRANSFER_CLOSING_CREDIT) {
            credit->flags &= ~KHORGOS_ACCOUNT_CLOSED;
        }
    }
}

static void ledger_post_void_commit(struct ledger *ledger, const struct khorgos_transfer *transfer,
                                    u32 pending_index, u64 timestamp, u128 amount, u64 map_slot) {
    ASSERT(pending_index < ledger->transfer_count);
    ASSERT(ledger->transfer_states[pending_index] == LEDGER_TRANSFER_PENDING);
    const struct khorgos_transfer pending = ledger->transfers[pending_index];
    bool is_void = (transfer->flags & KHORGOS_TRANSFER_VOID_PENDING_TRANSFER) != 0;
    struct khorgos_transfer record = *transfer;
    record.debit_account_id = pending.debit_account_id;
    record.credit_account_id = pending.credit_account_id;
    record.amount = amount;
    if (record.user_data_128 == 0) record.user_data_128 = pending.user_data_128;
    if (record.user_data_64 == 0) record.user_data_64 = pending.user_data_64;
    if (record.user_data_32 == 0) record.user_data_32 = pending.user_data_32;
    record.ledger = pending.ledger;
    record.code = pending.code;
    record.timeout = 0;
    record.timestamp = timestamp;
    ASSERT(ledger->transfers[ledger->transfer_count - 1].timestamp < timestamp);
    u32 index = ledger_transfer_append(ledger, record.id, map_slot, LEDGER_TRANSFER_SINGLE_PHASE);
    ledger->transfers[index] = record;
    ledger_undo_transfer_state(ledger, pending_index);
    ledger->transfer_states[pending_index] =
        is_void ? LEDGER_TRANSFER_VOIDED : LEDGER_TRANSFER_POSTED;
    u32 debit_index = 0, credit_index = 0;
    bool found = ledger_transfer_account(ledger, pending.debit_account_id, &debit_index) &&
                 ledger_transfer_account(ledger, pending.credit_account_id, &credit_index);
    ASSERT(found);
    ledger_index_hint(ledger, index, debit_index, credit_index);
    ledger_post_void_accounts(ledger, &pending, is_void, amount, debit_index, credit_index);
    ledger_transfer_history(ledger, debit_index, credit_index, index, timestamp);
}

static u32 ledger_post_void(struct ledger *ledger, const struct ledger_event *event,
                            u64 map_slot, u64 *result_timestamp) {
    const struct khorgos_transfer *transfer = event->record;
    u32 status = ledger_post_void_validate_fields(transfer);
    if (status != TRANSFER_STATUS(created)) return status;
    u32 pending_index = 0;
    if (!ledger_transfer_index(ledger, transfer->pending_id, &pending_index)) {
        return TRANSFER_STATUS(pending_transfer_not_found);
    }
    u128 amount = 0;
    status =
        ledger_post_void_validate_pending(transfer, &ledger->transfers[pending_index], &amount);
    if (status != TRANSFER_STATUS(created)) return status;
    u64 timestamp = ledger_transfer_timestamp(event);
    status = ledger_post_void_validate_state(ledger, transfer, pending_index, timestamp);
    if (status != TRANSFER_STATUS(created)) return status;
    ledger_post_void_commit(ledger, transfer, pending_index, timestamp, amount, map_slot);
    ASSERT(ledger->transfer_states[pending_index] != LEDGER_TRANSFER_PENDING);
    *result_timestamp = timestamp;
    return TRANSFER_STATUS(created);
}

/* ----------------------------------------------------------------------------------------- */
/* One event, and the request.                                                                */

static u32 ledger_transfer_apply(struct ledger *ledger, const struct ledger_event *event,
                                 u64 *result_timestamp) {
    const struct khorgos_transfer *transfer = event->record;
    ASSERT(ledger->transfer_count < ledger->config.transfer_count_max);
    ASSERT(result_timestamp != NULL && *result_timestamp == event->timestamp);
    if (transfer->flags & ~KHORGOS_TRANSFER_FLAGS_ALL) return TRANSFER_STATUS(reserved_flag);
    if (transfer->id == 0) return TRANSFER_STATUS(id_must_not_be_zero);
    if (transfer->id == U128_MAX) return TRANSFER_STATUS(id_must_not_be_int_max);
    u32 existing = 0;
    u64 map_slot = 0; /* where the id goes if created: nothing enters the map until then */
    if (base_id_map_find(&ledger->transfer_map, transfer->id, &existing, &map_slot)) {
        return ledger_transfer_exists(ledger, transfer, existing, result_timestamp);
    }
    /* The failed map is usually empty: skip its probe, a cache miss, when it is. */
    if (ledger->failed_transfer_count > 0 &&
        base_id_map_get(&ledger->failed_transfer_map, transfer->id, &existing)) {
        return TRANSFER_STATUS(id_already_failed);
    }
    const u16 resolving =
        KHORGOS_TRANSFER_POST_PENDING_TRANSFER | KHORGOS_TRANSFER_VOID_PENDING_TRANSFER;
    if (transfer->flags & resolving) {
        return ledger_post_void(ledger, event, map_slot, result_timestamp);
    }
    return ledger_transfer_create(ledger, event, map_slot, result_timestamp);
}

/* ledger_batch_kind.prefetch: a transfer's id is looked up first, and is new far more often
 * than not, so its home slot in the map is a cache miss; the accounts are fewer and usually
 * cached. */
static void ledger_transfer_prefetch(const struct ledger *ledger, const void *record) {
    const struct khorgos_transfer *transfer = record;
    ASSERT(ledger != NULL && transfer != NULL);
    if (transfer->id != 0) base_id_map_prefetch(&ledger->transfer_map, transfer->id);
}

static const struct ledger_batch_kind ledger_transfer_kind = {
    .record_size = sizeof(struct khorgos_transfer),
    .imported_flag = KHORGOS_TRANSFER_IMPORTED,
    .status_exists = TRANSFER_STATUS(exists),
    .apply = ledger_transfer_apply,
    .failed = ledger_transfer_failed,
    .prefetch = ledger_transfer_prefetch,
};

void ledger_create_transfers(struct ledger *ledger, u64 timestamp,
                             const struct khorgos_transfer *events, u32 count,
                             struct khorgos_create_result *results) {
    ASSERT(ledger != NULL);
    ASSERT(ledger_capacity_transfers(ledger, count));
    u32 transfer_count_before = ledger->transfer_count;
    ledger_batch_apply(ledger, &ledger_transfer_kind, timestamp, events, count, results);
    if (ledger->chain_open) {
        /* A continued chain (ledger_chain_continue) goes on in the next call; its transfers
         * are the engine's own, which never time out, so none waits for the expiry heap. */
        ASSERT(ledger->chain_continued);
        for (u32 index = transfer_count_before; index < ledger->transfer_count; index++) {
            ASSERT(ledger->transfers[index].timeout == 0);
        }
        return;
    }
    /* Pending transfers with a timeout created by this request and still pending enter the
     * expiry heap now that no chain can roll them back. */
    for (u32 index = transfer_count_before; index < ledger->transfer_count; index++) {
        const struct khorgos_transfer *transfer = &ledger->transfers[index];
        if (transfer->timeout == 0) continue;
        if (ledger->transfer_states[index] != LEDGER_TRANSFER_PENDING) continue;
        ledger_expiry_push(ledger, ledger_transfer_expires_at(transfer), index);
    }
    ledger_expiry_drop_resolved(ledger);
    ASSERT(ledger->transfer_map.count == ledger->transfer_count);
}
