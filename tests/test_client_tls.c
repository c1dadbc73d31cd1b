/* test_client_tls.c: the C client's TLS layer (src/client/client_tls.c) against a small TLS
 * 1.3 server on OpenSSL in a thread, over 127.0.0.1 (an ephemeral port), with certificates
 * from scripts/dev-ca.sh (run from the repository's root, as make test does).
 *
 * A write of a full message hands several records to the socket per call (not one 16 KiB
 * record per call), and through a small send buffer that makes writes wait (EAGAIN) the server
 * still receives every byte exactly once, in order. A read takes every whole record the socket
 * holds: the four records of a 64 KiB reply come back from one call. The server's close ends
 * the stream (a read returns 0). Every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "client/client.h"

#define WAIT_MS 10000
#define RECORD_BYTES 16384u             /* TLS's largest record */
#define MESSAGE_BYTES (1u << 20)        /* a full message */
#define REPLY_BYTES (4u * RECORD_BYTES) /* four records */

static char certificates[64];

/* The server thread's side: what it does after the handshake, and what it found. */
struct peer {
    int listener;
    u16 port;
    bool send_reply; /* true: write REPLY_BYTES then close; false: read MESSAGE_BYTES */
    u32 read_delay_ms;
    bool ok;
    pthread_t thread;
};

static u8 pattern_byte(u32 index) { return (u8)(index * 7u + (index >> 12)); }

static void pattern_fill(u8 *bytes, u32 size) {
    for (u32 index = 0; index < size; index++) bytes[index] = pattern_byte(index);
}

static SSL_CTX *peer_context(void) {
    char cert[96], key[96], ca[96];
    snprintf(cert, sizeof(cert), "%s/server.crt", certificates);
    snprintf(key, sizeof(key), "%s/server.key", certificates);
    snprintf(ca, sizeof(ca), "%s/ca.crt", certificates);
    SSL_CTX *context = SSL_CTX_new(TLS_server_method());
    assert_non_null(context);
    SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION);
    SSL_CTX_set_num_tickets(context, 0);
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(context, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM), 1);
    assert_int_equal(SSL_CTX_load_verify_locations(context, ca, NULL), 1);
    return context;
}

/* Reads the whole message and checks every byte against the pattern. */
static bool peer_read_message(SSL *ssl) {
    u8 *bytes = malloc(MESSAGE_BYTES + 1);
    if (bytes == NULL) return false;
    u32 done = 0;
    while (done < MESSAGE_BYTES) {
        int got = SSL_read(ssl, bytes + done, (int)(MESSAGE_BYTES + 1 - done));
        if (got <= 0) break;
        done += (u32)got;
    }
    bool same = done == MESSAGE_BYTES;
    for (u32 index = 0; same && index < MESSAGE_BYTES; index++) {
        same = bytes[index] == pattern_byte(index);
    }
    free(bytes);
    return same;
}

static void *peer_main(void *argument) {
    struct peer *peer = argument;
    SSL_CTX *context = peer_context();
    int fd = accept(peer->listener, NULL, NULL);
    struct timeval timeout = {.tv_sec = WAIT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    SSL *ssl = fd >= 0 ? SSL_new(context) : NULL;
    if (ssl != NULL && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
        if (peer->send_reply) {
            static u8 reply[REPLY_BYTES];
            pattern_fill(reply, REPLY_BYTES);
            peer->ok = SSL_write(ssl, reply, REPLY_BYTES) == (int)REPLY_BYTES;
            if (peer->ok) SSL_shutdown(ssl);
        } else {
            usleep(peer->read_delay_ms * 1000u);
            peer->ok = peer_read_message(ssl);
        }
    }
    ERR_clear_error();
    SSL_free(ssl);
    if (fd >= 0) close(fd);
    SSL_CTX_free(context);
    return NULL;
}

static void peer_start(struct peer *peer) {
    peer->listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(peer->listener >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(peer->listener, (struct sockaddr *)&address, sizeof(address)), 0);
    socklen_t size = sizeof(address);
    assert_int_equal(getsockname(peer->listener, (struct sockaddr *)&address, &size), 0);
    peer->port = ntohs(address.sin_port);
    assert_int_equal(listen(peer->listener, 1), 0);
    assert_int_equal(pthread_create(&peer->thread, NULL, peer_main, peer), 0);
}

/* A client session with the operator's certificate, on a non-blocking socket whose send
 * buffer holds `send_buffer_bytes` (0: the system's). */
static struct client_tls_session *client_start(const struct peer *peer, struct client_tls **tls,
                                               int *fd, int send_buffer_bytes) {
    char cert[96], key[96], ca[96];
    snprintf(cert, sizeof(cert), "%s/operator.crt", certificates);
    snprintf(key, sizeof(key), "%s/operator.key", certificates);
    snprintf(ca, sizeof(ca), "%s/ca.crt", certificates);
    assert_int_equal(client_tls_open(tls, cert, key, ca), KHORGOS_ERROR_ok);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd >= 0);
    if (send_buffer_bytes > 0) {
        setsockopt(*fd, SOL_SOCKET, SO_SNDBUF, &send_buffer_bytes, sizeof(send_buffer_bytes));
    }
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(peer->port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(*fd, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK), 0);
    struct client_tls_session *session =
        client_tls_connect(*tls, *fd, &address, (u64)WAIT_MS * 1000000u);
    assert_non_null(session);
    return session;
}

