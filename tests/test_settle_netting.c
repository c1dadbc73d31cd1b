/* test_settle_netting.c: deferred net settlement windows (settle_netting.c) through
 * khorgos_execute: a net payment needs an open window; a closed window's positions per
 * currency sum to zero and its gross totals equal its payments (cross-currency legs
 * included); settling moves exactly the nets, through the clearing accounts, all or nothing;
 * someone short keeps the window pending and nothing moves; unwind removes exactly the short
 * participant's payments and settles the rest; abort rejects all and gives the quotes' room
 * back; windows close, reopen and settle on journaled timers. A randomised run mixes gross,
 * net and cross-currency payments (direct and through the vehicle currency, by either amount)
 * with random liquidity, credit lines, quotes (some refused), withdrawals, routing changes and
 * window operations, checks the invariants after every request, and a second engine fed the
 * same requests in a data directory (checkpoint halfway, then recovery) ends with
 * byte-identical replies and the same ledger and settlement digests. Last, the liquidity a test
 * day needs under gross settlement and under hourly netting, confirmed through the engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sanitizer.h"
#include "settle_fx_fixture.h"
#include "storage/storage.h"
#include "settle_snapshot_round_trip.h"

static u32 test_window_event(struct khorgos *engine, u32 operation, u32 number, u64 close_at,
                             u64 settle_after, u64 interval) {
    struct khorgos_window event = {.id = ++fixture_request_id, .number = number,
                                   .close_at = close_at, .settle_after = settle_after,
                                   .interval = interval};
    return fixture_one(engine, operation, &event, sizeof(event)).status;
}

static struct khorgos_window test_window(struct khorgos *engine, u32 number) {
    struct khorgos_window query = {.number = number}, out;
    memset(&out, 0, sizeof(out));
    assert_int_equal(fixture_execute(engine, KHORGOS_OPERATION_LOOKUP_WINDOWS, &query,
                                     sizeof(query), &out, sizeof(out)),
                     sizeof(out));
    return out;
}

/* The window's positions; checks that nets per currency sum to zero. */
static u32 test_positions(struct khorgos *engine, u32 number, struct khorgos_window_position *out,
                          u32 capacity) {
    struct khorgos_window_filter filter = {.window = number};
    ASSERT(capacity >= LIMIT_BATCH_EVENTS_MAX);
    u32 size = fixture_execute(engine, KHORGOS_OPERATION_GET_WINDOW_POSITIONS, &filter,
                               sizeof(filter), out, capacity * (u32)sizeof(*out));
    u32 count = size / (u32)sizeof(*out);
    u32 numerics[4] = {KZT, CNY, KGS, USD};
    for (u32 c = 0; c < 4; c++) {
        i128 net = 0;
        for (u32 index = 0; index < count; index++) {
            if (out[index].currency != numerics[c]) continue;
            net += (i128)out[index].net_credit - (i128)out[index].net_debit;
            assert_true(out[index].sent - out[index].received ==
                        out[index].net_debit - out[index].net_credit);
        }
        assert_true(net == 0);
    }
    return count;
}

static const struct khorgos_window_position *test_find(const struct khorgos_window_position *all,
                                                       u32 count, const char *bic, u32 currency) {
    for (u32 index = 0; index < count; index++) {
        if (memcmp(all[index].bic, bic, strlen(bic)) == 0 && all[index].currency == currency) {
            return &all[index];
        }
    }
    return NULL;
}

static struct khorgos_window_position test_all[LIMIT_BATCH_EVENTS_MAX];

static void test_net_payment_needs_open_window(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    u128 digest = ledger_digest(&engine->ledger);
    assert_int_equal(fixture_pay(engine, 1, BANK_KZ, BANK_KZ2, KZT, 0, 1000, 0, 1),
                     KHORGOS_SETTLE_window_not_open);
    assert_int_equal(fixture_lookup(engine, 1).state, KHORGOS_PAYMENT_REJECTED);
    assert_true(ledger_digest(&engine->ledger) == digest);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_CLOSE_WINDOW, 0, 0, 0, 0),
                     KHORGOS_SETTLE_window_not_found);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_OPEN_WINDOW, 0, 1, 0, 0),
                     KHORGOS_SETTLE_timer_invalid);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_OPEN_WINDOW, 0, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_OPEN_WINDOW, 0, 0, 0, 0),
                     KHORGOS_SETTLE_window_already_open);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_SETTLE_WINDOW, 1, 0, 0, 0),
                     KHORGOS_SETTLE_window_state_invalid);
    assert_int_equal(fixture_pay(engine, 2, BANK_KZ, BANK_KZ2, KZT, 0, 1000, 0, 1),
                     KHORGOS_SETTLE_in_window);
    struct khorgos_payment payment = fixture_lookup(engine, 2);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_IN_WINDOW);
    assert_int_equal(payment.window, 1);
    assert_true(ledger_digest(&engine->ledger) == digest); /* nothing moves until settled */
    khorgos_close(engine);
}

