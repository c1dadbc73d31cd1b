/* test_engine_auth.c: authorization inside the engine (src/engine/engine_auth.c), table-driven.
 *
 * The matrix: every client operation of the engine's table against every role (operator,
 * auditor, replica, bank, settlement agent, liquidity provider), checking the request error
 * (ok or forbidden), that a refused state change is journaled (it takes a sequence) and
 * changes nothing (the state digest), and that the table below covers every operation the
 * engine knows. Events: a bank's payments, cancels and reprioritisations of others' payments,
 * an agent's events in another currency, a provider's quotes of another: status forbidden,
 * nothing changed, the own events of the same request applied. Reads: every query and filter
 * of a bank against a state holding other banks' accounts, transfers, payments, positions,
 * queues, window positions and quotes: only its own come back, and a query with a small limit pages past
 * others' records. Replay: a data directory reopened repeats the decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <unistd.h>

#include "settle_rtgs_fixture.h"

#define AGENT_KZ "CBKZKZKA"
#define AGENT_CN "CBCNCNBJ"
#define BANK_A "BNKAKZKA"
#define BANK_B "BNKBKZKA"
#define BANK_C "BNKCKZKA"
#define PROVIDER "LPRVKZKA"

enum actor_index { OPERATOR, AUDITOR, REPLICA, BANK, AGENT, PROVIDER_ACTOR, ACTOR_COUNT };

static struct khorgos_actor actor_of(enum actor_index index) {
    static const char *const bics[ACTOR_COUNT] = {[BANK] = BANK_A, [AGENT] = AGENT_KZ,
                                                  [PROVIDER_ACTOR] = PROVIDER};
    struct khorgos_actor actor = {0};
    if (index == AUDITOR) actor.role = KHORGOS_ACTOR_AUDITOR;
    if (index == REPLICA) actor.role = KHORGOS_ACTOR_REPLICA;
    if (bics[index] != NULL) {
        actor.role = KHORGOS_ACTOR_PARTICIPANT;
        memcpy(actor.bic, bics[index], strlen(bics[index]));
    }
    return actor;
}

/* Who may use an operation at all. */
enum right { READ, BANK_WRITE, AGENT_WRITE, PROVIDER_WRITE, OPERATOR_WRITE };

static const struct {
    u32 operation;
    enum right right;
} operations[] = {
    {KHORGOS_OPERATION_CREATE_ACCOUNTS, OPERATOR_WRITE},
    {KHORGOS_OPERATION_CREATE_TRANSFERS, OPERATOR_WRITE},
    {KHORGOS_OPERATION_LOOKUP_ACCOUNTS, READ},
    {KHORGOS_OPERATION_LOOKUP_TRANSFERS, READ},
    {KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS, READ},
    {KHORGOS_OPERATION_GET_ACCOUNT_BALANCES, READ},
    {KHORGOS_OPERATION_QUERY_ACCOUNTS, READ},
    {KHORGOS_OPERATION_QUERY_TRANSFERS, READ},
    {KHORGOS_OPERATION_CREATE_PARTICIPANTS, OPERATOR_WRITE},
    {KHORGOS_OPERATION_FUND, AGENT_WRITE},
    {KHORGOS_OPERATION_DEFUND, AGENT_WRITE},
    {KHORGOS_OPERATION_SET_CREDIT_LINES, AGENT_WRITE},
    {KHORGOS_OPERATION_SET_LIMITS, AGENT_WRITE},
    {KHORGOS_OPERATION_SUSPEND, OPERATOR_WRITE},
    {KHORGOS_OPERATION_REINSTATE, OPERATOR_WRITE},
    {KHORGOS_OPERATION_SUBMIT_PAYMENTS, BANK_WRITE},
    {KHORGOS_OPERATION_CANCEL_PAYMENTS, BANK_WRITE},
    {KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS, BANK_WRITE},
    {KHORGOS_OPERATION_LOOKUP_PAYMENTS, READ},
    {KHORGOS_OPERATION_GET_QUEUE, READ},
    {KHORGOS_OPERATION_RESOLVE_GRIDLOCK, OPERATOR_WRITE},
    {KHORGOS_OPERATION_GET_POSITIONS, READ},
    {KHORGOS_OPERATION_OPEN_DAY, OPERATOR_WRITE},
    {KHORGOS_OPERATION_CLOSE_DAY, OPERATOR_WRITE},
    {KHORGOS_OPERATION_SET_FX_QUOTES, PROVIDER_WRITE},
    {KHORGOS_OPERATION_WITHDRAW_FX_QUOTES, PROVIDER_WRITE},
    {KHORGOS_OPERATION_LOOKUP_FX_QUOTES, READ},
    {KHORGOS_OPERATION_SET_FX_ROUTING, OPERATOR_WRITE},
    {KHORGOS_OPERATION_OPEN_WINDOW, OPERATOR_WRITE},
    {KHORGOS_OPERATION_CLOSE_WINDOW, OPERATOR_WRITE},
    {KHORGOS_OPERATION_SETTLE_WINDOW, OPERATOR_WRITE},
    {KHORGOS_OPERATION_UNWIND_WINDOW, OPERATOR_WRITE},
    {KHORGOS_OPERATION_ABORT_WINDOW, OPERATOR_WRITE},
    {KHORGOS_OPERATION_LOOKUP_WINDOWS, READ},
    {KHORGOS_OPERATION_GET_WINDOW_POSITIONS, READ},
    {KHORGOS_OPERATION_SET_HOLIDAYS, OPERATOR_WRITE},
    {KHORGOS_OPERATION_SUBMIT_MESSAGE_PAYMENTS, BANK_WRITE},
    {KHORGOS_OPERATION_GET_PAYMENT_REFERENCES, READ},
    {KHORGOS_OPERATION_GET_BUSINESS_DAYS, READ},
    {KHORGOS_OPERATION_ADVANCE_CLOCK, OPERATOR_WRITE},
};

static bool permitted(enum actor_index actor, enum right right) {
    switch (actor) {
    case OPERATOR: return true;
    case AUDITOR: return right == READ;
    case REPLICA: return false;
    case BANK: return right == READ || right == BANK_WRITE;
    case AGENT: return right == READ || right == BANK_WRITE || right == AGENT_WRITE;
    default: return right == READ || right == BANK_WRITE || right == PROVIDER_WRITE;
    }
}

