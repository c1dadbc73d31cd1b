/*
 * test_cluster_fixture.c: the replicated state machine (src/cluster/) driven by the raft
 * library's deterministic fixture (raft/fixture.h: simulated time, network and disks): three
 * replicas, each a real engine behind a cluster_fsm, through elections, a partitioned leader, a
 * killed follower, a divergent replica, and a follower that lags past the compacted log and
 * catches up from the leader's snapshot. After the same log every replica's state digest
 * (engine_state_digest) must be equal, and equal to one engine fed the same entries directly.
 * A damaged snapshot is refused and changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <raft.h>
#include <raft/fixture.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/cluster_membership.h"
#include "cluster_support.h"

#define TEST_REPLICA_COUNT 3u
#define TEST_STEP_MSECS_MAX 20000u
/* The leader's clock: a wall-clock time well past the engines' manual start. */
#define TEST_LEADER_TIME_NS (KHORGOS_MANUAL_CLOCK_START_NS + 1000000000000ull)

struct test_cluster {
    struct raft_fixture fixture;
    struct cluster_fsm fsms[TEST_REPLICA_COUNT]; /* each owns its replica's engine */
    /* One engine outside raft fed every committed entry directly: what replicas must equal. */
    struct cluster_fsm reference;
    u64 time_ns; /* the next entry's leader timestamp */
    /* Between each server's raft and its I/O when the test asks (test_cluster_start_holding). */
    struct cluster_hold holds[TEST_REPLICA_COUNT];
};

/* What the leader's raft_apply callback saw. */
struct test_proposal {
    struct raft_apply request;
    bool done;
    int status;
    khorgos_error error;
    u32 request_count;
    u32 first_status; /* the first create result's status, of the first request */
};

static void test_cluster_start_holding(struct test_cluster *cluster, bool holding) {
    memset(cluster, 0, sizeof(*cluster));
    cluster->time_ns = TEST_LEADER_TIME_NS;
    assert_int_equal(raft_fixture_init(&cluster->fixture), 0);
    for (u32 index = 0; index < TEST_REPLICA_COUNT; index++) {
        assert_int_equal(cluster_fsm_init(&cluster->fsms[index], test_engine_open()),
                         KHORGOS_ERROR_ok);
        assert_int_equal(raft_fixture_grow(&cluster->fixture, &cluster->fsms[index].raft), 0);
        raft_set_snapshot_threshold(raft_fixture_get(&cluster->fixture, index), UINT_MAX);
    }
    assert_int_equal(cluster_fsm_init(&cluster->reference, test_engine_open()), KHORGOS_ERROR_ok);
    struct raft_configuration configuration;
    assert_int_equal(raft_fixture_configuration(&cluster->fixture, TEST_REPLICA_COUNT,
                                                &configuration), 0);
    assert_int_equal(raft_fixture_bootstrap(&cluster->fixture, &configuration), 0);
    raft_configuration_close(&configuration);
    for (u32 index = 0; index < TEST_REPLICA_COUNT && holding; index++) {
        assert_true(cluster_hold_install(&cluster->holds[index],
                                         raft_fixture_get(&cluster->fixture, index)));
    }
    assert_int_equal(raft_fixture_start(&cluster->fixture), 0);
    assert_true(raft_fixture_step_until_has_leader(&cluster->fixture, TEST_STEP_MSECS_MAX));
}

static void test_cluster_start(struct test_cluster *cluster) {
    test_cluster_start_holding(cluster, false);
}

static void test_cluster_stop(struct test_cluster *cluster) {
    raft_fixture_close(&cluster->fixture);
    for (u32 index = 0; index < TEST_REPLICA_COUNT; index++) {
        cluster_hold_uninstall(&cluster->holds[index]);
        cluster_fsm_deinit(&cluster->fsms[index]);
    }
    cluster_fsm_deinit(&cluster->reference);
}

static void test_proposal_done(struct raft_apply *request, int status, void *result) {
    struct test_proposal *proposal = request->data;
    proposal->done = true;
    proposal->status = status;
    if (status != 0) return;
    const struct cluster_apply_result *applied = result;
    proposal->error = applied->error;
    proposal->request_count = applied->request_count;
    if (applied->request_count > 0 && applied->requests[0].reply_size > 0) {
        struct khorgos_create_result first;
        memcpy(&first, applied->requests[0].reply, sizeof(first));
        proposal->first_status = first.status;
    }
}

/* Proposes an encoded entry on replica `index`; returns the log index it takes (0: refused). */
static raft_index test_propose(struct test_cluster *cluster, u32 index, const void *entry,
                               u64 entry_bytes, struct test_proposal *proposal) {
    struct raft *raft = raft_fixture_get(&cluster->fixture, index);
    struct raft_buffer buffer = {.base = raft_malloc(entry_bytes), .len = entry_bytes};
    assert_non_null(buffer.base);
    memcpy(buffer.base, entry, entry_bytes);
    memset(proposal, 0, sizeof(*proposal));
    proposal->request.data = proposal;
    if (raft_apply(raft, &proposal->request, &buffer, 1, test_proposal_done) != 0) {
        raft_free(buffer.base);
        return 0;
    }
    return raft_last_index(raft);
}

/* Encodes a batch at the next leader time. */
static u64 test_batch(struct test_cluster *cluster, u8 *entry, u64 mark,
                      const struct khorgos_request *requests, u32 count) {
    cluster->time_ns += 1000000;
    u64 bytes = 0;
    assert_int_equal(cluster_entry_batch_encode(entry, CLUSTER_ENTRY_ENCODED_BYTES_MAX,
                                                cluster->time_ns, mark, requests, count, &bytes),
                     KHORGOS_ERROR_ok);
    return bytes;
}

static u32 test_leader(struct test_cluster *cluster) {
    u32 leader = raft_fixture_leader_index(&cluster->fixture);
    assert_true(leader < TEST_REPLICA_COUNT);
    return leader;
}

/* Proposes `count` requests as one entry on replica `leader` and steps until it applied it;
 * the reference engine applies it too. Returns its log index. */
static raft_index test_commit_on(struct test_cluster *cluster, u32 leader,
                                 const struct khorgos_request *requests, u32 count, u64 mark,
                                 struct test_proposal *proposal) {
    static _Alignas(16) u8 entry[1u << 16];
    u64 bytes = test_batch(cluster, entry, mark, requests, count);
    raft_index index = test_propose(cluster, leader, entry, bytes, proposal);
    assert_true(index > 0);
    assert_true(raft_fixture_step_until_applied(&cluster->fixture, leader, index,
                                                TEST_STEP_MSECS_MAX));
    assert_true(proposal->done);
    assert_int_equal(proposal->status, 0);
    const struct cluster_apply_result *result = cluster_fsm_apply(&cluster->reference, entry,
                                                                  bytes);
    assert_int_equal(result->error, proposal->error);
    return index;
}

