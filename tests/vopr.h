/*
 * vopr.h: the deterministic simulation of the whole engine, after TigerBeetle's VOPR, shared by
 * test_vopr.c (make test: a fixed set of seeds) and long_vopr.c (make test-long: many more).
 *
 * Replay a seed exactly:
 *     KHORGOS_VOPR_SEED=123 build/tests/test_vopr
 * (a failing run prints "VOPR seed N" first, and that command replays it: same requests, same
 * faults, same crashes, same interleaving of the checkpoint's thread).
 *
 * One run (vopr_run) is the crash simulation of tests/storage_sim.h with another driver:
 *   - the traffic is the whole engine's: the ledger workload of storage_sim.h (accounts,
 *     transfers single-phase and pending, posts, voids, linked chains, lookups) mixed with
 *     settlement (participants, funding, credit lines and limits, suspensions, payments gross
 *     and net and cross-currency, cancels and reprioritisations, gridlock resolution, FX quotes,
 *     netting windows opened, closed, settled, unwound and aborted, business days opened and
 *     closed with cut-offs and timed resolution) and its queries (lookups, queues, positions);
 *   - it comes in phases: mixed batches (written one at a time with khorgos_execute, or
 *     pipelined: khorgos_execute_begin of the next batch before khorgos_execute_wait of the
 *     previous one, a reply acknowledged only after its wait), long runs of read-only batches,
 *     and idle stretches where only time passes (now and then the manual clock moves with
 *     khorgos_clock_advance, firing timers), often right after an operator's checkpoint, so
 *     that read-only and idle traffic meet a checkpoint in progress;
 *   - the checkpoint's thread runs under a lockstep schedule (engine_checkpoint_schedule_set):
 *     it runs only while the simulation waits for it, one quantum (until its next sleep) at a
 *     time, at points the seed chooses, and its pacing reads the simulation's clock. So its
 *     pacing, its waits for commits and its idle rule are exercised, and a seed replays exactly;
 *   - faults (write and sync failures, ENOSPC, power loss at a random I/O, bit flips on read
 *     during recovery, damage to acknowledged data after a clean close) and recoveries are
 *     storage_sim.h's: after each crash every acknowledged reply is reproduced byte for byte
 *     by a reference engine in memory re-executing the same requests, and the state digests
 *     must be equal.
 * Every run yields a trace hash (FNV-1a over every acknowledged reply and recovered count),
 * printed after the run: a replay of the seed, in this process or another, prints the same;
 * test_vopr.c runs one seed twice and asserts the two hashes are equal.
 */
#ifndef KHORGOS_TESTS_VOPR_H
#define KHORGOS_TESTS_VOPR_H

#include <pthread.h>

#include "storage_sim.h"

#define VOPR_KZT 398u
#define VOPR_CNY 156u
#define VOPR_DATE_FIRST 20230519u
#define VOPR_SECOND_NS 1000000000ull
#define VOPR_PARTICIPANTS 6u
#define VOPR_BANKS 3u /* participants 2, 3, 4 */
#define VOPR_PROVIDER 5u
#define VOPR_PAYMENTS_PER_REQUEST_MAX 8u
#define VOPR_SETUP_REQUESTS 10u
/* A quantum of the checkpoint's thread runs this many times at most after one step. */
#define VOPR_QUANTA_PER_STEP_MAX 3u
/* A drain (before a close) gives the thread at most this many quanta: its idle rule lets it
 * write at full speed after 25 ms of the simulation's time without a commit. */
#define VOPR_DRAIN_QUANTA_MAX 100000u

_Static_assert(VOPR_PAYMENTS_PER_REQUEST_MAX * sizeof(struct khorgos_payment) <=
                   SIM_BODY_BYTES_MAX,
               "a payments request fits a logged body");

static const char *const vopr_bics[VOPR_PARTICIPANTS] = {
    "NBRKKZKX", /* the KZT settlement agent */
    "PBOCCNBJ", /* the CNY settlement agent */
    "HSBKKZKX", "KCJBKZKX", "BKCHCNBJ", /* banks holding both */
    "LPAAKZKA",                         /* a liquidity provider */
};

/* The pacing clock and the lockstep between the simulation and the checkpoint's thread:
 * exactly one of them runs at a time, so the thread's I/O and the simulated disk's random
 * faults come in the same order on every run of a seed. */
struct vopr_lockstep {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool present;     /* a thread exists and has not exited */
    bool thread_turn; /* the thread runs; the simulation waits */
    u64 wake_ns;      /* a sleeping thread runs again only once the clock reaches this */
    u64 clock_ns;     /* the simulation's monotonic clock, read by the pacing */
    struct base_clock clock;
    struct storage_checkpoint_schedule schedule;
};

/* The driver's state (sim->context) and what it counts. */
struct vopr_totals {
    u64 requests;              /* requests made (acknowledged or not) */
    u64 settle_requests;       /* of them, settlement operations that write */
    u64 read_only_requests;
    u64 pipelined_batches;     /* acknowledged after khorgos_execute_wait of a later begin */
    u64 lookup_phases;
    u64 idle_phases;
    u64 clock_advances;
    u64 checkpoints_started;
    u64 checkpoints_completed;
    u64 thread_quanta;         /* times the checkpoint's thread was let run */
    u64 quanta_during_lookups; /* ... of them during a run of read-only batches */
    u64 quanta_during_idle;    /* ... during an idle stretch */
};

