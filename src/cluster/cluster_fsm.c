/* The replicated state machine (cluster.h): a raft_fsm that applies entries to an engine. */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "storage/storage.h"

/* A decoded entry header; `body` points into an aligned buffer. */
struct cluster_entry {
    u16 kind;
    u32 request_count;
    u64 timestamp_ns;
    u64 mark;
    const u8 *body;
    u64 body_bytes;
};

static u16 cluster_get_u16(const u8 *at) {
    ASSERT(at != NULL);
    u16 value;
    memcpy(&value, at, sizeof(value));
    return value;
}
static u32 cluster_get_u32(const u8 *at) {
    ASSERT(at != NULL);
    u32 value;
    memcpy(&value, at, sizeof(value));
    return value;
}
static u64 cluster_get_u64(const u8 *at) {
    ASSERT(at != NULL);
    u64 value;
    memcpy(&value, at, sizeof(value));
    return value;
}

/* The bitmap of a body's words (cluster.h): its bits past the body's words and its padding
 * bytes are zero. */
static bool cluster_bitmap_valid(const u8 *bitmap, u64 bitmap_bytes, u64 words) {
    ASSERT(bitmap != NULL || bitmap_bytes == 0);
    ASSERT(bitmap_bytes * 8 >= words);
    for (u64 byte = words / 8; byte < bitmap_bytes; byte++) {
        u64 valid = byte * 8 < words ? words - byte * 8 : 0; /* below 8 from words / 8 on */
        if ((bitmap[byte] >> valid) != 0) return false;
    }
    return true;
}

/* Unpacks one body (cluster.h, version 3) from `in` (in_bytes at most) into `out`, its
 * padded size: a word the bitmap marks present is copied, and must not be zero (a zero word
 * is always left out, so that an entry has one encoding); the others are zero. The body's
 * last word holds zeros past the body. false when the body is malformed; `used` is the
 * bytes it takes. */
static bool cluster_body_unpack(const u8 *in, u64 in_bytes, u32 body_size, u8 *out,
                                u64 *used) {
    ASSERT(in != NULL && out != NULL && used != NULL);
    ASSERT(body_size <= LIMIT_REQUEST_BODY_BYTES_MAX);
    u64 words = cluster_padded_bytes(body_size) / 16;
    u64 bitmap_bytes = cluster_body_bitmap_bytes(body_size);
    if (in_bytes < bitmap_bytes || !cluster_bitmap_valid(in, bitmap_bytes, words)) return false;
    const u8 *word_in = in + bitmap_bytes;
    const u8 *end = in + in_bytes;
    u64 zero_kept = 0;
    for (u64 word = 0; word < words; word++) {
        u64 low = 0, high = 0;
        if ((in[word / 8] >> (word % 8)) & 1u) {
            if (end - word_in < 16) return false;
            memcpy(&low, word_in, sizeof(low));
            memcpy(&high, word_in + 8, sizeof(high));
            zero_kept |= (low | high) == 0;
            word_in += 16;
        }
        memcpy(out + word * 16, &low, sizeof(low));
        memcpy(out + word * 16 + 8, &high, sizeof(high));
    }
    if (zero_kept != 0) return false;
    for (u64 byte = body_size; byte < words * 16; byte++) {
        if (out[byte] != 0) return false;
    }
    *used = (u64)(word_in - in);
    return true;
}

/* A batch's requests (version 3) into the expanded layout after its header; false when they
 * are malformed. */
static bool cluster_batch_expand(const u8 *body, u64 body_bytes, u32 request_count, u8 *out,
                                 u64 *out_bytes) {
    ASSERT(body != NULL && out != NULL && out_bytes != NULL);
    ASSERT(request_count <= CLUSTER_ENTRY_REQUEST_COUNT_MAX);
    u64 offset = 0;
    u64 expanded = 0;
    for (u32 index = 0; index < request_count; index++) {
        if (body_bytes - offset < CLUSTER_REQUEST_HEADER_BYTES) return false;
        u32 body_size = cluster_get_u32(body + offset + 4);
        if (body_size > LIMIT_REQUEST_BODY_BYTES_MAX) return false;
        u64 padded = cluster_padded_bytes(body_size);
        if (CLUSTER_ENTRY_HEADER_BYTES + expanded + CLUSTER_REQUEST_HEADER_BYTES + padded >
            CLUSTER_ENTRY_BYTES_MAX) {
            return false;
        }
        memcpy(out + expanded, body + offset, CLUSTER_REQUEST_HEADER_BYTES);
        offset += CLUSTER_REQUEST_HEADER_BYTES;
        expanded += CLUSTER_REQUEST_HEADER_BYTES;
        u64 used = 0;
        if (!cluster_body_unpack(body + offset, body_bytes - offset, body_size, out + expanded,
                                 &used)) {
            return false;
        }
        offset += used;
        expanded += padded;
    }
    *out_bytes = expanded;
    return offset == body_bytes;
}

