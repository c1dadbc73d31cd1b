/*
 * sim_run.c: one design at one liquidity level, run through the real engine. The only file of
 * the sim layer that touches the engine, and only through the public interface of
 * include/khorgos.h: khorgos_open_memory (or khorgos_format + khorgos_open for
 * --data) with the manual clock, khorgos_clock_advance, khorgos_execute (settle.h is read for
 * one constant, the most payments an engine holds).
 *
 * A run, step by step (sim_run_design):
 *   1. bounds: the day's reference outcomes with everything settled on arrival, under the
 *      design's routing (direct local-currency PvP, or through US dollars), converted with the
 *      very rates the run posts as quotes; their flows give each participant's UB and LB per
 *      currency (computed once per routing and kept in the runner);
 *   2. a fresh engine; the clock advanced from its start (2023-05-19T00:00:00Z) to the day's
 *      opening; participants created in the scenario's order (so participant number = bank
 *      index + 1), each holding the currencies it uses (currency_mask); routing set; one quote
 *      per scenario quote, in the scenario's order, at the mid rate less the spread, with no
 *      volume limit (so the engine's choice, the earliest of equal quotes, is the first
 *      provider, as in step 1); each currency's day opened with the scenario's cut-offs and the
 *      design's queue mode and flags; every participant funded with
 *      L = LB + a (UB - LB) in each currency it holds (sim_liquidity_start);
 *   3. the replay: payments grouped by submission second, the clock advanced to each second
 *      and the group submitted in one request (several if above a batch); between them, the
 *      design's ticks at the same clock: a resolve_gridlock of every currency every
 *      resolution interval (rtgs_lsm, usd_vehicle; and once more in the last second before
 *      the customer cut-off), or the netting window cycle every netting interval (dns_hourly:
 *      close the open window and settle it; if someone is short, unwind it, up to
 *      SIM_UNWIND_ROUNDS_MAX rounds, then abort the rest; open the next window and submit
 *      again, under new ids, the payments the unwinds rejected, so they go round again, as in
 *      a deferred net system). Payments of a second go before a tick of the same second;
 *   4. the close: the clock advanced to the close (the cut-off timers fire on the way), the
 *      last window closed and settled (what it cannot settle stays rejected), then close_day
 *      of every currency;
 *   5. the outcomes read back with lookup_payments: state, finished_at (seconds since the
 *      opening, rounded down), what the creditor got, the providers; a payment never settled
 *      keeps step 1's legs (never moving), so every run of a routing has the routing's bounds;
 *      then flows and metrics.
 *
 * Resolution on request, not on the engine's timer: the issue counts "gridlocks resolved
 * (resolution runs that settled at least one payment)", which the reply of each
 * resolve_gridlock gives per currency; a timed run inside the engine reports nothing back.
 * The schedule is the same (every interval from the opening, at exact seconds).
 *
 * Request ids: funding, routing, days, resolutions and windows take ids from
 * SIM_RUN_REQUEST_ID_BASE up, quotes from SIM_RUN_QUOTE_ID_BASE; payments keep the day's ids
 * (a payment carried to the next netting window: SIM_RUN_RESUBMIT_ID_BASE | round << 32 | id,
 * runner->engine_ids).
 *
 * Quotes. One per scenario quote, rate = mid x (1 - fx_spread_basis_points / 10^4) with at most
 * 12 significant digits (sim_run_rate), converted by the engine's rule (floor, sim_run_convert),
 * so the bounds of step 1 are exactly the amounts the engine moves. The scenario's
 * fx_quote_max_usd is not applied: a quote exhausted mid-day would move the engine to another
 * provider than step 1's, and every provider's bounds would be wrong.
 *
 * Invariants: the engine's clock never moves back (asserted); every setup event answers ok
 * (checked: otherwise the run fails with the event's status in runner->message); a lookup
 * returns every payment submitted, in order (checked, then asserted per record); an outcome's
 * settled_at is at most the close.
 */
#include "sim/sim.h"
#include "settle/settle.h" /* SETTLE_PAYMENT_COUNT_MAX: the most payments an engine holds */

#include <stdio.h>
#include <stdlib.h>

#define SIM_RUN_REQUEST_ID_BASE ((u128)1 << 100)
#define SIM_RUN_QUOTE_ID_BASE ((u128)1 << 101)
/* A payment carried to the next netting window: base | round << 32 | its id. */
#define SIM_RUN_RESUBMIT_ID_BASE ((u128)1 << 102)
#define SIM_RUN_NS_PER_SECOND 1000000000ull
/* The business day's date: the manual clock's first day. */
#define SIM_RUN_DATE 20230519u
/* Quotes stay live an hour past the close. */
#define SIM_RUN_QUOTE_MARGIN_SECONDS 3600u
/* A quote's volume: 10^21 minor units, far above any day (the engine takes up to 10^24). */
#define SIM_RUN_QUOTE_AMOUNT_MAX ((u128)1000000000000ull * 1000000000u)
/* Netting windows: at most one a minute, so a day holds at most 1440 of them. */
#define SIM_NETTING_INTERVAL_SECONDS_MIN 60u
#define SIM_WINDOW_COUNT_MAX (SIM_DAY_SECONDS / SIM_NETTING_INTERVAL_SECONDS_MIN + 2u)
/* Resolution at most once a minute: each run is a request id per currency, and the engine
 * remembers at most 65,536 (settle.h); a day of 86,400 s in 16 currencies needs 23,040. */
#define SIM_RESOLUTION_INTERVAL_SECONDS_MIN 60u
_Static_assert(SIM_DAY_SECONDS / SIM_RESOLUTION_INTERVAL_SECONDS_MIN * SIM_CURRENCY_COUNT_MAX +
                       SIM_BANK_COUNT_MAX * SIM_PARTICIPANT_CURRENCY_COUNT_MAX <
                   SETTLE_REQUEST_COUNT_MAX,
               "resolution runs and funding fit the engine's request ids");
#define SIM_BASIS_POINTS 10000u
/* Rates carry at most 12 significant digits (the engine's rule). */
#define SIM_RATE_MANTISSA_LIMIT 1000000000000ull

_Static_assert(SIM_WINDOW_COUNT_MAX < 8784u, "windows fit the engine's window table");
_Static_assert(SIM_CURRENCY_COUNT_MAX <= 16u, "a currency mask is 16 bits");
_Static_assert(KHORGOS_SETTLE_STATUS_COUNT <= 256u, "a reason fits an outcome's byte");

const char *sim_reason_name(u32 reason) {
    const char *name = khorgos_settle_status_name(reason);
    ASSERT(KHORGOS_SETTLE_STATUS_COUNT > 0);
    return name != NULL ? name : "unknown";
}

/* The engine's ISO 20022 status reason code, or NARR (narrative: see the reason's name) for a
 * status without one, so that every rejection has a code. */
const char *sim_reason_iso(u32 reason) {
    const char *code = khorgos_settle_status_iso_code(reason);
    ASSERT(KHORGOS_SETTLE_STATUS_COUNT > 0);
    return code != NULL && code[0] != '\0' ? code : "NARR";
}

static const char *const sim_design_names[SIM_DESIGN_COUNT] = {
    "rtgs_no_queue", "rtgs_fifo", "rtgs_lsm", "dns_hourly", "usd_vehicle",
};

const char *sim_design_name(u32 design) {
    _Static_assert(SIM_DESIGN_COUNT == 5, "the issue's five designs");
    ASSERT(ARRAY_COUNT(sim_design_names) == SIM_DESIGN_COUNT);
    if (design >= SIM_DESIGN_COUNT) return NULL;
    return sim_design_names[design];
}

