/* settle_fx_fixture.h: helpers shared by test_settle_fx.c and test_settle_netting.c: an engine
 * with a manual clock, participants in several currencies, quotes, payments of issue 5, and
 * after every state-changing request the checks every test relies on: each currency conserved
 * (per ledger, debits == credits), the ledger's, the settle layer's and issue 5's invariants. */
#ifndef KHORGOS_TESTS_SETTLE_FX_FIXTURE_H
#define KHORGOS_TESTS_SETTLE_FX_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "settle/settle_private.h"

#define KZT 398u
#define CNY 156u
#define KGS 417u
#define USD 840u
#define SECOND_NS 1000000000ull
#define DAY_1 20230519u

/* Participants of the fixture (BICs). */
#define AGENT_KZT "NBRKKZKX"
#define AGENT_CNY "PBOCCNBJ"
#define AGENT_KGS "NBKGKGKG"
#define AGENT_USD "FRNYUS33"
#define BANK_KZ "HSBKKZKX"   /* a Kazakh bank: KZT, CNY */
#define BANK_KZ2 "KCJBKZKX"  /* another: KZT, CNY */
#define BANK_CN "BKCHCNBJ"   /* a Chinese bank: CNY, KZT */
#define BANK_KG "KICBKGKG"   /* a Kyrgyz bank: KGS */
#define PROVIDER_A "LPAAKZKA" /* liquidity providers: KZT, CNY, KGS, USD */
#define PROVIDER_B "LPBBCNBJ"

static u128 fixture_request_id = 1u << 20;

static inline struct khorgos *fixture_open(void) {
    struct khorgos_config config = {.account_count_max = 4096, .transfer_count_max = 1u << 17,
                                    .account_balance_count_max = 1024, .clock_manual = 1,
                                    .participant_count_max = 32, .payment_count_max = 8192};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open_memory(&engine, &config), KHORGOS_ERROR_ok);
    return engine;
}

static inline void fixture_check(const struct khorgos *engine) {
    const struct ledger *ledger = &engine->ledger;
    u32 numerics[4] = {KZT, CNY, KGS, USD};
    for (u32 c = 0; c < 4; c++) {
        u128 debits = 0, credits = 0;
        for (u32 index = 0; index < ledger->account_count; index++) {
            if (ledger->accounts[index].ledger != numerics[c]) continue;
            debits += ledger->accounts[index].debits_posted;
            credits += ledger->accounts[index].credits_posted;
        }
        assert_true(debits == credits);
    }
    assert_true(ledger_check(ledger));
    assert_true(settle_check(&engine->settle));
    assert_true(settle_fx_check(&engine->settle));
    assert_true(settle_netting_check(&engine->settle));
}

static inline u32 fixture_execute(struct khorgos *engine, u32 operation, const void *body, u32 body_size,
                           void *reply, u32 reply_capacity) {
    struct khorgos_request request = {.operation = operation, .body_size = body_size,
                                      .body = body, .reply = reply,
                                      .reply_capacity = reply_capacity};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    assert_int_equal(request.error, KHORGOS_ERROR_ok);
    if (engine_operation_find(operation)->changes_state) fixture_check(engine);
    return request.reply_size;
}

static inline struct khorgos_settle_result fixture_one(struct khorgos *engine, u32 operation,
                                                const void *event, u32 size) {
    struct khorgos_settle_result result;
    memset(&result, 0xAB, sizeof(result));
    assert_int_equal(fixture_execute(engine, operation, event, size, &result, sizeof(result)),
                     sizeof(result));
    return result;
}

static inline void fixture_participant(struct khorgos *engine, const char *bic, u8 role, u32 a, u32 b,
                                u32 c, u32 d) {
    struct khorgos_participant event = {.role = role, .currencies = {a, b, c, d}};
    memcpy(event.bic, bic, strlen(bic));
    memcpy(event.country, bic + 4, 2);
    snprintf(event.name, sizeof(event.name), "Participant %s", bic);
    assert_int_equal(
        fixture_one(engine, KHORGOS_OPERATION_CREATE_PARTICIPANTS, &event, sizeof(event)).status,
        KHORGOS_SETTLE_ok);
}

static inline u32 fixture_participant_event(struct khorgos *engine, u32 operation, const char *bic,
                                     u32 currency, u128 amount, u8 limit_kind) {
    struct khorgos_participant_event event = {.id = ++fixture_request_id, .amount = amount,
                                              .currency = currency, .limit_kind = limit_kind};
    memcpy(event.bic, bic, strlen(bic));
    return fixture_one(engine, operation, &event, sizeof(event)).status;
}

static inline void fixture_fund(struct khorgos *engine, const char *bic, u32 currency, u128 amount) {
    assert_int_equal(
        fixture_participant_event(engine, KHORGOS_OPERATION_FUND, bic, currency, amount, 0),
        KHORGOS_SETTLE_ok);
}

static inline void fixture_open_day(struct khorgos *engine, u32 currency, u8 mode) {
    struct khorgos_business_day event = {.id = ++fixture_request_id, .currency = currency,
                                         .date = DAY_1, .queue_mode = mode,
                                         .flags = KHORGOS_DAY_RESOLUTION_ON_REQUEST};
    assert_int_equal(fixture_one(engine, KHORGOS_OPERATION_OPEN_DAY, &event, sizeof(event)).status,
                     KHORGOS_SETTLE_ok);
}

