/* test_server.c: the network server (src/server/) over 127.0.0.1, spoken to byte by byte with
 * src/client/: register opens a session numbered by the reply's commit; a request executes and
 * its create statuses come back in TigerBeetle's numbers; a retry of the same request gets the
 * stored reply, byte for byte, and applies nothing twice; a request with a wrong parent is
 * dropped; a client without a session is evicted (no_session); registering past the table's
 * bound evicts the oldest session; a bad checksum, or another cluster than the data
 * directory's, closes the connection; a non-loopback address is refused; SIGTERM stops the
 * server with ok. Every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/engine.h"
#include "server/server.h"

#define WAIT_MS 5000
#include "server_client.h"
#define DROP_WAIT_MS 300

struct fixture {
    char directory[64];
    char log[80]; /* the server's standard error */
    char address[32];
    u16 port;
    pid_t child;
};

static struct fixture fixture;

static int connect_server(void) {
    return connect_port(fixture.port, 5000);
}

static int setup(void **state) {
    (void)state;
    snprintf(fixture.directory, sizeof(fixture.directory), "/tmp/khorgos-test-server-XXXXXX");
    assert_non_null(mkdtemp(fixture.directory));
    assert_int_equal(rmdir(fixture.directory), 0);
    struct khorgos_config config = {.account_count_max = 1024, .transfer_count_max = 1024};
    assert_int_equal(khorgos_format(fixture.directory, &config), KHORGOS_ERROR_ok);
    fixture.port = (u16)(20000 + getpid() % 20000);
    snprintf(fixture.address, sizeof(fixture.address), "127.0.0.1:%u", fixture.port);
    fixture.child = fork();
    assert_true(fixture.child >= 0);
    snprintf(fixture.log, sizeof(fixture.log), "%s.log", fixture.directory);
    if (fixture.child == 0) {
        if (freopen(fixture.log, "w", stderr) == NULL) _exit(1);
        struct server_options options = {.data_directory = fixture.directory,
                                         .address = fixture.address};
        _exit(server_run(&options) == KHORGOS_ERROR_ok ? 0 : 1);
    }
    close(connect_server());
    return 0;
}

/* Stops the server (SIGTERM) and waits for it, at most 5 s; true when it exited 0. */
static bool server_stop(void) {
    bool stopped = server_child_stop(fixture.child);
    fixture.child = 0;
    return stopped;
}

static int teardown(void **state) {
    (void)state;
    bool stopped = fixture.child == 0 || server_stop();
    char command[192];
    snprintf(command, sizeof(command), "rm -rf %s %s", fixture.directory, fixture.log);
    assert_int_equal(system(command), 0);
    assert_true(stopped);
    return 0;
}

static void client_register(struct client *client, u128 id) {
    memset(client, 0, sizeof(*client));
    client->fd = connect_server();
    client->id = id;
    struct client_register_request body = {0};
    client_send(client, CLIENT_OPERATION_REGISTER, &body, sizeof(body));
    struct client_header reply;
    assert_true(receive(client->fd, client->message, &reply, WAIT_MS));
    assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
    assert_true(reply.reply.commit != 0 && reply.reply.op == reply.reply.commit);
    struct client_register_result result;
    memcpy(&result, client->message + CLIENT_HEADER_BYTES, sizeof(result));
    assert_int_equal(result.batch_size_limit, CLIENT_BODY_BYTES_MAX);
    client->session = reply.reply.commit;
    client->parent = reply.reply.context;
}

/* A create_accounts body of one batch holding account `id` on ledger 398. */
static u32 accounts_body(u8 *body, u32 capacity, u128 id) {
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, body, capacity, 128);
    u32 writable_bytes = 0;
    u8 *writable = client_multi_batch_writable(&encoder, &writable_bytes);
    struct khorgos_account account = {.id = id, .ledger = 398, .code = 1};
    memcpy(writable, &account, sizeof(account));
    client_multi_batch_add(&encoder, sizeof(account));
    return client_multi_batch_finish(&encoder);
}

