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

static void test_reserved_flag_and_ids(void **state) {
    struct fixture *fixture = *state;
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(0, 1, 2, 1, 0x200)),
                     TRANSFER_STATUS(reserved_flag));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(0, 0, 0, 1, 0)),
                     TRANSFER_STATUS(id_must_not_be_zero));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(U128_MAX, 0, 0, 1, 0)),
                     TRANSFER_STATUS(id_must_not_be_int_max));
    /* The batch's own checks come first: timestamp_must_be_zero over reserved_flag. */
    struct khorgos_transfer stamped = transfer_make(0, 1, 2, 1, 0x200);
    stamped.timestamp = 1;
    assert_int_equal(fixture_transfer_one(fixture, stamped),
                     TRANSFER_STATUS(timestamp_must_be_zero));
    assert_int_equal(fixture->ledger.transfer_count, 0);
    assert_int_equal(fixture->ledger.failed_transfer_count, 0);
}

/* (A) The statuses of a new transfer, each step clearing the winning fault. */
static void test_new_transfer_statuses_in_order(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_transfer transfer = transfer_make(30, 0, 0, 1, KHORGOS_TRANSFER_CLOSING_DEBIT);
    transfer.pending_id = 5;
    transfer.timeout = 10;
    transfer.ledger = 0;
    transfer.code = 0;
    const u32 expected[] = {
        TRANSFER_STATUS(debit_account_id_must_not_be_zero),
        TRANSFER_STATUS(debit_account_id_must_not_be_int_max),
        TRANSFER_STATUS(credit_account_id_must_not_be_zero),
        TRANSFER_STATUS(credit_account_id_must_not_be_int_max),
        TRANSFER_STATUS(accounts_must_be_different),
        TRANSFER_STATUS(pending_id_must_be_zero),
        TRANSFER_STATUS(timeout_reserved_for_pending_transfer),
        TRANSFER_STATUS(closing_transfer_must_be_pending),
        TRANSFER_STATUS(ledger_must_not_be_zero),
        TRANSFER_STATUS(code_must_not_be_zero),
        TRANSFER_STATUS(debit_account_not_found),
        TRANSFER_STATUS(credit_account_not_found),
        TRANSFER_STATUS(accounts_must_have_the_same_ledger),
        TRANSFER_STATUS(transfer_must_have_the_same_ledger_as_accounts),
        TRANSFER_STATUS(created),
    };
    for (u32 step = 0; step < ARRAY_COUNT(expected); step++) {
        transfer.id = 30 + step; /* not-found statuses burn their id */
        assert_int_equal(fixture_transfer_one(fixture, transfer), expected[step]);
        switch (step) {
        case 0: transfer.debit_account_id = U128_MAX; break;
        case 1: transfer.debit_account_id = 98; break;
        case 2: transfer.credit_account_id = U128_MAX; break;
        case 3: transfer.credit_account_id = 98; break;
        case 4: transfer.credit_account_id = 99; break;
        case 5: transfer.pending_id = 0; break;
        case 6: transfer.timeout = 0; break;
        case 7: transfer.flags = 0; break;
        case 8: transfer.ledger = 156; break;
        case 9: transfer.code = FIXTURE_CODE; break;
        case 10: transfer.debit_account_id = 1; break;
        case 11: transfer.credit_account_id = 7; break;
        case 12: transfer.credit_account_id = 2; break;
        case 13: transfer.ledger = FIXTURE_LEDGER; break;
        case 14: break;
        default: fail();
        }
    }
    assert_balances(fixture, 1, 0, 1, 0, 0);
    assert_int_equal(fixture->ledger.failed_transfer_count, 2); /* the two not_found */
}

