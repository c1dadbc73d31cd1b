/*
 * cluster: the replicated state machine. Replicas agree on a log with the raft library (the
 * cowsql fork, 0.22 or later); this layer is what each replica applies from it: a raft_fsm
 * whose entries each carry one batch of Khorgos requests, executed on the replica's engine.
 *
 * An entry (little-endian, every part a multiple of 16 bytes):
 *   header, 48 bytes:
 *     u32 magic          CLUSTER_ENTRY_MAGIC ("KHRE")
 *     u16 version        CLUSTER_ENTRY_VERSION (3); a replica refuses (corrupt) any other
 *     u16 kind           cluster_entry_kind: a batch, or a digest check
 *     u32 request_count  requests that follow (0 for a check; 0 for a batch is a clock tick)
 *     u32 reserved       zero
 *     u64 timestamp_ns   the leader's clock when it proposed the entry
 *     u64 mark           nonzero: each replica records its state digest under this number
 *                        once the entry is applied (a batch only)
 *     u64 body_bytes     bytes after the header
 *     u64 reserved       zero
 *   a batch: request_count requests, each a header of CLUSTER_REQUEST_HEADER_BYTES (80):
 *     u32 operation, u32 body_size,
 *     u32 flags          CLUSTER_REQUEST_CLIENT when the client fields below are set; else 0
 *     u32 reserved       zero
 *     the actor, 16:     u32 role, u8 bic[11] (NUL-padded), u8 reserved (zero): who sent it,
 *                        so every replica authorizes it alike
 *     the client, 48:    u128 client, u128 checksum, u64 request, u32 release, u16 batch,
 *                        u16 batch_count (struct khorgos_client_request): the session the
 *                        request belongs to, so every replica's session table takes it alike;
 *                        all zero without CLUSTER_REQUEST_CLIENT
 *     then the body packed: of its W = ceil(body_size / 16) words of 16 bytes (the last one
 *     padded with zeros), only those not all zero are kept:
 *       bitmap           ceil(W / 8) bytes, zero-padded to a multiple of 16: bit w % 8 of byte
 *                        w / 8 is set when word w is kept; bits past W are zero
 *       words            the kept words, 16 bytes each, in order
 *     A record (a transfer, an account) is 8 words, and real ones have zero words (a transfer's
 *     pending_id and often its user data and timeout): raft checksums, copies, writes and
 *     sends every byte of an entry, so those bytes cost on every replica. A kept word is never
 *     zero, so an entry has exactly one encoding.
 *   a check, 32 bytes:
 *     u64 mark, u64 reserved (zero), u128 digest: the leader's digest recorded under `mark`
 *
 * Applying is deterministic: the engine of a replica runs on a manual clock, set from the
 * entry's timestamp before the batch (engine_clock_set), so a replica never reads its own
 * clock, and expiries and settlement timers fire at the same point of the log everywhere (an
 * empty batch is the leader's clock tick that fires them). A replica's state after an entry
 * depends only on its state before and the entry.
 *
 * Divergence: a replica whose digest under a mark differs from the leader's, as the check
 * entry carries it, stops: it applies nothing more and cluster_fsm_diverged says so.
 *
 * Snapshots: a raft snapshot is the engine's snapshot file format, in memory
 * (engine_snapshot_memory_write / _load), so raft's log compaction and its snapshot transfer to
 * a lagging replica carry the same bytes a checkpoint writes, verified whole (every checksum,
 * then the digest) before any of it replaces a replica's state: a damaged one is refused
 * (corrupt) and changes nothing.
 *
 * Restart: a replica on a data directory opens its engine from its own snapshot and journal
 * (the applied record); raft then restores its latest raft snapshot and applies its log after
 * it. The journal usually holds more than that snapshot: the entries after the snapshot are
 * applied to a replay engine in memory, started from the snapshot, until it holds as many
 * requests as the journal; there its digest must equal the journal's engine's (diverged
 * otherwise), and from there on the data directory's engine applies them, from inside a batch
 * when the journal holds only its first requests (a crash cut the write). No request is
 * applied or journaled twice, and the journal's chain goes on unbroken. A snapshot ahead of the
 * journal (a lagging or new replica) becomes the data directory's newest snapshot, and the
 * journal goes on after it (engine_snapshot_install).
 */
#ifndef KHORGOS_CLUSTER_H
#define KHORGOS_CLUSTER_H

#include <raft.h>

#include "base/base.h"
#include "engine/engine.h"

#if !defined(RAFT_VERSION_NUMBER) || RAFT_VERSION_NUMBER < 2201
#error "khorgos needs the raft library 0.22.1 or later (libraft-dev from bookworm-backports)"
#endif

#define CLUSTER_ENTRY_MAGIC 0x4552484bu /* "KHRE" */
#define CLUSTER_ENTRY_VERSION 3u
#define CLUSTER_ENTRY_HEADER_BYTES 48u
#define CLUSTER_REQUEST_HEADER_BYTES 80u
/* A request header's flag: its client fields are set (a request of a client's session). */
#define CLUSTER_REQUEST_CLIENT 1u
#define CLUSTER_CHECK_BYTES 32u
/* Requests in one entry: what a server gathers while the previous entry commits; bounded so a
 * replica's reply slots are reserved once, at open. */
