/* engine.c: validation, timestamps, dispatch to the state machines (see engine.h). */
#include "engine/engine.h"

#include <stdlib.h>
#include <sys/mman.h>

static const struct engine_operation engine_operation_table[] = {
    {KHORGOS_OPERATION_PULSE, "pulse", 1, 1, false, true},
    {KHORGOS_OPERATION_REGISTER, "register", 1, sizeof(u64), false, true},
    {KHORGOS_OPERATION_ADVANCE_CLOCK, "advance_clock", sizeof(u64), sizeof(u64), false, true},
    {KHORGOS_OPERATION_CREATE_ACCOUNTS, "create_accounts", sizeof(struct khorgos_account),
     sizeof(struct khorgos_create_result), false, true},
    {KHORGOS_OPERATION_CREATE_TRANSFERS, "create_transfers", sizeof(struct khorgos_transfer),
     sizeof(struct khorgos_create_result), false, true},
    {KHORGOS_OPERATION_LOOKUP_ACCOUNTS, "lookup_accounts", sizeof(u128),
     sizeof(struct khorgos_account), false, false},
    {KHORGOS_OPERATION_LOOKUP_TRANSFERS, "lookup_transfers", sizeof(u128),
     sizeof(struct khorgos_transfer), false, false},
    {KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS, "get_account_transfers",
     sizeof(struct khorgos_account_filter), sizeof(struct khorgos_transfer), true, false},
    {KHORGOS_OPERATION_GET_ACCOUNT_BALANCES, "get_account_balances",
     sizeof(struct khorgos_account_filter), sizeof(struct khorgos_account_balance), true, false},
    {KHORGOS_OPERATION_QUERY_ACCOUNTS, "query_accounts", sizeof(struct khorgos_query_filter),
     sizeof(struct khorgos_account), true, false},
    {KHORGOS_OPERATION_QUERY_TRANSFERS, "query_transfers", sizeof(struct khorgos_query_filter),
     sizeof(struct khorgos_transfer), true, false},
#define ENGINE_SETTLE_EVENTS_(code, name, body)                                                 \
    {code, name, sizeof(struct body), sizeof(struct khorgos_settle_result), false, true},
    {KHORGOS_OPERATION_SETTLE_PULSE, "settle_pulse", 1, 1, false, true},
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_CREATE_PARTICIPANTS, "create_participants",
                          khorgos_participant)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_FUND, "fund", khorgos_participant_event)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_DEFUND, "defund", khorgos_participant_event)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_SET_CREDIT_LINES, "set_credit_lines",
                          khorgos_participant_event)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_SET_LIMITS, "set_limits", khorgos_participant_event)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_SUSPEND, "suspend", khorgos_participant_event)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_REINSTATE, "reinstate", khorgos_participant_event)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_SUBMIT_PAYMENTS, "submit_payments", khorgos_payment)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_CANCEL_PAYMENTS, "cancel_payments",
                          khorgos_payment_change)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS, "reprioritize_payments",
                          khorgos_payment_change)
    {KHORGOS_OPERATION_LOOKUP_PAYMENTS, "lookup_payments", sizeof(u128),
     sizeof(struct khorgos_payment), false, false},
    {KHORGOS_OPERATION_GET_QUEUE, "get_queue", sizeof(struct khorgos_settle_filter),
     sizeof(struct khorgos_payment), true, false},
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_RESOLVE_GRIDLOCK, "resolve_gridlock",
                          khorgos_business_day)
    {KHORGOS_OPERATION_GET_POSITIONS, "get_positions", sizeof(struct khorgos_settle_filter),
     sizeof(struct khorgos_position), true, false},
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_OPEN_DAY, "open_day", khorgos_business_day)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_CLOSE_DAY, "close_day", khorgos_business_day)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_SET_HOLIDAYS, "set_holidays", khorgos_holiday)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_SUBMIT_MESSAGE_PAYMENTS, "submit_message_payments",
                          khorgos_message_payment)
    {KHORGOS_OPERATION_GET_PAYMENT_REFERENCES, "get_payment_references",
     sizeof(struct khorgos_references_filter), sizeof(struct khorgos_payment_references), true,
     false},
    {KHORGOS_OPERATION_GET_BUSINESS_DAYS, "get_business_days", sizeof(struct khorgos_day_filter),
     sizeof(struct khorgos_business_day_record), true, false},
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_SET_FX_QUOTES, "set_fx_quotes", khorgos_fx_quote)
    {KHORGOS_OPERATION_WITHDRAW_FX_QUOTES, "withdraw_fx_quotes", sizeof(u128),
     sizeof(struct khorgos_settle_result), false, true},
    {KHORGOS_OPERATION_LOOKUP_FX_QUOTES, "lookup_fx_quotes", sizeof(u128),
     sizeof(struct khorgos_fx_quote), false, false},
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_SET_FX_ROUTING, "set_fx_routing", khorgos_fx_routing)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_OPEN_WINDOW, "open_window", khorgos_window)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_CLOSE_WINDOW, "close_window", khorgos_window)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_SETTLE_WINDOW, "settle_window", khorgos_window)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_UNWIND_WINDOW, "unwind_window", khorgos_window)
    ENGINE_SETTLE_EVENTS_(KHORGOS_OPERATION_ABORT_WINDOW, "abort_window", khorgos_window)
    {KHORGOS_OPERATION_LOOKUP_WINDOWS, "lookup_windows", sizeof(struct khorgos_window),
     sizeof(struct khorgos_window), false, false},
    {KHORGOS_OPERATION_GET_WINDOW_POSITIONS, "get_window_positions",
     sizeof(struct khorgos_window_filter), sizeof(struct khorgos_window_position), true, false},
