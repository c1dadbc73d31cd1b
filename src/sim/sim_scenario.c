/*
 * sim_scenario.c: the simulator's scenario: the built-in default (a business day of trade
 * between China, the five Central Asian states and Russia), its validation, and the scenario
 * file format with a reader and a writer.
 *
 * The default scenario's figures come from ../shared/reference/central-asia-trade.md; every
 * one is a named constant below, and docs/simulation.md gives each its source.
 *
 * Scenario file format (text, UTF-8, one item a line)
 *   - A line is `key = value`; blanks around key and value are ignored; `#` starts a comment
 *     line; empty lines are ignored. A line has at most SIM_LINE_BYTES_MAX bytes.
 *   - Scalar keys appear once each, all of them required:
 *       name                     text
 *       business_days_per_year   integer
 *       amount_mean_usd          decimal, 2 decimals at most
 *       amount_sigma             decimal, 6 decimals at most (log-normal sigma)
 *       amount_max_usd           decimal, 2 decimals at most
 *       high_priority_per_mille  integer 0..1000
 *       fx_spread_basis_points   integer
 *       fx_quote_max_usd         decimal, 2 decimals at most
 *       day_open, customer_cutoff, interbank_cutoff, day_close    HH:MM (or HH:MM:SS)
 *       profile_slot_minutes     integer
 *       profile                  integers, one weight per slot from day_open to customer_cutoff
 *       liquidity_a              decimals 0..1, 3 decimals at most, increasing
 *   - List keys, each line adding one item; an item may refer only to items on earlier lines:
 *       currency = LETTERS NUMERIC MINOR_UNITS UNITS_PER_USD          e.g. CNY 156 2 7.2056
 *       country  = CODE CURRENCY LOCATION NAME...                     e.g. CN CNY BJ China
 *       bank     = BIC ROLE WEIGHT NAME...    ROLE: bank | liquidity_provider | settlement_agent
 *       quote    = PROVIDER_BIC FROM TO                               e.g. LQAACNBJXXX KZT CNY
 *       pair     = EXPORTER IMPORTER USD_BN_PER_YEAR CUR:PERCENT...   e.g. CN KZ 24.7 CNY:60 ...
 *   The reader reports every bad line with its number (up to SIM_SCENARIO_ERROR_COUNT_MAX),
 *   then validates the whole scenario (line 0 errors) and refuses it if anything was wrong.
 *
 * Invariants: see sim.h, invariant 1, checked by sim_scenario_validate.
 */
#include "sim/sim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

/* ----------------------------------------------------------------------------------------- */
/* The default scenario's figures, each with its source (central-asia-trade.md).              */

/* One business day is the annual figure divided by this (the reference's convention). */
#define DEFAULT_BUSINESS_DAYS_PER_YEAR 250u
/* Trade-invoice size: log-normal with this mean (the "about USD 100,000") and sigma;
 * sigma 1.0 puts the median at about USD 60,650 and one invoice in a hundred above USD 620,000.
 * The clip keeps one draw from dominating a small pair's day. */
#define DEFAULT_AMOUNT_MEAN_USD_CENTS (100000ull * 100u)
#define DEFAULT_AMOUNT_SIGMA_MICRO 1000000u
#define DEFAULT_AMOUNT_MAX_USD_CENTS (50000000ull * 100u)
/* Customer payments sent "high" (time-critical); the rest "normal"; none "urgent", which T2
 * keeps for central-bank and system operations. An assumption, not a published figure. */
#define DEFAULT_HIGH_PRIORITY_PER_MILLE 50u
/* Providers' quotes: spread around the mid rate, and the most one quote converts. */
#define DEFAULT_FX_SPREAD_BASIS_POINTS 10u
#define DEFAULT_FX_QUOTE_MAX_USD_CENTS (5000000ull * 100u)
/* The CIPS day session, 08:30-17:30, with TARGET2's customer cut-off one hour before the
 * interbank one (17:00 and the close). */
#define DEFAULT_DAY_OPEN_SECONDS (8u * 3600u + 30u * 60u)
#define DEFAULT_CUSTOMER_CUTOFF_SECONDS (17u * 3600u)
#define DEFAULT_INTERBANK_CUTOFF_SECONDS (17u * 3600u + 30u * 60u)
#define DEFAULT_DAY_CLOSE_SECONDS (17u * 3600u + 30u * 60u)
#define DEFAULT_PROFILE_SLOT_SECONDS (30u * 60u)
/* Relative arrivals per half hour from 08:30 to 17:00: a bump at the opening (banks send what
 * customers instructed overnight), a trough at midday, and a peak in the last hour and a half
 * before the customer cut-off (Fedwire's value peaks 16:00-17:00). Shape, not measured data. */
static const u32 default_profile_weights[] = {10, 8, 6, 5, 5, 5, 5, 4, 4,
                                              5,  5, 6, 7, 8, 10, 12, 14};
_Static_assert(ARRAY_COUNT(default_profile_weights) * DEFAULT_PROFILE_SLOT_SECONDS ==
                   DEFAULT_CUSTOMER_CUTOFF_SECONDS - DEFAULT_DAY_OPEN_SECONDS,
               "the profile covers the opening to the customer cut-off");
/* The liquidity sweep of the issue: a = 0, 0.25, 0.5, 0.75, 1. */
static const u32 default_alpha_per_mille[] = {0, 250, 500, 750, 1000};

struct default_currency {
    const char *letters;
    u32 numeric;
    u8 minor_units;
    u64 units_per_usd_micro;
};

/* Mid-2023 rates per USD. KGS ~88 is the reference's estimate; TJS 10.58 is the midpoint of
 * end-2022 (10.20) and end-2023 (10.96); TMT is the official fixed 3.5; RUB 78 is the midpoint
 * of January (~66) and July (~90) 2023. */
static const struct default_currency default_currencies[] = {
    {"CNY", 156, 2, 7205600},     {"KZT", 398, 2, 452510000}, {"KGS", 417, 2, 88000000},
    {"UZS", 860, 2, 11667000000}, {"TJS", 972, 2, 10580000},  {"TMT", 934, 2, 3500000},
    {"RUB", 643, 2, 78000000},    {"USD", 840, 2, 1000000},
};
enum { CNY, KZT, KGS, UZS, TJS, TMT, RUB, USD };

struct default_country {
    const char *code;
    const char *location;
    u8 currency;
    u32 bank_count;
    const char *name;
};

/* Bank counts: the OECD counts of commercial banks for the five states; for China (4,561
 * banking institutions) and Russia a representative subset of twelve and ten, the size of the
 * group that carries most cross-border trade settlement. The USD "country" has only the
 * dollar's settlement agent: it stands for US-dollar correspondent clearing. */
static const struct default_country default_countries[] = {
    {"CN", "BJ", CNY, 12, "China"},        {"KZ", "KA", KZT, 22, "Kazakhstan"},
    {"KG", "BK", KGS, 23, "Kyrgyzstan"},   {"UZ", "TA", UZS, 33, "Uzbekistan"},
    {"TJ", "DU", TJS, 14, "Tajikistan"},   {"TM", "AS", TMT, 11, "Turkmenistan"},
    {"RU", "MM", RUB, 10, "Russia"},       {"US", "NY", USD, 0, "United States (USD clearing)"},
};
enum { C_CN, C_KZ, C_KG, C_UZ, C_TJ, C_TM, C_RU, C_US };
_Static_assert(ARRAY_COUNT(default_countries) <= SIM_COUNTRY_COUNT_MAX, "countries fit");
_Static_assert(ARRAY_COUNT(default_currencies) <= SIM_CURRENCY_COUNT_MAX, "currencies fit");

/* Directed trade, exporter -> importer, USD million a year: the reference's table "Default
 * scenario targets". The invoicing mix is this project's assumption (see docs/simulation.md):
 *   China's exports: CNY 60, importer's currency 25, USD 15 (the yuan's share in China's trade
 *     settlement with the region is the policy's success so far);
 *   exports to China: CNY 55, exporter's currency 25, USD 20; Turkmen gas USD 60, CNY 40;
 *   Russia and the five: RUB 75, the Central Asian currency 20, USD 5 (the EAEU settles
 *     mostly in roubles); with Turkmenistan (outside the EAEU, manat not freely convertible)
 *     RUB 50, TMT 10, USD 40;
 *   among the five: exporter's currency 40, importer's 30, USD 30; with TMT 10 and USD 40
 *     when Turkmenistan is one side. */
struct default_pair {
    u8 exporter;
    u8 importer;
    u64 usd_per_year_millions;
    struct sim_mix mix[SIM_MIX_COUNT_MAX];
    u8 mix_count;
};

