/* Between raft and its snapshot I/O (cluster.h, "Between raft and its snapshot I/O"). raft's
 * I/O calls back with only its own pointers (the raft_io, the snapshot_put or snapshot_get
 * request), so the holds in place are found by those, in a table of CLUSTER_HOLDS_MAX: raft and
 * its I/O run on one thread, and a replica process has one. */
#include "cluster/cluster.h"

#include <stdio.h>
#include <string.h>

static struct cluster_hold *cluster_holds[CLUSTER_HOLDS_MAX];

/* Sends in flight whose payload the heap keeps until raft_uv's write of it calls back
 * (cluster_hold_send): raft's send request, raft's callback, and the payload's blocks (an
 * InstallSnapshot's data, or the distinct batches an AppendEntries' entries point into). Global
 * rather than per hold, because a write may call back after its hold is uninstalled (raft
 * closing). A send with more blocks than CLUSTER_HOLD_SEND_BLOCKS_MAX, or past the table, goes
 * as it is. */
#define CLUSTER_HOLD_SENDS_MAX 32u
#define CLUSTER_HOLD_SEND_BLOCKS_MAX 2u
static struct {
    struct raft_io_send *req;
    raft_io_send_cb done; /* raft's */
    void *blocks[CLUSTER_HOLD_SEND_BLOCKS_MAX];
    u32 block_count;
} cluster_hold_sends[CLUSTER_HOLD_SENDS_MAX];
static u64 cluster_hold_sends_freed_early; /* data raft freed while its write still ran */

/* The term raft's core holds for `index`: its trail (struct raft_trail in raft.h), read as
 * raft's TrailTermOf reads it (an entry the trail holds first, else its snapshot's), or 0. */
static raft_term cluster_hold_trail_term(const struct raft_trail *trail, raft_index index) {
    ASSERT(trail != NULL && index > 0);
    ASSERT(trail->size == 0 || (trail->front < trail->size && trail->back < trail->size));
    u32 count = trail->front <= trail->back ? trail->back - trail->front
                                            : trail->size - trail->front + trail->back;
    raft_index last =
        count == 0 ? trail->offset : trail->records[(trail->front + count - 1) % trail->size].index;
    if (index <= trail->offset || index > last) {
        return index == trail->snapshot.index ? trail->snapshot.term : 0;
    }
    for (u32 at = 0; at < count; at++) {
        u32 slot = (trail->front + at) % trail->size;
        if (trail->records[slot].index >= index) return trail->records[slot].term;
    }
    return 0;
}

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

static struct cluster_hold *cluster_hold_of_put(const struct raft_io_snapshot_put *put) {
    ASSERT(put != NULL);
    for (u32 index = 0; index < CLUSTER_HOLDS_MAX; index++) {
        if (cluster_holds[index] != NULL && cluster_holds[index]->put.put == put) {
            return cluster_holds[index];
        }
    }
    ASSERT(false && "a snapshot written without its hold");
    return NULL;
}

/* The hold of a load it runs, and the load's place in it. */
static struct cluster_hold *cluster_hold_of_get(const struct raft_io_snapshot_get *get,
                                                u32 *place) {
    ASSERT(get != NULL && place != NULL);
    for (u32 index = 0; index < CLUSTER_HOLDS_MAX; index++) {
        struct cluster_hold *hold = cluster_holds[index];
        for (u32 at = 0; hold != NULL && at < hold->gets_count; at++) {
            if (hold->gets[at].get != get) continue;
            *place = at;
            return hold;
        }
    }
    ASSERT(false && "a snapshot loaded without its hold");
    return NULL;
}

/* Takes load `at` out of the list (the last one takes its place). */
static void cluster_hold_gets_remove(struct cluster_hold *hold, u32 at) {
    ASSERT(hold != NULL && hold->gets_count > 0);
    ASSERT(at < hold->gets_count);
    hold->gets_count--;
    hold->gets[at] = hold->gets[hold->gets_count];
}

/* Adds a load to the list, running or waiting, with the snapshot raft's core asked for: the
 * one its InstallSnapshot names (replication.c, sendSnapshot), asked for in the same step. */
static void cluster_hold_gets_add(struct cluster_hold *hold, struct raft_io_snapshot_get *get,
                                  bool running) {
    ASSERT(hold != NULL && get != NULL);
    ASSERT(hold->gets_count < CLUSTER_HOLD_GETS_MAX);
    const struct raft_trail *trail = &hold->raft->trail;
    hold->gets[hold->gets_count] = (struct cluster_hold_get){
        .get = get,
        .asked_index = trail->snapshot.index,
        .asked_term = trail->snapshot.index == 0
                          ? 0
                          : cluster_hold_trail_term(trail, trail->snapshot.index),
        .running = running};
    hold->gets_count++;
}

