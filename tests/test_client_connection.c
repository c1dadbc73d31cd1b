/* test_client_connection.c: the C client library (include/khorgos_client.h) against the
 * server (`server_run` in a child process, clock manual) and against small fakes in threads:
 * settlement operations and advance_clock over the wire, with an engine refusal answered (not
 * evicted) and the session going on; ledger operations wrapped and unwrapped; a dead first
 * address skipped; a reply lost with its connection, the same request sent again on the next
 * connection and answered from the session (applied once: `created`, not `exists`); a server
 * that never answers gives `timeout`; a notification reaches its callback and an eviction fails
 * the request in flight and every later one; an advance_clock whose reply was lost moves the
 * clock once. The server and the fakes take port 0 (the server's port read from its log), so
 * that runs at once never collide; every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "khorgos_client.h"
#include "server/server.h"

#define WAIT_MS 5000
#include "server_client.h" /* connect_port, server_log_port */

static char directory[64];
static char log_path[80];
static pid_t child;
static u16 port_server; /* the server's, read from its log */

/* A listening socket on a loopback port the system chose; *port says which. */
static int listen_on(u16 *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t length = sizeof(address);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    *port = ntohs(address.sin_port);
    assert_true(*port != 0);
    return fd;
}

/* A loopback port nothing listens on: one the system chose, released. */
static u16 dead_port(void) {
    u16 port = 0;
    close(listen_on(&port));
    return port;
}

/* "PORT" or "PORT,PORT" in `text` (static: what client_open is given). */
static const char *ports_text(u16 first, u16 second) {
    static char text[32];
    int length = second != 0 ? snprintf(text, sizeof(text), "%u,%u", first, second)
                             : snprintf(text, sizeof(text), "%u", first);
    assert_true(length > 0 && (size_t)length < sizeof(text));
    return text;
}

static int setup(void **state) {
    (void)state;
    snprintf(directory, sizeof(directory), "/tmp/khorgos-test-client-XXXXXX");
    assert_non_null(mkdtemp(directory));
    assert_int_equal(rmdir(directory), 0);
    snprintf(log_path, sizeof(log_path), "%s.log", directory);
    struct khorgos_config config = {.account_count_max = 1024, .transfer_count_max = 1024};
    assert_int_equal(khorgos_format(directory, &config), KHORGOS_ERROR_ok);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (freopen(log_path, "w", stderr) == NULL) _exit(1);
        struct server_options options = {.data_directory = directory,
                                         .address = "127.0.0.1:0", .clock_manual = true};
        _exit(server_run(&options) == KHORGOS_ERROR_ok ? 0 : 1);
    }
    port_server = server_log_port(log_path, false, WAIT_MS);
    close(connect_port(port_server, WAIT_MS));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    assert_int_equal(kill(child, SIGTERM), 0);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    char command[192];
    snprintf(command, sizeof(command), "rm -rf %s %s", directory, log_path);
    assert_int_equal(system(command), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}

static struct khorgos_client *client_open(const char *addresses, u64 timeout_ns) {
    struct khorgos_client_options options = {.addresses = addresses,
                                             .request_timeout_ns = timeout_ns,
                                             .retry_ns = 200000000ull};
    struct khorgos_client *client = NULL;
    assert_int_equal(khorgos_client_open(&client, &options), KHORGOS_ERROR_ok);
    return client;
}

static khorgos_error execute(struct khorgos_client *client, u8 operation, const void *body,
                             u32 body_size, void *reply, u32 reply_capacity, u32 *reply_size) {
    struct khorgos_client_call request = {.operation = operation, .body = body,
                                             .body_size = body_size, .reply = reply,
                                             .reply_capacity = reply_capacity};
    khorgos_error error = khorgos_client_execute(client, &request);
    if (reply_size != NULL) *reply_size = request.reply_size;
    return error;
}

