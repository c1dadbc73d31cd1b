/*
 * client_tls.c: the client side of mutual TLS for the C client (client_connection.c), with
 * OpenSSL: TLS 1.3 only, the server's certificate verified against the given CA and the
 * address the client connects to (its IP address must be in the certificate), and the client's
 * own certificate and key presented. The connection's socket stays non-blocking: a read or
 * write that must wait says so with errno EAGAIN, as recv and send do.
 */
#include "client/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdlib.h>

/* The context: the CA, the client's certificate and key. */
struct client_tls {
    SSL_CTX *context;
};

struct client_tls_session {
    SSL *ssl;
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
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
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

/* Waits for the socket as the handshake asks; false at the deadline. */
static bool handshake_wait(int fd, int want, u64 deadline_ns) {
    ASSERT(fd >= 0);
    ASSERT(want == SSL_ERROR_WANT_READ || want == SSL_ERROR_WANT_WRITE);
    u64 now_ns = base_clock_monotonic_ns();
    if (now_ns >= deadline_ns) return false;
    struct pollfd descriptor = {.fd = fd,
                                .events = want == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
    int wait_ms = (int)MIN((deadline_ns - now_ns) / 1000000u + 1, 60000u);
    return poll(&descriptor, 1, wait_ms) == 1;
}

struct client_tls_session *client_tls_connect(struct client_tls *tls, int fd,
                                              const struct sockaddr_in *address,
                                              u64 timeout_ns) {
    ASSERT(tls != NULL && fd >= 0);
    ASSERT(address != NULL && timeout_ns > 0);
    SSL *ssl = SSL_new(tls->context);
    if (ssl == NULL) return NULL;
    char host[INET_ADDRSTRLEN];
    bool ready = inet_ntop(AF_INET, &address->sin_addr, host, sizeof(host)) != NULL &&
                 X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 &&
                 SSL_set_fd(ssl, fd) == 1;
    u64 deadline_ns = base_clock_monotonic_ns() + timeout_ns;
    while (ready) {
        int result = SSL_connect(ssl);
        if (result == 1) break;
        int error = SSL_get_error(ssl, result);
        ready = (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) &&
                handshake_wait(fd, error, deadline_ns);
    }
    struct client_tls_session *session = ready ? calloc(1, sizeof(*session)) : NULL;
    if (session == NULL) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    session->ssl = ssl;
    return session;
}

void client_tls_session_close(struct client_tls_session *session) {
    if (session == NULL) return;
    ASSERT(session->ssl != NULL);
    SSL_free(session->ssl); /* no close_notify: the connection is dropped or the client stops */
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

long client_tls_read(struct client_tls_session *session, void *buffer, size_t bytes) {
    ASSERT(session != NULL && buffer != NULL);
    ASSERT(bytes > 0);
    int result = SSL_read(session->ssl, buffer, (int)MIN(bytes, (size_t)INT32_MAX));
    return tls_result(session->ssl, result);
}

long client_tls_write(struct client_tls_session *session, const void *buffer, size_t bytes) {
    ASSERT(session != NULL && buffer != NULL);
    ASSERT(bytes > 0);
    int result = SSL_write(session->ssl, buffer, (int)MIN(bytes, (size_t)INT32_MAX));
    return tls_result(session->ssl, result);
}

bool client_tls_pending(const struct client_tls_session *session) {
    ASSERT(session != NULL && session->ssl != NULL);
    return SSL_pending(session->ssl) > 0;
}
