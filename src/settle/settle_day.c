/*
 * settle_day.c: the business day of each currency, its timers and its figures.
 *
 * States of a currency: closed (never opened, or after close_day) -> open (open_day) -> closed
 * (close_day). open_day takes the day's settings: date (must advance, and not be a holiday),
 * the two cut-offs (customer, interbank: absolute timestamps after the open, 0 = none; the
 * customer one not after the interbank one), the queue mode, the liquidity-saving switches
 * and the resolution interval. Opening resets the day's figures of every position in the
 * currency (opening balance, sent, received, rejected, credit used and repaid) and the
 * positions of its bilateral limits, then enters the payments waiting for this value date, in
 * arrival order. A waiting payment whose value date was skipped without being declared a
 * holiday (the operator opened a later date) enters on the first day opened after it: the
 * calendar is what makes a date a non-business day.
 *
 * Timers (fired by the settle pulse of settle_apply.c, the internal SETTLE_PULSE request, see
 * settle.h):
 *   cut-off     once per day and type: every queued payment of that type is rejected with
 *               after_cut_off (TM01); later submissions of the type are rejected the same way;
 *   resolution  when KHORGOS_DAY_RESOLUTION_ON_TIMER: a gridlock resolution, then the next
 *               is set one interval after the pulse's timestamp;
 *   settle-by   a min-heap of (settle_by, payment); a payment still queued then is rejected
 *               with settle_by_passed (TM01). Entries of payments that left the queue are
 *               dropped when they reach the top.
 *
 * close_day rejects what is still queued (day_closed, TM01), repays intraday credit from each
 * balance (settlement -> credit account, one chain) and reports the rest as overnight credit.
 * open_day also records opened_at (its timestamp): the limits' positions count from it
 * (settle_participants.c, settle_limit_position_today).
 *
 * The calendar (set_holidays, struct khorgos_holiday: id, currency, date, flags REMOVE). Each
 * currency in use has its holidays, a sorted array of at most SETTLE_HOLIDAY_COUNT_MAX dates
 * in settle.holidays (settle.h), carried by the snapshot (settle_snapshot.c, version 3) and so
 * by settle_digest. The rules, as a central bank's RTGS applies them (TARGET2's calendar):
 *   1. open_day on a holiday of its currency is refused, day_is_holiday, and changes nothing;
 *      the calendar does not move the date: the operator opens the next business day.
 *   2. a payment whose value date is a holiday of its currency is rejected at submission with
 *      value_date_holiday (ISO 20022 has no code for it; DT01 "invalid date" is given), never
 *      moved to the next business day; a cross-currency (PvP or net) payment is rejected so
 *      when its value date (given, or its source currency's business day) is a holiday of
 *      either currency (settle_fx.c, settle_fx_day_status);
 *   3. a holiday added for a date some payments are waiting for rejects them at once, with
 *      value_date_holiday: that day will not open, and their senders learn it now;
 *   4. a holiday must be a future day of the currency: today's open business day is refused
 *      (holiday_on_open_day), a day before or equal to its last business day is date_invalid;
 *      so every holiday is after the currency's date (settle_check), and open_day drops those
 *      the new date passed, keeping the table for the future;
 *   5. bad input changes nothing and is named: reserved_field (reserved bytes, unknown flags),
 *      currency_invalid (not ISO 4217) or currency_not_held (no participant holds it yet: a
 *      calendar belongs to a currency in use), date_invalid (not a calendar date, or past),
 *      holiday_exists (adding one twice), holiday_not_found (removing one not there),
 *      capacity_full (SETTLE_HOLIDAY_COUNT_MAX reached);
 *   6. each event carries a request id (settle_request_begin): a retry gets the first answer,
 *      flagged retry, and changes nothing; the id with other fields: exists_with_different_fields.
 * Weekends are not implied: a currency that closes on Saturdays and Sundays lists them.
 */
#include "settle/settle_private.h"

/* ----------------------------------------------------------------------------------------- */
/* Rejecting queued payments.                                                                 */

