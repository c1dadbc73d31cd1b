/* test_ledger_chains.c: linked chains of transfers apply all or nothing: a failed chain
 * restores balances, flags, arrays, id maps, pending states and history exactly, burns the id
 * of a transient failure that broke it, and leaves the events outside it alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger_fixture.h"

#define TRANSFER_STATUS(name) KHORGOS_CREATE_TRANSFER_##name
#define LINKED KHORGOS_TRANSFER_LINKED
#define PENDING KHORGOS_TRANSFER_PENDING

/* Accounts: 1, 2 plain; 3 debits_must_not_exceed_credits; 5, 6 history. A pending transfer
 * 10 (1 -> 2, 40, timeout 60 s) and a single-phase 11 (2 -> 5, 7) exist. */
static void fixture_prepare(struct fixture *fixture) {
    fixture_open(fixture);
    fixture_open_accounts(fixture, 1, 2, 0);
    fixture_open_accounts(fixture, 3, 1, KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS);
    fixture_open_accounts(fixture, 5, 2, KHORGOS_ACCOUNT_HISTORY);
    struct khorgos_transfer pending = transfer_make(10, 1, 2, 40, PENDING);
    pending.timeout = 60;
    assert_int_equal(fixture_transfer_one(fixture, pending), TRANSFER_STATUS(created));
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(11, 2, 5, 7, 0)),
                     TRANSFER_STATUS(created));
}

static int setup(void **state) {
    static struct fixture fixture;
    fixture_prepare(&fixture);
    *state = &fixture;
    return 0;
}

static int teardown(void **state) {
    fixture_close(*state);
    return 0;
}

/* What a rolled-back chain must leave exactly as it was. */
struct snapshot {
    struct khorgos_account accounts[FIXTURE_ACCOUNT_COUNT_MAX];
    u32 account_count;
    u32 transfer_count;
    u32 balance_count;
    u32 balance_reserved_count;
    u32 expiry_count;
    u8 states[FIXTURE_TRANSFER_COUNT_MAX];
};

static void snapshot_take(const struct fixture *fixture, struct snapshot *snapshot) {
    const struct ledger *ledger = &fixture->ledger;
    memcpy(snapshot->accounts, ledger->accounts, sizeof(snapshot->accounts));
    memcpy(snapshot->states, ledger->transfer_states, sizeof(snapshot->states));
    snapshot->account_count = ledger->account_count;
    snapshot->transfer_count = ledger->transfer_count;
    snapshot->balance_count = ledger->balance_count;
    snapshot->balance_reserved_count = ledger->balance_reserved_count;
    snapshot->expiry_count = ledger->expiry_count;
}

static void snapshot_assert_equal(const struct fixture *fixture, const struct snapshot *before) {
    struct snapshot after;
    snapshot_take(fixture, &after);
    assert_memory_equal(before->accounts, after.accounts, sizeof(after.accounts));
    assert_memory_equal(before->states, after.states, sizeof(after.states));
    assert_int_equal(before->account_count, after.account_count);
    assert_int_equal(before->transfer_count, after.transfer_count);
    assert_int_equal(before->balance_count, after.balance_count);
    assert_int_equal(before->balance_reserved_count, after.balance_reserved_count);
    assert_int_equal(before->expiry_count, after.expiry_count);
}