/* Executes one request as `actor`; returns its error, the reply size in *size. */
static khorgos_error run_as(struct khorgos *engine, enum actor_index actor, u32 operation,
                            const void *body, u32 body_size, void *reply, u32 *size) {
    struct khorgos_request request = {
        .operation = operation, .body_size = body_size, .body = body, .reply = reply,
        .reply_capacity = khorgos_reply_size_max(operation, body_size),
        .actor = actor_of(actor)};
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    if (size != NULL) *size = request.reply_size;
    return request.error;
}

static u8 reply[KHORGOS_MESSAGE_BODY_BYTES_MAX];

/* A request as `actor` that the engine takes (ok), its reply in `reply`; returns its size. */
static u32 read_as(struct khorgos *engine, enum actor_index actor, u32 operation,
                   const void *body, u32 body_size) {
    u32 size = 0;
    assert_int_equal(run_as(engine, actor, operation, body, body_size, reply, &size),
                     KHORGOS_ERROR_ok);
    return size;
}

/* Agents of KZT and CNY, three banks in KZT, a provider in both; the KZT day open; A funded,
 * B and C not (their payments queue); payments A->B (settled), B->C and C->A (queued); a
 * quote of the provider. */
static struct khorgos *world(void) {
    struct khorgos *engine = test_open();
    assert_int_equal(test_participant(engine, AGENT_KZ, KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, AGENT_CN, KHORGOS_ROLE_SETTLEMENT_AGENT, CNY, 0),
                     KHORGOS_SETTLE_ok);
    const char *banks[] = {BANK_A, BANK_B, BANK_C};
    for (u32 index = 0; index < 3; index++) {
        assert_int_equal(test_participant(engine, banks[index], KHORGOS_ROLE_BANK, KZT, 0),
                         KHORGOS_SETTLE_ok);
    }
    assert_int_equal(test_participant(engine, PROVIDER, KHORGOS_ROLE_LIQUIDITY_PROVIDER, KZT,
                                      CNY), KHORGOS_SETTLE_ok);
    assert_int_equal(test_open_day(engine, KZT, DAY_1, KHORGOS_QUEUE_MODE_FIFO, 0, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_open_day(engine, CNY, DAY_1, KHORGOS_QUEUE_MODE_FIFO, 0, 0, 0, 0),
                     KHORGOS_SETTLE_ok);
    test_fund(engine, BANK_A, KZT, 1000000);
    test_fund(engine, PROVIDER, KZT, 1000000);
    test_fund(engine, PROVIDER, CNY, 1000000);
    assert_int_equal(test_pay(engine, 1, BANK_A, BANK_B, 100, KZT), KHORGOS_SETTLE_settled);
    assert_int_equal(test_pay(engine, 2, BANK_B, BANK_C, 500, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_pay(engine, 3, BANK_C, BANK_B, 700, KZT), KHORGOS_SETTLE_queued);
    struct khorgos_fx_quote quote = {.id = 7, .amount_max = 1000, .currency_source = KZT,
                                     .currency_target = CNY, .rate_mantissa = 15,
                                     .rate_exponent = -3,
                                     .expires_at = khorgos_clock_now(engine) + 3600 * SECOND_NS};
    memcpy(quote.provider, PROVIDER, strlen(PROVIDER));
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_SET_FX_QUOTES, &quote,
                              sizeof(quote)).status,
                     KHORGOS_SETTLE_ok);
    return engine;
}

/* A body of one zeroed record, or one filter asking for as many as fit. */
static u32 matrix_body(u32 operation, u8 *body) {
    const struct engine_operation *entry = engine_operation_find(operation);
    assert_non_null(entry);
    memset(body, 0, entry->body_record_size);
    if (operation == KHORGOS_OPERATION_QUERY_ACCOUNTS ||
        operation == KHORGOS_OPERATION_QUERY_TRANSFERS) {
        struct khorgos_query_filter filter = {.limit = 100};
        memcpy(body, &filter, sizeof(filter));
    }
    return entry->body_record_size;
}

/* Every role against every operation: ok or forbidden as the roles say; a refused state
 * change takes a sequence (journaled) and changes no state. */
static void test_matrix(void **state) {
    (void)state;
    struct khorgos *engine = world();
    for (u32 row = 0; row < ARRAY_COUNT(operations); row++) {
        u32 operation = operations[row].operation;
        bool changes = engine_operation_find(operation)->changes_state;
        for (u32 actor = 0; actor < ACTOR_COUNT; actor++) {
            u8 body[sizeof(struct khorgos_message_payment)];
            u32 body_size = matrix_body(operation, body);
            u128 digest = engine_state_digest(engine);
            u64 requests = engine->request_count;
            khorgos_error error = run_as(engine, actor, operation, body, body_size, reply, NULL);
            bool allowed = permitted(actor, operations[row].right);
            if (error != (allowed ? KHORGOS_ERROR_ok : KHORGOS_ERROR_forbidden)) {
                fail_msg("%s as actor %u: %s", khorgos_operation_name(operation), actor,
                         khorgos_error_name(error));
            }
            assert_int_equal(engine->request_count, requests + (changes ? 1 : 0));
            if (!allowed) assert_true(engine_state_digest(engine) == digest);
        }
    }
    /* The table holds every client operation the engine knows but register, which opens a
     * session and so runs only with a client (test_engine_session); any actor but a replica
     * may register (engine_auth.c). */
    u32 known = 0;
    for (u32 operation = KHORGOS_OPERATION_REGISTER + 1; operation < 1024; operation++) {
        if (engine_operation_find(operation) != NULL) known++;
    }
    assert_int_equal(known, ARRAY_COUNT(operations));
    khorgos_close(engine);
}

