/* test_storage_stop.c: a write or sync that fails stops the engine cleanly, on the simulated
 * disk (storage_io_fault.c):
 *  - a full disk (ENOSPC when a full segment's successor is preallocated) and a failed
 *    fdatasync (EIO): the call returns no_space or io once, every later call stopped, no
 *    reply of the failed batch is released, and khorgos_failure_text names the file and the
 *    cause;
 *  - after the cause is cleared (more space, no more EIO), recovery holds every acknowledged
 *    transfer and at most the attempted ones.
 * The CLI's side of the same stop (exit 1, one message, no assertion) is driven by
 * tests/apply_write_failure.sh and, on a real full file system, tests/long/disk_full.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "storage/storage.h"

#define TEST_ACCOUNTS 2u
#define TEST_BATCH_TRANSFERS 64u
#define TEST_BATCHES_MAX 4000u

static const struct storage_superblock test_superblock = {
    .format_version = STORAGE_FORMAT_VERSION, .account_count_max = 16,
    .transfer_count_max = TEST_BATCHES_MAX * TEST_BATCH_TRANSFERS,
    .account_balance_count_max = 1024, .segment_bytes = STORAGE_SEGMENT_BYTES_MIN,
    .segment_records_max = STORAGE_SEGMENT_RECORDS_MIN, .participant_count_max = 4,
    .payment_count_max = 16};

static khorgos_error execute(struct khorgos *engine, u32 operation, const void *body,
                             u32 body_size, struct khorgos_request *request) {
    static _Alignas(16) struct khorgos_create_result results[TEST_BATCH_TRANSFERS];
    *request = (struct khorgos_request){.operation = operation, .body_size = body_size,
                                        .body = body, .reply = results,
                                        .reply_capacity = sizeof(results)};
    return khorgos_execute(engine, request, 1);
}

static void accounts_create(struct khorgos *engine) {
    _Alignas(16) struct khorgos_account accounts[TEST_ACCOUNTS];
    memset(accounts, 0, sizeof(accounts));
    for (u32 index = 0; index < TEST_ACCOUNTS; index++) {
        accounts[index] = (struct khorgos_account){.id = index + 1, .ledger = 398, .code = 1};
    }
    struct khorgos_request request;
    assert_int_equal(execute(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts,
                             sizeof(accounts), &request),
                     KHORGOS_ERROR_ok);
}

/* Batch `batch` of transfers: ids batch * TEST_BATCH_TRANSFERS + 1 ... */
static khorgos_error transfers_create(struct khorgos *engine, u32 batch) {
    static _Alignas(16) struct khorgos_transfer transfers[TEST_BATCH_TRANSFERS];
    for (u32 index = 0; index < TEST_BATCH_TRANSFERS; index++) {
        transfers[index] = (struct khorgos_transfer){
            .id = (u128)batch * TEST_BATCH_TRANSFERS + index + 1, .debit_account_id = 1,
            .credit_account_id = 2, .amount = 1, .ledger = 398, .code = 1};
    }
    struct khorgos_request request;
    khorgos_error error = execute(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, transfers,
                                  sizeof(transfers), &request);
    if (error == KHORGOS_ERROR_ok) assert_int_equal(request.error, KHORGOS_ERROR_ok);
    return error;
}

/* Transfers until a call fails; returns the batches acknowledged and the failure. */
static u32 transfers_until_failure(struct khorgos *engine, khorgos_error *failure) {
    for (u32 batch = 0; batch < TEST_BATCHES_MAX; batch++) {
        khorgos_error error = transfers_create(engine, batch);
        if (error != KHORGOS_ERROR_ok) {
            *failure = error;
            return batch;
        }
    }
    fail_msg("the disk never failed");
    return 0;
}

/* The stop: one failure, then stopped for every call, and the failure's text. */
static void stopped_check(struct khorgos *engine, const char *cause) {
    char text[256];
    khorgos_failure_text(engine, text, sizeof(text));
    assert_true(strncmp(text, "journal-", 8) == 0 || strncmp(text, "headers-", 8) == 0);
    assert_non_null(strstr(text, cause));
    assert_int_equal(transfers_create(engine, TEST_BATCHES_MAX - 1), KHORGOS_ERROR_stopped);
    const u128 id = 1;
    struct khorgos_request request;
    assert_int_equal(execute(engine, KHORGOS_OPERATION_LOOKUP_ACCOUNTS, &id, sizeof(id),
                             &request),
                     KHORGOS_ERROR_stopped);
    assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_stopped);
}

