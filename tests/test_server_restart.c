/* test_server_restart.c: exactly-once across a crash of the server. Several clients, each on
 * its own connection, stream create_transfers requests to the server (src/server/, run in a
 * child process on a data directory); the child is killed with SIGKILL while requests are in
 * flight and started again on the same directory. Every client then retries: a client whose
 * request had no answer sends that same request again (same number, same bytes), and must get
 * `created` for each of its transfers, never `exists` (which a second execution would answer);
 * a client whose last request was answered sends it again and must get the first answer, byte
 * for byte. The clients then finish their streams in the same sessions. Finally a new client
 * looks up every transfer (each exists once) and the two accounts (the balances are the sum of
 * every transfer, each counted once). Ports 4410 to 4429. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/engine.h"
#include "server/server.h"

#define WAIT_MS 10000
#include "server_client.h"

enum {
    CLIENTS = 8,
    REQUESTS = 24,              /* per client */
    EVENTS = 4,                 /* transfers per request */
    KILL_AFTER_REPLIES = 70,    /* replies read before the kill, of CLIENTS * REQUESTS */
    CHECKER_ID = 99,
};

struct restart_fixture {
    char directory[64];
    char log[80];
    char address[32];
    u16 port;
    pid_t child;
};

static struct restart_fixture fixture;

static struct client clients[CLIENTS];
static u8 last_reply[CLIENTS][CLIENT_MESSAGE_BYTES_MAX]; /* each client's latest answer */
static u32 last_reply_bytes[CLIENTS];
static bool waiting[CLIENTS]; /* a request sent, its answer not read */
static bool paused[CLIENTS];  /* sends nothing more until unpaused */

static void server_spawn(void) {
    fixture.child = fork();
    assert_true(fixture.child >= 0);
    if (fixture.child == 0) {
        if (freopen(fixture.log, "a", stderr) == NULL) _exit(1);
        struct server_options options = {.data_directory = fixture.directory,
                                         .address = fixture.address};
        _exit(server_run(&options) == KHORGOS_ERROR_ok ? 0 : 1);
    }
}

static int connect_server(void) {
    return connect_port(fixture.port, 10000);
}

/* Sends the client's request and reads its answer, which must be a reply to it. */
static void exchange(struct client *client, u8 operation, const void *body, u32 bytes,
                     struct client_header *reply) {
    client_send(client, operation, body, bytes);
    assert_true(receive(client->fd, client->message, reply, WAIT_MS));
    assert_int_equal(reply->command, CLIENT_COMMAND_REPLY);
    assert_int_equal(reply->reply.request, client->request);
}

static void client_open(struct client *client, u128 id) {
    memset(client, 0, sizeof(*client));
    client->fd = connect_server();
    client->id = id;
    struct client_register_request body = {0};
    struct client_header reply;
    exchange(client, CLIENT_OPERATION_REGISTER, &body, sizeof(body), &reply);
    client->session = reply.reply.commit;
    client->parent = reply.reply.context;
}

/* A one-batch body of `count` records of `size` bytes from `records`. */
static u32 body_of(u8 *body, const void *records, u32 size, u32 count) {
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, body, CLIENT_BODY_BYTES_MAX, size);
    u32 writable_bytes = 0;
    u8 *writable = client_multi_batch_writable(&encoder, &writable_bytes);
    assert_true(writable_bytes >= size * count);
    memcpy(writable, records, (size_t)size * count);
    client_multi_batch_add(&encoder, size * count);
    return client_multi_batch_finish(&encoder);
}

/* The one batch of a reply: its bytes. */
static const u8 *reply_batch(const u8 *message, const struct client_header *reply, u32 size,
                             u32 *bytes) {
    struct client_multi_batch batches;
    const char *reason = NULL;
    assert_int_equal(client_multi_batch_decode(message + CLIENT_HEADER_BYTES,
                                               reply->size - CLIENT_HEADER_BYTES, size, &batches,
                                               &reason),
                     KHORGOS_ERROR_ok);
    const u8 *batch = NULL;
    assert_true(client_multi_batch_next(&batches, &batch, bytes));
    return batch;
}

static u128 transfer_id(u32 client, u32 request, u32 event) {
    return 1000000u * (client + 1) + request * EVENTS + event;
}