khorgos_error cluster_entry_expand(const void *entry, u64 entry_bytes, void *out,
                                   u64 *out_bytes) {
    ASSERT(entry != NULL && out != NULL);
    ASSERT(out_bytes != NULL);
    const u8 *data = entry;
    u8 *expanded = out;
    if (entry_bytes < CLUSTER_ENTRY_HEADER_BYTES) return KHORGOS_ERROR_corrupt;
    if (entry_bytes > CLUSTER_ENTRY_ENCODED_BYTES_MAX) return KHORGOS_ERROR_corrupt;
    if (cluster_get_u32(data) != CLUSTER_ENTRY_MAGIC) return KHORGOS_ERROR_corrupt;
    if (cluster_get_u16(data + 4) != CLUSTER_ENTRY_VERSION) return KHORGOS_ERROR_corrupt;
    u64 body_bytes = entry_bytes - CLUSTER_ENTRY_HEADER_BYTES;
    if (cluster_get_u64(data + 32) != body_bytes) return KHORGOS_ERROR_corrupt;
    u16 kind = cluster_get_u16(data + 6);
    u32 request_count = cluster_get_u32(data + 8);
    memcpy(expanded, data, CLUSTER_ENTRY_HEADER_BYTES);
    if (kind == CLUSTER_ENTRY_CHECK && body_bytes == CLUSTER_CHECK_BYTES) {
        memcpy(expanded + CLUSTER_ENTRY_HEADER_BYTES, data + CLUSTER_ENTRY_HEADER_BYTES,
               CLUSTER_CHECK_BYTES);
        *out_bytes = entry_bytes;
        return KHORGOS_ERROR_ok;
    }
    if (kind != CLUSTER_ENTRY_BATCH || request_count > CLUSTER_ENTRY_REQUEST_COUNT_MAX) {
        return KHORGOS_ERROR_corrupt;
    }
    u64 expanded_body = 0;
    if (!cluster_batch_expand(data + CLUSTER_ENTRY_HEADER_BYTES, body_bytes, request_count,
                              expanded + CLUSTER_ENTRY_HEADER_BYTES, &expanded_body)) {
        return KHORGOS_ERROR_corrupt;
    }
    memcpy(expanded + 32, &expanded_body, sizeof(expanded_body));
    *out_bytes = CLUSTER_ENTRY_HEADER_BYTES + expanded_body;
    ASSERT(*out_bytes <= CLUSTER_ENTRY_BYTES_MAX);
    return KHORGOS_ERROR_ok;
}

/* A request header's fields besides operation and size (cluster.h): the flags are 0 or
 * CLUSTER_REQUEST_CLIENT, the reserved bytes zero, the client fields all zero without the flag
 * and naming a client with it. */
static bool cluster_request_header_valid(const u8 *at) {
    ASSERT(at != NULL);
    u32 flags = cluster_get_u32(at + 8);
    if ((flags & ~CLUSTER_REQUEST_CLIENT) != 0 || cluster_get_u32(at + 12) != 0) return false;
    if (at[31] != 0) return false;
    u128 client;
    memcpy(&client, at + 32, sizeof(client));
    if (flags == CLUSTER_REQUEST_CLIENT) return client != 0;
    static const u8 zero[48];
    ASSERT(CLUSTER_REQUEST_HEADER_BYTES - 32 == sizeof(zero));
    return memcmp(at + 32, zero, sizeof(zero)) == 0;
}

/* Checks a batch's requests against body_bytes without applying anything. */
static bool cluster_batch_valid(const struct cluster_entry *entry) {
    ASSERT(entry != NULL);
    ASSERT(entry->kind == CLUSTER_ENTRY_BATCH);
    if (entry->request_count > CLUSTER_ENTRY_REQUEST_COUNT_MAX) return false;
    u64 offset = 0;
    for (u32 index = 0; index < entry->request_count; index++) {
        if (entry->body_bytes - offset < CLUSTER_REQUEST_HEADER_BYTES) return false;
        u32 body_size = cluster_get_u32(entry->body + offset + 4);
        if (!cluster_request_header_valid(entry->body + offset)) return false;
        if (body_size > LIMIT_REQUEST_BODY_BYTES_MAX) return false;
        u64 padded = cluster_padded_bytes(body_size);
        offset += CLUSTER_REQUEST_HEADER_BYTES;
        if (entry->body_bytes - offset < padded) return false;
        offset += padded;
    }
    return offset == entry->body_bytes;
}

