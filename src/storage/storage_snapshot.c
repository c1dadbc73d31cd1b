/*
 * storage_snapshot.c: snapshot files (byte layout in storage.h, "Snapshot file"), the section
 * writer and reader modules use, and collection of files a newer checkpoint made unnecessary.
 *
 * Writing (states of a storage_writer): begin opens snapshot-<S>.tmp and leaves room for the
 * header; section_begin / put / section_end stream each module's bytes through the storage's
 * reserved buffer, checksumming each section as it goes; end writes the section table and the
 * header, fdatasyncs, closes, renames to snapshot-<S> and fsyncs the directory. Until the
 * rename, a crash leaves only a .tmp that recovery ignores and deletes; after it, the snapshot
 * is whole (I/O errors latch in the writer, so a failed snapshot is never renamed).
 *
 * Reading: open verifies the header checksum, the table checksum and every section's checksum
 * in one pass before any module sees a byte (a module never parses damaged input), then hands
 * out the sections in order; a reader never reads past its section, and checksums what it
 * hands out again, so a read that differs from the verified one is caught too.
 *
 * A writer to memory (storage_writer_memory_begin/end) takes one section into a caller's
 * buffer instead: a checkpoint serialises a module's mutable state with it between requests,
 * and its thread later copies the section into the file (storage_writer_section_copy).
 *
 * Invariants: (1) a renamed snapshot's checksums verify; (2) sections are read in the order
 * written; (3) the writer and the reader share storage->buffer, and are never used at once
 * (while a checkpoint's thread writes, it alone uses them: the journal uses neither); (4) the
 * final fdatasync flushes at most one buffer's worth of unsynced data: each buffer is written
 * back as it goes (io->writeback), or, without it, the file is synced every
 * STORAGE_SNAPSHOT_SYNC_BYTES; (5) a memory writer never writes past its capacity: an overflow
 * latches no_space and only counts the size; (6) a put of half a buffer or more is written
 * straight from the caller's memory, which must not change until the put returns (it is
 * checksummed first, then written; a checkpoint's arrays are stable below their counts);
 * (7) a writer with a pace hook calls it before every write to the file, and writes at most
 * STORAGE_SNAPSHOT_PIECE_BYTES at a time, so a checkpoint's thread decides before each piece
 * whether the device is its to use (engine_storage.c C6).
 *
 * Collection: storage_collect deletes at once (open, and checkpoints written inline);
 * storage_collect_paced, from a checkpoint's thread, renames each file to a temporary, syncs
 * the directory, then frees it STORAGE_COLLECT_STEP_BYTES per pace call and unlinks it.
 * Freeing a few hundred MB at once (and, on a file system mounted with discard, discarding
 * them) lands in one jbd2 commit, which the journal's next fdatasync waits for: 45-60 ms
 * for a 260-300 MB snapshot on the reference disk, the largest part of what a checkpoint
 * used to add to a commit.
 */
#include "storage/storage.h"

#include <stdio.h>

static void snapshot_temporary_name(u64 sequence, char name[STORAGE_NAME_BYTES_MAX]) {
    storage_name(STORAGE_FILE_SNAPSHOT, sequence, name);
    size_t length = strlen(name);
    ASSERT(length + 4 < STORAGE_NAME_BYTES_MAX);
    memcpy(name + length, ".tmp", 5);
}

static u128 snapshot_header_checksum(const struct storage_snapshot_header *header) {
    return base_checksum128((const u8 *)header + 16, sizeof(*header) - 16);
}

/* ---- writing ------------------------------------------------------------------------------- */

/* Creates snapshot-<sequence>.tmp, replacing a leftover of a crash during an earlier attempt. */
static khorgos_error snapshot_temporary_create(struct storage *storage, u64 sequence, int *file) {
    ASSERT(storage != NULL && file != NULL);
    char name[STORAGE_NAME_BYTES_MAX];
    snapshot_temporary_name(sequence, name);
    struct storage_io *io = storage->io;
    khorgos_error error = io->open(io, name, STORAGE_OPEN_CREATE, file);
    if (error == KHORGOS_ERROR_exists) {
        error = io->unlink(io, name);
        if (error == KHORGOS_ERROR_ok) error = io->open(io, name, STORAGE_OPEN_CREATE, file);
    }
    ASSERT(error != KHORGOS_ERROR_ok || *file >= 0);
    return error;
}

khorgos_error storage_snapshot_begin(struct storage *storage, u64 sequence,
                                     struct storage_writer **out) {
    ASSERT(storage != NULL && out != NULL);
    ASSERT(storage->writer.storage == NULL); /* one snapshot at a time */
    int file = -1;
    khorgos_error error = snapshot_temporary_create(storage, sequence, &file);
    if (error != KHORGOS_ERROR_ok) return error;
    struct storage_writer *writer = &storage->writer;
    memset(writer, 0, sizeof(*writer));
    writer->storage = storage;
    writer->file = file;
    writer->sequence = sequence;
    writer->offset = sizeof(struct storage_snapshot_header);
    *out = writer;
    return KHORGOS_ERROR_ok;
}

