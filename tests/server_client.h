/* server_client.h: a test's side of TigerBeetle's client protocol over a socket, byte by byte
 * with src/client/: whole writes and bounded reads, one message received and checked, and a
 * client that sends a request (session, number and parent set) and keeps the bytes it sent,
 * so that a retry repeats them exactly. The includer defines WAIT_MS, the bound of each wait,
 * and includes cmocka first. */
#ifndef KHORGOS_TEST_SERVER_CLIENT_H
#define KHORGOS_TEST_SERVER_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/client.h"

/* A connection to 127.0.0.1:port, tried every 50 ms for at most `wait_ms` (a server starting). */
static inline int connect_port(u16 port, int wait_ms) {
    for (int waited_ms = 0; waited_ms <= wait_ms; waited_ms += 50) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&address, sizeof(address)) == 0) return fd;
        close(fd);
        usleep(50 * 1000);
    }
    fail_msg("no server accepted on port %u within %d ms", (unsigned)port, wait_ms);
    return -1;
}

/* The port a server started on port 0 took, read from the event=listening line in its log
 * (`http`: the HTTP port's line, else the client port's) within `wait_ms`: a test's server binds
 * port 0 so that test runs at once never collide. */
static inline u16 server_log_port(const char *log_path, bool http, int wait_ms) {
    for (int waited_ms = 0; waited_ms <= wait_ms; waited_ms += 20) {
        FILE *log = fopen(log_path, "r");
        char line[512];
        unsigned port = 0;
        while (port == 0 && log != NULL && fgets(line, sizeof(line), log) != NULL) {
            const char *at = strstr(line, "event=listening ");
            if (at == NULL || (strstr(at, " http=") != NULL) != http) continue;
            at = strstr(at, " port=");
            if (at == NULL || sscanf(at, " port=%u", &port) != 1 || port > 65535) port = 0;
        }
        if (log != NULL) fclose(log);
        if (port != 0) return (u16)port;
        usleep(20 * 1000);
    }
    fail_msg("no event=listening line%s in %s within %d ms", http ? " for HTTP" : "", log_path,
             wait_ms);
    return 0;
}

/* Stops a server running in the child process (SIGTERM), killing it after 5 s; true when it
 * exited 0. */
static inline bool server_child_stop(pid_t child) {
    assert_int_equal(kill(child, SIGTERM), 0);
    int status = 0;
    for (int tries = 0; tries < 100 && waitpid(child, &status, WNOHANG) == 0; tries++) {
        usleep(50 * 1000);
    }
    if (waitpid(child, &status, WNOHANG) == 0) kill(child, SIGKILL);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static inline void send_all(int fd, const void *bytes, size_t size) {
    assert_int_equal(write(fd, bytes, size), (ssize_t)size);
}

/* Reads exactly `size` bytes; false on end of stream or after `wait_ms`. */
static inline bool read_all(int fd, u8 *bytes, size_t size, int wait_ms) {
    size_t done = 0;
    while (done < size) {
        struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
        if (poll(&poll_fd, 1, wait_ms) != 1) return false;
        ssize_t count = read(fd, bytes + done, size - done);
        if (count <= 0) return false;
        done += (size_t)count;
    }
    return true;
}

/* Receives one message into `message` (at least a whole message); false if none came. */
static inline bool receive(int fd, u8 *message, struct client_header *header, int wait_ms) {
    if (!read_all(fd, message, CLIENT_HEADER_BYTES, wait_ms)) return false;
    const char *reason = NULL;
    assert_int_equal(client_header_decode(message, CLIENT_HEADER_BYTES, 0, header, &reason),
                     KHORGOS_ERROR_ok);
    u32 body_bytes = header->size - CLIENT_HEADER_BYTES;
    assert_true(read_all(fd, message + CLIENT_HEADER_BYTES, body_bytes, WAIT_MS));
    assert_int_equal(client_body_check(header, message + CLIENT_HEADER_BYTES, &reason),
                     KHORGOS_ERROR_ok);
    return true;
}

struct client {
    int fd;
    u128 id;
    u64 session;
    u32 request;
    u128 parent;
    u8 message[CLIENT_MESSAGE_BYTES_MAX];
    u8 sent[CLIENT_MESSAGE_BYTES_MAX];
    u32 sent_bytes;
};

static inline void client_send(struct client *client, u8 operation, const void *body, u32 bytes) {
    struct client_header request;
    client_request_init(&request, 0, client->id, operation, bytes);
    request.request.session = client->session;
    request.request.request = client->request;
    request.request.parent = client->parent;
    client_header_seal(&request, body);
    memcpy(client->sent, &request, sizeof(request));
    if (bytes > 0) memcpy(client->sent + sizeof(request), body, bytes);
    client->sent_bytes = request.size;
    send_all(client->fd, client->sent, client->sent_bytes);
}

#endif /* KHORGOS_TEST_SERVER_CLIENT_H */