#define CLUSTER_ENTRY_REQUEST_COUNT_MAX 64u
/* Bytes of one entry: eight full request bodies with their headers, so that one raft message
 * stays well under the library's own limits and a follower's catch-up is not one huge write. */
#define CLUSTER_ENTRY_BYTES_MAX                                                                \
    (CLUSTER_ENTRY_HEADER_BYTES +                                                              \
     8u * (CLUSTER_REQUEST_HEADER_BYTES + LIMIT_REQUEST_BODY_BYTES_MAX))
/* Bytes of one entry as raft carries it (bodies packed): its expanded size at most
 * CLUSTER_ENTRY_BYTES_MAX, plus the bitmaps, at worst one bit per word (a 128th of the bytes)
 * and a padding of 16 bytes per request. */
#define CLUSTER_ENTRY_ENCODED_BYTES_MAX                                                        \
    (CLUSTER_ENTRY_BYTES_MAX + CLUSTER_ENTRY_BYTES_MAX / 128u +                                \
     16u * CLUSTER_ENTRY_REQUEST_COUNT_MAX)
/* Bytes of the replies of one entry's requests on a replica; a request whose reply would not
 * fit the rest is refused (reply_too_small) alike on every replica. */
#define CLUSTER_REPLY_BYTES_MAX (8u * LIMIT_REQUEST_BODY_BYTES_MAX)

/* Log compaction: a replica takes a raft snapshot once the entries it applied since its last
 * snapshot hold CLUSTER_SNAPSHOT_LOG_BYTES (`khorgos start --snapshot-log-bytes`, at least
 * CLUSTER_SNAPSHOT_LOG_MIN_BYTES), or the last snapshot's size when that is larger, or once
 * they number CLUSTER_SNAPSHOT_THRESHOLD_ENTRIES, whichever comes first. Bytes, because an
 * entry is a batch of 48 bytes to 8 MiB: 4,096 entries could be 32 GiB of raft log, which raft
 * also keeps in memory and a restart replays. 256 MiB bounds both (about two million
 * transfers) while a snapshot, which is taken inline in raft's loop and costs about the state's
 * size, comes at most once per state's worth of log. After a snapshot the newest entries are
 * kept, so a follower behind by fewer catches up from the log and only one further behind gets
 * the whole snapshot: CLUSTER_SNAPSHOT_TRAILING_ENTRIES after a snapshot the entry count
 * called, a quarter of the entries since the last snapshot (about a quarter of the bytes)
 * after one the bytes called, at most the same count. raft counts only entries, so the fsm
 * lowers raft's threshold to the entries it counted when the bytes are reached, and raises it
 * again at the snapshot (cluster_raft_configure). */
#define CLUSTER_SNAPSHOT_THRESHOLD_ENTRIES 4096u
#define CLUSTER_SNAPSHOT_TRAILING_ENTRIES 1024u
#define CLUSTER_SNAPSHOT_LOG_BYTES (256u << 20)
#define CLUSTER_SNAPSHOT_LOG_MIN_BYTES (64u << 10)
/* Promoting a standby to voter (docs/replication.md, "Adding a replica"): raft promotes it once
 * a catch-up round (bringing it to the leader's last index as the round began) ends within one
 * election timeout, and otherwise starts another round. raft's defaults (10 rounds, a round
 * given up after 5 s) failed promotions under steady traffic on a loaded machine, and failed
 * every first round of a fresh replica whose snapshot took longer than 5 s to send and
 * install: `khorgos cluster add` then asked again and again (a replacement took 30 to over 90
 * s). A longer round and more rounds change only how long raft tries; it still promotes only
 * a standby that caught up within an election timeout. 60 s is twice raft's own time for one
 * snapshot install (30 s). */
#define CLUSTER_CATCH_UP_ROUNDS_MAX 100u
#define CLUSTER_CATCH_UP_ROUND_MS_MAX 60000u
/* The first snapshot buffer tried; a larger state retries once with the size it needs. */
#define CLUSTER_SNAPSHOT_BYTES_FIRST (1u << 20)

/* raft's heap in a replica process (cluster_heap.c): freed blocks of at least
 * CLUSTER_HEAP_CACHED_BYTES_MIN are kept, at most CLUSTER_HEAP_CACHE_BLOCKS of them and
 * CLUSTER_HEAP_CACHE_BYTES_MAX in all, and given out again, so that the megabyte buffers raft
 * allocates for every entry (its copy on a follower, a message's payload, a segment's write
 * buffer, the leader's entry) keep their pages rather than fault them in anew each time. The
 * bounds hold the buffers of a few entries in flight at full batches (each at most
 * CLUSTER_ENTRY_BYTES_MAX), while a replica's memory stays bounded. */
#define CLUSTER_HEAP_CACHED_BYTES_MIN (64u << 10)
#define CLUSTER_HEAP_CACHE_BLOCKS 16u
#define CLUSTER_HEAP_CACHE_BYTES_MAX (64u << 20)
/* A large block the cache cannot serve is carved from a chunk of this many bytes, mapped on
 * huge pages (cluster_heap.c: a new page's first write is what costs): four huge pages, so that
 * a chunk holds about ten entries of a full batch and the part of a chunk left unused when the
 * next block does not fit stays small against it. */
