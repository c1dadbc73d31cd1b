/*
 * test_settle_namespace.c: the settlement's own ids (bits 127..112 SETTLE_NAMESPACE, settle.h)
 * are refused in a client's create_accounts and create_transfers with invalid_argument, and
 * nothing of such a request is applied. Found by fuzz_settle_requests: a client's transfer with
 * the id the settlement gives its next funding transfer made that `fund` abort the process
 * (its own transfer could not be created), and a client's transfer out of a clearing account
 * left it off zero (settle_check's invariant 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "settle_rtgs_fixture.h"

static khorgos_error test_refused(struct khorgos *engine, u32 operation, const void *body,
                                  u32 body_size) {
    u8 reply[2 * 128];
    struct khorgos_request request = {.operation = operation, .body_size = body_size,
                                      .body = body, .reply = reply,
                                      .reply_capacity = sizeof(reply)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    return request.error;
}

static void test_client_accounts(struct khorgos *engine) {
    struct khorgos_account accounts[2] = {{.id = 1, .ledger = KZT, .code = 1},
                                          {.id = 2, .ledger = KZT, .code = 1}};
    assert_int_equal(test_refused(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts,
                                  sizeof(accounts)),
                     KHORGOS_ERROR_ok);
}

static void settlement_transfer_id_refused(void **state) {
    (void)state;
    struct khorgos *engine = test_open();
    test_client_accounts(engine);
    /* The id the settlement gives its first funding transfer. */
    u128 fund_id = ((u128)SETTLE_NAMESPACE << 112) | ((u128)SETTLE_TRANSFER_FUND << 104) | 1;
    struct khorgos_transfer transfers[2] = {
        {.id = 10, .debit_account_id = 1, .credit_account_id = 2, .amount = 5, .ledger = KZT,
         .code = 1},
        {.id = fund_id, .debit_account_id = 1, .credit_account_id = 2, .amount = 5,
         .ledger = KZT, .code = 1},
    };
    assert_int_equal(test_refused(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, transfers,
                                  sizeof(transfers)),
                     KHORGOS_ERROR_invalid_argument);
    assert_int_equal(engine->ledger.transfer_count, 0); /* nothing of it applied */
    assert_int_equal(test_participant(engine, "NBRKKZKX", KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, "HSBKKZKX", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_open_day(engine, KZT, DAY_1, KHORGOS_QUEUE_MODE_FIFO, 0, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    test_fund(engine, "HSBKKZKX", KZT, 100000); /* aborted when the id was taken */
    assert_int_equal(test_participant(engine, "KCJBKZKX", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_pay(engine, 20, "HSBKKZKX", "KCJBKZKX", 2500, KZT),
                     KHORGOS_SETTLE_settled);
    assert_true(test_lookup(engine, 20).amount == 2500);
    khorgos_close(engine);
}

static void settlement_accounts_refused(void **state) {
    (void)state;
    struct khorgos *engine = test_open();
    test_client_accounts(engine);
    assert_int_equal(test_participant(engine, "NBRKKZKX", KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0),
                     KHORGOS_SETTLE_ok);
    u128 clearing = settle_account_id(SETTLE_ACCOUNT_CLEARING, KZT, 0);
    u128 settlement = settle_account_id(SETTLE_ACCOUNT_SETTLEMENT, KZT, 1);
    struct khorgos_transfer out_of_clearing = {.id = 11, .debit_account_id = clearing,
                                               .credit_account_id = 1, .amount = 5,
                                               .ledger = KZT, .code = 1};
    assert_int_equal(test_refused(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, &out_of_clearing,
                                  sizeof(out_of_clearing)),
                     KHORGOS_ERROR_invalid_argument);
    struct khorgos_transfer into_settlement = {.id = 12, .debit_account_id = 1,
                                               .credit_account_id = settlement, .amount = 5,
                                               .ledger = KZT, .code = 1};
    assert_int_equal(test_refused(engine, KHORGOS_OPERATION_CREATE_TRANSFERS, &into_settlement,
                                  sizeof(into_settlement)),
                     KHORGOS_ERROR_invalid_argument);
    struct khorgos_account account = {.id = settle_account_id(SETTLE_ACCOUNT_SETTLEMENT, KZT, 9),
                                      .ledger = KZT, .code = 1};
    u32 accounts_before = engine->ledger.account_count;
    assert_int_equal(test_refused(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, &account,
                                  sizeof(account)),
                     KHORGOS_ERROR_invalid_argument);
    assert_int_equal(engine->ledger.account_count, accounts_before);
    test_conservation(engine); /* ledger_check and settle_check hold */
    khorgos_close(engine);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settlement_transfer_id_refused),
        cmocka_unit_test(settlement_accounts_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
