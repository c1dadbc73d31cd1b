/*
 * server_http.c: the HTTP port on the server's loop (server_http.h): accept with a cap, read
 * one bounded request within a deadline, answer it from server_http_answer, close.
 */
#include "server/server_private.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

struct http_connection {
    uv_tcp_t tcp; /* first: libuv hands back the handle */
    uv_timer_t timer;
    struct server_http *http;
    struct http_connection *next;
    struct http_connection **previous_next; /* the pointer that points at this one */
    u32 handles_open;                       /* tcp and timer until both are closed */
    u32 filled;
    bool answered;
    bool closing;
    char request[SERVER_HTTP_REQUEST_BYTES_MAX];
};

struct server_http {
    uv_tcp_t listener;
    struct server *server;
    struct http_connection *connections;
    u32 connection_count;
    u32 timeout_ms;
    bool closing;
};

static void http_on_close(uv_handle_t *handle) {
    struct http_connection *connection = handle->data;
    ASSERT(connection != NULL && connection->closing);
    ASSERT(connection->handles_open > 0);
    connection->handles_open--;
    if (connection->handles_open > 0) return;
    *connection->previous_next = connection->next;
    if (connection->next != NULL) connection->next->previous_next = connection->previous_next;
    ASSERT(connection->http->connection_count > 0);
    connection->http->connection_count--;
    free(connection);
}

static void http_connection_close(struct http_connection *connection) {
    ASSERT(connection != NULL);
    if (connection->closing) return;
    ASSERT(connection->handles_open == 2);
    connection->closing = true;
    uv_close((uv_handle_t *)&connection->timer, http_on_close);
    uv_close((uv_handle_t *)&connection->tcp, http_on_close);
}

static void http_on_timeout(uv_timer_t *timer) {
    struct http_connection *connection = timer->data;
    ASSERT(connection != NULL);
    ASSERT(!connection->closing);
    http_connection_close(connection);
}

static void http_on_write(uv_write_t *write, int status) {
    struct http_connection *connection = write->handle->data;
    ASSERT(connection != NULL && write->data != NULL);
    (void)status; /* written or not, the connection ends: one request each */
    free(write->data);
    free(write);
    if (!connection->closing) http_connection_close(connection);
}

static const char *http_reason(u32 code) {
    ASSERT(code >= 200 && code < 600);
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: ASSERT(code == 500); return "Internal Server Error";
    }
}

/* Writes the status line, headers and body (none for HEAD), then closes. */
static void http_respond(struct http_connection *connection, u32 code, const char *type,
                         const char *body, u32 body_bytes, bool head) {
    ASSERT(!connection->answered);
    ASSERT(body != NULL || body_bytes == 0);
    connection->answered = true;
    server_metrics_http_response(&connection->http->server->metrics, code);
    uv_read_stop((uv_stream_t *)&connection->tcp);
    char header[256];
    int header_bytes = snprintf(header, sizeof(header),
                                "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %u\r\n"
                                "%sConnection: close\r\n\r\n", code, http_reason(code), type,
                                body_bytes, code == 405 ? "Allow: GET, HEAD\r\n" : "");
    ASSERT(header_bytes > 0 && (size_t)header_bytes < sizeof(header));
    u32 sent_body = head ? 0 : body_bytes;
    uv_write_t *write = malloc(sizeof(*write));
    char *bytes = malloc((size_t)header_bytes + sent_body);
    if (write == NULL || bytes == NULL) {
        free(write);
        free(bytes);
        http_connection_close(connection);
        return;
    }
    memcpy(bytes, header, (size_t)header_bytes);
    if (sent_body > 0) memcpy(bytes + header_bytes, body, sent_body);
    write->data = bytes;
    uv_buf_t buffer = uv_buf_init(bytes, (unsigned)header_bytes + sent_body);
    if (uv_write(write, (uv_stream_t *)&connection->tcp, &buffer, 1, http_on_write) != 0) {
        free(bytes);
        free(write);
        http_connection_close(connection);
    }
}

bool server_http_ready(const struct server *server) {
    ASSERT(server != NULL);
    ASSERT(server->failure == KHORGOS_ERROR_ok || server->stopping || server->engine != NULL);
    return server->engine != NULL && uv_is_active((const uv_handle_t *)&server->check) &&
           !server->stopping && server->failure == KHORGOS_ERROR_ok;
}

/* The request line's method, path (the query cut off) and version, and the headers' rules:
 * 0 when they pass, else the status code that refuses the request. */
