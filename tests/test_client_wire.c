/* test_client_wire.c: TigerBeetle 0.17's client wire format (src/client/): the header's
 * checksums and validation, the builders of the server's messages, multi-batch bodies, and a
 * register request captured from TigerBeetle's Node client 0.17.9
 * (tests/fixtures/tigerbeetle-node-0.17.9-register.bin; how to capture it again:
 * docs/protocol.md, "Checking against TigerBeetle's client"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "client/client.h"
#include "client_wire_live.h"

#define FIXTURE_REGISTER "tests/fixtures/tigerbeetle-node-0.17.9-register.bin"

static size_t read_file(const char *path, u8 *buffer, size_t capacity) {
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    size_t size = fread(buffer, 1, capacity, file);
    fclose(file);
    return size;
}

/* The Node client's first message: a register request for cluster 0 from release 0.17.9. */
static void test_fixture_register_decodes(void **state) {
    (void)state;
    u8 bytes[1024];
    size_t size = read_file(FIXTURE_REGISTER, bytes, sizeof(bytes));
    assert_int_equal(size, 512);
    struct client_header header;
    const char *reason = NULL;
    assert_int_equal(client_header_decode(bytes, size, 0, &header, &reason), KHORGOS_ERROR_ok);
    assert_null(reason);
    assert_int_equal(header.command, CLIENT_COMMAND_REQUEST);
    assert_int_equal(header.request.operation, CLIENT_OPERATION_REGISTER);
    assert_int_equal(header.release, CLIENT_RELEASE(0, 17, 9));
    assert_int_equal(header.size, 512);
    assert_true(header.cluster == 0);
    assert_true(header.request.client != 0);
    assert_int_equal(header.request.request, 0);
    assert_int_equal(header.request.session, 0);
    assert_int_equal(client_body_check(&header, bytes + CLIENT_HEADER_BYTES, &reason),
                     KHORGOS_ERROR_ok);
    struct client_register_request body;
    memcpy(&body, bytes + CLIENT_HEADER_BYTES, sizeof(body));
    assert_int_equal(body.batch_size_limit, 0);
    assert_int_equal(client_register_body_check(&header, bytes + CLIENT_HEADER_BYTES, &reason),
                     KHORGOS_ERROR_ok);
    /* Another cluster's server refuses it. */
    assert_int_equal(client_header_decode(bytes, size, 1, &header, &reason),
                     KHORGOS_ERROR_message_cluster);
}

/* Any flipped bit of the header fails its checksum; of the body, the body's. */
static void test_fixture_corruption_detected(void **state) {
    (void)state;
    u8 bytes[512];
    assert_int_equal(read_file(FIXTURE_REGISTER, bytes, sizeof(bytes)), 512);
    struct client_header header;
    const char *reason = NULL;
    for (size_t bit = 0; bit < CLIENT_HEADER_BYTES * 8; bit += 5) {
        bytes[bit / 8] ^= (u8)(1u << (bit % 8));
        assert_int_equal(client_header_decode(bytes, sizeof(bytes), 0, &header, &reason),
                         KHORGOS_ERROR_message_checksum);
        bytes[bit / 8] ^= (u8)(1u << (bit % 8));
    }
    assert_int_equal(client_header_decode(bytes, sizeof(bytes), 0, &header, &reason),
                     KHORGOS_ERROR_ok);
    bytes[300] ^= 1;
    assert_int_equal(client_body_check(&header, bytes + CLIENT_HEADER_BYTES, &reason),
                     KHORGOS_ERROR_message_checksum);
    assert_int_equal(client_header_decode(bytes, 200, 0, &header, &reason),
                     KHORGOS_ERROR_invalid_argument);
}

static void seal_and_expect(struct client_header *header, const void *body, khorgos_error error,
                            const char *reason_expected) {
    client_header_seal(header, body);
    struct client_header decoded;
    const char *reason = NULL;
    assert_int_equal(client_header_decode(header, sizeof(*header), 7, &decoded, &reason), error);
    if (reason_expected == NULL) {
        assert_null(reason);
    } else {
        assert_non_null(reason);
        assert_string_equal(reason, reason_expected);
    }
}

