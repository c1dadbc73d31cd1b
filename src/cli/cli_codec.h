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
 *   currency       (settlement) ISO 4217 letters "KZT", or its number 398, either in the
 *                  currency table (khorgos_currency_by_letters); written as letters; 0 (none)
 *                  is left out
 *   amount         (settlement) u128 minor units as a decimal string in the major unit of the
 *                  record's currency field (scale_offset; scale_fallback_offset when that one is
 *                  0): "1250.50" for KZT (2 decimals), "1250" for JPY; no sign, no exponent, at
 *                  most the currency's decimals; never a JSON number (an old script sending
 *                  minor units must fail, not pay a hundred times too much)
 *   rate           (FX) rate_mantissa (u64) and rate_exponent (int8 at scale_offset) as one
 *                  decimal string "71.6532": positive, at most CLI_RATE_DIGITS_MAX significant
 *                  digits, read exactly as mantissa x 10^exponent with trailing zeros moved
 *                  into the exponent (as the engine normalises); written the same way
 * Field rules (cli_field.rules): CLI_RULE_POSITIVE refuses a given zero (an amount the request
 * must state when it states it) and leaves a zero out when writing (zero means not given);
 * CLI_RULE_NONE_IS_MAX reads "none" as KHORGOS_AMOUNT_MAX (no limit) and writes it so.
 * An absent ENUM field takes `absent_value` (a payment's priority: normal, TARGET2's default).
 *
 * Order. The currency that scales an amount may come after it in the object. decode_record
 * therefore decodes every other field first and keeps the amounts' value tokens (at most
 * CLI_RECORD_AMOUNTS_MAX per record); once the object is complete, and so its currencies are
 * known and valid, it converts the amounts. An amount of zero needs no scale and is accepted
 * without a currency; any other amount without one is missing_currency.
 *
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
#include "cli/cli_codec_decimal.h"

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
    X(too_many_events, "more events than a request may hold")                                  \
    X(unknown_currency, "the currency is not an ISO 4217 code of the currency table")          \
    X(missing_currency, "the amount's currency is not given")                                  \
    X(amount_invalid, "the amount is not a decimal number such as \"1250.50\"")               \
    X(amount_not_positive, "the amount must be more than zero")                                \
    X(amount_too_precise, "the amount has more decimals than its currency's minor unit")       \
    X(rate_invalid, "the rate is not a decimal number such as \"71.6532\"")                   \
    X(rate_not_positive, "the rate must be more than zero")                                    \
    X(rate_too_precise, "the rate has more significant digits or decimals than a rate may")

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
    CLI_FIELD_CURRENCY = 6, /* size 4: ISO 4217 letters (or number); written as letters */
    CLI_FIELD_AMOUNT = 7,   /* size 16: a decimal string in the major unit of its currency */
    CLI_FIELD_RATE = 8,     /* size 8 (the mantissa) + an int8 exponent: a decimal string */
};

enum cli_field_rule {
    CLI_RULE_POSITIVE = 1u << 0,    /* a given zero is refused; a zero is not written */
    CLI_RULE_NONE_IS_MAX = 1u << 1, /* "none" is KHORGOS_AMOUNT_MAX (no limit) */
};
#define CLI_OFFSET_NONE 0xFFFFu

/* Limits of the decimal kinds, with why. */
/* Bytes of an amount's text: 39 digits of u128, a point, 18 decimals (khorgos_amount_format's
 * most), and room for a few leading zeros; a longer text is amount_invalid, not truncated. */
#define CLI_AMOUNT_TEXT_BYTES_MAX 72u
/* A rate is rate_mantissa x 10^rate_exponent with the engine's bounds (include/khorgos.h:
 * mantissa 1..999,999,999,999, exponent -18..18): 12 significant digits, 18 decimals. */
#define CLI_RATE_DIGITS_MAX 12u
#define CLI_RATE_EXPONENT_MIN (-18)
#define CLI_RATE_EXPONENT_MAX 18
#define CLI_RATE_MANTISSA_MAX 999999999999ull
/* Bytes of a rate's text: 12 digits and 18 zeros, or "0." and 18 decimals; room for zeros. */
#define CLI_RATE_TEXT_BYTES_MAX 72u
/* Amount fields of one record, converted once the record's object is complete (a position
 * has 12). */
#define CLI_RECORD_AMOUNTS_MAX 16u
_Static_assert(CLI_RATE_MANTISSA_MAX == 1000000000000ull - 1, "12 digits");
_Static_assert(CLI_AMOUNT_TEXT_BYTES_MAX >= LIMIT_U128_DECIMAL_DIGITS_MAX + 1 + 18 + 1,
               "u128 minor units with 18 decimals fit");

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
    u8 rules;                  /* enum cli_field_rule */
    u8 absent_value;           /* ENUM: the value when the field is not given */
    u16 scale_offset;          /* AMOUNT: its u32 currency; RATE: its int8 exponent */
    u16 scale_fallback_offset; /* AMOUNT: the currency when that one is 0, or CLI_OFFSET_NONE */
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
