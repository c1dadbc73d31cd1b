/*
 * cli_simulate.c: `khorgos simulate`, the main job: a business day of China–Central
 * Asia trade run through the real engine under each design at each liquidity level, and the
 * report of what each design costs.
 *
 *   khorgos simulate [--scenario FILE] [--payments FILE.csv [--strict]] [--seed N] [--scale X]
 *                    [--a LIST] [--designs LIST] [--resolution-interval SECONDS]
 *                    [--netting-interval SECONDS] [--out DIR] [--data DIR]
 *
 * Steps: the scenario (built in, or read and validated), the day (generated from the seed and
 * scale, or read from the payments file, bad rows reported by line and skipped, or the file
 * refused with --strict), then one run per design (in the order) and value of a
 * (sim_run_design: a fresh engine each, in memory or in DIR/<design>-a<a> under --data), then
 * metrics.json, payments.csv and report.html in the output directory and the summary table on
 * standard output. A progress bar goes to standard error when it is a terminal.
 *
 * Memory: the day, one outcome array and one metrics set per run are reserved before the first
 * run (48 bytes per payment and run). Exit status: 0 done, 1 a run or a write failed, 2 usage
 * or input refused.
 */
#include "cli/cli.h"
#include "sim/sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A payments file is read whole: 1 GiB holds well over a million rows. */
#define SIMULATE_PAYMENTS_FILE_BYTES_MAX (1u << 30)
#define SIMULATE_PATH_BYTES_MAX 4096u
#define SIMULATE_OUT_DEFAULT "build/simulation"
#define SIMULATE_PROGRESS_WIDTH 40u

struct simulate_options {
    const char *scenario_path;
    const char *payments_path;
    bool strict;
    u64 seed;
    u32 scale_per_mille;
    const char *out;
    const char *data;
    u32 alpha_count;                  /* 0: the scenario's */
    u32 alpha_per_mille[SIM_ALPHA_COUNT_MAX];
    u32 design_count;
    u32 designs[SIM_DESIGN_COUNT];
    u32 resolution_interval_seconds;
    u32 netting_interval_seconds;
};

static const char simulate_usage[] =
    "usage: khorgos simulate [--scenario FILE] [--payments FILE.csv [--strict]] [--seed N]\n"
    "                        [--scale X] [--a LIST] [--designs LIST] [--out DIR] [--data DIR]\n"
    "                        [--resolution-interval SECONDS] [--netting-interval SECONDS]\n"
    "  --a 0,0.5,1           liquidity levels a (L = LB + a (UB - LB)); default the scenario's\n"
    "  --designs LIST        a subset of rtgs_no_queue,rtgs_fifo,rtgs_lsm,dns_hourly,usd_vehicle\n"
    "  --data DIR            durable runs: each formats and opens DIR/<design>-a<a>, holding\n"
    "                        its lock (one writer per data directory, as apply)\n";

static bool simulate_parse_u32(const char *text, u32 minimum, u32 maximum, u32 *value) {
    ASSERT(text != NULL && value != NULL);
    ASSERT(minimum <= maximum);
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') return false;
    if (parsed < minimum || parsed > maximum) return false;
    *value = (u32)parsed;
    return true;
}

/* "0,0.25,1": increasing decimals in [0, 1] with at most 3 decimals. */
static bool simulate_parse_alphas(const char *text, struct simulate_options *options) {
    ASSERT(text != NULL && options != NULL);
    options->alpha_count = 0;
    const char *cursor = text;
    while (*cursor != '\0') {
        const char *comma = strchr(cursor, ',');
        size_t length = comma != NULL ? (size_t)(comma - cursor) : strlen(cursor);
        u64 value = 0;
        if (options->alpha_count == SIM_ALPHA_COUNT_MAX ||
            sim_decimal_parse(cursor, length, 3, &value) != 0 || value > 1000) {
            return false;
        }
        if (options->alpha_count > 0 &&
            value <= options->alpha_per_mille[options->alpha_count - 1]) {
            return false;
        }
        options->alpha_per_mille[options->alpha_count++] = (u32)value;
        ASSERT(options->alpha_count <= SIM_ALPHA_COUNT_MAX);
        cursor += length;
        if (*cursor == ',') cursor++;
    }
    return options->alpha_count > 0;
}