#undef ENGINE_SETTLE_EVENTS_
};

const struct engine_operation *engine_operation_find(u32 operation) {
    for (u32 index = 0; index < ARRAY_COUNT(engine_operation_table); index++) {
        if (engine_operation_table[index].operation == operation) {
            return &engine_operation_table[index];
        }
    }
    return NULL;
}

const char *khorgos_operation_name(uint32_t operation) {
    const struct engine_operation *entry = engine_operation_find(operation);
    return entry == NULL ? NULL : entry->name;
}

/* Records a query's reply (of a filter) may hold at most: one message body's worth. */
static u32 engine_reply_records_max(const struct engine_operation *entry) {
    ASSERT(entry != NULL && entry->body_single);
    u32 records = LIMIT_RECORDS_MAX(entry->reply_record_size);
    ASSERT(records > 0 && records <= LIMIT_BATCH_EVENTS_MAX);
    return records;
}

/* Records in a request body: the events, ids, or 1 for a filter. */
static u32 engine_body_count(const struct engine_operation *entry, u32 body_size) {
    ASSERT(entry != NULL);
    ASSERT(entry->body_record_size > 0);
    return body_size / entry->body_record_size;
}

/* A client's operation (not an internal pulse nor a register), NULL when unknown. */
static const struct engine_operation *engine_operation_client(u32 operation) {
    const struct engine_operation *entry = engine_operation_find(operation);
    if (entry == NULL || operation == KHORGOS_OPERATION_PULSE ||
        operation == KHORGOS_OPERATION_SETTLE_PULSE || operation == KHORGOS_OPERATION_REGISTER) {
        return NULL;
    }
    ASSERT(entry->body_record_size > 0 && entry->reply_record_size > 0);
    return entry;
}

/* Records of an operation's body at most: a filter is one; events and ids fill at most one
 * message body, and so do their replies (a state change answers one result per event, a lookup
 * one record per id found). */
static u32 engine_events_max(const struct engine_operation *entry) {
    ASSERT(entry != NULL);
    if (entry->body_single) return 1;
    u32 events_max = MIN(LIMIT_RECORDS_MAX(entry->body_record_size),
                         LIMIT_RECORDS_MAX(entry->reply_record_size));
    ASSERT(events_max > 0 && events_max <= LIMIT_BATCH_EVENTS_MAX);
    return events_max;
}

uint32_t khorgos_events_max(uint32_t operation) {
    const struct engine_operation *entry = engine_operation_client(operation);
    return entry == NULL ? 0 : engine_events_max(entry);
}

uint32_t khorgos_reply_size_max(uint32_t operation, uint32_t body_size) {
    const struct engine_operation *entry = engine_operation_client(operation);
    if (entry == NULL) return 0;
    u32 records = entry->body_single ? engine_reply_records_max(entry)
                                     : MIN(engine_body_count(entry, body_size),
                                           engine_events_max(entry));
    ASSERT((u64)records * entry->reply_record_size <= LIMIT_REPLY_BODY_BYTES_MAX);
    return records * entry->reply_record_size;
}

