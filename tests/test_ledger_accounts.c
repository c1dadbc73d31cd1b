/* test_ledger_accounts.c: create_accounts, every status, its precedence, imported and closed
 * accounts, result timestamps, status names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger_fixture.h"

#define ACCOUNT_STATUS(name) KHORGOS_CREATE_ACCOUNT_##name

static int setup(void **state) {
    static struct fixture fixture;
    fixture_open(&fixture);
    *state = &fixture;
    return 0;
}

static int teardown(void **state) {
    fixture_close(*state);
    return 0;
}

static void test_created_takes_the_event_timestamp(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_account accounts[3] = {account_make(1, 0), account_make(2, 0),
                                          account_make(3, KHORGOS_ACCOUNT_HISTORY)};
    u64 timestamp = fixture_next(fixture, 3);
    struct khorgos_create_result *results = fixture_accounts(fixture, accounts, 3);
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(results[index].status, ACCOUNT_STATUS(created));
        assert_true(results[index].timestamp == timestamp - 3 + index + 1);
        assert_true(fixture_account(fixture, index + 1)->timestamp == results[index].timestamp);
    }
    assert_int_equal(fixture->ledger.account_count, 3);
    assert_true(fixture_account(fixture, 3)->flags == KHORGOS_ACCOUNT_HISTORY);
}

static void test_exists_answers_the_original_timestamp(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_account account = account_make(9, 0);
    account.user_data_128 = 5;
    assert_int_equal(fixture_account_one(fixture, account), ACCOUNT_STATUS(created));
    u64 original = fixture_account(fixture, 9)->timestamp;
    struct khorgos_create_result *results = fixture_accounts(fixture, &account, 1);
    assert_int_equal(results[0].status, ACCOUNT_STATUS(exists));
    assert_true(results[0].timestamp == original);
    /* A failure other than exists answers the event's own timestamp. */
    u64 timestamp = fixture_next(fixture, 1);
    account.user_data_128 = 6;
    results = fixture_accounts(fixture, &account, 1);
    assert_int_equal(results[0].status, ACCOUNT_STATUS(exists_with_different_user_data_128));
    assert_true(results[0].timestamp == timestamp);
    assert_int_equal(fixture->ledger.account_count, 1);
}

static void test_exists_with_different_fields_in_order(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_account original = account_make(20, KHORGOS_ACCOUNT_HISTORY);
    original.user_data_128 = 1;
    original.user_data_64 = 2;
    original.user_data_32 = 3;
    assert_int_equal(fixture_account_one(fixture, original), ACCOUNT_STATUS(created));
    struct khorgos_account changed = original;
    changed.flags = 0;
    changed.user_data_128 = 9; /* flags win over user_data_128 */
    assert_int_equal(fixture_account_one(fixture, changed),
                     ACCOUNT_STATUS(exists_with_different_flags));
    changed.flags = original.flags;
    changed.user_data_64 = 9;
    assert_int_equal(fixture_account_one(fixture, changed),
                     ACCOUNT_STATUS(exists_with_different_user_data_128));
    changed.user_data_128 = original.user_data_128;
    changed.user_data_32 = 9;
    assert_int_equal(fixture_account_one(fixture, changed),
                     ACCOUNT_STATUS(exists_with_different_user_data_64));
    changed.user_data_64 = original.user_data_64;
    changed.ledger = 156;
    assert_int_equal(fixture_account_one(fixture, changed),
                     ACCOUNT_STATUS(exists_with_different_user_data_32));
    changed.user_data_32 = original.user_data_32;
    changed.code = 99;
    assert_int_equal(fixture_account_one(fixture, changed),
                     ACCOUNT_STATUS(exists_with_different_ledger));
    changed.ledger = original.ledger;
    assert_int_equal(fixture_account_one(fixture, changed),
                     ACCOUNT_STATUS(exists_with_different_code));
    /* exists comes before the field checks of a new account. */
    changed = original;
    changed.debits_posted = 5;
    assert_int_equal(fixture_account_one(fixture, changed), ACCOUNT_STATUS(exists));
}

static void test_reserved_and_id_statuses(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_account account = account_make(0, 0x40);
    account.reserved = 1;
    assert_int_equal(fixture_account_one(fixture, account), ACCOUNT_STATUS(reserved_field));
    account.reserved = 0;
    assert_int_equal(fixture_account_one(fixture, account), ACCOUNT_STATUS(reserved_flag));
    account.flags = 0;
    assert_int_equal(fixture_account_one(fixture, account), ACCOUNT_STATUS(id_must_not_be_zero));
    account.id = U128_MAX;
    account.ledger = 0;
    assert_int_equal(fixture_account_one(fixture, account), ACCOUNT_STATUS(id_must_not_be_int_max));
    assert_int_equal(fixture->ledger.account_count, 0);
}

