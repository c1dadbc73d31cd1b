/*
 * storage_journal.c: journal records, segments, group commit and recovery scanning. The record
 * layout, the hash chain and the torn-write-versus-corruption invariants J1..J7 are in
 * storage.h; this note covers the states and the code that moves between them.
 *
 * States of a storage:
 *   created   storage_create: buffers reserved, no segment open.
 *   ready     storage_segment_start (format, checkpoint, a full segment) or
 *             storage_journal_recover (open) opened the last segment; appends allowed.
 *   pending   storage_journal_append put records in the filling batch.
 *   writing   storage_journal_submit handed it to the writer (W1: the thread, or inline), which
 *             seals and chains the records, writes and syncs them (journal, then header
 *             copies: J1); storage_journal_drain (or wait, or commit = submit + drain) sees it
 *             finish and moves durable_sequence (W2). Appends may go on meanwhile (pending
 *             and writing at once); a second submit drains the first.
 *   failed    a write or sync failed: `failure` is set and every later call returns it. The
 *             engine stops; nothing pending is ever acknowledged. Reopening recovers.
 *
 * Scanning a segment (segment_scan), in order:
 *   1. header copies: H = the highest index k whose copy is valid and says sequence first + k,
 *      and C = its commit_first, where the last copy write began;
 *   2. records from offset 0: each must have a valid header checksum, the expected sequence and
 *      offset, a body within the file and a valid body checksum, and hash_previous equal to the
 *      running chain; a copy before C must equal the record's header byte for byte;
 *   3. at the first record that fails: damage if a copy exists at or after it (J4) or the
 *      segment is not the last (J6: unless the next segment starts right there, the normal end);
 *      else, on the last segment, the end of the records: a torn tail of the last write only
 *      when J3's evidence agrees (scan_tail), damage otherwise;
 *   4. copies from C on that differ, and those of valid records after H, are counted (J5).
 * The scan writes nothing. Once every segment verified, recover_repair zeroes the torn tail,
 * restores the preallocation and rewrites the copies of step 4 (J8).
 * All reads go through two windows over reserved buffers; nothing is allocated while scanning.
 */
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- records ------------------------------------------------------------------------------ */

static u128 record_header_checksum(const struct storage_record_header *header) {
    return base_checksum128((const u8 *)header + 16, STORAGE_RECORD_HEADER_BYTES - 16);
}

void storage_record_header_seal(struct storage_record_header *header) {
    ASSERT(header != NULL);
    ASSERT(header->magic == STORAGE_RECORD_MAGIC);
    header->checksum = record_header_checksum(header);
    ASSERT(storage_record_header_valid(header));
}

bool storage_record_header_valid(const struct storage_record_header *header) {
    ASSERT(header != NULL);
    if (header->magic != STORAGE_RECORD_MAGIC) return false;
    if (header->checksum != record_header_checksum(header)) return false;
    for (u32 index = 0; index < sizeof(header->reserved); index++) {
        if (header->reserved[index] != 0) return false;
    }
    for (u32 index = 0; index < sizeof(header->reserved_chained); index++) {
        if (header->reserved_chained[index] != 0) return false;
    }
    return header->body_size <= LIMIT_REQUEST_BODY_BYTES_MAX && header->sequence > 0;
}

void storage_record_hash(const struct storage_record_header *header, const void *body,
                         u8 hash[BASE_SHA256_BYTES]) {
    ASSERT(header != NULL && hash != NULL);
    ASSERT(body != NULL || header->body_size == 0);
    /* The body follows the header in every buffer the journal uses, so one pass suffices. */
    ASSERT(header->body_size == 0 || (const u8 *)body == (const u8 *)(header + 1));
    base_sha256((const u8 *)header + STORAGE_RECORD_CHAINED_OFFSET,
                STORAGE_RECORD_HEADER_BYTES - STORAGE_RECORD_CHAINED_OFFSET +
                    STORAGE_BODY_PADDED(header->body_size),
                hash);
}

/* ---- create and segments ------------------------------------------------------------------ */

khorgos_error storage_create(struct storage_io *io, const struct storage_superblock *superblock,
                             struct storage **out) {
    ASSERT(io != NULL && superblock != NULL && out != NULL);
    ASSERT(superblock->segment_bytes >= STORAGE_SEGMENT_BYTES_MIN);
    *out = NULL;
    struct storage *storage = calloc(1, sizeof(*storage));
    if (storage == NULL) return KHORGOS_ERROR_out_of_memory;
    storage->io = io;
    storage->superblock = *superblock;
    storage->journal_file = -1;
    storage->headers_file = -1;
    storage->sequence_next = 1;
    storage->mark_ready = true; /* no checkpoint waits for a chain head (W4) */
    storage->batch = malloc(STORAGE_BATCH_BYTES_MAX);
    storage->writing.bytes = malloc(STORAGE_BATCH_BYTES_MAX);
    storage->writing.headers = malloc(STORAGE_BATCH_RECORDS_MAX * STORAGE_RECORD_HEADER_BYTES);
    storage->buffer = malloc(STORAGE_BUFFER_BYTES);
    storage->headers_buffer = malloc(STORAGE_HEADERS_WINDOW_BYTES);
    /* Always initialised, so destroy need not know how far create went. */
    pthread_mutex_init(&storage->writer_mutex, NULL);
    pthread_mutex_init(&storage->spares_mutex, NULL);
    pthread_cond_init(&storage->batch_submitted_cond, NULL);
    pthread_cond_init(&storage->batch_written_cond, NULL);
    if (storage->batch == NULL || storage->buffer == NULL ||
        storage->headers_buffer == NULL || storage->writing.bytes == NULL ||
        storage->writing.headers == NULL) {
        storage_destroy(storage);
        return KHORGOS_ERROR_out_of_memory;
    }
    *out = storage;
    return KHORGOS_ERROR_ok;
}

static void segment_close(struct storage *storage) {
    ASSERT(storage != NULL);
    if (storage->journal_file >= 0) storage->io->close(storage->io, storage->journal_file);
    if (storage->headers_file >= 0) storage->io->close(storage->io, storage->headers_file);
    storage->journal_file = -1;
    storage->headers_file = -1;
}

static void writer_stop(struct storage *storage);

void storage_destroy(struct storage *storage) {
    if (storage == NULL) return;
    ASSERT(storage->io != NULL);
    writer_stop(storage); /* after the batch being written, if any, is written */
    ASSERT(!storage->writer_running);
    segment_close(storage);
    pthread_mutex_destroy(&storage->writer_mutex);
    pthread_mutex_destroy(&storage->spares_mutex);
    pthread_cond_destroy(&storage->batch_submitted_cond);
    pthread_cond_destroy(&storage->batch_written_cond);
    free(storage->writing.bytes);
    free(storage->writing.headers);
    free(storage->batch);
    free(storage->buffer);
    free(storage->headers_buffer);
    free(storage);
}

struct storage_io *storage_io(const struct storage *storage) {
    ASSERT(storage != NULL && storage->io != NULL);
    return storage->io;
}

const struct storage_superblock *storage_superblock(const struct storage *storage) {
    ASSERT(storage != NULL);
    return &storage->superblock;
}

u64 storage_sequence_next(const struct storage *storage) {
    ASSERT(storage != NULL && storage->sequence_next > 0);
    return storage->sequence_next;
}

void storage_chain_head(const struct storage *storage, u8 chain_head[BASE_SHA256_BYTES]) {
    ASSERT(storage != NULL && chain_head != NULL);
    ASSERT(storage_journal_idle(storage)); /* the writer moves the head while a batch flies */
    memcpy(chain_head, storage->chain_head, BASE_SHA256_BYTES);
}

u64 storage_segment_bytes_used(const struct storage *storage) {
    ASSERT(storage != NULL);
    ASSERT(storage->segment_offset <= storage->superblock.segment_bytes);
    return storage->segment_offset;
}

u64 storage_bytes_appended(const struct storage *storage) {
    ASSERT(storage != NULL);
    ASSERT(storage->bytes_appended % STORAGE_RECORD_ALIGNMENT == 0); /* whole records */
    return storage->bytes_appended;
}

u64 storage_segment_records_used(const struct storage *storage) {
    ASSERT(storage != NULL);
    ASSERT(storage->segment_records <= storage->superblock.segment_records_max);
    return storage->segment_records;
}

