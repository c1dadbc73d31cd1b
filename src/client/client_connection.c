/*
 * client_connection.c: the C client library (include/khorgos_client.h): a session with a
 * Khorgos server over one TCP connection, driven by a thread of its own.
 *
 * Why a poll(2) loop in a thread rather than libuv: the library then needs nothing beyond libc
 * and pthreads, it can be loaded into any program (Python's ctypes, a program with its own
 * event loop) without a second loop to integrate, and one connection with one request in
 * flight needs no more than poll.
 *
 * The thread owns the connection and everything below "thread's own"; the mutex guards the
 * queue of submitted requests and the stop flag; a pipe wakes the thread when either changes.
 *
 * States of the thread (client_loop):
 *   1. no connection: it connects to addresses[address_index] (non-blocking, bounded by the
 *      connect timeout; a failure moves to the next address after a pause of retry_ns / 4);
 *   2. connected, no session: it sends `register` (request 0) and waits for its reply;
 *   3. session open: it takes the queue's head, makes its message (the next request number,
 *      the previous reply's context as parent) and sends it; the message is kept until its
 *      reply arrives, and sent again unchanged after retry_ns without a reply and after every
 *      reconnection, so that the server answers a retry from its session (exactly once);
 *   4. evicted: every request fails with `evicted`, and so does every later submit.
 *
 * Following the leader (docs/replication.md, "Clients"), as TigerBeetle's clients follow the
 * primary: the addresses are the replicas', and a message's view modulo their count names
 * the leader's replica index; a message's `replica` field names its sender (a single node's
 * are both 0), from which the thread learns which address is which replica (it assumes replica
 * order until it knows). While a message waits, the thread pings the connected replica every
 * retry_ns / CLIENT_PINGS_PER_RETRY. A
 * message is sent only once the replica's pong named the replica itself (it serves; a replica
 * answers pings only when it serves or follows a leader it knows); a pong naming another
 * replica in a view above any the client followed moves the connection there at once; a pong
 * naming the replica itself in a higher view than the message was sent in sends it again (the
 * replica may have dropped it before it led). Without a pong naming the replica itself or a
 * reply for retry_ns, the thread moves to the next address at once; a replica that still
 * leads gets the message again every retry_ns.
 */
#include "client/client.h"
#include "khorgos_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

_Static_assert(KHORGOS_CLIENT_SUBMIT_MESSAGE == CLIENT_OPERATION_SUBMIT_MESSAGE &&
                   KHORGOS_CLIENT_GET_MESSAGE_STATUS == CLIENT_OPERATION_GET_MESSAGE_STATUS &&
                   KHORGOS_CLIENT_GET_STATEMENT == CLIENT_OPERATION_GET_STATEMENT &&
                   KHORGOS_CLIENT_SUBSCRIBE_ENTRIES == CLIENT_OPERATION_SUBSCRIBE_ENTRIES,
               "the public operation codes are the protocol's");
_Static_assert(KHORGOS_CLIENT_NOTIFICATION_PAYMENT_STATUS == CLIENT_NOTIFICATION_PAYMENT_STATUS &&
                   KHORGOS_CLIENT_NOTIFICATION_ACCOUNT_ENTRIES ==
                       CLIENT_NOTIFICATION_ACCOUNT_ENTRIES,
               "the public notification kinds are the protocol's");

/* Pings a waiting client sends its replica per retry interval: it learns a leader's change
 * within an eighth of it. */
#define CLIENT_PINGS_PER_RETRY 8u
/* address_index of no move pending. */
#define CLIENT_MOVE_NONE U32_MAX
/* The default connect timeout and retry interval: a loopback or LAN round trip is far below. */
#define CLIENT_INTERVAL_DEFAULT_NS 1000000000ull
/* The longest the thread sleeps in poll, so that timeouts fire within this. */
#define CLIENT_POLL_MS_MAX 50