static bool cluster_hold_gets_running(const struct cluster_hold *hold) {
    ASSERT(hold != NULL && hold->gets_count <= CLUSTER_HOLD_GETS_MAX);
    for (u32 at = 0; at < hold->gets_count; at++) {
        if (hold->gets[at].running) return true;
    }
    return false;
}

/* Takes the write out of the hold (running or waiting), to call its callback. */
static struct cluster_hold_put cluster_hold_put_take(struct cluster_hold *hold) {
    ASSERT(hold != NULL && hold->put.put != NULL);
    struct cluster_hold_put put = hold->put;
    memset(&hold->put, 0, sizeof(hold->put));
    hold->put_running = false;
    ASSERT(put.done != NULL);
    return put;
}

/* What raft's receive callback frees of an InstallSnapshot it does not take. */
static void cluster_hold_message_free(struct raft_message *message) {
    ASSERT(message != NULL);
    ASSERT(message->type == RAFT_INSTALL_SNAPSHOT);
    raft_configuration_close(&message->install_snapshot.conf);
    raft_free(message->install_snapshot.data.base);
    message->install_snapshot.data.base = NULL;
}

/* Gives raft a received AppendEntries with its entries guarded (cluster_heap_guard_begin):
 * raft freeing them twice means its step, or the I/O after it, failed; that is counted and
 * raft's own account of it kept, for the replica to stop and say so. */
static void cluster_hold_receive_entries(struct cluster_hold *hold, struct raft_message *message) {
    ASSERT(hold != NULL && message->type == RAFT_APPEND_ENTRIES);
    ASSERT(message->append_entries.n_entries > 0);
    bool guarded = cluster_heap_guard_begin(message->append_entries.entries[0].batch);
    hold->receive(hold->io, message); /* frees the message's entries */
    if (!guarded || cluster_heap_guard_end() < 2) return;
    hold->receive_failed_total++;
    const char *account = raft_errmsg(hold->raft);
    snprintf(hold->receive_error, sizeof(hold->receive_error), "%s",
             account != NULL && account[0] != '\0' ? account : "raft gave no message");
}