struct vopr {
    struct vopr_lockstep lockstep;
    struct vopr_totals *totals;
    u128 next_request_id; /* settlement request ids */
    u128 next_payment_id;
    u128 next_quote_id;
    u32 setup_next;    /* the next setup request (they cycle: repeats are idempotent) */
    u32 date;          /* the business day the generator opens next */
    u32 window_last;   /* the newest window number it may name */
    bool read_only;    /* a phase of read-only requests */
    bool burst;        /* a phase of large transfer batches: the state grows */
    u32 phase;         /* for counting quanta: 0 mixed, 1 lookups, 2 idle */
};

/* ---- the lockstep schedule ------------------------------------------------------------------ */

static inline u64 vopr_clock_ns(void *context) {
    struct vopr_lockstep *lockstep = context;
    return lockstep->clock_ns; /* read only while the reader runs alone */
}

static inline void vopr_created(void *context) {
    struct vopr_lockstep *lockstep = context;
    pthread_mutex_lock(&lockstep->mutex);
    assert_false(lockstep->present);
    lockstep->present = true;
    lockstep->thread_turn = false;
    lockstep->wake_ns = 0;
    pthread_mutex_unlock(&lockstep->mutex);
}

static inline void vopr_wait(void *context) {
    struct vopr_lockstep *lockstep = context;
    pthread_mutex_lock(&lockstep->mutex);
    while (!lockstep->thread_turn) pthread_cond_wait(&lockstep->cond, &lockstep->mutex);
    pthread_mutex_unlock(&lockstep->mutex);
}

static inline void vopr_sleep(void *context, u64 sleep_ns) {
    struct vopr_lockstep *lockstep = context;
    pthread_mutex_lock(&lockstep->mutex);
    lockstep->wake_ns = lockstep->clock_ns + sleep_ns;
    lockstep->thread_turn = false;
    pthread_cond_broadcast(&lockstep->cond);
    while (!lockstep->thread_turn) pthread_cond_wait(&lockstep->cond, &lockstep->mutex);
    pthread_mutex_unlock(&lockstep->mutex);
}

static inline void vopr_exit(void *context) {
    struct vopr_lockstep *lockstep = context;
    pthread_mutex_lock(&lockstep->mutex);
    lockstep->present = false;
    lockstep->thread_turn = false;
    pthread_cond_broadcast(&lockstep->cond);
    pthread_mutex_unlock(&lockstep->mutex);
}

/* Lets the thread run until its next sleep or its exit, if it is there and its sleep is over
 * (a sleep lasts at least what it asked, as a real one does); false when it did not run. */
static inline bool vopr_quantum(struct vopr *vopr) {
    struct vopr_lockstep *lockstep = &vopr->lockstep;
    pthread_mutex_lock(&lockstep->mutex);
    bool present = lockstep->present && lockstep->clock_ns >= lockstep->wake_ns;
    if (present) {
        lockstep->thread_turn = true;
        pthread_cond_broadcast(&lockstep->cond);
        while (lockstep->thread_turn) pthread_cond_wait(&lockstep->cond, &lockstep->mutex);
    }
    pthread_mutex_unlock(&lockstep->mutex);
    if (present) {
        vopr->totals->thread_quanta++;
        if (vopr->phase == 1) vopr->totals->quanta_during_lookups++;
        if (vopr->phase == 2) vopr->totals->quanta_during_idle++;
    }
    return present;
}

static inline void vopr_lockstep_init(struct vopr_lockstep *lockstep) {
    memset(lockstep, 0, sizeof(*lockstep));
    assert_int_equal(pthread_mutex_init(&lockstep->mutex, NULL), 0);
    assert_int_equal(pthread_cond_init(&lockstep->cond, NULL), 0);
    lockstep->clock_ns = VOPR_SECOND_NS;
    lockstep->clock = (struct base_clock){
        .now_ns = vopr_clock_ns, .sleep_ns = vopr_sleep, .context = lockstep,
    };
    lockstep->schedule = (struct storage_checkpoint_schedule){
        .context = lockstep, .created = vopr_created, .wait = vopr_wait, .exit = vopr_exit,
    };
}

static inline void vopr_lockstep_destroy(struct vopr_lockstep *lockstep) {
    assert_false(lockstep->present);
    pthread_mutex_destroy(&lockstep->mutex);
    pthread_cond_destroy(&lockstep->cond);
}

/* Time passes (the simulation's monotonic clock), and the thread gets 0 to 3 quanta. */
static inline void vopr_step_time(struct sim *sim, u64 elapsed_ns) {
    struct vopr *vopr = sim->context;
    vopr->lockstep.clock_ns += elapsed_ns;
    u64 quanta = sim_below(sim, VOPR_QUANTA_PER_STEP_MAX + 1);
    for (u64 quantum = 0; quantum < quanta && vopr_quantum(vopr); quantum++) {
        vopr->lockstep.clock_ns += 1000 + sim_below(sim, 50000); /* the piece it wrote */
    }
}

/* Lets a running checkpoint finish with nothing else happening (the engine idle). */
static inline void vopr_drain(struct sim *sim) {
    struct vopr *vopr = sim->context;
    struct vopr_lockstep *lockstep = &vopr->lockstep;
    for (u32 quantum = 0; lockstep->present; quantum++) {
        assert_true(quantum < VOPR_DRAIN_QUANTA_MAX);
        lockstep->clock_ns = MAX(lockstep->clock_ns, lockstep->wake_ns);
        (void)vopr_quantum(vopr);
        lockstep->clock_ns += 1000;
    }
}

