/* cli_codec_decimal.c: amount and rate texts, exactly (see cli_codec_decimal.h for the grammar
 * and the numbered rules). Amounts are converted by khorgos_amount_parse (the currency table's
 * own conversion), after this file has classified what is wrong with a text, so that every
 * refusal names its cause. */
#include "cli/cli_codec_decimal.h"
#include "cli/cli_codec.h"

/* Whether text[0..length) is DIGITS [ "." DIGITS ]; *point is the point's index, or length. */
static bool decimal_syntax(const char *text, u32 length, u32 *point) {
    ASSERT(text != NULL || length == 0);
    ASSERT(point != NULL);
    *point = length;
    for (u32 index = 0; index < length; index++) {
        if (text[index] == '.' && *point == length) {
            *point = index;
        } else if (text[index] < '0' || text[index] > '9') {
            return false;
        }
    }
    return *point > 0 && (*point == length || *point + 1 < length); /* rule 1 */
}

enum cli_decimal_status cli_decimal_amount_parse(const char *text, u32 length, u8 minor_units,
                                                 u128 *amount) {
    ASSERT(text != NULL || length == 0);
    ASSERT(amount != NULL && minor_units <= 18);
    bool negative = length > 0 && text[0] == '-';
    if (negative) {
        text++;
        length--;
    }
    u32 point = 0;
    if (!decimal_syntax(text, length, &point)) return CLI_DECIMAL_INVALID;
    if (negative) return CLI_DECIMAL_NEGATIVE;
    u32 fraction_count = point < length ? length - point - 1 : 0;
    if (fraction_count > minor_units) return CLI_DECIMAL_TOO_PRECISE; /* rule 2 */
    u32 first = 0; /* leading zeros go, so that "000...01" reads like "1" */
    while (first + 1 < point && text[first] == '0') first++;
    if (point - first > LIMIT_U128_DECIMAL_DIGITS_MAX) return CLI_DECIMAL_TOO_LARGE;
    u128 value = 0;
    if (khorgos_amount_parse(text + first, length - first, minor_units, &value) != 0) {
        return CLI_DECIMAL_TOO_LARGE; /* rule 3: the syntax and decimals were checked above */
    }
    *amount = value;
    return CLI_DECIMAL_OK;
}

enum cli_decimal_status cli_decimal_rate_parse(const char *text, u32 length, u64 *mantissa,
                                               int8_t *exponent) {
    ASSERT(text != NULL || length == 0);
    ASSERT(mantissa != NULL && exponent != NULL);
    bool negative = length > 0 && text[0] == '-';
    if (negative) {
        text++;
        length--;
    }
    u32 point = 0;
    if (!decimal_syntax(text, length, &point)) return CLI_DECIMAL_INVALID;
    if (negative) return CLI_DECIMAL_NEGATIVE;
    /* The digits without the point; the significant ones are [first, last]. */
    u32 first = 0;
    while (first < length && (text[first] == '0' || text[first] == '.')) first++;
    if (first == length) return CLI_DECIMAL_NEGATIVE; /* rule 6: zero is not positive */
    u32 last = length - 1;
    while (text[last] == '0' || text[last] == '.') last--;
    ASSERT(first <= last);
    u32 digit_count = last - first + 1 - (first < point && point < last ? 1u : 0u);
    if (digit_count > CLI_RATE_DIGITS_MAX) return CLI_DECIMAL_TOO_PRECISE; /* rule 5 */
    /* The last significant digit's power of ten: 10^0 is the digit just before the point. */
    i64 power = last < point ? (i64)point - 1 - last : -(i64)(last - point);
    if (power < CLI_RATE_EXPONENT_MIN) return CLI_DECIMAL_TOO_PRECISE;
    u64 value = 0;
    for (u32 index = first; index <= last; index++) {
        if (text[index] != '.') value = value * 10 + (u64)(text[index] - '0');
    }
    /* Rule 4: an exponent above 18 moves its zeros back into the mantissa, while they fit. */
    for (; power > CLI_RATE_EXPONENT_MAX; power--) {
        if (value > CLI_RATE_MANTISSA_MAX / 10) return CLI_DECIMAL_TOO_LARGE;
        value *= 10;
    }
    ASSERT(value >= 1 && value <= CLI_RATE_MANTISSA_MAX);
    *mantissa = value;
    *exponent = (int8_t)power;
    return CLI_DECIMAL_OK;
}

u32 cli_decimal_rate_format(u64 mantissa, int8_t exponent, char *out, u32 capacity) {
    ASSERT(out != NULL);
    ASSERT(capacity > 0);
    char digits[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
    u32 digit_count = (u32)base_u128_format(mantissa, digits);
    ASSERT(digit_count >= 1 && digit_count <= 20);
    u32 length = 0;
    if (mantissa == 0 || exponent >= 0) {
        u32 zero_count = mantissa == 0 ? 0 : (u32)exponent;
        if (digit_count + zero_count + 1 > capacity) return 0;
        memcpy(out, digits, digit_count);
        memset(out + digit_count, '0', zero_count);
        length = digit_count + zero_count;
    } else {
        u32 decimals = (u32)(-(i64)exponent);
        u32 integer_count = digit_count > decimals ? digit_count - decimals : 0;
        u32 lead_zero_count = digit_count > decimals ? 0 : decimals - digit_count;
        if (digit_count + lead_zero_count + 3 > capacity) return 0;
        if (integer_count == 0) out[length++] = '0';
        memcpy(out + length, digits, integer_count);
        length += integer_count;
        out[length++] = '.';
        memset(out + length, '0', lead_zero_count);
        length += lead_zero_count;
        memcpy(out + length, digits + integer_count, digit_count - integer_count);
        length += digit_count - integer_count;
        while (out[length - 1] == '0') length--; /* the shortest exact text */
        if (out[length - 1] == '.') length--;
    }
    out[length] = '\0';
    ASSERT(length < capacity);
    return length;
}
