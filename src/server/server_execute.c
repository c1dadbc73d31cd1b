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
 * results would read as success, and TigerBeetle's result enums have no status for a refusal
 * of the whole request (none says "not authorized"), so the client is evicted and can send
 * nothing more in that session: invalid_request_operation for forbidden (an operation this
 * client may not send), no_session when a register evicted its session meanwhile,
 * invalid_request_body otherwise; the batches before it may have been applied, and the log
 * says so. */
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
    u8 reason = CLIENT_EVICTION_invalid_request_body;
    if (error == KHORGOS_ERROR_no_session) reason = CLIENT_EVICTION_no_session;
    if (error == KHORGOS_ERROR_forbidden) reason = CLIENT_EVICTION_invalid_request_operation;
    struct client_header eviction;
    client_eviction_init(&eviction, server->cluster, job->request.request.client, reason);
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
    u32 jobs = 0;
    if (server->jobs_by_client.slots == NULL) return false;
    return base_id_map_get(&server->jobs_by_client, client, &jobs);
}

/* The map of jobs by client with room for one more client: reserved at the first job for the
 * default connections, then doubled (each client in it has a job, so it grows only with the
 * jobs held at once). */
static bool client_jobs_room(struct base_id_map *map) {
    ASSERT(map != NULL);
    if (map->slots == NULL) {
        return base_id_map_init(map, SERVER_CONNECTIONS_MAX) == KHORGOS_ERROR_ok;
    }
    if (map->count < map->count_max) return true;
    if (map->count_max > U32_MAX / 4) return false;
    struct base_id_map larger;
    if (base_id_map_init(&larger, map->count_max * 2) != KHORGOS_ERROR_ok) return false;
    for (u64 slot = 0; slot <= map->slot_mask; slot++) {
        const struct base_id_map_slot *entry = &map->slots[slot];
        if (entry->key != 0) base_id_map_insert(&larger, entry->key, entry->value);
    }
    ASSERT(larger.count == map->count);
    base_id_map_deinit(map);
    *map = larger;
    return true;
}

bool server_client_job_add(struct server *server, u128 client) {
    ASSERT(server != NULL && client != 0);
    struct base_id_map *map = &server->jobs_by_client;
    u32 jobs = 0;
    u64 slot = 0;
    if (map->slots != NULL && base_id_map_find(map, client, &jobs, &slot)) {
        base_id_map_remove(map, client);
        base_id_map_insert(map, client, jobs + 1);
        return true;
    }
    if (!client_jobs_room(map)) return false;
    base_id_map_insert(map, client, 1);
    ASSERT(server_client_in_flight(server, client));
    return true;
}

/* A job of the client's replied to (or dropped with its batch). */
static void client_job_done(struct server *server, u128 client) {
    struct base_id_map *map = &server->jobs_by_client;
    u32 jobs = 0;
    bool found = map->slots != NULL && base_id_map_get(map, client, &jobs);
    ASSERT(found && jobs > 0);
    base_id_map_remove(map, client);
    if (jobs > 1) base_id_map_insert(map, client, jobs - 1);
}

void server_client_jobs_free(struct server *server) {
    ASSERT(server != NULL);
    ASSERT(server->jobs_by_client.count == 0 || server->jobs_by_client.slots != NULL);
    if (server->jobs_by_client.slots != NULL) base_id_map_deinit(&server->jobs_by_client);
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
        client_job_done(server, job->request.request.client);
        server_connection_job_done(job->connection);
        free(job); /* its clients and body with it */
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
