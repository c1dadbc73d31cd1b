/*
 * storage_io_posix.c: the real I/O of a data directory (see storage.h, "I/O").
 *
 * Every call works relative to one directory descriptor (openat, renameat, unlinkat), so a
 * data directory renamed while open keeps working and no path is ever built by concatenation.
 * Every file is opened with O_NOFOLLOW: a symbolic link inside the directory is refused
 * (ELOOP), so no read, write, truncation or deletion ever reaches a file outside it. Files are
 * created 0600 and a directory format makes is 0700: a ledger is nobody else's to read.
 * A writer's io opens files O_RDWR; a reader's (check, inspect) O_RDONLY, and refuses every
 * call that would change the directory, so the tools work on a read-only copy or backup.
 * Durability is fdatasync for files and fsync for the directory (after a create, rename or
 * unlink). Space is reserved with fallocate(mode 0) so the file system allocates the extents
 * now: ENOSPC happens at segment start, never inside a commit, and fdatasync of a
 * preallocated file need not write size metadata. truncate (ftruncate) shrinks a file the
 * paced collection deletes, a step at a time.
 *
 * One writer per directory. A writer's io (STORAGE_POSIX_WRITE, STORAGE_POSIX_FORMAT) holds
 * an open file description lock (fcntl F_OFD_SETLK, a write lock on all of "lock" in the
 * directory) for as long as it lives; the kernel drops it when the process dies however it
 * dies, and, unlike a classic POSIX record lock, no close() of another descriptor of the same
 * file in the process drops it, and a second open in the same process conflicts with it. The
 * holder's pid is written into the file as text, for messages only. A second writer's create
 * fails with `locked` before it reads or writes anything; a reader never takes the lock and
 * never waits for it: it asks (F_OFD_GETLK) and reports the holder (storage_io_posix_writer).
 *
 * Error mapping (one place): ENOSPC and EDQUOT -> no_space; ENOENT -> not_found; EEXIST ->
 * exists; anything else -> io. The text of the last failure names the file, the call and the
 * cause ("journal-0000000000000001: fallocate: No space left on device"), for messages.
 *
 * Two threads use one io: the engine's committing thread and a checkpoint's thread (on
 * different files; engine_storage.c C4). Every call is a system call on its own descriptor;
 * the names of the open files (for messages) are kept under a mutex; the last error's text
 * could be garbled by a failure on each thread at the same instant (only messages read it).
 *
 * Invariants: (1) short writes are retried until the whole buffer is written or an error
 * occurs; (2) EINTR is retried everywhere; (3) the directory descriptor, and a writer's lock,
 * live as long as the io; (4) a reader's io changes nothing in the directory.
 */
#include "storage/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define POSIX_LOCK_NAME "lock"
/* Files open at once through one io: a segment's two and its two spares, a snapshot being
 * written and one being read, the superblock, a retired file being shrunk; twice that for
 * margin. Names beyond it are simply not named in messages. */
#define POSIX_FILES_NAMED_MAX 16u
/* The holder's pid as text: "4194304\n" at most (pid_max is at most 2^22). */
#define POSIX_PID_TEXT_BYTES 16u

struct posix_file_name {
    int file; /* -1: a free slot */
    char name[STORAGE_NAME_BYTES_MAX];
};

struct storage_io_posix {
    struct storage_io io;
    int directory;
    int lock_file;   /* a writer's "lock", locked; -1 for a reader */
    bool read_only;
    bool created;    /* format made the directory: a failed format removes it */
    char *path;      /* as given, for a failed format's removal */
    pthread_mutex_t names_mutex;
    struct posix_file_name names[POSIX_FILES_NAMED_MAX];
    char error_text[STORAGE_MESSAGE_BYTES_MAX];
};

static struct storage_io_posix *posix_of(struct storage_io *io) {
    ASSERT(io != NULL);
    struct storage_io_posix *posix = io->context;
    ASSERT(posix != NULL && &posix->io == io);
    return posix;
}

