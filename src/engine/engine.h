/*
 * engine: the library's front door. It owns the state machines (the ledger now; settlement,
 * FX and netting as they land), the clock and (with storage) the journal, and implements the
 * public calls of include/khorgos.h.
 *
 * A request moves through three steps, so that a live request and its replay from the journal
 * run exactly the same code:
 *   1. validate (engine_validate): operation, body size, event count, reply capacity, remaining
 *      capacity. A refused request changes nothing and is not journaled. Then the actor
 *      (engine_auth_check): a read it may not use is refused here too.
 *   2. prepare (engine_prepare): assign its timestamp T, the last of its n events': the first
 *      is max(clock, last + 1) and event i gets first + i, so every event gets a unique,
 *      strictly increasing timestamp, never before the clock, however the clock moves. Pending
 *      transfers due to expire by then are expired first, as an internal PULSE request with its
 *      own timestamp.
 *   3. apply (engine_apply, through engine_auth_apply as the request's actor): run the state
 *      machine at T. Deterministic: it reads no clock. A state change the actor may not use is
 *      journaled and applied as nothing (forbidden); its events about other participants are
 *      answered forbidden; its reads leave others' records out (engine_auth.c).
 * With storage, each prepared request is appended to the journal between 2 and 3, and replies
 * of a batch are released only after the batch's one write and sync (group commit).
 *
 * Operations are numbered in include/khorgos.h; an operation's body and reply are whole records,
 * described once in engine_operation_table (engine.c).
 */
#ifndef KHORGOS_ENGINE_H
#define KHORGOS_ENGINE_H

#include "base/base.h"
#include "client/client.h"
#include "ledger/ledger.h"
#include "settle/settle.h"

/* Client sessions held at once (engine_session.c): the server's default --max-connections, so
 * that as many clients as connections, each sending one request at a time, keep their sessions
 * (TigerBeetle's production clients_max is 64; past the bound the same eviction applies, oldest
 * session first). Each keeps its latest reply, up to a message body, and its batches' sizes
 * in one anonymous mapping of 1.25 GiB reserved at open and never touched ahead: a page costs
 * memory only once a reply is written there, so a table of small replies (a single
 * transfer's is 16 bytes) stays a few MiB resident. That is acceptable because the 1.25 GiB is
 * address space, not memory: it is mapped MAP_NORESERVE, so Linux's default overcommit
 * heuristic does not count it; it does count against `ulimit -v` (with the checkpoint's copy
 * buffer of the same bound, about 2.5 GiB more than the ledger's reservation) and, under
 * strict overcommit (vm.overcommit_memory=2), against the commit limit. A snapshot holds the
 * sessions' replies as written (about 1.25 GiB only when every latest reply is full). Every
 * per-request lookup goes through an index by client id (a base_id_map reserved at open). */
#define ENGINE_SESSIONS_MAX 1024u
/* A session's latest reply: its batches' engine replies back to back, at most one message
 * body (the server checks that a request's expected results fit one reply). */
#define ENGINE_SESSION_REPLY_BYTES_MAX CLIENT_BODY_BYTES_MAX
/* The session table's snapshot section's version. */
#define ENGINE_SESSIONS_SECTION_VERSION 1u
/* Batches of one client request at most: the multi-batch encoding's bound. */
#define ENGINE_SESSION_BATCHES_MAX CLIENT_MULTI_BATCH_COUNT_MAX

/* One client's session: its latest request and that request's reply. */
struct engine_session {
    u128 client;           /* 0: a free slot */
    u128 request_checksum; /* the latest request's: a retry must repeat it */
    u64 session;           /* the sequence of its register: the session number */
    u64 request;           /* the latest request's number (0: the register) */
    u64 commit;            /* the sequence of the latest record applied: eviction takes the
                            * lowest, the session whose latest reply is oldest */
    u64 timestamp;         /* the latest request's timestamp (its last batch's) */
    u32 release;           /* the release it registered with */
    u32 operation;         /* the latest request's engine operation */
    khorgos_error error;   /* the latest request's error: ok, or forbidden (authorization's
                            * refusal is applied and recorded like any request) */
    u16 batch_count;       /* the latest request's batches */
    u16 batches_done;      /* of them applied: the reply is whole when equal */
    u32 reply_size;        /* bytes of reply so far */
    u32 *batch_reply_sizes; /* [ENGINE_SESSION_BATCHES_MAX], reserved at open */
    u8 *reply;              /* [ENGINE_SESSION_REPLY_BYTES_MAX], reserved at open */
    u32 slot;               /* its index in the table, fixed at open (a key for the server's
                             * cache of reply messages) */
};

