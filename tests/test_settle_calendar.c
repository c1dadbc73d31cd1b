/* test_settle_calendar.c: the holiday calendar per currency (set_holidays, settle_day.c) and
 * the positions limits are measured on (issue 4, item 1: "sent less received in that currency
 * since the day opened"), through the C API of the engine:
 *   - bad set_holidays input gets its named status and changes no calendar;
 *   - open_day on a holiday is refused (day_is_holiday) and changes nothing; past holidays are
 *     dropped when a later day opens; a holiday cannot be today's open business day;
 *   - a payment valued on a holiday of its currency, or of either currency of a cross-currency
 *     payment, is rejected (value_date_holiday, DT01); payments waiting for a day declared a
 *     holiday afterwards are rejected then;
 *   - retries are answered, not applied again; the table's bound gives capacity_full;
 *   - a bilateral limit (and a net debit cap) set in mid-day counts the day's payments so far;
 *   - the calendar survives a snapshot round trip and a journal replay, byte for byte.
 * Every state-changing request is followed by the fixture's checks (conservation per
 * currency, ledger, settlement and issue 5 invariants). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>

#include "engine/engine.h"
#include "settle/settle_private.h"
#include "storage/storage.h"

#include "settle_fx_fixture.h"
#include "settle_snapshot_round_trip.h"

#define DAY_2 20230520u
#define DAY_3 20230521u
#define DAY_4 20230522u
#define RUB 643u

static struct khorgos_settle_result calendar_holiday(struct khorgos *engine, u128 id, u32 currency,
                                                     u32 date, u8 flags) {
    struct khorgos_holiday event = {.id = id, .currency = currency, .date = date, .flags = flags};
    return fixture_one(engine, KHORGOS_OPERATION_SET_HOLIDAYS, &event, sizeof(event));
}

static u32 calendar_add(struct khorgos *engine, u32 currency, u32 date) {
    return calendar_holiday(engine, ++fixture_request_id, currency, date, 0).status;
}

static u32 calendar_open(struct khorgos *engine, u32 currency, u32 date) {
    struct khorgos_business_day event = {.id = ++fixture_request_id, .currency = currency,
                                         .date = date, .queue_mode = KHORGOS_QUEUE_MODE_BYPASS_FIFO,
                                         .flags = KHORGOS_DAY_RESOLUTION_ON_REQUEST};
    return fixture_one(engine, KHORGOS_OPERATION_OPEN_DAY, &event, sizeof(event)).status;
}

static u32 calendar_close(struct khorgos *engine, u32 currency) {
    struct khorgos_business_day event = {.id = ++fixture_request_id, .currency = currency};
    return fixture_one(engine, KHORGOS_OPERATION_CLOSE_DAY, &event, sizeof(event)).status;
}

static const struct settle_currency *calendar_currency(const struct khorgos *engine, u32 numeric) {
    u32 index = settle_currency_find(&engine->settle, numeric);
    assert_true(index != SETTLE_NONE);
    return &engine->settle.currencies[index];
}

static u32 calendar_count(const struct khorgos *engine, u32 numeric) {
    return calendar_currency(engine, numeric)->holiday_count;
}

static bool calendar_is(const struct khorgos *engine, u32 numeric, u32 date) {
    return settle_holiday_is(&engine->settle, settle_currency_find(&engine->settle, numeric), date);
}

/* A gross payment in KZT from BANK_KZ to BANK_KZ2, optionally valued on `value_date`. */
static u32 calendar_pay(struct khorgos *engine, u128 id, const char *debtor, const char *creditor,
                        u128 amount, u32 value_date) {
    struct khorgos_payment payment =
        fixture_payment_event(id, debtor, creditor, KZT, 0, amount, 0, KHORGOS_SETTLEMENT_GROSS);
    payment.value_date = value_date;
    return fixture_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment, sizeof(payment)).status;
}

