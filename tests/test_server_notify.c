/* test_server_notify.c: what the server pushes, and several clients on one connection. A
 * pacs.008 submitted over the wire (operation 240) by a C client is accepted ACSP while its
 * payer has no funds; once the payer is funded, the client's notification callback receives
 * the pushed pacs.002 ACSC (kind 1), and a session subscribed to the payee's account
 * (operation 243) receives its camt.054 with the credit (kind 2), while a session of another
 * connection subscribed to nothing receives nothing; one still queued at the cut-off gets its
 * RJCT TM01 pushed. Two clients registered on one connection each get their own replies,
 * routed by client id; a ninth client on one connection closes it. A connection that never
 * reads its notifications is closed once its unsent bytes pass the bound.
 * The server takes port 0. Run from the repository's root (the corpus is tests/iso20022/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "khorgos_client.h"
#include "khorgos_iso20022.h"
#include "server/server.h"

#define WAIT_MS 5000
#include "server_client.h"

#define KZT 398u
#define NOTIFICATION_BYTES (128u * 1024u)
/* The day's cut-offs, an hour after the manual clock's start. */
#define CUT_OFF_AFTER_NS (3600ull * 1000000000ull)
/* The test server's bound on a connection's unsent bytes: above one notification's size. */
#define UNSENT_BYTES_MAX (2u << 20)
/* Fundings in one request: each an entry, so one camt.054 of some 700 KB. */
#define FUNDINGS 1000u

struct fixture {
    char directory[64];
    char log[80];
    pid_t child;
    u16 port;        /* the port the server took (it binds port 0) */
    char address[8]; /* the same, as the client's addresses */
};
static struct fixture fixture;

/* What a client's notification callback received: the latest of each kind and how many. */
struct received {
    pthread_mutex_t mutex;
    u32 count[3];
    char body[3][NOTIFICATION_BYTES];
};

static void on_notification(void *context, uint32_t kind, uint64_t sequence, const void *body,
                            uint32_t body_size) {
    struct received *received = context;
    assert_true(kind == 1 || kind == 2);
    assert_true(sequence >= 1 && body_size < NOTIFICATION_BYTES);
    pthread_mutex_lock(&received->mutex);
    received->count[kind]++;
    memcpy(received->body[kind], body, body_size);
    received->body[kind][body_size] = '\0';
    pthread_mutex_unlock(&received->mutex);
}

/* Waits up to WAIT_MS for the `count`-th notification of `kind`; its body, or NULL. */
static const char *wait_notification(struct received *received, u32 kind, u32 count) {
    for (int waited_ms = 0; waited_ms < WAIT_MS; waited_ms += 10) {
        pthread_mutex_lock(&received->mutex);
        u32 got = received->count[kind];
        pthread_mutex_unlock(&received->mutex);
        if (got >= count) return received->body[kind];
        usleep(10 * 1000);
    }
    return NULL;
}

static void engine_execute(struct khorgos *engine, u32 operation, const void *body, u32 size) {
    struct khorgos_settle_result results[4];
    struct khorgos_request request = {.operation = operation, .body_size = size, .body = body,
                                      .reply = results, .reply_capacity = sizeof(results)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.error, KHORGOS_ERROR_ok);
    for (u32 index = 0; index < request.reply_size / sizeof(results[0]); index++) {
        assert_int_equal(results[index].status, KHORGOS_SETTLE_ok);
    }
}

/* Three participants in KZT and an open day, before the server starts. */
static void setup_participants(void) {
    struct khorgos *engine = NULL;
    struct khorgos_open_options options = {.clock_manual = 1};
    assert_int_equal(khorgos_open(&engine, fixture.directory, &options), KHORGOS_ERROR_ok);
    const char *bics[3] = {"NBRKKZKX", "HSBKKZKX", "KCJBKZKX"};
    struct khorgos_participant participants[3];
    memset(participants, 0, sizeof(participants));
    for (u32 index = 0; index < 3; index++) {
        memcpy(participants[index].bic, bics[index], 8);
        memcpy(participants[index].country, "KZ", 2);
        memcpy(participants[index].name, bics[index], 4);
        participants[index].role = index == 0 ? KHORGOS_ROLE_SETTLEMENT_AGENT : KHORGOS_ROLE_BANK;
        participants[index].currencies[0] = KZT;
    }
    engine_execute(engine, KHORGOS_OPERATION_CREATE_PARTICIPANTS, participants,
                   sizeof(participants));
    struct khorgos_business_day day;
    memset(&day, 0, sizeof(day));
    day.id = 1;
    day.currency = KZT;
    day.date = 20230519;
    day.queue_mode = KHORGOS_QUEUE_MODE_FIFO;
    day.cut_off_customer = KHORGOS_MANUAL_CLOCK_START_NS + CUT_OFF_AFTER_NS;
    day.cut_off_interbank = day.cut_off_customer;
    engine_execute(engine, KHORGOS_OPERATION_OPEN_DAY, &day, sizeof(day));
    khorgos_close(engine);
}

