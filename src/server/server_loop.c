/*
 * server_loop.c: the libuv loop: the listener, connections and their framing, the check phase
 * that runs the engine, signals and the clean stop.
 */
#include "server/server_private.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void server_log(const char *format, ...) {
    ASSERT(format != NULL);
    va_list arguments;
    va_start(arguments, format);
    flockfile(stderr); /* the open's thread logs too (server_open_beside_loop): whole lines */
    fputs("khorgos: ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    fflush(stderr); /* one whole line per event, even when standard error is a file */
    funlockfile(stderr);
    va_end(arguments);
    ASSERT(format[0] != '\0');
}

static void connection_free(struct server_connection *connection) {
    ASSERT(connection->closed);
    ASSERT(connection->jobs_pending == 0);
    server_tls_free(connection);
    free(connection->buffer);
    free(connection);
}

static void connection_on_close(uv_handle_t *handle) {
    struct server_connection *connection = handle->data;
    ASSERT(connection != NULL && connection->closing);
    struct server *server = connection->server;
    ASSERT(server->connection_count > 0);
    server->connection_count--;
    if (connection->listed_prev != NULL) connection->listed_prev->listed_next =
        connection->listed_next;
    if (connection->listed_next != NULL) connection->listed_next->listed_prev =
        connection->listed_prev;
    if (server->connections == connection) server->connections = connection->listed_next;
    connection->closed = true;
    if (connection->jobs_pending == 0) connection_free(connection);
}

void server_connection_close(struct server_connection *connection, const char *reason) {
    ASSERT(connection != NULL && reason != NULL);
    ASSERT(connection->tcp.data == connection);
    if (connection->closing) return;
    connection->closing = true;
    server_log("event=connection_closed connection=%llu reason=\"%s\"",
               (unsigned long long)connection->id, reason);
    uv_read_stop((uv_stream_t *)&connection->tcp);
    uv_close((uv_handle_t *)&connection->tcp, connection_on_close);
}

void server_connection_job_done(struct server_connection *connection) {
    ASSERT(connection != NULL);
    ASSERT(connection->jobs_pending > 0);
    connection->jobs_pending--;
    if (connection->jobs_pending == 0) connection->active_ms = uv_now(&connection->server->loop);
    if (connection->closed && connection->jobs_pending == 0) connection_free(connection);
}

static void connection_on_write(uv_write_t *write, int status) {
    ASSERT(write != NULL);
    ASSERT(write->data != NULL);
    if (status != 0 && status != UV_ECANCELED) {
        struct server_connection *connection = (struct server_connection *)write->handle;
        server_connection_close(connection, uv_strerror(status));
    }
    free(write->data);
    free(write);
}

/* Queues bytes[written..size) behind what the socket did not take; `bytes` (malloc'd) is freed
 * once written. */
static void connection_write_queue(struct server_connection *connection, u8 *bytes, u32 written,
                                   u32 size) {
    ASSERT(connection != NULL && bytes != NULL);
    ASSERT(written < size);
    uv_write_t *write = malloc(sizeof(*write));
    if (write == NULL) {
        free(bytes);
        server_connection_close(connection, "out of memory for a reply");
        return;
    }
    write->data = bytes;
    uv_buf_t buffer = uv_buf_init((char *)bytes + written, size - written);
    int status = uv_write(write, (uv_stream_t *)&connection->tcp, &buffer, 1, connection_on_write);
    if (status != 0) {
        free(bytes);
        free(write);
        server_connection_close(connection, uv_strerror(status));
    }
}

/* Writes what the socket takes now, with no request and no callback: a reply usually fits the
 * socket's buffer whole, and libuv's uv_write would cost a request, a callback on the next
 * turn of the loop and an epoll_ctl each. Nothing is written while earlier bytes wait in the
 * queue (uv_try_write refuses then), so the order holds. Returns the bytes written, or -1
 * when the connection failed (closed here). */
static i64 connection_try_write(struct server_connection *connection, const u8 *bytes,
                                u32 size) {
    ASSERT(connection != NULL && bytes != NULL);
    ASSERT(size > 0 && !connection->closing);
    uv_buf_t buffer = uv_buf_init((char *)bytes, size);
    int written = uv_try_write((uv_stream_t *)&connection->tcp, &buffer, 1);
    if (written == UV_EAGAIN) return 0;
    if (written < 0) {
        server_connection_close(connection, uv_strerror(written));
        return -1;
    }
    ASSERT((u32)written <= size);
    return written;
}