#define MIX3(a, pa, b, pb, c, pc) {{a, pa}, {b, pb}, {c, pc}}, 3
#define MIX2(a, pa, b, pb) {{a, pa}, {b, pb}}, 2
static const struct default_pair default_pairs_china_russia[] = {
    {C_CN, C_KZ, 24700, MIX3(CNY, 60, KZT, 25, USD, 15)},
    {C_KZ, C_CN, 16300, MIX3(CNY, 55, KZT, 25, USD, 20)},
    {C_CN, C_KG, 19700, MIX3(CNY, 60, KGS, 25, USD, 15)},
    {C_KG, C_CN, 100, MIX3(CNY, 55, KGS, 25, USD, 20)},
    {C_CN, C_UZ, 12300, MIX3(CNY, 60, UZS, 25, USD, 15)},
    {C_UZ, C_CN, 1750, MIX3(CNY, 55, UZS, 25, USD, 20)},
    {C_CN, C_TJ, 3700, MIX3(CNY, 60, TJS, 25, USD, 15)},
    {C_TJ, C_CN, 250, MIX3(CNY, 55, TJS, 25, USD, 20)},
    {C_CN, C_TM, 1000, MIX3(CNY, 60, TMT, 25, USD, 15)},
    {C_TM, C_CN, 9600, MIX2(USD, 60, CNY, 40)},
    {C_RU, C_KZ, 13500, MIX3(RUB, 75, KZT, 20, USD, 5)},
    {C_KZ, C_RU, 13500, MIX3(RUB, 75, KZT, 20, USD, 5)},
    {C_RU, C_UZ, 4600, MIX3(RUB, 75, UZS, 20, USD, 5)},
    {C_UZ, C_RU, 4600, MIX3(RUB, 75, UZS, 20, USD, 5)},
    {C_RU, C_KG, 1700, MIX3(RUB, 75, KGS, 20, USD, 5)},
    {C_KG, C_RU, 1700, MIX3(RUB, 75, KGS, 20, USD, 5)},
    {C_RU, C_TJ, 750, MIX3(RUB, 75, TJS, 20, USD, 5)},
    {C_TJ, C_RU, 750, MIX3(RUB, 75, TJS, 20, USD, 5)},
    {C_RU, C_TM, 450, MIX3(RUB, 50, TMT, 10, USD, 40)},
    {C_TM, C_RU, 450, MIX3(RUB, 50, TMT, 10, USD, 40)},
};
#undef MIX3
#undef MIX2
/* Among the five: 0.5 USD bn a year in each of the 20 directions. */
#define DEFAULT_AMONG_FIVE_USD_PER_YEAR_MILLIONS 500u

/* Synthetic BICs: bank code "BK" + two letters counting the country's banks, then country,
 * location and branch "XXX" (e.g. BKAACNBJXXX); "CENB" for the central bank, "LQ" + two letters
 * for providers. They are shaped like ISO 9362 BICs but are not real institutions'. */
#define DEFAULT_BRANCH "XXX"

/* ----------------------------------------------------------------------------------------- */
/* Small helpers.                                                                             */

void sim_error_add(struct sim_scenario_errors *errors, u32 line, const char *format, ...) {
    ASSERT(errors != NULL);
    ASSERT(format != NULL);
    if (errors->count < SIM_SCENARIO_ERROR_COUNT_MAX) {
        struct sim_scenario_error *error = &errors->errors[errors->count];
        error->line = line;
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(error->message, sizeof(error->message), format, arguments);
        va_end(arguments);
    }
    errors->count++;
}

static void copy_text(char *out, size_t capacity, const char *text, size_t length) {
    ASSERT(out != NULL && capacity > 0);
    ASSERT(text != NULL || length == 0);
    size_t count = MIN(length, capacity - 1);
    memcpy(out, text, count);
    out[count] = '\0';
}

static bool is_upper(char character) { return character >= 'A' && character <= 'Z'; }
static bool is_digit(char character) { return character >= '0' && character <= '9'; }

bool sim_bic_valid(const char *bic, size_t length) {
    ASSERT(bic != NULL || length == 0);
    if (length != 8 && length != 11) return false;
    for (size_t index = 0; index < length; index++) {
        char character = bic[index];
        bool letter = is_upper(character);
        if (index < 6 && !letter) return false;
        if (index >= 6 && !letter && !is_digit(character)) return false;
    }
    ASSERT(length == 8 || length == 11);
    return true;
}

int sim_decimal_parse(const char *text, size_t length, u32 decimals, u64 *value) {
    ASSERT(text != NULL || length == 0);
    ASSERT(value != NULL && decimals <= 18);
    u64 result = 0;
    u32 fraction_count = 0;
    bool point = false, any_digit = false;
    for (size_t index = 0; index < length; index++) {
        char character = text[index];
        if (character == '.' && !point && any_digit) {
            point = true;
            continue;
        }
        if (!is_digit(character)) return -1;
        if (point && ++fraction_count > decimals) return -1;
        u64 digit = (u64)(character - '0');
        if (result > (U64_MAX - digit) / 10) return -1;
        result = result * 10 + digit;
        any_digit = true;
    }
    if (!any_digit || (point && fraction_count == 0)) return -1;
    for (u32 index = fraction_count; index < decimals; index++) {
        if (result > U64_MAX / 10) return -1;
        result *= 10;
    }
    *value = result;
    return 0;
}

size_t sim_decimal_format(u64 value, u32 decimals, char *out, size_t capacity) {
    ASSERT(out != NULL);
    ASSERT(decimals <= 18);
    char text[48];
    size_t length = khorgos_amount_format(value, (u8)decimals, text, sizeof(text));
    ASSERT(length > 0);
    if (decimals > 0) {
        while (text[length - 1] == '0') length--;
        if (text[length - 1] == '.') length--;
    }
    if (length + 1 > capacity) return 0;
    memcpy(out, text, length);
    out[length] = '\0';
    return length;
}

/* ----------------------------------------------------------------------------------------- */
/* Lookups and conversions.                                                                   */

int sim_scenario_currency_find(const struct sim_scenario *scenario, const char *letters) {
    ASSERT(scenario != NULL && letters != NULL);
    ASSERT(scenario->currency_count <= SIM_CURRENCY_COUNT_MAX);
    for (u32 index = 0; index < scenario->currency_count; index++) {
        if (strcmp(scenario->currencies[index].letters, letters) == 0) return (int)index;
    }
    return -1;
}

int sim_scenario_country_find(const struct sim_scenario *scenario, const char *code) {
    ASSERT(scenario != NULL && code != NULL);
    ASSERT(scenario->country_count <= SIM_COUNTRY_COUNT_MAX);
    for (u32 index = 0; index < scenario->country_count; index++) {
        if (strcmp(scenario->countries[index].code, code) == 0) return (int)index;
    }
    return -1;
}

int sim_scenario_bank_find(const struct sim_scenario *scenario, const char *bic) {
    ASSERT(scenario != NULL && bic != NULL);
    ASSERT(scenario->bank_count <= SIM_BANK_COUNT_MAX);
    for (u32 index = 0; index < scenario->bank_count; index++) {
        if (strcmp(scenario->banks[index].bic, bic) == 0) return (int)index;
    }
    return -1;
}

int sim_scenario_agent_of(const struct sim_scenario *scenario, u32 currency) {
    ASSERT(scenario != NULL);
    ASSERT(currency < scenario->currency_count);
    for (u32 index = 0; index < scenario->bank_count; index++) {
        const struct sim_bank *bank = &scenario->banks[index];
        if (bank->role != SIM_ROLE_SETTLEMENT_AGENT) continue;
        if (scenario->countries[bank->country].currency == currency) return (int)index;
    }
    return -1;
}

u64 sim_pair_daily_usd_cents(const struct sim_scenario *scenario, u32 pair) {
    ASSERT(scenario != NULL && pair < scenario->pair_count);
    ASSERT(scenario->business_days_per_year > 0);
    u128 cents = (u128)scenario->pairs[pair].usd_per_year_millions * 100000000u;
    u128 days = scenario->business_days_per_year;
    u128 daily = (cents + days / 2) / days;
    ASSERT(daily <= U64_MAX);
    return (u64)daily;
}

static u128 power_of_ten(u32 exponent) {
    ASSERT(exponent <= 18);
    u128 result = 1;
    for (u32 index = 0; index < exponent; index++) result *= 10;
    return result;
}

u128 sim_scenario_usd_cents(const struct sim_scenario *scenario, u32 currency, u128 amount) {
    ASSERT(scenario != NULL && currency < scenario->currency_count);
    ASSERT(amount <= SIM_AMOUNT_MAX);
    const struct sim_currency *entry = &scenario->currencies[currency];
    ASSERT(entry->units_per_usd_micro > 0);
    /* cents = amount / 10^minor * 100 / (rate_micro / 10^6) */
    u128 numerator = amount * 100u * SIM_RATE_SCALE;
    u128 denominator = (u128)entry->units_per_usd_micro * power_of_ten(entry->minor_units);
    return numerator / denominator;
}

