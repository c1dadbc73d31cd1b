/*
 * sim_metrics.c: the standard measures of a payment system's day (Leinonen and Soramäki, Bank
 * of Finland DP 16/1999, as BoF-PSS2 reports them; see ../shared/reference/settlement.md),
 * computed exactly from a day's flows.
 *
 * Input: flows (struct sim_flow), each one currency moving from payer to payee, submitted at
 * s and settled at t (or never), in whole seconds since the opening; the day closes at C.
 * A participant's debit position in a currency at time x is what it paid less what it received
 * up to and including x; "at x" means after every flow at x, because flows at one instant (an
 * offsetting or a gridlock resolution) settle together.
 *
 * Per participant i and currency (all amounts exact, in minor units):
 *   upper_bound UB_i    = max(0, max over x of the debit position if every flow settled at its
 *                         submission): the liquidity for zero delay;
 *   lower_bound LB_i    = max(0, max over checkpoints k of the debit position at k if every
 *                         flow submitted by k settled by k), the checkpoints being the last
 *                         second before each flow's cut-off (due_at) and the close: the
 *                         liquidity for settling every payment before its cut-off under ideal
 *                         liquidity saving, all that is queued settling in one set at each
 *                         checkpoint; with no cut-off before the close it is the classic
 *                         max(0, all flows out - all flows in), multilateral netting's bound;
 *   liquidity_used      = max(0, max over x of the debit position with the actual settlement
 *                         times; flows never settled do not move);
 *   queue_max_count/value = the most payments (and value) i had waiting at one instant: a
 *                         payment waits from its submission until it settles, or the close;
 *   delay numerator / denominator = sum of v (t - s) / sum of v (C - s) over i's payments, with
 *                         t = C for a payment never settled; ρ = numerator / denominator, and 0
 *                         when the denominator is 0 (nothing could have waited);
 *   settlement ratios   = settled / submitted by value and by count (1 when nothing was sent).
 * Only flows flagged SIM_FLOW_PAYMENT count for delay, ratios and queues (a provider's leg of a
 * PvP is liquidity, not a payment); every flow counts for the liquidity measures.
 * System per currency: UB, LB and liquidity used are sums over participants (as the reference
 * defines them); the queue maxima are the largest system-wide queue at one instant; ρ and the
 * ratios are over all the currency's payments. Series: at the end of each five-minute bucket,
 * the system's queued value and its liquidity in use (the sum of the positive debit positions).
 *
 * Method. Each measure is a sweep over events (time, participant, currency, change) sorted by
 * (currency, participant, time) for per-participant maxima, or by (currency, time) for the
 * system's. The events live in the workspace reserved at init: two per flow at the most. They
 * are sorted by counting sorts, which are stable and linear: first by time (fewer than 86,400
 * seconds), then by (currency, participant) or by currency; a comparison sort of a million
 * payments' events took several seconds.
 *
 * Why LB is enough, and the least for its rule. Settling at each checkpoint k everything
 * submitted by k and still queued leaves participant i with L_i - (out - in of everything
 * submitted by k), at least 0 when L_i >= LB_i; every payment then settles before its cut-off,
 * which comes after its submission. Conversely a system that at each cut-off has settled every
 * payment submitted before it (what an ideal liquidity-saving mechanism does: it leaves nothing
 * queued that can settle) needs exactly that. The weaker bound that lets a participant hold
 * back payments not yet due (max over x of what is due by x less every receipt submitted by x)
 * is necessary whatever the others do, but not enough: a receipt it counts may be one its payer
 * holds back. docs/simulation.md, "The lower bound with two cut-offs", compares the two.
 *
 * Invariants (ASSERTed): LB <= UB for every participant and currency (the position at a
 * checkpoint is the on-arrival position there); 0 <= delay numerator <=
 * denominator; every queue sweep ends empty (each payment leaves the queue it entered).
 * Liquidity used is not bounded by UB: delayed receipts can raise a debit position.
 */
#include "sim/sim.h"

#include <stdlib.h>

struct sim_metrics_event {
    i128 delta;      /* change of the debit position, or of the queued value */
    u32 time;
    int32_t count_delta; /* change of the queued count */
    u16 participant;
    u8 currency;
    u8 padding[5];
};
_Static_assert(sizeof(struct sim_metrics_event) == 32, "an event is 32 bytes");