void server_connection_write(struct server_connection *connection, u8 *bytes, u32 size) {
    ASSERT(connection != NULL && bytes != NULL);
    ASSERT(size > 0);
    i64 written = connection->closing ? -1 : connection_try_write(connection, bytes, size);
    if (written < 0 || (u32)written == size) {
        free(bytes);
        return;
    }
    connection_write_queue(connection, bytes, (u32)written, size);
}

/* Plaintext on a single node: the bytes go out as they are; only what the socket does not take
 * is copied and queued. */
static void connection_send_plain(struct server_connection *connection, const u8 *bytes,
                                  u32 size) {
    ASSERT(connection->tls == NULL && connection->server->replica == NULL);
    ASSERT(size > 0);
    i64 written = connection_try_write(connection, bytes, size);
    if (written < 0 || (u32)written == size) return;
    u32 rest_bytes = size - (u32)written;
    u8 *rest = malloc(rest_bytes);
    if (rest == NULL) {
        server_connection_close(connection, "out of memory for a reply");
        return;
    }
    memcpy(rest, bytes + written, rest_bytes);
    connection_write_queue(connection, rest, 0, rest_bytes);
}

void server_connection_send(struct server_connection *connection, const void *bytes,
                            u32 size) {
    ASSERT(connection != NULL && bytes != NULL);
    ASSERT(size >= CLIENT_HEADER_BYTES && size <= CLIENT_MESSAGE_BYTES_MAX);
    if (connection->closing) return;
    if (connection->server->replica == NULL) {
        if (connection->tls != NULL) server_tls_send(connection, bytes, size);
        else connection_send_plain(connection, bytes, size);
        return;
    }
    /* A replica stamps its index and view into a copy (server_replica_stamp). */
    u8 *copy = malloc(size);
    if (copy == NULL) {
        server_connection_close(connection, "out of memory for a reply");
        return;
    }
    memcpy(copy, bytes, size);
    server_replica_stamp(connection->server, copy);
    if (connection->tls != NULL) {
        server_tls_send(connection, copy, size);
        free(copy);
        return;
    }
    server_connection_write(connection, copy, size);
}

static bool connection_reserve(struct server_connection *connection, u32 capacity) {
    ASSERT(capacity <= CLIENT_MESSAGE_BYTES_MAX);
    if (connection->buffer_capacity >= capacity) return true;
    u8 *buffer = realloc(connection->buffer, capacity);
    if (buffer == NULL) return false;
    connection->buffer = buffer;
    connection->buffer_capacity = capacity;
    ASSERT(connection->buffer_filled <= capacity);
    return true;
}

static void connection_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer) {
    struct server_connection *connection = handle->data;
    ASSERT(connection != NULL);
    (void)suggested;
    u32 wanted = MAX(SERVER_RECEIVE_BYTES_MIN, connection->buffer_filled + CLIENT_HEADER_BYTES);
    if (!connection_reserve(connection, MIN(wanted, CLIENT_MESSAGE_BYTES_MAX))) {
        *buffer = uv_buf_init(NULL, 0);
        return;
    }
    ASSERT(connection->buffer_capacity > connection->buffer_filled);
    *buffer = uv_buf_init((char *)connection->buffer + connection->buffer_filled,
                          connection->buffer_capacity - connection->buffer_filled);
}

void server_connection_parse(struct server_connection *connection) {
    struct server *server = connection->server;
    ASSERT(server != NULL && !server->stopping);
    while (!connection->closing && connection->buffer_filled >= CLIENT_HEADER_BYTES) {
        struct client_header header;
        const char *reason = NULL;
        khorgos_error error = client_header_decode(connection->buffer, connection->buffer_filled,
                                                   server->cluster, &header, &reason);
        if (error != KHORGOS_ERROR_ok) {
            server_connection_close(connection, reason);
            return;
        }
        if (header.size > connection->buffer_filled) {
            if (!connection_reserve(connection, header.size)) {
                server_connection_close(connection, "out of memory for a message");
            }
            return;
        }
        const u8 *body = connection->buffer + CLIENT_HEADER_BYTES;
        if (client_body_check(&header, body, &reason) != KHORGOS_ERROR_ok) {
            server_connection_close(connection, reason);
            return;
        }
        server_message_handle(connection, &header, body);
        connection->active_ms = uv_now(&server->loop);
        ASSERT(header.size <= connection->buffer_filled);
        connection->buffer_filled -= header.size;
        memmove(connection->buffer, connection->buffer + header.size, connection->buffer_filled);
    }
}

