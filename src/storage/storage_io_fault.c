/*
 * storage_io_fault.c: a deterministic, seeded, in-memory I/O that injects the faults a disk and
 * a power loss produce, so the crash simulation runs thousands of crashes in seconds.
 *
 * Model. A file is an inode holding two images: the volatile bytes (what reads see: the page
 * cache) and the durable bytes (what survives a crash: the platter). Writes change the volatile
 * image and widen the inode's dirty range; sync (fdatasync) copies the dirty range and the size
 * to the durable image. The directory is two name -> inode tables, volatile and durable, and a
 * log of the create/rename/unlink operations since the last directory sync; sync_directory
 * makes the volatile table durable.
 *
 * A crash (storage_fault_crash), as a power loss does:
 *   - each 512-byte sector of an inode's dirty range independently keeps its new bytes, keeps
 *     its old bytes (a lost write), or is torn (a random-length prefix new, the rest old);
 *   - the size becomes the durable or the volatile one, at random;
 *   - a random prefix of the unsynced directory operations survives (file systems apply
 *     metadata operations in order);
 *   - every handle opened before the crash becomes invalid (calls on it fail with io).
 * A planned power loss (operations_until_power_loss) makes the N-th change from now and every
 * call after it fail with EIO until the crash is applied: the simulation's way to crash at an
 * arbitrary point inside a commit, a segment start, a checkpoint or a collection.
 * Other faults, each with a probability per million calls: a bit flipped in what pread returns
 * (the disk is fine, the transfer was not), EIO from pwrite, EIO from sync (the data stays
 * volatile: it may be lost by the next crash), and ENOSPC once the files' total size would pass
 * space_bytes_max. storage_fault_damage flips a bit on "disk" (both images): latent damage;
 * storage_fault_truncate shortens a file the same way.
 *
 * Determinism: one xorshift generator seeded from the config drives every choice, so a seed
 * reproduces a run exactly. Memory: images grow by doubling as files are written (this I/O is
 * for tests and simulation, never in an engine's hot path); limits below bound the rest.
 *
 * Invariants: (1) durable image == volatile image outside the dirty range; (2) a handle is valid
 * only in the epoch it was opened in; (3) an inode is freed only when no table, log entry or
 * handle refers to it.
 */
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Bounds of the simulated disk: a data directory holds a few files; a crash test opens a few. */
#define FAULT_INODES_MAX 64u
#define FAULT_HANDLES_MAX 64u
#define FAULT_ENTRIES_MAX STORAGE_DIRECTORY_FILES_MAX
#define FAULT_DIRECTORY_LOG_MAX 256u
#define FAULT_SECTOR_BYTES 512u

struct fault_image {
    u8 *data;      /* [0, capacity); bytes beyond capacity read as zero */
    u64 capacity;
    u64 size;
};

struct fault_inode {
    bool used;
    struct fault_image volatile_image;
    struct fault_image durable_image;
    u64 dirty_begin;
    u64 dirty_end; /* empty when begin == end */
};

struct fault_entry {
    char name[STORAGE_NAME_BYTES_MAX];
    int inode; /* -1: free */
};

enum fault_operation_kind { FAULT_CREATE, FAULT_RENAME, FAULT_UNLINK };

struct fault_operation {
    enum fault_operation_kind kind;
    char name[STORAGE_NAME_BYTES_MAX];
    char name_new[STORAGE_NAME_BYTES_MAX];
    int inode;
};

struct fault_handle {
    int inode; /* -1: closed */
    u64 epoch;
};

struct storage_fault {
    struct storage_io io;
    struct storage_fault_config config;
    struct storage_fault_counters counters;
    u64 random_state;
    u64 epoch;
    struct fault_inode inodes[FAULT_INODES_MAX];
    struct fault_entry entries_volatile[FAULT_ENTRIES_MAX];
    struct fault_entry entries_durable[FAULT_ENTRIES_MAX];
    struct fault_operation log[FAULT_DIRECTORY_LOG_MAX];
    u32 log_count;
    struct fault_handle handles[FAULT_HANDLES_MAX];
    u32 operations_left;  /* until the power fails; 0: no power loss planned */
    bool powered_off;     /* the power failed: everything fails until the crash is applied */
    char error_text[64];
};

