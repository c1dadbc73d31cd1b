/*
 * test_cluster_heap.c: raft's heap in a replica process (cluster_heap.c): a large block freed
 * is given out again with its pages still mapped, a new large block's pages are resident
 * before anything writes them, alignment is kept, calloc zeroes a reused block, realloc keeps
 * the contents, small blocks are not kept, a small request never takes a much larger block,
 * the cache stays within its bounds, new large blocks are carved in order from chunks at huge
 * page boundaries advised onto huge pages, a chunk is unmapped with its last block but for those
 * a reservation keeps as spares, which serve the next chunks, a reservation is bounded and fails cleanly past the address space, a cached block freed
 * twice is counted, held once and its second free's frames kept in raft's trace, under
 * AddressSanitizer a chunk's bytes outside live blocks are poisoned, and a block raft frees
 * twice while guarded is freed once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "sanitizer.h"
#ifdef TEST_SANITIZED
#include <sanitizer/asan_interface.h>
#endif

enum { test_page_bytes = 4096 };

static int test_setup(void **state) {
    (void)state;
    cluster_heap_install();
    return 0;
}

static int test_teardown(void **state) {
    (void)state;
    cluster_heap_uninstall();
    return 0;
}

/* Whether every whole page inside [memory, memory + bytes) is resident. */
static bool test_resident(void *memory, u64 bytes) {
    uintptr_t start = ((uintptr_t)memory + test_page_bytes - 1) & ~(uintptr_t)(test_page_bytes - 1);
    uintptr_t end = ((uintptr_t)memory + bytes) & ~(uintptr_t)(test_page_bytes - 1);
    unsigned char pages[1024];
    u64 count = (end - start) / test_page_bytes;
    assert_true(count > 0 && count <= sizeof(pages));
    assert_int_equal(mincore((void *)start, end - start, pages), 0);
    for (u64 index = 0; index < count; index++) {
        if ((pages[index] & 1) == 0) return false;
    }
    return true;
}

static void test_large_block_reused_and_resident(void **state) {
    (void)state;
    u64 bytes = 3u << 20;
    u8 *block = raft_malloc(bytes);
    assert_non_null(block);
    assert_int_equal((uintptr_t)block & 15, 0);
    assert_true(test_resident(block, bytes)); /* mapped before raft's copy writes it */
    memset(block, 0xab, bytes);
    raft_free(block);
    assert_int_equal(cluster_heap_stats().cached_blocks, 1);
    u8 *again = raft_malloc(bytes - 1000);
    assert_ptr_equal(again, block);
    assert_int_equal(cluster_heap_stats().reused_blocks, 1);
    assert_int_equal(cluster_heap_stats().cached_blocks, 0);
    raft_free(again);
}

static void test_alignment_and_calloc(void **state) {
    (void)state;
    u8 *aligned = raft_aligned_alloc(4096, 200u << 10);
    assert_non_null(aligned);
    assert_int_equal((uintptr_t)aligned & 4095, 0);
    memset(aligned, 0xcd, 200u << 10);
    raft_aligned_free(4096, aligned);
    u8 *zeroed = raft_calloc(1, 190u << 10);
    assert_ptr_equal(zeroed, aligned); /* an aligned block serves a plain request */
    for (u64 offset = 0; offset < (190u << 10); offset++) assert_int_equal(zeroed[offset], 0);
    raft_free(zeroed);
    u8 *again = raft_aligned_alloc(512, 150u << 10);
    assert_ptr_equal(again, aligned);
    raft_aligned_free(512, again);
}

static void test_realloc_keeps_contents(void **state) {
    (void)state;
    u8 *block = raft_malloc(100);
    assert_non_null(block);
    for (u32 index = 0; index < 100; index++) block[index] = (u8)index;
    u8 *grown = raft_realloc(block, 1u << 20);
    assert_non_null(grown);
    for (u32 index = 0; index < 100; index++) assert_int_equal(grown[index], (u8)index);
    assert_ptr_equal(raft_realloc(grown, 1000), grown); /* shrinking keeps the block */
    raft_free(grown);
    u8 *fresh = raft_realloc(NULL, 64);
    assert_non_null(fresh);
    raft_free(fresh);
    raft_free(NULL);
}