/* Writes the buffer out; every STORAGE_SNAPSHOT_SYNC_BYTES also syncs, so what the final
 * sync must flush stays small (invariant 4). */
static void writer_write(struct storage_writer *writer, const void *data, u64 size) {
    ASSERT(writer->memory == NULL && writer->storage != NULL);
    ASSERT(size > 0 && size <= STORAGE_BUFFER_BYTES);
    if (writer->error != KHORGOS_ERROR_ok) return;
    struct storage_io *io = writer->storage->io;
    /* Paced: a piece at a time, the hook before each (invariant 7); else all at once. */
    const u64 piece_max = writer->pace != NULL ? STORAGE_SNAPSHOT_PIECE_BYTES : size;
    for (u64 done = 0; done < size && writer->error == KHORGOS_ERROR_ok;) {
        const u64 piece = MIN(piece_max, size - done);
        ASSERT(piece > 0);
        if (writer->pace != NULL) writer->pace(writer->pace_context);
        writer->error = io->pwrite(io, writer->file, (const u8 *)data + done, piece,
                                   writer->offset);
        if (writer->error == KHORGOS_ERROR_ok && io->writeback != NULL) {
            writer->error = io->writeback(io, writer->file, writer->offset, piece);
        }
        writer->offset += piece;
        done += piece;
    }
    if (writer->error == KHORGOS_ERROR_ok && io->writeback == NULL &&
        writer->offset - writer->synced_offset >= STORAGE_SNAPSHOT_SYNC_BYTES) {
        writer->error = io->sync(io, writer->file);
        writer->synced_offset = writer->offset;
    }
}

static void writer_flush(struct storage_writer *writer) {
    ASSERT(writer->buffered <= STORAGE_BUFFER_BYTES);
    ASSERT(writer->memory == NULL && writer->storage != NULL);
    if (writer->buffered > 0) writer_write(writer, writer->storage->buffer, writer->buffered);
    writer->buffered = 0;
}

void storage_writer_pace(struct storage_writer *writer, storage_pace_function pace,
                         void *context) {
    ASSERT(writer != NULL && writer->storage != NULL); /* a file's writer, not memory's */
    ASSERT(pace != NULL || context == NULL);
    writer->pace = pace;
    writer->pace_context = context;
}

void storage_writer_memory_begin(struct storage_writer *writer, u8 *memory, u64 capacity) {
    ASSERT(writer != NULL);
    ASSERT(memory != NULL || capacity == 0);
    memset(writer, 0, sizeof(*writer));
    writer->memory = memory;
    writer->memory_capacity = capacity;
    writer->file = -1;
    ASSERT(writer->storage == NULL && writer->error == KHORGOS_ERROR_ok);
}

khorgos_error storage_writer_memory_end(struct storage_writer *writer,
                                        struct storage_section_header *section) {
    ASSERT(writer != NULL && section != NULL);
    ASSERT(writer->storage == NULL && !writer->section_open);
    if (writer->section_count != 1) return KHORGOS_ERROR_invalid_argument; /* one section */
    *section = writer->sections[0];
    ASSERT(writer->error != KHORGOS_ERROR_ok || section->size <= writer->memory_capacity);
    khorgos_error error = writer->error;
    memset(writer, 0, sizeof(*writer));
    return error;
}

static void writer_memory_put(struct storage_writer *writer, const void *data, u64 size) {
    struct storage_section_header *section = &writer->sections[writer->section_count];
    ASSERT(writer->memory != NULL || writer->memory_capacity == 0);
    /* A whole snapshot in memory: this section's bytes follow the header and those before. */
    u64 base = writer->memory_snapshot ? sizeof(struct storage_snapshot_header) + writer->body_size
                                       : 0;
    u64 used = base + section->size;
    /* Past the capacity the size still counts, so the caller learns what it needs. */
    if (writer->error == KHORGOS_ERROR_ok && used <= writer->memory_capacity &&
        size <= writer->memory_capacity - used) {
        if (size > 0) memcpy(writer->memory + used, data, size);
        base_checksum_stream_add(&writer->section_checksum, data, size);
    } else if (writer->error == KHORGOS_ERROR_ok) {
        writer->error = KHORGOS_ERROR_no_space;
    }
    section->size += size;
}

void storage_writer_section_copy(struct storage_writer *writer,
                                 const struct storage_section_header *section, const void *bytes) {
    ASSERT(writer != NULL && section != NULL);
    ASSERT(bytes != NULL || section->size == 0);
    storage_writer_section_begin(writer, section->module, section->version);
    storage_writer_put(writer, bytes, section->size);
    storage_writer_section_end(writer);
    /* The copy was taken between requests and nobody writes it since: the same bytes. */
    ASSERT(writer->error != KHORGOS_ERROR_ok ||
           writer->sections[writer->section_count - 1].checksum == section->checksum);
}

