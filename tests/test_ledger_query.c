/*
 * test_ledger_query.c: lookups, get_account_transfers, get_account_balances, query_accounts and
 * query_transfers with TigerBeetle 0.17's filter rules, and the indexes under them.
 *
 * The ledger here is built by hand (a fixture appends records with increasing timestamps, as
 * the state machine does, and calls ledger_index_update), so each query is tested on exactly
 * the records it sees. A randomised test compares every query with a brute-force scan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "ledger/ledger.h"

#define FIXTURE_ACCOUNT_COUNT_MAX 64u
#define FIXTURE_TRANSFER_COUNT_MAX 4096u
#define FIXTURE_BALANCE_COUNT_MAX 8192u
#define FIXTURE_TIMESTAMP_START 1000u
#define OUT_MAX 8192u

struct fixture {
    struct ledger ledger;
    u64 timestamp_start; /* before every record's timestamp */
    u64 timestamp;       /* the last one given */
    struct khorgos_transfer transfers_out[OUT_MAX];
    struct khorgos_account accounts_out[OUT_MAX];
    struct khorgos_account_balance balances_out[OUT_MAX];
};

static struct fixture *fixture_create(u32 account_count_max, u32 transfer_count_max,
                                      u32 balance_count_max) {
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    assert_non_null(fixture);
    struct ledger *ledger = &fixture->ledger;
    ledger->config = (struct ledger_config){.account_count_max = account_count_max,
                                            .transfer_count_max = transfer_count_max,
                                            .account_balance_count_max = balance_count_max};
    ledger->accounts = calloc(account_count_max, sizeof(struct khorgos_account));
    ledger->transfers = calloc(transfer_count_max, sizeof(struct khorgos_transfer));
    ledger->balances = calloc(balance_count_max, sizeof(struct ledger_balance_entry));
    assert_non_null(ledger->accounts);
    assert_non_null(ledger->transfers);
    assert_non_null(ledger->balances);
    assert_int_equal(base_id_map_init(&ledger->account_map, account_count_max), KHORGOS_ERROR_ok);
    assert_int_equal(base_id_map_init(&ledger->transfer_map, transfer_count_max),
                     KHORGOS_ERROR_ok);
    assert_int_equal(ledger_query_index_init(&ledger->query_index, &ledger->config),
                     KHORGOS_ERROR_ok);
    fixture->timestamp_start = FIXTURE_TIMESTAMP_START;
    fixture->timestamp = FIXTURE_TIMESTAMP_START;
    return fixture;
}

static void fixture_destroy(struct fixture *fixture) {
    struct ledger *ledger = &fixture->ledger;
    ledger_query_index_deinit(&ledger->query_index);
    base_id_map_deinit(&ledger->account_map);
    base_id_map_deinit(&ledger->transfer_map);
    free(ledger->accounts);
    free(ledger->transfers);
    free(ledger->balances);
    free(fixture);
}

static int setup(void **state) {
    *state = fixture_create(FIXTURE_ACCOUNT_COUNT_MAX, FIXTURE_TRANSFER_COUNT_MAX,
                            FIXTURE_BALANCE_COUNT_MAX);
    return 0;
}

static int teardown(void **state) {
    fixture_destroy(*state);
    return 0;
}

struct account_fields {
    u128 user_data_128;
    u64 user_data_64;
    u32 user_data_32;
    u32 ledger;
    u16 code;
    u16 flags;
};

/* Appends an account; returns its timestamp. */
static u64 add_account(struct fixture *fixture, u128 id, struct account_fields fields) {
    struct ledger *ledger = &fixture->ledger;
    assert_true(ledger->account_count < ledger->config.account_count_max);
    struct khorgos_account *account = &ledger->accounts[ledger->account_count];
    memset(account, 0, sizeof(*account));
    account->id = id;
    account->user_data_128 = fields.user_data_128;
    account->user_data_64 = fields.user_data_64;
    account->user_data_32 = fields.user_data_32;
    account->ledger = fields.ledger;
    account->code = fields.code;
    account->flags = fields.flags;
    account->timestamp = ++fixture->timestamp;
    base_id_map_insert(&ledger->account_map, id, ledger->account_count);
    ledger->account_count++;
    return account->timestamp;
}

static struct khorgos_account *account_of(struct fixture *fixture, u128 id) {
    u32 index = 0;
    assert_true(base_id_map_get(&fixture->ledger.account_map, id, &index));
    return &fixture->ledger.accounts[index];
}

static void add_balance_entry(struct fixture *fixture, u128 account_id, u32 transfer_index,
                              u64 timestamp) {
    struct ledger *ledger = &fixture->ledger;
    u32 account_index = 0;
    assert_true(base_id_map_get(&ledger->account_map, account_id, &account_index));
    assert_true(ledger->balance_count < ledger->config.account_balance_count_max);
    const struct khorgos_account *account = &ledger->accounts[account_index];
    struct ledger_balance_entry *entry = &ledger->balances[ledger->balance_count++];
    memset(entry, 0, sizeof(*entry));
    entry->balance.debits_pending = account->debits_pending;
    entry->balance.debits_posted = account->debits_posted;
    entry->balance.credits_pending = account->credits_pending;
    entry->balance.credits_posted = account->credits_posted;
    entry->balance.timestamp = timestamp;
    entry->account_index = account_index;
    entry->transfer_index = transfer_index;
}

struct transfer_fields {
    u128 user_data_128;
    u64 user_data_64;
    u32 user_data_32;
    u16 code;
    bool pending;
};

/* Appends a posted (or pending) transfer, moves the balances and records history for the
 * accounts that keep it, debit account's entry first; returns its timestamp. */
static u64 add_transfer(struct fixture *fixture, u128 id, u128 debit_id, u128 credit_id,
                        u128 amount, struct transfer_fields fields) {
    struct ledger *ledger = &fixture->ledger;
    assert_true(ledger->transfer_count < ledger->config.transfer_count_max);
    struct khorgos_account *debit = account_of(fixture, debit_id);
    struct khorgos_account *credit = account_of(fixture, credit_id);
    u32 transfer_index = ledger->transfer_count;
    struct khorgos_transfer *transfer = &ledger->transfers[transfer_index];
    memset(transfer, 0, sizeof(*transfer));
    transfer->id = id;
    transfer->debit_account_id = debit_id;
    transfer->credit_account_id = credit_id;
    transfer->amount = amount;
    transfer->user_data_128 = fields.user_data_128;
    transfer->user_data_64 = fields.user_data_64;
    transfer->user_data_32 = fields.user_data_32;
    transfer->ledger = debit->ledger;
    transfer->code = fields.code != 0 ? fields.code : 1;
    transfer->flags = fields.pending ? KHORGOS_TRANSFER_PENDING : 0;
    transfer->timestamp = ++fixture->timestamp;
    base_id_map_insert(&ledger->transfer_map, id, transfer_index);
    ledger->transfer_count++;
    if (fields.pending) {
        debit->debits_pending += amount;
        credit->credits_pending += amount;
    } else {
        debit->debits_posted += amount;
        credit->credits_posted += amount;
    }
    if (debit->flags & KHORGOS_ACCOUNT_HISTORY) {
        add_balance_entry(fixture, debit_id, transfer_index, transfer->timestamp);
    }
    if (credit->flags & KHORGOS_ACCOUNT_HISTORY) {
        add_balance_entry(fixture, credit_id, transfer_index, transfer->timestamp);
    }
    return transfer->timestamp;
}

static struct khorgos_account_filter account_filter(u128 account_id, u32 flags) {
    struct khorgos_account_filter filter;
    memset(&filter, 0, sizeof(filter));
    filter.account_id = account_id;
    filter.limit = OUT_MAX;
    filter.flags = flags;
    return filter;
}

