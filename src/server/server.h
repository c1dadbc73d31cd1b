/*
 * server: `khorgos start`, the network server. It serves TigerBeetle 0.17's client protocol
 * (src/client/, docs/protocol.md) over TCP on a libuv event loop, in plaintext on a loopback
 * address, and drives the engine (include/khorgos.h) on that same one thread.
 *
 * Design notes
 *
 * 1. Framing. A connection's bytes are read into its buffer; a message is handled once its
 *    256-byte header and then its whole body are in. A header or body that fails its checksum,
 *    names another cluster or breaks a field rule closes the connection, with the reason logged.
 *
 * 2. Sessions follow TigerBeetle's replica. The table is the engine's (engine_session.c:
 *    journaled, snapshotted, in the state digest), so it survives a restart: `register` is an
 *    engine request that opens a session numbered by its journal sequence; one request in
 *    flight per client (a job of the client queued or executing); a retry of the latest
 *    request (same number and checksum) gets the reply rebuilt from the engine's table, byte
 *    for byte the first answer, and applies nothing twice; the rules for older sessions,
 *    releases and parents are docs/protocol.md's (server_session.c). Registering past the
 *    table's bound evicts the session whose latest reply is oldest.
 *
 * 3. Group commit across connections. A request that passes its session's checks becomes a
 *    job; jobs wait in a queue until the loop has read everything that is readable, then the
 *    loop's check phase hands all of them, from every connection, to one engine batch (each
 *    batch of a multi-batch body is one engine request) with khorgos_execute_begin. While that
 *    batch is written and synced by the journal's thread, the loop goes on reading without
 *    blocking; the next batch is begun (applied) before the replies of the one in flight are
 *    released, which happens only once khorgos_execute_wait says it is durable. Two batches are
 *    in flight at most, the engine's pipeline.
 *
 * 4. Transport and identity (server_tls.c). With TLS options every connection is TLS 1.3 with
 *    a client certificate that chains to the configured CA and is not revoked by the CRL;
 *    OpenSSL runs on memory BIOs (libuv reads and writes the socket, OpenSSL never touches
 *    it). The connection's identity is the certificate subject's CN: a BIC (normalised as the
 *    engine normalises BICs) or a role name. Without TLS options the server serves plaintext
 *    on a loopback address only, and each connection acts as the operator. SIGHUP reloads the
 *    certificates and the CRL for new handshakes.
 *
 * 5. Limits. Connections are bounded (connections_max); a TLS handshake must finish within
 *    handshake_timeout_ms, and a connection must deliver a whole message within
 *    idle_timeout_ms of its last one (or of its start) unless a request of it is executing,
 *    so a client that sends a partial header and stops is dropped.
 *
 * 6. Translation (server_translate.c). The records (accounts, transfers, ids, filters,
 *    balances, create results) are byte-identical to TigerBeetle's; the operation codes and the
 *    create results' status numbers differ, and are translated at this edge.
 *
 * 7. ISO 20022 and notifications (server_gateway.c, server_notify.c). submit_message,
 *    get_message_status and get_statement run in a gateway the server opens, with the
 *    connection's identity as the actor, as barriers the session does not record (the
 *    gateway's idempotency makes a retry safe). The payments a session submitted by message
 *    and the accounts sessions subscribed to are followed in memory; once what the engine
 *    applied is durable, their changes are pushed as notifications to the sessions the
 *    connections carry (at most SERVER_CONNECTION_CLIENTS_MAX clients a connection).
 *
 * 8. Opening. The data directory is opened (recovered) on a thread of libuv's pool while the
 *    loop runs, so the HTTP port (server_http.h) answers /health, and /ready says 503, during
 *    a long recovery; client connections accepted meanwhile are held, unread, until the open
 *    returns. The engine is used only on the loop's thread from then on.
 */
#ifndef KHORGOS_SERVER_H
#define KHORGOS_SERVER_H

#include "base/base.h"
#include "client/client.h"
#include "engine/engine.h"

/* Reply messages kept built (server_session.c): one per slot of the engine's table, so at most
 * 1 GiB when every latest reply is full, as much as the table's own replies; each is allocated
 * at the size of the largest reply its slot held (a few hundred bytes for a single transfer),
 * and reused by the slot's next replies. */
#define SERVER_REPLIES_MAX ENGINE_SESSIONS_MAX
/* Connections open at once by default (--max-connections): each holds a receive buffer that
 * grows to one message (1 MiB), so this bounds that memory; more are refused at accept. */
