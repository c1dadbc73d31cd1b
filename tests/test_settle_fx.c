/* test_settle_fx.c: cross-currency payments settled payment-versus-payment (settle_fx.c)
 * through khorgos_execute: quote validation (nothing changes on an error), the exact
 * conversion and its rounding rule on hand-computed cases (minor units 0 and 2), the best
 * quote (ties to the earliest, room respected), vehicle-currency routing in both routing modes,
 * no route, PvP atomicity (payer short, provider short, provider over its exposure limit,
 * quote expired while waiting: nothing of any leg is booked; the payment waits and settles
 * whole, requoted, once covered), queue mode none, idempotent submission. Every
 * state-changing request is followed by the fixture's checks (each currency conserved, the
 * ledger's and the settlement layer's invariants). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "settle_fx_fixture.h"

_Static_assert(sizeof(struct khorgos_payment) == 256, "payment record stays 256 bytes");
_Static_assert(sizeof(struct khorgos_fx_quote) == 128, "quote record");
_Static_assert(sizeof(struct khorgos_fx_routing) == 32, "routing record");
_Static_assert(sizeof(struct khorgos_window) == 96, "window record");
_Static_assert(sizeof(struct khorgos_window_filter) == 24, "window filter");
_Static_assert(sizeof(struct khorgos_window_position) == 128, "window position record");

static void test_quote_errors_change_nothing(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    u64 later = fixture_later(engine, 3600);
    u128 digest = ledger_digest(&engine->ledger);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 1000, 1),
                     KHORGOS_SETTLE_quote_expired);
    assert_int_equal(fixture_quote(engine, 2, PROVIDER_A, KZT, CNY, 0, -4, 1000, later),
                     KHORGOS_SETTLE_rate_invalid);
    assert_int_equal(fixture_quote(engine, 3, PROVIDER_A, KZT, CNY, 1234567890123ull, -14, 1000,
                                   later),
                     KHORGOS_SETTLE_rate_too_precise);
    assert_int_equal(fixture_quote(engine, 4, PROVIDER_A, KZT, CNY, 152, -40, 1000, later),
                     KHORGOS_SETTLE_rate_invalid);
    assert_int_equal(fixture_quote(engine, 5, PROVIDER_A, KZT, 643, 152, -4, 1000, later),
                     KHORGOS_SETTLE_pair_unknown); /* RUB: not in use here */
    assert_int_equal(fixture_quote(engine, 6, PROVIDER_A, KZT, KZT, 1, 0, 1000, later),
                     KHORGOS_SETTLE_pair_unknown);
    assert_int_equal(fixture_quote(engine, 7, BANK_KZ, KZT, CNY, 152, -4, 1000, later),
                     KHORGOS_SETTLE_provider_invalid);
    assert_int_equal(fixture_quote(engine, 8, PROVIDER_A, KZT, CNY, 152, -4, 0, later),
                     KHORGOS_SETTLE_amount_must_not_be_zero);
    assert_int_equal(engine->settle.fx.quote_count, 0);
    assert_true(ledger_digest(&engine->ledger) == digest);
    /* 13 digits with a trailing zero are 12 significant digits: accepted, normalised. */
    assert_int_equal(fixture_quote(engine, 9, PROVIDER_A, KZT, CNY, 1520000000000ull, -14, 1000,
                                   later),
                     KHORGOS_SETTLE_ok);
    u128 id = 9;
    struct khorgos_fx_quote stored;
    assert_int_equal(fixture_execute(engine, KHORGOS_OPERATION_LOOKUP_FX_QUOTES, &id, sizeof(id),
                                     &stored, sizeof(stored)),
                     sizeof(stored));
    assert_true(stored.rate_mantissa == 152 && stored.rate_exponent == -4);
    assert_int_equal(stored.state, KHORGOS_QUOTE_LIVE);
    assert_int_equal(stored.number, 1);
    /* The same quote again: the first answer; other fields: exists_with_different_fields. */
    struct khorgos_settle_result again = {0};
    struct khorgos_fx_quote same = fixture_quote_event(9, PROVIDER_A, KZT, CNY, 1520000000000ull,
                                                       -14, 1000, later);
    again = fixture_one(engine, KHORGOS_OPERATION_SET_FX_QUOTES, &same, sizeof(same));
    assert_int_equal(again.status, KHORGOS_SETTLE_ok);
    assert_int_equal(again.flags, KHORGOS_SETTLE_RESULT_RETRY);
    same.amount_max = 2000;
    again = fixture_one(engine, KHORGOS_OPERATION_SET_FX_QUOTES, &same, sizeof(same));
    assert_int_equal(again.status, KHORGOS_SETTLE_exists_with_different_fields);
    /* Withdrawn: no longer used; withdrawing an unknown quote is an error. */
    struct khorgos_settle_result withdrawn =
        fixture_one(engine, KHORGOS_OPERATION_WITHDRAW_FX_QUOTES, &id, sizeof(id));
    assert_int_equal(withdrawn.status, KHORGOS_SETTLE_ok);
    u128 unknown = 77;
    withdrawn = fixture_one(engine, KHORGOS_OPERATION_WITHDRAW_FX_QUOTES, &unknown, sizeof(unknown));
    assert_int_equal(withdrawn.status, KHORGOS_SETTLE_quote_not_found);
    khorgos_close(engine);
}