static void test_field_statuses_in_order(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_account account =
        account_make(30, KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS |
                             KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS);
    account.debits_pending = 1;
    account.debits_posted = 1;
    account.credits_pending = 1;
    account.credits_posted = 1;
    account.ledger = 0;
    account.code = 0;
    const u32 expected[] = {
        ACCOUNT_STATUS(flags_are_mutually_exclusive), ACCOUNT_STATUS(debits_pending_must_be_zero),
        ACCOUNT_STATUS(debits_posted_must_be_zero),   ACCOUNT_STATUS(credits_pending_must_be_zero),
        ACCOUNT_STATUS(credits_posted_must_be_zero),  ACCOUNT_STATUS(ledger_must_not_be_zero),
        ACCOUNT_STATUS(code_must_not_be_zero),
    };
    for (u32 step = 0; step < ARRAY_COUNT(expected); step++) {
        assert_int_equal(fixture_account_one(fixture, account), expected[step]);
        switch (step) { /* clear the cause of this step's status */
        case 0: account.flags = KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS; break;
        case 1: account.debits_pending = 0; break;
        case 2: account.debits_posted = 0; break;
        case 3: account.credits_pending = 0; break;
        case 4: account.credits_posted = 0; break;
        case 5: account.ledger = FIXTURE_LEDGER; break;
        case 6: account.code = FIXTURE_CODE; break;
        default: fail();
        }
    }
    assert_int_equal(fixture_account_one(fixture, account), ACCOUNT_STATUS(created));
    /* Each limit flag alone is fine. */
    assert_int_equal(fixture_account_one(
                         fixture, account_make(31, KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS)),
                     ACCOUNT_STATUS(created));
}

static void test_timestamp_must_be_zero_and_imported_batch_rules(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_account account = account_make(40, 0);
    account.timestamp = 5;
    assert_int_equal(fixture_account_one(fixture, account), ACCOUNT_STATUS(timestamp_must_be_zero));
    /* The first event decides: an imported batch refuses plain events and vice versa. */
    struct khorgos_account mixed[2] = {account_make(41, KHORGOS_ACCOUNT_IMPORTED),
                                       account_make(42, 0)};
    mixed[0].timestamp = fixture->now - 100;
    mixed[1].timestamp = 7; /* imported_event_expected wins over timestamp_must_be_zero */
    struct khorgos_create_result *results = fixture_accounts(fixture, mixed, 2);
    assert_int_equal(results[0].status, ACCOUNT_STATUS(created));
    assert_int_equal(results[1].status, ACCOUNT_STATUS(imported_event_expected));
    struct khorgos_account reversed[2] = {account_make(43, 0),
                                          account_make(44, KHORGOS_ACCOUNT_IMPORTED)};
    reversed[1].timestamp = fixture->now - 50;
    results = fixture_accounts(fixture, reversed, 2);
    assert_int_equal(results[0].status, ACCOUNT_STATUS(created));
    assert_int_equal(results[1].status, ACCOUNT_STATUS(imported_event_not_expected));
}

