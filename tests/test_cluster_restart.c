/*
 * test_cluster_restart.c: a replica on a data directory, restarted. First the state machine
 * alone (cluster_fsm fed entries directly): an engine reopened from its journal, then raft's
 * snapshot and the entries after it, must reach the journal's state without applying or
 * journaling any request twice. Then three replicas on raft's own libuv I/O and TCP transport
 * (raft_uv, loopback ports 4500-4502) with real data directories: one is stopped, the others go
 * on, it restarts from its disks (raft's snapshot and log, the engine's snapshot and journal) and
 * ends with the same digest and the same journal chain as the others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cluster/cluster.h"
#include "cluster_support.h"

/* After the project's headers: sys/param.h (which uv.h includes) redefines MIN and MAX
 * silently in a system header, where base.h's would be an error the other way round. */
#include <raft/uv.h>
#include <uv.h>

#define TEST_TIME_NS (KHORGOS_MANUAL_CLOCK_START_NS + 1000000000000ull)
#define TEST_ENTRY_COUNT_MAX 64u
#define TEST_ENTRY_BYTES 4096u

/* Entry k: even k creates accounts 1000k and 1000k + 1, odd k moves 7 between those of k - 1
 * (three transfers), each at the leader time TEST_TIME_NS + k ms. */
static u64 test_entry(u32 k, u8 *entry) {
    struct khorgos_account accounts[2];
    struct khorgos_transfer transfers[3];
    struct khorgos_request request;
    u128 base = 1000u * (u128)(k & ~1u) + 1000u;
    if (k % 2 == 0) {
        accounts[0] = test_account(base);
        accounts[1] = test_account(base + 1);
        request = test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts, sizeof(accounts));
    } else {
        for (u32 index = 0; index < 3; index++) {
            transfers[index] = test_transfer(base + 100 + index, base, base + 1, 7);
        }
        request = test_request(KHORGOS_OPERATION_CREATE_TRANSFERS, transfers, sizeof(transfers));
    }
    assert_int_equal(cluster_entry_batch_encode(entry, TEST_ENTRY_BYTES,
                                                TEST_TIME_NS + (u64)k * 1000000u, 0, &request, 1),
                     KHORGOS_ERROR_ok);
    return cluster_entry_batch_bytes(&request, 1);
}

static void test_apply(struct cluster_fsm *fsm, u32 k) {
    static _Alignas(16) u8 entry[TEST_ENTRY_BYTES];
    u64 bytes = test_entry(k, entry);
    assert_int_equal(cluster_fsm_apply(fsm, entry, bytes)->error, KHORGOS_ERROR_ok);
}

static void test_directory_make(char *path, size_t capacity, const char *root, const char *name) {
    int length = snprintf(path, capacity, "%s/%s", root, name);
    assert_true(length > 0 && (size_t)length < capacity);
    assert_int_equal(mkdir(path, 0700), 0);
}

static void test_remove_tree(const char *root) {
    char command[512];
    snprintf(command, sizeof(command), "rm -rf '%s'", root);
    assert_int_equal(system(command), 0);
}

static struct khorgos_config test_config(void) {
    return (struct khorgos_config){.account_count_max = 1024, .transfer_count_max = 4096,
                                   .account_balance_count_max = 1024, .clock_manual = 1,
                                   .participant_count_max = 16, .payment_count_max = 1024};
}

static struct khorgos *test_open(const char *directory) {
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, directory, &options), KHORGOS_ERROR_ok);
    return engine;
}

/* The digest of an engine in memory fed entries 0 .. count - 1. */
static u128 test_reference_digest(u32 count, u64 *request_count) {
    struct khorgos_config config = test_config();
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &config), KHORGOS_ERROR_ok);
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, engine), KHORGOS_ERROR_ok);
    for (u32 k = 0; k < count; k++) test_apply(&fsm, k);
    u128 digest = engine_state_digest(fsm.engine);
    *request_count = fsm.engine->request_count;
    cluster_fsm_deinit(&fsm);
    return digest;
}

/* Entries 0..5 applied to a data directory's engine, raft's snapshot taken after entry 3. */
static void test_history(const char *directory, struct raft_buffer *snapshot) {
    struct khorgos_config config = test_config();
    assert_int_equal(khorgos_format(directory, &config), KHORGOS_ERROR_ok);
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, test_open(directory)), KHORGOS_ERROR_ok);
    for (u32 k = 0; k < 4; k++) test_apply(&fsm, k);
    assert_int_equal(cluster_fsm_snapshot(&fsm, snapshot), KHORGOS_ERROR_ok);
    for (u32 k = 4; k < 6; k++) test_apply(&fsm, k);
    cluster_fsm_deinit(&fsm);
}

/* Reopened, the journal holds entries 0..5. raft restores its snapshot (after entry 3) and
 * applies 4.. again: 4 and 5 go to the replay engine only, 6 and 7 to the data directory. Or
 * raft has no snapshot and applies from entry 0: the same. Either way every request is applied
 * and journaled once. A snapshot past the journal is refused (not_found); a replay that ends
 * on a different state stops the replica (diverged), its journal untouched. */
