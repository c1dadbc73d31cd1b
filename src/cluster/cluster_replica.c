/* One replica's raft on libuv (cluster_replica.h). */
#include "cluster/cluster_replica.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One client address ("HOST:PORT" or "PORT") as raft's: the port plus the offset. */
static bool cluster_raft_address(const char *text, size_t length, char *address) {
    ASSERT(text != NULL && address != NULL);
    char copy[CLUSTER_ADDRESS_BYTES];
    if (length == 0 || length >= sizeof(copy)) return false;
    memcpy(copy, text, length);
    copy[length] = '\0';
    char *colon = strrchr(copy, ':');
    const char *host = "127.0.0.1";
    const char *port_text = copy;
    if (colon != NULL) {
        *colon = '\0';
        host = copy;
        port_text = colon + 1;
    }
    char *end = NULL;
    unsigned long port = strtoul(port_text, &end, 10);
    if (port_text[0] < '0' || port_text[0] > '9' || *end != '\0' || port == 0 ||
        port + CLUSTER_RAFT_PORT_OFFSET > 65535u || host[0] == '\0') {
        return false;
    }
    int written = snprintf(address, CLUSTER_ADDRESS_BYTES, "%s:%lu", host,
                           port + CLUSTER_RAFT_PORT_OFFSET);
    ASSERT(written > 0);
    return (size_t)written < CLUSTER_ADDRESS_BYTES;
}

khorgos_error cluster_replica_raft_addresses(const char *client_addresses, u32 count,
                                             char addresses[][CLUSTER_ADDRESS_BYTES],
                                             char *message, size_t capacity) {
    ASSERT(client_addresses != NULL && addresses != NULL);
    ASSERT(count <= CLUSTER_REPLICA_COUNT_MAX && message != NULL);
    const char *start = client_addresses;
    u32 found = 0;
    while (true) {
        const char *comma = strchr(start, ',');
        size_t length = comma != NULL ? (size_t)(comma - start) : strlen(start);
        if (found == count || !cluster_raft_address(start, length, addresses[found])) {
            snprintf(message, capacity, "--addresses must name %u addresses HOST:PORT or PORT "
                     "(a port of at most %u), one per replica", count,
                     65535u - CLUSTER_RAFT_PORT_OFFSET);
            return KHORGOS_ERROR_invalid_argument;
        }
        found++;
        if (comma == NULL) break;
        start = comma + 1;
    }
    if (found != count) {
        snprintf(message, capacity, "--addresses names %u addresses; the data directory's "
                 "cluster has %u replicas", found, count);
        return KHORGOS_ERROR_invalid_argument;
    }
    return KHORGOS_ERROR_ok;
}

/* Bootstraps the first configuration's voters (generation 0); a replica with raft state
 * already says so and keeps it, and a joining one bootstraps nothing. */
static int cluster_replica_bootstrap(struct cluster_replica *replica) {
    ASSERT(replica != NULL);
    ASSERT(cluster_identity_valid(&replica->identity));
    const struct cluster_identity *identity = &replica->identity;
    u32 voters = identity->voters != 0 ? identity->voters : identity->replica_count;
    if (identity->generation != 0 || identity->replica >= voters) return 0;
    struct raft_configuration configuration;
    raft_configuration_init(&configuration);
    int status = 0;
    for (u32 index = 0; index < voters && status == 0; index++) {
        status = raft_configuration_add(&configuration, cluster_raft_id(index, 0),
                                        replica->raft_addresses[index], RAFT_VOTER);
    }
    if (status == 0) status = raft_bootstrap(&replica->raft, &configuration);
    raft_configuration_close(&configuration);
    return status == RAFT_CANTBOOTSTRAP ? 0 : status;
}