static void test_window_settles_exactly_the_nets(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 100000000,
                                   fixture_later(engine, 3600)),
                     0);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_OPEN_WINDOW, 0, 0, 0, 0), 0);
    assert_int_equal(fixture_pay(engine, 1, BANK_KZ, BANK_KZ2, KZT, 0, 1000, 0, 1),
                     KHORGOS_SETTLE_in_window);
    assert_int_equal(fixture_pay(engine, 2, BANK_KZ2, BANK_CN, KZT, 0, 700, 0, 1),
                     KHORGOS_SETTLE_in_window);
    assert_int_equal(fixture_pay(engine, 3, BANK_CN, BANK_KZ, KZT, 0, 500, 0, 1),
                     KHORGOS_SETTLE_in_window);
    /* Cross-currency, net: 100.00 KZT -> 1.52 CNY through provider A. */
    assert_int_equal(fixture_pay(engine, 4, BANK_KZ, BANK_CN, KZT, CNY, 10000, 0, 1),
                     KHORGOS_SETTLE_in_window);
    assert_true(fixture_lookup(engine, 4).amount_target == 152);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_CLOSE_WINDOW, 0, 0, 0, 0), 0);
    struct khorgos_window window = test_window(engine, 1);
    assert_int_equal(window.state, KHORGOS_WINDOW_PENDING_SETTLEMENT);
    assert_int_equal(window.payment_count, 4);
    u32 count = test_positions(engine, 1, test_all, LIMIT_BATCH_EVENTS_MAX);
    assert_int_equal(count, 6); /* KZT: KZ, KZ2, CN, provider A; CNY: provider A, CN */
    u128 gross_kzt = 0;
    for (u32 index = 0; index < count; index++) {
        if (test_all[index].currency == KZT) gross_kzt += test_all[index].sent;
    }
    assert_true(gross_kzt == 1000 + 700 + 500 + 10000);
    assert_true(test_find(test_all, count, BANK_KZ, KZT)->net_debit == 10500);
    assert_true(test_find(test_all, count, BANK_KZ2, KZT)->net_credit == 300);
    assert_true(test_find(test_all, count, BANK_CN, KZT)->net_credit == 200);
    assert_true(test_find(test_all, count, PROVIDER_A, KZT)->net_credit == 10000);
    assert_true(test_find(test_all, count, PROVIDER_A, CNY)->net_debit == 152);
    assert_true(test_find(test_all, count, BANK_CN, CNY)->net_credit == 152);
    /* Nobody funded: short, nothing moves. */
    u32 transfers = engine->ledger.transfer_count;
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_SETTLE_WINDOW, 1, 0, 0, 0),
                     KHORGOS_SETTLE_window_short);
    assert_int_equal(engine->ledger.transfer_count, transfers);
    window = test_window(engine, 1);
    assert_int_equal(window.short_count, 2);
    count = test_positions(engine, 1, test_all, LIMIT_BATCH_EVENTS_MAX);
    assert_true(test_find(test_all, count, BANK_KZ, KZT)->shortfall == 10500);
    /* Exactly the nets funded: settles; only the nets move. */
    fixture_fund(engine, BANK_KZ, KZT, 10500);
    fixture_fund(engine, PROVIDER_A, CNY, 152);
    transfers = engine->ledger.transfer_count;
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_SETTLE_WINDOW, 1, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(engine->ledger.transfer_count, transfers + 6);
    window = test_window(engine, 1);
    assert_int_equal(window.state, KHORGOS_WINDOW_SETTLED);
    assert_int_equal(window.payment_count, 4); /* the payments it settled, not its empty list */
    assert_true(fixture_balance(engine, BANK_KZ, KZT) == 0);
    assert_true(fixture_balance(engine, BANK_KZ2, KZT) == 300);
    assert_true(fixture_balance(engine, BANK_CN, KZT) == 200);
    assert_true(fixture_balance(engine, PROVIDER_A, KZT) == 10000);
    assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 0);
    assert_true(fixture_balance(engine, BANK_CN, CNY) == 152);
    /* The settled window's positions are still listed, the same nets, nobody short. */
    count = test_positions(engine, 1, test_all, LIMIT_BATCH_EVENTS_MAX);
    assert_int_equal(count, 6);
    assert_true(test_find(test_all, count, BANK_KZ, KZT)->net_debit == 10500);
    assert_true(test_find(test_all, count, BANK_KZ, KZT)->short_flag == 0);
    assert_true(test_find(test_all, count, BANK_CN, CNY)->net_credit == 152);
    for (u128 id = 1; id <= 4; id++) {
        struct khorgos_payment payment = fixture_lookup(engine, id);
        assert_int_equal(payment.state, KHORGOS_PAYMENT_SETTLED);
        assert_int_equal(payment.window, 1);
    }
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_ABORT_WINDOW, 1, 0, 0, 0),
                     KHORGOS_SETTLE_window_state_invalid);
    khorgos_close(engine);
}

