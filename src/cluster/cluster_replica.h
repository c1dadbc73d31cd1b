/*
 * cluster_replica.h: one replica's raft on libuv (cluster_replica.c). It owns raft's state
 * (struct raft), raft's libuv I/O and TCP transport (raft_uv: the log in DIR/raft/) and the
 * replica's state machine (cluster_fsm over the engine of DIR), all on the caller's loop, so
 * the state machine's apply runs on the thread that owns the engine. The caller (the server,
 * src/server/server_replica.c) proposes entries with raft_apply on `raft` and reads raft's
 * state from it; this file only starts and stops the replica and names what it serves.
 *
 * raft ids hold the replica's index and generation (cluster_membership.h; raft reserves id 0).
 * A replica of generation 0 that has no raft state yet bootstraps the first configuration (the
 * identity's voters, every one a voter), so the replicas of a cluster formatted together start
 * alike; one with state goes on from it; any other replica joins: it starts with no
 * configuration and waits for the leader to add it. Before raft opens its log, the replica
 * checks every batch of it (cluster_raft_log_check) and refuses to start on a damaged one.
 */
#ifndef KHORGOS_CLUSTER_REPLICA_H
#define KHORGOS_CLUSTER_REPLICA_H

#include "cluster/cluster.h"
#include "cluster/cluster_membership.h"

/* After the project's headers: sys/param.h (which uv.h includes) redefines MIN and MAX. */
#include <raft/uv.h>
#include <uv.h>

/* raft's TCP port of a replica: its client port plus this, so one list of client addresses
 * names both. */
#define CLUSTER_RAFT_PORT_OFFSET 1000u
/* Bytes of one address as text ("HOST:PORT"), NUL included. */
#define CLUSTER_ADDRESS_BYTES 64u
/* raft's timeouts (docs/replication.md, "Failover timing and its settings"). A follower that
 * hears nothing from the leader for its election timeout, which raft draws anew between T and
 * 2T, stands for election; raft checks its timers at every heartbeat interval. Replicas run
 * with pre-vote: a follower that still hears its leader refuses another's vote, so the first
 * follower to time out wins only once the second has timed out too, and a failover takes
 * about the later of the two timeouts (T to 2T) plus a round of votes and the new leader's
 * barrier. The default T of 500 ms is for replicas on one LAN or machine, whose round trips
 * are far below it: a leader's failure is replaced in about 0.6 to 1.2 s, and a leader
 * paused for longer than T (a loaded host) loses its leadership. A WAN cluster, or a host
 * whose pauses reach T, sets a longer T with `khorgos start --election-timeout-ms`, from the
 * minimum (ten round trips and more on any network) to the maximum (a minute: past it a
 * cluster without a leader looks down). Heartbeats at a tenth of T. */
#define CLUSTER_ELECTION_TIMEOUT_MS 500u
#define CLUSTER_ELECTION_TIMEOUT_MIN_MS 100u
#define CLUSTER_ELECTION_TIMEOUT_MAX_MS 60000u
#define CLUSTER_HEARTBEAT_DIVISOR 10u
/* How long raft_uv waits before it connects again to a replica it could not reach (raft's own
 * default is 1,000 ms). Until that next attempt a replica sends that peer nothing: a replica
 * started before the others, or restarted, queues its acknowledgements for up to the delay,
 * while the leader, hearing nothing, sends it every entry past its match again at each
 * heartbeat, a full batch's entries each time. Measured with raft's trace: the first replica of
 * three started was mute to the leader for its first second, through most of a 200,000-transfer
 * run. A connect to a replica that is down is refused at once on a LAN or loopback: ten a
 * second cost nothing that shows. */
#define CLUSTER_CONNECT_RETRY_MS 100u

struct cluster_replica {
    struct raft raft; /* raft.data points back here */
    struct raft_io io;
    struct raft_uv_transport transport;
    struct cluster_fsm fsm;
    struct cluster_identity identity;
    char raft_directory[4096];
    char raft_addresses[CLUSTER_REPLICA_COUNT_MAX][CLUSTER_ADDRESS_BYTES];
    struct cluster_membership membership; /* the leader's change under way */
    struct cluster_hold hold; /* a leader's snapshot held while this one takes its own */
    void (*closed)(struct cluster_replica *replica);
    void *data; /* the caller's */
    bool started;
    bool closing;
    /* Applies a follower's held-back entries once its writes are done (cluster_replica.c). */
    uv_check_t apply_check;
    bool apply_check_started;
};

/* The raft addresses of a comma-separated list of client addresses ("HOST:PORT" or "PORT",
 * HOST an IPv4 address): the same host, the port plus CLUSTER_RAFT_PORT_OFFSET. Exactly
 * `count` entries, or invalid_argument with `message` saying why. */
khorgos_error cluster_replica_raft_addresses(const char *client_addresses, u32 count,
                                             char addresses[][CLUSTER_ADDRESS_BYTES],
                                             char *message, size_t capacity);

/* Starts replica identity->replica of `data_directory`, whose open engine (on a manual clock)
 * it takes: from any return the replica owns the engine, and cluster_replica_free closes it.
 * Makes DIR/raft (0700) when missing, checks and opens raft's log there, bootstraps a new
 * replica, and starts raft on `loop` with pre-vote, the election timeout `election_timeout_ms`
 * (CLUSTER_ELECTION_TIMEOUT_MIN_MS to CLUSTER_ELECTION_TIMEOUT_MAX_MS; 0:
 * CLUSTER_ELECTION_TIMEOUT_MS) and heartbeats at a tenth of it, and a raft snapshot at least
 * every `snapshot_log_bytes` of applied entries (at least CLUSTER_SNAPSHOT_LOG_MIN_BYTES; 0:
 * CLUSTER_SNAPSHOT_LOG_BYTES; cluster.h, "Log compaction"). io or corrupt (with
 * `message`), out_of_memory, invalid_argument. */
khorgos_error cluster_replica_start(struct cluster_replica *replica, uv_loop_t *loop,
                                    const char *data_directory, struct khorgos *engine,
                                    const struct cluster_identity *identity,
                                    u32 election_timeout_ms, u32 snapshot_log_bytes,
                                    char addresses[][CLUSTER_ADDRESS_BYTES], char *message,
                                    size_t capacity);
/* Stops raft (its pending proposals' callbacks get RAFT_CANCELED) and its I/O; `closed` is
 * called once every handle of it is closed. Called once. */
void cluster_replica_close(struct cluster_replica *replica,
                           void (*closed)(struct cluster_replica *replica));
/* After close's callback (or a failed start): frees the state machine and closes the engine. */
void cluster_replica_free(struct cluster_replica *replica);

/* The view a reply carries (TigerBeetle's clients send to replica view mod replica_count):
 * raft's term times the replica count plus the index of the leader, or of this replica while
 * it knows none. Grows with every term. */
u64 cluster_replica_view(const struct cluster_replica *replica);
/* The leader's index, or -1 while this replica knows none. */
int cluster_replica_leader(const struct cluster_replica *replica);

#endif /* KHORGOS_CLUSTER_REPLICA_H */