static void test_restart_replays_to_the_journal(void **state) {
    (void)state;
    char root[] = "/tmp/khorgos-cluster-restart-XXXXXX";
    assert_non_null(mkdtemp(root));
    /* Two directories with the same history (it is deterministic): one per way to start. */
    char directories[2][256];
    struct raft_buffer snapshots[2];
    for (u32 copy = 0; copy < 2; copy++) {
        char name[16];
        snprintf(name, sizeof(name), "data%u", copy);
        test_directory_make(directories[copy], sizeof(directories[copy]), root, name);
        test_history(directories[copy], &snapshots[copy]);
    }
    assert_true(snapshots[0].len == snapshots[1].len);
    assert_memory_equal(snapshots[0].base, snapshots[1].base, snapshots[0].len);
    raft_free(snapshots[1].base);
    struct raft_buffer snapshot = snapshots[0];
    u64 journal_count = 0;
    u128 journal_digest = test_reference_digest(6, &journal_count);
    u64 final_count = 0;
    u128 final_digest = test_reference_digest(8, &final_count);
    static struct cluster_fsm fsm;
    /* A different entry where the journal has entry 4: the replay ends unequal, and stops,
     * the journal untouched. */
    assert_int_equal(cluster_fsm_init(&fsm, test_open(directories[1])), KHORGOS_ERROR_ok);
    assert_int_equal(cluster_fsm_restore(&fsm, snapshot.base, snapshot.len), KHORGOS_ERROR_ok);
    test_apply(&fsm, 6);
    static _Alignas(16) u8 entry[TEST_ENTRY_BYTES];
    u64 bytes = test_entry(5, entry);
    assert_int_equal(cluster_fsm_apply(&fsm, entry, bytes)->error, KHORGOS_ERROR_diverged);
    assert_int_equal(cluster_fsm_stopped(&fsm), KHORGOS_ERROR_diverged);
    assert_true(engine_state_digest(fsm.engine) == journal_digest);
    bytes = test_entry(7, entry);
    assert_int_equal(cluster_fsm_apply(&fsm, entry, bytes)->error, KHORGOS_ERROR_diverged);
    assert_true(fsm.engine->request_count == journal_count);
    cluster_fsm_deinit(&fsm);
    for (u32 from_snapshot = 0; from_snapshot < 2; from_snapshot++) {
        const char *directory = directories[from_snapshot];
        assert_int_equal(cluster_fsm_init(&fsm, test_open(directory)), KHORGOS_ERROR_ok);
        assert_true(fsm.engine->request_count == journal_count);
        assert_non_null(fsm.replay);
        if (from_snapshot) {
            assert_int_equal(cluster_fsm_restore(&fsm, snapshot.base, snapshot.len),
                             KHORGOS_ERROR_ok);
        }
        for (u32 k = from_snapshot ? 4 : 0; k < 6; k++) {
            test_apply(&fsm, k);
            assert_true(fsm.engine->request_count == journal_count); /* nothing journaled */
        }
        assert_null(fsm.replay);
        assert_true(engine_state_digest(fsm.engine) == journal_digest);
        for (u32 k = 6; k < 8; k++) test_apply(&fsm, k);
        assert_true(fsm.engine->request_count == final_count);
        assert_true(engine_state_digest(fsm.engine) == final_digest);
        cluster_fsm_deinit(&fsm);
        /* The journal itself holds each request once: reopened, it is the same state. */
        struct khorgos *engine = test_open(directory);
        assert_true(engine->request_count == final_count);
        assert_true(engine_state_digest(engine) == final_digest);
        khorgos_close(engine);
    }
    /* A journal that lacks what the snapshot holds (a new directory) cannot take it. */
    char empty[256];
    test_directory_make(empty, sizeof(empty), root, "empty");
    struct khorgos_config config = test_config();
    assert_int_equal(khorgos_format(empty, &config), KHORGOS_ERROR_ok);
    assert_int_equal(cluster_fsm_init(&fsm, test_open(empty)), KHORGOS_ERROR_ok);
    u128 empty_digest = engine_state_digest(fsm.engine);
    assert_int_equal(cluster_fsm_restore(&fsm, snapshot.base, snapshot.len),
                     KHORGOS_ERROR_not_found);
    assert_true(engine_state_digest(fsm.engine) == empty_digest);
    cluster_fsm_deinit(&fsm);
    raft_free(snapshot.base);
    test_remove_tree(root);
}

/* ---- three replicas on raft_uv ---------------------------------------------------------- */

#define TEST_UV_REPLICAS 3u
#define TEST_UV_PORT_FIRST 4500u
#define TEST_UV_WAIT_MS 10000u