u128 sim_scenario_from_usd_cents(const struct sim_scenario *scenario, u32 currency,
                                 u128 usd_cents) {
    ASSERT(scenario != NULL && currency < scenario->currency_count);
    ASSERT(usd_cents <= U64_MAX);
    const struct sim_currency *entry = &scenario->currencies[currency];
    ASSERT(entry->units_per_usd_micro > 0 && entry->minor_units <= 4);
    u128 numerator = usd_cents * entry->units_per_usd_micro * power_of_ten(entry->minor_units);
    u128 denominator = (u128)100u * SIM_RATE_SCALE;
    return (numerator + denominator / 2) / denominator;
}

/* ----------------------------------------------------------------------------------------- */
/* The default scenario.                                                                      */

static void default_add_bank(struct sim_scenario *scenario, u32 country, const char *code,
                             u8 role, u32 weight_micro, const char *name) {
    ASSERT(scenario->bank_count < SIM_BANK_COUNT_MAX);
    ASSERT(strlen(code) == 4);
    const struct sim_country *entry = &scenario->countries[country];
    struct sim_bank *bank = &scenario->banks[scenario->bank_count++];
    memcpy(bank->bic, code, 4);
    memcpy(bank->bic + 4, entry->code, 2);
    memcpy(bank->bic + 6, entry->location, 2);
    memcpy(bank->bic + 8, DEFAULT_BRANCH, 4); /* with its NUL */
    bank->country = (u8)country;
    bank->role = role;
    bank->weight_micro = weight_micro;
    copy_text(bank->name, sizeof(bank->name), name, strlen(name));
    ASSERT(sim_bic_valid(bank->bic, strlen(bank->bic)));
}

/* Commercial banks, sized by Zipf's law (the k-th bank weighs 1/k): a few large banks carry
 * most of a country's trade, as in every banking sector of the region. */
static void default_banks(struct sim_scenario *scenario) {
    ASSERT(scenario->bank_count == 0);
    ASSERT(scenario->country_count == ARRAY_COUNT(default_countries));
    for (u32 country = 0; country < ARRAY_COUNT(default_countries); country++) {
        for (u32 rank = 0; rank < default_countries[country].bank_count; rank++) {
            char code[5] = {'B', 'K', (char)('A' + rank / 26), (char)('A' + rank % 26), 0};
            char name[SIM_NAME_BYTES_MAX];
            snprintf(name, sizeof(name), "%s bank %02u", default_countries[country].name,
                     rank + 1);
            default_add_bank(scenario, country, code, SIM_ROLE_BANK, 1000000u / (rank + 1),
                             name);
        }
    }
    for (u32 country = 0; country < ARRAY_COUNT(default_countries); country++) {
        char name[SIM_NAME_BYTES_MAX];
        snprintf(name, sizeof(name), "Central bank, %s agent",
                 default_currencies[default_countries[country].currency].letters);
        default_add_bank(scenario, country, "CENB", SIM_ROLE_SETTLEMENT_AGENT, 1000000u, name);
    }
}

static void default_add_quotes(struct sim_scenario *scenario, u32 provider, const u8 *first,
                               u32 first_count, const u8 *second, u32 second_count) {
    ASSERT(scenario->banks[provider].role == SIM_ROLE_LIQUIDITY_PROVIDER);
    for (u32 i = 0; i < first_count; i++) {
        for (u32 j = 0; j < second_count; j++) {
            if (first[i] == second[j]) continue;
            ASSERT(scenario->quote_count + 2 <= SIM_QUOTE_COUNT_MAX);
            scenario->quotes[scenario->quote_count++] =
                (struct sim_quote){(u16)provider, first[i], second[j]};
            scenario->quotes[scenario->quote_count++] =
                (struct sim_quote){(u16)provider, second[j], first[i]};
        }
    }
}

/* Providers: a Chinese one quoting CNY against every currency, a Russian one RUB against every
 * currency, a Kazakh one every pair of the five currencies and each against USD, and a US one
 * USD against every currency (the route of the usd_vehicle design). */
static void default_providers(struct sim_scenario *scenario) {
    ASSERT(scenario->quote_count == 0);
    ASSERT(scenario->bank_count + 4 <= SIM_BANK_COUNT_MAX);
    static const u8 all[] = {CNY, KZT, KGS, UZS, TJS, TMT, RUB, USD};
    static const u8 five[] = {KZT, KGS, UZS, TJS, TMT};
    static const u8 cny[] = {CNY}, rub[] = {RUB}, usd[] = {USD};
    u32 provider = scenario->bank_count;
    default_add_bank(scenario, C_CN, "LQAA", SIM_ROLE_LIQUIDITY_PROVIDER, 1000000u,
                     "Liquidity provider, China");
    default_add_quotes(scenario, provider, cny, 1, all, ARRAY_COUNT(all));
    provider = scenario->bank_count;
    default_add_bank(scenario, C_RU, "LQAA", SIM_ROLE_LIQUIDITY_PROVIDER, 1000000u,
                     "Liquidity provider, Russia");
    default_add_quotes(scenario, provider, rub, 1, all, ARRAY_COUNT(all));
    provider = scenario->bank_count;
    default_add_bank(scenario, C_KZ, "LQAA", SIM_ROLE_LIQUIDITY_PROVIDER, 1000000u,
                     "Liquidity provider, Kazakhstan");
    for (u32 index = 0; index + 1 < ARRAY_COUNT(five); index++) {
        default_add_quotes(scenario, provider, &five[index], 1, &five[index + 1],
                           ARRAY_COUNT(five) - index - 1);
    }
    default_add_quotes(scenario, provider, usd, 1, five, ARRAY_COUNT(five));
    provider = scenario->bank_count;
    default_add_bank(scenario, C_US, "LQAA", SIM_ROLE_LIQUIDITY_PROVIDER, 1000000u,
                     "Liquidity provider, US dollar");
    default_add_quotes(scenario, provider, usd, 1, all, ARRAY_COUNT(all));
}

static void default_add_pair(struct sim_scenario *scenario, u8 exporter, u8 importer,
                             u64 millions, const struct sim_mix *mix, u32 mix_count) {
    ASSERT(scenario->pair_count < SIM_PAIR_COUNT_MAX);
    ASSERT(mix_count >= 1 && mix_count <= SIM_MIX_COUNT_MAX);
    struct sim_pair *pair = &scenario->pairs[scenario->pair_count++];
    pair->exporter = exporter;
    pair->importer = importer;
    pair->usd_per_year_millions = millions;
    pair->mix_count = (u8)mix_count;
    for (u32 index = 0; index < mix_count; index++) pair->mix[index] = mix[index];
}

static void default_pairs(struct sim_scenario *scenario) {
    ASSERT(scenario->pair_count == 0);
    for (u32 index = 0; index < ARRAY_COUNT(default_pairs_china_russia); index++) {
        const struct default_pair *pair = &default_pairs_china_russia[index];
        default_add_pair(scenario, pair->exporter, pair->importer, pair->usd_per_year_millions,
                         pair->mix, pair->mix_count);
    }
    static const u8 five[] = {C_KZ, C_KG, C_UZ, C_TJ, C_TM};
    for (u32 i = 0; i < ARRAY_COUNT(five); i++) {
        for (u32 j = 0; j < ARRAY_COUNT(five); j++) {
            if (i == j) continue;
            u8 exporter_currency = default_countries[five[i]].currency;
            u8 importer_currency = default_countries[five[j]].currency;
            u8 exporter_percent = exporter_currency == TMT ? 10 : 40;
            u8 importer_percent = importer_currency == TMT ? 10 : 30;
            bool turkmen = exporter_currency == TMT || importer_currency == TMT;
            u8 usd_percent = turkmen ? 40 : 30;
            /* The Turkmen side gives up share to the other side's currency. */
            if (exporter_currency == TMT) importer_percent = 50;
            if (importer_currency == TMT) exporter_percent = 50;
            struct sim_mix mix[3] = {{exporter_currency, exporter_percent},
                                     {importer_currency, importer_percent},
                                     {USD, usd_percent}};
            ASSERT(exporter_percent + importer_percent + usd_percent == 100);
            default_add_pair(scenario, five[i], five[j],
                             DEFAULT_AMONG_FIVE_USD_PER_YEAR_MILLIONS, mix, 3);
        }
    }
}

