/*
 * bench_connections.c: many connections, one transfer per request, against `khorgos start`,
 * for bench/run.sh. A load generator on libuv (one thread, so it takes one core at most from
 * the server on a shared machine) speaking the protocol through the client layer
 * (src/client/client.h): each connection is one client with its own session, registers, then
 * sends create_transfers with one transfer and waits for its reply before sending the next.
 *
 *   bench_connections --addresses HOST:PORT --connections N --seconds S [--warmup S]
 *                     [--rate R] [--first-id ID] [--server-pid PID] [--setup]
 *
 * Without --rate every connection sends its next request as soon as its reply arrives (the
 * maximum rate). With --rate R the connections together send R requests a second, each at its
 * own schedule (every N/R seconds, staggered): a request's latency counts from when it was due
 * if its connection was still waiting for the previous reply then (so a slow server is not
 * hidden by the generator waiting), else from when it was sent.
 *
 * Timing: every connection registers first; then requests flow for --warmup seconds (not
 * counted), then for --seconds (counted: replies that arrive in that window, and their
 * latencies). Every reply is checked: its transfer counts as succeeded only when its status is
 * created; any other status counts as failed. Transfers take ids from --first-id upwards (runs
 * against one server need distinct ranges). --setup first creates and funds the accounts
 * through the C client library.
 *
 * CPU: the generator's own CPU time over the counted window, and with --server-pid the
 * server's, each divided by the transfers counted (from /proc/PID/stat): what one request
 * costs each side, steadier than the rate on a shared machine.
 *
 * Output, one line: "connections connections=N mode=max|paced rate=R seconds=S requests=N
 * transfers_succeeded=N transfers_failed=N evicted=N closed=N transfers_per_second=X
 * latency_p50_us=.. latency_p99_us=.. latency_max_us=..
 * generator_cpu_us_per_request=.. [server_cpu_us_per_request=..]".
 */
#include "bench_server.h"
#include "client/client.h"

#include <sys/random.h>
#include <uv.h>

/* Connections at most: the server's own limit is 65,536; this bounds the generator's memory. */
#define CONNECTIONS_MAX 8192u
/* A message the generator reads: register's reply (256 + 64 bytes) and a one-transfer reply
 * (256 + 32) fit; an eviction is a header. Anything larger is an error. */
#define CONNECTION_READ_BYTES 1024u
/* Request messages: a header and a body of 256 bytes (register's, or one transfer of 128 bytes
 * with its 128-byte multi-batch trailer). */
#define CONNECTION_MESSAGE_BYTES (CLIENT_HEADER_BYTES + 256u)
/* The pacing timer's period: sends due within it go out together. */
#define PACE_TICK_MS 1u

enum connection_state { STATE_CONNECTING, STATE_REGISTERING, STATE_IDLE, STATE_WAITING,
                        STATE_CLOSED };

struct generator;

struct connection {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    struct generator *generator;
    enum connection_state state;
    u128 client;
    u64 session;
    u128 parent;
    u32 request_number;
    u128 request_checksum;
    u64 due_ns;   /* paced: when the next request is due */
    u64 start_ns; /* where the pending request's latency counts from */
    u32 read_bytes;
    u8 read_buffer[CONNECTION_READ_BYTES];
    u8 message[CONNECTION_MESSAGE_BYTES];
};

struct generator {
    uv_loop_t loop;
    uv_timer_t timer;
    struct connection *connections;
    u32 count;
    struct sockaddr_in address;
    double rate;          /* requests a second, all connections; 0: as fast as replies come */
    u64 interval_ns;      /* paced: between one connection's requests */
    u64 warmup_ns, window_ns;
    u64 count_from_ns, end_ns; /* the counted window, set once every connection registered */
    bool running, stopping;
    u32 registered, evicted, closed;
    struct bench_workload workload;
    u64 next_id;
    u64 requests, succeeded, failed;
    u64 *latencies_ns;
    u64 latency_count, latency_capacity;
    int server_pid;          /* 0: the server's CPU is not measured */
    bool cpu_started, cpu_ended;
    u64 generator_cpu_ns[2], server_cpu_ns[2]; /* at the counted window's start and end */
};

static void fail(const char *what, const char *detail) {
    ASSERT(what != NULL && detail != NULL);
    fprintf(stderr, "bench_connections: %s: %s\n", what, detail);
    exit(1);
}

static void on_write(uv_write_t *write, int status) {
    ASSERT(write != NULL && write->data != NULL);
    struct connection *connection = write->data;
    if (status < 0 && connection->state != STATE_CLOSED) fail("write", uv_strerror(status));
}

