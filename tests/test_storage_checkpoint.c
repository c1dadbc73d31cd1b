/* test_storage_checkpoint.c: checkpoints written by a thread from a capture while commits go
 * on (engine_storage.c, invariants C1-C5; ledger_snapshot.c, V1-V3):
 *  - a captured ledger view keeps its digest and its section bytes while later requests post
 *    and void pending transfers, expire one, change balances and append records;
 *  - the settlement section written to memory carries settle_digest as its checksum (the
 *    checkpoint's digest relies on it), and a too-small buffer reports the size it needs;
 *  - on a real directory, a checkpoint begun and then overtaken by commits publishes a
 *    snapshot whose digest is the live digest at its sequence; check passes; recovery from it
 *    (no fallback) reproduces the final state;
 *  - a checkpoint begun while a batch is in flight (W4, C7) covers that batch, starts no
 *    segment, and its snapshot, sealed with the chain head the writer handed over, is the one
 *    recovery starts from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/engine.h"
#include "storage/storage.h"

#define ACCOUNT_COUNT 4u
#define SECTION_BYTES_MAX (1u << 20)

static const struct khorgos_config test_config = {
    .account_count_max = 16, .transfer_count_max = 1024, .account_balance_count_max = 256,
    .participant_count_max = 4, .payment_count_max = 16, .clock_manual = 1};

static void execute_one(struct khorgos *engine, u32 operation, const void *body, u32 body_size) {
    _Alignas(16) struct khorgos_create_result results[8];
    assert_true(body_size / 128 <= ARRAY_COUNT(results));
    struct khorgos_request request = {.operation = operation, .body_size = body_size,
                                      .body = body, .reply = results,
                                      .reply_capacity = sizeof(results)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    for (u32 index = 0; index < body_size / 128; index++) {
        assert_int_equal(results[index].status, KHORGOS_CREATE_TRANSFER_created);
    }
}

static void accounts_create(struct khorgos *engine) {
    _Alignas(16) struct khorgos_account accounts[ACCOUNT_COUNT];
    memset(accounts, 0, sizeof(accounts));
    for (u32 index = 0; index < ACCOUNT_COUNT; index++) {
        accounts[index].id = index + 1;
        accounts[index].ledger = 398;
        accounts[index].code = 1;
        accounts[index].flags = KHORGOS_ACCOUNT_HISTORY; /* history entries are appended too */
    }
    execute_one(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts, sizeof(accounts));
}

static void transfer_create(struct khorgos *engine, u128 id, u32 flags, u128 pending_id,
                            u32 timeout) {
    _Alignas(16) struct khorgos_transfer transfer;
    memset(&transfer, 0, sizeof(transfer));
    transfer.id = id;
    transfer.debit_account_id = 1 + (u32)(id % ACCOUNT_COUNT);
    transfer.credit_account_id = 1 + (u32)((id + 1) % ACCOUNT_COUNT);
    transfer.amount = 10 + (u32)(id % 7);
    if (flags & KHORGOS_TRANSFER_POST_PENDING_TRANSFER) transfer.amount = KHORGOS_AMOUNT_MAX;
    if (flags & KHORGOS_TRANSFER_VOID_PENDING_TRANSFER) transfer.amount = 0; /* the whole */
    transfer.ledger = 398;
    transfer.code = 1;
    transfer.flags = (u16)flags;
    transfer.pending_id = pending_id;
    transfer.timeout = timeout;
    if (pending_id != 0) { /* post or void: the pending transfer's accounts and amount */
        transfer.debit_account_id = 0;
        transfer.credit_account_id = 0;
        transfer.ledger = 0;
        transfer.code = 0;
    }
    execute_one(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, &transfer, sizeof(transfer));
}

