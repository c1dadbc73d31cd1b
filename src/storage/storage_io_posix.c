/*
 * storage_io_posix.c: the real I/O of a data directory (see storage.h, "I/O").
 *
 * Every call works relative to one directory descriptor (openat, renameat, unlinkat), so a
 * data directory renamed while open keeps working and no path is ever built by concatenation.
 * Files are opened O_RDWR|O_CLOEXEC; durability is fdatasync for files and fsync for the
 * directory (after a create, rename or unlink). Space is reserved with fallocate(mode 0) so the
 * file system allocates the extents now: ENOSPC happens at segment start, never inside a commit,
 * and fdatasync of a preallocated file need not write size metadata.
 * truncate (ftruncate) shrinks a file the paced collection deletes, a step at a time.
 *
 * Error mapping (one place): ENOSPC and EDQUOT -> no_space; ENOENT -> not_found; EEXIST ->
 * exists; anything else -> io. The errno text of the last failure is kept for messages.
 *
 * Two threads use one io: the engine's committing thread and a checkpoint's thread (on
 * different files; engine_storage.c C4). Every call is a system call on its own descriptor
 * and keeps no state, except the last error's text, which a failure on each thread at the same
 * instant could garble (only messages read it).
 *
 * Invariants: (1) short writes are retried until the whole buffer is written or an error
 * occurs; (2) EINTR is retried everywhere; (3) the directory descriptor lives as long as the io.
 */
#include "storage/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct storage_io_posix {
    struct storage_io io;
    int directory;
    char error_text[128];
};

static struct storage_io_posix *posix_of(struct storage_io *io) {
    ASSERT(io != NULL);
    struct storage_io_posix *posix = io->context;
    ASSERT(posix != NULL && &posix->io == io);
    return posix;
}

static khorgos_error posix_error(struct storage_io *io, int error_number) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(error_number != 0);
    snprintf(posix->error_text, sizeof(posix->error_text), "%s", strerror(error_number));
    switch (error_number) {
    case ENOSPC:
    case EDQUOT: return KHORGOS_ERROR_no_space;
    case ENOENT: return KHORGOS_ERROR_not_found;
    case EEXIST: return KHORGOS_ERROR_exists;
    default: return KHORGOS_ERROR_io;
    }
}

static khorgos_error posix_open(struct storage_io *io, const char *name, u32 flags, int *file) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(name != NULL && file != NULL);
    ASSERT(strlen(name) < STORAGE_NAME_BYTES_MAX);
    int open_flags = O_RDWR | O_CLOEXEC;
    if (flags & STORAGE_OPEN_CREATE) open_flags |= O_CREAT | O_EXCL;
    int descriptor;
    do {
        descriptor = openat(posix->directory, name, open_flags, 0644);
    } while (descriptor < 0 && errno == EINTR);
    if (descriptor < 0) return posix_error(io, errno);
    *file = descriptor;
    return KHORGOS_ERROR_ok;
}

static void posix_close(struct storage_io *io, int file) {
    (void)posix_of(io);
    ASSERT(file >= 0);
    close(file); /* nothing to do on failure: durability was decided by the last sync */
}

static khorgos_error posix_pwrite(struct storage_io *io, int file, const void *data, u64 size,
                                  u64 offset) {
    ASSERT(file >= 0);
    ASSERT(data != NULL || size == 0);
    const u8 *bytes = data;
    u64 written = 0;
    while (written < size) {
        ssize_t result = pwrite(file, bytes + written, size - written, (off_t)(offset + written));
        if (result < 0 && errno == EINTR) continue;
        if (result < 0) return posix_error(io, errno);
        if (result == 0) return posix_error(io, EIO);
        written += (u64)result;
    }
    ASSERT(written == size);
    return KHORGOS_ERROR_ok;
}

static khorgos_error posix_pread(struct storage_io *io, int file, void *data, u64 size,
                                 u64 offset, u64 *read_size) {
    ASSERT(file >= 0);
    ASSERT(data != NULL && read_size != NULL);
    u8 *bytes = data;
    u64 done = 0;
    while (done < size) {
        ssize_t result = pread(file, bytes + done, size - done, (off_t)(offset + done));
        if (result < 0 && errno == EINTR) continue;
        if (result < 0) return posix_error(io, errno);
        if (result == 0) break; /* end of file */
        done += (u64)result;
    }
    *read_size = done;
    return KHORGOS_ERROR_ok;
}

static khorgos_error posix_sync(struct storage_io *io, int file) {
    ASSERT(file >= 0);
    (void)posix_of(io);
    int result;
    do {
        result = fdatasync(file);
    } while (result < 0 && errno == EINTR);
    return result < 0 ? posix_error(io, errno) : KHORGOS_ERROR_ok;
}

/* Writes a range back and waits for it, without the file's metadata (sync_file_range): a
 * snapshot's writer calls it per chunk so that at most one chunk of the snapshot is in the
 * device's queue ahead of a journal fdatasync, and the final fdatasync has little left. It
 * makes nothing durable by itself (no metadata, no device cache flush). */
static khorgos_error posix_writeback(struct storage_io *io, int file, u64 offset, u64 size) {
    ASSERT(file >= 0);
    ASSERT(size > 0);
    (void)posix_of(io);
    int result;
    do {
        result = sync_file_range(file, (off_t)offset, (off_t)size,
                                 SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                     SYNC_FILE_RANGE_WAIT_AFTER);
    } while (result < 0 && errno == EINTR);
    if (result < 0 && (errno == ENOSYS || errno == EINVAL || errno == ESPIPE)) return KHORGOS_ERROR_ok;
    return result < 0 ? posix_error(io, errno) : KHORGOS_ERROR_ok;
}

