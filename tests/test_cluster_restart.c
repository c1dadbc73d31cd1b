/*
 * test_cluster_restart.c: a replica on a data directory, restarted, driven without raft
 * (cluster_fsm fed entries directly, as raft would feed them): an engine reopened from its
 * journal, then raft's snapshot and the entries after it, must reach the journal's state
 * without applying or journaling any request twice; a new directory takes a snapshot ahead of
 * its journal. The same through raft's own I/O and transport: test_cluster_uv.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster_support.h"
#include "storage/storage.h"

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
/* A new directory (a replica that lost its disk, or lags past the leader's compacted log)
 * takes a snapshot ahead of its journal: it becomes the directory's newest snapshot, the
 * journal goes on after it with the chain from its head, and reopened the directory holds the
 * snapshot's state and every request after it, once. A damaged one changes nothing. */
static void test_install_into_a_new_directory(const char *root,
                                              const struct raft_buffer *snapshot) {
    char directory[256];
    test_directory_make(directory, sizeof(directory), root, "new");
    struct khorgos_config config = test_config();
    assert_int_equal(khorgos_format(directory, &config), KHORGOS_ERROR_ok);
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, test_open(directory)), KHORGOS_ERROR_ok);
    u128 empty_digest = engine_state_digest(fsm.engine);
    u8 *damaged = malloc(snapshot->len);
    assert_non_null(damaged);
    memcpy(damaged, snapshot->base, snapshot->len);
    damaged[snapshot->len - 20] ^= 1;
    assert_int_equal(cluster_fsm_restore(&fsm, damaged, snapshot->len), KHORGOS_ERROR_corrupt);
    free(damaged);
    assert_true(engine_state_digest(fsm.engine) == empty_digest && fsm.engine->request_count == 0);
    assert_int_equal(cluster_fsm_restore(&fsm, snapshot->base, snapshot->len), KHORGOS_ERROR_ok);
    assert_int_equal(fsm.snapshots_installed, 1);
    assert_null(fsm.replay);
    u64 count = 0;
    assert_true(engine_state_digest(fsm.engine) == test_reference_digest(4, &count));
    assert_true(fsm.engine->request_count == count);
    for (u32 k = 4; k < 8; k++) test_apply(&fsm, k);
    u128 digest = test_reference_digest(8, &count);
    assert_true(engine_state_digest(fsm.engine) == digest && fsm.engine->request_count == count);
    u8 head[32];
    uint64_t sequence = 0;
    assert_int_equal(cluster_fsm_journal_wait(&fsm), KHORGOS_ERROR_ok);
    assert_int_equal(khorgos_chain_head(fsm.engine, head, &sequence), KHORGOS_ERROR_ok);
    cluster_fsm_deinit(&fsm);
    struct khorgos *engine = test_open(directory);
    assert_true(engine_state_digest(engine) == digest && engine->request_count == count);
    u8 reopened_head[32];
    assert_int_equal(khorgos_chain_head(engine, reopened_head, &sequence), KHORGOS_ERROR_ok);
    assert_memory_equal(head, reopened_head, sizeof(head));
    khorgos_close(engine);
    /* What `khorgos check` runs: every checksum, and the chain from the snapshot's head. */
    struct storage_io *io = NULL;
    char message[STORAGE_MESSAGE_BYTES_MAX];
    assert_int_equal(storage_io_posix_create(directory, STORAGE_POSIX_READ, &io, message),
                     KHORGOS_ERROR_ok);
    static struct storage_report report;
    memset(&report, 0, sizeof(report));
    assert_int_equal(engine_storage_check(io, &report), KHORGOS_ERROR_ok);
    assert_false(report.repairable);
    assert_true(report.sequence_last == count && report.records == 4);
    assert_memory_equal(report.chain_head, head, sizeof(head));
    storage_io_posix_destroy(io);
}