#define CLUSTER_HEAP_CHUNK_BYTES (8u << 20)
/* Chunks kept mapped and resident with no block in them (cluster_heap_reserve): as many as hold
 * CLUSTER_SNAPSHOT_LOG_BYTES, the log a replica keeps in memory before compaction at the
 * default setting. */
#define CLUSTER_HEAP_SPARE_CHUNKS_MAX (CLUSTER_SNAPSHOT_LOG_BYTES / CLUSTER_HEAP_CHUNK_BYTES)

struct cluster_heap_stats {
    u32 cached_blocks;
    u64 cached_bytes;
    u64 reused_blocks; /* allocations served from the cache since install */
    u32 chunks;        /* chunks mapped, spare ones included */
    u32 spare_chunks;  /* mapped and resident, with no block in them */
    /* Frees of a block already in the cache: raft freed it twice. Ignored, so the cache holds
     * it once, but raft may still use memory it freed, so a replica stops (`raft_failed`). */
    u64 double_frees;
};

/* Makes this heap raft's (raft_heap_set), once per process, before raft allocates anything:
 * a block from another heap must never reach it. */
void cluster_heap_install(void);
/* Back to raft's default heap, the cache freed: only once every block from this heap was
 * freed (the tests). */
void cluster_heap_uninstall(void);
struct cluster_heap_stats cluster_heap_stats(void);
/* Reserves memory for raft's log at start (TIGER_STYLE: memory reserved at start): maps and
 * makes resident the chunks that hold `bytes` (at most CLUSTER_HEAP_SPARE_CHUNKS_MAX), and from
 * then on keeps that many chunks mapped when their last block is freed rather than unmap them.
 * Measured on the 2-core VM: a chunk's pages written for the first time cost the kernel's
 * zeroing of each huge page and a fault, about 0.1 s per replica for the 32 MiB of entries of
 * 400,000 transfers, paid in the commit path; reserved, they are paid once, at start. out_of_memory
 * when the chunks cannot be mapped (those that could are kept). */
khorgos_error cluster_heap_reserve(u64 bytes);

/* A block raft may free twice. raft 0.22.1's receive callback (legacy.c, recvCb) frees the
 * entries of a received AppendEntries again whenever the step on it, or the I/O after it,
 * failed, while the step has freed them already (recvAppendEntries on its error path;
 * legacyHandleUpdateEntries once it copied them, before its I/O): a double free that glibc
 * aborts on, or, for a block this heap keeps, one block given out twice. The hold
 * (cluster_hold.c) guards the entries for the length of each receive: a free of the guarded
 * block is put off to the guard's end, where the block is freed once. Begin returns false (and
 * guards nothing) when this heap is not raft's; end returns how many times raft freed the
 * block meanwhile: 0 (it is still raft's), 1, or 2 (the step failed). One block at a time, on
 * the loop's thread. */
bool cluster_heap_guard_begin(void *pointer);
u32 cluster_heap_guard_end(void);
/* Keeps a block past raft's frees until cluster_heap_keep_end: an InstallSnapshot's data while
 * raft_uv writes it (cluster_hold_send). A free meanwhile is counted and put off; the end frees
 * the block once if it was freed at all, and returns the count: 1 when raft freed it once,
 * 2 or more when raft freed it while the write still used it (a double free otherwise).
 * false when CLUSTER_HEAP_KEEPS_MAX blocks are kept already, or the heap is not raft's. Any
 * thread; the table is behind the heap's mutex. */
#define CLUSTER_HEAP_KEEPS_MAX 64u
bool cluster_heap_keep_begin(void *pointer);
u32 cluster_heap_keep_end(void *pointer);

/* ---- raft's last messages (cluster_trace.c) -------------------------------------------------
 * raft and raft_uv format a message at each step and hand it to their tracer (raft's own prints
 * them only when the environment sets LIBRAFT_TRACE). A replica's tracer keeps the last
 * CLUSTER_TRACE_LINES of them, each cut at CLUSTER_TRACE_LINE_BYTES, in one ring per process
 * (the tests' replicas in one process share it), so that a replica that stops on raft's
 * failure, or dies inside raft, can say what raft did last; with LIBRAFT_TRACE set it also
 * prints each line to standard error, as raft's does. The bounds: a step of raft writes a few
 * lines and raft_uv a few per entry, so 128 lines hold the last few steps; raft's messages are
 * short (a path is the longest part). */
#define CLUSTER_TRACE_LINES 128u
#define CLUSTER_TRACE_LINE_BYTES 256u
/* A message equal to one of the last 4 lines (its time aside) is counted on that line rather
 * than kept again: a step raft repeats writes up to 3 lines. */
#define CLUSTER_TRACE_REPEAT_LINES 4u

/* raft's tracer, and raft_uv's when `uv_io` is raft_uv's I/O (NULL otherwise): after
 * raft_init. */
void cluster_trace_install(struct raft *raft, struct raft_io *uv_io);
/* Keeps a line of the replica's own among raft's (the snapshot work the hold sees), printf's
 * format; nothing before cluster_trace_install. */
void cluster_trace_note(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* The newest min(capacity, lines held) lines, oldest first, a repeated one ending "(and N more
 * times)"; returns how many. */
