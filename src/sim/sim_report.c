/*
 * sim_report.c: the simulator's three outputs, written from plain structs (struct sim_report:
 * the scenario, the day, and one struct sim_run per design and liquidity level), so that any
 * caller that ran a day (the engine, a test, another tool) gets the same files.
 *
 * metrics.json (one object; a "runs" entry per line for diffing):
 *   {"scenario": NAME, "seed": FIRST, "seeds": N, "scale": DECIMAL, "payment_count": N,
 *    "runs": [{"design", "a", "seed", "currency", "upper_bound", "lower_bound",
 *              "liquidity_used", "delay_indicator", "settlement_ratio_value",
 *              "settlement_ratio_count", "queue_max_count", "queue_max_value",
 *              "gridlocks_resolved", "fx_converted", "submitted_value", "settled_value",
 *              "submitted_count", "settled_count"}, ...],
 *    "summary": [{"design", "a", "currency", "metric", "mean", "ci95_low", "ci95_high", "n"}],
 *    "countries": [{"design", "a", "seed", "country", "liquidity_needed_usd"}, ...]}
 *   Amounts of runs and countries are strings of decimals in the currency's major unit (exact);
 *   a and the ratios are JSON numbers (a with up to 3 decimals, ratios with 6). One "runs" entry
 *   per seed, run and scenario currency, one "countries" entry per seed, run and country that
 *   has banks; one "summary" entry per run, currency ("all": every currency in US dollars) and
 *   metric, over the seeds (sim_summary.c), amounts with 2 decimals and the rest with 6.
 *
 * payments.csv: the header
 *   design,a,id,debtor,creditor,currency,amount,creditor_currency,creditor_amount,priority,
 *   submitted_at,settled_at,status,reason,reason_iso,kind
 *   then one row per run of the first seed and payment of its day, runs in the order given
 *   (design, then a), payments in the day's order (submission). debtor and creditor are BICs;
 *   amounts decimals in major units; times seconds since the opening; settled_at and
 *   creditor_amount are empty for a payment that did not settle. Fields never contain commas
 *   (BICs, codes, numbers, design names checked).
 *
 * The terminal summary (sim_report_write_summary): a header and one aligned line per run of a
 * seed with the means over seeds ± the half-widths of their 95% intervals.
 *
 * report.html: one self-contained page (inline CSS and SVG; no script, no external resource):
 *   a summary, the liquidity-delay curves (means over seeds with 95% intervals, each mark
 *   labelled with its a), the intraday queue and liquidity in use (first seed's day, every
 *   five minutes to the close), the liquidity needed per currency and per country at each
 *   design's lowest liquidity (means, intervals, values written on the bars), a table of every
 *   run and a "why these numbers" section. Axes are fitted to the data and each SVG carries its
 *   ranges (data-x-min ...) for tests/report_chromium.sh; designs differ by colour (Okabe-Ito),
 *   marker and dashes. Each chart has a sentence saying how to read it. Values of different
 *   currencies are added in US dollars at the scenario's rates.
 *
 * Determinism: every number is printed with a fixed format from the same inputs, so the same
 * report gives the same bytes (tests/test_sim_report.c checks it).
 */
#include "sim/sim.h"

#include <math.h>

/* Charts' geometry in SVG user units. */
#define CHART_WIDTH 760.0
#define CHART_HEIGHT 340.0
#define CHART_LEFT 80.0
#define CHART_RIGHT 170.0 /* room for the legend */
#define CHART_TOP 20.0
#define CHART_BOTTOM 50.0
/* Ticks per axis, at most. */
#define CHART_TICK_COUNT_MAX 6u

/* Okabe and Ito's palette, which readers with any common colour-vision deficiency can tell
 * apart (its yellow last: faint on white); each design also has its own marker and dashes. */
static const char *const design_colors[SIM_DESIGN_COUNT_MAX] = {
    "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"};
static const char *const status_names[SIM_STATUS_COUNT] = {"settled", "rejected", "cancelled"};
static const char *const priority_names[] = {"urgent", "high", "normal"};
static const char *const kind_names[SIM_KIND_COUNT] = {"trade", "money_market", "fx",
                                                       "securities", "other"};

const char *sim_kind_name(u32 kind) {
    ASSERT(ARRAY_COUNT(kind_names) == SIM_KIND_COUNT);
    return kind < SIM_KIND_COUNT ? kind_names[kind] : "unknown";
}

int sim_kind_parse(const char *name, size_t length) {
    ASSERT(name != NULL);
    for (u32 kind = 0; kind < SIM_KIND_COUNT; kind++) {
        if (strlen(kind_names[kind]) == length && memcmp(kind_names[kind], name, length) == 0) {
            return (int)kind;
        }
    }
    return -1;
}

const char *sim_status_name(u32 status) {
    ASSERT(ARRAY_COUNT(status_names) == SIM_STATUS_COUNT);
    return status < SIM_STATUS_COUNT ? status_names[status] : "unknown";
}

const char *sim_priority_name(u32 priority) {
    ASSERT(ARRAY_COUNT(priority_names) == 3);
    return priority < ARRAY_COUNT(priority_names) ? priority_names[priority] : "unknown";
}

/* ----------------------------------------------------------------------------------------- */
/* Shared helpers.                                                                            */

static u32 report_seed_count(const struct sim_report *report) {
    ASSERT(report != NULL);
    ASSERT(report->seed_count <= SIM_SEED_COUNT_MAX);
    return report->seed_count > 0 ? report->seed_count : 1;
}

/* Runs of one seed; the first seed's are runs[0 .. this - 1]. */
static u32 report_per_seed(const struct sim_report *report) {
    u32 seeds = report_seed_count(report);
    ASSERT(report->run_count % seeds == 0);
    return report->run_count / seeds;
}

static void check_report(const struct sim_report *report) {
    ASSERT(report != NULL && report->scenario != NULL && report->day != NULL);
    u32 per_seed = report_per_seed(report);
    ASSERT(per_seed <= SIM_RUN_COUNT_MAX);
    for (u32 index = 0; index < report->run_count; index++) {
        const struct sim_run *run = &report->runs[index];
        const struct sim_run *first = &report->runs[index % per_seed];
        ASSERT(run->design != NULL && run->metrics != NULL);
        ASSERT(run->outcomes != NULL || report->day->count == 0 || index >= per_seed);
        ASSERT(run->alpha_per_mille <= 1000);
        ASSERT(strcmp(run->design, first->design) == 0 &&
               run->alpha_per_mille == first->alpha_per_mille);
        ASSERT(run->metrics->currency_count == report->scenario->currency_count);
        ASSERT(strpbrk(run->design, ",\"\\<>&\n") == NULL);
    }
}

static void write_amount(FILE *file, const struct sim_scenario *scenario, u32 currency,
                         u128 amount) {
    ASSERT(file != NULL && currency < scenario->currency_count);
    char text[64];
    size_t length = khorgos_amount_format(amount, scenario->currencies[currency].minor_units,
                                          text, sizeof(text));
    ASSERT(length > 0);
    fputs(text, file);
}

static void write_alpha(FILE *file, u32 alpha_per_mille) {
    ASSERT(file != NULL);
    char text[16];
    size_t length = sim_decimal_format(alpha_per_mille, 3, text, sizeof(text));
    ASSERT(length > 0);
    fputs(text, file);
}

/* A value of a currency in US dollars as a double, for charts (exact figures are in JSON). */
static double usd_of(const struct sim_scenario *scenario, u32 currency, u128 amount) {
    const struct sim_currency *entry = &scenario->currencies[currency];
    ASSERT(entry->units_per_usd_micro > 0);
    double major = (double)amount / pow(10.0, entry->minor_units);
    return major * SIM_RATE_SCALE / (double)entry->units_per_usd_micro;
}

static bool country_has_banks(const struct sim_scenario *scenario, u32 country) {
    ASSERT(country < scenario->country_count);
    for (u32 bank = 0; bank < scenario->bank_count; bank++) {
        if (scenario->banks[bank].country == country &&
            scenario->banks[bank].role == SIM_ROLE_BANK) {
            return true;
        }
    }
    return false;
}

static khorgos_error file_close(FILE *file, khorgos_error error) {
    ASSERT(file != NULL);
    if (ferror(file)) error = KHORGOS_ERROR_io;
    if (fclose(file) != 0) error = KHORGOS_ERROR_io;
    return error;
}

/* ----------------------------------------------------------------------------------------- */
/* Figures per run, and their spread over seeds.                                             */

struct run_summary {
    double liquidity_usd;      /* liquidity used, all currencies, all participants */
    double upper_usd;          /* upper and lower bound, all currencies */
    double lower_usd;
    double delay;              /* value-weighted in USD over all currencies */
    double ratio_value;
    double fx_usd;
    double delay_value_seconds_usd; /* sum of value x seconds waited (the delay's numerator) */
    double rejected_usd;
    double offset_usd;
    double settled_usd;
    u32 submitted_count;
    u32 settled_count;
    u32 gridlocks;
};

