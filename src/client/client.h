/*
 * client: TigerBeetle 0.17's client wire protocol (docs/protocol.md): the 256-byte message
 * header with its AEGIS-128L checksums, the commands a client and a server exchange (request,
 * reply, ping_client, pong_client, eviction), the operation codes, the register request and
 * result, and the multi-batch body encoding. This layer stands on base/ only; the network
 * server and the client libraries above it use it for every byte they send or receive.
 *
 * Design notes
 *
 * 1. Structs are the wire. Every message starts with `struct client_header`, whose fields sit
 *    at TigerBeetle's offsets (each checked with _Static_assert below) in little-endian order;
 *    this layer requires a little-endian host, as TigerBeetle does, so a header is copied in
 *    and out with memcpy. The 128 bytes after the common frame are a union, one member per
 *    command.
 *
 * 2. Validation is TigerBeetle's `Header.invalid()` for the client commands: a header is
 *    trusted only after its checksum (bytes 16..255) matches, then every field is checked
 *    (paddings and reserved bytes zero, size within the message limit, protocol 0, epoch 0, the
 *    command-specific rules), and the cluster must be the server's. The body is checked against
 *    `checksum_body` separately, once it has been read. Each refusal names its cause in a
 *    static sentence for the log.
 *
 * 3. Sealing is the reverse: checksum_body over the body, then (for replies) the `context`
 *    field, which is the header's checksum computed while context is zero, then the checksum.
 *
 * 4. Multi-batch bodies (client_multi_batch.c): several independent batches of one operation
 *    share a message. The body is the batches' elements back to back, then a trailer: u16
 *    element counts written from the end backwards (the last u16 before the final one counts
 *    the first batch), padded at its front with 0xFFFF to a whole number of elements, and a
 *    final u16 holding the number of batches. Replies use the same encoding with result
 *    elements, one reply batch per request batch, in order.
 *
 * 5. Khorgos's operations (192..255) carry plain bodies (the engine's records) and their reply
 *    the engine's error in reserved[0]; command 128 is Khorgos's notification.
 *
 * 6. The C client library (client_connection.c, include/khorgos_client.h) stands on this layer
 *    alone, so libkhorgos_client is built from base/ and client/ only; client_tls.c gives it
 *    mutual TLS.
 */
#ifndef KHORGOS_CLIENT_H
#define KHORGOS_CLIENT_H

#include "base/base.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the wire format is little-endian");

/* ----------------------------------------------------------------------------------------- */
/* Limits.                                                                                    */

/* Bytes of a message header: TigerBeetle's. */
#define CLIENT_HEADER_BYTES 256u
/* Bytes of a whole message (header and body): TigerBeetle's production message_size_max, so a
 * full batch of 8,189 128-byte events with its trailer fits, and TigerBeetle's clients agree. */
#define CLIENT_MESSAGE_BYTES_MAX (1u << 20)
/* Bytes of a body: the rest of a message. */
#define CLIENT_BODY_BYTES_MAX (CLIENT_MESSAGE_BYTES_MAX - CLIENT_HEADER_BYTES)
/* Batches in one multi-batch body: a u16 count, 0xFFFF being the padding value. */
#define CLIENT_MULTI_BATCH_COUNT_MAX 65534u
/* The protocol version in every header (TigerBeetle's vsr.Version). */
#define CLIENT_PROTOCOL_VERSION 0u

_Static_assert(CLIENT_BODY_BYTES_MAX ==
                   LIMIT_BATCH_EVENTS_MAX * 128u + 128u /* one-batch trailer of 128-byte events */,
               "a full batch of 128-byte events and its trailer fill one message body");

/* A release number: major.minor.patch as (major << 16) | (minor << 8) | patch. */
#define CLIENT_RELEASE(major, minor, patch)                                                    \
    ((u32)(((u32)(major) << 16) | ((u32)(minor) << 8) | (u32)(patch)))
/* Client releases whose wire format this layer speaks: 0.17.0 introduced multi-batch bodies
 * and results for every created event; 0.17.9 is the newest release tested against. */