/* Decodes and checks a whole entry; false (nothing applied) when it is malformed. */
static bool cluster_entry_decode(const u8 *data, u64 bytes, struct cluster_entry *entry) {
    ASSERT(data != NULL && entry != NULL);
    ASSERT(((uintptr_t)data & 15) == 0);
    if (bytes < CLUSTER_ENTRY_HEADER_BYTES || bytes > CLUSTER_ENTRY_BYTES_MAX) return false;
    if (cluster_get_u32(data) != CLUSTER_ENTRY_MAGIC) return false;
    if (cluster_get_u16(data + 4) != CLUSTER_ENTRY_VERSION) return false;
    if (cluster_get_u32(data + 12) != 0 || cluster_get_u64(data + 40) != 0) return false;
    entry->kind = cluster_get_u16(data + 6);
    entry->request_count = cluster_get_u32(data + 8);
    entry->timestamp_ns = cluster_get_u64(data + 16);
    entry->mark = cluster_get_u64(data + 24);
    entry->body_bytes = cluster_get_u64(data + 32);
    entry->body = data + CLUSTER_ENTRY_HEADER_BYTES;
    if (entry->timestamp_ns == 0) return false;
    if (entry->body_bytes != bytes - CLUSTER_ENTRY_HEADER_BYTES) return false;
    if (entry->kind == CLUSTER_ENTRY_CHECK) {
        return entry->request_count == 0 && entry->mark == 0 &&
               entry->body_bytes == CLUSTER_CHECK_BYTES && cluster_get_u64(entry->body) != 0 &&
               cluster_get_u64(entry->body + 8) == 0;
    }
    return entry->kind == CLUSTER_ENTRY_BATCH && cluster_batch_valid(entry);
}

/* The engine entries apply to: the replay engine while one runs (cluster.h, restart). */
static struct khorgos *cluster_fsm_state(const struct cluster_fsm *fsm) {
    ASSERT(fsm != NULL && fsm->engine != NULL);
    ASSERT(fsm->replay == NULL || fsm->engine->storage != NULL);
    return fsm->replay != NULL ? fsm->replay : fsm->engine;
}

/* The actor and, when the header has them, the client fields of a request (validated). */
static void cluster_request_decode(struct cluster_fsm *fsm, u32 index, const u8 *at,
                                   struct khorgos_request *request) {
    ASSERT(fsm != NULL && at != NULL);
    ASSERT(index < CLUSTER_ENTRY_REQUEST_COUNT_MAX);
    request->actor.role = cluster_get_u32(at + 16);
    memcpy(request->actor.bic, at + 20, KHORGOS_BIC_BYTES);
    request->client = NULL;
    if (cluster_get_u32(at + 8) != CLUSTER_REQUEST_CLIENT) return;
    struct khorgos_client_request *client = &fsm->clients[index];
    memcpy(&client->client, at + 32, sizeof(client->client));
    memcpy(&client->checksum, at + 48, sizeof(client->checksum));
    client->request = cluster_get_u64(at + 64);
    client->release = cluster_get_u32(at + 72);
    client->batch = cluster_get_u16(at + 76);
    client->batch_count = cluster_get_u16(at + 78);
    request->client = client;
}

/* Stops the replica: it applies nothing more, and says why (cluster_fsm_stopped). */
static void cluster_fsm_stop(struct cluster_fsm *fsm, khorgos_error error) {
    ASSERT(fsm != NULL);
    ASSERT(error != KHORGOS_ERROR_ok);
    if (fsm->stop_error == KHORGOS_ERROR_ok) fsm->stop_error = error;
    fsm->result.error = fsm->stop_error;
}

/* The replay engine holds as many requests as the journal: the two must be one state
 * (diverged otherwise, and the replica stops); the replay engine is dropped either way, and
 * the data directory's engine applies what comes next. */
static void cluster_replay_hand_over(struct cluster_fsm *fsm) {
    ASSERT(fsm != NULL && fsm->replay != NULL);
    ASSERT(fsm->replay->request_count == fsm->engine->request_count);
    bool equal = engine_state_digest(fsm->replay) == engine_state_digest(fsm->engine);
    khorgos_close(fsm->replay);
    fsm->replay = NULL;
    if (!equal) cluster_fsm_stop(fsm, KHORGOS_ERROR_diverged);
}

/* A batch applied while a replay runs (cluster.h, restart): its requests go to the replay
 * engine one at a time (a batch's requests apply in order, each as if alone: the same state
 * and records as one call). Where the replay reaches the journal's last request inside the
 * batch (a crash cut the journal's write of it: only the first requests' records are whole),
 * the states are compared there and the data directory's engine applies the rest of the
 * batch from raft's log, so its journal goes on from its last whole record with the requests
 * it lacks, each once. A journal ending inside one request's records (between a timer's
 * record and the request's own) cannot be continued: corrupt. */
