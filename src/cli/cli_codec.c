/* cli_codec.c: the record and operation tables of the JSON front end, and the generic walks
 * that decode requests and encode replies with them. See cli_codec.h for the rules. */
#include "cli/cli_codec.h"
#include "cli/cli_codec_settle.h"

#include <stdio.h>

/* ----------------------------------------------------------------------------------------- */
/* Tables.                                                                                    */

/* A field's table row: name, kind, element size, element count, offset, names, status names. */
#define FIELD_(type, member, kind_, element_size, input_only_, names_, name_count_, status)   \
    {.name = #member, .kind = kind_, .size = element_size,                                     \
     .count = sizeof(((type *)0)->member) / (element_size), .input_only = input_only_,         \
     .offset = offsetof(type, member), .names = names_, .name_count = name_count_,             \
     .status_name = status}
#define FIELD_SIZE_(type, member) sizeof(((type *)0)->member)
#define FIELD_UNSIGNED(type, member)                                                           \
    FIELD_(type, member, CLI_FIELD_UNSIGNED, FIELD_SIZE_(type, member), false, NULL, 0, NULL)
#define FIELD_RESERVED(type, member)                                                           \
    FIELD_(type, member, CLI_FIELD_UNSIGNED, FIELD_SIZE_(type, member), true, NULL, 0, NULL)
#define FIELD_FLAGS(type, member, names)                                                       \
    FIELD_(type, member, CLI_FIELD_FLAGS, FIELD_SIZE_(type, member), false, names,             \
           ARRAY_COUNT(names), NULL)
#define FIELD_STATUS(type, member, function)                                                   \
    FIELD_(type, member, CLI_FIELD_STATUS, FIELD_SIZE_(type, member), false, NULL, 0, function)
/* Also for settlement's records (see cli_codec.h): text, enums by name, fixed arrays. */
#define FIELD_TEXT(type, member)                                                               \
    FIELD_(type, member, CLI_FIELD_TEXT, FIELD_SIZE_(type, member), false, NULL, 0, NULL)
#define FIELD_ENUM(type, member, names)                                                        \
    FIELD_(type, member, CLI_FIELD_ENUM, FIELD_SIZE_(type, member), false, names,              \
           ARRAY_COUNT(names), NULL)
#define FIELD_ARRAY(type, member)                                                              \
    FIELD_(type, member, CLI_FIELD_UNSIGNED, sizeof(((type *)0)->member[0]), false, NULL, 0,   \
           NULL)
#define RECORD(name, type, fields) {name, sizeof(type), fields, ARRAY_COUNT(fields)}

static const char *const account_flag_names[] = {
    "linked", "debits_must_not_exceed_credits", "credits_must_not_exceed_debits", "history",
    "imported", "closed",
};
static const char *const transfer_flag_names[] = {
    "linked", "pending", "post_pending_transfer", "void_pending_transfer", "balancing_debit",
    "balancing_credit", "closing_debit", "closing_credit", "imported",
};
static const char *const account_filter_flag_names[] = {"debits", "credits", "reversed"};
static const char *const query_filter_flag_names[] = {"reversed"};

_Static_assert(ARRAY_COUNT(account_flag_names) == 6, "a name per account flag");
_Static_assert((1u << ARRAY_COUNT(account_flag_names)) - 1 == KHORGOS_ACCOUNT_FLAGS_ALL,
               "account flag names cover every flag");
_Static_assert((1u << ARRAY_COUNT(transfer_flag_names)) - 1 == KHORGOS_TRANSFER_FLAGS_ALL,
               "transfer flag names cover every flag");

#define ACCOUNT struct khorgos_account
static const struct cli_field account_fields[] = {
    FIELD_UNSIGNED(ACCOUNT, id),
    FIELD_UNSIGNED(ACCOUNT, debits_pending),
    FIELD_UNSIGNED(ACCOUNT, debits_posted),
    FIELD_UNSIGNED(ACCOUNT, credits_pending),
    FIELD_UNSIGNED(ACCOUNT, credits_posted),
    FIELD_UNSIGNED(ACCOUNT, user_data_128),
    FIELD_UNSIGNED(ACCOUNT, user_data_64),
    FIELD_UNSIGNED(ACCOUNT, user_data_32),
    FIELD_RESERVED(ACCOUNT, reserved),
    FIELD_UNSIGNED(ACCOUNT, ledger),
    FIELD_UNSIGNED(ACCOUNT, code),
    FIELD_FLAGS(ACCOUNT, flags, account_flag_names),
    FIELD_UNSIGNED(ACCOUNT, timestamp),
};

#define TRANSFER struct khorgos_transfer
static const struct cli_field transfer_fields[] = {
    FIELD_UNSIGNED(TRANSFER, id),
    FIELD_UNSIGNED(TRANSFER, debit_account_id),
    FIELD_UNSIGNED(TRANSFER, credit_account_id),
    FIELD_UNSIGNED(TRANSFER, amount),
    FIELD_UNSIGNED(TRANSFER, pending_id),
    FIELD_UNSIGNED(TRANSFER, user_data_128),
    FIELD_UNSIGNED(TRANSFER, user_data_64),
    FIELD_UNSIGNED(TRANSFER, user_data_32),
    FIELD_UNSIGNED(TRANSFER, timeout),
    FIELD_UNSIGNED(TRANSFER, ledger),
    FIELD_UNSIGNED(TRANSFER, code),
    FIELD_FLAGS(TRANSFER, flags, transfer_flag_names),
    FIELD_UNSIGNED(TRANSFER, timestamp),
};

#define BALANCE struct khorgos_account_balance
static const struct cli_field balance_fields[] = {
    FIELD_UNSIGNED(BALANCE, timestamp),
    FIELD_UNSIGNED(BALANCE, debits_pending),
    FIELD_UNSIGNED(BALANCE, debits_posted),
    FIELD_UNSIGNED(BALANCE, credits_pending),
    FIELD_UNSIGNED(BALANCE, credits_posted),
};

#define ACCOUNT_FILTER struct khorgos_account_filter
static const struct cli_field account_filter_fields[] = {
    FIELD_UNSIGNED(ACCOUNT_FILTER, account_id),
    FIELD_UNSIGNED(ACCOUNT_FILTER, user_data_128),
    FIELD_UNSIGNED(ACCOUNT_FILTER, user_data_64),
    FIELD_UNSIGNED(ACCOUNT_FILTER, user_data_32),
    FIELD_UNSIGNED(ACCOUNT_FILTER, code),
    FIELD_UNSIGNED(ACCOUNT_FILTER, timestamp_min),
    FIELD_UNSIGNED(ACCOUNT_FILTER, timestamp_max),
    FIELD_UNSIGNED(ACCOUNT_FILTER, limit),
    FIELD_FLAGS(ACCOUNT_FILTER, flags, account_filter_flag_names),
};

#define QUERY_FILTER struct khorgos_query_filter
static const struct cli_field query_filter_fields[] = {
    FIELD_UNSIGNED(QUERY_FILTER, user_data_128),
    FIELD_UNSIGNED(QUERY_FILTER, user_data_64),
    FIELD_UNSIGNED(QUERY_FILTER, user_data_32),
    FIELD_UNSIGNED(QUERY_FILTER, ledger),
    FIELD_UNSIGNED(QUERY_FILTER, code),
    FIELD_UNSIGNED(QUERY_FILTER, timestamp_min),
    FIELD_UNSIGNED(QUERY_FILTER, timestamp_max),
    FIELD_UNSIGNED(QUERY_FILTER, limit),
    FIELD_FLAGS(QUERY_FILTER, flags, query_filter_flag_names),
};