static struct run_summary run_summarize(const struct sim_scenario *scenario,
                                        const struct sim_run *run) {
    ASSERT(scenario != NULL && run != NULL);
    ASSERT(run->metrics->currency_count == scenario->currency_count);
    struct run_summary summary;
    memset(&summary, 0, sizeof(summary));
    double numerator = 0, denominator = 0, settled = 0, submitted = 0;
    for (u32 currency = 0; currency < scenario->currency_count; currency++) {
        const struct sim_participant_metrics *total = &run->metrics->currencies[currency].total;
        summary.liquidity_usd += usd_of(scenario, currency, total->liquidity_used);
        summary.upper_usd += usd_of(scenario, currency, total->upper_bound);
        summary.lower_usd += usd_of(scenario, currency, total->lower_bound);
        numerator += usd_of(scenario, currency, total->delay_numerator);
        denominator += usd_of(scenario, currency, total->delay_denominator);
        settled += usd_of(scenario, currency, total->settled_value);
        submitted += usd_of(scenario, currency, total->submitted_value);
        summary.fx_usd += usd_of(scenario, currency, run->fx_converted[currency]);
        summary.rejected_usd += usd_of(scenario, currency, run->rejected_value[currency]);
        summary.offset_usd += usd_of(scenario, currency, run->offset_value[currency]);
        summary.submitted_count += total->submitted_count;
        summary.settled_count += total->settled_count;
        summary.gridlocks += run->gridlocks_resolved[currency];
    }
    summary.delay = denominator > 0 ? numerator / denominator : 0.0;
    summary.delay_value_seconds_usd = numerator;
    summary.settled_usd = settled;
    summary.ratio_value = submitted > 0 ? settled / submitted : 1.0;
    ASSERT(summary.delay >= 0.0 && summary.delay <= 1.0 + 1e-9);
    return summary;
}


/* The figures summarised over seeds, per run, currency (or all currencies) and metric. */
enum summary_metric {
    SUMMARY_LIQUIDITY_USED,
    SUMMARY_UPPER_BOUND,
    SUMMARY_LOWER_BOUND,
    SUMMARY_DELAY,
    SUMMARY_RATIO_VALUE,
    SUMMARY_RATIO_COUNT,
    SUMMARY_GRIDLOCKS,
    SUMMARY_FX_CONVERTED,
    SUMMARY_REJECTED_VALUE,
    SUMMARY_OFFSET_SHARE,
    SUMMARY_LIQUIDITY_COST,
    SUMMARY_DELAY_COST,
    SUMMARY_METRIC_COUNT,
};

static const char *const summary_metric_names[SUMMARY_METRIC_COUNT] = {
    "liquidity_used", "upper_bound", "lower_bound", "delay_indicator",
    "settlement_ratio_value", "settlement_ratio_count", "gridlocks_resolved", "fx_converted",
    "rejected_value", "offset_value_share", "liquidity_cost", "delay_cost",
};

/* The costs of a day at the rates of sim.h: the liquidity used times its daily rate, and each
 * value-second waited (the delay indicator's numerator) times the delay rate. */
static double liquidity_cost(double liquidity) {
    ASSERT(liquidity >= 0);
    ASSERT(SIM_LIQUIDITY_COST_BASIS_POINTS_PER_DAY >= 0);
    return liquidity * SIM_LIQUIDITY_COST_BASIS_POINTS_PER_DAY / 10000.0;
}

static double delay_cost(double value_seconds) {
    ASSERT(value_seconds >= 0);
    ASSERT(SIM_DELAY_COST_BASIS_POINTS_PER_HOUR >= 0);
    return value_seconds / 3600.0 * SIM_DELAY_COST_BASIS_POINTS_PER_HOUR / 10000.0;
}

static bool summary_metric_is_amount(u32 metric) {
    ASSERT(metric < SUMMARY_METRIC_COUNT);
    ASSERT(ARRAY_COUNT(summary_metric_names) == SUMMARY_METRIC_COUNT);
    return metric == SUMMARY_LIQUIDITY_USED || metric == SUMMARY_UPPER_BOUND ||
           metric == SUMMARY_LOWER_BOUND || metric == SUMMARY_FX_CONVERTED ||
           metric == SUMMARY_REJECTED_VALUE || metric == SUMMARY_LIQUIDITY_COST ||
           metric == SUMMARY_DELAY_COST;
}

/* One currency's figure in its major unit, or (currency == currency_count) all currencies'
 * in US dollars. */
static double summary_value(const struct sim_scenario *scenario, const struct sim_run *run,
                            u32 currency, u32 metric) {
    ASSERT(currency <= scenario->currency_count && metric < SUMMARY_METRIC_COUNT);
    if (currency == scenario->currency_count) {
        struct run_summary all = run_summarize(scenario, run);
        double values[SUMMARY_METRIC_COUNT] = {
            all.liquidity_usd, all.upper_usd, all.lower_usd, all.delay, all.ratio_value,
            all.submitted_count > 0 ? (double)all.settled_count / all.submitted_count : 1.0,
            all.gridlocks, all.fx_usd, all.rejected_usd,
            all.settled_usd > 0 ? all.offset_usd / all.settled_usd : 0.0,
            liquidity_cost(all.liquidity_usd), delay_cost(all.delay_value_seconds_usd)};
        return values[metric];
    }
    const struct sim_currency_metrics *system = &run->metrics->currencies[currency];
    double scale = pow(10.0, scenario->currencies[currency].minor_units);
    ASSERT(scale >= 1.0);
    double values[SUMMARY_METRIC_COUNT] = {
        (double)system->total.liquidity_used / scale, (double)system->total.upper_bound / scale,
        (double)system->total.lower_bound / scale, system->delay_indicator,
        system->settlement_ratio_value, system->settlement_ratio_count,
        run->gridlocks_resolved[currency], (double)run->fx_converted[currency] / scale,
        (double)run->rejected_value[currency] / scale,
        system->total.settled_value > 0
            ? (double)run->offset_value[currency] / (double)system->total.settled_value
            : 0.0,
        liquidity_cost((double)system->total.liquidity_used / scale),
        delay_cost((double)system->total.delay_numerator / scale)};
    return values[metric];
}

/* The mean and 95% interval over seeds of the k-th run of each seed. */
static struct sim_interval summary_interval(const struct sim_report *report, u32 k, u32 currency,
                                            u32 metric) {
    u32 per_seed = report_per_seed(report);
    ASSERT(k < per_seed);
    double values[SIM_SEED_COUNT_MAX];
    u32 seeds = report_seed_count(report);
    for (u32 seed = 0; seed < seeds; seed++) {
        values[seed] = summary_value(report->scenario, &report->runs[seed * per_seed + k],
                                     currency, metric);
    }
    return sim_interval_of(values, seeds);
}

/* ----------------------------------------------------------------------------------------- */
/* metrics.json                                                                               */

static void json_string(FILE *file, const char *text) {
    ASSERT(file != NULL);
    ASSERT(text != NULL);
    fputc('"', file);
    for (const unsigned char *at = (const unsigned char *)text; *at != 0; at++) {
        if (*at == '"' || *at == '\\') {
            fprintf(file, "\\%c", *at);
        } else if (*at < 0x20) {
            fprintf(file, "\\u%04x", *at);
        } else {
            fputc(*at, file);
        }
    }
    fputc('"', file);
}

static void json_amount(FILE *file, const char *key, const struct sim_scenario *scenario,
                        u32 currency, u128 amount) {
    ASSERT(file != NULL && key != NULL);
    ASSERT(currency < scenario->currency_count);
    fprintf(file, ",\"%s\":\"", key);
    write_amount(file, scenario, currency, amount);
    fputc('"', file);
}

/* Liquidity used in `currency` by participants of one role, banks also split by whether it is
 * their country's currency. */
struct liquidity_split {
    u128 banks_home;
    u128 banks_foreign;
    u128 providers;
};

static struct liquidity_split liquidity_split_of(const struct sim_scenario *scenario,
                                                 const struct sim_metrics *metrics,
                                                 u32 currency) {
    ASSERT(currency < scenario->currency_count);
    ASSERT(metrics->participant_count == scenario->bank_count);
    struct liquidity_split split = {0};
    for (u32 bank = 0; bank < scenario->bank_count; bank++) {
        const struct sim_bank *entry = &scenario->banks[bank];
        u128 used = sim_metrics_at(metrics, bank, currency)->liquidity_used;
        if (entry->role == SIM_ROLE_LIQUIDITY_PROVIDER) {
            split.providers += used;
        } else if (entry->role == SIM_ROLE_BANK) {
            bool home = scenario->countries[entry->country].currency == currency;
            *(home ? &split.banks_home : &split.banks_foreign) += used;
        }
    }
    return split;
}

/* The run entry's figures beyond the first list: liquidity by role, the delay
 * distribution, rejections, offsetting and costs. */
static void json_run_more(FILE *file, const struct sim_report *report, const struct sim_run *run,
                          u32 currency) {
    const struct sim_scenario *scenario = report->scenario;
    ASSERT(currency < scenario->currency_count);
    struct liquidity_split split = liquidity_split_of(scenario, run->metrics, currency);
    json_amount(file, "liquidity_used_banks_home", scenario, currency, split.banks_home);
    json_amount(file, "liquidity_used_banks_foreign", scenario, currency, split.banks_foreign);
    json_amount(file, "liquidity_used_providers", scenario, currency, split.providers);
    fprintf(file, ",\"delay_p50_seconds\":%u,\"delay_p95_seconds\":%u,\"delay_max_seconds\":%u",
            run->delay_p50_seconds[currency], run->delay_p95_seconds[currency],
            run->delay_max_seconds[currency]);
    fprintf(file, ",\"rejected_count\":%u", run->rejected_count[currency]);
    json_amount(file, "rejected_value", scenario, currency, run->rejected_value[currency]);
    fprintf(file, ",\"offset_value_share\":%.6f,\"liquidity_cost\":%.2f,\"delay_cost\":%.2f}",
            summary_value(scenario, run, currency, SUMMARY_OFFSET_SHARE),
            summary_value(scenario, run, currency, SUMMARY_LIQUIDITY_COST),
            summary_value(scenario, run, currency, SUMMARY_DELAY_COST));
}