bool storage_journal_idle(const struct storage *storage) {
    ASSERT(storage != NULL);
    ASSERT(storage->batch_size > 0 || storage->batch_header_count == 0);
    return storage->batch_size == 0 && !storage->writing_pending;
}

bool storage_journal_submitted_all(const struct storage *storage) {
    ASSERT(storage != NULL);
    ASSERT(storage->batch_size > 0 || storage->batch_header_count == 0);
    return storage->batch_size == 0;
}

const char *storage_failure_text(const struct storage *storage) {
    ASSERT(storage != NULL);
    ASSERT(strlen(storage->failure_text) < STORAGE_FAILURE_TEXT_BYTES);
    return storage->failure_text;
}

void storage_failure_describe(struct storage_io *io, const char *name,
                              char text[STORAGE_FAILURE_TEXT_BYTES]) {
    ASSERT(io != NULL && name != NULL && text != NULL);
    const char *cause = io->last_error != NULL ? io->last_error(io) : "";
    ASSERT(cause != NULL);
    size_t name_length = strlen(name);
    /* The posix io's text names the file and the call already ("journal-…: write: …"). */
    if (strncmp(cause, name, name_length) == 0 && cause[name_length] == ':') {
        snprintf(text, STORAGE_FAILURE_TEXT_BYTES, "%s", cause);
        return;
    }
    snprintf(text, STORAGE_FAILURE_TEXT_BYTES, "%s: %s", name, cause[0] ? cause : "failed");
}

static khorgos_error storage_fail(struct storage *storage, khorgos_error error) {
    ASSERT(error != KHORGOS_ERROR_ok);
    if (storage->failure == KHORGOS_ERROR_ok) storage->failure = error;
    return storage->failure;
}

static const char *segment_spare_name(enum storage_file_kind kind) {
    ASSERT(kind == STORAGE_FILE_JOURNAL || kind == STORAGE_FILE_HEADERS);
    return kind == STORAGE_FILE_JOURNAL ? "journal-spare" : "headers-spare";
}

/* Renames the spare file of a kind into place, if one of the right size is ready. */
static bool segment_spare_rename(struct storage *storage, enum storage_file_kind kind,
                                 const char *name, u64 size, int *file) {
    struct storage_io *io = storage->io;
    const char *spare = segment_spare_name(kind);
    int spare_file = -1;
    if (io->open(io, spare, 0, &spare_file) != KHORGOS_ERROR_ok) return false;
    u64 spare_size = 0;
    khorgos_error error = io->size(io, spare_file, &spare_size);
    io->close(io, spare_file);
    if (error != KHORGOS_ERROR_ok || spare_size != size) return false;
    if (io->rename(io, spare, name) != KHORGOS_ERROR_ok) return false;
    if (io->open(io, name, 0, file) != KHORGOS_ERROR_ok) return false;
    ASSERT(*file >= 0);
    return true;
}

/* Takes the spare file of a kind, if one of the right size is ready: a rename instead of a
 * preallocation, so starting a segment costs the engine almost nothing. Never waits: while a
 * checkpoint's thread is making the spares (it holds spares_mutex), the segment start creates
 * its own files. */
static bool segment_spare_take(struct storage *storage, enum storage_file_kind kind,
                               const char *name, u64 size, int *file) {
    ASSERT(storage != NULL && file != NULL);
    if (pthread_mutex_trylock(&storage->spares_mutex) != 0) return false;
    bool taken = segment_spare_rename(storage, kind, name, size, file);
    if (taken) atomic_store_explicit(&storage->spares_ready, false, memory_order_relaxed);
    pthread_mutex_unlock(&storage->spares_mutex);
    ASSERT(!taken || *file >= 0);
    return taken;
}

/* Creates one preallocated file of a segment and syncs it (its size is metadata). */
static khorgos_error segment_file_create(struct storage *storage, enum storage_file_kind kind,
                                         u64 first_sequence, u64 size, int *file) {
    struct storage_io *io = storage->io;
    char name[STORAGE_NAME_BYTES_MAX];
    storage_name(kind, first_sequence, name);
    if (segment_spare_take(storage, kind, name, size, file)) return KHORGOS_ERROR_ok;
    khorgos_error error = io->open(io, name, STORAGE_OPEN_CREATE, file);
    if (error == KHORGOS_ERROR_exists) {
        /* Left by a start a crash interrupted (the other file of the pair never appeared):
         * never a file with records, since the segment this name belongs to is only now due. */
        error = io->unlink(io, name);
        if (error == KHORGOS_ERROR_ok) error = io->open(io, name, STORAGE_OPEN_CREATE, file);
    }
    if (error != KHORGOS_ERROR_ok) {
        storage_failure_describe(io, name, storage->failure_text);
        return error;
    }
    error = io->allocate(io, *file, size);
    if (error == KHORGOS_ERROR_ok) error = io->sync(io, *file);
    if (error != KHORGOS_ERROR_ok) {
        storage_failure_describe(io, name, storage->failure_text);
        io->close(io, *file);
        *file = -1;
        io->unlink(io, name); /* best effort: an empty segment is ignored by recovery anyway */
    }
    return error;
}

/* Makes both spares under spares_mutex (see storage_segment_prepare_spares). */
static khorgos_error segment_spares_make(struct storage *storage) {
    ASSERT(storage != NULL && storage->io != NULL);
    struct storage_io *io = storage->io;
    const struct storage_superblock *superblock = &storage->superblock;
    const enum storage_file_kind kinds[2] = {STORAGE_FILE_JOURNAL, STORAGE_FILE_HEADERS};
    const u64 sizes[2] = {superblock->segment_bytes,
                          (u64)superblock->segment_records_max * STORAGE_RECORD_HEADER_BYTES};
    for (u32 index = 0; index < 2; index++) {
        const char *spare = segment_spare_name(kinds[index]);
        khorgos_error error = io->unlink(io, spare); /* a spare is always made fresh (zeros) */
        if (error != KHORGOS_ERROR_ok && error != KHORGOS_ERROR_not_found) return error;
        int file = -1;
        error = io->open(io, spare, STORAGE_OPEN_CREATE, &file);
        if (error != KHORGOS_ERROR_ok) return error;
        error = io->allocate(io, file, sizes[index]);
        if (error == KHORGOS_ERROR_ok) error = io->sync(io, file);
        io->close(io, file);
        if (error != KHORGOS_ERROR_ok) return error;
    }
    return io->sync_directory(io);
}

bool storage_segment_spares_ready(const struct storage *storage) {
    ASSERT(storage != NULL);
    ASSERT(storage->io != NULL);
    return atomic_load_explicit(&storage->spares_ready, memory_order_relaxed);
}

khorgos_error storage_segment_prepare_spares(struct storage *storage) {
    ASSERT(storage != NULL);
    pthread_mutex_lock(&storage->spares_mutex); /* a segment start meanwhile makes its own */
    atomic_store_explicit(&storage->spares_ready, false, memory_order_relaxed);
    khorgos_error error = segment_spares_make(storage);
    if (error == KHORGOS_ERROR_ok) {
        atomic_store_explicit(&storage->spares_ready, true, memory_order_relaxed);
    }
    pthread_mutex_unlock(&storage->spares_mutex);
    return error;
}

khorgos_error storage_segment_start(struct storage *storage, u64 first_sequence,
                                    const u8 chain_head[BASE_SHA256_BYTES]) {
    ASSERT(storage != NULL && chain_head != NULL);
    ASSERT(first_sequence > 0);
    ASSERT(storage_journal_idle(storage));
    if (storage->failure != KHORGOS_ERROR_ok) return storage->failure;
    int journal_file = -1;
    int headers_file = -1;
    const struct storage_superblock *superblock = &storage->superblock;
    khorgos_error error = segment_file_create(storage, STORAGE_FILE_JOURNAL, first_sequence,
                                              superblock->segment_bytes, &journal_file);
    if (error != KHORGOS_ERROR_ok) return error;
    error = segment_file_create(storage, STORAGE_FILE_HEADERS, first_sequence,
                                (u64)superblock->segment_records_max * STORAGE_RECORD_HEADER_BYTES,
                                &headers_file);
    if (error == KHORGOS_ERROR_ok) {
        error = storage->io->sync_directory(storage->io);
        if (error != KHORGOS_ERROR_ok) {
            storage_failure_describe(storage->io, "the directory", storage->failure_text);
        }
    }
    if (error != KHORGOS_ERROR_ok) {
        /* The old segment stays current: a failed start is not fatal by itself. */
        char name[STORAGE_NAME_BYTES_MAX];
        if (headers_file >= 0) {
            storage->io->close(storage->io, headers_file);
            storage_name(STORAGE_FILE_HEADERS, first_sequence, name);
            storage->io->unlink(storage->io, name);
        }
        storage->io->close(storage->io, journal_file);
        storage_name(STORAGE_FILE_JOURNAL, first_sequence, name);
        storage->io->unlink(storage->io, name);
        storage->io->sync_directory(storage->io);
        return error;
    }
    segment_close(storage);
    storage->journal_file = journal_file;
    storage->headers_file = headers_file;
    storage->segment_first = first_sequence;
    storage->segment_offset = 0;
    storage->segment_records = 0;
    storage->sequence_next = first_sequence;
    storage->durable_sequence = first_sequence - 1; /* idle: all before it is durable */
    storage->batch_offset = 0;
    if (chain_head != storage->chain_head) {
        memcpy(storage->chain_head, chain_head, BASE_SHA256_BYTES);
    }
    return KHORGOS_ERROR_ok;
}