/* The rule on minor units 0 (JPY) and 2 (USD), computed by hand. */
static void test_conversion_rounding(void **state) {
    (void)state;
    struct khorgos_fx_quote jpy_usd = {.currency_source = 392, .currency_target = USD,
                                       .rate_mantissa = 67, .rate_exponent = -4}; /* 0.0067 */
    u128 out = 0;
    assert_true(settle_fx_convert_floor(&jpy_usd, 1000, &out)); /* 1000 JPY = 6.70 USD */
    assert_true(out == 670);
    assert_true(settle_fx_convert_floor(&jpy_usd, 1, &out)); /* 0.0067 USD: 0 cents */
    assert_true(out == 0);
    struct khorgos_fx_quote usd_jpy = {.currency_source = USD, .currency_target = 392,
                                       .rate_mantissa = 14925, .rate_exponent = -2}; /* 149.25 */
    assert_true(settle_fx_convert_floor(&usd_jpy, 100, &out)); /* 1.00 USD: 149.25 -> 149 */
    assert_true(out == 149);
    u128 in = 0;
    assert_true(settle_fx_convert_ceil(&usd_jpy, 150, &in)); /* 150 JPY: 1.005.. -> 1.01 USD */
    assert_true(in == 101);
    assert_true(settle_fx_convert_floor(&usd_jpy, 101, &out) && out >= 150);
    assert_true(settle_fx_convert_floor(&usd_jpy, 100, &out) && out < 150); /* 101 is least */
    struct khorgos_fx_quote kzt_cny = {.currency_source = KZT, .currency_target = CNY,
                                       .rate_mantissa = 152, .rate_exponent = -4};
    assert_true(settle_fx_convert_floor(&kzt_cny, 333, &out)); /* 3.33 KZT = 0.050616 CNY */
    assert_true(out == 5);
    assert_true(settle_fx_convert_ceil(&kzt_cny, 100, &in)); /* 1.00 CNY needs 65.79 KZT */
    assert_true(in == 6579);
    assert_false(settle_fx_convert_floor(&kzt_cny, SETTLE_FX_AMOUNT_MAX + 1, &out));
}