int sim_design_parse(const char *name, size_t length) {
    ASSERT(name != NULL);
    for (u32 design = 0; design < SIM_DESIGN_COUNT; design++) {
        if (strlen(sim_design_names[design]) == length &&
            memcmp(sim_design_names[design], name, length) == 0) {
            return (int)design;
        }
    }
    return -1;
}

/* ----------------------------------------------------------------------------------------- */
/* Rates: the quote a provider posts for from -> to, and the engine's conversion rule.        */

static u8 sim_run_minor_units(const struct sim_scenario *scenario, u32 currency) {
    ASSERT(currency < scenario->currency_count);
    const struct khorgos_currency *iso =
        khorgos_currency_by_numeric(scenario->currencies[currency].numeric);
    return iso != NULL ? iso->minor_units : scenario->currencies[currency].minor_units;
}

static u128 sim_run_power10(u32 exponent) {
    ASSERT(exponent <= 38);
    u128 value = 1;
    for (u32 index = 0; index < exponent; index++) value *= 10;
    return value;
}

/* rate = (to per USD) / (from per USD) x (1 - spread), as mantissa x 10^exponent with the
 * largest mantissa below 10^12, trailing zeros moved into the exponent. False if no exponent
 * in -18..18 gives a nonzero mantissa. */
static bool sim_run_rate(const struct sim_scenario *scenario, u32 from, u32 to, u64 *mantissa,
                         int32_t *exponent) {
    ASSERT(from < scenario->currency_count && to < scenario->currency_count);
    ASSERT(scenario->fx_spread_basis_points < SIM_BASIS_POINTS);
    u128 numerator = (u128)scenario->currencies[to].units_per_usd_micro *
                     (SIM_BASIS_POINTS - scenario->fx_spread_basis_points);
    u128 denominator = (u128)scenario->currencies[from].units_per_usd_micro * SIM_BASIS_POINTS;
    if (denominator == 0 || numerator == 0) return false;
    for (int32_t power = 18; power >= -18; power--) {
        u128 value = power >= 0 ? numerator * sim_run_power10((u32)power) / denominator
                                : numerator / (denominator * sim_run_power10((u32)-power));
        if (value >= SIM_RATE_MANTISSA_LIMIT) continue;
        if (value == 0) return false;
        int32_t shift = -power;
        while (value % 10 == 0) {
            value /= 10;
            shift++;
        }
        *mantissa = (u64)value;
        *exponent = shift;
        return shift >= -18 && shift <= 18;
    }
    return false;
}

/* floor(amount x rate) in the target's minor units: the engine's rule for a debtor's amount. */
static u128 sim_run_convert(const struct sim_scenario *scenario, u32 from, u32 to, u128 amount) {
    u64 mantissa = 0;
    int32_t exponent = 0;
    bool known = sim_run_rate(scenario, from, to, &mantissa, &exponent);
    ASSERT(known);
    ASSERT(amount <= SIM_AMOUNT_MAX);
    int32_t scale =
        exponent + sim_run_minor_units(scenario, to) - sim_run_minor_units(scenario, from);
    u128 product = amount * mantissa; /* < 2^80 x 2^40 */
    if (scale >= 0) return product * sim_run_power10((u32)scale);
    return product / sim_run_power10((u32)-scale);
}

/* ----------------------------------------------------------------------------------------- */
/* The runner.                                                                                */

static u32 sim_run_popcount(u32 mask) {
    ASSERT(mask < (1u << SIM_CURRENCY_COUNT_MAX));
    u32 count = 0;
    for (; mask != 0; mask &= mask - 1) count++;
    ASSERT(count <= SIM_CURRENCY_COUNT_MAX);
    return count;
}

static int sim_run_currency_index(const struct sim_scenario *scenario, const char *letters,
                                  int fallback) {
    ASSERT(scenario != NULL && letters != NULL);
    ASSERT(fallback < (int)scenario->currency_count);
    int index = sim_scenario_currency_find(scenario, letters);
    return index >= 0 ? index : fallback;
}

/* Which currencies each participant holds: its home currency (an agent only that), what it
 * pays and receives in the day, and both sides of its quotes. */
static khorgos_error sim_run_masks(struct sim_runner *runner) {
    const struct sim_scenario *scenario = runner->scenario;
    const struct sim_day *day = runner->day;
    ASSERT(scenario->currency_count <= SIM_CURRENCY_COUNT_MAX);
    ASSERT(scenario->quote_count <= SIM_QUOTE_COUNT_MAX);
    for (u32 bank = 0; bank < scenario->bank_count; bank++) {
        u32 home = scenario->countries[scenario->banks[bank].country].currency;
        runner->currency_mask[bank] = (u16)(1u << home);
    }
    for (u32 index = 0; index < day->count; index++) {
        const struct sim_payment *payment = &day->payments[index];
        if (scenario->banks[payment->debtor].role != SIM_ROLE_SETTLEMENT_AGENT) {
            runner->currency_mask[payment->debtor] |= (u16)(1u << payment->currency);
        }
        if (scenario->banks[payment->creditor].role != SIM_ROLE_SETTLEMENT_AGENT) {
            runner->currency_mask[payment->creditor] |= (u16)(1u << payment->creditor_currency);
        }
    }
    for (u32 index = 0; index < scenario->quote_count; index++) {
        const struct sim_quote *quote = &scenario->quotes[index];
        runner->currency_mask[quote->provider] |= (u16)((1u << quote->from) | (1u << quote->to));
    }
    for (u32 bank = 0; bank < scenario->bank_count; bank++) {
        if (sim_run_popcount(runner->currency_mask[bank]) > SIM_PARTICIPANT_CURRENCY_COUNT_MAX) {
            snprintf(runner->message, sizeof(runner->message),
                     "%s would hold more than %u currencies, the engine's limit",
                     scenario->banks[bank].bic, SIM_PARTICIPANT_CURRENCY_COUNT_MAX);
            return KHORGOS_ERROR_invalid_argument;
        }
    }
    return KHORGOS_ERROR_ok;
}

khorgos_error sim_runner_init(struct sim_runner *runner, const struct sim_scenario *scenario,
                              const struct sim_day *day) {
    ASSERT(runner != NULL && scenario != NULL && day != NULL);
    ASSERT(scenario->bank_count <= SIM_BANK_COUNT_MAX && day->count <= SIM_PAYMENT_COUNT_MAX);
    memset(runner, 0, sizeof(*runner));
    runner->scenario = scenario;
    runner->day = day;
    runner->vehicle_usd = (u32)sim_run_currency_index(scenario, "USD", -1);
    runner->vehicle_direct = (u32)sim_run_currency_index(
        scenario, "CNY", runner->vehicle_usd != U32_MAX ? (int)runner->vehicle_usd : 0);
    khorgos_error error = sim_run_masks(runner);
    if (error != KHORGOS_ERROR_ok) return error;
    u32 count = MAX(day->count, 1u);
    runner->reference[0] = calloc(count, sizeof(struct sim_outcome));
    runner->reference[1] = calloc(count, sizeof(struct sim_outcome));
    runner->flows = calloc((size_t)count * SIM_FLOWS_PER_PAYMENT_MAX, sizeof(struct sim_flow));
    runner->records = calloc(KHORGOS_BATCH_EVENTS_MAX, sizeof(struct khorgos_payment));
    runner->results = calloc(KHORGOS_BATCH_EVENTS_MAX, sizeof(struct khorgos_settle_result));
    runner->ids = calloc(KHORGOS_BATCH_EVENTS_MAX, sizeof(u128));
    runner->engine_ids = calloc(count, sizeof(u128));
    runner->window_members = calloc(count, sizeof(u32));
    runner->window_carried = calloc(count, sizeof(u32));
    if (runner->reference[0] == NULL || runner->reference[1] == NULL || runner->flows == NULL ||
        runner->records == NULL || runner->results == NULL || runner->ids == NULL ||
        runner->engine_ids == NULL || runner->window_members == NULL ||
        runner->window_carried == NULL) {
        sim_runner_deinit(runner);
        return KHORGOS_ERROR_out_of_memory;
    }
    error = sim_metrics_workspace_init(&runner->workspace, count * SIM_FLOWS_PER_PAYMENT_MAX,
                                       scenario->bank_count);
    if (error != KHORGOS_ERROR_ok) sim_runner_deinit(runner);
    return error;
}

