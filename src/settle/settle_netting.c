/*
 * settle_netting.c: deferred net settlement (DNS) windows, beside real-time
 * gross settlement, as CIPS runs them.
 *
 * Windows. Numbered from 1 (number = index + 1), at most SETTLE_WINDOW_COUNT_MAX. States
 * (Mojaloop's names) and who moves them:
 *     (open_window)        -> OPEN                 one at a time (else window_already_open)
 *     OPEN                 -> PENDING_SETTLEMENT   close_window, or its close_at timer; the
 *                                                  nets are computed (CLOSED is the instant of
 *                                                  that computation: never observed at rest)
 *     PENDING_SETTLEMENT   -> SETTLED              settle_window, its settle_after timer, or
 *                                                  unwind_window, when every net debit is
 *                                                  covered
 *     PENDING_SETTLEMENT   -> PENDING_SETTLEMENT   a settle attempt with someone short:
 *                                                  window_short, short_count and each
 *                                                  position's shortfall say who and how much
 *     OPEN, PENDING        -> ABORTED              abort_window: every payment rejected
 * A window opened with `interval` reopens itself: when its close_at timer closes it, the next
 * window opens at once, closing `interval` later (hourly netting on a journaled timer).
 *
 * Net payments (settlement = net in submit_payments). Valid, both days open, an OPEN window:
 * state in_window (status in_window), `window` = its number; otherwise rejected
 * (window_not_open when none is open). A cross-currency net payment is priced at entry with
 * the best live quote (settle_fx.c's rules; quote_unavailable or no_route: rejected), and
 * takes that room in the quotes; its legs (payer -> provider, [provider -> provider],
 * provider -> payee) enter the positions of their currencies. A window's payments are a list
 * through payment_next/prev (a net payment is never queued).
 *
 * Positions. For window W, participant p and currency c: sent = the legs p pays in c,
 * received = the legs it receives; net = sent - received. Per currency the nets sum to zero
 * (every leg is once sent and once received). p is short in c when its net debit exceeds its
 * liquidity (balance plus unused credit line) or it is suspended.
 *
 * Settling (all or none). Nothing moves unless every participant covers every net debit. Then,
 * per currency, one linked chain (cut at the ledger's batch, see settle.h "Booking model"):
 * first every net credit (clearing -> participant, code 3), then every net debit (with the
 * credit draw it needs; participant -> clearing, code 2), user_data_128 = the window number.
 * The clearing account is back at zero. Each payment is then settled; its legs count in the
 * gross statistics of get_positions (sent, received, bilateral positions); limits (net debit
 * caps, bilateral limits) are not applied to nets: the window is funded, not each payment.
 *
 * Unwind. All participants short in any currency are taken together: every payment of the
 * window with a leg to or from any of them is rejected (reason unwound, quote room given
 * back), the nets are recomputed and the rest settles; if someone else is then short, the
 * window stays pending (another unwind or an abort decides).
 *
 * Invariants: (1) exactly the OPEN window is window_open; (2) a payment is in_window iff it is
 * on the list of a window that is OPEN or PENDING_SETTLEMENT; (3) payment_count of an OPEN or
 * PENDING_SETTLEMENT window is the length of its list; a finished window's list is empty and
 * its payment_count says how many payments it settled (0 when aborted), so a lookup of a
 * settled window still answers how many payments went through it; (4) a window's nets per
 * currency sum to zero.
 */
#include "settle/settle_private.h"

#include <stdlib.h>

/* ----------------------------------------------------------------------------------------- */
/* Memory.                                                                                    */

khorgos_error settle_netting_init(struct settle *settle) {
    ASSERT(settle != NULL && settle->netting.windows == NULL);
    struct settle_netting *netting = &settle->netting;
    u32 slots = settle->config.participant_count_max * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
    ASSERT(slots > 0);
    netting->windows = calloc(SETTLE_WINDOW_COUNT_MAX, sizeof(*netting->windows));
    netting->slot_sent = calloc(slots, sizeof(u128));
    netting->slot_received = calloc(slots, sizeof(u128));
    netting->slot_sent_count = calloc(slots, sizeof(u32));
    netting->slot_received_count = calloc(slots, sizeof(u32));
    netting->slot_short = calloc(slots, sizeof(u8));
    if (netting->windows == NULL || netting->slot_sent == NULL ||
        netting->slot_received == NULL || netting->slot_sent_count == NULL ||
        netting->slot_received_count == NULL || netting->slot_short == NULL) {
        return KHORGOS_ERROR_out_of_memory;
    }
    return KHORGOS_ERROR_ok;
}