static struct storage_fault *fault_of(struct storage_io *io) {
    ASSERT(io != NULL);
    struct storage_fault *fault = io->context;
    ASSERT(fault != NULL && &fault->io == io);
    return fault;
}

static u64 fault_random(struct storage_fault *fault) {
    u64 x = fault->random_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    fault->random_state = x;
    ASSERT(x != 0);
    return x;
}

static bool fault_chance(struct storage_fault *fault, u32 per_million) {
    if (per_million == 0) return false;
    return fault_random(fault) % 1000000u < per_million;
}

u64 storage_fault_random(struct storage_io *io) { return fault_random(fault_of(io)); }

static khorgos_error fault_fail(struct storage_fault *fault, khorgos_error error,
                                const char *text) {
    ASSERT(error != KHORGOS_ERROR_ok);
    ASSERT(text != NULL);
    snprintf(fault->error_text, sizeof(fault->error_text), "%s", text);
    return error;
}

/* Counts one change toward a planned power loss; false once the power is off. */
static bool fault_powered(struct storage_fault *fault) {
    if (fault->powered_off) return false;
    if (fault->operations_left == 0) return true;
    fault->operations_left--;
    if (fault->operations_left > 0) return true;
    fault->powered_off = true;
    fault->counters.power_losses++;
    return false;
}

#define FAULT_REQUIRE_POWER(fault)                                                             \
    do {                                                                                       \
        if (!fault_powered(fault)) {                                                           \
            return fault_fail(fault, KHORGOS_ERROR_io, "Input/output error (power lost)");     \
        }                                                                                      \
    } while (0)

/* ---- images ------------------------------------------------------------------------------ */

static void image_reserve(struct fault_image *image, u64 capacity) {
    ASSERT(image != NULL);
    if (capacity <= image->capacity) return;
    u64 capacity_new = image->capacity ? image->capacity : 4096;
    while (capacity_new < capacity) capacity_new *= 2;
    u8 *data = realloc(image->data, capacity_new);
    ASSERT(data != NULL && "the fault I/O ran out of memory");
    memset(data + image->capacity, 0, capacity_new - image->capacity);
    image->data = data;
    image->capacity = capacity_new;
}

static u8 image_byte(const struct fault_image *image, u64 offset) {
    return offset < image->capacity ? image->data[offset] : 0;
}

static void image_copy_range(struct fault_image *target, const struct fault_image *source,
                             u64 begin, u64 end) {
    ASSERT(begin <= end);
    if (begin == end) return;
    image_reserve(target, end);
    u64 stored_end = MIN(end, MAX(source->capacity, begin));
    if (stored_end > begin) memcpy(target->data + begin, source->data + begin, stored_end - begin);
    if (end > stored_end) memset(target->data + stored_end, 0, end - stored_end);
    ASSERT(image_byte(target, end - 1) == image_byte(source, end - 1));
}

static void image_free(struct fault_image *image) {
    free(image->data);
    memset(image, 0, sizeof(*image));
}

/* ---- directory ---------------------------------------------------------------------------- */

static struct fault_entry *entry_find(struct fault_entry *entries, const char *name) {
    ASSERT(entries != NULL && name != NULL);
    for (u32 index = 0; index < FAULT_ENTRIES_MAX; index++) {
        if (entries[index].inode >= 0 && strcmp(entries[index].name, name) == 0) {
            return &entries[index];
        }
    }
    return NULL;
}

static struct fault_entry *entry_free(struct fault_entry *entries) {
    for (u32 index = 0; index < FAULT_ENTRIES_MAX; index++) {
        if (entries[index].inode < 0) return &entries[index];
    }
    return NULL;
}

/* Applies one operation to a table; the same code runs live and when a crash replays the log. */
static void entries_apply(struct fault_entry *entries, const struct fault_operation *operation) {
    ASSERT(entries != NULL && operation != NULL);
    struct fault_entry *entry = entry_find(entries, operation->name);
    switch (operation->kind) {
    case FAULT_CREATE:
        ASSERT(entry == NULL);
        entry = entry_free(entries);
        ASSERT(entry != NULL);
        snprintf(entry->name, sizeof(entry->name), "%s", operation->name);
        entry->inode = operation->inode;
        break;
    case FAULT_RENAME: {
        ASSERT(entry != NULL);
        struct fault_entry *existing = entry_find(entries, operation->name_new);
        if (existing != NULL) existing->inode = -1;
        snprintf(entry->name, sizeof(entry->name), "%s", operation->name_new);
        break;
    }
    case FAULT_UNLINK:
        ASSERT(entry != NULL);
        entry->inode = -1;
        break;
    }
}

