/*
 * bench_snapshot.c: what a snapshot of a large ledger costs to write, to verify and to load
 * (restore), on the bench workload (bench_workload.h): 10,000 accounts and N transfers in an
 * engine in memory, its snapshot written to memory, then loaded into a fresh engine of the same
 * capacities, as a replica that installs a snapshot does (engine_snapshot_memory_load: the
 * checksums verified whole, the sections read, the digest compared).
 *
 *   bench_snapshot [transfers] [transfer_count_max]
 * Prints one line of NAME=VALUE fields: the transfers, the snapshot's bytes, and in
 * milliseconds the write, the verification (checksums), the open of an empty engine of the same
 * capacities (which every load includes) and the load, the best of BENCH_ROUNDS (default 3)
 * each into a fresh engine. Then the install (engine_snapshot_install, as a replica that lags
 * behind its leader's compacted log takes the snapshot): into a data directory formatted with
 * the same capacities (in BENCH_INSTALL_DIRECTORY, default /tmp; not timed) and opened, the
 * best of BENCH_ROUNDS in wall time (install_ms: the load, the snapshot file written and
 * fdatasynced, the state taken) and in this process's CPU time (install_cpu_ms, steadier on a
 * shared machine). BENCH_SNAPSHOT_FILE: see bench_snapshot_file_read.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_workload.h"
#include "engine/engine.h"
#include "storage/storage.h"

static double bench_now_ms(void) {
    struct timespec now;
    ASSERT(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
    ASSERT(now.tv_nsec >= 0);
    return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

/* Loads to time: BENCH_ROUNDS, default 3 (the best is reported). */
static int bench_rounds(void) {
    const char *text = getenv("BENCH_ROUNDS");
    int rounds = text != NULL ? atoi(text) : 3;
    ASSERT(rounds >= 0);
    return rounds > 0 ? rounds : 3;
}

static struct khorgos_create_result bench_results[LIMIT_BATCH_EVENTS_MAX];

static void bench_create(struct khorgos *engine, u32 operation, const void *body, u32 count) {
    ASSERT(count > 0 && count <= LIMIT_BATCH_EVENTS_MAX);
    struct khorgos_request request = {.operation = operation, .body_size = count * 128u,
                                      .body = body, .reply = bench_results,
                                      .reply_capacity = sizeof(bench_results)};
    ASSERT(khorgos_execute(engine, &request, 1) == KHORGOS_ERROR_ok);
    ASSERT(request.error == KHORGOS_ERROR_ok);
    for (u32 index = 0; index < request.reply_size / sizeof(bench_results[0]); index++) {
        ASSERT(bench_results[index].status == 0); /* every account and transfer is created */
    }
}

static void bench_fill(struct khorgos *engine, u32 transfer_count) {
    static struct khorgos_account accounts[LIMIT_BATCH_EVENTS_MAX];
    static struct khorgos_transfer transfers[LIMIT_BATCH_EVENTS_MAX];
    u32 filled = 0;
    for (u64 id = 1; id <= BENCH_ACCOUNT_COUNT; id++) {
        accounts[filled++] = (struct khorgos_account){
            .id = id, .ledger = bench_account_ledger(id), .code = 1};
        if (filled == LIMIT_BATCH_EVENTS_MAX || id == BENCH_ACCOUNT_COUNT) {
            bench_create(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts, filled);
            filled = 0;
        }
    }
    struct bench_workload workload;
    bench_workload_init(&workload, 1, 0);
    for (u64 next_id = 1; next_id <= transfer_count;) {
        filled = (u32)MIN((u64)LIMIT_BATCH_EVENTS_MAX, transfer_count - next_id + 1);
        bench_workload_transfers(&workload, &next_id, transfers, filled);
        bench_create(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, transfers, filled);
    }
    ASSERT(engine->ledger.transfer_count == transfer_count);
}

/* BENCH_SNAPSHOT_FILE names a file that keeps the snapshot between runs: read when it exists
 * (no fill, no write: a profile of the load alone), else written after the fill. */
static u8 *bench_snapshot_file_read(const char *path, u64 *size_bytes) {
    ASSERT(size_bytes != NULL);
    FILE *file = path != NULL ? fopen(path, "rb") : NULL;
    if (file == NULL) return NULL;
    ASSERT(fseek(file, 0, SEEK_END) == 0);
    long size = ftell(file);
    ASSERT(size > 0 && fseek(file, 0, SEEK_SET) == 0);
    u8 *bytes = malloc((size_t)size);
    ASSERT(bytes != NULL && fread(bytes, 1, (size_t)size, file) == (size_t)size);
    fclose(file);
    *size_bytes = (u64)size;
    return bytes;
}

static u8 *bench_snapshot_make(struct khorgos *engine, u32 transfer_count, u64 *size_bytes,
                               double *write_ms) {
    bench_fill(engine, transfer_count);
    ASSERT(engine_snapshot_memory_write(engine, NULL, 0, size_bytes) == KHORGOS_ERROR_no_space);
    u8 *bytes = malloc(*size_bytes);
    ASSERT(bytes != NULL);
    double start_ms = bench_now_ms();
    ASSERT(engine_snapshot_memory_write(engine, bytes, *size_bytes, size_bytes) ==
           KHORGOS_ERROR_ok);
    *write_ms = bench_now_ms() - start_ms;
    const char *path = getenv("BENCH_SNAPSHOT_FILE");
    FILE *file = path != NULL ? fopen(path, "wb") : NULL;
    if (file != NULL) {
        ASSERT(fwrite(bytes, 1, *size_bytes, file) == *size_bytes);
        ASSERT(fclose(file) == 0);
    }
    return bytes;
}