u32 cluster_trace_copy(char lines[][CLUSTER_TRACE_LINE_BYTES], u32 capacity);
/* Every line held, oldest first, each `raft: LINE`, to `fd` with write(2) only and no lock: for
 * a crash report (async-signal-safe). */
void cluster_trace_write(int fd);
/* Forgets the lines held (the tests). */
void cluster_trace_reset(void);

/* ---- Between raft and its snapshot I/O (cluster_hold.c) -------------------------------------
 * raft 0.22.1's raft_fsm layer mishandles overlaps of snapshot work, a failed step on
 * received entries, an unpersisted term or vote, and the memory of entries it loaded; the hold
 * sits between raft and its raft_io (the I/O's start, which receives raft's receive callback,
 * load, set_term, set_vote, snapshot_put, snapshot_get and send are replaced) and keeps each
 * from happening, or from corrupting the heap:
 * - A leader's InstallSnapshot that reaches a replica while the replica's own snapshot is
 *   being written (from raft's call of the fsm's snapshot method until snapshot_put calls
 *   back): raft moves its in-memory log to the leader's snapshot at once but holds the install
 *   back, then, when its own snapshot is written, compacts a log that no longer holds that
 *   snapshot's index (with raft's assertions on: "TrailSnapshot: last_term != 0") and starts
 *   the held install through a pointer it has just cleared. The hold keeps such a message from
 *   raft and gives it to raft as soon as raft's own snapshot has called back; raft sees a
 *   message that arrived a little later. One message is held at a time; a newer one from the
 *   leader replaces it. A sender's address longer than CLUSTER_HOLD_ADDRESS_BYTES (raft
 *   addresses here are CLUSTER_ADDRESS_BYTES) is not held: the message is dropped as a lost
 *   one, and the leader sends its snapshot again.
 * - A leader's load of its snapshot (snapshot_get, to send it) that fails: raft then frees the
 *   InstallSnapshot message's data and configuration, which it never set (legacy.c,
 *   legacyLoadSnapshotCb), a double free. raft_uv's load lists raft's directory, and the listing
 *   fails when a snapshot being written meanwhile removes the oldest one between the listing
 *   and its look at that file. The hold never runs a load and a write together: a load asked
 *   for while a snapshot is written starts when the write has called back, and a write asked
 *   for while loads run starts when they have called back. At most CLUSTER_HOLD_GETS_MAX loads
 *   wait (raft asks for one per follower it sends a snapshot); one more starts at once. A
 *   waiting load is not started once raft closes (its request is left to the process's end).
 *   A load that fails all the same (a disk error) is not given back to raft: its request is
 *   left, and the leader, hearing nothing from that follower, sends its snapshot again after
 *   raft's install timeout (30 s), with a new load.
 * - A leader's load that returns a newer snapshot than raft's core asked for: a write that
 *   ended before the load ran (every load that waited for a write) left a newer snapshot on
 *   disk, and raft's legacy layer sends its index under the term of the one asked for
 *   (legacy.c, legacyLoadSnapshotCb). When the terms differ, a replica that installs it holds
 *   a term for that index unlike the leader's log and refuses every entry after it. The hold
 *   keeps the snapshot asked for (raft's trail, when the load is asked for) with each load; a
 *   load of a newer index of another term reaches raft, which sends it at once, and the hold
 *   names that snapshot's own term in the InstallSnapshot (gets_newer_total). raft's core,
 *   which asked for the older one, takes the follower's answer (its last index, the newer
 *   snapshot's) as the install done: a follower's match at or past the snapshot asked for.
 * - A leader's load that calls back after raft_close has begun: raft sends the loaded snapshot
 *   at once (legacyLoadSnapshotCb) without looking whether it closes, and raft_uv's send on its
 *   closing I/O (refused only by an assertion, which raft's packaged build leaves out) opens a
 *   new connection on the closing transport. Neither close waits for it: raft's close callback,
 *   where the caller frees the I/O and the transport (raft_uv_close, raft_uv_tcp_close), comes
 *   first, and the connection's callbacks then run on freed memory and call the transport's
 *   close callback a second time (a SIGSEGV as the process closes, a corrupted heap, or a loop
 *   that never empties). The hold refuses every send once raft closes (RAFT_CANCELED): raft
 *   then frees the message it built from the snapshot, and nothing is left on the loop.
 * - A received AppendEntries whose step, or the I/O after it, fails (raft_step's error, an
 *   append the I/O refuses): raft frees its entries twice (cluster_heap_guard_begin). The hold
 *   guards them for the length of the receive, so they are freed once, and counts the failure
 *   with raft's message (receive_failed_total, receive_error). raft then holds entries in
 *   memory that it may never write, so the replica stops (`raft_failed`) and says why, with
 *   raft's last messages (cluster_trace.c).
 * - A term or vote raft could not persist (set_term, set_vote refused: a disk that is full,
 *   read-only or failing). raft's legacy layer returns the error from the step, which its tick
 *   and receive callbacks then ignore (an assertion, left out of the packaged build), and goes
 *   on with the term and vote in memory only: a later step may answer from that vote (a
 *   candidate's repeated request granted), and after a crash the replica would not remember
 *   it, free to vote again in the same term, which is how one term gets two leaders. The hold
 *   counts the failure with the I/O's message (persist_failed_total, persist_error), refuses
 *   every send from then on, so nothing built on the unpersisted term or vote leaves the
 *   replica, and the replica stops (`raft_failed`).
 * - Entries raft loads at start, freed while a send still holds some of them. raft_uv loads a
 *   log segment into one buffer, and every entry of the segment points into it (its `batch`).
 *   raft's log frees a batch when an entry of it loses its last reference and no entry left
 *   in the log shares it (log.c, isBatchReferenced), without looking at references held
 *   elsewhere. A leader's AppendEntries holds at most max_inflight_entries (32) of a
 *   segment's entries. Take a snapshot, or a truncation, that removes the segment's other
 *   entries from the log while that send waits for a connection or is being written: the
 *   buffer is freed under the send, and freed again when the send calls back
 *   (legacySendMessageCb). The hold wraps the I/O's load and gives every loaded entry a block
 *   of its own (buf.base and batch both point to it; loaded_entries_total counts them), as
 *   raft's own entries written since start already have, so a batch is one entry and its
 *   reference count is exact. The copy costs a pass over the log at start.
 * - A message's payload that raft frees while raft_uv still writes it, and frees again when
 *   the write calls back (legacy.c, legacySendMessageCb: an InstallSnapshot's data, or the
 *   batches of an AppendEntries' entries, whose release frees a batch with its last
 *   reference), by a path not covered above: the write would send freed memory, and the
 *   second free corrupt the heap. The hold has the heap keep the payload's blocks (at most
 *   two) of every such message it sends until its write calls back (cluster_heap_keep_begin),
 *   then free them once; such an early free is counted (cluster_hold_payloads_freed_early).
 * At most CLUSTER_HOLDS_MAX raft instances in one process are held (one in a replica process,
 * one per server in the tests' fixture). */
