/* test_storage_pace.c: a checkpoint finishes whatever follows it: journal writes, read-only
 * requests only, or nothing (storage_pace.c; engine_storage.c C6).
 *  - the pacing rules on a simulated clock: under read-only traffic or none, every wait ends
 *    within the idle bound; under steady writes, at most STORAGE_PACE_PIECES_PER_BATCH pieces
 *    go per batch written, only in the gaps between batches' writes unless too many went by;
 *  - a real checkpoint thread on a real directory, followed only by lookups (one a
 *    millisecond, so the idle bound is never reached between two requests): it completes and
 *    the process does not abort (the checkpoint's wait used to end only when no request came
 *    for 25 ms, and asserted it ended within a number of polls);
 *  - a checkpoint written inline on the simulated disk with a simulated pacing clock
 *    (engine_storage_pace_clock_set) waits on that clock before its pieces, and completes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/engine.h"
#include "storage/storage.h"

/* ---- a simulated clock -------------------------------------------------------------------- */

struct test_clock {
    u64 now_ns;
    u64 slept_ns;
};

static u64 test_clock_now(void *context) {
    const struct test_clock *clock = context;
    return clock->now_ns;
}

static void test_clock_sleep(void *context, u64 duration_ns) {
    struct test_clock *clock = context;
    clock->now_ns += duration_ns;
    clock->slept_ns += duration_ns;
}

/* Looks (one a poll) until a piece may go, the clock moving a poll between looks; returns
 * the looks it took. */
static u32 looks_until_ready(struct storage_pace *pace, struct test_clock *clock, u64 batches,
                             bool writing) {
    for (u32 looks = 1;; looks++) {
        if (storage_pace_ready(pace, clock->now_ns, batches, writing)) return looks;
        assert_true(looks <= STORAGE_PACE_IDLE_NS / STORAGE_PACE_POLL_NS + 1);
        clock->now_ns += STORAGE_PACE_POLL_NS;
    }
}

static void test_pace_read_only_or_idle_ends_every_wait(void **state) {
    (void)state;
    struct test_clock time = {.now_ns = 1000};
    const struct base_clock clock = {test_clock_now, test_clock_sleep, &time};
    struct storage_pace pace;
    storage_pace_begin(&pace, &clock);
    const u64 batches = 7; /* written before the checkpoint; none after */
    assert_int_equal(looks_until_ready(&pace, &time, batches, false), 1); /* the first: at once */
    for (u32 piece = 0; piece < 200; piece++) {
        time.now_ns += 100 * 1000; /* the piece took 0.1 ms */
        storage_pace_rest(&pace, time.now_ns);
        u64 start_ns = time.now_ns;
        looks_until_ready(&pace, &time, batches, false);
        assert_true(time.now_ns - start_ns <= STORAGE_PACE_IDLE_NS);
        pace.return_ns = time.now_ns;
        pace.returned = true;
    }
    /* Past the idle bound every piece goes at once: a long snapshot is not slowed further. */
    time.now_ns += 100 * 1000;
    storage_pace_rest(&pace, time.now_ns);
    assert_int_equal(looks_until_ready(&pace, &time, batches, false), 1);
}

static void test_pace_steady_writes(void **state) {
    (void)state;
    struct test_clock time = {.now_ns = 5};
    const struct base_clock clock = {test_clock_now, test_clock_sleep, &time};
    struct storage_pace pace;
    storage_pace_begin(&pace, &clock);
    u64 batches = 100;
    u32 pieces = 0;
    /* A batch written every millisecond; no rest (pieces take no time): each batch allows
     * STORAGE_PACE_PIECES_PER_BATCH pieces, in the gap after it. */
    for (u32 round = 0; round < 50; round++) {
        batches++;
        u32 allowed = 0;
        while (storage_pace_ready(&pace, time.now_ns, batches, false)) allowed++;
        assert_int_equal(allowed, STORAGE_PACE_PIECES_PER_BATCH);
        pieces += allowed;
        time.now_ns += 1000 * 1000;
    }
    assert_int_equal(pieces, 50 * STORAGE_PACE_PIECES_PER_BATCH);
    /* While a batch is being written, no piece, until more than BATCHES_WAITED_MAX batches
     * went by without a gap. */
    for (u32 batch = 1; batch <= STORAGE_PACE_BATCHES_WAITED_MAX; batch++) {
        batches++;
        time.now_ns += 1000 * 1000;
        assert_false(storage_pace_ready(&pace, time.now_ns, batches, true));
    }
    batches++;
    time.now_ns += 1000 * 1000;
    assert_true(storage_pace_ready(&pace, time.now_ns, batches, true));
    /* The rest: a piece that took 2 ms earns 3 times that before the next. */
    pace.return_ns = time.now_ns;
    pace.returned = true;
    time.now_ns += 2 * 1000 * 1000;
    storage_pace_rest(&pace, time.now_ns);
    batches++;
    assert_false(storage_pace_ready(&pace, time.now_ns, batches, false));
    time.now_ns += STORAGE_PACE_REST_RATIO * 2 * 1000 * 1000;
    assert_true(storage_pace_ready(&pace, time.now_ns, batches, false));
}

/* ---- the engine ---------------------------------------------------------------------------- */

#define TEST_ACCOUNTS 4u
#define TEST_TRANSFERS 24000u
#define TEST_BATCH_TRANSFERS 4000u

static void execute_ok(struct khorgos *engine, u32 operation, const void *body, u32 body_size,
                       void *reply, u32 reply_capacity) {
    struct khorgos_request request = {.operation = operation, .body_size = body_size,
                                      .body = body, .reply = reply,
                                      .reply_capacity = reply_capacity};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.error, KHORGOS_ERROR_ok);
}

