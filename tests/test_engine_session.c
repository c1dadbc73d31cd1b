/* test_engine_session.c: the engine's client session table (src/engine/engine_session.c):
 * a retry of the latest request is refused (request_duplicate) and applies nothing, the same
 * number with another checksum is request_mismatch, an older or skipped number
 * request_out_of_order, a client without a session no_session; a full table evicts the session
 * whose latest record is oldest; a request's batches make one reply, in order; the table and
 * its replies survive a checkpoint and a replay (equal digests, equal reply bytes); a register
 * and a read change the state digest; a request authorization refused is recorded with its
 * error (forbidden), kept by a snapshot; journal records carry the client; a directory of format
 * version 2 is refused with format_version; advance_clock is journaled and recorded: a retry
 * moves nothing, and a reopened engine has the same clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/engine.h"
#include "storage/storage.h"

static const struct khorgos_config test_config = {.account_count_max = 256,
                                                  .transfer_count_max = 1024,
                                                  .clock_manual = 1};

static struct khorgos_client_request client_of(u128 id, u64 request, u128 checksum) {
    return (struct khorgos_client_request){.client = id, .checksum = checksum,
                                           .request = request, .release = 1,
                                           .batch_count = 1};
}

static khorgos_error session_register(struct khorgos *engine, u128 id) {
    struct khorgos_client_request client = client_of(id, 0, id * 7);
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_REGISTER, .client = &client};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    return request.error;
}

/* Client `id`'s request `number` creating account `account`; returns the request's error. */
static khorgos_error account_create(struct khorgos *engine, u128 id, u64 number, u128 checksum,
                                    u128 account) {
    struct khorgos_client_request client = client_of(id, number, checksum);
    struct khorgos_account body = {.id = account, .ledger = 398, .code = 1};
    struct khorgos_create_result reply[1];
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_CREATE_ACCOUNTS,
                                      .body_size = sizeof(body), .body = &body,
                                      .reply = reply, .reply_capacity = sizeof(reply),
                                      .client = &client};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    return request.error;
}

static struct khorgos *memory_engine(void) {
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &test_config), KHORGOS_ERROR_ok);
    return engine;
}

/* Writes `engine`'s snapshot to memory and loads it into a new engine of the same state. */
static struct khorgos *memory_snapshot_reload(struct khorgos *engine) {
    u64 size = 0;
    assert_int_equal(engine_snapshot_memory_write(engine, NULL, 0, &size),
                     KHORGOS_ERROR_no_space);
    u8 *bytes = malloc(size);
    assert_non_null(bytes);
    assert_int_equal(engine_snapshot_memory_write(engine, bytes, size, &size), KHORGOS_ERROR_ok);
    struct khorgos *loaded = NULL;
    assert_int_equal(engine_snapshot_memory_load(engine, bytes, size, &loaded), KHORGOS_ERROR_ok);
    assert_true(engine_state_digest(loaded) == engine_state_digest(engine));
    free(bytes);
    return loaded;
}

static void test_retries_refused_and_nothing_applied(void **state) {
    (void)state;
    struct khorgos *engine = memory_engine();
    assert_int_equal(account_create(engine, 5, 1, 50, 1), KHORGOS_ERROR_no_session);
    assert_int_equal(session_register(engine, 5), KHORGOS_ERROR_ok);
    assert_int_equal(session_register(engine, 5), KHORGOS_ERROR_request_duplicate);
    assert_int_equal(account_create(engine, 5, 2, 51, 1), KHORGOS_ERROR_request_out_of_order);
    assert_int_equal(account_create(engine, 5, 1, 51, 1), KHORGOS_ERROR_ok);
    u64 sequence = engine->request_count;
    u128 digest = engine_state_digest(engine);
    assert_int_equal(account_create(engine, 5, 1, 51, 1), KHORGOS_ERROR_request_duplicate);
    assert_int_equal(account_create(engine, 5, 1, 52, 2), KHORGOS_ERROR_request_mismatch);
    assert_int_equal(account_create(engine, 5, 0, 51, 1), KHORGOS_ERROR_invalid_argument);
    assert_int_equal(engine->request_count, sequence); /* nothing applied, nothing journaled */
    assert_true(engine_state_digest(engine) == digest);
    assert_int_equal(engine->ledger.account_count, 1);
    const struct engine_session *session = engine_session_find(engine, 5);
    assert_non_null(session);
    assert_int_equal(session->request, 1);
    assert_int_equal(session->reply_size, sizeof(struct khorgos_create_result));
    assert_int_equal(account_create(engine, 5, 2, 53, 2), KHORGOS_ERROR_ok);
    assert_int_equal(engine->ledger.account_count, 2);
    khorgos_close(engine);
}