/* Closes the client's side, waits for the server's thread and closes its listener. */
static void client_stop(struct peer *peer, struct client_tls *tls, int fd,
                        struct client_tls_session *session) {
    client_tls_session_close(session);
    close(fd);
    client_tls_close(tls);
    assert_int_equal(pthread_join(peer->thread, NULL), 0);
    close(peer->listener);
}

static bool wait_socket(int fd, short events) {
    struct pollfd descriptor = {.fd = fd, .events = events};
    return poll(&descriptor, 1, WAIT_MS) == 1;
}

static void test_write_full_message(void **state) {
    (void)state;
    struct peer peer = {.send_reply = false, .read_delay_ms = 100};
    peer_start(&peer);
    struct client_tls *tls = NULL;
    int fd = -1;
    struct client_tls_session *session = client_start(&peer, &tls, &fd, 32 * 1024);
    u8 *message = malloc(MESSAGE_BYTES);
    assert_non_null(message);
    pattern_fill(message, MESSAGE_BYTES);
    u32 sent = 0, calls = 0, waits = 0;
    long first = 0;
    while (sent < MESSAGE_BYTES) {
        long wrote = client_tls_write(session, message + sent, MESSAGE_BYTES - sent);
        if (wrote < 0) {
            assert_int_equal(errno, EAGAIN);
            waits++;
            assert_true(wait_socket(fd, POLLOUT));
            continue;
        }
        assert_true(wrote > 0);
        if (calls++ == 0) first = wrote;
        sent += (u32)wrote;
    }
    assert_int_equal(sent, MESSAGE_BYTES);
    assert_true(first > (long)RECORD_BYTES); /* several records per socket write */
    assert_true(calls <= MESSAGE_BYTES / (2 * RECORD_BYTES));
    assert_true(waits > 0); /* the small send buffer made writes wait */
    client_stop(&peer, tls, fd, session);
    assert_true(peer.ok); /* every byte once, in order */
    free(message);
}

static void test_read_whole_records(void **state) {
    (void)state;
    struct peer peer = {.send_reply = true};
    peer_start(&peer);
    struct client_tls *tls = NULL;
    int fd = -1;
    struct client_tls_session *session = client_start(&peer, &tls, &fd, 0);
    /* The reply's four records, then the close, are all in the socket before the first read. */
    usleep(200 * 1000);
    assert_true(wait_socket(fd, POLLIN));
    static u8 reply[MESSAGE_BYTES];
    long got = client_tls_read(session, reply, sizeof(reply));
    assert_int_equal(got, REPLY_BYTES);
    for (u32 index = 0; index < REPLY_BYTES; index++) {
        assert_int_equal(reply[index], pattern_byte(index));
    }
    long end = 0;
    for (int tries = 0; tries < 100; tries++) {
        end = client_tls_read(session, reply, sizeof(reply));
        if (end >= 0 || errno != EAGAIN) break;
        assert_true(wait_socket(fd, POLLIN));
    }
    assert_int_equal(end, 0); /* the server's close_notify ends the stream */
    client_stop(&peer, tls, fd, session);
    assert_true(peer.ok);
}

static int group_setup(void **state) {
    (void)state;
    snprintf(certificates, sizeof(certificates), "/tmp/khorgos-client-tls-XXXXXX");
    assert_non_null(mkdtemp(certificates));
    char command[256];
    snprintf(command, sizeof(command), "sh scripts/dev-ca.sh %s operator >/dev/null",
             certificates);
    return system(command) == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", certificates);
    return system(command) == 0 ? 0 : -1;
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_full_message),
        cmocka_unit_test(test_read_whole_records),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