#define CLUSTER_HOLDS_MAX 8u
#define CLUSTER_HOLD_ADDRESS_BYTES 256u
#define CLUSTER_HOLD_GETS_MAX 16u
/* raft's own error messages are at most RAFT_ERRMSG_BUF_SIZE (256) bytes. */
#define CLUSTER_HOLD_ERROR_BYTES 256u

/* A snapshot load raft asked for, with the snapshot raft's core named then (the one its
 * InstallSnapshot names, replication.c, sendSnapshot). */
struct cluster_hold_get {
    struct raft_io_snapshot_get *get;
    raft_index asked_index;
    raft_term asked_term;
    bool running; /* false: waiting for the write */
};

struct cluster_hold_put {
    unsigned trailing;
    struct raft_io_snapshot_put *put;
    const struct raft_snapshot *snapshot;
    raft_io_snapshot_put_cb done; /* raft's */
    bool take;                    /* raft's own snapshot, not a leader's installed */
};

struct cluster_hold_snapshot_id {
    raft_index index;
    raft_term term;
};

struct cluster_hold {
    struct raft *raft;
    struct raft_io *io;
    int (*start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv);
    int (*snapshot_put)(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *put,
                        const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb);
    int (*snapshot_get)(struct raft_io *io, struct raft_io_snapshot_get *get,
                        raft_io_snapshot_get_cb cb);
    int (*send)(struct raft_io *io, struct raft_io_send *req, const struct raft_message *message,
                raft_io_send_cb cb);
    int (*set_term)(struct raft_io *io, raft_term term);
    int (*set_vote)(struct raft_io *io, raft_id server_id);
    int (*load)(struct raft_io *io, raft_term *term, raft_id *voted_for,
                struct raft_snapshot **snapshot, raft_index *start_index,
                struct raft_entry *entries[], size_t *n_entries);
    raft_io_recv_cb receive;          /* raft's */
    raft_io_snapshot_get_cb get_done; /* raft's */
    struct cluster_hold_put put;      /* the write in flight, or waiting (`put.put` set) */
    bool put_running;
    u32 gets_count;                   /* loads running or waiting, in `gets` */
    struct cluster_hold_get gets[CLUSTER_HOLD_GETS_MAX];
    struct raft_message message; /* the held InstallSnapshot, when `held` */
    char address[CLUSTER_HOLD_ADDRESS_BYTES];
    bool held;
    u64 held_total;    /* messages held since install */
    u64 dropped_total; /* messages dropped: replaced, address too long, or raft closing */
    u64 waited_total;  /* loads and writes that waited for the other kind */
    u64 gets_failed_total; /* loads that failed, kept from raft */
    u64 sends_refused_total; /* sends raft asked for once it closed or failed to persist */
    /* Loads of a newer snapshot of another term than raft asked for, sent under their own term;
     * `newer` names the one raft sends while its load's callback runs. */
    u64 gets_newer_total;
    struct cluster_hold_snapshot_id newer;
    u64 loaded_entries_total; /* entries raft's start loaded, each given a block of its own */
    /* Received AppendEntries whose step failed (cluster_heap_guard_begin), and raft's message
     * (raft_errmsg) of the last one. */
    u64 receive_failed_total;
    char receive_error[CLUSTER_HOLD_ERROR_BYTES];
    /* Terms and votes the I/O refused to persist, and the I/O's message for the first. */
    u64 persist_failed_total;
    char persist_error[CLUSTER_HOLD_ERROR_BYTES];
};