void storage_writer_section_begin(struct storage_writer *writer, u32 module, u32 version) {
    ASSERT(writer != NULL);
    ASSERT(writer->storage != NULL || writer->file == -1); /* a file, or memory */
    ASSERT(!writer->section_open);
    if (writer->section_count == STORAGE_SNAPSHOT_SECTIONS_MAX) {
        writer->error = KHORGOS_ERROR_invalid_argument;
        return;
    }
    struct storage_section_header *section = &writer->sections[writer->section_count];
    memset(section, 0, sizeof(*section));
    section->module = module;
    section->version = version;
    base_checksum_stream_init(&writer->section_checksum);
    writer->section_open = true;
}

void storage_writer_put(struct storage_writer *writer, const void *data, u64 size) {
    ASSERT(writer != NULL && writer->section_open);
    ASSERT(data != NULL || size == 0);
    if (writer->storage == NULL) {
        writer_memory_put(writer, data, size);
        return;
    }
    if (writer->error != KHORGOS_ERROR_ok) return;
    base_checksum_stream_add(&writer->section_checksum, data, size);
    writer->sections[writer->section_count].size += size;
    const u8 *bytes = data;
    if (size >= STORAGE_BUFFER_BYTES / 2) {
        /* A large array (a checkpoint's transfers) goes from where it is, in buffer-sized
         * writes, saving a copy; it is not written meanwhile (invariant 6). */
        writer_flush(writer);
        for (u64 done = 0; done < size;) {
            u64 chunk = MIN(size - done, (u64)STORAGE_BUFFER_BYTES);
            writer_write(writer, bytes + done, chunk);
            done += chunk;
        }
        return;
    }
    while (size > 0) {
        u64 chunk = MIN(size, STORAGE_BUFFER_BYTES - writer->buffered);
        memcpy(writer->storage->buffer + writer->buffered, bytes, chunk);
        writer->buffered += chunk;
        bytes += chunk;
        size -= chunk;
        if (writer->buffered == STORAGE_BUFFER_BYTES) writer_flush(writer);
    }
}

void storage_put_writer(void *context, const void *data, u64 size) {
    ASSERT(context != NULL);
    ASSERT(data != NULL || size == 0);
    if (size > 0) storage_writer_put(context, data, size);
}

void storage_put_checksum(void *context, const void *data, u64 size) {
    ASSERT(context != NULL);
    ASSERT(data != NULL || size == 0);
    if (size > 0) base_checksum_stream_add(context, data, (size_t)size);
}

void storage_put_count(void *context, const void *data, u64 size) {
    ASSERT(context != NULL);
    ASSERT(data != NULL || size == 0);
    *(u64 *)context += size;
}

void storage_writer_section_end(struct storage_writer *writer) {
    ASSERT(writer != NULL && writer->section_open);
    ASSERT(writer->section_count < STORAGE_SNAPSHOT_SECTIONS_MAX);
    struct storage_section_header *section = &writer->sections[writer->section_count];
    section->checksum = base_checksum_stream_final(&writer->section_checksum);
    writer->body_size += section->size;
    writer->section_count++;
    writer->section_open = false;
}

void storage_snapshot_abandon(struct storage_writer *writer) {
    ASSERT(writer != NULL && writer->storage != NULL);
    struct storage *storage = writer->storage;
    char name[STORAGE_NAME_BYTES_MAX];
    snapshot_temporary_name(writer->sequence, name);
    storage->io->close(storage->io, writer->file);
    storage->io->unlink(storage->io, name); /* best effort: recovery ignores a .tmp anyway */
    memset(writer, 0, sizeof(*writer));
}

khorgos_error storage_snapshot_end(struct storage_writer *writer, u64 timestamp_last, u128 digest,
                                   const u8 chain_head[BASE_SHA256_BYTES]) {
    ASSERT(writer != NULL && writer->storage != NULL);
    struct storage *storage = writer->storage;
    u64 sequence = writer->sequence;
    khorgos_error error = storage_snapshot_end_unpublished(writer, timestamp_last, digest,
                                                           chain_head);
    if (error == KHORGOS_ERROR_ok) error = storage_snapshot_publish(storage, sequence);
    return error;
}

khorgos_error storage_snapshot_publish(struct storage *storage, u64 sequence) {
    ASSERT(storage != NULL);
    ASSERT(storage->writer.storage == NULL);
    char temporary[STORAGE_NAME_BYTES_MAX];
    char name[STORAGE_NAME_BYTES_MAX];
    snapshot_temporary_name(sequence, temporary);
    storage_name(STORAGE_FILE_SNAPSHOT, sequence, name);
    khorgos_error error = storage->io->rename(storage->io, temporary, name);
    if (error == KHORGOS_ERROR_ok) error = storage->io->sync_directory(storage->io);
    return error;
}

void storage_snapshot_discard(struct storage *storage, u64 sequence) {
    ASSERT(storage != NULL);
    char temporary[STORAGE_NAME_BYTES_MAX];
    snapshot_temporary_name(sequence, temporary);
    storage->io->unlink(storage->io, temporary); /* best effort: recovery ignores a .tmp */
}

