/* test_server_tls.c: the server's mutual TLS and its limits, over 127.0.0.1, with a small TLS
 * client on OpenSSL and the wire encoder of src/client/. Certificates come from
 * scripts/dev-ca.sh (run from the repository's root, as make test does).
 *
 * TLS: a client with a certificate from the CA registers, and the server names its identity
 * (the BIC normalised); a bank's create_accounts is refused by the engine (forbidden), the
 * operator's creates accounts; refused, with the reason logged: no client
 * certificate, a certificate from another CA, TLS 1.2, a CN that is neither a BIC nor a role,
 * and a certificate revoked by a CRL that SIGHUP loaded while the server ran (the same
 * certificate was accepted before). Limits: a TLS handshake never finished and a slow-loris
 * partial header are dropped after their timeouts; connections past --max-connections are
 * closed at accept; a header naming another cluster or protocol version, or failing its
 * checksum, closes the connection with the reason logged; 1,000 concurrent plaintext connections each register and get a
 * reply. Every wait is bounded. */
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

#define WAIT_MS 5000
#define HANDSHAKE_TIMEOUT_MS 300u
#define IDLE_TIMEOUT_MS 400u
#define MANY_CONNECTIONS 1000u

struct fixture {
    char certificates[64]; /* the CA of scripts/dev-ca.sh; "other/" holds a second CA */
    char directory[64];
    char log[80];
    u16 port;
    pid_t child;
};

static struct fixture fixture;

/* A connection: plaintext when ssl is NULL. */
struct connection {
    int fd;
    SSL_CTX *context;
    SSL *ssl;
};

static void path_of(char *path, size_t size, const char *name, const char *suffix) {
    snprintf(path, size, "%s/%s%s", fixture.certificates, name, suffix);
}

/* Waits until the server's log holds `needle`; false after `wait_ms`. */
static bool log_wait(const char *needle, int wait_ms) {
    for (int waited_ms = 0; waited_ms <= wait_ms; waited_ms += 20) {
        FILE *file = fopen(fixture.log, "r");
        if (file != NULL) {
            char line[1024];
            bool found = false;
            while (!found && fgets(line, sizeof(line), file) != NULL) {
                found = strstr(line, needle) != NULL;
            }
            fclose(file);
            if (found) return true;
        }
        usleep(20 * 1000);
    }
    return false;
}

static void server_child(bool tls, u32 connections_max, u32 idle_timeout_ms) {
    static char cert[96], key[96], ca[96], crl[96];
    path_of(cert, sizeof(cert), "server", ".crt");
    path_of(key, sizeof(key), "server", ".key");
    path_of(ca, sizeof(ca), "ca", ".crt");
    path_of(crl, sizeof(crl), "crl", ".pem");
    if (freopen(fixture.log, "w", stderr) == NULL) _exit(1);
    struct server_options options = {.data_directory = fixture.directory,
                                     .address = "127.0.0.1:0",
                                     .connections_max = connections_max,
                                     .handshake_timeout_ms = HANDSHAKE_TIMEOUT_MS,
                                     .idle_timeout_ms = idle_timeout_ms};
    if (tls) {
        options.tls_cert = cert;
        options.tls_key = key;
        options.tls_ca = ca;
        options.tls_crl = crl;
    }
    _exit(server_run(&options) == KHORGOS_ERROR_ok ? 0 : 1);
}

