/* test_ledger_random.c: random requests straight into the state machine, with every flag,
 * colliding ids, linked chains, huge amounts and expiries, checking after every request that
 * the invariants hold (ledger_check), that results agree with the records (created events are
 * stored with the result's timestamp, failed ones are not, exists answers the original's
 * timestamp), and that the same requests give the same digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger_fixture.h"

#define RANDOM_REQUEST_COUNT 3000u
#define RANDOM_ACCOUNT_ID_MAX 48u
#define RANDOM_TRANSFER_ID_MAX 30000u

struct random {
    u64 state;
};

static u64 random_next(struct random *random) {
    u64 value = (random->state += 0x9E3779B97F4A7C15ull);
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
    value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
    return value ^ (value >> 31);
}

static u32 random_below(struct random *random, u32 bound) {
    assert_true(bound > 0);
    return (u32)(random_next(random) % bound);
}

static bool random_chance(struct random *random, u32 percent) {
    return random_below(random, 100) < percent;
}

static u128 random_amount(struct random *random) {
    switch (random_below(random, 10)) {
    case 0: return 0;
    case 1: return U128_MAX;
    case 2: return U128_MAX / 2 + random_below(random, 3);
    default: return random_below(random, 1000);
    }
}

/* Accounts with an odd id are on ledger 156, even ones on 398, so most transfers between two
 * accounts of one parity can succeed. */
static u32 random_ledger_of(u128 id) {
    return (id & 1) ? 156 : 398;
}

static struct khorgos_account random_account(struct random *random) {
    u128 id = 1 + random_below(random, RANDOM_ACCOUNT_ID_MAX);
    struct khorgos_account account = account_make(id, 0);
    if (random_chance(random, 20)) account.flags |= KHORGOS_ACCOUNT_LINKED;
    if (random_chance(random, 15)) account.flags |= KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
    if (random_chance(random, 15)) account.flags |= KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    if (random_chance(random, 30)) account.flags |= KHORGOS_ACCOUNT_HISTORY;
    if (random_chance(random, 3)) account.flags |= KHORGOS_ACCOUNT_CLOSED;
    account.ledger = random_chance(random, 95) ? random_ledger_of(id) : 840;
    account.code = (u16)(1 + random_below(random, 2));
    if (random_chance(random, 3)) account.credits_posted = 1;
    return account;
}

static u16 random_transfer_flags(struct random *random) {
    u16 flags = 0;
    if (random_chance(random, 15)) flags |= KHORGOS_TRANSFER_LINKED;
    if (random_chance(random, 30)) flags |= KHORGOS_TRANSFER_PENDING;
    if (random_chance(random, 15)) flags |= KHORGOS_TRANSFER_POST_PENDING_TRANSFER;
    if (random_chance(random, 10)) flags |= KHORGOS_TRANSFER_VOID_PENDING_TRANSFER;
    if (random_chance(random, 10)) flags |= KHORGOS_TRANSFER_BALANCING_DEBIT;
    if (random_chance(random, 10)) flags |= KHORGOS_TRANSFER_BALANCING_CREDIT;
    if (random_chance(random, 4)) flags |= KHORGOS_TRANSFER_CLOSING_DEBIT;
    if (random_chance(random, 4)) flags |= KHORGOS_TRANSFER_CLOSING_CREDIT;
    if (random_chance(random, 1)) flags |= 0x400; /* reserved */
    return flags;
}

static struct khorgos_transfer random_transfer(struct random *random, u32 *next_id) {
    u128 id = random_chance(random, 5) ? 1 + random_below(random, *next_id) : (*next_id)++;
    u16 flags = random_transfer_flags(random);
    u128 debit = 1 + random_below(random, RANDOM_ACCOUNT_ID_MAX);
    u128 credit = 1 + random_below(random, RANDOM_ACCOUNT_ID_MAX);
    if (random_chance(random, 90) && ((debit ^ credit) & 1))
        credit = credit % RANDOM_ACCOUNT_ID_MAX + 1;
    struct khorgos_transfer transfer =
        transfer_make(id, debit, credit, random_amount(random), flags);
    transfer.ledger = random_chance(random, 95) ? random_ledger_of(debit) : 840;
    transfer.code = (u16)(1 + random_below(random, 2));
    if (flags & (KHORGOS_TRANSFER_POST_PENDING_TRANSFER | KHORGOS_TRANSFER_VOID_PENDING_TRANSFER)) {
        transfer.pending_id = 1 + random_below(random, *next_id);
        if (random_chance(random, 70)) transfer.debit_account_id = 0;
        if (random_chance(random, 70)) transfer.credit_account_id = 0;
        if (random_chance(random, 70)) transfer.ledger = 0;
        if (random_chance(random, 70)) transfer.code = 0;
        if (random_chance(random, 50)) transfer.amount = KHORGOS_AMOUNT_MAX;
    } else if (flags & KHORGOS_TRANSFER_PENDING) {
        transfer.timeout = random_below(random, 4);
    }
    return transfer;
}