static khorgos_error posix_error_code(int error_number) {
    ASSERT(error_number != 0);
    switch (error_number) {
    case ENOSPC:
    case EDQUOT: return KHORGOS_ERROR_no_space;
    case ENOENT: return KHORGOS_ERROR_not_found;
    case EEXIST: return KHORGOS_ERROR_exists;
    default: return KHORGOS_ERROR_io;
    }
}

/* Records "<name>: <call>: <cause>" as the last error and maps the errno. */
static khorgos_error posix_error_named(struct storage_io *io, const char *name, const char *call,
                                       int error_number) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(name != NULL && call != NULL);
    const char *cause = error_number == ELOOP ? "a symbolic link, refused (O_NOFOLLOW)"
                                              : strerror(error_number);
    snprintf(posix->error_text, sizeof(posix->error_text), "%s: %s: %s", name, call, cause);
    return posix_error_code(error_number);
}

/* The name a descriptor was opened under ("" when unknown). */
static void posix_file_name(struct storage_io_posix *posix, int file,
                            char name[STORAGE_NAME_BYTES_MAX]) {
    ASSERT(file >= 0);
    name[0] = '\0';
    pthread_mutex_lock(&posix->names_mutex);
    for (u32 index = 0; index < POSIX_FILES_NAMED_MAX; index++) {
        if (posix->names[index].file == file) {
            memcpy(name, posix->names[index].name, STORAGE_NAME_BYTES_MAX);
            break;
        }
    }
    pthread_mutex_unlock(&posix->names_mutex);
}

/* As posix_error_named, for a call on an open file. */
static khorgos_error posix_error(struct storage_io *io, int file, const char *call,
                                 int error_number) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(call != NULL);
    char name[STORAGE_NAME_BYTES_MAX];
    posix_file_name(posix, file, name);
    return posix_error_named(io, name[0] != '\0' ? name : "a data file", call, error_number);
}

/* A reader's io refuses every change: check and inspect must leave the directory as found. */
static khorgos_error posix_refuse_change(struct storage_io *io, const char *name,
                                         const char *call) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(posix->read_only);
    snprintf(posix->error_text, sizeof(posix->error_text),
             "%s: %s: refused, the directory is open read-only", name, call);
    return KHORGOS_ERROR_io;
}

static void posix_name_remember(struct storage_io_posix *posix, int file, const char *name) {
    ASSERT(file >= 0 && name != NULL);
    pthread_mutex_lock(&posix->names_mutex);
    for (u32 index = 0; index < POSIX_FILES_NAMED_MAX; index++) {
        if (posix->names[index].file < 0) {
            posix->names[index].file = file;
            snprintf(posix->names[index].name, STORAGE_NAME_BYTES_MAX, "%s", name);
            break;
        }
    }
    pthread_mutex_unlock(&posix->names_mutex);
}

static void posix_name_forget(struct storage_io_posix *posix, int file) {
    ASSERT(file >= 0);
    pthread_mutex_lock(&posix->names_mutex);
    for (u32 index = 0; index < POSIX_FILES_NAMED_MAX; index++) {
        if (posix->names[index].file == file) posix->names[index].file = -1;
    }
    pthread_mutex_unlock(&posix->names_mutex);
}

static khorgos_error posix_open(struct storage_io *io, const char *name, u32 flags, int *file) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(name != NULL && file != NULL);
    ASSERT(strlen(name) < STORAGE_NAME_BYTES_MAX);
    bool create = (flags & STORAGE_OPEN_CREATE) != 0;
    if (posix->read_only && create) return posix_refuse_change(io, name, "create");
    int open_flags = (posix->read_only ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC;
    if (create) open_flags |= O_CREAT | O_EXCL;
    int descriptor;
    do {
        descriptor = openat(posix->directory, name, open_flags, 0600);
    } while (descriptor < 0 && errno == EINTR);
    if (descriptor < 0) return posix_error_named(io, name, "open", errno);
    posix_name_remember(posix, descriptor, name);
    *file = descriptor;
    return KHORGOS_ERROR_ok;
}

