/*
 * storage: the data directory of an engine. A durable, tamper-evident journal of requests with
 * group commit, checkpoints (snapshots) made of one section per module, and crash recovery.
 * This is the layer's one interface header; docs/storage.md is the operator's version.
 *
 * Files of this layer
 *   storage_io_posix.c   the real I/O: openat/pwrite/fdatasync/fallocate/renameat on a directory
 *   storage_io_fault.c   a deterministic, seeded, in-memory I/O that injects faults (simulation)
 *   storage_journal.c    journal records, segments, group commit, scanning and torn tails
 *   storage_snapshot.c   snapshot files, section writer and reader
 *   storage_checkpoint.c a checkpoint's thread: writes, seals, publishes and collects a
 *                        snapshot from a state its owner captured (the owner's sections)
 *   storage_pace.c       pacing that thread's writes against the journal's
 *   storage_directory.c  the superblock, format, listing the files of a directory, check
 * The engine drives them (src/engine/engine_storage.c: capture, policy, recovery); the ledger
 * writes its own section (src/ledger/ledger_snapshot.c).
 *
 * ---------------------------------------------------------------------------------------------
 * The data directory
 *
 *   superblock                  written once by format (beside, fsync, rename, fsync dir)
 *   snapshot-<S>                the state after request S (16 lowercase hex digits)
 *   journal-<F>, headers-<F>    a journal segment whose first request is F, and the redundant
 *                               copies of its record headers
 *   lock                        held by the one writer (storage_io_posix.c); its pid as text
 * Format writes the superblock, snapshot-0000000000000000 (the empty state) and the first
 * segment journal-0000000000000001. A checkpoint at request S starts segment S+1 when the
 * journal is idle (otherwise snapshot-<S> falls inside the current segment, whose records up
 * to S recovery verifies for the chain and skips), then writes snapshot-<S>; once that is
 * durable, snapshots older than the previous one and the segments wholly before the previous
 * snapshot are deleted (with STORAGE_SUPERBLOCK_KEEP_JOURNAL the segments are moved into the
 * archive folder instead). So the newest two snapshots and every request after the older of
 * them are always on disk.
 *
 * Superblock (256 bytes, little-endian, as every integer below):
 *     0  16  checksum                XXH3-128 of bytes 16..255
 *    16   8  magic                   "KHORGOS\0"
 *    24   4  format_version          STORAGE_FORMAT_VERSION; any other is refused
 *    28   4  account_count_max       capacities fixed at format time
 *    32   4  transfer_count_max
 *    36   4  account_balance_count_max
 *    40   8  segment_bytes           preallocated size of each journal file
 *    48   4  segment_records_max     records per segment (headers file = this * 128 bytes)
 *    52   4  flags                   STORAGE_SUPERBLOCK_KEEP_JOURNAL, else zero
 *    56   8  formatted_at_ns         realtime clock at format, informational
 *    64   4  participant_count_max   settlement capacities (0: the build's default)
 *    68   4  payment_count_max
 *    72  16  cluster                 the cluster id every client message names
 *    88 168  reserved (zero)
 *
 * Journal record (header 192 bytes, then the body, then zero bytes up to a multiple of 16, so
 * every header is aligned for its 128-bit fields; records follow each other in a segment, the
 * first at offset 0; "padded body" below is the body with those zeros):
 *     0  16  checksum                XXH3-128 of header bytes 16..191
 *    16  16  checksum_body           XXH3-128 of the padded body
 *    32   8  offset                  this record's offset in its journal file
 *    40   8  commit_first            sequence of the first record of the same commit (write)
 *    48   4  magic                   "KHJR"
 *    52  12  reserved (zero)
 *    64  32  hash_previous           SHA-256 hash of the previous record (see chain below)
 *    96   8  sequence                1, 2, 3, ... over the life of the directory
 *   104   8  timestamp               the timestamp the engine assigned (ns since the epoch)
 *   112   4  operation               opaque to the journal (enum khorgos_operation)
 *   116   4  body_size               bytes of body after the header
 *   120   8  request                 the client's request number (0: its register)
 *   128  16  client                  the client's id, 0 for a request outside any session
 *   144  16  request_checksum        the client's checksum of its request (a retry repeats it)
 *   160  16  actor                   who sent it, NUL-padded ("local", "engine", a participant)
 *   176   4  release                 the client's release (a register's opens its session)
 *   180   2  batch                   this record's index among its request's batches
 *   182   2  batch_count             the batches of its request
 *   184   8  reserved (zero)
 * Hash chain: the hash of record n is SHA-256(header bytes 64..191 || padded body), covering
 * its hash_previous, so it covers every record before it; record 1's hash_previous is zero.
 * The chained bytes are the ones every replica computes identically from the same requests;
 * where a record landed (offset) and which write carried it (commit_first) are left out, and
 * so are the checksums, which depend on them. The chain head (the hash of the last record) is
 * what `khorgos check` prints for publication.
 *
 * Headers file headers-<F>: entry k (offset k * 192) is a byte-for-byte copy of the header of
 * request F + k. Preallocated (zeros), written in order, after the journal write it mirrors.
 *
 * Snapshot file snapshot-<S>:
 *     0  16  checksum                XXH3-128 of header bytes 16..127
 *    16  16  checksum_body           XXH3-128 of every byte after the header
 *    32  32  chain_head              hash of record S (zero when S = 0)
 *    64   4  magic "KHSN"   68 4 format_version   72 8 sequence S   80 8 timestamp_last
 *    88   8  body_size               bytes after the header
 *    96  16  digest                  the state digest (ledger_digest) at S
 *   112   4  section_count          116 12 reserved (zero)
 *   128      the sections' bodies, back to back, in the order of the table; each module
 *            documents its own bytes (engine_storage.c, ledger_snapshot.c)
 *   128 + body_size - 32 * section_count: the section table, one 32-byte entry per section:
 *     0 4 module (STORAGE_SECTION_*)  4 4 version  8 8 size  16 16 checksum (XXH3-128 of body)
 *   checksum_body is XXH3-128 of the section table, which holds each body's checksum, so the
 *   header covers every byte; the table goes last because sizes are known only once written.
 *
 * ---------------------------------------------------------------------------------------------
 * Why these checksums. XXH3-128 (base_checksum128) guards against accidents: torn writes, bit
 * rot, misdirected writes. It runs at memory speed so checking every record and snapshot byte on
 * every read costs nothing, and 128 bits make an accidental match (a torn header that looks
 * whole) a 2^-128 event. It is not cryptographic, so it cannot stop a person who edits a record
 * and recomputes it; for that the chain uses SHA-256 (base_sha256, hardware-accelerated), over the
 * whole header (minus its XXH3 sums) and body: changing any past record changes every later hash
 * and the published chain head. Separate header and body checksums let the scanner trust a
 * header's body_size before reading the body, so a torn header never makes it read a wild size.
 *
 * ---------------------------------------------------------------------------------------------
 * Group commit. The engine appends the records of one khorgos_execute call (a batch of requests,
 * including internal PULSE requests) into a buffer reserved at open. storage_journal_submit hands
 * the batch to the writer (a thread on real files, inline on the simulated disk), which seals
 * and chains its records, does ONE pwrite of the batch to the journal file and fdatasync, then
 * ONE pwrite of the batch's header copies to the headers file and fdatasync; only after that
 * (storage_journal_wait) does the engine release replies. Pipelined commit:
 *   W1. At most one batch is being written (storage->writing) and one fills; submit first
 *       drains the one being written, then the two buffers swap. The batch being written and
 *       storage->chain_head belong to the writer until drain has seen it finish (under
 *       writer_mutex), so the committing thread reads the chain head or starts a segment only
 *       when the journal is idle (a checkpoint gets its chain head through W4).
 *   W2. durable_sequence only grows, by whole batches, after both fdatasyncs of a batch
 *       returned; a reply is released only for requests at or below it.
 *   W3. A failed write or sync fails the storage at drain: the batch being written and every
 *       later one are never acknowledged.
 *   W4. A checkpoint may begin while the batch ending at its sequence S is being written (so a
 *       commit never waits for an fdatasync to start one): storage_chain_mark asks for the
 *       hash of record S, and the writer hands it over (mark_ready, under writer_mutex) only
 *       after that batch's fdatasyncs returned, with the write's result. The snapshot's
 *       header needs that hash, so a snapshot is never sealed, let alone published, before
 *       every request it covers is durable; a failed write leaves it unsealed and discarded.
 * A failed write or sync stops the engine: it returns io or no_space, sets stopped, and releases
 * no reply; what is on disk is recovered at the next open. Journal files are
 * preallocated (fallocate) when a segment starts, so a full disk fails there, not in a commit.
 *
 * ---------------------------------------------------------------------------------------------
 * Torn write or corruption. Invariants:
 *   J1. A batch's header copies are written only after the batch's journal write is durable
 *       (its fdatasync returned), and replies are released only after the copies are durable.
 *   J2. Therefore a valid header copy for request n proves that the journal records 1..n of its
 *       segment were durable once: a segment's records up to H (the highest sequence with a
 *       valid header copy) were acknowledged-or-durable, and must all be valid and chained.
 *   J3. A record after H was never acknowledged (its copy was never durable). If it is torn or
 *       absent, it is the unfinished last write of a crash: the scanner stops there, and the
 *       torn bytes are zeroed (once every segment verified) and reported as "torn at <file>
 *       offset <o> sequence <n>". Torn, and not damage, only when everything else agrees:
 *       the record fails a checksum (a record whose header verifies but carries another
 *       sequence, offset or previous hash was written whole: damage); no snapshot covers
 *       its sequence (a snapshot is published only once its last request is durable, W4);
 *       nothing was written after it (no header copy from its slot on, no journal byte
 *       beyond one write's reach, no record of a later commit: a later write begins only
 *       after the one before is durable, W1); and both files of the segment have their
 *       preallocated size (a shorter file lost the copies that would say otherwise). Any of
 *       these failing is damage: refused, nothing changed.
 *   J4. A record at or before H that fails its checksum, its sequence, its offset or the chain
 *       is damage to acknowledged data: open refuses (KHORGOS_ERROR_corrupt), naming file,
 *       offset and sequence. So is a header copy before C (the commit_first of copy H) that does
 *       not match its record byte for byte: copies before C belong to earlier commits, whose
 *       copy writes completed before the next commit began. Nothing is dropped silently.
 *   J5. Copies from C on belong to the last copy write, which a crash may have torn (a sector
 *       half written) before its reply: a copy there that does not match, and the copies of
 *       valid records after H (durable, their copies lost in the crash), are rewritten from the
 *       verified records at open ("confirmed"). Keeping those records is allowed because each
 *       is a whole request, applied whole, whose reply was simply never released.
 *   J6. A segment other than the last was closed after all its records were durable, so any
 *       invalid record in it is damage, never a torn tail.
 *   J7. Sequence numbers are dense and the chain unbroken from the snapshot replay starts from
 *       (its chain_head) to the last record.
 *   J8. Recovery proves before it repairs: the scan writes nothing; the repairs it found
 *       needed (an unfinished segment start removed, a torn tail zeroed, the preallocation
 *       restored, copies confirmed) are made only after every segment verified and every
 *       record after the snapshot was replayed. check runs the same scan and reports them.
 * A single fault (one torn write, or one damaged region) is always classified correctly, and
 * so is each pair of faults tests/test_storage_recovery.c enumerates; a record and its
 * header copy both damaged so that the copy reads as zeros would still be taken for a torn
 * write, which is why the copies live in a separate file written at a different moment.
 *
 * ---------------------------------------------------------------------------------------------
 * Checkpoints. khorgos_checkpoint(engine) and the automatic policy (engine_storage.c) take a
 * full snapshot (not an incremental one) FROM A POINT-IN-TIME VIEW, without fork: between two
 * requests (the batch ending at S may still be being written: W4) the engine starts segment S+1 if
 * the journal is idle, fixes the counts and copies only the mutable state
 * (accounts, transfer states, the expiry heap, the engine section, the settlement section
 * serialised through a memory writer, storage_writer_memory_begin) into buffers reserved at
 * open; a thread then streams snapshot-<S>.tmp from those copies and from the live
 * append-only arrays below the fixed counts (struct ledger_view), computes the digest over the
 * same view, writes each buffer back as it goes (io->writeback), waits for record S to be
 * durable and takes its hash (storage_chain_mark_wait), seals and fsyncs, while the engine
 * keeps committing; a later commit sees the thread done, renames the file,
 * fsyncs the directory and deletes what the previous snapshot made unnecessary; the thread
 * also prepares the next segment's files ("journal-spare", "headers-spare", preallocated and
 * synced, under spares_mutex, which a segment start only tries), so the next
 * segment start is two renames and a directory fsync. A commit pays that begin (0.3 to 0.7 ms
 * max at 2,000,000 transfers) and, while the thread writes, a share of the disk and the cores:
 * measured paired against the same runs without checkpoints, 0.6 to 2.2 ms at most added to
 * any batch (per-batch median over seven pairs; the noise floor is about 1 ms)
 * (docs/storage.md, "What a checkpoint costs a commit"). The
 * simulated I/O writes the same snapshot with the same function inline. Snapshots are written
 * beside, fsynced, renamed and the directory fsynced, so a crash leaves either the old or the
 * new file whole; a .tmp left by a crash is ignored and deleted.
 *
 * Recovery (engine_storage.c): superblock (version check), newest snapshot that verifies (else
 * the next older one, reporting it), the older snapshots' checksums, then every segment
 * verified and every journal record after the snapshot through engine_apply, verifying the
 * chain; when replay passes a newer snapshot's sequence, the state digest must equal that
 * snapshot's recorded digest. Repairs only after all of it (J8); check classifies the same
 * way (docs/storage.md, "Recovery").
 */
