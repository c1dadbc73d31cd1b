/* test_storage_pipeline.c: the pipelined commit (khorgos_execute_begin / khorgos_execute_wait;
 * storage_journal_submit, drain and wait; docs/storage.md, "Pipelined commit"):
 *  - on a real directory, with the journal's writer thread: batches begun while the one before
 *    is in flight all apply (each spends what those before it credited), a lookup sees every
 *    batch begun before it, all of them are durable once waited for, reopening reproduces the
 *    state and the chain head, and a batch begun but never waited for is finished by close;
 *  - the chain head is refused while a batch is in flight, and a ticket from the future too;
 *  - on the simulated disk, a failed fdatasync of a batch in flight is reported by the wait
 *    for it (io), not by the begin that submitted it; from then on the engine is stopped, and
 *    reopening recovers exactly the batches that were waited for;
 *  - a checkpoint begun over a batch whose fdatasync failed is never sealed nor published
 *    (W4): it reports the failure, and the next open recovers the batches waited for;
 *  - the journal's statistics count every batch written and file its time: on a simulated
 *    disk whose syncs take 6 ms, each batch (two syncs) counts as over 5 and over 10 ms, and
 *    an engine in memory has none (invalid_operation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "storage/storage.h"

#define PIPELINE_ACCOUNTS 4u
#define PIPELINE_BATCH 64u
#define PIPELINE_BATCHES 40u

static const struct khorgos_config pipeline_config = {
    .account_count_max = 64, .transfer_count_max = 8192, .account_balance_count_max = 256,
    .participant_count_max = 4, .payment_count_max = 16, .clock_manual = 1};

/* Two slots: one batch in flight while the next is applied. */
static _Alignas(16) struct khorgos_transfer pipeline_transfers[2][PIPELINE_BATCH];
static _Alignas(16) struct khorgos_create_result pipeline_results[2][PIPELINE_BATCH];

static void pipeline_accounts(struct khorgos *engine) {
    _Alignas(16) struct khorgos_account accounts[PIPELINE_ACCOUNTS];
    _Alignas(16) struct khorgos_create_result results[PIPELINE_ACCOUNTS];
    memset(accounts, 0, sizeof(accounts));
    for (u32 index = 0; index < PIPELINE_ACCOUNTS; index++) {
        accounts[index] = (struct khorgos_account){.id = index + 1, .ledger = 398, .code = 1};
    }
    /* Account 1 may not go into debit beyond its credits: every batch after the first spends
     * what the ones before it credited. */
    accounts[0].flags = KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_CREATE_ACCOUNTS,
                                      .body = accounts, .body_size = sizeof(accounts),
                                      .reply = results, .reply_capacity = sizeof(results)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
}

/* Batch b: transfers 2 -> 1 of 10 each, then (from the second batch on) one 1 -> 3 that only
 * the credits of the batch before it can cover. */
static struct khorgos_request pipeline_request(u32 batch) {
    struct khorgos_transfer *transfers = pipeline_transfers[batch % 2];
    memset(transfers, 0, sizeof(pipeline_transfers[0]));
    for (u32 index = 0; index < PIPELINE_BATCH; index++) {
        transfers[index] = (struct khorgos_transfer){
            .id = 1 + (u128)batch * PIPELINE_BATCH + index, .debit_account_id = 2,
            .credit_account_id = 1, .amount = 10, .ledger = 398, .code = 1};
    }
    if (batch > 0) { /* spends what the batch before credited to account 1, and no more */
        transfers[0].debit_account_id = 1;
        transfers[0].credit_account_id = 3;
        transfers[0].amount = 10 * (PIPELINE_BATCH - 1);
    }
    return (struct khorgos_request){.operation = KHORGOS_OPERATION_CREATE_TRANSFERS,
                                    .body = transfers, .body_size = sizeof(pipeline_transfers[0]),
                                    .reply = pipeline_results[batch % 2],
                                    .reply_capacity = sizeof(pipeline_results[0])};
}

