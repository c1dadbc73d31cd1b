/* client_multi_batch.c: TigerBeetle 0.17's multi-batch body encoding (src/vsr/multi_batch.zig):
 *
 *   [ batch 0 elements | batch 1 elements | ... ][ 0xFFFF... | count(n-1) ... count(0) | n ]
 *    payload: the elements back to back            trailer: u16 little-endian values
 *
 * The trailer is the n batch counts (the first batch's nearest the end) and the final u16
 * holding n, padded at its front with 0xFFFF to a whole number of elements. Element sizes here
 * are powers of two of at least 2 bytes (every client operation's are), so the payload always
 * ends on a u16 boundary and no padding sits between it and the trailer. */
#include "client/client.h"

#define TRAILER_ITEM_BYTES 2u
#define TRAILER_PADDING_BYTE 0xFFu

static bool element_bytes_valid(u32 element_bytes) {
    return element_bytes >= 2 && element_bytes <= CLIENT_BODY_BYTES_MAX &&
           (element_bytes & (element_bytes - 1)) == 0;
}

static u32 load_u16(const u8 *bytes) { return (u32)bytes[0] | ((u32)bytes[1] << 8); }

static void store_u16(u8 *bytes, u32 value) {
    ASSERT(value <= 0xFFFFu);
    bytes[0] = (u8)value;
    bytes[1] = (u8)(value >> 8);
}

u32 client_multi_batch_trailer_bytes(u32 element_bytes, u32 batch_count) {
    ASSERT(element_bytes_valid(element_bytes));
    ASSERT(batch_count > 0 && batch_count <= CLIENT_MULTI_BATCH_COUNT_MAX);
    u32 unpadded = (batch_count + 1) * TRAILER_ITEM_BYTES;
    u32 padded = (unpadded + element_bytes - 1) / element_bytes * element_bytes;
    ASSERT(padded >= unpadded && padded % element_bytes == 0);
    return padded;
}

static const char *trailer_invalid(const u8 *body, u32 body_bytes, u32 element_bytes,
                                   u32 *batch_count, u32 *trailer_bytes) {
    ASSERT(body != NULL || body_bytes == 0);
    ASSERT(element_bytes_valid(element_bytes));
    if (body_bytes < TRAILER_ITEM_BYTES) return "multi-batch: body has no batch count";
    if (body_bytes % TRAILER_ITEM_BYTES != 0) return "multi-batch: body size is odd";
    *batch_count = load_u16(body + body_bytes - TRAILER_ITEM_BYTES);
    if (*batch_count == 0) return "multi-batch: batch count is 0";
    if (*batch_count > CLIENT_MULTI_BATCH_COUNT_MAX) return "multi-batch: batch count is 65535";
    *trailer_bytes = client_multi_batch_trailer_bytes(element_bytes, *batch_count);
    if (*trailer_bytes > body_bytes) return "multi-batch: trailer is longer than the body";
    u32 padding_end = body_bytes - TRAILER_ITEM_BYTES * (*batch_count + 1);
    for (u32 i = body_bytes - *trailer_bytes; i < padding_end; i++) {
        if (body[i] != TRAILER_PADDING_BYTE) return "multi-batch: trailer padding is not 0xFFFF";
    }
    return NULL;
}

khorgos_error client_multi_batch_decode(const void *body, u32 body_bytes, u32 element_bytes,
                                        struct client_multi_batch *batches, const char **reason) {
    ASSERT(batches != NULL && reason != NULL);
    ASSERT(element_bytes_valid(element_bytes));
    const u8 *bytes = body;
    memset(batches, 0, sizeof(*batches));
    u32 batch_count = 0;
    u32 trailer_bytes = 0;
    *reason = trailer_invalid(bytes, body_bytes, element_bytes, &batch_count, &trailer_bytes);
    if (*reason != NULL) return KHORGOS_ERROR_message_invalid;
    const u8 *counts = bytes + body_bytes - TRAILER_ITEM_BYTES * (batch_count + 1);
    u64 element_count = 0;
    for (u32 i = 0; i < batch_count; i++) element_count += load_u16(counts + 2 * i);
    if (element_count * element_bytes != (u64)(body_bytes - trailer_bytes)) {
        *reason = "multi-batch: the batch counts do not add up to the payload";
        return KHORGOS_ERROR_message_invalid;
    }
    batches->payload = bytes;
    batches->payload_bytes = body_bytes - trailer_bytes;
    batches->counts = counts;
    batches->element_bytes = element_bytes;
    batches->batch_count = batch_count;
    ASSERT(batches->payload_bytes % element_bytes == 0);
    ASSERT(batch_count <= CLIENT_MULTI_BATCH_COUNT_MAX);
    return KHORGOS_ERROR_ok;
}