#ifndef KHORGOS_STORAGE_H
#define KHORGOS_STORAGE_H

#include "base/base.h"

#include <pthread.h>
#include <stdatomic.h>

/* ----------------------------------------------------------------------------------------- */
/* Limits, each with its reason.                                                              */

/* The version of everything stored: bumped whenever a stored byte changes meaning or replaying
 * the same journal would give another state (3: records carry the client and its request, the
 * chain leaves out offset and commit grouping, snapshots hold the session table, the superblock
 * the cluster id; 4: request, payment and quote ids scoped by participant, a request id
 * stored with its actor, the payments' ISO 20022 references and the days each currency opened
 * in snapshots, submit_message_payments in the journal). Any other is refused. */
#define STORAGE_FORMAT_VERSION 4u
/* Names in a data directory are short and ours ("headers-" + 16 hex digits + ".tmp"). */
#define STORAGE_NAME_BYTES_MAX 48u
/* Files a directory holds at most: a superblock, two or three snapshots, a handful of
 * segments; more means foreign files or a failed cleanup, and listing refuses to guess. */
#define STORAGE_DIRECTORY_FILES_MAX 64u
#define STORAGE_RECORD_HEADER_BYTES 192u
#define STORAGE_ACTOR_BYTES 16u
/* Records start at multiples of 16: the header's u128 fields are read in place. */
#define STORAGE_RECORD_ALIGNMENT 16u
#define STORAGE_BODY_PADDED(body_size)                                                         \
    (((u64)(body_size) + STORAGE_RECORD_ALIGNMENT - 1) & ~(u64)(STORAGE_RECORD_ALIGNMENT - 1))
/* The largest record: a full batch's body behind its header. */
#define STORAGE_RECORD_BYTES_MAX                                                               \
    (STORAGE_RECORD_HEADER_BYTES + STORAGE_BODY_PADDED(LIMIT_REQUEST_BODY_BYTES_MAX))
/* The group-commit buffer: one full record, so one write carries a whole batch of ordinary
 * requests; a batch larger than this is committed in several writes (still before any reply).
 * It also bounds how far a torn write can reach past the last valid record, which is what
 * recovery inspects and zeroes. */
#define STORAGE_BATCH_BYTES_MAX STORAGE_RECORD_BYTES_MAX
#define STORAGE_BATCH_RECORDS_MAX 1024u
/* Bytes a scan reads ahead at once: large sequential reads, without reading a whole buffer of
 * preallocated zeros for every small record. */
