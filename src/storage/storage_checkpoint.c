/*
 * storage_checkpoint.c: a checkpoint's thread. Its owner (the engine, engine_storage.c)
 * captures the state between two requests and supplies the function that writes the captured
 * sections; this file writes snapshot-<S>.tmp from them on a thread, paced against the
 * journal's writes (storage_pace.c), seals it once request S is durable, publishes it, deletes
 * what the previous snapshot made unnecessary and makes the next segment's spare files. With
 * the simulated I/O the owner writes the same snapshot inline with the same function
 * (storage_checkpoint_write_inline), so the crash simulation runs the code the thread runs.
 *
 * Invariants (the owner's capture keeps C1 to C3: engine_storage.c):
 *   C4. While the thread runs it alone uses storage->writer and storage->buffer (the journal's
 *       commits use neither). The spare segment files are guarded by storage->spares_mutex:
 *       the thread holds it only while it makes new spares (checkpoint_spares: when they are
 *       missing, between two pieces or at its end); a segment start meanwhile finds it busy,
 *       does not wait, and creates its own files. Any other segment start during a checkpoint
 *       takes the spares (two renames), and the thread makes new ones before its next piece
 *       (storage_segment_spares_ready), so every start during a checkpoint is renames. Why:
 *       holding the spares for the whole checkpoint made the starts during a snapshot's write
 *       create and sync 64 MiB files on the committing thread, whose jbd2 commit also carried
 *       the snapshot's block allocations; the batch of such a start recurred as the slowest
 *       paired one (4.6 to 5.5 ms).
 *   C5. At most one thread per checkpoint (`running`); `done` is stored with release by the
 *       thread and loaded with acquire by the owner, which then joins, so the thread's
 *       results (error, digest, published, failure_text) are read only after it wrote them.
 *   C6. Pacing: before each piece of STORAGE_SNAPSHOT_PIECE_BYTES (or collection step) the
 *       thread waits in storage_pace_wait (the rules and their limits are in storage.h): at
 *       most STORAGE_PACE_PIECES_PER_BATCH pieces per journal batch written, a rest of
 *       STORAGE_PACE_REST_RATIO times each piece's time, only in a gap between two batches'
 *       writes, and at full speed once no batch was written for STORAGE_PACE_IDLE_NS
 *       (read-only requests write none, so they never hold it back) or the owner set `hurry`
 *       (closing). A batch written is one whose writes and fdatasyncs returned
 *       (storage_batches_written), so a piece goes to the disk just after one fdatasync,
 *       while the engine applies the next batch, rather than inside the fdatasync under way
 *       (pacing on submits instead, the per-batch paired delay averaged 1.8 ms over four
 *       alternating sets, against 1.1 ms). Time is read only through the pace's clock. Why
 *       pace at all: on a disk with a volatile write cache a journal fdatasync pays for
 *       persisting everything that reached the device since the last one, and on ext4 the
 *       jbd2 commit it waits for also frees (and, mounted with discard, discards) what was
 *       deleted since. Measured on the reference virtio disk at 2M transfers: publishing and
 *       deleting a 300 MB snapshot on the committing thread cost one commit 45-60 ms; an
 *       unpaced write 15-20 ms per commit. The price: a snapshot at full load takes several
 *       times longer than unpaced (the second of the benchmark's two, 600 to 900 ms), so at
 *       full load a checkpoint may be due before the last one ends; it then begins at the
 *       next commit after that one is reaped.
 *   C7. Durability before sealing: a checkpoint begins while the batch ending at S may be
 *       being written (waiting for it cost the beginning commit one whole fdatasync, 3 ms
 *       measured), so the snapshot's header, which holds record S's chain hash, is sealed only
 *       after storage_chain_mark_wait returned it: the writer hands it over after that batch's
 *       fdatasyncs (storage.h W4). A failed write returns the failure there, the .tmp is
 *       abandoned, and the engine stops at its next drain as for any failed commit. So no
 *       snapshot ever covers a request that is not durable.
 */
#include "storage/storage.h"

