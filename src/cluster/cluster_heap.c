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
 * A large block the cache cannot serve is carved from a chunk: CLUSTER_HEAP_CHUNK_BYTES mapped at a
 * 2 MiB boundary and advised onto huge pages, its blocks taken from it in order, each made resident
 * in one call as it is carved. raft keeps every entry it copies until log compaction, so in a
 * replica under load nearly every entry's copy is such a new block. Its pages written for the first
 * time cost a fault each, or where the kernel made them resident beforehand, on some virtual
 * machines (shadow page tables), a trap to the hypervisor each: about 7-15 us per 4 KiB page
 * measured here, a copy of a 650 KB entry taking 1.1-2.4 ms instead of 0.05-0.1 ms into pages
 * written before. On huge pages that is one per 2 MiB (the copy took 0.07-0.5 ms); the kernel's
 * zeroing of a new huge page remains, and varies with the machine's memory. A chunk is unmapped
 * when the last of its blocks is freed (the current one is started over instead), so raft's freed
 * log gives its memory back, but for the chunks a replica reserves at start
 * (cluster_heap_reserve: its log's bytes before compaction), which stay mapped and resident as
 * spares and serve the next chunks, so that a replica's steady state zeroes no new page; a
 * block larger than half a chunk gets a chunk of its own, rounded up to 2 MiB.
 *
 * Every block has a header in front of it: the address the C library gave (or its chunk), the
 * block's usable capacity and its alignment, so that free, realloc and aligned_free know what
 * they hold.
 * Blocks of any alignment share one cache: a request takes the smallest cached block that is
 * large enough, aligned at least as asked, and at most twice the size asked, so a small
 * request never pins a large block. raft allocates from the loop's thread and from libuv's
 * worker threads (snapshots), so the cache is behind a mutex.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cluster/cluster.h"

/* Under AddressSanitizer a chunk's bytes outside live blocks are poisoned, as the C library's
 * would be, so that raft reading or writing past a block, or a block after its free, is still
 * caught. */
#if defined(__SANITIZE_ADDRESS__)
#define CLUSTER_HEAP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLUSTER_HEAP_SANITIZED 1
#endif
#endif
#ifdef CLUSTER_HEAP_SANITIZED
#include <sanitizer/asan_interface.h>
#define CLUSTER_HEAP_POISON(memory, bytes) ASAN_POISON_MEMORY_REGION(memory, bytes)
#define CLUSTER_HEAP_UNPOISON(memory, bytes) ASAN_UNPOISON_MEMORY_REGION(memory, bytes)
#else
#define CLUSTER_HEAP_POISON(memory, bytes) ((void)(memory), (void)(bytes))
#define CLUSTER_HEAP_UNPOISON(memory, bytes) ((void)(memory), (void)(bytes))
#endif

#define CLUSTER_HEAP_MAGIC 0x5048484bu /* "KHHP" */
/* A cached block's header holds this instead, so that raft freeing it a second time is seen
 * (cluster_heap_release) rather than caching it twice, or giving its chunk back while the cache
 * still holds it, whose next look at it would read unmapped memory. */
#define CLUSTER_HEAP_MAGIC_CACHED 0x4348484bu /* "KHHC" */
/* Frames of the second free's call stack written to raft's trace: raft's own frames are the
 * innermost few, and the trace keeps 128 lines. */
#define CLUSTER_HEAP_FRAMES_MAX 12
/* The header's bytes: a multiple of 16, so a plain block stays 16-byte aligned. */
#define CLUSTER_HEAP_HEADER_BYTES 32u
/* Large blocks are rounded up to this, so a block freed can serve a slightly larger request. */
#define CLUSTER_HEAP_ROUND_BYTES (64u << 10)

/* Huge pages' size on x86-64 and arm64 (4 KiB granule): chunks are mapped in its multiples. */
#define CLUSTER_HEAP_HUGE_PAGE_BYTES (2u << 20)
/* A chunk's own header, in front of its first block; keeps blocks 64-byte aligned. */
#define CLUSTER_HEAP_CHUNK_HEADER_BYTES 64u

struct cluster_heap_chunk {
    u64 length_bytes; /* mapped, from the chunk's own address */
    u64 used_bytes;   /* carved so far, from the chunk's own address */
    u64 live_blocks;  /* carved and not yet freed (cached ones count) */
    u32 magic;
    u32 zero;
};

struct cluster_heap_header {
    void *base; /* what the C library gave; NULL for a block carved from a chunk */
    u64 capacity_bytes;
    u32 alignment; /* 16 for a plain block */
    u32 magic;
    struct cluster_heap_chunk *chunk; /* the chunk it was carved from, or NULL */
};

static struct {
    pthread_mutex_t mutex;
    struct cluster_heap_header *blocks[CLUSTER_HEAP_CACHE_BLOCKS];
    u32 count;
    u64 cached_bytes;
    u64 reused;
    struct cluster_heap_chunk *current; /* the chunk new blocks are carved from */
    u32 chunks; /* mapped, spare ones included */
    /* Chunks of CLUSTER_HEAP_CHUNK_BYTES with no block, kept mapped and resident for the next
     * chunk: those reserved at start, and those whose last block was freed, up to spare_limit
     * (the reservation's count). */
    struct cluster_heap_chunk *spare[CLUSTER_HEAP_SPARE_CHUNKS_MAX];
    u32 spare_count;
    u32 spare_limit;
    u64 double_frees; /* frees of a block already in the cache, each ignored */
    /* Blocks kept past raft's frees (cluster_heap_keep_begin), and their frees so far. */
    void *keeps[CLUSTER_HEAP_KEEPS_MAX];
    u32 keep_frees[CLUSTER_HEAP_KEEPS_MAX];
    u32 keep_count;
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
        ASSERT(taken->magic == CLUSTER_HEAP_MAGIC_CACHED);
        taken->magic = CLUSTER_HEAP_MAGIC;
    }
    pthread_mutex_unlock(&cluster_heap.mutex);
    ASSERT(taken == NULL || taken->magic == CLUSTER_HEAP_MAGIC);
    if (taken != NULL) CLUSTER_HEAP_UNPOISON(taken + 1, taken->capacity_bytes);
    return taken;
}

