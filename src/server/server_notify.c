/*
 * server_notify.c: notifications the server pushes (docs/protocol.md, "notification"), and the
 * clients each connection carries.
 *
 *   payment status (kind 1)  a payment a session submitted by message (submit_message) is
 *                            followed: once its state changes (a queued payment settles, is
 *                            rejected at a cut-off, is cancelled), the pacs.002 of its status
 *                            now (khorgos_get_message_status) goes to every session of the
 *                            submitting participant on the connections open then (for the
 *                            operator, to the submitting session). Followed until it is
 *                            settled, rejected or cancelled.
 *   account entries (kind 2) a session subscribed (subscribe_entries) to a settlement account
 *                            gets the camt.054 of the account's entries booked since the last
 *                            one, on the connection that carries that session.
 *
 * When. The loop polls after each engine batch it knows durable, once nothing is in flight,
 * and only when the engine's last timestamp moved: one lookup_payments of every followed
 * payment (as the auditor), one statement per subscription. So a notification never tells of
 * a state that is not durable, and a server under constant load pushes at its first pause.
 *
 * What is lost. A notification goes only to connections open when it is made; nothing is kept
 * for a client that is not connected, and the followed payments and subscriptions live in
 * memory, so a restart forgets them. get_message_status and get_statement recover what was
 * missed. A connection whose unsent bytes pass SERVER_NOTIFY_UNSENT_BYTES_MAX is closed.
 */
#include "server/server_private.h"

#include <stdlib.h>

/* A payment followed for its submitter: its state and reason as last told. */
struct server_watch {
    u128 payment;
    u128 client; /* the session that submitted it */
    u8 state;   /* enum khorgos_payment_state */
    u32 reason; /* the record's reason (a queued payment's, a refusal's) */
    struct server_identity identity;
    struct khorgos_message_status_request request;
};

struct server_subscription {
    u128 client;
    struct khorgos_statement_request statement; /* camt.054; timestamp_min moves on */
};

struct server_notify {
    struct server_watch watches[SERVER_WATCHES_MAX];
    u32 watch_count;
    struct server_subscription subscriptions[SERVER_SUBSCRIPTIONS_MAX];
    u32 subscription_count;
    u64 polled_timestamp; /* the engine's last timestamp at the last poll */
    u128 ids[SERVER_WATCHES_MAX];
    struct khorgos_message_status_request requests[SERVER_WATCHES_MAX];
    struct khorgos_payment payments[SERVER_WATCHES_MAX];
};
_Static_assert(sizeof(struct khorgos_payment) * SERVER_WATCHES_MAX <= LIMIT_REPLY_BODY_BYTES_MAX,
               "one lookup_payments answers every followed payment");

bool server_connection_client_add(struct server_connection *connection, u128 client) {
    ASSERT(connection != NULL && client != 0);
    ASSERT(connection->client_count <= SERVER_CONNECTION_CLIENTS_MAX);
    for (u32 index = 0; index < connection->client_count; index++) {
        if (connection->clients[index].client == client) return true;
    }
    if (connection->client_count == SERVER_CONNECTION_CLIENTS_MAX) return false;
    connection->clients[connection->client_count++] =
        (struct server_connection_client){.client = client};
    return true;
}

void server_notify_free(struct server *server) {
    ASSERT(server != NULL);
    ASSERT(server->notify == NULL || server->notify->watch_count <= SERVER_WATCHES_MAX);
    free(server->notify);
    server->notify = NULL;
}

static struct server_notify *notify_get(struct server *server) {
    ASSERT(server != NULL && server->engine != NULL);
    if (server->notify == NULL) {
        server->notify = calloc(1, sizeof(*server->notify));
        if (server->notify != NULL) server->notify->polled_timestamp = 0;
    }
    return server->notify;
}

