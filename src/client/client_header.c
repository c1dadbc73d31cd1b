/* client_header.c: the 256-byte header: checksums, validation as TigerBeetle's
 * Header.invalid() for the client commands, sealing, and the builders of the server's messages.
 * See client.h for the design. */
#include "client/client.h"

#define CHECKSUM_FIELD_BYTES 16u

u128 client_header_checksum(const struct client_header *header) {
    ASSERT(header != NULL);
    const u8 *bytes = (const u8 *)header;
    ASSERT(sizeof(header->checksum) == CHECKSUM_FIELD_BYTES);
    return base_aegis_checksum(bytes + CHECKSUM_FIELD_BYTES,
                               CLIENT_HEADER_BYTES - CHECKSUM_FIELD_BYTES);
}

/* The checksum of an empty body, which headers without a body carry. */
static u128 checksum_body_empty(void) { return base_aegis_checksum(NULL, 0); }

/* The fields every command shares (TigerBeetle's Header.invalid, first part). */
static const char *frame_invalid(const struct client_header *header) {
    ASSERT(header != NULL);
    if (header->checksum_padding != 0) return "checksum_padding is not 0";
    if (header->checksum_body_padding != 0) return "checksum_body_padding is not 0";
    if (header->nonce_reserved != 0) return "nonce_reserved is not 0";
    if (header->size < CLIENT_HEADER_BYTES) return "size is less than the header's 256 bytes";
    if (header->size > CLIENT_MESSAGE_BYTES_MAX) return "size is more than 1 MiB";
    if (header->epoch != 0) return "epoch is not 0";
    if (!base_bytes_zero(header->reserved_frame, sizeof(header->reserved_frame))) {
        return "reserved_frame is not 0";
    }
    if (header->protocol != CLIENT_PROTOCOL_VERSION) return "protocol is not 0";
    if (header->release == 0) return "release is 0";
    return NULL;
}

static const char *register_invalid(const struct client_header *header) {
    ASSERT(header->command == CLIENT_COMMAND_REQUEST);
    const struct client_request_fields *request = &header->request;
    ASSERT(request->operation == CLIENT_OPERATION_REGISTER);
    if (request->parent != 0) return "register: parent is not 0";
    if (request->session != 0) return "register: session is not 0";
    if (request->request != 0) return "register: request is not 0";
    /* A body-less register is a pre-0.16 client's; it passes here so the server can evict it
     * with client_release_too_low (or invalid_request_body_size), as TigerBeetle does. */
    if (header->size != CLIENT_HEADER_BYTES &&
        header->size != CLIENT_HEADER_BYTES + sizeof(struct client_register_request)) {
        return "register: size is not 256 or 512";
    }
    return NULL;
}

static const char *request_invalid(const struct client_header *header) {
    ASSERT(header != NULL);
    const struct client_request_fields *request = &header->request;
    ASSERT(header->command == CLIENT_COMMAND_REQUEST);
    if (header->replica != 0) return "request: replica is not 0";
    if (request->parent_padding != 0) return "request: parent_padding is not 0";
    if (request->client == 0) return "request: client is 0";
    if (request->timestamp != 0) return "request: timestamp is not 0";
    if (!base_bytes_zero(request->previous_request_latency_padding,
                    sizeof(request->previous_request_latency_padding))) {
        return "request: previous_request_latency_padding is not 0";
    }
    if (!base_bytes_zero(request->reserved, sizeof(request->reserved))) {
        return "request: reserved is not 0";
    }
    if (request->operation == CLIENT_OPERATION_REGISTER) return register_invalid(header);
    if (request->operation < CLIENT_OPERATION_STATE_MACHINE_FIRST) {
        return "request: operation is reserved for the replication protocol";
    }
    if (request->operation == CLIENT_OPERATION_PULSE) return "request: operation is pulse";
    if (request->session == 0) return "request: session is 0";
    if (request->request == 0) return "request: request is 0";
    return NULL;
}