static void test_imported_timestamps(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_account account = account_make(50, KHORGOS_ACCOUNT_IMPORTED);
    account.timestamp = 0;
    assert_int_equal(fixture_account_one(fixture, account),
                     ACCOUNT_STATUS(imported_event_timestamp_out_of_range));
    account.timestamp = (u64)INT64_MAX + 1;
    assert_int_equal(fixture_account_one(fixture, account),
                     ACCOUNT_STATUS(imported_event_timestamp_out_of_range));
    /* At or after the request's timestamp: must not advance. */
    account.timestamp = fixture_next(fixture, 1);
    assert_int_equal(fixture_account_one(fixture, account),
                     ACCOUNT_STATUS(imported_event_timestamp_must_not_advance));
    account.timestamp = 1000;
    account.id = 0; /* must_not_advance and out_of_range come before the id */
    account.timestamp = fixture_next(fixture, 1) + 5;
    assert_int_equal(fixture_account_one(fixture, account),
                     ACCOUNT_STATUS(imported_event_timestamp_must_not_advance));
    account.id = 50;
    account.timestamp = 1000;
    struct khorgos_create_result *results = fixture_accounts(fixture, &account, 1);
    assert_int_equal(results[0].status, ACCOUNT_STATUS(created));
    assert_true(results[0].timestamp == 1000);
    assert_true(fixture_account(fixture, 50)->timestamp == 1000);
    /* Not after the last account: regress; exists still answers first. */
    struct khorgos_account older = account_make(51, KHORGOS_ACCOUNT_IMPORTED);
    older.timestamp = 1000;
    assert_int_equal(fixture_account_one(fixture, older),
                     ACCOUNT_STATUS(imported_event_timestamp_must_not_regress));
    older.timestamp = 999;
    assert_int_equal(fixture_account_one(fixture, older),
                     ACCOUNT_STATUS(imported_event_timestamp_must_not_regress));
    results = fixture_accounts(fixture, &account, 1);
    assert_int_equal(results[0].status, ACCOUNT_STATUS(exists));
    assert_true(results[0].timestamp == 1000);
    older.timestamp = 1001;
    assert_int_equal(fixture_account_one(fixture, older), ACCOUNT_STATUS(created));
    /* A plain account afterwards gets the clock's timestamp, after the imported ones. */
    assert_int_equal(fixture_account_one(fixture, account_make(52, 0)), ACCOUNT_STATUS(created));
    assert_true(fixture_account(fixture, 52)->timestamp > 1001);
}

static void test_imported_must_not_take_a_transfer_timestamp(void **state) {
    struct fixture *fixture = *state;
    fixture_open_accounts(fixture, 60, 2, 0);
    struct khorgos_transfer transfer = transfer_make(1, 60, 61, 10, 0);
    struct khorgos_create_result *results = fixture_transfers(fixture, &transfer, 1);
    assert_int_equal(results[0].status, KHORGOS_CREATE_TRANSFER_created);
    u64 transfer_timestamp = results[0].timestamp;
    /* A later timestamp than every account, but taken by the transfer. Import needs an
     * account timeline behind it: here every account is older than the transfer. */
    struct khorgos_account account = account_make(62, KHORGOS_ACCOUNT_IMPORTED);
    account.timestamp = transfer_timestamp;
    assert_int_equal(fixture_account_one(fixture, account),
                     ACCOUNT_STATUS(imported_event_timestamp_must_not_regress));
    account.timestamp = transfer_timestamp + 1;
    assert_int_equal(fixture_account_one(fixture, account), ACCOUNT_STATUS(created));
}

static void test_closed_flag_at_creation(void **state) {
    struct fixture *fixture = *state;
    fixture_open_accounts(fixture, 70, 1, KHORGOS_ACCOUNT_CLOSED);
    fixture_open_accounts(fixture, 71, 1, 0);
    assert_true(fixture_account(fixture, 70)->flags & KHORGOS_ACCOUNT_CLOSED);
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(1, 70, 71, 1, 0)),
                     KHORGOS_CREATE_TRANSFER_debit_account_already_closed);
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(2, 71, 70, 1, 0)),
                     KHORGOS_CREATE_TRANSFER_credit_account_already_closed);
}

static void test_linked_accounts_all_or_nothing(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_account chain[4] = {
        account_make(80, KHORGOS_ACCOUNT_LINKED),
        account_make(81, KHORGOS_ACCOUNT_LINKED),
        account_make(82, 0), /* ends the chain, fails: code 0 */
        account_make(83, 0),
    };
    chain[2].code = 0;
    u64 timestamp = fixture_next(fixture, 4);
    struct khorgos_create_result *results = fixture_accounts(fixture, chain, 4);
    assert_int_equal(results[0].status, ACCOUNT_STATUS(linked_event_failed));
    assert_int_equal(results[1].status, ACCOUNT_STATUS(linked_event_failed));
    assert_int_equal(results[2].status, ACCOUNT_STATUS(code_must_not_be_zero));
    assert_int_equal(results[3].status, ACCOUNT_STATUS(created));
    for (u32 index = 0; index < 4; index++) {
        assert_true(results[index].timestamp == timestamp - 4 + index + 1);
    }
    assert_int_equal(fixture->ledger.account_count, 1);
    u32 unused = 0;
    assert_false(ledger_account_index(&fixture->ledger, 80, &unused));
    assert_false(ledger_account_index(&fixture->ledger, 81, &unused));
    /* The ids are free again. */
    chain[2].code = FIXTURE_CODE;
    results = fixture_accounts(fixture, chain, 3);
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(results[index].status, ACCOUNT_STATUS(created));
    }
}

