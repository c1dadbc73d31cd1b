/*
 * server_replica.c: `khorgos start --addresses A0,A1,.. --replica N`, one replica of a cluster
 * (docs/replication.md). raft (src/cluster/cluster_replica.h) runs on the server's one loop;
 * the server hands its engine batches here instead of to the engine (server_jobs_execute):
 *
 *   - the leader encodes each batch as one or more entries (cluster_entry_batch_encode: at most
 *     CLUSTER_ENTRY_REQUEST_COUNT_MAX requests and CLUSTER_ENTRY_BYTES_MAX bytes expanded each),
 *     stamps them with its clock (cluster_leader_timestamp), proposes them with raft_apply, and
 *     sends the batch's replies only once every entry of it is committed and applied: raft's
 *     callback gives the state machine's result (cluster_apply_result), whose errors, timestamps
 *     and replies become the batch's. One batch is proposed at a time; requests read meanwhile wait
 *     in the next, so a batch grows with the commit latency. A batch whose entry is not committed
 *     here (leadership lost) gets no reply: its clients retry, and their sessions, replicated with
 *     every request, answer a retry of a request applied after all;
 *   - a leader serves only once a barrier of its own term is applied, so its state holds every
 *     entry committed before it led (the session table included);
 *   - a follower, or a leader before its barrier, drops client requests without a reply (and
 *     answers pings without checking sessions it may not have applied yet): the client's
 *     timeout sends the request to the next replica;
 *   - every message a replica sends carries view = term x replica_count + the leader's index,
 *     so a client's `view mod replica_count` names the leader (the reply's context, which a
 *     client's next request names as its parent, is computed with view 0, so it is the same
 *     whichever replica builds the reply);
 *   - a timer: the leader proposes an empty batch (a clock tick) when its engine has a timer
 *     due (cluster_leader_tick_due), and marks one every SERVER_REPLICA_MARK_ENTRIES entries
 *     or SERVER_REPLICA_MARK_INTERVAL_MS, followed by a check entry with its digest; a replica
 *     whose state machine stopped (diverged, corrupt) logs why and exits.
 */
#include "server/server_private.h"

#include "cluster/cluster_replica.h"

#include <signal.h>
#include <stdlib.h>

/* The replica's timer: ticks, marks and the stop check run at most this late. */
#define SERVER_REPLICA_TIMER_MS 50u
/* A digest check at most this many entries, or this long, after the last (when any entry was
 * applied since), so a divergence is found within seconds. */
#define SERVER_REPLICA_MARK_ENTRIES 256u
#define SERVER_REPLICA_MARK_INTERVAL_MS 2000u

/* One entry proposed: part of the batch in flight, or (batch NULL) a tick, mark or check. */
struct server_replica_proposal {
    struct raft_apply apply;
    struct server *server;
    struct server_batch *batch;
    u32 first;
    u32 count;
    u64 mark;
    u128 entry_checksum; /* of its bytes: how its apply is recognized (raft copies them) */
    bool copied; /* its results were taken when it was applied (replica_entry_applied) */
    struct server_replica_proposal *next; /* the batch's entries not yet answered by raft */
};

struct server_replica {
    struct cluster_replica cluster;
    uv_timer_t timer;
    u32 outstanding; /* entries of the batch in flight not yet answered by raft */
    struct server_replica_proposal *proposals; /* those entries */
    khorgos_error flying_error;
    bool control_pending; /* a tick, mark or check in flight */
    bool barrier_pending;
    raft_term barrier_term;
    raft_term serving_term; /* the term whose barrier this leader applied */
    struct raft_barrier barrier;
    u64 entries_since_mark;
    u64 mark_last_ms;
    int leader_logged;
    raft_term term_logged;
    u64 journal_continued_logged;
    bool stopping;
    bool closed;
};

static struct raft *replica_raft(struct server *server) {
    ASSERT(server->replica != NULL);
    ASSERT(server->replica->cluster.started);
    return &server->replica->cluster.raft;
}

bool server_replica_serving(const struct server *server) {
    ASSERT(server->replica != NULL);
    const struct server_replica *replica = server->replica;
    if (replica->stopping || !replica->cluster.started) return false;
    struct raft *raft = (struct raft *)&replica->cluster.raft;
    return raft_state(raft) == RAFT_LEADER && replica->serving_term == raft->current_term;
}