static void test_failed_chain_restores_everything(void **state) {
    struct fixture *fixture = *state;
    struct snapshot before;
    snapshot_take(fixture, &before);
    struct khorgos_transfer chain[6] = {
        transfer_make(20, 1, 2, 100, LINKED),
        transfer_make(21, 6, 5, 30, LINKED | PENDING | KHORGOS_TRANSFER_CLOSING_CREDIT),
        resolve_make(22, 10, 15, LINKED | KHORGOS_TRANSFER_POST_PENDING_TRANSFER),
        transfer_make(23, 2, 6, 1, LINKED | KHORGOS_TRANSFER_BALANCING_DEBIT),
        transfer_make(24, 3, 1, 1, 0), /* exceeds_credits: breaks the chain */
        transfer_make(25, 1, 2, 3, 0), /* outside the chain */
    };
    chain[1].timeout = 30;
    u64 timestamp = fixture_next(fixture, 6);
    struct khorgos_create_result *results = fixture_transfers(fixture, chain, 6);
    for (u32 index = 0; index < 4; index++) {
        assert_int_equal(results[index].status, TRANSFER_STATUS(linked_event_failed));
        assert_true(results[index].timestamp == timestamp - 6 + index + 1);
    }
    assert_int_equal(results[4].status, TRANSFER_STATUS(exceeds_credits));
    assert_int_equal(results[5].status, TRANSFER_STATUS(created));
    /* Everything but event 5 is undone; undo 5 by hand to compare with the snapshot. */
    assert_balances(fixture, 1, 40, 3, 0, 0);
    struct khorgos_account *one = &fixture->ledger.accounts[0];
    struct khorgos_account *two = &fixture->ledger.accounts[1];
    one->debits_posted -= 3;
    two->credits_posted -= 3;
    u32 index_25 = 0;
    assert_true(ledger_transfer_index(&fixture->ledger, 25, &index_25));
    assert_int_equal(index_25, before.transfer_count);
    before.transfer_count++;
    before.states[index_25] = LEDGER_TRANSFER_SINGLE_PHASE;
    snapshot_assert_equal(fixture, &before);
    one->debits_posted += 3;
    two->credits_posted += 3;
    assert_int_equal(fixture_transfer_state(fixture, 10), LEDGER_TRANSFER_PENDING);
    for (u128 id = 20; id <= 23; id++)
        assert_null(fixture_transfer(fixture, id));
    /* The breaking event burnt its id; the rolled-back ones are free again. */
    assert_int_equal(fixture->ledger.failed_transfer_count, 1);
    assert_true(fixture->ledger.failed_transfer_ids[0] == 24);
    chain[4] = transfer_make(26, 1, 3, 1, 0);
    results = fixture_transfers(fixture, chain, 5);
    for (u32 index = 0; index < 5; index++) {
        assert_int_equal(results[index].status, TRANSFER_STATUS(created));
    }
    assert_int_equal(fixture_transfer_state(fixture, 10), LEDGER_TRANSFER_POSTED);
    assert_true(fixture_account(fixture, 5)->flags & KHORGOS_ACCOUNT_CLOSED);
    assert_true(ledger_expiry_next(&fixture->ledger) ==
                fixture_transfer(fixture, 21)->timestamp + 30 * NS_PER_SECOND);
}

static void test_events_after_the_break_fail_until_the_chain_ends(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_transfer chain[5] = {
        transfer_make(30, 1, 2, 1, LINKED),
        transfer_make(31, 1, 1, 1, LINKED),  /* accounts_must_be_different */
        transfer_make(32, 99, 2, 1, LINKED), /* would be not_found: never looked at */
        transfer_make(33, 1, 2, 1, 0),       /* ends the chain */
        transfer_make(34, 1, 2, 1, LINKED),  /* last event, linked: chain open */
    };
    struct khorgos_create_result *results = fixture_transfers(fixture, chain, 5);
    assert_int_equal(results[0].status, TRANSFER_STATUS(linked_event_failed));
    assert_int_equal(results[1].status, TRANSFER_STATUS(accounts_must_be_different));
    assert_int_equal(results[2].status, TRANSFER_STATUS(linked_event_failed));
    assert_int_equal(results[3].status, TRANSFER_STATUS(linked_event_failed));
    assert_int_equal(results[4].status, TRANSFER_STATUS(linked_event_chain_open));
    assert_int_equal(fixture->ledger.failed_transfer_count, 0); /* 32 was never tried */
    assert_balances(fixture, 1, 40, 0, 0, 0);
}

