/*
 * test_cluster_uv.c: three replicas on raft's own libuv I/O and TCP transport (raft_uv, three
 * consecutive loopback ports found free, below the ephemeral range: runs at once do not
 * collide), each over a real data directory, on one libuv loop. A follower is
 * stopped, the others go on, and it restarts from its disks (raft's snapshot and log, the
 * engine's snapshot and journal); stopped again while the others compact their logs past it,
 * it installs the leader's snapshot into its data directory. Each time it ends with the same
 * digest and the same requests in its journal as the others. A leader restarted from its
 * disks sends a follower entries it loaded while a snapshot compacts them away, and nothing is
 * freed early or twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cluster_support.h"

/* After the project's headers: sys/param.h (which uv.h includes) redefines MIN and MAX
 * silently in a system header, where base.h's would be an error the other way round. */
#include <raft/uv.h>
#include <uv.h>

#define TEST_UV_REPLICAS 3u
/* The ports tried: below Linux's default ephemeral range (32768 and up), so that no outgoing
 * connection holds one; where a search starts depends on the process id. */
#define TEST_UV_PORT_LOW 20000u
#define TEST_UV_PORT_SPAN 12000u
#define TEST_UV_WAIT_MS 10000u

struct test_replica {
    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport transport;
    struct cluster_hold hold; /* between raft and its I/O, as in a replica process */
    struct cluster_fsm fsm;
    char raft_directory[256];
    char data_directory[256];
    char address[32];
    bool running;
    bool closed;
};

struct test_uv {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes the loop, so a wait checks its condition often */
    struct test_replica replicas[TEST_UV_REPLICAS];
};

struct test_uv_proposal {
    struct raft_apply request;
    bool done;
    int status;
};

static u64 test_now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (u64)now.tv_sec * 1000u + (u64)now.tv_nsec / 1000000u;
}

static void test_uv_tick(uv_timer_t *timer) {
    (void)timer;
}

typedef bool (*test_uv_condition)(struct test_uv *uv, void *arg);

/* Runs the loop until the condition holds; fails after TEST_UV_WAIT_MS. */
static void test_uv_run_until(struct test_uv *uv, test_uv_condition condition, void *arg) {
    u64 deadline = test_now_ms() + TEST_UV_WAIT_MS;
    while (!condition(uv, arg)) {
        assert_true(test_now_ms() < deadline);
        uv_run(&uv->loop, UV_RUN_ONCE);
    }
}

static void test_replica_start(struct test_uv *uv, u32 index, bool bootstrap) {
    struct test_replica *replica = &uv->replicas[index];
    assert_int_equal(cluster_fsm_init(&replica->fsm, test_open(replica->data_directory)),
                     KHORGOS_ERROR_ok);
    memset(&replica->transport, 0, sizeof(replica->transport));
    memset(&replica->io, 0, sizeof(replica->io));
    replica->transport.version = 1; /* the caller's to set (raft/uv.h) */
    assert_int_equal(raft_uv_tcp_init(&replica->transport, &uv->loop), 0);
    int status = raft_uv_init(&replica->io, &uv->loop, replica->raft_directory,
                              &replica->transport);
    if (status != 0) fail_msg("raft_uv_init: %s", replica->io.errmsg);
    assert_int_equal(raft_init(&replica->raft, &replica->io, &replica->fsm.raft, index + 1,
                               replica->address), 0);
    replica->raft.data = replica;
    /* Small, so that this short run takes snapshots and compacts its log. */
    cluster_raft_configure(&replica->raft, &replica->fsm, 8, 32, CLUSTER_SNAPSHOT_LOG_BYTES);
    raft_set_election_timeout(&replica->raft, 100);
    raft_set_heartbeat_timeout(&replica->raft, 20);
    assert_true(cluster_hold_install(&replica->hold, &replica->raft));
    if (bootstrap) {
        struct raft_configuration configuration;
        raft_configuration_init(&configuration);
        for (u32 other = 0; other < TEST_UV_REPLICAS; other++) {
            assert_int_equal(raft_configuration_add(&configuration, other + 1,
                                                    uv->replicas[other].address, RAFT_VOTER), 0);
        }
        assert_int_equal(raft_bootstrap(&replica->raft, &configuration), 0);
        raft_configuration_close(&configuration);
    }
    assert_int_equal(raft_start(&replica->raft), 0);
    replica->running = true;
    replica->closed = false;
}

