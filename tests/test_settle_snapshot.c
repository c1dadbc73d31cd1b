/* test_settle_snapshot.c: settlement state across storage. (1) The layer's snapshot section
 * (settle_snapshot.c) written and read back through the storage layer beside the ledger's: the
 * same state (digests equal) and the same answers to the same requests afterwards, timers
 * included. (2) A recorded business day in a data directory (khorgos_format/khorgos_open):
 * reopening replays the journal, internal settle pulses included, to byte-identical ledger and
 * settlement state. (3) A snapshot in memory installed into a data directory's engine
 * (engine_snapshot_install, as a lagging replica takes its leader's): refused whole when
 * damaged, else the engine holds its state and settles on as the source does, and reopened the
 * directory holds it too. (4) `khorgos check` and `khorgos inspect` of a directory whose journal
 * starts at such a snapshot: the last sequence is the snapshot's (plus the records after it),
 * the state is verified from it, and --from-genesis fails naming the install. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "storage/storage.h"

#include "settle_rtgs_fixture.h"
#include "settle_snapshot_round_trip.h"

/* An agent and three banks holding KZT (A, B, C), the day open with `mode` and `flags`. */
static struct khorgos *test_system(u8 mode, u8 flags) {
    struct khorgos *engine = test_open();
    assert_int_equal(test_participant(engine, "NBRKKZKX", KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, CNY),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, "HSBKKZKX", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, "KCJBKZKX", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, "CASPKZKA", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_open_day(engine, KZT, DAY_1, mode, flags, 0, 0, 0), KHORGOS_SETTLE_ok);
    return engine;
}

#define A "HSBKKZKX"
#define B "KCJBKZKX"
#define C "CASPKZKA"

/* The layer's snapshot section, written and read back through the storage layer beside the
 * ledger's, gives the same state (digests equal) and the same answers afterwards. */
static void test_snapshot_round_trip(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO,
                                         KHORGOS_DAY_RESOLUTION_ON_REQUEST);
    test_fund(engine, A, KZT, 100);
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_SET_CREDIT_LINES, B, KZT, 30)
                         .status,
                     KHORGOS_SETTLE_ok);
    struct khorgos_participant_event bilateral = {.id = 700, .amount = 500, .currency = KZT,
                                                  .limit_kind = KHORGOS_LIMIT_BILATERAL};
    memcpy(bilateral.bic, A, 8);
    memcpy(bilateral.counterparty, C, 8);
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_SET_LIMITS, &bilateral, sizeof(bilateral))
                         .status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_pay(engine, 1, A, B, 60, KZT), KHORGOS_SETTLE_settled);
    assert_int_equal(test_pay(engine, 2, A, C, 70, KZT), KHORGOS_SETTLE_queued);
    struct khorgos_payment timed = test_payment_event(3, C, B, 500, KZT);
    timed.settle_by = khorgos_clock_now(engine) + 100 * SECOND_NS;
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &timed, sizeof(timed)).status,
                     KHORGOS_SETTLE_queued);

    struct khorgos *copy = test_open();
    settle_snapshot_round_trip(engine, copy, 3, 1u << 16, 1u << 16);

    /* The same requests on both: the same answers and states, timers included. */
    struct khorgos *engines[2] = {engine, copy};
    u128 request_id_start = test_request_id;
    for (u32 index = 0; index < 2; index++) {
        test_request_id = request_id_start;
        assert_int_equal(test_pay(engines[index], 4, C, A, 80, KZT), KHORGOS_SETTLE_queued);
        assert_int_equal(test_pay(engines[index], 1, A, B, 60, KZT), KHORGOS_SETTLE_settled);
        test_fund(engines[index], C, KZT, 10);
        assert_int_equal(khorgos_clock_advance(engines[index], 200 * SECOND_NS), KHORGOS_ERROR_ok);
        assert_int_equal(test_lookup(engines[index], 3).reason, KHORGOS_SETTLE_settle_by_passed);
    }
    assert_int_equal(test_lookup(copy, 2).state, test_lookup(engine, 2).state);
    assert_true(ledger_digest(&copy->ledger) == ledger_digest(&engine->ledger));
    assert_true(settle_digest(&copy->settle) == settle_digest(&engine->settle));
    khorgos_close(copy);
    khorgos_close(engine);
}