struct engine_sessions {
    struct engine_session entries[ENGINE_SESSIONS_MAX];
    struct base_id_map index; /* client -> slot, of every occupied slot */
    u32 count;                /* occupied slots: entries[0, count); a slot once taken is only
                               * ever taken over by another client (eviction) */
    void *memory; /* the replies' reservation */
    u64 memory_bytes;
};

struct khorgos {
    struct ledger ledger;
    struct settle settle; /* real-time gross settlement over the ledger (settle.h) */
    bool clock_manual;
    u64 clock_manual_ns;
    /* The last timestamp assigned to anything: strictly increasing across requests. */
    u64 timestamp_last;
    /* Requests applied since open (replayed or live), for the journal's sequence numbers. */
    u64 request_count;
    bool stopped;
    /* Client sessions (engine_session.c): state, journaled with each client's requests. */
    struct engine_sessions sessions;
    /* The data directory (engine_storage.c); NULL for an engine in memory. */
    struct engine_storage *storage;
    /* Authorization's scratch for one request (engine_auth.c), reserved at open. */
    struct engine_auth_scratch *auth_scratch;
};

/* How an operation's body and reply are shaped. */
struct engine_operation {
    u32 operation;
    const char *name;
    u32 body_record_size;   /* bytes per body record */
    u32 reply_record_size;  /* bytes per reply record */
    bool body_single;       /* exactly one body record (a filter) */
    bool changes_state;     /* journaled */
};

const struct engine_operation *engine_operation_find(u32 operation);

/* Validates a request (step 1); returns ok or why it is refused. */
khorgos_error engine_validate(const struct khorgos *engine, const struct khorgos_request *request);
/* Applies an operation at a timestamp already assigned (step 3); used live and by replay.
 * Writes the reply and returns its size in bytes. */
u32 engine_apply(struct khorgos *engine, u32 operation, u64 timestamp, const void *body,
                 u32 body_size, void *reply, const struct khorgos_client_request *client);
/* A client's request applied at its timestamp (step 3), live or in replay: as its actor
 * (engine_auth_apply), then taken by its session, if any (engine_session.c). Sets
 * request->error to forbidden when authorization refuses it; returns the reply's size. */
u32 engine_apply_request(struct khorgos *engine, struct khorgos_request *request,
                         u64 timestamp);
/* Whether a request is journaled: a state change, or any request of a client's session (a
 * read too, so that replay reproduces its reply for a retry). */
bool engine_operation_journaled(const struct engine_operation *entry,
                                const struct khorgos_client_request *client);

/* Sessions (engine_session.c). */
khorgos_error engine_sessions_init(struct engine_sessions *sessions);
void engine_sessions_deinit(struct engine_sessions *sessions);
/* The client's session, NULL when it has none. */
const struct engine_session *engine_session_find(const struct khorgos *engine, u128 client);
/* Whether the client's session takes this engine request next (validation): ok, or
 * no_session, request_duplicate (a retry of the latest, whole request: answer with its stored
 * reply), request_mismatch (that number with another checksum), request_out_of_order,
 * too_many_events (its reply would not fit the session's), invalid_argument. */
khorgos_error engine_session_check(const struct khorgos *engine, u32 operation,
                                   const struct khorgos_client_request *client,
                                   u32 reply_size_max);
/* Records an applied request (the journal's record `sequence`): a register opens the session
 * (evicting the one whose latest reply is oldest when the table is full); another request's
 * reply is appended to its session's, and its error (ok or forbidden) kept with it. Returns
 * the evicted client, 0 when none. */