struct khorgos_client {
    struct khorgos_client_options options;
    struct sockaddr_in addresses[KHORGOS_CLIENT_ADDRESSES_MAX];
    u32 address_count;
    u128 id;
    pthread_t thread;
    pthread_mutex_t mutex;
    int wake[2]; /* a pipe: a byte written wakes the thread */
    struct client_tls *tls; /* NULL: plaintext */
    /* Guarded by the mutex. */
    struct khorgos_client_call *queue_head;
    struct khorgos_client_call *queue_tail;
    bool stopping;
    khorgos_error dead; /* ok, or evicted once the server ended the session */
    /* The thread's own. */
    int fd;
    struct client_tls_session *tls_session; /* with tls, once the handshake is done */
    u32 address_index;
    u64 connect_after_ns; /* no attempt before this */
    u64 session;          /* 0 until register's reply */
    u128 parent;          /* the last reply's context */
    u32 request_number;   /* the last number given */
    struct khorgos_client_call *in_flight; /* NULL when it timed out (or register's) */
    bool message_pending;  /* a message waits for its reply (register or a request) */
    u8 *message;           /* its bytes */
    u32 message_bytes;
    u8 message_operation;
    u128 message_checksum;
    u32 message_sent_offset; /* bytes of it written on this connection */
    u64 message_sent_ns;
    u64 message_sent_view;   /* the view the client knew when it last sent it */
    u64 view;                /* the highest view a message carried */
    u64 view_followed;       /* the highest view whose leader the client went to */
    bool leading;            /* this connection's replica named itself in a pong */
    u64 progress_ns;         /* the connection's start, last reply or pong naming its replica */
    u32 drops_in_a_row;      /* connections dropped since the last reply or pong naming its own */
    u32 move_to;             /* the address a pong named, or CLIENT_MOVE_NONE */
    u8 address_replica[KHORGOS_CLIENT_ADDRESSES_MAX]; /* each address's replica + 1; 0: unknown */
    u8 ping[CLIENT_HEADER_BYTES];
    u32 ping_offset;         /* bytes of the ping written; CLIENT_HEADER_BYTES: none pending */
    u64 ping_sent_ns;
    u8 *receive;          /* CLIENT_MESSAGE_BYTES_MAX */
    u32 received;
    bool read_again;      /* TLS holds decrypted bytes that poll does not show */
};

/* ----------------------------------------------------------------------------------------- */
/* Addresses and the socket.                                                                  */

static bool address_parse(const char *text, size_t length, struct sockaddr_in *address) {
    ASSERT(text != NULL && address != NULL);
    char host[64] = "127.0.0.1";
    const char *port_text = text;
    size_t port_length = length;
    const char *colon = memchr(text, ':', length);
    if (colon != NULL) {
        size_t host_length = (size_t)(colon - text);
        if (host_length == 0 || host_length >= sizeof(host)) return false;
        memcpy(host, text, host_length);
        host[host_length] = '\0';
        port_text = colon + 1;
        port_length = length - host_length - 1;
    }
    u128 port = 0;
    if (base_u128_parse(port_text, port_length, &port) != 0 || port == 0 || port > 65535) {
        return false;
    }
    memset(address, 0, sizeof(*address));
    address->sin_family = AF_INET;
    address->sin_port = htons((u16)port);
    ASSERT(address->sin_port != 0);
    return inet_pton(AF_INET, host, &address->sin_addr) == 1;
}

static bool addresses_parse(struct khorgos_client *client, const char *text) {
    ASSERT(client != NULL && client->address_count == 0);
    if (text == NULL || text[0] == '\0') return false;
    const char *start = text;
    for (;;) {
        const char *comma = strchr(start, ',');
        size_t length = comma != NULL ? (size_t)(comma - start) : strlen(start);
        if (client->address_count == KHORGOS_CLIENT_ADDRESSES_MAX) return false;
        if (!address_parse(start, length, &client->addresses[client->address_count])) {
            return false;
        }
        client->address_count++;
        if (comma == NULL) break;
        start = comma + 1;
    }
    ASSERT(client->address_count >= 1);
    return true;
}

/* The connection's bytes, through TLS when it is on. -1 with errno as recv(2) and send(2). */
static ssize_t client_socket_read(struct khorgos_client *client, void *buffer, size_t bytes) {
    ASSERT(client->fd >= 0 && bytes > 0);
    if (client->tls_session != NULL) return client_tls_read(client->tls_session, buffer, bytes);
    return recv(client->fd, buffer, bytes, 0);
}

static ssize_t client_socket_write(struct khorgos_client *client, const void *buffer,
                                   size_t bytes) {
    ASSERT(client->fd >= 0 && bytes > 0);
    if (client->tls_session != NULL) return client_tls_write(client->tls_session, buffer, bytes);
    return send(client->fd, buffer, bytes, MSG_NOSIGNAL);
}

/* Closes the connection; the next attempt goes to address `next` after `pause_ns`. */
static void connection_move(struct khorgos_client *client, u32 next, u64 pause_ns) {
    ASSERT(client->address_count >= 1);
    ASSERT(next < client->address_count);
    client_tls_session_close(client->tls_session);
    client->tls_session = NULL;
    if (client->fd >= 0) close(client->fd);
    client->fd = -1;
    client->received = 0;
    client->message_sent_offset = 0;
    client->leading = false;
    client->move_to = CLIENT_MOVE_NONE;
    client->ping_offset = CLIENT_HEADER_BYTES;
    client->ping_sent_ns = 0;
    client->address_index = next;
    client->connect_after_ns = base_clock_monotonic_ns() + pause_ns;
    ASSERT(client->fd == -1);
}

