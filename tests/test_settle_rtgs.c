/* test_settle_rtgs.c: real-time gross settlement through khorgos_execute: participants,
 * funding, payments settled, queued and released, intraday credit drawn and repaid, limits,
 * fifo and bypass_fifo, offsetting on entry, gridlock resolution, cut-offs and settle-by as
 * timers, value dates, cancel and re-prioritise, idempotent request ids, exact replay.
 * After every state-changing request the ledger's and the layer's invariants are checked, and
 * every currency is checked to be conserved (sum of debits == sum of credits per ledger). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"

#include "settle_rtgs_fixture.h"

static u32 test_day_event(struct khorgos *engine, u32 operation, u32 currency) {
    struct khorgos_business_day event = {.id = ++test_request_id, .currency = currency};
    return test_one(engine, operation, &event, sizeof(event)).status;
}

static struct khorgos_position test_position(struct khorgos *engine, const char *bic,
                                             u32 currency) {
    struct khorgos_settle_filter filter = {.currency = currency};
    memcpy(filter.bic, bic, strlen(bic));
    static struct khorgos_position positions[LIMIT_BATCH_EVENTS_MAX];
    u32 written = test_execute(engine, KHORGOS_OPERATION_GET_POSITIONS, &filter, sizeof(filter),
                               positions, sizeof(positions));
    assert_int_equal(written, sizeof(struct khorgos_position));
    return positions[0];
}

/* An agent and three banks holding KZT (A, B, C), the day open with `mode` and `flags`. */
static struct khorgos *test_system(u8 mode, u8 flags) {
    struct khorgos *engine = test_open();
    assert_int_equal(test_participant(engine, "NBRKKZKX", KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, CNY),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, "HSBKKZKX", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, "KCJBKZKX", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, "CASPKZKA", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_open_day(engine, KZT, DAY_1, mode, flags, 0, 0, 0), KHORGOS_SETTLE_ok);
    return engine;
}

#define A "HSBKKZKX"
#define B "KCJBKZKX"
#define C "CASPKZKA"

/* ----------------------------------------------------------------------------------------- */

static void test_participants_validated(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    /* The 8-character BIC is the 11-character one ending in XXX: same fields, a retry. */
    struct khorgos_participant event = {.role = KHORGOS_ROLE_BANK, .currencies = {KZT}};
    memcpy(event.bic, "HSBKKZKXXXX", 11);
    memcpy(event.country, "KZ", 2);
    snprintf(event.name, sizeof(event.name), "Bank %s", A);
    struct khorgos_settle_result result =
        test_one(engine, KHORGOS_OPERATION_CREATE_PARTICIPANTS, &event, sizeof(event));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(result.flags, KHORGOS_SETTLE_RESULT_RETRY);
    event.role = KHORGOS_ROLE_LIQUIDITY_PROVIDER; /* other fields: DUPL */
    result = test_one(engine, KHORGOS_OPERATION_CREATE_PARTICIPANTS, &event, sizeof(event));
    assert_int_equal(result.status, KHORGOS_SETTLE_exists_with_different_fields);
    assert_string_equal(khorgos_settle_status_iso_code(result.status), "DUPL");
    assert_int_equal(test_participant(engine, "HSBK1ZKX", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_bic_invalid);
    assert_int_equal(test_participant(engine, "HSBKQQKX", KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_bic_invalid); /* QQ is no country */
    assert_string_equal(khorgos_settle_status_iso_code(KHORGOS_SETTLE_bic_invalid), "RC01");
    assert_int_equal(test_participant(engine, "PBOCCNBJ", KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0),
                     KHORGOS_SETTLE_settlement_agent_exists);
    assert_int_equal(test_participant(engine, "PBOCCNBJ", KHORGOS_ROLE_BANK, 999, 0),
                     KHORGOS_SETTLE_currency_invalid);
    assert_int_equal(test_participant(engine, "PBOCCNBJ", 9, CNY, 0), KHORGOS_SETTLE_role_invalid);
    assert_int_equal(engine->settle.participant_count, 4);
    assert_int_equal(test_participant(engine, "PBOCCNBJ", KHORGOS_ROLE_BANK, CNY, 0),
                     KHORGOS_SETTLE_ok);
    /* The account id scheme: namespace, kind, currency, participant number. */
    u128 id = settle_account_id(SETTLE_ACCOUNT_SETTLEMENT, KZT, 2);
    assert_true((u64)(id >> 112) == 0x4B53);
    assert_true(((u64)(id >> 64) & 0xFFFFFFFFFFFFull) == ((u64)SETTLE_ACCOUNT_SETTLEMENT << 40 | KZT));
    assert_true((u64)id == 2);
    struct khorgos_account account;
    assert_int_equal(test_execute(engine, KHORGOS_OPERATION_LOOKUP_ACCOUNTS, &id, sizeof(id),
                                  &account, sizeof(account)),
                     sizeof(account));
    assert_true((account.flags & KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) != 0);
    khorgos_close(engine);
}

static void test_payment_settles_and_names_transfers(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    test_fund(engine, A, KZT, 1000);
    assert_int_equal(test_pay(engine, 1, A, B, 400, KZT), KHORGOS_SETTLE_settled);
    struct khorgos_payment payment = test_lookup(engine, 1);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_SETTLED);
    assert_true(payment.transfer_id_debit != 0 && payment.transfer_id_credit == 0);
    assert_true(payment.transfer_id_credit_draw == 0);
    struct khorgos_transfer transfer;
    assert_int_equal(test_execute(engine, KHORGOS_OPERATION_LOOKUP_TRANSFERS,
                                  &payment.transfer_id_debit, sizeof(u128), &transfer,
                                  sizeof(transfer)),
                     sizeof(transfer));
    assert_true(transfer.amount == 400 && transfer.user_data_128 == 1);
    assert_true(transfer.debit_account_id == settle_account_id(SETTLE_ACCOUNT_SETTLEMENT, KZT, 2));
    assert_true(transfer.credit_account_id == settle_account_id(SETTLE_ACCOUNT_SETTLEMENT, KZT, 3));
    assert_true(test_position(engine, A, KZT).balance == 600);
    assert_true(test_position(engine, B, KZT).balance == 400);
    assert_true(test_position(engine, B, KZT).received == 400);
    /* Bad input changes nothing and says why. */
    assert_int_equal(test_pay(engine, 2, A, "NOPEKZKX", 1, KZT), KHORGOS_SETTLE_creditor_not_found);
    assert_int_equal(test_pay(engine, 3, A, B, 0, KZT), KHORGOS_SETTLE_amount_must_not_be_zero);
    assert_int_equal(test_pay(engine, 4, A, A, 5, KZT), KHORGOS_SETTLE_accounts_must_be_different);
    assert_int_equal(test_pay(engine, 5, A, B, 5, CNY), KHORGOS_SETTLE_currency_not_held);
    assert_int_equal(test_pay(engine, 6, A, B, 5, 999), KHORGOS_SETTLE_currency_invalid);
    struct khorgos_payment bad = test_payment_event(7, A, B, 5, KZT);
    bad.priority = 7;
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &bad, sizeof(bad)).status,
                     KHORGOS_SETTLE_priority_invalid);
    assert_true(test_position(engine, A, KZT).balance == 600);
    khorgos_close(engine);
}

