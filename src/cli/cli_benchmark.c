/*
 * cli_benchmark.c: `khorgos benchmark`, the engine driven through its C API (include/khorgos.h)
 * on the workload of bench/bench_workload.h, the same one SQLite and PostgreSQL run.
 *
 * Steps: 10,000 accounts across the eight currencies (debits must not exceed credits), each
 * funded from an issuance account of its currency; then the transfers, in full batches of 8,189
 * (or one per request with --single). Reports transfers per second, batch latency p50/p99/max,
 * peak memory, and with --data (a directory that must not exist yet: the run formats it, so
 * every commit is durable) the bytes on disk per transfer, all files included.
 *
 * Output: one line, "khorgos <batched|single> <uniform|zipf> transfers=N seconds=S
 * transfers_per_second=X batch_p50_us=.. batch_p99_us=.. batch_max_us=.. peak_rss_kib=..
 * bytes=B bytes_per_transfer=..". bench/run.sh reads it.
 *
 * Memory: the batch buffers and the latency array are reserved before the timed loop.
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
    const char *data_directory;
};

/* Issuance accounts of the eight currencies take ids above the bank accounts. */
#define BENCHMARK_ISSUANCE_ID_BASE 1000000u
/* The largest request of the setup: one account or funding transfer per bank account. */
_Static_assert(BENCH_ACCOUNT_COUNT <= 2 * LIMIT_BATCH_EVENTS_MAX, "setup fits in two batches");

static int benchmark_parse(int argc, char **argv, struct benchmark_options *options) {
    ASSERT(options != NULL);
    *options = (struct benchmark_options){.transfer_count = 2000000};
    for (int index = 1; index < argc; index++) {
        const char *argument = argv[index];
        if (strcmp(argument, "--transfers") == 0 && index + 1 < argc) {
            options->transfer_count = strtoull(argv[++index], NULL, 10);
        } else if (strcmp(argument, "--zipf") == 0) {
            options->zipf = true;
        } else if (strcmp(argument, "--single") == 0) {
            options->single = true;
        } else if (strcmp(argument, "--data") == 0 && index + 1 < argc) {
            options->data_directory = argv[++index];
        } else {
            fprintf(stderr, "usage: khorgos benchmark [--transfers N] [--zipf] [--single] "
                            "[--data DIR]\n");
            return -1;
        }
    }
    return options->transfer_count > 0 ? 0 : -1;
}

static void benchmark_execute(struct khorgos *engine, u32 operation, const void *body,
                              u32 body_size, void *reply) {
    struct khorgos_request request = {
        .operation = operation, .body = body, .body_size = body_size, .reply = reply,
        .reply_capacity = khorgos_reply_size_max(operation, body_size)};
    khorgos_error error = khorgos_execute(engine, &request, 1);
    if (error != KHORGOS_ERROR_ok || request.error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos benchmark: request failed: %s\n",
                khorgos_strerror(error != KHORGOS_ERROR_ok ? error : request.error));
        exit(1);
    }
}

/* Creates the bank and issuance accounts and funds every bank account. */
static void benchmark_setup(struct khorgos *engine, struct khorgos_transfer *transfers,
                            struct khorgos_create_result *results) {
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

static u64 directory_bytes(const char *path) {
    if (path == NULL) return 0;
    DIR *directory = opendir(path);
    if (directory == NULL) return 0;
    u64 total = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        char name[4096];
        snprintf(name, sizeof(name), "%s/%s", path, entry->d_name);
        struct stat status;
        if (stat(name, &status) == 0 && S_ISREG(status.st_mode)) {
            total += (u64)status.st_blocks * 512u;
        }
    }
    closedir(directory);
    return total;
}

static khorgos_error benchmark_open(const struct benchmark_options *options,
                                    struct khorgos **engine) {
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
    struct khorgos_open_options open_options = {.clock_manual = 0};
    return khorgos_open(engine, options->data_directory, &open_options);
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
    u32 batch_size = options.single ? 1 : LIMIT_BATCH_EVENTS_MAX;
    u64 batch_count = (options.transfer_count + batch_size - 1) / batch_size;
    struct khorgos_transfer *transfers = calloc(LIMIT_BATCH_EVENTS_MAX, sizeof(*transfers));
    struct khorgos_create_result *results = calloc(LIMIT_BATCH_EVENTS_MAX, sizeof(*results));
    u64 *latencies_ns = calloc(batch_count, sizeof(u64));
    ASSERT(transfers != NULL && results != NULL && latencies_ns != NULL);
    benchmark_setup(engine, transfers, results);
    struct bench_workload workload;
    bench_workload_init(&workload, 42, options.zipf);
    u64 start_ns = base_clock_monotonic_ns();
    u64 next_id = 1;
    for (u64 batch = 0; batch < batch_count; batch++) {
        u32 count = (u32)MIN((u64)batch_size, options.transfer_count - (next_id - 1));
        for (u32 index = 0; index < count; index++) {
            struct bench_transfer generated;
            bench_next_transfer(&workload, next_id++, &generated);
            transfers[index] = (struct khorgos_transfer){
                .id = generated.id, .debit_account_id = generated.debit_account_id,
                .credit_account_id = generated.credit_account_id, .amount = generated.amount,
                .ledger = generated.ledger, .code = 1};
        }
        u64 batch_start_ns = base_clock_monotonic_ns();
        benchmark_execute(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, transfers,
                          count * sizeof(*transfers), results);
        latencies_ns[batch] = base_clock_monotonic_ns() - batch_start_ns;
    }
    double seconds = (double)(base_clock_monotonic_ns() - start_ns) / 1e9;
    qsort(latencies_ns, batch_count, sizeof(u64), compare_u64);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    u64 bytes = directory_bytes(options.data_directory);
    printf("khorgos %s %s transfers=%llu seconds=%.3f transfers_per_second=%.0f "
           "batch_p50_us=%.1f batch_p99_us=%.1f batch_max_us=%.1f peak_rss_kib=%ld bytes=%llu "
           "bytes_per_transfer=%.1f\n", options.single ? "single" : "batched",
           options.zipf ? "zipf" : "uniform", (unsigned long long)options.transfer_count,
           seconds, (double)options.transfer_count / seconds,
           (double)latencies_ns[batch_count / 2] / 1e3,
           (double)latencies_ns[(batch_count * 99) / 100] / 1e3,
           (double)latencies_ns[batch_count - 1] / 1e3, usage.ru_maxrss,
           (unsigned long long)bytes, (double)bytes / (double)options.transfer_count);
    free(latencies_ns);
    free(results);
    free(transfers);
    khorgos_close(engine);
    return 0;
}
