/* test_settle_lsm_fx.c: queued cross-currency (PvP) payments in liquidity saving (issue 5 item
 * 3, settle_resolve.c's header): a queued PvP payment takes part in the source currency's
 * offsetting and gridlock resolution as its source leg (payer -> provider), only when its other
 * legs can settle too, and all its legs are booked in the set's one linked chain. Every
 * state-changing request is followed by fixture_check: each currency conserved, the ledger's,
 * the settle layer's and issue 5's invariants. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "settle_fx_fixture.h"

/* Agents, banks and providers of the fixture; every day open under `mode` with resolution on
 * request, and offsetting on entry when `offsetting`. */
static const u32 lsm_fx_numerics[4] = {KZT, CNY, KGS, USD};

static void lsm_fx_participants(struct khorgos *engine) {
    const char *agents[4] = {AGENT_KZT, AGENT_CNY, AGENT_KGS, AGENT_USD};
    const u32 *numerics = lsm_fx_numerics;
    for (u32 c = 0; c < 4; c++) {
        fixture_participant(engine, agents[c], KHORGOS_ROLE_SETTLEMENT_AGENT, numerics[c], 0, 0,
                            0);
    }
    fixture_participant(engine, BANK_KZ, KHORGOS_ROLE_BANK, KZT, CNY, 0, 0);
    fixture_participant(engine, BANK_KZ2, KHORGOS_ROLE_BANK, KZT, CNY, 0, 0);
    fixture_participant(engine, BANK_CN, KHORGOS_ROLE_BANK, CNY, KZT, 0, 0);
    fixture_participant(engine, BANK_KG, KHORGOS_ROLE_BANK, KGS, 0, 0, 0);
    fixture_participant(engine, PROVIDER_A, KHORGOS_ROLE_LIQUIDITY_PROVIDER, KZT, CNY, KGS, USD);
    fixture_participant(engine, PROVIDER_B, KHORGOS_ROLE_LIQUIDITY_PROVIDER, KZT, CNY, KGS, USD);
}

static struct khorgos *lsm_fx_system_on(struct khorgos *engine, u8 mode, bool offsetting) {
    const u32 *numerics = lsm_fx_numerics;
    lsm_fx_participants(engine);
    for (u32 c = 0; c < 4; c++) {
        struct khorgos_business_day event = {
            .id = ++fixture_request_id, .currency = numerics[c], .date = DAY_1,
            .queue_mode = mode,
            .flags = KHORGOS_DAY_RESOLUTION_ON_REQUEST |
                     (offsetting ? KHORGOS_DAY_OFFSETTING_ON_ENTRY : 0)};
        assert_int_equal(
            fixture_one(engine, KHORGOS_OPERATION_OPEN_DAY, &event, sizeof(event)).status,
            KHORGOS_SETTLE_ok);
    }
    return engine;
}

static struct khorgos *lsm_fx_system(u8 mode, bool offsetting) {
    return lsm_fx_system_on(fixture_open(), mode, offsetting);
}

/* Under fifo, with provider A quoting KZT -> CNY at 0.015 (quote 1, for ten minutes). */
static struct khorgos *lsm_fx_quoted_system(bool offsetting) {
    struct khorgos *engine = lsm_fx_system(KHORGOS_QUEUE_MODE_FIFO, offsetting);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 15, -3, 100000000,
                                   fixture_later(engine, 600)),
                     0);
    return engine;
}

static struct khorgos_settle_result lsm_fx_resolve(struct khorgos *engine, u32 currency) {
    struct khorgos_business_day event = {.id = ++fixture_request_id, .currency = currency};
    return fixture_one(engine, KHORGOS_OPERATION_RESOLVE_GRIDLOCK, &event, sizeof(event));
}

static u32 lsm_fx_transfer_index(const struct khorgos *engine, u128 id) {
    u32 index = 0;
    assert_true(id != 0);
    assert_true(base_id_map_get(&engine->ledger.transfer_map, id, &index));
    return index;
}

/* The transfers from `first` to the ledger's last are ONE linked chain: every one linked but
 * the last. */
static void lsm_fx_assert_one_chain(const struct khorgos *engine, u32 first) {
    const struct ledger *ledger = &engine->ledger;
    assert_true(first < ledger->transfer_count);
    for (u32 index = first; index + 1 < ledger->transfer_count; index++) {
        assert_true((ledger->transfers[index].flags & KHORGOS_TRANSFER_LINKED) != 0);
    }
    assert_true((ledger->transfers[ledger->transfer_count - 1].flags &
                 KHORGOS_TRANSFER_LINKED) == 0);
}

static u128 lsm_fx_quote_used(struct khorgos *engine, u128 id) {
    struct khorgos_fx_quote quote;
    memset(&quote, 0, sizeof(quote));
    assert_int_equal(fixture_execute(engine, KHORGOS_OPERATION_LOOKUP_FX_QUOTES, &id, sizeof(id),
                                     &quote, sizeof(quote)),
                     sizeof(quote));
    return quote.amount_used;
}

/* KZ -> KZ2 (KZT), KZ2 -> CN cross-currency KZT -> CNY through provider A, A -> KZ (KZT):
 * nobody holds KZT, so each waits; the cycle in KZT is KZ -> KZ2 -> A -> KZ, the PvP payment's
 * source leg closing it. One resolution settles all three with both legs, in one chain. */