/* Some settled transfers and pending ones (1001.. with a timeout, 2001.. without). */
static void workload_before(struct khorgos *engine) {
    accounts_create(engine);
    for (u32 index = 0; index < 6; index++) transfer_create(engine, 100 + index, 0, 0, 0);
    for (u32 index = 0; index < 4; index++) {
        transfer_create(engine, 1001 + index, KHORGOS_TRANSFER_PENDING, 0, 60 * (index + 1));
        transfer_create(engine, 2001 + index, KHORGOS_TRANSFER_PENDING, 0, 0);
    }
}

/* Changes every kind of state a view copies or reads: balances, transfer states (post, void,
 * expire), the expiry heap, and appended transfers and history. */
static void workload_after(struct khorgos *engine) {
    transfer_create(engine, 3001, KHORGOS_TRANSFER_POST_PENDING_TRANSFER, 2001, 0);
    transfer_create(engine, 3002, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER, 1002, 0);
    transfer_create(engine, 3003, KHORGOS_TRANSFER_POST_PENDING_TRANSFER, 1003, 0);
    assert_int_equal(khorgos_clock_advance(engine, 61ull * 1000000000ull), KHORGOS_ERROR_ok);
    for (u32 index = 0; index < 5; index++) transfer_create(engine, 4001 + index, 0, 0, 0);
    transfer_create(engine, 5001, KHORGOS_TRANSFER_PENDING, 0, 30);
}

static u128 state_digest(const struct khorgos *engine) {
    return engine_state_digest(engine);
}

static u128 view_section(const struct ledger_view *view, u8 *bytes, u64 *size) {
    struct storage_writer writer;
    storage_writer_memory_begin(&writer, bytes, SECTION_BYTES_MAX);
    ledger_view_write(view, &writer);
    struct storage_section_header section;
    assert_int_equal(storage_writer_memory_end(&writer, &section), KHORGOS_ERROR_ok);
    assert_int_equal(section.module, STORAGE_SECTION_LEDGER);
    *size = section.size;
    return section.checksum;
}

static void test_captured_view_ignores_later_requests(void **state) {
    (void)state;
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &test_config), KHORGOS_ERROR_ok);
    workload_before(engine);
    static struct khorgos_account accounts[16];
    static u8 transfer_states[1024];
    static struct ledger_expiry expiries[1024];
    struct ledger_view view;
    ledger_view_capture(&engine->ledger, &view, accounts, transfer_states, expiries);
    const u128 digest_before = ledger_digest(&engine->ledger);
    assert_true(ledger_view_digest(&view) == digest_before);
    static u8 bytes_before[SECTION_BYTES_MAX];
    static u8 bytes_after[SECTION_BYTES_MAX];
    u64 size_before = 0, size_after = 0;
    const u128 checksum_before = view_section(&view, bytes_before, &size_before);
    const u32 transfer_count = engine->ledger.transfer_count;
    const u32 balance_count = engine->ledger.balance_count;

    workload_after(engine);
    assert_true(engine->ledger.transfer_count > transfer_count);
    assert_true(engine->ledger.balance_count > balance_count);
    assert_true(ledger_digest(&engine->ledger) != digest_before);
    assert_true(ledger_view_digest(&view) == digest_before);
    const u128 checksum_after = view_section(&view, bytes_after, &size_after);
    assert_true(checksum_after == checksum_before);
    assert_int_equal(size_after, size_before);
    assert_memory_equal(bytes_after, bytes_before, size_before);
    /* The live view is the live state. */
    struct ledger_view live;
    ledger_view_live(&engine->ledger, &live);
    assert_true(ledger_view_digest(&live) == ledger_digest(&engine->ledger));
    khorgos_close(engine);
}

