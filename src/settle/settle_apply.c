/*
 * settle_apply.c: the top of the settlement layer and the only file of it that calls across
 * its features: the layer's memory (settle_init), status names, the dispatch of settlement
 * operations, the loop of every event that carries a request id (its timestamp, the stored
 * answer of a retry, the body from its feature's *_event_one, the retries of the queues it
 * released and its count of payments settled), the timers (the settle pulse and
 * settle_timer_next), the retries of cross-currency payments after each request, and the
 * invariant check. The direction of the layer's calls: settle_private.h. Design: settle.h.
 *
 * Memory. settle_init reserves every array from the config (participants, positions,
 * payments and their links, the settle-by heap, bilateral limits, request ids, the chain
 * scratch, the LSM workspace, and through settle_fx_init and settle_netting_init their
 * state); nothing below allocates.
 */
#include "settle/settle_private.h"

#include <stdlib.h>

#define SETTLE_STATUS_NAME_(name, iso) #name,
#define SETTLE_STATUS_ISO_(name, iso) iso,
static const char *const settle_status_names[] = {KHORGOS_SETTLE_STATUSES(SETTLE_STATUS_NAME_)};
static const char *const settle_status_iso[] = {KHORGOS_SETTLE_STATUSES(SETTLE_STATUS_ISO_)};
#undef SETTLE_STATUS_NAME_
#undef SETTLE_STATUS_ISO_
_Static_assert(ARRAY_COUNT(settle_status_names) == KHORGOS_SETTLE_STATUS_COUNT, "names");

const char *khorgos_settle_status_name(uint32_t status) {
    return status < KHORGOS_SETTLE_STATUS_COUNT ? settle_status_names[status] : NULL;
}

const char *khorgos_settle_status_iso_code(uint32_t status) {
    return status < KHORGOS_SETTLE_STATUS_COUNT ? settle_status_iso[status] : NULL;
}

int khorgos_settle_status_parse(const char *name, size_t length, uint32_t *status) {
    ASSERT(status != NULL);
    ASSERT(name != NULL || length == 0);
    for (u32 index = 0; index < KHORGOS_SETTLE_STATUS_COUNT; index++) {
        if (strlen(settle_status_names[index]) == length &&
            memcmp(settle_status_names[index], name, length) == 0) {
            *status = index;
            return 0;
        }
    }
    return -1;
}

/* ----------------------------------------------------------------------------------------- */
/* Init.                                                                                      */