static u32 http_parse(const char *request, u32 bytes, char *path, size_t path_capacity,
                      bool *get, bool *head) {
    ASSERT(bytes >= 4 && memcmp(request + bytes - 4, "\r\n\r\n", 4) == 0);
    ASSERT(path_capacity > 1);
    const char *end = request + bytes - 2; /* the blank line's CRLF */
    const char *line_end = memchr(request, '\r', (size_t)(end - request));
    ASSERT(line_end != NULL);
    if (line_end[1] != '\n') return 400;
    const char *space = memchr(request, ' ', (size_t)(line_end - request));
    if (space == NULL || space == request) return 400;
    const char *target = space + 1;
    const char *space_2 = memchr(target, ' ', (size_t)(line_end - target));
    if (space_2 == NULL || space_2 == target || target[0] != '/') return 400;
    size_t version_bytes = (size_t)(line_end - space_2 - 1);
    if (version_bytes != 8 || (memcmp(space_2 + 1, "HTTP/1.1", 8) != 0 &&
                               memcmp(space_2 + 1, "HTTP/1.0", 8) != 0)) {
        return 400;
    }
    size_t method_bytes = (size_t)(space - request);
    *get = method_bytes == 3 && memcmp(request, "GET", 3) == 0;
    *head = method_bytes == 4 && memcmp(request, "HEAD", 4) == 0;
    const char *query = memchr(target, '?', (size_t)(space_2 - target));
    size_t path_bytes = (size_t)((query != NULL ? query : space_2) - target);
    if (path_bytes >= path_capacity) path_bytes = path_capacity - 1; /* unknown anyway */
    memcpy(path, target, path_bytes);
    path[path_bytes] = '\0';
    for (const char *line = line_end + 2; line < end;) {
        const char *next = memchr(line, '\r', (size_t)(end - line));
        ASSERT(next != NULL);
        const char *colon = memchr(line, ':', (size_t)(next - line));
        if (colon == NULL || colon == line || next[1] != '\n') return 400;
        size_t name_bytes = (size_t)(colon - line);
        const char *value = colon + 1;
        while (value < next && (*value == ' ' || *value == '\t')) value++;
        bool zero = next - value == 1 && value[0] == '0';
        if (name_bytes == 14 && strncasecmp(line, "Content-Length", 14) == 0 && !zero) return 413;
        if (name_bytes == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) return 413;
        line = next + 2;
    }
    return 0;
}

static char *text_copy(const char *text, u32 *bytes) {
    ASSERT(text != NULL);
    *bytes = (u32)strlen(text);
    char *copy = malloc(*bytes + 1u);
    if (copy != NULL) memcpy(copy, text, *bytes + 1u);
    ASSERT(*bytes > 0);
    return copy;
}

u32 server_http_answer(struct server *server, const char *request, u32 bytes, char **body,
                       u32 *body_bytes, const char **type, bool *head) {
    ASSERT(server != NULL && request != NULL);
    ASSERT(body != NULL && body_bytes != NULL && type != NULL && head != NULL);
    *body = NULL;
    *body_bytes = 0;
    *type = "text/plain; charset=utf-8";
    *head = false;
    char path[16];
    bool get = false;
    u32 refused = http_parse(request, bytes, path, sizeof(path), &get, head);
    if (refused != 0) {
        *head = false;
        *body = text_copy(refused == 400 ? "bad request\n" : "a request body is not accepted\n",
                          body_bytes);
        return refused;
    }
    bool metrics = strcmp(path, "/metrics") == 0;
    bool known = metrics || strcmp(path, "/health") == 0 || strcmp(path, "/ready") == 0;
    if (!known) {
        *body = text_copy("not found: the paths are /metrics, /health and /ready\n", body_bytes);
        return 404;
    }
    if (!get && !*head) {
        *body = text_copy("method not allowed: GET or HEAD\n", body_bytes);
        return 405;
    }
    if (metrics) {
        *type = "text/plain; version=0.0.4; charset=utf-8";
        *body = server_metrics_render(server, body_bytes);
        return *body != NULL ? 200 : 500;
    }
    if (strcmp(path, "/health") == 0) {
        *body = text_copy("alive\n", body_bytes);
        return 200;
    }
    bool ready = server_http_ready(server);
    *body = text_copy(ready ? "ready\n" : server->stopping ? "stopping\n" : "not ready\n",
                      body_bytes);
    return ready ? 200 : 503;
}

static void http_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer) {
    struct http_connection *connection = handle->data;
    ASSERT(connection != NULL);
    ASSERT(connection->filled < SERVER_HTTP_REQUEST_BYTES_MAX);
    (void)suggested;
    *buffer = uv_buf_init(connection->request + connection->filled,
                          SERVER_HTTP_REQUEST_BYTES_MAX - connection->filled);
}

static void http_on_read(uv_stream_t *stream, ssize_t count, const uv_buf_t *buffer) {
    struct http_connection *connection = stream->data;
    ASSERT(connection != NULL);
    (void)buffer;
    if (connection->answered || connection->closing || count == 0) return;
    if (count < 0) {
        http_connection_close(connection);
        return;
    }
    connection->filled += (u32)count;
    ASSERT(connection->filled <= SERVER_HTTP_REQUEST_BYTES_MAX);
    const char *end = memmem(connection->request, connection->filled, "\r\n\r\n", 4);
    if (end == NULL) {
        if (connection->filled == SERVER_HTTP_REQUEST_BYTES_MAX) {
            static const char text[] = "the request line and headers exceed 8192 bytes\n";
            http_respond(connection, 431, "text/plain; charset=utf-8", text, sizeof(text) - 1,
                         false);
        }
        return;
    }
    char *body = NULL;
    u32 body_bytes = 0;
    const char *type = NULL;
    bool head = false;
    u32 code = server_http_answer(connection->http->server, connection->request,
                                  (u32)(end + 4 - connection->request), &body, &body_bytes,
                                  &type, &head);
    http_respond(connection, body != NULL ? code : 500, type, body, body != NULL ? body_bytes : 0,
                 head);
    free(body);
}