/* Maps a chunk of `length_bytes` (a multiple of CLUSTER_HEAP_HUGE_PAGE_BYTES) at a huge page
 * boundary, on huge pages where the kernel gives them, resident; NULL when out of memory. */
static struct cluster_heap_chunk *cluster_heap_chunk_map_new(u64 length_bytes) {
    ASSERT(length_bytes > 0 && length_bytes % CLUSTER_HEAP_HUGE_PAGE_BYTES == 0);
    ASSERT(cluster_heap.chunks < UINT32_MAX);
    u64 slack = CLUSTER_HEAP_HUGE_PAGE_BYTES;
    u8 *mapped = mmap(NULL, length_bytes + slack, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) return NULL;
    u8 *base = (u8 *)(((uintptr_t)mapped + slack - 1) & ~(uintptr_t)(slack - 1));
    if (base > mapped) (void)munmap(mapped, (size_t)(base - mapped));
    (void)munmap(base + length_bytes, (size_t)(mapped + slack - base));
    base_memory_huge_pages(base, length_bytes); /* its pages are made resident as it is carved */
    struct cluster_heap_chunk *chunk = (struct cluster_heap_chunk *)(void *)base;
    *chunk = (struct cluster_heap_chunk){.length_bytes = length_bytes,
                                         .used_bytes = CLUSTER_HEAP_CHUNK_HEADER_BYTES,
                                         .magic = CLUSTER_HEAP_MAGIC};
    cluster_heap.chunks++;
    ASSERT(sizeof(struct cluster_heap_chunk) <= CLUSTER_HEAP_CHUNK_HEADER_BYTES);
    CLUSTER_HEAP_POISON(base + CLUSTER_HEAP_CHUNK_HEADER_BYTES,
                        length_bytes - CLUSTER_HEAP_CHUNK_HEADER_BYTES);
    return chunk;
}

