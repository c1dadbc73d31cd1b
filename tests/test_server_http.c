/* test_server_http.c: the server's HTTP port (src/server/server_http.c) over 127.0.0.1. A
 * server runs in a child process with --http; the tests send it requests in TigerBeetle's
 * protocol and scrape /metrics: the counters move by exactly what was sent, the page parses as
 * Prometheus text 0.0.4 (a parser below checks the grammar, HELP and TYPE for every family,
 * and the histograms' cumulative buckets), /health and /ready answer 200, bad requests get
 * 400, 404, 405 and 413, an oversized request 431, a silent client is closed after the
 * timeout and connections past the cap at accept. /ready is 503 before the engine is open and
 * while stopping (server_http_answer on a server that is not serving). The settlement figures
 * per currency come from the engine's accessors, checked on an engine in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/server_private.h"
#include "settle_rtgs_fixture.h"

#define WAIT_MS 5000
#include "server_client.h"

/* Long enough for test_connection_cap to hold 64 connections open at once on a loaded
 * machine, short enough for test_slow_client_closed to wait it out. */
#define HTTP_TIMEOUT_MS 1500

static struct {
    char directory[64];
    char log[80];
    pid_t child;
    int hold[2]; /* a pipe: the child's open waits for a byte on hold[0] (setup_holding) */
    u16 port_main; /* the ports the server took (it binds port 0, so runs never collide) */
    u16 port_http;
} fixture;

/* The child's hook before it opens the data directory: wait for the parent's byte. */
static void hold_open(void *context) {
    int *fd = context;
    char byte = 0;
    while (read(*fd, &byte, 1) < 0) continue;
}

static int http_get(const char *method, const char *path, const char **body);

static int setup_with(bool holding) {
    snprintf(fixture.directory, sizeof(fixture.directory), "/tmp/khorgos-test-http-XXXXXX");
    assert_non_null(mkdtemp(fixture.directory));
    assert_int_equal(rmdir(fixture.directory), 0);
    struct khorgos_config config = {.account_count_max = 1024, .transfer_count_max = 1024};
    assert_int_equal(khorgos_format(fixture.directory, &config), KHORGOS_ERROR_ok);
    snprintf(fixture.log, sizeof(fixture.log), "%s.log", fixture.directory);
    assert_int_equal(pipe(fixture.hold), 0);
    fixture.child = fork();
    assert_true(fixture.child >= 0);
    if (fixture.child == 0) {
        if (freopen(fixture.log, "w", stderr) == NULL) _exit(1);
        struct server_options options = {.data_directory = fixture.directory,
                                         .address = "127.0.0.1:0",
                                         .http_address = "127.0.0.1:0",
                                         .http_timeout_ms = HTTP_TIMEOUT_MS};
        if (holding) {
            options.before_open = hold_open;
            options.before_open_context = &fixture.hold[0];
        }
        _exit(server_run(&options) == KHORGOS_ERROR_ok ? 0 : 1);
    }
    close(fixture.hold[0]);
    fixture.port_main = server_log_port(fixture.log, false, WAIT_MS);
    fixture.port_http = server_log_port(fixture.log, true, WAIT_MS);
    close(connect_port(fixture.port_http, WAIT_MS));
    for (int tries = 0; !holding && tries < 100 && http_get("GET", "/ready", NULL) != 200;
         tries++) {
        usleep(50 * 1000); /* the open runs beside the loop: wait until it returned */
    }
    return 0;
}

static int setup(void **state) {
    (void)state;
    return setup_with(false);
}

static int setup_holding(void **state) {
    (void)state;
    return setup_with(true);
}

static int teardown(void **state) {
    (void)state;
    close(fixture.hold[1]);
    bool stopped = server_child_stop(fixture.child);
    char command[192];
    snprintf(command, sizeof(command), "rm -rf %s %s", fixture.directory, fixture.log);
    assert_int_equal(system(command), 0);
    assert_true(stopped);
    return 0;
}

/* Reads until the peer closes (or `wait_ms` passes with nothing); the bytes read. */
static size_t read_to_end(int fd, char *buffer, size_t capacity, int wait_ms) {
    size_t done = 0;
    while (done + 1 < capacity) {
        struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
        if (poll(&poll_fd, 1, wait_ms) != 1) break;
        ssize_t count = read(fd, buffer + done, capacity - 1 - done);
        if (count <= 0) break;
        done += (size_t)count;
    }
    buffer[done] = '\0';
    return done;
}

