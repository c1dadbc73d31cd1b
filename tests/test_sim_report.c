/* test_sim_report.c: the report writers on the default day with synthetic runs (three designs
 * at three liquidity levels): metrics.json is valid JSON of the issue's format, payments.csv has
 * the header and one row per run and payment, report.html is self-contained with its charts,
 * and the same input gives the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khorgos.h" /* the engine's reasons, as sim_run.c records them */
#include "sim/sim.h"

enum { DESIGN_COUNT = 3, ALPHA_COUNT = 3, RUN_COUNT = DESIGN_COUNT * ALPHA_COUNT };
static const char *const design_names[DESIGN_COUNT] = {"ideal", "delayed", "end_of_day"};
static const u32 alphas[ALPHA_COUNT] = {0, 500, 1000};

static struct sim_scenario scenario;
static struct sim_day day;
static struct sim_outcome *outcomes[RUN_COUNT];
static struct sim_metrics metrics[RUN_COUNT];
static struct sim_run runs[RUN_COUNT];
static struct sim_report report;

/* The first provider quoting from -> to, or SIM_NONE. */
static u16 provider_for(u32 from, u32 to) {
    for (u32 index = 0; index < scenario.quote_count; index++) {
        if (scenario.quotes[index].from == from && scenario.quotes[index].to == to) {
            return scenario.quotes[index].provider;
        }
    }
    return SIM_NONE;
}

/* Synthetic outcomes: "ideal" settles on arrival; "delayed" waits up to an hour, less with more
 * liquidity, and at a = 0 rejects one payment in fifty; "end_of_day" settles at the close. */
static void outcomes_make(u32 design, u32 alpha, struct sim_outcome *out) {
    for (u32 index = 0; index < day.count; index++) {
        const struct sim_payment *payment = &day.payments[index];
        struct sim_outcome *outcome = &out[index];
        memset(outcome, 0, sizeof(*outcome));
        outcome->status = SIM_STATUS_SETTLED;
        u32 wait = design == 1 ? (payment->id % 7) * 600 * (1000 - alpha) / 1000 : 0;
        outcome->settled_at = design == 2 ? day.close_seconds
                                          : MIN(payment->submitted_at + wait, day.close_seconds);
        if (design == 1 && alpha == 0 && payment->id % 50 == 0) {
            outcome->status = SIM_STATUS_REJECTED;
            outcome->reason = KHORGOS_SETTLE_insufficient_funds;
            outcome->settled_at = SIM_NEVER;
            outcome->ended_at = SIM_NEVER;
        }
        u128 cents = sim_scenario_usd_cents(&scenario, payment->currency, payment->amount);
        outcome->creditor_amount =
            sim_scenario_from_usd_cents(&scenario, payment->creditor_currency, cents);
        outcome->vehicle_provider = SIM_NONE;
        outcome->provider = payment->currency == payment->creditor_currency
                                ? SIM_NONE
                                : provider_for(payment->currency, payment->creditor_currency);
    }
}

static int setup(void **state) {
    (void)state;
    sim_scenario_default(&scenario);
    u32 count = sim_generate_count(&scenario, 1000);
    if (sim_day_init(&day, count) != KHORGOS_ERROR_ok) return -1;
    if (sim_generate(&scenario, 2023, 1000, &day) != KHORGOS_ERROR_ok) return -1;
    u32 flow_count_max = SIM_FLOWS_PER_PAYMENT_MAX * day.count;
    struct sim_flow *flows = malloc((size_t)flow_count_max * sizeof(struct sim_flow));
    struct sim_metrics_workspace workspace;
    if (flows == NULL ||
        sim_metrics_workspace_init(&workspace, flow_count_max, scenario.bank_count) !=
            KHORGOS_ERROR_ok) {
        return -1;
    }
    for (u32 run = 0; run < RUN_COUNT; run++) {
        u32 design = run / ALPHA_COUNT, alpha = alphas[run % ALPHA_COUNT];
        outcomes[run] = calloc(day.count, sizeof(struct sim_outcome));
        if (outcomes[run] == NULL) return -1;
        outcomes_make(design, alpha, outcomes[run]);
        u32 flow_count = sim_flows_from_day(&day, outcomes[run], flows);
        if (sim_metrics_init(&metrics[run], scenario.bank_count, scenario.currency_count) !=
                KHORGOS_ERROR_ok ||
            sim_metrics_compute(&metrics[run], &workspace, flows, flow_count, day.close_seconds) !=
                KHORGOS_ERROR_ok) {
            return -1;
        }
        runs[run] = (struct sim_run){.design = design_names[design], .alpha_per_mille = alpha,
                                     .metrics = &metrics[run], .outcomes = outcomes[run]};
        runs[run].gridlocks_resolved[0] = design;
        runs[run].fx_converted[1] = 12345;
    }
    sim_metrics_workspace_deinit(&workspace);
    free(flows);
    report = (struct sim_report){&scenario, &day, runs, RUN_COUNT, 1};
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (u32 run = 0; run < RUN_COUNT; run++) {
        sim_metrics_deinit(&metrics[run]);
        free(outcomes[run]);
    }
    sim_day_deinit(&day);
    return 0;
}

