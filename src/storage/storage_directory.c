/*
 * storage_directory.c: the superblock and the names of a data directory's files (the byte
 * layout of the superblock is in storage.h).
 *
 * The superblock is written once, by format, beside (superblock.tmp), fsynced, renamed and the
 * directory fsynced, so it exists whole or not at all; it is never rewritten, so nothing later
 * can tear it. Its checksum (XXH3-128) catches damage; the magic catches a foreign file; the
 * format version is checked before anything else is read, so a directory written by a later,
 * incompatible Khorgos is refused with KHORGOS_ERROR_format_version instead of misread.
 *
 * Names: "superblock", "snapshot-<16 hex>", "journal-<16 hex>", "headers-<16 hex>", each with a
 * ".tmp" form while written beside. storage_list sorts what it finds; unknown names are
 * ignored (an operator's notes file does no harm), temporaries are listed for cleanup.
 *
 * Invariants: (1) a listing's sequences are strictly increasing; (2) the superblock's
 * capacities are within the limits of base.h, or it is corrupt.
 */
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>

#define SUPERBLOCK_NAME "superblock"
#define SUPERBLOCK_TEMPORARY_NAME "superblock.tmp"
static const char superblock_magic[8] = {'K', 'H', 'O', 'R', 'G', 'O', 'S', 0};

struct superblock_disk {
    u128 checksum;
    char magic[8];
    u32 format_version;
    u32 account_count_max;
    u32 transfer_count_max;
    u32 account_balance_count_max;
    u64 segment_bytes;
    u32 segment_records_max;
    u32 flags;
    u64 formatted_at_ns;
    u32 participant_count_max;
    u32 payment_count_max;
    u8 cluster[16]; /* a u128, unaligned at 72 */
    u8 reserved[168];
};
_Static_assert(sizeof(struct superblock_disk) == STORAGE_SUPERBLOCK_BYTES, "superblock bytes");
_Static_assert(offsetof(struct superblock_disk, format_version) == 24, "version at 24");
_Static_assert(offsetof(struct superblock_disk, segment_bytes) == 40, "segment bytes at 40");
_Static_assert(offsetof(struct superblock_disk, formatted_at_ns) == 56, "formatted at 56");
_Static_assert(offsetof(struct superblock_disk, participant_count_max) == 64, "settlement at 64");
_Static_assert(offsetof(struct superblock_disk, cluster) == 72, "cluster at 72");

void storage_name(enum storage_file_kind kind, u64 sequence, char name[STORAGE_NAME_BYTES_MAX]) {
    ASSERT(name != NULL);
    const char *prefix = kind == STORAGE_FILE_SNAPSHOT  ? "snapshot"
                         : kind == STORAGE_FILE_JOURNAL ? "journal"
                         : kind == STORAGE_FILE_HEADERS ? "headers"
                                                        : NULL;
    ASSERT(prefix != NULL);
    int length = snprintf(name, STORAGE_NAME_BYTES_MAX, "%s-%016llx", prefix,
                          (unsigned long long)sequence);
    ASSERT(length > 0 && (u32)length < STORAGE_NAME_BYTES_MAX);
}

static bool superblock_limits_valid(const struct storage_superblock *superblock) {
    return superblock->account_count_max > 0 &&
           superblock->account_count_max <= LIMIT_ACCOUNT_COUNT_MAX &&
           superblock->transfer_count_max > 0 &&
           superblock->transfer_count_max <= LIMIT_TRANSFER_COUNT_MAX &&
           superblock->account_balance_count_max > 0 &&
           superblock->account_balance_count_max <= LIMIT_ACCOUNT_BALANCE_COUNT_MAX &&
           superblock->segment_bytes >= STORAGE_SEGMENT_BYTES_MIN &&
           superblock->segment_bytes <= STORAGE_SEGMENT_BYTES_MAX &&
           superblock->segment_records_max >= STORAGE_SEGMENT_RECORDS_MIN &&
           superblock->segment_records_max <= STORAGE_SEGMENT_RECORDS_MAX;
}

khorgos_error storage_superblock_write(struct storage_io *io,
                                       const struct storage_superblock *superblock) {
    ASSERT(io != NULL && superblock != NULL);
    ASSERT(superblock_limits_valid(superblock));
    struct superblock_disk disk;
    memset(&disk, 0, sizeof(disk));
    memcpy(disk.magic, superblock_magic, sizeof(disk.magic));
    disk.format_version = superblock->format_version;
    disk.account_count_max = superblock->account_count_max;
    disk.transfer_count_max = superblock->transfer_count_max;
    disk.account_balance_count_max = superblock->account_balance_count_max;
    disk.segment_bytes = superblock->segment_bytes;
    disk.segment_records_max = superblock->segment_records_max;
    disk.flags = superblock->flags;
    disk.formatted_at_ns = superblock->formatted_at_ns;
    disk.participant_count_max = superblock->participant_count_max;
    disk.payment_count_max = superblock->payment_count_max;
    memcpy(disk.cluster, &superblock->cluster, sizeof(disk.cluster));
    disk.checksum = base_checksum128((const u8 *)&disk + 16, sizeof(disk) - 16);
    int file = -1;
    khorgos_error error = io->open(io, SUPERBLOCK_TEMPORARY_NAME, STORAGE_OPEN_CREATE, &file);
    if (error != KHORGOS_ERROR_ok) return error;
    error = io->pwrite(io, file, &disk, sizeof(disk), 0);
    if (error == KHORGOS_ERROR_ok) error = io->sync(io, file);
    io->close(io, file);
    if (error == KHORGOS_ERROR_ok) {
        error = io->rename(io, SUPERBLOCK_TEMPORARY_NAME, SUPERBLOCK_NAME);
    }
    if (error == KHORGOS_ERROR_ok) error = io->sync_directory(io);
    return error;
}

