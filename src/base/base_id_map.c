/* base_id_map.c: open addressing, linear probing, backward-shift deletion (see base.h, note 4). */
#include "base/base.h"

#include <stdlib.h>

khorgos_error base_id_map_init(struct base_id_map *map, u32 count_max) {
    ASSERT(map != NULL);
    ASSERT(count_max > 0 && count_max <= U32_MAX / 2);
    u64 slot_count = 16;
    while (slot_count < (u64)count_max * 2) slot_count *= 2;
    map->slots = calloc(slot_count, sizeof(struct base_id_map_slot));
    if (map->slots == NULL) return KHORGOS_ERROR_out_of_memory;
    map->slot_mask = slot_count - 1;
    map->count = 0;
    map->count_max = count_max;
    return KHORGOS_ERROR_ok;
}

void base_id_map_fault_in(struct base_id_map *map, u32 count) {
    ASSERT(map != NULL && map->slots != NULL);
    ASSERT(map->count == 0); /* every slot is zero, so writing zeros changes nothing */
    enum { page_bytes = 4096 }; /* the smallest page size Linux uses, as base_memory_prefault */
    u64 bytes = (map->slot_mask + 1) * sizeof(struct base_id_map_slot);
    if ((u64)count < BASE_ID_MAP_FAULT_IN_KEYS_PER_PAGE * (bytes / page_bytes)) return;
    base_memory_huge_pages(map->slots, (size_t)bytes);
    base_memory_prefault(map->slots, (size_t)bytes);
}

void base_id_map_deinit(struct base_id_map *map) {
    ASSERT(map != NULL);
    free(map->slots);
    memset(map, 0, sizeof(*map));
}

void base_id_map_clear(struct base_id_map *map) {
    ASSERT(map != NULL && map->slots != NULL);
    memset(map->slots, 0, (map->slot_mask + 1) * sizeof(struct base_id_map_slot));
    map->count = 0;
}

bool base_id_map_get(const struct base_id_map *map, u128 key, u32 *value) {
    ASSERT(key != 0);
    ASSERT(value != NULL);
    for (u64 slot = base_hash_u128(key) & map->slot_mask;; slot = (slot + 1) & map->slot_mask) {
        const struct base_id_map_slot *entry = &map->slots[slot];
        if (entry->key == key) {
            *value = entry->value;
            return true;
        }
        if (entry->key == 0) return false;
    }
}

void base_id_map_insert(struct base_id_map *map, u128 key, u32 value) {
    ASSERT(key != 0);
    ASSERT(map->count < map->count_max);
    for (u64 slot = base_hash_u128(key) & map->slot_mask;; slot = (slot + 1) & map->slot_mask) {
        struct base_id_map_slot *entry = &map->slots[slot];
        ASSERT(entry->key != key);
        if (entry->key == 0) {
            entry->key = key;
            entry->value = value;
            map->count++;
            return;
        }
    }
}

bool base_id_map_find(const struct base_id_map *map, u128 key, u32 *value, u64 *slot) {
    ASSERT(key != 0);
    ASSERT(value != NULL && slot != NULL);
    for (u64 probe = base_hash_u128(key) & map->slot_mask;; probe = (probe + 1) & map->slot_mask) {
        const struct base_id_map_slot *entry = &map->slots[probe];
        if (entry->key == key) {
            *value = entry->value;
            return true;
        }
        if (entry->key == 0) {
            *slot = probe;
            return false;
        }
    }
}

void base_id_map_insert_at(struct base_id_map *map, u64 slot, u128 key, u32 value) {
    ASSERT(key != 0);
    ASSERT(slot <= map->slot_mask);
    ASSERT(map->count < map->count_max);
    struct base_id_map_slot *entry = &map->slots[slot];
    ASSERT(entry->key == 0); /* still the empty slot base_id_map_find named */
    entry->key = key;
    entry->value = value;
    map->count++;
}

/* Whether `home` lies cyclically in (empty, slot]: if so, the entry at `slot` may not move to
 * `empty`, because a lookup starting at `home` would then never reach it. */
static bool id_map_home_between(u64 empty, u64 home, u64 slot) {
    if (empty <= slot) return empty < home && home <= slot;
    return empty < home || home <= slot;
}

void base_id_map_remove(struct base_id_map *map, u128 key) {
    ASSERT(key != 0);
    ASSERT(map->count > 0);
    u64 slot = base_hash_u128(key) & map->slot_mask;
    while (map->slots[slot].key != key) {
        ASSERT(map->slots[slot].key != 0); /* the key must be present */
        slot = (slot + 1) & map->slot_mask;
    }
    u64 empty = slot;
    for (u64 next = (empty + 1) & map->slot_mask; map->slots[next].key != 0;
         next = (next + 1) & map->slot_mask) {
        u64 home = base_hash_u128(map->slots[next].key) & map->slot_mask;
        if (id_map_home_between(empty, home, next)) continue;
        map->slots[empty] = map->slots[next];
        empty = next;
    }
    memset(&map->slots[empty], 0, sizeof(map->slots[empty]));
    map->count--;
}
