/* test_storage_journal.c: the journal, snapshots and superblock on their own, over the
 * fault-injecting I/O: round trips, the chain, torn tails told apart from damage, snapshot
 * sections and fallback material, and the format version check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "storage/storage.h"

#define RECORDS_MAX 64u
#define BODY_BYTES_MAX 512u

struct record_copy {
    u64 sequence;
    u32 operation;
    u64 timestamp;
    char actor[STORAGE_ACTOR_BYTES + 1];
    u32 body_size;
    u8 body[BODY_BYTES_MAX];
};

struct collected {
    struct record_copy records[RECORDS_MAX * 2];
    u32 count;
};

static const struct storage_superblock test_superblock = {
    .format_version = STORAGE_FORMAT_VERSION,
    .account_count_max = 64,
    .transfer_count_max = 256,
    .account_balance_count_max = 256,
    .segment_bytes = STORAGE_SEGMENT_BYTES_MIN,
    .segment_records_max = STORAGE_SEGMENT_RECORDS_MIN,
};

static khorgos_error collect_record(void *context, const struct storage_record_header *header,
                                    const void *body) {
    struct collected *collected = context;
    assert_true(collected->count < ARRAY_COUNT(collected->records));
    struct record_copy *copy = &collected->records[collected->count++];
    copy->sequence = header->sequence;
    copy->operation = header->operation;
    copy->timestamp = header->timestamp;
    memcpy(copy->actor, header->actor, STORAGE_ACTOR_BYTES);
    copy->actor[STORAGE_ACTOR_BYTES] = 0;
    copy->body_size = header->body_size;
    assert_true(header->body_size <= BODY_BYTES_MAX);
    memcpy(copy->body, body, header->body_size);
    return KHORGOS_ERROR_ok;
}

static void record_make(struct record_copy *record, u64 sequence, u64 seed) {
    memset(record, 0, sizeof(*record));
    record->sequence = sequence;
    record->operation = 128 + (u32)(seed % 8);
    record->timestamp = 1000 * sequence + seed % 7;
    snprintf(record->actor, sizeof(record->actor), "%s", seed % 3 ? "local" : "engine");
    record->body_size = (u32)(seed * 37 % BODY_BYTES_MAX);
    for (u32 index = 0; index < record->body_size; index++) {
        record->body[index] = (u8)(seed * 131 + index * 7);
    }
}

static struct storage *storage_fresh(struct storage_io *io) {
    struct storage *storage = NULL;
    assert_int_equal(storage_create(io, &test_superblock, &storage), KHORGOS_ERROR_ok);
    const u8 zero[BASE_SHA256_BYTES] = {0};
    assert_int_equal(storage_segment_start(storage, 1, zero), KHORGOS_ERROR_ok);
    return storage;
}

static void append_records(struct storage *storage, const struct record_copy *records, u32 from,
                           u32 to) {
    for (u32 index = from; index < to; index++) {
        const struct record_copy *record = &records[index];
        assert_int_equal(storage_journal_append(storage, record->sequence, record->operation,
                                                record->timestamp, record->actor, NULL, record->body,
                                                record->body_size),
                         KHORGOS_ERROR_ok);
    }
}

static khorgos_error recover(struct storage_io *io, struct collected *collected,
                             struct storage_report *report, struct storage **out) {
    struct storage *storage = NULL;
    assert_int_equal(storage_create(io, &test_superblock, &storage), KHORGOS_ERROR_ok);
    memset(collected, 0, sizeof(*collected));
    memset(report, 0, sizeof(*report));
    const u8 zero[BASE_SHA256_BYTES] = {0};
    khorgos_error error =
        storage_journal_recover(storage, 0, zero, true, collect_record, collected, report);
    if (out != NULL && error == KHORGOS_ERROR_ok) {
        *out = storage;
    } else {
        storage_destroy(storage);
    }
    return error;
}

static void test_journal_round_trip_and_chain(void **state) {
    (void)state;
    struct storage_fault_config config = {.seed = 1};
    struct storage_io *io = storage_fault_create(&config);
    struct storage *storage = storage_fresh(io);
    static struct record_copy records[RECORDS_MAX];
    for (u32 index = 0; index < RECORDS_MAX; index++) record_make(&records[index], index + 1, index);
    const u64 batches_before = storage_batches_written(storage);
    for (u32 batch = 0; batch < RECORDS_MAX; batch += 8) {
        append_records(storage, records, batch, batch + 8);
        assert_false(storage_journal_idle(storage));
        assert_int_equal(storage_journal_commit(storage), KHORGOS_ERROR_ok);
        assert_true(storage_journal_idle(storage));
        /* One write per commit, counted and over: a checkpoint's thread sees the gap. */
        assert_int_equal(storage_batches_written(storage) - batches_before, batch / 8 + 1);
        assert_false(storage_batch_being_written(storage));
    }
    u8 head[BASE_SHA256_BYTES];
    storage_chain_head(storage, head);
    storage_destroy(storage);

    static struct collected collected;
    struct storage_report report;
    struct storage *reopened = NULL;
    assert_int_equal(recover(io, &collected, &report, &reopened), KHORGOS_ERROR_ok);
    assert_int_equal(collected.count, RECORDS_MAX);
    for (u32 index = 0; index < RECORDS_MAX; index++) {
        const struct record_copy *got = &collected.records[index];
        assert_int_equal(got->sequence, records[index].sequence);
        assert_int_equal(got->operation, records[index].operation);
        assert_int_equal(got->timestamp, records[index].timestamp);
        assert_string_equal(got->actor, records[index].actor);
        assert_int_equal(got->body_size, records[index].body_size);
        assert_memory_equal(got->body, records[index].body, got->body_size);
    }
    assert_memory_equal(report.chain_head, head, BASE_SHA256_BYTES);
    assert_int_equal(report.torn_records, 0);
    assert_int_equal(storage_sequence_next(reopened), RECORDS_MAX + 1);
    /* Appending continues the chain where it stopped. */
    struct record_copy next;
    record_make(&next, RECORDS_MAX + 1, 99);
    append_records(reopened, &next, 0, 1);
    assert_int_equal(storage_journal_commit(reopened), KHORGOS_ERROR_ok);
    storage_destroy(reopened);
    assert_int_equal(recover(io, &collected, &report, NULL), KHORGOS_ERROR_ok);
    assert_int_equal(collected.count, RECORDS_MAX + 1);
    storage_fault_destroy(io);
}