static struct khorgos_query_filter query_filter(u32 flags) {
    struct khorgos_query_filter filter;
    memset(&filter, 0, sizeof(filter));
    filter.limit = OUT_MAX;
    filter.flags = flags;
    return filter;
}

static u32 get_transfers(struct fixture *fixture, const struct khorgos_account_filter *filter) {
    return ledger_get_account_transfers(&fixture->ledger, filter, fixture->transfers_out,
                                        OUT_MAX);
}

static u32 get_balances(struct fixture *fixture, const struct khorgos_account_filter *filter) {
    return ledger_get_account_balances(&fixture->ledger, filter, fixture->balances_out, OUT_MAX);
}

static u32 query_transfers(struct fixture *fixture, const struct khorgos_query_filter *filter) {
    return ledger_query_transfers(&fixture->ledger, filter, fixture->transfers_out, OUT_MAX);
}

static u32 query_accounts(struct fixture *fixture, const struct khorgos_query_filter *filter) {
    return ledger_query_accounts(&fixture->ledger, filter, fixture->accounts_out, OUT_MAX);
}

/* Asserts the transfers written have exactly these ids, in this order. */
static void assert_transfer_ids(const struct fixture *fixture, u32 count, const u32 *ids,
                                u32 id_count) {
    assert_int_equal(count, id_count);
    for (u32 index = 0; index < count; index++) {
        assert_true(fixture->transfers_out[index].id == ids[index]);
    }
}

static void assert_account_ids(const struct fixture *fixture, u32 count, const u32 *ids,
                               u32 id_count) {
    assert_int_equal(count, id_count);
    for (u32 index = 0; index < count; index++) {
        assert_true(fixture->accounts_out[index].id == ids[index]);
    }
}

#define ASSERT_TRANSFERS(fixture, count, ...)                                                  \
    do {                                                                                       \
        const u32 expected_[] = {__VA_ARGS__};                                                 \
        assert_transfer_ids((fixture), (count), expected_, ARRAY_COUNT(expected_));            \
    } while (0)
#define ASSERT_ACCOUNTS(fixture, count, ...)                                                   \
    do {                                                                                       \
        const u32 expected_[] = {__VA_ARGS__};                                                 \
        assert_account_ids((fixture), (count), expected_, ARRAY_COUNT(expected_));             \
    } while (0)

/* A small world: accounts 1..4 on ledger 840 (4 on 156), 1 and 2 with history; transfers
 * 101..106 with distinct user data and codes. Returns the transfers' timestamps. */
static void world_build(struct fixture *fixture, u64 timestamps[7]) {
    add_account(fixture, 1, (struct account_fields){.user_data_128 = 7, .user_data_64 = 70,
                                                    .user_data_32 = 700, .ledger = 840,
                                                    .code = 10, .flags = KHORGOS_ACCOUNT_HISTORY});
    add_account(fixture, 2, (struct account_fields){.user_data_128 = 7, .user_data_64 = 71,
                                                    .user_data_32 = 700, .ledger = 840,
                                                    .code = 20, .flags = KHORGOS_ACCOUNT_HISTORY});
    add_account(fixture, 3, (struct account_fields){.user_data_128 = 8, .user_data_64 = 70,
                                                    .user_data_32 = 701, .ledger = 840,
                                                    .code = 10});
    add_account(fixture, 4, (struct account_fields){.user_data_128 = 8, .user_data_64 = 72,
                                                    .user_data_32 = 702, .ledger = 156,
                                                    .code = 10});
    timestamps[1] = add_transfer(fixture, 101, 1, 2, 10,
                                 (struct transfer_fields){.user_data_128 = 5, .code = 1});
    timestamps[2] = add_transfer(fixture, 102, 2, 1, 20,
                                 (struct transfer_fields){.user_data_128 = 5, .user_data_64 = 9,
                                                          .code = 2});
    timestamps[3] = add_transfer(fixture, 103, 1, 3, 30,
                                 (struct transfer_fields){.user_data_32 = 3, .code = 1});
    timestamps[4] = add_transfer(fixture, 104, 3, 2, 40,
                                 (struct transfer_fields){.user_data_64 = 9, .code = 2,
                                                          .pending = true});
    timestamps[5] = add_transfer(fixture, 105, 1, 2, 50,
                                 (struct transfer_fields){.user_data_128 = 6, .user_data_32 = 3,
                                                          .code = 1});
    timestamps[6] = add_transfer(fixture, 106, 3, 1, 60, (struct transfer_fields){.code = 3});
    ledger_index_update(&fixture->ledger);
}

/* ----------------------------------------------------------------------------------------- */
/* Lookups.                                                                                   */

static void test_lookup_accounts_found_only_in_request_order(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    const u128 ids[] = {3, 99, 1, 0, U128_MAX, 4, 3};
    struct khorgos_account out[ARRAY_COUNT(ids)];
    u32 count = ledger_lookup_accounts(&fixture->ledger, ids, ARRAY_COUNT(ids), out);
    assert_int_equal(count, 4);
    assert_true(out[0].id == 3 && out[1].id == 1 && out[2].id == 4 && out[3].id == 3);
    /* The current record, balances included. */
    assert_true(out[1].debits_posted == 10 + 30 + 50 && out[1].credits_posted == 20 + 60);
    assert_int_equal(ledger_lookup_accounts(&fixture->ledger, ids, 0, out), 0);
}

static void test_lookup_transfers_found_only_in_request_order(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    const u128 ids[] = {106, 1, 101, 0, 104, U128_MAX};
    struct khorgos_transfer out[ARRAY_COUNT(ids)];
    u32 count = ledger_lookup_transfers(&fixture->ledger, ids, ARRAY_COUNT(ids), out);
    assert_int_equal(count, 3);
    assert_true(out[0].id == 106 && out[1].id == 101 && out[2].id == 104);
    assert_true(out[0].timestamp == timestamps[6] && out[2].amount == 40);
    const u128 none[] = {7, 8};
    assert_int_equal(ledger_lookup_transfers(&fixture->ledger, none, 2, out), 0);
}

/* ----------------------------------------------------------------------------------------- */
/* get_account_transfers.                                                                     */

static void test_account_transfers_sides(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    struct khorgos_account_filter filter = account_filter(1, KHORGOS_ACCOUNT_FILTER_DEBITS);
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 101, 103, 105);
    filter.flags = KHORGOS_ACCOUNT_FILTER_CREDITS;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 102, 106);
    filter.flags = KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 101, 102, 103, 105, 106);
    filter.account_id = 4; /* exists, no transfers */
    assert_int_equal(get_transfers(fixture, &filter), 0);
    filter.account_id = 99; /* unknown */
    assert_int_equal(get_transfers(fixture, &filter), 0);
}

static void test_account_transfers_reversed_and_limit(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    const u32 both = KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS;
    struct khorgos_account_filter filter =
        account_filter(2, both | KHORGOS_ACCOUNT_FILTER_REVERSED);
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 105, 104, 102, 101);
    filter.limit = 2;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 105, 104);
    filter.flags = both;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 101, 102);
    filter.limit = 1;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 101);
    /* The caller's room caps the results below the limit too. */
    filter.limit = 100;
    assert_int_equal(ledger_get_account_transfers(&fixture->ledger, &filter,
                                                  fixture->transfers_out, 3), 3);
    assert_int_equal(ledger_get_account_transfers(&fixture->ledger, &filter, NULL, 0), 0);
}