void sim_runner_deinit(struct sim_runner *runner) {
    ASSERT(runner != NULL);
    ASSERT(runner->day != NULL);
    for (u32 routing = 0; routing < 2; routing++) {
        if (runner->bounds_ready[routing]) sim_metrics_deinit(&runner->bounds[routing]);
    }
    if (runner->workspace.events != NULL) sim_metrics_workspace_deinit(&runner->workspace);
    free(runner->reference[0]);
    free(runner->reference[1]);
    free(runner->flows);
    free(runner->records);
    free(runner->results);
    free(runner->ids);
    free(runner->engine_ids);
    free(runner->window_members);
    free(runner->window_carried);
    runner->engine_ids = NULL;
    runner->window_members = NULL;
    runner->window_carried = NULL;
    runner->reference[0] = runner->reference[1] = NULL;
    runner->flows = NULL;
    runner->records = NULL;
    runner->results = NULL;
    runner->ids = NULL;
    runner->bounds_ready[0] = runner->bounds_ready[1] = false;
}

/* Step 1: the on-arrival outcomes under a routing, at the rates the run posts. */
static khorgos_error sim_run_bounds(struct sim_runner *runner, u32 routing) {
    ASSERT(routing < 2);
    if (runner->bounds_ready[routing]) return KHORGOS_ERROR_ok;
    const struct sim_scenario *scenario = runner->scenario;
    const struct sim_day *day = runner->day;
    u32 vehicle = routing == 1 ? runner->vehicle_usd : runner->vehicle_direct;
    ASSERT(vehicle < scenario->currency_count);
    struct sim_outcome *reference = runner->reference[routing];
    sim_outcomes_on_arrival(scenario, day, routing == 1, vehicle, reference);
    for (u32 index = 0; index < day->count; index++) {
        const struct sim_payment *payment = &day->payments[index];
        struct sim_outcome *outcome = &reference[index];
        if (outcome->provider == SIM_NONE) continue;
        if (outcome->vehicle_provider == SIM_NONE) {
            outcome->creditor_amount = sim_run_convert(scenario, payment->currency,
                                                       payment->creditor_currency, payment->amount);
        } else {
            outcome->vehicle_amount =
                sim_run_convert(scenario, payment->currency, vehicle, payment->amount);
            outcome->creditor_amount = sim_run_convert(scenario, vehicle,
                                                       payment->creditor_currency,
                                                       outcome->vehicle_amount);
        }
    }
    khorgos_error error = sim_metrics_init(&runner->bounds[routing], scenario->bank_count,
                                           scenario->currency_count);
    if (error != KHORGOS_ERROR_ok) return error;
    runner->bounds_ready[routing] = true;
    u32 flow_count = sim_flows_from_day(day, reference, runner->flows);
    return sim_metrics_compute(&runner->bounds[routing], &runner->workspace, runner->flows,
                               flow_count, day->close_seconds);
}

/* ----------------------------------------------------------------------------------------- */
/* One run's state and its requests.                                                          */

struct sim_run_state {
    struct sim_runner *runner;
    const struct sim_run_config *config;
    struct sim_run *run;
    struct khorgos *engine;
    u32 routing;                      /* 0 direct, 1 through USD */
    u32 vehicle;                      /* currency index of the vehicle currency */
    u64 open_ns;
    u128 request_id;
    u32 window_count;                 /* windows opened; window k is number k */
    bool window_open;                 /* window number window_count is open */
    u32 member_count;                 /* payments in the open window (runner->window_members) */
    u32 carried_count;                /* unwound, for the next window (runner->window_carried) */
    u32 resubmit_budget;              /* resubmissions the engine was sized for */
    u32 resubmit_round;               /* new ids: round << 32 | the payment's id */
};

/* The message of a failed call: what, and why; when the engine stopped on a write or sync of
 * its data directory, the file and the system's cause. */
static void sim_run_failure(struct sim_run_state *state, const char *what, khorgos_error error) {
    ASSERT(what != NULL && error != KHORGOS_ERROR_ok);
    ASSERT(state->engine != NULL);
    char failure[KHORGOS_FAILURE_TEXT_BYTES];
    khorgos_failure_text(state->engine, failure, sizeof(failure));
    if (failure[0] != '\0' && state->config->data_directory != NULL) {
        snprintf(state->runner->message, sizeof(state->runner->message),
                 "%s: %s/%.100s; stopped (restart once the cause is cleared)", what,
                 state->config->data_directory, failure);
    } else {
        snprintf(state->runner->message, sizeof(state->runner->message), "%s: %s", what,
                 khorgos_strerror(error));
    }
}

static khorgos_error sim_run_execute(struct sim_run_state *state, u32 operation,
                                     const void *body, u32 body_size, void *reply,
                                     u32 reply_capacity, u32 *reply_size) {
    ASSERT(state->engine != NULL);
    ASSERT(body_size > 0 && reply != NULL);
    struct khorgos_request request = {.operation = operation, .body_size = body_size,
                                      .body = body, .reply = reply,
                                      .reply_capacity = reply_capacity};
    khorgos_error error = khorgos_execute(state->engine, &request, 1);
    if (error == KHORGOS_ERROR_ok) error = request.error;
    if (error != KHORGOS_ERROR_ok) {
        sim_run_failure(state, khorgos_operation_name(operation), error);
        return error;
    }
    if (reply_size != NULL) *reply_size = request.reply_size;
    return KHORGOS_ERROR_ok;
}

/* Payments in one submit_payments or lookup_payments request at most: the engine's limit
 * (fewer than a batch: a payment record is 256 bytes). */
static u32 sim_run_payments_max(void) {
    u32 count = MIN(khorgos_events_max(KHORGOS_OPERATION_SUBMIT_PAYMENTS),
                    khorgos_events_max(KHORGOS_OPERATION_LOOKUP_PAYMENTS));
    ASSERT(count > 0 && count <= KHORGOS_BATCH_EVENTS_MAX);
    return count;
}

/* A settlement request of `count` events whose every result must be ok. */
static khorgos_error sim_run_setup(struct sim_run_state *state, u32 operation, const void *body,
                                   u32 record_size, u32 count) {
    ASSERT(count <= KHORGOS_BATCH_EVENTS_MAX);
    ASSERT(record_size > 0);
    if (count == 0) return KHORGOS_ERROR_ok;
    struct khorgos_settle_result *results = state->runner->results;
    khorgos_error error = sim_run_execute(state, operation, body, record_size * count, results,
                                          count * (u32)sizeof(*results), NULL);
    if (error != KHORGOS_ERROR_ok) return error;
    for (u32 index = 0; index < count; index++) {
        if (results[index].status != KHORGOS_SETTLE_ok) {
            snprintf(state->runner->message, sizeof(state->runner->message),
                     "%s: event %u answered %s", khorgos_operation_name(operation), index,
                     khorgos_settle_status_name(results[index].status));
            return KHORGOS_ERROR_invalid_argument;
        }
    }
    return KHORGOS_ERROR_ok;
}

