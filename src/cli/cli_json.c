/* cli_json.c: the JSON reader (a validating tokenizer into a caller's token array) and writer
 * of the apply front end. See cli_json.h for the token layout, invariants and why it is ours. */
#include "cli/cli_json.h"

/* ----------------------------------------------------------------------------------------- */
/* Reader.                                                                                    */

struct json_parser {
    const char *text;
    u32 length;
    u32 position;
    struct cli_json_reader *reader;
    enum cli_json_status status;
};

void cli_json_reader_init(struct cli_json_reader *reader, struct cli_json_token *tokens,
                          u32 token_count_max) {
    ASSERT(reader != NULL);
    ASSERT(tokens != NULL && token_count_max > 0);
    reader->tokens = tokens;
    reader->token_count_max = token_count_max;
    reader->token_count = 0;
    reader->error_offset = 0;
    reader->error_reason = NULL;
}

static bool parser_fail(struct json_parser *parser, enum cli_json_status status,
                        const char *reason) {
    ASSERT(status != CLI_JSON_OK);
    ASSERT(reason != NULL);
    if (parser->status == CLI_JSON_OK) {
        parser->status = status;
        parser->reader->error_offset = parser->position;
        parser->reader->error_reason = reason;
    }
    return false;
}

static void parser_skip_whitespace(struct json_parser *parser) {
    ASSERT(parser->position <= parser->length);
    while (parser->position < parser->length) {
        char character = parser->text[parser->position];
        if (character != ' ' && character != '\t' && character != '\n' && character != '\r') {
            break;
        }
        parser->position++;
    }
}

/* Appends a token; returns its index, or U32_MAX when the array is full. */
static u32 parser_token_new(struct json_parser *parser, enum cli_json_type type) {
    struct cli_json_reader *reader = parser->reader;
    ASSERT(reader->token_count <= reader->token_count_max);
    if (reader->token_count == reader->token_count_max) {
        parser_fail(parser, CLI_JSON_TOO_MANY_VALUES, "more values than a request may hold");
        return U32_MAX;
    }
    u32 index = reader->token_count++;
    struct cli_json_token *token = &reader->tokens[index];
    memset(token, 0, sizeof(*token));
    token->type = (u8)type;
    token->start = parser->position;
    return index;
}

/* Closes a token: its text ends at the parser's position and its subtree at the last token. */
static void parser_token_close(struct json_parser *parser, u32 index) {
    struct cli_json_token *token = &parser->reader->tokens[index];
    ASSERT(parser->position >= token->start);
    token->length = parser->position - token->start;
    token->end = parser->reader->token_count;
    ASSERT(token->end > index);
}