static void test_account_transfers_timestamp_range(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    const u32 both = KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS;
    struct khorgos_account_filter filter = account_filter(1, both);
    filter.timestamp_min = timestamps[2]; /* inclusive */
    filter.timestamp_max = timestamps[5]; /* inclusive */
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 102, 103, 105);
    filter.flags |= KHORGOS_ACCOUNT_FILTER_REVERSED;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 105, 103, 102);
    filter.flags = both;
    filter.timestamp_min = timestamps[2] + 1; /* between 102 and 103 */
    filter.timestamp_max = 0;                 /* no upper bound */
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 103, 105, 106);
    filter.timestamp_min = 0;
    filter.timestamp_max = timestamps[1];
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 101);
    filter.timestamp_min = timestamps[4]; /* 104 does not touch account 1 */
    filter.timestamp_max = timestamps[4];
    assert_int_equal(get_transfers(fixture, &filter), 0);
    filter.timestamp_min = timestamps[6] + 1;
    filter.timestamp_max = 0;
    assert_int_equal(get_transfers(fixture, &filter), 0);
    filter.timestamp_min = timestamps[3]; /* min == max: exactly one */
    filter.timestamp_max = timestamps[3];
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 103);
}

static void test_account_transfers_field_filters(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    const u32 both = KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS;
    struct khorgos_account_filter filter = account_filter(1, both);
    filter.user_data_128 = 5;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 101, 102);
    filter.flags = KHORGOS_ACCOUNT_FILTER_CREDITS;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 102);
    filter = account_filter(1, both);
    filter.user_data_64 = 9;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 102);
    filter = account_filter(1, both);
    filter.user_data_32 = 3;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 103, 105);
    filter = account_filter(1, both);
    filter.code = 1;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 101, 103, 105);
    filter.user_data_32 = 3; /* ANDed */
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 103, 105);
    filter.user_data_128 = 6;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 105);
    filter.user_data_128 = 12345; /* no transfer has it */
    assert_int_equal(get_transfers(fixture, &filter), 0);
    filter = account_filter(2, both);
    filter.user_data_64 = 9; /* 102 debits 2, 104 credits 2 */
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 102, 104);
    filter.code = 3; /* code 3 exists (106) but not with account 2 */
    assert_int_equal(get_transfers(fixture, &filter), 0);
}

static void test_account_filter_invalid_returns_nothing(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    const u32 both = KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS;
    struct khorgos_account_filter valid = account_filter(1, both);
    assert_int_equal(get_transfers(fixture, &valid), 5);
    assert_int_equal(get_balances(fixture, &valid), 5);
    struct khorgos_account_filter filters[10];
    for (u32 index = 0; index < ARRAY_COUNT(filters); index++) filters[index] = valid;
    filters[0].limit = 0;
    filters[1].timestamp_min = timestamps[3];
    filters[1].timestamp_max = timestamps[2]; /* min > max */
    filters[2].flags = KHORGOS_ACCOUNT_FILTER_REVERSED; /* neither debits nor credits */
    filters[3].flags = both | (1u << 3);                /* unknown flag */
    filters[4].reserved[0] = 1;
    filters[5].reserved[sizeof(filters[5].reserved) - 1] = 1;
    filters[6].account_id = 0;
    filters[7].account_id = U128_MAX;
    filters[8].timestamp_min = (u64)INT64_MAX + 1; /* above 2^63 - 1 */
    filters[8].timestamp_max = 0;
    filters[9].timestamp_max = U64_MAX;
    for (u32 index = 0; index < ARRAY_COUNT(filters); index++) {
        assert_int_equal(get_transfers(fixture, &filters[index]), 0);
        assert_int_equal(get_balances(fixture, &filters[index]), 0);
    }
    /* The bounds themselves are valid. */
    valid.timestamp_min = 0;
    valid.timestamp_max = (u64)INT64_MAX;
    assert_int_equal(get_transfers(fixture, &valid), 5);
    valid.timestamp_min = (u64)INT64_MAX;
    assert_int_equal(get_transfers(fixture, &valid), 0);
}

/* ----------------------------------------------------------------------------------------- */
/* get_account_balances.                                                                      */

static void test_account_balances_history_only(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    const u32 both = KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS;
    struct khorgos_account_filter filter = account_filter(3, both); /* no history flag */
    assert_int_equal(get_transfers(fixture, &filter), 3);
    assert_int_equal(get_balances(fixture, &filter), 0);
    filter.account_id = 99;
    assert_int_equal(get_balances(fixture, &filter), 0);
    filter.account_id = 1;
    u32 count = get_balances(fixture, &filter);
    assert_int_equal(count, 5);
    /* Account 1: -10 (101), +20 (102), -30 (103), -50 (105), +60 (106). */
    const u64 expected_timestamps[] = {timestamps[1], timestamps[2], timestamps[3],
                                       timestamps[5], timestamps[6]};
    const u32 debits[] = {10, 10, 40, 90, 90};
    const u32 credits[] = {0, 20, 20, 20, 80};
    for (u32 index = 0; index < count; index++) {
        const struct khorgos_account_balance *balance = &fixture->balances_out[index];
        assert_true(balance->timestamp == expected_timestamps[index]);
        assert_true(balance->debits_posted == debits[index]);
        assert_true(balance->credits_posted == credits[index]);
        assert_true(balance->debits_pending == 0 && balance->credits_pending == 0);
        for (u32 byte = 0; byte < sizeof(balance->reserved); byte++) {
            assert_int_equal(balance->reserved[byte], 0);
        }
    }
    filter.account_id = 2; /* 104 is pending: credits_pending 40 from then on */
    count = get_balances(fixture, &filter);
    assert_int_equal(count, 4);
    assert_true(fixture->balances_out[2].timestamp == timestamps[4]);
    assert_true(fixture->balances_out[2].credits_pending == 40);
    assert_true(fixture->balances_out[1].credits_pending == 0);
}

static void test_account_balances_filters(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    struct khorgos_account_filter filter = account_filter(1, KHORGOS_ACCOUNT_FILTER_CREDITS);
    u32 count = get_balances(fixture, &filter);
    assert_int_equal(count, 2);
    assert_true(fixture->balances_out[0].timestamp == timestamps[2]);
    assert_true(fixture->balances_out[1].timestamp == timestamps[6]);
    filter.flags = KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_REVERSED;
    filter.limit = 2;
    count = get_balances(fixture, &filter);
    assert_int_equal(count, 2);
    assert_true(fixture->balances_out[0].timestamp == timestamps[5]);
    assert_true(fixture->balances_out[1].timestamp == timestamps[3]);
    filter = account_filter(1, KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS);
    filter.code = 1;
    filter.timestamp_min = timestamps[2];
    count = get_balances(fixture, &filter);
    assert_int_equal(count, 2); /* 103 and 105 */
    assert_true(fixture->balances_out[0].timestamp == timestamps[3]);
    assert_true(fixture->balances_out[0].debits_posted == 40);
    filter.code = 0;
    filter.user_data_128 = 5;
    filter.timestamp_min = 0;
    filter.timestamp_max = timestamps[1];
    count = get_balances(fixture, &filter);
    assert_int_equal(count, 1);
    assert_true(fixture->balances_out[0].debits_posted == 10);
}

