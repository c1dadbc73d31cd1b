/* test_storage_files.c: how the library takes a data directory (storage_io_posix.c):
 *  - one writer: a second khorgos_open of a directory, in the same process, fails with locked
 *    (its report naming this pid) and changes no byte of it; once the first engine is closed,
 *    the directory opens again; a reader's io opens beside a writer and sees its pid;
 *  - a reader's io changes nothing: create, rename and unlink are refused;
 *  - a checkpoint's cleanup whose old snapshot name is a symbolic link to a file outside the
 *    directory removes the link and leaves the file it points to whole;
 *  - format makes the directory 0700 and files 0600, takes an existing empty directory and
 *    refuses a non-empty one with exists, leaving it as it was;
 *  - a write that fails stops the engine, and khorgos_failure_text says what failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "storage/storage.h"

static const struct khorgos_config files_config = {
    .account_count_max = 16, .transfer_count_max = 1024, .account_balance_count_max = 64,
    .participant_count_max = 4, .payment_count_max = 16, .clock_manual = 1};

struct files_fixture {
    char directory[sizeof("/tmp/khorgos-test-files-XXXXXX")];
    char data[sizeof("/tmp/khorgos-test-files-XXXXXX") + 8];
};

static void fixture_make(struct files_fixture *fixture) {
    snprintf(fixture->directory, sizeof(fixture->directory), "%s",
             "/tmp/khorgos-test-files-XXXXXX");
    assert_non_null(mkdtemp(fixture->directory));
    snprintf(fixture->data, sizeof(fixture->data), "%s/data", fixture->directory);
}

static void fixture_remove(struct files_fixture *fixture) {
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", fixture->directory);
    assert_int_equal(system(command), 0);
}

/* A digest of every name, size and byte in a directory (through the shell: test code only). */
static void directory_digest(const char *path, char digest[64]) {
    char command[256];
    snprintf(command, sizeof(command),
             "cd '%s' && (ls -l --time-style=+%%s .; cat -- *) | md5sum", path);
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    assert_non_null(fgets(digest, 64, pipe));
    assert_int_equal(pclose(pipe), 0);
}

static void transfers_create(struct khorgos *engine, u64 id_first, u32 count) {
    _Alignas(16) struct khorgos_transfer transfer;
    _Alignas(16) struct khorgos_create_result result;
    for (u32 index = 0; index < count; index++) {
        memset(&transfer, 0, sizeof(transfer));
        transfer.id = id_first + index;
        transfer.debit_account_id = 1;
        transfer.credit_account_id = 2;
        transfer.amount = 1;
        transfer.ledger = 398;
        transfer.code = 1;
        struct khorgos_request request = {.operation = KHORGOS_OPERATION_CREATE_TRANSFERS,
                                          .body_size = sizeof(transfer), .body = &transfer,
                                          .reply = &result, .reply_capacity = sizeof(result)};
        assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
        assert_int_equal(result.status, KHORGOS_CREATE_TRANSFER_created);
    }
}

static void accounts_create(struct khorgos *engine) {
    _Alignas(16) struct khorgos_account accounts[2];
    memset(accounts, 0, sizeof(accounts));
    for (u32 index = 0; index < 2; index++) {
        accounts[index].id = index + 1;
        accounts[index].ledger = 398;
        accounts[index].code = 1;
    }
    _Alignas(16) struct khorgos_create_result results[2];
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_CREATE_ACCOUNTS,
                                      .body_size = sizeof(accounts), .body = accounts,
                                      .reply = results, .reply_capacity = sizeof(results)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(results[0].status, KHORGOS_CREATE_ACCOUNT_created);
}