/* Whether an event of create_accounts or create_transfers names an id of the settlement's own
 * namespace (settle.h: its accounts and transfers): a client's record there would break the
 * settlement's invariants (a clearing account off zero) or take an id the settlement creates
 * later, whose creation would then fail. */
static bool engine_names_settlement(const struct khorgos_request *request, u32 count) {
    ASSERT(request->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS ||
           request->operation == KHORGOS_OPERATION_CREATE_TRANSFERS);
    ASSERT(request->body != NULL || count == 0);
    for (u32 index = 0; index < count; index++) {
        u128 ids[4] = {0, 0, 0, 0};
        if (request->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS) {
            struct khorgos_account account;
            memcpy(&account, (const u8 *)request->body + (size_t)index * sizeof(account),
                   sizeof(account));
            ids[0] = account.id;
        } else {
            struct khorgos_transfer transfer;
            memcpy(&transfer, (const u8 *)request->body + (size_t)index * sizeof(transfer),
                   sizeof(transfer));
            ids[0] = transfer.id;
            ids[1] = transfer.debit_account_id;
            ids[2] = transfer.credit_account_id;
            ids[3] = transfer.pending_id;
        }
        for (u32 field = 0; field < ARRAY_COUNT(ids); field++) {
            if ((u32)(ids[field] >> 112) == SETTLE_NAMESPACE) return true;
        }
    }
    return false;
}

/* A register: only with a client's session, with an empty body. */
static khorgos_error engine_validate_register(const struct khorgos *engine,
                                              const struct khorgos_request *request) {
    ASSERT(request->operation == KHORGOS_OPERATION_REGISTER);
    if (request->client == NULL) return KHORGOS_ERROR_invalid_operation;
    if (request->body_size != 0) return KHORGOS_ERROR_body_size;
    if (request->reply != NULL && request->reply_capacity < sizeof(u64)) {
        return KHORGOS_ERROR_reply_too_small;
    }
    return engine_session_check(engine, request->operation, request->client, 0);
}

/* advance_clock: one u64, on a manual clock, that does not pass 2^64 - 1. */
static khorgos_error engine_validate_clock(const struct khorgos *engine,
                                          const struct khorgos_request *request, u32 count) {
    ASSERT(request->operation == KHORGOS_OPERATION_ADVANCE_CLOCK);
    if (count != 1) return KHORGOS_ERROR_body_size;
    if (!engine->clock_manual) return KHORGOS_ERROR_clock_not_manual;
    u64 nanoseconds = 0;
    memcpy(&nanoseconds, request->body, sizeof(nanoseconds));
    if (nanoseconds > U64_MAX - engine->clock_manual_ns) return KHORGOS_ERROR_invalid_argument;
    ASSERT(engine->clock_manual_ns + nanoseconds >= engine->clock_manual_ns);
    return KHORGOS_ERROR_ok;
}

khorgos_error engine_validate(const struct khorgos *engine, const struct khorgos_request *request) {
    ASSERT(engine != NULL && request != NULL);
    if (request->operation == KHORGOS_OPERATION_REGISTER) {
        return engine_validate_register(engine, request);
    }
    const struct engine_operation *entry = engine_operation_client(request->operation);
    if (entry == NULL) return KHORGOS_ERROR_invalid_operation;
    if (request->body_size % entry->body_record_size != 0) return KHORGOS_ERROR_body_size;
    if (request->body_size > 0 && request->body == NULL) return KHORGOS_ERROR_invalid_argument;
    u32 count = engine_body_count(entry, request->body_size);
    if (entry->body_single && count != 1) return KHORGOS_ERROR_body_size;
    /* In events and so in bytes: the body, and the reply, each fit in one message. */
    if (count > engine_events_max(entry)) return KHORGOS_ERROR_too_many_events;
    ASSERT(request->body_size <= LIMIT_REQUEST_BODY_BYTES_MAX);
    u32 reply_size_max = khorgos_reply_size_max(request->operation, request->body_size);
    if (request->reply_capacity < reply_size_max) return KHORGOS_ERROR_reply_too_small;
    if (reply_size_max > 0 && request->reply == NULL) return KHORGOS_ERROR_invalid_argument;
    if (request->operation == KHORGOS_OPERATION_ADVANCE_CLOCK) {
        khorgos_error error = engine_validate_clock(engine, request, count);
        if (error != KHORGOS_ERROR_ok) return error;
    }
    if (request->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS &&
        !ledger_capacity_accounts(&engine->ledger, count)) {
        return KHORGOS_ERROR_capacity_full;
    }
    if (request->operation == KHORGOS_OPERATION_CREATE_TRANSFERS &&
        !ledger_capacity_transfers(&engine->ledger, count)) {
        return KHORGOS_ERROR_capacity_full;
    }
    if ((request->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS ||
         request->operation == KHORGOS_OPERATION_CREATE_TRANSFERS) &&
        engine_names_settlement(request, count)) {
        return KHORGOS_ERROR_invalid_argument;
    }
    if (request->client != NULL) {
        return engine_session_check(engine, request->operation, request->client, reply_size_max);
    }
    return KHORGOS_ERROR_ok;
}

