/* client_wire_live.h: TigerBeetle's Node client (npm tigerbeetle-node 0.17.9) against this
 * layer's encoder, over a real TCP connection on 127.0.0.1. The test plays a one-replica
 * cluster 0: it answers the client's register request with a register reply, then its
 * lookup_accounts request (a multi-batch body of ids) with a multi-batch reply holding one
 * account, and checks that the client printed that account. It runs only when
 * KHORGOS_TIGERBEETLE_NODE names a directory holding node_modules/tigerbeetle-node (npm install
 * tigerbeetle-node@0.17.9 there), and is skipped otherwise. With KHORGOS_CAPTURE_REGISTER set
 * to a path it also writes the register request it received there (the fixture's source). */
#ifndef KHORGOS_TEST_CLIENT_WIRE_LIVE_H
#define KHORGOS_TEST_CLIENT_WIRE_LIVE_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIVE_TIMEOUT_MS 20000

static const char live_script[] =
    "const tb = require('tigerbeetle-node');\n"
    "const client = tb.createClient({cluster_id: 0n,\n"
    "  replica_addresses: [process.env.TB_ADDRESS]});\n"
    "client.lookupAccounts([1n, 2n]).then((accounts) => {\n"
    "  const a = accounts[0];\n"
    "  console.log(`accounts ${accounts.length} id ${a.id} ledger ${a.ledger} code ${a.code}`);\n"
    "}).catch((error) => console.log(`error ${error}`)).finally(() => client.destroy());\n";

static bool live_read(int fd, void *buffer, size_t size) {
    u8 *bytes = buffer;
    while (size > 0) {
        struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
        if (poll(&poll_fd, 1, LIVE_TIMEOUT_MS) != 1) return false;
        ssize_t got = read(fd, bytes, size);
        if (got <= 0) return false;
        bytes += got;
        size -= (size_t)got;
    }
    return true;
}

static void live_send(int fd, struct client_header *header, const void *body) {
    client_header_seal(header, body);
    size_t body_bytes = header->size - CLIENT_HEADER_BYTES;
    assert_int_equal(write(fd, header, CLIENT_HEADER_BYTES), CLIENT_HEADER_BYTES);
    if (body_bytes > 0) assert_int_equal(write(fd, body, body_bytes), (ssize_t)body_bytes);
}

/* Reads one message, checks both checksums and every field; returns the body's size. */
static u32 live_receive(int fd, struct client_header *header, u8 *body) {
    u8 raw[CLIENT_HEADER_BYTES];
    assert_true(live_read(fd, raw, sizeof(raw)));
    const char *reason = NULL;
    khorgos_error error = client_header_decode(raw, sizeof(raw), 0, header, &reason);
    if (error != KHORGOS_ERROR_ok) fail_msg("header refused: %s", reason);
    u32 body_bytes = header->size - CLIENT_HEADER_BYTES;
    if (body_bytes > 0) assert_true(live_read(fd, body, body_bytes));
    assert_int_equal(client_body_check(header, body, &reason), KHORGOS_ERROR_ok);
    return body_bytes;
}

static void live_capture(const struct client_header *header, const u8 *body, u32 body_bytes) {
    const char *path = getenv("KHORGOS_CAPTURE_REGISTER");
    if (path == NULL) return;
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(header, 1, CLIENT_HEADER_BYTES, file), CLIENT_HEADER_BYTES);
    assert_int_equal(fwrite(body, 1, body_bytes, file), body_bytes);
    assert_int_equal(fclose(file), 0);
}

/* lookup_accounts of ids 1 and 2 in one batch: answers account 1 (ledger 7, code 9). */
static void live_answer_lookup(int fd, const struct client_header *request, const u8 *body,
                               u32 body_bytes) {
    struct client_multi_batch batches;
    const char *reason = NULL;
    assert_int_equal(client_multi_batch_decode(body, body_bytes, 16, &batches, &reason),
                     KHORGOS_ERROR_ok);
    const u8 *batch = NULL;
    u32 batch_bytes = 0;
    assert_int_equal(batches.batch_count, 1);
    assert_true(client_multi_batch_next(&batches, &batch, &batch_bytes));
    assert_int_equal(batch_bytes, 32);
    assert_int_equal(batch[0], 1);
    assert_int_equal(batch[16], 2);
    static u8 reply_body[CLIENT_BODY_BYTES_MAX];
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, reply_body, sizeof(reply_body), 128);
    u32 writable = 0;
    u8 *target = client_multi_batch_writable(&encoder, &writable);
    struct khorgos_account account = {.id = 1, .ledger = 7, .code = 9, .timestamp = 1};
    memcpy(target, &account, sizeof(account));
    client_multi_batch_add(&encoder, sizeof(account));
    u32 reply_bytes = client_multi_batch_finish(&encoder);
    struct client_header reply;
    client_reply_init(&reply, request, 2, base_clock_realtime_ns(), reply_bytes);
    live_send(fd, &reply, reply_body);
}

