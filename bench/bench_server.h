/*
 * bench_server.h: what the server benchmarks (bench_client.c, bench_connections.c,
 * bench_failover.c) share: their options, the accounts and their funding created through
 * the C client library (include/khorgos_client.h) on a running `khorgos start`, percentiles,
 * and the status a created transfer has on the wire.
 *
 * The setup is bench_workload.h's and `khorgos benchmark`'s: 10,000 accounts in eight
 * currencies with debits_must_not_exceed_credits, eight issuance accounts, and one funding
 * transfer per account, so every benchmark starts from the same ledger.
 *
 * Header-only because it is shared by separate benchmark programs and nothing else.
 */
#ifndef KHORGOS_BENCH_SERVER_H
#define KHORGOS_BENCH_SERVER_H

#include "bench_workload.h"
#include "base/base.h"
#include "khorgos_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A create result's status on the wire for `created` (TigerBeetle 0.17's number;
 * docs/clients.md); the engine's own is KHORGOS_CREATE_TRANSFER_created (0). */
#define BENCH_WIRE_CREATED 0xFFFFFFFFu
/* Issuance accounts of the eight currencies take ids above the bank accounts (as in
 * `khorgos benchmark`). */
#define BENCH_ISSUANCE_ID_BASE 1000000u
/* Funding transfers take ids far above any benchmark transfer's. */
#define BENCH_FUNDING_ID_BASE ((khorgos_u128)1 << 100)
/* A request not answered in this time stops the benchmark: a server this slow is broken. */
#define BENCH_REQUEST_TIMEOUT_NS (120ull * 1000000000ull)

/* One command-line option of a server benchmark, named `name` ("--addresses"): it sets *flag
 * when flag is set, else takes the next argument as a whole number (*number) or as text
 * (*text). */
struct bench_option {
    const char *name;
    bool *flag;
    u64 *number;
    const char **text;
};

/* How many options an array of struct bench_option holds. */
#define BENCH_OPTION_COUNT(options) ((u32)(sizeof(options) / sizeof((options)[0])))

/* Reads argv[1..] against `options`; -1 for an unknown option, a missing value or a number
 * that is not all decimal digits in range, else 0. */
static inline int bench_parse_options(int argc, char **argv, const struct bench_option *options,
                                      u32 option_count) {
    ASSERT(argc >= 1 && argv != NULL);
    ASSERT(options != NULL && option_count > 0);
    for (int index = 1; index < argc; index++) {
        const struct bench_option *option = NULL;
        for (u32 known = 0; known < option_count && option == NULL; known++) {
            if (strcmp(argv[index], options[known].name) == 0) option = &options[known];
        }
        if (option == NULL) return -1;
        if (option->flag != NULL) {
            *option->flag = true;
            continue;
        }
        if (index + 1 >= argc) return -1;
        const char *value = argv[++index];
        if (option->text != NULL) {
            *option->text = value;
            continue;
        }
        ASSERT(option->number != NULL);
        char *end = NULL;
        errno = 0;
        unsigned long long number = strtoull(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0) return -1;
        *option->number = number;
    }
    return 0;
}

/* The workload's next `count` transfers (bench_workload_transfers), under the name the server
 * benchmarks call it by. */
static inline void bench_server_generate(struct bench_workload *workload, u64 *next_id,
                                         struct khorgos_transfer *transfers, u32 count) {
    ASSERT(workload != NULL && next_id != NULL);
    bench_workload_transfers(workload, next_id, transfers, count);
}

/* Executes one setup request through the client and exits unless every event was created. */
static inline void bench_server_setup_call(struct khorgos_client *client, u8 operation,
                                           const void *body, u32 count, u32 event_bytes,
                                           struct khorgos_create_result *results) {
    ASSERT(client != NULL && body != NULL && results != NULL);
    ASSERT(count > 0 && count <= LIMIT_BATCH_EVENTS_MAX);
    struct khorgos_client_call call = {
        .operation = operation, .body = body, .body_size = count * event_bytes,
        .reply = results, .reply_capacity = count * (u32)sizeof(*results)};
    khorgos_error error = khorgos_client_execute(client, &call);
    u32 created = 0;
    for (u32 index = 0; error == KHORGOS_ERROR_ok && index < call.reply_size / 16; index++) {
        created += results[index].status == BENCH_WIRE_CREATED;
    }
    if (error != KHORGOS_ERROR_ok || created != count) {
        fprintf(stderr, "bench: setup request %u failed: %s, %u of %u created\n", operation,
                khorgos_error_name(error), created, count);
        exit(1);
    }
}

/* The eight issuance accounts, one per currency, into `accounts`; returns their count. */
static inline u32 bench_server_issuance(struct khorgos_account *accounts) {
    ASSERT(accounts != NULL);
    for (u32 ledger_index = 0; ledger_index < BENCH_LEDGER_COUNT; ledger_index++) {
        accounts[ledger_index] = (struct khorgos_account){
            .id = BENCH_ISSUANCE_ID_BASE + ledger_index, .ledger = bench_ledgers[ledger_index],
            .code = 1};
    }
    ASSERT(BENCH_LEDGER_COUNT <= LIMIT_BATCH_EVENTS_MAX);
    return BENCH_LEDGER_COUNT;
}

