/* test_storage_check.c: engine_storage_check (what `khorgos check` runs) finds a flipped bit
 * anywhere in the committed part of every journal segment, header-copy file, snapshot and the
 * superblock of a directory with several checkpoints; and a flipped snapshot or journal byte
 * never lets open serve wrong state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sanitizer.h"

#include "storage_sim.h"
#include "storage_recovery_fixture.h"

/* Each flip runs a whole check (every snapshot loaded, the journal replayed); AddressSanitizer
 * makes each engine it opens costly, so that tier flips fewer. */
#ifdef TEST_SANITIZED
#define CHECK_FLIPS 80u
#else
#define CHECK_FLIPS 400u
#endif

struct committed_file {
    char name[STORAGE_NAME_BYTES_MAX];
    u64 size;
};

static u32 check_committed_files(struct sim *sim, struct committed_file *files) {
    struct storage_listing listing;
    assert_int_equal(storage_list(sim->io, &listing), KHORGOS_ERROR_ok);
    assert_true(listing.snapshot_count >= 2);
    u32 count = 0;
    snprintf(files[count].name, STORAGE_NAME_BYTES_MAX, "superblock");
    files[count].size = STORAGE_SUPERBLOCK_BYTES;
    count++;
    for (u32 index = 0; index < listing.snapshot_count; index++) {
        storage_name(STORAGE_FILE_SNAPSHOT, listing.snapshots[index], files[count].name);
        assert_int_equal(storage_fault_file(sim->io, files[count].name, &files[count].size),
                         KHORGOS_ERROR_ok);
        count++;
    }
    for (u32 index = 0; index < listing.segment_count; index++) {
        storage_name(STORAGE_FILE_JOURNAL, listing.segments[index], files[count].name);
        files[count].size = sim_committed_size(sim, files[count].name, 1);
        if (files[count].size > 0) count++;
        storage_name(STORAGE_FILE_HEADERS, listing.segments[index], files[count].name);
        files[count].size = sim_committed_size(sim, files[count].name,
                                               STORAGE_RECORD_HEADER_BYTES);
        if (files[count].size > 0) count++;
    }
    return count;
}

static void test_check_finds_every_flipped_byte(void **state) {
    (void)state;
    struct sim_totals totals;
    memset(&totals, 0, sizeof(totals));
    struct sim *sim = recovery_directory_build_counted(77, 0, &totals);
    static struct storage_report report;
    assert_int_equal(engine_storage_check(sim->io, &report), KHORGOS_ERROR_ok);
    assert_false(report.repairable);
    assert_int_equal(report.sequence_last, sim->acknowledged_count);
    u8 chain_head[BASE_SHA256_BYTES];
    memcpy(chain_head, report.chain_head, sizeof(chain_head));

    struct committed_file files[2 * STORAGE_DIRECTORY_FILES_MAX];
    u32 file_count = check_committed_files(sim, files);
    /* The superblock, two snapshots, and at least one segment's journal and header copies
     * (automatic checkpoints fall inside a segment, so the two may share one). */
    assert_true(file_count >= 5);
    u32 found = 0;
    for (u32 flip = 0; flip < CHECK_FLIPS; flip++) {
        const struct committed_file *file = &files[sim_below(sim, file_count)];
        u64 offset = sim_below(sim, file->size);
        u8 bit = (u8)sim_below(sim, 8);
        assert_int_equal(storage_fault_damage(sim->io, file->name, offset, bit), KHORGOS_ERROR_ok);
        khorgos_error error = engine_storage_check(sim->io, &report);
        bool noticed = error != KHORGOS_ERROR_ok || report.repairable;
        if (!noticed) {
            fprintf(stderr, "missed: %s offset %llu bit %u (committed %llu)\n", file->name,
                    (unsigned long long)offset, bit, (unsigned long long)file->size);
        }
        assert_true(noticed);
        if (error == KHORGOS_ERROR_corrupt && strncmp(file->name, "superblock", 10) != 0) {
            assert_true(report.message[0] != '\0');
        }
        found++;
        assert_int_equal(storage_fault_damage(sim->io, file->name, offset, bit), KHORGOS_ERROR_ok);
    }
    assert_int_equal(found, CHECK_FLIPS);
    /* Flipped back, the directory checks clean with the same chain head. */
    assert_int_equal(engine_storage_check(sim->io, &report), KHORGOS_ERROR_ok);
    assert_memory_equal(report.chain_head, chain_head, sizeof(chain_head));
    storage_fault_destroy(sim->io);
    free(sim->log);
    free(sim);
}

/* A damaged acknowledged journal record stops open (naming file, offset, sequence); a damaged
 * newest snapshot makes open fall back to the previous one, say so, and reach the same state. */
static void test_open_refuses_or_falls_back(void **state) {
    (void)state;
    struct sim_totals totals;
    memset(&totals, 0, sizeof(totals));
    struct sim *sim = recovery_directory_build_counted(78, 0, &totals);
    struct storage_listing listing;
    assert_int_equal(storage_list(sim->io, &listing), KHORGOS_ERROR_ok);
    char name[STORAGE_NAME_BYTES_MAX];
    storage_name(STORAGE_FILE_SNAPSHOT, listing.snapshots[listing.snapshot_count - 1], name);
    u64 size = 0;
    assert_int_equal(storage_fault_file(sim->io, name, &size), KHORGOS_ERROR_ok);
    assert_int_equal(storage_fault_damage(sim->io, name, size / 2, 5), KHORGOS_ERROR_ok);
    static struct storage_report report;
    struct khorgos_open_options options = {.clock_manual = 1};
    assert_int_equal(engine_storage_open(&sim->engine, sim->io, false, &options, &report),
                     KHORGOS_ERROR_ok);
    assert_true(report.snapshot_fallback);
    assert_non_null(strstr(report.message, name));
    assert_int_equal(sim->engine->request_count, sim->acknowledged_count);
    u32 held = 0;
    struct khorgos *reference = sim_reference(sim, sim->acknowledged_count, &held);
    assert_non_null(reference);
    assert_true(ledger_digest(&reference->ledger) == ledger_digest(&sim->engine->ledger));
    khorgos_close(reference);
    khorgos_close(sim->engine);
    sim->engine = NULL;
    assert_int_equal(storage_fault_damage(sim->io, name, size / 2, 5), KHORGOS_ERROR_ok);

    u64 segment = listing.segments[listing.segment_count - 1];
    storage_name(STORAGE_FILE_JOURNAL, segment, name);
    u64 committed = sim_committed_size(sim, name, 1);
    assert_true(committed > 0);
    assert_int_equal(storage_fault_damage(sim->io, name, committed / 3, 2), KHORGOS_ERROR_ok);
    assert_int_equal(engine_storage_open(&sim->engine, sim->io, false, &options, &report),
                     KHORGOS_ERROR_corrupt);
    assert_non_null(strstr(report.message, name));
    assert_non_null(strstr(report.message, "offset"));
    assert_non_null(strstr(report.message, "sequence"));
    storage_fault_destroy(sim->io);
    free(sim->log);
    free(sim);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_finds_every_flipped_byte),
        cmocka_unit_test(test_open_refuses_or_falls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