static void default_parameters(struct sim_scenario *scenario) {
    ASSERT(scenario != NULL);
    ASSERT(ARRAY_COUNT(default_alpha_per_mille) <= SIM_ALPHA_COUNT_MAX);
    copy_text(scenario->name, sizeof(scenario->name), "china-central-asia-2023", 23);
    scenario->business_days_per_year = DEFAULT_BUSINESS_DAYS_PER_YEAR;
    scenario->amount_mean_usd_cents = DEFAULT_AMOUNT_MEAN_USD_CENTS;
    scenario->amount_sigma_micro = DEFAULT_AMOUNT_SIGMA_MICRO;
    scenario->amount_max_usd_cents = DEFAULT_AMOUNT_MAX_USD_CENTS;
    scenario->high_priority_per_mille = DEFAULT_HIGH_PRIORITY_PER_MILLE;
    scenario->fx_spread_basis_points = DEFAULT_FX_SPREAD_BASIS_POINTS;
    scenario->fx_quote_max_usd_cents = DEFAULT_FX_QUOTE_MAX_USD_CENTS;
    scenario->day_open_seconds = DEFAULT_DAY_OPEN_SECONDS;
    scenario->customer_cutoff_seconds = DEFAULT_CUSTOMER_CUTOFF_SECONDS;
    scenario->interbank_cutoff_seconds = DEFAULT_INTERBANK_CUTOFF_SECONDS;
    scenario->day_close_seconds = DEFAULT_DAY_CLOSE_SECONDS;
    scenario->profile_slot_seconds = DEFAULT_PROFILE_SLOT_SECONDS;
    scenario->profile_slot_count = ARRAY_COUNT(default_profile_weights);
    memcpy(scenario->profile_weights, default_profile_weights, sizeof(default_profile_weights));
    scenario->alpha_count = ARRAY_COUNT(default_alpha_per_mille);
    memcpy(scenario->alpha_per_mille, default_alpha_per_mille, sizeof(default_alpha_per_mille));
}

void sim_scenario_default(struct sim_scenario *scenario) {
    ASSERT(scenario != NULL);
    memset(scenario, 0, sizeof(*scenario));
    default_parameters(scenario);
    for (u32 index = 0; index < ARRAY_COUNT(default_currencies); index++) {
        const struct default_currency *currency = &default_currencies[index];
        struct sim_currency *entry = &scenario->currencies[scenario->currency_count++];
        copy_text(entry->letters, sizeof(entry->letters), currency->letters, 3);
        entry->numeric = currency->numeric;
        entry->minor_units = currency->minor_units;
        entry->units_per_usd_micro = currency->units_per_usd_micro;
    }
    for (u32 index = 0; index < ARRAY_COUNT(default_countries); index++) {
        const struct default_country *country = &default_countries[index];
        struct sim_country *entry = &scenario->countries[scenario->country_count++];
        copy_text(entry->code, sizeof(entry->code), country->code, 2);
        copy_text(entry->location, sizeof(entry->location), country->location, 2);
        copy_text(entry->name, sizeof(entry->name), country->name, strlen(country->name));
        entry->currency = country->currency;
    }
    default_banks(scenario);
    default_providers(scenario);
    default_pairs(scenario);
    ASSERT(scenario->pair_count == ARRAY_COUNT(default_pairs_china_russia) + 20);
}

/* ----------------------------------------------------------------------------------------- */
/* Validation (invariant 1). Every finding is a line-0 error.                                 */

static void validate_currencies(const struct sim_scenario *scenario,
                                struct sim_scenario_errors *errors) {
    ASSERT(scenario->currency_count <= SIM_CURRENCY_COUNT_MAX);
    ASSERT(errors != NULL);
    if (scenario->currency_count == 0) sim_error_add(errors, 0, "no currency");
    for (u32 index = 0; index < scenario->currency_count; index++) {
        const struct sim_currency *currency = &scenario->currencies[index];
        const char *letters = currency->letters;
        if (strlen(letters) != 3 || !is_upper(letters[0]) || !is_upper(letters[1]) ||
            !is_upper(letters[2])) {
            sim_error_add(errors, 0, "currency %u: code \"%s\" is not three capitals", index,
                          letters);
        }
        if (sim_scenario_currency_find(scenario, letters) != (int)index) {
            sim_error_add(errors, 0, "currency %s appears twice", letters);
        }
        if (currency->minor_units > 4) sim_error_add(errors, 0, "%s: minor units above 4", letters);
        if (currency->units_per_usd_micro == 0) sim_error_add(errors, 0, "%s: rate is 0", letters);
        if (sim_scenario_agent_of(scenario, index) < 0) {
            sim_error_add(errors, 0, "%s has no settlement agent", letters);
        }
    }
}

static void validate_countries(const struct sim_scenario *scenario,
                               struct sim_scenario_errors *errors) {
    ASSERT(scenario->country_count <= SIM_COUNTRY_COUNT_MAX);
    ASSERT(errors != NULL);
    if (scenario->country_count == 0) sim_error_add(errors, 0, "no country");
    for (u32 index = 0; index < scenario->country_count; index++) {
        const struct sim_country *country = &scenario->countries[index];
        if (strlen(country->code) != 2 || !is_upper(country->code[0]) ||
            !is_upper(country->code[1])) {
            sim_error_add(errors, 0, "country %u: code \"%s\" is not two capitals", index,
                          country->code);
        }
        if (sim_scenario_country_find(scenario, country->code) != (int)index) {
            sim_error_add(errors, 0, "country %s appears twice", country->code);
        }
        if (country->currency >= scenario->currency_count) {
            sim_error_add(errors, 0, "country %s: unknown currency", country->code);
        }
    }
}

static void validate_banks(const struct sim_scenario *scenario,
                           struct sim_scenario_errors *errors) {
    ASSERT(scenario->bank_count <= SIM_BANK_COUNT_MAX);
    ASSERT(errors != NULL);
    u32 agents[SIM_CURRENCY_COUNT_MAX] = {0};
    for (u32 index = 0; index < scenario->bank_count; index++) {
        const struct sim_bank *bank = &scenario->banks[index];
        size_t length = strlen(bank->bic);
        if (length != 11 || !sim_bic_valid(bank->bic, length)) {
            sim_error_add(errors, 0, "bank %u: \"%s\" is not an 11-character BIC", index,
                          bank->bic);
            continue;
        }
        if (sim_scenario_bank_find(scenario, bank->bic) != (int)index) {
            sim_error_add(errors, 0, "bank %s appears twice", bank->bic);
        }
        if (bank->country >= scenario->country_count ||
            memcmp(scenario->countries[bank->country].code, bank->bic + 4, 2) != 0) {
            sim_error_add(errors, 0, "bank %s: country does not match the BIC", bank->bic);
            continue;
        }
        if (bank->role >= SIM_ROLE_COUNT) sim_error_add(errors, 0, "bank %s: bad role", bank->bic);
        if (bank->role == SIM_ROLE_BANK && bank->weight_micro == 0) {
            sim_error_add(errors, 0, "bank %s: weight is 0", bank->bic);
        }
        u32 currency = scenario->countries[bank->country].currency;
        if (bank->role == SIM_ROLE_SETTLEMENT_AGENT && currency < SIM_CURRENCY_COUNT_MAX &&
            ++agents[currency] == 2) {
            sim_error_add(errors, 0, "currency %u has a second settlement agent %s", currency,
                          bank->bic);
        }
    }
}

static bool country_has_bank(const struct sim_scenario *scenario, u32 country) {
    ASSERT(country < scenario->country_count);
    for (u32 index = 0; index < scenario->bank_count; index++) {
        const struct sim_bank *bank = &scenario->banks[index];
        if (bank->country == country && bank->role == SIM_ROLE_BANK) return true;
    }
    return false;
}

static void validate_pairs(const struct sim_scenario *scenario,
                           struct sim_scenario_errors *errors) {
    ASSERT(scenario->pair_count <= SIM_PAIR_COUNT_MAX);
    ASSERT(errors != NULL);
    if (scenario->pair_count == 0) sim_error_add(errors, 0, "no pair");
    for (u32 index = 0; index < scenario->pair_count; index++) {
        const struct sim_pair *pair = &scenario->pairs[index];
        if (pair->exporter >= scenario->country_count ||
            pair->importer >= scenario->country_count || pair->exporter == pair->importer) {
            sim_error_add(errors, 0, "pair %u: bad countries", index);
            continue;
        }
        const char *from = scenario->countries[pair->exporter].code;
        const char *to = scenario->countries[pair->importer].code;
        if (!country_has_bank(scenario, pair->exporter) ||
            !country_has_bank(scenario, pair->importer)) {
            sim_error_add(errors, 0, "pair %s %s: a side has no bank", from, to);
        }
        for (u32 other = 0; other < index; other++) {
            if (scenario->pairs[other].exporter == pair->exporter &&
                scenario->pairs[other].importer == pair->importer) {
                sim_error_add(errors, 0, "pair %s %s appears twice", from, to);
            }
        }
        if (pair->usd_per_year_millions == 0) sim_error_add(errors, 0, "pair %s %s: 0", from, to);
        u32 percent = 0;
        for (u32 mix = 0; mix < pair->mix_count && mix < SIM_MIX_COUNT_MAX; mix++) {
            percent += pair->mix[mix].percent;
            if (pair->mix[mix].currency >= scenario->currency_count) {
                sim_error_add(errors, 0, "pair %s %s: unknown currency", from, to);
            }
        }
        if (pair->mix_count == 0 || pair->mix_count > SIM_MIX_COUNT_MAX || percent != 100) {
            sim_error_add(errors, 0, "pair %s %s: mix sums to %u%%, not 100%%", from, to, percent);
        }
    }
}

