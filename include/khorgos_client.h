/*
 * khorgos_client.h: the C client of a Khorgos server (libkhorgos_client, static and shared).
 *
 * A client opens a session with the server (`register`) and sends requests over TigerBeetle's
 * client protocol (docs/protocol.md): the ledger operations with TigerBeetle's codes (140..147)
 * and Khorgos's own with theirs (192..255: the settlement operations keep the engine's codes,
 * 200..230; 192 moves a manual clock; 240..243 are the ISO 20022 gateway's, below). A
 * request's body is the engine's records back to back, as khorgos_execute takes them
 * (include/khorgos.h), and its reply the engine's reply records.
 * For TigerBeetle's operations the library wraps the records into a one-batch multi-batch body
 * and unwraps the reply, and create results carry TigerBeetle 0.17's status numbers.
 *
 * Threads. Each client runs one thread of its own, a poll(2) loop on its connection; every
 * function here may be called from any thread, and completion and notification callbacks run
 * on the client's thread (a callback must not block; it may submit).
 *
 * Exactly once. One request is in flight per client; the others wait in order. A request keeps
 * its request number and bytes until it is answered: after a dropped connection the client
 * connects to the next address and sends the same bytes again, so the server answers a retry
 * with the original reply and applies nothing twice.
 *
 * TLS. With the options' certificate, key and CA, every connection is TLS 1.3 with both sides
 * authenticated; a handshake that fails counts as a failed connection (the next address).
 *
 * Timeouts. A request not answered within `request_timeout_ns` of its submission completes with
 * KHORGOS_ERROR_timeout. If it was already sent, the client keeps sending it until the server
 * answers (its number must be answered before the next), drops that answer, then goes on.
 */
#ifndef KHORGOS_CLIENT_PUBLIC_H
#define KHORGOS_CLIENT_PUBLIC_H

#include "khorgos.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Addresses given to one client at most (one per replica of a cluster). */
#define KHORGOS_CLIENT_ADDRESSES_MAX 16u
/* Wire operation codes of TigerBeetle's ledger operations (docs/protocol.md). */
#define KHORGOS_CLIENT_LOOKUP_ACCOUNTS 140u
#define KHORGOS_CLIENT_LOOKUP_TRANSFERS 141u
#define KHORGOS_CLIENT_GET_ACCOUNT_TRANSFERS 142u
#define KHORGOS_CLIENT_GET_ACCOUNT_BALANCES 143u
#define KHORGOS_CLIENT_QUERY_ACCOUNTS 144u
#define KHORGOS_CLIENT_QUERY_TRANSFERS 145u
#define KHORGOS_CLIENT_CREATE_ACCOUNTS 146u
#define KHORGOS_CLIENT_CREATE_TRANSFERS 147u
/* Khorgos's advance_clock: body a uint64_t of nanoseconds, reply a uint64_t (the new time). */
#define KHORGOS_CLIENT_ADVANCE_CLOCK 192u
/* The ISO 20022 gateway's operations (include/khorgos_iso20022.h, docs/protocol.md):
 * submit_message, body the XML, reply a struct khorgos_message_result then the reply's XML;
 * get_message_status, body a struct khorgos_message_status_request, reply as submit_message's;
 * get_statement, body a struct khorgos_statement_request, reply the XML; subscribe_entries,
 * body a BIC (12 bytes, NUL-padded) and a uint32_t currency, no reply body. */
#define KHORGOS_CLIENT_SUBMIT_MESSAGE 240u
#define KHORGOS_CLIENT_GET_MESSAGE_STATUS 241u
#define KHORGOS_CLIENT_GET_STATEMENT 242u
#define KHORGOS_CLIENT_SUBSCRIBE_ENTRIES 243u
/* A cluster's membership change, the operator's only (docs/replication.md, "Membership"): body
 * 16 bytes (u32 action: 1 add, 2 remove; u32 replica; u32 generation; u32 zero), reply 16 bytes
 * per server of the configuration (u32 replica, u32 generation, u32 raft role, u32 zero). */
#define KHORGOS_CLIENT_CLUSTER_MEMBERSHIP 244u
/* Notification kinds (on_notification): a pacs.002 with a later status of a payment this
 * participant (or, for the operator, this client) submitted by message; a camt.054 of an
 * account the client subscribed to. */