/* An actor that is not well formed is refused as invalid_argument. */
static void test_actor_invalid(void **state) {
    (void)state;
    struct khorgos *engine = world();
    struct khorgos_actor bad[] = {{.role = 4}, {.role = KHORGOS_ACTOR_PARTICIPANT},
                                  {.role = KHORGOS_ACTOR_AUDITOR, .bic = "BNKAKZKA"},
                                  {.role = KHORGOS_ACTOR_PARTICIPANT, .bic = "bank"},
                                  {.role = KHORGOS_ACTOR_OPERATOR, .reserved = 1}};
    for (u32 index = 0; index < ARRAY_COUNT(bad); index++) {
        u128 id = 1;
        struct khorgos_payment payment;
        struct khorgos_request request = {.operation = KHORGOS_OPERATION_LOOKUP_PAYMENTS,
                                          .body_size = sizeof(id), .body = &id,
                                          .reply = &payment, .reply_capacity = sizeof(payment),
                                          .actor = bad[index]};
        assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
        assert_int_equal(request.error, KHORGOS_ERROR_invalid_argument);
    }
    khorgos_close(engine);
}

/* One request of two events as `actor`: the first its own, the second about another. */
struct event_case {
    const char *what;
    enum actor_index actor;
    u32 operation;
    u32 event_size;
    void (*fill)(u8 *own, u8 *other);
};

static void fill_submit(u8 *own, u8 *other) {
    struct khorgos_payment a = test_payment_event(11, BANK_A, BANK_C, 10, KZT);
    struct khorgos_payment b = test_payment_event(12, BANK_B, BANK_A, 10, KZT);
    memcpy(own, &a, sizeof(a));
    memcpy(other, &b, sizeof(b));
}

static void fill_cancel(u8 *own, u8 *other) {
    /* Own: payment 1 (A's, settled: payment_not_queued, not forbidden); other: B's 2, named
     * by its payer. */
    struct khorgos_payment_change a = {.id = 21, .payment_id = 1};
    struct khorgos_payment_change b = {.id = 22, .payment_id = 2, .debtor = BANK_B};
    memcpy(own, &a, sizeof(a));
    memcpy(other, &b, sizeof(b));
}

static void fill_reprioritize(u8 *own, u8 *other) {
    struct khorgos_payment_change a = {.id = 31, .payment_id = 1,
                                       .priority = KHORGOS_PRIORITY_URGENT};
    /* A payer named that is not the actor is refused, whether or not the payment exists. */
    struct khorgos_payment_change b = {.id = 32, .payment_id = 999,
                                       .priority = KHORGOS_PRIORITY_URGENT, .debtor = BANK_C};
    memcpy(own, &a, sizeof(a));
    memcpy(other, &b, sizeof(b));
}

static void fill_agent(u8 *own, u8 *other) {
    struct khorgos_participant_event a = {.id = 41, .amount = 5, .currency = KZT};
    struct khorgos_participant_event b = {.id = 42, .amount = 5, .currency = CNY};
    memcpy(a.bic, BANK_B, strlen(BANK_B));
    memcpy(b.bic, PROVIDER, strlen(PROVIDER));
    memcpy(own, &a, sizeof(a));
    memcpy(other, &b, sizeof(b));
}

static void fill_limit(u8 *own, u8 *other) {
    fill_agent(own, other);
    struct khorgos_participant_event event;
    for (u32 index = 0; index < 2; index++) {
        u8 *bytes = index == 0 ? own : other;
        memcpy(&event, bytes, sizeof(event));
        event.id += 100;
        event.limit_kind = KHORGOS_LIMIT_NET_DEBIT_CAP;
        memcpy(bytes, &event, sizeof(event));
    }
}

static void fill_quote(u8 *own, u8 *other) {
    struct khorgos_fx_quote a = {.id = 51, .amount_max = 10, .currency_source = KZT,
                                 .currency_target = CNY, .rate_mantissa = 15,
                                 .rate_exponent = -3,
                                 .expires_at = KHORGOS_MANUAL_CLOCK_START_NS + 3600 * SECOND_NS};
    struct khorgos_fx_quote b = a;
    b.id = 52;
    memcpy(a.provider, PROVIDER, strlen(PROVIDER));
    memcpy(b.provider, BANK_A, strlen(BANK_A));
    memcpy(own, &a, sizeof(a));
    memcpy(other, &b, sizeof(b));
}

static const struct event_case event_cases[] = {
    {"submit", BANK, KHORGOS_OPERATION_SUBMIT_PAYMENTS, sizeof(struct khorgos_payment),
     fill_submit},
    {"cancel", BANK, KHORGOS_OPERATION_CANCEL_PAYMENTS, sizeof(struct khorgos_payment_change),
     fill_cancel},
    {"reprioritize", BANK, KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS,
     sizeof(struct khorgos_payment_change), fill_reprioritize},
    {"fund", AGENT, KHORGOS_OPERATION_FUND, sizeof(struct khorgos_participant_event), fill_agent},
    {"defund", AGENT, KHORGOS_OPERATION_DEFUND, sizeof(struct khorgos_participant_event),
     fill_agent},
    {"credit", AGENT, KHORGOS_OPERATION_SET_CREDIT_LINES,
     sizeof(struct khorgos_participant_event), fill_agent},
    {"limit", AGENT, KHORGOS_OPERATION_SET_LIMITS, sizeof(struct khorgos_participant_event),
     fill_limit},
    {"quote", PROVIDER_ACTOR, KHORGOS_OPERATION_SET_FX_QUOTES, sizeof(struct khorgos_fx_quote),
     fill_quote},
    /* Roles add up: an agent and a provider pay their own payments as a bank does. */
    {"agent pays", AGENT, KHORGOS_OPERATION_SUBMIT_PAYMENTS, sizeof(struct khorgos_payment),
     fill_submit},
};

/* Each case: alone, the other event is forbidden and changes nothing; together, the own event
 * is applied (not forbidden) and the other forbidden with timestamp 0. */