static void posix_close(struct storage_io *io, int file) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(file >= 0);
    posix_name_forget(posix, file);
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
        if (result < 0) return posix_error(io, file, "write", errno);
        if (result == 0) return posix_error(io, file, "write", EIO);
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
        if (result < 0) return posix_error(io, file, "read", errno);
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
    return result < 0 ? posix_error(io, file, "fdatasync", errno) : KHORGOS_ERROR_ok;
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
    if (result < 0 && (errno == ENOSYS || errno == EINVAL || errno == ESPIPE)) {
        return KHORGOS_ERROR_ok;
    }
    return result < 0 ? posix_error(io, file, "sync_file_range", errno) : KHORGOS_ERROR_ok;
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
        if (result != 0) return posix_error(io, file, "posix_fallocate", result);
        return KHORGOS_ERROR_ok;
    }
    return result < 0 ? posix_error(io, file, "fallocate", errno) : KHORGOS_ERROR_ok;
}

static khorgos_error posix_truncate(struct storage_io *io, int file, u64 size) {
    ASSERT(file >= 0);
    ASSERT(size <= (u64)INT64_MAX);
    int result;
    do {
        result = ftruncate(file, (off_t)size);
    } while (result < 0 && errno == EINTR);
    return result < 0 ? posix_error(io, file, "ftruncate", errno) : KHORGOS_ERROR_ok;
}

static khorgos_error posix_size(struct storage_io *io, int file, u64 *size) {
    ASSERT(file >= 0 && size != NULL);
    struct stat status;
    if (fstat(file, &status) < 0) return posix_error(io, file, "fstat", errno);
    ASSERT(status.st_size >= 0);
    *size = (u64)status.st_size;
    return KHORGOS_ERROR_ok;
}

static khorgos_error posix_rename(struct storage_io *io, const char *from, const char *to) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(from != NULL && to != NULL);
    if (posix->read_only) return posix_refuse_change(io, from, "rename");
    if (renameat(posix->directory, from, posix->directory, to) < 0) {
        return posix_error_named(io, from, "rename", errno);
    }
    return KHORGOS_ERROR_ok;
}

static khorgos_error posix_unlink(struct storage_io *io, const char *name) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(name != NULL && name[0] != '\0');
    if (posix->read_only) return posix_refuse_change(io, name, "unlink");
    if (unlinkat(posix->directory, name, 0) < 0) {
        return posix_error_named(io, name, "unlink", errno);
    }
    return KHORGOS_ERROR_ok;
}

static khorgos_error posix_sync_directory(struct storage_io *io) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(posix->directory >= 0);
    int result;
    do {
        result = fsync(posix->directory);
    } while (result < 0 && errno == EINTR);
    return result < 0 ? posix_error_named(io, ".", "fsync", errno) : KHORGOS_ERROR_ok;
}

/* Makes a folder inside the data directory (0700), or takes an existing one; a name that is
 * a symbolic link, or not a folder, is refused, so nothing moved into it leaves the directory. */
static khorgos_error posix_make_directory(struct storage_io *io, const char *name) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(name != NULL && posix->directory >= 0);
    if (posix->read_only) return posix_refuse_change(io, name, "mkdir");
    if (mkdirat(posix->directory, name, 0700) < 0 && errno != EEXIST) {
        return posix_error_named(io, name, "mkdir", errno);
    }
    struct stat status;
    if (fstatat(posix->directory, name, &status, AT_SYMLINK_NOFOLLOW) < 0) {
        return posix_error_named(io, name, "stat", errno);
    }
    if (!S_ISDIR(status.st_mode)) return posix_error_named(io, name, "mkdir", ENOTDIR);
    ASSERT(S_ISDIR(status.st_mode));
    return KHORGOS_ERROR_ok;
}

