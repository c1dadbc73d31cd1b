/* test_storage_recovery.c: recovery proves before it repairs. With evidence destroyed or
 * contradicting a crash (header copies truncated, a record damaged below the newest snapshot
 * or before later commits), open refuses and changes nothing, check classifies the directory
 * the same way before and after, and no acknowledged record is ever truncated as a torn
 * tail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "storage_sim.h"
#include "storage_recovery_fixture.h"

/* The defect: the last segment's header copies truncated and one byte of a record at or
 * below the newest snapshot's sequence flipped. check called it a crash leftover, open
 * zeroed acknowledged records as a "torn tail" and then refused, and check then said ok. */
static void test_copies_truncated_and_record_below_snapshot_flipped(void **state) {
    (void)state;
    struct sim *sim = recovery_directory_build(77);
    struct recovery_layout layout;
    recovery_layout(sim, &layout);
    assert_true(layout.snapshot_newest > layout.segment_last);
    u64 sequence = layout.segment_last + (layout.snapshot_newest - layout.segment_last) / 2;
    u64 offset = recovery_record_offset(sim, layout.journal_name, layout.segment_last, sequence);
    assert_int_equal(storage_fault_truncate(sim->io, layout.headers_name, 0), KHORGOS_ERROR_ok);
    assert_int_equal(storage_fault_damage(sim->io, layout.journal_name, offset + 72, 3),
                     KHORGOS_ERROR_ok);
    recovery_expect_refused(sim, layout.journal_name);
    recovery_destroy(sim);
}

/* The same with the flipped record above the newest snapshot: the records of later commits
 * after it prove its write had completed, so it is damage, not a torn tail. */
static void test_copies_truncated_and_record_before_later_commits_flipped(void **state) {
    (void)state;
    struct sim *sim = recovery_directory_build(82);
    struct recovery_layout layout;
    recovery_layout(sim, &layout);
    assert_true(layout.sequence_last > layout.snapshot_newest + 2);
    u64 sequence = layout.snapshot_newest + 1;
    u64 offset = recovery_record_offset(sim, layout.journal_name, layout.segment_last, sequence);
    assert_int_equal(storage_fault_truncate(sim->io, layout.headers_name, 0), KHORGOS_ERROR_ok);
    assert_int_equal(storage_fault_damage(sim->io, layout.journal_name, offset + 194, 1),
                     KHORGOS_ERROR_ok);
    recovery_expect_refused(sim, layout.journal_name);
    recovery_destroy(sim);
}

/* The last record flipped with the copies truncated: nothing can prove it was never
 * acknowledged, so it is not truncated either. */
static void test_copies_truncated_and_last_record_flipped(void **state) {
    (void)state;
    struct sim *sim = recovery_directory_build(81);
    struct recovery_layout layout;
    recovery_layout(sim, &layout);
    u64 offset = recovery_record_offset(sim, layout.journal_name, layout.segment_last,
                                        layout.sequence_last);
    assert_true(layout.sequence_last > layout.snapshot_newest);
    assert_int_equal(storage_fault_truncate(sim->io, layout.headers_name, 0), KHORGOS_ERROR_ok);
    assert_int_equal(storage_fault_damage(sim->io, layout.journal_name, offset + 8, 0),
                     KHORGOS_ERROR_ok);
    recovery_expect_refused(sim, layout.journal_name);
    recovery_destroy(sim);
}

/* The copies truncated and the journal intact: the copies are rewritten from the verified
 * records, every acknowledged request is served, and check is clean afterwards. */
static void test_copies_truncated_journal_intact(void **state) {
    (void)state;
    struct sim *sim = recovery_directory_build(82);
    struct recovery_layout layout;
    recovery_layout(sim, &layout);
    assert_int_equal(storage_fault_truncate(sim->io, layout.headers_name, 0), KHORGOS_ERROR_ok);
    static struct storage_report report;
    assert_int_equal(engine_storage_check(sim->io, &report), KHORGOS_ERROR_ok);
    assert_true(report.repairable);
    assert_int_equal(report.torn_records, 0);
    assert_non_null(strstr(report.message, layout.headers_name));
    recovery_expect_served(sim, &report);
    assert_true(report.repairable);
    assert_int_equal(engine_storage_check(sim->io, &report), KHORGOS_ERROR_ok);
    assert_false(report.repairable);
    assert_int_equal(report.sequence_last, sim->acknowledged_count);
    recovery_destroy(sim);
}

/* A power loss at any point of open's repair (here: every header copy of the segment to
 * rewrite, commit by commit) leaves a directory the next open repairs, losing nothing. */