static khorgos_error fault_log(struct storage_fault *fault, enum fault_operation_kind kind,
                               const char *name, const char *name_new, int inode) {
    ASSERT(name != NULL);
    if (fault->log_count == FAULT_DIRECTORY_LOG_MAX) {
        return fault_fail(fault, KHORGOS_ERROR_io, "too many unsynced directory operations");
    }
    struct fault_operation *operation = &fault->log[fault->log_count++];
    operation->kind = kind;
    snprintf(operation->name, sizeof(operation->name), "%s", name);
    snprintf(operation->name_new, sizeof(operation->name_new), "%s", name_new ? name_new : "");
    operation->inode = inode;
    entries_apply(fault->entries_volatile, operation);
    return KHORGOS_ERROR_ok;
}

static bool inode_referenced(const struct storage_fault *fault, int inode) {
    for (u32 index = 0; index < FAULT_ENTRIES_MAX; index++) {
        if (fault->entries_volatile[index].inode == inode) return true;
        if (fault->entries_durable[index].inode == inode) return true;
    }
    for (u32 index = 0; index < fault->log_count; index++) {
        if (fault->log[index].inode == inode) return true;
    }
    for (u32 index = 0; index < FAULT_HANDLES_MAX; index++) {
        if (fault->handles[index].inode == inode && fault->handles[index].epoch == fault->epoch) {
            return true;
        }
    }
    return false;
}

static void inodes_collect(struct storage_fault *fault) {
    for (u32 index = 0; index < FAULT_INODES_MAX; index++) {
        struct fault_inode *inode = &fault->inodes[index];
        if (!inode->used || inode_referenced(fault, (int)index)) continue;
        image_free(&inode->volatile_image);
        image_free(&inode->durable_image);
        memset(inode, 0, sizeof(*inode));
    }
}

/* ---- handles ------------------------------------------------------------------------------ */

static struct fault_inode *handle_inode(struct storage_fault *fault, int file) {
    if (file < 0) return NULL;
    u32 slot = (u32)file % FAULT_HANDLES_MAX;
    u64 epoch = (u64)file / FAULT_HANDLES_MAX;
    struct fault_handle *handle = &fault->handles[slot];
    if (handle->inode < 0 || handle->epoch != epoch || epoch != fault->epoch) return NULL;
    ASSERT(fault->inodes[handle->inode].used);
    return &fault->inodes[handle->inode];
}

static u64 fault_space_used(const struct storage_fault *fault) {
    u64 used = 0;
    for (u32 index = 0; index < FAULT_ENTRIES_MAX; index++) {
        int inode = fault->entries_volatile[index].inode;
        if (inode >= 0) used += fault->inodes[inode].volatile_image.size;
    }
    return used;
}

/* Whether growing a file from `size_old` to `size_new` stays within the simulated disk. */
static bool fault_space_allows(struct storage_fault *fault, u64 size_old, u64 size_new) {
    if (fault->config.space_bytes_max == 0 || size_new <= size_old) return true;
    return fault_space_used(fault) + (size_new - size_old) <= fault->config.space_bytes_max;
}

/* ---- the io table ------------------------------------------------------------------------- */