static char page[1 << 20];

/* Sends `request` as is and returns the status code; the answer is in `page`, *body after its
 * headers. */
static int http_raw(const char *request, size_t bytes, const char **body) {
    int fd = connect_port(fixture.port_http, WAIT_MS);
    assert_int_equal(write(fd, request, bytes), (ssize_t)bytes);
    size_t done = read_to_end(fd, page, sizeof(page), WAIT_MS);
    close(fd);
    int code = 0;
    assert_int_equal(sscanf(page, "HTTP/1.1 %d ", &code), 1);
    const char *end = strstr(page, "\r\n\r\n");
    assert_non_null(end);
    unsigned length = 0;
    const char *field = strstr(page, "Content-Length: ");
    assert_true(field != NULL && field < end);
    assert_int_equal(sscanf(field, "Content-Length: %u", &length), 1);
    bool head = strncmp(request, "HEAD ", 5) == 0;
    if (!head) assert_int_equal(done, (size_t)(end + 4 - page) + length);
    if (body != NULL) *body = end + 4;
    return code;
}

static int http_get(const char *method, const char *path, const char **body) {
    char request[256];
    int bytes = snprintf(request, sizeof(request), "%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n",
                         method, path);
    return http_raw(request, (size_t)bytes, body);
}

/* ----------------------------------------------------------------------------------------- */
/* A Prometheus text format 0.0.4 reader, strict enough to catch what a scraper refuses.      */

#define SAMPLES_MAX 1024
#define FAMILIES_MAX 128

struct family {
    char name[96];
    char type[16];
    bool help;
    bool sampled; /* its samples started (they must be contiguous) */
};

struct sample {
    char key[256]; /* name{labels} as written */
    double value;
};

struct scrape {
    struct family families[FAMILIES_MAX];
    u32 family_count;
    struct sample samples[SAMPLES_MAX];
    u32 sample_count;
};

static struct scrape scrape_before, scrape_after;

static bool name_char(char c, bool first) {
    bool digit = isdigit((unsigned char)c) != 0;
    return isalpha((unsigned char)c) || c == '_' || c == ':' || (!first && digit);
}

static struct family *family_find(struct scrape *scrape, const char *name, size_t length) {
    for (u32 index = 0; index < scrape->family_count; index++) {
        struct family *family = &scrape->families[index];
        if (strlen(family->name) == length && memcmp(family->name, name, length) == 0) {
            return family;
        }
    }
    return NULL;
}

static struct family *family_get(struct scrape *scrape, const char *name, size_t length) {
    struct family *family = family_find(scrape, name, length);
    if (family != NULL) return family;
    assert_true(scrape->family_count < FAMILIES_MAX && length < sizeof(family->name));
    family = &scrape->families[scrape->family_count++];
    memset(family, 0, sizeof(*family));
    memcpy(family->name, name, length);
    return family;
}

/* A comment line: HELP or TYPE (once each, before the family's samples). */
static void parse_comment(struct scrape *scrape, const char *line, size_t length) {
    bool help = length > 7 && memcmp(line, "# HELP ", 7) == 0;
    bool type = length > 7 && memcmp(line, "# TYPE ", 7) == 0;
    if (!help && !type) return;
    const char *name = line + 7;
    size_t name_length = 0;
    while (name_length < length - 7 && name_char(name[name_length], name_length == 0)) {
        name_length++;
    }
    assert_true(name_length > 0 && name[name_length] == ' ');
    struct family *family = family_get(scrape, name, name_length);
    assert_false(family->sampled);
    const char *rest = name + name_length + 1;
    size_t rest_length = length - 7 - name_length - 1;
    if (help) {
        assert_false(family->help);
        assert_true(rest_length > 0);
        family->help = true;
        return;
    }
    assert_true(family->type[0] == '\0' && rest_length < sizeof(family->type));
    memcpy(family->type, rest, rest_length);
    assert_true(strcmp(family->type, "counter") == 0 || strcmp(family->type, "gauge") == 0 ||
                strcmp(family->type, "histogram") == 0);
}

/* The family a sample belongs to: its name, or for a histogram without _bucket/_sum/_count. */
static struct family *sample_family(struct scrape *scrape, const char *name, size_t length) {
    struct family *family = family_find(scrape, name, length);
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (u32 index = 0; family == NULL && index < 3; index++) {
        size_t suffix = strlen(suffixes[index]);
        if (length > suffix && memcmp(name + length - suffix, suffixes[index], suffix) == 0) {
            family = family_find(scrape, name, length - suffix);
            if (family != NULL) assert_string_equal(family->type, "histogram");
        }
    }
    assert_non_null(family);
    return family;
}