/* Formats a data directory and starts the server on a free port, read from its log. */
static void server_start(bool tls, u32 connections_max, u32 idle_timeout_ms) {
    snprintf(fixture.directory, sizeof(fixture.directory), "/tmp/khorgos-test-tls-XXXXXX");
    assert_non_null(mkdtemp(fixture.directory));
    assert_int_equal(rmdir(fixture.directory), 0);
    struct khorgos_config config = {.account_count_max = 1024, .transfer_count_max = 1024};
    assert_int_equal(khorgos_format(fixture.directory, &config), KHORGOS_ERROR_ok);
    snprintf(fixture.log, sizeof(fixture.log), "%s.log", fixture.directory);
    fixture.child = fork();
    assert_true(fixture.child >= 0);
    if (fixture.child == 0) server_child(tls, connections_max, idle_timeout_ms);
    assert_true(log_wait("event=serving", WAIT_MS));
    FILE *file = fopen(fixture.log, "r");
    assert_non_null(file);
    char line[1024];
    unsigned port = 0;
    while (port == 0 && fgets(line, sizeof(line), file) != NULL) {
        const char *found = strstr(line, " port=");
        if (found != NULL && strstr(line, "event=listening") != NULL) {
            sscanf(found, " port=%u", &port);
        }
    }
    fclose(file);
    assert_true(port > 0 && port <= 65535);
    fixture.port = (u16)port;
}

static int teardown(void **state) {
    (void)state;
    int status = 0;
    if (fixture.child > 0) {
        kill(fixture.child, SIGTERM);
        for (int tries = 0; tries < 100 && waitpid(fixture.child, &status, WNOHANG) == 0;
             tries++) {
            usleep(50 * 1000);
        }
        if (waitpid(fixture.child, &status, WNOHANG) == 0) {
            kill(fixture.child, SIGKILL);
            waitpid(fixture.child, &status, 0);
        }
    }
    fixture.child = 0;
    if (getenv("KHORGOS_TEST_VERBOSE") != NULL) {
        char command[128];
        snprintf(command, sizeof(command), "cat %s", fixture.log);
        assert_int_equal(system(command), 0);
    }
    char command[192];
    snprintf(command, sizeof(command), "rm -rf %s %s", fixture.directory, fixture.log);
    assert_int_equal(system(command), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}

static int socket_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(fixture.port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    struct timeval timeout = {.tv_sec = WAIT_MS / 1000};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)), 0);
    return fd;
}

/* A TLS connection presenting NAME's certificate (NULL: none) from `directory` (NULL: the
 * fixture's CA), at most TLS 1.2 when asked. The handshake's result is not checked here: in
 * TLS 1.3 the server judges the client's certificate after the client has finished. */
static void tls_connect(struct connection *connection, const char *name, const char *directory,
                        bool tls12) {
    char ca[96], cert[128], key[128];
    path_of(ca, sizeof(ca), "ca", ".crt");
    connection->context = SSL_CTX_new(TLS_client_method());
    assert_non_null(connection->context);
    if (tls12) SSL_CTX_set_max_proto_version(connection->context, TLS1_2_VERSION);
    assert_int_equal(SSL_CTX_load_verify_locations(connection->context, ca, NULL), 1);
    SSL_CTX_set_verify(connection->context, SSL_VERIFY_PEER, NULL);
    if (name != NULL) {
        snprintf(cert, sizeof(cert), "%s/%s.crt", directory ? directory : fixture.certificates,
                 name);
        snprintf(key, sizeof(key), "%s/%s.key", directory ? directory : fixture.certificates,
                 name);
        assert_int_equal(SSL_CTX_use_certificate_file(connection->context, cert,
                                                      SSL_FILETYPE_PEM), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(connection->context, key,
                                                     SSL_FILETYPE_PEM), 1);
    }
    connection->fd = socket_connect();
    connection->ssl = SSL_new(connection->context);
    assert_non_null(connection->ssl);
    SSL_set_fd(connection->ssl, connection->fd);
    SSL_connect(connection->ssl);
    ERR_clear_error();
}

static void connection_close(struct connection *connection) {
    if (connection->ssl != NULL) SSL_free(connection->ssl);
    if (connection->context != NULL) SSL_CTX_free(connection->context);
    close(connection->fd);
    memset(connection, 0, sizeof(*connection));
}

static bool connection_write(struct connection *connection, const void *bytes, u32 size) {
    if (connection->ssl != NULL) return SSL_write(connection->ssl, bytes, (int)size) == (int)size;
    return write(connection->fd, bytes, size) == (ssize_t)size;
}