khorgos_error sim_metrics_init(struct sim_metrics *metrics, u32 participant_count,
                               u32 currency_count) {
    ASSERT(metrics != NULL);
    ASSERT(participant_count <= SIM_BANK_COUNT_MAX && currency_count <= SIM_CURRENCY_COUNT_MAX);
    memset(metrics, 0, sizeof(*metrics));
    size_t count = (size_t)MAX(participant_count, 1u) * MAX(currency_count, 1u);
    metrics->participants = calloc(count, sizeof(struct sim_participant_metrics));
    if (metrics->participants == NULL) return KHORGOS_ERROR_out_of_memory;
    metrics->participant_count = participant_count;
    metrics->currency_count = currency_count;
    return KHORGOS_ERROR_ok;
}

void sim_metrics_deinit(struct sim_metrics *metrics) {
    ASSERT(metrics != NULL);
    ASSERT(metrics->participant_count <= SIM_BANK_COUNT_MAX);
    free(metrics->participants);
    memset(metrics, 0, sizeof(*metrics));
}

khorgos_error sim_metrics_workspace_init(struct sim_metrics_workspace *workspace,
                                         u32 flow_count_max, u32 participant_count_max) {
    ASSERT(workspace != NULL);
    ASSERT(flow_count_max <= 4u * SIM_PAYMENT_COUNT_MAX);
    ASSERT(participant_count_max <= SIM_BANK_COUNT_MAX);
    memset(workspace, 0, sizeof(*workspace));
    u32 event_count_max = 2u * MAX(flow_count_max, 1u);
    u32 count_bucket_max =
        MAX(SIM_DAY_SECONDS, SIM_CURRENCY_COUNT_MAX * MAX(participant_count_max, 1u));
    size_t event_bytes = (size_t)event_count_max * sizeof(struct sim_metrics_event);
    workspace->events = malloc(event_bytes);
    workspace->events_by_time = malloc(event_bytes);
    workspace->positions = malloc((size_t)MAX(participant_count_max, 1u) * sizeof(i128));
    workspace->counts = malloc(((size_t)count_bucket_max + 1) * sizeof(u32));
    if (workspace->events == NULL || workspace->events_by_time == NULL ||
        workspace->positions == NULL || workspace->counts == NULL) {
        sim_metrics_workspace_deinit(workspace);
        return KHORGOS_ERROR_out_of_memory;
    }
    workspace->event_count_max = event_count_max;
    workspace->participant_count_max = participant_count_max;
    workspace->count_bucket_max = count_bucket_max;
    return KHORGOS_ERROR_ok;
}

void sim_metrics_workspace_deinit(struct sim_metrics_workspace *workspace) {
    ASSERT(workspace != NULL);
    free(workspace->events);
    free(workspace->events_by_time);
    free(workspace->positions);
    free(workspace->counts);
    memset(workspace, 0, sizeof(*workspace));
    ASSERT(workspace->events == NULL);
}

double sim_delay_indicator(u128 numerator, u128 denominator) {
    ASSERT(numerator <= denominator);
    if (denominator == 0) return 0.0;
    double value = (double)numerator / (double)denominator;
    ASSERT(value >= 0.0 && value <= 1.0);
    return value;
}

static double ratio_or_one(u128 part, u128 whole) {
    ASSERT(part <= whole);
    return whole == 0 ? 1.0 : (double)part / (double)whole;
}

u128 sim_liquidity_start(u128 lower_bound, u128 upper_bound, u32 alpha_per_mille) {
    ASSERT(lower_bound <= upper_bound);
    ASSERT(upper_bound < ((u128)1 << 110)); /* span x 1000 fits a u128 */
    ASSERT(alpha_per_mille <= 1000);
    u128 span = upper_bound - lower_bound;
    u128 extra = (span * alpha_per_mille + 999) / 1000; /* rounded up to the minor unit */
    ASSERT(extra <= span);
    return lower_bound + extra;
}

/* ----------------------------------------------------------------------------------------- */
/* Sorting and sweeping events.                                                               */

enum sort_key { SORT_TIME, SORT_PARTICIPANT, SORT_CURRENCY };

static u32 sort_key_of(const struct sim_metrics_event *event, enum sort_key key,
                       u32 participant_count) {
    if (key == SORT_TIME) return event->time;
    if (key == SORT_CURRENCY) return event->currency;
    return event->currency * participant_count + event->participant;
}

