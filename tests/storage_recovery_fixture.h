/*
 * storage_recovery_fixture.h: a data directory on the simulated disk with several snapshots
 * and acknowledged requests, and the checks every recovery test makes: a refused directory is
 * left byte for byte as it was, by check and by open alike; a served one holds every
 * acknowledged request and reaches the reference engine's state. Include after storage_sim.h.
 */
#ifndef KHORGOS_TESTS_STORAGE_RECOVERY_FIXTURE_H
#define KHORGOS_TESTS_STORAGE_RECOVERY_FIXTURE_H

struct recovery_layout {
    u64 segment_last;     /* first sequence of the last segment */
    u64 snapshot_newest;
    u64 snapshot_previous;
    u64 sequence_last;    /* the last acknowledged request */
    char journal_name[STORAGE_NAME_BYTES_MAX];
    char headers_name[STORAGE_NAME_BYTES_MAX];
    char snapshot_newest_name[STORAGE_NAME_BYTES_MAX];
    char snapshot_previous_name[STORAGE_NAME_BYTES_MAX];
};

/* Formats, then commits rounds of the crash simulation's workload with no fault, with small
 * automatic checkpoints (so snapshots fall inside the last segment), and closes cleanly;
 * the simulation counts into `totals`. */
static inline struct sim *recovery_directory_build_counted(u64 seed, u32 flags,
                                                           struct sim_totals *totals) {
    assert_non_null(totals);
    struct sim *sim = calloc(1, sizeof(*sim));
    assert_non_null(sim);
    sim->seed = seed;
    sim->random_state = seed * 0x9E3779B97F4A7C15ull + 1;
    sim->totals = totals;
    sim->clock_ns = KHORGOS_MANUAL_CLOCK_START_NS;
    sim->next_id = 1000;
    sim->log = calloc(SIM_LOG_MAX, sizeof(struct sim_entry));
    assert_non_null(sim->log);
    struct storage_fault_config config = {.seed = seed};
    sim->io = storage_fault_create(&config);
    struct storage_superblock superblock = sim_superblock;
    superblock.flags = flags;
    assert_int_equal(engine_storage_format(sim->io, &superblock), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1, .checkpoint_journal_bytes = 24000};
    static struct storage_report report;
    assert_int_equal(engine_storage_open(&sim->engine, sim->io, false, &options, &report),
                     KHORGOS_ERROR_ok);
    for (u32 round = 0; round < 6; round++) {
        sim_run_until_failure(sim, 40, false);
        assert_false(sim->engine->stopped);
    }
    khorgos_close(sim->engine);
    sim->engine = NULL;
    return sim;
}

static inline struct sim *recovery_directory_build_flags(u64 seed, u32 flags) {
    static struct sim_totals totals;
    return recovery_directory_build_counted(seed, flags, &totals);
}

static inline struct sim *recovery_directory_build(u64 seed) {
    return recovery_directory_build_flags(seed, 0);
}

static inline void recovery_destroy(struct sim *sim) {
    if (sim->engine != NULL) khorgos_close(sim->engine);
    storage_fault_destroy(sim->io);
    free(sim->log);
    free(sim);
}

static inline void recovery_layout(struct sim *sim, struct recovery_layout *layout) {
    memset(layout, 0, sizeof(*layout));
    struct storage_listing listing;
    assert_int_equal(storage_list(sim->io, &listing), KHORGOS_ERROR_ok);
    assert_true(listing.snapshot_count >= 2 && listing.segment_count >= 1);
    layout->segment_last = listing.segments[listing.segment_count - 1];
    layout->snapshot_newest = listing.snapshots[listing.snapshot_count - 1];
    layout->snapshot_previous = listing.snapshots[listing.snapshot_count - 2];
    layout->sequence_last = sim->acknowledged_count;
    storage_name(STORAGE_FILE_JOURNAL, layout->segment_last, layout->journal_name);
    storage_name(STORAGE_FILE_HEADERS, layout->segment_last, layout->headers_name);
    storage_name(STORAGE_FILE_SNAPSHOT, layout->snapshot_newest, layout->snapshot_newest_name);
    storage_name(STORAGE_FILE_SNAPSHOT, layout->snapshot_previous,
                 layout->snapshot_previous_name);
}

/* The offset of record `sequence` in the journal file `name` whose first record is `first`. */
static inline u64 recovery_record_offset(struct sim *sim, const char *name, u64 first,
                                         u64 sequence) {
    struct storage_io *io = sim->io;
    int file = -1;
    assert_int_equal(io->open(io, name, 0, &file), KHORGOS_ERROR_ok);
    u64 offset = 0;
    for (u64 at = first; at < sequence; at++) {
        struct storage_record_header header;
        u64 read_size = 0;
        assert_int_equal(io->pread(io, file, &header, sizeof(header), offset, &read_size),
                         KHORGOS_ERROR_ok);
        assert_int_equal(read_size, sizeof(header));
        assert_int_equal(header.sequence, at);
        offset += STORAGE_RECORD_HEADER_BYTES + STORAGE_BODY_PADDED(header.body_size);
    }
    io->close(io, file);
    return offset;
}