static void test_queued_then_released_by_funds(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    assert_int_equal(test_pay(engine, 1, A, B, 300, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_lookup(engine, 1).reason, KHORGOS_SETTLE_insufficient_funds);
    assert_int_equal(test_pay(engine, 2, B, C, 200, KZT), KHORGOS_SETTLE_queued);
    /* Funding A releases A -> B, whose receipt releases B -> C. */
    struct khorgos_settle_result result =
        test_participant_event(engine, KHORGOS_OPERATION_FUND, A, KZT, 300);
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(result.payments_settled, 2);
    assert_int_equal(test_lookup(engine, 2).state, KHORGOS_PAYMENT_SETTLED);
    assert_true(test_position(engine, C, KZT).balance == 200);
    assert_true(test_position(engine, B, KZT).balance == 100);
    khorgos_close(engine);
}

static void test_queue_mode_none_rejects(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_NONE, 0);
    assert_int_equal(test_pay(engine, 1, A, B, 300, KZT), KHORGOS_SETTLE_insufficient_funds);
    assert_string_equal(khorgos_settle_status_iso_code(KHORGOS_SETTLE_insufficient_funds), "AM04");
    assert_int_equal(test_lookup(engine, 1).state, KHORGOS_PAYMENT_REJECTED);
    assert_true(test_position(engine, A, KZT).rejected == 300);
    khorgos_close(engine);
}