static void test_linked_chain_open_on_last_event(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_account chain[3] = {account_make(90, 0),
                                       account_make(91, KHORGOS_ACCOUNT_LINKED),
                                       account_make(92, KHORGOS_ACCOUNT_LINKED)};
    struct khorgos_create_result *results = fixture_accounts(fixture, chain, 3);
    assert_int_equal(results[0].status, ACCOUNT_STATUS(created));
    assert_int_equal(results[1].status, ACCOUNT_STATUS(linked_event_failed));
    assert_int_equal(results[2].status, ACCOUNT_STATUS(linked_event_chain_open));
    assert_int_equal(fixture->ledger.account_count, 1);
    /* A single linked event alone is an open chain too; its other faults do not matter. */
    struct khorgos_account alone = account_make(0, KHORGOS_ACCOUNT_LINKED);
    assert_int_equal(fixture_account_one(fixture, alone), ACCOUNT_STATUS(linked_event_chain_open));
    /* An existing account breaks a chain like any failure. */
    struct khorgos_account again[2] = {account_make(93, KHORGOS_ACCOUNT_LINKED),
                                       account_make(90, 0)};
    results = fixture_accounts(fixture, again, 2);
    assert_int_equal(results[0].status, ACCOUNT_STATUS(linked_event_failed));
    assert_int_equal(results[1].status, ACCOUNT_STATUS(exists));
    assert_int_equal(fixture->ledger.account_count, 1);
}

static void test_chain_open_wins_over_linked_event_failed(void **state) {
    struct fixture *fixture = *state;
    /* Broken at event 1; event 2 is still linked and last: TigerBeetle answers chain_open. */
    struct khorgos_account chain[3] = {account_make(100, KHORGOS_ACCOUNT_LINKED),
                                       account_make(0, KHORGOS_ACCOUNT_LINKED),
                                       account_make(102, KHORGOS_ACCOUNT_LINKED)};
    struct khorgos_create_result *results = fixture_accounts(fixture, chain, 3);
    assert_int_equal(results[0].status, ACCOUNT_STATUS(linked_event_failed));
    assert_int_equal(results[1].status, ACCOUNT_STATUS(id_must_not_be_zero));
    assert_int_equal(results[2].status, ACCOUNT_STATUS(linked_event_chain_open));
    assert_int_equal(fixture->ledger.account_count, 0);
}

static void test_imported_chain_rolls_back(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_account chain[3] = {
        account_make(110, KHORGOS_ACCOUNT_IMPORTED | KHORGOS_ACCOUNT_LINKED),
        account_make(111, KHORGOS_ACCOUNT_IMPORTED | KHORGOS_ACCOUNT_LINKED),
        account_make(112, KHORGOS_ACCOUNT_IMPORTED)};
    chain[0].timestamp = 500;
    chain[1].timestamp = 600;
    chain[2].timestamp = 550; /* regresses: breaks the chain */
    u64 timestamp = fixture_next(fixture, 3);
    struct khorgos_create_result *results = fixture_accounts(fixture, chain, 3);
    /* Rolled-back events keep the timestamp their own outcome gave (the imported one). */
    assert_int_equal(results[0].status, ACCOUNT_STATUS(linked_event_failed));
    assert_true(results[0].timestamp == 500);
    assert_int_equal(results[1].status, ACCOUNT_STATUS(linked_event_failed));
    assert_true(results[1].timestamp == 600);
    assert_int_equal(results[2].status, ACCOUNT_STATUS(imported_event_timestamp_must_not_regress));
    assert_true(results[2].timestamp == timestamp);
    assert_int_equal(fixture->ledger.account_count, 0);
    /* The same timestamps are free again. */
    chain[2].timestamp = 700;
    results = fixture_accounts(fixture, chain, 3);
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(results[index].status, ACCOUNT_STATUS(created));
    }
    assert_true(fixture_account(fixture, 110)->timestamp == 500);
}

static void test_empty_request(void **state) {
    struct fixture *fixture = *state;
    u128 before = ledger_digest(&fixture->ledger);
    ledger_create_accounts(&fixture->ledger, fixture_next(fixture, 0), NULL, 0, NULL);
    ledger_create_transfers(&fixture->ledger, fixture_next(fixture, 0) + 1, NULL, 0, NULL);
    assert_true(ledger_check(&fixture->ledger));
    assert_int_equal(fixture->ledger.account_count, 0);
    assert_true(ledger_digest(&fixture->ledger) != before); /* only the last timestamp moved */
    assert_true(fixture->ledger.timestamp_last == fixture_next(fixture, 0) + 1);
}