/* raft's I/O, transport and state on the loop; `message` says what failed. */
static khorgos_error cluster_replica_raft_init(struct cluster_replica *replica, uv_loop_t *loop,
                                               char *message, size_t capacity) {
    ASSERT(replica != NULL && loop != NULL);
    ASSERT(message != NULL);
    u32 index = replica->identity.replica;
    replica->transport.version = 1; /* the caller's to set (raft/uv.h) */
    int status = raft_uv_tcp_init(&replica->transport, loop);
    if (status != 0) {
        snprintf(message, capacity, "raft's TCP transport: %s", raft_strerror(status));
        return KHORGOS_ERROR_io;
    }
    status = raft_uv_init(&replica->io, loop, replica->raft_directory, &replica->transport);
    if (status != 0) {
        snprintf(message, capacity, "%s: %s", replica->raft_directory, replica->io.errmsg);
        raft_uv_tcp_close(&replica->transport);
        return KHORGOS_ERROR_io;
    }
    raft_uv_set_connect_retry_delay(&replica->io, CLUSTER_CONNECT_RETRY_MS);
    status = raft_init(&replica->raft, &replica->io, &replica->fsm.raft,
                       cluster_raft_id(index, replica->identity.generation),
                       replica->raft_addresses[index]);
    if (status != 0) {
        snprintf(message, capacity, "%s: raft_init: %s (%s)", replica->raft_directory,
                 raft_strerror(status), raft_errmsg(&replica->raft));
        raft_uv_close(&replica->io);
        raft_uv_tcp_close(&replica->transport);
        return KHORGOS_ERROR_io;
    }
    cluster_trace_install(&replica->raft, &replica->io);
    return KHORGOS_ERROR_ok;
}

/* A follower defers applying committed entries (cluster_fsm.defer): raft hands them over in
 * the same step as the AppendEntries that carried their commit index, whose entries it has
 * only begun to write; applying a full batch there would hold back this replica's
 * acknowledgement of the new entries, which the leader may be waiting for to commit, by the
 * whole apply. The leader applies at once: its clients wait for the result. */
static bool cluster_replica_defer(void *context) {
    const struct cluster_replica *replica = context;
    ASSERT(replica != NULL && replica->started);
    return raft_state((struct raft *)&replica->raft) != RAFT_LEADER;
}

/* After each turn of the loop: the held-back entries are applied once raft has written every
 * entry it holds (its acknowledgement is then sent), or at once on a leader. */
static void cluster_replica_apply_check(uv_check_t *check) {
    struct cluster_replica *replica = check->data;
    ASSERT(replica != NULL && replica->started);
    if (replica->fsm.deferred_count == 0 || replica->closing) return;
    struct raft *raft = &replica->raft;
    if (raft->last_stored >= raft_last_index(raft) || raft_state(raft) == RAFT_LEADER) {
        cluster_fsm_apply_deferred(&replica->fsm);
    }
    ASSERT(replica->fsm.deferred_count <= CLUSTER_DEFERRED_ENTRIES_MAX);
}

static void cluster_replica_raft_closed(struct raft *raft) {
    struct cluster_replica *replica = raft->data;
    ASSERT(replica != NULL && replica->closing);
    cluster_hold_uninstall(&replica->hold);
    raft_uv_close(&replica->io);
    raft_uv_tcp_close(&replica->transport);
    replica->started = false;
    if (replica->closed != NULL) replica->closed(replica);
}