static khorgos_error posix_list(struct storage_io *io, char (*names)[STORAGE_NAME_BYTES_MAX],
                                u32 *count) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(names != NULL && count != NULL);
    *count = 0;
    int descriptor = dup(posix->directory);
    if (descriptor < 0) return posix_error_named(io, ".", "dup", errno);
    DIR *directory = fdopendir(descriptor);
    if (directory == NULL) {
        khorgos_error error = posix_error_named(io, ".", "fdopendir", errno);
        close(descriptor);
        return error;
    }
    rewinddir(directory);
    khorgos_error error = KHORGOS_ERROR_ok;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        if (strlen(entry->d_name) >= STORAGE_NAME_BYTES_MAX) continue; /* not ours */
        if (*count == STORAGE_DIRECTORY_FILES_MAX) {
            snprintf(posix->error_text, sizeof(posix->error_text),
                     "the directory holds more than %u files", STORAGE_DIRECTORY_FILES_MAX);
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

/* ---- the directory, its lock ----------------------------------------------------------------- */

static void posix_message(char *message, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Fills a caller's message (STORAGE_MESSAGE_BYTES_MAX; NULL: none wanted). */
static void posix_message(char *message, const char *format, ...) {
    ASSERT(format != NULL);
    if (message == NULL) return;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, STORAGE_MESSAGE_BYTES_MAX, format, arguments);
    va_end(arguments);
}

/* The pid written into a lock file, or -1 when it holds none (its holder has not written it
 * yet, or it is not ours). */
static int posix_lock_pid(int file) {
    ASSERT(file >= 0);
    char text[POSIX_PID_TEXT_BYTES];
    ssize_t size;
    do {
        size = pread(file, text, sizeof(text) - 1, 0);
    } while (size < 0 && errno == EINTR);
    if (size <= 0) return -1;
    text[size] = '\0';
    char *end = NULL;
    long pid = strtol(text, &end, 10);
    if (end == text || (*end != '\n' && *end != '\0') || pid <= 0 || pid > INT32_MAX) return -1;
    ASSERT(pid > 0);
    return (int)pid;
}

/* Creates (0600) and locks "lock" for the io's life: locked, naming the holder, when another
 * open file description holds it (another process, or another open in this one). */
static khorgos_error posix_lock(struct storage_io_posix *posix, char *message) {
    ASSERT(posix->directory >= 0 && !posix->read_only);
    int file;
    do {
        file = openat(posix->directory, POSIX_LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                      0600);
    } while (file < 0 && errno == EINTR);
    if (file < 0) {
        int error_number = errno;
        posix_message(message, "%s: open: %s", POSIX_LOCK_NAME,
                      error_number == ELOOP ? "a symbolic link, refused" : strerror(error_number));
        return posix_error_code(error_number);
    }
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(file, F_OFD_SETLK, &lock) < 0) {
        int error_number = errno;
        int pid = error_number == EAGAIN || error_number == EACCES ? posix_lock_pid(file) : 0;
        close(file);
        if (error_number != EAGAIN && error_number != EACCES) {
            posix_message(message, "%s: fcntl(F_OFD_SETLK): %s", POSIX_LOCK_NAME,
                          strerror(error_number));
            return KHORGOS_ERROR_io;
        }
        if (pid > 0) {
            posix_message(message, "locked: process %d has the data directory open for writing "
                                   "(it holds the file %s); one writer at a time", pid,
                          POSIX_LOCK_NAME);
        } else {
            posix_message(message, "locked: another process has the data directory open for "
                                   "writing (it holds the file %s); one writer at a time",
                          POSIX_LOCK_NAME);
        }
        return KHORGOS_ERROR_locked;
    }
    /* The pid is for messages only: a lock whose pid could not be written still excludes. */
    char text[POSIX_PID_TEXT_BYTES];
    int length = snprintf(text, sizeof(text), "%d\n", (int)getpid());
    ASSERT(length > 0 && (u32)length < sizeof(text));
    if (ftruncate(file, 0) == 0) (void)!pwrite(file, text, (size_t)length, 0);
    posix->lock_file = file;
    return KHORGOS_ERROR_ok;
}