static raft_index test_commit(struct test_cluster *cluster, const struct khorgos_request *requests,
                              u32 count, u64 mark, struct test_proposal *proposal) {
    return test_commit_on(cluster, test_leader(cluster), requests, count, mark, proposal);
}

/* Two accounts, then `count` transfers of 10 between them in one entry of two requests. */
static raft_index test_traffic(struct test_cluster *cluster, u128 first_id, u32 count) {
    struct khorgos_account accounts[2] = {test_account(first_id), test_account(first_id + 1)};
    struct khorgos_request create = test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts,
                                                 sizeof(accounts));
    struct test_proposal proposal;
    test_commit(cluster, &create, 1, 0, &proposal);
    assert_int_equal(proposal.error, KHORGOS_ERROR_ok);
    struct khorgos_transfer transfers[16];
    assert_true(count <= 16);
    for (u32 index = 0; index < count; index++) {
        transfers[index] = test_transfer(first_id + 100 + index, first_id, first_id + 1, 10);
    }
    u32 half = count / 2;
    struct khorgos_request requests[2] = {
        test_request(KHORGOS_OPERATION_CREATE_TRANSFERS, transfers, half * 128),
        test_request(KHORGOS_OPERATION_CREATE_TRANSFERS, transfers + half, (count - half) * 128),
    };
    raft_index index = test_commit(cluster, requests, 2, 0, &proposal);
    assert_int_equal(proposal.error, KHORGOS_ERROR_ok);
    assert_int_equal(proposal.request_count, 2);
    return index;
}

static void test_assert_digests_equal(struct test_cluster *cluster, raft_index index) {
    assert_true(raft_fixture_step_until_applied(&cluster->fixture, TEST_REPLICA_COUNT, index,
                                                TEST_STEP_MSECS_MAX));
    u128 first = engine_state_digest(cluster->reference.engine);
    for (u32 replica = 0; replica < TEST_REPLICA_COUNT; replica++) {
        assert_true(engine_state_digest(cluster->fsms[replica].engine) == first);
    }
}

static void test_replicas_apply_one_log_alike(void **state) {
    (void)state;
    static struct test_cluster cluster;
    test_cluster_start(&cluster);
    raft_index index = test_traffic(&cluster, 1000, 12);
    test_assert_digests_equal(&cluster, index);
    for (u32 replica = 0; replica < TEST_REPLICA_COUNT; replica++) {
        assert_true(test_credits(cluster.fsms[replica].engine, 1001) == 120);
        /* The leader's time, not the replica's clock, stamped the transfers. */
        u128 id = 1100;
        struct khorgos_transfer transfer;
        struct khorgos_request lookup = test_request(KHORGOS_OPERATION_LOOKUP_TRANSFERS, &id,
                                                     sizeof(id));
        lookup.reply = &transfer;
        lookup.reply_capacity = sizeof(transfer);
        assert_int_equal(khorgos_execute(cluster.fsms[replica].engine, &lookup, 1), KHORGOS_ERROR_ok);
        assert_int_equal(lookup.reply_size, sizeof(transfer));
        assert_true(transfer.timestamp == cluster.time_ns); /* the entry's first event */
    }
    test_cluster_stop(&cluster);
}

static void test_isolate(struct test_cluster *cluster, u32 replica, bool isolated) {
    for (u32 other = 0; other < TEST_REPLICA_COUNT; other++) {
        if (other == replica) continue;
        if (isolated) {
            raft_fixture_disconnect(&cluster->fixture, replica, other);
            raft_fixture_disconnect(&cluster->fixture, other, replica);
        } else {
            raft_fixture_reconnect(&cluster->fixture, replica, other);
            raft_fixture_reconnect(&cluster->fixture, other, replica);
        }
    }
}

/* step_until's stop: a replica other than *arg leads. */
static bool test_other_leads(struct raft_fixture *fixture, void *arg) {
    const u32 *old = arg;
    for (u32 replica = 0; replica < TEST_REPLICA_COUNT; replica++) {
        if (replica != *old && raft_state(raft_fixture_get(fixture, replica)) == RAFT_LEADER) {
            return true;
        }
    }
    return false;
}

static u32 test_leader_other_than(struct test_cluster *cluster, u32 old) {
    for (u32 replica = 0; replica < TEST_REPLICA_COUNT; replica++) {
        struct raft *raft = raft_fixture_get(&cluster->fixture, replica);
        if (replica != old && raft_state(raft) == RAFT_LEADER) return replica;
    }
    fail_msg("no leader other than replica %u", old);
    return TEST_REPLICA_COUNT;
}

/* A leader cut off from both followers: its write never commits; the majority elects another
 * leader and goes on; once healed, the old leader's entry is gone everywhere and every replica
 * holds the majority's state. */
static void test_partitioned_leader_loses_its_writes(void **state) {
    (void)state;
    static struct test_cluster cluster;
    test_cluster_start(&cluster);
    test_assert_digests_equal(&cluster, test_traffic(&cluster, 1000, 4));
    u32 old = test_leader(&cluster);
    test_isolate(&cluster, old, true);
    static _Alignas(16) u8 entry[1024];
    struct khorgos_account rogue = test_account(7000);
    struct khorgos_request create = test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, &rogue,
                                                 sizeof(rogue));
    struct test_proposal lost;
    u64 bytes = test_batch(&cluster, entry, 0, &create, 1);
    raft_index lost_index = test_propose(&cluster, old, entry, bytes, &lost);
    assert_true(lost_index > 0);
    assert_true(raft_fixture_step_until(&cluster.fixture, test_other_leads, &old,
                                        TEST_STEP_MSECS_MAX));
    u32 leader = test_leader_other_than(&cluster, old);
    struct khorgos_account fresh = test_account(8000);
    struct khorgos_request create_fresh = test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS,
                                                       &fresh, sizeof(fresh));
    struct test_proposal proposal;
    raft_index index = test_commit_on(&cluster, leader, &create_fresh, 1, 0, &proposal);
    assert_int_equal(proposal.first_status, 0);
    assert_false(lost.done && lost.status == 0); /* never acknowledged */
    struct khorgos_account found;
    assert_false(test_account_find(cluster.fsms[old].engine, 7000, &found));
    test_isolate(&cluster, old, false);
    test_assert_digests_equal(&cluster, index);
    assert_true(lost.done);
    assert_int_not_equal(lost.status, 0);
    for (u32 replica = 0; replica < TEST_REPLICA_COUNT; replica++) {
        assert_false(test_account_find(cluster.fsms[replica].engine, 7000, &found));
        assert_true(test_account_find(cluster.fsms[replica].engine, 8000, &found));
    }
    test_cluster_stop(&cluster);
}