/* An expiry's entry (its own timestamp, naming the pending transfer) is not a transfer's. */
static void test_account_balances_skip_expiry_entries(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    struct ledger *ledger = &fixture->ledger;
    struct khorgos_account *account = account_of(fixture, 2);
    account->credits_pending -= 40;
    u64 expiry_timestamp = ++fixture->timestamp;
    add_balance_entry(fixture, 2, 3 /* transfer 104 */, expiry_timestamp);
    u64 last = add_transfer(fixture, 107, 1, 2, 1, (struct transfer_fields){.code = 1});
    ledger_index_update(ledger);
    struct khorgos_account_filter filter = account_filter(2, KHORGOS_ACCOUNT_FILTER_CREDITS);
    filter.timestamp_min = timestamps[5];
    u32 count = get_balances(fixture, &filter);
    assert_int_equal(count, 2);
    assert_true(fixture->balances_out[0].timestamp == timestamps[5]);
    assert_true(fixture->balances_out[1].timestamp == last);
    assert_true(fixture->balances_out[1].credits_pending == 0);
    assert_true(fixture->balances_out[1].credits_posted == 10 + 50 + 1);
}

/* ----------------------------------------------------------------------------------------- */
/* query_accounts, query_transfers.                                                           */

static void test_query_accounts_each_field(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    struct khorgos_query_filter filter = query_filter(0);
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 1, 2, 3, 4);
    filter.user_data_128 = 8;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 3, 4);
    filter = query_filter(0);
    filter.user_data_64 = 70;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 1, 3);
    filter = query_filter(0);
    filter.user_data_32 = 700;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 1, 2);
    filter = query_filter(0);
    filter.ledger = 840;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 1, 2, 3);
    filter.ledger = 156;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 4);
    filter.ledger = 978;
    assert_int_equal(query_accounts(fixture, &filter), 0);
    filter = query_filter(0);
    filter.code = 10;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 1, 3, 4);
    filter.ledger = 840; /* ANDed */
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 1, 3);
    filter.user_data_64 = 70;
    filter.user_data_128 = 8;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 3);
    filter.user_data_32 = 700;
    assert_int_equal(query_accounts(fixture, &filter), 0);
}

static void test_query_accounts_range_reversed_limit(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    struct khorgos_query_filter filter = query_filter(KHORGOS_QUERY_FILTER_REVERSED);
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 4, 3, 2, 1);
    filter.limit = 3;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 4, 3, 2);
    filter.code = 10;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 4, 3, 1);
    const struct khorgos_account *second = account_of(fixture, 2);
    const struct khorgos_account *third = account_of(fixture, 3);
    filter = query_filter(0);
    filter.timestamp_min = second->timestamp;
    filter.timestamp_max = third->timestamp;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 2, 3);
    filter.ledger = 840;
    filter.user_data_32 = 700;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 2);
    filter = query_filter(0);
    filter.timestamp_min = third->timestamp;
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &filter), 3, 4);
    assert_int_equal(ledger_query_accounts(&fixture->ledger, &filter, fixture->accounts_out, 1),
                     1);
}

static void test_query_transfers_each_field(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    struct khorgos_query_filter filter = query_filter(0);
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 101, 102, 103, 104, 105, 106);
    filter.user_data_128 = 5;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 101, 102);
    filter = query_filter(0);
    filter.user_data_64 = 9;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 102, 104);
    filter = query_filter(0);
    filter.user_data_32 = 3;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 103, 105);
    filter = query_filter(0);
    filter.ledger = 840;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 101, 102, 103, 104, 105, 106);
    filter.ledger = 156;
    assert_int_equal(query_transfers(fixture, &filter), 0);
    filter = query_filter(0);
    filter.code = 2;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 102, 104);
    filter.user_data_128 = 5;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 102);
    filter.code = 3;
    assert_int_equal(query_transfers(fixture, &filter), 0);
}

static void test_query_transfers_range_reversed_limit(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    struct khorgos_query_filter filter = query_filter(KHORGOS_QUERY_FILTER_REVERSED);
    filter.code = 1;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 105, 103, 101);
    filter.limit = 1;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 105);
    filter = query_filter(0);
    filter.timestamp_min = timestamps[2];
    filter.timestamp_max = timestamps[4];
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 102, 103, 104);
    filter.flags = KHORGOS_QUERY_FILTER_REVERSED;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 104, 103, 102);
    filter.code = 1;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 103);
    filter.timestamp_min = timestamps[6] + 1;
    filter.timestamp_max = 0;
    filter.code = 0;
    assert_int_equal(query_transfers(fixture, &filter), 0);
    /* Accounts' timestamps are not transfers': a range of only accounts has no transfer. */
    filter.timestamp_min = account_of(fixture, 1)->timestamp;
    filter.timestamp_max = account_of(fixture, 4)->timestamp;
    assert_int_equal(query_transfers(fixture, &filter), 0);
    assert_int_equal(query_accounts(fixture, &filter), 4);
}

static void test_query_filter_invalid_returns_nothing(void **state) {
    struct fixture *fixture = *state;
    u64 timestamps[7];
    world_build(fixture, timestamps);
    struct khorgos_query_filter valid = query_filter(0);
    assert_int_equal(query_transfers(fixture, &valid), 6);
    struct khorgos_query_filter filters[7];
    for (u32 index = 0; index < ARRAY_COUNT(filters); index++) filters[index] = valid;
    filters[0].limit = 0;
    filters[1].timestamp_min = timestamps[3];
    filters[1].timestamp_max = timestamps[2];
    filters[2].flags = 1u << 1; /* unknown flag */
    filters[3].reserved[0] = 1;
    filters[4].reserved[5] = 1;
    filters[5].timestamp_min = (u64)INT64_MAX + 1;
    filters[6].timestamp_max = U64_MAX;
    for (u32 index = 0; index < ARRAY_COUNT(filters); index++) {
        assert_int_equal(query_transfers(fixture, &filters[index]), 0);
        assert_int_equal(query_accounts(fixture, &filters[index]), 0);
    }
}

/* ----------------------------------------------------------------------------------------- */
/* The index: incremental updates, rollback before update, capacities.                        */

static void test_index_update_is_incremental_and_ignores_truncated_records(void **state) {
    struct fixture *fixture = *state;
    struct ledger *ledger = &fixture->ledger;
    add_account(fixture, 1, (struct account_fields){.ledger = 1, .code = 1});
    add_account(fixture, 2, (struct account_fields){.ledger = 1, .code = 1});
    ledger_index_update(ledger);
    add_transfer(fixture, 10, 1, 2, 5, (struct transfer_fields){.user_data_64 = 4});
    /* A failed chain: a transfer appended, then truncated before the index sees it. */
    add_transfer(fixture, 11, 1, 2, 5, (struct transfer_fields){.user_data_64 = 4});
    base_id_map_remove(&ledger->transfer_map, 11);
    ledger->transfer_count--;
    ledger_index_update(ledger);
    assert_int_equal(ledger->query_index.indexed_transfer_count, 1);
    u64 later = add_transfer(fixture, 12, 2, 1, 6, (struct transfer_fields){.user_data_64 = 4});
    ledger_index_update(ledger);
    ledger_index_update(ledger); /* nothing new: a no-op */
    struct khorgos_query_filter filter = query_filter(0);
    filter.user_data_64 = 4;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &filter), 10, 12);
    assert_true(fixture->transfers_out[1].timestamp == later);
    struct khorgos_account_filter account = account_filter(1, KHORGOS_ACCOUNT_FILTER_CREDITS);
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &account), 12);
}

static void test_index_init_refuses_unaddressable_capacity(void **state) {
    (void)state;
    struct ledger_query_index index;
    /* 2 x 2^30 transfers in accounts' lists, x4: more than u32 offsets address. */
    struct ledger_config config = {.account_count_max = 16,
                                   .transfer_count_max = 1u << 30,
                                   .account_balance_count_max = 16};
    assert_int_equal(ledger_query_index_init(&index, &config), KHORGOS_ERROR_invalid_argument);
    assert_null(index.account_transfers[0]); /* nothing left allocated */
    assert_null(index.account_transfers[1]);
    ledger_query_index_deinit(&index);    /* safe on what init left */
}