static char *file_read(const char *directory, const char *name, size_t *length) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", directory, name);
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
    text[size] = '\0';
    fclose(file);
    *length = (size_t)size;
    return text;
}

static void directory_remove(const char *directory) {
    const char *names[] = {"metrics.json", "payments.csv", "participants.csv", "report.html"};
    char path[512];
    for (u32 index = 0; index < ARRAY_COUNT(names); index++) {
        snprintf(path, sizeof(path), "%s/%s", directory, names[index]);
        unlink(path);
    }
    rmdir(directory);
}

static void write_into(char *directory) {
    assert_non_null(mkdtemp(directory));
    assert_int_equal(sim_report_write_all(&report, directory), KHORGOS_ERROR_ok);
}

/* Occurrences of `needle` in `text` (overlapping ones too), in one pass: strstr from each match
 * would be quadratic under AddressSanitizer, whose strstr measures the whole rest of the text
 * at every call (this took 45 s of CPU on the payments CSV). */
static u32 count_of(const char *text, const char *needle) {
    size_t length = strlen(needle);
    assert_true(length > 0);
    u32 count = 0;
    for (const char *at = text; *at != '\0'; at++) {
        if (*at == needle[0] && strncmp(at, needle, length) == 0) count++;
    }
    return count;
}

/* A strict JSON syntax check (RFC 8259 values), enough to know the file parses. */
static const char *json_value(const char *at);
static const char *json_space(const char *at) {
    while (*at == ' ' || *at == '\n' || *at == '\r' || *at == '\t') at++;
    return at;
}
static const char *json_string(const char *at) {
    if (*at++ != '"') return NULL;
    while (*at != '"') {
        if ((unsigned char)*at < 0x20) return NULL;
        if (*at == '\\') at++;
        at++;
    }
    return at + 1;
}
static const char *json_number(const char *at) {
    const char *start = at;
    if (*at == '-') at++;
    if (*at < '0' || *at > '9') return NULL;
    while ((*at >= '0' && *at <= '9') || *at == '.' || *at == 'e' || *at == 'E' || *at == '+' ||
           *at == '-') {
        at++;
    }
    return at > start ? at : NULL;
}
static const char *json_members(const char *at, char close, bool keys) {
    at = json_space(at + 1);
    if (*at == close) return at + 1;
    for (;;) {
        if (keys) {
            at = json_string(json_space(at));
            if (at == NULL || *(at = json_space(at)) != ':') return NULL;
            at++;
        }
        at = json_value(at);
        if (at == NULL) return NULL;
        at = json_space(at);
        if (*at == close) return at + 1;
        if (*at++ != ',') return NULL;
    }
}
static const char *json_value(const char *at) {
    at = json_space(at);
    if (*at == '{') return json_members(at, '}', true);
    if (*at == '[') return json_members(at, ']', false);
    if (*at == '"') return json_string(at);
    if (strncmp(at, "true", 4) == 0 || strncmp(at, "null", 4) == 0) return at + 4;
    if (strncmp(at, "false", 5) == 0) return at + 5;
    return json_number(at);
}

