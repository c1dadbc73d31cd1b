/* test_settle_results.c: settlement replies tell what the request did.
 *  - payments_settled counts every payment an event settled, whichever path released it:
 *    offsetting on entry (the new payment and the queued ones in its set), a provider's fund
 *    releasing a waiting cross-currency payment, a new quote (set_fx_quotes), a raised limit
 *    (set_limits); releases by the request's closing pass over waiting cross-currency payments
 *    count in its last result, and a retry of that event answers the same count;
 *  - the results of one request have unique, strictly increasing timestamps, each before the
 *    transfers its event booked, and a manual clock's first multi-event request gets none before
 *    the clock's documented start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "settle_fx_fixture.h"

static void test_offsetting_on_entry_counts_the_whole_set(void **state) {
    (void)state;
    struct khorgos *engine = fixture_open();
    fixture_participant(engine, AGENT_KZT, KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0, 0, 0);
    fixture_participant(engine, BANK_KZ, KHORGOS_ROLE_BANK, KZT, 0, 0, 0);
    fixture_participant(engine, BANK_KZ2, KHORGOS_ROLE_BANK, KZT, 0, 0, 0);
    struct khorgos_business_day day = {.id = ++fixture_request_id, .currency = KZT,
                                       .date = DAY_1, .queue_mode = KHORGOS_QUEUE_MODE_FIFO,
                                       .flags = KHORGOS_DAY_OFFSETTING_ON_ENTRY};
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_OPEN_DAY, &day, sizeof(day)).status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_pay(engine, 1, BANK_KZ, BANK_KZ2, KZT, 0, 100, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_pay(engine, 2, BANK_KZ, BANK_KZ2, KZT, 0, 50, 0, 0),
                     KHORGOS_SETTLE_queued);
    /* The opposite payment offsets both: three payments settle on its entry. */
    struct khorgos_payment payment = fixture_payment_event(3, BANK_KZ2, BANK_KZ, KZT, 0, 150, 0, 0);
    struct khorgos_settle_result result =
        fixture_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment, sizeof(payment));
    assert_int_equal(result.status, KHORGOS_SETTLE_settled);
    assert_int_equal(fixture_lookup(engine, 1).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(fixture_lookup(engine, 2).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(result.payments_settled, 3);
    khorgos_close(engine);
}

/* A cross-currency payment 30 from BANK_KZ to BANK_CN, waiting in the queue for `reason`. */
static void results_pvp_waiting(struct khorgos *engine, u32 reason) {
    fixture_fund(engine, BANK_KZ, KZT, 10000000);
    assert_int_equal(fixture_pay(engine, 30, BANK_KZ, BANK_CN, KZT, CNY, 10000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    struct khorgos_payment payment = fixture_lookup(engine, 30);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_QUEUED);
    assert_int_equal(payment.reason, reason);
}

static void test_provider_fund_counts_the_release(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 100000000,
                                   fixture_later(engine, 60)),
                     KHORGOS_SETTLE_ok);
    results_pvp_waiting(engine, KHORGOS_SETTLE_provider_insufficient_funds);
    struct khorgos_participant_event fund = {.id = ++fixture_request_id, .amount = 1000000,
                                             .currency = CNY};
    memcpy(fund.bic, PROVIDER_A, strlen(PROVIDER_A));
    struct khorgos_settle_result result =
        fixture_one(engine, KHORGOS_OPERATION_FUND, &fund, sizeof(fund));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_lookup(engine, 30).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(result.payments_settled, 1);
    /* A retry answers as the first time. */
    struct khorgos_settle_result retry =
        fixture_one(engine, KHORGOS_OPERATION_FUND, &fund, sizeof(fund));
    assert_int_equal(retry.flags, KHORGOS_SETTLE_RESULT_RETRY);
    assert_int_equal(retry.payments_settled, 1);
    assert_true(retry.timestamp == result.timestamp);
    khorgos_close(engine);
}

static void test_new_quote_counts_the_release(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    fixture_fund(engine, PROVIDER_A, CNY, 1000000);
    /* The pair has a route, but its only quote has expired. */
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 100000000,
                                   fixture_later(engine, 60)),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(khorgos_clock_advance(engine, 120 * SECOND_NS), KHORGOS_ERROR_ok);
    results_pvp_waiting(engine, KHORGOS_SETTLE_quote_unavailable);
    /* Two quotes in one request: the release counts once, in the last result. */
    struct khorgos_fx_quote quotes[2] = {
        fixture_quote_event(2, PROVIDER_A, KZT, CNY, 152, -4, 100000000, fixture_later(engine, 60)),
        fixture_quote_event(3, PROVIDER_A, KGS, CNY, 8, -2, 100000000, fixture_later(engine, 60)),
    };
    struct khorgos_settle_result results[2];
    assert_int_equal(fixture_execute(engine, KHORGOS_OPERATION_SET_FX_QUOTES, quotes,
                                     sizeof(quotes), results, sizeof(results)),
                     sizeof(results));
    assert_int_equal(results[0].status, KHORGOS_SETTLE_ok);
    assert_int_equal(results[1].status, KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_lookup(engine, 30).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(results[0].payments_settled + results[1].payments_settled, 1);
    assert_int_equal(results[1].payments_settled, 1);
    khorgos_close(engine);
}