static const char *reply_invalid(const struct client_header *header) {
    ASSERT(header != NULL);
    const struct client_reply_fields *reply = &header->reply;
    ASSERT(header->command == CLIENT_COMMAND_REPLY);
    if (reply->client == 0) return "reply: client is 0";
    if (reply->request_checksum_padding != 0) return "reply: request_checksum_padding is not 0";
    if (reply->context_padding != 0) return "reply: context_padding is not 0";
    if (reply->op != reply->commit) return "reply: op is not commit";
    if (reply->timestamp == 0) return "reply: timestamp is 0";
    if (reply->commit == 0) return "reply: commit is 0";
    if (reply->operation == CLIENT_OPERATION_REGISTER) {
        if (header->size != CLIENT_HEADER_BYTES + sizeof(struct client_register_result)) {
            return "reply: register: size is not 320";
        }
        if (reply->request != 0) return "reply: register: request is not 0";
    } else if (reply->request == 0) {
        return "reply: request is 0";
    }
    /* Khorgos's operations carry the engine's error in reserved[0] (client_reply_error). */
    u32 error_bytes = client_operation_khorgos(reply->operation) ? 1 : 0;
    if (error_bytes == 1 && reply->reserved[0] >= KHORGOS_ERROR_COUNT) {
        return "reply: the error is unknown";
    }
    if (!base_bytes_zero(reply->reserved + error_bytes, sizeof(reply->reserved) - error_bytes)) {
        return "reply: reserved is not 0";
    }
    return NULL;
}

static const char *notification_invalid(const struct client_header *header) {
    ASSERT(header != NULL);
    const struct client_notification_fields *notification = &header->notification;
    ASSERT(header->command == CLIENT_COMMAND_NOTIFICATION);
    if (notification->client == 0) return "notification: client is 0";
    if (notification->sequence == 0) return "notification: sequence is 0";
    if (notification->kind == 0) return "notification: kind is 0";
    if (!base_bytes_zero(notification->reserved, sizeof(notification->reserved))) {
        return "notification: reserved is not 0";
    }
    return NULL;
}

/* Commands without a body: ping_client, pong_client, eviction. */
static const char *bodiless_invalid(const struct client_header *header) {
    ASSERT(header != NULL);
    if (header->size != CLIENT_HEADER_BYTES) return "size is not 256 for a command without body";
    if (header->checksum_body != checksum_body_empty()) {
        return "checksum_body is not the empty body's";
    }
    if (header->command == CLIENT_COMMAND_PING_CLIENT) {
        const struct client_ping_fields *ping = &header->ping;
        if (header->replica != 0) return "ping_client: replica is not 0";
        if (header->view != 0) return "ping_client: view is not 0";
        if (ping->client == 0) return "ping_client: client is 0";
        if (!base_bytes_zero(ping->reserved, sizeof(ping->reserved))) {
            return "ping_client: reserved is not 0";
        }
    } else if (header->command == CLIENT_COMMAND_PONG_CLIENT) {
        if (!base_bytes_zero(header->pong.reserved, sizeof(header->pong.reserved))) {
            return "pong_client: reserved is not 0";
        }
    } else {
        const struct client_eviction_fields *eviction = &header->eviction;
        ASSERT(header->command == CLIENT_COMMAND_EVICTION);
        if (eviction->client == 0) return "eviction: client is 0";
        if (!base_bytes_zero(eviction->reserved, sizeof(eviction->reserved))) {
            return "eviction: reserved is not 0";
        }
        if (eviction->reason == CLIENT_EVICTION_reserved) return "eviction: reason is reserved";
        if (eviction->reason >= CLIENT_EVICTION_REASON_COUNT) return "eviction: reason unknown";
    }
    return NULL;
}

static const char *command_invalid(const struct client_header *header) {
    ASSERT(header != NULL);
    ASSERT(header->size >= CLIENT_HEADER_BYTES); /* frame_invalid passed */
    switch (header->command) {
    case CLIENT_COMMAND_REQUEST: return request_invalid(header);
    case CLIENT_COMMAND_REPLY: return reply_invalid(header);
    case CLIENT_COMMAND_PING_CLIENT:
    case CLIENT_COMMAND_PONG_CLIENT:
    case CLIENT_COMMAND_EVICTION: return bodiless_invalid(header);
    case CLIENT_COMMAND_NOTIFICATION: return notification_invalid(header);
    default: return "command is not one a client exchanges";
    }
}