static void test_unwind_removes_the_short(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_OPEN_WINDOW, 0, 0, 0, 0), 0);
    assert_int_equal(fixture_pay(engine, 1, BANK_KZ, BANK_KZ2, KZT, 0, 1000, 0, 1),
                     KHORGOS_SETTLE_in_window);
    assert_int_equal(fixture_pay(engine, 2, BANK_KZ2, BANK_CN, KZT, 0, 700, 0, 1), KHORGOS_SETTLE_in_window);
    assert_int_equal(fixture_pay(engine, 3, BANK_CN, BANK_KZ2, KZT, 0, 200, 0, 1), KHORGOS_SETTLE_in_window);
    assert_int_equal(fixture_pay(engine, 4, BANK_KZ2, BANK_CN, KZT, 0, 100, 0, 1), KHORGOS_SETTLE_in_window);
    assert_int_equal(fixture_pay(engine, 5, BANK_CN, BANK_KZ, KZT, 0, 50, 0, 1), KHORGOS_SETTLE_in_window);
    fixture_fund(engine, BANK_KZ2, KZT, 600);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_CLOSE_WINDOW, 0, 0, 0, 0), 0);
    u32 transfers = engine->ledger.transfer_count;
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_SETTLE_WINDOW, 1, 0, 0, 0),
                     KHORGOS_SETTLE_window_short);
    assert_int_equal(engine->ledger.transfer_count, transfers);
    u32 count = test_positions(engine, 1, test_all, LIMIT_BATCH_EVENTS_MAX);
    assert_true(test_find(test_all, count, BANK_KZ, KZT)->short_flag == 1);
    assert_true(test_find(test_all, count, BANK_KZ, KZT)->shortfall == 950);
    assert_true(test_find(test_all, count, BANK_KZ2, KZT)->short_flag == 0);
    /* Unwind: payments 1 and 5 (to or from KZ) go; the rest settles on its nets. */
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_UNWIND_WINDOW, 1, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    struct khorgos_window window = test_window(engine, 1);
    assert_int_equal(window.state, KHORGOS_WINDOW_SETTLED);
    assert_int_equal(window.unwound_count, 2);
    assert_int_equal(window.payment_count, 3); /* 2, 3 and 4 settled */
    u8 expected[6] = {0, KHORGOS_PAYMENT_REJECTED, KHORGOS_PAYMENT_SETTLED,
                      KHORGOS_PAYMENT_SETTLED, KHORGOS_PAYMENT_SETTLED, KHORGOS_PAYMENT_REJECTED};
    for (u128 id = 1; id <= 5; id++) {
        struct khorgos_payment payment = fixture_lookup(engine, id);
        assert_int_equal(payment.state, expected[id]);
        if (payment.state == KHORGOS_PAYMENT_REJECTED) {
            assert_int_equal(payment.reason, KHORGOS_SETTLE_unwound);
        }
    }
    assert_true(fixture_balance(engine, BANK_KZ2, KZT) == 0);   /* 600 - 800 + 200 */
    assert_true(fixture_balance(engine, BANK_CN, KZT) == 600);  /* 800 - 200 */
    assert_true(fixture_balance(engine, BANK_KZ, KZT) == 0);
    /* The settled window's positions hold only what settled: KZ is gone from them. */
    count = test_positions(engine, 1, test_all, LIMIT_BATCH_EVENTS_MAX);
    assert_null(test_find(test_all, count, BANK_KZ, KZT));
    assert_true(test_find(test_all, count, BANK_KZ2, KZT)->net_debit == 600);
    khorgos_close(engine);
}

static void test_abort_gives_quote_room_back(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 20000,
                                   fixture_later(engine, 3600)),
                     0);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_OPEN_WINDOW, 0, 0, 0, 0), 0);
    assert_int_equal(fixture_pay(engine, 1, BANK_KZ, BANK_CN, KZT, CNY, 15000, 0, 1),
                     KHORGOS_SETTLE_in_window);
    /* The quote's room is taken at entry: 5,000 left. */
    assert_int_equal(fixture_pay(engine, 2, BANK_KZ, BANK_CN, KZT, CNY, 6000, 0, 1),
                     KHORGOS_SETTLE_quote_unavailable);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_ABORT_WINDOW, 0, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_window(engine, 1).state, KHORGOS_WINDOW_ABORTED);
    assert_int_equal(test_window(engine, 1).payment_count, 0); /* none settled */
    struct khorgos_payment payment = fixture_lookup(engine, 1);
    assert_int_equal(payment.state, KHORGOS_PAYMENT_REJECTED);
    assert_int_equal(payment.reason, KHORGOS_SETTLE_aborted);
    u128 quote_id = 1;
    struct khorgos_fx_quote quote;
    fixture_execute(engine, KHORGOS_OPERATION_LOOKUP_FX_QUOTES, &quote_id, sizeof(quote_id),
                    &quote, sizeof(quote));
    assert_true(quote.amount_used == 0);
    assert_int_equal(fixture_pay(engine, 3, BANK_KZ, BANK_CN, KZT, CNY, 15000, 0, 1),
                     KHORGOS_SETTLE_window_not_open);
    khorgos_close(engine);
}

