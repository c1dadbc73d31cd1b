/* Membership changes and the raft log check (cluster_membership.h). */
#include "cluster/cluster_membership.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(CLUSTER_RAFT_ID_SLOTS > CLUSTER_REPLICA_COUNT_MAX, "a slot fits a raft id");
_Static_assert(sizeof(struct cluster_membership_request) == 16, "a request body is 16 bytes");
_Static_assert(sizeof(struct cluster_member) == 16, "a member is 16 bytes");
_Static_assert(sizeof(struct cluster_membership_reply) == 16, "a reply header is 16 bytes");

raft_id cluster_raft_id(u32 replica, u32 generation) {
    ASSERT(replica < CLUSTER_REPLICA_COUNT_MAX);
    ASSERT(generation <= CLUSTER_GENERATION_MAX);
    return (raft_id)generation * CLUSTER_RAFT_ID_SLOTS + replica + 1;
}

u32 cluster_raft_id_replica(raft_id id) {
    ASSERT(id > 0);
    u32 replica = (u32)((id - 1) % CLUSTER_RAFT_ID_SLOTS);
    ASSERT(replica < CLUSTER_RAFT_ID_SLOTS);
    return replica;
}

u32 cluster_raft_id_generation(raft_id id) {
    ASSERT(id > 0);
    u64 generation = (id - 1) / CLUSTER_RAFT_ID_SLOTS;
    ASSERT(generation <= U32_MAX);
    return (u32)generation;
}

const char *cluster_member_role_name(u32 role) {
    ASSERT(RAFT_STANDBY != RAFT_VOTER);
    ASSERT(RAFT_VOTER != RAFT_SPARE);
    if (role == RAFT_VOTER) return "voter";
    if (role == RAFT_STANDBY) return "standby";
    if (role == RAFT_SPARE) return "spare";
    return "unknown";
}

u32 cluster_members_read(const struct raft *raft, struct cluster_member *members) {
    ASSERT(raft != NULL && members != NULL);
    const struct raft_configuration *configuration = &raft->configuration;
    u32 count = 0;
    for (unsigned index = 0; index < configuration->n && count < CLUSTER_MEMBERS_MAX; index++) {
        const struct raft_server *server = &configuration->servers[index];
        members[count++] = (struct cluster_member){
            .replica = cluster_raft_id_replica(server->id),
            .generation = cluster_raft_id_generation(server->id),
            .role = (u32)server->role};
    }
    ASSERT(count <= CLUSTER_MEMBERS_MAX);
    return count;
}

static void membership_changed(struct raft_change *change, int status) {
    struct cluster_membership *membership = change->data;
    ASSERT(membership != NULL && membership->changing);
    membership->changing = false;
    membership->last_status = status;
}

static void membership_transferred(struct raft_transfer *transfer) {
    struct cluster_membership *membership = transfer->data;
    ASSERT(membership != NULL && membership->changing);
    membership->changing = false;
}

/* The configuration's server of `replica` other than `keep` (0: any), or NULL. */
static const struct raft_server *membership_find(const struct raft *raft, u32 replica,
                                                 raft_id keep) {
    ASSERT(raft != NULL);
    ASSERT(replica < CLUSTER_RAFT_ID_SLOTS);
    for (unsigned index = 0; index < raft->configuration.n; index++) {
        const struct raft_server *server = &raft->configuration.servers[index];
        if (server->id != keep && cluster_raft_id_replica(server->id) == replica) return server;
    }
    return NULL;
}

/* Takes `server` out of the configuration; a leader hands on its leadership first. */
static int membership_remove(struct raft *raft, struct cluster_membership *membership,
                             const struct raft_server *server) {
    ASSERT(server != NULL && membership != NULL);
    ASSERT(!membership->changing);
    membership->change.data = membership;
    membership->transfer.data = membership;
    if (server->id == raft->id) {
        return raft_transfer(raft, &membership->transfer, 0, membership_transferred);
    }
    return raft_remove(raft, &membership->change, server->id, membership_changed);
}

/* The next step of an add: the slot's other generations out (the address is theirs), then
 * the server in, standby, voter. */
static int membership_add_step(struct raft *raft, struct cluster_membership *membership,
                               const char *address, raft_id id, bool *done) {
    ASSERT(raft != NULL && membership != NULL);
    ASSERT(address != NULL && done != NULL);
    membership->change.data = membership;
    *done = false;
    const struct raft_server *other = membership_find(raft, cluster_raft_id_replica(id), id);
    if (other != NULL) return membership_remove(raft, membership, other);
    const struct raft_server *server = NULL;
    for (unsigned index = 0; index < raft->configuration.n; index++) {
        if (raft->configuration.servers[index].id == id) {
            server = &raft->configuration.servers[index];
        }
    }
    if (server == NULL) return raft_add(raft, &membership->change, id, address,
                                        membership_changed);
    if (server->role == RAFT_SPARE) {
        return raft_assign(raft, &membership->change, id, RAFT_STANDBY, membership_changed);
    }
    if (server->role == RAFT_STANDBY) {
        return raft_assign(raft, &membership->change, id, RAFT_VOTER, membership_changed);
    }
    *done = true;
    return 0;
}