/* A follower killed misses entries; revived, it catches up to the same state. */
static void test_killed_follower_catches_up(void **state) {
    (void)state;
    static struct test_cluster cluster;
    test_cluster_start(&cluster);
    test_assert_digests_equal(&cluster, test_traffic(&cluster, 1000, 4));
    u32 leader = test_leader(&cluster);
    u32 follower = (leader + 1) % TEST_REPLICA_COUNT;
    raft_fixture_kill(&cluster.fixture, follower);
    u64 applied_before = cluster.fsms[follower].entries_applied;
    u128 digest_before = engine_state_digest(cluster.fsms[follower].engine);
    raft_index index = test_traffic(&cluster, 2000, 16);
    assert_true(raft_fixture_step_until_applied(&cluster.fixture, (leader + 2) % 3, index,
                                                TEST_STEP_MSECS_MAX));
    assert_int_equal(cluster.fsms[follower].entries_applied, applied_before);
    assert_true(engine_state_digest(cluster.fsms[follower].engine) == digest_before);
    raft_fixture_revive(&cluster.fixture, follower);
    test_assert_digests_equal(&cluster, index);
    assert_true(test_credits(cluster.fsms[follower].engine, 2001) == 160);
    test_cluster_stop(&cluster);
}

/* A pending transfer expires at the leader's clock tick (an empty batch), on every replica at
 * the same point of the log, whatever each replica's own clock says. */
static void test_clock_tick_expires_on_every_replica(void **state) {
    (void)state;
    static struct test_cluster cluster;
    test_cluster_start(&cluster);
    test_assert_digests_equal(&cluster, test_traffic(&cluster, 1000, 2));
    struct khorgos_transfer pending = test_transfer(3000, 1000, 1001, 50);
    pending.flags = KHORGOS_TRANSFER_PENDING;
    pending.timeout = 1;
    struct khorgos_request create = test_request(KHORGOS_OPERATION_CREATE_TRANSFERS, &pending,
                                                 sizeof(pending));
    struct test_proposal proposal;
    test_assert_digests_equal(&cluster, test_commit(&cluster, &create, 1, 0, &proposal));
    struct khorgos_account account;
    for (u32 replica = 0; replica < TEST_REPLICA_COUNT; replica++) {
        assert_true(test_account_find(cluster.fsms[replica].engine, 1001, &account));
        assert_true(account.credits_pending == 50);
    }
    const struct khorgos *leader = cluster.fsms[test_leader(&cluster)].engine;
    assert_false(cluster_leader_tick_due(leader, cluster.time_ns + 1000000));
    assert_true(cluster_leader_tick_due(leader, cluster.time_ns + 2000000000ull));
    /* A leader whose clock is behind still stamps no earlier than what was applied. */
    assert_true(cluster_leader_timestamp(leader, KHORGOS_MANUAL_CLOCK_START_NS) ==
                cluster.time_ns);
    cluster.time_ns += 2000000000ull;
    raft_index index = test_commit(&cluster, NULL, 0, 0, &proposal);
    assert_false(cluster_leader_tick_due(leader, cluster.time_ns));
    assert_int_equal(proposal.request_count, 0);
    test_assert_digests_equal(&cluster, index);
    for (u32 replica = 0; replica < TEST_REPLICA_COUNT; replica++) {
        assert_true(test_account_find(cluster.fsms[replica].engine, 1001, &account));
        assert_true(account.credits_pending == 0);
    }
    test_cluster_stop(&cluster);
}

/* A replica whose state was changed outside the log fails the leader's digest check, says so
 * and applies nothing more; the others pass it and go on. */
static void test_divergent_replica_stops(void **state) {
    (void)state;
    static struct test_cluster cluster;
    test_cluster_start(&cluster);
    test_assert_digests_equal(&cluster, test_traffic(&cluster, 1000, 2));
    u32 leader = test_leader(&cluster);
    u32 damaged = (leader + 1) % TEST_REPLICA_COUNT;
    struct khorgos_account stray = test_account(9999);
    struct khorgos_request create = test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, &stray,
                                                 sizeof(stray));
    struct khorgos_create_result reply;
    create.reply = &reply;
    create.reply_capacity = sizeof(reply);
    assert_int_equal(khorgos_execute(cluster.fsms[damaged].engine, &create, 1), KHORGOS_ERROR_ok);
    struct test_proposal proposal;
    struct khorgos_account marked = test_account(5000);
    struct khorgos_request create_marked = test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS,
                                                        &marked, sizeof(marked));
    raft_index index = test_commit(&cluster, &create_marked, 1, 1, &proposal);
    assert_true(raft_fixture_step_until_applied(&cluster.fixture, TEST_REPLICA_COUNT, index,
                                                TEST_STEP_MSECS_MAX));
    assert_int_equal(cluster.fsms[leader].mark, 1);
    static _Alignas(16) u8 check[CLUSTER_ENTRY_HEADER_BYTES + CLUSTER_CHECK_BYTES];
    cluster_entry_check_encode(check, cluster.time_ns + 1, 1, cluster.fsms[leader].mark_digest);
    index = test_propose(&cluster, leader, check, sizeof(check), &proposal);
    assert_true(raft_fixture_step_until_applied(&cluster.fixture, TEST_REPLICA_COUNT, index,
                                                TEST_STEP_MSECS_MAX));
    assert_int_equal(proposal.error, KHORGOS_ERROR_ok);
    for (u32 replica = 0; replica < TEST_REPLICA_COUNT; replica++) {
        assert_int_equal(cluster_fsm_diverged(&cluster.fsms[replica]), replica == damaged);
    }
    u128 digest_stopped = engine_state_digest(cluster.fsms[damaged].engine);
    index = test_traffic(&cluster, 6000, 2);
    assert_true(raft_fixture_step_until_applied(&cluster.fixture, TEST_REPLICA_COUNT, index,
                                                TEST_STEP_MSECS_MAX));
    assert_true(engine_state_digest(cluster.fsms[damaged].engine) == digest_stopped);
    assert_int_equal(cluster.fsms[damaged].result.error, KHORGOS_ERROR_diverged);
    test_cluster_stop(&cluster);
}