static void test_second_writer_is_refused(void **state) {
    (void)state;
    struct files_fixture fixture;
    fixture_make(&fixture);
    assert_int_equal(khorgos_format(fixture.data, &files_config), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *first = NULL;
    assert_int_equal(khorgos_open(&first, fixture.data, &options), KHORGOS_ERROR_ok);
    accounts_create(first);
    char before[64];
    directory_digest(fixture.data, before);
    char report[STORAGE_MESSAGE_BYTES_MAX] = "";
    options.report = report;
    options.report_capacity = sizeof(report);
    struct khorgos *second = NULL;
    assert_int_equal(khorgos_open(&second, fixture.data, &options), KHORGOS_ERROR_locked);
    assert_null(second);
    char pid[32];
    snprintf(pid, sizeof(pid), "process %d ", (int)getpid());
    assert_non_null(strstr(report, pid));
    char after[64];
    directory_digest(fixture.data, after);
    assert_string_equal(before, after);
    /* A reader opens beside the writer, never waits, and learns who holds it. */
    struct storage_io *reader = NULL;
    assert_int_equal(storage_io_posix_create(fixture.data, STORAGE_POSIX_READ, &reader, NULL),
                     KHORGOS_ERROR_ok);
    assert_int_equal(storage_io_posix_writer(reader), (int)getpid());
    transfers_create(first, 10, 1); /* the first still serves */
    khorgos_close(first);
    assert_int_equal(storage_io_posix_writer(reader), 0);
    storage_io_posix_destroy(reader);
    assert_int_equal(khorgos_open(&second, fixture.data, &options), KHORGOS_ERROR_ok);
    assert_int_equal(khorgos_format(fixture.data, &files_config), KHORGOS_ERROR_exists);
    khorgos_close(second);
    fixture_remove(&fixture);
}

static void test_reader_changes_nothing(void **state) {
    (void)state;
    struct files_fixture fixture;
    fixture_make(&fixture);
    assert_int_equal(khorgos_format(fixture.data, &files_config), KHORGOS_ERROR_ok);
    struct storage_io *io = NULL;
    assert_int_equal(storage_io_posix_create(fixture.data, STORAGE_POSIX_READ, &io, NULL),
                     KHORGOS_ERROR_ok);
    int file = -1;
    assert_int_equal(io->open(io, "new", STORAGE_OPEN_CREATE, &file), KHORGOS_ERROR_io);
    assert_non_null(strstr(io->last_error(io), "read-only"));
    assert_int_equal(io->rename(io, "superblock", "moved"), KHORGOS_ERROR_io);
    assert_int_equal(io->unlink(io, "superblock"), KHORGOS_ERROR_io);
    assert_int_equal(io->open(io, "superblock", 0, &file), KHORGOS_ERROR_ok);
    u8 byte = 0;
    assert_int_equal(io->pwrite(io, file, &byte, 1, 0), KHORGOS_ERROR_io); /* O_RDONLY */
    assert_non_null(strstr(io->last_error(io), "superblock: write: "));
    io->close(io, file);
    storage_io_posix_destroy(io);
    struct storage_superblock superblock;
    assert_int_equal(storage_io_posix_create(fixture.data, STORAGE_POSIX_READ, &io, NULL),
                     KHORGOS_ERROR_ok);
    assert_int_equal(storage_superblock_read(io, &superblock), KHORGOS_ERROR_ok);
    storage_io_posix_destroy(io);
    fixture_remove(&fixture);
}

/* Waits (at most about ten seconds) until `count` checkpoints have been published, with a
 * transfer now and then (ids from 100,000 up) so that the checkpoint's pieces are written. */
static void files_checkpoint_wait(struct khorgos *engine, uint64_t count) {
    static u64 id_next = 100000;
    struct khorgos_checkpoint_statistics statistics;
    for (int attempt = 0; attempt < 10000; attempt++) {
        assert_int_equal(khorgos_checkpoint_statistics(engine, &statistics), KHORGOS_ERROR_ok);
        if (statistics.completed >= count) return;
        transfers_create(engine, id_next++, 1);
        usleep(1000);
    }
    fail_msg("checkpoint %llu was not published", (unsigned long long)count);
}

/* While the engine runs, snapshot-0 is replaced by a link to a copy outside the directory; the
 * next checkpoint's cleanup deletes that name: the link goes, the copy stays whole. (Open
 * itself verifies every snapshot and refuses a link among them, so the link is made while the
 * engine is open.) */
static void test_cleanup_never_follows_a_link(void **state) {
    (void)state;
    struct files_fixture fixture;
    fixture_make(&fixture);
    assert_int_equal(khorgos_format(fixture.data, &files_config), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1,
                                           .checkpoint_journal_bytes = UINT64_MAX};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, fixture.data, &options), KHORGOS_ERROR_ok);
    accounts_create(engine);
    transfers_create(engine, 100, 4);
    assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_ok); /* snapshot-0 still kept */
    files_checkpoint_wait(engine, 1);
    char name[sizeof(fixture.data) + STORAGE_NAME_BYTES_MAX];
    char outside[sizeof(fixture.directory) + 16];
    snprintf(name, sizeof(name), "%s/snapshot-%016llx", fixture.data, 0ull);
    snprintf(outside, sizeof(outside), "%s/outside", fixture.directory);
    assert_int_equal(rename(name, outside), 0);
    assert_int_equal(symlink(outside, name), 0);
    struct stat before;
    assert_int_equal(stat(outside, &before), 0);
    assert_true(before.st_size > 0);
    transfers_create(engine, 200, 4);
    assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_ok);
    files_checkpoint_wait(engine, 2);
    khorgos_close(engine); /* the checkpoint's cleanup deletes what the newest two replaced */
    struct stat after;
    assert_int_equal(lstat(name, &after), -1); /* the link is gone */
    assert_int_equal(stat(outside, &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(khorgos_open(&engine, fixture.data, &options), KHORGOS_ERROR_ok);
    khorgos_close(engine);
    fixture_remove(&fixture);
}

static void test_format_modes_and_empty_directory(void **state) {
    (void)state;
    struct files_fixture fixture;
    fixture_make(&fixture);
    mode_t mask = umask(0);
    assert_int_equal(khorgos_format(fixture.data, &files_config), KHORGOS_ERROR_ok);
    umask(mask);
    struct stat status;
    assert_int_equal(stat(fixture.data, &status), 0);
    assert_int_equal(status.st_mode & 0777, 0700);
    char name[sizeof(fixture.data) + STORAGE_NAME_BYTES_MAX];
    snprintf(name, sizeof(name), "%s/superblock", fixture.data);
    assert_int_equal(stat(name, &status), 0);
    assert_int_equal(status.st_mode & 0777, 0600);
    fixture_remove(&fixture);
    fixture_make(&fixture);
    assert_int_equal(mkdir(fixture.data, 0750), 0);
    char report[STORAGE_MESSAGE_BYTES_MAX] = "";
    assert_int_equal(khorgos_format_report(fixture.data, &files_config, report, sizeof(report)),
                     KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, fixture.data, &options), KHORGOS_ERROR_ok);
    khorgos_close(engine);
    snprintf(name, sizeof(name), "%s/notes", fixture.directory);
    FILE *notes = fopen(name, "w");
    assert_non_null(notes);
    assert_int_equal(fclose(notes), 0);
    assert_int_equal(khorgos_format_report(fixture.directory, &files_config, report,
                                           sizeof(report)),
                     KHORGOS_ERROR_exists);
    assert_non_null(strstr(report, "not empty"));
    snprintf(name, sizeof(name), "%s/lock", fixture.directory);
    assert_int_equal(access(name, F_OK), -1); /* nothing made in a directory refused */
    fixture_remove(&fixture);
}