static void test_events(void **state) {
    (void)state;
    for (u32 row = 0; row < ARRAY_COUNT(event_cases); row++) {
        const struct event_case *test = &event_cases[row];
        struct khorgos *engine = world();
        u8 body[2 * sizeof(struct khorgos_payment)];
        test->fill(body, body + test->event_size);
        if (row == ARRAY_COUNT(event_cases) - 1) { /* the agent pays from its own BIC */
            struct khorgos_payment payment;
            memcpy(&payment, body, sizeof(payment));
            memset(payment.debtor, 0, sizeof(payment.debtor));
            memcpy(payment.debtor, AGENT_KZ, strlen(AGENT_KZ));
            memcpy(body, &payment, sizeof(payment));
        }
        struct khorgos_settle_result results[2];
        u128 digest = engine_state_digest(engine);
        u32 size = 0;
        assert_int_equal(run_as(engine, test->actor, test->operation, body + test->event_size,
                                test->event_size, results, &size), KHORGOS_ERROR_ok);
        assert_int_equal(size, sizeof(results[0]));
        if (results[0].status != KHORGOS_SETTLE_forbidden) fail_msg("%s: alone", test->what);
        assert_true(engine_state_digest(engine) == digest);
        assert_int_equal(run_as(engine, test->actor, test->operation, body,
                                2 * test->event_size, results, &size), KHORGOS_ERROR_ok);
        assert_int_equal(size, sizeof(results));
        if (results[0].status == KHORGOS_SETTLE_forbidden || results[0].timestamp == 0) {
            fail_msg("%s: own event refused (%s)", test->what,
                     khorgos_settle_status_name(results[0].status));
        }
        assert_int_equal(results[1].status, KHORGOS_SETTLE_forbidden);
        assert_int_equal(results[1].timestamp, 0);
        assert_string_equal(khorgos_settle_status_iso_code(KHORGOS_SETTLE_forbidden), "AG01");
        khorgos_close(engine);
    }
}

/* A bank's submit of another's payment leaves no payment behind: the operator finds none. */
static void test_event_changes_nothing(void **state) {
    (void)state;
    struct khorgos *engine = world();
    struct khorgos_payment payment = test_payment_event(60, BANK_B, BANK_A, 10, KZT);
    struct khorgos_settle_result result;
    assert_int_equal(run_as(engine, BANK, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment,
                            sizeof(payment), &result, NULL), KHORGOS_ERROR_ok);
    assert_int_equal(result.status, KHORGOS_SETTLE_forbidden);
    u128 id = 60;
    u32 size = 1;
    size = read_as(engine, OPERATOR, KHORGOS_OPERATION_LOOKUP_PAYMENTS, &id, sizeof(id));
    assert_int_equal(size, 0);
    /* B itself may now use id 60: B's request was never recorded. */
    assert_int_equal(test_pay(engine, 60, BANK_B, BANK_A, 10, KZT), KHORGOS_SETTLE_queued);
    assert_int_equal(test_lookup(engine, 60).state, KHORGOS_PAYMENT_QUEUED);
    khorgos_close(engine);
}

/* One request as the participant `bic`; returns its error, the reply in `out`. */
static khorgos_error run_bic(struct khorgos *engine, const char *bic, u32 operation,
                             const void *body, u32 body_size, void *out, u32 *size) {
    struct khorgos_request request = {
        .operation = operation, .body_size = body_size, .body = body, .reply = out,
        .reply_capacity = khorgos_reply_size_max(operation, body_size),
        .actor = {.role = KHORGOS_ACTOR_PARTICIPANT}};
    memcpy(request.actor.bic, bic, strlen(bic));
    assert_int_equal(khorgos_execute(engine, &request, 1), KHORGOS_ERROR_ok);
    if (size != NULL) *size = request.reply_size;
    return request.error;
}

static struct khorgos_settle_result event_bic(struct khorgos *engine, const char *bic,
                                              u32 operation, const void *event, u32 size) {
    struct khorgos_settle_result result;
    u32 reply_size = 0;
    assert_int_equal(run_bic(engine, bic, operation, event, size, &result, &reply_size),
                     KHORGOS_ERROR_ok);
    assert_int_equal(reply_size, sizeof(result));
    return result;
}

/* A lookup of one payment id as `bic`: its debtor's first letters, or "" when none. */
static const char *lookup_bic(struct khorgos *engine, const char *bic, u128 id) {
    static struct khorgos_payment payment;
    u32 size = 0;
    assert_int_equal(run_bic(engine, bic, KHORGOS_OPERATION_LOOKUP_PAYMENTS, &id, sizeof(id),
                             &payment, &size), KHORGOS_ERROR_ok);
    if (size == 0) return "";
    assert_int_equal(size, sizeof(payment));
    assert_true(payment.id == id);
    payment.debtor[8] = '\0';
    return payment.debtor;
}

/* Payment ids are their payer's own: B's id 7 after A's is a new payment, each bank's lookup,
 * queue, cancel and re-prioritisation reach only its own, and nothing B is answered differs
 * from what an id nobody used gets. */