/* Rejects the currency's queued payments of `type` (or of any type when type > 1). */
static void settle_reject_queued(struct settle *settle, u32 currency, u32 type, u32 reason,
                                 u64 timestamp) {
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        u32 slot = settle_position_slot(settle, participant, currency);
        if (slot == SETTLE_NONE) continue;
        bool rejected = false;
        for (u32 priority = 0; priority < KHORGOS_PRIORITY_COUNT; priority++) {
            u32 at = settle->positions[slot].queue_head[priority];
            while (at != SETTLE_NONE) {
                u32 next = settle->payment_next[at];
                if (type > KHORGOS_PAYMENT_INTERBANK || settle->payments[at].type == type) {
                    settle_payment_finish(settle, at, KHORGOS_PAYMENT_REJECTED, reason, timestamp);
                    rejected = true;
                }
                at = next;
            }
        }
        if (rejected) settle_retry_add(settle, slot); /* what they held may go now */
    }
}

/* Whether one of the currency's cut-offs falls due at `timestamp` (settle_day_cut_offs will
 * pass it) while the currency resolves on its timer: then a resolution runs just before. */
bool settle_day_cut_off_due(const struct settle *settle, u32 currency, u64 timestamp) {
    ASSERT(currency < settle->currency_count);
    const struct settle_currency *entry = &settle->currencies[currency];
    ASSERT(entry->day_open);
    if ((entry->flags & KHORGOS_DAY_RESOLUTION_ON_TIMER) == 0) return false;
    return (entry->cut_off_customer != 0 && !entry->cut_off_customer_passed &&
            entry->cut_off_customer <= timestamp) ||
           (entry->cut_off_interbank != 0 && !entry->cut_off_interbank_passed &&
            entry->cut_off_interbank <= timestamp);
}

void settle_day_cut_offs(struct settle *settle, u32 currency, u64 timestamp) {
    struct settle_currency *entry = &settle->currencies[currency];
    if (entry->cut_off_customer != 0 && !entry->cut_off_customer_passed &&
        entry->cut_off_customer <= timestamp) {
        entry->cut_off_customer_passed = true;
        settle_reject_queued(settle, currency, KHORGOS_PAYMENT_CUSTOMER,
                             KHORGOS_SETTLE_after_cut_off, timestamp);
    }
    if (entry->cut_off_interbank != 0 && !entry->cut_off_interbank_passed &&
        entry->cut_off_interbank <= timestamp) {
        entry->cut_off_interbank_passed = true;
        settle_reject_queued(settle, currency, KHORGOS_PAYMENT_INTERBANK,
                             KHORGOS_SETTLE_after_cut_off, timestamp);
    }
}

/* The settle-by timers due at `timestamp`: each payment still queued then is rejected. */
void settle_day_settle_by(struct settle *settle, u64 timestamp) {
    ASSERT(settle != NULL);
    ASSERT(timestamp > 0);
    while (settle->timer_count > 0 && settle->timers[0].due <= timestamp) {
        u32 payment = settle->timers[0].payment;
        settle_timer_pop(settle);
        const struct khorgos_payment *record = &settle->payments[payment];
        if (record->state == KHORGOS_PAYMENT_QUEUED && record->settle_by <= timestamp) {
            u32 slot = settle->payment_payer_slot[payment];
            settle_payment_finish(settle, payment, KHORGOS_PAYMENT_REJECTED,
                                  KHORGOS_SETTLE_settle_by_passed, timestamp);
            settle_retry_add(settle, slot);
        }
    }
}

/* Whether the currency's timed resolution is due at `timestamp`; then the next is set one
 * interval later, and the caller resolves. */
bool settle_day_resolution_due(struct settle *settle, u32 currency, u64 timestamp) {
    ASSERT(currency < settle->currency_count);
    struct settle_currency *entry = &settle->currencies[currency];
    ASSERT(entry->day_open);
    if ((entry->flags & KHORGOS_DAY_RESOLUTION_ON_TIMER) == 0 || entry->resolution_next == 0 ||
        entry->resolution_next > timestamp) {
        return false;
    }
    entry->resolution_next = timestamp + entry->resolution_interval;
    return true;
}

/* ----------------------------------------------------------------------------------------- */
/* open_day, close_day.                                                                       */