/* The payments' records, found ones only, in the order of `ids` (as the auditor). */
static khorgos_error notify_lookup(struct server *server, const u128 *ids, u32 count,
                                   u32 *found) {
    ASSERT(count > 0 && count <= SERVER_WATCHES_MAX);
    ASSERT(found != NULL);
    struct server_notify *notify = server->notify;
    struct khorgos_request request = {
        .operation = KHORGOS_OPERATION_LOOKUP_PAYMENTS, .body = ids,
        .body_size = count * (u32)sizeof(u128), .reply = notify->payments,
        .reply_capacity = (u32)sizeof(notify->payments),
        .actor = {.role = KHORGOS_ACTOR_AUDITOR}};
    khorgos_error error = khorgos_execute(server->engine, &request, 1);
    if (error == KHORGOS_ERROR_ok) error = request.error;
    *found = error == KHORGOS_ERROR_ok ? request.reply_size / sizeof(struct khorgos_payment) : 0;
    return error;
}

static bool payment_final(u8 state) {
    ASSERT(state != 0);
    return state != KHORGOS_PAYMENT_QUEUED && state != KHORGOS_PAYMENT_WAITING &&
           state != KHORGOS_PAYMENT_IN_WINDOW;
}

/* Whether the payment is followed already (its message was sent again). */
static bool notify_watched(const struct server_notify *notify, u128 payment) {
    ASSERT(notify != NULL && payment != 0);
    ASSERT(notify->watch_count <= SERVER_WATCHES_MAX);
    for (u32 index = 0; index < notify->watch_count; index++) {
        if (notify->watches[index].payment == payment) return true;
    }
    return false;
}

void server_notify_watch(struct server *server, const struct server_identity *identity,
                         u128 client) {
    ASSERT(server->gateway != NULL && identity != NULL);
    struct server_notify *notify = notify_get(server);
    if (notify == NULL) return; /* out of memory: statuses are read on request */
    u32 count = khorgos_message_payments(server->gateway->gateway, notify->ids,
                                         notify->requests, SERVER_WATCHES_MAX);
    u32 found = 0;
    if (count == 0) return;
    khorgos_error error = notify_lookup(server, notify->ids, count, &found);
    if (error != KHORGOS_ERROR_ok) return; /* the engine stopped: the next batch says so */
    for (u32 index = 0, at = 0; index < found; index++) {
        const struct khorgos_payment *payment = &notify->payments[index];
        while (at < count && notify->ids[at] != payment->id) at++;
        ASSERT(at < count);
        if (payment_final(payment->state) || notify_watched(notify, payment->id)) continue;
        if (notify->watch_count == SERVER_WATCHES_MAX) {
            server_log("event=notification_skipped reason=\"%u payments followed already\"",
                       SERVER_WATCHES_MAX);
            return;
        }
        notify->watches[notify->watch_count++] = (struct server_watch){
            .payment = payment->id, .client = client, .state = payment->state,
            .reason = payment->reason, .identity = *identity, .request = notify->requests[at]};
    }
}

/* Sends one notification to one client of the connection, or closes a connection that does
 * not read what it is sent. */
static void notification_send(struct server_connection *connection,
                              struct server_connection_client *slot, u32 kind, const u8 *body,
                              u32 body_bytes) {
    ASSERT(slot->client != 0 && kind != 0);
    ASSERT(body_bytes <= KHORGOS_MESSAGE_BODY_BYTES_MAX);
    if (connection->closing) return;
    size_t unsent = uv_stream_get_write_queue_size((uv_stream_t *)&connection->tcp);
    if (unsent + CLIENT_HEADER_BYTES + body_bytes > connection->server->notify_unsent_bytes_max) {
        server_connection_close(connection, "a slow client: notifications not read");
        return;
    }
    u8 *message = malloc(CLIENT_HEADER_BYTES + body_bytes);
    if (message == NULL) {
        server_connection_close(connection, "out of memory for a notification");
        return;
    }
    slot->notifications++;
    struct client_header header;
    client_notification_init(&header, connection->server->cluster, slot->client,
                             slot->notifications, kind, body_bytes);
    memcpy(message + CLIENT_HEADER_BYTES, body, body_bytes);
    client_header_seal(&header, message + CLIENT_HEADER_BYTES);
    memcpy(message, &header, sizeof(header));
    server_connection_send(connection, message, header.size);
    free(message);
}

