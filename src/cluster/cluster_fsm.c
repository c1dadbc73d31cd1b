/* The replicated state machine (cluster.h): a raft_fsm that applies entries to an engine. */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"

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

/* Checks a batch's requests against body_bytes without applying anything. */
static bool cluster_batch_valid(const struct cluster_entry *entry) {
    ASSERT(entry != NULL);
    ASSERT(entry->kind == CLUSTER_ENTRY_BATCH);
    if (entry->request_count > CLUSTER_ENTRY_REQUEST_COUNT_MAX) return false;
    u64 offset = 0;
    for (u32 index = 0; index < entry->request_count; index++) {
        if (entry->body_bytes - offset < CLUSTER_REQUEST_HEADER_BYTES) return false;
        u32 body_size = cluster_get_u32(entry->body + offset + 4);
        if (cluster_get_u64(entry->body + offset + 8) != 0) return false;
        if (body_size > LIMIT_REQUEST_BODY_BYTES_MAX) return false;
        u64 padded = ((u64)body_size + 15) & ~(u64)15;
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

/* Runs a batch on the engine at the leader's time; replies go to the fsm's buffer. */
static void cluster_batch_apply(struct cluster_fsm *fsm, const struct cluster_entry *entry) {
    ASSERT(fsm != NULL && entry != NULL);
    ASSERT(entry->kind == CLUSTER_ENTRY_BATCH);
    struct cluster_apply_result *result = &fsm->result;
    result->error = engine_clock_set(fsm->engine, entry->timestamp_ns);
    if (result->error != KHORGOS_ERROR_ok) return;
    u64 offset = 0;
    u64 reply_offset = 0;
    for (u32 index = 0; index < entry->request_count; index++) {
        struct khorgos_request *request = &result->requests[index];
        u32 body_size = cluster_get_u32(entry->body + offset + 4);
        u32 operation = cluster_get_u32(entry->body + offset);
        offset += CLUSTER_REQUEST_HEADER_BYTES;
        u32 reply_capacity = MIN(khorgos_reply_size_max(operation, body_size),
                                 (u32)(CLUSTER_REPLY_BYTES_MAX - reply_offset));
        *request = (struct khorgos_request){.operation = operation,
                                            .body_size = body_size,
                                            .body = entry->body + offset,
                                            .reply = fsm->replies + reply_offset,
                                            .reply_capacity = reply_capacity};
        offset += ((u64)body_size + 15) & ~(u64)15;
        reply_offset += reply_capacity;
        ASSERT(reply_offset <= CLUSTER_REPLY_BYTES_MAX);
    }
    ASSERT(offset == entry->body_bytes);
    result->request_count = entry->request_count;
    result->error = khorgos_execute(fsm->engine, result->requests, entry->request_count);
    if (result->error == KHORGOS_ERROR_ok && entry->mark != 0) {
        fsm->mark = entry->mark;
        fsm->mark_digest = engine_state_digest(fsm->engine);
    }
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

const struct cluster_apply_result *cluster_fsm_apply(struct cluster_fsm *fsm, const void *entry,
                                                     u64 entry_bytes) {
    ASSERT(fsm != NULL && fsm->engine != NULL);
    ASSERT(entry != NULL);
    struct cluster_apply_result *result = &fsm->result;
    result->request_count = 0;
    fsm->entries_applied++;
    if (fsm->diverged) {
        result->error = KHORGOS_ERROR_diverged;
        return result;
    }
    const u8 *data = entry;
    if (((uintptr_t)data & 15) != 0 && entry_bytes <= CLUSTER_ENTRY_BYTES_MAX) {
        memcpy(fsm->entry_copy, data, entry_bytes);
        data = fsm->entry_copy;
    }
    struct cluster_entry decoded;
    if (!cluster_entry_decode(data, entry_bytes, &decoded)) {
        result->error = KHORGOS_ERROR_corrupt;
        return result;
    }
    if (decoded.kind == CLUSTER_ENTRY_BATCH) {
        cluster_batch_apply(fsm, &decoded);
    } else {
        cluster_check_apply(fsm, &decoded);
    }
    ASSERT(result->request_count <= decoded.request_count);
    return result;
}

bool cluster_fsm_diverged(const struct cluster_fsm *fsm) {
    ASSERT(fsm != NULL);
    ASSERT(!fsm->diverged || fsm->diverged_mark != 0);
    return fsm->diverged;
}

/* raft_fsm's apply: every outcome is in the result, so raft's own status stays 0 (an entry
 * that a replica refuses is refused alike everywhere, being a function of the log). */
static int cluster_raft_apply(struct raft_fsm *raft_fsm, const struct raft_buffer *buffer,
                              void **result) {
    ASSERT(raft_fsm != NULL && raft_fsm->data != NULL);
    ASSERT(buffer != NULL && result != NULL);
    struct cluster_fsm *fsm = raft_fsm->data;
    *result = (void *)cluster_fsm_apply(fsm, buffer->base, buffer->len);
    return 0;
}

/* Snapshots are not offered yet: raft keeps the whole log, so the snapshot threshold of a
 * replica's raft is set beyond reach (cluster_fsm_init's caller) and these are not reached. */
static int cluster_raft_snapshot(struct raft_fsm *raft_fsm, struct raft_buffer *buffers[],
                                 unsigned *buffer_count) {
    ASSERT(raft_fsm != NULL);
    ASSERT(buffers != NULL && buffer_count != NULL);
    return RAFT_NOTFOUND;
}

static int cluster_raft_restore(struct raft_fsm *raft_fsm, struct raft_buffer *buffer) {
    ASSERT(raft_fsm != NULL);
    ASSERT(buffer != NULL);
    return RAFT_NOTFOUND;
}

khorgos_error cluster_fsm_init(struct cluster_fsm *fsm, struct khorgos *engine) {
    ASSERT(fsm != NULL);
    ASSERT(engine != NULL);
    memset(fsm, 0, sizeof(*fsm));
    if (!engine->clock_manual) return KHORGOS_ERROR_invalid_argument;
    fsm->engine = engine;
    fsm->replies = aligned_alloc(16, CLUSTER_REPLY_BYTES_MAX);
    fsm->entry_copy = aligned_alloc(16, CLUSTER_ENTRY_BYTES_MAX);
    if (fsm->replies == NULL || fsm->entry_copy == NULL) {
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
    free(fsm->replies);
    free(fsm->entry_copy);
    fsm->replies = NULL;
    fsm->entry_copy = NULL;
    ASSERT(fsm->replies == NULL);
}