/* Seals and writes a request of `operation` with `body` (256 bytes). */
static void connection_send(struct connection *connection, u8 operation, const void *body) {
    ASSERT(connection != NULL && body != NULL);
    ASSERT(connection->state == STATE_IDLE || operation == CLIENT_OPERATION_REGISTER);
    struct generator *generator = connection->generator;
    u8 *payload = connection->message + CLIENT_HEADER_BYTES;
    memcpy(payload, body, CONNECTION_MESSAGE_BYTES - CLIENT_HEADER_BYTES);
    struct client_header header;
    client_request_init(&header, 0, connection->client, operation,
                        CONNECTION_MESSAGE_BYTES - CLIENT_HEADER_BYTES);
    if (operation != CLIENT_OPERATION_REGISTER) {
        header.request.session = connection->session;
        header.request.parent = connection->parent;
        header.request.request = ++connection->request_number;
    }
    client_header_seal(&header, payload);
    memcpy(connection->message, &header, sizeof(header));
    connection->request_checksum = header.checksum;
    connection->write.data = connection;
    /* Written at once when the socket takes it (no request, callback or epoll_ctl, as the
     * server writes its replies); the rest, if any, through uv_write. The message buffer
     * stays untouched until the reply, which comes only after the whole request was sent. */
    uv_buf_t buffer = uv_buf_init((char *)connection->message, CONNECTION_MESSAGE_BYTES);
    int status = uv_try_write((uv_stream_t *)&connection->tcp, &buffer, 1);
    if (status == UV_EAGAIN) status = 0;
    if (status < 0) fail("write", uv_strerror(status));
    if ((u32)status < CONNECTION_MESSAGE_BYTES) {
        buffer = uv_buf_init((char *)connection->message + status,
                             CONNECTION_MESSAGE_BYTES - (u32)status);
        status = uv_write(&connection->write, (uv_stream_t *)&connection->tcp, &buffer, 1,
                          on_write);
        if (status < 0) fail("write", uv_strerror(status));
    }
    if (operation != CLIENT_OPERATION_REGISTER) generator->requests++;
}

/* Sends the next transfer; its latency counts from `start_ns`. */
static void connection_send_transfer(struct connection *connection, u64 start_ns) {
    ASSERT(connection != NULL && connection->state == STATE_IDLE);
    struct generator *generator = connection->generator;
    ASSERT(generator->running && !generator->stopping);
    struct khorgos_transfer transfer;
    bench_server_generate(&generator->workload, &generator->next_id, &transfer, 1);
    u8 body[256];
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, body, sizeof(body), sizeof(transfer));
    memcpy(body, &transfer, sizeof(transfer));
    client_multi_batch_add(&encoder, sizeof(transfer));
    u32 body_bytes = client_multi_batch_finish(&encoder);
    ASSERT(body_bytes == sizeof(body));
    connection_send(connection, CLIENT_OPERATION_CREATE_TRANSFERS, body);
    connection->state = STATE_WAITING;
    connection->start_ns = start_ns;
}

static void generator_latency(struct generator *generator, u64 latency_ns) {
    ASSERT(generator != NULL);
    if (generator->latency_count == generator->latency_capacity) {
        generator->latency_capacity = MAX(generator->latency_capacity * 2, 65536);
        generator->latencies_ns =
            realloc(generator->latencies_ns, generator->latency_capacity * sizeof(u64));
        if (generator->latencies_ns == NULL) fail("memory", "latencies");
    }
    generator->latencies_ns[generator->latency_count++] = latency_ns;
    ASSERT(generator->latency_count <= generator->latency_capacity);
}