/* ----------------------------------------------------------------------------------------- */
/* Randomised: every query against a brute-force scan of the same records.                    */

static u64 random_state = 0x9E3779B97F4A7C15ull;
static u64 random_next(void) {
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return random_state;
}
/* Results the randomised checks saw, so the test cannot pass on empty answers alone. */
static u64 random_results = 0;
static u32 random_below(u32 bound) { return (u32)(random_next() % bound); }
/* Zero (no filter / no value) a third of the time, else one of `values` small values. */
static u32 random_field(u32 values) { return random_below(3) == 0 ? 0 : 1 + random_below(values); }

static bool brute_transfer_matches_query(const struct khorgos_transfer *transfer,
                                         const struct khorgos_query_filter *filter) {
    if (filter->timestamp_min != 0 && transfer->timestamp < filter->timestamp_min) return false;
    if (filter->timestamp_max != 0 && transfer->timestamp > filter->timestamp_max) return false;
    if (filter->user_data_128 && filter->user_data_128 != transfer->user_data_128) return false;
    if (filter->user_data_64 && filter->user_data_64 != transfer->user_data_64) return false;
    if (filter->user_data_32 && filter->user_data_32 != transfer->user_data_32) return false;
    if (filter->ledger && filter->ledger != transfer->ledger) return false;
    return !filter->code || filter->code == transfer->code;
}

static bool brute_account_matches_query(const struct khorgos_account *account,
                                        const struct khorgos_query_filter *filter) {
    if (filter->timestamp_min != 0 && account->timestamp < filter->timestamp_min) return false;
    if (filter->timestamp_max != 0 && account->timestamp > filter->timestamp_max) return false;
    if (filter->user_data_128 && filter->user_data_128 != account->user_data_128) return false;
    if (filter->user_data_64 && filter->user_data_64 != account->user_data_64) return false;
    if (filter->user_data_32 && filter->user_data_32 != account->user_data_32) return false;
    if (filter->ledger && filter->ledger != account->ledger) return false;
    return !filter->code || filter->code == account->code;
}

static bool brute_transfer_matches_account(const struct khorgos_transfer *transfer,
                                           const struct khorgos_account_filter *filter) {
    if (filter->timestamp_min != 0 && transfer->timestamp < filter->timestamp_min) return false;
    if (filter->timestamp_max != 0 && transfer->timestamp > filter->timestamp_max) return false;
    bool debit = (filter->flags & KHORGOS_ACCOUNT_FILTER_DEBITS) &&
                 transfer->debit_account_id == filter->account_id;
    bool credit = (filter->flags & KHORGOS_ACCOUNT_FILTER_CREDITS) &&
                  transfer->credit_account_id == filter->account_id;
    if (!debit && !credit) return false;
    if (filter->user_data_128 && filter->user_data_128 != transfer->user_data_128) return false;
    if (filter->user_data_64 && filter->user_data_64 != transfer->user_data_64) return false;
    if (filter->user_data_32 && filter->user_data_32 != transfer->user_data_32) return false;
    return !filter->code || filter->code == transfer->code;
}

/* A random timestamp bound among and around the records' timestamps. */
static u64 random_timestamp(const struct fixture *fixture) {
    const struct ledger *ledger = &fixture->ledger;
    if (random_below(3) == 0) return 0;
    if (random_below(2) == 0 && ledger->transfer_count > 0) { /* at or next to a record's */
        u64 timestamp = ledger->transfers[random_below(ledger->transfer_count)].timestamp;
        return timestamp - 1 + random_below(3);
    }
    u64 span = fixture->timestamp - fixture->timestamp_start + 2;
    return fixture->timestamp_start + random_next() % span;
}

static void random_bounds(const struct fixture *fixture, u64 *timestamp_min,
                          u64 *timestamp_max) {
    *timestamp_min = random_timestamp(fixture);
    *timestamp_max = random_timestamp(fixture);
    if (*timestamp_max != 0 && *timestamp_min > *timestamp_max) {
        u64 swap = *timestamp_min;
        *timestamp_min = *timestamp_max;
        *timestamp_max = swap;
    }
}

static void random_check_query_transfers(struct fixture *fixture) {
    const struct ledger *ledger = &fixture->ledger;
    struct khorgos_query_filter filter = query_filter(random_below(2));
    filter.user_data_128 = random_field(4);
    filter.user_data_64 = random_below(2) ? 0 : random_field(6);
    filter.user_data_32 = random_below(2) ? 0 : random_field(9);
    filter.ledger = random_below(2) ? 0 : random_field(3);
    filter.code = (u16)(random_below(2) ? 0 : random_field(5));
    if (random_below(4) == 0) { /* a value only one transfer holds, often */
        u32 holder = random_below(ledger->transfer_count);
        filter.user_data_128 = ledger->transfers[holder].user_data_128;
    }
    filter.limit = 1 + random_below(random_below(4) == 0 ? 20 : OUT_MAX);
    random_bounds(fixture, &filter.timestamp_min, &filter.timestamp_max);
    u32 count = query_transfers(fixture, &filter);
    random_results += count;
    bool reversed = filter.flags & KHORGOS_QUERY_FILTER_REVERSED;
    u32 expected = 0;
    for (u32 step = 0; step < ledger->transfer_count && expected < filter.limit; step++) {
        u32 index = reversed ? ledger->transfer_count - 1 - step : step;
        if (!brute_transfer_matches_query(&ledger->transfers[index], &filter)) continue;
        assert_true(expected < count);
        assert_true(fixture->transfers_out[expected].id == ledger->transfers[index].id);
        expected++;
    }
    assert_int_equal(count, expected);
}

static void random_check_query_accounts(struct fixture *fixture) {
    const struct ledger *ledger = &fixture->ledger;
    struct khorgos_query_filter filter = query_filter(random_below(2));
    filter.user_data_128 = random_below(2) ? 0 : random_field(4);
    filter.user_data_64 = random_below(2) ? 0 : random_field(6);
    filter.user_data_32 = random_below(2) ? 0 : random_field(9);
    filter.ledger = random_below(2) ? 0 : random_field(3);
    filter.code = (u16)(random_below(2) ? 0 : random_field(5));
    filter.limit = 1 + random_below(random_below(4) == 0 ? 5 : OUT_MAX);
    random_bounds(fixture, &filter.timestamp_min, &filter.timestamp_max);
    u32 count = query_accounts(fixture, &filter);
    random_results += count;
    bool reversed = filter.flags & KHORGOS_QUERY_FILTER_REVERSED;
    u32 expected = 0;
    for (u32 step = 0; step < ledger->account_count && expected < filter.limit; step++) {
        u32 index = reversed ? ledger->account_count - 1 - step : step;
        if (!brute_account_matches_query(&ledger->accounts[index], &filter)) continue;
        assert_true(expected < count);
        assert_true(fixture->accounts_out[expected].id == ledger->accounts[index].id);
        expected++;
    }
    assert_int_equal(count, expected);
}

