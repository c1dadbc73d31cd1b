/*
 * settle_payments.c: payments: submission and its validation, settlement alone (with an
 * intraday credit draw in the same linked chain), queues per payer and currency, retries,
 * settlement of a set through the clearing account, cancel, re-prioritise and lookups.
 * Design and the state diagram: see settle.h.
 *
 * A queue is three doubly linked lists (one per priority) threaded through payment_next /
 * payment_prev; "queue order" is urgent then high then normal, each in arrival order. A waiting
 * payment is on its currency's waiting list through the same links (never on both).
 *
 * When a payment may settle at once (settle_payment_enter):
 *   covered   amount <= balance + unused credit line of the payer, and
 *   limits    the payer's net debit cap and bilateral limit toward the payee hold, and
 *   not held  under fifo, no queued payment of the payer has its priority or a higher one, and
 *   parties   neither payer nor payee is suspended.
 * Otherwise: offsetting on entry when switched on, else queued (or rejected under mode none).
 *
 * Retries (settle_retry_run): a position whose liquidity or room may have grown is put on the
 * retry list (at most once); each is then walked in queue order: fifo stops at the first
 * payment that cannot settle, bypass_fifo tries every one. Each settlement puts its payee on
 * the list, so released payments cascade; it ends because each step settles a payment or
 * empties the list.
 */
#include "settle/settle_private.h"

/* ----------------------------------------------------------------------------------------- */
/* Queues.                                                                                    */

/* ----------------------------------------------------------------------------------------- */
/* Limits and coverage.                                                                       */

/* Why the payment cannot settle alone now (ok when it can). */
static u32 settle_single_status(const struct settle *settle, u32 payment) {
    const struct khorgos_payment *record = &settle->payments[payment];
    u32 payer_slot = settle->payment_payer_slot[payment];
    u32 payee_slot = settle->payment_payee_slot[payment];
    u32 payer = settle->positions[payer_slot].participant;
    u32 payee = settle->positions[payee_slot].participant;
    if (settle_participant_suspended(settle, payer)) return KHORGOS_SETTLE_participant_suspended;
    if (settle_participant_suspended(settle, payee)) return KHORGOS_SETTLE_creditor_suspended;
    if (record->amount > settle_liquidity(settle, payer_slot)) {
        return KHORGOS_SETTLE_insufficient_funds;
    }
    return settle_limits_status(settle, payer_slot, payee, record->amount);
}

/* ----------------------------------------------------------------------------------------- */
/* Booking.                                                                                   */

/* Settles one covered payment alone: [credit draw] then payer -> payee, one chain. */
static bool settle_single(struct settle *settle, u32 payment, u64 timestamp) {
    struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(settle_single_status(settle, payment) == KHORGOS_SETTLE_ok);
    if (!settle_chain_capacity(settle, 2)) return false;
    u32 payer_slot = settle->payment_payer_slot[payment];
    u32 payee_slot = settle->payment_payee_slot[payment];
    if (record->state == KHORGOS_PAYMENT_QUEUED) settle_queue_remove(settle, payment);
    u128 balance = settle_balance(settle, payer_slot);
    u128 draw = record->amount > balance ? record->amount - balance : 0;
    record->transfer_id_credit_draw = settle_credit_draw(settle, payer_slot, draw);
    record->transfer_id_debit = settle_transfer_id_next(settle, SETTLE_TRANSFER_PAYMENT);
    settle_chain_add(settle, SETTLE_TRANSFER_PAYMENT, record->transfer_id_debit,
                     settle->positions[payer_slot].settlement_account_id,
                     settle->positions[payee_slot].settlement_account_id, record->amount,
                     record->currency, record->id);
    settle_chain_flush(settle);
    settle_payment_settled(settle, payment, timestamp);
    return true;
}

/* A queued local payment tried again: settled alone, or why not (ok: covered, but the chain
 * had no room). */
static u32 settle_local_retry(struct settle *settle, u32 payment, u64 timestamp) {
    ASSERT(settle->payments[payment].state == KHORGOS_PAYMENT_QUEUED);
    ASSERT(!settle_fx_payment_is(&settle->payments[payment]));
    u32 status = settle_single_status(settle, payment);
    if (status == KHORGOS_SETTLE_ok && settle_single(settle, payment, timestamp)) {
        return KHORGOS_SETTLE_settled;
    }
    return status;
}

