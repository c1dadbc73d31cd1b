/*
 * ledger_fixture.h: helpers shared by the ledger state machine's unit tests
 * (test_ledger_accounts.c, test_ledger_transfers.c, test_ledger_expiry.c, test_ledger_chains.c).
 *
 * A fixture is a small ledger and a clock. Every request goes through fixture_accounts /
 * fixture_transfers, which give it the next timestamp (leaving a gap of FIXTURE_GAP_NS so a
 * pulse always has room), check the ledger's invariants after it, and return the results.
 * Everything is static inline so each test program takes only what it uses.
 */
#ifndef KHORGOS_TESTS_LEDGER_FIXTURE_H
#define KHORGOS_TESTS_LEDGER_FIXTURE_H

#include "ledger/ledger_private.h"

#define FIXTURE_ACCOUNT_COUNT_MAX 64u
#define FIXTURE_TRANSFER_COUNT_MAX 256u
#define FIXTURE_BALANCE_COUNT_MAX 4096u
#define FIXTURE_GAP_NS 1000u
#define FIXTURE_EVENTS_MAX 16u
#define FIXTURE_LEDGER 398u /* KZT */
#define FIXTURE_CODE 7u
#define NS_PER_SECOND 1000000000ull

struct fixture {
    struct ledger ledger;
    u64 now; /* the last timestamp given to a request */
    struct khorgos_create_result results[FIXTURE_EVENTS_MAX];
};

static inline void fixture_open(struct fixture *fixture) {
    memset(fixture, 0, sizeof(*fixture));
    struct ledger_config config = {FIXTURE_ACCOUNT_COUNT_MAX, FIXTURE_TRANSFER_COUNT_MAX,
                                   FIXTURE_BALANCE_COUNT_MAX};
    khorgos_error error = ledger_init(&fixture->ledger, &config);
    assert_int_equal(error, KHORGOS_ERROR_ok);
    fixture->now = KHORGOS_MANUAL_CLOCK_START_NS;
}

static inline void fixture_close(struct fixture *fixture) {
    ledger_deinit(&fixture->ledger);
}

/* The timestamp the next request of `count` events gets (its last event's). */
static inline u64 fixture_next(struct fixture *fixture, u32 count) {
    return fixture->now + FIXTURE_GAP_NS + count;
}

static inline struct khorgos_create_result *
fixture_accounts(struct fixture *fixture, const struct khorgos_account *events, u32 count) {
    assert_true(count <= FIXTURE_EVENTS_MAX);
    u64 timestamp = fixture_next(fixture, count);
    ledger_create_accounts(&fixture->ledger, timestamp, events, count, fixture->results);
    fixture->now = timestamp;
    assert_true(ledger_check(&fixture->ledger));
    return fixture->results;
}

static inline struct khorgos_create_result *
fixture_transfers(struct fixture *fixture, const struct khorgos_transfer *events, u32 count) {
    assert_true(count <= FIXTURE_EVENTS_MAX);
    u64 timestamp = fixture_next(fixture, count);
    ledger_create_transfers(&fixture->ledger, timestamp, events, count, fixture->results);
    fixture->now = timestamp;
    assert_true(ledger_check(&fixture->ledger));
    return fixture->results;
}

/* Moves the clock to `timestamp` and runs a pulse there, as the engine does. */
static inline u32 fixture_pulse(struct fixture *fixture, u64 timestamp) {
    assert_true(timestamp > fixture->now);
    u32 expired = ledger_pulse(&fixture->ledger, timestamp);
    fixture->now = timestamp;
    assert_true(ledger_check(&fixture->ledger));
    return expired;
}

static inline struct khorgos_account account_make(u128 id, u16 flags) {
    struct khorgos_account account;
    memset(&account, 0, sizeof(account));
    account.id = id;
    account.ledger = FIXTURE_LEDGER;
    account.code = FIXTURE_CODE;
    account.flags = flags;
    return account;
}

static inline struct khorgos_transfer transfer_make(u128 id, u128 debit, u128 credit, u128 amount,
                                                    u16 flags) {
    struct khorgos_transfer transfer;
    memset(&transfer, 0, sizeof(transfer));
    transfer.id = id;
    transfer.debit_account_id = debit;
    transfer.credit_account_id = credit;
    transfer.amount = amount;
    transfer.ledger = FIXTURE_LEDGER;
    transfer.code = FIXTURE_CODE;
    transfer.flags = flags;
    return transfer;
}

/* A post or void of pending transfer `pending_id`, every other field left zero. */
static inline struct khorgos_transfer resolve_make(u128 id, u128 pending_id, u128 amount,
                                                   u16 flags) {
    struct khorgos_transfer transfer;
    memset(&transfer, 0, sizeof(transfer));
    transfer.id = id;
    transfer.pending_id = pending_id;
    transfer.amount = amount;
    transfer.flags = flags;
    return transfer;
}

static inline u32 fixture_account_one(struct fixture *fixture, struct khorgos_account account) {
    return fixture_accounts(fixture, &account, 1)[0].status;
}

static inline u32 fixture_transfer_one(struct fixture *fixture, struct khorgos_transfer transfer) {
    return fixture_transfers(fixture, &transfer, 1)[0].status;
}

static inline const struct khorgos_account *fixture_account(const struct fixture *fixture,
                                                            u128 id) {
    u32 index = 0;
    assert_true(ledger_account_index(&fixture->ledger, id, &index));
    return &fixture->ledger.accounts[index];
}

static inline const struct khorgos_transfer *fixture_transfer(const struct fixture *fixture,
                                                              u128 id) {
    u32 index = 0;
    if (!ledger_transfer_index(&fixture->ledger, id, &index)) return NULL;
    return &fixture->ledger.transfers[index];
}

static inline u8 fixture_transfer_state(const struct fixture *fixture, u128 id) {
    u32 index = 0;
    assert_true(ledger_transfer_index(&fixture->ledger, id, &index));
    return fixture->ledger.transfer_states[index];
}

/* Asserts an account's four balances. */
static inline void assert_balances(const struct fixture *fixture, u128 id, u128 debits_pending,
                                   u128 debits_posted, u128 credits_pending, u128 credits_posted) {
    const struct khorgos_account *account = fixture_account(fixture, id);
    assert_true(account->debits_pending == debits_pending);
    assert_true(account->debits_posted == debits_posted);
    assert_true(account->credits_pending == credits_pending);
    assert_true(account->credits_posted == credits_posted);
}

/* Creates plain accounts with ids first .. first + count - 1 and the given flags. */
static inline void fixture_open_accounts(struct fixture *fixture, u128 first, u32 count,
                                         u16 flags) {
    struct khorgos_account accounts[FIXTURE_EVENTS_MAX];
    assert_true(count <= FIXTURE_EVENTS_MAX);
    for (u32 index = 0; index < count; index++)
        accounts[index] = account_make(first + index, flags);
    struct khorgos_create_result *results = fixture_accounts(fixture, accounts, count);
    for (u32 index = 0; index < count; index++) {
        assert_int_equal(results[index].status, KHORGOS_CREATE_ACCOUNT_created);
    }
}

#endif /* KHORGOS_TESTS_LEDGER_FIXTURE_H */