khorgos_error cluster_replica_start(struct cluster_replica *replica, uv_loop_t *loop,
                                    const char *data_directory, struct khorgos *engine,
                                    const struct cluster_identity *identity,
                                    u32 election_timeout_ms, u32 snapshot_log_bytes,
                                    char addresses[][CLUSTER_ADDRESS_BYTES], char *message,
                                    size_t capacity) {
    ASSERT(replica != NULL && engine != NULL);
    ASSERT(cluster_identity_valid(identity));
    cluster_heap_install(); /* before raft allocates anything in this process */
    memset(replica, 0, sizeof(*replica));
    u64 log_bytes = snapshot_log_bytes != 0 ? snapshot_log_bytes : CLUSTER_SNAPSHOT_LOG_BYTES;
    ASSERT(log_bytes >= CLUSTER_SNAPSHOT_LOG_MIN_BYTES);
    if (cluster_heap_reserve(log_bytes) != KHORGOS_ERROR_ok) {
        khorgos_close(engine);
        snprintf(message, capacity, "reserving %llu MiB for raft's log: out of memory",
                 (unsigned long long)(log_bytes >> 20));
        return KHORGOS_ERROR_out_of_memory;
    }
    replica->identity = *identity;
    memcpy(replica->raft_addresses, addresses,
           (size_t)identity->replica_count * CLUSTER_ADDRESS_BYTES);
    khorgos_error error = cluster_fsm_init(&replica->fsm, engine);
    if (error != KHORGOS_ERROR_ok) {
        khorgos_close(engine);
        snprintf(message, capacity, "the replica's state machine: %s", khorgos_strerror(error));
        return error;
    }
    int length = snprintf(replica->raft_directory, sizeof(replica->raft_directory), "%s/raft",
                          data_directory);
    if (length <= 0 || (size_t)length >= sizeof(replica->raft_directory)) {
        snprintf(message, capacity, "%s: the path is too long", data_directory);
        return KHORGOS_ERROR_invalid_argument;
    }
    if (mkdir(replica->raft_directory, 0700) != 0 && errno != EEXIST) {
        snprintf(message, capacity, "%s: mkdir: %s", replica->raft_directory, strerror(errno));
        return KHORGOS_ERROR_io;
    }
    error = cluster_raft_log_check(replica->raft_directory, message, capacity);
    if (error != KHORGOS_ERROR_ok) return error;
    error = cluster_replica_raft_init(replica, loop, message, capacity);
    if (error != KHORGOS_ERROR_ok) return error;
    replica->started = true;
    replica->raft.data = replica;
    replica->fsm.defer = cluster_replica_defer;
    replica->fsm.defer_context = replica;
    replica->apply_check.data = replica;
    uv_check_init(loop, &replica->apply_check);
    uv_check_start(&replica->apply_check, cluster_replica_apply_check);
    replica->apply_check_started = true;
    cluster_raft_configure(&replica->raft, &replica->fsm, CLUSTER_SNAPSHOT_THRESHOLD_ENTRIES,
                           CLUSTER_SNAPSHOT_TRAILING_ENTRIES, log_bytes);
    u32 timeout_ms = election_timeout_ms != 0 ? election_timeout_ms : CLUSTER_ELECTION_TIMEOUT_MS;
    ASSERT(timeout_ms >= CLUSTER_ELECTION_TIMEOUT_MIN_MS &&
           timeout_ms <= CLUSTER_ELECTION_TIMEOUT_MAX_MS);
    raft_set_pre_vote(&replica->raft, true);
    raft_set_heartbeat_timeout(&replica->raft, timeout_ms / CLUSTER_HEARTBEAT_DIVISOR);
    raft_set_election_timeout(&replica->raft, timeout_ms);
    if (!cluster_hold_install(&replica->hold, &replica->raft)) {
        snprintf(message, capacity, "more than %u replicas in one process", CLUSTER_HOLDS_MAX);
        return KHORGOS_ERROR_invalid_operation; /* the caller closes it (cluster_replica_close) */
    }
    int status = cluster_replica_bootstrap(replica);
    if (status == 0) status = raft_start(&replica->raft);
    if (status != 0) { /* the caller closes it (cluster_replica_close) */
        snprintf(message, capacity, "%s: raft: %s (%s)", replica->raft_directory,
                 raft_strerror(status), raft_errmsg(&replica->raft));
        return status == RAFT_NOMEM ? KHORGOS_ERROR_out_of_memory : KHORGOS_ERROR_io;
    }
    return KHORGOS_ERROR_ok;
}

void cluster_replica_close(struct cluster_replica *replica,
                           void (*closed)(struct cluster_replica *replica)) {
    ASSERT(replica != NULL && closed != NULL);
    ASSERT(!replica->closing);
    replica->closing = true;
    replica->closed = closed;
    if (!replica->started) {
        closed(replica);
        return;
    }
    ASSERT(replica->raft.data == replica);
    if (replica->apply_check_started) {
        replica->apply_check_started = false;
        uv_close((uv_handle_t *)&replica->apply_check, NULL);
    }
    raft_close(&replica->raft, cluster_replica_raft_closed);
}

void cluster_replica_free(struct cluster_replica *replica) {
    ASSERT(replica != NULL);
    ASSERT(!replica->started);
    if (replica->fsm.engine != NULL || replica->fsm.replies != NULL) {
        cluster_fsm_deinit(&replica->fsm);
    }
}

int cluster_replica_leader(const struct cluster_replica *replica) {
    ASSERT(replica != NULL);
    ASSERT(replica->identity.replica_count > 0);
    raft_id id = 0;
    const char *address = NULL;
    raft_leader((struct raft *)&replica->raft, &id, &address);
    if (id == 0 || cluster_raft_id_replica(id) >= replica->identity.replica_count) return -1;
    return (int)cluster_raft_id_replica(id);
}

u64 cluster_replica_view(const struct cluster_replica *replica) {
    ASSERT(replica != NULL);
    ASSERT(replica->identity.replica_count > 0);
    int leader = cluster_replica_leader(replica);
    u64 index = leader >= 0 ? (u64)leader : replica->identity.replica;
    return (u64)replica->raft.current_term * replica->identity.replica_count + index;
}