static void test_settlement_and_clock(void **state) {
    (void)state;
    u16 dead = dead_port(); /* the first address: nothing listens there */
    char addresses[48];
    snprintf(addresses, sizeof(addresses), "127.0.0.1:%u,%u", dead, port_server);
    struct khorgos_client *client = client_open(addresses, 0);
    struct khorgos_participant participant = {.bic = "HSBKKZKXXXX", .country = "KZ",
                                              .role = KHORGOS_ROLE_BANK, .name = "Halyk"};
    participant.currencies[0] = 398;
    struct khorgos_settle_result result = {0};
    u32 reply_size = 0;
    assert_int_equal(execute(client, KHORGOS_OPERATION_CREATE_PARTICIPANTS, &participant,
                             sizeof(participant), &result, sizeof(result), &reply_size),
                     KHORGOS_ERROR_ok);
    assert_int_equal(reply_size, sizeof(result));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    /* The register took the clock's first timestamp: it is a journaled engine request. */
    assert_int_equal(result.timestamp, KHORGOS_MANUAL_CLOCK_START_NS + 1);
    /* A body that is not whole records: the engine's error, answered; the session goes on. */
    assert_int_equal(execute(client, KHORGOS_OPERATION_CREATE_PARTICIPANTS, &participant, 100,
                             &result, sizeof(result), &reply_size),
                     KHORGOS_ERROR_body_size);
    assert_int_equal(reply_size, 0);
    u64 seconds_ns = 60ull * 1000000000ull;
    u64 now = 0;
    assert_int_equal(execute(client, KHORGOS_CLIENT_ADVANCE_CLOCK, &seconds_ns,
                             sizeof(seconds_ns), &now, sizeof(now), &reply_size),
                     KHORGOS_ERROR_ok);
    assert_int_equal(now, KHORGOS_MANUAL_CLOCK_START_NS + seconds_ns);
    u64 too_far = U64_MAX;
    assert_int_equal(execute(client, KHORGOS_CLIENT_ADVANCE_CLOCK, &too_far, sizeof(too_far),
                             &now, sizeof(now), NULL),
                     KHORGOS_ERROR_invalid_argument);
    struct khorgos_settle_filter filter = {.bic = "HSBKKZKX"};
    struct khorgos_position positions[4];
    assert_int_equal(execute(client, KHORGOS_OPERATION_GET_POSITIONS, &filter, sizeof(filter),
                             positions, sizeof(positions), &reply_size),
                     KHORGOS_ERROR_ok);
    assert_int_equal(reply_size, sizeof(positions[0]));
    assert_int_equal(positions[0].currency, 398);
    khorgos_client_close(client);
}

/* A proxy that forwards one connection and, on the first reply that is not register's, drops
 * that reply and both connections. */
static bool read_message(int fd, u8 *buffer) {
    size_t done = 0;
    size_t size = CLIENT_HEADER_BYTES;
    while (done < size) {
        struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
        if (poll(&poll_fd, 1, WAIT_MS) != 1) return false;
        ssize_t count = read(fd, buffer + done, size - done);
        if (count <= 0) return false;
        done += (size_t)count;
        if (done >= CLIENT_HEADER_BYTES) memcpy(&size, buffer + 96, sizeof(u32));
        size &= 0xFFFFFFFFu;
    }
    return true;
}

/* The next request, answering the pings before it as a single node does (view 0). */
static bool read_request(int fd, u8 *buffer) {
    while (read_message(fd, buffer)) {
        struct client_header header;
        memcpy(&header, buffer, sizeof(header));
        if (header.command != CLIENT_COMMAND_PING_CLIENT) return true;
        struct client_header pong;
        client_pong_init(&pong, &header);
        client_header_seal(&pong, NULL);
        if (write(fd, &pong, sizeof(pong)) != (ssize_t)sizeof(pong)) return false;
    }
    return false;
}

static void *proxy_thread(void *argument) {
    int listener = *(int *)argument;
    int downstream = accept(listener, NULL, NULL);
    int upstream = connect_port(port_server, WAIT_MS);
    u8 *buffer = malloc(CLIENT_MESSAGE_BYTES_MAX);
    for (;;) {
        if (!read_message(downstream, buffer)) break;
        struct client_header header;
        memcpy(&header, buffer, sizeof(header));
        ssize_t written = write(upstream, buffer, header.size);
        if (written != (ssize_t)header.size || !read_message(upstream, buffer)) break;
        memcpy(&header, buffer, sizeof(header));
        bool pong = header.command == CLIENT_COMMAND_PONG_CLIENT;
        if (!pong && header.reply.operation != CLIENT_OPERATION_REGISTER) {
            break; /* the reply is lost */
        }
        written = write(downstream, buffer, header.size);
        if (written != (ssize_t)header.size) break;
    }
    free(buffer);
    close(downstream);
    close(upstream);
    return NULL;
}

static void test_retry_after_lost_reply(void **state) {
    (void)state;
    u16 port_proxy = 0;
    int listener = listen_on(&port_proxy);
    pthread_t proxy;
    assert_int_equal(pthread_create(&proxy, NULL, proxy_thread, &listener), 0);
    struct khorgos_client *client =
        client_open(ports_text(port_proxy, port_server), 10000000000ull);
    struct khorgos_account account = {.id = 77, .ledger = 398, .code = 1};
    struct khorgos_create_result result = {0};
    u32 reply_size = 0;
    assert_int_equal(execute(client, KHORGOS_CLIENT_CREATE_ACCOUNTS, &account, sizeof(account),
                             &result, sizeof(result), &reply_size),
                     KHORGOS_ERROR_ok);
    assert_int_equal(reply_size, sizeof(result));
    /* The server applied it once (through the proxy) and answered the retry from the session:
     * created, in TigerBeetle's number; a second execution would say exists (21). */
    assert_int_equal(result.status, 4294967295u);
    assert_int_equal(execute(client, KHORGOS_CLIENT_CREATE_ACCOUNTS, &account, sizeof(account),
                             &result, sizeof(result), &reply_size),
                     KHORGOS_ERROR_ok);
    assert_int_equal(result.status, 21u);
    khorgos_client_close(client);
    pthread_join(proxy, NULL);
    close(listener);
}