/* A checksum of every file of the directory, names and bytes, in name order. */
static inline u128 recovery_fingerprint(struct sim *sim) {
    struct storage_io *io = sim->io;
    static char names[STORAGE_DIRECTORY_FILES_MAX][STORAGE_NAME_BYTES_MAX];
    u32 count = 0;
    assert_int_equal(io->list(io, names, &count), KHORGOS_ERROR_ok);
    u128 fingerprint = 0;
    for (u32 pass = 0; pass < count; pass++) {
        u32 smallest = count;
        for (u32 index = 0; index < count; index++) {
            if (names[index][0] == '\0') continue;
            if (smallest == count || strcmp(names[index], names[smallest]) < 0) smallest = index;
        }
        int file = -1;
        assert_int_equal(io->open(io, names[smallest], 0, &file), KHORGOS_ERROR_ok);
        u64 size = 0;
        assert_int_equal(io->size(io, file, &size), KHORGOS_ERROR_ok);
        u8 *bytes = calloc(1, size + STORAGE_NAME_BYTES_MAX + 16);
        assert_non_null(bytes);
        u64 read_size = 0;
        if (size > 0) {
            assert_int_equal(io->pread(io, file, bytes, size, 0, &read_size), KHORGOS_ERROR_ok);
        }
        io->close(io, file);
        memcpy(bytes + size, names[smallest], strlen(names[smallest]));
        memcpy(bytes + size + STORAGE_NAME_BYTES_MAX, &fingerprint, sizeof(fingerprint));
        fingerprint = base_checksum128(bytes, size + STORAGE_NAME_BYTES_MAX + 16);
        free(bytes);
        names[smallest][0] = '\0';
    }
    return fingerprint;
}

/* check and open both refuse, naming `name`, an offset and a sequence, and change nothing. */
static inline void recovery_expect_refused(struct sim *sim, const char *name) {
    u128 before = recovery_fingerprint(sim);
    static struct storage_report report;
    khorgos_error error = engine_storage_check(sim->io, &report);
    if (error != KHORGOS_ERROR_corrupt) {
        fprintf(stderr, "check: %s: %s\n", khorgos_error_name(error), report.message);
    }
    assert_int_equal(error, KHORGOS_ERROR_corrupt);
    assert_non_null(strstr(report.message, name));
    assert_non_null(strstr(report.message, "offset"));
    assert_non_null(strstr(report.message, "sequence"));
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *engine = NULL;
    assert_int_equal(engine_storage_open(&engine, sim->io, false, &options, &report),
                     KHORGOS_ERROR_corrupt);
    assert_null(engine);
    assert_non_null(strstr(report.message, name));
    assert_true(recovery_fingerprint(sim) == before);
    assert_int_equal(engine_storage_check(sim->io, &report), KHORGOS_ERROR_corrupt);
    assert_true(recovery_fingerprint(sim) == before);
}

/* check and open both refuse, whatever they name, and change nothing. */
static inline void recovery_expect_refused_quietly(struct sim *sim) {
    u128 before = recovery_fingerprint(sim);
    static struct storage_report report;
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *engine = NULL;
    khorgos_error error = engine_storage_open(&engine, sim->io, false, &options, &report);
    assert_true(error == KHORGOS_ERROR_corrupt || error == KHORGOS_ERROR_format_version);
    assert_null(engine);
    assert_true(report.message[0] != '\0');
    assert_true(recovery_fingerprint(sim) == before);
    error = engine_storage_check(sim->io, &report);
    assert_true(error == KHORGOS_ERROR_corrupt || error == KHORGOS_ERROR_format_version);
    assert_true(recovery_fingerprint(sim) == before);
}

/* Open serves every acknowledged request, reaching the reference engine's state. */
static inline void recovery_expect_served(struct sim *sim, struct storage_report *report) {
    struct khorgos_open_options options = {.clock_manual = 1};
    khorgos_error error = engine_storage_open(&sim->engine, sim->io, false, &options, report);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "open: %s: %s\n", khorgos_error_name(error), report->message);
    }
    assert_int_equal(error, KHORGOS_ERROR_ok);
    assert_int_equal(sim->engine->request_count, sim->acknowledged_count);
    u32 held = 0;
    struct khorgos *reference = sim_reference(sim, sim->acknowledged_count, &held);
    assert_non_null(reference);
    assert_true(ledger_digest(&reference->ledger) == ledger_digest(&sim->engine->ledger));
    khorgos_close(reference);
    khorgos_close(sim->engine);
    sim->engine = NULL;
}

#endif /* KHORGOS_TESTS_STORAGE_RECOVERY_FIXTURE_H */