#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void storage_checkpoint_prepare(struct storage_checkpoint *checkpoint, struct storage *storage,
                                u64 sequence, u64 timestamp_last) {
    ASSERT(checkpoint != NULL && storage != NULL);
    ASSERT(!checkpoint->running && checkpoint->sections != NULL);
    checkpoint->storage = storage;
    checkpoint->sequence = sequence;
    checkpoint->timestamp_last = timestamp_last;
    checkpoint->error = KHORGOS_ERROR_ok;
    checkpoint->publish_error = KHORGOS_ERROR_ok;
    checkpoint->collect_error = KHORGOS_ERROR_ok;
    checkpoint->failure_text[0] = '\0';
    checkpoint->published = false;
}

/* Writes, seals and fsyncs snapshot-<S>.tmp from the owner's capture alone (C2), its digest
 * computed over the same view by the owner's sections function. The one function both paths
 * run, so the crash simulation exercises it. */
static khorgos_error checkpoint_write(struct storage_checkpoint *checkpoint,
                                      storage_pace_function pace) {
    ASSERT(checkpoint != NULL && checkpoint->storage != NULL);
    ASSERT(checkpoint->sections != NULL);
    struct storage_writer *writer = NULL;
    khorgos_error error =
        storage_snapshot_begin(checkpoint->storage, checkpoint->sequence, &writer);
    if (error == KHORGOS_ERROR_ok && pace != NULL) storage_writer_pace(writer, pace, checkpoint);
    if (error != KHORGOS_ERROR_ok) return error;
    checkpoint->digest = checkpoint->sections(checkpoint->context, writer);
    /* C7: sealed only once request S is durable; its batch may have been written at begin. */
    error = storage_chain_mark_wait(checkpoint->storage, checkpoint->sequence,
                                    checkpoint->chain_head);
    if (error != KHORGOS_ERROR_ok) {
        storage_snapshot_abandon(writer);
        return error;
    }
    return storage_snapshot_end_unpublished(writer, checkpoint->timestamp_last,
                                            checkpoint->digest, checkpoint->chain_head);
}

/* C4: the spares are missing (a segment start took them, or none were made yet): the thread
 * makes them, between two pieces or at its end, so that the next start is renames too. A
 * failure costs a start its own files only, and is not retried until the next checkpoint. */
static void checkpoint_spares(struct storage_checkpoint *checkpoint) {
    ASSERT(checkpoint != NULL && checkpoint->running);
    ASSERT(checkpoint->storage != NULL);
    if (checkpoint->spares_failed || storage_segment_spares_ready(checkpoint->storage)) return;
    checkpoint->spares_failed =
        storage_segment_prepare_spares(checkpoint->storage) != KHORGOS_ERROR_ok;
}

/* The thread's pace hook (C6): makes the spares if a segment start took them, then returns
 * once storage_pace_wait lets the next piece go (or the owner set `hurry`). */
static void checkpoint_pace(void *context) {
    struct storage_checkpoint *checkpoint = context;
    ASSERT(checkpoint != NULL && checkpoint->running);
    ASSERT(checkpoint->pace.clock != NULL);
    checkpoint_spares(checkpoint);
    storage_pace_wait(&checkpoint->pace, checkpoint->storage, &checkpoint->hurry);
}

/* The pace hook of a checkpoint written inline on a test's clock: the same waits, without
 * the spares (the committing thread makes them itself then). */
static void checkpoint_pace_inline(void *context) {
    struct storage_checkpoint *checkpoint = context;
    ASSERT(checkpoint != NULL && !checkpoint->running);
    ASSERT(checkpoint->pace.clock != NULL);
    storage_pace_wait(&checkpoint->pace, checkpoint->storage, &checkpoint->hurry);
}

khorgos_error storage_checkpoint_write_inline(struct storage_checkpoint *checkpoint,
                                              const struct base_clock *clock) {
    ASSERT(checkpoint != NULL && !checkpoint->running);
    ASSERT(checkpoint->storage != NULL);
    if (clock == NULL) return checkpoint_write(checkpoint, NULL);
    atomic_store_explicit(&checkpoint->hurry, false, memory_order_relaxed);
    storage_pace_begin(&checkpoint->pace, clock);
    return checkpoint_write(checkpoint, checkpoint_pace_inline);
}