/* get_account_transfers, and get_account_balances on the same filter. */
static void random_check_account_filter(struct fixture *fixture) {
    const struct ledger *ledger = &fixture->ledger;
    u32 flags = 1 + random_below(3);
    if (random_below(2)) flags |= KHORGOS_ACCOUNT_FILTER_REVERSED;
    u128 account_id = 1 + random_below(ledger->account_count + 1); /* one unknown */
    struct khorgos_account_filter filter = account_filter(account_id, flags);
    filter.user_data_128 = random_below(2) ? 0 : random_field(4);
    filter.user_data_64 = random_below(3) ? 0 : random_field(6);
    filter.user_data_32 = random_below(3) ? 0 : random_field(9);
    filter.code = (u16)(random_below(2) ? 0 : random_field(5));
    filter.limit = 1 + random_below(random_below(4) == 0 ? 20 : OUT_MAX);
    random_bounds(fixture, &filter.timestamp_min, &filter.timestamp_max);
    u32 count = get_transfers(fixture, &filter);
    u32 balance_count = get_balances(fixture, &filter);
    random_results += count + balance_count;
    bool history = false;
    u32 account_index = 0;
    if (base_id_map_get(&ledger->account_map, filter.account_id, &account_index)) {
        history = ledger->accounts[account_index].flags & KHORGOS_ACCOUNT_HISTORY;
    }
    bool reversed = flags & KHORGOS_ACCOUNT_FILTER_REVERSED;
    u32 expected = 0;
    for (u32 step = 0; step < ledger->transfer_count && expected < filter.limit; step++) {
        u32 index = reversed ? ledger->transfer_count - 1 - step : step;
        const struct khorgos_transfer *transfer = &ledger->transfers[index];
        if (!brute_transfer_matches_account(transfer, &filter)) continue;
        assert_true(expected < count);
        assert_true(fixture->transfers_out[expected].id == transfer->id);
        if (history) {
            assert_true(fixture->balances_out[expected].timestamp == transfer->timestamp);
        }
        expected++;
    }
    assert_int_equal(count, expected);
    assert_int_equal(balance_count, history ? expected : 0);
}

static void test_random_queries_match_brute_force(void **state) {
    (void)state;
    /* Capacities exactly the records made: the pools' 4x bound is what keeps this in room. */
    const u32 account_count = 40;
    const u32 transfer_count = 3000;
    struct fixture *fixture = fixture_create(account_count, transfer_count, 2 * transfer_count);
    for (u32 account = 1; account <= account_count; account++) {
        add_account(fixture, account,
                    (struct account_fields){
                        .user_data_128 = random_field(4), .user_data_64 = random_field(6),
                        .user_data_32 = random_field(9), .ledger = 1 + account % 3,
                        .code = (u16)(1 + random_below(5)),
                        .flags = random_below(2) ? KHORGOS_ACCOUNT_HISTORY : 0});
    }
    ledger_index_update(&fixture->ledger);
    u32 made = 0;
    while (made < transfer_count) {
        u32 batch = 1 + random_below(200); /* a variable: MIN evaluates its arguments twice */
        batch = MIN(batch, transfer_count - made);
        for (u32 index = 0; index < batch; index++, made++) {
            /* Skewed: account 1 takes part in about half the transfers. */
            u32 debit = random_below(2) ? 1 : 1 + random_below(account_count);
            u32 credit = 1 + random_below(account_count);
            while (credit == debit || (account_of(fixture, credit)->ledger !=
                                       account_of(fixture, debit)->ledger)) {
                credit = 1 + random_below(account_count);
            }
            add_transfer(fixture, 1000 + made, debit, credit, 1 + random_below(100),
                         (struct transfer_fields){.user_data_128 = random_below(2)
                                                                      ? random_field(4)
                                                                      : 100000 + made,
                                                  .user_data_64 = random_field(6),
                                                  .user_data_32 = random_field(9),
                                                  .code = (u16)(1 + random_below(5)),
                                                  .pending = random_below(4) == 0});
        }
        ledger_index_update(&fixture->ledger);
        for (u32 check = 0; check < 30; check++) {
            random_check_query_transfers(fixture);
            random_check_query_accounts(fixture);
            random_check_account_filter(fixture);
        }
    }
    print_message("randomised checks saw %llu results\n", (unsigned long long)random_results);
    assert_true(random_results > 20000);
    fixture_destroy(fixture);
}

/* Lists of 2^g + 1 entries waste the most pool (blocks of 2 + 4 + ... + 2^(g+1)); with the
 * capacity exactly the records made, the pool's 4x reservation must still hold them all, and
 * interleaved growth (blocks freed and reused across lists) must keep every list intact. */
static void test_index_pool_worst_case_growth(void **state) {
    (void)state;
    enum { GROUPS = 9 };
    u32 sizes[GROUPS];
    u32 transfer_count = 0;
    for (u32 group = 0; group < GROUPS; group++) {
        sizes[group] = (1u << (group + 1)) + 1;
        transfer_count += sizes[group];
    }
    struct fixture *fixture = fixture_create(2, transfer_count, 1);
    add_account(fixture, 1, (struct account_fields){.ledger = 1, .code = 1});
    add_account(fixture, 2, (struct account_fields){.ledger = 1, .code = 1});
    u32 remaining[GROUPS];
    memcpy(remaining, sizes, sizeof(sizes));
    for (u32 made = 0; made < transfer_count; made++) {
        u32 group = random_below(GROUPS);
        while (remaining[group] == 0) group = (group + 1) % GROUPS;
        remaining[group]--;
        add_transfer(fixture, 1 + made, 1 + made % 2, 2 - made % 2, 1,
                     (struct transfer_fields){.user_data_64 = 1 + group,
                                              .user_data_32 = 1 + made % 7});
        if (made % 17 == 0) ledger_index_update(&fixture->ledger);
    }
    ledger_index_update(&fixture->ledger);
    for (u32 group = 0; group < GROUPS; group++) {
        struct khorgos_query_filter filter = query_filter(0);
        filter.user_data_64 = 1 + group;
        u32 count = query_transfers(fixture, &filter);
        assert_int_equal(count, sizes[group]);
        for (u32 index = 0; index < count; index++) {
            assert_true(fixture->transfers_out[index].user_data_64 == 1 + group);
            assert_true(index == 0 || fixture->transfers_out[index - 1].timestamp <
                                          fixture->transfers_out[index].timestamp);
        }
    }
    struct khorgos_account_filter filter = account_filter(1, KHORGOS_ACCOUNT_FILTER_DEBITS |
                                                                 KHORGOS_ACCOUNT_FILTER_CREDITS);
    assert_int_equal(get_transfers(fixture, &filter), transfer_count);
    fixture_destroy(fixture);
}

/* ----------------------------------------------------------------------------------------- */
/* Through the state machine (ledger_create_*, ledger_pulse) and the engine's public calls.    */

#define STATE_LEDGER 398u /* KZT */
#define STATE_GAP_NS 1000u

static struct fixture *state_open(void) {
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    assert_non_null(fixture);
    struct ledger_config config = {.account_count_max = FIXTURE_ACCOUNT_COUNT_MAX,
                                   .transfer_count_max = FIXTURE_TRANSFER_COUNT_MAX,
                                   .account_balance_count_max = FIXTURE_BALANCE_COUNT_MAX};
    assert_int_equal(ledger_init(&fixture->ledger, &config), KHORGOS_ERROR_ok);
    fixture->timestamp_start = KHORGOS_MANUAL_CLOCK_START_NS;
    fixture->timestamp = KHORGOS_MANUAL_CLOCK_START_NS;
    return fixture;
}

static void state_close(struct fixture *fixture) {
    ledger_deinit(&fixture->ledger);
    free(fixture);
}

static struct khorgos_account state_account(u128 id, u16 flags) {
    struct khorgos_account account;
    memset(&account, 0, sizeof(account));
    account.id = id;
    account.ledger = STATE_LEDGER;
    account.code = 7;
    account.flags = flags;
    return account;
}