static void test_metrics_json_is_valid_and_in_the_issue_format(void **state) {
    (void)state;
    char directory[] = "/tmp/khorgos-sim-report-XXXXXX";
    write_into(directory);
    size_t length = 0;
    char *text = file_read(directory, "metrics.json", &length);
    const char *end = json_value(text);
    assert_non_null(end);
    assert_true(*json_space(end) == '\0');
    const char *keys[] = {"\"upper_bound\":\"", "\"lower_bound\":\"", "\"liquidity_used\":\"",
                          "\"delay_indicator\":", "\"settlement_ratio_value\":",
                          "\"settlement_ratio_count\":", "\"queue_max_count\":",
                          "\"queue_max_value\":\"", "\"gridlocks_resolved\":",
                          "\"fx_converted\":\""};
    u32 rows = RUN_COUNT * scenario.currency_count;
    for (u32 index = 0; index < ARRAY_COUNT(keys); index++) {
        assert_int_equal(count_of(text, keys[index]), rows);
    }
    /* Seven countries have banks (the USD clearing "country" has none). */
    assert_int_equal(count_of(text, "\"liquidity_needed_usd\":\""), RUN_COUNT * 7);
    assert_non_null(strstr(text, "\"runs\":["));
    assert_non_null(strstr(text, "\"countries\":["));
    /* The first row is ideal, a = 0, CNY; its upper bound is the metrics' one, in yuan. */
    char expected[256], amount[64];
    khorgos_amount_format(metrics[0].currencies[0].total.upper_bound, 2, amount, sizeof(amount));
    snprintf(expected, sizeof(expected),
             "{\"design\":\"ideal\",\"a\":0,\"seed\":0,\"currency\":\"CNY\","
             "\"upper_bound\":\"%s\"",
             amount);
    assert_non_null(strstr(text, expected));
    assert_non_null(strstr(text, "\"design\":\"delayed\",\"a\":0.5,"));
    assert_non_null(strstr(text, "\"fx_converted\":\"123.45\""));
    /* Ideal settlement uses exactly the upper bound, with no delay. */
    assert_non_null(strstr(text, "\"delay_indicator\":0.000000"));
    assert_non_null(strstr(text, "\"delay_indicator\":1.000000"));
    /* One seed: a summary entry per run, currency (and "all") and metric, its interval the
     * value itself. */
    u32 entries = RUN_COUNT * (scenario.currency_count + 1) * 12;
    assert_int_equal(count_of(text, "\"metric\":"), entries);
    assert_int_equal(count_of(text, ",\"n\":1}"), entries);
    assert_non_null(strstr(text, "\"design\":\"end_of_day\",\"a\":1,\"currency\":\"all\","
                                 "\"metric\":\"delay_indicator\",\"mean\":1.000000,"
                                 "\"ci95_low\":1.000000,\"ci95_high\":1.000000,\"n\":1}"));
    free(text);
    directory_remove(directory);
}

static void test_payments_csv_has_the_header_and_a_row_per_run_and_payment(void **state) {
    (void)state;
    char directory[] = "/tmp/khorgos-sim-report-XXXXXX";
    write_into(directory);
    size_t length = 0;
    char *text = file_read(directory, "payments.csv", &length);
    const char *header = "design,a,id,debtor,creditor,currency,amount,creditor_currency,"
                         "creditor_amount,priority,submitted_at,settled_at,status,reason,"
                         "reason_iso,kind\n";
    assert_memory_equal(text, header, strlen(header));
    u32 lines = count_of(text, "\n");
    assert_int_equal(lines, 1 + RUN_COUNT * day.count);
    assert_int_equal(count_of(text, ","), 15 * lines);
    /* delayed at a = 0 rejects ids divisible by 50: empty creditor amount and settled_at, and
     * the reason with its ISO 20022 code; a settled payment has none. */
    assert_int_equal(count_of(text, ",,rejected,insufficient_funds,AM04,trade\n"), day.count / 50);
    assert_int_equal(count_of(text, ",rejected,"), day.count / 50);
    assert_int_equal(count_of(text, ",settled,,,trade\n"), RUN_COUNT * day.count - day.count / 50);
    /* The first payment row, written out by hand. */
    const struct sim_payment *first = &day.payments[0];
    char expected[256], amount[64];
    khorgos_amount_format(first->amount, 2, amount, sizeof(amount));
    snprintf(expected, sizeof(expected), "ideal,0,1,%s,%s,%s,%s,",
             scenario.banks[first->debtor].bic, scenario.banks[first->creditor].bic,
             scenario.currencies[first->currency].letters, amount);
    assert_memory_equal(text + strlen(header), expected, strlen(expected));
    free(text);
    directory_remove(directory);
}

