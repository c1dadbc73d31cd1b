/*
 * engine_auth.c: authorization inside the engine. Every client request carries its actor
 * (struct khorgos_actor: operator, auditor, replica, or a participant's BIC); the engine
 * decides what the actor may do, here, in the apply step, so that a replay of the journal
 * (which records the actor) decides the same way. docs/security.md states the model.
 *
 * The rules:
 *   - the operator may do everything; the auditor reads everything and changes nothing; a
 *     replica uses no client operation;
 *   - a participant's rights come from its participant record at the time of the request:
 *     every participant has a bank's rights (submit, cancel and reprioritise the payments it
 *     pays, with their ISO 20022 references when it is the message's sender too; read its own
 *     accounts, transfers, payments, positions, queues and window positions, and the
 *     references of the messages it sent); a settlement agent adds fund, defund,
 *     set_credit_lines and set_limits in the currencies of its record; a liquidity provider
 *     adds set_fx_quotes and withdraw_fx_quotes of its own quotes. A BIC without a record has
 *     a bank's rights (which reach nothing).
 * What a refusal looks like:
 *   - an operation the actor may never use: the request error forbidden. A state-changing one
 *     is still journaled and applied as "nothing" (it takes its sequence and timestamp), so
 *     that the journal shows every refused attempt; a read-only one is not journaled;
 *   - an event about another participant (a payment it does not pay, a currency it is not the
 *     agent of, a quote of another provider, a change naming another payer): the event status
 *     forbidden, timestamp 0, and nothing changes. The allowed events of the request are
 *     applied together, as a request of their own, at the request's timestamp;
 *   - a read of others' data: those records are left out of the reply, as if not found. A
 *     filter naming another participant's BIC answers nothing; an empty BIC means one's own.
 * Authorization of an event comes before the settlement layer looks any id up, and is
 * decided from the event alone. Request, payment and quote ids are then scoped by participant
 * (the settlement layer keys them by participant and id: settle.h, "Idempotency"), so another
 * participant's id is not found, and no status, timestamp or error tells one participant about
 * another's requests.
 */
#include "engine/engine.h"
#include "storage/storage.h"

#include <stdlib.h>

_Static_assert(sizeof(struct khorgos_actor) == 16, "an actor is 16 bytes");
_Static_assert(KHORGOS_BIC_BYTES < STORAGE_ACTOR_BYTES && STORAGE_ACTOR_BYTES == 16,
               "a BIC fits the journal's actor field");
_Static_assert(offsetof(struct khorgos_account, timestamp) ==
                   offsetof(struct khorgos_transfer, timestamp),
               "queries page accounts and transfers by the same field");

/* The journal's actor text of each role; "local" (written before actors were carried) and
 * "engine" (internal timer work) replay as the operator. */
#define ENGINE_AUTH_OPERATOR "operator"
#define ENGINE_AUTH_AUDITOR "auditor"
#define ENGINE_AUTH_REPLICA "replica"

/* The scratch of one request: a body of the allowed events, or a query's unfiltered page, and
 * which events are allowed. Reserved at open. */
struct engine_auth_scratch {
    u8 records[LIMIT_MESSAGE_BODY_BYTES_MAX];
    u8 allowed[LIMIT_BATCH_EVENTS_MAX];
};

/* What one actor may do during one request. */
struct engine_rights {
    u32 role;                    /* enum khorgos_actor_role */
    u8 participant_role;         /* its record's role; 0 without a record */
    u32 number;                  /* its participant number, 0 without a record */
    char bic[KHORGOS_BIC_BYTES]; /* normalised */
    const struct khorgos_participant *record;
};

khorgos_error engine_auth_init(struct khorgos *engine) {
    ASSERT(engine != NULL);
    ASSERT(engine->auth_scratch == NULL);
    engine->auth_scratch = malloc(sizeof(struct engine_auth_scratch));
    return engine->auth_scratch == NULL ? KHORGOS_ERROR_out_of_memory : KHORGOS_ERROR_ok;
}

void engine_auth_deinit(struct khorgos *engine) {
    ASSERT(engine != NULL);
    free(engine->auth_scratch);
    engine->auth_scratch = NULL;
    ASSERT(engine->auth_scratch == NULL);
}

