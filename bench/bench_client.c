/*
 * bench_client.c: full batches through `khorgos start` and the C client library
 * (libkhorgos_client), against the in-process C API doing the same work, for bench/run.sh.
 *
 *   bench_client --transfers N --addresses ADDR [--clients K] [--setup]
 *                [--tls-cert F --tls-key F --tls-ca F]
 *   bench_client --transfers N --addresses ADDR --tls-addresses ADDR
 *                --tls-cert F --tls-key F --tls-ca F
 *   bench_client --transfers N --in-process DIR [--serial]
 *
 * The transfers are bench_workload.h's (uniform accounts, seed 42, ids 1..N), in requests of
 * 8,189 (a full message). Over the network each of K clients (its own session, connection and
 * thread) sends one request and waits for its reply before the next, which is all the library
 * allows a client (one request in flight); K = 2 lets the server's pipeline of two batches
 * fill. In process, the same batches go through khorgos_execute one at a time (--serial), or
 * two in flight with khorgos_execute_begin/_wait, on a data directory formatted here with the
 * capacities `khorgos format --accounts 10064 --transfers N+10064` gives the server, and
 * opened as `khorgos start` opens one (no memory prefault, default checkpoints).
 *
 * With --tls-addresses (paired), one plaintext client (to --addresses) and one TLS client (to
 * --tls-addresses, another server), each set up first, send the same batches in turn: a
 * batch to one, its reply, the same batch to the other, and which goes first alternates. Both
 * then run under the load of the same moments, which separate runs on a shared machine do
 * not; the TLS cost is taken from the two sums of batch latencies.
 *
 * Every result is checked: a transfer counts only when its status is created (the engine's 0,
 * or 4,294,967,295 on the wire); a request that fails stops the run. --setup first creates
 * and funds the 10,000 accounts through one client (not timed); in process they are always
 * created first, also untimed.
 *
 * Output, one line: "client batched clients=K transport=plaintext|tls transfers=N seconds=S
 * transfers_per_second=X failed=N batch_p50_us=.. batch_p99_us=.. cpu_seconds=.." or
 * "in_process batched mode=serial|pipelined ..." with the same fields. cpu_seconds is this
 * process's user and system time, setup included: steadier than the rate on a shared machine.
 * Paired: "client paired transfers=N plaintext_transfers_per_second=X tls_transfers_per_second=Y
 * tls_cost_percent=Z failed=N batch_p50_us=.. tls_batch_p50_us=.. cpu_seconds=..".
 */
#include "bench_server.h"

#include <pthread.h>

/* Clients at most (threads of this program). */
#define BENCH_CLIENTS_MAX 16u

struct client_options {
    u64 transfer_count;
    u64 client_count;
    bool setup;
    bool serial;
    const char *addresses;
    const char *tls_addresses; /* paired: the TLS server, --addresses the plaintext one */
    const char *in_process;
    const char *tls_cert, *tls_key, *tls_ca;
};

/* What the clients share: the workload, handed out a batch at a time, and the tallies. */
struct client_run {
    pthread_mutex_t mutex;
    struct bench_workload workload;
    u64 next_id;
    u64 transfer_count;
    u64 batch_count;    /* batches handed out */
    u64 succeeded;
    u64 failed;
    u64 *latencies_ns;  /* one per batch */
    struct khorgos_client *clients[BENCH_CLIENTS_MAX];
};