static void connection_on_read(uv_stream_t *stream, ssize_t count, const uv_buf_t *buffer) {
    struct server_connection *connection = stream->data;
    ASSERT(connection != NULL);
    (void)buffer;
    if (count == UV_ENOBUFS) {
        server_connection_close(connection, "out of memory for a message");
        return;
    }
    if (count < 0) {
        server_connection_close(connection, count == UV_EOF ? "end of stream" : uv_strerror(
                                                                                  (int)count));
        return;
    }
    if (connection->tls != NULL) {
        if (count > 0) server_tls_receive(connection, (u32)count);
        return;
    }
    connection->buffer_filled += (u32)count;
    ASSERT(connection->buffer_filled <= connection->buffer_capacity);
    server_connection_parse(connection);
}

static void listener_on_connection(uv_stream_t *listener, int status) {
    struct server *server = listener->data;
    ASSERT(server != NULL);
    ASSERT(listener == (uv_stream_t *)&server->listener);
    if (status != 0 || server->stopping) return;
    struct server_connection *connection = calloc(1, sizeof(*connection));
    if (connection == NULL) return;
    connection->server = server;
    connection->id = ++server->connection_next;
    connection->tcp.data = connection;
    connection->opened_ms = uv_now(&server->loop);
    connection->active_ms = connection->opened_ms;
    uv_tcp_init(&server->loop, &connection->tcp);
    server->connection_count++;
    connection->listed_next = server->connections;
    if (server->connections != NULL) server->connections->listed_prev = connection;
    server->connections = connection;
    if (uv_accept(listener, (uv_stream_t *)&connection->tcp) != 0) {
        server_connection_close(connection, "accept failed");
        return;
    }
    if (server->connection_count > server->connections_max) {
        server->metrics.connections_refused++;
        server_connection_close(connection, "too many connections");
        return;
    }
    if (server->tls == NULL) {
        server_identity_operator(&connection->identity);
        connection->established = true;
    } else if (!server_tls_accept(server->tls, connection)) {
        server_connection_close(connection, "out of memory for TLS");
        return;
    }
    uv_tcp_nodelay(&connection->tcp, 1);
    server_log("event=connection_opened connection=%llu connections=%u transport=%s",
               (unsigned long long)connection->id, server->connection_count,
               server->tls != NULL ? "tls" : "plaintext");
    if (server->engine == NULL) return; /* held until the open returns (reads_start) */
    uv_read_start((uv_stream_t *)&connection->tcp, connection_on_alloc, connection_on_read);
}

static void connection_on_shutdown(uv_shutdown_t *shutdown, int status) {
    struct server_connection *connection = shutdown->handle->data;
    ASSERT(connection != NULL);
    ASSERT(connection->server->stopping);
    (void)status;
    free(shutdown);
    server_connection_close(connection, "server stopping");
}

/* Whether a TCP handle of the loop other than the listener and the HTTP port's is a client
 * connection: always on a single node; a replica's loop holds raft's handles too. */
static bool handle_is_connection(const struct server *server, const uv_handle_t *handle) {
    ASSERT(server != NULL && handle != NULL);
    ASSERT(handle->type == UV_TCP);
    if (server->replica == NULL) return true;
    for (const struct server_connection *connection = server->connections; connection != NULL;
         connection = connection->listed_next) {
        if (handle == (const uv_handle_t *)&connection->tcp) return true;
    }
    return false;
}

/* After the last jobs: ends each connection once its replies are written. */
static void handle_finish(uv_handle_t *handle, void *argument) {
    struct server *server = argument;
    ASSERT(server != NULL);
    if (uv_is_closing(handle)) return;
    if (handle == (uv_handle_t *)&server->listener) return;
    if (handle->type != UV_TCP) {
        uv_close(handle, NULL);
        return;
    }
    if (!handle_is_connection(server, handle)) return;
    struct server_connection *connection = handle->data;
    ASSERT(connection != NULL && connection->server == server);
    uv_shutdown_t *shutdown = malloc(sizeof(*shutdown));
    if (shutdown == NULL ||
        uv_shutdown(shutdown, (uv_stream_t *)handle, connection_on_shutdown) != 0) {
        free(shutdown);
        server_connection_close(connection, "server stopping");
    }
}

