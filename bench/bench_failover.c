/*
 * bench_failover.c: the time a cluster takes to acknowledge writes again after its leader is
 * SIGKILLed, as a client sees it, for bench/cluster.sh.
 *
 *   bench_failover --addresses A0,A1,A2 [--retry-ms R] [--first-id N] [--setup]
 *
 * One client (libkhorgos_client, all the replicas' addresses) sends create_transfers requests
 * of one transfer each (the workload's transfers, ids N upwards), one after another, each
 * retried by the library until answered. The other thread reads commands from stdin, one a
 * line: "kill PID" takes the time, then sends SIGKILL to PID (the leader, which the caller
 * found with `khorgos status`), and prints, once the client has an acknowledgement of a
 * request it began after that time, "failover kill_ns=K ack_ns=A ms=M": K and A on the
 * realtime clock (so the caller can place its own observations between them), M = A − K.
 * Counting only requests begun after the kill errs against the cluster by at most one request's
 * latency: a request in flight at the kill is retried and acknowledged by the new leader
 * first, the next one right after it; but a reply the old leader sent just before it died
 * cannot be mistaken for the new leader's. At end of input it prints "requests=N failed=N"
 * and exits, 0 when every transfer was created. It prints "ready" once its first request is
 * answered (after --setup): a kill sent before then waits for it.
 *
 * --retry-ms sets the client's retry interval (retry_ns; 0, the default, is the library's
 * one second), the policy that decides how soon the client finds the new leader: it pings its
 * replica every eighth of it while it waits and follows the view in pongs (docs/replication.md,
 * "Clients"). --setup first creates and funds the workload's accounts.
 */
#include "bench_server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>

struct failover_options {
    const char *addresses;
    u64 retry_ms;
    u64 first_id;
    bool setup;
};

/* What the two threads share. */
struct failover_state {
    pthread_mutex_t mutex;
    pthread_cond_t acknowledged;
    u64 kill_ns;       /* realtime of the pending kill; 0: none */
    u64 ack_ns;        /* the first acknowledgement of a request begun after kill_ns; 0: none */
    u64 requests;
    u64 failed;
    bool stop;
};

static int failover_parse(int argc, char **argv, struct failover_options *options) {
    ASSERT(argc >= 1 && options != NULL);
    *options = (struct failover_options){.first_id = 1000000000};
    const struct bench_option known[] = {
        {"--setup", .flag = &options->setup},
        {"--addresses", .text = &options->addresses},
        {"--retry-ms", .number = &options->retry_ms},
        {"--first-id", .number = &options->first_id}};
    if (bench_parse_options(argc, argv, known, BENCH_OPTION_COUNT(known)) != 0) return -1;
    return options->addresses != NULL && options->first_id > 0 && options->retry_ms <= 60000
               ? 0
               : -1;
}

struct failover_sender {
    struct failover_state *state;
    struct khorgos_client *client;
    u64 next_id;
};

/* Records one answered request begun at `start_ns`. */
static void failover_record(struct failover_state *state, u64 start_ns, bool created) {
    ASSERT(state != NULL && start_ns > 0);
    pthread_mutex_lock(&state->mutex);
    state->requests++;
    state->failed += !created;
    if (state->kill_ns != 0 && state->ack_ns == 0 && start_ns >= state->kill_ns && created) {
        state->ack_ns = base_clock_realtime_ns();
    }
    pthread_cond_signal(&state->acknowledged);
    ASSERT(state->failed <= state->requests);
    pthread_mutex_unlock(&state->mutex);
}