static void test_raised_limit_counts_the_release(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 100000000,
                                   fixture_later(engine, 60)),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_participant_event(engine, KHORGOS_OPERATION_SET_LIMITS, PROVIDER_A,
                                               CNY, 100000, KHORGOS_LIMIT_NET_DEBIT_CAP),
                     KHORGOS_SETTLE_ok);
    fixture_fund(engine, PROVIDER_A, CNY, 1000000);
    results_pvp_waiting(engine, KHORGOS_SETTLE_exceeds_net_debit_cap);
    struct khorgos_participant_event limit = {.id = ++fixture_request_id,
                                              .amount = KHORGOS_AMOUNT_MAX, .currency = CNY,
                                              .limit_kind = KHORGOS_LIMIT_NET_DEBIT_CAP};
    memcpy(limit.bic, PROVIDER_A, strlen(PROVIDER_A));
    struct khorgos_settle_result result =
        fixture_one(engine, KHORGOS_OPERATION_SET_LIMITS, &limit, sizeof(limit));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_lookup(engine, 30).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(result.payments_settled, 1);
    khorgos_close(engine);
}

static void test_timestamps_unique_per_event(void **state) {
    (void)state;
    struct khorgos *engine = fixture_open();
    u64 start = khorgos_clock_now(engine);
    assert_true(start == KHORGOS_MANUAL_CLOCK_START_NS);
    /* The first request of an engine, many events: none before the manual clock's start. */
    struct khorgos_participant participants[4] = {
        {.role = KHORGOS_ROLE_SETTLEMENT_AGENT, .currencies = {KZT}},
        {.role = KHORGOS_ROLE_BANK, .currencies = {KZT}},
        {.role = KHORGOS_ROLE_BANK, .currencies = {KZT}},
        {.role = KHORGOS_ROLE_BANK, .currencies = {KZT}},
    };
    const char *bics[4] = {AGENT_KZT, BANK_KZ, BANK_KZ2, "CASPKZKA"};
    for (u32 index = 0; index < 4; index++) {
        memcpy(participants[index].bic, bics[index], 8);
        memcpy(participants[index].country, "KZ", 2);
        snprintf(participants[index].name, sizeof(participants[index].name), "P%u", index);
    }
    struct khorgos_settle_result results[4];
    fixture_execute(engine, KHORGOS_OPERATION_CREATE_PARTICIPANTS, participants,
                    sizeof(participants), results, sizeof(results));
    for (u32 index = 0; index < 4; index++) {
        assert_int_equal(results[index].status, KHORGOS_SETTLE_ok);
        assert_true(results[index].timestamp >= start);
        if (index > 0) assert_true(results[index].timestamp > results[index - 1].timestamp);
    }
    for (u32 index = 0; index < engine->ledger.account_count; index++) {
        assert_true(engine->ledger.accounts[index].timestamp >= start);
    }
    fixture_open_day(engine, KZT, KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    fixture_fund(engine, BANK_KZ, KZT, 1000);
    /* Payments of one request: each its own timestamp, in order, each before its transfer. */
    struct khorgos_payment payments[3];
    for (u32 index = 0; index < 3; index++) {
        payments[index] = fixture_payment_event(40 + index, BANK_KZ, BANK_KZ2, KZT, 0, 10, 0, 0);
    }
    struct khorgos_settle_result settled[3];
    fixture_execute(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, payments, sizeof(payments),
                    settled, sizeof(settled));
    u64 previous = results[3].timestamp;
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(settled[index].status, KHORGOS_SETTLE_settled);
        assert_true(settled[index].timestamp > previous);
        struct khorgos_payment payment = fixture_lookup(engine, 40 + index);
        assert_true(payment.submitted_at == settled[index].timestamp);
        u32 transfer = 0;
        assert_true(base_id_map_get(&engine->ledger.transfer_map, payment.transfer_id_debit,
                                    &transfer));
        assert_true(engine->ledger.transfers[transfer].timestamp > settled[index].timestamp);
        previous = engine->ledger.transfers[transfer].timestamp;
    }
    khorgos_close(engine);
}

/* A ledger request of many events first on a manual clock: its events take the timestamps
 * from the clock's start on, none before it. */
static void test_manual_clock_first_request_starts_at_start(void **state) {
    (void)state;
    struct khorgos *engine = fixture_open();
    struct khorgos_account accounts[5];
    memset(accounts, 0, sizeof(accounts));
    for (u32 index = 0; index < 5; index++) {
        accounts[index] = (struct khorgos_account){.id = index + 1, .ledger = KZT, .code = 1};
    }
    struct khorgos_create_result results[5];
    fixture_execute(engine, KHORGOS_OPERATION_CREATE_ACCOUNTS, accounts, sizeof(accounts),
                    results, sizeof(results));
    for (u32 index = 0; index < 5; index++) {
        assert_int_equal(results[index].status, KHORGOS_CREATE_ACCOUNT_created);
        assert_true(engine->ledger.accounts[index].timestamp ==
                    KHORGOS_MANUAL_CLOCK_START_NS + index);
    }
    khorgos_close(engine);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsetting_on_entry_counts_the_whole_set),
        cmocka_unit_test(test_provider_fund_counts_the_release),
        cmocka_unit_test(test_new_quote_counts_the_release),
        cmocka_unit_test(test_raised_limit_counts_the_release),
        cmocka_unit_test(test_timestamps_unique_per_event),
        cmocka_unit_test(test_manual_clock_first_request_starts_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