#define STORAGE_READ_AHEAD_BYTES (256u << 10)
/* Segment sizes: defaults for format, and the bounds format accepts. A segment must hold the
 * largest batch write, so a new segment always takes the next batch. */
#define STORAGE_SEGMENT_BYTES_DEFAULT (64ull << 20)
#define STORAGE_SEGMENT_BYTES_MIN ((u64)STORAGE_BATCH_BYTES_MAX)
#define STORAGE_SEGMENT_BYTES_MAX (1ull << 40)
#define STORAGE_SEGMENT_RECORDS_DEFAULT (1u << 16)
#define STORAGE_SEGMENT_RECORDS_MIN STORAGE_BATCH_RECORDS_MAX
#define STORAGE_SEGMENT_RECORDS_MAX (1u << 24)
/* A failure's description: declared once, in khorgos.h, since callers size their buffers by it. */
#define STORAGE_FAILURE_TEXT_BYTES KHORGOS_FAILURE_TEXT_BYTES
/* The snapshot and scan buffers: big enough for the largest record, small next to the state. */
#define STORAGE_BUFFER_BYTES (STORAGE_RECORD_BYTES_MAX + (1u << 20))
#define STORAGE_SNAPSHOT_SECTIONS_MAX 16u
/* A snapshot's writer bounds what its final fdatasync must flush, so that sync never pushes
 * hundreds of MB at once while the journal's own fdatasyncs wait behind it (the device queue
 * is shared): with io->writeback it writes each buffer back as it goes (at most one buffer
 * being written back); without, it fdatasyncs after every this many bytes. */
#define STORAGE_SNAPSHOT_SYNC_BYTES (16ull << 20)
/* A writer with a pace hook writes a buffer in pieces of this many bytes and calls the hook
 * before each, so a checkpoint's thread decides before every piece whether the device is its
 * to use: on the reference virtio disk (volatile cache) a journal fdatasync pays about 2 ms
 * for each MB that reached the device since the previous one, and in the disk's slow spells a
 * 1 MB piece took 4 to 12 ms; a quarter of that is what one piece can add to a commit it
 * overlaps (engine_storage.c C6 paces them). */
#define STORAGE_SNAPSHOT_PIECE_BYTES (256ull << 10)
_Static_assert(STORAGE_SNAPSHOT_PIECE_BYTES <= STORAGE_BUFFER_BYTES, "a buffer holds a piece");
/* The paced collection frees this much of a deleted file per step (one step per journal
 * commit while the engine is busy): freeing, and discarding on a file system mounted with
 * discard, costs the jbd2 commit that a journal fdatasync waits for about 0.2 ms per MiB on
 * the reference virtio disk, so a step adds about 1 ms to one commit instead of 60 ms to one
 * for a 300 MB snapshot deleted at once. 4 MB rather than 16: a trace of every commit showed
 * the header-copy fdatasync at 5.8 ms (0.5 otherwise) in the commits of 16 MB steps. */
#define STORAGE_COLLECT_STEP_BYTES (4ull << 20)
/* Files one paced collection deletes at most: snapshots older than the kept two (one, or
 * a few after a failure) and the segment pairs before them. */
#define STORAGE_COLLECT_FILES_MAX 32u
#define STORAGE_MESSAGE_BYTES_MAX 512u

_Static_assert(STORAGE_BATCH_BYTES_MAX >= STORAGE_RECORD_BYTES_MAX, "a batch holds any record");
_Static_assert(STORAGE_SEGMENT_BYTES_MIN >= STORAGE_BATCH_BYTES_MAX, "a segment holds a batch");
_Static_assert(STORAGE_SEGMENT_RECORDS_MIN >= STORAGE_BATCH_RECORDS_MAX,
               "a segment holds a batch's records");
_Static_assert(STORAGE_BUFFER_BYTES > STORAGE_RECORD_BYTES_MAX, "a scan window holds a record");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the on-disk format is little-endian");

/* ----------------------------------------------------------------------------------------- */
/* I/O: everything the layer does to a disk goes through this table, bound to one directory.  */

enum storage_open_flags {
    STORAGE_OPEN_CREATE = 1u << 0,    /* create it; it must not exist */
};

struct storage_io {
    void *context;
    /* Opens `name` in the directory; not_found if absent (without CREATE), exists if present
     * (with CREATE). */
    khorgos_error (*open)(struct storage_io *io, const char *name, u32 flags, int *file);
    void (*close)(struct storage_io *io, int file);
    khorgos_error (*pwrite)(struct storage_io *io, int file, const void *data, u64 size,
                            u64 offset);
    /* Reads up to `size` bytes; *read_size is less only at the end of the file. */
    khorgos_error (*pread)(struct storage_io *io, int file, void *data, u64 size, u64 offset,
                           u64 *read_size);
    khorgos_error (*sync)(struct storage_io *io, int file); /* fdatasync */
    /* Optional (NULL: none): writes [offset, offset + size) back to the device and waits, with
     * no durability promise (sync_file_range); a snapshot's writer paces itself with it. */
    khorgos_error (*writeback)(struct storage_io *io, int file, u64 offset, u64 size);
    /* Reserves [0, size) (fallocate); the file reads as zeros where never written. */
    khorgos_error (*allocate)(struct storage_io *io, int file, u64 size);
    khorgos_error (*size)(struct storage_io *io, int file, u64 *size);
    khorgos_error (*rename)(struct storage_io *io, const char *from, const char *to);
    khorgos_error (*unlink)(struct storage_io *io, const char *name);
    khorgos_error (*sync_directory)(struct storage_io *io);
    /* Lists the directory's regular files (unordered); capacity is STORAGE_DIRECTORY_FILES_MAX. */
    khorgos_error (*list)(struct storage_io *io, char (*names)[STORAGE_NAME_BYTES_MAX],
                          u32 *count);
    /* The system's description of the last failure ("No space left on device"), or "". */
    const char *(*last_error)(struct storage_io *io);
    /* Optional (NULL: a flat namespace, where "a/b" is a name like any): makes the folder
     * `name` in the directory (mkdirat, mode 0700); ok when it exists. */
    khorgos_error (*make_directory)(struct storage_io *io, const char *name);
    /* Optional (NULL: none): shortens the file to `size` (ftruncate). The paced collection
     * shrinks a file it deletes in steps with it, so the file system frees (and, mounted with
     * discard, discards) its blocks a little per journal commit instead of all in one. */
    khorgos_error (*truncate)(struct storage_io *io, int file, u64 size);
};

/* How the POSIX I/O takes a data directory (storage_io_posix.c). */
enum storage_posix_mode {
    /* check, inspect: every file O_RDONLY, every change refused (io), no lock taken or waited
     * for; works on a read-only copy. */
    STORAGE_POSIX_READ = 0,
    /* open: the directory must hold a superblock (not_found); takes the writer's lock. */
    STORAGE_POSIX_WRITE,
    /* format: creates the directory (0700) or takes an existing empty one (exists when it
     * is not empty); takes the writer's lock. */
    STORAGE_POSIX_FORMAT,
};
/* The POSIX I/O on `path`. A writer's io holds the directory's lock (the file "lock", an open
 * file description lock the kernel releases when the process dies) until it is destroyed;
 * locked when another writer holds it. On failure, `message` (STORAGE_MESSAGE_BYTES_MAX bytes,
 * or NULL) says what failed and why, relative to the directory (the caller names the path).
 * storage_io_posix_destroy closes and frees, releasing the lock. */
khorgos_error storage_io_posix_create(const char *path, enum storage_posix_mode mode,
                                      struct storage_io **io, char *message);
void storage_io_posix_destroy(struct storage_io *io);
/* After a failed format: removes every file of the directory (empty when format took it, and
 * the lock kept every other writer out since) and the directory if format made it, so that
 * nothing blocks the next format; then destroys the io. */
void storage_io_posix_remove(struct storage_io *io);
/* For any io on the directory: the pid of the writer that holds its lock now, 0 when none
 * (or the lock file cannot be read), -1 when one does whose pid is unknown. Never waits. */