/* After the cause is cleared: every acknowledged batch is there, nothing beyond the attempt. */
static void recovered_check(struct storage_io *io, u32 acknowledged) {
    const struct khorgos_open_options options = {.checkpoint_journal_bytes = UINT64_MAX};
    static struct storage_report report;
    struct khorgos *engine = NULL;
    assert_int_equal(engine_storage_open(&engine, io, false, &options, &report),
                     KHORGOS_ERROR_ok);
    const u128 id = 1;
    _Alignas(16) struct khorgos_account account;
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_LOOKUP_ACCOUNTS,
                                      .body_size = sizeof(id), .body = &id, .reply = &account,
                                      .reply_capacity = sizeof(account)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.reply_size, sizeof(account));
    u64 recovered = (u64)account.debits_posted;
    assert_true(recovered >= (u64)acknowledged * TEST_BATCH_TRANSFERS);
    assert_true(recovered <= ((u64)acknowledged + 1) * TEST_BATCH_TRANSFERS);
    assert_true(ledger_check(&engine->ledger));
    /* It serves again: the next batch after what it holds. */
    assert_int_equal(transfers_create(engine, (u32)(recovered / TEST_BATCH_TRANSFERS)),
                     KHORGOS_ERROR_ok);
    khorgos_close(engine);
}

static struct khorgos *open_fresh(struct storage_io *io) {
    assert_int_equal(engine_storage_format(io, &test_superblock), KHORGOS_ERROR_ok);
    const struct khorgos_open_options options = {.checkpoint_journal_bytes = UINT64_MAX};
    static struct storage_report report;
    struct khorgos *engine = NULL;
    assert_int_equal(engine_storage_open(&engine, io, false, &options, &report),
                     KHORGOS_ERROR_ok);
    accounts_create(engine);
    return engine;
}

static void test_full_disk_stops_cleanly(void **state) {
    (void)state;
    struct storage_fault_config config = {.seed = 7};
    struct storage_io *io = storage_fault_create(&config);
    struct khorgos *engine = open_fresh(io);
    /* Room for the files there are, and not for the next segment's. */
    u64 used = 0;
    u64 size = 0;
    const char *names[] = {"superblock", "snapshot-0000000000000000",
                           "journal-0000000000000001", "headers-0000000000000001"};
    for (u32 index = 0; index < ARRAY_COUNT(names); index++) {
        assert_int_equal(storage_fault_file(io, names[index], &size), KHORGOS_ERROR_ok);
        used += size;
    }
    config.space_bytes_max = used + STORAGE_SEGMENT_BYTES_MIN / 2;
    storage_fault_configure(io, &config);
    khorgos_error failure = KHORGOS_ERROR_ok;
    u32 acknowledged = transfers_until_failure(engine, &failure);
    assert_int_equal(failure, KHORGOS_ERROR_no_space);
    assert_true(acknowledged > 0);
    stopped_check(engine, "No space left on device");
    khorgos_close(engine);
    config.space_bytes_max = 0; /* space freed */
    storage_fault_configure(io, &config);
    recovered_check(io, acknowledged);
    storage_fault_destroy(io);
}

static void test_failed_sync_stops_cleanly(void **state) {
    (void)state;
    struct storage_fault_config config = {.seed = 11};
    struct storage_io *io = storage_fault_create(&config);
    struct khorgos *engine = open_fresh(io);
    for (u32 batch = 0; batch < 10; batch++) {
        assert_int_equal(transfers_create(engine, batch), KHORGOS_ERROR_ok);
    }
    config.sync_error_per_million = 1000000; /* every fdatasync fails from now on */
    storage_fault_configure(io, &config);
    khorgos_error failure = transfers_create(engine, 10);
    assert_int_equal(failure, KHORGOS_ERROR_io);
    stopped_check(engine, "Input/output error");
    khorgos_close(engine);
    config.sync_error_per_million = 0;
    storage_fault_configure(io, &config);
    recovered_check(io, 10);
    storage_fault_destroy(io);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_disk_stops_cleanly),
        cmocka_unit_test(test_failed_sync_stops_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
