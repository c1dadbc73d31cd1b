/*
 * client_tls.c: the client side of mutual TLS for the C client (client_connection.c), with
 * OpenSSL: TLS 1.3 only, the server's certificate verified against the given CA and the
 * address the client connects to (its IP address must be in the certificate), and the client's
 * own certificate and key presented. The connection's socket stays non-blocking: a read or
 * write that must wait says so with errno EAGAIN, as recv and send do.
 *
 * OpenSSL works on a BIO pair rather than on the socket, and this file moves the ciphertext
 * between the pair and the socket itself. Given the socket, OpenSSL writes each TLS record
 * (16 KiB at most) with a system call of its own, 64 for a full message, and the server wakes
 * for each; through the pair a write encrypts up to CLIENT_TLS_CHUNK_BYTES and hands all of
 * its records to the socket in one send, and a read takes what the socket holds in one recv
 * and decrypts every whole record in it. The pair's ring buffers are read and written in
 * place (BIO_nread0, BIO_nwrite0), so the ciphertext is not copied on this side.
 */
#include "client/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

/* Plaintext encrypted per write: 16 records. A full message goes out in four sends, and the
 * server decrypts one chunk while the client encrypts the next. */
#define CLIENT_TLS_CHUNK_BYTES (256u * 1024u)
/* Each side of the BIO pair: a chunk's records with their headers and tags (22 bytes per
 * record of 16 KiB), with room to spare for a handshake flight or an alert. */
#define CLIENT_TLS_PAIR_BYTES (CLIENT_TLS_CHUNK_BYTES + CLIENT_TLS_CHUNK_BYTES / 16u)

/* The context: the CA, the client's certificate and key. */
struct client_tls {
    SSL_CTX *context;
};

struct client_tls_session {
    SSL *ssl;     /* owns the pair's inner BIO */
    BIO *network; /* the pair's outer BIO: ciphertext to and from the socket */
    int fd;
    size_t encrypted; /* plaintext of the write under way, encrypted; its ciphertext unsent */
    bool filled;      /* the last read filled the caller's buffer: more may be decrypted */
};

khorgos_error client_tls_open(struct client_tls **out, const char *cert, const char *key,
                              const char *ca) {
    ASSERT(out != NULL);
    ASSERT(cert != NULL && key != NULL && ca != NULL);
    *out = NULL;
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (context == NULL) return KHORGOS_ERROR_out_of_memory;
    bool loaded = SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION) == 1 &&
                  SSL_CTX_set_max_proto_version(context, TLS1_3_VERSION) == 1 &&
                  SSL_CTX_load_verify_locations(context, ca, NULL) == 1 &&
                  SSL_CTX_use_certificate_chain_file(context, cert) == 1 &&
                  SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 &&
                  SSL_CTX_check_private_key(context) == 1;
    struct client_tls *tls = loaded ? calloc(1, sizeof(*tls)) : NULL;
    if (tls == NULL) {
        SSL_CTX_free(context);
        ERR_clear_error();
        return loaded ? KHORGOS_ERROR_out_of_memory : KHORGOS_ERROR_invalid_argument;
    }
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    /* Whole writes: SSL_write encrypts a chunk entirely (partial writes would stop after each
     * record); a write retried after EAGAIN may come from another address. */
    SSL_CTX_set_mode(context, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    tls->context = context;
    *out = tls;
    return KHORGOS_ERROR_ok;
}

void client_tls_close(struct client_tls *tls) {
    if (tls == NULL) return;
    ASSERT(tls->context != NULL);
    SSL_CTX_free(tls->context);
    free(tls);
}

/* Sends the ciphertext waiting in the pair: 0 once all is sent, 1 while the socket takes no
 * more (EAGAIN), -1 on a failure (errno as send's). */