/* ---- settlement requests -------------------------------------------------------------------- */

static inline void vopr_bic(char *out, u32 participant) {
    memset(out, 0, KHORGOS_BIC_BYTES);
    memcpy(out, vopr_bics[participant], strlen(vopr_bics[participant]));
}

static inline u32 vopr_bank(struct sim *sim) { return 2 + (u32)sim_below(sim, VOPR_BANKS); }

static inline u32 vopr_currency(struct sim *sim) {
    return sim_below(sim, 2) ? VOPR_KZT : VOPR_CNY;
}

static inline u128 vopr_amount(struct sim *sim) {
    u64 roll = sim_below(sim, 10);
    return roll == 0 ? 1 : 1 + sim_below(sim, roll < 8 ? 100000ull : 100000000ull);
}

static inline void vopr_participant(struct khorgos_participant *event, u32 participant) {
    memset(event, 0, sizeof(*event));
    vopr_bic(event->bic, participant);
    memcpy(event->country, vopr_bics[participant] + 4, 2);
    event->role = participant < 2                   ? KHORGOS_ROLE_SETTLEMENT_AGENT
                  : participant == VOPR_PROVIDER ? KHORGOS_ROLE_LIQUIDITY_PROVIDER
                                                 : KHORGOS_ROLE_BANK;
    event->currencies[0] = participant == 1 ? VOPR_CNY : VOPR_KZT;
    if (participant >= 2) event->currencies[1] = VOPR_CNY;
    snprintf(event->name, sizeof(event->name), "Participant %u", (unsigned)participant);
}

static inline struct khorgos_participant_event vopr_participant_event(struct sim *sim,
                                                                      u32 participant,
                                                                      u128 amount) {
    struct vopr *vopr = sim->context;
    struct khorgos_participant_event event;
    memset(&event, 0, sizeof(event));
    event.id = vopr->next_request_id++;
    event.amount = amount;
    event.currency = vopr_currency(sim);
    vopr_bic(event.bic, participant);
    return event;
}

static inline void vopr_business_day(struct sim *sim, struct khorgos_business_day *day,
                                     u32 currency) {
    struct vopr *vopr = sim->context;
    memset(day, 0, sizeof(*day));
    day->id = vopr->next_request_id++;
    day->currency = currency;
    day->date = vopr->date;
    day->queue_mode = sim_below(sim, 2) ? KHORGOS_QUEUE_MODE_FIFO : KHORGOS_QUEUE_MODE_BYPASS_FIFO;
    day->flags = (u8)sim_below(sim, 8);
    if (day->flags & KHORGOS_DAY_RESOLUTION_ON_TIMER) {
        day->resolution_interval = (1 + sim_below(sim, 30)) * VOPR_SECOND_NS;
    }
    if (sim_below(sim, 2)) {
        day->cut_off_customer = sim->clock_ns + (60 + sim_below(sim, 600)) * VOPR_SECOND_NS;
        day->cut_off_interbank = day->cut_off_customer + sim_below(sim, 600) * VOPR_SECOND_NS;
    }
}

static inline void vopr_quote(struct sim *sim, struct khorgos_fx_quote *quote) {
    struct vopr *vopr = sim->context;
    memset(quote, 0, sizeof(*quote));
    quote->id = vopr->next_quote_id++;
    vopr_bic(quote->provider, VOPR_PROVIDER);
    bool kzt_source = sim_below(sim, 2);
    quote->currency_source = kzt_source ? VOPR_KZT : VOPR_CNY;
    quote->currency_target = kzt_source ? VOPR_CNY : VOPR_KZT;
    quote->rate_mantissa = kzt_source ? 15 + sim_below(sim, 3) : 64 + sim_below(sim, 4);
    quote->rate_exponent = kzt_source ? -3 : 0;
    quote->amount_max = 1 + sim_below(sim, 1000000000ull);
    quote->expires_at = sim->clock_ns + (1 + sim_below(sim, 3600)) * VOPR_SECOND_NS;
}

/* The setup: participants, funding, days, quotes, a window; made first and then again now
 * and then (idempotent: a repeat gets exists, day_already_open or a new quote). */