khorgos_error storage_superblock_read(struct storage_io *io,
                                      struct storage_superblock *superblock) {
    ASSERT(io != NULL && superblock != NULL);
    memset(superblock, 0, sizeof(*superblock));
    int file = -1;
    khorgos_error error = io->open(io, SUPERBLOCK_NAME, 0, &file);
    if (error != KHORGOS_ERROR_ok) return error;
    struct superblock_disk disk;
    u64 read_size = 0;
    error = io->pread(io, file, &disk, sizeof(disk), 0, &read_size);
    io->close(io, file);
    if (error != KHORGOS_ERROR_ok) return error;
    if (read_size != sizeof(disk)) return KHORGOS_ERROR_corrupt;
    if (memcmp(disk.magic, superblock_magic, sizeof(disk.magic)) != 0) return KHORGOS_ERROR_corrupt;
    if (disk.checksum != base_checksum128((const u8 *)&disk + 16, sizeof(disk) - 16)) {
        return KHORGOS_ERROR_corrupt;
    }
    superblock->format_version = disk.format_version;
    if (disk.format_version != STORAGE_FORMAT_VERSION) return KHORGOS_ERROR_format_version;
    superblock->account_count_max = disk.account_count_max;
    superblock->transfer_count_max = disk.transfer_count_max;
    superblock->account_balance_count_max = disk.account_balance_count_max;
    superblock->segment_bytes = disk.segment_bytes;
    superblock->segment_records_max = disk.segment_records_max;
    superblock->flags = disk.flags;
    if ((disk.flags & ~STORAGE_SUPERBLOCK_KEEP_JOURNAL) != 0) return KHORGOS_ERROR_corrupt;
    superblock->formatted_at_ns = disk.formatted_at_ns;
    superblock->participant_count_max = disk.participant_count_max;
    superblock->payment_count_max = disk.payment_count_max;
    memcpy(&superblock->cluster, disk.cluster, sizeof(superblock->cluster));
    for (u32 index = 0; index < sizeof(disk.reserved); index++) {
        if (disk.reserved[index] != 0) return KHORGOS_ERROR_corrupt;
    }
    if (!superblock_limits_valid(superblock)) return KHORGOS_ERROR_corrupt;
    return KHORGOS_ERROR_ok;
}

/* Parses "<prefix>-<16 hex>" exactly; returns whether it matched. */
static bool name_parse(const char *name, const char *prefix, u64 *sequence) {
    size_t prefix_length = strlen(prefix);
    ASSERT(prefix_length > 0 && sequence != NULL);
    if (strncmp(name, prefix, prefix_length) != 0 || name[prefix_length] != '-') return false;
    const char *digits = name + prefix_length + 1;
    if (strlen(digits) != 16) return false;
    u64 value = 0;
    for (u32 index = 0; index < 16; index++) {
        char c = digits[index];
        u64 digit = c >= '0' && c <= '9' ? (u64)(c - '0')
                    : c >= 'a' && c <= 'f' ? (u64)(c - 'a' + 10)
                                           : 16;
        if (digit == 16) return false;
        value = value * 16 + digit;
    }
    *sequence = value;
    return true;
}

static void sequences_sort(u64 *sequences, u32 count) {
    for (u32 index = 1; index < count; index++) {
        u64 value = sequences[index];
        u32 position = index;
        while (position > 0 && sequences[position - 1] > value) {
            sequences[position] = sequences[position - 1];
            position--;
        }
        sequences[position] = value;
    }
}

khorgos_error storage_list(struct storage_io *io, struct storage_listing *listing) {
    ASSERT(io != NULL && listing != NULL);
    memset(listing, 0, sizeof(*listing));
    static _Thread_local char names[STORAGE_DIRECTORY_FILES_MAX][STORAGE_NAME_BYTES_MAX];
    u32 count = 0;
    khorgos_error error = io->list(io, names, &count);
    if (error != KHORGOS_ERROR_ok) return error;
    ASSERT(count <= STORAGE_DIRECTORY_FILES_MAX);
    for (u32 index = 0; index < count; index++) {
        const char *name = names[index];
        u64 sequence = 0;
        size_t length = strlen(name);
        if (length > 4 && strcmp(name + length - 4, ".tmp") == 0) {
            snprintf(listing->temporaries[listing->temporary_count++], STORAGE_NAME_BYTES_MAX,
                     "%s", name);
        } else if (name_parse(name, "snapshot", &sequence)) {
            listing->snapshots[listing->snapshot_count++] = sequence;
        } else if (name_parse(name, "journal", &sequence)) {
            listing->segments[listing->segment_count++] = sequence;
        } else if (name_parse(name, "headers", &sequence)) {
            listing->headers[listing->headers_count++] = sequence;
        }
    }
    sequences_sort(listing->snapshots, listing->snapshot_count);
    sequences_sort(listing->segments, listing->segment_count);
    sequences_sort(listing->headers, listing->headers_count);
    for (u32 index = 1; index < listing->segment_count; index++) {
        ASSERT(listing->segments[index - 1] < listing->segments[index]);
    }
    return KHORGOS_ERROR_ok;
}

bool storage_listing_installed(const struct storage_listing *listing) {
    ASSERT(listing != NULL);
    ASSERT(listing->snapshot_count <= STORAGE_DIRECTORY_FILES_MAX);
    return listing->snapshot_count == 1 && listing->snapshots[0] > 0 &&
           listing->segment_count > 0 && listing->segments[0] == listing->snapshots[0] + 1;
}
