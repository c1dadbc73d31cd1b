/* test_base_id_map.c: base_id_map_fault_in makes every page of an empty map present when the
 * keys about to go in would touch most of them anyway, and leaves a map filled sparsely alone
 * (its memory taken only as keys arrive). base_memory_prefault, which both fault-in and
 * `--memory resident` use, makes every page resident keeping its contents, with one fault per
 * page never written rather than two (a read of the zero page, then the write that replaces
 * it). Residency is read with mincore(2), faults with getrusage(2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/base.h"
#include "memory_pages.h"

#define MAP_COUNT_MAX (1u << 16) /* 131,072 slots of 32 bytes: 4 MiB, 1,024 pages */

/* How many of the pages wholly inside the map's slots are resident. */
static u64 pages_resident(const struct base_id_map *map, u64 *pages) {
    u64 page_bytes = (u64)sysconf(_SC_PAGESIZE);
    u64 bytes = (map->slot_mask + 1) * sizeof(struct base_id_map_slot);
    uintptr_t start = ((uintptr_t)map->slots + page_bytes - 1) & ~(uintptr_t)(page_bytes - 1);
    uintptr_t end = ((uintptr_t)map->slots + bytes) & ~(uintptr_t)(page_bytes - 1);
    *pages = (end - start) / page_bytes;
    unsigned char *vector = calloc(*pages, 1);
    assert_non_null(vector);
    assert_int_equal(mincore((void *)start, end - start, vector), 0);
    u64 resident = 0;
    for (u64 page = 0; page < *pages; page++) resident += vector[page] & 1u;
    free(vector);
    return resident;
}

static void test_dense_fill_faults_every_page_in(void **state) {
    (void)state;
    struct base_id_map map;
    assert_int_equal(base_id_map_init(&map, MAP_COUNT_MAX), KHORGOS_ERROR_ok);
    u64 pages = 0;
    u64 count = BASE_ID_MAP_FAULT_IN_KEYS_PER_PAGE * 1024u;
    base_id_map_fault_in(&map, (u32)count);
    u64 resident = pages_resident(&map, &pages);
    assert_int_equal(resident, pages);
    assert_true(pages >= 1023);
    for (u64 key = 1; key <= count; key++) base_id_map_insert(&map, key, (u32)key);
    u32 value = 0;
    assert_true(base_id_map_get(&map, count, &value) && value == count);
    assert_false(base_id_map_get(&map, count + 1, &value));
    base_id_map_deinit(&map);
}

static void test_sparse_fill_left_alone(void **state) {
    (void)state;
    struct base_id_map map;
    assert_int_equal(base_id_map_init(&map, MAP_COUNT_MAX), KHORGOS_ERROR_ok);
    u64 pages = 0;
    base_id_map_fault_in(&map, 100);
    u64 resident = pages_resident(&map, &pages);
    assert_true(pages >= 1023 && resident < pages / 2);
    base_id_map_deinit(&map);
}

/* A densely filled map gets huge pages (one fault and one TLB entry per 2 MiB of slots, which
 * a snapshot's load probes at random); a sparse one keeps 4 KiB pages, so memory is still
 * taken only as keys arrive. */
static void test_dense_fill_uses_huge_pages(void **state) {
    (void)state;
    if (!huge_pages_on_advice_only()) skip();
    enum { count_max = 1u << 19 }; /* 2^20 slots of 32 bytes: 32 MiB, 15 or 16 huge pages */
    struct base_id_map dense, sparse;
    assert_int_equal(base_id_map_init(&dense, count_max), KHORGOS_ERROR_ok);
    assert_int_equal(base_id_map_init(&sparse, count_max), KHORGOS_ERROR_ok);
    base_id_map_fault_in(&dense, count_max);
    base_id_map_fault_in(&sparse, 100);
    for (u32 key = 1; key <= 100; key++) base_id_map_insert(&sparse, key, key);
    assert_true(huge_page_kib_at(dense.slots + (dense.slot_mask + 1) / 2) >= 2048);
    assert_int_equal(huge_page_kib_at(sparse.slots + (sparse.slot_mask + 1) / 2), 0);
    base_id_map_deinit(&dense);
    base_id_map_deinit(&sparse);
}

static u64 minor_faults(void) {
    struct rusage usage;
    assert_int_equal(getrusage(RUSAGE_SELF, &usage), 0);
    return (u64)usage.ru_minflt;
}

static void test_memory_prefault_one_fault_per_page(void **state) {
    (void)state;
    enum { pages = 4096, page_bytes = 4096 };
    u8 *memory = mmap(NULL, (size_t)pages * page_bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(memory != MAP_FAILED);
    assert_int_equal(madvise(memory, (size_t)pages * page_bytes, MADV_NOHUGEPAGE), 0);
    memory[10] = 7; /* written before: kept */
    memory[(size_t)(pages - 1) * page_bytes + 5] = 9;
    u64 before = minor_faults();
    base_memory_prefault(memory + 3, (size_t)pages * page_bytes - 3);
    u64 faults = minor_faults() - before;
    unsigned char vector[pages];
    assert_int_equal(mincore(memory, (size_t)pages * page_bytes, vector), 0);
    for (u32 page = 0; page < pages; page++) assert_true(vector[page] & 1u);
    assert_true(memory[10] == 7 && memory[(size_t)(pages - 1) * page_bytes + 5] == 9);
    assert_true(memory[page_bytes] == 0);
    /* Touching each page took two faults per page never written. */
    assert_true(faults <= pages + pages / 8);
    assert_int_equal(munmap(memory, (size_t)pages * page_bytes), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_fill_faults_every_page_in),
        cmocka_unit_test(test_sparse_fill_left_alone),
        cmocka_unit_test(test_dense_fill_uses_huge_pages),
        cmocka_unit_test(test_memory_prefault_one_fault_per_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
