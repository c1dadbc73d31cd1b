/* base_u128.c: exact decimal text for unsigned 128-bit integers. */
#include "base/base.h"

size_t base_u128_format(u128 value, char *out) {
    ASSERT(out != NULL);
    char digits[LIMIT_U128_DECIMAL_DIGITS_MAX];
    size_t count = 0;
    do {
        ASSERT(count < sizeof(digits));
        digits[count++] = (char)('0' + (int)(value % 10));
        value /= 10;
    } while (value != 0);
    for (size_t index = 0; index < count; index++) out[index] = digits[count - 1 - index];
    out[count] = '\0';
    ASSERT(count >= 1 && count <= LIMIT_U128_DECIMAL_DIGITS_MAX);
    return count;
}

int base_u128_parse(const char *text, size_t length, u128 *value) {
    ASSERT(text != NULL || length == 0);
    ASSERT(value != NULL);
    if (length == 0) return -1;
    u128 result = 0;
    for (size_t index = 0; index < length; index++) {
        char character = text[index];
        if (character < '0' || character > '9') return -1;
        u128 digit = (u128)(character - '0');
        /* result * 10 + digit <= U128_MAX, checked without overflowing. */
        if (result > (U128_MAX - digit) / 10) return -1;
        result = result * 10 + digit;
    }
    *value = result;
    return 0;
}