/* Reads exactly `size` bytes; false on an error, the end of the stream or the timeout. */
static bool connection_read(struct connection *connection, u8 *bytes, u32 size) {
    for (u32 done = 0; done < size;) {
        int got = connection->ssl != NULL
                      ? SSL_read(connection->ssl, bytes + done, (int)(size - done))
                      : (int)read(connection->fd, bytes + done, size - done);
        if (got <= 0) {
            ERR_clear_error();
            return false;
        }
        done += (u32)got;
    }
    return true;
}

/* Sends a request of `client` and reads its reply into `reply` (a whole message); false when
 * none came. */
static bool request(struct connection *connection, struct client_header *header,
                    const void *body, u8 *reply) {
    client_header_seal(header, body);
    u32 body_bytes = header->size - CLIENT_HEADER_BYTES;
    if (!connection_write(connection, header, CLIENT_HEADER_BYTES)) return false;
    if (body_bytes > 0 && !connection_write(connection, body, body_bytes)) return false;
    if (!connection_read(connection, reply, CLIENT_HEADER_BYTES)) return false;
    struct client_header decoded;
    const char *reason = NULL;
    assert_int_equal(client_header_decode(reply, CLIENT_HEADER_BYTES, 0, &decoded, &reason),
                     KHORGOS_ERROR_ok);
    return connection_read(connection, reply + CLIENT_HEADER_BYTES,
                           decoded.size - CLIENT_HEADER_BYTES);
}

/* Registers `client`; true with the reply's header when the server answered. */
static bool register_client(struct connection *connection, u128 client,
                            struct client_header *reply) {
    struct client_register_request body = {0};
    struct client_header header;
    client_request_init(&header, 0, client, CLIENT_OPERATION_REGISTER, sizeof(body));
    u8 message[CLIENT_HEADER_BYTES + 64];
    if (!request(connection, &header, &body, message)) return false;
    memcpy(reply, message, CLIENT_HEADER_BYTES);
    return reply->command == CLIENT_COMMAND_REPLY && reply->reply.commit != 0;
}

/* Over TLS with a certificate from the CA: register, then create `count` accounts from id
 * client * 10,000 on (each status created, 0xFFFFFFFF in TigerBeetle's numbering). 1,000
 * accounts make a 128,000-byte body, more than a connection's first receive buffer. */
static void register_and_send_accounts(struct connection *connection, u128 client, u32 count,
                                       u8 *message, struct client_header *answer) {
    struct client_header reply;
    assert_true(register_client(connection, client, &reply));
    static u8 body[CLIENT_BODY_BYTES_MAX];
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, body, sizeof(body), 128);
    u32 writable_bytes = 0;
    u8 *writable = client_multi_batch_writable(&encoder, &writable_bytes);
    assert_true(count * 128 <= writable_bytes);
    for (u32 index = 0; index < count; index++) {
        struct khorgos_account account = {.id = client * 10000 + index, .ledger = 398,
                                          .code = 1};
        memcpy(writable + index * 128, &account, sizeof(account));
    }
    client_multi_batch_add(&encoder, count * 128);
    u32 body_bytes = client_multi_batch_finish(&encoder);
    struct client_header header;
    client_request_init(&header, 0, client, CLIENT_OPERATION_CREATE_ACCOUNTS, body_bytes);
    header.request.session = reply.reply.commit;
    header.request.request = 1;
    header.request.parent = reply.reply.context;
    assert_true(request(connection, &header, body, message));
    memcpy(answer, message, sizeof(*answer));
}