#define SERVER_CONNECTIONS_MAX 1024u
/* The largest --max-connections: 64 GiB of receive buffers at worst, and far beyond the file
 * descriptors a process is usually given. */
#define SERVER_CONNECTIONS_OPTION_MAX 65536u
/* A TLS handshake must finish within this (--handshake-timeout-ms): a client that opens a
 * connection and never completes the handshake holds a slot and memory. */
#define SERVER_HANDSHAKE_TIMEOUT_DEFAULT_MS 10000u
/* A connection must deliver a whole message within this of its last one (--idle-timeout-ms),
 * unless a request of it is executing: a slow-loris client is dropped. An idle TigerBeetle
 * client pings often enough to keep its connection with a 40 s timeout (Node 0.17.9), and one
 * whose connection was closed connects again for its next request. */
#define SERVER_IDLE_TIMEOUT_DEFAULT_MS 300000u
/* The largest timeout either option takes (one day). */
#define SERVER_TIMEOUT_OPTION_MAX_MS 86400000u
/* Bytes of a connection's identity, NUL-padded: a BIC normalised to 11 characters, or a role
 * name; the journal record's actor field holds it (STORAGE_ACTOR_BYTES). */
#define SERVER_IDENTITY_BYTES 16u
/* Clients (sessions) one connection may carry at once, so that a client library can pipeline
 * several over one connection; each takes a slot with its notifications' sequence. A
 * connection that brings one more is closed: it bounds what one connection holds. */
#define SERVER_CONNECTION_CLIENTS_MAX 8u
/* Payments submitted by message whose later status the server follows to push it (one
 * lookup_payments request covers them all); past this, a new payment is not followed (logged)
 * and its sender reads its status with get_message_status. */
#define SERVER_WATCHES_MAX 4094u
/* Subscriptions to camt.054 notifications, all sessions together: each costs a statement
 * query whenever the engine's state changed. */
#define SERVER_SUBSCRIPTIONS_MAX 64u
/* A connection's bytes written and not yet taken by the socket, past which a notification
 * closes it: a client too slow to read its notifications is dropped rather than allowed to
 * grow the server's memory. */
#define SERVER_NOTIFY_UNSENT_BYTES_MAX (8u << 20)
/* The default listening address and port (TigerBeetle's clients take a bare port too). */
#define SERVER_ADDRESS_DEFAULT "127.0.0.1:4120"

struct server_options {
    const char *data_directory; /* its superblock names the cluster served */
    const char *address;        /* "HOST:PORT", "[HOST]:PORT" or "PORT" */
    bool clock_manual;
    /* Makes the engine's reserved memory resident at open, before replay (--memory resident,
     * khorgos_open_options.memory_prefault). */
    bool memory_resident;
    /* TLS: all three PEM files, or none (plaintext on loopback); the CRL is optional. */
    const char *tls_cert;
    const char *tls_key;
    const char *tls_ca;
    const char *tls_crl;
    u32 connections_max;      /* 0: SERVER_CONNECTIONS_MAX */
    u32 handshake_timeout_ms; /* 0: SERVER_HANDSHAKE_TIMEOUT_DEFAULT_MS */
    u32 idle_timeout_ms;      /* 0: SERVER_IDLE_TIMEOUT_DEFAULT_MS */
    const char *http_address; /* the HTTP port (server_http.h), NULL when off */
    u32 http_timeout_ms;      /* 0: SERVER_HTTP_TIMEOUT_MS (tests take a shorter one) */
    /* A replica of a cluster (docs/replication.md): every replica's client address,
     * comma-separated, and this one's index among them; NULL for a single node. */
    const char *replica_addresses;
    u32 replica;
    u32 election_timeout_ms; /* a replica's raft election timeout; 0: CLUSTER_ELECTION_TIMEOUT_MS */
    u32 snapshot_log_bytes;  /* a replica's raft snapshot interval; 0: CLUSTER_SNAPSHOT_LOG_BYTES */
    u32 notify_unsent_bytes_max; /* 0: SERVER_NOTIFY_UNSENT_BYTES_MAX (tests take less) */
    /* Called on the thread that opens the data directory, just before the open (a test holds
     * the server in its recovery with it); NULL for none. */
    void (*before_open)(void *context);
    void *before_open_context;
};

