/*
 * engine_session.c: the client session table, part of the engine's state (engine.h), so that
 * a restart, a replay and a replica all see the same table.
 *
 * Rules, TigerBeetle's replica's (docs/protocol.md, "Sessions"):
 *   - a register opens the client's session, numbered by the register's journal sequence; a
 *     client that registers again gets a new session in place of its old one;
 *   - a client has one request at a time: request n + 1 after n, its batches in order;
 *   - a retry of the latest, whole request (same number, same checksum) is refused with
 *     request_duplicate and changes nothing: the caller answers it with the stored reply;
 *     the same number with another checksum is request_mismatch, an older one or any other
 *     number request_out_of_order;
 *   - the table holds ENGINE_SESSIONS_MAX sessions: a register past it evicts the session whose
 *     latest record is oldest (lowest commit), whose client gets no_session next time.
 *
 * A request finds its client's session through an index by client id (O(1)); only a register
 * into a full table walks the table, for the oldest session, as TigerBeetle's replica does.
 *
 * The reply kept is the engine's own (each batch's engine reply, back to back, with their
 * sizes), not a network message: the server builds its message from it, the same way for the
 * first answer and for a retry. It is recomputed by replay (every request of a session is
 * journaled, reads too) and stored in the snapshot, so a retry after a restart gets it too.
 *
 * Snapshot section (STORAGE_SECTION_SESSIONS, version 1), little-endian:
 *   0 4 count   4 4 reserved (zero)
 *   (an entry's operation is a u16 followed by its error, a u16: ok or forbidden)
 *   then per session, by increasing session number (so that the bytes do not depend on which
 *   slot a session took): an 80-byte entry (struct session_entry below), its batches' reply
 *   sizes (u32 each, batches_done of them), then its reply bytes (reply_size).
 * The digest is XXH3-128 of exactly those bytes.
 */
#include "engine/engine.h"
#include "storage/storage.h"

#include <stdlib.h>
#include <sys/mman.h>

struct session_entry {
    u128 client;
    u128 request_checksum;
    u64 session;
    u64 request;
    u64 commit;
    u64 timestamp;
    u32 release;
    u16 operation;
    u16 error; /* khorgos_error: ok, or forbidden */
    u16 batch_count;
    u16 batches_done;
    u32 reply_size;
};
_Static_assert(sizeof(struct session_entry) == 80, "a session entry is 80 bytes");

struct sessions_counts {
    u32 count;
    u32 reserved;
};

static u64 session_slot_bytes(void) {
    ASSERT(ENGINE_SESSION_REPLY_BYTES_MAX % 16 == 0); /* the sizes that follow stay aligned */
    ASSERT(ENGINE_SESSIONS_MAX > 0);
    return (u64)ENGINE_SESSION_REPLY_BYTES_MAX + (u64)ENGINE_SESSION_BATCHES_MAX * sizeof(u32);
}

khorgos_error engine_sessions_init(struct engine_sessions *sessions) {
    ASSERT(sessions != NULL);
    memset(sessions, 0, sizeof(*sessions));
    /* Mapped, not touched: a page costs memory only once a reply is written there. */
    u64 bytes = session_slot_bytes() * ENGINE_SESSIONS_MAX;
    void *memory = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) return KHORGOS_ERROR_out_of_memory;
    if (base_id_map_init(&sessions->index, ENGINE_SESSIONS_MAX) != KHORGOS_ERROR_ok) {
        int unmapped = munmap(memory, bytes);
        ASSERT(unmapped == 0);
        return KHORGOS_ERROR_out_of_memory;
    }
    sessions->memory = memory;
    sessions->memory_bytes = bytes;
    for (u32 index = 0; index < ENGINE_SESSIONS_MAX; index++) {
        u8 *slot = (u8 *)memory + index * session_slot_bytes();
        sessions->entries[index].reply = slot;
        sessions->entries[index].batch_reply_sizes =
            (u32 *)(void *)(slot + ENGINE_SESSION_REPLY_BYTES_MAX);
        sessions->entries[index].slot = index;
    }
    ASSERT(sessions->entries[ENGINE_SESSIONS_MAX - 1].reply != NULL);
    return KHORGOS_ERROR_ok;
}

void engine_sessions_deinit(struct engine_sessions *sessions) {
    ASSERT(sessions != NULL);
    ASSERT(sessions->memory == NULL || sessions->memory_bytes > 0);
    if (sessions->memory != NULL) {
        int unmapped = munmap(sessions->memory, sessions->memory_bytes);
        ASSERT(unmapped == 0);
    }
    if (sessions->index.slots != NULL) base_id_map_deinit(&sessions->index);
    memset(sessions, 0, sizeof(*sessions));
}

