/*
 * bench_loopback.c: the floor under bench_connections.c, for bench/run.sh. The same traffic
 * shape with no engine and no protocol: N loopback TCP connections, each sending a 384-byte
 * message (a one-transfer create_transfers request: header and 256-byte body) and waiting for
 * a 288-byte answer (its reply: header and one 16-byte result with its multi-batch trailer)
 * before sending the next. Two processes, each one libuv loop on one thread, as `khorgos
 * start` and bench_connections are: an echo process (forked; it answers each whole message)
 * and the generator. Each side reads and writes every message with one system call when the
 * socket allows, as the server and bench_connections do (uv_try_write; uv_write for a rest).
 *
 *   bench_loopback [--connections N] [--seconds S] [--warmup S]
 *
 * What this measures is the ceiling any server on this machine reaches with one read and one
 * write per message per side on a libuv loop: the kernel's loopback TCP, epoll and libuv.
 *
 * Checks: every message carries its connection's sequence number in its first 8 bytes; the
 * echo answers only a whole 384-byte message with that number, the generator accepts only a
 * 288-byte answer bearing the number it sent. Anything else stops the program with an error.
 *
 * Timing: every connection connects first; then messages flow for --warmup seconds (not
 * counted), then for --seconds (counted: round trips completed in that window, and the CPU
 * time of both processes over it, from /proc/PID/stat).
 *
 * Output, one line: "loopback connections=N seconds=S round_trips=N round_trips_per_second=X
 * generator_cpu_us_per_round_trip=X echo_cpu_us_per_round_trip=X cpu_us_per_round_trip=X".
 */
#include "bench_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <uv.h>

/* The messages: a one-transfer request and its reply, in bytes (CLIENT_HEADER_BYTES + 256
 * and CLIENT_HEADER_BYTES + 32). */
#define LOOPBACK_REQUEST_BYTES 384u
#define LOOPBACK_REPLY_BYTES 288u
/* A connection's receive buffer: larger than a message, so that a read of one message returns
 * less than the buffer and libuv does not read again only to meet EAGAIN (the server's buffer
 * is larger than a message too; bench_connections's is this size). */
#define LOOPBACK_READ_BYTES 1024u
/* Connections at most: bounds both processes' memory (bench_connections's bound). */
#define LOOPBACK_CONNECTIONS_MAX 8192u
/* The listening backlog: every connection connects at once. */
#define LOOPBACK_BACKLOG 4096

/* One connection, on either side: `buffer` gathers the message being read. */
struct loopback_connection {
    uv_tcp_t tcp;
    uv_write_t write;
    u64 sequence;     /* the generator: the number in flight; the echo: the number expected */
    u32 read_bytes;   /* of the message being read */
    u32 expect_bytes; /* its length: the request's on the echo, the reply's on the generator */
    bool waiting;     /* the generator: a message is in flight */
    u8 buffer[LOOPBACK_READ_BYTES];
    u8 message[LOOPBACK_REQUEST_BYTES];
};

struct loopback {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_timer_t timer;
    struct loopback_connection *connections;
    u32 count, connected;
    pid_t echo_pid;
    u64 warmup_ms, window_ms;
    bool counting;
    u64 round_trips;
    u64 start_round_trips, start_generator_ns, start_echo_ns;
};

static struct loopback loopback;

static void loopback_fail(const char *what, const char *detail) {
    ASSERT(what != NULL && detail != NULL);
    fprintf(stderr, "bench_loopback: %s: %s\n", what, detail);
    if (loopback.echo_pid > 0) kill(loopback.echo_pid, SIGKILL);
    exit(1);
}

static void on_write(uv_write_t *write, int status) {
    ASSERT(write != NULL);
    if (status < 0) loopback_fail("write", uv_strerror(status));
}

/* Writes `bytes` of the connection's message: at once when the socket takes it, the rest
 * through uv_write (the message stays untouched until its answer, which needs all of it). */
static void loopback_send(struct loopback_connection *connection, u32 bytes) {
    ASSERT(connection != NULL && bytes <= LOOPBACK_REQUEST_BYTES);
    memcpy(connection->message, &connection->sequence, sizeof(connection->sequence));
    uv_buf_t buffer = uv_buf_init((char *)connection->message, bytes);
    int status = uv_try_write((uv_stream_t *)&connection->tcp, &buffer, 1);
    if (status == UV_EAGAIN) status = 0;
    if (status < 0) loopback_fail("write", uv_strerror(status));
    if ((u32)status < bytes) {
        buffer = uv_buf_init((char *)connection->message + status, bytes - (u32)status);
        status = uv_write(&connection->write, (uv_stream_t *)&connection->tcp, &buffer, 1,
                          on_write);
        if (status < 0) loopback_fail("write", uv_strerror(status));
    }
    ASSERT(status >= 0);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer) {
    struct loopback_connection *connection = handle->data;
    ASSERT(connection != NULL && suggested > 0);
    ASSERT(connection->read_bytes < connection->expect_bytes);
    *buffer = uv_buf_init((char *)connection->buffer + connection->read_bytes,
                          LOOPBACK_READ_BYTES - connection->read_bytes);
}

