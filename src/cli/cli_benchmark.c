/*
 * cli_benchmark.c: `khorgos benchmark`, the engine driven through its C API (include/khorgos.h)
 * on the workload of bench/bench_workload.h, the same one SQLite and PostgreSQL run.
 *
 *   khorgos benchmark [--transfers N] [--zipf] [--single] [--serial]
 *                     [--data DIR [--replay | --paired R]]
 *
 * Steps: 10,000 accounts across the eight currencies (debits must not exceed credits), each
 * funded from an issuance account of its currency; then the transfers, in full batches of 8,189
 * (or one per request with --single). Reports transfers per second, batch latency p50/p99/max,
 * peak memory, and with --data (a directory that must not exist yet: the run formats it, so
 * every commit is durable) the bytes on disk per transfer, all files included, and what the
 * automatic checkpoints cost the commits.
 *
 * Checkpoint delay (--data, automatic checkpoints on, as an operator runs them). Before and
 * after every batch the loop reads khorgos_checkpoint_statistics; a batch is "touched" when a
 * checkpoint began in it (started grew), ended in it (completed or discarded grew: the publish,
 * rename and fsync of the directory, happens in a commit) or was running during it
 * (sequence_running nonzero before or after it). This works whether the snapshot is written by
 * a forked child or streamed by the engine itself. checkpoint_delay_ms_max is the longest
 * touched batch minus the p50 of the untouched ones: what a checkpoint added to a commit.
 *
 * Paired checkpoint delay (--paired R, needs --data, full batches). The measure above counts a
 * touched batch's whole latency against the untouched p50, so on a shared VM, whose own stalls
 * put single batches 5 to 20 ms above the p50 with no checkpoint running, it cannot show a bound
 * of a few ms. Paired: R runs with the default checkpoints and R with none
 * (checkpoint_journal_bytes = UINT64_MAX), alternately, each formatting DIR/data and removing it
 * after; the same transfers go in the same batches, and the policy begins its checkpoints at
 * the same batches, in every run. Each run keeps its batch latencies in batch order. Reported
 * (ms): checkpoint_delay_paired_ms_max, the largest over batches b of the median over the R
 * pairs of (with[b] - without[b]), and delay_batch, its b: what a checkpoint adds to a commit,
 * the machine's stalls, which fall on random batches, dropped by the median;
 * checkpoint_delay_window_ms_max, the same with each side the slowest batch within
 * BENCHMARK_PAIRED_WINDOW of b (a publish's batch moves a little from run to run);
 * paired_noise_ms_max and window_noise_ms_max, the same statistics between runs that both ran
 * without checkpoints (run r against run r + 1): the statistic's noise floor; run_max_paired_ms
 * and run_max_paired_ms_max, the median and the largest over the pairs of (slowest batch with -
 * slowest batch without); pair_delay_ms_max and pair_noise_ms_max, the single largest
 * difference of a batch from its pair, and between runs without checkpoints: an upper bound
 * that counts the machine's stalls as delay; pairs_over_target and noise_pairs_over_target,
 * how many of the R x B batches are slower than their pair by more than 10 ms
 * (BENCHMARK_DELAY_TARGET_NS), with against without and without against without: if
 * checkpoints caused such delays, even rarely or at moving batches, the first would exceed
 * the second. And the median throughput of each kind of run, and the journal's write times
 * (khorgos_journal_statistics) summed over each kind: batches written (flights), those whose
 * writes and fdatasyncs took over 5 and over 10 ms, and the longest. The cause, where the
 * batch latencies show only the effect: a checkpoint delays commits mostly through the disk
 * it shares with the journal, so its runs would show more slow flights than the others.
 *   "khorgos paired <uniform|zipf> transfers=N runs=R batches=B checkpoints_per_run=X
 *    with_transfers_per_second=X without_transfers_per_second=X
 *    checkpoint_delay_paired_ms_max=.. delay_batch=N paired_noise_ms_max=.. noise_batch=N
 *    checkpoint_delay_window_ms_max=.. window_batch=N window_noise_ms_max=..
 *    run_max_paired_ms=.. run_max_paired_ms_max=.. pair_delay_ms_max=.. pair_noise_ms_max=..
 *    pairs_over_target=N noise_pairs_over_target=N with_flights=N with_flights_over_5_ms=N
 *    with_flights_over_10_ms=N with_flight_ms_max=.. without_flights=N (the same four)"
 *
 * Replay (--replay, needs --data): the same run with automatic checkpoints off
 * (checkpoint_journal_bytes = UINT64_MAX), so the journal holds every transfer after the empty
 * snapshot of format; then close, and time khorgos_open, whose recovery replays the whole
 * journal through the state machine. The run checks that no checkpoint ran, that the directory
 * holds one snapshot only, and that the reopened engine reached the same journal sequence and
 * chain head. The live and replay rates come from the same process, the same transfers and the
 * same capacities, so their ratio does not depend on the machine's speed.
 *
 * Output: one line that bench/run.sh reads, fields NAME=VALUE separated by spaces.
 *   "khorgos <batched|single> <uniform|zipf> transfers=N seconds=S transfers_per_second=X
 *    batch_p50_us=.. batch_p99_us=.. batch_max_us=.. peak_rss_kib=.. bytes=B
 *    bytes_per_transfer=.." and, with --data, " checkpoints=N checkpoint_batches=N
 *    checkpoint_batch_max_us=.. other_batch_p50_us=.. checkpoint_delay_ms_max=..
 *    checkpoint_begin_ms_max=.. other_batch_p99_us=.. other_batch_max_us=.." (a figure with no
 *    batch to measure it is "none"; the last two are the untouched batches' own tail).
 *   With --replay: "khorgos replay <uniform|zipf> transfers=N journal_records=N bytes=B
 *    live_seconds=S live_transfers_per_second=X replay_seconds=S replay_transfers_per_second=X
 *    ratio_replay_vs_live=X live_cpu_seconds=S replay_cpu_seconds=S peak_rss_kib=.." (the
 *    CPU seconds, user and system, steady on a shared machine where the wall ratio is not).
 *
 * Memory: the batch buffers and the latency arrays are reserved before the timed loop, and the
 * engine's reserved memory is made resident (khorgos_memory_prefault) as a server would, so no
 * batch pays first-touch page faults: without it the first batches fault on most id-map
 * inserts and the posting lists fault as they grow (2.6 times the in-memory throughput).
 */
