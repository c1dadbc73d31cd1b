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
/* Opens a directory as a replica does (the leader's clock), recovery's report in `report`. */
static khorgos_error test_open_report(const char *directory, char *report, size_t capacity,
                                     struct khorgos **engine) {
    struct khorgos_open_options options = {.clock_manual = 1};
    options.report = report;
    options.report_capacity = capacity;
    return khorgos_open(engine, directory, &options);
}

/* `khorgos check` of a directory (every checksum, the chain): clean, nothing to repair. */
static const struct storage_report *test_check_clean(const char *directory) {
    struct storage_io *io = NULL;
    char message[STORAGE_MESSAGE_BYTES_MAX];
    assert_int_equal(storage_io_posix_create(directory, STORAGE_POSIX_READ, &io, message),
                     KHORGOS_ERROR_ok);
    static struct storage_report report;
    memset(&report, 0, sizeof(report));
    assert_int_equal(engine_storage_check(io, &report), KHORGOS_ERROR_ok);
    assert_false(report.repairable);
    storage_io_posix_destroy(io);
    return &report;
}

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
    const struct storage_report *report = test_check_clean(directory);
    assert_true(report->sequence_last == count && report->records == 4);
    assert_memory_equal(report->chain_head, head, sizeof(head));
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
    char report[512] = "";
    struct khorgos *engine = NULL;
    assert_int_equal(test_open_report(directory, report, sizeof(report), &engine),
                     KHORGOS_ERROR_corrupt);
    assert_non_null(strstr(report, "snapshot-0000000000000004"));
}

/* Reads or writes `bytes` at `offset` of DIRECTORY/NAME. */
static void test_file_bytes(const char *directory, const char *name, u64 offset, void *bytes,
                            u64 size_bytes, bool write) {
    char path[320];
    snprintf(path, sizeof(path), "%s/%s", directory, name);
    FILE *file = fopen(path, "r+b");
    assert_non_null(file);
    assert_int_equal(fseek(file, (long)offset, SEEK_SET), 0);
    size_t done = write ? fwrite(bytes, 1, size_bytes, file) : fread(bytes, 1, size_bytes, file);
    assert_int_equal(done, size_bytes);
    assert_int_equal(fclose(file), 0);
}

/* The header copy of journal record `sequence` (the first segment's). */
static struct storage_record_header test_header_copy(const char *directory, u64 sequence) {
    struct storage_record_header header;
    test_file_bytes(directory, "headers-0000000000000001", (sequence - 1) * sizeof(header),
                    &header, sizeof(header), false);
    assert_true(storage_record_header_valid(&header) && header.sequence == sequence);
    return header;
}

/* What a crash inside the write of record `sequence`, the journal's last, leaves: a byte of
 * its body flipped and no header copy (copies follow a durable write). */
static void test_tear_last_record(const char *directory, u64 sequence) {
    struct storage_record_header header = test_header_copy(directory, sequence);
    u8 byte = 0;
    u64 offset = header.offset + STORAGE_RECORD_HEADER_BYTES + 8;
    test_file_bytes(directory, "journal-0000000000000001", offset, &byte, 1, false);
    byte ^= 0x40;
    test_file_bytes(directory, "journal-0000000000000001", offset, &byte, 1, true);
    static const u8 zero[STORAGE_RECORD_HEADER_BYTES];
    test_file_bytes(directory, "headers-0000000000000001", (sequence - 1) * sizeof(zero),
                    (void *)zero, sizeof(zero), true);
}

/* One entry of three requests: accounts 90 and 91, then transfers 95 and 96 between them. */
static u64 test_three_request_entry(u8 *entry, struct khorgos_request requests[3]) {
    static struct khorgos_account accounts[2];
    static struct khorgos_transfer transfers[2];
    accounts[0] = test_account(90);
    accounts[1] = test_account(91);
    transfers[0] = test_transfer(95, 90, 91, 3);
    transfers[1] = test_transfer(96, 90, 91, 4);
    requests[0] = test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts, sizeof(accounts));
    requests[1] = test_request(KHORGOS_OPERATION_CREATE_TRANSFERS, &transfers[0],
                               sizeof(transfers[0]));
    requests[2] = test_request(KHORGOS_OPERATION_CREATE_TRANSFERS, &transfers[1],
                               sizeof(transfers[1]));
    u64 bytes = 0;
    assert_int_equal(cluster_entry_batch_encode(entry, TEST_ENTRY_BYTES, TEST_TIME_NS, 0,
                                                requests, 3, &bytes),
                     KHORGOS_ERROR_ok);
    return bytes;
}