void server_replica_stamp(const struct server *server, void *message) {
    ASSERT(server->replica != NULL && message != NULL);
    struct client_header header;
    memcpy(&header, message, sizeof(header));
    if (header.command != CLIENT_COMMAND_REPLY && header.command != CLIENT_COMMAND_PONG_CLIENT &&
        header.command != CLIENT_COMMAND_EVICTION) {
        return;
    }
    u64 view = cluster_replica_view(&server->replica->cluster);
    header.view = (u32)MIN(view, (u64)U32_MAX);
    header.replica = (u8)server->replica->cluster.identity.replica; /* the sender, as TB's */
    header.checksum = client_header_checksum(&header);
    memcpy(message, &header, sizeof(header));
}

static void replica_applied(struct raft_apply *apply, int status, void *result);

/* Proposes one entry: `count` requests of `batch` from `first` (none for a tick), with `mark`.
 * false when it could not be proposed (not the leader any more, out of memory). */
static bool replica_propose(struct server *server, struct server_batch *batch, u32 first,
                            u32 count, u64 mark) {
    ASSERT(batch != NULL || count == 0);
    ASSERT(count <= CLUSTER_ENTRY_REQUEST_COUNT_MAX);
    struct cluster_replica *cluster = &server->replica->cluster;
    const struct khorgos_request *requests = batch != NULL ? batch->requests + first : NULL;
    u64 capacity = cluster_entry_batch_capacity_bytes(requests, count);
    struct server_replica_proposal *proposal = calloc(1, sizeof(*proposal));
    struct raft_buffer buffer = {.base = raft_malloc(capacity), .len = 0};
    u64 timestamp = cluster_leader_timestamp(cluster->fsm.engine, base_clock_realtime_ns());
    u64 bytes = 0;
    bool ok = proposal != NULL && buffer.base != NULL &&
              cluster_entry_batch_encode(buffer.base, capacity, timestamp, mark, requests, count,
                                         &bytes) == KHORGOS_ERROR_ok;
    buffer.len = bytes; /* raft carries the encoded bytes only */
    if (ok) {
        *proposal = (struct server_replica_proposal){
            .server = server, .batch = batch, .first = first, .count = count, .mark = mark,
            .entry_checksum = base_checksum128(buffer.base, bytes)};
        proposal->apply.data = proposal;
        ok = raft_apply(&cluster->raft, &proposal->apply, &buffer, 1, replica_applied) == 0;
    }
    if (ok && batch != NULL) { /* in proposal order, the order raft applies them in */
        struct server_replica_proposal **link = &server->replica->proposals;
        while (*link != NULL) link = &(*link)->next;
        *link = proposal;
    }
    if (!ok) {
        raft_free(buffer.base);
        free(proposal);
    }
    return ok;
}

/* The check entry after a marked one: the leader's digest under the mark. */
static void replica_propose_check(struct server *server) {
    struct cluster_replica *cluster = &server->replica->cluster;
    ASSERT(cluster->fsm.mark != 0);
    u64 bytes = CLUSTER_ENTRY_HEADER_BYTES + CLUSTER_CHECK_BYTES;
    struct server_replica_proposal *proposal = calloc(1, sizeof(*proposal));
    struct raft_buffer buffer = {.base = raft_malloc(bytes), .len = bytes};
    bool ok = proposal != NULL && buffer.base != NULL;
    if (ok) {
        u64 timestamp = cluster_leader_timestamp(cluster->fsm.engine, base_clock_realtime_ns());
        cluster_entry_check_encode(buffer.base, timestamp, cluster->fsm.mark,
                                   cluster->fsm.mark_digest);
        *proposal = (struct server_replica_proposal){.server = server};
        proposal->apply.data = proposal;
        ok = raft_apply(&cluster->raft, &proposal->apply, &buffer, 1, replica_applied) == 0;
    }
    if (!ok) {
        raft_free(buffer.base);
        free(proposal);
    }
    server->replica->control_pending = ok;
}

/* The state machine stopped (diverged, corrupt): says why and stops the process, serving
 * nothing more. */
static void replica_stopped(struct server *server, khorgos_error error) {
    ASSERT(error != KHORGOS_ERROR_ok);
    struct server_replica *replica = server->replica;
    if (server->failure != KHORGOS_ERROR_ok || replica->stopping) return;
    const struct cluster_fsm *fsm = &replica->cluster.fsm;
    server_log("event=replica_stopped replica=%u error=%s mark=%llu reason=\"%s%s\"",
               (unsigned)replica->cluster.identity.replica, khorgos_error_name(error),
               (unsigned long long)fsm->diverged_mark, khorgos_strerror(error),
               error == KHORGOS_ERROR_diverged
                   ? "; this replica's data directory must be replaced by a fresh one"
                   : "");
    server->failure = error;
    raise(SIGTERM);
}

