/*
 * cluster_membership.h: adding, removing and replacing replicas (docs/replication.md,
 * "Membership"), on raft's own configuration changes (raft_add, raft_assign, raft_remove,
 * raft_transfer), and the check of raft's log a replica makes before it starts.
 *
 * A cluster's address list has replica_count slots (cluster.h, "Identity"); a raft server
 * fills one slot, and its raft id says which and in which generation
 * (CLUSTER_RAFT_ID_SLOTS x generation + slot + 1). The view a reply carries names the leader's
 * slot, so clients given the address list find the leader whichever generation fills it.
 *
 * An operator's request names what the configuration must become, not a step towards it, so
 * asking again is harmless and the request survives a leader change:
 *   add (slot, generation): that server is a voter and no other generation of its slot is in
 *     the configuration. The leader takes one step per request, one change at a time: remove
 *     the other generations of the slot (they hold its address, which raft lets only one
 *     server have; a replacement's predecessor is down anyway), add it (raft's spare), make it
 *     a standby (the leader sends it its snapshot and log), make it a voter (raft first catches
 *     it up in rounds, then commits the change).
 *   remove (slot): no server of that slot is in the configuration. A leader asked to remove
 *     itself first hands leadership to the most up-to-date voter (raft_transfer).
 * Each request is answered with a struct cluster_membership_reply: ok (the configuration is as
 * asked) or membership_changing (a step is under way: ask again), raft's status of the last
 * step, and the configuration; a request out of range with invalid_argument.
 *
 * The log check (cluster_raft_log_check): raft's libuv log keeps entries in segment files, each
 * a u64 format version, then batches: a u32 CRC-32 of the batch header, a u32 CRC-32 of the
 * entries' data, the header (u64 entry count, 16 bytes per entry: u64 term, u8 type, 3 unused
 * bytes, u32 data size) and the data. An open segment is
 * preallocated with zeros: its first all-zero preamble ends it. raft itself drops a damaged
 * last batch of an open segment as a write cut short by a crash, but an entry it had written
 * and synced was acknowledged to the leader, which counts it towards a majority: a replica
 * that silently lost one can make a committed entry depend on fewer replicas than a majority.
 * So a replica refuses to start when any batch of its log fails its checksum, naming the file
 * and the offset, and the repair is to replace it (a new directory, a new generation).
 */
#ifndef KHORGOS_CLUSTER_MEMBERSHIP_H
#define KHORGOS_CLUSTER_MEMBERSHIP_H

#include "cluster/cluster.h"

/* The operations of an operator's request. */
enum cluster_membership_action {
    CLUSTER_MEMBERSHIP_ADD = 1,
    CLUSTER_MEMBERSHIP_REMOVE = 2,
};

/* The body of an operator's request (16 bytes, little-endian). */
struct cluster_membership_request {
    u32 action; /* enum cluster_membership_action */
    u32 replica; /* the slot */
    u32 generation; /* add only; 0 for remove */
    u32 reserved; /* zero */
};

/* One server of the configuration, as a reply and /metrics list it (16 bytes). */
struct cluster_member {
    u32 replica;
    u32 generation;
    u32 role; /* RAFT_STANDBY, RAFT_VOTER, RAFT_SPARE */
    u32 reserved;
};

/* The reply's body: this header, then `member_count` struct cluster_member. */
struct cluster_membership_reply {
    u32 error;        /* khorgos_error: ok or membership_changing */
    int32_t raft_status;/* raft's status of the leader's last step (0: it succeeded) */
    u32 member_count;
    u32 reserved;
};

/* Servers listed at most: every slot twice (a replica and its replacement). */
#define CLUSTER_MEMBERS_MAX (2u * CLUSTER_REPLICA_COUNT_MAX)

/* A slot's raft id in a generation, and back. */
raft_id cluster_raft_id(u32 replica, u32 generation);
u32 cluster_raft_id_replica(raft_id id);
u32 cluster_raft_id_generation(raft_id id);
/* "voter", "standby", "spare"; "unknown" otherwise. */
const char *cluster_member_role_name(u32 role);

/* raft's configuration as members (at most CLUSTER_MEMBERS_MAX); returns how many. */
u32 cluster_members_read(const struct raft *raft, struct cluster_member *members);

/* The leader's state for one change at a time. */
struct cluster_membership {
    struct raft_change change;
    struct raft_transfer transfer;
    bool changing;    /* a change or a transfer is under way */
    int last_status;  /* raft's status of the last step (0: it succeeded) */
    bool member_seen; /* this replica was in the configuration once (a removal is noticed) */
};

/* raft (0.22.1) marks a configuration entry a follower receives uncommitted at the index of
 * the first new entry of its AppendEntries batch, not at the entry's own index, so the mark is
 * never cleared when the entry is not the batch's first (a replica catching up gets such
 * batches). Such a replica, once it leads, is refused every change (RAFT_CANTCHANGE), and its
 * snapshots carry the configuration before the change. With every entry of the log applied,
 * hence committed, no configuration is uncommitted: this clears the mark and records the
 * configuration as committed, as raft does when it applies a configuration entry (its index
 * stays the older one, which only has to be below that of any later configuration entry).
 * Called by each replica's timer and before a membership step; returns raft's status. */
int cluster_membership_settle(struct raft *raft);

/* One step of `request` on a leader's raft; `address` is the raft address of the request's
 * slot (NULL when the slot is past replica_count). ok when the configuration is as asked;
 * membership_changing when a step is under way (begun now or before); invalid_argument for a
 * request out of range (a slot past replica_count, a generation older than one already in the
 * configuration, an unknown action). */
khorgos_error cluster_membership_step(struct raft *raft, struct cluster_membership *membership,
                                      const char *address,
                                      const struct cluster_membership_request *request);

/* Checks every batch of the raft log in `directory` (raft_uv's segment files). ok, or corrupt
 * with `message` naming the file and the offset of the first damaged batch, or io. */
khorgos_error cluster_raft_log_check(const char *directory, char *message, size_t capacity);

#endif /* KHORGOS_CLUSTER_MEMBERSHIP_H */
