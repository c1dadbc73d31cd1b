/* test_base_id_map.c: base_id_map_fault_in makes every page of an empty map present when the
 * keys about to go in would touch most of them anyway, and leaves a map filled sparsely alone
 * (its memory taken only as keys arrive). Residency is read with mincore(2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/base.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_fill_faults_every_page_in),
        cmocka_unit_test(test_sparse_fill_left_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