static void test_best_quote_and_legs(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    u64 later = fixture_later(engine, 3600);
    fixture_fund(engine, BANK_KZ, KZT, 100000000);
    fixture_fund(engine, PROVIDER_A, CNY, 10000000);
    fixture_fund(engine, PROVIDER_B, CNY, 10000000);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 150, -4, 100000000, later), 0);
    assert_int_equal(fixture_quote(engine, 2, PROVIDER_B, KZT, CNY, 152, -4, 100000000, later), 0);
    assert_int_equal(fixture_quote(engine, 3, PROVIDER_A, KZT, CNY, 152, -4, 100000000, later), 0);
    assert_int_equal(fixture_quote(engine, 4, PROVIDER_A, KZT, CNY, 160, -4, 5000000, later), 0);
    u32 transfers = engine->ledger.transfer_count;
    /* 100,000.00 KZT: quote 4 (best rate) lacks room, 2 and 3 tie, 2 is earlier. */
    assert_int_equal(fixture_pay(engine, 10, BANK_KZ, BANK_CN, KZT, CNY, 10000000, 0, 0),
                     KHORGOS_SETTLE_settled);
    struct khorgos_payment payment = fixture_lookup(engine, 10);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(payment.route, KHORGOS_ROUTE_DIRECT);
    assert_int_equal(payment.provider, fixture_participant_number(engine, PROVIDER_B));
    assert_int_equal(payment.provider_vehicle, 0);
    assert_true(payment.rate_mantissa == 152 && payment.rate_exponent == -4);
    assert_true(payment.amount == 10000000 && payment.amount_target == 152000); /* 1,520.00 */
    assert_int_equal(engine->ledger.transfer_count, transfers + 2);
    assert_true(fixture_balance(engine, BANK_KZ, KZT) == 90000000);
    assert_true(fixture_balance(engine, PROVIDER_B, KZT) == 10000000);
    assert_true(fixture_balance(engine, PROVIDER_B, CNY) == 10000000 - 152000);
    assert_true(fixture_balance(engine, BANK_CN, CNY) == 152000);
    /* The two legs are one linked chain carrying the payment id. */
    struct khorgos_transfer legs[2];
    u128 ids[2] = {payment.transfer_id_debit, payment.transfer_id_credit};
    assert_int_equal(fixture_execute(engine, KHORGOS_OPERATION_LOOKUP_TRANSFERS, ids, sizeof(ids),
                                     legs, sizeof(legs)),
                     sizeof(legs));
    assert_true(legs[0].user_data_128 == 10 && legs[1].user_data_128 == 10);
    assert_true(legs[0].ledger == KZT && legs[1].ledger == CNY);
    assert_true((legs[0].flags & KHORGOS_TRANSFER_LINKED) != 0);
    /* The creditor's amount: 1.00 CNY fits quote 4's room now: 62.50 KZT at 0.016 (rate
     * normalised to 16e-3); at 0.0152 it would cost ceil(65.789..) = 65.79 KZT. */
    assert_int_equal(fixture_pay(engine, 11, BANK_KZ, BANK_CN, KZT, CNY, 0, 100, 0),
                     KHORGOS_SETTLE_settled);
    payment = fixture_lookup(engine, 11);
    assert_true(payment.amount == 6250 && payment.amount_target == 100);
    assert_true(payment.rate_mantissa == 16 && payment.rate_exponent == -3);
    assert_int_equal(payment.provider, fixture_participant_number(engine, PROVIDER_A));
    struct khorgos_fx_quote used[2];
    u128 quote_ids[2] = {2, 4};
    fixture_execute(engine, KHORGOS_OPERATION_LOOKUP_FX_QUOTES, quote_ids, sizeof(quote_ids), used,
                    sizeof(used));
    assert_true(used[0].amount_used == 10000000 && used[1].amount_used == 6250);
    /* Quote 4 withdrawn: 1.00 CNY now costs 65.79 KZT at quote 2. */
    u128 withdraw = 4;
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_WITHDRAW_FX_QUOTES, &withdraw,
                                 sizeof(withdraw)).status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_pay(engine, 12, BANK_KZ, BANK_CN, KZT, CNY, 0, 100, 0),
                     KHORGOS_SETTLE_settled);
    payment = fixture_lookup(engine, 12);
    assert_true(payment.amount == 6579 && payment.amount_target == 100);
    assert_int_equal(payment.provider, fixture_participant_number(engine, PROVIDER_B));
    khorgos_close(engine);
}

