/* test_ledger_random.c: random requests straight into the state machine, with every flag,
 * colliding ids, linked chains, huge amounts and expiries, checking after every request that
 * the invariants hold (ledger_check), that results agree with the records (created events are
 * stored with the result's timestamp, failed ones are not, exists answers the original's
 * timestamp), and that the same requests give the same digest. A second run keeps the query
 * indexes up to date as the engine does (with create_transfers' account hints, some of them
 * scribbled over, and some updates covering several requests) and compares every kind of
 * query with a brute-force scan of the records. */
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

/* ----------------------------------------------------------------------------------------- */
/* The query indexes as create_transfers builds them (with its account hints), against a       */
/* brute-force scan of the records.                                                            */

#define QUERY_REQUEST_COUNT 1200u
#define QUERY_OUT_MAX LIMIT_BATCH_EVENTS_MAX
/* Accounts 41..48 are on a ledger too large for the direct tables, so the hashed path runs. */
#define QUERY_BIG_LEDGER 100000u
#define QUERY_BIG_ACCOUNT_FIRST 41u

struct query_check {
    struct khorgos_transfer *transfers;
    struct khorgos_account *accounts;
    struct khorgos_account_balance *balances;
    u32 compared; /* queries that returned at least one record */
};

static bool query_in_range(u64 timestamp, u64 timestamp_min, u64 timestamp_max) {
    return timestamp >= timestamp_min && (timestamp_max == 0 || timestamp <= timestamp_max);
}

static bool query_account_filter_match(const struct khorgos_account_filter *filter,
                                       const struct khorgos_transfer *transfer) {
    bool debit = (filter->flags & KHORGOS_ACCOUNT_FILTER_DEBITS) &&
                 transfer->debit_account_id == filter->account_id;
    bool credit = (filter->flags & KHORGOS_ACCOUNT_FILTER_CREDITS) &&
                  transfer->credit_account_id == filter->account_id;
    if (!debit && !credit) return false;
    if (filter->user_data_64 != 0 && transfer->user_data_64 != filter->user_data_64) return false;
    if (filter->user_data_32 != 0 && transfer->user_data_32 != filter->user_data_32) return false;
    if (filter->code != 0 && transfer->code != filter->code) return false;
    return query_in_range(transfer->timestamp, filter->timestamp_min, filter->timestamp_max);
}

/* The position of the k-th record visited, forwards or backwards over [0, count). */
static u32 query_position(u32 count, u32 step, bool reversed) {
    return reversed ? count - 1 - step : step;
}

static void query_check_account(struct query_check *check, const struct ledger *ledger,
                                const struct khorgos_account_filter *filter) {
    bool reversed = (filter->flags & KHORGOS_ACCOUNT_FILTER_REVERSED) != 0;
    u32 written = ledger_get_account_transfers(ledger, filter, check->transfers, QUERY_OUT_MAX);
    u32 expected = 0;
    for (u32 step = 0; step < ledger->transfer_count && expected < filter->limit; step++) {
        const struct khorgos_transfer *transfer =
            &ledger->transfers[query_position(ledger->transfer_count, step, reversed)];
        if (!query_account_filter_match(filter, transfer)) continue;
        assert_true(expected < written);
        assert_memory_equal(&check->transfers[expected], transfer, sizeof(*transfer));
        expected++;
    }
    assert_int_equal(written, expected);
    check->compared += written > 0 ? 1 : 0;
    u32 account_index = 0;
    bool found = ledger_account_index(ledger, filter->account_id, &account_index);
    bool history = found && (ledger->accounts[account_index].flags & KHORGOS_ACCOUNT_HISTORY);
    written = ledger_get_account_balances(ledger, filter, check->balances, QUERY_OUT_MAX);
    expected = 0;
    for (u32 step = 0; history && step < ledger->balance_count && expected < filter->limit;
         step++) {
        const struct ledger_balance_entry *entry =
            &ledger->balances[query_position(ledger->balance_count, step, reversed)];
        const struct khorgos_transfer *transfer = &ledger->transfers[entry->transfer_index];
        if (entry->account_index != account_index) continue;
        if (transfer->timestamp != entry->balance.timestamp) continue;
        if (!query_account_filter_match(filter, transfer)) continue;
        assert_true(expected < written);
        assert_memory_equal(&check->balances[expected], &entry->balance, sizeof(entry->balance));
        expected++;
    }
    assert_int_equal(written, expected);
}