static void test_settlement_section_in_memory_is_its_digest(void **state) {
    (void)state;
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &test_config), KHORGOS_ERROR_ok);
    workload_before(engine);
    static u8 bytes[SECTION_BYTES_MAX];
    struct storage_writer writer;
    storage_writer_memory_begin(&writer, bytes, sizeof(bytes));
    settle_snapshot_write(&engine->settle, &writer);
    struct storage_section_header section;
    assert_int_equal(storage_writer_memory_end(&writer, &section), KHORGOS_ERROR_ok);
    assert_int_equal(section.module, STORAGE_SECTION_SETTLE);
    assert_true(section.size > 0);
    assert_true(section.checksum == settle_digest(&engine->settle));
    assert_true(base_checksum128(bytes, section.size) == section.checksum);
    /* Too small: nothing usable, and the size it needs. */
    storage_writer_memory_begin(&writer, bytes, section.size - 1);
    settle_snapshot_write(&engine->settle, &writer);
    struct storage_section_header short_section;
    assert_int_equal(storage_writer_memory_end(&writer, &short_section), KHORGOS_ERROR_no_space);
    assert_int_equal(short_section.size, section.size);
    khorgos_close(engine);
}

static void snapshot_digest_read(const char *data, u64 sequence, u128 *digest) {
    struct storage_io *io = NULL;
    assert_int_equal(storage_io_posix_create(data, STORAGE_POSIX_READ, &io, NULL),
                     KHORGOS_ERROR_ok);
    struct storage_superblock superblock;
    assert_int_equal(storage_superblock_read(io, &superblock), KHORGOS_ERROR_ok);
    struct storage *storage = NULL;
    assert_int_equal(storage_create(io, &superblock, &storage), KHORGOS_ERROR_ok);
    struct storage_snapshot_header header;
    assert_int_equal(storage_snapshot_header_read(storage, sequence, &header), KHORGOS_ERROR_ok);
    *digest = header.digest;
    storage_destroy(storage);
    static struct storage_report report;
    assert_int_equal(engine_storage_check(io, &report), KHORGOS_ERROR_ok);
    storage_io_posix_destroy(io);
}

/* A data directory in a fresh temporary directory, opened with only operator checkpoints. */
struct checkpoint_fixture {
    char directory[sizeof("/tmp/khorgos-test-checkpoint-XXXXXX")];
    char data[sizeof("/tmp/khorgos-test-checkpoint-XXXXXX") + 8];
    struct khorgos_open_options options;
};

static struct khorgos *fixture_open(struct checkpoint_fixture *fixture) {
    snprintf(fixture->directory, sizeof(fixture->directory), "%s",
             "/tmp/khorgos-test-checkpoint-XXXXXX");
    assert_non_null(mkdtemp(fixture->directory));
    snprintf(fixture->data, sizeof(fixture->data), "%s/data", fixture->directory);
    assert_int_equal(khorgos_format(fixture->data, &test_config), KHORGOS_ERROR_ok);
    fixture->options = (struct khorgos_open_options){.clock_manual = 1,
                                                     .checkpoint_journal_bytes = UINT64_MAX};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, fixture->data, &fixture->options), KHORGOS_ERROR_ok);
    assert_non_null(engine);
    return engine;
}

/* After close: snapshot-<sequence> records the digest the live state had at sequence (check
 * verifies its chain head too), the next open starts from it, not from the previous one, and
 * replays to the final state; then the directory is removed. */
static void fixture_recover(struct checkpoint_fixture *fixture, u64 sequence,
                            u128 digest_at_sequence, u64 sequence_final, u128 digest_final) {
    u128 recorded = 0;
    snapshot_digest_read(fixture->data, sequence, &recorded);
    assert_true(recorded == digest_at_sequence);
    char report[512] = "";
    fixture->options.report = report;
    fixture->options.report_capacity = sizeof(report);
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, fixture->data, &fixture->options), KHORGOS_ERROR_ok);
    assert_null(strstr(report, "previous")); /* loaded snapshot-<sequence>, its digest held */
    assert_int_equal(engine->request_count, sequence_final);
    assert_true(state_digest(engine) == digest_final);
    assert_true(ledger_check(&engine->ledger));
    khorgos_close(engine);
    char command[256];
    snprintf(command, sizeof(command), "rm -rf '%s'", fixture->directory);
    assert_int_equal(system(command), 0);
}