static struct engine_session *session_find(struct engine_sessions *sessions, u128 client) {
    ASSERT(sessions != NULL);
    ASSERT(client != 0);
    u32 slot = 0;
    if (!base_id_map_get(&sessions->index, client, &slot)) return NULL;
    ASSERT(slot < sessions->count && sessions->entries[slot].client == client);
    return &sessions->entries[slot];
}

const struct engine_session *engine_session_find(const struct khorgos *engine, u128 client) {
    ASSERT(engine != NULL);
    ASSERT(engine->sessions.memory != NULL);
    return session_find((struct engine_sessions *)&engine->sessions, client);
}

/* The slot a register from `client` takes: its own, a free one, or the oldest (lowest commit). */
static struct engine_session *session_slot(struct engine_sessions *sessions, u128 client) {
    ASSERT(sessions != NULL && client != 0);
    struct engine_session *own = session_find(sessions, client);
    if (own != NULL) return own;
    if (sessions->count < ENGINE_SESSIONS_MAX) return &sessions->entries[sessions->count];
    struct engine_session *oldest = NULL;
    for (u32 index = 0; index < ENGINE_SESSIONS_MAX; index++) {
        struct engine_session *entry = &sessions->entries[index];
        ASSERT(entry->client != 0);
        if (oldest == NULL || entry->commit < oldest->commit) oldest = entry;
    }
    ASSERT(oldest != NULL && oldest->client != client);
    return oldest;
}

u128 engine_session_evictee(const struct khorgos *engine, u128 client) {
    ASSERT(engine != NULL && client != 0);
    const struct engine_session *slot =
        session_slot((struct engine_sessions *)&engine->sessions, client);
    ASSERT(slot != NULL);
    return slot->client == client ? 0 : slot->client;
}

static khorgos_error check_register(const struct engine_session *session,
                                    const struct khorgos_client_request *client) {
    ASSERT(client->client != 0);
    ASSERT(session == NULL || session->client == client->client);
    if (client->request != 0 || client->batch != 0 || client->batch_count != 1) {
        return KHORGOS_ERROR_invalid_argument;
    }
    if (session != NULL && session->request == 0 &&
        session->request_checksum == client->checksum) {
        return KHORGOS_ERROR_request_duplicate;
    }
    return KHORGOS_ERROR_ok;
}

/* Batch 0 of a request: the next number after a whole request. */
static khorgos_error check_first_batch(const struct engine_session *session,
                                       const struct khorgos_client_request *client) {
    ASSERT(client->batch == 0);
    ASSERT(session->client == client->client);
    bool whole = session->batches_done == session->batch_count;
    if (client->request == session->request) {
        if (!whole) return KHORGOS_ERROR_request_out_of_order;
        return client->checksum == session->request_checksum ? KHORGOS_ERROR_request_duplicate
                                                             : KHORGOS_ERROR_request_mismatch;
    }
    if (!whole || client->request != session->request + 1) {
        return KHORGOS_ERROR_request_out_of_order;
    }
    return KHORGOS_ERROR_ok;
}

khorgos_error engine_session_check(const struct khorgos *engine, u32 operation,
                                   const struct khorgos_client_request *client,
                                   u32 reply_size_max) {
    ASSERT(engine != NULL && client != NULL);
    if (client->client == 0 || client->batch_count == 0 || client->batch >= client->batch_count) {
        return KHORGOS_ERROR_invalid_argument;
    }
    const struct engine_session *session = engine_session_find(engine, client->client);
    if (operation == KHORGOS_OPERATION_REGISTER) return check_register(session, client);
    if (session == NULL) return KHORGOS_ERROR_no_session;
    if (client->request == 0) return KHORGOS_ERROR_invalid_argument;
    khorgos_error error = KHORGOS_ERROR_ok;
    if (client->batch == 0) {
        error = check_first_batch(session, client);
    } else if (client->request != session->request ||
               client->checksum != session->request_checksum ||
               client->batch_count != session->batch_count ||
               client->batch != session->batches_done || operation != session->operation) {
        error = KHORGOS_ERROR_request_out_of_order;
    }
    if (error != KHORGOS_ERROR_ok) return error;
    u64 reply_before = client->batch == 0 ? 0 : session->reply_size;
    if (reply_before + reply_size_max > ENGINE_SESSION_REPLY_BYTES_MAX) {
        return KHORGOS_ERROR_too_many_events;
    }
    ASSERT(client->batch < client->batch_count);
    return KHORGOS_ERROR_ok;
}

