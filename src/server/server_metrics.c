/*
 * server_metrics.c: the counters the loop keeps and the /metrics page (Prometheus's text
 * format 0.0.4). Counting costs a few increments per engine batch; the engine's state is read
 * only while a page is written (server_http.h, note 3). Every metric is listed, with its type
 * and meaning, in docs/operations.md.
 */
#include "server/server_private.h"
#include "cluster/cluster_replica.h"
#include "cluster/cluster_status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const double batch_events_bounds[] = {1, 2, 8, 32, 128, 512, 2048, 8189};
static const double commit_requests_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const double commit_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                               0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define BOUNDS(array) (array), (u32)(sizeof(array) / sizeof((array)[0]))

static void histogram_init(struct server_histogram *histogram, const double *bounds, u32 count) {
    ASSERT(bounds != NULL);
    ASSERT(count > 0 && count <= SERVER_METRICS_BUCKETS_MAX);
    memset(histogram, 0, sizeof(*histogram));
    histogram->bounds = bounds;
    histogram->bound_count = count;
}

void server_metrics_init(struct server_metrics *metrics) {
    ASSERT(metrics != NULL);
    memset(metrics, 0, sizeof(*metrics));
    histogram_init(&metrics->batch_events, BOUNDS(batch_events_bounds));
    histogram_init(&metrics->commit_requests, BOUNDS(commit_requests_bounds));
    histogram_init(&metrics->commit_latency, BOUNDS(commit_latency_bounds));
    ASSERT(metrics->commit_latency.bound_count == 12);
}

void server_histogram_observe(struct server_histogram *histogram, double value) {
    ASSERT(histogram->bounds != NULL);
    ASSERT(value >= 0);
    histogram->count++;
    histogram->sum += value;
    for (u32 index = 0; index < histogram->bound_count; index++) {
        if (value <= histogram->bounds[index]) {
            histogram->buckets[index]++;
            return;
        }
    }
}

void server_metrics_batch_finished(struct server *server, const struct server_batch *batch,
                                   khorgos_error error) {
    ASSERT(server != NULL && batch != NULL);
    ASSERT(batch->requests_count > 0);
    struct server_metrics *metrics = &server->metrics;
    u64 now_ns = uv_hrtime();
    double latency_s = now_ns > batch->begun_ns ? (double)(now_ns - batch->begun_ns) / 1e9 : 0;
    server_histogram_observe(&metrics->commit_latency, latency_s);
    server_histogram_observe(&metrics->commit_requests, batch->requests_count);
    for (const struct server_job *job = batch->jobs_head; job != NULL; job = job->next) {
        if (job->request_count == 0) continue; /* a body of no batch: nothing executed */
        /* A register has no events: it counts as a request, not in the events' histogram. */
        struct client_operation_shape shape = {.event_bytes = 0};
        bool batched = client_operation_shape(job->request.request.operation, &shape);
        bool plain = client_operation_khorgos(job->request.request.operation);
        if (plain) { /* a plain body of the engine's records */
            const struct engine_operation *entry =
                engine_operation_find(batch->requests[job->request_first].operation);
            ASSERT(entry != NULL);
            shape.event_bytes = entry->body_record_size;
            batched = shape.event_bytes > 0;
        }
        ASSERT(batched ? shape.event_bytes > 0
                       : plain || job->request.request.operation == CLIENT_OPERATION_REGISTER);
        enum server_metrics_status status = SERVER_METRICS_STATUS_OK;
        for (u32 index = 0; index < job->request_count; index++) {
            const struct khorgos_request *request = &batch->requests[job->request_first + index];
            if (request->error != KHORGOS_ERROR_ok) status = SERVER_METRICS_STATUS_REFUSED;
            if (!batched) continue;
            server_histogram_observe(&metrics->batch_events,
                                     (double)(request->body_size / shape.event_bytes));
        }
        if (error != KHORGOS_ERROR_ok) status = SERVER_METRICS_STATUS_FAILED;
        u32 operation = batch->requests[job->request_first].operation;
        ASSERT(operation < SERVER_METRICS_OPERATIONS);
        metrics->requests[operation][status]++;
    }
}

/* ----------------------------------------------------------------------------------------- */
/* The page.                                                                                  */

struct page {
    char *text;
    size_t used;
    size_t capacity;
    bool failed; /* out of memory: the page is dropped */
};

