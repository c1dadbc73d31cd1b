/*
 * server_request.c: one message from a client: ping_client gets a pong; a request is
 * classified by its session (server_session.c), then answered from the session (a retry),
 * evicted, dropped, registered, or queued as a job whose batches the next engine batch
 * executes (server_jobs_execute); its reply is sent once the engine returned, which is once
 * its records are durable.
 */
#include "server/server_private.h"

#include <stdlib.h>

static void send_eviction(struct server_connection *connection, u128 client,
                          enum client_eviction_reason reason) {
    ASSERT(connection != NULL && client != 0);
    ASSERT(reason != CLIENT_EVICTION_reserved);
    struct client_header eviction;
    client_eviction_init(&eviction, connection->server->cluster, client, reason);
    client_header_seal(&eviction, NULL);
    char name[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
    base_u128_format(client, name);
    server_log("event=eviction connection=%llu client=%s reason=%s",
               (unsigned long long)connection->id, name, client_eviction_reason_name(reason));
    server_connection_send(connection, &eviction, sizeof(eviction));
}

void server_reply_finish(struct server_connection *connection, struct server_session *session,
                         struct client_header *reply, u8 *message) {
    ASSERT(reply->command == CLIENT_COMMAND_REPLY);
    ASSERT(session->client == reply->reply.client);
    client_header_seal(reply, message + CLIENT_HEADER_BYTES);
    memcpy(message, reply, sizeof(*reply));
    server_session_reply_store(session, message, reply->size);
    if (connection != NULL) server_connection_send(connection, message, reply->size);
}

static void handle_register(struct server_connection *connection,
                            const struct client_header *header, const u8 *body) {
    struct server *server = connection->server;
    ASSERT(header->request.operation == CLIENT_OPERATION_REGISTER);
    ASSERT(header->request.session == 0 && header->request.request == 0);
    const char *reason = NULL;
    if (client_register_body_check(header, body, &reason) != KHORGOS_ERROR_ok) {
        bool missing = header->size == CLIENT_HEADER_BYTES;
        send_eviction(connection, header->request.client,
                      missing ? CLIENT_EVICTION_invalid_request_body_size
                              : CLIENT_EVICTION_invalid_request_body);
        return;
    }
    u128 evicted = 0;
    u64 op = server->op + 1;
    struct server_session *session = server_sessions_open(&server->sessions,
                                                          header->request.client, op,
                                                          header->release, &evicted);
    if (session == NULL) return; /* every session has a request in flight: the client retries */
    server->op = op;
    session->request = 0;
    session->request_checksum = header->checksum;
    char name[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
    if (evicted != 0) {
        base_u128_format(evicted, name);
        server_log("event=session_evicted client=%s reason=table_full", name);
    }
    base_u128_format(header->request.client, name);
    server_log("event=session_opened connection=%llu client=%s session=%llu",
               (unsigned long long)connection->id, name, (unsigned long long)op);
    struct client_register_result result = {.batch_size_limit = CLIENT_BODY_BYTES_MAX};
    u8 *message = malloc(CLIENT_HEADER_BYTES + sizeof(result));
    ASSERT(message != NULL);
    memcpy(message + CLIENT_HEADER_BYTES, &result, sizeof(result));
    struct client_header reply;
    client_reply_init(&reply, header, op, khorgos_clock_now(server->engine), sizeof(result));
    server_reply_finish(connection, session, &reply, message);
}

/* The results a batch may return at most: one per event, or a query's limit. */
static u32 batch_results_max(const struct client_operation_shape *shape, const u8 *batch,
                             u32 batch_bytes) {
    ASSERT(batch != NULL || batch_bytes == 0);
    if (shape->batchable) return batch_bytes / shape->event_bytes;
    ASSERT(batch_bytes == shape->event_bytes);
    u32 limit = 0;
    u32 offset = shape->event_bytes == 128 ? offsetof(struct khorgos_account_filter, limit)
                                           : offsetof(struct khorgos_query_filter, limit);
    memcpy(&limit, batch + offset, sizeof(limit));
    return MIN(limit, LIMIT_BATCH_EVENTS_MAX);
}

/* Checks the body's batches: their encoding, one filter per query batch, and that the
 * expected results fit one reply. */
static bool body_check(const struct client_header *header, const u8 *body,
                       const struct client_operation_shape *shape, u32 *batch_count) {
    ASSERT(header->size >= CLIENT_HEADER_BYTES && batch_count != NULL);
    ASSERT(shape->event_bytes > 0 && shape->result_bytes > 0);
    u32 body_bytes = header->size - CLIENT_HEADER_BYTES;
    struct client_multi_batch batches;
    const char *reason = NULL;
    if (client_multi_batch_decode(body, body_bytes, shape->event_bytes, &batches, &reason) !=
        KHORGOS_ERROR_ok) {
        return false;
    }
    u64 results_bytes = 0;
    const u8 *batch = NULL;
    u32 batch_bytes = 0;
    while (client_multi_batch_next(&batches, &batch, &batch_bytes)) {
        if (!shape->batchable && batch_bytes != shape->event_bytes) return false;
        if (batch_bytes / shape->event_bytes > LIMIT_BATCH_EVENTS_MAX) return false;
        results_bytes += (u64)batch_results_max(shape, batch, batch_bytes) * shape->result_bytes;
    }
    *batch_count = batches.batch_count;
    results_bytes += client_multi_batch_trailer_bytes(shape->result_bytes, *batch_count);
    return results_bytes <= CLIENT_BODY_BYTES_MAX;
}

static bool requests_reserve(struct server_batch *batch, u32 count) {
    ASSERT(batch != NULL);
    ASSERT(count > 0 && count <= CLIENT_MULTI_BATCH_COUNT_MAX);
    u32 needed = batch->requests_count + count;
    if (needed <= batch->requests_capacity) return true;
    u32 capacity = MAX(needed, batch->requests_capacity * 2);
    struct khorgos_request *requests = realloc(batch->requests, capacity * sizeof(*requests));
    if (requests == NULL) return false;
    batch->requests = requests;
    batch->requests_capacity = capacity;
    return true;
}

/* Adds one engine request for `batch` to the queued engine batch, with room for its reply. */
static bool job_request_add(struct server_batch *queued, struct server_job *job, u32 operation,
                            const u8 *batch, u32 batch_bytes) {
    ASSERT(queued->requests_count < queued->requests_capacity);
    ASSERT(batch != NULL || batch_bytes == 0);
    u32 capacity = khorgos_reply_size_max(operation, batch_bytes);
    struct khorgos_request *request = &queued->requests[queued->requests_count];
    *request = (struct khorgos_request){.operation = operation, .body_size = batch_bytes,
                                        .body = batch, .reply = malloc(MAX(capacity, 1u)),
                                        .reply_capacity = capacity};
    queued->requests_count++;
    job->request_count++;
    return request->reply != NULL;
}

/* Queues the request's batches as engine requests of the next engine batch: one per batch of
 * a multi-batch body, one for the plain body of a Khorgos operation. */
static bool job_queue(struct server_connection *connection, const struct client_header *header,
                      const u8 *body, u32 operation, u32 batch_count) {
    struct server_batch *queued = connection->server->queued;
    u32 body_bytes = header->size - CLIENT_HEADER_BYTES;
    struct server_job *job = calloc(1, sizeof(*job));
    if (job == NULL || !requests_reserve(queued, batch_count)) goto fail;
    job->body = malloc(MAX(body_bytes, 1u));
    if (job->body == NULL) goto fail;
    memcpy(job->body, body, body_bytes);
    job->connection = connection;
    job->request = *header;
    job->request_first = queued->requests_count;
    if (client_operation_khorgos(header->request.operation)) {
        if (!job_request_add(queued, job, operation, job->body, body_bytes)) goto fail;
    } else {
        struct client_operation_shape shape;
        bool known = client_operation_shape(header->request.operation, &shape);
        ASSERT(known);
        struct client_multi_batch batches;
        const char *reason = NULL;
        khorgos_error decoded = client_multi_batch_decode(job->body, body_bytes,
                                                          shape.event_bytes, &batches, &reason);
        ASSERT(decoded == KHORGOS_ERROR_ok);
        const u8 *batch = NULL;
        u32 batch_bytes = 0;
        while (client_multi_batch_next(&batches, &batch, &batch_bytes)) {
            if (!job_request_add(queued, job, operation, batch, batch_bytes)) goto fail;
        }
    }
    ASSERT(job->request_count == batch_count);
    connection->jobs_pending++;
    *queued->jobs_tail = job;
    queued->jobs_tail = &job->next;
    return true;
fail:
    if (job != NULL) {
        for (u32 index = 0; index < job->request_count; index++) {
            free(queued->requests[job->request_first + index].reply);
        }
        queued->requests_count -= job->request_count;
        free(job->body);
    }
    free(job);
    return false;
}

static void handle_request(struct server_connection *connection,
                           const struct client_header *header, const u8 *body) {
    struct server *server = connection->server;
    const struct client_request_fields *fields = &header->request;
    if (fields->operation == CLIENT_OPERATION_ADVANCE_CLOCK) {
        server_clock_advance(connection, header, body);
        return;
    }
    u32 operation = server_operation_to_engine(fields->operation);
    if (operation == 0) {
        send_eviction(connection, fields->client, CLIENT_EVICTION_invalid_request_operation);
        return;
    }
    /* A Khorgos operation's plain body goes to the engine whole; the engine checks it. */
    u32 batch_count = 1;
    struct client_operation_shape shape;
    bool plain = client_operation_khorgos(fields->operation);
    bool known = plain || client_operation_shape(fields->operation, &shape);
    ASSERT(known && (plain || shape.multi_batch));
    if (!plain && !body_check(header, body, &shape, &batch_count)) {
        send_eviction(connection, fields->client, CLIENT_EVICTION_invalid_request_body);
        return;
    }
    struct server_session *session = server_sessions_find(&server->sessions, fields->client);
    ASSERT(session != NULL && !session->in_flight);
    if (!job_queue(connection, header, body, operation, batch_count)) {
        server_connection_close(connection, "out of memory for a request");
        return;
    }
    session->request = fields->request;
    session->request_checksum = header->checksum;
    session->in_flight = true;
}

static void handle_ping(struct server_connection *connection, const struct client_header *ping) {
    struct server *server = connection->server;
    ASSERT(ping->command == CLIENT_COMMAND_PING_CLIENT);
    ASSERT(ping->ping.client != 0);
    if (ping->ping.session != 0 &&
        server_sessions_find(&server->sessions, ping->ping.client) == NULL) {
        send_eviction(connection, ping->ping.client, CLIENT_EVICTION_no_session);
        return;
    }
    struct client_header pong;
    client_pong_init(&pong, ping);
    client_header_seal(&pong, NULL);
    server_connection_send(connection, &pong, sizeof(pong));
}

void server_message_handle(struct server_connection *connection,
                           const struct client_header *header, const u8 *body) {
    ASSERT(connection != NULL && header != NULL);
    struct server *server = connection->server;
    if (header->command == CLIENT_COMMAND_PING_CLIENT) {
        handle_ping(connection, header);
        return;
    }
    if (header->command != CLIENT_COMMAND_REQUEST) {
        server_connection_close(connection, "a command clients do not send");
        return;
    }
    enum client_eviction_reason reason = CLIENT_EVICTION_reserved;
    struct server_session *session = NULL;
    switch (server_sessions_classify(&server->sessions, header, &reason)) {
    case SERVER_VERDICT_EXECUTE:
        if (header->request.operation == CLIENT_OPERATION_REGISTER) {
            handle_register(connection, header, body);
        } else {
            handle_request(connection, header, body);
        }
        break;
    case SERVER_VERDICT_RESEND:
        session = server_sessions_find(&server->sessions, header->request.client);
        ASSERT(session != NULL && session->reply != NULL);
        server_connection_send(connection, session->reply, session->reply_bytes);
        break;
    case SERVER_VERDICT_EVICT: send_eviction(connection, header->request.client, reason); break;
    case SERVER_VERDICT_DROP: break;
    }
}