/* ----------------------------------------------------------------------------------------- */
/* Kinds of payment.                                                                          */

/* A payment's kind decides which file enters a new one and retries a queued one: a local
 * payment here, a cross-currency gross one PvP in settle_fx.c, a net one in a window of
 * settle_netting.c (never queued, so never retried). */
enum settle_payment_kind_index {
    SETTLE_PAYMENT_LOCAL = 0,
    SETTLE_PAYMENT_PVP = 1,
    SETTLE_PAYMENT_NET = 2,
    SETTLE_PAYMENT_KIND_COUNT = 3,
};

struct settle_payment_kind {
    u32 (*enter)(struct settle *settle, u32 payment, u64 timestamp);
    u32 (*retry)(struct settle *settle, u32 payment, u64 timestamp); /* NULL: never queued */
};

static const struct settle_payment_kind settle_payment_kinds[SETTLE_PAYMENT_KIND_COUNT] = {
    [SETTLE_PAYMENT_LOCAL] = {settle_payment_enter, settle_local_retry},
    [SETTLE_PAYMENT_PVP] = {settle_offset_pvp_enter, settle_fx_retry},
    [SETTLE_PAYMENT_NET] = {settle_netting_enter, NULL},
};

static const struct settle_payment_kind *settle_payment_kind_of(const struct settle *settle,
                                                                u32 payment) {
    ASSERT(payment < settle->payment_count);
    const struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(record->id != 0);
    if (!settle_fx_payment_is(record)) return &settle_payment_kinds[SETTLE_PAYMENT_LOCAL];
    return &settle_payment_kinds[record->settlement == KHORGOS_SETTLEMENT_NET
                                     ? SETTLE_PAYMENT_NET
                                     : SETTLE_PAYMENT_PVP];
}

/* ----------------------------------------------------------------------------------------- */
/* Retries.                                                                                   */

static u32 settle_retry_position(struct settle *settle, u32 slot, u64 timestamp) {
    const struct settle_position *position = &settle->positions[slot];
    bool fifo = settle->currencies[position->currency].queue_mode == KHORGOS_QUEUE_MODE_FIFO;
    u32 settled = 0;
    for (u32 priority = 0; priority < KHORGOS_PRIORITY_COUNT; priority++) {
        u32 payment = position->queue_head[priority];
        while (payment != SETTLE_NONE) {
            u32 next = settle->payment_next[payment];
            const struct settle_payment_kind *kind = settle_payment_kind_of(settle, payment);
            ASSERT(kind->retry != NULL);
            u32 status = kind->retry(settle, payment, timestamp);
            if (status == KHORGOS_SETTLE_settled) {
                settled++;
            } else {
                settle->payments[payment].reason = status;
                if (fifo) return settled;
            }
            payment = next;
        }
    }
    return settled;
}

u32 settle_retry_run(struct settle *settle, u64 timestamp) {
    u32 settled = 0;
    while (settle->retry_count > 0) {
        u32 slot = settle->retry_list[--settle->retry_count];
        ASSERT(settle->positions[slot].retry_pending);
        settle->positions[slot].retry_pending = false;
        if (!settle->currencies[settle->positions[slot].currency].day_open) continue;
        settled += settle_retry_position(settle, slot, timestamp);
    }
    return settled;
}

/* ----------------------------------------------------------------------------------------- */
/* Entering a payment: settle, offset, queue or reject.                                       */