static u32 settle_open_status(const struct settle *settle, const struct khorgos_business_day *event,
                              u64 timestamp, u32 *currency) {
    static const u8 zero[sizeof(event->reserved)];
    if (memcmp(event->reserved, zero, sizeof(zero)) != 0 ||
        (event->flags & ~(u32)(KHORGOS_DAY_OFFSETTING_ON_ENTRY | KHORGOS_DAY_RESOLUTION_ON_REQUEST |
                               KHORGOS_DAY_RESOLUTION_ON_TIMER)) != 0) {
        return KHORGOS_SETTLE_reserved_field;
    }
    *currency = settle_currency_find(settle, event->currency);
    if (*currency == SETTLE_NONE) return KHORGOS_SETTLE_currency_invalid;
    const struct settle_currency *entry = &settle->currencies[*currency];
    if (entry->day_open) return KHORGOS_SETTLE_day_already_open;
    if (!settle_date_valid(event->date) || event->date <= entry->date) {
        return KHORGOS_SETTLE_date_invalid;
    }
    if (settle_holiday_is(settle, *currency, event->date)) return KHORGOS_SETTLE_day_is_holiday;
    if (event->queue_mode < KHORGOS_QUEUE_MODE_NONE ||
        event->queue_mode > KHORGOS_QUEUE_MODE_BYPASS_FIFO) {
        return KHORGOS_SETTLE_queue_mode_invalid;
    }
    if ((event->cut_off_customer != 0 && event->cut_off_customer <= timestamp) ||
        (event->cut_off_interbank != 0 && event->cut_off_interbank <= timestamp)) {
        return KHORGOS_SETTLE_cut_off_invalid;
    }
    /* Customer payments close first (TARGET2: 17:00 and 18:00), so banks can still settle
     * among themselves what their customers' payments left them. */
    if (event->cut_off_customer != 0 && event->cut_off_interbank != 0 &&
        event->cut_off_customer > event->cut_off_interbank) {
        return KHORGOS_SETTLE_cut_off_invalid;
    }
    bool timer = (event->flags & KHORGOS_DAY_RESOLUTION_ON_TIMER) != 0;
    if (timer != (event->resolution_interval != 0)) return KHORGOS_SETTLE_cut_off_invalid;
    if (event->resolution_interval > U64_MAX - timestamp) return KHORGOS_SETTLE_cut_off_invalid;
    return KHORGOS_SETTLE_ok;
}

static void settle_day_reset(struct settle *settle, u32 currency) {
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        u32 slot = settle_position_slot(settle, participant, currency);
        if (slot == SETTLE_NONE) continue;
        struct settle_position *position = &settle->positions[slot];
        position->opening_balance = settle_balance(settle, slot);
        position->closing_balance = 0;
        position->sent = position->received = 0;
        position->rejected_value = 0;
        position->sent_count = position->received_count = position->rejected_count = 0;
        position->credit_used = position->credit_outstanding;
        position->credit_repaid = 0;
        position->overnight_credit = 0;
    }
    for (u32 index = 0; index < settle->limit_count; index++) {
        if (settle->positions[settle->limits[index].position_slot].currency == currency) {
            settle->limits[index].position = 0;
        }
    }
}

/* ----------------------------------------------------------------------------------------- */
/* The calendar (set_holidays).                                                               */

/* Drops the holidays before the day just opened: they can no longer matter (dates advance),
 * and the table's room is for the future. */
static void settle_holidays_drop_past(struct settle *settle, u32 currency) {
    struct settle_currency *entry = &settle->currencies[currency];
    ASSERT(entry->day_open && entry->date != 0);
    u32 past = settle_holiday_lower_bound(settle, currency, entry->date);
    ASSERT(past == entry->holiday_count ||
           settle_holidays_of(settle, currency)[past] > entry->date);
    if (past == 0) return;
    u32 *dates = settle_holidays_of(settle, currency);
    memmove(dates, dates + past, (size_t)(entry->holiday_count - past) * sizeof(u32));
    entry->holiday_count -= past;
}

/* Validates a set_holidays event; ok or the status (nothing changed). */
static u32 settle_holiday_status(const struct settle *settle, const struct khorgos_holiday *event,
                                 u32 *currency) {
    static const u8 zero[sizeof(event->reserved)];
    if (memcmp(event->reserved, zero, sizeof(zero)) != 0 ||
        (event->flags & ~(u32)KHORGOS_HOLIDAY_REMOVE) != 0) {
        return KHORGOS_SETTLE_reserved_field;
    }
    *currency = settle_currency_find(settle, event->currency);
    if (*currency == SETTLE_NONE) {
        return khorgos_currency_by_numeric(event->currency) == NULL
                   ? KHORGOS_SETTLE_currency_invalid
                   : KHORGOS_SETTLE_currency_not_held;
    }
    if (!settle_date_valid(event->date)) return KHORGOS_SETTLE_date_invalid;
    bool present = settle_holiday_is(settle, *currency, event->date);
    if ((event->flags & KHORGOS_HOLIDAY_REMOVE) != 0) {
        return present ? KHORGOS_SETTLE_ok : KHORGOS_SETTLE_holiday_not_found;
    }
    if (present) return KHORGOS_SETTLE_holiday_exists;
    const struct settle_currency *entry = &settle->currencies[*currency];
    if (entry->day_open && event->date == entry->date) return KHORGOS_SETTLE_holiday_on_open_day;
    if (event->date <= entry->date) return KHORGOS_SETTLE_date_invalid; /* a past day */
    if (entry->holiday_count == SETTLE_HOLIDAY_COUNT_MAX) return KHORGOS_SETTLE_capacity_full;
    return KHORGOS_SETTLE_ok;
}