static u32 calendar_limit(struct khorgos *engine, const char *bic, const char *counterparty,
                          u8 kind, u128 amount) {
    struct khorgos_participant_event event = {.id = ++fixture_request_id, .amount = amount,
                                              .currency = KZT, .limit_kind = kind};
    memcpy(event.bic, bic, strlen(bic));
    if (counterparty != NULL) memcpy(event.counterparty, counterparty, strlen(counterparty));
    return fixture_one(engine, KHORGOS_OPERATION_SET_LIMITS, &event, sizeof(event)).status;
}

/* Bad input: a named status each, and the calendar as it was. */
static void test_bad_input_changes_nothing(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_FIFO);
    assert_int_equal(calendar_add(engine, KZT, DAY_3), KHORGOS_SETTLE_ok);
    struct khorgos_holiday reserved = {.id = 1, .currency = KZT, .date = DAY_4, .reserved = {1}};
    assert_int_equal(
        fixture_one(engine, KHORGOS_OPERATION_SET_HOLIDAYS, &reserved, sizeof(reserved)).status,
        KHORGOS_SETTLE_reserved_field);
    struct {
        u128 id;
        u32 currency, date;
        u8 flags;
        u32 status;
    } cases[] = {
        {0, KZT, DAY_4, 0, KHORGOS_SETTLE_id_must_not_be_zero},
        {2, KZT, DAY_4, 2, KHORGOS_SETTLE_reserved_field},          /* unknown flag */
        {3, 999, DAY_4, 0, KHORGOS_SETTLE_currency_invalid},        /* not ISO 4217 */
        {4, RUB, DAY_4, 0, KHORGOS_SETTLE_currency_not_held},       /* nobody holds it */
        {5, KZT, 20230230, 0, KHORGOS_SETTLE_date_invalid},         /* no such day */
        {6, KZT, 0, 0, KHORGOS_SETTLE_date_invalid},
        {7, KZT, 20230518, 0, KHORGOS_SETTLE_date_invalid},         /* before today */
        {8, KZT, DAY_1, 0, KHORGOS_SETTLE_holiday_on_open_day},     /* today, open */
        {9, KZT, DAY_3, 0, KHORGOS_SETTLE_holiday_exists},
        {10, KZT, DAY_4, KHORGOS_HOLIDAY_REMOVE, KHORGOS_SETTLE_holiday_not_found},
        {11, CNY, DAY_3, KHORGOS_HOLIDAY_REMOVE, KHORGOS_SETTLE_holiday_not_found}, /* KZT's */
    };
    for (u32 index = 0; index < ARRAY_COUNT(cases); index++) {
        u128 ledger_before = ledger_digest(&engine->ledger);
        struct khorgos_settle_result result = calendar_holiday(
            engine, cases[index].id, cases[index].currency, cases[index].date, cases[index].flags);
        assert_int_equal(result.status, cases[index].status);
        assert_int_equal(result.flags, 0);
        assert_int_equal(calendar_count(engine, KZT), 1);
        assert_int_equal(calendar_count(engine, CNY), 0);
        assert_true(calendar_is(engine, KZT, DAY_3));
        assert_true(ledger_digest(&engine->ledger) == ledger_before);
    }
    /* The open day after it is closed is past too. */
    assert_int_equal(calendar_close(engine, KZT), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_add(engine, KZT, DAY_1), KHORGOS_SETTLE_date_invalid);
    assert_int_equal(calendar_count(engine, KZT), 1);
    khorgos_close(engine);
}

/* open_day on a holiday is refused and changes nothing; the next day opens and drops the past
 * holidays; a removed holiday is a business day again. */
