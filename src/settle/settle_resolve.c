/*
 * settle_resolve.c: liquidity saving on the live state. It loads every currency's queues into
 * settle_gridlock's model (settle_gridlock.h), and one currency's into settle_lsm's compact
 * model (settle_lsm.h), lets the algorithms choose the payments, and books the chosen set
 * through the clearing accounts. The algorithms themselves are settle_gridlock.c's and
 * settle_lsm.c's; nothing here decides which payments settle.
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
 * Offsetting on entry (settle_offset_across), for a new payment of either kind that cannot
 * settle alone and that fifo does not hold behind its payer's queue: settle_gridlock's model
 * across currencies (below) holding the new payment with all its legs and, from the queue of
 * each position one of its legs credits, the payments that PAY BACK into it: one of their
 * legs credits a position that one of the new payment's legs debits (TARGET2's "the payee's
 * payments to the payer", across currencies; under fifo the head of the queue while they do).
 * The new payment settles when the selection holds it, booked with the rest of the selection
 * as one chain; otherwise it is queued. Only payments back are loaded: with the receivers'
 * whole queues in the model, a receiver's payments to third parties make it short, and the
 * removal rule can drop its payment back to the payer first (the one relieving it most),
 * which leaves the payer short and drops the new payment too
 * (test_offsetting_on_entry_takes_payments_back; docs/liquidity-saving.md has the simulator's
 * numbers). Bilateral limits are in the model as pair limits (below).
 *
 * Across currencies (settle_resolve_all). A resolution run, whichever currency started it
 * (on request, on its timer, or just before a cut-off of a currency resolving on its timer),
 * first resolves every currency's queues at once with settle_gridlock (settle_gridlock.h), then
 * the starting currency's queues alone as above, over what is left. The first step runs once
 * per tick: a later run of the same request (a resolve_gridlock event for another currency, a
 * pulse's next due currency) skips it unless a payment has settled or a cut-off has passed
 * since it ran (settle->grid_fresh), since it would see the queues it has just resolved. The
 * first step's model:
 *   positions: every position slot, available = settle_liquidity, lowered to the room under a
 *     net debit cap (cap - (sent - received), at least 0), 0 for a suspended participant;
 *     bypass_fifo from the slot's currency's queue mode;
 *   payments: every queue of every currency in its day with queues, loaded as above (a
 *     suspended payer's not at all, under fifo cut at the first that cannot be loaded); a
 *     same-currency payment is one leg payer -> payee; a cross-currency payment is priced now
 *     (settle_fx_lsm_price: days, cut-offs and parties of every leg checked, no funds, no
 *     reservation, no quote room taken) and has all its legs (source, vehicle, target), so
 *     every receipt of the chosen set counts in every currency; value = the source amount;
 *   exposure limits: one per quote, its room (amount_max - amount_used); a conversion charges
 *     its source amount on its first quote and its vehicle amount on its second, so the set
 *     keeps every quote within its room and the chosen ones' room is taken when they book.
 * The set books as one linked chain over every currency (settle_grid_chain): every leg's
 * receipt (clearing -> creditor), then per position one credit draw for its net outflow in
 * the set beyond its balance (settle_credit_cover; the net is at most balance + unused credit
 * line, so the draw fits), then every leg's debit (debtor -> clearing). Every account only
 * gains before the draws and only loses after them, so no step takes one below its final
 * balance, which the chosen set keeps at least zero: the ledger accepts the chain. Bilateral
 * limits are pair limits of the model (settle_grid_pairs): from the payer's slot to the
 * counterparty's in the currency, room limit - position (at least 0), counted net over every
 * leg of the set. The second step finds sets
 * the first one's heuristic misses when a provider constraint binds (settle_gridlock.h,
 * invariant 5) and keeps the per-currency algorithms' results for single-currency queues.
 *
 * Releasing queues. settle_resolve is the one place a resolution run releases queued payments
 * in a set: load the model, choose the set (settle_gridlock_resolve, settle_lsm_resolve; pure),
 * book it. The retries after the run stay with the caller (settle_apply.c).
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

/* Loads the bilateral limits of the currency. */
static u32 settle_model_limits(struct settle *settle, u32 currency) {
    u32 count = 0;
    for (u32 index = 0; index < settle->limit_count; index++) {
        const struct settle_bilateral_limit *limit = &settle->limits[index];
        const struct settle_position *position = &settle->positions[limit->position_slot];
        if (position->currency != currency) continue;
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

/* After the set's chain: each payment of settle->set[0..count) settled, with its legs'
 * statistics. */
static void settle_set_settled(struct settle *settle, u32 count, u64 timestamp) {
    ASSERT(count > 0 && count <= settle->config.payment_count_max);
    ASSERT(settle->chain_count == 0);
    for (u32 index = 0; index < count; index++) {
        u32 payment = settle->set[index];
        if (settle_fx_lsm_admitted(settle, payment)) {
            settle_fx_lsm_settled(settle, payment, timestamp);
            continue;
        }
        const struct settle_fx_leg leg = {settle->payments[payment].amount,
                                          settle->payment_payer_slot[payment],
                                          settle->payment_payee_slot[payment]};
        settle_fx_leg_settled(settle, &leg);
        settle_payment_mark_settled(settle, payment, KHORGOS_SETTLED_IN_SET, timestamp);
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
    settle_set_settled(settle, count, timestamp);
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

/* ----------------------------------------------------------------------------------------- */
/* The resolution across currencies (settle_gridlock.h; "Across currencies" in the header).    */

/* Positions: every slot, its available amount within any net debit cap (0 when suspended). */
static u32 settle_grid_positions(struct settle *settle) {
    u32 slots = settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
    ASSERT(slots <= SETTLE_GRIDLOCK_POSITION_COUNT_MAX);
    for (u32 slot = 0; slot < slots; slot++) {
        struct settle_gridlock_position *model = &settle->grid_positions[slot];
        memset(model, 0, sizeof(*model));
        const struct settle_position *position = &settle->positions[slot];
        if (!position->in_use) continue;
        model->currency = position->currency;
        model->bypass_fifo =
            settle->currencies[position->currency].queue_mode == KHORGOS_QUEUE_MODE_BYPASS_FIFO;
        if (settle_participant_suspended(settle, position->participant)) continue;
        u128 available = settle_liquidity(settle, slot);
        if (position->net_debit_cap != KHORGOS_AMOUNT_MAX) {
            i128 room = (i128)position->net_debit_cap -
                        ((i128)position->sent - (i128)position->received);
            available = room <= 0 ? 0 : MIN(available, (u128)room);
        }
        model->available = available;
    }
    return slots;
}

/* Pair limits: each bilateral limit whose counterparty holds the currency, with its room
 * (limit - position, at least 0: one already exceeded admits no further net outflow). */
static u32 settle_grid_pairs(struct settle *settle) {
    u32 count = 0;
    ASSERT(settle->limit_count <= settle->config.limit_count_max);
    for (u32 index = 0; index < settle->limit_count; index++) {
        const struct settle_bilateral_limit *limit = &settle->limits[index];
        u32 currency = settle->positions[limit->position_slot].currency;
        u32 creditor = settle_position_slot(settle, limit->counterparty, currency);
        if (creditor == SETTLE_NONE) continue;
        i128 room = (i128)limit->limit - limit->position;
        settle->grid_pair_limits[count++] = (struct settle_gridlock_pair_limit){
            .room = room <= 0 ? 0 : (u128)room, .debtor = limit->position_slot,
            .creditor = creditor};
    }
    return count;
}

/* Exposure limits: each quote's room. */
static u32 settle_grid_exposures(struct settle *settle) {
    const struct settle_fx *fx = &settle->fx;
    ASSERT(fx->quote_count <= SETTLE_FX_QUOTE_COUNT_MAX);
    for (u32 quote = 0; quote < fx->quote_count; quote++) {
        ASSERT(fx->quotes[quote].amount_max >= fx->quotes[quote].amount_used);
        settle->grid_exposure_limits[quote] =
            fx->quotes[quote].amount_max - fx->quotes[quote].amount_used;
    }
    return fx->quote_count;
}

/* The problem over the loaded positions and payments, with every quote's room and every
 * bilateral limit. */
static void settle_grid_problem(struct settle *settle, u32 slots, u32 payments,
                                struct settle_gridlock_problem *problem) {
    ASSERT(slots > 0 && payments > 0);
    ASSERT(payments <= settle->config.payment_count_max);
    *problem = (struct settle_gridlock_problem){
        .positions = settle->grid_positions, .exposure_limits = settle->grid_exposure_limits,
        .payments = settle->grid_payments, .pair_limits = settle->grid_pair_limits,
        .position_count = slots, .exposure_count = settle_grid_exposures(settle),
        .payment_count = payments, .pair_limit_count = settle_grid_pairs(settle)};
}

/* Loads one queued payment with all its legs; false when it cannot settle in this run. */
static bool settle_grid_payment(struct settle *settle, u32 payment, u64 timestamp,
                                struct settle_gridlock_payment *model) {
    const struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(record->state == KHORGOS_PAYMENT_QUEUED || record->state == 0); /* 0: entering */
    memset(model, 0, sizeof(*model));
    model->arrival = record->sequence;
    model->priority = record->priority;
    if (!settle_fx_payment_is(record)) {
        u32 payee_slot = settle->payment_payee_slot[payment];
        if (settle_participant_suspended(settle, settle->positions[payee_slot].participant)) {
            return false;
        }
        model->leg_count = 1;
        model->legs[0] = (struct settle_gridlock_leg){
            .amount = record->amount, .debtor = settle->payment_payer_slot[payment],
            .creditor = payee_slot};
        model->value = record->amount;
        return true;
    }
    const struct settle_fx_admitted *entry = settle_fx_lsm_price(settle, payment, timestamp);
    if (entry == NULL) return false;
    model->leg_count = (u8)entry->leg_count;
    for (u32 index = 0; index < entry->leg_count; index++) {
        model->legs[index] = (struct settle_gridlock_leg){
            .amount = entry->legs[index].amount, .debtor = entry->legs[index].debtor_slot,
            .creditor = entry->legs[index].creditor_slot};
    }
    model->charges[model->charge_count++] = (struct settle_gridlock_charge){
        .amount = entry->price.source, .exposure = entry->price.quote_first};
    if (entry->price.quote_second != SETTLE_NONE) {
        model->charges[model->charge_count++] = (struct settle_gridlock_charge){
            .amount = entry->price.vehicle_amount, .exposure = entry->price.quote_second};
    }
    model->value = entry->price.source;
    ASSERT(model->legs[0].debtor == settle->payment_payer_slot[payment]);
    return true;
}

/* Whether a loaded payment pays back into the new payment of an offsetting on entry: one of
 * its legs credits a position that a leg of the new payment (grid_payments[0]) debits. */
static bool settle_grid_pays_back(const struct settle *settle,
                                  const struct settle_gridlock_payment *model) {
    const struct settle_gridlock_payment *incoming = &settle->grid_payments[0];
    ASSERT(model != incoming);
    ASSERT(incoming->leg_count > 0);
    for (u32 leg = 0; leg < model->leg_count; leg++) {
        for (u32 other = 0; other < incoming->leg_count; other++) {
            if (model->legs[leg].creditor == incoming->legs[other].debtor) return true;
        }
    }
    return false;
}

/* Appends the slot's queued payments (under fifo cut at the first that cannot be loaded); with
 * `back`, only those that pay back into the new payment (settle_grid_pays_back), under fifo
 * the head of the queue while they do. */
static u32 settle_grid_queue(struct settle *settle, u32 slot, u32 count, u64 timestamp,
                             bool back) {
    const struct settle_position *position = &settle->positions[slot];
    ASSERT(position->in_use);
    bool fifo = settle->currencies[position->currency].queue_mode == KHORGOS_QUEUE_MODE_FIFO;
    if (settle_participant_suspended(settle, position->participant)) return count;
    for (u32 priority = 0; priority < KHORGOS_PRIORITY_COUNT; priority++) {
        for (u32 at = position->queue_head[priority]; at != SETTLE_NONE;
             at = settle->payment_next[at]) {
            struct settle_gridlock_payment *model = &settle->grid_payments[count];
            if (!settle_grid_payment(settle, at, timestamp, model) ||
                (back && !settle_grid_pays_back(settle, model))) {
                if (fifo) return count;
                continue;
            }
            settle->lsm_payment_index[count++] = at;
        }
    }
    return count;
}

/* Every queue of every currency in its day with queues; returns the payments loaded. */
static u32 settle_grid_queues(struct settle *settle, u32 slots, u64 timestamp) {
    u32 count = 0;
    ASSERT(slots == settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX);
    for (u32 slot = 0; slot < slots; slot++) {
        const struct settle_position *position = &settle->positions[slot];
        if (!position->in_use) continue;
        const struct settle_currency *currency = &settle->currencies[position->currency];
        if (!currency->day_open || currency->queue_mode == KHORGOS_QUEUE_MODE_NONE) continue;
        count = settle_grid_queue(settle, slot, count, timestamp, false);
    }
    ASSERT(count <= settle->config.payment_count_max);
    return count;
}

/* Adds a move of the set's chain through the currency's clearing account. */
static u128 settle_grid_move(struct settle *settle, u32 kind, u32 slot, bool debit, u128 amount,
                             u128 payment_id) {
    const struct settle_position *position = &settle->positions[slot];
    const struct settle_currency *currency = &settle->currencies[position->currency];
    ASSERT(position->in_use && amount > 0);
    u128 id = settle_transfer_id_next(settle, kind);
    u128 from = debit ? position->settlement_account_id : currency->clearing_account_id;
    u128 to = debit ? currency->clearing_account_id : position->settlement_account_id;
    settle_chain_add(settle, kind, id, from, to, amount, currency->numeric, payment_id);
    return id;
}

/* The set's chain, every currency at once: every leg's receipt, one draw per position for
 * its net outflow beyond its balance, then every leg's debit (header). */
static void settle_grid_chain(struct settle *settle, const struct settle_gridlock_result *result,
                              u32 count) {
    ASSERT(count > 0 && settle->chain_count == 0);
    for (u32 index = 0; index < count; index++) {
        const struct settle_gridlock_payment *model =
            &settle->grid_payments[result->selected[index]];
        struct khorgos_payment *record = &settle->payments[settle->set[index]];
        for (u32 leg = 0; leg < model->leg_count; leg++) {
            record->transfer_id_credit =
                settle_grid_move(settle, SETTLE_TRANSFER_PAYMENT_CREDIT, model->legs[leg].creditor,
                                 false, model->legs[leg].amount, record->id);
        }
    }
    for (u32 index = 0; index < count; index++) {
        const struct settle_gridlock_payment *model =
            &settle->grid_payments[result->selected[index]];
        for (u32 leg = 0; leg < model->leg_count; leg++) {
            u32 slot = model->legs[leg].debtor;
            if (settle->grid_slot_draw[slot] != 0 || result->net_out[slot] <= 0) continue;
            u128 id = settle_credit_cover(settle, slot, (u128)result->net_out[slot]);
            settle->grid_slot_draw[slot] = id != 0 ? id : 1;
            if (leg == 0) settle->payments[settle->set[index]].transfer_id_credit_draw = id;
        }
    }
    for (u32 index = 0; index < count; index++) {
        const struct settle_gridlock_payment *model =
            &settle->grid_payments[result->selected[index]];
        struct khorgos_payment *record = &settle->payments[settle->set[index]];
        for (u32 leg = model->leg_count; leg-- > 0;) {
            settle->grid_slot_draw[model->legs[leg].debtor] = 0;
            record->transfer_id_debit =
                settle_grid_move(settle, SETTLE_TRANSFER_PAYMENT_DEBIT, model->legs[leg].debtor,
                                 true, model->legs[leg].amount, record->id);
        }
    }
}

/* Books the selection as one linked chain and marks every payment settled; returns how many
 * (0 when the chain does not fit: everything stays queued). */
static u32 settle_grid_book(struct settle *settle, const struct settle_gridlock_result *result,
                            u64 timestamp) {
    u32 count = result->selected_count;
    u64 transfers = 0;
    for (u32 index = 0; index < count; index++) {
        transfers += 3ull * settle->grid_payments[result->selected[index]].leg_count;
    }
    if (count == 0 || transfers > U32_MAX || !settle_chain_capacity(settle, (u32)transfers)) {
        return 0;
    }
    for (u32 index = 0; index < count; index++) {
        u32 payment = settle->lsm_payment_index[result->selected[index]];
        settle->set[index] = payment;
        if (settle->payments[payment].state == KHORGOS_PAYMENT_QUEUED) {
            settle_queue_remove(settle, payment);
        }
        if (settle_fx_lsm_admitted(settle, payment)) settle_fx_lsm_take(settle, payment);
        ASSERT(settle->payments[payment].state == 0);
    }
    settle_grid_chain(settle, result, count);
    settle_chain_flush(settle);
    settle_set_settled(settle, count, timestamp);
    return count;
}

/* A resolution run over every currency's queues at once: load, choose, book. */
static u32 settle_resolve_all(struct settle *settle, u64 timestamp) {
    settle_fx_lsm_begin(settle);
    u32 slots = settle_grid_positions(settle);
    u32 payments = settle_grid_queues(settle, slots, timestamp);
    u32 settled = 0;
    if (payments > 0) {
        struct settle_gridlock_problem problem;
        settle_grid_problem(settle, slots, payments, &problem);
        struct settle_gridlock_result result;
        khorgos_error error = settle_gridlock_resolve(&settle->grid, &problem, &result);
        ASSERT(error == KHORGOS_ERROR_ok); /* the model is built valid */
        settled = settle_grid_book(settle, &result, timestamp);
    }
    settle_fx_lsm_end(settle); /* before the caller's retries, which price payments again */
    return settled;
}

/* A resolution run over one currency's queues (see "Releasing queues"): load, choose, book.
 * Returns the payments settled; the caller runs the retries after it. */
u32 settle_resolve(struct settle *settle, u32 currency, u64 timestamp) {
    ASSERT(currency < settle->currency_count);
    const struct settle_currency *entry = &settle->currencies[currency];
    if (!entry->day_open || entry->queue_mode == KHORGOS_QUEUE_MODE_NONE) return 0;
    u32 settled = 0;
    bool fresh = settle->grid_fresh && settle->grid_settled_mark == settle->payments_settled;
    if (!fresh) {
        settled = settle_resolve_all(settle, timestamp);
        settle->grid_runs++;
        settle->grid_fresh = 1;
        settle->grid_settled_mark = settle->payments_settled;
    }
    bool fifo = entry->queue_mode == KHORGOS_QUEUE_MODE_FIFO;
    settle_fx_lsm_begin(settle);
    settle_model_participants(settle, currency);
    u32 limits = settle_model_limits(settle, currency);
    u32 payments = 0;
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        u32 slot = settle_position_slot(settle, participant, currency);
        if (slot != SETTLE_NONE) {
            payments = settle_model_queue(settle, slot, fifo, payments, timestamp);
        }
    }
    if (payments == 0) {
        settle_fx_lsm_end(settle);
        return settled;
    }
    struct settle_lsm_problem problem;
    settle_model_problem(settle, currency, payments, limits, &problem);
    struct settle_lsm_result result;
    khorgos_error error = settle_lsm_resolve(&settle->lsm, &problem, &result);
    ASSERT(error == KHORGOS_ERROR_ok);
    settled += settle_book_selected(settle, currency, &result, SETTLE_NONE, timestamp);
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

/* ----------------------------------------------------------------------------------------- */
/* Offsetting on entry across currencies.                                                    */

/* The new payment with all its legs (grid_payments[0]) and, from the queues of the positions
 * its legs credit, the payments that pay back into it, in one model across currencies;
 * returns the payments settled (0 unless the selection holds the new payment, which is then
 * booked with the rest of the selection in one chain). */
static u32 settle_offset_across(struct settle *settle, u32 payment, u64 timestamp) {
    ASSERT(settle->payments[payment].state == 0);
    settle_fx_lsm_begin(settle);
    u32 slots = settle_grid_positions(settle);
    u32 settled = 0;
    if (settle_grid_payment(settle, payment, timestamp, &settle->grid_payments[0])) {
        settle->lsm_payment_index[0] = payment;
        u32 count = 1, legs = settle->grid_payments[0].leg_count;
        for (u32 leg = 0; leg < legs; leg++) {
            u32 slot = settle->grid_payments[0].legs[leg].creditor;
            const struct settle_currency *currency =
                &settle->currencies[settle->positions[slot].currency];
            if (!currency->day_open || currency->queue_mode == KHORGOS_QUEUE_MODE_NONE) continue;
            count = settle_grid_queue(settle, slot, count, timestamp, true);
        }
        struct settle_gridlock_problem problem;
        settle_grid_problem(settle, slots, count, &problem);
        struct settle_gridlock_result result;
        khorgos_error error = settle_gridlock_resolve(&settle->grid, &problem, &result);
        ASSERT(error == KHORGOS_ERROR_ok); /* the model is built valid */
        if (result.selected_count > 0 && result.selected[0] == 0) {
            settled = settle_grid_book(settle, &result, timestamp);
        }
    }
    settle_fx_lsm_end(settle);
    return settled;
}

/* Offsetting on entry of a same-currency payment, across currencies (header). Under fifo a
 * payment waiting behind its payer's queue is not offset. */
u32 settle_offset_on_entry(struct settle *settle, u32 payment, u64 timestamp) {
    ASSERT(settle->payments[payment].state == 0);
    u32 slot = settle->payment_payer_slot[payment];
    bool held = settle->currencies[settle->positions[slot].currency].queue_mode ==
                    KHORGOS_QUEUE_MODE_FIFO &&
                settle_queue_holds(settle, slot, settle->payments[payment].priority);
    return held ? 0 : settle_offset_across(settle, payment, timestamp);
}

/* Entering a gross cross-currency payment (settle_payments.c's table): alone, then offsetting
 * on entry across currencies when its source currency offsets, then its queue (settle_fx.c). */
u32 settle_offset_pvp_enter(struct settle *settle, u32 payment, u64 timestamp) {
    bool may_offset = false;
    u32 status = settle_fx_enter_try(settle, payment, timestamp, &may_offset);
    const struct khorgos_payment *record = &settle->payments[payment];
    if (record->state != 0) return status; /* settled alone, or rejected */
    const struct settle_currency *currency =
        &settle->currencies[settle->positions[settle->payment_payer_slot[payment]].currency];
    if (may_offset &&
        (currency->flags & KHORGOS_DAY_OFFSETTING_ON_ENTRY) != 0 &&
        settle_offset_across(settle, payment, timestamp) > 0) {
        return KHORGOS_SETTLE_settled;
    }
    return settle_fx_enter_queue(settle, payment, status);
}