int storage_io_posix_writer(struct storage_io *io);
/* Whether an io is the POSIX one (checkpoints are written by a thread only there). */
bool storage_io_is_posix(const struct storage_io *io);

/* The fault-injecting I/O: files live in memory, each with the bytes a crash keeps (durable)
 * and the bytes reads see (volatile). Deterministic for a seed. Probabilities are per million
 * calls; zero turns a fault off. */
struct storage_fault_config {
    u64 seed;
    u32 read_flip_per_million;    /* a bit flipped in what a pread returns (not on disk) */
    u32 write_error_per_million;  /* pwrite fails with EIO */
    u32 sync_error_per_million;   /* fdatasync/fsync fails with EIO; the data stays volatile */
    u64 space_bytes_max;          /* total file bytes; past it pwrite/allocate: ENOSPC (0: none) */
    /* After this many more changes (writes, syncs, allocations, directory operations) the
     * power fails: every later call fails with EIO until storage_fault_crash (0: never). This
     * is how a simulation crashes at an arbitrary point inside a commit or a checkpoint. */
    u32 operations_until_power_loss;
    /* Every fdatasync/fsync of a file takes at least this long (a slow disk), so that tests
     * can see the journal's write times (storage_write_statistics); 0: none. */
    u64 sync_delay_ns;
};
#define STORAGE_FAULT_SYNC_DELAY_NS_MAX (1000ull * 1000 * 1000) /* a second: a test's bound */

struct storage_fault_counters {
    u64 crashes;
    u64 sectors_torn;      /* an unsynced sector left half old, half new */
    u64 sectors_lost;      /* an unsynced sector that kept its old bytes */
    u64 directory_operations_lost;
    u64 read_flips;
    u64 write_errors;
    u64 sync_errors;
    u64 no_space_errors;
    u64 damage_injected;
    u64 power_losses;
};

struct storage_io *storage_fault_create(const struct storage_fault_config *config);
void storage_fault_destroy(struct storage_io *io);
/* Changes the fault probabilities (the seed and the files stay). */
void storage_fault_configure(struct storage_io *io, const struct storage_fault_config *config);
/* A power loss: unsynced writes are each kept, lost or torn (per 512-byte sector), unsynced
 * directory changes keep a random prefix, and every open file handle becomes invalid. */
void storage_fault_crash(struct storage_io *io);
/* Flips one bit of the durable and visible bytes of `name` at `offset` (persistent damage). */
khorgos_error storage_fault_damage(struct storage_io *io, const char *name, u64 offset, u8 bit);
/* Shortens `name` to `size` bytes, durable and visible alike (persistent damage). */
khorgos_error storage_fault_truncate(struct storage_io *io, const char *name, u64 size);
/* The size of `name` as reads see it. */
khorgos_error storage_fault_file(struct storage_io *io, const char *name, u64 *size);
struct storage_fault_counters storage_fault_counters(const struct storage_io *io);
/* A random number from the fault I/O's own generator, for tests that must stay deterministic. */
u64 storage_fault_random(struct storage_io *io);

/* ----------------------------------------------------------------------------------------- */
/* The superblock and the directory.                                                          */

struct storage_superblock {
    u32 format_version;
    u32 account_count_max;
    u32 transfer_count_max;
    u32 account_balance_count_max;
    u64 segment_bytes;
    u32 segment_records_max;
    u64 formatted_at_ns;
    u32 participant_count_max;
    u32 payment_count_max;
    u32 flags;             /* STORAGE_SUPERBLOCK_* */
    u128 cluster;          /* the cluster id clients must name (format --cluster) */
};

#define STORAGE_SUPERBLOCK_BYTES 256u
/* format --keep-journal: a checkpoint moves the segments it no longer needs into the archive
 * folder (STORAGE_ARCHIVE_NAME) instead of deleting them, so the chain can be proved from
 * request 1. Any other bit is refused as damage. */
#define STORAGE_SUPERBLOCK_KEEP_JOURNAL 1u
/* The archive folder inside a data directory; its files keep their names. */
#define STORAGE_ARCHIVE_NAME "archive"

/* Writes the superblock (beside, fsync, rename, fsync directory). */
khorgos_error storage_superblock_write(struct storage_io *io,
                                       const struct storage_superblock *superblock);
/* Reads and checks it: corrupt on a bad checksum or magic, format_version on another version
 * (the version read is still returned, for the message). */
khorgos_error storage_superblock_read(struct storage_io *io, struct storage_superblock *superblock);

enum storage_file_kind {
    STORAGE_FILE_OTHER = 0,
    STORAGE_FILE_SUPERBLOCK,
    STORAGE_FILE_SNAPSHOT,
    STORAGE_FILE_JOURNAL,
    STORAGE_FILE_HEADERS,
    STORAGE_FILE_TEMPORARY,
};

/* The files of a data directory, sorted: snapshots by sequence, segments by first sequence. */
struct storage_listing {
    u64 snapshots[STORAGE_DIRECTORY_FILES_MAX];
    u32 snapshot_count;
    u64 segments[STORAGE_DIRECTORY_FILES_MAX];
    u32 segment_count;
    u64 headers[STORAGE_DIRECTORY_FILES_MAX]; /* headers files, by first sequence */
    u32 headers_count;
    char temporaries[STORAGE_DIRECTORY_FILES_MAX][STORAGE_NAME_BYTES_MAX];
    u32 temporary_count;
};

khorgos_error storage_list(struct storage_io *io, struct storage_listing *listing);
/* Whether the journal starts at a snapshot installed from another replica: the directory holds
 * one snapshot S > 0 and its journal starts at request S + 1. A checkpoint always leaves two
 * snapshots and every request after the older one, so only an install leaves this shape. */
bool storage_listing_installed(const struct storage_listing *listing);
/* The file name of a kind at a sequence ("journal-0000000000000001"). */
void storage_name(enum storage_file_kind kind, u64 sequence, char name[STORAGE_NAME_BYTES_MAX]);

/* ----------------------------------------------------------------------------------------- */
/* The journal.                                                                               */

/* Who sent a record's request: a client's session (all zero for none). */
struct storage_client {
    u128 client;
    u128 request_checksum;
    u64 request;
    u32 release;
    u16 batch;
    u16 batch_count;
};

struct storage_record_header {
    u128 checksum;
    u128 checksum_body;
    u64 offset;
    u64 commit_first;
    u32 magic;
    u8 reserved[12];
    /* The chained bytes, from here to the end of the header. */
    u8 hash_previous[BASE_SHA256_BYTES];
    u64 sequence;
    u64 timestamp;
    u32 operation;
    u32 body_size;
    u64 request;
    u128 client;
    u128 request_checksum;
    char actor[STORAGE_ACTOR_BYTES];
    u32 release;
    u16 batch;
    u16 batch_count;
    u8 reserved_chained[8];
};
#define STORAGE_RECORD_CHAINED_OFFSET 64u
_Static_assert(offsetof(struct storage_record_header, hash_previous) ==
                   STORAGE_RECORD_CHAINED_OFFSET,
               "the chained bytes start at 64");
_Static_assert(offsetof(struct storage_record_header, client) == 128, "client at 128");
_Static_assert(offsetof(struct storage_record_header, release) == 176, "release at 176");
_Static_assert(sizeof(struct storage_client) == 48, "the client fields are 48 bytes");
_Static_assert(sizeof(struct storage_record_header) == STORAGE_RECORD_HEADER_BYTES,
               "the record header is 192 bytes");

#define STORAGE_RECORD_MAGIC 0x524A484Bu /* "KHJR" */

/* Fills checksum of a header whose other fields (checksum_body included) are set. */
void storage_record_header_seal(struct storage_record_header *header);
/* Whether a header's own checksum, magic and reserved bytes are right. */
bool storage_record_header_valid(const struct storage_record_header *header);
/* The record's chain hash: SHA-256 over header bytes 64..191 and the padded body, which must
 * follow the header in memory. */
void storage_record_hash(const struct storage_record_header *header, const void *body,
                         u8 hash[BASE_SHA256_BYTES]);

