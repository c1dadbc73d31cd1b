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
 * 4. Translation (server_translate.c). The records (accounts, transfers, ids, filters,
 *    balances, create results) are byte-identical to TigerBeetle's; the operation codes and the
 *    create results' status numbers differ, and are translated at this edge.
 */
#ifndef KHORGOS_SERVER_H
#define KHORGOS_SERVER_H

#include "base/base.h"
#include "client/client.h"
#include "engine/engine.h"

/* Reply messages kept built (server_session.c): one per session of the engine's table, so at
 * most 64 MiB, as much as the table's own replies. */
#define SERVER_REPLIES_MAX ENGINE_SESSIONS_MAX
/* Connections open at once: each holds a receive buffer that grows to one message (1 MiB),
 * so this bounds that memory; more are refused at accept. */
#define SERVER_CONNECTIONS_MAX 1024u
/* The default listening address and port (TigerBeetle's clients take a bare port too). */
#define SERVER_ADDRESS_DEFAULT "127.0.0.1:4120"

struct server_options {
    const char *data_directory; /* its superblock names the cluster served */
    const char *address;        /* "HOST:PORT", "[HOST]:PORT" or "PORT" */
    bool clock_manual;
};

/* Runs the server until SIGTERM or SIGINT; returns ok after a clean stop. Writes one
 * key=value line per event on stderr. invalid_argument (with the reason on stderr) for an
 * address that is not a loopback address. */
khorgos_error server_run(const struct server_options *options);

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
};

struct server_replies {
    struct server_reply entries[SERVER_REPLIES_MAX];
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

#endif /* KHORGOS_SERVER_H */