/* Runs the server until SIGTERM or SIGINT; returns ok after a clean stop. Writes one
 * key=value line per event on stderr. invalid_argument (with the reason on stderr) for an
 * address that is not a loopback address. */
khorgos_error server_run(const struct server_options *options);

/* Installs the report of a fatal signal for the process (server_crash.c): on SIGSEGV, SIGBUS,
 * SIGILL, SIGFPE or SIGABRT, one `event=crash signal=NAME` line and the backtrace on stderr,
 * then the signal's default action. false, and nothing installed, under AddressSanitizer. */
bool server_crash_report_install(void);

/* Parses "HOST:PORT", "[HOST]:PORT" or "PORT" into a socket address (struct sockaddr_storage),
 * and tells whether it is a loopback address. false with *reason when it does not parse. */
bool server_address_parse(const char *text, void *address_storage, bool *loopback,
                          const char **reason);

/* ----------------------------------------------------------------------------------------- */
/* Sessions (server_session.c): TigerBeetle's rules over the engine's session table.          */

/* A reply message built from the engine's table, kept so that a retry or the next request's
 * parent check does not build it again. */
struct server_reply {
    u128 client; /* 0 when the slot is free */
    u64 session;
    u64 request;
    u8 *message; /* header and body (malloc) */
    u32 bytes;
    u32 capacity; /* of message: a later reply of the slot reuses it when it fits */
};

struct server_replies {
    struct server_reply entries[SERVER_REPLIES_MAX];
    u8 *scratch; /* CLIENT_MESSAGE_BYTES_MAX, where a reply is built (malloc, at first use) */
};

/* What to do with a request from a client. */
enum server_verdict {
    SERVER_VERDICT_EXECUTE, /* run it (a register too: it opens the session when applied) */
    SERVER_VERDICT_RESEND,  /* a retry of the latest request: send the stored reply again */
    SERVER_VERDICT_DROP,    /* ignore it (TigerBeetle's replica drops it too) */
    SERVER_VERDICT_EVICT,   /* send an eviction with the reason */
};

void server_replies_free(struct server_replies *replies);
/* Classifies a decoded request header (body already checked) by TigerBeetle's rules against the
 * engine's table; `in_flight` says whether the client has a request executing. On EVICT,
 * *reason is set. */
enum server_verdict server_session_classify(struct khorgos *engine, struct server_replies *replies,
                                            u128 cluster, const struct client_header *request,
                                            bool in_flight, enum client_eviction_reason *reason);
/* The reply message of the session's latest, whole request: built from the engine's table the
 * same way every time (so a retry gets the first answer byte for byte), and kept. */
const struct server_reply *server_session_reply(struct server_replies *replies, u128 cluster,
                                                const struct engine_session *session);

/* ----------------------------------------------------------------------------------------- */
/* Translation between TigerBeetle's numbers and the engine's (server_translate.c).           */

/* The engine's operation for a TigerBeetle 0.17 ledger operation; 0 when the server does not
 * serve it. */
u32 server_operation_to_engine(u8 operation);
/* The reverse: TigerBeetle's operation for an engine operation the server serves (register
 * included). */
u8 server_operation_from_engine(u32 operation);
/* A create result's status in TigerBeetle's numbering (created is 0xFFFFFFFF). */
u32 server_account_status_to_wire(u32 status);
u32 server_transfer_status_to_wire(u32 status);

/* ----------------------------------------------------------------------------------------- */
/* Identity (server_tls.c).                                                                  */

enum server_role {
    SERVER_ROLE_PARTICIPANT, /* a BIC */
    SERVER_ROLE_OPERATOR,
    SERVER_ROLE_AUDITOR,
    SERVER_ROLE_REPLICA,
};

/* Who a connection acts as. `actor` is what the engine journals as the request's actor. */
struct server_identity {
    enum server_role role;
    char actor[SERVER_IDENTITY_BYTES]; /* NUL-padded: the normalised BIC or the role's name */
};

/* The identity a certificate's common name gives: a BIC of 8 or 11 characters (normalised to
 * 11, as the engine does), or `operator`, `auditor` or `replica`. false with *reason for
 * anything else (a NUL inside the name included). */
bool server_identity_from_name(const char *name, size_t length,
                               struct server_identity *identity, const char **reason);
/* The identity of a plaintext loopback connection: the operator. */
void server_identity_operator(struct server_identity *identity);
const char *server_role_name(enum server_role role);

#endif /* KHORGOS_SERVER_H */
