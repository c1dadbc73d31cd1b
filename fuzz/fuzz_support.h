/*
 * fuzz_support.h: what the storage fuzz targets share: a small directory's superblock and files
 * written into the in-memory I/O (storage_io_fault.c with every fault off), and a bounded
 * reader of the fuzzer's input.
 */
#ifndef KHORGOS_FUZZ_SUPPORT_H
#define KHORGOS_FUZZ_SUPPORT_H

#include "storage/storage.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The smallest directory the format accepts: segments of one batch and 1,024 records, so
 * recovery's scans stay short. Capacities small enough to open in a few milliseconds. */
static const struct storage_superblock fuzz_superblock = {
    .format_version = STORAGE_FORMAT_VERSION,
    .account_count_max = 64,
    .transfer_count_max = 1024,
    .account_balance_count_max = 1024,
    .segment_bytes = STORAGE_SEGMENT_BYTES_MIN,
    .segment_records_max = STORAGE_SEGMENT_RECORDS_MIN,
    .participant_count_max = 8,
    .payment_count_max = 64,
};

/* An in-memory I/O with no fault: every call does what a healthy disk does. */
static inline struct storage_io *fuzz_io_create(void) {
    const struct storage_fault_config config = {.seed = 1};
    struct storage_io *io = storage_fault_create(&config);
    ASSERT(io != NULL);
    return io;
}

/* Creates `name` holding `bytes`, sized at least `size_bytes` (zeros after the bytes), synced. */
static inline void fuzz_file_write(struct storage_io *io, const char *name, const void *bytes,
                                   u64 length, u64 size_bytes) {
    int file = -1;
    ASSERT(io->open(io, name, STORAGE_OPEN_CREATE, &file) == KHORGOS_ERROR_ok);
    if (size_bytes > 0) ASSERT(io->allocate(io, file, size_bytes) == KHORGOS_ERROR_ok);
    if (length > 0) ASSERT(io->pwrite(io, file, bytes, length, 0) == KHORGOS_ERROR_ok);
    ASSERT(io->sync(io, file) == KHORGOS_ERROR_ok);
    io->close(io, file);
    ASSERT(io->sync_directory(io) == KHORGOS_ERROR_ok);
}

/* Reads the whole of `name` into a new buffer (NULL when absent); *length is its size. */
static inline u8 *fuzz_file_read(struct storage_io *io, const char *name, u64 *length) {
    int file = -1;
    *length = 0;
    if (io->open(io, name, 0, &file) != KHORGOS_ERROR_ok) return NULL;
    u64 size = 0;
    ASSERT(io->size(io, file, &size) == KHORGOS_ERROR_ok);
    u8 *bytes = malloc(size > 0 ? size : 1);
    ASSERT(bytes != NULL);
    u64 read_size = 0;
    ASSERT(io->pread(io, file, bytes, size, 0, &read_size) == KHORGOS_ERROR_ok);
    ASSERT(read_size == size);
    io->close(io, file);
    *length = size;
    return bytes;
}

/* The fuzzer's input read front to back; reads past the end give zeros. */
struct fuzz_input {
    const u8 *data;
    size_t size;
    size_t offset;
};

static inline u8 fuzz_u8(struct fuzz_input *input) {
    return input->offset < input->size ? input->data[input->offset++] : 0;
}

static inline u32 fuzz_u32(struct fuzz_input *input, u32 bytes) {
    ASSERT(bytes <= 4);
    u32 value = 0;
    for (u32 index = 0; index < bytes; index++) value |= (u32)fuzz_u8(input) << (8 * index);
    return value;
}

/* Up to `length` bytes of the input from where it stands (fewer at its end). */
static inline size_t fuzz_take(struct fuzz_input *input, size_t length, const u8 **bytes) {
    size_t available = input->size - MIN(input->offset, input->size);
    size_t taken = MIN(length, available);
    *bytes = input->data + MIN(input->offset, input->size);
    input->offset += taken;
    return taken;
}

#endif /* KHORGOS_FUZZ_SUPPORT_H */