/* The connection failed: the next address, at once (a replica that was reached and failed) or
 * after a pause of retry_ns / 4 (one that could not be reached, or every address in turn
 * failed since the last reply or pong naming its replica: a server that closes each
 * connection, such as one of another cluster, is not reconnected to in a tight loop). */
static void connection_drop(struct khorgos_client *client, bool pause) {
    ASSERT(client->address_count >= 1);
    client->drops_in_a_row++;
    bool round_failed = client->drops_in_a_row % client->address_count == 0;
    u64 pause_ns = pause || round_failed ? client->options.retry_ns / 4 : 0;
    connection_move(client, (client->address_index + 1) % client->address_count, pause_ns);
}

/* Connects to the current address within the connect timeout. */
static bool connection_open(struct khorgos_client *client) {
    ASSERT(client->fd < 0);
    const struct sockaddr_in *address = &client->addresses[client->address_index];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int result = connect(fd, (const struct sockaddr *)address, sizeof(*address));
    if (result < 0 && errno == EINPROGRESS) {
        struct pollfd descriptor = {.fd = fd, .events = POLLOUT};
        int timeout_ms = (int)(client->options.connect_timeout_ns / 1000000u);
        int ready = poll(&descriptor, 1, MAX(timeout_ms, 1));
        int error = 0;
        socklen_t error_bytes = sizeof(error);
        if (ready == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_bytes);
        result = ready == 1 && error == 0 ? 0 : -1;
    }
    if (result == 0 && client->tls != NULL) {
        client->tls_session = client_tls_connect(client->tls, fd, address,
                                                 client->options.connect_timeout_ns);
        if (client->tls_session == NULL) result = -1;
    }
    if (result < 0) {
        close(fd);
        return false;
    }
    client->fd = fd;
    client->progress_ns = base_clock_monotonic_ns();
    ASSERT(client->received == 0 && client->message_sent_offset == 0);
    return true;
}

/* ----------------------------------------------------------------------------------------- */
/* Messages.                                                                                  */

/* Makes the pending message: a header for `operation` in front of `body` (a one-batch
 * multi-batch body for TigerBeetle's operations). */
static void message_make(struct khorgos_client *client, u8 operation, const void *body,
                         u32 body_size) {
    ASSERT(!client->message_pending);
    ASSERT(body_size <= LIMIT_REQUEST_BODY_BYTES_MAX);
    u8 *payload = client->message + CLIENT_HEADER_BYTES;
    u32 payload_bytes = body_size;
    if (body_size > 0) memcpy(payload, body, body_size);
    struct client_operation_shape shape;
    if (client_operation_shape(operation, &shape) && shape.multi_batch) {
        struct client_multi_batch_encoder encoder;
        client_multi_batch_encoder_init(&encoder, payload, CLIENT_BODY_BYTES_MAX,
                                        shape.event_bytes);
        client_multi_batch_add(&encoder, body_size); /* the body, copied where it writes */
        payload_bytes = client_multi_batch_finish(&encoder);
    }
    struct client_header header;
    client_request_init(&header, client->options.cluster, client->id, operation, payload_bytes);
    if (operation != CLIENT_OPERATION_REGISTER) {
        header.request.session = client->session;
        header.request.parent = client->parent;
        header.request.request = ++client->request_number;
    }
    client_header_seal(&header, payload);
    memcpy(client->message, &header, sizeof(header));
    client->message_bytes = header.size;
    client->message_operation = operation;
    client->message_checksum = header.checksum;
    client->message_sent_offset = 0;
    client->message_pending = true;
    client->progress_ns = base_clock_monotonic_ns(); /* its wait starts now */
}

/* Writes what the socket takes of the pending message; the retry interval counts from its
 * last byte. */
static bool message_send(struct khorgos_client *client) {
    ASSERT(client->fd >= 0 && client->message_pending);
    bool writing = client->message_sent_offset < client->message_bytes;
    while (client->message_sent_offset < client->message_bytes) {
        ssize_t written = client_socket_write(client, client->message + client->message_sent_offset,
                                              client->message_bytes - client->message_sent_offset);
        if (written < 0 && errno == EINTR) continue;
        if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (written <= 0) return false;
        client->message_sent_offset += (u32)written;
    }
    if (writing) {
        client->message_sent_ns = base_clock_monotonic_ns();
        client->message_sent_view = client->view;
    }
    ASSERT(client->message_sent_offset == client->message_bytes);
    return true;
}

/* Writes what the socket takes of the ping in progress. */
static bool ping_send(struct khorgos_client *client) {
    ASSERT(client->fd >= 0);
    ASSERT(client->ping_offset <= CLIENT_HEADER_BYTES);
    while (client->ping_offset < CLIENT_HEADER_BYTES) {
        ssize_t written = client_socket_write(client, client->ping + client->ping_offset,
                                              CLIENT_HEADER_BYTES - client->ping_offset);
        if (written < 0 && errno == EINTR) continue;
        if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (written <= 0) return false;
        client->ping_offset += (u32)written;
    }
    return true;
}