#define CLIENT_RELEASE_MIN CLIENT_RELEASE(0, 17, 0)
#define CLIENT_RELEASE_MAX CLIENT_RELEASE(0, 17, 9)
/* The release a Khorgos server states in its pongs and evictions. */
#define CLIENT_RELEASE_SERVER CLIENT_RELEASE_MAX

/* ----------------------------------------------------------------------------------------- */
/* Commands, operations and eviction reasons.                                                 */

/* Commands of TigerBeetle's protocol (vsr.Command). Replica-to-replica commands are listed for
 * completeness; this layer accepts only the client commands and Khorgos's notification. */
enum client_command {
    CLIENT_COMMAND_RESERVED = 0,
    CLIENT_COMMAND_PING = 1,
    CLIENT_COMMAND_PONG = 2,
    CLIENT_COMMAND_PING_CLIENT = 3,
    CLIENT_COMMAND_PONG_CLIENT = 4,
    CLIENT_COMMAND_REQUEST = 5,
    CLIENT_COMMAND_PREPARE = 6,
    CLIENT_COMMAND_PREPARE_OK = 7,
    CLIENT_COMMAND_REPLY = 8,
    CLIENT_COMMAND_COMMIT = 9,
    CLIENT_COMMAND_EXIT_VIEW = 10,
    CLIENT_COMMAND_JOIN_VIEW = 11,
    CLIENT_COMMAND_GET_VIEW = 13,
    CLIENT_COMMAND_GET_HEADERS = 14,
    CLIENT_COMMAND_GET_PREPARE = 15,
    CLIENT_COMMAND_GET_REPLY = 16,
    CLIENT_COMMAND_HEADERS = 17,
    CLIENT_COMMAND_EVICTION = 18,
    CLIENT_COMMAND_GET_BLOCKS = 19,
    CLIENT_COMMAND_BLOCK = 20,
    CLIENT_COMMAND_VIEW = 24,
    /* Khorgos only: a message the server pushes to a client unasked (payment statuses and
     * notifications). TigerBeetle numbers its commands densely from 0 and is at 24, so 128 and
     * above stay clear of it. Fields: struct client_notification_fields; the body is the
     * kind's (enum client_notification_kind). */
    CLIENT_COMMAND_NOTIFICATION = 128,
};

