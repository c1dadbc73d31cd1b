/*
 * server_execute.c: every queued job, from every connection, in one khorgos_execute call (one
 * engine request per batch), then one multi-batch reply per job, with the create results'
 * statuses in TigerBeetle's numbers. khorgos_execute returns once the batch is durable, so
 * each reply goes out only after its request is.
 */
#include "server/server_private.h"

#include <signal.h>
#include <stdlib.h>

/* Writes one engine reply as a batch of the reply body: an empty batch when the engine refused
 * the request (false then). */
static bool reply_batch_add(struct client_multi_batch_encoder *encoder,
                            const struct khorgos_request *request) {
    u32 writable_bytes = 0;
    u8 *writable = client_multi_batch_writable(encoder, &writable_bytes);
    ASSERT(writable != NULL);
    if (request->error != KHORGOS_ERROR_ok) {
        client_multi_batch_add(encoder, 0);
        return false;
    }
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
    return true;
}

/* Builds, stores and sends the job's reply. */
static void job_reply(struct server *server, struct server_job *job) {
    const struct client_header *request = &job->request;
    struct server_session *session = server_sessions_find(&server->sessions,
                                                          request->request.client);
    ASSERT(session != NULL && session->in_flight);
    ASSERT(session->request == request->request.request);
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
        const struct khorgos_request *batch = &server->requests[job->request_first + index];
        if (!reply_batch_add(&encoder, batch)) {
            server_log("event=request_refused connection=%llu error=%s",
                       (unsigned long long)job->connection->id, khorgos_error_name(batch->error));
        }
        timestamp = MAX(timestamp, batch->timestamp);
    }
    u32 body_bytes = client_multi_batch_finish(&encoder);
    ASSERT(encoder.batch_count == job->request_count);
    struct client_header reply;
    server->op++;
    if (timestamp == 0) timestamp = khorgos_clock_now(server->engine);
    server->timestamp_last = MAX(server->timestamp_last, timestamp);
    client_reply_init(&reply, request, server->op, server->timestamp_last, body_bytes);
    client_header_seal(&reply, message + CLIENT_HEADER_BYTES);
    memcpy(message, &reply, sizeof(reply));
    u8 *shrunk = realloc(message, reply.size);
    if (shrunk != NULL) message = shrunk;
    server_session_reply_store(session, message, reply.size);
    server_connection_send(job->connection, message, reply.size);
}

void server_jobs_execute(struct server *server) {
    ASSERT(server != NULL && server->jobs_head != NULL);
    ASSERT(server->requests_count > 0);
    khorgos_error error = khorgos_execute(server->engine, server->requests,
                                          server->requests_count);
    struct server_job *job = server->jobs_head;
    server->jobs_head = NULL;
    server->jobs_tail = &server->jobs_head;
    while (job != NULL) {
        struct server_job *next = job->next;
        if (error == KHORGOS_ERROR_ok) job_reply(server, job);
        server_connection_job_done(job->connection);
        free(job->body);
        free(job);
        job = next;
    }
    for (u32 index = 0; index < server->requests_count; index++) {
        free(server->requests[index].reply);
    }
    server->requests_count = 0;
    if (error != KHORGOS_ERROR_ok && !server->stopping) {
        server_log("event=engine_stopped error=%s failure=\"%s\"", khorgos_error_name(error),
                   khorgos_failure(server->engine));
        server->failure = error;
        raise(SIGTERM);
    }
}