static int setup(void **state) {
    (void)state;
    snprintf(fixture.directory, sizeof(fixture.directory), "/tmp/khorgos-test-notify-XXXXXX");
    assert_non_null(mkdtemp(fixture.directory));
    assert_int_equal(rmdir(fixture.directory), 0);
    struct khorgos_config config = {.account_count_max = 1024, .transfer_count_max = 16384};
    assert_int_equal(khorgos_format(fixture.directory, &config), KHORGOS_ERROR_ok);
    setup_participants();
    snprintf(fixture.log, sizeof(fixture.log), "%s.log", fixture.directory);
    fixture.child = fork();
    assert_true(fixture.child >= 0);
    if (fixture.child == 0) {
        if (freopen(fixture.log, "w", stderr) == NULL) _exit(1);
        struct server_options options = {.data_directory = fixture.directory,
                                         .address = "127.0.0.1:0", .clock_manual = true,
                                         .notify_unsent_bytes_max = UNSENT_BYTES_MAX};
        _exit(server_run(&options) == KHORGOS_ERROR_ok ? 0 : 1);
    }
    fixture.port = server_log_port(fixture.log, false, WAIT_MS);
    snprintf(fixture.address, sizeof(fixture.address), "%u", fixture.port);
    close(connect_port(fixture.port, WAIT_MS));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    bool stopped = server_child_stop(fixture.child);
    char command[192];
    snprintf(command, sizeof(command), "rm -rf %s %s", fixture.directory, fixture.log);
    assert_int_equal(system(command), 0);
    assert_true(stopped);
    return 0;
}

static struct khorgos_client *client_open(struct received *received) {
    struct khorgos_client_options options = {.addresses = fixture.address,
                                             .request_timeout_ns = 10000000000ull,
                                             .on_notification = on_notification,
                                             .context = received};
    struct khorgos_client *client = NULL;
    assert_int_equal(khorgos_client_open(&client, &options), KHORGOS_ERROR_ok);
    return client;
}

static void client_call(struct khorgos_client *client, u8 operation, const void *body,
                        u32 size, void *reply, u32 capacity) {
    struct khorgos_client_call call = {.operation = operation, .body = body, .body_size = size,
                                       .reply = reply, .reply_capacity = capacity};
    assert_int_equal(khorgos_client_execute(client, &call), KHORGOS_ERROR_ok);
}

static u32 file_read(const char *path, char *buffer, u32 capacity) {
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    size_t size = fread(buffer, 1, capacity, file);
    fclose(file);
    assert_true(size > 0 && size < capacity);
    return (u32)size;
}

static void test_pushed_status_and_entries(void **state) {
    (void)state;
    static struct received submitter, subscriber, bystander;
    struct received *all[3] = {&submitter, &subscriber, &bystander};
    for (u32 index = 0; index < 3; index++) {
        memset(all[index], 0, sizeof(*all[index]));
        pthread_mutex_init(&all[index]->mutex, NULL);
    }
    struct khorgos_client *submitting = client_open(&submitter);
    struct khorgos_client *subscribing = client_open(&subscriber);
    struct khorgos_client *idle = client_open(&bystander);
    struct {
        char bic[12];
        u32 currency;
    } subscription = {.bic = "KCJBKZKX", .currency = KZT};
    client_call(subscribing, KHORGOS_CLIENT_SUBSCRIBE_ENTRIES, &subscription, sizeof(subscription), NULL, 0);
    client_call(idle, KHORGOS_CLIENT_LOOKUP_ACCOUNTS, NULL, 0, NULL, 0);
    static char xml[8192];
    static u8 reply[KHORGOS_MESSAGE_REPLY_BYTES_MAX];
    u32 size = file_read("tests/iso20022/pacs008_v08.xml", xml, sizeof(xml));
    client_call(submitting, KHORGOS_CLIENT_SUBMIT_MESSAGE, xml, size, reply, sizeof(reply));
    struct khorgos_message_result result;
    memcpy(&result, reply, sizeof(result));
    assert_string_equal(result.group_status, "ACSP"); /* the payer has no funds yet */
    struct khorgos_participant_event fund;
    memset(&fund, 0, sizeof(fund));
    fund.id = 2;
    memcpy(fund.bic, "HSBKKZKX", 8);
    fund.currency = KZT;
    fund.amount = 1000000;
    struct khorgos_settle_result funded;
    client_call(idle, KHORGOS_OPERATION_FUND, &fund, sizeof(fund), &funded, sizeof(funded));
    assert_int_equal(funded.status, KHORGOS_SETTLE_ok);
    const char *status = wait_notification(&submitter, 1, 1);
    assert_non_null(status);
    assert_non_null(strstr(status, "<TxSts>ACSC</TxSts>"));
    assert_non_null(strstr(status, "e7985fdc-04da-494d-9f89-cc9502ea84bb"));
    const char *entries = wait_notification(&subscriber, 2, 1);
    assert_non_null(entries);
    assert_non_null(strstr(entries, "camt.054.001.08"));
    assert_non_null(strstr(entries, "<Amt Ccy=\"KZT\">1250.50</Amt><CdtDbtInd>CRDT"));
    /* The operator is every plaintext session's identity, a TigerBeetle client's included:
     * the status goes to the submitting session only; the entries to the subscribed one. */
    assert_int_equal(subscriber.count[1] + bystander.count[1], 0);
    assert_int_equal(submitter.count[2] + bystander.count[2], 0);
    assert_int_equal(subscriber.count[2], 1);
    khorgos_client_close(submitting);
    khorgos_client_close(subscribing);
    khorgos_client_close(idle);
}