static khorgos_error cluster_batch_replay(struct cluster_fsm *fsm,
                                          const struct cluster_entry *entry) {
    ASSERT(fsm != NULL && fsm->replay != NULL && entry != NULL);
    ASSERT(fsm->replay->request_count < fsm->engine->request_count);
    struct khorgos_request *requests = fsm->result.requests;
    u64 journal = fsm->engine->request_count;
    khorgos_error error = engine_clock_set(fsm->replay, entry->timestamp_ns);
    u32 index = 0;
    while (error == KHORGOS_ERROR_ok && index < entry->request_count &&
           fsm->replay->request_count < journal) {
        u64 ticket = 0;
        error = khorgos_execute_begin(fsm->replay, &requests[index], 1, &ticket);
        index++;
    }
    if (error != KHORGOS_ERROR_ok || index == entry->request_count) return error;
    if (fsm->replay->request_count > journal) {
        cluster_fsm_stop(fsm, KHORGOS_ERROR_corrupt);
        return KHORGOS_ERROR_corrupt;
    }
    cluster_replay_hand_over(fsm);
    if (fsm->stop_error != KHORGOS_ERROR_ok) return fsm->stop_error;
    fsm->journal_continued++;
    fsm->journal_continued_sequence = journal;
    error = engine_clock_set(fsm->engine, entry->timestamp_ns);
    u64 ticket = 0;
    if (error == KHORGOS_ERROR_ok) {
        error = khorgos_execute_begin(fsm->engine, &requests[index], entry->request_count - index,
                                      &ticket);
    }
    return error;
}

/* Runs a batch on the engine at the leader's time; replies go to the fsm's buffer. */
static void cluster_batch_apply(struct cluster_fsm *fsm, const struct cluster_entry *entry) {
    ASSERT(fsm != NULL && entry != NULL);
    ASSERT(entry->kind == CLUSTER_ENTRY_BATCH);
    struct khorgos *engine = cluster_fsm_state(fsm);
    struct cluster_apply_result *result = &fsm->result;
    result->error = engine_clock_set(engine, entry->timestamp_ns);
    if (result->error != KHORGOS_ERROR_ok) return;
    u64 offset = 0;
    u64 reply_offset = 0;
    for (u32 index = 0; index < entry->request_count; index++) {
        struct khorgos_request *request = &result->requests[index];
        u32 body_size = cluster_get_u32(entry->body + offset + 4);
        u32 operation = cluster_get_u32(entry->body + offset);
        const u8 *header = entry->body + offset;
        offset += CLUSTER_REQUEST_HEADER_BYTES;
        /* A register's reply is the session's number. */
        u32 reply_max = operation == KHORGOS_OPERATION_REGISTER
                            ? (u32)sizeof(u64)
                            : khorgos_reply_size_max(operation, body_size);
        u32 reply_capacity = MIN(reply_max, (u32)(CLUSTER_REPLY_BYTES_MAX - reply_offset));
        *request = (struct khorgos_request){.operation = operation,
                                            .body_size = body_size,
                                            .body = entry->body + offset,
                                            .reply = fsm->replies + reply_offset,
                                            .reply_capacity = reply_capacity};
        cluster_request_decode(fsm, index, header, request);
        offset += cluster_padded_bytes(body_size);
        reply_offset = MIN(reply_offset + cluster_padded_bytes(reply_capacity),
                           (u64)CLUSTER_REPLY_BYTES_MAX); /* replies stay 16-byte aligned */
        ASSERT(reply_offset <= CLUSTER_REPLY_BYTES_MAX);
    }
    ASSERT(offset == entry->body_bytes);
    result->request_count = entry->request_count;
    if (fsm->replay != NULL) {
        result->error = cluster_batch_replay(fsm, entry);
    } else {
        /* Begun, not waited for: cluster_fsm_journal_wait says why that is safe. */
        u64 ticket = 0;
        result->error =
            khorgos_execute_begin(engine, result->requests, entry->request_count, &ticket);
    }
    if (result->error == KHORGOS_ERROR_ok && entry->mark != 0) {
        fsm->mark = entry->mark;
        fsm->mark_digest = engine_state_digest(cluster_fsm_state(fsm));
    }
}

/* Entries are applied with khorgos_execute_begin alone; this waits for their journal writes
 * (cluster.h says why that is safe, docs/replication.md "Durability"). */
khorgos_error cluster_fsm_journal_wait(struct cluster_fsm *fsm) {
    ASSERT(fsm != NULL && fsm->engine != NULL);
    ASSERT(fsm->replay == NULL || fsm->replay->storage == NULL); /* the replay is in memory */
    struct khorgos *engine = fsm->engine;
    if (engine->storage == NULL) return KHORGOS_ERROR_ok;
    return khorgos_execute_wait(engine, engine->request_count);
}

/* Compares this replica's digest under the check's mark with the leader's. A replica that does
 * not hold that mark (it restored a later snapshot) has nothing to compare. */