/* A register into a full table evicts the session whose latest record is oldest: not the
 * first registered once that one has sent a request since. */
static void test_eviction_takes_the_oldest(void **state) {
    (void)state;
    struct khorgos *engine = memory_engine();
    for (u32 index = 1; index <= ENGINE_SESSIONS_MAX; index++) {
        assert_int_equal(session_register(engine, index), KHORGOS_ERROR_ok);
    }
    assert_int_equal(account_create(engine, 1, 1, 10, 1), KHORGOS_ERROR_ok);
    assert_true(engine_session_evictee(engine, 100000) == 2);
    assert_int_equal(session_register(engine, 100000), KHORGOS_ERROR_ok);
    assert_null(engine_session_find(engine, 2));
    assert_non_null(engine_session_find(engine, 1));
    assert_int_equal(account_create(engine, 2, 1, 20, 2), KHORGOS_ERROR_no_session);
    assert_true(engine_session_evictee(engine, 100001) == 3);
    assert_true(engine_session_evictee(engine, 100000) == 0); /* its own slot */
    const struct engine_session *newest = engine_session_find(engine, 100000);
    assert_int_equal(newest->session, engine->request_count); /* numbered by its sequence */
    khorgos_close(engine);
}

/* Twice the table's clients register: the index by client id follows every eviction (the
 * first half gone, the second half found in their slots), and a snapshot rebuilds it. */
static void test_index_follows_evictions(void **state) {
    (void)state;
    struct khorgos *engine = memory_engine();
    for (u32 index = 1; index <= 2 * ENGINE_SESSIONS_MAX; index++) {
        assert_int_equal(session_register(engine, 5000 + index), KHORGOS_ERROR_ok);
    }
    assert_int_equal(engine->sessions.count, ENGINE_SESSIONS_MAX);
    assert_int_equal(engine->sessions.index.count, ENGINE_SESSIONS_MAX);
    struct khorgos *loaded = memory_snapshot_reload(engine);
    for (u32 index = 1; index <= 2 * ENGINE_SESSIONS_MAX; index++) {
        const struct engine_session *session = engine_session_find(engine, 5000 + index);
        const struct engine_session *copy = engine_session_find(loaded, 5000 + index);
        if (index <= ENGINE_SESSIONS_MAX) {
            assert_null(session);
            assert_null(copy);
            continue;
        }
        assert_non_null(session);
        assert_non_null(copy);
        assert_true(session->client == 5000 + index && copy->client == 5000 + index);
        assert_int_equal(session->session, index);
        assert_int_equal(copy->session, index);
        assert_ptr_equal(session, &engine->sessions.entries[session->slot]);
    }
    assert_int_equal(account_create(loaded, 5000 + 2 * ENGINE_SESSIONS_MAX, 1, 3, 1),
                     KHORGOS_ERROR_ok);
    khorgos_close(loaded);
    khorgos_close(engine);
}

/* A register's reply is its session number, also for one that a later register of the same
 * batch evicts, so that every register can be answered. */