void storage_checkpoint_failure_describe(struct storage_checkpoint *checkpoint,
                                         const char *what) {
    ASSERT(checkpoint != NULL && what != NULL);
    ASSERT(checkpoint->storage != NULL);
    char name[STORAGE_NAME_BYTES_MAX];
    if (strcmp(what, "snapshot") == 0) {
        storage_name(STORAGE_FILE_SNAPSHOT, checkpoint->sequence, name);
        what = name;
    }
    storage_failure_describe(checkpoint->storage->io, what, checkpoint->failure_text);
}

static void *checkpoint_thread(void *argument) {
    struct storage_checkpoint *checkpoint = argument;
    ASSERT(checkpoint != NULL && checkpoint->running);
    ASSERT(!checkpoint->published);
    if (checkpoint->schedule != NULL) checkpoint->schedule->wait(checkpoint->schedule->context);
    /* Commits come first when the cores are busy; a failure only leaves the default. */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), STORAGE_CHECKPOINT_NICE);
    checkpoint->error = checkpoint_write(checkpoint, checkpoint_pace);
    /* Published here, not by the committing thread: the rename and the deletions it allows
     * cost a commit nothing then (C6). */
    if (checkpoint->error == KHORGOS_ERROR_ok) {
        checkpoint->publish_error =
            storage_snapshot_publish(checkpoint->storage, checkpoint->sequence);
        checkpoint->published = checkpoint->publish_error == KHORGOS_ERROR_ok;
        if (!checkpoint->published) storage_checkpoint_failure_describe(checkpoint, "snapshot");
    }
    if (checkpoint->published) {
        checkpoint->collect_error = storage_collect_paced(
            checkpoint->storage, checkpoint->keep_from, checkpoint_pace, checkpoint);
        if (checkpoint->collect_error != KHORGOS_ERROR_ok) {
            storage_checkpoint_failure_describe(checkpoint, "a file the checkpoint deletes");
        }
    }
    if (checkpoint->after != NULL) checkpoint->after(checkpoint->context);
    /* The next segment's files, so the engine's next segment start is only renames; a failure
     * here costs that start a preallocation, nothing more (C4). */
    if (checkpoint->error == KHORGOS_ERROR_ok) checkpoint_spares(checkpoint);
    atomic_store_explicit(&checkpoint->done, true, memory_order_release);
    if (checkpoint->schedule != NULL) checkpoint->schedule->exit(checkpoint->schedule->context);
    return NULL;
}

bool storage_checkpoint_start(struct storage_checkpoint *checkpoint,
                              const struct base_clock *clock) {
    ASSERT(checkpoint != NULL && clock != NULL);
    ASSERT(!checkpoint->running && checkpoint->storage != NULL);
    atomic_store_explicit(&checkpoint->done, false, memory_order_relaxed);
    atomic_store_explicit(&checkpoint->hurry, false, memory_order_relaxed);
    storage_pace_begin(&checkpoint->pace, clock);
    checkpoint->spares_failed = false;
    checkpoint->running = true;
    const struct storage_checkpoint_schedule *schedule = checkpoint->schedule;
    if (schedule != NULL) schedule->created(schedule->context);
    if (pthread_create(&checkpoint->thread, NULL, checkpoint_thread, checkpoint) != 0) {
        checkpoint->running = false;
        if (schedule != NULL) schedule->exit(schedule->context);
        return false;
    }
    return true;
}

bool storage_checkpoint_finished(const struct storage_checkpoint *checkpoint) {
    ASSERT(checkpoint != NULL && checkpoint->running);
    return atomic_load_explicit(&checkpoint->done, memory_order_acquire);
}

void storage_checkpoint_join(struct storage_checkpoint *checkpoint, bool hurry) {
    ASSERT(checkpoint != NULL && checkpoint->running);
    /* Nothing commits any more: the thread need not wait for commits (C6). */
    if (hurry) atomic_store_explicit(&checkpoint->hurry, true, memory_order_relaxed);
    int joined = pthread_join(checkpoint->thread, NULL);
    ASSERT(joined == 0);
    checkpoint->running = false;
}