static void test_transient_failures_burn_the_id(void **state) {
    struct fixture *fixture = *state;
    /* debit_account_not_found, then the account exists: the id stays failed. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(40, 50, 1, 1, 0)),
                     TRANSFER_STATUS(debit_account_not_found));
    fixture_open_accounts(fixture, 50, 1, 0);
    struct khorgos_transfer retry = transfer_make(40, 50, 1, 1, 0);
    u64 timestamp = fixture_next(fixture, 1);
    struct khorgos_create_result *results = fixture_transfers(fixture, &retry, 1);
    assert_int_equal(results[0].status, TRANSFER_STATUS(id_already_failed));
    assert_true(results[0].timestamp == timestamp);
    /* id_already_failed wins over everything after it, flags_are_mutually_exclusive first. */
    retry.flags = KHORGOS_TRANSFER_POST_PENDING_TRANSFER | KHORGOS_TRANSFER_VOID_PENDING_TRANSFER;
    assert_int_equal(fixture_transfer_one(fixture, retry), TRANSFER_STATUS(id_already_failed));
    /* exceeds_credits burns; so do the closed and pending_transfer_not_found failures. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(41, 3, 1, 1, 0)),
                     TRANSFER_STATUS(exceeds_credits));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(41, 1, 2, 1, 0)),
                     TRANSFER_STATUS(id_already_failed));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(42, 1, 4, 1, 0)),
                     TRANSFER_STATUS(exceeds_debits));
    assert_int_equal(fixture_transfer_one(
                         fixture, resolve_make(43, 999, 0, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)),
                     TRANSFER_STATUS(pending_transfer_not_found));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(43, 1, 2, 1, 0)),
                     TRANSFER_STATUS(id_already_failed));
    /* A non-transient failure does not burn: the id can be used once fixed. */
    struct khorgos_transfer fixable = transfer_make(44, 1, 2, 1, 0);
    fixable.code = 0;
    assert_int_equal(fixture_transfer_one(fixture, fixable),
                     TRANSFER_STATUS(code_must_not_be_zero));
    fixable.code = FIXTURE_CODE;
    assert_int_equal(fixture_transfer_one(fixture, fixable), TRANSFER_STATUS(created));
    assert_int_equal(fixture->ledger.failed_transfer_count, 4);
    /* An existing id answers exists before id_already_failed could. */
    assert_int_equal(fixture_transfer_one(fixture, fixable), TRANSFER_STATUS(exists));
}

static void test_limits(void **state) {
    struct fixture *fixture = *state;
    /* 3 may not debit beyond its posted credits; pending debits count. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(50, 1, 3, 100, 0)),
                     TRANSFER_STATUS(created));
    assert_int_equal(
        fixture_transfer_one(fixture, transfer_make(51, 3, 2, 60, KHORGOS_TRANSFER_PENDING)),
        TRANSFER_STATUS(created));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(52, 3, 2, 41, 0)),
                     TRANSFER_STATUS(exceeds_credits));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(53, 3, 2, 40, 0)),
                     TRANSFER_STATUS(created));
    assert_balances(fixture, 3, 60, 40, 0, 100);
    /* 4 may not credit beyond its posted debits. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(54, 2, 4, 1, 0)),
                     TRANSFER_STATUS(exceeds_debits));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(55, 4, 1, 10, 0)),
                     TRANSFER_STATUS(created));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(56, 2, 4, 10, 0)),
                     TRANSFER_STATUS(created));
    /* Both limits broken: exceeds_credits wins. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(57, 3, 4, 1, 0)),
                     TRANSFER_STATUS(exceeds_credits));
}

static void test_overflow_statuses(void **state) {
    struct fixture *fixture = *state;
    fixture_open_accounts(fixture, 20, 8, 0);
    /* 20 -> 21 posts everything: both posted sides are full. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(60, 20, 21, U128_MAX, 0)),
                     TRANSFER_STATUS(created));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(61, 20, 22, 1, 0)),
                     TRANSFER_STATUS(overflows_debits_posted));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(62, 22, 21, 1, 0)),
                     TRANSFER_STATUS(overflows_credits_posted));
    /* 23 -> 24 reserves everything: both pending sides are full. */
    assert_int_equal(fixture_transfer_one(
                         fixture, transfer_make(63, 23, 24, U128_MAX, KHORGOS_TRANSFER_PENDING)),
                     TRANSFER_STATUS(created));
    assert_int_equal(
        fixture_transfer_one(fixture, transfer_make(64, 23, 25, 1, KHORGOS_TRANSFER_PENDING)),
        TRANSFER_STATUS(overflows_debits_pending));
    assert_int_equal(
        fixture_transfer_one(fixture, transfer_make(65, 25, 24, 1, KHORGOS_TRANSFER_PENDING)),
        TRANSFER_STATUS(overflows_credits_pending));
    /* Pending plus posted: debits then credits. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(66, 23, 25, 1, 0)),
                     TRANSFER_STATUS(overflows_debits));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(67, 25, 24, 1, 0)),
                     TRANSFER_STATUS(overflows_credits));
    /* overflows_debits_pending wins over overflows_credits_pending and the posted ones. */
    assert_int_equal(
        fixture_transfer_one(fixture, transfer_make(68, 23, 24, 1, KHORGOS_TRANSFER_PENDING)),
        TRANSFER_STATUS(overflows_debits_pending));
    assert_int_equal(fixture->ledger.failed_transfer_count, 0); /* overflows are not transient */
}