static void test_gridlock_with_a_cross_currency_payment(void **state) {
    (void)state;
    struct khorgos *engine = lsm_fx_quoted_system(false);
    fixture_fund(engine, PROVIDER_A, CNY, 20000);
    assert_int_equal(fixture_pay(engine, 10, BANK_KZ, BANK_KZ2, KZT, 0, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_pay(engine, 11, BANK_KZ2, BANK_CN, KZT, CNY, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_lookup(engine, 11).reason, KHORGOS_SETTLE_insufficient_funds);
    assert_int_equal(fixture_pay(engine, 12, PROVIDER_A, BANK_KZ, KZT, 0, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    u32 first = engine->ledger.transfer_count;
    struct khorgos_settle_result result = lsm_fx_resolve(engine, KZT);
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(result.payments_settled, 3);
    for (u128 id = 10; id <= 12; id++) { /* the conversion too: settled in the set */
        assert_int_equal(fixture_lookup(engine, id).state, KHORGOS_PAYMENT_SETTLED);
        assert_int_equal(fixture_lookup(engine, id).settled_in, KHORGOS_SETTLED_IN_SET);
    }
    struct khorgos_payment pvp = fixture_lookup(engine, 11);
    assert_true(pvp.amount == 1000000 && pvp.amount_target == 15000);
    assert_int_equal(pvp.provider, fixture_participant_number(engine, PROVIDER_A));
    assert_true(fixture_balance(engine, BANK_CN, CNY) == 15000);
    assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 5000);
    assert_true(fixture_balance(engine, PROVIDER_A, KZT) == 0);
    assert_true(fixture_balance(engine, BANK_KZ, KZT) == 0);
    assert_true(fixture_balance(engine, BANK_KZ2, KZT) == 0);
    /* Each leg's receipt and debit through its currency's clearing account, 3 legs in KZT and
     * the target leg in CNY: one linked chain. */
    assert_int_equal(engine->ledger.transfer_count, first + 8);
    lsm_fx_assert_one_chain(engine, first);
    u32 debit = lsm_fx_transfer_index(engine, pvp.transfer_id_debit);
    u32 credit = lsm_fx_transfer_index(engine, pvp.transfer_id_credit);
    assert_true(debit >= first && credit >= first);
    assert_int_equal(engine->ledger.transfers[debit].ledger, KZT);
    assert_int_equal(engine->ledger.transfers[credit].ledger, CNY);
    assert_true(engine->ledger.transfers[credit].user_data_128 == 11);
    assert_true(lsm_fx_quote_used(engine, 1) == 1000000);
    khorgos_close(engine);
}

/* A vehicle route (KZT -> CNY -> KGS through two providers): all three legs in the chain. */
static void test_gridlock_with_a_vehicle_route(void **state) {
    (void)state;
    struct khorgos *engine = lsm_fx_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO, false);
    u64 expiry = fixture_later(engine, 600);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 15, -3, 100000000, expiry), 0);
    assert_int_equal(fixture_quote(engine, 2, PROVIDER_B, CNY, KGS, 12, 0, 100000000, expiry), 0);
    fixture_fund(engine, PROVIDER_A, CNY, 15000);
    fixture_fund(engine, PROVIDER_B, KGS, 180000);
    assert_int_equal(fixture_pay(engine, 20, BANK_KZ, BANK_KZ2, KZT, 0, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_pay(engine, 21, BANK_KZ2, BANK_KG, KZT, KGS, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_pay(engine, 22, PROVIDER_A, BANK_KZ, KZT, 0, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    u32 first = engine->ledger.transfer_count;
    assert_int_equal(lsm_fx_resolve(engine, KZT).payments_settled, 3);
    struct khorgos_payment pvp = fixture_lookup(engine, 21);
    assert_int_equal(pvp.state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(pvp.route, KHORGOS_ROUTE_VEHICLE);
    assert_true(pvp.amount_target == 180000);
    assert_true(fixture_balance(engine, BANK_KG, KGS) == 180000);
    assert_true(fixture_balance(engine, PROVIDER_B, KGS) == 0);
    assert_true(fixture_balance(engine, PROVIDER_B, CNY) == 15000);
    assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 0);
    assert_int_equal(engine->ledger.transfer_count, first + 10); /* 5 legs, 2 transfers each */
    lsm_fx_assert_one_chain(engine, first);
    khorgos_close(engine);
}

/* The provider cannot pay the target leg: the PvP payment is left out of the run, nothing of
 * it is booked and its quote room is given back; under bypass_fifo the rest that can settle
 * does, under fifo its payer's later payments wait behind it. */
static void test_target_leg_short_stays_queued(void **state) {
    (void)state;
    for (u8 mode = KHORGOS_QUEUE_MODE_FIFO; mode <= KHORGOS_QUEUE_MODE_BYPASS_FIFO; mode++) {
        struct khorgos *engine = lsm_fx_system(mode, false);
        assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 15, -3, 100000000,
                                       fixture_later(engine, 600)),
                         0);
        fixture_fund(engine, PROVIDER_A, CNY, 14999); /* one fen short of the target leg */
        assert_int_equal(fixture_pay(engine, 32, BANK_KZ, BANK_KZ2, KZT, 0, 1000000, 0, 0),
                         KHORGOS_SETTLE_queued);
        assert_int_equal(fixture_pay(engine, 33, BANK_KZ2, BANK_CN, KZT, CNY, 1000000, 0, 0),
                         KHORGOS_SETTLE_queued);
        assert_int_equal(fixture_pay(engine, 34, PROVIDER_A, BANK_KZ, KZT, 0, 1000000, 0, 0),
                         KHORGOS_SETTLE_queued);
        assert_int_equal(fixture_pay(engine, 35, BANK_KZ2, BANK_KZ, KZT, 0, 1000000, 0, 0),
                         KHORGOS_SETTLE_queued);
        u32 transfers = engine->ledger.transfer_count;
        bool bypass = mode == KHORGOS_QUEUE_MODE_BYPASS_FIFO;
        /* With 33 the cycle 32, 33, 34 would settle; without it A cannot pay 34, so only 32
         * and 35 can, and under fifo 35 waits behind 33. */
        assert_int_equal(lsm_fx_resolve(engine, KZT).payments_settled, bypass ? 2 : 0);
        assert_int_equal(engine->ledger.transfer_count, transfers + (bypass ? 4 : 0));
        assert_int_equal(fixture_lookup(engine, 32).state,
                         bypass ? KHORGOS_PAYMENT_SETTLED : KHORGOS_PAYMENT_QUEUED);
        assert_int_equal(fixture_lookup(engine, 35).state,
                         bypass ? KHORGOS_PAYMENT_SETTLED : KHORGOS_PAYMENT_QUEUED);
        assert_int_equal(fixture_lookup(engine, 33).state, KHORGOS_PAYMENT_QUEUED);
        assert_int_equal(fixture_lookup(engine, 34).state, KHORGOS_PAYMENT_QUEUED);
        assert_true(fixture_balance(engine, BANK_CN, CNY) == 0);
        assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 14999);
        assert_true(fixture_balance(engine, PROVIDER_A, KZT) == 0);
        assert_true(lsm_fx_quote_used(engine, 1) == 0);
        /* One fen more: under fifo the next resolution settles the cycle 32, 33, 34 (35, the
         * tail of KZ2's queue, is left: KZ2 would be short); under bypass_fifo 32 is gone and
         * KZ2 cannot pay 33. */
        fixture_fund(engine, PROVIDER_A, CNY, 1);
        assert_int_equal(lsm_fx_resolve(engine, KZT).payments_settled, bypass ? 0 : 3);
        assert_int_equal(fixture_lookup(engine, 33).state,
                         bypass ? KHORGOS_PAYMENT_QUEUED : KHORGOS_PAYMENT_SETTLED);
        assert_true(fixture_balance(engine, BANK_CN, CNY) == (bypass ? 0 : 15000));
        khorgos_close(engine);
    }
}

/* Greedy reservation: the provider's CNY covers one target leg of two; one resolution settles
 * exactly one of the two PvP payments (the first in load order) and the rest of its cycle. */
static void test_reservation_keeps_the_set_feasible(void **state) {
    (void)state;
    struct khorgos *engine = lsm_fx_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO, false);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 15, -3, 100000000,
                                   fixture_later(engine, 600)),
                     0);
    fixture_fund(engine, PROVIDER_A, CNY, 20000); /* one target leg of 15000, not two */
    assert_int_equal(fixture_pay(engine, 40, BANK_KZ, BANK_CN, KZT, CNY, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_pay(engine, 41, BANK_KZ2, BANK_CN, KZT, CNY, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_pay(engine, 42, PROVIDER_A, BANK_KZ, KZT, 0, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_pay(engine, 43, PROVIDER_A, BANK_KZ2, KZT, 0, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(lsm_fx_resolve(engine, KZT).payments_settled, 2);
    assert_int_equal(fixture_lookup(engine, 40).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(fixture_lookup(engine, 42).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(fixture_lookup(engine, 41).state, KHORGOS_PAYMENT_QUEUED);
    assert_int_equal(fixture_lookup(engine, 43).state, KHORGOS_PAYMENT_QUEUED);
    assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 5000);
    assert_true(lsm_fx_quote_used(engine, 1) == 1000000); /* 41's room given back */
    /* Funding the provider in CNY releases nothing alone (KZ2 has no KZT), but a resolution
     * then settles the other cycle. */
    fixture_fund(engine, PROVIDER_A, CNY, 10000);
    assert_int_equal(fixture_lookup(engine, 41).state, KHORGOS_PAYMENT_QUEUED);
    assert_int_equal(lsm_fx_resolve(engine, KZT).payments_settled, 2);
    assert_int_equal(fixture_lookup(engine, 41).state, KHORGOS_PAYMENT_SETTLED);
    assert_true(fixture_balance(engine, BANK_CN, CNY) == 30000);
    assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 0);
    khorgos_close(engine);
}

/* Offsetting on entry: the provider's new KZT payment to a bank whose PvP payment waits (its
 * source leg pays that provider) settles together with it. */
static void test_offsetting_releases_a_queued_pvp_payment(void **state) {
    (void)state;
    struct khorgos *engine = lsm_fx_quoted_system(true);
    fixture_fund(engine, PROVIDER_A, CNY, 15000);
    assert_int_equal(fixture_pay(engine, 50, BANK_KZ2, BANK_CN, KZT, CNY, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    u32 first = engine->ledger.transfer_count;
    assert_int_equal(fixture_pay(engine, 51, PROVIDER_A, BANK_KZ2, KZT, 0, 1000000, 0, 0),
                     KHORGOS_SETTLE_settled);
    assert_int_equal(fixture_lookup(engine, 50).state, KHORGOS_PAYMENT_SETTLED);
    assert_true(fixture_balance(engine, BANK_CN, CNY) == 15000);
    assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 0);
    assert_true(fixture_balance(engine, BANK_KZ2, KZT) == 0);
    assert_true(fixture_balance(engine, PROVIDER_A, KZT) == 0);
    /* Offsetting on entry runs across currencies: each of the three legs is received and paid
     * through its currency's clearing account, in one chain. */
    assert_int_equal(engine->ledger.transfer_count, first + 6);
    lsm_fx_assert_one_chain(engine, first);
    /* Not released when its target leg cannot settle: the provider pays alone or waits. */
    assert_int_equal(fixture_pay(engine, 52, BANK_KZ2, BANK_CN, KZT, CNY, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_pay(engine, 53, PROVIDER_A, BANK_KZ2, KZT, 0, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_lookup(engine, 52).state, KHORGOS_PAYMENT_QUEUED);
    assert_true(lsm_fx_quote_used(engine, 1) == 1000000);
    khorgos_close(engine);
}

/* Offsetting on entry across currencies: the audit's pair of conversions (lsm_fx_audit_pair),
 * the second submitted while the first waits. Alone it cannot settle (CN holds no CNY), but
 * the queued conversion pays back into both of its paying positions (CN's CNY through A's
 * target leg, A's KZT through its source leg), and together they are feasible: it settles on
 * entry, in one chain with the queued one. Without offsetting it waits. */
static void test_conversion_offset_on_entry(void **state) {
    (void)state;
    for (u32 run = 0; run < 2; run++) {
        bool offsetting = run == 1;
        struct khorgos *engine = lsm_fx_system(KHORGOS_QUEUE_MODE_FIFO, offsetting);
        u64 expiry = fixture_later(engine, 600);
        assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 15, -3, 100000000,
                                       expiry), 0);
        assert_int_equal(fixture_quote(engine, 2, PROVIDER_A, CNY, KZT, 66, 0, 100000000, expiry),
                         0);
        fixture_fund(engine, PROVIDER_A, CNY, 5000);
        fixture_fund(engine, BANK_KZ, KZT, 1000000);
        assert_int_equal(fixture_pay(engine, 60, BANK_KZ, BANK_CN, KZT, CNY, 1000000, 0, 0),
                         KHORGOS_SETTLE_queued);
        u32 first = engine->ledger.transfer_count;
        assert_int_equal(fixture_pay(engine, 61, BANK_CN, BANK_KZ, CNY, KZT, 10000, 0, 0),
                         offsetting ? KHORGOS_SETTLE_settled : KHORGOS_SETTLE_queued);
        u8 state_expected = offsetting ? KHORGOS_PAYMENT_SETTLED : KHORGOS_PAYMENT_QUEUED;
        assert_int_equal(fixture_lookup(engine, 60).state, state_expected);
        assert_int_equal(fixture_lookup(engine, 61).state, state_expected);
        u8 settled_in = offsetting ? KHORGOS_SETTLED_IN_SET : KHORGOS_SETTLED_IN_NONE;
        assert_int_equal(fixture_lookup(engine, 60).settled_in, settled_in);
        assert_int_equal(fixture_lookup(engine, 61).settled_in, settled_in);
        if (offsetting) {
            assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 0);
            assert_true(fixture_balance(engine, BANK_KZ, KZT) == 660000);
            assert_int_equal(engine->ledger.transfer_count, first + 8);
            lsm_fx_assert_one_chain(engine, first);
            assert_true(lsm_fx_quote_used(engine, 2) == 10000);
        }
        khorgos_close(engine);
    }
}

/* A payment that settles on arrival from its payer's balance, a conversion or not, settled
 * alone; one that waits has settled in nothing yet; and submitting `settled_in` is refused,
 * as `state` is. */
static void test_settled_alone_is_not_in_a_set(void **state) {
    (void)state;
    struct khorgos *engine = lsm_fx_quoted_system(true);
    fixture_fund(engine, PROVIDER_A, CNY, 15000);
    fixture_fund(engine, BANK_KZ, KZT, 2000000);
    assert_int_equal(fixture_pay(engine, 70, BANK_KZ, BANK_CN, KZT, CNY, 1000000, 0, 0),
                     KHORGOS_SETTLE_settled);
    assert_int_equal(fixture_pay(engine, 71, BANK_KZ, BANK_KZ2, KZT, 0, 1000000, 0, 0),
                     KHORGOS_SETTLE_settled);
    assert_int_equal(fixture_pay(engine, 72, BANK_KZ2, BANK_CN, KZT, CNY, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_lookup(engine, 70).settled_in, KHORGOS_SETTLED_IN_ALONE);
    assert_int_equal(fixture_lookup(engine, 71).settled_in, KHORGOS_SETTLED_IN_ALONE);
    assert_int_equal(fixture_lookup(engine, 72).settled_in, KHORGOS_SETTLED_IN_NONE);
    struct khorgos_payment event = fixture_lookup(engine, 71);
    memset((u8 *)&event + offsetof(struct khorgos_payment, submitted_at), 0,
           sizeof(event) - offsetof(struct khorgos_payment, submitted_at));
    event.state = 0;
    event.id = 73;
    event.settled_in = KHORGOS_SETTLED_IN_ALONE;
    assert_int_equal(
        fixture_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &event, sizeof(event)).status,
        KHORGOS_SETTLE_reserved_field);
    khorgos_close(engine);
}

/* Offsetting on entry takes, from the queues the new payment pays into, only the payments that
 * pay back into it. KZ2 holds 50 KZT and queues 100 and 900 to KZ, then four payments of 250
 * to others; KZ, holding nothing, pays KZ2 950. With KZ2's whole queue in the model, KZ2 is
 * short 1,000, no single payment closes that, and the removal rule drops the one relieving it
 * most, the 900 to KZ, which leaves KZ short and drops the new payment too. With only the
 * payments back to KZ, the three settle together. */
static void test_offsetting_on_entry_takes_payments_back(void **state) {
    (void)state;
    struct khorgos *engine = lsm_fx_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO, true);
    fixture_fund(engine, BANK_KZ2, KZT, 50);
    assert_int_equal(fixture_pay(engine, 51, BANK_KZ2, BANK_KZ, KZT, 0, 100, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_pay(engine, 52, BANK_KZ2, BANK_KZ, KZT, 0, 900, 0, 0),
                     KHORGOS_SETTLE_queued);
    const char *others[4] = {PROVIDER_A, PROVIDER_B, BANK_CN, PROVIDER_A};
    for (u32 k = 0; k < 4; k++) {
        assert_int_equal(fixture_pay(engine, 53 + k, BANK_KZ2, others[k], KZT, 0, 250, 0, 0),
                         KHORGOS_SETTLE_queued);
    }
    assert_int_equal(fixture_pay(engine, 57, BANK_KZ, BANK_KZ2, KZT, 0, 950, 0, 0),
                     KHORGOS_SETTLE_settled);
    assert_int_equal(fixture_lookup(engine, 51).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(fixture_lookup(engine, 52).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(fixture_lookup(engine, 53).state, KHORGOS_PAYMENT_QUEUED);
    assert_true(fixture_balance(engine, BANK_KZ, KZT) == 50);
    assert_true(fixture_balance(engine, BANK_KZ2, KZT) == 0);
    khorgos_close(engine);
}

/* A set larger than one ledger call is still ONE linked chain (issue 4 item 2; the ledger
 * takes it in parts, ledger_chain_continue): 1,400 rings KZ -> KZ2 -> (PvP to CN through A) -> A -> KZ, 4,200 payments, 11,200
 * transfers, settle in one resolution with every PvP payment's two legs. */
#define BIG_RINGS 1400u
static struct khorgos_payment big_events[3 * BIG_RINGS];
static struct khorgos_settle_result big_results[3 * BIG_RINGS];

static void test_gridlock_larger_than_one_ledger_call(void **state) {
    (void)state;
    /* The ledger's capacity check reserves two history entries per transfer (none are used
     * here, no account has the history flag), so this engine has room for them. */
    struct khorgos_config config = {.account_count_max = 4096, .transfer_count_max = 1u << 17,
                                    .account_balance_count_max = 1u << 16, .clock_manual = 1,
                                    .participant_count_max = 32, .payment_count_max = 8192};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &config), KHORGOS_ERROR_ok);
    lsm_fx_system_on(engine, KHORGOS_QUEUE_MODE_BYPASS_FIFO, false);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 15, -3, 100000000,
                                   fixture_later(engine, 600)),
                     0);
    fixture_fund(engine, PROVIDER_A, CNY, 15 * BIG_RINGS);
    for (u32 ring = 0; ring < BIG_RINGS; ring++) {
        u128 id = 100000 + 3 * ring;
        big_events[3 * ring] = fixture_payment_event(id, BANK_KZ, BANK_KZ2, KZT, 0, 1000, 0, 0);
        big_events[3 * ring + 1] =
            fixture_payment_event(id + 1, BANK_KZ2, BANK_CN, KZT, CNY, 1000, 0, 0);
        big_events[3 * ring + 2] =
            fixture_payment_event(id + 2, PROVIDER_A, BANK_KZ, KZT, 0, 1000, 0, 0);
    }
    /* 4,200 payments: two requests (a request holds at most 4,094 payments). */
    u32 half = 3 * BIG_RINGS / 2;
    for (u32 first = 0; first < 3 * BIG_RINGS; first += half) {
        assert_int_equal(fixture_execute(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS,
                                         &big_events[first], half * sizeof(big_events[0]),
                                         &big_results[first], half * sizeof(big_results[0])),
                         half * sizeof(big_results[0]));
    }
    for (u32 index = 0; index < 3 * BIG_RINGS; index++) {
        assert_int_equal(big_results[index].status, KHORGOS_SETTLE_queued);
    }
    u32 first = engine->ledger.transfer_count;
    assert_int_equal(lsm_fx_resolve(engine, KZT).payments_settled, 3 * BIG_RINGS);
    assert_int_equal(engine->ledger.transfer_count - first, 8 * BIG_RINGS);
    assert_true(8 * BIG_RINGS > SETTLE_CHAIN_EVENTS_MAX);
    lsm_fx_assert_one_chain(engine, first);
    assert_false(engine->ledger.chain_open || engine->ledger.chain_continued);
    for (u32 ring = 0; ring < BIG_RINGS; ring += 97) {
        struct khorgos_payment pvp = fixture_lookup(engine, 100000 + 3 * ring + 1);
        assert_int_equal(pvp.state, KHORGOS_PAYMENT_SETTLED);
        u32 credit = lsm_fx_transfer_index(engine, pvp.transfer_id_credit);
        assert_int_equal(engine->ledger.transfers[credit].ledger, CNY);
        assert_true(engine->ledger.transfers[credit].amount == 15);
    }
    assert_true(fixture_balance(engine, BANK_CN, CNY) == 15 * BIG_RINGS);
    assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 0);
    assert_true(fixture_balance(engine, PROVIDER_A, KZT) == 0);
    khorgos_close(engine);
}

/* The audit's pair of conversions through provider A (see the test below), queued as `id`
 * and `id` + 1: KZ pays CN 1,000,000 KZT -> 15,000 CNY, CN pays KZ 10,000 CNY -> 660,000 KZT;
 * A holds 5,000 CNY and no KZT, KZ 1,000,000 KZT, CN nothing. */
static void lsm_fx_audit_pair(struct khorgos *engine, u128 id) {
    u64 expiry = fixture_later(engine, 600);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 15, -3, 100000000, expiry), 0);
    assert_int_equal(fixture_quote(engine, 2, PROVIDER_A, CNY, KZT, 66, 0, 100000000, expiry), 0);
    fixture_fund(engine, PROVIDER_A, CNY, 5000);
    fixture_fund(engine, BANK_KZ, KZT, 1000000);
    assert_int_equal(fixture_pay(engine, id, BANK_KZ, BANK_CN, KZT, CNY, 1000000, 0, 0),
                     KHORGOS_SETTLE_queued);
    assert_int_equal(fixture_pay(engine, id + 1, BANK_CN, BANK_KZ, CNY, KZT, 10000, 0, 0),
                     KHORGOS_SETTLE_queued);
}