/* Whether a text BIC (8 or 11 characters, NUL-padded) normalises to `own`. */
static bool engine_auth_bic_is(const char bic[KHORGOS_BIC_BYTES],
                               const char own[KHORGOS_BIC_BYTES]) {
    ASSERT(bic != NULL && own != NULL);
    char normalised[KHORGOS_BIC_BYTES];
    memcpy(normalised, bic, sizeof(normalised));
    if (!settle_bic_normalize(normalised)) return false;
    ASSERT(normalised[0] != '\0');
    return memcmp(normalised, own, KHORGOS_BIC_BYTES) == 0;
}

bool engine_auth_actor_valid(const struct khorgos_actor *actor) {
    ASSERT(actor != NULL);
    if (actor->reserved != 0 || actor->role > KHORGOS_ACTOR_PARTICIPANT) return false;
    char bic[KHORGOS_BIC_BYTES];
    memcpy(bic, actor->bic, sizeof(bic));
    if (actor->role == KHORGOS_ACTOR_PARTICIPANT) return settle_bic_normalize(bic);
    for (u32 index = 0; index < KHORGOS_BIC_BYTES; index++) {
        if (bic[index] != '\0') return false;
    }
    return true;
}

/* The rights of an actor now: a participant's from its record, found by its BIC. */
static void engine_rights_of(const struct khorgos *engine, const struct khorgos_actor *actor,
                             struct engine_rights *rights) {
    ASSERT(engine != NULL && actor != NULL);
    memset(rights, 0, sizeof(*rights));
    rights->role = actor->role;
    if (actor->role != KHORGOS_ACTOR_PARTICIPANT) return;
    memcpy(rights->bic, actor->bic, sizeof(rights->bic));
    /* Valid when live (engine_auth_actor_valid); a journaled one that is not reaches nothing. */
    if (!settle_bic_normalize(rights->bic)) memset(rights->bic, 0, sizeof(rights->bic));
    const struct settle *settle = &engine->settle;
    for (u32 index = 0; index < settle->participant_count; index++) {
        const struct khorgos_participant *record = &settle->participants[index].record;
        if (memcmp(record->bic, rights->bic, KHORGOS_BIC_BYTES) == 0) {
            rights->record = record;
            rights->participant_role = record->role;
            rights->number = record->number;
            break;
        }
    }
    ASSERT(rights->record == NULL || rights->number > 0);
}

/* Whether the rights allow the operation at all (each event may still be refused). */
static bool engine_rights_permit(const struct engine_rights *rights, u32 operation) {
    const struct engine_operation *entry = engine_operation_find(operation);
    ASSERT(entry != NULL);
    switch (rights->role) {
    case KHORGOS_ACTOR_OPERATOR: return true;
    case KHORGOS_ACTOR_AUDITOR: return !entry->changes_state;
    case KHORGOS_ACTOR_REPLICA: return false;
    default: break;
    }
    ASSERT(rights->role == KHORGOS_ACTOR_PARTICIPANT);
    if (!entry->changes_state) return true;
    switch (operation) {
    case KHORGOS_OPERATION_SUBMIT_PAYMENTS:
    case KHORGOS_OPERATION_SUBMIT_MESSAGE_PAYMENTS:
    case KHORGOS_OPERATION_CANCEL_PAYMENTS:
    case KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS: return true;
    case KHORGOS_OPERATION_FUND:
    case KHORGOS_OPERATION_DEFUND:
    case KHORGOS_OPERATION_SET_CREDIT_LINES:
    case KHORGOS_OPERATION_SET_LIMITS:
        return rights->participant_role == KHORGOS_ROLE_SETTLEMENT_AGENT;
    case KHORGOS_OPERATION_SET_FX_QUOTES:
    case KHORGOS_OPERATION_WITHDRAW_FX_QUOTES:
        return rights->participant_role == KHORGOS_ROLE_LIQUIDITY_PROVIDER;
    default: return false;
    }
}

khorgos_error engine_auth_check(const struct khorgos *engine,
                                const struct khorgos_request *request) {
    ASSERT(engine != NULL && request != NULL);
    if (!engine_auth_actor_valid(&request->actor)) return KHORGOS_ERROR_invalid_argument;
    const struct engine_operation *entry = engine_operation_find(request->operation);
    ASSERT(entry != NULL);
    struct engine_rights rights;
    engine_rights_of(engine, &request->actor, &rights);
    /* A state-changing request the actor may not use is journaled, then refused in apply. */
    if (!entry->changes_state && !engine_rights_permit(&rights, request->operation)) {
        return KHORGOS_ERROR_forbidden;
    }
    return KHORGOS_ERROR_ok;
}