static void test_overflows_timeout(void **state) {
    struct fixture *fixture = *state;
    /* Late in the u63 range, the largest timeout passes 2^63 - 1. */
    fixture->now = (u64)INT64_MAX - 2 * NS_PER_SECOND * (u64)UINT32_MAX / 2 + 1;
    struct khorgos_transfer transfer = transfer_make(70, 3, 2, 1, KHORGOS_TRANSFER_PENDING);
    transfer.timeout = UINT32_MAX;
    /* overflows_timeout comes before exceeds_credits (3 has no credits). */
    assert_int_equal(fixture_transfer_one(fixture, transfer), TRANSFER_STATUS(overflows_timeout));
    transfer.timeout = 1;
    assert_int_equal(fixture_transfer_one(fixture, transfer), TRANSFER_STATUS(exceeds_credits));
    transfer.id = 71;
    transfer.debit_account_id = 1;
    assert_int_equal(fixture_transfer_one(fixture, transfer), TRANSFER_STATUS(created));
}

static void test_pending_then_partial_post(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_transfer pending = transfer_make(80, 1, 2, 100, KHORGOS_TRANSFER_PENDING);
    pending.user_data_128 = 11;
    pending.user_data_32 = 33;
    assert_int_equal(fixture_transfer_one(fixture, pending), TRANSFER_STATUS(created));
    assert_balances(fixture, 1, 100, 0, 0, 0);
    assert_balances(fixture, 2, 0, 0, 100, 0);
    assert_int_equal(fixture_transfer_state(fixture, 80), LEDGER_TRANSFER_PENDING);
    /* Post 30 of 100: 30 posted, 70 released. Zero fields come from the pending transfer. */
    struct khorgos_transfer post = resolve_make(81, 80, 30, KHORGOS_TRANSFER_POST_PENDING_TRANSFER);
    post.user_data_32 = 44;
    u64 timestamp = fixture_next(fixture, 1);
    struct khorgos_create_result *results = fixture_transfers(fixture, &post, 1);
    assert_int_equal(results[0].status, TRANSFER_STATUS(created));
    assert_true(results[0].timestamp == timestamp);
    assert_balances(fixture, 1, 0, 30, 0, 0);
    assert_balances(fixture, 2, 0, 0, 0, 30);
    assert_int_equal(fixture_transfer_state(fixture, 80), LEDGER_TRANSFER_POSTED);
    const struct khorgos_transfer *stored = fixture_transfer(fixture, 81);
    assert_true(stored->debit_account_id == 1 && stored->credit_account_id == 2);
    assert_true(stored->amount == 30 && stored->ledger == FIXTURE_LEDGER);
    assert_true(stored->code == FIXTURE_CODE && stored->timeout == 0);
    assert_true(stored->user_data_128 == 11 && stored->user_data_32 == 44);
    assert_true(stored->timestamp == timestamp && stored->pending_id == 80);
    /* Resubmitting the post is exists; with AMOUNT_MAX it is a different amount (30 != 100). */
    assert_int_equal(fixture_transfer_one(fixture, post), TRANSFER_STATUS(exists));
    post.user_data_32 = 0;
    assert_int_equal(fixture_transfer_one(fixture, post),
                     TRANSFER_STATUS(exists_with_different_user_data_32));
    post.user_data_32 = 44;
    post.amount = KHORGOS_AMOUNT_MAX;
    assert_int_equal(fixture_transfer_one(fixture, post),
                     TRANSFER_STATUS(exists_with_different_amount));
    post.amount = 30;
    post.debit_account_id = 1; /* naming the pending transfer's own accounts is the same */
    post.code = FIXTURE_CODE;
    assert_int_equal(fixture_transfer_one(fixture, post), TRANSFER_STATUS(exists));
    post.debit_account_id = 2;
    assert_int_equal(fixture_transfer_one(fixture, post),
                     TRANSFER_STATUS(exists_with_different_debit_account_id));
}