static inline u32 vopr_setup_body(struct sim *sim, struct sim_entry *entry) {
    struct vopr *vopr = sim->context;
    u32 step = vopr->setup_next++ % VOPR_SETUP_REQUESTS;
    if (step == 0) {
        entry->operation = KHORGOS_OPERATION_CREATE_PARTICIPANTS;
        for (u32 index = 0; index < VOPR_PARTICIPANTS; index++) {
            vopr_participant((struct khorgos_participant *)entry->body + index, index);
        }
        return VOPR_PARTICIPANTS * (u32)sizeof(struct khorgos_participant);
    }
    if (step <= 4) { /* fund banks and the provider in both currencies */
        entry->operation = KHORGOS_OPERATION_FUND;
        struct khorgos_participant_event *events = (void *)entry->body;
        for (u32 index = 0; index < 4; index++) {
            events[index] = vopr_participant_event(sim, 2 + index, 1000000000ull);
            events[index].currency = step % 2 ? VOPR_KZT : VOPR_CNY;
        }
        return 4 * (u32)sizeof(struct khorgos_participant_event);
    }
    if (step <= 6) {
        entry->operation = KHORGOS_OPERATION_OPEN_DAY;
        vopr_business_day(sim, (void *)entry->body, step == 5 ? VOPR_KZT : VOPR_CNY);
        return sizeof(struct khorgos_business_day);
    }
    if (step == 7) {
        entry->operation = KHORGOS_OPERATION_SET_FX_QUOTES;
        vopr_quote(sim, (void *)entry->body);
        vopr_quote(sim, (struct khorgos_fx_quote *)entry->body + 1);
        return 2 * sizeof(struct khorgos_fx_quote);
    }
    if (step == 9) { /* the ledger workload's first 16 accounts, plain */
        entry->operation = KHORGOS_OPERATION_CREATE_ACCOUNTS;
        struct khorgos_account *accounts = (void *)entry->body;
        for (u32 index = 0; index < 16; index++) {
            accounts[index].id = 1 + index;
            accounts[index].ledger = accounts[index].id % 2 ? 398 : 156;
            accounts[index].code = 1;
        }
        return 16 * (u32)sizeof(struct khorgos_account);
    }
    entry->operation = KHORGOS_OPERATION_OPEN_WINDOW;
    struct khorgos_window *window = (void *)entry->body;
    window->id = vopr->next_request_id++;
    if (sim_below(sim, 2)) window->close_at = sim->clock_ns + sim_below(sim, 60) * VOPR_SECOND_NS;
    if (sim_below(sim, 2)) window->settle_after = sim_below(sim, 30) * VOPR_SECOND_NS;
    if (window->close_at != 0 && sim_below(sim, 2)) window->interval = 20 * VOPR_SECOND_NS;
    return sizeof(struct khorgos_window);
}

static inline void vopr_payment(struct sim *sim, struct khorgos_payment *payment) {
    struct vopr *vopr = sim->context;
    memset(payment, 0, sizeof(*payment));
    bool resubmit = sim_below(sim, 10) == 0 && vopr->next_payment_id > 2;
    payment->id = resubmit ? 1 + sim_below(sim, (u64)vopr->next_payment_id - 1)
                           : vopr->next_payment_id++;
    payment->amount = vopr_amount(sim);
    u32 debtor = vopr_bank(sim);
    u32 creditor = 2 + (debtor - 2 + 1 + (u32)sim_below(sim, VOPR_BANKS - 1)) % VOPR_BANKS;
    if (sim_below(sim, 32) == 0) creditor = debtor; /* refused: accounts_must_be_different */
    vopr_bic(payment->debtor, debtor);
    vopr_bic(payment->creditor, creditor);
    snprintf(payment->end_to_end_id, sizeof(payment->end_to_end_id), "E2E-%llu",
             (unsigned long long)payment->id);
    payment->type = (u8)sim_below(sim, 2);
    payment->priority = (u8)sim_below(sim, KHORGOS_PRIORITY_COUNT);
    payment->currency = vopr_currency(sim);
    u64 roll = sim_below(sim, 8);
    if (roll == 0) payment->currency_target = payment->currency == VOPR_KZT ? VOPR_CNY : VOPR_KZT;
    if (roll == 1) payment->settlement = KHORGOS_SETTLEMENT_NET;
    if (roll == 2) payment->settle_by = sim->clock_ns + sim_below(sim, 20) * VOPR_SECOND_NS;
}

/* A payment change (cancel or reprioritise) of a payment that may exist. */
static inline u32 vopr_changes_body(struct sim *sim, struct sim_entry *entry) {
    struct vopr *vopr = sim->context;
    u32 count = 1 + (u32)sim_below(sim, 3);
    struct khorgos_payment_change *changes = (void *)entry->body;
    for (u32 index = 0; index < count; index++) {
        changes[index].id = vopr->next_request_id++;
        changes[index].payment_id = 1 + sim_below(sim, (u64)vopr->next_payment_id);
        if (entry->operation == KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS) {
            changes[index].priority = (u8)sim_below(sim, KHORGOS_PRIORITY_COUNT);
        }
    }
    return count * (u32)sizeof(struct khorgos_payment_change);
}

/* fund, defund, credit lines, limits, suspend, reinstate. */
static inline u32 vopr_participant_body(struct sim *sim, struct sim_entry *entry) {
    static const u32 operations[] = {
        KHORGOS_OPERATION_FUND,         KHORGOS_OPERATION_FUND,    KHORGOS_OPERATION_DEFUND,
        KHORGOS_OPERATION_SET_CREDIT_LINES, KHORGOS_OPERATION_SET_LIMITS,
        KHORGOS_OPERATION_SET_LIMITS,   KHORGOS_OPERATION_SUSPEND, KHORGOS_OPERATION_REINSTATE,
        KHORGOS_OPERATION_REINSTATE,    KHORGOS_OPERATION_REINSTATE, KHORGOS_OPERATION_REINSTATE,
    };
    entry->operation = operations[sim_below(sim, sizeof(operations) / sizeof(operations[0]))];
    u32 count = 1 + (u32)sim_below(sim, 3);
    struct khorgos_participant_event *events = (void *)entry->body;
    for (u32 index = 0; index < count; index++) {
        u32 participant = sim_below(sim, 8) == 0 ? VOPR_PROVIDER : vopr_bank(sim);
        events[index] = vopr_participant_event(sim, participant, vopr_amount(sim) * 10);
        if (entry->operation == KHORGOS_OPERATION_SUSPEND ||
            entry->operation == KHORGOS_OPERATION_REINSTATE) {
            events[index].amount = 0;
            events[index].currency = 0;
        }
        if (entry->operation == KHORGOS_OPERATION_SET_LIMITS) {
            events[index].limit_kind = (u8)(1 + sim_below(sim, 2));
            if (events[index].limit_kind == KHORGOS_LIMIT_BILATERAL) {
                vopr_bic(events[index].counterparty, vopr_bank(sim));
            }
            if (sim_below(sim, 3) == 0) events[index].amount = KHORGOS_AMOUNT_MAX;
        }
    }
    return count * (u32)sizeof(struct khorgos_participant_event);
}