static void test_credit_drawn_and_repaid(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    test_fund(engine, A, KZT, 100);
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_SET_CREDIT_LINES, A, KZT, 500)
                         .status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_pay(engine, 1, A, B, 300, KZT), KHORGOS_SETTLE_settled);
    struct khorgos_payment payment = test_lookup(engine, 1);
    assert_true(payment.transfer_id_credit_draw != 0);
    struct khorgos_transfer draw;
    assert_int_equal(test_execute(engine, KHORGOS_OPERATION_LOOKUP_TRANSFERS,
                                  &payment.transfer_id_credit_draw, sizeof(u128), &draw,
                                  sizeof(draw)),
                     sizeof(draw));
    assert_true(draw.amount == 200); /* only what was missing */
    assert_true((draw.flags & KHORGOS_TRANSFER_LINKED) != 0); /* in the payment's chain */
    struct khorgos_position position = test_position(engine, A, KZT);
    assert_true(position.balance == 0 && position.credit_outstanding == 200);
    assert_true(position.credit_used == 200);
    /* Beyond the credit line: queued (and still so after A receives 150: 450 < 500). */
    assert_int_equal(test_pay(engine, 2, A, B, 500, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_SET_CREDIT_LINES, A, KZT, 100)
                         .status,
                     KHORGOS_SETTLE_credit_line_below_outstanding);
    assert_int_equal(test_pay(engine, 3, B, A, 150, KZT), KHORGOS_SETTLE_settled);
    /* At the close: the queued payment is rejected, 150 repaid, 50 overnight. */
    assert_int_equal(test_day_event(engine, KHORGOS_OPERATION_CLOSE_DAY, KZT), KHORGOS_SETTLE_ok);
    assert_int_equal(test_lookup(engine, 2).state, KHORGOS_PAYMENT_REJECTED);
    assert_int_equal(test_lookup(engine, 2).reason, KHORGOS_SETTLE_day_closed);
    position = test_position(engine, A, KZT);
    assert_true(position.credit_repaid == 150 && position.overnight_credit == 50);
    assert_true(position.credit_outstanding == 50 && position.balance == 0);
    /* B's end-of-day figures: the closing balance stays what it was at the close when B is
     * funded before the next day, and the next open_day clears it. */
    position = test_position(engine, B, KZT);
    assert_true(position.closing_balance == 300 - 150 && position.balance == 150);
    test_fund(engine, B, KZT, 1000);
    position = test_position(engine, B, KZT);
    assert_true(position.closing_balance == 150 && position.balance == 1150);
    assert_int_equal(test_open_day(engine, KZT, DAY_2, KHORGOS_QUEUE_MODE_FIFO, 0, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    position = test_position(engine, B, KZT);
    assert_true(position.closing_balance == 0 && position.opening_balance == 1150);
    khorgos_close(engine);
}

/* Three banks, no liquidity, each owing the next the same amount. */
static void test_gridlock_textbook(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO,
                                         KHORGOS_DAY_RESOLUTION_ON_REQUEST);
    assert_int_equal(test_pay(engine, 1, A, B, 100, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 2, B, C, 100, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 3, C, A, 100, KZT), KHORGOS_SETTLE_queued);
    struct khorgos_business_day event = {.id = 77, .currency = KZT};
    struct khorgos_settle_result result =
        test_one(engine, KHORGOS_OPERATION_RESOLVE_GRIDLOCK, &event, sizeof(event));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(result.payments_settled, 3);
    for (u128 id = 1; id <= 3; id++) {
        struct khorgos_payment payment = test_lookup(engine, id);
        assert_int_equal(payment.state, KHORGOS_PAYMENT_SETTLED);
        assert_true(payment.transfer_id_debit != 0 && payment.transfer_id_credit != 0);
    }
    assert_true(test_position(engine, A, KZT).balance == 0);
    assert_true(test_position(engine, A, KZT).sent == 100);
    /* A retry of the request is answered, not applied again. */
    result = test_one(engine, KHORGOS_OPERATION_RESOLVE_GRIDLOCK, &event, sizeof(event));
    assert_int_equal(result.flags, KHORGOS_SETTLE_RESULT_RETRY);
    assert_int_equal(result.payments_settled, 3);
    khorgos_close(engine);
}

static struct khorgos_payment *test_payment_record(struct khorgos *engine, u128 id) {
    for (u32 index = 0; index < engine->settle.payment_count; index++) {
        if (engine->settle.payments[index].id == id) return &engine->settle.payments[index];
    }
    fail_msg("no payment %llu", (unsigned long long)id);
    return NULL;
}