static void test_payment_ids_scoped(void **state) {
    (void)state;
    struct khorgos *engine = world();
    struct khorgos_payment a7 = test_payment_event(7, BANK_A, BANK_C, 10, KZT);
    struct khorgos_payment a9 = test_payment_event(9, BANK_A, BANK_C, 5000000, KZT);
    struct khorgos_payment b7 = test_payment_event(7, BANK_B, BANK_C, 5000000, KZT);
    u32 submit = KHORGOS_OPERATION_SUBMIT_PAYMENTS;
    assert_int_equal(event_bic(engine, BANK_A, submit, &a7, sizeof(a7)).status,
                     KHORGOS_SETTLE_settled);
    assert_int_equal(event_bic(engine, BANK_A, submit, &a9, sizeof(a9)).status,
                     KHORGOS_SETTLE_queued);
    struct khorgos_settle_result result = event_bic(engine, BANK_B, submit, &b7, sizeof(b7));
    assert_int_equal(result.status, KHORGOS_SETTLE_queued); /* not exists_with_different_... */
    assert_int_equal(result.flags, 0);
    assert_true(result.timestamp > 0);
    assert_string_equal(lookup_bic(engine, BANK_A, 7), BANK_A);
    assert_string_equal(lookup_bic(engine, BANK_B, 7), BANK_B);
    assert_string_equal(lookup_bic(engine, BANK_B, 9), "");
    /* B's queue holds its 7 (and its 2), A's holds its 9 only. */
    struct khorgos_settle_filter filter = {0};
    u32 size = 0;
    assert_int_equal(run_bic(engine, BANK_B, KHORGOS_OPERATION_GET_QUEUE, &filter,
                             sizeof(filter), reply, &size), KHORGOS_ERROR_ok);
    assert_int_equal(size, 2 * sizeof(struct khorgos_payment));
    assert_int_equal(run_bic(engine, BANK_A, KHORGOS_OPERATION_GET_QUEUE, &filter,
                             sizeof(filter), reply, &size), KHORGOS_ERROR_ok);
    assert_int_equal(size, sizeof(struct khorgos_payment));
    /* B cancels "9" (A's queued one) and 999 (nobody's): the same answer, A's 9 stays. */
    u32 cancel = KHORGOS_OPERATION_CANCEL_PAYMENTS;
    struct khorgos_payment_change change = {.id = 500, .payment_id = 9};
    struct khorgos_settle_result taken = event_bic(engine, BANK_B, cancel, &change,
                                                   sizeof(change));
    change = (struct khorgos_payment_change){.id = 501, .payment_id = 999};
    struct khorgos_settle_result nobody = event_bic(engine, BANK_B, cancel, &change,
                                                    sizeof(change));
    assert_int_equal(taken.status, KHORGOS_SETTLE_payment_not_found);
    assert_int_equal(nobody.status, KHORGOS_SETTLE_payment_not_found);
    assert_int_equal(taken.flags, nobody.flags);
    assert_int_equal(test_lookup(engine, 9).state, KHORGOS_PAYMENT_QUEUED);
    /* Naming A as the payer: forbidden, nothing changed, the request id not taken. */
    change = (struct khorgos_payment_change){.id = 502, .payment_id = 9, .debtor = BANK_A};
    u128 digest = engine_state_digest(engine);
    assert_int_equal(event_bic(engine, BANK_B, cancel, &change, sizeof(change)).status,
                     KHORGOS_SETTLE_forbidden);
    assert_true(engine_state_digest(engine) == digest);
    /* Request ids too: A's request 500 is a new request, not B's 500 again. */
    change = (struct khorgos_payment_change){.id = 500, .payment_id = 9};
    result = event_bic(engine, BANK_A, cancel, &change, sizeof(change));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(result.flags, 0);
    /* B's 7 is still queued; B re-prioritises it by its own id. */
    change = (struct khorgos_payment_change){.id = 503, .payment_id = 7,
                                             .priority = KHORGOS_PRIORITY_URGENT};
    assert_int_equal(event_bic(engine, BANK_B, KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS, &change,
                               sizeof(change)).status, KHORGOS_SETTLE_ok);
    /* The operator: a bare id reaches the first (A's 7), a payer names B's. */
    assert_string_equal(lookup_bic(engine, BANK_A, 7), BANK_A);
    struct khorgos_payment first = test_lookup(engine, 7);
    assert_memory_equal(first.debtor, BANK_A, 8);
    change = (struct khorgos_payment_change){.id = 504, .payment_id = 7, .debtor = BANK_B};
    assert_int_equal(test_one(engine, cancel, &change, sizeof(change)).status, KHORGOS_SETTLE_ok);
    assert_int_equal(run_bic(engine, BANK_B, KHORGOS_OPERATION_LOOKUP_PAYMENTS, &(u128){7},
                             sizeof(u128), reply, &size), KHORGOS_ERROR_ok);
    struct khorgos_payment b_seen;
    memcpy(&b_seen, reply, sizeof(b_seen));
    assert_int_equal(b_seen.state, KHORGOS_PAYMENT_CANCELLED);
    assert_true(settle_check(&engine->settle));
    /* A snapshot holds both 7s and both 500s, and rebuilds each one's maps. */
    u64 bytes = 0;
    assert_int_equal(engine_snapshot_memory_write(engine, NULL, 0, &bytes),
                     KHORGOS_ERROR_no_space);
    u8 *snapshot = malloc(bytes);
    assert_non_null(snapshot);
    assert_int_equal(engine_snapshot_memory_write(engine, snapshot, bytes, &bytes),
                     KHORGOS_ERROR_ok);
    struct khorgos *loaded = NULL;
    assert_int_equal(engine_snapshot_memory_load(engine, snapshot, bytes, &loaded),
                     KHORGOS_ERROR_ok);
    free(snapshot);
    assert_true(engine_state_digest(loaded) == engine_state_digest(engine));
    assert_string_equal(lookup_bic(loaded, BANK_A, 7), BANK_A);
    assert_string_equal(lookup_bic(loaded, BANK_B, 7), BANK_B);
    change = (struct khorgos_payment_change){.id = 500, .payment_id = 9};
    result = event_bic(loaded, BANK_B, cancel, &change, sizeof(change));
    assert_int_equal(result.flags, KHORGOS_SETTLE_RESULT_RETRY); /* B's own 500, answered again */
    assert_int_equal(result.status, KHORGOS_SETTLE_payment_not_found);
    khorgos_close(loaded);
    khorgos_close(engine);
}

/* Quote ids are their provider's own: a second provider's quote 7 beside the first's, each
 * withdrawing and reading only its own. */
static void test_quote_ids_scoped(void **state) {
    (void)state;
    struct khorgos *engine = world();
    const char *second = "LPRWKZKA";
    assert_int_equal(test_participant(engine, second, KHORGOS_ROLE_LIQUIDITY_PROVIDER, KZT, CNY),
                     KHORGOS_SETTLE_ok);
    struct khorgos_fx_quote quote = {.id = 7, .amount_max = 500, .currency_source = KZT,
                                     .currency_target = CNY, .rate_mantissa = 16,
                                     .rate_exponent = -3,
                                     .expires_at = khorgos_clock_now(engine) + 3600 * SECOND_NS};
    memcpy(quote.provider, second, strlen(second));
    struct khorgos_settle_result result =
        event_bic(engine, second, KHORGOS_OPERATION_SET_FX_QUOTES, &quote, sizeof(quote));
    assert_int_equal(result.status, KHORGOS_SETTLE_ok);
    assert_int_equal(result.flags, 0);
    u128 id = 7;
    assert_int_equal(event_bic(engine, second, KHORGOS_OPERATION_WITHDRAW_FX_QUOTES, &id,
                               sizeof(id)).status, KHORGOS_SETTLE_ok);
    const char *providers[2] = {PROVIDER, second};
    const u8 states[2] = {KHORGOS_QUOTE_LIVE, KHORGOS_QUOTE_WITHDRAWN};
    for (u32 index = 0; index < 2; index++) {
        struct khorgos_fx_quote seen;
        u32 size = 0;
        assert_int_equal(run_bic(engine, providers[index], KHORGOS_OPERATION_LOOKUP_FX_QUOTES,
                                 &id, sizeof(id), &seen, &size), KHORGOS_ERROR_ok);
        assert_int_equal(size, sizeof(seen));
        assert_memory_equal(seen.provider, providers[index], 8);
        assert_int_equal(seen.state, states[index]);
    }
    khorgos_close(engine);
}