static void test_open_day_on_holiday(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_FIFO);
    fixture_fund(engine, BANK_KZ, KZT, 1000);
    assert_int_equal(calendar_add(engine, KZT, DAY_2), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_add(engine, KZT, DAY_4), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_add(engine, CNY, DAY_3), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_close(engine, KZT), KHORGOS_SETTLE_ok);
    u128 digest = settle_digest(&engine->settle);
    struct settle_currency before = *calendar_currency(engine, KZT);
    assert_int_equal(calendar_open(engine, KZT, DAY_2), KHORGOS_SETTLE_day_is_holiday);
    struct settle_currency after = *calendar_currency(engine, KZT);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_false(after.day_open);
    assert_int_equal(after.date, DAY_1);
    /* Only the request id was remembered (its answer is part of the state). */
    assert_true(settle_digest(&engine->settle) != digest);
    assert_int_equal(calendar_pay(engine, 1, BANK_KZ, BANK_KZ2, 10, 0), KHORGOS_SETTLE_day_not_open);

    assert_int_equal(calendar_open(engine, KZT, DAY_3), KHORGOS_SETTLE_ok); /* CNY's, not KZT's */
    assert_int_equal(calendar_count(engine, KZT), 1);                       /* DAY_2 dropped */
    assert_false(calendar_is(engine, KZT, DAY_2));
    assert_true(calendar_is(engine, KZT, DAY_4));
    assert_true(calendar_is(engine, CNY, DAY_3));
    assert_int_equal(calendar_pay(engine, 2, BANK_KZ, BANK_KZ2, 10, 0), KHORGOS_SETTLE_settled);

    assert_int_equal(calendar_close(engine, KZT), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_holiday(engine, ++fixture_request_id, KZT, DAY_4,
                                      KHORGOS_HOLIDAY_REMOVE).status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_count(engine, KZT), 0);
    assert_int_equal(calendar_open(engine, KZT, DAY_4), KHORGOS_SETTLE_ok);
    khorgos_close(engine);
}

/* A payment valued on a holiday is rejected; one valued on a later business day waits; a
 * waiting payment whose day becomes a holiday is rejected when it does. */
static void test_value_date_on_holiday(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_FIFO);
    fixture_fund(engine, BANK_KZ, KZT, 1000);
    assert_int_equal(calendar_add(engine, KZT, DAY_2), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_pay(engine, 1, BANK_KZ, BANK_KZ2, 10, DAY_2),
                     KHORGOS_SETTLE_value_date_holiday);
    struct khorgos_payment rejected = fixture_lookup(engine, 1);
    assert_int_equal(rejected.state, KHORGOS_PAYMENT_REJECTED);
    assert_int_equal(rejected.reason, KHORGOS_SETTLE_value_date_holiday);
    assert_string_equal(khorgos_settle_status_iso_code(KHORGOS_SETTLE_value_date_holiday), "DT01");
    assert_int_equal(calendar_pay(engine, 2, BANK_KZ, BANK_KZ2, 20, DAY_3), KHORGOS_SETTLE_waiting);
    assert_int_equal(calendar_pay(engine, 3, BANK_KZ, BANK_KZ2, 30, DAY_4), KHORGOS_SETTLE_waiting);
    assert_int_equal(calendar_pay(engine, 4, BANK_KZ, BANK_KZ2, 40, DAY_1), KHORGOS_SETTLE_settled);

    /* DAY_3 declared a holiday: the payment waiting for it is rejected, the other still waits. */
    struct khorgos_settle_result result = calendar_holiday(engine, 77, KZT, DAY_3, 0);
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_lookup(engine, 2).state, KHORGOS_PAYMENT_REJECTED);
    assert_int_equal(fixture_lookup(engine, 2).reason, KHORGOS_SETTLE_value_date_holiday);
    assert_int_equal(fixture_lookup(engine, 3).state, KHORGOS_PAYMENT_WAITING);

    /* A retry of the same request is answered, not applied (the holiday is not added twice,
     * nothing is rejected again); the same id with other fields is refused. */
    u128 digest = settle_digest(&engine->settle);
    struct khorgos_settle_result retry = calendar_holiday(engine, 77, KZT, DAY_3, 0);
    assert_int_equal(retry.status, KHORGOS_SETTLE_ok);
    assert_int_equal(retry.flags, KHORGOS_SETTLE_RESULT_RETRY);
    assert_true(retry.timestamp == result.timestamp);
    assert_true(settle_digest(&engine->settle) == digest);
    assert_int_equal(calendar_holiday(engine, 77, KZT, DAY_4, 0).status,
                     KHORGOS_SETTLE_exists_with_different_fields);
    assert_int_equal(calendar_holiday(engine, 77, KZT, DAY_3, KHORGOS_HOLIDAY_REMOVE).status,
                     KHORGOS_SETTLE_exists_with_different_fields);
    assert_true(settle_digest(&engine->settle) == digest);
    assert_int_equal(calendar_count(engine, KZT), 2);

    /* The business days: the day after the holidays releases the payment waiting for it. */
    assert_int_equal(calendar_close(engine, KZT), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_open(engine, KZT, DAY_4), KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_lookup(engine, 3).state, KHORGOS_PAYMENT_SETTLED);
    assert_true(fixture_balance(engine, BANK_KZ2, KZT) == 70);
    assert_true(fixture_balance(engine, BANK_KZ, KZT) == 930);
    khorgos_close(engine);
}