static void test_register_replies_its_session(void **state) {
    (void)state;
    struct khorgos *engine = memory_engine();
    enum { REGISTERS = ENGINE_SESSIONS_MAX + 2 };
    struct khorgos_client_request clients[REGISTERS];
    struct khorgos_request requests[REGISTERS];
    u64 numbers[REGISTERS];
    for (u32 index = 0; index < REGISTERS; index++) {
        clients[index] = client_of(100 + index, 0, 7 + index);
        requests[index] = (struct khorgos_request){.operation = KHORGOS_OPERATION_REGISTER,
                                                   .reply = &numbers[index],
                                                   .reply_capacity = sizeof(u64),
                                                   .client = &clients[index]};
    }
    assert_int_equal(khorgos_execute(engine, requests, REGISTERS), KHORGOS_ERROR_ok);
    for (u32 index = 0; index < REGISTERS; index++) {
        assert_int_equal(requests[index].error, KHORGOS_ERROR_ok);
        assert_int_equal(requests[index].reply_size, sizeof(u64));
        assert_int_equal(numbers[index], index + 1); /* its journal sequence */
    }
    assert_null(engine_session_find(engine, 100)); /* evicted within the batch */
    assert_int_equal(engine_session_find(engine, 100 + REGISTERS - 1)->session, REGISTERS);
    u64 small = 0;
    struct khorgos_client_request late = client_of(99, 0, 3);
    struct khorgos_request refused = {.operation = KHORGOS_OPERATION_REGISTER, .reply = &small,
                                      .reply_capacity = 4, .client = &late};
    assert_int_equal(khorgos_execute(engine, &refused, 1), KHORGOS_ERROR_ok);
    assert_int_equal(refused.error, KHORGOS_ERROR_reply_too_small);
    khorgos_close(engine);
}

/* A snapshot in memory (a raft snapshot) carries the session table: loaded, it has the same
 * sessions and the same digest. */
static void test_memory_snapshot_carries_sessions(void **state) {
    (void)state;
    struct khorgos *engine = memory_engine();
    assert_int_equal(session_register(engine, 5), KHORGOS_ERROR_ok);
    assert_int_equal(account_create(engine, 5, 1, 51, 1), KHORGOS_ERROR_ok);
    struct khorgos *loaded = memory_snapshot_reload(engine);
    const struct engine_session *session = engine_session_find(loaded, 5);
    assert_non_null(session);
    assert_int_equal(session->request, 1);
    assert_int_equal(account_create(loaded, 5, 1, 51, 1), KHORGOS_ERROR_request_duplicate);
    khorgos_close(loaded);
    khorgos_close(engine);
}

/* A request of two batches: its batches in order make one reply (each batch's results, with
 * their sizes); a batch out of order is refused; a retry of batch 0 once whole is a duplicate. */
static void test_batches_of_one_request(void **state) {
    (void)state;
    struct khorgos *engine = memory_engine();
    assert_int_equal(session_register(engine, 4), KHORGOS_ERROR_ok);
    struct khorgos_client_request clients[2] = {client_of(4, 1, 40), client_of(4, 1, 40)};
    clients[0].batch_count = clients[1].batch_count = 2;
    clients[1].batch = 1;
    struct khorgos_account accounts[3] = {{.id = 1, .ledger = 398, .code = 1},
                                          {.id = 2, .ledger = 398, .code = 1},
                                          {.id = 3, .ledger = 398, .code = 1}};
    struct khorgos_create_result replies[2][2];
    struct khorgos_request requests[2];
    for (u32 batch = 0; batch < 2; batch++) {
        requests[batch] = (struct khorgos_request){
            .operation = KHORGOS_OPERATION_CREATE_ACCOUNTS, .client = &clients[batch],
            .body = &accounts[batch * 2], .body_size = (2 - batch) * sizeof(accounts[0]),
            .reply = replies[batch], .reply_capacity = sizeof(replies[batch])};
    }
    assert_int_equal(khorgos_execute(engine, &requests[1], 1), KHORGOS_ERROR_ok);
    assert_int_equal(requests[1].error, KHORGOS_ERROR_request_out_of_order);
    assert_int_equal(khorgos_execute(engine, requests, 2), KHORGOS_ERROR_ok);
    assert_int_equal(requests[0].error, KHORGOS_ERROR_ok);
    assert_int_equal(requests[1].error, KHORGOS_ERROR_ok);
    const struct engine_session *session = engine_session_find(engine, 4);
    assert_int_equal(session->batches_done, 2);
    assert_int_equal(session->batch_reply_sizes[0], 2 * sizeof(struct khorgos_create_result));
    assert_int_equal(session->batch_reply_sizes[1], sizeof(struct khorgos_create_result));
    assert_int_equal(session->reply_size, 3 * sizeof(struct khorgos_create_result));
    assert_memory_equal(session->reply, replies[0], 2 * sizeof(struct khorgos_create_result));
    assert_int_equal(khorgos_execute(engine, requests, 1), KHORGOS_ERROR_ok);
    assert_int_equal(requests[0].error, KHORGOS_ERROR_request_duplicate);
    assert_int_equal(engine->ledger.account_count, 3);
    khorgos_close(engine);
}