struct test_change {
    struct raft_change request;
    bool done;
    int status;
};

static void test_change_done(struct raft_change *request, int status) {
    struct test_change *change = request->data;
    change->done = true;
    change->status = status;
}

static bool test_change_finished(struct raft_fixture *fixture, void *arg) {
    (void)fixture;
    const struct test_change *change = arg;
    return change->done;
}

/* Runs one membership change on the leader to its end. */
static void test_change_run(struct test_cluster *cluster, struct test_change *change) {
    assert_true(raft_fixture_step_until(&cluster->fixture, test_change_finished, change,
                                        TEST_STEP_MSECS_MAX));
    assert_int_equal(change->status, 0);
}

/* Adds a started server through the leader (spare), then makes it a voter: each change run
 * to its end, successfully. */
static void test_add_voter(struct test_cluster *cluster, struct raft *leader_raft,
                           struct raft *server) {
    static struct test_change change;
    memset(&change, 0, sizeof(change));
    change.request.data = &change;
    assert_int_equal(raft_add(leader_raft, &change.request, server->id, server->address,
                              test_change_done), 0);
    test_change_run(cluster, &change);
    memset(&change, 0, sizeof(change));
    change.request.data = &change;
    assert_int_equal(raft_assign(leader_raft, &change.request, server->id, RAFT_VOTER,
                                 test_change_done), 0);
    test_change_run(cluster, &change);
}

static void test_compaction_set(struct test_cluster *cluster, unsigned threshold,
                                unsigned trailing) {
    for (u32 replica = 0; replica < TEST_REPLICA_COUNT; replica++) {
        struct raft *raft = raft_fixture_get(&cluster->fixture, replica);
        raft_set_snapshot_threshold(raft, threshold);
        raft_set_snapshot_trailing(raft, trailing);
    }
}

/* A replica whose disk was lost is replaced: a fresh server with an empty engine is added as a
 * voter, catches up from the log (or, when the others compacted theirs, from the leader's
 * snapshot, then the log), and the dead one is removed; the new replica's state equals the
 * others'. */
static void test_fresh_replica_replaces(bool compacted) {
    static struct test_cluster cluster;
    test_cluster_start(&cluster);
    if (compacted) test_compaction_set(&cluster, 4, 2);
    for (u32 round = 0; round < (compacted ? 6u : 1u); round++) {
        test_traffic(&cluster, 1000 + round * 100000, 8);
    }
    u32 leader = test_leader(&cluster);
    u32 lost = (leader + 1) % TEST_REPLICA_COUNT;
    raft_fixture_kill(&cluster.fixture, lost);
    static struct cluster_fsm fresh;
    assert_int_equal(cluster_fsm_init(&fresh, test_engine_open()), KHORGOS_ERROR_ok);
    assert_int_equal(raft_fixture_grow(&cluster.fixture, &fresh.raft), 0);
    struct raft *fresh_raft = raft_fixture_get(&cluster.fixture, TEST_REPLICA_COUNT);
    raft_set_snapshot_threshold(fresh_raft, compacted ? 4 : UINT_MAX);
    raft_set_snapshot_trailing(fresh_raft, 2);
    assert_int_equal(raft_start(fresh_raft), 0);
    struct raft *leader_raft = raft_fixture_get(&cluster.fixture, leader);
    test_add_voter(&cluster, leader_raft, fresh_raft);
    static struct test_change change;
    memset(&change, 0, sizeof(change));
    change.request.data = &change;
    struct raft *lost_raft = raft_fixture_get(&cluster.fixture, lost);
    assert_int_equal(raft_remove(leader_raft, &change.request, lost_raft->id, test_change_done),
                     0);
    test_change_run(&cluster, &change);
    raft_index index = test_traffic(&cluster, 2000, 4);
    /* The fresh server is the fixture's fourth (index TEST_REPLICA_COUNT). */
    assert_true(raft_fixture_step_until_applied(&cluster.fixture, TEST_REPLICA_COUNT, index,
                                                TEST_STEP_MSECS_MAX));
    assert_true(engine_state_digest(fresh.engine) ==
                engine_state_digest(cluster.reference.engine));
    assert_true(engine_state_digest(cluster.fsms[leader].engine) ==
                engine_state_digest(cluster.reference.engine));
    assert_true(test_credits(fresh.engine, 2001) == 40);
    assert_int_equal(fresh.snapshots_restored, compacted ? 1 : 0);
    assert_int_equal(raft_fixture_n_recv(&cluster.fixture, TEST_REPLICA_COUNT,
                                         RAFT_INSTALL_SNAPSHOT), compacted ? 1 : 0);
    test_cluster_stop(&cluster);
    cluster_fsm_deinit(&fresh);
}

static void test_fresh_replica_replaces_a_lost_one(void **state) {
    (void)state;
    test_fresh_replica_replaces(false);
}

static void test_fresh_replica_replaces_a_lost_one_from_a_snapshot(void **state) {
    (void)state;
    test_fresh_replica_replaces(true);
}

/* A fresh server whose snapshot takes 8 s to persist (a large state, a slow disk) is promoted
 * to voter: the catch-up round that carries the snapshot lasts past raft's default limit of
 * 5 s, which gave the promotion up (no connection), but not past the replica's
 * (cluster_raft_configure, CLUSTER_CATCH_UP_ROUND_MS_MAX); once the snapshot is in, the next
 * round ends within an election timeout and the server votes, with the cluster's state. */
static void test_slow_snapshot_install_still_promotes(void **state) {
    (void)state;
    static struct test_cluster cluster;
    test_cluster_start(&cluster);
    for (u32 replica = 0; replica < TEST_REPLICA_COUNT; replica++) {
        cluster_raft_configure(raft_fixture_get(&cluster.fixture, replica),
                               &cluster.fsms[replica], 4, 2, CLUSTER_SNAPSHOT_LOG_BYTES);
    }
    for (u32 round = 0; round < 6; round++) test_traffic(&cluster, 1000 + round * 100000, 8);
    static struct cluster_fsm fresh;
    assert_int_equal(cluster_fsm_init(&fresh, test_engine_open()), KHORGOS_ERROR_ok);
    assert_int_equal(raft_fixture_grow(&cluster.fixture, &fresh.raft), 0);
    struct raft *fresh_raft = raft_fixture_get(&cluster.fixture, TEST_REPLICA_COUNT);
    raft_set_snapshot_threshold(fresh_raft, UINT_MAX);
    raft_fixture_set_disk_latency(&cluster.fixture, TEST_REPLICA_COUNT, 8000);
    assert_int_equal(raft_start(fresh_raft), 0);
    test_add_voter(&cluster, raft_fixture_get(&cluster.fixture, test_leader(&cluster)),
                   fresh_raft);
    assert_int_equal(fresh.snapshots_restored, 1);
    raft_fixture_set_disk_latency(&cluster.fixture, TEST_REPLICA_COUNT, 10);
    raft_index index = test_traffic(&cluster, 2000, 4);
    assert_true(raft_fixture_step_until_applied(&cluster.fixture, TEST_REPLICA_COUNT, index,
                                                TEST_STEP_MSECS_MAX));
    assert_true(engine_state_digest(fresh.engine) ==
                engine_state_digest(cluster.reference.engine));
    test_cluster_stop(&cluster);
    cluster_fsm_deinit(&fresh);
}