static void register_and_create(struct connection *connection, u128 client, u32 count) {
    static u8 message[CLIENT_MESSAGE_BYTES_MAX];
    struct client_header created;
    register_and_send_accounts(connection, client, count, message, &created);
    assert_int_equal(created.command, CLIENT_COMMAND_REPLY);
    struct client_multi_batch batches;
    const char *reason = NULL;
    assert_int_equal(client_multi_batch_decode(message + CLIENT_HEADER_BYTES,
                                               created.size - CLIENT_HEADER_BYTES, 16, &batches,
                                               &reason), KHORGOS_ERROR_ok);
    const u8 *batch = NULL;
    u32 batch_bytes = 0;
    assert_true(client_multi_batch_next(&batches, &batch, &batch_bytes));
    struct khorgos_create_result result;
    assert_int_equal(batch_bytes, count * sizeof(result));
    for (u32 index = 0; index < count; index++) {
        memcpy(&result, batch + index * sizeof(result), sizeof(result));
        assert_int_equal(result.status, 0xFFFFFFFFu);
    }
}

/* A client the server refuses: it gets no reply, and the log says why. */
static void assert_refused(const char *name, const char *directory, bool tls12,
                           const char *reason) {
    struct connection connection;
    tls_connect(&connection, name, directory, tls12);
    struct client_header reply;
    assert_false(register_client(&connection, 5, &reply));
    connection_close(&connection);
    if (!log_wait(reason, WAIT_MS)) fail_msg("no log line with: %s", reason);
}

/* A Khorgos operation the bank may not use (create_participants): answered forbidden in the
 * reply's error byte, not evicted; the session records it, so its retry gets the same reply
 * byte for byte, and the next request follows it (parent: that reply's context). */
static void tls_forbidden_plain(void) {
    struct connection connection;
    tls_connect(&connection, "BANKDEFF", NULL, false);
    struct client_header registered;
    assert_true(register_client(&connection, 3, &registered));
    struct khorgos_participant participant = {.bic = "BANKDEFFXXX", .country = "DE",
                                              .role = KHORGOS_ROLE_BANK, .name = "Bank"};
    participant.currencies[0] = 978;
    struct client_header header;
    client_request_init(&header, 0, 3, KHORGOS_OPERATION_CREATE_PARTICIPANTS,
                        sizeof(participant));
    header.request.session = registered.reply.commit;
    header.request.request = 1;
    header.request.parent = registered.reply.context;
    static u8 first[CLIENT_MESSAGE_BYTES_MAX];
    static u8 again[CLIENT_MESSAGE_BYTES_MAX];
    assert_true(request(&connection, &header, &participant, first));
    struct client_header reply;
    memcpy(&reply, first, sizeof(reply));
    assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
    assert_int_equal(client_reply_error(&reply), KHORGOS_ERROR_forbidden);
    assert_int_equal(reply.size, CLIENT_HEADER_BYTES);
    assert_true(request(&connection, &header, &participant, again));
    assert_memory_equal(first, again, CLIENT_HEADER_BYTES);
    u128 id = 1;
    client_request_init(&header, 0, 3, KHORGOS_OPERATION_LOOKUP_PAYMENTS, sizeof(id));
    header.request.session = registered.reply.commit;
    header.request.request = 2;
    header.request.parent = reply.reply.context;
    assert_true(request(&connection, &header, &id, first));
    memcpy(&reply, first, sizeof(reply));
    assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
    assert_int_equal(reply.reply.request, 2);
    assert_int_equal(client_reply_error(&reply), KHORGOS_ERROR_ok);
    connection_close(&connection);
}

/* A BIC and the operator are admitted and register; the BIC's create_accounts is forbidden,
 * the operator creates accounts (1,000 in
 * one 128,000-byte message, decrypted across many TLS records into a growing buffer), and are
 * logged with their identities; no certificate, another CA's, TLS 1.2 and an unknown CN are
 * refused. */