/* A batch whose sync failed was never acknowledged: after a crash it is gone or whole, never
 * half there; the acknowledged records before it always survive. */
static void test_journal_torn_tail_is_truncated(void **state) {
    (void)state;
    u64 torn_seen = 0;
    for (u64 seed = 1; seed <= 150; seed++) {
        struct storage_fault_config config = {.seed = seed};
        struct storage_io *io = storage_fault_create(&config);
        struct storage *storage = storage_fresh(io);
        static struct record_copy records[16];
        for (u32 index = 0; index < 16; index++) record_make(&records[index], index + 1, seed + index);
        append_records(storage, records, 0, 8);
        assert_int_equal(storage_journal_commit(storage), KHORGOS_ERROR_ok);
        append_records(storage, records, 8, 16);
        struct storage_fault_config failing = {.sync_error_per_million = 1000000};
        storage_fault_configure(io, &failing);
        assert_int_equal(storage_journal_commit(storage), KHORGOS_ERROR_io);
        assert_int_equal(storage_journal_commit(storage), KHORGOS_ERROR_io); /* failed for good */
        storage_fault_crash(io);
        storage_destroy(storage);
        struct storage_fault_config healthy = {0};
        storage_fault_configure(io, &healthy);
        static struct collected collected;
        struct storage_report report;
        assert_int_equal(recover(io, &collected, &report, NULL), KHORGOS_ERROR_ok);
        assert_true(collected.count >= 8 && collected.count <= 16);
        for (u32 index = 0; index < collected.count; index++) {
            assert_int_equal(collected.records[index].body_size, records[index].body_size);
            assert_memory_equal(collected.records[index].body, records[index].body,
                                records[index].body_size);
        }
        torn_seen += report.torn_records;
        /* A second recovery finds a clean journal: the first one repaired it. */
        assert_int_equal(recover(io, &collected, &report, NULL), KHORGOS_ERROR_ok);
        assert_int_equal(report.torn_records, 0);
        assert_int_equal(report.confirmed_records, 0);
        storage_fault_destroy(io);
    }
    assert_true(torn_seen > 0);
}