void server_on_idle(uv_idle_t *idle) {
    ASSERT(idle != NULL);
    ASSERT(idle->data != NULL);
}

static void loop_on_check(uv_check_t *check) {
    struct server *server = check->data;
    ASSERT(server != NULL);
    if (server->queued->requests_count > 0 || server->flying->requests_count > 0) {
        server_jobs_execute(server);
    }
    ASSERT(server->queued->requests_count == 0 || server->replica != NULL);
    if (server->flying->requests_count == 0 && !server->stopping && server->replica == NULL) {
        server_notify_poll(server);
    }
    if (server->stopping && server->replica != NULL) server_replica_stop(server);
    if (server->stopping && !server->closing_all && server->flying->requests_count == 0 &&
        (server->replica == NULL || server_replica_closed(server))) {
        server->closing_all = true;
        server_http_close(server);
        uv_walk(&server->loop, handle_finish, server);
        server_log("event=stopped op=%llu engine_batches=%llu engine_requests=%llu",
                   (unsigned long long)server->engine->request_count,
                   (unsigned long long)server->engine_batches,
                   (unsigned long long)server->engine_requests);
    }
}

/* Closes a connection past its handshake timeout (TLS not yet established) or its idle
 * timeout (no whole message for that long while none of its requests executes). */
static void connection_sweep(uv_handle_t *handle, void *argument) {
    struct server *server = argument;
    ASSERT(server != NULL && handle != NULL);
    if (handle->type != UV_TCP || handle == (uv_handle_t *)&server->listener) return;
    if (uv_is_closing(handle) || server_http_owns(server, handle)) return; /* its own timer */
    if (!handle_is_connection(server, handle)) return;
    struct server_connection *connection = handle->data;
    ASSERT(connection != NULL && connection->server == server);
    u64 now_ms = uv_now(&server->loop);
    if (!connection->established) {
        if (now_ms - connection->opened_ms >= server->handshake_timeout_ms) {
            server_connection_close(connection, "handshake timeout");
        }
    } else if (connection->jobs_pending == 0 &&
               now_ms - connection->active_ms >= server->idle_timeout_ms) {
        server_connection_close(connection, "idle timeout: no whole message");
    }
}

static void loop_on_sweep(uv_timer_t *timer) {
    struct server *server = timer->data;
    ASSERT(server != NULL);
    ASSERT(timer == &server->sweep);
    uv_walk(&server->loop, connection_sweep, server);
}

static void loop_on_hangup(uv_signal_t *signal, int number) {
    struct server *server = signal->data;
    ASSERT(server != NULL);
    ASSERT(number == SIGHUP);
    if (server->tls == NULL) {
        server_log("event=reload_skipped reason=\"no TLS options: nothing to reload\"");
        return;
    }
    server_tls_reload(server->tls);
}

static void stop_reads(uv_handle_t *handle, void *argument) {
    struct server *server = argument;
    ASSERT(server != NULL && server->stopping);
    ASSERT(handle != NULL);
    if (handle->type != UV_TCP || handle == (uv_handle_t *)&server->listener) return;
    if (server_http_owns(server, handle)) return; /* /ready answers 503 while stopping */
    if (!handle_is_connection(server, handle)) return;
    if (!uv_is_closing(handle)) uv_read_stop((uv_stream_t *)handle);
}

static void loop_on_signal(uv_signal_t *signal, int number) {
    struct server *server = signal->data;
    ASSERT(server != NULL);
    if (server->stopping) return;
    server_log("event=stopping signal=%s jobs_pending=%s", number == SIGTERM ? "SIGTERM" :
               "SIGINT", server->queued->jobs_head != NULL || server->flying->jobs_head != NULL
                             ? "yes" : "no");
    server->stopping = true;
    uv_close((uv_handle_t *)&server->listener, NULL);
    uv_walk(&server->loop, stop_reads, server);
    ASSERT(uv_is_active((uv_handle_t *)&server->check));
}