static void test_replica_closed(struct raft *raft) {
    struct test_replica *replica = raft->data;
    cluster_hold_uninstall(&replica->hold);
    raft_uv_close(&replica->io);
    raft_uv_tcp_close(&replica->transport);
    replica->closed = true;
}

static bool test_uv_closed(struct test_uv *uv, void *arg) {
    (void)uv;
    const struct test_replica *replica = arg;
    return replica->closed;
}

/* Stops a replica as a process exit would leave it: raft's and the engine's files as they are. */
static void test_replica_stop(struct test_uv *uv, u32 index) {
    struct test_replica *replica = &uv->replicas[index];
    assert_true(replica->running);
    raft_close(&replica->raft, test_replica_closed);
    test_uv_run_until(uv, test_uv_closed, replica);
    for (u32 round = 0; round < 16; round++) uv_run(&uv->loop, UV_RUN_NOWAIT);
    cluster_fsm_deinit(&replica->fsm); /* closes the engine */
    replica->running = false;
}

static bool test_uv_has_leader(struct test_uv *uv, void *arg) {
    u32 *leader = arg;
    for (u32 index = 0; index < TEST_UV_REPLICAS; index++) {
        if (uv->replicas[index].running && raft_state(&uv->replicas[index].raft) == RAFT_LEADER) {
            *leader = index;
            return true;
        }
    }
    return false;
}

static bool test_uv_proposal_done(struct test_uv *uv, void *arg) {
    (void)uv;
    const struct test_uv_proposal *proposal = arg;
    return proposal->done;
}

static void test_uv_applied(struct raft_apply *request, int status, void *result) {
    (void)result;
    struct test_uv_proposal *proposal = request->data;
    proposal->done = true;
    proposal->status = status;
}

/* Commits entry k through whichever replica leads (again after a lost leadership). */
static raft_index test_uv_commit(struct test_uv *uv, u32 k) {
    for (u32 attempt = 0; attempt < 8; attempt++) {
        u32 leader = TEST_UV_REPLICAS;
        test_uv_run_until(uv, test_uv_has_leader, &leader);
        struct raft *raft = &uv->replicas[leader].raft;
        static _Alignas(16) u8 entry[TEST_ENTRY_BYTES];
        u64 bytes = test_entry(k, entry);
        struct raft_buffer buffer = {.base = raft_malloc(bytes), .len = bytes};
        assert_non_null(buffer.base);
        memcpy(buffer.base, entry, bytes);
        static struct test_uv_proposal proposal;
        memset(&proposal, 0, sizeof(proposal));
        proposal.request.data = &proposal;
        if (raft_apply(raft, &proposal.request, &buffer, 1, test_uv_applied) != 0) {
            raft_free(buffer.base);
            continue;
        }
        raft_index index = raft_last_index(raft);
        test_uv_run_until(uv, test_uv_proposal_done, &proposal);
        if (proposal.status == 0) return index;
    }
    fail_msg("entry %u was never committed", k);
    return 0;
}

static bool test_uv_all_applied(struct test_uv *uv, void *arg) {
    const raft_index *index = arg;
    for (u32 replica = 0; replica < TEST_UV_REPLICAS; replica++) {
        if (uv->replicas[replica].running &&
            raft_last_applied(&uv->replicas[replica].raft) < *index) {
            return false;
        }
    }
    return true;
}

/* Every running replica: the same state and the same number of requests in its journal. */
static void test_uv_assert_equal(struct test_uv *uv, raft_index index) {
    test_uv_run_until(uv, test_uv_all_applied, &index);
    const struct khorgos *first = NULL;
    for (u32 replica = 0; replica < TEST_UV_REPLICAS; replica++) {
        if (!uv->replicas[replica].running) continue;
        const struct cluster_fsm *fsm = &uv->replicas[replica].fsm;
        if (first == NULL) first = fsm->engine;
        assert_int_equal(cluster_fsm_stopped(fsm), KHORGOS_ERROR_ok);
        assert_null(fsm->replay);
        assert_true(engine_state_digest(fsm->engine) == engine_state_digest(first));
        assert_true(fsm->engine->request_count == first->request_count);
    }
}