/* Whether the directory holds nothing but a "lock" file (which a failed format may leave);
 * false with *error_number set when it cannot be read. */
static bool posix_directory_empty(int directory, int *error_number) {
    ASSERT(directory >= 0 && error_number != NULL);
    *error_number = 0;
    int descriptor = dup(directory);
    DIR *stream = descriptor < 0 ? NULL : fdopendir(descriptor);
    if (stream == NULL) {
        *error_number = errno;
        if (descriptor >= 0) close(descriptor);
        return false;
    }
    rewinddir(stream);
    bool empty = true;
    struct dirent *entry;
    while (empty && (entry = readdir(stream)) != NULL) {
        empty = strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0 ||
                strcmp(entry->d_name, POSIX_LOCK_NAME) == 0;
    }
    closedir(stream);
    return empty;
}

/* format: makes the directory (0700), or takes an existing empty one. */
static khorgos_error posix_directory_make(struct storage_io_posix *posix, const char *path,
                                          char *message) {
    ASSERT(path != NULL && posix->directory < 0);
    if (mkdir(path, 0700) == 0) {
        posix->created = true;
    } else if (errno != EEXIST) {
        int error_number = errno;
        posix_message(message, "mkdir: %s", strerror(error_number));
        return posix_error_code(error_number);
    }
    posix->directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (posix->directory < 0) {
        int error_number = errno;
        posix_message(message, "%s", error_number == ENOTDIR
                                         ? "exists and is not a directory; refusing to format it"
                                         : strerror(error_number));
        return error_number == ENOTDIR ? KHORGOS_ERROR_exists : posix_error_code(error_number);
    }
    int error_number = 0;
    if (!posix->created && !posix_directory_empty(posix->directory, &error_number)) {
        if (error_number != 0) {
            posix_message(message, "cannot list it: %s", strerror(error_number));
            return posix_error_code(error_number);
        }
        posix_message(message, "the directory exists and is not empty; format takes a new or "
                               "an empty directory and never overwrites one");
        return KHORGOS_ERROR_exists;
    }
    return KHORGOS_ERROR_ok;
}

/* Opens an existing data directory; a writer's must hold a superblock, checked before the
 * lock file is made, so that opening a directory that is not ours leaves nothing in it. */
static khorgos_error posix_directory_open(struct storage_io_posix *posix, const char *path,
                                          char *message) {
    ASSERT(path != NULL && posix->directory < 0);
    posix->directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (posix->directory < 0) {
        int error_number = errno;
        posix_message(message, "%s", error_number == ENOENT ? "no such directory"
                                                            : strerror(error_number));
        return posix_error_code(error_number);
    }
    if (posix->read_only) return KHORGOS_ERROR_ok;
    struct stat status;
    if (fstatat(posix->directory, "superblock", &status, AT_SYMLINK_NOFOLLOW) < 0) {
        int error_number = errno;
        posix_message(message, "%s", error_number == ENOENT
                                         ? "no superblock: not a data directory (run khorgos "
                                           "format)"
                                         : strerror(error_number));
        return posix_error_code(error_number);
    }
    return KHORGOS_ERROR_ok;
}

static void posix_free(struct storage_io_posix *posix) {
    ASSERT(posix != NULL);
    if (posix->lock_file >= 0) close(posix->lock_file); /* releases the lock */
    if (posix->directory >= 0) close(posix->directory);
    pthread_mutex_destroy(&posix->names_mutex);
    free(posix->path);
    free(posix);
}