u32 cli_json_utf8_sequence_length(const u8 *bytes, u32 available) {
    ASSERT(bytes != NULL);
    ASSERT(available > 0);
    u8 first = bytes[0];
    if (first < 0x80) return 1;
    u32 length;
    u8 second_low = 0x80, second_high = 0xBF;
    if (first >= 0xC2 && first <= 0xDF) {
        length = 2;
    } else if (first >= 0xE0 && first <= 0xEF) {
        length = 3;
        if (first == 0xE0) second_low = 0xA0;  /* no overlong forms */
        if (first == 0xED) second_high = 0x9F; /* no surrogates */
    } else if (first >= 0xF0 && first <= 0xF4) {
        length = 4;
        if (first == 0xF0) second_low = 0x90;
        if (first == 0xF4) second_high = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (available < length) return 0;
    if (bytes[1] < second_low || bytes[1] > second_high) return 0;
    for (u32 index = 2; index < length; index++) {
        if (bytes[index] < 0x80 || bytes[index] > 0xBF) return 0;
    }
    return length;
}

static int hex_digit_value(char character) {
    if (character >= '0' && character <= '9') return character - '0';
    if (character >= 'a' && character <= 'f') return character - 'a' + 10;
    if (character >= 'A' && character <= 'F') return character - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after "\u" at `position`; -1 if they are not 4 hex digits. */
static i64 read_hex4(const char *text, u32 length, u32 position) {
    ASSERT(text != NULL);
    if (length < 4 || position > length - 4) return -1;
    i64 value = 0;
    for (u32 index = 0; index < 4; index++) {
        int digit = hex_digit_value(text[position + index]);
        if (digit < 0) return -1;
        value = value * 16 + digit;
    }
    ASSERT(value >= 0 && value <= 0xFFFF);
    return value;
}

/* Checks one escape at the parser's position (just after the backslash) and skips it. */
static bool parser_escape(struct json_parser *parser) {
    ASSERT(parser->position <= parser->length);
    if (parser->position == parser->length) {
        return parser_fail(parser, CLI_JSON_INVALID, "unterminated string");
    }
    char kind = parser->text[parser->position];
    if (kind != 'u') {
        if (strchr("\"\\/bfnrt", kind) == NULL || kind == '\0') {
            return parser_fail(parser, CLI_JSON_INVALID, "unknown escape in a string");
        }
        parser->position++;
        return true;
    }
    i64 unit = read_hex4(parser->text, parser->length, parser->position + 1);
    if (unit < 0) return parser_fail(parser, CLI_JSON_INVALID, "bad \\u escape in a string");
    parser->position += 5;
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
        return parser_fail(parser, CLI_JSON_INVALID, "lone low surrogate in a string");
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
        bool backslash_u = parser->position + 1 < parser->length &&
                           parser->text[parser->position] == '\\' &&
                           parser->text[parser->position + 1] == 'u';
        i64 low = backslash_u ? read_hex4(parser->text, parser->length, parser->position + 2) : -1;
        if (low < 0xDC00 || low > 0xDFFF) {
            return parser_fail(parser, CLI_JSON_INVALID, "lone high surrogate in a string");
        }
        parser->position += 6;
    }
    return true;
}

/* A string at the parser's position (on the opening quote). */
static bool parser_string(struct json_parser *parser) {
    ASSERT(parser->text[parser->position] == '"');
    parser->position++;
    u32 index = parser_token_new(parser, CLI_JSON_STRING);
    if (index == U32_MAX) return false;
    bool escaped = false;
    for (;;) {
        if (parser->position >= parser->length) {
            return parser_fail(parser, CLI_JSON_INVALID, "unterminated string");
        }
        u8 byte = (u8)parser->text[parser->position];
        if (byte == '"') break;
        if (byte < 0x20) {
            return parser_fail(parser, CLI_JSON_INVALID, "control character in a string");
        }
        if (byte == '\\') {
            escaped = true;
            parser->position++;
            if (!parser_escape(parser)) return false;
            continue;
        }
        u32 sequence = cli_json_utf8_sequence_length((const u8 *)parser->text + parser->position,
                                                     parser->length - parser->position);
        if (sequence == 0) return parser_fail(parser, CLI_JSON_INVALID, "string is not UTF-8");
        parser->position += sequence;
    }
    parser_token_close(parser, index);
    parser->reader->tokens[index].escaped = escaped;
    parser->position++; /* the closing quote */
    return true;
}

static bool parser_is_digit(const struct json_parser *parser) {
    return parser->position < parser->length && parser->text[parser->position] >= '0' &&
           parser->text[parser->position] <= '9';
}

static bool parser_digits(struct json_parser *parser) {
    if (!parser_is_digit(parser)) {
        return parser_fail(parser, CLI_JSON_INVALID, "a digit is expected in a number");
    }
    while (parser_is_digit(parser)) parser->position++;
    return true;
}

static bool parser_number(struct json_parser *parser) {
    u32 index = parser_token_new(parser, CLI_JSON_NUMBER);
    if (index == U32_MAX) return false;
    if (parser->text[parser->position] == '-') parser->position++;
    if (parser->position < parser->length && parser->text[parser->position] == '0') {
        parser->position++;
        if (parser_is_digit(parser)) {
            return parser_fail(parser, CLI_JSON_INVALID, "leading zero in a number");
        }
    } else if (!parser_digits(parser)) {
        return false;
    }
    if (parser->position < parser->length && parser->text[parser->position] == '.') {
        parser->position++;
        if (!parser_digits(parser)) return false;
    }
    if (parser->position < parser->length &&
        (parser->text[parser->position] == 'e' || parser->text[parser->position] == 'E')) {
        parser->position++;
        if (parser->position < parser->length &&
            (parser->text[parser->position] == '+' || parser->text[parser->position] == '-')) {
            parser->position++;
        }
        if (!parser_digits(parser)) return false;
    }
    parser_token_close(parser, index);
    return true;
}

static bool parser_literal(struct json_parser *parser, const char *word, enum cli_json_type type) {
    u32 word_length = (u32)strlen(word);
    ASSERT(word_length >= 4 && word_length <= 5);
    if (parser->length - parser->position < word_length ||
        memcmp(parser->text + parser->position, word, word_length) != 0) {
        return parser_fail(parser, CLI_JSON_INVALID, "unexpected character");
    }
    u32 index = parser_token_new(parser, type);
    if (index == U32_MAX) return false;
    parser->position += word_length;
    parser_token_close(parser, index);
    return true;
}

static bool parser_value(struct json_parser *parser, u32 depth);

/* An object or array at the parser's position (on its opening bracket). */
static bool parser_container(struct json_parser *parser, u32 depth, bool object) {
    ASSERT(parser->text[parser->position] == (object ? '{' : '['));
    if (depth > LIMIT_JSON_DEPTH_MAX) {
        return parser_fail(parser, CLI_JSON_TOO_DEEP, "nested deeper than a request may be");
    }
    u32 index = parser_token_new(parser, object ? CLI_JSON_OBJECT : CLI_JSON_ARRAY);
    if (index == U32_MAX) return false;
    char close = object ? '}' : ']';
    parser->position++;
    parser_skip_whitespace(parser);
    u32 children = 0;
    if (parser->position < parser->length && parser->text[parser->position] == close) {
        goto close_container;
    }
    for (;;) {
        parser_skip_whitespace(parser);
        if (object) {
            if (parser->position >= parser->length || parser->text[parser->position] != '"') {
                return parser_fail(parser, CLI_JSON_INVALID, "a key string is expected");
            }
            if (!parser_string(parser)) return false;
            parser_skip_whitespace(parser);
            if (parser->position >= parser->length || parser->text[parser->position] != ':') {
                return parser_fail(parser, CLI_JSON_INVALID, "':' is expected after a key");
            }
            parser->position++;
        }
        if (!parser_value(parser, depth + 1)) return false;
        children++;
        parser_skip_whitespace(parser);
        if (parser->position < parser->length && parser->text[parser->position] == ',') {
            parser->position++;
            continue;
        }
        if (parser->position < parser->length && parser->text[parser->position] == close) break;
        return parser_fail(parser, CLI_JSON_INVALID,
                           object ? "',' or '}' is expected" : "',' or ']' is expected");
    }
close_container:
    parser->position++;
    parser_token_close(parser, index);
    parser->reader->tokens[index].children = children;
    return true;
}

static bool parser_value(struct json_parser *parser, u32 depth) {
    ASSERT(depth >= 1);
    parser_skip_whitespace(parser);
    if (parser->position >= parser->length) {
        return parser_fail(parser, CLI_JSON_INVALID, "a value is expected");
    }
    char character = parser->text[parser->position];
    switch (character) {
    case '{': return parser_container(parser, depth, true);
    case '[': return parser_container(parser, depth, false);
    case '"': return parser_string(parser);
    case 't': return parser_literal(parser, "true", CLI_JSON_TRUE);
    case 'f': return parser_literal(parser, "false", CLI_JSON_FALSE);
    case 'n': return parser_literal(parser, "null", CLI_JSON_NULL);
    default: break;
    }
    if (character == '-' || (character >= '0' && character <= '9')) return parser_number(parser);
    return parser_fail(parser, CLI_JSON_INVALID, "unexpected character");
}

enum cli_json_status cli_json_parse(struct cli_json_reader *reader, const char *text,
                                    u32 length) {
    ASSERT(reader != NULL && reader->tokens != NULL);
    ASSERT(text != NULL || length == 0);
    struct json_parser parser = {text, length, 0, reader, CLI_JSON_OK};
    reader->token_count = 0;
    reader->error_offset = 0;
    reader->error_reason = NULL;
    if (!parser_value(&parser, 1)) {
        ASSERT(parser.status != CLI_JSON_OK);
        return parser.status;
    }
    parser_skip_whitespace(&parser);
    if (parser.position != length) {
        parser_fail(&parser, CLI_JSON_INVALID, "text after the value");
        return parser.status;
    }
    ASSERT(reader->token_count >= 1 && reader->tokens[0].end == reader->token_count);
    return CLI_JSON_OK;
}

/* ----------------------------------------------------------------------------------------- */
/* Reading strings and numbers.                                                               */

/* Writes code point `code` as UTF-8 at out[*length] if it fits. */
static bool utf8_put(u32 code, char *out, u32 capacity, u32 *length) {
    ASSERT(code <= 0x10FFFF);
    u8 bytes[4];
    u32 count;
    if (code < 0x80) {
        bytes[0] = (u8)code, count = 1;
    } else if (code < 0x800) {
        bytes[0] = (u8)(0xC0 | (code >> 6)), bytes[1] = (u8)(0x80 | (code & 0x3F)), count = 2;
    } else if (code < 0x10000) {
        bytes[0] = (u8)(0xE0 | (code >> 12)), bytes[1] = (u8)(0x80 | ((code >> 6) & 0x3F));
        bytes[2] = (u8)(0x80 | (code & 0x3F)), count = 3;
    } else {
        bytes[0] = (u8)(0xF0 | (code >> 18)), bytes[1] = (u8)(0x80 | ((code >> 12) & 0x3F));
        bytes[2] = (u8)(0x80 | ((code >> 6) & 0x3F)), bytes[3] = (u8)(0x80 | (code & 0x3F));
        count = 4;
    }
    if (*length + count > capacity) return false;
    memcpy(out + *length, bytes, count);
    *length += count;
    return true;
}

/* Decodes the escape at text[*position] (on the backslash) of a string the parser accepted. */
static u32 string_escape_decode(const char *text, u32 end, u32 *position) {
    ASSERT(text[*position] == '\\');
    char kind = text[*position + 1];
    *position += 2;
    switch (kind) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u': break;
    default: return (u32)(u8)kind; /* " \ / */
    }
    i64 unit = read_hex4(text, end, *position);
    ASSERT(unit >= 0); /* the parser checked it */
    *position += 4;
    if (unit < 0xD800 || unit > 0xDBFF) return (u32)unit;
    i64 low = read_hex4(text, end, *position + 2);
    ASSERT(low >= 0xDC00 && low <= 0xDFFF);
    *position += 6;
    return 0x10000u + (((u32)unit - 0xD800u) << 10) + ((u32)low - 0xDC00u);
}