static void test_checkpoint_overtaken_by_commits(void **state) {
    (void)state;
    struct checkpoint_fixture fixture;
    struct khorgos *engine = fixture_open(&fixture);
    workload_before(engine);
    const u64 sequence = engine->request_count;
    const u128 digest_at_sequence = state_digest(engine);
    assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_ok);
    workload_after(engine); /* while the thread writes, or after: the snapshot must not care */
    assert_true(state_digest(engine) != digest_at_sequence);
    struct khorgos_checkpoint_statistics statistics;
    assert_int_equal(khorgos_checkpoint_statistics(engine, &statistics), KHORGOS_ERROR_ok);
    assert_int_equal(statistics.started, 1);
    assert_int_equal(statistics.discarded, 0);
    assert_true(statistics.completed == 1 || statistics.sequence_running == sequence);
    const u128 digest_final = state_digest(engine);
    const u64 sequence_final = engine->request_count;
    khorgos_close(engine); /* waits for the thread and publishes */
    fixture_recover(&fixture, sequence, digest_at_sequence, sequence_final, digest_final);
}

/* Whether the data directory holds a journal segment that starts at `first`. */
static bool segment_exists(const char *data, u64 first) {
    char name[STORAGE_NAME_BYTES_MAX];
    storage_name(STORAGE_FILE_JOURNAL, first, name);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", data, name);
    return access(path, F_OK) == 0;
}

/* W4, C7: a checkpoint begun between khorgos_execute_begin and its wait captures the state
 * with that batch applied, starts no segment (the batch still flies), takes the chain head at
 * its sequence from the writer, and publishes a snapshot recovery starts from. */
static void test_checkpoint_begun_with_a_batch_in_flight(void **state) {
    (void)state;
    struct checkpoint_fixture fixture;
    struct khorgos *engine = fixture_open(&fixture);
    workload_before(engine);
    _Alignas(16) struct khorgos_transfer transfer = {
        .id = 9001, .debit_account_id = 1, .credit_account_id = 2, .amount = 5, .ledger = 398,
        .code = 1};
    _Alignas(16) struct khorgos_create_result result;
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_CREATE_TRANSFERS,
                                      .body = &transfer, .body_size = sizeof(transfer),
                                      .reply = &result, .reply_capacity = sizeof(result)};
    u64 ticket = 0;
    assert_int_equal(khorgos_execute_begin(engine, &request, 1, &ticket), KHORGOS_ERROR_ok);
    const u64 sequence = engine->request_count; /* the batch in flight included */
    const u128 digest_at_sequence = state_digest(engine);
    assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_ok);
    assert_false(segment_exists(fixture.data, sequence + 1)); /* no segment start while it flew */
    assert_int_equal(khorgos_execute_wait(engine, ticket), KHORGOS_ERROR_ok);
    assert_int_equal(result.status, KHORGOS_CREATE_TRANSFER_created);
    workload_after(engine);
    struct khorgos_checkpoint_statistics statistics;
    assert_int_equal(khorgos_checkpoint_statistics(engine, &statistics), KHORGOS_ERROR_ok);
    assert_int_equal(statistics.started, 1);
    assert_int_equal(statistics.discarded, 0);
    const u128 digest_final = state_digest(engine);
    const u64 sequence_final = engine->request_count;
    khorgos_close(engine);
    fixture_recover(&fixture, sequence, digest_at_sequence, sequence_final, digest_final);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_captured_view_ignores_later_requests),
        cmocka_unit_test(test_settlement_section_in_memory_is_its_digest),
        cmocka_unit_test(test_checkpoint_overtaken_by_commits),
        cmocka_unit_test(test_checkpoint_begun_with_a_batch_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