/* A window operation on a window that may exist. */
static inline u32 vopr_window_body(struct sim *sim, struct sim_entry *entry) {
    struct vopr *vopr = sim->context;
    static const u32 operations[] = {
        KHORGOS_OPERATION_OPEN_WINDOW,   KHORGOS_OPERATION_CLOSE_WINDOW,
        KHORGOS_OPERATION_CLOSE_WINDOW,  KHORGOS_OPERATION_SETTLE_WINDOW,
        KHORGOS_OPERATION_SETTLE_WINDOW, KHORGOS_OPERATION_UNWIND_WINDOW,
        KHORGOS_OPERATION_ABORT_WINDOW,
    };
    entry->operation = operations[sim_below(sim, sizeof(operations) / sizeof(operations[0]))];
    if (entry->operation == KHORGOS_OPERATION_OPEN_WINDOW) {
        vopr->setup_next = VOPR_SETUP_REQUESTS - 2; /* the setup's window request */
        return vopr_setup_body(sim, entry);
    }
    struct khorgos_window *window = (void *)entry->body;
    window->id = vopr->next_request_id++;
    if (sim_below(sim, 4) == 0) vopr->window_last++;
    window->number = (u32)sim_below(sim, (u64)vopr->window_last + 2);
    return sizeof(struct khorgos_window);
}

/* A business-day or system-wide request: close a day, open the next, resolve gridlock,
 * quotes. */
static inline u32 vopr_day_body(struct sim *sim, struct sim_entry *entry) {
    struct vopr *vopr = sim->context;
    u64 roll = sim_below(sim, 6);
    if (roll <= 1) {
        entry->operation = roll == 0 ? KHORGOS_OPERATION_CLOSE_DAY
                                     : KHORGOS_OPERATION_RESOLVE_GRIDLOCK;
        struct khorgos_business_day *day = (void *)entry->body;
        day->id = vopr->next_request_id++;
        day->currency = vopr_currency(sim);
        if (roll == 0) vopr->date = vopr->date % 100 < 28 ? vopr->date + 1 : vopr->date + 73;
        return sizeof(*day);
    }
    if (roll == 2) {
        entry->operation = KHORGOS_OPERATION_OPEN_DAY;
        vopr_business_day(sim, (void *)entry->body, vopr_currency(sim));
        return sizeof(struct khorgos_business_day);
    }
    if (roll == 3) {
        entry->operation = KHORGOS_OPERATION_WITHDRAW_FX_QUOTES;
        u128 *ids = (void *)entry->body;
        ids[0] = 1 + sim_below(sim, (u64)vopr->next_quote_id);
        return sizeof(u128);
    }
    entry->operation = KHORGOS_OPERATION_SET_FX_QUOTES;
    vopr_quote(sim, (void *)entry->body);
    return sizeof(struct khorgos_fx_quote);
}

/* A read-only settlement request: lookups, the queue, positions, windows. */
static inline u32 vopr_query_body(struct sim *sim, struct sim_entry *entry) {
    struct vopr *vopr = sim->context;
    u64 roll = sim_below(sim, 6);
    if (roll <= 1) {
        entry->operation = roll == 0 ? KHORGOS_OPERATION_LOOKUP_PAYMENTS
                                     : KHORGOS_OPERATION_LOOKUP_FX_QUOTES;
        u32 count = 1 + (u32)sim_below(sim, 4);
        u128 bound = roll == 0 ? vopr->next_payment_id : vopr->next_quote_id;
        u128 *ids = (void *)entry->body;
        for (u32 index = 0; index < count; index++) ids[index] = 1 + sim_below(sim, (u64)bound);
        return count * (u32)sizeof(u128);
    }
    if (roll <= 3) {
        entry->operation = roll == 2 ? KHORGOS_OPERATION_GET_QUEUE
                                     : KHORGOS_OPERATION_GET_POSITIONS;
        struct khorgos_settle_filter *filter = (void *)entry->body;
        if (sim_below(sim, 2)) vopr_bic(filter->bic, vopr_bank(sim));
        if (sim_below(sim, 2)) filter->currency = vopr_currency(sim);
        filter->limit = (u32)sim_below(sim, 8);
        return sizeof(*filter);
    }
    if (roll == 4) {
        entry->operation = KHORGOS_OPERATION_LOOKUP_WINDOWS;
        struct khorgos_window *window = (void *)entry->body;
        window->number = (u32)sim_below(sim, (u64)vopr->window_last + 2);
        return sizeof(*window);
    }
    entry->operation = KHORGOS_OPERATION_GET_WINDOW_POSITIONS;
    struct khorgos_window_filter *filter = (void *)entry->body;
    filter->window = 1 + (u32)sim_below(sim, (u64)vopr->window_last + 1);
    filter->limit = (u32)sim_below(sim, 8);
    return sizeof(*filter);
}