int cluster_membership_settle(struct raft *raft) {
    ASSERT(raft != NULL);
    bool serving = raft_state(raft) == RAFT_LEADER || raft_state(raft) == RAFT_FOLLOWER;
    if (!serving || raft->configuration_uncommitted_index == 0 ||
        raft_last_applied(raft) != raft_last_index(raft)) {
        return 0;
    }
    struct raft_configuration committed;
    raft_configuration_init(&committed);
    for (unsigned index = 0; index < raft->configuration.n; index++) {
        const struct raft_server *server = &raft->configuration.servers[index];
        int status = raft_configuration_add(&committed, server->id, server->address,
                                            server->role);
        if (status != 0) {
            raft_configuration_close(&committed);
            return status;
        }
    }
    ASSERT(committed.n == raft->configuration.n);
    raft_configuration_close(&raft->configuration_committed);
    raft->configuration_committed = committed;
    raft->configuration_uncommitted_index = 0;
    return 0;
}

khorgos_error cluster_membership_step(struct raft *raft, struct cluster_membership *membership,
                                      const char *address,
                                      const struct cluster_membership_request *request) {
    ASSERT(raft != NULL && membership != NULL);
    ASSERT(request != NULL);
    bool add = request->action == CLUSTER_MEMBERSHIP_ADD;
    if (address == NULL || request->reserved != 0 ||
        (!add && (request->action != CLUSTER_MEMBERSHIP_REMOVE || request->generation != 0)) ||
        request->generation > CLUSTER_GENERATION_MAX) {
        return KHORGOS_ERROR_invalid_argument;
    }
    raft_id id = cluster_raft_id(request->replica, request->generation);
    for (unsigned index = 0; add && index < raft->configuration.n; index++) {
        raft_id other = raft->configuration.servers[index].id;
        if (cluster_raft_id_replica(other) == request->replica &&
            cluster_raft_id_generation(other) > request->generation) {
            return KHORGOS_ERROR_invalid_argument; /* a newer replacement is in already */
        }
    }
    if (!membership->changing && raft_state(raft) == RAFT_LEADER) {
        int status = cluster_membership_settle(raft);
        if (status != 0) membership->last_status = status;
    }
    if (membership->changing || raft->configuration_uncommitted_index != 0) {
        return KHORGOS_ERROR_membership_changing;
    }
    bool done = false;
    int status = 0;
    if (add) {
        status = membership_add_step(raft, membership, address, id, &done);
    } else {
        const struct raft_server *server = membership_find(raft, request->replica, 0);
        done = server == NULL;
        if (!done) status = membership_remove(raft, membership, server);
    }
    if (done) return KHORGOS_ERROR_ok;
    membership->changing = status == 0;
    membership->last_status = status;
    return KHORGOS_ERROR_membership_changing;
}

/* The CRC-32 raft's log puts on each batch: polynomial 0x04C11DB7, most significant bit
 * first, from 0, without a final inversion. */
static u32 log_crc32(const u8 *bytes, u64 size) {
    ASSERT(bytes != NULL || size == 0);
    static u32 table[256];
    if (table[1] == 0) {
        for (u32 index = 0; index < 256; index++) {
            u32 value = index << 24;
            for (u32 bit = 0; bit < 8; bit++) {
                value = (value & 0x80000000u) != 0 ? (value << 1) ^ 0x04C11DB7u : value << 1;
            }
            table[index] = value;
        }
    }
    ASSERT(table[1] == 0x04C11DB7u);
    u32 crc = 0;
    for (u64 index = 0; index < size; index++) {
        crc = (crc << 8) ^ table[((crc >> 24) ^ bytes[index]) & 0xFFu];
    }
    return crc;
}

static u64 log_u64(const u8 *bytes) {
    ASSERT(bytes != NULL);
    u64 value = 0;
    for (u32 index = 0; index < 8; index++) value |= (u64)bytes[index] << (8 * index);
    ASSERT(value == value);
    return value;
}

/* The offset of the first damaged batch of one segment's bytes, or `size` when all are
 * whole. A preamble of zeros ends the segment (an open segment's preallocated tail). */