/* Whether a ledger account is one of the participant's own (its settlement and credit
 * accounts in every currency; the settlement layer's id layout, settle_account_id). */
static bool engine_rights_account(const struct engine_rights *rights, u128 id) {
    ASSERT(rights->role == KHORGOS_ACTOR_PARTICIPANT);
    if (rights->number == 0 || (u32)(id >> 112) != SETTLE_NAMESPACE) return false;
    u32 kind = (u32)(id >> 104) & 0xFFu;
    bool participant_kind = kind == SETTLE_ACCOUNT_SETTLEMENT || kind == SETTLE_ACCOUNT_CREDIT;
    ASSERT(rights->number <= U32_MAX);
    return participant_kind && (u32)id == rights->number;
}

/* Whether one event of a permitted state-changing request is about the participant itself,
 * from the event alone: no id is looked up here. The ids it names are then looked up in the
 * participant's own scope (settle_actor_set), so another's id is simply not found. */
static bool engine_rights_event(const struct engine_rights *rights, u32 operation,
                                const u8 *event) {
    ASSERT(rights->role == KHORGOS_ACTOR_PARTICIPANT);
    ASSERT(event != NULL);
    if (rights->bic[0] == '\0') return false; /* a journaled actor that is no valid BIC */
    if (operation == KHORGOS_OPERATION_SUBMIT_PAYMENTS) {
        struct khorgos_payment payment;
        memcpy(&payment, event, sizeof(payment));
        return engine_auth_bic_is(payment.debtor, rights->bic);
    }
    if (operation == KHORGOS_OPERATION_SUBMIT_MESSAGE_PAYMENTS) { /* it pays, it sent */
        struct khorgos_message_payment message;
        memcpy(&message, event, sizeof(message));
        return engine_auth_bic_is(message.payment.debtor, rights->bic) &&
               engine_auth_bic_is(message.references.sender, rights->bic);
    }
    if (operation == KHORGOS_OPERATION_CANCEL_PAYMENTS ||
        operation == KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS) {
        struct khorgos_payment_change change;
        memcpy(&change, event, sizeof(change));
        static const char empty[KHORGOS_BIC_BYTES];
        return memcmp(change.debtor, empty, KHORGOS_BIC_BYTES) == 0 ||
               engine_auth_bic_is(change.debtor, rights->bic);
    }
    if (operation == KHORGOS_OPERATION_SET_FX_QUOTES) {
        struct khorgos_fx_quote quote;
        memcpy(&quote, event, sizeof(quote));
        return engine_auth_bic_is(quote.provider, rights->bic);
    }
    if (operation == KHORGOS_OPERATION_WITHDRAW_FX_QUOTES) return true; /* its own ids */
    /* fund, defund, set_credit_lines, set_limits: a settlement agent, in its currencies. */
    struct khorgos_participant_event change;
    memcpy(&change, event, sizeof(change));
    ASSERT(rights->record != NULL);
    for (u32 index = 0; index < KHORGOS_PARTICIPANT_CURRENCIES_MAX; index++) {
        if (change.currency != 0 && rights->record->currencies[index] == change.currency) {
            return true;
        }
    }
    return false;
}

/* A state-changing request applied as nothing: it takes its sequence and timestamp. */
static void engine_auth_apply_nothing(struct khorgos *engine, u64 timestamp) {
    ASSERT(timestamp > engine->timestamp_last);
    engine->timestamp_last = timestamp;
    engine->request_count++;
    ASSERT(engine->request_count > 0);
}

/* A permitted state-changing request of a participant: the events about others get forbidden,
 * the others are applied together. */