/* Cross-currency: the value date must be a business day of both currencies. */
static void test_cross_currency_holiday(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_FIFO);
    fixture_fund(engine, BANK_KZ, KZT, 1000000);
    fixture_fund(engine, BANK_CN, CNY, 1000000);
    /* KZT moves to DAY_4 while CNY is still in DAY_1; DAY_4 is a CNY holiday. */
    assert_int_equal(calendar_add(engine, CNY, DAY_4), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_close(engine, KZT), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_open(engine, KZT, DAY_4), KHORGOS_SETTLE_ok);
    /* KZT -> CNY valued today in KZT (DAY_4): a CNY holiday. */
    assert_int_equal(fixture_pay(engine, 1, BANK_KZ, BANK_CN, KZT, CNY, 1000, 0,
                                 KHORGOS_SETTLEMENT_GROSS),
                     KHORGOS_SETTLE_value_date_holiday);
    assert_int_equal(fixture_lookup(engine, 1).state, KHORGOS_PAYMENT_REJECTED);
    /* CNY -> KZT valued explicitly on DAY_4: a holiday of its source currency. */
    struct khorgos_payment payment = fixture_payment_event(2, BANK_CN, BANK_KZ, CNY, KZT, 100, 0,
                                                           KHORGOS_SETTLEMENT_GROSS);
    payment.value_date = DAY_4;
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment,
                                 sizeof(payment)).status,
                     KHORGOS_SETTLE_value_date_holiday);
    /* Net settlement too. */
    assert_int_equal(fixture_pay(engine, 3, BANK_KZ, BANK_CN, KZT, CNY, 1000, 0,
                                 KHORGOS_SETTLEMENT_NET),
                     KHORGOS_SETTLE_value_date_holiday);
    /* Without the holiday the same payment is no longer refused for its date. */
    assert_int_equal(calendar_holiday(engine, ++fixture_request_id, CNY, DAY_4,
                                      KHORGOS_HOLIDAY_REMOVE).status,
                     KHORGOS_SETTLE_ok);
    assert_int_not_equal(fixture_pay(engine, 4, BANK_KZ, BANK_CN, KZT, CNY, 1000, 0,
                                     KHORGOS_SETTLEMENT_GROSS),
                         KHORGOS_SETTLE_value_date_holiday);
    /* A same-currency payment in the open currency is unaffected by the other's calendar. */
    assert_int_equal(calendar_add(engine, CNY, 20230523), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_pay(engine, 5, BANK_KZ, BANK_KZ2, 10, 20230523),
                     KHORGOS_SETTLE_waiting);
    khorgos_close(engine);
}