/* Damage to an acknowledged record is refused, naming the file, offset and sequence. */
static void test_journal_damage_is_refused(void **state) {
    (void)state;
    for (u64 seed = 1; seed <= 120; seed++) {
        struct storage_fault_config config = {.seed = seed};
        struct storage_io *io = storage_fault_create(&config);
        struct storage *storage = storage_fresh(io);
        static struct record_copy records[12];
        for (u32 index = 0; index < 12; index++) record_make(&records[index], index + 1, seed * 3 + index);
        for (u32 commit = 0; commit < 4; commit++) { /* four commits of three records */
            append_records(storage, records, commit * 3, commit * 3 + 3);
            assert_int_equal(storage_journal_commit(storage), KHORGOS_ERROR_ok);
        }
        u64 journal_bytes = storage_segment_bytes_used(storage);
        storage_destroy(storage);
        bool in_headers = seed % 3 == 0;
        u64 offset = in_headers ? storage_fault_random(io) % (12 * STORAGE_RECORD_HEADER_BYTES)
                                : storage_fault_random(io) % journal_bytes;
        assert_int_equal(storage_fault_damage(io, in_headers ? "headers-0000000000000001"
                                                             : "journal-0000000000000001",
                                              offset, (u8)(seed % 8)),
                         KHORGOS_ERROR_ok);
        static struct collected collected;
        struct storage_report report;
        khorgos_error error = recover(io, &collected, &report, NULL);
        bool last_commit = in_headers && offset >= 9 * STORAGE_RECORD_HEADER_BYTES;
        if (last_commit) {
            /* The last copy write may have been torn by a crash before its reply: its copies
             * are rewritten from the verified records, which are what is served. */
            assert_int_equal(error, KHORGOS_ERROR_ok);
            assert_int_equal(collected.count, 12);
            assert_true(report.confirmed_records > 0);
        } else {
            assert_int_equal(error, KHORGOS_ERROR_corrupt);
            assert_non_null(strstr(report.message, "damage to acknowledged data"));
            assert_non_null(strstr(report.message, in_headers ? "headers-" : "journal-"));
            assert_non_null(strstr(report.message, "sequence"));
        }
        storage_fault_destroy(io);
    }
}

static void test_snapshot_sections_round_trip_and_damage(void **state) {
    (void)state;
    struct storage_fault_config config = {.seed = 7};
    struct storage_io *io = storage_fault_create(&config);
    struct storage *storage = storage_fresh(io);
    static u8 big[3u << 20];
    for (u32 index = 0; index < sizeof(big); index++) big[index] = (u8)(index * 2654435761u >> 13);
    struct storage_writer *writer = NULL;
    assert_int_equal(storage_snapshot_begin(storage, 5, &writer), KHORGOS_ERROR_ok);
    storage_writer_section_begin(writer, STORAGE_SECTION_ENGINE, 1);
    storage_writer_put(writer, "abc", 3);
    storage_writer_section_end(writer);
    storage_writer_section_begin(writer, STORAGE_SECTION_LEDGER, 1);
    storage_writer_put(writer, big, sizeof(big));
    storage_writer_section_end(writer);
    u8 head[BASE_SHA256_BYTES];
    memset(head, 0xAB, sizeof(head));
    assert_int_equal(storage_snapshot_end(writer, 77, (u128)12345, head), KHORGOS_ERROR_ok);

    struct storage_snapshot_header header;
    struct storage_reader *reader = NULL;
    struct storage_report report = {0};
    assert_int_equal(storage_snapshot_open(storage, 5, &header, &reader, &report),
                     KHORGOS_ERROR_ok);
    assert_int_equal(header.sequence, 5);
    assert_int_equal(header.timestamp_last, 77);
    assert_true(header.digest == (u128)12345);
    assert_memory_equal(header.chain_head, head, sizeof(head));
    struct storage_section_header section;
    assert_int_equal(storage_reader_section_next(reader, &section), KHORGOS_ERROR_ok);
    assert_int_equal(section.module, STORAGE_SECTION_ENGINE);
    char small[3];
    assert_int_equal(storage_reader_get(reader, small, 3), KHORGOS_ERROR_ok);
    assert_memory_equal(small, "abc", 3);
    assert_int_equal(storage_reader_get(reader, small, 1), KHORGOS_ERROR_corrupt); /* past end */
    assert_int_equal(storage_reader_section_next(reader, &section), KHORGOS_ERROR_ok);
    assert_int_equal(section.size, sizeof(big));
    static u8 back[3u << 20];
    assert_int_equal(storage_reader_get(reader, back, sizeof(back)), KHORGOS_ERROR_ok);
    assert_memory_equal(back, big, sizeof(big));
    assert_int_equal(storage_reader_section_next(reader, &section), KHORGOS_ERROR_not_found);
    storage_reader_close(reader);

    u64 size = 0;
    assert_int_equal(storage_fault_file(io, "snapshot-0000000000000005", &size), KHORGOS_ERROR_ok);
    for (u32 trial = 0; trial < 64; trial++) {
        u64 offset = storage_fault_random(io) % size;
        assert_int_equal(storage_fault_damage(io, "snapshot-0000000000000005", offset, 3),
                         KHORGOS_ERROR_ok);
        memset(&report, 0, sizeof(report));
        assert_int_equal(storage_snapshot_open(storage, 5, &header, &reader, &report),
                         KHORGOS_ERROR_corrupt);
        assert_non_null(strstr(report.message, "snapshot-0000000000000005"));
        assert_int_equal(storage_fault_damage(io, "snapshot-0000000000000005", offset, 3),
                         KHORGOS_ERROR_ok);
    }
    assert_int_equal(storage_snapshot_open(storage, 5, &header, &reader, &report),
                     KHORGOS_ERROR_ok);
    storage_reader_close(reader);
    storage_destroy(storage);
    storage_fault_destroy(io);
}