static void test_vehicle_routing(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    u64 later = fixture_later(engine, 3600);
    fixture_fund(engine, BANK_KZ, KZT, 100000000);
    fixture_fund(engine, PROVIDER_A, CNY, 10000000);
    fixture_fund(engine, PROVIDER_B, KGS, 100000000);
    fixture_fund(engine, PROVIDER_A, USD, 10000000);
    /* No KZT -> KGS quote: through CNY (the default vehicle). */
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 100000000, later), 0);
    assert_int_equal(fixture_quote(engine, 2, PROVIDER_B, CNY, KGS, 1225, -2, 100000000, later), 0);
    assert_int_equal(fixture_pay(engine, 20, BANK_KZ, BANK_KG, KZT, KGS, 10000000, 0, 0),
                     KHORGOS_SETTLE_settled);
    struct khorgos_payment payment = fixture_lookup(engine, 20);
    assert_int_equal(payment.route, KHORGOS_ROUTE_VEHICLE);
    assert_int_equal(payment.provider, fixture_participant_number(engine, PROVIDER_A));
    assert_int_equal(payment.provider_vehicle, fixture_participant_number(engine, PROVIDER_B));
    /* 100,000.00 KZT -> 1,520.00 CNY -> 18,620.00 KGS. */
    assert_true(payment.amount_target == 1862000);
    assert_true(fixture_balance(engine, PROVIDER_A, KZT) == 10000000);
    assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 10000000 - 152000);
    assert_true(fixture_balance(engine, PROVIDER_B, CNY) == 152000);
    assert_true(fixture_balance(engine, PROVIDER_B, KGS) == 100000000 - 1862000);
    assert_true(fixture_balance(engine, BANK_KG, KGS) == 1862000);
    /* No route at all (KGS -> KZT: nobody quotes it or KGS -> CNY): rejected, nothing moves. */
    fixture_fund(engine, BANK_KG, KGS, 100000);
    u32 transfers = engine->ledger.transfer_count;
    assert_int_equal(fixture_pay(engine, 21, BANK_KG, BANK_KZ, KGS, KZT, 100000, 0, 0),
                     KHORGOS_SETTLE_no_route);
    assert_int_equal(fixture_lookup(engine, 21).state, KHORGOS_PAYMENT_REJECTED);
    assert_int_equal(engine->ledger.transfer_count, transfers);
    /* vehicle_only through USD, one provider for both legs: two legs, the vehicle unbooked. */
    assert_int_equal(fixture_quote(engine, 3, PROVIDER_A, KZT, USD, 21, -4, 100000000, later), 0);
    assert_int_equal(fixture_quote(engine, 4, PROVIDER_A, USD, CNY, 71, -1, 100000000, later), 0);
    struct khorgos_fx_routing routing = {.id = ++fixture_request_id, .vehicle_currency = USD,
                                         .mode = KHORGOS_ROUTING_VEHICLE_ONLY};
    assert_int_equal(
        fixture_one(engine, KHORGOS_OPERATION_SET_FX_ROUTING, &routing, sizeof(routing)).status,
        KHORGOS_SETTLE_ok);
    transfers = engine->ledger.transfer_count;
    assert_int_equal(fixture_pay(engine, 22, BANK_KZ, BANK_CN, KZT, CNY, 1000000, 0, 0),
                     KHORGOS_SETTLE_settled);
    payment = fixture_lookup(engine, 22);
    assert_int_equal(payment.route, KHORGOS_ROUTE_VEHICLE);
    assert_int_equal(payment.provider_vehicle, 0);
    /* 10,000.00 KZT -> 21.00 USD -> 149.10 CNY. */
    assert_true(payment.amount_target == 14910);
    assert_int_equal(engine->ledger.transfer_count, transfers + 2);
    assert_true(fixture_balance(engine, PROVIDER_A, USD) == 10000000);
    /* The creditor's amount through the vehicle: 149.10 CNY needs 21.00 USD needs 10,000 KZT. */
    assert_int_equal(fixture_pay(engine, 23, BANK_KZ, BANK_CN, KZT, CNY, 0, 14910, 0),
                     KHORGOS_SETTLE_settled);
    assert_true(fixture_lookup(engine, 23).amount == 1000000);
    routing.id = ++fixture_request_id;
    routing.mode = 9;
    assert_int_equal(
        fixture_one(engine, KHORGOS_OPERATION_SET_FX_ROUTING, &routing, sizeof(routing)).status,
        KHORGOS_SETTLE_routing_invalid);
    khorgos_close(engine);
}

