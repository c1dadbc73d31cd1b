/* test_engine_limits.c: the limits a request meets at the engine's door (engine_validate), the
 * same for every front end:
 *  - every operation's body and reply fit in one message body (KHORGOS_MESSAGE_BODY_BYTES_MAX):
 *    8,189 records of 128 bytes, 4,094 of 256 bytes (payments, positions);
 *  - a submit_payments of 4,095 or 8,190 payments and a lookup_payments of 4,095 ids get
 *    too_many_events and change nothing, in memory and on a data directory (there a request
 *    too large for one journal record used to abort the process), while 4,094 payments are
 *    applied, journaled and recovered;
 *  - get_queue answers at most 4,094 payments, whatever its filter's limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "settle_rtgs_fixture.h"
#include "storage/storage.h"

#define LIMITS_PAYMENTS_MAX 4094u
#define LIMITS_PAYER "HSBKKZKX"
#define LIMITS_PAYEE "KCJBKZKX"

static _Alignas(16) struct khorgos_payment limits_events[KHORGOS_BATCH_EVENTS_MAX + 1];
static _Alignas(16) struct khorgos_payment limits_replies[KHORGOS_BATCH_EVENTS_MAX + 1];
static _Alignas(16) u128 limits_ids[KHORGOS_BATCH_EVENTS_MAX + 1];

static void test_every_operation_fits_one_message(void **state) {
    (void)state;
    assert_int_equal(khorgos_events_max(KHORGOS_OPERATION_CREATE_TRANSFERS), 8189);
    assert_int_equal(khorgos_events_max(KHORGOS_OPERATION_CREATE_PARTICIPANTS), 8189);
    assert_int_equal(khorgos_events_max(KHORGOS_OPERATION_LOOKUP_ACCOUNTS), 8189);
    assert_int_equal(khorgos_events_max(KHORGOS_OPERATION_SUBMIT_PAYMENTS), LIMITS_PAYMENTS_MAX);
    /* 16-byte ids, but each answer is a 256-byte payment. */
    assert_int_equal(khorgos_events_max(KHORGOS_OPERATION_LOOKUP_PAYMENTS), LIMITS_PAYMENTS_MAX);
    assert_int_equal(khorgos_events_max(KHORGOS_OPERATION_GET_QUEUE), 1);
    assert_int_equal(khorgos_events_max(KHORGOS_OPERATION_PULSE), 0);
    assert_int_equal(khorgos_reply_size_max(KHORGOS_OPERATION_GET_QUEUE, 32),
                     LIMITS_PAYMENTS_MAX * sizeof(struct khorgos_payment));
    assert_int_equal(khorgos_reply_size_max(KHORGOS_OPERATION_GET_POSITIONS, 32),
                     LIMITS_PAYMENTS_MAX * sizeof(struct khorgos_position));
    u32 operations = 0;
    for (u32 operation = 0; operation < 512; operation++) {
        u32 events_max = khorgos_events_max(operation);
        if (events_max == 0) continue;
        operations++;
        const struct engine_operation *entry = engine_operation_find(operation);
        assert_non_null(entry);
        assert_true(events_max <= KHORGOS_BATCH_EVENTS_MAX);
        u32 body_size = events_max * entry->body_record_size;
        assert_true(body_size <= KHORGOS_MESSAGE_BODY_BYTES_MAX);
        assert_true(khorgos_reply_size_max(operation, body_size) <= KHORGOS_MESSAGE_BODY_BYTES_MAX);
        /* A journal record holds the largest body. */
        assert_true(STORAGE_RECORD_HEADER_BYTES + STORAGE_BODY_PADDED(body_size) <=
                    STORAGE_RECORD_BYTES_MAX);
    }
    assert_true(operations >= 30);
}

