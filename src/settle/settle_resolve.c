/*
 * settle_resolve.c: liquidity saving on the live state. It loads one currency's queues into
 * settle_lsm's compact model (settle_lsm.h), lets the algorithms choose the payments, and books
 * the chosen set through the clearing account (settle_resolve_book). The algorithms themselves
 * are settle_lsm.c's; nothing here decides which payments settle.
 *
 * The model. Participant i of the model is participant index i (all of them, so indexes need no
 * mapping); one that does not hold the currency or is suspended has liquidity 0 and no
 * payments. Liquidity is the settlement balance plus the unused credit line; the net debit cap
 * and its position (sent - received today) are given when set. Bilateral limits of the
 * currency are given with their positions. Queued payments are loaded payer by payer in queue
 * order; a payer that is suspended contributes none, and under fifo a payer's queue is cut
 * at its first payment that cannot be loaded (nothing may pass it), under bypass_fifo only
 * such payments are left out. A same-currency payment cannot be loaded when its payee is
 * suspended.
 *
 * Cross-currency payments (a waiting PvP payment takes part in liquidity saving as one unit). A
 * queued cross-currency payment waits in its payer's queue in the source currency, so it is loaded
 * in that currency's runs, as the payment of its SOURCE LEG:
 * payer -> first liquidity provider, of the source amount. Its other legs (provider ->
 * payee in the target currency; for a vehicle route also provider 1 -> provider 2 in the
 * vehicle currency) are in other currencies, which the run does not model, so their
 * feasibility is a precondition checked while loading (settle_fx_lsm_admit, settle_fx.c):
 *   1. it is priced now (requote at settlement, the documented rule): no live quote with room,
 *      not loaded;
 *   2. every leg's currency is in its day and before the cut-off of the payment's type, and no
 *      party of any leg is suspended;
 *   3. each other leg's debtor slot covers the leg on top of what earlier loaded payments of
 *      the run already reserved on that slot: reserved + amount <= liquidity, and its net
 *      debit cap and bilateral limit hold for reserved + amount (the whole reserved outflow
 *      counts against the bilateral limit: conservative);
 *   4. the quotes' room is taken for it (amount_used), so later loaded payments are priced
 *      with what is left.
 * Reservation is greedy in load order (payer by payer in participant order, each in queue
 * order) and counts outflows only, never what a slot receives. Whatever subset the
 * algorithms then choose, the other legs' outflows per slot are at most what was reserved,
 * so the set is feasible in every currency: nobody below zero after its credit line, every
 * cap and limit respected. The price of the loaded payments stays valid because nothing is
 * booked between loading and booking. A payment not loaded stays queued (and is retried
 * alone as before); under fifo its payer's queue is cut there.
 *
 * Booking a set (settle_resolve_book): one linked chain (settle.h, "Booking model"), however long
 * (the ledger takes it in parts of SETTLE_CHAIN_EVENTS_MAX events and keeps it one chain; it is
 * asserted to succeed because the set is feasible and every draw was computed before the first
 * transfer), in this order:
 *   every receipt in the set's currency: clearing -> payee, or clearing -> first provider for
 *     a cross-currency payment's source leg;
 *   each payer's credit draw when its net outflow in the set exceeds its balance;
 *   every payment: payer -> clearing (for a cross-currency payment its source leg);
 *   then the cross-currency payments' other legs (settle_fx_lsm_book): one draw per debtor
 *     slot for its whole outflow in the set, then each leg debtor -> creditor directly.
 * So a cross-currency payment's legs are in the same chain as the rest of the set: all or
 * nothing, PvP. A set with no cross-currency payment books exactly as before. When the run
 * settles nothing, the quotes' room taken while loading is given back (settle_fx_lsm_end).
 *
 * Offsetting on entry loads only the queues of the new payment's payer and payee (the
 * algorithm looks at nothing else), so its cost is theirs, not the currency's. A queued
 * cross-currency payment of the payee whose first provider is the new payment's payer is one
 * of the candidates (its source leg offsets the new payment). A new cross-currency payment
 * itself is tried alone on entry (settle_fx_enter), not offset.
 *
 * Releasing queues. settle_resolve is the one place a resolution run (on request, on its
 * timer) releases queued payments, and it has three steps: load the model
 * (settle_model_*), choose the set (settle_lsm_resolve, pure), book it
 * (settle_book_selected). A resolution over every currency at once, a pure module choosing a
 * set across currencies from a model of every (participant, currency) position, takes the
 * place of the middle step here: what it chooses is booked by the same one chain, and the
 * retries after the run stay with the caller (settle_apply.c). Nothing else in the layer
 * releases queued payments in a set.
 */