static khorgos_error fault_open(struct storage_io *io, const char *name, u32 flags, int *file) {
    struct storage_fault *fault = fault_of(io);
    ASSERT(name != NULL && file != NULL);
    ASSERT(strlen(name) < STORAGE_NAME_BYTES_MAX);
    struct fault_entry *entry = entry_find(fault->entries_volatile, name);
    int inode = -1;
    if (flags & STORAGE_OPEN_CREATE) {
        FAULT_REQUIRE_POWER(fault);
        if (entry != NULL) return fault_fail(fault, KHORGOS_ERROR_exists, "File exists");
        if (entry_free(fault->entries_volatile) == NULL) {
            return fault_fail(fault, KHORGOS_ERROR_no_space, "directory full");
        }
        for (u32 index = 0; index < FAULT_INODES_MAX && inode < 0; index++) {
            if (!fault->inodes[index].used) inode = (int)index;
        }
        if (inode < 0) return fault_fail(fault, KHORGOS_ERROR_no_space, "no free inode");
        fault->inodes[inode].used = true;
        khorgos_error error = fault_log(fault, FAULT_CREATE, name, NULL, inode);
        if (error != KHORGOS_ERROR_ok) {
            fault->inodes[inode].used = false;
            return error;
        }
    } else {
        if (entry == NULL) return fault_fail(fault, KHORGOS_ERROR_not_found, "No such file");
        inode = entry->inode;
    }
    for (u32 slot = 0; slot < FAULT_HANDLES_MAX; slot++) {
        struct fault_handle *handle = &fault->handles[slot];
        if (handle->inode >= 0 && handle->epoch == fault->epoch) continue;
        handle->inode = inode;
        handle->epoch = fault->epoch;
        *file = (int)(fault->epoch * FAULT_HANDLES_MAX + slot);
        ASSERT(*file >= 0 && handle_inode(fault, *file) == &fault->inodes[inode]);
        return KHORGOS_ERROR_ok;
    }
    return fault_fail(fault, KHORGOS_ERROR_io, "too many open files");
}

static void fault_close(struct storage_io *io, int file) {
    struct storage_fault *fault = fault_of(io);
    if (handle_inode(fault, file) == NULL) return; /* closed by a crash already */
    fault->handles[(u32)file % FAULT_HANDLES_MAX].inode = -1;
}

static khorgos_error fault_pwrite(struct storage_io *io, int file, const void *data, u64 size,
                                  u64 offset) {
    struct storage_fault *fault = fault_of(io);
    ASSERT(data != NULL || size == 0);
    FAULT_REQUIRE_POWER(fault);
    struct fault_inode *inode = handle_inode(fault, file);
    if (inode == NULL) return fault_fail(fault, KHORGOS_ERROR_io, "Bad file descriptor");
    if (fault_chance(fault, fault->config.write_error_per_million)) {
        fault->counters.write_errors++;
        return fault_fail(fault, KHORGOS_ERROR_io, "Input/output error (injected)");
    }
    struct fault_image *image = &inode->volatile_image;
    u64 end = offset + size;
    if (!fault_space_allows(fault, image->size, end)) {
        fault->counters.no_space_errors++;
        return fault_fail(fault, KHORGOS_ERROR_no_space, "No space left on device (injected)");
    }
    if (size == 0) return KHORGOS_ERROR_ok;
    image_reserve(image, end);
    memcpy(image->data + offset, data, size);
    image->size = MAX(image->size, end);
    if (inode->dirty_begin == inode->dirty_end) {
        inode->dirty_begin = offset;
        inode->dirty_end = end;
    } else {
        inode->dirty_begin = MIN(inode->dirty_begin, offset);
        inode->dirty_end = MAX(inode->dirty_end, end);
    }
    ASSERT(inode->dirty_begin < inode->dirty_end);
    return KHORGOS_ERROR_ok;
}

static khorgos_error fault_pread(struct storage_io *io, int file, void *data, u64 size,
                                 u64 offset, u64 *read_size) {
    struct storage_fault *fault = fault_of(io);
    ASSERT(data != NULL && read_size != NULL);
    if (fault->powered_off) return fault_fail(fault, KHORGOS_ERROR_io, "Input/output error");
    struct fault_inode *inode = handle_inode(fault, file);
    if (inode == NULL) return fault_fail(fault, KHORGOS_ERROR_io, "Bad file descriptor");
    const struct fault_image *image = &inode->volatile_image;
    u64 available = offset >= image->size ? 0 : MIN(size, image->size - offset);
    u8 *bytes = data;
    u64 stored = offset >= image->capacity ? 0 : MIN(available, image->capacity - offset);
    if (stored > 0) memcpy(bytes, image->data + offset, stored);
    if (available > stored) memset(bytes + stored, 0, available - stored);
    *read_size = available;
    if (available > 0 && fault_chance(fault, fault->config.read_flip_per_million)) {
        u64 position = fault_random(fault) % available;
        bytes[position] ^= (u8)(1u << (fault_random(fault) % 8));
        fault->counters.read_flips++;
    }
    return KHORGOS_ERROR_ok;
}