/* Starts a ping when one is due: the client waits for its replica (for a pong naming it, or a
 * reply), no ping is being written, and the message is not half written. */
static void ping_start(struct khorgos_client *client, u64 now_ns) {
    ASSERT(client->fd >= 0 && client->message_pending);
    u64 interval_ns = client->options.retry_ns / CLIENT_PINGS_PER_RETRY;
    bool message_half = client->message_sent_offset > 0 &&
                        client->message_sent_offset < client->message_bytes;
    if (client->ping_offset < CLIENT_HEADER_BYTES || message_half ||
        (client->ping_sent_ns != 0 && now_ns - client->ping_sent_ns < interval_ns)) {
        return;
    }
    struct client_header ping;
    client_ping_init(&ping, client->options.cluster, client->id, client->session, now_ns);
    memcpy(client->ping, &ping, sizeof(ping));
    client->ping_offset = 0;
    client->ping_sent_ns = now_ns;
    ASSERT(client->ping_offset < CLIENT_HEADER_BYTES);
}

/* The address known to be replica `replica` (or, with `replica` U32_MAX, the first address
 * whose replica is not known yet); CLIENT_MOVE_NONE when there is none. */
static u32 address_known(const struct khorgos_client *client, u32 replica) {
    ASSERT(replica < client->address_count || replica == U32_MAX);
    ASSERT(client->address_count <= KHORGOS_CLIENT_ADDRESSES_MAX);
    u8 wanted = replica == U32_MAX ? 0 : (u8)(replica + 1);
    for (u32 index = 0; index < client->address_count; index++) {
        if (client->address_replica[index] == wanted) return index;
    }
    return CLIENT_MOVE_NONE;
}

/* The address of replica `replica`: the one known to be it, else the one in its place in
 * replica order unless that is known to be another, else the first not known yet, else the
 * next address. */
static u32 address_of_replica(const struct khorgos_client *client, u32 replica) {
    u32 known = address_known(client, replica);
    if (known != CLIENT_MOVE_NONE) return known;
    if (client->address_replica[replica] == 0) return replica;
    u32 unknown = address_known(client, U32_MAX);
    if (unknown != CLIENT_MOVE_NONE) return unknown;
    return (client->address_index + 1) % client->address_count;
}

/* A pong's view: names this replica (it serves) or another, which the client goes to when
 * the view is above any it followed. */
static void pong_handle(struct khorgos_client *client, const struct client_header *header) {
    ASSERT(header->command == CLIENT_COMMAND_PONG_CLIENT);
    ASSERT(client->address_count >= 1);
    u64 view = header->view;
    u32 leader = (u32)(view % client->address_count);
    if (leader == header->replica) {
        client->leading = true;
        client->drops_in_a_row = 0;
        client->progress_ns = base_clock_monotonic_ns();
        client->view_followed = MAX(client->view_followed, view);
        if (client->message_pending && client->message_sent_offset == client->message_bytes &&
            view > client->message_sent_view) {
            client->message_sent_offset = 0; /* sent before it led: again */
        }
        return;
    }
    client->leading = false;
    /* A newer view; or the same one when the address guessed for its leader was another's and
     * an address not known yet is left to try. */
    bool guessed = view == client->view_followed &&
                   address_known(client, leader) == CLIENT_MOVE_NONE &&
                   address_known(client, U32_MAX) != CLIENT_MOVE_NONE;
    if (view > client->view_followed || guessed) {
        client->view_followed = view;
        client->move_to = address_of_replica(client, leader);
    }
}

/* Completes a request (outside the mutex; on the client's thread). */
static void request_complete(struct khorgos_client_call *request, khorgos_error error) {
    ASSERT(request != NULL && request->callback != NULL);
    ASSERT((u32)error < KHORGOS_ERROR_COUNT);
    request->error = error;
    request->next_internal = NULL;
    request->callback(request);
}

/* Copies a reply's records into its request (a multi-batch reply's one batch). */
static khorgos_error reply_records(const struct client_header *header, const u8 *body,
                                   struct khorgos_client_call *request) {
    ASSERT(header->command == CLIENT_COMMAND_REPLY);
    u32 body_bytes = header->size - CLIENT_HEADER_BYTES;
    const u8 *records = body;
    u32 records_bytes = body_bytes;
    struct client_operation_shape shape;
    if (client_operation_shape(header->reply.operation, &shape) && shape.multi_batch) {
        struct client_multi_batch batches;
        const char *reason = NULL;
        if (client_multi_batch_decode(body, body_bytes, shape.result_bytes, &batches, &reason) !=
                KHORGOS_ERROR_ok ||
            batches.batch_count != 1) {
            return KHORGOS_ERROR_message_invalid;
        }
        bool next = client_multi_batch_next(&batches, &records, &records_bytes);
        ASSERT(next);
    }
    khorgos_error error = client_reply_error(header);
    if (error != KHORGOS_ERROR_ok) return error;
    if (records_bytes > request->reply_capacity) return KHORGOS_ERROR_reply_too_small;
    if (records_bytes > 0) memcpy(request->reply, records, records_bytes);
    request->reply_size = records_bytes;
    request->timestamp = header->reply.timestamp;
    return KHORGOS_ERROR_ok;
}