khorgos_error client_header_decode(const void *bytes, size_t size, u128 cluster,
                                   struct client_header *header, const char **reason) {
    ASSERT(bytes != NULL && header != NULL);
    ASSERT(reason != NULL);
    *reason = NULL;
    if (size < CLIENT_HEADER_BYTES) {
        *reason = "fewer than 256 bytes";
        return KHORGOS_ERROR_invalid_argument;
    }
    memcpy(header, bytes, CLIENT_HEADER_BYTES);
    if (header->checksum != client_header_checksum(header)) {
        *reason = "the header checksum does not match";
        return KHORGOS_ERROR_message_checksum;
    }
    *reason = frame_invalid(header);
    if (*reason == NULL) *reason = command_invalid(header);
    if (*reason != NULL) return KHORGOS_ERROR_message_invalid;
    if (header->cluster != cluster) {
        *reason = "cluster is not this server's";
        return KHORGOS_ERROR_message_cluster;
    }
    ASSERT(header->size >= CLIENT_HEADER_BYTES && header->size <= CLIENT_MESSAGE_BYTES_MAX);
    return KHORGOS_ERROR_ok;
}

khorgos_error client_body_check(const struct client_header *header, const void *body,
                                const char **reason) {
    ASSERT(header != NULL && reason != NULL);
    ASSERT(header->size >= CLIENT_HEADER_BYTES && header->size <= CLIENT_MESSAGE_BYTES_MAX);
    size_t body_bytes = header->size - CLIENT_HEADER_BYTES;
    ASSERT(body != NULL || body_bytes == 0);
    *reason = NULL;
    if (header->checksum_body != base_aegis_checksum(body, body_bytes)) {
        *reason = "the body checksum does not match";
        return KHORGOS_ERROR_message_checksum;
    }
    return KHORGOS_ERROR_ok;
}

khorgos_error client_register_body_check(const struct client_header *header, const void *body,
                                         const char **reason) {
    ASSERT(header != NULL && reason != NULL);
    ASSERT(header->command == CLIENT_COMMAND_REQUEST);
    ASSERT(header->request.operation == CLIENT_OPERATION_REGISTER);
    *reason = NULL;
    if (header->size != CLIENT_HEADER_BYTES + sizeof(struct client_register_request)) {
        *reason = "register: no body";
        return KHORGOS_ERROR_message_invalid;
    }
    ASSERT(body != NULL);
    struct client_register_request request;
    memcpy(&request, body, sizeof(request));
    if (request.batch_size_limit != 0) *reason = "register: batch_size_limit is not 0";
    if (!base_bytes_zero(request.reserved, sizeof(request.reserved))) {
        *reason = "register: reserved is not 0";
    }
    return *reason == NULL ? KHORGOS_ERROR_ok : KHORGOS_ERROR_message_invalid;
}

void client_header_seal(struct client_header *header, const void *body) {
    ASSERT(header != NULL);
    ASSERT(header->size >= CLIENT_HEADER_BYTES && header->size <= CLIENT_MESSAGE_BYTES_MAX);
    size_t body_bytes = header->size - CLIENT_HEADER_BYTES;
    ASSERT(body != NULL || body_bytes == 0);
    header->checksum_body = base_aegis_checksum(body, body_bytes);
    if (header->command == CLIENT_COMMAND_REPLY) {
        header->reply.context = 0;
        header->reply.context = client_header_checksum(header);
    }
    header->checksum = client_header_checksum(header);
}

static void header_frame_init(struct client_header *header, u128 cluster, u8 command,
                              u32 body_bytes, u32 release) {
    ASSERT(header != NULL);
    ASSERT(body_bytes <= CLIENT_BODY_BYTES_MAX);
    memset(header, 0, sizeof(*header));
    header->cluster = cluster;
    header->size = CLIENT_HEADER_BYTES + body_bytes;
    header->release = release;
    header->protocol = CLIENT_PROTOCOL_VERSION;
    header->command = command;
    ASSERT(header->size <= CLIENT_MESSAGE_BYTES_MAX);
}

