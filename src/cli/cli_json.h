/*
 * cli_json: the JSON reader and writer of the `khorgos apply` front end.
 *
 * Why our own. A request carries u128 ids and amounts. General JSON libraries read every number
 * as a double (rounding anything past 2^53) or allocate a node per value, and the front end must
 * read a full batch of 8189 transfers with no allocation per line. This reader reads u128 values
 * exactly, from decimal strings or from JSON integers of any size, and allocates nothing: it
 * tokenizes one line into a token array that the caller reserves once at start.
 *
 * Reader. cli_json_parse checks the whole line against RFC 8259 (strings must be valid UTF-8,
 * with no raw control characters and no lone surrogate escapes; numbers follow the grammar, so
 * "01", "1." and "+1" are refused) and writes one token per value, in document order:
 *
 *   token i      a value: type, the byte range of its text, and `end`, the index of the first
 *                token after its subtree (so a sibling is tokens[i].end, a child is i + 1);
 *   object       children are key, value, key, value, ... ; `children` counts the pairs;
 *   array        children are its elements; `children` counts them;
 *   string       start/length cover the bytes between the quotes, escapes not yet decoded;
 *                `escaped` is set when a backslash occurs, so most strings compare in place.
 *
 * Invariants after a successful parse:
 *   1. tokens[0] is the root and tokens[0].end == token_count;
 *   2. for every token i: i < tokens[i].end <= tokens[parent].end;
 *   3. every token's text lies inside the line; nothing after the root but whitespace;
 *   4. nesting depth <= LIMIT_JSON_DEPTH_MAX, token_count <= the reader's token_count_max.
 *
 * Writer. cli_json_writer appends to a caller buffer and never writes past its capacity: an
 * append that does not fit sets `overflow` and leaves the buffer as it was before that append.
 * Strings are escaped so that any bytes give valid JSON: ", \ and control characters are escaped;
 * bytes that are not valid UTF-8 become U+FFFD. Commas between values are placed automatically.
 */
#ifndef KHORGOS_CLI_JSON_H
#define KHORGOS_CLI_JSON_H

#include "base/base.h"

/* Tokens one request line may hold. The largest valid request is a full batch of transfers
 * written with every field and every flag: 1 object + 13 keys + 13 values + 9 flag names = 36
 * tokens per event. 48 per event leaves room, so that 8190 full events still tokenize and are
 * refused with too_many_events, not with a vaguer error. 393,072 tokens of 20 bytes: 7.5 MiB. */
#define LIMIT_JSON_TOKENS_PER_EVENT_MAX 48u
#define LIMIT_JSON_TOKENS_MAX (LIMIT_BATCH_EVENTS_MAX * LIMIT_JSON_TOKENS_PER_EVENT_MAX)
/* Bytes of a decoded string the codec ever needs (field names, flag names, op names). */
#define LIMIT_JSON_NAME_BYTES_MAX 64u

_Static_assert(LIMIT_JSON_TOKENS_PER_EVENT_MAX >= 36u + 4u, "a full transfer fits, with room");
_Static_assert(LIMIT_JSON_LINE_BYTES_MAX < (1u << 31), "offsets fit in u32");

enum cli_json_type {
    CLI_JSON_OBJECT = 1,
    CLI_JSON_ARRAY = 2,
    CLI_JSON_STRING = 3,
    CLI_JSON_NUMBER = 4,
    CLI_JSON_TRUE = 5,
    CLI_JSON_FALSE = 6,
    CLI_JSON_NULL = 7,
};

struct cli_json_token {
    u8 type;      /* enum cli_json_type */
    u8 escaped;   /* strings: a backslash occurs */
    u16 padding;
    u32 start;    /* byte offset in the line (strings: after the opening quote) */
    u32 length;   /* bytes (strings: up to the closing quote, exclusive) */
    u32 children; /* objects: pairs; arrays: elements */
    u32 end;      /* index of the first token after this subtree */
};