/* Whether the reply answers a request that the client's session did not record: the ISO 20022
 * operations, or a Khorgos operation the engine's validation refused (any
 * error but forbidden, which the engine applies and records). docs/protocol.md, "Khorgos's
 * operations". */
static bool reply_unrecorded(const struct client_header *header) {
    ASSERT(header->command == CLIENT_COMMAND_REPLY);
    u8 operation = header->reply.operation;
    if (client_operation_unrecorded(operation)) return true;
    khorgos_error error = client_operation_khorgos(operation) ? client_reply_error(header)
                                                               : KHORGOS_ERROR_ok;
    ASSERT((u32)error < KHORGOS_ERROR_COUNT);
    return error != KHORGOS_ERROR_ok && error != KHORGOS_ERROR_forbidden;
}

static void reply_handle(struct khorgos_client *client, const struct client_header *header,
                         const u8 *body) {
    ASSERT(header->command == CLIENT_COMMAND_REPLY);
    if (!client->message_pending || header->reply.client != client->id ||
        header->reply.request_checksum != client->message_checksum) {
        return; /* a second answer to a request sent twice */
    }
    client->message_pending = false;
    client->drops_in_a_row = 0;
    client->progress_ns = base_clock_monotonic_ns();
    client->view_followed = MAX(client->view_followed, (u64)header->view);
    if (reply_unrecorded(header)) {
        client->request_number--; /* the session did not take it: the next request reuses it */
    } else {
        client->parent = header->reply.context;
    }
    if (header->reply.operation == CLIENT_OPERATION_REGISTER) {
        client->session = header->reply.commit;
        ASSERT(client->session != 0);
        return;
    }
    struct khorgos_client_call *request = client->in_flight;
    client->in_flight = NULL;
    if (request != NULL) request_complete(request, reply_records(header, body, request));
}

/* Fails every request (the one in flight and the queued) with `error`. */
static void requests_fail(struct khorgos_client *client, khorgos_error error) {
    ASSERT(error != KHORGOS_ERROR_ok);
    pthread_mutex_lock(&client->mutex);
    struct khorgos_client_call *queued = client->queue_head;
    client->queue_head = client->queue_tail = NULL;
    if (error == KHORGOS_ERROR_evicted) client->dead = error;
    pthread_mutex_unlock(&client->mutex);
    struct khorgos_client_call *in_flight = client->in_flight;
    client->in_flight = NULL;
    client->message_pending = false;
    if (in_flight != NULL) request_complete(in_flight, error);
    while (queued != NULL) {
        struct khorgos_client_call *next = queued->next_internal;
        request_complete(queued, error);
        queued = next;
    }
    ASSERT(client->in_flight == NULL);
}

static void message_handle(struct khorgos_client *client, const struct client_header *header,
                           const u8 *body) {
    ASSERT(client != NULL && header != NULL);
    client->view = MAX(client->view, (u64)header->view);
    if (header->command != CLIENT_COMMAND_NOTIFICATION) {
        client->address_replica[client->address_index] = (u8)(header->replica + 1);
    }
    switch (header->command) {
    case CLIENT_COMMAND_REPLY: reply_handle(client, header, body); break;
    case CLIENT_COMMAND_EVICTION:
        if (header->eviction.client == client->id) requests_fail(client, KHORGOS_ERROR_evicted);
        break;
    case CLIENT_COMMAND_NOTIFICATION:
        if (header->notification.client == client->id && client->options.on_notification) {
            client->options.on_notification(client->options.context, header->notification.kind,
                                            header->notification.sequence, body,
                                            header->size - CLIENT_HEADER_BYTES);
        }
        break;
    case CLIENT_COMMAND_PONG_CLIENT: pong_handle(client, header); break;
    default: break;
    }
}

/* Reads what is waiting and handles every whole message; false when the connection failed or
 * sent a message that does not check. */