/* The state an engine in memory holds after the three-request entry. */
static u128 test_three_request_digest(const u8 *entry, u64 bytes) {
    struct khorgos_config config = test_config();
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &config), KHORGOS_ERROR_ok);
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, engine), KHORGOS_ERROR_ok);
    assert_int_equal(cluster_fsm_apply(&fsm, entry, bytes)->error, KHORGOS_ERROR_ok);
    u128 digest = engine_state_digest(fsm.engine);
    assert_true(fsm.engine->request_count == 3);
    cluster_fsm_deinit(&fsm);
    return digest;
}

/* A data directory whose journal holds the first `count` requests of the entry, each written
 * by a commit of its own (the pieces a crash can cut a batch's write into). `other`: the
 * first request creates account 92 instead of 91 (a journal that is not raft's log). */
static void test_journal_prefix(const char *directory, struct khorgos_request requests[3],
                                u32 count, bool other) {
    struct khorgos_config config = test_config();
    assert_int_equal(khorgos_format(directory, &config), KHORGOS_ERROR_ok);
    struct khorgos *engine = test_open(directory);
    assert_int_equal(engine_clock_set(engine, TEST_TIME_NS), KHORGOS_ERROR_ok);
    struct khorgos_account accounts[2] = {test_account(90), test_account(other ? 92 : 91)};
    for (u32 index = 0; index < count; index++) {
        struct khorgos_request request = requests[index];
        if (index == 0) request.body = accounts;
        struct khorgos_create_result results[2];
        request.reply = results;
        request.reply_capacity = sizeof(results);
        assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    }
    assert_true(engine->request_count == count);
    khorgos_close(engine);
}

/* A journal holding only the first requests of an entry: a crash cut the batch's write after
 * its first request, whole, or tore the second request's record (recovery truncates that
 * torn tail, as on a single node). The replay reaches the journal's end inside the entry;
 * the states are equal there, so the data directory's engine applies the rest of the entry
 * from raft's log: the replica ends on the state of the whole entry, its journal verified
 * whole and holding each request once. */
static void test_part_of_an_entry_in_the_journal_continues(const char *root, bool torn) {
    char directory[256];
    test_directory_make(directory, sizeof(directory), root, torn ? "torn-part" : "part");
    struct khorgos_request requests[3];
    static _Alignas(16) u8 entry[TEST_ENTRY_BYTES];
    u64 bytes = test_three_request_entry(entry, requests);
    u128 whole_digest = test_three_request_digest(entry, bytes);
    test_journal_prefix(directory, requests, torn ? 2 : 1, false);
    if (torn) test_tear_last_record(directory, 2);
    char report[512] = "";
    struct khorgos *engine = NULL;
    assert_int_equal(test_open_report(directory, report, sizeof(report), &engine),
                     KHORGOS_ERROR_ok);
    assert_true(engine->request_count == 1);
    if (torn) assert_non_null(strstr(report, "torn at offset"));
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, engine), KHORGOS_ERROR_ok);
    assert_int_equal(cluster_fsm_apply(&fsm, entry, bytes)->error, KHORGOS_ERROR_ok);
    assert_null(fsm.replay);
    assert_int_equal(fsm.journal_continued, 1);
    assert_true(fsm.journal_continued_sequence == 1);
    assert_true(fsm.engine->request_count == 3);
    assert_true(engine_state_digest(fsm.engine) == whole_digest);
    /* Every request of the entry has its reply, the journal's first one included. */
    assert_int_equal(fsm.result.request_count, 3);
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(fsm.result.requests[index].error, KHORGOS_ERROR_ok);
        assert_true(fsm.result.requests[index].timestamp != 0);
    }
    assert_int_equal(cluster_fsm_journal_wait(&fsm), KHORGOS_ERROR_ok);
    cluster_fsm_deinit(&fsm);
    engine = test_open(directory);
    assert_true(engine->request_count == 3 && engine_state_digest(engine) == whole_digest);
    khorgos_close(engine);
    assert_true(test_check_clean(directory)->sequence_last == 3);
}