void settle_netting_deinit(struct settle *settle) {
    ASSERT(settle != NULL);
    struct settle_netting *netting = &settle->netting;
    ASSERT(netting->window_count <= SETTLE_WINDOW_COUNT_MAX);
    void *arrays[] = {netting->windows, netting->slot_sent, netting->slot_received,
                      netting->slot_sent_count, netting->slot_received_count,
                      netting->slot_short};
    for (u32 index = 0; index < ARRAY_COUNT(arrays); index++) free(arrays[index]);
    memset(netting, 0, sizeof(*netting));
}

#define SETTLE_WINDOW_STATE_LIVE(state)                                                       \
    ((state) == KHORGOS_WINDOW_OPEN || (state) == KHORGOS_WINDOW_PENDING_SETTLEMENT)

static struct settle_window_entry *settle_window(struct settle *settle, u32 number) {
    ASSERT(number >= 1 && number <= settle->netting.window_count);
    ASSERT(settle->netting.window_count <= SETTLE_WINDOW_COUNT_MAX);
    return &settle->netting.windows[number - 1];
}

/* ----------------------------------------------------------------------------------------- */
/* The window's payment list.                                                                 */

static void settle_window_append(struct settle *settle, struct settle_window_entry *window,
                                 u32 payment) {
    ASSERT(settle->payments[payment].state == 0);
    ASSERT(window->record.state == KHORGOS_WINDOW_OPEN);
    settle->payment_prev[payment] = window->tail;
    settle->payment_next[payment] = SETTLE_NONE;
    if (window->tail == SETTLE_NONE) window->head = payment;
    else settle->payment_next[window->tail] = payment;
    window->tail = payment;
    window->record.payment_count++;
    settle->payments[payment].state = KHORGOS_PAYMENT_IN_WINDOW;
    settle->payments[payment].window = window->record.number;
}

static void settle_window_remove(struct settle *settle, struct settle_window_entry *window,
                                 u32 payment) {
    ASSERT(settle->payments[payment].state == KHORGOS_PAYMENT_IN_WINDOW);
    ASSERT(window->record.payment_count > 0);
    u32 previous = settle->payment_prev[payment], next = settle->payment_next[payment];
    if (previous == SETTLE_NONE) window->head = next;
    else settle->payment_next[previous] = next;
    if (next == SETTLE_NONE) window->tail = previous;
    else settle->payment_prev[next] = previous;
    settle->payment_next[payment] = SETTLE_NONE;
    settle->payment_prev[payment] = SETTLE_NONE;
    window->record.payment_count--;
    settle->payments[payment].state = 0;
}

u32 settle_netting_enter(struct settle *settle, u32 payment, u64 timestamp) {
    struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(record->state == 0);
    ASSERT(record->settlement == KHORGOS_SETTLEMENT_NET);
    u32 status = KHORGOS_SETTLE_window_not_open;
    if (settle->netting.window_open != 0) {
        status = record->currency_target != 0 ? settle_fx_price_take(settle, payment, timestamp)
                                              : KHORGOS_SETTLE_ok;
    }
    if (status != KHORGOS_SETTLE_ok) {
        settle_payment_finish(settle, payment, KHORGOS_PAYMENT_REJECTED, status, timestamp);
        return status;
    }
    settle_window_append(settle, settle_window(settle, settle->netting.window_open), payment);
    record->reason = KHORGOS_SETTLE_in_window;
    return KHORGOS_SETTLE_in_window;
}

/* ----------------------------------------------------------------------------------------- */
/* Positions.                                                                                 */

/* Computes the window's gross sent/received per slot and who is short; returns the number of
 * short slots. */