struct test_replica {
    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport transport;
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
    cluster_raft_configure(&replica->raft);
    /* Small, so that this short run takes snapshots and compacts its log. */
    raft_set_snapshot_threshold(&replica->raft, 8);
    raft_set_snapshot_trailing(&replica->raft, 32);
    raft_set_election_timeout(&replica->raft, 200);
    raft_set_heartbeat_timeout(&replica->raft, 40);
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

/* Every running replica: the same state, the same number of requests in its journal, and the
 * same chain head over them. */
static void test_uv_assert_equal(struct test_uv *uv, raft_index index) {
    test_uv_run_until(uv, test_uv_all_applied, &index);
    const struct khorgos *first = uv->replicas[0].fsm.engine;
    u8 first_head[32];
    uint64_t first_sequence = 0;
    assert_int_equal(khorgos_chain_head(first, first_head, &first_sequence), KHORGOS_ERROR_ok);
    for (u32 replica = 1; replica < TEST_UV_REPLICAS; replica++) {
        const struct cluster_fsm *fsm = &uv->replicas[replica].fsm;
        assert_int_equal(cluster_fsm_stopped(fsm), KHORGOS_ERROR_ok);
        assert_null(fsm->replay);
        assert_true(engine_state_digest(fsm->engine) == engine_state_digest(first));
        u8 head[32];
        uint64_t sequence = 0;
        assert_int_equal(khorgos_chain_head(fsm->engine, head, &sequence), KHORGOS_ERROR_ok);
        assert_true(sequence == first_sequence && fsm->engine->request_count == sequence);
        assert_memory_equal(head, first_head, sizeof(head));
    }
}

static void test_uv_prepare(struct test_uv *uv, const char *root) {
    memset(uv, 0, sizeof(*uv));
    assert_int_equal(uv_loop_init(&uv->loop), 0);
    assert_int_equal(uv_timer_init(&uv->loop, &uv->tick), 0);
    assert_int_equal(uv_timer_start(&uv->tick, test_uv_tick, 5, 5), 0);
    struct khorgos_config config = test_config();
    for (u32 index = 0; index < TEST_UV_REPLICAS; index++) {
        struct test_replica *replica = &uv->replicas[index];
        char name[32];
        snprintf(name, sizeof(name), "raft%u", index);
        test_directory_make(replica->raft_directory, sizeof(replica->raft_directory), root, name);
        snprintf(name, sizeof(name), "data%u", index);
        test_directory_make(replica->data_directory, sizeof(replica->data_directory), root, name);
        assert_int_equal(khorgos_format(replica->data_directory, &config), KHORGOS_ERROR_ok);
        snprintf(replica->address, sizeof(replica->address), "127.0.0.1:%u",
                 TEST_UV_PORT_FIRST + index);
    }
}

static void test_uv_finish(struct test_uv *uv) {
    for (u32 index = 0; index < TEST_UV_REPLICAS; index++) {
        if (uv->replicas[index].running) test_replica_stop(uv, index);
    }
    uv_close((uv_handle_t *)&uv->tick, NULL);
    uv_run(&uv->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&uv->loop), 0);
}

/* Three replicas on raft's libuv I/O and TCP, each over a real data directory. A follower is
 * stopped after it took a raft snapshot and applied more; the others go on; restarted from its
 * disks it restores raft's snapshot, replays raft's log up to its journal's end on a replay
 * engine, then applies the rest to its data directory: the same digest and journal chain. */
static void test_uv_follower_restarts_from_its_disks(void **state) {
    (void)state;
    char root[] = "/tmp/khorgos-cluster-uv-XXXXXX";
    assert_non_null(mkdtemp(root));
    static struct test_uv uv;
    test_uv_prepare(&uv, root);
    for (u32 index = 0; index < TEST_UV_REPLICAS; index++) test_replica_start(&uv, index, true);
    raft_index index = 0;
    for (u32 k = 0; k < 12; k++) index = test_uv_commit(&uv, k);
    test_uv_assert_equal(&uv, index);
    u32 leader = TEST_UV_REPLICAS;
    test_uv_run_until(&uv, test_uv_has_leader, &leader);
    u32 follower = (leader + 1) % TEST_UV_REPLICAS;
    assert_true(uv.replicas[follower].fsm.snapshots_taken > 0);
    test_replica_stop(&uv, follower);
    for (u32 k = 12; k < 20; k++) index = test_uv_commit(&uv, k);
    test_replica_start(&uv, follower, false);
    assert_int_equal(uv.replicas[follower].fsm.snapshots_restored, 1); /* raft's, from disk */
    assert_non_null(uv.replicas[follower].fsm.replay);
    test_uv_assert_equal(&uv, index);
    for (u32 k = 20; k < 22; k++) index = test_uv_commit(&uv, k);
    test_uv_assert_equal(&uv, index);
    u64 count = 0;
    assert_true(engine_state_digest(uv.replicas[follower].fsm.engine) ==
                test_reference_digest(22, &count));
    assert_true(uv.replicas[follower].fsm.engine->request_count == count);
    test_uv_finish(&uv);
    test_remove_tree(root);
}

int main(void) {
    /* A replica stopped while a peer writes to it: the peer sees EPIPE, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_replays_to_the_journal),
        cmocka_unit_test(test_uv_follower_restarts_from_its_disks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
