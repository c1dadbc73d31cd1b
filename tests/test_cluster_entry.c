/*
 * test_cluster_entry.c: an entry's packed bodies (cluster.h, version 3). Round trips on random
 * bodies of every size up to 4 KiB and sizes up to the limit, with all-zero words, no zero
 * word, and mixes: the expanded body is the original, zero-padded; the packed size is the
 * bitmap plus 16 bytes per word that is not zero; packing the expansion gives the same bytes.
 * Malformed entries are refused whole with corrupt: every truncation, trailing bytes, a bitmap
 * claiming more words than the bytes hold or words past the body, a kept zero word, a bitmap's
 * padding or a last word's bytes past the body not zero, sizes over the limits (a body, the
 * request count, the entry, and the expanded size of an entry whose zero bodies pack small),
 * another version; and a replica given one changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster_support.h"

#define TEST_TIME (KHORGOS_MANUAL_CLOCK_START_NS + 1000u)
#define TEST_SMALL_BODY_BYTES_MAX 4096u

static u8 *test_packed;   /* CLUSTER_ENTRY_ENCODED_BYTES_MAX */
static u8 *test_expanded; /* CLUSTER_ENTRY_BYTES_MAX */
static u8 *test_repacked; /* CLUSTER_ENTRY_ENCODED_BYTES_MAX */
static u8 *test_bodies;   /* 8 bodies of LIMIT_REQUEST_BODY_BYTES_MAX */
static u64 test_seed = 0x9e3779b97f4a7c15ull;

static u64 test_random(void) {
    test_seed ^= test_seed << 13;
    test_seed ^= test_seed >> 7;
    test_seed ^= test_seed << 17;
    return test_seed;
}

/* Fills a body: each 16-byte word zero with probability `zero_percent`, otherwise random bytes
 * with at least one not zero. Returns its words that are not zero (the last one padded). */
static u64 test_body_fill(u8 *body, u32 body_size, u32 zero_percent) {
    u64 kept = 0;
    for (u32 offset = 0; offset < body_size; offset += 16) {
        u32 length = MIN(16u, body_size - offset);
        bool zero = test_random() % 100 < zero_percent;
        for (u32 byte = 0; byte < length; byte++) {
            body[offset + byte] = zero ? 0 : (u8)test_random();
        }
        if (!zero) body[offset + (u32)(test_random() % length)] |= 1;
        kept += zero ? 0 : 1;
    }
    return kept;
}

/* Encodes the requests, expands them back and packs the expansion again: the bodies come back
 * whole and zero-padded, and the bytes are the same. Returns the encoded size. */
static u64 test_round_trip(const struct khorgos_request *requests, u32 count) {
    u64 bytes = 0;
    assert_int_equal(cluster_entry_batch_encode(test_packed, CLUSTER_ENTRY_ENCODED_BYTES_MAX,
                                                TEST_TIME, 0, requests, count, &bytes),
                     KHORGOS_ERROR_ok);
    assert_true(bytes <= cluster_entry_batch_capacity_bytes(requests, count));
    u64 expanded_bytes = 0;
    assert_int_equal(cluster_entry_expand(test_packed, bytes, test_expanded, &expanded_bytes),
                     KHORGOS_ERROR_ok);
    assert_int_equal(expanded_bytes, cluster_entry_batch_bytes(requests, count));
    u64 offset = CLUSTER_ENTRY_HEADER_BYTES;
    for (u32 index = 0; index < count; index++) {
        u32 size = requests[index].body_size;
        offset += CLUSTER_REQUEST_HEADER_BYTES;
        if (size > 0) assert_memory_equal(test_expanded + offset, requests[index].body, size);
        for (u32 byte = size; byte % 16 != 0; byte++) {
            assert_int_equal(test_expanded[offset + byte], 0);
        }
        offset += (size + 15u) & ~15u;
    }
    assert_int_equal(cluster_entry_pack(test_expanded, expanded_bytes, test_repacked), bytes);
    assert_memory_equal(test_repacked, test_packed, bytes);
    return bytes;
}