/* settle_check holds a payment's settled_in to its state: each way of breaking it is found. */
static void test_check_settled_in(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO,
                                         KHORGOS_DAY_RESOLUTION_ON_REQUEST);
    assert_int_equal(test_pay(engine, 1, A, B, 100, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 2, B, A, 100, KZT), KHORGOS_SETTLE_queued);
    struct khorgos_business_day event = {.id = 77, .currency = KZT};
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_RESOLVE_GRIDLOCK, &event, sizeof(event))
                         .payments_settled, 2);
    test_fund(engine, A, KZT, 50);
    assert_int_equal(test_pay(engine, 3, A, B, 50, KZT), KHORGOS_SETTLE_settled);
    assert_int_equal(test_pay(engine, 4, A, B, 500, KZT), KHORGOS_SETTLE_queued);
    struct khorgos_payment *in_set = test_payment_record(engine, 1);
    struct khorgos_payment *alone = test_payment_record(engine, 3);
    struct khorgos_payment *queued = test_payment_record(engine, 4);
    assert_int_equal(in_set->settled_in, KHORGOS_SETTLED_IN_SET);
    assert_int_equal(alone->settled_in, KHORGOS_SETTLED_IN_ALONE);
    assert_int_equal(queued->settled_in, KHORGOS_SETTLED_IN_NONE);
    assert_true(settle_check(&engine->settle));
    /* Settled but no path; a path but not settled; a window with none; out of range. */
    const struct {
        struct khorgos_payment *payment;
        u8 settled_in;
    } breaks[] = {{alone, KHORGOS_SETTLED_IN_NONE}, {in_set, KHORGOS_SETTLED_IN_NONE},
                  {queued, KHORGOS_SETTLED_IN_ALONE}, {alone, KHORGOS_SETTLED_IN_WINDOW},
                  {alone, KHORGOS_SETTLED_IN_WINDOW + 1}};
    for (u32 index = 0; index < sizeof(breaks) / sizeof(breaks[0]); index++) {
        u8 kept = breaks[index].payment->settled_in;
        breaks[index].payment->settled_in = breaks[index].settled_in;
        assert_false(settle_check(&engine->settle));
        breaks[index].payment->settled_in = kept;
        assert_true(settle_check(&engine->settle));
    }
    khorgos_close(engine);
}

/* Unequal amounts: only the coverable subset settles. */
static void test_gridlock_unequal(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO,
                                         KHORGOS_DAY_RESOLUTION_ON_REQUEST);
    assert_int_equal(test_pay(engine, 1, A, B, 100, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 2, B, C, 100, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 3, C, A, 100, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 4, C, A, 50, KZT), KHORGOS_SETTLE_queued);
    struct khorgos_business_day event = {.id = 78, .currency = KZT};
    struct khorgos_settle_result result =
        test_one(engine, KHORGOS_OPERATION_RESOLVE_GRIDLOCK, &event, sizeof(event));
    assert_int_equal(result.payments_settled, 3);
    assert_int_equal(test_lookup(engine, 4).state, KHORGOS_PAYMENT_QUEUED);
    for (u128 id = 1; id <= 3; id++) {
        assert_int_equal(test_lookup(engine, id).state, KHORGOS_PAYMENT_SETTLED);
    }
    /* Resolution switched off: refused. */
    khorgos_close(engine);
    engine = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    result = test_one(engine, KHORGOS_OPERATION_RESOLVE_GRIDLOCK, &event, sizeof(event));
    assert_int_equal(result.status, KHORGOS_SETTLE_resolution_disabled);
    khorgos_close(engine);
}

static void test_gridlock_with_credit(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO,
                                         KHORGOS_DAY_RESOLUTION_ON_REQUEST);
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_SET_CREDIT_LINES, B, KZT, 60)
                         .status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_pay(engine, 1, A, B, 100, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 2, B, A, 160, KZT), KHORGOS_SETTLE_queued);
    struct khorgos_business_day event = {.id = 79, .currency = KZT};
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_RESOLVE_GRIDLOCK, &event, sizeof(event))
                         .payments_settled,
                     2);
    assert_true(test_position(engine, B, KZT).credit_outstanding == 60);
    assert_true(test_position(engine, A, KZT).balance == 60);
    khorgos_close(engine);
}

/* A set longer than a ledger batch (5,000 payments, 10,000 transfers) is booked as consecutive
 * linked chains of at most a batch; all settle, the clearing account ends at zero. */
static void test_gridlock_longer_than_a_batch(void **state) {
    (void)state;
    struct khorgos *engine = test_open();
    assert_int_equal(test_participant(engine, "NBRKKZKX", KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0),
                     KHORGOS_SETTLE_ok);
    enum { banks = 40, payments = 5000, batch = 1000 };
    char bics[banks][12];
    for (u32 index = 0; index < banks; index++) {
        snprintf(bics[index], sizeof(bics[index]), "BANKKZ%02u", index);
        assert_int_equal(test_participant(engine, bics[index], KHORGOS_ROLE_BANK, KZT, 0),
                         KHORGOS_SETTLE_ok);
    }
    assert_int_equal(test_open_day(engine, KZT, DAY_1, KHORGOS_QUEUE_MODE_FIFO,
                                   KHORGOS_DAY_RESOLUTION_ON_REQUEST, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    static struct khorgos_payment events[batch];
    static struct khorgos_settle_result results[batch];
    for (u32 start = 0; start < payments; start += batch) {
        for (u32 index = 0; index < batch; index++) {
            u32 number = start + index;
            events[index] = test_payment_event(number + 1, bics[number % banks],
                                               bics[(number + 1) % banks], 10, KZT);
        }
        test_execute(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, events, sizeof(events), results,
                     sizeof(results));
        for (u32 index = 0; index < batch; index++) {
            assert_int_equal(results[index].status, KHORGOS_SETTLE_queued);
        }
    }
    u32 transfers_before = engine->ledger.transfer_count;
    struct khorgos_business_day event = {.id = 80, .currency = KZT};
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_RESOLVE_GRIDLOCK, &event, sizeof(event))
                         .payments_settled,
                     payments);
    assert_int_equal(engine->ledger.transfer_count - transfers_before, 2 * payments);
    assert_true(engine->ledger.transfer_count - transfers_before > LIMIT_BATCH_EVENTS_MAX);
    assert_int_equal(test_lookup(engine, payments).state, KHORGOS_PAYMENT_SETTLED);
    khorgos_close(engine);
}