/* TigerBeetle's field rules, one broken field at a time. */
static void test_request_validation(void **state) {
    (void)state;
    struct client_header request;
    client_request_init(&request, 7, 42, CLIENT_OPERATION_CREATE_TRANSFERS, 0);
    request.request.session = 1;
    request.request.request = 1;
    seal_and_expect(&request, NULL, KHORGOS_ERROR_ok, NULL);
    struct client_header bad = request;
    bad.request.session = 0;
    seal_and_expect(&bad, NULL, KHORGOS_ERROR_message_invalid, "request: session is 0");
    bad = request;
    bad.request.operation = CLIENT_OPERATION_NOOP;
    seal_and_expect(&bad, NULL, KHORGOS_ERROR_message_invalid,
                    "request: operation is reserved for the replication protocol");
    bad = request;
    bad.epoch = 1;
    seal_and_expect(&bad, NULL, KHORGOS_ERROR_message_invalid, "epoch is not 0");
    bad = request;
    bad.reserved_frame[11] = 1;
    seal_and_expect(&bad, NULL, KHORGOS_ERROR_message_invalid, "reserved_frame is not 0");
    bad = request;
    bad.request.reserved[51] = 1;
    seal_and_expect(&bad, NULL, KHORGOS_ERROR_message_invalid, "request: reserved is not 0");
    bad = request;
    bad.protocol = 1;
    seal_and_expect(&bad, NULL, KHORGOS_ERROR_message_invalid, "protocol is not 0");
    bad = request;
    bad.size = CLIENT_MESSAGE_BYTES_MAX + 1;
    bad.checksum_body = 0;
    bad.checksum = client_header_checksum(&bad);
    struct client_header decoded;
    const char *reason = NULL;
    assert_int_equal(client_header_decode(&bad, sizeof(bad), 7, &decoded, &reason),
                     KHORGOS_ERROR_message_invalid);
    assert_string_equal(reason, "size is more than 1 MiB");
    bad = request;
    bad.command = CLIENT_COMMAND_PREPARE;
    seal_and_expect(&bad, NULL, KHORGOS_ERROR_message_invalid,
                    "command is not one a client exchanges");
    bad = request;
    bad.command = CLIENT_COMMAND_NOTIFICATION;
    seal_and_expect(&bad, NULL, KHORGOS_ERROR_message_invalid, "notification: client is 0");
}

/* Khorgos's notification: a client, a sequence and a kind, the rest zero. */
static void test_notification_validation(void **state) {
    (void)state;
    u8 body[32];
    memset(body, 7, sizeof(body));
    struct client_header notification = {0};
    notification.cluster = 7;
    notification.size = CLIENT_HEADER_BYTES + sizeof(body);
    notification.release = CLIENT_RELEASE_SERVER;
    notification.command = CLIENT_COMMAND_NOTIFICATION;
    notification.notification.client = 42;
    notification.notification.sequence = 1;
    notification.notification.kind = 1;
    seal_and_expect(&notification, body, KHORGOS_ERROR_ok, NULL);
    struct client_header bad = notification;
    bad.notification.sequence = 0;
    seal_and_expect(&bad, body, KHORGOS_ERROR_message_invalid, "notification: sequence is 0");
    bad = notification;
    bad.notification.kind = 0;
    seal_and_expect(&bad, body, KHORGOS_ERROR_message_invalid, "notification: kind is 0");
    bad = notification;
    bad.notification.reserved[99] = 1;
    seal_and_expect(&bad, body, KHORGOS_ERROR_message_invalid, "notification: reserved is not 0");
}

/* A reply to a Khorgos operation carries the engine's error in reserved[0]; a reply to one of
 * TigerBeetle's operations may not. */