static int client_parse(int argc, char **argv, struct client_options *options) {
    ASSERT(argc >= 1 && options != NULL);
    *options = (struct client_options){.transfer_count = 1000000, .client_count = 1};
    const struct bench_option known[] = {
        {"--setup", .flag = &options->setup},
        {"--serial", .flag = &options->serial},
        {"--transfers", .number = &options->transfer_count},
        {"--clients", .number = &options->client_count},
        {"--addresses", .text = &options->addresses},
        {"--tls-addresses", .text = &options->tls_addresses},
        {"--in-process", .text = &options->in_process},
        {"--tls-cert", .text = &options->tls_cert},
        {"--tls-key", .text = &options->tls_key},
        {"--tls-ca", .text = &options->tls_ca}};
    if (bench_parse_options(argc, argv, known, BENCH_OPTION_COUNT(known)) != 0) return -1;
    bool one_target = (options->addresses == NULL) != (options->in_process == NULL);
    if (options->tls_addresses != NULL) { /* paired: one client each, both set up */
        one_target = one_target && options->addresses != NULL && options->tls_cert != NULL &&
                     options->client_count == 1;
        options->setup = true;
    }
    return one_target && options->transfer_count > 0 &&
                   options->transfer_count <= LIMIT_TRANSFER_COUNT_MAX / 2 &&
                   options->client_count >= 1 && options->client_count <= BENCH_CLIENTS_MAX
               ? 0
               : -1;
}

/* Takes the next batch of the workload into `body`; its index, or U64_MAX when all are out. */
static u64 client_take(struct client_run *run, struct khorgos_transfer *body, u32 *count) {
    ASSERT(run != NULL && body != NULL && count != NULL);
    pthread_mutex_lock(&run->mutex);
    u64 batch = U64_MAX;
    u64 left = run->transfer_count - (run->next_id - 1);
    if (left > 0) {
        *count = (u32)MIN(left, (u64)LIMIT_BATCH_EVENTS_MAX);
        bench_workload_transfers(&run->workload, &run->next_id, body, *count);
        batch = run->batch_count++;
    }
    pthread_mutex_unlock(&run->mutex);
    ASSERT(batch == U64_MAX || *count > 0);
    return batch;
}

/* Counts a batch's results: created is `created_status`, anything else failed. */
static void client_tally(struct client_run *run, const struct khorgos_create_result *results,
                         u32 result_count, u32 count, u32 created_status, u64 batch,
                         u64 latency_ns) {
    ASSERT(run != NULL && results != NULL);
    ASSERT(batch < run->batch_count);
    u64 created = 0;
    for (u32 index = 0; index < result_count; index++) {
        created += results[index].status == created_status;
    }
    pthread_mutex_lock(&run->mutex);
    run->succeeded += created;
    run->failed += count - created;
    run->latencies_ns[batch] = latency_ns;
    pthread_mutex_unlock(&run->mutex);
}

struct client_thread {
    struct client_run *run;
    struct khorgos_client *client;
};

/* Sends one batch through `client` and counts its results in `run`. */
static void client_batch_send(struct client_run *run, struct khorgos_client *client,
                              const struct khorgos_transfer *body, u32 count,
                              struct khorgos_create_result *results, u64 batch) {
    ASSERT(run != NULL && client != NULL);
    ASSERT(body != NULL && results != NULL && count > 0);
    struct khorgos_client_call call = {
        .operation = KHORGOS_CLIENT_CREATE_TRANSFERS, .body = body,
        .body_size = count * (u32)sizeof(*body), .reply = results,
        .reply_capacity = LIMIT_BATCH_EVENTS_MAX * (u32)sizeof(*results)};
    u64 start_ns = base_clock_monotonic_ns();
    khorgos_error error = khorgos_client_execute(client, &call);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "bench_client: create_transfers: %s\n", khorgos_error_name(error));
        exit(1);
    }
    client_tally(run, results, call.reply_size / (u32)sizeof(*results), count,
                 BENCH_WIRE_CREATED, batch, base_clock_monotonic_ns() - start_ns);
}