static void test_fifo_and_bypass_fifo(void **state) {
    (void)state;
    for (u32 mode = KHORGOS_QUEUE_MODE_FIFO; mode <= KHORGOS_QUEUE_MODE_BYPASS_FIFO; mode++) {
        struct khorgos *engine = test_system((u8)mode, 0);
        test_fund(engine, A, KZT, 100);
        assert_int_equal(test_pay(engine, 1, A, B, 150, KZT), KHORGOS_SETTLE_queued);
        u32 status = test_pay(engine, 2, A, C, 50, KZT);
        assert_int_equal(status, mode == KHORGOS_QUEUE_MODE_FIFO ? KHORGOS_SETTLE_queued
                                                                 : KHORGOS_SETTLE_settled);
        /* An urgent payment is not held behind a normal one, even under fifo. */
        struct khorgos_payment urgent = test_payment_event(3, A, C, 10, KZT);
        urgent.priority = KHORGOS_PRIORITY_URGENT;
        assert_int_equal(
            test_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &urgent, sizeof(urgent)).status,
            KHORGOS_SETTLE_settled);
        static struct khorgos_payment queue[LIMIT_BATCH_EVENTS_MAX];
        struct khorgos_settle_filter filter = {.currency = KZT};
        memcpy(filter.bic, A, 8);
        u32 written = test_execute(engine, KHORGOS_OPERATION_GET_QUEUE, &filter, sizeof(filter),
                                   queue, sizeof(queue));
        assert_int_equal(written / sizeof(queue[0]), mode == KHORGOS_QUEUE_MODE_FIFO ? 2 : 1);
        assert_true(queue[0].id == 1);
        khorgos_close(engine);
    }
}

static void test_cancel_and_reprioritize(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    test_fund(engine, A, KZT, 100);
    assert_int_equal(test_pay(engine, 1, A, B, 150, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 2, A, C, 50, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 3, A, C, 30, KZT), KHORGOS_SETTLE_queued);
    /* Re-prioritising 3 to urgent puts it at the head: it settles. */
    struct khorgos_payment_change change = {.id = 501, .payment_id = 3,
                                            .priority = KHORGOS_PRIORITY_URGENT};
    struct khorgos_settle_result result =
        test_one(engine, KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS, &change, sizeof(change));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(result.payments_settled, 1);
    assert_int_equal(test_lookup(engine, 3).state, KHORGOS_PAYMENT_SETTLED);
    /* Cancelling the head releases what it held. */
    change = (struct khorgos_payment_change){.id = 502, .payment_id = 1};
    result = test_one(engine, KHORGOS_OPERATION_CANCEL_PAYMENTS, &change, sizeof(change));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(test_lookup(engine, 1).state, KHORGOS_PAYMENT_CANCELLED);
    assert_int_equal(test_lookup(engine, 2).state, KHORGOS_PAYMENT_SETTLED);
    change = (struct khorgos_payment_change){.id = 503, .payment_id = 2};
    result = test_one(engine, KHORGOS_OPERATION_CANCEL_PAYMENTS, &change, sizeof(change));
    assert_int_equal(result.status, KHORGOS_SETTLE_payment_not_queued);
    khorgos_close(engine);
}

/* A cancellation carrying a message's checksum is that message's request: its id again with the
 * same checksum is answered as the first time whatever payment it names, with another checksum
 * exists_with_different_fields; a re-prioritisation may not carry one. */