static khorgos_error sim_run_clock_to(struct sim_run_state *state, u32 seconds) {
    u64 target = state->open_ns + (u64)seconds * SIM_RUN_NS_PER_SECOND;
    ASSERT(seconds <= SIM_DAY_SECONDS);
    u64 now = khorgos_clock_now(state->engine);
    ASSERT(target + SIM_RUN_NS_PER_SECOND > now); /* never back by a whole second */
    if (target <= now) return KHORGOS_ERROR_ok;
    khorgos_error error = khorgos_clock_advance(state->engine, target - now);
    if (error != KHORGOS_ERROR_ok) sim_run_failure(state, "clock", error);
    return error;
}

/* ----------------------------------------------------------------------------------------- */
/* Step 2: the engine's setup.                                                                */

static const u8 sim_run_roles[SIM_ROLE_COUNT] = {
    [SIM_ROLE_BANK] = KHORGOS_ROLE_BANK,
    [SIM_ROLE_LIQUIDITY_PROVIDER] = KHORGOS_ROLE_LIQUIDITY_PROVIDER,
    [SIM_ROLE_SETTLEMENT_AGENT] = KHORGOS_ROLE_SETTLEMENT_AGENT,
};

static khorgos_error sim_run_participants(struct sim_run_state *state) {
    const struct sim_scenario *scenario = state->runner->scenario;
    struct khorgos_participant *events = (struct khorgos_participant *)state->runner->records;
    _Static_assert(sizeof(struct khorgos_participant) <= sizeof(struct khorgos_payment),
                   "participants fit the records buffer");
    u32 count = 0;
    for (u32 bank = 0; bank < scenario->bank_count; bank++) {
        const struct sim_bank *source = &scenario->banks[bank];
        struct khorgos_participant *event = &events[count++];
        memset(event, 0, sizeof(*event));
        memcpy(event->bic, source->bic, KHORGOS_BIC_BYTES);
        memcpy(event->country, scenario->countries[source->country].code, 2);
        ASSERT(source->role < SIM_ROLE_COUNT);
        event->role = sim_run_roles[source->role];
        size_t name_length = strnlen(source->name, SIM_NAME_BYTES_MAX);
        memcpy(event->name, source->name, MIN(name_length, (size_t)KHORGOS_NAME_BYTES));
        u32 held = 0;
        for (u32 currency = 0; currency < scenario->currency_count; currency++) {
            if ((state->runner->currency_mask[bank] & (1u << currency)) == 0) continue;
            ASSERT(held < KHORGOS_PARTICIPANT_CURRENCIES_MAX);
            event->currencies[held++] = scenario->currencies[currency].numeric;
        }
        if (count == KHORGOS_BATCH_EVENTS_MAX || bank + 1 == scenario->bank_count) {
            khorgos_error error = sim_run_setup(state, KHORGOS_OPERATION_CREATE_PARTICIPANTS,
                                                events, sizeof(*events), count);
            if (error != KHORGOS_ERROR_ok) return error;
            count = 0;
        }
    }
    ASSERT(count == 0);
    return KHORGOS_ERROR_ok;
}

static khorgos_error sim_run_quotes(struct sim_run_state *state) {
    const struct sim_scenario *scenario = state->runner->scenario;
    ASSERT(state->vehicle < scenario->currency_count);
    ASSERT(scenario->quote_count <= SIM_QUOTE_COUNT_MAX);
    struct khorgos_fx_quote *events = (struct khorgos_fx_quote *)state->runner->records;
    _Static_assert(SIM_QUOTE_COUNT_MAX * sizeof(struct khorgos_fx_quote) <=
                       KHORGOS_BATCH_EVENTS_MAX * sizeof(struct khorgos_payment),
                   "quotes fit the records buffer");
    struct khorgos_fx_routing routing = {
        .id = state->request_id++,
        .vehicle_currency = scenario->currencies[state->vehicle].numeric,
        .mode = state->routing == 1 ? KHORGOS_ROUTING_VEHICLE_ONLY : KHORGOS_ROUTING_DIRECT_FIRST,
    };
    khorgos_error error = sim_run_setup(state, KHORGOS_OPERATION_SET_FX_ROUTING, &routing,
                                        sizeof(routing), 1);
    if (error != KHORGOS_ERROR_ok) return error;
    u64 expires_at = state->open_ns + (u64)(state->runner->day->close_seconds +
                                            SIM_RUN_QUOTE_MARGIN_SECONDS) * SIM_RUN_NS_PER_SECOND;
    for (u32 index = 0; index < scenario->quote_count; index++) {
        const struct sim_quote *quote = &scenario->quotes[index];
        struct khorgos_fx_quote *event = &events[index];
        memset(event, 0, sizeof(*event));
        event->id = SIM_RUN_QUOTE_ID_BASE + index + 1;
        event->amount_max = SIM_RUN_QUOTE_AMOUNT_MAX; /* no volume limit: see the header */
        memcpy(event->provider, scenario->banks[quote->provider].bic, KHORGOS_BIC_BYTES);
        event->currency_source = scenario->currencies[quote->from].numeric;
        event->currency_target = scenario->currencies[quote->to].numeric;
        int32_t exponent = 0;
        if (!sim_run_rate(scenario, quote->from, quote->to, &event->rate_mantissa, &exponent)) {
            snprintf(state->runner->message, sizeof(state->runner->message),
                     "no rate for %s -> %s", scenario->currencies[quote->from].letters,
                     scenario->currencies[quote->to].letters);
            return KHORGOS_ERROR_invalid_argument;
        }
        event->rate_exponent = exponent; /* -18..18 (sim_run_rate) */
        event->expires_at = expires_at;
    }
    return sim_run_setup(state, KHORGOS_OPERATION_SET_FX_QUOTES, events, sizeof(*events),
                         scenario->quote_count);
}

static khorgos_error sim_run_open_days(struct sim_run_state *state) {
    const struct sim_scenario *scenario = state->runner->scenario;
    const struct sim_day *day = state->runner->day;
    struct khorgos_business_day events[SIM_CURRENCY_COUNT_MAX];
    u32 design = state->config->design;
    ASSERT(design < SIM_DESIGN_COUNT);
    ASSERT(scenario->currency_count <= SIM_CURRENCY_COUNT_MAX);
    bool saving = design == SIM_DESIGN_RTGS_LSM || design == SIM_DESIGN_USD_VEHICLE;
    u8 queue_mode = design == SIM_DESIGN_RTGS_NO_QUEUE ? KHORGOS_QUEUE_MODE_NONE
                    : saving                          ? KHORGOS_QUEUE_MODE_BYPASS_FIFO
                                                      : KHORGOS_QUEUE_MODE_FIFO;
    u32 interbank_seconds = scenario->interbank_cutoff_seconds - scenario->day_open_seconds;
    ASSERT(day->customer_cutoff_seconds <= interbank_seconds);
    for (u32 currency = 0; currency < scenario->currency_count; currency++) {
        events[currency] = (struct khorgos_business_day){
            .id = state->request_id++,
            .currency = scenario->currencies[currency].numeric,
            .date = SIM_RUN_DATE,
            .cut_off_customer =
                state->open_ns + (u64)day->customer_cutoff_seconds * SIM_RUN_NS_PER_SECOND,
            .cut_off_interbank = state->open_ns + (u64)interbank_seconds * SIM_RUN_NS_PER_SECOND,
            .queue_mode = queue_mode,
            .flags = saving ? KHORGOS_DAY_OFFSETTING_ON_ENTRY | KHORGOS_DAY_RESOLUTION_ON_REQUEST
                            : 0,
        };
    }
    return sim_run_setup(state, KHORGOS_OPERATION_OPEN_DAY, events, sizeof(events[0]),
                         scenario->currency_count);
}