/* The audit's case, across currencies: provider A converts both ways. KZ pays CN 1,000,000
 * KZT -> 15,000 CNY (A pays the target leg in CNY); CN pays KZ 10,000 CNY -> 660,000 KZT (A
 * pays the target leg in KZT). A holds 5,000 CNY and no KZT, CN holds no CNY: each conversion
 * alone is infeasible (A cannot pay 15,000 CNY; CN cannot pay 10,000 CNY), but together A's
 * net need in CNY is exactly its balance and everything else is covered by what the set
 * brings in. A resolution started in either currency settles both, in one chain, with every
 * receipt counted in every currency. */
static void test_conversions_feasible_only_together(void **state) {
    (void)state;
    for (u32 run = 0; run < 2; run++) {
        struct khorgos *engine = lsm_fx_system(KHORGOS_QUEUE_MODE_FIFO, false);
        lsm_fx_audit_pair(engine, 60);
        u32 first = engine->ledger.transfer_count;
        assert_int_equal(lsm_fx_resolve(engine, run == 0 ? KZT : CNY).payments_settled, 2);
        assert_int_equal(fixture_lookup(engine, 60).state, KHORGOS_PAYMENT_SETTLED);
        assert_int_equal(fixture_lookup(engine, 61).state, KHORGOS_PAYMENT_SETTLED);
        assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 0);
        assert_true(fixture_balance(engine, PROVIDER_A, KZT) == 1000000 - 660000);
        assert_true(fixture_balance(engine, BANK_CN, CNY) == 15000 - 10000);
        assert_true(fixture_balance(engine, BANK_KZ, KZT) == 660000);
        assert_int_equal(engine->ledger.transfer_count, first + 8); /* 4 legs, 2 each */
        lsm_fx_assert_one_chain(engine, first);
        assert_true(lsm_fx_quote_used(engine, 1) == 1000000);
        assert_true(lsm_fx_quote_used(engine, 2) == 10000);
        khorgos_close(engine);
    }
}