/* The bank accounts from id `first` on, as many as one request takes, and the transfer that
 * funds each from its currency's issuance account; returns their count. */
static inline u32 bench_server_accounts(u64 first, struct khorgos_account *accounts,
                                        struct khorgos_transfer *transfers) {
    ASSERT(first >= 1 && first <= BENCH_ACCOUNT_COUNT);
    ASSERT(accounts != NULL && transfers != NULL);
    u32 count = 0;
    for (u64 id = first; id <= BENCH_ACCOUNT_COUNT && count < LIMIT_BATCH_EVENTS_MAX; id++) {
        u32 ledger_index = (u32)((id - 1) / BENCH_ACCOUNTS_PER_LEDGER);
        accounts[count] = (struct khorgos_account){
            .id = id, .ledger = bench_account_ledger(id), .code = 2,
            .flags = KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS};
        transfers[count++] = (struct khorgos_transfer){
            .id = BENCH_FUNDING_ID_BASE + id,
            .debit_account_id = BENCH_ISSUANCE_ID_BASE + ledger_index,
            .credit_account_id = id, .amount = BENCH_FUNDING_MINOR_UNITS,
            .ledger = bench_ledgers[ledger_index], .code = 1};
    }
    return count;
}

/* The accounts and their funding, through `client`. */
static inline void bench_server_setup(struct khorgos_client *client) {
    ASSERT(client != NULL);
    static struct khorgos_account accounts[LIMIT_BATCH_EVENTS_MAX];
    static struct khorgos_transfer transfers[LIMIT_BATCH_EVENTS_MAX];
    static struct khorgos_create_result results[LIMIT_BATCH_EVENTS_MAX];
    u32 count = bench_server_issuance(accounts);
    bench_server_setup_call(client, KHORGOS_CLIENT_CREATE_ACCOUNTS, accounts, count,
                            sizeof(*accounts), results);
    for (u64 first = 1; first <= BENCH_ACCOUNT_COUNT; first += LIMIT_BATCH_EVENTS_MAX) {
        count = bench_server_accounts(first, accounts, transfers);
        bench_server_setup_call(client, KHORGOS_CLIENT_CREATE_ACCOUNTS, accounts, count,
                                sizeof(*accounts), results);
        bench_server_setup_call(client, KHORGOS_CLIENT_CREATE_TRANSFERS, transfers, count,
                                sizeof(*transfers), results);
    }
}

/* Opens a plaintext client on `addresses`, creates the accounts and funds them, closes. */
static inline void bench_server_setup_at(const char *addresses) {
    ASSERT(addresses != NULL);
    struct khorgos_client_options options = {.addresses = addresses,
                                             .request_timeout_ns = BENCH_REQUEST_TIMEOUT_NS};
    struct khorgos_client *client = NULL;
    khorgos_error error = khorgos_client_open(&client, &options);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "bench: client for %s: %s\n", addresses, khorgos_error_name(error));
        exit(1);
    }
    bench_server_setup(client);
    khorgos_client_close(client);
}

/* The user and system CPU time process `pid` has used so far (0: this process), in ns, from
 * /proc/PID/stat (clock ticks: 10 ms, small against the seconds of a counted window); exits
 * when the file cannot be read. */
static inline u64 bench_server_process_cpu_ns(int pid) {
    ASSERT(pid >= 0);
    char path[64], text[1024];
    if (pid == 0) snprintf(path, sizeof(path), "/proc/self/stat");
    else snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *file = fopen(path, "r");
    size_t length = file != NULL ? fread(text, 1, sizeof(text) - 1, file) : 0;
    if (file != NULL) fclose(file);
    text[length] = '\0';
    const char *fields = strrchr(text, ')'); /* after the command name, which may hold spaces */
    unsigned long long user = 0, system = 0;
    const char *format = " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu";
    if (fields == NULL || sscanf(fields + 1, format, &user, &system) != 2) {
        fprintf(stderr, "bench: cannot read %s\n", path);
        exit(1);
    }
    long ticks = sysconf(_SC_CLK_TCK);
    ASSERT(ticks > 0);
    return (user + system) * (1000000000ull / (u64)ticks);
}

static inline int bench_server_compare_u64(const void *left, const void *right) {
    u64 a = *(const u64 *)left, b = *(const u64 *)right;
    ASSERT(left != NULL && right != NULL);
    return (a > b) - (a < b);
}

/* The p-th percentile (0..100) of `values` (sorted here), in microseconds; 0 when empty. */
static inline double bench_server_percentile_us(u64 *values, u64 count, double p) {
    ASSERT(p >= 0 && p <= 100);
    if (count == 0) return 0;
    ASSERT(values != NULL);
    qsort(values, count, sizeof(*values), bench_server_compare_u64);
    u64 rank = (u64)((p / 100.0) * (double)(count - 1) + 0.5);
    return (double)values[MIN(rank, count - 1)] / 1000.0;
}

#endif /* KHORGOS_BENCH_SERVER_H */