#include "cli/cli.h"
#include "base/base.h"
#include "../../bench/bench_workload.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

struct benchmark_options {
    u64 transfer_count;
    bool zipf;
    bool single;
    bool serial; /* one request at a time (khorgos_execute), not a pipeline of two */
    bool replay;
    u32 paired_runs; /* --paired R: R runs with checkpoints and R without, alternately */
    const char *data_directory;
};

/* What the timed loop measured; the arrays are reserved before it, one slot per batch. */
struct benchmark_measure {
    u64 batch_count;
    double seconds;
    double cpu_seconds;           /* user and system time of the process during the loop */
    u64 *latencies_ns;            /* every batch; sorted after the loop */
    u64 *ordered_latencies_ns;    /* every batch in batch order (for --paired), or NULL */
    u64 *other_latencies_ns;      /* the batches no checkpoint touched; sorted after the loop */
    u64 other_count;
    u64 checkpoint_batch_count;   /* batches a checkpoint touched */
    u64 checkpoint_latency_ns_max;
    struct khorgos_checkpoint_statistics statistics; /* at the end of the loop */
};

/* Issuance accounts of the eight currencies take ids above the bank accounts. */
#define BENCHMARK_ISSUANCE_ID_BASE 1000000u
/* The largest request of the setup: one account or funding transfer per bank account. */
_Static_assert(BENCH_ACCOUNT_COUNT <= 2 * LIMIT_BATCH_EVENTS_MAX, "setup fits in two batches");
/* A path in the data directory. */
#define BENCHMARK_PATH_BYTES_MAX 4096u
/* --paired: each run takes about 4 s at 2M transfers (with the format, prefault and close) and
 * formats its own directory; 64 pairs bound the run at a few minutes per million transfers. */
#define BENCHMARK_PAIRED_RUNS_MAX 64u
/* --paired's second statistic compares each batch's neighbourhood, this many batches either
 * side (about 40 ms of commits), so that a delay whose batch varies a little from run to run
 * (a publish lands in the first commit after the thread ends) is still paired. */
#define BENCHMARK_PAIRED_WINDOW 4u
/* The bound on what a checkpoint may add to a commit (the storage issue's target): --paired
 * counts the batches slower than their pair by more than this. */
#define BENCHMARK_DELAY_TARGET_NS (10u * 1000u * 1000u)

static const char benchmark_usage[] =
    "usage: khorgos benchmark [--transfers N] [--zipf] [--single] [--serial] "
    "[--data DIR [--replay | --paired R]]\n";

static int benchmark_parse(int argc, char **argv, struct benchmark_options *options) {
    ASSERT(options != NULL);
    ASSERT(argc >= 1);
    *options = (struct benchmark_options){.transfer_count = 2000000};
    for (int index = 1; index < argc; index++) {
        const char *argument = argv[index];
        if (strcmp(argument, "--transfers") == 0 && index + 1 < argc) {
            options->transfer_count = strtoull(argv[++index], NULL, 10);
        } else if (strcmp(argument, "--zipf") == 0) {
            options->zipf = true;
        } else if (strcmp(argument, "--single") == 0) {
            options->single = true;
        } else if (strcmp(argument, "--serial") == 0) {
            options->serial = true;
        } else if (strcmp(argument, "--replay") == 0) {
            options->replay = true;
        } else if (strcmp(argument, "--paired") == 0 && index + 1 < argc) {
            options->paired_runs = (u32)strtoul(argv[++index], NULL, 10);
            if (options->paired_runs < 3 || options->paired_runs > BENCHMARK_PAIRED_RUNS_MAX) {
                fputs("khorgos benchmark: --paired takes 3 to 64 runs\n", stderr);
                return -1;
            }
        } else if (strcmp(argument, "--data") == 0 && index + 1 < argc) {
            options->data_directory = argv[++index];
        } else {
            fputs(benchmark_usage, stderr);
            return -1;
        }
    }
    /* Replay is measured in full batches: one journal record per 8,189 transfers keeps the
     * segment's record slots (half of them trigger a checkpoint even when byte-triggered ones
     * are off) far from full, so only the empty snapshot of format precedes the journal. */
    if (options->replay && (options->data_directory == NULL || options->single)) {
        fputs("khorgos benchmark: --replay needs --data and full batches (no --single)\n",
              stderr);
        return -1;
    }
    /* Paired runs compare batch b of one run with batch b of another: the same transfers in
     * the same batches, durable, pipelined as the main measure is. */
    if (options->paired_runs != 0 &&
        (options->data_directory == NULL || options->single || options->replay)) {
        fputs("khorgos benchmark: --paired needs --data and full batches (no --single, "
              "no --replay)\n", stderr);
        return -1;
    }
    return options->transfer_count > 0 && options->transfer_count <= LIMIT_TRANSFER_COUNT_MAX / 2
               ? 0
               : -1;
}

/* Exits with a message unless both the engine and the request succeeded. */
static void benchmark_require(khorgos_error error, khorgos_error request_error) {
    if (error == KHORGOS_ERROR_ok && request_error == KHORGOS_ERROR_ok) return;
    fprintf(stderr, "khorgos benchmark: request failed: %s\n",
            khorgos_strerror(error != KHORGOS_ERROR_ok ? error : request_error));
    exit(1);
}

static void benchmark_execute(struct khorgos *engine, u32 operation, const void *body,
                              u32 body_size, void *reply) {
    ASSERT(engine != NULL && body != NULL && reply != NULL);
    struct khorgos_request request = {
        .operation = operation, .body = body, .body_size = body_size, .reply = reply,
        .reply_capacity = khorgos_reply_size_max(operation, body_size)};
    khorgos_error error = khorgos_execute(engine, &request, 1);
    benchmark_require(error, request.error);
}