/* The results of one applied entry into the batch's requests (their replies the server's). */
static void replica_results_copy(struct server_replica_proposal *proposal,
                                 const struct cluster_apply_result *applied) {
    ASSERT(applied->request_count == proposal->count);
    ASSERT(proposal->batch != NULL);
    for (u32 index = 0; index < proposal->count; index++) {
        struct khorgos_request *request = &proposal->batch->requests[proposal->first + index];
        const struct khorgos_request *source = &applied->requests[index];
        request->error = source->error;
        request->timestamp = source->timestamp;
        request->reply_size = MIN(source->reply_size, request->reply_capacity);
        if (request->reply_size > 0) memcpy(request->reply, source->reply, request->reply_size);
    }
}

/* The state machine applied an entry (cluster_fsm.applied): when it is one of the batch's,
 * its results become the batch's requests' now, while they are valid. The first entry not
 * yet applied with the same bytes is the one: two alike are applied in proposal order. */
static void replica_entry_applied(void *context, const void *entry, u64 entry_bytes,
                                  const struct cluster_apply_result *applied) {
    struct server *server = context;
    ASSERT(server != NULL && server->replica != NULL);
    ASSERT(entry != NULL && applied != NULL);
    if (server->replica->proposals == NULL) return; /* a follower's, or a tick's */
    u128 checksum = base_checksum128(entry, entry_bytes);
    for (struct server_replica_proposal *proposal = server->replica->proposals;
         proposal != NULL; proposal = proposal->next) {
        if (proposal->copied || proposal->entry_checksum != checksum) continue;
        if (applied->error == KHORGOS_ERROR_ok) {
            replica_results_copy(proposal, applied);
            proposal->copied = true;
        }
        return;
    }
}

/* A tick, mark or check answered: a marked entry applied is followed by its check. */
static void replica_control_applied(struct server_replica_proposal *proposal, int status) {
    struct server *server = proposal->server;
    struct server_replica *replica = server->replica;
    ASSERT(proposal->batch == NULL);
    replica->control_pending = false;
    if (status != 0 || replica->stopping) return;
    if (proposal->mark != 0 && replica->cluster.fsm.mark == proposal->mark) {
        replica_propose_check(server);
    }
}

/* Takes a batch's proposal off the list of those not yet answered. */
static void replica_proposal_unlist(struct server_replica *replica,
                                    struct server_replica_proposal *proposal) {
    ASSERT(replica->proposals != NULL);
    struct server_replica_proposal **link = &replica->proposals;
    while (*link != proposal) link = &(*link)->next;
    *link = proposal->next;
    ASSERT(*link != proposal);
}

static void replica_applied(struct raft_apply *apply, int status, void *result) {
    struct server_replica_proposal *proposal = apply->data;
    ASSERT(proposal != NULL && proposal->server->replica != NULL);
    (void)result; /* may be a later entry's by now: replica_entry_applied took this one's */
    struct server *server = proposal->server;
    struct server_replica *replica = server->replica;
    if (status == 0) replica->entries_since_mark++;
    if (proposal->batch == NULL) {
        replica_control_applied(proposal, status);
        free(proposal);
        return;
    }
    ASSERT(replica->outstanding > 0 && proposal->batch == server->flying);
    replica_proposal_unlist(replica, proposal);
    if (status != 0 || !proposal->copied) {
        /* Not committed here, or the state machine stopped: no reply (the timer says why). */
        replica->flying_error = KHORGOS_ERROR_timeout;
    }
    free(proposal);
    replica->outstanding--;
    if (replica->outstanding > 0) return;
    khorgos_error error = replica->flying_error;
    replica->flying_error = KHORGOS_ERROR_ok;
    server_batch_finish(server, server->flying, error);
    if (server->queued->requests_count > 0) server_replica_execute(server);
}