static bool messages_receive(struct khorgos_client *client) {
    ASSERT(client->fd >= 0 && client->received < CLIENT_MESSAGE_BYTES_MAX);
    client->read_again = false;
    ssize_t bytes = client_socket_read(client, client->receive + client->received,
                                       CLIENT_MESSAGE_BYTES_MAX - client->received);
    if (bytes < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    if (bytes <= 0) return false;
    client->received += (u32)bytes;
    client->read_again = client->tls_session != NULL && client_tls_pending(client->tls_session);
    while (client->received >= CLIENT_HEADER_BYTES) {
        struct client_header header;
        const char *reason = NULL;
        if (client_header_decode(client->receive, client->received, client->options.cluster,
                                 &header, &reason) != KHORGOS_ERROR_ok) {
            return false;
        }
        if (client->received < header.size) break;
        const u8 *body = client->receive + CLIENT_HEADER_BYTES;
        if (client_body_check(&header, body, &reason) != KHORGOS_ERROR_ok) return false;
        message_handle(client, &header, body);
        memmove(client->receive, client->receive + header.size, client->received - header.size);
        client->received -= header.size;
    }
    ASSERT(client->received < CLIENT_MESSAGE_BYTES_MAX);
    return true;
}

/* ----------------------------------------------------------------------------------------- */
/* The thread.                                                                                */

/* Completes the queued requests whose deadline passed, and the one in flight (whose message
 * stays pending: its number must be answered before the next). */
static void timeouts_check(struct khorgos_client *client, u64 now_ns) {
    ASSERT(client != NULL && now_ns > 0);
    struct khorgos_client_call *expired = NULL;
    pthread_mutex_lock(&client->mutex);
    struct khorgos_client_call **link = &client->queue_head;
    client->queue_tail = NULL;
    while (*link != NULL) {
        struct khorgos_client_call *request = *link;
        if (request->deadline_ns_internal != 0 && request->deadline_ns_internal <= now_ns) {
            *link = request->next_internal;
            request->next_internal = expired;
            expired = request;
        } else {
            client->queue_tail = request;
            link = &request->next_internal;
        }
    }
    pthread_mutex_unlock(&client->mutex);
    struct khorgos_client_call *in_flight = client->in_flight;
    if (in_flight != NULL && in_flight->deadline_ns_internal != 0 &&
        in_flight->deadline_ns_internal <= now_ns) {
        client->in_flight = NULL;
        request_complete(in_flight, KHORGOS_ERROR_timeout);
    }
    while (expired != NULL) {
        struct khorgos_client_call *next = expired->next_internal;
        request_complete(expired, KHORGOS_ERROR_timeout);
        expired = next;
    }
}

/* Takes the queue's head into flight once the session is open and nothing is pending. */
static void request_next(struct khorgos_client *client) {
    ASSERT(client->session != 0 && !client->message_pending);
    pthread_mutex_lock(&client->mutex);
    struct khorgos_client_call *request = client->queue_head;
    if (request != NULL) {
        client->queue_head = request->next_internal;
        if (client->queue_head == NULL) client->queue_tail = NULL;
    }
    pthread_mutex_unlock(&client->mutex);
    if (request == NULL) return;
    client->in_flight = request;
    message_make(client, request->operation, request->body, request->body_size);
    ASSERT(client->message_pending);
}

/* Moves to the address a pong named; to the next address after retry_ns without a pong
 * naming the replica or a reply; sends the message again after retry_ns without a reply. */
static void retry_check(struct khorgos_client *client, u64 now_ns) {
    ASSERT(client->fd >= 0 && client->message_pending);
    if (client->move_to != CLIENT_MOVE_NONE) {
        connection_move(client, client->move_to, 0);
        return;
    }
    if (now_ns - client->progress_ns >= client->options.retry_ns) {
        connection_drop(client, false);
        return;
    }
    if (client->message_sent_offset < client->message_bytes) return;
    if (now_ns - client->message_sent_ns < client->options.retry_ns) return;
    client->message_sent_offset = 0;
    ASSERT(client->message_pending);
}

/* Writes the ping in progress, then the message once the replica named itself the leader. */
static bool connection_write(struct khorgos_client *client) {
    ASSERT(client->fd >= 0);
    if (client->message_pending) ping_start(client, base_clock_monotonic_ns());
    if (!ping_send(client)) return false; /* a ping begun is finished first */
    if (!client->message_pending) return true;
    if (client->ping_offset < CLIENT_HEADER_BYTES || !client->leading) return true;
    return message_send(client);
}

/* One turn of the loop when connected: make or send the message, then wait in poll. */
static void client_turn(struct khorgos_client *client) {
    ASSERT(client->fd >= 0);
    if (!client->message_pending && client->session == 0) {
        struct client_register_request body = {0};
        message_make(client, CLIENT_OPERATION_REGISTER, &body, sizeof(body));
    }
    if (!client->message_pending) request_next(client);
    if (!connection_write(client)) {
        connection_drop(client, false);
        return;
    }
    bool writing = client->ping_offset < CLIENT_HEADER_BYTES ||
                   (client->message_pending && client->leading &&
                    client->message_sent_offset < client->message_bytes);
    struct pollfd descriptors[2] = {
        {.fd = client->wake[0], .events = POLLIN},
        {.fd = client->fd, .events = (short)(POLLIN | (writing ? POLLOUT : 0))},
    };
    int ready = poll(descriptors, 2, client->read_again ? 0 : CLIENT_POLL_MS_MAX);
    if (ready > 0 && (descriptors[0].revents & POLLIN)) {
        u8 drain[64];
        ssize_t drained = read(client->wake[0], drain, sizeof(drain));
        (void)drained;
    }
    bool readable = ready > 0 && (descriptors[1].revents & (POLLIN | POLLHUP | POLLERR));
    if (client->read_again || readable) {
        if (!messages_receive(client)) {
            connection_drop(client, false);
            return;
        }
    }
    if (client->message_pending && client->fd >= 0) {
        retry_check(client, base_clock_monotonic_ns());
    }
}

static bool client_has_work(struct khorgos_client *client) {
    ASSERT(client != NULL);
    pthread_mutex_lock(&client->mutex);
    bool work = client->queue_head != NULL;
    pthread_mutex_unlock(&client->mutex);
    return work || client->message_pending;
}

static bool client_stopping(struct khorgos_client *client) {
    ASSERT(client != NULL);
    pthread_mutex_lock(&client->mutex);
    bool stopping = client->stopping;
    pthread_mutex_unlock(&client->mutex);
    return stopping;
}

static void *client_loop(void *argument) {
    struct khorgos_client *client = argument;
    ASSERT(client != NULL && client->fd == -1);
    while (!client_stopping(client)) {
        u64 now_ns = base_clock_monotonic_ns();
        timeouts_check(client, now_ns);
        if (client->fd >= 0) {
            client_turn(client);
            continue;
        }
        if (client_has_work(client) && now_ns >= client->connect_after_ns &&
            !connection_open(client)) {
            connection_drop(client, true);
        }
        if (client->fd < 0) {
            struct pollfd descriptor = {.fd = client->wake[0], .events = POLLIN};
            if (poll(&descriptor, 1, CLIENT_POLL_MS_MAX) > 0) {
                u8 drain[64];
                ssize_t drained = read(client->wake[0], drain, sizeof(drain));
                (void)drained;
            }
        }
    }
    requests_fail(client, KHORGOS_ERROR_client_closed);
    ASSERT(client->in_flight == NULL);
    return NULL;
}

/* ----------------------------------------------------------------------------------------- */
/* The public calls.                                                                          */

static void client_wake(struct khorgos_client *client) {
    ASSERT(client->wake[1] >= 0);
    u8 byte = 1;
    ssize_t written = write(client->wake[1], &byte, 1);
    (void)written; /* a full pipe already wakes the thread */
}

static void client_free(struct khorgos_client *client) {
    ASSERT(client != NULL);
    if (client->wake[0] >= 0) close(client->wake[0]);
    if (client->wake[1] >= 0) close(client->wake[1]);
    if (client->fd >= 0) close(client->fd);
    client_tls_session_close(client->tls_session);
    client_tls_close(client->tls);
    free(client->message);
    free(client->receive);
    pthread_mutex_destroy(&client->mutex);
    free(client);
}

khorgos_error khorgos_client_open(struct khorgos_client **out,
                                  const struct khorgos_client_options *options) {
    ASSERT(out != NULL && options != NULL);
    *out = NULL;
    bool tls = options->tls_cert != NULL || options->tls_key != NULL || options->tls_ca != NULL;
    if (tls &&
        (options->tls_cert == NULL || options->tls_key == NULL || options->tls_ca == NULL)) {
        return KHORGOS_ERROR_invalid_argument; /* mutual TLS takes all three */
    }
    struct khorgos_client *client = calloc(1, sizeof(*client));
    if (client == NULL) return KHORGOS_ERROR_out_of_memory;
    client->fd = -1;
    client->wake[0] = client->wake[1] = -1;
    client->move_to = CLIENT_MOVE_NONE;
    client->ping_offset = CLIENT_HEADER_BYTES;
    pthread_mutex_init(&client->mutex, NULL);
    client->options = *options;
    if (client->options.connect_timeout_ns == 0) {
        client->options.connect_timeout_ns = CLIENT_INTERVAL_DEFAULT_NS;
    }
    if (client->options.retry_ns == 0) client->options.retry_ns = CLIENT_INTERVAL_DEFAULT_NS;
    if (!addresses_parse(client, options->addresses)) {
        client_free(client);
        return KHORGOS_ERROR_invalid_argument;
    }
    client->options.addresses = NULL; /* parsed; the caller's string is not kept */
    khorgos_error loaded = tls ? client_tls_open(&client->tls, options->tls_cert,
                                                 options->tls_key, options->tls_ca)
                               : KHORGOS_ERROR_ok;
    client->options.tls_cert = client->options.tls_key = client->options.tls_ca = NULL;
    if (loaded != KHORGOS_ERROR_ok) {
        client_free(client);
        return loaded;
    }
    while (client->id == 0) {
        if (getrandom(&client->id, sizeof(client->id), 0) != sizeof(client->id)) client->id = 0;
    }
    client->message = malloc(CLIENT_MESSAGE_BYTES_MAX);
    client->receive = malloc(CLIENT_MESSAGE_BYTES_MAX);
    if (client->message == NULL || client->receive == NULL ||
        pipe2(client->wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
        pthread_create(&client->thread, NULL, client_loop, client) != 0) {
        client_free(client);
        return KHORGOS_ERROR_out_of_memory;
    }
    *out = client;
    ASSERT(client->address_count >= 1);
    return KHORGOS_ERROR_ok;
}

void khorgos_client_close(struct khorgos_client *client) {
    if (client == NULL) return;
    ASSERT(client->address_count >= 1);
    pthread_mutex_lock(&client->mutex);
    client->stopping = true;
    pthread_mutex_unlock(&client->mutex);
    client_wake(client);
    pthread_join(client->thread, NULL);
    client_free(client);
}

/* The records a body may hold: the engine's limit, and for TigerBeetle's operations one batch
 * with its trailer in a message. */
static bool request_acceptable(const struct khorgos_client_call *request) {
    ASSERT(request != NULL);
    if (request->callback == NULL || (request->body == NULL && request->body_size > 0)) {
        return false;
    }
    if (request->reply == NULL && request->reply_capacity > 0) return false;
    if (request->body_size > LIMIT_REQUEST_BODY_BYTES_MAX) return false;
    struct client_operation_shape shape;
    if (client_operation_shape(request->operation, &shape)) {
        return shape.multi_batch && request->body_size % shape.event_bytes == 0;
    }
    return client_operation_khorgos(request->operation);
}

khorgos_error khorgos_client_submit(struct khorgos_client *client,
                                    struct khorgos_client_call *request) {
    ASSERT(client != NULL && request != NULL);
    if (!request_acceptable(request)) return KHORGOS_ERROR_invalid_argument;
    request->next_internal = NULL;
    request->reply_size = 0;
    request->timestamp = 0;
    request->error = KHORGOS_ERROR_ok;
    u64 timeout_ns = client->options.request_timeout_ns;
    request->deadline_ns_internal = timeout_ns == 0 ? 0 : base_clock_monotonic_ns() + timeout_ns;
    pthread_mutex_lock(&client->mutex);
    khorgos_error error = client->stopping ? KHORGOS_ERROR_client_closed : client->dead;
    if (error == KHORGOS_ERROR_ok) {
        if (client->queue_tail != NULL) client->queue_tail->next_internal = request;
        else client->queue_head = request;
        client->queue_tail = request;
    }
    pthread_mutex_unlock(&client->mutex);
    if (error == KHORGOS_ERROR_ok) client_wake(client);
    return error;
}

struct client_waiter {
    pthread_mutex_t mutex;
    pthread_cond_t done_condition;
    bool done;
};

static void client_waiter_done(struct khorgos_client_call *request) {
    struct client_waiter *waiter = request->user_data;
    ASSERT(waiter != NULL && !waiter->done);
    pthread_mutex_lock(&waiter->mutex);
    waiter->done = true;
    pthread_cond_signal(&waiter->done_condition);
    pthread_mutex_unlock(&waiter->mutex);
}

khorgos_error khorgos_client_execute(struct khorgos_client *client,
                                     struct khorgos_client_call *request) {
    ASSERT(client != NULL && request != NULL);
    struct client_waiter waiter = {.done = false};
    pthread_mutex_init(&waiter.mutex, NULL);
    pthread_cond_init(&waiter.done_condition, NULL);
    request->callback = client_waiter_done;
    request->user_data = &waiter;
    khorgos_error error = khorgos_client_submit(client, request);
    if (error == KHORGOS_ERROR_ok) {
        pthread_mutex_lock(&waiter.mutex);
        while (!waiter.done) pthread_cond_wait(&waiter.done_condition, &waiter.mutex);
        pthread_mutex_unlock(&waiter.mutex);
        error = request->error;
    }
    pthread_cond_destroy(&waiter.done_condition);
    pthread_mutex_destroy(&waiter.mutex);
    ASSERT((u32)error < KHORGOS_ERROR_COUNT);
    return error;
}

khorgos_u128 khorgos_client_id(const struct khorgos_client *client) {
    ASSERT(client != NULL);
    ASSERT(client->id != 0);
    return client->id;
}

void khorgos_client_checksum(const void *bytes, size_t size, uint8_t checksum[16]) {
    ASSERT(bytes != NULL || size == 0);
    ASSERT(checksum != NULL);
    u128 value = base_aegis_checksum(bytes, size);
    memcpy(checksum, &value, sizeof(value));
}