u32 settle_payment_enter(struct settle *settle, u32 payment, u64 timestamp) {
    struct khorgos_payment *record = &settle->payments[payment];
    u32 payer_slot = settle->payment_payer_slot[payment];
    const struct settle_currency *currency =
        &settle->currencies[settle->positions[payer_slot].currency];
    ASSERT(record->state == 0);
    ASSERT(currency->day_open);
    bool held = currency->queue_mode == KHORGOS_QUEUE_MODE_FIFO &&
                settle_queue_holds(settle, payer_slot, record->priority);
    u32 status = settle_single_status(settle, payment);
    if (!held && status == KHORGOS_SETTLE_ok) {
        if (settle_single(settle, payment, timestamp)) return KHORGOS_SETTLE_settled;
        status = KHORGOS_SETTLE_capacity_full;
    }
    if (status == KHORGOS_SETTLE_participant_suspended ||
        status == KHORGOS_SETTLE_creditor_suspended || status == KHORGOS_SETTLE_capacity_full ||
        currency->queue_mode == KHORGOS_QUEUE_MODE_NONE) {
        if (status == KHORGOS_SETTLE_ok) status = KHORGOS_SETTLE_insufficient_funds;
        settle_payment_finish(settle, payment, KHORGOS_PAYMENT_REJECTED, status, timestamp);
        return status;
    }
    if ((currency->flags & KHORGOS_DAY_OFFSETTING_ON_ENTRY) != 0 &&
        settle_offset_on_entry(settle, payment, timestamp) > 0) {
        return KHORGOS_SETTLE_settled;
    }
    settle_queue_append(settle, payment);
    record->reason = status == KHORGOS_SETTLE_ok ? KHORGOS_SETTLE_queued : status;
    if (record->settle_by != 0) settle_timer_push(settle, record->settle_by, payment);
    return KHORGOS_SETTLE_queued;
}

/* ----------------------------------------------------------------------------------------- */
/* Submission.                                                                                */

bool settle_text_valid(const char *text, u32 size, bool required) {
    u32 length = 0;
    while (length < size && text[length] != '\0') length++;
    for (u32 index = 0; index < length; index++) {
        if (text[index] < 0x20 || text[index] > 0x7E) return false;
    }
    for (u32 index = length; index < size; index++) {
        if (text[index] != '\0') return false;
    }
    return length > 0 || !required;
}

static bool settle_purpose_valid(const char purpose[4]) {
    if (purpose[0] == '\0') return purpose[1] == '\0' && purpose[2] == '\0' && purpose[3] == '\0';
    for (u32 index = 0; index < 4; index++) {
        if (purpose[index] < 'A' || purpose[index] > 'Z') return false;
    }
    return true;
}

static bool settle_uetr_valid(u128 uetr) {
    if (uetr == 0) return true;
    return ((uetr >> 76) & 0xF) == 4 && ((uetr >> 62) & 0x3) == 2;
}

/* Validates the fields of a new payment (BICs normalised here); sets the slots. */
static u32 settle_payment_status(struct settle *settle, u32 payment, u64 timestamp) {
    struct khorgos_payment *record = &settle->payments[payment];
    if (!settle_bic_normalize(record->debtor) || !settle_bic_normalize(record->creditor)) {
        return KHORGOS_SETTLE_bic_invalid;
    }
    u32 payer = settle_participant_find(settle, record->debtor);
    if (payer == SETTLE_NONE) return KHORGOS_SETTLE_debtor_not_found;
    u32 payee = settle_participant_find(settle, record->creditor);
    if (payee == SETTLE_NONE) return KHORGOS_SETTLE_creditor_not_found;
    if (payer == payee) return KHORGOS_SETTLE_accounts_must_be_different;
    u32 currency = settle_currency_find(settle, record->currency);
    if (currency == SETTLE_NONE) {
        return khorgos_currency_by_numeric(record->currency) == NULL
                   ? KHORGOS_SETTLE_currency_invalid
                   : KHORGOS_SETTLE_currency_not_held;
    }
    settle->payment_payer_slot[payment] = settle_position_slot(settle, payer, currency);
    settle->payment_payee_slot[payment] = settle_position_slot(settle, payee, currency);
    if (settle->payment_payer_slot[payment] == SETTLE_NONE ||
        settle->payment_payee_slot[payment] == SETTLE_NONE) {
        settle->payment_payer_slot[payment] = SETTLE_NONE;
        return KHORGOS_SETTLE_currency_not_held;
    }
    if (record->amount == 0) return KHORGOS_SETTLE_amount_must_not_be_zero;
    if (record->amount > SETTLE_LSM_AMOUNT_MAX) return KHORGOS_SETTLE_amount_too_large;
    if (record->type > KHORGOS_PAYMENT_INTERBANK) return KHORGOS_SETTLE_type_invalid;
    if (record->priority > KHORGOS_PRIORITY_NORMAL) return KHORGOS_SETTLE_priority_invalid;
    if (!settle_text_valid(record->end_to_end_id, KHORGOS_END_TO_END_ID_BYTES, true)) {
        return KHORGOS_SETTLE_end_to_end_id_invalid;
    }
    if (!settle_uetr_valid(record->uetr)) return KHORGOS_SETTLE_uetr_invalid;
    if (!settle_purpose_valid(record->purpose)) return KHORGOS_SETTLE_purpose_invalid;
    if (record->value_date != 0 && !settle_date_valid(record->value_date)) {
        return KHORGOS_SETTLE_value_date_invalid;
    }
    if (settle_participant_suspended(settle, payer)) return KHORGOS_SETTLE_participant_suspended;
    if (settle_participant_suspended(settle, payee)) return KHORGOS_SETTLE_creditor_suspended;
    if (record->settle_by != 0 && record->settle_by <= timestamp) {
        return KHORGOS_SETTLE_settle_by_passed;
    }
    return KHORGOS_SETTLE_ok;
}

