/*
 * bench_settle.h: what the settle benchmarks share: the seeded random numbers their queues are
 * drawn from (splitmix64 for bench_settle_lsm.c and bench_settle_gridlock.c, a linear
 * congruential generator for bench_settle_engine.c and bench_settle_fx.c), the timing of a
 * resolution, best of a few repetitions, wall and CPU time, and a request through the engine
 * that must succeed.
 *
 * Header-only because it is shared by separate benchmark programs and nothing else.
 */
#ifndef KHORGOS_BENCH_SETTLE_H
#define KHORGOS_BENCH_SETTLE_H

#include <time.h>

#include "base/base.h"
#include "khorgos.h"

static inline u64 bench_random(u64 *seed) {
    u64 z = (*seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The next number of a linear congruential generator (Knuth's MMIX constants), its high bits. */
static inline u64 bench_lcg(u64 *seed) {
    ASSERT(seed != NULL);
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return *seed >> 33;
}

/* Executes one request through the engine; the benchmark stops unless it and the engine
 * succeed. */
static inline void bench_execute(struct khorgos *engine, u32 operation, const void *body,
                                 u32 size, void *reply, u32 capacity) {
    struct khorgos_request request = {.operation = operation, .body_size = size, .body = body,
                                      .reply = reply, .reply_capacity = capacity};
    ASSERT(khorgos_execute(engine, &request, 1) == KHORGOS_ERROR_ok);
    ASSERT(request.error == KHORGOS_ERROR_ok);
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
