/*
 * sim: the simulator's pure, deterministic parts: the scenario (who trades with whom, how much,
 * in which currencies), the payment generator (one business day of payments), the metrics
 * (Leinonen and Soramäki's liquidity and delay measures) and the report writers. None of it
 * touches the engine: the caller (the `khorgos simulate` command) runs the day through the
 * engine once per design and liquidity level and hands the outcomes back here as plain structs.
 *
 * Files of this layer
 *   sim_scenario.c  the default scenario, validation, BICs, fixed-point decimals, the scenario
 *                   file format (reader and writer)
 *   sim_generate.c  the PRNG (xoshiro256** seeded by splitmix64) and the day's payments
 *   sim_interbank.c the default day's interbank layer (money market, FX, securities, cover,
 *                   central-bank operations) added to the trade invoices
 *   sim_payments_csv.c  an operator's own day read from a CSV file instead
 *   sim_metrics.c   upper and lower bound, liquidity used, delay, settlement ratios, queues,
 *                   intraday series, the starting liquidity rule, USD conversion by country
 *   sim_report.c    metrics.json, payments.csv, the self-contained report.html and the
 *                   terminal summary
 *   sim_summary.c   means and Student-t confidence intervals over seeds
 *   sim_run.c       one design at one liquidity level run through the real engine, embedded
 *                   on the manual clock (the one file of this layer that uses the engine)
 *
 * Numbers. Every amount is an integer in a currency's minor unit (u128, or i128 for positions);
 * exchange rates are fixed-point integers (units of the currency per US dollar, times 10^6);
 * shares are per cent or per mille. Doubles appear only in the log-normal draw of invoice sizes
 * (rescaled to an exact integer total afterwards) and in ratios (delay, settlement ratios).
 *
 * Time. Times in a day are whole seconds since the day's opening (day_open_seconds after
 * midnight). A payment's settled_at is SIM_NEVER when it never settled.
 *
 * Invariants
 *  1. A scenario that passed sim_scenario_validate has: every BIC valid and unique, its country
 *     known; one settlement agent per currency; every pair between two known countries with at
 *     least one bank each, its invoicing mix summing to 100 per cent over known currencies; the
 *     intraday profile exactly covering [open, customer cut-off).
 *  2. A generated day is sorted by (submitted_at, id), ids are 1..count, every trade
 *     payment's submitted_at is before the customer cut-off (an interbank one's before the
 *     interbank cut-off), and each pair's value in US cents (at the scenario's rates) equals its
 *     daily target up to the rounding of one minor unit per payment.
 *  3. For every participant and currency, 0 <= lower_bound <= upper_bound. (Liquidity used
 *     may exceed the upper bound: when a participant's receipts are delayed, it can need more
 *     than it would if everything settled at once.)
 */
#ifndef KHORGOS_SIM_H
#define KHORGOS_SIM_H

#include "base/base.h"

#include <stdio.h>

typedef __int128 i128;

/* ----------------------------------------------------------------------------------------- */
/* Limits, each with its reason.                                                              */

/* Currencies: the region's seven plus the US dollar, with room for a user's scenario. */
#define SIM_CURRENCY_COUNT_MAX 16u
/* Countries: the seven of the default scenario plus the dollar's, with room to grow. */
#define SIM_COUNTRY_COUNT_MAX 16u
/* Participants (banks, providers, agents): indexes are u16 in payment records; 1024 is far
 * above any real regional system (CIPS had 168 direct participants at the end of 2024). */
#define SIM_BANK_COUNT_MAX 1024u
/* Directed country pairs: 16 countries give at most 240. */
#define SIM_PAIR_COUNT_MAX 240u
/* Invoicing currencies per pair: real trade uses two or three; four leaves room. */
#define SIM_MIX_COUNT_MAX 4u
/* Quoted currency pairs across all providers. */
#define SIM_QUOTE_COUNT_MAX 512u
/* Intraday profile slots (e.g. 17 half-hours from 08:30 to 17:00; 96 allows 10 minutes). */
#define SIM_PROFILE_SLOT_COUNT_MAX 96u
/* Values of a in the liquidity sweep. */
#define SIM_ALPHA_COUNT_MAX 16u
/* Payments in one generated day: 16.7 million, above the "one million payments" target with
 * room; each record is 48 bytes, so at most 768 MiB, reserved once. */
#define SIM_PAYMENT_COUNT_MAX (1u << 24)
/* --scale in per mille: at most 1000 times the default day. */
#define SIM_SCALE_PER_MILLE_MAX 1000000u
/* Bytes of one scenario file line, and of a name. */
#define SIM_LINE_BYTES_MAX 512u
#define SIM_NAME_BYTES_MAX 48u
/* Bad lines collected from one scenario file before the reader stops listing them. */
#define SIM_SCENARIO_ERROR_COUNT_MAX 16u
/* Seconds in a day: every time of day is below this. */
#define SIM_DAY_SECONDS 86400u
/* Intraday series resolution for the charts: five minutes; 288 buckets cover a whole day. */
#define SIM_SERIES_BUCKET_SECONDS 300u
#define SIM_SERIES_BUCKET_COUNT_MAX (SIM_DAY_SECONDS / SIM_SERIES_BUCKET_SECONDS)
/* Fixed-point scale of exchange rates: units per US dollar times 10^6 (UZS 11667 fits, and
 * CNY 7.2056 is exact). */