/* The business day's verdict on a valid payment: ok (enter now), waiting, or a rejection. */
static u32 settle_payment_day_status(const struct settle *settle, u32 payment) {
    const struct khorgos_payment *record = &settle->payments[payment];
    const struct settle_currency *currency =
        &settle->currencies[settle->positions[settle->payment_payer_slot[payment]].currency];
    if (record->value_date != 0 && record->value_date < currency->date) {
        return KHORGOS_SETTLE_value_date_invalid;
    }
    u32 currency_index = settle->positions[settle->payment_payer_slot[payment]].currency;
    if (record->value_date != 0 && settle_holiday_is(settle, currency_index, record->value_date)) {
        return KHORGOS_SETTLE_value_date_holiday; /* that day will not open (settle_day.c) */
    }
    if (record->value_date > currency->date) return KHORGOS_SETTLE_waiting;
    if (!currency->day_open) return KHORGOS_SETTLE_day_not_open;
    bool passed = record->type == KHORGOS_PAYMENT_CUSTOMER ? currency->cut_off_customer_passed
                                                           : currency->cut_off_interbank_passed;
    return passed ? KHORGOS_SETTLE_after_cut_off : KHORGOS_SETTLE_ok;
}

/* Whether an event is a cross-currency or net payment (new fields, or an id of such a payment):
 * settle_submit_cross answers it. */
static bool settle_submit_claims(const struct settle *settle, const struct khorgos_payment *event) {
    ASSERT(settle != NULL && event != NULL);
    ASSERT(event->id != 0);
    if (settle_fx_payment_is(event)) return true;
    u32 existing = settle_payment_find(settle, event->debtor, event->id);
    return existing != SETTLE_NONE && settle_fx_payment_is(&settle->payments[existing]);
}

/* A cross-currency or net payment: validated (settle_fx.c's rules), then entered by its kind:
 * settled, queued, windowed or rejected. */
static u32 settle_submit_cross(struct settle *settle, u64 timestamp,
                               const struct khorgos_payment *event,
                               struct khorgos_settle_result *result) {
    ASSERT(result != NULL);
    ASSERT(event->id != 0);
    struct khorgos_payment input = *event;
    u32 existing = settle_payment_find(settle, event->debtor, event->id);
    if (existing != SETTLE_NONE) {
        struct khorgos_payment stored = settle->payments[existing];
        settle_bic_normalize(input.debtor);
        settle_bic_normalize(input.creditor);
        settle_fx_input_view(&stored);
        settle_fx_input_view(&input);
        result->timestamp = settle->payments[existing].submitted_at;
        if (memcmp(&stored, &input, sizeof(stored)) != 0) {
            return KHORGOS_SETTLE_exists_with_different_fields;
        }
        result->flags |= KHORGOS_SETTLE_RESULT_RETRY;
        return settle->payment_submit_status[existing];
    }
    settle_fx_input_view(&input);
    if (input.amount_kind == KHORGOS_AMOUNT_CREDITOR) input.amount = event->amount;
    else input.amount_target = event->amount_target;
    if (memcmp(&input, event, sizeof(input)) != 0) return KHORGOS_SETTLE_reserved_field;
    if (settle->payment_count == settle->config.payment_count_max) {
        return KHORGOS_SETTLE_capacity_full;
    }
    u32 payment = settle_payment_append(settle, event, timestamp);
    u32 status = settle_fx_submit_status(settle, payment, timestamp);
    if (status == KHORGOS_SETTLE_ok) {
        status = settle_payment_kind_of(settle, payment)->enter(settle, payment, timestamp);
    } else {
        settle_payment_finish(settle, payment, KHORGOS_PAYMENT_REJECTED, status, timestamp);
    }
    settle->payment_submit_status[payment] = status;
    return status;
}