/* Rejects the payments waiting for `date` in the currency: that day will not open. */
static void settle_holiday_reject_waiting(struct settle *settle, u32 currency, u32 date,
                                          u64 timestamp) {
    ASSERT(settle_holiday_is(settle, currency, date));
    u32 at = settle->currencies[currency].waiting_head;
    while (at != SETTLE_NONE) {
        u32 next = settle->payment_next[at];
        ASSERT(settle->payments[at].state == KHORGOS_PAYMENT_WAITING);
        if (settle->payments[at].value_date == date) {
            settle_payment_finish(settle, at, KHORGOS_PAYMENT_REJECTED,
                                  KHORGOS_SETTLE_value_date_holiday, timestamp);
        }
        at = next;
    }
}

/* One set_holidays event (its request id: settle_apply.c). */
u32 settle_holiday_event_one(struct settle *settle, u32 operation, const void *body,
                             u64 timestamp) {
    const struct khorgos_holiday *event = body;
    ASSERT(operation == KHORGOS_OPERATION_SET_HOLIDAYS);
    ASSERT(settle->timestamp_cursor > timestamp); /* the event's own timestamp was taken */
    u32 currency = SETTLE_NONE;
    u32 status = settle_holiday_status(settle, event, &currency);
    if (status != KHORGOS_SETTLE_ok) return status;
    struct settle_currency *entry = &settle->currencies[currency];
    u32 *dates = settle_holidays_of(settle, currency);
    u32 at = settle_holiday_lower_bound(settle, currency, event->date);
    if ((event->flags & KHORGOS_HOLIDAY_REMOVE) != 0) {
        ASSERT(at < entry->holiday_count && dates[at] == event->date);
        memmove(dates + at, dates + at + 1, (size_t)(entry->holiday_count - at - 1) * sizeof(u32));
        entry->holiday_count--;
        return KHORGOS_SETTLE_ok;
    }
    ASSERT(entry->holiday_count < SETTLE_HOLIDAY_COUNT_MAX);
    memmove(dates + at + 1, dates + at, (size_t)(entry->holiday_count - at) * sizeof(u32));
    dates[at] = event->date;
    entry->holiday_count++;
    settle_holiday_reject_waiting(settle, currency, event->date, timestamp);
    return KHORGOS_SETTLE_ok;
}

/* ----------------------------------------------------------------------------------------- */
/* The days opened: each currency's history, oldest first, the oldest dropped when full.     */

static void settle_day_history_add(struct settle *settle, u32 currency, u32 date,
                                   u64 timestamp) {
    ASSERT(currency < settle->currency_count);
    struct settle_currency *entry = &settle->currencies[currency];
    struct khorgos_business_day_record *days = &settle->days[currency * SETTLE_DAY_HISTORY_MAX];
    ASSERT(entry->day_count <= SETTLE_DAY_HISTORY_MAX);
    ASSERT(entry->day_count == 0 || days[entry->day_count - 1].date < date);
    if (entry->day_count == SETTLE_DAY_HISTORY_MAX) {
        memmove(days, days + 1, (SETTLE_DAY_HISTORY_MAX - 1) * sizeof(*days));
        entry->day_count--;
    }
    days[entry->day_count++] = (struct khorgos_business_day_record){
        .currency = entry->numeric, .date = date, .opened_at = timestamp};
}

u32 settle_get_business_days(const struct settle *settle, const struct khorgos_day_filter *filter,
                             struct khorgos_business_day_record *out, u32 count_max) {
    ASSERT(settle != NULL && filter != NULL);
    ASSERT(out != NULL);
    u32 currency = settle_currency_find(settle, filter->currency);
    if (currency == SETTLE_NONE || filter->reserved != 0) return 0;
    const struct settle_currency *entry = &settle->currencies[currency];
    const struct khorgos_business_day_record *days =
        &settle->days[currency * SETTLE_DAY_HISTORY_MAX];
    u32 limit = MIN(filter->limit, count_max), written = 0;
    for (u32 index = 0; index < entry->day_count && written < limit; index++) {
        if (days[index].date >= filter->date_min) out[written++] = days[index];
    }
    return written;
}