static khorgos_error fault_sync(struct storage_io *io, int file) {
    struct storage_fault *fault = fault_of(io);
    FAULT_REQUIRE_POWER(fault);
    struct fault_inode *inode = handle_inode(fault, file);
    if (inode == NULL) return fault_fail(fault, KHORGOS_ERROR_io, "Bad file descriptor");
    if (fault_chance(fault, fault->config.sync_error_per_million)) {
        fault->counters.sync_errors++;
        return fault_fail(fault, KHORGOS_ERROR_io, "Input/output error (injected, fsync)");
    }
    image_copy_range(&inode->durable_image, &inode->volatile_image, inode->dirty_begin,
                     inode->dirty_end);
    inode->durable_image.size = inode->volatile_image.size;
    inode->dirty_begin = inode->dirty_end = 0;
    if (fault->config.sync_delay_ns > 0) {
        ASSERT(fault->config.sync_delay_ns <= STORAGE_FAULT_SYNC_DELAY_NS_MAX);
        struct timespec delay = {(time_t)(fault->config.sync_delay_ns / 1000000000ull),
                                 (long)(fault->config.sync_delay_ns % 1000000000ull)};
        while (nanosleep(&delay, &delay) != 0) continue; /* interrupted: sleep the rest */
    }
    return KHORGOS_ERROR_ok;
}

static khorgos_error fault_allocate(struct storage_io *io, int file, u64 size) {
    struct storage_fault *fault = fault_of(io);
    FAULT_REQUIRE_POWER(fault);
    struct fault_inode *inode = handle_inode(fault, file);
    if (inode == NULL) return fault_fail(fault, KHORGOS_ERROR_io, "Bad file descriptor");
    ASSERT(size > 0);
    if (!fault_space_allows(fault, inode->volatile_image.size, size)) {
        fault->counters.no_space_errors++;
        return fault_fail(fault, KHORGOS_ERROR_no_space, "No space left on device (injected)");
    }
    /* The size is metadata: durable at the next sync, like the data. Zeros are implicit. */
    inode->volatile_image.size = MAX(inode->volatile_image.size, size);
    return KHORGOS_ERROR_ok;
}

static khorgos_error fault_size(struct storage_io *io, int file, u64 *size) {
    struct storage_fault *fault = fault_of(io);
    ASSERT(size != NULL);
    struct fault_inode *inode = handle_inode(fault, file);
    if (inode == NULL) return fault_fail(fault, KHORGOS_ERROR_io, "Bad file descriptor");
    *size = inode->volatile_image.size;
    return KHORGOS_ERROR_ok;
}

static khorgos_error fault_rename(struct storage_io *io, const char *from, const char *to) {
    struct storage_fault *fault = fault_of(io);
    ASSERT(from != NULL && to != NULL);
    FAULT_REQUIRE_POWER(fault);
    if (entry_find(fault->entries_volatile, from) == NULL) {
        return fault_fail(fault, KHORGOS_ERROR_not_found, "No such file");
    }
    return fault_log(fault, FAULT_RENAME, from, to, -1);
}

static khorgos_error fault_unlink(struct storage_io *io, const char *name) {
    struct storage_fault *fault = fault_of(io);
    ASSERT(name != NULL);
    FAULT_REQUIRE_POWER(fault);
    if (entry_find(fault->entries_volatile, name) == NULL) {
        return fault_fail(fault, KHORGOS_ERROR_not_found, "No such file");
    }
    return fault_log(fault, FAULT_UNLINK, name, NULL, -1);
}

static khorgos_error fault_sync_directory(struct storage_io *io) {
    struct storage_fault *fault = fault_of(io);
    FAULT_REQUIRE_POWER(fault);
    if (fault_chance(fault, fault->config.sync_error_per_million)) {
        fault->counters.sync_errors++;
        return fault_fail(fault, KHORGOS_ERROR_io, "Input/output error (injected, fsync dir)");
    }
    memcpy(fault->entries_durable, fault->entries_volatile, sizeof(fault->entries_durable));
    fault->log_count = 0;
    inodes_collect(fault);
    return KHORGOS_ERROR_ok;
}