static void test_windows_on_timers(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    fixture_fund(engine, BANK_KZ, KZT, 1000);
    u64 close_at = fixture_later(engine, 3600);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_OPEN_WINDOW, 0, close_at,
                                       10 * SECOND_NS, 3600 * SECOND_NS),
                     0);
    assert_int_equal(fixture_pay(engine, 1, BANK_KZ, BANK_KZ2, KZT, 0, 1000, 0, 1),
                     KHORGOS_SETTLE_in_window);
    assert_int_equal(khorgos_clock_advance(engine, 3601 * SECOND_NS), KHORGOS_ERROR_ok);
    fixture_check(engine);
    assert_int_equal(test_window(engine, 1).state, KHORGOS_WINDOW_PENDING_SETTLEMENT);
    struct khorgos_window next = test_window(engine, 2);
    assert_int_equal(next.state, KHORGOS_WINDOW_OPEN);
    assert_true(next.close_at == close_at + 3600 * SECOND_NS);
    assert_int_equal(khorgos_clock_advance(engine, 11 * SECOND_NS), KHORGOS_ERROR_ok);
    fixture_check(engine);
    assert_int_equal(test_window(engine, 1).state, KHORGOS_WINDOW_SETTLED);
    assert_int_equal(fixture_lookup(engine, 1).state, KHORGOS_PAYMENT_SETTLED);
    assert_true(fixture_balance(engine, BANK_KZ2, KZT) == 1000);
    assert_int_equal(fixture_pay(engine, 2, BANK_KZ2, BANK_KZ, KZT, 0, 10, 0, 1),
                     KHORGOS_SETTLE_in_window);
    assert_int_equal(fixture_lookup(engine, 2).window, 2);
    khorgos_close(engine);
}

/* A clock that jumps past several intervals of an hourly window: the window closes, and the
 * next one opens on the same grid at the first close still ahead (the engine aborted here when
 * it opened the next window already due). */
static void test_window_timer_after_a_clock_jump(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    u64 close_at = fixture_later(engine, 60);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_OPEN_WINDOW, 0, close_at, 0,
                                       20 * SECOND_NS),
                     0);
    assert_int_equal(khorgos_clock_advance(engine, 125 * SECOND_NS), KHORGOS_ERROR_ok);
    fixture_check(engine);
    assert_int_equal(test_window(engine, 1).state, KHORGOS_WINDOW_PENDING_SETTLEMENT);
    struct khorgos_window next = test_window(engine, 2);
    assert_int_equal(next.state, KHORGOS_WINDOW_OPEN);
    assert_true(next.close_at == close_at + 80 * SECOND_NS); /* 60 + 4 * 20 > 125 */
    assert_int_equal(khorgos_clock_advance(engine, 16 * SECOND_NS), KHORGOS_ERROR_ok);
    assert_int_equal(test_window(engine, 2).state, KHORGOS_WINDOW_PENDING_SETTLEMENT);
    assert_true(test_window(engine, 3).close_at == close_at + 100 * SECOND_NS);
    khorgos_close(engine);
}

/* The settle section of a snapshot carries issue 5's state (quotes, routing, windows, route
 * data of payments): a copy loaded from it has the same digest and answers the same. */
static void test_snapshot_round_trip(void **state) {
    (void)state;
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO);
    u64 later = fixture_later(engine, 3600);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 152, -4, 100000000, later), 0);
    assert_int_equal(fixture_quote(engine, 2, PROVIDER_B, CNY, KGS, 1225, -2, 100000000, later), 0);
    fixture_fund(engine, BANK_KZ, KZT, 100000);
    fixture_fund(engine, PROVIDER_A, CNY, 100000);
    assert_int_equal(fixture_pay(engine, 1, BANK_KZ, BANK_CN, KZT, CNY, 10000, 0, 0),
                     KHORGOS_SETTLE_settled);
    assert_int_equal(fixture_pay(engine, 2, BANK_KZ, BANK_KG, KZT, KGS, 10000, 0, 0),
                     KHORGOS_SETTLE_queued); /* provider B has no KGS yet */
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_OPEN_WINDOW, 0, 0, 0, 0), 0);
    assert_int_equal(fixture_pay(engine, 3, BANK_KZ2, BANK_CN, KZT, CNY, 5000, 0, 1),
                     KHORGOS_SETTLE_in_window);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_CLOSE_WINDOW, 0, 0, 0, 0), 0);
    assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_OPEN_WINDOW, 0,
                                       fixture_later(engine, 600), SECOND_NS, 600 * SECOND_NS),
                     0);
    assert_int_equal(fixture_pay(engine, 4, BANK_CN, BANK_KZ, KZT, 0, 50, 0, 1),
                     KHORGOS_SETTLE_in_window);

    struct khorgos *copy = fixture_open();
    settle_snapshot_round_trip(engine, copy, 5, 1u << 17, 1024);
    fixture_check(copy);

    /* The same requests on both: the queued vehicle payment released, the quote ids known,
     * the pending window settled, the open one closed and settled by its timers. */
    struct khorgos *engines[2] = {engine, copy};
    u128 request_id_start = fixture_request_id;
    for (u32 index = 0; index < 2; index++) {
        fixture_request_id = request_id_start;
        fixture_fund(engines[index], PROVIDER_B, KGS, 1000000);
        assert_int_equal(fixture_lookup(engines[index], 2).state, KHORGOS_PAYMENT_SETTLED);
        assert_int_equal(fixture_quote(engines[index], 1, PROVIDER_A, KZT, CNY, 152, -4, 100000000,
                                       later),
                         KHORGOS_SETTLE_ok);
        fixture_fund(engines[index], BANK_KZ2, KZT, 5000);
        assert_int_equal(test_window_event(engines[index], KHORGOS_OPERATION_SETTLE_WINDOW, 1, 0, 0,
                                           0),
                         KHORGOS_SETTLE_ok);
        fixture_fund(engines[index], BANK_CN, KZT, 50);
        assert_int_equal(khorgos_clock_advance(engines[index], 601 * SECOND_NS), KHORGOS_ERROR_ok);
        assert_int_equal(khorgos_clock_advance(engines[index], 2 * SECOND_NS), KHORGOS_ERROR_ok);
        assert_int_equal(test_window(engines[index], 2).state, KHORGOS_WINDOW_SETTLED);
        assert_int_equal(test_window(engines[index], 3).state, KHORGOS_WINDOW_OPEN);
    }
    assert_true(ledger_digest(&copy->ledger) == ledger_digest(&engine->ledger));
    assert_true(settle_digest(&copy->settle) == settle_digest(&engine->settle));
    khorgos_close(copy);
    khorgos_close(engine);
}