/* A comma-separated subset of the designs, run in the order whatever the list's. */
static bool simulate_parse_designs(const char *text, struct simulate_options *options) {
    ASSERT(text != NULL && options != NULL);
    bool chosen[SIM_DESIGN_COUNT] = {false};
    const char *cursor = text;
    while (*cursor != '\0') {
        const char *comma = strchr(cursor, ',');
        size_t length = comma != NULL ? (size_t)(comma - cursor) : strlen(cursor);
        int design = sim_design_parse(cursor, length);
        if (design < 0) return false;
        ASSERT(design < (int)SIM_DESIGN_COUNT);
        chosen[design] = true;
        cursor += length;
        if (*cursor == ',') cursor++;
    }
    options->design_count = 0;
    for (u32 design = 0; design < SIM_DESIGN_COUNT; design++) {
        if (chosen[design]) options->designs[options->design_count++] = design;
    }
    return options->design_count > 0;
}

static bool simulate_parse_value(struct simulate_options *options, const char *flag,
                                 const char *value) {
    ASSERT(options != NULL && flag != NULL && value != NULL);
    ASSERT(flag[0] == '-');
    u64 number = 0;
    if (strcmp(flag, "--scenario") == 0) options->scenario_path = value;
    else if (strcmp(flag, "--payments") == 0) options->payments_path = value;
    else if (strcmp(flag, "--out") == 0) options->out = value;
    else if (strcmp(flag, "--data") == 0) options->data = value;
    else if (strcmp(flag, "--a") == 0) return simulate_parse_alphas(value, options);
    else if (strcmp(flag, "--designs") == 0) return simulate_parse_designs(value, options);
    else if (strcmp(flag, "--seed") == 0) {
        u32 seed = 0;
        if (!simulate_parse_u32(value, 0, U32_MAX, &seed)) return false;
        options->seed = seed;
    } else if (strcmp(flag, "--scale") == 0) {
        if (sim_decimal_parse(value, strlen(value), 3, &number) != 0 || number == 0 ||
            number > SIM_SCALE_PER_MILLE_MAX) {
            return false;
        }
        options->scale_per_mille = (u32)number;
    } else if (strcmp(flag, "--resolution-interval") == 0) {
        return simulate_parse_u32(value, 60, SIM_DAY_SECONDS,
                                  &options->resolution_interval_seconds);
    } else if (strcmp(flag, "--netting-interval") == 0) {
        return simulate_parse_u32(value, 60, SIM_DAY_SECONDS, &options->netting_interval_seconds);
    } else {
        return false;
    }
    return true;
}

static int simulate_parse(int argc, char **argv, struct simulate_options *options) {
    ASSERT(options != NULL && argv != NULL);
    *options = (struct simulate_options){
        .seed = 1,
        .scale_per_mille = 1000,
        .out = SIMULATE_OUT_DEFAULT,
        .resolution_interval_seconds = SIM_RESOLUTION_INTERVAL_SECONDS_DEFAULT,
        .netting_interval_seconds = SIM_NETTING_INTERVAL_SECONDS_DEFAULT,
    };
    simulate_parse_designs("rtgs_no_queue,rtgs_fifo,rtgs_lsm,dns_hourly,usd_vehicle", options);
    for (int index = 1; index < argc; index++) {
        const char *flag = argv[index];
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            fputs(simulate_usage, stdout);
            return 1;
        }
        if (strcmp(flag, "--strict") == 0) {
            options->strict = true;
            continue;
        }
        if (index + 1 >= argc || !simulate_parse_value(options, flag, argv[index + 1])) {
            fprintf(stderr, "khorgos simulate: bad option or value: %s\n%s", flag, simulate_usage);
            return -1;
        }
        index++;
    }
    if (options->strict && options->payments_path == NULL) {
        fprintf(stderr, "khorgos simulate: --strict applies to --payments\n%s", simulate_usage);
        return -1;
    }
    return 0;
}