static bool test_membership_idle(struct raft_fixture *fixture, void *arg) {
    (void)fixture;
    const struct cluster_membership *membership = arg;
    return !membership->changing;
}

/* Asks whichever server leads, one step per ask as `khorgos cluster` does, until the
 * configuration is as asked; returns how many asks it took. */
static u32 test_membership_run(struct test_cluster *cluster,
                               struct cluster_membership *memberships, const char *address,
                               const struct cluster_membership_request *request) {
    for (u32 asks = 1; asks <= 40; asks++) {
        assert_true(raft_fixture_step_until_has_leader(&cluster->fixture, TEST_STEP_MSECS_MAX));
        u32 leader = raft_fixture_leader_index(&cluster->fixture);
        assert_true(leader <= TEST_REPLICA_COUNT);
        struct cluster_membership *membership = &memberships[leader];
        khorgos_error error = cluster_membership_step(raft_fixture_get(&cluster->fixture, leader),
                                                      membership, address, request);
        if (error == KHORGOS_ERROR_ok) return asks;
        assert_int_equal(error, KHORGOS_ERROR_membership_changing);
        assert_true(raft_fixture_step_until(&cluster->fixture, test_membership_idle, membership,
                                            TEST_STEP_MSECS_MAX));
        raft_fixture_step_until_elapsed(&cluster->fixture, 100);
    }
    fail_msg("the membership change did not finish");
    return 0;
}

/* cluster_membership_step, asked again and again, adds a fresh server as replica 3 (spare,
 * standby, then voter once caught up: the same digest), and removes the leader: it hands its
 * leadership on, and the next leader takes it out. Asked once more, it is done at once. */
static void test_membership_steps_add_and_remove(void **state) {
    (void)state;
    static struct test_cluster cluster;
    test_cluster_start(&cluster);
    test_traffic(&cluster, 1000, 8);
    static struct cluster_fsm fresh;
    assert_int_equal(cluster_fsm_init(&fresh, test_engine_open()), KHORGOS_ERROR_ok);
    assert_int_equal(raft_fixture_grow(&cluster.fixture, &fresh.raft), 0);
    struct raft *fresh_raft = raft_fixture_get(&cluster.fixture, TEST_REPLICA_COUNT);
    raft_set_snapshot_threshold(fresh_raft, UINT_MAX);
    assert_int_equal(raft_start(fresh_raft), 0);
    assert_int_equal(cluster_raft_id_replica(fresh_raft->id), TEST_REPLICA_COUNT);
    static struct cluster_membership memberships[TEST_REPLICA_COUNT + 1];
    memset(memberships, 0, sizeof(memberships));
    struct cluster_membership_request add = {.action = CLUSTER_MEMBERSHIP_ADD,
                                             .replica = TEST_REPLICA_COUNT};
    assert_true(test_membership_run(&cluster, memberships, fresh_raft->address, &add) >= 4);
    raft_index index = test_traffic(&cluster, 2000, 4);
    assert_true(raft_fixture_step_until_applied(&cluster.fixture, TEST_REPLICA_COUNT, index,
                                                TEST_STEP_MSECS_MAX));
    assert_true(engine_state_digest(fresh.engine) ==
                engine_state_digest(cluster.reference.engine));
    u32 old = test_leader(&cluster);
    struct raft *old_raft = raft_fixture_get(&cluster.fixture, old);
    struct cluster_membership_request remove = {.action = CLUSTER_MEMBERSHIP_REMOVE,
                                                .replica = old};
    assert_true(test_membership_run(&cluster, memberships, old_raft->address, &remove) >= 2);
    u32 leader = raft_fixture_leader_index(&cluster.fixture);
    assert_true(leader != old);
    struct raft *leader_raft = raft_fixture_get(&cluster.fixture, leader);
    struct cluster_member members[CLUSTER_MEMBERS_MAX];
    u32 count = cluster_members_read(leader_raft, members);
    assert_int_equal(count, TEST_REPLICA_COUNT);
    for (u32 member = 0; member < count; member++) {
        assert_int_not_equal(members[member].replica, old);
        assert_int_equal(members[member].role, RAFT_VOTER);
    }
    assert_int_equal(test_membership_run(&cluster, memberships, fresh_raft->address, &add), 1);
    test_cluster_stop(&cluster);
    cluster_fsm_deinit(&fresh);
}

/* A follower away while the configuration changed (the spare, replica 3, added) gets the
 * change amid one AppendEntries batch of the entries it missed: raft then marks the batch's
 * first entry, not the change's, as the uncommitted configuration (cluster_membership.h).
 * Returns that follower, once it applied every entry. */
static u32 test_follower_catches_up_a_change(struct test_cluster *cluster) {
    test_cluster_start(cluster);
    test_traffic(cluster, 1000, 4);
    u32 away = (test_leader(cluster) + 1) % TEST_REPLICA_COUNT;
    raft_fixture_kill(&cluster->fixture, away);
    test_traffic(cluster, 2000, 4);
    static struct test_change change;
    memset(&change, 0, sizeof(change));
    change.request.data = &change;
    raft_id spare = cluster_raft_id(TEST_REPLICA_COUNT, 0);
    assert_int_equal(raft_add(raft_fixture_get(&cluster->fixture, test_leader(cluster)),
                              &change.request, spare, "spare", test_change_done), 0);
    test_change_run(cluster, &change);
    raft_index index = test_traffic(cluster, 3000, 4);
    raft_fixture_revive(&cluster->fixture, away);
    assert_true(raft_fixture_step_until_applied(&cluster->fixture, away, index,
                                                TEST_STEP_MSECS_MAX));
    return away;
}