/* Creates the bank and issuance accounts and funds every bank account. */
static void benchmark_setup(struct khorgos *engine, struct khorgos_transfer *transfers,
                            struct khorgos_create_result *results) {
    ASSERT(engine != NULL && transfers != NULL && results != NULL);
    struct khorgos_account *accounts = (struct khorgos_account *)(void *)transfers;
    u32 count = 0;
    for (u32 ledger_index = 0; ledger_index < BENCH_LEDGER_COUNT; ledger_index++) {
        accounts[count++] = (struct khorgos_account){
            .id = BENCHMARK_ISSUANCE_ID_BASE + ledger_index, .ledger = bench_ledgers[ledger_index],
            .code = 1};
    }
    benchmark_execute(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts,
                      count * sizeof(*accounts), results);
    for (u64 first = 1; first <= BENCH_ACCOUNT_COUNT; first += LIMIT_BATCH_EVENTS_MAX) {
        count = 0;
        for (u64 id = first; id <= BENCH_ACCOUNT_COUNT && count < LIMIT_BATCH_EVENTS_MAX; id++) {
            accounts[count++] = (struct khorgos_account){
                .id = id, .ledger = bench_account_ledger(id), .code = 2,
                .flags = KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS};
        }
        benchmark_execute(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts,
                          count * sizeof(*accounts), results);
        count = 0;
        for (u64 id = first; id <= BENCH_ACCOUNT_COUNT && count < LIMIT_BATCH_EVENTS_MAX; id++) {
            u32 ledger_index = (u32)((id - 1) / BENCH_ACCOUNTS_PER_LEDGER);
            transfers[count++] = (struct khorgos_transfer){
                .id = ((u128)1 << 100) + id, .debit_account_id = BENCHMARK_ISSUANCE_ID_BASE +
                ledger_index, .credit_account_id = id, .amount = BENCH_FUNDING_MINOR_UNITS,
                .ledger = bench_ledgers[ledger_index], .code = 1};
        }
        benchmark_execute(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, transfers,
                          count * sizeof(*transfers), results);
    }
    for (u32 index = 0; index < count; index++) ASSERT(results[index].status == 0);
}

static int compare_u64(const void *left, const void *right) {
    u64 a = *(const u64 *)left, b = *(const u64 *)right;
    return (a > b) - (a < b);
}

/* The bytes of every regular file of a data directory (blocks allocated, so preallocated
 * journal segments count whole), and how many snapshot files it holds. */
static u64 directory_bytes(const char *path, u32 *snapshot_count) {
    ASSERT(snapshot_count != NULL);
    *snapshot_count = 0;
    if (path == NULL) return 0;
    DIR *directory = opendir(path);
    if (directory == NULL) return 0;
    u64 total = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        char name[BENCHMARK_PATH_BYTES_MAX];
        int length = snprintf(name, sizeof(name), "%s/%s", path, entry->d_name);
        ASSERT(length > 0);
        struct stat status;
        if ((size_t)length < sizeof(name) && stat(name, &status) == 0 &&
            S_ISREG(status.st_mode)) {
            total += (u64)status.st_blocks * 512u;
            if (strncmp(entry->d_name, "snapshot-", 9) == 0) *snapshot_count += 1;
        }
    }
    closedir(directory);
    return total;
}

/* Opens the engine of one run; with a data directory, `checkpoint_journal_bytes` is the
 * policy's threshold (0 the default an operator runs, UINT64_MAX none). */
static khorgos_error benchmark_open(const struct benchmark_options *options,
                                    u64 checkpoint_journal_bytes, struct khorgos **engine) {
    ASSERT(options != NULL && engine != NULL);
    ASSERT(!options->replay || checkpoint_journal_bytes == UINT64_MAX);
    struct khorgos_config config = {
        .account_count_max = BENCH_ACCOUNT_COUNT + 64,
        .transfer_count_max = (u32)MIN(options->transfer_count + BENCH_ACCOUNT_COUNT + 64,
                                       (u64)LIMIT_TRANSFER_COUNT_MAX),
        .account_balance_count_max = 2 * LIMIT_BATCH_EVENTS_MAX};
    if (options->data_directory == NULL) return khorgos_open_memory(engine, &config);
    /* A fresh directory every run, so bytes on disk are this run's alone. */
    char report[512] = "";
    khorgos_error error =
        khorgos_format_report(options->data_directory, &config, report, sizeof(report));
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos benchmark: cannot format %s: %s\n", options->data_directory,
                report);
        return error;
    }
    struct khorgos_open_options open_options = {
        .clock_manual = 0, .checkpoint_journal_bytes = checkpoint_journal_bytes};
    return khorgos_open(engine, options->data_directory, &open_options);
}

/* Whether a checkpoint began, ended or was running in the batch between the two readings. */
static bool benchmark_checkpoint_touched(const struct khorgos_checkpoint_statistics *before,
                                         const struct khorgos_checkpoint_statistics *after) {
    ASSERT(before != NULL && after != NULL);
    ASSERT(after->started >= before->started && after->completed >= before->completed);
    return after->started > before->started || after->completed > before->completed ||
           after->discarded > before->discarded || before->sequence_running != 0 ||
           after->sequence_running != 0;
}

static void benchmark_statistics(const struct khorgos *engine, bool durable,
                                 struct khorgos_checkpoint_statistics *statistics) {
    ASSERT(engine != NULL && statistics != NULL);
    *statistics = (struct khorgos_checkpoint_statistics){0};
    if (!durable) return;
    khorgos_error error = khorgos_checkpoint_statistics(engine, statistics);
    ASSERT(error == KHORGOS_ERROR_ok);
}

/* User and system time of this process so far: less sensitive than wall time to the other
 * programs of a shared machine, though it leaves out the waits for fdatasync. */
