/*
 * server_gateway.c: the ISO 20022 gateway's operations over the wire (docs/protocol.md, "ISO
 * 20022 operations"): submit_message (240), get_message_status (241) and get_statement (242),
 * executed through the gateway (include/khorgos_iso20022.h) as the connection's identity.
 *
 *   submit_message      body: the message's XML. Reply: struct khorgos_message_result (24
 *                       bytes) then the pacs.002 or camt.029 (result.reply_size bytes).
 *   get_message_status  body: struct khorgos_message_status_request (85 bytes). Reply: as
 *                       submit_message's, with the payments' statuses now.
 *   get_statement       body: struct khorgos_statement_request (40 bytes). Reply: the camt.053
 *                       or camt.054; a participant may ask only for its own account's.
 *
 * Each is a barrier, as advance_clock is: every request read before it is executed and
 * answered first, then the gateway runs its engine requests (with the identity's actor, outside
 * any session) one after another, each durable before the next. The session does not record
 * the operation (its reply is sent, not kept, and the client gives its next request the same
 * number): the gateway's engine requests are many, and its reply is XML that the journal and
 * the session table never hold. A retry is executed again; the gateway's idempotency makes that
 * safe: a message sent again names the same payment and request ids, so nothing is applied
 * twice, and a byte-identical message gets its original reply.
 */
#include "server/server_private.h"

#include <stdlib.h>

_Static_assert(sizeof(struct khorgos_message_result) == CLIENT_MESSAGE_RESULT_BYTES,
               "the wire's message result is the C struct");
_Static_assert(sizeof(struct khorgos_message_status_request) == 85, "a status request: 85");
_Static_assert(sizeof(struct khorgos_statement_request) == 40, "a statement request: 40");
_Static_assert(offsetof(struct khorgos_message_result, transaction_count) == 12, "at 12");
_Static_assert(offsetof(struct khorgos_statement_request, timestamp_min) == 24, "at 24");

void server_gateway_free(struct server *server) {
    ASSERT(server != NULL);
    if (server->gateway == NULL) return;
    ASSERT(server->gateway->reply != NULL);
    khorgos_gateway_close(server->gateway->gateway);
    free(server->gateway->reply);
    free(server->gateway);
    server->gateway = NULL;
}

struct server_gateway *server_gateway_get(struct server *server) {
    ASSERT(server->engine != NULL);
    if (server->gateway != NULL) return server->gateway;
    struct server_gateway *opened = calloc(1, sizeof(*opened));
    if (opened == NULL) return NULL;
    opened->reply = malloc(SERVER_GATEWAY_REPLY_BYTES);
    if (opened->reply == NULL ||
        khorgos_gateway_open(&opened->gateway, server->engine) != KHORGOS_ERROR_ok) {
        free(opened->reply);
        free(opened);
        return NULL;
    }
    server->gateway = opened;
    ASSERT(opened->gateway != NULL);
    return opened;
}

/* Executes and answers every request queued or in flight. */
static void gateway_drain(struct server *server) {
    ASSERT(server->queued != server->flying);
    while (server->failure == KHORGOS_ERROR_ok &&
           (server->queued->requests_count > 0 || server->flying->requests_count > 0)) {
        server_jobs_execute(server);
    }
    ASSERT(server->failure != KHORGOS_ERROR_ok || server->flying->requests_count == 0);
}

static khorgos_error gateway_submit(struct server_gateway *gateway, const u8 *body,
                                    u32 body_bytes, u32 *reply_bytes) {
    ASSERT(gateway != NULL && reply_bytes != NULL);
    ASSERT(body != NULL || body_bytes == 0);
    struct khorgos_message_result result;
    khorgos_error error = khorgos_submit_message(
        gateway->gateway, body_bytes > 0 ? body : (const u8 *)"", body_bytes,
        (char *)gateway->reply + CLIENT_MESSAGE_RESULT_BYTES, KHORGOS_MESSAGE_REPLY_BYTES_MAX,
        &result);
    if (error != KHORGOS_ERROR_ok) return error;
    memcpy(gateway->reply, &result, sizeof(result));
    *reply_bytes = CLIENT_MESSAGE_RESULT_BYTES + result.reply_size;
    return KHORGOS_ERROR_ok;
}

static khorgos_error gateway_status(struct server_gateway *gateway, const u8 *body,
                                    u32 body_bytes, u32 *reply_bytes) {
    ASSERT(gateway != NULL && reply_bytes != NULL);
    struct khorgos_message_status_request request;
    if (body_bytes != sizeof(request)) return KHORGOS_ERROR_body_size;
    memcpy(&request, body, sizeof(request));
    struct khorgos_message_result result;
    khorgos_error error = khorgos_get_message_status(
        gateway->gateway, &request, (char *)gateway->reply + CLIENT_MESSAGE_RESULT_BYTES,
        KHORGOS_MESSAGE_REPLY_BYTES_MAX, &result);
    if (error != KHORGOS_ERROR_ok) return error;
    memcpy(gateway->reply, &result, sizeof(result));
    *reply_bytes = CLIENT_MESSAGE_RESULT_BYTES + result.reply_size;
    return KHORGOS_ERROR_ok;
}