static void pipeline_check_replies(const struct khorgos_request *request) {
    assert_int_equal(request->error, KHORGOS_ERROR_ok);
    assert_int_equal(request->reply_size, PIPELINE_BATCH * sizeof(struct khorgos_create_result));
    const struct khorgos_create_result *results = request->reply;
    for (u32 index = 0; index < PIPELINE_BATCH; index++) {
        assert_int_equal(results[index].status, KHORGOS_CREATE_TRANSFER_created);
    }
}

static struct khorgos_account pipeline_lookup(struct khorgos *engine, u128 id, u64 *ticket) {
    _Alignas(16) u128 ids[1] = {id};
    _Alignas(16) struct khorgos_account account;
    memset(&account, 0, sizeof(account));
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_LOOKUP_ACCOUNTS,
                                      .body = ids, .body_size = sizeof(ids), .reply = &account,
                                      .reply_capacity = sizeof(account)};
    assert_int_equal(khorgos_execute_begin(engine, &request, 1, ticket), KHORGOS_ERROR_ok);
    assert_int_equal(request.reply_size, sizeof(account));
    return account;
}

/* Runs the batches two at a time; leaves the last one begun and not waited for. */
static void pipeline_run(struct khorgos *engine) {
    struct khorgos_request requests[2];
    u64 tickets[2] = {0, 0};
    for (u32 batch = 0; batch < PIPELINE_BATCHES; batch++) {
        requests[batch % 2] = pipeline_request(batch);
        assert_int_equal(khorgos_execute_begin(engine, &requests[batch % 2], 1, &tickets[batch % 2]),
                         KHORGOS_ERROR_ok);
        assert_true(tickets[batch % 2] == engine->request_count);
        if (batch == 0) continue;
        /* The batch before is still (or may still be) in flight: its head is not final. */
        u8 head[32];
        u64 sequence = 0;
        assert_int_equal(khorgos_chain_head(engine, head, &sequence),
                         KHORGOS_ERROR_invalid_operation);
        assert_int_equal(khorgos_execute_wait(engine, tickets[(batch - 1) % 2]), KHORGOS_ERROR_ok);
        pipeline_check_replies(&requests[(batch - 1) % 2]);
    }
    assert_int_equal(khorgos_execute_wait(engine, engine->request_count + 1),
                     KHORGOS_ERROR_invalid_argument); /* a ticket no begin gave */
    /* A lookup begun now sees every batch begun before it, the last one included. */
    u64 ticket = 0;
    struct khorgos_account account = pipeline_lookup(engine, 2, &ticket);
    assert_true(account.debits_posted == (u128)10 * PIPELINE_BATCH * PIPELINE_BATCHES -
                                             10 * (PIPELINE_BATCHES - 1));
    assert_int_equal(khorgos_execute_wait(engine, ticket), KHORGOS_ERROR_ok);
    pipeline_check_replies(&requests[(PIPELINE_BATCHES - 1) % 2]);
    requests[0] = pipeline_request(PIPELINE_BATCHES); /* begun, never waited for */
    assert_int_equal(khorgos_execute_begin(engine, &requests[0], 1, &tickets[0]), KHORGOS_ERROR_ok);
}