#define KHORGOS_CLIENT_NOTIFICATION_PAYMENT_STATUS 1u
#define KHORGOS_CLIENT_NOTIFICATION_ACCOUNT_ENTRIES 2u

struct khorgos_client;

struct khorgos_client_options {
    /* "HOST:PORT[,HOST:PORT...]" (IPv4 addresses) or "PORT" for 127.0.0.1:PORT; a cluster's
     * replicas all, best in replica order: the client follows the leader from the views in
     * the replicas' pongs (docs/replication.md, "Clients"). */
    const char *addresses;
    khorgos_u128 cluster;
    /* 0: wait for an answer as long as it takes. */
    uint64_t request_timeout_ns;
    /* A connection attempt longer than this moves on to the next address; 0: one second. */
    uint64_t connect_timeout_ns;
    /* While a request waits, the client pings its replica every eighth of this; without a
     * pong naming the replica the leader, or a reply, for this long it moves to the next
     * address; a request its leader has not answered after this is sent again; 0: one
     * second. A connection that fails moves to the next address at once, but after a quarter
     * of this once every address has failed in turn (or the address could not be reached). */
    uint64_t retry_ns;
    /* Optional: called for each notification the server pushes (docs/protocol.md,
     * "notification"); the body is valid during the call only. */
    void (*on_notification)(void *context, uint32_t kind, uint64_t sequence, const void *body,
                            uint32_t body_size);
    void *context;
    /* Mutual TLS 1.3 (OpenSSL): this client's certificate chain and key, and the CA that signed
     * the server's certificate, PEM files, all three or none (invalid_argument, as for files
     * that do not load). The server's certificate must name the IP address connected to. */
    const char *tls_cert;
    const char *tls_key;
    const char *tls_ca;
};

struct khorgos_client_call {
    uint8_t operation;        /* a wire operation code (above, or an engine settlement code) */
    uint32_t body_size;       /* bytes of records; at most KHORGOS_MESSAGE_BODY_BYTES_MAX */
    const void *body;         /* kept by the caller until the callback */
    void *reply;              /* the caller's buffer, kept until the callback */
    uint32_t reply_capacity;  /* bytes */
    uint32_t reply_size;      /* out: bytes of reply records */
    uint64_t timestamp;       /* out: the reply header's timestamp */
    khorgos_error error;      /* out: ok; the engine's refusal (nothing applied); timeout,
                               * evicted (the server ended the session: the client stops),
                               * client_closed, reply_too_small, invalid_argument */
    void (*callback)(struct khorgos_client_call *request); /* on the client's thread */
    void *user_data;
    /* The library's own; not to be touched while the request is submitted. */
    struct khorgos_client_call *next_internal;
    uint64_t deadline_ns_internal;
};

/* Starts a client: parses the addresses, chooses a random client id and starts its thread (the
 * connection and register happen there, at the first request). invalid_argument for bad
 * addresses or TLS options; out_of_memory. */
khorgos_error khorgos_client_open(struct khorgos_client **client,
                                  const struct khorgos_client_options *options);
/* Stops the thread and closes the connection; requests not yet answered complete with
 * client_closed first. */
void khorgos_client_close(struct khorgos_client *client);
/* Queues a request; its callback is called once, on the client's thread. ok, or (without
 * calling the callback) invalid_argument for a body over the limit or an operation the client
 * does not send, client_closed or evicted when the client stopped. */
khorgos_error khorgos_client_submit(struct khorgos_client *client,
                                    struct khorgos_client_call *request);
/* Submits and waits for the answer: returns request->error. */
khorgos_error khorgos_client_execute(struct khorgos_client *client,
                                     struct khorgos_client_call *request);
/* The client's random id (the session's key on the server). */
khorgos_u128 khorgos_client_id(const struct khorgos_client *client);
/* The checksum of the protocol (AEGIS-128L's tag with a zero key and nonce, little-endian), for
 * other languages' clients. */
void khorgos_client_checksum(const void *bytes, size_t size, uint8_t checksum[16]);

#ifdef __cplusplus
}
#endif

#endif /* KHORGOS_CLIENT_PUBLIC_H */