/* ----------------------------------------------------------------------------------------- */
/* Randomised: mixed requests, invariants after each, replayed to identical results.          */

/* Each request is followed by the whole ledger check (every transfer probed in its id map),
 * so the run costs the square of its length: under AddressSanitizer half the requests, a
 * quarter of the cost, with every kind of answer still seen (asserted below). */
#ifdef TEST_SANITIZED
#define RANDOM_REQUESTS 1500u
#else
#define RANDOM_REQUESTS 3000u
#endif

struct random_request {
    u32 operation;
    u32 size;
    u64 advance_ns;
    union {
        struct khorgos_payment payment;
        struct khorgos_participant_event funding;
        struct khorgos_fx_quote quote;
        struct khorgos_window window;
        struct khorgos_fx_routing routing;
        struct khorgos_business_day day;
        u128 quote_id;
    } body;
};

static struct random_request random_requests[RANDOM_REQUESTS];
static u8 random_replies[2][RANDOM_REQUESTS][sizeof(struct khorgos_settle_result)];

static u32 random_routes_settled[KHORGOS_ROUTE_VEHICLE + 1];
static u64 random_state = 0x9E3779B97F4A7C15ull;
static u64 random_next(void) {
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return random_state;
}

static const char *const random_banks[3] = {BANK_KZ, BANK_KZ2, BANK_CN};

static void random_funding(struct random_request *request, u32 index, u32 kind, u32 currency,
                           const char *debtor) {
    request->operation = kind == 2 ? KHORGOS_OPERATION_SET_CREDIT_LINES : KHORGOS_OPERATION_FUND;
    request->size = sizeof(struct khorgos_participant_event);
    struct khorgos_participant_event *event = &request->body.funding;
    event->id = (1u << 24) + index;
    event->amount = (kind == 2 ? 0 : 1) + random_next() % 5000;
    bool provider = kind == 0;
    /* Providers also hold KGS, the vehicle route's target here. */
    event->currency = provider && random_next() % 3 == 0 ? KGS : currency;
    const char *who = provider ? (random_next() % 2 ? PROVIDER_A : PROVIDER_B) : debtor;
    memcpy(event->bic, who, strlen(who));
}

/* Quotes of KZT -> CNY, CNY -> KZT and CNY -> KGS (so KZT -> KGS goes through CNY); now and
 * then an expired or too precise one (refused). */
static void random_quote(struct random_request *request, u32 index, u64 start_ns) {
    static const u32 sources[3] = {KZT, CNY, CNY}, targets[3] = {CNY, KZT, KGS};
    static const int32_t exponents[3] = {-4, 0, -2};
    static const u64 bases[3] = {140, 60, 1200};
    u32 pair = (u32)(random_next() % 3);
    u64 mantissa = bases[pair] + random_next() % (bases[pair] / 5);
    u64 expires_at = start_ns + (index + 1 + random_next() % 200) * 2 * SECOND_NS;
    if (random_next() % 25 == 0) expires_at = start_ns;
    if (random_next() % 25 == 0) mantissa = 1234567890123ull;
    request->operation = KHORGOS_OPERATION_SET_FX_QUOTES;
    request->size = sizeof(struct khorgos_fx_quote);
    request->body.quote = fixture_quote_event((1u << 25) + index,
                                              random_next() % 2 ? PROVIDER_A : PROVIDER_B,
                                              sources[pair], targets[pair], mantissa,
                                              exponents[pair], 1 + random_next() % 200000,
                                              expires_at);
}

/* A window's life in turn: open, close, settle, then unwind (or abort). */
static void random_window(struct random_request *request, u32 index, u32 *operation_count) {
    u32 phase = *operation_count % 4, number = *operation_count / 4 + 1;
    (*operation_count)++;
    request->operation = phase == 0       ? KHORGOS_OPERATION_OPEN_WINDOW
                         : phase == 1     ? KHORGOS_OPERATION_CLOSE_WINDOW
                         : phase == 2     ? KHORGOS_OPERATION_SETTLE_WINDOW
                         : number % 3 == 0 ? KHORGOS_OPERATION_ABORT_WINDOW
                                           : KHORGOS_OPERATION_UNWIND_WINDOW;
    request->size = sizeof(struct khorgos_window);
    request->body.window.id = (1u << 26) + index;
    if (phase >= 2) request->body.window.number = number;
}