/* Plays the replica until the client's lookup is answered. */
static void live_serve(int fd) {
    static u8 body[CLIENT_BODY_BYTES_MAX];
    u128 context = 0;
    for (;;) {
        struct client_header header;
        u32 body_bytes = live_receive(fd, &header, body);
        if (header.command == CLIENT_COMMAND_PING_CLIENT) {
            struct client_header pong;
            client_pong_init(&pong, &header);
            live_send(fd, &pong, NULL);
            continue;
        }
        assert_int_equal(header.command, CLIENT_COMMAND_REQUEST);
        if (header.request.operation == CLIENT_OPERATION_REGISTER) {
            live_capture(&header, body, body_bytes);
            struct client_register_result result = {.batch_size_limit = CLIENT_BODY_BYTES_MAX};
            struct client_header reply;
            client_reply_init(&reply, &header, 1, base_clock_realtime_ns(), sizeof(result));
            live_send(fd, &reply, &result);
            context = reply.reply.context;
            continue;
        }
        assert_int_equal(header.request.operation, CLIENT_OPERATION_LOOKUP_ACCOUNTS);
        assert_int_equal(header.request.session, 1);
        assert_int_equal(header.request.request, 1);
        assert_true(header.request.parent == context);
        live_answer_lookup(fd, &header, body, body_bytes);
        return;
    }
}

static pid_t live_spawn_node(const char *directory, int port, const char *script,
                             const char *output) {
    char address[32], node_path[4096];
    snprintf(address, sizeof(address), "TB_ADDRESS=%d", port);
    snprintf(node_path, sizeof(node_path), "NODE_PATH=%s/node_modules", directory);
    const char *path = getenv("PATH");
    char path_variable[4096];
    snprintf(path_variable, sizeof(path_variable), "PATH=%s", path ? path : "/usr/bin:/bin");
    char *envp[] = {address, node_path, path_variable, NULL};
    char *argv[] = {"node", (char *)script, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid = 0;
    assert_int_equal(posix_spawnp(&pid, "node", &actions, NULL, argv, envp), 0);
    posix_spawn_file_actions_destroy(&actions);
    return pid;
}

static int live_listen(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t length = sizeof(address);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    *port = ntohs(address.sin_port);
    return fd;
}

static void live_wait(pid_t pid) {
    for (int waited_ms = 0; waited_ms < LIVE_TIMEOUT_MS; waited_ms += 10) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            return;
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("the Node client did not exit");
}

static void test_live_node_client(void **state) {
    (void)state;
    const char *directory = getenv("KHORGOS_TIGERBEETLE_NODE");
    if (directory == NULL) skip();
    char script[] = "/tmp/khorgos-live-XXXXXX.js";
    int script_fd = mkstemps(script, 3);
    assert_true(script_fd >= 0);
    assert_int_equal(write(script_fd, live_script, sizeof(live_script) - 1),
                     (ssize_t)(sizeof(live_script) - 1));
    close(script_fd);
    char output[] = "/tmp/khorgos-live-XXXXXX.out";
    close(mkstemps(output, 4));
    int port = 0;
    int listen_fd = live_listen(&port);
    pid_t pid = live_spawn_node(directory, port, script, output);
    struct pollfd poll_fd = {.fd = listen_fd, .events = POLLIN};
    assert_int_equal(poll(&poll_fd, 1, LIVE_TIMEOUT_MS), 1);
    int fd = accept(listen_fd, NULL, NULL);
    assert_true(fd >= 0);
    live_serve(fd);
    live_wait(pid);
    close(fd);
    close(listen_fd);
    char printed[256] = {0};
    FILE *file = fopen(output, "r");
    assert_non_null(file);
    assert_non_null(fgets(printed, sizeof(printed), file));
    fclose(file);
    unlink(script);
    unlink(output);
    assert_string_equal(printed, "accounts 1 id 1 ledger 7 code 9\n");
}

#endif /* KHORGOS_TEST_CLIENT_WIRE_LIVE_H */