/* What a scan found, for messages and for `check`. */
struct storage_report {
    u64 records;               /* records verified */
    u64 sequence_last;         /* the last request the state holds: the snapshot's, or the
                                  last valid record's after it */
    u64 snapshot_sequence;     /* check: the snapshot the state was verified from */
    bool snapshot_installed;   /* check: the journal starts at an installed snapshot */
    u8 chain_head[BASE_SHA256_BYTES];
    u64 torn_records;          /* unacknowledged torn tail records truncated (or found) */
    u64 confirmed_records;     /* valid records after the last header copy, confirmed */
    bool snapshot_fallback;    /* the newest snapshot was damaged; the previous one served */
    u32 snapshots_damaged;     /* snapshots that did not verify (a valid one served) */
    /* Something a crash or damage to redundant data left was found, which open repairs or
     * works around without losing an acknowledged record (check's "repairable"). */
    bool repairable;
    char message[STORAGE_MESSAGE_BYTES_MAX]; /* what was found, one or more sentences */
};

/* Called for each record in order during recovery; returns ok or stops the scan. */
typedef khorgos_error (*storage_replay_function)(void *context,
                                                 const struct storage_record_header *header,
                                                 const void *body);

struct storage;

/* Binds a storage to an io and a superblock; reserves every buffer. */
khorgos_error storage_create(struct storage_io *io, const struct storage_superblock *superblock,
                             struct storage **storage);
void storage_destroy(struct storage *storage);
struct storage_io *storage_io(const struct storage *storage);
const struct storage_superblock *storage_superblock(const struct storage *storage);

/* Creates and preallocates segment `first_sequence` (journal and headers files), fsyncs the
 * directory, and makes it the one appends go to. The previous one is closed. */
khorgos_error storage_segment_start(struct storage *storage, u64 first_sequence,
                                    const u8 chain_head[BASE_SHA256_BYTES]);

/* Prepares "journal-spare" and "headers-spare": fresh, preallocated, synced files that the next
 * storage_segment_start renames into place instead of preallocating (a checkpoint's thread
 * prepares them, so the engine's own segment start is two renames and an fsync). Any thread;
 * holds spares_mutex meanwhile, so a segment start then creates its own files. */
khorgos_error storage_segment_prepare_spares(struct storage *storage);
/* Whether both spares were made and no segment start has taken one since (any thread may
 * ask). */
bool storage_segment_spares_ready(const struct storage *storage);

/* Recovery of the journal: verifies every record of every segment, and replays (via
 * `replay`) those with sequence > `after_sequence`; the hash of record `after_sequence` must
 * be `chain_head` (when given). Then, when `repair`, makes the repairs the scan found needed
 * (J8): truncates an unacknowledged torn tail, confirms valid unconfirmed records, removes an
 * unfinished segment start; report->repairable says there were some. When `repair` is false
 * nothing is written (check). Leaves the storage ready to append. */
khorgos_error storage_journal_recover(struct storage *storage, u64 after_sequence,
                                      const u8 chain_head[BASE_SHA256_BYTES], bool repair,
                                      storage_replay_function replay, void *context,
                                      struct storage_report *report);

/* The next sequence an append gets, and the chain head so far (appended, maybe not durable). */
u64 storage_sequence_next(const struct storage *storage);
void storage_chain_head(const struct storage *storage, u8 chain_head[BASE_SHA256_BYTES]);
/* Records appended and durable; bytes of the current segment used. */
u64 storage_segment_bytes_used(const struct storage *storage);
u64 storage_segment_records_used(const struct storage *storage);
/* Journal bytes after the snapshot recovery started from (0 for a new storage), plus every
 * append since, across segments: what a checkpoint would let the next open skip. */
u64 storage_bytes_appended(const struct storage *storage);

/* Appends one record to the pending batch (in memory). Its sequence must be
 * storage_sequence_next. May write (not sync) an overfull batch. */
khorgos_error storage_journal_append(struct storage *storage, u64 sequence, u32 operation,
                                     u64 timestamp, const char *actor,
                                     const struct storage_client *client, const void *body,
                                     u32 body_size);
/* Makes the filling batch durable: storage_journal_submit, then storage_journal_drain. Any
 * failure leaves the storage failed (every later call returns the error). */
khorgos_error storage_journal_commit(struct storage *storage);
/* Pipelined commit. submit waits for the batch being written (if any), then hands the filling
 * batch to the writer: its records are sealed and chained, written and fdatasynced, then its
 * header copies (J1), on the writer's thread when it runs, else before submit returns. drain
 * waits for the batch being written; wait returns once `sequence` (appended and submitted) is
 * durable. A write's failure is reported by drain or wait and leaves the storage failed. */
khorgos_error storage_journal_submit(struct storage *storage);
khorgos_error storage_journal_drain(struct storage *storage);
khorgos_error storage_journal_wait(struct storage *storage, u64 sequence);
/* Starts the writer's thread (a real file system; the simulated one writes inline). */
khorgos_error storage_journal_writer_start(struct storage *storage);
/* Whether nothing is appended and unsubmitted, and nothing is being written. */
bool storage_journal_idle(const struct storage *storage);
/* What the latest failed call on the committing thread met (a journal write or sync, a
 * segment start), as "<file>: <cause>", the file a name in the data directory and the cause
 * the I/O's error text; once the storage failed, what failed it. "" when nothing failed. */
const char *storage_failure_text(const struct storage *storage);
/* Writes "<name>: <cause>" into text, the cause being io's text for its latest failure (read
 * on the thread that met it, right after). */
void storage_failure_describe(struct storage_io *io, const char *name,
                              char text[STORAGE_FAILURE_TEXT_BYTES]);
/* How many batches have finished their writes and fdatasyncs so far (ok or not); any thread
 * may read it: a checkpoint's thread writes a piece of snapshot just after each, so that
 * the device takes the piece while the engine applies the next batch, not inside the
 * fdatasync of the batch being written. */
u64 storage_batches_written(const struct storage *storage);
/* Whether a batch's writes and fdatasyncs are in progress now; any thread may ask: a
 * checkpoint's thread puts its pieces in the gaps between two batches. */
bool storage_batch_being_written(const struct storage *storage);
/* How long the journal's batches took to write (records, fdatasync, header copies,
 * fdatasync): what every commit waits for at least. Written by whoever writes a batch, read by
 * any thread: each figure is exact, and the four are consistent with each other only while
 * no batch is being written (over_10 <= over_5 always holds). */
/* The two times storage_write_statistics counts batches above: a batch's writes and
 * fdatasyncs usually take 1 to 3 ms on the reference disk, so over 5 ms is a slow one; 10 ms
 * is the bound the storage issue sets on what a checkpoint may add to a commit. */
#define STORAGE_BATCH_WRITE_SLOW_NS (5ull * 1000 * 1000)
#define STORAGE_BATCH_WRITE_TARGET_NS (10ull * 1000 * 1000)
_Static_assert(STORAGE_BATCH_WRITE_SLOW_NS < STORAGE_BATCH_WRITE_TARGET_NS,
               "over 10 ms is also over 5");
struct storage_write_statistics {
    u64 batches;             /* batches written so far (ok or not) */
    u64 write_ns_max;        /* the longest */
    u64 writes_over_5_ms;    /* over STORAGE_BATCH_WRITE_SLOW_NS */
    u64 writes_over_10_ms;   /* over STORAGE_BATCH_WRITE_TARGET_NS */
};
void storage_write_statistics(const struct storage *storage,
                               struct storage_write_statistics *statistics);
/* Whether nothing is appended and unsubmitted (a batch may be being written). */
bool storage_journal_submitted_all(const struct storage *storage);
/* The chain head at a checkpoint taken while the batch ending at it may still be written
 * (invariant W4). mark, on the committing thread with everything submitted, asks for the hash
 * of record `sequence`, the last one submitted; mark_wait, on any thread, waits until the
 * writer has made that record durable and returns its hash, or the write's failure. One mark
 * at a time: a checkpoint marks once and waits before the next checkpoint can begin. */
void storage_chain_mark(struct storage *storage, u64 sequence);
khorgos_error storage_chain_mark_wait(struct storage *storage, u64 sequence,
                                      u8 chain_head[BASE_SHA256_BYTES]);