/* One client's loop: a batch, its reply, the next. */
static void *client_thread_main(void *argument) {
    struct client_thread *thread = argument;
    ASSERT(thread != NULL && thread->client != NULL);
    struct khorgos_transfer *body = calloc(LIMIT_BATCH_EVENTS_MAX, sizeof(*body));
    struct khorgos_create_result *results = calloc(LIMIT_BATCH_EVENTS_MAX, sizeof(*results));
    ASSERT(body != NULL && results != NULL);
    u32 count = 0;
    for (u64 batch; (batch = client_take(thread->run, body, &count)) != U64_MAX;) {
        client_batch_send(thread->run, thread->client, body, count, results, batch);
    }
    free(body);
    free(results);
    return NULL;
}

/* A client of `addresses`, with the options' certificate when `tls`. */
static struct khorgos_client *client_open_at(const struct client_options *options,
                                             const char *addresses, bool tls) {
    ASSERT(options != NULL && addresses != NULL);
    ASSERT(!tls || options->tls_cert != NULL);
    struct khorgos_client_options client_options = {
        .addresses = addresses, .request_timeout_ns = BENCH_REQUEST_TIMEOUT_NS};
    if (tls) {
        client_options.tls_cert = options->tls_cert;
        client_options.tls_key = options->tls_key;
        client_options.tls_ca = options->tls_ca;
    }
    struct khorgos_client *client = NULL;
    khorgos_error error = khorgos_client_open(&client, &client_options);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "bench_client: client for %s: %s\n", addresses,
                khorgos_error_name(error));
        exit(1);
    }
    ASSERT(client != NULL);
    return client;
}

static struct khorgos_client *client_open(const struct client_options *options) {
    ASSERT(options != NULL && options->addresses != NULL);
    return client_open_at(options, options->addresses, options->tls_cert != NULL);
}

/* Opens every client and has each register (a lookup of nothing), so that the timed part
 * holds no connection or handshake. */
static void client_connect_all(struct client_run *run, const struct client_options *options) {
    ASSERT(run != NULL && options != NULL);
    for (u32 index = 0; index < options->client_count; index++) {
        run->clients[index] = client_open(options);
        khorgos_u128 id = 1;
        struct khorgos_account account;
        struct khorgos_client_call call = {
            .operation = KHORGOS_CLIENT_LOOKUP_ACCOUNTS, .body = &id, .body_size = sizeof(id),
            .reply = &account, .reply_capacity = sizeof(account)};
        khorgos_error error = khorgos_client_execute(run->clients[index], &call);
        if (error != KHORGOS_ERROR_ok) {
            fprintf(stderr, "bench_client: first request: %s\n", khorgos_error_name(error));
            exit(1);
        }
    }
    ASSERT(options->client_count <= BENCH_CLIENTS_MAX);
}

/* The clients' whole timed run; returns its seconds. */
static double client_run_network(struct client_run *run, const struct client_options *options) {
    ASSERT(run != NULL && options != NULL);
    if (options->setup) {
        struct khorgos_client *client = client_open(options);
        bench_server_setup(client);
        khorgos_client_close(client);
    }
    client_connect_all(run, options);
    pthread_t threads[BENCH_CLIENTS_MAX];
    struct client_thread contexts[BENCH_CLIENTS_MAX];
    u64 start_ns = base_clock_monotonic_ns();
    for (u32 index = 0; index < options->client_count; index++) {
        contexts[index] = (struct client_thread){.run = run, .client = run->clients[index]};
        int status = pthread_create(&threads[index], NULL, client_thread_main, &contexts[index]);
        ASSERT(status == 0);
    }
    for (u32 index = 0; index < options->client_count; index++) {
        pthread_join(threads[index], NULL);
    }
    double seconds = (double)(base_clock_monotonic_ns() - start_ns) / 1e9;
    for (u32 index = 0; index < options->client_count; index++) {
        khorgos_client_close(run->clients[index]);
    }
    return seconds;
}

/* Paired: each batch to the plaintext server and to the TLS server in turn (`runs` 0 and 1
 * tally each); returns the sums of their batch latencies in seconds. */