static int bench_remove_entry(const char *path, const struct stat *status, int kind,
                              struct FTW *walk) {
    (void)status, (void)kind, (void)walk;
    ASSERT(path != NULL);
    return remove(path);
}

/* The best install of the snapshot into a fresh data directory with `config`'s capacities:
 * wall and CPU milliseconds. */
static void bench_install(const struct khorgos_config *config, const u8 *bytes, u64 size_bytes,
                          u128 digest, double *install_ms, double *install_cpu_ms) {
    const char *root = getenv("BENCH_INSTALL_DIRECTORY");
    char directory[512];
    int length = snprintf(directory, sizeof(directory), "%s/bench-install-XXXXXX",
                          root != NULL ? root : "/tmp");
    ASSERT(length > 0 && (size_t)length < sizeof(directory));
    for (int round = 0; round < bench_rounds(); round++) {
        char path[512];
        memcpy(path, directory, sizeof(path));
        ASSERT(mkdtemp(path) != NULL);
        ASSERT(khorgos_format(path, config) == KHORGOS_ERROR_ok);
        struct khorgos *target = NULL;
        struct khorgos_open_options options = {.clock_manual = config->clock_manual};
        ASSERT(khorgos_open(&target, path, &options) == KHORGOS_ERROR_ok);
        double start_ms = bench_now_ms();
        u64 start_cpu_ns = base_clock_process_cpu_ns();
        ASSERT(engine_snapshot_install(target, bytes, size_bytes) == KHORGOS_ERROR_ok);
        double cpu_ms = (double)(base_clock_process_cpu_ns() - start_cpu_ns) / 1e6;
        double round_ms = bench_now_ms() - start_ms;
        ASSERT(engine_state_digest(target) == digest);
        khorgos_close(target);
        ASSERT(nftw(path, bench_remove_entry, 8, FTW_DEPTH | FTW_PHYS) == 0);
        if (round == 0 || round_ms < *install_ms) *install_ms = round_ms;
        if (round == 0 || cpu_ms < *install_cpu_ms) *install_cpu_ms = cpu_ms;
    }
}

int main(int argc, char **argv) {
    u32 transfer_count = argc > 1 ? (u32)strtoul(argv[1], NULL, 10) : 512000;
    u32 transfer_count_max = argc > 2 ? (u32)strtoul(argv[2], NULL, 10) : 0;
    struct khorgos_config config = {.clock_manual = 1, .transfer_count_max = transfer_count_max};
    struct khorgos *engine = NULL;
    ASSERT(khorgos_open_memory(&engine, &config) == KHORGOS_ERROR_ok);
    u64 size_bytes = 0;
    double write_ms = 0;
    u8 *bytes = bench_snapshot_file_read(getenv("BENCH_SNAPSHOT_FILE"), &size_bytes);
    if (bytes == NULL) bytes = bench_snapshot_make(engine, transfer_count, &size_bytes, &write_ms);
    struct storage_reader reader;
    struct storage_snapshot_header header;
    double start_ms = bench_now_ms();
    ASSERT(storage_snapshot_memory_open(&reader, bytes, size_bytes, &header) == KHORGOS_ERROR_ok);
    double verify_ms = bench_now_ms() - start_ms;
    storage_reader_close(&reader);
    double open_ms = 0;
    for (int round = 0; round < bench_rounds(); round++) {
        struct khorgos *empty = NULL;
        start_ms = bench_now_ms();
        ASSERT(khorgos_open_memory(&empty, &config) == KHORGOS_ERROR_ok);
        double round_ms = bench_now_ms() - start_ms;
        if (round == 0 || round_ms < open_ms) open_ms = round_ms;
        khorgos_close(empty);
    }
    double load_ms = 0;
    for (int round = 0; round < bench_rounds(); round++) {
        struct khorgos *loaded = NULL;
        start_ms = bench_now_ms();
        ASSERT(engine_snapshot_memory_load(engine, bytes, size_bytes, &loaded) ==
               KHORGOS_ERROR_ok);
        double round_ms = bench_now_ms() - start_ms;
        if (round == 0 || round_ms < load_ms) load_ms = round_ms;
        ASSERT(engine_state_digest(loaded) == header.digest);
        transfer_count = loaded->ledger.transfer_count;
        khorgos_close(loaded);
    }
    double install_ms = 0, install_cpu_ms = 0;
    bench_install(&config, bytes, size_bytes, header.digest, &install_ms, &install_cpu_ms);
    printf("transfers=%u snapshot_bytes=%llu write_ms=%.1f verify_ms=%.1f open_ms=%.1f "
           "load_ms=%.1f install_ms=%.1f install_cpu_ms=%.1f\n",
           transfer_count, (unsigned long long)size_bytes, write_ms, verify_ms, open_ms, load_ms,
           install_ms, install_cpu_ms);
    free(bytes);
    khorgos_close(engine);
    return 0;
}