/* The transfer's reply: checks its one result, counts it, and sends the next when due. */
static void connection_transfer_reply(struct connection *connection,
                                      const struct client_header *header, const u8 *body) {
    ASSERT(connection != NULL && header->reply.operation == CLIENT_OPERATION_CREATE_TRANSFERS);
    struct generator *generator = connection->generator;
    struct client_multi_batch batches;
    const char *reason = NULL;
    const u8 *results = NULL;
    u32 results_bytes = 0;
    if (client_multi_batch_decode(body, header->size - CLIENT_HEADER_BYTES, 16, &batches,
                                  &reason) != KHORGOS_ERROR_ok ||
        !client_multi_batch_next(&batches, &results, &results_bytes) || results_bytes != 16) {
        fail("reply", reason != NULL ? reason : "not one result");
    }
    struct khorgos_create_result result;
    memcpy(&result, results, sizeof(result));
    u64 now_ns = base_clock_monotonic_ns();
    bool created = result.status == BENCH_WIRE_CREATED;
    if (!created) generator->failed++;
    if (created && now_ns >= generator->count_from_ns && now_ns <= generator->end_ns) {
        generator->succeeded++;
        generator_latency(generator, now_ns - connection->start_ns);
    }
    connection->parent = header->reply.context;
    connection->state = STATE_IDLE;
    if (generator->stopping) return;
    if (generator->rate == 0) {
        connection_send_transfer(connection, now_ns);
    } else {
        connection->due_ns += generator->interval_ns;
        if (connection->due_ns <= now_ns) connection_send_transfer(connection, connection->due_ns);
    }
}

static void generator_start(struct generator *generator);

static void connection_message(struct connection *connection, const struct client_header *header,
                               const u8 *body) {
    ASSERT(connection != NULL && header != NULL);
    struct generator *generator = connection->generator;
    if (header->command == CLIENT_COMMAND_EVICTION) {
        generator->evicted++;
        connection->state = STATE_CLOSED;
        uv_read_stop((uv_stream_t *)&connection->tcp);
        if (!generator->running && generator->registered + generator->evicted ==
                                       generator->count) generator_start(generator);
        return;
    }
    if (header->command != CLIENT_COMMAND_REPLY || header->reply.client != connection->client ||
        header->reply.request_checksum != connection->request_checksum) {
        fail("reply", "not the answer to the request in flight");
    }
    if (header->reply.operation == CLIENT_OPERATION_REGISTER) {
        connection->session = header->reply.commit;
        connection->parent = header->reply.context;
        connection->state = STATE_IDLE;
        generator->registered++;
        if (generator->registered + generator->evicted == generator->count) {
            generator_start(generator);
        }
        return;
    }
    connection_transfer_reply(connection, header, body);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer) {
    struct connection *connection = handle->data;
    ASSERT(connection != NULL && suggested > 0);
    ASSERT(connection->read_bytes < CONNECTION_READ_BYTES);
    *buffer = uv_buf_init((char *)connection->read_buffer + connection->read_bytes,
                          CONNECTION_READ_BYTES - connection->read_bytes);
}

/* Takes every whole message out of the connection's buffer. */
static void connection_parse(struct connection *connection) {
    ASSERT(connection != NULL);
    ASSERT(connection->read_bytes <= CONNECTION_READ_BYTES);
    while (connection->read_bytes >= CLIENT_HEADER_BYTES && connection->state != STATE_CLOSED) {
        struct client_header header;
        const char *reason = NULL;
        if (client_header_decode(connection->read_buffer, connection->read_bytes, 0, &header,
                                 &reason) != KHORGOS_ERROR_ok) {
            fail("header", reason);
        }
        if (header.size > CONNECTION_READ_BYTES) fail("message", "larger than expected");
        if (connection->read_bytes < header.size) return;
        const u8 *body = connection->read_buffer + CLIENT_HEADER_BYTES;
        if (client_body_check(&header, body, &reason) != KHORGOS_ERROR_ok) fail("body", reason);
        connection_message(connection, &header, body);
        connection->read_bytes -= header.size;
        memmove(connection->read_buffer, connection->read_buffer + header.size,
                connection->read_bytes);
    }
}

static void on_read(uv_stream_t *stream, ssize_t read_bytes, const uv_buf_t *buffer) {
    struct connection *connection = stream->data;
    ASSERT(connection != NULL && buffer != NULL);
    if (read_bytes < 0) {
        if (connection->state != STATE_CLOSED) connection->generator->closed++;
        connection->state = STATE_CLOSED;
        uv_read_stop(stream);
        return;
    }
    connection->read_bytes += (u32)read_bytes;
    connection_parse(connection);
}

static void on_connect(uv_connect_t *connect, int status) {
    struct connection *connection = connect->data;
    ASSERT(connection != NULL && connection->state == STATE_CONNECTING);
    if (status < 0) fail("connect", uv_strerror(status));
    uv_tcp_nodelay(&connection->tcp, 1);
    status = uv_read_start((uv_stream_t *)&connection->tcp, on_alloc, on_read);
    if (status < 0) fail("read", uv_strerror(status));
    struct client_register_request body = {0};
    connection->state = STATE_REGISTERING;
    connection_send(connection, CLIENT_OPERATION_REGISTER, &body);
}