static void test_post_amount_max_posts_the_whole(void **state) {
    struct fixture *fixture = *state;
    assert_int_equal(
        fixture_transfer_one(fixture, transfer_make(82, 5, 6, 250, KHORGOS_TRANSFER_PENDING)),
        TRANSFER_STATUS(created));
    struct khorgos_transfer post =
        resolve_make(83, 82, KHORGOS_AMOUNT_MAX, KHORGOS_TRANSFER_POST_PENDING_TRANSFER);
    assert_int_equal(fixture_transfer_one(fixture, post), TRANSFER_STATUS(created));
    assert_true(fixture_transfer(fixture, 83)->amount == 250);
    assert_balances(fixture, 5, 0, 250, 0, 0);
    assert_balances(fixture, 6, 0, 0, 0, 250);
    /* Resubmitted with AMOUNT_MAX or with the exact amount: exists. */
    assert_int_equal(fixture_transfer_one(fixture, post), TRANSFER_STATUS(exists));
    post.amount = 250;
    assert_int_equal(fixture_transfer_one(fixture, post), TRANSFER_STATUS(exists));
    /* A post of 0 releases everything and posts nothing. */
    assert_int_equal(
        fixture_transfer_one(fixture, transfer_make(84, 5, 6, 40, KHORGOS_TRANSFER_PENDING)),
        TRANSFER_STATUS(created));
    assert_int_equal(fixture_transfer_one(
                         fixture, resolve_make(85, 84, 0, KHORGOS_TRANSFER_POST_PENDING_TRANSFER)),
                     TRANSFER_STATUS(created));
    assert_balances(fixture, 5, 0, 250, 0, 0);
}

static void test_void_releases_the_whole(void **state) {
    struct fixture *fixture = *state;
    assert_int_equal(
        fixture_transfer_one(fixture, transfer_make(86, 1, 2, 70, KHORGOS_TRANSFER_PENDING)),
        TRANSFER_STATUS(created));
    struct khorgos_transfer partial =
        resolve_make(87, 86, 69, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER);
    assert_int_equal(fixture_transfer_one(fixture, partial),
                     TRANSFER_STATUS(pending_transfer_has_different_amount));
    struct khorgos_transfer exact =
        resolve_make(87, 86, 70, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER);
    assert_int_equal(fixture_transfer_one(fixture, exact), TRANSFER_STATUS(created));
    assert_balances(fixture, 1, 0, 0, 0, 0);
    assert_balances(fixture, 2, 0, 0, 0, 0);
    assert_int_equal(fixture_transfer_state(fixture, 86), LEDGER_TRANSFER_VOIDED);
    assert_true(fixture_transfer(fixture, 87)->amount == 70);
    /* Resubmitted with amount 0 (the whole): exists. */
    exact.amount = 0;
    assert_int_equal(fixture_transfer_one(fixture, exact), TRANSFER_STATUS(exists));
    /* A second void or a post of a voided transfer. */
    assert_int_equal(fixture_transfer_one(
                         fixture, resolve_make(88, 86, 0, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)),
                     TRANSFER_STATUS(pending_transfer_already_voided));
    assert_int_equal(fixture_transfer_one(
                         fixture, resolve_make(89, 86, 1, KHORGOS_TRANSFER_POST_PENDING_TRANSFER)),
                     TRANSFER_STATUS(pending_transfer_already_voided));
}