static void client_run_paired(struct client_run runs[2], const struct client_options *options,
                              double seconds[2]) {
    ASSERT(runs != NULL && options->tls_addresses != NULL);
    ASSERT(seconds != NULL);
    struct khorgos_client *clients[2] = {
        client_open_at(options, options->addresses, false),
        client_open_at(options, options->tls_addresses, true)};
    struct khorgos_transfer *body = calloc(LIMIT_BATCH_EVENTS_MAX, sizeof(*body));
    struct khorgos_create_result *results = calloc(LIMIT_BATCH_EVENTS_MAX, sizeof(*results));
    ASSERT(body != NULL && results != NULL);
    for (u32 side = 0; side < 2; side++) bench_server_setup(clients[side]);
    u32 count = 0;
    for (u64 batch; (batch = client_take(&runs[0], body, &count)) != U64_MAX;) {
        runs[1].batch_count = runs[0].batch_count;
        for (u64 turn = 0; turn < 2; turn++) {
            u32 side = (u32)((batch + turn) % 2); /* which goes first alternates */
            client_batch_send(&runs[side], clients[side], body, count, results, batch);
        }
    }
    for (u32 side = 0; side < 2; side++) {
        seconds[side] = 0;
        for (u64 batch = 0; batch < runs[0].batch_count; batch++) {
            seconds[side] += (double)runs[side].latencies_ns[batch] / 1e9;
        }
        khorgos_client_close(clients[side]);
    }
    free(body);
    free(results);
}

/* Exits unless the request and the engine both succeeded. */
static void client_require(khorgos_error error, const struct khorgos_request *request) {
    ASSERT(request != NULL);
    ASSERT((u32)error < KHORGOS_ERROR_COUNT);
    if (error == KHORGOS_ERROR_ok && request->error == KHORGOS_ERROR_ok) return;
    fprintf(stderr, "bench_client: in process: %s\n",
            khorgos_error_name(error != KHORGOS_ERROR_ok ? error : request->error));
    exit(1);
}

/* The setup of bench_server_setup, in process. */
static void client_setup_engine(struct khorgos *engine) {
    ASSERT(engine != NULL);
    static struct khorgos_account accounts[LIMIT_BATCH_EVENTS_MAX];
    static struct khorgos_transfer transfers[LIMIT_BATCH_EVENTS_MAX];
    static struct khorgos_create_result results[2][LIMIT_BATCH_EVENTS_MAX];
    u32 count = bench_server_issuance(accounts);
    struct khorgos_request request = {
        .operation = KHORGOS_OPERATION_CREATE_ACCOUNTS, .body = accounts,
        .body_size = count * (u32)sizeof(*accounts), .reply = results[0],
        .reply_capacity = sizeof(results[0])};
    client_require(khorgos_execute(engine, &request, 1), &request);
    for (u64 first = 1; first <= BENCH_ACCOUNT_COUNT; first += LIMIT_BATCH_EVENTS_MAX) {
        count = bench_server_accounts(first, accounts, transfers);
        struct khorgos_request requests[2] = {
            {.operation = KHORGOS_OPERATION_CREATE_ACCOUNTS, .body = accounts,
             .body_size = count * (u32)sizeof(*accounts), .reply = results[0],
             .reply_capacity = sizeof(results[0])},
            {.operation = KHORGOS_OPERATION_CREATE_TRANSFERS, .body = transfers,
             .body_size = count * (u32)sizeof(*transfers), .reply = results[1],
             .reply_capacity = sizeof(results[1])}};
        client_require(khorgos_execute(engine, requests, 2), &requests[0]);
        client_require(KHORGOS_ERROR_ok, &requests[1]);
        for (u32 index = 0; index < count; index++) {
            ASSERT(results[0][index].status == KHORGOS_CREATE_ACCOUNT_created);
            ASSERT(results[1][index].status == KHORGOS_CREATE_TRANSFER_created);
        }
    }
}