static u64 log_segment_damage(const u8 *bytes, u64 size) {
    ASSERT(bytes != NULL);
    ASSERT(size >= 8);
    u64 offset = 8; /* the format version */
    while (offset + 16 <= size) {
        const u8 *batch = bytes + offset;
        u32 header_crc = (u32)log_u64(batch);
        u32 data_crc = (u32)(log_u64(batch) >> 32);
        u64 count = log_u64(batch + 8);
        if (header_crc == 0 && data_crc == 0 && count == 0) return size; /* the end */
        if (count == 0 || count > (size - offset) / 16) return offset;
        u64 header_bytes = 8 + 16 * count;
        if (offset + 8 + header_bytes > size) return offset;
        if (log_crc32(batch + 8, header_bytes) != header_crc) return offset;
        u64 data_bytes = 0;
        for (u64 entry = 0; entry < count; entry++) {
            data_bytes += (u32)(log_u64(batch + 16 + 16 * entry + 8) >> 32);
        }
        if (data_bytes > size - offset - 8 - header_bytes) return offset;
        if (log_crc32(batch + 8 + header_bytes, data_bytes) != data_crc) return offset;
        offset += 8 + header_bytes + data_bytes;
    }
    return size;
}

/* Reads a whole file into memory (malloc'd); false with errno. */
static bool log_read_file(const char *path, u8 **bytes, u64 *size) {
    ASSERT(path != NULL && bytes != NULL);
    ASSERT(size != NULL);
    *bytes = NULL;
    int file = open(path, O_RDONLY | O_CLOEXEC);
    struct stat info;
    if (file < 0 || fstat(file, &info) != 0) {
        int saved = errno;
        if (file >= 0) close(file);
        errno = saved;
        return false;
    }
    *size = (u64)info.st_size;
    *bytes = malloc(*size > 0 ? *size : 1);
    u64 done = 0;
    while (*bytes != NULL && done < *size) {
        ssize_t got = pread(file, *bytes + done, *size - done, (off_t)done);
        if (got <= 0) break;
        done += (u64)got;
    }
    int saved = *bytes == NULL ? ENOMEM : errno;
    close(file);
    if (*bytes != NULL && done == *size) return true;
    free(*bytes);
    *bytes = NULL;
    errno = done < *size && saved == 0 ? EIO : saved;
    return false;
}

/* Whether a name is one of raft's segment files: "open-N" or "FIRST-LAST" in digits. */
static bool log_segment_name(const char *name) {
    ASSERT(name != NULL);
    if (strncmp(name, "open-", 5) == 0) return name[5] >= '0' && name[5] <= '9';
    u32 digits = 0;
    u32 dashes = 0;
    for (const char *at = name; *at != '\0'; at++) {
        if (*at >= '0' && *at <= '9') digits++;
        else if (*at == '-') dashes++;
        else return false;
    }
    ASSERT(digits + dashes == strlen(name));
    return dashes == 1 && digits >= 2 && name[0] != '-';
}

khorgos_error cluster_raft_log_check(const char *directory, char *message, size_t capacity) {
    ASSERT(directory != NULL && message != NULL);
    ASSERT(capacity > 0);
    DIR *folder = opendir(directory);
    if (folder == NULL) {
        if (errno == ENOENT) return KHORGOS_ERROR_ok; /* a new replica: no log yet */
        snprintf(message, capacity, "%s: opendir: %s", directory, strerror(errno));
        return KHORGOS_ERROR_io;
    }
    khorgos_error error = KHORGOS_ERROR_ok;
    struct dirent *item = NULL;
    while (error == KHORGOS_ERROR_ok && (item = readdir(folder)) != NULL) {
        if (!log_segment_name(item->d_name)) continue;
        char path[4096];
        int length = snprintf(path, sizeof(path), "%s/%s", directory, item->d_name);
        ASSERT(length > 0 && (size_t)length < sizeof(path));
        u8 *bytes = NULL;
        u64 size = 0;
        if (!log_read_file(path, &bytes, &size)) {
            snprintf(message, capacity, "%s: read: %s", path, strerror(errno));
            error = KHORGOS_ERROR_io;
            break;
        }
        u64 damaged = size < 8 ? 0 : log_segment_damage(bytes, size);
        bool empty = size < 8 && strncmp(item->d_name, "open-", 5) == 0;
        if (damaged < size && !empty) {
            snprintf(message, capacity, "%s: the raft log batch at offset %llu fails its "
                     "checksum: entries this replica acknowledged may be lost, so it does not "
                     "start; replace it (docs/replication.md, \"Replacing a replica\")", path,
                     (unsigned long long)damaged);
            error = KHORGOS_ERROR_corrupt;
        }
        free(bytes);
    }
    closedir(folder);
    return error;
}
