/*
 * cli_simulate.c: `khorgos simulate`, the main job: a business day of China–Central
 * Asia trade run through the real engine under each design at each liquidity level, and the
 * report of what each design costs.
 *
 *   khorgos simulate [--scenario default|trade-only|FILE]
 *                    [--payments FILE.csv [--strict]]
 *                    [--seed N] [--seeds N] [--scale X] [--a LIST] [--designs LIST]
 *                    [--resolution-interval SECONDS] [--netting-interval SECONDS] [--out DIR]
 *                    [--data DIR]
 *
 * Steps: the scenario (built in, or a file, read and validated); for each seed S .. S + N - 1,
 * the day (generated from the seed and scale: the trade invoices with sim_interbank.c's layer
 * added, except under trade-only, which is the trade invoices alone; or read once from the
 * payments file, bad rows reported by line and skipped, or the file refused with --strict),
 * then one run per design (in the order) and value of a (sim_run_design: a fresh
 * engine each, in memory or in DIR/<design>-a<a>-seed<S> under --data); then metrics.json,
 * payments.csv and report.html in the output directory and the summary table (means and 95%
 * intervals over the seeds) on standard output. A progress bar goes to standard error when it
 * is a terminal.
 *
 * Memory: the first seed's day and each of its runs' outcomes are kept for payments.csv and
 * the charts through the day (48 bytes per payment and run); later seeds' days and outcomes
 * reuse one buffer each; every run's metrics are kept. Exit status: 0 done, 1 a run or a write
 * failed, 2 usage or input refused.
 */
#include "cli/cli.h"
#include "sim/sim.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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
/* Seeds by default: ten days give a 95% interval of about 0.7 standard deviations each way
 * (t = 2.262 over the square root of 10), enough to tell the designs apart, and the default
 * day's 250 runs take about 30 s of processor time. */
#define SIMULATE_SEED_COUNT_DEFAULT 10u
/* Seeds run on this many threads at once, each with its own engines: the main job's machine
 * has two cores. Every run writes only its own slot, so the results do not depend on it. */
#define SIMULATE_THREAD_COUNT 2u