static void test_register_and_read_change_the_digest(void **state) {
    (void)state;
    struct khorgos *engine = memory_engine();
    u128 before = engine_state_digest(engine);
    assert_int_equal(session_register(engine, 9), KHORGOS_ERROR_ok);
    u128 registered = engine_state_digest(engine);
    assert_true(registered != before);
    struct khorgos_client_request client = client_of(9, 1, 90);
    u128 id = 1;
    struct khorgos_account found[1];
    struct khorgos_request lookup = {.operation = KHORGOS_OPERATION_LOOKUP_ACCOUNTS,
                                     .body_size = sizeof(id), .body = &id, .reply = found,
                                     .reply_capacity = sizeof(found), .client = &client};
    assert_int_equal(khorgos_execute(engine, &lookup, 1), KHORGOS_ERROR_ok);
    assert_int_equal(lookup.error, KHORGOS_ERROR_ok);
    assert_true(engine_state_digest(engine) != registered); /* the session moved on */
    assert_int_equal(engine_session_find(engine, 9)->request, 1);
    khorgos_close(engine);
}

/* Client 6, a bank, asks create_participants (the operator's): forbidden, and its session
 * records the request with that error (a retry is answered forbidden from it); a snapshot
 * keeps the error; the next request, applied, is recorded with ok. */
static khorgos_error participants_create_as_bank(struct khorgos *engine, u64 number) {
    struct khorgos_client_request client = client_of(6, number, 60 + number);
    struct khorgos_participant participant = {.bic = "HSBKKZKXXXX", .country = "KZ",
                                              .role = KHORGOS_ROLE_BANK, .name = "Halyk"};
    participant.currencies[0] = 398;
    struct khorgos_settle_result result[1];
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_CREATE_PARTICIPANTS,
                                      .body_size = sizeof(participant), .body = &participant,
                                      .reply = result, .reply_capacity = sizeof(result),
                                      .actor = {.role = KHORGOS_ACTOR_PARTICIPANT,
                                                .bic = "HSBKKZKX"},
                                      .client = &client};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    return request.error;
}

static void test_forbidden_recorded_with_its_error(void **state) {
    (void)state;
    struct khorgos *engine = memory_engine();
    assert_int_equal(session_register(engine, 6), KHORGOS_ERROR_ok);
    assert_int_equal(participants_create_as_bank(engine, 1), KHORGOS_ERROR_forbidden);
    const struct engine_session *session = engine_session_find(engine, 6);
    assert_int_equal(session->request, 1);
    assert_int_equal(session->error, KHORGOS_ERROR_forbidden);
    assert_int_equal(participants_create_as_bank(engine, 1), KHORGOS_ERROR_request_duplicate);
    struct khorgos *loaded = memory_snapshot_reload(engine);
    assert_int_equal(engine_session_find(loaded, 6)->error, KHORGOS_ERROR_forbidden);
    assert_int_equal(account_create(loaded, 6, 2, 62, 1), KHORGOS_ERROR_ok);
    assert_int_equal(engine_session_find(loaded, 6)->error, KHORGOS_ERROR_ok);
    khorgos_close(loaded);
    khorgos_close(engine);
}