static khorgos_error posix_allocate(struct storage_io *io, int file, u64 size) {
    ASSERT(file >= 0);
    ASSERT(size > 0);
    int result;
    do {
        result = fallocate(file, 0, 0, (off_t)size);
    } while (result < 0 && errno == EINTR);
    if (result < 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
        /* tmpfs and some others: posix_fallocate writes zeros instead; same guarantee. */
        result = posix_fallocate(file, 0, (off_t)size);
        if (result != 0) return posix_error(io, result);
        return KHORGOS_ERROR_ok;
    }
    return result < 0 ? posix_error(io, errno) : KHORGOS_ERROR_ok;
}

static khorgos_error posix_truncate(struct storage_io *io, int file, u64 size) {
    ASSERT(file >= 0);
    ASSERT(size <= (u64)INT64_MAX);
    int result;
    do {
        result = ftruncate(file, (off_t)size);
    } while (result < 0 && errno == EINTR);
    return result < 0 ? posix_error(io, errno) : KHORGOS_ERROR_ok;
}

static khorgos_error posix_size(struct storage_io *io, int file, u64 *size) {
    ASSERT(file >= 0 && size != NULL);
    struct stat status;
    if (fstat(file, &status) < 0) return posix_error(io, errno);
    ASSERT(status.st_size >= 0);
    *size = (u64)status.st_size;
    return KHORGOS_ERROR_ok;
}

static khorgos_error posix_rename(struct storage_io *io, const char *from, const char *to) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(from != NULL && to != NULL);
    if (renameat(posix->directory, from, posix->directory, to) < 0) return posix_error(io, errno);
    return KHORGOS_ERROR_ok;
}

static khorgos_error posix_unlink(struct storage_io *io, const char *name) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(name != NULL && name[0] != '\0');
    if (unlinkat(posix->directory, name, 0) < 0) return posix_error(io, errno);
    return KHORGOS_ERROR_ok;
}

static khorgos_error posix_sync_directory(struct storage_io *io) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(posix->directory >= 0);
    int result;
    do {
        result = fsync(posix->directory);
    } while (result < 0 && errno == EINTR);
    return result < 0 ? posix_error(io, errno) : KHORGOS_ERROR_ok;
}

static khorgos_error posix_make_directory(struct storage_io *io, const char *name) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(name != NULL && posix->directory >= 0);
    if (mkdirat(posix->directory, name, 0700) < 0 && errno != EEXIST) {
        return posix_error(io, errno);
    }
    return KHORGOS_ERROR_ok;
}

static khorgos_error posix_list(struct storage_io *io, char (*names)[STORAGE_NAME_BYTES_MAX],
                                u32 *count) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(names != NULL && count != NULL);
    int descriptor = dup(posix->directory);
    if (descriptor < 0) return posix_error(io, errno);
    DIR *directory = fdopendir(descriptor);
    if (directory == NULL) {
        khorgos_error error = posix_error(io, errno);
        close(descriptor);
        return error;
    }
    rewinddir(directory);
    khorgos_error error = KHORGOS_ERROR_ok;
    *count = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        if (strlen(entry->d_name) >= STORAGE_NAME_BYTES_MAX) continue; /* not ours */
        if (*count == STORAGE_DIRECTORY_FILES_MAX) {
            snprintf(posix->error_text, sizeof(posix->error_text), "too many files");
            error = KHORGOS_ERROR_io;
            goto close_directory;
        }
        snprintf(names[*count], STORAGE_NAME_BYTES_MAX, "%s", entry->d_name);
        *count += 1;
    }
close_directory:
    closedir(directory);
    ASSERT(*count <= STORAGE_DIRECTORY_FILES_MAX);
    return error;
}

static const char *posix_last_error(struct storage_io *io) {
    struct storage_io_posix *posix = posix_of(io);
    return posix->error_text;
}

bool storage_io_is_posix(const struct storage_io *io) {
    ASSERT(io != NULL);
    return io->open == posix_open;
}

khorgos_error storage_io_posix_create(const char *path, bool create, struct storage_io **out) {
    ASSERT(path != NULL && out != NULL);
    *out = NULL;
    if (create && mkdir(path, 0755) < 0) {
        return errno == EEXIST ? KHORGOS_ERROR_exists
               : errno == ENOSPC ? KHORGOS_ERROR_no_space
               : errno == ENOENT ? KHORGOS_ERROR_not_found
                                 : KHORGOS_ERROR_io;
    }
    int directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory < 0) return errno == ENOENT ? KHORGOS_ERROR_not_found : KHORGOS_ERROR_io;
    struct storage_io_posix *posix = calloc(1, sizeof(*posix));
    if (posix == NULL) {
        close(directory);
        return KHORGOS_ERROR_out_of_memory;
    }
    posix->directory = directory;
    posix->io = (struct storage_io){
        .context = posix,
        .open = posix_open,
        .close = posix_close,
        .pwrite = posix_pwrite,
        .pread = posix_pread,
        .sync = posix_sync,
        .writeback = posix_writeback,
        .allocate = posix_allocate,
        .truncate = posix_truncate,
        .size = posix_size,
        .rename = posix_rename,
        .unlink = posix_unlink,
        .sync_directory = posix_sync_directory,
        .list = posix_list,
        .make_directory = posix_make_directory,
        .last_error = posix_last_error,
    };
    *out = &posix->io;
    return KHORGOS_ERROR_ok;
}

void storage_io_posix_destroy(struct storage_io *io) {
    if (io == NULL) return;
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(posix->directory >= 0);
    close(posix->directory);
    free(posix);
}
