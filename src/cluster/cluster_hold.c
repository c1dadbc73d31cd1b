/* An InstallSnapshot held while raft takes its own snapshot (cluster.h, "An InstallSnapshot
 * held"). raft's I/O calls back with only its own pointers (the raft_io, the snapshot_put
 * request), so the holds in place are found by those, in a table of CLUSTER_HOLDS_MAX: raft
 * and its I/O run on one thread, and a replica process has one. */
#include "cluster/cluster.h"

#include <string.h>

static struct cluster_hold *cluster_holds[CLUSTER_HOLDS_MAX];

static struct cluster_hold *cluster_hold_of_io(const struct raft_io *io) {
    ASSERT(io != NULL);
    for (u32 index = 0; index < CLUSTER_HOLDS_MAX; index++) {
        if (cluster_holds[index] != NULL && cluster_holds[index]->io == io) {
            return cluster_holds[index];
        }
    }
    ASSERT(false && "a raft_io without its hold");
    return NULL;
}

static struct cluster_hold *cluster_hold_of_take(const struct raft_io_snapshot_put *put) {
    ASSERT(put != NULL);
    for (u32 index = 0; index < CLUSTER_HOLDS_MAX; index++) {
        if (cluster_holds[index] != NULL && cluster_holds[index]->take == put) {
            return cluster_holds[index];
        }
    }
    ASSERT(false && "a snapshot written without its hold");
    return NULL;
}

/* What raft's receive callback frees of an InstallSnapshot it does not take. */
static void cluster_hold_message_free(struct raft_message *message) {
    ASSERT(message != NULL);
    ASSERT(message->type == RAFT_INSTALL_SNAPSHOT);
    raft_configuration_close(&message->install_snapshot.conf);
    raft_free(message->install_snapshot.data.base);
    message->install_snapshot.data.base = NULL;
}

static void cluster_hold_receive(struct raft_io *io, struct raft_message *message) {
    struct cluster_hold *hold = cluster_hold_of_io(io);
    ASSERT(hold != NULL && message != NULL);
    const struct raft *raft = hold->raft;
    if (message->type != RAFT_INSTALL_SNAPSHOT || !raft->legacy.snapshot_taking ||
        raft->legacy.closing) {
        hold->receive(io, message);
        return;
    }
    if (hold->held) { /* the leader's newer message replaces it */
        cluster_hold_message_free(&hold->message);
        hold->held = false;
        hold->dropped_total++;
    }
    const char *address = message->server_address != NULL ? message->server_address : "";
    size_t length = strlen(address);
    if (length >= sizeof(hold->address)) {
        cluster_hold_message_free(message);
        hold->dropped_total++;
        return;
    }
    memcpy(hold->address, address, length + 1);
    hold->message = *message;
    hold->message.server_address = hold->address;
    hold->held = true;
    hold->held_total++;
}

/* raft's own snapshot is written: raft's callback first, then the held message, if raft still
 * runs (a take fails only while raft closes). */
static void cluster_hold_taken(struct raft_io_snapshot_put *put, int status) {
    struct cluster_hold *hold = cluster_hold_of_take(put);
    ASSERT(hold != NULL && hold->take_done != NULL);
    raft_io_snapshot_put_cb done = hold->take_done;
    hold->take = NULL;
    hold->take_done = NULL;
    done(put, status); /* frees `put` */
    if (!hold->held) return;
    struct raft_message message = hold->message;
    hold->held = false;
    if (status != 0 || hold->raft->legacy.closing || hold->raft->legacy.snapshot_taking) {
        cluster_hold_message_free(&message);
        hold->dropped_total++;
        return;
    }
    ASSERT(message.server_address == hold->address);
    hold->receive(hold->io, &message);
}

static int cluster_hold_snapshot_put(struct raft_io *io, unsigned trailing,
                                     struct raft_io_snapshot_put *put,
                                     const struct raft_snapshot *snapshot,
                                     raft_io_snapshot_put_cb cb) {
    struct cluster_hold *hold = cluster_hold_of_io(io);
    ASSERT(hold != NULL && put != NULL);
    if (hold->raft->legacy.snapshot_install) { /* the leader's snapshot, installed */
        return hold->snapshot_put(io, trailing, put, snapshot, cb);
    }
    ASSERT(hold->take == NULL);
    hold->take = put;
    hold->take_done = cb;
    int status = hold->snapshot_put(io, trailing, put, snapshot, cluster_hold_taken);
    if (status != 0) {
        hold->take = NULL;
        hold->take_done = NULL;
    }
    return status;
}

static int cluster_hold_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                              raft_io_recv_cb receive) {
    struct cluster_hold *hold = cluster_hold_of_io(io);
    ASSERT(hold != NULL && receive != NULL);
    hold->receive = receive;
    return hold->start(io, msecs, tick, cluster_hold_receive);
}

bool cluster_hold_install(struct cluster_hold *hold, struct raft *raft) {
    ASSERT(hold != NULL && raft != NULL);
    ASSERT(raft->io != NULL && raft->io->start != NULL);
    for (u32 index = 0; index < CLUSTER_HOLDS_MAX; index++) {
        if (cluster_holds[index] != NULL) continue;
        memset(hold, 0, sizeof(*hold));
        hold->raft = raft;
        hold->io = raft->io;
        hold->start = raft->io->start;
        hold->snapshot_put = raft->io->snapshot_put;
        raft->io->start = cluster_hold_start;
        raft->io->snapshot_put = cluster_hold_snapshot_put;
        cluster_holds[index] = hold;
        return true;
    }
    return false;
}

void cluster_hold_uninstall(struct cluster_hold *hold) {
    ASSERT(hold != NULL);
    if (hold->raft == NULL) return; /* never installed */
    ASSERT(hold->io != NULL);
    if (hold->held) {
        cluster_hold_message_free(&hold->message);
        hold->held = false;
    }
    for (u32 index = 0; index < CLUSTER_HOLDS_MAX; index++) {
        if (cluster_holds[index] == hold) cluster_holds[index] = NULL;
    }
    hold->io->start = hold->start;
    hold->io->snapshot_put = hold->snapshot_put;
    hold->raft = NULL;
}
