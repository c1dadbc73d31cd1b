/* settle_snapshot_round_trip.h: writes an engine's ledger and settlement sections into a
 * snapshot on the seeded in-memory fault I/O, reads them back into `copy` (a fresh engine of
 * the same capacities) and checks both digests are equal, so a test can then run the same
 * requests on both and compare. Shared by test_settle_snapshot.c and test_settle_netting.c. */
#ifndef KHORGOS_TESTS_SETTLE_SNAPSHOT_ROUND_TRIP_H
#define KHORGOS_TESTS_SETTLE_SNAPSHOT_ROUND_TRIP_H

#include "engine/engine.h"
#include "storage/storage.h"

static void settle_snapshot_round_trip(struct khorgos *engine, struct khorgos *copy, u64 seed,
                                       u32 transfer_count_max, u32 account_balance_count_max) {
    struct storage_fault_config fault = {.seed = seed};
    struct storage_io *io = storage_fault_create(&fault);
    const struct storage_superblock superblock = {
        .format_version = STORAGE_FORMAT_VERSION, .account_count_max = 4096,
        .transfer_count_max = transfer_count_max,
        .account_balance_count_max = account_balance_count_max,
        .segment_bytes = STORAGE_SEGMENT_BYTES_MIN, .segment_records_max = STORAGE_SEGMENT_RECORDS_MIN};
    struct storage *storage = NULL;
    assert_int_equal(storage_create(io, &superblock, &storage), KHORGOS_ERROR_ok);
    const u8 zero[BASE_SHA256_BYTES] = {0};
    assert_int_equal(storage_segment_start(storage, 1, zero), KHORGOS_ERROR_ok);
    struct storage_writer *writer = NULL;
    assert_int_equal(storage_snapshot_begin(storage, 5, &writer), KHORGOS_ERROR_ok);
    ledger_snapshot_write(&engine->ledger, writer);
    settle_snapshot_write(&engine->settle, writer);
    assert_int_equal(storage_snapshot_end(writer, engine->timestamp_last, 1, zero), KHORGOS_ERROR_ok);
    struct storage_snapshot_header header;
    struct storage_reader *reader = NULL;
    struct storage_report report = {0};
    assert_int_equal(storage_snapshot_open(storage, 5, &header, &reader, &report), KHORGOS_ERROR_ok);
    struct storage_section_header section;
    assert_int_equal(storage_reader_section_next(reader, &section), KHORGOS_ERROR_ok);
    assert_int_equal(ledger_snapshot_read(&copy->ledger, reader), KHORGOS_ERROR_ok);
    assert_int_equal(storage_reader_section_next(reader, &section), KHORGOS_ERROR_ok);
    assert_int_equal(section.module, SETTLE_SNAPSHOT_SECTION);
    assert_int_equal(settle_snapshot_read(&copy->settle, reader), KHORGOS_ERROR_ok);
    storage_reader_close(reader);
    storage_destroy(storage);
    storage_fault_destroy(io);
    copy->timestamp_last = engine->timestamp_last;
    copy->clock_manual_ns = engine->clock_manual_ns;
    assert_true(ledger_digest(&copy->ledger) == ledger_digest(&engine->ledger));
    assert_true(settle_digest(&copy->settle) == settle_digest(&engine->settle));
}

#endif /* KHORGOS_TESTS_SETTLE_SNAPSHOT_ROUND_TRIP_H */