/* Bilateral limits are constraints of the resolution across currencies, counted net: the
 * audit's pair with provider A's limit toward CN in CNY. A pays CN 15,000 CNY (the first
 * conversion's target leg) and receives 10,000 CNY from CN (the second's source leg): net
 * 5,000. A limit of 4,000 keeps both queued; one of 5,000 lets both settle in one resolution
 * (before, any bilateral limit made resolution per currency only, which cannot find the
 * pair). */
static void test_bilateral_limit_in_the_resolution_across_currencies(void **state) {
    (void)state;
    struct khorgos *engine = lsm_fx_system(KHORGOS_QUEUE_MODE_FIFO, false);
    lsm_fx_audit_pair(engine, 60);
    struct khorgos_participant_event event = {.id = ++fixture_request_id, .amount = 4000,
                                              .currency = CNY,
                                              .limit_kind = KHORGOS_LIMIT_BILATERAL};
    memcpy(event.bic, PROVIDER_A, strlen(PROVIDER_A));
    memcpy(event.counterparty, BANK_CN, strlen(BANK_CN));
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_SET_LIMITS, &event, sizeof(event))
                         .status, KHORGOS_SETTLE_ok);
    assert_int_equal(lsm_fx_resolve(engine, KZT).payments_settled, 0);
    event.id = ++fixture_request_id;
    event.amount = 5000;
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_SET_LIMITS, &event, sizeof(event))
                         .status, KHORGOS_SETTLE_ok);
    assert_int_equal(lsm_fx_resolve(engine, KZT).payments_settled, 2);
    assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 0);
    khorgos_close(engine);
}