/* mkdir -p: every missing directory of `path` created. */
static bool simulate_make_directories(const char *path) {
    ASSERT(path != NULL);
    char buffer[SIMULATE_PATH_BYTES_MAX];
    size_t length = strlen(path);
    if (length == 0 || length >= sizeof(buffer)) return false;
    memcpy(buffer, path, length + 1);
    for (size_t index = 1; index <= length; index++) {
        if (buffer[index] != '/' && buffer[index] != '\0') continue;
        char saved = buffer[index];
        ASSERT(index <= length);
        buffer[index] = '\0';
        if (mkdir(buffer, 0755) != 0 && errno != EEXIST) return false;
        buffer[index] = saved;
    }
    struct stat status;
    return stat(path, &status) == 0 && S_ISDIR(status.st_mode);
}

static void simulate_print_errors(const char *what, const struct sim_scenario_errors *errors) {
    ASSERT(what != NULL && errors != NULL);
    u32 kept = MIN(errors->count, SIM_SCENARIO_ERROR_COUNT_MAX);
    for (u32 index = 0; index < kept; index++) {
        if (errors->errors[index].line == 0) {
            fprintf(stderr, "%s: %s\n", what, errors->errors[index].message);
        } else {
            fprintf(stderr, "%s:%u: %s\n", what, errors->errors[index].line,
                    errors->errors[index].message);
        }
    }
    if (errors->count > kept) fprintf(stderr, "%s: %u more\n", what, errors->count - kept);
}

static int simulate_scenario(const struct simulate_options *options,
                             struct sim_scenario *scenario) {
    ASSERT(options != NULL && scenario != NULL);
    struct sim_scenario_errors errors = {0};
    khorgos_error error = KHORGOS_ERROR_ok;
    if (options->scenario_path == NULL) {
        sim_scenario_default(scenario);
        error = sim_scenario_validate(scenario, &errors);
    } else {
        error = sim_scenario_read_path(options->scenario_path, scenario, &errors);
    }
    if (error != KHORGOS_ERROR_ok) {
        simulate_print_errors(options->scenario_path ? options->scenario_path : "scenario",
                              &errors);
        return -1;
    }
    return 0;
}

static char *simulate_read_file(const char *path, size_t *length) {
    ASSERT(path != NULL && length != NULL);
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    char *text = NULL;
    if (fseek(file, 0, SEEK_END) != 0) goto close_file;
    long size = ftell(file);
    if (size < 0 || (unsigned long)size > SIMULATE_PAYMENTS_FILE_BYTES_MAX) goto close_file;
    if (fseek(file, 0, SEEK_SET) != 0) goto close_file;
    text = malloc((size_t)size + 1);
    if (text == NULL) goto close_file;
    if (fread(text, 1, (size_t)size, file) != (size_t)size) {
        free(text);
        text = NULL;
        goto close_file;
    }
    text[size] = '\0';
    *length = (size_t)size;
close_file:
    fclose(file);
    return text;
}

/* The day: from the payments file, or generated. */
static int simulate_day(const struct simulate_options *options,
                        const struct sim_scenario *scenario, struct sim_day *day) {
    ASSERT(options != NULL && scenario != NULL && day != NULL);
    ASSERT(day->payments == NULL);
    if (options->payments_path == NULL) {
        u32 count = sim_generate_count(scenario, options->scale_per_mille);
        if (count == 0 || sim_day_init(day, count) != KHORGOS_ERROR_ok ||
            sim_generate(scenario, options->seed, options->scale_per_mille, day) !=
                KHORGOS_ERROR_ok) {
            fprintf(stderr, "khorgos simulate: the day cannot be generated at this scale\n");
            return -1;
        }
        return 0;
    }
    size_t length = 0;
    char *text = simulate_read_file(options->payments_path, &length);
    if (text == NULL) {
        fprintf(stderr, "khorgos simulate: cannot read %s\n", options->payments_path);
        return -1;
    }
    struct sim_scenario_errors errors = {0};
    khorgos_error error = sim_day_init(day, MAX(sim_payments_csv_count(text, length), 1u));
    if (error == KHORGOS_ERROR_ok) {
        error = sim_payments_csv_parse(scenario, text, length, options->strict, day, &errors);
    }
    free(text);
    simulate_print_errors(options->payments_path, &errors);
    if (error != KHORGOS_ERROR_ok || day->count == 0) {
        fprintf(stderr, "khorgos simulate: %s refused\n", options->payments_path);
        return -1;
    }
    return 0;
}

