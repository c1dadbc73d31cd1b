/*
 * server_private.h: what the server's files share: the connection, the job (one request
 * waiting for the engine) and the server itself. server_loop.c owns the loop, connections and
 * framing; server_request.c the handling of each message, the jobs and their replies.
 */
#ifndef KHORGOS_SERVER_PRIVATE_H
#define KHORGOS_SERVER_PRIVATE_H

#include "engine/engine.h"
#include "khorgos_iso20022.h"
#include "server/server.h"
#include "server/server_http.h"

#include <uv.h>

/* Bytes a connection's receive buffer starts with; it grows to a message's size. */
#define SERVER_RECEIVE_BYTES_MIN (64u * 1024u)

struct server;
struct server_replica;    /* a replica's raft and its proposals (server_replica.c) */
struct cluster_replica;   /* src/cluster/cluster_replica.h */
struct server_tls;        /* the TLS configuration: OpenSSL's context (server_tls.c) */
struct server_tls_stream; /* one connection's TLS state over memory BIOs (server_tls.c) */

/* A client (session) a connection carries, and the notifications sent to it there. */
struct server_connection_client {
    u128 client;
    u64 notifications;
};

struct server_connection {
    uv_tcp_t tcp; /* first: libuv hands back the handle */
    struct server *server;
    u64 id;
    struct server_tls_stream *tls; /* NULL for plaintext */
    struct server_identity identity;
    bool established; /* plaintext from accept; TLS once the handshake and identity passed */
    u64 opened_ms;    /* uv_now at accept: the handshake timeout counts from it */
    u64 active_ms;    /* uv_now at the last whole message: the idle timeout counts from it */
    u8 *buffer;
    u32 buffer_capacity;
    u32 buffer_filled;
    u32 jobs_pending; /* jobs holding this connection: it is freed after the last */
    struct server_connection_client clients[SERVER_CONNECTION_CLIENTS_MAX];
    u32 client_count;
    bool closing;
    bool closed;
    /* The server's list of open connections: a replica's loop also holds raft's TCP handles,
     * which the server's walks over the loop's handles must leave alone. */
    struct server_connection *listed_prev;
    struct server_connection *listed_next;
};

/* A request waiting for the engine: each batch of its body is one engine request, at
 * requests[request_first ..] of its engine batch. */
struct server_job {
    struct server_job *next;
    struct server_connection *connection;
    struct client_header request;
    /* Both in the job's own allocation, after it: */
    u8 *body; /* a copy: the engine requests point into it */
    struct khorgos_client_request *clients; /* one per engine request: the client, its batch */
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
    u64 begun_ns; /* uv_hrtime() at khorgos_execute_begin, for the commit latency */
};