static void test_power_loss_during_the_repair(void **state) {
    (void)state;
    struct sim *sim = recovery_directory_build(77);
    struct recovery_layout layout;
    recovery_layout(sim, &layout);
    u32 interrupted = 0;
    static struct storage_report report;
    for (u32 operations = 1; operations < 200; operations++) {
        assert_int_equal(storage_fault_truncate(sim->io, layout.headers_name, 0),
                         KHORGOS_ERROR_ok);
        struct storage_fault_config power = {.operations_until_power_loss = operations};
        storage_fault_configure(sim->io, &power);
        struct khorgos_open_options options = {.clock_manual = 1};
        khorgos_error error = engine_storage_open(&sim->engine, sim->io, false, &options, &report);
        if (error == KHORGOS_ERROR_ok) {
            khorgos_close(sim->engine);
            sim->engine = NULL;
            break; /* the whole repair fits in this many operations */
        }
        assert_int_equal(error, KHORGOS_ERROR_io);
        assert_null(sim->engine);
        storage_fault_crash(sim->io);
        struct storage_fault_config clean = {0};
        storage_fault_configure(sim->io, &clean);
        khorgos_error check = engine_storage_check(sim->io, &report);
        if (check != KHORGOS_ERROR_ok) {
            fprintf(stderr, "power loss after %u operations: %s\n", operations, report.message);
        }
        assert_int_equal(check, KHORGOS_ERROR_ok);
        recovery_expect_served(sim, &report);
        interrupted++;
    }
    assert_true(interrupted > 10);
    assert_int_equal(engine_storage_check(sim->io, &report), KHORGOS_ERROR_ok);
    assert_false(report.repairable);
    recovery_destroy(sim);
}

/* ---- two faults at once, against the table of docs/storage.md ("Recovery") --------------- */

enum recovery_class { CLASS_CLEAN = 0, CLASS_REPAIRABLE = 3, CLASS_REFUSED = 4 };

enum recovery_fault {
    FAULT_COPIES_TRUNCATED,  /* the last segment's headers file cut to 0 bytes */
    FAULT_RECORD_BELOW,      /* a byte of the newest snapshot's own record flipped */
    FAULT_RECORD_ABOVE,      /* a byte of the record after the newest snapshot flipped */
    FAULT_RECORD_LAST,       /* a byte of the last acknowledged record flipped */
    FAULT_TORN_TAIL,         /* half a record written after the last one, never acknowledged */
    FAULT_SNAPSHOT_NEWEST,   /* a byte of the newest snapshot's body flipped */
    FAULT_SNAPSHOT_PREVIOUS, /* a byte of the previous snapshot's body flipped */
    FAULT_SUPERBLOCK,        /* a byte of the superblock flipped */
    FAULT_COPY_LAST,         /* a byte of the last record's header copy flipped */
    FAULT_COPY_MIDDLE,       /* a byte of an older commit's header copy flipped */
    FAULT_CHAIN_BROKEN,      /* a record's previous hash changed and its checksum recomputed */
    FAULT_SEGMENT_UNFINISHED, /* a next journal file without its headers file (a start cut) */
    FAULT_FORMAT_VERSION,    /* the superblock rewritten with format version 2 */
    FAULT_COUNT,
};

/* The table's row for each fault alone. */
static const enum recovery_class recovery_fault_class[FAULT_COUNT] = {
    [FAULT_COPIES_TRUNCATED] = CLASS_REPAIRABLE, [FAULT_RECORD_BELOW] = CLASS_REFUSED,
    [FAULT_RECORD_ABOVE] = CLASS_REFUSED,        [FAULT_RECORD_LAST] = CLASS_REFUSED,
    [FAULT_TORN_TAIL] = CLASS_REPAIRABLE,        [FAULT_SNAPSHOT_NEWEST] = CLASS_REPAIRABLE,
    [FAULT_SNAPSHOT_PREVIOUS] = CLASS_REPAIRABLE, [FAULT_SUPERBLOCK] = CLASS_REFUSED,
    [FAULT_COPY_LAST] = CLASS_REPAIRABLE,        [FAULT_COPY_MIDDLE] = CLASS_REFUSED,
    [FAULT_CHAIN_BROKEN] = CLASS_REFUSED,        [FAULT_SEGMENT_UNFINISHED] = CLASS_REPAIRABLE,
    [FAULT_FORMAT_VERSION] = CLASS_REFUSED,
};

/* Two faults: the worse of the two, except where together they take away what made each
 * repairable alone (the table's two-fault rows). */