/* Nothing of any leg is booked while one leg cannot be; it settles whole later. */
static void test_pvp_atomicity(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    u64 expiry = fixture_later(engine, 60);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 100000000, expiry), 0);
    fixture_fund(engine, BANK_KZ, KZT, 10000000);
    u32 transfers = engine->ledger.transfer_count;
    /* Provider short in CNY. */
    assert_int_equal(fixture_pay(engine, 30, BANK_KZ, BANK_CN, KZT, CNY, 10000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    struct khorgos_payment payment = fixture_lookup(engine, 30);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_QUEUED);
    assert_int_equal(payment.reason, KHORGOS_SETTLE_provider_insufficient_funds);
    assert_int_equal(engine->ledger.transfer_count, transfers);
    assert_true(fixture_balance(engine, BANK_KZ, KZT) == 10000000);
    assert_true(fixture_balance(engine, PROVIDER_A, KZT) == 0);
    /* Exposure: the provider's net debit cap in CNY is below the leg. */
    assert_int_equal(fixture_participant_event(engine, KHORGOS_OPERATION_SET_LIMITS, PROVIDER_A,
                                               CNY, 100000, KHORGOS_LIMIT_NET_DEBIT_CAP),
                     KHORGOS_SETTLE_ok);
    fixture_fund(engine, PROVIDER_A, CNY, 1000000);
    payment = fixture_lookup(engine, 30);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_QUEUED);
    assert_int_equal(payment.reason, KHORGOS_SETTLE_exceeds_net_debit_cap);
    assert_int_equal(engine->ledger.transfer_count, transfers + 1); /* the funding only */
    /* The quote expires while it waits: no live quote, still nothing booked. */
    assert_int_equal(khorgos_clock_advance(engine, 120 * SECOND_NS), KHORGOS_ERROR_ok);
    assert_int_equal(fixture_participant_event(engine, KHORGOS_OPERATION_SET_LIMITS, PROVIDER_A,
                                               CNY, KHORGOS_AMOUNT_MAX,
                                               KHORGOS_LIMIT_NET_DEBIT_CAP),
                     KHORGOS_SETTLE_ok);
    payment = fixture_lookup(engine, 30);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_QUEUED);
    assert_int_equal(payment.reason, KHORGOS_SETTLE_quote_unavailable);
    assert_int_equal(engine->ledger.transfer_count, transfers + 1);
    /* A new quote: requoted at settlement, both legs at once. */
    assert_int_equal(fixture_quote(engine, 2, PROVIDER_A, KZT, CNY, 151, -4, 100000000,
                                   fixture_later(engine, 60)),
                     0);
    payment = fixture_lookup(engine, 30);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_SETTLED);
    assert_true(payment.amount_target == 151000 && payment.rate_mantissa == 151);
    assert_int_equal(engine->ledger.transfer_count, transfers + 3);
    assert_true(fixture_balance(engine, BANK_KZ, KZT) == 0);
    assert_true(fixture_balance(engine, PROVIDER_A, KZT) == 10000000);
    assert_true(fixture_balance(engine, BANK_CN, CNY) == 151000);
    /* Payer short: queued, nothing booked; funding the payer releases it. */
    assert_int_equal(fixture_pay(engine, 31, BANK_KZ, BANK_CN, KZT, CNY, 500000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_lookup(engine, 31).reason, KHORGOS_SETTLE_insufficient_funds);
    assert_int_equal(engine->ledger.transfer_count, transfers + 3);
    fixture_fund(engine, BANK_KZ, KZT, 500000);
    assert_int_equal(fixture_lookup(engine, 31).state, KHORGOS_PAYMENT_SETTLED);
    /* A queued one cancelled: nothing of it remains. */
    assert_int_equal(fixture_pay(engine, 32, BANK_KZ, BANK_CN, KZT, CNY, 500000, 0, 0),
                     KHORGOS_SETTLE_queued);
    struct khorgos_payment_change cancel = {.id = ++fixture_request_id, .payment_id = 32};
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_CANCEL_PAYMENTS, &cancel,
                                 sizeof(cancel)).status,
                     KHORGOS_SETTLE_ok);
    fixture_fund(engine, BANK_KZ, KZT, 500000);
    assert_int_equal(fixture_lookup(engine, 32).state, KHORGOS_PAYMENT_CANCELLED);
    assert_true(fixture_balance(engine, BANK_KZ, KZT) == 500000);
    khorgos_close(engine);
}

