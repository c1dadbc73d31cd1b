/*
 * server_tls.c: TLS 1.3 with client certificates, and the connection's identity.
 *
 * OpenSSL runs on two memory BIOs per connection: the loop reads ciphertext from the socket
 * into the connection's buffer and hands it to `in`; OpenSSL decrypts it into the same buffer
 * (the ciphertext was copied out first); whatever OpenSSL writes to `out` (handshake messages,
 * alerts, encrypted replies) the loop writes to the socket. OpenSSL never touches the socket,
 * so a slow peer never blocks the loop.
 *
 * The context allows TLS 1.3 only, requires a client certificate that chains to the CA file,
 * checks the leaf against the CRL when one is given, and issues no session tickets and keeps
 * no session cache: every connection is a full handshake, so a certificate revoked by a
 * reloaded CRL cannot come back through resumption. SIGHUP builds a new context from the same
 * files; connections already established keep the context they started with.
 */
#include "server/server_private.h"
#include "settle/settle.h"
#include "storage/storage.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>

_Static_assert(SERVER_IDENTITY_BYTES == STORAGE_ACTOR_BYTES,
               "an identity fits the journal record's actor field exactly");
_Static_assert(KHORGOS_BIC_BYTES < SERVER_IDENTITY_BYTES, "a BIC and its NUL fit an identity");

/* Room for a reason that quotes a certificate's name or an OpenSSL error. */
#define TLS_REASON_BYTES 256u

struct server_tls {
    SSL_CTX *context; /* for new handshakes; a reload replaces it */
    const char *cert; /* the option strings: they live as long as the server */
    const char *key;
    const char *ca;
    const char *crl; /* NULL: no revocation list */
    u64 loads;
};

struct server_tls_stream {
    SSL *ssl; /* owns both BIOs */
    BIO *in;  /* ciphertext from the socket, for OpenSSL */
    BIO *out; /* ciphertext from OpenSSL, for the socket */
};

static const struct {
    const char *name;
    enum server_role role;
} tls_roles[] = {
    {"operator", SERVER_ROLE_OPERATOR},
    {"auditor", SERVER_ROLE_AUDITOR},
    {"replica", SERVER_ROLE_REPLICA},
};

const char *server_role_name(enum server_role role) {
    ASSERT(role <= SERVER_ROLE_REPLICA);
    if (role == SERVER_ROLE_PARTICIPANT) return "participant";
    for (u32 index = 0; index < ARRAY_COUNT(tls_roles); index++) {
        if (tls_roles[index].role == role) return tls_roles[index].name;
    }
    ASSERT(false);
    return "";
}

void server_identity_operator(struct server_identity *identity) {
    ASSERT(identity != NULL);
    memset(identity, 0, sizeof(*identity));
    identity->role = SERVER_ROLE_OPERATOR;
    memcpy(identity->actor, "operator", sizeof("operator"));
    ASSERT(identity->actor[SERVER_IDENTITY_BYTES - 1] == '\0');
}

bool server_identity_from_name(const char *name, size_t length,
                               struct server_identity *identity, const char **reason) {
    ASSERT(name != NULL && identity != NULL);
    ASSERT(reason != NULL);
    memset(identity, 0, sizeof(*identity));
    *reason = NULL;
    if (memchr(name, '\0', length) != NULL) {
        *reason = "the common name holds a NUL byte";
        return false;
    }
    for (u32 index = 0; index < ARRAY_COUNT(tls_roles); index++) {
        if (length == strlen(tls_roles[index].name) &&
            memcmp(name, tls_roles[index].name, length) == 0) {
            identity->role = tls_roles[index].role;
            memcpy(identity->actor, name, length);
            return true;
        }
    }
    char bic[KHORGOS_BIC_BYTES] = {0};
    if ((length != 8 && length != 11) || (memcpy(bic, name, length), !settle_bic_normalize(bic))) {
        *reason = "the common name is neither a BIC (8 or 11 characters) nor operator, auditor "
                  "or replica";
        return false;
    }
    identity->role = SERVER_ROLE_PARTICIPANT;
    memcpy(identity->actor, bic, KHORGOS_BIC_BYTES);
    ASSERT(identity->actor[KHORGOS_BIC_BYTES] == '\0');
    return true;
}