static void cluster_check_apply(struct cluster_fsm *fsm, const struct cluster_entry *entry) {
    ASSERT(fsm != NULL && entry != NULL);
    ASSERT(entry->kind == CLUSTER_ENTRY_CHECK);
    u64 mark = cluster_get_u64(entry->body);
    u128 digest;
    memcpy(&digest, entry->body + 16, sizeof(digest));
    fsm->result.error = KHORGOS_ERROR_ok;
    if (mark != fsm->mark || digest == fsm->mark_digest) return;
    fsm->diverged = true;
    fsm->diverged_mark = mark;
    fsm->result.error = KHORGOS_ERROR_diverged;
}

/* After an entry applied to the replay engine, or a snapshot restored into it: once that
 * engine holds as many requests as the journal, the data directory's engine takes over
 * (cluster_replay_hand_over). A snapshot past the journal's last request cannot be compared
 * with it: corrupt. */
static void cluster_replay_step(struct cluster_fsm *fsm) {
    ASSERT(fsm != NULL && fsm->replay != NULL);
    ASSERT(fsm->engine->storage != NULL);
    u64 journal = fsm->engine->request_count;
    if (fsm->replay->request_count < journal) return;
    if (fsm->replay->request_count == journal) {
        cluster_replay_hand_over(fsm);
        return;
    }
    khorgos_close(fsm->replay);
    fsm->replay = NULL;
    cluster_fsm_stop(fsm, KHORGOS_ERROR_corrupt);
}

const struct cluster_apply_result *cluster_fsm_apply(struct cluster_fsm *fsm, const void *entry,
                                                     u64 entry_bytes) {
    ASSERT(fsm != NULL && fsm->engine != NULL);
    ASSERT(entry != NULL);
    struct cluster_apply_result *result = &fsm->result;
    result->request_count = 0;
    fsm->entries_applied++;
    if (fsm->diverged || fsm->stop_error != KHORGOS_ERROR_ok) {
        result->error = fsm->diverged ? KHORGOS_ERROR_diverged : fsm->stop_error;
        return result;
    }
    /* Expanded into the fsm's buffer (aligned), every part checked before anything applies. */
    u64 expanded_bytes = 0;
    struct cluster_entry decoded;
    if (cluster_entry_expand(entry, entry_bytes, fsm->entry_copy, &expanded_bytes) !=
            KHORGOS_ERROR_ok ||
        !cluster_entry_decode(fsm->entry_copy, expanded_bytes, &decoded)) {
        result->error = KHORGOS_ERROR_corrupt;
        return result;
    }
    if (decoded.kind == CLUSTER_ENTRY_BATCH) {
        cluster_batch_apply(fsm, &decoded);
    } else {
        cluster_check_apply(fsm, &decoded);
    }
    if (fsm->replay != NULL) cluster_replay_step(fsm);
    ASSERT(result->request_count <= decoded.request_count);
    return result;
}

bool cluster_fsm_diverged(const struct cluster_fsm *fsm) {
    ASSERT(fsm != NULL);
    ASSERT(!fsm->diverged || fsm->diverged_mark != 0);
    return fsm->diverged;
}

/* Counts an applied entry towards the next snapshot; once the entries since the last one
 * hold the bytes (cluster.h, "Log compaction"), lowers raft's entry threshold to their count,
 * so raft takes the snapshot at one of its next steps (a message, an entry or a heartbeat
 * tick; raft does not check its threshold after each apply). The count leaves out raft's own
 * entries (barriers, configuration changes), which raft counts: the threshold is then below
 * raft's count, which still takes the snapshot. */
static void cluster_compaction_count(struct cluster_fsm *fsm, u64 entry_bytes) {
    ASSERT(fsm != NULL);
    ASSERT(fsm->compaction_raft == NULL || fsm->compaction_threshold_entries > 0);
    fsm->applied_since_snapshot_bytes += entry_bytes;
    if (fsm->applied_since_snapshot_entries < UINT32_MAX) fsm->applied_since_snapshot_entries++;
    if (fsm->compaction_raft == NULL) return;
    u64 limit = MAX(fsm->compaction_log_bytes, fsm->snapshot_last_bytes);
    if (fsm->applied_since_snapshot_bytes < limit) return;
    fsm->compaction_by_bytes = true;
    u32 entries = MIN(fsm->applied_since_snapshot_entries, fsm->compaction_threshold_entries);
    raft_set_snapshot_threshold(fsm->compaction_raft, MAX(entries, 1u));
}

/* After a snapshot taken or restored: the count starts again, and raft's thresholds are the
 * configured ones, but for the entries kept after a snapshot the bytes called (cluster.h). */
