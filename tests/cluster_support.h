/* cluster_support.h: the requests and lookups the cluster tests share (test_cluster_*.c). */
#ifndef KHORGOS_TESTS_CLUSTER_SUPPORT_H
#define KHORGOS_TESTS_CLUSTER_SUPPORT_H

#include "engine/engine.h"

#define TEST_LEDGER 156u /* CNY */

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

#endif /* KHORGOS_TESTS_CLUSTER_SUPPORT_H */