/* The driver's request maker: a read-only request in a read-only phase, else the mix. */
static inline void vopr_request_make(struct sim *sim, struct sim_entry *entry) {
    struct vopr *vopr = sim->context;
    vopr->totals->requests++;
    u64 roll = sim_below(sim, 100);
    bool setup = vopr->setup_next < VOPR_SETUP_REQUESTS || roll < 3;
    if (vopr->read_only) {
        roll = 90 + sim_below(sim, 10);
        setup = false;
    }
    if (vopr->burst && !setup) {
        do {
            sim_request_make(sim, entry);
        } while (entry->operation != KHORGOS_OPERATION_CREATE_TRANSFERS);
        while (entry->body_size + SIM_EVENTS_MAX * 128u <= SIM_BODY_BYTES_MAX) {
            entry->body_size += sim_transfers_body(sim, entry->body + entry->body_size);
        }
        return;
    }
    if (setup) {
        entry->body_size = vopr_setup_body(sim, entry);
    } else if (roll < 35) {
        sim_request_make(sim, entry); /* the ledger workload, lookups of accounts included */
        /* Larger transfer batches than the crash simulation's, so snapshots take several
         * pieces and the checkpoint's thread waits for commits between them. */
        while (entry->operation == KHORGOS_OPERATION_CREATE_TRANSFERS &&
               entry->body_size + SIM_EVENTS_MAX * 128u <= SIM_BODY_BYTES_MAX &&
               sim_below(sim, 4) != 0) {
            entry->body_size += sim_transfers_body(sim, entry->body + entry->body_size);
        }
        if (vopr->read_only && entry->operation != KHORGOS_OPERATION_LOOKUP_ACCOUNTS) {
            entry->operation = KHORGOS_OPERATION_LOOKUP_TRANSFERS;
            u128 ids[2] = {1000 + sim_below(sim, sim->next_id - 999), sim->next_id};
            memcpy(entry->body, ids, sizeof(ids));
            entry->body_size = sizeof(ids);
        }
    } else if (roll < 65) {
        entry->operation = KHORGOS_OPERATION_SUBMIT_PAYMENTS;
        u32 count = 1 + (u32)sim_below(sim, VOPR_PAYMENTS_PER_REQUEST_MAX);
        for (u32 index = 0; index < count; index++) {
            vopr_payment(sim, (struct khorgos_payment *)entry->body + index);
        }
        entry->body_size = count * (u32)sizeof(struct khorgos_payment);
    } else if (roll < 70) {
        entry->operation = sim_below(sim, 2) ? KHORGOS_OPERATION_CANCEL_PAYMENTS
                                             : KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS;
        entry->body_size = vopr_changes_body(sim, entry);
    } else if (roll < 78) {
        entry->body_size = vopr_participant_body(sim, entry);
    } else if (roll < 83) {
        entry->body_size = vopr_window_body(sim, entry);
    } else if (roll < 90) {
        entry->body_size = vopr_day_body(sim, entry);
    } else {
        entry->body_size = vopr_query_body(sim, entry);
    }
    const struct engine_operation *operation = engine_operation_find(entry->operation);
    assert_non_null(operation);
    if (entry->operation >= KHORGOS_OPERATION_CREATE_PARTICIPANTS && operation->changes_state) {
        vopr->totals->settle_requests++;
    }
    if (!operation->changes_state) vopr->totals->read_only_requests++;
    assert_true(!vopr->read_only || !operation->changes_state);
}

/* ---- phases ------------------------------------------------------------------------------- */

/* A batch begun and not yet waited for (pipelined). */
struct vopr_flight {
    bool pending;
    u32 first; /* its first log entry */
    u32 count;
    u64 ticket;
    struct khorgos_request requests[SIM_BATCH_REQUESTS_MAX];
};

/* Waits for the batch in flight and acknowledges it; false when the engine stopped. */
static inline bool vopr_flight_land(struct sim *sim, struct vopr_flight *flight) {
    if (!flight->pending) return true;
    flight->pending = false;
    khorgos_error error = khorgos_execute_wait(sim->engine, flight->ticket);
    if (error != KHORGOS_ERROR_ok) {
        sim_assert_stopped(sim, error);
        return false;
    }
    sim_batch_acknowledge(sim, flight->first, flight->requests, flight->count);
    sim->acknowledged_count = flight->ticket;
    struct vopr *vopr = sim->context;
    vopr->totals->pipelined_batches++;
    return true;
}

/* One batch: executed whole, or (pipelined) begun before the previous one is waited for.
 * False when the engine stopped or the log is full. */
static inline bool vopr_batch(struct sim *sim, struct vopr_flight flights[2], u32 *slot,
                              bool pipelined) {
    struct vopr_flight *flight = &flights[*slot];
    assert_false(flight->pending);
    flight->count = 1 + (u32)sim_below(sim, SIM_BATCH_REQUESTS_MAX);
    flight->first = sim->log_count;
    sim->engine->clock_manual_ns = sim->clock_ns;
    if (!sim_batch_prepare(sim, flight->requests, flight->count, *slot)) return false;
    if (!pipelined) {
        khorgos_error error = khorgos_execute(sim->engine, flight->requests, flight->count);
        if (error != KHORGOS_ERROR_ok) {
            sim_assert_stopped(sim, error);
            return false;
        }
        sim_batch_acknowledge(sim, flight->first, flight->requests, flight->count);
        sim->acknowledged_count = sim->engine->request_count;
        return true;
    }
    khorgos_error error =
        khorgos_execute_begin(sim->engine, flight->requests, flight->count, &flight->ticket);
    if (error != KHORGOS_ERROR_ok) {
        sim_assert_stopped(sim, error);
        return false;
    }
    flight->pending = true;
    *slot ^= 1;
    return vopr_flight_land(sim, &flights[*slot]); /* the one begun before */
}