/* A data directory at `path` with the server's capacities, opened as `khorgos start` does. */
static struct khorgos *client_engine_open(const char *path, u64 transfer_count) {
    ASSERT(path != NULL && transfer_count > 0);
    struct khorgos_config config = {
        .account_count_max = BENCH_ACCOUNT_COUNT + 64,
        .transfer_count_max = (u32)MIN(transfer_count + BENCH_ACCOUNT_COUNT + 64,
                                       (u64)LIMIT_TRANSFER_COUNT_MAX)};
    char report[512] = "";
    khorgos_error error = khorgos_format_report(path, &config, report, sizeof(report));
    struct khorgos *engine = NULL;
    struct khorgos_open_options open_options = {0};
    if (error == KHORGOS_ERROR_ok) error = khorgos_open(&engine, path, &open_options);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "bench_client: %s: %s %s\n", path, khorgos_error_name(error), report);
        exit(1);
    }
    ASSERT(engine != NULL);
    return engine;
}

/* One batch of the in-process pipeline. */
struct client_slot {
    struct khorgos_request request;
    u64 ticket;
    u64 start_ns;
    u64 batch;
    u32 count;
};

static void client_slot_finish(struct client_run *run, struct khorgos *engine,
                               struct client_slot *slot) {
    ASSERT(run != NULL && engine != NULL && slot != NULL);
    client_require(khorgos_execute_wait(engine, slot->ticket), &slot->request);
    client_tally(run, slot->request.reply, slot->request.reply_size / 16, slot->count,
                 KHORGOS_CREATE_TRANSFER_created, slot->batch,
                 base_clock_monotonic_ns() - slot->start_ns);
}

/* The same batches through the C API: one at a time, or two in flight. */
static double client_run_in_process(struct client_run *run,
                                    const struct client_options *options) {
    ASSERT(run != NULL && options != NULL);
    struct khorgos *engine = client_engine_open(options->in_process, options->transfer_count);
    client_setup_engine(engine);
    struct khorgos_transfer *bodies = calloc(2 * LIMIT_BATCH_EVENTS_MAX, sizeof(*bodies));
    struct khorgos_create_result *results = calloc(2 * LIMIT_BATCH_EVENTS_MAX, sizeof(*results));
    ASSERT(bodies != NULL && results != NULL);
    struct client_slot slots[2];
    u64 start_ns = base_clock_monotonic_ns();
    for (u32 index = 0;; index++) {
        struct client_slot *slot = &slots[index % 2];
        struct khorgos_transfer *body = bodies + (index % 2) * LIMIT_BATCH_EVENTS_MAX;
        slot->batch = client_take(run, body, &slot->count);
        if (slot->batch == U64_MAX) break;
        slot->request = (struct khorgos_request){
            .operation = KHORGOS_OPERATION_CREATE_TRANSFERS, .body = body,
            .body_size = slot->count * (u32)sizeof(*body),
            .reply = results + (index % 2) * LIMIT_BATCH_EVENTS_MAX,
            .reply_capacity = LIMIT_BATCH_EVENTS_MAX * (u32)sizeof(*results)};
        slot->start_ns = base_clock_monotonic_ns();
        client_require(khorgos_execute_begin(engine, &slot->request, 1, &slot->ticket),
                       &slot->request);
        if (options->serial) client_slot_finish(run, engine, slot);
        else if (index > 0) client_slot_finish(run, engine, &slots[(index - 1) % 2]);
    }
    if (!options->serial && run->batch_count > 0) {
        client_slot_finish(run, engine, &slots[(run->batch_count - 1) % 2]);
    }
    double seconds = (double)(base_clock_monotonic_ns() - start_ns) / 1e9;
    khorgos_close(engine);
    free(bodies);
    free(results);
    return seconds;
}

/* User and system time of this process so far, in seconds. */
static double client_cpu_seconds(void) {
    u64 cpu_ns = base_clock_process_cpu_ns();
    ASSERT(cpu_ns > 0);
    return (double)cpu_ns / 1e9;
}