/* L = LB + a (UB - LB) per participant and currency held, from the routing's bounds. */
static khorgos_error sim_run_fund(struct sim_run_state *state) {
    const struct sim_scenario *scenario = state->runner->scenario;
    const struct sim_metrics *bounds = &state->runner->bounds[state->routing];
    ASSERT(state->routing < 2);
    ASSERT(state->runner->bounds_ready[state->routing]);
    struct khorgos_participant_event *events =
        (struct khorgos_participant_event *)state->runner->records;
    u32 count = 0;
    for (u32 bank = 0; bank < scenario->bank_count; bank++) {
        if (scenario->banks[bank].role == SIM_ROLE_SETTLEMENT_AGENT) continue;
        for (u32 currency = 0; currency < scenario->currency_count; currency++) {
            if ((state->runner->currency_mask[bank] & (1u << currency)) == 0) continue;
            const struct sim_participant_metrics *own = sim_metrics_at(bounds, bank, currency);
            u128 amount = sim_liquidity_start(own->lower_bound, own->upper_bound,
                                              state->config->alpha_per_mille);
            if (amount == 0) continue;
            struct khorgos_participant_event *event = &events[count++];
            memset(event, 0, sizeof(*event));
            event->id = state->request_id++;
            event->amount = amount;
            memcpy(event->bic, scenario->banks[bank].bic, KHORGOS_BIC_BYTES);
            event->currency = scenario->currencies[currency].numeric;
            if (count == KHORGOS_BATCH_EVENTS_MAX) {
                khorgos_error error =
                    sim_run_setup(state, KHORGOS_OPERATION_FUND, events, sizeof(*events), count);
                if (error != KHORGOS_ERROR_ok) return error;
                count = 0;
            }
        }
    }
    return sim_run_setup(state, KHORGOS_OPERATION_FUND, events, sizeof(*events), count);
}

/* ----------------------------------------------------------------------------------------- */
/* Step 3: the replay.                                                                        */

static void sim_run_payment_record(const struct sim_run_state *state,
                                   const struct sim_payment *payment, u128 engine_id,
                                   struct khorgos_payment *record) {
    const struct sim_scenario *scenario = state->runner->scenario;
    ASSERT(payment->debtor < scenario->bank_count && payment->creditor < scenario->bank_count);
    ASSERT(payment->amount > 0);
    memset(record, 0, sizeof(*record));
    record->id = engine_id;
    record->amount = payment->amount;
    memcpy(record->debtor, scenario->banks[payment->debtor].bic, KHORGOS_BIC_BYTES);
    memcpy(record->creditor, scenario->banks[payment->creditor].bic, KHORGOS_BIC_BYTES);
    char text[KHORGOS_END_TO_END_ID_BYTES + 1];
    int length = snprintf(text, sizeof(text), "SIM-%u", payment->id);
    memcpy(record->end_to_end_id, text, (size_t)length);
    record->type = payment->type == SIM_PAYMENT_INTERBANK ? KHORGOS_PAYMENT_INTERBANK
                                                          : KHORGOS_PAYMENT_CUSTOMER;
    record->priority = payment->priority;
    record->currency = scenario->currencies[payment->currency].numeric;
    if (payment->creditor_currency != payment->currency) {
        record->currency_target = scenario->currencies[payment->creditor_currency].numeric;
    }
    if (state->config->design == SIM_DESIGN_DNS_HOURLY) {
        record->settlement = KHORGOS_SETTLEMENT_NET;
    }
}

/* Submits `count` payments (at most a batch) by index: indexes[k], or first + k when NULL.
 * Under dns_hourly each joins the open window's members. */
static khorgos_error sim_run_submit(struct sim_run_state *state, u32 first, const u32 *indexes,
                                    u32 count) {
    ASSERT(count > 0 && count <= sim_run_payments_max());
    struct sim_runner *runner = state->runner;
    const struct sim_day *day = runner->day;
    bool netting = state->config->design == SIM_DESIGN_DNS_HOURLY;
    for (u32 k = 0; k < count; k++) {
        u32 index = indexes != NULL ? indexes[k] : first + k;
        ASSERT(index < day->count);
        sim_run_payment_record(state, &day->payments[index], runner->engine_ids[index],
                               &runner->records[k]);
        if (netting) {
            ASSERT(state->member_count < day->count);
            runner->window_members[state->member_count++] = index;
        }
    }
    return sim_run_execute(state, KHORGOS_OPERATION_SUBMIT_PAYMENTS, runner->records,
                           count * (u32)sizeof(struct khorgos_payment), runner->results,
                           count * (u32)sizeof(struct khorgos_settle_result), NULL);
}

/* rtgs_lsm's tick: resolve_gridlock in every currency; count the runs that settled any. */
static khorgos_error sim_run_resolve(struct sim_run_state *state) {
    const struct sim_scenario *scenario = state->runner->scenario;
    ASSERT(scenario->currency_count <= SIM_CURRENCY_COUNT_MAX);
    ASSERT(state->config->design == SIM_DESIGN_RTGS_LSM ||
           state->config->design == SIM_DESIGN_USD_VEHICLE);
    struct khorgos_business_day events[SIM_CURRENCY_COUNT_MAX];
    for (u32 currency = 0; currency < scenario->currency_count; currency++) {
        events[currency] = (struct khorgos_business_day){
            .id = state->request_id++, .currency = scenario->currencies[currency].numeric};
    }
    khorgos_error error = sim_run_setup(state, KHORGOS_OPERATION_RESOLVE_GRIDLOCK, events,
                                        sizeof(events[0]), scenario->currency_count);
    if (error != KHORGOS_ERROR_ok) return error;
    for (u32 currency = 0; currency < scenario->currency_count; currency++) {
        if (state->runner->results[currency].payments_settled > 0) {
            state->run->gridlocks_resolved[currency]++;
        }
    }
    return KHORGOS_ERROR_ok;
}

/* One window operation on window `number` (0: open a new one); returns the event's status. */
static khorgos_error sim_run_window(struct sim_run_state *state, u32 operation, u32 number,
                                    u32 *status) {
    ASSERT(number <= state->window_count);
    struct khorgos_window event = {.id = state->request_id++, .number = number};
    ASSERT(status != NULL);
    khorgos_error error = sim_run_execute(state, operation, &event, sizeof(event),
                                          state->runner->results,
                                          (u32)sizeof(struct khorgos_settle_result), NULL);
    *status = state->runner->results[0].status;
    return error;
}

/* After an unwind or an abort: the window's members that it rejected are carried to the next
 * window (a deferred net system's settlement failure: the payments go round again). */
static khorgos_error sim_run_window_carry(struct sim_run_state *state) {
    struct sim_runner *runner = state->runner;
    for (u32 first = 0; first < state->member_count; first += sim_run_payments_max()) {
        u32 count = MIN(state->member_count - first, sim_run_payments_max());
        for (u32 k = 0; k < count; k++) {
            runner->ids[k] = runner->engine_ids[runner->window_members[first + k]];
        }
        u32 reply_size = 0;
        khorgos_error error = sim_run_execute(
            state, KHORGOS_OPERATION_LOOKUP_PAYMENTS, runner->ids, count * (u32)sizeof(u128),
            runner->records, count * (u32)sizeof(struct khorgos_payment), &reply_size);
        if (error != KHORGOS_ERROR_ok) return error;
        ASSERT(reply_size == count * sizeof(struct khorgos_payment));
        for (u32 k = 0; k < count; k++) {
            const struct khorgos_payment *record = &runner->records[k];
            ASSERT(record->id == runner->ids[k]);
            if (record->state != KHORGOS_PAYMENT_REJECTED) continue;
            if (record->reason != KHORGOS_SETTLE_unwound &&
                record->reason != KHORGOS_SETTLE_aborted) {
                continue;
            }
            ASSERT(state->carried_count < runner->day->count);
            runner->window_carried[state->carried_count++] = runner->window_members[first + k];
        }
    }
    return KHORGOS_ERROR_ok;
}