static double benchmark_cpu_seconds(void) {
    u64 cpu_ns = base_clock_process_cpu_ns();
    ASSERT(cpu_ns > 0);
    return (double)cpu_ns / 1e9;
}

/* Files one batch's latency under touched or untouched. */
static void benchmark_record(struct benchmark_measure *measure, u64 batch, u64 latency_ns,
                             bool touched) {
    ASSERT(batch < measure->batch_count);
    ASSERT(measure->other_count + measure->checkpoint_batch_count == batch);
    measure->latencies_ns[batch] = latency_ns;
    if (measure->ordered_latencies_ns != NULL) measure->ordered_latencies_ns[batch] = latency_ns;
    if (touched) {
        measure->checkpoint_batch_count++;
        measure->checkpoint_latency_ns_max = MAX(measure->checkpoint_latency_ns_max, latency_ns);
    } else {
        measure->other_latencies_ns[measure->other_count++] = latency_ns;
    }
}

/* One batch of the pipeline: its request, ticket, start time and checkpoint statistics. */
struct benchmark_slot {
    struct khorgos_request request;
    u64 ticket;
    u64 start_ns;
    struct khorgos_checkpoint_statistics before;
};

/* Waits for a begun batch and files its latency: from begin to durable (what its client
 * waits), touched when a checkpoint began, ended or ran between the two. */
static void benchmark_finish(struct khorgos *engine, bool durable, struct benchmark_slot *slot,
                             struct benchmark_measure *measure, u64 batch) {
    ASSERT(engine != NULL && slot != NULL);
    benchmark_require(khorgos_execute_wait(engine, slot->ticket), slot->request.error);
    u64 latency_ns = base_clock_monotonic_ns() - slot->start_ns;
    struct khorgos_checkpoint_statistics after;
    benchmark_statistics(engine, durable, &after);
    benchmark_record(measure, batch, latency_ns,
                     benchmark_checkpoint_touched(&slot->before, &after));
}

/* The timed loop: every transfer in batches, each batch's latency and checkpoint state. As
 * an application that wants throughput drives the engine: batch b + 1 is applied while batch
 * b is written and synced (khorgos_execute_begin, then khorgos_execute_wait for b), unless
 * --serial; `transfers` and `results` hold two batches. */
static void benchmark_run(struct khorgos *engine, const struct benchmark_options *options,
                          struct khorgos_transfer *transfers,
                          struct khorgos_create_result *results,
                          struct benchmark_measure *measure) {
    ASSERT(engine != NULL && options != NULL && measure != NULL);
    ASSERT(measure->batch_count > 0 && measure->other_count == 0);
    u32 batch_size = options->single ? 1 : LIMIT_BATCH_EVENTS_MAX;
    bool durable = options->data_directory != NULL;
    struct bench_workload workload;
    bench_workload_init(&workload, 42, options->zipf);
    struct benchmark_slot slots[2];
    double start_cpu_seconds = benchmark_cpu_seconds();
    u64 start_ns = base_clock_monotonic_ns();
    u64 next_id = 1;
    for (u64 batch = 0; batch < measure->batch_count; batch++) {
        struct benchmark_slot *slot = &slots[batch % 2];
        u32 count = (u32)MIN((u64)batch_size, options->transfer_count - (next_id - 1));
        struct khorgos_transfer *body = transfers + (batch % 2) * LIMIT_BATCH_EVENTS_MAX;
        bench_workload_transfers(&workload, &next_id, body, count);
        slot->request = (struct khorgos_request){
            .operation = KHORGOS_OPERATION_CREATE_TRANSFERS, .body = body,
            .body_size = count * (u32)sizeof(*body),
            .reply = results + (batch % 2) * LIMIT_BATCH_EVENTS_MAX,
            .reply_capacity = LIMIT_BATCH_EVENTS_MAX * (u32)sizeof(*results)};
        benchmark_statistics(engine, durable, &slot->before);
        slot->start_ns = base_clock_monotonic_ns();
        benchmark_require(khorgos_execute_begin(engine, &slot->request, 1, &slot->ticket),
                          KHORGOS_ERROR_ok);
        if (options->serial) {
            benchmark_finish(engine, durable, slot, measure, batch);
        } else if (batch > 0) {
            benchmark_finish(engine, durable, &slots[(batch - 1) % 2], measure, batch - 1);
        }
    }
    if (!options->serial) {
        u64 last = measure->batch_count - 1;
        benchmark_finish(engine, durable, &slots[last % 2], measure, last);
    }
    measure->seconds = (double)(base_clock_monotonic_ns() - start_ns) / 1e9;
    measure->cpu_seconds = benchmark_cpu_seconds() - start_cpu_seconds;
    benchmark_statistics(engine, durable, &measure->statistics);
    ASSERT(next_id - 1 == options->transfer_count);
    qsort(measure->latencies_ns, measure->batch_count, sizeof(u64), compare_u64);
    qsort(measure->other_latencies_ns, measure->other_count, sizeof(u64), compare_u64);
}

static long benchmark_peak_rss_kib(void) {
    struct rusage usage;
    int status = getrusage(RUSAGE_SELF, &usage);
    ASSERT(status == 0);
    ASSERT(usage.ru_maxrss >= 0);
    return usage.ru_maxrss;
}

/* A figure in the output line: microseconds or milliseconds with one decimal, or "none". */
static const char *benchmark_figure(char *text, size_t capacity, bool measured, double value) {
    ASSERT(text != NULL && capacity >= 8);
    int length = measured ? snprintf(text, capacity, "%.1f", value)
                          : snprintf(text, capacity, "none");
    ASSERT(length > 0 && (size_t)length < capacity);
    return text;
}