static void test_reply_error_byte(void **state) {
    (void)state;
    struct client_header request;
    client_request_init(&request, 7, 42, KHORGOS_OPERATION_SUBMIT_PAYMENTS, 0);
    request.request.session = 1;
    request.request.request = 1;
    client_header_seal(&request, NULL);
    struct client_header reply;
    client_reply_init(&reply, &request, 2, 3, 0);
    client_reply_error_set(&reply, KHORGOS_ERROR_too_many_events);
    seal_and_expect(&reply, NULL, KHORGOS_ERROR_ok, NULL);
    assert_int_equal(client_reply_error(&reply), KHORGOS_ERROR_too_many_events);
    struct client_header bad = reply;
    bad.reply.reserved[0] = KHORGOS_ERROR_COUNT;
    seal_and_expect(&bad, NULL, KHORGOS_ERROR_message_invalid, "reply: the error is unknown");
    bad = reply;
    bad.reply.reserved[1] = 1;
    seal_and_expect(&bad, NULL, KHORGOS_ERROR_message_invalid, "reply: reserved is not 0");
    bad = reply;
    bad.reply.operation = CLIENT_OPERATION_CREATE_TRANSFERS;
    seal_and_expect(&bad, NULL, KHORGOS_ERROR_message_invalid, "reply: reserved is not 0");
    assert_string_equal(client_operation_name(CLIENT_OPERATION_ADVANCE_CLOCK), "advance_clock");
}

static void test_register_validation(void **state) {
    (void)state;
    struct client_register_request body = {0};
    struct client_header request;
    client_request_init(&request, 7, 42, CLIENT_OPERATION_REGISTER, sizeof(body));
    seal_and_expect(&request, &body, KHORGOS_ERROR_ok, NULL);
    struct client_header bad = request;
    bad.request.request = 1;
    seal_and_expect(&bad, &body, KHORGOS_ERROR_message_invalid, "register: request is not 0");
    bad = request;
    bad.size = CLIENT_HEADER_BYTES + 64;
    seal_and_expect(&bad, &body, KHORGOS_ERROR_message_invalid,
                    "register: size is not 256 or 512");
    bad = request;
    bad.request.client = 0;
    seal_and_expect(&bad, &body, KHORGOS_ERROR_message_invalid, "request: client is 0");
    const char *reason = NULL;
    assert_int_equal(client_register_body_check(&request, &body, &reason), KHORGOS_ERROR_ok);
    body.batch_size_limit = 5;
    assert_int_equal(client_register_body_check(&request, &body, &reason),
                     KHORGOS_ERROR_message_invalid);
    assert_string_equal(reason, "register: batch_size_limit is not 0");
    body.batch_size_limit = 0;
    body.reserved[251] = 1;
    assert_int_equal(client_register_body_check(&request, &body, &reason),
                     KHORGOS_ERROR_message_invalid);
    assert_string_equal(reason, "register: reserved is not 0");
    bad = request;
    bad.size = CLIENT_HEADER_BYTES;
    assert_int_equal(client_register_body_check(&bad, NULL, &reason),
                     KHORGOS_ERROR_message_invalid);
    assert_string_equal(reason, "register: no body");
}

/* A register reply: valid, the context is the checksum computed with context 0, and the
 * builders copy what the client checks (release, request checksum, client, operation). */
static void test_reply_pong_eviction(void **state) {
    (void)state;
    struct client_register_request body = {0};
    struct client_header request;
    client_request_init(&request, 7, 42, CLIENT_OPERATION_REGISTER, sizeof(body));
    request.release = CLIENT_RELEASE(0, 17, 3);
    client_header_seal(&request, &body);
    struct client_register_result result = {.batch_size_limit = CLIENT_BODY_BYTES_MAX};
    struct client_header reply;
    client_reply_init(&reply, &request, 5, 1000, sizeof(result));
    seal_and_expect(&reply, &result, KHORGOS_ERROR_ok, NULL);
    assert_int_equal(reply.release, CLIENT_RELEASE(0, 17, 3));
    assert_true(reply.reply.request_checksum == request.checksum);
    assert_true(reply.reply.client == 42);
    struct client_header copy = reply;
    copy.reply.context = 0;
    assert_true(reply.reply.context == client_header_checksum(&copy));
    struct client_header bad = reply;
    bad.reply.commit = 6;
    seal_and_expect(&bad, &result, KHORGOS_ERROR_message_invalid, "reply: op is not commit");

    struct client_header ping;
    memset(&ping, 0, sizeof(ping));
    ping.cluster = 7;
    ping.size = CLIENT_HEADER_BYTES;
    ping.release = CLIENT_RELEASE(0, 17, 9);
    ping.command = CLIENT_COMMAND_PING_CLIENT;
    ping.ping.client = 42;
    ping.ping.ping_timestamp_monotonic = 123;
    seal_and_expect(&ping, NULL, KHORGOS_ERROR_ok, NULL);
    struct client_header pong;
    client_pong_init(&pong, &ping);
    seal_and_expect(&pong, NULL, KHORGOS_ERROR_ok, NULL);
    assert_int_equal(pong.pong.ping_timestamp_monotonic, 123);

    struct client_header eviction;
    client_eviction_init(&eviction, 7, 42, CLIENT_EVICTION_no_session);
    seal_and_expect(&eviction, NULL, KHORGOS_ERROR_ok, NULL);
    eviction.eviction.reason = 9;
    seal_and_expect(&eviction, NULL, KHORGOS_ERROR_message_invalid, "eviction: reason unknown");
    assert_string_equal(client_eviction_reason_name(CLIENT_EVICTION_session_release_mismatch),
                        "session_release_mismatch");
}