/* Every result agrees with the records: created and exists name a stored transfer with the
 * result's timestamp, any other status answers the event's assigned timestamp. */
static void check_transfer_results(const struct fixture *fixture,
                                   const struct khorgos_transfer *events, u32 count,
                                   u32 transfer_count_before) {
    u32 created = 0;
    for (u32 index = 0; index < count; index++) {
        const struct khorgos_create_result *result = &fixture->results[index];
        u64 assigned = fixture->now - count + index + 1;
        bool created_now = result->status == KHORGOS_CREATE_TRANSFER_created;
        if (!created_now && result->status != KHORGOS_CREATE_TRANSFER_exists) {
            assert_true(result->timestamp == assigned);
            continue;
        }
        const struct khorgos_transfer *stored = fixture_transfer(fixture, events[index].id);
        assert_non_null(stored);
        assert_true(stored->timestamp == result->timestamp);
        assert_true(created_now ? result->timestamp == assigned : result->timestamp < assigned);
        created += created_now ? 1 : 0;
    }
    assert_int_equal(fixture->ledger.transfer_count, transfer_count_before + created);
}

static u128 random_run(u64 seed) {
    struct fixture *fixture = test_malloc(sizeof(*fixture));
    memset(fixture, 0, sizeof(*fixture));
    struct ledger_config config = {64, 50000, 200000};
    assert_int_equal(ledger_init(&fixture->ledger, &config), KHORGOS_ERROR_ok);
    fixture->now = KHORGOS_MANUAL_CLOCK_START_NS;
    struct random random = {seed};
    u32 next_id = 1;
    for (u32 request = 0; request < RANDOM_REQUEST_COUNT; request++) {
        u32 count = 1 + random_below(&random, FIXTURE_EVENTS_MAX);
        bool accounts = request < 8 || random_chance(&random, 4);
        if (accounts) {
            struct khorgos_account events[FIXTURE_EVENTS_MAX];
            for (u32 index = 0; index < count; index++)
                events[index] = random_account(&random);
            if (!ledger_capacity_accounts(&fixture->ledger, count)) continue;
            fixture_accounts(fixture, events, count);
        } else {
            struct khorgos_transfer events[FIXTURE_EVENTS_MAX];
            for (u32 index = 0; index < count; index++) {
                events[index] = random_transfer(&random, &next_id);
            }
            if (random_chance(&random, 10)) events[count - 1].flags |= KHORGOS_TRANSFER_LINKED;
            assert_true(ledger_capacity_transfers(&fixture->ledger, count));
            u32 before = fixture->ledger.transfer_count;
            fixture_transfers(fixture, events, count);
            check_transfer_results(fixture, events, count, before);
        }
        /* Time passes; what falls due expires, as the engine does before a request. */
        fixture->now += random_below(&random, 700000000);
        u64 next = ledger_expiry_next(&fixture->ledger);
        if (next != 0 && next <= fixture->now + FIXTURE_GAP_NS) {
            u32 due = ledger_expiry_due_count(&fixture->ledger, fixture->now + FIXTURE_GAP_NS);
            assert_int_equal(fixture_pulse(fixture, fixture->now + FIXTURE_GAP_NS), due);
            assert_true(ledger_expiry_next(&fixture->ledger) == 0 ||
                        ledger_expiry_next(&fixture->ledger) > fixture->now);
        }
    }
    /* The run did exercise the state machine: many transfers, burnt ids, expiries, history. */
    u32 expired = 0;
    for (u32 index = 0; index < fixture->ledger.transfer_count; index++) {
        expired += fixture->ledger.transfer_states[index] == LEDGER_TRANSFER_EXPIRED ? 1 : 0;
    }
    assert_true(fixture->ledger.transfer_count > RANDOM_REQUEST_COUNT);
    assert_true(fixture->ledger.failed_transfer_count > 0);
    assert_true(expired > 0 && fixture->ledger.balance_count > 0);
    u128 digest = ledger_digest(&fixture->ledger);
    fixture_close(fixture);
    test_free(fixture);
    return digest;
}

static void test_random_requests_keep_the_invariants(void **state) {
    (void)state;
    u128 first = random_run(1);
    assert_true(random_run(1) == first);
    assert_true(random_run(2) != first);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_requests_keep_the_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