static void test_small_not_kept_large_not_taken_by_small(void **state) {
    (void)state;
    u32 before = cluster_heap_stats().cached_blocks;
    raft_free(raft_malloc(1000));
    assert_int_equal(cluster_heap_stats().cached_blocks, before);
    u8 *large = raft_malloc(4u << 20);
    raft_free(large);
    u8 *small = raft_malloc(1u << 20);
    assert_ptr_not_equal(small, large); /* at most twice the size asked */
    u8 *fits = raft_malloc(3u << 20);
    assert_ptr_equal(fits, large);
    raft_free(small);
    raft_free(fits);
}

static void test_cache_bounded(void **state) {
    (void)state;
    enum { count = CLUSTER_HEAP_CACHE_BLOCKS + 4 };
    void *blocks[count];
    for (u32 index = 0; index < count; index++) {
        blocks[index] = raft_malloc((1u << 20) + index * 4096);
        assert_non_null(blocks[index]);
    }
    for (u32 index = 0; index < count; index++) raft_free(blocks[index]);
    assert_int_equal(cluster_heap_stats().cached_blocks, CLUSTER_HEAP_CACHE_BLOCKS);
    void *huge[4];
    for (u32 index = 0; index < 4; index++) huge[index] = raft_malloc(20u << 20);
    for (u32 index = 0; index < 4; index++) raft_free(huge[index]);
    assert_true(cluster_heap_stats().cached_bytes <= CLUSTER_HEAP_CACHE_BYTES_MAX);
}

/* A guarded block that raft frees twice is freed once, at the guard's end (one block in the
 * cache, not two, and it serves one request at a time); one not freed meanwhile stays the
 * caller's. */
static void test_guard_frees_once(void **state) {
    (void)state;
    u8 *block = raft_malloc(1u << 20);
    assert_non_null(block);
    assert_true(cluster_heap_guard_begin(block));
    raft_free(block);
    raft_free(block);
    assert_int_equal(cluster_heap_stats().cached_blocks, 0); /* put off */
    assert_int_equal(cluster_heap_guard_end(), 2);
    assert_int_equal(cluster_heap_stats().cached_blocks, 1);
    u8 *again = raft_malloc(1u << 20);
    assert_ptr_equal(again, block);
    assert_int_equal(cluster_heap_stats().cached_blocks, 0);
    assert_true(cluster_heap_guard_begin(again));
    assert_int_equal(cluster_heap_guard_end(), 0);
    memset(again, 1, 1u << 20); /* still the caller's */
    assert_true(cluster_heap_guard_begin(again));
    raft_free(again);
    assert_int_equal(cluster_heap_guard_end(), 1);
    assert_int_equal(cluster_heap_stats().cached_blocks, 1);
}

/* Whether the mapping holding `address` is advised onto huge pages (VmFlags "hg" in smaps). */
static bool test_huge_page_advised(const void *address) {
    FILE *smaps = fopen("/proc/self/smaps", "r");
    assert_non_null(smaps);
    char line[512];
    bool inside = false;
    bool advised = false;
    while (fgets(line, sizeof(line), smaps) != NULL) {
        unsigned long start = 0;
        unsigned long end = 0;
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = (uintptr_t)address >= start && (uintptr_t)address < end;
        } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            advised = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(smaps);
    return advised;
}

static void test_blocks_carved_from_huge_page_chunks(void **state) {
    (void)state;
    assert_int_equal(cluster_heap_stats().chunks, 0);
    u8 *first = raft_malloc(1u << 20);
    u8 *second = raft_malloc(1u << 20);
    assert_non_null(first);
    assert_non_null(second);
    assert_int_equal(cluster_heap_stats().chunks, 1);
    assert_true(second > first && second - first < (1u << 20) + 4096); /* carved in order */
    assert_int_equal((uintptr_t)first & ((2u << 20) - 1), 96); /* the chunk's and its header */
    assert_true(test_huge_page_advised(first));
    assert_true(test_resident(second, 1u << 20));
    raft_free(first);
    raft_free(second);
    assert_int_equal(cluster_heap_stats().chunks, 1); /* both cached */
}