/* The checkpoint fields of the output line (see the header comment). */
static void benchmark_print_checkpoints(const struct benchmark_measure *measure) {
    ASSERT(measure != NULL);
    ASSERT(measure->other_count + measure->checkpoint_batch_count == measure->batch_count);
    bool touched = measure->checkpoint_batch_count > 0, others = measure->other_count > 0;
    double touched_max_ns = (double)measure->checkpoint_latency_ns_max;
    double other_p50_ns = others ? (double)measure->other_latencies_ns[measure->other_count / 2]
                                 : 0.0;
    /* The untouched batches' own tail, so the touched maximum is compared with like. */
    double other_p99_ns =
        others ? (double)measure->other_latencies_ns[(measure->other_count * 99) / 100] : 0.0;
    double other_max_ns = others ? (double)measure->other_latencies_ns[measure->other_count - 1]
                                 : 0.0;
    char maximum[32], p50[32], delay[32], begin[32], p99[32], other_maximum[32];
    printf(" checkpoints=%llu checkpoint_batches=%llu checkpoint_batch_max_us=%s"
           " other_batch_p50_us=%s checkpoint_delay_ms_max=%s checkpoint_begin_ms_max=%s",
           (unsigned long long)measure->statistics.started,
           (unsigned long long)measure->checkpoint_batch_count,
           benchmark_figure(maximum, sizeof(maximum), touched, touched_max_ns / 1e3),
           benchmark_figure(p50, sizeof(p50), others, other_p50_ns / 1e3),
           benchmark_figure(delay, sizeof(delay), touched && others,
                            (touched_max_ns - other_p50_ns) / 1e6),
           benchmark_figure(begin, sizeof(begin), measure->statistics.started > 0,
                            (double)measure->statistics.begin_ns_max / 1e6));
    printf(" other_batch_p99_us=%s other_batch_max_us=%s",
           benchmark_figure(p99, sizeof(p99), others, other_p99_ns / 1e3),
           benchmark_figure(other_maximum, sizeof(other_maximum), others, other_max_ns / 1e3));
}

static void benchmark_print(const struct benchmark_options *options,
                            const struct benchmark_measure *measure) {
    ASSERT(options != NULL && measure != NULL);
    ASSERT(measure->batch_count > 0 && measure->seconds > 0);
    u32 snapshot_count = 0;
    u64 bytes = directory_bytes(options->data_directory, &snapshot_count);
    const u64 *latencies_ns = measure->latencies_ns;
    u64 batch_count = measure->batch_count;
    printf("khorgos %s %s in_flight=%u transfers=%llu seconds=%.3f transfers_per_second=%.0f "
           "batch_p50_us=%.1f batch_p99_us=%.1f batch_max_us=%.1f peak_rss_kib=%ld bytes=%llu "
           "bytes_per_transfer=%.1f", options->single ? "single" : "batched",
           options->zipf ? "zipf" : "uniform", options->serial ? 1u : 2u,
           (unsigned long long)options->transfer_count,
           measure->seconds, (double)options->transfer_count / measure->seconds,
           (double)latencies_ns[batch_count / 2] / 1e3,
           (double)latencies_ns[(batch_count * 99) / 100] / 1e3,
           (double)latencies_ns[batch_count - 1] / 1e3, benchmark_peak_rss_kib(),
           (unsigned long long)bytes, (double)bytes / (double)options->transfer_count);
    if (options->data_directory != NULL) benchmark_print_checkpoints(measure);
    printf("\n");
}

/* Closes the engine, then times khorgos_open: recovery replays the whole journal. */
static int benchmark_replay(struct khorgos *engine, const struct benchmark_options *options,
                            const struct benchmark_measure *measure) {
    ASSERT(engine != NULL && options->replay && options->data_directory != NULL);
    u8 head_live[32], head_replayed[32];
    u64 sequence_live = 0, sequence_replayed = 0;
    khorgos_error error = khorgos_chain_head(engine, head_live, &sequence_live);
    ASSERT(error == KHORGOS_ERROR_ok);
    khorgos_close(engine);
    u32 snapshot_count = 0;
    u64 bytes = directory_bytes(options->data_directory, &snapshot_count);
    if (measure->statistics.started != 0 || snapshot_count != 1) {
        fprintf(stderr, "khorgos benchmark: %llu checkpoints ran and %u snapshots exist; replay "
                "would not cover the whole journal\n",
                (unsigned long long)measure->statistics.started, snapshot_count);
        return 1;
    }
    /* Like for like: neither phase makes its memory resident first (see cli_benchmark_main), so
     * both pay the same first-touch page faults. */
    struct khorgos_open_options open_options = {.checkpoint_journal_bytes = UINT64_MAX};
    double start_cpu_seconds = benchmark_cpu_seconds();
    u64 start_ns = base_clock_monotonic_ns();
    error = khorgos_open(&engine, options->data_directory, &open_options);
    double replay_seconds = (double)(base_clock_monotonic_ns() - start_ns) / 1e9;
    double replay_cpu_seconds = benchmark_cpu_seconds() - start_cpu_seconds;
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos benchmark: reopening: %s\n", khorgos_strerror(error));
        return 1;
    }
    error = khorgos_chain_head(engine, head_replayed, &sequence_replayed);
    ASSERT(error == KHORGOS_ERROR_ok);
    ASSERT(sequence_replayed == sequence_live);
    ASSERT(memcmp(head_live, head_replayed, sizeof(head_live)) == 0);
    khorgos_close(engine);
    double live_rate = (double)options->transfer_count / measure->seconds;
    double replay_rate = (double)options->transfer_count / replay_seconds;
    printf("khorgos replay %s transfers=%llu journal_records=%llu bytes=%llu live_seconds=%.3f "
           "live_transfers_per_second=%.0f replay_seconds=%.3f replay_transfers_per_second=%.0f "
           "ratio_replay_vs_live=%.2f live_cpu_seconds=%.3f replay_cpu_seconds=%.3f "
           "peak_rss_kib=%ld\n",
           options->zipf ? "zipf" : "uniform", (unsigned long long)options->transfer_count,
           (unsigned long long)sequence_replayed, (unsigned long long)bytes, measure->seconds,
           live_rate, replay_seconds, replay_rate, replay_rate / live_rate,
           measure->cpu_seconds, replay_cpu_seconds, benchmark_peak_rss_kib());
    return 0;
}