/* A day recorded in a data directory replays to the same state. */
static void test_journal_replay_is_exact(void **state) {
    (void)state;
    char directory[] = "/tmp/khorgos-settle-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char path[64];
    snprintf(path, sizeof(path), "%s/data", directory);
    struct khorgos_config config = {.account_count_max = 4096, .transfer_count_max = 1u << 16,
                                    .account_balance_count_max = 1u << 16, .clock_manual = 1};
    assert_int_equal(khorgos_format(path, &config), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, path, &options), KHORGOS_ERROR_ok);
    assert_int_equal(test_participant(engine, "NBRKKZKX", KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, A, KHORGOS_ROLE_BANK, KZT, 0), KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, B, KHORGOS_ROLE_BANK, KZT, 0), KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, C, KHORGOS_ROLE_BANK, KZT, 0), KHORGOS_SETTLE_ok);
    u64 now = khorgos_clock_now(engine);
    assert_int_equal(test_open_day(engine, KZT, DAY_1, KHORGOS_QUEUE_MODE_FIFO,
                                   KHORGOS_DAY_OFFSETTING_ON_ENTRY | KHORGOS_DAY_RESOLUTION_ON_TIMER,
                                   now + 50 * SECOND_NS, 0, 7 * SECOND_NS),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_SET_CREDIT_LINES, A, KZT, 40)
                         .status,
                     KHORGOS_SETTLE_ok);
    const char *banks[] = {A, B, C};
    u64 seed = 9;
    for (u32 index = 0; index < 40; index++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        u32 payer = (u32)(seed >> 33) % 3, payee = (payer + 1 + (u32)(seed >> 40) % 2) % 3;
        test_pay(engine, index + 1, banks[payer], banks[payee], 1 + (seed >> 50) % 60, KZT);
        if (index % 8 == 0) test_fund(engine, banks[payee], KZT, 30);
        assert_int_equal(khorgos_clock_advance(engine, 2 * SECOND_NS), KHORGOS_ERROR_ok);
    }
    u128 ledger_before = ledger_digest(&engine->ledger);
    u128 settle_before = settle_digest(&engine->settle);
    u64 requests_before = engine->request_count;
    khorgos_close(engine);
    engine = NULL;
    assert_int_equal(khorgos_open(&engine, path, &options), KHORGOS_ERROR_ok);
    assert_int_equal(engine->request_count, requests_before);
    assert_true(ledger_digest(&engine->ledger) == ledger_before);
    assert_true(settle_digest(&engine->settle) == settle_before);
    assert_true(ledger_check(&engine->ledger) && settle_check(&engine->settle));
    khorgos_close(engine);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", directory);
    assert_int_equal(system(command), 0);
}

/* The source's state as a snapshot in memory; *size_bytes says how long. */
static u8 *test_snapshot_bytes(const struct khorgos *source, u64 *size_bytes) {
    assert_int_equal(engine_snapshot_memory_write(source, NULL, 0, size_bytes),
                     KHORGOS_ERROR_no_space);
    u8 *bytes = malloc(*size_bytes);
    assert_non_null(bytes);
    assert_int_equal(engine_snapshot_memory_write(source, bytes, *size_bytes, size_bytes),
                     KHORGOS_ERROR_ok);
    return bytes;
}

/* A new data directory `path` inside a new folder made from `root_template`, opened: the engine
 * a snapshot is installed into. */