/* Settles the window just closed; when someone is short, unwinds it (every payment to or from
 * a short participant rejected, the rest settled) up to SIM_UNWIND_ROUNDS_MAX rounds, then
 * aborts what is left; what was rejected so goes into the next window. */
static khorgos_error sim_run_window_finish(struct sim_run_state *state, u32 number) {
    ASSERT(number >= 1 && number <= state->window_count);
    ASSERT(state->carried_count == 0);
    u32 status = 0;
    khorgos_error error = sim_run_window(state, KHORGOS_OPERATION_SETTLE_WINDOW, number, &status);
    bool unwound = error == KHORGOS_ERROR_ok && status != KHORGOS_SETTLE_ok;
    for (u32 round = 0; error == KHORGOS_ERROR_ok && status != KHORGOS_SETTLE_ok &&
                        round < SIM_UNWIND_ROUNDS_MAX;
         round++) {
        error = sim_run_window(state, KHORGOS_OPERATION_UNWIND_WINDOW, number, &status);
    }
    if (error == KHORGOS_ERROR_ok && status != KHORGOS_SETTLE_ok) {
        error = sim_run_window(state, KHORGOS_OPERATION_ABORT_WINDOW, number, &status);
        ASSERT(error != KHORGOS_ERROR_ok || status == KHORGOS_SETTLE_ok);
    }
    if (error == KHORGOS_ERROR_ok && unwound) error = sim_run_window_carry(state);
    state->member_count = 0;
    return error;
}

/* Submits the payments carried from the last window into the one just opened, under new ids
 * (the engine was sized for every carry, sim_run_resubmit_count_max). */
static khorgos_error sim_run_window_resubmit(struct sim_run_state *state) {
    struct sim_runner *runner = state->runner;
    u32 count = state->carried_count;
    ASSERT(state->window_open && state->member_count == 0);
    ASSERT(state->carried_count <= runner->day->count);
    ASSERT(count <= state->resubmit_budget); /* sized for every carry the day can need */
    state->resubmit_budget -= count;
    state->resubmit_round++;
    for (u32 k = 0; k < count; k++) {
        u32 index = runner->window_carried[k];
        runner->engine_ids[index] = SIM_RUN_RESUBMIT_ID_BASE |
                                    (u128)state->resubmit_round << 32 |
                                    runner->day->payments[index].id;
    }
    khorgos_error error = KHORGOS_ERROR_ok;
    for (u32 first = 0; first < count && error == KHORGOS_ERROR_ok;
         first += sim_run_payments_max()) {
        error = sim_run_submit(state, 0, &runner->window_carried[first],
                               MIN(count - first, sim_run_payments_max()));
    }
    state->carried_count = 0;
    return error;
}

/* dns_hourly's tick: close the open window and settle it, then open the next (unless the day
 * is over) with what the last one carried. */
static khorgos_error sim_run_netting_tick(struct sim_run_state *state, bool open_next) {
    u32 status = 0;
    khorgos_error error = KHORGOS_ERROR_ok;
    if (state->window_open) {
        error = sim_run_window(state, KHORGOS_OPERATION_CLOSE_WINDOW, state->window_count,
                               &status);
        if (error != KHORGOS_ERROR_ok) return error;
        ASSERT(status == KHORGOS_SETTLE_ok);
        state->window_open = false;
        error = sim_run_window_finish(state, state->window_count);
        if (error != KHORGOS_ERROR_ok) return error;
    }
    if (!open_next) {
        state->carried_count = 0; /* the day is over: they stay rejected */
        return KHORGOS_ERROR_ok;
    }
    ASSERT(state->window_count < SIM_WINDOW_COUNT_MAX);
    error = sim_run_window(state, KHORGOS_OPERATION_OPEN_WINDOW, 0, &status);
    if (error != KHORGOS_ERROR_ok) return error;
    if (status != KHORGOS_SETTLE_ok) {
        snprintf(state->runner->message, sizeof(state->runner->message), "open_window: %s",
                 khorgos_settle_status_name(status));
        return KHORGOS_ERROR_invalid_argument;
    }
    state->window_count++;
    state->window_open = true;
    return sim_run_window_resubmit(state);
}

static u32 sim_run_tick_interval(const struct sim_run_config *config) {
    ASSERT(config != NULL);
    ASSERT(config->design < SIM_DESIGN_COUNT);
    if (config->design == SIM_DESIGN_RTGS_LSM || config->design == SIM_DESIGN_USD_VEHICLE) {
        return config->resolution_interval_seconds;
    }
    if (config->design == SIM_DESIGN_DNS_HOURLY) return config->netting_interval_seconds;
    return 0;
}

static khorgos_error sim_run_tick(struct sim_run_state *state) {
    ASSERT(sim_run_tick_interval(state->config) > 0);
    if (state->config->design == SIM_DESIGN_DNS_HOURLY) return sim_run_netting_tick(state, true);
    return sim_run_resolve(state);
}

/* Payments by second and the design's ticks, in time order (payments first at a tie). The
 * liquidity-saving designs also resolve once in the last second before the customer cut-off
 * and once in the last second before the interbank cut-off, so that what the last regular run
 * left can still settle before each cut-off rejects it. */
static khorgos_error sim_run_replay(struct sim_run_state *state) {
    const struct sim_day *day = state->runner->day;
    u32 interval = sim_run_tick_interval(state->config);
    u32 tick = interval > 0 ? interval : SIM_NEVER;
    bool saving = state->config->design == SIM_DESIGN_RTGS_LSM ||
                  state->config->design == SIM_DESIGN_USD_VEHICLE;
    u32 last = saving && day->customer_cutoff_seconds > 0 ? day->customer_cutoff_seconds - 1
                                                           : SIM_NEVER;
    const struct sim_scenario *scenario = state->runner->scenario;
    u32 interbank = scenario->interbank_cutoff_seconds - scenario->day_open_seconds;
    u32 last_interbank = saving && interbank > last + 1 && last != SIM_NEVER ? interbank - 1
                                                                              : SIM_NEVER;
    u32 index = 0;
    khorgos_error error = KHORGOS_ERROR_ok;
    if (state->config->design == SIM_DESIGN_DNS_HOURLY) error = sim_run_netting_tick(state, true);
    while (error == KHORGOS_ERROR_ok &&
           (index < day->count || MIN(tick, last) < day->close_seconds)) {
        u32 next = index < day->count ? day->payments[index].submitted_at : SIM_NEVER;
        u32 due = MIN(tick, last);
        if (due < next && due < day->close_seconds) {
            error = sim_run_clock_to(state, due);
            if (error == KHORGOS_ERROR_ok) error = sim_run_tick(state);
            if (tick == due) tick += interval;
            if (last == due) last = last < last_interbank ? last_interbank : SIM_NEVER;
            continue;
        }
        ASSERT(next < day->close_seconds);
    ASSERT(index < day->count);
        u32 end = index;
        while (end < day->count && end - index < sim_run_payments_max() &&
               day->payments[end].submitted_at == next) {
            end++;
        }
        error = sim_run_clock_to(state, next);
        if (error == KHORGOS_ERROR_ok) error = sim_run_submit(state, index, NULL, end - index);
        index = end;
    }
    return error;
}

/* Step 4: the close. */
static khorgos_error sim_run_close(struct sim_run_state *state) {
    const struct sim_scenario *scenario = state->runner->scenario;
    ASSERT(scenario->currency_count <= SIM_CURRENCY_COUNT_MAX);
    ASSERT(state->engine != NULL);
    khorgos_error error = sim_run_clock_to(state, state->runner->day->close_seconds);
    if (error != KHORGOS_ERROR_ok) return error;
    if (state->config->design == SIM_DESIGN_DNS_HOURLY) {
        error = sim_run_netting_tick(state, false);
        if (error != KHORGOS_ERROR_ok) return error;
    }
    struct khorgos_business_day events[SIM_CURRENCY_COUNT_MAX];
    for (u32 currency = 0; currency < scenario->currency_count; currency++) {
        events[currency] = (struct khorgos_business_day){
            .id = state->request_id++, .currency = scenario->currencies[currency].numeric};
    }
    return sim_run_setup(state, KHORGOS_OPERATION_CLOSE_DAY, events, sizeof(events[0]),
                         scenario->currency_count);
}