static enum recovery_class recovery_pair_class(enum recovery_fault a, enum recovery_fault b) {
    ASSERT(a < b && b <= FAULT_COUNT);
    if (b == FAULT_COUNT) return recovery_fault_class[a]; /* a alone */
    if (a == FAULT_SNAPSHOT_NEWEST && b == FAULT_SNAPSHOT_PREVIOUS) return CLASS_REFUSED;
    if (a == FAULT_COPIES_TRUNCATED && b == FAULT_TORN_TAIL) return CLASS_REFUSED;
    return MAX(recovery_fault_class[a], recovery_fault_class[b]);
}

static void recovery_write(struct sim *sim, const char *name, const void *bytes, u64 size,
                           u64 offset) {
    struct storage_io *io = sim->io;
    int file = -1;
    assert_int_equal(io->open(io, name, 0, &file), KHORGOS_ERROR_ok);
    assert_int_equal(io->pwrite(io, file, bytes, size, offset), KHORGOS_ERROR_ok);
    assert_int_equal(io->sync(io, file), KHORGOS_ERROR_ok);
    io->close(io, file);
}

static bool recovery_flip_record(struct sim *sim, const struct recovery_layout *layout,
                                 u64 sequence, u64 within) {
    u64 offset = recovery_record_offset(sim, layout->journal_name, layout->segment_last, sequence);
    return storage_fault_damage(sim->io, layout->journal_name, offset + within, 2) ==
           KHORGOS_ERROR_ok;
}

static bool recovery_break_chain(struct sim *sim, const struct recovery_layout *layout) {
    u64 offset = recovery_record_offset(sim, layout->journal_name, layout->segment_last,
                                        layout->sequence_last - 1);
    struct storage_record_header header;
    int file = -1;
    u64 read_size = 0;
    assert_int_equal(sim->io->open(sim->io, layout->journal_name, 0, &file), KHORGOS_ERROR_ok);
    assert_int_equal(sim->io->pread(sim->io, file, &header, sizeof(header), offset, &read_size),
                     KHORGOS_ERROR_ok);
    sim->io->close(sim->io, file);
    header.hash_previous[0] ^= 1;
    storage_record_header_seal(&header);
    recovery_write(sim, layout->journal_name, &header, sizeof(header), offset);
    return true;
}

static bool recovery_segment_unfinished(struct sim *sim, const struct recovery_layout *layout) {
    char name[STORAGE_NAME_BYTES_MAX];
    storage_name(STORAGE_FILE_JOURNAL, layout->sequence_last + 1, name);
    int file = -1;
    assert_int_equal(sim->io->open(sim->io, name, STORAGE_OPEN_CREATE, &file), KHORGOS_ERROR_ok);
    assert_int_equal(sim->io->allocate(sim->io, file, sim_superblock.segment_bytes),
                     KHORGOS_ERROR_ok);
    assert_int_equal(sim->io->sync(sim->io, file), KHORGOS_ERROR_ok);
    sim->io->close(sim->io, file);
    return sim->io->sync_directory(sim->io) == KHORGOS_ERROR_ok;
}

/* Injects one fault; false when the fault no longer applies (a file already cut short). */
static bool recovery_inject(struct sim *sim, const struct recovery_layout *layout,
                            enum recovery_fault fault) {
    struct storage_io *io = sim->io;
    u64 copy_last = (layout->sequence_last - layout->segment_last) * STORAGE_RECORD_HEADER_BYTES;
    u8 torn[300];
    struct storage_superblock superblock = sim_superblock;
    switch (fault) {
    case FAULT_COPIES_TRUNCATED:
        return storage_fault_truncate(io, layout->headers_name, 0) == KHORGOS_ERROR_ok;
    case FAULT_RECORD_BELOW:
        return recovery_flip_record(sim, layout, layout->snapshot_newest, 200);
    case FAULT_RECORD_ABOVE:
        return recovery_flip_record(sim, layout, layout->snapshot_newest + 1, 164);
    case FAULT_RECORD_LAST:
        return recovery_flip_record(sim, layout, layout->sequence_last, 140);
    case FAULT_TORN_TAIL:
        memset(torn, 0xA5, sizeof(torn));
        recovery_write(sim, layout->journal_name, torn, sizeof(torn),
                       recovery_record_offset(sim, layout->journal_name, layout->segment_last,
                                              layout->sequence_last + 1));
        return true;
    case FAULT_SNAPSHOT_NEWEST:
        return storage_fault_damage(io, layout->snapshot_newest_name, 300, 4) == KHORGOS_ERROR_ok;
    case FAULT_SNAPSHOT_PREVIOUS:
        return storage_fault_damage(io, layout->snapshot_previous_name, 300, 4) ==
               KHORGOS_ERROR_ok;
    case FAULT_SUPERBLOCK:
        return storage_fault_damage(io, "superblock", 30, 1) == KHORGOS_ERROR_ok;
    case FAULT_COPY_LAST:
        return storage_fault_damage(io, layout->headers_name, copy_last + 102, 3) ==
               KHORGOS_ERROR_ok;
    case FAULT_COPY_MIDDLE:
        return storage_fault_damage(io, layout->headers_name, STORAGE_RECORD_HEADER_BYTES + 102,
                                    3) == KHORGOS_ERROR_ok;
    case FAULT_CHAIN_BROKEN:
        return recovery_break_chain(sim, layout);
    case FAULT_SEGMENT_UNFINISHED:
        return recovery_segment_unfinished(sim, layout);
    case FAULT_FORMAT_VERSION:
        superblock.format_version = STORAGE_FORMAT_VERSION + 1;
        return storage_superblock_write(io, &superblock) == KHORGOS_ERROR_ok;
    default:
        fail();
    }
    return false;
}