/* The ledger id of a participant's account (the settlement layer's layout). */
static u128 account_of(struct khorgos *engine, const char *bic) {
    struct khorgos_settle_filter filter = {.currency = KZT};
    memcpy(filter.bic, bic, strlen(bic));
    u32 size = 0;
    static u8 positions[KHORGOS_MESSAGE_BODY_BYTES_MAX]; /* not `reply`: callers read it */
    assert_int_equal(run_as(engine, OPERATOR, KHORGOS_OPERATION_GET_POSITIONS, &filter,
                            sizeof(filter), positions, &size), KHORGOS_ERROR_ok);
    assert_int_equal(size, sizeof(struct khorgos_position));
    u32 number = 0;
    for (u32 index = 0; index < engine->settle.participant_count; index++) {
        char padded[KHORGOS_BIC_BYTES] = {0};
        memcpy(padded, bic, strlen(bic));
        memcpy(padded + 8, "XXX", 3);
        if (memcmp(engine->settle.participants[index].record.bic, padded, 11) == 0) {
            number = engine->settle.participants[index].record.number;
        }
    }
    assert_true(number > 0);
    return settle_account_id(SETTLE_ACCOUNT_SETTLEMENT, KZT, number);
}

/* Whether a reply record of a read names BANK_A only (its BIC, or one of its accounts). */
static bool record_is_a(struct khorgos *engine, u32 operation, const u8 *record) {
    u128 a = account_of(engine, BANK_A);
    u128 a_credit = settle_account_id(SETTLE_ACCOUNT_CREDIT, KZT, (u32)a);
    switch (operation) {
    case KHORGOS_OPERATION_QUERY_ACCOUNTS: {
        struct khorgos_account account;
        memcpy(&account, record, sizeof(account));
        return account.id == a || account.id == a_credit;
    }
    case KHORGOS_OPERATION_QUERY_TRANSFERS: {
        struct khorgos_transfer transfer;
        memcpy(&transfer, record, sizeof(transfer));
        return transfer.debit_account_id == a || transfer.credit_account_id == a ||
               transfer.debit_account_id == a_credit || transfer.credit_account_id == a_credit;
    }
    case KHORGOS_OPERATION_GET_WINDOW_POSITIONS: {
        struct khorgos_window_position position;
        memcpy(&position, record, sizeof(position));
        return memcmp(position.bic, BANK_A, 8) == 0;
    }
    case KHORGOS_OPERATION_GET_QUEUE: {
        struct khorgos_payment payment;
        memcpy(&payment, record, sizeof(payment));
        return memcmp(payment.debtor, BANK_A, 8) == 0;
    }
    default: {
        struct khorgos_position position;
        memcpy(&position, record, sizeof(position));
        return memcmp(position.bic, BANK_A, 8) == 0;
    }
    }
}

/* What a bank reads: for each query, the operator sees others' records; the bank sees only
 * its own, at least one of them. */
static void test_reads_filtered(void **state) {
    (void)state;
    struct khorgos *engine = world();
    assert_int_equal(test_pay(engine, 4, BANK_A, BANK_C, 2000000, KZT), KHORGOS_SETTLE_queued);
    /* A netting window holding A -> B and B -> C. */
    struct khorgos_window window = {.id = 80};
    assert_int_equal(test_one(engine, KHORGOS_OPERATION_OPEN_WINDOW, &window,
                              sizeof(window)).status, KHORGOS_SETTLE_ok);
    for (u32 index = 0; index < 2; index++) {
        struct khorgos_payment payment = test_payment_event(81 + index, index ? BANK_B : BANK_A,
                                                            index ? BANK_C : BANK_B, 10, KZT);
        payment.settlement = KHORGOS_SETTLEMENT_NET;
        assert_int_equal(test_one(engine, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &payment,
                                  sizeof(payment)).status, KHORGOS_SETTLE_in_window);
    }
    struct khorgos_query_filter query = {.limit = 8000};
    struct khorgos_settle_filter settle_filter = {0};
    struct khorgos_window_filter window_filter = {.window = 1};
    const struct {
        u32 operation;
        const void *body;
        u32 record_size;
    } reads[] = {
        {KHORGOS_OPERATION_QUERY_ACCOUNTS, &query, sizeof(struct khorgos_account)},
        {KHORGOS_OPERATION_QUERY_TRANSFERS, &query, sizeof(struct khorgos_transfer)},
        {KHORGOS_OPERATION_GET_QUEUE, &settle_filter, sizeof(struct khorgos_payment)},
        {KHORGOS_OPERATION_GET_POSITIONS, &settle_filter, sizeof(struct khorgos_position)},
        {KHORGOS_OPERATION_GET_WINDOW_POSITIONS, &window_filter,
         sizeof(struct khorgos_window_position)},
    };
    for (u32 row = 0; row < ARRAY_COUNT(reads); row++) {
        u32 operation = reads[row].operation;
        u32 body_size = engine_operation_find(operation)->body_record_size;
        u32 size = 0, others = 0, own = 0;
        assert_int_equal(run_as(engine, AUDITOR, operation, reads[row].body, body_size, reply,
                                &size), KHORGOS_ERROR_ok);
        for (u32 offset = 0; offset < size; offset += reads[row].record_size) {
            others += !record_is_a(engine, operation, reply + offset);
        }
        assert_true(others > 0);
        assert_int_equal(run_as(engine, BANK, operation, reads[row].body, body_size, reply,
                                &size), KHORGOS_ERROR_ok);
        for (u32 offset = 0; offset < size; offset += reads[row].record_size) {
            if (!record_is_a(engine, operation, reply + offset)) {
                fail_msg("%s: another's record", khorgos_operation_name(operation));
            }
            own++;
        }
        assert_true(own > 0);
    }
    khorgos_close(engine);
}