/* ----------------------------------------------------------------------------------------- */
/* Pacing a checkpoint's writes against the journal's (storage_pace.c).                       */

/* While the engine commits, a checkpoint's thread puts at most this many pieces
 * (STORAGE_SNAPSHOT_PIECE_BYTES each, so 1 MiB) of snapshot, or collection steps, on the disk
 * per journal batch written: on a disk with a volatile cache (the reference virtio disk) a
 * journal fdatasync pays for persisting whatever reached the device since the previous one,
 * about 2 ms per MB, so an unpaced snapshot (about 12 MB per commit interval) added 15-20 ms
 * to each, and two 2 MB buffers about 8. 1 MiB per batch of a full batch (about 1 MiB of
 * journal) writes the snapshot within the state-scaled checkpoint policy's interval. */
#define STORAGE_PACE_PIECES_PER_BATCH 4u
/* ... and after each piece (or step) it rests this many times as long as the piece took, so
 * it holds the device at most a quarter of the time, whatever the device's speed. Why: the
 * reference virtio disk's speed varies fourfold from minute to minute; in its slow spells a
 * 1 MiB piece took 4 to 12 ms, and the journal fdatasyncs it overlapped 7 to 10 ms instead
 * of 2 to 4; those batches were the ones more than 10 ms slower than their pair (a trace of
 * every piece and fdatasync). A piece of 256 KiB overlaps a commit by about a quarter of
 * that, and the rest leaves the device to the journal for three times as long; when the disk
 * is fast (0.4 ms a piece) the per-batch bound above is what paces. */
#define STORAGE_PACE_REST_RATIO 3u
/* The longest rest after one piece: a piece held up by a stall of the device (tens of ms)
 * says little of the next one. */
#define STORAGE_PACE_REST_NS_MAX (50ull * 1000 * 1000)
/* ... and it writes only in the gaps between two batches' writes (storage_batch_being_written), so
 * a piece does not queue on the device in front of a journal fdatasync, unless this many
 * batches went by without a gap it saw (a disk so slow that the batches follow each other
 * back to back would otherwise starve the snapshot). Why: with the rest alone, traced, most
 * journal writes over 5 ms had a piece begun 1.1 to 1.5 ms after them, the rest having ended
 * just as the next batch went out; gated on the gap, twelve alternating sets counted 84 such
 * writes in the runs with checkpoints against 80 in the runs without (162 against 79 with
 * the rest alone). */
#define STORAGE_PACE_BATCHES_WAITED_MAX 2u
/* With no journal batch written for this long the journal leaves the device alone and the
 * thread writes at full speed: longer than the gap between two batches of full batches
 * (about 10 ms of state machine). Read-only requests write nothing to the journal, so they
 * never hold the thread back: whatever follows a checkpoint (writes, reads only, or nothing),
 * every wait ends. */
#define STORAGE_PACE_IDLE_NS (25ull * 1000 * 1000)
/* How often a waiting thread looks at the journal again. */
#define STORAGE_PACE_POLL_NS (250ull * 1000)
_Static_assert(STORAGE_PACE_POLL_NS < STORAGE_PACE_IDLE_NS, "several looks per idle bound");
_Static_assert(STORAGE_PACE_PIECES_PER_BATCH >= 1, "a busy engine still checkpoints");
_Static_assert(STORAGE_PACE_REST_RATIO >= 1, "the journal gets the device half the time");
_Static_assert(STORAGE_PACE_REST_NS_MAX >= STORAGE_PACE_POLL_NS, "a rest lasts several looks");
_Static_assert(STORAGE_PACE_BATCHES_WAITED_MAX >= 1, "a gap is waited for a batch or more");

/* The pacing of one checkpoint: when the next piece (or collection step) may go. A piece goes
 * when (a) the last journal batch written still allows one (STORAGE_PACE_PIECES_PER_BATCH),
 * the rest the previous piece earned is over, and no batch is being written (or
 * STORAGE_PACE_BATCHES_WAITED_MAX went by without a gap); or (b) no batch was written for
 * STORAGE_PACE_IDLE_NS. Rule (b) ends every wait within STORAGE_PACE_IDLE_NS of the last
 * batch written, so no wait depends on what the requests are or how they are scheduled.
 * Time is read only through `clock` (base.h), so a simulation can run it on simulated time. */
struct storage_pace {
    const struct base_clock *clock;
    u64 batches_seen;      /* storage_batches_written when it last looked */
    u64 batch_seen_ns;     /* when that count last changed (or pacing began) */
    u64 batches_waited;    /* batches written since the last piece that a batch allowed */
    u32 pieces_left;       /* pieces the last batch written still allows */
    u64 return_ns;         /* when the last wait returned (a piece began) */
    bool returned;         /* a wait returned already (the first piece rests no one) */
    u64 rest_until_ns;     /* the end of the rest that piece earned */
};
/* Starts pacing a checkpoint at the clock's now: the first piece goes at once. */
void storage_pace_begin(struct storage_pace *pace, const struct base_clock *clock);
/* Whether a piece may go at `now_ns`, given the journal's count of batches written and whether
 * one is being written (rule (a) or (b) above); counts the piece when (a) allowed it. A pure
 * function of its arguments and the pace's state, so a test drives it with any schedule. */
bool storage_pace_ready(struct storage_pace *pace, u64 now_ns, u64 batches_written,
                        bool batch_being_written);
/* The rest a piece earned: called before waiting for the next one, with the time now (the
 * work since the last wait returned is the piece just written). */
void storage_pace_rest(struct storage_pace *pace, u64 now_ns);
/* Waits (polling every STORAGE_PACE_POLL_NS on the pace's clock) until storage_pace_ready says
 * a piece may go for `storage`'s journal, or `hurry` is set (closing: no commit will come). */
void storage_pace_wait(struct storage_pace *pace, const struct storage *storage,
                       const atomic_bool *hurry);

/* ----------------------------------------------------------------------------------------- */
/* Snapshots.                                                                                 */

enum storage_section_module {
    STORAGE_SECTION_ENGINE = 1,
    STORAGE_SECTION_LEDGER = 2,
    STORAGE_SECTION_SETTLE = 3, /* settle.h: SETTLE_SNAPSHOT_SECTION */
    STORAGE_SECTION_SESSIONS = 16, /* the engine's client sessions (engine_session.c) */
};

struct storage_snapshot_header {
    u128 checksum;
    u128 checksum_body;
    u8 chain_head[BASE_SHA256_BYTES];
    u32 magic;
    u32 format_version;
    u64 sequence;
    u64 timestamp_last;
    u64 body_size;
    u128 digest;
    u32 section_count;
    u8 reserved[12];
};
_Static_assert(sizeof(struct storage_snapshot_header) == 128, "snapshot header is 128 bytes");
#define STORAGE_SNAPSHOT_MAGIC 0x4E53484Bu /* "KHSN" */

struct storage_section_header {
    u32 module;
    u32 version;
    u64 size;
    u128 checksum;
};
_Static_assert(sizeof(struct storage_section_header) == 32, "section header is 32 bytes");

/* A pacing hook: a snapshot's writer calls it before each buffer it writes, and the paced
 * collection before each step; it returns when the next may go (a checkpoint's thread waits
 * there for the journal's next commit, engine_storage.c C6). */
typedef void (*storage_pace_function)(void *context);

/* A snapshot being written. Errors latch: after one, puts do nothing and end returns it. */
struct storage_writer;
struct storage_reader;

/* Starts snapshot-<sequence>.tmp. */
khorgos_error storage_snapshot_begin(struct storage *storage, u64 sequence,
                                     struct storage_writer **writer);
/* Has the writer call `pace` before each buffer it writes to the file (NULL: none). */
void storage_writer_pace(struct storage_writer *writer, storage_pace_function pace,
                         void *context);
void storage_writer_section_begin(struct storage_writer *writer, u32 module, u32 version);
void storage_writer_put(struct storage_writer *writer, const void *data, u64 size);
void storage_writer_section_end(struct storage_writer *writer);
/* Sinks for a section's bytes, so that one function emitting a module's section in order
 * (`put(context, data, size)` per piece) serves its write, its digest and its size, with the
 * same bytes in each: context is the struct storage_writer (storage_put_writer), a struct
 * base_checksum_stream (storage_put_checksum), or a u64 that adds up the bytes
 * (storage_put_count). A piece of size 0 may have data NULL. */
