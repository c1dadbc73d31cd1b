/* ledger_currency.c: ISO 4217 currencies (a ledger number is the numeric code) and exact
 * decimal amounts in major units. The table lists the currencies of the region and the
 * world's main ones; a ledger outside it still works and shows amounts in minor units. */
#include "ledger/ledger.h"

static const struct khorgos_currency currency_table[] = {
    {156, "CNY", 2}, {398, "KZT", 2}, {417, "KGS", 2}, {860, "UZS", 2}, {972, "TJS", 2},
    {934, "TMT", 2}, {643, "RUB", 2}, {840, "USD", 2}, {978, "EUR", 2}, {826, "GBP", 2},
    {392, "JPY", 0}, {756, "CHF", 2}, {344, "HKD", 2}, {702, "SGD", 2}, {410, "KRW", 0},
    {356, "INR", 2}, {949, "TRY", 2}, {944, "AZN", 2}, {981, "GEL", 2}, {51, "AMD", 2},
    {933, "BYN", 2}, {496, "MNT", 2}, {971, "AFN", 2}, {364, "IRR", 2}, {586, "PKR", 2},
    {784, "AED", 2}, {682, "SAR", 2}, {48, "BHD", 3}, {414, "KWD", 3}, {512, "OMR", 3},
};

const struct khorgos_currency *khorgos_currency_by_numeric(uint32_t numeric) {
    for (u32 index = 0; index < ARRAY_COUNT(currency_table); index++) {
        if (currency_table[index].numeric == numeric) return &currency_table[index];
    }
    return NULL;
}

const struct khorgos_currency *khorgos_currency_by_letters(const char *letters) {
    if (letters == NULL) return NULL;
    for (u32 index = 0; index < ARRAY_COUNT(currency_table); index++) {
        if (strcmp(currency_table[index].letters, letters) == 0) return &currency_table[index];
    }
    return NULL;
}

size_t khorgos_amount_format(khorgos_u128 amount, uint8_t minor_units, char *out,
                             size_t capacity) {
    ASSERT(out != NULL);
    ASSERT(minor_units <= 18);
    char digits[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
    size_t digit_count = base_u128_format(amount, digits);
    /* Pad with leading zeros so there is at least one digit before the point. */
    size_t integer_count = digit_count > minor_units ? digit_count - minor_units : 1;
    size_t padded_count = integer_count + minor_units;
    size_t length = padded_count + (minor_units > 0 ? 1 : 0);
    if (length + 1 > capacity) return 0;
    size_t pad = padded_count - digit_count;
    size_t position = 0;
    for (size_t index = 0; index < padded_count; index++) {
        if (index == integer_count) out[position++] = '.';
        out[position++] = index < pad ? '0' : digits[index - pad];
    }
    out[position] = '\0';
    ASSERT(position == length);
    return length;
}

int khorgos_amount_parse(const char *text, size_t length, uint8_t minor_units,
                         khorgos_u128 *amount) {
    ASSERT(text != NULL || length == 0);
    ASSERT(amount != NULL);
    size_t point = length;
    for (size_t index = 0; index < length; index++) {
        if (text[index] == '.') {
            point = index;
            break;
        }
    }
    size_t fraction_count = point < length ? length - point - 1 : 0;
    if (point == 0 || fraction_count > minor_units) return -1;
    if (point < length && fraction_count == 0) return -1; /* "12." is not an amount */
    char digits[LIMIT_U128_DECIMAL_DIGITS_MAX + 20];
    size_t digit_count = point + minor_units;
    if (digit_count > sizeof(digits)) return -1;
    memcpy(digits, text, point);
    for (size_t index = 0; index < minor_units; index++) {
        digits[point + index] = index < fraction_count ? text[point + 1 + index] : '0';
    }
    return base_u128_parse(digits, digit_count, amount);
}