bool engine_operation_journaled(const struct engine_operation *entry,
                                const struct khorgos_client_request *client) {
    ASSERT(entry != NULL);
    ASSERT(client == NULL || client->client != 0);
    return entry->changes_state || client != NULL;
}

/* A journaled request is counted once applied: its timestamp becomes the last, and it takes
 * the next sequence number. */
static void engine_apply_count(struct khorgos *engine, u32 operation, u64 timestamp) {
    ASSERT(timestamp > engine->timestamp_last);
    engine->timestamp_last = timestamp;
    /* A settlement request may book ledger events after T (settle.h, "Timestamps"). */
    if (settle_operation_is(operation)) {
        ASSERT(engine->settle.timestamp_last >= timestamp);
        engine->timestamp_last = engine->settle.timestamp_last;
    }
    engine->request_count++;
    ASSERT(engine->request_count > 0);
}

u32 engine_apply_request(struct khorgos *engine, struct khorgos_request *request,
                         u64 timestamp) {
    ASSERT(engine != NULL && request != NULL);
    const struct engine_operation *entry = engine_operation_find(request->operation);
    ASSERT(entry != NULL);
    /* Authorization may apply a request in parts (the actor's own events, a read page by page):
     * each part outside the session, which then takes the whole reply once. */
    u32 reply_size = engine_auth_apply(engine, &request->actor, request->operation, timestamp,
                                       request->body, request->body_size, request->reply,
                                       &request->error);
    if (request->client == NULL) return reply_size;
    /* A session's read is journaled, and so counted, like a state change. */
    if (!entry->changes_state) engine_apply_count(engine, request->operation, timestamp);
    engine_session_apply(engine, request->client, request->operation, engine->request_count,
                         timestamp, request->reply, reply_size, request->error);
    return reply_size;
}

/* advance_clock applied: the clock moves by the body's nanoseconds (validated live; a replay
 * that would pass 2^64 - 1 stops there); the reply is its new time. One record. */
static u32 engine_clock_move(struct khorgos *engine, const void *body, void *reply) {
    ASSERT(body != NULL && reply != NULL);
    u64 nanoseconds = 0;
    memcpy(&nanoseconds, body, sizeof(nanoseconds));
    u64 room = U64_MAX - engine->clock_manual_ns;
    engine->clock_manual_ns += MIN(nanoseconds, room);
    memcpy(reply, &engine->clock_manual_ns, sizeof(engine->clock_manual_ns));
    ASSERT(engine->clock_manual_ns >= KHORGOS_MANUAL_CLOCK_START_NS || room < nanoseconds ||
           !engine->clock_manual);
    return 1;
}