static u32 engine_auth_events(struct khorgos *engine, const struct engine_rights *rights,
                              u32 operation, u64 timestamp, const void *body, u32 body_size,
                              void *reply) {
    const struct engine_operation *entry = engine_operation_find(operation);
    ASSERT(entry != NULL && entry->reply_record_size == sizeof(struct khorgos_settle_result));
    struct engine_auth_scratch *scratch = engine->auth_scratch;
    u32 count = body_size / entry->body_record_size;
    u32 kept = 0;
    for (u32 index = 0; index < count; index++) {
        const u8 *event = (const u8 *)body + (size_t)index * entry->body_record_size;
        scratch->allowed[index] = engine_rights_event(rights, operation, event);
        if (!scratch->allowed[index]) continue;
        memcpy(scratch->records + (size_t)kept * entry->body_record_size, event,
               entry->body_record_size);
        kept++;
    }
    if (kept == count) {
        return engine_apply(engine, operation, timestamp, body, body_size, reply, NULL);
    }
    if (kept == 0) {
        engine_auth_apply_nothing(engine, timestamp);
    } else {
        u32 written = engine_apply(engine, operation, timestamp, scratch->records,
                                   kept * entry->body_record_size, reply, NULL);
        ASSERT(written == kept * entry->reply_record_size);
    }
    /* Spread the kept results to their events' places, from the last, and fill the others. */
    struct khorgos_settle_result *results = reply;
    u32 next = kept;
    for (u32 index = count; index-- > 0;) {
        if (scratch->allowed[index]) {
            results[index] = results[--next];
        } else {
            results[index] = (struct khorgos_settle_result){.status = KHORGOS_SETTLE_forbidden};
        }
    }
    ASSERT(next == 0);
    return count * entry->reply_record_size;
}

/* Whether the participant may see one record of a read's reply. */
static bool engine_rights_record(const struct engine_rights *rights, u32 operation,
                                 const u8 *record) {
    ASSERT(rights->role == KHORGOS_ACTOR_PARTICIPANT && record != NULL);
    switch (operation) {
    case KHORGOS_OPERATION_LOOKUP_ACCOUNTS:
    case KHORGOS_OPERATION_QUERY_ACCOUNTS: {
        struct khorgos_account account;
        memcpy(&account, record, sizeof(account));
        return engine_rights_account(rights, account.id);
    }
    case KHORGOS_OPERATION_LOOKUP_TRANSFERS:
    case KHORGOS_OPERATION_QUERY_TRANSFERS: {
        struct khorgos_transfer transfer;
        memcpy(&transfer, record, sizeof(transfer));
        return engine_rights_account(rights, transfer.debit_account_id) ||
               engine_rights_account(rights, transfer.credit_account_id);
    }
    case KHORGOS_OPERATION_LOOKUP_PAYMENTS: {
        struct khorgos_payment payment;
        memcpy(&payment, record, sizeof(payment));
        return memcmp(payment.debtor, rights->bic, KHORGOS_BIC_BYTES) == 0 ||
               memcmp(payment.creditor, rights->bic, KHORGOS_BIC_BYTES) == 0;
    }
    case KHORGOS_OPERATION_LOOKUP_FX_QUOTES: {
        struct khorgos_fx_quote quote;
        memcpy(&quote, record, sizeof(quote));
        return memcmp(quote.provider, rights->bic, KHORGOS_BIC_BYTES) == 0;
    }
    case KHORGOS_OPERATION_GET_PAYMENT_REFERENCES: { /* the messages it sent */
        struct khorgos_payment_references references;
        memcpy(&references, record, sizeof(references));
        return memcmp(references.sender, rights->bic, KHORGOS_BIC_BYTES) == 0;
    }
    default: return true; /* windows: every participant's, their records hold only counts */
    }
}

/* Moves the records the participant may see to the front of `records`; returns their count. */
static u32 engine_auth_keep(const struct engine_rights *rights, u32 operation, u8 *records,
                            u32 count, u32 record_size) {
    ASSERT(records != NULL || count == 0);
    ASSERT(record_size > 0);
    u32 kept = 0;
    for (u32 index = 0; index < count; index++) {
        const u8 *record = records + (size_t)index * record_size;
        if (!engine_rights_record(rights, operation, record)) continue;
        if (kept != index) memmove(records + (size_t)kept * record_size, record, record_size);
        kept++;
    }
    return kept;
}

/* query_accounts and query_transfers for a participant: page through the query, keeping its
 * own records, until the filter's limit is met or the query is exhausted, so that a page of
 * others' records does not end the answer early. */