#define SIM_RATE_SCALE 1000000u
#define SIM_RATE_DECIMALS 6u
/* Largest amount in one payment or flow: 2^80 minor units (10^24; a USD 100 million payment in
 * UZS tiyin is about 2^47), so that sums over 2^26 flows of amount x seconds of a day (2^17)
 * stay below 2^123, inside a u128 with room. */
#define SIM_AMOUNT_MAX ((u128)1 << 80)
/* Designs in one report (the issue names five) and runs of one seed (design times a). */
#define SIM_DESIGN_COUNT_MAX 8u
#define SIM_RUN_COUNT_MAX (SIM_DESIGN_COUNT_MAX * SIM_ALPHA_COUNT_MAX)
/* Seeds in one report: each adds a day under every run; 100 narrow a 95% interval to a fifth
 * of one standard deviation, more than a comparison of designs needs. */
#define SIM_SEED_COUNT_MAX 100u

/* The report's cost rates (docs/simulation.md, "Costs"). Liquidity: 5% a year over 250
 * business days, 2 basis points of the liquidity used per day, the order of the region's policy
 * rates (an opportunity cost of holding central-bank money). Delay: 1 basis point of the value
 * per hour waited, so that a payment's hour of delay costs half of a day's liquidity for it
 * (the delay cost rate above the liquidity rate, as in Bech and Garratt's and Martin and
 * McAndrews's models, or no bank would ever pay early). */
#define SIM_LIQUIDITY_COST_BASIS_POINTS_PER_DAY 2.0
#define SIM_DELAY_COST_BASIS_POINTS_PER_HOUR 1.0

/* A payment that never settled. */
#define SIM_NEVER U32_MAX
/* No participant (e.g. no liquidity provider for a same-currency payment). */
#define SIM_NONE 0xFFFFu

_Static_assert(SIM_BANK_COUNT_MAX < SIM_NONE, "participant indexes fit in u16 besides SIM_NONE");
_Static_assert(SIM_CURRENCY_COUNT_MAX <= 255, "currency indexes fit in u8");
_Static_assert(SIM_COUNTRY_COUNT_MAX <= 255, "country indexes fit in u8");
_Static_assert(SIM_PAIR_COUNT_MAX <= SIM_COUNTRY_COUNT_MAX * (SIM_COUNTRY_COUNT_MAX - 1),
               "pairs are directed pairs of distinct countries");
_Static_assert(SIM_PAYMENT_COUNT_MAX < SIM_NEVER, "payment ids and times fit in u32");
_Static_assert(SIM_DAY_SECONDS % SIM_SERIES_BUCKET_SECONDS == 0, "buckets tile the day");

/* ----------------------------------------------------------------------------------------- */
/* Scenario.                                                                                  */

enum sim_role {
    SIM_ROLE_BANK = 0,               /* a commercial bank: pays and receives trade payments */
    SIM_ROLE_LIQUIDITY_PROVIDER = 1, /* quotes currency pairs for PvP conversion */
    SIM_ROLE_SETTLEMENT_AGENT = 2,   /* the central bank of its country's currency */
    SIM_ROLE_COUNT = 3,
};

struct sim_currency {
    char letters[4];            /* ISO 4217, "CNY" */
    u32 numeric;                /* ISO 4217 numeric, the engine's ledger number */
    u8 minor_units;
    u64 units_per_usd_micro;    /* exchange rate, units of this currency per USD, x 10^6 */
};

struct sim_country {
    char code[3];               /* ISO 3166 alpha-2 */
    char location[3];           /* the BIC location code generated banks get, e.g. "BJ" */
    u8 currency;                /* index of its home currency */
    char name[SIM_NAME_BYTES_MAX];
};

struct sim_bank {
    char bic[12];               /* 11 characters, NUL-terminated; country at [4..5] */
    u8 country;
    u8 role;                    /* enum sim_role */
    u32 weight_micro;           /* relative size when choosing a payer or payee, x 10^6 */
    char name[SIM_NAME_BYTES_MAX];
};

struct sim_mix {
    u8 currency;
    u8 percent;
};

/* Trade from exporter to importer; payments go the other way (the importer pays). */
struct sim_pair {
    u8 exporter;                /* country index */
    u8 importer;
    u8 mix_count;
    struct sim_mix mix[SIM_MIX_COUNT_MAX];
    u64 usd_per_year_millions;  /* goods trade in this direction, USD million per year */
};

