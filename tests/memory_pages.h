/* memory_pages.h: what a test reads about its own memory from the kernel: the transparent
 * huge pages backing a mapping (/proc/self/smaps) and the mode they are given in. */
#ifndef KHORGOS_TESTS_MEMORY_PAGES_H
#define KHORGOS_TESTS_MEMORY_PAGES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"

/* The kilobytes of transparent huge pages backing the mapping that holds `address`, read from
 * /proc/self/smaps (its AnonHugePages line). */
static inline u64 huge_page_kib_at(const void *address) {
    FILE *file = fopen("/proc/self/smaps", "r");
    assert_non_null(file);
    char line[512];
    bool inside = false;
    u64 kib = 0;
    while (fgets(line, sizeof(line), file) != NULL) {
        unsigned long start = 0, end = 0;
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2) { /* a mapping's first line */
            inside = (uintptr_t)address >= start && (uintptr_t)address < end;
        } else if (inside && sscanf(line, "AnonHugePages: %lu kB", &start) == 1) {
            kib = start;
        }
    }
    fclose(file);
    return kib;
}

/* Whether this kernel gives huge pages to memory advised so and only to it (mode `madvise`),
 * so that huge pages in a mapping show that the program advised them. */
static inline bool huge_pages_on_advice_only(void) {
    FILE *file = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (file == NULL) return false;
    char mode[128] = {0};
    bool read = fgets(mode, sizeof(mode), file) != NULL;
    fclose(file);
    return read && strstr(mode, "[madvise]") != NULL;
}

#endif /* KHORGOS_TESTS_MEMORY_PAGES_H */