static void json_run_currency(FILE *file, const struct sim_report *report,
                              const struct sim_run *run, u32 currency) {
    ASSERT(currency < report->scenario->currency_count);
    ASSERT(run->metrics != NULL);
    const struct sim_scenario *scenario = report->scenario;
    const struct sim_currency_metrics *system = &run->metrics->currencies[currency];
    const struct sim_participant_metrics *total = &system->total;
    fprintf(file, "{\"design\":");
    json_string(file, run->design);
    fprintf(file, ",\"a\":");
    write_alpha(file, run->alpha_per_mille);
    fprintf(file, ",\"seed\":%llu,\"currency\":\"%s\"", (unsigned long long)run->seed,
            scenario->currencies[currency].letters);
    json_amount(file, "upper_bound", scenario, currency, total->upper_bound);
    json_amount(file, "lower_bound", scenario, currency, total->lower_bound);
    json_amount(file, "liquidity_used", scenario, currency, total->liquidity_used);
    fprintf(file, ",\"delay_indicator\":%.6f,\"settlement_ratio_value\":%.6f",
            system->delay_indicator, system->settlement_ratio_value);
    fprintf(file, ",\"settlement_ratio_count\":%.6f,\"queue_max_count\":%u",
            system->settlement_ratio_count, total->queue_max_count);
    json_amount(file, "queue_max_value", scenario, currency, total->queue_max_value);
    fprintf(file, ",\"gridlocks_resolved\":%u", run->gridlocks_resolved[currency]);
    json_amount(file, "fx_converted", scenario, currency, run->fx_converted[currency]);
    json_amount(file, "submitted_value", scenario, currency, total->submitted_value);
    json_amount(file, "settled_value", scenario, currency, total->settled_value);
    fprintf(file, ",\"submitted_count\":%u,\"settled_count\":%u", total->submitted_count,
            total->settled_count);
    json_run_more(file, report, run, currency);
}

/* "summary": per run of a seed, currency ("all" in US dollars last) and metric, the mean over
 * seeds and its 95% interval. */
static void json_summary(FILE *file, const struct sim_report *report) {
    ASSERT(file != NULL && report != NULL);
    const struct sim_scenario *scenario = report->scenario;
    ASSERT(scenario->currency_count <= SIM_CURRENCY_COUNT_MAX);
    bool first = true;
    fprintf(file, "\"summary\":[");
    for (u32 k = 0; k < report_per_seed(report); k++) {
        const struct sim_run *run = &report->runs[k];
        for (u32 currency = 0; currency <= scenario->currency_count; currency++) {
            for (u32 metric = 0; metric < SUMMARY_METRIC_COUNT; metric++) {
                struct sim_interval interval = summary_interval(report, k, currency, metric);
                const char *format = summary_metric_is_amount(metric)
                                         ? ",\"mean\":%.2f,\"ci95_low\":%.2f,\"ci95_high\":%.2f"
                                         : ",\"mean\":%.6f,\"ci95_low\":%.6f,\"ci95_high\":%.6f";
                fprintf(file, "%s\n{\"design\":", first ? "" : ",");
                json_string(file, run->design);
                fprintf(file, ",\"a\":");
                write_alpha(file, run->alpha_per_mille);
                fprintf(file, ",\"currency\":\"%s\",\"metric\":\"%s\"",
                        currency < scenario->currency_count
                            ? scenario->currencies[currency].letters
                            : "all",
                        summary_metric_names[metric]);
                fprintf(file, format, interval.mean, interval.low, interval.high);
                fprintf(file, ",\"n\":%u}", interval.count);
                first = false;
            }
        }
    }
    fprintf(file, "\n],\n");
}

static void json_countries(FILE *file, const struct sim_report *report) {
    ASSERT(file != NULL && report != NULL);
    ASSERT(report->run_count <= SIM_RUN_COUNT_MAX * SIM_SEED_COUNT_MAX);
    const struct sim_scenario *scenario = report->scenario;
    bool first = true;
    fprintf(file, "\"countries\":[");
    for (u32 index = 0; index < report->run_count; index++) {
        const struct sim_run *run = &report->runs[index];
        for (u32 country = 0; country < scenario->country_count; country++) {
            if (!country_has_banks(scenario, country)) continue;
            u128 cents = sim_metrics_country_usd_cents(scenario, run->metrics, country);
            char text[64];
            khorgos_amount_format(cents, 2, text, sizeof(text));
            fprintf(file, "%s\n{\"design\":", first ? "" : ",");
            json_string(file, run->design);
            fprintf(file, ",\"a\":");
            write_alpha(file, run->alpha_per_mille);
            fprintf(file, ",\"seed\":%llu,\"country\":\"%s\",\"liquidity_needed_usd\":\"%s\"}",
                    (unsigned long long)run->seed, scenario->countries[country].code, text);
            first = false;
        }
    }
    fprintf(file, "\n]}\n");
}

khorgos_error sim_report_write_metrics_json(const struct sim_report *report, const char *path) {
    check_report(report);
    ASSERT(path != NULL);
    FILE *file = fopen(path, "w");
    if (file == NULL) return KHORGOS_ERROR_io;
    const struct sim_day *day = report->day;
    fprintf(file, "{\"scenario\":");
    json_string(file, report->scenario->name);
    fprintf(file, ",\"seed\":%llu,\"seeds\":%u,\"scale\":", (unsigned long long)day->seed,
            report_seed_count(report));
    write_alpha(file, day->scale_per_mille);
    fprintf(file, ",\"payment_count\":%u,\n\"runs\":[", day->count);
    bool first = true;
    for (u32 index = 0; index < report->run_count; index++) {
        for (u32 currency = 0; currency < report->scenario->currency_count; currency++) {
            fprintf(file, "%s\n", first ? "" : ",");
            json_run_currency(file, report, &report->runs[index], currency);
            first = false;
        }
    }
    fprintf(file, "\n],\n");
    json_summary(file, report);
    json_countries(file, report);
    return file_close(file, KHORGOS_ERROR_ok);
}

/* ----------------------------------------------------------------------------------------- */
/* payments.csv                                                                               */

static void csv_row(FILE *file, const struct sim_report *report, const struct sim_run *run,
                    u32 index) {
    ASSERT(index < report->day->count);
    ASSERT(report->day->payments[index].id != 0); /* generated: index + 1; a file: its own */
    const struct sim_scenario *scenario = report->scenario;
    const struct sim_payment *payment = &report->day->payments[index];
    const struct sim_outcome *outcome = &run->outcomes[index];
    bool settled = outcome->status == SIM_STATUS_SETTLED && outcome->settled_at != SIM_NEVER;
    fprintf(file, "%s,", run->design);
    write_alpha(file, run->alpha_per_mille);
    fprintf(file, ",%u,%s,%s,%s,", payment->id, scenario->banks[payment->debtor].bic,
            scenario->banks[payment->creditor].bic,
            scenario->currencies[payment->currency].letters);
    write_amount(file, scenario, payment->currency, payment->amount);
    fprintf(file, ",%s,", scenario->currencies[payment->creditor_currency].letters);
    if (settled) write_amount(file, scenario, payment->creditor_currency, outcome->creditor_amount);
    fprintf(file, ",%s,%u,", sim_priority_name(payment->priority), payment->submitted_at);
    if (settled) fprintf(file, "%u", outcome->settled_at);
    fprintf(file, ",%s,%s,%s,%s\n", sim_status_name(outcome->status),
            settled ? "" : sim_reason_name(outcome->reason),
            settled ? "" : sim_reason_iso(outcome->reason), sim_kind_name(payment->kind));
}

khorgos_error sim_report_write_payments_csv(const struct sim_report *report, const char *path) {
    check_report(report);
    ASSERT(path != NULL);
    FILE *file = fopen(path, "w");
    if (file == NULL) return KHORGOS_ERROR_io;
    fprintf(file, "design,a,id,debtor,creditor,currency,amount,creditor_currency,"
                  "creditor_amount,priority,submitted_at,settled_at,status,reason,reason_iso,"
                  "kind\n");
    for (u32 run = 0; run < report_per_seed(report); run++) {
        for (u32 index = 0; index < report->day->count; index++) {
            csv_row(file, report, &report->runs[run], index);
        }
    }
    return file_close(file, KHORGOS_ERROR_ok);
}

/* ----------------------------------------------------------------------------------------- */
/* participants.csv                                                                           */

static const char *const role_names[SIM_ROLE_COUNT] = {"bank", "liquidity_provider",
                                                       "settlement_agent"};

