/*
 * cli_codec: JSON request lines to the engine's binary requests, and binary replies to JSON
 * reply lines. docs/api.md describes every operation for users; this note describes the code.
 *
 * Table-driven. Every record the front end reads or writes is described once by a field table
 * (struct cli_record: JSON name, kind, size, offset; flag names for flags; a name function for
 * statuses), and every operation by a row of the operation table (struct cli_operation: how its
 * request body is shaped and which records its body and reply hold). Decoding and encoding are
 * generic walks over those tables, so a new operation (settlement's participants, payments,
 * queues, FX quotes, windows) is a new record table and a new row, not new parsing code.
 * The ledger's rows are operation_table in cli_codec.c; settlement's are in cli_codec_settle.c,
 * and cli_operation_find / _by_code / _at walk both, the ledger's first.
 *
 * Request shapes (enum cli_body_shape):
 *   EVENTS  {"op":..., "events":[RECORD, ...]}  body: the records, packed
 *   IDS     {"op":..., "ids":[ID, ...]}         body: u128 ids, packed
 *   FILTER  {"op":..., "filter":RECORD}         body: one record
 *   INLINE  {"op":..., FIELD:..., ...}          body: one record read from the top level
 * A missing "events"/"ids"/"filter" is empty/zero; missing fields are zero.
 *
 * Value rules (from the issue):
 *   u128, u64      decimal strings or JSON integers of any size, exact; written as strings
 *   u32, u16       JSON integers; written as integers
 *   flags          an array of flag names (or, to reach reserved_flag, an integer of bits);
 *                  written as an array of names
 *   status         written as its TigerBeetle name
 *   text           (settlement: BICs, names) a string of printable ASCII up to the field's size
 *   enum           (settlement: roles, priorities) a name, or its number; written as the name
 *   fixed arrays   (settlement: a participant's currencies) a JSON array of at most N values
 * Unknown fields, duplicate fields, values of the wrong type or out of range are errors.
 *
 * Errors. A refused line changes nothing; its reply is
 *   {"op":OP,"error":{"code":CODE,"message":TEXT},"line":N}
 * with "op" present when the line had a readable one. The codes (CLI_CODEC_ERRORS below and,
 * for requests the engine refuses, khorgos_error_name) are stable: scripts may match on them.
 *
 * Memory: the decoder's tokens are reserved by the caller; nothing here allocates.
 */
#ifndef KHORGOS_CLI_CODEC_H
#define KHORGOS_CLI_CODEC_H

#include "cli/cli_json.h"

/* The codec's own error codes; their names are the "code" of an error reply. */
#define CLI_CODEC_ERRORS(X)                                                                    \
    X(invalid_json, "the line is not valid JSON")                                              \
    X(too_deep, "the line nests deeper than a request may")                                    \
    X(too_many_values, "the line holds more JSON values than a request may")                   \
    X(line_too_long, "the line is longer than a request may be")                               \
    X(not_an_object, "a request is a JSON object")                                             \
    X(missing_op, "the request has no \"op\"")                                                 \
    X(unknown_op, "the operation is unknown")                                                  \
    X(unknown_field, "the field is unknown")                                                   \
    X(duplicate_field, "the field is given twice")                                             \
    X(wrong_type, "the value has the wrong type")                                              \
    X(out_of_range, "the value is out of range")                                               \
    X(unknown_flag, "the flag name is unknown")                                                \
    X(unknown_name, "the name is not one of the field's values")                               \
    X(too_many_events, "more events than a request may hold")

#define CLI_CODEC_ERROR_ENUM_(name, text) CLI_CODEC_ERROR_##name,
enum cli_codec_error_code { CLI_CODEC_ERRORS(CLI_CODEC_ERROR_ENUM_) CLI_CODEC_ERROR_COUNT };
#undef CLI_CODEC_ERROR_ENUM_

const char *cli_codec_error_name(enum cli_codec_error_code code);

/* Operations the front end serves itself, numbered outside the engine's range. */
#define CLI_OPERATION_ADVANCE_CLOCK 0x10000u

enum cli_field_kind {
    CLI_FIELD_UNSIGNED = 1, /* size 1, 2 or 4: JSON integer; 8 or 16: decimal string */
    CLI_FIELD_FLAGS = 2,    /* an array of names (or an integer of bits); size 1, 2 or 4 */
    CLI_FIELD_STATUS = 3,   /* written by name (status_name); read by name or number */
    CLI_FIELD_TEXT = 4,     /* char[size]: printable ASCII, NUL-padded; a JSON string */
    CLI_FIELD_ENUM = 5,     /* a name of `names` (or its number); written by name */
};