static void test_superblock_version_is_checked(void **state) {
    (void)state;
    struct storage_fault_config config = {.seed = 3};
    struct storage_io *io = storage_fault_create(&config);
    struct storage_superblock superblock;
    assert_int_equal(storage_superblock_read(io, &superblock), KHORGOS_ERROR_not_found);
    assert_int_equal(storage_superblock_write(io, &test_superblock), KHORGOS_ERROR_ok);
    assert_int_equal(storage_superblock_read(io, &superblock), KHORGOS_ERROR_ok);
    assert_int_equal(superblock.transfer_count_max, test_superblock.transfer_count_max);
    assert_int_equal(superblock.segment_bytes, test_superblock.segment_bytes);
    storage_fault_destroy(io);

    io = storage_fault_create(&config);
    struct storage_superblock future = test_superblock;
    future.format_version = STORAGE_FORMAT_VERSION + 1;
    assert_int_equal(storage_superblock_write(io, &future), KHORGOS_ERROR_ok);
    assert_int_equal(storage_superblock_read(io, &superblock), KHORGOS_ERROR_format_version);
    assert_int_equal(superblock.format_version, STORAGE_FORMAT_VERSION + 1);
    assert_int_equal(storage_fault_damage(io, "superblock", 30, 1), KHORGOS_ERROR_ok);
    assert_int_equal(storage_superblock_read(io, &superblock), KHORGOS_ERROR_corrupt);
    storage_fault_destroy(io);
}

/* The fault I/O itself: unsynced writes may vanish at a crash, synced ones never do. */
static void test_fault_io_crash_keeps_synced_bytes(void **state) {
    (void)state;
    u64 lost = 0;
    for (u64 seed = 1; seed <= 100; seed++) {
        struct storage_fault_config config = {.seed = seed};
        struct storage_io *io = storage_fault_create(&config);
        int file = -1;
        assert_int_equal(io->open(io, "file", STORAGE_OPEN_CREATE, &file), KHORGOS_ERROR_ok);
        assert_int_equal(io->sync_directory(io), KHORGOS_ERROR_ok);
        u8 synced[4096];
        u8 unsynced[4096];
        memset(synced, 0x11, sizeof(synced));
        memset(unsynced, 0x22, sizeof(unsynced));
        assert_int_equal(io->pwrite(io, file, synced, sizeof(synced), 0), KHORGOS_ERROR_ok);
        assert_int_equal(io->sync(io, file), KHORGOS_ERROR_ok);
        assert_int_equal(io->pwrite(io, file, unsynced, sizeof(unsynced), 4096), KHORGOS_ERROR_ok);
        storage_fault_crash(io);
        u8 back[8192];
        u64 read_size = 0;
        assert_int_equal(io->pread(io, file, back, 8, 0, &read_size), KHORGOS_ERROR_io); /* stale */
        assert_int_equal(io->open(io, "file", 0, &file), KHORGOS_ERROR_ok);
        assert_int_equal(io->pread(io, file, back, sizeof(back), 0, &read_size), KHORGOS_ERROR_ok);
        assert_true(read_size == 4096 || read_size == 8192);
        assert_memory_equal(back, synced, sizeof(synced));
        if (read_size == 4096 || memcmp(back + 4096, unsynced, 4096) != 0) lost++;
        storage_fault_destroy(io);
    }
    assert_true(lost > 0);
}