/* The client's loop: one transfer, its reply, the next, until told to stop. */
static void *failover_sender_main(void *argument) {
    struct failover_sender *sender = argument;
    ASSERT(sender != NULL && sender->client != NULL);
    struct bench_workload workload;
    bench_workload_init(&workload, 7, 0);
    for (;;) {
        pthread_mutex_lock(&sender->state->mutex);
        bool stop = sender->state->stop;
        pthread_mutex_unlock(&sender->state->mutex);
        if (stop) break;
        struct khorgos_transfer transfer;
        struct khorgos_create_result result = {0};
        bench_workload_transfers(&workload, &sender->next_id, &transfer, 1);
        struct khorgos_client_call call = {
            .operation = KHORGOS_CLIENT_CREATE_TRANSFERS, .body = &transfer,
            .body_size = sizeof(transfer), .reply = &result, .reply_capacity = sizeof(result)};
        u64 start_ns = base_clock_realtime_ns();
        khorgos_error error = khorgos_client_execute(sender->client, &call);
        if (error != KHORGOS_ERROR_ok) {
            fprintf(stderr, "bench_failover: create_transfers: %s\n", khorgos_error_name(error));
            exit(1);
        }
        failover_record(sender->state, start_ns,
                        call.reply_size == sizeof(result) && result.status == BENCH_WIRE_CREATED);
    }
    ASSERT(sender->next_id > 0);
    return NULL;
}

/* Kills `pid` and waits for the first acknowledgement of a request begun after the kill. */
static void failover_kill(struct failover_state *state, pid_t pid) {
    ASSERT(state != NULL && pid > 1);
    pthread_mutex_lock(&state->mutex);
    state->ack_ns = 0;
    state->kill_ns = base_clock_realtime_ns();
    if (kill(pid, SIGKILL) != 0) {
        fprintf(stderr, "bench_failover: kill %d: %s\n", (int)pid, strerror(errno));
        exit(1);
    }
    while (state->ack_ns == 0) pthread_cond_wait(&state->acknowledged, &state->mutex);
    u64 kill_ns = state->kill_ns, ack_ns = state->ack_ns;
    state->kill_ns = 0;
    pthread_mutex_unlock(&state->mutex);
    ASSERT(ack_ns > kill_ns);
    printf("failover kill_ns=%llu ack_ns=%llu ms=%.1f\n", (unsigned long long)kill_ns,
           (unsigned long long)ack_ns, (double)(ack_ns - kill_ns) / 1e6);
    fflush(stdout);
}

/* Reads "kill PID" lines until end of input. */
static void failover_commands(struct failover_state *state) {
    ASSERT(state != NULL);
    char line[128];
    while (fgets(line, sizeof(line), stdin) != NULL) {
        int pid = 0;
        if (sscanf(line, "kill %d", &pid) != 1 || pid <= 1) {
            fprintf(stderr, "bench_failover: not a command: %s", line);
            exit(2);
        }
        failover_kill(state, (pid_t)pid);
    }
    ASSERT(!state->stop);
}

int main(int argc, char **argv) {
    struct failover_options options;
    if (failover_parse(argc, argv, &options) != 0) {
        fputs("usage: bench_failover --addresses A0,A1,A2 [--retry-ms R] [--first-id N] "
              "[--setup]\n", stderr);
        return 2;
    }
    if (options.setup) bench_server_setup_at(options.addresses);
    struct khorgos_client_options client_options = {
        .addresses = options.addresses, .retry_ns = options.retry_ms * 1000000ull};
    struct khorgos_client *client = NULL;
    khorgos_error error = khorgos_client_open(&client, &client_options);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "bench_failover: client for %s: %s\n", options.addresses,
                khorgos_error_name(error));
        return 1;
    }
    struct failover_state state = {0};
    pthread_mutex_init(&state.mutex, NULL);
    pthread_cond_init(&state.acknowledged, NULL);
    struct failover_sender sender = {.state = &state, .client = client,
                                     .next_id = options.first_id};
    pthread_t thread;
    int status = pthread_create(&thread, NULL, failover_sender_main, &sender);
    ASSERT(status == 0);
    pthread_mutex_lock(&state.mutex);
    while (state.requests == 0) pthread_cond_wait(&state.acknowledged, &state.mutex);
    pthread_mutex_unlock(&state.mutex);
    puts("ready");
    fflush(stdout);
    failover_commands(&state);
    pthread_mutex_lock(&state.mutex);
    state.stop = true;
    pthread_mutex_unlock(&state.mutex);
    pthread_join(thread, NULL);
    khorgos_client_close(client);
    printf("requests=%llu failed=%llu\n", (unsigned long long)state.requests,
           (unsigned long long)state.failed);
    return state.failed == 0 ? 0 : 1;
}