/* A spare chunk when it serves (cluster_heap_reserve), else a new one. */
static struct cluster_heap_chunk *cluster_heap_chunk_map(u64 length_bytes) {
    ASSERT(length_bytes > 0 && length_bytes % CLUSTER_HEAP_HUGE_PAGE_BYTES == 0);
    ASSERT(cluster_heap.spare_count <= cluster_heap.spare_limit);
    if (length_bytes != CLUSTER_HEAP_CHUNK_BYTES || cluster_heap.spare_count == 0) {
        return cluster_heap_chunk_map_new(length_bytes);
    }
    struct cluster_heap_chunk *spare = cluster_heap.spare[--cluster_heap.spare_count];
    ASSERT(spare->magic == CLUSTER_HEAP_MAGIC && spare->live_blocks == 0);
    spare->used_bytes = CLUSTER_HEAP_CHUNK_HEADER_BYTES;
    return spare; /* resident already: its pages are not zeroed again */
}

/* A chunk whose last block was freed: kept as a spare while fewer than the reservation are,
 * unmapped otherwise (or always, with `keep` false). */
static void cluster_heap_chunk_unmap(struct cluster_heap_chunk *chunk, bool keep) {
    ASSERT(chunk != NULL && chunk->magic == CLUSTER_HEAP_MAGIC && chunk->live_blocks == 0);
    ASSERT(cluster_heap.chunks > 0);
    if (keep && chunk->length_bytes == CLUSTER_HEAP_CHUNK_BYTES &&
        cluster_heap.spare_count < cluster_heap.spare_limit) {
        cluster_heap.spare[cluster_heap.spare_count++] = chunk;
        return; /* its blocks' bytes are poisoned already (cluster_heap_chunk_release) */
    }
    cluster_heap.chunks--;
    u64 length_bytes = chunk->length_bytes;
    CLUSTER_HEAP_UNPOISON(chunk, length_bytes); /* memory mapped there later starts clean */
    (void)munmap(chunk, length_bytes);
}

/* Carves a block of `capacity_bytes` aligned at `alignment` from `chunk`, or NULL when it does
 * not fit. */
static struct cluster_heap_header *cluster_heap_carve(struct cluster_heap_chunk *chunk,
                                                      u64 capacity_bytes, u32 alignment) {
    ASSERT(chunk != NULL && chunk->magic == CLUSTER_HEAP_MAGIC);
    ASSERT(alignment >= 16 && (alignment & (alignment - 1)) == 0);
    uintptr_t start = (uintptr_t)chunk + chunk->used_bytes + CLUSTER_HEAP_HEADER_BYTES;
    uintptr_t usable = (start + alignment - 1) & ~(uintptr_t)(alignment - 1);
    u64 end_bytes = (u64)(usable - (uintptr_t)chunk) + capacity_bytes;
    if (end_bytes > chunk->length_bytes) return NULL;
    end_bytes = (end_bytes + 63) & ~(u64)63; /* the next block's header stays aligned */
    chunk->used_bytes = MIN(end_bytes, chunk->length_bytes);
    chunk->live_blocks++;
    struct cluster_heap_header *header =
        (struct cluster_heap_header *)(usable - CLUSTER_HEAP_HEADER_BYTES);
    CLUSTER_HEAP_UNPOISON(header, CLUSTER_HEAP_HEADER_BYTES + capacity_bytes);
    /* Resident in one call rather than one fault per page; a chunk's tail never carved is never
     * zeroed by the kernel. */
    base_memory_prefault(header, CLUSTER_HEAP_HEADER_BYTES + capacity_bytes);
    *header = (struct cluster_heap_header){.capacity_bytes = capacity_bytes,
                                           .alignment = alignment,
                                           .magic = CLUSTER_HEAP_MAGIC,
                                           .chunk = chunk};
    return header;
}