/* Gross or net, one currency or cross-currency (to KGS through the vehicle now and then), by
 * the debtor's or the creditor's amount. */
static void random_payment(struct random_request *request, u128 id, u32 currency,
                           u32 debtor_index) {
    const char *debtor = random_banks[debtor_index];
    const char *creditor = random_banks[(debtor_index + 1 + random_next() % 2) % 3];
    bool cross = random_next() % 3 == 0;
    u8 net = random_next() % 3 == 0;
    u128 amount = 1 + random_next() % 3000;
    bool creditor_amount = cross && random_next() % 4 == 0;
    u32 target = cross ? (currency == KZT ? CNY : KZT) : 0;
    if (cross && random_next() % 4 == 0) {
        target = KGS;
        creditor = BANK_KG;
    }
    request->operation = KHORGOS_OPERATION_SUBMIT_PAYMENTS;
    request->size = sizeof(struct khorgos_payment);
    request->body.payment =
        fixture_payment_event(id, debtor, creditor, currency, target, creditor_amount ? 0 : amount,
                              creditor_amount ? amount / 10 + 1 : 0, net);
}

static void random_generate(u64 start_ns) {
    static const u32 currencies[2] = {KZT, CNY};
    u128 id = 1;
    u32 window_operation_count = 0;
    for (u32 index = 0; index < RANDOM_REQUESTS; index++) {
        struct random_request *request = &random_requests[index];
        memset(request, 0, sizeof(*request));
        request->advance_ns = (random_next() % 4) * SECOND_NS;
        u32 kind = (u32)(random_next() % 24);
        u32 currency = currencies[random_next() % 2];
        u32 debtor_index = (u32)(random_next() % 3);
        if (kind < 3) {
            random_funding(request, index, kind, currency, random_banks[debtor_index]);
        } else if (kind < 5) {
            random_quote(request, index, start_ns);
        } else if (kind < 7) {
            random_window(request, index, &window_operation_count);
        } else if (kind == 7) { /* withdraw a quote made earlier (or never made) */
            request->operation = KHORGOS_OPERATION_WITHDRAW_FX_QUOTES;
            request->size = sizeof(u128);
            request->body.quote_id = (1u << 25) + random_next() % (index + 1);
        } else if (kind == 8) { /* routing: mostly direct_first, at times vehicle_only */
            request->operation = KHORGOS_OPERATION_SET_FX_ROUTING;
            request->size = sizeof(struct khorgos_fx_routing);
            request->body.routing = (struct khorgos_fx_routing){
                .id = (1u << 27) + index, .vehicle_currency = CNY,
                .mode = random_next() % 3 == 0 ? KHORGOS_ROUTING_VEHICLE_ONLY
                                               : KHORGOS_ROUTING_DIRECT_FIRST};
        } else if (kind == 9) { /* gridlock resolution: cross-currency payments stay out */
            request->operation = KHORGOS_OPERATION_RESOLVE_GRIDLOCK;
            request->size = sizeof(struct khorgos_business_day);
            request->body.day = (struct khorgos_business_day){.id = (1u << 28) + index,
                                                              .currency = currency};
        } else {
            random_payment(request, id++, currency, debtor_index);
        }
    }
}

/* Runs the generated requests; replies into random_replies[run]; returns the digests. With a
 * data directory `path`: a checkpoint halfway, then closed and reopened (recovery from the
 * snapshot and the journal after it) before the digests are taken. */
static void random_run(u32 run, const char *path, u8 mode, u128 *ledger_out, u128 *settle_out) {
    fixture_request_id = 1u << 20; /* the setup's request ids too are the same in both runs */
    struct khorgos *engine = NULL;
    struct khorgos_open_options options = {.clock_manual = 1};
    if (path == NULL) {
        engine = fixture_open();
    } else {
        struct khorgos_config config = {.account_count_max = 4096, .transfer_count_max = 1u << 17,
                                        .account_balance_count_max = 1024, .clock_manual = 1,
                                        .participant_count_max = 32, .payment_count_max = 8192};
        assert_int_equal(khorgos_format(path, &config), KHORGOS_ERROR_ok);
        assert_int_equal(khorgos_open(&engine, path, &options), KHORGOS_ERROR_ok);
    }
    fixture_setup(engine, mode);
    for (u32 index = 0; index < RANDOM_REQUESTS; index++) {
        if (path != NULL && index == RANDOM_REQUESTS / 2) {
            /* A checkpoint in the middle: recovery then loads settlement state (quotes,
             * windows, queues) from the snapshot and replays only the journal after it. */
            assert_int_equal(khorgos_checkpoint(engine), KHORGOS_ERROR_ok);
        }
        const struct random_request *request = &random_requests[index];
        if (request->advance_ns != 0) {
            assert_int_equal(khorgos_clock_advance(engine, request->advance_ns), KHORGOS_ERROR_ok);
        }
        struct khorgos_settle_result *reply = (void *)random_replies[run][index];
        assert_int_equal(fixture_execute(engine, request->operation, &request->body,
                                         request->size, reply, sizeof(*reply)),
                         sizeof(*reply));
    }
    if (path != NULL) {
        khorgos_close(engine);
        assert_int_equal(khorgos_open(&engine, path, &options), KHORGOS_ERROR_ok);
        fixture_check(engine);
    }
    for (u32 payment = 0; payment < engine->settle.payment_count; payment++) {
        const struct khorgos_payment *record = &engine->settle.payments[payment];
        if (record->state == KHORGOS_PAYMENT_SETTLED) random_routes_settled[record->route]++;
    }
    *ledger_out = ledger_digest(&engine->ledger);
    *settle_out = settle_digest(&engine->settle);
    khorgos_close(engine);
}