static void test_pipelined_batches_are_ordered_and_durable(void **state) {
    (void)state;
    char directory[] = "/tmp/khorgos-test-pipeline-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char data[sizeof(directory) + 8];
    snprintf(data, sizeof(data), "%s/data", directory);
    assert_int_equal(khorgos_format(data, &pipeline_config), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, data, &options), KHORGOS_ERROR_ok);
    pipeline_accounts(engine);
    pipeline_run(engine);
    const u64 sequence_final = engine->request_count;
    khorgos_close(engine); /* finishes the batch begun last */

    assert_int_equal(khorgos_open(&engine, data, &options), KHORGOS_ERROR_ok);
    assert_int_equal(engine->request_count, sequence_final);
    u8 head[32];
    u64 sequence = 0;
    assert_int_equal(khorgos_chain_head(engine, head, &sequence), KHORGOS_ERROR_ok);
    assert_int_equal(sequence, sequence_final);
    u64 ticket = 0;
    struct khorgos_account account = pipeline_lookup(engine, 1, &ticket);
    assert_int_equal(khorgos_execute_wait(engine, ticket), KHORGOS_ERROR_ok);
    /* Every batch credited 10 x 64 and every one after the first spent 630 of it. */
    assert_true(account.credits_posted == (u128)10 * PIPELINE_BATCH * (PIPELINE_BATCHES + 1) -
                                              10 * PIPELINE_BATCHES);
    assert_true(account.debits_posted == (u128)10 * (PIPELINE_BATCH - 1) * PIPELINE_BATCHES);
    assert_true(ledger_check(&engine->ledger));
    khorgos_close(engine);
    char command[256];
    snprintf(command, sizeof(command), "rm -rf '%s'", directory);
    assert_int_equal(system(command), 0);
}

static const struct storage_superblock pipeline_superblock = {
    .format_version = STORAGE_FORMAT_VERSION,
    .account_count_max = 64,
    .transfer_count_max = 8192,
    .account_balance_count_max = 256,
    .segment_bytes = STORAGE_SEGMENT_BYTES_MIN,
    .segment_records_max = STORAGE_SEGMENT_RECORDS_MIN,
    .participant_count_max = 4,
    .payment_count_max = 16,
};

static struct khorgos_open_options pipeline_options = {.clock_manual = 1,
                                                       .checkpoint_journal_bytes = UINT64_MAX};

/* Formats the simulated disk and opens it with only operator checkpoints, accounts made. */
static struct khorgos *pipeline_open(struct storage_io *io) {
    assert_int_equal(engine_storage_format(io, &pipeline_superblock), KHORGOS_ERROR_ok);
    static struct storage_report report;
    struct khorgos *engine = NULL;
    assert_int_equal(engine_storage_open(&engine, io, false, &pipeline_options, &report),
                     KHORGOS_ERROR_ok);
    assert_non_null(engine);
    pipeline_accounts(engine);
    return engine;
}

/* Crashes the simulated disk (what was never synced may be lost, as at a power failure),
 * heals it, and checks that the next open recovers exactly the `durable` requests. */
static void pipeline_recover(struct storage_io *io, struct storage_fault_config *config,
                             u64 durable) {
    storage_fault_crash(io);
    config->sync_error_per_million = 0;
    storage_fault_configure(io, config);
    static struct storage_report report;
    struct khorgos *engine = NULL;
    assert_int_equal(engine_storage_open(&engine, io, false, &pipeline_options, &report),
                     KHORGOS_ERROR_ok);
    assert_int_equal(engine->request_count, durable); /* the failed batch is not there */
    assert_true(ledger_check(&engine->ledger));
    khorgos_close(engine);
    storage_fault_destroy(io);
}

static void test_failed_sync_is_reported_by_the_wait(void **state) {
    (void)state;
    struct storage_fault_config config = {.seed = 7};
    struct storage_io *io = storage_fault_create(&config);
    struct khorgos *engine = pipeline_open(io);
    struct khorgos_request first = pipeline_request(0);
    u64 first_ticket = 0;
    assert_int_equal(khorgos_execute_begin(engine, &first, 1, &first_ticket), KHORGOS_ERROR_ok);
    assert_int_equal(khorgos_execute_wait(engine, first_ticket), KHORGOS_ERROR_ok);
    const u64 durable = engine->request_count;
    config.sync_error_per_million = 1000000; /* every fdatasync from now on */
    storage_fault_configure(io, &config);
    struct khorgos_request second = pipeline_request(1);
    u64 second_ticket = 0;
    assert_int_equal(khorgos_execute_begin(engine, &second, 1, &second_ticket), KHORGOS_ERROR_ok);
    assert_int_equal(khorgos_execute_wait(engine, second_ticket), KHORGOS_ERROR_io);
    assert_true(engine->stopped);
    struct khorgos_request third = pipeline_request(2);
    u64 third_ticket = 0;
    assert_int_equal(khorgos_execute_begin(engine, &third, 1, &third_ticket), KHORGOS_ERROR_stopped);
    assert_int_equal(khorgos_execute_wait(engine, second_ticket), KHORGOS_ERROR_stopped);
    khorgos_close(engine);

    pipeline_recover(io, &config, durable);
}

