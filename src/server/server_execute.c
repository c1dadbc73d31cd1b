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

void server_reply_unrecorded(struct server_connection *connection,
                             const struct client_header *request, const void *body,
                             u32 body_bytes, u64 timestamp, khorgos_error error) {
    ASSERT(client_operation_khorgos(request->request.operation));
    ASSERT(body != NULL || body_bytes == 0);
    const struct engine_session *session =
        engine_session_find(connection->server->engine, request->request.client);
    ASSERT(session != NULL);
    u8 *message = malloc(CLIENT_HEADER_BYTES + body_bytes);
    if (message == NULL) {
        server_connection_close(connection, "out of memory for a reply");
        return;
    }
    if (body_bytes > 0) memcpy(message + CLIENT_HEADER_BYTES, body, body_bytes);
    struct client_header reply;
    client_reply_init(&reply, request, session->commit, timestamp, body_bytes);
    client_reply_error_set(&reply, error);
    client_header_seal(&reply, message + CLIENT_HEADER_BYTES);
    memcpy(message, &reply, sizeof(reply));
    server_connection_send(connection, message, reply.size);
    free(message);
}

/* A Khorgos operation the engine's validation refused (body_size, invalid_argument, ...): the
 * engine changed nothing, its session included, and the reply says why in its error byte.
 * Authorization's refusal (forbidden) is recorded by the session and answered from it. */
static bool job_refused_plain(struct server *server, const struct server_batch *batch,
                              struct server_job *job) {
    ASSERT(job->request_first < batch->requests_count);
    if (!client_operation_khorgos(job->request.request.operation)) return false;
    ASSERT(job->request_count == 1);
    khorgos_error error = batch->requests[job->request_first].error;
    if (error == KHORGOS_ERROR_ok || error == KHORGOS_ERROR_forbidden) return false;
    if (error == KHORGOS_ERROR_no_session) return false; /* evicted below, as any request */
    server_reply_unrecorded(job->connection, &job->request, NULL, 0,
                            khorgos_clock_now(server->engine), error);
    return true;
}

/* A job the engine refused a batch of (capacity_full, ...): a reply missing that batch's
 * results would read as success, so the client is evicted (invalid_request_body; no_session
 * when a register evicted its session meanwhile) and can send nothing more in that session;
 * the batches before it may have been applied, and the log says so. */
static bool job_refused(struct server *server, const struct server_batch *batch,
                        struct server_job *job) {
    ASSERT(job->request_count > 0);
    ASSERT(job->request_first + job->request_count <= batch->requests_count);
    if (job_refused_plain(server, batch, job)) return true;
    u32 applied = 0;
    khorgos_error error = KHORGOS_ERROR_ok;
    for (u32 index = 0; index < job->request_count; index++) {
        const struct khorgos_request *request = &batch->requests[job->request_first + index];
        if (request->error == KHORGOS_ERROR_ok) applied++;
        if (request->error == KHORGOS_ERROR_forbidden &&
            client_operation_khorgos(job->request.request.operation)) {
            applied++; /* recorded by the session, answered from it */
            continue;
        }
        if (request->error != KHORGOS_ERROR_ok && error == KHORGOS_ERROR_ok) {
            error = request->error;
        }
    }
    if (error == KHORGOS_ERROR_ok) return false;
    server_log("event=request_refused connection=%llu error=%s batches=%u batches_applied=%u",
               (unsigned long long)job->connection->id, khorgos_error_name(error),
               job->request_count, applied);
    struct client_header eviction;
    client_eviction_init(&eviction, server->cluster, job->request.request.client,
                         error == KHORGOS_ERROR_no_session ? CLIENT_EVICTION_no_session
                                                           : CLIENT_EVICTION_invalid_request_body);
    client_header_seal(&eviction, NULL);
    server_connection_send(job->connection, &eviction, sizeof(eviction));
    return true;
}

/* The session a register opened, as the table held it right after: every register is
 * answered, also one whose session a later register (of this batch or the next) evicted; that
 * client learns of the eviction at its next request, as with TigerBeetle. */
static struct engine_session register_session(const struct server_job *job,
                                              const struct khorgos_request *applied) {
    ASSERT(applied->operation == KHORGOS_OPERATION_REGISTER);
    ASSERT(applied->reply_size == sizeof(u64) && applied->timestamp > 0);
    u64 number = 0;
    memcpy(&number, applied->reply, sizeof(number));
    return (struct engine_session){.client = job->request.request.client,
                                   .request_checksum = job->request.checksum,
                                   .session = number,
                                   .commit = number,
                                   .timestamp = applied->timestamp,
                                   .release = job->request.release,
                                   .operation = KHORGOS_OPERATION_REGISTER,
                                   .batch_count = 1,
                                   .batches_done = 1};
}