static void simulate_progress(bool terminal, u32 done, u32 total, const char *design, u32 alpha) {
    if (!terminal) return;
    ASSERT(total > 0 && done <= total);
    u32 filled = done * SIMULATE_PROGRESS_WIDTH / total;
    char bar[SIMULATE_PROGRESS_WIDTH + 1];
    for (u32 index = 0; index < SIMULATE_PROGRESS_WIDTH; index++) {
        bar[index] = index < filled ? '#' : '.';
    }
    bar[SIMULATE_PROGRESS_WIDTH] = '\0';
    if (done == total) {
        fprintf(stderr, "\r[%s] %u/%u runs done%20s\n", bar, done, total, "");
    } else {
        fprintf(stderr, "\r[%s] %u/%u %-13s a=%u.%03u", bar, done, total, design, alpha / 1000,
                alpha % 1000);
    }
    fflush(stderr);
}

struct simulate_memory {
    struct sim_outcome *outcomes[SIM_RUN_COUNT_MAX];
    struct sim_metrics metrics[SIM_RUN_COUNT_MAX];
    struct sim_run runs[SIM_RUN_COUNT_MAX];
    u32 run_count;
};

static void simulate_memory_free(struct simulate_memory *memory) {
    ASSERT(memory != NULL);
    ASSERT(memory->run_count <= SIM_RUN_COUNT_MAX);
    for (u32 index = 0; index < memory->run_count; index++) {
        free(memory->outcomes[index]);
        if (memory->metrics[index].participants != NULL) {
            sim_metrics_deinit(&memory->metrics[index]);
        }
    }
}

static bool simulate_memory_reserve(struct simulate_memory *memory,
                                    const struct sim_scenario *scenario,
                                    const struct sim_day *day, u32 run_count) {
    ASSERT(memory != NULL && scenario != NULL && day != NULL);
    ASSERT(run_count <= SIM_RUN_COUNT_MAX);
    memory->run_count = run_count;
    for (u32 index = 0; index < run_count; index++) {
        memory->outcomes[index] = calloc(MAX(day->count, 1u), sizeof(struct sim_outcome));
        if (memory->outcomes[index] == NULL ||
            sim_metrics_init(&memory->metrics[index], scenario->bank_count,
                             scenario->currency_count) != KHORGOS_ERROR_ok) {
            return false;
        }
    }
    return true;
}