static void validate_day(const struct sim_scenario *scenario,
                         struct sim_scenario_errors *errors) {
    ASSERT(scenario != NULL && errors != NULL);
    ASSERT(scenario->profile_slot_count <= SIM_PROFILE_SLOT_COUNT_MAX || errors != NULL);
    if (!(scenario->day_open_seconds < scenario->customer_cutoff_seconds &&
          scenario->customer_cutoff_seconds <= scenario->interbank_cutoff_seconds &&
          scenario->interbank_cutoff_seconds <= scenario->day_close_seconds &&
          scenario->day_close_seconds < SIM_DAY_SECONDS)) {
        sim_error_add(errors, 0, "times must be open < customer cut-off <= interbank cut-off"
                              " <= close < 24:00");
        return;
    }
    u64 span = (u64)scenario->profile_slot_seconds * scenario->profile_slot_count;
    if (scenario->profile_slot_count == 0 ||
        scenario->profile_slot_count > SIM_PROFILE_SLOT_COUNT_MAX ||
        span != scenario->customer_cutoff_seconds - scenario->day_open_seconds) {
        sim_error_add(errors, 0, "profile: %u slots of %u s do not cover open to customer cut-off",
                      scenario->profile_slot_count, scenario->profile_slot_seconds);
        return;
    }
    u64 total = 0;
    for (u32 index = 0; index < scenario->profile_slot_count; index++) {
        total += scenario->profile_weights[index];
    }
    if (total == 0 || total > U32_MAX) sim_error_add(errors, 0, "profile: weights sum to 0");
}

static void validate_parameters(const struct sim_scenario *scenario,
                                struct sim_scenario_errors *errors) {
    ASSERT(scenario->quote_count <= SIM_QUOTE_COUNT_MAX);
    ASSERT(errors != NULL);
    if (scenario->business_days_per_year == 0 || scenario->business_days_per_year > 366) {
        sim_error_add(errors, 0, "business_days_per_year must be 1..366");
    }
    if (scenario->amount_mean_usd_cents == 0 ||
        scenario->amount_max_usd_cents < scenario->amount_mean_usd_cents ||
        scenario->amount_max_usd_cents > (1ull << 53)) {
        sim_error_add(errors, 0, "amounts: need 0 < amount_mean_usd <= amount_max_usd");
    }
    if (scenario->amount_sigma_micro > 4000000u) sim_error_add(errors, 0, "amount_sigma above 4");
    if (scenario->high_priority_per_mille > 1000) {
        sim_error_add(errors, 0, "high_priority_per_mille above 1000");
    }
    if (scenario->alpha_count == 0 || scenario->alpha_count > SIM_ALPHA_COUNT_MAX) {
        sim_error_add(errors, 0, "liquidity_a: need 1..%u values", SIM_ALPHA_COUNT_MAX);
    }
    for (u32 index = 0; index < scenario->alpha_count && index < SIM_ALPHA_COUNT_MAX; index++) {
        u32 alpha = scenario->alpha_per_mille[index];
        if (alpha > 1000 || (index > 0 && alpha <= scenario->alpha_per_mille[index - 1])) {
            sim_error_add(errors, 0, "liquidity_a: values must increase within 0..1");
        }
    }
    for (u32 index = 0; index < scenario->quote_count; index++) {
        const struct sim_quote *quote = &scenario->quotes[index];
        if (quote->provider >= scenario->bank_count ||
            scenario->banks[quote->provider].role != SIM_ROLE_LIQUIDITY_PROVIDER ||
            quote->from >= scenario->currency_count || quote->to >= scenario->currency_count ||
            quote->from == quote->to) {
            sim_error_add(errors, 0, "quote %u: bad provider or currencies", index);
        }
    }
}

khorgos_error sim_scenario_validate(const struct sim_scenario *scenario,
                                    struct sim_scenario_errors *errors) {
    ASSERT(scenario != NULL && errors != NULL);
    u32 count_before = errors->count;
    if (scenario->currency_count > SIM_CURRENCY_COUNT_MAX ||
        scenario->country_count > SIM_COUNTRY_COUNT_MAX ||
        scenario->bank_count > SIM_BANK_COUNT_MAX || scenario->pair_count > SIM_PAIR_COUNT_MAX ||
        scenario->quote_count > SIM_QUOTE_COUNT_MAX) {
        sim_error_add(errors, 0, "a count is above its limit");
        return KHORGOS_ERROR_invalid_argument;
    }
    validate_currencies(scenario, errors);
    validate_countries(scenario, errors);
    validate_banks(scenario, errors);
    validate_pairs(scenario, errors);
    validate_day(scenario, errors);
    validate_parameters(scenario, errors);
    ASSERT(errors->count >= count_before);
    return errors->count == count_before ? KHORGOS_ERROR_ok : KHORGOS_ERROR_invalid_argument;
}

/* ----------------------------------------------------------------------------------------- */
/* Writer.                                                                                    */

static const char *const role_names[SIM_ROLE_COUNT] = {"bank", "liquidity_provider",
                                                       "settlement_agent"};

static void write_decimal(FILE *file, const char *key, u64 value, u32 decimals) {
    ASSERT(file != NULL && key != NULL);
    char text[48];
    size_t length = sim_decimal_format(value, decimals, text, sizeof(text));
    ASSERT(length > 0);
    fprintf(file, "%s = %s\n", key, text);
}

static void write_time(FILE *file, const char *key, u32 seconds) {
    ASSERT(file != NULL && key != NULL);
    ASSERT(seconds < SIM_DAY_SECONDS);
    if (seconds % 60 == 0) {
        fprintf(file, "%s = %02u:%02u\n", key, seconds / 3600, seconds / 60 % 60);
    } else {
        fprintf(file, "%s = %02u:%02u:%02u\n", key, seconds / 3600, seconds / 60 % 60,
                seconds % 60);
    }
}

static void write_parameters(const struct sim_scenario *scenario, FILE *file) {
    ASSERT(scenario->profile_slot_count <= SIM_PROFILE_SLOT_COUNT_MAX);
    fprintf(file, "name = %s\n", scenario->name);
    fprintf(file, "business_days_per_year = %u\n", scenario->business_days_per_year);
    write_decimal(file, "amount_mean_usd", scenario->amount_mean_usd_cents, 2);
    write_decimal(file, "amount_sigma", scenario->amount_sigma_micro, 6);
    write_decimal(file, "amount_max_usd", scenario->amount_max_usd_cents, 2);
    fprintf(file, "high_priority_per_mille = %u\n", scenario->high_priority_per_mille);
    fprintf(file, "fx_spread_basis_points = %u\n", scenario->fx_spread_basis_points);
    write_decimal(file, "fx_quote_max_usd", scenario->fx_quote_max_usd_cents, 2);
    write_time(file, "day_open", scenario->day_open_seconds);
    write_time(file, "customer_cutoff", scenario->customer_cutoff_seconds);
    write_time(file, "interbank_cutoff", scenario->interbank_cutoff_seconds);
    write_time(file, "day_close", scenario->day_close_seconds);
    ASSERT(scenario->profile_slot_seconds % 60 == 0);
    fprintf(file, "profile_slot_minutes = %u\nprofile =", scenario->profile_slot_seconds / 60);
    for (u32 index = 0; index < scenario->profile_slot_count; index++) {
        fprintf(file, " %u", scenario->profile_weights[index]);
    }
    fprintf(file, "\nliquidity_a =");
    for (u32 index = 0; index < scenario->alpha_count; index++) {
        char text[48];
        sim_decimal_format(scenario->alpha_per_mille[index], 3, text, sizeof(text));
        fprintf(file, " %s", text);
    }
    fprintf(file, "\n");
}