/* A stable counting sort of `count` events from `in` to `out` by one key. */
static void sort_counting(struct sim_metrics_workspace *workspace,
                          const struct sim_metrics_event *in, struct sim_metrics_event *out,
                          u32 count, enum sort_key key, u32 participant_count) {
    u32 bucket_count = key == SORT_TIME       ? SIM_DAY_SECONDS
                       : key == SORT_CURRENCY ? SIM_CURRENCY_COUNT_MAX
                                              : SIM_CURRENCY_COUNT_MAX * participant_count;
    ASSERT(bucket_count > 0 && bucket_count <= workspace->count_bucket_max);
    u32 *counts = workspace->counts;
    memset(counts, 0, ((size_t)bucket_count + 1) * sizeof(u32));
    for (u32 index = 0; index < count; index++) {
        u32 bucket = sort_key_of(&in[index], key, participant_count);
        ASSERT(bucket < bucket_count);
        counts[bucket + 1]++;
    }
    for (u32 bucket = 0; bucket < bucket_count; bucket++) counts[bucket + 1] += counts[bucket];
    ASSERT(counts[bucket_count] == count);
    for (u32 index = 0; index < count; index++) {
        out[counts[sort_key_of(&in[index], key, participant_count)]++] = in[index];
    }
}

/* Sorts workspace->events by time into events_by_time, then by `key` back into events. */
static void sort_events(struct sim_metrics_workspace *workspace, u32 count, enum sort_key key,
                        u32 participant_count) {
    ASSERT(key != SORT_TIME);
    ASSERT(count <= workspace->event_count_max);
    sort_counting(workspace, workspace->events, workspace->events_by_time, count, SORT_TIME,
                  participant_count);
    sort_counting(workspace, workspace->events_by_time, workspace->events, count, key,
                  participant_count);
}

/* After sort_events, events_by_time still holds the time order: sorts it by `key`. */
static void sort_events_again(struct sim_metrics_workspace *workspace, u32 count,
                              enum sort_key key, u32 participant_count) {
    ASSERT(key != SORT_TIME);
    ASSERT(count <= workspace->event_count_max);
    sort_counting(workspace, workspace->events_by_time, workspace->events, count, key,
                  participant_count);
}

static struct sim_metrics_event event_make(u32 time, u16 participant, u8 currency, i128 delta,
                                           int32_t count_delta) {
    struct sim_metrics_event event;
    memset(&event, 0, sizeof(event));
    event.time = time;
    event.participant = participant;
    event.currency = currency;
    event.delta = delta;
    event.count_delta = count_delta;
    return event;
}

enum position_measure { MEASURE_UPPER_BOUND, MEASURE_LOWER_BOUND, MEASURE_LIQUIDITY_USED };

/* Per participant: the largest debit position after each instant's events. */
static void sweep_positions(struct sim_metrics *metrics, const struct sim_metrics_event *events,
                            u32 count, enum position_measure measure) {
    u32 index = 0;
    while (index < count) {
        u16 participant = events[index].participant;
        u8 currency = events[index].currency;
        i128 position = 0, largest = 0;
        while (index < count && events[index].participant == participant &&
               events[index].currency == currency) {
            u32 time = events[index].time;
            while (index < count && events[index].participant == participant &&
                   events[index].currency == currency && events[index].time == time) {
                position += events[index++].delta;
            }
            if (position > largest) largest = position;
        }
        struct sim_participant_metrics *entry = sim_metrics_at(metrics, participant, currency);
        if (measure == MEASURE_UPPER_BOUND) {
            entry->upper_bound = (u128)largest;
        } else if (measure == MEASURE_LOWER_BOUND) {
            entry->lower_bound = (u128)largest;
            ASSERT(entry->lower_bound <= entry->upper_bound);
        } else {
            entry->liquidity_used = (u128)largest;
        }
    }
    ASSERT(index == count);
}

/* Per participant: the largest queue (count and value) after each instant's events. */
static void sweep_queues(struct sim_metrics *metrics, const struct sim_metrics_event *events,
                         u32 count) {
    u32 index = 0;
    while (index < count) {
        u16 participant = events[index].participant;
        u8 currency = events[index].currency;
        i128 value = 0, value_max = 0;
        i64 queued = 0, queued_max = 0;
        while (index < count && events[index].participant == participant &&
               events[index].currency == currency) {
            u32 time = events[index].time;
            while (index < count && events[index].participant == participant &&
                   events[index].currency == currency && events[index].time == time) {
                value += events[index].delta;
                queued += events[index++].count_delta;
            }
            value_max = MAX(value_max, value);
            queued_max = MAX(queued_max, queued);
        }
        ASSERT(value == 0 && queued == 0);
        struct sim_participant_metrics *entry = sim_metrics_at(metrics, participant, currency);
        entry->queue_max_value = (u128)value_max;
        entry->queue_max_count = (u32)queued_max;
    }
}