/* Before a cut-off: a currency resolving on its timer (every hour here) resolves just before
 * each of its cut-offs, so the audit's pair of conversions, queued after the last timed run,
 * settles at the cut-off's pulse instead of being rejected by it. */
static void test_resolution_before_the_cut_off(void **state) {
    (void)state;
    struct khorgos *engine = fixture_open();
    lsm_fx_participants(engine);
    u64 cut_off = fixture_later(engine, 60);
    for (u32 c = 0; c < 4; c++) {
        struct khorgos_business_day event = {
            .id = ++fixture_request_id, .currency = lsm_fx_numerics[c], .date = DAY_1,
            .cut_off_customer = cut_off, .cut_off_interbank = cut_off,
            .resolution_interval = 3600 * SECOND_NS, .queue_mode = KHORGOS_QUEUE_MODE_FIFO,
            .flags = KHORGOS_DAY_RESOLUTION_ON_TIMER};
        assert_int_equal(
            fixture_one(engine, KHORGOS_OPERATION_OPEN_DAY, &event, sizeof(event)).status,
            KHORGOS_SETTLE_ok);
    }
    lsm_fx_audit_pair(engine, 80);
    assert_int_equal(khorgos_clock_advance(engine, 120 * SECOND_NS), KHORGOS_ERROR_ok);
    assert_int_equal(fixture_lookup(engine, 80).state, KHORGOS_PAYMENT_SETTLED);
    assert_int_equal(fixture_lookup(engine, 81).state, KHORGOS_PAYMENT_SETTLED);
    assert_true(fixture_balance(engine, PROVIDER_A, CNY) == 0);
    /* Later payments of the day meet the passed cut-off. */
    assert_int_equal(fixture_pay(engine, 82, BANK_KZ, BANK_KZ2, KZT, 0, 1, 0, 0),
                     KHORGOS_SETTLE_after_cut_off);
    khorgos_close(engine);
}