/* (B) The statuses of a post or void, each step clearing the winning fault. */
static void test_post_void_statuses_in_order(void **state) {
    struct fixture *fixture = *state;
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(90, 1, 2, 5, 0)),
                     TRANSFER_STATUS(created));
    assert_int_equal(
        fixture_transfer_one(fixture, transfer_make(91, 1, 2, 100, KHORGOS_TRANSFER_PENDING)),
        TRANSFER_STATUS(created));
    struct khorgos_transfer transfer = resolve_make(
        0, 0, 200, KHORGOS_TRANSFER_POST_PENDING_TRANSFER | KHORGOS_TRANSFER_VOID_PENDING_TRANSFER);
    transfer.timeout = 5;
    transfer.debit_account_id = 2;
    transfer.credit_account_id = 1;
    transfer.ledger = 156;
    transfer.code = 99;
    const u32 expected[] = {
        TRANSFER_STATUS(flags_are_mutually_exclusive),
        TRANSFER_STATUS(flags_are_mutually_exclusive),
        TRANSFER_STATUS(pending_id_must_not_be_zero),
        TRANSFER_STATUS(pending_id_must_not_be_int_max),
        TRANSFER_STATUS(pending_id_must_be_different),
        TRANSFER_STATUS(timeout_reserved_for_pending_transfer),
        TRANSFER_STATUS(pending_transfer_not_found),
        TRANSFER_STATUS(pending_transfer_not_pending),
        TRANSFER_STATUS(pending_transfer_has_different_debit_account_id),
        TRANSFER_STATUS(pending_transfer_has_different_credit_account_id),
        TRANSFER_STATUS(pending_transfer_has_different_ledger),
        TRANSFER_STATUS(pending_transfer_has_different_code),
        TRANSFER_STATUS(exceeds_pending_transfer_amount),
        TRANSFER_STATUS(pending_transfer_has_different_amount),
        TRANSFER_STATUS(created),
    };
    for (u32 step = 0; step < ARRAY_COUNT(expected); step++) {
        transfer.id = 100 + step;
        assert_int_equal(fixture_transfer_one(fixture, transfer), expected[step]);
        switch (step) {
        case 0:
            transfer.flags =
                KHORGOS_TRANSFER_POST_PENDING_TRANSFER | KHORGOS_TRANSFER_BALANCING_DEBIT;
            break;
        case 1: transfer.flags = KHORGOS_TRANSFER_POST_PENDING_TRANSFER; break;
        case 2: transfer.pending_id = U128_MAX; break;
        case 3: transfer.pending_id = 100 + 4; break; /* the next step's own id */
        case 4: transfer.pending_id = 999; break;
        case 5: transfer.timeout = 0; break;
        case 6: transfer.pending_id = 90; break;
        case 7: transfer.pending_id = 91; break;
        case 8: transfer.debit_account_id = 1; break;
        case 9: transfer.credit_account_id = 0; break;
        case 10: transfer.ledger = 0; break;
        case 11: transfer.code = FIXTURE_CODE; break;
        case 12:
            transfer.flags = KHORGOS_TRANSFER_VOID_PENDING_TRANSFER;
            transfer.amount = 50;
            break;
        case 13: transfer.amount = 100; break;
        case 14: break;
        default: fail();
        }
    }
    assert_int_equal(fixture_transfer_state(fixture, 91), LEDGER_TRANSFER_VOIDED);
    assert_int_equal(fixture->ledger.failed_transfer_count, 1); /* pending_transfer_not_found */
}

static void test_already_posted_and_its_precedence(void **state) {
    struct fixture *fixture = *state;
    assert_int_equal(
        fixture_transfer_one(fixture, transfer_make(110, 1, 2, 100, KHORGOS_TRANSFER_PENDING)),
        TRANSFER_STATUS(created));
    assert_int_equal(
        fixture_transfer_one(fixture, resolve_make(111, 110, KHORGOS_AMOUNT_MAX,
                                                   KHORGOS_TRANSFER_POST_PENDING_TRANSFER)),
        TRANSFER_STATUS(created));
    assert_int_equal(
        fixture_transfer_one(fixture,
                             resolve_make(112, 110, 0, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)),
        TRANSFER_STATUS(pending_transfer_already_posted));
    /* exceeds_pending_transfer_amount is checked before the pending transfer's state. */
    assert_int_equal(
        fixture_transfer_one(fixture,
                             resolve_make(113, 110, 101, KHORGOS_TRANSFER_POST_PENDING_TRANSFER)),
        TRANSFER_STATUS(exceeds_pending_transfer_amount));
    assert_balances(fixture, 1, 0, 100, 0, 0);
}

