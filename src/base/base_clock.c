/* base_clock.c: the system clocks. The engine reads realtime for timestamps (made strictly
 * increasing by the engine, so a clock step backwards never reorders history) and monotonic
 * for measuring durations; benchmarks read the process's CPU time. base_clock_system is the
 * monotonic one behind the replaceable clock interface (struct base_clock). */
#include "base/base.h"

#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

static u64 clock_read_ns(clockid_t clock_id) {
    struct timespec now;
    int result = clock_gettime(clock_id, &now);
    ASSERT(result == 0);
    ASSERT(now.tv_sec >= 0 && now.tv_nsec >= 0 && now.tv_nsec < 1000000000);
    return (u64)now.tv_sec * 1000000000ull + (u64)now.tv_nsec;
}

u64 base_clock_realtime_ns(void) { return clock_read_ns(CLOCK_REALTIME); }
u64 base_clock_monotonic_ns(void) { return clock_read_ns(CLOCK_MONOTONIC); }
u64 base_clock_process_cpu_ns(void) { return clock_read_ns(CLOCK_PROCESS_CPUTIME_ID); }

static u64 clock_system_now_ns(void *context) {
    ASSERT(context == NULL);
    return base_clock_monotonic_ns();
}

static void clock_system_sleep_ns(void *context, u64 duration_ns) {
    ASSERT(context == NULL);
    ASSERT(duration_ns < 1000000000ull * 3600); /* a pause, not a wait for an event */
    struct timespec pause = {(time_t)(duration_ns / 1000000000ull),
                             (long)(duration_ns % 1000000000ull)};
    while (nanosleep(&pause, &pause) != 0) continue; /* interrupted: sleep the rest */
}

const struct base_clock base_clock_system = {
    .now_ns = clock_system_now_ns,
    .sleep_ns = clock_system_sleep_ns,
    .context = NULL,
};

/* In this file because, like the clock, it is about the machine rather than the data. */
/* One madvise(MADV_POPULATE_WRITE) over the whole pages inside the range makes them resident
 * and writable in one call, keeping their contents: touching each page instead costs two faults
 * per page never written (a read maps the shared zero page, the write then replaces it, with a
 * TLB flush). Where the call is refused (a kernel before 5.14), each page is touched. */
void base_memory_prefault(void *memory, size_t bytes) {
    ASSERT(memory != NULL || bytes == 0);
    enum { page_bytes_min = 4096 }; /* the smallest page size Linux uses: touching every 4 KiB
                                     * touches every page of any larger size too */
    volatile u8 *byte = memory;
    if (bytes == 0) return;
    uintptr_t start = ((uintptr_t)memory + page_bytes_min - 1) & ~(uintptr_t)(page_bytes_min - 1);
    uintptr_t end = ((uintptr_t)memory + bytes) & ~(uintptr_t)(page_bytes_min - 1);
    if (end <= start || madvise((void *)start, end - start, MADV_POPULATE_WRITE) != 0) {
        for (size_t offset = 0; offset < bytes; offset += page_bytes_min) {
            byte[offset] = byte[offset];
        }
    }
    byte[0] = byte[0]; /* the partial pages at either end, which the call leaves out */
    byte[bytes - 1] = byte[bytes - 1];
    ASSERT(bytes > 0);
}

void base_memory_huge_pages(void *memory, size_t bytes) {
    ASSERT(memory != NULL || bytes == 0);
    enum { huge_page_bytes = 2u << 20 }; /* x86-64's and arm64's (4 KiB granule) PMD size */
    uintptr_t start = ((uintptr_t)memory + huge_page_bytes - 1) & ~(uintptr_t)(huge_page_bytes - 1);
    uintptr_t end = ((uintptr_t)memory + bytes) & ~(uintptr_t)(huge_page_bytes - 1);
    if (end <= start) return;
    ASSERT(end - start <= bytes);
    (void)madvise((void *)start, end - start, MADV_HUGEPAGE); /* refused: 4 KiB pages stay */
}

void base_memory_resident(void *memory, size_t bytes) {
    ASSERT(memory != NULL || bytes == 0);
    base_memory_huge_pages(memory, bytes); /* before any page is made resident */
    base_memory_prefault(memory, bytes);
    ASSERT(bytes == 0 || memory != NULL);
}
