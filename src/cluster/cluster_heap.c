/*
 * raft's heap for a replica process (cluster.h, cluster_heap_install). raft copies every entry a
 * follower receives into a buffer of its own, reads each message's payload into a new buffer,
 * and gives each open segment of its log a new write buffer; the leader's entries are new
 * buffers too. At full batches these are blocks of about a megabyte each, allocated and freed
 * for every entry, and the C library hands most of them back to the system and takes them
 * again, so every one of their pages is faulted in anew: a cost a single node does not pay.
 * This heap keeps freed large blocks (at least CLUSTER_HEAP_CACHED_BYTES_MIN) and gives them
 * out again, so their pages stay mapped.
 *
 * Every block has a header in front of it: the address the C library gave, the block's usable
 * capacity and its alignment, so that free, realloc and aligned_free know what they hold.
 * Blocks of any alignment share one cache: a request takes the smallest cached block that is
 * large enough, aligned at least as asked, and at most twice the size asked, so a small
 * request never pins a large block. raft allocates from the loop's thread and from libuv's
 * worker threads (snapshots), so the cache is behind a mutex.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cluster/cluster.h"

#define CLUSTER_HEAP_MAGIC 0x5048484bu /* "KHHP" */
/* The header's bytes: a multiple of 16, so a plain block stays 16-byte aligned. */
#define CLUSTER_HEAP_HEADER_BYTES 32u
/* Large blocks are rounded up to this, so a block freed can serve a slightly larger request. */
#define CLUSTER_HEAP_ROUND_BYTES (64u << 10)

struct cluster_heap_header {
    void *base; /* what the C library gave */
    u64 capacity_bytes;
    u32 alignment; /* 16 for a plain block */
    u32 magic;
    u64 zero;
};

static struct {
    pthread_mutex_t mutex;
    struct cluster_heap_header *blocks[CLUSTER_HEAP_CACHE_BLOCKS];
    u32 count;
    u64 cached_bytes;
    u64 reused;
    bool installed;
} cluster_heap = {.mutex = PTHREAD_MUTEX_INITIALIZER};

/* The block guarded by cluster_heap_guard_begin, and how many times raft freed it since. Set
 * and read on the loop's thread; a worker thread's free only compares its own pointer to it
 * (an atomic load), and the guarded block is never one a worker frees. */
static struct {
    _Atomic(void *) pointer;
    u32 frees;
} cluster_heap_guard;

static struct cluster_heap_header *cluster_heap_header_of(void *pointer) {
    ASSERT(pointer != NULL);
    struct cluster_heap_header *header =
        (struct cluster_heap_header *)((u8 *)pointer - CLUSTER_HEAP_HEADER_BYTES);
    ASSERT(header->magic == CLUSTER_HEAP_MAGIC);
    return header;
}

/* The smallest cached block that serves (size, alignment), taken out of the cache; NULL when
 * none does. */
static struct cluster_heap_header *cluster_heap_take(u64 size_bytes, u32 alignment) {
    ASSERT(size_bytes >= CLUSTER_HEAP_CACHED_BYTES_MIN);
    ASSERT(alignment >= 16 && (alignment & (alignment - 1)) == 0);
    pthread_mutex_lock(&cluster_heap.mutex);
    u32 best = cluster_heap.count;
    for (u32 index = 0; index < cluster_heap.count; index++) {
        const struct cluster_heap_header *block = cluster_heap.blocks[index];
        if (block->capacity_bytes < size_bytes || block->capacity_bytes > 2 * size_bytes) continue;
        if (((uintptr_t)(block + 1) & (alignment - 1)) != 0) continue;
        if (best == cluster_heap.count ||
            block->capacity_bytes < cluster_heap.blocks[best]->capacity_bytes) {
            best = index;
        }
    }
    struct cluster_heap_header *taken = NULL;
    if (best < cluster_heap.count) {
        taken = cluster_heap.blocks[best];
        cluster_heap.blocks[best] = cluster_heap.blocks[--cluster_heap.count];
        cluster_heap.cached_bytes -= taken->capacity_bytes;
        cluster_heap.reused++;
    }
    pthread_mutex_unlock(&cluster_heap.mutex);
    ASSERT(taken == NULL || taken->magic == CLUSTER_HEAP_MAGIC);
    return taken;
}