/* One run: open (format with --data), make the memory resident, set up the accounts, time
 * the transfers into `measure` (its counters zero, its arrays reserved). The engine is left
 * open for the caller to close or replay. */
static khorgos_error benchmark_once(const struct benchmark_options *options,
                                    u64 checkpoint_journal_bytes, struct khorgos **engine,
                                    struct khorgos_transfer *transfers,
                                    struct khorgos_create_result *results,
                                    struct benchmark_measure *measure) {
    ASSERT(options != NULL && engine != NULL && measure != NULL);
    ASSERT(measure->other_count == 0 && measure->checkpoint_batch_count == 0);
    khorgos_error error = benchmark_open(options, checkpoint_journal_bytes, engine);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos benchmark: %s\n", khorgos_strerror(error));
        return error;
    }
    /* As a server opens: the reserved memory made resident before the first request, so the
     * first batches do not pay a page fault per id-map insert (about 100 ms at batch 0). Not
     * for --replay, whose two phases are compared like for like, both faulting as they go. */
    if (!options->replay) {
        error = khorgos_memory_prefault(*engine);
        ASSERT(error == KHORGOS_ERROR_ok);
    }
    benchmark_setup(*engine, transfers, results);
    benchmark_run(*engine, options, transfers, results, measure);
    return KHORGOS_ERROR_ok;
}

/* ---- --paired: what checkpoints add to each batch, against the same run without them ------ */

/* Removes a data directory a run formatted: its files (it holds no subdirectory), then it. */
static bool benchmark_remove_directory(const char *path) {
    ASSERT(path != NULL && path[0] != '\0');
    DIR *directory = opendir(path);
    if (directory == NULL) return false;
    bool removed = true;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        char name[BENCHMARK_PATH_BYTES_MAX];
        int length = snprintf(name, sizeof(name), "%s/%s", path, entry->d_name);
        ASSERT(length > 0);
        if ((size_t)length >= sizeof(name) || unlink(name) != 0) removed = false;
    }
    closedir(directory);
    if (removed && rmdir(path) != 0) removed = false;
    if (!removed) fprintf(stderr, "khorgos benchmark: cannot remove %s\n", path);
    return removed;
}

static int compare_i64(const void *left, const void *right) {
    i64 a = *(const i64 *)left, b = *(const i64 *)right;
    return (a > b) - (a < b);
}

/* The median of `count` values, sorted in place: the mean of the middle two when even. */
static double benchmark_median(i64 *values, u32 count) {
    ASSERT(values != NULL && count > 0);
    qsort(values, count, sizeof(i64), compare_i64);
    ASSERT(values[0] <= values[count - 1]);
    if (count % 2 == 1) return (double)values[count / 2];
    return ((double)values[count / 2 - 1] + (double)values[count / 2]) / 2.0;
}

/* The slowest batch of `row` within `window` batches either side of `batch`. */
static u64 benchmark_window_max(const u64 *row, u64 batch_count, u64 batch, u32 window) {
    ASSERT(row != NULL && batch < batch_count);
    u64 first = batch >= window ? batch - window : 0;
    u64 last = MIN(batch + window, batch_count - 1);
    u64 maximum = 0;
    for (u64 index = first; index <= last; index++) maximum = MAX(maximum, row[index]);
    ASSERT(maximum >= row[batch]);
    return maximum;
}

/* The largest, over the batches b, of the median over the runs of left[run] minus
 * right[(run + shift) % runs], each the slowest batch within `window` of b, in ns, and at
 * which b. Batch b of every run holds the same transfers, and the policy begins its
 * checkpoints at the same batches in every run, so a delay a checkpoint causes recurs at its
 * batch (within a few batches for the publish, whose commit depends on when the thread ends:
 * hence the window) while the machine's own stalls fall at random batches and the median
 * drops them. */
static double benchmark_paired_max_ns(const u64 *left, const u64 *right, u32 runs,
                                      u64 batch_count, u32 shift, u32 window, u64 *batch_at) {
    ASSERT(left != NULL && right != NULL && batch_at != NULL);
    ASSERT(runs >= 3 && runs <= BENCHMARK_PAIRED_RUNS_MAX && shift < runs && batch_count > 0);
    i64 differences[BENCHMARK_PAIRED_RUNS_MAX];
    double maximum = 0.0;
    *batch_at = 0;
    for (u64 batch = 0; batch < batch_count; batch++) {
        for (u32 run = 0; run < runs; run++) {
            const u64 *left_row = left + run * batch_count;
            const u64 *right_row = right + ((run + shift) % runs) * batch_count;
            differences[run] = (i64)benchmark_window_max(left_row, batch_count, batch, window) -
                               (i64)benchmark_window_max(right_row, batch_count, batch, window);
        }
        double median = benchmark_median(differences, runs);
        if (batch == 0 || median > maximum) {
            maximum = median;
            *batch_at = batch;
        }
    }
    return maximum;
}

/* The largest left[run][batch] minus right[(run + shift) % runs][batch] over every run and
 * batch, in ns, and how many of those differences exceed BENCHMARK_DELAY_TARGET_NS. */
static i64 benchmark_pair_max_ns(const u64 *left, const u64 *right, u32 runs, u64 batch_count,
                                 u32 shift, u64 *over_target) {
    ASSERT(left != NULL && right != NULL && over_target != NULL);
    ASSERT(runs >= 3 && shift < runs && batch_count > 0);
    i64 maximum = INT64_MIN;
    *over_target = 0;
    for (u32 run = 0; run < runs; run++) {
        const u64 *right_row = right + ((run + shift) % runs) * batch_count;
        for (u64 batch = 0; batch < batch_count; batch++) {
            i64 difference = (i64)left[run * batch_count + batch] - (i64)right_row[batch];
            maximum = MAX(maximum, difference);
            if (difference > (i64)BENCHMARK_DELAY_TARGET_NS) *over_target += 1;
        }
    }
    return maximum;
}