/* System-wide, events sorted by (currency, time): the liquidity in use at each bucket's end,
 * after everything at that second (so the last bucket shows what settled at the close). */
static void series_liquidity(struct sim_metrics *metrics, struct sim_metrics_workspace *workspace,
                             const struct sim_metrics_event *events, u32 count) {
    u32 index = 0;
    for (u32 currency = 0; currency < metrics->currency_count; currency++) {
        struct sim_currency_metrics *system = &metrics->currencies[currency];
        memset(workspace->positions, 0, metrics->participant_count * sizeof(i128));
        i128 positive_sum = 0;
        for (u32 bucket = 0; bucket < system->series_count; bucket++) {
            u32 bucket_end = (bucket + 1) * SIM_SERIES_BUCKET_SECONDS;
            while (index < count && events[index].currency == currency &&
                   events[index].time <= bucket_end) {
                i128 *position = &workspace->positions[events[index].participant];
                i128 before = *position > 0 ? *position : 0;
                *position += events[index++].delta;
                positive_sum += (*position > 0 ? *position : 0) - before;
            }
            ASSERT(positive_sum >= 0);
            system->liquidity_series[bucket] = (u128)positive_sum;
        }
        while (index < count && events[index].currency == currency) index++;
    }
    ASSERT(index == count);
}

/* System-wide queues: the largest at one instant, and the value at each bucket's end, after
 * everything at that second. */
static void series_queues(struct sim_metrics *metrics, const struct sim_metrics_event *events,
                          u32 count) {
    u32 index = 0;
    for (u32 currency = 0; currency < metrics->currency_count; currency++) {
        struct sim_currency_metrics *system = &metrics->currencies[currency];
        i128 value = 0, value_max = 0;
        i64 queued = 0, queued_max = 0;
        u32 bucket = 0;
        while (index < count && events[index].currency == currency) {
            u32 time = events[index].time;
            while (bucket < system->series_count &&
                   (bucket + 1) * SIM_SERIES_BUCKET_SECONDS < time) {
                system->queue_series[bucket++] = (u128)value;
            }
            while (index < count && events[index].currency == currency &&
                   events[index].time == time) {
                value += events[index].delta;
                queued += events[index++].count_delta;
            }
            value_max = MAX(value_max, value);
            queued_max = MAX(queued_max, queued);
        }
        ASSERT(value == 0 && queued == 0);
        while (bucket < system->series_count) system->queue_series[bucket++] = 0;
        system->total.queue_max_value = (u128)value_max;
        system->total.queue_max_count = (u32)queued_max;
    }
    ASSERT(index == count);
}

/* ----------------------------------------------------------------------------------------- */
/* The passes.                                                                                */

static bool flow_valid(const struct sim_metrics *metrics, const struct sim_flow *flow,
                       u32 close_seconds) {
    if (flow->payer >= metrics->participant_count || flow->payee >= metrics->participant_count)
        return false;
    if (flow->payer == flow->payee || flow->currency >= metrics->currency_count) return false;
    if (flow->amount == 0 || flow->amount > SIM_AMOUNT_MAX) return false;
    if (flow->submitted_at > close_seconds || flow->due_at > close_seconds) return false;
    if (flow->settled_at == SIM_NEVER) {
        return flow->ended_at == SIM_NEVER ||
               (flow->ended_at >= flow->submitted_at && flow->ended_at <= close_seconds);
    }
    return flow->settled_at >= flow->submitted_at && flow->settled_at <= close_seconds;
}

static void pass_payments(struct sim_metrics *metrics, const struct sim_flow *flows, u32 count,
                          u32 close_seconds) {
    for (u32 index = 0; index < count; index++) {
        const struct sim_flow *flow = &flows[index];
        if (!(flow->flags & SIM_FLOW_PAYMENT)) continue;
        struct sim_participant_metrics *entry = sim_metrics_at(metrics, flow->payer,
                                                               flow->currency);
        bool settled = flow->settled_at != SIM_NEVER;
        u32 end = settled ? flow->settled_at : close_seconds;
        entry->submitted_value += flow->amount;
        entry->submitted_count++;
        entry->settled_value += settled ? flow->amount : 0;
        entry->settled_count += settled ? 1 : 0;
        entry->delay_numerator += flow->amount * (end - flow->submitted_at);
        entry->delay_denominator += flow->amount * (close_seconds - flow->submitted_at);
        ASSERT(entry->delay_numerator <= entry->delay_denominator);
    }
}