/* Maps a new large block's pages in one call rather than one fault per page as raft's copy
 * first writes them; where the kernel cannot (before Linux 5.14), the faults happen as they
 * would have. */
static void cluster_heap_populate(void *memory, u64 bytes) {
    ASSERT(memory != NULL && bytes >= CLUSTER_HEAP_CACHED_BYTES_MIN);
    enum { page_bytes = 4096 }; /* the smallest page size Linux uses */
    uintptr_t start = ((uintptr_t)memory + page_bytes - 1) & ~(uintptr_t)(page_bytes - 1);
    uintptr_t end = ((uintptr_t)memory + bytes) & ~(uintptr_t)(page_bytes - 1);
    ASSERT(end > start);
    (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

/* A block of at least `size_bytes` whose usable bytes are aligned at `alignment` (16 or a
 * larger power of two). */
static void *cluster_heap_allocate(u64 size_bytes, u32 alignment) {
    ASSERT(alignment >= 16 && (alignment & (alignment - 1)) == 0);
    ASSERT(CLUSTER_HEAP_HEADER_BYTES == sizeof(struct cluster_heap_header));
    if (size_bytes >= CLUSTER_HEAP_CACHED_BYTES_MIN) {
        struct cluster_heap_header *block = cluster_heap_take(size_bytes, alignment);
        if (block != NULL) return block + 1;
        u64 round = CLUSTER_HEAP_ROUND_BYTES;
        size_bytes = (size_bytes + round - 1) & ~(round - 1);
    }
    if (size_bytes == 0) size_bytes = 16;
    u64 prefix = alignment > CLUSTER_HEAP_HEADER_BYTES ? alignment : CLUSTER_HEAP_HEADER_BYTES;
    u64 total = (prefix + size_bytes + alignment - 1) & ~(u64)(alignment - 1);
    u8 *base = alignment > 16 ? aligned_alloc(alignment, total) : malloc(total);
    if (base == NULL) return NULL;
    struct cluster_heap_header *header =
        (struct cluster_heap_header *)(base + prefix - CLUSTER_HEAP_HEADER_BYTES);
    *header = (struct cluster_heap_header){.base = base,
                                           .capacity_bytes = total - prefix,
                                           .alignment = alignment,
                                           .magic = CLUSTER_HEAP_MAGIC};
    if (header->capacity_bytes >= CLUSTER_HEAP_CACHED_BYTES_MIN) {
        cluster_heap_populate(header + 1, header->capacity_bytes);
    }
    return header + 1;
}

static void cluster_heap_release(void *pointer) {
    if (pointer == NULL) return;
    if (pointer == atomic_load_explicit(&cluster_heap_guard.pointer, memory_order_relaxed)) {
        cluster_heap_guard.frees++; /* freed at the guard's end, once */
        return;
    }
    struct cluster_heap_header *header = cluster_heap_header_of(pointer);
    ASSERT(header->base != NULL);
    if (header->capacity_bytes >= CLUSTER_HEAP_CACHED_BYTES_MIN) {
        pthread_mutex_lock(&cluster_heap.mutex);
        bool kept = cluster_heap.count < CLUSTER_HEAP_CACHE_BLOCKS &&
                    cluster_heap.cached_bytes + header->capacity_bytes <=
                        CLUSTER_HEAP_CACHE_BYTES_MAX;
        if (kept) {
            cluster_heap.blocks[cluster_heap.count++] = header;
            cluster_heap.cached_bytes += header->capacity_bytes;
        }
        pthread_mutex_unlock(&cluster_heap.mutex);
        if (kept) return;
    }
    free(header->base);
}

static void *cluster_heap_malloc(void *data, size_t size) {
    (void)data;
    ASSERT(size < ((u64)1 << 48));
    void *pointer = cluster_heap_allocate(size, 16);
    ASSERT(pointer == NULL || ((uintptr_t)pointer & 15) == 0);
    return pointer;
}

static void cluster_heap_free(void *data, void *pointer) {
    (void)data;
    ASSERT(pointer == NULL || ((uintptr_t)pointer & 15) == 0);
    cluster_heap_release(pointer);
}

static void *cluster_heap_calloc(void *data, size_t count, size_t size) {
    (void)data;
    ASSERT(size == 0 || count <= ((u64)1 << 48) / size);
    void *pointer = cluster_heap_allocate((u64)count * size, 16);
    if (pointer != NULL) memset(pointer, 0, (u64)count * size);
    ASSERT(pointer == NULL || ((uintptr_t)pointer & 15) == 0);
    return pointer;
}

static void *cluster_heap_realloc(void *data, void *pointer, size_t size) {
    (void)data;
    ASSERT(size < ((u64)1 << 48));
    if (pointer == NULL) return cluster_heap_allocate(size, 16);
    const struct cluster_heap_header *header = cluster_heap_header_of(pointer);
    if (size <= header->capacity_bytes) return pointer;
    void *moved = cluster_heap_allocate(size, header->alignment);
    if (moved == NULL) return NULL; /* the old block stays the caller's */
    memcpy(moved, pointer, header->capacity_bytes);
    cluster_heap_release(pointer);
    return moved;
}

static void *cluster_heap_aligned_alloc(void *data, size_t alignment, size_t size) {
    (void)data;
    ASSERT(alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= (1u << 20));
    void *pointer = cluster_heap_allocate(size, alignment < 16 ? 16 : (u32)alignment);
    ASSERT(pointer == NULL || ((uintptr_t)pointer & (alignment - 1)) == 0);
    return pointer;
}

static void cluster_heap_aligned_free(void *data, size_t alignment, void *pointer) {
    (void)data;
    ASSERT(pointer == NULL || ((uintptr_t)pointer & (alignment - 1)) == 0);
    cluster_heap_release(pointer);
}

static struct raft_heap cluster_heap_raft = {.malloc = cluster_heap_malloc,
                                             .free = cluster_heap_free,
                                             .calloc = cluster_heap_calloc,
                                             .realloc = cluster_heap_realloc,
                                             .aligned_alloc = cluster_heap_aligned_alloc,
                                             .aligned_free = cluster_heap_aligned_free};

void cluster_heap_install(void) {
    ASSERT(cluster_heap_raft.malloc != NULL);
    if (cluster_heap.installed) return;
    cluster_heap.installed = true;
    raft_heap_set(&cluster_heap_raft);
    ASSERT(raft_heap_get() == &cluster_heap_raft);
}

void cluster_heap_uninstall(void) {
    ASSERT(cluster_heap.installed);
    raft_heap_set_default();
    pthread_mutex_lock(&cluster_heap.mutex);
    for (u32 index = 0; index < cluster_heap.count; index++) free(cluster_heap.blocks[index]->base);
    cluster_heap.count = 0;
    cluster_heap.cached_bytes = 0;
    cluster_heap.reused = 0;
    pthread_mutex_unlock(&cluster_heap.mutex);
    cluster_heap.installed = false;
    ASSERT(raft_heap_get() != &cluster_heap_raft);
}

bool cluster_heap_guard_begin(void *pointer) {
    ASSERT(pointer != NULL);
    ASSERT(atomic_load(&cluster_heap_guard.pointer) == NULL && cluster_heap_guard.frees == 0);
    if (!cluster_heap.installed) return false;
    cluster_heap_header_of(pointer); /* asserts it is this heap's */
    atomic_store(&cluster_heap_guard.pointer, pointer);
    return true;
}

u32 cluster_heap_guard_end(void) {
    void *pointer = atomic_exchange(&cluster_heap_guard.pointer, NULL);
    ASSERT(pointer != NULL);
    u32 frees = cluster_heap_guard.frees;
    cluster_heap_guard.frees = 0;
    if (frees > 0) cluster_heap_release(pointer);
    ASSERT(atomic_load(&cluster_heap_guard.pointer) == NULL);
    return frees;
}

struct cluster_heap_stats cluster_heap_stats(void) {
    pthread_mutex_lock(&cluster_heap.mutex);
    struct cluster_heap_stats stats = {.cached_blocks = cluster_heap.count,
                                       .cached_bytes = cluster_heap.cached_bytes,
                                       .reused_blocks = cluster_heap.reused};
    pthread_mutex_unlock(&cluster_heap.mutex);
    ASSERT(stats.cached_blocks <= CLUSTER_HEAP_CACHE_BLOCKS);
    ASSERT(stats.cached_bytes <= CLUSTER_HEAP_CACHE_BYTES_MAX);
    return stats;
}
