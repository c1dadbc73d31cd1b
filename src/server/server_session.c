/*
 * server_session.c: TigerBeetle 0.17's replica rules for a request from a client
 * (docs/protocol.md, "register and sessions"), over the engine's session table
 * (src/engine/engine_session.c), and the reply messages built from that table.
 *
 * A reply message is a function of the session's entry alone: the header's fields come from the
 * request the entry records (its checksum, number, operation, release), the session's commit
 * and timestamp, and the body is the entry's engine replies as a multi-batch body with the
 * create results' statuses in TigerBeetle's numbers (for Khorgos's own operations, the engine's
 * reply as a plain body, and the entry's error in the header's error byte). So the first
 * answer, a retry before a restart and a retry after one are the same bytes.
 */
#include "engine/engine.h"
#include "server/server.h"

#include <stdlib.h>

void server_replies_free(struct server_replies *replies) {
    ASSERT(replies != NULL);
    for (u32 index = 0; index < SERVER_REPLIES_MAX; index++) {
        free(replies->entries[index].message);
    }
    free(replies->scratch);
    memset(replies, 0, sizeof(*replies));
    ASSERT(replies->entries[0].message == NULL);
}

/* One engine reply as a batch of the body (a query's results cut to what fits). */
static void reply_batch_add(struct client_multi_batch_encoder *encoder, u32 operation,
                            const u8 *reply, u32 reply_size) {
    ASSERT(reply != NULL || reply_size == 0);
    u32 writable_bytes = 0;
    u8 *writable = client_multi_batch_writable(encoder, &writable_bytes);
    ASSERT(writable != NULL);
    u32 bytes = MIN(reply_size, writable_bytes);
    if (bytes > 0) memcpy(writable, reply, bytes);
    bool accounts = operation == KHORGOS_OPERATION_CREATE_ACCOUNTS;
    if (accounts || operation == KHORGOS_OPERATION_CREATE_TRANSFERS) {
        ASSERT(bytes == reply_size);
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

/* The body of the session's latest reply into `body`; returns its bytes. */
static u32 reply_body(const struct engine_session *session, u8 *body) {
    ASSERT(session->batches_done == session->batch_count);
    ASSERT(body != NULL);
    if (session->operation == KHORGOS_OPERATION_REGISTER) {
        struct client_register_result result = {.batch_size_limit = CLIENT_BODY_BYTES_MAX};
        memcpy(body, &result, sizeof(result));
        return sizeof(result);
    }
    u8 wire = server_operation_from_engine(session->operation);
    if (client_operation_khorgos(wire)) { /* a plain body: the engine's reply as it is */
        ASSERT(session->batch_count == 1 && session->reply_size <= CLIENT_BODY_BYTES_MAX);
        if (session->reply_size > 0) memcpy(body, session->reply, session->reply_size);
        return session->reply_size;
    }
    struct client_operation_shape shape;
    bool known = client_operation_shape(wire, &shape);
    ASSERT(known);
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, body, CLIENT_BODY_BYTES_MAX, shape.result_bytes);
    u32 offset = 0;
    for (u32 batch = 0; batch < session->batch_count; batch++) {
        u32 size = session->batch_reply_sizes[batch];
        reply_batch_add(&encoder, session->operation, session->reply + offset, size);
        offset += size;
    }
    ASSERT(offset == session->reply_size);
    return client_multi_batch_finish(&encoder);
}

/* Builds the reply message of the session's latest request into `message`
 * (CLIENT_MESSAGE_BYTES_MAX); returns its bytes. */
static u32 reply_build(u128 cluster, const struct engine_session *session, u8 *message) {
    ASSERT(session->client != 0 && message != NULL);
    u32 body_bytes = reply_body(session, message + CLIENT_HEADER_BYTES);
    /* The request as the entry records it: what the reply header echoes. */
    struct client_header request;
    memset(&request, 0, sizeof(request));
    request.command = CLIENT_COMMAND_REQUEST;
    request.cluster = cluster;
    request.release = session->release;
    request.checksum = session->request_checksum;
    request.request.client = session->client;
    request.request.request = (u32)session->request;
    request.request.operation = server_operation_from_engine(session->operation);
    struct client_header reply;
    client_reply_init(&reply, &request, session->commit, session->timestamp, body_bytes);
    if (client_operation_khorgos(request.request.operation)) {
        client_reply_error_set(&reply, session->error);
    }
    client_header_seal(&reply, message + CLIENT_HEADER_BYTES);
    memcpy(message, &reply, sizeof(reply));
    ASSERT(reply.size == CLIENT_HEADER_BYTES + body_bytes);
    return reply.size;
}

const struct server_reply *server_session_reply(struct server_replies *replies, u128 cluster,
                                                const struct engine_session *session) {
    ASSERT(replies != NULL && session != NULL);
    ASSERT(session->batches_done == session->batch_count);
    /* One cache slot per slot of the engine's table: a session's reply is found without a
     * search, and one that took over a slot replaces the reply kept there. A register's reply
     * for a session already evicted again (server_execute.c) comes from a copy whose slot is
     * 0: any slot will do, since an entry is used only when client, session and request match,
     * and one dropped is built again when needed. */
    ASSERT(session->slot < SERVER_REPLIES_MAX);
    struct server_reply *slot = &replies->entries[session->slot];
    if (slot->client == session->client && slot->session == session->session &&
        slot->request == session->request) {
        return slot;
    }
    if (replies->scratch == NULL) replies->scratch = malloc(CLIENT_MESSAGE_BYTES_MAX);
    if (replies->scratch == NULL) return NULL;
    u32 bytes = reply_build(cluster, session, replies->scratch);
    if (slot->capacity < bytes) {
        /* The slot's buffer grows to the reply; the slot is left empty if it cannot. */
        u8 *message = malloc(bytes);
        free(slot->message);
        *slot = (struct server_reply){.message = message, .capacity = message ? bytes : 0};
        if (message == NULL) return NULL;
    }
    memcpy(slot->message, replies->scratch, bytes);
    slot->client = session->client;
    slot->session = session->session;
    slot->request = session->request;
    slot->bytes = bytes;
    return slot;
}

static enum server_verdict evict(enum client_eviction_reason value,
                                 enum client_eviction_reason *reason) {
    ASSERT(value != CLIENT_EVICTION_reserved);
    ASSERT(reason != NULL);
    *reason = value;
    return SERVER_VERDICT_EVICT;
}

/* A register request: a retry of the one that opened the session gets its reply again. */
static enum server_verdict classify_register(const struct engine_session *session,
                                             const struct client_header *request) {
    ASSERT(request->request.operation == CLIENT_OPERATION_REGISTER);
    ASSERT(request->request.request == 0);
    if (session != NULL && session->request == 0 &&
        session->request_checksum == request->checksum) {
        return SERVER_VERDICT_RESEND;
    }
    return SERVER_VERDICT_EXECUTE;
}

/* The next request after the latest: its parent must be the latest reply's context. */
static enum server_verdict classify_next(struct server_replies *replies, u128 cluster,
                                         const struct engine_session *session,
                                         const struct client_request_fields *fields) {
    ASSERT(fields->request > session->request);
    ASSERT(fields->client == session->client);
    if (fields->request != session->request + 1) return SERVER_VERDICT_DROP;
    const struct server_reply *latest = server_session_reply(replies, cluster, session);
    if (latest == NULL) return SERVER_VERDICT_DROP; /* out of memory: the client retries */
    struct client_header header;
    memcpy(&header, latest->message, sizeof(header));
    return fields->parent == header.reply.context ? SERVER_VERDICT_EXECUTE : SERVER_VERDICT_DROP;
}

enum server_verdict server_session_classify(struct khorgos *engine, struct server_replies *replies,
                                            u128 cluster, const struct client_header *request,
                                            bool in_flight, enum client_eviction_reason *reason) {
    ASSERT(engine != NULL && request != NULL && reason != NULL);
    ASSERT(request->command == CLIENT_COMMAND_REQUEST);
    const struct client_request_fields *fields = &request->request;
    if (request->release < CLIENT_RELEASE_MIN) {
        return evict(CLIENT_EVICTION_client_release_too_low, reason);
    }
    if (request->release > CLIENT_RELEASE_SERVER) {
        return evict(CLIENT_EVICTION_client_release_too_high, reason);
    }
    if (in_flight) return SERVER_VERDICT_DROP;
    const struct engine_session *session = engine_session_find(engine, fields->client);
    if (fields->operation == CLIENT_OPERATION_REGISTER) return classify_register(session, request);
    if (session == NULL) return evict(CLIENT_EVICTION_no_session, reason);
    if (fields->session < session->session) return evict(CLIENT_EVICTION_session_too_low, reason);
    if (fields->session > session->session) return SERVER_VERDICT_DROP;
    if (request->release != session->release) {
        return evict(CLIENT_EVICTION_session_release_mismatch, reason);
    }
    if (session->batches_done != session->batch_count) return SERVER_VERDICT_DROP;
    if (fields->request < session->request) return SERVER_VERDICT_DROP;
    if (fields->request == session->request) {
        /* The same number with another body is refused: dropped, as TigerBeetle does. */
        return request->checksum == session->request_checksum ? SERVER_VERDICT_RESEND
                                                              : SERVER_VERDICT_DROP;
    }
    return classify_next(replies, cluster, session, fields);
}