typedef void (*storage_put_function)(void *context, const void *data, u64 size);
void storage_put_writer(void *context, const void *data, u64 size);
void storage_put_checksum(void *context, const void *data, u64 size);
void storage_put_count(void *context, const void *data, u64 size);
/* Seals the header (chain head, timestamp, digest), fsyncs, renames, fsyncs the directory. */
khorgos_error storage_snapshot_end(struct storage_writer *writer, u64 timestamp_last, u128 digest,
                                   const u8 chain_head[BASE_SHA256_BYTES]);
/* The two halves of storage_snapshot_end, for a checkpoint written by a thread: the thread
 * seals and fsyncs snapshot-<S>.tmp; the committing thread, once it finished successfully,
 * publishes it (rename, fsync the directory) or discards it. */
khorgos_error storage_snapshot_end_unpublished(struct storage_writer *writer, u64 timestamp_last,
                                               u128 digest,
                                               const u8 chain_head[BASE_SHA256_BYTES]);
khorgos_error storage_snapshot_publish(struct storage *storage, u64 sequence);
void storage_snapshot_discard(struct storage *storage, u64 sequence);
/* Abandons a snapshot being written (removes the .tmp). */
void storage_snapshot_abandon(struct storage_writer *writer);

/* A writer that targets memory instead of a file, for a checkpoint's copy of a module's
 * mutable state taken between requests (engine_storage.c): the module writes its section as
 * always, and the bytes land in `memory`. One section. storage_writer_memory_end returns it
 * (module, version, size, checksum); no_space when it did not fit in `capacity`, with
 * section->size the bytes it needs (nothing else of the writer is usable then). */
void storage_writer_memory_begin(struct storage_writer *writer, u8 *memory, u64 capacity);
khorgos_error storage_writer_memory_end(struct storage_writer *writer,
                                        struct storage_section_header *section);
/* Writes a section captured in memory into a snapshot (checksummed again as it goes, and
 * checked against the captured checksum). */
void storage_writer_section_copy(struct storage_writer *writer,
                                 const struct storage_section_header *section, const void *bytes);

/* A whole snapshot in memory, byte for byte the file's format (a replica hands it to another
 * through the raft library). begin: the sections go after room for the header, into `memory`;
 * end writes the section table and the header and sets *size_bytes to the snapshot's bytes:
 * no_space when they exceed `capacity` (the caller retries with *size_bytes), nothing usable
 * written then. open verifies a snapshot in memory as storage_snapshot_open verifies a file
 * (header, table and every section's checksum) before any section is handed out: corrupt or
 * format_version otherwise; the reader reads from `bytes`, which must outlive it. */
void storage_snapshot_memory_begin(struct storage_writer *writer, u64 sequence, u8 *memory,
                                   u64 capacity);
khorgos_error storage_snapshot_memory_end(struct storage_writer *writer, u64 timestamp_last,
                                          u128 digest, const u8 chain_head[BASE_SHA256_BYTES],
                                          u64 *size_bytes);
khorgos_error storage_snapshot_memory_open(struct storage_reader *reader, const void *bytes,
                                           u64 size_bytes,
                                           struct storage_snapshot_header *header);

/* Writes a snapshot already whole in memory (storage_snapshot_memory_end's bytes, verified by
 * the caller) as snapshot-<sequence>: the .tmp, fdatasync, rename, directory fsync. */
khorgos_error storage_snapshot_put(struct storage *storage, u64 sequence, const void *bytes,
                                   u64 size_bytes);

/* Opens snapshot-<sequence> after verifying its header and whole-body checksum (one pass);
 * corrupt (with the report's message naming the file and offset) when either fails. */
khorgos_error storage_snapshot_open(struct storage *storage, u64 sequence,
                                    struct storage_snapshot_header *header,
                                    struct storage_reader **reader, struct storage_report *report);
/* Reads only a snapshot's header (valid checksum), without the body. */
khorgos_error storage_snapshot_header_read(struct storage *storage, u64 sequence,
                                           struct storage_snapshot_header *header);
/* The next section's header; not_found after the last. */
khorgos_error storage_reader_section_next(struct storage_reader *reader,
                                          struct storage_section_header *section);
/* Reads the next `size` bytes of the current section; corrupt if it holds fewer. */
khorgos_error storage_reader_get(struct storage_reader *reader, void *data, u64 size);
/* Bytes of the current section not read yet. */
u64 storage_reader_remaining(const struct storage_reader *reader);
void storage_reader_close(struct storage_reader *reader);

/* Deletes snapshots older than `keep_from` and segments wholly before it (their successor starts
 * at or before keep_from + 1). */
khorgos_error storage_collect(struct storage *storage, u64 keep_from);
/* The same deletions as storage_collect, made from a checkpoint's thread while the journal
 * commits: each file is first renamed to a temporary (so a crash at any point leaves only
 * what recovery deletes anyway), the directory synced, then shrunk by
 * STORAGE_COLLECT_STEP_BYTES per call of `pace` (io->truncate) and unlinked. It reads nothing
 * the committing thread writes: only the directory listing, and never touches a segment
 * newer than keep_from (the journal's current one is newer). */
khorgos_error storage_collect_paced(struct storage *storage, u64 keep_from,
                                    storage_pace_function pace, void *context);

/* ----------------------------------------------------------------------------------------- */
/* A checkpoint written by a thread (storage_checkpoint.c, invariants C4-C7 there).           */

/* The checkpoint's thread runs at this nice value: when the cores are busy (two cores shared
 * with the committing thread), commits come first and the snapshot takes the rest. */
#define STORAGE_CHECKPOINT_NICE 10

/* Writes the sections of the state the owner captured into a snapshot being written and
 * returns the state's digest over the same view; on the checkpoint's thread (or inline),
 * reading only the capture. */
typedef u128 (*storage_checkpoint_sections_function)(void *context,
                                                     struct storage_writer *writer);
/* Called by the thread once the snapshot is written (published or not), before `done`: the
 * owner may prepare its next capture there (only memory the capture does not hold). */
typedef void (*storage_checkpoint_after_function)(void *context);

/* A test's hold on the checkpoint's thread, so that a seeded simulation (tests/vopr.h) runs
 * it the same way every time: the thread runs only when the test hands it control. The
 * owner's thread calls `created` just before it creates the thread; the thread calls `wait`
 * first of all (it returns when the test resumes it) and `exit` as its last act (hands control
 * back for good); in between it hands control back only in its pacing clock's sleep_ns (the
 * test's clock, base.h). */
struct storage_checkpoint_schedule {
    void *context;
    void (*created)(void *context);
    void (*wait)(void *context);
    void (*exit)(void *context);
};

/* One checkpoint at a time. The owner sets sections, after and context once, and before each
 * checkpoint captures its state and calls storage_checkpoint_prepare (and sets keep_from);
 * nobody writes those while `running`. */
struct storage_checkpoint {
    storage_checkpoint_sections_function sections;
    storage_checkpoint_after_function after; /* NULL: none */
    void *context;
    const struct storage_checkpoint_schedule *schedule; /* a test's, NULL when none */
    struct storage *storage;
    u64 sequence;
    u64 timestamp_last;
    u64 keep_from; /* the newest published snapshot at capture: the previous one after this */
    /* Written by the thread (or inline), read by the owner after `done` (acquire) + join. */
    u8 chain_head[BASE_SHA256_BYTES];
    u128 digest;
    khorgos_error error;
    khorgos_error publish_error; /* the rename or directory sync, after a good write */
    khorgos_error collect_error; /* of the paced collection, after a publish */
    char failure_text[STORAGE_FAILURE_TEXT_BYTES]; /* what failed the publish or collection */
    bool published;
    /* The thread's own: its pacing (C6) and whether it could not make the spares (C4). */
    struct storage_pace pace;
    bool spares_failed;
    atomic_bool hurry; /* set by the owner when closing: write at full speed */
    /* Owned by the owner's (committing) thread. */
    pthread_t thread;
    bool running;
    atomic_bool done;
};
/* Fixes which snapshot the next checkpoint writes (sequence S, the state's last timestamp)
 * and clears the previous one's results; with no thread running. */