/* The entries of the batch in flight: as many requests as fit one entry, in order. */
static void replica_propose_batch(struct server *server, struct server_batch *batch) {
    struct server_replica *replica = server->replica;
    ASSERT(replica->outstanding == 0 && batch->requests_count > 0);
    u32 first = 0;
    while (first < batch->requests_count) {
        u32 count = 0;
        u64 bytes = CLUSTER_ENTRY_HEADER_BYTES;
        while (first + count < batch->requests_count && count < CLUSTER_ENTRY_REQUEST_COUNT_MAX) {
            u64 more = cluster_entry_batch_bytes(&batch->requests[first + count], 1) -
                       CLUSTER_ENTRY_HEADER_BYTES;
            if (bytes + more > CLUSTER_ENTRY_BYTES_MAX) break;
            bytes += more;
            count++;
        }
        ASSERT(count > 0);
        if (!replica_propose(server, batch, first, count, 0)) {
            replica->flying_error = KHORGOS_ERROR_timeout;
            break;
        }
        replica->outstanding++;
        first += count;
    }
    if (replica->outstanding == 0) {
        replica->flying_error = KHORGOS_ERROR_ok;
        server_batch_finish(server, batch, KHORGOS_ERROR_timeout);
    }
}

void server_replica_execute(struct server *server) {
    struct server_replica *replica = server->replica;
    ASSERT(replica != NULL);
    if (replica->outstanding > 0 || server->queued->requests_count == 0) return;
    ASSERT(server->flying->requests_count == 0);
    if (!server_replica_serving(server)) {
        /* Dropped without a reply: the client's timeout tries the next replica. */
        server_batch_finish(server, server->queued, KHORGOS_ERROR_timeout);
        return;
    }
    struct server_batch *batch = server->queued;
    server->queued = server->flying;
    server->flying = batch;
    batch->begun_ns = uv_hrtime();
    server->engine_batches++;
    server->engine_requests += batch->requests_count;
    replica_propose_batch(server, batch);
}

static void replica_barrier_done(struct raft_barrier *barrier, int status) {
    struct server *server = barrier->data;
    ASSERT(server != NULL && server->replica != NULL);
    struct server_replica *replica = server->replica;
    replica->barrier_pending = false;
    if (status != 0 || replica->stopping) return;
    cluster_fsm_apply_deferred(&replica->cluster.fsm); /* held back while it followed */
    replica->serving_term = replica->barrier_term;
    server_log("event=leading replica=%u term=%llu view=%llu", replica->cluster.identity.replica,
               (unsigned long long)replica->serving_term,
               (unsigned long long)cluster_replica_view(&replica->cluster));
}

/* Logs each new leader a replica learns of. */
static void replica_leader_log(struct server_replica *replica) {
    int leader = cluster_replica_leader(&replica->cluster);
    raft_term term = replica->cluster.raft.current_term;
    if (leader == replica->leader_logged && term == replica->term_logged) return;
    replica->leader_logged = leader;
    replica->term_logged = term;
    server_log("event=raft_state replica=%u term=%llu leader=%d view=%llu",
               replica->cluster.identity.replica, (unsigned long long)term, leader,
               (unsigned long long)cluster_replica_view(&replica->cluster));
}

/* The leader's timer work: its barrier once per term, then ticks, marks and checks. */
static void replica_lead(struct server *server) {
    struct server_replica *replica = server->replica;
    struct raft *raft = replica_raft(server);
    ASSERT(raft_state(raft) == RAFT_LEADER);
    if (replica->serving_term != raft->current_term) {
        if (replica->barrier_pending) return;
        replica->barrier.data = server;
        replica->barrier_term = raft->current_term;
        replica->barrier_pending =
            raft_barrier(raft, &replica->barrier, replica_barrier_done) == 0;
        return;
    }
    if (replica->control_pending) return;
    u64 now_ms = uv_now(&server->loop);
    bool mark = replica->entries_since_mark >= SERVER_REPLICA_MARK_ENTRIES ||
                (replica->entries_since_mark > 0 &&
                 now_ms - replica->mark_last_ms >= SERVER_REPLICA_MARK_INTERVAL_MS);
    if (mark) {
        replica->entries_since_mark = 0;
        replica->mark_last_ms = now_ms;
        replica->control_pending = replica_propose(server, NULL, 0, 0, raft_last_index(raft) + 1);
    } else if (cluster_leader_tick_due(replica->cluster.fsm.engine, base_clock_realtime_ns())) {
        replica->control_pending = replica_propose(server, NULL, 0, 0, 0);
    }
}

/* Says once that the restart's replay found the journal cut inside a batch and the data
 * directory's engine applied the rest of it from raft's log. */