struct sim_quote {
    u16 provider;               /* bank index of a liquidity provider */
    u8 from;                    /* currency indexes: the provider converts from -> to */
    u8 to;
};

struct sim_scenario {
    char name[SIM_NAME_BYTES_MAX];
    u32 currency_count;
    u32 country_count;
    u32 bank_count;
    u32 pair_count;
    u32 quote_count;
    struct sim_currency currencies[SIM_CURRENCY_COUNT_MAX];
    struct sim_country countries[SIM_COUNTRY_COUNT_MAX];
    struct sim_bank banks[SIM_BANK_COUNT_MAX];
    struct sim_pair pairs[SIM_PAIR_COUNT_MAX];
    struct sim_quote quotes[SIM_QUOTE_COUNT_MAX];

    u32 business_days_per_year;       /* annual figures / this = one day */
    u64 amount_mean_usd_cents;        /* mean customer payment (log-normal mean) */
    u32 amount_sigma_micro;           /* log-normal sigma x 10^6 */
    u64 amount_max_usd_cents;         /* one invoice is clipped to this before rescaling */
    u32 high_priority_per_mille;      /* customer payments sent with priority "high" */
    u32 fx_spread_basis_points;       /* providers' spread around the mid rate */
    u64 fx_quote_max_usd_cents;       /* the most one quote converts */

    u32 day_open_seconds;             /* after midnight: 08:30 */
    u32 customer_cutoff_seconds;      /* after midnight: 17:00 */
    u32 interbank_cutoff_seconds;     /* after midnight: 17:30 */
    u32 day_close_seconds;            /* after midnight: 17:30 */
    u32 profile_slot_seconds;         /* width of one profile slot */
    u32 profile_slot_count;           /* slots from open to customer cut-off */
    u32 profile_weights[SIM_PROFILE_SLOT_COUNT_MAX];

    u32 alpha_count;                  /* the liquidity sweep: values of a, per mille */
    u32 alpha_per_mille[SIM_ALPHA_COUNT_MAX];
};

/* Why a scenario or a scenario file line is refused. */
struct sim_scenario_error {
    u32 line;                         /* 1-based; 0 for a check of the whole scenario */
    char message[120];
};

struct sim_scenario_errors {
    u32 count;                        /* errors found (may exceed the ones kept) */
    struct sim_scenario_error errors[SIM_SCENARIO_ERROR_COUNT_MAX];
};

/* Fills `scenario` with the built-in default (see docs/simulation.md for every figure). */
void sim_scenario_default(struct sim_scenario *scenario);
/* Checks invariant 1; returns ok or invalid_argument with the reasons in `errors`. */
khorgos_error sim_scenario_validate(const struct sim_scenario *scenario,
                                    struct sim_scenario_errors *errors);
/* Writes the scenario file format (documented in sim_scenario.c). Returns ok or io. */
khorgos_error sim_scenario_write(const struct sim_scenario *scenario, FILE *file);
khorgos_error sim_scenario_write_path(const struct sim_scenario *scenario, const char *path);
/* Reads a scenario file from memory; every bad line is reported with its line number and the
 * scenario is refused (invalid_argument) if there is any. On refusal `scenario` is unspecified. */
khorgos_error sim_scenario_parse(const char *text, size_t length, struct sim_scenario *scenario,
                                 struct sim_scenario_errors *errors);
/* The same from a file; io (with a line-0 error) when it cannot be read. */
khorgos_error sim_scenario_read_path(const char *path, struct sim_scenario *scenario,
                                     struct sim_scenario_errors *errors);
/* Counts an error of input line `line` (0: the file as a whole) and keeps its message, printf
 * style, while fewer than SIM_SCENARIO_ERROR_COUNT_MAX are kept. */
__attribute__((format(printf, 3, 4))) void
sim_error_add(struct sim_scenario_errors *errors, u32 line, const char *format, ...);

/* Lookups; -1 when absent. */
int sim_scenario_currency_find(const struct sim_scenario *scenario, const char *letters);
int sim_scenario_country_find(const struct sim_scenario *scenario, const char *code);
int sim_scenario_bank_find(const struct sim_scenario *scenario, const char *bic);
/* The settlement agent of a currency (its country's central bank); -1 when absent. */
int sim_scenario_agent_of(const struct sim_scenario *scenario, u32 currency);
/* A pair's daily target in US cents: annual value / business days, rounded to the cent. */
u64 sim_pair_daily_usd_cents(const struct sim_scenario *scenario, u32 pair);
/* An amount in a currency's minor units, in US cents at the scenario's rate (rounded down). */
u128 sim_scenario_usd_cents(const struct sim_scenario *scenario, u32 currency, u128 amount);
/* US cents in a currency's minor units at the scenario's rate (rounded half up). */
u128 sim_scenario_from_usd_cents(const struct sim_scenario *scenario, u32 currency,
                                 u128 usd_cents);