static void test_two_chains_in_one_batch(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_transfer batch[6] = {
        transfer_make(40, 1, 2, 5, LINKED), transfer_make(41, 2, 1, 6, 0),
        transfer_make(42, 1, 2, 7, LINKED), transfer_make(11, 2, 5, 7, 0), /* exists */
        transfer_make(43, 5, 6, 8, LINKED), transfer_make(44, 6, 5, 9, 0),
    };
    struct khorgos_create_result *results = fixture_transfers(fixture, batch, 6);
    assert_int_equal(results[0].status, TRANSFER_STATUS(created));
    assert_int_equal(results[1].status, TRANSFER_STATUS(created));
    assert_int_equal(results[2].status, TRANSFER_STATUS(linked_event_failed));
    assert_int_equal(results[3].status, TRANSFER_STATUS(exists));
    assert_true(results[3].timestamp == fixture_transfer(fixture, 11)->timestamp);
    assert_int_equal(results[4].status, TRANSFER_STATUS(created));
    assert_int_equal(results[5].status, TRANSFER_STATUS(created));
    assert_null(fixture_transfer(fixture, 42));
    assert_balances(fixture, 1, 40, 5, 0, 6);
    /* History: 43 and 44 each touch 5 and 6. */
    assert_int_equal(fixture->ledger.balance_count, 1 + 4);
}

static void test_chain_that_voids_and_reuses_in_one_request(void **state) {
    struct fixture *fixture = *state;
    /* A chain may create a pending transfer and post it; if it fails later, both go. */
    struct khorgos_transfer chain[3] = {
        transfer_make(50, 5, 6, 20, LINKED | PENDING),
        resolve_make(51, 50, KHORGOS_AMOUNT_MAX, LINKED | KHORGOS_TRANSFER_POST_PENDING_TRANSFER),
        transfer_make(52, 3, 5, 1, 0), /* exceeds_credits */
    };
    u32 balances_before = fixture->ledger.balance_count;
    struct khorgos_create_result *results = fixture_transfers(fixture, chain, 3);
    assert_int_equal(results[0].status, TRANSFER_STATUS(linked_event_failed));
    assert_int_equal(results[1].status, TRANSFER_STATUS(linked_event_failed));
    assert_int_equal(results[2].status, TRANSFER_STATUS(exceeds_credits));
    assert_int_equal(fixture->ledger.balance_count, balances_before);
    assert_balances(fixture, 5, 0, 0, 0, 7);
    /* Without the failing event (the post now ends the chain) it applies, post included. */
    chain[1].flags &= (u16)~LINKED;
    results = fixture_transfers(fixture, chain, 2);
    assert_int_equal(results[0].status, TRANSFER_STATUS(created));
    assert_int_equal(results[1].status, TRANSFER_STATUS(created));
    assert_balances(fixture, 5, 0, 20, 0, 7);
    assert_int_equal(fixture->ledger.balance_count, balances_before + 4);
}

static void test_transient_failure_inside_a_chain_is_still_burnt(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_transfer chain[2] = {transfer_make(60, 1, 2, 1, LINKED),
                                        transfer_make(61, 1, 77, 1, 0)};
    struct khorgos_create_result *results = fixture_transfers(fixture, chain, 2);
    assert_int_equal(results[0].status, TRANSFER_STATUS(linked_event_failed));
    assert_int_equal(results[1].status, TRANSFER_STATUS(credit_account_not_found));
    fixture_open_accounts(fixture, 77, 1, 0);
    results = fixture_transfers(fixture, chain, 2);
    assert_int_equal(results[0].status, TRANSFER_STATUS(linked_event_failed));
    assert_int_equal(results[1].status, TRANSFER_STATUS(id_already_failed));
    chain[1].id = 62;
    results = fixture_transfers(fixture, chain, 2);
    assert_int_equal(results[0].status, TRANSFER_STATUS(created));
    assert_int_equal(results[1].status, TRANSFER_STATUS(created));
}

/* A create call that leaves a continued chain open: ledger_check only runs between requests. */
static struct khorgos_create_result *continued_part(struct fixture *fixture,
                                                    const struct khorgos_transfer *events,
                                                    u32 count) {
    u64 timestamp = fixture_next(fixture, count);
    ledger_create_transfers(&fixture->ledger, timestamp, events, count, fixture->results);
    fixture->now = timestamp;
    assert_true(fixture->ledger.chain_open);
    return fixture->results;
}

/* A continued chain (ledger_chain_continue, the engine's own long chains) spans create calls:
 * the last event of an earlier call stays linked without answering linked_event_chain_open,
 * accounts touched in several calls are logged once, and a failure in a later call rolls back
 * the earlier calls' transfers and balances too. */