static void test_participants_csv_has_a_row_per_participant_and_currency(void **state) {
    (void)state;
    char directory[] = "/tmp/khorgos-sim-report-XXXXXX";
    write_into(directory);
    size_t length = 0;
    char *text = file_read(directory, "participants.csv", &length);
    const char *header = "design,a,seed,bic,currency,role,upper_bound,lower_bound,"
                         "liquidity_start,liquidity_used,credit_used,queue_max_value,"
                         "queue_max_count,delay_indicator,submitted_count,submitted_value,"
                         "value_rejected\n";
    assert_memory_equal(text, header, strlen(header));
    /* A row per run and participant-currency that paid or needed liquidity. */
    u32 rows = 0;
    for (u32 run = 0; run < RUN_COUNT; run++) {
        for (u32 bank = 0; bank < scenario.bank_count; bank++) {
            for (u32 currency = 0; currency < scenario.currency_count; currency++) {
                const struct sim_participant_metrics *entry =
                    sim_metrics_at(&metrics[run], bank, currency);
                rows += entry->submitted_count > 0 || entry->upper_bound > 0 ||
                        entry->liquidity_used > 0;
            }
        }
    }
    assert_true(rows > RUN_COUNT);
    assert_int_equal(count_of(text, "\n"), 1 + rows);
    assert_int_equal(count_of(text, ","), 16 * (1 + rows));
    assert_non_null(strstr(text, "\nideal,0,0,BKAACNBJXXX,"));
    assert_true(count_of(text, ",liquidity_provider,") > 0);
    assert_int_equal(count_of(text, ",settlement_agent,"), 0); /* agents neither pay nor lend */

    free(text);
    directory_remove(directory);
}

static void test_report_html_is_self_contained_with_its_charts(void **state) {
    (void)state;
    char directory[] = "/tmp/khorgos-sim-report-XXXXXX";
    write_into(directory);
    size_t length = 0;
    char *html = file_read(directory, "report.html", &length);
    assert_memory_equal(html, "<!DOCTYPE html>", 15);
    assert_int_equal(count_of(html, "<svg "), 5);
    assert_int_equal(count_of(html, "</svg>"), 5);
    assert_int_equal(count_of(html, "<p class=\"how\">"), 9); /* five charts, two per table */
    assert_int_equal(count_of(html, "<polyline "), DESIGN_COUNT * 3);
    /* One mark per run on the trade-off chart, with its a written beside it. */
    assert_int_equal(count_of(html, "<g class=\"point\""), RUN_COUNT);
    assert_int_equal(count_of(html, ">a=0.5</text>"), DESIGN_COUNT);
    /* Every chart says what its axes cover, and the page explains its numbers. */
    assert_int_equal(count_of(html, " data-y-min=\""), 5);
    assert_int_equal(count_of(html, " data-x-data-max=\""), 5);
    assert_non_null(strstr(html, "<h2>Why these numbers</h2>"));
    assert_non_null(strstr(html, "<h2>What each design costs</h2>"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, " src="));
    assert_null(strstr(html, " href="));
    assert_null(strstr(html, "@import"));
    /* The only URL is the SVG namespace, which is a name, not a resource. */
    assert_int_equal(count_of(html, "http"), count_of(html, "http://www.w3.org/2000/svg"));
    assert_null(strstr(html, "nan"));
    assert_null(strstr(html, "inf\""));
    assert_non_null(strstr(html, "</html>\n"));
    free(html);
    directory_remove(directory);
}