/* Client `index` sends its request number `request`: EVENTS transfers of 1 from 1 to 2. */
static void transfers_send(u32 index, u32 request) {
    struct khorgos_transfer transfers[EVENTS];
    memset(transfers, 0, sizeof(transfers));
    for (u32 event = 0; event < EVENTS; event++) {
        transfers[event] = (struct khorgos_transfer){
            .id = transfer_id(index, request, event), .debit_account_id = 1,
            .credit_account_id = 2, .amount = 1, .ledger = 398, .code = 1};
    }
    static u8 body[CLIENT_BODY_BYTES_MAX];
    u32 bytes = body_of(body, transfers, sizeof(transfers[0]), EVENTS);
    clients[index].request = request;
    client_send(&clients[index], CLIENT_OPERATION_CREATE_TRANSFERS, body, bytes);
    waiting[index] = true;
}

/* A reply to client `index`'s request: every transfer created, once. Kept as its latest. */
static void transfers_answered(u32 index, const struct client_header *reply) {
    struct client *client = &clients[index];
    assert_int_equal(reply->command, CLIENT_COMMAND_REPLY);
    assert_int_equal(reply->reply.request, client->request);
    u32 bytes = 0;
    const u8 *batch = reply_batch(client->message, reply, 16, &bytes);
    assert_int_equal(bytes, EVENTS * 16);
    for (u32 event = 0; event < EVENTS; event++) {
        struct khorgos_create_result result;
        memcpy(&result, batch + event * 16, sizeof(result));
        assert_int_equal(result.status, 0xFFFFFFFFu); /* created: `exists` means applied twice */
    }
    client->parent = reply->reply.context;
    memcpy(last_reply[index], client->message, reply->size);
    last_reply_bytes[index] = reply->size;
    waiting[index] = false;
}

/* Streams until `replies_wanted` answers were read (every client with one in flight at the
 * end when `leave_in_flight`), or every client sent its REQUESTS. */
static u32 stream(u32 replies_wanted, bool leave_in_flight) {
    u32 replies = 0;
    for (u32 index = 0; index < CLIENTS; index++) {
        if (!waiting[index] && !paused[index] && clients[index].request < REQUESTS) {
            transfers_send(index, clients[index].request + 1);
        }
    }
    for (;;) {
        struct pollfd polls[CLIENTS];
        u32 open = 0;
        for (u32 index = 0; index < CLIENTS; index++) {
            polls[index] = (struct pollfd){.fd = waiting[index] ? clients[index].fd : -1,
                                           .events = POLLIN};
            open += waiting[index];
        }
        if (open == 0 || (replies >= replies_wanted && leave_in_flight)) return replies;
        assert_true(poll(polls, CLIENTS, WAIT_MS) > 0);
        for (u32 index = 0; index < CLIENTS; index++) {
            if ((polls[index].revents & POLLIN) == 0) continue;
            struct client_header reply;
            assert_true(receive(clients[index].fd, clients[index].message, &reply, WAIT_MS));
            transfers_answered(index, &reply);
            replies++;
            if (!paused[index] && clients[index].request < REQUESTS) {
                transfers_send(index, clients[index].request + 1);
            }
        }
    }
}

static void accounts_create(void) {
    struct client checker;
    client_open(&checker, CHECKER_ID);
    struct khorgos_account accounts[2] = {{.id = 1, .ledger = 398, .code = 1},
                                          {.id = 2, .ledger = 398, .code = 1}};
    static u8 body[CLIENT_BODY_BYTES_MAX];
    u32 bytes = body_of(body, accounts, sizeof(accounts[0]), 2);
    checker.request = 1;
    struct client_header reply;
    exchange(&checker, CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes, &reply);
    close(checker.fd);
}

/* After the restart: each client on a new connection retries its latest request. */
static u32 retry_all(void) {
    u32 retried_in_flight = 0;
    for (u32 index = 0; index < CLIENTS; index++) {
        struct client *client = &clients[index];
        close(client->fd);
        client->fd = connect_server();
        send_all(client->fd, client->sent, client->sent_bytes); /* the same bytes */
        struct client_header reply;
        assert_true(receive(client->fd, client->message, &reply, WAIT_MS));
        if (waiting[index]) {
            transfers_answered(index, &reply);
            retried_in_flight++;
        } else {
            assert_int_equal(reply.size, last_reply_bytes[index]);
            assert_memory_equal(client->message, last_reply[index], reply.size);
        }
    }
    return retried_in_flight;
}