static u32 settle_window_compute(struct settle *settle, const struct settle_window_entry *window) {
    ASSERT(window != NULL);
    ASSERT(window->record.number >= 1 && window->record.number <= settle->netting.window_count);
    struct settle_netting *netting = &settle->netting;
    u32 slots = settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
    memset(netting->slot_sent, 0, slots * sizeof(u128));
    memset(netting->slot_received, 0, slots * sizeof(u128));
    memset(netting->slot_sent_count, 0, slots * sizeof(u32));
    memset(netting->slot_received_count, 0, slots * sizeof(u32));
    memset(netting->slot_short, 0, slots * sizeof(u8));
    /* A live window's payments are its list; a settled one's, the payments settled in it (a
     * query's scan of all payments). */
    bool live = window->record.state != KHORGOS_WINDOW_SETTLED;
    u32 at = live ? window->head : 0;
    for (; live ? at != SETTLE_NONE : at < settle->payment_count;
         at = live ? settle->payment_next[at] : at + 1) {
        const struct khorgos_payment *record = &settle->payments[at];
        if (!live && (record->window != window->record.number ||
                      record->state != KHORGOS_PAYMENT_SETTLED)) {
            continue;
        }
        struct settle_fx_leg legs[SETTLE_FX_LEG_COUNT_MAX];
        u32 count = settle_payment_legs(settle, at, legs);
        for (u32 index = 0; index < count; index++) {
            netting->slot_sent[legs[index].debtor_slot] += legs[index].amount;
            netting->slot_sent_count[legs[index].debtor_slot]++;
            netting->slot_received[legs[index].creditor_slot] += legs[index].amount;
            netting->slot_received_count[legs[index].creditor_slot]++;
        }
    }
    u32 short_count = 0;
    for (u32 slot = 0; live && slot < slots; slot++) { /* settled: nobody was short */
        if (netting->slot_sent[slot] <= netting->slot_received[slot]) continue;
        u128 debit = netting->slot_sent[slot] - netting->slot_received[slot];
        u32 participant = slot / KHORGOS_PARTICIPANT_CURRENCIES_MAX;
        bool suspended =
            (settle->participants[participant].record.flags & KHORGOS_PARTICIPANT_SUSPENDED) != 0;
        if (suspended || debit > settle_liquidity(settle, slot)) {
            netting->slot_short[slot] = 1;
            short_count++;
        }
    }
    return short_count;
}

static void settle_window_position_write(const struct settle *settle, u32 slot, u32 number,
                                         struct khorgos_window_position *out) {
    ASSERT(number >= 1 && number <= settle->netting.window_count);
    const struct settle_netting *netting = &settle->netting;
    const struct settle_position *position = &settle->positions[slot];
    ASSERT(position->in_use);
    memset(out, 0, sizeof(*out));
    memcpy(out->bic, settle->participants[position->participant].record.bic, KHORGOS_BIC_BYTES);
    out->currency = settle->currencies[position->currency].numeric;
    out->window = number;
    out->sent = netting->slot_sent[slot];
    out->received = netting->slot_received[slot];
    out->sent_count = netting->slot_sent_count[slot];
    out->received_count = netting->slot_received_count[slot];
    out->net_debit = out->sent > out->received ? out->sent - out->received : 0;
    out->net_credit = out->received > out->sent ? out->received - out->sent : 0;
    out->short_flag = netting->slot_short[slot];
    if (out->short_flag) {
        u128 liquidity = settle_liquidity(settle, slot);
        out->shortfall = out->net_debit > liquidity ? out->net_debit - liquidity : out->net_debit;
    }
}

