/*
 * server_execute.c: every queued job, from every connection, in one engine batch (one engine
 * request per batch of a body), then one multi-batch reply per job, with the create results'
 * statuses in TigerBeetle's numbers. Two engine batches are in flight at most: the queued one
 * is applied (khorgos_execute_begin) while the one before it is written and synced, and the
 * replies of a batch go out only once khorgos_execute_wait says it is durable.
 */
#include "server/server_private.h"

#include <signal.h>
#include <stdlib.h>

/* Writes one engine reply as a batch of the reply body (a query's results cut to what fits). */
static void reply_batch_add(struct client_multi_batch_encoder *encoder,
                            const struct khorgos_request *request) {
    ASSERT(request->error == KHORGOS_ERROR_ok);
    u32 writable_bytes = 0;
    u8 *writable = client_multi_batch_writable(encoder, &writable_bytes);
    ASSERT(writable != NULL);
    u32 bytes = MIN(request->reply_size, writable_bytes);
    memcpy(writable, request->reply, bytes);
    bool accounts = request->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS;
    if (accounts || request->operation == KHORGOS_OPERATION_CREATE_TRANSFERS) {
        ASSERT(bytes == request->reply_size);
        struct khorgos_create_result result;
        for (u32 offset = 0; offset < bytes; offset += sizeof(result)) {
            memcpy(&result, writable + offset, sizeof(result));
            result.status = accounts ? server_account_status_to_wire(result.status)
                                     : server_transfer_status_to_wire(result.status);
            memcpy(writable + offset, &result, sizeof(result));
        }
    }
    client_multi_batch_add(encoder, bytes);
}

/* A job the engine refused a batch of (capacity_full, ...): a reply missing that batch's
 * results would read as success, so the client is evicted (invalid_request_body) and its
 * session ends; the batches before it may have been applied, and the log says so. */
static bool job_refused(struct server *server, const struct server_batch *batch,
                        struct server_job *job, struct server_session *session) {
    ASSERT(session->in_flight);
    u32 applied = 0;
    khorgos_error error = KHORGOS_ERROR_ok;
    for (u32 index = 0; index < job->request_count; index++) {
        const struct khorgos_request *request = &batch->requests[job->request_first + index];
        if (request->error == KHORGOS_ERROR_ok) applied++;
        if (request->error != KHORGOS_ERROR_ok && error == KHORGOS_ERROR_ok) {
            error = request->error;
        }
    }
    if (error == KHORGOS_ERROR_ok) return false;
    server_log("event=request_refused connection=%llu error=%s batches=%u batches_applied=%u",
               (unsigned long long)job->connection->id, khorgos_error_name(error),
               job->request_count, applied);
    struct client_header eviction;
    client_eviction_init(&eviction, server->cluster, session->client,
                         CLIENT_EVICTION_invalid_request_body);
    client_header_seal(&eviction, NULL);
    server_connection_send(job->connection, &eviction, sizeof(eviction));
    free(session->reply);
    memset(session, 0, sizeof(*session));
    ASSERT(session->client == 0);
    return true;
}

/* Seals, stores and sends the reply message whose body (body_bytes) follows the header room,
 * at the next op number. */
static void job_reply_send(struct server *server, struct server_job *job,
                           struct server_session *session, u8 *message, u32 body_bytes,
                           u64 timestamp, khorgos_error error) {
    ASSERT(message != NULL && body_bytes <= CLIENT_BODY_BYTES_MAX);
    ASSERT(session->client == job->request.request.client);
    struct client_header reply;
    server->op++;
    if (timestamp == 0) timestamp = khorgos_clock_now(server->engine); /* nothing was assigned */
    client_reply_init(&reply, &job->request, server->op, timestamp, body_bytes);
    client_reply_error_set(&reply, error);
    u8 *shrunk = realloc(message, CLIENT_HEADER_BYTES + body_bytes);
    if (shrunk != NULL) message = shrunk;
    server_reply_finish(job->connection, session, &reply, message);
}

/* A Khorgos operation's reply: the engine's reply records as they are, or no body and the
 * engine's error (the request changed nothing; the session goes on). */
static void job_reply_plain(struct server *server, const struct server_batch *batch,
                            struct server_job *job, struct server_session *session) {
    ASSERT(job->request_count == 1);
    const struct khorgos_request *executed = &batch->requests[job->request_first];
    ASSERT(executed->reply_size <= CLIENT_BODY_BYTES_MAX);
    u32 body_bytes = executed->error == KHORGOS_ERROR_ok ? executed->reply_size : 0;
    u8 *message = malloc(CLIENT_HEADER_BYTES + body_bytes);
    ASSERT(message != NULL);
    memcpy(message + CLIENT_HEADER_BYTES, executed->reply, body_bytes);
    job_reply_send(server, job, session, message, body_bytes, executed->timestamp,
                   executed->error);
}