/* Participants, a day open with offsetting off, the payer funded for every payment. */
static void limits_setup(struct khorgos *engine) {
    assert_int_equal(test_participant(engine, "NBRKKZKX", KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, LIMITS_PAYER, KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, LIMITS_PAYEE, KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_open_day(engine, KZT, DAY_1, KHORGOS_QUEUE_MODE_FIFO, 0, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    test_fund(engine, LIMITS_PAYER, KZT, 1000000);
    for (u32 index = 0; index <= KHORGOS_BATCH_EVENTS_MAX; index++) {
        limits_events[index] = test_payment_event(index + 1, LIMITS_PAYER, LIMITS_PAYEE, 1, KZT);
        limits_ids[index] = index + 1;
    }
}

static u128 limits_digest(const struct khorgos *engine) {
    return engine_state_digest(engine);
}

/* One request; returns its error (the call itself must succeed). */
static khorgos_error limits_request(struct khorgos *engine, u32 operation, const void *body,
                                    u32 body_size, void *reply, u32 reply_capacity) {
    struct khorgos_request request = {.operation = operation, .body_size = body_size,
                                      .body = body, .reply = reply,
                                      .reply_capacity = reply_capacity};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    if (request.error != KHORGOS_ERROR_ok) assert_int_equal(request.reply_size, 0);
    return request.error;
}

/* Requests one record too many are refused and change nothing; the largest allowed is applied. */
static void limits_check_door(struct khorgos *engine) {
    static _Alignas(16) struct khorgos_settle_result results[KHORGOS_BATCH_EVENTS_MAX + 1];
    u128 digest = limits_digest(engine);
    u64 requests = engine->request_count;
    u32 counts[2] = {LIMITS_PAYMENTS_MAX + 1, KHORGOS_BATCH_EVENTS_MAX + 1};
    for (u32 index = 0; index < 2; index++) {
        assert_int_equal(limits_request(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, limits_events,
                                        counts[index] * (u32)sizeof(struct khorgos_payment),
                                        results, sizeof(results)),
                         KHORGOS_ERROR_too_many_events);
    }
    assert_int_equal(limits_request(engine, KHORGOS_OPERATION_LOOKUP_PAYMENTS, limits_ids,
                                    (LIMITS_PAYMENTS_MAX + 1) * (u32)sizeof(u128),
                                    limits_replies, sizeof(limits_replies)),
                     KHORGOS_ERROR_too_many_events);
    assert_true(limits_digest(engine) == digest);
    assert_int_equal(engine->request_count, requests);
    assert_int_equal(engine->settle.payment_count, 0);
    assert_int_equal(limits_request(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, limits_events,
                                    LIMITS_PAYMENTS_MAX * (u32)sizeof(struct khorgos_payment),
                                    results, sizeof(results)),
                     KHORGOS_ERROR_ok);
    for (u32 index = 0; index < LIMITS_PAYMENTS_MAX; index++) {
        assert_int_equal(results[index].status, KHORGOS_SETTLE_settled);
    }
    assert_int_equal(engine->settle.payment_count, LIMITS_PAYMENTS_MAX);
    assert_int_equal(limits_request(engine, KHORGOS_OPERATION_LOOKUP_PAYMENTS, limits_ids,
                                    LIMITS_PAYMENTS_MAX * (u32)sizeof(u128), limits_replies,
                                    sizeof(limits_replies)),
                     KHORGOS_ERROR_ok);
}

static void test_too_many_payments_in_memory(void **state) {
    (void)state;
    struct khorgos *engine = test_open();
    limits_setup(engine);
    limits_check_door(engine);
    assert_int_equal(test_pay(engine, 9001, LIMITS_PAYER, LIMITS_PAYEE, 1, KZT),
                     KHORGOS_SETTLE_settled);
    khorgos_close(engine);
}

static const struct storage_superblock limits_superblock = {
    .format_version = STORAGE_FORMAT_VERSION,
    .account_count_max = 64,
    .transfer_count_max = 1u << 14,
    .account_balance_count_max = 256,
    .segment_bytes = 4 * STORAGE_SEGMENT_BYTES_MIN,
    .segment_records_max = STORAGE_SEGMENT_RECORDS_MIN,
    .participant_count_max = 4,
    .payment_count_max = 8192,
};

static void test_too_many_payments_on_a_data_directory(void **state) {
    (void)state;
    struct storage_fault_config config = {.seed = 15};
    struct storage_io *io = storage_fault_create(&config);
    assert_int_equal(engine_storage_format(io, &limits_superblock), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1,
                                           .checkpoint_journal_bytes = UINT64_MAX};
    static struct storage_report report;
    struct khorgos *engine = NULL;
    assert_int_equal(engine_storage_open(&engine, io, false, &options, &report),
                     KHORGOS_ERROR_ok);
    limits_setup(engine);
    limits_check_door(engine);
    u128 digest = limits_digest(engine);
    u64 requests = engine->request_count;
    khorgos_close(engine);
    /* Recovery replays exactly what was accepted: the refused requests never reached the
     * journal, the 4,094 payments did. */
    engine = NULL;
    assert_int_equal(engine_storage_open(&engine, io, false, &options, &report),
                     KHORGOS_ERROR_ok);
    assert_int_equal(engine->request_count, requests);
    assert_true(limits_digest(engine) == digest);
    khorgos_close(engine);
    storage_fault_destroy(io);
}

/* A queue longer than one reply: get_queue gives its first 4,094 payments, even when asked for
 * more. */
static void test_get_queue_reply_is_capped(void **state) {
    (void)state;
    struct khorgos *engine = test_open();
    limits_setup(engine);
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_DEFUND, LIMITS_PAYER, KZT,
                                            1000000).status,
                     KHORGOS_SETTLE_ok);
    static _Alignas(16) struct khorgos_settle_result many[LIMITS_PAYMENTS_MAX];
    for (u32 first = 0; first < 2 * LIMITS_PAYMENTS_MAX; first += LIMITS_PAYMENTS_MAX) {
        for (u32 index = 0; index < LIMITS_PAYMENTS_MAX; index++) {
            limits_events[index] =
                test_payment_event(first + index + 1, LIMITS_PAYER, LIMITS_PAYEE, 1, KZT);
        }
        test_execute(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, limits_events,
                     LIMITS_PAYMENTS_MAX * (u32)sizeof(struct khorgos_payment), many,
                     sizeof(many));
        assert_int_equal(many[LIMITS_PAYMENTS_MAX - 1].status, KHORGOS_SETTLE_queued);
    }
    struct khorgos_settle_filter filter = {.currency = KZT, .limit = 3 * LIMITS_PAYMENTS_MAX};
    u32 written = test_execute(engine, KHORGOS_OPERATION_GET_QUEUE, &filter, sizeof(filter),
                               limits_replies, sizeof(limits_replies));
    assert_int_equal(written, LIMITS_PAYMENTS_MAX * sizeof(struct khorgos_payment));
    assert_true(limits_replies[0].id == 1);
    assert_int_equal(test_lookup(engine, 2 * LIMITS_PAYMENTS_MAX).state, KHORGOS_PAYMENT_QUEUED);
    /* A reply buffer for a whole message is enough; one byte less is refused. */
    assert_int_equal(limits_request(engine, KHORGOS_OPERATION_GET_QUEUE, &filter, sizeof(filter),
                                    limits_replies,
                                    LIMITS_PAYMENTS_MAX * sizeof(struct khorgos_payment) - 1),
                     KHORGOS_ERROR_reply_too_small);
    khorgos_close(engine);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_operation_fits_one_message),
        cmocka_unit_test(test_too_many_payments_in_memory),
        cmocka_unit_test(test_too_many_payments_on_a_data_directory),
        cmocka_unit_test(test_get_queue_reply_is_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