static void tls_identities(void) {
    struct connection connection;
    tls_connect(&connection, "BANKDEFF", NULL, false);
    /* create_accounts is the operator's: the engine refuses the bank's (forbidden), and the
     * server evicts the client (an operation it may not send), a reply without its results
     * reading as success. */
    static u8 message[CLIENT_MESSAGE_BYTES_MAX];
    struct client_header refused;
    register_and_send_accounts(&connection, 1, 1, message, &refused);
    assert_int_equal(refused.command, CLIENT_COMMAND_EVICTION);
    assert_int_equal(refused.eviction.reason, CLIENT_EVICTION_invalid_request_operation);
    connection_close(&connection);
    assert_true(log_wait("identity=BANKDEFFXXX role=participant protocol=TLSv1.3", WAIT_MS));
    assert_true(log_wait("error=forbidden batches=1 batches_applied=0", WAIT_MS));
    tls_forbidden_plain();
    tls_connect(&connection, "operator", NULL, false);
    register_and_create(&connection, 2, 1000);
    connection_close(&connection);
    assert_true(log_wait("identity=operator role=operator", WAIT_MS));
    char other[96];
    snprintf(other, sizeof(other), "%s/other", fixture.certificates);
    assert_refused(NULL, NULL, false, "TLS handshake: peer did not return a certificate");
    assert_refused("BANKDEFF", other, false, "TLS handshake: client certificate: unable to get");
    assert_refused("BANKDEFF", NULL, true, "TLS handshake: unsupported protocol");
    assert_refused("mallory", NULL, false, "identity refused: CN 'mallory'");
}

/* A CRL revoking BANKFRPP, loaded by SIGHUP while the server runs: BANKFRPP worked before and
 * is refused after; a connection opened before the reload goes on. */
static void tls_crl_reload(void) {
    struct connection before;
    tls_connect(&before, "BANKFRPP", NULL, false);
    struct client_header registered;
    assert_true(register_client(&before, 3, &registered));
    char command[192];
    snprintf(command, sizeof(command), "sh scripts/dev-ca.sh --revoke %s BANKFRPP >/dev/null",
             fixture.certificates);
    assert_int_equal(system(command), 0);
    assert_int_equal(kill(fixture.child, SIGHUP), 0);
    assert_true(log_wait("event=reloaded", WAIT_MS));
    assert_true(log_wait("loads=2", WAIT_MS));
    assert_refused("BANKFRPP", NULL, false, "client certificate: certificate revoked");
    struct client_header ping = {0};
    ping.size = CLIENT_HEADER_BYTES;
    ping.release = CLIENT_RELEASE_MAX;
    ping.command = CLIENT_COMMAND_PING_CLIENT;
    ping.ping.client = 3;
    u8 pong[CLIENT_HEADER_BYTES];
    assert_true(request(&before, &ping, NULL, pong));
    connection_close(&before);
    tls_connect(&before, "BANKDEFF", NULL, false);
    assert_true(register_client(&before, 4, &registered));
    connection_close(&before);
}

/* One server for both (each start costs a format and an open). */
static void test_tls_identities_and_crl_reload(void **state) {
    (void)state;
    server_start(true, 0, WAIT_MS * 4);
    tls_identities();
    tls_crl_reload();
}

static u64 now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (u64)now.tv_sec * 1000 + (u64)now.tv_nsec / 1000000;
}

/* Waits until the server closes the connection (at most WAIT_MS). */
static void wait_closed(struct connection *connection) {
    u8 byte = 0;
    struct pollfd poll_fd = {.fd = connection->fd, .events = POLLIN};
    assert_int_equal(poll(&poll_fd, 1, WAIT_MS), 1);
    assert_true(read(connection->fd, &byte, 1) <= 0);
}

/* A TCP connection that never starts its TLS handshake, and one that sends half a
 * ClientHello, are closed after the handshake timeout; a TLS client that finishes its
 * handshake, sends part of a header and stops is closed after the idle timeout. Each is
 * closed no sooner than its timeout after the connection began. */