static void write_lists(const struct sim_scenario *scenario, FILE *file) {
    ASSERT(scenario->bank_count <= SIM_BANK_COUNT_MAX);
    ASSERT(scenario->pair_count <= SIM_PAIR_COUNT_MAX);
    fprintf(file, "\n# currency = LETTERS NUMERIC MINOR_UNITS UNITS_PER_USD\n");
    for (u32 index = 0; index < scenario->currency_count; index++) {
        const struct sim_currency *currency = &scenario->currencies[index];
        char rate[48];
        sim_decimal_format(currency->units_per_usd_micro, SIM_RATE_DECIMALS, rate, sizeof(rate));
        fprintf(file, "currency = %s %u %u %s\n", currency->letters, currency->numeric,
                currency->minor_units, rate);
    }
    fprintf(file, "\n# country = CODE CURRENCY BIC_LOCATION NAME\n");
    for (u32 index = 0; index < scenario->country_count; index++) {
        const struct sim_country *country = &scenario->countries[index];
        fprintf(file, "country = %s %s %s %s\n", country->code,
                scenario->currencies[country->currency].letters, country->location,
                country->name);
    }
    fprintf(file, "\n# bank = BIC ROLE WEIGHT NAME\n");
    for (u32 index = 0; index < scenario->bank_count; index++) {
        const struct sim_bank *bank = &scenario->banks[index];
        char weight[48];
        sim_decimal_format(bank->weight_micro, 6, weight, sizeof(weight));
        fprintf(file, "bank = %s %s %s %s\n", bank->bic, role_names[bank->role], weight,
                bank->name);
    }
    fprintf(file, "\n# quote = PROVIDER_BIC FROM TO\n");
    for (u32 index = 0; index < scenario->quote_count; index++) {
        const struct sim_quote *quote = &scenario->quotes[index];
        fprintf(file, "quote = %s %s %s\n", scenario->banks[quote->provider].bic,
                scenario->currencies[quote->from].letters,
                scenario->currencies[quote->to].letters);
    }
    fprintf(file, "\n# pair = EXPORTER IMPORTER USD_BN_PER_YEAR CURRENCY:PERCENT...\n");
    for (u32 index = 0; index < scenario->pair_count; index++) {
        const struct sim_pair *pair = &scenario->pairs[index];
        char value[48];
        sim_decimal_format(pair->usd_per_year_millions, 3, value, sizeof(value));
        fprintf(file, "pair = %s %s %s", scenario->countries[pair->exporter].code,
                scenario->countries[pair->importer].code, value);
        for (u32 mix = 0; mix < pair->mix_count; mix++) {
            fprintf(file, " %s:%u", scenario->currencies[pair->mix[mix].currency].letters,
                    pair->mix[mix].percent);
        }
        fprintf(file, "\n");
    }
}

khorgos_error sim_scenario_write(const struct sim_scenario *scenario, FILE *file) {
    ASSERT(scenario != NULL && file != NULL);
    ASSERT(scenario->currency_count <= SIM_CURRENCY_COUNT_MAX);
    fprintf(file, "# Khorgos simulation scenario: `key = value` lines, '#' comments.\n"
                  "# Format and every figure's source: docs/simulation.md.\n");
    write_parameters(scenario, file);
    write_lists(scenario, file);
    return ferror(file) ? KHORGOS_ERROR_io : KHORGOS_ERROR_ok;
}

khorgos_error sim_scenario_write_path(const struct sim_scenario *scenario, const char *path) {
    ASSERT(scenario != NULL && path != NULL);
    FILE *file = fopen(path, "w");
    if (file == NULL) return KHORGOS_ERROR_io;
    khorgos_error error = sim_scenario_write(scenario, file);
    if (fclose(file) != 0 && error == KHORGOS_ERROR_ok) error = KHORGOS_ERROR_io;
    ASSERT(error == KHORGOS_ERROR_ok || error == KHORGOS_ERROR_io);
    return error;
}

/* ----------------------------------------------------------------------------------------- */
/* Reader.                                                                                    */

enum scalar_key {
    KEY_NAME, KEY_BUSINESS_DAYS, KEY_AMOUNT_MEAN, KEY_AMOUNT_SIGMA, KEY_AMOUNT_MAX,
    KEY_HIGH_PRIORITY, KEY_FX_SPREAD, KEY_FX_QUOTE_MAX, KEY_DAY_OPEN, KEY_CUSTOMER_CUTOFF,
    KEY_INTERBANK_CUTOFF, KEY_DAY_CLOSE, KEY_PROFILE_SLOT, KEY_PROFILE, KEY_LIQUIDITY_A,
    KEY_SCALAR_COUNT,
};
static const char *const scalar_keys[KEY_SCALAR_COUNT] = {
    "name", "business_days_per_year", "amount_mean_usd", "amount_sigma", "amount_max_usd",
    "high_priority_per_mille", "fx_spread_basis_points", "fx_quote_max_usd", "day_open",
    "customer_cutoff", "interbank_cutoff", "day_close", "profile_slot_minutes", "profile",
    "liquidity_a",
};
_Static_assert(KEY_SCALAR_COUNT < 32, "seen keys fit in a u32 mask");

/* Tokens of a value: at most a profile's weights and a little more. */
#define TOKEN_COUNT_MAX (SIM_PROFILE_SLOT_COUNT_MAX + 8u)
struct tokens {
    u32 count;
    bool overflow;
    const char *start[TOKEN_COUNT_MAX];
    u32 length[TOKEN_COUNT_MAX];
    const char *end; /* end of the value, for the rest-of-line names */
};

static void tokenize(const char *value, size_t length, struct tokens *tokens) {
    ASSERT(value != NULL || length == 0);
    ASSERT(length <= SIM_LINE_BYTES_MAX);
    tokens->count = 0;
    tokens->overflow = false;
    tokens->end = value + length;
    size_t index = 0;
    while (index < length) {
        while (index < length && (value[index] == ' ' || value[index] == '\t')) index++;
        if (index == length) break;
        size_t start = index;
        while (index < length && value[index] != ' ' && value[index] != '\t') index++;
        if (tokens->count == TOKEN_COUNT_MAX) {
            tokens->overflow = true;
            return;
        }
        tokens->start[tokens->count] = value + start;
        tokens->length[tokens->count++] = (u32)(index - start);
    }
}

static bool token_equals(const struct tokens *tokens, u32 index, const char *text) {
    ASSERT(text != NULL);
    ASSERT(index < tokens->count);
    size_t length = strlen(text);
    return tokens->length[index] == length && memcmp(tokens->start[index], text, length) == 0;
}

static bool token_copy(const struct tokens *tokens, u32 index, char *out, size_t capacity) {
    ASSERT(out != NULL);
    ASSERT(index < tokens->count && capacity > 0);
    if (tokens->length[index] >= capacity) return false;
    copy_text(out, capacity, tokens->start[index], tokens->length[index]);
    return true;
}

static bool token_u32(const struct tokens *tokens, u32 index, u32 *value) {
    ASSERT(index < tokens->count);
    ASSERT(value != NULL);
    u64 parsed = 0;
    if (sim_decimal_parse(tokens->start[index], tokens->length[index], 0, &parsed) != 0 ||
        parsed > U32_MAX) {
        return false;
    }
    *value = (u32)parsed;
    return true;
}

static bool token_time(const struct tokens *tokens, u32 index, u32 *seconds) {
    ASSERT(index < tokens->count);
    ASSERT(seconds != NULL);
    const char *text = tokens->start[index];
    u32 length = tokens->length[index];
    if (length != 5 && length != 8) return false;
    u32 parts[3] = {0, 0, 0};
    for (u32 part = 0; part * 3 < length; part++) {
        const char *digits = text + part * 3;
        if (!is_digit(digits[0]) || !is_digit(digits[1])) return false;
        if (part * 3 + 2 < length && digits[2] != ':') return false;
        parts[part] = (u32)(digits[0] - '0') * 10 + (u32)(digits[1] - '0');
    }
    if (parts[0] > 23 || parts[1] > 59 || parts[2] > 59) return false;
    *seconds = parts[0] * 3600 + parts[1] * 60 + parts[2];
    return true;
}

/* The rest of the line from token `index` on, for names with blanks. */
static bool token_rest(const struct tokens *tokens, u32 index, char *out, size_t capacity) {
    ASSERT(out != NULL && capacity > 0);
    ASSERT(index < tokens->count);
    size_t length = (size_t)(tokens->end - tokens->start[index]);
    while (length > 0 && (tokens->start[index][length - 1] == ' ' ||
                          tokens->start[index][length - 1] == '\t')) {
        length--;
    }
    if (length >= capacity) return false;
    copy_text(out, capacity, tokens->start[index], length);
    return true;
}

static int token_currency(const struct sim_scenario *scenario, const struct tokens *tokens,
                          u32 index) {
    ASSERT(scenario != NULL);
    ASSERT(index < tokens->count);
    char letters[4];
    if (!token_copy(tokens, index, letters, sizeof(letters))) return -1;
    return sim_scenario_currency_find(scenario, letters);
}

static int token_country(const struct sim_scenario *scenario, const struct tokens *tokens,
                         u32 index) {
    ASSERT(scenario != NULL);
    ASSERT(index < tokens->count);
    char code[3];
    if (!token_copy(tokens, index, code, sizeof(code))) return -1;
    return sim_scenario_country_find(scenario, code);
}

/* Each parse_* returns NULL when the line is good, else why it is not. */
static const char *parse_amount_usd(const struct tokens *tokens, u64 *cents) {
    ASSERT(tokens != NULL && cents != NULL);
    ASSERT(tokens->count <= TOKEN_COUNT_MAX);
    if (tokens->count != 1) return "expects one decimal in US dollars";
    if (sim_decimal_parse(tokens->start[0], tokens->length[0], 2, cents) != 0 ||
        *cents > (1ull << 53)) {
        return "not a decimal with at most 2 decimals, or too large";
    }
    return NULL;
}