/* The manual clock moves (expiries, cut-offs, settle-by, windows' timers fire). */
static inline bool vopr_clock_advance(struct sim *sim) {
    struct vopr *vopr = sim->context;
    if (sim->log_count >= SIM_LOG_MAX) return false;
    struct sim_entry *entry = &sim->log[sim->log_count++];
    memset(entry, 0, sizeof(*entry));
    entry->kind = SIM_ENTRY_CLOCK;
    entry->advance_ns = sim_below(sim, 4) == 0 ? sim_below(sim, 600 * VOPR_SECOND_NS)
                                               : sim_below(sim, 5 * VOPR_SECOND_NS);
    sim->engine->clock_manual_ns = sim->clock_ns;
    sim->clock_ns += entry->advance_ns;
    entry->clock_ns = sim->clock_ns;
    khorgos_error error = khorgos_clock_advance(sim->engine, entry->advance_ns);
    if (error != KHORGOS_ERROR_ok) {
        sim_assert_stopped(sim, error);
        return false;
    }
    entry->acknowledged = true;
    sim->acknowledged_count = sim->engine->request_count;
    vopr->totals->clock_advances++;
    sim_trace(sim, &sim->acknowledged_count, sizeof(sim->acknowledged_count));
    return true;
}

/* A run of read-only batches (the manual clock still, so nothing is journaled), 20 to 800
 * of them, or in a quarter of the runs up to 3,000 (about half a second), each a fraction of a
 * millisecond apart. */
static inline bool vopr_lookups(struct sim *sim, struct vopr_flight flights[2], u32 *slot) {
    struct vopr *vopr = sim->context;
    vopr->totals->lookup_phases++;
    vopr->read_only = true;
    vopr->phase = 1;
    u64 batches = 20 + sim_below(sim, sim_below(sim, 4) == 0 ? 2980 : 780);
    bool going = true;
    for (u64 batch = 0; going && batch < batches; batch++) {
        going = vopr_batch(sim, flights, slot, sim_below(sim, 2));
        vopr_step_time(sim, 20000 + sim_below(sim, 280000));
    }
    vopr->read_only = false;
    vopr->phase = 0;
    return going && vopr_flight_land(sim, &flights[*slot ^ 1]);
}

/* An idle stretch: only time passes, 0.1 to 20 ms a step; now and then the manual clock
 * moves too. */
static inline bool vopr_idle(struct sim *sim) {
    struct vopr *vopr = sim->context;
    vopr->totals->idle_phases++;
    vopr->phase = 2;
    u64 steps = 5 + sim_below(sim, 200);
    bool going = true;
    for (u64 step = 0; going && step < steps; step++) {
        vopr_step_time(sim, 100000 + sim_below(sim, 20000000));
        if (sim_below(sim, 16) == 0) going = vopr_clock_advance(sim);
    }
    vopr->phase = 0;
    return going;
}

/* The driver's batch loop: phases until the engine stops (faults of storage_sim.h) or, in a
 * third of the stretches, until the power fails after steps without faults. */
static inline void vopr_run_until_failure(struct sim *sim, u32 steps_max) {
    struct vopr *vopr = sim->context;
    sim_faults_choose(sim, sim_below(sim, 3) != 0);
    struct vopr_flight flights[2];
    memset(flights, 0, sizeof(flights));
    u32 slot = 0;
    bool going = true;
    bool pipelined = sim_below(sim, 2);
    for (u32 step = 0; going && step < steps_max * 3; step++) {
        u64 roll = sim_below(sim, 100);
        if (roll < 80) {
            sim->clock_ns += sim_below(sim, 4) == 0 ? sim_below(sim, 3 * VOPR_SECOND_NS) : 0;
            going = vopr_batch(sim, flights, &slot, pipelined);
            vopr_step_time(sim, 50000 + sim_below(sim, 2000000));
            continue;
        }
        going = vopr_flight_land(sim, &flights[slot ^ 1]);
        if (!going) break;
        if (roll < 83) {
            /* A burst of large transfer batches, so that snapshots take several pieces. */
            vopr->burst = true;
            u64 batches = 10 + sim_below(sim, 50);
            for (u64 batch = 0; going && batch < batches; batch++) {
                going = vopr_batch(sim, flights, &slot, pipelined);
                vopr_step_time(sim, 500000 + sim_below(sim, 2000000));
            }
            vopr->burst = false;
            going = going && vopr_flight_land(sim, &flights[slot ^ 1]);
        } else if (roll < 86) {
            going = vopr_lookups(sim, flights, &slot);
        } else if (roll < 92) {
            going = vopr_idle(sim);
        } else if (roll < 96) {
            going = vopr_clock_advance(sim);
        } else {
            /* An operator's checkpoint, then often read-only or idle traffic meets it. */
            going = sim_checkpoint(sim);
            u64 next = sim_below(sim, 3);
            if (going && next == 0) going = vopr_lookups(sim, flights, &slot);
            if (going && next == 1) going = vopr_idle(sim);
        }
        pipelined = sim_below(sim, 2);
    }
    if (going) (void)vopr_flight_land(sim, &flights[slot ^ 1]);
    sim_faults_clear(sim);
}