/* The table holds SETTLE_HOLIDAY_COUNT_MAX dates per currency, then capacity_full. */
static void test_capacity(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_FIFO);
    static struct khorgos_holiday events[SETTLE_HOLIDAY_COUNT_MAX + 1];
    static struct khorgos_settle_result results[SETTLE_HOLIDAY_COUNT_MAX + 1];
    u32 date = 20230601; /* every day from June 2023, in descending order of insertion */
    u32 dates[SETTLE_HOLIDAY_COUNT_MAX + 1];
    for (u32 index = 0; index <= SETTLE_HOLIDAY_COUNT_MAX; index++) {
        dates[index] = date;
        u32 day = date % 100, month = date / 100 % 100;
        static const u8 days[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (day < days[month]) date++;
        else if (month < 12) date = date / 10000 * 10000 + (month + 1) * 100 + 1;
        else date = (date / 10000 + 1) * 10000 + 101;
    }
    for (u32 index = 0; index <= SETTLE_HOLIDAY_COUNT_MAX; index++) {
        events[index] = (struct khorgos_holiday){
            .id = 5000 + index, .currency = KZT, .date = dates[SETTLE_HOLIDAY_COUNT_MAX - index]};
    }
    u32 written = fixture_execute(engine, KHORGOS_OPERATION_SET_HOLIDAYS, events, sizeof(events),
                                  results, sizeof(results));
    assert_int_equal(written, sizeof(results));
    for (u32 index = 0; index < SETTLE_HOLIDAY_COUNT_MAX; index++) {
        assert_int_equal(results[index].status, KHORGOS_SETTLE_ok);
    }
    assert_int_equal(results[SETTLE_HOLIDAY_COUNT_MAX].status, KHORGOS_SETTLE_capacity_full);
    assert_int_equal(calendar_count(engine, KZT), SETTLE_HOLIDAY_COUNT_MAX);
    assert_false(calendar_is(engine, KZT, dates[0])); /* the last event, refused */
    for (u32 index = 1; index <= SETTLE_HOLIDAY_COUNT_MAX; index++) {
        assert_true(calendar_is(engine, KZT, dates[index]));
    }
    /* Another currency has its own table. */
    assert_int_equal(calendar_add(engine, CNY, dates[0]), KHORGOS_SETTLE_ok);
    khorgos_close(engine);
}

/* A bilateral limit set in mid-day is measured on the pair's payments since the open, not
 * from zero; so is a net debit cap; yesterday's payments do not count. */
