/* test_storage_policy.c: when the engine checkpoints on its own (engine_storage.c, "Checkpoint
 * policy"), on the simulated I/O, where a checkpoint is written inside the commit that makes
 * it due, so the request it falls after is exact:
 *  - by default the first checkpoint comes after half a segment of journal; the next one only
 *    after the journal holds twice the state the first one wrote, counted across the segments
 *    it fills meanwhile, and then at once (within a request);
 *  - an operator's checkpoint_journal_bytes is taken as it is, whatever the state's size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "engine/engine.h"
#include "storage/storage.h"

#define POLICY_ACCOUNTS 8u
#define POLICY_BATCH 500u /* transfers per request: 64,000 bytes of body */
#define POLICY_REQUESTS_MAX 160u

static const struct storage_superblock policy_superblock = {
    .format_version = STORAGE_FORMAT_VERSION,
    .account_count_max = 64, /* settlement keeps some for itself */
    .transfer_count_max = POLICY_BATCH * POLICY_REQUESTS_MAX,
    .account_balance_count_max = 2 * POLICY_BATCH, /* reserved per request: two a transfer */
    .segment_bytes = STORAGE_SEGMENT_BYTES_MIN,
    .segment_records_max = STORAGE_SEGMENT_RECORDS_MIN,
    .participant_count_max = 4,
    .payment_count_max = 16,
};

static _Alignas(16) struct khorgos_transfer policy_transfers[POLICY_BATCH];
static _Alignas(16) struct khorgos_create_result policy_results[POLICY_BATCH];

static void policy_execute(struct khorgos *engine, u32 operation, const void *body, u32 size) {
    struct khorgos_request request = {.operation = operation, .body_size = size, .body = body,
                                      .reply = policy_results,
                                      .reply_capacity = sizeof(policy_results)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.error, KHORGOS_ERROR_ok);
    /* A result per event, each "created" (0 for accounts and transfers alike). */
    assert_int_equal(request.reply_size, size / 128 * sizeof(struct khorgos_create_result));
    for (u32 index = 0; index < size / 128; index++) {
        assert_int_equal(policy_results[index].status, KHORGOS_CREATE_TRANSFER_created);
        assert_int_equal(policy_results[index].status, KHORGOS_CREATE_ACCOUNT_created);
    }
}

static struct khorgos *policy_open(struct storage_io *io, u64 checkpoint_journal_bytes) {
    assert_int_equal(engine_storage_format(io, &policy_superblock), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1,
                                           .checkpoint_journal_bytes = checkpoint_journal_bytes};
    static struct storage_report report;
    struct khorgos *engine = NULL;
    assert_int_equal(engine_storage_open(&engine, io, false, &options, &report), KHORGOS_ERROR_ok);
    _Alignas(16) struct khorgos_account accounts[POLICY_ACCOUNTS];
    memset(accounts, 0, sizeof(accounts));
    for (u32 index = 0; index < POLICY_ACCOUNTS; index++) {
        accounts[index].id = index + 1;
        accounts[index].ledger = 398;
        accounts[index].code = 1;
    }
    policy_execute(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts, sizeof(accounts));
    return engine;
}

/* Runs requests of POLICY_BATCH transfers; `started[k]` receives the transfers created when
 * checkpoint k + 1 had begun. Returns how many checkpoints began. */
static u32 policy_run(struct khorgos *engine, u32 requests, u64 *started, u32 started_max) {
    u32 count = 0;
    u64 id = 1;
    for (u32 request = 0; request < requests; request++) {
        memset(policy_transfers, 0, sizeof(policy_transfers));
        for (u32 index = 0; index < POLICY_BATCH; index++, id++) {
            policy_transfers[index].id = id;
            policy_transfers[index].debit_account_id = 1 + id % POLICY_ACCOUNTS;
            policy_transfers[index].credit_account_id = 1 + (id + 1) % POLICY_ACCOUNTS;
            policy_transfers[index].amount = 1;
            policy_transfers[index].ledger = 398;
            policy_transfers[index].code = 1;
        }
        policy_execute(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, policy_transfers,
                       sizeof(policy_transfers));
        struct khorgos_checkpoint_statistics statistics;
        assert_int_equal(khorgos_checkpoint_statistics(engine, &statistics), KHORGOS_ERROR_ok);
        assert_int_equal(statistics.discarded, 0);
        assert_true(statistics.started <= count + 1); /* at most one per request */
        if (statistics.started > count) {
            assert_true(count < started_max);
            started[count++] = (u64)(request + 1) * POLICY_BATCH;
        }
    }
    return count;
}

static void test_default_policy_scales_with_the_state(void **state) {
    (void)state;
    struct storage_fault_config config = {.seed = 1};
    struct storage_io *io = storage_fault_create(&config);
    struct khorgos *engine = policy_open(io, 0);
    u64 started[4] = {0};
    const u32 count = policy_run(engine, POLICY_REQUESTS_MAX, started, 4);
    /* Half a segment of journal (each transfer is 128 bytes of it) before the first. */
    const u64 half_segment_transfers = STORAGE_SEGMENT_BYTES_MIN / 2 / 128;
    assert_true(count >= 2);
    assert_true(started[0] >= half_segment_transfers);
    assert_true(started[0] <= half_segment_transfers + POLICY_BATCH);
    /* Then twice the first one's state (at least 129 bytes a transfer: the record and its
     * state byte), several segments later; a fixed half segment would have come after about
     * half_segment_transfers more. */
    const u64 since = started[1] - started[0];
    assert_true(since * 128 >= 2 * started[0] * 129);
    assert_true(since * 128 > STORAGE_SEGMENT_BYTES_MIN); /* counted across a segment's end */
    assert_true(since >= 2 * half_segment_transfers);
    /* ...and no later than the request that crossed it (accounts and sections: a little). */
    assert_true(since * 128 <= 2 * started[0] * 129 + 2 * 4096 + (u64)POLICY_BATCH * 128);
    khorgos_close(engine);
    storage_fault_destroy(io);
}

static void test_operator_threshold_is_exact(void **state) {
    (void)state;
    struct storage_fault_config config = {.seed = 2};
    struct storage_io *io = storage_fault_create(&config);
    const u64 threshold = 256u * 1024; /* 2,048 transfers of journal */
    struct khorgos *engine = policy_open(io, threshold);
    u64 started[32] = {0};
    const u32 count = policy_run(engine, 40, started, 32);
    /* 20,000 transfers: one checkpoint per 2,048 transfers rounded up to whole requests
     * (2,500), whatever the state has grown to. */
    assert_int_equal(count, 40 * POLICY_BATCH / 2500);
    for (u32 index = 1; index < count; index++) {
        assert_int_equal(started[index] - started[index - 1], 2500);
    }
    khorgos_close(engine);
    storage_fault_destroy(io);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_policy_scales_with_the_state),
        cmocka_unit_test(test_operator_threshold_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