static void test_chunk_unmapped_with_its_last_block(void **state) {
    (void)state;
    enum { count = 4 };
    void *blocks[count];
    for (u32 index = 0; index < count; index++) {
        blocks[index] = raft_malloc(20u << 20); /* over half a chunk: a chunk of its own */
        assert_non_null(blocks[index]);
    }
    assert_int_equal(cluster_heap_stats().chunks, count);
    for (u32 index = 0; index < count; index++) raft_free(blocks[index]);
    assert_int_equal(cluster_heap_stats().cached_blocks, 3); /* 60 of the 64 MiB cached */
    assert_int_equal(cluster_heap_stats().chunks, 3);
    cluster_heap_uninstall();
    assert_int_equal(cluster_heap_stats().chunks, 0);
    cluster_heap_install(); /* for the teardown */
}

/* A reservation maps its chunks resident at once; a chunk whose last block is freed is kept as a
 * spare and serves the next chunk rather than a new mapping. The cache is first filled to its
 * byte bound (three blocks of 21 MiB, chunks of their own), so that freed blocks go back to
 * their chunks. */
static void test_reserved_chunks_kept_and_reused(void **state) {
    (void)state;
    assert_int_equal(cluster_heap_reserve(2 * (u64)CLUSTER_HEAP_CHUNK_BYTES - 1), KHORGOS_ERROR_ok);
    assert_int_equal(cluster_heap_stats().chunks, 2);
    assert_int_equal(cluster_heap_stats().spare_chunks, 2);
    void *large[3];
    for (u32 index = 0; index < 3; index++) large[index] = raft_malloc(21u << 20);
    for (u32 index = 0; index < 3; index++) raft_free(large[index]);
    assert_int_equal(cluster_heap_stats().cached_bytes, 63u << 20);
    assert_int_equal(cluster_heap_stats().chunks, 5);
    u64 block_bytes = 3u << 20; /* two to a chunk */
    u8 *first = raft_malloc(block_bytes);
    u8 *second = raft_malloc(block_bytes);
    u8 *third = raft_malloc(block_bytes); /* the second spare chunk */
    assert_true(first != NULL && second != NULL && third != NULL);
    assert_true(test_resident(first, block_bytes)); /* made resident by the reservation */
    assert_int_equal(cluster_heap_stats().spare_chunks, 0);
    raft_free(first);
    raft_free(second); /* the first chunk's last block: kept, as the cache is full */
    assert_int_equal(cluster_heap_stats().cached_blocks, 3);
    assert_int_equal(cluster_heap_stats().spare_chunks, 1);
    assert_int_equal(cluster_heap_stats().chunks, 5);
    u8 *fourth = raft_malloc(block_bytes);
    u8 *fifth = raft_malloc(block_bytes); /* the spare again, not a new mapping */
    assert_ptr_equal(fifth, first);
    assert_int_equal(cluster_heap_stats().chunks, 5);
    assert_int_equal(cluster_heap_stats().spare_chunks, 0);
    raft_free(third);
    raft_free(fourth);
    raft_free(fifth);
    cluster_heap_uninstall(); /* spare chunks are unmapped too */
    assert_int_equal(cluster_heap_stats().chunks, 0);
    assert_int_equal(cluster_heap_stats().spare_chunks, 0);
    cluster_heap_install(); /* for the teardown */
}

/* raft freeing a cached block a second time is counted and ignored: the cache holds it once, so
 * it is given out once, and its chunk is not given back while the cache holds it. */