/* Agents of four currencies, banks and two providers, days open under `mode`. */
static inline void fixture_setup(struct khorgos *engine, u8 mode) {
    fixture_participant(engine, AGENT_KZT, KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0, 0, 0);
    fixture_participant(engine, AGENT_CNY, KHORGOS_ROLE_SETTLEMENT_AGENT, CNY, 0, 0, 0);
    fixture_participant(engine, AGENT_KGS, KHORGOS_ROLE_SETTLEMENT_AGENT, KGS, 0, 0, 0);
    fixture_participant(engine, AGENT_USD, KHORGOS_ROLE_SETTLEMENT_AGENT, USD, 0, 0, 0);
    fixture_participant(engine, BANK_KZ, KHORGOS_ROLE_BANK, KZT, CNY, 0, 0);
    fixture_participant(engine, BANK_KZ2, KHORGOS_ROLE_BANK, KZT, CNY, 0, 0);
    fixture_participant(engine, BANK_CN, KHORGOS_ROLE_BANK, CNY, KZT, 0, 0);
    fixture_participant(engine, BANK_KG, KHORGOS_ROLE_BANK, KGS, 0, 0, 0);
    fixture_participant(engine, PROVIDER_A, KHORGOS_ROLE_LIQUIDITY_PROVIDER, KZT, CNY, KGS, USD);
    fixture_participant(engine, PROVIDER_B, KHORGOS_ROLE_LIQUIDITY_PROVIDER, KZT, CNY, KGS, USD);
    u32 numerics[4] = {KZT, CNY, KGS, USD};
    for (u32 c = 0; c < 4; c++) fixture_open_day(engine, numerics[c], mode);
}

static inline struct khorgos *fixture_system(u8 mode) {
    struct khorgos *engine = fixture_open();
    fixture_setup(engine, mode);
    return engine;
}

static inline struct khorgos_fx_quote fixture_quote_event(u128 id, const char *provider, u32 source,
                                                   u32 target, u64 mantissa, int32_t exponent,
                                                   u128 amount_max, u64 expires_at) {
    struct khorgos_fx_quote quote = {.id = id, .amount_max = amount_max, .currency_source = source,
                                     .currency_target = target, .rate_exponent = (int8_t)exponent,
                                     .rate_mantissa = mantissa, .expires_at = expires_at};
    memcpy(quote.provider, provider, strlen(provider));
    return quote;
}

static inline u32 fixture_quote(struct khorgos *engine, u128 id, const char *provider, u32 source,
                         u32 target, u64 mantissa, int32_t exponent, u128 amount_max,
                         u64 expires_at) {
    struct khorgos_fx_quote quote = fixture_quote_event(id, provider, source, target, mantissa,
                                                        exponent, amount_max, expires_at);
    return fixture_one(engine, KHORGOS_OPERATION_SET_FX_QUOTES, &quote, sizeof(quote)).status;
}

static inline u64 fixture_later(const struct khorgos *engine, u64 seconds) {
    return khorgos_clock_now(engine) + seconds * SECOND_NS;
}

static inline struct khorgos_payment fixture_payment_event(u128 id, const char *debtor,
                                                    const char *creditor, u32 currency,
                                                    u32 currency_target, u128 amount,
                                                    u128 amount_target, u8 settlement) {
    struct khorgos_payment payment = {
        .id = id, .amount = amount, .currency = currency, .currency_target = currency_target,
        .amount_target = amount_target, .settlement = settlement,
        .amount_kind = amount_target != 0 ? KHORGOS_AMOUNT_CREDITOR : KHORGOS_AMOUNT_DEBTOR,
        .priority = KHORGOS_PRIORITY_NORMAL, .type = KHORGOS_PAYMENT_INTERBANK};
    memcpy(payment.debtor, debtor, strlen(debtor));
    memcpy(payment.creditor, creditor, strlen(creditor));
    snprintf(payment.end_to_end_id, sizeof(payment.end_to_end_id), "E2E-%u", (unsigned)id);
    return payment;
}

static inline u32 fixture_pay(struct khorgos *engine, u128 id, const char *debtor, const char *creditor,
                       u32 currency, u32 currency_target, u128 amount, u128 amount_target,
                       u8 settlement) {
    struct khorgos_payment payment = fixture_payment_event(id, debtor, creditor, currency,
                                                           currency_target, amount,
                                                           amount_target, settlement);
    return fixture_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment, sizeof(payment)).status;
}

static inline struct khorgos_payment fixture_lookup(struct khorgos *engine, u128 id) {
    struct khorgos_payment payment;
    memset(&payment, 0, sizeof(payment));
    assert_int_equal(fixture_execute(engine, KHORGOS_OPERATION_LOOKUP_PAYMENTS, &id, sizeof(id),
                                     &payment, sizeof(payment)),
                     sizeof(payment));
    return payment;
}

/* The settlement balance of a participant in a currency (credits - debits). */
static inline u128 fixture_balance(const struct khorgos *engine, const char *bic, u32 currency) {
    char normal[KHORGOS_BIC_BYTES] = {0};
    memcpy(normal, bic, strlen(bic));
    assert_true(settle_bic_normalize(normal));
    u32 participant = settle_participant_find(&engine->settle, normal);
    assert_true(participant != SETTLE_NONE);
    u32 currency_index = settle_currency_find(&engine->settle, currency);
    assert_true(currency_index != SETTLE_NONE);
    u32 slot = settle_position_slot(&engine->settle, participant, currency_index);
    assert_true(slot != SETTLE_NONE);
    return settle_balance(&engine->settle, slot);
}

static inline u32 fixture_participant_number(const struct khorgos *engine, const char *bic) {
    char normal[KHORGOS_BIC_BYTES] = {0};
    memcpy(normal, bic, strlen(bic));
    assert_true(settle_bic_normalize(normal));
    return settle_participant_find(&engine->settle, normal) + 1;
}

#endif /* KHORGOS_TESTS_SETTLE_FX_FIXTURE_H */