static u128 session_open(struct engine_sessions *sessions,
                         const struct khorgos_client_request *client, u64 sequence,
                         u64 timestamp) {
    ASSERT(client->client != 0 && client->request == 0);
    ASSERT(sequence > 0 && timestamp > 0);
    struct engine_session *slot = session_slot(sessions, client->client);
    u128 evicted = slot->client == client->client ? 0 : slot->client;
    u8 *reply = slot->reply;
    u32 *sizes = slot->batch_reply_sizes;
    u32 index = slot->slot;
    if (evicted != 0) base_id_map_remove(&sessions->index, evicted);
    if (slot->client != client->client) {
        if (slot->client == 0) sessions->count++;
        base_id_map_insert(&sessions->index, client->client, index);
    }
    *slot = (struct engine_session){
        .client = client->client,
        .request_checksum = client->checksum,
        .session = sequence,
        .request = 0,
        .commit = sequence,
        .timestamp = timestamp,
        .release = client->release,
        .operation = KHORGOS_OPERATION_REGISTER,
        .batch_count = 1,
        .batches_done = 1,
        .reply_size = 0,
        .batch_reply_sizes = sizes,
        .reply = reply,
        .slot = index,
    };
    sizes[0] = 0;
    ASSERT(slot->client != evicted);
    return evicted;
}

u128 engine_session_apply(struct khorgos *engine, const struct khorgos_client_request *client,
                          u32 operation, u64 sequence, u64 timestamp, const void *reply,
                          u32 reply_size, khorgos_error error) {
    ASSERT(engine != NULL && client != NULL);
    ASSERT(reply != NULL || reply_size == 0);
    ASSERT((u32)error < KHORGOS_ERROR_COUNT);
    struct engine_sessions *sessions = &engine->sessions;
    if (operation == KHORGOS_OPERATION_REGISTER) {
        return session_open(sessions, client, sequence, timestamp);
    }
    struct engine_session *session = session_find(sessions, client->client);
    ASSERT(session != NULL); /* checked before it was applied */
    if (client->batch == 0) {
        session->request = client->request;
        session->request_checksum = client->checksum;
        session->operation = operation;
        session->batch_count = client->batch_count;
        session->batches_done = 0;
        session->reply_size = 0;
        session->error = KHORGOS_ERROR_ok;
    }
    if (error != KHORGOS_ERROR_ok) session->error = error;
    ASSERT(client->batch == session->batches_done);
    ASSERT((u64)session->reply_size + reply_size <= ENGINE_SESSION_REPLY_BYTES_MAX);
    if (reply_size > 0) memcpy(session->reply + session->reply_size, reply, reply_size);
    session->batch_reply_sizes[session->batches_done] = reply_size;
    session->batches_done++;
    session->reply_size += reply_size;
    session->commit = sequence;
    session->timestamp = timestamp;
    return 0;
}

/* ---- the snapshot section -------------------------------------------------------------------- */

static int session_number_compare(const void *left, const void *right) {
    const struct engine_session *const *a = left;
    const struct engine_session *const *b = right;
    ASSERT((*a)->session != (*b)->session || *a == *b); /* session numbers are unique */
    return (*a)->session < (*b)->session ? -1 : (*a)->session > (*b)->session;
}

/* The occupied slots by increasing session number: the section's order (sorted, so that a
 * full table costs n log n, not a walk of the table per session). */
static u32 sessions_order(const struct engine_sessions *sessions,
                          const struct engine_session *order[ENGINE_SESSIONS_MAX]) {
    ASSERT(sessions != NULL && order != NULL);
    ASSERT(sessions->count <= ENGINE_SESSIONS_MAX);
    for (u32 index = 0; index < sessions->count; index++) {
        ASSERT(sessions->entries[index].client != 0);
        order[index] = &sessions->entries[index];
    }
    qsort(order, sessions->count, sizeof(order[0]), session_number_compare);
    return sessions->count;
}

static void sessions_emit(const struct engine_sessions *sessions, storage_put_function put,
                          void *context) {
    ASSERT(sessions != NULL && put != NULL);
    ASSERT(context != NULL);
    const struct engine_session *order[ENGINE_SESSIONS_MAX];
    struct sessions_counts counts = {.count = sessions_order(sessions, order)};
    put(context, &counts, sizeof(counts));
    for (u32 index = 0; index < counts.count; index++) {
        const struct engine_session *session = order[index];
        ASSERT(session->operation <= UINT16_MAX && (u32)session->error < KHORGOS_ERROR_COUNT);
        struct session_entry entry = {
            .client = session->client,
            .request_checksum = session->request_checksum,
            .session = session->session,
            .request = session->request,
            .commit = session->commit,
            .timestamp = session->timestamp,
            .release = session->release,
            .operation = (u16)session->operation,
            .error = (u16)session->error,
            .batch_count = session->batch_count,
            .batches_done = session->batches_done,
            .reply_size = session->reply_size,
        };
        ASSERT(entry.batches_done <= entry.batch_count);
        put(context, &entry, sizeof(entry));
        put(context, session->batch_reply_sizes, (u64)session->batches_done * sizeof(u32));
        put(context, session->reply, session->reply_size);
    }
}

