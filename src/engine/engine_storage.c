/*
 * engine_storage.c: the engine's data directory: format, open with recovery, the journaling
 * hooks of khorgos_execute (group commit), checkpoints and their policy, and check. The file
 * formats and the durability argument are in src/storage/storage.h; this note covers how the
 * engine uses them.
 *
 * Requests, not effects. A state-changing request is journaled after prepare (its timestamp is
 * assigned) and before apply, as (sequence, operation, timestamp, actor, body); PULSE requests
 * the engine makes for expiries are journaled the same way, with actor "engine"; a client's
 * request with its actor's BIC or role (engine_auth.c). Replay runs engine_auth_apply, as the
 * record's actor, on each record: the function live requests use, so state and replies repeat
 * byte for byte. Read-only requests are not journaled.
 *
 * Group commit. khorgos_execute appends every record of its batch, then engine_journal_commit
 * writes and syncs them once (storage_journal_commit) before returning: no reply of the batch
 * is released before its records are durable. Pipelined: khorgos_execute_begin ends with
 * engine_journal_submit (the writer writes the batch while the caller goes on), and
 * khorgos_execute_wait(ticket) with engine_journal_wait, which returns once the journal is
 * durable up to the ticket (the last request applied when the batch was begun, so a
 * read-only request waits for what it saw). A checkpoint due after a submit begins without
 * waiting for that batch (C7).
 * A failure sets engine->stopped and returns io or no_space (once: the call that returns it
 * reports it); from then on every call returns stopped and the caller must exit; the next
 * open recovers what was durable.
 *
 * Snapshot sections written by the engine:
 *   engine (STORAGE_SECTION_ENGINE, version 1), 32 bytes: request_count u64, timestamp_last u64,
 *     clock_manual_ns u64 (the manual clock, restored at open), reserved u64 (zero);
 *   ledger (ledger_snapshot.c);
 *   settlement (settle_snapshot.c: participants, payments, queues, quotes, windows), loaded
 *   after the ledger because it is checked against the ledger's accounts.
 * The snapshot's digest is engine_state_digest at its sequence: XXH3-128 over ledger_digest and
 * settle_digest, so a replay that reaches the same ledger but another settlement state fails.
 *
 * Checkpoint policy. After a commit, once the journal written after the last checkpoint's sequence
 * (at open: after the recovered snapshot's, which counts what recovery replayed) holds the
 * threshold, or half a segment's worth of records, the engine checkpoints. The threshold is the
 * operator's checkpoint_journal_bytes when given; by default it is half a segment or twice the size
 * of the last checkpoint's state, whichever is larger (engine_checkpoint_threshold_bytes). Why the
 * state size: a checkpoint writes the whole state, so with a fixed threshold a large state is
 * rewritten every few seconds (at 2M transfers, 270 MB of snapshot per 32 MB of journal: eight
 * bytes written for each byte journaled, all of it paid by the commits it is paced against).
 * Scaled to the state, a checkpoint writes about half as many bytes as the journal did since
 * the previous one, its pacing can be gentle (C6), the snapshots come at geometrically spaced
 * sizes, and recovery still replays at most about two states' worth of journal: restart time
 * stays bounded by the size of the state, not by the length of the history. A checkpoint is
 * a full snapshot written by a thread FROM A POINT-IN-TIME VIEW, with no fork: a copy of only
 * the mutable state, taken between requests, plus the append-only records shared in place:
 *   begin (khorgos_checkpoint -> engine_checkpoint_begin, on the committing thread, between
 *     requests, the batch ending at S possibly still being written): start segment S+1 if the
 *     journal is
 *     idle (else the snapshot falls inside the current segment, W1); engine_checkpoint_capture
 *     asks the writer for record S's hash (storage_chain_mark), fixes the counts and copies only
 *     the mutable state into buffers reserved at open: the accounts (balances change), the
 *     transfer states (1 B each), the expiry heap, the engine section, and the settlement
 *     section serialised through a memory writer (settle_snapshot_write, unchanged); then
 *     starts the thread. The cost is proportional to that mutable state, not to the transfers.
 *   write (storage_checkpoint.c, on its thread): streams snapshot-<S>.tmp, the engine's
 *     sections written by engine_checkpoint_sections from the copies and from the live
 *     append-only arrays (transfers, failed ids, history) up to the fixed counts, with the
 *     digest computed over the same view (ledger_view_digest, and the settlement section's
 *     checksum, which is settle_digest), then waits for record S's hash
 *     (storage_chain_mark_wait: S durable, C7) before sealing, writing each buffer back as it
 *     goes (sync_file_range) so its final fdatasync never stalls the journal's, paced
 *     against the journal's writes (C6); fsyncs; publishes (rename, fsync the directory);
 *     deletes what the previous snapshot made unnecessary, a step at a time
 *     (storage_collect_paced); pre-maps the copies (engine_checkpoint_after); makes the next
 *     segment's spare files; sets `done`.
 *   reap (engine_checkpoint_reap, in each later commit, never waiting): once `done`, joins
 *     the thread and moves the engine's snapshot sequences on; a failed write's .tmp is
 *     discarded (the journal still holds everything), a failed publish or collection stops
 *     the engine as a failed commit does. Close hurries the thread and waits for it.
 * With the simulated I/O (storage_io_fault, the seeded crash tests) the same capture and the
 * same write (storage_checkpoint_write_inline) run inline, inside the commit that crossed the
 * threshold, then publish; so the crash simulation exercises the code the thread runs.
 *
 * Checkpoint invariants (what makes the thread's view sound without locks):
 *   C1. The copies and the capture (struct engine_checkpoint) are written only by
 *       engine_checkpoint_capture, only while no thread runs; the thread only reads them
 *       (and, after writing, pre-maps pages above the captured counts, which no one reads).
 *   C2. The thread reads the live transfers, failed_transfer_ids and balances only below the
 *       captured counts; the committing thread never writes there (ledger_snapshot.c V1: those
 *       records are append-only; a rolled-back chain truncates only what it appended), and
 *       those arrays never move (V2). The ledger is closed only after the thread is joined.
 *   C3. The capture is taken between requests (every record submitted, no chain open), so the
 *       snapshot and its digest are the state after request S: the digest recovery compares is byte
 *       for byte the one engine_state_digest gives the live state at S (checked by an ASSERT on the
 *       inline path and by tests/test_storage_checkpoint.c on the threaded one).
 *   C4-C7 (the thread's: the spare files, one thread and its results, pacing, durability
 *       before sealing) are in storage_checkpoint.c. The engine's pacing clock
 *       (engine_storage_pace_clock_set) is the one the thread's pacing reads.
 *
 * Recovery (engine_storage_open): superblock, then the newest snapshot that verifies (else the
 * next older one, reported), its digest checked against engine_state_digest after loading, the
 * older snapshots' checksums verified (a damaged one reported), then storage_journal_recover
 * verifies every segment and replays every later record through engine_apply; when replay passes a
 * newer snapshot whose body was damaged but whose header verifies, the digest must match there
 * too. Each record is checked before it is applied: the operation changes state, the body is a
 * whole number of its records, and the timestamp leaves room for its events; otherwise corrupt.
 *
 * Invariants: (1) engine->request_count == storage sequence_next - 1 between calls; (2) a reply
 * is released only for a request at or below the storage's durable_sequence (W2); (3)
 * snapshots on disk are the newest two (checkpoint_sequence, checkpoint_sequence_previous)
 * plus, transiently, older ones.
 */
#include "engine/engine.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define ENGINE_SECTION_VERSION 1u
#define ENGINE_ACTOR_INTERNAL "engine"

struct engine_section {
    u64 request_count;
    u64 timestamp_last;
    u64 clock_manual_ns;
    u64 reserved;
};
_Static_assert(sizeof(struct engine_section) == 32, "the engine section is 32 bytes");

/* Room beyond the settlement section's counted bound: FX quotes (8,192) and netting windows
 * (8,784 x 112 B) are not counted one by one. */
#define ENGINE_SETTLE_SLACK_BYTES (4ull << 20)
/* Pre-mapping the copy buffers (engine_checkpoint_prefault): the page size it steps by (a
 * smaller real page only means more touches), and the records of margin beyond twice the
 * counts (the growth between two checkpoints: half a segment of journal is about 250,000
 * transfers). */
#define ENGINE_PAGE_BYTES 4096u
#define ENGINE_PREFAULT_RECORDS (1ull << 18)
/* The default policy checkpoints once the journal since the last checkpoint holds this many
 * times that checkpoint's state: with 1 MiB of snapshot paced per journal commit of a full
 * batch (about 1 MiB), the snapshot is written in about half the journal before the next one
 * is due, so checkpoints do not run back to back (in the disk's slow spells the rest makes it
 * slower, and a checkpoint due while one runs begins after it). */
#define ENGINE_CHECKPOINT_STATE_RATIO 2u
/* A checkpoint: copies reserved at open, the capture taken at begin, and the snapshot its
 * thread writes from them (storage_checkpoint.c). */
struct engine_checkpoint {
    /* Reserved at open (engine_checkpoint_reserve); never moved while `running` (C2). */
    struct khorgos_account *accounts;  /* [account_count_max] */
    u8 *transfer_states;               /* [transfer_count_max] */
    struct ledger_expiry *expiries;    /* [transfer_count_max] */
    u8 *settle_bytes;                  /* the settlement section, serialised */
    u64 settle_capacity;
    u8 *sessions_bytes;                /* the session table's section, serialised */
    u64 sessions_capacity;
    u32 account_count_max;
    u32 transfer_count_max;
    /* The capture (engine_checkpoint_capture); the thread reads it, nobody writes it while
     * `snapshot.running`. */
    struct engine_section engine_section;
    struct ledger_view ledger;
    struct storage_section_header settle_section;
    struct storage_section_header sessions_section;
    /* The snapshot written from the capture, and its thread. */
    struct storage_checkpoint snapshot;
};

struct engine_storage {
    struct storage *storage;
    struct storage_io *io;
    bool io_owned;
    u64 checkpoint_sequence;
    u64 checkpoint_sequence_previous;
    u64 checkpoint_journal_bytes; /* the operator's threshold; 0: the default policy */
    u64 checkpoint_bytes_appended; /* storage_bytes_appended when the last checkpoint began */
    u64 checkpoint_sequence_begun; /* that checkpoint's sequence (at open, the snapshot's) */
    u64 checkpoint_state_bytes;    /* about the size of that checkpoint's snapshot */
    /* Replay's reply buffer: the largest reply of any request. */
    u8 *reply;
    /* During recovery: a newer snapshot whose digest replay must reach, 0 when none. */
    u64 verify_sequence;
    u128 verify_digest;
    struct storage_report *report;
    /* The failure that stopped the engine, returned once by the call that met it. */
    khorgos_error failure_unreported;
    /* What failed ("<file>: <cause>"), set when the engine stopped (khorgos_failure_text). */
    char failure_text[STORAGE_FAILURE_TEXT_BYTES];
    /* The background checkpoint (at most one: C5). */
    struct engine_checkpoint checkpoint;
    struct khorgos_checkpoint_statistics statistics;
    /* The clock the checkpoint's pacing reads (base_clock_system unless a test set another,
     * engine_storage_pace_clock_set). */
    const struct base_clock *pace_clock;
    bool pace_inline; /* a test's clock: inline checkpoints are paced too */
};