/* ISO 9362 shape: 4 letters (bank), 2 letters (country), 2 letters or digits (location),
 * optionally 3 letters or digits (branch); upper case. 8 or 11 characters. */
bool sim_bic_valid(const char *bic, size_t length);

/* Fixed-point decimals: "24.7" with 3 decimals is 24700. Parse refuses signs, exponents,
 * more decimals than allowed and overflow (-1). Format trims trailing zeros ("24.7", "3"). */
int sim_decimal_parse(const char *text, size_t length, u32 decimals, u64 *value);
size_t sim_decimal_format(u64 value, u32 decimals, char *out, size_t capacity);

/* ----------------------------------------------------------------------------------------- */
/* The generator.                                                                             */

/* xoshiro256** (Blackman and Vigna), state seeded by splitmix64: small, fast, well tested and
 * identical on every platform. */
struct sim_random {
    u64 state[4];
};

void sim_random_seed(struct sim_random *random, u64 seed);
u64 sim_random_next(struct sim_random *random);
/* Uniform in [0, bound), bound > 0 (Lemire's multiply-shift; bias below 2^-32 for our bounds). */
u64 sim_random_below(struct sim_random *random, u64 bound);
/* Uniform double in (0, 1], 53 random bits. */
double sim_random_unit(struct sim_random *random);

enum sim_priority {
    SIM_PRIORITY_URGENT = 0,
    SIM_PRIORITY_HIGH = 1,
    SIM_PRIORITY_NORMAL = 2,
};

enum sim_payment_type {
    SIM_PAYMENT_CUSTOMER = 0,
    SIM_PAYMENT_INTERBANK = 1,
};

/* What a payment is for, as payments.csv reports it (the `kind` column). */
enum sim_payment_kind {
    SIM_KIND_TRADE = 0,               /* a trade invoice of a scenario pair */
    SIM_KIND_MONEY_MARKET = 1,        /* an interbank loan or its repayment */
    SIM_KIND_FX = 2,                  /* a leg of an FX trade or swap */
    SIM_KIND_SECURITIES = 3,          /* a securities settlement's cash leg */
    SIM_KIND_OTHER = 4,               /* anything else, and a file's payment without a kind */
    SIM_KIND_COUNT = 5,
};
const char *sim_kind_name(u32 kind);
/* The kind of a name; -1 when unknown. */
int sim_kind_parse(const char *name, size_t length);

enum sim_settlement {
    SIM_SETTLEMENT_GROSS = 0,
    SIM_SETTLEMENT_NET = 1,           /* collected in the open netting window */
};

/* A payment read from a file belongs to no scenario pair. */
#define SIM_PAIR_NONE 0xFFFFu
_Static_assert(SIM_PAIR_COUNT_MAX < SIM_PAIR_NONE, "pair indexes fit in u16 besides none");

/* One payment, 48 bytes. The padding is zeroed so that equal days are equal byte for byte. */
struct sim_payment {
    u128 amount;                      /* minor units of `currency`, > 0 */
    u32 id;                           /* 1..count, in submission order */
    u32 submitted_at;                 /* seconds since the day's opening */
    u16 debtor;                       /* bank index of the payer (importer's bank) */
    u16 creditor;                     /* bank index of the payee (exporter's bank) */
    u16 pair;                         /* index of the scenario pair it belongs to */
    u8 currency;                      /* the invoicing currency, paid by the debtor */
    u8 creditor_currency;             /* the exporter's home currency, received */
    u8 priority;                      /* enum sim_priority */
    u8 type;                          /* enum sim_payment_type */
    u8 settlement;                    /* enum sim_settlement */
    u8 kind;                          /* enum sim_payment_kind */
    u8 padding[12];
};
_Static_assert(sizeof(struct sim_payment) == 48, "a payment record is 48 bytes");

/* A generated day: the payments array is reserved once by sim_day_init. */
struct sim_day {
    struct sim_payment *payments;
    u32 count;
    u32 count_max;
    u64 seed;
    u32 scale_per_mille;
    u32 close_seconds;                /* day length: close - open */
    u32 customer_cutoff_seconds;      /* since opening */
    u32 interbank_cutoff_seconds;     /* since opening; 0: the close */
};

/* How many payments sim_generate will produce (for reserving memory); 0 if it would exceed
 * SIM_PAYMENT_COUNT_MAX. */
u32 sim_generate_count(const struct sim_scenario *scenario, u32 scale_per_mille);
khorgos_error sim_day_init(struct sim_day *day, u32 count_max);
void sim_day_deinit(struct sim_day *day);
/* Generates one business day (invariant 2). Returns invalid_argument for a bad scale and
 * capacity_full when the day's count exceeds day->count_max; nothing is written then. */
khorgos_error sim_generate(const struct sim_scenario *scenario, u64 seed, u32 scale_per_mille,
                           struct sim_day *day);