/* W4 on the simulated disk: a checkpoint begun while the batch ending at its sequence failed
 * to sync is never sealed nor published; the checkpoint reports the failure and stops the
 * engine; reopening recovers what was waited for, from the snapshot before. */
static void test_checkpoint_of_a_failed_batch_is_discarded(void **state) {
    (void)state;
    struct storage_fault_config config = {.seed = 11};
    struct storage_io *io = storage_fault_create(&config);
    struct khorgos *engine = pipeline_open(io);
    const u64 durable = engine->request_count;
    config.sync_error_per_million = 1000000;
    storage_fault_configure(io, &config);
    struct khorgos_request request = pipeline_request(0);
    u64 ticket = 0;
    assert_int_equal(khorgos_execute_begin(engine, &request, 1, &ticket), KHORGOS_ERROR_ok);
    const u64 sequence = engine->request_count;
    assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_io);
    assert_true(engine->stopped);
    assert_int_equal(khorgos_execute_wait(engine, ticket), KHORGOS_ERROR_stopped); /* once */
    struct storage_listing listing;
    assert_int_equal(storage_list(io, &listing), KHORGOS_ERROR_ok);
    for (u32 index = 0; index < listing.snapshot_count; index++) {
        assert_true(listing.snapshots[index] < sequence);
    }
    assert_int_equal(listing.temporary_count, 0); /* the unsealed .tmp was removed */
    khorgos_close(engine);

    pipeline_recover(io, &config, durable);
}

static void test_journal_statistics_time_every_batch(void **state) {
    (void)state;
    const u64 sync_delay_ns = 6ull * 1000 * 1000;
    struct storage_fault_config config = {.seed = 13};
    struct storage_io *io = storage_fault_create(&config);
    struct khorgos *engine = pipeline_open(io);
    struct khorgos_journal_statistics before;
    assert_int_equal(khorgos_journal_statistics(engine, &before), KHORGOS_ERROR_ok);
    assert_true(before.flights >= 1); /* the accounts' batch, at least */
    assert_true(before.flights_over_10_ms <= before.flights_over_5_ms);
    assert_true(before.flights_over_5_ms <= before.flights);
    config.sync_delay_ns = sync_delay_ns;
    storage_fault_configure(io, &config);
    const u32 batches = 3;
    for (u32 batch = 0; batch < batches; batch++) {
        struct khorgos_request request = pipeline_request(batch);
        assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
        pipeline_check_replies(&request);
    }
    struct khorgos_journal_statistics after;
    assert_int_equal(khorgos_journal_statistics(engine, &after), KHORGOS_ERROR_ok);
    assert_int_equal(after.flights - before.flights, batches);
    assert_int_equal(after.flights_over_5_ms - before.flights_over_5_ms, batches);
    assert_int_equal(after.flights_over_10_ms - before.flights_over_10_ms, batches);
    assert_true(after.flight_ns_max >= 2 * sync_delay_ns);
    khorgos_close(engine);
    storage_fault_destroy(io);

    struct khorgos *memory = NULL;
    assert_int_equal(khorgos_open_memory(&memory, &pipeline_config), KHORGOS_ERROR_ok);
    assert_int_equal(khorgos_journal_statistics(memory, &after), KHORGOS_ERROR_invalid_operation);
    khorgos_close(memory);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_batches_are_ordered_and_durable),
        cmocka_unit_test(test_failed_sync_is_reported_by_the_wait),
        cmocka_unit_test(test_checkpoint_of_a_failed_batch_is_discarded),
        cmocka_unit_test(test_journal_statistics_time_every_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
