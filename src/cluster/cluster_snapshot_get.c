/*
 * cluster_snapshot_get.c: a guard on raft_io's snapshot_get, the load of the latest snapshot a
 * leader sends to a replica that lags past its log (a new or replaced replica).
 *
 * raft 0.22.1's compatibility layer (legacy.c, legacyLoadSnapshotCb) handles a failed load by
 * freeing the InstallSnapshot message's data buffer and configuration, which it has not yet
 * set: sendSnapshot leaves both uninitialized, so the leader frees whatever pointers its stack
 * held, which glibc reports as "double free or corruption" or "free(): invalid pointer" and
 * aborts on. The load can fail on a healthy disk: raft_uv lists its directory on a thread of
 * libuv's pool while a snapshot being taken on another removes the oldest one (raft keeps
 * two), and a listing that found a snapshot's file and then cannot stat it fails whole.
 *
 * The guard hands raft a successful load unchanged, and keeps a failed one from raft: it frees
 * what raft's failure path rightly frees (the snapshot record and raft's request record, which
 * get->data points to, both from raft_malloc) and nothing of the message, the count of
 * failures grows, and raft, which still sees the replica waiting for a snapshot, sends it
 * again after its install-snapshot timeout. The callback raft passes is one function for every
 * raft, so one copy of it, and of raft_uv's snapshot_get, serves every replica of the process.
 */
#include "cluster/cluster_replica.h"

#include <stdatomic.h>

static raft_io_snapshot_get_cb cluster_snapshot_get_upstream_cb;
static int (*cluster_snapshot_get_upstream)(struct raft_io *io, struct raft_io_snapshot_get *req,
                                            raft_io_snapshot_get_cb cb);
static atomic_uint_least64_t cluster_snapshot_get_failures;

static void cluster_snapshot_get_done(struct raft_io_snapshot_get *req,
                                      struct raft_snapshot *snapshot, int status) {
    ASSERT(req != NULL);
    ASSERT(cluster_snapshot_get_upstream_cb != NULL);
    if (status != 0) {
        atomic_fetch_add(&cluster_snapshot_get_failures, 1);
        raft_free(snapshot); /* its fields are not read: the load may not have set them */
        raft_free(req->data); /* raft's request record, which its own failure path frees too */
        return;
    }
    cluster_snapshot_get_upstream_cb(req, snapshot, status);
}

static int cluster_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req,
                                raft_io_snapshot_get_cb cb) {
    ASSERT(io != NULL && req != NULL && cb != NULL);
    ASSERT(cluster_snapshot_get_upstream != NULL);
    ASSERT(cluster_snapshot_get_upstream_cb == NULL || cluster_snapshot_get_upstream_cb == cb);
    cluster_snapshot_get_upstream_cb = cb;
    return cluster_snapshot_get_upstream(io, req, cluster_snapshot_get_done);
}

void cluster_snapshot_get_guard(struct raft_io *io) {
    ASSERT(io != NULL && io->snapshot_get != NULL);
    if (io->snapshot_get == cluster_snapshot_get) return;
    ASSERT(cluster_snapshot_get_upstream == NULL ||
           cluster_snapshot_get_upstream == io->snapshot_get);
    cluster_snapshot_get_upstream = io->snapshot_get;
    io->snapshot_get = cluster_snapshot_get;
}

u64 cluster_snapshot_get_failures_count(void) {
    u64 count = atomic_load(&cluster_snapshot_get_failures);
    ASSERT(cluster_snapshot_get_upstream != NULL || count == 0);
    return count;
}