/* What a crash inside an install, after the snapshot file and before the journal's new
 * segment, leaves: the newest snapshot ahead of the journal's last record. Open refuses it
 * (corrupt: the snapshot covers requests the journal lacks) and changes nothing; it never
 * serves a state the journal cannot back. The repair is a lost disk's: a new directory. */
static void test_install_crash_window_is_refused(const char *root,
                                                 const struct raft_buffer *snapshot) {
    char directory[256];
    test_directory_make(directory, sizeof(directory), root, "torn");
    struct khorgos_config config = test_config();
    assert_int_equal(khorgos_format(directory, &config), KHORGOS_ERROR_ok);
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, test_open(directory)), KHORGOS_ERROR_ok);
    test_apply(&fsm, 0);
    cluster_fsm_deinit(&fsm);
    char path[300];
    snprintf(path, sizeof(path), "%s/snapshot-%016llx", directory, 4ull); /* 4 requests */
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(snapshot->base, 1, snapshot->len, file), snapshot->len);
    assert_int_equal(fclose(file), 0);
    struct khorgos_open_options options = {.clock_manual = 1};
    char report[512] = "";
    options.report = report;
    options.report_capacity = sizeof(report);
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, directory, &options), KHORGOS_ERROR_corrupt);
    assert_non_null(strstr(report, "snapshot-0000000000000004"));
}

/* A journal holding only part of an entry's requests (the first of two): the replay passes
 * the journal's end inside that entry, so the replica stops (corrupt) rather than guess which
 * requests to apply again; the data directory's engine is untouched. */
static void test_part_of_an_entry_in_the_journal_stops(const char *root) {
    char directory[256];
    test_directory_make(directory, sizeof(directory), root, "part");
    struct khorgos_config config = test_config();
    assert_int_equal(khorgos_format(directory, &config), KHORGOS_ERROR_ok);
    struct khorgos_account accounts[2] = {test_account(90), test_account(91)};
    struct khorgos_transfer transfer = test_transfer(95, 90, 91, 3);
    struct khorgos_request requests[2] = {
        test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts, sizeof(accounts)),
        test_request(KHORGOS_OPERATION_CREATE_TRANSFERS, &transfer, sizeof(transfer)),
    };
    static _Alignas(16) u8 entry[TEST_ENTRY_BYTES];
    u64 time_ns = TEST_TIME_NS + 5000000000ull;
    assert_int_equal(cluster_entry_batch_encode(entry, sizeof(entry), time_ns, 0, requests, 2),
                     KHORGOS_ERROR_ok);
    u64 bytes = cluster_entry_batch_bytes(requests, 2);
    struct khorgos *engine = test_open(directory);
    struct khorgos_create_result results[2];
    requests[0].reply = results;
    requests[0].reply_capacity = sizeof(results);
    assert_int_equal(engine_clock_set(engine, time_ns), KHORGOS_ERROR_ok);
    assert_int_equal(khorgos_execute(engine, &requests[0], 1), KHORGOS_ERROR_ok);
    khorgos_close(engine);
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, test_open(directory)), KHORGOS_ERROR_ok);
    u128 digest = engine_state_digest(fsm.engine);
    assert_true(fsm.engine->request_count == 1);
    assert_int_equal(cluster_fsm_apply(&fsm, entry, bytes)->error, KHORGOS_ERROR_corrupt);
    assert_int_equal(cluster_fsm_stopped(&fsm), KHORGOS_ERROR_corrupt);
    assert_null(fsm.replay);
    assert_true(fsm.engine->request_count == 1 && engine_state_digest(fsm.engine) == digest);
    cluster_fsm_deinit(&fsm);
}

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
    test_install_into_a_new_directory(root, &snapshot);
    test_install_crash_window_is_refused(root, &snapshot);
    test_part_of_an_entry_in_the_journal_stops(root);
    raft_free(snapshot.base);
    if (getenv("KHORGOS_TEST_KEEP") == NULL) test_remove_tree(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_replays_to_the_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