static const struct storage_io posix_table = {
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

khorgos_error storage_io_posix_create(const char *path, enum storage_posix_mode mode,
                                      struct storage_io **out, char *message) {
    ASSERT(path != NULL && out != NULL);
    ASSERT(mode == STORAGE_POSIX_READ || mode == STORAGE_POSIX_WRITE ||
           mode == STORAGE_POSIX_FORMAT);
    *out = NULL;
    posix_message(message, "%s", "");
    struct storage_io_posix *posix = calloc(1, sizeof(*posix));
    char *path_copy = strdup(path);
    if (posix == NULL || path_copy == NULL) {
        free(posix);
        free(path_copy);
        posix_message(message, "out of memory");
        return KHORGOS_ERROR_out_of_memory;
    }
    posix->path = path_copy;
    posix->directory = -1;
    posix->lock_file = -1;
    posix->read_only = mode == STORAGE_POSIX_READ;
    pthread_mutex_init(&posix->names_mutex, NULL);
    for (u32 index = 0; index < POSIX_FILES_NAMED_MAX; index++) posix->names[index].file = -1;
    khorgos_error error = mode == STORAGE_POSIX_FORMAT ? posix_directory_make(posix, path, message)
                                                       : posix_directory_open(posix, path, message);
    if (error == KHORGOS_ERROR_ok && !posix->read_only) error = posix_lock(posix, message);
    int error_number = 0;
    /* Another format may have filled it between the look and the lock. */
    if (error == KHORGOS_ERROR_ok && mode == STORAGE_POSIX_FORMAT && !posix->created &&
        !posix_directory_empty(posix->directory, &error_number)) {
        posix_message(message, "the directory is no longer empty; format refuses it");
        error = KHORGOS_ERROR_exists;
    }
    if (error != KHORGOS_ERROR_ok) {
        /* Best effort: it is empty, and a next format would take it anyway. Not when another
         * format holds it (it took the directory this one made): that one's to keep. */
        if (posix->created && error != KHORGOS_ERROR_locked) (void)rmdir(path);
        posix_free(posix);
        return error;
    }
    posix->io = posix_table;
    posix->io.context = posix;
    *out = &posix->io;
    return KHORGOS_ERROR_ok;
}

void storage_io_posix_destroy(struct storage_io *io) {
    if (io == NULL) return;
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(posix->directory >= 0);
    posix_free(posix);
}

void storage_io_posix_remove(struct storage_io *io) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(!posix->read_only && posix->lock_file >= 0);
    static _Thread_local char names[STORAGE_DIRECTORY_FILES_MAX][STORAGE_NAME_BYTES_MAX];
    u32 count = 0;
    /* Everything listed is format's own: the directory was empty when the lock was taken. */
    if (posix_list(io, names, &count) == KHORGOS_ERROR_ok) {
        for (u32 index = 0; index < count; index++) {
            if (strcmp(names[index], POSIX_LOCK_NAME) != 0) {
                (void)unlinkat(posix->directory, names[index], 0);
            }
        }
    }
    /* Best effort throughout: what stays (an unlink refused) is at worst a directory the next
     * format calls not empty, and names. The lock file goes last, still held. */
    (void)unlinkat(posix->directory, POSIX_LOCK_NAME, 0);
    if (posix->created) (void)rmdir(posix->path);
    posix_free(posix);
}

int storage_io_posix_writer(struct storage_io *io) {
    struct storage_io_posix *posix = posix_of(io);
    ASSERT(posix->directory >= 0);
    int file;
    do {
        file = openat(posix->directory, POSIX_LOCK_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    } while (file < 0 && errno == EINTR);
    if (file < 0) return 0; /* no lock file: no writer since the directory was made */
    /* F_OFD_GETLK needs no write access: a reader on a read-only copy may ask. */
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    int pid = 0;
    if (fcntl(file, F_OFD_GETLK, &lock) == 0 && lock.l_type != F_UNLCK) {
        pid = posix_lock_pid(file);
    }
    close(file);
    ASSERT(pid == -1 || pid >= 0);
    return pid;
}