/* name{label="value",...} value */
static void parse_sample(struct scrape *scrape, const char *line, size_t length,
                         struct family **last) {
    size_t at = 0;
    while (at < length && name_char(line[at], at == 0)) at++;
    assert_true(at > 0);
    struct family *family = sample_family(scrape, line, at);
    assert_true(family->help && family->type[0] != '\0');
    if (family != *last) assert_false(family->sampled); /* contiguous */
    family->sampled = true;
    *last = family;
    if (line[at] == '{') {
        at++;
        while (line[at] != '}') {
            size_t start = at;
            while (at < length && name_char(line[at], at == start) && line[at] != ':') at++;
            assert_true(at > start && line[at] == '=' && line[at + 1] == '"');
            at += 2;
            while (at < length && line[at] != '"') at += line[at] == '\\' ? 2 : 1;
            assert_true(at < length);
            at++;
            if (line[at] == ',') at++;
        }
        at++;
    }
    assert_true(at < length && line[at] == ' ');
    assert_true(scrape->sample_count < SAMPLES_MAX && at < sizeof(scrape->samples[0].key));
    struct sample *sample = &scrape->samples[scrape->sample_count++];
    memcpy(sample->key, line, at);
    sample->key[at] = '\0';
    char *end = NULL;
    const char *value = line + at + 1;
    sample->value = strtod(value, &end);
    assert_true(end == line + length && end > value);
}

static void parse_page(struct scrape *scrape, const char *text) {
    memset(scrape, 0, sizeof(*scrape));
    struct family *last = NULL;
    while (*text != '\0') {
        const char *newline = strchr(text, '\n');
        assert_non_null(newline); /* every line ends with \n */
        size_t length = (size_t)(newline - text);
        assert_true(length > 0);
        if (text[0] == '#') parse_comment(scrape, text, length);
        else parse_sample(scrape, text, length, &last);
        text = newline + 1;
    }
    for (u32 index = 0; index < scrape->family_count; index++) {
        const struct family *family = &scrape->families[index];
        assert_true(family->help && family->type[0] != '\0');
        size_t length = strlen(family->name);
        bool total = length > 6 && strcmp(family->name + length - 6, "_total") == 0;
        assert_true(total == (strcmp(family->type, "counter") == 0));
    }
}

static double value_of(const struct scrape *scrape, const char *key) {
    for (u32 index = 0; index < scrape->sample_count; index++) {
        if (strcmp(scrape->samples[index].key, key) == 0) return scrape->samples[index].value;
    }
    fail_msg("no sample %s", key);
    return NAN;
}

/* A histogram's buckets rise with le, and the +Inf bucket equals its count. */
static void check_histogram(const struct scrape *scrape, const char *name) {
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "%s_bucket{le=\"", name);
    double previous = 0, bound_previous = -1;
    u32 buckets = 0;
    for (u32 index = 0; index < scrape->sample_count; index++) {
        const struct sample *sample = &scrape->samples[index];
        if (strncmp(sample->key, prefix, strlen(prefix)) != 0) continue;
        const char *bound = sample->key + strlen(prefix);
        double le = strncmp(bound, "+Inf", 4) == 0 ? INFINITY : strtod(bound, NULL);
        assert_true(le > bound_previous && sample->value >= previous);
        bound_previous = le;
        previous = sample->value;
        buckets++;
    }
    assert_true(buckets >= 2 && isinf(bound_previous));
    char count[128];
    snprintf(count, sizeof(count), "%s_count", name);
    assert_true(previous == value_of(scrape, count));
}

static void scrape(struct scrape *into) {
    const char *body = NULL;
    assert_int_equal(http_get("GET", "/metrics", &body), 200);
    assert_non_null(strstr(page, "Content-Type: text/plain; version=0.0.4"));
    parse_page(into, body);
}

/* ----------------------------------------------------------------------------------------- */
/* A client of the main port, in TigerBeetle's protocol (tests/server_client.h).             */

static struct client client;

static struct client_header client_receive(void) {
    struct client_header header;
    assert_true(receive(client.fd, client.message, &header, WAIT_MS));
    return header;
}