void client_reply_init(struct client_header *reply, const struct client_header *request,
                       u64 op, u64 timestamp, u32 body_bytes) {
    ASSERT(request != NULL && request->command == CLIENT_COMMAND_REQUEST);
    ASSERT(op > 0 && timestamp > 0);
    ASSERT(reply != request);
    /* The reply carries the request's release, which the client checks. */
    header_frame_init(reply, request->cluster, CLIENT_COMMAND_REPLY, body_bytes,
                      request->release);
    reply->reply.request_checksum = request->checksum;
    reply->reply.client = request->request.client;
    reply->reply.op = op;
    reply->reply.commit = op;
    reply->reply.timestamp = timestamp;
    reply->reply.request = request->request.request;
    reply->reply.operation = request->request.operation;
    ASSERT(reply->reply.client != 0);
}

void client_pong_init(struct client_header *pong, const struct client_header *ping) {
    ASSERT(ping != NULL && ping->command == CLIENT_COMMAND_PING_CLIENT);
    ASSERT(pong != ping);
    header_frame_init(pong, ping->cluster, CLIENT_COMMAND_PONG_CLIENT, 0, CLIENT_RELEASE_SERVER);
    pong->pong.ping_timestamp_monotonic = ping->ping.ping_timestamp_monotonic;
    ASSERT(pong->size == CLIENT_HEADER_BYTES);
}

void client_ping_init(struct client_header *ping, u128 cluster, u128 client, u64 session,
                      u64 timestamp_monotonic) {
    ASSERT(ping != NULL && client != 0);
    header_frame_init(ping, cluster, CLIENT_COMMAND_PING_CLIENT, 0, CLIENT_RELEASE_MAX);
    ping->ping.client = client;
    ping->ping.session = session;
    ping->ping.ping_timestamp_monotonic = timestamp_monotonic;
    client_header_seal(ping, NULL);
    ASSERT(ping->size == CLIENT_HEADER_BYTES);
}

void client_eviction_init(struct client_header *eviction, u128 cluster, u128 client,
                          enum client_eviction_reason reason) {
    ASSERT(client != 0);
    ASSERT(reason != CLIENT_EVICTION_reserved && (u32)reason < CLIENT_EVICTION_REASON_COUNT);
    header_frame_init(eviction, cluster, CLIENT_COMMAND_EVICTION, 0, CLIENT_RELEASE_SERVER);
    eviction->eviction.client = client;
    eviction->eviction.reason = (u8)reason;
    ASSERT(eviction->size == CLIENT_HEADER_BYTES);
}

void client_notification_init(struct client_header *notification, u128 cluster, u128 client,
                              u64 sequence, u32 kind, u32 body_bytes) {
    ASSERT(client != 0 && sequence != 0);
    ASSERT(kind != 0 && body_bytes <= CLIENT_BODY_BYTES_MAX);
    header_frame_init(notification, cluster, CLIENT_COMMAND_NOTIFICATION, body_bytes,
                      CLIENT_RELEASE_SERVER);
    notification->notification.client = client;
    notification->notification.sequence = sequence;
    notification->notification.kind = kind;
}

void client_request_init(struct client_header *request, u128 cluster, u128 client,
                         u8 operation, u32 body_bytes) {
    ASSERT(client != 0);
    ASSERT(operation == CLIENT_OPERATION_REGISTER ||
           operation >= CLIENT_OPERATION_STATE_MACHINE_FIRST);
    header_frame_init(request, cluster, CLIENT_COMMAND_REQUEST, body_bytes, CLIENT_RELEASE_MAX);
    request->request.client = client;
    request->request.operation = operation;
    ASSERT(request->request.session == 0 && request->request.request == 0);
}

void client_reply_error_set(struct client_header *reply, khorgos_error error) {
    ASSERT(reply->command == CLIENT_COMMAND_REPLY);
    ASSERT((u32)error < KHORGOS_ERROR_COUNT);
    ASSERT(client_operation_khorgos(reply->reply.operation) || error == KHORGOS_ERROR_ok);
    reply->reply.reserved[0] = (u8)error;
}

khorgos_error client_reply_error(const struct client_header *reply) {
    ASSERT(reply->command == CLIENT_COMMAND_REPLY);
    ASSERT(reply->reply.reserved[0] < KHORGOS_ERROR_COUNT);
    return (khorgos_error)reply->reply.reserved[0];
}