static void test_tls_timeouts(void **state) {
    (void)state;
    server_start(true, 0, IDLE_TIMEOUT_MS);
    u64 begun_ms = now_ms();
    struct connection silent = {.fd = socket_connect()};
    struct connection partial = {.fd = socket_connect()};
    const u8 hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00};
    assert_int_equal(write(partial.fd, hello_start, sizeof(hello_start)), sizeof(hello_start));
    wait_closed(&silent);
    wait_closed(&partial);
    assert_true(now_ms() - begun_ms >= HANDSHAKE_TIMEOUT_MS);
    assert_true(log_wait("reason=\"handshake timeout\"", WAIT_MS));
    connection_close(&silent);
    connection_close(&partial);
    begun_ms = now_ms();
    struct connection loris;
    tls_connect(&loris, "BANKDEFF", NULL, false);
    u8 half[100] = {1};
    assert_true(connection_write(&loris, half, sizeof(half)));
    wait_closed(&loris);
    assert_true(now_ms() - begun_ms >= IDLE_TIMEOUT_MS);
    assert_true(log_wait("identity=BANKDEFFXXX", WAIT_MS));
    assert_true(log_wait("reason=\"idle timeout: no whole message\"", WAIT_MS));
    connection_close(&loris);
}

/* Plaintext: a slow-loris partial header is dropped after the idle timeout, counted from
 * accept. */
static void test_plaintext_slow_loris(void **state) {
    (void)state;
    server_start(false, 0, IDLE_TIMEOUT_MS);
    assert_true(log_wait("event=plaintext", WAIT_MS));
    u64 begun_ms = now_ms();
    struct connection loris = {.fd = socket_connect()};
    u8 half[100] = {1};
    assert_true(connection_write(&loris, half, sizeof(half)));
    wait_closed(&loris);
    assert_true(now_ms() - begun_ms >= IDLE_TIMEOUT_MS);
    connection_close(&loris);
    assert_true(log_wait("reason=\"idle timeout: no whole message\"", WAIT_MS));
}

/* Plaintext: the connection past --max-connections is closed at accept; a header naming
 * another cluster or another protocol version, or failing its checksum, closes its
 * connection with the reason logged. */
static void test_plaintext_limits(void **state) {
    (void)state;
    server_start(false, 3, WAIT_MS * 4);
    struct connection kept[3], extra;
    struct client_header reply;
    for (u32 index = 0; index < 3; index++) {
        kept[index] = (struct connection){.fd = socket_connect()};
        assert_true(register_client(&kept[index], 10 + index, &reply));
    }
    extra = (struct connection){.fd = socket_connect()};
    wait_closed(&extra);
    connection_close(&extra);
    assert_true(log_wait("reason=\"too many connections\"", WAIT_MS));
    struct client_header ping = {0};
    ping.size = CLIENT_HEADER_BYTES;
    ping.release = CLIENT_RELEASE_MAX;
    ping.command = CLIENT_COMMAND_PING_CLIENT;
    ping.ping.client = 10;
    ping.cluster = 7;
    u8 pong[CLIENT_HEADER_BYTES];
    assert_false(request(&kept[0], &ping, NULL, pong));
    assert_true(log_wait("reason=\"cluster is not this server's\"", WAIT_MS));
    ping.cluster = 0;
    ping.protocol = 1;
    assert_false(request(&kept[1], &ping, NULL, pong));
    assert_true(log_wait("reason=\"protocol is not 0\"", WAIT_MS));
    ping.protocol = 0;
    assert_true(request(&kept[2], &ping, NULL, pong));
    client_header_seal(&ping, NULL);
    ping.checksum ^= 1;
    assert_true(connection_write(&kept[2], &ping, sizeof(ping)));
    wait_closed(&kept[2]);
    assert_true(log_wait("reason=\"the header checksum does not match\"", WAIT_MS));
    for (u32 index = 0; index < 3; index++) connection_close(&kept[index]);
}

/* Opens `count` connections at once: connects without blocking, then waits for all (a
 * sequence of blocking connects can stall a second at a time behind a full accept queue). */