u32 engine_apply(struct khorgos *engine, u32 operation, u64 timestamp, const void *body,
                 u32 body_size, void *reply, const struct khorgos_client_request *client) {
    ASSERT(engine != NULL);
    const struct engine_operation *entry = engine_operation_find(operation);
    ASSERT(entry != NULL);
    bool journaled = engine_operation_journaled(entry, client);
    ASSERT(timestamp > 0 || !journaled);
    u32 count = operation == KHORGOS_OPERATION_PULSE || operation == KHORGOS_OPERATION_REGISTER
                    ? 0
                    : engine_body_count(entry, body_size);
    u32 records_max = entry->body_single ? engine_reply_records_max(entry) : count;
    u32 written = 0;
    switch (operation) {
    case KHORGOS_OPERATION_PULSE: ledger_pulse(&engine->ledger, timestamp); break;
    case KHORGOS_OPERATION_ADVANCE_CLOCK: written = engine_clock_move(engine, body, reply); break;
    case KHORGOS_OPERATION_REGISTER: /* the session table's, below; the reply its number */
        if (reply != NULL) {
            u64 session = engine->request_count + 1; /* the sequence this record takes */
            memcpy(reply, &session, sizeof(session));
            written = 1;
        }
        break;
    case KHORGOS_OPERATION_CREATE_ACCOUNTS:
        ledger_create_accounts(&engine->ledger, timestamp, body, count, reply);
        written = count;
        break;
    case KHORGOS_OPERATION_CREATE_TRANSFERS:
        ledger_create_transfers(&engine->ledger, timestamp, body, count, reply);
        written = count;
        break;
    case KHORGOS_OPERATION_LOOKUP_ACCOUNTS:
        written = ledger_lookup_accounts(&engine->ledger, body, count, reply);
        break;
    case KHORGOS_OPERATION_LOOKUP_TRANSFERS:
        written = ledger_lookup_transfers(&engine->ledger, body, count, reply);
        break;
    case KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS:
        written = ledger_get_account_transfers(&engine->ledger, body, reply, records_max);
        break;
    case KHORGOS_OPERATION_GET_ACCOUNT_BALANCES:
        written = ledger_get_account_balances(&engine->ledger, body, reply, records_max);
        break;
    case KHORGOS_OPERATION_QUERY_ACCOUNTS:
        written = ledger_query_accounts(&engine->ledger, body, reply, records_max);
        break;
    case KHORGOS_OPERATION_QUERY_TRANSFERS:
        written = ledger_query_transfers(&engine->ledger, body, reply, records_max);
        break;
    default:
        ASSERT(settle_operation_is(operation) && "operation in the table but not dispatched");
        written = settle_apply(&engine->settle, operation, timestamp, body, count, reply);
        break;
    }
    if (entry->changes_state) ledger_index_update(&engine->ledger);
    if (journaled) engine_apply_count(engine, operation, timestamp);
    u32 reply_size = written * entry->reply_record_size;
    if (client != NULL) {
        engine_session_apply(engine, client, operation, engine->request_count, timestamp, reply,
                             reply_size, KHORGOS_ERROR_ok);
    }
    return reply_size;
}

uint64_t khorgos_clock_now(const struct khorgos *engine) {
    ASSERT(engine != NULL);
    return engine->clock_manual ? engine->clock_manual_ns : base_clock_realtime_ns();
}

/* Step 2 for a state change of `count` events: the timestamp T of its last event. Its events
 * take the `count` timestamps ending at T, the first of them max(clock, last + 1): none is
 * before the clock (nor, with a manual clock, before its documented start). */
static u64 engine_timestamp_next(const struct khorgos *engine, u32 count) {
    u64 first = MAX(khorgos_clock_now(engine), engine->timestamp_last + 1);
    u64 next = first + MAX(count, 1u) - 1;
    ASSERT(next > engine->timestamp_last); /* no wrap: u64 ns lasts until the year 2554 */
    ASSERT(next >= first);
    return next;
}

/* Expires what is due by `timestamp` as its own journaled request. */
static void engine_pulse_if_due(struct khorgos *engine, u64 timestamp) {
    u64 expiry_next = ledger_expiry_next(&engine->ledger);
    if (expiry_next == 0 || expiry_next > timestamp) return;
    u64 pulse_timestamp = engine_timestamp_next(engine, 1);
    if (engine_journal_append(engine, KHORGOS_OPERATION_PULSE, pulse_timestamp, NULL, NULL, NULL,
                              0) != KHORGOS_ERROR_ok) {
        return; /* the engine stopped */
    }
    engine_apply(engine, KHORGOS_OPERATION_PULSE, pulse_timestamp, NULL, 0, NULL, NULL);
    ASSERT(ledger_expiry_next(&engine->ledger) == 0 ||
           ledger_expiry_next(&engine->ledger) > pulse_timestamp);
}

/* Fires settlement timers (cut-offs, settle-by, timed resolution) due by `timestamp`, as an
 * internal journaled request with its own timestamp, the way expiries are. */