/* The history of currency index c: dates and opens ascending, the last the currency's date
 * (and closed exactly when the day is not open), the others closed. */
bool settle_day_history_check(const struct settle *settle, u32 currency) {
    ASSERT(currency < settle->currency_count);
    const struct settle_currency *entry = &settle->currencies[currency];
    if (entry->day_count > SETTLE_DAY_HISTORY_MAX) return false;
    const struct khorgos_business_day_record *days =
        &settle->days[currency * SETTLE_DAY_HISTORY_MAX];
    for (u32 index = 0; index < entry->day_count; index++) {
        const struct khorgos_business_day_record *day = &days[index];
        bool last = index + 1 == entry->day_count;
        bool open = last && entry->day_open;
        if (day->currency != entry->numeric || day->reserved != 0 || day->opened_at == 0 ||
            (open ? day->closed_at != 0 : day->closed_at < day->opened_at) ||
            (last && (day->date != entry->date || day->opened_at != entry->opened_at)) ||
            (index > 0 && (days[index - 1].date >= day->date ||
                           days[index - 1].closed_at >= day->opened_at))) {
            return false;
        }
    }
    return entry->day_count > 0 || entry->date == 0;
}

/* ----------------------------------------------------------------------------------------- */
/* open_day, close_day (continued).                                                           */

static u32 settle_open_one(struct settle *settle, const struct khorgos_business_day *event,
                           u64 timestamp) {
    u32 currency = SETTLE_NONE;
    u32 status = settle_open_status(settle, event, timestamp, &currency);
    if (status != KHORGOS_SETTLE_ok) return status;
    struct settle_currency *entry = &settle->currencies[currency];
    entry->day_open = true;
    entry->date = event->date;
    entry->opened_at = timestamp;
    settle_day_history_add(settle, currency, event->date, timestamp);
    settle_holidays_drop_past(settle, currency);
    entry->cut_off_customer = event->cut_off_customer;
    entry->cut_off_interbank = event->cut_off_interbank;
    entry->cut_off_customer_passed = false;
    entry->cut_off_interbank_passed = false;
    entry->queue_mode = event->queue_mode;
    entry->flags = event->flags;
    entry->resolution_interval = event->resolution_interval;
    entry->resolution_next =
        event->resolution_interval ? timestamp + event->resolution_interval : 0;
    settle_day_reset(settle, currency);
    return KHORGOS_SETTLE_ok; /* settle_apply.c then releases the waiting payments */
}

/* Repays intraday credit from each balance; the rest is overnight credit. */
static void settle_repay_credit(struct settle *settle, u32 currency) {
    const struct settle_currency *entry = &settle->currencies[currency];
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        u32 slot = settle_position_slot(settle, participant, currency);
        if (slot == SETTLE_NONE) continue;
        struct settle_position *position = &settle->positions[slot];
        if (position->credit_outstanding == 0) continue;
        u128 repay = MIN(position->credit_outstanding, settle_balance(settle, slot));
        if (repay > 0) {
            settle_chain_add(settle, SETTLE_TRANSFER_CREDIT_REPAY,
                             settle_transfer_id_next(settle, SETTLE_TRANSFER_CREDIT_REPAY),
                             position->settlement_account_id, position->credit_account_id, repay,
                             entry->numeric, 0);
        }
        position->credit_outstanding -= repay;
        position->credit_repaid += repay;
        position->overnight_credit = position->credit_outstanding;
    }
    settle_chain_flush(settle);
}

/* The end-of-day balances, kept apart from the live balance that funding between days moves. */
static void settle_day_record_closing(struct settle *settle, u32 currency) {
    ASSERT(currency < settle->currency_count);
    ASSERT(settle->currencies[currency].day_open);
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        u32 slot = settle_position_slot(settle, participant, currency);
        if (slot == SETTLE_NONE) continue;
        settle->positions[slot].closing_balance = settle_balance(settle, slot);
    }
}