struct server {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_check_t check;
    uv_signal_t signal_term;
    uv_signal_t signal_interrupt;
    uv_signal_t signal_hangup; /* reloads the TLS certificates and CRL */
    uv_timer_t sweep;          /* drops connections past their handshake or idle timeout */
    struct server_tls *tls;    /* NULL: plaintext on loopback */
    u32 connections_max;
    u32 handshake_timeout_ms;
    u32 idle_timeout_ms;
    u32 notify_unsent_bytes_max; /* a connection with more unsent is closed at a notification */
    struct khorgos *engine;
    u128 cluster;
    struct server_replies replies; /* built from the engine's session table */
    uv_idle_t idle; /* active while a batch is begun: the loop polls without blocking */
    struct server_batch batches[2];
    struct server_batch *queued; /* jobs read since the last begin */
    struct server_batch *flying; /* begun, not yet known durable; empty when none */
    /* Client -> its jobs queued or in flight (server_execute.c), so that a request's "one in
     * flight per client" check costs one lookup, not a walk of both batches' jobs. Reserved at
     * the first job, doubled when full. */
    struct base_id_map jobs_by_client;
    u32 connection_count;
    u64 connection_next;
    u64 engine_batches;  /* khorgos_execute calls */
    u64 engine_requests; /* engine requests (batches of bodies) they executed */
    bool stopping;
    bool closing_all;
    khorgos_error failure; /* the engine's, when it stopped */
    struct server_metrics metrics; /* counters for /metrics (server_metrics.c) */
    struct server_http *http;      /* the HTTP port, NULL when off (server_http.c) */
    struct server_replica *replica; /* NULL: a single node */
    struct server_connection *connections; /* open ones, unclosed (connection_on_close) */
    struct server_gateway *gateway; /* the ISO 20022 gateway, opened at first use */
    struct server_notify *notify;   /* followed payments and subscriptions, at first use */
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
/* Writes `bytes` (malloc'd; ownership passes) to the socket as they are. */
void server_connection_write(struct server_connection *connection, u8 *bytes, u32 size);
/* Handles every whole message at the front of the connection's buffer. */
void server_connection_parse(struct server_connection *connection);

/* server_tls.c */
/* Loads the certificate, key, CA and CRL into a TLS 1.3 server context that requires a client
 * certificate; invalid_argument with the reason logged when one does not load. */
khorgos_error server_tls_open(const struct server_options *options, struct server_tls **tls);
void server_tls_close(struct server_tls *tls);
/* Loads the same files again for new handshakes (SIGHUP); on failure keeps the old ones.
 * Logs either way. */
void server_tls_reload(struct server_tls *tls);
/* Starts a connection's TLS state; false when out of memory. */
bool server_tls_accept(struct server_tls *tls, struct server_connection *connection);
void server_tls_free(struct server_connection *connection);
/* `count` bytes of ciphertext were read to the connection's buffer at buffer_filled: runs the
 * handshake, checks the identity, decrypts what it can and parses the messages. */
void server_tls_receive(struct server_connection *connection, u32 count);
/* Encrypts and writes a message. */
void server_tls_send(struct server_connection *connection, const void *bytes, u32 size);

/* server_request.c */
/* Handles one whole message (header decoded, body checked). */
void server_message_handle(struct server_connection *connection,
                           const struct client_header *header, const u8 *body);
/* Begins the queued batch, if any, and sends the replies of the batch before it once it is
 * durable; with nothing queued, waits for the batch in flight and sends its replies. */
void server_jobs_execute(struct server *server);
void server_batch_init(struct server_batch *batch);
/* Sends the replies of a batch whose requests are done (none when `error` is not ok: the
 * engine failed, or a replica did not commit it) and empties it. */
void server_batch_finish(struct server *server, struct server_batch *batch, khorgos_error error);
/* Whether the client has a job queued or executing: its one request in flight. */
bool server_client_in_flight(const struct server *server, u128 client);
/* Counts a job of the client's being queued (false: out of memory, nothing counted). */
bool server_client_job_add(struct server *server, u128 client);
void server_client_jobs_free(struct server *server);
/* The engine stopped (a write or sync of the data directory failed): logs what failed, keeps
 * the error and stops the server (SIGTERM), answering nothing more. */
void server_engine_stopped(struct server *server, khorgos_error error);
/* A reply to a Khorgos operation that its session does not record (a refusal by the engine's
 * validation): `body_bytes` of body, the error in its error byte; sent, not
 * kept. The client gives its next request the same number. */
void server_reply_unrecorded(struct server_connection *connection,
                             const struct client_header *request, const void *body,
                             u32 body_bytes, u64 timestamp, khorgos_error error);

/* server_replica.c: a replica of a cluster (docs/replication.md). The server calls these only
 * when server->replica is set, which it is only with options->replica_addresses. */
/* Reads the directory's identity, checks it against the options and starts raft on the loop
 * over the open engine, which the replica then owns. On failure (logged) the engine is closed
 * and server->engine is NULL. */
khorgos_error server_replica_start(struct server *server, const struct server_options *options);
/* Instead of the engine: proposes the queued batch (the leader), or drops it (a follower). */
void server_replica_execute(struct server *server);
/* Whether this replica takes client requests: the leader, once its term's barrier applied. */
bool server_replica_serving(const struct server *server);
/* Whether this replica answers a client's ping: when it serves, or when it follows a leader
 * it knows. Its pong's view then names a replica that serves or leads, so a client that
 * sends its requests only where a pong named the replica itself never waits on a follower, a
 * leaderless replica or a leader before its barrier (docs/replication.md, "Clients"). */
bool server_replica_answers_ping(const struct server *server);
/* Sets a reply's, pong's or eviction's view and replica index (and its header checksum) to
 * the replica's. */
void server_replica_stamp(const struct server *server, void *message);
/* Once stopping: closes raft (once); server_replica_closed says when it is closed. */
void server_replica_stop(struct server *server);
bool server_replica_closed(const struct server *server);
/* The replica's raft and state machine (raft's term, commit and applied indexes, the leader),
 * for status and metrics; read only, on the loop's thread. */
struct cluster_replica *server_replica_cluster(struct server *server);
/* After the loop ended: frees the replica and closes its engine; server->engine is NULL. */
void server_replica_free(struct server *server);
/* server_membership.c: an operator's membership request, answered outside the session's
 * record: forbidden to any other role, then invalid_operation on a single node, else the
 * leader's step (cluster_membership.h) and the configuration. */
void server_membership_request(struct server_connection *connection,
                               const struct client_header *header, const u8 *body);
/* From the replica's timer: true, once, when this replica, having been in the configuration,
 * is out of it (removed); it logs so. */
bool server_membership_removed(struct server *server);
/* The engine's actor for a connection's identity: the engine authorizes each request by it. */
struct khorgos_actor server_request_actor(const struct server_identity *identity);

/* server_gateway.c */
struct server_gateway {
    struct khorgos_gateway *gateway;
    u8 *reply; /* SERVER_GATEWAY_REPLY_BYTES */
};
/* The reply buffer: the largest statement (larger than a message's body) after a result. */
#define SERVER_GATEWAY_REPLY_BYTES (KHORGOS_STATEMENT_BYTES_MAX + CLIENT_MESSAGE_RESULT_BYTES)
/* submit_message, get_message_status or get_statement: executes every request read before it,
 * then runs the gateway as the connection's identity and answers (not recorded). */
void server_gateway_request(struct server_connection *connection,
                            const struct client_header *header, const u8 *body);
/* The gateway, opened at the first use; NULL when out of memory. */
struct server_gateway *server_gateway_get(struct server *server);
/* Whether a gateway's error means the engine stopped. */
bool server_gateway_engine_stopped(khorgos_error error);
void server_gateway_free(struct server *server);

/* server_notify.c */
/* Takes the client into the connection's set (a slot is kept for the connection's life);
 * false when the set is full. */
bool server_connection_client_add(struct server_connection *connection, u128 client);
/* Follows the payments the gateway's last submit_message submitted, for `identity` and the
 * submitting `client`. */
void server_notify_watch(struct server *server, const struct server_identity *identity,
                         u128 client);
/* subscribe_entries (231): camt.054 of a settlement account for the session, as its entries
 * happen; answered, not recorded. */
void server_notify_subscribe(struct server_connection *connection,
                             const struct client_header *header, const u8 *body);
/* Once what the engine applied is durable: pushes the statuses that changed and the
 * subscribed accounts' new entries. Does nothing when the engine's state did not change. */
void server_notify_poll(struct server *server);
void server_notify_free(struct server *server);


#endif /* KHORGOS_SERVER_PRIVATE_H */