#include "settle/settle_private.h"

static void settle_model_participants(struct settle *settle, u32 currency) {
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        struct settle_lsm_participant *model = &settle->lsm_participants[participant];
        memset(model, 0, sizeof(*model));
        u32 slot = settle_position_slot(settle, participant, currency);
        if (slot == SETTLE_NONE || settle_participant_suspended(settle, participant)) continue;
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

/* Whether the queued payment can be loaded; sets its payee in the model and its amount (a
 * cross-currency payment: its source leg, admitted by settle_fx.c, see the header). */
static bool settle_model_payment(struct settle *settle, u32 payment, u64 timestamp, u32 *payee,
                                 u128 *amount) {
    const struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(record->state == KHORGOS_PAYMENT_QUEUED);
    if (settle_fx_payment_is(record)) {
        u32 receiver_slot = SETTLE_NONE;
        if (!settle_fx_lsm_admit(settle, payment, timestamp, &receiver_slot, amount)) return false;
        *payee = settle->positions[receiver_slot].participant;
        ASSERT(settle->positions[receiver_slot].currency ==
               settle->positions[settle->payment_payer_slot[payment]].currency);
        return true;
    }
    *payee = settle->positions[settle->payment_payee_slot[payment]].participant;
    *amount = record->amount;
    return !settle_participant_suspended(settle, *payee);
}

/* Appends the payer's queued payments (see the header comment for what is left out). */
static u32 settle_model_queue(struct settle *settle, u32 slot, bool fifo, u32 count,
                              u64 timestamp) {
    const struct settle_position *position = &settle->positions[slot];
    ASSERT(position->in_use);
    if (settle_participant_suspended(settle, position->participant)) return count;
    for (u32 priority = 0; priority < KHORGOS_PRIORITY_COUNT; priority++) {
        for (u32 at = position->queue_head[priority]; at != SETTLE_NONE;
             at = settle->payment_next[at]) {
            const struct khorgos_payment *record = &settle->payments[at];
            u32 payee = SETTLE_NONE;
            u128 amount = 0;
            if (!settle_model_payment(settle, at, timestamp, &payee, &amount)) {
                if (fifo) return count;
                continue;
            }
            ASSERT(payee != position->participant && amount > 0);
            settle->lsm_payment_index[count] = at;
            settle->lsm_payments[count++] = (struct settle_lsm_payment){
                .amount = amount, .arrival = record->sequence,
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

/* The slot where a payment of a set is received in the set's currency: its payee's, or for
 * a cross-currency payment its first provider's (its source leg). */
static u32 settle_set_receiver_slot(struct settle *settle, u32 payment) {
    ASSERT(payment < settle->payment_count);
    if (!settle_fx_lsm_admitted(settle, payment)) return settle->payment_payee_slot[payment];
    const struct settle_fx_admitted *entry =
        &settle->fx.admitted[settle->fx.admitted_of[payment]];
    ASSERT(entry->payment == payment);
    return entry->legs[0].creditor_slot;
}

/* Takes the set's payments off their queues (a cross-currency one gets its price) and
 * computes, from balances before anything is booked, the credit each payer must draw for
 * its net outflow in the set. */
static void settle_set_prepare(struct settle *settle, u32 count) {
    for (u32 index = 0; index < count; index++) {
        u32 payment = settle->set[index];
        if (settle->payments[payment].state == KHORGOS_PAYMENT_QUEUED) {
            settle_queue_remove(settle, payment);
        }
        if (settle_fx_lsm_admitted(settle, payment)) settle_fx_lsm_take(settle, payment);
        ASSERT(settle->payments[payment].state == 0);
        u128 amount = settle->payments[payment].amount;
        settle->set_net[settle->positions[settle->payment_payer_slot[payment]].participant] +=
            (i128)amount;
        settle->set_net[settle->positions[settle_set_receiver_slot(settle, payment)].participant] -=
            (i128)amount;
    }
    for (u32 index = 0; index < count; index++) {
        u32 slot = settle->payment_payer_slot[settle->set[index]];
        u32 participant = settle->positions[slot].participant;
        if (settle->set_net[participant] <= 0) continue;
        u128 net = (u128)settle->set_net[participant];
        u128 balance = settle_balance(settle, slot);
        settle->set_draw[participant] = net > balance ? net - balance : 0;
        settle->set_net[participant] = 0; /* once per participant */
    }
}

/* The source currency's part of the set's chain: receipts, draws, payments (header). */
static void settle_set_chain(struct settle *settle, const struct settle_currency *entry,
                             u32 count) {
    ASSERT(count > 0);
    ASSERT(settle->chain_count == 0);
    for (u32 index = 0; index < count; index++) { /* all receipts first */
        struct khorgos_payment *record = &settle->payments[settle->set[index]];
        u32 receiver = settle_set_receiver_slot(settle, settle->set[index]);
        u128 id = settle_transfer_id_next(settle, SETTLE_TRANSFER_PAYMENT_CREDIT);
        record->transfer_id_credit = id; /* a cross-currency payment's: its payee's leg, later */
        settle_chain_add(settle, SETTLE_TRANSFER_PAYMENT_CREDIT, id, entry->clearing_account_id,
                         settle->positions[receiver].settlement_account_id, record->amount,
                         entry->numeric, record->id);
    }
    for (u32 index = 0; index < count; index++) { /* a draw per payer short on its net */
        u32 slot = settle->payment_payer_slot[settle->set[index]];
        u32 participant = settle->positions[slot].participant;
        u128 draw = settle->set_draw[participant];
        settle->set_draw[participant] = 0;
        settle->payments[settle->set[index]].transfer_id_credit_draw =
            settle_credit_draw(settle, slot, draw);
    }
    for (u32 index = 0; index < count; index++) { /* then all payments */
        u32 payment = settle->set[index];
        struct khorgos_payment *record = &settle->payments[payment];
        settle->set_net[settle->positions[settle->payment_payer_slot[payment]].participant] = 0;
        u32 receiver_slot = settle_set_receiver_slot(settle, payment);
        settle->set_net[settle->positions[receiver_slot].participant] = 0;
        record->transfer_id_debit = settle_transfer_id_next(settle, SETTLE_TRANSFER_PAYMENT_DEBIT);
        settle_chain_add(
            settle, SETTLE_TRANSFER_PAYMENT_DEBIT, record->transfer_id_debit,
            settle->positions[settle->payment_payer_slot[payment]].settlement_account_id,
            entry->clearing_account_id, record->amount, entry->numeric, record->id);
    }
}

/* Books settle->set[0..count) as one linked chain (header) and marks every payment settled. */
static void settle_resolve_book(struct settle *settle, u32 currency, u32 count, u64 timestamp) {
    ASSERT(count > 0 && count <= settle->config.payment_count_max);
    ASSERT(currency < settle->currency_count);
    settle_set_prepare(settle, count);
    settle_set_chain(settle, &settle->currencies[currency], count);
    settle_fx_lsm_book(settle, settle->set, count);
    settle_chain_flush(settle);
    for (u32 index = 0; index < count; index++) {
        u32 payment = settle->set[index];
        if (settle_fx_lsm_admitted(settle, payment)) {
            settle_fx_lsm_settled(settle, payment, timestamp);
            continue;
        }
        struct khorgos_payment *record = &settle->payments[payment];
        const struct settle_fx_leg leg = {record->amount, settle->payment_payer_slot[payment],
                                          settle->payment_payee_slot[payment]};
        settle_fx_leg_settled(settle, &leg);
        settle_payment_mark_settled(settle, payment, timestamp);
    }
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
    u64 transfers = 3ull * count + settle_fx_lsm_transfers(settle, settle->set, count);
    if (transfers > U32_MAX || !settle_chain_capacity(settle, (u32)transfers)) return 0;
    settle_resolve_book(settle, currency, count, timestamp);
    return count;
}

u32 settle_offset_on_entry(struct settle *settle, u32 payment, u64 timestamp) {
    const struct khorgos_payment *record = &settle->payments[payment];
    u32 payer_slot = settle->payment_payer_slot[payment];
    u32 payee_slot = settle->payment_payee_slot[payment];
    u32 currency = settle->positions[payer_slot].currency;
    bool fifo = settle->currencies[currency].queue_mode == KHORGOS_QUEUE_MODE_FIFO;
    ASSERT(record->state == 0 && !settle_fx_payment_is(record));
    ASSERT(settle->currencies[currency].queue_mode != KHORGOS_QUEUE_MODE_NONE);
    u32 payer = settle->positions[payer_slot].participant;
    u32 payee = settle->positions[payee_slot].participant;
    if (settle_participant_suspended(settle, payer) ||
        settle_participant_suspended(settle, payee)) {
        return 0;
    }
    settle_fx_lsm_begin(settle);
    settle_model_participants(settle, currency);
    u32 limits = settle_model_limits(settle, currency, payer, payee);
    u32 payments = settle_model_queue(settle, payer_slot, fifo, 0, timestamp);
    payments = settle_model_queue(settle, payee_slot, fifo, payments, timestamp);
    struct settle_lsm_problem problem;
    settle_model_problem(settle, currency, payments, limits, &problem);
    struct settle_lsm_payment incoming = {.amount = record->amount, .arrival = record->sequence,
                                          .payer = payer, .payee = payee,
                                          .priority = record->priority};
    struct settle_lsm_result result;
    khorgos_error error = settle_lsm_offset_on_entry(&settle->lsm, &problem, &incoming, &result);
    ASSERT(error == KHORGOS_ERROR_ok); /* the model is built valid */
    u32 settled = 0;
    if (result.incoming_settles) {
        settled = settle_book_selected(settle, currency, &result, payment, timestamp);
    }
    settle_fx_lsm_end(settle);
    return settled;
}

/* A resolution run over one currency's queues (see "Releasing queues"): load, choose, book.
 * Returns the payments settled; the caller runs the retries after it. */
u32 settle_resolve(struct settle *settle, u32 currency, u64 timestamp) {
    ASSERT(currency < settle->currency_count);
    const struct settle_currency *entry = &settle->currencies[currency];
    if (!entry->day_open || entry->queue_mode == KHORGOS_QUEUE_MODE_NONE) return 0;
    bool fifo = entry->queue_mode == KHORGOS_QUEUE_MODE_FIFO;
    settle_fx_lsm_begin(settle);
    settle_model_participants(settle, currency);
    u32 limits = settle_model_limits(settle, currency, SETTLE_NONE, SETTLE_NONE);
    u32 payments = 0;
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        u32 slot = settle_position_slot(settle, participant, currency);
        if (slot != SETTLE_NONE) {
            payments = settle_model_queue(settle, slot, fifo, payments, timestamp);
        }
    }
    if (payments == 0) {
        settle_fx_lsm_end(settle);
        return 0;
    }
    struct settle_lsm_problem problem;
    settle_model_problem(settle, currency, payments, limits, &problem);
    struct settle_lsm_result result;
    khorgos_error error = settle_lsm_resolve(&settle->lsm, &problem, &result);
    ASSERT(error == KHORGOS_ERROR_ok);
    u32 settled = settle_book_selected(settle, currency, &result, SETTLE_NONE, timestamp);
    settle_fx_lsm_end(settle); /* before the caller's retries, which price payments again */
    return settled;
}

static u32 settle_resolve_status(const struct settle *settle,
                                 const struct khorgos_business_day *event, u32 *currency) {
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

/* One resolve_gridlock event (its request id, the retries after it and its count:
 * settle_apply.c). */
u32 settle_resolve_event_one(struct settle *settle, u32 operation, const void *body,
                             u64 timestamp) {
    const struct khorgos_business_day *event = body;
    ASSERT(operation == KHORGOS_OPERATION_RESOLVE_GRIDLOCK);
    ASSERT(settle->timestamp_cursor > timestamp); /* the event's own timestamp was taken */
    u32 currency = SETTLE_NONE;
    u32 status = settle_resolve_status(settle, event, &currency);
    if (status == KHORGOS_SETTLE_ok) settle_resolve(settle, currency, timestamp);
    return status;
}
