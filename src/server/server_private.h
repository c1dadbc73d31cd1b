/*
 * server_private.h: what the server's files share: the connection, the job (one request
 * waiting for the engine) and the server itself. server_loop.c owns the loop, connections and
 * framing; server_request.c the handling of each message, the jobs and their replies.
 */
#ifndef KHORGOS_SERVER_PRIVATE_H
#define KHORGOS_SERVER_PRIVATE_H

#include "server/server.h"

#include <uv.h>

/* Bytes a connection's receive buffer starts with; it grows to a message's size. */
#define SERVER_RECEIVE_BYTES_MIN (64u * 1024u)

struct server;

struct server_connection {
    uv_tcp_t tcp; /* first: libuv hands back the handle */
    struct server *server;
    u64 id;
    u8 *buffer;
    u32 buffer_capacity;
    u32 buffer_filled;
    u32 jobs_pending; /* jobs holding this connection: it is freed after the last */
    bool closing;
    bool closed;
};

/* A request waiting for the engine: each batch of its body is one engine request, at
 * requests[request_first ..] of its engine batch. */
struct server_job {
    struct server_job *next;
    struct server_connection *connection;
    struct client_header request;
    u8 *body; /* a copy: the engine requests point into it */
    u32 request_first;
    u32 request_count;
};

/* One engine batch: the jobs of every connection, their engine requests, and the ticket of
 * khorgos_execute_begin once begun. */
struct server_batch {
    struct server_job *jobs_head;
    struct server_job **jobs_tail;
    struct khorgos_request *requests;
    u32 requests_count;
    u32 requests_capacity;
    u64 ticket;
};

struct server {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_check_t check;
    uv_signal_t signal_term;
    uv_signal_t signal_interrupt;
    struct khorgos *engine;
    u128 cluster;
    struct server_sessions sessions;
    uv_idle_t idle; /* active while a batch is begun: the loop polls without blocking */
    struct server_batch batches[2];
    struct server_batch *queued; /* jobs read since the last begin */
    struct server_batch *flying; /* begun, not yet known durable; empty when none */
    u32 connection_count;
    u64 connection_next;
    u64 op;             /* the last op number given (register or request) */
    u64 engine_batches;  /* khorgos_execute calls */
    u64 engine_requests; /* engine requests (batches of bodies) they executed */
    bool stopping;
    bool closing_all;
    khorgos_error failure; /* the engine's, when it stopped */
};

/* server_loop.c */
/* The idle handle's callback: nothing; an active idle handle keeps the loop from blocking. */
void server_on_idle(uv_idle_t *idle);
void server_log(const char *format, ...) __attribute__((format(printf, 1, 2)));
void server_connection_close(struct server_connection *connection, const char *reason);
/* Writes a copy of `bytes` to the connection (nothing once it is closing). */
void server_connection_send(struct server_connection *connection, const void *bytes,
                            u32 size);
/* A job of the connection is done: frees the connection if it closed meanwhile. */
void server_connection_job_done(struct server_connection *connection);

/* server_request.c */
/* Handles one whole message (header decoded, body checked). */
void server_message_handle(struct server_connection *connection,
                           const struct client_header *header, const u8 *body);
/* Begins the queued batch, if any, and sends the replies of the batch before it once it is
 * durable; with nothing queued, waits for the batch in flight and sends its replies. */
void server_jobs_execute(struct server *server);
void server_batch_init(struct server_batch *batch);
/* The engine stopped (a write or sync of the data directory failed): logs what failed, keeps
 * the error and stops the server (SIGTERM), answering nothing more. */
void server_engine_stopped(struct server *server, khorgos_error error);
/* Seals a reply message (header in front of its body), stores it in the session and sends it
 * (when the connection is not NULL). */
void server_reply_finish(struct server_connection *connection, struct server_session *session,
                         struct client_header *reply, u8 *message);

/* server_clock.c */
/* advance_clock (Khorgos's operation 192, with `--clock manual`): executes every request read
 * before it, then moves the engine's clock and answers with the clock's new time. */
void server_clock_advance(struct server_connection *connection,
                          const struct client_header *header, const u8 *body);

#endif /* KHORGOS_SERVER_PRIVATE_H */