static void replica_journal_log(struct server_replica *replica) {
    ASSERT(replica != NULL);
    const struct cluster_fsm *fsm = &replica->cluster.fsm;
    ASSERT(fsm->journal_continued >= replica->journal_continued_logged);
    if (fsm->journal_continued == replica->journal_continued_logged) return;
    replica->journal_continued_logged = fsm->journal_continued;
    server_log("event=journal_continued replica=%u sequence=%llu reason=\"the journal ended "
               "inside a batch (a crash cut its write); the rest of the batch was applied from "
               "raft's log\"",
               (unsigned)replica->cluster.identity.replica,
               (unsigned long long)fsm->journal_continued_sequence);
}

/* raft failed a step on received entries, could not persist a term or vote, or freed a block
 * twice (cluster.h, "Between raft and its snapshot I/O"; cluster_heap_stats): says so once,
 * with raft's or the I/O's message and raft's last lines, and stops the replica. */
static bool replica_raft_failed(struct server *server) {
    struct server_replica *replica = server->replica;
    ASSERT(replica != NULL && !replica->stopping);
    const struct cluster_hold *hold = &replica->cluster.hold;
    u64 double_frees = cluster_heap_stats().double_frees;
    bool persist = hold->persist_failed_total > 0;
    if (hold->receive_failed_total == 0 && !persist && double_frees == 0) return false;
    if (server->failure != KHORGOS_ERROR_ok) return true; /* said, and stopping */
    const char *account = "raft freed a block of its heap twice";
    const char *reason = "raft freed memory twice, and may still use what it freed";
    if (persist) {
        account = hold->persist_error;
        reason = "raft could not persist its term or vote, and would go on from them in memory "
                 "only";
    } else if (hold->receive_failed_total > 0) {
        account = hold->receive_error;
        reason = "raft failed a step on entries the leader sent; it may hold entries it never "
                 "writes";
    }
    server_log("event=raft_failed replica=%u failures=%llu raft=\"%s\" reason=\"%s, so this "
               "replica stops (restart it); raft's last messages follow\"",
               (unsigned)replica->cluster.identity.replica,
               (unsigned long long)(hold->receive_failed_total + hold->persist_failed_total +
                                    double_frees),
               account, reason);
    static char lines[CLUSTER_TRACE_LINES][CLUSTER_TRACE_LINE_BYTES];
    u32 count = cluster_trace_copy(lines, CLUSTER_TRACE_LINES);
    for (u32 index = 0; index < count; index++) server_log("event=raft_trace %s", lines[index]);
    replica_stopped(server, KHORGOS_ERROR_raft_failed);
    return true;
}

static void replica_on_timer(uv_timer_t *timer) {
    struct server *server = timer->data;
    ASSERT(server != NULL && server->replica != NULL);
    struct server_replica *replica = server->replica;
    if (replica->stopping) return;
    if (replica_raft_failed(server)) return;
    khorgos_error stopped = cluster_fsm_stopped(&replica->cluster.fsm);
    if (stopped != KHORGOS_ERROR_ok) {
        replica_stopped(server, stopped);
        return;
    }
    replica_leader_log(replica);
    replica_journal_log(replica);
    int settled = cluster_membership_settle(replica_raft(server));
    if (settled != 0) {
        server_log("event=configuration_settle_failed raft_status=\"%s\"", raft_strerror(settled));
    }
    if (server_membership_removed(server)) {
        raise(SIGTERM); /* its handler stops the server as an operator's SIGTERM does */
        return;
    }
    if (raft_state(replica_raft(server)) == RAFT_LEADER) replica_lead(server);
}

/* The data directory's identity against the options; `message` says what differs. */
static khorgos_error replica_identity(const struct server *server,
                                      const struct server_options *options,
                                      struct cluster_identity *identity, char *message,
                                      size_t capacity) {
    ASSERT(options->replica_addresses != NULL);
    khorgos_error error =
        cluster_identity_read(options->data_directory, identity, message, capacity);
    if (error == KHORGOS_ERROR_not_found) {
        snprintf(message, capacity, "%s is a single node's data directory: a replica's is "
                 "formatted with --cluster, --replica and --replica-count",
                 options->data_directory);
        return KHORGOS_ERROR_invalid_argument;
    }
    if (error != KHORGOS_ERROR_ok) return error;
    if (identity->replica != options->replica) {
        snprintf(message, capacity, "%s is replica %u's data directory, not replica %u's",
                 options->data_directory, (unsigned)identity->replica,
                 (unsigned)options->replica);
        return KHORGOS_ERROR_invalid_argument;
    }
    if (identity->cluster != server->cluster) {
        snprintf(message, capacity, "%s: its cluster file and its superblock name different "
                 "clusters", options->data_directory);
        return KHORGOS_ERROR_corrupt;
    }
    return KHORGOS_ERROR_ok;
}