static void test_same_input_same_bytes(void **state) {
    (void)state;
    char first[] = "/tmp/khorgos-sim-report-XXXXXX";
    char second[] = "/tmp/khorgos-sim-report-XXXXXX";
    write_into(first);
    write_into(second);
    const char *names[] = {"metrics.json", "payments.csv", "participants.csv", "report.html"};
    for (u32 index = 0; index < ARRAY_COUNT(names); index++) {
        size_t first_length = 0, second_length = 0;
        char *one = file_read(first, names[index], &first_length);
        char *two = file_read(second, names[index], &second_length);
        assert_int_equal(first_length, second_length);
        assert_memory_equal(one, two, first_length);
        free(one);
        free(two);
    }
    directory_remove(first);
    directory_remove(second);
}

static void test_terminal_summary_has_a_line_per_run(void **state) {
    (void)state;
    char *text = NULL;
    size_t length = 0;
    FILE *file = open_memstream(&text, &length);
    assert_non_null(file);
    assert_int_equal(sim_report_write_summary(&report, file), KHORGOS_ERROR_ok);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(count_of(text, "\n"), 1 + RUN_COUNT);
    assert_memory_equal(text, "design", 6);
    assert_int_equal(count_of(text, "\nideal "), ALPHA_COUNT);
    /* delayed at a = 0 settled all but one payment in fifty. */
    char expected[64];
    snprintf(expected, sizeof(expected), "%u.0 / %u", day.count - day.count / 50, day.count);
    assert_non_null(strstr(text, expected));
    free(text);
}

static void test_unwritable_directory_is_an_io_error(void **state) {
    (void)state;
    assert_int_equal(sim_report_write_all(&report, "/nonexistent-khorgos-directory"),
                     KHORGOS_ERROR_io);
    assert_string_equal(sim_status_name(SIM_STATUS_REJECTED), "rejected");
    assert_string_equal(sim_priority_name(SIM_PRIORITY_HIGH), "high");
    assert_string_equal(sim_status_name(99), "unknown");
}

/* The synthetic runs behave as their definitions say, through sim_flows_from_day. */
static void test_synthetic_runs_measure_as_expected(void **state) {
    (void)state;
    for (u32 currency = 0; currency < scenario.currency_count; currency++) {
        const struct sim_currency_metrics *ideal = &metrics[0].currencies[currency];
        const struct sim_currency_metrics *late = &metrics[2 * ALPHA_COUNT].currencies[currency];
        assert_true(ideal->total.liquidity_used == ideal->total.upper_bound);
        assert_true(ideal->delay_indicator == 0.0);
        assert_true(late->total.liquidity_used == late->total.lower_bound);
        if (late->total.submitted_count > 0) assert_true(late->delay_indicator == 1.0);
    }
    /* A direct PvP payment becomes two flows: payer -> provider, provider -> payee. */
    u32 cross = 0;
    while (day.payments[cross].currency == day.payments[cross].creditor_currency) cross++;
    struct sim_flow flows[4];
    struct sim_day one = day;
    one.payments = &day.payments[cross];
    one.count = 1;
    assert_int_equal(sim_flows_from_day(&one, &outcomes[0][cross], flows), 2);
    assert_int_equal(flows[0].payee, outcomes[0][cross].provider);
    assert_int_equal(flows[1].payer, outcomes[0][cross].provider);
    assert_int_equal(flows[1].payee, day.payments[cross].creditor);
    assert_int_equal(flows[1].currency, day.payments[cross].creditor_currency);
    assert_int_equal(flows[0].flags, SIM_FLOW_PAYMENT);
    assert_int_equal(flows[1].flags, 0);
}

/* Reference outcomes under direct local-currency PvP and under a US-dollar vehicle: the
 * dollar route ties up US-dollar liquidity between providers that the direct route does not. */