static void test_cancel_of_a_message(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    assert_int_equal(test_pay(engine, 1, A, B, 150, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 2, A, B, 150, KZT), KHORGOS_SETTLE_queued);
    struct khorgos_payment_change change = {.id = 701, .message_checksum = 77};
    struct khorgos_settle_result first =
        test_one(engine, KHORGOS_OPERATION_CANCEL_PAYMENTS, &change, sizeof(change));
    assert_int_equal(first.status, KHORGOS_SETTLE_payment_not_found);
    change.payment_id = 1; /* the original found since: still the first answer */
    struct khorgos_settle_result result =
        test_one(engine, KHORGOS_OPERATION_CANCEL_PAYMENTS, &change, sizeof(change));
    assert_int_equal(result.status, KHORGOS_SETTLE_payment_not_found);
    assert_true(result.timestamp == first.timestamp);
    assert_true((result.flags & KHORGOS_SETTLE_RESULT_RETRY) != 0);
    assert_int_equal(test_lookup(engine, 1).state, KHORGOS_PAYMENT_QUEUED);
    change.message_checksum = 78;
    result = test_one(engine, KHORGOS_OPERATION_CANCEL_PAYMENTS, &change, sizeof(change));
    assert_int_equal(result.status, KHORGOS_SETTLE_exists_with_different_fields);
    assert_int_equal(test_lookup(engine, 1).state, KHORGOS_PAYMENT_QUEUED);
    change = (struct khorgos_payment_change){.id = 702, .payment_id = 2, .message_checksum = 9};
    result = test_one(engine, KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS, &change, sizeof(change));
    assert_int_equal(result.status, KHORGOS_SETTLE_reserved_field);
    change.id = 703;
    result = test_one(engine, KHORGOS_OPERATION_CANCEL_PAYMENTS, &change, sizeof(change));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(test_lookup(engine, 2).state, KHORGOS_PAYMENT_CANCELLED);
    khorgos_close(engine);
}

static void test_limits_keep_queued(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    test_fund(engine, A, KZT, 1000);
    struct khorgos_participant_event cap = {.id = 601, .amount = 50, .currency = KZT,
                                            .limit_kind = KHORGOS_LIMIT_NET_DEBIT_CAP};
    memcpy(cap.bic, A, 8);
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_SET_LIMITS, &cap, sizeof(cap)).status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_pay(engine, 1, A, B, 80, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_lookup(engine, 1).reason, KHORGOS_SETTLE_exceeds_net_debit_cap);
    /* A receipt lowers the position: the payment settles. */
    test_fund(engine, C, KZT, 100);
    assert_int_equal(test_pay(engine, 2, C, A, 30, KZT), KHORGOS_SETTLE_settled);
    assert_int_equal(test_lookup(engine, 1).state, KHORGOS_PAYMENT_SETTLED);
    /* A bilateral limit A -> B of 10. */
    struct khorgos_participant_event bilateral = {.id = 602, .amount = 10, .currency = KZT,
                                                  .limit_kind = KHORGOS_LIMIT_BILATERAL};
    memcpy(bilateral.bic, C, 8);
    memcpy(bilateral.counterparty, B, 8);
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_SET_LIMITS, &bilateral,
                              sizeof(bilateral)).status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_pay(engine, 3, C, B, 11, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_lookup(engine, 3).reason, KHORGOS_SETTLE_exceeds_bilateral_limit);
    /* The limit is C's toward B only: B pays C freely, and since the limit is on the net
     * (sent to B - received from B), B's 5 bring C's 11 within it. */
    assert_int_equal(test_pay(engine, 4, B, C, 5, KZT), KHORGOS_SETTLE_settled);
    assert_int_equal(test_lookup(engine, 3).state, KHORGOS_PAYMENT_SETTLED);
    khorgos_close(engine);
}

static void test_suspend_and_reinstate(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    test_fund(engine, A, KZT, 100);
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_SUSPEND, A, 0, 0).status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_pay(engine, 1, A, B, 10, KZT), KHORGOS_SETTLE_participant_suspended);
    assert_string_equal(khorgos_settle_status_iso_code(KHORGOS_SETTLE_participant_suspended), "AC06");
    assert_int_equal(test_pay(engine, 2, B, A, 10, KZT), KHORGOS_SETTLE_creditor_suspended);
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_REINSTATE, A, 0, 0).status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_pay(engine, 3, A, B, 10, KZT), KHORGOS_SETTLE_settled);
    khorgos_close(engine);
}

static void test_offsetting_on_entry(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO, KHORGOS_DAY_OFFSETTING_ON_ENTRY);
    assert_int_equal(test_pay(engine, 1, A, B, 100, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 2, B, A, 100, KZT), KHORGOS_SETTLE_settled);
    assert_int_equal(test_lookup(engine, 1).state, KHORGOS_PAYMENT_SETTLED);
    assert_true(test_position(engine, A, KZT).balance == 0);
    khorgos_close(engine);
}