/* Every transfer exists (once: ids are unique) and the balances count each once. */
static void ledger_verify(void) {
    struct client checker;
    client_open(&checker, CHECKER_ID + 1);
    enum { TOTAL = CLIENTS * REQUESTS * EVENTS };
    static u128 ids[TOTAL];
    for (u32 index = 0; index < CLIENTS; index++) {
        for (u32 request = 1; request <= REQUESTS; request++) {
            for (u32 event = 0; event < EVENTS; event++) {
                ids[(index * REQUESTS + request - 1) * EVENTS + event] =
                    transfer_id(index, request, event);
            }
        }
    }
    static u8 body[CLIENT_BODY_BYTES_MAX];
    u32 bytes = body_of(body, ids, sizeof(ids[0]), TOTAL);
    struct client_header reply;
    checker.request = 1;
    exchange(&checker, CLIENT_OPERATION_LOOKUP_TRANSFERS, body, bytes, &reply);
    u32 found_bytes = 0;
    reply_batch(checker.message, &reply, 128, &found_bytes);
    assert_int_equal(found_bytes, TOTAL * 128);
    u128 account_ids[2] = {1, 2};
    bytes = body_of(body, account_ids, sizeof(account_ids[0]), 2);
    checker.request = 2;
    checker.parent = reply.reply.context;
    exchange(&checker, CLIENT_OPERATION_LOOKUP_ACCOUNTS, body, bytes, &reply);
    const u8 *batch = reply_batch(checker.message, &reply, 128, &found_bytes);
    assert_int_equal(found_bytes, 2 * 128);
    struct khorgos_account accounts[2];
    memcpy(accounts, batch, sizeof(accounts));
    assert_true(accounts[0].debits_posted == TOTAL && accounts[1].credits_posted == TOTAL);
    close(checker.fd);
}

static void test_sigkill_mid_stream_then_retry(void **state) {
    (void)state;
    accounts_create();
    for (u32 index = 0; index < CLIENTS; index++) client_open(&clients[index], 1000 + index);
    u32 replies = stream(KILL_AFTER_REPLIES / 2, true);
    /* Two clients stop with their latest request answered: after the restart they retry it
     * and must get that answer again, byte for byte. */
    for (u32 index = 0; index < 2; index++) {
        paused[index] = true;
        if (!waiting[index]) continue;
        struct client_header reply;
        assert_true(receive(clients[index].fd, clients[index].message, &reply, WAIT_MS));
        transfers_answered(index, &reply);
        replies++;
    }
    replies += stream(KILL_AFTER_REPLIES / 2, true);
    assert_true(replies >= KILL_AFTER_REPLIES);
    assert_int_equal(kill(fixture.child, SIGKILL), 0); /* requests in flight */
    int status = 0;
    assert_int_equal(waitpid(fixture.child, &status, 0), fixture.child);
    assert_true(WIFSIGNALED(status));
    server_spawn();
    u32 retried = retry_all();
    print_message("%u replies before the kill; %u clients retried an unanswered request\n",
                  replies, retried);
    assert_int_equal(retried, CLIENTS - 2);
    paused[0] = paused[1] = false;
    stream(0, false); /* the rest of every stream, in the same sessions */
    for (u32 index = 0; index < CLIENTS; index++) {
        assert_int_equal(clients[index].request, REQUESTS);
        assert_false(waiting[index]);
        close(clients[index].fd);
    }
    ledger_verify();
}

static int setup(void **state) {
    (void)state;
    snprintf(fixture.directory, sizeof(fixture.directory), "/tmp/khorgos-test-restart-XXXXXX");
    assert_non_null(mkdtemp(fixture.directory));
    assert_int_equal(rmdir(fixture.directory), 0);
    struct khorgos_config config = {.account_count_max = 64, .transfer_count_max = 4096};
    assert_int_equal(khorgos_format(fixture.directory, &config), KHORGOS_ERROR_ok);
    fixture.port = (u16)(4410 + getpid() % 20);
    snprintf(fixture.address, sizeof(fixture.address), "127.0.0.1:%u", fixture.port);
    snprintf(fixture.log, sizeof(fixture.log), "%s.log", fixture.directory);
    server_spawn();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (fixture.child > 0) {
        kill(fixture.child, SIGTERM);
        int status = 0;
        waitpid(fixture.child, &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    char command[192];
    snprintf(command, sizeof(command), "rm -rf %s %s", fixture.directory, fixture.log);
    assert_int_equal(system(command), 0);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigkill_mid_stream_then_retry, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