static void pass_upper_bound(struct sim_metrics *metrics, struct sim_metrics_workspace *workspace,
                             const struct sim_flow *flows, u32 count) {
    struct sim_metrics_event *events = workspace->events;
    u32 event_count = 0;
    for (u32 index = 0; index < count; index++) {
        const struct sim_flow *flow = &flows[index];
        i128 amount = (i128)flow->amount;
        events[event_count++] = event_make(flow->submitted_at, flow->payer, flow->currency,
                                           amount, 0);
        events[event_count++] = event_make(flow->submitted_at, flow->payee, flow->currency,
                                           -amount, 0);
    }
    ASSERT(event_count <= workspace->event_count_max);
    sort_events(workspace, event_count, SORT_PARTICIPANT, metrics->participant_count);
    sweep_positions(metrics, events, event_count, MEASURE_UPPER_BOUND);
}

/* checkpoint[x] for every second x up to the close: the first checkpoint at or after x, a
 * checkpoint being the last second before a flow's cut-off, or the close. */
static void lower_bound_checkpoints(u32 *checkpoint, const struct sim_flow *flows, u32 count,
                                    u32 close_seconds) {
    ASSERT(close_seconds < SIM_DAY_SECONDS);
    memset(checkpoint, 0, ((size_t)close_seconds + 1) * sizeof(u32));
    for (u32 index = 0; index < count; index++) {
        u32 due_at = flows[index].due_at;
        ASSERT(due_at <= close_seconds);
        if (due_at > 0) checkpoint[due_at - 1] = SIM_NEVER; /* a mark: no second is SIM_NEVER */
    }
    u32 next = close_seconds;
    for (u32 second = close_seconds + 1; second-- > 0;) {
        if (checkpoint[second] == SIM_NEVER) next = second;
        checkpoint[second] = next;
    }
    ASSERT(checkpoint[close_seconds] == close_seconds);
}

/* Every flow at the first checkpoint at or after its submission, so that each position swept
 * is the net of everything submitted by one checkpoint (see "lower_bound" above). */
static void pass_lower_bound(struct sim_metrics *metrics, struct sim_metrics_workspace *workspace,
                             const struct sim_flow *flows, u32 count, u32 close_seconds) {
    struct sim_metrics_event *events = workspace->events;
    u32 *checkpoint = workspace->counts; /* free until the sort below */
    ASSERT(workspace->count_bucket_max >= SIM_DAY_SECONDS);
    lower_bound_checkpoints(checkpoint, flows, count, close_seconds);
    u32 event_count = 0;
    for (u32 index = 0; index < count; index++) {
        const struct sim_flow *flow = &flows[index];
        i128 amount = (i128)flow->amount;
        u32 at = checkpoint[flow->submitted_at];
        events[event_count++] = event_make(at, flow->payer, flow->currency, amount, 0);
        events[event_count++] = event_make(at, flow->payee, flow->currency, -amount, 0);
    }
    ASSERT(event_count <= workspace->event_count_max);
    sort_events(workspace, event_count, SORT_PARTICIPANT, metrics->participant_count);
    sweep_positions(metrics, events, event_count, MEASURE_LOWER_BOUND);
}

static void pass_liquidity_used(struct sim_metrics *metrics,
                                struct sim_metrics_workspace *workspace,
                                const struct sim_flow *flows, u32 count) {
    struct sim_metrics_event *events = workspace->events;
    u32 event_count = 0;
    for (u32 index = 0; index < count; index++) {
        const struct sim_flow *flow = &flows[index];
        if (flow->settled_at == SIM_NEVER) continue;
        i128 amount = (i128)flow->amount;
        events[event_count++] = event_make(flow->settled_at, flow->payer, flow->currency,
                                           amount, 0);
        events[event_count++] = event_make(flow->settled_at, flow->payee, flow->currency,
                                           -amount, 0);
    }
    ASSERT(event_count <= workspace->event_count_max);
    sort_events(workspace, event_count, SORT_PARTICIPANT, metrics->participant_count);
    sweep_positions(metrics, events, event_count, MEASURE_LIQUIDITY_USED);
    sort_events_again(workspace, event_count, SORT_CURRENCY, metrics->participant_count);
    series_liquidity(metrics, workspace, events, event_count);
}