/* Sends a request and waits for its reply, which becomes the next request's parent. */
static struct client_header client_call(u8 operation, const void *body, u32 bytes) {
    client.request++;
    client_send(&client, operation, body, bytes);
    struct client_header reply = client_receive();
    assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
    client.parent = reply.reply.context;
    return reply;
}

static void client_register(u128 id) {
    memset(&client, 0, sizeof(client));
    client.fd = connect_port(fixture.port_main, WAIT_MS);
    client.id = id;
    struct client_register_request body = {0};
    client_send(&client, CLIENT_OPERATION_REGISTER, &body, sizeof(body));
    struct client_header reply = client_receive();
    assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
    client.session = reply.reply.commit;
    client.parent = reply.reply.context;
}

/* A multi-batch body of `batch_count` batches, each of `per_batch` accounts from `id` on. */
static u32 accounts_body(u8 *body, u32 capacity, u128 id, u32 batch_count, u32 per_batch) {
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, body, capacity, 128);
    for (u32 batch = 0; batch < batch_count; batch++) {
        u32 writable_bytes = 0;
        u8 *writable = client_multi_batch_writable(&encoder, &writable_bytes);
        for (u32 index = 0; index < per_batch; index++) {
            struct khorgos_account account = {.id = id++, .ledger = 398, .code = 1};
            memcpy(writable + index * sizeof(account), &account, sizeof(account));
        }
        client_multi_batch_add(&encoder, per_batch * (u32)sizeof(struct khorgos_account));
    }
    return client_multi_batch_finish(&encoder);
}

static u32 ids_body(u8 *body, u32 capacity, u128 id) {
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, body, capacity, 16);
    u32 writable_bytes = 0;
    u8 *writable = client_multi_batch_writable(&encoder, &writable_bytes);
    memcpy(writable, &id, sizeof(id));
    client_multi_batch_add(&encoder, sizeof(id));
    return client_multi_batch_finish(&encoder);
}

static double delta(const char *key) {
    return value_of(&scrape_after, key) - value_of(&scrape_before, key);
}

/* ----------------------------------------------------------------------------------------- */

#define REQUESTS(operation, status)                                                             \
    "khorgos_requests_total{operation=\"" operation "\",status=\"" status "\"}"

/* A register, three create_accounts requests (one of them of two batches of 3 events), one
 * lookup and one request of an operation the server does not serve: the counters and
 * histograms move by exactly that. */