/* Puts the hold between `raft` and its I/O: after raft_init, before raft_start. false when
 * CLUSTER_HOLDS_MAX holds are in place. */
bool cluster_hold_install(struct cluster_hold *hold, struct raft *raft);
/* Takes the hold out of the table, freeing a message still held: after raft_close has called
 * back. The I/O, closed with raft, is not touched (the tests' fixture frees it at close). */
void cluster_hold_uninstall(struct cluster_hold *hold);
/* Sends whose payload raft freed while raft_uv's write of it still ran, in this process (an
 * InstallSnapshot's data, an AppendEntries' entries): the heap kept the payload until the write
 * called back (cluster_heap_keep_begin), then freed it once. */
u64 cluster_hold_payloads_freed_early(void);

/* `bytes` rounded up to the 16 bytes every part of an entry (and of the replies) is padded
 * to. */
static inline u64 cluster_padded_bytes(u64 bytes) {
    ASSERT(bytes <= U64_MAX - 15);
    return (bytes + 15) & ~(u64)15;
}

enum cluster_entry_kind {
    CLUSTER_ENTRY_BATCH = 1,
    CLUSTER_ENTRY_CHECK = 2,
};

/* Bytes of a batch entry holding these requests (operation, actor, client and body of each),
 * expanded: every body whole, padded to 16 bytes. At most CLUSTER_ENTRY_BYTES_MAX. */
u64 cluster_entry_batch_bytes(const struct khorgos_request *requests, u32 count);
/* Bytes a buffer needs to encode these requests: the expanded bytes and every bitmap (the
 * encoded entry is at most this, less by 16 bytes per zero word). */
u64 cluster_entry_batch_capacity_bytes(const struct khorgos_request *requests, u32 count);
/* Writes a batch entry into `buffer` (buffer_bytes at least cluster_entry_batch_capacity_bytes)
 * and its size to `entry_bytes`. invalid_argument when it would exceed the limits above, or
 * the buffer; nothing is written then. */
khorgos_error cluster_entry_batch_encode(void *buffer, u64 buffer_bytes, u64 timestamp_ns,
                                         u64 mark, const struct khorgos_request *requests,
                                         u32 count, u64 *entry_bytes);
/* A body's bitmap bytes (its words' bits, padded to 16 bytes). */
u64 cluster_body_bitmap_bytes(u32 body_size);
/* Packs a body: its bitmap, then its words that are not zero, into `out`, which must hold
 * cluster_body_bitmap_bytes plus the padded body. Returns the bytes written. */
u64 cluster_body_pack(const u8 *body, u32 body_size, u8 *out);
/* Expands an entry as raft carries it into `out` (CLUSTER_ENTRY_BYTES_MAX, 16-byte aligned):
 * the same header, with body_bytes the expanded body's, and each body whole, zero-padded to 16
 * bytes. Checks the magic, the version, the sizes against the limits and the bytes, and each
 * bitmap against its words (no bit past the body's words, no kept word that is zero, no byte
 * missing or left over): corrupt otherwise. The rest of an entry is checked by the apply. */
khorgos_error cluster_entry_expand(const void *entry, u64 entry_bytes, void *out,
                                   u64 *out_bytes);
/* The inverse: packs an entry cluster_entry_expand produced into `out`
 * (CLUSTER_ENTRY_ENCODED_BYTES_MAX); returns its bytes. */
u64 cluster_entry_pack(const void *expanded, u64 expanded_bytes, void *out);
/* Writes a check entry (CLUSTER_ENTRY_HEADER_BYTES + CLUSTER_CHECK_BYTES bytes). */
void cluster_entry_check_encode(void *buffer, u64 timestamp_ns, u64 mark, u128 digest);

/* The leader's side. The timestamp to stamp on the next entry: the leader's clock, but never
 * before what its engine already applied, so time does not step back when leadership moves to
 * a replica whose clock is behind. */
u64 cluster_leader_timestamp(const struct khorgos *engine, u64 clock_ns);
/* True when an expiry or settlement timer of the leader's engine is due by `clock_ns`: the
 * leader then proposes an empty batch (a clock tick) that fires it on every replica. */
bool cluster_leader_tick_due(const struct khorgos *engine, u64 clock_ns);

/* What the last apply did, for the leader's raft_apply callback: the requests with their
 * errors, timestamps and replies (the replies point into the fsm's own buffer). Valid until the
 * next entry is applied. */
struct cluster_apply_result {
    khorgos_error error; /* ok, corrupt (malformed entry: nothing applied), stopped, diverged */
    u32 request_count;
    struct khorgos_request requests[CLUSTER_ENTRY_REQUEST_COUNT_MAX];
};

/* The state machine of one replica over its engine (which it does not own). */
/* Committed entries a follower holds back to apply once it has acknowledged the entries it is
 * writing (cluster_fsm.defer, docs/replication.md "A follower acknowledges before it applies"):
 * a few, since it applies them at the latest when its write completes; one more is applied at
 * once after applying those. */
#define CLUSTER_DEFERRED_ENTRIES_MAX 4u