/* Sends the job's reply, built from the engine's session table (server_session.c). */
static void job_reply(struct server *server, const struct server_batch *batch,
                      struct server_job *job) {
    const struct client_header *request = &job->request;
    u128 client = request->request.client;
    ASSERT(client != 0);
    if (job_refused(server, batch, job)) return;
    const struct engine_session *session = engine_session_find(server->engine, client);
    struct engine_session registered;
    if (request->request.operation == CLIENT_OPERATION_REGISTER) {
        registered = register_session(job, &batch->requests[job->request_first]);
        if (session == NULL || session->session != registered.session) session = &registered;
    }
    if (session == NULL || session->request != request->request.request ||
        session->request_checksum != request->checksum) {
        /* A register begun after it evicted the session: the client must register again. */
        struct client_header eviction;
        client_eviction_init(&eviction, server->cluster, client, CLIENT_EVICTION_no_session);
        client_header_seal(&eviction, NULL);
        server_connection_send(job->connection, &eviction, sizeof(eviction));
        return;
    }
    ASSERT(session->batches_done == session->batch_count);
    if (request->request.operation == CLIENT_OPERATION_REGISTER) {
        char name[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
        base_u128_format(client, name);
        server_log("event=session_opened connection=%llu client=%s session=%llu",
                   (unsigned long long)job->connection->id, name,
                   (unsigned long long)session->session);
    }
    const struct server_reply *reply =
        server_session_reply(&server->replies, server->cluster, session);
    if (reply == NULL) {
        server_connection_close(job->connection, "out of memory for a reply");
        return;
    }
    server_connection_send(job->connection, reply->message, reply->bytes);
}

bool server_client_in_flight(const struct server *server, u128 client) {
    ASSERT(server != NULL && client != 0);
    ASSERT(server->queued != server->flying);
    const struct server_batch *batches[2] = {server->queued, server->flying};
    for (u32 index = 0; index < 2; index++) {
        for (const struct server_job *job = batches[index]->jobs_head; job != NULL;
             job = job->next) {
            if (job->request.request.client == client) return true;
        }
    }
    return false;
}

void server_batch_init(struct server_batch *batch) {
    ASSERT(batch != NULL);
    memset(batch, 0, sizeof(*batch));
    batch->jobs_tail = &batch->jobs_head;
    ASSERT(batch->requests_count == 0);
}

/* Sends the replies of a batch known durable (none when `error` says the engine failed), and
 * empties it. */
void server_batch_finish(struct server *server, struct server_batch *batch, khorgos_error error) {
    ASSERT(batch->jobs_head != NULL);
    ASSERT(batch->requests_count > 0);
    server_metrics_batch_finished(server, batch, error);
    struct server_job *job = batch->jobs_head;
    while (job != NULL) {
        struct server_job *next = job->next;
        if (error == KHORGOS_ERROR_ok) job_reply(server, batch, job);
        server_connection_job_done(job->connection);
        free(job->body);
        free(job->clients);
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
    if (server->replica != NULL) {
        server_replica_execute(server); /* through the replicated log */
        return;
    }
    struct server_batch *queued = server->queued;
    struct server_batch *flying = server->flying;
    ASSERT(queued->requests_count > 0 || flying->requests_count > 0);
    ASSERT(queued != flying);
    khorgos_error error = KHORGOS_ERROR_ok;
    if (queued->requests_count > 0) {
        /* Applies the queued batch while the one in flight is synced, then waits for that. */
        queued->begun_ns = uv_hrtime();
        error = khorgos_execute_begin(server->engine, queued->requests, queued->requests_count,
                                      &queued->ticket);
        server->engine_batches++;
        server->engine_requests += queued->requests_count;
        if (flying->requests_count > 0) {
            khorgos_error durable = error == KHORGOS_ERROR_ok
                                        ? khorgos_execute_wait(server->engine, flying->ticket)
                                        : error;
            server_batch_finish(server, flying, durable);
        }
        server->flying = queued;
        server->queued = flying;
        if (error != KHORGOS_ERROR_ok) server_batch_finish(server, queued, error);
    } else {
        error = khorgos_execute_wait(server->engine, flying->ticket);
        server_batch_finish(server, flying, error);
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