/* Builds, stores and sends the job's reply. */
static void job_reply(struct server *server, const struct server_batch *batch,
                      struct server_job *job) {
    const struct client_header *request = &job->request;
    struct server_session *session = server_sessions_find(&server->sessions,
                                                          request->request.client);
    ASSERT(session != NULL && session->in_flight);
    ASSERT(session->request == request->request.request);
    if (client_operation_khorgos(request->request.operation)) {
        job_reply_plain(server, batch, job, session);
        return;
    }
    if (job_refused(server, batch, job, session)) return;
    struct client_operation_shape shape;
    bool known = client_operation_shape(request->request.operation, &shape);
    ASSERT(known);
    u8 *message = malloc(CLIENT_MESSAGE_BYTES_MAX);
    ASSERT(message != NULL);
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, message + CLIENT_HEADER_BYTES,
                                    CLIENT_BODY_BYTES_MAX, shape.result_bytes);
    u64 timestamp = 0;
    for (u32 index = 0; index < job->request_count; index++) {
        const struct khorgos_request *executed = &batch->requests[job->request_first + index];
        reply_batch_add(&encoder, executed);
        timestamp = MAX(timestamp, executed->timestamp);
    }
    u32 body_bytes = client_multi_batch_finish(&encoder);
    ASSERT(encoder.batch_count == job->request_count);
    job_reply_send(server, job, session, message, body_bytes, timestamp, KHORGOS_ERROR_ok);
}

void server_batch_init(struct server_batch *batch) {
    ASSERT(batch != NULL);
    memset(batch, 0, sizeof(*batch));
    batch->jobs_tail = &batch->jobs_head;
    ASSERT(batch->requests_count == 0);
}

/* Sends the replies of a batch known durable (none when `error` says the engine failed), and
 * empties it. */
static void batch_finish(struct server *server, struct server_batch *batch, khorgos_error error) {
    ASSERT(batch->jobs_head != NULL);
    ASSERT(batch->requests_count > 0);
    struct server_job *job = batch->jobs_head;
    while (job != NULL) {
        struct server_job *next = job->next;
        if (error == KHORGOS_ERROR_ok) job_reply(server, batch, job);
        server_connection_job_done(job->connection);
        free(job->body);
        free(job);
        job = next;
    }
    for (u32 index = 0; index < batch->requests_count; index++) {
        free(batch->requests[index].reply);
    }
    batch->requests_count = 0;
    batch->jobs_head = NULL;
    batch->jobs_tail = &batch->jobs_head;
}

void server_jobs_execute(struct server *server) {
    struct server_batch *queued = server->queued;
    struct server_batch *flying = server->flying;
    ASSERT(queued->requests_count > 0 || flying->requests_count > 0);
    ASSERT(queued != flying);
    khorgos_error error = KHORGOS_ERROR_ok;
    if (queued->requests_count > 0) {
        /* Applies the queued batch while the one in flight is synced, then waits for that. */
        error = khorgos_execute_begin(server->engine, queued->requests, queued->requests_count,
                                      &queued->ticket);
        server->engine_batches++;
        server->engine_requests += queued->requests_count;
        if (flying->requests_count > 0) {
            khorgos_error durable = error == KHORGOS_ERROR_ok
                                        ? khorgos_execute_wait(server->engine, flying->ticket)
                                        : error;
            batch_finish(server, flying, durable);
        }
        server->flying = queued;
        server->queued = flying;
        if (error != KHORGOS_ERROR_ok) batch_finish(server, queued, error);
    } else {
        error = khorgos_execute_wait(server->engine, flying->ticket);
        batch_finish(server, flying, error);
    }
    if (server->flying->requests_count > 0) {
        uv_idle_start(&server->idle, server_on_idle);
    } else {
        uv_idle_stop(&server->idle);
    }
    if (error != KHORGOS_ERROR_ok && !server->stopping) server_engine_stopped(server, error);
}

void server_engine_stopped(struct server *server, khorgos_error error) {
    ASSERT(error != KHORGOS_ERROR_ok);
    ASSERT(server->engine != NULL);
    char failure[KHORGOS_FAILURE_TEXT_BYTES];
    khorgos_failure_text(server->engine, failure, sizeof(failure));
    server_log("event=engine_stopped error=%s failure=\"%s\"", khorgos_error_name(error),
               failure);
    server->failure = error;
    raise(SIGTERM);
}
