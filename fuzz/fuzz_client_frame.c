/*
 * fuzz_client_frame.c: libFuzzer target for the wire decoder (src/client/): a message's header,
 * its body checksum and, for requests and replies of multi-batch operations, the body's
 * batches.
 *
 * The first input byte chooses the mode: even, the rest is a message as received (so nearly
 * every input fails its checksum, as on the wire); odd, the harness first sets `size` to the
 * rest's length and seals the checksums, so the field rules and the multi-batch decoder are
 * reached. The decoder must never crash or read out of bounds (AddressSanitizer and
 * UndefinedBehaviorSanitizer watch), and two properties are checked, a failure aborting:
 *   1. a header that decodes seals again to the same checksum (for replies, whose `context`
 *      is recomputed, only when the received context is the right one);
 *   2. a multi-batch body that decodes re-encodes, batch by batch, to the same bytes.
 */
#include "client/client.h"

#include <stdlib.h>

static u8 *fuzz_message;
static u8 *fuzz_again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_reserve(void) {
    if (fuzz_message != NULL) return;
    fuzz_message = aligned_alloc(64, CLIENT_MESSAGE_BYTES_MAX);
    fuzz_again = aligned_alloc(64, CLIENT_MESSAGE_BYTES_MAX);
    ASSERT(fuzz_message != NULL);
    ASSERT(fuzz_again != NULL);
}

/* Property 2. */
static void fuzz_multi_batch(const u8 *body, u32 body_bytes, u32 element_bytes) {
    struct client_multi_batch batches;
    const char *reason = NULL;
    if (client_multi_batch_decode(body, body_bytes, element_bytes, &batches, &reason) !=
        KHORGOS_ERROR_ok) {
        ASSERT(reason != NULL);
        return;
    }
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, fuzz_again, body_bytes, element_bytes);
    const u8 *batch = NULL;
    u32 batch_bytes = 0;
    while (client_multi_batch_next(&batches, &batch, &batch_bytes)) {
        u32 writable = 0;
        u8 *target = client_multi_batch_writable(&encoder, &writable);
        ASSERT(target != NULL && writable >= batch_bytes);
        memcpy(target, batch, batch_bytes);
        client_multi_batch_add(&encoder, batch_bytes);
    }
    ASSERT(client_multi_batch_finish(&encoder) == body_bytes);
    ASSERT(memcmp(fuzz_again, body, body_bytes) == 0);
}

static void fuzz_body(const struct client_header *header, const u8 *body) {
    u8 operation = header->command == CLIENT_COMMAND_REQUEST ? header->request.operation
                                                             : header->reply.operation;
    struct client_operation_shape shape;
    if (!client_operation_shape(operation, &shape) || !shape.multi_batch) return;
    u32 element = header->command == CLIENT_COMMAND_REQUEST ? shape.event_bytes
                                                            : shape.result_bytes;
    fuzz_multi_batch(body, header->size - CLIENT_HEADER_BYTES, element);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_reserve();
    if (size < 1) return 0;
    bool seal = (data[0] & 1u) != 0;
    size = MIN(size - 1, (size_t)CLIENT_MESSAGE_BYTES_MAX);
    memcpy(fuzz_message, data + 1, size);
    struct client_header header;
    const char *reason = NULL;
    if (size < CLIENT_HEADER_BYTES) {
        ASSERT(client_header_decode(fuzz_message, size, 0, &header, &reason) ==
               KHORGOS_ERROR_invalid_argument);
        return 0;
    }
    if (seal) {
        memcpy(&header, fuzz_message, CLIENT_HEADER_BYTES);
        header.size = (u32)size;
        client_header_seal(&header, fuzz_message + CLIENT_HEADER_BYTES);
        memcpy(fuzz_message, &header, CLIENT_HEADER_BYTES);
    }
    khorgos_error error = client_header_decode(fuzz_message, size, 0, &header, &reason);
    ASSERT((error == KHORGOS_ERROR_ok) == (reason == NULL));
    if (error != KHORGOS_ERROR_ok || header.size > size) return 0;
    const u8 *body = fuzz_message + CLIENT_HEADER_BYTES;
    if (client_body_check(&header, body, &reason) != KHORGOS_ERROR_ok) return 0;
    /* Property 1. */
    struct client_header again = header;
    client_header_seal(&again, body);
    if (header.command != CLIENT_COMMAND_REPLY || again.reply.context == header.reply.context) {
        ASSERT(again.checksum == header.checksum);
    }
    if (header.command == CLIENT_COMMAND_REQUEST || header.command == CLIENT_COMMAND_REPLY) {
        fuzz_body(&header, body);
    }
    return 0;
}
