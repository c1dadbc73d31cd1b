/* test_ledger_expiry.c: pending timeouts: expiry order (expires_at, then creation), pulses and
 * the room they need (a timestamp per expiry), pending_transfer_expired before and after a
 * pulse, reopening closed accounts, no history for expiries, and capacity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger_fixture.h"

#define TRANSFER_STATUS(name) KHORGOS_CREATE_TRANSFER_##name
#define PENDING KHORGOS_TRANSFER_PENDING
#define POST KHORGOS_TRANSFER_POST_PENDING_TRANSFER
#define VOID KHORGOS_TRANSFER_VOID_PENDING_TRANSFER

/* Accounts: 1, 2 plain; 5, 6 history. */
static int setup(void **state) {
    static struct fixture fixture;
    fixture_open(&fixture);
    fixture_open_accounts(&fixture, 1, 2, 0);
    fixture_open_accounts(&fixture, 5, 2, KHORGOS_ACCOUNT_HISTORY);
    *state = &fixture;
    return 0;
}

static int teardown(void **state) {
    fixture_close(*state);
    return 0;
}

/* Creates a pending transfer whose request gets exactly `timestamp`. */
static void pending_at(struct fixture *fixture, u128 id, u128 debit, u128 credit, u128 amount,
                       u32 timeout, u16 flags, u64 timestamp) {
    assert_true(timestamp > fixture->now + FIXTURE_GAP_NS);
    fixture->now = timestamp - FIXTURE_GAP_NS - 1;
    struct khorgos_transfer transfer = transfer_make(id, debit, credit, amount, PENDING | flags);
    transfer.timeout = timeout;
    struct khorgos_create_result *results = fixture_transfers(fixture, &transfer, 1);
    assert_int_equal(results[0].status, TRANSFER_STATUS(created));
    assert_true(results[0].timestamp == timestamp);
}

/* Submits one event whose request gets exactly `timestamp`. */
static u32 transfer_at(struct fixture *fixture, struct khorgos_transfer transfer, u64 timestamp) {
    assert_true(timestamp > fixture->now + FIXTURE_GAP_NS);
    fixture->now = timestamp - FIXTURE_GAP_NS - 1;
    return fixture_transfer_one(fixture, transfer);
}

static void test_pending_expires_at_its_instant(void **state) {
    struct fixture *fixture = *state;
    u64 created = fixture->now + 10 * NS_PER_SECOND;
    pending_at(fixture, 10, 1, 2, 50, 2, 0, created);
    u64 expires_at = created + 2 * NS_PER_SECOND;
    assert_true(ledger_expiry_next(&fixture->ledger) == expires_at);
    assert_int_equal(ledger_expiry_due_count(&fixture->ledger, expires_at - 1), 0);
    assert_int_equal(ledger_expiry_due_count(&fixture->ledger, expires_at), 1);
    assert_int_equal(fixture_pulse(fixture, expires_at - 1), 0);
    assert_balances(fixture, 1, 50, 0, 0, 0);
    assert_int_equal(fixture_pulse(fixture, expires_at), 1);
    assert_balances(fixture, 1, 0, 0, 0, 0);
    assert_balances(fixture, 2, 0, 0, 0, 0);
    assert_int_equal(fixture_transfer_state(fixture, 10), LEDGER_TRANSFER_EXPIRED);
    assert_true(ledger_expiry_next(&fixture->ledger) == 0);
    assert_int_equal(fixture_transfer_one(fixture, resolve_make(11, 10, 1, POST)),
                     TRANSFER_STATUS(pending_transfer_expired));
    assert_int_equal(fixture_transfer_one(fixture, resolve_make(12, 10, 0, VOID)),
                     TRANSFER_STATUS(pending_transfer_expired));
    /* exceeds_pending_transfer_amount comes before the expiry. */
    assert_int_equal(fixture_transfer_one(fixture, resolve_make(13, 10, 51, POST)),
                     TRANSFER_STATUS(exceeds_pending_transfer_amount));
    assert_int_equal(fixture->ledger.failed_transfer_count, 0); /* expired is not transient */
}

static void test_expired_by_the_event_timestamp_before_a_pulse(void **state) {
    struct fixture *fixture = *state;
    u64 created = fixture->now + NS_PER_SECOND;
    pending_at(fixture, 20, 1, 2, 30, 1, 0, created);
    pending_at(fixture, 21, 1, 2, 40, 1, 0, created + 5000);
    u64 expires_at = created + NS_PER_SECOND;
    /* One nanosecond before the instant a post succeeds; at the instant it is refused. */
    assert_int_equal(
        transfer_at(fixture, resolve_make(22, 20, KHORGOS_AMOUNT_MAX, POST), expires_at - 1),
        TRANSFER_STATUS(created));
    assert_int_equal(
        transfer_at(fixture, resolve_make(23, 21, KHORGOS_AMOUNT_MAX, POST), expires_at + 5000),
        TRANSFER_STATUS(pending_transfer_expired));
    /* Not released until a pulse runs. */
    assert_int_equal(fixture_transfer_state(fixture, 21), LEDGER_TRANSFER_PENDING);
    assert_balances(fixture, 1, 40, 30, 0, 0);
    assert_int_equal(fixture_pulse(fixture, fixture->now + 1), 1);
    assert_balances(fixture, 1, 0, 30, 0, 0);
    assert_int_equal(fixture_transfer_state(fixture, 20), LEDGER_TRANSFER_POSTED);
    assert_int_equal(fixture_transfer_state(fixture, 21), LEDGER_TRANSFER_EXPIRED);
}