static khorgos_error settle_reserve(struct settle *settle) {
    u32 participants = settle->config.participant_count_max;
    u32 payments = settle->config.payment_count_max;
    u32 slots = participants * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
    settle->participants = calloc(participants, sizeof(*settle->participants));
    settle->positions = calloc(slots, sizeof(*settle->positions));
    settle->payments = calloc(payments, sizeof(*settle->payments));
    settle->payment_next = calloc(payments, sizeof(u32));
    settle->payment_prev = calloc(payments, sizeof(u32));
    settle->payment_payer_slot = calloc(payments, sizeof(u32));
    settle->payment_payee_slot = calloc(payments, sizeof(u32));
    settle->payment_submit_status = calloc(payments, sizeof(u32));
    settle->payment_same_id = calloc(payments, sizeof(u32));
    settle->request_same_id = calloc(settle->config.request_count_max, sizeof(u32));
    settle->timers = calloc(payments, sizeof(*settle->timers));
    u32 limits = settle->config.limit_count_max;
    settle->limits = calloc(limits, sizeof(*settle->limits));
    settle->requests = calloc(settle->config.request_count_max, sizeof(*settle->requests));
    settle->chain = calloc(SETTLE_CHAIN_EVENTS_MAX, sizeof(*settle->chain));
    settle->chain_results = calloc(SETTLE_CHAIN_EVENTS_MAX, sizeof(*settle->chain_results));
    settle->retry_list = calloc(slots, sizeof(u32));
    settle->set = calloc(payments, sizeof(u32));
    settle->set_net = calloc(participants, sizeof(i128));
    settle->set_draw = calloc(participants, sizeof(u128));
    settle->lsm_participants = calloc(participants, sizeof(*settle->lsm_participants));
    settle->lsm_payments = calloc(payments, sizeof(*settle->lsm_payments));
    settle->lsm_limits = calloc(limits, sizeof(*settle->lsm_limits));
    settle->lsm_payment_index = calloc(payments, sizeof(u32));
    settle->grid_positions = calloc(slots, sizeof(*settle->grid_positions));
    settle->grid_payments = calloc(payments, sizeof(*settle->grid_payments));
    settle->grid_exposure_limits = calloc(SETTLE_FX_QUOTE_COUNT_MAX, sizeof(u128));
    settle->grid_slot_draw = calloc(slots, sizeof(u128));
    settle->grid_pair_limits = calloc(limits, sizeof(*settle->grid_pair_limits));
    settle->holidays =
        calloc((size_t)SETTLE_CURRENCY_COUNT_MAX * SETTLE_HOLIDAY_COUNT_MAX, sizeof(u32));
    if (settle->holidays == NULL ||
        settle->participants == NULL || settle->positions == NULL || settle->payments == NULL ||
        settle->payment_next == NULL || settle->payment_prev == NULL ||
        settle->payment_payer_slot == NULL || settle->payment_payee_slot == NULL ||
        settle->payment_submit_status == NULL || settle->timers == NULL ||
        settle->payment_same_id == NULL || settle->request_same_id == NULL ||
        settle->limits == NULL || settle->requests == NULL || settle->chain == NULL ||
        settle->chain_results == NULL || settle->retry_list == NULL || settle->set == NULL ||
        settle->set_net == NULL || settle->set_draw == NULL || settle->lsm_participants == NULL ||
        settle->lsm_payments == NULL || settle->lsm_limits == NULL ||
        settle->lsm_payment_index == NULL || settle->grid_positions == NULL ||
        settle->grid_payments == NULL || settle->grid_exposure_limits == NULL ||
        settle->grid_slot_draw == NULL || settle->grid_pair_limits == NULL) {
        return KHORGOS_ERROR_out_of_memory;
    }
    khorgos_error error = base_id_map_init(&settle->payment_map, payments);
    if (error == KHORGOS_ERROR_ok) {
        error = base_id_map_init(&settle->limit_map, limits);
    }
    if (error == KHORGOS_ERROR_ok) {
        error = base_id_map_init(&settle->request_map, settle->config.request_count_max);
    }
    if (error == KHORGOS_ERROR_ok) {
        error = settle_lsm_workspace_init(&settle->lsm, participants, payments, limits);
    }
    if (error == KHORGOS_ERROR_ok) {
        error = settle_gridlock_workspace_init(&settle->grid, slots, payments,
                                               SETTLE_FX_QUOTE_COUNT_MAX, limits);
    }
    if (error == KHORGOS_ERROR_ok) error = settle_fx_init(settle);
    if (error == KHORGOS_ERROR_ok) error = settle_netting_init(settle);
    if (error == KHORGOS_ERROR_ok) error = settle_references_init(settle);
    return error;
}

khorgos_error settle_init(struct settle *settle, const struct settle_config *config,
                          struct ledger *ledger) {
    ASSERT(settle != NULL && config != NULL);
    ASSERT(ledger != NULL);
    memset(settle, 0, sizeof(*settle));
    settle->config.participant_count_max = config->participant_count_max
                                               ? config->participant_count_max
                                               : SETTLE_PARTICIPANT_COUNT_DEFAULT;
    settle->config.payment_count_max =
        config->payment_count_max ? config->payment_count_max : SETTLE_PAYMENT_COUNT_DEFAULT;
    if (settle->config.participant_count_max > SETTLE_PARTICIPANT_COUNT_MAX ||
        settle->config.payment_count_max > SETTLE_PAYMENT_COUNT_MAX) {
        return KHORGOS_ERROR_invalid_argument;
    }
    /* Derived capacities (see the limits in settle.h): sized to the engine, so a small test
     * engine opens fast and a large one gets the declared maxima. */
    u32 participants = settle->config.participant_count_max;
    settle->config.request_count_max = MIN(
        SETTLE_REQUEST_COUNT_MAX, MAX(SETTLE_REQUEST_COUNT_MIN, settle->config.payment_count_max));
    settle->config.limit_count_max =
        MIN(SETTLE_BILATERAL_LIMIT_COUNT_MAX, MAX(1u, participants * (participants - 1)));
    settle->ledger = ledger;
    khorgos_error error = settle_reserve(settle);
    if (error == KHORGOS_ERROR_ok) { /* the days each currency opened (settle_day.c) */
        settle->days = calloc((size_t)SETTLE_CURRENCY_COUNT_MAX * SETTLE_DAY_HISTORY_MAX,
                              sizeof(*settle->days));
        if (settle->days == NULL) error = KHORGOS_ERROR_out_of_memory;
    }
    if (error != KHORGOS_ERROR_ok) goto release_memory;
    return KHORGOS_ERROR_ok;
release_memory:
    settle_deinit(settle);
    return error;
}