/* Who a notification goes to: every session of an identity, or one client. */
struct notify_target {
    struct server *server;
    const struct server_identity *identity; /* or NULL */
    u128 client;                            /* when identity is NULL */
    u32 kind;
    const u8 *body;
    u32 body_bytes;
};

static bool identity_equal(const struct server_identity *a, const struct server_identity *b) {
    ASSERT(a != NULL && b != NULL);
    ASSERT(a != b);
    return a->role == b->role && memcmp(a->actor, b->actor, SERVER_IDENTITY_BYTES) == 0;
}

static void notify_connection(uv_handle_t *handle, void *argument) {
    struct notify_target *target = argument;
    struct server *server = target->server;
    ASSERT(server != NULL && handle != NULL);
    if (handle->type != UV_TCP || handle == (uv_handle_t *)&server->listener) return;
    if (uv_is_closing(handle) || server_http_owns(server, handle)) return;
    struct server_connection *connection = handle->data;
    ASSERT(connection != NULL && connection->server == server);
    if (!connection->established || connection->closing) return;
    if (target->identity != NULL && !identity_equal(&connection->identity, target->identity)) {
        return;
    }
    for (u32 index = 0; index < connection->client_count; index++) {
        struct server_connection_client *slot = &connection->clients[index];
        if (target->identity == NULL && slot->client != target->client) continue;
        if (engine_session_find(server->engine, slot->client) == NULL) continue;
        notification_send(connection, slot, target->kind, target->body, target->body_bytes);
    }
}

/* The pacs.002 of a followed payment now, to its submitter's sessions: every session of a
 * participant; for another identity (the operator, which every plaintext connection is, a
 * TigerBeetle client's included), the submitting session only. */
static khorgos_error notify_status(struct server *server, const struct server_watch *watch) {
    struct server_gateway *gateway = server_gateway_get(server);
    ASSERT(watch != NULL && watch->payment != 0);
    if (gateway == NULL) return KHORGOS_ERROR_out_of_memory;
    struct khorgos_actor auditor = {.role = KHORGOS_ACTOR_AUDITOR};
    khorgos_gateway_set_actor(gateway->gateway, &auditor);
    struct khorgos_message_result result;
    khorgos_error error = khorgos_get_message_status(gateway->gateway, &watch->request,
                                                     (char *)gateway->reply,
                                                     KHORGOS_MESSAGE_REPLY_BYTES_MAX, &result);
    khorgos_gateway_set_actor(gateway->gateway, NULL);
    if (error != KHORGOS_ERROR_ok) return error;
    bool participant = watch->identity.role == SERVER_ROLE_PARTICIPANT;
    struct notify_target target = {.server = server,
                                   .identity = participant ? &watch->identity : NULL,
                                   .client = watch->client,
                                   .kind = CLIENT_NOTIFICATION_PAYMENT_STATUS,
                                   .body = gateway->reply, .body_bytes = result.reply_size};
    uv_walk(&server->loop, notify_connection, &target);
    return KHORGOS_ERROR_ok;
}

/* Every followed payment whose state changed is told; the final ones are no longer followed. */
static khorgos_error poll_watches(struct server *server) {
    struct server_notify *notify = server->notify;
    ASSERT(notify->watch_count <= SERVER_WATCHES_MAX);
    if (notify->watch_count == 0) return KHORGOS_ERROR_ok;
    for (u32 index = 0; index < notify->watch_count; index++) {
        notify->ids[index] = notify->watches[index].payment;
    }
    u32 found = 0;
    khorgos_error error = notify_lookup(server, notify->ids, notify->watch_count, &found);
    u32 kept = 0;
    for (u32 index = 0, at = 0; index < notify->watch_count; index++) {
        struct server_watch *watch = &notify->watches[index];
        bool present = error == KHORGOS_ERROR_ok && at < found &&
                       notify->payments[at].id == watch->payment;
        const struct khorgos_payment *payment = present ? &notify->payments[at++] : NULL;
        bool changed = payment != NULL &&
                       (payment->state != watch->state || payment->reason != watch->reason);
        if (changed) {
            watch->state = payment->state;
            watch->reason = payment->reason;
            khorgos_error told = notify_status(server, watch);
            if (server_gateway_engine_stopped(told)) error = told;
        }
        /* Kept while not final; all kept when the lookup failed. */
        if (payment == NULL ? error != KHORGOS_ERROR_ok : !payment_final(payment->state)) {
            notify->watches[kept++] = *watch;
        }
    }
    notify->watch_count = kept;
    return error;
}