/* The interbank layer (sim_interbank.c): payments between banks added to a generated day of
 * trade invoices in each currency whose country has two banks or more; it adds as many for
 * every seed. count_max: the most it adds to a day of `trade_count` payments, for
 * sim_day_init. sim_interbank_add returns capacity_full (adding nothing) when the day has less
 * room than that. */
u32 sim_interbank_count_max(const struct sim_scenario *scenario, u32 trade_count);
khorgos_error sim_interbank_add(const struct sim_scenario *scenario, u64 seed,
                                struct sim_day *day);

/* ----------------------------------------------------------------------------------------- */
/* A day read from a payments file (--payments FILE.csv), format in sim_payments_csv.c.       */

/* Data rows in a CSV text (non-blank lines after the header): what sim_day_init must hold. */
u32 sim_payments_csv_count(const char *text, size_t length);
/* Reads the payments of `text` into `day` (reserved for at least sim_payments_csv_count rows),
 * sorted by (submitted_at, id). Each bad row is reported with its line number (the first
 * SIM_SCENARIO_ERROR_COUNT_MAX kept) and skipped; with `strict`, any bad row refuses the whole
 * file (invalid_argument, day->count 0). A bad header always refuses the file. */
khorgos_error sim_payments_csv_parse(const struct sim_scenario *scenario, const char *text,
                                     size_t length, bool strict, struct sim_day *day,
                                     struct sim_scenario_errors *errors);

/* ----------------------------------------------------------------------------------------- */
/* Metrics.                                                                                   */

enum sim_flow_flags {
    /* The flow is a payment as its payer submitted it: it counts for delay, settlement ratios
     * and queues. Legs that only move liquidity (a provider's leg of a PvP) lack it. */
    SIM_FLOW_PAYMENT = 1u << 0,
};

/* One movement of one currency from payer to payee: the settled-payment log's entry. */
struct sim_flow {
    u128 amount;                      /* minor units, 0 < amount <= SIM_AMOUNT_MAX */
    u32 submitted_at;                 /* seconds since opening */
    u32 settled_at;                   /* seconds since opening, or SIM_NEVER */
    u16 payer;
    u16 payee;
    u8 currency;
    u8 flags;                         /* enum sim_flow_flags */
    u8 padding[2];
    u32 ended_at;                     /* never settled: when it left its queue, as in
                                         sim_outcome; SIM_NEVER: waiting until the close */
    u32 due_at;                       /* the payment's cut-off (seconds since opening): it
                                         must settle before it; 0: none before the close */
    u32 padding_2[2];
};
_Static_assert(sizeof(struct sim_flow) == 48, "a flow record is 48 bytes");

struct sim_participant_metrics {
    u128 upper_bound;                 /* liquidity for zero delay */
    u128 lower_bound;                 /* liquidity for settling everything by its cut-off */
    u128 liquidity_used;              /* largest debit position reached */
    u128 queue_max_value;             /* largest value waiting at once */
    u128 submitted_value;             /* payments sent (SIM_FLOW_PAYMENT) */
    u128 settled_value;
    u128 delay_numerator;             /* sum of value x (settled - submitted) */
    u128 delay_denominator;           /* sum of value x (close - submitted) */
    u32 submitted_count;
    u32 settled_count;
    u32 queue_max_count;
    u32 padding;
};

/* System figures for one currency. Bounds and liquidity used are sums over participants; queue
 * maxima are the largest system-wide queue at one instant (not a sum of participants' maxima);
 * ratios are over all the currency's payments. */
struct sim_currency_metrics {
    struct sim_participant_metrics total;
    double delay_indicator;           /* 0 no delay .. 1 everything waited to the close */
    double settlement_ratio_value;
    double settlement_ratio_count;
    u32 series_count;                 /* buckets of SIM_SERIES_BUCKET_SECONDS from opening */
    /* At the end of each bucket, after everything at its last second (the last bucket ends at
     * or after the close): value queued, and liquidity in use (sum over participants of
     * their debit positions, i.e. of max(0, sent - received so far)). */
    u128 queue_series[SIM_SERIES_BUCKET_COUNT_MAX];
    u128 liquidity_series[SIM_SERIES_BUCKET_COUNT_MAX];
};

struct sim_metrics {
    u32 participant_count;
    u32 currency_count;
    u32 close_seconds;
    /* [participant * currency_count + currency] */
    struct sim_participant_metrics *participants;
    struct sim_currency_metrics currencies[SIM_CURRENCY_COUNT_MAX];
};

/* Scratch memory for sim_metrics_compute, reserved once for a day's flows. */
struct sim_metrics_workspace {
    struct sim_metrics_event *events;
    struct sim_metrics_event *events_by_time; /* the counting sort's first pass */
    u32 event_count_max;
    i128 *positions;                  /* [participant] */
    u32 participant_count_max;
    u32 *counts;                      /* counting sort buckets */
    u32 count_bucket_max;
};

khorgos_error sim_metrics_init(struct sim_metrics *metrics, u32 participant_count,
                               u32 currency_count);
