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
    connection->server->metrics.evictions[reason]++;
    server_connection_send(connection, &eviction, sizeof(eviction));
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

struct khorgos_actor server_request_actor(const struct server_identity *identity) {
    struct khorgos_actor actor = {.role = KHORGOS_ACTOR_OPERATOR};
    if (identity->role == SERVER_ROLE_AUDITOR) actor.role = KHORGOS_ACTOR_AUDITOR;
    if (identity->role == SERVER_ROLE_REPLICA) actor.role = KHORGOS_ACTOR_REPLICA;
    if (identity->role == SERVER_ROLE_PARTICIPANT) {
        actor.role = KHORGOS_ACTOR_PARTICIPANT;
        memcpy(actor.bic, identity->actor, KHORGOS_BIC_BYTES);
    }
    ASSERT(actor.role != KHORGOS_ACTOR_OPERATOR || identity->role == SERVER_ROLE_OPERATOR);
    return actor;
}

/* The engine request of a register: it opens the session once applied, and its reply is the
 * session's number (a later register of the same batch may evict the session before the
 * reply is sent). false when out of memory. */
static bool job_register(struct server_job *job, struct server_batch *queued) {
    ASSERT(job->request.request.operation == CLIENT_OPERATION_REGISTER);
    ASSERT(job->request_count == 0);
    struct khorgos_request *request = &queued->requests[queued->requests_count];
    *request = (struct khorgos_request){.operation = KHORGOS_OPERATION_REGISTER,
                                        .reply = malloc(sizeof(u64)),
                                        .reply_capacity = sizeof(u64),
                                        .actor = server_request_actor(&job->connection->identity),
                                        .client = &job->clients[0]};
    queued->requests_count++;
    job->request_count = 1;
    return request->reply != NULL;
}

/* One engine request of the job: `batch` of its body, with room for its reply. false when out
 * of memory. */
static bool job_request_add(struct server_job *job, struct server_batch *queued, u32 operation,
                            const u8 *batch, u32 batch_bytes) {
    ASSERT(queued->requests_count < queued->requests_capacity);
    ASSERT(batch != NULL || batch_bytes == 0);
    u32 capacity = khorgos_reply_size_max(operation, batch_bytes);
    struct khorgos_request *request = &queued->requests[queued->requests_count];
    *request = (struct khorgos_request){.operation = operation, .body_size = batch_bytes,
                                        .body = batch, .reply = malloc(MAX(capacity, 1u)),
                                        .reply_capacity = capacity,
                                        .actor = server_request_actor(&job->connection->identity),
                                        .client = &job->clients[job->request_count]};
    queued->requests_count++;
    job->request_count++;
    return request->reply != NULL;
}

/* The engine requests of the job's body: one per batch of a multi-batch body, one for the
 * plain body of a Khorgos operation. false when out of memory. */
static bool job_batches(struct server_job *job, struct server_batch *queued, u32 operation) {
    if (client_operation_khorgos(job->request.request.operation)) {
        return job_request_add(job, queued, operation, job->body,
                               job->request.size - CLIENT_HEADER_BYTES);
    }
    struct client_operation_shape shape;
    bool known = client_operation_shape(job->request.request.operation, &shape);
    ASSERT(known);
    struct client_multi_batch batches;
    const char *reason = NULL;
    khorgos_error decoded = client_multi_batch_decode(
        job->body, job->request.size - CLIENT_HEADER_BYTES, shape.event_bytes, &batches, &reason);
    ASSERT(decoded == KHORGOS_ERROR_ok);
    const u8 *batch = NULL;
    u32 batch_bytes = 0;
    while (client_multi_batch_next(&batches, &batch, &batch_bytes)) {
        if (!job_request_add(job, queued, operation, batch, batch_bytes)) return false;
    }
    return true;
}

_Static_assert(sizeof(struct server_job) % 16 == 0 &&
                   sizeof(struct khorgos_client_request) % 16 == 0,
               "a job's clients and body start at multiples of 16 bytes");

/* Queues the request's batches as engine requests of the next engine batch (a register as
 * one engine request), each with its client and batch number. */
static bool job_queue(struct server_connection *connection, const struct client_header *header,
                      const u8 *body, u32 operation, u32 batch_count) {
    struct server_batch *queued = connection->server->queued;
    u32 body_bytes = header->size - CLIENT_HEADER_BYTES;
    /* One allocation: the job, then its clients, then the copy of the body (each part at a
     * multiple of 16 bytes, as malloc aligns). */
    size_t clients_bytes = batch_count * sizeof(struct khorgos_client_request);
    struct server_job *job = NULL;
    if (!requests_reserve(queued, batch_count)) goto fail;
    job = malloc(sizeof(*job) + clients_bytes + body_bytes);
    if (job == NULL) goto fail;
    memset(job, 0, sizeof(*job));
    job->clients = (struct khorgos_client_request *)(job + 1);
    job->body = (u8 *)job->clients + clients_bytes;
    memcpy(job->body, body, body_bytes);
    job->connection = connection;
    job->request = *header;
    job->request_first = queued->requests_count;
    for (u32 batch = 0; batch < batch_count; batch++) {
        job->clients[batch] = (struct khorgos_client_request){
            .client = header->request.client, .checksum = header->checksum,
            .request = header->request.request, .release = header->release,
            .batch = (u16)batch, .batch_count = (u16)batch_count};
    }
    if (operation == KHORGOS_OPERATION_REGISTER ? !job_register(job, queued)
                                                : !job_batches(job, queued, operation)) {
        goto fail;
    }
    ASSERT(job->request_count == batch_count);
    if (!server_client_job_add(connection->server, header->request.client)) goto fail;
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
    }
    free(job);
    return false;
}