static void cluster_compaction_reset(struct cluster_fsm *fsm, bool taken) {
    ASSERT(fsm != NULL);
    ASSERT(fsm->compaction_raft == NULL || fsm->compaction_threshold_entries > 0);
    if (fsm->compaction_raft != NULL && taken) {
        u32 trailing = fsm->compaction_trailing_entries;
        if (fsm->compaction_by_bytes) {
            trailing = MIN(trailing, fsm->applied_since_snapshot_entries / 4);
        }
        raft_set_snapshot_trailing(fsm->compaction_raft, trailing);
    }
    if (fsm->compaction_raft != NULL) {
        raft_set_snapshot_threshold(fsm->compaction_raft, fsm->compaction_threshold_entries);
    }
    fsm->applied_since_snapshot_bytes = 0;
    fsm->applied_since_snapshot_entries = 0;
    fsm->compaction_by_bytes = false;
}

/* Applies one entry and tells the applied hook. */
static const struct cluster_apply_result *cluster_fsm_apply_one(struct cluster_fsm *fsm,
                                                                const void *entry, u64 bytes) {
    ASSERT(fsm != NULL && entry != NULL);
    ASSERT(fsm->deferred_count == 0);
    const struct cluster_apply_result *applied = cluster_fsm_apply(fsm, entry, bytes);
    if (fsm->applied != NULL) fsm->applied(fsm->applied_context, entry, bytes, applied);
    return applied;
}

void cluster_fsm_apply_deferred(struct cluster_fsm *fsm) {
    ASSERT(fsm != NULL);
    ASSERT(fsm->deferred_count <= CLUSTER_DEFERRED_ENTRIES_MAX);
    u32 count = fsm->deferred_count;
    fsm->deferred_count = 0; /* so that each apply below sees none held back */
    for (u32 index = 0; index < count; index++) {
        struct cluster_deferred_entry *entry = &fsm->deferred[index];
        cluster_fsm_apply_one(fsm, entry->bytes, entry->size_bytes);
        raft_free(entry->bytes);
        entry->bytes = NULL;
    }
}

/* Holds a committed entry back (cluster_fsm.defer): a copy, since raft owns its buffer.
 * false when it cannot (the queue is full, out of memory): the caller applies it now. */
static bool cluster_fsm_defer(struct cluster_fsm *fsm, const struct raft_buffer *buffer) {
    ASSERT(fsm != NULL && buffer != NULL);
    ASSERT(fsm->deferred_count <= CLUSTER_DEFERRED_ENTRIES_MAX);
    if (fsm->deferred_count == CLUSTER_DEFERRED_ENTRIES_MAX) return false;
    u8 *copy = raft_malloc(buffer->len > 0 ? buffer->len : 1);
    if (copy == NULL) return false;
    memcpy(copy, buffer->base, buffer->len);
    fsm->deferred[fsm->deferred_count++] =
        (struct cluster_deferred_entry){.bytes = copy, .size_bytes = buffer->len};
    fsm->entries_deferred++;
    return true;
}

/* raft_fsm's apply: every outcome is in the result, so raft's own status stays 0 (an entry
 * that a replica refuses is refused alike everywhere, being a function of the log). A
 * follower's entry may be held back (cluster_fsm.defer); its result, which no one reads, is
 * then the empty one. */
static int cluster_raft_apply(struct raft_fsm *raft_fsm, const struct raft_buffer *buffer,
                              void **result) {
    ASSERT(raft_fsm != NULL && raft_fsm->data != NULL);
    ASSERT(buffer != NULL && result != NULL);
    struct cluster_fsm *fsm = raft_fsm->data;
    static const struct cluster_apply_result deferred_result = {.error = KHORGOS_ERROR_ok};
    cluster_compaction_count(fsm, buffer->len); /* raft counts it applied, held back or not */
    bool defer = fsm->defer != NULL && fsm->defer(fsm->defer_context);
    if (defer && cluster_fsm_defer(fsm, buffer)) {
        *result = (void *)&deferred_result;
        return 0;
    }
    cluster_fsm_apply_deferred(fsm);
    *result = (void *)cluster_fsm_apply_one(fsm, buffer->base, buffer->len);
    return 0;
}

khorgos_error cluster_fsm_stopped(const struct cluster_fsm *fsm) {
    ASSERT(fsm != NULL);
    ASSERT(!fsm->diverged || fsm->diverged_mark != 0);
    return fsm->diverged ? KHORGOS_ERROR_diverged : fsm->stop_error;
}

/* The state the fsm is at, as a snapshot in a buffer from raft_malloc; its size is remembered
 * so the next one is usually written in one pass. */