/* Elected next, that follower must still carry out a change asked of it:
 * cluster_membership_step takes the spare out. */
static void test_membership_steps_on_a_leader_that_caught_up(void **state) {
    (void)state;
    static struct test_cluster cluster;
    u32 away = test_follower_catches_up_a_change(&cluster);
    raft_fixture_depose(&cluster.fixture);
    raft_fixture_elect(&cluster.fixture, away);
    test_traffic(&cluster, 4000, 2); /* the new term's entry commits the earlier ones */
    static struct cluster_membership memberships[TEST_REPLICA_COUNT + 1];
    memset(memberships, 0, sizeof(memberships));
    struct cluster_membership_request remove = {.action = CLUSTER_MEMBERSHIP_REMOVE,
                                                .replica = TEST_REPLICA_COUNT};
    assert_true(test_membership_run(&cluster, memberships, "spare", &remove) >= 2);
    struct raft *leader_raft = raft_fixture_get(&cluster.fixture, test_leader(&cluster));
    assert_int_equal(leader_raft->configuration.n, TEST_REPLICA_COUNT);
    assert_int_equal(leader_raft->configuration_uncommitted_index, 0);
    test_cluster_stop(&cluster);
}

/* On that follower, with every entry applied, cluster_membership_settle records the
 * configuration with the spare as committed (what its snapshots carry) and clears the mark. */
static void test_settle_commits_a_caught_up_change(void **state) {
    (void)state;
    static struct test_cluster cluster;
    u32 away = test_follower_catches_up_a_change(&cluster);
    struct raft *raft = raft_fixture_get(&cluster.fixture, away);
    assert_int_equal(raft->configuration.n, TEST_REPLICA_COUNT + 1);
    assert_int_equal(cluster_membership_settle(raft), 0);
    assert_int_equal(raft->configuration_uncommitted_index, 0);
    assert_int_equal(raft->configuration_committed.n, TEST_REPLICA_COUNT + 1);
    assert_int_equal(cluster_membership_settle(raft), 0); /* nothing left to do */
    test_cluster_stop(&cluster);
}

/* A malformed entry is refused whole (corrupt) and changes nothing. */
static void test_malformed_entry_changes_nothing(void **state) {
    (void)state;
    struct khorgos *engine = test_engine_open();
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, engine), KHORGOS_ERROR_ok);
    struct khorgos_account account = test_account(1);
    struct khorgos_request create = test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, &account,
                                                 sizeof(account));
    static _Alignas(16) u8 entry[1024];
    static _Alignas(16) u8 damaged[1024];
    u64 bytes = 0;
    assert_int_equal(cluster_entry_batch_encode(entry, sizeof(entry), TEST_LEADER_TIME_NS, 0,
                                                &create, 1, &bytes), KHORGOS_ERROR_ok);
    u128 digest = engine_state_digest(engine);
    /* The entry's header; a request's size (128 to 0: its kept words left over), flags (the
     * client flag without a client), reserved word, actor's reserved byte, and a client byte
     * without the flag. A size grown within the bitmap's words is another valid entry (a body
     * ending in zero words), which the unit tests of the encoding cover. */
    const size_t offsets[] = {0, 4, 6, 12, 16, 32, 40, CLUSTER_ENTRY_HEADER_BYTES + 4,
                              CLUSTER_ENTRY_HEADER_BYTES + 8, CLUSTER_ENTRY_HEADER_BYTES + 12,
                              CLUSTER_ENTRY_HEADER_BYTES + 31, CLUSTER_ENTRY_HEADER_BYTES + 40};
    for (u32 index = 0; index < ARRAY_COUNT(offsets); index++) {
        memcpy(damaged, entry, bytes);
        u8 flip = offsets[index] == CLUSTER_ENTRY_HEADER_BYTES + 4 ? 0x80 : 0x01;
        damaged[offsets[index]] ^= (offsets[index] == 16) ? 0xff : flip;
        if (offsets[index] == 16) memset(damaged + 16, 0, 8); /* timestamp 0 */
        assert_int_equal(cluster_fsm_apply(&fsm, damaged, bytes)->error, KHORGOS_ERROR_corrupt);
        assert_true(engine_state_digest(engine) == digest);
    }
    assert_int_equal(cluster_fsm_apply(&fsm, entry, bytes - 16)->error, KHORGOS_ERROR_corrupt);
    /* Unaligned, as a raft buffer may be: expanded, then applied. */
    memcpy(damaged + 8, entry, bytes);
    assert_int_equal(cluster_fsm_apply(&fsm, damaged + 8, bytes)->error, KHORGOS_ERROR_ok);
    assert_true(engine_state_digest(engine) != digest);
    cluster_fsm_deinit(&fsm); /* closes the engine */
}

/* An entry carries each request's actor and client fields: a replica authorizes the request
 * as its sender (an auditor may not create accounts) and its session table takes it (the
 * register opens the session, the next request becomes its latest), as on the leader. */
static void test_entry_carries_actor_and_session(void **state) {
    (void)state;
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, test_engine_open()), KHORGOS_ERROR_ok);
    const u128 client = 77;
    struct khorgos_client_request sessions[2] = {
        {.client = client, .checksum = 5, .request = 0, .release = 1, .batch_count = 1},
        {.client = client, .checksum = 6, .request = 1, .release = 1, .batch_count = 1},
    };
    struct khorgos_account account = test_account(1);
    struct khorgos_request requests[3] = {
        test_request(KHORGOS_OPERATION_REGISTER, NULL, 0),
        test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, &account, sizeof(account)),
        test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, &account, sizeof(account)),
    };
    requests[0].client = &sessions[0];
    requests[1].client = &sessions[1];
    requests[2].actor.role = KHORGOS_ACTOR_AUDITOR;
    static _Alignas(16) u8 entry[2048];
    u64 bytes = 0;
    assert_int_equal(cluster_entry_batch_encode(entry, sizeof(entry), TEST_LEADER_TIME_NS, 0,
                                                requests, 3, &bytes), KHORGOS_ERROR_ok);
    const struct cluster_apply_result *result = cluster_fsm_apply(&fsm, entry, bytes);
    assert_int_equal(result->error, KHORGOS_ERROR_ok);
    assert_int_equal(result->requests[0].error, KHORGOS_ERROR_ok);
    assert_int_equal(result->requests[1].error, KHORGOS_ERROR_ok);
    assert_int_equal(result->requests[2].error, KHORGOS_ERROR_forbidden);
    const struct engine_session *session = engine_session_find(fsm.engine, client);
    assert_non_null(session);
    assert_int_equal(session->request, 1);
    assert_true(session->request_checksum == 6);
    assert_true(test_credits(fsm.engine, 1) == 0 && fsm.engine->request_count >= 2);
    /* A client without its number is refused by the encoder. */
    sessions[0].client = 0;
    assert_int_equal(cluster_entry_batch_encode(entry, sizeof(entry), TEST_LEADER_TIME_NS, 0,
                                                requests, 1, &bytes),
                     KHORGOS_ERROR_invalid_argument);
    cluster_fsm_deinit(&fsm);
}