/* Once per tick: one resolve_gridlock request with an event for each of the four currencies
 * runs the resolution across currencies once, whether its run settles or not (it runs again
 * in the same request only when something settles after it); a pulse where every currency's
 * timed resolution falls due runs it once. */
static void lsm_fx_resolve_all_currencies(struct khorgos *engine, u32 settled_first) {
    struct khorgos_business_day events[4];
    struct khorgos_settle_result results[4];
    for (u32 c = 0; c < 4; c++) {
        events[c] = (struct khorgos_business_day){.id = ++fixture_request_id,
                                                  .currency = lsm_fx_numerics[c]};
    }
    assert_int_equal(fixture_execute(engine, KHORGOS_OPERATION_RESOLVE_GRIDLOCK, events,
                                     sizeof(events), results, sizeof(results)),
                     sizeof(results));
    assert_int_equal(results[0].payments_settled, settled_first);
    for (u32 c = 1; c < 4; c++) assert_int_equal(results[c].payments_settled, 0);
}

static void test_each_tick_resolves_across_currencies_once(void **state) {
    (void)state;
    struct khorgos *engine = lsm_fx_system(KHORGOS_QUEUE_MODE_FIFO, false);
    const u64 *runs = &engine->settle.grid_runs;
    assert_int_equal(fixture_pay(engine, 50, BANK_KG, PROVIDER_A, KGS, 0, 1000, 0, 0),
                     KHORGOS_SETTLE_queued);
    u64 before = *runs;
    lsm_fx_resolve_all_currencies(engine, 0);
    assert_int_equal(*runs, before + 1); /* not 4 */
    lsm_fx_audit_pair(engine, 60);
    before = *runs;
    lsm_fx_resolve_all_currencies(engine, 2); /* the first event settles the pair, */
    assert_int_equal(*runs, before + 1);      /* and nothing settles after its run */
    assert_int_equal(fixture_lookup(engine, 61).state, KHORGOS_PAYMENT_SETTLED);
    khorgos_close(engine);

    engine = fixture_open();
    lsm_fx_participants(engine);
    for (u32 c = 0; c < 4; c++) {
        struct khorgos_business_day event = {
            .id = ++fixture_request_id, .currency = lsm_fx_numerics[c], .date = DAY_1,
            .resolution_interval = 60 * SECOND_NS, .queue_mode = KHORGOS_QUEUE_MODE_FIFO,
            .flags = KHORGOS_DAY_RESOLUTION_ON_TIMER};
        assert_int_equal(
            fixture_one(engine, KHORGOS_OPERATION_OPEN_DAY, &event, sizeof(event)).status,
            KHORGOS_SETTLE_ok);
    }
    assert_int_equal(fixture_pay(engine, 50, BANK_KG, PROVIDER_A, KGS, 0, 1000, 0, 0),
                     KHORGOS_SETTLE_queued);
    before = engine->settle.grid_runs;
    assert_int_equal(khorgos_clock_advance(engine, 61 * SECOND_NS), KHORGOS_ERROR_ok);
    assert_int_equal(engine->settle.grid_runs, before + 1); /* four currencies due, one run */
    khorgos_close(engine);
}

