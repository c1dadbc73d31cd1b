/* A replica's status for `khorgos status` and /metrics (cluster_status.h). */
#include "cluster/cluster_status.h"

#include <string.h>

static const char *const cluster_role_names[CLUSTER_ROLE_COUNT] = {
    "standalone", "unavailable", "follower", "candidate", "leader"};

const char *cluster_role_name(enum cluster_role role) {
    ASSERT(CLUSTER_ROLE_COUNT == 5);
    ASSERT(cluster_role_names[CLUSTER_ROLE_LEADER] != NULL);
    if ((u32)role >= CLUSTER_ROLE_COUNT) return NULL;
    return cluster_role_names[role];
}

void cluster_status_standalone(struct cluster_status *status) {
    ASSERT(status != NULL);
    memset(status, 0, sizeof(*status));
    status->role = CLUSTER_ROLE_STANDALONE;
    status->replica_count = 1;
    ASSERT(status->leader == 0);
}

void cluster_status_read(struct raft *raft, const struct cluster_fsm *fsm,
                         const struct cluster_hold *hold, const struct cluster_identity *identity,
                         struct cluster_status *status) {
    ASSERT(raft != NULL && status != NULL && hold != NULL);
    ASSERT(identity != NULL && cluster_identity_valid(identity));
    memset(status, 0, sizeof(*status));
    switch (raft_state(raft)) {
    case RAFT_FOLLOWER: status->role = CLUSTER_ROLE_FOLLOWER; break;
    case RAFT_CANDIDATE: status->role = CLUSTER_ROLE_CANDIDATE; break;
    case RAFT_LEADER: status->role = CLUSTER_ROLE_LEADER; break;
    default: status->role = CLUSTER_ROLE_UNAVAILABLE; break;
    }
    status->replica = identity->replica;
    status->replica_count = identity->replica_count;
    raft_id leader_id = 0;
    const char *leader_address = NULL;
    raft_leader(raft, &leader_id, &leader_address);
    status->leader = leader_id == 0 ? -1 : (i64)cluster_raft_id_replica(leader_id);
    status->term = raft_current_term(raft);
    status->commit_index = raft_commit_index(raft);
    status->applied_index = raft_last_applied(raft);
    status->last_log_index = raft_last_index(raft);
    status->stopped = fsm != NULL && cluster_fsm_stopped(fsm) != KHORGOS_ERROR_ok;
    status->generation = identity->generation;
    status->snapshots_taken = fsm != NULL ? fsm->snapshots_taken : 0;
    status->snapshots_installed = fsm != NULL ? fsm->snapshots_installed : 0;
    status->snapshot_loads_failed = hold->gets_failed_total;
    status->snapshot_loads_newer = hold->gets_newer_total;
    status->member_count = cluster_members_read(raft, status->members);
    ASSERT(status->replica < status->replica_count);
}
