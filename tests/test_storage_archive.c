/* test_storage_archive.c: a directory formatted to keep its journal (format --keep-journal)
 * has checkpoints move the segments they no longer need into its archive folder, so the hash
 * chain is proved from request 1 (engine_storage_check_genesis); a directory formatted
 * without it cannot be, and says from which request it can; damage in the archive is found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include "storage_sim.h"
#include "storage_recovery_fixture.h"

/* The archive folder of a directory on the simulated disk, whose namespace is flat: an io
 * that prefixes every name with "archive/" and lists only those names. */
struct archive_io {
    struct storage_io io;
    struct storage_io *inner;
};

static struct storage_io *archive_inner(struct storage_io *io) {
    return ((struct archive_io *)io->context)->inner;
}

static void archive_name(const char *name, char out[STORAGE_NAME_BYTES_MAX]) {
    int length = snprintf(out, STORAGE_NAME_BYTES_MAX, "%s/%s", STORAGE_ARCHIVE_NAME, name);
    assert_true(length > 0 && length < (int)STORAGE_NAME_BYTES_MAX);
}

static khorgos_error archive_open(struct storage_io *io, const char *name, u32 flags, int *file) {
    char full[STORAGE_NAME_BYTES_MAX];
    archive_name(name, full);
    return archive_inner(io)->open(archive_inner(io), full, flags, file);
}

static void archive_close(struct storage_io *io, int file) {
    archive_inner(io)->close(archive_inner(io), file);
}

static khorgos_error archive_pread(struct storage_io *io, int file, void *data, u64 size,
                                   u64 offset, u64 *read_size) {
    return archive_inner(io)->pread(archive_inner(io), file, data, size, offset, read_size);
}

static khorgos_error archive_size(struct storage_io *io, int file, u64 *size) {
    return archive_inner(io)->size(archive_inner(io), file, size);
}

static khorgos_error archive_list(struct storage_io *io, char (*names)[STORAGE_NAME_BYTES_MAX],
                                  u32 *count) {
    khorgos_error error = archive_inner(io)->list(archive_inner(io), names, count);
    if (error != KHORGOS_ERROR_ok) return error;
    size_t prefix = strlen(STORAGE_ARCHIVE_NAME "/");
    u32 kept = 0;
    for (u32 index = 0; index < *count; index++) {
        if (strncmp(names[index], STORAGE_ARCHIVE_NAME "/", prefix) != 0) continue;
        memmove(names[kept++], names[index] + prefix, strlen(names[index]) - prefix + 1);
    }
    *count = kept;
    return KHORGOS_ERROR_ok;
}

static const char *archive_last_error(struct storage_io *io) {
    return archive_inner(io)->last_error(archive_inner(io));
}

static void archive_io_init(struct archive_io *archive, struct storage_io *inner) {
    memset(archive, 0, sizeof(*archive));
    archive->inner = inner;
    archive->io = (struct storage_io){
        .context = archive, .open = archive_open, .close = archive_close,
        .pread = archive_pread, .size = archive_size, .list = archive_list,
        .last_error = archive_last_error,
    };
}

static u32 archived_segments(struct sim *sim) {
    struct archive_io archive;
    archive_io_init(&archive, sim->io);
    struct storage_listing listing;
    assert_int_equal(storage_list(&archive.io, &listing), KHORGOS_ERROR_ok);
    return listing.segment_count;
}

static void test_kept_journal_proves_the_chain_from_request_1(void **state) {
    (void)state;
    struct sim *sim = recovery_directory_build_flags(83, STORAGE_SUPERBLOCK_KEEP_JOURNAL);
    assert_true(archived_segments(sim) >= 2);
    struct storage_listing listing;
    assert_int_equal(storage_list(sim->io, &listing), KHORGOS_ERROR_ok);
    assert_true(listing.segments[0] > 1);
    static struct storage_report report;
    assert_int_equal(engine_storage_check(sim->io, &report), KHORGOS_ERROR_ok);
    assert_false(report.repairable);
    u8 chain_head[BASE_SHA256_BYTES];
    memcpy(chain_head, report.chain_head, sizeof(chain_head));
    struct archive_io archive;
    archive_io_init(&archive, sim->io);
    assert_int_equal(engine_storage_check_genesis(sim->io, &archive.io, &report),
                     KHORGOS_ERROR_ok);
    assert_memory_equal(report.chain_head, chain_head, sizeof(chain_head));
    assert_int_equal(report.sequence_last, sim->acknowledged_count);
    assert_int_equal(report.records, sim->acknowledged_count);
    assert_non_null(strstr(report.message, "the chain verified from request 1"));

    /* A flipped byte of an archived record is found, named by file, offset and sequence. */
    char name[STORAGE_NAME_BYTES_MAX];
    char journal[STORAGE_NAME_BYTES_MAX];
    storage_name(STORAGE_FILE_JOURNAL, 1, journal);
    archive_name(journal, name);
    assert_int_equal(storage_fault_damage(sim->io, name, 300, 6), KHORGOS_ERROR_ok);
    assert_int_equal(engine_storage_check_genesis(sim->io, &archive.io, &report),
                     KHORGOS_ERROR_corrupt);
    assert_non_null(strstr(report.message, journal));
    assert_non_null(strstr(report.message, "sequence"));
    /* The live directory is not affected: check and open are as before. */
    assert_int_equal(engine_storage_check(sim->io, &report), KHORGOS_ERROR_ok);
    recovery_expect_served(sim, &report);
    recovery_destroy(sim);
}