static void on_close(uv_handle_t *handle) {
    ASSERT(handle != NULL);
}

/* Closes everything once the window is over and no request is waiting. */
static void generator_finish(struct generator *generator) {
    ASSERT(generator != NULL && generator->stopping);
    for (u32 index = 0; index < generator->count; index++) {
        if (generator->connections[index].state == STATE_WAITING) return;
    }
    for (u32 index = 0; index < generator->count; index++) {
        uv_close((uv_handle_t *)&generator->connections[index].tcp, on_close);
    }
    uv_close((uv_handle_t *)&generator->timer, on_close);
    ASSERT(generator->running);
}

/* The CPU time of the generator and the server (when measured) into slot `end`. */
static void generator_cpu(struct generator *generator, u32 end) {
    ASSERT(generator != NULL && end <= 1);
    generator->generator_cpu_ns[end] = bench_server_process_cpu_ns(0);
    if (generator->server_pid > 0) {
        generator->server_cpu_ns[end] = bench_server_process_cpu_ns(generator->server_pid);
    }
    ASSERT(generator->generator_cpu_ns[end] >= generator->generator_cpu_ns[0]);
}

static void on_tick(uv_timer_t *timer) {
    struct generator *generator = timer->data;
    ASSERT(generator != NULL && generator->running);
    u64 now_ns = base_clock_monotonic_ns();
    if (!generator->cpu_started && now_ns >= generator->count_from_ns) {
        generator->cpu_started = true;
        generator_cpu(generator, 0);
    }
    if (!generator->cpu_ended && now_ns > generator->end_ns) {
        generator->cpu_ended = true;
        generator_cpu(generator, 1);
    }
    if (generator->stopping) {
        generator_finish(generator);
        return;
    }
    if (now_ns > generator->end_ns) {
        generator->stopping = true;
        generator_finish(generator);
        return;
    }
    for (u32 index = 0; generator->rate > 0 && index < generator->count; index++) {
        struct connection *connection = &generator->connections[index];
        if (connection->state == STATE_IDLE && connection->due_ns <= now_ns) {
            connection_send_transfer(connection, now_ns);
        }
    }
}

/* Every connection has registered (or been evicted): the requests begin. */
static void generator_start(struct generator *generator) {
    ASSERT(generator != NULL && !generator->running);
    generator->running = true;
    u64 now_ns = base_clock_monotonic_ns();
    generator->count_from_ns = now_ns + generator->warmup_ns;
    generator->end_ns = generator->count_from_ns + generator->window_ns;
    for (u32 index = 0; index < generator->count; index++) {
        struct connection *connection = &generator->connections[index];
        if (connection->state != STATE_IDLE) continue;
        connection->due_ns = now_ns + generator->interval_ns * index / generator->count;
        if (generator->rate == 0) connection_send_transfer(connection, now_ns);
    }
    generator->timer.data = generator;
    uv_timer_start(&generator->timer, on_tick, PACE_TICK_MS, PACE_TICK_MS);
}

static void generator_connect(struct generator *generator) {
    ASSERT(generator != NULL && generator->count > 0);
    for (u32 index = 0; index < generator->count; index++) {
        struct connection *connection = &generator->connections[index];
        connection->generator = generator;
        if (getrandom(&connection->client, sizeof(connection->client), 0) !=
                sizeof(connection->client) || connection->client == 0) {
            fail("getrandom", "no client id");
        }
        uv_tcp_init(&generator->loop, &connection->tcp);
        connection->tcp.data = connection;
        connection->connect.data = connection;
        int status = uv_tcp_connect(&connection->connect, &connection->tcp,
                                    (const struct sockaddr *)&generator->address, on_connect);
        if (status < 0) fail("connect", uv_strerror(status));
    }
    uv_timer_init(&generator->loop, &generator->timer);
    ASSERT(generator->connections[0].state == STATE_CONNECTING);
}

struct connections_options {
    const char *addresses;
    u32 count;
    double seconds, warmup_seconds, rate;
    u64 first_id;
    int server_pid;
    bool setup;
};