/* Whether nothing listens on or is bound to loopback `port` now. */
static bool test_uv_port_free(u32 port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((u16)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool free_now = bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0;
    close(fd);
    return free_now;
}

/* The first of TEST_UV_REPLICAS consecutive free ports. */
static u32 test_uv_ports_find(void) {
    for (u32 attempt = 0; attempt < 256; attempt++) {
        u32 first = TEST_UV_PORT_LOW +
                    ((u32)getpid() * 7u + attempt * 101u) % (TEST_UV_PORT_SPAN - TEST_UV_REPLICAS);
        bool all_free = true;
        for (u32 index = 0; index < TEST_UV_REPLICAS && all_free; index++) {
            all_free = test_uv_port_free(first + index);
        }
        if (all_free) return first;
    }
    fail_msg("no %u consecutive free loopback ports", TEST_UV_REPLICAS);
    return 0;
}

static void test_uv_prepare(struct test_uv *uv, const char *root) {
    memset(uv, 0, sizeof(*uv));
    assert_int_equal(uv_loop_init(&uv->loop), 0);
    assert_int_equal(uv_timer_init(&uv->loop, &uv->tick), 0);
    assert_int_equal(uv_timer_start(&uv->tick, test_uv_tick, 5, 5), 0);
    struct khorgos_config config = test_config();
    u32 port_first = test_uv_ports_find();
    for (u32 index = 0; index < TEST_UV_REPLICAS; index++) {
        struct test_replica *replica = &uv->replicas[index];
        char name[32];
        snprintf(name, sizeof(name), "raft%u", index);
        test_directory_make(replica->raft_directory, sizeof(replica->raft_directory), root, name);
        snprintf(name, sizeof(name), "data%u", index);
        test_directory_make(replica->data_directory, sizeof(replica->data_directory), root, name);
        assert_int_equal(khorgos_format(replica->data_directory, &config), KHORGOS_ERROR_ok);
        snprintf(replica->address, sizeof(replica->address), "127.0.0.1:%u", port_first + index);
    }
}

static void test_uv_finish(struct test_uv *uv) {
    for (u32 index = 0; index < TEST_UV_REPLICAS; index++) {
        if (uv->replicas[index].running) test_replica_stop(uv, index);
    }
    uv_close((uv_handle_t *)&uv->tick, NULL);
    /* Nothing of raft's is left on the loop: it empties within the wait (a connection opened on
     * a closed transport would retry for ever) and closes. */
    u64 deadline = test_now_ms() + TEST_UV_WAIT_MS;
    while (uv_run(&uv->loop, UV_RUN_NOWAIT) != 0) {
        assert_true(test_now_ms() < deadline);
        usleep(1000);
    }
    assert_int_equal(uv_loop_close(&uv->loop), 0);
}

/* Whether every running replica took `more` snapshots than `taken` (per replica) and writes
 * none now. */
struct test_uv_snapshots {
    u64 taken[TEST_UV_REPLICAS];
    u64 more;
};

static bool test_uv_snapshots_written(struct test_uv *uv, void *arg) {
    const struct test_uv_snapshots *snapshots = arg;
    for (u32 index = 0; index < TEST_UV_REPLICAS; index++) {
        const struct test_replica *replica = &uv->replicas[index];
        if (!replica->running) continue;
        if (replica->fsm.snapshots_taken < snapshots->taken[index] + snapshots->more ||
            replica->raft.legacy.snapshot_taking) {
            return false;
        }
    }
    return true;
}

/* A replica's raft snapshots every `threshold` entries applied, keeping `trailing` after each:
 * raft's settings and its state machine's count alike. */
static void test_uv_compaction_set(struct test_replica *replica, u32 threshold, u32 trailing) {
    replica->fsm.compaction_threshold_entries = threshold;
    replica->fsm.compaction_trailing_entries = trailing;
    raft_set_snapshot_threshold(&replica->raft, threshold);
    raft_set_snapshot_trailing(&replica->raft, trailing);
}

/* Stops `follower` and commits entries k_first to k_end - 1 (at least 12) on the others, which
 * now snapshot every 4 entries keeping 1, until each has written two snapshots since: the
 * second is at least 4 entries past the first, which is at most an entry or two behind the
 * follower's log, so their logs no longer hold what the follower lacks, and a leader sends it
 * a snapshot once it restarts. The last index committed. */
static raft_index test_uv_compact_past(struct test_uv *uv, u32 follower, u32 k_first,
                                       u32 k_end) {
    ASSERT(k_end >= k_first + 12);
    test_replica_stop(uv, follower);
    struct test_uv_snapshots snapshots = {.more = 2};
    for (u32 replica = 0; replica < TEST_UV_REPLICAS; replica++) {
        struct test_replica *running = &uv->replicas[replica];
        if (!running->running) continue;
        snapshots.taken[replica] = running->fsm.snapshots_taken;
        test_uv_compaction_set(running, 4, 1); /* kept after the next snapshots too */
    }
    raft_index index = 0;
    for (u32 k = k_first; k < k_end; k++) index = test_uv_commit(uv, k);
    test_uv_run_until(uv, test_uv_snapshots_written, &snapshots);
    return index;
}

/* Three replicas bootstrapped in `root` and started, entries 0 to count-1 committed and
 * applied on each (*index the last); a follower (the replica after the leader) is returned. */
static u32 test_uv_started(struct test_uv *uv, const char *root, u32 count, raft_index *index) {
    test_uv_prepare(uv, root);
    for (u32 replica = 0; replica < TEST_UV_REPLICAS; replica++) {
        test_replica_start(uv, replica, true);
    }
    for (u32 k = 0; k < count; k++) *index = test_uv_commit(uv, k);
    test_uv_assert_equal(uv, *index);
    u32 leader = TEST_UV_REPLICAS;
    test_uv_run_until(uv, test_uv_has_leader, &leader);
    return (leader + 1) % TEST_UV_REPLICAS;
}

/* Three replicas on raft's libuv I/O and TCP, each over a real data directory. A follower is
 * stopped after it took a raft snapshot and applied more; the others go on; restarted from its
 * disks it restores raft's snapshot, replays raft's log up to its journal's end on a replay
 * engine, then applies the rest to its data directory: the same digest and journal length.
 * Stopped again while the others compact past it, it installs the leader's snapshot. */
static void test_uv_follower_restarts_from_its_disks(void **state) {
    (void)state;
    char root[] = "/tmp/khorgos-cluster-uv-XXXXXX";
    assert_non_null(mkdtemp(root));
    static struct test_uv uv;
    raft_index index = 0;
    u32 follower = test_uv_started(&uv, root, 12, &index);
    assert_true(uv.replicas[follower].fsm.snapshots_taken > 0);
    /* Its snapshot on its disk (none being written) and an entry applied after it, so that its
     * journal goes on past the snapshot. */
    struct test_uv_snapshots written = {.more = 1};
    test_uv_run_until(&uv, test_uv_snapshots_written, &written);
    const struct test_replica *stopping = &uv.replicas[follower];
    u32 k = 12;
    while (stopping->fsm.applied_since_snapshot_entries == 0 ||
           stopping->raft.legacy.snapshot_taking) {
        assert_true(k < 16);
        index = test_uv_commit(&uv, k++);
        test_uv_assert_equal(&uv, index);
    }
    test_replica_stop(&uv, follower);
    for (; k < 20; k++) index = test_uv_commit(&uv, k);
    test_replica_start(&uv, follower, false);
    assert_int_equal(uv.replicas[follower].fsm.snapshots_restored, 1); /* raft's, from disk */
    assert_non_null(uv.replicas[follower].fsm.replay);
    test_uv_assert_equal(&uv, index);
    for (; k < 22; k++) index = test_uv_commit(&uv, k);
    test_uv_assert_equal(&uv, index);
    /* Down again while the others compact their logs past it: restarted, it takes the leader's
     * snapshot into its data directory, ahead of its journal, and goes on from there. */
    index = test_uv_compact_past(&uv, follower, 22, 34);
    test_replica_start(&uv, follower, false);
    test_uv_assert_equal(&uv, index);
    /* One, or more when a leader changed meanwhile and the new one sent its own. */
    assert_true(uv.replicas[follower].fsm.snapshots_installed >= 1);
    /* An entry whose leader lost leadership before answering is proposed again and may then be
     * in the log twice (sessions, not this test, make a retry exactly-once): its second apply
     * is refused (exists) and changes nothing but the engine's last timestamp, which the next
     * entry's later time replaces. So the digest, not the request count, is compared with an
     * engine fed each entry once, and the last entry once or more. */
    u64 count = 0;
    u128 digest = engine_state_digest(uv.replicas[follower].fsm.engine);
    u32 repeats = 0;
    while (repeats < 3 && digest != test_reference_digest_repeated(34, repeats, &count)) {
        repeats++;
    }
    assert_true(repeats < 3);
    assert_true(uv.replicas[follower].fsm.engine->request_count >= count);
    test_uv_finish(&uv);
    test_remove_tree(root);
}

/* The first snapshot load a leader starts (to send it to a follower), its callback parked: raft's
 * I/O and the hold call back with only their own pointers, so the one parked load is kept in a
 * static. */
struct test_uv_park {
    int (*load)(struct raft_io *io, struct raft_io_snapshot_get *get,
                raft_io_snapshot_get_cb cb); /* raft_uv's */
    struct raft_io *io;
    struct raft_io_snapshot_get *get;
    raft_io_snapshot_get_cb done; /* the hold's */
    struct raft_snapshot *snapshot;
    int status;
    bool parked;
};
static struct test_uv_park test_park;

static void test_park_loaded(struct raft_io_snapshot_get *get, struct raft_snapshot *snapshot,
                             int status) {
    assert_ptr_equal(get, test_park.get);
    assert_false(test_park.parked);
    test_park.snapshot = snapshot;
    test_park.status = status;
    test_park.parked = true;
}

static int test_park_load(struct raft_io *io, struct raft_io_snapshot_get *get,
                          raft_io_snapshot_get_cb cb) {
    if (test_park.get != NULL) return test_park.load(io, get, cb);
    test_park.io = io;
    test_park.get = get;
    test_park.done = cb;
    int status = test_park.load(io, get, test_park_loaded);
    assert_int_equal(status, 0);
    return status;
}

static bool test_uv_parked(struct test_uv *uv, void *arg) {
    (void)uv;
    (void)arg;
    return test_park.parked;
}

/* A leader closed while it loads its snapshot to send to a follower: the load calls back after
 * raft_close has begun, and raft sends what it loaded at once. That send is refused (the hold),
 * so nothing connects on the closing transport: the leader's close is called back once, and
 * the loop empties and closes (test_uv_finish). */
static void test_uv_leader_closed_while_loading(void **state) {
    (void)state;
    char root[] = "/tmp/khorgos-cluster-uv-XXXXXX";
    assert_non_null(mkdtemp(root));
    static struct test_uv uv;
    raft_index index = 0;
    u32 follower = test_uv_started(&uv, root, 4, &index);
    index = test_uv_compact_past(&uv, follower, 4, 16);
    memset(&test_park, 0, sizeof(test_park));
    for (u32 replica = 0; replica < TEST_UV_REPLICAS; replica++) {
        struct test_replica *running = &uv.replicas[replica];
        if (!running->running) continue;
        test_park.load = running->hold.snapshot_get;
        running->hold.snapshot_get = test_park_load;
        /* A snapshot sent while the follower was down is sent again soon, with a new load. */
        raft_set_install_snapshot_timeout(&running->raft, 100);
    }
    test_replica_start(&uv, follower, false);
    test_uv_run_until(&uv, test_uv_parked, NULL);
    assert_int_equal(test_park.status, 0);
    u32 loading = 0;
    while (&uv.replicas[loading].io != test_park.io) loading++;
    struct test_replica *closing = &uv.replicas[loading];
    assert_true(closing->running);
    raft_close(&closing->raft, test_replica_closed);
    test_park.done(test_park.get, test_park.snapshot, test_park.status);
    assert_int_equal(closing->hold.sends_refused_total, 1);
    test_uv_run_until(&uv, test_uv_closed, closing);
    cluster_fsm_deinit(&closing->fsm);
    closing->running = false;
    test_uv_finish(&uv);
    test_remove_tree(root);
}

/* The first AppendEntries with entries that a leader sends to one follower, parked under the
 * hold as a connection that has not taken it yet would keep it: raft_uv's send, and the
 * request, message and callback (the hold's) it is given once released. */
struct test_uv_parked_send {
    int (*send)(struct raft_io *io, struct raft_io_send *req, const struct raft_message *message,
                raft_io_send_cb cb); /* raft_uv's */
    raft_id to;
    struct raft_io *io;
    struct raft_io_send *req;
    struct raft_message message;
    raft_io_send_cb done;
    bool parked;
};
static struct test_uv_parked_send test_parked_send;

static int test_park_send(struct raft_io *io, struct raft_io_send *req,
                          const struct raft_message *message, raft_io_send_cb cb) {
    if (test_parked_send.parked || message->type != RAFT_APPEND_ENTRIES ||
        message->server_id != test_parked_send.to || message->append_entries.n_entries == 0) {
        return test_parked_send.send(io, req, message, cb);
    }
    test_parked_send.io = io;
    test_parked_send.req = req;
    test_parked_send.message = *message;
    test_parked_send.done = cb;
    test_parked_send.parked = true;
    return 0;
}

static bool test_uv_send_parked(struct test_uv *uv, void *arg) {
    (void)uv;
    (void)arg;
    return test_parked_send.parked;
}

static void test_uv_send_release(void) {
    assert_true(test_parked_send.parked);
    int status = test_parked_send.send(test_parked_send.io, test_parked_send.req,
                                       &test_parked_send.message, test_parked_send.done);
    if (status != 0) test_parked_send.done(test_parked_send.req, status); /* as a failed write */
}

/* Every replica but `follower` restarted from its disks, its log loaded by raft_uv (each
 * segment into one buffer) and its compaction put off, with its sends to `follower` parked. */
static void test_uv_others_restart(struct test_uv *uv, u32 follower) {
    for (u32 index = 0; index < TEST_UV_REPLICAS; index++) {
        if (index != follower) test_replica_stop(uv, index);
    }
    for (u32 index = 0; index < TEST_UV_REPLICAS; index++) {
        if (index == follower) continue;
        struct test_replica *replica = &uv->replicas[index];
        test_replica_start(uv, index, false);
        assert_true(replica->hold.loaded_entries_total > 64);
        test_uv_compaction_set(replica, 1000, 1000);
        test_parked_send.send = replica->hold.send;
        replica->hold.send = test_park_send;
    }
}

/* A leader restarted from its disks sends a follower that is behind entries it loaded, at most
 * 32 of the many raft_uv loaded from one segment into one buffer; that send waits (its
 * connection has not taken it), the follower catches up from the sends after it, and the
 * leader takes a snapshot past those entries. raft 0.22.1 would free the segment's buffer when
 * the log's last entry of it goes, under the waiting send, and again when the send calls back;
 * every loaded entry has a block of its own (the hold), so nothing is freed early
 * (cluster_hold_payloads_freed_early) or twice, and all three end alike. */
static void test_uv_loaded_entries_sent_while_compacted(void **state) {
    (void)state;
    cluster_heap_install(); /* the blocks freed early or twice are counted, not corrupted */
    u64 freed_early = cluster_hold_payloads_freed_early();
    char root[] = "/tmp/khorgos-cluster-uv-XXXXXX";
    assert_non_null(mkdtemp(root));
    static struct test_uv uv;
    raft_index index = 0;
    u32 follower = test_uv_started(&uv, root, 12, &index);
    test_replica_stop(&uv, follower);
    for (u32 replica = 0; replica < TEST_UV_REPLICAS; replica++) {
        if (replica != follower) test_uv_compaction_set(&uv.replicas[replica], 1000, 1000);
    }
    u32 k = 12;
    for (; k < 80; k++) index = test_uv_commit(&uv, k);
    test_uv_assert_equal(&uv, index);
    memset(&test_parked_send, 0, sizeof(test_parked_send));
    test_parked_send.to = follower + 1;
    test_uv_others_restart(&uv, follower);
    test_replica_start(&uv, follower, false);
    test_uv_run_until(&uv, test_uv_send_parked, NULL);
    const struct raft_append_entries *parked = &test_parked_send.message.append_entries;
    assert_true(parked->n_entries <= 32 && parked->prev_log_index + parked->n_entries < 64);
    /* The sends after it (raft sends again when unanswered) bring the follower up to date. */
    test_uv_assert_equal(&uv, index);
    u32 sender = 0; /* the leader then; it may lose its leadership while it compacts */
    while (&uv.replicas[sender].io != test_parked_send.io) sender++;
    u64 taken = uv.replicas[sender].fsm.snapshots_taken;
    for (u32 replica = 0; replica < TEST_UV_REPLICAS; replica++) {
        if (replica != follower) test_uv_compaction_set(&uv.replicas[replica], 4, 1);
    }
    while (uv.replicas[sender].fsm.snapshots_taken == taken ||
           uv.replicas[sender].raft.legacy.snapshot_taking) {
        assert_true(k < 100);
        index = test_uv_commit(&uv, k++);
    }
    test_uv_send_release();
    test_uv_assert_equal(&uv, index);
    assert_int_equal(cluster_hold_payloads_freed_early(), freed_early);
    assert_int_equal(cluster_heap_stats().double_frees, 0);
    test_uv_finish(&uv);
    test_remove_tree(root);
    cluster_heap_uninstall();
}

int main(void) {
    /* A replica stopped while a peer writes to it: the peer sees EPIPE, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uv_follower_restarts_from_its_disks),
        cmocka_unit_test(test_uv_leader_closed_while_loading),
        cmocka_unit_test(test_uv_loaded_entries_sent_while_compacted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