static void test_removed_journal_says_where_the_proof_starts(void **state) {
    (void)state;
    struct sim *sim = recovery_directory_build(83);
    assert_int_equal(archived_segments(sim), 0);
    struct storage_listing listing;
    assert_int_equal(storage_list(sim->io, &listing), KHORGOS_ERROR_ok);
    assert_true(listing.segments[0] > 1);
    static struct storage_report report;
    assert_int_equal(engine_storage_check_genesis(sim->io, NULL, &report),
                     KHORGOS_ERROR_not_found);
    char expected[128];
    snprintf(expected, sizeof(expected), "requests 1 to %llu were removed by checkpoints",
             (unsigned long long)(listing.segments[0] - 1));
    assert_non_null(strstr(report.message, expected));
    assert_non_null(strstr(report.message, "--keep-journal"));
    recovery_destroy(sim);
}

/* On real files: the archive folder is made by the first collection, the segments move into
 * it under their names, and the chain is proved from request 1 through it. */
static void execute_one(struct khorgos *engine, u32 operation, const void *body, u32 size) {
    _Alignas(16) struct khorgos_create_result results[4];
    struct khorgos_request request = {.operation = operation, .body_size = size, .body = body,
                                      .reply = results, .reply_capacity = sizeof(results)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    for (u32 index = 0; index < size / 128; index++) {
        assert_int_equal(results[index].status, KHORGOS_CREATE_TRANSFER_created);
    }
}

static void test_kept_journal_on_real_files(void **state) {
    (void)state;
    char directory[] = "/tmp/khorgos-test-archive-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char data[sizeof(directory) + 8];
    snprintf(data, sizeof(data), "%s/data", directory);
    struct khorgos_config config = {.account_count_max = 16, .transfer_count_max = 1024,
                                    .account_balance_count_max = 64, .keep_journal = 1};
    assert_int_equal(khorgos_format(data, &config), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1,
                                           .checkpoint_journal_bytes = UINT64_MAX};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, data, &options), KHORGOS_ERROR_ok);
    _Alignas(16) struct khorgos_account accounts[2];
    memset(accounts, 0, sizeof(accounts));
    for (u32 index = 0; index < 2; index++) {
        accounts[index] = (struct khorgos_account){.id = index + 1, .ledger = 156, .code = 1};
    }
    execute_one(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts, sizeof(accounts));
    u64 requests = 0;
    for (u32 round = 0; round < 4; round++) {
        if (engine == NULL) {
            assert_int_equal(khorgos_open(&engine, data, &options), KHORGOS_ERROR_ok);
        }
        _Alignas(16) struct khorgos_transfer transfer = {
            .id = 100 + round, .debit_account_id = 1, .credit_account_id = 2, .amount = 5,
            .ledger = 156, .code = 1};
        execute_one(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, &transfer, sizeof(transfer));
        assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_ok);
        transfer.id = 200 + round;
        execute_one(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, &transfer, sizeof(transfer));
        requests = engine->request_count;
        khorgos_close(engine); /* waits for the checkpoint: each round's is complete */
        engine = NULL;
    }

    char path[sizeof(data) + 64];
    snprintf(path, sizeof(path), "%s/%s/journal-0000000000000001", data, STORAGE_ARCHIVE_NAME);
    assert_int_equal(access(path, R_OK), 0);
    struct storage_io *io = NULL;
    struct storage_io *archive = NULL;
    assert_int_equal(storage_io_posix_create(data, STORAGE_POSIX_READ, &io, NULL),
                     KHORGOS_ERROR_ok);
    snprintf(path, sizeof(path), "%s/%s", data, STORAGE_ARCHIVE_NAME);
    assert_int_equal(storage_io_posix_create(path, STORAGE_POSIX_READ, &archive, NULL),
                     KHORGOS_ERROR_ok);
    static struct storage_report report;
    assert_int_equal(engine_storage_check(io, &report), KHORGOS_ERROR_ok);
    assert_false(report.repairable);
    assert_int_equal(engine_storage_check_genesis(io, archive, &report), KHORGOS_ERROR_ok);
    assert_int_equal(report.records, requests);
    storage_io_posix_destroy(archive);
    storage_io_posix_destroy(io);
    char command[sizeof(directory) + 16];
    snprintf(command, sizeof(command), "rm -rf '%s'", directory);
    assert_int_equal(system(command), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_journal_proves_the_chain_from_request_1),
        cmocka_unit_test(test_removed_journal_says_where_the_proof_starts),
        cmocka_unit_test(test_kept_journal_on_real_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