u32 settle_netting_get_positions(struct settle *settle, const struct khorgos_window_filter *filter,
                                 struct khorgos_window_position *out, u32 count_max) {
    ASSERT(count_max > 0);
    ASSERT(settle != NULL && filter != NULL && out != NULL);
    if (filter->window == 0 || filter->window > settle->netting.window_count) return 0;
    u32 participant_only = SETTLE_NONE, currency_only = SETTLE_NONE;
    if (filter->bic[0] != '\0') {
        char bic[KHORGOS_BIC_BYTES];
        memcpy(bic, filter->bic, KHORGOS_BIC_BYTES);
        if (!settle_bic_normalize(bic)) return 0;
        participant_only = settle_participant_find(settle, bic);
        if (participant_only == SETTLE_NONE) return 0;
    }
    if (filter->currency != 0) {
        currency_only = settle_currency_find(settle, filter->currency);
        if (currency_only == SETTLE_NONE) return 0;
    }
    settle_window_compute(settle, settle_window(settle, filter->window));
    u32 limit = filter->limit == 0 ? count_max : MIN(filter->limit, count_max);
    u32 written = 0;
    u32 slots = settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
    for (u32 slot = 0; slot < slots && written < limit; slot++) {
        const struct settle_position *position = &settle->positions[slot];
        if (!position->in_use) continue;
        if (settle->netting.slot_sent_count[slot] == 0 &&
            settle->netting.slot_received_count[slot] == 0) {
            continue;
        }
        if (participant_only != SETTLE_NONE && position->participant != participant_only) continue;
        if (currency_only != SETTLE_NONE && position->currency != currency_only) continue;
        settle_window_position_write(settle, slot, filter->window, &out[written++]);
    }
    return written;
}

/* ----------------------------------------------------------------------------------------- */
/* Settling, unwinding, aborting.                                                             */

/* Books the computed nets (all covered) and settles the window's payments. */
static void settle_window_book(struct settle *settle, struct settle_window_entry *window,
                               u64 timestamp) {
    struct settle_netting *netting = &settle->netting;
    u32 slots = settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
    ASSERT(settle->chain_count == 0);
    for (u32 currency = 0; currency < settle->currency_count; currency++) {
        const struct settle_currency *entry = &settle->currencies[currency];
        for (u32 pass = 0; pass < 2; pass++) { /* net credits, then net debits */
            for (u32 slot = 0; slot < slots; slot++) {
                const struct settle_position *position = &settle->positions[slot];
                if (!position->in_use || position->currency != currency) continue;
                u128 sent = netting->slot_sent[slot], received = netting->slot_received[slot];
                if (pass == 0 && received > sent) {
                    settle_chain_add(
                        settle, SETTLE_TRANSFER_PAYMENT_CREDIT,
                        settle_transfer_id_next(settle, SETTLE_TRANSFER_PAYMENT_CREDIT),
                        entry->clearing_account_id, position->settlement_account_id,
                        received - sent, entry->numeric, window->record.number);
                } else if (pass == 1 && sent > received) {
                    settle_credit_cover(settle, slot, sent - received);
                    settle_chain_add(settle, SETTLE_TRANSFER_PAYMENT_DEBIT,
                                     settle_transfer_id_next(settle, SETTLE_TRANSFER_PAYMENT_DEBIT),
                                     position->settlement_account_id, entry->clearing_account_id,
                                     sent - received, entry->numeric, window->record.number);
                }
            }
        }
        settle_chain_flush(settle);
    }
    u32 settled_count = window->record.payment_count; /* every payment on the list settles */
    while (window->head != SETTLE_NONE) {
        u32 payment = window->head;
        struct settle_fx_leg legs[SETTLE_FX_LEG_COUNT_MAX];
        u32 count = settle_payment_legs(settle, payment, legs);
        settle_window_remove(settle, window, payment);
        for (u32 index = 0; index < count; index++) settle_fx_leg_settled(settle, &legs[index]);
        settle_payment_mark_settled(settle, payment, KHORGOS_SETTLED_IN_WINDOW, timestamp);
    }
    ASSERT(window->record.payment_count == 0);
    window->record.payment_count = settled_count; /* invariant 3: a finished window's count */
}

static void settle_window_finish(struct settle *settle, struct settle_window_entry *window,
                                 u8 state, u32 reason, u64 timestamp) {
    ASSERT(state == KHORGOS_WINDOW_SETTLED || state == KHORGOS_WINDOW_ABORTED);
    ASSERT(window->head == SETTLE_NONE);
    window->record.state = state;
    window->record.reason = reason;
    window->record.finished_at = timestamp;
    window->record.short_count = 0;
    window->settle_due = 0;
    if (settle->netting.window_open == window->record.number) settle->netting.window_open = 0;
    const struct settle_window_entry *windows = settle->netting.windows;
    while (settle->netting.window_unfinished < settle->netting.window_count &&
           !SETTLE_WINDOW_STATE_LIVE(windows[settle->netting.window_unfinished].record.state)) {
        settle->netting.window_unfinished++;
    }
}