/* The header of the snapshot a writer wrote (its section table follows the sections). */
static void snapshot_header_seal(const struct storage_writer *writer, u64 timestamp_last,
                                 u128 digest, const u8 chain_head[BASE_SHA256_BYTES],
                                 struct storage_snapshot_header *header) {
    ASSERT(writer != NULL && header != NULL && chain_head != NULL);
    ASSERT(!writer->section_open);
    u64 table_size = (u64)writer->section_count * sizeof(struct storage_section_header);
    memset(header, 0, sizeof(*header));
    header->checksum_body = base_checksum128(writer->sections, table_size);
    memcpy(header->chain_head, chain_head, BASE_SHA256_BYTES);
    header->magic = STORAGE_SNAPSHOT_MAGIC;
    header->format_version = STORAGE_FORMAT_VERSION;
    header->sequence = writer->sequence;
    header->timestamp_last = timestamp_last;
    header->body_size = writer->body_size + table_size;
    header->digest = digest;
    header->section_count = writer->section_count;
    header->checksum = snapshot_header_checksum(header);
}

khorgos_error storage_snapshot_end_unpublished(struct storage_writer *writer, u64 timestamp_last,
                                               u128 digest,
                                               const u8 chain_head[BASE_SHA256_BYTES]) {
    ASSERT(writer != NULL && writer->storage != NULL && chain_head != NULL);
    ASSERT(!writer->section_open);
    struct storage *storage = writer->storage;
    struct storage_io *io = storage->io;
    u64 table_size = (u64)writer->section_count * sizeof(struct storage_section_header);
    ASSERT(table_size <= STORAGE_BUFFER_BYTES);
    if (writer->error == KHORGOS_ERROR_ok) { /* the table rides through the same buffer */
        if (writer->buffered + table_size > STORAGE_BUFFER_BYTES) writer_flush(writer);
        memcpy(storage->buffer + writer->buffered, writer->sections, table_size);
        writer->buffered += table_size;
        writer_flush(writer);
    }
    struct storage_snapshot_header header;
    snapshot_header_seal(writer, timestamp_last, digest, chain_head, &header);
    khorgos_error error = writer->error;
    if (error == KHORGOS_ERROR_ok) error = io->pwrite(io, writer->file, &header, sizeof(header), 0);
    if (error == KHORGOS_ERROR_ok) error = io->sync(io, writer->file);
    if (error != KHORGOS_ERROR_ok) {
        storage_snapshot_abandon(writer);
        return error;
    }
    io->close(io, writer->file);
    memset(writer, 0, sizeof(*writer));
    return KHORGOS_ERROR_ok;
}

/* ---- reading ------------------------------------------------------------------------------- */

/* Checks a header read whole; file_size 0: the body is not checked against a size. */
static khorgos_error snapshot_header_check(const struct storage_snapshot_header *header,
                                           u64 file_size) {
    ASSERT(header != NULL);
    ASSERT(file_size == 0 || file_size >= sizeof(*header));
    if (header->checksum != snapshot_header_checksum(header)) return KHORGOS_ERROR_corrupt;
    if (header->magic != STORAGE_SNAPSHOT_MAGIC) return KHORGOS_ERROR_corrupt;
    if (header->format_version != STORAGE_FORMAT_VERSION) return KHORGOS_ERROR_format_version;
    if (header->section_count > STORAGE_SNAPSHOT_SECTIONS_MAX) return KHORGOS_ERROR_corrupt;
    if (file_size != 0 && header->body_size != file_size - sizeof(*header)) {
        return KHORGOS_ERROR_corrupt;
    }
    return KHORGOS_ERROR_ok;
}

static khorgos_error snapshot_header_load(struct storage_io *io, int file,
                                          struct storage_snapshot_header *header, u64 file_size) {
    ASSERT(io != NULL && header != NULL);
    u64 read_size = 0;
    khorgos_error error = io->pread(io, file, header, sizeof(*header), 0, &read_size);
    if (error != KHORGOS_ERROR_ok) return error;
    if (read_size != sizeof(*header)) return KHORGOS_ERROR_corrupt;
    if (file_size != 0 && file_size < sizeof(*header)) return KHORGOS_ERROR_corrupt;
    return snapshot_header_check(header, file_size);
}

khorgos_error storage_snapshot_header_read(struct storage *storage, u64 sequence,
                                           struct storage_snapshot_header *header) {
    ASSERT(storage != NULL && header != NULL);
    char name[STORAGE_NAME_BYTES_MAX];
    storage_name(STORAGE_FILE_SNAPSHOT, sequence, name);
    int file = -1;
    khorgos_error error = storage->io->open(storage->io, name, 0, &file);
    if (error != KHORGOS_ERROR_ok) return error;
    error = snapshot_header_load(storage->io, file, header, 0);
    storage->io->close(storage->io, file);
    if (error == KHORGOS_ERROR_ok && header->sequence != sequence) error = KHORGOS_ERROR_corrupt;
    return error;
}