bool server_address_parse(const char *text, void *address_storage, bool *loopback,
                          const char **reason) {
    ASSERT(text != NULL && address_storage != NULL);
    ASSERT(loopback != NULL && reason != NULL);
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(text, ':');
    const char *port_text = colon == NULL ? text : colon + 1;
    if (colon != NULL) {
        const char *start = text;
        size_t length = (size_t)(colon - text);
        if (length >= 2 && text[0] == '[' && colon[-1] == ']') {
            start = text + 1;
            length -= 2;
        }
        if (length == 0 || length >= sizeof(host)) {
            *reason = "the host is empty or too long";
            return false;
        }
        memcpy(host, start, length);
        host[length] = '\0';
    }
    char *end = NULL;
    unsigned long port = strtoul(port_text, &end, 10);
    if (*port_text == '\0' || *end != '\0' || port > 65535) {
        *reason = "the port is not a number from 0 (any free port) to 65535";
        return false;
    }
    struct sockaddr_in *ipv4 = address_storage;
    struct sockaddr_in6 *ipv6 = address_storage;
    if (uv_ip4_addr(host, (int)port, ipv4) == 0) {
        *loopback = (ntohl(ipv4->sin_addr.s_addr) >> 24) == 127;
    } else if (uv_ip6_addr(host, (int)port, ipv6) == 0) {
        *loopback = memcmp(&ipv6->sin6_addr, &in6addr_loopback, sizeof(in6addr_loopback)) == 0;
    } else {
        *reason = "the host is not an IPv4 or IPv6 address";
        return false;
    }
    return true;
}

static khorgos_error server_listen(struct server *server, const struct server_options *options) {
    ASSERT(server != NULL && options->address != NULL);
    ASSERT(!server->stopping);
    struct sockaddr_storage address;
    bool loopback = false;
    const char *reason = NULL;
    if (!server_address_parse(options->address, &address, &loopback, &reason)) {
        server_log("event=refused address=%s reason=\"%s\"", options->address, reason);
        return KHORGOS_ERROR_invalid_argument;
    }
    if (!loopback && server->tls == NULL) {
        server_log("event=refused address=%s reason=\"plaintext is served only on a loopback "
                   "address; give --tls-cert, --tls-key and --tls-ca to serve others\"",
                   options->address);
        return KHORGOS_ERROR_invalid_argument;
    }
    uv_tcp_init(&server->loop, &server->listener);
    server->listener.data = server;
    int status = uv_tcp_bind(&server->listener, (const struct sockaddr *)&address, 0);
    if (status == 0) {
        /* A backlog as deep as the connections allowed (the kernel caps it at somaxconn), so
         * that a burst of clients connecting at once is queued rather than dropped. */
        status = uv_listen((uv_stream_t *)&server->listener, (int)server->connections_max,
                           listener_on_connection);
    }
    if (status != 0) {
        server_log("event=refused address=%s reason=\"%s\"", options->address,
                   uv_strerror(status));
        uv_close((uv_handle_t *)&server->listener, NULL);
        uv_run(&server->loop, UV_RUN_DEFAULT);
        return KHORGOS_ERROR_io;
    }
    int bytes = sizeof(address);
    uv_tcp_getsockname(&server->listener, (struct sockaddr *)&address, &bytes);
    u16 port = address.ss_family == AF_INET ? ((struct sockaddr_in *)&address)->sin_port
                                            : ((struct sockaddr_in6 *)&address)->sin6_port;
    server_log("event=listening address=%s port=%u transport=%s loopback=%s",
               options->address, (unsigned)ntohs(port), server->tls != NULL ? "tls" : "plaintext",
               loopback ? "yes" : "no");
    if (server->tls == NULL) {
        server_log("event=plaintext reason=\"no TLS options: plaintext on a loopback address "
                   "only; every connection acts as the operator\"");
    }
    return KHORGOS_ERROR_ok;
}