static struct khorgos *test_target_open(char *root_template, char *path, size_t capacity,
                                        const struct khorgos_open_options *options) {
    assert_non_null(mkdtemp(root_template));
    snprintf(path, capacity, "%s/data", root_template);
    struct khorgos_config config = {.account_count_max = 4096, .transfer_count_max = 1u << 16,
                                    .account_balance_count_max = 1u << 16, .clock_manual = 1,
                                    .participant_count_max = 64, .payment_count_max = 8192};
    assert_int_equal(khorgos_format(path, &config), KHORGOS_ERROR_ok);
    struct khorgos *target = NULL;
    assert_int_equal(khorgos_open(&target, path, options), KHORGOS_ERROR_ok);
    return target;
}

static void test_snapshot_install(void **state) {
    (void)state;
    struct khorgos *source = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    test_fund(source, A, KZT, 100);
    assert_int_equal(test_pay(source, 1, A, B, 60, KZT), KHORGOS_SETTLE_settled);
    assert_int_equal(test_pay(source, 2, B, C, 90, KZT), KHORGOS_SETTLE_queued);
    u64 size_bytes = 0;
    u8 *bytes = test_snapshot_bytes(source, &size_bytes);
    char directory[] = "/tmp/khorgos-install-XXXXXX";
    char path[64];
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *target = test_target_open(directory, path, sizeof(path), &options);
    /* Damaged, it is refused and changes nothing. */
    u128 empty_digest = engine_state_digest(target);
    bytes[size_bytes - 20] ^= 1;
    assert_int_equal(engine_snapshot_install(target, bytes, size_bytes), KHORGOS_ERROR_corrupt);
    bytes[size_bytes - 20] ^= 1;
    assert_true(engine_state_digest(target) == empty_digest && target->request_count == 0);
    assert_int_equal(engine_snapshot_install(target, bytes, size_bytes), KHORGOS_ERROR_ok);
    assert_true(engine_state_digest(target) == engine_state_digest(source));
    assert_ptr_equal(target->settle.ledger, &target->ledger);
    assert_true(settle_check(&target->settle));
    /* Not ahead any more: refused, nothing changed. */
    assert_int_equal(engine_snapshot_install(target, bytes, size_bytes),
                     KHORGOS_ERROR_invalid_operation);
    /* The same requests on both: funding B releases B -> C through the ledger it books to. */
    struct khorgos *engines[2] = {source, target};
    u128 request_id_start = test_request_id;
    for (u32 index = 0; index < 2; index++) {
        test_request_id = request_id_start;
        test_fund(engines[index], B, KZT, 50);
        assert_int_equal(test_lookup(engines[index], 2).state, KHORGOS_PAYMENT_SETTLED);
    }
    u128 digest = engine_state_digest(source);
    assert_true(engine_state_digest(target) == digest);
    khorgos_close(target);
    target = NULL;
    assert_int_equal(khorgos_open(&target, path, &options), KHORGOS_ERROR_ok);
    assert_true(engine_state_digest(target) == digest);
    assert_true(ledger_check(&target->ledger) && settle_check(&target->settle));
    khorgos_close(target);
    khorgos_close(source);
    free(bytes);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", directory);
    assert_int_equal(system(command), 0);
}

/* Runs a command's main (cli_check_main, cli_inspect_main) on `directory`, its standard
 * output in `out`; returns its exit status. */
static int test_cli_run(int (*command)(int, char **), const char *name, const char *directory,
                        const char *option, char *out, size_t capacity) {
    char path[128];
    snprintf(path, sizeof(path), "%s.out", directory);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && file >= 0);
    assert_true(dup2(file, STDOUT_FILENO) == STDOUT_FILENO);
    char *argv[] = {(char *)name, "--data", (char *)directory, (char *)option, NULL};
    optind = 1;
    int status = command(option != NULL ? 4 : 3, argv);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) == STDOUT_FILENO);
    close(saved);
    close(file);
    FILE *stream = fopen(path, "r");
    assert_non_null(stream);
    size_t length = fread(out, 1, capacity - 1, stream);
    out[length] = '\0';
    fclose(stream);
    unlink(path);
    return status;
}

