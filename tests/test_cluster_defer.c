/*
 * test_cluster_defer.c: a follower's committed entries held back (cluster_fsm.defer, through
 * raft's apply method as raft calls it): nothing is applied while the entries are held, their
 * results are the empty one, and they are applied in order, exactly once, when the replica
 * applies what it held back, when the next entry is not deferred (a leader's), when the queue
 * is full, and before a snapshot or a restore; dropped ones are freed. Each way reaches the
 * state of an engine fed the same entries directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster_support.h"

static bool test_defer_answer;
static bool test_defer(void *context) {
    assert_ptr_equal(context, &test_defer_answer);
    return test_defer_answer;
}

static struct cluster_fsm *test_fsm_open(void) {
    static struct cluster_fsm fsm;
    struct khorgos_config config = test_config();
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &config), KHORGOS_ERROR_ok);
    assert_int_equal(cluster_fsm_init(&fsm, engine), KHORGOS_ERROR_ok);
    fsm.defer = test_defer;
    fsm.defer_context = &test_defer_answer;
    return &fsm;
}

/* Entry k through raft's apply method; returns its result. */
static const struct cluster_apply_result *test_raft_apply(struct cluster_fsm *fsm, u32 k) {
    _Alignas(16) u8 entry[TEST_ENTRY_BYTES];
    struct raft_buffer buffer = {.base = entry, .len = test_entry(k, entry)};
    void *result = NULL;
    assert_int_equal(fsm->raft.apply(&fsm->raft, &buffer, &result), 0);
    memset(entry, 0xee, sizeof(entry)); /* raft's buffer is not the fsm's to keep */
    return result;
}

static void test_held_back_until_applied(void **state) {
    (void)state;
    struct cluster_fsm *fsm = test_fsm_open();
    test_defer_answer = true;
    for (u32 k = 0; k < 3; k++) {
        const struct cluster_apply_result *result = test_raft_apply(fsm, k);
        assert_int_equal(result->error, KHORGOS_ERROR_ok);
        assert_int_equal(result->request_count, 0);
    }
    assert_int_equal(fsm->deferred_count, 3);
    assert_int_equal(fsm->engine->request_count, 0); /* nothing applied yet */
    assert_int_equal(fsm->entries_applied, 0);
    cluster_fsm_apply_deferred(fsm);
    assert_int_equal(fsm->deferred_count, 0);
    assert_int_equal(fsm->entries_applied, 3);
    u64 count = 0;
    assert_true(engine_state_digest(fsm->engine) == test_reference_digest(3, &count));
    assert_true(fsm->engine->request_count == count);
    cluster_fsm_apply_deferred(fsm); /* nothing held: nothing applied twice */
    assert_int_equal(fsm->entries_applied, 3);
    test_raft_apply(fsm, 3); /* held back, then dropped at deinit: freed, never applied */
    cluster_fsm_deinit(fsm);
}

static void test_leader_entry_full_queue_and_snapshot_apply_first(void **state) {
    (void)state;
    struct cluster_fsm *fsm = test_fsm_open();
    test_defer_answer = true;
    test_raft_apply(fsm, 0);
    test_raft_apply(fsm, 1);
    test_defer_answer = false; /* a leader's entry: the held ones first, then it */
    const struct cluster_apply_result *result = test_raft_apply(fsm, 2);
    assert_int_equal(result->request_count, 1);
    assert_int_equal(fsm->deferred_count, 0);
    assert_int_equal(fsm->entries_applied, 3);
    test_defer_answer = true;
    for (u32 k = 3; k < 3 + CLUSTER_DEFERRED_ENTRIES_MAX + 1; k++) test_raft_apply(fsm, k);
    /* the queue was full: the held ones and the next were applied at once */
    assert_int_equal(fsm->deferred_count, 0);
    assert_int_equal(fsm->entries_applied, 3 + CLUSTER_DEFERRED_ENTRIES_MAX + 1);
    u32 next = 3 + CLUSTER_DEFERRED_ENTRIES_MAX + 1;
    test_raft_apply(fsm, next);
    test_raft_apply(fsm, next + 1);
    struct raft_buffer snapshot;
    assert_int_equal(cluster_fsm_snapshot(fsm, &snapshot), KHORGOS_ERROR_ok);
    assert_int_equal(fsm->deferred_count, 0);
    u64 count = 0;
    u128 digest = test_reference_digest(next + 2, &count);
    assert_true(engine_state_digest(fsm->engine) == digest);
    test_raft_apply(fsm, next + 2); /* held, then applied before the restore replaces it */
    assert_int_equal(cluster_fsm_restore(fsm, snapshot.base, snapshot.len), KHORGOS_ERROR_ok);
    assert_int_equal(fsm->deferred_count, 0);
    assert_int_equal(fsm->entries_applied, next + 3);
    assert_true(engine_state_digest(fsm->engine) == digest);
    raft_free(snapshot.base);
    cluster_fsm_deinit(fsm);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_back_until_applied),
        cmocka_unit_test(test_leader_entry_full_queue_and_snapshot_apply_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