void sim_metrics_deinit(struct sim_metrics *metrics);
khorgos_error sim_metrics_workspace_init(struct sim_metrics_workspace *workspace,
                                         u32 flow_count_max, u32 participant_count_max);
void sim_metrics_workspace_deinit(struct sim_metrics_workspace *workspace);
/* Computes every metric for a day of flows closing at `close_seconds` after opening. Flows need
 * not be sorted. Returns invalid_argument (changing nothing) for a flow out of range. */
khorgos_error sim_metrics_compute(struct sim_metrics *metrics,
                                  struct sim_metrics_workspace *workspace,
                                  const struct sim_flow *flows, u32 flow_count,
                                  u32 close_seconds);
static inline struct sim_participant_metrics *
sim_metrics_at(const struct sim_metrics *metrics, u32 participant, u32 currency) {
    return &metrics->participants[participant * metrics->currency_count + currency];
}
/* The delay indicator of a numerator and denominator: 0 when nothing could wait. */
double sim_delay_indicator(u128 numerator, u128 denominator);
/* Starting liquidity L = LB + a (UB - LB), a = alpha_per_mille / 1000, rounded up to the
 * minor unit, so that a = 1 gives exactly UB and a = 0 exactly LB. */
u128 sim_liquidity_start(u128 lower_bound, u128 upper_bound, u32 alpha_per_mille);
/* Liquidity used by a country's banks (role bank), summed over currencies in US cents. */
u128 sim_metrics_country_usd_cents(const struct sim_scenario *scenario,
                                   const struct sim_metrics *metrics, u32 country);

/* ----------------------------------------------------------------------------------------- */
/* Outcomes of a run through the engine, and the report.                                      */

enum sim_status {
    SIM_STATUS_SETTLED = 0,
    SIM_STATUS_REJECTED = 1,          /* refused, or still queued at its cut-off */
    SIM_STATUS_CANCELLED = 2,
    SIM_STATUS_COUNT = 3,
};

enum sim_outcome_flags {
    /* Settled together with other payments in one set (offsetting on entry, a gridlock
     * resolution or a netting window) rather than alone from its payer's balance. */
    SIM_OUTCOME_IN_SET = 1u << 0,
};

/* What happened to one payment of the day in one run, in the day's payment order. Set
 * provider and vehicle_provider to SIM_NONE when there is none (0 is a bank's index). */
struct sim_outcome {
    u128 creditor_amount;             /* minor units of the creditor currency (0: unknown) */
    u128 vehicle_amount;              /* minor units of vehicle_currency on a vehicle route */
    u32 settled_at;                   /* seconds since opening, or SIM_NEVER */
    u16 provider;                     /* the provider paid by the debtor, or SIM_NONE */
    u16 vehicle_provider;             /* the provider paying the creditor on a vehicle route,
                                         or SIM_NONE for a direct route */
    u8 vehicle_currency;              /* the vehicle currency's index (USD, CNY, ...) */
    u8 status;                        /* enum sim_status */
    u8 reason;                        /* not settled: why (the engine's settlement status, named
                                         by sim_reason_name); 0 otherwise */
    u8 flags;                         /* enum sim_outcome_flags */
    u32 ended_at;                     /* never settled: seconds since opening when it left its
                                         queue (rejected or cancelled; at submission when it
                                         was never queued); SIM_NEVER: still waiting at the close */
};
_Static_assert(sizeof(struct sim_outcome) == 48, "an outcome record is 48 bytes");

/* SIM_FLOWS_PER_PAYMENT_MAX flows per payment at most: debtor -> provider, provider -> vehicle
 * provider, vehicle provider -> creditor. */
#define SIM_FLOWS_PER_PAYMENT_MAX 3u

/* The flows of a day in one run, for sim_metrics_compute. Every flow of a payment has the
 * payment's submission time and settlement time (legs of a PvP settle together, or not at all).
 *   - same currency, or no provider known: one flow, debtor -> creditor, in the debtor's
 *     currency (the rule: a cross-currency payment counts in its debtor's currency);
 *   - direct PvP (provider set, vehicle_provider SIM_NONE): debtor -> provider in the payment's
 *     currency, provider -> creditor, creditor_amount in creditor_currency;
 *   - vehicle route (both set): debtor -> provider, provider -> vehicle_provider (vehicle_amount
 *     in vehicle_currency; no flow when it is the same provider), vehicle_provider -> creditor.
 * Only the debtor's flow is flagged SIM_FLOW_PAYMENT; a leg with amount 0 (not known) is left
 * out. `flows` holds SIM_FLOWS_PER_PAYMENT_MAX x day->count; returns how many were written. */
u32 sim_flows_from_day(const struct sim_day *day, const struct sim_outcome *outcomes,
                       struct sim_flow *flows);