static bool query_filter_match(const struct khorgos_query_filter *filter, u64 user_data_64,
                               u32 user_data_32, u32 ledger, u16 code, u64 timestamp) {
    if (filter->user_data_64 != 0 && user_data_64 != filter->user_data_64) return false;
    if (filter->user_data_32 != 0 && user_data_32 != filter->user_data_32) return false;
    if (filter->ledger != 0 && ledger != filter->ledger) return false;
    if (filter->code != 0 && code != filter->code) return false;
    return query_in_range(timestamp, filter->timestamp_min, filter->timestamp_max);
}

static void query_check_records(struct query_check *check, const struct ledger *ledger,
                                const struct khorgos_query_filter *filter) {
    bool reversed = (filter->flags & KHORGOS_QUERY_FILTER_REVERSED) != 0;
    u32 written = ledger_query_transfers(ledger, filter, check->transfers, QUERY_OUT_MAX);
    u32 expected = 0;
    for (u32 step = 0; step < ledger->transfer_count && expected < filter->limit; step++) {
        const struct khorgos_transfer *transfer =
            &ledger->transfers[query_position(ledger->transfer_count, step, reversed)];
        if (!query_filter_match(filter, transfer->user_data_64, transfer->user_data_32,
                                transfer->ledger, transfer->code, transfer->timestamp)) {
            continue;
        }
        assert_true(expected < written);
        assert_memory_equal(&check->transfers[expected], transfer, sizeof(*transfer));
        expected++;
    }
    assert_int_equal(written, expected);
    check->compared += written > 0 ? 1 : 0;
    written = ledger_query_accounts(ledger, filter, check->accounts, QUERY_OUT_MAX);
    expected = 0;
    for (u32 step = 0; step < ledger->account_count && expected < filter->limit; step++) {
        const struct khorgos_account *account =
            &ledger->accounts[query_position(ledger->account_count, step, reversed)];
        if (!query_filter_match(filter, account->user_data_64, account->user_data_32,
                                account->ledger, account->code, account->timestamp)) {
            continue;
        }
        assert_true(expected < written);
        assert_memory_equal(&check->accounts[expected], account, sizeof(*account));
        expected++;
    }
    assert_int_equal(written, expected);
}

/* A timestamp range: none, or one cut from the records' span. */
static void query_random_range(struct random *random, const struct fixture *fixture,
                               u64 *timestamp_min, u64 *timestamp_max) {
    *timestamp_min = 0;
    *timestamp_max = 0;
    if (random_chance(random, 50)) return;
    u64 span = fixture->now - KHORGOS_MANUAL_CLOCK_START_NS + 1;
    *timestamp_min = KHORGOS_MANUAL_CLOCK_START_NS + random_next(random) % span;
    if (random_chance(random, 70)) *timestamp_max = *timestamp_min + random_next(random) % span;
}

static void query_check_all(struct random *random, const struct fixture *fixture) {
    struct query_check check = {
        .transfers = test_malloc(QUERY_OUT_MAX * sizeof(struct khorgos_transfer)),
        .accounts = test_malloc(QUERY_OUT_MAX * sizeof(struct khorgos_account)),
        .balances = test_malloc(QUERY_OUT_MAX * sizeof(struct khorgos_account_balance))};
    const u32 limits[] = {1, 7, QUERY_OUT_MAX};
    for (u32 round = 0; round < 600; round++) {
        struct khorgos_account_filter filter = {
            .account_id = 1 + random_below(random, RANDOM_ACCOUNT_ID_MAX),
            .limit = limits[random_below(random, ARRAY_COUNT(limits))],
            .flags = 1 + random_below(random, 3)};
        if (random_chance(random, 50)) filter.flags |= KHORGOS_ACCOUNT_FILTER_REVERSED;
        if (random_chance(random, 30)) filter.code = (u16)(1 + random_below(random, 2));
        if (random_chance(random, 20)) filter.user_data_32 = 1 + random_below(random, 3);
        if (random_chance(random, 20)) filter.user_data_64 = 1 + random_below(random, 3);
        query_random_range(random, fixture, &filter.timestamp_min, &filter.timestamp_max);
        query_check_account(&check, &fixture->ledger, &filter);
    }
    const u32 ledgers[] = {0, 156, 398, 840, QUERY_BIG_LEDGER, 7};
    for (u32 round = 0; round < 600; round++) {
        struct khorgos_query_filter filter = {
            .ledger = ledgers[random_below(random, ARRAY_COUNT(ledgers))],
            .limit = limits[random_below(random, ARRAY_COUNT(limits))]};
        if (random_chance(random, 50)) filter.flags |= KHORGOS_QUERY_FILTER_REVERSED;
        if (random_chance(random, 40)) filter.code = (u16)(1 + random_below(random, 3));
        if (random_chance(random, 20)) filter.user_data_32 = 1 + random_below(random, 3);
        if (random_chance(random, 20)) filter.user_data_64 = 1 + random_below(random, 3);
        query_random_range(random, fixture, &filter.timestamp_min, &filter.timestamp_max);
        query_check_records(&check, &fixture->ledger, &filter);
    }
    assert_true(check.compared > 300); /* most queries found something to compare */
    test_free(check.transfers);
    test_free(check.accounts);
    test_free(check.balances);
}