/* Replaces every `from` in `text` by `to`, of the same length. */
static void replace_all(char *text, const char *from, const char *to) {
    size_t length = strlen(from);
    assert_int_equal(strlen(to), length);
    for (char *at = strstr(text, from); at != NULL; at = strstr(at + length, from)) {
        memcpy(at, to, length);
    }
}

/* A payment still queued at the customer cut-off is rejected there: its sender is told RJCT
 * TM01 unasked. The message is pacs008_v08 the other way round (Kaspi pays Halyk, more than
 * Kaspi holds), with its own UETR. */
static void test_pushed_cut_off_rejection(void **state) {
    (void)state;
    static struct received submitter;
    memset(&submitter, 0, sizeof(submitter));
    pthread_mutex_init(&submitter.mutex, NULL);
    struct khorgos_client *client = client_open(&submitter);
    static char xml[8192];
    static u8 reply[KHORGOS_MESSAGE_REPLY_BYTES_MAX];
    u32 size = file_read("tests/iso20022/pacs008_v08.xml", xml, sizeof(xml));
    xml[size] = '\0';
    replace_all(xml, "HSBKKZKX", "SWAPSWAP");
    replace_all(xml, "KCJBKZKX", "HSBKKZKX");
    replace_all(xml, "SWAPSWAP", "KCJBKZKX");
    replace_all(xml, "e7985fdc-04da", "a7985fdc-04da");
    replace_all(xml, "1250.50", "9999.00");
    client_call(client, KHORGOS_CLIENT_SUBMIT_MESSAGE, xml, size, reply, sizeof(reply));
    struct khorgos_message_result result;
    memcpy(&result, reply, sizeof(result));
    assert_string_equal(result.group_status, "ACSP");
    u64 nanoseconds = 2 * CUT_OFF_AFTER_NS;
    u64 now = 0;
    client_call(client, KHORGOS_CLIENT_ADVANCE_CLOCK, &nanoseconds, sizeof(nanoseconds), &now,
                sizeof(now));
    const char *status = wait_notification(&submitter, 1, 1);
    assert_non_null(status);
    assert_non_null(strstr(status, "a7985fdc-04da-494d-9f89-cc9502ea84bb"));
    assert_non_null(strstr(status, "<TxSts>RJCT</TxSts>"));
    assert_non_null(strstr(status, "<Cd>TM01</Cd>"));
    khorgos_client_close(client);
}

/* Registers client `id` on the connection `fd`: its session. */
static void register_on(struct client *client, int fd, u128 id) {
    memset(client, 0, sizeof(*client));
    client->fd = fd;
    client->id = id;
    struct client_register_request body = {0};
    client_send(client, CLIENT_OPERATION_REGISTER, &body, sizeof(body));
    struct client_header reply;
    assert_true(receive(fd, client->message, &reply, WAIT_MS));
    assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
    assert_true(reply.reply.client == id);
    client->session = reply.reply.commit;
    client->parent = reply.reply.context;
    client->request = 1;
}