struct cli_id {
    u128 id;
};
static const struct cli_field id_fields[] = {FIELD_UNSIGNED(struct cli_id, id)};

#define RESULT struct khorgos_create_result
static const struct cli_field account_result_fields[] = {
    FIELD_STATUS(RESULT, status, khorgos_create_account_status_name),
    FIELD_UNSIGNED(RESULT, timestamp),
};
static const struct cli_field transfer_result_fields[] = {
    FIELD_STATUS(RESULT, status, khorgos_create_transfer_status_name),
    FIELD_UNSIGNED(RESULT, timestamp),
};

#define CLOCK_ADVANCE struct cli_clock_advance
static const struct cli_field clock_advance_fields[] = {
    FIELD_UNSIGNED(CLOCK_ADVANCE, seconds),
    FIELD_UNSIGNED(CLOCK_ADVANCE, nanoseconds),
};

static const struct cli_record record_account = RECORD("account", ACCOUNT, account_fields);
static const struct cli_record record_transfer = RECORD("transfer", TRANSFER, transfer_fields);
static const struct cli_record record_balance = RECORD("balance", BALANCE, balance_fields);
static const struct cli_record record_account_filter =
    RECORD("account_filter", ACCOUNT_FILTER, account_filter_fields);
static const struct cli_record record_query_filter =
    RECORD("query_filter", QUERY_FILTER, query_filter_fields);
static const struct cli_record record_id = RECORD("id", struct cli_id, id_fields);
static const struct cli_record record_account_result =
    RECORD("account_result", RESULT, account_result_fields);
static const struct cli_record record_transfer_result =
    RECORD("transfer_result", RESULT, transfer_result_fields);
static const struct cli_record record_clock_advance =
    RECORD("clock_advance", CLOCK_ADVANCE, clock_advance_fields);

_Static_assert(sizeof(struct cli_id) == 16, "an id is a bare u128 in the body");

static const struct cli_operation operation_table[] = {
    {"create_accounts", KHORGOS_OPERATION_CREATE_ACCOUNTS, CLI_BODY_EVENTS, "events",
     &record_account, "results", &record_account_result},
    {"create_transfers", KHORGOS_OPERATION_CREATE_TRANSFERS, CLI_BODY_EVENTS, "events",
     &record_transfer, "results", &record_transfer_result},
    {"lookup_accounts", KHORGOS_OPERATION_LOOKUP_ACCOUNTS, CLI_BODY_IDS, "ids", &record_id,
     "accounts", &record_account},
    {"lookup_transfers", KHORGOS_OPERATION_LOOKUP_TRANSFERS, CLI_BODY_IDS, "ids", &record_id,
     "transfers", &record_transfer},
    {"get_account_transfers", KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS, CLI_BODY_FILTER, "filter",
     &record_account_filter, "transfers", &record_transfer},
    {"get_account_balances", KHORGOS_OPERATION_GET_ACCOUNT_BALANCES, CLI_BODY_FILTER, "filter",
     &record_account_filter, "balances", &record_balance},
    {"query_accounts", KHORGOS_OPERATION_QUERY_ACCOUNTS, CLI_BODY_FILTER, "filter",
     &record_query_filter, "accounts", &record_account},
    {"query_transfers", KHORGOS_OPERATION_QUERY_TRANSFERS, CLI_BODY_FILTER, "filter",
     &record_query_filter, "transfers", &record_transfer},
    {"advance_clock", CLI_OPERATION_ADVANCE_CLOCK, CLI_BODY_INLINE, NULL, &record_clock_advance,
     NULL, NULL},
};

const struct cli_operation *cli_operation_find(const char *name, u32 length) {
    ASSERT(name != NULL || length == 0);
    for (u32 index = 0; index < ARRAY_COUNT(operation_table); index++) {
        const char *candidate = operation_table[index].name;
        if (strlen(candidate) == length && memcmp(candidate, name, length) == 0) {
            return &operation_table[index];
        }
    }
    return cli_codec_settle_operation_find(name, length); /* settlement's table */
}

const struct cli_operation *cli_operation_by_code(u32 operation) {
    ASSERT(ARRAY_COUNT(operation_table) > 0);
    for (u32 index = 0; index < cli_operation_count(); index++) {
        const struct cli_operation *candidate = cli_operation_at(index);
        if (candidate->operation == operation) return candidate;
    }
    return NULL;
}

/* The ledger's operations come first, then settlement's (cli_codec_settle.c). */
const struct cli_operation *cli_operation_at(u32 index) {
    ASSERT(index < cli_operation_count());
    if (index >= ARRAY_COUNT(operation_table)) {
        return cli_codec_settle_operation_at(index - (u32)ARRAY_COUNT(operation_table));
    }
    ASSERT(operation_table[index].body != NULL);
    return &operation_table[index];
}

u32 cli_operation_count(void) {
    ASSERT(ARRAY_COUNT(operation_table) < 256);
    return (u32)ARRAY_COUNT(operation_table) + cli_codec_settle_operation_count();
}

static const char *const codec_error_names[] = {
#define CLI_CODEC_ERROR_NAME_(name, text) #name,
    CLI_CODEC_ERRORS(CLI_CODEC_ERROR_NAME_)
#undef CLI_CODEC_ERROR_NAME_
};
static const char *const codec_error_texts[] = {
#define CLI_CODEC_ERROR_TEXT_(name, text) text,
    CLI_CODEC_ERRORS(CLI_CODEC_ERROR_TEXT_)
#undef CLI_CODEC_ERROR_TEXT_
};
_Static_assert(ARRAY_COUNT(codec_error_names) == CLI_CODEC_ERROR_COUNT, "a name per error");

const char *cli_codec_error_name(enum cli_codec_error_code code) {
    ASSERT((u32)code < CLI_CODEC_ERROR_COUNT);
    ASSERT(codec_error_names[code] != NULL);
    return codec_error_names[code];
}

/* ----------------------------------------------------------------------------------------- */
/* Decoding.                                                                                  */

struct decode {
    const char *line;
    const struct cli_json_token *tokens;
    struct cli_codec_error *error;
    /* Where the record being decoded is, for messages: events[3], filter, or the request. */
    const char *where_key;
    u32 where_index;
    bool where_indexed;
};

/* Fills the error: its code, then a message of the code's sentence and `detail`. */
static bool decode_fail(struct decode *decode, enum cli_codec_error_code code,
                        const char *detail) {
    ASSERT((u32)code < CLI_CODEC_ERROR_COUNT);
    ASSERT(detail != NULL);
    decode->error->code = code;
    char where[48] = "";
    if (decode->where_key != NULL && decode->where_indexed) {
        snprintf(where, sizeof(where), " in %s[%u]", decode->where_key, decode->where_index);
    } else if (decode->where_key != NULL) {
        snprintf(where, sizeof(where), " in %s", decode->where_key);
    }
    snprintf(decode->error->message, sizeof(decode->error->message), "%s%s%s%s",
             codec_error_texts[code], detail[0] != '\0' ? ": " : "", detail, where);
    return false;
}