static void engine_settle_pulse_if_due(struct khorgos *engine, u64 timestamp) {
    u64 due = settle_timer_next(&engine->settle);
    if (due == 0 || due > timestamp || engine->stopped) return;
    u64 pulse_timestamp = engine_timestamp_next(engine, 1);
    if (engine_journal_append(engine, KHORGOS_OPERATION_SETTLE_PULSE, pulse_timestamp, NULL, NULL,
                              NULL, 0) != KHORGOS_ERROR_ok) {
        return; /* the engine stopped */
    }
    engine_apply(engine, KHORGOS_OPERATION_SETTLE_PULSE, pulse_timestamp, NULL, 0, NULL, NULL);
    ASSERT(settle_timer_next(&engine->settle) == 0 ||
           settle_timer_next(&engine->settle) > pulse_timestamp);
}

khorgos_error khorgos_execute_begin(struct khorgos *engine, struct khorgos_request *requests,
                                    uint32_t count, uint64_t *ticket) {
    ASSERT(engine != NULL && ticket != NULL);
    ASSERT(requests != NULL || count == 0);
    *ticket = 0;
    if (engine->stopped) return KHORGOS_ERROR_stopped;
    for (u32 index = 0; index < count; index++) {
        struct khorgos_request *request = &requests[index];
        request->reply_size = 0;
        request->timestamp = 0;
        request->error = engine_validate(engine, request);
        if (request->error == KHORGOS_ERROR_ok) request->error = engine_auth_check(engine, request);
        if (request->error != KHORGOS_ERROR_ok) continue;
        const struct engine_operation *entry = engine_operation_find(request->operation);
        /* A read of a session takes a timestamp of its own too: it is journaled. */
        u32 events = entry->changes_state ? engine_body_count(entry, request->body_size) : 1;
        bool journaled = engine_operation_journaled(entry, request->client);
        /* Expire first what is due by the time this request would take effect. */
        engine_pulse_if_due(engine, entry->changes_state ? engine_timestamp_next(engine, events)
                                                         : khorgos_clock_now(engine));
        engine_settle_pulse_if_due(engine, entry->changes_state
                                               ? engine_timestamp_next(engine, events)
                                               : khorgos_clock_now(engine));
        u64 timestamp = journaled ? engine_timestamp_next(engine, events) : engine->timestamp_last;
        if (engine->stopped ||
            (journaled && engine_journal_append(engine, request->operation, timestamp,
                                                &request->actor, request->client, request->body,
                                                request->body_size) != KHORGOS_ERROR_ok)) {
            break; /* a storage failure: no reply of this batch may be used */
        }
        request->timestamp = timestamp;
        request->reply_size = engine_apply_request(engine, request, timestamp);
        if (request->operation == KHORGOS_OPERATION_ADVANCE_CLOCK) {
            /* What the moved clock made due fires now, as khorgos_clock_advance does. */
            engine_pulse_if_due(engine, engine->clock_manual_ns);
            engine_settle_pulse_if_due(engine, engine->clock_manual_ns);
        }
    }
    /* Group commit: the batch goes to the journal's writer; its replies are released by
     * khorgos_execute_wait once its records are durable. Every request of it, read-only ones
     * too, waits for everything applied before it. */
    *ticket = engine->request_count;
    return engine_journal_submit(engine);
}

khorgos_error khorgos_execute_wait(struct khorgos *engine, uint64_t ticket) {
    ASSERT(engine != NULL);
    if (ticket > engine->request_count) return KHORGOS_ERROR_invalid_argument;
    return engine_journal_wait(engine, ticket);
}

khorgos_error khorgos_execute(struct khorgos *engine, struct khorgos_request *requests,
                              uint32_t count) {
    ASSERT(engine != NULL);
    ASSERT(requests != NULL || count == 0);
    uint64_t ticket = 0;
    khorgos_error error = khorgos_execute_begin(engine, requests, count, &ticket);
    if (error == KHORGOS_ERROR_ok) error = khorgos_execute_wait(engine, ticket);
    return error;
}

khorgos_error khorgos_clock_advance(struct khorgos *engine, uint64_t nanoseconds) {
    ASSERT(engine != NULL);
    if (!engine->clock_manual) return KHORGOS_ERROR_clock_not_manual;
    if (nanoseconds > U64_MAX - engine->clock_manual_ns) return KHORGOS_ERROR_invalid_argument;
    if (engine->stopped) return KHORGOS_ERROR_stopped;
    engine->clock_manual_ns += nanoseconds;
    engine_pulse_if_due(engine, engine->clock_manual_ns);
    engine_settle_pulse_if_due(engine, engine->clock_manual_ns);
    return engine_journal_commit(engine);
}