/* advance_clock is recorded in the session: its reply lost, the retry on the next connection
 * gets the first reply and the clock moved once. */
static void test_clock_retry_after_lost_reply(void **state) {
    (void)state;
    struct khorgos_client *direct = client_open(ports_text(port_server, 0), 0);
    u64 zero = 0, second_ns = 1000000000ull, before = 0, now = 0;
    assert_int_equal(execute(direct, KHORGOS_CLIENT_ADVANCE_CLOCK, &zero, sizeof(zero), &before,
                             sizeof(before), NULL),
                     KHORGOS_ERROR_ok);
    u16 port_proxy = 0;
    int listener = listen_on(&port_proxy);
    pthread_t proxy;
    assert_int_equal(pthread_create(&proxy, NULL, proxy_thread, &listener), 0);
    struct khorgos_client *client =
        client_open(ports_text(port_proxy, port_server), 10000000000ull);
    assert_int_equal(execute(client, KHORGOS_CLIENT_ADVANCE_CLOCK, &second_ns, sizeof(second_ns),
                             &now, sizeof(now), NULL),
                     KHORGOS_ERROR_ok);
    assert_true(now == before + second_ns);
    assert_int_equal(execute(client, KHORGOS_CLIENT_ADVANCE_CLOCK, &zero, sizeof(zero), &now,
                             sizeof(now), NULL),
                     KHORGOS_ERROR_ok);
    assert_true(now == before + second_ns); /* executed again, it would be 2 s on */
    khorgos_client_close(client);
    khorgos_client_close(direct);
    pthread_join(proxy, NULL);
    close(listener);
}

static void test_timeout(void **state) {
    (void)state;
    u16 port_silent = 0;
    int listener = listen_on(&port_silent); /* accepts in the kernel, never answers */
    struct khorgos_client *client = client_open(ports_text(port_silent, 0), 300000000ull);
    struct khorgos_account account = {.id = 1, .ledger = 398, .code = 1};
    struct khorgos_create_result result;
    u64 start = base_clock_monotonic_ns();
    assert_int_equal(execute(client, KHORGOS_CLIENT_CREATE_ACCOUNTS, &account, sizeof(account),
                             &result, sizeof(result), NULL),
                     KHORGOS_ERROR_timeout);
    u64 waited_ns = base_clock_monotonic_ns() - start;
    assert_true(waited_ns >= 300000000ull && waited_ns < 2000000000ull);
    khorgos_client_close(client);
    close(listener);
}

/* A server that closes every connection at once (as one of another cluster does): counts the
 * connections it accepted until *stop. */
struct closer {
    int listener;
    volatile int stop;
    u32 accepted;
};

static void *closer_thread(void *argument) {
    struct closer *closer = argument;
    while (!closer->stop) {
        struct pollfd descriptor = {.fd = closer->listener, .events = POLLIN};
        if (poll(&descriptor, 1, 20) <= 0) continue;
        int fd = accept(closer->listener, NULL, NULL);
        if (fd < 0) continue;
        closer->accepted++;
        close(fd);
    }
    return NULL;
}

/* The client pauses retry_ns / 4 once every address has failed in turn, rather than
 * reconnecting in a tight loop: with one address and a retry of 200 ms, a second of a server
 * that closes each connection sees at most about 20 connections (thousands without it). */
static void test_reconnect_paced(void **state) {
    (void)state;
    struct closer closer = {0};
    u16 port_closer = 0;
    closer.listener = listen_on(&port_closer);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, closer_thread, &closer), 0);
    struct khorgos_client *client = client_open(ports_text(port_closer, 0), 1000000000ull);
    struct khorgos_account account = {.id = 1, .ledger = 398, .code = 1};
    struct khorgos_create_result result;
    assert_int_equal(execute(client, KHORGOS_CLIENT_CREATE_ACCOUNTS, &account, sizeof(account),
                             &result, sizeof(result), NULL),
                     KHORGOS_ERROR_timeout);
    khorgos_client_close(client);
    closer.stop = 1;
    pthread_join(thread, NULL);
    close(closer.listener);
    assert_true(closer.accepted >= 2); /* it did try again */
    assert_true(closer.accepted <= 40);
}