/* The journal's first request is not the entry's (another account): the states differ where
 * the journal ends, so the replica stops (diverged) and its data directory is untouched. */
static void test_part_of_another_entry_stops(const char *root) {
    char directory[256];
    test_directory_make(directory, sizeof(directory), root, "other-part");
    struct khorgos_request requests[3];
    static _Alignas(16) u8 entry[TEST_ENTRY_BYTES];
    u64 bytes = test_three_request_entry(entry, requests);
    test_journal_prefix(directory, requests, 1, true);
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, test_open(directory)), KHORGOS_ERROR_ok);
    u128 digest = engine_state_digest(fsm.engine);
    assert_int_equal(cluster_fsm_apply(&fsm, entry, bytes)->error, KHORGOS_ERROR_diverged);
    assert_int_equal(cluster_fsm_stopped(&fsm), KHORGOS_ERROR_diverged);
    assert_int_equal(fsm.journal_continued, 0);
    assert_null(fsm.replay);
    assert_true(fsm.engine->request_count == 1 && engine_state_digest(fsm.engine) == digest);
    cluster_fsm_deinit(&fsm);
}

/* A byte flipped in a record in the middle of a replica's journal (one whose header copy
 * proves it was durable) is damage, not a torn tail: the open a replica makes refuses it,
 * naming the file, the offset and the sequence, and changes nothing. */
static void test_damage_inside_the_journal_refused(const char *root) {
    char directory[256];
    test_directory_make(directory, sizeof(directory), root, "damaged");
    struct raft_buffer snapshot;
    test_history(directory, &snapshot);
    raft_free(snapshot.base);
    struct storage_record_header header = test_header_copy(directory, 3);
    u8 byte = 0;
    u64 offset = header.offset + STORAGE_RECORD_HEADER_BYTES + 8;
    test_file_bytes(directory, "journal-0000000000000001", offset, &byte, 1, false);
    byte ^= 0x01;
    test_file_bytes(directory, "journal-0000000000000001", offset, &byte, 1, true);
    char report[512] = "";
    struct khorgos *engine = NULL;
    assert_int_equal(test_open_report(directory, report, sizeof(report), &engine),
                     KHORGOS_ERROR_corrupt);
    char expected[160];
    snprintf(expected, sizeof(expected),
             "journal-0000000000000001: damage to acknowledged data at offset %llu, sequence 3",
             (unsigned long long)header.offset);
    assert_non_null(strstr(report, expected));
    u8 after = 0;
    test_file_bytes(directory, "journal-0000000000000001", offset, &after, 1, false);
    assert_int_equal(after, byte);
}

/* A snapshot of a replica on a data directory records the chain head of its last request. */
static void test_snapshot_records_the_chain_head(struct cluster_fsm *fsm) {
    struct raft_buffer taken = {0};
    assert_int_equal(cluster_fsm_snapshot(fsm, &taken), KHORGOS_ERROR_ok);
    u8 head[32];
    u64 sequence = 0;
    assert_int_equal(khorgos_chain_head(fsm->engine, head, &sequence), KHORGOS_ERROR_ok);
    assert_true(sequence == fsm->engine->request_count && sequence > 0);
    assert_true(taken.len > 64);
    assert_memory_equal((const u8 *)taken.base + 32, head, sizeof(head));
    u8 zeros[32] = {0};
    assert_memory_not_equal(head, zeros, sizeof(head));
    raft_free(taken.base);
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
            if (fsm.replay == NULL) continue;
            /* No snapshot while replaying: the replay engine has no chain head to record. */
            struct raft_buffer refused = {0};
            assert_int_equal(cluster_fsm_snapshot(&fsm, &refused),
                             KHORGOS_ERROR_invalid_operation);
            assert_null(refused.base);
        }
        assert_null(fsm.replay);
        assert_true(engine_state_digest(fsm.engine) == journal_digest);
        test_snapshot_records_the_chain_head(&fsm);
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
    test_part_of_an_entry_in_the_journal_continues(root, false);
    test_part_of_an_entry_in_the_journal_continues(root, true);
    test_part_of_another_entry_stops(root);
    test_damage_inside_the_journal_refused(root);
    raft_free(snapshot.base);
    if (getenv("KHORGOS_TEST_KEEP") == NULL) test_remove_tree(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_replays_to_the_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