static u32 settle_submit_one(struct settle *settle, u64 timestamp,
                             const struct khorgos_payment *event,
                             struct khorgos_settle_result *result) {
    if (event->id == 0) return KHORGOS_SETTLE_id_must_not_be_zero;
    if (settle_submit_claims(settle, event)) { /* cross-currency or net */
        return settle_submit_cross(settle, timestamp, event, result);
    }
    u32 existing = settle_payment_find(settle, event->debtor, event->id);
    if (existing != SETTLE_NONE) {
        struct khorgos_payment stored = settle->payments[existing];
        struct khorgos_payment input = *event;
        settle_bic_normalize(input.debtor);
        settle_bic_normalize(input.creditor);
        stored.state = 0;
        result->timestamp = stored.submitted_at;
        if (memcmp(&stored, &input, offsetof(struct khorgos_payment, submitted_at)) != 0) {
            return KHORGOS_SETTLE_exists_with_different_fields;
        }
        result->flags |= KHORGOS_SETTLE_RESULT_RETRY;
        return settle->payment_submit_status[existing];
    }
    static const u8 zero[sizeof(struct khorgos_payment)];
    size_t out_offset = offsetof(struct khorgos_payment, submitted_at);
    if (event->state != 0 ||
        memcmp((const u8 *)event + out_offset, zero, sizeof(*event) - out_offset) != 0) {
        return KHORGOS_SETTLE_reserved_field;
    }
    if (settle->payment_count == settle->config.payment_count_max) {
        return KHORGOS_SETTLE_capacity_full;
    }
    u32 payment = settle_payment_append(settle, event, timestamp);
    u32 status = settle_payment_status(settle, payment, timestamp);
    if (status == KHORGOS_SETTLE_ok) status = settle_payment_day_status(settle, payment);
    if (status == KHORGOS_SETTLE_ok) {
        status = settle_payment_enter(settle, payment, timestamp);
    } else if (status == KHORGOS_SETTLE_waiting) {
        settle_waiting_append(settle, payment);
        settle->payments[payment].reason = KHORGOS_SETTLE_waiting;
    } else {
        settle_payment_finish(settle, payment, KHORGOS_PAYMENT_REJECTED, status, timestamp);
    }
    settle->payment_submit_status[payment] = status;
    return status;
}