static void cluster_hold_receive(struct raft_io *io, struct raft_message *message) {
    struct cluster_hold *hold = cluster_hold_of_io(io);
    ASSERT(hold != NULL && message != NULL);
    const struct raft *raft = hold->raft;
    if (message->type == RAFT_APPEND_ENTRIES && message->append_entries.n_entries > 0 &&
        !raft->legacy.closing) {
        cluster_hold_receive_entries(hold, message);
        return;
    }
    if (message->type == RAFT_INSTALL_SNAPSHOT) {
        cluster_trace_note("hold: InstallSnapshot %llu^%llu from %llu%s",
                           (unsigned long long)message->install_snapshot.last_index,
                           (unsigned long long)message->install_snapshot.last_term,
                           (unsigned long long)message->server_id,
                           raft->legacy.snapshot_taking ? ", held" : "");
    }
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

/* Gives raft the held message once raft's own snapshot has called back, if raft still runs
 * (a write fails only while raft closes). */
static void cluster_hold_deliver(struct cluster_hold *hold, int status) {
    ASSERT(hold != NULL && hold->held);
    ASSERT(hold->message.type == RAFT_INSTALL_SNAPSHOT);
    struct raft_message message = hold->message;
    hold->held = false;
    if (status != 0 || hold->raft->legacy.closing || hold->raft->legacy.snapshot_taking) {
        cluster_hold_message_free(&message);
        hold->dropped_total++;
        return;
    }
    hold->receive(hold->io, &message);
}

static void cluster_hold_get_done(struct raft_io_snapshot_get *get,
                                  struct raft_snapshot *snapshot, int status);

/* Starts the waiting loads (none runs while a snapshot is written). A load the I/O refuses at
 * once is not given back to raft, whose failed load frees what it never set: its request is
 * left, as a waiting one is once raft closes. */
static void cluster_hold_gets_start(struct cluster_hold *hold) {
    ASSERT(hold != NULL);
    ASSERT(hold->gets_count <= CLUSTER_HOLD_GETS_MAX);
    if (hold->put.put != NULL) return; /* raft began another write meanwhile */
    u32 at = 0;
    while (at < hold->gets_count) {
        if (hold->gets[at].running) {
            at++;
            continue;
        }
        if (hold->raft->legacy.closing ||
            hold->snapshot_get(hold->io, hold->gets[at].get, cluster_hold_get_done) != 0) {
            cluster_hold_gets_remove(hold, at);
            continue;
        }
        hold->gets[at].running = true;
        at++;
    }
}

/* A snapshot is written: raft's callback, then the held message, then the waiting loads. */
static void cluster_hold_put_done(struct raft_io_snapshot_put *put, int status) {
    struct cluster_hold *hold = cluster_hold_of_put(put);
    ASSERT(hold != NULL && hold->put_running && hold->put.done != NULL);
    struct cluster_hold_put done = cluster_hold_put_take(hold);
    cluster_trace_note("hold: snapshot %llu^%llu %s, status %d",
                       (unsigned long long)done.snapshot->index,
                       (unsigned long long)done.snapshot->term,
                       done.take ? "taken" : "installed", status);
    done.done(put, status); /* frees `put` */
    if (done.take && hold->held) cluster_hold_deliver(hold, status);
    cluster_hold_gets_start(hold);
}

/* Starts the write (none while a load runs); one the I/O refuses at once is failed to raft,
 * at once when raft asked for it then, or by its callback when it waited. */
static int cluster_hold_put_start(struct cluster_hold *hold, bool waited) {
    ASSERT(hold != NULL && hold->put.put != NULL);
    ASSERT(!hold->put_running);
    hold->put_running = true;
    int status = hold->snapshot_put(hold->io, hold->put.trailing, hold->put.put,
                                    hold->put.snapshot, cluster_hold_put_done);
    if (status == 0) return 0;
    struct cluster_hold_put failed = cluster_hold_put_take(hold);
    if (waited) failed.done(failed.put, status);
    return status;
}

static int cluster_hold_snapshot_put(struct raft_io *io, unsigned trailing,
                                     struct raft_io_snapshot_put *put,
                                     const struct raft_snapshot *snapshot,
                                     raft_io_snapshot_put_cb cb) {
    struct cluster_hold *hold = cluster_hold_of_io(io);
    ASSERT(hold != NULL && put != NULL && cb != NULL);
    ASSERT(hold->put.put == NULL && !hold->put_running); /* raft writes one at a time */
    hold->put = (struct cluster_hold_put){.trailing = trailing, .put = put, .snapshot = snapshot,
                                          .done = cb,
                                          .take = !hold->raft->legacy.snapshot_install};
    cluster_trace_note("hold: snapshot %llu^%llu to %s, trailing %u, last index %llu",
                       (unsigned long long)snapshot->index, (unsigned long long)snapshot->term,
                       hold->put.take ? "take" : "install", trailing,
                       (unsigned long long)raft_last_index(hold->raft));
    if (cluster_hold_gets_running(hold)) {
        hold->waited_total++;
        return 0; /* started when the loads have called back */
    }
    return cluster_hold_put_start(hold, false);
}

static void cluster_hold_snapshot_free(struct raft_snapshot *snapshot) {
    ASSERT(snapshot != NULL);
    ASSERT(snapshot->n_bufs == 0 || snapshot->bufs != NULL);
    raft_configuration_close(&snapshot->configuration);
    for (unsigned index = 0; index < snapshot->n_bufs; index++) {
        raft_free(snapshot->bufs[index].base);
    }
    raft_free(snapshot->bufs);
    raft_free(snapshot);
}

/* Whether a load returned a newer snapshot than raft's core asked for, of another term. raft's
 * legacy layer sends it at once under its own index and the term of the one asked for
 * (legacy.c, legacyLoadSnapshotCb, moves last_index and keeps last_term), and a replica that
 * installed that would refuse every entry after it (conflicting terms at a committed index).
 * A write that ends while the load waits, as every load asked for during a write does here,
 * makes it. cluster_hold_send names the snapshot's own term in that message. */
static bool cluster_hold_load_newer(const struct raft_snapshot *snapshot,
                                    const struct cluster_hold_get *asked) {
    ASSERT(asked != NULL);
    ASSERT(snapshot == NULL || snapshot->index > 0);
    return snapshot != NULL && asked->asked_index != 0 && snapshot->index != asked->asked_index &&
           snapshot->term != asked->asked_term;
}

/* A load called back: raft's callback, then the waiting write once no load runs. */
static void cluster_hold_get_done(struct raft_io_snapshot_get *get,
                                  struct raft_snapshot *snapshot, int status) {
    u32 place = 0;
    struct cluster_hold *hold = cluster_hold_of_get(get, &place);
    ASSERT(hold != NULL && hold->gets[place].running);
    struct cluster_hold_get asked = hold->gets[place];
    cluster_hold_gets_remove(hold, place);
    if (status != 0) { /* kept from raft, which would free what it never set */
        raft_free(snapshot);
        hold->gets_failed_total++;
    } else if (cluster_hold_load_newer(snapshot, &asked)) {
        unsigned long long index = snapshot->index, term = snapshot->term;
        cluster_trace_note("hold: load returned snapshot %llu^%llu for %llu^%llu: sent as "
                           "%llu^%llu", index, term, (unsigned long long)asked.asked_index,
                           (unsigned long long)asked.asked_term, index, term);
        hold->newer = (struct cluster_hold_snapshot_id){snapshot->index, snapshot->term};
        hold->get_done(get, snapshot, status); /* sends it, through cluster_hold_send */
        hold->newer = (struct cluster_hold_snapshot_id){0, 0};
    } else {
        hold->get_done(get, snapshot, status);
    }
    if (cluster_hold_gets_running(hold) || hold->put.put == NULL || hold->put_running) return;
    if (hold->raft->legacy.closing) {
        struct cluster_hold_put canceled = cluster_hold_put_take(hold);
        canceled.done(canceled.put, RAFT_CANCELED);
        return;
    }
    (void)cluster_hold_put_start(hold, true);
}

static int cluster_hold_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *get,
                                     raft_io_snapshot_get_cb cb) {
    struct cluster_hold *hold = cluster_hold_of_io(io);
    ASSERT(hold != NULL && get != NULL && cb != NULL);
    ASSERT(hold->get_done == NULL || hold->get_done == cb); /* raft has one for every load */
    hold->get_done = cb;
    if (hold->gets_count == CLUSTER_HOLD_GETS_MAX) return hold->snapshot_get(io, get, cb);
    if (hold->put.put != NULL) { /* a write runs or waits: after it */
        cluster_hold_gets_add(hold, get, false);
        hold->waited_total++;
        return 0;
    }
    int status = hold->snapshot_get(io, get, cluster_hold_get_done);
    if (status != 0) return status;
    cluster_hold_gets_add(hold, get, true);
    return 0;
}