static const char *parse_list_u32(const struct tokens *tokens, u32 *values, u32 count_max,
                                  u32 decimals, u32 *count) {
    ASSERT(values != NULL && count != NULL);
    ASSERT(decimals <= 6);
    if (tokens->count == 0 || tokens->count > count_max) return "expects 1 to the limit values";
    for (u32 index = 0; index < tokens->count; index++) {
        u64 value = 0;
        if (sim_decimal_parse(tokens->start[index], tokens->length[index], decimals, &value) !=
                0 ||
            value > U32_MAX) {
            return "a value is not a number of the expected precision";
        }
        values[index] = (u32)value;
    }
    *count = tokens->count;
    return NULL;
}

static const char *parse_time_key(const struct tokens *tokens, u32 *seconds) {
    ASSERT(tokens != NULL && seconds != NULL);
    ASSERT(tokens->count <= TOKEN_COUNT_MAX);
    if (tokens->count != 1 || !token_time(tokens, 0, seconds)) return "expects HH:MM or HH:MM:SS";
    return NULL;
}

static const char *parse_scalar_number(struct sim_scenario *scenario, u32 key,
                                       const struct tokens *tokens) {
    ASSERT(scenario != NULL && tokens != NULL);
    ASSERT(key < KEY_SCALAR_COUNT);
    u64 value = 0;
    u32 small = 0;
    switch (key) {
    case KEY_AMOUNT_MEAN: return parse_amount_usd(tokens, &scenario->amount_mean_usd_cents);
    case KEY_AMOUNT_MAX: return parse_amount_usd(tokens, &scenario->amount_max_usd_cents);
    case KEY_FX_QUOTE_MAX: return parse_amount_usd(tokens, &scenario->fx_quote_max_usd_cents);
    case KEY_AMOUNT_SIGMA:
        if (tokens->count != 1 ||
            sim_decimal_parse(tokens->start[0], tokens->length[0], 6, &value) != 0 ||
            value > U32_MAX) {
            return "expects one decimal with at most 6 decimals";
        }
        scenario->amount_sigma_micro = (u32)value;
        return NULL;
    default: break;
    }
    if (tokens->count != 1 || !token_u32(tokens, 0, &small)) return "expects one integer";
    if (key == KEY_BUSINESS_DAYS) scenario->business_days_per_year = small;
    if (key == KEY_HIGH_PRIORITY) scenario->high_priority_per_mille = small;
    if (key == KEY_FX_SPREAD) scenario->fx_spread_basis_points = small;
    if (key == KEY_PROFILE_SLOT) {
        if (small == 0 || small > 24 * 60) return "minutes must be 1..1440";
        scenario->profile_slot_seconds = small * 60;
    }
    return NULL;
}

static const char *parse_scalar(struct sim_scenario *scenario, u32 key,
                                const struct tokens *tokens) {
    ASSERT(scenario != NULL && tokens != NULL);
    ASSERT(key < KEY_SCALAR_COUNT);
    switch (key) {
    case KEY_NAME:
        if (tokens->count == 0 || !token_rest(tokens, 0, scenario->name, sizeof(scenario->name)))
            return "expects a name of at most 47 bytes";
        return NULL;
    case KEY_DAY_OPEN: return parse_time_key(tokens, &scenario->day_open_seconds);
    case KEY_CUSTOMER_CUTOFF: return parse_time_key(tokens, &scenario->customer_cutoff_seconds);
    case KEY_INTERBANK_CUTOFF:
        return parse_time_key(tokens, &scenario->interbank_cutoff_seconds);
    case KEY_DAY_CLOSE: return parse_time_key(tokens, &scenario->day_close_seconds);
    case KEY_PROFILE:
        return parse_list_u32(tokens, scenario->profile_weights, SIM_PROFILE_SLOT_COUNT_MAX, 0,
                              &scenario->profile_slot_count);
    case KEY_LIQUIDITY_A:
        return parse_list_u32(tokens, scenario->alpha_per_mille, SIM_ALPHA_COUNT_MAX, 3,
                              &scenario->alpha_count);
    default: return parse_scalar_number(scenario, key, tokens);
    }
}

static const char *parse_currency(struct sim_scenario *scenario, const struct tokens *tokens) {
    ASSERT(scenario->currency_count <= SIM_CURRENCY_COUNT_MAX);
    ASSERT(tokens->count <= TOKEN_COUNT_MAX);
    if (tokens->count != 4) return "expects LETTERS NUMERIC MINOR_UNITS UNITS_PER_USD";
    if (scenario->currency_count == SIM_CURRENCY_COUNT_MAX) return "too many currencies";
    struct sim_currency *currency = &scenario->currencies[scenario->currency_count];
    u32 numeric = 0, minor_units = 0;
    if (!token_copy(tokens, 0, currency->letters, sizeof(currency->letters)) ||
        strlen(currency->letters) != 3) {
        return "currency letters must be three characters";
    }
    if (sim_scenario_currency_find(scenario, currency->letters) >= 0) return "duplicate currency";
    if (!token_u32(tokens, 1, &numeric) || numeric == 0 || numeric > 999) {
        return "numeric code must be 1..999";
    }
    if (!token_u32(tokens, 2, &minor_units) || minor_units > 4) return "minor units must be 0..4";
    if (sim_decimal_parse(tokens->start[3], tokens->length[3], SIM_RATE_DECIMALS,
                          &currency->units_per_usd_micro) != 0 ||
        currency->units_per_usd_micro == 0 || currency->units_per_usd_micro > (1ull << 48)) {
        return "rate must be a positive decimal with at most 6 decimals";
    }
    currency->numeric = numeric;
    currency->minor_units = (u8)minor_units;
    scenario->currency_count++;
    return NULL;
}

static const char *parse_country(struct sim_scenario *scenario, const struct tokens *tokens) {
    ASSERT(scenario->country_count <= SIM_COUNTRY_COUNT_MAX);
    ASSERT(tokens->count <= TOKEN_COUNT_MAX);
    if (tokens->count < 4) return "expects CODE CURRENCY LOCATION NAME";
    if (scenario->country_count == SIM_COUNTRY_COUNT_MAX) return "too many countries";
    struct sim_country *country = &scenario->countries[scenario->country_count];
    if (!token_copy(tokens, 0, country->code, sizeof(country->code)) ||
        strlen(country->code) != 2 || !is_upper(country->code[0]) ||
        !is_upper(country->code[1])) {
        return "country code must be two capitals";
    }
    if (sim_scenario_country_find(scenario, country->code) >= 0) return "duplicate country";
    int currency = token_currency(scenario, tokens, 1);
    if (currency < 0) return "unknown currency (declare it on an earlier line)";
    if (!token_copy(tokens, 2, country->location, sizeof(country->location)) ||
        strlen(country->location) != 2) {
        return "BIC location must be two characters";
    }
    if (!token_rest(tokens, 3, country->name, sizeof(country->name))) return "name too long";
    country->currency = (u8)currency;
    scenario->country_count++;
    return NULL;
}

static const char *parse_bank(struct sim_scenario *scenario, const struct tokens *tokens) {
    ASSERT(scenario->bank_count <= SIM_BANK_COUNT_MAX);
    ASSERT(tokens->count <= TOKEN_COUNT_MAX);
    if (tokens->count < 4) return "expects BIC ROLE WEIGHT NAME";
    if (scenario->bank_count == SIM_BANK_COUNT_MAX) return "too many banks";
    struct sim_bank *bank = &scenario->banks[scenario->bank_count];
    if (!token_copy(tokens, 0, bank->bic, sizeof(bank->bic)) || strlen(bank->bic) != 11 ||
        !sim_bic_valid(bank->bic, 11)) {
        return "not an 11-character BIC (4 letters, 2 letters, 2 and 3 letters or digits)";
    }
    if (sim_scenario_bank_find(scenario, bank->bic) >= 0) return "duplicate BIC";
    char country[3] = {bank->bic[4], bank->bic[5], 0};
    int country_index = sim_scenario_country_find(scenario, country);
    if (country_index < 0) return "the BIC's country is not declared on an earlier line";
    u32 role = SIM_ROLE_COUNT;
    for (u32 index = 0; index < SIM_ROLE_COUNT; index++) {
        if (token_equals(tokens, 1, role_names[index])) role = index;
    }
    if (role == SIM_ROLE_COUNT) return "role must be bank, liquidity_provider or settlement_agent";
    u64 weight = 0;
    if (sim_decimal_parse(tokens->start[2], tokens->length[2], 6, &weight) != 0 ||
        weight > U32_MAX) {
        return "weight must be a decimal with at most 6 decimals";
    }
    if (!token_rest(tokens, 3, bank->name, sizeof(bank->name))) return "name too long";
    bank->country = (u8)country_index;
    bank->role = (u8)role;
    bank->weight_micro = (u32)weight;
    scenario->bank_count++;
    return NULL;
}