static void test_cut_off_rejects_queued(void **state) {
    (void)state;
    struct khorgos *engine = test_open();
    assert_int_equal(test_participant(engine, "NBRKKZKX", KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, A, KHORGOS_ROLE_BANK, KZT, 0), KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, B, KHORGOS_ROLE_BANK, KZT, 0), KHORGOS_SETTLE_ok);
    u64 now = khorgos_clock_now(engine);
    assert_int_equal(test_open_day(engine, KZT, DAY_1, KHORGOS_QUEUE_MODE_BYPASS_FIFO, 0,
                                   now + 10 * SECOND_NS, now + 20 * SECOND_NS, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_pay(engine, 1, A, B, 100, KZT), KHORGOS_SETTLE_queued);
    struct khorgos_payment interbank = test_payment_event(2, A, B, 100, KZT);
    interbank.type = KHORGOS_PAYMENT_INTERBANK;
    assert_int_equal(
        test_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &interbank, sizeof(interbank)).status,
        KHORGOS_SETTLE_queued);
    u64 requests_before = engine->request_count;
    assert_int_equal(khorgos_clock_advance(engine, 11 * SECOND_NS), KHORGOS_ERROR_ok);
    assert_int_equal(engine->request_count, requests_before + 1); /* one internal pulse */
    test_conservation(engine);
    struct khorgos_payment payment = test_lookup(engine, 1);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_REJECTED);
    assert_int_equal(payment.reason, KHORGOS_SETTLE_after_cut_off);
    assert_string_equal(khorgos_settle_status_iso_code(payment.reason), "TM01");
    assert_int_equal(test_lookup(engine, 2).state, KHORGOS_PAYMENT_QUEUED);
    assert_int_equal(test_pay(engine, 3, A, B, 1, KZT), KHORGOS_SETTLE_after_cut_off);
    /* The interbank cut-off fires before the next request past it. */
    assert_int_equal(khorgos_clock_advance(engine, 0), KHORGOS_ERROR_ok);
    engine->clock_manual_ns += 10 * SECOND_NS; /* moved without the pulse: the request runs it */
    interbank = test_payment_event(4, B, A, 1, KZT);
    interbank.type = KHORGOS_PAYMENT_INTERBANK;
    assert_int_equal(
        test_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &interbank, sizeof(interbank)).status,
        KHORGOS_SETTLE_after_cut_off);
    assert_int_equal(test_lookup(engine, 2).state, KHORGOS_PAYMENT_REJECTED);
    assert_int_equal(test_lookup(engine, 2).reason, KHORGOS_SETTLE_after_cut_off);
    khorgos_close(engine);
}

static void test_settle_by_and_value_date(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    struct khorgos_payment payment = test_payment_event(1, A, B, 100, KZT);
    payment.settle_by = khorgos_clock_now(engine) + 5 * SECOND_NS;
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment, sizeof(payment))
                         .status,
                     KHORGOS_SETTLE_queued);
    assert_int_equal(khorgos_clock_advance(engine, 6 * SECOND_NS), KHORGOS_ERROR_ok);
    assert_int_equal(test_lookup(engine, 1).reason, KHORGOS_SETTLE_settle_by_passed);
    /* Value date tomorrow: waiting, then entered when that day opens. */
    test_fund(engine, A, KZT, 500);
    payment = test_payment_event(2, A, B, 100, KZT);
    payment.value_date = DAY_2;
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment, sizeof(payment))
                         .status,
                     KHORGOS_SETTLE_waiting);
    assert_int_equal(test_day_event(engine, KHORGOS_OPERATION_CLOSE_DAY, KZT), KHORGOS_SETTLE_ok);
    assert_int_equal(test_pay(engine, 3, A, B, 1, KZT), KHORGOS_SETTLE_day_not_open);
    assert_int_equal(test_open_day(engine, KZT, DAY_1, KHORGOS_QUEUE_MODE_FIFO, 0, 0, 0, 0),
                     KHORGOS_SETTLE_date_invalid);
    assert_int_equal(test_open_day(engine, KZT, DAY_2, KHORGOS_QUEUE_MODE_FIFO, 0, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_lookup(engine, 2).state, KHORGOS_PAYMENT_SETTLED);
    struct khorgos_position position = test_position(engine, A, KZT);
    assert_true(position.opening_balance == 500 && position.balance == 400);
    khorgos_close(engine);
}

