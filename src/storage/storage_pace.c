/*
 * storage_pace.c: pacing a checkpoint's writes against the journal's. A checkpoint's thread
 * asks before each piece of snapshot (or collection step) whether the device is its to use;
 * the rules and their reasons are beside struct storage_pace and its limits in storage.h.
 *
 * Why every wait ends, under any schedule: rule (b) lets a piece go once no journal batch was
 * written for STORAGE_PACE_IDLE_NS, measured from the last time the count of batches written
 * changed. Only a written batch moves that mark, so requests that write nothing (lookups, or
 * none at all) never hold a checkpoint back; a steady stream of batches lets a piece go by
 * rule (a) once the rest is over (at most STORAGE_PACE_REST_NS_MAX) and at the latest after
 * STORAGE_PACE_BATCHES_WAITED_MAX + 1 batches. So no wait is bounded by counting polls: the
 * clock alone moves it on, and on a simulated clock the same code is deterministic.
 *
 * Invariants: (1) pieces_left <= STORAGE_PACE_PIECES_PER_BATCH; (2) batch_seen_ns and
 * return_ns never exceed the clock's latest reading given to this pace (the clock is
 * monotonic); (3) rest_until_ns <= the reading it was set at + STORAGE_PACE_REST_NS_MAX.
 */
#include "storage/storage.h"

void storage_pace_begin(struct storage_pace *pace, const struct base_clock *clock) {
    ASSERT(pace != NULL && clock != NULL);
    ASSERT(clock->now_ns != NULL && clock->sleep_ns != NULL);
    *pace = (struct storage_pace){
        .clock = clock,
        .batches_seen = UINT64_MAX, /* the first look sees a batch: the first piece goes at once */
        .batch_seen_ns = clock->now_ns(clock->context),
    };
    ASSERT(pace->pieces_left == 0 && !pace->returned);
}

bool storage_pace_ready(struct storage_pace *pace, u64 now_ns, u64 batches_written,
                        bool batch_being_written) {
    ASSERT(pace != NULL && pace->pieces_left <= STORAGE_PACE_PIECES_PER_BATCH);
    ASSERT(now_ns >= pace->batch_seen_ns); /* invariant 2 */
    if (batches_written != pace->batches_seen) {
        pace->batches_seen = batches_written;
        pace->batch_seen_ns = now_ns;
        pace->pieces_left = STORAGE_PACE_PIECES_PER_BATCH;
        pace->batches_waited++;
    }
    bool gap = !batch_being_written || pace->batches_waited > STORAGE_PACE_BATCHES_WAITED_MAX;
    if (pace->pieces_left > 0 && now_ns >= pace->rest_until_ns && gap) { /* rule (a) */
        pace->batches_waited = 0;
        pace->pieces_left--;
        return true;
    }
    return now_ns - pace->batch_seen_ns >= STORAGE_PACE_IDLE_NS; /* rule (b) */
}

void storage_pace_rest(struct storage_pace *pace, u64 now_ns) {
    ASSERT(pace != NULL && pace->clock != NULL);
    if (!pace->returned) return; /* the first piece goes at once */
    ASSERT(now_ns >= pace->return_ns);
    u64 work_ns = now_ns - pace->return_ns;
    pace->rest_until_ns = now_ns + MIN(work_ns * STORAGE_PACE_REST_RATIO, STORAGE_PACE_REST_NS_MAX);
    ASSERT(pace->rest_until_ns >= now_ns); /* invariant 3 */
}

void storage_pace_wait(struct storage_pace *pace, const struct storage *storage,
                       const atomic_bool *hurry) {
    ASSERT(pace != NULL && pace->clock != NULL);
    ASSERT(storage != NULL && hurry != NULL);
    const struct base_clock *clock = pace->clock;
    storage_pace_rest(pace, clock->now_ns(clock->context));
    for (;;) {
        u64 now_ns = clock->now_ns(clock->context);
        if (storage_pace_ready(pace, now_ns, storage_batches_written(storage),
                               storage_batch_being_written(storage))) {
            break;
        }
        if (atomic_load_explicit(hurry, memory_order_relaxed)) break;
        clock->sleep_ns(clock->context, STORAGE_PACE_POLL_NS);
    }
    pace->return_ns = clock->now_ns(clock->context);
    pace->returned = true;
    ASSERT(pace->return_ns >= pace->batch_seen_ns);
}