static const char *parse_quote(struct sim_scenario *scenario, const struct tokens *tokens) {
    ASSERT(scenario->quote_count <= SIM_QUOTE_COUNT_MAX);
    ASSERT(tokens->count <= TOKEN_COUNT_MAX);
    if (tokens->count != 3) return "expects PROVIDER_BIC FROM TO";
    if (scenario->quote_count == SIM_QUOTE_COUNT_MAX) return "too many quotes";
    char bic[12];
    if (!token_copy(tokens, 0, bic, sizeof(bic))) return "not a BIC";
    int provider = sim_scenario_bank_find(scenario, bic);
    if (provider < 0 || scenario->banks[provider].role != SIM_ROLE_LIQUIDITY_PROVIDER) {
        return "not a liquidity provider declared on an earlier line";
    }
    int from = token_currency(scenario, tokens, 1);
    int to = token_currency(scenario, tokens, 2);
    if (from < 0 || to < 0 || from == to) return "currencies must be two different known ones";
    scenario->quotes[scenario->quote_count++] = (struct sim_quote){(u16)provider, (u8)from,
                                                                   (u8)to};
    return NULL;
}

static const char *parse_pair(struct sim_scenario *scenario, const struct tokens *tokens) {
    ASSERT(scenario->pair_count <= SIM_PAIR_COUNT_MAX);
    ASSERT(tokens->count <= TOKEN_COUNT_MAX);
    if (tokens->count < 4 || tokens->count > 3 + SIM_MIX_COUNT_MAX) {
        return "expects EXPORTER IMPORTER USD_BN_PER_YEAR and 1 to 4 CURRENCY:PERCENT";
    }
    if (scenario->pair_count == SIM_PAIR_COUNT_MAX) return "too many pairs";
    struct sim_pair *pair = &scenario->pairs[scenario->pair_count];
    int exporter = token_country(scenario, tokens, 0);
    int importer = token_country(scenario, tokens, 1);
    if (exporter < 0 || importer < 0 || exporter == importer) {
        return "countries must be two different ones declared on earlier lines";
    }
    if (sim_decimal_parse(tokens->start[2], tokens->length[2], 3,
                          &pair->usd_per_year_millions) != 0 ||
        pair->usd_per_year_millions == 0 || pair->usd_per_year_millions > (1ull << 40)) {
        return "value must be a positive decimal of USD billion with at most 3 decimals";
    }
    for (u32 index = 3; index < tokens->count; index++) {
        const char *text = tokens->start[index];
        u32 length = tokens->length[index];
        char letters[4];
        u32 percent = 0;
        if (length < 5 || text[3] != ':') return "mix items are CURRENCY:PERCENT";
        copy_text(letters, sizeof(letters), text, 3);
        int currency = sim_scenario_currency_find(scenario, letters);
        if (currency < 0) return "unknown currency in the mix";
        u64 parsed = 0;
        if (sim_decimal_parse(text + 4, length - 4, 0, &parsed) != 0 || parsed > 100) {
            return "percent must be an integer 0..100";
        }
        percent = (u32)parsed;
        pair->mix[index - 3] = (struct sim_mix){(u8)currency, (u8)percent};
    }
    pair->exporter = (u8)exporter;
    pair->importer = (u8)importer;
    pair->mix_count = (u8)(tokens->count - 3);
    scenario->pair_count++;
    return NULL;
}

static const char *parse_item(struct sim_scenario *scenario, u32 *seen, const char *key,
                              size_t key_length, const struct tokens *tokens) {
    ASSERT(scenario != NULL && seen != NULL);
    ASSERT(key != NULL || key_length == 0);
    static const char *const list_keys[] = {"currency", "country", "bank", "quote", "pair"};
    for (u32 index = 0; index < KEY_SCALAR_COUNT; index++) {
        if (strlen(scalar_keys[index]) != key_length ||
            memcmp(scalar_keys[index], key, key_length) != 0) {
            continue;
        }
        if (*seen & (1u << index)) return "key given twice";
        const char *problem = parse_scalar(scenario, index, tokens);
        if (problem == NULL) *seen |= 1u << index;
        return problem;
    }
    for (u32 index = 0; index < ARRAY_COUNT(list_keys); index++) {
        if (strlen(list_keys[index]) != key_length ||
            memcmp(list_keys[index], key, key_length) != 0) {
            continue;
        }
        if (index == 0) return parse_currency(scenario, tokens);
        if (index == 1) return parse_country(scenario, tokens);
        if (index == 2) return parse_bank(scenario, tokens);
        if (index == 3) return parse_quote(scenario, tokens);
        return parse_pair(scenario, tokens);
    }
    return "unknown key";
}

static void trim(const char **text, size_t *length) {
    ASSERT(text != NULL && length != NULL);
    ASSERT(*text != NULL || *length == 0);
    while (*length > 0 && (**text == ' ' || **text == '\t')) {
        (*text)++;
        (*length)--;
    }
    while (*length > 0 && ((*text)[*length - 1] == ' ' || (*text)[*length - 1] == '\t' ||
                           (*text)[*length - 1] == '\r')) {
        (*length)--;
    }
}

static void parse_line(struct sim_scenario *scenario, u32 *seen, u32 line_number,
                       const char *line, size_t length, struct sim_scenario_errors *errors) {
    ASSERT(line_number > 0);
    ASSERT(line != NULL || length == 0);
    struct tokens tokens; /* about 1.3 KiB */
    trim(&line, &length);
    if (length == 0 || line[0] == '#') return;
    if (length > SIM_LINE_BYTES_MAX) {
        sim_error_add(errors, line_number, "line longer than %u bytes", SIM_LINE_BYTES_MAX);
        return;
    }
    const char *equals = memchr(line, '=', length);
    if (equals == NULL) {
        sim_error_add(errors, line_number, "expected `key = value`");
        return;
    }
    const char *key = line;
    size_t key_length = (size_t)(equals - line);
    const char *value = equals + 1;
    size_t value_length = length - key_length - 1;
    trim(&key, &key_length);
    trim(&value, &value_length);
    tokenize(value, value_length, &tokens);
    const char *problem = tokens.overflow ? "too many values"
                                          : parse_item(scenario, seen, key, key_length, &tokens);
    if (problem != NULL) {
        sim_error_add(errors, line_number, "%.*s: %s", (int)MIN(key_length, 40), key, problem);
    }
}

khorgos_error sim_scenario_parse(const char *text, size_t length, struct sim_scenario *scenario,
                                 struct sim_scenario_errors *errors) {
    ASSERT(text != NULL || length == 0);
    ASSERT(scenario != NULL && errors != NULL);
    memset(scenario, 0, sizeof(*scenario));
    memset(errors, 0, sizeof(*errors));
    u32 seen = 0, line_number = 0;
    size_t position = 0;
    while (position < length) {
        const char *newline = memchr(text + position, '\n', length - position);
        size_t end = newline != NULL ? (size_t)(newline - text) : length;
        line_number++;
        parse_line(scenario, &seen, line_number, text + position, end - position, errors);
        position = end + 1;
    }
    for (u32 index = 0; index < KEY_SCALAR_COUNT; index++) {
        if (!(seen & (1u << index))) sim_error_add(errors, 0, "missing key %s", scalar_keys[index]);
    }
    if (errors->count > 0) return KHORGOS_ERROR_invalid_argument;
    return sim_scenario_validate(scenario, errors);
}

khorgos_error sim_scenario_read_path(const char *path, struct sim_scenario *scenario,
                                     struct sim_scenario_errors *errors) {
    ASSERT(path != NULL && scenario != NULL && errors != NULL);
    /* A scenario file is small: lines of at most SIM_LINE_BYTES_MAX for at most the listed
     * items, so a bound on the whole file follows. */
    enum { file_bytes_max = SIM_LINE_BYTES_MAX * (SIM_BANK_COUNT_MAX + SIM_QUOTE_COUNT_MAX +
                                                  SIM_PAIR_COUNT_MAX + 256) };
    memset(errors, 0, sizeof(*errors));
    khorgos_error error = KHORGOS_ERROR_io;
    char *text = malloc(file_bytes_max);
    if (text == NULL) return KHORGOS_ERROR_out_of_memory;
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        sim_error_add(errors, 0, "cannot open %s: %s", path, strerror(errno));
        goto free_text;
    }
    size_t length = fread(text, 1, file_bytes_max, file);
    bool failed = ferror(file) != 0, too_long = length == file_bytes_max;
    fclose(file);
    if (failed || too_long) {
        sim_error_add(errors, 0, too_long ? "file longer than %u bytes" : "cannot read (%u)",
                      (u32)file_bytes_max);
        goto free_text;
    }
    error = sim_scenario_parse(text, length, scenario, errors);
free_text:
    free(text);
    ASSERT(error != KHORGOS_ERROR_ok || errors->count == 0);
    return error;
}