static void test_metrics_count_requests(void **state) {
    (void)state;
    scrape(&scrape_before);
    client_register(41);
    static u8 body[4096];
    u32 bytes = accounts_body(body, sizeof(body), 100, 1, 1);
    client_call(CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    bytes = accounts_body(body, sizeof(body), 200, 1, 1);
    client_call(CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    bytes = accounts_body(body, sizeof(body), 300, 2, 3);
    client_call(CLIENT_OPERATION_CREATE_ACCOUNTS, body, bytes);
    bytes = ids_body(body, sizeof(body), 100);
    client_call(CLIENT_OPERATION_LOOKUP_ACCOUNTS, body, bytes);
    client.request++;
    client_send(&client, CLIENT_OPERATION_GET_CHANGE_EVENTS, NULL, 0);
    struct client_header eviction = client_receive();
    assert_int_equal(eviction.command, CLIENT_COMMAND_EVICTION);
    close(client.fd);
    scrape(&scrape_after);
    assert_true(delta(REQUESTS("create_accounts", "ok")) == 3);
    assert_true(delta(REQUESTS("create_accounts", "refused")) == 0);
    assert_true(delta(REQUESTS("lookup_accounts", "ok")) == 1);
    assert_true(delta(REQUESTS("create_transfers", "ok")) == 0);
    assert_true(delta("khorgos_evictions_total{reason=\"invalid_request_operation\"}") == 1);
    assert_true(delta("khorgos_evictions_total{reason=\"no_session\"}") == 0);
    /* Five batches: 1, 1, 3, 3 accounts and 1 id. */
    assert_true(delta("khorgos_batch_events_count") == 5);
    assert_true(delta("khorgos_batch_events_sum") == 9);
    assert_true(delta("khorgos_batch_events_bucket{le=\"2\"}") == 3);
    assert_true(delta("khorgos_batch_events_bucket{le=\"8\"}") == 5);
    /* One request in flight at a time: the register (an engine request of its own, with no
     * events) and four more engine batches, each with its latency. */
    assert_true(value_of(&scrape_after, REQUESTS("register", "ok")) >= 1); /* once seen */
    assert_true(delta("khorgos_commit_batch_requests_count") == 5);
    assert_true(delta("khorgos_commit_batch_requests_sum") == 6);
    assert_true(delta("khorgos_commit_latency_seconds_count") == 5);
    assert_true(delta("khorgos_commit_latency_seconds_sum") > 0);
    assert_true(delta("khorgos_engine_batches_total") == 5);
    assert_true(delta("khorgos_connections_accepted_total") == 1);
    assert_true(value_of(&scrape_after, "khorgos_sessions") >= 1);
    /* Every request of a session is journaled, the register and the lookup too: at least one
     * write, at most five. */
    double writes = delta("khorgos_journal_writes_total");
    assert_true(writes >= 1 && writes <= 5);
    assert_true(value_of(&scrape_after, "khorgos_ready") == 1);
    assert_true(delta("khorgos_http_responses_total{code=\"200\"}") == 1);
    check_histogram(&scrape_after, "khorgos_batch_events");
    check_histogram(&scrape_after, "khorgos_commit_batch_requests");
    check_histogram(&scrape_after, "khorgos_commit_latency_seconds");
}

/* The page parses, and names every metric docs/operations.md lists (the families below). */
static void test_metrics_format(void **state) {
    (void)state;
    scrape(&scrape_after);
    static const char *const families[] = {
        "khorgos_ready", "khorgos_requests_total", "khorgos_evictions_total",
        "khorgos_batch_events", "khorgos_commit_batch_requests",
        "khorgos_commit_latency_seconds", "khorgos_engine_batches_total", "khorgos_connections",
        "khorgos_connections_accepted_total", "khorgos_connections_refused_total",
        "khorgos_sessions", "khorgos_journal_writes_total", "khorgos_journal_slow_writes_total",
        "khorgos_journal_write_seconds_max", "khorgos_checkpoints_total",
        "khorgos_checkpoint_running", "khorgos_checkpoint_begin_seconds_max",
        "khorgos_payments_queued", "khorgos_payments_queued_value", "khorgos_liquidity_balance",
        "khorgos_liquidity_credit_line", "khorgos_liquidity_credit_outstanding",
        "khorgos_business_day_open", "khorgos_netting_windows", "khorgos_http_responses_total",
        "khorgos_http_connections_refused_total", "khorgos_cluster_replicas",
        "khorgos_cluster_replica", "khorgos_cluster_role", "khorgos_cluster_leader",
        "khorgos_cluster_term", "khorgos_cluster_commit_index", "khorgos_cluster_applied_index",
        "khorgos_cluster_last_log_index", "khorgos_cluster_stopped", "khorgos_cluster_generation",
        "khorgos_cluster_snapshots_taken_total", "khorgos_cluster_snapshots_installed_total",
        "khorgos_cluster_snapshot_loads_kept_total", "khorgos_cluster_snapshot_loads_newer_total",
        "khorgos_cluster_member"};
    for (size_t index = 0; index < sizeof(families) / sizeof(families[0]); index++) {
        assert_non_null(family_find(&scrape_after, families[index], strlen(families[index])));
    }
    assert_int_equal(scrape_after.family_count, sizeof(families) / sizeof(families[0]));
    assert_true(value_of(&scrape_after, "khorgos_netting_windows{state=\"open\"}") == 0);
    /* A single node says so: standalone, one replica, its own leader. */
    assert_true(value_of(&scrape_after, "khorgos_cluster_role{role=\"standalone\"}") == 1);
    assert_true(value_of(&scrape_after, "khorgos_cluster_role{role=\"leader\"}") == 0);
    assert_true(value_of(&scrape_after, "khorgos_cluster_replicas") == 1);
    assert_true(value_of(&scrape_after, "khorgos_cluster_leader") == 0);
    assert_true(value_of(&scrape_after, "khorgos_cluster_snapshots_installed_total") == 0);
    const char *body = NULL;
    assert_int_equal(http_get("HEAD", "/metrics", &body), 200);
    assert_string_equal(body, ""); /* HEAD: the length, no body */
}

static void test_health_ready(void **state) {
    (void)state;
    const char *body = NULL;
    assert_int_equal(http_get("GET", "/health", &body), 200);
    assert_string_equal(body, "alive\n");
    assert_int_equal(http_get("GET", "/ready", &body), 200);
    assert_string_equal(body, "ready\n");
    assert_int_equal(http_get("GET", "/ready?verbose=1", &body), 200);
    assert_non_null(strstr(page, "Connection: close\r\n"));
}

/* Each bad request gets its 4xx, and the counters by code move. */
static void test_bad_requests(void **state) {
    (void)state;
    scrape(&scrape_before);
    const char *body = NULL;
    assert_int_equal(http_get("GET", "/", &body), 404);
    assert_int_equal(http_get("GET", "/metricsx", &body), 404);
    assert_int_equal(http_get("POST", "/metrics", &body), 405);
    assert_non_null(strstr(page, "Allow: GET, HEAD\r\n"));
    assert_int_equal(http_get("DELETE", "/ready", &body), 405);
    static const char *const bad[] = {
        "GET\r\n\r\n", "GET /metrics\r\n\r\n", "GET /metrics HTTP/2.0\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n", "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
        "\r\n\r\n"};
    for (size_t index = 0; index < sizeof(bad) / sizeof(bad[0]); index++) {
        assert_int_equal(http_raw(bad[index], strlen(bad[index]), &body), 400);
    }
    static const char with_body[] = "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    assert_int_equal(http_raw(with_body, strlen(with_body), &body), 413);
    static const char chunked[] = "GET /metrics HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n";
    assert_int_equal(http_raw(chunked, strlen(chunked), &body), 413);
    static const char empty_body[] = "GET /health HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(http_raw(empty_body, strlen(empty_body), &body), 200);
    scrape(&scrape_after);
    assert_true(delta("khorgos_http_responses_total{code=\"404\"}") == 2);
    assert_true(delta("khorgos_http_responses_total{code=\"405\"}") == 2);
    assert_true(delta("khorgos_http_responses_total{code=\"400\"}") == 6);
    assert_true(delta("khorgos_http_responses_total{code=\"413\"}") == 2);
}

/* Headers past SERVER_HTTP_REQUEST_BYTES_MAX are refused with 431 and the connection closed,
 * before the blank line ever comes. */
static void test_oversized_request(void **state) {
    (void)state;
    static char request[SERVER_HTTP_REQUEST_BYTES_MAX + 1024];
    int at = snprintf(request, sizeof(request), "GET /metrics HTTP/1.1\r\n");
    while ((size_t)at < SERVER_HTTP_REQUEST_BYTES_MAX) {
        at += snprintf(request + at, sizeof(request) - (size_t)at, "X-Filler: %0100d\r\n", 0);
    }
    const char *body = NULL;
    assert_int_equal(http_raw(request, (size_t)at, &body), 431);
    /* Just under the cap is served. */
    at = snprintf(request, sizeof(request), "GET /health HTTP/1.1\r\n");
    while ((size_t)at + 120 < SERVER_HTTP_REQUEST_BYTES_MAX) {
        at += snprintf(request + at, sizeof(request) - (size_t)at, "X-Filler: %0100d\r\n", 0);
    }
    at += snprintf(request + at, sizeof(request) - (size_t)at, "\r\n");
    assert_int_equal(http_raw(request, (size_t)at, &body), 200);
}

/* A client that sends half a request and then nothing is closed after the timeout. */
static void test_slow_client_closed(void **state) {
    (void)state;
    int fd = connect_port(fixture.port_http, WAIT_MS);
    assert_int_equal(write(fd, "GET /metr", 9), 9);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&poll_fd, 1, WAIT_MS), 1); /* something happened: not a timeout */
    char buffer[64];
    assert_int_equal(read(fd, buffer, sizeof(buffer)), 0); /* closed, without an answer */
    clock_gettime(CLOCK_MONOTONIC, &end);
    close(fd);
    double waited_ms = (double)(end.tv_sec - start.tv_sec) * 1e3 +
                       (double)(end.tv_nsec - start.tv_nsec) / 1e6;
    assert_true(waited_ms >= HTTP_TIMEOUT_MS * 0.8);
}