static void test_every_small_size_round_trips(void **state) {
    (void)state;
    const u32 zero_percents[] = {0, 50, 100};
    for (u32 size = 0; size <= TEST_SMALL_BODY_BYTES_MAX; size++) {
        for (u32 kind = 0; kind < ARRAY_COUNT(zero_percents); kind++) {
            u64 kept = test_body_fill(test_bodies, size, zero_percents[kind]);
            struct khorgos_request request = test_request(1, test_bodies, size);
            u64 bytes = test_round_trip(&request, 1);
            u64 expected = CLUSTER_ENTRY_HEADER_BYTES + CLUSTER_REQUEST_HEADER_BYTES +
                           cluster_body_bitmap_bytes(size) + kept * 16;
            assert_int_equal(bytes, expected);
        }
    }
}

/* Bodies at and near the limit, and entries at the limits of requests and bytes. */
static void test_sizes_up_to_the_limit_round_trip(void **state) {
    (void)state;
    const u32 limit = LIMIT_REQUEST_BODY_BYTES_MAX;
    const u32 sizes[] = {limit, limit - 1, limit - 15, limit - 16, limit - 127, 65536 + 3};
    for (u32 index = 0; index < ARRAY_COUNT(sizes); index++) {
        test_body_fill(test_bodies, sizes[index], (u32)(test_random() % 101));
        struct khorgos_request request = test_request(1, test_bodies, sizes[index]);
        test_round_trip(&request, 1);
    }
    struct khorgos_request requests[CLUSTER_ENTRY_REQUEST_COUNT_MAX + 1];
    for (u32 index = 0; index < 8; index++) {
        u8 *body = test_bodies + (u64)index * limit;
        test_body_fill(body, limit, index * 14);
        requests[index] = test_request(1, body, limit);
    }
    assert_int_equal(cluster_entry_batch_bytes(requests, 8), CLUSTER_ENTRY_BYTES_MAX);
    test_round_trip(requests, 8);
    for (u32 index = 0; index <= CLUSTER_ENTRY_REQUEST_COUNT_MAX; index++) {
        u32 size = (u32)(test_random() % 300);
        test_body_fill(test_bodies + index * 512u, size, 30);
        requests[index] = test_request(1, test_bodies + index * 512u, size);
    }
    test_round_trip(requests, CLUSTER_ENTRY_REQUEST_COUNT_MAX);
    u64 bytes = 0;
    assert_int_equal(cluster_entry_batch_encode(test_packed, CLUSTER_ENTRY_ENCODED_BYTES_MAX,
                                                TEST_TIME, 0, requests,
                                                CLUSTER_ENTRY_REQUEST_COUNT_MAX + 1, &bytes),
                     KHORGOS_ERROR_invalid_argument);
}

/* A transfer of a bank's traffic (random 128-bit ids and user data, no pending id, user_data_64
 * and _32 and timeout zero) keeps 6 of its 8 words; the benchmark's (user data zero too) 5. */
static void test_transfer_words_left_out(void **state) {
    (void)state;
    static struct khorgos_transfer transfers[64];
    for (u32 index = 0; index < ARRAY_COUNT(transfers); index++) {
        transfers[index] = test_transfer(index + 1, 1, 2, 5);
    }
    struct khorgos_request request = test_request(KHORGOS_OPERATION_CREATE_TRANSFERS, transfers,
                                                  sizeof(transfers));
    u64 overhead = CLUSTER_ENTRY_HEADER_BYTES + CLUSTER_REQUEST_HEADER_BYTES +
                   cluster_body_bitmap_bytes(sizeof(transfers));
    assert_int_equal(test_round_trip(&request, 1), overhead + 64 * 5 * 16);
    for (u32 index = 0; index < ARRAY_COUNT(transfers); index++) {
        struct khorgos_transfer *transfer = &transfers[index];
        transfer->id = ((u128)test_random() << 64) | test_random();
        transfer->debit_account_id = ((u128)test_random() << 64) | test_random();
        transfer->credit_account_id = ((u128)test_random() << 64) | test_random();
        transfer->user_data_128 = ((u128)test_random() << 64) | test_random();
    }
    assert_int_equal(test_round_trip(&request, 1), overhead + 64 * 6 * 16);
}

