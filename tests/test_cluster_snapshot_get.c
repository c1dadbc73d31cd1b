/*
 * test_cluster_snapshot_get.c: the guard on raft_io's snapshot_get (cluster_snapshot_get.c).
 * raft 0.22.1 frees pointers it never set when a leader's load of its snapshot fails, so the
 * guard must never hand raft a failed load: raft's callback is not called, and the failure is
 * counted. A successful load reaches raft's callback unchanged. The io here is a stand-in
 * whose snapshot_get answers at once with the status the test chose.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cluster/cluster_replica.h"

static int stand_in_status;
static struct raft_snapshot *raft_saw_snapshot;
static int raft_saw_status;
static int raft_calls;

static int stand_in_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req,
                                 raft_io_snapshot_get_cb cb) {
    (void)io;
    req->cb = cb;
    struct raft_snapshot *snapshot = raft_malloc(sizeof(*snapshot));
    assert_non_null(snapshot);
    memset(snapshot, 0, sizeof(*snapshot));
    cb(req, snapshot, stand_in_status);
    return 0;
}

/* raft's callback: on a failure, raft 0.22.1 would free what it never set. */
static void raft_snapshot_got(struct raft_io_snapshot_get *req, struct raft_snapshot *snapshot,
                              int status) {
    (void)req;
    raft_saw_snapshot = snapshot;
    raft_saw_status = status;
    raft_calls++;
}

static void test_failed_load_kept_from_raft(void **state) {
    (void)state;
    struct raft_io io = {.snapshot_get = stand_in_snapshot_get};
    cluster_snapshot_get_guard(&io);
    cluster_snapshot_get_guard(&io); /* twice changes nothing */
    assert_ptr_not_equal(io.snapshot_get, stand_in_snapshot_get);
    u64 failures = cluster_snapshot_get_failures_count();
    struct raft_io_snapshot_get req = {0};
    raft_calls = 0;
    stand_in_status = RAFT_IOERR;
    req.data = raft_malloc(64); /* raft's request record, which a failure frees */
    assert_non_null(req.data);
    assert_int_equal(io.snapshot_get(&io, &req, raft_snapshot_got), 0);
    assert_int_equal(raft_calls, 0);
    assert_int_equal(cluster_snapshot_get_failures_count(), failures + 1);
    stand_in_status = 0;
    assert_int_equal(io.snapshot_get(&io, &req, raft_snapshot_got), 0);
    assert_int_equal(raft_calls, 1);
    assert_int_equal(raft_saw_status, 0);
    assert_non_null(raft_saw_snapshot);
    assert_int_equal(cluster_snapshot_get_failures_count(), failures + 1);
    raft_free(raft_saw_snapshot);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_load_kept_from_raft),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