/* Settles the pending window if nobody is short: ok, or window_short (nothing moves). */
static u32 settle_window_settle(struct settle *settle, struct settle_window_entry *window,
                                u64 timestamp) {
    ASSERT(settle->chain_count == 0);
    ASSERT(window->record.state == KHORGOS_WINDOW_PENDING_SETTLEMENT);
    u32 short_count = settle_window_compute(settle, window);
    window->record.short_count = short_count;
    if (short_count > 0) {
        window->record.reason = KHORGOS_SETTLE_window_short;
        return KHORGOS_SETTLE_window_short;
    }
    /* Transfers it books: one per net credit, a net debit and its possible credit draw; one
     * ledger call per currency, so the per-call check is of the largest currency's. */
    u32 slots = settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
    u32 per_currency[SETTLE_CURRENCY_COUNT_MAX] = {0};
    u32 transfers = 0, largest = 0;
    for (u32 slot = 0; slot < slots; slot++) {
        if (!settle->positions[slot].in_use) continue;
        u128 sent = settle->netting.slot_sent[slot], received = settle->netting.slot_received[slot];
        u32 count = sent > received ? 2 : received > sent ? 1 : 0;
        per_currency[settle->positions[slot].currency] += count;
        largest = MAX(largest, per_currency[settle->positions[slot].currency]);
        transfers += count;
    }
    ASSERT(transfers <= 2 * slots && largest <= transfers);
    const struct ledger *ledger = settle->ledger;
    if (!settle_chain_capacity(settle, largest) ||
        (u64)ledger->transfer_count + transfers > ledger->config.transfer_count_max) {
        return KHORGOS_SETTLE_capacity_full;
    }
    settle_window_book(settle, window, timestamp);
    settle_window_finish(settle, window, KHORGOS_WINDOW_SETTLED, KHORGOS_SETTLE_settled, timestamp);
    return KHORGOS_SETTLE_ok;
}

/* Rejects one payment of the window (its quote room returned). */
static void settle_window_drop(struct settle *settle, struct settle_window_entry *window,
                               u32 payment, u32 reason, u64 timestamp) {
    ASSERT(reason == KHORGOS_SETTLE_unwound || reason == KHORGOS_SETTLE_aborted);
    ASSERT(settle->payments[payment].window == window->record.number);
    settle_window_remove(settle, window, payment);
    if (settle->payments[payment].route != KHORGOS_ROUTE_NONE) {
        settle_fx_price_release(settle, payment);
    }
    settle_payment_finish(settle, payment, KHORGOS_PAYMENT_REJECTED, reason, timestamp);
}

static u32 settle_window_unwind(struct settle *settle, struct settle_window_entry *window,
                                u64 timestamp) {
    ASSERT(settle->chain_count == 0);
    ASSERT(window->record.state == KHORGOS_WINDOW_PENDING_SETTLEMENT);
    if (settle_window_compute(settle, window) == 0) {
        return settle_window_settle(settle, window, timestamp);
    }
    const u8 *slot_short = settle->netting.slot_short;
    u32 at = window->head;
    while (at != SETTLE_NONE) {
        u32 next = settle->payment_next[at];
        struct settle_fx_leg legs[SETTLE_FX_LEG_COUNT_MAX];
        u32 count = settle_payment_legs(settle, at, legs);
        bool touches = false;
        for (u32 index = 0; index < count && !touches; index++) {
            u32 debtor = legs[index].debtor_slot / KHORGOS_PARTICIPANT_CURRENCIES_MAX;
            u32 creditor = legs[index].creditor_slot / KHORGOS_PARTICIPANT_CURRENCIES_MAX;
            for (u32 k = 0; k < KHORGOS_PARTICIPANT_CURRENCIES_MAX && !touches; k++) {
                touches = slot_short[debtor * KHORGOS_PARTICIPANT_CURRENCIES_MAX + k] ||
                          slot_short[creditor * KHORGOS_PARTICIPANT_CURRENCIES_MAX + k];
            }
        }
        if (touches) {
            settle_window_drop(settle, window, at, KHORGOS_SETTLE_unwound, timestamp);
            window->record.unwound_count++;
        }
        at = next;
    }
    return settle_window_settle(settle, window, timestamp);
}