struct directory {
    char path[64];
};

static void directory_format(struct directory *directory) {
    snprintf(directory->path, sizeof(directory->path), "/tmp/khorgos-test-session-XXXXXX");
    assert_non_null(mkdtemp(directory->path));
    assert_int_equal(rmdir(directory->path), 0);
    assert_int_equal(khorgos_format(directory->path, &test_config), KHORGOS_ERROR_ok);
}

static struct khorgos *directory_open(const struct directory *directory) {
    struct khorgos *engine = NULL;
    struct khorgos_open_options options = {.clock_manual = 1,
                                           .checkpoint_journal_bytes = UINT64_MAX};
    assert_int_equal(khorgos_open(&engine, directory->path, &options), KHORGOS_ERROR_ok);
    return engine;
}

static void directory_remove(const struct directory *directory) {
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", directory->path);
    assert_int_equal(system(command), 0);
}

/* Sessions with replies: client 1 created two accounts, client 2 looked one up. */
static void sessions_fill(struct khorgos *engine, u64 request) {
    assert_int_equal(account_create(engine, 1, request, 100 + request, 10 + request),
                     KHORGOS_ERROR_ok);
    struct khorgos_client_request client = client_of(2, request, 200 + request);
    u128 ids[2] = {10 + request, 999};
    struct khorgos_account found[2];
    struct khorgos_request lookup = {.operation = KHORGOS_OPERATION_LOOKUP_ACCOUNTS,
                                     .body_size = sizeof(ids), .body = ids, .reply = found,
                                     .reply_capacity = sizeof(found), .client = &client};
    assert_int_equal(khorgos_execute(engine, &lookup, 1), KHORGOS_ERROR_ok);
    assert_int_equal(lookup.error, KHORGOS_ERROR_ok);
    assert_int_equal(lookup.reply_size, sizeof(struct khorgos_account));
}

static void session_copy(const struct khorgos *engine, u128 client, struct engine_session *copy,
                         u8 *reply) {
    const struct engine_session *session = engine_session_find(engine, client);
    assert_non_null(session);
    *copy = *session;
    memcpy(reply, session->reply, session->reply_size);
}

static void session_expect(const struct khorgos *engine, const struct engine_session *copy,
                           const u8 *reply) {
    const struct engine_session *session = engine_session_find(engine, copy->client);
    assert_non_null(session);
    assert_true(session->request_checksum == copy->request_checksum);
    assert_int_equal(session->session, copy->session);
    assert_int_equal(session->request, copy->request);
    assert_int_equal(session->commit, copy->commit);
    assert_int_equal(session->timestamp, copy->timestamp);
    assert_int_equal(session->reply_size, copy->reply_size);
    assert_memory_equal(session->reply, reply, copy->reply_size);
}

/* The table through a snapshot (a checkpoint, then more requests replayed on top) and
 * through replay alone: the same digest, the same sessions, byte for byte the same replies. */
static void test_snapshot_and_replay_round_trip(void **state) {
    (void)state;
    struct directory directory;
    directory_format(&directory);
    struct khorgos *engine = directory_open(&directory);
    assert_int_equal(session_register(engine, 1), KHORGOS_ERROR_ok);
    assert_int_equal(session_register(engine, 2), KHORGOS_ERROR_ok);
    sessions_fill(engine, 1);
    for (u32 round = 0; round < 2; round++) {
        if (round == 1) {
            assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_ok);
            khorgos_close(engine); /* waits for the checkpoint */
            engine = directory_open(&directory);
        }
        sessions_fill(engine, 2 + round);
        static struct engine_session copies[2];
        static u8 replies[2][4096];
        session_copy(engine, 1, &copies[0], replies[0]);
        session_copy(engine, 2, &copies[1], replies[1]);
        u128 digest = engine_state_digest(engine);
        u64 sequence = engine->request_count;
        khorgos_close(engine);
        engine = directory_open(&directory);
        assert_int_equal(engine->request_count, sequence);
        assert_true(engine_state_digest(engine) == digest);
        session_expect(engine, &copies[0], replies[0]);
        session_expect(engine, &copies[1], replies[1]);
        /* A retry after the restart is still refused, and applies nothing. */
        assert_int_equal(account_create(engine, 1, 2 + round, 102 + round, 12 + round),
                         KHORGOS_ERROR_request_duplicate);
        assert_int_equal(engine->request_count, sequence);
    }
    khorgos_close(engine);
    directory_remove(&directory);
}