/* A fake server: answers register, pushes a notification, then evicts the client. */
static void *fake_thread(void *argument) {
    int listener = *(int *)argument;
    int fd = accept(listener, NULL, NULL);
    u8 *buffer = malloc(CLIENT_MESSAGE_BYTES_MAX);
    struct client_header request;
    if (read_request(fd, buffer)) {
        memcpy(&request, buffer, sizeof(request));
        struct client_register_result body = {.batch_size_limit = CLIENT_BODY_BYTES_MAX};
        struct client_header reply;
        client_reply_init(&reply, &request, 1, 1, sizeof(body));
        client_header_seal(&reply, &body);
        memcpy(buffer, &reply, sizeof(reply));
        memcpy(buffer + sizeof(reply), &body, sizeof(body));
        ssize_t written = write(fd, buffer, reply.size);
        u8 note[16] = "camt.054";
        struct client_header notification = {.cluster = 0, .release = CLIENT_RELEASE_SERVER,
                                             .command = CLIENT_COMMAND_NOTIFICATION};
        notification.size = CLIENT_HEADER_BYTES + sizeof(note);
        notification.notification.client = request.request.client;
        notification.notification.sequence = 1;
        notification.notification.kind = 7;
        client_header_seal(&notification, note);
        memcpy(buffer, &notification, sizeof(notification));
        memcpy(buffer + sizeof(notification), note, sizeof(note));
        written = write(fd, buffer, notification.size);
        if (read_request(fd, buffer)) { /* the first request: evicted */
            struct client_header eviction;
            client_eviction_init(&eviction, 0, request.request.client,
                                 CLIENT_EVICTION_no_session);
            client_header_seal(&eviction, NULL);
            written = write(fd, &eviction, sizeof(eviction));
        }
        (void)written;
    }
    usleep(100 * 1000);
    free(buffer);
    close(fd);
    return NULL;
}

struct notified {
    u32 kind;
    u64 sequence;
    char body[16];
};

static void on_notification(void *context, u32 kind, u64 sequence, const void *body, u32 size) {
    struct notified *notified = context;
    notified->kind = kind;
    notified->sequence = sequence;
    memcpy(notified->body, body, MIN(size, sizeof(notified->body)));
}

static void test_notification_and_eviction(void **state) {
    (void)state;
    u16 port_fake = 0;
    int listener = listen_on(&port_fake);
    pthread_t fake;
    assert_int_equal(pthread_create(&fake, NULL, fake_thread, &listener), 0);
    struct notified notified = {0};
    struct khorgos_client_options options = {.addresses = ports_text(port_fake, 0),
                                             .request_timeout_ns = 5000000000ull,
                                             .on_notification = on_notification,
                                             .context = &notified};
    struct khorgos_client *client = NULL;
    assert_int_equal(khorgos_client_open(&client, &options), KHORGOS_ERROR_ok);
    u128 id = 5;
    struct khorgos_account account;
    assert_int_equal(execute(client, KHORGOS_CLIENT_LOOKUP_ACCOUNTS, &id, sizeof(id), &account,
                             sizeof(account), NULL),
                     KHORGOS_ERROR_evicted);
    assert_int_equal(notified.kind, 7);
    assert_int_equal(notified.sequence, 1);
    assert_string_equal(notified.body, "camt.054");
    assert_int_equal(execute(client, KHORGOS_CLIENT_LOOKUP_ACCOUNTS, &id, sizeof(id), &account,
                             sizeof(account), NULL),
                     KHORGOS_ERROR_evicted);
    khorgos_client_close(client);
    pthread_join(fake, NULL);
    close(listener);
}

static void test_options_refused(void **state) {
    (void)state;
    struct khorgos_client *client = NULL;
    const char *bad[] = {"", "127.0.0.1:", "host:80", "1.2.3.4:70000", "4452,"};
    for (size_t index = 0; index < ARRAY_COUNT(bad); index++) {
        struct khorgos_client_options options = {.addresses = bad[index]};
        assert_int_equal(khorgos_client_open(&client, &options), KHORGOS_ERROR_invalid_argument);
        assert_null(client);
    }
    struct khorgos_client_options tls = {.addresses = "4452", .tls_ca = "ca.crt"};
    assert_int_equal(khorgos_client_open(&client, &tls), KHORGOS_ERROR_invalid_argument);
    u8 checksum[16];
    khorgos_client_checksum(NULL, 0, checksum);
    u128 empty = 0;
    memcpy(&empty, checksum, sizeof(empty));
    assert_true(empty == (((u128)0x49F174618255402Dull << 64) | 0xE6E7E3C40D60CC83ull));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settlement_and_clock),
        cmocka_unit_test(test_retry_after_lost_reply),
        cmocka_unit_test(test_clock_retry_after_lost_reply),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_reconnect_paced),
        cmocka_unit_test(test_notification_and_eviction),
        cmocka_unit_test(test_options_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