static u32 settle_close_one(struct settle *settle, const struct khorgos_business_day *event,
                            u64 timestamp) {
    static const u8 zero[sizeof(event->reserved)];
    if (event->date != 0 || event->cut_off_customer != 0 || event->cut_off_interbank != 0 ||
        event->resolution_interval != 0 || event->queue_mode != 0 || event->flags != 0 ||
        memcmp(event->reserved, zero, sizeof(zero)) != 0) {
        return KHORGOS_SETTLE_reserved_field;
    }
    u32 currency = settle_currency_find(settle, event->currency);
    if (currency == SETTLE_NONE) return KHORGOS_SETTLE_currency_invalid;
    struct settle_currency *entry = &settle->currencies[currency];
    if (!entry->day_open) return KHORGOS_SETTLE_day_not_open;
    if (!settle_chain_capacity(settle, settle->participant_count)) {
        return KHORGOS_SETTLE_capacity_full;
    }
    settle_reject_queued(settle, currency, KHORGOS_PAYMENT_INTERBANK + 1, KHORGOS_SETTLE_day_closed,
                         timestamp);
    settle_repay_credit(settle, currency);
    settle_day_record_closing(settle, currency);
    entry->day_open = false;
    ASSERT(entry->day_count > 0);
    struct khorgos_business_day_record *day =
        &settle->days[currency * SETTLE_DAY_HISTORY_MAX + entry->day_count - 1];
    ASSERT(day->date == entry->date && day->closed_at == 0);
    day->closed_at = timestamp;
    return KHORGOS_SETTLE_ok;
}

/* One open_day or close_day event (its request id, the retries after it and its count:
 * settle_apply.c). */
u32 settle_day_event_one(struct settle *settle, u32 operation, const void *body, u64 timestamp) {
    const struct khorgos_business_day *event = body;
    ASSERT(operation == KHORGOS_OPERATION_OPEN_DAY || operation == KHORGOS_OPERATION_CLOSE_DAY);
    ASSERT(settle->timestamp_cursor > timestamp); /* the event's own timestamp was taken */
    return operation == KHORGOS_OPERATION_OPEN_DAY ? settle_open_one(settle, event, timestamp)
                                                   : settle_close_one(settle, event, timestamp);
}

/* ----------------------------------------------------------------------------------------- */
/* Positions.                                                                                 */

static void settle_position_write(const struct settle *settle, u32 slot,
                                  struct khorgos_position *out) {
    const struct settle_position *position = &settle->positions[slot];
    const struct khorgos_participant *record = &settle->participants[position->participant].record;
    memset(out, 0, sizeof(*out));
    memcpy(out->bic, record->bic, KHORGOS_BIC_BYTES);
    out->flags = record->flags;
    out->currency = settle->currencies[position->currency].numeric;
    out->opening_balance = position->opening_balance;
    out->balance = settle_balance(settle, slot);
    out->sent = position->sent;
    out->received = position->received;
    out->queued = position->queued_value;
    out->rejected = position->rejected_value;
    out->credit_line = position->credit_line;
    out->credit_outstanding = position->credit_outstanding;
    out->credit_used = position->credit_used;
    out->credit_repaid = position->credit_repaid;
    out->overnight_credit = position->overnight_credit;
    out->net_debit_cap = position->net_debit_cap;
    out->sent_count = position->sent_count;
    out->received_count = position->received_count;
    out->queued_count = position->queued_count;
    out->rejected_count = position->rejected_count;
    out->closing_balance = position->closing_balance;
}

u32 settle_get_positions(const struct settle *settle, const struct khorgos_settle_filter *filter,
                         struct khorgos_position *out, u32 count_max) {
    ASSERT(settle != NULL && filter != NULL);
    ASSERT(out != NULL);
    u32 participant_only = 0, currency_only = 0;
    if (!settle_filter_select(settle, filter, &participant_only, &currency_only)) return 0;
    u32 limit = filter->limit == 0 ? count_max : MIN(filter->limit, count_max);
    u32 written = 0;
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        if (participant_only != SETTLE_NONE && participant != participant_only) continue;
        for (u32 k = 0; k < KHORGOS_PARTICIPANT_CURRENCIES_MAX; k++) {
            u32 slot = participant * KHORGOS_PARTICIPANT_CURRENCIES_MAX + k;
            if (!settle->positions[slot].in_use) continue;
            if (currency_only != SETTLE_NONE && settle->positions[slot].currency != currency_only) {
                continue;
            }
            if (written == limit) return written;
            settle_position_write(settle, slot, &out[written++]);
        }
    }
    return written;
}