/* Operations (vsr.Operation below 128, TigerBeetle's state machine from 128). */
enum client_operation {
    CLIENT_OPERATION_RESERVED = 0,
    CLIENT_OPERATION_ROOT = 1,
    CLIENT_OPERATION_REGISTER = 2,
    CLIENT_OPERATION_RECONFIGURE = 3,
    CLIENT_OPERATION_VSR_PULSE = 4,
    CLIENT_OPERATION_UPGRADE = 5,
    CLIENT_OPERATION_NOOP = 6,
    /* Operations below this belong to the replication protocol. */
    CLIENT_OPERATION_STATE_MACHINE_FIRST = 128,
    CLIENT_OPERATION_PULSE = 128,
    CLIENT_OPERATION_DEPRECATED_CREATE_ACCOUNTS_UNBATCHED = 129,
    CLIENT_OPERATION_DEPRECATED_CREATE_TRANSFERS_UNBATCHED = 130,
    CLIENT_OPERATION_DEPRECATED_LOOKUP_ACCOUNTS_UNBATCHED = 131,
    CLIENT_OPERATION_DEPRECATED_LOOKUP_TRANSFERS_UNBATCHED = 132,
    CLIENT_OPERATION_DEPRECATED_GET_ACCOUNT_TRANSFERS_UNBATCHED = 133,
    CLIENT_OPERATION_DEPRECATED_GET_ACCOUNT_BALANCES_UNBATCHED = 134,
    CLIENT_OPERATION_DEPRECATED_QUERY_ACCOUNTS_UNBATCHED = 135,
    CLIENT_OPERATION_DEPRECATED_QUERY_TRANSFERS_UNBATCHED = 136,
    CLIENT_OPERATION_GET_CHANGE_EVENTS = 137,
    CLIENT_OPERATION_DEPRECATED_CREATE_ACCOUNTS_SPARSE = 138,
    CLIENT_OPERATION_DEPRECATED_CREATE_TRANSFERS_SPARSE = 139,
    CLIENT_OPERATION_LOOKUP_ACCOUNTS = 140,
    CLIENT_OPERATION_LOOKUP_TRANSFERS = 141,
    CLIENT_OPERATION_GET_ACCOUNT_TRANSFERS = 142,
    CLIENT_OPERATION_GET_ACCOUNT_BALANCES = 143,
    CLIENT_OPERATION_QUERY_ACCOUNTS = 144,
    CLIENT_OPERATION_QUERY_TRANSFERS = 145,
    CLIENT_OPERATION_CREATE_ACCOUNTS = 146,
    CLIENT_OPERATION_CREATE_TRANSFERS = 147,
    /* Khorgos's own operations (settlement, ISO 20022) take 192..255; TigerBeetle numbers its
     * state machine's operations densely from 128 and is at 147. The engine's operations keep
     * their engine codes (200..227); 192 moves a manual clock. Their bodies are plain: the
     * engine's request records back to back, and the reply's the engine's reply records, with
     * the engine's error in the reply header's `reserved[0]` (client_reply_error). */
    CLIENT_OPERATION_KHORGOS_FIRST = 192,
    CLIENT_OPERATION_ADVANCE_CLOCK = 192, /* u64 nanoseconds -> u64 the clock's new time */
    /* The ISO 20022 gateway's operations (docs/protocol.md, "ISO 20022 operations"): their
     * bodies are a message's XML or a request struct of include/khorgos_iso20022.h. */
    CLIENT_OPERATION_SUBMIT_MESSAGE = 240,     /* XML -> result (24) and the reply's XML */
    CLIENT_OPERATION_GET_MESSAGE_STATUS = 241, /* status request (85) -> as submit_message */
    CLIENT_OPERATION_GET_STATEMENT = 242,      /* statement request (40) -> XML */
    /* camt.054 notifications of a settlement account as its entries happen: BIC (12) and
     * currency (u32) -> nothing; for the session, on its connection. */
    CLIENT_OPERATION_SUBSCRIBE_ENTRIES = 243,
    /* An operator's change of a cluster's membership (docs/replication.md, "Membership"):
     * struct cluster_membership_request (16) -> struct cluster_member[] (16 each); answered by
     * the leader, outside the session's record, as the gateway's operations are. */
    CLIENT_OPERATION_CLUSTER_MEMBERSHIP = 244,
    CLIENT_OPERATION_KHORGOS_LAST = 255,
};
/* The reply of submit_message and get_message_status starts with the gateway's result, struct
 * khorgos_message_result as C lays it out: group status (5 bytes with its NUL), reason (5), 2
 * zero bytes, then the transaction, rejected and reply-size counts (u32 each). */
#define CLIENT_MESSAGE_RESULT_BYTES 24u

/* Why a server evicts a client (vsr.Header.Eviction.Reason). */
#define CLIENT_EVICTION_REASONS(X)                                                             \
    X(reserved, 0) X(no_session, 1) X(client_release_too_low, 2)                               \
    X(client_release_too_high, 3) X(invalid_request_operation, 4) X(invalid_request_body, 5)  \
    X(invalid_request_body_size, 6) X(session_too_low, 7) X(session_release_mismatch, 8)

#define CLIENT_EVICTION_ENUM_(name, value) CLIENT_EVICTION_##name = value,
enum client_eviction_reason { CLIENT_EVICTION_REASONS(CLIENT_EVICTION_ENUM_) };
#undef CLIENT_EVICTION_ENUM_
#define CLIENT_EVICTION_REASON_COUNT 9u

/* Names ("create_transfers", "ping_client", "no_session"); NULL when unknown. */
const char *client_operation_name(u8 operation);
const char *client_command_name(u8 command);
const char *client_eviction_reason_name(u8 reason);