static struct khorgos_transfer state_transfer(u128 id, u128 debit_id, u128 credit_id,
                                              u128 amount, u16 code, u16 flags) {
    struct khorgos_transfer transfer;
    memset(&transfer, 0, sizeof(transfer));
    transfer.id = id;
    transfer.debit_account_id = debit_id;
    transfer.credit_account_id = credit_id;
    transfer.amount = amount;
    transfer.ledger = STATE_LEDGER;
    transfer.code = code;
    transfer.flags = flags;
    return transfer;
}

/* Applies a request as the engine does (then the index update) and checks every result. */
static void state_accounts(struct fixture *fixture, const struct khorgos_account *events,
                           u32 count) {
    struct khorgos_create_result results[16];
    assert_true(count <= ARRAY_COUNT(results));
    fixture->timestamp += STATE_GAP_NS + count;
    ledger_create_accounts(&fixture->ledger, fixture->timestamp, events, count, results);
    ledger_index_update(&fixture->ledger);
    for (u32 index = 0; index < count; index++) {
        assert_int_equal(results[index].status, KHORGOS_CREATE_ACCOUNT_created);
    }
}

static void state_transfers(struct fixture *fixture, const struct khorgos_transfer *events,
                            u32 count, const u32 *statuses) {
    struct khorgos_create_result results[16];
    assert_true(count <= ARRAY_COUNT(results));
    fixture->timestamp += STATE_GAP_NS + count;
    ledger_create_transfers(&fixture->ledger, fixture->timestamp, events, count, results);
    ledger_index_update(&fixture->ledger);
    for (u32 index = 0; index < count; index++) {
        assert_int_equal(results[index].status,
                         statuses == NULL ? KHORGOS_CREATE_TRANSFER_created : statuses[index]);
    }
}

static void test_state_queries_follow_create_requests(void **state) {
    (void)state;
    struct fixture *fixture = state_open();
    const struct khorgos_account accounts[] = {state_account(1, KHORGOS_ACCOUNT_HISTORY),
                                               state_account(2, KHORGOS_ACCOUNT_HISTORY),
                                               state_account(3, 0)};
    state_accounts(fixture, accounts, ARRAY_COUNT(accounts));
    struct khorgos_transfer transfers[] = {
        state_transfer(10, 1, 2, 100, 1, 0),
        state_transfer(11, 2, 3, 30, 2, KHORGOS_TRANSFER_PENDING),
        state_transfer(12, 0, 0, KHORGOS_AMOUNT_MAX, 0, KHORGOS_TRANSFER_POST_PENDING_TRANSFER),
        state_transfer(13, 1, 2, 5, 1, KHORGOS_TRANSFER_PENDING),
        state_transfer(14, 0, 0, 0, 0, KHORGOS_TRANSFER_VOID_PENDING_TRANSFER),
    };
    transfers[2].pending_id = 11;
    transfers[2].ledger = 0;
    transfers[4].pending_id = 13;
    transfers[4].ledger = 0;
    state_transfers(fixture, transfers, ARRAY_COUNT(transfers), NULL);
    /* A linked chain that fails: its first transfer is applied, then rolled back. */
    const struct khorgos_transfer chain[] = {
        state_transfer(20, 1, 2, 10, 1, KHORGOS_TRANSFER_LINKED),
        state_transfer(21, 1, 99, 10, 1, 0),
    };
    const u32 chain_statuses[] = {KHORGOS_CREATE_TRANSFER_linked_event_failed,
                                  KHORGOS_CREATE_TRANSFER_credit_account_not_found};
    state_transfers(fixture, chain, ARRAY_COUNT(chain), chain_statuses);
    const u32 both = KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS;
    struct khorgos_account_filter filter = account_filter(2, both);
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 10, 11, 12, 13, 14);
    filter.account_id = 1;
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 10, 13, 14);
    struct khorgos_query_filter query = query_filter(0);
    query.code = 2; /* the post took its code from the pending transfer */
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &query), 11, 12);
    query = query_filter(0);
    query.ledger = STATE_LEDGER;
    ASSERT_TRANSFERS(fixture, query_transfers(fixture, &query), 10, 11, 12, 13, 14);
    ASSERT_ACCOUNTS(fixture, query_accounts(fixture, &query), 1, 2, 3);
    /* Account 2's history: +100 posted, 30 pending out, posted, 5 pending in, voided. */
    filter.account_id = 2;
    u32 count = get_balances(fixture, &filter);
    assert_int_equal(count, 5);
    const struct khorgos_account_balance *balances = fixture->balances_out;
    assert_true(balances[0].credits_posted == 100 && balances[0].debits_pending == 0);
    assert_true(balances[1].debits_pending == 30 && balances[1].debits_posted == 0);
    assert_true(balances[2].debits_pending == 0 && balances[2].debits_posted == 30);
    assert_true(balances[3].credits_pending == 5);
    assert_true(balances[4].credits_pending == 0 && balances[4].credits_posted == 100);
    const u128 id = 2;
    struct khorgos_account now;
    assert_int_equal(ledger_lookup_accounts(&fixture->ledger, &id, 1, &now), 1);
    assert_true(now.debits_posted == balances[4].debits_posted &&
                now.credits_posted == balances[4].credits_posted);
    filter.account_id = 3; /* no history flag */
    assert_int_equal(get_transfers(fixture, &filter), 2);
    assert_int_equal(get_balances(fixture, &filter), 0);
    const u128 failed[] = {20, 21, 10};
    assert_int_equal(ledger_lookup_transfers(&fixture->ledger, failed, 3, fixture->transfers_out),
                     1);
    state_close(fixture);
}

static void test_state_expiry_is_not_history(void **state) {
    (void)state;
    struct fixture *fixture = state_open();
    const struct khorgos_account accounts[] = {state_account(1, KHORGOS_ACCOUNT_HISTORY),
                                               state_account(2, KHORGOS_ACCOUNT_HISTORY)};
    state_accounts(fixture, accounts, ARRAY_COUNT(accounts));
    struct khorgos_transfer pending = state_transfer(10, 1, 2, 50, 1, KHORGOS_TRANSFER_PENDING);
    pending.timeout = 1;
    state_transfers(fixture, &pending, 1, NULL);
    fixture->timestamp += 2 * 1000000000ull;
    assert_int_equal(ledger_pulse(&fixture->ledger, fixture->timestamp), 1);
    ledger_index_update(&fixture->ledger);
    const struct khorgos_transfer later = state_transfer(11, 2, 1, 7, 1, 0);
    state_transfers(fixture, &later, 1, NULL);
    struct khorgos_account_filter filter =
        account_filter(1, KHORGOS_ACCOUNT_FILTER_DEBITS | KHORGOS_ACCOUNT_FILTER_CREDITS);
    ASSERT_TRANSFERS(fixture, get_transfers(fixture, &filter), 10, 11);
    u32 count = get_balances(fixture, &filter);
    assert_int_equal(count, 2); /* the pending transfer and 11, not the expiry */
    assert_true(fixture->balances_out[0].debits_pending == 50);
    assert_true(fixture->balances_out[1].debits_pending == 0);
    assert_true(fixture->balances_out[1].credits_posted == 7);
    state_close(fixture);
}

/* Random requests through the state machine (linked chains that fail and roll back, pending
 * transfers posted, voided or expired by pulses), every query checked against brute force
 * over the ledger's own arrays after each request. */