/* On a real directory a checkpoint is written by a thread while the engine commits on;
 * closing waits for it and publishes it, and the next open starts from it. */
static void test_posix_background_checkpoint(void **state) {
    (void)state;
    char directory[] = "/tmp/khorgos-test-storage-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char data[sizeof(directory) + 8];
    snprintf(data, sizeof(data), "%s/data", directory);
    struct khorgos_config config = {.account_count_max = 16, .transfer_count_max = 1024,
                                    .account_balance_count_max = 64, .participant_count_max = 4,
                                    .payment_count_max = 16, .clock_manual = 1};
    assert_int_equal(khorgos_format(data, &config), KHORGOS_ERROR_ok);
    assert_int_equal(khorgos_format(data, &config), KHORGOS_ERROR_exists);
    struct khorgos_open_options options = {.clock_manual = 1,
                                           .checkpoint_journal_bytes = UINT64_MAX};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, data, &options), KHORGOS_ERROR_ok);
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
    _Alignas(16) struct khorgos_transfer transfer;
    for (u32 index = 0; index < 20; index++) {
        if (index == 10) assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_ok);
        memset(&transfer, 0, sizeof(transfer));
        transfer.id = 100 + index;
        transfer.debit_account_id = 1;
        transfer.credit_account_id = 2;
        transfer.amount = 5;
        transfer.ledger = 398;
        transfer.code = 1;
        request = (struct khorgos_request){.operation = KHORGOS_OPERATION_CREATE_TRANSFERS,
                                           .body_size = sizeof(transfer), .body = &transfer,
                                           .reply = results, .reply_capacity = sizeof(results)};
        assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
        assert_int_equal(results[0].status, KHORGOS_CREATE_TRANSFER_created);
    }
    u8 head[32];
    u64 sequence = 0;
    assert_int_equal(khorgos_chain_head(engine, head, &sequence), KHORGOS_ERROR_ok);
    assert_int_equal(sequence, 21);
    struct khorgos_checkpoint_statistics statistics;
    assert_int_equal(khorgos_checkpoint_statistics(engine, &statistics), KHORGOS_ERROR_ok);
    assert_int_equal(statistics.started, 1);
    assert_int_equal(statistics.discarded, 0);
    assert_true(statistics.completed + (statistics.sequence_running == 11 ? 1u : 0u) == 1);
    khorgos_close(engine); /* waits for the thread and publishes snapshot-<11> */
    char name[sizeof(data) + STORAGE_NAME_BYTES_MAX];
    snprintf(name, sizeof(name), "%s/snapshot-%016llx", data, 11ull);
    assert_int_equal(access(name, F_OK), 0);
    char report[512] = "";
    options.report = report;
    options.report_capacity = sizeof(report);
    assert_int_equal(khorgos_open(&engine, data, &options), KHORGOS_ERROR_ok);
    /* Making the memory resident after recovery keeps every record (checked below). */
    assert_int_equal(khorgos_memory_prefault(engine), KHORGOS_ERROR_ok);
    khorgos_close(engine);
    options.memory_prefault = 1; /* and before the replay, as the benchmark's replay opens */
    assert_int_equal(khorgos_open(&engine, data, &options), KHORGOS_ERROR_ok);
    u8 head_again[32];
    assert_int_equal(khorgos_chain_head(engine, head_again, &sequence), KHORGOS_ERROR_ok);
    assert_int_equal(sequence, 21);
    assert_memory_equal(head, head_again, sizeof(head));
    u128 id = 119;
    _Alignas(16) struct khorgos_transfer found;
    request = (struct khorgos_request){.operation = KHORGOS_OPERATION_LOOKUP_TRANSFERS,
                                       .body_size = sizeof(id), .body = &id, .reply = &found,
                                       .reply_capacity = sizeof(found)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.reply_size, sizeof(found));
    assert_true(found.id == 119);
    khorgos_close(engine);
    char command[256];
    snprintf(command, sizeof(command), "rm -rf '%s'", directory);
    assert_int_equal(system(command), 0);
}