void settle_deinit(struct settle *settle) {
    ASSERT(settle != NULL);
    if (settle->lsm.memory != NULL) settle_lsm_workspace_deinit(&settle->lsm);
    if (settle->grid.memory != NULL) settle_gridlock_workspace_deinit(&settle->grid);
    settle_fx_deinit(settle);
    settle_netting_deinit(settle);
    settle_references_deinit(settle);
    if (settle->payment_map.slots != NULL) base_id_map_deinit(&settle->payment_map);
    if (settle->limit_map.slots != NULL) base_id_map_deinit(&settle->limit_map);
    if (settle->request_map.slots != NULL) base_id_map_deinit(&settle->request_map);
    void *arrays[] = {settle->participants, settle->positions, settle->payments,
                      settle->payment_next, settle->payment_prev, settle->payment_payer_slot,
                      settle->payment_payee_slot, settle->payment_submit_status, settle->timers,
                      settle->payment_same_id, settle->request_same_id,
                      settle->limits, settle->requests, settle->chain, settle->chain_results,
                      settle->retry_list, settle->set, settle->set_net, settle->set_draw,
                      settle->lsm_participants, settle->lsm_payments, settle->lsm_limits,
                      settle->lsm_payment_index, settle->grid_positions, settle->grid_payments,
                      settle->grid_exposure_limits, settle->grid_slot_draw,
                      settle->grid_pair_limits, settle->holidays, settle->days};
    for (u32 index = 0; index < ARRAY_COUNT(arrays); index++) free(arrays[index]);
    memset(settle, 0, sizeof(*settle));
}

bool settle_operation_is(u32 operation) {
    return operation == KHORGOS_OPERATION_SETTLE_PULSE ||
           (operation >= KHORGOS_OPERATION_CREATE_PARTICIPANTS &&
            operation <= KHORGOS_OPERATION_GET_BUSINESS_DAYS);
}

/* ----------------------------------------------------------------------------------------- */
/* Events with a request id, and the retries after each.                                      */

/* The event records of these operations all start with their request id (khorgos.h). */
_Static_assert(offsetof(struct khorgos_participant_event, id) == 0, "id first");
_Static_assert(offsetof(struct khorgos_business_day, id) == 0, "id first");
_Static_assert(offsetof(struct khorgos_holiday, id) == 0, "id first");
_Static_assert(offsetof(struct khorgos_window, id) == 0, "id first");

/* Applies one event's body at its timestamp (the features' *_event_one): its status. */
typedef u32 (*settle_event_one)(struct settle *settle, u32 operation, const void *event,
                                u64 timestamp);

static u32 settle_event_size(u32 operation) {
    ASSERT(settle_operation_is(operation));
    ASSERT(operation != KHORGOS_OPERATION_SETTLE_PULSE);
    switch (operation) {
    case KHORGOS_OPERATION_OPEN_DAY:
    case KHORGOS_OPERATION_CLOSE_DAY:
    case KHORGOS_OPERATION_RESOLVE_GRIDLOCK: return sizeof(struct khorgos_business_day);
    case KHORGOS_OPERATION_SET_HOLIDAYS: return sizeof(struct khorgos_holiday);
    case KHORGOS_OPERATION_OPEN_WINDOW:
    case KHORGOS_OPERATION_CLOSE_WINDOW:
    case KHORGOS_OPERATION_SETTLE_WINDOW:
    case KHORGOS_OPERATION_UNWIND_WINDOW:
    case KHORGOS_OPERATION_ABORT_WINDOW: return sizeof(struct khorgos_window);
    default: return sizeof(struct khorgos_participant_event);
    }
}

/* Each event in turn: its own timestamp, its request id (a retry answered from the stored
 * result), its body, then the retries of the queues it may have released, which count in its
 * result; set_holidays releases nothing, so it neither retries nor counts. */