/* Client `id`'s request `number`: advance_clock by `nanoseconds`; the reply (the new time) in
 * *now. Returns the request's error. */
static khorgos_error clock_advance(struct khorgos *engine, u128 id, u64 number, u64 nanoseconds,
                                   u64 *now) {
    struct khorgos_client_request client = client_of(id, number, 200 + number);
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_ADVANCE_CLOCK,
                                      .body_size = sizeof(nanoseconds), .body = &nanoseconds,
                                      .reply = now, .reply_capacity = sizeof(*now),
                                      .client = &client};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    return request.error;
}

/* advance_clock is a journaled request of the session: a retry moves nothing, the session
 * keeps its reply, what it made due fires after it, and a reopened engine (from the journal,
 * then from a snapshot) has the same clock and state. */
static void test_clock_journaled(void **state) {
    (void)state;
    struct directory directory;
    directory_format(&directory);
    struct khorgos *engine = directory_open(&directory);
    assert_int_equal(session_register(engine, 1), KHORGOS_ERROR_ok);
    assert_int_equal(account_create(engine, 1, 1, 101, 1), KHORGOS_ERROR_ok);
    assert_int_equal(account_create(engine, 1, 2, 102, 2), KHORGOS_ERROR_ok);
    struct khorgos_transfer pending = {.id = 9, .debit_account_id = 1, .credit_account_id = 2,
                                      .amount = 5, .ledger = 398, .code = 1, .timeout = 30,
                                      .flags = KHORGOS_TRANSFER_PENDING};
    struct khorgos_create_result result;
    struct khorgos_request create = {.operation = KHORGOS_OPERATION_CREATE_TRANSFERS,
                                     .body_size = sizeof(pending), .body = &pending,
                                     .reply = &result, .reply_capacity = sizeof(result)};
    assert_int_equal(khorgos_execute(engine, &create, 1), KHORGOS_ERROR_ok);
    u64 minute_ns = 60ull * 1000000000ull, now = 0;
    u64 sequence = engine->request_count;
    assert_int_equal(clock_advance(engine, 1, 3, minute_ns, &now), KHORGOS_ERROR_ok);
    assert_true(now == KHORGOS_MANUAL_CLOCK_START_NS + minute_ns);
    assert_int_equal(engine->request_count, sequence + 2); /* itself, then the expiry's pulse */
    assert_int_equal(clock_advance(engine, 1, 3, minute_ns, &now),
                     KHORGOS_ERROR_request_duplicate);
    assert_true(khorgos_clock_now(engine) == KHORGOS_MANUAL_CLOCK_START_NS + minute_ns);
    const struct engine_session *session = engine_session_find(engine, 1);
    assert_int_equal(session->request, 3);
    assert_int_equal(session->reply_size, sizeof(u64));
    assert_int_equal(clock_advance(engine, 1, 4, 5, &now), KHORGOS_ERROR_ok);
    u64 clock = khorgos_clock_now(engine);
    assert_true(clock == KHORGOS_MANUAL_CLOCK_START_NS + minute_ns + 5);
    for (u32 round = 0; round < 2; round++) {
        if (round == 1) assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_ok);
        u128 digest = engine_state_digest(engine);
        khorgos_close(engine);
        engine = directory_open(&directory);
        assert_true(khorgos_clock_now(engine) == clock);
        assert_true(engine_state_digest(engine) == digest);
    }
    assert_int_equal(clock_advance(engine, 1, 4, 5, &now), KHORGOS_ERROR_request_duplicate);
    assert_true(khorgos_clock_now(engine) == clock);
    khorgos_close(engine);
    directory_remove(&directory);
}