static void participants_row(FILE *file, const struct sim_report *report,
                             const struct sim_run *run, u32 bank, u32 currency) {
    const struct sim_scenario *scenario = report->scenario;
    const struct sim_participant_metrics *entry = sim_metrics_at(run->metrics, bank, currency);
    ASSERT(scenario->banks[bank].role < SIM_ROLE_COUNT);
    ASSERT(entry->settled_value <= entry->submitted_value);
    fprintf(file, "%s,", run->design);
    write_alpha(file, run->alpha_per_mille);
    fprintf(file, ",%llu,%s,%s,%s,", (unsigned long long)run->seed, scenario->banks[bank].bic,
            scenario->currencies[currency].letters, role_names[scenario->banks[bank].role]);
    const u128 amounts[] = {entry->upper_bound, entry->lower_bound,
                            sim_liquidity_start(entry->lower_bound, entry->upper_bound,
                                                run->alpha_per_mille),
                            entry->liquidity_used, 0 /* credit used: no credit lines */,
                            entry->queue_max_value};
    for (u32 index = 0; index < ARRAY_COUNT(amounts); index++) {
        write_amount(file, scenario, currency, amounts[index]);
        fputc(',', file);
    }
    fprintf(file, "%u,%.6f,%u,", entry->queue_max_count,
            sim_delay_indicator(entry->delay_numerator, entry->delay_denominator),
            entry->submitted_count);
    write_amount(file, scenario, currency, entry->submitted_value);
    fputc(',', file);
    write_amount(file, scenario, currency, entry->submitted_value - entry->settled_value);
    fputc('\n', file);
}

khorgos_error sim_report_write_participants_csv(const struct sim_report *report,
                                                const char *path) {
    check_report(report);
    ASSERT(path != NULL);
    FILE *file = fopen(path, "w");
    if (file == NULL) return KHORGOS_ERROR_io;
    fprintf(file, "design,a,seed,bic,currency,role,upper_bound,lower_bound,liquidity_start,"
                  "liquidity_used,credit_used,queue_max_value,queue_max_count,delay_indicator,"
                  "submitted_count,submitted_value,value_rejected\n");
    const struct sim_scenario *scenario = report->scenario;
    for (u32 index = 0; index < report->run_count; index++) {
        const struct sim_run *run = &report->runs[index];
        for (u32 bank = 0; bank < scenario->bank_count; bank++) {
            for (u32 currency = 0; currency < scenario->currency_count; currency++) {
                const struct sim_participant_metrics *entry =
                    sim_metrics_at(run->metrics, bank, currency);
                if (entry->submitted_count == 0 && entry->upper_bound == 0 &&
                    entry->liquidity_used == 0) {
                    continue; /* neither paid nor needed liquidity in this currency */
                }
                participants_row(file, report, run, bank, currency);
            }
        }
    }
    return file_close(file, KHORGOS_ERROR_ok);
}

/* ----------------------------------------------------------------------------------------- */
/* report.html: figures per run and design.                                                   */

/* Designs in the order of their first run. */
struct designs {
    u32 count;
    const char *names[SIM_DESIGN_COUNT_MAX];
    const struct sim_run *lowest[SIM_DESIGN_COUNT_MAX];  /* the run with the least liquidity */
    const struct sim_run *highest[SIM_DESIGN_COUNT_MAX]; /* and with the most */
};

static void designs_collect(const struct sim_report *report, struct designs *designs) {
    ASSERT(report != NULL && designs != NULL);
    memset(designs, 0, sizeof(*designs));
    for (u32 index = 0; index < report_per_seed(report); index++) {
        const struct sim_run *run = &report->runs[index];
        u32 design = 0;
        while (design < designs->count && strcmp(designs->names[design], run->design) != 0) {
            design++;
        }
        if (design == designs->count) {
            ASSERT(designs->count < SIM_DESIGN_COUNT_MAX);
            designs->names[designs->count++] = run->design;
            designs->lowest[design] = run;
            designs->highest[design] = run;
        }
        if (run->alpha_per_mille < designs->lowest[design]->alpha_per_mille) {
            designs->lowest[design] = run;
        }
        if (run->alpha_per_mille > designs->highest[design]->alpha_per_mille) {
            designs->highest[design] = run;
        }
    }
    ASSERT(designs->count <= report->run_count);
}

static u32 design_index(const struct designs *designs, const char *name) {
    ASSERT(designs != NULL && name != NULL);
    for (u32 index = 0; index < designs->count; index++) {
        if (strcmp(designs->names[index], name) == 0) return index;
    }
    ASSERT(false && "every run's design was collected");
    return 0;
}

static void html_text(FILE *file, const char *text) {
    ASSERT(file != NULL);
    ASSERT(text != NULL);
    for (const char *at = text; *at != 0; at++) {
        if (*at == '<') {
            fputs("&lt;", file);
        } else if (*at == '>') {
            fputs("&gt;", file);
        } else if (*at == '&') {
            fputs("&amp;", file);
        } else if (*at == '"') {
            fputs("&quot;", file);
        } else {
            fputc(*at, file);
        }
    }
}

/* ----------------------------------------------------------------------------------------- */
/* report.html: chart frames.                                                                 */

enum axis_kind { AXIS_USD_MILLIONS, AXIS_RATIO, AXIS_TIME, AXIS_CATEGORIES };

/* One axis: the range drawn [low, high], its tick step, and the extent of what is plotted on
 * it [data_low, data_high] (written on the SVG so that a test can check that the axis fits). */
struct axis {
    enum axis_kind kind;
    double low;
    double high;
    double step;
    double data_low;
    double data_high;
};

struct chart {
    FILE *file;
    struct axis x;
    struct axis y;
    u32 day_open_seconds;
};

static double nice_step(double span) {
    ASSERT(span > 0);
    double raw = span / 5.0;
    double power = pow(10.0, floor(log10(raw)));
    double fraction = raw / power;
    double step = (fraction <= 1.0 ? 1.0 : fraction <= 2.0 ? 2.0 : fraction <= 5.0 ? 5.0 : 10.0);
    ASSERT(step * power * CHART_TICK_COUNT_MAX >= span);
    return step * power;
}

/* Fits an axis to the data [data_low, data_high]: amounts and ratios between whole ticks around
 * the data (from zero when `from_zero`, as bars must be), time over the whole day, categories
 * one unit each. */
static void axis_fit(struct axis *axis, enum axis_kind kind, double data_low, double data_high,
                     bool from_zero) {
    ASSERT(axis != NULL && data_low <= data_high);
    axis->kind = kind;
    axis->data_low = data_low;
    axis->data_high = data_high;
    if (kind == AXIS_TIME || kind == AXIS_CATEGORIES) {
        axis->low = 0;
        axis->high = MAX(data_high, 1.0);
        axis->step = kind == AXIS_TIME ? 3600.0 : 1.0;
        return;
    }
    double low = from_zero ? 0.0 : data_low;
    double span = data_high - low;
    if (span <= 0) span = data_high > 0 ? data_high / 10 : (kind == AXIS_RATIO ? 0.01 : 1e6);
    axis->step = nice_step(span);
    axis->low = from_zero ? 0.0 : floor(low / axis->step) * axis->step;
    axis->high = ceil(data_high / axis->step - 1e-9) * axis->step;
    if (axis->high <= axis->low) axis->high = axis->low + axis->step;
    if (kind == AXIS_RATIO && axis->low < 0) axis->low = 0;
    ASSERT(axis->high > axis->low && axis->step > 0);
}

static double plot_width(void) { return CHART_WIDTH - CHART_LEFT - CHART_RIGHT; }
static double plot_height(void) { return CHART_HEIGHT - CHART_TOP - CHART_BOTTOM; }

static double chart_x(const struct chart *chart, double value) {
    ASSERT(chart->x.high > chart->x.low);
    return CHART_LEFT + (value - chart->x.low) / (chart->x.high - chart->x.low) * plot_width();
}

static double chart_y(const struct chart *chart, double value) {
    ASSERT(chart->y.high > chart->y.low);
    return CHART_TOP + plot_height() -
           (value - chart->y.low) / (chart->y.high - chart->y.low) * plot_height();
}

static void tick_label(FILE *file, const struct axis *axis, double value, u32 day_open_seconds) {
    ASSERT(file != NULL);
    ASSERT(axis->step > 0);
    if (axis->kind == AXIS_USD_MILLIONS) {
        int decimals = axis->step >= 1e6 ? 0 : (int)MIN(6.0, ceil(-log10(axis->step / 1e6)));
        fprintf(file, "%.*f", decimals, value / 1e6);
    } else if (axis->kind == AXIS_RATIO) {
        fprintf(file, "%.*f", (int)MIN(6.0, MAX(1.0, ceil(-log10(axis->step)))), value);
    } else {
        u32 seconds = (day_open_seconds + (u32)value) % SIM_DAY_SECONDS;
        fprintf(file, "%02u:%02u", seconds / 3600, seconds / 60 % 60);
    }
}