static void settle_apply_events(struct settle *settle, u32 operation, u64 timestamp,
                                const void *events, u32 count,
                                struct khorgos_settle_result *results, settle_event_one one) {
    ASSERT(settle != NULL && one != NULL);
    ASSERT(settle->timestamp_cursor <= timestamp); /* events take slots from here */
    ASSERT(count == 0 || (events != NULL && results != NULL));
    const u32 size = settle_event_size(operation);
    const bool retries = operation != KHORGOS_OPERATION_SET_HOLIDAYS;
    for (u32 index = 0; index < count; index++) {
        const void *event = (const u8 *)events + (size_t)index * size;
        struct khorgos_settle_result *result = &results[index];
        u128 id;
        memcpy(&id, event, sizeof(id));
        u64 event_timestamp = settle_event_begin(settle, result);
        if (!settle_request_begin(settle, operation, id, event, size, result)) continue;
        u64 settled_before = settle->payments_settled;
        result->status = one(settle, operation, event, event_timestamp);
        if (retries) {
            settle_retry_run(settle, event_timestamp);
            result->payments_settled = settle_settled_since(settle, settled_before);
        }
        settle_request_store(settle, operation, id, event, size, result);
    }
}

/* open_day and close_day; after an open_day, the payments waiting for its date enter. */
static u32 settle_apply_day_one(struct settle *settle, u32 operation, const void *event,
                                u64 timestamp) {
    ASSERT(settle->chain_count == 0);
    u32 status = settle_day_event_one(settle, operation, event, timestamp);
    if (operation == KHORGOS_OPERATION_OPEN_DAY && status == KHORGOS_SETTLE_ok) {
        const struct khorgos_business_day *day = event;
        u32 currency = settle_currency_find(settle, day->currency);
        ASSERT(currency != SETTLE_NONE && settle->currencies[currency].day_open);
        settle_release_waiting(settle, currency, timestamp);
    }
    return status;
}

/* ----------------------------------------------------------------------------------------- */
/* Timers.                                                                                    */

static u64 settle_min_due(u64 current, u64 due) {
    if (due == 0) return current;
    return current == 0 ? due : MIN(current, due);
}

u64 settle_timer_next(const struct settle *settle) {
    ASSERT(settle != NULL);
    u64 next = settle->timer_count > 0 ? settle->timers[0].due : 0;
    for (u32 index = 0; index < settle->currency_count; index++) {
        const struct settle_currency *currency = &settle->currencies[index];
        if (!currency->day_open) continue;
        if (!currency->cut_off_customer_passed) {
            next = settle_min_due(next, currency->cut_off_customer);
        }
        if (!currency->cut_off_interbank_passed) {
            next = settle_min_due(next, currency->cut_off_interbank);
        }
        if ((currency->flags & KHORGOS_DAY_RESOLUTION_ON_TIMER) != 0) {
            next = settle_min_due(next, currency->resolution_next);
        }
    }
    return settle_min_due(next, settle_netting_timer_next(settle)); /* window timers */
}

/* The settle pulse: settle-by rejections, each open currency's cut-offs (each preceded by a
 * resolution when the currency resolves on its timer) and timed resolution (with the retries
 * it allows), the windows' timers, then the retries of what all that released. */
static void settle_apply_pulse(struct settle *settle, u64 timestamp) {
    ASSERT(settle != NULL);
    ASSERT(timestamp > 0);
    settle_day_settle_by(settle, timestamp);
    for (u32 currency = 0; currency < settle->currency_count; currency++) {
        if (!settle->currencies[currency].day_open) continue;
        if (settle_day_cut_off_due(settle, currency, timestamp)) { /* a last resolution */
            settle_resolve(settle, currency, timestamp);
            settle_retry_run(settle, timestamp);
        }
        const struct settle_currency *entry = &settle->currencies[currency];
        u32 passed = (u32)entry->cut_off_customer_passed + entry->cut_off_interbank_passed;
        settle_day_cut_offs(settle, currency, timestamp);
        if (passed != (u32)entry->cut_off_customer_passed + entry->cut_off_interbank_passed) {
            settle->grid_fresh = 0; /* the cut-off rejected payments: a change */
        }
        if (settle_day_resolution_due(settle, currency, timestamp)) {
            settle_resolve(settle, currency, timestamp);
            settle_retry_run(settle, timestamp);
        }
    }
    settle_netting_pulse(settle, timestamp); /* window close / settle timers */
    settle_retry_run(settle, timestamp);
    ASSERT(settle_timer_next(settle) == 0 || settle_timer_next(settle) > timestamp);
}