struct simulate_options {
    const char *scenario_path;
    const char *payments_path;
    bool strict;
    u64 seed;
    u32 seed_count;                   /* 0: the default (one with --payments) */
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
    "                        [--seeds N] [--scale X] [--a LIST] [--designs LIST] [--out DIR]\n"
    "                        [--data DIR] [--resolution-interval SECONDS]\n"
    "                        [--netting-interval SECONDS]\n"
    "  --seeds N             days of seeds S .. S+N-1 (default 10; 1 with --payments)\n"
    "  --scenario NAME|FILE  default (trade and interbank payments; interbank is a synonym),\n"
    "                        trade-only (the trade invoices alone), or a scenario file\n"
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
    } else if (strcmp(flag, "--seeds") == 0) {
        return simulate_parse_u32(value, 1, SIM_SEED_COUNT_MAX, &options->seed_count);
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
    if (options->payments_path != NULL && options->seed_count > 1) {
        fprintf(stderr, "khorgos simulate: a payments file is one day: --seeds must be 1\n%s",
                simulate_usage);
        return -1;
    }
    if (options->seed_count == 0) {
        options->seed_count = options->payments_path != NULL ? 1 : SIMULATE_SEED_COUNT_DEFAULT;
    }
    if ((u64)options->seed + options->seed_count - 1 > U32_MAX) {
        fprintf(stderr, "khorgos simulate: the last seed is above %u\n%s", U32_MAX,
                simulate_usage);
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

/* The generated day holds the interbank layer, except under --scenario trade-only. */
static bool simulate_interbank(const struct simulate_options *options) {
    ASSERT(options != NULL);
    ASSERT(options->seed_count <= SIM_SEED_COUNT_MAX);
    return options->scenario_path == NULL || strcmp(options->scenario_path, "trade-only") != 0;
}

static int simulate_scenario(const struct simulate_options *options,
                             struct sim_scenario *scenario) {
    ASSERT(options != NULL && scenario != NULL);
    struct sim_scenario_errors errors = {0};
    khorgos_error error = KHORGOS_ERROR_ok;
    /* The built-in names; anything else is a file (./default reads a file of that name). */
    const char *path = options->scenario_path;
    if (path == NULL || strcmp(path, "default") == 0 || strcmp(path, "trade-only") == 0 ||
        strcmp(path, "interbank") == 0) {
        sim_scenario_default(scenario);
        error = sim_scenario_validate(scenario, &errors);
    } else {
        error = sim_scenario_read_path(path, scenario, &errors);
    }
    if (error != KHORGOS_ERROR_ok) {
        simulate_print_errors(path != NULL ? path : "scenario",
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
                        const struct sim_scenario *scenario, u64 seed, struct sim_day *day) {
    ASSERT(options != NULL && scenario != NULL && day != NULL);
    ASSERT(day->payments == NULL);
    if (options->payments_path == NULL) {
        u32 count = sim_generate_count(scenario, options->scale_per_mille);
        bool interbank = simulate_interbank(options);
        u32 room = count + (interbank ? sim_interbank_count_max(scenario, count) : 0);
        if (count == 0 || room > SIM_PAYMENT_COUNT_MAX ||
            sim_day_init(day, room) != KHORGOS_ERROR_ok ||
            sim_generate(scenario, seed, options->scale_per_mille, day) != KHORGOS_ERROR_ok ||
            (interbank && sim_interbank_add(scenario, seed, day) != KHORGOS_ERROR_ok)) {
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

/* runs[seed_index x per_seed + k]: the report's order (struct sim_report). */
struct simulate_memory {
    struct sim_outcome *outcomes[SIM_RUN_COUNT_MAX]; /* the first seed's runs */
    struct sim_outcome *scratch[SIMULATE_THREAD_COUNT]; /* later seeds' outcomes, per thread */
    struct sim_metrics *metrics;      /* [run_count] */
    struct sim_run *runs;             /* [run_count] */
    u32 per_seed;
    u32 run_count;
    u32 metrics_ready;                /* metrics[0 .. metrics_ready - 1] initialised */
};

static void simulate_memory_free(struct simulate_memory *memory) {
    ASSERT(memory != NULL);
    ASSERT(memory->per_seed <= SIM_RUN_COUNT_MAX);
    for (u32 index = 0; index < memory->per_seed; index++) free(memory->outcomes[index]);
    for (u32 index = 0; index < memory->metrics_ready; index++) {
        sim_metrics_deinit(&memory->metrics[index]);
    }
    for (u32 thread = 0; thread < SIMULATE_THREAD_COUNT; thread++) free(memory->scratch[thread]);
    free(memory->metrics);
    free(memory->runs);
}

static bool simulate_memory_reserve(struct simulate_memory *memory,
                                    const struct sim_scenario *scenario,
                                    const struct sim_day *day, u32 per_seed, u32 seed_count) {
    ASSERT(memory != NULL && scenario != NULL && day != NULL);
    ASSERT(per_seed <= SIM_RUN_COUNT_MAX && seed_count <= SIM_SEED_COUNT_MAX);
    memset(memory, 0, sizeof(*memory));
    memory->per_seed = per_seed;
    memory->run_count = per_seed * seed_count;
    for (u32 thread = 0; thread < SIMULATE_THREAD_COUNT; thread++) {
        /* The room every day of the scenario reserves: at least any seed's day. */
        memory->scratch[thread] = calloc(MAX(day->count_max, 1u), sizeof(struct sim_outcome));
        if (memory->scratch[thread] == NULL) return false;
    }
    memory->metrics = calloc(memory->run_count, sizeof(struct sim_metrics));
    memory->runs = calloc(memory->run_count, sizeof(struct sim_run));
    if (memory->metrics == NULL || memory->runs == NULL) return false;
    for (u32 index = 0; index < per_seed; index++) {
        memory->outcomes[index] = calloc(MAX(day->count, 1u), sizeof(struct sim_outcome));
        if (memory->outcomes[index] == NULL) return false;
    }
    for (u32 index = 0; index < memory->run_count; index++) {
        if (sim_metrics_init(&memory->metrics[index], scenario->bank_count,
                             scenario->currency_count) != KHORGOS_ERROR_ok) {
            return false;
        }
        memory->metrics_ready = index + 1;
    }
    return true;
}

static double simulate_seconds_since(const struct timespec *start) {
    ASSERT(start != NULL);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* One thread's share of the seeds: seed indexes thread, thread + SIMULATE_THREAD_COUNT, ... */
struct simulate_worker {
    const struct simulate_options *options;
    const struct sim_scenario *scenario;
    const struct sim_day *day;        /* the first seed's */
    const u32 *alphas;
    u32 alpha_count;
    u32 thread;
    struct simulate_memory *memory;
    atomic_uint *done;                /* runs finished, for the progress bar */
    struct sim_runner runner;
    int status;                       /* 0, -1 a run failed, -2 the engine cannot hold it */
};

/* Every design at every a on the day of one seed (the seed_index-th), in report order. */
static int simulate_seed_runs(struct simulate_worker *worker, u32 seed_index) {
    const struct simulate_options *options = worker->options;
    struct simulate_memory *memory = worker->memory;
    bool terminal = isatty(STDERR_FILENO) != 0;
    u32 per_seed = options->design_count * worker->alpha_count;
    ASSERT(per_seed > 0 && per_seed == memory->per_seed);
    ASSERT(seed_index < options->seed_count);
    for (u32 index = 0; index < per_seed; index++) {
        u32 design = options->designs[index / worker->alpha_count];
        u32 alpha = worker->alphas[index % worker->alpha_count];
        u32 run = seed_index * per_seed + index;
        simulate_progress(terminal, atomic_load(worker->done), memory->run_count,
                          sim_design_name(design), alpha);
        char data[SIMULATE_PATH_BYTES_MAX];
        if (options->data != NULL) {
            snprintf(data, sizeof(data), "%s/%s-a%u-seed%llu", options->data,
                     sim_design_name(design), alpha,
                     (unsigned long long)worker->runner.day->seed);
        }
        struct sim_run_config config = {
            .design = design,
            .alpha_per_mille = alpha,
            .resolution_interval_seconds = options->resolution_interval_seconds,
            .netting_interval_seconds = options->netting_interval_seconds,
            .data_directory = options->data != NULL ? data : NULL,
        };
        struct sim_outcome *outcomes =
            seed_index == 0 ? memory->outcomes[index] : memory->scratch[worker->thread];
        khorgos_error error = sim_run_design(&worker->runner, &config, outcomes,
                                             &memory->metrics[run], &memory->runs[run]);
        if (error != KHORGOS_ERROR_ok) {
            fprintf(stderr, "%skhorgos simulate: %s at a=%u/1000, seed %llu failed: %s (%s)\n",
                    terminal ? "\n" : "", sim_design_name(design), alpha,
                    (unsigned long long)worker->runner.day->seed, worker->runner.message,
                    khorgos_error_name(error));
            return -1;
        }
        if (seed_index > 0) memory->runs[run].outcomes = NULL; /* the scratch is reused */
        atomic_fetch_add(worker->done, 1u);
    }
    return 0;
}

/* The seeds of one thread: the first seed's runs on the kept day; each later seed's day
 * generated into the thread's own day. */
static void *simulate_worker_main(void *argument) {
    struct simulate_worker *worker = argument;
    const struct simulate_options *options = worker->options;
    ASSERT(worker->thread < SIMULATE_THREAD_COUNT);
    ASSERT(options->seed_count >= 1 && options->seed_count <= SIM_SEED_COUNT_MAX);
    worker->status = 0;
    for (u32 seed_index = worker->thread; seed_index < options->seed_count &&
                                          worker->status == 0;
         seed_index += SIMULATE_THREAD_COUNT) {
        struct sim_day later = {0};
        const struct sim_day *today = worker->day;
        if (seed_index > 0) {
            if (simulate_day(options, worker->scenario, options->seed + seed_index, &later) !=
                0) {
                if (later.payments != NULL) sim_day_deinit(&later);
                worker->status = -1;
                return NULL;
            }
            today = &later;
        }
        if (sim_runner_init(&worker->runner, worker->scenario, today) != KHORGOS_ERROR_ok) {
            fprintf(stderr, "khorgos simulate: %s\n",
                    worker->runner.message[0] ? worker->runner.message : "out of memory");
            worker->status = -2; /* the scenario or day is more than the engine holds */
        } else {
            worker->status = simulate_seed_runs(worker, seed_index);
            sim_runner_deinit(&worker->runner);
        }
        if (seed_index > 0) sim_day_deinit(&later);
    }
    return NULL;
}

/* Every seed's runs, SIMULATE_THREAD_COUNT threads at once; the worst status of any. */
static int simulate_runs(const struct simulate_options *options,
                         const struct sim_scenario *scenario, const struct sim_day *day,
                         const u32 *alphas, u32 alpha_count, struct simulate_memory *memory) {
    static struct simulate_worker workers[SIMULATE_THREAD_COUNT]; /* runners are large */
    pthread_t threads[SIMULATE_THREAD_COUNT];
    bool started[SIMULATE_THREAD_COUNT] = {false};
    atomic_uint done = 0;
    ASSERT(day->payments != NULL && memory->per_seed > 0);
    u32 thread_count = MIN(options->seed_count, SIMULATE_THREAD_COUNT);
    ASSERT(thread_count >= 1);
    for (u32 thread = 0; thread < thread_count; thread++) {
        workers[thread] = (struct simulate_worker){
            .options = options, .scenario = scenario, .day = day, .alphas = alphas,
            .alpha_count = alpha_count, .thread = thread, .memory = memory, .done = &done};
        if (thread == 0) continue; /* the calling thread takes the first share */
        started[thread] = pthread_create(&threads[thread], NULL, simulate_worker_main,
                                         &workers[thread]) == 0;
        if (!started[thread]) simulate_worker_main(&workers[thread]); /* run it here instead */
    }
    simulate_worker_main(&workers[0]);
    int status = 0;
    for (u32 thread = 0; thread < thread_count; thread++) {
        if (started[thread]) pthread_join(threads[thread], NULL);
        if (workers[thread].status == -2 || (status == 0 && workers[thread].status != 0)) {
            status = workers[thread].status;
        }
    }
    if (status == 0) {
        simulate_progress(isatty(STDERR_FILENO) != 0, memory->run_count, memory->run_count,
                          "done", 1000);
    }
    return status;
}

static int simulate_report(const struct simulate_options *options,
                           const struct sim_scenario *scenario, const struct sim_day *day,
                           const struct simulate_memory *memory, double seconds) {
    ASSERT(options != NULL && scenario != NULL && day != NULL && memory != NULL);
    ASSERT(memory->run_count > 0 && seconds >= 0);
    struct sim_report report = {.scenario = scenario, .day = day, .runs = memory->runs,
                                .run_count = memory->run_count,
                                .seed_count = options->seed_count};
    if (sim_report_write_all(&report, options->out) != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos simulate: cannot write the report into %s\n", options->out);
        return 1;
    }
    printf("%s: %u payments, %u seed%s (%llu to %llu), %u runs through the engine in "
           "%.1f s\n",
           scenario->name, day->count, options->seed_count, options->seed_count == 1 ? "" : "s",
           (unsigned long long)options->seed,
           (unsigned long long)(options->seed + options->seed_count - 1), memory->run_count,
           seconds);
    if (sim_report_write_summary(&report, stdout) != KHORGOS_ERROR_ok) return 1;
    printf("report: %s/report.html (metrics.json, payments.csv, participants.csv beside it)\n",
           options->out);
    return fflush(stdout) == 0 ? 0 : 1;
}

int cli_simulate_main(int argc, char **argv) {
    static struct simulate_options options;
    static struct sim_scenario scenario; /* large: not on the stack */
    static struct simulate_memory memory;
    struct sim_day day = {0};
    int parsed = simulate_parse(argc, argv, &options);
    if (parsed != 0) return parsed > 0 ? 0 : 2; /* 1: help was asked for and printed */
    ASSERT(options.design_count > 0 && options.design_count <= SIM_DESIGN_COUNT);
    if (simulate_scenario(&options, &scenario) != 0) return 2;
    if (simulate_day(&options, &scenario, options.seed, &day) != 0) {
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
    status = 1;
    if (!simulate_memory_reserve(&memory, &scenario, &day, options.design_count * alpha_count,
                                 options.seed_count)) {
        fprintf(stderr, "khorgos simulate: out of memory for %u runs\n", memory.run_count);
        goto free_runs;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int ran = simulate_runs(&options, &scenario, &day, alphas, alpha_count, &memory);
    if (ran != 0) {
        status = ran == -2 ? 2 : 1;
        goto free_runs;
    }
    status = simulate_report(&options, &scenario, &day, &memory, simulate_seconds_since(&start));
free_runs:
    simulate_memory_free(&memory);
free_day:
    sim_day_deinit(&day);
    return status;
}