/* Reference outcomes: every payment settled at its submission, each conversion at the mid rate
 * (no spread) by the first provider in the scenario quoting it, which is the engine's choice
 * when all quotes are equal and posted in scenario order. Routing as the engine's: direct_first
 * (vehicle_only false) takes a direct quote and otherwise goes through `vehicle_currency`;
 * vehicle_only converts every cross-currency payment through `vehicle_currency` (in one step
 * when one side already is that currency). A payment with no route keeps provider SIM_NONE.
 * The flows of these outcomes give each participant's upper and lower bound under the design's
 * routing, from which sim_liquidity_start sets its starting liquidity. */
void sim_outcomes_on_arrival(const struct sim_scenario *scenario, const struct sim_day *day,
                             bool vehicle_only, u32 vehicle_currency,
                             struct sim_outcome *outcomes);

/* One design at one value of a, as the caller ran it. The per-currency figures from the
 * outcomes (delays, rejections, offsetting) are filled by sim_run_outcome_figures. */
struct sim_run {
    const char *design;               /* "rtgs_lsm", ... */
    u32 alpha_per_mille;
    u64 seed;                         /* the seed of the day it ran */
    u32 gridlocks_resolved[SIM_CURRENCY_COUNT_MAX]; /* resolution runs settling >= 1 payment */
    u128 fx_converted[SIM_CURRENCY_COUNT_MAX];      /* value converted from this currency */
    /* Time in queue of the settled payments (settled_at - submitted_at, seconds): median, 95th
     * percentile (nearest rank) and largest; 0 when none settled. */
    u32 delay_p50_seconds[SIM_CURRENCY_COUNT_MAX];
    u32 delay_p95_seconds[SIM_CURRENCY_COUNT_MAX];
    u32 delay_max_seconds[SIM_CURRENCY_COUNT_MAX];
    u32 rejected_count[SIM_CURRENCY_COUNT_MAX];     /* not settled (rejected or cancelled) */
    u128 rejected_value[SIM_CURRENCY_COUNT_MAX];
    u128 offset_value[SIM_CURRENCY_COUNT_MAX];      /* settled in a set (SIM_OUTCOME_IN_SET) */
    const struct sim_metrics *metrics;              /* computed by sim_metrics_compute */
    const struct sim_outcome *outcomes;             /* [day->count] */
};

/* Runs of several seeds: runs[seed_index x (run_count / seed_count) + k] is the k-th run (by
 * design, in the order, then a) on the day of the seed_index-th seed; each seed has the
 * same designs and values of a in the same order. `day` is the first seed's: payments.csv and
 * the charts through the day show the first seed's runs, whose outcomes are set; the other
 * seeds' runs need only metrics (their outcomes may be NULL). seed_count 0 is read as 1. */
struct sim_report {
    const struct sim_scenario *scenario;
    const struct sim_day *day;
    const struct sim_run *runs;
    u32 run_count;
    u32 seed_count;
};

/* Mean and 95% confidence interval of a figure over seeds (sim_summary.c). */
struct sim_interval {
    double mean;
    double low;                       /* mean - t(0.975, n - 1) s / sqrt(n); the mean if n = 1 */
    double high;
    u32 count;                        /* n, the seeds */
};

/* Student's t quantile of 0.975 (the two-sided 95% interval's) for `degrees` >= 1 degrees of
 * freedom: 12.706 for 1, 2.262 for 9, tending to 1.960. */
double sim_student_t95(u32 degrees);
/* The mean of values[0..count-1] (count >= 1) and its 95% Student-t interval. */
struct sim_interval sim_interval_of(const double *values, u32 count);

/* Fills run's delay percentiles, rejections and offset value per currency (the payment's, the
 * debtor's) from a day's outcomes; `scratch` holds day->count values. */
void sim_run_outcome_figures(const struct sim_day *day, const struct sim_outcome *outcomes,
                             u32 currency_count, u32 *scratch, struct sim_run *run);

/* Each writes DIR/<name> (the directory must exist). Returns ok or io. Same input, same bytes. */
khorgos_error sim_report_write_metrics_json(const struct sim_report *report, const char *path);
khorgos_error sim_report_write_payments_csv(const struct sim_report *report, const char *path);
khorgos_error sim_report_write_participants_csv(const struct sim_report *report,
                                                const char *path);
khorgos_error sim_report_write_html(const struct sim_report *report, const char *path);
/* The terminal's summary: one aligned line per run (design, a, liquidity used in USD million,
 * delay indicator, share settled by value, payments settled, gridlocks resolved, FX converted
 * in USD million). Returns ok or io. */
khorgos_error sim_report_write_summary(const struct sim_report *report, FILE *file);
/* All four (metrics.json, payments.csv, participants.csv, report.html) into a directory. */
khorgos_error sim_report_write_all(const struct sim_report *report, const char *directory);
const char *sim_status_name(u32 status);
const char *sim_priority_name(u32 priority);

/* ----------------------------------------------------------------------------------------- */
/* Running a day through the engine (sim_run.c, the `khorgos simulate` command's core).      */