static khorgos_error reader_fill(struct storage_reader *reader, u64 offset, u64 size,
                                 const u8 **data) {
    struct storage_window *window = &reader->window;
    ASSERT(size <= window->capacity);
    if (offset + size > window->file_size) return KHORGOS_ERROR_corrupt;
    if (offset < window->begin || offset + size > window->begin + window->size) {
        u64 want = MIN(window->capacity, window->file_size - offset);
        u64 read_size = 0;
        struct storage_io *io = reader->storage->io;
        khorgos_error error = io->pread(io, window->file, window->buffer, want, offset, &read_size);
        if (error != KHORGOS_ERROR_ok) return error;
        window->begin = offset;
        window->size = read_size;
        if (read_size < size) return KHORGOS_ERROR_corrupt;
    }
    *data = window->buffer + (offset - window->begin);
    return KHORGOS_ERROR_ok;
}

/* The one verification pass: the table against the header, each body against the table. */
static khorgos_error snapshot_verify(struct storage_reader *reader,
                                     const struct storage_snapshot_header *header,
                                     u64 *bad_offset) {
    u64 table_size = (u64)header->section_count * sizeof(struct storage_section_header);
    u64 table_offset = sizeof(*header) + header->body_size - table_size;
    *bad_offset = table_offset;
    if (header->body_size < table_size) return KHORGOS_ERROR_corrupt;
    const u8 *data = NULL;
    khorgos_error error = reader_fill(reader, table_offset, table_size, &data);
    if (error != KHORGOS_ERROR_ok) return error;
    memcpy(reader->sections, data, table_size);
    if (base_checksum128(reader->sections, table_size) != header->checksum_body) {
        return KHORGOS_ERROR_corrupt;
    }
    u64 offset = sizeof(*header);
    for (u32 index = 0; index < header->section_count; index++) {
        const struct storage_section_header *section = &reader->sections[index];
        *bad_offset = offset;
        if (section->size > table_offset - offset) return KHORGOS_ERROR_corrupt;
        struct base_checksum_stream stream;
        base_checksum_stream_init(&stream);
        for (u64 done = 0; done < section->size;) {
            u64 chunk = MIN(section->size - done, reader->window.capacity);
            error = reader_fill(reader, offset + done, chunk, &data);
            if (error != KHORGOS_ERROR_ok) return error;
            base_checksum_stream_add(&stream, data, chunk);
            done += chunk;
        }
        if (base_checksum_stream_final(&stream) != section->checksum) return KHORGOS_ERROR_corrupt;
        offset += section->size;
    }
    *bad_offset = offset;
    return offset == table_offset ? KHORGOS_ERROR_ok : KHORGOS_ERROR_corrupt;
}

/* A verified reader, positioned before its first section. */
static void reader_start(struct storage_reader *reader,
                         const struct storage_snapshot_header *header) {
    ASSERT(reader != NULL && header != NULL);
    ASSERT(header->section_count <= STORAGE_SNAPSHOT_SECTIONS_MAX);
    reader->offset = sizeof(*header);
    reader->end = sizeof(*header) + header->body_size;
    reader->section_end = reader->offset;
    reader->section_count = header->section_count;
}

khorgos_error storage_snapshot_open(struct storage *storage, u64 sequence,
                                    struct storage_snapshot_header *header,
                                    struct storage_reader **out, struct storage_report *report) {
    ASSERT(storage != NULL && header != NULL && out != NULL && report != NULL);
    ASSERT(storage->reader.storage == NULL && storage->writer.storage == NULL);
    char name[STORAGE_NAME_BYTES_MAX];
    storage_name(STORAGE_FILE_SNAPSHOT, sequence, name);
    struct storage_io *io = storage->io;
    int file = -1;
    khorgos_error error = io->open(io, name, 0, &file);
    if (error != KHORGOS_ERROR_ok) return error;
    u64 file_size = 0;
    error = io->size(io, file, &file_size);
    if (error == KHORGOS_ERROR_ok) error = snapshot_header_load(io, file, header, file_size);
    if (error == KHORGOS_ERROR_ok && header->sequence != sequence) error = KHORGOS_ERROR_corrupt;
    u64 bad_offset = 0;
    struct storage_reader *reader = &storage->reader;
    memset(reader, 0, sizeof(*reader));
    reader->storage = storage;
    reader->window = (struct storage_window){.file = file, .file_size = file_size,
                                             .buffer = storage->buffer,
                                             .capacity = STORAGE_BUFFER_BYTES};
    if (error == KHORGOS_ERROR_ok) error = snapshot_verify(reader, header, &bad_offset);
    if (error != KHORGOS_ERROR_ok) {
        size_t used = strlen(report->message);
        snprintf(report->message + used, sizeof(report->message) - used,
                 "%s%s: damaged at or after offset %llu (%s).", used ? " " : "", name,
                 (unsigned long long)bad_offset, khorgos_strerror(error));
        memset(reader, 0, sizeof(*reader));
        io->close(io, file);
        return error == KHORGOS_ERROR_format_version ? error : KHORGOS_ERROR_corrupt;
    }
    reader_start(reader, header);
    *out = reader;
    return KHORGOS_ERROR_ok;
}