static void test_queue_mode_none_and_validation(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_NONE);
    u64 later = fixture_later(engine, 3600);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 100000000, later), 0);
    u32 transfers = engine->ledger.transfer_count;
    assert_int_equal(fixture_pay(engine, 40, BANK_KZ, BANK_CN, KZT, CNY, 1000, 0, 0),
                     KHORGOS_SETTLE_insufficient_funds);
    assert_int_equal(fixture_lookup(engine, 40).state, KHORGOS_PAYMENT_REJECTED);
    assert_int_equal(engine->ledger.transfer_count, transfers);
    /* Same currency as target, both amounts, bad kind, creditor not holding the target. */
    assert_int_equal(fixture_pay(engine, 41, BANK_KZ, BANK_CN, KZT, KZT, 1000, 0, 0),
                     KHORGOS_SETTLE_pair_unknown);
    struct khorgos_payment both = fixture_payment_event(42, BANK_KZ, BANK_CN, KZT, CNY, 1000, 0, 0);
    both.amount_target = 5;
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &both,
                                 sizeof(both)).status,
                     KHORGOS_SETTLE_reserved_field);
    assert_int_equal(fixture_pay(engine, 43, BANK_KZ, BANK_KG, KZT, CNY, 1000, 0, 0),
                     KHORGOS_SETTLE_currency_not_held);
    struct khorgos_payment out = fixture_payment_event(44, BANK_KZ, BANK_CN, KZT, CNY, 1000, 0, 0);
    out.provider = 3;
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &out,
                                 sizeof(out)).status,
                     KHORGOS_SETTLE_reserved_field);
    /* Idempotent: the same event again answers the first answer. */
    fixture_fund(engine, BANK_KZ, KZT, 10000);
    fixture_fund(engine, PROVIDER_A, CNY, 10000);
    struct khorgos_payment event = fixture_payment_event(45, BANK_KZ, BANK_CN, KZT, CNY, 0, 100, 0);
    struct khorgos_settle_result first =
        fixture_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &event, sizeof(event));
    assert_int_equal(first.status, KHORGOS_SETTLE_settled);
    struct khorgos_settle_result second =
        fixture_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &event, sizeof(event));
    assert_int_equal(second.status, KHORGOS_SETTLE_settled);
    assert_int_equal(second.flags, KHORGOS_SETTLE_RESULT_RETRY);
    event.amount_target = 101;
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &event,
                                 sizeof(event)).status,
                     KHORGOS_SETTLE_exists_with_different_fields);
    khorgos_close(engine);
}

/* A payment waiting in its source queue does not settle into a target currency whose day has
 * closed meanwhile; it waits (day_not_open) and the source's close of day rejects it. */