static struct storage_record_header register_record; /* the register's: no body */

static khorgos_error record_client(void *context, const struct storage_record_header *header,
                                   const void *body) {
    (void)body;
    u32 *seen = context;
    if (header->operation == KHORGOS_OPERATION_REGISTER) register_record = *header;
    if (header->client == 1 && header->request == 1 && header->request_checksum == 101 &&
        header->batch == 0 && header->batch_count == 1 && header->release == 1) {
        (*seen)++;
    }
    return KHORGOS_ERROR_ok;
}

/* A client's request is journaled with its client, number, checksum, release and batch, and
 * the client is chained while the record's offset and commit grouping are not; a directory
 * whose superblock says format version 2 is refused, naming both versions. */
static void test_records_and_format_version(void **state) {
    (void)state;
    struct directory directory;
    directory_format(&directory);
    struct khorgos *engine = directory_open(&directory);
    assert_int_equal(session_register(engine, 1), KHORGOS_ERROR_ok);
    assert_int_equal(account_create(engine, 1, 1, 101, 5), KHORGOS_ERROR_ok);
    khorgos_close(engine);
    struct storage_io *io = NULL;
    assert_int_equal(storage_io_posix_create(directory.path, STORAGE_POSIX_WRITE, &io, NULL),
                     KHORGOS_ERROR_ok);
    struct storage_superblock superblock;
    assert_int_equal(storage_superblock_read(io, &superblock), KHORGOS_ERROR_ok);
    struct storage *storage = NULL;
    assert_int_equal(storage_create(io, &superblock, &storage), KHORGOS_ERROR_ok);
    static struct storage_report report;
    u32 seen = 0;
    assert_int_equal(storage_journal_recover(storage, 0, NULL, false, record_client, &seen,
                                             &report),
                     KHORGOS_ERROR_ok);
    assert_int_equal(seen, 1);
    storage_destroy(storage);
    /* The chain leaves out where a record landed and which write carried it. */
    assert_true(register_record.client == 1 && register_record.body_size == 0);
    u8 hash[BASE_SHA256_BYTES];
    u8 moved[BASE_SHA256_BYTES];
    storage_record_hash(&register_record, NULL, hash);
    register_record.offset += 4096;
    register_record.commit_first += 7;
    storage_record_header_seal(&register_record);
    storage_record_hash(&register_record, NULL, moved);
    assert_memory_equal(hash, moved, sizeof(hash));
    register_record.client = 2;
    storage_record_hash(&register_record, NULL, moved);
    assert_memory_not_equal(hash, moved, sizeof(hash));
    superblock.format_version = 2;
    assert_int_equal(storage_superblock_write(io, &superblock), KHORGOS_ERROR_ok);
    storage_io_posix_destroy(io);
    char text[512] = "";
    struct khorgos_open_options options = {.report = text, .report_capacity = sizeof(text)};
    assert_int_equal(khorgos_open(&engine, directory.path, &options),
                     KHORGOS_ERROR_format_version);
    assert_non_null(strstr(text, "format version 2; this build reads version 4"));
    directory_remove(&directory);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retries_refused_and_nothing_applied),
        cmocka_unit_test(test_eviction_takes_the_oldest),
        cmocka_unit_test(test_index_follows_evictions),
        cmocka_unit_test(test_register_replies_its_session),
        cmocka_unit_test(test_memory_snapshot_carries_sessions),
        cmocka_unit_test(test_batches_of_one_request),
        cmocka_unit_test(test_register_and_read_change_the_digest),
        cmocka_unit_test(test_forbidden_recorded_with_its_error),
        cmocka_unit_test(test_snapshot_and_replay_round_trip),
        cmocka_unit_test(test_records_and_format_version),
        cmocka_unit_test(test_clock_journaled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