static int tls_send(struct client_tls_session *session) {
    ASSERT(session != NULL && session->fd >= 0);
    for (;;) {
        char *bytes = NULL;
        int waiting = BIO_nread0(session->network, &bytes);
        if (waiting <= 0) return 0;
        ssize_t sent = send(session->fd, bytes, (size_t)waiting, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        if (sent == 0) return 1; /* no progress: wait for the socket as for EAGAIN */
        int taken = BIO_nread(session->network, &bytes, (int)sent);
        ASSERT(taken == (int)sent);
    }
}

/* Reads what the socket holds into the pair, in one recv: the bytes read, 0 at the end of the
 * stream, -1 with errno as recv's (EAGAIN: nothing waits), or -1 with EAGAIN when the pair
 * is full. */
static long tls_receive(struct client_tls_session *session) {
    ASSERT(session != NULL && session->fd >= 0);
    char *room = NULL;
    int space = BIO_nwrite0(session->network, &room);
    if (space <= 0) {
        errno = EAGAIN;
        return -1;
    }
    ssize_t got;
    do {
        got = recv(session->fd, room, (size_t)space, 0);
    } while (got < 0 && errno == EINTR);
    if (got > 0) {
        int put = BIO_nwrite(session->network, &room, (int)got);
        ASSERT(put == (int)got);
    }
    return got;
}

/* Waits for the socket as the handshake asks; false at the deadline. */
static bool handshake_wait(int fd, short events, u64 deadline_ns) {
    ASSERT(fd >= 0);
    ASSERT(events == POLLIN || events == POLLOUT);
    u64 now_ns = base_clock_monotonic_ns();
    if (now_ns >= deadline_ns) return false;
    struct pollfd descriptor = {.fd = fd, .events = events};
    int wait_ms = (int)MIN((deadline_ns - now_ns) / 1000000u + 1, 60000u);
    return poll(&descriptor, 1, wait_ms) == 1;
}

/* The handshake's turns: OpenSSL's step, its flight sent, the peer's read; false when it fails
 * or the deadline passes. */
static bool handshake_run(struct client_tls_session *session, u64 deadline_ns) {
    ASSERT(session != NULL && session->ssl != NULL);
    for (;;) {
        int result = SSL_connect(session->ssl);
        int error = result == 1 ? SSL_ERROR_NONE : SSL_get_error(session->ssl, result);
        int unsent = tls_send(session);
        if (unsent < 0) return false;
        if (unsent > 0) {
            if (!handshake_wait(session->fd, POLLOUT, deadline_ns)) return false;
            continue;
        }
        if (result == 1) return true;
        if (error != SSL_ERROR_WANT_READ) return false;
        long got = tls_receive(session);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return false;
        if (got < 0 && !handshake_wait(session->fd, POLLIN, deadline_ns)) return false;
    }
}

/* A session with its BIO pair on `fd`, before the handshake; NULL when memory runs out. */
static struct client_tls_session *session_new(struct client_tls *tls, int fd) {
    ASSERT(tls != NULL && fd >= 0);
    struct client_tls_session *session = calloc(1, sizeof(*session));
    SSL *ssl = session != NULL ? SSL_new(tls->context) : NULL;
    BIO *inner = NULL;
    if (ssl == NULL ||
        BIO_new_bio_pair(&inner, CLIENT_TLS_PAIR_BYTES, &session->network,
                         CLIENT_TLS_PAIR_BYTES) != 1) {
        SSL_free(ssl);
        free(session);
        return NULL;
    }
    SSL_set_bio(ssl, inner, inner);
    session->ssl = ssl;
    session->fd = fd;
    ASSERT(session->network != NULL);
    return session;
}

struct client_tls_session *client_tls_connect(struct client_tls *tls, int fd,
                                              const struct sockaddr_in *address,
                                              u64 timeout_ns) {
    ASSERT(tls != NULL && fd >= 0);
    ASSERT(address != NULL && timeout_ns > 0);
    u64 deadline_ns = base_clock_monotonic_ns() + timeout_ns;
    struct client_tls_session *session = session_new(tls, fd);
    char host[INET_ADDRSTRLEN];
    bool ready = session != NULL &&
                 inet_ntop(AF_INET, &address->sin_addr, host, sizeof(host)) != NULL &&
                 X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(session->ssl), host) == 1 &&
                 handshake_run(session, deadline_ns);
    if (!ready) {
        client_tls_session_close(session);
        ERR_clear_error();
        return NULL;
    }
    return session;
}

void client_tls_session_close(struct client_tls_session *session) {
    if (session == NULL) return;
    ASSERT(session->ssl != NULL && session->network != NULL);
    SSL_free(session->ssl); /* no close_notify: the connection is dropped or the client stops */
    BIO_free(session->network);
    free(session);
}

/* -1 with errno EAGAIN when TLS waits for the socket, EIO on a failure; 0 at its end. */
static long tls_result(SSL *ssl, int result) {
    ASSERT(ssl != NULL);
    if (result > 0) return result;
    int error = SSL_get_error(ssl, result);
    ERR_clear_error();
    if (error == SSL_ERROR_ZERO_RETURN) return 0;
    errno = error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE ? EAGAIN : EIO;
    ASSERT(errno != 0);
    return -1;
}

/* Decrypts every whole record the pair holds into `buffer`, up to `bytes`: the bytes
 * decrypted, else as tls_result says. */
static long tls_decrypt(struct client_tls_session *session, u8 *buffer, size_t bytes) {
    ASSERT(session != NULL && buffer != NULL);
    ASSERT(bytes > 0);
    size_t total = 0;
    int result = 0;
    while (total < bytes) {
        result = SSL_read(session->ssl, buffer + total, (int)MIN(bytes - total, INT32_MAX));
        if (result <= 0) break;
        total += (size_t)result;
    }
    session->filled = total == bytes;
    if (total > 0) {
        ERR_clear_error();
        return (long)total;
    }
    return tls_result(session->ssl, result);
}

long client_tls_read(struct client_tls_session *session, void *buffer, size_t bytes) {
    ASSERT(session != NULL && buffer != NULL);
    ASSERT(bytes > 0);
    long got = tls_receive(session);
    if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    if (got == 0) BIO_shutdown_wr(session->network); /* the peer's end: OpenSSL sees EOF */
    long decrypted = tls_decrypt(session, buffer, bytes);
    int error = errno;
    if (tls_send(session) < 0) { /* what OpenSSL answered while reading, if anything */
        errno = EIO;
        return -1;
    }
    errno = error;
    return decrypted < 0 && got == 0 ? 0 : decrypted;
}

long client_tls_write(struct client_tls_session *session, const void *buffer, size_t bytes) {
    ASSERT(session != NULL && buffer != NULL);
    ASSERT(bytes > 0);
    if (session->encrypted == 0) {
        int unsent = tls_send(session);
        if (unsent != 0) {
            errno = unsent > 0 ? EAGAIN : EIO;
            return -1;
        }
        int wrote = SSL_write(session->ssl, buffer, (int)MIN(bytes, CLIENT_TLS_CHUNK_BYTES));
        if (wrote <= 0) return tls_result(session->ssl, wrote);
        session->encrypted = (size_t)wrote;
    }
    ASSERT(session->encrypted <= bytes);
    int unsent = tls_send(session);
    if (unsent != 0) {
        errno = unsent > 0 ? EAGAIN : EIO;
        return -1;
    }
    long written = (long)session->encrypted;
    session->encrypted = 0;
    return written;
}

bool client_tls_pending(const struct client_tls_session *session) {
    ASSERT(session != NULL && session->ssl != NULL);
    return session->filled || SSL_pending(session->ssl) > 0;
}