/* The paired run's line; false when a transfer failed. */
static bool client_paired_report(const struct client_options *options, u64 batches) {
    ASSERT(options != NULL && options->tls_addresses != NULL);
    struct client_run runs[2];
    for (u32 side = 0; side < 2; side++) {
        runs[side] = (struct client_run){.transfer_count = options->transfer_count, .next_id = 1};
        pthread_mutex_init(&runs[side].mutex, NULL);
        runs[side].latencies_ns = calloc(batches, sizeof(u64));
        ASSERT(runs[side].latencies_ns != NULL);
    }
    bench_workload_init(&runs[0].workload, 42, 0);
    double seconds[2];
    client_run_paired(runs, options, seconds);
    ASSERT(runs[0].batch_count == batches);
    u64 count = options->transfer_count;
    printf("client paired transfers=%llu plaintext_transfers_per_second=%.0f "
           "tls_transfers_per_second=%.0f tls_cost_percent=%.1f failed=%llu batch_p50_us=%.0f "
           "tls_batch_p50_us=%.0f cpu_seconds=%.3f\n",
           (unsigned long long)count, (double)count / seconds[0], (double)count / seconds[1],
           (1 - seconds[0] / seconds[1]) * 100,
           (unsigned long long)(runs[0].failed + runs[1].failed),
           bench_server_percentile_us(runs[0].latencies_ns, batches, 50),
           bench_server_percentile_us(runs[1].latencies_ns, batches, 50), client_cpu_seconds());
    bool ok = runs[0].failed == 0 && runs[1].failed == 0;
    free(runs[0].latencies_ns);
    free(runs[1].latencies_ns);
    return ok;
}

int main(int argc, char **argv) {
    struct client_options options;
    if (client_parse(argc, argv, &options) != 0) {
        fputs("usage: bench_client --transfers N (--addresses ADDR [--clients K] [--setup] "
              "[--tls-cert F --tls-key F --tls-ca F] | --addresses ADDR --tls-addresses ADDR "
              "--tls-cert F --tls-key F --tls-ca F | --in-process DIR [--serial])\n", stderr);
        return 2;
    }
    u64 batches = (options.transfer_count + LIMIT_BATCH_EVENTS_MAX - 1) / LIMIT_BATCH_EVENTS_MAX;
    if (options.tls_addresses != NULL) return client_paired_report(&options, batches) ? 0 : 1;
    struct client_run run = {.transfer_count = options.transfer_count, .next_id = 1};
    pthread_mutex_init(&run.mutex, NULL);
    bench_workload_init(&run.workload, 42, 0);
    run.latencies_ns = calloc(batches, sizeof(u64));
    ASSERT(run.latencies_ns != NULL);
    double seconds = options.in_process != NULL ? client_run_in_process(&run, &options)
                                                : client_run_network(&run, &options);
    ASSERT(run.batch_count == batches);
    if (options.in_process != NULL) {
        printf("in_process batched mode=%s", options.serial ? "serial" : "pipelined");
    } else {
        printf("client batched clients=%llu transport=%s",
               (unsigned long long)options.client_count,
               options.tls_cert != NULL ? "tls" : "plaintext");
    }
    printf(" transfers=%llu seconds=%.3f transfers_per_second=%.0f failed=%llu "
           "batch_p50_us=%.0f batch_p99_us=%.0f cpu_seconds=%.3f\n",
           (unsigned long long)options.transfer_count, seconds,
           (double)run.succeeded / seconds, (unsigned long long)run.failed,
           bench_server_percentile_us(run.latencies_ns, batches, 50),
           bench_server_percentile_us(run.latencies_ns, batches, 99), client_cpu_seconds());
    free(run.latencies_ns);
    return run.failed == 0 ? 0 : 1;
}