static void chart_axes(const struct chart *chart) {
    ASSERT(chart->x.step > 0 && chart->y.step > 0);
    ASSERT((chart->y.high - chart->y.low) / chart->y.step <= CHART_TICK_COUNT_MAX + 1);
    FILE *file = chart->file;
    double bottom = CHART_TOP + plot_height(), right = CHART_LEFT + plot_width();
    for (u32 tick = 0; chart->y.low + tick * chart->y.step <= chart->y.high * (1 + 1e-9) + 1e-12;
         tick++) {
        double value = chart->y.low + tick * chart->y.step;
        double y = chart_y(chart, value);
        fprintf(file, "<line stroke=\"#e3e3e3\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                CHART_LEFT, y, right, y);
        fprintf(file,
                "<text font-size=\"11\" fill=\"#444\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
                CHART_LEFT - 6, y + 4);
        tick_label(file, &chart->y, value, chart->day_open_seconds);
        fprintf(file, "</text>\n");
    }
    for (u32 tick = 0; chart->x.kind != AXIS_CATEGORIES &&
                       chart->x.low + tick * chart->x.step <= chart->x.high * (1 + 1e-9);
         tick++) {
        double value = chart->x.low + tick * chart->x.step;
        double x = chart_x(chart, value);
        fprintf(file, "<line stroke=\"#e3e3e3\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                x, CHART_TOP, x, bottom);
        fprintf(file,
                "<text font-size=\"11\" fill=\"#444\" x=\"%.1f\" y=\"%.1f\" "
                "text-anchor=\"middle\">",
                x, bottom + 16);
        tick_label(file, &chart->x, value, chart->day_open_seconds);
        fprintf(file, "</text>\n");
    }
    fprintf(file, "<line stroke=\"#555\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
            CHART_LEFT, bottom, right, bottom);
    fprintf(file, "<line stroke=\"#555\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            CHART_LEFT, CHART_TOP, CHART_LEFT, bottom);
}

/* The frame: caption, the SVG with each axis's range and data extent as attributes (data-x-min,
 * data-x-max, data-y-min, data-y-max: the axis; data-x-data-min ...: what is plotted), the
 * plot box (data-plot: left top right bottom), grid, ticks and axis titles. */
static void chart_begin(struct chart *chart, const char *title, const char *x_label,
                        const char *y_label) {
    ASSERT(chart != NULL && chart->file != NULL);
    ASSERT(title != NULL && x_label != NULL && y_label != NULL);
    FILE *file = chart->file;
    fprintf(file, "<figure>\n<figcaption>%s</figcaption>\n", title);
    fprintf(file, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s\" class=\"chart\" "
                  "data-x-kind=\"%s\" data-plot=\"%.1f %.1f %.1f %.1f\" ",
            CHART_WIDTH, CHART_HEIGHT, CHART_WIDTH, CHART_HEIGHT, title,
            chart->x.kind == AXIS_CATEGORIES ? "categories" : "values", CHART_LEFT, CHART_TOP,
            CHART_LEFT + plot_width(), CHART_TOP + plot_height());
    fprintf(file, "data-x-min=\"%.9g\" data-x-max=\"%.9g\" data-y-min=\"%.9g\" "
                  "data-y-max=\"%.9g\" data-x-data-min=\"%.9g\" data-x-data-max=\"%.9g\" "
                  "data-y-data-min=\"%.9g\" data-y-data-max=\"%.9g\">\n",
            chart->x.low, chart->x.high, chart->y.low, chart->y.high, chart->x.data_low,
            chart->x.data_high, chart->y.data_low, chart->y.data_high);
    chart_axes(chart);
    fprintf(file,
            "<text font-size=\"12\" fill=\"#222\" x=\"%.1f\" y=\"%.1f\" "
            "text-anchor=\"middle\">%s</text>",
            CHART_LEFT + plot_width() / 2, CHART_HEIGHT - 8, x_label);
    fprintf(file,
            "<text font-size=\"12\" fill=\"#222\" transform=\"translate(16 %.1f) rotate(-90)\" "
            "text-anchor=\"middle\">%s</text>\n",
            CHART_TOP + plot_height() / 2, y_label);
}

/* A design's marker centred on (x, y): circle, square, triangle, diamond, triangle down,
 * cross, plus, star, so that designs differ by shape as well as colour. */
static void marker(FILE *file, u32 design, double x, double y) {
    ASSERT(file != NULL && design < SIM_DESIGN_COUNT_MAX);
    const char *color = design_colors[design];
    static const char *const shapes[SIM_DESIGN_COUNT_MAX] = {
        "<circle r=\"4.5\" fill=\"%s\"/>",
        "<rect x=\"-4\" y=\"-4\" width=\"8\" height=\"8\" fill=\"%s\"/>",
        "<path d=\"M0,-5.5L5,4L-5,4Z\" fill=\"%s\"/>",
        "<path d=\"M0,-6L6,0L0,6L-6,0Z\" fill=\"%s\"/>",
        "<path d=\"M0,5.5L5,-4L-5,-4Z\" fill=\"%s\"/>",
        "<path d=\"M-4,-4L4,4M4,-4L-4,4\" stroke=\"%s\" stroke-width=\"2.5\"/>",
        "<path d=\"M0,-5V5M-5,0H5\" stroke=\"%s\" stroke-width=\"2.5\"/>",
        "<path d=\"M0,-6L1.8,-1.8L6,0L1.8,1.8L0,6L-1.8,1.8L-6,0L-1.8,-1.8Z\" fill=\"%s\"/>",
    };
    fprintf(file, "<g transform=\"translate(%.1f %.1f)\">", x, y);
    fprintf(file, shapes[design], color);
    fprintf(file, "</g>");
}

/* Dash patterns per design, for lines: the same order as the markers. */
static const char *const design_dashes[SIM_DESIGN_COUNT_MAX] = {
    "none", "7 3", "2 2", "9 3 2 3", "4 4", "1 3", "12 4", "6 2 2 2 2 2"};

static void chart_legend(const struct chart *chart, const struct designs *designs) {
    ASSERT(chart != NULL && designs != NULL);
    ASSERT(designs->count <= SIM_DESIGN_COUNT_MAX);
    double x = CHART_WIDTH - CHART_RIGHT + 16;
    for (u32 index = 0; index < designs->count; index++) {
        double y = CHART_TOP + 8 + index * 20.0;
        fprintf(chart->file,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\" stroke-dasharray=\"%s\"/>",
                x - 4, y - 4, x + 16, y - 4, design_colors[index], design_dashes[index]);
        marker(chart->file, index, x + 6, y - 4);
        fprintf(chart->file, "<text font-size=\"11\" fill=\"#444\" x=\"%.1f\" y=\"%.1f\">",
                x + 24, y);
        html_text(chart->file, designs->names[index]);
        fprintf(chart->file, "</text>\n");
    }
}

static void chart_end(const struct chart *chart, const struct designs *designs,
                      const char *how_to_read) {
    ASSERT(chart != NULL && how_to_read != NULL);
    chart_legend(chart, designs);
    fprintf(chart->file, "</svg>\n<p class=\"how\">%s</p>\n</figure>\n", how_to_read);
}

/* ----------------------------------------------------------------------------------------- */
/* report.html: the charts.                                                                   */

/* One point of the trade-off: the mean over seeds of liquidity used and delay, each with its
 * interval. */
struct trade_point {
    struct sim_interval liquidity;
    struct sim_interval delay;
};

static struct trade_point trade_point_of(const struct sim_report *report, u32 k) {
    ASSERT(k < report_per_seed(report));
    u32 all = report->scenario->currency_count;
    struct trade_point point = {
        .liquidity = summary_interval(report, k, all, SUMMARY_LIQUIDITY_USED),
        .delay = summary_interval(report, k, all, SUMMARY_DELAY),
    };
    ASSERT(point.liquidity.count == point.delay.count);
    return point;
}

/* A point with its 95% intervals as whiskers both ways, its design's marker and its a. */
static void trade_point_draw(FILE *file, const struct chart *chart, const struct sim_run *run,
                             u32 design, struct trade_point point) {
    ASSERT(file != NULL && run != NULL);
    ASSERT(design < SIM_DESIGN_COUNT_MAX);
    double x = chart_x(chart, point.liquidity.mean), y = chart_y(chart, point.delay.mean);
    const char *color = design_colors[design];
    fprintf(file, "<path class=\"ci\" stroke=\"%s\" stroke-width=\"1\" opacity=\"0.7\" "
                  "d=\"M%.1f,%.1fH%.1fM%.1f,%.1fV%.1f\"/>",
            color, chart_x(chart, point.liquidity.low), y, chart_x(chart, point.liquidity.high),
            x, chart_y(chart, point.delay.low), chart_y(chart, point.delay.high));
    fprintf(file, "<g class=\"point\" data-x=\"%.9g\" data-y=\"%.9g\">", point.liquidity.mean,
            point.delay.mean);
    marker(file, design, x, y);
    fprintf(file, "<title>");
    html_text(file, run->design);
    fprintf(file, ", a = ");
    write_alpha(file, run->alpha_per_mille);
    fprintf(file, ": USD %.1f million [%.1f, %.1f], delay %.4f [%.4f, %.4f]</title></g>",
            point.liquidity.mean / 1e6, point.liquidity.low / 1e6, point.liquidity.high / 1e6,
            point.delay.mean, point.delay.low, point.delay.high);
    fprintf(file, "<text font-size=\"9\" fill=\"%s\" x=\"%.1f\" y=\"%.1f\">a=", color, x + 6,
            y - 5 - 9.0 * (design % 2));
    write_alpha(file, run->alpha_per_mille);
    fprintf(file, "</text>\n");
}

static void chart_liquidity_delay(FILE *file, const struct sim_report *report,
                                  const struct designs *designs) {
    ASSERT(file != NULL && report != NULL);
    ASSERT(designs->count > 0 && designs->count <= SIM_DESIGN_COUNT_MAX);
    u32 per_seed = report_per_seed(report);
    double x_low = INFINITY, x_high = -INFINITY, y_low = INFINITY, y_high = -INFINITY;
    for (u32 index = 0; index < per_seed; index++) {
        struct trade_point point = trade_point_of(report, index);
        x_low = MIN(x_low, point.liquidity.low);
        x_high = MAX(x_high, point.liquidity.high);
        y_low = MIN(y_low, MAX(point.delay.low, 0.0));
        y_high = MAX(y_high, point.delay.high);
    }
    struct chart chart = {.file = file};
    axis_fit(&chart.x, AXIS_USD_MILLIONS, x_low, x_high, false);
    axis_fit(&chart.y, AXIS_RATIO, y_low, y_high, true);
    chart_begin(&chart, "Liquidity and delay, per design",
                "liquidity used, all currencies (USD million)", "delay indicator");
    for (u32 design = 0; design < designs->count; design++) {
        fprintf(file, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                      "stroke-dasharray=\"%s\" points=\"",
                design_colors[design], design_dashes[design]);
        for (u32 index = 0; index < per_seed; index++) {
            if (design_index(designs, report->runs[index].design) != design) continue;
            struct trade_point point = trade_point_of(report, index);
            fprintf(file, "%.1f,%.1f ", chart_x(&chart, point.liquidity.mean),
                    chart_y(&chart, point.delay.mean));
        }
        fprintf(file, "\"/>\n");
        for (u32 index = 0; index < per_seed; index++) {
            if (design_index(designs, report->runs[index].design) != design) continue;
            trade_point_draw(file, &chart, &report->runs[index], design,
                             trade_point_of(report, index));
        }
    }
    char how[600];
    snprintf(how, sizeof(how),
             "Each line is one design and each mark one starting liquidity, labelled with its a, "
             "from a = 0 (every bank holds its lower bound) to a = 1 (its upper bound); the mark "
             "is the mean over %u days and the whiskers its 95%% confidence interval. Further "
             "left means less liquidity used, further down less delay (0: every payment settled "
             "on arrival; 1: every payment waited until the close). The axes cover only the "
             "range of the results.",
             report_seed_count(report));
    chart_end(&chart, designs, how);
}

enum series_kind { SERIES_QUEUE, SERIES_LIQUIDITY };

static double series_usd(const struct sim_scenario *scenario, const struct sim_run *run,
                         enum series_kind kind, u32 bucket) {
    ASSERT(scenario != NULL && run != NULL);
    ASSERT(kind == SERIES_QUEUE || kind == SERIES_LIQUIDITY);
    double value = 0;
    for (u32 currency = 0; currency < scenario->currency_count; currency++) {
        const struct sim_currency_metrics *system = &run->metrics->currencies[currency];
        ASSERT(bucket < system->series_count);
        value += usd_of(scenario, currency,
                        kind == SERIES_QUEUE ? system->queue_series[bucket]
                                             : system->liquidity_series[bucket]);
    }
    return value;
}

static void chart_series(FILE *file, const struct sim_report *report,
                         const struct designs *designs, enum series_kind kind) {
    ASSERT(file != NULL && report != NULL);
    ASSERT(designs->count > 0);
    const struct sim_scenario *scenario = report->scenario;
    u32 bucket_count = designs->lowest[0]->metrics->currencies[0].series_count;
    double y_high = 0;
    for (u32 design = 0; design < designs->count; design++) {
        ASSERT(designs->lowest[design]->metrics->currencies[0].series_count == bucket_count);
        for (u32 bucket = 0; bucket < bucket_count; bucket++) {
            y_high = MAX(y_high, series_usd(scenario, designs->lowest[design], kind, bucket));
        }
    }
    struct chart chart = {.file = file, .day_open_seconds = scenario->day_open_seconds};
    axis_fit(&chart.x, AXIS_TIME, 0, (double)bucket_count * SIM_SERIES_BUCKET_SECONDS, true);
    axis_fit(&chart.y, AXIS_USD_MILLIONS, 0, y_high, true);
    chart_begin(&chart, kind == SERIES_QUEUE ? "Value waiting in queues through the day"
                                             : "Liquidity in use through the day",
                "time of day (each point: the end of a five-minute interval)",
                "USD million, all currencies");
    for (u32 design = 0; design < designs->count; design++) {
        fprintf(file, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                      "stroke-dasharray=\"%s\" points=\"%.1f,%.1f",
                design_colors[design], design_dashes[design], chart_x(&chart, 0),
                chart_y(&chart, 0));
        for (u32 bucket = 0; bucket < bucket_count; bucket++) {
            double value = series_usd(scenario, designs->lowest[design], kind, bucket);
            fprintf(file, " %.1f,%.1f", chart_x(&chart, (bucket + 1.0) * SIM_SERIES_BUCKET_SECONDS),
                    chart_y(&chart, value));
        }
        fprintf(file, "\"/>\n");
    }
    chart_end(&chart, designs,
              kind == SERIES_QUEUE
                  ? "The value of payments submitted and not yet finished, every five minutes up "
                    "to and including the close, for each design at its lowest starting "
                    "liquidity on the first seed's day. A payment leaves the line when it "
                    "settles or when it is rejected (refused on arrival where there is no queue, "
                    "or still queued at its cut-off); a netting payment unwound from a short "
                    "window is carried into the next window and stays in the line until a "
                    "window settles it. "
                    "Netting lines fall at each window's close, the last one at the close."
                  : "The sum of all banks' debit positions (what each has paid beyond what it "
                    "received), every five minutes up to and including the close, for each "
                    "design at its lowest starting liquidity on the first seed's day. Its peak "
                    "is the money the system had to fund at once; netting moves it only when a "
                    "window settles, once an hour and at the close.");
}

enum bar_kind { BARS_CURRENCY, BARS_COUNTRY };

static double bar_value(const struct sim_scenario *scenario, const struct sim_run *run,
                        enum bar_kind kind, u32 category) {
    ASSERT(scenario != NULL && run != NULL);
    ASSERT(kind == BARS_CURRENCY ? category < scenario->currency_count
                                 : category < scenario->country_count);
    if (kind == BARS_CURRENCY) {
        return usd_of(scenario, category, run->metrics->currencies[category].total.liquidity_used);
    }
    return (double)sim_metrics_country_usd_cents(scenario, run->metrics, category) / 100.0;
}

/* A bar's mean over seeds of the k-th run of each seed, with its interval. */
static struct sim_interval bar_interval(const struct sim_report *report, u32 k,
                                        enum bar_kind kind, u32 category) {
    u32 per_seed = report_per_seed(report), seeds = report_seed_count(report);
    ASSERT(k < per_seed);
    double values[SIM_SEED_COUNT_MAX];
    for (u32 seed = 0; seed < seeds; seed++) {
        values[seed] =
            bar_value(report->scenario, &report->runs[seed * per_seed + k], kind, category);
    }
    return sim_interval_of(values, seeds);
}

static u32 bar_categories(const struct sim_scenario *scenario, enum bar_kind kind, u32 *out) {
    ASSERT(scenario != NULL && out != NULL);
    u32 count = 0;
    u32 total = kind == BARS_CURRENCY ? scenario->currency_count : scenario->country_count;
    for (u32 category = 0; category < total; category++) {
        if (kind == BARS_COUNTRY && !country_has_banks(scenario, category)) continue;
        out[count++] = category;
    }
    ASSERT(count <= MAX(SIM_CURRENCY_COUNT_MAX, SIM_COUNTRY_COUNT_MAX));
    return count;
}

/* One bar: the mean, its interval as a whisker, its value written above. */
static void bar_draw(FILE *file, const struct chart *chart, u32 design, double x, double width,
                     struct sim_interval interval) {
    ASSERT(file != NULL && design < SIM_DESIGN_COUNT_MAX);
    ASSERT(width > 0);
    double top = chart_y(chart, interval.mean), middle = x + width / 2;
    fprintf(file, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                  "fill=\"%s\"/>",
            x, top, width, chart_y(chart, 0) - top, design_colors[design]);
    if (interval.count > 1) {
        fprintf(file, "<path class=\"ci\" stroke=\"#222\" stroke-width=\"1\" "
                      "d=\"M%.1f,%.1fV%.1f\"/>",
                middle, chart_y(chart, MAX(interval.low, 0.0)), chart_y(chart, interval.high));
    }
    fprintf(file, "<text font-size=\"8\" fill=\"#222\" transform=\"translate(%.1f %.1f) "
                  "rotate(-90)\">%.1f</text>\n",
            middle + 3, chart_y(chart, MAX(interval.high, interval.mean)) - 3,
            interval.mean / 1e6);
}

static void chart_bars(FILE *file, const struct sim_report *report, const struct designs *designs,
                       enum bar_kind kind) {
    ASSERT(file != NULL && report != NULL);
    ASSERT(designs->count > 0);
    const struct sim_scenario *scenario = report->scenario;
    u32 categories[MAX(SIM_CURRENCY_COUNT_MAX, SIM_COUNTRY_COUNT_MAX)];
    u32 category_count = bar_categories(scenario, kind, categories);
    u32 lowest[SIM_DESIGN_COUNT_MAX]; /* each design's run with the least liquidity */
    double y_high = 0;
    for (u32 design = 0; design < designs->count; design++) {
        lowest[design] = (u32)(designs->lowest[design] - report->runs);
        for (u32 index = 0; index < category_count; index++) {
            struct sim_interval interval =
                bar_interval(report, lowest[design], kind, categories[index]);
            y_high = MAX(y_high, MAX(interval.high, interval.mean));
        }
    }
    struct chart chart = {.file = file};
    axis_fit(&chart.x, AXIS_CATEGORIES, 0, MAX(category_count, 1u), true);
    /* Room above the tallest bar for its label. */
    axis_fit(&chart.y, AXIS_USD_MILLIONS, 0, y_high * 1.15, true);
    chart.y.data_high = y_high;
    chart_begin(&chart, kind == BARS_CURRENCY ? "Liquidity needed per currency, at the lowest "
                                                "liquidity"
                                              : "Liquidity needed per country, at the lowest "
                                                "liquidity",
                kind == BARS_CURRENCY ? "currency" : "country (its banks, all currencies)",
                "USD million");
    double bar_width = 0.8 / MAX(designs->count, 1u);
    for (u32 index = 0; index < category_count; index++) {
        for (u32 design = 0; design < designs->count; design++) {
            double x = chart_x(&chart, index + 0.1 + design * bar_width);
            bar_draw(file, &chart, design, x, chart_x(&chart, bar_width) - CHART_LEFT,
                     bar_interval(report, lowest[design], kind, categories[index]));
        }
        fprintf(file,
                "<text font-size=\"11\" fill=\"#444\" x=\"%.1f\" y=\"%.1f\" "
                "text-anchor=\"middle\">%s</text>\n",
                chart_x(&chart, index + 0.5), CHART_TOP + plot_height() + 16,
                kind == BARS_CURRENCY ? scenario->currencies[categories[index]].letters
                                      : scenario->countries[categories[index]].code);
    }
    chart_end(&chart, designs,
              kind == BARS_CURRENCY
                  ? "For each currency, one bar per design at its lowest starting liquidity "
                    "(where the designs differ most): the liquidity its participants actually "
                    "used in that currency (the sum of their largest debit positions), in US "
                    "dollars at the scenario's rates, with its value in USD million. Bars are "
                    "means over the days and whiskers 95% confidence intervals. A shorter bar "
                    "means the design needed less of that currency; a tall USD bar shows the "
                    "US-dollar liquidity a design ties up."
                  : "For each country, one bar per design at its lowest starting liquidity: the "
                    "liquidity its banks used, summed over every currency in US dollars, with "
                    "its value in USD million (means over the days, whiskers 95% confidence "
                    "intervals). Compare the bars within a country to see what each design "
                    "costs its banks.");
}

/* ----------------------------------------------------------------------------------------- */
/* report.html: the page.                                                                     */

/* What the designs are; a design outside this list is shown by its name alone. */
static const char *const design_descriptions[][2] = {
    {"rtgs_no_queue", "gross settlement; a payment not covered on arrival is rejected"},
    {"rtgs_fifo", "gross settlement with first-in first-out queues, no liquidity saving"},
    {"rtgs_lsm", "gross settlement with bypass-FIFO queues, offsetting on entry and gridlock "
                 "resolution"},
    {"dns_hourly", "deferred net settlement: payments net in windows settled every hour"},
    {"usd_vehicle", "rtgs_lsm with every cross-currency payment converted through US dollars"},
};

static const char *html_style =
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;"
    "color:#222}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em}"
    "figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.4em}"
    "svg{max-width:100%;height:auto;background:#fff;font-family:system-ui,sans-serif}"
    ".how{font-size:.92em;color:#444;max-width:46em}"
    "table{border-collapse:collapse;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .6em;"
    "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
    ".ci{color:#666;font-size:.9em;white-space:nowrap}.why li{margin:.4em 0;max-width:46em}";

/* "Why these numbers": the few facts of the day that explain the results, from the data. */
static void html_why(FILE *file, const struct sim_report *report, const struct designs *designs) {
    ASSERT(file != NULL && report != NULL);
    ASSERT(designs->count > 0);
    const struct sim_scenario *scenario = report->scenario;
    const struct sim_day *day = report->day;
    u32 all = scenario->currency_count;
    double upper = summary_interval(report, 0, all, SUMMARY_UPPER_BOUND).mean;
    double lower = summary_interval(report, 0, all, SUMMARY_LOWER_BOUND).mean;
    double value = 0, cross = 0;
    for (u32 index = 0; index < day->count; index++) {
        const struct sim_payment *payment = &day->payments[index];
        double usd = usd_of(scenario, payment->currency, payment->amount);
        value += usd;
        if (payment->currency != payment->creditor_currency) cross += usd;
    }
    u32 gridlocks = 0;
    for (u32 index = 0; index < report->run_count; index++) {
        gridlocks += run_summarize(scenario, &report->runs[index]).gridlocks;
    }
    fprintf(file, "<h2>Why these numbers</h2>\n<ul class=\"why\">\n");
    double gap = upper > 0 ? (upper - lower) / upper * 100 : 0.0;
    fprintf(file, "<li><b>%s between the bounds.</b> Settling every payment before its "
                  "cut-off needs USD %.1f million (the lower bound, with %s's routing), "
                  "%.1f%% less than "
                  "settling everything on arrival (USD %.1f million, the upper bound). ",
            gap < 20 ? "Little room" : "Room", lower / 1e6, report->runs[0].design, gap,
            upper / 1e6);
    fprintf(file, "%s</li>\n",
            gap < 20 ? "Trade payments run one way: an importer's bank pays and an exporter's "
                       "bank receives, mostly in other currencies, so little money comes back "
                       "to the banks that paid; days with many interbank payments leave far "
                       "more for liquidity saving to save."
                     : "Payments between banks run both ways, so money a bank pays comes back "
                       "later in the day: the gap is what queues and liquidity saving can save, "
                       "at the cost of delay.");
    fprintf(file, "<li><b>Conversions settle together across currencies.</b> %.0f%% of the "
                  "first day's value is paid in another currency than the one received, "
                  "payment versus payment through a liquidity provider. Offsetting and gridlock "
                  "resolution see every currency at once, so a provider's conversions settle "
                  "together with what it receives in the same set, and the share settled in a "
                  "set counts them; over all runs a gridlock resolution "
                  "settled anything %u times.</li>\n",
            value > 0 ? cross / value * 100 : 0.0, gridlocks);
    fprintf(file, "<li><b>Netting waits for its window.</b> Under deferred net settlement every "
                  "payment waits for the next window's close, however much liquidity there is, "
                  "so its delay stays high; a short participant's payments are carried to the "
                  "next window, and what the close cannot settle is rejected.</li>\n"
                  "<li><b>The dollar route adds a leg.</b> Converting through US dollars pays "
                  "one provider in dollars and another out of them: the extra dollars held "
                  "for that leg are the US-dollar design's extra liquidity.</li>\n"
                  "<li><b>Intervals.</b> Each seed is a different day of payments. Most of the "
                  "spread in liquidity is how much each day trades in each currency, which "
                  "every design meets alike, so designs compared on the same days differ more "
                  "steadily than their intervals overlap.</li>\n</ul>\n");
}

static void html_summary(FILE *file, const struct sim_report *report,
                         const struct designs *designs) {
    ASSERT(file != NULL && report != NULL);
    ASSERT(designs->count <= SIM_DESIGN_COUNT_MAX);
    const struct sim_scenario *scenario = report->scenario;
    const struct sim_day *day = report->day;
    double value = 0;
    for (u32 index = 0; index < day->count; index++) {
        value += usd_of(scenario, day->payments[index].currency, day->payments[index].amount);
    }
    u32 open = scenario->day_open_seconds, close = scenario->day_close_seconds;
    fprintf(file, "<h1>Khorgos simulation: ");
    html_text(file, scenario->name);
    u32 seeds = report_seed_count(report);
    fprintf(file, "</h1>\n<p>%u business day%s, %02u:%02u to %02u:%02u, each of %u payments "
                  "(USD %.1f million on the first) among %u participants of %u countries in %u "
                  "currencies (seeds %llu to %llu, scale ",
            seeds, seeds == 1 ? "" : "s", open / 3600, open / 60 % 60, close / 3600,
            close / 60 % 60, day->count, value / 1e6, scenario->bank_count,
            scenario->country_count, scenario->currency_count, (unsigned long long)day->seed,
            (unsigned long long)(day->seed + seeds - 1));
    write_alpha(file, day->scale_per_mille);
    fprintf(file, "). Each day's payments, submitted at the same times, were run through each "
                  "design below at each starting liquidity a, where every participant starts "
                  "with its lower bound plus a times the gap to its upper bound. Figures are "
                  "means over the days with 95%% confidence intervals.</p>\n<ul>\n");
    for (u32 design = 0; design < designs->count; design++) {
        fprintf(file, "<li><b style=\"color:%s\">", design_colors[design]);
        html_text(file, designs->names[design]);
        fprintf(file, "</b>");
        for (u32 index = 0; index < ARRAY_COUNT(design_descriptions); index++) {
            if (strcmp(design_descriptions[index][0], designs->names[design]) == 0) {
                fprintf(file, ": %s", design_descriptions[index][1]);
            }
        }
        fprintf(file, "</li>\n");
    }
    fprintf(file, "</ul>\n");
}

/* "mean ± half-width" of the k-th run's figure over seeds, scaled (the interval's ends in the
 * cell's title). */
static void html_interval(FILE *file, const struct sim_report *report, u32 k, u32 metric,
                          double scale, u32 decimals) {
    ASSERT(file != NULL && decimals <= 6);
    ASSERT(metric < SUMMARY_METRIC_COUNT);
    struct sim_interval interval =
        summary_interval(report, k, report->scenario->currency_count, metric);
    fprintf(file, "<td title=\"95%% interval [%.*f, %.*f]\">%.*f", (int)decimals,
            interval.low * scale, (int)decimals, interval.high * scale, (int)decimals,
            interval.mean * scale);
    if (interval.count > 1) {
        fprintf(file, " <span class=\"ci\">± %.*f</span>", (int)decimals,
                (interval.high - interval.low) / 2 * scale);
    }
    fprintf(file, "</td>");
}

static void html_table(FILE *file, const struct sim_report *report) {
    ASSERT(file != NULL && report != NULL);
    u32 per_seed = report_per_seed(report);
    ASSERT(per_seed <= SIM_RUN_COUNT_MAX);
    fprintf(file, "<h2>Every run</h2>\n<p class=\"how\">Means over %u days (seeds) ± the "
                  "half-width of the 95%% confidence interval of the mean (Student's t).</p>\n"
                  "<table>\n"
                  "<tr><th>design</th><th>a</th>"
                  "<th>liquidity used (USD million)</th><th>delay indicator</th>"
                  "<th>settled by value (%%)</th><th>payments settled (the rest rejected)</th>"
                  "<th>gridlocks resolved</th><th>converted by FX (USD million)</th></tr>\n",
            report_seed_count(report));
    u32 all = report->scenario->currency_count;
    for (u32 k = 0; k < per_seed; k++) {
        const struct sim_run *run = &report->runs[k];
        struct run_summary summary = run_summarize(report->scenario, run);
        fprintf(file, "<tr><td>");
        html_text(file, run->design);
        fprintf(file, "</td><td>");
        write_alpha(file, run->alpha_per_mille);
        fprintf(file, "</td>");
        html_interval(file, report, k, SUMMARY_LIQUIDITY_USED, 1e-6, 3);
        html_interval(file, report, k, SUMMARY_DELAY, 1.0, 4);
        html_interval(file, report, k, SUMMARY_RATIO_VALUE, 100.0, 2);
        fprintf(file, "<td>%.1f / %u</td><td>%.1f</td><td>%.3f</td></tr>\n",
                summary_interval(report, k, all, SUMMARY_RATIO_COUNT).mean *
                    summary.submitted_count,
                summary.submitted_count, summary_interval(report, k, all, SUMMARY_GRIDLOCKS).mean,
                summary_interval(report, k, all, SUMMARY_FX_CONVERTED).mean / 1e6);
    }
    fprintf(file, "</table>\n<p class=\"how\">Exact figures per currency and seed are in "
                  "metrics.json (with these intervals per currency under \"summary\") and "
                  "every payment's outcome on the first seed's day in payments.csv, next to "
                  "this file.</p>\n");
}

/* Costs at the stated rates, rejections and offsetting, per run: means ± half-widths. */
static void html_costs(FILE *file, const struct sim_report *report) {
    ASSERT(file != NULL && report != NULL);
    u32 per_seed = report_per_seed(report);
    ASSERT(per_seed <= SIM_RUN_COUNT_MAX);
    fprintf(file, "<h2>What each design costs</h2>\n<p class=\"how\">Liquidity cost: the "
                  "liquidity used at %.0f basis points a day; delay cost: each payment's value "
                  "at %.0f basis point an hour for the time it waited (to the close when it "
                  "never settled); rejected: the value that did not settle, reported apart from "
                  "delay; settled in a set: the share of settled value that settled together "
                  "with other payments (offsetting, a gridlock resolution or a netting "
                  "window). Means over the days ± the half-width of the 95%% interval; US "
                  "dollars.</p>\n<table>\n<tr><th>design</th><th>a</th>"
                  "<th>liquidity cost (USD thousand)</th><th>delay cost (USD thousand)</th>"
                  "<th>rejected (USD million)</th><th>settled in a set (%%)</th></tr>\n",
            SIM_LIQUIDITY_COST_BASIS_POINTS_PER_DAY, SIM_DELAY_COST_BASIS_POINTS_PER_HOUR);
    for (u32 k = 0; k < per_seed; k++) {
        const struct sim_run *run = &report->runs[k];
        fprintf(file, "<tr><td>");
        html_text(file, run->design);
        fprintf(file, "</td><td>");
        write_alpha(file, run->alpha_per_mille);
        fprintf(file, "</td>");
        html_interval(file, report, k, SUMMARY_LIQUIDITY_COST, 1e-3, 1);
        html_interval(file, report, k, SUMMARY_DELAY_COST, 1e-3, 1);
        html_interval(file, report, k, SUMMARY_REJECTED_VALUE, 1e-6, 2);
        html_interval(file, report, k, SUMMARY_OFFSET_SHARE, 100.0, 1);
        fprintf(file, "</tr>\n");
    }
    fprintf(file, "</table>\n<p class=\"how\">Per participant: participants.csv (bounds, "
                  "starting liquidity, liquidity used, largest queue, delay, value rejected); "
                  "per currency in metrics.json: liquidity by role (banks at home, banks in "
                  "foreign currencies, providers), the time in queue of settled payments "
                  "(median, 95th percentile, longest), and why each rejected payment was "
                  "rejected in payments.csv.</p>\n");
}

khorgos_error sim_report_write_html(const struct sim_report *report, const char *path) {
    check_report(report);
    ASSERT(path != NULL);
    FILE *file = fopen(path, "w");
    if (file == NULL) return KHORGOS_ERROR_io;
    struct designs designs;
    designs_collect(report, &designs);
    fprintf(file, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<title>Khorgos simulation report</title>\n<style>%s</style>\n</head>\n<body>\n",
            html_style);
    html_summary(file, report, &designs);
    if (report->run_count > 0) {
        fprintf(file, "<h2>The trade-off between liquidity and delay</h2>\n");
        chart_liquidity_delay(file, report, &designs);
        fprintf(file, "<h2>Through the day</h2>\n");
        chart_series(file, report, &designs, SERIES_QUEUE);
        chart_series(file, report, &designs, SERIES_LIQUIDITY);
        fprintf(file, "<h2>Liquidity needed</h2>\n");
        chart_bars(file, report, &designs, BARS_CURRENCY);
        chart_bars(file, report, &designs, BARS_COUNTRY);
        html_table(file, report);
        html_costs(file, report);
        html_why(file, report, &designs);
    } else {
        fprintf(file, "<p>No design was run.</p>\n");
    }
    fprintf(file, "</body>\n</html>\n");
    return file_close(file, KHORGOS_ERROR_ok);
}

/* "12.345 ± 0.678" into `out`, the half-width of the interval after the mean. */
static void format_interval(char *out, size_t capacity, struct sim_interval interval,
                            double scale, u32 decimals, const char *unit) {
    ASSERT(out != NULL && capacity > 0);
    ASSERT(decimals <= 6 && unit != NULL);
    double half = (interval.high - interval.low) / 2.0 * scale;
    snprintf(out, capacity, "%.*f%s ± %.*f%s", (int)decimals, interval.mean * scale, unit,
             (int)decimals, half < 0 ? 0.0 : half, unit);
}

khorgos_error sim_report_write_summary(const struct sim_report *report, FILE *file) {
    check_report(report);
    ASSERT(file != NULL);
    u32 all = report->scenario->currency_count;
    fprintf(file, "%-13s %5s %20s %17s %17s %17s %9s %10s\n", "design", "a",
            "liquidity USD m", "delay", "settled by value", "payments settled", "gridlocks",
            "FX USD m");
    for (u32 k = 0; k < report_per_seed(report); k++) {
        const struct sim_run *run = &report->runs[k];
        struct run_summary first = run_summarize(report->scenario, run);
        char alpha[16], liquidity[48], delay[48], settled[48];
        sim_decimal_format(run->alpha_per_mille, 3, alpha, sizeof(alpha));
        format_interval(liquidity, sizeof(liquidity),
                        summary_interval(report, k, all, SUMMARY_LIQUIDITY_USED), 1e-6, 3, "");
        format_interval(delay, sizeof(delay), summary_interval(report, k, all, SUMMARY_DELAY),
                        1.0, 4, "");
        format_interval(settled, sizeof(settled),
                        summary_interval(report, k, all, SUMMARY_RATIO_VALUE), 100.0, 2, "%");
        struct sim_interval count = summary_interval(report, k, all, SUMMARY_RATIO_COUNT);
        /* "±" is two bytes in UTF-8 and one column: pad by bytes, one more per sign. */
        fprintf(file, "%-13s %5s %21s %18s %18s %9.1f / %-5u %9.1f %10.3f\n", run->design,
                alpha, liquidity, delay, settled, count.mean * first.submitted_count,
                first.submitted_count, summary_interval(report, k, all, SUMMARY_GRIDLOCKS).mean,
                summary_interval(report, k, all, SUMMARY_FX_CONVERTED).mean / 1e6);
    }
    return ferror(file) ? KHORGOS_ERROR_io : KHORGOS_ERROR_ok;
}

khorgos_error sim_report_write_all(const struct sim_report *report, const char *directory) {
    check_report(report);
    ASSERT(directory != NULL);
    static const char *const names[] = {"metrics.json", "payments.csv", "participants.csv",
                                        "report.html"};
    char path[4096];
    for (u32 index = 0; index < ARRAY_COUNT(names); index++) {
        int length = snprintf(path, sizeof(path), "%s/%s", directory, names[index]);
        if (length < 0 || (size_t)length >= sizeof(path)) return KHORGOS_ERROR_invalid_argument;
        khorgos_error error = index == 0   ? sim_report_write_metrics_json(report, path)
                              : index == 1 ? sim_report_write_payments_csv(report, path)
                              : index == 2 ? sim_report_write_participants_csv(report, path)
                                           : sim_report_write_html(report, path);
        if (error != KHORGOS_ERROR_ok) return error;
    }
    return KHORGOS_ERROR_ok;
}