khorgos_error storage_reader_section_next(struct storage_reader *reader,
                                          struct storage_section_header *section) {
    ASSERT(reader != NULL && section != NULL);
    ASSERT(reader->storage != NULL || reader->window.file == -1); /* a file, or memory */
    ASSERT(reader->offset <= reader->section_end);
    if (reader->section_index == reader->section_count) return KHORGOS_ERROR_not_found;
    reader->offset = reader->section_end; /* skips what a module left unread */
    *section = reader->sections[reader->section_index++];
    reader->section_end = reader->offset + section->size;
    base_checksum_stream_init(&reader->section_checksum);
    ASSERT(reader->section_end <= reader->end);
    return KHORGOS_ERROR_ok;
}

khorgos_error storage_reader_get(struct storage_reader *reader, void *data, u64 size) {
    ASSERT(reader != NULL);
    ASSERT(reader->storage != NULL || reader->window.file == -1); /* a file, or memory */
    ASSERT(data != NULL || size == 0);
    if (size > reader->section_end - reader->offset) return KHORGOS_ERROR_corrupt;
    u8 *bytes = data;
    while (size > 0) {
        u64 chunk = MIN(size, reader->window.capacity);
        const u8 *source = NULL;
        khorgos_error error = reader_fill(reader, reader->offset, chunk, &source);
        if (error != KHORGOS_ERROR_ok) return error;
        memcpy(bytes, source, chunk);
        base_checksum_stream_add(&reader->section_checksum, bytes, chunk);
        bytes += chunk;
        reader->offset += chunk;
        size -= chunk;
    }
    /* Verified once before, and again as read: a read that came back different this time (a
     * flipped transfer) must not reach the module's state. */
    if (reader->offset == reader->section_end &&
        base_checksum_stream_final(&reader->section_checksum) !=
            reader->sections[reader->section_index - 1].checksum) {
        return KHORGOS_ERROR_corrupt;
    }
    return KHORGOS_ERROR_ok;
}

u64 storage_reader_remaining(const struct storage_reader *reader) {
    ASSERT(reader != NULL);
    ASSERT(reader->offset <= reader->section_end);
    return reader->section_end - reader->offset;
}

void storage_reader_close(struct storage_reader *reader) {
    ASSERT(reader != NULL);
    ASSERT(reader->storage != NULL || reader->window.file == -1); /* a file, or memory */
    if (reader->storage != NULL) reader->storage->io->close(reader->storage->io,
                                                            reader->window.file);
    memset(reader, 0, sizeof(*reader));
}

/* ---- a whole snapshot in memory ------------------------------------------------------------ */

void storage_snapshot_memory_begin(struct storage_writer *writer, u64 sequence, u8 *memory,
                                   u64 capacity) {
    ASSERT(writer != NULL);
    ASSERT(memory != NULL || capacity == 0);
    storage_writer_memory_begin(writer, memory, capacity);
    writer->memory_snapshot = true;
    writer->sequence = sequence;
    ASSERT(writer->storage == NULL && writer->file == -1);
}

khorgos_error storage_snapshot_memory_end(struct storage_writer *writer, u64 timestamp_last,
                                          u128 digest, const u8 chain_head[BASE_SHA256_BYTES],
                                          u64 *size_bytes) {
    ASSERT(writer != NULL && writer->memory_snapshot && size_bytes != NULL);
    ASSERT(!writer->section_open && chain_head != NULL);
    u64 table_size = (u64)writer->section_count * sizeof(struct storage_section_header);
    u64 table_offset = sizeof(struct storage_snapshot_header) + writer->body_size;
    *size_bytes = table_offset + table_size;
    khorgos_error error = writer->error;
    if (error == KHORGOS_ERROR_ok && *size_bytes > writer->memory_capacity) {
        error = KHORGOS_ERROR_no_space;
    }
    if (error == KHORGOS_ERROR_ok) {
        struct storage_snapshot_header header;
        snapshot_header_seal(writer, timestamp_last, digest, chain_head, &header);
        memcpy(writer->memory + table_offset, writer->sections, table_size);
        memcpy(writer->memory, &header, sizeof(header));
    }
    memset(writer, 0, sizeof(*writer));
    return error;
}

khorgos_error storage_snapshot_put(struct storage *storage, u64 sequence, const void *bytes,
                                   u64 size_bytes) {
    ASSERT(storage != NULL && bytes != NULL);
    ASSERT(storage->writer.storage == NULL && size_bytes >= sizeof(struct storage_snapshot_header));
    struct storage_io *io = storage->io;
    int file = -1;
    khorgos_error error = snapshot_temporary_create(storage, sequence, &file);
    if (error != KHORGOS_ERROR_ok) return error;
    error = io->pwrite(io, file, bytes, size_bytes, 0);
    if (error == KHORGOS_ERROR_ok) error = io->sync(io, file);
    io->close(io, file);
    if (error != KHORGOS_ERROR_ok) {
        storage_snapshot_discard(storage, sequence);
        return error;
    }
    return storage_snapshot_publish(storage, sequence);
}

