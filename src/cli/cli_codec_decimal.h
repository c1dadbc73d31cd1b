/*
 * cli_codec_decimal: the decimal texts of the JSON front end's settlement fields, read and
 * written exactly (no floating point anywhere): amounts in a currency's major unit and FX rates.
 *
 * Amount text: DIGITS [ "." DIGITS ]   e.g. "1250.50", "0.01", "1250"
 *   1. no sign, no exponent, no spaces, no leading or trailing point ("12." and ".5" are not
 *      amounts); leading zeros are allowed;
 *   2. at most `minor_units` digits after the point (fewer are padded: "1250.5" KZT = 125050);
 *   3. the value in minor units is at most 2^128 - 1.
 * A text that would be an amount but for a leading "-" is reported as negative, so that "-5"
 * gets "must be more than zero" rather than "not a number".
 *
 * Rate text: the same grammar; its value is mantissa x 10^exponent where
 *   4. the mantissa is the significant digits (leading zeros dropped; trailing zeros moved into
 *      the exponent while the exponent is below 18, as the engine's settle_fx_rate_status
 *      normalises), so "71.6500" and "71.65" are both 7165 x 10^-2;
 *   5. mantissa 1..999,999,999,999 (12 significant digits) and exponent -18..18;
 *   6. zero (any number of zeros) is not positive; more than 12 significant digits or more than
 *      18 decimals is too precise; a value of 10^30 or more is too large.
 * Writing a rate gives the shortest exact text: "71.6532", "0.0152", "1000".
 */
#ifndef KHORGOS_CLI_CODEC_DECIMAL_H
#define KHORGOS_CLI_CODEC_DECIMAL_H

#include "base/base.h"

enum cli_decimal_status {
    CLI_DECIMAL_OK = 0,
    CLI_DECIMAL_INVALID,      /* not the grammar above */
    CLI_DECIMAL_NEGATIVE,     /* a "-" and then the grammar (or a zero rate) */
    CLI_DECIMAL_TOO_PRECISE,  /* amount: too many decimals; rate: digits or decimals */
    CLI_DECIMAL_TOO_LARGE,    /* amount: above 2^128 - 1 minor units; rate: 10^30 or more */
};

/* Reads an amount text of `length` bytes with `minor_units` decimals (<= 18) into minor units. */
enum cli_decimal_status cli_decimal_amount_parse(const char *text, u32 length, u8 minor_units,
                                                 u128 *amount);
/* Reads a rate text; CLI_DECIMAL_NEGATIVE also for a rate of zero. */
enum cli_decimal_status cli_decimal_rate_parse(const char *text, u32 length, u64 *mantissa,
                                               int8_t *exponent);
/* Writes mantissa x 10^exponent, NUL-terminated; returns the length, 0 if `capacity` is too
 * small (CLI_DECIMAL_RATE_TEXT_BYTES suffices for any mantissa and any exponent). */
#define CLI_DECIMAL_RATE_TEXT_BYTES 160u
u32 cli_decimal_rate_format(u64 mantissa, int8_t exponent, char *out, u32 capacity);

#endif /* KHORGOS_CLI_CODEC_DECIMAL_H */