/* `khorgos check` of `directory` through engine_storage_check: clean, its report in `report`. */
static void test_check(const char *directory, struct storage_report *report) {
    struct storage_io *io = NULL;
    char message[STORAGE_MESSAGE_BYTES_MAX];
    assert_int_equal(storage_io_posix_create(directory, STORAGE_POSIX_READ, &io, message),
                     KHORGOS_ERROR_ok);
    assert_int_equal(engine_storage_check(io, report), KHORGOS_ERROR_ok);
    assert_false(report->repairable);
    /* From request 1: the requests before the snapshot were never in this directory. */
    static struct storage_report genesis;
    assert_int_equal(engine_storage_check_genesis(io, NULL, &genesis), KHORGOS_ERROR_not_found);
    assert_non_null(strstr(genesis.message, "installed from another replica"));
    storage_io_posix_destroy(io);
}

/* A fresh directory that installed a snapshot of S requests and holds nothing after it: check
 * reports S as its last sequence, the state verified from snapshot-S, and the install; so
 * does inspect. One request later the last sequence is S + 1. */
static void test_snapshot_install_check(void **state) {
    (void)state;
    struct khorgos *source = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    test_fund(source, A, KZT, 100);
    u64 sequence = source->request_count;
    assert_true(sequence > 0);
    u64 size_bytes = 0;
    u8 *bytes = test_snapshot_bytes(source, &size_bytes);
    char root[] = "/tmp/khorgos-install-check-XXXXXX";
    char path[64];
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *target = test_target_open(root, path, sizeof(path), &options);
    assert_int_equal(engine_snapshot_install(target, bytes, size_bytes), KHORGOS_ERROR_ok);
    khorgos_close(target);
    static struct storage_report report;
    test_check(path, &report);
    assert_true(report.records == 0 && report.sequence_last == sequence);
    assert_true(report.snapshot_sequence == sequence && report.snapshot_installed);
    char out[4096], expected[256];
    assert_int_equal(test_cli_run(cli_check_main, "check", path, NULL, out, sizeof(out)), 0);
    snprintf(expected, sizeof(expected),
             "check: 0 journal records verified, last sequence %llu\n"
             "state: snapshot-%016llx (request %llu, installed from another replica; the journal "
             "starts after it), no journal record after it\n",
             (unsigned long long)sequence, (unsigned long long)sequence,
             (unsigned long long)sequence);
    assert_non_null(strstr(out, expected));
    assert_int_equal(test_cli_run(cli_check_main, "check", path, "--from-genesis", out,
                                  sizeof(out)),
                     1);
    assert_non_null(strstr(out, "its journal starts at snapshot-"));
    assert_int_equal(test_cli_run(cli_inspect_main, "inspect", path, NULL, out, sizeof(out)), 0);
    snprintf(expected, sizeof(expected),
             "this journal starts at request %llu, after snapshot-%016llx, installed from "
             "another replica\n",
             (unsigned long long)(sequence + 1), (unsigned long long)sequence);
    assert_non_null(strstr(out, expected));
    /* One request after it: the snapshot's state and that record. */
    assert_int_equal(khorgos_open(&target, path, &options), KHORGOS_ERROR_ok);
    test_fund(target, B, KZT, 50);
    khorgos_close(target);
    test_check(path, &report);
    assert_true(report.records == 1 && report.sequence_last == sequence + 1);
    assert_int_equal(test_cli_run(cli_check_main, "check", path, NULL, out, sizeof(out)), 0);
    snprintf(expected, sizeof(expected), "starts after it) and journal records %llu to %llu\n",
             (unsigned long long)(sequence + 1), (unsigned long long)(sequence + 1));
    assert_non_null(strstr(out, expected));
    khorgos_close(source);
    free(bytes);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", root);
    assert_int_equal(system(command), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_install),
        cmocka_unit_test(test_snapshot_install_check),
        cmocka_unit_test(test_journal_replay_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