/* Whether the simulated directory holds a file of that name. */
static bool file_exists(struct storage_io *io, const char *name) {
    int file = -1;
    khorgos_error error = io->open(io, name, 0, &file);
    if (error == KHORGOS_ERROR_ok) io->close(io, file);
    assert_true(error == KHORGOS_ERROR_ok || error == KHORGOS_ERROR_not_found);
    return error == KHORGOS_ERROR_ok;
}

/* Commits records up to `to`, then starts the segment that follows them. */
static void segment_next(struct storage *storage, const struct record_copy *records, u32 from,
                         u32 to) {
    append_records(storage, records, from, to);
    assert_int_equal(storage_journal_commit(storage), KHORGOS_ERROR_ok);
    u8 head[BASE_SHA256_BYTES];
    storage_chain_head(storage, head);
    assert_int_equal(storage_segment_start(storage, to + 1, head), KHORGOS_ERROR_ok);
    char name[STORAGE_NAME_BYTES_MAX];
    storage_name(STORAGE_FILE_JOURNAL, to + 1, name);
    assert_true(file_exists(storage_io(storage), name));
}

/* C4 (engine_storage.c): a segment start takes the spare files, two renames, unless a
 * checkpoint's thread is making them (spares_mutex held): then it does not wait, creates its
 * own files and leaves the spares alone; a start that took them says so, for the thread to
 * make new ones; the journal stays whole either way. */
static void test_segment_start_takes_spares_unless_being_made(void **state) {
    (void)state;
    struct storage_fault_config config = {.seed = 5};
    struct storage_io *io = storage_fault_create(&config);
    struct storage *storage = storage_fresh(io);
    static struct record_copy records[RECORDS_MAX];
    for (u32 index = 0; index < RECORDS_MAX; index++) record_make(&records[index], index + 1, index);
    assert_false(storage_segment_spares_ready(storage)); /* none made yet */
    assert_int_equal(storage_segment_prepare_spares(storage), KHORGOS_ERROR_ok);
    assert_true(storage_segment_spares_ready(storage));
    assert_true(file_exists(io, "journal-spare") && file_exists(io, "headers-spare"));

    pthread_mutex_lock(&storage->spares_mutex); /* as the thread holds it while making them */
    segment_next(storage, records, 0, 8);
    pthread_mutex_unlock(&storage->spares_mutex);
    assert_true(file_exists(io, "journal-spare") && file_exists(io, "headers-spare"));

    assert_true(storage_segment_spares_ready(storage));
    segment_next(storage, records, 8, 16);
    assert_false(file_exists(io, "journal-spare") || file_exists(io, "headers-spare"));
    assert_false(storage_segment_spares_ready(storage)); /* a checkpoint's thread remakes them */
    assert_int_equal(storage_segment_prepare_spares(storage), KHORGOS_ERROR_ok);
    assert_true(storage_segment_spares_ready(storage));
    assert_true(file_exists(io, "journal-spare") && file_exists(io, "headers-spare"));
    segment_next(storage, records, 16, 24);
    assert_false(file_exists(io, "journal-spare") || file_exists(io, "headers-spare"));
    storage_destroy(storage);

    static struct collected collected;
    struct storage_report report;
    assert_int_equal(recover(io, &collected, &report, NULL), KHORGOS_ERROR_ok);
    assert_int_equal(collected.count, 24);
    storage_fault_destroy(io);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_round_trip_and_chain),
        cmocka_unit_test(test_journal_torn_tail_is_truncated),
        cmocka_unit_test(test_journal_damage_is_refused),
        cmocka_unit_test(test_snapshot_sections_round_trip_and_damage),
        cmocka_unit_test(test_superblock_version_is_checked),
        cmocka_unit_test(test_fault_io_crash_keeps_synced_bytes),
        cmocka_unit_test(test_posix_background_checkpoint),
        cmocka_unit_test(test_segment_start_takes_spares_unless_being_made),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
