/*
 * bench_settle.h: what the settle benchmarks (bench_settle_lsm.c, bench_settle_gridlock.c)
 * share: the seeded random numbers their queues are drawn from (splitmix64) and the timing of
 * a resolution, best of a few repetitions, wall and CPU time.
 *
 * Header-only because it is shared by separate benchmark programs and nothing else.
 */
#ifndef KHORGOS_BENCH_SETTLE_H
#define KHORGOS_BENCH_SETTLE_H

#include <time.h>

#include "base/base.h"

static inline u64 bench_random(u64 *seed) {
    u64 z = (*seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* CPU time of this thread: less disturbed than wall time when the machine is shared. */
static inline u64 bench_cpu_ns(void) {
    struct timespec now;
    int status = clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    ASSERT(status == 0);
    return (u64)now.tv_sec * 1000000000ull + (u64)now.tv_nsec;
}

/* Runs `run(context)` `repetitions` times; the best wall and CPU times, in ns. */
static inline void bench_best_time(void (*run)(void *context), void *context, u32 repetitions,
                                   u64 *best_ns, u64 *best_cpu_ns) {
    ASSERT(run != NULL && repetitions > 0);
    *best_ns = U64_MAX;
    *best_cpu_ns = U64_MAX;
    for (u32 repetition = 0; repetition < repetitions; repetition++) {
        u64 start_ns = base_clock_monotonic_ns();
        u64 start_cpu_ns = bench_cpu_ns();
        run(context);
        u64 elapsed_cpu_ns = bench_cpu_ns() - start_cpu_ns;
        u64 elapsed_ns = base_clock_monotonic_ns() - start_ns;
        *best_ns = MIN(*best_ns, elapsed_ns);
        *best_cpu_ns = MIN(*best_cpu_ns, elapsed_cpu_ns);
    }
}

#endif
