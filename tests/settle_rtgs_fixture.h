/* settle_rtgs_fixture.h: helpers shared by test_settle_rtgs.c and test_settle_snapshot.c: an
 * engine with a manual clock and small capacities, request helpers, participants, funding and
 * business days, and the conservation check (per ledger, debits == credits) run after every
 * state-changing request. Header-only: each test program includes it once. */
#ifndef KHORGOS_TESTS_SETTLE_RTGS_FIXTURE_H
#define KHORGOS_TESTS_SETTLE_RTGS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "settle/settle_private.h"

#define KZT 398u
#define CNY 156u
#define SECOND_NS 1000000000ull
#define DAY_1 20230519u
#define DAY_2 20230520u

static struct khorgos *test_open(void) {
    struct khorgos_config config = {.account_count_max = 4096, .transfer_count_max = 1u << 16,
                                    .account_balance_count_max = 1u << 16, .clock_manual = 1,
                                    .participant_count_max = 64, .payment_count_max = 8192};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &config), KHORGOS_ERROR_ok);
    return engine;
}

/* Every currency conserved: per ledger, debits == credits over all accounts. */
static void test_conservation(const struct khorgos *engine) {
    const struct ledger *ledger = &engine->ledger;
    for (u32 index = 0; index < ledger->account_count; index++) {
        u32 numeric = ledger->accounts[index].ledger;
        u128 debits = 0, credits = 0;
        for (u32 other = 0; other < ledger->account_count; other++) {
            if (ledger->accounts[other].ledger != numeric) continue;
            debits += ledger->accounts[other].debits_posted;
            credits += ledger->accounts[other].credits_posted;
        }
        assert_true(debits == credits);
    }
    assert_true(ledger_check(ledger));
    assert_true(settle_check(&engine->settle));
}

static u32 test_execute(struct khorgos *engine, u32 operation, const void *body, u32 body_size,
                        void *reply, u32 reply_capacity) {
    struct khorgos_request request = {.operation = operation, .body_size = body_size,
                                      .body = body, .reply = reply,
                                      .reply_capacity = reply_capacity};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.error, KHORGOS_ERROR_ok);
    const struct engine_operation *entry = engine_operation_find(operation);
    if (entry->changes_state) test_conservation(engine);
    return request.reply_size;
}

static struct khorgos_settle_result test_one(struct khorgos *engine, u32 operation,
                                             const void *event, u32 size) {
    struct khorgos_settle_result result;
    memset(&result, 0xAB, sizeof(result));
    u32 written = test_execute(engine, operation, event, size, &result, sizeof(result));
    assert_int_equal(written, sizeof(result));
    return result;
}

static u32 test_participant(struct khorgos *engine, const char *bic, u8 role, u32 currency_a,
                            u32 currency_b) {
    struct khorgos_participant event = {.role = role, .currencies = {currency_a, currency_b}};
    memcpy(event.bic, bic, strlen(bic));
    memcpy(event.country, bic + 4, 2);
    snprintf(event.name, sizeof(event.name), "Bank %s", bic);
    return test_one(engine, KHORGOS_OPERATION_CREATE_PARTICIPANTS, &event, sizeof(event)).status;
}

static u128 test_request_id = 1000;

static struct khorgos_settle_result test_participant_event(struct khorgos *engine, u32 operation,
                                                           const char *bic, u32 currency,
                                                           u128 amount) {
    struct khorgos_participant_event event = {.id = ++test_request_id, .amount = amount,
                                              .currency = currency};
    memcpy(event.bic, bic, strlen(bic));
    return test_one(engine, operation, &event, sizeof(event));
}

static void test_fund(struct khorgos *engine, const char *bic, u32 currency, u128 amount) {
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_FUND, bic, currency, amount).status,
                     KHORGOS_SETTLE_ok);
}

static u32 test_open_day(struct khorgos *engine, u32 currency, u32 date, u8 mode, u8 flags,
                         u64 cut_off_customer, u64 cut_off_interbank, u64 interval) {
    struct khorgos_business_day event = {.id = ++test_request_id, .currency = currency,
                                         .date = date, .cut_off_customer = cut_off_customer,
                                         .cut_off_interbank = cut_off_interbank,
                                         .resolution_interval = interval, .queue_mode = mode,
                                         .flags = flags};
    return test_one(engine, KHORGOS_OPERATION_OPEN_DAY, &event, sizeof(event)).status;
}

static struct khorgos_payment test_payment_event(u128 id, const char *debtor, const char *creditor,
                                                 u128 amount, u32 currency) {
    struct khorgos_payment payment = {.id = id, .amount = amount, .currency = currency,
                                      .priority = KHORGOS_PRIORITY_NORMAL};
    memcpy(payment.debtor, debtor, strlen(debtor));
    memcpy(payment.creditor, creditor, strlen(creditor));
    snprintf(payment.end_to_end_id, sizeof(payment.end_to_end_id), "E2E-%u", (unsigned)id);
    return payment;
}

static u32 test_pay(struct khorgos *engine, u128 id, const char *debtor, const char *creditor,
                    u128 amount, u32 currency) {
    struct khorgos_payment payment = test_payment_event(id, debtor, creditor, amount, currency);
    return test_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment, sizeof(payment)).status;
}

static struct khorgos_payment test_lookup(struct khorgos *engine, u128 id) {
    struct khorgos_payment payment;
    u32 written = test_execute(engine, KHORGOS_OPERATION_LOOKUP_PAYMENTS, &id, sizeof(id),
                               &payment, sizeof(payment));
    assert_int_equal(written, sizeof(payment));
    return payment;
}

#endif /* KHORGOS_TESTS_SETTLE_RTGS_FIXTURE_H */