static void replica_closed(struct cluster_replica *cluster) {
    struct server *server = cluster->data;
    ASSERT(server != NULL && server->replica != NULL);
    server->replica->closed = true;
}

/* Frees the replica and its engine (the replica's state machine owned it). */
void server_replica_free(struct server *server) {
    struct server_replica *replica = server->replica;
    if (replica == NULL) return;
    ASSERT(replica->closed || !replica->cluster.started);
    cluster_replica_free(&replica->cluster);
    server->engine = NULL;
    free(replica);
    server->replica = NULL;
}

khorgos_error server_replica_start(struct server *server, const struct server_options *options) {
    ASSERT(server->engine != NULL && server->replica == NULL);
    ASSERT(options->replica_addresses != NULL);
    char message[512] = "";
    struct cluster_identity identity;
    char addresses[CLUSTER_REPLICA_COUNT_MAX][CLUSTER_ADDRESS_BYTES];
    khorgos_error error = replica_identity(server, options, &identity, message, sizeof(message));
    if (error == KHORGOS_ERROR_ok) {
        error = cluster_replica_raft_addresses(options->replica_addresses,
                                               identity.replica_count, addresses, message,
                                               sizeof(message));
    }
    struct server_replica *replica = NULL;
    if (error == KHORGOS_ERROR_ok) {
        replica = calloc(1, sizeof(*replica));
        if (replica == NULL) error = KHORGOS_ERROR_out_of_memory;
    }
    if (error != KHORGOS_ERROR_ok) {
        server_log("event=refused data=%s error=%s reason=\"%s\"", options->data_directory,
                   khorgos_error_name(error), message[0] != '\0' ? message : "out of memory");
        khorgos_close(server->engine);
        server->engine = NULL;
        return error;
    }
    server->replica = replica;
    replica->leader_logged = -2;
    replica->cluster.data = server;
    error = cluster_replica_start(&replica->cluster, &server->loop, options->data_directory,
                                  server->engine, &identity, options->election_timeout_ms,
                                  options->snapshot_log_bytes, addresses, message,
                                  sizeof(message));
    replica->cluster.data = server;
    replica->cluster.fsm.applied = replica_entry_applied;
    replica->cluster.fsm.applied_context = server;
    if (error != KHORGOS_ERROR_ok) {
        server_log("event=refused data=%s error=%s reason=\"%s\"", options->data_directory,
                   khorgos_error_name(error), message);
        cluster_replica_close(&replica->cluster, replica_closed);
        while (!replica->closed) uv_run(&server->loop, UV_RUN_ONCE);
        server_replica_free(server);
        return error;
    }
    replica->timer.data = server;
    uv_timer_init(&server->loop, &replica->timer);
    uv_timer_start(&replica->timer, replica_on_timer, SERVER_REPLICA_TIMER_MS,
                   SERVER_REPLICA_TIMER_MS);
    replica->mark_last_ms = uv_now(&server->loop);
    server_log("event=replica replica=%u replica_count=%u raft_address=%s raft_directory=%s",
               (unsigned)identity.replica, (unsigned)identity.replica_count,
               addresses[identity.replica], replica->cluster.raft_directory);
    return KHORGOS_ERROR_ok;
}

void server_replica_stop(struct server *server) {
    struct server_replica *replica = server->replica;
    ASSERT(replica != NULL && server->stopping);
    if (replica->stopping) return;
    replica->stopping = true;
    uv_close((uv_handle_t *)&replica->timer, NULL);
    cluster_replica_close(&replica->cluster, replica_closed);
}

struct cluster_replica *server_replica_cluster(struct server *server) {
    ASSERT(server != NULL && server->replica != NULL);
    ASSERT(server->replica->cluster.identity.replica_count > 0);
    return &server->replica->cluster;
}

bool server_replica_closed(const struct server *server) {
    ASSERT(server->replica != NULL);
    ASSERT(!server->replica->closed || server->replica->stopping);
    return server->replica->closed;
}

bool server_replica_answers_ping(const struct server *server) {
    ASSERT(server->replica != NULL);
    if (server_replica_serving(server)) return true;
    const struct server_replica *replica = server->replica;
    if (replica->stopping || !replica->cluster.started) return false;
    int leader = cluster_replica_leader(&replica->cluster);
    ASSERT(leader < (int)replica->cluster.identity.replica_count);
    return leader >= 0 && (u32)leader != replica->cluster.identity.replica;
}