int cli_json_string_decode(const char *text, const struct cli_json_token *token, char *out,
                           u32 capacity) {
    ASSERT(text != NULL && token != NULL && out != NULL);
    ASSERT(token->type == CLI_JSON_STRING);
    if (!token->escaped) {
        if (token->length > capacity) return -1;
        memcpy(out, text + token->start, token->length);
        return (int)token->length;
    }
    u32 end = token->start + token->length;
    u32 length = 0;
    for (u32 position = token->start; position < end;) {
        if (text[position] != '\\') {
            if (length == capacity) return -1;
            out[length++] = text[position++];
            continue;
        }
        u32 code = string_escape_decode(text, end, &position);
        if (!utf8_put(code, out, capacity, &length)) return -1;
    }
    ASSERT(length <= capacity);
    return (int)length;
}

bool cli_json_string_equals(const char *text, const struct cli_json_token *token,
                            const char *literal) {
    ASSERT(text != NULL && token != NULL && literal != NULL);
    if (token->type != CLI_JSON_STRING) return false;
    size_t literal_length = strlen(literal);
    if (!token->escaped) {
        return token->length == literal_length &&
               memcmp(text + token->start, literal, literal_length) == 0;
    }
    char decoded[LIMIT_JSON_NAME_BYTES_MAX];
    int length = cli_json_string_decode(text, token, decoded, sizeof(decoded));
    return length >= 0 && (size_t)length == literal_length &&
           memcmp(decoded, literal, literal_length) == 0;
}