/* ---- group commit -------------------------------------------------------------------------- */

/* Seals a submitted batch's records in order, each chained to the one before, and fills its
 * header copies. Done when the batch is written, on the writer's thread when it runs: the
 * SHA-256 chain is the largest part of a commit's CPU (about 0.6 ms per MB). */
static void batch_seal(struct storage *storage, struct storage_writing *writing) {
    ASSERT(writing->header_count > 0 && writing->header_count <= STORAGE_BATCH_RECORDS_MAX);
    u64 offset = 0;
    for (u32 index = 0; index < writing->header_count; index++) {
        struct storage_record_header *header =
            (struct storage_record_header *)(void *)(writing->bytes + offset);
        ASSERT(header->magic == STORAGE_RECORD_MAGIC && header->offset == writing->offset + offset);
        memcpy(header->hash_previous, storage->chain_head, BASE_SHA256_BYTES);
        storage_record_header_seal(header);
        storage_record_hash(header, header + 1, storage->chain_head);
        writing->headers[index] = *header;
        offset += STORAGE_RECORD_HEADER_BYTES + STORAGE_BODY_PADDED(header->body_size);
    }
    ASSERT(offset == writing->size);
}

/* Files how long one batch's writes took (storage_write_statistics); only the batch's
 * writer stores, so a load then a store is enough. */
static void batch_write_time(struct storage *storage, u64 write_ns) {
    ASSERT(storage != NULL);
    if (write_ns > atomic_load(&storage->batch_write_ns_max)) {
        atomic_store(&storage->batch_write_ns_max, write_ns);
    }
    if (write_ns > STORAGE_BATCH_WRITE_SLOW_NS) {
        atomic_fetch_add(&storage->batch_writes_over_5_ms, 1);
    }
    if (write_ns > STORAGE_BATCH_WRITE_TARGET_NS) {
        atomic_fetch_add(&storage->batch_writes_over_10_ms, 1);
    }
    ASSERT(atomic_load(&storage->batch_write_ns_max) >= write_ns);
}

/* Writes one batch: its records, fdatasync, then their header copies, fdatasync (J1). */
static khorgos_error batch_write(struct storage *storage, struct storage_writing *writing) {
    ASSERT(writing->journal_file >= 0 && writing->headers_file >= 0);
    ASSERT(writing->size > 0);
    const u64 start_ns = base_clock_monotonic_ns();
    ASSERT(!atomic_load_explicit(&storage->batch_being_written, memory_order_relaxed)); /* W1 */
    atomic_store_explicit(&storage->batch_being_written, true, memory_order_relaxed);
    batch_seal(storage, writing);
    struct storage_io *io = storage->io;
    enum storage_file_kind kind = STORAGE_FILE_JOURNAL;
    khorgos_error error =
        io->pwrite(io, writing->journal_file, writing->bytes, writing->size, writing->offset);
    if (error == KHORGOS_ERROR_ok) error = io->sync(io, writing->journal_file);
    /* J1: the copies go out only once the records they vouch for are durable. */
    if (error == KHORGOS_ERROR_ok) {
        kind = STORAGE_FILE_HEADERS;
        error = io->pwrite(io, writing->headers_file, writing->headers,
                           (u64)writing->header_count * STORAGE_RECORD_HEADER_BYTES,
                           writing->header_index * STORAGE_RECORD_HEADER_BYTES);
    }
    if (error == KHORGOS_ERROR_ok) error = io->sync(io, writing->headers_file);
    if (error != KHORGOS_ERROR_ok) { /* read by drain, after the writer_mutex hand-over */
        char name[STORAGE_NAME_BYTES_MAX];
        storage_name(kind, writing->segment_first, name);
        storage_failure_describe(io, name, writing->failure_text);
    }
    batch_write_time(storage, base_clock_monotonic_ns() - start_ns);
    atomic_store_explicit(&storage->batch_being_written, false, memory_order_relaxed);
    atomic_fetch_add_explicit(&storage->batches_written, 1, memory_order_release);
    return error;
}

u64 storage_batches_written(const struct storage *storage) {
    ASSERT(storage != NULL && storage->io != NULL);
    /* Only the atomic is read: sequence_next and `writing` belong to other threads. */
    return atomic_load_explicit(&storage->batches_written, memory_order_acquire);
}

bool storage_batch_being_written(const struct storage *storage) {
    ASSERT(storage != NULL && storage->io != NULL);
    /* Only the atomic is read: the batch itself belongs to the writer. */
    return atomic_load_explicit(&storage->batch_being_written, memory_order_relaxed);
}

void storage_write_statistics(const struct storage *storage,
                               struct storage_write_statistics *statistics) {
    ASSERT(storage != NULL && statistics != NULL);
    /* The count first: every batch it counts has its time filed (release in batch_write).
     * Over 10 before over 5, both sequentially consistent: batch_write_time adds to over 5 first,
     * so the reading of over 5 is never below that of over 10. */
    statistics->batches = atomic_load_explicit(&storage->batches_written, memory_order_acquire);
    statistics->write_ns_max = atomic_load(&storage->batch_write_ns_max);
    statistics->writes_over_10_ms = atomic_load(&storage->batch_writes_over_10_ms);
    statistics->writes_over_5_ms = atomic_load(&storage->batch_writes_over_5_ms);
    ASSERT(statistics->writes_over_10_ms <= statistics->writes_over_5_ms);
}

/* Hands the chain head at the mark over with the result of the write that made it durable
 * (W4); under writer_mutex, from whoever wrote record mark_sequence last. */
static void mark_fill(struct storage *storage, khorgos_error error) {
    ASSERT(!storage->mark_ready);
    ASSERT(storage->mark_sequence < storage->sequence_next);
    memcpy(storage->mark_chain_head, storage->chain_head, BASE_SHA256_BYTES);
    storage->mark_error = error;
    storage->mark_ready = true;
}

void storage_chain_mark(struct storage *storage, u64 sequence) {
    ASSERT(storage != NULL && storage->mark_ready); /* one mark at a time */
    ASSERT(sequence + 1 == storage->sequence_next); /* 0: the empty state of format */
    ASSERT(storage_journal_submitted_all(storage)); /* record `sequence` is the last submitted */
    pthread_mutex_lock(&storage->writer_mutex);
    storage->mark_sequence = sequence;
    storage->mark_ready = false;
    if (!storage->writing_pending) {
        ASSERT(storage->durable_sequence == sequence); /* drained: the head is the durable one */
        mark_fill(storage, storage->failure);
    } else if (!storage->batch_submitted) {
        /* Written already (inline, or the thread finished); drain has not looked yet. */
        ASSERT(storage->writing.sequence_last == sequence);
        mark_fill(storage, storage->writing_error);
    }
    pthread_mutex_unlock(&storage->writer_mutex);
}

khorgos_error storage_chain_mark_wait(struct storage *storage, u64 sequence,
                                      u8 chain_head[BASE_SHA256_BYTES]) {
    ASSERT(storage != NULL && chain_head != NULL);
    pthread_mutex_lock(&storage->writer_mutex);
    ASSERT(storage->mark_sequence == sequence);
    while (!storage->mark_ready) {
        ASSERT(storage->writer_running); /* only the thread's batch can still be written */
        pthread_cond_wait(&storage->batch_written_cond, &storage->writer_mutex);
    }
    memcpy(chain_head, storage->mark_chain_head, BASE_SHA256_BYTES);
    khorgos_error error = storage->mark_error;
    pthread_mutex_unlock(&storage->writer_mutex);
    return error;
}