/* A new large block from the current chunk, or from a new one (the old one is unmapped once its
 * last block is freed), or from a chunk of its own when it is larger than half a chunk. */
static struct cluster_heap_header *cluster_heap_chunk_block(u64 capacity_bytes, u32 alignment) {
    ASSERT(capacity_bytes >= CLUSTER_HEAP_CACHED_BYTES_MIN);
    ASSERT(alignment >= 16 && alignment <= (1u << 20));
    u64 whole = CLUSTER_HEAP_CHUNK_HEADER_BYTES + CLUSTER_HEAP_HEADER_BYTES + alignment +
                capacity_bytes;
    pthread_mutex_lock(&cluster_heap.mutex);
    struct cluster_heap_header *header = NULL;
    if (whole > CLUSTER_HEAP_CHUNK_BYTES / 2) {
        u64 huge = CLUSTER_HEAP_HUGE_PAGE_BYTES;
        struct cluster_heap_chunk *own = cluster_heap_chunk_map((whole + huge - 1) & ~(huge - 1));
        if (own != NULL) header = cluster_heap_carve(own, capacity_bytes, alignment);
    } else {
        struct cluster_heap_chunk *current = cluster_heap.current;
        if (current != NULL) header = cluster_heap_carve(current, capacity_bytes, alignment);
        if (header == NULL) {
            if (current != NULL && current->live_blocks == 0) {
                cluster_heap_chunk_unmap(current, true);
            }
            cluster_heap.current = cluster_heap_chunk_map(CLUSTER_HEAP_CHUNK_BYTES);
            if (cluster_heap.current != NULL) {
                header = cluster_heap_carve(cluster_heap.current, capacity_bytes, alignment);
            }
        }
    }
    pthread_mutex_unlock(&cluster_heap.mutex);
    ASSERT(header == NULL || header->chunk != NULL);
    return header;
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
        block = cluster_heap_chunk_block((size_bytes + round - 1) & ~(round - 1), alignment);
        return block != NULL ? block + 1 : NULL;
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
    return header + 1;
}

/* Gives a chunk's block back to its chunk, under the mutex: the chunk is unmapped with its last
 * block, or started over when it is the current one. */
static void cluster_heap_chunk_release(struct cluster_heap_header *header) {
    struct cluster_heap_chunk *chunk = header->chunk;
    ASSERT(chunk != NULL && chunk->magic == CLUSTER_HEAP_MAGIC);
    ASSERT(chunk->live_blocks > 0);
    header->magic = 0;
    CLUSTER_HEAP_POISON(header, CLUSTER_HEAP_HEADER_BYTES + header->capacity_bytes);
    chunk->live_blocks--;
    if (chunk->live_blocks > 0) return;
    if (chunk == cluster_heap.current) {
        chunk->used_bytes = CLUSTER_HEAP_CHUNK_HEADER_BYTES;
    } else {
        cluster_heap_chunk_unmap(chunk, true);
    }
}

/* Says in raft's trace that a cached block was freed again, and where from: each frame as its
 * object and offset (`libraft.so.0+0x1d5c0`), which addr2line resolves against that object. */
static void cluster_heap_double_free_note(const struct cluster_heap_header *header) {
    ASSERT(header != NULL && header->magic == CLUSTER_HEAP_MAGIC_CACHED);
    cluster_trace_note("heap: a cached block of %llu bytes freed again; ignored; from:",
                       (unsigned long long)header->capacity_bytes);
    void *frames[CLUSTER_HEAP_FRAMES_MAX];
    int count = backtrace(frames, CLUSTER_HEAP_FRAMES_MAX);
    ASSERT(count >= 0 && count <= CLUSTER_HEAP_FRAMES_MAX);
    for (int frame = 1; frame < count; frame++) { /* 0 is this function */
        Dl_info info;
        if (dladdr(frames[frame], &info) != 0 && info.dli_fname != NULL) {
            const char *name = strrchr(info.dli_fname, '/');
            cluster_trace_note("heap:   %d %s+0x%llx", frame,
                               name != NULL ? name + 1 : info.dli_fname,
                               (unsigned long long)((uintptr_t)frames[frame] -
                                                    (uintptr_t)info.dli_fbase));
        } else {
            cluster_trace_note("heap:   %d %p", frame, frames[frame]);
        }
    }
}