/* A batch of two requests: a transfer and a 20-byte body (its last word holds 4 bytes). */
static u64 test_valid_entry(struct khorgos_transfer *transfer, u8 *small) {
    *transfer = test_transfer(7, 1, 2, 5);
    for (u32 byte = 0; byte < 20; byte++) small[byte] = (u8)(byte + 1);
    struct khorgos_request requests[2] = {
        test_request(KHORGOS_OPERATION_CREATE_TRANSFERS, transfer, sizeof(*transfer)),
        test_request(KHORGOS_OPERATION_LOOKUP_ACCOUNTS, small, 20),
    };
    return test_round_trip(requests, 2);
}

static void test_refuse(const u8 *entry, u64 bytes) {
    u64 expanded_bytes = 0;
    assert_int_equal(cluster_entry_expand(entry, bytes, test_expanded, &expanded_bytes),
                     KHORGOS_ERROR_corrupt);
}

/* The entry with body_bytes set to match `bytes`, so that the checks past it are reached. */
static void test_refuse_sized(u8 *entry, u64 bytes) {
    u64 body_bytes = bytes - CLUSTER_ENTRY_HEADER_BYTES;
    memcpy(entry + 32, &body_bytes, sizeof(body_bytes));
    test_refuse(entry, bytes);
}

static void test_malformed_entries_are_refused(void **state) {
    (void)state;
    struct khorgos_transfer transfer;
    u8 small[20];
    static u8 valid[1024];
    static u8 damaged[1024];
    u64 bytes = test_valid_entry(&transfer, small);
    memcpy(valid, test_packed, bytes);
    /* Layout: header 48, request 80, bitmap 16 (0x8f: words 0-3 and 7), 5 words, request 80,
     * bitmap 16 (0x03), 2 words. */
    const u64 bitmap = CLUSTER_ENTRY_HEADER_BYTES + CLUSTER_REQUEST_HEADER_BYTES;
    assert_int_equal(valid[bitmap], 0x8f);
    assert_int_equal(bytes, bitmap + 16 + 5 * 16 + CLUSTER_REQUEST_HEADER_BYTES + 16 + 2 * 16);
    const u64 second_bitmap = bitmap + 16 + 5 * 16 + CLUSTER_REQUEST_HEADER_BYTES;
    for (u64 length = 0; length < bytes; length++) {
        memcpy(damaged, valid, bytes);
        test_refuse(damaged, length);
        if (length >= CLUSTER_ENTRY_HEADER_BYTES) test_refuse_sized(damaged, length);
    }
    memcpy(damaged, valid, bytes); /* trailing bytes */
    memset(damaged + bytes, 0, 16);
    test_refuse_sized(damaged, bytes + 16);
    const struct {
        u64 offset;
        u8 value;
    } changes[] = {
        {bitmap, 0xcf},        /* word 6 claimed: the words run past the bytes */
        {bitmap, 0x0f},        /* word 7 left out: a word left over */
        {bitmap + 1, 0x01},    /* a word past the body's 8 */
        {bitmap + 15, 0x80},   /* the bitmap's padding */
        {second_bitmap, 0x07}, /* a third word of a 20-byte body */
        {second_bitmap + 16 + 16 + 4, 0x01}, /* the last word past the body's 20 bytes */
        {4, 2},                /* version 2 */
    };
    for (u32 index = 0; index < ARRAY_COUNT(changes); index++) {
        memcpy(damaged, valid, bytes);
        damaged[changes[index].offset] = changes[index].value;
        test_refuse(damaged, bytes);
    }
    memcpy(damaged, valid, bytes); /* a kept word that is zero */
    memset(damaged + bitmap + 16 + 16 * 4, 0, 16); /* word 7 */
    test_refuse(damaged, bytes);
    memcpy(damaged, valid, bytes); /* a body over the limit */
    u32 over = LIMIT_REQUEST_BODY_BYTES_MAX + 1;
    memcpy(damaged + CLUSTER_ENTRY_HEADER_BYTES + 4, &over, sizeof(over));
    test_refuse(damaged, bytes);
    memcpy(damaged, valid, bytes); /* more requests than the limit */
    u32 count = CLUSTER_ENTRY_REQUEST_COUNT_MAX + 1;
    memcpy(damaged + 8, &count, sizeof(count));
    test_refuse(damaged, bytes);
    test_refuse(test_packed, CLUSTER_ENTRY_ENCODED_BYTES_MAX + 16); /* an entry over the limit */
    u64 expanded_bytes = 0;
    assert_int_equal(cluster_entry_expand(valid, bytes, test_expanded, &expanded_bytes),
                     KHORGOS_ERROR_ok);
}