static int connections_parse(int argc, char **argv, struct connections_options *options) {
    ASSERT(argc >= 1 && options != NULL);
    *options = (struct connections_options){
        .count = 1000, .seconds = 10, .warmup_seconds = 1, .first_id = 1};
    for (int index = 1; index < argc; index++) {
        const char *argument = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (strcmp(argument, "--setup") == 0) {
            options->setup = true;
            continue;
        }
        if (value == NULL) return -1;
        index++;
        if (strcmp(argument, "--addresses") == 0) options->addresses = value;
        else if (strcmp(argument, "--connections") == 0) options->count = (u32)atoi(value);
        else if (strcmp(argument, "--seconds") == 0) options->seconds = atof(value);
        else if (strcmp(argument, "--warmup") == 0) options->warmup_seconds = atof(value);
        else if (strcmp(argument, "--rate") == 0) options->rate = atof(value);
        else if (strcmp(argument, "--first-id") == 0) options->first_id = strtoull(value, 0, 10);
        else if (strcmp(argument, "--server-pid") == 0) options->server_pid = atoi(value);
        else return -1;
    }
    return options->addresses != NULL && options->count >= 1 &&
                   options->count <= CONNECTIONS_MAX && options->seconds > 0 &&
                   options->warmup_seconds >= 0 && options->rate >= 0 &&
                   options->first_id > 0 && options->server_pid >= 0
               ? 0
               : -1;
}

/* "HOST:PORT" into `address`. */
static void connections_address(const char *text, struct sockaddr_in *address) {
    ASSERT(text != NULL && address != NULL);
    char host[64];
    const char *colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= sizeof(host)) fail(text, "not HOST:PORT");
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (uv_ip4_addr(host, atoi(colon + 1), address) != 0) fail(text, "not an IPv4 address");
    ASSERT(address->sin_family == AF_INET);
}

static void connections_report(struct generator *generator, double seconds) {
    ASSERT(generator != NULL && seconds > 0);
    u64 count = generator->latency_count;
    double p50 = bench_server_percentile_us(generator->latencies_ns, count, 50);
    double p99 = bench_server_percentile_us(generator->latencies_ns, count, 99);
    double max = bench_server_percentile_us(generator->latencies_ns, count, 100);
    double divisor = generator->succeeded > 0 ? (double)generator->succeeded : 1.0;
    double generator_us =
        (double)(generator->generator_cpu_ns[1] - generator->generator_cpu_ns[0]) / 1e3;
    double server_us = (double)(generator->server_cpu_ns[1] - generator->server_cpu_ns[0]) / 1e3;
    ASSERT(generator->cpu_ended);
    printf("connections connections=%u mode=%s rate=%.0f seconds=%.1f requests=%llu "
           "transfers_succeeded=%llu transfers_failed=%llu evicted=%u closed=%u "
           "transfers_per_second=%.0f latency_p50_us=%.0f latency_p99_us=%.0f "
           "latency_max_us=%.0f generator_cpu_us_per_request=%.2f",
           generator->count, generator->rate > 0 ? "paced" : "max", generator->rate, seconds,
           (unsigned long long)generator->requests, (unsigned long long)generator->succeeded,
           (unsigned long long)generator->failed, generator->evicted, generator->closed,
           (double)generator->succeeded / seconds, p50, p99, max, generator_us / divisor);
    if (generator->server_pid > 0) printf(" server_cpu_us_per_request=%.2f", server_us / divisor);
    printf("\n");
}

int main(int argc, char **argv) {
    struct connections_options options;
    if (connections_parse(argc, argv, &options) != 0) {
        fputs("usage: bench_connections --addresses HOST:PORT [--connections N] [--seconds S] "
              "[--warmup S] [--rate R] [--first-id ID] [--server-pid PID] [--setup]\n", stderr);
        return 2;
    }
    if (options.setup) bench_server_setup_at(options.addresses);
    static struct generator generator;
    generator.count = options.count;
    generator.rate = options.rate;
    generator.interval_ns = options.rate > 0 ? (u64)(1e9 * options.count / options.rate) : 0;
    generator.warmup_ns = (u64)(options.warmup_seconds * 1e9);
    generator.window_ns = (u64)(options.seconds * 1e9);
    generator.next_id = options.first_id;
    generator.server_pid = options.server_pid;
    bench_workload_init(&generator.workload, options.first_id, 0);
    connections_address(options.addresses, &generator.address);
    generator.connections = calloc(options.count, sizeof(struct connection));
    if (generator.connections == NULL) fail("memory", "connections");
    uv_loop_init(&generator.loop);
    generator_connect(&generator);
    uv_run(&generator.loop, UV_RUN_DEFAULT);
    uv_loop_close(&generator.loop);
    connections_report(&generator, options.seconds);
    free(generator.connections);
    free(generator.latencies_ns);
    return generator.failed == 0 ? 0 : 1;
}