static u32 engine_auth_query(struct khorgos *engine, const struct engine_rights *rights,
                             u32 operation, const void *body, void *reply) {
    struct khorgos_query_filter filter;
    memcpy(&filter, body, sizeof(filter));
    const u32 record_size = sizeof(struct khorgos_account);
    u32 asked = MIN(filter.limit, LIMIT_RECORDS_MAX(record_size));
    ASSERT(sizeof(engine->auth_scratch->records) >= (size_t)asked * record_size);
    u32 kept = 0;
    while (kept < asked) {
        u8 *page = engine->auth_scratch->records;
        u32 got =
            engine_apply(engine, operation, 0, &filter, sizeof(filter), page, NULL) / record_size;
        u64 last = 0; /* the page's last timestamp: the next page starts after it */
        if (got > 0) {
            memcpy(&last, page + (size_t)got * record_size - sizeof(last), sizeof(last));
        }
        u32 own = engine_auth_keep(rights, operation, page, got, record_size);
        own = MIN(own, asked - kept);
        memcpy((u8 *)reply + (size_t)kept * record_size, page, (size_t)own * record_size);
        kept += own;
        if (got < asked) break;
        if ((filter.flags & KHORGOS_QUERY_FILTER_REVERSED) != 0) {
            if (last <= 1) break;
            filter.timestamp_max = last - 1;
        } else {
            if (last >= U64_MAX - 1) break;
            filter.timestamp_min = last + 1;
        }
    }
    ASSERT(kept <= asked);
    return kept * record_size;
}

/* A filter's BIC for a participant: its own when empty; false when it names another. */
static bool engine_auth_filter_bic(const struct engine_rights *rights,
                                   char bic[KHORGOS_BIC_BYTES]) {
    ASSERT(rights->role == KHORGOS_ACTOR_PARTICIPANT);
    bool empty = true;
    for (u32 index = 0; index < KHORGOS_BIC_BYTES; index++) empty = empty && bic[index] == 0;
    if (!empty && !engine_auth_bic_is(bic, rights->bic)) return false;
    memcpy(bic, rights->bic, KHORGOS_BIC_BYTES);
    return true;
}

/* A read-only request of a participant, with others' data left out. */
static u32 engine_auth_read(struct khorgos *engine, const struct engine_rights *rights,
                            u32 operation, u64 timestamp, const void *body, u32 body_size,
                            void *reply) {
    const struct engine_operation *entry = engine_operation_find(operation);
    ASSERT(entry != NULL && !entry->changes_state);
    switch (operation) {
    case KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS:
    case KHORGOS_OPERATION_GET_ACCOUNT_BALANCES: {
        struct khorgos_account_filter filter;
        memcpy(&filter, body, sizeof(filter));
        if (!engine_rights_account(rights, filter.account_id)) return 0;
        return engine_apply(engine, operation, timestamp, body, body_size, reply, NULL);
    }
    case KHORGOS_OPERATION_QUERY_ACCOUNTS:
    case KHORGOS_OPERATION_QUERY_TRANSFERS:
        return engine_auth_query(engine, rights, operation, body, reply);
    case KHORGOS_OPERATION_GET_QUEUE:
    case KHORGOS_OPERATION_GET_POSITIONS: {
        struct khorgos_settle_filter filter;
        memcpy(&filter, body, sizeof(filter));
        if (!engine_auth_filter_bic(rights, filter.bic)) return 0;
        return engine_apply(engine, operation, timestamp, &filter, sizeof(filter), reply, NULL);
    }
    case KHORGOS_OPERATION_GET_WINDOW_POSITIONS: {
        struct khorgos_window_filter filter;
        memcpy(&filter, body, sizeof(filter));
        if (!engine_auth_filter_bic(rights, filter.bic)) return 0;
        return engine_apply(engine, operation, timestamp, &filter, sizeof(filter), reply, NULL);
    }
    default: break;
    }
    u32 size = engine_apply(engine, operation, timestamp, body, body_size, reply, NULL);
    u32 count = size / entry->reply_record_size;
    return engine_auth_keep(rights, operation, reply, count, entry->reply_record_size) *
           entry->reply_record_size;
}