/* The new entries of each subscription's account, as a camt.054, to its session. */
static khorgos_error poll_subscriptions(struct server *server, u64 timestamp_last) {
    struct server_notify *notify = server->notify;
    ASSERT(notify->subscription_count <= SERVER_SUBSCRIPTIONS_MAX);
    u32 kept = 0;
    for (u32 index = 0; index < notify->subscription_count; index++) {
        struct server_subscription subscription = notify->subscriptions[index];
        if (engine_session_find(server->engine, subscription.client) == NULL) continue;
        notify->subscriptions[kept++] = subscription;
        struct khorgos_statement_request *statement = &notify->subscriptions[kept - 1].statement;
        if (statement->timestamp_min > timestamp_last) continue;
        statement->timestamp_max = timestamp_last;
        struct server_gateway *gateway = server_gateway_get(server);
        if (gateway == NULL) return KHORGOS_ERROR_out_of_memory;
        struct khorgos_actor auditor = {.role = KHORGOS_ACTOR_AUDITOR};
        khorgos_gateway_set_actor(gateway->gateway, &auditor);
        size_t size = 0;
        khorgos_error error = khorgos_get_statement(gateway->gateway, statement,
                                                    (char *)gateway->reply,
                                                    SERVER_GATEWAY_REPLY_BYTES, &size);
        khorgos_gateway_set_actor(gateway->gateway, NULL);
        if (server_gateway_engine_stopped(error)) return error;
        statement->timestamp_min = timestamp_last + 1;
        if (error == KHORGOS_ERROR_ok && size > KHORGOS_MESSAGE_BODY_BYTES_MAX) {
            server_log("event=notification_skipped reason=\"camt.054 larger than a message\"");
        }
        if (error != KHORGOS_ERROR_ok || size > KHORGOS_MESSAGE_BODY_BYTES_MAX) continue;
        if (memmem(gateway->reply, size, "<Ntry>", 6) == NULL) continue;
        struct notify_target target = {.server = server, .client = subscription.client,
                                       .kind = CLIENT_NOTIFICATION_ACCOUNT_ENTRIES,
                                       .body = gateway->reply, .body_bytes = (u32)size};
        uv_walk(&server->loop, notify_connection, &target);
    }
    notify->subscription_count = kept;
    return KHORGOS_ERROR_ok;
}

void server_notify_poll(struct server *server) {
    ASSERT(server != NULL && server->engine != NULL);
    ASSERT(server->flying->requests_count == 0);
    struct server_notify *notify = server->notify;
    if (notify == NULL || server->failure != KHORGOS_ERROR_ok) return;
    u64 timestamp_last = server->engine->timestamp_last;
    if (timestamp_last == notify->polled_timestamp) return;
    notify->polled_timestamp = timestamp_last;
    khorgos_error error = poll_watches(server);
    if (error == KHORGOS_ERROR_ok) error = poll_subscriptions(server, timestamp_last);
    if (server_gateway_engine_stopped(error)) server_engine_stopped(server, error);
}

