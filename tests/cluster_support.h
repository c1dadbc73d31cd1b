/* cluster_support.h: the requests and lookups the cluster tests share (test_cluster_*.c). */
#ifndef KHORGOS_TESTS_CLUSTER_SUPPORT_H
#define KHORGOS_TESTS_CLUSTER_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/cluster.h"
#include "engine/engine.h"

#define TEST_LEDGER 156u /* CNY */

/* An engine in memory on a manual clock, as a fixture replica's. */
static inline struct khorgos *test_engine_open(void) {
    struct khorgos_config config = {.account_count_max = 1024, .transfer_count_max = 4096,
                                    .account_balance_count_max = 1024, .clock_manual = 1,
                                    .participant_count_max = 16, .payment_count_max = 1024};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &config), KHORGOS_ERROR_ok);
    return engine;
}

static inline struct khorgos_account test_account(u128 id) {
    return (struct khorgos_account){.id = id, .ledger = TEST_LEDGER, .code = 1};
}

static inline struct khorgos_transfer test_transfer(u128 id, u128 debit, u128 credit,
                                                   u64 amount) {
    return (struct khorgos_transfer){.id = id, .debit_account_id = debit,
                                     .credit_account_id = credit, .amount = amount,
                                     .ledger = TEST_LEDGER, .code = 1};
}

static inline struct khorgos_request test_request(u32 operation, const void *body,
                                                 u32 body_size) {
    return (struct khorgos_request){.operation = operation, .body = body, .body_size = body_size};
}

/* An account on one replica; false when it does not exist there. */
static inline bool test_account_find(struct khorgos *engine, u128 id,
                                     struct khorgos_account *account) {
    struct khorgos_request lookup = test_request(KHORGOS_OPERATION_LOOKUP_ACCOUNTS, &id,
                                                 sizeof(id));
    lookup.reply = account;
    lookup.reply_capacity = sizeof(*account);
    assert_int_equal(khorgos_execute(engine, &lookup, 1), KHORGOS_ERROR_ok);
    return lookup.reply_size == sizeof(*account);
}

/* An account's posted credits on one replica (0 when it does not exist there). */
static inline u128 test_credits(struct khorgos *engine, u128 id) {
    struct khorgos_account account = {0};
    return test_account_find(engine, id, &account) ? account.credits_posted : 0;
}

/* ---- numbered entries on data directories (test_cluster_restart.c, test_cluster_uv.c) ---- */

#define TEST_TIME_NS (KHORGOS_MANUAL_CLOCK_START_NS + 1000000000000ull)
#define TEST_ENTRY_BYTES 4096u

/* Entry k: even k creates accounts 1000k and 1000k + 1, odd k moves 7 between those of k - 1
 * (three transfers), each at the leader time TEST_TIME_NS + k ms. */
static inline u64 test_entry(u32 k, u8 *entry) {
    struct khorgos_account accounts[2];
    struct khorgos_transfer transfers[3];
    struct khorgos_request request;
    u128 base = 1000u * (u128)(k & ~1u) + 1000u;
    if (k % 2 == 0) {
        accounts[0] = test_account(base);
        accounts[1] = test_account(base + 1);
        request = test_request(KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts, sizeof(accounts));
    } else {
        for (u32 index = 0; index < 3; index++) {
            transfers[index] = test_transfer(base + 100 + index, base, base + 1, 7);
        }
        request = test_request(KHORGOS_OPERATION_CREATE_TRANSFERS, transfers, sizeof(transfers));
    }
    u64 bytes = 0;
    assert_int_equal(cluster_entry_batch_encode(entry, TEST_ENTRY_BYTES,
                                                TEST_TIME_NS + (u64)k * 1000000u, 0, &request, 1,
                                                &bytes),
                     KHORGOS_ERROR_ok);
    return bytes;
}

static inline void test_apply(struct cluster_fsm *fsm, u32 k) {
    static _Alignas(16) u8 entry[TEST_ENTRY_BYTES];
    u64 bytes = test_entry(k, entry);
    assert_int_equal(cluster_fsm_apply(fsm, entry, bytes)->error, KHORGOS_ERROR_ok);
}

static inline void test_directory_make(char *path, size_t capacity, const char *root,
                                       const char *name) {
    int length = snprintf(path, capacity, "%s/%s", root, name);
    assert_true(length > 0 && (size_t)length < capacity);
    assert_int_equal(mkdir(path, 0700), 0);
}

static inline void test_remove_tree(const char *root) {
    char command[512];
    snprintf(command, sizeof(command), "rm -rf '%s'", root);
    assert_int_equal(system(command), 0);
}

static inline struct khorgos_config test_config(void) {
    return (struct khorgos_config){.account_count_max = 1024, .transfer_count_max = 4096,
                                   .account_balance_count_max = 1024, .clock_manual = 1,
                                   .participant_count_max = 16, .payment_count_max = 1024};
}

static inline struct khorgos *test_open(const char *directory) {
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, directory, &options), KHORGOS_ERROR_ok);
    return engine;
}

/* The digest of an engine in memory fed entries 0 .. count - 1, then the last one `repeats`
 * times more (refused as existing, each repeat still moves the engine's last timestamp on). */
static inline u128 test_reference_digest_repeated(u32 count, u32 repeats, u64 *request_count) {
    ASSERT(count > 0 || repeats == 0);
    struct khorgos_config config = test_config();
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &config), KHORGOS_ERROR_ok);
    static struct cluster_fsm fsm;
    assert_int_equal(cluster_fsm_init(&fsm, engine), KHORGOS_ERROR_ok);
    for (u32 k = 0; k < count; k++) test_apply(&fsm, k);
    for (u32 repeat = 0; repeat < repeats; repeat++) test_apply(&fsm, count - 1);
    u128 digest = engine_state_digest(fsm.engine);
    *request_count = fsm.engine->request_count;
    cluster_fsm_deinit(&fsm);
    return digest;
}

/* The digest of an engine in memory fed entries 0 .. count - 1. */
static inline u128 test_reference_digest(u32 count, u64 *request_count) {
    return test_reference_digest_repeated(count, 0, request_count);
}

#endif /* KHORGOS_TESTS_CLUSTER_SUPPORT_H */