/* The designs, in the order (the order of the report). */
enum sim_design {
    SIM_DESIGN_RTGS_NO_QUEUE = 0,     /* gross; uncovered on arrival: rejected */
    SIM_DESIGN_RTGS_FIFO = 1,         /* gross; fifo queues; no liquidity saving */
    SIM_DESIGN_RTGS_LSM = 2,          /* gross; bypass-fifo; offsetting on entry; resolution */
    SIM_DESIGN_DNS_HOURLY = 3,        /* deferred net settlement in windows */
    SIM_DESIGN_USD_VEHICLE = 4,       /* rtgs_lsm with every conversion through US dollars */
    SIM_DESIGN_COUNT = 5,
};
_Static_assert(SIM_DESIGN_COUNT <= SIM_DESIGN_COUNT_MAX, "the designs fit a report");

/* Gridlock resolution runs every 5 minutes under rtgs_lsm (TARGET2 ran its algorithms
 * continuously; 5 minutes is the series' resolution); netting windows close every hour. */
#define SIM_RESOLUTION_INTERVAL_SECONDS_DEFAULT 300u
#define SIM_NETTING_INTERVAL_SECONDS_DEFAULT 3600u
/* Unwinds tried on one window at the close before the rest of it is aborted: each unwind
 * removes every short participant's payments, so a few rounds settle what can be. */
#define SIM_UNWIND_ROUNDS_MAX 8u
/* A participant holds at most the engine's number of currencies. */
#define SIM_PARTICIPANT_CURRENCY_COUNT_MAX KHORGOS_PARTICIPANT_CURRENCIES_MAX

const char *sim_design_name(u32 design);
/* An outcome's reason: the engine's status name ("insufficient_funds", "unwound", ...) and its
 * ISO 20022 status reason code ("AM04", "TM01", ...; "NARR" for a status without one). */
const char *sim_reason_name(u32 reason);
const char *sim_reason_iso(u32 reason);
/* The design of a name; -1 when unknown. */
int sim_design_parse(const char *name, size_t length);

struct sim_run_config {
    u32 design;                       /* enum sim_design */
    u32 alpha_per_mille;              /* the liquidity level a, per mille */
    u32 resolution_interval_seconds;  /* rtgs_lsm, usd_vehicle */
    u32 netting_interval_seconds;     /* dns_hourly */
    const char *data_directory;       /* NULL: the engine in memory; else a new directory */
};

/* Memory for running one day many times, reserved once by sim_runner_init. */
struct sim_runner {
    const struct sim_scenario *scenario;
    const struct sim_day *day;
    u32 vehicle_direct;               /* currency index of the direct design's vehicle (CNY) */
    u32 vehicle_usd;                  /* currency index of USD */
    u16 currency_mask[SIM_BANK_COUNT_MAX]; /* currencies each participant holds */
    bool bounds_ready[2];             /* [0] direct routing, [1] through USD */
    struct sim_metrics bounds[2];     /* on-arrival metrics: each participant's UB and LB */
    struct sim_metrics_workspace workspace;
    struct sim_outcome *reference[2]; /* [routing][day->count]: everything on arrival */
    struct sim_flow *flows;           /* [SIM_FLOWS_PER_PAYMENT_MAX x day->count] */
    struct khorgos_payment *records;  /* [KHORGOS_BATCH_EVENTS_MAX], requests and replies */
    struct khorgos_settle_result *results; /* [KHORGOS_BATCH_EVENTS_MAX] */
    u128 *ids;                        /* [KHORGOS_BATCH_EVENTS_MAX] */
    /* dns_hourly: each payment's id in the engine (a payment unwound from a window is
     * submitted again to the next under a new id), and payment indexes of the open window and
     * of those carried to the next. [day->count] each. */
    u128 *engine_ids;
    u32 *window_members;
    u32 *window_carried;
    char message[200];                /* why the last call failed */
};

/* Checks that the engine can hold the scenario (at most SIM_PARTICIPANT_CURRENCY_COUNT_MAX
 * currencies per participant) and reserves memory; invalid_argument (message set) or
 * out_of_memory. The scenario and day must outlive the runner. */
khorgos_error sim_runner_init(struct sim_runner *runner, const struct sim_scenario *scenario,
                              const struct sim_day *day);
void sim_runner_deinit(struct sim_runner *runner);
/* Runs the day through a fresh engine under one design at one a: fills outcomes[day->count],
 * computes `metrics` (sim_metrics_init'd for bank_count x currency_count) and fills `run`
 * (design, a, gridlocks resolved, FX converted, and pointers to metrics and outcomes). Returns
 * ok, or the engine's error with runner->message saying which step failed. */
khorgos_error sim_run_design(struct sim_runner *runner, const struct sim_run_config *config,
                             struct sim_outcome *outcomes, struct sim_metrics *metrics,
                             struct sim_run *run);

#endif /* KHORGOS_SIM_H */