static void settle_window_abort(struct settle *settle, struct settle_window_entry *window,
                                u64 timestamp) {
    ASSERT(timestamp > 0);
    ASSERT(SETTLE_WINDOW_STATE_LIVE(window->record.state));
    while (window->head != SETTLE_NONE) {
        settle_window_drop(settle, window, window->head, KHORGOS_SETTLE_aborted, timestamp);
    }
    settle_window_finish(settle, window, KHORGOS_WINDOW_ABORTED, KHORGOS_SETTLE_aborted, timestamp);
}

/* ----------------------------------------------------------------------------------------- */
/* Opening and closing.                                                                       */

static u32 settle_window_open(struct settle *settle, u64 timestamp, u64 close_at,
                              u64 settle_after, u64 interval) {
    ASSERT(close_at == 0 || close_at > timestamp);
    struct settle_netting *netting = &settle->netting;
    ASSERT(netting->window_open == 0);
    if (netting->window_count == SETTLE_WINDOW_COUNT_MAX) return KHORGOS_SETTLE_capacity_full;
    u32 number = ++netting->window_count;
    struct settle_window_entry *window = settle_window(settle, number);
    *window = (struct settle_window_entry){.head = SETTLE_NONE, .tail = SETTLE_NONE};
    window->record.number = number;
    window->record.state = KHORGOS_WINDOW_OPEN;
    window->record.opened_at = timestamp;
    window->record.close_at = close_at;
    window->record.settle_after = settle_after;
    window->record.interval = interval;
    netting->window_open = number;
    return KHORGOS_SETTLE_ok;
}

static void settle_window_close(struct settle *settle, struct settle_window_entry *window,
                                u64 timestamp) {
    ASSERT(window->record.state == KHORGOS_WINDOW_OPEN);
    ASSERT(settle->netting.window_open == window->record.number);
    window->record.state = KHORGOS_WINDOW_CLOSED;
    window->record.closed_at = timestamp;
    settle->netting.window_open = 0;
    window->record.short_count = settle_window_compute(settle, window);
    window->record.state = KHORGOS_WINDOW_PENDING_SETTLEMENT;
    if (window->record.settle_after != 0) {
        window->settle_due = timestamp + window->record.settle_after;
    }
}

/* The window an event names: its number, or the open one when 0; NULL when none. */
static struct settle_window_entry *settle_window_named(struct settle *settle, u32 number) {
    ASSERT(settle->netting.window_open <= settle->netting.window_count);
    ASSERT(settle->netting.window_count <= SETTLE_WINDOW_COUNT_MAX);
    if (number == 0) number = settle->netting.window_open;
    if (number == 0 || number > settle->netting.window_count) return NULL;
    return settle_window(settle, number);
}

/* One event of open, close, settle, unwind or abort window (its request id, retries and count:
 * settle_apply.c). */