struct cluster_deferred_entry {
    u8 *bytes; /* a copy, from raft_malloc (16-byte aligned) */
    u64 size_bytes;
};

struct cluster_fsm {
    struct raft_fsm raft; /* handed to raft_init; raft.data points back here */
    struct khorgos *engine;
    /* The last digest recorded under a mark, and its mark (0 before any). */
    u64 mark;
    u128 mark_digest;
    /* Set when a check found this replica's digest different: it applies nothing more. */
    bool diverged;
    u64 diverged_mark;
    u64 entries_applied;
    /* A restarted replica's replay engine (cluster.h, restart), or NULL. */
    struct khorgos *replay;
    /* What stopped the replica besides divergence: corrupt (the journal ends inside one
     * request's records, or before raft's snapshot), diverged (the replay's state differs from
     * the journal's); ok while it runs. */
    khorgos_error stop_error;
    khorgos_error restore_error; /* the last restore's outcome */
    u64 snapshots_taken;
    u64 snapshots_restored;
    u64 snapshots_installed; /* of those, taken into a data directory ahead of its journal */
    /* Replays that reached the journal's end inside a batch, whose rest the data directory's
     * engine then applied from raft's log (a crash cut the journal's write of it). */
    u64 journal_continued;
    u64 journal_continued_sequence; /* the journal's last request where the last one began */
    u64 snapshot_capacity_bytes; /* the next snapshot's first buffer */
    u64 snapshot_last_bytes;     /* the size of the last snapshot taken */
    /* Log compaction (cluster_raft_configure): the raft whose threshold the fsm lowers, NULL
     * when the caller sets raft's thresholds itself, and what was applied since the last
     * snapshot (taken or restored). */
    struct raft *compaction_raft;
    u32 compaction_threshold_entries;
    u32 compaction_trailing_entries;
    u64 compaction_log_bytes;
    u64 applied_since_snapshot_bytes;
    u32 applied_since_snapshot_entries;
    bool compaction_by_bytes; /* raft's threshold is lowered: the bytes were reached */
    u8 *replies;     /* CLUSTER_REPLY_BYTES_MAX */
    u8 *entry_copy;  /* CLUSTER_ENTRY_BYTES_MAX: the entry being applied, expanded */
    struct cluster_apply_result result;
    /* Optional: called from raft's apply method right after each entry is applied, with the
     * entry's bytes and the result, valid only during the call. raft may call a proposal's
     * callback after further entries were applied, so a leader takes an entry's results here
     * (recognizing its entry by its bytes: raft hands the state machine a copy). */
    void (*applied)(void *context, const void *entry, u64 entry_bytes,
                    const struct cluster_apply_result *result);
    void *applied_context;
    /* The client fields of the requests being applied (their `client` points here). */
    struct khorgos_client_request clients[CLUSTER_ENTRY_REQUEST_COUNT_MAX];
    /* Optional: whether raft's apply may defer the entry it hands over (a follower's, whose
     * result nobody reads): the entry is then copied to `deferred` and applied by
     * cluster_fsm_apply_deferred, in order, before any other entry, snapshot or restore. */
    bool (*defer)(void *context);
    void *defer_context;
    struct cluster_deferred_entry deferred[CLUSTER_DEFERRED_ENTRIES_MAX];
    u32 deferred_count;
    u64 entries_deferred;
};

/* Prepares an fsm over `engine`, which must run on a manual clock (khorgos_config.clock_manual
 * or khorgos_open_options.clock_manual): invalid_argument otherwise; out_of_memory. From a
 * successful init the fsm owns the engine (a restore may replace an engine in memory: read it
 * as fsm->engine), and cluster_fsm_deinit closes it. */
khorgos_error cluster_fsm_init(struct cluster_fsm *fsm, struct khorgos *engine);
void cluster_fsm_deinit(struct cluster_fsm *fsm);
/* Sets a replica's log compaction and its standbys' catch-up (CLUSTER_CATCH_UP_*), after
 * raft_init. Compaction: a snapshot every `threshold_entries`
 * entries keeping `trailing_entries`, or once the entries applied since the last snapshot hold
 * `log_bytes` (or the last snapshot's size if larger; "Log compaction" above). */
void cluster_raft_configure(struct raft *raft, struct cluster_fsm *fsm, u32 threshold_entries,
                            u32 trailing_entries, u64 log_bytes);
/* The fsm's state as a snapshot in a raft_malloc buffer (raft_fsm's snapshot method).
 * out_of_memory, or invalid_operation while its engine's journal has a batch in flight or while
 * a restarted replica replays to its journal's end (its snapshot must record the chain head of
 * its last request, which the replay engine in memory has not). */
khorgos_error cluster_fsm_snapshot(struct cluster_fsm *fsm, struct raft_buffer *buffer);
/* Applies the deferred entries, in order (the applied hook called for each), and frees them. */
void cluster_fsm_apply_deferred(struct cluster_fsm *fsm);
/* Replaces the fsm's state by a snapshot's (raft_fsm's restore method; the comment above the
 * function says how, for an engine on a data directory). corrupt or format_version when the
 * snapshot does not verify whole, and nothing changes; a disk failure while a data directory
 * takes it stops the engine (io, no_space). */