void engine_sessions_write(const struct engine_sessions *sessions, struct storage_writer *writer) {
    ASSERT(sessions != NULL && writer != NULL);
    storage_writer_section_begin(writer, STORAGE_SECTION_SESSIONS, ENGINE_SESSIONS_SECTION_VERSION);
    sessions_emit(sessions, storage_put_writer, writer);
    storage_writer_section_end(writer);
}

u128 engine_sessions_digest(const struct engine_sessions *sessions) {
    ASSERT(sessions != NULL);
    struct base_checksum_stream stream;
    base_checksum_stream_init(&stream);
    sessions_emit(sessions, storage_put_checksum, &stream);
    return base_checksum_stream_final(&stream);
}

u64 engine_sessions_bytes(const struct engine_sessions *sessions) {
    ASSERT(sessions != NULL);
    u64 bytes = 0;
    sessions_emit(sessions, storage_put_count, &bytes);
    ASSERT(bytes >= sizeof(struct sessions_counts));
    return bytes;
}

static bool entry_valid(const struct session_entry *entry, u64 session_before) {
    ASSERT(entry != NULL);
    return entry->client != 0 && entry->session > session_before &&
           entry->commit >= entry->session && entry->batch_count > 0 &&
           entry->batches_done <= entry->batch_count &&
           entry->reply_size <= ENGINE_SESSION_REPLY_BYTES_MAX &&
           entry->error < KHORGOS_ERROR_COUNT &&
           (entry->operation == KHORGOS_OPERATION_REGISTER) == (entry->request == 0);
}

/* One session of the section into `slot`; corrupt when it breaks a rule. */
static khorgos_error session_read(struct engine_session *slot, u64 session_before,
                                  struct storage_reader *reader) {
    ASSERT(slot != NULL && reader != NULL);
    ASSERT(slot->reply != NULL && slot->batch_reply_sizes != NULL);
    struct session_entry entry;
    khorgos_error error = storage_reader_get(reader, &entry, sizeof(entry));
    if (error != KHORGOS_ERROR_ok) return error;
    if (!entry_valid(&entry, session_before)) return KHORGOS_ERROR_corrupt;
    if (entry.batches_done > 0) {
        error = storage_reader_get(reader, slot->batch_reply_sizes,
                                   (u64)entry.batches_done * sizeof(u32));
    }
    u64 sum = 0;
    for (u32 batch = 0; error == KHORGOS_ERROR_ok && batch < entry.batches_done; batch++) {
        sum += slot->batch_reply_sizes[batch];
    }
    if (error == KHORGOS_ERROR_ok && sum != entry.reply_size) return KHORGOS_ERROR_corrupt;
    if (error == KHORGOS_ERROR_ok && entry.reply_size > 0) {
        error = storage_reader_get(reader, slot->reply, entry.reply_size);
    }
    if (error != KHORGOS_ERROR_ok) return error;
    slot->client = entry.client;
    slot->request_checksum = entry.request_checksum;
    slot->session = entry.session;
    slot->request = entry.request;
    slot->commit = entry.commit;
    slot->timestamp = entry.timestamp;
    slot->release = entry.release;
    slot->operation = entry.operation;
    slot->error = (khorgos_error)entry.error;
    slot->batch_count = entry.batch_count;
    slot->batches_done = entry.batches_done;
    slot->reply_size = entry.reply_size;
    return KHORGOS_ERROR_ok;
}

khorgos_error engine_sessions_read(struct engine_sessions *sessions,
                                   struct storage_reader *reader) {
    ASSERT(sessions != NULL && reader != NULL);
    ASSERT(sessions->memory != NULL);
    struct sessions_counts counts;
    khorgos_error error = storage_reader_get(reader, &counts, sizeof(counts));
    if (error != KHORGOS_ERROR_ok) return error;
    if (counts.count > ENGINE_SESSIONS_MAX || counts.reserved != 0) return KHORGOS_ERROR_corrupt;
    ASSERT(sessions->count == 0 && sessions->index.count == 0); /* read into a new table */
    u64 session_before = 0;
    for (u32 index = 0; index < counts.count; index++) {
        struct engine_session *slot = &sessions->entries[index];
        error = session_read(slot, session_before, reader);
        if (error != KHORGOS_ERROR_ok) return error;
        u32 other = 0;
        if (base_id_map_get(&sessions->index, slot->client, &other)) { /* one per client */
            slot->client = 0;
            return KHORGOS_ERROR_corrupt;
        }
        base_id_map_insert(&sessions->index, slot->client, index);
        sessions->count++;
        session_before = slot->session;
    }
    if (storage_reader_remaining(reader) != 0) return KHORGOS_ERROR_corrupt;
    return KHORGOS_ERROR_ok;
}
