/*
 * server_http.h: the server's HTTP port (`start --http ADDR:PORT`): GET /metrics in
 * Prometheus's text format 0.0.4, GET /health and GET /ready, on the server's own libuv loop
 * (server_http.c), and the counters the loop keeps for /metrics (server_metrics.c).
 *
 * Design notes
 *
 * 1. Why the server's loop and not libmicrohttpd. The server already runs one libuv loop on one
 *    thread that owns the engine; /metrics reads the engine's state, so answering on that loop
 *    needs no lock and no second thread, and a scrape sees the state between two engine batches.
 *    The grammar is tiny and fixed (a request line and headers, GET or HEAD, three paths, no
 *    body), so a few dozen lines parse it; a whole request is bounded
 *    (SERVER_HTTP_REQUEST_BYTES_MAX) and must arrive within SERVER_HTTP_TIMEOUT_MS.
 *    libmicrohttpd would bring its own threads or its own select loop beside libuv's.
 *
 * 2. One request per connection: each answer says `Connection: close` and the connection
 *    closes once it is written; Prometheus opens a connection per scrape anyway.
 *
 * 3. Cost on the hot path. The loop only adds to counters and histogram buckets (a few
 *    increments per engine batch and per request); the engine's state (settlement per currency,
 *    windows, journal and checkpoint statistics) is read only when /metrics is asked for.
 */
#ifndef KHORGOS_SERVER_HTTP_H
#define KHORGOS_SERVER_HTTP_H

#include "server/server.h"

#include <uv.h>

/* HTTP connections open at once: a scraper and a few probes need a handful; more are closed at
 * accept, so probes can never take the memory or descriptors the clients need. */
#define SERVER_HTTP_CONNECTIONS_MAX 64u
/* Bytes of a request's line and headers: a scraper's or a probe's request is under 1 KiB;
 * larger is refused with 431, so a connection never holds more than this. */
#define SERVER_HTTP_REQUEST_BYTES_MAX 8192u
/* A connection's whole life (request in, answer out): a slow or silent client is closed then,
 * so it cannot hold one of the few connections. Prometheus's default scrape timeout is 10 s. */
#define SERVER_HTTP_TIMEOUT_MS 5000u

/* Histogram buckets at most (the +Inf bucket is the count). */
#define SERVER_METRICS_BUCKETS_MAX 16u
/* Operation codes are below 256 (include/khorgos.h). */
#define SERVER_METRICS_OPERATIONS 256u

/* The status codes the HTTP port answers with. */
#define SERVER_METRICS_HTTP_CODES 8u
extern const u32 server_metrics_http_codes[SERVER_METRICS_HTTP_CODES];

enum server_metrics_status {
    SERVER_METRICS_STATUS_OK,      /* answered */
    SERVER_METRICS_STATUS_REFUSED, /* the engine refused a batch: the client was evicted */
    SERVER_METRICS_STATUS_FAILED,  /* the engine stopped: no answer */
    SERVER_METRICS_STATUS_COUNT,
};

struct server_histogram {
    const double *bounds; /* upper bounds, ascending */
    u32 bound_count;
    u64 buckets[SERVER_METRICS_BUCKETS_MAX]; /* observations <= bounds[i] (not cumulative) */
    u64 count;
    double sum;
};

/* Counters the loop keeps; read by /metrics. */
struct server_metrics {
    u64 requests[SERVER_METRICS_OPERATIONS][SERVER_METRICS_STATUS_COUNT];
    u64 evictions[CLIENT_EVICTION_REASON_COUNT];
    u64 connections_refused; /* closed at accept: too many */
    u64 http_connections_refused;
    u64 http_responses[SERVER_METRICS_HTTP_CODES]; /* by server_metrics_http_codes */
    struct server_histogram batch_events;    /* events in each batch of a request body */
    struct server_histogram commit_requests; /* engine requests in each engine batch */
    struct server_histogram commit_latency;  /* seconds from begin to replies released */
};

struct server;
struct server_batch;
struct server_http;

/* server_metrics.c */
void server_metrics_init(struct server_metrics *metrics);
void server_histogram_observe(struct server_histogram *histogram, double value);
/* Counts an answer of the HTTP port. */
void server_metrics_http_response(struct server_metrics *metrics, u32 code);
/* An engine batch's replies are released (or, with an error, dropped): its latency, its size
 * and each of its requests by operation and status. */
void server_metrics_batch_finished(struct server *server, const struct server_batch *batch,
                                   khorgos_error error);
/* The /metrics page: every metric with its HELP and TYPE lines. NULL when out of memory;
 * *bytes its length. The caller frees it. */
char *server_metrics_render(struct server *server, u32 *bytes);

/* server_http.c */
/* Binds and listens on `address` (loopback only: the port speaks plaintext), each connection
 * closed `timeout_ms` after it was accepted (0: SERVER_HTTP_TIMEOUT_MS); invalid_argument or
 * io with an event=refused line. */
khorgos_error server_http_start(struct server *server, const char *address, u32 timeout_ms);
/* Whether a handle is the HTTP port's (the listener, a connection, its timer). */
bool server_http_owns(const struct server *server, const uv_handle_t *handle);
/* Closes the listener and every connection (the loop then runs their close callbacks). */
void server_http_close(struct server *server);
/* After the loop ended: frees what is left. */
void server_http_free(struct server *server);
/* Ready: the data directory is recovered, requests are served, and the server is not
 * stopping (what /ready and khorgos_ready say). */
bool server_http_ready(const struct server *server);
/* The answer to one whole request (its bytes up to and including the blank line), for the
 * tests as well: the status code, *body (malloc'd, NULL when none), its length and content
 * type, and *head for a HEAD request (the body's length is sent, not the body). */
u32 server_http_answer(struct server *server, const char *request, u32 bytes, char **body,
                       u32 *body_bytes, const char **type, bool *head);

#endif /* KHORGOS_SERVER_HTTP_H */