/* A follower down while the leader's log is compacted past its last entry catches up by
 * installing the leader's snapshot (the engine's snapshot format), then by the log after it,
 * and holds the same state. */
static void test_lagging_replica_installs_a_snapshot(void **state) {
    (void)state;
    static struct test_cluster cluster;
    test_cluster_start(&cluster);
    test_compaction_set(&cluster, 4, 2);
    test_assert_digests_equal(&cluster, test_traffic(&cluster, 1000, 4));
    u32 leader = test_leader(&cluster);
    u32 follower = (leader + 1) % TEST_REPLICA_COUNT;
    raft_fixture_kill(&cluster.fixture, follower);
    raft_index index = 0;
    for (u32 round = 0; round < 8; round++) index = test_traffic(&cluster, 2000 + round * 1000, 6);
    assert_true(cluster.fsms[leader].snapshots_taken > 0);
    assert_int_equal(cluster.fsms[follower].snapshots_restored, 0);
    assert_int_equal(raft_fixture_n_recv(&cluster.fixture, follower, RAFT_INSTALL_SNAPSHOT), 0);
    raft_fixture_revive(&cluster.fixture, follower);
    test_assert_digests_equal(&cluster, index);
    /* The entries it lacked were gone from the leader's log: it took the snapshot. */
    assert_int_equal(raft_fixture_n_recv(&cluster.fixture, follower, RAFT_INSTALL_SNAPSHOT), 1);
    assert_int_equal(cluster.fsms[follower].snapshots_restored, 1);
    assert_true(test_credits(cluster.fsms[follower].engine, 9001) == 60);
    /* And it applies what follows from the log, as the others do. */
    test_assert_digests_equal(&cluster, test_traffic(&cluster, 20000, 2));
    test_cluster_stop(&cluster);
}

/* A follower that comes back behind the leader's compacted log and at once takes its own
 * snapshot, slowly (2 s to write): the leader's InstallSnapshot reaches it while its snapshot
 * is being written. The hold keeps the message from raft until that snapshot is written, then
 * the follower installs the leader's and catches up. Given to raft at once, the message makes
 * raft 0.22.1 compact a log it has already moved past that snapshot, and start the held
 * install through a pointer it has just cleared: the test process crashes. */
static void test_snapshot_arriving_while_one_is_taken_waits(void **state) {
    (void)state;
    static struct test_cluster cluster;
    test_cluster_start_holding(&cluster, true);
    test_assert_digests_equal(&cluster, test_traffic(&cluster, 1000, 4));
    u32 leader = test_leader(&cluster);
    u32 follower = (leader + 1) % TEST_REPLICA_COUNT;
    struct raft *leader_raft = raft_fixture_get(&cluster.fixture, leader);
    raft_set_snapshot_threshold(leader_raft, 4);
    raft_set_snapshot_trailing(leader_raft, 2);
    raft_fixture_kill(&cluster.fixture, follower);
    raft_index index = 0;
    for (u32 round = 0; round < 8; round++) index = test_traffic(&cluster, 2000 + round * 1000, 6);
    assert_true(cluster.fsms[leader].snapshots_taken > 0);
    /* Back, it snapshots at its first step: everything it applied is past a threshold of 1. */
    raft_set_snapshot_threshold(raft_fixture_get(&cluster.fixture, follower), 1);
    raft_fixture_set_disk_latency(&cluster.fixture, follower, 2000);
    raft_fixture_revive(&cluster.fixture, follower);
    test_assert_digests_equal(&cluster, index);
    /* The leader sends it again while it waits (raft counts an unanswered one as lost). */
    assert_true(cluster.holds[follower].held_total >= 1);
    assert_int_equal(cluster.fsms[follower].snapshots_taken, 1);
    assert_int_equal(cluster.fsms[follower].snapshots_restored, 1);
    assert_true(test_credits(cluster.fsms[follower].engine, 9001) == 60);
    raft_fixture_set_disk_latency(&cluster.fixture, follower, 10);
    test_assert_digests_equal(&cluster, test_traffic(&cluster, 20000, 2));
    test_cluster_stop(&cluster);
}

/* Log compaction by bytes (cluster_raft_configure): with raft's entry threshold far away, a
 * replica takes a snapshot once the entries it applied since its last hold the bytes, keeps a
 * quarter of them, so a follower down meanwhile must install the snapshot; with a bound below
 * the last snapshot's size, the next snapshot waits for that size in bytes. */
static void test_snapshot_by_log_bytes(void **state) {
    (void)state;
    static struct test_cluster cluster;
    test_cluster_start(&cluster);
    const u64 log_bytes = 2048;
    for (u32 replica = 0; replica < TEST_REPLICA_COUNT; replica++) {
        cluster_raft_configure(raft_fixture_get(&cluster.fixture, replica),
                               &cluster.fsms[replica], CLUSTER_SNAPSHOT_THRESHOLD_ENTRIES,
                               CLUSTER_SNAPSHOT_TRAILING_ENTRIES, log_bytes);
    }
    test_traffic(&cluster, 1000, 6); /* about 1,400 bytes in two entries: no snapshot */
    u32 leader = test_leader(&cluster);
    struct cluster_fsm *fsm = &cluster.fsms[leader];
    assert_int_equal(fsm->snapshots_taken, 0);
    u32 follower = (leader + 1) % TEST_REPLICA_COUNT;
    raft_fixture_kill(&cluster.fixture, follower);
    raft_index index = 0;
    u32 round = 0;
    for (; round < 16 && fsm->snapshots_taken == 0; round++) {
        u64 before_bytes = fsm->applied_since_snapshot_bytes;
        index = test_traffic(&cluster, 2000 + round * 1000, 6);
        /* raft takes it at its next step after the apply that reached the bytes: within the
         * round after, at the latest. */
        assert_true(fsm->snapshots_taken == 1 || before_bytes < log_bytes);
    }
    assert_int_equal(fsm->snapshots_taken, 1);
    assert_true(round >= 1);
    raft_fixture_revive(&cluster.fixture, follower);
    test_assert_digests_equal(&cluster, index);
    assert_int_equal(raft_fixture_n_recv(&cluster.fixture, follower, RAFT_INSTALL_SNAPSHOT), 1);
    /* The next one: with a bound below the last snapshot's size, not before that size. */
    const u64 lower_bytes = 1024;
    cluster_raft_configure(raft_fixture_get(&cluster.fixture, leader), fsm,
                           CLUSTER_SNAPSHOT_THRESHOLD_ENTRIES, CLUSTER_SNAPSHOT_TRAILING_ENTRIES,
                           lower_bytes);
    u64 size_bytes = fsm->snapshot_last_bytes;
    assert_true(size_bytes > lower_bytes + 1400);
    bool past_bound = false; /* past lower_bytes and no snapshot: the size held it back */
    for (round = 0; round < 100 && fsm->snapshots_taken == 1; round++) {
        u64 before_bytes = fsm->applied_since_snapshot_bytes;
        test_traffic(&cluster, 100000 + round * 1000, 6);
        assert_true(fsm->snapshots_taken == 2 || before_bytes < size_bytes);
        if (fsm->snapshots_taken == 1 && before_bytes >= lower_bytes) past_bound = true;
    }
    assert_int_equal(fsm->snapshots_taken, 2);
    assert_true(past_bound);
    test_cluster_stop(&cluster);
}

