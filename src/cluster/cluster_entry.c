/* The leader's side (cluster.h): the binary layout of an entry, encoded; the entry's time. */
#include <string.h>

#include "cluster/cluster.h"

_Static_assert(CLUSTER_ENTRY_HEADER_BYTES % 16 == 0, "bodies after the header stay aligned");
_Static_assert(CLUSTER_REQUEST_HEADER_BYTES % 16 == 0, "bodies after a request stay aligned");
_Static_assert(CLUSTER_ENTRY_BYTES_MAX < U32_MAX, "an entry's size fits a raft buffer");
_Static_assert(sizeof(struct khorgos_actor) == 16, "the actor's 16 bytes of a request header");
_Static_assert(4 + KHORGOS_BIC_BYTES + 1 == 16, "role, BIC and a reserved byte");

static u64 cluster_padded(u64 bytes) {
    ASSERT(bytes <= U64_MAX - 15);
    u64 padded = (bytes + 15) & ~(u64)15;
    ASSERT(padded >= bytes && padded % 16 == 0);
    return padded;
}

static void cluster_put_u16(u8 *at, u16 value) {
    ASSERT(at != NULL);
    memcpy(at, &value, sizeof(value));
}
static void cluster_put_u32(u8 *at, u32 value) {
    ASSERT(at != NULL);
    memcpy(at, &value, sizeof(value));
}
static void cluster_put_u64(u8 *at, u64 value) {
    ASSERT(at != NULL);
    memcpy(at, &value, sizeof(value));
}

static void cluster_header_encode(u8 *buffer, enum cluster_entry_kind kind, u32 request_count,
                                  u64 timestamp_ns, u64 mark, u64 body_bytes) {
    ASSERT(buffer != NULL);
    ASSERT(timestamp_ns != 0);
    memset(buffer, 0, CLUSTER_ENTRY_HEADER_BYTES);
    cluster_put_u32(buffer + 0, CLUSTER_ENTRY_MAGIC);
    cluster_put_u16(buffer + 4, CLUSTER_ENTRY_VERSION);
    cluster_put_u16(buffer + 6, (u16)kind);
    cluster_put_u32(buffer + 8, request_count);
    cluster_put_u64(buffer + 16, timestamp_ns);
    cluster_put_u64(buffer + 24, mark);
    cluster_put_u64(buffer + 32, body_bytes);
}

/* A request's header (cluster.h): operation, size, flags, actor, client fields. */
static void cluster_request_header_encode(u8 *at, const struct khorgos_request *request) {
    ASSERT(at != NULL && request != NULL);
    ASSERT(request->body_size <= LIMIT_REQUEST_BODY_BYTES_MAX);
    memset(at, 0, CLUSTER_REQUEST_HEADER_BYTES);
    cluster_put_u32(at, request->operation);
    cluster_put_u32(at + 4, request->body_size);
    cluster_put_u32(at + 8, request->client != NULL ? CLUSTER_REQUEST_CLIENT : 0);
    cluster_put_u32(at + 16, request->actor.role);
    memcpy(at + 20, request->actor.bic, KHORGOS_BIC_BYTES);
    const struct khorgos_client_request *client = request->client;
    if (client == NULL) return;
    memcpy(at + 32, &client->client, sizeof(client->client));
    memcpy(at + 48, &client->checksum, sizeof(client->checksum));
    cluster_put_u64(at + 64, client->request);
    cluster_put_u32(at + 72, client->release);
    cluster_put_u16(at + 76, client->batch);
    cluster_put_u16(at + 78, client->batch_count);
}

u64 cluster_entry_batch_bytes(const struct khorgos_request *requests, u32 count) {
    ASSERT(requests != NULL || count == 0);
    u64 bytes = CLUSTER_ENTRY_HEADER_BYTES;
    for (u32 index = 0; index < count; index++) {
        bytes += CLUSTER_REQUEST_HEADER_BYTES + cluster_padded(requests[index].body_size);
    }
    ASSERT(bytes >= CLUSTER_ENTRY_HEADER_BYTES);
    return bytes;
}

khorgos_error cluster_entry_batch_encode(void *buffer, u64 buffer_bytes, u64 timestamp_ns,
                                         u64 mark, const struct khorgos_request *requests,
                                         u32 count) {
    ASSERT(buffer != NULL);
    ASSERT(requests != NULL || count == 0);
    if (count > CLUSTER_ENTRY_REQUEST_COUNT_MAX || timestamp_ns == 0) {
        return KHORGOS_ERROR_invalid_argument;
    }
    for (u32 index = 0; index < count; index++) {
        if (requests[index].body_size > LIMIT_REQUEST_BODY_BYTES_MAX) {
            return KHORGOS_ERROR_invalid_argument;
        }
        if (requests[index].client != NULL && requests[index].client->client == 0) {
            return KHORGOS_ERROR_invalid_argument;
        }
    }
    u64 bytes = cluster_entry_batch_bytes(requests, count);
    if (bytes > CLUSTER_ENTRY_BYTES_MAX || bytes > buffer_bytes) {
        return KHORGOS_ERROR_invalid_argument;
    }
    u8 *out = buffer;
    /* Only the headers and the padding are zeroed: the bodies are copied over whole. */
    cluster_header_encode(out, CLUSTER_ENTRY_BATCH, count, timestamp_ns, mark,
                          bytes - CLUSTER_ENTRY_HEADER_BYTES);
    u64 offset = CLUSTER_ENTRY_HEADER_BYTES;
    for (u32 index = 0; index < count; index++) {
        const struct khorgos_request *request = &requests[index];
        cluster_request_header_encode(out + offset, request);
        offset += CLUSTER_REQUEST_HEADER_BYTES;
        if (request->body_size > 0) memcpy(out + offset, request->body, request->body_size);
        u64 padding = cluster_padded(request->body_size) - request->body_size;
        memset(out + offset + request->body_size, 0, padding);
        offset += cluster_padded(request->body_size);
    }
    ASSERT(offset == bytes);
    return KHORGOS_ERROR_ok;
}

void cluster_entry_check_encode(void *buffer, u64 timestamp_ns, u64 mark, u128 digest) {
    ASSERT(buffer != NULL);
    ASSERT(mark != 0);
    u8 *out = buffer;
    cluster_header_encode(out, CLUSTER_ENTRY_CHECK, 0, timestamp_ns, 0, CLUSTER_CHECK_BYTES);
    u8 *check = out + CLUSTER_ENTRY_HEADER_BYTES;
    memset(check, 0, CLUSTER_CHECK_BYTES);
    cluster_put_u64(check, mark);
    memcpy(check + 16, &digest, sizeof(digest));
    ASSERT(check + CLUSTER_CHECK_BYTES == out + CLUSTER_ENTRY_HEADER_BYTES + CLUSTER_CHECK_BYTES);
}

u64 cluster_leader_timestamp(const struct khorgos *engine, u64 clock_ns) {
    ASSERT(engine != NULL);
    ASSERT(engine->clock_manual);
    u64 timestamp = MAX(clock_ns, MAX(engine->clock_manual_ns, engine->timestamp_last));
    ASSERT(timestamp >= clock_ns && timestamp != 0);
    return timestamp;
}

bool cluster_leader_tick_due(const struct khorgos *engine, u64 clock_ns) {
    ASSERT(engine != NULL);
    ASSERT(clock_ns != 0);
    u64 expiry = ledger_expiry_next(&engine->ledger);
    u64 timer = settle_timer_next(&engine->settle);
    return (expiry != 0 && expiry <= clock_ns) || (timer != 0 && timer <= clock_ns);
}