static void test_on_arrival_routes_direct_and_through_usd(void **state) {
    (void)state;
    u32 usd = (u32)sim_scenario_currency_find(&scenario, "USD");
    u32 cny = (u32)sim_scenario_currency_find(&scenario, "CNY");
    u32 kzt = (u32)sim_scenario_currency_find(&scenario, "KZT");
    struct sim_outcome *direct = calloc(day.count, sizeof(*direct));
    struct sim_outcome *dollar = calloc(day.count, sizeof(*dollar));
    sim_outcomes_on_arrival(&scenario, &day, false, cny, direct);
    sim_outcomes_on_arrival(&scenario, &day, true, usd, dollar);
    u32 checked = 0;
    for (u32 index = 0; index < day.count; index++) {
        const struct sim_payment *payment = &day.payments[index];
        assert_int_equal(direct[index].settled_at, payment->submitted_at);
        if (payment->currency == payment->creditor_currency) {
            assert_int_equal(direct[index].provider, SIM_NONE);
            assert_true(direct[index].creditor_amount == payment->amount);
            continue;
        }
        /* Every cross pair of the default scenario has a direct quote. */
        assert_true(direct[index].provider != SIM_NONE);
        assert_int_equal(direct[index].vehicle_provider, SIM_NONE);
        if (payment->currency != kzt || payment->creditor_currency != cny) continue;
        assert_string_equal(scenario.banks[direct[index].provider].bic, "LQAACNBJXXX");
        assert_string_equal(scenario.banks[dollar[index].provider].bic, "LQAAKZKAXXX");
        assert_string_equal(scenario.banks[dollar[index].vehicle_provider].bic, "LQAACNBJXXX");
        assert_int_equal(dollar[index].vehicle_currency, usd);
        checked++;
    }
    assert_true(checked > 0);
    u32 flow_count_max = SIM_FLOWS_PER_PAYMENT_MAX * day.count;
    struct sim_flow *flows = malloc((size_t)flow_count_max * sizeof(*flows));
    struct sim_metrics_workspace workspace;
    struct sim_metrics direct_metrics, dollar_metrics;
    assert_int_equal(sim_metrics_workspace_init(&workspace, flow_count_max, scenario.bank_count),
                     KHORGOS_ERROR_ok);
    assert_int_equal(sim_metrics_init(&direct_metrics, scenario.bank_count, scenario.currency_count),
                     KHORGOS_ERROR_ok);
    assert_int_equal(sim_metrics_init(&dollar_metrics, scenario.bank_count, scenario.currency_count),
                     KHORGOS_ERROR_ok);
    u32 count = sim_flows_from_day(&day, direct, flows);
    assert_int_equal(sim_metrics_compute(&direct_metrics, &workspace, flows, count,
                                         day.close_seconds), KHORGOS_ERROR_ok);
    count = sim_flows_from_day(&day, dollar, flows);
    assert_int_equal(sim_metrics_compute(&dollar_metrics, &workspace, flows, count,
                                         day.close_seconds), KHORGOS_ERROR_ok);
    for (u32 currency = 0; currency < scenario.currency_count; currency++) {
        const struct sim_participant_metrics *total = &direct_metrics.currencies[currency].total;
        assert_true(total->liquidity_used == total->upper_bound); /* settled on arrival */
    }
    assert_true(dollar_metrics.currencies[usd].total.upper_bound >
                direct_metrics.currencies[usd].total.upper_bound);
    sim_metrics_deinit(&direct_metrics);
    sim_metrics_deinit(&dollar_metrics);
    sim_metrics_workspace_deinit(&workspace);
    free(flows);
    free(direct);
    free(dollar);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_json_is_valid_and_in_the_issue_format),
        cmocka_unit_test(test_payments_csv_has_the_header_and_a_row_per_run_and_payment),
        cmocka_unit_test(test_participants_csv_has_a_row_per_participant_and_currency),
        cmocka_unit_test(test_report_html_is_self_contained_with_its_charts),
        cmocka_unit_test(test_same_input_same_bytes),
        cmocka_unit_test(test_terminal_summary_has_a_line_per_run),
        cmocka_unit_test(test_unwritable_directory_is_an_io_error),
        cmocka_unit_test(test_synthetic_runs_measure_as_expected),
        cmocka_unit_test(test_on_arrival_routes_direct_and_through_usd),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