#define ENGINE_REPLY_BYTES_MAX (LIMIT_BATCH_EVENTS_MAX * 128u)

static void engine_report(struct storage_report *report, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void engine_report(struct storage_report *report, const char *format, ...) {
    ASSERT(report != NULL && format != NULL);
    size_t used = strlen(report->message);
    if (used + 2 >= sizeof(report->message)) return;
    if (used > 0) report->message[used++] = ' ';
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(report->message + used, sizeof(report->message) - used, format, arguments);
    va_end(arguments);
}

/* ---- journaling hooks ---------------------------------------------------------------------- */

static khorgos_error engine_stop(struct khorgos *engine, khorgos_error error) {
    ASSERT(engine != NULL);
    ASSERT(error != KHORGOS_ERROR_ok);
    struct engine_storage *engine_storage = engine->storage;
    if (!engine->stopped && engine_storage != NULL) {
        engine_storage->failure_unreported = error;
        /* What failed: the journal's description, unless a checkpoint's was noted first. */
        if (engine_storage->failure_text[0] == '\0') {
            const char *journal = storage_failure_text(engine_storage->storage);
            struct storage_io *io = engine_storage->io;
            /* The journal's description, else the io's last (file, call and cause). */
            snprintf(engine_storage->failure_text, sizeof(engine_storage->failure_text), "%s",
                     journal[0] != '\0' ? journal : io->last_error(io));
        }
    }
    engine->stopped = true;
    return error;
}

void khorgos_failure_text(const struct khorgos *engine, char *text, size_t capacity) {
    ASSERT(engine != NULL);
    ASSERT(text != NULL && capacity > 0);
    text[0] = '\0';
    if (!engine->stopped || engine->storage == NULL) return;
    const char *failure = engine->storage->failure_text;
    snprintf(text, capacity, "%s", failure[0] != '\0' ? failure : "a write or sync failed");
}

/* engine_stop for a failure the caller returns at once: reported now, so not again. */
static khorgos_error engine_stop_reported(struct khorgos *engine, khorgos_error error) {
    khorgos_error stopped = engine_stop(engine, error);
    ASSERT(engine->stopped && stopped != KHORGOS_ERROR_ok);
    if (engine->storage != NULL) engine->storage->failure_unreported = KHORGOS_ERROR_ok;
    return stopped;
}

/* What a call returns to its caller: a failure that stopped the engine is reported by it, so
 * by no later call. */
static khorgos_error engine_returned(struct khorgos *engine, khorgos_error error) {
    ASSERT(engine != NULL);
    if (error != KHORGOS_ERROR_ok && engine->stopped && engine->storage != NULL) {
        engine->storage->failure_unreported = KHORGOS_ERROR_ok;
    }
    ASSERT(error != KHORGOS_ERROR_ok || !engine->stopped);
    return error;
}

static khorgos_error engine_checkpoint_reap(struct khorgos *engine, bool wait);
static khorgos_error engine_checkpoint_begin(struct khorgos *engine, u64 sequence);

khorgos_error engine_journal_append(struct khorgos *engine, u32 operation, u64 timestamp,
                                    const struct khorgos_actor *actor,
                                    const struct khorgos_client_request *client,
                                    const void *body, u32 body_size) {
    ASSERT(engine != NULL);
    ASSERT(timestamp > engine->timestamp_last);
    if (engine->stopped) return KHORGOS_ERROR_stopped;
    if (engine->storage == NULL) return KHORGOS_ERROR_ok;
    struct storage *storage = engine->storage->storage;
    ASSERT(storage_sequence_next(storage) == engine->request_count + 1);
    char actor_text[STORAGE_ACTOR_BYTES] = ENGINE_ACTOR_INTERNAL;
    if (actor != NULL) engine_auth_actor_text(actor, actor_text);
    struct storage_client record_client = {0};
    if (client != NULL) {
        record_client = (struct storage_client){
            .client = client->client,
            .request_checksum = client->checksum,
            .request = client->request,
            .release = client->release,
            .batch = client->batch,
            .batch_count = client->batch_count,
        };
    }
    khorgos_error error = storage_journal_append(storage, engine->request_count + 1, operation,
                                                 timestamp, actor_text, &record_client, body,
                                                 body_size);
    return error == KHORGOS_ERROR_ok ? error : engine_stop(engine, error);
}

/* The journal bytes after which the next checkpoint is due (the policy in the header note). */
static u64 engine_checkpoint_threshold_bytes(const struct engine_storage *engine_storage) {
    const struct storage_superblock *superblock = storage_superblock(engine_storage->storage);
    ASSERT(superblock->segment_bytes >= STORAGE_SEGMENT_BYTES_MIN);
    if (engine_storage->checkpoint_journal_bytes != 0) {
        return engine_storage->checkpoint_journal_bytes;
    }
    u64 threshold = MAX(superblock->segment_bytes / 2,
                        engine_storage->checkpoint_state_bytes * ENGINE_CHECKPOINT_STATE_RATIO);
    ASSERT(threshold >= superblock->segment_bytes / 2);
    return threshold;
}

static bool engine_checkpoint_due(const struct engine_storage *engine_storage) {
    const struct storage *storage = engine_storage->storage;
    const struct storage_superblock *superblock = storage_superblock(storage);
    ASSERT(storage_bytes_appended(storage) >= engine_storage->checkpoint_bytes_appended);
    ASSERT(storage_sequence_next(storage) > engine_storage->checkpoint_sequence_begun);
    /* Both counted from the last checkpoint's sequence, which may fall inside a segment. */
    u64 journal_bytes = storage_bytes_appended(storage) - engine_storage->checkpoint_bytes_appended;
    u64 records = storage_sequence_next(storage) - 1 - engine_storage->checkpoint_sequence_begun;
    return journal_bytes >= engine_checkpoint_threshold_bytes(engine_storage) ||
           records >= superblock->segment_records_max / 2;
}

/* What a call returns once the engine stopped: the failure that stopped it, once, then
 * stopped. */
static khorgos_error engine_stopped_error(struct khorgos *engine) {
    ASSERT(engine->stopped);
    if (engine->storage == NULL) return KHORGOS_ERROR_stopped;
    khorgos_error failure = engine->storage->failure_unreported;
    engine->storage->failure_unreported = KHORGOS_ERROR_ok;
    return failure == KHORGOS_ERROR_ok ? KHORGOS_ERROR_stopped : failure;
}

khorgos_error engine_journal_commit(struct khorgos *engine) {
    ASSERT(engine != NULL);
    khorgos_error error = engine_journal_submit(engine);
    if (error == KHORGOS_ERROR_ok) error = engine_journal_wait(engine, engine->request_count);
    ASSERT(error != KHORGOS_ERROR_ok || engine->storage == NULL ||
           storage_journal_idle(engine->storage->storage));
    return error;
}

khorgos_error engine_journal_wait(struct khorgos *engine, u64 sequence) {
    ASSERT(engine != NULL);
    ASSERT(sequence <= engine->request_count);
    if (engine->stopped) return engine_stopped_error(engine);
    if (engine->storage == NULL) return KHORGOS_ERROR_ok;
    khorgos_error error = storage_journal_wait(engine->storage->storage, sequence);
    return error == KHORGOS_ERROR_ok ? error : engine_stop_reported(engine, error);
}

/* After a submit: reaping a finished checkpoint, and beginning one when due (everything
 * submitted: C3, C7). */
static khorgos_error engine_journal_after_submit(struct khorgos *engine) {
    ASSERT(engine->storage != NULL && !engine->stopped);
    khorgos_error error = engine_checkpoint_reap(engine, false);
    if (error != KHORGOS_ERROR_ok || !engine_checkpoint_due(engine->storage)) return error;
    error = khorgos_checkpoint(engine); /* the batch just submitted may fly on (C7) */
    /* A checkpoint that could not get space leaves the journal whole: keep serving. */
    return error == KHORGOS_ERROR_no_space ? KHORGOS_ERROR_ok : error;
}

khorgos_error engine_journal_submit(struct khorgos *engine) {
    ASSERT(engine != NULL);
    if (engine->stopped) return engine_stopped_error(engine);
    if (engine->storage == NULL) return KHORGOS_ERROR_ok;
    khorgos_error error = storage_journal_submit(engine->storage->storage);
    error = error == KHORGOS_ERROR_ok ? engine_journal_after_submit(engine)
                                      : engine_stop(engine, error);
    return engine_returned(engine, error); /* reported here, once */
}

/* ---- checkpoints --------------------------------------------------------------------------- */

_Static_assert(SETTLE_SNAPSHOT_SECTION == STORAGE_SECTION_SETTLE,
               "settlement's section number is the one storage reserves for it");

/* The digest a snapshot records: the ledger's, the settlement layer's and the session table's
 * digests together. */
static u128 engine_digest_combine(u128 ledger, u128 settle, u128 sessions) {
    const u128 parts[3] = {ledger, settle, sessions};
    ASSERT(sizeof(parts) == 48);
    return base_checksum128(parts, sizeof(parts));
}

u128 engine_state_digest(const struct khorgos *engine) {
    ASSERT(engine != NULL);
    ASSERT(!engine->ledger.chain_open);
    return engine_digest_combine(ledger_digest(&engine->ledger), settle_digest(&engine->settle),
                                 engine_sessions_digest(&engine->sessions));
}

/* The session table's section with every session's latest reply full. */
static u64 engine_sessions_bytes_bound(void) {
    u64 per_session = 80 + (u64)ENGINE_SESSION_BATCHES_MAX * sizeof(u32) +
                      ENGINE_SESSION_REPLY_BYTES_MAX;
    return 8 + ENGINE_SESSIONS_MAX * per_session;
}

/* The settlement section's size with every count at its capacity, plus room for FX quotes
 * and windows; a section that still outgrows it (a module added state without a bound here)
 * grows the buffer once, inside that checkpoint's begin. */
static u64 engine_settle_bytes_bound(const struct settle_config *config) {
    ASSERT(config != NULL);
    ASSERT(config->request_count_max > 0 || config->payment_count_max == 0);
    const u64 per_participant =
        sizeof(struct khorgos_participant) +
        (u64)KHORGOS_PARTICIPANT_CURRENCIES_MAX * (sizeof(struct settle_position) + 8);
    const u64 per_payment = sizeof(struct khorgos_payment) + 5 * 4 + sizeof(struct settle_timer) +
                            16 + 3 * 4 + sizeof(struct khorgos_payment_references);
    return (u64)config->participant_count_max * per_participant +
           (u64)config->payment_count_max * per_payment +
           (u64)config->limit_count_max * sizeof(struct settle_bilateral_limit) +
           (u64)config->request_count_max * sizeof(struct settle_request) +
           SETTLE_CURRENCY_COUNT_MAX * (sizeof(struct settle_currency) +
                                        SETTLE_DAY_HISTORY_MAX *
                                            sizeof(struct khorgos_business_day_record)) +
           ENGINE_SETTLE_SLACK_BYTES;
}

static void engine_checkpoint_prefault(struct engine_checkpoint *checkpoint);
static u128 engine_checkpoint_sections(void *context, struct storage_writer *writer);
static void engine_checkpoint_after(void *context);

/* The copy buffers are mapped directly (anonymous, zero, a page mapped at its first touch)
 * rather than taken from malloc: freeing a large malloc block raises glibc's mmap threshold,
 * after which the engine's other large callocs come from the heap and are memset (measured:
 * the crash simulation's thousand opens ran 4 times slower). NULL when it fails. */
static void *engine_memory_map(u64 size) {
    ASSERT(size > 0);
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return memory == MAP_FAILED ? NULL : memory;
}

static void engine_memory_unmap(void *memory, u64 size) {
    ASSERT(memory == NULL || size > 0);
    if (memory != NULL) {
        int unmapped = munmap(memory, size);
        ASSERT(unmapped == 0);
    }
}

static khorgos_error engine_checkpoint_reserve(struct engine_checkpoint *checkpoint,
                                               const struct khorgos *engine) {
    ASSERT(checkpoint != NULL && engine != NULL);
    ASSERT(checkpoint->accounts == NULL && !checkpoint->snapshot.running);
    const struct ledger_config *config = &engine->ledger.config;
    checkpoint->account_count_max = config->account_count_max;
    checkpoint->transfer_count_max = config->transfer_count_max;
    checkpoint->accounts =
        engine_memory_map((u64)config->account_count_max * sizeof(struct khorgos_account));
    checkpoint->transfer_states = engine_memory_map(config->transfer_count_max);
    checkpoint->expiries =
        engine_memory_map((u64)config->transfer_count_max * sizeof(struct ledger_expiry));
    checkpoint->settle_capacity = engine_settle_bytes_bound(&engine->settle.config);
    checkpoint->snapshot.sections = engine_checkpoint_sections;
    checkpoint->snapshot.after = engine_checkpoint_after;
    checkpoint->snapshot.context = checkpoint;
    checkpoint->settle_bytes = engine_memory_map(checkpoint->settle_capacity);
    checkpoint->sessions_capacity = engine_sessions_bytes_bound();
    checkpoint->sessions_bytes = engine_memory_map(checkpoint->sessions_capacity);
    if (checkpoint->accounts == NULL || checkpoint->transfer_states == NULL ||
        checkpoint->expiries == NULL || checkpoint->settle_bytes == NULL ||
        checkpoint->sessions_bytes == NULL) {
        return KHORGOS_ERROR_out_of_memory;
    }
    /* The pages the first capture needs (the state recovered, and room to grow), where a
     * commit waits for the capture; the simulated I/O's checkpoints are inline anyway. */
    if (engine->storage != NULL && storage_io_is_posix(engine->storage->io)) {
        ledger_view_live(&engine->ledger, &checkpoint->ledger);
        checkpoint->settle_section.size = 0;
        engine_checkpoint_prefault(checkpoint);
        memset(&checkpoint->ledger, 0, sizeof(checkpoint->ledger));
    }
    return KHORGOS_ERROR_ok;
}

static void engine_checkpoint_release(struct engine_checkpoint *checkpoint) {
    ASSERT(checkpoint != NULL);
    ASSERT(!checkpoint->snapshot.running); /* its thread reads these */
    engine_memory_unmap(checkpoint->accounts,
                        (u64)checkpoint->account_count_max * sizeof(struct khorgos_account));
    engine_memory_unmap(checkpoint->transfer_states, checkpoint->transfer_count_max);
    engine_memory_unmap(checkpoint->expiries,
                        (u64)checkpoint->transfer_count_max * sizeof(struct ledger_expiry));
    engine_memory_unmap(checkpoint->settle_bytes, checkpoint->settle_capacity);
    engine_memory_unmap(checkpoint->sessions_bytes, checkpoint->sessions_capacity);
    memset(checkpoint, 0, sizeof(*checkpoint));
}

/* The settlement section serialised into the reserved buffer (growing it once if a section
 * outgrew the bound). out_of_memory only when that growth fails. */
static khorgos_error engine_checkpoint_capture_settle(struct engine_checkpoint *checkpoint,
                                                      const struct settle *settle) {
    struct storage_writer writer;
    for (u32 attempt = 0; attempt < 2; attempt++) {
        storage_writer_memory_begin(&writer, checkpoint->settle_bytes, checkpoint->settle_capacity);
        settle_snapshot_write(settle, &writer);
        khorgos_error error = storage_writer_memory_end(&writer, &checkpoint->settle_section);
        if (error != KHORGOS_ERROR_no_space) return error;
        ASSERT(checkpoint->settle_section.size > checkpoint->settle_capacity);
        u64 capacity = checkpoint->settle_section.size + checkpoint->settle_section.size / 4;
        u8 *grown = engine_memory_map(capacity);
        if (grown == NULL) return KHORGOS_ERROR_out_of_memory;
        engine_memory_unmap(checkpoint->settle_bytes, checkpoint->settle_capacity);
        checkpoint->settle_bytes = grown;
        checkpoint->settle_capacity = capacity;
    }
    return KHORGOS_ERROR_out_of_memory; /* not reached: the second attempt fits */
}

/* About the bytes of the snapshot the capture will write (its records; the section headers and
 * the table are a few hundred bytes more), for the checkpoint policy. */
static u64 engine_checkpoint_state_bytes(const struct engine_checkpoint *checkpoint) {
    const struct ledger_view *view = &checkpoint->ledger;
    ASSERT(view->account_count <= checkpoint->account_count_max);
    ASSERT(view->transfer_count <= checkpoint->transfer_count_max);
    u64 bytes = sizeof(struct engine_section) + checkpoint->settle_section.size +
                checkpoint->sessions_section.size;
    bytes += (u64)view->account_count * sizeof(struct khorgos_account);
    bytes += (u64)view->transfer_count * (sizeof(struct khorgos_transfer) + 1u);
    bytes += (u64)view->failed_transfer_count * sizeof(u128);
    bytes += (u64)view->expiry_count * sizeof(struct ledger_expiry);
    bytes += (u64)view->balance_count * sizeof(struct ledger_balance_entry);
    return bytes;
}

/* Step 1, on the committing thread between requests: fixes the counts and copies the mutable
 * state (invariant C1); its cost is proportional to that state, not to the transfers. */
static khorgos_error engine_checkpoint_capture(struct engine_checkpoint *checkpoint,
                                               const struct khorgos *engine,
                                               struct storage *storage, u64 sequence) {
    ASSERT(checkpoint->accounts != NULL && !checkpoint->snapshot.running);
    ASSERT(engine->request_count == sequence && storage_journal_submitted_all(storage));
    storage_checkpoint_prepare(&checkpoint->snapshot, storage, sequence, engine->timestamp_last);
    /* The hash of record S, from the writer once S is durable (C3, W4). */
    storage_chain_mark(storage, sequence);
    checkpoint->engine_section = (struct engine_section){
        .request_count = engine->request_count,
        .timestamp_last = engine->timestamp_last,
        .clock_manual_ns = engine->clock_manual_ns,
    };
    ledger_view_capture(&engine->ledger, &checkpoint->ledger, checkpoint->accounts,
                        checkpoint->transfer_states, checkpoint->expiries);
    struct storage_writer writer;
    storage_writer_memory_begin(&writer, checkpoint->sessions_bytes,
                                checkpoint->sessions_capacity);
    engine_sessions_write(&engine->sessions, &writer);
    khorgos_error error = storage_writer_memory_end(&writer, &checkpoint->sessions_section);
    ASSERT(error == KHORGOS_ERROR_ok); /* the buffer holds the table's bound */
    return engine_checkpoint_capture_settle(checkpoint, &engine->settle);
}

/* Step 2, the sections function of the snapshot (storage_checkpoint.c), on the checkpoint's
 * thread or inline with the simulated I/O: writes the engine's, the ledger's and settlement's
 * sections from the capture alone (C2), and returns the digest over the same view. */
static u128 engine_checkpoint_sections(void *context, struct storage_writer *writer) {
    struct engine_checkpoint *checkpoint = context;
    ASSERT(checkpoint != NULL && writer != NULL);
    ASSERT(checkpoint->ledger.accounts == checkpoint->accounts);
    storage_writer_section_begin(writer, STORAGE_SECTION_ENGINE, ENGINE_SECTION_VERSION);
    storage_writer_put(writer, &checkpoint->engine_section, sizeof(checkpoint->engine_section));
    storage_writer_section_end(writer);
    ledger_view_write(&checkpoint->ledger, writer);
    storage_writer_section_copy(writer, &checkpoint->settle_section, checkpoint->settle_bytes);
    storage_writer_section_copy(writer, &checkpoint->sessions_section,
                                checkpoint->sessions_bytes);
    /* settle_digest and engine_sessions_digest are XXH3-128 of exactly their section's bytes
     * (settle_snapshot.c, engine_session.c), which is the checksum the section carries. */
    return engine_digest_combine(ledger_view_digest(&checkpoint->ledger),
                                 checkpoint->settle_section.checksum,
                                 checkpoint->sessions_section.checksum);
}

/* Touches (writes a zero to each page of) bytes [from, to) of a copy buffer, so the kernel
 * maps those pages now rather than inside a later capture (a first touch costs a page fault,
 * expensive on a VM: 11 ms for the first capture of 256,000 transfers when untouched). */
static void engine_memory_touch(void *memory, u64 from, u64 to) {
    ASSERT(memory != NULL);
    ASSERT(from <= to);
    u8 *bytes = memory;
    for (u64 offset = from; offset < to; offset += ENGINE_PAGE_BYTES) bytes[offset] = 0;
}

/* Maps the copy buffers past what this capture used, for the state the next checkpoint may
 * see: twice the counts, plus a margin. Only bytes above the capture's counts, which nobody
 * reads (C1, C2). Bounded by the capacities. */
static void engine_checkpoint_prefault(struct engine_checkpoint *checkpoint) {
    const struct ledger_view *view = &checkpoint->ledger;
    ASSERT(view->account_count <= checkpoint->account_count_max);
    ASSERT(view->transfer_count <= checkpoint->transfer_count_max);
    u64 accounts = MIN((u64)view->account_count * 2 + ENGINE_PREFAULT_RECORDS,
                       (u64)checkpoint->account_count_max);
    u64 transfers = MIN((u64)view->transfer_count * 2 + ENGINE_PREFAULT_RECORDS,
                        (u64)checkpoint->transfer_count_max);
    u64 expiries = MIN((u64)view->expiry_count * 2 + ENGINE_PREFAULT_RECORDS,
                       (u64)checkpoint->transfer_count_max);
    u64 settle = MIN(checkpoint->settle_section.size * 2 + ENGINE_PREFAULT_RECORDS,
                     checkpoint->settle_capacity);
    const u64 account_bytes = sizeof(struct khorgos_account);
    const u64 expiry_bytes = sizeof(struct ledger_expiry);
    engine_memory_touch(checkpoint->accounts, view->account_count * account_bytes,
                        accounts * account_bytes);
    engine_memory_touch(checkpoint->transfer_states, view->transfer_count, transfers);
    engine_memory_touch(checkpoint->expiries, view->expiry_count * expiry_bytes,
                        expiries * expiry_bytes);
    engine_memory_touch(checkpoint->settle_bytes, MIN(checkpoint->settle_section.size, settle),
                        settle);
}

/* The snapshot's after function: once the thread wrote the snapshot, it maps the copy buffers
 * for the next capture (C1: only above the captured counts). */
static void engine_checkpoint_after(void *context) {
    struct engine_checkpoint *checkpoint = context;
    ASSERT(checkpoint != NULL && checkpoint->snapshot.running);
    engine_checkpoint_prefault(checkpoint);
}

/* A failure of the checkpoint's thread is about to stop the engine: its description is what
 * the engine reports (unless the engine stopped already). */
static void engine_checkpoint_failure_note(struct khorgos *engine) {
    struct engine_storage *engine_storage = engine->storage;
    const struct storage_checkpoint *snapshot = &engine_storage->checkpoint.snapshot;
    ASSERT(engine_storage != NULL && !snapshot->running);
    ASSERT(snapshot->failure_text[0] != '\0');
    if (engine->stopped) return;
    snprintf(engine_storage->failure_text, sizeof(engine_storage->failure_text), "%s",
             snapshot->failure_text);
}

/* A snapshot at `sequence` is durable and published: the previous one becomes the oldest kept,
 * and what it made unnecessary is deleted (here when `collect`, else the thread did). */
static khorgos_error engine_checkpoint_done(struct khorgos *engine, u64 sequence, bool collect) {
    struct engine_storage *engine_storage = engine->storage;
    ASSERT(sequence > engine_storage->checkpoint_sequence);
    ASSERT(!engine_storage->checkpoint.snapshot.running);
    engine_storage->statistics.completed++;
    engine_storage->checkpoint_sequence_previous = engine_storage->checkpoint_sequence;
    engine_storage->checkpoint_sequence = sequence;
    khorgos_error error = collect ? storage_collect(engine_storage->storage,
                                                    engine_storage->checkpoint_sequence_previous)
                                  : engine_storage->checkpoint.snapshot.collect_error;
    if (error == KHORGOS_ERROR_ok || error == KHORGOS_ERROR_no_space) return error;
    if (collect) {
        storage_checkpoint_failure_describe(&engine_storage->checkpoint.snapshot,
                                            "a file the checkpoint deletes");
    }
    engine_checkpoint_failure_note(engine);
    return engine_stop(engine, error);
}

/* Collects the checkpoint's thread if it finished (or waits for it): publishes its snapshot
 * when it succeeded, discards it otherwise (the journal still holds everything). */
static khorgos_error engine_checkpoint_reap(struct khorgos *engine, bool wait) {
    struct engine_storage *engine_storage = engine->storage;
    ASSERT(engine_storage != NULL);
    struct storage_checkpoint *checkpoint = &engine_storage->checkpoint.snapshot;
    if (!checkpoint->running) return KHORGOS_ERROR_ok;
    if (!wait && !storage_checkpoint_finished(checkpoint)) {
        return KHORGOS_ERROR_ok; /* still writing: never wait inside a commit */
    }
    storage_checkpoint_join(checkpoint, wait); /* waiting only at close: no commit will come */
    u64 sequence = checkpoint->sequence;
    engine_storage->statistics.sequence_running = 0;
    if (!checkpoint->published) {
        storage_snapshot_discard(engine_storage->storage, sequence);
        engine_storage->statistics.discarded++;
        /* A write that failed leaves the journal whole: keep serving. A rename or directory
         * sync that failed is the disk failing: stop, as a failed publish always did. */
        if (checkpoint->publish_error != KHORGOS_ERROR_ok) {
            engine_checkpoint_failure_note(engine);
            return engine_stop(engine, checkpoint->publish_error);
        }
        return KHORGOS_ERROR_ok;
    }
    /* Published by the thread: a valid snapshot of the durable request `sequence`, even if
     * the engine stopped since (the journal holds every request after it). */
    return engine_checkpoint_done(engine, sequence, false);
}

/* Starts the thread that writes the captured snapshot; false when it could not (the caller
 * then writes it inline). */
static bool engine_checkpoint_spawn(struct engine_storage *engine_storage) {
    struct storage_checkpoint *checkpoint = &engine_storage->checkpoint.snapshot;
    ASSERT(!checkpoint->running);
    if (!storage_checkpoint_start(checkpoint, engine_storage->pace_clock)) return false;
    ASSERT(checkpoint->running);
    engine_storage->statistics.sequence_running = checkpoint->sequence;
    return true;
}

khorgos_error khorgos_checkpoint(struct khorgos *engine) {
    ASSERT(engine != NULL);
    if (engine->stopped) return engine_stopped_error(engine);
    if (engine->storage == NULL) return KHORGOS_ERROR_invalid_operation;
    struct engine_storage *engine_storage = engine->storage;
    struct storage *storage = engine_storage->storage;
    /* Between requests every record is submitted; the last may still be being written: no
     * wait for it here (C3, C7). */
    ASSERT(storage_journal_submitted_all(storage));
    khorgos_error reaped = engine_checkpoint_reap(engine, false);
    if (reaped != KHORGOS_ERROR_ok) return engine_returned(engine, reaped);
    if (engine_storage->checkpoint.snapshot.running) return KHORGOS_ERROR_ok; /* one (C5) */
    u64 sequence = engine->request_count;
    ASSERT(storage_sequence_next(storage) == sequence + 1);
    if (sequence == engine_storage->checkpoint_sequence) return KHORGOS_ERROR_ok;
    const u64 begin_ns = base_clock_monotonic_ns();
    engine_storage->statistics.started++;
    khorgos_error error = engine_checkpoint_begin(engine, sequence);
    const u64 begin_elapsed_ns = base_clock_monotonic_ns() - begin_ns;
    if (begin_elapsed_ns > engine_storage->statistics.begin_ns_max) {
        engine_storage->statistics.begin_ns_max = begin_elapsed_ns;
    }
    return engine_returned(engine, error);
}

khorgos_error khorgos_checkpoint_statistics(const struct khorgos *engine,
                                            struct khorgos_checkpoint_statistics *statistics) {
    ASSERT(engine != NULL && statistics != NULL);
    if (engine->storage == NULL) return KHORGOS_ERROR_invalid_operation;
    *statistics = engine->storage->statistics;
    ASSERT(statistics->completed + statistics->discarded <= statistics->started);
    return KHORGOS_ERROR_ok;
}

khorgos_error khorgos_journal_statistics(const struct khorgos *engine,
                                         struct khorgos_journal_statistics *statistics) {
    ASSERT(engine != NULL && statistics != NULL);
    if (engine->storage == NULL) return KHORGOS_ERROR_invalid_operation;
    struct storage_write_statistics writes;
    storage_write_statistics(engine->storage->storage, &writes);
    *statistics = (struct khorgos_journal_statistics){
        .flights = writes.batches,
        .flight_ns_max = writes.write_ns_max,
        .flights_over_5_ms = writes.writes_over_5_ms,
        .flights_over_10_ms = writes.writes_over_10_ms,
    };
    ASSERT(statistics->flights_over_10_ms <= statistics->flights_over_5_ms);
    return KHORGOS_ERROR_ok;
}

/* Starts the next segment, captures the state, and has the thread write snapshot-<sequence>
 * (with the simulated I/O, which has no real files for a thread to race on, writes it here). */
static khorgos_error engine_checkpoint_begin(struct khorgos *engine, u64 sequence) {
    struct engine_storage *engine_storage = engine->storage;
    struct storage *storage = engine_storage->storage;
    struct engine_checkpoint *checkpoint = &engine_storage->checkpoint;
    ASSERT(!checkpoint->snapshot.running);
    khorgos_error error = KHORGOS_ERROR_ok;
    /* A new segment only when nothing flies (W1): otherwise the snapshot falls inside the
     * segment, and recovery verifies the records before S there without replaying them. */
    if (storage_journal_idle(storage) && storage_segment_records_used(storage) > 0) {
        u8 chain_head[BASE_SHA256_BYTES];
        storage_chain_head(storage, chain_head);
        error = storage_segment_start(storage, sequence + 1, chain_head);
        if (error != KHORGOS_ERROR_ok) goto failed;
    }
    error = engine_checkpoint_capture(checkpoint, engine, storage, sequence);
    checkpoint->snapshot.keep_from = engine_storage->checkpoint_sequence; /* C1: no thread */
    /* The policy measures the next checkpoint's journal from here, against this state. */
    engine_storage->checkpoint_bytes_appended = storage_bytes_appended(storage);
    engine_storage->checkpoint_sequence_begun = sequence;
    engine_storage->checkpoint_state_bytes = engine_checkpoint_state_bytes(checkpoint);
    ASSERT(checkpoint->snapshot.keep_from < sequence);
    if (error != KHORGOS_ERROR_ok) {
        engine_storage->statistics.discarded++; /* memory, not the disk: keep serving */
        return KHORGOS_ERROR_ok;
    }
    bool threaded = storage_io_is_posix(engine_storage->io) ||
                    checkpoint->snapshot.schedule != NULL;
    if (threaded && engine_checkpoint_spawn(engine_storage)) {
        return KHORGOS_ERROR_ok;
    }
    error = storage_checkpoint_write_inline(
        &checkpoint->snapshot, engine_storage->pace_inline ? engine_storage->pace_clock : NULL);
    /* Inline, nothing ran in between: the view's digest is the live state's (C3). */
    ASSERT(error != KHORGOS_ERROR_ok || checkpoint->snapshot.digest == engine_state_digest(engine));
    if (error == KHORGOS_ERROR_ok) error = storage_snapshot_publish(storage, sequence);
    if (error != KHORGOS_ERROR_ok) {
        storage_checkpoint_failure_describe(&checkpoint->snapshot, "snapshot");
        if (error != KHORGOS_ERROR_no_space) engine_checkpoint_failure_note(engine); /* stops */
        goto failed;
    }
    return engine_checkpoint_done(engine, sequence, true);
failed:
    /* Out of space: the journal is preallocated, so the engine may go on without this
     * checkpoint. Any other failure of the disk stops it, as a commit failure does. */
    engine_storage->statistics.discarded++;
    return error == KHORGOS_ERROR_no_space ? error : engine_stop(engine, error);
}

khorgos_error khorgos_chain_head(const struct khorgos *engine, uint8_t head[32],
                                 uint64_t *sequence) {
    ASSERT(engine != NULL && head != NULL && sequence != NULL);
    if (engine->storage == NULL) return KHORGOS_ERROR_invalid_operation;
    /* A batch being written moves the head: asked only once every batch begun was waited for. */
    if (!storage_journal_idle(engine->storage->storage)) return KHORGOS_ERROR_invalid_operation;
    storage_chain_head(engine->storage->storage, head);
    *sequence = storage_sequence_next(engine->storage->storage) - 1;
    return KHORGOS_ERROR_ok;
}

void engine_storage_pace_clock_set(struct khorgos *engine, const struct base_clock *clock) {
    ASSERT(engine != NULL && engine->storage != NULL && clock != NULL);
    ASSERT(!engine->storage->checkpoint.snapshot.running); /* the thread reads it */
    engine->storage->pace_clock = clock;
    engine->storage->pace_inline = clock != &base_clock_system;
}

void engine_checkpoint_schedule_set(struct khorgos *engine, const struct base_clock *clock,
                                    const struct storage_checkpoint_schedule *schedule) {
    ASSERT(engine != NULL && engine->storage != NULL);
    ASSERT(!engine->storage->checkpoint.snapshot.running); /* the thread reads them */
    ASSERT((clock == NULL) == (schedule == NULL));
    engine->storage->pace_clock = clock != NULL ? clock : &base_clock_system;
    engine->storage->pace_inline = false;
    engine->storage->checkpoint.snapshot.schedule = schedule;
}

/* ---- format -------------------------------------------------------------------------------- */

/* The capacities a data directory was formatted with, as an engine's config. */
static struct khorgos_config engine_superblock_config(const struct storage_superblock *superblock,
                                                      int clock_manual) {
    ASSERT(superblock != NULL);
    return (struct khorgos_config){
        .account_count_max = superblock->account_count_max,
        .transfer_count_max = superblock->transfer_count_max,
        .account_balance_count_max = superblock->account_balance_count_max,
        .participant_count_max = superblock->participant_count_max,
        .payment_count_max = superblock->payment_count_max,
        .clock_manual = clock_manual,
    };
}

khorgos_error engine_storage_format(struct storage_io *io,
                                    const struct storage_superblock *superblock) {
    ASSERT(io != NULL && superblock != NULL);
    ASSERT(superblock->format_version == STORAGE_FORMAT_VERSION);
    struct khorgos_config config = engine_superblock_config(superblock, 0);
    struct khorgos *engine = NULL;
    khorgos_error error = khorgos_open_memory(&engine, &config);
    if (error != KHORGOS_ERROR_ok) return error;
    struct storage *storage = NULL;
    error = storage_create(io, superblock, &storage);
    if (error != KHORGOS_ERROR_ok) goto close_engine;
    const u8 chain_zero[BASE_SHA256_BYTES] = {0};
    /* The superblock goes last: a directory without one is not a data directory, so a crash
     * during format leaves something open refuses, never a half-made directory it serves. */
    error = storage_segment_start(storage, 1, chain_zero);
    struct engine_checkpoint checkpoint;
    memset(&checkpoint, 0, sizeof(checkpoint));
    if (error == KHORGOS_ERROR_ok) error = engine_checkpoint_reserve(&checkpoint, engine);
    if (error == KHORGOS_ERROR_ok) {
        error = engine_checkpoint_capture(&checkpoint, engine, storage, 0);
    }
    if (error == KHORGOS_ERROR_ok) {
        error = storage_checkpoint_write_inline(&checkpoint.snapshot, NULL);
    }
    if (error == KHORGOS_ERROR_ok) error = storage_snapshot_publish(storage, 0);
    if (error == KHORGOS_ERROR_ok) error = storage_superblock_write(io, superblock);
    engine_checkpoint_release(&checkpoint);
    storage_destroy(storage);
close_engine:
    khorgos_close(engine);
    return error;
}

u128 engine_cluster(const struct khorgos *engine) {
    ASSERT(engine != NULL);
    if (engine->storage == NULL) return 0;
    const struct storage_superblock *superblock = storage_superblock(engine->storage->storage);
    ASSERT(superblock->format_version == STORAGE_FORMAT_VERSION);
    return superblock->cluster;
}

khorgos_error khorgos_format(const char *directory, const struct khorgos_config *config) {
    ASSERT(directory != NULL && config != NULL);
    return khorgos_format_report(directory, config, NULL, 0);
}

khorgos_error khorgos_format_report(const char *directory, const struct khorgos_config *config,
                                    char *report, size_t report_capacity) {
    ASSERT(directory != NULL && config != NULL);
    ASSERT(report != NULL || report_capacity == 0);
    if (report_capacity > 0) report[0] = '\0';
    struct storage_superblock superblock = {
        .format_version = STORAGE_FORMAT_VERSION,
        .account_count_max = config->account_count_max ? config->account_count_max
                                                       : LIMIT_ACCOUNT_COUNT_DEFAULT,
        .transfer_count_max = config->transfer_count_max ? config->transfer_count_max
                                                         : LIMIT_TRANSFER_COUNT_DEFAULT,
        .account_balance_count_max = config->account_balance_count_max
                                         ? config->account_balance_count_max
                                         : LIMIT_ACCOUNT_BALANCE_COUNT_DEFAULT,
        .segment_bytes = STORAGE_SEGMENT_BYTES_DEFAULT,
        .segment_records_max = STORAGE_SEGMENT_RECORDS_DEFAULT,
        .formatted_at_ns = base_clock_realtime_ns(),
        .participant_count_max = config->participant_count_max,
        .payment_count_max = config->payment_count_max,
        .flags = config->keep_journal ? STORAGE_SUPERBLOCK_KEEP_JOURNAL : 0,
        .cluster = config->cluster,
    };
    if (superblock.account_count_max > LIMIT_ACCOUNT_COUNT_MAX ||
        superblock.transfer_count_max > LIMIT_TRANSFER_COUNT_MAX ||
        superblock.account_balance_count_max > LIMIT_ACCOUNT_BALANCE_COUNT_MAX) {
        if (report_capacity > 0) {
            snprintf(report, report_capacity,
                     "a capacity is above the limit of this build (src/base/base.h)");
        }
        return KHORGOS_ERROR_invalid_argument;
    }
    struct storage_io *io = NULL;
    char message[STORAGE_MESSAGE_BYTES_MAX];
    khorgos_error error = storage_io_posix_create(directory, STORAGE_POSIX_FORMAT, &io, message);
    if (error == KHORGOS_ERROR_ok) {
        error = engine_storage_format(io, &superblock);
        bool system = error == KHORGOS_ERROR_io || error == KHORGOS_ERROR_no_space ||
                      error == KHORGOS_ERROR_not_found;
        snprintf(message, sizeof(message), "%s", system ? io->last_error(io) : "");
        /* A failed format takes back what it made, so the next one finds it new or empty. */
        if (error == KHORGOS_ERROR_ok) storage_io_posix_destroy(io);
        if (error != KHORGOS_ERROR_ok) storage_io_posix_remove(io);
    }
    if (error != KHORGOS_ERROR_ok && report_capacity > 0) {
        snprintf(report, report_capacity, "%s", message[0] != '\0' ? message
                                                                   : khorgos_strerror(error));
    }
    return error;
}

/* ---- recovery ------------------------------------------------------------------------------ */

/* A record's client fields as the engine's request carries them; NULL when it has none. */
static const struct khorgos_client_request *
engine_record_client(const struct storage_record_header *header,
                     struct khorgos_client_request *client) {
    ASSERT(header != NULL && client != NULL);
    if (header->client == 0) return NULL;
    *client = (struct khorgos_client_request){
        .client = header->client,
        .checksum = header->request_checksum,
        .request = header->request,
        .release = header->release,
        .batch = header->batch,
        .batch_count = header->batch_count,
    };
    ASSERT(client->client != 0);
    return client;
}

/* A record's client fields, when it has any, pass the session table's check. */
static bool engine_record_session_valid(const struct khorgos *engine,
                                        const struct storage_record_header *header) {
    struct khorgos_client_request storage;
    const struct khorgos_client_request *client = engine_record_client(header, &storage);
    const struct engine_operation *entry = engine_operation_find(header->operation);
    ASSERT(entry != NULL);
    if (client == NULL) {
        return entry->changes_state && header->operation != KHORGOS_OPERATION_REGISTER;
    }
    if (header->operation == KHORGOS_OPERATION_PULSE ||
        header->operation == KHORGOS_OPERATION_SETTLE_PULSE) {
        return false;
    }
    u32 reply_size_max = khorgos_reply_size_max(header->operation, header->body_size);
    return engine_session_check(engine, header->operation, client, reply_size_max) ==
           KHORGOS_ERROR_ok;
}

/* Checks a journal record before it is applied: what the live path validated must hold. */
static bool engine_record_valid(const struct khorgos *engine,
                                const struct storage_record_header *header) {
    const struct engine_operation *entry = engine_operation_find(header->operation);
    if (entry == NULL) return false;
    if (header->body_size % entry->body_record_size != 0) return false;
    if (header->operation == KHORGOS_OPERATION_PULSE ||
        header->operation == KHORGOS_OPERATION_REGISTER) {
        if (header->body_size != 0) return false;
    } else if (header->body_size / entry->body_record_size > LIMIT_BATCH_EVENTS_MAX) {
        return false;
    } else if (entry->body_single && header->body_size != entry->body_record_size) {
        return false;
    } else if (header->operation == KHORGOS_OPERATION_ADVANCE_CLOCK &&
               header->body_size != sizeof(u64)) {
        return false;
    }
    if (!engine_record_session_valid(engine, header)) return false;
    u64 events = entry->changes_state ? MAX(header->body_size / entry->body_record_size, 1u) : 1;
    if (header->timestamp < engine->timestamp_last + events) return false;
    if (header->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS &&
        !ledger_capacity_accounts(&engine->ledger, header->body_size / entry->body_record_size)) {
        return false;
    }
    if (header->operation == KHORGOS_OPERATION_CREATE_TRANSFERS &&
        !ledger_capacity_transfers(&engine->ledger, header->body_size / entry->body_record_size)) {
        return false;
    }
    return header->sequence == engine->request_count + 1;
}

static khorgos_error engine_replay_record(void *context, const struct storage_record_header *header,
                                          const void *body) {
    struct khorgos *engine = context;
    ASSERT(engine != NULL && engine->storage != NULL && header != NULL);
    struct engine_storage *engine_storage = engine->storage;
    if (!engine_record_valid(engine, header)) {
        engine_report(engine_storage->report,
                      "journal record %llu (operation %u, %u bytes) is not a request this engine "
                      "could have committed after the state before it.",
                      (unsigned long long)header->sequence, header->operation, header->body_size);
        return KHORGOS_ERROR_corrupt;
    }
    struct khorgos_actor actor;
    engine_auth_actor_parse(header->actor, &actor);
    struct khorgos_client_request client;
    struct khorgos_request request = {
        .operation = header->operation,
        .body_size = header->body_size,
        .body = body,
        .reply = engine_storage->reply,
        .actor = actor,
        .client = engine_record_client(header, &client),
    };
    /* A refused request (forbidden) repeats as it was answered: request.error is not used. */
    engine_apply_request(engine, &request, header->timestamp);
    ASSERT(engine->request_count == header->sequence);
    if (header->sequence == engine_storage->verify_sequence &&
        engine_state_digest(engine) != engine_storage->verify_digest) {
        engine_report(engine_storage->report,
                      "after replaying request %llu the state digest differs from the one "
                      "snapshot-%016llx recorded.",
                      (unsigned long long)header->sequence, (unsigned long long)header->sequence);
        return KHORGOS_ERROR_corrupt;
    }
    return KHORGOS_ERROR_ok;
}

static khorgos_error engine_section_read(struct khorgos *engine, struct storage_reader *reader) {
    struct engine_section section;
    khorgos_error error = storage_reader_get(reader, &section, sizeof(section));
    if (error != KHORGOS_ERROR_ok) return error;
    if (section.reserved != 0 || storage_reader_remaining(reader) != 0) {
        return KHORGOS_ERROR_corrupt;
    }
    engine->request_count = section.request_count;
    engine->timestamp_last = section.timestamp_last;
    /* The manual clock as of the snapshot: the journaled advance_clock requests after it move
     * it on as they did (khorgos_clock_advance's moves, not journaled, only up to here). */
    if (section.clock_manual_ns != 0) engine->clock_manual_ns = section.clock_manual_ns;
    return KHORGOS_ERROR_ok;
}

static khorgos_error engine_sections_read(struct khorgos *engine, struct storage_reader *reader);

/* Loads snapshot-<sequence> into a fresh engine; corrupt when it does not verify. */
static khorgos_error engine_snapshot_load(struct khorgos *engine, u64 sequence,
                                          struct storage_snapshot_header *header) {
    struct engine_storage *engine_storage = engine->storage;
    struct storage_reader *reader = NULL;
    khorgos_error error = storage_snapshot_open(engine_storage->storage, sequence, header, &reader,
                                                engine_storage->report);
    if (error == KHORGOS_ERROR_io || error == KHORGOS_ERROR_no_space) { /* the file, the cause */
        struct storage_io *io = engine_storage->io;
        engine_report(engine_storage->report, "%s.", io->last_error(io));
    }
    if (error != KHORGOS_ERROR_ok) return error;
    error = engine_sections_read(engine, reader);
    storage_reader_close(reader);
    if (error == KHORGOS_ERROR_ok &&
        (engine->request_count != sequence || engine->timestamp_last != header->timestamp_last ||
         engine_state_digest(engine) != header->digest)) {
        error = KHORGOS_ERROR_corrupt;
    }
    if (error != KHORGOS_ERROR_ok) {
        engine_report(engine_storage->report, "snapshot-%016llx does not load (%s).",
                      (unsigned long long)sequence, khorgos_error_name(error));
    }
    return error;
}

/* Reads a verified snapshot's sections into a fresh engine: each module's once, in order;
 * corrupt or format_version when one is missing, repeated or unknown. */
static khorgos_error engine_sections_read(struct khorgos *engine, struct storage_reader *reader) {
    ASSERT(engine != NULL && reader != NULL);
    ASSERT(engine->request_count == 0);
    khorgos_error error = KHORGOS_ERROR_ok;
    bool seen_engine = false;
    bool seen_ledger = false;
    bool seen_settle = false;
    bool seen_sessions = false;
    struct storage_section_header section;
    while ((error = storage_reader_section_next(reader, &section)) == KHORGOS_ERROR_ok) {
        if (section.module == STORAGE_SECTION_ENGINE && section.version == ENGINE_SECTION_VERSION &&
            !seen_engine) {
            error = engine_section_read(engine, reader);
            seen_engine = true;
        } else if (section.module == STORAGE_SECTION_LEDGER &&
                   section.version == LEDGER_SNAPSHOT_VERSION && !seen_ledger) {
            error = ledger_snapshot_read(&engine->ledger, reader);
            seen_ledger = true;
        } else if (section.module == STORAGE_SECTION_SETTLE &&
                   section.version == SETTLE_SNAPSHOT_VERSION && seen_ledger && !seen_settle) {
            error = settle_snapshot_read(&engine->settle, reader);
            seen_settle = true;
        } else if (section.module == STORAGE_SECTION_SESSIONS &&
                   section.version == ENGINE_SESSIONS_SECTION_VERSION && !seen_sessions) {
            error = engine_sessions_read(&engine->sessions, reader);
            seen_sessions = true;
        } else {
            error = KHORGOS_ERROR_format_version; /* a module this build does not know */
        }
        if (error != KHORGOS_ERROR_ok) break;
    }
    if (error == KHORGOS_ERROR_not_found) error = KHORGOS_ERROR_ok;
    if (error == KHORGOS_ERROR_ok &&
        (!seen_engine || !seen_ledger || !seen_settle || !seen_sessions)) {
        error = KHORGOS_ERROR_corrupt;
    }
    return error;
}

/* ---- a snapshot in memory ------------------------------------------------------------------ */

khorgos_error engine_snapshot_memory_write(const struct khorgos *engine, u8 *memory,
                                           u64 capacity, u64 *size_bytes) {
    ASSERT(engine != NULL && size_bytes != NULL);
    ASSERT(memory != NULL || capacity == 0);
    u8 chain_head[BASE_SHA256_BYTES] = {0};
    if (engine->storage != NULL) {
        if (!storage_journal_idle(engine->storage->storage)) return KHORGOS_ERROR_invalid_operation;
        storage_chain_head(engine->storage->storage, chain_head);
    }
    struct engine_section section = {.request_count = engine->request_count,
                                     .timestamp_last = engine->timestamp_last,
                                     .clock_manual_ns = engine->clock_manual_ns};
    struct storage_writer writer;
    storage_snapshot_memory_begin(&writer, engine->request_count, memory, capacity);
    storage_writer_section_begin(&writer, STORAGE_SECTION_ENGINE, ENGINE_SECTION_VERSION);
    storage_writer_put(&writer, &section, sizeof(section));
    storage_writer_section_end(&writer);
    ledger_snapshot_write(&engine->ledger, &writer);
    settle_snapshot_write(&engine->settle, &writer);
    engine_sessions_write(&engine->sessions, &writer);
    return storage_snapshot_memory_end(&writer, engine->timestamp_last,
                                       engine_state_digest(engine), chain_head, size_bytes);
}

khorgos_error engine_open_memory_like(const struct khorgos *like, struct khorgos **out) {
    ASSERT(like != NULL && out != NULL);
    ASSERT(like->ledger.config.account_count_max > 0);
    struct khorgos_config config = {
        .account_count_max = like->ledger.config.account_count_max,
        .transfer_count_max = like->ledger.config.transfer_count_max,
        .account_balance_count_max = like->ledger.config.account_balance_count_max,
        .participant_count_max = like->settle.config.participant_count_max,
        .payment_count_max = like->settle.config.payment_count_max,
        .clock_manual = like->clock_manual,
    };
    return khorgos_open_memory(out, &config);
}

/* Exchanges two objects of `size_bytes` in place, a piece at a time: the session table is
 * about 112 KiB, too large for a temporary on the stack of every thread that installs. */
static void engine_swap_bytes(void *left, void *right, size_t size_bytes) {
    ASSERT(left != NULL && right != NULL && left != right);
    u8 piece[256];
    u8 *a = left, *b = right;
    for (size_t at = 0; at < size_bytes; at += sizeof(piece)) {
        size_t length = MIN(sizeof(piece), size_bytes - at);
        memcpy(piece, a + at, length);
        memcpy(a + at, b + at, length);
        memcpy(b + at, piece, length);
    }
    ASSERT(size_bytes > 0);
}

/* Moves the state of `loaded` (a verified snapshot's, engine_snapshot_memory_load) into the
 * engine by exchanging the two engines' ledgers, settlement layers and session tables, then
 * closes `loaded`, which frees the engine's old state. Nothing is read or allocated, so it
 * cannot fail. The settlement layer points at the ledger it books to: each is pointed at the
 * ledger now beside it. */
static void engine_state_take(struct khorgos *engine, struct khorgos *loaded) {
    ASSERT(engine != NULL && loaded != NULL && loaded->storage == NULL);
    ASSERT(engine->ledger.config.transfer_count_max == loaded->ledger.config.transfer_count_max);
    engine_swap_bytes(&engine->ledger, &loaded->ledger, sizeof(engine->ledger));
    engine_swap_bytes(&engine->settle, &loaded->settle, sizeof(engine->settle));
    engine_swap_bytes(&engine->sessions, &loaded->sessions, sizeof(engine->sessions));
    engine->settle.ledger = &engine->ledger;
    loaded->settle.ledger = &loaded->ledger;
    engine->request_count = loaded->request_count;
    engine->timestamp_last = loaded->timestamp_last;
    engine->clock_manual_ns = loaded->clock_manual_ns;
    khorgos_close(loaded);
}

/* The snapshot is loaded once, whole, into an engine of its own (engine_snapshot_memory_load
 * verifies its checksums, sections, sequence, last timestamp and digest) before anything of
 * the engine or its directory changes; only then is the file written and the loaded state
 * moved in (engine_state_take), so proving comes before changing and nothing is read twice. */
khorgos_error engine_snapshot_install(struct khorgos *engine, const void *bytes,
                                      u64 size_bytes) {
    ASSERT(engine != NULL && engine->storage != NULL);
    ASSERT(bytes != NULL || size_bytes == 0);
    struct khorgos *loaded = NULL;
    khorgos_error error = engine_snapshot_memory_load(engine, bytes, size_bytes, &loaded);
    if (error != KHORGOS_ERROR_ok) return error;
    u64 sequence = loaded->request_count;
    struct engine_storage *engine_storage = engine->storage;
    struct storage *storage = engine_storage->storage;
    bool stop = false; /* a failure of the checkpoint's disk stops the engine */
    if (sequence <= engine->request_count) {
        error = KHORGOS_ERROR_invalid_operation;
    } else if (engine->stopped) {
        error = KHORGOS_ERROR_stopped;
    } else {
        error = engine_checkpoint_reap(engine, true);
        stop = error != KHORGOS_ERROR_ok;
    }
    if (error == KHORGOS_ERROR_ok && !storage_journal_idle(storage)) {
        error = KHORGOS_ERROR_invalid_operation;
    }
    if (error != KHORGOS_ERROR_ok) {
        khorgos_close(loaded);
        return stop ? engine_stop(engine, error) : error;
    }
    struct storage_snapshot_header header;
    memcpy(&header, bytes, sizeof(header));
    /* The snapshot first, then a segment after it chained from its head. A crash in between
     * leaves the newest snapshot ahead of the journal's last record, which open refuses
     * (corrupt): never a state the journal cannot back. */
    error = storage_snapshot_put(storage, sequence, bytes, size_bytes);
    if (error == KHORGOS_ERROR_ok) {
        error = storage_segment_start(storage, sequence + 1, header.chain_head);
    }
    if (error != KHORGOS_ERROR_ok) {
        khorgos_close(loaded);
        return engine_stop(engine, error);
    }
    engine_state_take(engine, loaded);
    engine_storage->checkpoint_sequence_previous = sequence;
    engine_storage->checkpoint_sequence = sequence;
    engine_storage->checkpoint_bytes_appended = storage_bytes_appended(storage);
    engine_storage->checkpoint_sequence_begun = sequence;
    error = storage_collect(storage, sequence);
    return error == KHORGOS_ERROR_ok ? KHORGOS_ERROR_ok : engine_stop(engine, error);
}

khorgos_error engine_snapshot_memory_load(const struct khorgos *like, const void *bytes,
                                          u64 size_bytes, struct khorgos **out) {
    ASSERT(like != NULL && out != NULL);
    ASSERT(bytes != NULL || size_bytes == 0);
    *out = NULL;
    struct storage_reader reader;
    struct storage_snapshot_header header;
    khorgos_error error = storage_snapshot_memory_open(&reader, bytes, size_bytes, &header);
    if (error != KHORGOS_ERROR_ok) return error;
    struct khorgos *engine = NULL;
    error = engine_open_memory_like(like, &engine);
    if (error == KHORGOS_ERROR_ok) error = engine_sections_read(engine, &reader);
    storage_reader_close(&reader);
    if (error == KHORGOS_ERROR_ok &&
        (engine->request_count != header.sequence ||
         engine->timestamp_last != header.timestamp_last ||
         engine_state_digest(engine) != header.digest)) {
        error = KHORGOS_ERROR_corrupt;
    }
    if (error != KHORGOS_ERROR_ok) {
        if (engine != NULL) khorgos_close(engine);
        return error;
    }
    *out = engine;
    return KHORGOS_ERROR_ok;
}

/* ---- open ---------------------------------------------------------------------------------- */

static khorgos_error engine_storage_attach(struct khorgos **out, struct storage_io *io,
                                          const struct storage_superblock *superblock,
                                          int clock_manual, struct storage_report *report) {
    struct khorgos_config config = engine_superblock_config(superblock, clock_manual);
    struct khorgos *engine = NULL;
    khorgos_error error = khorgos_open_memory(&engine, &config);
    if (error != KHORGOS_ERROR_ok) return error;
    struct engine_storage *engine_storage = calloc(1, sizeof(*engine_storage));
    if (engine_storage == NULL) goto out_of_memory;
    engine->storage = engine_storage;
    engine_storage->io = io;
    engine_storage->report = report;
    engine_storage->pace_clock = &base_clock_system;
    engine_storage->reply = malloc(ENGINE_REPLY_BYTES_MAX);
    if (engine_storage->reply == NULL) goto out_of_memory;
    error = storage_create(io, superblock, &engine_storage->storage);
    if (error != KHORGOS_ERROR_ok) {
        khorgos_close(engine);
        return error;
    }
    *out = engine;
    return KHORGOS_ERROR_ok;
out_of_memory:
    khorgos_close(engine);
    return KHORGOS_ERROR_out_of_memory;
}

void engine_storage_close(struct khorgos *engine) {
    ASSERT(engine != NULL);
    struct engine_storage *engine_storage = engine->storage;
    if (engine_storage == NULL) return;
    /* A batch begun and not waited for is finished (never acknowledged: the caller did not
     * wait); a failure here changes nothing, the next open recovers what is durable. */
    if (!engine->stopped) (void)storage_journal_commit(engine_storage->storage);
    if (engine_storage->checkpoint.snapshot.running) {
        engine_checkpoint_reap(engine, true); /* nothing commits any more: hurried (C6) */
    }
    engine_checkpoint_release(&engine_storage->checkpoint);
    if (engine_storage->storage != NULL) storage_destroy(engine_storage->storage);
    if (engine_storage->io_owned) storage_io_posix_destroy(engine_storage->io);
    free(engine_storage->reply);
    free(engine_storage);
    engine->storage = NULL;
}

static khorgos_error engine_superblock_read(struct storage_io *io,
                                            struct storage_superblock *superblock,
                                            struct storage_report *report) {
    khorgos_error error = storage_superblock_read(io, superblock);
    if (error == KHORGOS_ERROR_not_found) {
        engine_report(report, "no superblock: not a data directory (run khorgos format).");
    } else if (error == KHORGOS_ERROR_format_version) {
        engine_report(report,
                      "the data directory has format version %u; this build reads version %u "
                      "only.",
                      superblock->format_version, STORAGE_FORMAT_VERSION);
    } else if (error == KHORGOS_ERROR_corrupt) {
        engine_report(report, "superblock: damaged (checksum or magic).");
    }
    return error;
}

/* Verifies the checksums of the snapshots older than the one recovery loaded (a fallback it
 * may need later): one that does not verify is reported (and counted) as damage to redundant
 * data, which the next checkpoints replace; it changes nothing. */
static khorgos_error engine_snapshots_verify(struct khorgos *engine,
                                            const struct storage_listing *listing, u64 loaded,
                                            struct storage_report *report) {
    ASSERT(engine != NULL && engine->storage != NULL);
    ASSERT(listing != NULL && report != NULL);
    for (u32 index = 0; index < listing->snapshot_count; index++) {
        u64 sequence = listing->snapshots[index];
        if (sequence >= loaded) break;
        struct storage_snapshot_header header;
        struct storage_reader *reader = NULL;
        khorgos_error error = storage_snapshot_open(engine->storage->storage, sequence, &header,
                                                    &reader, report);
        if (error == KHORGOS_ERROR_ok) {
            storage_reader_close(reader);
            continue;
        }
        if (error != KHORGOS_ERROR_corrupt) return error;
        report->snapshots_damaged++;
        report->repairable = true;
        engine_report(report, "snapshot-%016llx is damaged; snapshot-%016llx serves instead.",
                      (unsigned long long)sequence, (unsigned long long)loaded);
    }
    return KHORGOS_ERROR_ok;
}

/* Loads the newest snapshot that verifies, trying each from the newest to the oldest. */
static khorgos_error engine_recover_snapshot(struct khorgos **out, struct storage_io *io,
                                            const struct storage_superblock *superblock,
                                            const struct storage_listing *listing,
                                            int clock_manual, struct storage_report *report,
                                            struct storage_snapshot_header *header) {
    khorgos_error error = KHORGOS_ERROR_corrupt;
    if (listing->snapshot_count == 0) engine_report(report, "no snapshot in the directory.");
    for (u32 attempt = 0; attempt < listing->snapshot_count; attempt++) {
        u64 sequence = listing->snapshots[listing->snapshot_count - 1 - attempt];
        struct khorgos *engine = NULL;
        error = engine_storage_attach(&engine, io, superblock, clock_manual, report);
        if (error != KHORGOS_ERROR_ok) return error;
        error = engine_snapshot_load(engine, sequence, header);
        if (error == KHORGOS_ERROR_ok) {
            if (attempt > 0) {
                report->snapshot_fallback = true;
                report->snapshots_damaged += attempt;
                report->repairable = true;
                engine_report(report, "recovered from the previous snapshot-%016llx instead.",
                              (unsigned long long)sequence);
            }
            error = engine_snapshots_verify(engine, listing, sequence, report);
            if (error == KHORGOS_ERROR_ok) {
                *out = engine;
                return KHORGOS_ERROR_ok;
            }
        }
        khorgos_close(engine);
        if (error != KHORGOS_ERROR_corrupt && error != KHORGOS_ERROR_format_version) return error;
    }
    return error == KHORGOS_ERROR_ok ? KHORGOS_ERROR_corrupt : error;
}

khorgos_error engine_storage_open(struct khorgos **out, struct storage_io *io, bool io_owned,
                                  const struct khorgos_open_options *options,
                                  struct storage_report *report) {
    ASSERT(out != NULL && io != NULL && options != NULL && report != NULL);
    *out = NULL;
    memset(report, 0, sizeof(*report));
    struct storage_superblock superblock;
    khorgos_error error = engine_superblock_read(io, &superblock, report);
    struct storage_listing listing;
    if (error == KHORGOS_ERROR_ok) error = storage_list(io, &listing);
    struct khorgos *engine = NULL;
    struct storage_snapshot_header header;
    if (error == KHORGOS_ERROR_ok) {
        error = engine_recover_snapshot(&engine, io, &superblock, &listing, options->clock_manual,
                                        report, &header);
    }
    if (error != KHORGOS_ERROR_ok) goto destroy_io;
    struct engine_storage *engine_storage = engine->storage;
    engine_storage->io_owned = io_owned;
    u64 newest = listing.snapshots[listing.snapshot_count - 1];
    struct storage_snapshot_header newest_header;
    if (report->snapshot_fallback &&
        storage_snapshot_header_read(engine_storage->storage, newest, &newest_header) ==
            KHORGOS_ERROR_ok) {
        engine_storage->verify_sequence = newest; /* its body is damaged; its digest is not */
        engine_storage->verify_digest = newest_header.digest;
    }
    if (options->memory_prefault) ledger_prefault(&engine->ledger);
    error = storage_journal_recover(engine_storage->storage, header.sequence, header.chain_head,
                                    true, engine_replay_record, engine, report);
    if (error != KHORGOS_ERROR_ok) goto close_engine;
    engine_storage->verify_sequence = 0;
    engine_storage->checkpoint_sequence = header.sequence;
    engine_storage->checkpoint_sequence_begun = header.sequence; /* bytes_appended counts from it */
    engine_storage->checkpoint_sequence_previous =
        listing.snapshot_count > 1 && !report->snapshot_fallback
            ? listing.snapshots[listing.snapshot_count - 2]
            : header.sequence;
    engine_storage->checkpoint_journal_bytes = options->checkpoint_journal_bytes;
    error = storage_collect(engine_storage->storage, engine_storage->checkpoint_sequence_previous);
    /* The checkpoint's copies, reserved once here, before serving (C1). */
    if (error == KHORGOS_ERROR_ok) {
        error = engine_checkpoint_reserve(&engine_storage->checkpoint, engine);
    }
    /* On real files the journal's writer is a thread, so a batch is written and synced while
     * the next one is applied (khorgos_execute_begin); the simulated I/O writes inline. */
    if (error == KHORGOS_ERROR_ok && storage_io_is_posix(engine_storage->io)) {
        error = storage_journal_writer_start(engine_storage->storage);
    }
    if (error != KHORGOS_ERROR_ok) goto close_engine;
    engine_storage->report = NULL;
    ASSERT(storage_sequence_next(engine_storage->storage) == engine->request_count + 1);
    *out = engine;
    return KHORGOS_ERROR_ok;
close_engine:
    engine_storage->io_owned = false; /* the caller's io is destroyed below, once */
    khorgos_close(engine);
destroy_io:
    /* A system call's failure: the report names the file, the call and the cause. */
    if ((error == KHORGOS_ERROR_io || error == KHORGOS_ERROR_no_space) &&
        io->last_error(io)[0] != '\0' && strstr(report->message, io->last_error(io)) == NULL) {
        engine_report(report, "%s.", io->last_error(io));
    }
    if (io_owned) storage_io_posix_destroy(io);
    return error;
}

khorgos_error khorgos_open(struct khorgos **out, const char *directory,
                           const struct khorgos_open_options *options) {
    ASSERT(out != NULL && directory != NULL && options != NULL);
    *out = NULL;
    struct storage_io *io = NULL;
    static _Thread_local struct storage_report report;
    memset(&report, 0, sizeof(report));
    /* The writer's lock comes first: a second writer reads and writes nothing (report.message
     * says why, naming the holder). */
    khorgos_error error = storage_io_posix_create(directory, STORAGE_POSIX_WRITE, &io,
                                                  report.message);
    if (error == KHORGOS_ERROR_ok) {
        error = engine_storage_open(out, io, true, options, &report);
    }
    if (error == KHORGOS_ERROR_ok) {
        /* Spare segment files are made before serving, so even the first checkpoint after an
         * open starts its segment with a rename instead of a preallocation inside a commit.
         * A failure (a full disk) only moves that preallocation to the checkpoint. */
        khorgos_error spares = storage_segment_prepare_spares((*out)->storage->storage);
        ASSERT(spares == KHORGOS_ERROR_ok || spares == KHORGOS_ERROR_no_space ||
               spares == KHORGOS_ERROR_io);
    }
    if (options->report != NULL && options->report_capacity > 0) {
        snprintf(options->report, options->report_capacity, "%s", report.message);
    }
    return error;
}

/* ---- check --------------------------------------------------------------------------------- */

struct engine_check {
    struct khorgos *engine;
    u64 base_sequence;      /* records after it are replayed */
    const struct storage_listing *listing;
    struct storage_snapshot_header headers[STORAGE_DIRECTORY_FILES_MAX];
    bool header_valid[STORAGE_DIRECTORY_FILES_MAX];
    bool loads[STORAGE_DIRECTORY_FILES_MAX]; /* the snapshot loads and reaches its digest */
    struct storage_report *report;
    /* A snapshot that could not be read at all (not damage: an I/O error, a symbolic link):
     * open fails the same way, so check reports the error rather than a classification. */
    khorgos_error snapshot_failure;
};

static khorgos_error engine_check_record(void *context, const struct storage_record_header *header,
                                         const void *body) {
    struct engine_check *check = context;
    const struct storage_listing *listing = check->listing;
    for (u32 index = 0; index < listing->snapshot_count; index++) {
        if (!check->header_valid[index] || listing->snapshots[index] != header->sequence) continue;
        u8 hash[BASE_SHA256_BYTES];
        storage_record_hash(header, body, hash);
        if (memcmp(hash, check->headers[index].chain_head, BASE_SHA256_BYTES) != 0) {
            engine_report(check->report,
                          "snapshot-%016llx records a chain head that differs from the "
                          "journal's hash of request %llu.",
                          (unsigned long long)header->sequence,
                          (unsigned long long)header->sequence);
            return KHORGOS_ERROR_corrupt;
        }
    }
    if (header->sequence <= check->base_sequence) return KHORGOS_ERROR_ok;
    khorgos_error error = engine_replay_record(check->engine, header, body);
    if (error != KHORGOS_ERROR_ok) return error;
    for (u32 index = 0; index < listing->snapshot_count; index++) {
        if (!check->header_valid[index] || listing->snapshots[index] != header->sequence) continue;
        if (engine_state_digest(check->engine) != check->headers[index].digest) {
            engine_report(check->report,
                          "snapshot-%016llx records a state digest that replay does not reach.",
                          (unsigned long long)header->sequence);
            return KHORGOS_ERROR_corrupt;
        }
    }
    return KHORGOS_ERROR_ok;
}

/* Verifies every snapshot; returns the index of the oldest that loads and that the journal
 * follows (its next request is in a segment), or count if none. */
static u32 engine_check_snapshots(struct engine_check *check, struct storage_io *io,
                                  const struct storage_superblock *superblock) {
    const struct storage_listing *listing = check->listing;
    ASSERT(listing->segment_count > 0);
    u32 base = listing->snapshot_count;
    for (u32 index = listing->snapshot_count; index-- > 0;) {
        struct khorgos *engine = NULL;
        khorgos_error error = engine_storage_attach(&engine, io, superblock, 1, check->report);
        if (error != KHORGOS_ERROR_ok) return listing->snapshot_count;
        error = engine_snapshot_load(engine, listing->snapshots[index], &check->headers[index]);
        if (error != KHORGOS_ERROR_ok && error != KHORGOS_ERROR_corrupt) {
            check->snapshot_failure = error;
            khorgos_close(engine);
            return listing->snapshot_count;
        }
        if (error == KHORGOS_ERROR_ok) {
            check->header_valid[index] = true;
            check->loads[index] = true;
            if (listing->snapshots[index] + 1 >= listing->segments[0]) base = index;
        } else {
            check->report->snapshots_damaged++;
            check->header_valid[index] =
                storage_snapshot_header_read(engine->storage->storage, listing->snapshots[index],
                                             &check->headers[index]) == KHORGOS_ERROR_ok;
        }
        khorgos_close(engine);
    }
    return base;
}

khorgos_error engine_storage_check(struct storage_io *io, struct storage_report *report) {
    ASSERT(io != NULL && report != NULL);
    memset(report, 0, sizeof(*report));
    struct storage_superblock superblock;
    khorgos_error error = engine_superblock_read(io, &superblock, report);
    if (error != KHORGOS_ERROR_ok) return error;
    static _Thread_local struct storage_listing listing;
    error = storage_list(io, &listing);
    if (error != KHORGOS_ERROR_ok) return error;
    static _Thread_local struct engine_check check;
    memset(&check, 0, sizeof(check));
    check.listing = &listing;
    check.report = report;
    if (listing.segment_count == 0) {
        engine_report(report, "no journal segment in the directory.");
        return KHORGOS_ERROR_corrupt;
    }
    u32 base = engine_check_snapshots(&check, io, &superblock);
    if (check.snapshot_failure != KHORGOS_ERROR_ok) return check.snapshot_failure;
    if (base == listing.snapshot_count) {
        engine_report(report, "no snapshot verifies: nothing to replay from.");
        return KHORGOS_ERROR_corrupt;
    }
    /* A damaged snapshot with a valid one to recover from: open serves the newest valid one
     * (engine_recover_snapshot), losing nothing. */
    if (report->snapshots_damaged > 0) {
        report->repairable = true;
        u32 newest = listing.snapshot_count - 1;
        while (!check.loads[newest]) newest--;
        engine_report(report,
                      "the next open recovers from snapshot-%016llx, the newest that verifies; "
                      "checkpoints replace the damaged one(s) within two.",
                      (unsigned long long)listing.snapshots[newest]);
    }
    error = engine_storage_attach(&check.engine, io, &superblock, 1, report);
    if (error != KHORGOS_ERROR_ok) return error;
    error = engine_snapshot_load(check.engine, listing.snapshots[base], &check.headers[base]);
    ASSERT(error == KHORGOS_ERROR_ok || error == KHORGOS_ERROR_io);
    check.base_sequence = listing.snapshots[base];
    report->snapshot_sequence = check.base_sequence;
    report->snapshot_installed = storage_listing_installed(&listing);
    if (error == KHORGOS_ERROR_ok) {
        error = storage_journal_recover(check.engine->storage->storage, check.base_sequence,
                                        check.headers[base].chain_head, false,
                                        engine_check_record, &check, report);
    }
    khorgos_close(check.engine);
    return error;
}

/* ---- check from the first request ---------------------------------------------------------- */

/* Verifies the archive's segments from request 1 (the zero hash): *last is the last archived
 * request (0 when the archive holds none) and `chain` its hash. */
static khorgos_error engine_check_archive(struct storage_io *archive,
                                         const struct storage_superblock *superblock, u64 *last,
                                         u8 chain[BASE_SHA256_BYTES],
                                         struct storage_report *report) {
    ASSERT(archive != NULL && superblock != NULL && last != NULL);
    ASSERT(chain != NULL && report != NULL);
    *last = 0;
    memset(chain, 0, BASE_SHA256_BYTES);
    static _Thread_local struct storage_listing listing;
    khorgos_error error = storage_list(archive, &listing);
    if (error != KHORGOS_ERROR_ok || listing.segment_count == 0) return error;
    struct storage *storage = NULL;
    error = storage_create(archive, superblock, &storage);
    if (error != KHORGOS_ERROR_ok) return error;
    static _Thread_local struct storage_report archived;
    memset(&archived, 0, sizeof(archived));
    error = storage_journal_recover(storage, 0, chain, false, NULL, NULL, &archived);
    if (error == KHORGOS_ERROR_ok) {
        *last = storage_sequence_next(storage) - 1;
        storage_chain_head(storage, chain);
        report->records += archived.records;
    } else {
        engine_report(report, "%s: %s", STORAGE_ARCHIVE_NAME, archived.message);
    }
    storage_destroy(storage);
    return error;
}

khorgos_error engine_storage_check_genesis(struct storage_io *io, struct storage_io *archive,
                                           struct storage_report *report) {
    ASSERT(io != NULL && report != NULL);
    memset(report, 0, sizeof(*report));
    struct storage_superblock superblock;
    khorgos_error error = engine_superblock_read(io, &superblock, report);
    static _Thread_local struct storage_listing listing;
    if (error == KHORGOS_ERROR_ok) error = storage_list(io, &listing);
    if (error != KHORGOS_ERROR_ok) return error;
    u8 chain[BASE_SHA256_BYTES];
    u64 last = 0;
    error = archive == NULL ? KHORGOS_ERROR_ok
                            : engine_check_archive(archive, &superblock, &last, chain, report);
    if (archive == NULL) memset(chain, 0, sizeof(chain));
    if (error != KHORGOS_ERROR_ok) return error;
    u64 first = listing.segment_count > 0 ? listing.segments[0] : 1;
    if (first != last + 1 && storage_listing_installed(&listing)) {
        engine_report(report,
                      "requests %llu to %llu are not in this directory: its journal starts at "
                      "snapshot-%016llx, installed from another replica, and they are only in "
                      "the journals of the replicas that applied them: the chain can be proved "
                      "only from request %llu.",
                      (unsigned long long)(last + 1), (unsigned long long)(first - 1),
                      (unsigned long long)(first - 1), (unsigned long long)first);
        return KHORGOS_ERROR_not_found;
    }
    if (first != last + 1) {
        bool kept = (superblock.flags & STORAGE_SUPERBLOCK_KEEP_JOURNAL) != 0;
        engine_report(report,
                      "requests %llu to %llu were removed by checkpoints%s: the chain can be "
                      "proved only from request %llu.",
                      (unsigned long long)(last + 1), (unsigned long long)(first - 1),
                      kept ? " and are not in the archive folder"
                           : " (the directory was not formatted with --keep-journal)",
                      (unsigned long long)first);
        return KHORGOS_ERROR_not_found;
    }
    u64 archived_records = report->records;
    struct storage *storage = NULL;
    error = storage_create(io, &superblock, &storage);
    if (error == KHORGOS_ERROR_ok) {
        error = storage_journal_recover(storage, last, chain, false, NULL, NULL, report);
        storage_destroy(storage);
    }
    if (error == KHORGOS_ERROR_ok) {
        engine_report(report,
                      "the chain verified from request 1: %llu archived record(s) in %s/, then "
                      "%llu in the journal.",
                      (unsigned long long)archived_records, STORAGE_ARCHIVE_NAME,
                      (unsigned long long)(report->records - archived_records));
    }
    return error;
}