/* Nine zero bodies at the limit pack to their bitmaps alone (about 72 KiB), but expand past
 * CLUSTER_ENTRY_BYTES_MAX: refused before anything is written past the buffer. */
static void test_expansion_over_the_limit_is_refused(void **state) {
    (void)state;
    memset(test_bodies, 0, (u64)8 * LIMIT_REQUEST_BODY_BYTES_MAX);
    struct khorgos_request requests[8];
    for (u32 index = 0; index < 8; index++) {
        requests[index] = test_request(1, test_bodies, LIMIT_REQUEST_BODY_BYTES_MAX);
    }
    u64 bytes = test_round_trip(requests, 8);
    u64 request_bytes = CLUSTER_REQUEST_HEADER_BYTES +
                        cluster_body_bitmap_bytes(LIMIT_REQUEST_BODY_BYTES_MAX);
    assert_int_equal(bytes, CLUSTER_ENTRY_HEADER_BYTES + 8 * request_bytes);
    memcpy(test_packed + bytes, test_packed + bytes - request_bytes, request_bytes);
    u32 count = 9;
    memcpy(test_packed + 8, &count, sizeof(count));
    test_refuse_sized(test_packed, bytes + request_bytes);
}

/* A replica given a malformed entry refuses it whole and its state does not change. */
static void test_replica_refuses_and_changes_nothing(void **state) {
    (void)state;
    struct khorgos_config config = test_config();
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &config), KHORGOS_ERROR_ok);
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, engine), KHORGOS_ERROR_ok);
    struct khorgos_account accounts[2] = {test_account(1), test_account(2)};
    struct khorgos_request request = test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts,
                                                  sizeof(accounts));
    u64 bytes = 0;
    assert_int_equal(cluster_entry_batch_encode(test_packed, CLUSTER_ENTRY_ENCODED_BYTES_MAX,
                                                TEST_TIME, 0, &request, 1, &bytes),
                     KHORGOS_ERROR_ok);
    u128 digest = engine_state_digest(fsm.engine);
    /* A bit past the body's 16 words. */
    test_packed[CLUSTER_ENTRY_HEADER_BYTES + CLUSTER_REQUEST_HEADER_BYTES + 2] = 1;
    assert_int_equal(cluster_fsm_apply(&fsm, test_packed, bytes)->error, KHORGOS_ERROR_corrupt);
    assert_true(engine_state_digest(fsm.engine) == digest);
    test_packed[CLUSTER_ENTRY_HEADER_BYTES + CLUSTER_REQUEST_HEADER_BYTES + 2] = 0;
    assert_int_equal(cluster_fsm_apply(&fsm, test_packed, bytes)->error, KHORGOS_ERROR_ok);
    assert_true(test_account_find(fsm.engine, 2, &accounts[0]));
    cluster_fsm_deinit(&fsm);
}

int main(void) {
    test_packed = malloc(CLUSTER_ENTRY_ENCODED_BYTES_MAX + 64);
    test_expanded = aligned_alloc(16, CLUSTER_ENTRY_BYTES_MAX);
    test_repacked = malloc(CLUSTER_ENTRY_ENCODED_BYTES_MAX);
    test_bodies = malloc((u64)9 * LIMIT_REQUEST_BODY_BYTES_MAX);
    assert_true(test_packed && test_expanded && test_repacked && test_bodies);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_small_size_round_trips),
        cmocka_unit_test(test_sizes_up_to_the_limit_round_trip),
        cmocka_unit_test(test_transfer_words_left_out),
        cmocka_unit_test(test_malformed_entries_are_refused),
        cmocka_unit_test(test_expansion_over_the_limit_is_refused),
        cmocka_unit_test(test_replica_refuses_and_changes_nothing),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(test_packed);
    free(test_expanded);
    free(test_repacked);
    free(test_bodies);
    return failed;
}
