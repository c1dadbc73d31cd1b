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
    assert_int_equal(storage_fault_damage(sim->io, layout.journal_name, offset + 40, 3),
                     KHORGOS_ERROR_ok);
    recovery_expect_refused(sim, layout.journal_name);
    recovery_destroy(sim);
}

/* The same with the flipped record above the newest snapshot: the records of later commits
 * after it prove its write had completed, so it is damage, not a torn tail. */
static void test_copies_truncated_and_record_before_later_commits_flipped(void **state) {
    (void)state;
    struct sim *sim = recovery_directory_build(80);
    struct recovery_layout layout;
    recovery_layout(sim, &layout);
    assert_true(layout.sequence_last > layout.snapshot_newest + 2);
    u64 sequence = layout.snapshot_newest + 1;
    u64 offset = recovery_record_offset(sim, layout.journal_name, layout.segment_last, sequence);
    assert_int_equal(storage_fault_truncate(sim->io, layout.headers_name, 0), KHORGOS_ERROR_ok);
    assert_int_equal(storage_fault_damage(sim->io, layout.journal_name, offset + 130, 1),
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_truncated_and_record_below_snapshot_flipped),
        cmocka_unit_test(test_copies_truncated_and_record_before_later_commits_flipped),
        cmocka_unit_test(test_copies_truncated_and_last_record_flipped),
        cmocka_unit_test(test_copies_truncated_journal_intact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