static khorgos_error server_open(struct khorgos **engine, const struct server_options *options) {
    ASSERT(engine != NULL && *engine == NULL);
    ASSERT(options->data_directory != NULL);
    char report[512] = "";
    /* A replica's engine runs on the leader's clock, set from each entry. */
    bool manual = options->clock_manual || options->replica_addresses != NULL;
    struct khorgos_open_options open_options = {.clock_manual = manual ? 1 : 0,
                                                .report = report,
                                                .report_capacity = sizeof(report),
                                                .memory_prefault = options->memory_resident};
    if (options->before_open != NULL) options->before_open(options->before_open_context);
    khorgos_error error = khorgos_open(engine, options->data_directory, &open_options);
    if (report[0] != '\0') {
        server_log("event=recovery data=%s report=\"%s\"", options->data_directory, report);
    }
    if (error != KHORGOS_ERROR_ok) {
        server_log("event=open_failed data=%s error=%s reason=\"%s\"", options->data_directory,
                   khorgos_error_name(error), khorgos_strerror(error));
        return error;
    }
    char cluster[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
    base_u128_format(engine_cluster(*engine), cluster);
    server_log("event=opened data=%s cluster=%s clock=%s memory=%s", options->data_directory,
               cluster,
               options->replica_addresses != NULL ? "leader"
               : options->clock_manual            ? "manual"
                                                  : "realtime",
               options->memory_resident ? "resident" : "on-demand");
    return KHORGOS_ERROR_ok;
}

/* The check phase, the timeout sweep and the signals. */
static void server_handles_start(struct server *server) {
    ASSERT(server != NULL && server->engine != NULL);
    ASSERT(server->handshake_timeout_ms > 0 && server->idle_timeout_ms > 0);
    server->check.data = server;
    server->idle.data = server;
    uv_idle_init(&server->loop, &server->idle);
    uv_check_init(&server->loop, &server->check);
    uv_check_start(&server->check, loop_on_check);
    server->sweep.data = server;
    uv_timer_init(&server->loop, &server->sweep);
    u64 period_ms = MIN(server->handshake_timeout_ms, server->idle_timeout_ms) / 4;
    period_ms = MIN(MAX(period_ms, 10u), 1000u);
    uv_timer_start(&server->sweep, loop_on_sweep, period_ms, period_ms);
    uv_signal_t *signals[] = {&server->signal_term, &server->signal_interrupt,
                              &server->signal_hangup};
    int numbers[] = {SIGTERM, SIGINT, SIGHUP};
    for (u32 index = 0; index < ARRAY_COUNT(signals); index++) {
        signals[index]->data = server;
        uv_signal_init(&server->loop, signals[index]);
        uv_signal_start(signals[index], numbers[index] == SIGHUP ? loop_on_hangup
                                                                 : loop_on_signal,
                        numbers[index]);
    }
}

/* The data directory's open (its recovery), on a thread of libuv's pool, so that the loop goes
 * on meanwhile: the HTTP port answers /health, and /ready says 503, until the open returns.
 * Client connections accepted meanwhile are held without being read (listener_on_connection)
 * until then. The engine pointer is handed to the loop's thread only in open_after. */
struct server_opening {
    uv_work_t work;
    const struct server_options *options;
    struct khorgos *engine;
    khorgos_error error;
    bool done;
};

static void open_work(uv_work_t *work) {
    struct server_opening *opening = work->data;
    ASSERT(opening != NULL && opening->engine == NULL);
    opening->error = server_open(&opening->engine, opening->options);
    ASSERT(opening->error == KHORGOS_ERROR_ok || opening->engine == NULL);
}

static void open_after(uv_work_t *work, int status) {
    struct server_opening *opening = work->data;
    ASSERT(opening != NULL && !opening->done);
    ASSERT(status == 0); /* the work is never cancelled */
    opening->done = true;
}

static khorgos_error server_open_beside_loop(struct server *server,
                                             const struct server_options *options) {
    ASSERT(server->engine == NULL);
    struct server_opening opening = {.options = options};
    opening.work.data = &opening;
    if (uv_queue_work(&server->loop, &opening.work, open_work, open_after) != 0) {
        return server_open(&server->engine, options); /* no thread: open on this one */
    }
    while (!opening.done) uv_run(&server->loop, UV_RUN_ONCE);
    server->engine = opening.engine;
    ASSERT(opening.error == KHORGOS_ERROR_ok || server->engine == NULL);
    return opening.error;
}

/* Once the engine is open: starts reading the client connections held since accept. */
static void reads_start(uv_handle_t *handle, void *argument) {
    struct server *server = argument;
    ASSERT(server != NULL && server->engine != NULL);
    if (handle->type != UV_TCP || handle == (uv_handle_t *)&server->listener) return;
    if (server_http_owns(server, handle) || uv_is_closing(handle)) return;
    if (!handle_is_connection(server, handle)) return;
    ASSERT(((struct server_connection *)handle->data)->server == server);
    uv_read_start((uv_stream_t *)handle, connection_on_alloc, connection_on_read);
}

/* The open failed: closes the client connections held since accept. */
static void held_close(uv_handle_t *handle, void *argument) {
    struct server *server = argument;
    ASSERT(server != NULL && server->engine == NULL);
    if (handle->type != UV_TCP || handle == (uv_handle_t *)&server->listener) return;
    if (server_http_owns(server, handle) || uv_is_closing(handle)) return;
    server_connection_close(handle->data, "the data directory did not open");
}

khorgos_error server_run(const struct server_options *options) {
    ASSERT(options != NULL && options->data_directory != NULL && options->address != NULL);
    ASSERT(options->connections_max <= SERVER_CONNECTIONS_OPTION_MAX);
    struct server *server = calloc(1, sizeof(*server));
    if (server == NULL) return KHORGOS_ERROR_out_of_memory;
    server->connections_max =
        options->connections_max != 0 ? options->connections_max : SERVER_CONNECTIONS_MAX;
    server->handshake_timeout_ms = options->handshake_timeout_ms != 0
                                       ? options->handshake_timeout_ms
                                       : SERVER_HANDSHAKE_TIMEOUT_DEFAULT_MS;
    server->idle_timeout_ms =
        options->idle_timeout_ms != 0 ? options->idle_timeout_ms : SERVER_IDLE_TIMEOUT_DEFAULT_MS;
    server->notify_unsent_bytes_max = options->notify_unsent_bytes_max != 0
                                          ? options->notify_unsent_bytes_max
                                          : SERVER_NOTIFY_UNSENT_BYTES_MAX;
    server_batch_init(&server->batches[0]);
    server_batch_init(&server->batches[1]);
    server->queued = &server->batches[0];
    server->flying = &server->batches[1];
    server_metrics_init(&server->metrics);
    /* A write to a connection the peer closed (a replica's raft link to a killed leader, a
     * client gone) must fail with EPIPE on that connection, not end the process. */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&server->loop);
    khorgos_error error = KHORGOS_ERROR_ok;
    if (options->tls_cert != NULL) error = server_tls_open(options, &server->tls);
    if (error == KHORGOS_ERROR_ok) error = server_listen(server, options);
    if (error == KHORGOS_ERROR_ok && options->http_address != NULL) {
        error = server_http_start(server, options->http_address, options->http_timeout_ms);
    }
    if (error == KHORGOS_ERROR_ok) error = server_open_beside_loop(server, options);
    if (error == KHORGOS_ERROR_ok) server->cluster = engine_cluster(server->engine);
    if (error == KHORGOS_ERROR_ok && options->replica_addresses != NULL) {
        error = server_replica_start(server, options);
    }
    if (error == KHORGOS_ERROR_ok) {
        server_handles_start(server);
        server_log("event=serving sessions_max=%u connections_max=%u handshake_timeout_ms=%u "
                   "idle_timeout_ms=%u", ENGINE_SESSIONS_MAX, server->connections_max,
                   server->handshake_timeout_ms, server->idle_timeout_ms);
        uv_walk(&server->loop, reads_start, server);
        uv_run(&server->loop, UV_RUN_DEFAULT);
        error = server->failure;
        ASSERT(server->queued->jobs_head == NULL && server->flying->jobs_head == NULL);
    } else {
        uv_walk(&server->loop, held_close, server);
        server_http_close(server);
        if (uv_is_active((uv_handle_t *)&server->listener)) {
            uv_close((uv_handle_t *)&server->listener, NULL);
        }
        uv_run(&server->loop, UV_RUN_DEFAULT);
    }
    server_http_free(server);
    server_gateway_free(server);
    server_notify_free(server);
    server_replica_free(server); /* its state machine owns the engine */
    if (server->engine != NULL) khorgos_close(server->engine);
    uv_loop_close(&server->loop);
    server_replies_free(&server->replies);
    server_client_jobs_free(server);
    server_tls_close(server->tls);
    free(server->batches[0].requests);
    free(server->batches[1].requests);
    free(server);
    return error;
}