khorgos_error engine_clock_set(struct khorgos *engine, u64 clock_ns) {
    ASSERT(engine != NULL);
    ASSERT(clock_ns != 0);
    if (!engine->clock_manual) return KHORGOS_ERROR_clock_not_manual;
    if (engine->stopped) return KHORGOS_ERROR_stopped;
    engine->clock_manual_ns = clock_ns;
    engine_pulse_if_due(engine, engine->clock_manual_ns);
    engine_settle_pulse_if_due(engine, engine->clock_manual_ns);
    return engine_journal_commit(engine);
}

khorgos_error khorgos_memory_prefault(struct khorgos *engine) {
    ASSERT(engine != NULL);
    ASSERT(!engine->ledger.chain_open);
    if (engine->stopped) return KHORGOS_ERROR_stopped;
    ledger_prefault(&engine->ledger);
    return KHORGOS_ERROR_ok;
}

/* The engine's struct holds the session table's entries (ENGINE_SESSIONS_MAX of them), about
 * 122 KiB: mapped on its own rather than taken from malloc's heap, where a chunk of that size
 * freed at every close lets the heap shrink past its trim threshold and grow again at the next
 * open, so that a program opening engines one after another (the simulator, tests) paid page
 * faults and zeroing for every array of the next engine. Mapped memory starts zeroed. */
static struct khorgos *engine_struct_map(void) {
    ASSERT(sizeof(struct khorgos) > 0);
    void *memory = mmap(NULL, sizeof(struct khorgos), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return memory == MAP_FAILED ? NULL : memory;
}

static void engine_struct_unmap(struct khorgos *engine) {
    ASSERT(engine != NULL);
    int unmapped = munmap(engine, sizeof(*engine));
    ASSERT(unmapped == 0);
}

khorgos_error khorgos_open_memory(struct khorgos **out, const struct khorgos_config *config) {
    ASSERT(out != NULL);
    ASSERT(config != NULL);
    *out = NULL;
    struct ledger_config ledger_config = {
        .account_count_max = config->account_count_max ? config->account_count_max
                                                       : LIMIT_ACCOUNT_COUNT_DEFAULT,
        .transfer_count_max = config->transfer_count_max ? config->transfer_count_max
                                                         : LIMIT_TRANSFER_COUNT_DEFAULT,
        .account_balance_count_max = config->account_balance_count_max
                                         ? config->account_balance_count_max
                                         : LIMIT_ACCOUNT_BALANCE_COUNT_DEFAULT,
    };
    if (ledger_config.account_count_max > LIMIT_ACCOUNT_COUNT_MAX ||
        ledger_config.transfer_count_max > LIMIT_TRANSFER_COUNT_MAX ||
        ledger_config.account_balance_count_max > LIMIT_ACCOUNT_BALANCE_COUNT_MAX) {
        return KHORGOS_ERROR_invalid_argument;
    }
    struct khorgos *engine = engine_struct_map();
    if (engine == NULL) return KHORGOS_ERROR_out_of_memory;
    khorgos_error error = engine_auth_init(engine);
    if (error != KHORGOS_ERROR_ok) goto free_engine;
    error = ledger_init(&engine->ledger, &ledger_config);
    if (error != KHORGOS_ERROR_ok) goto free_engine;
    struct settle_config settle_config = {.participant_count_max = config->participant_count_max,
                                          .payment_count_max = config->payment_count_max};
    error = settle_init(&engine->settle, &settle_config, &engine->ledger);
    if (error != KHORGOS_ERROR_ok) {
        ledger_deinit(&engine->ledger);
        goto free_engine;
    }
    error = engine_sessions_init(&engine->sessions);
    if (error != KHORGOS_ERROR_ok) {
        settle_deinit(&engine->settle);
        ledger_deinit(&engine->ledger);
        goto free_engine;
    }
    engine->clock_manual = config->clock_manual != 0;
    engine->clock_manual_ns = KHORGOS_MANUAL_CLOCK_START_NS;
    *out = engine;
    return KHORGOS_ERROR_ok;
free_engine:
    engine_auth_deinit(engine);
    engine_struct_unmap(engine);
    return error;
}

void khorgos_close(struct khorgos *engine) {
    if (engine == NULL) return;
    engine_storage_close(engine);
    engine_sessions_deinit(&engine->sessions);
    settle_deinit(&engine->settle);
    ledger_deinit(&engine->ledger);
    engine_auth_deinit(engine);
    engine_struct_unmap(engine);
}