static void test_continued_chain_spans_calls_and_rolls_back_whole(void **state) {
    struct fixture *fixture = *state;
    struct snapshot before;
    snapshot_take(fixture, &before);
    u32 undo_max = fixture->ledger.undo_count_max;
    ledger_chain_continue(&fixture->ledger);
    struct khorgos_transfer first[2] = {transfer_make(30, 1, 2, 5, LINKED),
                                        transfer_make(31, 2, 1, 2, LINKED)};
    struct khorgos_create_result *results = continued_part(fixture, first, 2);
    assert_int_equal(results[0].status, TRANSFER_STATUS(created));
    assert_int_equal(results[1].status, TRANSFER_STATUS(created));
    assert_true(fixture->ledger.chain_open && fixture->ledger.chain_continued);
    assert_int_equal(fixture->ledger.undo_count, 2); /* accounts 1 and 2, once each */
    struct khorgos_transfer second[2] = {transfer_make(32, 1, 2, 1, LINKED),
                                         transfer_make(33, 3, 1, 1, 0)}; /* exceeds_credits */
    results = fixture_transfers(fixture, second, 2);
    assert_int_equal(results[0].status, TRANSFER_STATUS(linked_event_failed));
    assert_int_equal(results[1].status, TRANSFER_STATUS(exceeds_credits));
    assert_false(fixture->ledger.chain_open || fixture->ledger.chain_continued);
    for (u128 id = 30; id <= 32; id++) assert_null(fixture_transfer(fixture, id));
    snapshot_assert_equal(fixture, &before);
    /* The same chain without the failure commits in two calls, linked end to end. */
    ledger_chain_continue(&fixture->ledger);
    results = continued_part(fixture, first, 2);
    second[1] = transfer_make(34, 2, 1, 1, 0); /* 33 was burnt by its transient failure */
    results = fixture_transfers(fixture, second, 2);
    for (u32 index = 0; index < 2; index++) {
        assert_int_equal(results[index].status, TRANSFER_STATUS(created));
    }
    assert_false(fixture->ledger.chain_open || fixture->ledger.chain_continued);
    assert_true(fixture_transfer(fixture, 31)->flags & LINKED);
    assert_balances(fixture, 1, 40, 5 + 1, 0, 2 + 1);
    assert_int_equal(fixture->ledger.undo_count_max, undo_max);
}

static void test_digest_of_a_rolled_back_chain(void **state) {
    struct fixture *fixture = *state;
    /* A chain that posts, closes and history-writes, then fails, leaves the same state as a
     * request that failed without touching anything. */
    struct khorgos_transfer chain[3] = {
        transfer_make(70, 6, 5, 1, LINKED | PENDING | KHORGOS_TRANSFER_CLOSING_DEBIT),
        resolve_make(71, 10, 1, LINKED | KHORGOS_TRANSFER_POST_PENDING_TRANSFER),
        transfer_make(72, 1, 1, 1, 0)};
    struct khorgos_create_result *results = fixture_transfers(fixture, chain, 3);
    assert_int_equal(results[2].status, TRANSFER_STATUS(accounts_must_be_different));
    struct fixture *other = test_malloc(sizeof(*other));
    fixture_prepare(other);
    assert_true(ledger_digest(&other->ledger) != ledger_digest(&fixture->ledger));
    struct khorgos_transfer plain[3] = {chain[2], chain[2], chain[2]};
    results = fixture_transfers(other, plain, 3);
    assert_int_equal(results[0].status, TRANSFER_STATUS(accounts_must_be_different));
    assert_true(other->now == fixture->now);
    assert_true(ledger_digest(&other->ledger) == ledger_digest(&fixture->ledger));
    fixture_close(other);
    test_free(other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failed_chain_restores_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_after_the_break_fail_until_the_chain_ends,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_chains_in_one_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_that_voids_and_reuses_in_one_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transient_failure_inside_a_chain_is_still_burnt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_digest_of_a_rolled_back_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_continued_chain_spans_calls_and_rolls_back_whole,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