void settle_submit_payments(struct settle *settle, u64 timestamp,
                            const struct khorgos_payment *events, u32 count,
                            struct khorgos_settle_result *results) {
    ASSERT(settle != NULL);
    ASSERT(settle->timestamp_cursor <= timestamp); /* events take slots from here */
    ASSERT(count == 0 || (events != NULL && results != NULL));
    for (u32 index = 0; index < count; index++) {
        u64 event_timestamp = settle_event_begin(settle, &results[index]);
        u64 settled_before = settle->payments_settled;
        results[index].status =
            settle_submit_one(settle, event_timestamp, &events[index], &results[index]);
        if ((results[index].flags & KHORGOS_SETTLE_RESULT_RETRY) == 0) {
            settle_retry_run(settle, event_timestamp);
        }
        results[index].payments_settled = settle_settled_since(settle, settled_before);
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Cancel, re-prioritise.                                                                     */

/* The payment a change names: (its debtor, or else the actor's scope, payment id). */
static u32 settle_change_payment(const struct settle *settle,
                                 const struct khorgos_payment_change *event) {
    ASSERT(settle != NULL && event != NULL);
    static const char empty[KHORGOS_BIC_BYTES];
    if (event->payment_id == 0) return SETTLE_NONE;
    if (memcmp(event->debtor, empty, KHORGOS_BIC_BYTES) != 0) {
        return settle_payment_find(settle, event->debtor, event->payment_id);
    }
    struct settle_scoped_ids ids = settle_scoped_payments(settle);
    return settle_scoped_find(&ids, event->payment_id, settle_actor_scope(settle));
}

static u32 settle_change_status(struct settle *settle, u32 operation,
                                const struct khorgos_payment_change *event, u64 timestamp) {
    static const u8 zero[sizeof(event->reserved)];
    if (memcmp(event->reserved, zero, sizeof(zero)) != 0) return KHORGOS_SETTLE_reserved_field;
    bool cancel = operation == KHORGOS_OPERATION_CANCEL_PAYMENTS;
    if (cancel && event->priority != 0) return KHORGOS_SETTLE_reserved_field;
    if (!cancel && event->message_checksum != 0) return KHORGOS_SETTLE_reserved_field;
    if (!cancel && event->priority > KHORGOS_PRIORITY_NORMAL) {
        return KHORGOS_SETTLE_priority_invalid;
    }
    u32 payment = settle_change_payment(settle, event);
    if (payment == SETTLE_NONE) return KHORGOS_SETTLE_payment_not_found;
    struct khorgos_payment *record = &settle->payments[payment];
    if (record->state != KHORGOS_PAYMENT_QUEUED && record->state != KHORGOS_PAYMENT_WAITING) {
        return KHORGOS_SETTLE_payment_not_queued;
    }
    u32 slot = settle->payment_payer_slot[payment];
    if (cancel) {
        settle_payment_finish(settle, payment, KHORGOS_PAYMENT_CANCELLED, KHORGOS_SETTLE_cancelled,
                              timestamp);
    } else if (record->state == KHORGOS_PAYMENT_WAITING) {
        record->priority = event->priority;
    } else {
        settle_queue_remove(settle, payment);
        record->priority = event->priority;
        settle_queue_append(settle, payment);
    }
    settle_retry_add(settle, slot); /* the head may have changed */
    return KHORGOS_SETTLE_ok;
}

/* What a change's request id stands for: a message's cancellation (message_checksum set) is
 * that message, whatever payment it names (the gateway finds the original by lookups, and may
 * find it only later), so a byte-identical message is its first answer; any other change is the
 * whole event. */
static struct khorgos_payment_change
settle_change_request(u32 operation, const struct khorgos_payment_change *event) {
    ASSERT(event != NULL);
    ASSERT(operation == KHORGOS_OPERATION_CANCEL_PAYMENTS ||
           operation == KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS);
    struct khorgos_payment_change request = *event;
    if (operation == KHORGOS_OPERATION_CANCEL_PAYMENTS && event->message_checksum != 0) {
        request.payment_id = 0;
        memset(request.debtor, 0, sizeof(request.debtor));
    }
    return request;
}

static void settle_changes(struct settle *settle, u32 operation, u64 timestamp,
                           const struct khorgos_payment_change *events, u32 count,
                           struct khorgos_settle_result *results) {
    ASSERT(settle->timestamp_cursor <= timestamp); /* events take slots from here */
    ASSERT(count == 0 || (events != NULL && results != NULL));
    for (u32 index = 0; index < count; index++) {
        const struct khorgos_payment_change *event = &events[index];
        struct khorgos_settle_result *result = &results[index];
        u64 event_timestamp = settle_event_begin(settle, result);
        struct khorgos_payment_change request = settle_change_request(operation, event);
        if (!settle_request_begin(settle, operation, event->id, &request, sizeof(request),
                                  result)) {
            continue;
        }
        u64 settled_before = settle->payments_settled;
        result->status = settle_change_status(settle, operation, event, event_timestamp);
        settle_retry_run(settle, event_timestamp);
        result->payments_settled = settle_settled_since(settle, settled_before);
        settle_request_store(settle, operation, event->id, &request, sizeof(request), result);
    }
}

void settle_cancel_payments(struct settle *settle, u64 timestamp,
                            const struct khorgos_payment_change *events, u32 count,
                            struct khorgos_settle_result *results) {
    ASSERT(settle != NULL);
    settle_changes(settle, KHORGOS_OPERATION_CANCEL_PAYMENTS, timestamp, events, count, results);
}

void settle_reprioritize_payments(struct settle *settle, u64 timestamp,
                                  const struct khorgos_payment_change *events, u32 count,
                                  struct khorgos_settle_result *results) {
    ASSERT(settle != NULL);
    settle_changes(settle, KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS, timestamp, events, count,
                   results);
}

/* ----------------------------------------------------------------------------------------- */
/* Lookups.                                                                                   */

u32 settle_lookup_payments(const struct settle *settle, const u128 *ids, u32 count,
                           struct khorgos_payment *out) {
    ASSERT(settle != NULL);
    ASSERT(count == 0 || (ids != NULL && out != NULL));
    u32 written = 0;
    struct settle_scoped_ids payments = settle_scoped_payments(settle);
    for (u32 index = 0; index < count; index++) {
        if (ids[index] == 0) continue;
        u32 payment = settle_scoped_find(&payments, ids[index], settle_actor_scope(settle));
        if (payment != SETTLE_NONE) out[written++] = settle->payments[payment];
    }
    return written;
}

u32 settle_get_queue(const struct settle *settle, const struct khorgos_settle_filter *filter,
                     struct khorgos_payment *out, u32 count_max) {
    ASSERT(settle != NULL && out != NULL);
    u32 participant_only = 0, currency_only = 0;
    if (!settle_filter_select(settle, filter, &participant_only, &currency_only)) return 0;
    u32 limit = filter->limit == 0 ? count_max : MIN(filter->limit, count_max);
    u32 written = 0;
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        if (participant_only != SETTLE_NONE && participant != participant_only) continue;
        for (u32 k = 0; k < KHORGOS_PARTICIPANT_CURRENCIES_MAX; k++) {
            const struct settle_position *position =
                &settle->positions[participant * KHORGOS_PARTICIPANT_CURRENCIES_MAX + k];
            if (!position->in_use) continue;
            if (currency_only != SETTLE_NONE && position->currency != currency_only) continue;
            for (u32 priority = 0; priority < KHORGOS_PRIORITY_COUNT; priority++) {
                for (u32 at = position->queue_head[priority]; at != SETTLE_NONE;
                     at = settle->payment_next[at]) {
                    if (written == limit) return written;
                    out[written++] = settle->payments[at];
                }
            }
        }
    }
    return written;
}

/* At open_day: enters the payments waiting for a value date up to the day's, in arrival order
 * (one whose settle-by has passed is rejected). */
void settle_release_waiting(struct settle *settle, u32 currency, u64 timestamp) {
    ASSERT(currency < settle->currency_count);
    ASSERT(settle->currencies[currency].day_open);
    struct settle_currency *entry = &settle->currencies[currency];
    u32 at = entry->waiting_head;
    while (at != SETTLE_NONE) {
        u32 next = settle->payment_next[at];
        struct khorgos_payment *record = &settle->payments[at];
        ASSERT(record->state == KHORGOS_PAYMENT_WAITING);
        if (record->value_date <= entry->date) {
            u32 previous = settle->payment_prev[at];
            if (previous == SETTLE_NONE) entry->waiting_head = next;
            else settle->payment_next[previous] = next;
            if (next == SETTLE_NONE) entry->waiting_tail = previous;
            else settle->payment_prev[next] = previous;
            settle->payment_next[at] = settle->payment_prev[at] = SETTLE_NONE;
            record->state = 0;
            if (record->settle_by != 0 && record->settle_by <= timestamp) {
                settle_payment_finish(settle, at, KHORGOS_PAYMENT_REJECTED,
                                      KHORGOS_SETTLE_settle_by_passed, timestamp);
            } else {
                settle_payment_enter(settle, at, timestamp);
            }
        }
        at = next;
    }
}
