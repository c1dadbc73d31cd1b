/*
 * fuzz_json_request.c: libFuzzer target for the JSON request decoder of `khorgos apply`.
 *
 * Any bytes are decoded as one request line. The decoder must never crash, leak or read out of
 * bounds (AddressSanitizer and UndefinedBehaviorSanitizer watch). Beyond that, two properties
 * are checked and a failure aborts:
 *   1. a refused line gets a code and a message, and its error reply is valid JSON;
 *   2. a decoded request survives a round trip: its body encoded back to JSON (the reply
 *      encoder's record writer) decodes to the same value in every field the encoder writes.
 * Buffers are reserved once, on the first input, as `khorgos apply` does.
 */
#include "cli/cli_codec.h"

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_TEXT_BYTES (LIMIT_JSON_LINE_BYTES_MAX + 4096u)

static struct cli_json_token *fuzz_tokens;
static struct cli_json_reader fuzz_reader;
static u8 *fuzz_body;
static u8 *fuzz_body_again;
static char *fuzz_text;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_reserve(void) {
    if (fuzz_tokens != NULL) return;
    fuzz_tokens = malloc(sizeof(*fuzz_tokens) * LIMIT_JSON_TOKENS_MAX);
    fuzz_body = aligned_alloc(64, LIMIT_REQUEST_BODY_BYTES_MAX);
    fuzz_body_again = aligned_alloc(64, LIMIT_REQUEST_BODY_BYTES_MAX);
    fuzz_text = malloc(FUZZ_TEXT_BYTES);
    ASSERT(fuzz_tokens != NULL && fuzz_body != NULL);
    ASSERT(fuzz_body_again != NULL && fuzz_text != NULL);
    cli_json_reader_init(&fuzz_reader, fuzz_tokens, LIMIT_JSON_TOKENS_MAX);
}

/* Property 1: the error reply of a refused line is one line of valid JSON. */
static void fuzz_check_error(const struct cli_codec_error *error) {
    ASSERT(error->code < CLI_CODEC_ERROR_COUNT);
    ASSERT(error->message[0] != '\0');
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, fuzz_text, CLI_CODEC_ERROR_REPLY_BYTES_MAX);
    bool encoded = cli_codec_error_encode(&writer, error->op, error->op_length,
                                          cli_codec_error_name(error->code), error->message, 1);
    ASSERT(encoded);
    ASSERT(writer.length >= 2 && fuzz_text[writer.length - 1] == '\n');
    ASSERT(cli_json_parse(&fuzz_reader, fuzz_text, writer.length - 1) == CLI_JSON_OK);
}

/* Writes the decoded request back as a request line. */
static u32 fuzz_encode_request(const struct cli_codec_request *request) {
    const struct cli_operation *operation = request->operation;
    const struct cli_record *record = operation->body;
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, fuzz_text, FUZZ_TEXT_BYTES);
    if (operation->body_shape == CLI_BODY_INLINE) {
        cli_codec_record_encode(&writer, record, fuzz_body);
        ASSERT(!writer.overflow && writer.length >= 2 && fuzz_text[0] == '{');
        char prefix[96];
        int prefix_length = snprintf(prefix, sizeof(prefix), "{\"op\":\"%s\"%s", operation->name,
                                     writer.length > 2 ? "," : "");
        ASSERT(prefix_length > 0 && (u32)prefix_length < sizeof(prefix));
        memmove(fuzz_text + prefix_length, fuzz_text + 1, writer.length - 1);
        memcpy(fuzz_text, prefix, (size_t)prefix_length);
        return writer.length - 1 + (u32)prefix_length;
    }
    cli_json_object_begin(&writer);
    cli_json_key(&writer, "op");
    cli_json_string_literal(&writer, operation->name);
    cli_json_key(&writer, operation->body_key);
    if (operation->body_shape == CLI_BODY_FILTER) {
        cli_codec_record_encode(&writer, record, fuzz_body);
    } else {
        cli_json_array_begin(&writer);
        for (u32 index = 0; index < request->event_count; index++) {
            const u8 *bytes = fuzz_body + (size_t)index * record->size;
            if (operation->body_shape == CLI_BODY_EVENTS) {
                cli_codec_record_encode(&writer, record, bytes);
            } else {
                u128 id;
                memcpy(&id, bytes, sizeof(id));
                cli_json_decimal_string(&writer, id);
            }
        }
        cli_json_array_end(&writer);
    }
    cli_json_object_end(&writer);
    ASSERT(!writer.overflow);
    return writer.length;
}

/* Property 2: decode(encode(body)) == body in every field the encoder writes. */
static void fuzz_check_round_trip(const struct cli_codec_request *request) {
    const struct cli_record *record = request->operation->body;
    u32 length = fuzz_encode_request(request);
    struct cli_codec_request again;
    struct cli_codec_error error;
    enum cli_codec_decode_status status = cli_codec_request_decode(
        &fuzz_reader, fuzz_text, length, fuzz_body_again, LIMIT_REQUEST_BODY_BYTES_MAX, &again,
        &error);
    if (status != CLI_CODEC_DECODED) {
        fprintf(stderr, "re-decode refused: %s: %.*s\n", error.message, (int)MIN(length, 400u),
                fuzz_text);
    }
    ASSERT(status == CLI_CODEC_DECODED);
    ASSERT(again.operation == request->operation);
    ASSERT(again.body_size == request->body_size && again.event_count == request->event_count);
    for (u32 index = 0; index < request->body_size / record->size; index++) {
        for (u32 field_index = 0; field_index < record->field_count; field_index++) {
            const struct cli_field *field = &record->fields[field_index];
            if (field->input_only) continue;
            size_t offset = (size_t)index * record->size + field->offset;
            ASSERT(memcmp(fuzz_body + offset, fuzz_body_again + offset,
                          (size_t)field->size * field->count) == 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_reserve();
    if (size > LIMIT_JSON_LINE_BYTES_MAX + 1) return 0;
    struct cli_codec_request request;
    struct cli_codec_error error;
    enum cli_codec_decode_status status =
        cli_codec_request_decode(&fuzz_reader, (const char *)data, (u32)size, fuzz_body,
                                 LIMIT_REQUEST_BODY_BYTES_MAX, &request, &error);
    ASSERT(status != CLI_CODEC_BODY_FULL); /* a full-size body always fits */
    if (status == CLI_CODEC_REFUSED) {
        fuzz_check_error(&error);
        return 0;
    }
    ASSERT(request.operation != NULL);
    ASSERT(request.body_size <= LIMIT_REQUEST_BODY_BYTES_MAX);
    fuzz_check_round_trip(&request);
    return 0;
}