/* ----------------------------------------------------------------------------------------- */
/* Step 5: outcomes.                                                                          */

static u16 sim_run_provider(const struct sim_scenario *scenario, u32 number) {
    if (number == 0) return SIM_NONE;
    ASSERT(number <= scenario->bank_count); /* participant number = bank index + 1 */
    return (u16)(number - 1);
}

static void sim_run_outcome(const struct sim_run_state *state, const struct sim_payment *payment,
                            const struct khorgos_payment *record, struct sim_outcome *outcome) {
    const struct sim_scenario *scenario = state->runner->scenario;
    u32 close = state->runner->day->close_seconds;
    ASSERT(record->id == state->runner->engine_ids[payment - state->runner->day->payments]);
    memset(outcome, 0, sizeof(*outcome));
    outcome->provider = SIM_NONE;
    outcome->vehicle_provider = SIM_NONE;
    outcome->settled_at = SIM_NEVER;
    outcome->ended_at = SIM_NEVER;
    outcome->status = record->state == KHORGOS_PAYMENT_CANCELLED ? SIM_STATUS_CANCELLED
                                                                  : SIM_STATUS_REJECTED;
    outcome->reason = record->state == KHORGOS_PAYMENT_SETTLED ? 0 : (u8)record->reason;
    bool ended = record->state == KHORGOS_PAYMENT_REJECTED ||
                 record->state == KHORGOS_PAYMENT_CANCELLED;
    if (ended && record->finished_at >= state->open_ns) {
        u64 ended_seconds = (record->finished_at - state->open_ns) / SIM_RUN_NS_PER_SECOND;
        outcome->ended_at = (u32)MAX(MIN(ended_seconds, (u64)close), (u64)payment->submitted_at);
    }
    if (record->state != KHORGOS_PAYMENT_SETTLED) {
        /* Never settled: its legs as the routing would have made them (never moving), so the
         * run's bounds are the routing's whatever settled. */
        const struct sim_outcome *reference =
            &state->runner->reference[state->routing][payment - state->runner->day->payments];
        outcome->provider = reference->provider;
        outcome->vehicle_provider = reference->vehicle_provider;
        outcome->vehicle_currency = reference->vehicle_currency;
        outcome->vehicle_amount = reference->vehicle_amount;
        outcome->creditor_amount = reference->creditor_amount;
        return;
    }
    ASSERT(record->finished_at >= state->open_ns);
    u64 seconds = (record->finished_at - state->open_ns) / SIM_RUN_NS_PER_SECOND;
    outcome->settled_at = (u32)MIN(seconds, (u64)close);
    outcome->status = SIM_STATUS_SETTLED;
    /* In a set: as the engine says, by offsetting on entry, a resolution or a netting window,
     * whatever the payment's currencies. */
    ASSERT(record->settled_in != KHORGOS_SETTLED_IN_NONE);
    if (record->settled_in != KHORGOS_SETTLED_IN_ALONE) outcome->flags |= SIM_OUTCOME_IN_SET;
    bool same_currency = payment->currency == payment->creditor_currency;
    if (same_currency) {
        outcome->creditor_amount = record->amount;
        return;
    }
    outcome->creditor_amount = record->amount_target;
    outcome->provider = sim_run_provider(scenario, record->provider);
    outcome->vehicle_provider = sim_run_provider(scenario, record->provider_vehicle);
    if (outcome->vehicle_provider != SIM_NONE) {
        outcome->vehicle_currency = (u8)state->vehicle;
        outcome->vehicle_amount =
            sim_run_convert(scenario, payment->currency, state->vehicle, payment->amount);
    }
}

static khorgos_error sim_run_outcomes(struct sim_run_state *state, struct sim_outcome *outcomes) {
    const struct sim_day *day = state->runner->day;
    struct sim_runner *runner = state->runner;
    ASSERT(outcomes != NULL || day->count == 0);
    ASSERT(state->engine != NULL);
    for (u32 first = 0; first < day->count; first += sim_run_payments_max()) {
        u32 count = MIN(day->count - first, sim_run_payments_max());
        for (u32 index = 0; index < count; index++) {
            runner->ids[index] = runner->engine_ids[first + index];
        }
        u32 reply_size = 0;
        khorgos_error error = sim_run_execute(
            state, KHORGOS_OPERATION_LOOKUP_PAYMENTS, runner->ids, count * (u32)sizeof(u128),
            runner->records, count * (u32)sizeof(struct khorgos_payment), &reply_size);
        if (error != KHORGOS_ERROR_ok) return error;
        if (reply_size != count * sizeof(struct khorgos_payment)) {
            snprintf(runner->message, sizeof(runner->message),
                     "lookup_payments found %u of %u payments",
                     reply_size / (u32)sizeof(struct khorgos_payment), count);
            return KHORGOS_ERROR_invalid_argument;
        }
        for (u32 index = 0; index < count; index++) {
            sim_run_outcome(state, &day->payments[first + index], &runner->records[index],
                            &outcomes[first + index]);
        }
    }
    return KHORGOS_ERROR_ok;
}

/* Value converted from each currency: the debtor's amount of every settled conversion, and on
 * a vehicle route also the vehicle leg (converted again from the vehicle currency). */
static void sim_run_fx_converted(const struct sim_run_state *state,
                                 const struct sim_outcome *outcomes, struct sim_run *run) {
    const struct sim_day *day = state->runner->day;
    ASSERT(run != NULL && outcomes != NULL);
    for (u32 index = 0; index < day->count; index++) {
        const struct sim_outcome *outcome = &outcomes[index];
        if (outcome->status != SIM_STATUS_SETTLED || outcome->provider == SIM_NONE) continue;
        run->fx_converted[day->payments[index].currency] += day->payments[index].amount;
        if (outcome->vehicle_provider != SIM_NONE) {
            run->fx_converted[outcome->vehicle_currency] += outcome->vehicle_amount;
        }
    }
}

/* ----------------------------------------------------------------------------------------- */
/* The run.                                                                                   */

/* The most resubmissions a netting day can need: a payment submitted at t is carried at most
 * once by each window closing at a tick T = k x interval with t <= T < close (a tick at t
 * comes after t's payments). */
static u64 sim_run_resubmit_count_max(const struct sim_day *day, u32 interval) {
    ASSERT(interval > 0);
    ASSERT(day->close_seconds > 0 || day->count == 0);
    u64 last_tick = day->close_seconds > 0 ? (day->close_seconds - 1) / interval : 0;
    u64 total = 0;
    for (u32 index = 0; index < day->count; index++) {
        u64 first_tick = MAX(((u64)day->payments[index].submitted_at + interval - 1) / interval,
                             1u);
        if (first_tick <= last_tick) total += last_tick - first_tick + 1;
    }
    return total;
}