/* The status of the reply's first create result (one batch, one result). */
static u32 reply_first_status(const u8 *message, const struct client_header *reply) {
    struct client_multi_batch batches;
    const char *reason = NULL;
    assert_int_equal(client_multi_batch_decode(message + CLIENT_HEADER_BYTES,
                                               reply->size - CLIENT_HEADER_BYTES, 16, &batches,
                                               &reason),
                     KHORGOS_ERROR_ok);
    const u8 *batch = NULL;
    u32 batch_bytes = 0;
    assert_true(client_multi_batch_next(&batches, &batch, &batch_bytes));
    assert_int_equal(batch_bytes, 16);
    struct khorgos_create_result result;
    memcpy(&result, batch, sizeof(result));
    return result.status;
}

static struct client *client_new(u128 id) {
    struct client *client = malloc(sizeof(*client));
    assert_non_null(client);
    client_register(client, id);
    return client;
}

static void client_free(struct client *client) {
    close(client->fd);
    free(client);
}

/* create_accounts executes once: a retry gets the stored reply byte for byte (a second
 * execution would answer `exists`), and the next request then executes as usual. */
static void test_request_retry_exactly_once(void **state) {
    (void)state;
    struct client *client = client_new(7);
    u8 body[512];
    u32 bytes = accounts_body(body, sizeof(body), 1);
    client->request = 1;
    client_send(client, CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    struct client_header reply;
    assert_true(receive(client->fd, client->message, &reply, WAIT_MS));
    assert_int_equal(reply.reply.request, 1);
    assert_int_equal(reply.reply.request_checksum, ((struct client_header *)client->sent)->checksum);
    assert_int_equal(reply_first_status(client->message, &reply), 0xFFFFFFFFu); /* created */
    assert_true(reply.reply.timestamp != 0);
    static u8 first[CLIENT_MESSAGE_BYTES_MAX];
    memcpy(first, client->message, reply.size);
    send_all(client->fd, client->sent, client->sent_bytes); /* the retry */
    struct client_header again;
    assert_true(receive(client->fd, client->message, &again, WAIT_MS));
    assert_int_equal(again.size, reply.size);
    assert_memory_equal(first, client->message, reply.size);
    client->parent = reply.reply.context;
    client->request = 2;
    client_send(client, CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    assert_true(receive(client->fd, client->message, &again, WAIT_MS));
    assert_int_equal(again.reply.request, 2);
    assert_int_equal(reply_first_status(client->message, &again), 21u); /* exists */
    client_free(client);
}

/* A request sent twice in one write: the copy arrives while the first is queued, so it is
 * dropped (one request in flight per client) and one reply comes; once that reply is out the
 * client has nothing in flight, and the same request again is answered from its session. */
static void test_copy_in_flight_dropped(void **state) {
    (void)state;
    struct client *client = client_new(11);
    u8 body[512];
    u32 bytes = accounts_body(body, sizeof(body), 11);
    client->request = 1;
    int server_fd = client->fd;
    client->fd = open("/dev/null", O_WRONLY); /* the request built, not sent */
    assert_true(client->fd >= 0);
    client_send(client, CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    close(client->fd);
    client->fd = server_fd;
    static u8 twice[2 * CLIENT_MESSAGE_BYTES_MAX];
    memcpy(twice, client->sent, client->sent_bytes);
    memcpy(twice + client->sent_bytes, client->sent, client->sent_bytes);
    send_all(client->fd, twice, 2 * (size_t)client->sent_bytes);
    struct client_header reply;
    assert_true(receive(client->fd, client->message, &reply, WAIT_MS));
    assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
    assert_int_equal(reply_first_status(client->message, &reply), 0xFFFFFFFFu); /* created */
    assert_false(receive(client->fd, client->message, &reply, DROP_WAIT_MS));
    send_all(client->fd, client->sent, client->sent_bytes);
    assert_true(receive(client->fd, client->message, &reply, WAIT_MS));
    assert_int_equal(reply.reply.request, 1);
    assert_int_equal(reply_first_status(client->message, &reply), 0xFFFFFFFFu); /* the same */
    client_free(client);
}

/* A request whose parent is not the last reply's context is dropped: no answer. */
static void test_wrong_parent_dropped(void **state) {
    (void)state;
    struct client *client = client_new(8);
    u8 body[512];
    u32 bytes = accounts_body(body, sizeof(body), 2);
    client->request = 1;
    client->parent ^= 1;
    client_send(client, CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    struct client_header reply;
    assert_false(receive(client->fd, client->message, &reply, DROP_WAIT_MS));
    client->parent ^= 1;
    client_send(client, CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    assert_true(receive(client->fd, client->message, &reply, WAIT_MS));
    assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
    client_free(client);
}

/* A request from a client that never registered: eviction no_session. */
static void test_no_session_evicted(void **state) {
    (void)state;
    static struct client client;
    memset(&client, 0, sizeof(client));
    client.fd = connect_server();
    client.id = 9;
    client.session = 1;
    client.request = 1;
    u8 body[512];
    u32 bytes = accounts_body(body, sizeof(body), 3);
    client_send(&client, CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    struct client_header eviction;
    assert_true(receive(client.fd, client.message, &eviction, WAIT_MS));
    assert_int_equal(eviction.command, CLIENT_COMMAND_EVICTION);
    assert_int_equal(eviction.eviction.reason, CLIENT_EVICTION_no_session);
    assert_int_equal(eviction.eviction.client, 9);
    close(client.fd);
}

/* Registers clients first .. first + count - 1, a wave of connections at a time, each wave's
 * registers sent before any reply is read, so that they share journal writes. */
static void clients_register_in_waves(u128 first, u32 count) {
    enum { WAVE = 64 };
    struct client *clients = malloc(WAVE * sizeof(*clients));
    assert_non_null(clients);
    struct client_register_request body = {0};
    for (u32 done = 0; done < count; done += WAVE) {
        u32 wave = MIN((u32)WAVE, count - done);
        for (u32 index = 0; index < wave; index++) {
            memset(&clients[index], 0, offsetof(struct client, message));
            clients[index].fd = connect_server();
            clients[index].id = first + done + index;
            client_send(&clients[index], CLIENT_OPERATION_REGISTER, &body, sizeof(body));
        }
        for (u32 index = 0; index < wave; index++) {
            struct client_header reply;
            assert_true(receive(clients[index].fd, clients[index].message, &reply, WAIT_MS));
            assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
            close(clients[index].fd);
        }
    }
    free(clients);
}

/* Registering one client more than the table holds evicts the oldest session. */
static void test_table_full_evicts_oldest(void **state) {
    (void)state;
    struct client *oldest = client_new(1000);
    clients_register_in_waves(1001, ENGINE_SESSIONS_MAX);
    u8 body[512];
    u32 bytes = accounts_body(body, sizeof(body), 4);
    oldest->request = 1;
    client_send(oldest, CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    struct client_header eviction;
    assert_true(receive(oldest->fd, oldest->message, &eviction, WAIT_MS));
    assert_int_equal(eviction.command, CLIENT_COMMAND_EVICTION);
    assert_int_equal(eviction.eviction.reason, CLIENT_EVICTION_no_session);
    client_free(oldest);
}

/* A sealed ping_client of client 5 naming `cluster`. */
static struct client_header ping_make(u128 cluster) {
    struct client_header ping = {0};
    ping.cluster = cluster;
    ping.size = CLIENT_HEADER_BYTES;
    ping.release = CLIENT_RELEASE_MAX;
    ping.command = CLIENT_COMMAND_PING_CLIENT;
    ping.ping.client = 5;
    client_header_seal(&ping, NULL);
    return ping;
}

/* A body looking up account 1 8,000 times: a reply of about 1 MiB. */
static u32 lookup_many_body(u8 *body, u32 capacity) {
    enum { IDS = 8000 };
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, body, capacity, 16);
    u32 writable_bytes = 0;
    u8 *writable = client_multi_batch_writable(&encoder, &writable_bytes);
    assert_true(writable_bytes >= IDS * 16);
    for (u32 index = 0; index < IDS; index++) {
        u128 id = 1;
        memcpy(writable + index * 16, &id, sizeof(id));
    }
    client_multi_batch_add(&encoder, IDS * 16);
    return client_multi_batch_finish(&encoder);
}

/* Replies larger than the socket takes at once (six clients of one connection, each looking
 * up 8,000 ids: 6 MiB, more than the kernel buffers between server and client, which reads
 * late) arrive whole, and a pong answered while the rest of one waits comes whole too: the
 * part written at once and the part queued keep their order, and nothing is written between
 * them (the client's framing and checksums would fail). */
static void test_large_replies_whole_and_in_order(void **state) {
    (void)state;
    enum { CLIENTS = 6 };
    struct client *clients[CLIENTS];
    clients[0] = client_new(13);
    int small_bytes = 65536; /* fixed: the kernel does not grow it as the client reads */
    assert_int_equal(setsockopt(clients[0]->fd, SOL_SOCKET, SO_RCVBUF, &small_bytes,
                                sizeof(small_bytes)), 0);
    static u8 body[CLIENT_MESSAGE_BYTES_MAX];
    u32 bytes = accounts_body(body, sizeof(body), 1);
    clients[0]->request = 1;
    client_send(clients[0], CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    struct client_header reply;
    assert_true(receive(clients[0]->fd, clients[0]->message, &reply, WAIT_MS));
    clients[0]->parent = reply.reply.context;
    for (u32 index = 1; index < CLIENTS; index++) {
        clients[index] = calloc(1, sizeof(struct client));
        assert_non_null(clients[index]);
        clients[index]->fd = clients[0]->fd;
        clients[index]->id = 13 + index;
        struct client_register_request request = {0};
        client_send(clients[index], CLIENT_OPERATION_REGISTER, &request, sizeof(request));
        assert_true(receive(clients[0]->fd, clients[0]->message, &reply, WAIT_MS));
        clients[index]->session = reply.reply.commit;
        clients[index]->parent = reply.reply.context;
    }
    bytes = lookup_many_body(body, sizeof(body));
    for (u32 index = 0; index < CLIENTS; index++) {
        clients[index]->request = index == 0 ? 2 : 1;
        client_send(clients[index], CLIENT_OPERATION_LOOKUP_ACCOUNTS, body, bytes);
    }
    /* Once the first reply begins to arrive the socket is full: the server wrote what it took
     * and queued the rest, and the pong goes behind it, never into the middle of a reply. */
    struct pollfd poll_fd = {.fd = clients[0]->fd, .events = POLLIN};
    assert_int_equal(poll(&poll_fd, 1, WAIT_MS), 1);
    usleep(100 * 1000);
    struct client_header ping = ping_make(0);
    send_all(clients[0]->fd, &ping, sizeof(ping));
    u32 replies = 0, pongs = 0;
    for (u32 index = 0; index < CLIENTS + 1; index++) {
        assert_true(receive(clients[0]->fd, clients[0]->message, &reply, WAIT_MS));
        if (reply.command == CLIENT_COMMAND_PONG_CLIENT) {
            pongs++;
            continue;
        }
        assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
        assert_int_equal(reply.reply.operation, CLIENT_OPERATION_LOOKUP_ACCOUNTS);
        assert_true(reply.size > CLIENT_MESSAGE_BYTES_MAX - 64 * 1024);
        replies++;
    }
    assert_int_equal(replies, CLIENTS);
    assert_int_equal(pongs, 1);
    for (u32 index = 1; index < CLIENTS; index++) free(clients[index]);
    client_free(clients[0]);
}

/* The server closes the connection: end of stream, no message before it. */
static void expect_closed(int fd) {
    u8 byte = 0;
    struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&poll_fd, 1, WAIT_MS), 1);
    assert_int_equal(read(fd, &byte, 1), 0);
    close(fd);
}

/* A header that fails its checksum closes the connection. */
static void test_bad_checksum_closes(void **state) {
    (void)state;
    int fd = connect_server();
    struct client_header ping = ping_make(0);
    send_all(fd, &ping, sizeof(ping));
    static u8 message[CLIENT_MESSAGE_BYTES_MAX];
    struct client_header pong;
    assert_true(receive(fd, message, &pong, WAIT_MS));
    assert_int_equal(pong.command, CLIENT_COMMAND_PONG_CLIENT);
    ping.checksum ^= 1;
    send_all(fd, &ping, sizeof(ping));
    expect_closed(fd);
}

/* A message naming another cluster than the data directory's (0 here) closes the connection. */
static void test_other_cluster_closes(void **state) {
    (void)state;
    int fd = connect_server();
    struct client_header ping = ping_make(1);
    send_all(fd, &ping, sizeof(ping));
    expect_closed(fd);
}

/* Requests from many connections at once share engine batches (and so journal writes): the
 * server's closing line counts fewer engine batches than requests. Each register is an engine
 * request too (it opens the session in the engine's table), sent one client at a time here. */
static void test_group_commit_across_connections(void **state) {
    (void)state;
    enum { CLIENTS = 32 };
    struct client *clients[CLIENTS];
    for (u32 index = 0; index < CLIENTS; index++) clients[index] = client_new(2000 + index);
    u8 body[512];
    for (u32 index = 0; index < CLIENTS; index++) {
        u32 bytes = accounts_body(body, sizeof(body), 100 + index);
        clients[index]->request = 1;
        client_send(clients[index], CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    }
    for (u32 index = 0; index < CLIENTS; index++) {
        struct client_header reply;
        assert_true(receive(clients[index]->fd, clients[index]->message, &reply, WAIT_MS));
        assert_int_equal(reply_first_status(clients[index]->message, &reply), 0xFFFFFFFFu);
        client_free(clients[index]);
    }
    assert_true(server_stop());
    FILE *log = fopen(fixture.log, "r");
    assert_non_null(log);
    char line[512];
    unsigned long long batches = 0, requests = 0;
    while (fgets(line, sizeof(line), log) != NULL) {
        if (getenv("KHORGOS_TEST_VERBOSE") != NULL) fputs(line, stdout);
        const char *stopped = strstr(line, "engine_batches=");
        if (stopped != NULL) sscanf(stopped, "engine_batches=%llu engine_requests=%llu",
                                    &batches, &requests);
    }
    fclose(log);
    print_message("engine batches %llu for %llu requests\n", batches, requests);
    assert_int_equal(requests, 2 * CLIENTS);
    assert_true(batches > CLIENTS && batches - CLIENTS <= CLIENTS / 2);
}

static void test_address_parse(void **state) {
    (void)state;
    struct sockaddr_storage address;
    bool loopback = false;
    const char *reason = NULL;
    assert_true(server_address_parse("127.0.0.1:4120", &address, &loopback, &reason));
    assert_true(loopback);
    assert_true(server_address_parse("4120", &address, &loopback, &reason));
    assert_true(loopback);
    assert_true(server_address_parse("[::1]:4120", &address, &loopback, &reason));
    assert_true(loopback);
    assert_true(server_address_parse("0.0.0.0:4120", &address, &loopback, &reason));
    assert_false(loopback);
    assert_false(server_address_parse("localhost:4120", &address, &loopback, &reason));
    assert_non_null(reason);
    assert_false(server_address_parse("127.0.0.1:70000", &address, &loopback, &reason));
    struct server_options options = {.data_directory = "/nonexistent", .address = "0.0.0.0:1"};
    assert_int_equal(server_run(&options), KHORGOS_ERROR_invalid_argument);
}

static void test_status_translation(void **state) {
    (void)state;
    assert_int_equal(server_account_status_to_wire(KHORGOS_CREATE_ACCOUNT_created), 0xFFFFFFFFu);
    assert_int_equal(server_account_status_to_wire(KHORGOS_CREATE_ACCOUNT_exists), 21);
    assert_int_equal(server_transfer_status_to_wire(KHORGOS_CREATE_TRANSFER_exceeds_debits), 55);
    assert_int_equal(server_transfer_status_to_wire(KHORGOS_CREATE_TRANSFER_id_already_failed),
                     68);
    for (u32 status = 0; status < KHORGOS_CREATE_TRANSFER_STATUS_COUNT; status++) {
        (void)server_transfer_status_to_wire(status); /* asserts every name matches */
    }
    for (u32 status = 0; status < KHORGOS_CREATE_ACCOUNT_STATUS_COUNT; status++) {
        (void)server_account_status_to_wire(status);
    }
    assert_int_equal(server_operation_to_engine(CLIENT_OPERATION_CREATE_TRANSFERS),
                     KHORGOS_OPERATION_CREATE_TRANSFERS);
    assert_int_equal(server_operation_to_engine(CLIENT_OPERATION_GET_CHANGE_EVENTS), 0);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_parse),
        cmocka_unit_test(test_status_translation),
        cmocka_unit_test_setup_teardown(test_request_retry_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_parent_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_in_flight_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_session_evicted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_full_evicts_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_checksum_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_cluster_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_across_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_replies_whole_and_in_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
