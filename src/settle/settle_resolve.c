/*
 * settle_resolve.c: liquidity saving on the live state. It loads one currency's queues into
 * settle_lsm's compact model (settle_lsm.h), lets the algorithms choose the payments, and books
 * the chosen set through the clearing account (settle_book_set). The algorithms themselves are
 * settle_lsm.c's; nothing here decides which payments settle.
 *
 * The model. Participant i of the model is participant index i (all of them, so indexes need no
 * mapping); one that does not hold the currency or is suspended has liquidity 0 and no
 * payments. Liquidity is the settlement balance plus the unused credit line; the net debit cap
 * and its position (sent - received today) are given when set. Bilateral limits of the
 * currency are given with their positions. Queued payments are loaded payer by payer in queue
 * order; a payer that is suspended contributes none, and under fifo a payer's queue is cut
 * at its first payment to a suspended payee (nothing may pass it), under bypass_fifo only
 * such payments are left out.
 *
 * Offsetting on entry loads only the queues of the new payment's payer and payee (the
 * algorithm looks at nothing else), so its cost is theirs, not the currency's.
 */
#include "settle/settle.h"

static bool settle_suspended(const struct settle *settle, u32 participant) {
    return (settle->participants[participant].record.flags & KHORGOS_PARTICIPANT_SUSPENDED) != 0;
}

static void settle_model_participants(struct settle *settle, u32 currency) {
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        struct settle_lsm_participant *model = &settle->lsm_participants[participant];
        memset(model, 0, sizeof(*model));
        u32 slot = settle_position_slot(settle, participant, currency);
        if (slot == SETTLE_NONE || settle_suspended(settle, participant)) continue;
        const struct settle_position *position = &settle->positions[slot];
        u128 liquidity = settle_liquidity(settle, slot);
        model->liquidity = MIN(liquidity, (u128)SETTLE_LSM_CAPACITY_MAX);
        if (position->net_debit_cap != KHORGOS_AMOUNT_MAX) {
            model->has_net_debit_cap = 1;
            model->net_debit_cap = position->net_debit_cap;
            model->net_debit_position = (i128)position->sent - (i128)position->received;
        }
    }
}

/* Loads the bilateral limits of the currency (of `only_a`/`only_b` when not NONE). */
static u32 settle_model_limits(struct settle *settle, u32 currency, u32 only_a, u32 only_b) {
    u32 count = 0;
    for (u32 index = 0; index < settle->limit_count; index++) {
        const struct settle_bilateral_limit *limit = &settle->limits[index];
        const struct settle_position *position = &settle->positions[limit->position_slot];
        if (position->currency != currency) continue;
        if (only_a != SETTLE_NONE && position->participant != only_a &&
            position->participant != only_b) {
            continue;
        }
        settle->lsm_limits[count++] = (struct settle_lsm_bilateral_limit){
            .limit = limit->limit, .position = limit->position,
            .participant = position->participant, .counterparty = limit->counterparty};
    }
    return count;
}

/* Appends the payer's queued payments (see the header comment for suspension). */
static u32 settle_model_queue(struct settle *settle, u32 slot, bool fifo, u32 count) {
    const struct settle_position *position = &settle->positions[slot];
    if (settle_suspended(settle, position->participant)) return count;
    for (u32 priority = 0; priority < KHORGOS_PRIORITY_COUNT; priority++) {
        for (u32 at = position->queue_head[priority]; at != SETTLE_NONE;
             at = settle->payment_next[at]) {
            const struct khorgos_payment *record = &settle->payments[at];
            if (settle_fx_payment_is(record)) { /* cross-currency: settles alone (settle_fx.c) */
                if (fifo) return count;
                continue;
            }
            u32 payee = settle->positions[settle->payment_payee_slot[at]].participant;
            if (settle_suspended(settle, payee)) {
                if (fifo) return count;
                continue;
            }
            settle->lsm_payment_index[count] = at;
            settle->lsm_payments[count++] = (struct settle_lsm_payment){
                .amount = record->amount, .arrival = record->sequence,
                .payer = position->participant, .payee = payee, .priority = record->priority};
        }
    }
    return count;
}

static void settle_model_problem(struct settle *settle, u32 currency, u32 payments, u32 limits,
                                 struct settle_lsm_problem *problem) {
    bool fifo = settle->currencies[currency].queue_mode == KHORGOS_QUEUE_MODE_FIFO;
    *problem = (struct settle_lsm_problem){
        .participants = settle->lsm_participants, .limits = settle->lsm_limits,
        .payments = settle->lsm_payments, .participant_count = settle->participant_count,
        .limit_count = limits, .payment_count = payments,
        .queue_mode = fifo ? SETTLE_LSM_QUEUE_FIFO : SETTLE_LSM_QUEUE_BYPASS_FIFO};
}

/* Books the selected queued payments (plus `incoming` unless NONE); returns how many. */
static u32 settle_book_selected(struct settle *settle, u32 currency,
                                const struct settle_lsm_result *result, u32 incoming,
                                u64 timestamp) {
    u32 count = 0;
    if (incoming != SETTLE_NONE) settle->set[count++] = incoming;
    for (u32 index = 0; index < result->selected_count; index++) {
        settle->set[count++] = settle->lsm_payment_index[result->selected[index]];
    }
    if (count == 0) return 0;
    if (!settle_chain_capacity(settle, 3 * count)) return 0;
    settle_book_set(settle, currency, count, timestamp);
    return count;
}