/* ----------------------------------------------------------------------------------------- */
/* Dispatch.                                                                                  */

static u32 settle_apply_fx(struct settle *settle, u32 operation, u64 timestamp,
                           const void *body, u32 count, void *reply);

static u32 settle_apply_request(struct settle *settle, u32 operation, u64 timestamp,
                                const void *body, u32 count, void *reply) {
    ASSERT(settle != NULL);
    ASSERT(settle_operation_is(operation));
    ASSERT(settle->chain_count == 0);
    settle->request_stored_result = NULL;
    settle->grid_fresh = 0; /* a new tick */
    switch (operation) {
    case KHORGOS_OPERATION_SETTLE_PULSE:
        settle_apply_pulse(settle, settle_timestamp_take(settle));
        return 0;
    case KHORGOS_OPERATION_CREATE_PARTICIPANTS:
        settle_create_participants(settle, timestamp, body, count, reply);
        return count;
    case KHORGOS_OPERATION_FUND:
    case KHORGOS_OPERATION_DEFUND:
    case KHORGOS_OPERATION_SET_CREDIT_LINES:
    case KHORGOS_OPERATION_SET_LIMITS:
    case KHORGOS_OPERATION_SUSPEND:
    case KHORGOS_OPERATION_REINSTATE:
        settle_apply_events(settle, operation, timestamp, body, count, reply,
                            settle_participant_event_one);
        return count;
    case KHORGOS_OPERATION_SUBMIT_PAYMENTS:
        settle_submit_payments(settle, timestamp, body, count, reply);
        return count;
    case KHORGOS_OPERATION_CANCEL_PAYMENTS:
        settle_cancel_payments(settle, timestamp, body, count, reply);
        return count;
    case KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS:
        settle_reprioritize_payments(settle, timestamp, body, count, reply);
        return count;
    case KHORGOS_OPERATION_LOOKUP_PAYMENTS:
        return settle_lookup_payments(settle, body, count, reply);
    case KHORGOS_OPERATION_GET_QUEUE:
        return settle_get_queue(settle, body, reply,
                                LIMIT_RECORDS_MAX(sizeof(struct khorgos_payment)));
    case KHORGOS_OPERATION_RESOLVE_GRIDLOCK:
        settle_apply_events(settle, operation, timestamp, body, count, reply,
                            settle_resolve_event_one);
        return count;
    case KHORGOS_OPERATION_GET_POSITIONS:
        return settle_get_positions(settle, body, reply,
                                    LIMIT_RECORDS_MAX(sizeof(struct khorgos_position)));
    case KHORGOS_OPERATION_OPEN_DAY:
    case KHORGOS_OPERATION_CLOSE_DAY:
        settle_apply_events(settle, operation, timestamp, body, count, reply,
                            settle_apply_day_one);
        return count;
    case KHORGOS_OPERATION_SET_HOLIDAYS:
        settle_apply_events(settle, operation, timestamp, body, count, reply,
                            settle_holiday_event_one);
        return count;
    case KHORGOS_OPERATION_SUBMIT_MESSAGE_PAYMENTS:
        settle_submit_message_payments(settle, timestamp, body, count, reply);
        return count;
    case KHORGOS_OPERATION_GET_PAYMENT_REFERENCES:
        return settle_get_payment_references(
            settle, body, reply, LIMIT_RECORDS_MAX(sizeof(struct khorgos_payment_references)));
    case KHORGOS_OPERATION_GET_BUSINESS_DAYS:
        return settle_get_business_days(
            settle, body, reply, LIMIT_RECORDS_MAX(sizeof(struct khorgos_business_day_record)));
    default: return settle_apply_fx(settle, operation, timestamp, body, count, reply);
    }
    return 0;
}