/* SERVER_HTTP_CONNECTIONS_MAX connections held open: one more is closed at accept, and once
 * they close the port answers again and counts the refusal. */
static void test_connection_cap(void **state) {
    (void)state;
    scrape(&scrape_before);
    int held[SERVER_HTTP_CONNECTIONS_MAX];
    for (u32 index = 0; index < SERVER_HTTP_CONNECTIONS_MAX; index++) {
        held[index] = connect_port(fixture.port_http, WAIT_MS);
    }
    usleep(100 * 1000); /* the loop accepts them */
    int extra = connect_port(fixture.port_http, WAIT_MS);
    assert_int_equal(write(extra, "GET /health HTTP/1.1\r\n\r\n", 24), 24);
    struct pollfd poll_fd = {.fd = extra, .events = POLLIN};
    assert_int_equal(poll(&poll_fd, 1, WAIT_MS), 1);
    char buffer[64];
    /* Closed at accept: end of stream, or a reset for the request it never read. */
    ssize_t count = read(extra, buffer, sizeof(buffer));
    assert_true(count == 0 || (count < 0 && errno == ECONNRESET));
    close(extra);
    for (u32 index = 0; index < SERVER_HTTP_CONNECTIONS_MAX; index++) close(held[index]);
    usleep(100 * 1000);
    scrape(&scrape_after);
    assert_true(delta("khorgos_http_connections_refused_total") == 1);
}