static void test_target_day_closed_while_queued(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 100000000,
                                   fixture_later(engine, 3600)),
                     0);
    fixture_fund(engine, BANK_KZ, KZT, 10000);
    assert_int_equal(fixture_pay(engine, 50, BANK_KZ, BANK_CN, KZT, CNY, 10000, 0, 0),
                     KHORGOS_SETTLE_queued);
    struct khorgos_business_day close = {.id = ++fixture_request_id, .currency = CNY};
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_CLOSE_DAY, &close, sizeof(close)).status,
                     KHORGOS_SETTLE_ok);
    u32 transfers = engine->ledger.transfer_count;
    fixture_fund(engine, BANK_KZ, KZT, 1); /* a retry of the payer's queue */
    struct khorgos_payment payment = fixture_lookup(engine, 50);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_QUEUED);
    assert_int_equal(payment.reason, KHORGOS_SETTLE_day_not_open);
    assert_int_equal(engine->ledger.transfer_count, transfers + 1);
    close.id = ++fixture_request_id;
    close.currency = KZT;
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_CLOSE_DAY, &close, sizeof(close)).status,
                     KHORGOS_SETTLE_ok);
    payment = fixture_lookup(engine, 50);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_REJECTED);
    assert_int_equal(payment.reason, KHORGOS_SETTLE_day_closed);
    khorgos_close(engine);
}

/* The target currency's interbank cut-off passes while the payment waits: it stays queued
 * (after_cut_off), nothing booked, even once the provider is funded. */
static void test_target_cut_off_while_queued(void **state) {
    (void)state;
    struct khorgos *engine = fixture_open();
    fixture_participant(engine, AGENT_KZT, KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0, 0, 0);
    fixture_participant(engine, AGENT_CNY, KHORGOS_ROLE_SETTLEMENT_AGENT, CNY, 0, 0, 0);
    fixture_participant(engine, BANK_KZ, KHORGOS_ROLE_BANK, KZT, CNY, 0, 0);
    fixture_participant(engine, BANK_CN, KHORGOS_ROLE_BANK, CNY, KZT, 0, 0);
    fixture_participant(engine, PROVIDER_A, KHORGOS_ROLE_LIQUIDITY_PROVIDER, KZT, CNY, 0, 0);
    fixture_open_day(engine, KZT, KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    struct khorgos_business_day day = {.id = ++fixture_request_id, .currency = CNY, .date = DAY_1,
                                       .queue_mode = KHORGOS_QUEUE_MODE_BYPASS_FIFO,
                                       .cut_off_interbank = fixture_later(engine, 60)};
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_OPEN_DAY, &day, sizeof(day)).status,
                     KHORGOS_SETTLE_ok);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 100000000,
                                   fixture_later(engine, 3600)),
                     0);
    fixture_fund(engine, BANK_KZ, KZT, 10000);
    assert_int_equal(fixture_pay(engine, 60, BANK_KZ, BANK_CN, KZT, CNY, 10000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(khorgos_clock_advance(engine, 120 * SECOND_NS), KHORGOS_ERROR_ok);
    u32 transfers = engine->ledger.transfer_count;
    fixture_fund(engine, PROVIDER_A, CNY, 1000000);
    struct khorgos_payment payment = fixture_lookup(engine, 60);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_QUEUED);
    assert_int_equal(payment.reason, KHORGOS_SETTLE_after_cut_off);
    assert_int_equal(engine->ledger.transfer_count, transfers + 1); /* the funding only */
    assert_true(fixture_balance(engine, BANK_KZ, KZT) == 10000);
    khorgos_close(engine);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_errors_change_nothing),
        cmocka_unit_test(test_conversion_rounding),
        cmocka_unit_test(test_best_quote_and_legs),
        cmocka_unit_test(test_vehicle_routing),
        cmocka_unit_test(test_pvp_atomicity),
        cmocka_unit_test(test_queue_mode_none_and_validation),
        cmocka_unit_test(test_target_day_closed_while_queued),
        cmocka_unit_test(test_target_cut_off_while_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