static void test_failure_names_the_cause(void **state) {
    (void)state;
    const struct storage_superblock superblock = {
        .format_version = STORAGE_FORMAT_VERSION, .account_count_max = 16,
        .transfer_count_max = 1024, .account_balance_count_max = 64,
        .segment_bytes = STORAGE_SEGMENT_BYTES_MIN,
        .segment_records_max = STORAGE_SEGMENT_RECORDS_MIN, .participant_count_max = 4,
        .payment_count_max = 16};
    struct storage_fault_config faults = {.seed = 7};
    struct storage_io *io = storage_fault_create(&faults);
    assert_int_equal(engine_storage_format(io, &superblock), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1};
    static struct storage_report report;
    struct khorgos *engine = NULL;
    assert_int_equal(engine_storage_open(&engine, io, false, &options, &report), KHORGOS_ERROR_ok);
    char failure[STORAGE_FAILURE_TEXT_BYTES];
    khorgos_failure_text(engine, failure, sizeof(failure));
    assert_string_equal(failure, ""); /* not stopped */
    faults.write_error_per_million = 1000000;
    storage_fault_configure(io, &faults);
    _Alignas(16) struct khorgos_account account = {.id = 1, .ledger = 398, .code = 1};
    _Alignas(16) struct khorgos_create_result result;
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_CREATE_ACCOUNTS,
                                      .body_size = sizeof(account), .body = &account,
                                      .reply = &result, .reply_capacity = sizeof(result)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_io);
    khorgos_failure_text(engine, failure, sizeof(failure));
    assert_non_null(strstr(failure, "Input/output error (injected)"));
    khorgos_close(engine);
    storage_fault_destroy(io);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_writer_is_refused),
        cmocka_unit_test(test_reader_changes_nothing),
        cmocka_unit_test(test_cleanup_never_follows_a_link),
        cmocka_unit_test(test_format_modes_and_empty_directory),
        cmocka_unit_test(test_failure_names_the_cause),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