/* A snapshot damaged anywhere (header, a section, the section table) or cut short is refused
 * whole, with corrupt, and the replica's state is what it was; the intact one restores. */
static void test_damaged_snapshot_is_refused(void **state) {
    (void)state;
    static struct cluster_fsm source;
    static struct cluster_fsm target;
    assert_int_equal(cluster_fsm_init(&source, test_engine_open()), KHORGOS_ERROR_ok);
    assert_int_equal(cluster_fsm_init(&target, test_engine_open()), KHORGOS_ERROR_ok);
    struct khorgos_account accounts[2] = {test_account(1), test_account(2)};
    struct khorgos_transfer transfer = test_transfer(10, 1, 2, 5);
    struct khorgos_request requests[2] = {
        test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts, sizeof(accounts)),
        test_request(KHORGOS_OPERATION_CREATE_TRANSFERS, &transfer, sizeof(transfer)),
    };
    static _Alignas(16) u8 entry[4096];
    u64 bytes = 0;
    assert_int_equal(cluster_entry_batch_encode(entry, sizeof(entry), TEST_LEADER_TIME_NS, 0,
                                                requests, 2, &bytes), KHORGOS_ERROR_ok);
    assert_int_equal(cluster_fsm_apply(&source, entry, bytes)->error, KHORGOS_ERROR_ok);
    struct raft_buffer snapshot;
    assert_int_equal(cluster_fsm_snapshot(&source, &snapshot), KHORGOS_ERROR_ok);
    struct khorgos *before = target.engine;
    u128 digest = engine_state_digest(target.engine);
    u8 *damaged = raft_malloc(snapshot.len);
    assert_non_null(damaged);
    const u64 offsets[] = {0, 40, 72, 128 + 8, snapshot.len / 2, snapshot.len - 40,
                           snapshot.len - 1};
    for (u32 index = 0; index < ARRAY_COUNT(offsets); index++) {
        memcpy(damaged, snapshot.base, snapshot.len);
        damaged[offsets[index]] ^= 0x10;
        assert_int_equal(cluster_fsm_restore(&target, damaged, snapshot.len),
                         KHORGOS_ERROR_corrupt);
        assert_ptr_equal(target.engine, before);
        assert_true(engine_state_digest(target.engine) == digest);
    }
    memcpy(damaged, snapshot.base, snapshot.len);
    assert_int_equal(cluster_fsm_restore(&target, damaged, snapshot.len - 16),
                     KHORGOS_ERROR_corrupt);
    assert_int_equal(cluster_fsm_restore(&target, damaged, 100), KHORGOS_ERROR_corrupt);
    assert_int_equal(cluster_fsm_stopped(&target), KHORGOS_ERROR_ok);
    /* Through raft's restore method: the intact one restores, taking the bytes. */
    assert_int_equal(target.raft.restore(&target.raft, &snapshot), 0);
    assert_int_equal(target.snapshots_restored, 1);
    assert_true(engine_state_digest(target.engine) == engine_state_digest(source.engine));
    assert_true(test_credits(target.engine, 2) == 5);
    /* A damaged one through raft's method: refused, the bytes stay raft's, and the replica
     * stops (raft, having dropped the snapshot, would apply nothing more). */
    digest = engine_state_digest(target.engine);
    damaged[snapshot.len / 2] ^= 0x10;
    struct raft_buffer buffer = {.base = damaged, .len = snapshot.len};
    assert_int_equal(target.raft.restore(&target.raft, &buffer), RAFT_CORRUPT);
    assert_int_equal(target.restore_error, KHORGOS_ERROR_corrupt);
    assert_int_equal(target.snapshots_restored, 1);
    assert_true(engine_state_digest(target.engine) == digest);
    assert_int_equal(cluster_fsm_stopped(&target), KHORGOS_ERROR_corrupt);
    raft_free(damaged);
    cluster_fsm_deinit(&source);
    cluster_fsm_deinit(&target);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replicas_apply_one_log_alike),
        cmocka_unit_test(test_partitioned_leader_loses_its_writes),
        cmocka_unit_test(test_killed_follower_catches_up),
        cmocka_unit_test(test_clock_tick_expires_on_every_replica),
        cmocka_unit_test(test_divergent_replica_stops),
        cmocka_unit_test(test_fresh_replica_replaces_a_lost_one),
        cmocka_unit_test(test_fresh_replica_replaces_a_lost_one_from_a_snapshot),
        cmocka_unit_test(test_slow_snapshot_install_still_promotes),
        cmocka_unit_test(test_membership_steps_add_and_remove),
        cmocka_unit_test(test_membership_steps_on_a_leader_that_caught_up),
        cmocka_unit_test(test_settle_commits_a_caught_up_change),
        cmocka_unit_test(test_malformed_entry_changes_nothing),
        cmocka_unit_test(test_entry_carries_actor_and_session),
        cmocka_unit_test(test_lagging_replica_installs_a_snapshot),
        cmocka_unit_test(test_snapshot_arriving_while_one_is_taken_waits),
        cmocka_unit_test(test_snapshot_by_log_bytes),
        cmocka_unit_test(test_damaged_snapshot_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