/* What the paired runs measured: the latencies of every batch in batch order, row per run. */
struct benchmark_paired {
    u32 runs;
    u64 batch_count;
    u64 *with_ns;    /* automatic checkpoints as an operator runs them */
    u64 *without_ns; /* checkpoint_journal_bytes = UINT64_MAX: none */
    i64 with_run_ns[BENCHMARK_PAIRED_RUNS_MAX];
    i64 without_run_ns[BENCHMARK_PAIRED_RUNS_MAX];
    u64 checkpoints; /* over the runs with checkpoints */
    /* The journal's write times (khorgos_journal_statistics), summed over each side's runs
     * (flight_ns_max: the largest). */
    struct khorgos_journal_statistics with_journal;
    struct khorgos_journal_statistics without_journal;
};

/* Adds one run's journal statistics to its side's. */
static void benchmark_journal_add(struct khorgos_journal_statistics *sum,
                                  const struct khorgos_journal_statistics *run) {
    ASSERT(sum != NULL && run != NULL);
    ASSERT(run->flights_over_10_ms <= run->flights_over_5_ms);
    ASSERT(run->flights_over_5_ms <= run->flights);
    sum->flights += run->flights;
    sum->flights_over_5_ms += run->flights_over_5_ms;
    sum->flights_over_10_ms += run->flights_over_10_ms;
    sum->flight_ns_max = MAX(sum->flight_ns_max, run->flight_ns_max);
}

/* The journal fields of the output line, for the side named `side`. */
static void benchmark_journal_print(const char *side,
                                    const struct khorgos_journal_statistics *sum) {
    ASSERT(side != NULL && sum != NULL);
    ASSERT(sum->flights_over_10_ms <= sum->flights_over_5_ms);
    printf(" %s_flights=%llu %s_flights_over_5_ms=%llu %s_flights_over_10_ms=%llu"
           " %s_flight_ms_max=%.2f",
           side, (unsigned long long)sum->flights, side,
           (unsigned long long)sum->flights_over_5_ms, side,
           (unsigned long long)sum->flights_over_10_ms, side, (double)sum->flight_ns_max / 1e6);
}

/* The output line (see the header comment). */
static void benchmark_paired_print(const struct benchmark_options *options,
                                   struct benchmark_paired *paired) {
    ASSERT(options != NULL && paired != NULL);
    ASSERT(paired->runs >= 3 && paired->batch_count > 0);
    u32 runs = paired->runs;
    u64 batches = paired->batch_count, delay_batch = 0, noise_batch = 0, window_batch = 0,
        unused_batch = 0;
    double delay_ns = benchmark_paired_max_ns(paired->with_ns, paired->without_ns, runs,
                                              batches, 0, 0, &delay_batch);
    double window_ns = benchmark_paired_max_ns(paired->with_ns, paired->without_ns, runs,
                                               batches, 0, BENCHMARK_PAIRED_WINDOW, &window_batch);
    /* The control: the same statistics between runs that both ran without checkpoints. */
    double noise_ns = benchmark_paired_max_ns(paired->without_ns, paired->without_ns, runs,
                                              batches, 1, 0, &noise_batch);
    double window_noise_ns = benchmark_paired_max_ns(paired->without_ns, paired->without_ns,
                                                     runs, batches, 1, BENCHMARK_PAIRED_WINDOW,
                                                     &unused_batch);
    i64 maxima[BENCHMARK_PAIRED_RUNS_MAX];
    i64 maxima_worst = INT64_MIN;
    for (u32 run = 0; run < runs; run++) {
        /* Each run's slowest batch: the window of batch 0 that spans the whole run. */
        maxima[run] = (i64)benchmark_window_max(paired->with_ns + run * batches, batches, 0,
                                                (u32)batches) -
                      (i64)benchmark_window_max(paired->without_ns + run * batches, batches, 0,
                                                (u32)batches);
        maxima_worst = MAX(maxima_worst, maxima[run]);
    }
    double maxima_ns = benchmark_median(maxima, runs);
    /* The single largest difference of a batch from its pair, and the same between runs
     * without checkpoints: an upper bound that counts the machine's noise as delay. */
    u64 pairs_over = 0, noise_pairs_over = 0;
    double pair_ns = (double)benchmark_pair_max_ns(paired->with_ns, paired->without_ns, runs,
                                                   batches, 0, &pairs_over);
    double pair_noise_ns = (double)benchmark_pair_max_ns(paired->without_ns, paired->without_ns,
                                                         runs, batches, 1, &noise_pairs_over);
    double with_seconds = benchmark_median(paired->with_run_ns, runs) / 1e9;
    double without_seconds = benchmark_median(paired->without_run_ns, runs) / 1e9;
    printf("khorgos paired %s transfers=%llu runs=%u batches=%llu checkpoints_per_run=%.1f "
           "with_transfers_per_second=%.0f without_transfers_per_second=%.0f "
           "checkpoint_delay_paired_ms_max=%.2f delay_batch=%llu paired_noise_ms_max=%.2f "
           "noise_batch=%llu checkpoint_delay_window_ms_max=%.2f window_batch=%llu "
           "window_noise_ms_max=%.2f run_max_paired_ms=%.2f run_max_paired_ms_max=%.2f "
           "pair_delay_ms_max=%.2f pair_noise_ms_max=%.2f pairs_over_target=%llu "
           "noise_pairs_over_target=%llu",
           options->zipf ? "zipf" : "uniform", (unsigned long long)options->transfer_count,
           runs, (unsigned long long)batches, (double)paired->checkpoints / runs,
           (double)options->transfer_count / with_seconds,
           (double)options->transfer_count / without_seconds, delay_ns / 1e6,
           (unsigned long long)delay_batch, noise_ns / 1e6, (unsigned long long)noise_batch,
           window_ns / 1e6, (unsigned long long)window_batch, window_noise_ns / 1e6,
           maxima_ns / 1e6, (double)maxima_worst / 1e6, pair_ns / 1e6, pair_noise_ns / 1e6,
           (unsigned long long)pairs_over, (unsigned long long)noise_pairs_over);
    benchmark_journal_print("with", &paired->with_journal);
    benchmark_journal_print("without", &paired->without_journal);
    printf("\n");
}