/* Adds `read_bytes` to the message being read; true once it is whole and bears the sequence
 * number expected. More than one message's bytes is an error: only one is ever in flight. */
static bool loopback_received(struct loopback_connection *connection, ssize_t read_bytes) {
    ASSERT(connection != NULL);
    if (read_bytes < 0) loopback_fail("read", uv_strerror((int)read_bytes));
    connection->read_bytes += (u32)read_bytes;
    if (connection->read_bytes > connection->expect_bytes) {
        loopback_fail("read", "more bytes than one message");
    }
    if (connection->read_bytes < connection->expect_bytes) return false;
    u64 sequence = 0;
    memcpy(&sequence, connection->buffer, sizeof(sequence));
    if (sequence != connection->sequence) loopback_fail("read", "wrong sequence number");
    connection->read_bytes = 0;
    ASSERT(connection->read_bytes == 0);
    return true;
}

/* The echo: answers each whole request with a reply bearing its sequence number. */
static void on_echo_read(uv_stream_t *stream, ssize_t read_bytes, const uv_buf_t *buffer) {
    struct loopback_connection *connection = stream->data;
    ASSERT(connection != NULL && buffer != NULL);
    if (read_bytes == UV_EOF) {
        uv_read_stop(stream);
        return;
    }
    if (!loopback_received(connection, read_bytes)) return;
    loopback_send(connection, LOOPBACK_REPLY_BYTES);
    connection->sequence++;
}

static void on_echo_connection(uv_stream_t *listener, int status) {
    ASSERT(listener != NULL);
    if (status < 0) loopback_fail("accept", uv_strerror(status));
    if (loopback.connected == loopback.count) loopback_fail("accept", "too many connections");
    struct loopback_connection *connection = &loopback.connections[loopback.connected++];
    uv_tcp_init(&loopback.loop, &connection->tcp);
    connection->tcp.data = connection;
    connection->expect_bytes = LOOPBACK_REQUEST_BYTES;
    connection->sequence = 1;
    status = uv_accept(listener, (uv_stream_t *)&connection->tcp);
    if (status < 0) loopback_fail("accept", uv_strerror(status));
    uv_tcp_nodelay(&connection->tcp, 1);
    status = uv_read_start((uv_stream_t *)&connection->tcp, on_alloc, on_echo_read);
    if (status < 0) loopback_fail("read", uv_strerror(status));
}

/* The echo process: serves the listening socket `fd` until killed. */
static _Noreturn void loopback_echo(int fd) {
    ASSERT(fd >= 0 && loopback.count > 0);
    loopback.echo_pid = 0;
    uv_loop_init(&loopback.loop);
    uv_tcp_init(&loopback.loop, &loopback.listener);
    if (uv_tcp_open(&loopback.listener, fd) != 0) loopback_fail("echo", "listening socket");
    int status = uv_listen((uv_stream_t *)&loopback.listener, LOOPBACK_BACKLOG,
                           on_echo_connection);
    if (status < 0) loopback_fail("listen", uv_strerror(status));
    uv_run(&loopback.loop, UV_RUN_DEFAULT);
    exit(0);
}

static void generator_send(struct loopback_connection *connection) {
    ASSERT(connection != NULL && !connection->waiting);
    connection->sequence++;
    connection->waiting = true;
    loopback_send(connection, LOOPBACK_REQUEST_BYTES);
}

static void on_generator_read(uv_stream_t *stream, ssize_t read_bytes, const uv_buf_t *buffer) {
    struct loopback_connection *connection = stream->data;
    ASSERT(connection != NULL && buffer != NULL);
    if (!connection->waiting) loopback_fail("read", "an answer to nothing");
    if (!loopback_received(connection, read_bytes)) return;
    connection->waiting = false;
    loopback.round_trips++;
    generator_send(connection);
}

/* The end of the warm-up, then of the counted window: CPU and round trips at each. */
static void on_timer(uv_timer_t *timer) {
    ASSERT(timer == &loopback.timer);
    u64 generator_ns = bench_server_process_cpu_ns(0);
    u64 echo_ns = bench_server_process_cpu_ns(loopback.echo_pid);
    if (!loopback.counting) {
        loopback.counting = true;
        loopback.start_round_trips = loopback.round_trips;
        loopback.start_generator_ns = generator_ns;
        loopback.start_echo_ns = echo_ns;
        uv_timer_start(&loopback.timer, on_timer, loopback.window_ms, 0);
        return;
    }
    u64 round_trips = loopback.round_trips - loopback.start_round_trips;
    double seconds = (double)loopback.window_ms / 1000.0;
    double divisor = round_trips > 0 ? (double)round_trips : 1.0;
    double generator_us = (double)(generator_ns - loopback.start_generator_ns) / 1000.0;
    double echo_us = (double)(echo_ns - loopback.start_echo_ns) / 1000.0;
    printf("loopback connections=%u seconds=%.1f round_trips=%llu round_trips_per_second=%.0f "
           "generator_cpu_us_per_round_trip=%.2f echo_cpu_us_per_round_trip=%.2f "
           "cpu_us_per_round_trip=%.2f\n",
           loopback.count, seconds, (unsigned long long)round_trips,
           (double)round_trips / seconds, generator_us / divisor, echo_us / divisor,
           (generator_us + echo_us) / divisor);
    uv_stop(&loopback.loop);
}