static enum recovery_class recovery_check(struct sim *sim, struct storage_report *report) {
    khorgos_error error = engine_storage_check(sim->io, report);
    if (error == KHORGOS_ERROR_corrupt || error == KHORGOS_ERROR_format_version) {
        return CLASS_REFUSED;
    }
    assert_int_equal(error, KHORGOS_ERROR_ok);
    return report->repairable ? CLASS_REPAIRABLE : CLASS_CLEAN;
}

/* One combination: check's class is the table's; open does what the class says (refuses and
 * changes nothing, or serves every acknowledged request); then check and a second open agree,
 * and only a damaged snapshot (which checkpoints replace) is still reported. */
static void recovery_combination(u64 seed, enum recovery_fault a, enum recovery_fault b,
                                 u32 *tried) {
    struct sim *sim = recovery_directory_build(seed);
    struct recovery_layout layout;
    recovery_layout(sim, &layout);
    assert_true(layout.sequence_last > layout.snapshot_newest + 1);
    assert_true(layout.snapshot_newest >= layout.segment_last);
    bool applied = recovery_inject(sim, &layout, a) &&
                   (b == FAULT_COUNT || recovery_inject(sim, &layout, b));
    enum recovery_class expected = recovery_pair_class(a, b);
    static struct storage_report report;
    enum recovery_class found = applied ? recovery_check(sim, &report) : expected;
    if (found != expected) {
        fprintf(stderr, "faults %u + %u: check class %u, the table says %u: %s\n", a, b, found,
                expected, report.message);
    }
    assert_int_equal(found, expected);
    if (!applied) {
        recovery_destroy(sim);
        return;
    }
    *tried += 1;
    if (expected == CLASS_REFUSED) {
        recovery_expect_refused_quietly(sim);
        recovery_destroy(sim);
        return;
    }
    recovery_expect_served(sim, &report);
    assert_true(report.repairable == (expected == CLASS_REPAIRABLE));
    bool snapshot = a == FAULT_SNAPSHOT_NEWEST || a == FAULT_SNAPSHOT_PREVIOUS ||
                    b == FAULT_SNAPSHOT_NEWEST || b == FAULT_SNAPSHOT_PREVIOUS;
    enum recovery_class after = recovery_check(sim, &report);
    assert_int_equal(after, snapshot ? CLASS_REPAIRABLE : CLASS_CLEAN);
    recovery_expect_served(sim, &report);
    assert_true(report.repairable == (after == CLASS_REPAIRABLE));
    recovery_destroy(sim);
}

static void test_two_faults_against_the_table(void **state) {
    (void)state;
    u32 tried = 0;
    u32 pairs = 0;
    /* b == FAULT_COUNT: a alone (the table's one-fault rows). */
    for (u32 a = 0; a < FAULT_COUNT; a++) {
        for (u32 b = a + 1; b <= FAULT_COUNT; b++) {
            recovery_combination(77, a, b, &tried);
            pairs++;
        }
    }
    printf("faults: %u single and %u pairs, %u applicable, each as the table says\n",
           FAULT_COUNT, pairs - FAULT_COUNT, tried);
    assert_int_equal(pairs, FAULT_COUNT * (FAULT_COUNT + 1) / 2);
    /* A header copy cannot be flipped in a headers file already cut to 0 bytes. */
    assert_int_equal(tried, pairs - 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_truncated_and_record_below_snapshot_flipped),
        cmocka_unit_test(test_copies_truncated_and_record_before_later_commits_flipped),
        cmocka_unit_test(test_copies_truncated_and_last_record_flipped),
        cmocka_unit_test(test_copies_truncated_journal_intact),
        cmocka_unit_test(test_power_loss_during_the_repair),
        cmocka_unit_test(test_two_faults_against_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