static int cluster_hold_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                              raft_io_recv_cb receive) {
    struct cluster_hold *hold = cluster_hold_of_io(io);
    ASSERT(hold != NULL && receive != NULL);
    hold->receive = receive;
    return hold->start(io, msecs, tick, cluster_hold_receive);
}

/* A kept message's write called back: raft's callback frees its payload or releases it (each
 * free put off by the heap), and the heap then frees it once. Freed twice means raft freed it
 * while the write still used it (cluster.h). */
static void cluster_hold_send_done(struct raft_io_send *req, int status) {
    ASSERT(req != NULL);
    u32 at = 0;
    while (at < CLUSTER_HOLD_SENDS_MAX && cluster_hold_sends[at].req != req) at++;
    ASSERT(at < CLUSTER_HOLD_SENDS_MAX); /* recorded by cluster_hold_send_kept */
    raft_io_send_cb done = cluster_hold_sends[at].done;
    u32 count = cluster_hold_sends[at].block_count;
    void *blocks[CLUSTER_HOLD_SEND_BLOCKS_MAX];
    memcpy(blocks, cluster_hold_sends[at].blocks, sizeof(blocks));
    memset(&cluster_hold_sends[at], 0, sizeof(cluster_hold_sends[at]));
    done(req, status); /* raft frees the payload, or releases its references to it */
    bool early = false;
    for (u32 block = 0; block < count; block++) early |= cluster_heap_keep_end(blocks[block]) >= 2;
    if (!early) return;
    cluster_hold_sends_freed_early++;
    cluster_trace_note("hold: a message's payload freed by raft while its write ran; freed "
                       "once, after the write");
}

/* The blocks a message's payload lives in, distinct; 0 when there is none, or more than
 * CLUSTER_HOLD_SEND_BLOCKS_MAX. */