/* A quote's room is an exposure limit of the resolution. KZ and KZ2 each convert 1,000,000
 * KZT to CN through A, who holds no CNY; CN owes A 30,000 CNY and holds none. The three settle
 * together (A's and CN's receipts cover what they pay) when the quote's room covers both
 * conversions; with room for one only, no subset is feasible and nothing settles, the room
 * untouched. */
static void test_quote_room_bounds_the_set(void **state) {
    (void)state;
    for (u32 run = 0; run < 2; run++) {
        struct khorgos *engine = lsm_fx_system(KHORGOS_QUEUE_MODE_BYPASS_FIFO, false);
        u128 room = run == 0 ? 1500000 : 2000000;
        assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 15, -3, room,
                                       fixture_later(engine, 600)),
                         0);
        fixture_fund(engine, BANK_KZ, KZT, 1000000);
        fixture_fund(engine, BANK_KZ2, KZT, 1000000);
        assert_int_equal(fixture_pay(engine, 70, BANK_KZ, BANK_CN, KZT, CNY, 1000000, 0, 0),
                         KHORGOS_SETTLE_queued);
        assert_int_equal(fixture_pay(engine, 71, BANK_KZ2, BANK_CN, KZT, CNY, 1000000, 0, 0),
                         KHORGOS_SETTLE_queued);
        assert_int_equal(fixture_pay(engine, 72, BANK_CN, PROVIDER_A, CNY, 0, 30000, 0, 0),
                         KHORGOS_SETTLE_queued);
        assert_int_equal(lsm_fx_resolve(engine, CNY).payments_settled, run == 0 ? 0 : 3);
        assert_true(lsm_fx_quote_used(engine, 1) == (run == 0 ? 0 : 2000000));
        assert_true(fixture_balance(engine, BANK_CN, CNY) == 0);
        assert_true(fixture_balance(engine, PROVIDER_A, KZT) == (run == 0 ? 0 : 2000000));
        khorgos_close(engine);
    }
}

/* ---- Randomised: queued PvP payments among same-currency ones, resolutions and offsetting.
 * Random liquidity, credit lines, same-currency and cross-currency payments (direct and through
 * the vehicle currency) under both queue modes; every request is followed by fixture_check
 * (conservation of every currency, all invariants). The run counts the cross-currency payments
 * that a resolution settled (they must exist: the feature is exercised) and is repeated to
 * identical ledger and settlement digests. */

#define RANDOM_STEPS 1500u
#define RANDOM_PAYMENTS_MAX 512u

static u64 lsm_fx_random_state;
static u64 lsm_fx_random(void) {
    lsm_fx_random_state ^= lsm_fx_random_state << 13;
    lsm_fx_random_state ^= lsm_fx_random_state >> 7;
    lsm_fx_random_state ^= lsm_fx_random_state << 17;
    return lsm_fx_random_state;
}

struct lsm_fx_random_run {
    u128 ledger_digest, settle_digest;
    u32 pvp_settled_by_resolution;
    u32 pvp_settled;
    u32 settled_by_resolution;
};

static const char *const lsm_fx_banks[3] = {BANK_KZ, BANK_KZ2, BANK_CN};

/* One random submission; cross-currency ones are remembered in `pvp`. */
static void lsm_fx_random_submit(struct khorgos *engine, u128 id, u128 *pvp, u32 *pvp_count) {
    u32 kind = (u32)(lsm_fx_random() % 4);
    const char *payers[5] = {BANK_KZ, BANK_KZ2, BANK_CN, PROVIDER_A, PROVIDER_B};
    const char *payer = payers[lsm_fx_random() % 5];
    const char *payee = payers[lsm_fx_random() % 5];
    if (payer == payee) return;
    u32 currency = lsm_fx_random() % 4 ? KZT : CNY;
    u128 amount = 1 + lsm_fx_random() % 400000;
    if (kind <= 1) { /* cross-currency, from a bank to another bank (or to Kyrgyzstan) */
        payer = lsm_fx_banks[lsm_fx_random() % 3];
        bool kyrgyz = lsm_fx_random() % 4 == 0;
        payee = kyrgyz ? BANK_KG : lsm_fx_banks[lsm_fx_random() % 3];
        if (payer == payee) return;
        u32 target = kyrgyz ? KGS : currency == KZT ? CNY : KZT;
        bool creditor = lsm_fx_random() % 4 == 0;
        fixture_pay(engine, id, payer, payee, currency, target, creditor ? 0 : amount,
                    creditor ? 1 + lsm_fx_random() % 5000 : 0, 0);
        if (fixture_lookup(engine, id).state == KHORGOS_PAYMENT_QUEUED &&
            *pvp_count < RANDOM_PAYMENTS_MAX) {
            pvp[(*pvp_count)++] = id;
        }
        return;
    }
    fixture_pay(engine, id, payer, payee, currency, 0, amount, 0, 0);
}