static void pass_queues(struct sim_metrics *metrics, struct sim_metrics_workspace *workspace,
                        const struct sim_flow *flows, u32 count, u32 close_seconds) {
    struct sim_metrics_event *events = workspace->events;
    u32 event_count = 0;
    for (u32 index = 0; index < count; index++) {
        const struct sim_flow *flow = &flows[index];
        if (!(flow->flags & SIM_FLOW_PAYMENT)) continue;
        /* A payment waits until it settles, is rejected or cancelled, or the day closes. */
        u32 end = flow->settled_at != SIM_NEVER ? flow->settled_at
                  : flow->ended_at != SIM_NEVER ? flow->ended_at
                                                : close_seconds;
        if (end == flow->submitted_at) continue; /* settled or refused on arrival: never waited */
        i128 amount = (i128)flow->amount;
        events[event_count++] = event_make(flow->submitted_at, flow->payer, flow->currency,
                                           amount, 1);
        events[event_count++] = event_make(end, flow->payer, flow->currency, -amount, -1);
    }
    ASSERT(event_count <= workspace->event_count_max);
    sort_events(workspace, event_count, SORT_PARTICIPANT, metrics->participant_count);
    sweep_queues(metrics, events, event_count);
    sort_events_again(workspace, event_count, SORT_CURRENCY, metrics->participant_count);
    series_queues(metrics, events, event_count);
}

static void totals(struct sim_metrics *metrics) {
    for (u32 currency = 0; currency < metrics->currency_count; currency++) {
        struct sim_currency_metrics *system = &metrics->currencies[currency];
        struct sim_participant_metrics *total = &system->total;
        for (u32 participant = 0; participant < metrics->participant_count; participant++) {
            const struct sim_participant_metrics *entry =
                sim_metrics_at(metrics, participant, currency);
            total->upper_bound += entry->upper_bound;
            total->lower_bound += entry->lower_bound;
            total->liquidity_used += entry->liquidity_used;
            total->submitted_value += entry->submitted_value;
            total->settled_value += entry->settled_value;
            total->submitted_count += entry->submitted_count;
            total->settled_count += entry->settled_count;
            total->delay_numerator += entry->delay_numerator;
            total->delay_denominator += entry->delay_denominator;
        }
        ASSERT(total->lower_bound <= total->upper_bound);
        system->delay_indicator = sim_delay_indicator(total->delay_numerator,
                                                      total->delay_denominator);
        system->settlement_ratio_value = ratio_or_one(total->settled_value,
                                                      total->submitted_value);
        system->settlement_ratio_count = ratio_or_one(total->settled_count,
                                                      total->submitted_count);
    }
}

khorgos_error sim_metrics_compute(struct sim_metrics *metrics,
                                  struct sim_metrics_workspace *workspace,
                                  const struct sim_flow *flows, u32 flow_count,
                                  u32 close_seconds) {
    ASSERT(metrics != NULL && workspace != NULL);
    ASSERT(flows != NULL || flow_count == 0);
    if (close_seconds >= SIM_DAY_SECONDS || 2ull * flow_count > workspace->event_count_max ||
        metrics->participant_count > workspace->participant_count_max) {
        return KHORGOS_ERROR_invalid_argument;
    }
    for (u32 index = 0; index < flow_count; index++) {
        if (!flow_valid(metrics, &flows[index], close_seconds)) {
            return KHORGOS_ERROR_invalid_argument;
        }
    }
    memset(metrics->participants, 0, (size_t)metrics->participant_count *
                                         metrics->currency_count * sizeof(*metrics->participants));
    memset(metrics->currencies, 0, sizeof(metrics->currencies));
    metrics->close_seconds = close_seconds;
    u32 series_count = (close_seconds + SIM_SERIES_BUCKET_SECONDS - 1) / SIM_SERIES_BUCKET_SECONDS;
    for (u32 currency = 0; currency < metrics->currency_count; currency++) {
        metrics->currencies[currency].series_count = MAX(series_count, 1u);
    }
    pass_payments(metrics, flows, flow_count, close_seconds);
    pass_upper_bound(metrics, workspace, flows, flow_count);
    pass_lower_bound(metrics, workspace, flows, flow_count, close_seconds);
    pass_liquidity_used(metrics, workspace, flows, flow_count);
    pass_queues(metrics, workspace, flows, flow_count, close_seconds);
    totals(metrics);
    return KHORGOS_ERROR_ok;
}

u128 sim_metrics_country_usd_cents(const struct sim_scenario *scenario,
                                   const struct sim_metrics *metrics, u32 country) {
    ASSERT(scenario != NULL && metrics != NULL);
    ASSERT(country < scenario->country_count && metrics->participant_count <= scenario->bank_count);
    u128 cents = 0;
    for (u32 bank = 0; bank < metrics->participant_count; bank++) {
        if (scenario->banks[bank].country != country) continue;
        if (scenario->banks[bank].role != SIM_ROLE_BANK) continue;
        for (u32 currency = 0; currency < metrics->currency_count; currency++) {
            u128 used = sim_metrics_at(metrics, bank, currency)->liquidity_used;
            cents += sim_scenario_usd_cents(scenario, currency, used);
        }
    }
    return cents;
}