static void test_idempotent_request_ids(void **state) {
    (void)state;
    struct khorgos *engine = test_system(KHORGOS_QUEUE_MODE_FIFO, 0);
    struct khorgos_participant_event fund = {.id = 900, .amount = 100, .currency = KZT};
    memcpy(fund.bic, A, 8);
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_FUND, &fund, sizeof(fund)).status,
                     KHORGOS_SETTLE_ok);
    struct khorgos_settle_result again = test_one(engine, KHORGOS_OPERATION_FUND, &fund, sizeof(fund));
    assert_int_equal(again.status, KHORGOS_SETTLE_ok);
    assert_int_equal(again.flags, KHORGOS_SETTLE_RESULT_RETRY);
    assert_true(test_position(engine, A, KZT).balance == 100);
    fund.amount = 101;
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_FUND, &fund, sizeof(fund)).status,
                     KHORGOS_SETTLE_exists_with_different_fields);
    /* The same id for another operation is other fields too. */
    fund.amount = 100;
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_DEFUND, &fund, sizeof(fund)).status,
                     KHORGOS_SETTLE_exists_with_different_fields);
    assert_true(test_position(engine, A, KZT).balance == 100);
    assert_int_equal(test_pay(engine, 1, A, B, 40, KZT), KHORGOS_SETTLE_settled);
    struct khorgos_payment payment = test_payment_event(1, A, B, 40, KZT);
    struct khorgos_settle_result retry =
        test_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment, sizeof(payment));
    assert_int_equal(retry.status, KHORGOS_SETTLE_settled);
    assert_int_equal(retry.flags, KHORGOS_SETTLE_RESULT_RETRY);
    assert_true(test_position(engine, A, KZT).balance == 60);
    payment.amount = 41;
    assert_int_equal(
        test_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment, sizeof(payment)).status,
        KHORGOS_SETTLE_exists_with_different_fields);
    /* Defund more than the balance: refused, nothing moves. */
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_DEFUND, A, KZT, 61).status,
                     KHORGOS_SETTLE_insufficient_funds);
    assert_int_equal(test_participant_event(engine, KHORGOS_OPERATION_DEFUND, A, KZT, 60).status,
                     KHORGOS_SETTLE_ok);
    assert_true(test_position(engine, A, KZT).balance == 0);
    /* The internal pulse cannot be sent by a client. */
    struct khorgos_request request = {.operation = KHORGOS_OPERATION_SETTLE_PULSE};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.error, KHORGOS_ERROR_invalid_operation);
    khorgos_close(engine);
}

/* The same requests on a fresh engine give the same state, byte for byte. */
static u128 test_day_digest(void) {
    test_request_id = 5000; /* the same request ids in every run */
    struct khorgos *engine = test_open();
    assert_int_equal(test_participant(engine, "NBRKKZKX", KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0),
                     KHORGOS_SETTLE_ok);
    const char *banks[] = {A, B, C};
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(test_participant(engine, banks[index], KHORGOS_ROLE_BANK, KZT, 0),
                         KHORGOS_SETTLE_ok);
    }
    struct khorgos_business_day day = {.id = 1, .currency = KZT, .date = DAY_1,
                                       .resolution_interval = 3 * SECOND_NS,
                                       .queue_mode = KHORGOS_QUEUE_MODE_BYPASS_FIFO,
                                       .flags = KHORGOS_DAY_RESOLUTION_ON_TIMER};
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_OPEN_DAY, &day, sizeof(day)).status,
                     KHORGOS_SETTLE_ok);
    u64 seed = 42;
    for (u32 index = 0; index < 60; index++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        u32 payer = (u32)(seed >> 33) % 3, payee = (payer + 1 + (u32)(seed >> 40) % 2) % 3;
        assert_int_not_equal(payer, payee);
        test_pay(engine, index + 1, banks[payer], banks[payee], 1 + (seed >> 50) % 100, KZT);
        if (index % 10 == 0) test_fund(engine, banks[payer], KZT, 50);
        assert_int_equal(khorgos_clock_advance(engine, SECOND_NS), KHORGOS_ERROR_ok);
        test_conservation(engine);
    }
    u128 digest = ledger_digest(&engine->ledger) ^ settle_digest(&engine->settle);
    khorgos_close(engine);
    return digest;
}

static void test_replay_is_exact(void **state) {
    (void)state;
    assert_true(test_day_digest() == test_day_digest());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_participants_validated),
        cmocka_unit_test(test_payment_settles_and_names_transfers),
        cmocka_unit_test(test_queued_then_released_by_funds),
        cmocka_unit_test(test_queue_mode_none_rejects),
        cmocka_unit_test(test_credit_drawn_and_repaid),
        cmocka_unit_test(test_gridlock_textbook),
        cmocka_unit_test(test_gridlock_unequal),
        cmocka_unit_test(test_check_settled_in),
        cmocka_unit_test(test_gridlock_with_credit),
        cmocka_unit_test(test_gridlock_longer_than_a_batch),
        cmocka_unit_test(test_fifo_and_bypass_fifo),
        cmocka_unit_test(test_cancel_and_reprioritize),
        cmocka_unit_test(test_cancel_of_a_message),
        cmocka_unit_test(test_limits_keep_queued),
        cmocka_unit_test(test_suspend_and_reinstate),
        cmocka_unit_test(test_offsetting_on_entry),
        cmocka_unit_test(test_cut_off_rejects_queued),
        cmocka_unit_test(test_settle_by_and_value_date),
        cmocka_unit_test(test_idempotent_request_ids),
        cmocka_unit_test(test_replay_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