/* How TigerBeetle's state machine operations carry events (0 bytes when unknown). */
struct client_operation_shape {
    u32 event_bytes;  /* one event (an account, a transfer, an id, a filter) */
    u32 result_bytes; /* one result */
    bool multi_batch; /* body and reply are multi-batch encoded */
    bool batchable;   /* a batch holds any number of events, else exactly one */
};
/* False for operations that are not TigerBeetle 0.17 state machine operations. */
bool client_operation_shape(u8 operation, struct client_operation_shape *shape);
/* True for Khorgos's own operation codes (192..255), whose bodies are plain. */
bool client_operation_khorgos(u8 operation);
/* Whether the server answers the operation without its session recording it: the ISO 20022
 * operations and subscribe_entries (the client gives its next request the same number). */
bool client_operation_unrecorded(u8 operation);

/* ----------------------------------------------------------------------------------------- */
/* The header.                                                                                */

/* request: a client's request (operation register opens a session). */
struct client_request_fields {
    u128 parent;         /* 0 for register, else the previous reply's `context` */
    u128 parent_padding; /* 0 */
    u128 client;         /* the client's random id, never 0 */
    u64 session;         /* 0 for register, else the register reply's commit number */
    u64 timestamp;       /* 0 (TigerBeetle sets it only when replaying its own log) */
    u32 request;         /* 0 for register, then 1, 2, ...: one in flight per client */
    u8 operation;        /* enum client_operation */
    u8 previous_request_latency_padding[3];
    u32 previous_request_latency; /* microseconds, informative */
    u8 reserved[52];
};

/* reply: the answer to one request. */
struct client_reply_fields {
    u128 request_checksum; /* the request's header checksum */
    u128 request_checksum_padding;
    u128 context; /* this header's checksum computed with context 0: the next request's parent */
    u128 context_padding;
    u128 client;
    u64 op;        /* the request's position in the log */
    u64 commit;    /* equal to op; for register, the new session number */
    u64 timestamp; /* the request's timestamp, never 0 */
    u32 request;   /* the request's number */
    u8 operation;  /* the request's operation */
    u8 reserved[19];
};

/* ping_client: keeps a connection alive and measures round trips. */
struct client_ping_fields {
    u128 client;
    u64 ping_timestamp_monotonic;
    u64 session; /* the client's session, 0 before register's reply (0.17.6 and later) */
    u8 reserved[96];
};

/* pong_client: the server's answer to ping_client. */
struct client_pong_fields {
    u64 ping_timestamp_monotonic; /* copied from the ping */
    u8 reserved[120];
};

/* eviction: the server ends a client's session (the client stops for good). */
struct client_eviction_fields {
    u128 client;
    u8 reserved[111];
    u8 reason; /* enum client_eviction_reason, never reserved */
};

/* notification (Khorgos only): a message the server pushes to one client unasked. */
struct client_notification_fields {
    u128 client;   /* the client it is for, never 0 */
    u64 sequence;  /* from 1, one more for each notification to the client on its connection */
    u32 kind;      /* enum client_notification_kind; 0 is reserved */
    u8 reserved[100];
};

/* What a notification's body holds (docs/protocol.md, "notification"); include/khorgos_client.h
 * gives the same numbers. */
enum client_notification_kind {
    CLIENT_NOTIFICATION_PAYMENT_STATUS = 1, /* a pacs.002: a later status of a payment */
    CLIENT_NOTIFICATION_ACCOUNT_ENTRIES = 2, /* a camt.054: entries of a subscribed account */
};