/* The subscription's account, checked: a participant's own (an empty BIC names it). */
static khorgos_error subscription_read(struct server_connection *connection, const u8 *body,
                                       u32 body_bytes, struct server_subscription *out) {
    ASSERT(connection != NULL && out != NULL);
    char bic[KHORGOS_BIC_BYTES + 1] = {0};
    u32 currency = 0;
    if (body_bytes != sizeof(bic) + sizeof(currency)) return KHORGOS_ERROR_body_size;
    memcpy(bic, body, sizeof(bic));
    memcpy(&currency, body + sizeof(bic), sizeof(currency));
    const struct server_identity *identity = &connection->identity;
    if (bic[0] == '\0' && identity->role == SERVER_ROLE_PARTICIPANT) {
        memcpy(bic, identity->actor, KHORGOS_BIC_BYTES);
    }
    size_t length = strnlen(bic, sizeof(bic));
    if (length != 8 && length != KHORGOS_BIC_BYTES) return KHORGOS_ERROR_invalid_argument;
    char stored[KHORGOS_BIC_BYTES];
    memcpy(stored, bic, length);
    if (length == 8) memcpy(stored + 8, "XXX", 3);
    if (identity->role == SERVER_ROLE_PARTICIPANT &&
        memcmp(stored, identity->actor, KHORGOS_BIC_BYTES) != 0) {
        return KHORGOS_ERROR_forbidden;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out->statement.bic, bic, length);
    out->statement.kind = KHORGOS_STATEMENT_CAMT_054;
    out->statement.currency = currency;
    out->statement.timestamp_min = connection->server->engine->timestamp_last + 1;
    out->statement.timestamp_max = out->statement.timestamp_min;
    return KHORGOS_ERROR_ok;
}

/* Whether the account exists: a statement of an empty range is read (as the auditor). */
static khorgos_error subscription_check(struct server *server,
                                        const struct server_subscription *subscription) {
    struct server_gateway *gateway = server_gateway_get(server);
    ASSERT(subscription->statement.kind == KHORGOS_STATEMENT_CAMT_054);
    if (gateway == NULL) return KHORGOS_ERROR_out_of_memory;
    struct khorgos_actor auditor = {.role = KHORGOS_ACTOR_AUDITOR};
    khorgos_gateway_set_actor(gateway->gateway, &auditor);
    size_t size = 0;
    khorgos_error error = khorgos_get_statement(gateway->gateway, &subscription->statement,
                                                (char *)gateway->reply,
                                                SERVER_GATEWAY_REPLY_BYTES, &size);
    khorgos_gateway_set_actor(gateway->gateway, NULL);
    return error;
}

static khorgos_error subscription_add(struct server *server,
                                      const struct server_subscription *subscription) {
    struct server_notify *notify = notify_get(server);
    ASSERT(subscription->client != 0);
    if (notify == NULL) return KHORGOS_ERROR_out_of_memory;
    for (u32 index = 0; index < notify->subscription_count; index++) {
        const struct server_subscription *other = &notify->subscriptions[index];
        if (other->client == subscription->client &&
            other->statement.currency == subscription->statement.currency &&
            strcmp(other->statement.bic, subscription->statement.bic) == 0) {
            return KHORGOS_ERROR_ok; /* subscribed already */
        }
    }
    if (notify->subscription_count == SERVER_SUBSCRIPTIONS_MAX) {
        return KHORGOS_ERROR_capacity_full;
    }
    notify->subscriptions[notify->subscription_count++] = *subscription;
    if (notify->polled_timestamp == 0) notify->polled_timestamp = server->engine->timestamp_last;
    return KHORGOS_ERROR_ok;
}

void server_notify_subscribe(struct server_connection *connection,
                             const struct client_header *header, const u8 *body) {
    struct server *server = connection->server;
    ASSERT(header->request.operation == CLIENT_OPERATION_SUBSCRIBE_ENTRIES);
    ASSERT(engine_session_find(server->engine, header->request.client) != NULL);
    struct server_subscription subscription;
    khorgos_error error = subscription_read(connection, body,
                                            header->size - CLIENT_HEADER_BYTES, &subscription);
    subscription.client = header->request.client;
    if (error == KHORGOS_ERROR_ok) error = subscription_check(server, &subscription);
    if (server_gateway_engine_stopped(error)) {
        server_engine_stopped(server, error);
        return;
    }
    if (error == KHORGOS_ERROR_ok) error = subscription_add(server, &subscription);
    server_reply_unrecorded(connection, header, NULL, 0, khorgos_clock_now(server->engine),
                            error);
}
