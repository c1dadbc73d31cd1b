/* A replica's identity in its data directory (cluster.h, "Identity"): the file DIR/cluster. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster.h"

_Static_assert(sizeof(struct cluster_identity_file) == CLUSTER_IDENTITY_BYTES,
               "the identity file is 64 bytes");

static void cluster_identity_say(char *message, size_t capacity, const char *directory,
                                 const char *call, int error_number) {
    ASSERT(message != NULL && directory != NULL && call != NULL);
    ASSERT(capacity > 0);
    snprintf(message, capacity, "%s/%s: %s: %s", directory, CLUSTER_IDENTITY_NAME, call,
             strerror(error_number));
}

bool cluster_identity_valid(const struct cluster_identity *identity) {
    ASSERT(identity != NULL);
    ASSERT(CLUSTER_REPLICA_COUNT_MAX < 256);
    bool count_ok = identity->replica_count == 3 || identity->replica_count == 5;
    return count_ok && identity->replica < identity->replica_count &&
           identity->voters <= identity->replica_count &&
           identity->generation <= CLUSTER_GENERATION_MAX;
}

static u128 cluster_identity_checksum(const struct cluster_identity_file *file) {
    ASSERT(file != NULL);
    ASSERT(offsetof(struct cluster_identity_file, cluster) == sizeof(u128));
    return base_checksum128((const u8 *)file + sizeof(u128), sizeof(*file) - sizeof(u128));
}

/* Opens DIR itself (for its fsync) and DIR/cluster, never through a symbolic link. */
static int cluster_identity_open(const char *directory, int flags, int *directory_file) {
    ASSERT(directory != NULL && directory_file != NULL);
    *directory_file = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*directory_file < 0) return -1;
    int file = openat(*directory_file, CLUSTER_IDENTITY_NAME, flags | O_NOFOLLOW | O_CLOEXEC,
                      0600);
    ASSERT(file >= -1);
    return file;
}

khorgos_error cluster_identity_write(const char *directory,
                                     const struct cluster_identity *identity, char *message,
                                     size_t capacity) {
    ASSERT(directory != NULL && identity != NULL && message != NULL);
    if (!cluster_identity_valid(identity)) return KHORGOS_ERROR_invalid_argument;
    struct cluster_identity_file bytes = {.magic = CLUSTER_IDENTITY_MAGIC,
                                          .version = CLUSTER_IDENTITY_VERSION,
                                          .replica = identity->replica,
                                          .replica_count = identity->replica_count,
                                          .generation = identity->generation,
                                          .voters = identity->voters,
                                          .cluster = identity->cluster};
    bytes.checksum = cluster_identity_checksum(&bytes);
    int directory_file = -1;
    int file = cluster_identity_open(directory, O_WRONLY | O_CREAT | O_EXCL, &directory_file);
    const char *call = directory_file < 0 ? "open the directory" : "create";
    if (file >= 0) {
        call = "write";
        ssize_t written = write(file, &bytes, sizeof(bytes));
        if (written == (ssize_t)sizeof(bytes)) call = fdatasync(file) == 0 ? NULL : "fdatasync";
        else if (written >= 0) errno = ENOSPC;
    }
    if (call == NULL) call = fsync(directory_file) == 0 ? NULL : "fsync the directory";
    int error_number = errno;
    if (file >= 0) close(file);
    if (directory_file >= 0) close(directory_file);
    if (call == NULL) return KHORGOS_ERROR_ok;
    cluster_identity_say(message, capacity, directory, call, error_number);
    return error_number == EEXIST ? KHORGOS_ERROR_exists
           : error_number == ENOSPC ? KHORGOS_ERROR_no_space
                                    : KHORGOS_ERROR_io;
}

khorgos_error cluster_identity_read(const char *directory, struct cluster_identity *identity,
                                    char *message, size_t capacity) {
    ASSERT(directory != NULL && identity != NULL && message != NULL);
    ASSERT(capacity > 0);
    memset(identity, 0, sizeof(*identity));
    message[0] = '\0';
    int directory_file = -1;
    int file = cluster_identity_open(directory, O_RDONLY, &directory_file);
    int error_number = errno;
    if (directory_file >= 0) close(directory_file);
    if (file < 0) {
        cluster_identity_say(message, capacity, directory, "open", error_number);
        return error_number == ENOENT ? KHORGOS_ERROR_not_found : KHORGOS_ERROR_io;
    }
    struct cluster_identity_file bytes;
    ssize_t got = read(file, &bytes, sizeof(bytes));
    error_number = errno;
    u8 extra = 0;
    bool longer = got == (ssize_t)sizeof(bytes) && read(file, &extra, 1) != 0;
    close(file);
    if (got < 0) {
        cluster_identity_say(message, capacity, directory, "read", error_number);
        return KHORGOS_ERROR_io;
    }
    *identity = (struct cluster_identity){.cluster = bytes.cluster, .replica = bytes.replica,
                                          .replica_count = bytes.replica_count,
                                          .voters = bytes.voters,
                                          .generation = bytes.generation};
    khorgos_error error = KHORGOS_ERROR_ok;
    static const u8 zero[sizeof(bytes.reserved)];
    if (got != (ssize_t)sizeof(bytes) || longer ||
        bytes.checksum != cluster_identity_checksum(&bytes) ||
        bytes.magic != CLUSTER_IDENTITY_MAGIC ||
        memcmp(bytes.reserved, zero, sizeof(zero)) != 0) {
        error = KHORGOS_ERROR_corrupt;
    } else if (bytes.version != CLUSTER_IDENTITY_VERSION) {
        error = KHORGOS_ERROR_format_version;
    } else if (!cluster_identity_valid(identity)) {
        error = KHORGOS_ERROR_corrupt;
    }
    if (error != KHORGOS_ERROR_ok) {
        snprintf(message, capacity, "%s/%s: %s", directory, CLUSTER_IDENTITY_NAME,
                 error == KHORGOS_ERROR_corrupt ? "not a whole replica identity (its checksum, "
                                                  "size or fields)"
                                                : "a version of the file this build does not know");
        memset(identity, 0, sizeof(*identity));
    }
    return error;
}
