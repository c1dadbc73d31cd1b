/*
 * cluster_status.h: what a replica says about itself for `khorgos status` and /metrics: its
 * role, the leader it knows, raft's term and its commit, applied and last log indexes, and
 * whether its state machine stopped. The server reads it when a page is asked for
 * (server_metrics.c); `khorgos status --addresses` gathers it from every replica's /metrics and
 * computes each one's lag behind the leader (cli_status.c, docs/replication.md, "Status").
 */
#ifndef KHORGOS_CLUSTER_STATUS_H
#define KHORGOS_CLUSTER_STATUS_H

#include "cluster/cluster.h"
#include "cluster/cluster_membership.h"

enum cluster_role {
    CLUSTER_ROLE_STANDALONE = 0, /* a single node: no raft */
    CLUSTER_ROLE_UNAVAILABLE,    /* raft is starting or stopping */
    CLUSTER_ROLE_FOLLOWER,
    CLUSTER_ROLE_CANDIDATE,
    CLUSTER_ROLE_LEADER,
    CLUSTER_ROLE_COUNT,
};

struct cluster_status {
    enum cluster_role role;
    u32 replica;       /* this replica's index (0 for a single node) */
    u32 replica_count; /* 1 for a single node */
    i64 leader;        /* the leader's index as this replica knows it; -1 when none */
    u64 term;
    u64 commit_index;   /* the highest raft log index known committed */
    u64 applied_index;  /* the highest applied to the state machine */
    u64 last_log_index; /* the last index in this replica's raft log */
    bool stopped;       /* the state machine stopped: diverged or corrupt */
    u32 generation;     /* this replica's generation (cluster.h, "Identity") */
    u64 snapshots_taken;     /* raft snapshots this replica's process took */
    u64 snapshots_installed; /* leader's snapshots it installed ahead of its journal */
    /* Snapshot loads that failed, which the hold kept from raft, and loads of a newer snapshot
     * of another term than raft asked for, which it sent under their own term (cluster.h,
     * "Between raft and its snapshot I/O"). */
    u64 snapshot_loads_failed;
    u64 snapshot_loads_newer;
    u32 member_count;   /* raft's configuration as this replica knows it */
    struct cluster_member members[CLUSTER_MEMBERS_MAX];
};

/* "standalone", "unavailable", "follower", "candidate", "leader"; NULL out of range. */
const char *cluster_role_name(enum cluster_role role);
/* A single node's status: standalone, its own leader, no raft figures. */
void cluster_status_standalone(struct cluster_status *status);
/* A replica's status from its raft (raft ids are indexes plus one), state machine and the hold
 * between raft and its I/O. */
void cluster_status_read(struct raft *raft, const struct cluster_fsm *fsm,
                         const struct cluster_hold *hold, const struct cluster_identity *identity,
                         struct cluster_status *status);

#endif /* KHORGOS_CLUSTER_STATUS_H */