static void connect_all(struct connection *connections, u32 count) {
    static struct pollfd polls[MANY_CONNECTIONS];
    assert_true(count <= MANY_CONNECTIONS);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(fixture.port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (u32 index = 0; index < count; index++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(fd >= 0);
        int status = connect(fd, (struct sockaddr *)&address, sizeof(address));
        assert_true(status == 0 || errno == EINPROGRESS);
        connections[index] = (struct connection){.fd = fd};
        polls[index] = (struct pollfd){.fd = fd, .events = POLLOUT};
    }
    for (u32 index = 0; index < count; index++) {
        assert_int_equal(poll(&polls[index], 1, WAIT_MS), 1);
        int error = 0;
        socklen_t length = sizeof(error);
        assert_int_equal(getsockopt(polls[index].fd, SOL_SOCKET, SO_ERROR, &error, &length), 0);
        assert_int_equal(error, 0);
        assert_int_equal(fcntl(polls[index].fd, F_SETFL, 0), 0);
        struct timeval timeout = {.tv_sec = WAIT_MS / 1000};
        assert_int_equal(setsockopt(polls[index].fd, SOL_SOCKET, SO_RCVTIMEO, &timeout,
                                    sizeof(timeout)), 0);
    }
}

/* 1,000 plaintext connections open at once; each sends register before any reply is read, and
 * each gets its register reply. */
static void test_many_connections(void **state) {
    (void)state;
    struct rlimit limit;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &limit), 0);
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 2 * MANY_CONNECTIONS + 64) {
        print_message("skipped: the hard limit on open files is %llu\n",
                      (unsigned long long)limit.rlim_max);
        skip();
    }
    limit.rlim_cur = 2 * MANY_CONNECTIONS + 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &limit), 0);
    server_start(false, MANY_CONNECTIONS + 24, WAIT_MS * 4);
    static struct connection connections[MANY_CONNECTIONS];
    connect_all(connections, MANY_CONNECTIONS);
    struct client_register_request body = {0};
    for (u32 index = 0; index < MANY_CONNECTIONS; index++) {
        struct client_header header;
        client_request_init(&header, 0, 1000 + index, CLIENT_OPERATION_REGISTER, sizeof(body));
        client_header_seal(&header, &body);
        assert_true(connection_write(&connections[index], &header, sizeof(header)));
        assert_true(connection_write(&connections[index], &body, sizeof(body)));
    }
    u32 replies = 0;
    for (u32 index = 0; index < MANY_CONNECTIONS; index++) {
        u8 message[CLIENT_HEADER_BYTES + sizeof(struct client_register_result)];
        if (connection_read(&connections[index], message, sizeof(message))) {
            struct client_header reply;
            memcpy(&reply, message, sizeof(reply));
            if (reply.command == CLIENT_COMMAND_REPLY && reply.reply.client == 1000 + index) {
                replies++;
            }
        }
        connection_close(&connections[index]);
    }
    assert_int_equal(replies, MANY_CONNECTIONS);
}

static int group_setup(void **state) {
    (void)state;
    snprintf(fixture.certificates, sizeof(fixture.certificates), "/tmp/khorgos-tls-ca-XXXXXX");
    assert_non_null(mkdtemp(fixture.certificates));
    char command[512];
    snprintf(command, sizeof(command),
             "sh scripts/dev-ca.sh %s BANKDEFF BANKFRPP operator mallory >/dev/null && "
             "sh scripts/dev-ca.sh --crl %s >/dev/null && "
             "sh scripts/dev-ca.sh %s/other BANKDEFF >/dev/null",
             fixture.certificates, fixture.certificates, fixture.certificates);
    return system(command) == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", fixture.certificates);
    return system(command) == 0 ? 0 : -1;
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tls_identities_and_crl_reload, teardown),
        cmocka_unit_test_teardown(test_tls_timeouts, teardown),
        cmocka_unit_test_teardown(test_plaintext_slow_loris, teardown),
        cmocka_unit_test_teardown(test_plaintext_limits, teardown),
        cmocka_unit_test_teardown(test_many_connections, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