static void cluster_heap_release(void *pointer) {
    if (pointer == NULL) return;
    if (pointer == atomic_load_explicit(&cluster_heap_guard.pointer, memory_order_relaxed)) {
        cluster_heap_guard.frees++; /* freed at the guard's end, once */
        return;
    }
    struct cluster_heap_header *header =
        (struct cluster_heap_header *)((u8 *)pointer - CLUSTER_HEAP_HEADER_BYTES);
    pthread_mutex_lock(&cluster_heap.mutex);
    for (u32 index = 0; index < cluster_heap.keep_count; index++) {
        if (cluster_heap.keeps[index] != pointer) continue;
        cluster_heap.keep_frees[index]++; /* put off to cluster_heap_keep_end */
        pthread_mutex_unlock(&cluster_heap.mutex);
        return;
    }
    bool twice = header->magic == CLUSTER_HEAP_MAGIC_CACHED;
    if (twice) cluster_heap.double_frees++;
    pthread_mutex_unlock(&cluster_heap.mutex);
    if (twice) {
        cluster_heap_double_free_note(header);
        return; /* the replica stops (cluster_heap_stats().double_frees) */
    }
    header = cluster_heap_header_of(pointer);
    ASSERT(header->base != NULL || header->chunk != NULL);
    if (header->chunk == NULL) {
        free(header->base);
        return;
    }
    pthread_mutex_lock(&cluster_heap.mutex);
    bool kept = cluster_heap.count < CLUSTER_HEAP_CACHE_BLOCKS &&
                cluster_heap.cached_bytes + header->capacity_bytes <= CLUSTER_HEAP_CACHE_BYTES_MAX;
    if (kept) {
        header->magic = CLUSTER_HEAP_MAGIC_CACHED;
        cluster_heap.blocks[cluster_heap.count++] = header;
        cluster_heap.cached_bytes += header->capacity_bytes;
        CLUSTER_HEAP_POISON(pointer, header->capacity_bytes); /* its header stays readable */
    } else {
        cluster_heap_chunk_release(header);
    }
    pthread_mutex_unlock(&cluster_heap.mutex);
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
    for (u32 index = 0; index < cluster_heap.count; index++) {
        cluster_heap_chunk_release(cluster_heap.blocks[index]);
    }
    struct cluster_heap_chunk *current = cluster_heap.current;
    cluster_heap.current = NULL;
    if (current != NULL && current->live_blocks == 0) cluster_heap_chunk_unmap(current, false);
    while (cluster_heap.spare_count > 0) {
        cluster_heap_chunk_unmap(cluster_heap.spare[--cluster_heap.spare_count], false);
    }
    cluster_heap.spare_limit = 0;
    cluster_heap.count = 0;
    cluster_heap.cached_bytes = 0;
    cluster_heap.reused = 0;
    cluster_heap.double_frees = 0;
    cluster_heap.keep_count = 0; /* raft closed: its writes have all called back */
    pthread_mutex_unlock(&cluster_heap.mutex);
    cluster_heap.installed = false;
    ASSERT(raft_heap_get() != &cluster_heap_raft);
}