static void test_expiry_order(void **state) {
    struct fixture *fixture = *state;
    u64 base = fixture->now + NS_PER_SECOND;
    pending_at(fixture, 30, 5, 6, 1, 2, 0, base);                 /* expires base + 2 s */
    pending_at(fixture, 31, 6, 5, 2, 1, 0, base + 5000);          /* base + 1 s + 5000 */
    pending_at(fixture, 32, 5, 6, 3, 3, 0, base + 10000);         /* base + 3 s + 10000 */
    pending_at(fixture, 33, 6, 5, 4, 1, 0, base + NS_PER_SECOND); /* base + 2 s: ties 30 */
    u32 balance_count = fixture->ledger.balance_count;
    assert_int_equal(ledger_expiry_due_count(&fixture->ledger, base + 2 * NS_PER_SECOND), 3);
    /* A pulse at each instant: first 31 alone, then 30 and 33 together (the same instant);
     * one nanosecond earlier nothing is due. */
    const u128 order[3] = {31, 30, 33};
    const u64 instants[2] = {base + NS_PER_SECOND + 5000, base + 2 * NS_PER_SECOND};
    const u32 expired_now[2] = {1, 2};
    const u32 expired_total[2] = {1, 3};
    for (u32 step = 0; step < 2; step++) {
        assert_int_equal(fixture_pulse(fixture, instants[step] - 1), 0);
        assert_int_equal(ledger_expiry_due_count(&fixture->ledger, instants[step]),
                         expired_now[step]);
        assert_int_equal(fixture_pulse(fixture, instants[step]), expired_now[step]);
        for (u32 expired = 0; expired < 3; expired++) {
            assert_int_equal(fixture_transfer_state(fixture, order[expired]),
                             expired < expired_total[step] ? LEDGER_TRANSFER_EXPIRED
                                                           : LEDGER_TRANSFER_PENDING);
        }
    }
    assert_int_equal(fixture_transfer_state(fixture, 32), LEDGER_TRANSFER_PENDING);
    assert_balances(fixture, 5, 3, 0, 0, 0);
    assert_balances(fixture, 6, 0, 0, 3, 0);
    /* Expiries write no history (TigerBeetle's get_account_balances never returns them). */
    assert_int_equal(fixture->ledger.balance_count, balance_count);
    assert_true(ledger_expiry_next(&fixture->ledger) == base + 10000 + 3 * NS_PER_SECOND);
}

static void test_expiry_reopens_a_closed_account(void **state) {
    struct fixture *fixture = *state;
    u64 created = fixture->now + NS_PER_SECOND;
    pending_at(fixture, 40, 1, 2, 0, 1, KHORGOS_TRANSFER_CLOSING_CREDIT, created);
    assert_true(fixture_account(fixture, 2)->flags & KHORGOS_ACCOUNT_CLOSED);
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(41, 1, 2, 1, 0)),
                     TRANSFER_STATUS(credit_account_already_closed));
    assert_int_equal(fixture_pulse(fixture, created + NS_PER_SECOND), 1);
    assert_false(fixture_account(fixture, 2)->flags & KHORGOS_ACCOUNT_CLOSED);
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(42, 1, 2, 1, 0)),
                     TRANSFER_STATUS(created));
}

static void test_resolved_pending_leaves_the_heap(void **state) {
    struct fixture *fixture = *state;
    u64 created = fixture->now + NS_PER_SECOND;
    pending_at(fixture, 50, 5, 6, 10, 1, 0, created);
    pending_at(fixture, 51, 5, 6, 10, 5, 0, created + 1000000);
    assert_true(ledger_expiry_next(&fixture->ledger) == created + NS_PER_SECOND);
    assert_int_equal(fixture_transfer_one(fixture, resolve_make(52, 50, 0, VOID)),
                     TRANSFER_STATUS(created));
    assert_true(ledger_expiry_next(&fixture->ledger) == created + 1000000 + 5 * NS_PER_SECOND);
    assert_int_equal(ledger_expiry_due_count(&fixture->ledger, created + 2 * NS_PER_SECOND), 0);
    assert_int_equal(fixture_pulse(fixture, created + 2 * NS_PER_SECOND), 0);
    assert_int_equal(fixture_transfer_state(fixture, 50), LEDGER_TRANSFER_VOIDED);
    /* A pending transfer without a timeout never expires. */
    pending_at(fixture, 53, 1, 2, 10, 0, 0, fixture->now + NS_PER_SECOND);
    assert_int_equal(fixture_pulse(fixture, fixture->now + 1000 * NS_PER_SECOND), 1);
    assert_int_equal(fixture_transfer_state(fixture, 53), LEDGER_TRANSFER_PENDING);
    assert_true(ledger_expiry_next(&fixture->ledger) == 0);
}