static khorgos_error fault_list(struct storage_io *io, char (*names)[STORAGE_NAME_BYTES_MAX],
                                u32 *count) {
    struct storage_fault *fault = fault_of(io);
    ASSERT(names != NULL && count != NULL);
    *count = 0;
    for (u32 index = 0; index < FAULT_ENTRIES_MAX; index++) {
        if (fault->entries_volatile[index].inode < 0) continue;
        snprintf(names[*count], STORAGE_NAME_BYTES_MAX, "%s", fault->entries_volatile[index].name);
        *count += 1;
    }
    ASSERT(*count <= STORAGE_DIRECTORY_FILES_MAX);
    return KHORGOS_ERROR_ok;
}

static const char *fault_last_error(struct storage_io *io) { return fault_of(io)->error_text; }

/* ---- crash and damage --------------------------------------------------------------------- */

static void inode_crash(struct storage_fault *fault, struct fault_inode *inode) {
    ASSERT(inode->used);
    struct fault_image *durable = &inode->durable_image;
    struct fault_image *volatile_image = &inode->volatile_image;
    if (inode->dirty_begin < inode->dirty_end) {
        u64 first = inode->dirty_begin / FAULT_SECTOR_BYTES;
        u64 last = (inode->dirty_end - 1) / FAULT_SECTOR_BYTES;
        image_reserve(durable, (last + 1) * FAULT_SECTOR_BYTES);
        for (u64 sector = first; sector <= last; sector++) {
            u64 begin = MAX(sector * FAULT_SECTOR_BYTES, inode->dirty_begin);
            u64 end = MIN((sector + 1) * FAULT_SECTOR_BYTES, inode->dirty_end);
            u64 choice = fault_random(fault) % 8;
            if (choice < 4) {
                image_copy_range(durable, volatile_image, begin, end); /* written */
            } else if (choice < 7) {
                fault->counters.sectors_lost++;
            } else {
                u64 cut = begin + fault_random(fault) % (end - begin);
                image_copy_range(durable, volatile_image, begin, cut);
                fault->counters.sectors_torn++;
            }
        }
    }
    if (volatile_image->size != durable->size && fault_random(fault) % 2 == 0) {
        durable->size = volatile_image->size;
    }
    /* The page cache is gone: what reads see now is what the disk kept. */
    volatile_image->size = durable->size;
    image_reserve(volatile_image, durable->capacity);
    if (volatile_image->capacity > 0) memset(volatile_image->data, 0, volatile_image->capacity);
    if (durable->capacity > 0) memcpy(volatile_image->data, durable->data, durable->capacity);
    inode->dirty_begin = inode->dirty_end = 0;
}

void storage_fault_crash(struct storage_io *io) {
    struct storage_fault *fault = fault_of(io);
    u32 kept = fault->log_count == 0 ? 0 : (u32)(fault_random(fault) % (fault->log_count + 1));
    for (u32 index = 0; index < kept; index++) {
        entries_apply(fault->entries_durable, &fault->log[index]);
    }
    fault->counters.directory_operations_lost += fault->log_count - kept;
    fault->log_count = 0;
    memcpy(fault->entries_volatile, fault->entries_durable, sizeof(fault->entries_volatile));
    fault->powered_off = false;
    fault->operations_left = 0;
    fault->epoch++;
    for (u32 slot = 0; slot < FAULT_HANDLES_MAX; slot++) fault->handles[slot].inode = -1;
    for (u32 index = 0; index < FAULT_INODES_MAX; index++) {
        if (fault->inodes[index].used) inode_crash(fault, &fault->inodes[index]);
    }
    inodes_collect(fault);
    fault->counters.crashes++;
}

khorgos_error storage_fault_damage(struct storage_io *io, const char *name, u64 offset, u8 bit) {
    struct storage_fault *fault = fault_of(io);
    ASSERT(name != NULL && bit < 8);
    struct fault_entry *entry = entry_find(fault->entries_volatile, name);
    if (entry == NULL) return KHORGOS_ERROR_not_found;
    struct fault_inode *inode = &fault->inodes[entry->inode];
    if (offset >= inode->volatile_image.size) return KHORGOS_ERROR_invalid_argument;
    image_reserve(&inode->volatile_image, offset + 1);
    image_reserve(&inode->durable_image, offset + 1);
    inode->volatile_image.data[offset] ^= (u8)(1u << bit);
    inode->durable_image.data[offset] ^= (u8)(1u << bit);
    fault->counters.damage_injected++;
    return KHORGOS_ERROR_ok;
}