/* multi_batch.zig's own example: batches of 8, 1, 0 and 4 128-byte events make a 1,792-byte
 * body whose 128-byte trailer ends with the u16 values 4 0 1 8 4. */
static void test_multi_batch_example(void **state) {
    (void)state;
    static u8 buffer[4096];
    struct client_multi_batch_encoder encoder;
    client_multi_batch_encoder_init(&encoder, buffer, sizeof(buffer), 128);
    const u32 counts[4] = {8, 1, 0, 4};
    for (int b = 0; b < 4; b++) {
        u32 writable = 0;
        u8 *target = client_multi_batch_writable(&encoder, &writable);
        assert_non_null(target);
        assert_true(writable >= counts[b] * 128);
        memset(target, 'a' + b, counts[b] * 128);
        client_multi_batch_add(&encoder, counts[b] * 128);
    }
    u32 size = client_multi_batch_finish(&encoder);
    assert_int_equal(size, 1792);
    const u8 tail[10] = {4, 0, 0, 0, 1, 0, 8, 0, 4, 0};
    assert_memory_equal(buffer + size - 10, tail, 10);
    for (u32 i = 1664; i < size - 10; i++) assert_int_equal(buffer[i], 0xFF);
    struct client_multi_batch batches;
    const char *reason = NULL;
    assert_int_equal(client_multi_batch_decode(buffer, size, 128, &batches, &reason),
                     KHORGOS_ERROR_ok);
    assert_int_equal(batches.batch_count, 4);
    const u8 *batch = NULL;
    u32 batch_bytes = 0;
    for (int b = 0; b < 4; b++) {
        assert_true(client_multi_batch_next(&batches, &batch, &batch_bytes));
        assert_int_equal(batch_bytes, counts[b] * 128);
        if (batch_bytes > 0) assert_int_equal(batch[0], 'a' + b);
    }
    assert_false(client_multi_batch_next(&batches, &batch, &batch_bytes));
}

static void expect_multi_batch_invalid(const u8 *body, u32 size, u32 element, const char *why) {
    struct client_multi_batch batches;
    const char *reason = NULL;
    assert_int_equal(client_multi_batch_decode(body, size, element, &batches, &reason),
                     KHORGOS_ERROR_message_invalid);
    assert_string_equal(reason, why);
}

static void test_multi_batch_invalid(void **state) {
    (void)state;
    struct client_multi_batch batches;
    const char *reason = NULL;
    u8 good[64];
    memset(good, 0, 48);
    memset(good + 48, 0xFF, 16);
    good[60] = 3; good[61] = 0; good[62] = 1; good[63] = 0;
    assert_int_equal(client_multi_batch_decode(good, 64, 16, &batches, &reason),
                     KHORGOS_ERROR_ok);
    assert_int_equal(batches.payload_bytes, 48);
    u8 copy[64];
    memcpy(copy, good, 64);
    copy[62] = 0;
    expect_multi_batch_invalid(copy, 64, 16, "multi-batch: batch count is 0");
    memcpy(copy, good, 64);
    copy[50] = 0;
    expect_multi_batch_invalid(copy, 64, 16, "multi-batch: trailer padding is not 0xFFFF");
    memcpy(copy, good, 64);
    copy[60] = 2;
    expect_multi_batch_invalid(copy, 64, 16,
                               "multi-batch: the batch counts do not add up to the payload");
    expect_multi_batch_invalid(good, 63, 16, "multi-batch: body size is odd");
    expect_multi_batch_invalid(good, 0, 16, "multi-batch: body has no batch count");
    expect_multi_batch_invalid(good + 48, 16, 128,
                               "multi-batch: trailer is longer than the body");
}