static inline void vopr_opened(struct sim *sim) {
    struct vopr *vopr = sim->context;
    struct vopr_lockstep *lockstep = &vopr->lockstep;
    engine_checkpoint_schedule_set(sim->engine, &lockstep->clock, &lockstep->schedule);
}

/* Before a close (and a crash): the checkpoint in progress finishes, idle. */
static inline void vopr_closing(struct sim *sim) {
    struct vopr *vopr = sim->context;
    vopr_drain(sim);
    struct khorgos_checkpoint_statistics statistics;
    assert_int_equal(khorgos_checkpoint_statistics(sim->engine, &statistics), KHORGOS_ERROR_ok);
    vopr->totals->checkpoints_started += statistics.started;
    vopr->totals->checkpoints_completed += statistics.completed;
    sim_trace(sim, &statistics.started, sizeof(statistics.started));
    sim_trace(sim, &statistics.completed, sizeof(statistics.completed));
}

/* Large enough for the settlement traffic of a run (its payments go to the snapshots). */
static const struct storage_superblock vopr_superblock = {
    .format_version = STORAGE_FORMAT_VERSION,
    .account_count_max = 128,
    .transfer_count_max = 16384,
    .account_balance_count_max = 8192,
    .segment_bytes = STORAGE_SEGMENT_BYTES_MIN,
    .segment_records_max = STORAGE_SEGMENT_RECORDS_MIN,
    .participant_count_max = 8,
    .payment_count_max = 4096,
};

static const struct sim_driver vopr_driver = {
    .superblock = &vopr_superblock,
    .request_make = vopr_request_make,
    .run_until_failure = vopr_run_until_failure,
    .opened = vopr_opened,
    .closing = vopr_closing,
};

/* One seeded run with `crashes` crashes; returns its trace hash. */
static inline u64 vopr_run(u64 seed, u32 crashes, struct sim_totals *totals,
                           struct vopr_totals *vopr_totals) {
    struct vopr vopr;
    memset(&vopr, 0, sizeof(vopr));
    vopr_lockstep_init(&vopr.lockstep);
    vopr.totals = vopr_totals;
    vopr.next_request_id = 1;
    vopr.next_payment_id = 1;
    vopr.next_quote_id = 1;
    vopr.date = VOPR_DATE_FIRST;
    printf("VOPR seed %llu\n", (unsigned long long)seed);
    fflush(stdout);
    u64 trace = sim_run_driver(seed, crashes, totals, &vopr_driver, &vopr);
    vopr_lockstep_destroy(&vopr.lockstep);
    printf("VOPR seed %llu: %u crashes, trace %016llx\n", (unsigned long long)seed,
           (unsigned)crashes, (unsigned long long)trace);
    return trace;
}

/* The seed to replay from KHORGOS_VOPR_SEED, or 0 when unset. */
static inline u64 vopr_seed_from_environment(void) {
    const char *text = getenv("KHORGOS_VOPR_SEED");
    if (text == NULL || *text == 0) return 0;
    char *end = NULL;
    unsigned long long seed = strtoull(text, &end, 10);
    assert_true(end != NULL && *end == 0 && seed > 0);
    return seed;
}

static inline void vopr_totals_print(u64 seeds, const struct sim_totals *totals,
                                     const struct vopr_totals *vopr) {
    printf("VOPR: %llu seeds, %llu requests (%llu settlement writes, %llu read-only), "
           "%llu crashes, %llu faults injected (%llu power losses, %llu write/sync failures, "
           "%llu ENOSPC), "
           "%llu recoveries verified, %llu acknowledged replies checked, %llu requests "
           "acknowledged (%llu batches pipelined), %llu unacknowledged found durable, "
           "%llu read-only runs, %llu idle stretches, %llu clock advances, checkpoints %llu "
           "started / %llu completed, the checkpoint's thread let run %llu times (%llu during "
           "read-only runs, %llu while idle), damage %llu injected / %llu detected\n",
           (unsigned long long)seeds, (unsigned long long)vopr->requests,
           (unsigned long long)vopr->settle_requests,
           (unsigned long long)vopr->read_only_requests, (unsigned long long)totals->crashes,
           (unsigned long long)totals->faults_injected, (unsigned long long)totals->power_losses,
           (unsigned long long)totals->write_or_sync_failures,
           (unsigned long long)totals->no_space_errors, (unsigned long long)totals->recoveries,
           (unsigned long long)totals->replies_checked,
           (unsigned long long)totals->requests_acknowledged,
           (unsigned long long)vopr->pipelined_batches,
           (unsigned long long)totals->requests_recovered_unacknowledged,
           (unsigned long long)vopr->lookup_phases, (unsigned long long)vopr->idle_phases,
           (unsigned long long)vopr->clock_advances,
           (unsigned long long)vopr->checkpoints_started,
           (unsigned long long)vopr->checkpoints_completed,
           (unsigned long long)vopr->thread_quanta,
           (unsigned long long)vopr->quanta_during_lookups,
           (unsigned long long)vopr->quanta_during_idle,
           (unsigned long long)totals->damage_injected,
           (unsigned long long)totals->damage_detected);
}

#endif /* KHORGOS_TESTS_VOPR_H */