struct client_header {
    u128 checksum;         /* of bytes 16..255 of this header */
    u128 checksum_padding; /* 0 */
    u128 checksum_body;    /* of the body (size - 256 bytes) */
    u128 checksum_body_padding; /* 0 */
    u128 nonce_reserved;   /* 0 */
    u128 cluster;          /* the cluster id the sender believes it talks to */
    u32 size;              /* header and body, bytes */
    u32 epoch;             /* 0 */
    u32 view;              /* 0 from clients; the server's view (0) in replies */
    u32 release;           /* CLIENT_RELEASE(major, minor, patch) of the sender */
    u16 protocol;          /* CLIENT_PROTOCOL_VERSION */
    u8 command;            /* enum client_command */
    u8 replica;            /* 0 from clients; the answering replica's index */
    u8 reserved_frame[12]; /* 0 */
    union {
        u8 reserved_command[128];
        struct client_request_fields request;
        struct client_reply_fields reply;
        struct client_ping_fields ping;
        struct client_pong_fields pong;
        struct client_eviction_fields eviction;
        struct client_notification_fields notification;
    };
};

_Static_assert(sizeof(struct client_header) == CLIENT_HEADER_BYTES, "header is 256 bytes");
_Static_assert(offsetof(struct client_header, checksum) == 0, "checksum at 0");
_Static_assert(offsetof(struct client_header, checksum_padding) == 16, "at 16");
_Static_assert(offsetof(struct client_header, checksum_body) == 32, "at 32");
_Static_assert(offsetof(struct client_header, checksum_body_padding) == 48, "at 48");
_Static_assert(offsetof(struct client_header, nonce_reserved) == 64, "at 64");
_Static_assert(offsetof(struct client_header, cluster) == 80, "at 80");
_Static_assert(offsetof(struct client_header, size) == 96, "at 96");
_Static_assert(offsetof(struct client_header, epoch) == 100, "at 100");
_Static_assert(offsetof(struct client_header, view) == 104, "at 104");
_Static_assert(offsetof(struct client_header, release) == 108, "at 108");
_Static_assert(offsetof(struct client_header, protocol) == 112, "at 112");
_Static_assert(offsetof(struct client_header, command) == 114, "at 114");
_Static_assert(offsetof(struct client_header, replica) == 115, "at 115");
_Static_assert(offsetof(struct client_header, reserved_frame) == 116, "at 116");
_Static_assert(offsetof(struct client_header, reserved_command) == 128, "at 128");
_Static_assert(offsetof(struct client_header, request.parent) == 128, "at 128");
_Static_assert(offsetof(struct client_header, request.parent_padding) == 144, "at 144");
_Static_assert(offsetof(struct client_header, request.client) == 160, "at 160");
_Static_assert(offsetof(struct client_header, request.session) == 176, "at 176");
_Static_assert(offsetof(struct client_header, request.timestamp) == 184, "at 184");
_Static_assert(offsetof(struct client_header, request.request) == 192, "at 192");
_Static_assert(offsetof(struct client_header, request.operation) == 196, "at 196");
_Static_assert(offsetof(struct client_header, request.previous_request_latency_padding) == 197,
               "at 197");
_Static_assert(offsetof(struct client_header, request.previous_request_latency) == 200,
               "at 200");
_Static_assert(offsetof(struct client_header, request.reserved) == 204, "at 204");
_Static_assert(offsetof(struct client_header, reply.request_checksum) == 128, "at 128");
_Static_assert(offsetof(struct client_header, reply.request_checksum_padding) == 144, "at 144");
_Static_assert(offsetof(struct client_header, reply.context) == 160, "at 160");
_Static_assert(offsetof(struct client_header, reply.context_padding) == 176, "at 176");
_Static_assert(offsetof(struct client_header, reply.client) == 192, "at 192");
_Static_assert(offsetof(struct client_header, reply.op) == 208, "at 208");
_Static_assert(offsetof(struct client_header, reply.commit) == 216, "at 216");
_Static_assert(offsetof(struct client_header, reply.timestamp) == 224, "at 224");
_Static_assert(offsetof(struct client_header, reply.request) == 232, "at 232");
_Static_assert(offsetof(struct client_header, reply.operation) == 236, "at 236");
_Static_assert(offsetof(struct client_header, reply.reserved) == 237, "at 237");
_Static_assert(offsetof(struct client_header, ping.client) == 128, "at 128");
_Static_assert(offsetof(struct client_header, ping.ping_timestamp_monotonic) == 144, "at 144");
_Static_assert(offsetof(struct client_header, ping.session) == 152, "at 152");
_Static_assert(offsetof(struct client_header, ping.reserved) == 160, "at 160");
_Static_assert(offsetof(struct client_header, pong.ping_timestamp_monotonic) == 128, "at 128");
_Static_assert(offsetof(struct client_header, pong.reserved) == 136, "at 136");
_Static_assert(offsetof(struct client_header, eviction.client) == 128, "at 128");
_Static_assert(offsetof(struct client_header, eviction.reserved) == 144, "at 144");
_Static_assert(offsetof(struct client_header, eviction.reason) == 255, "at 255");
_Static_assert(offsetof(struct client_header, notification.sequence) == 144, "at 144");
_Static_assert(offsetof(struct client_header, notification.kind) == 152, "at 152");
_Static_assert(offsetof(struct client_header, notification.reserved) == 156, "at 156");

