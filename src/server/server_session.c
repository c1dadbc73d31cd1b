/*
 * server_session.c: the session table, with TigerBeetle 0.17's replica rules for a request
 * from a client (docs/protocol.md, "register and sessions"). In memory only.
 */
#include "server/server.h"

#include <stdlib.h>

void server_sessions_init(struct server_sessions *sessions) {
    ASSERT(sessions != NULL);
    memset(sessions, 0, sizeof(*sessions));
    ASSERT(sessions->entries[0].client == 0);
}

void server_sessions_free(struct server_sessions *sessions) {
    ASSERT(sessions != NULL);
    for (u32 index = 0; index < SERVER_SESSIONS_MAX; index++) {
        free(sessions->entries[index].reply);
    }
    memset(sessions, 0, sizeof(*sessions));
    ASSERT(sessions->entries[0].reply == NULL);
}

struct server_session *server_sessions_find(struct server_sessions *sessions, u128 client) {
    ASSERT(sessions != NULL);
    ASSERT(client != 0);
    for (u32 index = 0; index < SERVER_SESSIONS_MAX; index++) {
        if (sessions->entries[index].client == client) return &sessions->entries[index];
    }
    return NULL;
}

static enum server_verdict evict(enum client_eviction_reason value,
                                 enum client_eviction_reason *reason) {
    ASSERT(value != CLIENT_EVICTION_reserved);
    ASSERT(reason != NULL);
    *reason = value;
    return SERVER_VERDICT_EVICT;
}

/* A register request: a retry of the one that opened the session gets its reply again. */
static enum server_verdict classify_register(const struct server_session *session,
                                             const struct client_header *request) {
    ASSERT(request->request.operation == CLIENT_OPERATION_REGISTER);
    ASSERT(request->request.request == 0);
    if (session == NULL) return SERVER_VERDICT_EXECUTE;
    if (session->in_flight) return SERVER_VERDICT_DROP;
    if (session->request == 0 && session->request_checksum == request->checksum) {
        return SERVER_VERDICT_RESEND;
    }
    return SERVER_VERDICT_EXECUTE;
}

enum server_verdict server_sessions_classify(struct server_sessions *sessions,
                                             const struct client_header *request,
                                             enum client_eviction_reason *reason) {
    ASSERT(sessions != NULL && request != NULL && reason != NULL);
    ASSERT(request->command == CLIENT_COMMAND_REQUEST);
    const struct client_request_fields *fields = &request->request;
    if (request->release < CLIENT_RELEASE_MIN) {
        return evict(CLIENT_EVICTION_client_release_too_low, reason);
    }
    if (request->release > CLIENT_RELEASE_SERVER) {
        return evict(CLIENT_EVICTION_client_release_too_high, reason);
    }
    struct server_session *session = server_sessions_find(sessions, fields->client);
    if (fields->operation == CLIENT_OPERATION_REGISTER) return classify_register(session, request);
    if (session == NULL) return evict(CLIENT_EVICTION_no_session, reason);
    if (fields->session < session->session) return evict(CLIENT_EVICTION_session_too_low, reason);
    if (fields->session > session->session) return SERVER_VERDICT_DROP;
    if (request->release != session->release) {
        return evict(CLIENT_EVICTION_session_release_mismatch, reason);
    }
    if (fields->request < session->request) return SERVER_VERDICT_DROP;
    if (fields->request == session->request) {
        if (session->in_flight || request->checksum != session->request_checksum) {
            return SERVER_VERDICT_DROP;
        }
        return SERVER_VERDICT_RESEND;
    }
    if (session->in_flight) return SERVER_VERDICT_DROP;
    if (fields->request != session->request + 1 || fields->parent != session->reply_context) {
        return SERVER_VERDICT_DROP;
    }
    return SERVER_VERDICT_EXECUTE;
}

/* The slot for a new session: the client's own, a free one, or the oldest not in flight. */
static struct server_session *slot_choose(struct server_sessions *sessions, u128 client) {
    ASSERT(client != 0);
    struct server_session *own = server_sessions_find(sessions, client);
    if (own != NULL) return own;
    struct server_session *oldest = NULL;
    for (u32 index = 0; index < SERVER_SESSIONS_MAX; index++) {
        struct server_session *entry = &sessions->entries[index];
        if (entry->client == 0) return entry;
        if (entry->in_flight) continue;
        if (oldest == NULL || entry->commit < oldest->commit) oldest = entry;
    }
    ASSERT(oldest == NULL || oldest->client != client);
    return oldest;
}

struct server_session *server_sessions_open(struct server_sessions *sessions, u128 client,
                                            u64 session, u32 release, u128 *evicted) {
    ASSERT(sessions != NULL && evicted != NULL);
    ASSERT(client != 0 && session != 0);
    *evicted = 0;
    struct server_session *slot = slot_choose(sessions, client);
    if (slot == NULL) return NULL;
    if (slot->client != 0 && slot->client != client) *evicted = slot->client;
    free(slot->reply);
    memset(slot, 0, sizeof(*slot));
    slot->client = client;
    slot->session = session;
    slot->commit = session;
    slot->release = release;
    return slot;
}

void server_session_reply_store(struct server_session *session, u8 *message, u32 bytes) {
    ASSERT(session != NULL && message != NULL);
    ASSERT(bytes >= CLIENT_HEADER_BYTES);
    struct client_header header;
    memcpy(&header, message, sizeof(header));
    ASSERT(header.command == CLIENT_COMMAND_REPLY && header.reply.client == session->client);
    free(session->reply);
    session->reply = message;
    session->reply_bytes = bytes;
    session->reply_context = header.reply.context;
    session->commit = header.reply.commit;
    session->in_flight = false;
}