static u32 cluster_hold_send_blocks(const struct raft_message *message, void **blocks) {
    ASSERT(message != NULL && blocks != NULL);
    if (message->type == RAFT_INSTALL_SNAPSHOT) {
        blocks[0] = message->install_snapshot.data.base;
        return blocks[0] != NULL ? 1 : 0;
    }
    if (message->type != RAFT_APPEND_ENTRIES) return 0;
    u32 count = 0;
    for (unsigned entry = 0; entry < message->append_entries.n_entries; entry++) {
        void *batch = message->append_entries.entries[entry].batch;
        bool seen = batch == NULL;
        for (u32 block = 0; block < count && !seen; block++) seen = blocks[block] == batch;
        if (seen) continue;
        if (count == CLUSTER_HOLD_SEND_BLOCKS_MAX) return 0;
        blocks[count++] = batch;
    }
    return count;
}

/* Sends a message with its payload kept past raft's frees until the write calls back; one
 * that cannot be tracked is sent as it is. */
static int cluster_hold_send_kept(struct cluster_hold *hold, struct raft_io_send *req,
                                  const struct raft_message *message, raft_io_send_cb cb) {
    void *blocks[CLUSTER_HOLD_SEND_BLOCKS_MAX];
    u32 count = cluster_hold_send_blocks(message, blocks);
    u32 at = 0;
    while (at < CLUSTER_HOLD_SENDS_MAX && cluster_hold_sends[at].req != NULL) at++;
    u32 kept = 0;
    while (at < CLUSTER_HOLD_SENDS_MAX && kept < count && cluster_heap_keep_begin(blocks[kept])) {
        kept++;
    }
    if (count == 0 || kept < count) {
        for (u32 block = 0; block < kept; block++) (void)cluster_heap_keep_end(blocks[block]);
        return hold->send(hold->io, req, message, cb);
    }
    cluster_hold_sends[at].req = req;
    cluster_hold_sends[at].done = cb;
    memcpy(cluster_hold_sends[at].blocks, blocks, sizeof(blocks));
    cluster_hold_sends[at].block_count = count;
    int status = hold->send(hold->io, req, message, cluster_hold_send_done);
    if (status != 0) { /* no callback will come: raft frees the payload itself */
        memset(&cluster_hold_sends[at], 0, sizeof(cluster_hold_sends[at]));
        for (u32 block = 0; block < count; block++) {
            u32 frees = cluster_heap_keep_end(blocks[block]);
            ASSERT(frees == 0);
        }
    }
    return status;
}

/* raft's sends, none once raft closes (raft_uv's send on its closing I/O would connect anew
 * on the closing transport) or once a term or vote was not persisted (cluster.h). */
static int cluster_hold_send(struct raft_io *io, struct raft_io_send *req,
                             const struct raft_message *message, raft_io_send_cb cb) {
    struct cluster_hold *hold = cluster_hold_of_io(io);
    ASSERT(hold != NULL && req != NULL && message != NULL);
    if (hold->raft->legacy.closing || hold->persist_failed_total > 0) {
        hold->sends_refused_total++;
        return RAFT_CANCELED;
    }
    if (hold->newer.index != 0 && message->type == RAFT_INSTALL_SNAPSHOT &&
        message->install_snapshot.last_index == hold->newer.index) {
        /* raft_uv encodes the message before its send returns: a copy on the stack will do. */
        struct raft_message named = *message;
        named.install_snapshot.last_term = hold->newer.term;
        hold->gets_newer_total++;
        return cluster_hold_send_kept(hold, req, &named, cb);
    }
    return cluster_hold_send_kept(hold, req, message, cb);
}

u64 cluster_hold_payloads_freed_early(void) {
    ASSERT(cluster_hold_sends_freed_early < UINT64_MAX);
    return cluster_hold_sends_freed_early;
}

/* Frees the entries' batches, each once: a run of entries shares one (raft_uv's segment
 * buffer, or a block of its own for each entry already copied). */
static void cluster_hold_batches_free(struct raft_entry *entries, size_t count) {
    ASSERT(entries != NULL || count == 0);
    ASSERT(count == 0 || entries[0].batch != NULL);
    void *freed = NULL;
    for (size_t index = 0; index < count; index++) {
        if (entries[index].batch == freed) continue;
        freed = entries[index].batch;
        raft_free(freed);
    }
}

/* Gives every loaded entry a block of its own (buf.base and batch both point to it), freeing
 * the segments' buffers as their last entry is copied (raft_uv's entries of one buffer are
 * consecutive). RAFT_NOMEM leaves nothing allocated: not the entries, the array or the
 * buffers. */