static struct khorgos_transfer random_state_transfer(const struct fixture *fixture, u128 id,
                                                     u32 account_count) {
    const struct ledger *ledger = &fixture->ledger;
    /* Accounts of one parity share a ledger: pick the credit account among the debit's. */
    u32 debit = 1 + random_below(account_count);
    u32 credit = 1 + (debit - 1 + 2 * (1 + random_below(account_count / 2 - 1))) % account_count;
    if (random_below(20) == 0) credit = account_count + 1; /* not found: fails the chain */
    if (random_below(20) == 0) credit = 1 + debit % account_count; /* another ledger */
    u16 flags = random_below(4) == 0 ? KHORGOS_TRANSFER_LINKED : 0;
    struct khorgos_transfer transfer = state_transfer(id, debit, credit, 1 + random_below(50),
                                                      (u16)(1 + random_below(3)), flags);
    transfer.ledger = STATE_LEDGER + debit % 2;
    transfer.user_data_128 = random_field(4);
    transfer.user_data_64 = random_field(6);
    transfer.user_data_32 = random_field(9);
    u32 kind = random_below(5);
    if (kind == 0) {
        transfer.flags |= KHORGOS_TRANSFER_PENDING;
        transfer.timeout = random_below(3);
    } else if (kind == 1 && ledger->transfer_count > 0) {
        /* Mostly a transfer still pending: the newest one at or before a random index. */
        u32 pending_index = random_below(ledger->transfer_count);
        for (u32 back = 0; back < 64 && pending_index > 0; back++, pending_index--) {
            if (ledger->transfer_states[pending_index] == LEDGER_TRANSFER_PENDING) break;
        }
        const struct khorgos_transfer *pending = &ledger->transfers[pending_index];
        u16 resolve = random_below(2) ? KHORGOS_TRANSFER_POST_PENDING_TRANSFER
                                      : KHORGOS_TRANSFER_VOID_PENDING_TRANSFER;
        u128 amount = random_below(2) ? KHORGOS_AMOUNT_MAX : 1;
        if (resolve == KHORGOS_TRANSFER_VOID_PENDING_TRANSFER) amount = 0;
        transfer = state_transfer(id, 0, 0, amount, 0, flags | resolve);
        transfer.ledger = 0;
        transfer.pending_id = pending->id;
    }
    return transfer;
}

static void test_random_state_queries_match_brute_force(void **state) {
    (void)state;
    const u32 account_count = 12;
    struct fixture *fixture = state_open();
    for (u32 account = 1; account <= account_count; account++) {
        u16 flags = random_below(2) ? KHORGOS_ACCOUNT_HISTORY : 0;
        struct khorgos_account event = state_account(account, flags);
        event.ledger = STATE_LEDGER + account % 2;
        event.user_data_64 = random_field(6);
        event.code = (u16)(1 + random_below(5));
        state_accounts(fixture, &event, 1);
    }
    struct ledger *ledger = &fixture->ledger;
    struct khorgos_create_result results[8];
    u128 id = 1000;
    for (u32 step = 0; step < 400; step++) {
        u32 count = 1 + random_below(ARRAY_COUNT(results));
        if (!ledger_capacity_transfers(ledger, count)) break;
        struct khorgos_transfer events[ARRAY_COUNT(results)];
        for (u32 index = 0; index < count; index++) {
            events[index] = random_state_transfer(fixture, id++, account_count);
        }
        /* Time passes, up to half a second: expire what is due first, as the engine does. */
        u64 timestamp = fixture->timestamp + STATE_GAP_NS + random_next() % 500000000ull;
        u64 due = ledger_expiry_next(ledger);
        if (due != 0 && due <= timestamp) {
            ledger_pulse(ledger, timestamp);
            ledger_index_update(ledger);
            timestamp += STATE_GAP_NS;
        }
        fixture->timestamp = timestamp + count;
        ledger_create_transfers(ledger, fixture->timestamp, events, count, results);
        ledger_index_update(ledger);
        random_check_query_transfers(fixture);
        random_check_query_accounts(fixture);
        random_check_account_filter(fixture);
    }
    print_message("state machine made %u transfers, %u history entries\n", ledger->transfer_count, ledger->balance_count);
    assert_true(ledger->transfer_count > 1000);
    assert_true(ledger_check(ledger));
    state_close(fixture);
}

/* The engine updates the index after each request: queries through khorgos_execute. */
static void test_engine_queries_through_public_calls(void **state) {
    (void)state;
    struct khorgos *engine = NULL;
    /* Small capacities: the defaults reserve about 2 GB of address space, which AddressSanitizer
     * spends seconds poisoning. */
    const struct khorgos_config config = {.account_count_max = 64,
                                          .transfer_count_max = 256,
                                          .account_balance_count_max = 256,
                                          .clock_manual = 1};
    assert_int_equal(khorgos_open_memory(&engine, &config), KHORGOS_ERROR_ok);
    const struct khorgos_account accounts[] = {state_account(1, KHORGOS_ACCOUNT_HISTORY),
                                               state_account(2, 0)};
    struct khorgos_create_result results[4];
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_CREATE_ACCOUNTS,
                                      .body_size = sizeof(accounts),
                                      .body = accounts,
                                      .reply = results,
                                      .reply_capacity = sizeof(results)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.error, KHORGOS_ERROR_ok);
    const struct khorgos_transfer transfers[] = {state_transfer(10, 1, 2, 5, 3, 0),
                                                 state_transfer(11, 2, 1, 6, 4, 0)};
    request = (struct khorgos_request){.operation = KHORGOS_OPERATION_CREATE_TRANSFERS,
                                       .body_size = sizeof(transfers),
                                       .body = transfers,
                                       .reply = results,
                                       .reply_capacity = sizeof(results)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(results[1].status, KHORGOS_CREATE_TRANSFER_created);
    static struct khorgos_transfer reply[LIMIT_BATCH_EVENTS_MAX];
    struct khorgos_account_filter filter =
        account_filter(1, KHORGOS_ACCOUNT_FILTER_CREDITS | KHORGOS_ACCOUNT_FILTER_REVERSED);
    request = (struct khorgos_request){.operation = KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS,
                                       .body_size = sizeof(filter),
                                       .body = &filter,
                                       .reply = reply,
                                       .reply_capacity = sizeof(reply)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.error, KHORGOS_ERROR_ok);
    assert_int_equal(request.reply_size, sizeof(struct khorgos_transfer));
    assert_true(reply[0].id == 11);
    struct khorgos_query_filter query = query_filter(KHORGOS_QUERY_FILTER_REVERSED);
    query.code = 3;
    request = (struct khorgos_request){.operation = KHORGOS_OPERATION_QUERY_TRANSFERS,
                                       .body_size = sizeof(query),
                                       .body = &query,
                                       .reply = reply,
                                       .reply_capacity = sizeof(reply)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.reply_size, sizeof(struct khorgos_transfer));
    assert_true(reply[0].id == 10);
    khorgos_close(engine);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lookup_accounts_found_only_in_request_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lookup_transfers_found_only_in_request_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_account_transfers_sides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_transfers_reversed_and_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_account_transfers_timestamp_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_transfers_field_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_filter_invalid_returns_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_account_balances_history_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_balances_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_balances_skip_expiry_entries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_query_accounts_each_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_accounts_range_reversed_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_query_transfers_each_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_transfers_range_reversed_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_query_filter_invalid_returns_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_index_update_is_incremental_and_ignores_truncated_records, setup, teardown),
        cmocka_unit_test(test_index_init_refuses_unaddressable_capacity),
        cmocka_unit_test(test_index_pool_worst_case_growth),
        cmocka_unit_test(test_random_queries_match_brute_force),
        cmocka_unit_test(test_state_queries_follow_create_requests),
        cmocka_unit_test(test_state_expiry_is_not_history),
        cmocka_unit_test(test_random_state_queries_match_brute_force),
        cmocka_unit_test(test_engine_queries_through_public_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