khorgos_error cluster_heap_reserve(u64 bytes) {
    ASSERT(cluster_heap.installed);
    ASSERT(bytes > 0);
    u64 wanted = (bytes + CLUSTER_HEAP_CHUNK_BYTES - 1) / CLUSTER_HEAP_CHUNK_BYTES;
    u32 target = (u32)MIN(wanted, (u64)CLUSTER_HEAP_SPARE_CHUNKS_MAX);
    khorgos_error error = KHORGOS_ERROR_ok;
    pthread_mutex_lock(&cluster_heap.mutex);
    cluster_heap.spare_limit = MAX(cluster_heap.spare_limit, target);
    while (cluster_heap.spare_count < target) {
        struct cluster_heap_chunk *chunk = cluster_heap_chunk_map_new(CLUSTER_HEAP_CHUNK_BYTES);
        if (chunk == NULL) {
            error = KHORGOS_ERROR_out_of_memory;
            break;
        }
        /* Resident now, on huge pages where the kernel gives them: the page faults and the
         * kernel's zeroing are paid at start, not in a commit's path. */
        CLUSTER_HEAP_UNPOISON(chunk, CLUSTER_HEAP_CHUNK_BYTES);
        base_memory_prefault(chunk, CLUSTER_HEAP_CHUNK_BYTES);
        CLUSTER_HEAP_POISON((u8 *)chunk + CLUSTER_HEAP_CHUNK_HEADER_BYTES,
                            CLUSTER_HEAP_CHUNK_BYTES - CLUSTER_HEAP_CHUNK_HEADER_BYTES);
        cluster_heap.spare[cluster_heap.spare_count++] = chunk;
    }
    pthread_mutex_unlock(&cluster_heap.mutex);
    ASSERT(cluster_heap.spare_count <= CLUSTER_HEAP_SPARE_CHUNKS_MAX);
    return error;
}

bool cluster_heap_keep_begin(void *pointer) {
    ASSERT(pointer != NULL);
    if (!cluster_heap.installed) return false;
    const struct cluster_heap_header *header =
        (const struct cluster_heap_header *)((const u8 *)pointer - CLUSTER_HEAP_HEADER_BYTES);
    pthread_mutex_lock(&cluster_heap.mutex);
    /* A block raft freed already (cached) is not kept: its next free is seen as a double free. */
    bool kept = cluster_heap.keep_count < CLUSTER_HEAP_KEEPS_MAX &&
                header->magic == CLUSTER_HEAP_MAGIC;
    if (kept) {
        cluster_heap.keeps[cluster_heap.keep_count] = pointer;
        cluster_heap.keep_frees[cluster_heap.keep_count] = 0;
        cluster_heap.keep_count++;
    }
    pthread_mutex_unlock(&cluster_heap.mutex);
    return kept;
}

u32 cluster_heap_keep_end(void *pointer) {
    ASSERT(pointer != NULL);
    pthread_mutex_lock(&cluster_heap.mutex);
    u32 frees = 0;
    u32 index = 0;
    while (index < cluster_heap.keep_count && cluster_heap.keeps[index] != pointer) index++;
    ASSERT(index < cluster_heap.keep_count); /* kept by cluster_heap_keep_begin */
    frees = cluster_heap.keep_frees[index];
    cluster_heap.keep_count--;
    cluster_heap.keeps[index] = cluster_heap.keeps[cluster_heap.keep_count];
    cluster_heap.keep_frees[index] = cluster_heap.keep_frees[cluster_heap.keep_count];
    pthread_mutex_unlock(&cluster_heap.mutex);
    if (frees > 0) cluster_heap_release(pointer); /* once, now that nothing uses it */
    return frees;
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
                                       .reused_blocks = cluster_heap.reused,
                                       .chunks = cluster_heap.chunks,
                                       .spare_chunks = cluster_heap.spare_count,
                                       .double_frees = cluster_heap.double_frees};
    pthread_mutex_unlock(&cluster_heap.mutex);
    ASSERT(stats.cached_blocks <= CLUSTER_HEAP_CACHE_BLOCKS);
    ASSERT(stats.cached_bytes <= CLUSTER_HEAP_CACHE_BYTES_MAX);
    return stats;
}