/* Random batches round-trip, and the encoder fills a body exactly to its capacity. */
static void test_multi_batch_round_trip(void **state) {
    (void)state;
    static u8 buffer[CLIENT_BODY_BYTES_MAX];
    u64 seed = 99;
    for (int round = 0; round < 200; round++) {
        u32 element = 2u << (round % 7); /* 2 .. 128 */
        u32 capacity = 256 + (u32)(seed % 20000);
        struct client_multi_batch_encoder encoder;
        client_multi_batch_encoder_init(&encoder, buffer, capacity, element);
        u32 counts[400];
        u32 batch_count = 0;
        u32 writable = 0;
        u8 *target;
        while (batch_count < 400 && (target = client_multi_batch_writable(&encoder, &writable))) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            u32 count = (u32)(seed >> 33) % (writable / element + 1);
            for (u32 i = 0; i < count * element; i++) target[i] = (u8)(batch_count + i);
            client_multi_batch_add(&encoder, count * element);
            counts[batch_count++] = count;
        }
        assert_true(batch_count > 0);
        u32 size = client_multi_batch_finish(&encoder);
        assert_true(size <= capacity);
        struct client_multi_batch batches;
        const char *reason = NULL;
        assert_int_equal(client_multi_batch_decode(buffer, size, element, &batches, &reason),
                         KHORGOS_ERROR_ok);
        const u8 *batch = NULL;
        u32 bytes = 0;
        for (u32 b = 0; b < batch_count; b++) {
            assert_true(client_multi_batch_next(&batches, &batch, &bytes));
            assert_int_equal(bytes, counts[b] * element);
            if (bytes > 0) assert_int_equal(batch[bytes - 1], (u8)(b + bytes - 1));
        }
        assert_false(client_multi_batch_next(&batches, &batch, &bytes));
    }
}

/* The operations' codes and shapes as TigerBeetle 0.17 numbers them. */
static void test_operations(void **state) {
    (void)state;
    struct client_operation_shape shape;
    assert_true(client_operation_shape(CLIENT_OPERATION_CREATE_TRANSFERS, &shape));
    assert_int_equal(shape.event_bytes, 128);
    assert_int_equal(shape.result_bytes, 16);
    assert_true(shape.multi_batch && shape.batchable);
    assert_true(client_operation_shape(CLIENT_OPERATION_QUERY_ACCOUNTS, &shape));
    assert_int_equal(shape.event_bytes, 64);
    assert_false(shape.batchable);
    assert_false(client_operation_shape(CLIENT_OPERATION_REGISTER, &shape));
    assert_false(client_operation_shape(200, &shape));
    assert_string_equal(client_operation_name(146), "create_accounts");
    assert_string_equal(client_operation_name(140), "lookup_accounts");
    assert_string_equal(client_operation_name(2), "register");
    assert_null(client_operation_name(148));
    assert_string_equal(client_command_name(CLIENT_COMMAND_EVICTION), "eviction");
    assert_null(client_command_name(25));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_register_decodes),
        cmocka_unit_test(test_fixture_corruption_detected),
        cmocka_unit_test(test_request_validation),
        cmocka_unit_test(test_notification_validation),
        cmocka_unit_test(test_reply_error_byte),
        cmocka_unit_test(test_register_validation),
        cmocka_unit_test(test_reply_pong_eviction),
        cmocka_unit_test(test_multi_batch_example),
        cmocka_unit_test(test_multi_batch_invalid),
        cmocka_unit_test(test_multi_batch_round_trip),
        cmocka_unit_test(test_operations),
        cmocka_unit_test(test_live_node_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