/* The writer's thread: writes each batch submitted, reports, waits for the next (W1-W3). */
static void *writer_main(void *argument) {
    struct storage *storage = argument;
    ASSERT(storage != NULL && storage->writer_running);
    pthread_mutex_lock(&storage->writer_mutex);
    for (;;) {
        while (!storage->batch_submitted && !storage->writer_stop) {
            pthread_cond_wait(&storage->batch_submitted_cond, &storage->writer_mutex);
        }
        if (!storage->batch_submitted) break; /* stopping, and nothing left to write */
        pthread_mutex_unlock(&storage->writer_mutex);
        khorgos_error error = batch_write(storage, &storage->writing);
        pthread_mutex_lock(&storage->writer_mutex);
        storage->writing_error = error;
        storage->batch_submitted = false;
        if (!storage->mark_ready && storage->mark_sequence == storage->writing.sequence_last) {
            mark_fill(storage, error); /* W4: durable now, or never */
        }
        /* Both may wait: the committing thread's drain and a checkpoint's mark_wait. */
        pthread_cond_broadcast(&storage->batch_written_cond);
    }
    pthread_mutex_unlock(&storage->writer_mutex);
    return NULL;
}

khorgos_error storage_journal_writer_start(struct storage *storage) {
    ASSERT(storage != NULL && !storage->writer_running);
    ASSERT(storage_journal_idle(storage));
    storage->writer_stop = false;
    storage->writer_running = true;
    if (pthread_create(&storage->writer_thread, NULL, writer_main, storage) != 0) {
        storage->writer_running = false;
        return KHORGOS_ERROR_out_of_memory;
    }
    return KHORGOS_ERROR_ok;
}

static void writer_stop(struct storage *storage) {
    ASSERT(storage != NULL);
    if (!storage->writer_running) return;
    pthread_mutex_lock(&storage->writer_mutex);
    storage->writer_stop = true;
    pthread_cond_signal(&storage->batch_submitted_cond);
    pthread_mutex_unlock(&storage->writer_mutex);
    int joined = pthread_join(storage->writer_thread, NULL);
    ASSERT(joined == 0);
    storage->writer_running = false;
}

khorgos_error storage_journal_drain(struct storage *storage) {
    ASSERT(storage != NULL);
    if (!storage->writing_pending) return storage->failure;
    khorgos_error error = KHORGOS_ERROR_ok;
    pthread_mutex_lock(&storage->writer_mutex);
    while (storage->batch_submitted) {
        ASSERT(storage->writer_running); /* inline writes complete inside submit */
        pthread_cond_wait(&storage->batch_written_cond, &storage->writer_mutex);
    }
    error = storage->writing_error;
    pthread_mutex_unlock(&storage->writer_mutex);
    storage->writing_pending = false;
    if (error != KHORGOS_ERROR_ok) {
        if (storage->failure == KHORGOS_ERROR_ok) {
            memcpy(storage->failure_text, storage->writing.failure_text,
                   STORAGE_FAILURE_TEXT_BYTES);
        }
        return storage_fail(storage, error);
    }
    ASSERT(storage->writing.sequence_last > storage->durable_sequence);
    storage->durable_sequence = storage->writing.sequence_last;
    return storage->failure;
}

khorgos_error storage_journal_submit(struct storage *storage) {
    ASSERT(storage != NULL);
    if (storage->failure != KHORGOS_ERROR_ok) return storage->failure;
    if (storage->batch_size == 0) return KHORGOS_ERROR_ok;
    khorgos_error error = storage_journal_drain(storage); /* one batch being written at most */
    if (error != KHORGOS_ERROR_ok) return error;
    ASSERT(storage->journal_file >= 0 && storage->headers_file >= 0);
    ASSERT(storage->batch_offset + storage->batch_size == storage->segment_offset);
    struct storage_writing *writing = &storage->writing;
    u8 *bytes = writing->bytes; /* the buffers swap: the drained one fills next */
    writing->bytes = storage->batch;
    storage->batch = bytes;
    writing->size = storage->batch_size;
    writing->offset = storage->batch_offset;
    writing->header_count = storage->batch_header_count;
    writing->header_index = storage->segment_records - storage->batch_header_count;
    writing->sequence_last = storage->sequence_next - 1;
    writing->journal_file = storage->journal_file;
    writing->headers_file = storage->headers_file;
    writing->segment_first = storage->segment_first;
    storage->batch_offset = storage->segment_offset;
    storage->batch_size = 0;
    storage->batch_header_count = 0;
    storage->writing_pending = true;
    if (!storage->writer_running) {
        storage->writing_error = batch_write(storage, writing);
        return KHORGOS_ERROR_ok; /* reported by drain, as the thread's would be */
    }
    pthread_mutex_lock(&storage->writer_mutex);
    storage->batch_submitted = true;
    pthread_cond_signal(&storage->batch_submitted_cond);
    pthread_mutex_unlock(&storage->writer_mutex);
    return KHORGOS_ERROR_ok;
}

khorgos_error storage_journal_wait(struct storage *storage, u64 sequence) {
    ASSERT(storage != NULL);
    ASSERT(sequence < storage->sequence_next);
    if (storage->failure != KHORGOS_ERROR_ok) return storage->failure;
    if (sequence <= storage->durable_sequence) return KHORGOS_ERROR_ok;
    ASSERT(storage->writing_pending && sequence <= storage->writing.sequence_last); /* submitted */
    return storage_journal_drain(storage);
}

khorgos_error storage_journal_commit(struct storage *storage) {
    ASSERT(storage != NULL);
    khorgos_error error = storage_journal_submit(storage);
    if (error == KHORGOS_ERROR_ok) error = storage_journal_drain(storage);
    ASSERT(error != KHORGOS_ERROR_ok || storage_journal_idle(storage));
    return error;
}

khorgos_error storage_journal_append(struct storage *storage, u64 sequence, u32 operation,
                                     u64 timestamp, const char *actor,
                                     const struct storage_client *client, const void *body,
                                     u32 body_size) {
    ASSERT(storage != NULL && actor != NULL);
    ASSERT(body != NULL || body_size == 0);
    ASSERT(body_size <= LIMIT_REQUEST_BODY_BYTES_MAX);
    if (storage->failure != KHORGOS_ERROR_ok) return storage->failure;
    ASSERT(sequence == storage->sequence_next);
    ASSERT(storage->journal_file >= 0);
    u64 record_size = STORAGE_RECORD_HEADER_BYTES + STORAGE_BODY_PADDED(body_size);
    const struct storage_superblock *superblock = &storage->superblock;
    khorgos_error error = KHORGOS_ERROR_ok;
    if (storage->segment_offset + record_size > superblock->segment_bytes ||
        storage->segment_records == superblock->segment_records_max) {
        /* The segment is full: everything in it becomes durable, then the next one starts. */
        error = storage_journal_commit(storage);
        if (error == KHORGOS_ERROR_ok) {
            error = storage_segment_start(storage, sequence, storage->chain_head);
        }
        if (error != KHORGOS_ERROR_ok) return storage_fail(storage, error);
    }
    if (storage->batch_size + record_size > STORAGE_BATCH_BYTES_MAX ||
        storage->batch_header_count == STORAGE_BATCH_RECORDS_MAX) {
        error = storage_journal_commit(storage);
        if (error != KHORGOS_ERROR_ok) return error;
    }
    struct storage_record_header *header =
        (struct storage_record_header *)(void *)(storage->batch + storage->batch_size);
    ASSERT(storage->batch_size % STORAGE_RECORD_ALIGNMENT == 0);
    memset(header, 0, record_size);
    if (body_size > 0) memcpy(header + 1, body, body_size);
    header->checksum_body = base_checksum128(header + 1, STORAGE_BODY_PADDED(body_size));
    header->sequence = sequence;
    header->timestamp = timestamp;
    header->offset = storage->segment_offset;
    header->operation = operation;
    header->body_size = body_size;
    memcpy(header->actor, actor, MIN(strlen(actor), (size_t)STORAGE_ACTOR_BYTES));
    if (client != NULL) {
        header->client = client->client;
        header->request_checksum = client->request_checksum;
        header->request = client->request;
        header->release = client->release;
        header->batch = client->batch;
        header->batch_count = client->batch_count;
    }
    header->magic = STORAGE_RECORD_MAGIC;
    header->commit_first = sequence - storage->batch_header_count;
    /* hash_previous and the header checksum: when the batch is written (batch_seal). */
    storage->batch_header_count++;
    storage->batch_size += record_size;
    storage->segment_offset += record_size;
    storage->segment_records++;
    storage->sequence_next++;
    storage->bytes_appended += record_size;
    ASSERT(storage->batch_size <= STORAGE_BATCH_BYTES_MAX);
    return KHORGOS_ERROR_ok;
}