static void test_limit_set_mid_day(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    fixture_fund(engine, BANK_KZ, KZT, 1000);
    fixture_fund(engine, BANK_KZ2, KZT, 1000);
    fixture_fund(engine, BANK_CN, KZT, 1000);
    assert_int_equal(calendar_pay(engine, 1, BANK_KZ, BANK_KZ2, 60, 0), KHORGOS_SETTLE_settled);
    assert_int_equal(calendar_pay(engine, 2, BANK_KZ2, BANK_KZ, 10, 0), KHORGOS_SETTLE_settled);
    assert_int_equal(calendar_pay(engine, 3, BANK_KZ, BANK_CN, 25, 0), KHORGOS_SETTLE_settled);
    /* Position toward KZ2 since the open: 60 - 10 = 50. A limit of 70 leaves 20. */
    assert_int_equal(calendar_limit(engine, BANK_KZ, BANK_KZ2, KHORGOS_LIMIT_BILATERAL, 70),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_pay(engine, 4, BANK_KZ, BANK_KZ2, 30, 0), KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_lookup(engine, 4).reason, KHORGOS_SETTLE_exceeds_bilateral_limit);
    assert_int_equal(calendar_pay(engine, 5, BANK_KZ, BANK_KZ2, 20, 0), KHORGOS_SETTLE_settled);
    assert_int_equal(calendar_pay(engine, 6, BANK_KZ, BANK_KZ2, 1, 0), KHORGOS_SETTLE_queued);
    /* A receipt from KZ2 makes room: 30 back releases payment 4 (70 - 30 + 30 = 70). */
    assert_int_equal(calendar_pay(engine, 7, BANK_KZ2, BANK_KZ, 30, 0), KHORGOS_SETTLE_settled);
    assert_int_equal(fixture_lookup(engine, 4).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(fixture_lookup(engine, 6).state, KHORGOS_PAYMENT_QUEUED);
    /* Removed (payment 6 goes) and set again: still from the open (71), not from zero. */
    assert_int_equal(calendar_limit(engine, BANK_KZ, BANK_KZ2, KHORGOS_LIMIT_BILATERAL,
                                    KHORGOS_AMOUNT_MAX),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_lookup(engine, 6).state, KHORGOS_PAYMENT_SETTLED); /* released */
    assert_int_equal(calendar_limit(engine, BANK_KZ, BANK_KZ2, KHORGOS_LIMIT_BILATERAL, 80),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_pay(engine, 8, BANK_KZ, BANK_KZ2, 10, 0), KHORGOS_SETTLE_queued);
    assert_int_equal(calendar_pay(engine, 9, BANK_KZ, BANK_KZ2, 9, 0), KHORGOS_SETTLE_settled);
    /* The reverse limit (KZ2 toward KZ) set now: KZ2 received 60 + 20 + 30 + 1 + 9 = 120 and
     * sent 40, so its position is -80 and a limit of 10 lets it send 90. */
    assert_int_equal(calendar_limit(engine, BANK_KZ2, BANK_KZ, KHORGOS_LIMIT_BILATERAL, 10),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_pay(engine, 10, BANK_KZ2, BANK_KZ, 91, 0), KHORGOS_SETTLE_queued);
    assert_int_equal(calendar_pay(engine, 11, BANK_KZ2, BANK_KZ, 90, 0), KHORGOS_SETTLE_settled);
    /* KZ's receipt of 90 released payment 8 (position toward KZ2 back to 0); payment 10
     * stays over KZ2's limit. */
    assert_int_equal(fixture_lookup(engine, 8).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(fixture_lookup(engine, 10).state, KHORGOS_PAYMENT_QUEUED);
    /* Net debit cap set mid-day: KZ sent 60+25+20+30+1+9+10 = 155, received 10+30+90 = 130. */
    assert_int_equal(calendar_limit(engine, BANK_KZ, NULL, KHORGOS_LIMIT_NET_DEBIT_CAP, 35),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_pay(engine, 12, BANK_KZ, BANK_CN, 11, 0), KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_lookup(engine, 12).reason, KHORGOS_SETTLE_exceeds_net_debit_cap);
    assert_int_equal(calendar_pay(engine, 13, BANK_KZ, BANK_CN, 10, 0), KHORGOS_SETTLE_settled);
    assert_int_equal(calendar_limit(engine, BANK_KZ, NULL, KHORGOS_LIMIT_NET_DEBIT_CAP,
                                    KHORGOS_AMOUNT_MAX),
                     KHORGOS_SETTLE_ok);

    /* The next day: a limit set then starts from zero, yesterday's payments not counted. */
    assert_int_equal(calendar_close(engine, KZT), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_open(engine, KZT, DAY_2), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_limit(engine, BANK_KZ, BANK_CN, KHORGOS_LIMIT_BILATERAL, 40),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_pay(engine, 14, BANK_KZ, BANK_CN, 40, 0), KHORGOS_SETTLE_settled);
    assert_int_equal(calendar_pay(engine, 15, BANK_KZ, BANK_CN, 1, 0), KHORGOS_SETTLE_queued);
    khorgos_close(engine);
}

/* A bilateral limit set mid-day counts the legs of cross-currency payments in its currency. */
static void test_limit_counts_cross_currency_legs(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    fixture_fund(engine, BANK_KZ, KZT, 100000);
    fixture_fund(engine, PROVIDER_A, CNY, 100000);
    /* 1 KZT = 0.015 CNY, both with two minor units: 10000 KZT minor -> 150 CNY minor. */
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 15, -3, 1000000,
                                   fixture_later(engine, 3600)),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_pay(engine, 1, BANK_KZ, BANK_CN, KZT, CNY, 10000, 0,
                                 KHORGOS_SETTLEMENT_GROSS),
                     KHORGOS_SETTLE_settled);
    /* BANK_KZ paid PROVIDER_A 10000 KZT in the first leg. */
    assert_int_equal(calendar_limit(engine, BANK_KZ, PROVIDER_A, KHORGOS_LIMIT_BILATERAL, 10500),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_pay(engine, 2, BANK_KZ, PROVIDER_A, 501, 0), KHORGOS_SETTLE_queued);
    assert_int_equal(calendar_pay(engine, 3, BANK_KZ, PROVIDER_A, 500, 0), KHORGOS_SETTLE_settled);
    khorgos_close(engine);
}