/* A field. With count > 1 it is a fixed array of `count` elements of `size` bytes (of kind
 * UNSIGNED or ENUM), read from a JSON array of at most `count` values (the rest are zero) and
 * written without its trailing zeros (unused entries). */
struct cli_field {
    const char *name;
    u8 kind;            /* enum cli_field_kind */
    u8 size;            /* bytes of one element: 1, 2, 4, 8 or 16; TEXT: of the text */
    u8 count;           /* elements: 1 for a scalar */
    bool input_only;    /* read but not written (reserved fields) */
    u16 offset;         /* in the record */
    const char *const *names; /* FLAGS: bit i's name; ENUM: value i's name (NULL: none) */
    u32 name_count;
    const char *(*status_name)(uint32_t status);
};

struct cli_record {
    const char *name;
    u32 size;
    const struct cli_field *fields;
    u32 field_count;
};

enum cli_body_shape { CLI_BODY_EVENTS = 1, CLI_BODY_IDS, CLI_BODY_FILTER, CLI_BODY_INLINE };

struct cli_operation {
    const char *name;
    u32 operation;                    /* enum khorgos_operation or CLI_OPERATION_* */
    u8 body_shape;                    /* enum cli_body_shape */
    const char *body_key;             /* "events", "ids", "filter"; NULL for INLINE */
    const struct cli_record *body;    /* the body's record */
    const char *reply_key;            /* "results", "accounts", ... */
    const struct cli_record *reply;   /* the reply's record */
};

const struct cli_operation *cli_operation_find(const char *name, u32 length);
const struct cli_operation *cli_operation_by_code(u32 operation);
/* The operation table, for tools and tests that walk every operation. */
const struct cli_operation *cli_operation_at(u32 index);
u32 cli_operation_count(void);

/* The decoded body of advance_clock. */
struct cli_clock_advance {
    u64 seconds;
    u64 nanoseconds;
};

struct cli_codec_error {
    enum cli_codec_error_code code;
    char message[160];
    /* The line's "op" when readable, for the error reply; op_length 0 otherwise. */
    char op[LIMIT_JSON_NAME_BYTES_MAX];
    u32 op_length;
};

struct cli_codec_request {
    const struct cli_operation *operation;
    u32 body_size;   /* bytes */
    u32 event_count; /* records in the body */
};

enum cli_codec_decode_status {
    CLI_CODEC_DECODED = 0,
    CLI_CODEC_REFUSED = 1,  /* error is filled; nothing of the line may be applied */
    CLI_CODEC_BODY_FULL = 2 /* valid so far but body_capacity is too small: retry with room */
};

/* Decodes one line (without its newline) into `request` and `body`. */
enum cli_codec_decode_status cli_codec_request_decode(struct cli_json_reader *reader,
                                                      const char *line, u32 length, void *body,
                                                      u32 body_capacity,
                                                      struct cli_codec_request *request,
                                                      struct cli_codec_error *error);

/* Bytes a reply line of `record_count` reply records may need at the most (newline included). */
u32 cli_codec_reply_bytes_max(const struct cli_operation *operation, u32 record_count);
/* Bytes an error reply line may need at the most. */
#define CLI_CODEC_ERROR_REPLY_BYTES_MAX 2048u

/* Encodes a reply line ending in '\n'. Returns false when the writer overflowed. */
bool cli_codec_reply_encode(struct cli_json_writer *writer, const struct cli_operation *operation,
                            const void *reply, u32 reply_size);
bool cli_codec_clock_reply_encode(struct cli_json_writer *writer, u64 now_ns);
/* An error reply line. `op` may be NULL (op_length 0). `code` is a codec or engine error name. */
bool cli_codec_error_encode(struct cli_json_writer *writer, const char *op, u32 op_length,
                            const char *code, const char *message, u64 line_number);

/* Decodes one line that is a single JSON object into one record (zeroed first): for tools and
 * tests of record tables. Returns CLI_CODEC_DECODED or CLI_CODEC_REFUSED. */
enum cli_codec_decode_status cli_codec_record_decode(struct cli_json_reader *reader,
                                                     const char *line, u32 length,
                                                     const struct cli_record *record, void *out,
                                                     struct cli_codec_error *error);

/* Encodes one record as a JSON object (used by replies and by re-encoding checks). */
void cli_codec_record_encode(struct cli_json_writer *writer, const struct cli_record *record,
                             const void *bytes);

#endif /* KHORGOS_CLI_CODEC_H */