/* While the data directory is being opened (held by the hook): /health answers 200, /ready 503
 * and /metrics parses with khorgos_ready 0; a client's register is held unanswered. Once the
 * open returns, the held register is answered and /ready says 200. */
static void test_ready_during_recovery(void **state) {
    (void)state;
    const char *body = NULL;
    assert_int_equal(http_get("GET", "/health", &body), 200);
    assert_int_equal(http_get("GET", "/ready", &body), 503);
    assert_string_equal(body, "not ready\n");
    scrape(&scrape_before);
    assert_true(value_of(&scrape_before, "khorgos_ready") == 0);
    assert_null(family_find(&scrape_before, "khorgos_journal_writes_total", 28));
    memset(&client, 0, sizeof(client));
    client.fd = connect_port(fixture.port_main, WAIT_MS);
    client.id = 77;
    struct client_register_request request = {0};
    client_send(&client, CLIENT_OPERATION_REGISTER, &request, sizeof(request));
    struct pollfd poll_fd = {.fd = client.fd, .events = POLLIN};
    assert_int_equal(poll(&poll_fd, 1, 300), 0); /* held: nothing read, nothing answered */
    assert_int_equal(write(fixture.hold[1], "x", 1), 1); /* the open goes on */
    struct client_header reply = client_receive();
    assert_int_equal(reply.command, CLIENT_COMMAND_REPLY);
    close(client.fd);
    assert_int_equal(http_get("GET", "/ready", &body), 200);
    scrape(&scrape_after);
    assert_true(value_of(&scrape_after, "khorgos_ready") == 1);
    assert_non_null(family_find(&scrape_after, "khorgos_journal_writes_total", 28));
}

/* /ready is 503 until the engine is open and serving, and again while stopping; /health is
 * 200 throughout (server_http_answer on a server in each state). */
static void test_ready_states(void **state) {
    (void)state;
    struct server *server = calloc(1, sizeof(*server));
    assert_non_null(server);
    server_metrics_init(&server->metrics);
    assert_int_equal(uv_loop_init(&server->loop), 0);
    assert_int_equal(uv_check_init(&server->loop, &server->check), 0);
    static const char ready[] = "GET /ready HTTP/1.1\r\n\r\n";
    static const char health[] = "GET /health HTTP/1.1\r\n\r\n";
    char *body = NULL;
    u32 bytes = 0;
    const char *type = NULL;
    bool head = false;
    assert_int_equal(server_http_answer(server, ready, sizeof(ready) - 1, &body, &bytes, &type,
                                        &head), 503); /* recovering: no engine yet */
    free(body);
    assert_int_equal(server_http_answer(server, health, sizeof(health) - 1, &body, &bytes,
                                        &type, &head), 200);
    free(body);
    struct khorgos_config config = {.account_count_max = 64, .transfer_count_max = 64};
    assert_int_equal(khorgos_open_memory(&server->engine, &config), KHORGOS_ERROR_ok);
    assert_int_equal(server_http_answer(server, ready, sizeof(ready) - 1, &body, &bytes, &type,
                                        &head), 503); /* open, not yet serving */
    free(body);
    uv_check_start(&server->check, (uv_check_cb)server_on_idle);
    assert_int_equal(server_http_answer(server, ready, sizeof(ready) - 1, &body, &bytes, &type,
                                        &head), 200);
    free(body);
    server->stopping = true;
    assert_int_equal(server_http_answer(server, ready, sizeof(ready) - 1, &body, &bytes, &type,
                                        &head), 503);
    assert_string_equal(body, "stopping\n");
    free(body);
    uv_close((uv_handle_t *)&server->check, NULL);
    uv_run(&server->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&server->loop), 0);
    khorgos_close(server->engine);
    free(server);
}