/* The cross-currency and netting operations (settle_fx.c, settle_netting.c). */
static u32 settle_apply_fx(struct settle *settle, u32 operation, u64 timestamp, const void *body,
                           u32 count, void *reply) {
    ASSERT(operation >= KHORGOS_OPERATION_SET_FX_QUOTES);
    ASSERT(operation <= KHORGOS_OPERATION_GET_WINDOW_POSITIONS);
    switch (operation) {
    case KHORGOS_OPERATION_SET_FX_QUOTES:
        settle_fx_set_quotes(settle, timestamp, body, count, reply);
        break;
    case KHORGOS_OPERATION_WITHDRAW_FX_QUOTES:
        settle_fx_withdraw_quotes(settle, timestamp, body, count, reply);
        break;
    case KHORGOS_OPERATION_LOOKUP_FX_QUOTES:
        return settle_fx_lookup_quotes(settle, body, count, reply);
    case KHORGOS_OPERATION_SET_FX_ROUTING:
        settle_fx_set_routing(settle, timestamp, body, count, reply);
        break;
    case KHORGOS_OPERATION_OPEN_WINDOW:
    case KHORGOS_OPERATION_CLOSE_WINDOW:
    case KHORGOS_OPERATION_SETTLE_WINDOW:
    case KHORGOS_OPERATION_UNWIND_WINDOW:
    case KHORGOS_OPERATION_ABORT_WINDOW:
        settle_apply_events(settle, operation, timestamp, body, count, reply,
                            settle_netting_window_event_one);
        break;
    case KHORGOS_OPERATION_LOOKUP_WINDOWS:
        return settle_netting_lookup_windows(settle, body, count, reply);
    case KHORGOS_OPERATION_GET_WINDOW_POSITIONS:
        return settle_netting_get_positions(
            settle, body, reply, LIMIT_RECORDS_MAX(sizeof(struct khorgos_window_position)));
    default: ASSERT(false && "not a settlement operation");
    }
    return count;
}

/* Payments the request's closing pass released count in its last result (settle.h,
 * "Results"), and in the answer stored for that event's request id, so a retry repeats it. */
static void settle_result_add_released(struct settle *settle, struct khorgos_settle_result *results,
                                       u32 count, u32 released) {
    ASSERT(results != NULL || count == 0);
    if (released == 0 || count == 0) return;
    struct khorgos_settle_result *last = &results[count - 1];
    ASSERT(last->payments_settled <= U32_MAX - released);
    last->payments_settled += released;
    if (settle->request_stored_result == last) {
        ASSERT(settle->request_stored_last < settle->request_count);
        settle->requests[settle->request_stored_last].result.payments_settled += released;
    }
}

u32 settle_apply(struct settle *settle, u32 operation, u64 timestamp, const void *body,
                 u32 count, void *reply) {
    bool query = operation == KHORGOS_OPERATION_LOOKUP_PAYMENTS ||
                 operation == KHORGOS_OPERATION_GET_QUEUE ||
                 operation == KHORGOS_OPERATION_GET_POSITIONS ||
                 operation == KHORGOS_OPERATION_LOOKUP_FX_QUOTES ||
                 operation == KHORGOS_OPERATION_LOOKUP_WINDOWS ||
                 operation == KHORGOS_OPERATION_GET_WINDOW_POSITIONS ||
                 operation == KHORGOS_OPERATION_GET_PAYMENT_REFERENCES ||
                 operation == KHORGOS_OPERATION_GET_BUSINESS_DAYS;
    /* The engine reserved one timestamp per event, ending at T (settle.h, "Timestamps"). */
    u32 reserved = MAX(count, 1u);
    ASSERT(query || timestamp >= reserved);
    settle->timestamp_cursor = query ? timestamp : timestamp - reserved + 1;
    settle->timestamp_last = settle->timestamp_cursor;
    u32 written = settle_apply_request(settle, operation, timestamp, body, count, reply);
    if (query) return written;
    /* A queued cross-currency payment may be released by any change (settle_fx.c). */
    if (settle->fx.queued_slot_count > 0) {
        u64 settled_before = settle->payments_settled;
        u64 retry_timestamp = settle_timestamp_take(settle);
        if (settle_fx_retry_mark(settle)) {
            settle_retry_run(settle, retry_timestamp);
            ASSERT(settle->retry_count == 0);
        }
        settle_result_add_released(settle, reply, written,
                                   settle_settled_since(settle, settled_before));
    }
    settle->timestamp_last = MAX(settle->timestamp_last, timestamp);
    ASSERT(settle->timestamp_cursor == settle->timestamp_last + 1 ||
           settle->timestamp_last == timestamp);
    return written;
}

/* ----------------------------------------------------------------------------------------- */
/* Invariants. settle_snapshot_read runs settle_check on a state read from a file, so the
 * checks never trust an index or an id before testing it: they return false, never assert. */