u128 engine_session_apply(struct khorgos *engine, const struct khorgos_client_request *client,
                          u32 operation, u64 sequence, u64 timestamp, const void *reply,
                          u32 reply_size, khorgos_error error);
/* The client that a register from `client` would evict now, 0 when none. */
u128 engine_session_evictee(const struct khorgos *engine, u128 client);
/* The session table's snapshot section (STORAGE_SECTION_SESSIONS), its digest (XXH3-128 of
 * exactly the section's bytes), and its load (corrupt when it breaks a rule). */
struct storage_writer;
struct storage_reader;
void engine_sessions_write(const struct engine_sessions *sessions, struct storage_writer *writer);
u128 engine_sessions_digest(const struct engine_sessions *sessions);
u64 engine_sessions_bytes(const struct engine_sessions *sessions);
khorgos_error engine_sessions_read(struct engine_sessions *sessions,
                                   struct storage_reader *reader);

/* Authorization (engine_auth.c; docs/security.md). The scratch, reserved at open. */
khorgos_error engine_auth_init(struct khorgos *engine);
void engine_auth_deinit(struct khorgos *engine);
/* Whether an actor is well formed: a known role, a valid BIC for a participant, zero else. */
bool engine_auth_actor_valid(const struct khorgos_actor *actor);
/* After engine_validate: invalid_argument for a malformed actor, forbidden for a read-only
 * operation the actor may not use; ok otherwise (a state-changing operation the actor may not
 * use is journaled, then refused by engine_auth_apply). */
khorgos_error engine_auth_check(const struct khorgos *engine,
                                const struct khorgos_request *request);
/* engine_apply as `actor`: the operator's requests and pulses unchanged; others' refused
 * (*error forbidden, applied as nothing), their events about other participants answered
 * forbidden, their reads without others' records. Used live and by replay. */
u32 engine_auth_apply(struct khorgos *engine, const struct khorgos_actor *actor, u32 operation,
                      u64 timestamp, const void *body, u32 body_size, void *reply,
                      khorgos_error *error);
/* The journal's actor text (16 bytes, NUL-padded): the normalised BIC, or "operator",
 * "auditor", "replica"; and back (what is none of these, "local" and "engine" included, is
 * the operator). */
void engine_auth_actor_text(const struct khorgos_actor *actor, char text[16]);
void engine_auth_actor_parse(const char text[16], struct khorgos_actor *actor);

/* Sets a manual clock to `clock_ns`, forward or back, then applies the expiries and settlement
 * timers due by then (journaled with storage), as khorgos_clock_advance does. For a replica,
 * whose clock is the leader's time carried in each replicated entry: timestamps stay strictly
 * increasing whatever the clock does (step 2 above), and the state after the call depends only
 * on the state before and `clock_ns`, never on a clock the engine kept. */
khorgos_error engine_clock_set(struct khorgos *engine, u64 clock_ns);
/* The state's digest (XXH3-128 over the ledger's and the settlement layer's), the one a
 * snapshot records: equal on two engines that applied the same requests. */
u128 engine_state_digest(const struct khorgos *engine);

/* Storage (engine_storage.c). The journal hooks do nothing for an engine in memory. */
struct storage_io;
struct storage_report;
struct storage_superblock;
/* Appends a prepared state-changing request to the batch's journal records (between prepare
 * and apply); a failure stops the engine. */
khorgos_error engine_journal_append(struct khorgos *engine, u32 operation, u64 timestamp,
                                    const struct khorgos_actor *actor,
                                    const struct khorgos_client_request *client,
                                    const void *body, u32 body_size);
/* Makes the batch durable before any reply is released (group commit), then applies the
 * checkpoint policy; a failure stops the engine and returns why. */
khorgos_error engine_journal_commit(struct khorgos *engine);
/* The two halves of engine_journal_commit, for khorgos_execute_begin and _wait: submit hands the
 * batch to the journal's writer (and may checkpoint); wait returns once `sequence` is durable. */