khorgos_error storage_snapshot_memory_open(struct storage_reader *reader, const void *bytes,
                                           u64 size_bytes,
                                           struct storage_snapshot_header *header) {
    ASSERT(reader != NULL && header != NULL);
    ASSERT(bytes != NULL || size_bytes == 0);
    memset(reader, 0, sizeof(*reader));
    reader->window.file = -1;
    if (size_bytes < sizeof(*header)) return KHORGOS_ERROR_corrupt;
    memcpy(header, bytes, sizeof(*header));
    khorgos_error error = snapshot_header_check(header, size_bytes);
    if (error != KHORGOS_ERROR_ok) return error;
    /* The whole snapshot is the window: nothing is ever read into it, only from it. */
    reader->window = (struct storage_window){.file = -1, .file_size = size_bytes,
                                             .buffer = (u8 *)(uintptr_t)bytes,
                                             .capacity = size_bytes, .size = size_bytes};
    u64 bad_offset = 0;
    error = snapshot_verify(reader, header, &bad_offset);
    if (error != KHORGOS_ERROR_ok) {
        memset(reader, 0, sizeof(*reader));
        reader->window.file = -1;
        return KHORGOS_ERROR_corrupt;
    }
    reader_start(reader, header);
    return KHORGOS_ERROR_ok;
}

/* ---- collection ---------------------------------------------------------------------------- */

/* Moves a file into the archive folder, under its own name. */
static khorgos_error collect_archive_file(struct storage_io *io, const char *name) {
    ASSERT(io != NULL && name != NULL);
    char archived[STORAGE_NAME_BYTES_MAX];
    int length = snprintf(archived, sizeof(archived), "%s/%s", STORAGE_ARCHIVE_NAME, name);
    ASSERT(length > 0 && (u32)length < sizeof(archived));
    return io->rename(io, name, archived);
}

/* With STORAGE_SUPERBLOCK_KEEP_JOURNAL: moves the segments wholly before keep_from into the
 * archive folder (made when missing), journal file first: a crash between the two leaves a
 * headers file without its journal file, which listing ignores and the next collection moves
 * too (a headers file before the first segment). Only renames: the files keep their bytes. */
static khorgos_error collect_archive_segments(struct storage *storage,
                                              const struct storage_listing *listing,
                                              u64 keep_from, bool *changed) {
    ASSERT(storage->superblock.flags & STORAGE_SUPERBLOCK_KEEP_JOURNAL);
    ASSERT(changed != NULL);
    struct storage_io *io = storage->io;
    char name[STORAGE_NAME_BYTES_MAX];
    u32 archived = 0;
    for (u32 index = 0; index + 1 < listing->segment_count; index++) {
        if (listing->segments[index + 1] > keep_from + 1) break;
        archived++;
    }
    u64 first = listing->segment_count > 0 ? listing->segments[0] : U64_MAX;
    u32 orphans = 0;
    while (orphans < listing->headers_count && listing->headers[orphans] < first) orphans++;
    if (archived + orphans == 0) return KHORGOS_ERROR_ok;
    khorgos_error error = io->make_directory == NULL
                              ? KHORGOS_ERROR_ok
                              : io->make_directory(io, STORAGE_ARCHIVE_NAME);
    for (u32 index = 0; index < orphans && error == KHORGOS_ERROR_ok; index++) {
        storage_name(STORAGE_FILE_HEADERS, listing->headers[index], name);
        error = collect_archive_file(io, name);
    }
    for (u32 index = 0; index < archived && error == KHORGOS_ERROR_ok; index++) {
        ASSERT(listing->segments[index] != storage->segment_first);
        storage_name(STORAGE_FILE_JOURNAL, listing->segments[index], name);
        error = collect_archive_file(io, name);
        storage_name(STORAGE_FILE_HEADERS, listing->segments[index], name);
        if (error == KHORGOS_ERROR_ok) error = collect_archive_file(io, name);
    }
    *changed = true;
    return error;
}

khorgos_error storage_collect(struct storage *storage, u64 keep_from) {
    ASSERT(storage != NULL);
    ASSERT(storage->writer.storage == NULL);
    struct storage_io *io = storage->io;
    struct storage_listing listing;
    khorgos_error error = storage_list(io, &listing);
    if (error != KHORGOS_ERROR_ok) return error;
    char name[STORAGE_NAME_BYTES_MAX];
    bool changed = false;
    for (u32 index = 0; index < listing.snapshot_count; index++) {
        if (listing.snapshots[index] >= keep_from) continue;
        storage_name(STORAGE_FILE_SNAPSHOT, listing.snapshots[index], name);
        error = io->unlink(io, name);
        if (error != KHORGOS_ERROR_ok) return error;
        changed = true;
    }
    if (storage->superblock.flags & STORAGE_SUPERBLOCK_KEEP_JOURNAL) {
        error = collect_archive_segments(storage, &listing, keep_from, &changed);
        if (error != KHORGOS_ERROR_ok) return error;
        listing.segment_count = 0; /* moved, not deleted */
    }
    for (u32 index = 0; index + 1 < listing.segment_count; index++) {
        if (listing.segments[index + 1] > keep_from + 1) break;
        ASSERT(listing.segments[index] != storage->segment_first);
        storage_name(STORAGE_FILE_JOURNAL, listing.segments[index], name);
        error = io->unlink(io, name);
        storage_name(STORAGE_FILE_HEADERS, listing.segments[index], name);
        if (error == KHORGOS_ERROR_ok) error = io->unlink(io, name);
        if (error != KHORGOS_ERROR_ok) return error;
        changed = true;
    }
    for (u32 index = 0; index < listing.temporary_count; index++) {
        error = io->unlink(io, listing.temporaries[index]);
        if (error != KHORGOS_ERROR_ok) return error;
        changed = true;
    }
    return changed ? io->sync_directory(io) : KHORGOS_ERROR_ok;
}