khorgos_error storage_fault_truncate(struct storage_io *io, const char *name, u64 size) {
    struct storage_fault *fault = fault_of(io);
    ASSERT(name != NULL);
    struct fault_entry *entry = entry_find(fault->entries_volatile, name);
    if (entry == NULL) return KHORGOS_ERROR_not_found;
    struct fault_inode *inode = &fault->inodes[entry->inode];
    if (size > inode->volatile_image.size) return KHORGOS_ERROR_invalid_argument;
    struct fault_image *images[2] = {&inode->volatile_image, &inode->durable_image};
    for (u32 index = 0; index < 2; index++) {
        struct fault_image *image = images[index];
        /* Bytes beyond the size read as zero if the file grows again. */
        if (image->capacity > size) memset(image->data + size, 0, image->capacity - size);
        image->size = MIN(image->size, size);
    }
    ASSERT(inode->volatile_image.size == size);
    fault->counters.damage_injected++;
    return KHORGOS_ERROR_ok;
}

khorgos_error storage_fault_file(struct storage_io *io, const char *name, u64 *size) {
    struct storage_fault *fault = fault_of(io);
    ASSERT(name != NULL && size != NULL);
    struct fault_entry *entry = entry_find(fault->entries_volatile, name);
    if (entry == NULL) return KHORGOS_ERROR_not_found;
    *size = fault->inodes[entry->inode].volatile_image.size;
    return KHORGOS_ERROR_ok;
}

struct storage_fault_counters storage_fault_counters(const struct storage_io *io) {
    ASSERT(io != NULL);
    const struct storage_fault *fault = io->context;
    ASSERT(fault != NULL);
    return fault->counters;
}

void storage_fault_configure(struct storage_io *io, const struct storage_fault_config *config) {
    struct storage_fault *fault = fault_of(io);
    ASSERT(config != NULL);
    ASSERT(config->sync_delay_ns <= STORAGE_FAULT_SYNC_DELAY_NS_MAX);
    u64 seed = fault->config.seed;
    fault->config = *config;
    fault->config.seed = seed;
    fault->operations_left = config->operations_until_power_loss;
}

struct storage_io *storage_fault_create(const struct storage_fault_config *config) {
    ASSERT(config != NULL);
    ASSERT(config->sync_delay_ns <= STORAGE_FAULT_SYNC_DELAY_NS_MAX);
    struct storage_fault *fault = calloc(1, sizeof(*fault));
    ASSERT(fault != NULL && "the fault I/O ran out of memory");
    fault->config = *config;
    fault->operations_left = config->operations_until_power_loss;
    fault->random_state = config->seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    if (fault->random_state == 0) fault->random_state = 1;
    for (u32 index = 0; index < FAULT_ENTRIES_MAX; index++) {
        fault->entries_volatile[index].inode = -1;
        fault->entries_durable[index].inode = -1;
    }
    for (u32 slot = 0; slot < FAULT_HANDLES_MAX; slot++) fault->handles[slot].inode = -1;
    fault->io = (struct storage_io){
        .context = fault,
        .open = fault_open,
        .close = fault_close,
        .pwrite = fault_pwrite,
        .pread = fault_pread,
        .sync = fault_sync,
        .allocate = fault_allocate,
        .size = fault_size,
        .rename = fault_rename,
        .unlink = fault_unlink,
        .sync_directory = fault_sync_directory,
        .list = fault_list,
        .last_error = fault_last_error,
    };
    return &fault->io;
}

void storage_fault_destroy(struct storage_io *io) {
    if (io == NULL) return;
    struct storage_fault *fault = fault_of(io);
    for (u32 index = 0; index < FAULT_INODES_MAX; index++) {
        image_free(&fault->inodes[index].volatile_image);
        image_free(&fault->inodes[index].durable_image);
    }
    free(fault);
}