/* A participant reads only its own account's statement; the statement's queries then read as
 * the auditor (they list every participant of the currency to find the account). */
static khorgos_error gateway_statement(struct server_gateway *gateway,
                                       const struct server_identity *identity, const u8 *body,
                                       u32 body_bytes, u32 *reply_bytes) {
    ASSERT(gateway != NULL && identity != NULL);
    ASSERT(reply_bytes != NULL);
    struct khorgos_statement_request request;
    if (body_bytes != sizeof(request)) return KHORGOS_ERROR_body_size;
    memcpy(&request, body, sizeof(request));
    size_t length = strnlen(request.bic, sizeof(request.bic));
    if (length != 8 && length != KHORGOS_BIC_BYTES) return KHORGOS_ERROR_invalid_argument;
    char bic[KHORGOS_BIC_BYTES];
    memcpy(bic, request.bic, length);
    if (length == 8) memcpy(bic + 8, "XXX", 3);
    if (identity->role == SERVER_ROLE_PARTICIPANT &&
        memcmp(bic, identity->actor, KHORGOS_BIC_BYTES) != 0) {
        return KHORGOS_ERROR_forbidden;
    }
    struct khorgos_actor auditor = {.role = KHORGOS_ACTOR_AUDITOR};
    khorgos_gateway_set_actor(gateway->gateway, &auditor);
    size_t size = 0;
    khorgos_error error = khorgos_get_statement(gateway->gateway, &request, (char *)gateway->reply,
                                                SERVER_GATEWAY_REPLY_BYTES, &size);
    if (error != KHORGOS_ERROR_ok) return error;
    if (size > KHORGOS_MESSAGE_BODY_BYTES_MAX) return KHORGOS_ERROR_too_many_entries;
    *reply_bytes = (u32)size;
    return KHORGOS_ERROR_ok;
}

bool server_gateway_engine_stopped(khorgos_error error) {
    ASSERT((u32)error < KHORGOS_ERROR_COUNT);
    ASSERT(KHORGOS_ERROR_ok == 0);
    return error == KHORGOS_ERROR_io || error == KHORGOS_ERROR_no_space ||
           error == KHORGOS_ERROR_stopped;
}

void server_gateway_request(struct server_connection *connection,
                            const struct client_header *header, const u8 *body) {
    struct server *server = connection->server;
    u8 operation = header->request.operation;
    ASSERT(operation >= CLIENT_OPERATION_SUBMIT_MESSAGE &&
           operation <= CLIENT_OPERATION_GET_STATEMENT);
    ASSERT(engine_session_find(server->engine, header->request.client) != NULL);
    gateway_drain(server);
    if (server->failure != KHORGOS_ERROR_ok) return; /* the engine stopped: no reply */
    struct server_gateway *gateway = server_gateway_get(server);
    if (gateway == NULL) {
        server_connection_close(connection, "out of memory for the ISO 20022 gateway");
        return;
    }
    struct khorgos_actor actor = server_request_actor(&connection->identity);
    khorgos_gateway_set_actor(gateway->gateway, &actor);
    u32 body_bytes = header->size - CLIENT_HEADER_BYTES;
    u32 reply_bytes = 0;
    khorgos_error error = KHORGOS_ERROR_ok;
    if (operation == CLIENT_OPERATION_SUBMIT_MESSAGE) {
        error = gateway_submit(gateway, body, body_bytes, &reply_bytes);
    } else if (operation == CLIENT_OPERATION_GET_MESSAGE_STATUS) {
        error = gateway_status(gateway, body, body_bytes, &reply_bytes);
    } else {
        error = gateway_statement(gateway, &connection->identity, body, body_bytes,
                                  &reply_bytes);
    }
    khorgos_gateway_set_actor(gateway->gateway, NULL);
    if (server_gateway_engine_stopped(error)) {
        server_engine_stopped(server, error);
        return;
    }
    if (error != KHORGOS_ERROR_ok) reply_bytes = 0;
    ASSERT(reply_bytes <= KHORGOS_MESSAGE_BODY_BYTES_MAX);
    if (error == KHORGOS_ERROR_ok && operation == CLIENT_OPERATION_SUBMIT_MESSAGE) {
        server_notify_watch(server, &connection->identity, header->request.client);
    }
    server_reply_unrecorded(connection, header, gateway->reply, reply_bytes,
                            khorgos_clock_now(server->engine), error);
}