static void lsm_fx_random_step(struct khorgos *engine, u32 step, u128 *pvp, u32 *pvp_count,
                               struct lsm_fx_random_run *run) {
    u32 action = (u32)(lsm_fx_random() % 10);
    const char *who[5] = {BANK_KZ, BANK_KZ2, BANK_CN, PROVIDER_A, PROVIDER_B};
    u32 currency = lsm_fx_random() % 2 ? KZT : CNY;
    if (action == 0) {
        u32 target = lsm_fx_random() % 5;
        u32 numeric = target >= 3 && lsm_fx_random() % 3 == 0 ? KGS : currency;
        fixture_fund(engine, who[target], numeric, 1 + lsm_fx_random() % 100000);
    } else if (action == 1) {
        fixture_participant_event(engine, KHORGOS_OPERATION_SET_CREDIT_LINES,
                                  who[lsm_fx_random() % 5], currency, lsm_fx_random() % 200000, 0);
    } else if (action <= 3) {
        u32 before = 0;
        for (u32 index = 0; index < *pvp_count; index++) {
            before += fixture_lookup(engine, pvp[index]).state == KHORGOS_PAYMENT_SETTLED;
        }
        struct khorgos_settle_result result = lsm_fx_resolve(engine, currency);
        assert_int_equal(result.status, KHORGOS_SETTLE_ok);
        u32 after = 0;
        for (u32 index = 0; index < *pvp_count; index++) {
            after += fixture_lookup(engine, pvp[index]).state == KHORGOS_PAYMENT_SETTLED;
        }
        run->pvp_settled_by_resolution += after - before;
        run->settled_by_resolution += result.payments_settled;
    } else {
        lsm_fx_random_submit(engine, 1000 + step, pvp, pvp_count);
    }
}

static struct lsm_fx_random_run lsm_fx_random_run(u8 mode, u64 seed) {
    fixture_request_id = 1u << 20; /* request ids are state: the same in both runs */
    struct khorgos *engine = lsm_fx_system(mode, true);
    lsm_fx_random_state = seed;
    u64 expiry = fixture_later(engine, 24 * 3600);
    assert_int_equal(fixture_quote(engine, 1, PROVIDER_A, KZT, CNY, 15, -3, 1u << 30, expiry), 0);
    assert_int_equal(fixture_quote(engine, 2, PROVIDER_B, KZT, CNY, 149, -4, 1u << 30, expiry), 0);
    assert_int_equal(fixture_quote(engine, 3, PROVIDER_A, CNY, KZT, 66, 0, 1u << 30, expiry), 0);
    assert_int_equal(fixture_quote(engine, 4, PROVIDER_B, CNY, KGS, 12, 0, 1u << 30, expiry), 0);
    /* The providers hold the target currencies; KZT, the main source currency, is scarce. */
    fixture_fund(engine, PROVIDER_A, CNY, 5000000);
    fixture_fund(engine, PROVIDER_B, CNY, 5000000);
    fixture_fund(engine, PROVIDER_B, KGS, 50000000);
    static u128 pvp[RANDOM_PAYMENTS_MAX];
    u32 pvp_count = 0;
    struct lsm_fx_random_run run = {0};
    for (u32 step = 0; step < RANDOM_STEPS; step++) {
        lsm_fx_random_step(engine, step, pvp, &pvp_count, &run);
    }
    for (u32 index = 0; index < pvp_count; index++) {
        struct khorgos_payment payment = fixture_lookup(engine, pvp[index]);
        if (payment.state != KHORGOS_PAYMENT_SETTLED) continue;
        run.pvp_settled++;
        /* PvP: both the payer's leg and the payee's leg are on the ledger. */
        u32 debit = lsm_fx_transfer_index(engine, payment.transfer_id_debit);
        u32 credit = lsm_fx_transfer_index(engine, payment.transfer_id_credit);
        assert_true(engine->ledger.transfers[debit].ledger == payment.currency);
        assert_true(engine->ledger.transfers[credit].ledger == payment.currency_target);
        assert_true(engine->ledger.transfers[credit].amount == payment.amount_target);
    }
    run.ledger_digest = ledger_digest(&engine->ledger);
    run.settle_digest = settle_digest(&engine->settle);
    khorgos_close(engine);
    return run;
}

static void test_randomised_pvp_in_liquidity_saving(void **state) {
    (void)state;
    for (u8 mode = KHORGOS_QUEUE_MODE_FIFO; mode <= KHORGOS_QUEUE_MODE_BYPASS_FIFO; mode++) {
        struct lsm_fx_random_run first = lsm_fx_random_run(mode, 0x9E3779B97F4A7C15ull + mode);
        struct lsm_fx_random_run again = lsm_fx_random_run(mode, 0x9E3779B97F4A7C15ull + mode);
        print_message("randomised %s: %u settled by resolution, %u cross-currency payments "
                      "settled, %u of them by a resolution\n",
                      mode == KHORGOS_QUEUE_MODE_FIFO ? "fifo" : "bypass_fifo",
                      first.settled_by_resolution, first.pvp_settled,
                      first.pvp_settled_by_resolution);
        assert_true(first.pvp_settled_by_resolution > 0);
        assert_true(first.ledger_digest == again.ledger_digest);
        assert_true(first.settle_digest == again.settle_digest);
        assert_int_equal(first.pvp_settled_by_resolution, again.pvp_settled_by_resolution);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gridlock_with_a_cross_currency_payment),
        cmocka_unit_test(test_conversions_feasible_only_together),
        cmocka_unit_test(test_quote_room_bounds_the_set),
        cmocka_unit_test(test_resolution_before_the_cut_off),
        cmocka_unit_test(test_bilateral_limit_in_the_resolution_across_currencies),
        cmocka_unit_test(test_each_tick_resolves_across_currencies_once),
        cmocka_unit_test(test_gridlock_with_a_vehicle_route),
        cmocka_unit_test(test_target_leg_short_stays_queued),
        cmocka_unit_test(test_reservation_keeps_the_set_feasible),
        cmocka_unit_test(test_offsetting_releases_a_queued_pvp_payment),
        cmocka_unit_test(test_conversion_offset_on_entry),
        cmocka_unit_test(test_settled_alone_is_not_in_a_set),
        cmocka_unit_test(test_offsetting_on_entry_takes_payments_back),
        cmocka_unit_test(test_gridlock_larger_than_one_ledger_call),
        cmocka_unit_test(test_randomised_pvp_in_liquidity_saving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