khorgos_error engine_journal_submit(struct khorgos *engine);
khorgos_error engine_journal_wait(struct khorgos *engine, u64 sequence);
void engine_storage_close(struct khorgos *engine);
/* The cluster id the data directory records (format --cluster); 0 for an engine in memory. */
u128 engine_cluster(const struct khorgos *engine);
/* The clock a checkpoint's pacing reads (storage.h, struct storage_pace; default
 * base_clock_system), for a deterministic simulation: with any other clock, a checkpoint
 * written inline (on the simulated I/O) waits before each piece as the thread would, on that
 * clock, so every wait there ends by the idle rule as the simulated time moves on. Set it
 * between requests, with no checkpoint running. */
struct base_clock;
void engine_storage_pace_clock_set(struct khorgos *engine, const struct base_clock *clock);
/* For a deterministic simulation that interleaves a checkpoint with requests (tests/vopr.h):
 * checkpoints on any I/O run on the thread, paced on `clock`, the thread held by `schedule`
 * (storage.h) so that it runs only when the test lets it. NULLs: back to the defaults. Set it
 * between requests, with no checkpoint running. */
struct storage_checkpoint_schedule;
void engine_checkpoint_schedule_set(struct khorgos *engine, const struct base_clock *clock,
                                    const struct storage_checkpoint_schedule *schedule);
/* The engine's state as a snapshot in memory, byte for byte the snapshot file's format
 * (storage.h), for a replica to hand to another: the live state, between requests (with a data
 * directory, once every batch begun was waited for: invalid_operation otherwise). no_space when
 * it needs more than `capacity` bytes: *size_bytes says how many. */
khorgos_error engine_snapshot_memory_write(const struct khorgos *engine, u8 *memory,
                                           u64 capacity, u64 *size_bytes);
/* A new, empty engine in memory with the capacities and clock mode of `like`. */
khorgos_error engine_open_memory_like(const struct khorgos *like, struct khorgos **out);
/* A new engine in memory, with the capacities and clock mode of `like`, holding the state of a
 * snapshot in memory. The snapshot is verified whole (checksums, then each module's loader,
 * then its sequence, last timestamp and digest against the header) before the engine is
 * handed out: corrupt or format_version otherwise, and nothing is made. */
khorgos_error engine_snapshot_memory_load(const struct khorgos *like, const void *bytes,
                                          u64 size_bytes, struct khorgos **out);
/* Takes a snapshot in memory that is ahead of an engine on a data directory (a replica that
 * lags behind a leader's compacted log, or a new one): verified whole first (corrupt or
 * format_version, nothing changed), it becomes the directory's newest snapshot file, the
 * journal goes on after it (a new segment, chained from the snapshot's chain head), the
 * engine's state is the snapshot's, and the snapshots and segments before it are collected.
 * invalid_operation when it is not ahead. A failure of the disk after the file is written
 * stops the engine, as a failed commit does. */
khorgos_error engine_snapshot_install(struct khorgos *engine, const void *bytes,
                                      u64 size_bytes);
/* Formats a data directory on any io (khorgos_format uses the POSIX one). */
khorgos_error engine_storage_format(struct storage_io *io,
                                    const struct storage_superblock *superblock);
/* Opens and recovers a data directory on any io; the engine owns the io if `io_owned`. */
khorgos_error engine_storage_open(struct khorgos **engine, struct storage_io *io, bool io_owned,
                                  const struct khorgos_open_options *options,
                                  struct storage_report *report);
/* Verifies a data directory without changing it: every checksum, the chain, and the state
 * digest of each snapshot by replay, classifying it as open does: corrupt or format_version
 * (open refuses), ok with report->repairable (open repairs or works around what the report
 * describes, losing no acknowledged record), ok (clean), or an io error. */
khorgos_error engine_storage_check(struct storage_io *io, struct storage_report *report);
/* Proves the hash chain from request 1: the archive folder's segments (`archive`, opened on
 * DIR/archive, or NULL when there is none) from the zero hash, then the journal's, which must
 * begin right after them. not_found, described, when checkpoints removed requests the archive
 * does not hold; corrupt when a record fails. Writes nothing. */
khorgos_error engine_storage_check_genesis(struct storage_io *io, struct storage_io *archive,
                                           struct storage_report *report);

#endif /* KHORGOS_ENGINE_H */