/* Run `index` of the alternation: even ones with checkpoints, odd ones without, each in a
 * freshly formatted `run_options->data_directory`, removed after. */
static int benchmark_paired_run(const struct benchmark_options *run_options, u32 index,
                                struct khorgos_transfer *transfers,
                                struct khorgos_create_result *results,
                                struct benchmark_measure *measure,
                                struct benchmark_paired *paired) {
    ASSERT(index < 2 * paired->runs);
    ASSERT(run_options->data_directory != NULL && run_options->paired_runs == paired->runs);
    bool checkpoints_on = index % 2 == 0;
    u32 run = index / 2;
    measure->other_count = 0;
    measure->checkpoint_batch_count = 0;
    measure->checkpoint_latency_ns_max = 0;
    measure->ordered_latencies_ns =
        (checkpoints_on ? paired->with_ns : paired->without_ns) + run * paired->batch_count;
    struct khorgos *engine = NULL;
    khorgos_error error = benchmark_once(run_options, checkpoints_on ? 0 : UINT64_MAX, &engine,
                                         transfers, results, measure);
    measure->ordered_latencies_ns = NULL;
    if (error != KHORGOS_ERROR_ok) return 1;
    struct khorgos_journal_statistics journal;
    error = khorgos_journal_statistics(engine, &journal);
    ASSERT(error == KHORGOS_ERROR_ok); /* a data directory's engine */
    benchmark_journal_add(checkpoints_on ? &paired->with_journal : &paired->without_journal,
                          &journal);
    khorgos_close(engine);
    (checkpoints_on ? paired->with_run_ns : paired->without_run_ns)[run] =
        (i64)(measure->seconds * 1e9);
    if (checkpoints_on) paired->checkpoints += measure->statistics.started;
    if (!checkpoints_on && measure->statistics.started != 0) {
        fputs("khorgos benchmark: a run without checkpoints checkpointed\n", stderr);
        return 1;
    }
    return benchmark_remove_directory(run_options->data_directory) ? 0 : 1;
}

/* --paired R: R runs with the default checkpoints and R without, alternately (so the
 * machine's drift falls on both), in DIR/data, which each run formats and removes. */
static int benchmark_paired(const struct benchmark_options *options,
                            struct khorgos_transfer *transfers,
                            struct khorgos_create_result *results,
                            struct benchmark_measure *measure) {
    ASSERT(options->paired_runs >= 3 && options->paired_runs <= BENCHMARK_PAIRED_RUNS_MAX);
    ASSERT(options->data_directory != NULL && measure->batch_count > 0);
    if (mkdir(options->data_directory, 0755) != 0) {
        fprintf(stderr, "khorgos benchmark: cannot create %s: %s\n", options->data_directory,
                strerror(errno));
        return 1;
    }
    char run_path[BENCHMARK_PATH_BYTES_MAX];
    int length = snprintf(run_path, sizeof(run_path), "%s/data", options->data_directory);
    ASSERT(length > 0 && (size_t)length < sizeof(run_path));
    struct benchmark_options run_options = *options;
    run_options.data_directory = run_path;
    struct benchmark_paired paired = {.runs = options->paired_runs,
                                      .batch_count = measure->batch_count};
    paired.with_ns = calloc((size_t)paired.runs * paired.batch_count, sizeof(u64));
    paired.without_ns = calloc((size_t)paired.runs * paired.batch_count, sizeof(u64));
    ASSERT(paired.with_ns != NULL && paired.without_ns != NULL);
    int status = 0;
    for (u32 index = 0; index < 2 * paired.runs && status == 0; index++) {
        status = benchmark_paired_run(&run_options, index, transfers, results, measure, &paired);
    }
    if (status == 0) benchmark_paired_print(options, &paired);
    free(paired.without_ns);
    free(paired.with_ns);
    if (rmdir(options->data_directory) != 0) status = 1;
    return status;
}

int cli_benchmark_main(int argc, char **argv) {
    struct benchmark_options options;
    if (benchmark_parse(argc, argv, &options) != 0) return 2;
    u32 batch_size = options.single ? 1 : LIMIT_BATCH_EVENTS_MAX;
    struct benchmark_measure measure = {
        .batch_count = (options.transfer_count + batch_size - 1) / batch_size};
    /* Two of each: a pipeline has one batch in flight while the next is applied. */
    struct khorgos_transfer *transfers = calloc(2 * LIMIT_BATCH_EVENTS_MAX, sizeof(*transfers));
    struct khorgos_create_result *results = calloc(2 * LIMIT_BATCH_EVENTS_MAX, sizeof(*results));
    measure.latencies_ns = calloc(measure.batch_count, sizeof(u64));
    measure.other_latencies_ns = calloc(measure.batch_count, sizeof(u64));
    ASSERT(transfers != NULL && results != NULL);
    ASSERT(measure.latencies_ns != NULL && measure.other_latencies_ns != NULL);
    int status = 0;
    if (options.paired_runs != 0) {
        status = benchmark_paired(&options, transfers, results, &measure);
        goto free_buffers;
    }
    /* Replay needs the whole history in the journal: no automatic checkpoint. Otherwise the
     * default policy, as an operator runs it, whose commit delay is measured. */
    struct khorgos *engine = NULL;
    if (benchmark_once(&options, options.replay ? UINT64_MAX : 0, &engine, transfers, results,
                       &measure) != KHORGOS_ERROR_ok) {
        status = 1;
        goto free_buffers;
    }
    if (options.replay) {
        status = benchmark_replay(engine, &options, &measure);
    } else {
        benchmark_print(&options, &measure);
        khorgos_close(engine);
    }
free_buffers:
    free(measure.other_latencies_ns);
    free(measure.latencies_ns);
    free(results);
    free(transfers);
    return status;
}