u32 settle_netting_window_event_one(struct settle *settle, u32 operation, const void *body,
                                    u64 timestamp) {
    const struct khorgos_window *event = body;
    ASSERT(operation >= KHORGOS_OPERATION_OPEN_WINDOW);
    ASSERT(operation <= KHORGOS_OPERATION_ABORT_WINDOW);
    ASSERT(settle->timestamp_cursor > timestamp); /* the event's own timestamp was taken */
    ASSERT(event->id != 0);
    static const u8 zero[sizeof(struct khorgos_window)];
    size_t out = offsetof(struct khorgos_window, opened_at);
    size_t out_end = offsetof(struct khorgos_window, interval);
    if (event->state != 0 || memcmp(event->reserved, zero, sizeof(event->reserved)) != 0 ||
        memcmp((const u8 *)event + out, zero, out_end - out) != 0) {
        return KHORGOS_SETTLE_reserved_field;
    }
    if (operation == KHORGOS_OPERATION_OPEN_WINDOW) {
        if (event->number != 0) return KHORGOS_SETTLE_reserved_field;
        if (settle->netting.window_open != 0) return KHORGOS_SETTLE_window_already_open;
        if ((event->close_at != 0 && event->close_at <= timestamp) ||
            (event->interval != 0 && event->close_at == 0)) {
            return KHORGOS_SETTLE_timer_invalid;
        }
        return settle_window_open(settle, timestamp, event->close_at, event->settle_after,
                                  event->interval);
    }
    if (event->close_at != 0 || event->settle_after != 0 || event->interval != 0) {
        return KHORGOS_SETTLE_reserved_field;
    }
    struct settle_window_entry *window = settle_window_named(settle, event->number);
    if (window == NULL) return KHORGOS_SETTLE_window_not_found;
    u8 state = window->record.state;
    switch (operation) {
    case KHORGOS_OPERATION_CLOSE_WINDOW:
        if (state != KHORGOS_WINDOW_OPEN) return KHORGOS_SETTLE_window_state_invalid;
        settle_window_close(settle, window, timestamp);
        return KHORGOS_SETTLE_ok;
    case KHORGOS_OPERATION_SETTLE_WINDOW:
        if (state != KHORGOS_WINDOW_PENDING_SETTLEMENT) return KHORGOS_SETTLE_window_state_invalid;
        return settle_window_settle(settle, window, timestamp);
    case KHORGOS_OPERATION_UNWIND_WINDOW:
        if (state != KHORGOS_WINDOW_PENDING_SETTLEMENT) return KHORGOS_SETTLE_window_state_invalid;
        return settle_window_unwind(settle, window, timestamp);
    case KHORGOS_OPERATION_ABORT_WINDOW:
        if (!SETTLE_WINDOW_STATE_LIVE(state)) return KHORGOS_SETTLE_window_state_invalid;
        settle_window_abort(settle, window, timestamp);
        return KHORGOS_SETTLE_ok;
    default: ASSERT(false && "not a window operation");
    }
    return KHORGOS_SETTLE_ok;
}


u32 settle_netting_lookup_windows(const struct settle *settle, const struct khorgos_window *events,
                                  u32 count, struct khorgos_window *out) {
    ASSERT(settle != NULL);
    ASSERT(count == 0 || (events != NULL && out != NULL));
    u32 written = 0;
    for (u32 index = 0; index < count; index++) {
        u32 number = events[index].number;
        if (number >= 1 && number <= settle->netting.window_count) {
            out[written++] = settle->netting.windows[number - 1].record;
        }
    }
    return written;
}

/* ----------------------------------------------------------------------------------------- */
/* Timers.                                                                                    */

u64 settle_netting_timer_next(const struct settle *settle) {
    ASSERT(settle != NULL);
    const struct settle_netting *netting = &settle->netting;
    ASSERT(netting->window_unfinished <= netting->window_count);
    u64 next = 0;
    for (u32 index = netting->window_unfinished; index < netting->window_count; index++) {
        const struct settle_window_entry *window = &netting->windows[index];
        u64 due = 0;
        if (window->record.state == KHORGOS_WINDOW_OPEN) due = window->record.close_at;
        if (window->record.state == KHORGOS_WINDOW_PENDING_SETTLEMENT) due = window->settle_due;
        if (due != 0 && (next == 0 || due < next)) next = due;
    }
    return next;
}