static void test_balancing_clamps(void **state) {
    struct fixture *fixture = *state;
    /* 3 (debits <= credits) holds 100 of credits. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(120, 1, 3, 100, 0)),
                     TRANSFER_STATUS(created));
    struct khorgos_transfer sweep =
        transfer_make(121, 3, 2, 1000, KHORGOS_TRANSFER_BALANCING_DEBIT);
    struct khorgos_create_result *results = fixture_transfers(fixture, &sweep, 1);
    assert_int_equal(results[0].status, TRANSFER_STATUS(created));
    assert_true(fixture_transfer(fixture, 121)->amount == 100);
    assert_balances(fixture, 3, 0, 100, 0, 100);
    /* Resubmitted: any amount at or above what moved is the same transfer. */
    assert_int_equal(fixture_transfer_one(fixture, sweep), TRANSFER_STATUS(exists));
    sweep.amount = 100;
    assert_int_equal(fixture_transfer_one(fixture, sweep), TRANSFER_STATUS(exists));
    sweep.amount = 99;
    assert_int_equal(fixture_transfer_one(fixture, sweep),
                     TRANSFER_STATUS(exists_with_different_amount));
    /* Nothing left: it moves 0 and succeeds. */
    struct khorgos_transfer empty = transfer_make(122, 3, 2, 5, KHORGOS_TRANSFER_BALANCING_DEBIT);
    assert_int_equal(fixture_transfer_one(fixture, empty), TRANSFER_STATUS(created));
    assert_true(fixture_transfer(fixture, 122)->amount == 0);
    /* balancing_credit on 4 (credits <= debits), clamped to its debits; pending counts. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(123, 4, 1, 50, 0)),
                     TRANSFER_STATUS(created));
    assert_int_equal(
        fixture_transfer_one(fixture, transfer_make(124, 2, 4, 20, KHORGOS_TRANSFER_PENDING)),
        TRANSFER_STATUS(created));
    struct khorgos_transfer fill = transfer_make(125, 1, 4, 80, KHORGOS_TRANSFER_BALANCING_CREDIT);
    assert_int_equal(fixture_transfer_one(fixture, fill), TRANSFER_STATUS(created));
    assert_true(fixture_transfer(fixture, 125)->amount == 30);
    assert_balances(fixture, 4, 0, 50, 20, 30);
    /* Both flags: the smaller room wins; a plain account clamps too (the flag is not needed). */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(126, 7, 7, 0, 0)),
                     TRANSFER_STATUS(accounts_must_be_different));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(127, 2, 1, 500, 0)),
                     TRANSFER_STATUS(created)); /* 1: credits_posted 500 (+50 from 4) */
    struct khorgos_transfer both = transfer_make(
        128, 1, 5, 1000, KHORGOS_TRANSFER_BALANCING_DEBIT | KHORGOS_TRANSFER_BALANCING_CREDIT);
    assert_int_equal(fixture_transfer_one(fixture, both), TRANSFER_STATUS(created));
    assert_true(fixture_transfer(fixture, 128)->amount == 0); /* 5 has no debits */
    both.id = 129;
    both.flags = KHORGOS_TRANSFER_BALANCING_DEBIT | KHORGOS_TRANSFER_PENDING;
    assert_int_equal(fixture_transfer_one(fixture, both), TRANSFER_STATUS(created));
    /* 1 had credits 550 and debits 130: the sweep reserved exactly the 420 between them. */
    assert_true(fixture_transfer(fixture, 129)->amount == 420);
    const struct khorgos_account *one = fixture_account(fixture, 1);
    assert_true(one->debits_pending + one->debits_posted == one->credits_posted);
}