/* The earliest OpenSSL error on this thread's queue as text (the queue is then cleared). */
static void tls_error_text(char *text, size_t size) {
    ASSERT(text != NULL && size > 0);
    unsigned long code = ERR_get_error();
    const char *reason = code != 0 ? ERR_reason_error_string(code) : NULL;
    if (reason != NULL) {
        snprintf(text, size, "%s", reason);
    } else if (code != 0) {
        ERR_error_string_n(code, text, size);
    } else {
        snprintf(text, size, "unknown error");
    }
    ERR_clear_error();
    ASSERT(text[0] != '\0');
}

static bool tls_crl_load(SSL_CTX *context, const char *path) {
    ASSERT(context != NULL && path != NULL);
    X509_STORE *store = SSL_CTX_get_cert_store(context);
    X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (lookup == NULL || X509_load_crl_file(lookup, path, X509_FILETYPE_PEM) < 1) return false;
    ASSERT(store != NULL);
    return X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK) == 1;
}

/* Which file failed to load, or NULL when all did. */
static const char *tls_context_fill(const struct server_tls *tls, SSL_CTX *context) {
    ASSERT(tls != NULL && context != NULL);
    ASSERT(tls->cert != NULL && tls->key != NULL && tls->ca != NULL);
    if (SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(context, TLS1_3_VERSION) != 1) {
        return "TLS 1.3";
    }
    SSL_CTX_set_num_tickets(context, 0);
    SSL_CTX_set_options(context, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    if (SSL_CTX_use_certificate_chain_file(context, tls->cert) != 1) return tls->cert;
    if (SSL_CTX_use_PrivateKey_file(context, tls->key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(context) != 1) {
        return tls->key;
    }
    if (SSL_CTX_load_verify_locations(context, tls->ca, NULL) != 1) return tls->ca;
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(tls->ca);
    if (names == NULL) return tls->ca;
    SSL_CTX_set_client_CA_list(context, names);
    if (tls->crl != NULL && !tls_crl_load(context, tls->crl)) return tls->crl;
    return NULL;
}

/* A new context from the files; NULL with the reason (the file and OpenSSL's error). */
static SSL_CTX *tls_context_load(const struct server_tls *tls, char *reason, size_t size) {
    ASSERT(tls != NULL && reason != NULL);
    ERR_clear_error();
    SSL_CTX *context = SSL_CTX_new(TLS_server_method());
    const char *failed = context == NULL ? "an OpenSSL context" : tls_context_fill(tls, context);
    if (failed == NULL) return context;
    char error[TLS_REASON_BYTES];
    tls_error_text(error, sizeof(error));
    snprintf(reason, size, "%s: %s", failed, error);
    SSL_CTX_free(context);
    ASSERT(reason[0] != '\0');
    return NULL;
}

khorgos_error server_tls_open(const struct server_options *options, struct server_tls **tls) {
    ASSERT(options != NULL && tls != NULL);
    ASSERT(options->tls_cert != NULL && options->tls_key != NULL && options->tls_ca != NULL);
    *tls = calloc(1, sizeof(**tls));
    if (*tls == NULL) return KHORGOS_ERROR_out_of_memory;
    **tls = (struct server_tls){.cert = options->tls_cert, .key = options->tls_key,
                                .ca = options->tls_ca, .crl = options->tls_crl};
    char reason[2 * TLS_REASON_BYTES];
    (*tls)->context = tls_context_load(*tls, reason, sizeof(reason));
    if ((*tls)->context == NULL) {
        server_log("event=refused reason=\"TLS: %s\"", reason);
        free(*tls);
        *tls = NULL;
        return KHORGOS_ERROR_invalid_argument;
    }
    (*tls)->loads = 1;
    server_log("event=tls protocol=TLSv1.3 client_certificate=required cert=%s ca=%s crl=%s",
               options->tls_cert, options->tls_ca,
               options->tls_crl != NULL ? options->tls_crl : "none");
    return KHORGOS_ERROR_ok;
}

void server_tls_close(struct server_tls *tls) {
    if (tls == NULL) return;
    ASSERT(tls->context != NULL);
    ASSERT(tls->loads > 0);
    SSL_CTX_free(tls->context);
    free(tls);
}

void server_tls_reload(struct server_tls *tls) {
    ASSERT(tls != NULL && tls->context != NULL);
    char reason[2 * TLS_REASON_BYTES];
    SSL_CTX *context = tls_context_load(tls, reason, sizeof(reason));
    if (context == NULL) {
        server_log("event=reload_failed reason=\"TLS: %s\" kept=previous", reason);
        return;
    }
    SSL_CTX_free(tls->context); /* connections using it hold their own reference */
    tls->context = context;
    tls->loads++;
    server_log("event=reloaded cert=%s ca=%s crl=%s loads=%llu", tls->cert, tls->ca,
               tls->crl != NULL ? tls->crl : "none", (unsigned long long)tls->loads);
    ASSERT(tls->loads > 1);
}

bool server_tls_accept(struct server_tls *tls, struct server_connection *connection) {
    ASSERT(tls != NULL && connection != NULL);
    ASSERT(connection->tls == NULL);
    struct server_tls_stream *stream = calloc(1, sizeof(*stream));
    if (stream == NULL) return false;
    stream->ssl = SSL_new(tls->context);
    stream->in = BIO_new(BIO_s_mem());
    stream->out = BIO_new(BIO_s_mem());
    if (stream->ssl == NULL || stream->in == NULL || stream->out == NULL) {
        BIO_free(stream->in);
        BIO_free(stream->out);
        SSL_free(stream->ssl);
        free(stream);
        ERR_clear_error();
        return false;
    }
    BIO_set_mem_eof_return(stream->in, -1); /* empty means "wait for more", not the end */
    SSL_set_bio(stream->ssl, stream->in, stream->out);
    SSL_set_accept_state(stream->ssl);
    connection->tls = stream;
    return true;
}

void server_tls_free(struct server_connection *connection) {
    ASSERT(connection != NULL);
    struct server_tls_stream *stream = connection->tls;
    if (stream == NULL) return;
    ASSERT(stream->ssl != NULL);
    SSL_free(stream->ssl);
    free(stream);
    connection->tls = NULL;
}

/* Writes whatever OpenSSL put in `out` to the socket. */
static void tls_flush(struct server_connection *connection) {
    struct server_tls_stream *stream = connection->tls;
    ASSERT(stream != NULL);
    size_t pending = BIO_ctrl_pending(stream->out);
    if (pending == 0) return;
    ASSERT(pending <= INT32_MAX);
    u8 *bytes = malloc(pending);
    if (bytes == NULL) {
        server_connection_close(connection, "out of memory for TLS records");
        return;
    }
    int taken = BIO_read(stream->out, bytes, (int)pending);
    ASSERT(taken == (int)pending);
    server_connection_write(connection, bytes, (u32)taken);
}

/* Why a TLS call failed: the certificate's verification result when that failed, else
 * OpenSSL's error. */
static void tls_failure(struct server_connection *connection, const char *stage, int result) {
    SSL *ssl = connection->tls->ssl;
    ASSERT(ssl != NULL && stage != NULL);
    int error = SSL_get_error(ssl, result);
    long verify = SSL_get_verify_result(ssl);
    char text[TLS_REASON_BYTES], reason[2 * TLS_REASON_BYTES];
    if (verify != X509_V_OK) {
        snprintf(text, sizeof(text), "client certificate: %s",
                 X509_verify_cert_error_string(verify));
        ERR_clear_error();
    } else if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        snprintf(text, sizeof(text), "the peer ended the stream");
    } else {
        tls_error_text(text, sizeof(text));
    }
    snprintf(reason, sizeof(reason), "TLS %s: %s", stage, text);
    tls_flush(connection); /* an alert, if OpenSSL wrote one */
    server_connection_close(connection, reason);
}

/* Copies a certificate name for a log line: printable ASCII, quotes and backslashes as '?'. */
static void tls_name_printable(const u8 *name, int length, char *out, size_t size) {
    ASSERT(out != NULL && size > 1);
    size_t count = 0;
    for (int index = 0; index < length && count + 1 < size; index++) {
        u8 c = name[index];
        out[count++] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : (char)c;
    }
    out[count] = '\0';
    ASSERT(count < size);
}

/* The identity in the peer's certificate; false with the reason in `reason`. */
static bool tls_peer_identity(SSL *ssl, struct server_identity *identity, char *reason,
                              size_t size) {
    ASSERT(ssl != NULL && identity != NULL);
    ASSERT(reason != NULL);
    X509 *certificate = SSL_get0_peer_certificate(ssl);
    X509_NAME *subject = certificate != NULL ? X509_get_subject_name(certificate) : NULL;
    int index = subject != NULL ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
    if (index < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0) {
        snprintf(reason, size, "identity refused: the certificate's subject needs one CN");
        return false;
    }
    const ASN1_STRING *data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char *name = NULL;
    int length = ASN1_STRING_to_UTF8(&name, data);
    if (length < 0) {
        ERR_clear_error();
        snprintf(reason, size, "identity refused: the CN is not text");
        return false;
    }
    const char *why = NULL;
    bool known = server_identity_from_name((const char *)name, (size_t)length, identity, &why);
    if (!known) {
        char printable[64];
        tls_name_printable(name, length, printable, sizeof(printable));
        snprintf(reason, size, "identity refused: CN '%s': %s", printable, why);
    }
    OPENSSL_free(name);
    return known;
}

/* Advances the handshake; true once it is done and the identity is known. */
static bool tls_handshake(struct server_connection *connection) {
    SSL *ssl = connection->tls->ssl;
    ASSERT(ssl != NULL && !connection->established);
    ERR_clear_error();
    int result = SSL_do_handshake(ssl);
    if (result != 1) {
        if (SSL_get_error(ssl, result) == SSL_ERROR_WANT_READ) {
            tls_flush(connection);
            return false;
        }
        tls_failure(connection, "handshake", result);
        return false;
    }
    tls_flush(connection);
    char reason[2 * TLS_REASON_BYTES];
    if (!tls_peer_identity(ssl, &connection->identity, reason, sizeof(reason))) {
        server_connection_close(connection, reason);
        return false;
    }
    connection->established = true;
    connection->active_ms = uv_now(&connection->server->loop);
    server_log("event=tls_established connection=%llu identity=%s role=%s protocol=%s "
               "cipher=%s", (unsigned long long)connection->id, connection->identity.actor,
               server_role_name(connection->identity.role), SSL_get_version(ssl),
               SSL_get_cipher_name(ssl));
    ASSERT(connection->identity.actor[0] != '\0');
    return true;
}

void server_tls_receive(struct server_connection *connection, u32 count) {
    struct server_tls_stream *stream = connection->tls;
    ASSERT(stream != NULL && count > 0);
    ASSERT(connection->buffer_filled + count <= connection->buffer_capacity);
    if (BIO_write(stream->in, connection->buffer + connection->buffer_filled, (int)count) !=
        (int)count) {
        server_connection_close(connection, "out of memory for TLS records");
        return;
    }
    if (!connection->established && !tls_handshake(connection)) return;
    while (!connection->closing) {
        if (connection->buffer_filled == connection->buffer_capacity) {
            server_connection_close(connection, "no room for a message");
            return;
        }
        ERR_clear_error();
        int got = SSL_read(stream->ssl, connection->buffer + connection->buffer_filled,
                           (int)(connection->buffer_capacity - connection->buffer_filled));
        if (got <= 0) {
            int error = SSL_get_error(stream->ssl, got);
            if (error == SSL_ERROR_WANT_READ) {
                tls_flush(connection);
            } else if (error == SSL_ERROR_ZERO_RETURN) {
                server_connection_close(connection, "end of stream");
            } else {
                tls_failure(connection, "read", got);
            }
            return;
        }
        connection->buffer_filled += (u32)got;
        server_connection_parse(connection);
    }
}

void server_tls_send(struct server_connection *connection, const void *bytes, u32 size) {
    struct server_tls_stream *stream = connection->tls;
    ASSERT(stream != NULL && bytes != NULL);
    ASSERT(connection->established);
    if (connection->closing) return;
    ERR_clear_error();
    int wrote = SSL_write(stream->ssl, bytes, (int)size);
    if (wrote != (int)size) {
        tls_failure(connection, "write", wrote);
        return;
    }
    tls_flush(connection);
}