static void test_randomised_replay(void **state) {
    (void)state;
    struct khorgos *probe = fixture_open();
    u64 start_ns = khorgos_clock_now(probe);
    khorgos_close(probe);
    random_generate(start_ns);
    u128 ledger_a = 0, ledger_b = 0, settle_a = 0, settle_b = 0;
    random_run(0, NULL, KHORGOS_QUEUE_MODE_BYPASS_FIFO, &ledger_a, &settle_a);
    char directory[] = "/tmp/khorgos-netting-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char path[64];
    snprintf(path, sizeof(path), "%s/data", directory);
    random_run(1, path, KHORGOS_QUEUE_MODE_BYPASS_FIFO, &ledger_b, &settle_b);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", directory);
    assert_int_equal(system(command), 0);
    assert_true(ledger_a == ledger_b);
    assert_true(settle_a == settle_b);
    assert_memory_equal(random_replies[0], random_replies[1], sizeof(random_replies[0]));
    /* The run did exercise every path: settled, queued, windowed and rejected answers. */
    u32 seen[KHORGOS_SETTLE_STATUS_COUNT] = {0};
    for (u32 index = 0; index < RANDOM_REQUESTS; index++) {
        const struct khorgos_settle_result *reply = (const void *)random_replies[0][index];
        assert_true(reply->status < KHORGOS_SETTLE_STATUS_COUNT);
        seen[reply->status]++;
    }
    assert_true(seen[KHORGOS_SETTLE_settled] > 0 && seen[KHORGOS_SETTLE_queued] > 0);
    assert_true(seen[KHORGOS_SETTLE_in_window] > 0 && seen[KHORGOS_SETTLE_window_short] > 0);
    assert_true(seen[KHORGOS_SETTLE_quote_expired] > 0 && seen[KHORGOS_SETTLE_rate_too_precise] > 0);
    /* ... and cross-currency payments settled both direct and through the vehicle currency. */
    assert_true(random_routes_settled[KHORGOS_ROUTE_DIRECT] > 0);
    assert_true(random_routes_settled[KHORGOS_ROUTE_VEHICLE] > 0);
    /* The same requests under fifo (a waiting cross-currency payment holds its payer's queue
     * and cuts it for gridlock resolution): invariants hold, and a rerun is identical. */
    random_run(0, NULL, KHORGOS_QUEUE_MODE_FIFO, &ledger_a, &settle_a);
    random_run(1, NULL, KHORGOS_QUEUE_MODE_FIFO, &ledger_b, &settle_b);
    assert_true(ledger_a == ledger_b && settle_a == settle_b);
    assert_memory_equal(random_replies[0], random_replies[1], sizeof(random_replies[0]));
}

/* ----------------------------------------------------------------------------------------- */
/* The liquidity a test day needs: gross settlement against hourly netting.                   */

#define DAY_PAYMENTS 2000u
#define DAY_PARTICIPANTS 5u
#define HOUR_NS (3600ull * SECOND_NS)

static const char *const day_banks[DAY_PARTICIPANTS] = {BANK_KZ, BANK_KZ2, BANK_CN, PROVIDER_A,
                                                        PROVIDER_B};
struct day_payment {
    u64 offset_ns; /* after the window opened */
    u32 payer, payee;
    u128 amount;
};
static struct day_payment day_payments[DAY_PAYMENTS];

/* Per participant: gross need (the most its cumulative sent - received reached, each payment
 * settled at once: the upper bound UB), hourly-netting need (the most its cumulative net
 * reached at a window's settlement) and the lower bound (its net over the day). */
static void day_needs(u128 gross[DAY_PARTICIPANTS], u128 hourly[DAY_PARTICIPANTS],
                      u128 lower[DAY_PARTICIPANTS]) {
    i128 cumulative[DAY_PARTICIPANTS] = {0};
    for (u32 index = 0; index < DAY_PAYMENTS; index++) {
        const struct day_payment *payment = &day_payments[index];
        cumulative[payment->payer] += (i128)payment->amount;
        cumulative[payment->payee] -= (i128)payment->amount;
        if (cumulative[payment->payer] > 0 && (u128)cumulative[payment->payer] > gross[payment->payer]) {
            gross[payment->payer] = (u128)cumulative[payment->payer];
        }
        bool last_of_hour = index + 1 == DAY_PAYMENTS ||
                            day_payments[index + 1].offset_ns / HOUR_NS != payment->offset_ns / HOUR_NS;
        for (u32 p = 0; last_of_hour && p < DAY_PARTICIPANTS; p++) {
            if (cumulative[p] > 0 && (u128)cumulative[p] > hourly[p]) hourly[p] = (u128)cumulative[p];
        }
    }
    for (u32 p = 0; p < DAY_PARTICIPANTS; p++) lower[p] = cumulative[p] > 0 ? (u128)cumulative[p] : 0;
}