static void test_status_names(void **state) {
    (void)state;
    assert_string_equal(khorgos_create_account_status_name(ACCOUNT_STATUS(created)), "created");
    assert_string_equal(khorgos_create_account_status_name(
                            ACCOUNT_STATUS(imported_event_timestamp_must_not_regress)),
                        "imported_event_timestamp_must_not_regress");
    assert_null(khorgos_create_account_status_name(KHORGOS_CREATE_ACCOUNT_STATUS_COUNT));
    assert_string_equal(khorgos_create_transfer_status_name(KHORGOS_CREATE_TRANSFER_exceeds_debits),
                        "exceeds_debits");
    assert_null(khorgos_create_transfer_status_name(KHORGOS_CREATE_TRANSFER_STATUS_COUNT));
    for (u32 status = 0; status < KHORGOS_CREATE_TRANSFER_STATUS_COUNT; status++) {
        const char *name = khorgos_create_transfer_status_name(status);
        u32 parsed = U32_MAX;
        assert_int_equal(khorgos_create_transfer_status_parse(name, strlen(name), &parsed), 0);
        assert_int_equal(parsed, status);
    }
    for (u32 status = 0; status < KHORGOS_CREATE_ACCOUNT_STATUS_COUNT; status++) {
        const char *name = khorgos_create_account_status_name(status);
        u32 parsed = U32_MAX;
        assert_int_equal(khorgos_create_account_status_parse(name, strlen(name), &parsed), 0);
        assert_int_equal(parsed, status);
    }
    u32 parsed = 77;
    assert_int_equal(khorgos_create_transfer_status_parse("exist", 5, &parsed), -1);
    assert_int_equal(khorgos_create_transfer_status_parse("existsx", 7, &parsed), -1);
    assert_int_equal(khorgos_create_account_status_parse("CREATED", 7, &parsed), -1);
    assert_int_equal(khorgos_create_account_status_parse("created!", 7, &parsed), 0);
    assert_int_equal(parsed, ACCOUNT_STATUS(created));
}

static void test_capacity(void **state) {
    struct fixture *fixture = *state;
    assert_true(ledger_capacity_accounts(&fixture->ledger, FIXTURE_ACCOUNT_COUNT_MAX));
    assert_false(ledger_capacity_accounts(&fixture->ledger, FIXTURE_ACCOUNT_COUNT_MAX + 1));
    assert_false(ledger_capacity_accounts(&fixture->ledger, LIMIT_BATCH_EVENTS_MAX + 1));
    fixture_open_accounts(fixture, 1, 4, 0);
    assert_true(ledger_capacity_accounts(&fixture->ledger, FIXTURE_ACCOUNT_COUNT_MAX - 4));
    assert_false(ledger_capacity_accounts(&fixture->ledger, FIXTURE_ACCOUNT_COUNT_MAX - 3));
    struct ledger bad;
    struct ledger_config zero = {0, 1, 1};
    assert_int_equal(ledger_init(&bad, &zero), KHORGOS_ERROR_invalid_argument);
}

static void test_digest_follows_state(void **state) {
    struct fixture *fixture = *state;
    u128 empty = ledger_digest(&fixture->ledger);
    fixture_open_accounts(fixture, 1, 2, 0);
    u128 two = ledger_digest(&fixture->ledger);
    assert_true(two != empty);
    assert_true(ledger_digest(&fixture->ledger) == two);
    /* The same requests on a second ledger give the same digest. */
    struct fixture other;
    fixture_open(&other);
    fixture_open_accounts(&other, 1, 2, 0);
    assert_true(ledger_digest(&other.ledger) == two);
    fixture_open_accounts(&other, 3, 1, 0);
    assert_true(ledger_digest(&other.ledger) != two);
    fixture_close(&other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_created_takes_the_event_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exists_answers_the_original_timestamp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exists_with_different_fields_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reserved_and_id_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_statuses_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_must_be_zero_and_imported_batch_rules, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_imported_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imported_must_not_take_a_transfer_timestamp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_closed_flag_at_creation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linked_accounts_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linked_chain_open_on_last_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_open_wins_over_linked_event_failed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_imported_chain_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_request, setup, teardown),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test_setup_teardown(test_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_follows_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