static void test_pulse_expires_everything_due(void **state) {
    struct fixture *fixture = *state;
    u64 created = fixture->now + NS_PER_SECOND;
    pending_at(fixture, 60, 1, 2, 1, 1, 0, created);
    pending_at(fixture, 61, 1, 2, 2, 1, 0, created + 2000);
    pending_at(fixture, 62, 1, 2, 4, 1, 0, created + 4000);
    pending_at(fixture, 63, 1, 2, 8, 2, 0, created + 6000);
    /* A pulse takes one timestamp, right after a request, however many it expires. */
    fixture->now = created + 2 * NS_PER_SECOND;
    assert_int_equal(fixture_transfer_one(fixture, transfer_make(64, 1, 2, 0, 0)),
                     TRANSFER_STATUS(created));
    assert_int_equal(ledger_expiry_due_count(&fixture->ledger, fixture->now + 1), 3);
    assert_int_equal(fixture_pulse(fixture, fixture->now + 1), 3);
    assert_int_equal(fixture_transfer_state(fixture, 60), LEDGER_TRANSFER_EXPIRED);
    assert_int_equal(fixture_transfer_state(fixture, 61), LEDGER_TRANSFER_EXPIRED);
    assert_int_equal(fixture_transfer_state(fixture, 62), LEDGER_TRANSFER_EXPIRED);
    assert_int_equal(fixture_transfer_state(fixture, 63), LEDGER_TRANSFER_PENDING);
    assert_int_equal(ledger_expiry_due_count(&fixture->ledger, fixture->now + 1), 0);
    assert_balances(fixture, 1, 8, 0, 0, 0);
}

static void test_rolled_back_pending_never_expires(void **state) {
    struct fixture *fixture = *state;
    struct khorgos_transfer chain[2] = {
        transfer_make(70, 1, 2, 5, KHORGOS_TRANSFER_LINKED | PENDING),
        transfer_make(71, 1, 1, 5, 0), /* accounts_must_be_different */
    };
    chain[0].timeout = 1;
    struct khorgos_create_result *results = fixture_transfers(fixture, chain, 2);
    assert_int_equal(results[0].status, TRANSFER_STATUS(linked_event_failed));
    assert_int_equal(fixture->ledger.expiry_count, 0);
    assert_true(ledger_expiry_next(&fixture->ledger) == 0);
}

static void test_replay_gives_the_same_digest(void **state) {
    (void)state;
    u128 digests[2];
    for (u32 run = 0; run < 2; run++) {
        struct fixture *fixture = test_malloc(sizeof(*fixture));
        fixture_open(fixture);
        fixture_open_accounts(fixture, 5, 2, KHORGOS_ACCOUNT_HISTORY);
        u64 created = fixture->now + NS_PER_SECOND;
        pending_at(fixture, 80, 5, 6, 9, 1, 0, created);
        pending_at(fixture, 81, 6, 5, 9, 2, 0, created + 10000);
        assert_int_equal(fixture_pulse(fixture, created + 3 * NS_PER_SECOND), 2);
        digests[run] = ledger_digest(&fixture->ledger);
        fixture_close(fixture);
        test_free(fixture);
    }
    assert_true(digests[0] == digests[1]);
}

static void test_capacity_counts_history(void **state) {
    (void)state;
    struct fixture *fixture = test_malloc(sizeof(*fixture));
    memset(fixture, 0, sizeof(*fixture));
    struct ledger_config config = {8, 8, 12};
    assert_int_equal(ledger_init(&fixture->ledger, &config), KHORGOS_ERROR_ok);
    fixture->now = KHORGOS_MANUAL_CLOCK_START_NS;
    fixture_open_accounts(fixture, 5, 2, KHORGOS_ACCOUNT_HISTORY);
    /* Each transfer may append two history entries: 12 entries allow 6 transfers. */
    assert_true(ledger_capacity_transfers(&fixture->ledger, 6));
    assert_false(ledger_capacity_transfers(&fixture->ledger, 7));
    pending_at(fixture, 90, 5, 6, 1, 1, 0, fixture->now + NS_PER_SECOND);
    assert_int_equal(fixture->ledger.balance_count, 2);
    assert_true(ledger_capacity_transfers(&fixture->ledger, 5));
    assert_false(ledger_capacity_transfers(&fixture->ledger, 6));
    /* The expiry needs no room. */
    assert_int_equal(fixture_pulse(fixture, fixture->now + 2 * NS_PER_SECOND), 1);
    assert_true(ledger_capacity_transfers(&fixture->ledger, 5));
    fixture_close(fixture);
    test_free(fixture);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pending_expires_at_its_instant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_by_the_event_timestamp_before_a_pulse, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expiry_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_reopens_a_closed_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolved_pending_leaves_the_heap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pulse_expires_everything_due, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_pending_never_expires, setup, teardown),
        cmocka_unit_test(test_replay_gives_the_same_digest),
        cmocka_unit_test(test_capacity_counts_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