static enum cli_json_number_status digits_read(const char *digits, u32 length, u128 maximum,
                                               u128 *value) {
    ASSERT(digits != NULL || length == 0);
    if (length == 0) return CLI_JSON_NUMBER_WRONG_TYPE;
    for (u32 index = 0; index < length; index++) {
        if (digits[index] < '0' || digits[index] > '9') return CLI_JSON_NUMBER_WRONG_TYPE;
    }
    u128 result = 0;
    if (base_u128_parse(digits, length, &result) != 0) return CLI_JSON_NUMBER_OUT_OF_RANGE;
    if (result > maximum) return CLI_JSON_NUMBER_OUT_OF_RANGE;
    *value = result;
    return CLI_JSON_NUMBER_OK;
}

enum cli_json_number_status cli_json_read_integer(const char *text,
                                                  const struct cli_json_token *token,
                                                  u128 maximum, u128 *value) {
    ASSERT(text != NULL && token != NULL && value != NULL);
    if (token->type != CLI_JSON_NUMBER) return CLI_JSON_NUMBER_WRONG_TYPE;
    const char *number = text + token->start;
    ASSERT(token->length >= 1);
    for (u32 index = 0; index < token->length; index++) {
        char character = number[index];
        if (character == '.' || character == 'e' || character == 'E') {
            return CLI_JSON_NUMBER_WRONG_TYPE; /* a fraction or exponent: not an integer */
        }
    }
    if (number[0] == '-') return CLI_JSON_NUMBER_OUT_OF_RANGE;
    return digits_read(number, token->length, maximum, value);
}

