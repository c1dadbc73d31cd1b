/* The leader's side (cluster.h): the binary layout of an entry, encoded (bodies packed: their
 * zero words left out); the entry's time. */
#include <string.h>

#include "cluster/cluster.h"

_Static_assert(CLUSTER_ENTRY_HEADER_BYTES % 16 == 0, "bodies after the header stay aligned");
_Static_assert(CLUSTER_REQUEST_HEADER_BYTES % 16 == 0, "bodies after a request stay aligned");
_Static_assert(CLUSTER_ENTRY_ENCODED_BYTES_MAX < U32_MAX, "an entry's size fits a raft buffer");
_Static_assert(sizeof(struct khorgos_actor) == 16, "the actor's 16 bytes of a request header");
_Static_assert(4 + KHORGOS_BIC_BYTES + 1 == 16, "role, BIC and a reserved byte");

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
        bytes += CLUSTER_REQUEST_HEADER_BYTES + cluster_padded_bytes(requests[index].body_size);
    }
    ASSERT(bytes >= CLUSTER_ENTRY_HEADER_BYTES);
    return bytes;
}

u64 cluster_body_bitmap_bytes(u32 body_size) {
    ASSERT(body_size <= LIMIT_REQUEST_BODY_BYTES_MAX);
    u64 words = cluster_padded_bytes(body_size) / 16;
    u64 bytes = cluster_padded_bytes((words + 7) / 8);
    ASSERT(bytes * 8 >= words);
    return bytes;
}

u64 cluster_entry_batch_capacity_bytes(const struct khorgos_request *requests, u32 count) {
    ASSERT(requests != NULL || count == 0);
    u64 bytes = cluster_entry_batch_bytes(requests, count);
    for (u32 index = 0; index < count; index++) {
        bytes += cluster_body_bitmap_bytes(MIN(requests[index].body_size,
                                               (u32)LIMIT_REQUEST_BODY_BYTES_MAX));
    }
    ASSERT(bytes >= CLUSTER_ENTRY_HEADER_BYTES);
    return bytes;
}

/* One 16-byte word of a body into `out` whether it is zero or not (the caller's capacity holds
 * every word): the next word goes over it when it is zero. Returns whether it is kept. */
static bool cluster_word_pack(const u8 *word, u8 *out) {
    ASSERT(word != NULL && out != NULL);
    u64 low, high;
    memcpy(&low, word, sizeof(low));
    memcpy(&high, word + 8, sizeof(high));
    memcpy(out, &low, sizeof(low));
    memcpy(out + 8, &high, sizeof(high));
    return (low | high) != 0;
}

u64 cluster_body_pack(const u8 *body, u32 body_size, u8 *out) {
    ASSERT(body != NULL || body_size == 0);
    ASSERT(out != NULL && body_size <= LIMIT_REQUEST_BODY_BYTES_MAX);
    u64 bitmap_bytes = cluster_body_bitmap_bytes(body_size);
    u32 words_full = body_size / 16;
    u32 words = (u32)(cluster_padded_bytes(body_size) / 16);
    memset(out, 0, bitmap_bytes);
    u8 *kept = out + bitmap_bytes;
    for (u32 word = 0; word < words_full; word++) {
        bool present = cluster_word_pack(body + (u64)word * 16, kept);
        out[word / 8] |= (u8)((u8)present << (word % 8));
        kept += present ? 16 : 0;
    }
    if (words_full < words) { /* the last word's bytes past the body are zeros */
        u8 last[16] = {0};
        memcpy(last, body + (u64)words_full * 16, body_size % 16);
        bool present = cluster_word_pack(last, kept);
        out[words_full / 8] |= (u8)((u8)present << (words_full % 8));
        kept += present ? 16 : 0;
    }
    ASSERT(kept <= out + bitmap_bytes + (u64)words * 16);
    return (u64)(kept - out);
}

khorgos_error cluster_entry_batch_encode(void *buffer, u64 buffer_bytes, u64 timestamp_ns,
                                         u64 mark, const struct khorgos_request *requests,
                                         u32 count, u64 *entry_bytes) {
    ASSERT(buffer != NULL && entry_bytes != NULL);
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
    if (cluster_entry_batch_bytes(requests, count) > CLUSTER_ENTRY_BYTES_MAX ||
        cluster_entry_batch_capacity_bytes(requests, count) > buffer_bytes) {
        return KHORGOS_ERROR_invalid_argument;
    }
    u8 *out = buffer;
    u64 offset = CLUSTER_ENTRY_HEADER_BYTES;
    for (u32 index = 0; index < count; index++) {
        const struct khorgos_request *request = &requests[index];
        cluster_request_header_encode(out + offset, request);
        offset += CLUSTER_REQUEST_HEADER_BYTES;
        offset += cluster_body_pack(request->body, request->body_size, out + offset);
    }
    cluster_header_encode(out, CLUSTER_ENTRY_BATCH, count, timestamp_ns, mark,
                          offset - CLUSTER_ENTRY_HEADER_BYTES);
    ASSERT(offset <= buffer_bytes && offset <= CLUSTER_ENTRY_ENCODED_BYTES_MAX);
    *entry_bytes = offset;
    return KHORGOS_ERROR_ok;
}

u64 cluster_entry_pack(const void *expanded, u64 expanded_bytes, void *out) {
    ASSERT(expanded != NULL && out != NULL);
    ASSERT(expanded_bytes >= CLUSTER_ENTRY_HEADER_BYTES);
    const u8 *in = expanded;
    u8 *packed = out;
    memcpy(packed, in, CLUSTER_ENTRY_HEADER_BYTES);
    u16 kind;
    u32 count;
    memcpy(&kind, in + 6, sizeof(kind));
    memcpy(&count, in + 8, sizeof(count));
    if (kind != CLUSTER_ENTRY_BATCH) {
        memcpy(packed, in, expanded_bytes);
        return expanded_bytes;
    }
    u64 offset = CLUSTER_ENTRY_HEADER_BYTES;
    u64 packed_offset = CLUSTER_ENTRY_HEADER_BYTES;
    for (u32 index = 0; index < count; index++) {
        u32 body_size;
        memcpy(&body_size, in + offset + 4, sizeof(body_size));
        memcpy(packed + packed_offset, in + offset, CLUSTER_REQUEST_HEADER_BYTES);
        offset += CLUSTER_REQUEST_HEADER_BYTES;
        packed_offset += CLUSTER_REQUEST_HEADER_BYTES;
        packed_offset += cluster_body_pack(in + offset, body_size, packed + packed_offset);
        offset += cluster_padded_bytes(body_size);
    }
    ASSERT(offset == expanded_bytes);
    cluster_put_u64(packed + 32, packed_offset - CLUSTER_ENTRY_HEADER_BYTES);
    return packed_offset;
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