bool client_multi_batch_next(struct client_multi_batch *batches, const u8 **batch,
                             u32 *batch_bytes) {
    ASSERT(batches != NULL && batch != NULL && batch_bytes != NULL);
    ASSERT(batches->batch_index <= batches->batch_count);
    if (batches->batch_index == batches->batch_count) {
        ASSERT(batches->payload_offset == batches->payload_bytes);
        return false;
    }
    u32 item = batches->batch_count - 1 - batches->batch_index;
    u32 size = load_u16(batches->counts + TRAILER_ITEM_BYTES * item) * batches->element_bytes;
    ASSERT(batches->payload_offset + size <= batches->payload_bytes);
    *batch = batches->payload + batches->payload_offset;
    *batch_bytes = size;
    batches->payload_offset += size;
    batches->batch_index++;
    return true;
}

void client_multi_batch_encoder_init(struct client_multi_batch_encoder *encoder, void *buffer,
                                     u32 capacity_bytes, u32 element_bytes) {
    ASSERT(encoder != NULL && buffer != NULL);
    ASSERT(element_bytes_valid(element_bytes));
    encoder->buffer = buffer;
    encoder->capacity_bytes = capacity_bytes - capacity_bytes % TRAILER_ITEM_BYTES;
    encoder->element_bytes = element_bytes;
    encoder->payload_bytes = 0;
    encoder->batch_count = 0;
    ASSERT(encoder->capacity_bytes >= client_multi_batch_trailer_bytes(element_bytes, 1));
}

u8 *client_multi_batch_writable(const struct client_multi_batch_encoder *encoder,
                                u32 *writable_bytes) {
    ASSERT(encoder != NULL && writable_bytes != NULL);
    ASSERT(encoder->payload_bytes % encoder->element_bytes == 0);
    *writable_bytes = 0;
    if (encoder->batch_count == CLIENT_MULTI_BATCH_COUNT_MAX) return NULL;
    u32 trailer = client_multi_batch_trailer_bytes(encoder->element_bytes,
                                                   encoder->batch_count + 1);
    if (encoder->payload_bytes + trailer > encoder->capacity_bytes) return NULL;
    u32 room = encoder->capacity_bytes - trailer - encoder->payload_bytes;
    *writable_bytes = room - room % encoder->element_bytes;
    return encoder->buffer + encoder->payload_bytes;
}

/* While encoding, batch k's count sits where the finished trailer ends: 2 * (k + 2) bytes
 * before the end of the capacity (the batch count takes the last 2 bytes). */
void client_multi_batch_add(struct client_multi_batch_encoder *encoder, u32 written_bytes) {
    ASSERT(encoder != NULL);
    ASSERT(written_bytes % encoder->element_bytes == 0);
    u32 writable = 0;
    u8 *target = client_multi_batch_writable(encoder, &writable);
    ASSERT(target != NULL && written_bytes <= writable);
    u32 count = written_bytes / encoder->element_bytes;
    encoder->batch_count++;
    encoder->payload_bytes += written_bytes;
    u32 position = encoder->capacity_bytes - TRAILER_ITEM_BYTES * (encoder->batch_count + 1);
    ASSERT(position >= encoder->payload_bytes);
    store_u16(encoder->buffer + position, count);
}

u32 client_multi_batch_finish(struct client_multi_batch_encoder *encoder) {
    ASSERT(encoder != NULL);
    ASSERT(encoder->batch_count > 0);
    u32 trailer = client_multi_batch_trailer_bytes(encoder->element_bytes, encoder->batch_count);
    u32 end = encoder->capacity_bytes;
    ASSERT(encoder->payload_bytes + trailer <= end);
    u32 counts_start = end - TRAILER_ITEM_BYTES * (encoder->batch_count + 1);
    memset(encoder->buffer + end - trailer, TRAILER_PADDING_BYTE, counts_start - (end - trailer));
    store_u16(encoder->buffer + end - TRAILER_ITEM_BYTES, encoder->batch_count);
    memmove(encoder->buffer + encoder->payload_bytes, encoder->buffer + end - trailer, trailer);
    u32 body_bytes = encoder->payload_bytes + trailer;
    ASSERT(body_bytes % encoder->element_bytes == 0);
    encoder->buffer = NULL; /* finished: the encoder may not be used again */
    return body_bytes;
}