/* engine_auth_apply for an actor other than the operator, with its rights. */
static u32 engine_auth_apply_rights(struct khorgos *engine, const struct engine_rights *rights,
                                    u32 operation, u64 timestamp, const void *body,
                                    u32 body_size, void *reply, khorgos_error *error) {
    const struct engine_operation *entry = engine_operation_find(operation);
    ASSERT(entry != NULL);
    ASSERT(rights->role != KHORGOS_ACTOR_OPERATOR);
    if (!engine_rights_permit(rights, operation)) {
        ASSERT(entry->changes_state); /* a read was refused before (engine_auth_check) */
        engine_auth_apply_nothing(engine, timestamp);
        *error = KHORGOS_ERROR_forbidden;
        return 0;
    }
    if (rights->role == KHORGOS_ACTOR_AUDITOR) {
        return engine_apply(engine, operation, timestamp, body, body_size, reply, NULL);
    }
    if (entry->changes_state) {
        return engine_auth_events(engine, rights, operation, timestamp, body, body_size, reply);
    }
    return engine_auth_read(engine, rights, operation, timestamp, body, body_size, reply);
}

u32 engine_auth_apply(struct khorgos *engine, const struct khorgos_actor *actor, u32 operation,
                      u64 timestamp, const void *body, u32 body_size, void *reply,
                      khorgos_error *error) {
    ASSERT(engine != NULL && actor != NULL && error != NULL);
    *error = KHORGOS_ERROR_ok;
    if (actor->role == KHORGOS_ACTOR_OPERATOR || operation == KHORGOS_OPERATION_PULSE ||
        operation == KHORGOS_OPERATION_SETTLE_PULSE || operation == KHORGOS_OPERATION_REGISTER) {
        return engine_apply(engine, operation, timestamp, body, body_size, reply, NULL);
    }
    struct engine_rights rights;
    engine_rights_of(engine, actor, &rights);
    /* A participant's ids are its own: the settlement layer keys them by (its BIC, id). */
    bool scoped = rights.role == KHORGOS_ACTOR_PARTICIPANT && rights.bic[0] != '\0';
    settle_actor_set(&engine->settle, scoped ? rights.bic : NULL);
    u32 size = engine_auth_apply_rights(engine, &rights, operation, timestamp, body, body_size,
                                        reply, error);
    settle_actor_set(&engine->settle, NULL);
    return size;
}

void engine_auth_actor_text(const struct khorgos_actor *actor, char text[16]) {
    ASSERT(actor != NULL && text != NULL);
    memset(text, 0, STORAGE_ACTOR_BYTES);
    const char *name = ENGINE_AUTH_OPERATOR;
    if (actor->role == KHORGOS_ACTOR_AUDITOR) name = ENGINE_AUTH_AUDITOR;
    if (actor->role == KHORGOS_ACTOR_REPLICA) name = ENGINE_AUTH_REPLICA;
    if (actor->role == KHORGOS_ACTOR_PARTICIPANT) {
        memcpy(text, actor->bic, KHORGOS_BIC_BYTES);
        bool valid = settle_bic_normalize(text);
        ASSERT(valid);
        return;
    }
    memcpy(text, name, strlen(name));
    ASSERT(text[STORAGE_ACTOR_BYTES - 1] == '\0');
}

void engine_auth_actor_parse(const char text[16], struct khorgos_actor *actor) {
    ASSERT(text != NULL && actor != NULL);
    memset(actor, 0, sizeof(*actor));
    char name[STORAGE_ACTOR_BYTES + 1];
    memcpy(name, text, STORAGE_ACTOR_BYTES);
    name[STORAGE_ACTOR_BYTES] = '\0';
    if (strcmp(name, ENGINE_AUTH_AUDITOR) == 0) {
        actor->role = KHORGOS_ACTOR_AUDITOR;
    } else if (strcmp(name, ENGINE_AUTH_REPLICA) == 0) {
        actor->role = KHORGOS_ACTOR_REPLICA;
    } else if (strlen(name) == KHORGOS_BIC_BYTES) {
        actor->role = KHORGOS_ACTOR_PARTICIPANT;
        memcpy(actor->bic, name, KHORGOS_BIC_BYTES);
    }
    /* Otherwise the operator: "operator", "local" and "engine". */
    ASSERT(actor->role <= KHORGOS_ACTOR_PARTICIPANT);
}