void storage_checkpoint_prepare(struct storage_checkpoint *checkpoint, struct storage *storage,
                                u64 sequence, u64 timestamp_last);
/* Starts the thread that writes, publishes and collects (C4-C7), its pacing on `clock`;
 * false when no thread could be started (the owner then writes inline). */
bool storage_checkpoint_start(struct storage_checkpoint *checkpoint,
                              const struct base_clock *clock);
/* Whether the thread finished (then storage_checkpoint_join returns at once). */
bool storage_checkpoint_finished(const struct storage_checkpoint *checkpoint);
/* Waits for the thread; with `hurry`, first tells it no commit will come (closing). */
void storage_checkpoint_join(struct storage_checkpoint *checkpoint, bool hurry);
/* Writes, seals and fsyncs snapshot-<S>.tmp on the calling thread, unpublished (the owner
 * publishes it): unpaced with clock NULL, else paced on `clock` (a simulation's). */
khorgos_error storage_checkpoint_write_inline(struct storage_checkpoint *checkpoint,
                                              const struct base_clock *clock);
/* Describes a failure just met into failure_text: `what` is "snapshot" (snapshot-<S>) or
 * names what failed. */
void storage_checkpoint_failure_describe(struct storage_checkpoint *checkpoint,
                                         const char *what);

/* ----------------------------------------------------------------------------------------- */
/* Module sections (each module's file documents its section's bytes).                      */

/* The ledger's section and its snapshot view are declared in ledger.h; settlement's in
 * settle.h; the engine's is documented in engine_storage.c. */

/* ----------------------------------------------------------------------------------------- */
/* Layer-private: only the storage_*.c files touch these fields.                                  */

/* A read-through window on a file: one reserved buffer, refilled as a scan moves on. */
struct storage_window {
    int file;
    u64 file_size;
    u8 *buffer;
    u64 capacity;
    u64 begin; /* file offset of buffer[0] */
    u64 size;  /* valid bytes in buffer */
};

struct storage_writer {
    struct storage *storage;
    int file;
    u64 sequence;
    u64 offset;              /* next file offset to write the buffer at */
    u64 buffered;            /* bytes in storage->buffer not written yet */
    u64 body_size;
    u32 section_count;
    bool section_open;
    struct storage_section_header sections[STORAGE_SNAPSHOT_SECTIONS_MAX];
    struct base_checksum_stream section_checksum;
    khorgos_error error;
    u64 synced_offset;       /* the file is durable up to here (periodic syncs) */
    u8 *memory;              /* a writer to memory (storage_writer_memory_begin), else NULL */
    u64 memory_capacity;
    storage_pace_function pace; /* NULL: write at full speed (storage_writer_pace) */
    void *pace_context;
    bool memory_snapshot;    /* a whole snapshot to memory (storage_snapshot_memory_begin) */
};

struct storage_reader {
    struct storage *storage;
    struct storage_window window;
    u64 offset;              /* next byte to read */
    u64 end;                 /* end of the snapshot's body */
    u64 section_end;         /* end of the current section */
    struct base_checksum_stream section_checksum; /* of what was read: checked again at the end */
    u32 section_index;       /* sections handed out so far */
    u32 section_count;
    struct storage_section_header sections[STORAGE_SNAPSHOT_SECTIONS_MAX];
};

/* A batch handed to the writer: the buffers swap with the filling batch's at submit. */
struct storage_writing {
    u8 *bytes;                              /* STORAGE_BATCH_BYTES_MAX */
    struct storage_record_header *headers;  /* STORAGE_BATCH_RECORDS_MAX copies, filled by
                                               batch_seal: only the batch being written has them */
    u64 size;
    u64 offset;          /* journal offset of bytes[0] */
    u64 header_index;    /* the first copy's slot in the headers file */
    u32 header_count;
    u64 sequence_last;   /* its last record */
    int journal_file;    /* the segment's files: a segment starts only when nothing flies */
    int headers_file;
    u64 segment_first;   /* names them (journal-<F>, headers-<F>) in failure_text */
    /* What failed when its write did ("journal-<F>: <cause>"), written by its writer. */
    char failure_text[STORAGE_FAILURE_TEXT_BYTES];
};

struct storage {
    struct storage_io *io;
    struct storage_superblock superblock;
    khorgos_error failure; /* ok until a write or sync failed; then every call returns it */
    /* The latest failure a call on the committing thread met ("<file>: <cause>"), kept once
     * `failure` is set (storage_failure_text). */
    char failure_text[STORAGE_FAILURE_TEXT_BYTES];

    /* The segment appends go to. */
    int journal_file;
    int headers_file;
    u64 segment_first;     /* sequence of its first record */
    u64 segment_offset;    /* offset of the next record (pending batch included) */
    u64 segment_records;   /* records in it (pending batch included) */
    u64 sequence_next;
    u8 chain_head[BASE_SHA256_BYTES];
    u64 bytes_appended;    /* journal bytes after the recovered snapshot and since, every
                              segment: the checkpoint policy measures its journal by it */

    /* The filling batch: records appended, not yet submitted; their headers are sealed and
     * chained only when the batch is written (batch_seal). */
    u8 *batch;
    u64 batch_size;
    u64 batch_offset;      /* journal offset of batch[0] */
    u32 batch_header_count;

    /* The batch being written (storage_journal_submit) and the thread that writes it. */
    struct storage_writing writing;
    bool writing_pending;   /* submitted and not yet drained: the engine thread's view */
    u64 durable_sequence;  /* every record up to here is durable with its header copy */
    bool writer_running;   /* storage_journal_writer_start: written by the thread, else inline */
    pthread_t writer_thread;
    pthread_mutex_t writer_mutex;
    pthread_cond_t batch_submitted_cond;
    pthread_cond_t batch_written_cond;
    bool batch_submitted; /* under writer_mutex: the thread has a batch to write */
    bool writer_stop;      /* under writer_mutex: the thread exits when idle */
    khorgos_error writing_error; /* under writer_mutex, or inline: the last write's result */
    /* Batches whose writes and fdatasyncs returned (ok or not): written by whoever writes a
     * batch, read by any thread; a checkpoint's thread paces its writes on it. */
    _Atomic u64 batches_written;
    /* Set while a batch's writes and fdatasyncs are in progress, by whoever writes it; read
     * by a checkpoint's thread, which writes its pieces between two batches. */
    atomic_bool batch_being_written;
    /* storage_write_statistics: written by whoever writes a batch (one at a time), read by
     * any thread. */
    _Atomic u64 batch_write_ns_max;
    _Atomic u64 batch_writes_over_5_ms;
    _Atomic u64 batch_writes_over_10_ms;
    /* W4: the chain head a checkpoint asked for, under writer_mutex. */
    u64 mark_sequence;
    bool mark_ready;            /* true when no mark waits for the writer */
    khorgos_error mark_error;
    u8 mark_chain_head[BASE_SHA256_BYTES];

    /* Reserved at create: scans, snapshots. */
    u8 *buffer;            /* STORAGE_BUFFER_BYTES */
    u8 *headers_buffer;    /* STORAGE_HEADERS_WINDOW_BYTES */
    struct storage_writer writer;
    struct storage_reader reader;
    /* Guards the spare segment files: held by storage_segment_prepare_spares (a checkpoint's
     * thread) while it makes them; a segment start only tries it (never waits) and, when it
     * is busy, creates its own files. */
    pthread_mutex_t spares_mutex;
    /* Set once both spares are made, cleared when a segment start takes one (or a make
     * begins): a checkpoint's thread then makes them between two pieces, off the committing
     * thread. */
    atomic_bool spares_ready;
};

/* The header-copy window: a batch's worth of copies. */
#define STORAGE_HEADERS_WINDOW_BYTES (STORAGE_BATCH_RECORDS_MAX * STORAGE_RECORD_HEADER_BYTES)

#endif /* KHORGOS_STORAGE_H */