/* Runs the day through an engine funded with `funding`: gross (queue mode none: a payment
 * not covered at once would be rejected) or net in hourly windows closing and settling on
 * their timers. Asserts that every payment settled. */
static void day_run(bool net, const u128 funding[DAY_PARTICIPANTS]) {
    struct khorgos *engine = fixture_system(KHORGOS_QUEUE_MODE_NONE);
    for (u32 p = 0; p < DAY_PARTICIPANTS; p++) {
        if (funding[p] > 0) fixture_fund(engine, day_banks[p], KZT, funding[p]);
    }
    u64 start = khorgos_clock_now(engine);
    if (net) {
        assert_int_equal(test_window_event(engine, KHORGOS_OPERATION_OPEN_WINDOW, 0,
                                           start + HOUR_NS, SECOND_NS, HOUR_NS),
                         KHORGOS_SETTLE_ok);
    }
    for (u32 index = 0; index < DAY_PAYMENTS; index++) {
        const struct day_payment *payment = &day_payments[index];
        u64 now = khorgos_clock_now(engine);
        assert_true(start + payment->offset_ns > now);
        assert_int_equal(khorgos_clock_advance(engine, start + payment->offset_ns - now),
                         KHORGOS_ERROR_ok);
        assert_int_equal(fixture_pay(engine, index + 1, day_banks[payment->payer],
                                     day_banks[payment->payee], KZT, 0, payment->amount, 0, net),
                         net ? KHORGOS_SETTLE_in_window : KHORGOS_SETTLE_settled);
    }
    /* The last window's close timer, then (a second later) its settle timer. */
    u64 end = start + 8 * HOUR_NS + SECOND_NS;
    assert_int_equal(khorgos_clock_advance(engine, end - khorgos_clock_now(engine)), KHORGOS_ERROR_ok);
    assert_int_equal(khorgos_clock_advance(engine, 2 * SECOND_NS), KHORGOS_ERROR_ok);
    fixture_check(engine);
    for (u32 index = 0; index < DAY_PAYMENTS; index++) {
        assert_int_equal(fixture_lookup(engine, index + 1).state, KHORGOS_PAYMENT_SETTLED);
    }
    for (u32 number = 1; net && number <= 8; number++) {
        assert_int_equal(test_window(engine, number).state, KHORGOS_WINDOW_SETTLED);
    }
    khorgos_close(engine);
}

static void test_liquidity_gross_versus_hourly_netting(void **state) {
    (void)state;
    u64 seed = 0x243F6A8885A308D3ull;
    for (u32 index = 0; index < DAY_PAYMENTS; index++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        u32 payer = (u32)(seed >> 33) % DAY_PARTICIPANTS;
        u32 payee = (payer + 1 + (u32)(seed >> 45) % (DAY_PARTICIPANTS - 1)) % DAY_PARTICIPANTS;
        /* 10 s, then every 14.3 s over eight hours (never on an hour's boundary). */
        day_payments[index] = (struct day_payment){
            .offset_ns = 10 * SECOND_NS + (u64)index * 14300000000ull, .payer = payer,
            .payee = payee, .amount = 1 + (seed >> 20) % 10000000};
    }
    u128 gross[DAY_PARTICIPANTS] = {0}, hourly[DAY_PARTICIPANTS] = {0}, lower[DAY_PARTICIPANTS] = {0};
    day_needs(gross, hourly, lower);
    u128 gross_total = 0, hourly_total = 0, lower_total = 0;
    for (u32 p = 0; p < DAY_PARTICIPANTS; p++) {
        assert_true(lower[p] <= hourly[p] && hourly[p] <= gross[p]);
        gross_total += gross[p];
        hourly_total += hourly[p];
        lower_total += lower[p];
    }
    assert_true(hourly_total < gross_total);
    day_run(false, gross);
    day_run(true, hourly);
    printf("liquidity of a test day (%u KZT payments, %u participants, 8 hours): gross (UB) "
           "%llu.%02llu KZT, hourly netting %llu.%02llu KZT (%.1f%% of gross), lower bound "
           "%llu.%02llu KZT\n",
           DAY_PAYMENTS, DAY_PARTICIPANTS, (unsigned long long)(gross_total / 100),
           (unsigned long long)(gross_total % 100), (unsigned long long)(hourly_total / 100),
           (unsigned long long)(hourly_total % 100),
           100.0 * (double)hourly_total / (double)gross_total,
           (unsigned long long)(lower_total / 100), (unsigned long long)(lower_total % 100));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_payment_needs_open_window),
        cmocka_unit_test(test_window_settles_exactly_the_nets),
        cmocka_unit_test(test_unwind_removes_the_short),
        cmocka_unit_test(test_abort_gives_quote_room_back),
        cmocka_unit_test(test_windows_on_timers),
        cmocka_unit_test(test_window_timer_after_a_clock_jump),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_randomised_replay),
        cmocka_unit_test(test_liquidity_gross_versus_hourly_netting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