/* Accounts 41..48 and transfers between two of them use the big ledger; user_data fields get
 * small values so their tables hold lists. */
static void query_adjust_account(struct random *random, struct khorgos_account *account) {
    if (account->id >= QUERY_BIG_ACCOUNT_FIRST) account->ledger = QUERY_BIG_LEDGER;
    account->user_data_32 = random_below(random, 4);
}

static void query_adjust_transfer(struct random *random, struct khorgos_transfer *transfer) {
    if (transfer->debit_account_id >= QUERY_BIG_ACCOUNT_FIRST &&
        transfer->credit_account_id >= QUERY_BIG_ACCOUNT_FIRST && transfer->ledger != 0) {
        transfer->ledger = QUERY_BIG_LEDGER;
    }
    transfer->user_data_64 = random_below(random, 4);
    transfer->user_data_32 = random_below(random, 4);
}

/* Hints are only hints: scribbled ones (stale, or naming another account) change nothing.
 * Scribbles over those of the transfers the next index update takes. */
static u32 query_scribble_hints(struct random *random, struct ledger *ledger) {
    u32 first = ledger->query_index.indexed_transfer_count;
    u32 scribbled = 0;
    for (u32 index = first; index < ledger->transfer_count; index++) {
        u32 slot = 2 * (index % LEDGER_QUERY_HINT_COUNT) + random_below(random, 2);
        ledger->query_index.account_hints[slot] =
            random_chance(random, 30) ? U32_MAX : random_below(random, ledger->account_count);
        scribbled++;
    }
    return scribbled;
}

static void test_random_requests_index_like_a_scan(void **state) {
    (void)state;
    struct fixture *fixture = test_malloc(sizeof(*fixture));
    memset(fixture, 0, sizeof(*fixture));
    struct ledger_config config = {64, 30000, 100000};
    assert_int_equal(ledger_init(&fixture->ledger, &config), KHORGOS_ERROR_ok);
    fixture->now = KHORGOS_MANUAL_CLOCK_START_NS;
    struct random random = {7};
    u32 next_id = 1;
    u32 scribbled = 0;
    for (u32 request = 0; request < QUERY_REQUEST_COUNT; request++) {
        u32 count = 1 + random_below(&random, FIXTURE_EVENTS_MAX);
        if (request < 8 || random_chance(&random, 4)) {
            struct khorgos_account events[FIXTURE_EVENTS_MAX];
            for (u32 index = 0; index < count; index++) {
                events[index] = random_account(&random);
                query_adjust_account(&random, &events[index]);
            }
            if (!ledger_capacity_accounts(&fixture->ledger, count)) continue;
            fixture_accounts(fixture, events, count);
        } else {
            struct khorgos_transfer events[FIXTURE_EVENTS_MAX];
            for (u32 index = 0; index < count; index++) {
                events[index] = random_transfer(&random, &next_id);
                query_adjust_transfer(&random, &events[index]);
            }
            if (random_chance(&random, 10)) events[count - 1].flags |= KHORGOS_TRANSFER_LINKED;
            fixture_transfers(fixture, events, count);
        }
        if (random_chance(&random, 10)) {
            scribbled += query_scribble_hints(&random, &fixture->ledger);
        }
        /* As the engine after each request, or now and then after several at once. */
        if (random_chance(&random, 80)) ledger_index_update(&fixture->ledger);
        fixture->now += random_below(&random, 700000000);
        u64 next = ledger_expiry_next(&fixture->ledger);
        if (next != 0 && next <= fixture->now + FIXTURE_GAP_NS) {
            fixture_pulse(fixture, fixture->now + FIXTURE_GAP_NS);
        }
    }
    ledger_index_update(&fixture->ledger);
    assert_true(fixture->ledger.transfer_count > QUERY_REQUEST_COUNT);
    assert_true(fixture->ledger.balance_count > 0 && scribbled > 100);
    query_check_all(&random, fixture);
    fixture_close(fixture);
    test_free(fixture);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_requests_keep_the_invariants),
        cmocka_unit_test(test_random_requests_index_like_a_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