/* open_day's cut-offs: the customer one not after the interbank one (refused, nothing
 * changed); and a value date skipped without being a holiday enters on the next day opened. */
static void test_cut_offs_in_order_and_skipped_dates(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_FIFO);
    fixture_fund(engine, BANK_KZ, KZT, 100);
    assert_int_equal(calendar_pay(engine, 1, BANK_KZ, BANK_KZ2, 10, DAY_2), KHORGOS_SETTLE_waiting);
    assert_int_equal(calendar_close(engine, KZT), KHORGOS_SETTLE_ok);
    struct settle_currency before = *calendar_currency(engine, KZT);
    struct khorgos_business_day event = {.id = ++fixture_request_id, .currency = KZT,
                                         .date = DAY_3, .queue_mode = KHORGOS_QUEUE_MODE_FIFO,
                                         .cut_off_customer = fixture_later(engine, 20),
                                         .cut_off_interbank = fixture_later(engine, 10)};
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_OPEN_DAY, &event, sizeof(event)).status,
                     KHORGOS_SETTLE_cut_off_invalid);
    struct settle_currency after = *calendar_currency(engine, KZT);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_int_equal(fixture_lookup(engine, 1).state, KHORGOS_PAYMENT_WAITING);
    event.id = ++fixture_request_id;
    event.cut_off_customer = event.cut_off_interbank; /* the same moment is allowed */
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_OPEN_DAY, &event, sizeof(event)).status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_lookup(engine, 1).state, KHORGOS_PAYMENT_SETTLED); /* DAY_2 skipped */
    khorgos_close(engine);
}

/* The calendar survives a snapshot: equal digests, then equal answers to equal requests. */
static void test_snapshot_round_trip_with_holidays(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_FIFO);
    fixture_fund(engine, BANK_KZ, KZT, 1000);
    assert_int_equal(calendar_add(engine, KZT, DAY_2), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_add(engine, KZT, DAY_4), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_add(engine, CNY, DAY_3), KHORGOS_SETTLE_ok);
    assert_int_equal(calendar_pay(engine, 1, BANK_KZ, BANK_KZ2, 10, 0), KHORGOS_SETTLE_settled);
    assert_int_equal(calendar_pay(engine, 2, BANK_KZ, BANK_KZ2, 10, DAY_3), KHORGOS_SETTLE_waiting);
    struct khorgos *copy = fixture_open();
    settle_snapshot_round_trip(engine, copy, 7, 1u << 17, 1024);
    assert_int_equal(calendar_count(copy, KZT), 2);
    assert_true(calendar_is(copy, KZT, DAY_4) && calendar_is(copy, CNY, DAY_3));
    assert_true(calendar_currency(copy, KZT)->opened_at == calendar_currency(engine, KZT)->opened_at);

    struct khorgos *engines[2] = {engine, copy};
    u128 request_id_start = fixture_request_id;
    for (u32 index = 0; index < 2; index++) {
        fixture_request_id = request_id_start;
        struct khorgos *one = engines[index];
        assert_int_equal(calendar_limit(one, BANK_KZ, BANK_KZ2, KHORGOS_LIMIT_BILATERAL, 15),
                         KHORGOS_SETTLE_ok);
        assert_int_equal(calendar_pay(one, 3, BANK_KZ, BANK_KZ2, 6, 0), KHORGOS_SETTLE_queued);
        assert_int_equal(calendar_close(one, KZT), KHORGOS_SETTLE_ok);
        assert_int_equal(calendar_open(one, KZT, DAY_2), KHORGOS_SETTLE_day_is_holiday);
        assert_int_equal(calendar_open(one, KZT, DAY_3), KHORGOS_SETTLE_ok);
        assert_int_equal(fixture_lookup(one, 2).state, KHORGOS_PAYMENT_SETTLED);
        assert_int_equal(calendar_count(one, KZT), 1);
    }
    assert_true(ledger_digest(&copy->ledger) == ledger_digest(&engine->ledger));
    assert_true(settle_digest(&copy->settle) == settle_digest(&engine->settle));
    khorgos_close(copy);
    khorgos_close(engine);
}