static void test_closing_and_reopening(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_transfer close = transfer_make(130, 1, 2, 0, KHORGOS_TRANSFER_CLOSING_DEBIT);
    assert_int_equal(fixture_transfer_one(fixture, close),
                     TRANSFER_STATUS(closing_transfer_must_be_pending));
    close.flags |= KHORGOS_TRANSFER_PENDING;
    assert_int_equal(fixture_transfer_one(fixture, close), TRANSFER_STATUS(created));
    assert_true(fixture_account(fixture, 1)->flags & KHORGOS_ACCOUNT_CLOSED);
    assert_false(fixture_account(fixture, 2)->flags & KHORGOS_ACCOUNT_CLOSED);
    /* Closed on either side refuses; debit first. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(131, 1, 2, 1, 0)),
                     TRANSFER_STATUS(debit_account_already_closed));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(132, 2, 1, 1, 0)),
                     TRANSFER_STATUS(credit_account_already_closed));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(133, 1, 2, U128_MAX, 0)),
                     TRANSFER_STATUS(debit_account_already_closed));
    /* Posting the closing transfer is refused: the account it closed is closed. */
    assert_int_equal(
        fixture_transfer_one(fixture,
                             resolve_make(134, 130, 0, KHORGOS_TRANSFER_POST_PENDING_TRANSFER)),
        TRANSFER_STATUS(debit_account_already_closed));
    /* Voiding reopens. */
    assert_int_equal(
        fixture_transfer_one(fixture,
                             resolve_make(135, 130, 0, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)),
        TRANSFER_STATUS(created));
    assert_false(fixture_account(fixture, 1)->flags & KHORGOS_ACCOUNT_CLOSED);
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(136, 1, 2, 1, 0)),
                     TRANSFER_STATUS(created));
    assert_int_equal(fixture->ledger.failed_transfer_count, 4);
}

static void test_closed_account_allows_voiding_other_pending(void **state) {
    struct fixture *fixture = *state;
    assert_int_equal(
        fixture_transfer_one(fixture, transfer_make(140, 1, 2, 10, KHORGOS_TRANSFER_PENDING)),
        TRANSFER_STATUS(created));
    struct khorgos_transfer close =
        transfer_make(141, 1, 2, 0,
                      KHORGOS_TRANSFER_PENDING | KHORGOS_TRANSFER_CLOSING_DEBIT |
                          KHORGOS_TRANSFER_CLOSING_CREDIT);
    assert_int_equal(fixture_transfer_one(fixture, close), TRANSFER_STATUS(created));
    assert_true(fixture_account(fixture, 2)->flags & KHORGOS_ACCOUNT_CLOSED);
    assert_int_equal(
        fixture_transfer_one(fixture,
                             resolve_make(142, 140, 10, KHORGOS_TRANSFER_POST_PENDING_TRANSFER)),
        TRANSFER_STATUS(debit_account_already_closed));
    assert_int_equal(
        fixture_transfer_one(fixture,
                             resolve_make(143, 140, 0, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)),
        TRANSFER_STATUS(created));
    assert_balances(fixture, 1, 0, 0, 0, 0);
    /* Both stay closed until the closing transfer is voided. */
    assert_true(fixture_account(fixture, 1)->flags & KHORGOS_ACCOUNT_CLOSED);
    assert_int_equal(
        fixture_transfer_one(fixture,
                             resolve_make(144, 141, 0, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)),
        TRANSFER_STATUS(created));
    assert_int_equal(fixture_account(fixture, 1)->flags, 0);
    assert_int_equal(fixture_account(fixture, 2)->flags, 0);
}

static void test_history_entries(void **state) {
    struct fixture *fixture = *state;
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(150, 1, 2, 5, 0)),
                     TRANSFER_STATUS(created));
    assert_int_equal(fixture->ledger.balance_count, 0); /* neither account has history */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(151, 5, 1, 9, 0)),
                     TRANSFER_STATUS(created));
    assert_int_equal(fixture->ledger.balance_count, 1);
    struct khorgos_transfer pending = transfer_make(152, 6, 5, 4, KHORGOS_TRANSFER_PENDING);
    u64 timestamp = fixture_next(fixture, 1);
    assert_int_equal(fixture_transfer_one(fixture, pending), TRANSFER_STATUS(created));
    assert_int_equal(fixture->ledger.balance_count, 3);
    const struct ledger_balance_entry *debit = &fixture->ledger.balances[1];
    const struct ledger_balance_entry *credit = &fixture->ledger.balances[2];
    u32 index = 0;
    assert_true(ledger_account_index(&fixture->ledger, 6, &index));
    assert_int_equal(debit->account_index, index); /* the debit account's entry first */
    assert_true(debit->balance.debits_pending == 4 && debit->balance.timestamp == timestamp);
    assert_true(credit->balance.debits_posted == 9 && credit->balance.credits_pending == 4);
    assert_true(ledger_transfer_index(&fixture->ledger, 152, &index));
    assert_int_equal(credit->transfer_index, index);
    /* A failed transfer appends nothing; a void appends the balances after it. */
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(153, 6, 5, 1, 0x400)),
                     TRANSFER_STATUS(reserved_flag));
    assert_int_equal(fixture->ledger.balance_count, 3);
    assert_int_equal(
        fixture_transfer_one(fixture,
                             resolve_make(154, 152, 0, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)),
        TRANSFER_STATUS(created));
    assert_int_equal(fixture->ledger.balance_count, 5);
    assert_true(fixture->ledger.balances[4].balance.credits_pending == 0);
    assert_true(fixture->ledger.balances[4].balance.debits_posted == 9);
}