/* The per-currency figures: a queued payment's count and value, balances, credit lines. */
static void test_currency_statistics(void **state) {
    (void)state;
    struct khorgos *engine = test_open();
    assert_int_equal(khorgos_currency_count(engine), 0);
    assert_int_equal(test_participant(engine, "NBRKKZKX", KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, "HSBKKZKX", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, "KCJBKZKX", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_open_day(engine, KZT, DAY_1, KHORGOS_QUEUE_MODE_FIFO, 0, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    test_fund(engine, "HSBKKZKX", KZT, 1000);
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_SET_CREDIT_LINES,
                                            "KCJBKZKX", KZT, 70).status, KHORGOS_SETTLE_ok);
    assert_int_equal(test_pay(engine, 1, "HSBKKZKX", "KCJBKZKX", 300, KZT), KHORGOS_SETTLE_settled);
    assert_int_equal(test_pay(engine, 2, "HSBKKZKX", "KCJBKZKX", 5000, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_lookup(engine, 2).state, KHORGOS_PAYMENT_QUEUED);
    assert_int_equal(khorgos_currency_count(engine), 1);
    struct khorgos_currency_statistics statistics;
    assert_int_equal(khorgos_currency_statistics(engine, 0, &statistics), KHORGOS_ERROR_ok);
    assert_int_equal(statistics.numeric, KZT);
    assert_int_equal(statistics.day_open, 1);
    assert_int_equal(statistics.participants, 3);
    assert_int_equal(statistics.queued_count, 1);
    assert_true(statistics.queued_value == 5000);
    assert_true(statistics.balance == 1000); /* 700 + 300: moved between banks, still there */
    assert_true(statistics.credit_line == 70);
    assert_true(statistics.credit_outstanding == 0);
    assert_int_equal(khorgos_currency_statistics(engine, 1, &statistics),
                     KHORGOS_ERROR_invalid_argument);
    u32 counts[KHORGOS_WINDOW_STATE_COUNT];
    khorgos_window_counts(engine, counts);
    for (u32 index = 0; index < KHORGOS_WINDOW_STATE_COUNT; index++) {
        assert_int_equal(counts[index], 0);
    }
    /* The same figures on the /metrics page, in major units (KZT has 2 decimals). */
    struct server *server = calloc(1, sizeof(*server));
    assert_non_null(server);
    server_metrics_init(&server->metrics);
    server->engine = engine;
    u32 bytes = 0;
    char *text = server_metrics_render(server, &bytes);
    assert_non_null(text);
    assert_int_equal(strlen(text), bytes);
    parse_page(&scrape_after, text);
    assert_true(value_of(&scrape_after, "khorgos_payments_queued{currency=\"KZT\"}") == 1);
    assert_non_null(strstr(text, "\nkhorgos_payments_queued_value{currency=\"KZT\"} 50.00\n"));
    assert_non_null(strstr(text, "\nkhorgos_liquidity_balance{currency=\"KZT\"} 10.00\n"));
    assert_non_null(strstr(text, "\nkhorgos_liquidity_credit_line{currency=\"KZT\"} 0.70\n"));
    assert_true(value_of(&scrape_after, "khorgos_liquidity_credit_outstanding{currency=\"KZT\"}") ==
                0);
    assert_true(value_of(&scrape_after, "khorgos_business_day_open{currency=\"KZT\"}") == 1);
    assert_true(value_of(&scrape_after, "khorgos_netting_windows{state=\"settled\"}") == 0);
    assert_true(value_of(&scrape_after, "khorgos_ready") == 0); /* not serving */
    free(text);
    free(server);
    khorgos_close(engine);
}

int main(void) {
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_metrics_count_requests),
        cmocka_unit_test(test_metrics_format),
        cmocka_unit_test(test_health_ready),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_oversized_request),
        cmocka_unit_test(test_slow_client_closed),
        cmocka_unit_test(test_connection_cap),
    };
    const struct CMUnitTest local[] = {
        cmocka_unit_test(test_ready_states),
        cmocka_unit_test(test_currency_statistics),
    };
    const struct CMUnitTest recovering[] = {
        cmocka_unit_test(test_ready_during_recovery),
    };
    int failed = cmocka_run_group_tests_name("server_http_live", live, setup, teardown);
    failed += cmocka_run_group_tests_name("server_http_recovering", recovering, setup_holding,
                                          teardown);
    return failed + cmocka_run_group_tests_name("server_http_local", local, NULL, NULL);
}
