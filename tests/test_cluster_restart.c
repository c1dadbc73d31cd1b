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
    char directory[256];
    test_directory_make(directory, sizeof(directory), root, "data");
    struct raft_buffer snapshot;
    test_history(directory, &snapshot);
    u64 journal_count = 0;
    u128 journal_digest = test_reference_digest(6, &journal_count);
    u64 final_count = 0;
    u128 final_digest = test_reference_digest(8, &final_count);
    static struct cluster_fsm fsm;
    for (u32 from_snapshot = 0; from_snapshot < 2; from_snapshot++) {
        char copy[300];
        snprintf(copy, sizeof(copy), "%s/copy%u", root, from_snapshot);
        char command[700];
        snprintf(command, sizeof(command), "cp -a '%s' '%s'", directory, copy);
        assert_int_equal(system(command), 0);
        assert_int_equal(cluster_fsm_init(&fsm, test_open(copy)), KHORGOS_ERROR_ok);
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
        struct khorgos *engine = test_open(copy);
        assert_true(engine->request_count == final_count);
        assert_true(engine_state_digest(engine) == final_digest);
        khorgos_close(engine);
    }
    /* A different entry where the journal has entry 4: the replay ends unequal, and stops. */
    assert_int_equal(cluster_fsm_init(&fsm, test_open(directory)), KHORGOS_ERROR_ok);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_replays_to_the_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