enum cli_json_number_status cli_json_read_unsigned(const char *text,
                                                   const struct cli_json_token *token,
                                                   u128 maximum, u128 *value) {
    ASSERT(text != NULL && token != NULL && value != NULL);
    if (token->type == CLI_JSON_NUMBER) return cli_json_read_integer(text, token, maximum, value);
    if (token->type != CLI_JSON_STRING) return CLI_JSON_NUMBER_WRONG_TYPE;
    if (!token->escaped) return digits_read(text + token->start, token->length, maximum, value);
    char decoded[LIMIT_JSON_NAME_BYTES_MAX];
    int length = cli_json_string_decode(text, token, decoded, sizeof(decoded));
    if (length < 0) return CLI_JSON_NUMBER_WRONG_TYPE;
    return digits_read(decoded, (u32)length, maximum, value);
}

/* ----------------------------------------------------------------------------------------- */
/* Writer.                                                                                    */

void cli_json_writer_init(struct cli_json_writer *writer, char *buffer, u32 capacity) {
    ASSERT(writer != NULL);
    ASSERT(buffer != NULL || capacity == 0);
    writer->buffer = buffer;
    writer->capacity = capacity;
    writer->length = 0;
    writer->comma = false;
    writer->overflow = false;
}

static void writer_put(struct cli_json_writer *writer, const char *bytes, u32 length) {
    ASSERT(writer->length <= writer->capacity);
    if (writer->overflow) return;
    if (length > writer->capacity - writer->length) {
        writer->overflow = true;
        return;
    }
    memcpy(writer->buffer + writer->length, bytes, length);
    writer->length += length;
}

static void writer_separator(struct cli_json_writer *writer) {
    if (writer->comma) writer_put(writer, ",", 1);
}

void cli_json_raw(struct cli_json_writer *writer, const char *bytes, u32 length) {
    ASSERT(writer != NULL && bytes != NULL);
    writer_put(writer, bytes, length);
}

void cli_json_object_begin(struct cli_json_writer *writer) {
    ASSERT(writer != NULL);
    writer_separator(writer);
    writer_put(writer, "{", 1);
    writer->comma = false;
}