/* Lookups by id, and filters naming another: nothing of others comes back. */
static void test_reads_by_id(void **state) {
    (void)state;
    struct khorgos *engine = world();
    u128 a = account_of(engine, BANK_A), b = account_of(engine, BANK_B);
    u128 accounts[2] = {b, a};
    u32 size = 0;
    size = read_as(engine, BANK, KHORGOS_OPERATION_LOOKUP_ACCOUNTS, accounts, sizeof(accounts));
    assert_int_equal(size, sizeof(struct khorgos_account));
    struct khorgos_account account;
    memcpy(&account, reply, sizeof(account));
    assert_true(account.id == a);
    /* Payments 1 (A->B, settled), 2 (B->C) and 3 (C->B): A sees only 1. */
    u128 payments[3] = {1, 2, 3};
    size = read_as(engine, BANK, KHORGOS_OPERATION_LOOKUP_PAYMENTS, payments, sizeof(payments));
    assert_int_equal(size, sizeof(struct khorgos_payment));
    struct khorgos_payment payment;
    memcpy(&payment, reply, sizeof(payment));
    assert_true(payment.id == 1);
    /* Payment 1's transfer (A -> B) is A's; nothing else of the ledger's transfers is. */
    u128 transfers[2] = {payment.transfer_id_debit, payment.transfer_id_debit + 1};
    size = read_as(engine, BANK, KHORGOS_OPERATION_LOOKUP_TRANSFERS, transfers, sizeof(transfers));
    assert_int_equal(size, sizeof(struct khorgos_transfer));
    /* B's account's transfers and balances: nothing; A's: its transfers. */
    struct khorgos_account_filter filter = {.account_id = b, .limit = 100,
                                            .flags = KHORGOS_ACCOUNT_FILTER_DEBITS |
                                                     KHORGOS_ACCOUNT_FILTER_CREDITS};
    u32 operator_size = 0;
    run_as(engine, OPERATOR, KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS, &filter, sizeof(filter),
           reply, &operator_size);
    assert_true(operator_size > 0);
    size = read_as(engine, BANK, KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS, &filter, sizeof(filter));
    assert_int_equal(size, 0);
    size = read_as(engine, BANK, KHORGOS_OPERATION_GET_ACCOUNT_BALANCES, &filter, sizeof(filter));
    assert_int_equal(size, 0);
    filter.account_id = a;
    size = read_as(engine, BANK, KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS, &filter, sizeof(filter));
    assert_true(size > 0);
    /* Filters naming B (8 or 11 characters): nothing. */
    const char *names[] = {BANK_B, BANK_B "XXX"};
    for (u32 index = 0; index < 2; index++) {
        struct khorgos_settle_filter settle_filter = {0};
        memcpy(settle_filter.bic, names[index], strlen(names[index]));
        size = read_as(engine, BANK, KHORGOS_OPERATION_GET_POSITIONS, &settle_filter,
                       sizeof(settle_filter));
        assert_int_equal(size, 0);
        size = read_as(engine, BANK, KHORGOS_OPERATION_GET_QUEUE, &settle_filter,
                       sizeof(settle_filter));
        assert_int_equal(size, 0);
        struct khorgos_window_filter window_filter = {.window = 1};
        memcpy(window_filter.bic, names[index], strlen(names[index]));
        assert_int_equal(run_as(engine, BANK, KHORGOS_OPERATION_GET_WINDOW_POSITIONS,
                                &window_filter, sizeof(window_filter), reply, &size),
                         KHORGOS_ERROR_ok);
        assert_int_equal(size, 0);
    }
    /* The provider's quote: the provider and the auditor see it, a bank does not. */
    u128 quote = 7;
    const enum actor_index readers[3] = {BANK, PROVIDER_ACTOR, AUDITOR};
    for (u32 index = 0; index < 3; index++) {
        size = read_as(engine, readers[index], KHORGOS_OPERATION_LOOKUP_FX_QUOTES, &quote,
                       sizeof(quote));
        assert_int_equal(size, index == 0 ? 0 : sizeof(struct khorgos_fx_quote));
    }
    khorgos_close(engine);
}

/* A query with limit 1 pages past others' records to the bank's own (its accounts were
 * created after the agents'); reversed too. */
static void test_query_pages(void **state) {
    (void)state;
    struct khorgos *engine = world();
    u128 a = account_of(engine, BANK_A);
    for (u32 reversed = 0; reversed < 2; reversed++) {
        struct khorgos_query_filter filter = {.limit = 1, .ledger = KZT,
                                              .flags = reversed ? KHORGOS_QUERY_FILTER_REVERSED
                                                                : 0};
        u32 size = 0;
        size = read_as(engine, BANK, KHORGOS_OPERATION_QUERY_ACCOUNTS, &filter, sizeof(filter));
        assert_int_equal(size, sizeof(struct khorgos_account));
        struct khorgos_account account;
        memcpy(&account, reply, sizeof(account));
        assert_true((u32)account.id == (u32)a);
        size = read_as(engine, BANK, KHORGOS_OPERATION_QUERY_TRANSFERS, &filter, sizeof(filter));
        assert_int_equal(size, sizeof(struct khorgos_transfer));
    }
    khorgos_close(engine);
}

/* On a data directory: a refused request and a forbidden event are journaled with the actor,
 * and a reopened engine (replaying them) holds the same state: the forbidden payment absent. */