/* A recorded sequence of days with holidays replays from the journal to the same state. */
static void test_journal_replay_with_holidays(void **state) {
    (void)state;
    char directory[] = "/tmp/khorgos-calendar-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char path[64];
    snprintf(path, sizeof(path), "%s/data", directory);
    struct khorgos_config config = {.account_count_max = 4096, .transfer_count_max = 1u << 16,
                                    .account_balance_count_max = 1024, .clock_manual = 1};
    assert_int_equal(khorgos_format(path, &config), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, path, &options), KHORGOS_ERROR_ok);
    fixture_setup(engine, KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    fixture_fund(engine, BANK_KZ, KZT, 500);
    fixture_fund(engine, BANK_KZ2, KZT, 500);
    u32 date = DAY_1;
    u64 seed = 11;
    for (u32 day = 0; day < 4; day++) { /* at most 3 days each: within May 2023 */
        u32 next = date + 1 + (u32)(seed >> 60) % 2;
        assert_int_equal(calendar_add(engine, KZT, next), KHORGOS_SETTLE_ok);
        for (u32 index = 0; index < 8; index++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            bool forward = (seed >> 40) % 2 == 0;
            u32 value_date = (seed >> 20) % 4 == 0 ? next + (u32)(seed >> 50) % 2 : 0;
            calendar_pay(engine, day * 100 + index + 1, forward ? BANK_KZ : BANK_KZ2,
                         forward ? BANK_KZ2 : BANK_KZ, 1 + (seed >> 52) % 90, value_date);
            if (index == 3) {
                calendar_limit(engine, BANK_KZ, BANK_KZ2, KHORGOS_LIMIT_BILATERAL,
                               (seed >> 44) % 200);
            }
            assert_int_equal(khorgos_clock_advance(engine, SECOND_NS), KHORGOS_ERROR_ok);
        }
        assert_int_equal(calendar_close(engine, KZT), KHORGOS_SETTLE_ok);
        assert_int_equal(calendar_open(engine, KZT, next), KHORGOS_SETTLE_day_is_holiday);
        date = next + 1;
        assert_int_equal(calendar_open(engine, KZT, date), KHORGOS_SETTLE_ok);
    }
    u128 ledger_before = ledger_digest(&engine->ledger);
    u128 settle_before = settle_digest(&engine->settle);
    u64 requests_before = engine->request_count;
    khorgos_close(engine);
    engine = NULL;
    assert_int_equal(khorgos_open(&engine, path, &options), KHORGOS_ERROR_ok);
    assert_int_equal(engine->request_count, requests_before);
    assert_true(ledger_digest(&engine->ledger) == ledger_before);
    assert_true(settle_digest(&engine->settle) == settle_before);
    assert_true(ledger_check(&engine->ledger) && settle_check(&engine->settle));
    khorgos_close(engine);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", directory);
    assert_int_equal(system(command), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_open_day_on_holiday),
        cmocka_unit_test(test_value_date_on_holiday),
        cmocka_unit_test(test_cross_currency_holiday),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_limit_set_mid_day),
        cmocka_unit_test(test_limit_counts_cross_currency_legs),
        cmocka_unit_test(test_cut_offs_in_order_and_skipped_dates),
        cmocka_unit_test(test_snapshot_round_trip_with_holidays),
        cmocka_unit_test(test_journal_replay_with_holidays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