static void http_on_connection(uv_stream_t *listener, int status) {
    struct server_http *http = listener->data;
    ASSERT(http != NULL && listener == (uv_stream_t *)&http->listener);
    if (status != 0 || http->closing) return;
    struct http_connection *connection = calloc(1, sizeof(*connection));
    if (connection == NULL) return; /* the pending connection stays in the backlog */
    connection->http = http;
    connection->tcp.data = connection;
    connection->timer.data = connection;
    connection->handles_open = 2;
    uv_tcp_init(listener->loop, &connection->tcp);
    uv_timer_init(listener->loop, &connection->timer);
    connection->next = http->connections;
    connection->previous_next = &http->connections;
    if (http->connections != NULL) http->connections->previous_next = &connection->next;
    http->connections = connection;
    http->connection_count++;
    if (uv_accept(listener, (uv_stream_t *)&connection->tcp) != 0) {
        http_connection_close(connection);
        return;
    }
    if (http->connection_count > SERVER_HTTP_CONNECTIONS_MAX) {
        http->server->metrics.http_connections_refused++;
        http_connection_close(connection);
        return;
    }
    uv_timer_start(&connection->timer, http_on_timeout, http->timeout_ms, 0);
    uv_read_start((uv_stream_t *)&connection->tcp, http_on_alloc, http_on_read);
}

khorgos_error server_http_start(struct server *server, const char *address, u32 timeout_ms) {
    ASSERT(server != NULL && address != NULL);
    ASSERT(server->http == NULL);
    struct sockaddr_storage storage;
    bool loopback = false;
    const char *reason = NULL;
    if (!server_address_parse(address, &storage, &loopback, &reason)) {
        server_log("event=refused http=%s reason=\"%s\"", address, reason);
        return KHORGOS_ERROR_invalid_argument;
    }
    if (!loopback) {
        server_log("event=refused http=%s reason=\"the HTTP port is plaintext: it is served "
                   "only on a loopback address\"", address);
        return KHORGOS_ERROR_invalid_argument;
    }
    struct server_http *http = calloc(1, sizeof(*http));
    if (http == NULL) return KHORGOS_ERROR_out_of_memory;
    http->server = server;
    http->timeout_ms = timeout_ms != 0 ? timeout_ms : SERVER_HTTP_TIMEOUT_MS;
    server->http = http;
    uv_tcp_init(&server->loop, &http->listener);
    http->listener.data = http;
    int status = uv_tcp_bind(&http->listener, (const struct sockaddr *)&storage, 0);
    if (status == 0) {
        status = uv_listen((uv_stream_t *)&http->listener, 64, http_on_connection);
    }
    if (status != 0) {
        server_log("event=refused http=%s reason=\"%s\"", address, uv_strerror(status));
        return KHORGOS_ERROR_io; /* server_http_close closes the listener */
    }
    int bytes = sizeof(storage);
    uv_tcp_getsockname(&http->listener, (struct sockaddr *)&storage, &bytes);
    u16 port = storage.ss_family == AF_INET ? ((struct sockaddr_in *)&storage)->sin_port
                                            : ((struct sockaddr_in6 *)&storage)->sin6_port;
    server_log("event=listening http=%s port=%u paths=/metrics,/health,/ready", address,
               (unsigned)ntohs(port));
    return KHORGOS_ERROR_ok;
}

bool server_http_owns(const struct server *server, const uv_handle_t *handle) {
    ASSERT(server != NULL && handle != NULL);
    const struct server_http *http = server->http;
    if (http == NULL) return false;
    if (handle == (const uv_handle_t *)&http->listener) return true;
    for (const struct http_connection *connection = http->connections; connection != NULL;
         connection = connection->next) {
        if (handle == (const uv_handle_t *)&connection->tcp ||
            handle == (const uv_handle_t *)&connection->timer) {
            return true;
        }
    }
    ASSERT(http->connection_count <= SERVER_HTTP_CONNECTIONS_MAX + 1);
    return false;
}

void server_http_close(struct server *server) {
    ASSERT(server != NULL);
    struct server_http *http = server->http;
    if (http == NULL || http->closing) return;
    http->closing = true;
    uv_close((uv_handle_t *)&http->listener, NULL);
    for (struct http_connection *connection = http->connections; connection != NULL;
         connection = connection->next) {
        if (!connection->closing) http_connection_close(connection);
    }
    ASSERT(http->closing);
}

void server_http_free(struct server *server) {
    ASSERT(server != NULL);
    if (server->http == NULL) return;
    ASSERT(server->http->connections == NULL);
    free(server->http);
    server->http = NULL;
}