/* The body of a register request: batch_size_limit is 0 from clients. */
struct client_register_request {
    u32 batch_size_limit;
    u8 reserved[252];
};
/* The body of register's reply: the largest request body the server accepts, in bytes (the
 * client then packs batches up to it). */
struct client_register_result {
    u32 batch_size_limit;
    u8 reserved[60];
};
_Static_assert(sizeof(struct client_register_request) == 256, "register request is 256 bytes");
_Static_assert(sizeof(struct client_register_result) == 64, "register result is 64 bytes");

/* Checks a decoded register request's body: present (a body-less register is a pre-0.16
 * client's, which the server evicts), batch_size_limit 0 and reserved bytes 0, as TigerBeetle's
 * primary asserts; message_invalid with *reason otherwise. */
khorgos_error client_register_body_check(const struct client_header *header, const void *body,
                                         const char **reason);

/* The checksum of bytes 16..255 (everything after the checksum field). */
u128 client_header_checksum(const struct client_header *header);

/* Copies the first CLIENT_HEADER_BYTES of `bytes` into `header` and checks it: the checksum
 * (message_checksum), every field (message_invalid) and the cluster (message_cluster). On an
 * error *reason names the cause (a static sentence). The body is checked separately. */
khorgos_error client_header_decode(const void *bytes, size_t size, u128 cluster,
                                   struct client_header *header, const char **reason);
/* Checks `body` (header->size - CLIENT_HEADER_BYTES bytes) against checksum_body. */
khorgos_error client_body_check(const struct client_header *header, const void *body,
                                const char **reason);
/* Sets checksum_body over `body` (header->size - CLIENT_HEADER_BYTES bytes), then for a reply
 * the context, then the checksum. */
void client_header_seal(struct client_header *header, const void *body);

/* Builders of the server's messages; each leaves the header ready to seal. */
/* A reply to `request` (already decoded) with a body of `body_bytes`, at log position `op`
 * (commit = op; for register, op is the new session number) with the request's `timestamp`. */
void client_reply_init(struct client_header *reply, const struct client_header *request,
                       u64 op, u64 timestamp, u32 body_bytes);
void client_pong_init(struct client_header *pong, const struct client_header *ping);
/* A client's ping_client: its id, its session (0 before register's reply) and its clock. */
void client_ping_init(struct client_header *ping, u128 cluster, u128 client, u64 session,
                      u64 timestamp_monotonic);
void client_eviction_init(struct client_header *eviction, u128 cluster, u128 client,
                          enum client_eviction_reason reason);
/* A reply to one of Khorgos's operations carries the engine's error (khorgos_error, ok when
 * the request was applied) in reserved[0]; TigerBeetle's operations leave it 0. */
void client_reply_error_set(struct client_header *reply, khorgos_error error);
khorgos_error client_reply_error(const struct client_header *reply);
/* A notification of `kind` (enum client_notification_kind) for `client`, the `sequence`-th
 * that client gets on its connection, with a body of `body_bytes`. */
void client_notification_init(struct client_header *notification, u128 cluster, u128 client,
                              u64 sequence, u32 kind, u32 body_bytes);