/* Renames one file to its temporary name ("<name>.tmp": recovery deletes it, and never reads
 * it as a snapshot or a segment) and remembers it; false when the list is full. */
static bool collect_retire(struct storage_io *io, const char *name,
                           char (*retired)[STORAGE_NAME_BYTES_MAX], u32 *count,
                           khorgos_error *error) {
    ASSERT(strlen(name) + 4 < STORAGE_NAME_BYTES_MAX);
    ASSERT(*count <= STORAGE_COLLECT_FILES_MAX);
    if (*count == STORAGE_COLLECT_FILES_MAX) return false; /* the rest waits for the next one */
    snprintf(retired[*count], STORAGE_NAME_BYTES_MAX, "%s.tmp", name);
    *error = io->rename(io, name, retired[*count]);
    if (*error == KHORGOS_ERROR_ok) *count += 1;
    return *error == KHORGOS_ERROR_ok;
}

/* Frees a retired file in steps, one per pace call, then unlinks it. A name that does not
 * open (a symbolic link: the io refuses to follow one) is only unlinked: what it points to,
 * outside the directory, is never opened, shortened or deleted. */
static khorgos_error collect_shrink(struct storage_io *io, const char *name,
                                    storage_pace_function pace, void *context) {
    ASSERT(name != NULL && pace != NULL);
    int file = -1;
    khorgos_error error = io->open(io, name, 0, &file);
    if (error != KHORGOS_ERROR_ok) return io->unlink(io, name);
    u64 size = 0;
    error = io->size(io, file, &size);
    u32 steps = 0;
    while (error == KHORGOS_ERROR_ok && io->truncate != NULL && size > 0) {
        ASSERT(steps++ <= STORAGE_SEGMENT_BYTES_MAX / STORAGE_COLLECT_STEP_BYTES);
        pace(context);
        size = size > STORAGE_COLLECT_STEP_BYTES ? size - STORAGE_COLLECT_STEP_BYTES : 0;
        error = io->truncate(io, file, size);
    }
    io->close(io, file);
    if (error != KHORGOS_ERROR_ok) return error;
    pace(context);
    return io->unlink(io, name);
}

khorgos_error storage_collect_paced(struct storage *storage, u64 keep_from,
                                    storage_pace_function pace, void *context) {
    ASSERT(storage != NULL && pace != NULL);
    struct storage_io *io = storage->io;
    struct storage_listing listing;
    khorgos_error error = storage_list(io, &listing);
    if (error != KHORGOS_ERROR_ok) return error;
    static _Thread_local char retired[STORAGE_COLLECT_FILES_MAX][STORAGE_NAME_BYTES_MAX];
    u32 count = 0;
    bool archived = false; /* segments moved to the archive folder */
    char name[STORAGE_NAME_BYTES_MAX];
    for (u32 index = 0; index < listing.snapshot_count; index++) {
        if (listing.snapshots[index] >= keep_from) continue;
        storage_name(STORAGE_FILE_SNAPSHOT, listing.snapshots[index], name);
        if (!collect_retire(io, name, retired, &count, &error)) goto sync_directory;
    }
    if (storage->superblock.flags & STORAGE_SUPERBLOCK_KEEP_JOURNAL) {
        error = collect_archive_segments(storage, &listing, keep_from, &archived);
        if (error != KHORGOS_ERROR_ok) goto sync_directory;
        listing.segment_count = 0; /* moved, not freed */
    }
    for (u32 index = 0; index + 1 < listing.segment_count; index++) {
        if (listing.segments[index + 1] > keep_from + 1) break;
        ASSERT(listing.segments[index] <= keep_from); /* never the journal's current one */
        storage_name(STORAGE_FILE_JOURNAL, listing.segments[index], name);
        if (!collect_retire(io, name, retired, &count, &error)) goto sync_directory;
        storage_name(STORAGE_FILE_HEADERS, listing.segments[index], name);
        if (!collect_retire(io, name, retired, &count, &error)) goto sync_directory;
    }
sync_directory:
    /* Renamed for good before any byte goes: a crash now leaves temporaries, never a
     * shortened snapshot or segment under its real name. */
    if (count > 0 || archived) {
        khorgos_error synced = io->sync_directory(io);
        if (error == KHORGOS_ERROR_ok) error = synced;
    }
    for (u32 index = 0; index < count && error == KHORGOS_ERROR_ok; index++) {
        error = collect_shrink(io, retired[index], pace, context);
    }
    return error;
}