static struct sim_flow *flow_append(struct sim_flow *flows, u32 *count, u128 amount,
                                    u16 payer, u16 payee, u8 currency) {
    ASSERT(amount > 0 && payer != payee);
    ASSERT(payer != SIM_NONE && payee != SIM_NONE);
    struct sim_flow *flow = &flows[(*count)++];
    memset(flow, 0, sizeof(*flow));
    flow->amount = amount;
    flow->payer = payer;
    flow->payee = payee;
    flow->currency = currency;
    return flow;
}

/* One payment's flows (see sim.h); returns how many it appended. */
static u32 payment_flows(const struct sim_payment *payment, const struct sim_outcome *outcome,
                         u32 due_at, struct sim_flow *flows) {
    bool settled = outcome->status == SIM_STATUS_SETTLED && outcome->settled_at != SIM_NEVER;
    bool cross = payment->currency != payment->creditor_currency &&
                 outcome->provider != SIM_NONE && outcome->creditor_amount > 0;
    bool vehicle = cross && outcome->vehicle_provider != SIM_NONE && outcome->vehicle_amount > 0;
    u16 last_provider = vehicle ? outcome->vehicle_provider : outcome->provider;
    u32 count = 0;
    flow_append(flows, &count, payment->amount, payment->debtor,
                cross ? outcome->provider : payment->creditor, payment->currency)
        ->flags = SIM_FLOW_PAYMENT;
    if (vehicle && outcome->vehicle_provider != outcome->provider) {
        flow_append(flows, &count, outcome->vehicle_amount, outcome->provider,
                    outcome->vehicle_provider, outcome->vehicle_currency);
    }
    if (cross) {
        flow_append(flows, &count, outcome->creditor_amount, last_provider, payment->creditor,
                    payment->creditor_currency);
    }
    for (u32 index = 0; index < count; index++) {
        flows[index].submitted_at = payment->submitted_at;
        flows[index].settled_at = settled ? outcome->settled_at : SIM_NEVER;
        flows[index].ended_at = settled ? SIM_NEVER : outcome->ended_at;
        flows[index].due_at = due_at;
    }
    ASSERT(count >= 1 && count <= SIM_FLOWS_PER_PAYMENT_MAX);
    return count;
}

u32 sim_flows_from_day(const struct sim_day *day, const struct sim_outcome *outcomes,
                       struct sim_flow *flows) {
    ASSERT(day != NULL && flows != NULL);
    ASSERT(outcomes != NULL || day->count == 0);
    u32 count = 0;
    for (u32 index = 0; index < day->count; index++) {
        const struct sim_payment *payment = &day->payments[index];
        u32 due_at = payment->type == SIM_PAYMENT_INTERBANK ? day->interbank_cutoff_seconds
                                                            : day->customer_cutoff_seconds;
        count += payment_flows(payment, &outcomes[index], due_at, &flows[count]);
    }
    ASSERT(count <= SIM_FLOWS_PER_PAYMENT_MAX * day->count);
    return count;
}

/* ----------------------------------------------------------------------------------------- */
/* Reference outcomes: everything settled on arrival.                                         */

static u16 quote_provider(const struct sim_scenario *scenario, u32 from, u32 to) {
    ASSERT(from < scenario->currency_count && to < scenario->currency_count);
    ASSERT(scenario->quote_count <= SIM_QUOTE_COUNT_MAX);
    for (u32 index = 0; index < scenario->quote_count; index++) {
        const struct sim_quote *quote = &scenario->quotes[index];
        if (quote->from == from && quote->to == to) return quote->provider;
    }
    return SIM_NONE;
}

static u128 convert_mid(const struct sim_scenario *scenario, u32 from, u32 to, u128 amount) {
    ASSERT(amount <= SIM_AMOUNT_MAX);
    u128 cents = sim_scenario_usd_cents(scenario, from, amount);
    u128 converted = sim_scenario_from_usd_cents(scenario, to, cents);
    ASSERT(converted <= SIM_AMOUNT_MAX);
    return converted == 0 ? 1 : converted;
}

