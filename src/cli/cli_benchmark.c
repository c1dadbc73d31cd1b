/*
 * cli_benchmark.c: `khorgos benchmark`, the engine driven through its C API (include/khorgos.h)
 * on the workload of bench/bench_workload.h, the same one SQLite and PostgreSQL run.
 *
 *   khorgos benchmark [--transfers N] [--zipf] [--single] [--data DIR [--replay]]
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
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

struct benchmark_options {
    u64 transfer_count;
    bool zipf;
    bool single;
    bool serial; /* one request at a time (khorgos_execute), not a pipeline of two */
    bool replay;
    const char *data_directory;
};

/* What the timed loop measured; the arrays are reserved before it, one slot per batch. */
struct benchmark_measure {
    u64 batch_count;
    double seconds;
    double cpu_seconds;           /* user and system time of the process during the loop */
    u64 *latencies_ns;            /* every batch; sorted after the loop */
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

static const char benchmark_usage[] =
    "usage: khorgos benchmark [--transfers N] [--zipf] [--single] [--serial] "
    "[--data DIR [--replay]]\n";

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

static khorgos_error benchmark_open(const struct benchmark_options *options,
                                    struct khorgos **engine) {
    ASSERT(options != NULL && engine != NULL);
    struct khorgos_config config = {
        .account_count_max = BENCH_ACCOUNT_COUNT + 64,
        .transfer_count_max = (u32)MIN(options->transfer_count + BENCH_ACCOUNT_COUNT + 64,
                                       (u64)LIMIT_TRANSFER_COUNT_MAX),
        .account_balance_count_max = 2 * LIMIT_BATCH_EVENTS_MAX};
    if (options->data_directory == NULL) return khorgos_open_memory(engine, &config);
    /* A fresh directory every run, so bytes on disk are this run's alone. */
    khorgos_error error = khorgos_format(options->data_directory, &config);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos benchmark: cannot format %s: %s\n", options->data_directory,
                khorgos_strerror(error));
        return error;
    }
    /* Replay needs the whole history in the journal: no automatic checkpoint. Otherwise the
     * default policy, as an operator runs it, whose commit delay is measured. */
    struct khorgos_open_options open_options = {
        .clock_manual = 0, .checkpoint_journal_bytes = options->replay ? UINT64_MAX : 0};
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
    struct rusage usage;
    int status = getrusage(RUSAGE_SELF, &usage);
    ASSERT(status == 0);
    ASSERT(usage.ru_utime.tv_sec >= 0 && usage.ru_stime.tv_sec >= 0);
    return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/* Files one batch's latency under touched or untouched. */
static void benchmark_record(struct benchmark_measure *measure, u64 batch, u64 latency_ns,
                             bool touched) {
    ASSERT(batch < measure->batch_count);
    ASSERT(measure->other_count + measure->checkpoint_batch_count == batch);
    measure->latencies_ns[batch] = latency_ns;
    if (touched) {
        measure->checkpoint_batch_count++;
        measure->checkpoint_latency_ns_max = MAX(measure->checkpoint_latency_ns_max, latency_ns);
    } else {
        measure->other_latencies_ns[measure->other_count++] = latency_ns;
    }
}

/* Fills `transfers` with the workload's next `count` transfers. */
static void benchmark_generate(struct bench_workload *workload, u64 *next_id,
                               struct khorgos_transfer *transfers, u32 count) {
    ASSERT(workload != NULL && next_id != NULL && transfers != NULL);
    ASSERT(count > 0 && count <= LIMIT_BATCH_EVENTS_MAX);
    for (u32 index = 0; index < count; index++) {
        struct bench_transfer generated;
        bench_next_transfer(workload, (*next_id)++, &generated);
        transfers[index] = (struct khorgos_transfer){
            .id = generated.id, .debit_account_id = generated.debit_account_id,
            .credit_account_id = generated.credit_account_id, .amount = generated.amount,
            .ledger = generated.ledger, .code = 1};
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
    benchmark_record(measure, batch, latency_ns, benchmark_checkpoint_touched(&slot->before, &after));
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
        benchmark_generate(&workload, &next_id, body, count);
        slot->request = (struct khorgos_request){
            .operation = KHORGOS_OPERATION_CREATE_TRANSFERS, .body = body,
            .body_size = count * (u32)sizeof(*body),
            .reply = results + (batch % 2) * LIMIT_BATCH_EVENTS_MAX,
            .reply_capacity = LIMIT_BATCH_EVENTS_MAX * (u32)sizeof(*results)};
        benchmark_statistics(engine, durable, &slot->before);
        slot->start_ns = base_clock_monotonic_ns();
        benchmark_require(khorgos_execute_begin(engine, &slot->request, 1, &slot->ticket),
                          KHORGOS_ERROR_ok);
        if (options->serial) benchmark_finish(engine, durable, slot, measure, batch);
        else if (batch > 0) benchmark_finish(engine, durable, &slots[(batch - 1) % 2], measure, batch - 1);
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

int cli_benchmark_main(int argc, char **argv) {
    struct benchmark_options options;
    if (benchmark_parse(argc, argv, &options) != 0) return 2;
    struct khorgos *engine = NULL;
    khorgos_error error = benchmark_open(&options, &engine);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos benchmark: %s\n", khorgos_strerror(error));
        return 1;
    }
    /* As a server opens: the reserved memory made resident before the first request, so the
     * first batches do not pay a page fault per id-map insert (about 100 ms at batch 0). Not
     * for --replay, whose two phases are compared like for like, both faulting as they go. */
    if (!options.replay) {
        error = khorgos_memory_prefault(engine);
        ASSERT(error == KHORGOS_ERROR_ok);
    }
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
    benchmark_setup(engine, transfers, results);
    benchmark_run(engine, &options, transfers, results, &measure);
    int status = 0;
    if (options.replay) {
        status = benchmark_replay(engine, &options, &measure);
    } else {
        benchmark_print(&options, &measure);
        khorgos_close(engine);
    }
    free(measure.other_latencies_ns);
    free(measure.latencies_ns);
    free(results);
    free(transfers);
    return status;
}