/* A register: queued as an engine request, which opens the session once applied (and evicts
 * the session whose latest reply is oldest when the table is full). */
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
    u128 evictee = engine_session_evictee(server->engine, header->request.client);
    if (!job_queue(connection, header, body, KHORGOS_OPERATION_REGISTER, 1)) {
        server_connection_close(connection, "out of memory for a request");
        return;
    }
    if (evictee != 0) {
        char name[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
        base_u128_format(evictee, name);
        server_log("event=session_evicted client=%s reason=table_full", name);
    }
}

static void handle_request(struct server_connection *connection,
                           const struct client_header *header, const u8 *body) {
    struct server *server = connection->server;
    const struct client_request_fields *fields = &header->request;
    if (fields->operation == CLIENT_OPERATION_ADVANCE_CLOCK && server->replica != NULL) {
        /* A replica runs on the leader's clock, which no client moves. */
        server_reply_unrecorded(connection, header, NULL, 0, khorgos_clock_now(server->engine),
                                KHORGOS_ERROR_clock_not_manual);
        return;
    }
    if (fields->operation == CLIENT_OPERATION_CLUSTER_MEMBERSHIP) {
        server_membership_request(connection, header, body); /* never through the log */
        return;
    }
    bool gateway = fields->operation >= CLIENT_OPERATION_SUBMIT_MESSAGE &&
                   fields->operation <= CLIENT_OPERATION_SUBSCRIBE_ENTRIES;
    if (gateway && server->replica != NULL) {
        /* The gateway submits to the engine directly, outside the replicated log; a replica's
         * state changes only through the log (docs/replication.md). */
        server_reply_unrecorded(connection, header, NULL, 0, khorgos_clock_now(server->engine),
                                KHORGOS_ERROR_invalid_operation);
        return;
    }
    if (fields->operation >= CLIENT_OPERATION_SUBMIT_MESSAGE &&
        fields->operation <= CLIENT_OPERATION_GET_STATEMENT) {
        server_gateway_request(connection, header, body);
        return;
    }
    if (fields->operation == CLIENT_OPERATION_SUBSCRIBE_ENTRIES) {
        server_notify_subscribe(connection, header, body);
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
    ASSERT(engine_session_find(server->engine, fields->client) != NULL);
    if (!job_queue(connection, header, body, operation, batch_count)) {
        server_connection_close(connection, "out of memory for a request");
    }
}

static void handle_ping(struct server_connection *connection, const struct client_header *ping) {
    struct server *server = connection->server;
    ASSERT(ping->command == CLIENT_COMMAND_PING_CLIENT);
    ASSERT(ping->ping.client != 0);
    /* A replica that does not serve may lack a session the leader has: it never evicts. */
    bool serving = server->replica == NULL || server_replica_serving(server);
    if (server->replica != NULL && !server_replica_answers_ping(server)) return;
    if (serving && ping->ping.session != 0 &&
        engine_session_find(server->engine, ping->ping.client) == NULL) {
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
    /* A follower drops requests: the client's timeout sends them to the next replica. */
    if (server->replica != NULL && !server_replica_serving(server)) return;
    enum client_eviction_reason reason = CLIENT_EVICTION_reserved;
    u128 client = header->request.client;
    if (!server_connection_client_add(connection, client)) {
        server_connection_close(connection, "more clients on one connection than it may carry");
        return;
    }
    const struct engine_session *session = NULL;
    const struct server_reply *reply = NULL;
    switch (server_session_classify(server->engine, &server->replies, server->cluster, header,
                                    server_client_in_flight(server, client), &reason)) {
    case SERVER_VERDICT_EXECUTE:
        if (header->request.operation == CLIENT_OPERATION_REGISTER) {
            handle_register(connection, header, body);
        } else {
            handle_request(connection, header, body);
        }
        break;
    case SERVER_VERDICT_RESEND:
        session = engine_session_find(server->engine, client);
        ASSERT(session != NULL);
        reply = server_session_reply(&server->replies, server->cluster, session);
        if (reply != NULL) server_connection_send(connection, reply->message, reply->bytes);
        break;
    case SERVER_VERDICT_EVICT: send_eviction(connection, header->request.client, reason); break;
    case SERVER_VERDICT_DROP: break;
    }
}