static void route_on_arrival(const struct sim_scenario *scenario,
                             const struct sim_payment *payment, bool vehicle_only,
                             u32 vehicle_currency, struct sim_outcome *outcome) {
    u32 from = payment->currency, to = payment->creditor_currency;
    ASSERT(from != to && vehicle_currency < scenario->currency_count);
    bool through_vehicle = vehicle_only && from != vehicle_currency && to != vehicle_currency;
    u16 direct = through_vehicle ? SIM_NONE : quote_provider(scenario, from, to);
    if (direct != SIM_NONE || from == vehicle_currency || to == vehicle_currency) {
        outcome->provider = direct;
        outcome->creditor_amount = convert_mid(scenario, from, to, payment->amount);
        return;
    }
    u16 first = quote_provider(scenario, from, vehicle_currency);
    u16 second = quote_provider(scenario, vehicle_currency, to);
    if (first == SIM_NONE || second == SIM_NONE) return; /* no route: counted as sent */
    outcome->provider = first;
    outcome->vehicle_provider = second;
    outcome->vehicle_currency = (u8)vehicle_currency;
    outcome->vehicle_amount = convert_mid(scenario, from, vehicle_currency, payment->amount);
    outcome->creditor_amount = convert_mid(scenario, vehicle_currency, to,
                                           outcome->vehicle_amount);
}

void sim_outcomes_on_arrival(const struct sim_scenario *scenario, const struct sim_day *day,
                             bool vehicle_only, u32 vehicle_currency,
                             struct sim_outcome *outcomes) {
    ASSERT(scenario != NULL && day != NULL);
    ASSERT(outcomes != NULL || day->count == 0);
    ASSERT(vehicle_currency < scenario->currency_count);
    for (u32 index = 0; index < day->count; index++) {
        const struct sim_payment *payment = &day->payments[index];
        struct sim_outcome *outcome = &outcomes[index];
        memset(outcome, 0, sizeof(*outcome));
        outcome->settled_at = payment->submitted_at;
        outcome->status = SIM_STATUS_SETTLED;
        outcome->provider = SIM_NONE;
        outcome->vehicle_provider = SIM_NONE;
        if (payment->currency == payment->creditor_currency) {
            outcome->creditor_amount = payment->amount;
            continue;
        }
        route_on_arrival(scenario, payment, vehicle_only, vehicle_currency, outcome);
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Figures of a run from its outcomes: delay distribution, rejections, offsetting.            */

static int sim_metrics_u32_compare(const void *left, const void *right) {
    u32 a = *(const u32 *)left, b = *(const u32 *)right;
    return (a > b) - (a < b);
}

/* The nearest-rank percentile of sorted values: the smallest value with at least
 * `per_mille` / 1000 of them at or below it. */
static u32 sim_metrics_percentile(const u32 *sorted, u32 count, u32 per_mille) {
    ASSERT(count > 0 && per_mille <= 1000);
    u64 rank = ((u64)per_mille * count + 999) / 1000; /* ceil(p n), 1-based */
    ASSERT(rank <= count);
    return sorted[rank > 0 ? rank - 1 : 0];
}

void sim_run_outcome_figures(const struct sim_day *day, const struct sim_outcome *outcomes,
                             u32 currency_count, u32 *scratch, struct sim_run *run) {
    ASSERT(day != NULL && run != NULL && currency_count <= SIM_CURRENCY_COUNT_MAX);
    ASSERT(scratch != NULL || day->count == 0);
    for (u32 currency = 0; currency < currency_count; currency++) {
        u32 settled = 0;
        run->rejected_count[currency] = 0;
        run->rejected_value[currency] = 0;
        run->offset_value[currency] = 0;
        for (u32 index = 0; index < day->count; index++) {
            const struct sim_payment *payment = &day->payments[index];
            const struct sim_outcome *outcome = &outcomes[index];
            if (payment->currency != currency) continue;
            if (outcome->status != SIM_STATUS_SETTLED || outcome->settled_at == SIM_NEVER) {
                run->rejected_count[currency]++;
                run->rejected_value[currency] += payment->amount;
                continue;
            }
            ASSERT(outcome->settled_at >= payment->submitted_at);
            scratch[settled++] = outcome->settled_at - payment->submitted_at;
            if (outcome->flags & SIM_OUTCOME_IN_SET) run->offset_value[currency] += payment->amount;
        }
        qsort(scratch, settled, sizeof(u32), sim_metrics_u32_compare);
        bool any = settled > 0;
        run->delay_p50_seconds[currency] = any ? sim_metrics_percentile(scratch, settled, 500) : 0;
        run->delay_p95_seconds[currency] = any ? sim_metrics_percentile(scratch, settled, 950) : 0;
        run->delay_max_seconds[currency] = any ? scratch[settled - 1] : 0;
    }
}