/* A client's request (for tests and the client libraries). */
void client_request_init(struct client_header *request, u128 cluster, u128 client,
                         u8 operation, u32 body_bytes);

/* ----------------------------------------------------------------------------------------- */
/* Multi-batch bodies (client_multi_batch.c).                                                 */

/* Trailer bytes for `batch_count` batches of `element_bytes` elements: the u16 counts and the
 * final batch count, rounded up to a whole number of elements. */
u32 client_multi_batch_trailer_bytes(u32 element_bytes, u32 batch_count);

struct client_multi_batch {
    const u8 *payload;   /* the batches' elements back to back */
    u32 payload_bytes;
    const u8 *counts;    /* batch_count little-endian u16, the first batch's last */
    u32 element_bytes;
    u32 batch_count;
    u32 batch_index;     /* the next batch client_multi_batch_next returns */
    u32 payload_offset;
};

/* Checks and opens a multi-batch body of `body_bytes` (elements of `element_bytes`, a power of
 * two from 2 to 128). message_invalid, with *reason, when it is not one. */
khorgos_error client_multi_batch_decode(const void *body, u32 body_bytes, u32 element_bytes,
                                        struct client_multi_batch *batches, const char **reason);
/* The next batch: sets *batch and *batch_bytes (maybe 0); false after the last one. */
bool client_multi_batch_next(struct client_multi_batch *batches, const u8 **batch,
                             u32 *batch_bytes);

struct client_multi_batch_encoder {
    u8 *buffer;
    u32 capacity_bytes; /* a multiple of 2 */
    u32 element_bytes;
    u32 payload_bytes;
    u32 batch_count;
};

/* Encodes into `buffer` of `capacity_bytes`, which must hold at least one empty batch. */
void client_multi_batch_encoder_init(struct client_multi_batch_encoder *encoder, void *buffer,
                                     u32 capacity_bytes, u32 element_bytes);
/* Where the next batch's elements go and how many bytes fit (a whole number of elements, with
 * room left for the grown trailer); NULL when another batch does not fit. */
u8 *client_multi_batch_writable(const struct client_multi_batch_encoder *encoder,
                                u32 *writable_bytes);
/* Closes the batch whose `written_bytes` were written at the writable pointer. */
void client_multi_batch_add(struct client_multi_batch_encoder *encoder, u32 written_bytes);
/* Writes the trailer after the elements; returns the body's size. At least one batch. */
u32 client_multi_batch_finish(struct client_multi_batch_encoder *encoder);

/* ----------------------------------------------------------------------------------------- */
/* Mutual TLS for the C client (client_tls.c, OpenSSL, TLS 1.3 only).                         */

struct client_tls;
struct client_tls_session;
struct sockaddr_in;

/* Loads the CA, the client's certificate chain and its key (PEM files); invalid_argument when
 * one does not load or the key is not the certificate's. */
khorgos_error client_tls_open(struct client_tls **tls, const char *cert, const char *key,
                              const char *ca);
void client_tls_close(struct client_tls *tls);
/* The handshake on a connected non-blocking socket, within timeout_ns; the server's certificate
 * must be the CA's and name the address's IP. NULL when it fails. */
struct client_tls_session *client_tls_connect(struct client_tls *tls, int fd,
                                              const struct sockaddr_in *address,
                                              u64 timeout_ns);
void client_tls_session_close(struct client_tls_session *session);
/* As recv and send: -1 with errno EAGAIN when TLS waits for the socket. A write returns a
 * count only once those bytes' records are all handed to the socket; after EAGAIN the caller
 * writes the same bytes again (the part encrypted already is not encrypted twice). */
long client_tls_read(struct client_tls_session *session, void *buffer, size_t bytes);
long client_tls_write(struct client_tls_session *session, const void *buffer, size_t bytes);
/* True when decrypted bytes may wait to be read (poll does not show them). */
bool client_tls_pending(const struct client_tls_session *session);

#endif /* KHORGOS_CLIENT_H */