/* A key token's text for messages, shortened; NUL-terminated. */
static void decode_key_text(const struct decode *decode, const struct cli_json_token *key,
                            char *out, u32 capacity) {
    ASSERT(capacity >= 8);
    ASSERT(key->type == CLI_JSON_STRING);
    int length = cli_json_string_decode(decode->line, key, out, capacity - 1);
    if (length < 0) {
        u32 shown = MIN(key->length, capacity - 4);
        memcpy(out, decode->line + key->start, shown);
        memcpy(out + shown, "...", 3);
        length = (int)shown + 3;
    }
    out[length] = '\0';
}

static bool decode_number_fail(struct decode *decode, enum cli_json_number_status status,
                               const struct cli_field *field) {
    ASSERT(status != CLI_JSON_NUMBER_OK);
    ASSERT(field->size >= 1 && field->size <= 16);
    char detail[128];
    if (status == CLI_JSON_NUMBER_WRONG_TYPE) {
        snprintf(detail, sizeof(detail), "\"%s\" must be %s", field->name,
                 field->kind == CLI_FIELD_UNSIGNED && field->size >= 8
                     ? "a decimal string or a JSON integer"
                 : field->kind == CLI_FIELD_FLAGS ? "an array of flag names or an integer"
                 : field->kind == CLI_FIELD_ENUM || field->kind == CLI_FIELD_STATUS
                     ? "a name or an integer"
                                                  : "a JSON integer");
        return decode_fail(decode, CLI_CODEC_ERROR_wrong_type, detail);
    }
    char maximum[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
    base_u128_format(field->size == 16 ? U128_MAX : (((u128)1 << (field->size * 8)) - 1), maximum);
    snprintf(detail, sizeof(detail), "\"%s\" must be from 0 to %s", field->name, maximum);
    return decode_fail(decode, CLI_CODEC_ERROR_out_of_range, detail);
}

static u128 field_maximum(const struct cli_field *field) {
    ASSERT(field->size == 1 || field->size == 2 || field->size == 4 || field->size == 8 ||
           field->size == 16);
    ASSERT(field->kind != CLI_FIELD_TEXT);
    return field->size == 16 ? U128_MAX : (((u128)1 << (field->size * 8)) - 1);
}

/* Stores element `element` of a numeric field (a scalar's only element is 0). */
static void field_store(const struct cli_field *field, u8 *record, u32 element, u128 value) {
    ASSERT(field->kind != CLI_FIELD_TEXT);
    ASSERT(element < field->count && value <= field_maximum(field));
    u8 *target = record + field->offset + (size_t)element * field->size;
    switch (field->size) {
    case 1: *target = (u8)value; break;
    case 2: { u16 narrow = (u16)value; memcpy(target, &narrow, 2); break; }
    case 4: { u32 narrow = (u32)value; memcpy(target, &narrow, 4); break; }
    case 8: { u64 narrow = (u64)value; memcpy(target, &narrow, 8); break; }
    case 16: memcpy(target, &value, 16); break;
    default: ASSERT(false && "field size");
    }
}

static u128 field_load(const struct cli_field *field, const u8 *record, u32 element) {
    ASSERT(field != NULL && record != NULL);
    ASSERT(element < field->count && field->kind != CLI_FIELD_TEXT);
    const u8 *source = record + field->offset + (size_t)element * field->size;
    switch (field->size) {
    case 1: return *source;
    case 2: { u16 narrow; memcpy(&narrow, source, 2); return narrow; }
    case 4: { u32 narrow; memcpy(&narrow, source, 4); return narrow; }
    case 8: { u64 narrow; memcpy(&narrow, source, 8); return narrow; }
    case 16: { u128 wide; memcpy(&wide, source, 16); return wide; }
    default: ASSERT(false && "field size");
    }
    return 0;
}

/* The index of `token`'s name among the field's names, or name_count when it is none. */
static u32 field_name_index(const struct decode *decode, const struct cli_field *field,
                            const struct cli_json_token *token) {
    ASSERT(token->type == CLI_JSON_STRING);
    ASSERT(field->names != NULL);
    u32 index = 0;
    while (index < field->name_count &&
           (field->names[index] == NULL ||
            !cli_json_string_equals(decode->line, token, field->names[index]))) {
        index++;
    }
    return index;
}

static bool decode_unknown_name(struct decode *decode, const struct cli_field *field,
                                const struct cli_json_token *token,
                                enum cli_codec_error_code code) {
    char name[LIMIT_JSON_NAME_BYTES_MAX], detail[160];
    ASSERT(code == CLI_CODEC_ERROR_unknown_flag || code == CLI_CODEC_ERROR_unknown_name);
    decode_key_text(decode, token, name, sizeof(name));
    snprintf(detail, sizeof(detail), "\"%s\" in \"%s\"", name, field->name);
    return decode_fail(decode, code, detail);
}

/* Flags: an array of names, or an integer of bits. */
static bool decode_flags(struct decode *decode, const struct cli_field *field, u32 value_index,
                         u128 *bits) {
    const struct cli_json_token *value = &decode->tokens[value_index];
    ASSERT(field->kind == CLI_FIELD_FLAGS);
    if (value->type == CLI_JSON_NUMBER) {
        enum cli_json_number_status status =
            cli_json_read_integer(decode->line, value, field_maximum(field), bits);
        return status == CLI_JSON_NUMBER_OK || decode_number_fail(decode, status, field);
    }
    if (value->type != CLI_JSON_ARRAY) {
        return decode_number_fail(decode, CLI_JSON_NUMBER_WRONG_TYPE, field);
    }
    *bits = 0;
    for (u32 index = value_index + 1; index < value->end; index = decode->tokens[index].end) {
        const struct cli_json_token *element = &decode->tokens[index];
        if (element->type != CLI_JSON_STRING) {
            return decode_number_fail(decode, CLI_JSON_NUMBER_WRONG_TYPE, field);
        }
        u32 bit = field_name_index(decode, field, element);
        if (bit == field->name_count) {
            return decode_unknown_name(decode, field, element, CLI_CODEC_ERROR_unknown_flag);
        }
        *bits |= (u128)1 << bit;
    }
    return true;
}

/* Text: a string of printable ASCII, at most `size` bytes, stored NUL-padded. */
static bool decode_text(struct decode *decode, const struct cli_field *field, u32 value_index,
                        u8 *record) {
    const struct cli_json_token *value = &decode->tokens[value_index];
    ASSERT(field->kind == CLI_FIELD_TEXT && field->count == 1);
    char detail[128];
    if (value->type != CLI_JSON_STRING) {
        snprintf(detail, sizeof(detail), "\"%s\" must be a string", field->name);
        return decode_fail(decode, CLI_CODEC_ERROR_wrong_type, detail);
    }
    char *target = (char *)record + field->offset;
    int length = cli_json_string_decode(decode->line, value, target, field->size);
    if (length < 0) {
        memset(target, 0, field->size);
        snprintf(detail, sizeof(detail), "\"%s\" is at most %u bytes", field->name, field->size);
        return decode_fail(decode, CLI_CODEC_ERROR_out_of_range, detail);
    }
    for (int index = 0; index < length; index++) {
        if (target[index] < 0x20 || target[index] > 0x7E) {
            snprintf(detail, sizeof(detail), "\"%s\" must be printable ASCII", field->name);
            return decode_fail(decode, CLI_CODEC_ERROR_wrong_type, detail);
        }
    }
    memset(target + length, 0, field->size - (u32)length);
    return true;
}

/* The status whose name is `token`'s, or U32_MAX. Statuses are mostly written, but records
 * that carry one (a payment's reason) may come back as input, and must read like any field. */
static u32 field_status_index(const struct decode *decode, const struct cli_field *field,
                              const struct cli_json_token *token) {
    ASSERT(field->kind == CLI_FIELD_STATUS && field->status_name != NULL);
    ASSERT(token->type == CLI_JSON_STRING);
    for (u32 status = 0; field->status_name(status) != NULL; status++) {
        if (cli_json_string_equals(decode->line, token, field->status_name(status))) return status;
    }
    return U32_MAX;
}

/* A currency: three letters of the table, or an ISO 4217 number of the table. */
static bool decode_currency(struct decode *decode, const struct cli_field *field,
                            const struct cli_json_token *value, u128 *numeric) {
    ASSERT(field->kind == CLI_FIELD_CURRENCY && field->size == 4);
    ASSERT(value != NULL && numeric != NULL);
    char detail[160];
    const struct khorgos_currency *currency = NULL;
    if (value->type == CLI_JSON_STRING) {
        char letters[8];
        int length = cli_json_string_decode(decode->line, value, letters, sizeof(letters) - 1);
        if (length == 3) {
            letters[3] = '\0';
            currency = khorgos_currency_by_letters(letters);
        }
    } else if (value->type == CLI_JSON_NUMBER) {
        u128 number = 0;
        if (cli_json_read_integer(decode->line, value, U32_MAX, &number) == CLI_JSON_NUMBER_OK) {
            currency = khorgos_currency_by_numeric((u32)number);
        }
    } else {
        snprintf(detail, sizeof(detail),
                 "\"%s\" must be ISO 4217 letters such as \"KZT\" (or the number)", field->name);
        return decode_fail(decode, CLI_CODEC_ERROR_wrong_type, detail);
    }
    if (currency == NULL) {
        char text[LIMIT_JSON_NAME_BYTES_MAX];
        u32 shown = MIN(value->length, (u32)sizeof(text) - 1);
        memcpy(text, decode->line + value->start, shown);
        text[shown] = '\0';
        snprintf(detail, sizeof(detail), "%s in \"%s\"", text, field->name);
        return decode_fail(decode, CLI_CODEC_ERROR_unknown_currency, detail);
    }
    *numeric = currency->numeric;
    return true;
}

/* A string value's text into `out` (NUL-terminated); false when it is not a string or longer
 * than capacity - 1 bytes (`*is_string` tells which). */
static bool decode_string_text(const struct decode *decode, const struct cli_json_token *value,
                               char *out, u32 capacity, bool *is_string) {
    ASSERT(out != NULL && capacity > 1);
    *is_string = value->type == CLI_JSON_STRING;
    if (!*is_string) return false;
    int length = cli_json_string_decode(decode->line, value, out, capacity - 1);
    if (length < 0) return false;
    out[length] = '\0';
    return true;
}

/* A rate: a decimal string, stored as its mantissa (the field) and exponent (scale_offset). */
static bool decode_rate(struct decode *decode, const struct cli_field *field, u32 value_index,
                        u8 *record) {
    ASSERT(field->kind == CLI_FIELD_RATE && field->size == 8 && field->count == 1);
    ASSERT(field->scale_offset != CLI_OFFSET_NONE);
    char text[CLI_RATE_TEXT_BYTES_MAX + 1], detail[160];
    bool is_string = false;
    if (!decode_string_text(decode, &decode->tokens[value_index], text, sizeof(text),
                            &is_string)) {
        snprintf(detail, sizeof(detail), "\"%s\" must be a decimal string such as \"71.6532\"%s",
                 field->name, is_string ? ", not longer" : "");
        return decode_fail(decode, is_string ? CLI_CODEC_ERROR_rate_invalid
                                             : CLI_CODEC_ERROR_wrong_type, detail);
    }
    u64 mantissa = 0;
    int8_t exponent = 0;
    enum cli_decimal_status status =
        cli_decimal_rate_parse(text, (u32)strlen(text), &mantissa, &exponent);
    if (status != CLI_DECIMAL_OK) {
        snprintf(detail, sizeof(detail), "\"%s\" \"%.40s\"%s", field->name, text,
                 status == CLI_DECIMAL_TOO_PRECISE
                     ? ": at most 12 significant digits and 18 decimals"
                 : status == CLI_DECIMAL_TOO_LARGE ? ": below 10^30"
                                                   : "");
        return decode_fail(decode,
                           status == CLI_DECIMAL_INVALID       ? CLI_CODEC_ERROR_rate_invalid
                           : status == CLI_DECIMAL_NEGATIVE    ? CLI_CODEC_ERROR_rate_not_positive
                           : status == CLI_DECIMAL_TOO_PRECISE ? CLI_CODEC_ERROR_rate_too_precise
                                                               : CLI_CODEC_ERROR_out_of_range,
                           detail);
    }
    memcpy(record + field->offset, &mantissa, sizeof(mantissa));
    memcpy(record + field->scale_offset, &exponent, sizeof(exponent));
    return true;
}

/* The currency that scales an amount field of `record`: its own, else the fallback's; NULL
 * when none is set (0) or it is not in the table. */
static const struct khorgos_currency *amount_currency(const struct cli_field *field,
                                                      const u8 *record, u32 *numeric) {
    ASSERT(field->kind == CLI_FIELD_AMOUNT);
    ASSERT(field->scale_offset != CLI_OFFSET_NONE);
    memcpy(numeric, record + field->scale_offset, sizeof(*numeric));
    if (*numeric == 0 && field->scale_fallback_offset != CLI_OFFSET_NONE) {
        memcpy(numeric, record + field->scale_fallback_offset, sizeof(*numeric));
    }
    return *numeric == 0 ? NULL : khorgos_currency_by_numeric(*numeric);
}

static enum cli_codec_error_code amount_error_code(enum cli_decimal_status status) {
    ASSERT(status != CLI_DECIMAL_OK);
    ASSERT(status <= CLI_DECIMAL_TOO_LARGE);
    return status == CLI_DECIMAL_INVALID       ? CLI_CODEC_ERROR_amount_invalid
           : status == CLI_DECIMAL_NEGATIVE    ? CLI_CODEC_ERROR_amount_not_positive
           : status == CLI_DECIMAL_TOO_PRECISE ? CLI_CODEC_ERROR_amount_too_precise
                                               : CLI_CODEC_ERROR_out_of_range;
}

/* An amount, once its record's currencies are decoded: a decimal string in the major unit of
 * its currency ("none" where the field allows no limit). */
static bool decode_amount(struct decode *decode, const struct cli_field *field, u32 value_index,
                          u8 *record) {
    ASSERT(field->kind == CLI_FIELD_AMOUNT && field->size == 16 && field->count == 1);
    char text[CLI_AMOUNT_TEXT_BYTES_MAX + 1], detail[192];
    bool is_string = false;
    if (!decode_string_text(decode, &decode->tokens[value_index], text, sizeof(text),
                            &is_string)) {
        snprintf(detail, sizeof(detail), "\"%s\" must be a decimal string such as \"1250.50\"%s",
                 field->name, is_string ? ", not longer" : " (major units), not a JSON number");
        return decode_fail(decode, is_string ? CLI_CODEC_ERROR_amount_invalid
                                             : CLI_CODEC_ERROR_wrong_type, detail);
    }
    u128 amount = KHORGOS_AMOUNT_MAX;
    if ((field->rules & CLI_RULE_NONE_IS_MAX) && strcmp(text, "none") == 0) goto store;
    u32 numeric = 0;
    const struct khorgos_currency *currency = amount_currency(field, record, &numeric);
    /* Zero is zero in any scale: without a currency, read with the most decimals a currency
     * has, and refuse anything but zero. */
    enum cli_decimal_status status = cli_decimal_amount_parse(
        text, (u32)strlen(text), currency == NULL ? 18 : currency->minor_units, &amount);
    if (status == CLI_DECIMAL_OK && currency == NULL && amount != 0) {
        snprintf(detail, sizeof(detail), "\"%s\" \"%.48s\" needs its currency", field->name, text);
        return decode_fail(decode, CLI_CODEC_ERROR_missing_currency, detail);
    }
    if (status == CLI_DECIMAL_OK && amount == 0 && (field->rules & CLI_RULE_POSITIVE)) {
        status = CLI_DECIMAL_NEGATIVE;
    }
    if (status != CLI_DECIMAL_OK) {
        if (status == CLI_DECIMAL_TOO_PRECISE) {
            snprintf(detail, sizeof(detail), "\"%s\" \"%.48s\": %s has %u decimals", field->name,
                     text, currency != NULL ? currency->letters : "a currency",
                     currency != NULL ? currency->minor_units : 18u);
        } else {
            snprintf(detail, sizeof(detail), "\"%s\" \"%.48s\"", field->name, text);
        }
        return decode_fail(decode, amount_error_code(status), detail);
    }
store:
    memcpy(record + field->offset, &amount, sizeof(amount));
    return true;
}

/* One numeric value: an unsigned, flags, or an enum's or status's name (or its number). */
static bool decode_scalar(struct decode *decode, const struct cli_field *field, u32 value_index,
                          u8 *record, u32 element) {
    const struct cli_json_token *value = &decode->tokens[value_index];
    ASSERT(field->kind != CLI_FIELD_TEXT);
    u128 number = 0;
    if (field->kind == CLI_FIELD_FLAGS) {
        if (!decode_flags(decode, field, value_index, &number)) return false;
    } else if (field->kind == CLI_FIELD_CURRENCY) {
        if (!decode_currency(decode, field, value, &number)) return false;
    } else if (field->kind == CLI_FIELD_ENUM && value->type == CLI_JSON_STRING) {
        number = field_name_index(decode, field, value);
        if (number == field->name_count) {
            return decode_unknown_name(decode, field, value, CLI_CODEC_ERROR_unknown_name);
        }
    } else if (field->kind == CLI_FIELD_STATUS && value->type == CLI_JSON_STRING) {
        number = field_status_index(decode, field, value);
        if (number == U32_MAX || number > field_maximum(field)) {
            return decode_unknown_name(decode, field, value, CLI_CODEC_ERROR_unknown_name);
        }
    } else {
        enum cli_json_number_status status =
            field->kind == CLI_FIELD_UNSIGNED && field->size >= 8
                ? cli_json_read_unsigned(decode->line, value, field_maximum(field), &number)
                : cli_json_read_integer(decode->line, value, field_maximum(field), &number);
        if (status != CLI_JSON_NUMBER_OK) return decode_number_fail(decode, status, field);
    }
    field_store(field, record, element, number);
    return true;
}

static bool decode_field(struct decode *decode, const struct cli_field *field, u32 value_index,
                         u8 *record) {
    ASSERT(decode != NULL && field != NULL && record != NULL);
    ASSERT(field->count >= 1);
    ASSERT(field->kind != CLI_FIELD_AMOUNT); /* decode_record converts those last */
    if (field->kind == CLI_FIELD_TEXT) return decode_text(decode, field, value_index, record);
    if (field->kind == CLI_FIELD_RATE) return decode_rate(decode, field, value_index, record);
    if (field->count == 1) return decode_scalar(decode, field, value_index, record, 0);
    const struct cli_json_token *value = &decode->tokens[value_index];
    char detail[128];
    if (value->type != CLI_JSON_ARRAY) {
        snprintf(detail, sizeof(detail), "\"%s\" must be an array", field->name);
        return decode_fail(decode, CLI_CODEC_ERROR_wrong_type, detail);
    }
    if (value->children > field->count) {
        snprintf(detail, sizeof(detail), "\"%s\" holds at most %u values", field->name,
                 field->count);
        return decode_fail(decode, CLI_CODEC_ERROR_out_of_range, detail);
    }
    u32 element = 0;
    for (u32 index = value_index + 1; index < value->end; index = decode->tokens[index].end) {
        if (!decode_scalar(decode, field, index, record, element++)) return false;
    }
    return true;
}

/* The amount fields of one object, kept until its currencies are decoded. */
struct decode_amounts {
    u32 count;
    u32 field_index[CLI_RECORD_AMOUNTS_MAX];
    u32 value_index[CLI_RECORD_AMOUNTS_MAX];
};

/* Once every other field of the object is decoded: absent enums take their absent value, and
 * the amounts are read in the scale of the currencies now known. */
static bool decode_record_finish(struct decode *decode, const struct cli_record *record, u8 *out,
                                 u64 seen, const struct decode_amounts *amounts) {
    ASSERT(amounts->count <= CLI_RECORD_AMOUNTS_MAX);
    ASSERT(record->field_count <= 64);
    for (u32 index = 0; index < record->field_count; index++) {
        const struct cli_field *field = &record->fields[index];
        if (field->kind == CLI_FIELD_ENUM && field->absent_value != 0 && !((seen >> index) & 1u)) {
            field_store(field, out, 0, field->absent_value);
        }
    }
    for (u32 index = 0; index < amounts->count; index++) {
        const struct cli_field *field = &record->fields[amounts->field_index[index]];
        if (!decode_amount(decode, field, amounts->value_index[index], out)) return false;
    }
    return true;
}

/* Decodes the object at `object_index` into `record` (zeroed by the caller), skipping the key
 * `skip_key` (the "op" of an inline request). */
static bool decode_record(struct decode *decode, u32 object_index, const struct cli_record *record,
                          u8 *out, const char *skip_key) {
    ASSERT(out != NULL);
    const struct cli_json_token *object = &decode->tokens[object_index];
    ASSERT(record->field_count <= 64);
    char detail[128];
    if (object->type != CLI_JSON_OBJECT) {
        snprintf(detail, sizeof(detail), "a %s is a JSON object", record->name);
        return decode_fail(decode, CLI_CODEC_ERROR_wrong_type, detail);
    }
    u64 seen = 0;
    struct decode_amounts amounts = {.count = 0};
    for (u32 key_index = object_index + 1; key_index < object->end;) {
        const struct cli_json_token *key = &decode->tokens[key_index];
        u32 value_index = key->end;
        ASSERT(key->type == CLI_JSON_STRING && value_index < object->end);
        u32 next_key_index = decode->tokens[value_index].end;
        if (skip_key == NULL || !cli_json_string_equals(decode->line, key, skip_key)) {
            u32 field_index = 0;
            while (field_index < record->field_count &&
                   !cli_json_string_equals(decode->line, key, record->fields[field_index].name)) {
                field_index++;
            }
            char name[LIMIT_JSON_NAME_BYTES_MAX];
            if (field_index == record->field_count || (seen >> field_index) & 1u) {
                decode_key_text(decode, key, name, sizeof(name));
                snprintf(detail, sizeof(detail), "\"%s\"", name);
                return decode_fail(decode, field_index == record->field_count
                                               ? CLI_CODEC_ERROR_unknown_field
                                               : CLI_CODEC_ERROR_duplicate_field,
                                   detail);
            }
            seen |= (u64)1 << field_index;
            if (record->fields[field_index].kind == CLI_FIELD_AMOUNT) {
                ASSERT(amounts.count < CLI_RECORD_AMOUNTS_MAX);
                amounts.field_index[amounts.count] = field_index;
                amounts.value_index[amounts.count++] = value_index;
            } else if (!decode_field(decode, &record->fields[field_index], value_index, out)) {
                return false;
            }
        }
        key_index = next_key_index;
    }
    return decode_record_finish(decode, record, out, seen, &amounts);
}

/* The array of events or ids at `array_index`: checks its count and the body's room. */
static enum cli_codec_decode_status decode_array(struct decode *decode, u32 array_index,
                                                 const struct cli_operation *operation, u8 *body,
                                                 u32 body_capacity,
                                                 struct cli_codec_request *request) {
    const struct cli_json_token *array = &decode->tokens[array_index];
    const struct cli_record *record = operation->body;
    char detail[128];
    if (array->type != CLI_JSON_ARRAY) {
        snprintf(detail, sizeof(detail), "\"%s\" must be an array", operation->body_key);
        decode_fail(decode, CLI_CODEC_ERROR_wrong_type, detail);
        return CLI_CODEC_REFUSED;
    }
    /* The engine's own limit (it checks it too), so the message can say it; an operation of
     * the front end's own takes a batch. */
    u32 events_max = khorgos_events_max(operation->operation);
    if (events_max == 0) events_max = LIMIT_BATCH_EVENTS_MAX;
    if (array->children > events_max) {
        snprintf(detail, sizeof(detail), "%u in \"%s\", at most %u", array->children,
                 operation->body_key, events_max);
        decode_fail(decode, CLI_CODEC_ERROR_too_many_events, detail);
        return CLI_CODEC_REFUSED;
    }
    u32 body_size = array->children * record->size;
    if (body_size > body_capacity) return CLI_CODEC_BODY_FULL;
    memset(body, 0, body_size);
    decode->where_key = operation->body_key;
    decode->where_indexed = true;
    decode->where_index = 0;
    for (u32 index = array_index + 1; index < array->end; index = decode->tokens[index].end) {
        u8 *out = body + (size_t)decode->where_index * record->size;
        bool decoded = operation->body_shape == CLI_BODY_IDS
                           ? decode_field(decode, &record->fields[0], index, out)
                           : decode_record(decode, index, record, out, NULL);
        if (!decoded) return CLI_CODEC_REFUSED;
        decode->where_index++;
    }
    ASSERT(decode->where_index == array->children);
    request->body_size = body_size;
    request->event_count = array->children;
    return CLI_CODEC_DECODED;
}

/* Finds "op" among the root's keys; fills request->operation or the error. */
static bool decode_operation(struct decode *decode, struct cli_codec_request *request) {
    ASSERT(decode->tokens[0].type == CLI_JSON_OBJECT);
    ASSERT(request->operation == NULL);
    const struct cli_json_token *root = &decode->tokens[0];
    u32 op_index = 0;
    for (u32 key_index = 1; key_index < root->end;
         key_index = decode->tokens[decode->tokens[key_index].end].end) {
        if (!cli_json_string_equals(decode->line, &decode->tokens[key_index], "op")) continue;
        if (op_index != 0) return decode_fail(decode, CLI_CODEC_ERROR_duplicate_field, "\"op\"");
        op_index = decode->tokens[key_index].end;
    }
    if (op_index == 0) return decode_fail(decode, CLI_CODEC_ERROR_missing_op, "");
    const struct cli_json_token *op = &decode->tokens[op_index];
    if (op->type != CLI_JSON_STRING) {
        return decode_fail(decode, CLI_CODEC_ERROR_wrong_type, "\"op\" must be a string");
    }
    struct cli_codec_error *error = decode->error;
    int length = cli_json_string_decode(decode->line, op, error->op, sizeof(error->op));
    error->op_length = length < 0 ? 0 : (u32)length;
    request->operation = length < 0 ? NULL : cli_operation_find(error->op, (u32)length);
    if (request->operation == NULL) {
        char detail[LIMIT_JSON_NAME_BYTES_MAX + 8];
        decode_key_text(decode, op, detail + 1, sizeof(detail) - 2);
        detail[0] = '"';
        strcat(detail, "\"");
        return decode_fail(decode, CLI_CODEC_ERROR_unknown_op, detail);
    }
    return true;
}

/* The body of a request whose operation is known: its one key, or its inline fields. */
static enum cli_codec_decode_status decode_body(struct decode *decode, u8 *body, u32 body_capacity,
                                                struct cli_codec_request *request) {
    ASSERT(request->operation != NULL && request->operation->body != NULL);
    ASSERT(decode->tokens[0].type == CLI_JSON_OBJECT);
    const struct cli_operation *operation = request->operation;
    const struct cli_record *record = operation->body;
    if (operation->body_shape == CLI_BODY_INLINE) {
        if (record->size > body_capacity) return CLI_CODEC_BODY_FULL;
        memset(body, 0, record->size);
        if (!decode_record(decode, 0, record, body, "op")) return CLI_CODEC_REFUSED;
        request->body_size = record->size;
        request->event_count = 1;
        return CLI_CODEC_DECODED;
    }
    const struct cli_json_token *root = &decode->tokens[0];
    u32 body_index = 0;
    for (u32 key_index = 1; key_index < root->end;) {
        const struct cli_json_token *key = &decode->tokens[key_index];
        u32 next_key_index = decode->tokens[key->end].end;
        if (!cli_json_string_equals(decode->line, key, "op")) {
            char name[LIMIT_JSON_NAME_BYTES_MAX], detail[128];
            bool known = cli_json_string_equals(decode->line, key, operation->body_key);
            if (!known || body_index != 0) {
                decode_key_text(decode, key, name, sizeof(name));
                snprintf(detail, sizeof(detail), "\"%s\"", name);
                decode_fail(decode, known ? CLI_CODEC_ERROR_duplicate_field
                                          : CLI_CODEC_ERROR_unknown_field, detail);
                return CLI_CODEC_REFUSED;
            }
            body_index = key->end;
        }
        key_index = next_key_index;
    }
    if (operation->body_shape != CLI_BODY_FILTER) {
        if (body_index != 0) {
            return decode_array(decode, body_index, operation, body, body_capacity, request);
        }
        request->body_size = 0; /* a missing "events" or "ids" is an empty one */
        request->event_count = 0;
        return CLI_CODEC_DECODED;
    }
    if (record->size > body_capacity) return CLI_CODEC_BODY_FULL;
    memset(body, 0, record->size);
    decode->where_key = operation->body_key;
    if (body_index != 0 && !decode_record(decode, body_index, record, body, NULL)) {
        return CLI_CODEC_REFUSED;
    }
    request->body_size = record->size;
    request->event_count = 1;
    return CLI_CODEC_DECODED;
}

static enum cli_codec_decode_status decode_parse_fail(struct decode *decode,
                                                      const struct cli_json_reader *reader,
                                                      enum cli_json_status status) {
    ASSERT(status != CLI_JSON_OK);
    ASSERT(reader->error_reason != NULL);
    char detail[128];
    snprintf(detail, sizeof(detail), "%s at byte %u", reader->error_reason,
             reader->error_offset + 1);
    enum cli_codec_error_code code = status == CLI_JSON_TOO_DEEP ? CLI_CODEC_ERROR_too_deep
                                     : status == CLI_JSON_TOO_MANY_VALUES
                                         ? CLI_CODEC_ERROR_too_many_values
                                         : CLI_CODEC_ERROR_invalid_json;
    decode_fail(decode, code, detail);
    return CLI_CODEC_REFUSED;
}

enum cli_codec_decode_status cli_codec_record_decode(struct cli_json_reader *reader,
                                                     const char *line, u32 length,
                                                     const struct cli_record *record, void *out,
                                                     struct cli_codec_error *error) {
    ASSERT(reader != NULL && record != NULL && out != NULL && error != NULL);
    ASSERT(line != NULL || length == 0);
    memset(error, 0, sizeof(*error));
    struct decode decode = {line, reader->tokens, error, NULL, 0, false};
    enum cli_json_status parsed = cli_json_parse(reader, line, length);
    if (parsed != CLI_JSON_OK) return decode_parse_fail(&decode, reader, parsed);
    memset(out, 0, record->size);
    if (!decode_record(&decode, 0, record, out, NULL)) return CLI_CODEC_REFUSED;
    return CLI_CODEC_DECODED;
}

enum cli_codec_decode_status cli_codec_request_decode(struct cli_json_reader *reader,
                                                      const char *line, u32 length, void *body,
                                                      u32 body_capacity,
                                                      struct cli_codec_request *request,
                                                      struct cli_codec_error *error) {
    ASSERT(reader != NULL && request != NULL && error != NULL);
    ASSERT(line != NULL || length == 0);
    ASSERT(body != NULL || body_capacity == 0);
    memset(request, 0, sizeof(*request));
    error->code = CLI_CODEC_ERROR_COUNT;
    error->message[0] = '\0';
    error->op_length = 0;
    struct decode decode = {line, reader->tokens, error, NULL, 0, false};
    if (length > LIMIT_JSON_LINE_BYTES_MAX) {
        decode_fail(&decode, CLI_CODEC_ERROR_line_too_long, "");
        return CLI_CODEC_REFUSED;
    }
    enum cli_json_status parsed = cli_json_parse(reader, line, length);
    if (parsed != CLI_JSON_OK) return decode_parse_fail(&decode, reader, parsed);
    if (reader->tokens[0].type != CLI_JSON_OBJECT) {
        decode_fail(&decode, CLI_CODEC_ERROR_not_an_object, "");
        return CLI_CODEC_REFUSED;
    }
    if (!decode_operation(&decode, request)) return CLI_CODEC_REFUSED;
    enum cli_codec_decode_status status = decode_body(&decode, body, body_capacity, request);
    ASSERT(status != CLI_CODEC_DECODED || request->body_size <= body_capacity);
    ASSERT(status != CLI_CODEC_REFUSED || error->code < CLI_CODEC_ERROR_COUNT);
    return status;
}

/* ----------------------------------------------------------------------------------------- */
/* Encoding.                                                                                  */

static void encode_flags(struct cli_json_writer *writer, const struct cli_field *field,
                         u128 bits) {
    ASSERT(field->kind == CLI_FIELD_FLAGS);
    ASSERT(field->name_count < 32);
    if ((bits >> field->name_count) != 0) {
        cli_json_integer(writer, (u64)bits); /* bits without names: keep them visible */
        return;
    }
    cli_json_array_begin(writer);
    for (u32 bit = 0; bit < field->name_count; bit++) {
        if ((bits >> bit) & 1u) cli_json_string_literal(writer, field->names[bit]);
    }
    cli_json_array_end(writer);
}

/* One numeric value of a field, as its kind is written. */
static void encode_scalar(struct cli_json_writer *writer, const struct cli_field *field,
                          u128 value) {
    ASSERT(field->kind != CLI_FIELD_TEXT);
    ASSERT(value <= field_maximum(field));
    const char *name = NULL;
    if (field->kind == CLI_FIELD_FLAGS) {
        encode_flags(writer, field, value);
        return;
    }
    if (field->kind == CLI_FIELD_STATUS) name = field->status_name((u32)value);
    if (field->kind == CLI_FIELD_CURRENCY) {
        const struct khorgos_currency *currency = khorgos_currency_by_numeric((u32)value);
        if (currency != NULL) name = currency->letters; /* else its number, as it is */
    }
    if (field->kind == CLI_FIELD_ENUM && value < field->name_count) name = field->names[value];
    if (name != NULL) {
        cli_json_string_literal(writer, name);
    } else if (field->kind == CLI_FIELD_UNSIGNED && field->size >= 8) {
        cli_json_decimal_string(writer, value);
    } else {
        cli_json_integer(writer, (u64)value); /* small integers, and values without a name */
    }
}

/* An amount in its currency's major unit; without a known currency (a record from outside
 * the JSON front end), in minor units. */
static void encode_amount(struct cli_json_writer *writer, const struct cli_field *field,
                          const u8 *record) {
    ASSERT(field->kind == CLI_FIELD_AMOUNT && field->count == 1);
    u128 amount = field_load(field, record, 0);
    if ((field->rules & CLI_RULE_NONE_IS_MAX) && amount == KHORGOS_AMOUNT_MAX) {
        cli_json_string_literal(writer, "none");
        return;
    }
    u32 numeric = 0;
    const struct khorgos_currency *currency = amount_currency(field, record, &numeric);
    char text[LIMIT_U128_DECIMAL_DIGITS_MAX + 24];
    size_t length = khorgos_amount_format(amount, currency == NULL ? 0 : currency->minor_units,
                                          text, sizeof(text));
    ASSERT(length > 0);
    cli_json_string(writer, text, (u32)length);
}

static void encode_rate(struct cli_json_writer *writer, const struct cli_field *field,
                        const u8 *record) {
    ASSERT(field->kind == CLI_FIELD_RATE && field->size == 8);
    ASSERT(field->scale_offset != CLI_OFFSET_NONE);
    u64 mantissa = 0;
    int8_t exponent = 0;
    memcpy(&mantissa, record + field->offset, sizeof(mantissa));
    memcpy(&exponent, record + field->scale_offset, sizeof(exponent));
    char text[CLI_DECIMAL_RATE_TEXT_BYTES];
    u32 length = cli_decimal_rate_format(mantissa, exponent, text, sizeof(text));
    ASSERT(length > 0);
    cli_json_string(writer, text, length);
}

/* Whether the encoder leaves the field out: a zero that means "not given" (a positive-only
 * amount or rate, a currency that is none), so that what it writes reads back the same. */
static bool field_left_out(const struct cli_field *field, const u8 *record) {
    ASSERT(field != NULL && record != NULL);
    if (field->input_only) return true;
    if (field->count != 1) return false;
    if (field->kind == CLI_FIELD_CURRENCY) return field_load(field, record, 0) == 0;
    if (field->kind == CLI_FIELD_AMOUNT || field->kind == CLI_FIELD_RATE) {
        return (field->rules & CLI_RULE_POSITIVE) && field_load(field, record, 0) == 0;
    }
    return false;
}

static void encode_field(struct cli_json_writer *writer, const struct cli_field *field,
                         const u8 *record) {
    ASSERT(field->count >= 1);
    ASSERT(!field->input_only);
    if (field->kind == CLI_FIELD_AMOUNT) {
        encode_amount(writer, field, record);
        return;
    }
    if (field->kind == CLI_FIELD_RATE) {
        encode_rate(writer, field, record);
        return;
    }
    if (field->kind == CLI_FIELD_TEXT) {
        const char *text = (const char *)record + field->offset;
        const char *end = memchr(text, '\0', field->size);
        cli_json_string(writer, text, end == NULL ? field->size : (u32)(end - text));
        return;
    }
    if (field->count == 1) {
        encode_scalar(writer, field, field_load(field, record, 0));
        return;
    }
    u32 used = field->count; /* trailing zeros are unused entries: left out */
    while (used > 0 && field_load(field, record, used - 1) == 0) used--;
    cli_json_array_begin(writer);
    for (u32 element = 0; element < used; element++) {
        encode_scalar(writer, field, field_load(field, record, element));
    }
    cli_json_array_end(writer);
}

void cli_codec_record_encode(struct cli_json_writer *writer, const struct cli_record *record,
                             const void *bytes) {
    ASSERT(writer != NULL && record != NULL);
    ASSERT(bytes != NULL);
    cli_json_object_begin(writer);
    for (u32 index = 0; index < record->field_count; index++) {
        const struct cli_field *field = &record->fields[index];
        if (field_left_out(field, bytes)) continue;
        cli_json_key(writer, field->name);
        encode_field(writer, field, bytes);
    }
    cli_json_object_end(writer);
}

/* The longest text one value of a field may take. */
static u32 scalar_text_bytes_max(const struct cli_field *field) {
    ASSERT(field != NULL);
    /* A u128 of 39 digits with a point, or "0." and 18 decimals, quoted; "none" is shorter. */
    if (field->kind == CLI_FIELD_AMOUNT) return LIMIT_U128_DECIMAL_DIGITS_MAX + 1 + 18 + 2;
    if (field->kind == CLI_FIELD_RATE) return CLI_DECIMAL_RATE_TEXT_BYTES + 2;
    if (field->kind == CLI_FIELD_CURRENCY) return 10; /* a u32 number; letters take 5 */
    ASSERT(field->kind == CLI_FIELD_UNSIGNED || field->names != NULL ||
           field->status_name != NULL);
    u32 number = field->size == 1 ? 3 : field->size == 2 ? 5 : field->size == 4 ? 10
               : field->size == 8 ? 22 : 41;
    if (field->kind == CLI_FIELD_FLAGS) {
        u32 names = 2; /* [] */
        for (u32 bit = 0; bit < field->name_count; bit++) {
            names += (u32)strlen(field->names[bit]) + 3; /* quotes and a comma */
        }
        return MAX(names, number);
    }
    u32 longest = number;
    if (field->kind == CLI_FIELD_ENUM) {
        for (u32 index = 0; index < field->name_count; index++) {
            if (field->names[index] != NULL) {
                longest = MAX(longest, (u32)strlen(field->names[index]) + 2);
            }
        }
    }
    if (field->kind == CLI_FIELD_STATUS) {
        for (u32 status = 0; field->status_name(status) != NULL; status++) {
            longest = MAX(longest, (u32)strlen(field->status_name(status)) + 2);
        }
    }
    return longest;
}

static u32 field_text_bytes_max(const struct cli_field *field) {
    ASSERT(field != NULL);
    ASSERT(field->count >= 1);
    if (field->kind == CLI_FIELD_TEXT) return CLI_JSON_STRING_BYTES_MAX(field->size);
    if (field->count == 1) return scalar_text_bytes_max(field);
    return 2 + field->count * (scalar_text_bytes_max(field) + 1); /* [a,b,...] */
}

static u32 record_text_bytes_max(const struct cli_record *record) {
    u32 bytes = 2; /* {} */
    for (u32 index = 0; index < record->field_count; index++) {
        const struct cli_field *field = &record->fields[index];
        if (field->input_only) continue;
        bytes += (u32)strlen(field->name) + 4 + field_text_bytes_max(field); /* "":, */
    }
    ASSERT(bytes > 2);
    return bytes;
}

u32 cli_codec_reply_bytes_max(const struct cli_operation *operation, u32 record_count) {
    ASSERT(operation != NULL);
    ASSERT(record_count <= LIMIT_BATCH_EVENTS_MAX);
    u32 header = 64 + (u32)strlen(operation->name);
    if (operation->reply == NULL) return header + 64;
    header += (u32)strlen(operation->reply_key);
    return header + record_count * (record_text_bytes_max(operation->reply) + 1);
}

static bool encode_line_end(struct cli_json_writer *writer) {
    ASSERT(writer != NULL);
    ASSERT(writer->length > 0 || writer->overflow);
    cli_json_object_end(writer);
    cli_json_raw(writer, "\n", 1);
    writer->comma = false;
    return !writer->overflow;
}

bool cli_codec_reply_encode(struct cli_json_writer *writer, const struct cli_operation *operation,
                            const void *reply, u32 reply_size) {
    ASSERT(writer != NULL && operation != NULL && operation->reply != NULL);
    ASSERT(reply_size % operation->reply->size == 0);
    ASSERT(reply != NULL || reply_size == 0);
    u32 count = reply_size / operation->reply->size;
    writer->comma = false;
    cli_json_object_begin(writer);
    cli_json_key(writer, "op");
    cli_json_string_literal(writer, operation->name);
    cli_json_key(writer, operation->reply_key);
    cli_json_array_begin(writer);
    for (u32 index = 0; index < count; index++) {
        cli_codec_record_encode(writer, operation->reply,
                                (const u8 *)reply + (size_t)index * operation->reply->size);
    }
    cli_json_array_end(writer);
    return encode_line_end(writer);
}

bool cli_codec_clock_reply_encode(struct cli_json_writer *writer, u64 now_ns) {
    ASSERT(writer != NULL);
    ASSERT(now_ns > 0);
    writer->comma = false;
    cli_json_object_begin(writer);
    cli_json_key(writer, "op");
    cli_json_string_literal(writer, "advance_clock");
    cli_json_key(writer, "now");
    cli_json_decimal_string(writer, now_ns);
    return encode_line_end(writer);
}

bool cli_codec_error_encode(struct cli_json_writer *writer, const char *op, u32 op_length,
                            const char *code, const char *message, u64 line_number) {
    ASSERT(writer != NULL && code != NULL && message != NULL);
    ASSERT(op != NULL || op_length == 0);
    writer->comma = false;
    cli_json_object_begin(writer);
    if (op_length > 0) {
        cli_json_key(writer, "op");
        cli_json_string(writer, op, MIN(op_length, LIMIT_JSON_NAME_BYTES_MAX));
    }
    cli_json_key(writer, "error");
    cli_json_object_begin(writer);
    cli_json_key(writer, "code");
    cli_json_string_literal(writer, code);
    cli_json_key(writer, "message");
    cli_json_string(writer, message, (u32)MIN(strlen(message), 240u));
    cli_json_object_end(writer);
    cli_json_key(writer, "line");
    cli_json_integer(writer, line_number);
    return encode_line_end(writer);
}