/* Why a parse failed. */
enum cli_json_status {
    CLI_JSON_OK = 0,
    CLI_JSON_INVALID,        /* not JSON */
    CLI_JSON_TOO_DEEP,       /* nesting deeper than LIMIT_JSON_DEPTH_MAX */
    CLI_JSON_TOO_MANY_VALUES /* more values than token_count_max */
};

struct cli_json_reader {
    struct cli_json_token *tokens; /* reserved by the caller */
    u32 token_count_max;
    u32 token_count;
    u32 error_offset; /* where a parse failed */
    const char *error_reason; /* a static sentence */
};

void cli_json_reader_init(struct cli_json_reader *reader, struct cli_json_token *tokens,
                          u32 token_count_max);
enum cli_json_status cli_json_parse(struct cli_json_reader *reader, const char *text,
                                    u32 length);

/* Decodes a string token's escapes into `out`; returns the length, or -1 if it exceeds
 * `capacity` bytes. The result is not NUL-terminated. */
int cli_json_string_decode(const char *text, const struct cli_json_token *token, char *out,
                           u32 capacity);
/* Whether a string token equals `literal` (NUL-terminated) once decoded. */
bool cli_json_string_equals(const char *text, const struct cli_json_token *token,
                            const char *literal);

/* Reading unsigned integers exactly. */
enum cli_json_number_status {
    CLI_JSON_NUMBER_OK = 0,
    CLI_JSON_NUMBER_WRONG_TYPE,  /* not a number or string, a fraction or exponent, not digits */
    CLI_JSON_NUMBER_OUT_OF_RANGE /* negative or above `maximum` */
};
/* Reads a JSON integer of any size, or a string of decimal digits, into a value <= maximum. */
enum cli_json_number_status cli_json_read_unsigned(const char *text,
                                                   const struct cli_json_token *token,
                                                   u128 maximum, u128 *value);
/* Reads a JSON integer only (no string), into a value <= maximum. */
enum cli_json_number_status cli_json_read_integer(const char *text,
                                                  const struct cli_json_token *token,
                                                  u128 maximum, u128 *value);

/* Bytes of the UTF-8 sequence starting at bytes[0] if it is valid (1..4), else 0. */
u32 cli_json_utf8_sequence_length(const u8 *bytes, u32 available);

/* ----------------------------------------------------------------------------------------- */
/* Writer.                                                                                    */

struct cli_json_writer {
    char *buffer;
    u32 capacity;
    u32 length;
    bool comma;    /* a value was just written at this level: the next one needs a comma */
    bool overflow; /* an append did not fit */
};

void cli_json_writer_init(struct cli_json_writer *writer, char *buffer, u32 capacity);
void cli_json_object_begin(struct cli_json_writer *writer);
void cli_json_object_end(struct cli_json_writer *writer);
void cli_json_array_begin(struct cli_json_writer *writer);
void cli_json_array_end(struct cli_json_writer *writer);
/* Writes "name": (name is trusted ASCII from a table, written unescaped). */
void cli_json_key(struct cli_json_writer *writer, const char *name);
void cli_json_string(struct cli_json_writer *writer, const char *bytes, u32 length);
void cli_json_string_literal(struct cli_json_writer *writer, const char *text);
/* u128 / u64 as a decimal string, "123". */
void cli_json_decimal_string(struct cli_json_writer *writer, u128 value);
/* A JSON integer, 123. */
void cli_json_integer(struct cli_json_writer *writer, u64 value);
/* Raw bytes (a newline); no comma handling. */
void cli_json_raw(struct cli_json_writer *writer, const char *bytes, u32 length);

/* Bytes the escaped form of `length` bytes may need at the most, quotes included. */
#define CLI_JSON_STRING_BYTES_MAX(length) (6u * (length) + 2u)

#endif /* KHORGOS_CLI_JSON_H */