void settle_netting_pulse(struct settle *settle, u64 timestamp) {
    struct settle_netting *netting = &settle->netting;
    ASSERT(timestamp > 0);
    while (netting->window_open != 0) {
        struct settle_window_entry *window = settle_window(settle, netting->window_open);
        u64 close_at = window->record.close_at;
        if (close_at == 0 || close_at > timestamp) break;
        settle_window_close(settle, window, timestamp);
        if (window->record.interval == 0) break;
        u64 interval = window->record.interval;
        /* The next close on the window's grid (close_at + k * interval) after now: a clock
         * that jumped past several intervals (a pause, a long idle stretch) skips the ones
         * missed rather than opening a window already due. */
        u64 next_close_at = close_at + interval;
        if (next_close_at <= timestamp) {
            next_close_at += ((timestamp - next_close_at) / interval + 1) * interval;
        }
        ASSERT(next_close_at > timestamp && next_close_at - timestamp <= interval);
        if (settle_window_open(settle, timestamp, next_close_at, window->record.settle_after,
                               interval) != KHORGOS_SETTLE_ok) {
            break; /* no room for another window: netting stops until some is freed */
        }
    }
    for (u32 index = netting->window_unfinished; index < netting->window_count; index++) {
        struct settle_window_entry *window = &netting->windows[index];
        if (window->record.state != KHORGOS_WINDOW_PENDING_SETTLEMENT) continue;
        if (window->settle_due == 0 || window->settle_due > timestamp) continue;
        window->settle_due = 0; /* one attempt; a short window then waits for a request */
        settle_window_settle(settle, window, timestamp);
    }
    ASSERT(settle_netting_timer_next(settle) == 0 || settle_netting_timer_next(settle) > timestamp);
}

/* ----------------------------------------------------------------------------------------- */
/* Invariants.                                                                                */

bool settle_netting_check(const struct settle *settle) {
    ASSERT(settle != NULL);
    const struct settle_netting *netting = &settle->netting;
    ASSERT(netting->window_count <= SETTLE_WINDOW_COUNT_MAX);
    u32 open = 0, in_lists = 0;
    for (u32 index = 0; index < netting->window_count; index++) {
        const struct settle_window_entry *window = &netting->windows[index];
        if (window->record.number != index + 1) return false;
        if (window->record.state == KHORGOS_WINDOW_OPEN) {
            open++;
            if (netting->window_open != index + 1) return false;
        }
        u32 length = 0;
        /* The list may come from a damaged snapshot: every link is in range, and a list longer
         * than the payments has a cycle. */
        for (u32 at = window->head; at != SETTLE_NONE; at = settle->payment_next[at]) {
            if (at >= settle->payment_count || length >= settle->payment_count) return false;
            const struct khorgos_payment *record = &settle->payments[at];
            if (record->state != KHORGOS_PAYMENT_IN_WINDOW || record->window != index + 1) {
                return false;
            }
            length++;
        }
        if (SETTLE_WINDOW_STATE_LIVE(window->record.state)
                ? length != window->record.payment_count
                : length > 0 || (window->record.state == KHORGOS_WINDOW_ABORTED &&
                                 window->record.payment_count > 0)) {
            return false;
        }
        in_lists += length;
    }
    if (open > 1 || (open == 0 && netting->window_open != 0)) return false;
    u32 in_window = 0;
    for (u32 payment = 0; payment < settle->payment_count; payment++) {
        in_window += settle->payments[payment].state == KHORGOS_PAYMENT_IN_WINDOW;
    }
    return in_window == in_lists;
}

/* ----------------------------------------------------------------------------------------- */
/* Snapshot: the windows' part of the settle section (its layout: settle_snapshot.c).        */

void settle_netting_snapshot_emit(const struct settle *settle, settle_snapshot_put put,
                                  void *context) {
    const struct settle_netting *netting = &settle->netting;
    ASSERT(put != NULL);
    ASSERT(netting->window_count <= SETTLE_WINDOW_COUNT_MAX);
    put(context, netting->windows, (u64)netting->window_count * sizeof(*netting->windows));
}

/* Reads the windows of a section whose counts (checked by the caller) said `count`, `open`
 * and `unfinished` (ok, or the error of `get`). */
khorgos_error settle_netting_snapshot_read(struct settle *settle, u32 count, u32 open,
                                           u32 unfinished, settle_snapshot_get get, void *context) {
    struct settle_netting *netting = &settle->netting;
    ASSERT(get != NULL);
    ASSERT(netting->window_count == 0);
    ASSERT(count <= SETTLE_WINDOW_COUNT_MAX && open <= count && unfinished <= count);
    netting->window_count = count;
    netting->window_open = open;
    netting->window_unfinished = unfinished;
    return get(context, netting->windows, (u64)count * sizeof(*netting->windows));
}