khorgos_error cluster_fsm_restore(struct cluster_fsm *fsm, const void *bytes, u64 size_bytes);
/* Waits until the data directory's journal holds every request applied so far (ok at once
 * for an engine in memory); io, no_space or stopped when its journal failed. Entries are
 * applied with khorgos_execute_begin alone: a batch's journal write and fdatasyncs run while
 * the next entry is replicated, and the next begin waits for them, so the journal may lag
 * raft's applied index by one batch. That is safe because an entry is applied only once it is
 * committed, durable in raft's log on a majority, and a restart applies again, from raft's
 * log, whatever the journal lacks (docs/replication.md, "Durability"). A snapshot and a
 * restore wait first: a snapshot records the journal's chain head and raft compacts its log up
 * to it, so it never covers a request the journal could still lose; so must any caller that
 * reads the journal (khorgos_chain_head). */
khorgos_error cluster_fsm_journal_wait(struct cluster_fsm *fsm);
/* Why the replica stopped applying entries: ok while it runs, diverged, or corrupt. */
khorgos_error cluster_fsm_stopped(const struct cluster_fsm *fsm);
/* Applies one entry (the raft_fsm apply method calls this; tests may too). */
const struct cluster_apply_result *cluster_fsm_apply(struct cluster_fsm *fsm, const void *entry,
                                                     u64 entry_bytes);
/* True once a check entry found this replica's state different from the leader's. */
bool cluster_fsm_diverged(const struct cluster_fsm *fsm);

/* ---- Identity (cluster_identity.c) -------------------------------------------------------
 * `khorgos format --cluster ID --replica N --replica-count 3|5` records which cluster a data
 * directory belongs to and which replica it is, in a file of the cluster layer's own beside the
 * storage's (the storage's files ignore names they do not know):
 *   DIR/cluster, 64 bytes, 0600, written once (O_EXCL), fdatasync'd, the directory fsync'd:
 *     u128 checksum       XXH3-128 of the 48 bytes after it
 *     u128 cluster        the cluster id every client message carries (TigerBeetle's)
 *     u32  magic          CLUSTER_IDENTITY_MAGIC ("KHCL")
 *     u16  version        CLUSTER_IDENTITY_VERSION
 *     u8   replica        this replica's index, 0 .. replica_count - 1
 *     u8   replica_count  3 or 5: the slots of the cluster's address list
 *     u32  generation     0 for a replica formatted with the cluster; a replacement of a
 *                         replica whose data was lost is formatted with a higher one
 *     u8   voters         the replicas 0 .. voters - 1 are the first configuration's voters;
 *                         0 means all replica_count
 *     u8   reserved[19]   zero (checked)
 *
 * A replica's raft id is CLUSTER_RAFT_ID_SLOTS x generation + replica + 1
 * (cluster_membership.c): a replacement joins under its predecessor's index (its address, its
 * place in the view) as a new raft server, since the old one may have voted in the current
 * term and acknowledged entries the new directory does not hold. A replica of generation 0
 * below `voters` bootstraps the first configuration; any other joins it: it waits, with no
 * configuration, until the leader adds it (`khorgos cluster add`).
 */
#define CLUSTER_IDENTITY_NAME "cluster"
#define CLUSTER_IDENTITY_MAGIC 0x4C43484Bu /* "KHCL" */
#define CLUSTER_IDENTITY_VERSION 1u
#define CLUSTER_IDENTITY_BYTES 64u
/* Replicas in a cluster: 3 (survives one failure) or 5 (two). One replica is a single node,
 * which needs no consensus; more than 5 adds latency to every commit for little more safety. */
#define CLUSTER_REPLICA_COUNT_MAX 5u
/* A raft id holds a replica's index and its generation: raft ids of one generation take this
 * many consecutive numbers (more than CLUSTER_REPLICA_COUNT_MAX, a power of two for reading). */
#define CLUSTER_RAFT_ID_SLOTS 8u
/* Replacements of one replica: its generation, so that its raft id stays far below 2^63. */
#define CLUSTER_GENERATION_MAX 1000000u

struct cluster_identity {
    u128 cluster;
    u8 replica;
    u8 replica_count;
    u8 voters; /* 0: all */
    u32 generation;
};

struct cluster_identity_file {
    u128 checksum;
    u128 cluster;
    u32 magic;
    u16 version;
    u8 replica;
    u8 replica_count;
    u32 generation;
    u8 voters;
    u8 reserved[19];
};

/* replica_count 3 or 5, replica below it, voters at most replica_count and generation at most
 * CLUSTER_GENERATION_MAX. */
bool cluster_identity_valid(const struct cluster_identity *identity);
/* Writes DIR/cluster. invalid_argument (an invalid identity: nothing written), exists (the
 * directory already has one), io or no_space with `message` naming the file, the call and the
 * cause. */
khorgos_error cluster_identity_write(const char *directory,
                                     const struct cluster_identity *identity, char *message,
                                     size_t capacity);
/* Reads DIR/cluster: not_found (a single node's directory), corrupt, format_version, io; the
 * message names the file and the cause. */
khorgos_error cluster_identity_read(const char *directory, struct cluster_identity *identity,
                                    char *message, size_t capacity);

#endif /* KHORGOS_CLUSTER_H */