/* Accounts and TEST_TRANSFERS transfers: a snapshot of about 3 MB, a dozen pieces. */
static void workload(struct khorgos *engine) {
    static _Alignas(16) struct khorgos_transfer transfers[TEST_BATCH_TRANSFERS];
    static _Alignas(16) struct khorgos_create_result results[TEST_BATCH_TRANSFERS];
    _Alignas(16) struct khorgos_account accounts[TEST_ACCOUNTS];
    memset(accounts, 0, sizeof(accounts));
    for (u32 index = 0; index < TEST_ACCOUNTS; index++) {
        accounts[index] = (struct khorgos_account){.id = index + 1, .ledger = 398, .code = 1};
    }
    execute_ok(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts, sizeof(accounts), results,
               sizeof(results));
    for (u32 first = 0; first < TEST_TRANSFERS; first += TEST_BATCH_TRANSFERS) {
        for (u32 index = 0; index < TEST_BATCH_TRANSFERS; index++) {
            u32 id = first + index + 1;
            transfers[index] = (struct khorgos_transfer){
                .id = id, .debit_account_id = 1 + id % TEST_ACCOUNTS,
                .credit_account_id = 1 + (id + 1) % TEST_ACCOUNTS, .amount = 1,
                .ledger = 398, .code = 1};
        }
        execute_ok(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, transfers, sizeof(transfers),
                   results, sizeof(results));
    }
}

static struct khorgos_checkpoint_statistics statistics_of(const struct khorgos *engine) {
    struct khorgos_checkpoint_statistics statistics;
    assert_int_equal(khorgos_checkpoint_statistics(engine, &statistics), KHORGOS_ERROR_ok);
    return statistics;
}

static const struct khorgos_config test_config = {
    .account_count_max = 16, .transfer_count_max = 32768, .account_balance_count_max = 65536,
    .participant_count_max = 4, .payment_count_max = 16};

static void test_checkpoint_followed_by_lookups_only(void **state) {
    (void)state;
    char directory[] = "/tmp/khorgos-test-pace-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char data[sizeof(directory) + 8];
    snprintf(data, sizeof(data), "%s/data", directory);
    assert_int_equal(khorgos_format(data, &test_config), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.checkpoint_journal_bytes = UINT64_MAX};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, data, &options), KHORGOS_ERROR_ok);
    workload(engine);
    assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_ok);
    assert_int_equal(statistics_of(engine).started, 1);
    /* Lookups only, one a millisecond, until the checkpoint is reaped (a later request reaps
     * it), for at most 20 s. */
    const u128 id = 1;
    _Alignas(16) struct khorgos_account account;
    u32 lookups = 0;
    const u64 start_ns = base_clock_monotonic_ns();
    while (statistics_of(engine).completed == 0 &&
           base_clock_monotonic_ns() - start_ns < 20ull * 1000 * 1000 * 1000) {
        execute_ok(engine, KHORGOS_OPERATION_LOOKUP_ACCOUNTS, &id, sizeof(id), &account,
                   sizeof(account));
        lookups++;
        struct timespec pause = {0, 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    struct khorgos_checkpoint_statistics statistics = statistics_of(engine);
    assert_int_equal(statistics.completed, 1);
    assert_int_equal(statistics.discarded, 0);
    assert_true(lookups > 1);
    khorgos_close(engine);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", directory);
    assert_int_equal(system(command), 0);
}

static void test_checkpoint_inline_on_a_simulated_clock(void **state) {
    (void)state;
    const struct storage_superblock superblock = {
        .format_version = STORAGE_FORMAT_VERSION, .account_count_max = 16,
        .transfer_count_max = 32768, .account_balance_count_max = 65536,
        .segment_bytes = STORAGE_SEGMENT_BYTES_DEFAULT,
        .segment_records_max = STORAGE_SEGMENT_RECORDS_MIN, .participant_count_max = 4,
        .payment_count_max = 16};
    const struct storage_fault_config config = {.seed = 1};
    struct storage_io *io = storage_fault_create(&config);
    assert_int_equal(engine_storage_format(io, &superblock), KHORGOS_ERROR_ok);
    const struct khorgos_open_options options = {.checkpoint_journal_bytes = UINT64_MAX};
    static struct storage_report report;
    struct khorgos *engine = NULL;
    assert_int_equal(engine_storage_open(&engine, io, false, &options, &report),
                     KHORGOS_ERROR_ok);
    struct test_clock time = {.now_ns = 1};
    const struct base_clock clock = {test_clock_now, test_clock_sleep, &time};
    engine_storage_pace_clock_set(engine, &clock);
    workload(engine);
    assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_ok); /* written inline */
    struct khorgos_checkpoint_statistics statistics = statistics_of(engine);
    assert_int_equal(statistics.completed, 1);
    /* Four pieces at once, then no batch is written: the rest waits the idle bound, on the
     * simulated clock alone, and no more than once. */
    assert_true(time.slept_ns >= STORAGE_PACE_IDLE_NS);
    assert_true(time.slept_ns <= STORAGE_PACE_IDLE_NS + STORAGE_PACE_POLL_NS);
    const u64 sequence = engine->request_count;
    khorgos_close(engine);
    assert_int_equal(engine_storage_open(&engine, io, false, &options, &report),
                     KHORGOS_ERROR_ok);
    assert_int_equal(engine->request_count, sequence);
    assert_null(strstr(report.message, "previous"));
    khorgos_close(engine);
    storage_fault_destroy(io);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pace_read_only_or_idle_ends_every_wait),
        cmocka_unit_test(test_pace_steady_writes),
        cmocka_unit_test(test_checkpoint_followed_by_lookups_only),
        cmocka_unit_test(test_checkpoint_inline_on_a_simulated_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