/* ---- windows ------------------------------------------------------------------------------- */

static void window_init(struct storage_window *window, int file, u64 file_size, u8 *buffer,
                        u64 capacity) {
    ASSERT(window != NULL && buffer != NULL && capacity > 0);
    window->file = file;
    window->file_size = file_size;
    window->buffer = buffer;
    window->capacity = capacity;
    window->begin = 0;
    window->size = 0;
}

/* Points *data at [offset, offset + size) of the file, reading as needed; not_found when the
 * range passes the end of the file. */
static khorgos_error window_get(struct storage_io *io, struct storage_window *window, u64 offset,
                                u64 size, const u8 **data) {
    ASSERT(size <= window->capacity);
    ASSERT(data != NULL);
    if (offset + size > window->file_size || offset + size < offset) return KHORGOS_ERROR_not_found;
    if (offset < window->begin || offset + size > window->begin + window->size) {
        u64 want = MIN(MIN(window->capacity, MAX(size, STORAGE_READ_AHEAD_BYTES)),
                       window->file_size - offset);
        ASSERT(want >= size);
        u64 read_size = 0;
        khorgos_error error = io->pread(io, window->file, window->buffer, want, offset, &read_size);
        if (error != KHORGOS_ERROR_ok) return error;
        window->begin = offset;
        window->size = read_size;
        if (read_size < size) return KHORGOS_ERROR_not_found;
    }
    *data = window->buffer + (offset - window->begin);
    return KHORGOS_ERROR_ok;
}

/* ---- scanning ------------------------------------------------------------------------------ */

struct segment_scan {
    u64 first;             /* the segment's first sequence */
    bool last;             /* no segment after it */
    u64 next_first;        /* the next segment's first sequence, when not last */
    char journal_name[STORAGE_NAME_BYTES_MAX];
    char headers_name[STORAGE_NAME_BYTES_MAX];
    struct storage_window journal;
    struct storage_window headers;
    u64 copies_valid_end;  /* H + 1: index after the highest valid copy (0 when none) */
    u64 copies_last_write; /* index of C, the first copy of copy H's write (J5) */
    u64 copies_mismatched; /* copies from C on that did not match their records */
    u64 headers_count;     /* entries the headers file holds */
    bool files_short;      /* a file is shorter than its preallocated size */
};

/* Step 1: H, the highest valid header copy of the segment. */
static khorgos_error scan_copies(struct storage *storage, struct segment_scan *scan) {
    ASSERT(scan->headers_count <= STORAGE_SEGMENT_RECORDS_MAX);
    scan->copies_valid_end = 0;
    for (u64 index = 0; index < scan->headers_count; index++) {
        const u8 *data = NULL;
        khorgos_error error = window_get(storage->io, &scan->headers,
                                         index * STORAGE_RECORD_HEADER_BYTES,
                                         STORAGE_RECORD_HEADER_BYTES, &data);
        if (error != KHORGOS_ERROR_ok) return error;
        struct storage_record_header copy;
        memcpy(&copy, data, sizeof(copy));
        if (storage_record_header_valid(&copy) && copy.sequence == scan->first + index) {
            scan->copies_valid_end = index + 1;
            scan->copies_last_write = copy.commit_first >= scan->first &&
                                              copy.commit_first <= copy.sequence
                                          ? copy.commit_first - scan->first
                                          : index;
        }
    }
    ASSERT(scan->copies_valid_end <= scan->headers_count);
    return KHORGOS_ERROR_ok;
}