static void test_clients_share_a_connection(void **state) {
    (void)state;
    static struct client clients[SERVER_CONNECTION_CLIENTS_MAX + 1];
    int fd = connect_port(fixture.port, WAIT_MS);
    for (u32 index = 0; index < SERVER_CONNECTION_CLIENTS_MAX; index++) {
        register_on(&clients[index], fd, 1000 + index);
    }
    /* Two requests in flight at once, one per client; each reply names its client. */
    u8 body[64];
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, body, sizeof(body), sizeof(u128));
    u32 writable_bytes = 0;
    u8 *writable = client_multi_batch_writable(&encoder, &writable_bytes);
    u128 id = 1;
    memcpy(writable, &id, sizeof(id));
    client_multi_batch_add(&encoder, sizeof(id));
    u32 body_bytes = client_multi_batch_finish(&encoder);
    client_send(&clients[0], CLIENT_OPERATION_LOOKUP_ACCOUNTS, body, body_bytes);
    client_send(&clients[1], CLIENT_OPERATION_LOOKUP_ACCOUNTS, body, body_bytes);
    bool answered[2] = {false, false};
    for (u32 count = 0; count < 2; count++) {
        struct client_header reply;
        assert_true(receive(fd, clients[0].message, &reply, WAIT_MS));
        assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
        u32 which = reply.reply.client == 1000 ? 0 : 1;
        assert_true(reply.reply.client == 1000 + which && !answered[which]);
        assert_true(reply.reply.request_checksum == ((struct client_header *)
                                                         clients[which].sent)->checksum);
        answered[which] = true;
    }
    /* One client more than a connection carries: the connection is closed. */
    struct client_register_request register_body = {0};
    clients[SERVER_CONNECTION_CLIENTS_MAX].fd = fd;
    clients[SERVER_CONNECTION_CLIENTS_MAX].id = 2000;
    client_send(&clients[SERVER_CONNECTION_CLIENTS_MAX], CLIENT_OPERATION_REGISTER,
                &register_body, sizeof(register_body));
    u8 byte = 0;
    assert_false(read_all(fd, &byte, 1, WAIT_MS));
    close(fd);
}

/* A connection that never reads its notifications is closed once what it was not taken passes
 * the bound; the server and its other clients go on. Its 8 clients each subscribe to Halyk's
 * entries, and each request of 1,000 fundings pushes them 8 camt.054 of some 700 KB. */
static void test_slow_client_dropped(void **state) {
    (void)state;
    static struct client clients[SERVER_CONNECTION_CLIENTS_MAX];
    int fd = connect_port(fixture.port, WAIT_MS);
    int small = 4096;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    struct {
        char bic[12];
        u32 currency;
    } subscription = {.bic = "HSBKKZKX", .currency = KZT};
    for (u32 index = 0; index < SERVER_CONNECTION_CLIENTS_MAX; index++) {
        register_on(&clients[index], fd, 3000 + index);
        client_send(&clients[index], CLIENT_OPERATION_SUBSCRIBE_ENTRIES, &subscription,
                    sizeof(subscription));
        struct client_header reply;
        assert_true(receive(fd, clients[index].message, &reply, WAIT_MS));
        assert_int_equal(client_reply_error(&reply), KHORGOS_ERROR_ok);
    }
    static struct received bystander;
    memset(&bystander, 0, sizeof(bystander));
    pthread_mutex_init(&bystander.mutex, NULL);
    struct khorgos_client *funding = client_open(&bystander);
    static struct khorgos_participant_event fundings[FUNDINGS];
    static struct khorgos_settle_result results[FUNDINGS];
    static char log[1u << 16];
    log[0] = '\0';
    u32 round = 0;
    for (; round < 8 && strstr(log, "a slow client") == NULL; round++) {
        memset(fundings, 0, sizeof(fundings));
        for (u32 index = 0; index < FUNDINGS; index++) {
            fundings[index].id = 100000 + round * FUNDINGS + index;
            memcpy(fundings[index].bic, "HSBKKZKX", 8);
            fundings[index].currency = KZT;
            fundings[index].amount = 1;
        }
        client_call(funding, KHORGOS_OPERATION_FUND, fundings, sizeof(fundings), results,
                    sizeof(results));
        usleep(200 * 1000); /* the pushes follow the reply */
        FILE *file = fopen(fixture.log, "r");
        assert_non_null(file);
        size_t size = fread(log, 1, sizeof(log) - 1, file);
        assert_true(size < sizeof(log) - 1); /* the whole log */
        log[size] = '\0';
        fclose(file);
    }
    assert_non_null(strstr(log, "reason=\"a slow client: notifications not read\""));
    print_message("closed after %u requests of %u fundings\n", round, FUNDINGS);
    assert_int_equal(results[0].status, KHORGOS_SETTLE_ok);
    khorgos_client_close(funding);
    close(fd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pushed_status_and_entries),
        cmocka_unit_test(test_clients_share_a_connection),
        cmocka_unit_test(test_pushed_cut_off_rejection),
        cmocka_unit_test(test_slow_client_dropped),
    };
    return cmocka_run_group_tests(tests, setup, teardown); /* one server for both */
}