static void test_imported_transfers(void **state) {
    struct fixture *fixture = *state;
    u64 older = fixture_account(fixture, 3)->timestamp; /* 3 is older than 4 */
    u64 newer = fixture_account(fixture, 4)->timestamp;
    assert_true(older + 1 < newer);
    struct khorgos_transfer transfer = transfer_make(160, 4, 3, 0, KHORGOS_TRANSFER_IMPORTED);
    transfer.timestamp = older; /* an account's instant */
    assert_int_equal(fixture_transfer_one(fixture, transfer),
                     TRANSFER_STATUS(imported_event_timestamp_must_not_regress));
    transfer.timestamp = newer - 1;
    assert_int_equal(fixture_transfer_one(fixture, transfer),
                     TRANSFER_STATUS(imported_event_timestamp_must_postdate_debit_account));
    transfer.debit_account_id = 3;
    transfer.credit_account_id = 4;
    assert_int_equal(fixture_transfer_one(fixture, transfer),
                     TRANSFER_STATUS(imported_event_timestamp_must_postdate_credit_account));
    transfer.timestamp = fixture_account(fixture, 7)->timestamp + 10;
    transfer.flags |= KHORGOS_TRANSFER_PENDING;
    transfer.timeout = 5;
    assert_int_equal(fixture_transfer_one(fixture, transfer),
                     TRANSFER_STATUS(imported_event_timeout_must_be_zero));
    transfer.timeout = 0;
    struct khorgos_create_result *results = fixture_transfers(fixture, &transfer, 1);
    assert_int_equal(results[0].status, TRANSFER_STATUS(created));
    assert_true(results[0].timestamp == transfer.timestamp);
    assert_true(fixture_transfer(fixture, 160)->timestamp == transfer.timestamp);
    /* The next import must come after it; exists still answers for the same event. */
    struct khorgos_transfer next = transfer;
    next.id = 161;
    assert_int_equal(fixture_transfer_one(fixture, next),
                     TRANSFER_STATUS(imported_event_timestamp_must_not_regress));
    results = fixture_transfers(fixture, &transfer, 1);
    assert_int_equal(results[0].status, TRANSFER_STATUS(exists));
    assert_true(results[0].timestamp == transfer.timestamp);
    /* An imported void of the imported pending transfer. */
    struct khorgos_transfer void_ = resolve_make(
        162, 160, 0, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER | KHORGOS_TRANSFER_IMPORTED);
    void_.timestamp = transfer.timestamp;
    assert_int_equal(fixture_transfer_one(fixture, void_),
                     TRANSFER_STATUS(imported_event_timestamp_must_not_regress));
    void_.timestamp = transfer.timestamp + 1;
    assert_int_equal(fixture_transfer_one(fixture, void_), TRANSFER_STATUS(created));
    /* Mixed batches: the first event decides. */
    struct khorgos_transfer mixed[2] = {transfer_make(163, 1, 2, 1, 0), next};
    mixed[1].timestamp = fixture->now - 1;
    results = fixture_transfers(fixture, mixed, 2);
    assert_int_equal(results[0].status, TRANSFER_STATUS(created));
    assert_int_equal(results[1].status, TRANSFER_STATUS(imported_event_not_expected));
    mixed[0].id = 164;
    mixed[0].timestamp = 3; /* timestamp_must_be_zero */
    assert_int_equal(fixture_transfer_one(fixture, mixed[0]),
                     TRANSFER_STATUS(timestamp_must_be_zero));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_phase_moves_posted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exists_family_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_flag_and_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_transfer_statuses_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transient_failures_burn_the_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflows_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_then_partial_post, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_amount_max_posts_the_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_void_releases_the_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_void_statuses_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_already_posted_and_its_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_balancing_clamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closing_and_reopening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_account_allows_voiding_other_pending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_history_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imported_transfers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