static double simulate_seconds_since(const struct timespec *start) {
    ASSERT(start != NULL);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Every design at every a, in report order (design, then a). */
static int simulate_runs(const struct simulate_options *options, struct sim_runner *runner,
                         const u32 *alphas, u32 alpha_count, struct simulate_memory *memory) {
    bool terminal = isatty(STDERR_FILENO) != 0;
    u32 total = options->design_count * alpha_count;
    ASSERT(total > 0 && alphas != NULL);
    ASSERT(total == memory->run_count);
    for (u32 index = 0; index < total; index++) {
        u32 design = options->designs[index / alpha_count];
        u32 alpha = alphas[index % alpha_count];
        simulate_progress(terminal, index, total, sim_design_name(design), alpha);
        char data[SIMULATE_PATH_BYTES_MAX];
        if (options->data != NULL) {
            snprintf(data, sizeof(data), "%s/%s-a%u", options->data, sim_design_name(design),
                     alpha);
        }
        struct sim_run_config config = {
            .design = design,
            .alpha_per_mille = alpha,
            .resolution_interval_seconds = options->resolution_interval_seconds,
            .netting_interval_seconds = options->netting_interval_seconds,
            .data_directory = options->data != NULL ? data : NULL,
        };
        khorgos_error error = sim_run_design(runner, &config, memory->outcomes[index],
                                             &memory->metrics[index], &memory->runs[index]);
        if (error != KHORGOS_ERROR_ok) {
            if (terminal) fprintf(stderr, "\n");
            fprintf(stderr, "khorgos simulate: %s at a=%u/1000 failed: %s (%s)\n",
                    sim_design_name(design), alpha, runner->message, khorgos_error_name(error));
            return -1;
        }
    }
    simulate_progress(terminal, total, total, "done", 1000);
    return 0;
}

static int simulate_report(const struct simulate_options *options,
                           const struct sim_scenario *scenario, const struct sim_day *day,
                           const struct simulate_memory *memory, double seconds) {
    ASSERT(options != NULL && scenario != NULL && day != NULL && memory != NULL);
    ASSERT(memory->run_count > 0 && seconds >= 0);
    struct sim_report report = {.scenario = scenario, .day = day, .runs = memory->runs,
                                .run_count = memory->run_count};
    if (sim_report_write_all(&report, options->out) != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos simulate: cannot write the report into %s\n", options->out);
        return 1;
    }
    printf("%s: %u payments, %u runs through the engine in %.1f s\n", scenario->name, day->count,
           memory->run_count, seconds);
    if (sim_report_write_summary(&report, stdout) != KHORGOS_ERROR_ok) return 1;
    printf("report: %s/report.html (metrics.json, payments.csv beside it)\n", options->out);
    return fflush(stdout) == 0 ? 0 : 1;
}

int cli_simulate_main(int argc, char **argv) {
    static struct simulate_options options;
    static struct sim_scenario scenario; /* large: not on the stack */
    static struct sim_runner runner;
    static struct simulate_memory memory;
    struct sim_day day = {0};
    int parsed = simulate_parse(argc, argv, &options);
    if (parsed != 0) return parsed > 0 ? 0 : 2; /* 1: help was asked for and printed */
    ASSERT(options.design_count > 0 && options.design_count <= SIM_DESIGN_COUNT);
    if (simulate_scenario(&options, &scenario) != 0) return 2;
    if (simulate_day(&options, &scenario, &day) != 0) {
        if (day.payments != NULL) sim_day_deinit(&day);
        return 2;
    }
    const u32 *alphas = options.alpha_count > 0 ? options.alpha_per_mille
                                                : scenario.alpha_per_mille;
    u32 alpha_count = options.alpha_count > 0 ? options.alpha_count : scenario.alpha_count;
    ASSERT(alpha_count > 0 && alpha_count <= SIM_ALPHA_COUNT_MAX); /* validated scenario */
    int status = 2;
    if (!simulate_make_directories(options.out) ||
        (options.data != NULL && !simulate_make_directories(options.data))) {
        fprintf(stderr, "khorgos simulate: cannot create %s\n",
                options.data != NULL ? options.data : options.out);
        goto free_day;
    }
    if (sim_runner_init(&runner, &scenario, &day) != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos simulate: %s\n", runner.message[0] ? runner.message
                                                                   : "out of memory");
        goto free_day;
    }
    status = 1;
    if (!simulate_memory_reserve(&memory, &scenario, &day, options.design_count * alpha_count)) {
        fprintf(stderr, "khorgos simulate: out of memory for %u runs\n", memory.run_count);
        goto free_runs;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (simulate_runs(&options, &runner, alphas, alpha_count, &memory) != 0) goto free_runs;
    status = simulate_report(&options, &scenario, &day, &memory, simulate_seconds_since(&start));
free_runs:
    simulate_memory_free(&memory);
    sim_runner_deinit(&runner);
free_day:
    sim_day_deinit(&day);
    return status;
}