khorgos_error cluster_fsm_snapshot(struct cluster_fsm *fsm, struct raft_buffer *buffer) {
    ASSERT(fsm != NULL && buffer != NULL);
    ASSERT(fsm->engine != NULL);
    cluster_fsm_apply_deferred(fsm); /* the snapshot covers every entry raft counts applied */
    /* A restarted replica replaying to its journal's end: the replay engine, in memory, has no
     * journal, so its snapshot could not record the chain head of its last request, and a
     * replica installing it would chain on from zeros. raft asks again at its next step. */
    if (fsm->replay != NULL) return KHORGOS_ERROR_invalid_operation;
    const struct khorgos *engine = cluster_fsm_state(fsm);
    khorgos_error error = cluster_fsm_journal_wait(fsm);
    if (error != KHORGOS_ERROR_ok) return error;
    error = KHORGOS_ERROR_no_space;
    for (u32 attempt = 0; attempt < 2 && error == KHORGOS_ERROR_no_space; attempt++) {
        u8 *memory = raft_malloc(fsm->snapshot_capacity_bytes);
        if (memory == NULL) return KHORGOS_ERROR_out_of_memory;
        u64 size = 0;
        error = engine_snapshot_memory_write(engine, memory, fsm->snapshot_capacity_bytes, &size);
        if (error == KHORGOS_ERROR_ok) {
            *buffer = (struct raft_buffer){.base = memory, .len = size};
            fsm->snapshots_taken++;
            fsm->snapshot_last_bytes = size;
            return KHORGOS_ERROR_ok;
        }
        raft_free(memory);
        if (error == KHORGOS_ERROR_no_space) fsm->snapshot_capacity_bytes = size + size / 4;
    }
    return error;
}

/* Restores a snapshot: the state it holds replaces the fsm's, or nothing changes. An engine in
 * memory is replaced by the snapshot's. An engine on a data directory keeps its journal, the
 * applied record: when the journal holds at least the snapshot's requests, entries after the
 * snapshot go to a replay engine (the snapshot's state) until it reaches the journal's last
 * request, where both must be equal (cluster_replay_step); when it holds fewer (a lagging or
 * new replica), the snapshot becomes the directory's newest and the journal goes on after it
 * (engine_snapshot_install). */
khorgos_error cluster_fsm_restore(struct cluster_fsm *fsm, const void *bytes, u64 size_bytes) {
    ASSERT(fsm != NULL && fsm->engine != NULL);
    ASSERT(bytes != NULL || size_bytes == 0);
    cluster_fsm_apply_deferred(fsm); /* the entries before the snapshot, in order */
    if (cluster_fsm_stopped(fsm) != KHORGOS_ERROR_ok) return cluster_fsm_stopped(fsm);
    khorgos_error error = cluster_fsm_journal_wait(fsm);
    if (error != KHORGOS_ERROR_ok) return error;
    /* Its header first (the checksums verified, nothing loaded): a snapshot ahead of a data
     * directory's journal goes to the install, which loads it itself. */
    struct storage_reader reader;
    struct storage_snapshot_header header;
    error = storage_snapshot_memory_open(&reader, bytes, size_bytes, &header);
    if (error == KHORGOS_ERROR_ok) storage_reader_close(&reader);
    bool install = error == KHORGOS_ERROR_ok && fsm->engine->storage != NULL &&
                   header.sequence > fsm->engine->request_count;
    struct khorgos *loaded = NULL;
    if (install) {
        error = engine_snapshot_install(fsm->engine, bytes, size_bytes);
    } else if (error == KHORGOS_ERROR_ok) {
        error = engine_snapshot_memory_load(fsm->engine, bytes, size_bytes, &loaded);
    }
    fsm->restore_error = error;
    if (error != KHORGOS_ERROR_ok) return error;
    if (fsm->replay != NULL) khorgos_close(fsm->replay);
    fsm->replay = NULL;
    if (install) {
        fsm->snapshots_installed++;
    } else if (fsm->engine->storage != NULL) {
        fsm->replay = loaded;
        cluster_replay_step(fsm);
    } else {
        khorgos_close(fsm->engine);
        fsm->engine = loaded;
    }
    fsm->snapshots_restored++;
    fsm->mark = 0; /* marks recorded before the snapshot compare nothing after it */
    fsm->mark_digest = 0;
    return KHORGOS_ERROR_ok; /* a replay that ended unequal stopped the replica (stopped) */
}

static int cluster_raft_snapshot(struct raft_fsm *raft_fsm, struct raft_buffer *buffers[],
                                 unsigned *buffer_count) {
    ASSERT(raft_fsm != NULL && raft_fsm->data != NULL);
    ASSERT(buffers != NULL && buffer_count != NULL);
    struct raft_buffer *buffer = raft_malloc(sizeof(*buffer));
    if (buffer == NULL) return RAFT_NOMEM;
    khorgos_error error = cluster_fsm_snapshot(raft_fsm->data, buffer);
    if (error != KHORGOS_ERROR_ok) {
        raft_free(buffer);
        return error == KHORGOS_ERROR_out_of_memory ? RAFT_NOMEM : RAFT_IOERR;
    }
    /* raft takes its trailing entries as set now, once the snapshot is written. */
    cluster_compaction_reset(raft_fsm->data, true);
    *buffers = buffer; /* raft frees the buffer and its bytes with raft_free */
    *buffer_count = 1;
    return 0;
}