static void page_printf(struct page *page, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void page_printf(struct page *page, const char *format, ...) {
    ASSERT(page != NULL && format != NULL);
    if (page->failed) return;
    for (;;) {
        va_list arguments;
        va_start(arguments, format);
        int length = vsnprintf(page->text + page->used, page->capacity - page->used, format,
                               arguments);
        va_end(arguments);
        ASSERT(length >= 0);
        if (page->used + (size_t)length < page->capacity) {
            page->used += (size_t)length;
            return;
        }
        size_t capacity = MAX(page->capacity * 2, page->used + (size_t)length + 1);
        char *text = realloc(page->text, capacity);
        if (text == NULL) {
            page->failed = true;
            return;
        }
        page->text = text;
        page->capacity = capacity;
    }
}

static void page_header(struct page *page, const char *name, const char *type,
                        const char *help) {
    ASSERT(name != NULL && type != NULL);
    ASSERT(help != NULL && help[0] != '\0');
    page_printf(page, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void page_histogram(struct page *page, const char *name, const char *help,
                           const struct server_histogram *histogram) {
    ASSERT(histogram->bound_count > 0);
    page_header(page, name, "histogram", help);
    u64 cumulative = 0;
    for (u32 index = 0; index < histogram->bound_count; index++) {
        cumulative += histogram->buckets[index];
        page_printf(page, "%s_bucket{le=\"%g\"} %llu\n", name, histogram->bounds[index],
                    (unsigned long long)cumulative);
    }
    ASSERT(cumulative <= histogram->count);
    page_printf(page, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
                (unsigned long long)histogram->count, name, histogram->sum, name,
                (unsigned long long)histogram->count);
}

static void page_counter(struct page *page, const char *name, const char *help, u64 value) {
    ASSERT(name != NULL);
    ASSERT(strstr(name, "_total") != NULL);
    page_header(page, name, "counter", help);
    page_printf(page, "%s %llu\n", name, (unsigned long long)value);
}

static void page_gauge(struct page *page, const char *name, const char *help, double value) {
    ASSERT(name != NULL);
    ASSERT(strstr(name, "_total") == NULL);
    page_header(page, name, "gauge", help);
    page_printf(page, "%s %.9g\n", name, value);
}

static const char *const status_names[SERVER_METRICS_STATUS_COUNT] = {"ok", "refused",
                                                                       "failed"};

static void page_requests(struct page *page, const struct server_metrics *metrics) {
    ASSERT(metrics != NULL);
    page_header(page, "khorgos_requests_total", "counter",
                "Requests answered (ok), refused by the engine (refused: the client was "
                "evicted) or lost to an engine failure (failed), by operation.");
    for (u32 operation = 0; operation < SERVER_METRICS_OPERATIONS; operation++) {
        const char *name = khorgos_operation_name(operation);
        bool ledger = operation >= KHORGOS_OPERATION_CREATE_ACCOUNTS &&
                      operation <= KHORGOS_OPERATION_QUERY_TRANSFERS;
        for (u32 status = 0; status < SERVER_METRICS_STATUS_COUNT; status++) {
            u64 count = metrics->requests[operation][status];
            if (name == NULL || (count == 0 && !ledger)) continue;
            page_printf(page, "khorgos_requests_total{operation=\"%s\",status=\"%s\"} %llu\n",
                        name, status_names[status], (unsigned long long)count);
        }
    }
    page_header(page, "khorgos_evictions_total", "counter",
                "Eviction messages sent to clients, by reason.");
    for (u32 reason = 1; reason < CLIENT_EVICTION_REASON_COUNT; reason++) {
        const char *name = client_eviction_reason_name((u8)reason);
        ASSERT(name != NULL);
        page_printf(page, "khorgos_evictions_total{reason=\"%s\"} %llu\n", name,
                    (unsigned long long)metrics->evictions[reason]);
    }
}

static void page_server(struct page *page, const struct server *server) {
    ASSERT(server != NULL);
    /* The table is the engine's (engine_session.c), which counts its occupied slots. */
    u32 sessions = server->engine != NULL ? server->engine->sessions.count : 0;
    ASSERT(sessions <= ENGINE_SESSIONS_MAX);
    const struct server_metrics *metrics = &server->metrics;
    page_histogram(page, "khorgos_batch_events", "Events in each batch of a request body "
                   "(one engine request).", &metrics->batch_events);
    page_histogram(page, "khorgos_commit_batch_requests", "Engine requests in each engine "
                   "batch: requests of every connection committed together.",
                   &metrics->commit_requests);
    page_histogram(page, "khorgos_commit_latency_seconds", "From an engine batch's start to "
                   "the release of its replies, once its journal records are durable.",
                   &metrics->commit_latency);
    page_counter(page, "khorgos_engine_batches_total", "Engine batches executed.",
                 server->engine_batches);
    page_gauge(page, "khorgos_connections", "Client connections open now.",
               server->connection_count);
    page_counter(page, "khorgos_connections_accepted_total", "Client connections accepted.",
                 server->connection_next);
    page_counter(page, "khorgos_connections_refused_total", "Client connections closed at "
                 "accept because the most were open.", metrics->connections_refused);
    page_gauge(page, "khorgos_sessions", "Client sessions held now.", sessions);
}

static void page_storage(struct page *page, const struct khorgos *engine) {
    ASSERT(engine != NULL);
    struct khorgos_journal_statistics journal;
    if (khorgos_journal_statistics(engine, &journal) == KHORGOS_ERROR_ok) {
        page_counter(page, "khorgos_journal_writes_total", "Journal batch writes (records, "
                     "fdatasync, header copies, fdatasync).", journal.flights);
        page_header(page, "khorgos_journal_slow_writes_total", "counter",
                    "Journal batch writes that took longer than over_seconds.");
        page_printf(page, "khorgos_journal_slow_writes_total{over_seconds=\"0.005\"} %llu\n"
                    "khorgos_journal_slow_writes_total{over_seconds=\"0.01\"} %llu\n",
                    (unsigned long long)journal.flights_over_5_ms,
                    (unsigned long long)journal.flights_over_10_ms);
        page_gauge(page, "khorgos_journal_write_seconds_max", "The longest journal batch "
                   "write since open.", (double)journal.flight_ns_max / 1e9);
    }
    struct khorgos_checkpoint_statistics checkpoints;
    if (khorgos_checkpoint_statistics(engine, &checkpoints) == KHORGOS_ERROR_ok) {
        page_header(page, "khorgos_checkpoints_total", "counter",
                    "Checkpoints since open: started, completed (published) and discarded "
                    "(failed in the background; the journal still holds everything).");
        page_printf(page, "khorgos_checkpoints_total{result=\"started\"} %llu\n"
                    "khorgos_checkpoints_total{result=\"completed\"} %llu\n"
                    "khorgos_checkpoints_total{result=\"discarded\"} %llu\n",
                    (unsigned long long)checkpoints.started,
                    (unsigned long long)checkpoints.completed,
                    (unsigned long long)checkpoints.discarded);
        page_gauge(page, "khorgos_checkpoint_running", "1 while a checkpoint is being written.",
                   checkpoints.sequence_running != 0 ? 1 : 0);
        page_gauge(page, "khorgos_checkpoint_begin_seconds_max", "The longest a commit spent "
                   "beginning a checkpoint.", (double)checkpoints.begin_ns_max / 1e9);
    }
}

/* One gauge per currency: `value` picks the figure (an amount in major units, or a count). */
enum currency_figure { QUEUED, QUEUED_VALUE, BALANCE, CREDIT_LINE, CREDIT_OUTSTANDING, DAY_OPEN };

static void page_currency_gauge(struct page *page, const struct khorgos *engine,
                                enum currency_figure figure, const char *name,
                                const char *help) {
    ASSERT(engine != NULL && name != NULL);
    page_header(page, name, "gauge", help);
    u32 count = khorgos_currency_count(engine);
    for (u32 index = 0; index < count; index++) {
        struct khorgos_currency_statistics statistics;
        khorgos_error error = khorgos_currency_statistics(engine, index, &statistics);
        ASSERT(error == KHORGOS_ERROR_ok);
        char letters[16];
        const struct khorgos_currency *currency = khorgos_currency_by_numeric(statistics.numeric);
        if (currency != NULL) snprintf(letters, sizeof(letters), "%s", currency->letters);
        else snprintf(letters, sizeof(letters), "%u", statistics.numeric);
        u128 amount = figure == QUEUED_VALUE         ? statistics.queued_value
                      : figure == BALANCE            ? statistics.balance
                      : figure == CREDIT_LINE        ? statistics.credit_line
                      : figure == CREDIT_OUTSTANDING ? statistics.credit_outstanding : 0;
        char value[64];
        if (figure == QUEUED) snprintf(value, sizeof(value), "%u", statistics.queued_count);
        else if (figure == DAY_OPEN) snprintf(value, sizeof(value), "%u", statistics.day_open);
        else khorgos_amount_format(amount, statistics.minor_units, value, sizeof(value));
        page_printf(page, "%s{currency=\"%s\"} %s\n", name, letters, value);
    }
}

static const struct {
    enum currency_figure figure;
    const char *name;
    const char *help;
} currency_gauges[] = {
    {QUEUED, "khorgos_payments_queued", "Payments queued now, by currency."},
    {QUEUED_VALUE, "khorgos_payments_queued_value",
     "Value of the payments queued now, in the currency's major units."},
    {BALANCE, "khorgos_liquidity_balance",
     "Participants' settlement account balances, in major units."},
    {CREDIT_LINE, "khorgos_liquidity_credit_line",
     "Intraday credit lines granted, in major units."},
    {CREDIT_OUTSTANDING, "khorgos_liquidity_credit_outstanding",
     "Intraday credit drawn and not repaid, in major units."},
    {DAY_OPEN, "khorgos_business_day_open", "1 while the currency's business day is open."},
};

static void page_settlement(struct page *page, const struct khorgos *engine) {
    ASSERT(engine != NULL);
    for (size_t index = 0; index < sizeof(currency_gauges) / sizeof(currency_gauges[0]); index++) {
        page_currency_gauge(page, engine, currency_gauges[index].figure,
                            currency_gauges[index].name, currency_gauges[index].help);
    }
    static const char *const states[KHORGOS_WINDOW_STATE_COUNT] = {
        NULL, "open", "closed", "pending_settlement", "settled", "aborted"};
    u32 counts[KHORGOS_WINDOW_STATE_COUNT];
    khorgos_window_counts(engine, counts);
    page_header(page, "khorgos_netting_windows", "gauge", "Netting windows now, by state.");
    for (u32 state = 1; state < KHORGOS_WINDOW_STATE_COUNT; state++) {
        page_printf(page, "khorgos_netting_windows{state=\"%s\"} %u\n", states[state],
                    counts[state]);
    }
}

/* This replica's generation and raft's configuration as it knows it: one sample per server
 * (none on a single node, or before a joining replica heard from the leader). */
static void page_members(struct page *page, const struct cluster_status *status) {
    ASSERT(page != NULL && status != NULL);
    ASSERT(status->member_count <= CLUSTER_MEMBERS_MAX);
    page_gauge(page, "khorgos_cluster_generation", "This replica's generation (0, or one more "
               "for each replacement of its index).", status->generation);
    page_counter(page, "khorgos_cluster_snapshots_taken_total", "raft snapshots this replica "
                 "took since it started (log compaction).", status->snapshots_taken);
    page_counter(page, "khorgos_cluster_snapshots_installed_total", "Leader's snapshots this "
                 "replica installed since it started, its data directory behind them (a lagging "
                 "or new replica catching up).", status->snapshots_installed);
    page_header(page, "khorgos_cluster_snapshot_loads_kept_total", "counter",
                "Leader's snapshot loads kept from raft since it started, because they failed.");
    page_printf(page, "khorgos_cluster_snapshot_loads_kept_total{reason=\"failed\"} %llu\n",
                (unsigned long long)status->snapshot_loads_failed);
    page_counter(page, "khorgos_cluster_snapshot_loads_newer_total", "Leader's snapshot loads "
                 "since it started that returned a newer snapshot of another term than raft "
                 "asked for, sent under their own term.", status->snapshot_loads_newer);
    page_header(page, "khorgos_cluster_member", "gauge",
                "1 for each server of raft's configuration: its index, generation and role.");
    for (u32 index = 0; index < status->member_count; index++) {
        const struct cluster_member *member = &status->members[index];
        page_printf(page, "khorgos_cluster_member{replica=\"%u\",generation=\"%u\","
                    "role=\"%s\"} 1\n", member->replica, member->generation,
                    cluster_member_role_name(member->role));
    }
}

/* The replica's place in its cluster (cluster_status.h); a single node is standalone. */
static void page_cluster(struct page *page, struct server *server) {
    ASSERT(page != NULL && server != NULL);
    struct cluster_status status;
    if (server->replica != NULL) {
        struct cluster_replica *cluster = server_replica_cluster(server);
        ASSERT(!cluster->started || cluster->raft.data == cluster);
        if (cluster->started) {
            cluster_status_read(&cluster->raft, &cluster->fsm, &cluster->hold, &cluster->identity,
                                &status);
        } else {
            cluster_status_standalone(&status);
            status.role = CLUSTER_ROLE_UNAVAILABLE;
            status.leader = -1;
        }
    } else {
        cluster_status_standalone(&status);
        /* Before its data directory is open a replica has not started raft yet: it cannot
         * say what it is. */
        if (!server_http_ready(server)) {
            status.role = CLUSTER_ROLE_UNAVAILABLE;
            status.leader = -1;
        }
    }
    ASSERT(status.replica < status.replica_count);
    page_gauge(page, "khorgos_cluster_replicas", "Replicas in the cluster (1: a single node).",
               status.replica_count);
    page_gauge(page, "khorgos_cluster_replica", "This replica's index.", status.replica);
    page_header(page, "khorgos_cluster_role", "gauge",
                "1 for this replica's role now (standalone: a single node).");
    for (u32 role = 0; role < CLUSTER_ROLE_COUNT; role++) {
        page_printf(page, "khorgos_cluster_role{role=\"%s\"} %u\n",
                    cluster_role_name((enum cluster_role)role), role == status.role ? 1u : 0u);
    }
    page_gauge(page, "khorgos_cluster_leader", "The leader's index as this replica knows it; "
               "-1 while it knows none.", (double)status.leader);
    page_gauge(page, "khorgos_cluster_term", "raft's current term (0 on a single node).",
               (double)status.term);
    page_gauge(page, "khorgos_cluster_commit_index", "The highest raft log index this replica "
               "knows committed.", (double)status.commit_index);
    page_gauge(page, "khorgos_cluster_applied_index", "The highest raft log index applied to "
               "this replica's state.", (double)status.applied_index);
    page_gauge(page, "khorgos_cluster_last_log_index", "The last index in this replica's raft "
               "log.", (double)status.last_log_index);
    page_gauge(page, "khorgos_cluster_stopped", "1 when this replica's state machine stopped "
               "(its state diverged, or its journal and raft's log disagree).", status.stopped);
    page_members(page, &status);
}

const u32 server_metrics_http_codes[SERVER_METRICS_HTTP_CODES] = {200, 400, 404, 405,
                                                                  413, 431, 500, 503};

void server_metrics_http_response(struct server_metrics *metrics, u32 code) {
    ASSERT(metrics != NULL);
    ASSERT(code >= 100 && code < 600);
    for (u32 index = 0; index < SERVER_METRICS_HTTP_CODES; index++) {
        if (server_metrics_http_codes[index] == code) metrics->http_responses[index]++;
    }
}

char *server_metrics_render(struct server *server, u32 *bytes) {
    ASSERT(server != NULL && bytes != NULL);
    struct page page = {.text = malloc(16384), .capacity = 16384};
    if (page.text == NULL) return NULL;
    page.text[0] = '\0';
    page_gauge(&page, "khorgos_ready", "1 once the data directory is recovered and requests "
               "are served; 0 while stopping.", server_http_ready(server) ? 1 : 0);
    page_requests(&page, &server->metrics);
    page_server(&page, server);
    page_cluster(&page, server);
    if (server->engine != NULL) {
        page_storage(&page, server->engine);
        page_settlement(&page, server->engine);
    }
    page_header(&page, "khorgos_http_responses_total", "counter",
                "Answers of the HTTP port, by status code.");
    for (u32 index = 0; index < SERVER_METRICS_HTTP_CODES; index++) {
        page_printf(&page, "khorgos_http_responses_total{code=\"%u\"} %llu\n",
                    server_metrics_http_codes[index],
                    (unsigned long long)server->metrics.http_responses[index]);
    }
    page_counter(&page, "khorgos_http_connections_refused_total", "HTTP connections closed at "
                 "accept because the most were open.", server->metrics.http_connections_refused);
    if (page.failed) {
        free(page.text);
        return NULL;
    }
    *bytes = (u32)page.used;
    return page.text;
}