static void test_replay(void **state) {
    (void)state;
    char directory[] = "/tmp/khorgos-auth-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char data[64];
    snprintf(data, sizeof(data), "%s/data", directory);
    struct khorgos_config config = {.clock_manual = 1, .participant_count_max = 16};
    assert_int_equal(khorgos_format(data, &config), KHORGOS_ERROR_ok);
    struct khorgos_open_options options = {.clock_manual = 1};
    struct khorgos *engine = NULL;
    assert_int_equal(khorgos_open(&engine, data, &options), KHORGOS_ERROR_ok);
    assert_int_equal(test_participant(engine, AGENT_KZ, KHORGOS_ROLE_SETTLEMENT_AGENT, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, BANK_A, KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    assert_int_equal(test_participant(engine, BANK_B, KHORGOS_ROLE_BANK, KZT, 0),
                     KHORGOS_SETTLE_ok);
    struct khorgos_payment payments[2] = {test_payment_event(70, BANK_A, BANK_B, 10, KZT),
                                          test_payment_event(71, BANK_B, BANK_A, 10, KZT)};
    struct khorgos_settle_result results[2];
    assert_int_equal(run_as(engine, BANK, KHORGOS_OPERATION_SUBMIT_PAYMENTS, payments,
                            sizeof(payments), results, NULL), KHORGOS_ERROR_ok);
    assert_int_equal(results[1].status, KHORGOS_SETTLE_forbidden);
    struct khorgos_account account = {.id = 5, .ledger = KZT, .code = 1};
    assert_int_equal(run_as(engine, BANK, KHORGOS_OPERATION_CREATE_ACCOUNTS, &account,
                            sizeof(account), reply, NULL), KHORGOS_ERROR_forbidden);
    /* B's own payment 70 beside A's: a payment of its own, replayed as one. */
    struct khorgos_payment b70 = test_payment_event(70, BANK_B, BANK_A, 10, KZT);
    assert_int_equal(event_bic(engine, BANK_B, KHORGOS_OPERATION_SUBMIT_PAYMENTS, &b70,
                               sizeof(b70)).status, KHORGOS_SETTLE_day_not_open);
    u64 requests = engine->request_count;
    u128 digest = engine_state_digest(engine);
    khorgos_close(engine);
    assert_int_equal(khorgos_open(&engine, data, &options), KHORGOS_ERROR_ok);
    assert_int_equal(engine->request_count, requests);
    assert_true(engine_state_digest(engine) == digest);
    u128 ids[2] = {70, 71};
    u32 size = 0;
    size = read_as(engine, OPERATOR, KHORGOS_OPERATION_LOOKUP_PAYMENTS, ids, sizeof(ids));
    assert_int_equal(size, sizeof(struct khorgos_payment));
    assert_string_equal(lookup_bic(engine, BANK_A, 70), BANK_A);
    assert_string_equal(lookup_bic(engine, BANK_B, 70), BANK_B);
    u128 account_id = 5;
    size = read_as(engine, OPERATOR, KHORGOS_OPERATION_LOOKUP_ACCOUNTS, &account_id,
                   sizeof(account_id));
    assert_int_equal(size, 0);
    khorgos_close(engine);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", directory);
    assert_int_equal(system(command), 0);
}

/* The journal's actor text and back. */
static void test_actor_text(void **state) {
    (void)state;
    struct khorgos_actor actor = actor_of(BANK), back;
    char text[16];
    engine_auth_actor_text(&actor, text);
    assert_memory_equal(text, "BNKAKZKAXXX\0\0\0\0\0", 16);
    engine_auth_actor_parse(text, &back);
    assert_int_equal(back.role, KHORGOS_ACTOR_PARTICIPANT);
    assert_memory_equal(back.bic, "BNKAKZKAXXX", 11);
    const char *names[] = {"operator", "auditor", "replica", "local", "engine"};
    const u32 roles[] = {KHORGOS_ACTOR_OPERATOR, KHORGOS_ACTOR_AUDITOR, KHORGOS_ACTOR_REPLICA,
                         KHORGOS_ACTOR_OPERATOR, KHORGOS_ACTOR_OPERATOR};
    for (u32 index = 0; index < ARRAY_COUNT(names); index++) {
        memset(text, 0, sizeof(text));
        memcpy(text, names[index], strlen(names[index]));
        engine_auth_actor_parse(text, &back);
        assert_int_equal(back.role, roles[index]);
        if (index < 3) {
            char again[16];
            engine_auth_actor_text(&back, again);
            assert_memory_equal(again, text, 16);
        }
    }
}

/* A bank's message payments: it may submit those it pays of messages it sends (another
 * sender: forbidden, nothing kept), and reads the references of its own messages only. */
static void test_message_payments(void **state) {
    (void)state;
    struct khorgos *engine = world();
    struct khorgos_message_payment event;
    memset(&event, 0, sizeof(event));
    event.payment.id = 900;
    event.payment.amount = 10;
    memcpy(event.payment.debtor, BANK_A, 8);
    memcpy(event.payment.creditor, BANK_B, 8);
    memcpy(event.payment.end_to_end_id, "E2E-900", 7);
    event.payment.type = KHORGOS_PAYMENT_CUSTOMER;
    event.payment.currency = KZT;
    event.references.payment_id = 900;
    memcpy(event.references.sender, BANK_B, 8); /* another bank's message */
    memcpy(event.references.message_id, "M-1", 3);
    memcpy(event.references.message_name, "pacs.008.001.08", 15);
    event.references.position = 1;
    struct khorgos_settle_result result;
    u32 size = 0;
    assert_int_equal(run_as(engine, BANK, KHORGOS_OPERATION_SUBMIT_MESSAGE_PAYMENTS, &event,
                            sizeof(event), &result, &size),
                     KHORGOS_ERROR_ok);
    assert_int_equal(result.status, KHORGOS_SETTLE_forbidden);
    memcpy(event.references.sender, BANK_A, 8);
    assert_int_equal(run_as(engine, BANK, KHORGOS_OPERATION_SUBMIT_MESSAGE_PAYMENTS, &event,
                            sizeof(event), &result, &size),
                     KHORGOS_ERROR_ok);
    assert_int_equal(result.status, KHORGOS_SETTLE_settled);
    struct khorgos_references_filter filter = {.limit = 8};
    memcpy(filter.sender, BANK_A, 8);
    memcpy(filter.message_id, "M-1", 3);
    assert_int_equal(read_as(engine, BANK, KHORGOS_OPERATION_GET_PAYMENT_REFERENCES, &filter,
                             sizeof(filter)),
                     sizeof(struct khorgos_payment_references));
    assert_int_equal(read_as(engine, AUDITOR, KHORGOS_OPERATION_GET_PAYMENT_REFERENCES,
                             &filter, sizeof(filter)),
                     sizeof(struct khorgos_payment_references));
    assert_int_equal(read_as(engine, AGENT, KHORGOS_OPERATION_GET_PAYMENT_REFERENCES, &filter,
                             sizeof(filter)),
                     0);
    khorgos_close(engine);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),          cmocka_unit_test(test_actor_invalid),
        cmocka_unit_test(test_events),          cmocka_unit_test(test_event_changes_nothing),
        cmocka_unit_test(test_reads_filtered),  cmocka_unit_test(test_reads_by_id),
        cmocka_unit_test(test_query_pages),     cmocka_unit_test(test_replay),
        cmocka_unit_test(test_actor_text),      cmocka_unit_test(test_message_payments),
        cmocka_unit_test(test_payment_ids_scoped), cmocka_unit_test(test_quote_ids_scoped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