/* On success the fsm owns the buffer's bytes (raft's rule) and frees them; on failure raft
 * keeps them, and the replica's state is what it was. raft 0.22.1 forgets the snapshot before
 * it calls restore (legacy.c, legacyHandleUpdateCommitIndex), and, its applied index short of
 * the snapshot's, applies nothing after a failure: the replica stops (cluster_fsm_stopped)
 * and says why, rather than follow the log without applying it. */
static int cluster_raft_restore(struct raft_fsm *raft_fsm, struct raft_buffer *buffer) {
    ASSERT(raft_fsm != NULL && raft_fsm->data != NULL);
    ASSERT(buffer != NULL);
    struct cluster_fsm *fsm = raft_fsm->data;
    khorgos_error error = cluster_fsm_restore(fsm, buffer->base, buffer->len);
    if (error != KHORGOS_ERROR_ok) {
        cluster_fsm_stop(fsm, error);
        return RAFT_CORRUPT;
    }
    raft_free(buffer->base);
    cluster_compaction_reset(fsm, false);
    return 0;
}

void cluster_raft_configure(struct raft *raft, struct cluster_fsm *fsm, u32 threshold_entries,
                            u32 trailing_entries, u64 log_bytes) {
    ASSERT(raft != NULL && fsm != NULL);
    ASSERT(threshold_entries > 0 && log_bytes > 0);
    ASSERT(CLUSTER_SNAPSHOT_TRAILING_ENTRIES < CLUSTER_SNAPSHOT_THRESHOLD_ENTRIES);
    fsm->compaction_raft = raft;
    fsm->compaction_threshold_entries = threshold_entries;
    fsm->compaction_trailing_entries = trailing_entries;
    fsm->compaction_log_bytes = log_bytes;
    raft_set_snapshot_threshold(raft, threshold_entries);
    raft_set_snapshot_trailing(raft, trailing_entries);
    ASSERT(CLUSTER_CATCH_UP_ROUNDS_MAX >= 10 && CLUSTER_CATCH_UP_ROUND_MS_MAX >= 5000); /* raft's */
    raft_set_max_catch_up_rounds(raft, CLUSTER_CATCH_UP_ROUNDS_MAX);
    raft_set_max_catch_up_round_duration(raft, CLUSTER_CATCH_UP_ROUND_MS_MAX);
}

khorgos_error cluster_fsm_init(struct cluster_fsm *fsm, struct khorgos *engine) {
    ASSERT(fsm != NULL);
    ASSERT(engine != NULL);
    memset(fsm, 0, sizeof(*fsm));
    if (!engine->clock_manual) return KHORGOS_ERROR_invalid_argument;
    fsm->engine = engine;
    fsm->snapshot_capacity_bytes = CLUSTER_SNAPSHOT_BYTES_FIRST;
    fsm->replies = aligned_alloc(16, CLUSTER_REPLY_BYTES_MAX);
    fsm->entry_copy = aligned_alloc(16, CLUSTER_ENTRY_BYTES_MAX);
    /* A journal that holds requests: raft's log, with no snapshot restored, starts from the
     * empty state, so its entries replay from there until they reach the journal's end. */
    khorgos_error error = KHORGOS_ERROR_ok;
    if (engine->storage != NULL && engine->request_count > 0) {
        error = engine_open_memory_like(engine, &fsm->replay);
    }
    if (fsm->replies == NULL || fsm->entry_copy == NULL || error != KHORGOS_ERROR_ok) {
        fsm->engine = NULL; /* the caller keeps it */
        cluster_fsm_deinit(fsm);
        return KHORGOS_ERROR_out_of_memory;
    }
    fsm->raft = (struct raft_fsm){.version = 1,
                                  .data = fsm,
                                  .apply = cluster_raft_apply,
                                  .snapshot = cluster_raft_snapshot,
                                  .restore = cluster_raft_restore};
    return KHORGOS_ERROR_ok;
}

void cluster_fsm_deinit(struct cluster_fsm *fsm) {
    ASSERT(fsm != NULL);
    /* Entries still held back are dropped: they are in raft's log, which a restart replays. */
    for (u32 index = 0; index < fsm->deferred_count; index++) raft_free(fsm->deferred[index].bytes);
    fsm->deferred_count = 0;
    if (fsm->replay != NULL) khorgos_close(fsm->replay);
    if (fsm->engine != NULL) khorgos_close(fsm->engine);
    fsm->replay = NULL;
    fsm->engine = NULL;
    free(fsm->replies);
    free(fsm->entry_copy);
    fsm->replies = NULL;
    fsm->entry_copy = NULL;
    ASSERT(fsm->replies == NULL);
}