static void test_cached_block_freed_twice_is_counted(void **state) {
    (void)state;
    static struct raft raft; /* only for the tracer's install: its lines are kept from now */
    cluster_trace_install(&raft, NULL);
    cluster_trace_reset();
    u8 *block = raft_malloc(1u << 20);
    assert_non_null(block);
    raft_free(block);
    assert_int_equal(cluster_heap_stats().cached_blocks, 1);
    raft_free(block);
    assert_int_equal(cluster_heap_stats().double_frees, 1);
    static char lines[CLUSTER_TRACE_LINES][CLUSTER_TRACE_LINE_BYTES];
    u32 count = cluster_trace_copy(lines, CLUSTER_TRACE_LINES);
    assert_true(count >= 2); /* the note, then the second free's frames, this test's among them */
    assert_non_null(strstr(lines[0], "heap: a cached block of 1048576 bytes freed again"));
    bool ours = false;
    for (u32 line = 1; line < count; line++) ours |= strstr(lines[line], "test_cluster_heap+0x") != NULL;
    assert_true(ours);
    assert_int_equal(cluster_heap_stats().cached_blocks, 1);
    u8 *again = raft_malloc(1u << 20);
    u8 *other = raft_malloc(1u << 20);
    assert_ptr_equal(again, block);
    assert_true(other != block);
    assert_int_equal(cluster_heap_stats().cached_blocks, 0);
    raft_free(again);
    raft_free(other);
    assert_int_equal(cluster_heap_stats().double_frees, 1);
    cluster_heap_uninstall();
    assert_int_equal(cluster_heap_stats().double_frees, 0);
    cluster_heap_install(); /* for the teardown */
}

/* A reservation is bounded: no more than CLUSTER_HEAP_SPARE_CHUNKS_MAX chunks, whatever it asks. */
static void test_reservation_bounded(void **state) {
    (void)state;
    assert_int_equal(cluster_heap_reserve((u64)1 << 40), KHORGOS_ERROR_ok);
    assert_int_equal(cluster_heap_stats().spare_chunks, CLUSTER_HEAP_SPARE_CHUNKS_MAX);
    assert_int_equal(cluster_heap_stats().chunks, CLUSTER_HEAP_SPARE_CHUNKS_MAX);
    assert_int_equal(cluster_heap_reserve(1), KHORGOS_ERROR_ok); /* has them already */
    assert_int_equal(cluster_heap_stats().chunks, CLUSTER_HEAP_SPARE_CHUNKS_MAX);
}

/* A reservation the address space cannot hold fails with out_of_memory and keeps the chunks
 * it could map (a child process under RLIMIT_AS of its size now and 40 MiB more). */
static void test_reservation_out_of_memory(void **state) {
    (void)state;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        FILE *statm = fopen("/proc/self/statm", "r");
        unsigned long pages = 0;
        if (statm == NULL || fscanf(statm, "%lu", &pages) != 1) _exit(10);
        fclose(statm);
        rlim_t limit = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (40u << 20);
        struct rlimit rlimit = {.rlim_cur = limit, .rlim_max = limit};
        if (setrlimit(RLIMIT_AS, &rlimit) != 0) _exit(11);
        if (cluster_heap_reserve(256u << 20) != KHORGOS_ERROR_out_of_memory) _exit(12);
        u32 spare = cluster_heap_stats().spare_chunks;
        _exit(spare >= 1 && spare < 5 ? 0 : 13); /* a chunk maps 10 MiB: 8 and its slack */
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Whether AddressSanitizer would report an access to `address` (false in a plain build). */
static bool test_poisoned(const void *address) {
#ifdef TEST_SANITIZED
    return __asan_address_is_poisoned(address) != 0;
#else
    (void)address;
    return false;
#endif
}

static void test_free_and_unused_bytes_poisoned(void **state) {
    (void)state;
    u8 *block = raft_malloc(1u << 20);
    assert_non_null(block);
    bool sanitized = test_poisoned(block + (2u << 20)); /* past it, in its chunk: not carved */
    assert_false(test_poisoned(block));
    assert_false(test_poisoned(block + (1u << 20) - 1));
    raft_free(block); /* cached */
    assert_true(test_poisoned(block) == sanitized);
    u8 *again = raft_malloc(1u << 20);
    assert_ptr_equal(again, block);
    assert_false(test_poisoned(again));
    raft_free(again);
#ifdef TEST_SANITIZED
    assert_true(sanitized);
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_large_block_reused_and_resident, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_alignment_and_calloc, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_realloc_keeps_contents, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_small_not_kept_large_not_taken_by_small, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_cache_bounded, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_guard_frees_once, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_blocks_carved_from_huge_page_chunks, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_chunk_unmapped_with_its_last_block, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_reserved_chunks_kept_and_reused, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_reservation_bounded, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_cached_block_freed_twice_is_counted, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_reservation_out_of_memory, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_free_and_unused_bytes_poisoned, test_setup,
                                        test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