static void on_connect(uv_connect_t *connect, int status) {
    struct loopback_connection *connection = connect->data;
    ASSERT(connection != NULL);
    if (status < 0) loopback_fail("connect", uv_strerror(status));
    uv_tcp_nodelay(&connection->tcp, 1);
    status = uv_read_start((uv_stream_t *)&connection->tcp, on_alloc, on_generator_read);
    if (status < 0) loopback_fail("read", uv_strerror(status));
    if (++loopback.connected < loopback.count) return;
    for (u32 index = 0; index < loopback.count; index++) {
        generator_send(&loopback.connections[index]);
    }
    uv_timer_init(&loopback.loop, &loopback.timer);
    uv_timer_start(&loopback.timer, on_timer, loopback.warmup_ms, 0);
}

/* The generator: connects every connection to `address` and runs the window. */
static void loopback_generate(const struct sockaddr_in *address) {
    ASSERT(address != NULL && loopback.echo_pid > 0);
    uv_loop_init(&loopback.loop);
    static uv_connect_t *connects;
    connects = calloc(loopback.count, sizeof(*connects));
    if (connects == NULL) loopback_fail("memory", "connections");
    for (u32 index = 0; index < loopback.count; index++) {
        struct loopback_connection *connection = &loopback.connections[index];
        uv_tcp_init(&loopback.loop, &connection->tcp);
        connection->tcp.data = connection;
        connection->expect_bytes = LOOPBACK_REPLY_BYTES;
        connects[index].data = connection;
        int status = uv_tcp_connect(&connects[index], &connection->tcp,
                                    (const struct sockaddr *)address, on_connect);
        if (status < 0) loopback_fail("connect", uv_strerror(status));
    }
    uv_run(&loopback.loop, UV_RUN_DEFAULT);
    free(connects);
    ASSERT(loopback.counting);
}

/* A listening socket on a free loopback port, listening before the echo process takes it (so
 * that no connection is refused); its address into `address`. */
static int loopback_listen(struct sockaddr_in *address) {
    ASSERT(address != NULL);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) loopback_fail("socket", strerror(errno));
    *address = (struct sockaddr_in){.sin_family = AF_INET,
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(*address);
    if (bind(fd, (struct sockaddr *)address, sizeof(*address)) != 0 ||
        getsockname(fd, (struct sockaddr *)address, &length) != 0 ||
        listen(fd, LOOPBACK_BACKLOG) != 0) {
        loopback_fail("listen", strerror(errno));
    }
    ASSERT(address->sin_port != 0);
    return fd;
}

static int loopback_parse(int argc, char **argv, double *seconds, double *warmup) {
    ASSERT(argc >= 1 && seconds != NULL && warmup != NULL);
    for (int index = 1; index + 1 < argc; index += 2) {
        const char *argument = argv[index], *value = argv[index + 1];
        if (strcmp(argument, "--connections") == 0) loopback.count = (u32)atoi(value);
        else if (strcmp(argument, "--seconds") == 0) *seconds = atof(value);
        else if (strcmp(argument, "--warmup") == 0) *warmup = atof(value);
        else return -1;
    }
    return argc % 2 == 1 && loopback.count >= 1 && loopback.count <= LOOPBACK_CONNECTIONS_MAX &&
                   *seconds > 0 && *warmup >= 0
               ? 0
               : -1;
}

int main(int argc, char **argv) {
    double seconds = 10, warmup = 1;
    loopback.count = 1000;
    if (loopback_parse(argc, argv, &seconds, &warmup) != 0) {
        fputs("usage: bench_loopback [--connections N] [--seconds S] [--warmup S]\n", stderr);
        return 2;
    }
    loopback.window_ms = (u64)(seconds * 1000);
    loopback.warmup_ms = MAX((u64)(warmup * 1000), 1);
    loopback.connections = calloc(loopback.count, sizeof(*loopback.connections));
    if (loopback.connections == NULL) loopback_fail("memory", "connections");
    struct sockaddr_in address;
    int fd = loopback_listen(&address);
    fflush(stdout);
    loopback.echo_pid = fork();
    if (loopback.echo_pid < 0) loopback_fail("fork", strerror(errno));
    if (loopback.echo_pid == 0) loopback_echo(fd);
    close(fd);
    loopback_generate(&address);
    kill(loopback.echo_pid, SIGKILL);
    waitpid(loopback.echo_pid, NULL, 0);
    free(loopback.connections);
    return 0;
}