static bool settle_check_queue(const struct settle *settle, u32 slot) {
    ASSERT(slot < settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX);
    const struct settle_position *position = &settle->positions[slot];
    u32 count = 0;
    u128 value = 0;
    for (u32 priority = 0; priority < KHORGOS_PRIORITY_COUNT; priority++) {
        u32 previous = SETTLE_NONE;
        for (u32 at = position->queue_head[priority]; at != SETTLE_NONE;
             at = settle->payment_next[at]) {
            /* A link out of range, or a cycle (more links than payments), is no queue. */
            if (at >= settle->payment_count || count >= settle->payment_count) return false;
            const struct khorgos_payment *payment = &settle->payments[at];
            if (payment->state != KHORGOS_PAYMENT_QUEUED || payment->priority != priority) {
                return false;
            }
            if (settle->payment_payer_slot[at] != slot || settle->payment_prev[at] != previous) {
                return false;
            }
            previous = at;
            count++;
            value += payment->amount;
        }
        if (position->queue_tail[priority] != previous) return false;
    }
    return count == position->queued_count && value == position->queued_value;
}

/* The calendar of a currency: valid dates, strictly ascending, all after its last day. */
static bool settle_check_calendar(const struct settle *settle, u32 currency) {
    const struct settle_currency *entry = &settle->currencies[currency];
    const u32 *dates = &settle->holidays[currency * SETTLE_HOLIDAY_COUNT_MAX];
    if (entry->holiday_count > SETTLE_HOLIDAY_COUNT_MAX) return false;
    u32 previous = entry->date;
    for (u32 index = 0; index < entry->holiday_count; index++) {
        if (!settle_date_valid(dates[index]) || dates[index] <= previous) return false;
        previous = dates[index];
    }
    return true;
}

/* How each payment settled matches its state: a path (alone, in a set, in a window) exactly
 * when settled, and a window only with the window that held it (settle_payment_mark_settled
 * is where both are set). Counts the queued payments into *queued. */
static bool settle_check_payments(const struct settle *settle, u32 *queued) {
    ASSERT(settle != NULL && queued != NULL);
    *queued = 0;
    for (u32 index = 0; index < settle->payment_count; index++) {
        const struct khorgos_payment *payment = &settle->payments[index];
        *queued += payment->state == KHORGOS_PAYMENT_QUEUED;
        bool settled = payment->state == KHORGOS_PAYMENT_SETTLED;
        if (payment->settled_in > KHORGOS_SETTLED_IN_WINDOW ||
            settled != (payment->settled_in != KHORGOS_SETTLED_IN_NONE) ||
            (payment->settled_in == KHORGOS_SETTLED_IN_WINDOW && payment->window == 0)) {
            return false;
        }
    }
    ASSERT(*queued <= settle->payment_count);
    return true;
}

bool settle_check(const struct settle *settle) {
    ASSERT(settle != NULL);
    u32 queued = 0;
    if (!settle_check_payments(settle, &queued)) return false;
    u32 in_queues = 0;
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        for (u32 k = 0; k < KHORGOS_PARTICIPANT_CURRENCIES_MAX; k++) {
            u32 slot = participant * KHORGOS_PARTICIPANT_CURRENCIES_MAX + k;
            if (!settle->positions[slot].in_use) continue;
            if (!settle_check_queue(settle, slot)) return false;
            in_queues += settle->positions[slot].queued_count;
            u32 index = 0;
            u128 credit_id = settle->positions[slot].credit_account_id;
            if (credit_id == 0 || !base_id_map_get(&settle->ledger->account_map, credit_id,
                                                   &index)) {
                return false;
            }
            const struct khorgos_account *credit = &settle->ledger->accounts[index];
            if (credit->debits_posted - credit->credits_posted !=
                settle->positions[slot].credit_outstanding) {
                return false;
            }
        }
    }
    for (u32 currency = 0; currency < settle->currency_count; currency++) {
        if (!settle_check_calendar(settle, currency) ||
            !settle_day_history_check(settle, currency)) {
            return false;
        }
        u32 index = 0;
        u128 clearing_id = settle->currencies[currency].clearing_account_id;
        if (clearing_id == 0 ||
            !base_id_map_get(&settle->ledger->account_map, clearing_id, &index)) {
            return false;
        }
        const struct khorgos_account *clearing = &settle->ledger->accounts[index];
        if (clearing->debits_posted != clearing->credits_posted) return false;
    }
    return queued == in_queues && settle_references_check(settle);
}