static khorgos_error sim_run_open_engine(struct sim_run_state *state) {
    const struct sim_scenario *scenario = state->runner->scenario;
    const struct sim_day *day = state->runner->day;
    u32 slots = scenario->bank_count * SIM_PARTICIPANT_CURRENCY_COUNT_MAX;
    ASSERT(state->engine == NULL);
    ASSERT(slots > 0 || scenario->bank_count == 0);
    u32 interval = sim_run_tick_interval(state->config);
    /* The regular ticks and one in the last second before each of the two cut-offs. */
    u32 ticks = interval > 0 ? day->close_seconds / interval + 3 : 3;
    u32 windows = state->config->design == SIM_DESIGN_DNS_HOURLY ? ticks : 0;
    /* Requests with ids (payments are kept as payments and these as request ids, both within
     * payment_count_max: settle.h sizes its request table from it). */
    u32 requests = slots + ticks * (scenario->currency_count + 4) + 4 * SIM_CURRENCY_COUNT_MAX;
    /* Transfers: a payment books at most 3 legs (a vehicle route; 2 in a set), and no credit
     * draw (no participant has a credit line here); funding and the close one per slot; a
     * window's settlement a net leg per slot and currency (3 for room). */
    u32 transfers = SIM_FLOWS_PER_PAYMENT_MAX * MAX(day->count, 1u) + 2 * slots +
                    3 * slots * windows + 4096;
    if ((u64)day->count + requests > SETTLE_PAYMENT_COUNT_MAX) {
        snprintf(state->runner->message, sizeof(state->runner->message),
                 "%u payments: more than the engine holds (%u)", day->count,
                 SETTLE_PAYMENT_COUNT_MAX - requests);
        return KHORGOS_ERROR_capacity_full;
    }
    /* dns_hourly: room to carry every payment again into every later window (the most
     * sim_run_window_resubmit can need); a day that needs more than the engine holds is
     * refused here rather than losing carried payments later. */
    u64 resubmits = windows > 0 ? sim_run_resubmit_count_max(day, interval) : 0;
    if ((u64)day->count + requests + resubmits > SETTLE_PAYMENT_COUNT_MAX) {
        snprintf(state->runner->message, sizeof(state->runner->message),
                 "%u payments carried through %u windows: more than the engine holds (%u)",
                 day->count, windows, SETTLE_PAYMENT_COUNT_MAX - requests);
        return KHORGOS_ERROR_capacity_full;
    }
    state->resubmit_budget = (u32)resubmits;
    struct khorgos_config config = {
        .account_count_max = 2 * slots + 2 * SIM_CURRENCY_COUNT_MAX + 64,
        .transfer_count_max = transfers,
        /* Unused (no account keeps history) but checked per call: room for one batch. */
        .account_balance_count_max = 2 * KHORGOS_BATCH_EVENTS_MAX + 64,
        .clock_manual = 1,
        .participant_count_max = MAX(scenario->bank_count, 1u),
        .payment_count_max = day->count + state->resubmit_budget + requests,
    };
    khorgos_error error = KHORGOS_ERROR_ok;
    char report[sizeof(state->runner->message)] = "";
    if (state->config->data_directory == NULL) {
        error = khorgos_open_memory(&state->engine, &config);
    } else {
        /* Format, then open: both hold the directory's lock, so a second run on the same
         * directory is refused (locked, or exists once it is formatted). */
        error = khorgos_format_report(state->config->data_directory, &config, report,
                                      sizeof(report));
        struct khorgos_open_options options = {.clock_manual = 1,
                                               .checkpoint_journal_bytes = UINT64_MAX,
                                               .report = report,
                                               .report_capacity = sizeof(report)};
        if (error == KHORGOS_ERROR_ok) {
            error = khorgos_open(&state->engine, state->config->data_directory, &options);
        }
    }
    if (error != KHORGOS_ERROR_ok) {
        state->engine = NULL;
        snprintf(state->runner->message, sizeof(state->runner->message), "opening %s: %s",
                 state->config->data_directory != NULL ? state->config->data_directory
                                                       : "the engine",
                 report[0] != '\0' ? report : khorgos_strerror(error));
    }
    return error;
}

static khorgos_error sim_run_day(struct sim_run_state *state, struct sim_outcome *outcomes) {
    const struct sim_scenario *scenario = state->runner->scenario;
    const struct sim_day *day = state->runner->day;
    ASSERT(state->engine != NULL);
    ASSERT(state->runner->bounds_ready[state->routing]);
    for (u32 index = 0; index < day->count; index++) {
        state->runner->engine_ids[index] = day->payments[index].id;
    }
    state->open_ns = khorgos_clock_now(state->engine) +
                     (u64)scenario->day_open_seconds * SIM_RUN_NS_PER_SECOND;
    khorgos_error error = sim_run_clock_to(state, 0);
    if (error == KHORGOS_ERROR_ok) error = sim_run_participants(state);
    if (error == KHORGOS_ERROR_ok) error = sim_run_quotes(state);
    if (error == KHORGOS_ERROR_ok) error = sim_run_open_days(state);
    if (error == KHORGOS_ERROR_ok) error = sim_run_fund(state);
    if (error == KHORGOS_ERROR_ok) error = sim_run_replay(state);
    if (error == KHORGOS_ERROR_ok) error = sim_run_close(state);
    if (error == KHORGOS_ERROR_ok) error = sim_run_outcomes(state, outcomes);
    return error;
}

khorgos_error sim_run_design(struct sim_runner *runner, const struct sim_run_config *config,
                             struct sim_outcome *outcomes, struct sim_metrics *metrics,
                             struct sim_run *run) {
    ASSERT(runner != NULL && config != NULL && run != NULL && metrics != NULL);
    ASSERT(outcomes != NULL || runner->day->count == 0);
    runner->message[0] = '\0';
    u32 interval = sim_run_tick_interval(config);
    if (config->design >= SIM_DESIGN_COUNT || config->alpha_per_mille > 1000 ||
        (interval == 0 && (config->design == SIM_DESIGN_RTGS_LSM ||
                           config->design == SIM_DESIGN_USD_VEHICLE ||
                           config->design == SIM_DESIGN_DNS_HOURLY)) ||
        (config->design == SIM_DESIGN_DNS_HOURLY && interval < SIM_NETTING_INTERVAL_SECONDS_MIN) ||
        (interval > 0 && config->design != SIM_DESIGN_DNS_HOURLY &&
         interval < SIM_RESOLUTION_INTERVAL_SECONDS_MIN)) {
        snprintf(runner->message, sizeof(runner->message), "bad design, a or interval");
        return KHORGOS_ERROR_invalid_argument;
    }
    struct sim_run_state state = {.runner = runner, .config = config, .run = run,
                                  .request_id = SIM_RUN_REQUEST_ID_BASE + 1};
    state.routing = config->design == SIM_DESIGN_USD_VEHICLE ? 1 : 0;
    if (state.routing == 1 && runner->vehicle_usd >= runner->scenario->currency_count) {
        snprintf(runner->message, sizeof(runner->message), "usd_vehicle needs USD in the scenario");
        return KHORGOS_ERROR_invalid_argument;
    }
    state.vehicle = state.routing == 1 ? runner->vehicle_usd : runner->vehicle_direct;
    memset(run, 0, sizeof(*run));
    run->design = sim_design_name(config->design);
    run->seed = runner->day->seed;
    run->alpha_per_mille = config->alpha_per_mille;
    khorgos_error error = sim_run_bounds(runner, state.routing);
    if (error != KHORGOS_ERROR_ok) return error;
    error = sim_run_open_engine(&state);
    if (error != KHORGOS_ERROR_ok) return error;
    error = sim_run_day(&state, outcomes);
    khorgos_close(state.engine);
    if (error != KHORGOS_ERROR_ok) return error;
    sim_run_fx_converted(&state, outcomes, run);
    /* The netting members' array is free once the day is run: the figures' scratch. */
    sim_run_outcome_figures(runner->day, outcomes, runner->scenario->currency_count,
                            runner->window_members, run);
    u32 flow_count = sim_flows_from_day(runner->day, outcomes, runner->flows);
    error = sim_metrics_compute(metrics, &runner->workspace, runner->flows, flow_count,
                                runner->day->close_seconds);
    run->metrics = metrics;
    run->outcomes = outcomes;
    return error;
}