static int cluster_hold_entries_split(struct raft_entry *entries, size_t count) {
    ASSERT(entries != NULL || count == 0);
    void *segment = count > 0 ? entries[0].batch : NULL;
    for (size_t index = 0; index < count; index++) {
        struct raft_entry *entry = &entries[index];
        ASSERT(entry->batch != NULL); /* as raft's entryBatchesDestroy has it */
        if (entry->batch != segment) { /* every entry of the last buffer is copied */
            raft_free(segment);
            segment = entry->batch;
        }
        void *block = raft_malloc(MAX(entry->buf.len, (size_t)1));
        if (block == NULL) {
            cluster_hold_batches_free(entries, count);
            raft_free(entries);
            return RAFT_NOMEM;
        }
        if (entry->buf.len > 0) memcpy(block, entry->buf.base, entry->buf.len);
        entry->buf.base = entry->buf.len > 0 ? block : NULL;
        entry->batch = block;
    }
    raft_free(segment);
    ASSERT(count == 0 || entries[count - 1].batch != segment);
    return 0;
}

/* raft_uv's load, with every entry it loaded in a block of its own (cluster.h). */
static int cluster_hold_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
                             struct raft_snapshot **snapshot, raft_index *start_index,
                             struct raft_entry *entries[], size_t *count) {
    struct cluster_hold *hold = cluster_hold_of_io(io);
    ASSERT(hold != NULL && hold->load != NULL);
    ASSERT(snapshot != NULL && entries != NULL && count != NULL);
    int status = hold->load(io, term, voted_for, snapshot, start_index, entries, count);
    if (status != 0) return status;
    status = cluster_hold_entries_split(*entries, *count);
    if (status != 0) {
        if (*snapshot != NULL) cluster_hold_snapshot_free(*snapshot);
        *snapshot = NULL;
        *entries = NULL;
        *count = 0;
        snprintf(io->errmsg, sizeof(io->errmsg), "copying the loaded log's entries: %s",
                 raft_strerror(status));
        return status;
    }
    hold->loaded_entries_total += *count;
    return 0;
}

/* Counts a term or vote the I/O refused to persist, keeping the first refusal's message. */
static int cluster_hold_persisted(struct cluster_hold *hold, const char *what, int status) {
    ASSERT(hold != NULL && what != NULL);
    if (status == 0) return 0;
    if (hold->persist_failed_total++ == 0) {
        /* The I/O's own message cut to what is left after the call's name and raft's error. */
        int used = snprintf(hold->persist_error, sizeof(hold->persist_error), "%s: %s", what,
                            raft_strerror(status));
        if (used > 0 && (size_t)used + 4 < sizeof(hold->persist_error) &&
            hold->io->errmsg[0] != '\0') {
            snprintf(hold->persist_error + used, sizeof(hold->persist_error) - (size_t)used,
                     " (%.*s)", (int)(sizeof(hold->persist_error) - (size_t)used - 4),
                     hold->io->errmsg);
        }
    }
    cluster_trace_note("hold: %s refused (%s); no more sends", what, raft_strerror(status));
    ASSERT(hold->persist_failed_total > 0);
    return status;
}

static int cluster_hold_set_term(struct raft_io *io, raft_term term) {
    struct cluster_hold *hold = cluster_hold_of_io(io);
    ASSERT(hold != NULL && term > 0);
    return cluster_hold_persisted(hold, "set_term", hold->set_term(io, term));
}

static int cluster_hold_set_vote(struct raft_io *io, raft_id server_id) {
    struct cluster_hold *hold = cluster_hold_of_io(io);
    ASSERT(hold != NULL && hold->set_vote != NULL);
    return cluster_hold_persisted(hold, "set_vote", hold->set_vote(io, server_id));
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
        hold->snapshot_get = raft->io->snapshot_get;
        hold->send = raft->io->send;
        hold->set_term = raft->io->set_term;
        hold->set_vote = raft->io->set_vote;
        hold->load = raft->io->load;
        if (hold->load != NULL) raft->io->load = cluster_hold_load;
        raft->io->start = cluster_hold_start;
        raft->io->set_term = cluster_hold_set_term;
        raft->io->set_vote = cluster_hold_set_vote;
        raft->io->snapshot_put = cluster_hold_snapshot_put;
        raft->io->snapshot_get = cluster_hold_snapshot_get;
        raft->io->send = cluster_hold_send;
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
    hold->raft = NULL; /* the I/O, closed with raft, may already be freed: not touched */
    hold->io = NULL;
}
