/* iso20022_check.c: the patterns and tables a message's values are checked against: BICFI
 * (ISO 9362), IBAN (ISO 13616, mod 97), UETR (a UUID version 4 in lower case, as SWIFT gpi
 * writes it), ISO 4217's active codes with their minor units, ISO 20022 decimals and dates. */
#include "iso20022/iso20022_private.h"

static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_upper_or_digit(char c) { return is_upper(c) || is_digit(c); }
static bool is_hex_lower(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

bool iso20022_bic_valid(const char *text, size_t length) {
    ASSERT(text != NULL);
    if (length != 8 && length != 11) return false;
    for (size_t index = 0; index < length; index++) {
        bool letters_only = index == 4 || index == 5;
        if (letters_only ? !is_upper(text[index]) : !is_upper_or_digit(text[index])) {
            return false;
        }
    }
    ASSERT(length == 8 || length == 11);
    return true;
}

bool iso20022_iban_pattern_valid(const char *text, size_t length) {
    ASSERT(text != NULL);
    if (length < 5 || length > 34) return false;
    if (!is_upper(text[0]) || !is_upper(text[1])) return false;
    if (!is_digit(text[2]) || !is_digit(text[3])) return false;
    for (size_t index = 4; index < length; index++) {
        char c = text[index];
        if (!is_upper_or_digit(c) && !(c >= 'a' && c <= 'z')) return false;
    }
    ASSERT(length <= 34);
    return true;
}

bool iso20022_iban_check_digits_valid(const char *text, size_t length) {
    ASSERT(text != NULL);
    ASSERT(iso20022_iban_pattern_valid(text, length));
    /* The first four characters move to the end; letters count as 10..35; mod 97 must be 1. */
    u32 remainder = 0;
    for (size_t step = 0; step < length; step++) {
        char c = text[(step + 4) % length];
        if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        if (is_digit(c)) {
            remainder = (remainder * 10 + (u32)(c - '0')) % 97;
        } else {
            remainder = (remainder * 100 + (u32)(c - 'A' + 10)) % 97;
        }
    }
    return remainder == 1;
}

bool iso20022_uetr_parse(const char *text, size_t length, u128 *value) {
    ASSERT(text != NULL && value != NULL);
    if (length != ISO20022_UETR_TEXT_BYTES) return false;
    u128 result = 0;
    for (size_t index = 0; index < length; index++) {
        char c = text[index];
        bool dash = index == 8 || index == 13 || index == 18 || index == 23;
        if (dash) {
            if (c != '-') return false;
            continue;
        }
        if (!is_hex_lower(c)) return false;
        result = (result << 4) | (u128)(is_digit(c) ? c - '0' : c - 'a' + 10);
    }
    if (text[14] != '4') return false; /* version 4 */
    if (text[19] != '8' && text[19] != '9' && text[19] != 'a' && text[19] != 'b') return false;
    ASSERT(result != 0);
    *value = result;
    return true;
}

/* ISO 4217 list one: every active currency code with its numeric code and minor units (codes
 * whose minor unit is "N.A.", such as the precious metals and XDR, are not money this engine
 * settles and are left out). */
struct currency_minor {
    char letters[4];
    u16 numeric;
    u8 minor_units;
};

static const struct currency_minor currencies[] = {
    {"AED", 784, 2}, {"AFN", 971, 2}, {"ALL", 8, 2},   {"AMD", 51, 2},  {"ANG", 532, 2},
    {"AOA", 973, 2}, {"ARS", 32, 2},  {"AUD", 36, 2},  {"AWG", 533, 2}, {"AZN", 944, 2},
    {"BAM", 977, 2}, {"BBD", 52, 2},  {"BDT", 50, 2},  {"BGN", 975, 2}, {"BHD", 48, 3},
    {"BIF", 108, 0}, {"BMD", 60, 2},  {"BND", 96, 2},  {"BOB", 68, 2},  {"BOV", 984, 2},
    {"BRL", 986, 2}, {"BSD", 44, 2},  {"BTN", 64, 2},  {"BWP", 72, 2},  {"BYN", 933, 2},
    {"BZD", 84, 2},  {"CAD", 124, 2}, {"CDF", 976, 2}, {"CHE", 947, 2}, {"CHF", 756, 2},
    {"CHW", 948, 2}, {"CLF", 990, 4}, {"CLP", 152, 0}, {"CNY", 156, 2}, {"COP", 170, 2},
    {"COU", 970, 2}, {"CRC", 188, 2}, {"CUP", 192, 2}, {"CVE", 132, 2}, {"CZK", 203, 2},
    {"DJF", 262, 0}, {"DKK", 208, 2}, {"DOP", 214, 2}, {"DZD", 12, 2},  {"EGP", 818, 2},
    {"ERN", 232, 2}, {"ETB", 230, 2}, {"EUR", 978, 2}, {"FJD", 242, 2}, {"FKP", 238, 2},
    {"GBP", 826, 2}, {"GEL", 981, 2}, {"GHS", 936, 2}, {"GIP", 292, 2}, {"GMD", 270, 2},
    {"GNF", 324, 0}, {"GTQ", 320, 2}, {"GYD", 328, 2}, {"HKD", 344, 2}, {"HNL", 340, 2},
    {"HTG", 332, 2}, {"HUF", 348, 2}, {"IDR", 360, 2}, {"ILS", 376, 2}, {"INR", 356, 2},
    {"IQD", 368, 3}, {"IRR", 364, 2}, {"ISK", 352, 0}, {"JMD", 388, 2}, {"JOD", 400, 3},
    {"JPY", 392, 0}, {"KES", 404, 2}, {"KGS", 417, 2}, {"KHR", 116, 2}, {"KMF", 174, 0},
    {"KPW", 408, 2}, {"KRW", 410, 0}, {"KWD", 414, 3}, {"KYD", 136, 2}, {"KZT", 398, 2},
    {"LAK", 418, 2}, {"LBP", 422, 2}, {"LKR", 144, 2}, {"LRD", 430, 2}, {"LSL", 426, 2},
    {"LYD", 434, 3}, {"MAD", 504, 2}, {"MDL", 498, 2}, {"MGA", 969, 2}, {"MKD", 807, 2},
    {"MMK", 104, 2}, {"MNT", 496, 2}, {"MOP", 446, 2}, {"MRU", 929, 2}, {"MUR", 480, 2},
    {"MVR", 462, 2}, {"MWK", 454, 2}, {"MXN", 484, 2}, {"MXV", 979, 2}, {"MYR", 458, 2},
    {"MZN", 943, 2}, {"NAD", 516, 2}, {"NGN", 566, 2}, {"NIO", 558, 2}, {"NOK", 578, 2},
    {"NPR", 524, 2}, {"NZD", 554, 2}, {"OMR", 512, 3}, {"PAB", 590, 2}, {"PEN", 604, 2},
    {"PGK", 598, 2}, {"PHP", 608, 2}, {"PKR", 586, 2}, {"PLN", 985, 2}, {"PYG", 600, 0},
    {"QAR", 634, 2}, {"RON", 946, 2}, {"RSD", 941, 2}, {"RUB", 643, 2}, {"RWF", 646, 0},
    {"SAR", 682, 2}, {"SBD", 90, 2},  {"SCR", 690, 2}, {"SDG", 938, 2}, {"SEK", 752, 2},
    {"SGD", 702, 2}, {"SHP", 654, 2}, {"SLE", 925, 2}, {"SOS", 706, 2}, {"SRD", 968, 2},
    {"SSP", 728, 2}, {"STN", 930, 2}, {"SVC", 222, 2}, {"SYP", 760, 2}, {"SZL", 748, 2},
    {"THB", 764, 2}, {"TJS", 972, 2}, {"TMT", 934, 2}, {"TND", 788, 3}, {"TOP", 776, 2},
    {"TRY", 949, 2}, {"TTD", 780, 2}, {"TWD", 901, 2}, {"TZS", 834, 2}, {"UAH", 980, 2},
    {"UGX", 800, 0}, {"USD", 840, 2}, {"USN", 997, 2}, {"UYI", 940, 0}, {"UYU", 858, 2},
    {"UYW", 927, 4}, {"UZS", 860, 2}, {"VED", 926, 2}, {"VES", 928, 2}, {"VND", 704, 0},
    {"VUV", 548, 0}, {"WST", 882, 2}, {"XAF", 950, 0}, {"XCD", 951, 2}, {"XCG", 532, 2},
    {"XOF", 952, 0}, {"XPF", 953, 0}, {"YER", 886, 2}, {"ZAR", 710, 2}, {"ZMW", 967, 2},
    {"ZWG", 924, 2},
};

static const struct currency_minor *currency_find(const char *letters) {
    ASSERT(letters != NULL);
    ASSERT(ARRAY_COUNT(currencies) > 150); /* every active code, not a selection */
    if (strlen(letters) != 3) return NULL;
    for (size_t index = 0; index < ARRAY_COUNT(currencies); index++) {
        if (memcmp(currencies[index].letters, letters, 4) == 0) return &currencies[index];
    }
    return NULL;
}

int iso20022_currency_minor_units(const char *letters) {
    ASSERT(letters != NULL);
    const struct currency_minor *found = currency_find(letters);
    ASSERT(found == NULL || found->minor_units <= 4);
    return found != NULL ? found->minor_units : -1;
}

u32 iso20022_currency_numeric(const char *letters) {
    ASSERT(letters != NULL);
    const struct currency_minor *found = currency_find(letters);
    ASSERT(found == NULL || found->numeric > 0);
    return found != NULL ? found->numeric : 0;
}

bool iso20022_decimal_parse(const char *text, size_t length, u32 total_digits_max,
                            u32 fraction_digits_max, u128 *digits, u8 *fraction_digits) {
    ASSERT(text != NULL && digits != NULL && fraction_digits != NULL);
    ASSERT(total_digits_max <= 36 && fraction_digits_max <= total_digits_max);
    u128 value = 0;
    u32 total = 0, fraction = 0, integer = 0;
    bool point = false;
    for (size_t index = 0; index < length; index++) {
        char c = text[index];
        if (c == '.' && !point) {
            point = true;
            continue;
        }
        if (!is_digit(c)) return false;
        value = value * 10 + (u128)(c - '0');
        total++;
        if (point) fraction++; else integer++;
        if (total > total_digits_max) return false;
    }
    if (integer == 0 || (point && fraction == 0)) return false;
    if (fraction > fraction_digits_max) return false;
    *digits = value;
    *fraction_digits = (u8)fraction;
    return true;
}

bool iso20022_date_parse(const char *text, size_t length, u32 *date) {
    ASSERT(text != NULL && date != NULL);
    if (length != 10 || text[4] != '-' || text[7] != '-') return false;
    u32 fields[3] = {0, 0, 0};
    const size_t starts[3] = {0, 5, 8}, lengths[3] = {4, 2, 2};
    for (u32 field = 0; field < 3; field++) {
        for (size_t index = 0; index < lengths[field]; index++) {
            char c = text[starts[field] + index];
            if (!is_digit(c)) return false;
            fields[field] = fields[field] * 10 + (u32)(c - '0');
        }
    }
    u32 year = fields[0], month = fields[1], day = fields[2];
    static const u8 month_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > month_days[month - 1]) {
        return false;
    }
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap) return false;
    *date = year * 10000 + month * 100 + day;
    ASSERT(*date >= 10101);
    return true;
}