u32 settle_offset_on_entry(struct settle *settle, u32 payment, u64 timestamp) {
    const struct khorgos_payment *record = &settle->payments[payment];
    u32 payer_slot = settle->payment_payer_slot[payment];
    u32 payee_slot = settle->payment_payee_slot[payment];
    u32 currency = settle->positions[payer_slot].currency;
    bool fifo = settle->currencies[currency].queue_mode == KHORGOS_QUEUE_MODE_FIFO;
    ASSERT(record->state == 0);
    ASSERT(settle->currencies[currency].queue_mode != KHORGOS_QUEUE_MODE_NONE);
    u32 payer = settle->positions[payer_slot].participant;
    u32 payee = settle->positions[payee_slot].participant;
    if (settle_suspended(settle, payer) || settle_suspended(settle, payee)) return 0;
    settle_model_participants(settle, currency);
    u32 limits = settle_model_limits(settle, currency, payer, payee);
    u32 payments = settle_model_queue(settle, payer_slot, fifo, 0);
    payments = settle_model_queue(settle, payee_slot, fifo, payments);
    struct settle_lsm_problem problem;
    settle_model_problem(settle, currency, payments, limits, &problem);
    struct settle_lsm_payment incoming = {.amount = record->amount, .arrival = record->sequence,
                                          .payer = payer, .payee = payee,
                                          .priority = record->priority};
    struct settle_lsm_result result;
    khorgos_error error = settle_lsm_offset_on_entry(&settle->lsm, &problem, &incoming, &result);
    ASSERT(error == KHORGOS_ERROR_ok); /* the model is built valid */
    if (!result.incoming_settles) return 0;
    return settle_book_selected(settle, currency, &result, payment, timestamp);
}

u32 settle_resolve(struct settle *settle, u32 currency, u64 timestamp) {
    ASSERT(currency < settle->currency_count);
    const struct settle_currency *entry = &settle->currencies[currency];
    if (!entry->day_open || entry->queue_mode == KHORGOS_QUEUE_MODE_NONE) return 0;
    bool fifo = entry->queue_mode == KHORGOS_QUEUE_MODE_FIFO;
    settle_model_participants(settle, currency);
    u32 limits = settle_model_limits(settle, currency, SETTLE_NONE, SETTLE_NONE);
    u32 payments = 0;
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        u32 slot = settle_position_slot(settle, participant, currency);
        if (slot != SETTLE_NONE) payments = settle_model_queue(settle, slot, fifo, payments);
    }
    if (payments == 0) return 0;
    struct settle_lsm_problem problem;
    settle_model_problem(settle, currency, payments, limits, &problem);
    struct settle_lsm_result result;
    khorgos_error error = settle_lsm_resolve(&settle->lsm, &problem, &result);
    ASSERT(error == KHORGOS_ERROR_ok);
    u32 settled = settle_book_selected(settle, currency, &result, SETTLE_NONE, timestamp);
    return settled + settle_retry_run(settle, timestamp);
}

static u32 settle_resolve_status(struct settle *settle, const struct khorgos_business_day *event,
                                 u32 *currency) {
    static const u8 zero[sizeof(event->reserved)];
    if (event->date != 0 || event->cut_off_customer != 0 || event->cut_off_interbank != 0 ||
        event->resolution_interval != 0 || event->queue_mode != 0 || event->flags != 0 ||
        memcmp(event->reserved, zero, sizeof(zero)) != 0) {
        return KHORGOS_SETTLE_reserved_field;
    }
    *currency = settle_currency_find(settle, event->currency);
    if (*currency == SETTLE_NONE) return KHORGOS_SETTLE_currency_invalid;
    const struct settle_currency *entry = &settle->currencies[*currency];
    if (!entry->day_open) return KHORGOS_SETTLE_day_not_open;
    if ((entry->flags & KHORGOS_DAY_RESOLUTION_ON_REQUEST) == 0) {
        return KHORGOS_SETTLE_resolution_disabled;
    }
    return KHORGOS_SETTLE_ok;
}

void settle_resolve_gridlock(struct settle *settle, u64 timestamp,
                             const struct khorgos_business_day *events, u32 count,
                             struct khorgos_settle_result *results) {
    ASSERT(settle != NULL);
    ASSERT(count == 0 || (events != NULL && results != NULL));
    const u32 operation = KHORGOS_OPERATION_RESOLVE_GRIDLOCK;
    for (u32 index = 0; index < count; index++) {
        const struct khorgos_business_day *event = &events[index];
        struct khorgos_settle_result *result = &results[index];
        *result = (struct khorgos_settle_result){.timestamp = timestamp};
        if (!settle_request_begin(settle, operation, event->id, event, sizeof(*event), result)) {
            continue;
        }
        u32 currency = SETTLE_NONE;
        result->status = settle_resolve_status(settle, event, &currency);
        if (result->status == KHORGOS_SETTLE_ok) {
            result->payments_settled = settle_resolve(settle, currency, timestamp);
        }
        settle_request_store(settle, operation, event->id, event, sizeof(*event), result);
    }
}