void cli_json_object_end(struct cli_json_writer *writer) {
    ASSERT(writer != NULL);
    writer_put(writer, "}", 1);
    writer->comma = true;
}

void cli_json_array_begin(struct cli_json_writer *writer) {
    ASSERT(writer != NULL);
    writer_separator(writer);
    writer_put(writer, "[", 1);
    writer->comma = false;
}

void cli_json_array_end(struct cli_json_writer *writer) {
    ASSERT(writer != NULL);
    writer_put(writer, "]", 1);
    writer->comma = true;
}

void cli_json_key(struct cli_json_writer *writer, const char *name) {
    ASSERT(writer != NULL && name != NULL);
    writer_separator(writer);
    writer_put(writer, "\"", 1);
    writer_put(writer, name, (u32)strlen(name));
    writer_put(writer, "\":", 2);
    writer->comma = false;
}

/* Appends one escaped byte or UTF-8 sequence of `bytes`; returns how many input bytes it took. */
static u32 writer_string_step(struct cli_json_writer *writer, const u8 *bytes, u32 available) {
    static const char hex[] = "0123456789abcdef";
    u8 byte = bytes[0];
    const char *short_escape = NULL;
    switch (byte) {
    case '"': short_escape = "\\\""; break;
    case '\\': short_escape = "\\\\"; break;
    case '\n': short_escape = "\\n"; break;
    case '\r': short_escape = "\\r"; break;
    case '\t': short_escape = "\\t"; break;
    case '\b': short_escape = "\\b"; break;
    case '\f': short_escape = "\\f"; break;
    default: break;
    }
    if (short_escape != NULL) {
        writer_put(writer, short_escape, 2);
        return 1;
    }
    if (byte < 0x20) {
        char escape[6] = {'\\', 'u', '0', '0', hex[byte >> 4], hex[byte & 0xF]};
        writer_put(writer, escape, sizeof(escape));
        return 1;
    }
    u32 sequence = cli_json_utf8_sequence_length(bytes, available);
    if (sequence == 0) {
        writer_put(writer, "\\ufffd", 6); /* not UTF-8: the replacement character */
        return 1;
    }
    writer_put(writer, (const char *)bytes, sequence);
    return sequence;
}

void cli_json_string(struct cli_json_writer *writer, const char *bytes, u32 length) {
    ASSERT(writer != NULL);
    ASSERT(bytes != NULL || length == 0);
    u32 length_before = writer->length;
    bool overflow_before = writer->overflow;
    writer_separator(writer);
    writer_put(writer, "\"", 1);
    const u8 *input = (const u8 *)bytes;
    for (u32 position = 0; position < length && !writer->overflow;) {
        position += writer_string_step(writer, input + position, length - position);
    }
    writer_put(writer, "\"", 1);
    if (writer->overflow && !overflow_before) writer->length = length_before;
    ASSERT(writer->length - length_before <= CLI_JSON_STRING_BYTES_MAX(length) + 1);
    writer->comma = true;
}

void cli_json_string_literal(struct cli_json_writer *writer, const char *text) {
    ASSERT(text != NULL);
    cli_json_string(writer, text, (u32)strlen(text));
}

void cli_json_decimal_string(struct cli_json_writer *writer, u128 value) {
    ASSERT(writer != NULL);
    char text[LIMIT_U128_DECIMAL_DIGITS_MAX + 3];
    size_t length = base_u128_format(value, text + 1);
    ASSERT(length >= 1 && length <= LIMIT_U128_DECIMAL_DIGITS_MAX);
    text[0] = '"';
    text[length + 1] = '"';
    writer_separator(writer);
    writer_put(writer, text, (u32)length + 2);
    writer->comma = true;
}

void cli_json_integer(struct cli_json_writer *writer, u64 value) {
    ASSERT(writer != NULL);
    char text[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
    size_t length = base_u128_format(value, text);
    ASSERT(length >= 1 && length <= 20);
    writer_separator(writer);
    writer_put(writer, text, (u32)length);
    writer->comma = true;
}