static void report_say(struct storage_report *report, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void report_say(struct storage_report *report, const char *format, ...) {
    ASSERT(report != NULL && format != NULL);
    size_t used = strlen(report->message);
    if (used + 1 >= sizeof(report->message)) return;
    if (used > 0) report->message[used++] = ' ';
    report->message[used] = '\0';
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(report->message + used, sizeof(report->message) - used, format, arguments);
    va_end(arguments);
}

/* The problems a torn write never causes: a record whose header checksum verifies was written
 * whole, so another sequence, offset or previous hash in it is damage wherever it is. */
static const char problem_sequence[] = "the header has another sequence number";
static const char problem_offset[] = "the header has another offset (a misdirected write)";
static const char problem_chain[] =
    "the hash chain is broken (hash_previous differs from the previous record's hash)";

static bool problem_from_torn_write(const char *problem) {
    ASSERT(problem != NULL);
    ASSERT(problem[0] != '\0');
    return problem != problem_sequence && problem != problem_offset && problem != problem_chain;
}

/* Why the record at `offset` is not the valid record `sequence`, or NULL if it is. */
static const char *record_problem(struct storage *storage, struct segment_scan *scan, u64 offset,
                                  u64 sequence, const u8 chain[BASE_SHA256_BYTES],
                                  const struct storage_record_header **header_out) {
    const u8 *data = NULL;
    khorgos_error error = window_get(storage->io, &scan->journal, offset,
                                     STORAGE_RECORD_HEADER_BYTES, &data);
    if (error == KHORGOS_ERROR_not_found) return "the file ends inside the record header";
    if (error != KHORGOS_ERROR_ok) return "the record could not be read";
    const struct storage_record_header *header = (const void *)data;
    if (!storage_record_header_valid(header)) return "the header checksum does not match";
    if (header->sequence != sequence) return problem_sequence;
    if (header->offset != offset) return problem_offset;
    u64 padded = STORAGE_BODY_PADDED(header->body_size);
    error = window_get(storage->io, &scan->journal, offset, STORAGE_RECORD_HEADER_BYTES + padded,
                       &data);
    if (error == KHORGOS_ERROR_not_found) return "the file ends inside the record body";
    if (error != KHORGOS_ERROR_ok) return "the record body could not be read";
    header = (const void *)data;
    if (header->checksum_body != base_checksum128(header + 1, padded)) {
        return "the body checksum does not match";
    }
    if (chain != NULL && memcmp(header->hash_previous, chain, BASE_SHA256_BYTES) != 0) {
        return problem_chain;
    }
    *header_out = header;
    return NULL;
}

/* Step 2's check of a header copy at or before H against its record (J4). */
static const char *copy_problem(struct storage *storage, struct segment_scan *scan, u64 index,
                                const struct storage_record_header *header) {
    const u8 *data = NULL;
    struct storage_record_header record_header = *header; /* the window may move under it */
    khorgos_error error = window_get(storage->io, &scan->headers,
                                     index * STORAGE_RECORD_HEADER_BYTES,
                                     STORAGE_RECORD_HEADER_BYTES, &data);
    if (error != KHORGOS_ERROR_ok) return "the header copy could not be read";
    if (memcmp(data, &record_header, STORAGE_RECORD_HEADER_BYTES) != 0) {
        return "the header copy does not match the record";
    }
    return NULL;
}

struct scan_state {
    u64 sequence;          /* the next expected sequence */
    u8 chain[BASE_SHA256_BYTES];
    bool chain_known;
    u64 after_sequence;    /* replay records after this one */
    const u8 *after_chain; /* the hash record after_sequence must have, or NULL */
    u64 snapshot_last;     /* the newest snapshot's sequence: every record up to it was
                              acknowledged (a snapshot is published only after, W4) */
    bool repair;
    storage_replay_function replay;
    void *context;
    struct storage_report *report;
    u64 end_offset;        /* where the scan of the segment stopped */
    /* The repairs the scan found needed, made only once the whole journal verified. */
    bool torn;             /* zero the last segment's journal from end_offset (J3) */
    u64 confirm_count;     /* header copies of the last segment to rewrite (J5) */
};

/* The offset of the first nonzero byte of [offset, end) of a window's file (clipped to the
 * file), or U64_MAX when every byte there is zero. */
static khorgos_error range_written(struct storage_io *io, struct storage_window *window,
                                   u64 offset, u64 end, u64 *written) {
    ASSERT(window != NULL && written != NULL);
    *written = U64_MAX;
    end = MIN(end, window->file_size);
    for (u64 position = offset; position < end;) {
        u64 chunk = MIN(end - position, window->capacity);
        const u8 *data = NULL;
        khorgos_error error = window_get(io, window, position, chunk, &data);
        if (error != KHORGOS_ERROR_ok) return error;
        if (!base_bytes_zero(data, chunk)) {
            u64 index = 0;
            while (data[index] == 0) index++;
            ASSERT(index < chunk);
            *written = position + index;
            return KHORGOS_ERROR_ok;
        }
        position += chunk;
    }
    return KHORGOS_ERROR_ok;
}

/* Writes zeros over [offset, offset + size) of a window's file (clipped to it), then syncs. */
static khorgos_error range_zero(struct storage *storage, struct storage_window *window,
                                u64 offset, u64 size) {
    ASSERT(storage != NULL && window != NULL);
    u64 end = MIN(offset + size, window->file_size);
    memset(storage->batch, 0, STORAGE_BATCH_BYTES_MAX);
    for (u64 position = offset; position < end;) {
        u64 chunk = MIN(end - position, STORAGE_BATCH_BYTES_MAX);
        khorgos_error error = storage->io->pwrite(storage->io, window->file, storage->batch, chunk,
                                                  position);
        if (error != KHORGOS_ERROR_ok) return error;
        position += chunk;
    }
    window->size = 0; /* what it held is stale */
    ASSERT(window->size == 0);
    return storage->io->sync(storage->io, window->file);
}

static khorgos_error scan_corrupt(struct storage_report *report, const char *name, u64 offset,
                                  u64 sequence, const char *problem) {
    ASSERT(report != NULL && name != NULL && problem != NULL);
    ASSERT(sequence > 0);
    report_say(report, "%s: damage to acknowledged data at offset %llu, sequence %llu: %s.", name,
               (unsigned long long)offset, (unsigned long long)sequence, problem);
    return KHORGOS_ERROR_corrupt;
}

/* The offset of a whole record header after `offset`, within the reach of one write, that
 * belongs to a commit after the one of `sequence` (its commit_first is later), or U64_MAX. */
static khorgos_error tail_later_commit(struct storage *storage, struct segment_scan *scan,
                                       u64 offset, u64 sequence, u64 *found) {
    ASSERT(found != NULL && offset % STORAGE_RECORD_ALIGNMENT == 0);
    *found = U64_MAX;
    u64 end = MIN(offset + STORAGE_BATCH_BYTES_MAX, scan->journal.file_size);
    for (u64 position = offset + STORAGE_RECORD_ALIGNMENT;
         position + STORAGE_RECORD_HEADER_BYTES <= end; position += STORAGE_RECORD_ALIGNMENT) {
        const u8 *data = NULL;
        khorgos_error error = window_get(storage->io, &scan->journal, position,
                                         STORAGE_RECORD_HEADER_BYTES, &data);
        if (error != KHORGOS_ERROR_ok) return error;
        struct storage_record_header header;
        memcpy(&header.magic, data + offsetof(struct storage_record_header, magic),
               sizeof(header.magic));
        if (header.magic != STORAGE_RECORD_MAGIC) continue;
        memcpy(&header, data, sizeof(header));
        if (storage_record_header_valid(&header) && header.commit_first > sequence) {
            *found = position;
            return KHORGOS_ERROR_ok;
        }
    }
    ASSERT(*found == U64_MAX);
    return KHORGOS_ERROR_ok;
}

/* J3's proof that the last write stopped at the first invalid record: nothing was written
 * after it, neither a header copy from its index on (copies follow a durable journal write,
 * J1), nor journal bytes beyond the reach of one write, nor a record of a later commit. */
static khorgos_error tail_written_after(struct storage *storage, struct segment_scan *scan,
                                        struct scan_state *state) {
    ASSERT(scan->last);
    ASSERT(state->sequence >= scan->first);
    u64 index = state->sequence - scan->first;
    u64 offset = state->end_offset;
    char problem[STORAGE_MESSAGE_BYTES_MAX / 2];
    u64 written = U64_MAX;
    khorgos_error error = range_written(storage->io, &scan->headers,
                                        index * STORAGE_RECORD_HEADER_BYTES, U64_MAX, &written);
    if (error != KHORGOS_ERROR_ok) return error;
    if (written != U64_MAX) {
        snprintf(problem, sizeof(problem),
                 "the record is invalid, yet %s holds bytes for it or a later one at offset "
                 "%llu (copies are written after their records are durable)",
                 scan->headers_name, (unsigned long long)written);
        return scan_corrupt(state->report, scan->journal_name, offset, state->sequence, problem);
    }
    error = range_written(storage->io, &scan->journal, offset + STORAGE_BATCH_BYTES_MAX, U64_MAX,
                          &written);
    if (error == KHORGOS_ERROR_ok && written == U64_MAX) {
        error = tail_later_commit(storage, scan, offset, state->sequence, &written);
    }
    if (error != KHORGOS_ERROR_ok) return error;
    if (written != U64_MAX) {
        snprintf(problem, sizeof(problem),
                 "the record is invalid, yet bytes of a later write follow at offset %llu, so "
                 "its own write had completed",
                 (unsigned long long)written);
        return scan_corrupt(state->report, scan->journal_name, offset, state->sequence, problem);
    }
    return KHORGOS_ERROR_ok;
}

/* Step 3 on the last segment: classifies where the records end. Nothing is written here: a
 * torn tail is only noted (state->torn), and truncated once the whole journal verified. */
static khorgos_error scan_tail(struct storage *storage, struct segment_scan *scan,
                               struct scan_state *state, const char *problem) {
    ASSERT(scan->last);
    ASSERT(state->end_offset % STORAGE_RECORD_ALIGNMENT == 0);
    u64 offset = state->end_offset;
    u64 sequence = state->sequence;
    if (!problem_from_torn_write(problem)) {
        return scan_corrupt(state->report, scan->journal_name, offset, sequence, problem);
    }
    khorgos_error error = tail_written_after(storage, scan, state);
    if (error != KHORGOS_ERROR_ok) return error;
    u64 torn_at = U64_MAX;
    error = range_written(storage->io, &scan->journal, offset, offset + STORAGE_BATCH_BYTES_MAX,
                          &torn_at);
    if (error != KHORGOS_ERROR_ok) return error;
    char reason[STORAGE_MESSAGE_BYTES_MAX / 2];
    if (sequence <= state->snapshot_last) {
        snprintf(reason, sizeof(reason),
                 "%s; snapshot-%016llx covers this request, so it was acknowledged",
                 torn_at == U64_MAX ? "the journal ends here" : problem,
                 (unsigned long long)state->snapshot_last);
        return scan_corrupt(state->report, scan->journal_name, offset, sequence, reason);
    }
    if (torn_at == U64_MAX) return KHORGOS_ERROR_ok; /* the records simply end here */
    if (scan->files_short) {
        report_say(state->report,
                   "%s: a torn write cannot be told from damage to acknowledged data at offset "
                   "%llu, sequence %llu (%s): %s or %s is shorter than preallocated, so no "
                   "header copy can prove that this record was never acknowledged.",
                   scan->journal_name, (unsigned long long)offset, (unsigned long long)sequence,
                   problem, scan->journal_name, scan->headers_name);
        return KHORGOS_ERROR_corrupt;
    }
    state->torn = true;
    state->report->torn_records++;
    state->report->repairable = true;
    report_say(state->report,
               "%s: the unacknowledged last write of a crash is torn at offset %llu, "
               "sequence %llu (%s); %s.",
               scan->journal_name, (unsigned long long)offset, (unsigned long long)sequence,
               problem, state->repair ? "truncated" : "the next open truncates it");
    return KHORGOS_ERROR_ok;
}

/* Step 4, counted: the copies from C on that do not match, and those of valid records after
 * H (J5), which the repair rewrites. */
static void scan_confirm_count(struct segment_scan *scan, struct scan_state *state) {
    ASSERT(scan->last);
    ASSERT(scan->copies_valid_end <= scan->headers_count);
    u64 missing = scan->first + scan->copies_valid_end <= state->sequence
                      ? state->sequence - scan->first - scan->copies_valid_end
                      : 0;
    state->confirm_count = missing + scan->copies_mismatched;
    if (state->confirm_count == 0) return;
    state->report->confirmed_records += state->confirm_count;
    state->report->repairable = true;
    report_say(state->report,
               "%s: %llu durable record(s) from sequence %llu had no intact header copy (a "
               "crash before their reply, or a damaged copy); %s.",
               scan->headers_name, (unsigned long long)state->confirm_count,
               (unsigned long long)(scan->first + scan->copies_last_write),
               state->repair ? "confirmed" : "the next open confirms them");
}

/* Step 4, repaired: rewrites those copies from the verified records, one commit's copies at
 * a time, each synced before the next commit's are written, as commits write them (J1): a
 * crash in the middle leaves whole copies before the last commit written and a torn last
 * one, which the next open reads as it reads any crash (J4, J5). */
static khorgos_error scan_confirm_write(struct storage *storage, struct segment_scan *scan,
                                        struct scan_state *state) {
    ASSERT(scan->last && state->repair);
    ASSERT(state->sequence >= scan->first);
    if (state->confirm_count == 0) return KHORGOS_ERROR_ok;
    u64 commit = 0;        /* the commit whose copies were written last */
    bool unsynced = false; /* written and not synced yet */
    u64 offset = 0;
    for (u64 sequence = scan->first; sequence < state->sequence; sequence++) {
        const struct storage_record_header *header = NULL;
        const char *problem = record_problem(storage, scan, offset, sequence, NULL, &header);
        if (problem != NULL) { /* verified a moment ago: the disk returned other bytes now */
            return scan_corrupt(state->report, scan->journal_name, offset, sequence, problem);
        }
        struct storage_record_header copy = *header;
        u64 index = sequence - scan->first;
        offset += STORAGE_RECORD_HEADER_BYTES + STORAGE_BODY_PADDED(copy.body_size);
        if (index < scan->copies_last_write) continue;
        if (index < scan->copies_valid_end && copy_problem(storage, scan, index, &copy) == NULL) {
            continue;
        }
        khorgos_error error = KHORGOS_ERROR_ok;
        if (unsynced && copy.commit_first != commit) {
            error = storage->io->sync(storage->io, scan->headers.file);
        }
        if (error == KHORGOS_ERROR_ok) {
            error = storage->io->pwrite(storage->io, scan->headers.file, &copy, sizeof(copy),
                                        index * sizeof(copy));
        }
        if (error != KHORGOS_ERROR_ok) return error;
        commit = copy.commit_first;
        unsynced = true;
    }
    scan->headers.size = 0;
    return storage->io->sync(storage->io, scan->headers.file);
}

/* Steps 2 and 3: the records of one segment. */
static khorgos_error scan_records(struct storage *storage, struct segment_scan *scan,
                                  struct scan_state *state) {
    u64 offset = 0;
    for (;;) {
        u64 index = state->sequence - scan->first;
        const struct storage_record_header *header = NULL;
        const char *problem =
            index >= storage->superblock.segment_records_max
                ? "the segment holds no more records"
                : record_problem(storage, scan, offset, state->sequence,
                                 state->chain_known ? state->chain : NULL, &header);
        if (problem != NULL) {
            state->end_offset = offset;
            if (index < scan->copies_valid_end) {
                return scan_corrupt(state->report, scan->journal_name, offset, state->sequence,
                                    problem);
            }
            if (!scan->last && scan->next_first != state->sequence) {
                return scan_corrupt(state->report, scan->journal_name, offset, state->sequence,
                                    "a record is missing before the next segment starts");
            }
            if (!scan->last && index != scan->copies_valid_end) {
                /* J6: its last commit, copies included, was durable before the next began. */
                return scan_corrupt(state->report, scan->headers_name,
                                    scan->copies_valid_end * STORAGE_RECORD_HEADER_BYTES,
                                    scan->first + scan->copies_valid_end,
                                    "the header copy of a record of a closed segment is damaged");
            }
            if (!scan->last) return KHORGOS_ERROR_ok; /* its normal end */
            return scan_tail(storage, scan, state, problem);
        }
        if (index < scan->copies_valid_end) {
            /* copy_problem moves only the headers window: `header` stays valid. */
            const char *copy = copy_problem(storage, scan, index, header);
            if (copy != NULL && (index < scan->copies_last_write || !scan->last)) {
                return scan_corrupt(state->report, scan->headers_name,
                                    index * STORAGE_RECORD_HEADER_BYTES, state->sequence, copy);
            }
            if (copy != NULL) scan->copies_mismatched++; /* the torn last copy write (J5) */
        }
        storage_record_hash(header, header + 1, state->chain);
        state->chain_known = true;
        if (state->sequence == state->after_sequence && state->after_chain != NULL &&
            memcmp(state->chain, state->after_chain, BASE_SHA256_BYTES) != 0) {
            return scan_corrupt(state->report, scan->journal_name, offset, state->sequence,
                                "its hash differs from the chain head the snapshot recorded");
        }
        u64 record_size = STORAGE_RECORD_HEADER_BYTES + STORAGE_BODY_PADDED(header->body_size);
        if (state->sequence > state->after_sequence) {
            storage->bytes_appended += record_size; /* the journal after the snapshot */
            khorgos_error error = state->replay == NULL
                                      ? KHORGOS_ERROR_ok
                                      : state->replay(state->context, header, header + 1);
            if (error != KHORGOS_ERROR_ok) return error;
        }
        state->report->records++;
        state->report->sequence_last = state->sequence;
        offset += record_size;
        state->sequence++;
    }
}

static khorgos_error segment_open(struct storage *storage, struct segment_scan *scan) {
    ASSERT(storage != NULL && scan != NULL);
    ASSERT(scan->journal_name[0] != '\0' && scan->headers_name[0] != '\0');
    struct storage_io *io = storage->io;
    int journal_file = -1;
    int headers_file = -1;
    khorgos_error error = io->open(io, scan->journal_name, 0, &journal_file);
    if (error != KHORGOS_ERROR_ok) return error;
    error = io->open(io, scan->headers_name, 0, &headers_file);
    if (error != KHORGOS_ERROR_ok) {
        io->close(io, journal_file);
        return error;
    }
    u64 journal_size = 0;
    u64 headers_size = 0;
    error = io->size(io, journal_file, &journal_size);
    if (error == KHORGOS_ERROR_ok) error = io->size(io, headers_file, &headers_size);
    if (error != KHORGOS_ERROR_ok) {
        io->close(io, journal_file);
        io->close(io, headers_file);
        return error;
    }
    window_init(&scan->journal, journal_file, journal_size, storage->buffer, STORAGE_BUFFER_BYTES);
    window_init(&scan->headers, headers_file, headers_size, storage->headers_buffer,
                STORAGE_HEADERS_WINDOW_BYTES);
    scan->headers_count = MIN(headers_size / STORAGE_RECORD_HEADER_BYTES,
                              (u64)storage->superblock.segment_records_max);
    /* A segment start preallocates and syncs both files before any record is appended, so a
     * crash never leaves a short file under a segment that holds records. */
    scan->files_short = journal_size < storage->superblock.segment_bytes ||
                        headers_size < (u64)storage->superblock.segment_records_max *
                                           STORAGE_RECORD_HEADER_BYTES;
    return KHORGOS_ERROR_ok;
}

/* Scans one segment; on the last one, leaves its files open as the storage's current segment.
 * Writes nothing: the repairs are made by recover_repair once every segment verified. */
static khorgos_error segment_scan(struct storage *storage, struct segment_scan *scan,
                                  struct scan_state *state) {
    ASSERT(storage != NULL && scan != NULL && state != NULL);
    ASSERT(scan->first == state->sequence);
    storage_name(STORAGE_FILE_JOURNAL, scan->first, scan->journal_name);
    storage_name(STORAGE_FILE_HEADERS, scan->first, scan->headers_name);
    khorgos_error error = segment_open(storage, scan);
    if (error == KHORGOS_ERROR_not_found) {
        report_say(state->report, "%s or %s is missing.", scan->journal_name, scan->headers_name);
        return KHORGOS_ERROR_corrupt;
    }
    if (error != KHORGOS_ERROR_ok) return error;
    error = scan_copies(storage, scan);
    if (error == KHORGOS_ERROR_ok) error = scan_records(storage, scan, state);
    if (error != KHORGOS_ERROR_ok || !scan->last) {
        storage->io->close(storage->io, scan->journal.file);
        storage->io->close(storage->io, scan->headers.file);
        return error;
    }
    scan_confirm_count(scan, state);
    segment_close(storage);
    storage->journal_file = scan->journal.file;
    storage->headers_file = scan->headers.file;
    storage->segment_first = scan->first;
    storage->segment_offset = state->end_offset;
    storage->segment_records = state->sequence - scan->first;
    storage->batch_offset = state->end_offset;
    return KHORGOS_ERROR_ok;
}

/* A segment start interrupted by a crash leaves a last journal file without its headers file
 * (or the reverse, which lists nothing); no record was ever appended to it, since appends
 * follow a completed start, so its file must hold only zeros (else its headers file was lost:
 * damage). It is left out of the scan and removed by the repair (*unfinished: its first
 * sequence, or 0); its predecessor stays the last segment. */
static khorgos_error segment_find_unfinished(struct storage *storage,
                                             struct storage_listing *listing, bool repair,
                                             struct storage_report *report, u64 *unfinished) {
    ASSERT(unfinished != NULL && report != NULL);
    ASSERT(listing->segment_count <= STORAGE_DIRECTORY_FILES_MAX);
    *unfinished = 0;
    if (listing->segment_count < 2) return KHORGOS_ERROR_ok;
    u64 first = listing->segments[listing->segment_count - 1];
    char journal_name[STORAGE_NAME_BYTES_MAX];
    char headers_name[STORAGE_NAME_BYTES_MAX];
    storage_name(STORAGE_FILE_JOURNAL, first, journal_name);
    storage_name(STORAGE_FILE_HEADERS, first, headers_name);
    int file = -1;
    khorgos_error error = storage->io->open(storage->io, headers_name, 0, &file);
    if (error == KHORGOS_ERROR_ok) {
        storage->io->close(storage->io, file);
        return KHORGOS_ERROR_ok;
    }
    if (error != KHORGOS_ERROR_not_found) return error;
    error = storage->io->open(storage->io, journal_name, 0, &file);
    if (error != KHORGOS_ERROR_ok) return error;
    struct storage_window window;
    u64 size = 0;
    error = storage->io->size(storage->io, file, &size);
    window_init(&window, file, size, storage->buffer, STORAGE_BUFFER_BYTES);
    u64 written = U64_MAX;
    if (error == KHORGOS_ERROR_ok) error = range_written(storage->io, &window, 0, size, &written);
    storage->io->close(storage->io, file);
    if (error != KHORGOS_ERROR_ok) return error;
    if (written != U64_MAX) {
        return scan_corrupt(report, journal_name, written, first,
                            "the segment holds records but its headers file is missing");
    }
    report->repairable = true;
    report_say(report, "%s: an unfinished segment start (no headers file); %s.", journal_name,
               repair ? "removed" : "the next open removes it");
    listing->segment_count--;
    *unfinished = first;
    return KHORGOS_ERROR_ok;
}

/* The repairs the scan found needed, in an order a crash may interrupt anywhere: each leaves
 * a state the next open classifies the same way. */
static khorgos_error recover_repair(struct storage *storage, struct segment_scan *scan,
                                    struct scan_state *state, u64 unfinished) {
    ASSERT(state->repair && scan->last);
    ASSERT(unfinished == 0 || unfinished > scan->first);
    struct storage_io *io = storage->io;
    khorgos_error error = KHORGOS_ERROR_ok;
    if (unfinished != 0) {
        char name[STORAGE_NAME_BYTES_MAX];
        storage_name(STORAGE_FILE_JOURNAL, unfinished, name);
        error = io->unlink(io, name);
        if (error == KHORGOS_ERROR_ok) error = io->sync_directory(io);
    }
    if (error == KHORGOS_ERROR_ok && state->torn) {
        error = range_zero(storage, &scan->journal, state->end_offset, STORAGE_BATCH_BYTES_MAX);
    }
    /* The preallocation may not have survived the crash that interrupted a start. */
    if (error == KHORGOS_ERROR_ok) {
        error = io->allocate(io, scan->journal.file, storage->superblock.segment_bytes);
    }
    if (error == KHORGOS_ERROR_ok) {
        error = io->allocate(io, scan->headers.file,
                             (u64)storage->superblock.segment_records_max *
                                 STORAGE_RECORD_HEADER_BYTES);
    }
    if (error == KHORGOS_ERROR_ok) error = io->sync(io, scan->journal.file);
    if (error == KHORGOS_ERROR_ok) error = io->sync(io, scan->headers.file);
    if (error == KHORGOS_ERROR_ok) error = scan_confirm_write(storage, scan, state);
    return error;
}

/* Step 0: where the scan starts (the first segment: every record on disk is verified, those
 * after `after_sequence` also replayed), and which segment start a crash left unfinished. */
static khorgos_error recover_begin(struct storage *storage, struct storage_listing *listing,
                                   u64 after_sequence, bool repair,
                                   struct storage_report *report, u64 *unfinished) {
    ASSERT(storage != NULL && listing != NULL);
    khorgos_error error = storage_list(storage->io, listing);
    if (error != KHORGOS_ERROR_ok) return error;
    error = segment_find_unfinished(storage, listing, repair, report, unfinished);
    if (error != KHORGOS_ERROR_ok) return error;
    if (listing->segment_count == 0 || listing->segments[0] > after_sequence + 1) {
        report_say(report, "no journal segment holds request %llu.",
                   (unsigned long long)(after_sequence + 1));
        return KHORGOS_ERROR_corrupt;
    }
    ASSERT(listing->segment_count > 0);
    return KHORGOS_ERROR_ok;
}

khorgos_error storage_journal_recover(struct storage *storage, u64 after_sequence,
                                      const u8 chain_head[BASE_SHA256_BYTES], bool repair,
                                      storage_replay_function replay, void *context,
                                      struct storage_report *report) {
    ASSERT(storage != NULL && report != NULL);
    ASSERT(storage_journal_idle(storage));
    static _Thread_local struct storage_listing listing;
    u64 unfinished = 0;
    khorgos_error error =
        recover_begin(storage, &listing, after_sequence, repair, report, &unfinished);
    if (error != KHORGOS_ERROR_ok) return error;
    struct scan_state state = {
        .sequence = listing.segments[0],
        .chain_known = chain_head != NULL && listing.segments[0] == after_sequence + 1,
        .after_sequence = after_sequence,
        .after_chain = chain_head,
        .snapshot_last =
            listing.snapshot_count > 0 ? listing.snapshots[listing.snapshot_count - 1] : 0,
        .repair = repair,
        .replay = replay,
        .context = context,
        .report = report,
    };
    if (state.chain_known) memcpy(state.chain, chain_head, BASE_SHA256_BYTES);
    struct segment_scan scan;
    for (u32 index = 0; index < listing.segment_count; index++) {
        memset(&scan, 0, sizeof(scan));
        scan.first = listing.segments[index];
        scan.last = index + 1 == listing.segment_count;
        scan.next_first = scan.last ? 0 : listing.segments[index + 1];
        if (scan.first != state.sequence) {
            report_say(report, "journal segment %llu does not follow request %llu.",
                       (unsigned long long)scan.first, (unsigned long long)(state.sequence - 1));
            return KHORGOS_ERROR_corrupt;
        }
        error = segment_scan(storage, &scan, &state);
        if (error != KHORGOS_ERROR_ok) return error;
    }
    if (state.sequence <= after_sequence) {
        report_say(report, "the journal ends at request %llu, before the snapshot's %llu.",
                   (unsigned long long)(state.sequence - 1), (unsigned long long)after_sequence);
        return KHORGOS_ERROR_corrupt;
    }
    if (repair) error = recover_repair(storage, &scan, &state, unfinished);
    if (error != KHORGOS_ERROR_ok) return error;
    storage->sequence_next = state.sequence;
    storage->durable_sequence = state.sequence - 1; /* what recovery found is on disk */
    report->sequence_last = state.sequence - 1;      /* the snapshot's when no record follows */
    if (state.chain_known) memcpy(storage->chain_head, state.chain, BASE_SHA256_BYTES);
    else if (chain_head != NULL) memcpy(storage->chain_head, chain_head, BASE_SHA256_BYTES);
    memcpy(report->chain_head, storage->chain_head, BASE_SHA256_BYTES);
    return KHORGOS_ERROR_ok;
}
