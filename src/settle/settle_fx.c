/*
 * settle_fx.c: cross-currency payments settled payment-versus-payment (PvP) against liquidity
 * providers' quotes. Netting windows are settle_netting.c's.
 *
 * Quotes (set_fx_quotes). A liquidity provider (role liquidity_provider, holding both
 * currencies) converts up to amount_max of currency_source into currency_target at
 *     rate = rate_mantissa * 10^rate_exponent   units of target per unit of source (major),
 * until expires_at. The rate is exact: an integer mantissa of at most 12 significant digits
 * (1 <= mantissa < 10^12, trailing zeros moved into the exponent, so "68.50" and "68.5" are the
 * same quote) and an exponent in -18..18; no floating point anywhere. A quote is live while not
 * withdrawn, not expired (expires_at > now) and its amount_used < amount_max. Errors change
 * nothing: rate_invalid (mantissa 0 or exponent out of range), rate_too_precise (mantissa >=
 * 10^12), quote_expired (expires_at <= now), pair_unknown (a currency not in use, or both the
 * same), provider_invalid (not a liquidity provider, or not holding both currencies).
 * A quote id is idempotent (same fields: the first answer again; else exists_with_different_
 * fields). withdraw_fx_quotes marks quotes withdrawn (again: ok).
 *
 * Exposure. A provider's exposure limit per currency is its net debit cap in that currency
 * (set_limits, kind net_debit_cap): the most it may have paid out net of what it received. Each
 * provider leg is checked against it (and against bilateral limits) like any payment.
 *
 * Conversion and rounding (the rule). Amounts are minor units; with k = rate_exponent +
 * minor(target) - minor(source):
 *     debtor's amount given:   target = floor(source * mantissa * 10^k)
 *     creditor's amount given: source = ceil(target / (mantissa * 10^k))
 * so in both cases target <= source * rate: the provider never pays out more than the rate
 * gives, and the payer never receives rounding in its favour at the provider's cost. A vehicle
 * route applies the rule per leg (source -> vehicle -> target, each floor; or, from the
 * creditor's amount, each ceil backwards).
 *
 * Best quote. Among live quotes of the pair whose provider is neither payer nor payee and not
 * suspended, with room for the amount: the one giving the most target for the debtor's amount
 * (or needing the least source for the creditor's amount); ties go to the earliest quote. A
 * vehicle route picks the best first leg, then the best second leg for its result (optimal,
 * since each conversion is monotone). Provider liquidity is not part of the choice: if the
 * best quote's provider cannot pay, the payment waits (see below).
 *
 * Routing (set_fx_routing): direct_first (default): a pair some provider serves (a quote not
 * withdrawn, live or expired) goes direct, otherwise through the vehicle currency (CNY by
 * default) when both its pairs are served; vehicle_only: always through the vehicle currency
 * (direct when source or target is the vehicle). No route: rejected no_route.
 *
 * Settlement. Legs: payer -> provider (source), [provider 1 -> provider 2 (vehicle), when they
 * differ], provider -> payee (target); each leg's debtor may draw intraday credit as a payer
 * does. All legs and draws are ONE linked ledger chain (settle_chain_flush): both or neither,
 * and they are booked only after every leg was checked to be covered (liquidity, net debit
 * cap, bilateral limit, no suspension), so the chain cannot fail. A payment with a leg not
 * covered now, or whose route has no live quote now (quote_unavailable), is queued in the
 * payer's queue in the source currency (queue mode none: rejected with the reason); it is
 * retried whenever that queue is, and after every request while any cross-currency payment
 * waits (settle_fx_retry_mark, run by settle_apply.c), since a provider's funds or a new quote
 * can release it.
 * Requote at settlement: a waiting payment is priced again each time it is tried, with the
 * quotes live then; the rate, providers and (creditor's amount given) the debtor's amount are
 * those of the moment it settles. Its settle_by (if any) bounds the wait.
 * Liquidity saving: a cross-currency payment takes part with all its legs in the resolution
 * across currencies and in offsetting on entry (settle_resolve.c's header is the design; a new
 * one is entered in two parts, settle_fx_enter_try and settle_fx_enter_queue, with the
 * offsetting between them). In the per-currency step of a resolution, and in offsetting while
 * a bilateral limit is set, it takes part as one unit in its source currency: the model holds
 * its source leg (payer -> first provider) and it is admitted only when
 * its other legs can settle too (settle_fx_lsm_admit: priced now, days and cut-offs, no
 * suspension, each other leg's debtor covering it on top of what the run already reserved on
 * that slot, limits likewise; the quotes' room taken). A chosen one is booked with all its
 * legs in the set's one linked chain (settle_fx_lsm_book); the room of one not chosen is given
 * back (settle_fx_lsm_end). Between runs it is also retried alone, as above.
 *
 * Record fields (struct khorgos_payment): amount = what the debtor pays (source), set at
 * settlement when the creditor's amount was given (while queued: the estimate at the last
 * try, 0 if never priced); amount_target = what the creditor gets; route, rate of the (first)
 * quote, provider and provider_vehicle (participant numbers); transfer_id_debit = the payer's
 * leg, transfer_id_credit = the payee's leg, transfer_id_credit_draw = the payer's draw; every
 * leg has user_data_128 = the payment id.
 *
 * Limits (settle_fx.h): SETTLE_FX_QUOTE_COUNT_MAX quotes ever (capacity_full after), rates of
 * 12 significant digits and exponents -18..18, cross-currency amounts up to 10^24 minor units
 * (so amount x mantissa < 2^128 and every conversion is exact in u128).
 *
 * Persistence: this file's state is in the settle snapshot section (its parts
 * settle_fx_snapshot_emit_quotes/_payments and their readers, at the end of this file; the
 * layout is settle_snapshot.c's) and so in settle_digest.
 *
 * Days: every leg's currency must be in its day and before the cut-off of the payment's type
 * when it settles; otherwise it waits (day_not_open, after_cut_off) until its source
 * currency's cut-off or close of day rejects it.
 *
 * Invariants: (1) amount_used <= amount_max for every quote; (2) a settled cross-currency
 * payment's legs satisfy target <= source * rate per leg; (3) the clearing accounts are
 * untouched (legs are direct).
 */
#include "settle/settle_private.h"

#include <stdlib.h>

/* ----------------------------------------------------------------------------------------- */
/* Memory.                                                                                    */

khorgos_error settle_fx_init(struct settle *settle) {
    ASSERT(settle != NULL && settle->fx.quotes == NULL);
    struct settle_fx *fx = &settle->fx;
    u32 payments = settle->config.payment_count_max;
    u32 slots = settle->config.participant_count_max * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
    ASSERT(payments > 0 && slots > 0);
    fx->routing_mode = KHORGOS_ROUTING_DIRECT_FIRST;
    fx->vehicle_numeric = SETTLE_FX_CURRENCY_VEHICLE_DEFAULT;
    fx->quotes = calloc(SETTLE_FX_QUOTE_COUNT_MAX, sizeof(*fx->quotes));
    fx->quote_provider = calloc(SETTLE_FX_QUOTE_COUNT_MAX, sizeof(u32));
    fx->quote_same_id = calloc(SETTLE_FX_QUOTE_COUNT_MAX, sizeof(u32));
    fx->amount_vehicle = calloc(payments, sizeof(u128));
    fx->vehicle_numeric_of = calloc(payments, sizeof(u32));
    fx->quote_first_of = calloc(payments, sizeof(u32));
    fx->quote_second_of = calloc(payments, sizeof(u32));
    fx->slot_fx_queued = calloc(slots, sizeof(u8));
    fx->admitted = calloc(payments, sizeof(*fx->admitted));
    fx->admitted_of = malloc((size_t)payments * sizeof(u32));
    fx->slot_reserved = calloc(slots, sizeof(u128));
    fx->reserved_slots = calloc(slots, sizeof(u32));
    if (fx->admitted == NULL || fx->admitted_of == NULL || fx->slot_reserved == NULL ||
        fx->reserved_slots == NULL) {
        return KHORGOS_ERROR_out_of_memory;
    }
    memset(fx->admitted_of, 0xFF, (size_t)payments * sizeof(u32)); /* SETTLE_NONE each */
    if (fx->quotes == NULL || fx->quote_provider == NULL || fx->quote_same_id == NULL ||
        fx->amount_vehicle == NULL || fx->vehicle_numeric_of == NULL ||
        fx->quote_first_of == NULL || fx->quote_second_of == NULL ||
        fx->slot_fx_queued == NULL) {
        return KHORGOS_ERROR_out_of_memory;
    }
    return base_id_map_init(&fx->quote_map, SETTLE_FX_QUOTE_COUNT_MAX);
}

void settle_fx_deinit(struct settle *settle) {
    ASSERT(settle->fx.quote_count <= SETTLE_FX_QUOTE_COUNT_MAX);
    struct settle_fx *fx = &settle->fx;
    ASSERT(settle != NULL);
    if (fx->quote_map.slots != NULL) base_id_map_deinit(&fx->quote_map);
    void *arrays[] = {fx->quotes,           fx->quote_provider, fx->quote_same_id,
                      fx->amount_vehicle,   fx->vehicle_numeric_of, fx->quote_first_of,
                      fx->quote_second_of,  fx->slot_fx_queued, fx->admitted,
                      fx->admitted_of,      fx->slot_reserved, fx->reserved_slots};
    for (u32 index = 0; index < ARRAY_COUNT(arrays); index++) free(arrays[index]);
    memset(fx, 0, sizeof(*fx));
}

/* ----------------------------------------------------------------------------------------- */
/* Exact conversion.                                                                          */

static u128 settle_fx_power10(u32 exponent) {
    ASSERT(SETTLE_FX_RATE_EXPONENT_MAX + 4 <= 38); /* minor units <= 4 */
    ASSERT(exponent <= 38);
    u128 value = 1;
    for (u32 index = 0; index < exponent; index++) value *= 10;
    return value;
}

static int32_t settle_fx_scale(const struct khorgos_fx_quote *quote) {
    ASSERT(quote != NULL);
    ASSERT(quote->rate_exponent >= SETTLE_FX_RATE_EXPONENT_MIN &&
           quote->rate_exponent <= SETTLE_FX_RATE_EXPONENT_MAX);
    const struct khorgos_currency *source = khorgos_currency_by_numeric(quote->currency_source);
    const struct khorgos_currency *target = khorgos_currency_by_numeric(quote->currency_target);
    ASSERT(source != NULL && target != NULL);
    return quote->rate_exponent + (int32_t)target->minor_units - (int32_t)source->minor_units;
}

/* floor(source * rate) in the target's minor units; false on overflow. */
bool settle_fx_convert_floor(const struct khorgos_fx_quote *quote, u128 source, u128 *target) {
    ASSERT(target != NULL);
    ASSERT(quote->rate_mantissa > 0 && quote->rate_mantissa < SETTLE_FX_RATE_MANTISSA_LIMIT);
    if (source > SETTLE_FX_AMOUNT_MAX) return false;
    u128 product = source * quote->rate_mantissa; /* < 10^36 */
    int32_t scale = settle_fx_scale(quote);
    if (scale >= 0) {
        u128 factor = settle_fx_power10((u32)scale);
        if (product != 0 && product > U128_MAX / factor) return false;
        *target = product * factor;
    } else {
        *target = -scale > 38 ? 0 : product / settle_fx_power10((u32)-scale);
    }
    return *target <= SETTLE_FX_AMOUNT_MAX;
}

/* ceil(target / rate) in the source's minor units: the least source with floor(source * rate)
 * >= target; false on overflow. */
bool settle_fx_convert_ceil(const struct khorgos_fx_quote *quote, u128 target, u128 *source) {
    ASSERT(quote->rate_mantissa > 0);
    if (target > SETTLE_FX_AMOUNT_MAX) return false;
    int32_t scale = settle_fx_scale(quote);
    u128 numerator = target, denominator = quote->rate_mantissa;
    if (scale >= 0) {
        u128 factor = settle_fx_power10((u32)scale);
        if (denominator > U128_MAX / factor) {
            *source = target == 0 ? 0 : 1; /* rate above any amount: one minor unit buys it */
            goto check;
        }
        denominator *= factor;
    } else {
        if (-scale > 38) return false;
        u128 factor = settle_fx_power10((u32)-scale);
        if (numerator > U128_MAX / factor) return false;
        numerator *= factor;
    }
    *source = numerator / denominator + (numerator % denominator != 0);
check:
    if (*source > SETTLE_FX_AMOUNT_MAX) return false;
    u128 back = 0;
    ASSERT(settle_fx_convert_floor(quote, *source, &back) && back >= target);
    return true;
}

/* ----------------------------------------------------------------------------------------- */
/* Quotes.                                                                                    */

static bool settle_fx_quote_live(const struct settle *settle, u32 quote, u64 timestamp) {
    ASSERT(quote < settle->fx.quote_count);
    const struct khorgos_fx_quote *record = &settle->fx.quotes[quote];
    ASSERT(record->amount_used <= record->amount_max);
    return record->state == KHORGOS_QUOTE_LIVE && record->expires_at > timestamp &&
           record->amount_used < record->amount_max &&
           !settle_participant_suspended(settle, settle->fx.quote_provider[quote]);
}

/* Whether some provider serves the pair: a quote of it not withdrawn (live or expired). */
static bool settle_fx_pair_served(const struct settle *settle, u32 source, u32 target) {
    ASSERT(source != target);
    ASSERT(settle->fx.quote_count <= SETTLE_FX_QUOTE_COUNT_MAX);
    for (u32 quote = 0; quote < settle->fx.quote_count; quote++) {
        const struct khorgos_fx_quote *record = &settle->fx.quotes[quote];
        if (record->state == KHORGOS_QUOTE_LIVE && record->currency_source == source &&
            record->currency_target == target) {
            return true;
        }
    }
    return false;
}

/* Normalises the rate (trailing zeros into the exponent); the status of the rate. */
static u32 settle_fx_rate_status(struct khorgos_fx_quote *quote) {
    ASSERT(quote != NULL);
    ASSERT(SETTLE_FX_RATE_EXPONENT_MIN < 0 && SETTLE_FX_RATE_EXPONENT_MAX > 0);
    if (quote->rate_mantissa == 0) return KHORGOS_SETTLE_rate_invalid;
    while (quote->rate_mantissa % 10 == 0 && quote->rate_exponent < SETTLE_FX_RATE_EXPONENT_MAX) {
        quote->rate_mantissa /= 10;
        quote->rate_exponent++;
    }
    if (quote->rate_exponent < SETTLE_FX_RATE_EXPONENT_MIN ||
        quote->rate_exponent > SETTLE_FX_RATE_EXPONENT_MAX) {
        return KHORGOS_SETTLE_rate_invalid;
    }
    if (quote->rate_mantissa >= SETTLE_FX_RATE_MANTISSA_LIMIT) {
        return KHORGOS_SETTLE_rate_too_precise;
    }
    return KHORGOS_SETTLE_ok;
}

static u32 settle_fx_quote_status(const struct settle *settle, struct khorgos_fx_quote *quote,
                                  u64 timestamp, u32 *provider) {
    ASSERT(quote != NULL && provider != NULL);
    ASSERT(timestamp > 0);
    static const u8 zero[sizeof(quote->reserved)];
    if (quote->amount_used != 0 || quote->state != 0 || quote->timestamp != 0 ||
        quote->number != 0 || memcmp(quote->reserved, zero, sizeof(zero)) != 0 ||
        memcmp(quote->reserved_2, zero, sizeof(quote->reserved_2)) != 0) {
        return KHORGOS_SETTLE_reserved_field;
    }
    if (!settle_bic_normalize(quote->provider)) return KHORGOS_SETTLE_bic_invalid;
    *provider = settle_participant_find(settle, quote->provider);
    if (*provider == SETTLE_NONE) return KHORGOS_SETTLE_participant_not_found;
    u32 source = settle_currency_find(settle, quote->currency_source);
    u32 target = settle_currency_find(settle, quote->currency_target);
    if (source == SETTLE_NONE || target == SETTLE_NONE || source == target ||
        khorgos_currency_by_numeric(quote->currency_source) == NULL ||
        khorgos_currency_by_numeric(quote->currency_target) == NULL) {
        return KHORGOS_SETTLE_pair_unknown;
    }
    if (settle->participants[*provider].record.role != KHORGOS_ROLE_LIQUIDITY_PROVIDER ||
        settle_position_slot(settle, *provider, source) == SETTLE_NONE ||
        settle_position_slot(settle, *provider, target) == SETTLE_NONE) {
        return KHORGOS_SETTLE_provider_invalid;
    }
    u32 status = settle_fx_rate_status(quote);
    if (status != KHORGOS_SETTLE_ok) return status;
    if (quote->amount_max == 0) return KHORGOS_SETTLE_amount_must_not_be_zero;
    if (quote->amount_max > SETTLE_FX_AMOUNT_MAX) return KHORGOS_SETTLE_amount_too_large;
    if (quote->expires_at <= timestamp) return KHORGOS_SETTLE_quote_expired;
    return KHORGOS_SETTLE_ok;
}

/* Quote ids are their provider's own (settle.h, "Idempotency"). */
static struct settle_scoped_ids settle_fx_scoped_quotes(const struct settle *settle) {
    ASSERT(settle != NULL && settle->fx.quote_same_id != NULL);
    return (struct settle_scoped_ids){
        .map = &settle->fx.quote_map,
        .next = settle->fx.quote_same_id,
        .scopes = (const u8 *)settle->fx.quotes + offsetof(struct khorgos_fx_quote, provider),
        .stride = sizeof(struct khorgos_fx_quote)};
}

static u32 settle_fx_set_quote(struct settle *settle, u64 timestamp,
                               const struct khorgos_fx_quote *event,
                               struct khorgos_settle_result *result) {
    ASSERT(event != NULL && result != NULL);
    ASSERT(settle->fx.quote_count <= SETTLE_FX_QUOTE_COUNT_MAX);
    struct settle_fx *fx = &settle->fx;
    if (event->id == 0) return KHORGOS_SETTLE_id_must_not_be_zero;
    struct khorgos_fx_quote input = *event;
    u32 provider = SETTLE_NONE;
    settle_bic_normalize(input.provider); /* the scope of its id */
    struct settle_scoped_ids ids = settle_fx_scoped_quotes(settle);
    u32 existing = settle_scoped_find(&ids, event->id, input.provider);
    if (existing != SETTLE_NONE) {
        struct khorgos_fx_quote stored = fx->quotes[existing];
        settle_fx_rate_status(&input);
        result->timestamp = stored.timestamp;
        stored.amount_used = 0;
        stored.state = 0;
        stored.timestamp = 0;
        stored.number = 0;
        if (memcmp(&stored, &input, sizeof(stored)) != 0) {
            return KHORGOS_SETTLE_exists_with_different_fields;
        }
        result->flags |= KHORGOS_SETTLE_RESULT_RETRY;
        return KHORGOS_SETTLE_ok;
    }
    u32 status = settle_fx_quote_status(settle, &input, timestamp, &provider);
    if (status != KHORGOS_SETTLE_ok) return status;
    if (fx->quote_count == SETTLE_FX_QUOTE_COUNT_MAX) return KHORGOS_SETTLE_capacity_full;
    u32 quote = fx->quote_count++;
    input.state = KHORGOS_QUOTE_LIVE;
    input.timestamp = timestamp;
    input.number = quote + 1;
    fx->quotes[quote] = input;
    fx->quote_provider[quote] = provider;
    bool inserted = settle_scoped_insert(&fx->quote_map, fx->quote_same_id, &ids, input.id, quote);
    ASSERT(inserted);
    return KHORGOS_SETTLE_ok;
}

void settle_fx_set_quotes(struct settle *settle, u64 timestamp,
                          const struct khorgos_fx_quote *events, u32 count,
                          struct khorgos_settle_result *results) {
    ASSERT(settle != NULL);
    ASSERT(settle->timestamp_cursor <= timestamp); /* events take slots from here */
    ASSERT(count == 0 || (events != NULL && results != NULL));
    for (u32 index = 0; index < count; index++) {
        u64 event_timestamp = settle_event_begin(settle, &results[index]);
        results[index].status = settle_fx_set_quote(settle, event_timestamp, &events[index],
                                                    &results[index]);
    }
}

void settle_fx_withdraw_quotes(struct settle *settle, u64 timestamp, const u128 *ids, u32 count,
                               struct khorgos_settle_result *results) {
    ASSERT(settle != NULL);
    ASSERT(settle->timestamp_cursor <= timestamp); /* events take slots from here */
    ASSERT(count == 0 || (ids != NULL && results != NULL));
    struct settle_scoped_ids quotes = settle_fx_scoped_quotes(settle);
    for (u32 index = 0; index < count; index++) {
        settle_event_begin(settle, &results[index]);
        u32 quote = SETTLE_NONE;
        if (ids[index] != 0) {
            quote = settle_scoped_find(&quotes, ids[index], settle_actor_scope(settle));
        }
        if (ids[index] == 0) {
            results[index].status = KHORGOS_SETTLE_id_must_not_be_zero;
        } else if (quote == SETTLE_NONE) {
            results[index].status = KHORGOS_SETTLE_quote_not_found;
        } else {
            settle->fx.quotes[quote].state = KHORGOS_QUOTE_WITHDRAWN;
            results[index].status = KHORGOS_SETTLE_ok;
        }
    }
}

u32 settle_fx_lookup_quotes(const struct settle *settle, const u128 *ids, u32 count,
                            struct khorgos_fx_quote *out) {
    ASSERT(settle != NULL);
    ASSERT(count == 0 || (ids != NULL && out != NULL));
    u32 written = 0;
    struct settle_scoped_ids quotes = settle_fx_scoped_quotes(settle);
    for (u32 index = 0; index < count; index++) {
        if (ids[index] == 0) continue;
        u32 quote = settle_scoped_find(&quotes, ids[index], settle_actor_scope(settle));
        if (quote != SETTLE_NONE) out[written++] = settle->fx.quotes[quote];
    }
    return written;
}

void settle_fx_set_routing(struct settle *settle, u64 timestamp,
                           const struct khorgos_fx_routing *events, u32 count,
                           struct khorgos_settle_result *results) {
    ASSERT(settle != NULL);
    ASSERT(settle->timestamp_cursor <= timestamp); /* events take slots from here */
    ASSERT(count == 0 || (events != NULL && results != NULL));
    static const u8 zero[sizeof(events->reserved)];
    for (u32 index = 0; index < count; index++) {
        const struct khorgos_fx_routing *event = &events[index];
        struct khorgos_settle_result *result = &results[index];
        settle_event_begin(settle, result);
        if (!settle_request_begin(settle, KHORGOS_OPERATION_SET_FX_ROUTING, event->id, event,
                                  sizeof(*event), result)) {
            continue;
        }
        if (memcmp(event->reserved, zero, sizeof(zero)) != 0) {
            result->status = KHORGOS_SETTLE_reserved_field;
        } else if ((event->mode != KHORGOS_ROUTING_DIRECT_FIRST &&
                    event->mode != KHORGOS_ROUTING_VEHICLE_ONLY) ||
                   khorgos_currency_by_numeric(event->vehicle_currency) == NULL) {
            result->status = KHORGOS_SETTLE_routing_invalid;
        } else {
            settle->fx.routing_mode = event->mode;
            settle->fx.vehicle_numeric = event->vehicle_currency;
            result->status = KHORGOS_SETTLE_ok;
        }
        settle_request_store(settle, KHORGOS_OPERATION_SET_FX_ROUTING, event->id, event,
                             sizeof(*event), result);
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Pricing.                                                                                   */

/* The best live quote of (source, target) for the payer, excluding providers payer and payee:
 * given `amount_in` (source) the most output; given `amount_out` (target, amount_in 0) the
 * least input. SETTLE_NONE when none. */
static u32 settle_fx_best_quote(const struct settle *settle, u32 source, u32 target,
                                u128 amount_in, u128 amount_out, u32 payer, u32 payee,
                                u64 timestamp, u128 *in, u128 *out) {
    ASSERT(in != NULL && out != NULL);
    ASSERT((amount_in == 0) != (amount_out == 0));
    u32 best = SETTLE_NONE;
    for (u32 quote = 0; quote < settle->fx.quote_count; quote++) {
        const struct khorgos_fx_quote *record = &settle->fx.quotes[quote];
        if (record->currency_source != source || record->currency_target != target) continue;
        u32 provider = settle->fx.quote_provider[quote];
        if (provider == payer || provider == payee ||
            !settle_fx_quote_live(settle, quote, timestamp)) {
            continue;
        }
        u128 need = amount_in, get = amount_out;
        bool ok = amount_in != 0 ? settle_fx_convert_floor(record, amount_in, &get)
                                 : settle_fx_convert_ceil(record, amount_out, &need);
        if (!ok || get == 0 || need > record->amount_max - record->amount_used) continue;
        bool better = best == SETTLE_NONE || (amount_in != 0 ? get > *out : need < *in);
        if (better) { /* strictly better only: ties keep the earlier quote */
            best = quote;
            *in = need;
            *out = get;
        }
    }
    return best;
}

static u32 settle_fx_route(const struct settle *settle, u32 source, u32 target, u32 *vehicle) {
    ASSERT(source != target);
    ASSERT(vehicle != NULL);
    u32 vehicle_numeric = settle->fx.vehicle_numeric;
    bool vehicle_known = settle_currency_find(settle, vehicle_numeric) != SETTLE_NONE;
    bool direct = settle->fx.routing_mode == KHORGOS_ROUTING_DIRECT_FIRST ||
                  source == vehicle_numeric || target == vehicle_numeric;
    *vehicle = 0;
    if (direct && settle_fx_pair_served(settle, source, target)) return KHORGOS_ROUTE_DIRECT;
    if (source == vehicle_numeric || target == vehicle_numeric || !vehicle_known) {
        return KHORGOS_ROUTE_NONE;
    }
    if (settle_fx_pair_served(settle, source, vehicle_numeric) &&
        settle_fx_pair_served(settle, vehicle_numeric, target)) {
        *vehicle = vehicle_numeric;
        return KHORGOS_ROUTE_VEHICLE;
    }
    return KHORGOS_ROUTE_NONE;
}

/* Prices the payment now: ok, no_route, or quote_unavailable. */
static u32 settle_fx_price(const struct settle *settle, u32 payment, u64 timestamp,
                           struct settle_fx_price *price) {
    ASSERT(price != NULL);
    const struct khorgos_payment *record = &settle->payments[payment];
    u32 payer = settle->positions[settle->payment_payer_slot[payment]].participant;
    u32 payee = settle->positions[settle->payment_payee_slot[payment]].participant;
    bool debtor = record->amount_kind == KHORGOS_AMOUNT_DEBTOR;
    u32 source = record->currency, target = record->currency_target;
    *price = (struct settle_fx_price){.quote_second = SETTLE_NONE};
    price->route = settle_fx_route(settle, source, target, &price->vehicle);
    if (price->route == KHORGOS_ROUTE_NONE) return KHORGOS_SETTLE_no_route;
    u128 in = 0, out = 0;
    if (price->route == KHORGOS_ROUTE_DIRECT) {
        price->quote_first = settle_fx_best_quote(settle, source, target,
                                                  debtor ? record->amount : 0,
                                                  debtor ? 0 : record->amount_target, payer,
                                                  payee, timestamp, &in, &out);
        if (price->quote_first == SETTLE_NONE) return KHORGOS_SETTLE_quote_unavailable;
        price->source = in;
        price->target = out;
        return KHORGOS_SETTLE_ok;
    }
    u128 in2 = 0, out2 = 0;
    if (debtor) {
        price->quote_first = settle_fx_best_quote(settle, source, price->vehicle, record->amount,
                                                  0, payer, payee, timestamp, &in, &out);
        if (price->quote_first == SETTLE_NONE) return KHORGOS_SETTLE_quote_unavailable;
        price->quote_second = settle_fx_best_quote(settle, price->vehicle, target, out, 0, payer,
                                                   payee, timestamp, &in2, &out2);
    } else {
        price->quote_second = settle_fx_best_quote(settle, price->vehicle, target, 0,
                                                   record->amount_target, payer, payee,
                                                   timestamp, &in2, &out2);
        if (price->quote_second == SETTLE_NONE) return KHORGOS_SETTLE_quote_unavailable;
        price->quote_first = settle_fx_best_quote(settle, source, price->vehicle, 0, in2, payer,
                                                  payee, timestamp, &in, &out);
    }
    if (price->quote_first == SETTLE_NONE || price->quote_second == SETTLE_NONE) {
        return KHORGOS_SETTLE_quote_unavailable;
    }
    ASSERT(out >= in2);
    price->source = in;
    price->vehicle_amount = debtor ? out : in2; /* ceil backwards may leave out > in2 */
    price->target = out2;
    return KHORGOS_SETTLE_ok;
}

/* The legs of a priced payment; returns their count. */
static u32 settle_fx_price_legs(const struct settle *settle, u32 payment,
                                const struct settle_fx_price *price, struct settle_fx_leg *legs) {
    u32 payer_slot = settle->payment_payer_slot[payment];
    u32 payee_slot = settle->payment_payee_slot[payment];
    u32 source = settle->positions[payer_slot].currency;
    u32 target = settle->positions[payee_slot].currency;
    u32 first = settle->fx.quote_provider[price->quote_first];
    u32 last = price->quote_second == SETTLE_NONE ? first
                                                  : settle->fx.quote_provider[price->quote_second];
    u32 count = 0;
    legs[count++] = (struct settle_fx_leg){price->source, payer_slot,
                                           settle_position_slot(settle, first, source)};
    if (first != last) {
        u32 vehicle = settle_currency_find(settle, price->vehicle);
        legs[count++] = (struct settle_fx_leg){price->vehicle_amount,
                                               settle_position_slot(settle, first, vehicle),
                                               settle_position_slot(settle, last, vehicle)};
    }
    legs[count++] = (struct settle_fx_leg){price->target,
                                           settle_position_slot(settle, last, target), payee_slot};
    for (u32 index = 0; index < count; index++) {
        ASSERT(legs[index].debtor_slot != SETTLE_NONE && legs[index].creditor_slot != SETTLE_NONE);
        ASSERT(legs[index].amount > 0);
    }
    return count;
}

/* Takes the room the price uses in its quotes. */
static void settle_fx_price_take_room(struct settle *settle, const struct settle_fx_price *price) {
    struct khorgos_fx_quote *first = &settle->fx.quotes[price->quote_first];
    ASSERT(first->amount_max - first->amount_used >= price->source);
    first->amount_used += price->source;
    if (price->quote_second != SETTLE_NONE) {
        struct khorgos_fx_quote *second = &settle->fx.quotes[price->quote_second];
        ASSERT(second->amount_max - second->amount_used >= price->vehicle_amount);
        second->amount_used += price->vehicle_amount;
    }
}

/* Writes the price into the record (the payment is off queues). */
static void settle_fx_price_record(struct settle *settle, u32 payment,
                                   const struct settle_fx_price *price) {
    struct khorgos_payment *record = &settle->payments[payment];
    const struct khorgos_fx_quote *first = &settle->fx.quotes[price->quote_first];
    ASSERT(record->state != KHORGOS_PAYMENT_QUEUED);
    ASSERT(price->source > 0 && price->target > 0);
    record->amount = price->source;
    record->amount_target = price->target;
    record->route = (u8)price->route;
    record->rate_mantissa = first->rate_mantissa;
    record->rate_exponent = first->rate_exponent;
    record->provider = settle->fx.quote_provider[price->quote_first] + 1;
    settle->fx.amount_vehicle[payment] = price->vehicle_amount;
    settle->fx.vehicle_numeric_of[payment] = price->vehicle;
    settle->fx.quote_first_of[payment] = price->quote_first;
    settle->fx.quote_second_of[payment] = price->quote_second;
    if (price->quote_second != SETTLE_NONE) {
        u32 provider = settle->fx.quote_provider[price->quote_second] + 1;
        record->provider_vehicle = provider != record->provider ? provider : 0;
    }
}

/* Writes the price into the record and takes the quotes' room (the payment is off queues). */
static void settle_fx_price_apply(struct settle *settle, u32 payment,
                                  const struct settle_fx_price *price) {
    ASSERT(settle->payments[payment].state != KHORGOS_PAYMENT_QUEUED);
    ASSERT(price->quote_first < settle->fx.quote_count);
    settle_fx_price_take_room(settle, price);
    settle_fx_price_record(settle, payment, price);
}

/* Prices a net payment at entry and takes the quotes' room: ok, no_route, quote_unavailable. */
u32 settle_fx_price_take(struct settle *settle, u32 payment, u64 timestamp) {
    ASSERT(settle->payments[payment].state == 0);
    ASSERT(settle->payments[payment].currency_target != 0);
    struct settle_fx_price price;
    u32 status = settle_fx_price(settle, payment, timestamp, &price);
    if (status == KHORGOS_SETTLE_ok) settle_fx_price_apply(settle, payment, &price);
    return status;
}

/* Gives back the room a dropped net payment took in its quotes. */
void settle_fx_price_release(struct settle *settle, u32 payment) {
    struct settle_fx *fx = &settle->fx;
    const struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(record->route != KHORGOS_ROUTE_NONE);
    ASSERT(fx->quote_first_of[payment] < fx->quote_count);
    fx->quotes[fx->quote_first_of[payment]].amount_used -= record->amount;
    if (fx->quote_second_of[payment] != SETTLE_NONE) {
        fx->quotes[fx->quote_second_of[payment]].amount_used -= fx->amount_vehicle[payment];
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Settlement of the linked chain.                                                            */

/* Why one leg (number `index` of its payment) cannot settle now, ok when it can. `reserved`
 * is what its debtor's slot already promised in this run (0 outside liquidity saving); with
 * `funds` false only days, cut-offs and suspensions are checked. */
static u32 settle_fx_leg_status(const struct settle *settle, const struct settle_fx_leg *leg,
                                u32 index, u8 type, u128 reserved, bool funds) {
    u32 debtor = settle->positions[leg->debtor_slot].participant;
    u32 creditor = settle->positions[leg->creditor_slot].participant;
    ASSERT(settle->positions[leg->debtor_slot].currency ==
           settle->positions[leg->creditor_slot].currency);
    ASSERT(index < SETTLE_FX_LEG_COUNT_MAX);
    /* Every leg's currency must be in its business day (a target or vehicle currency may
     * have closed while the payment waited in the source currency's queue). */
    const struct settle_currency *currency =
        &settle->currencies[settle->positions[leg->debtor_slot].currency];
    if (!currency->day_open) return KHORGOS_SETTLE_day_not_open;
    if (type == KHORGOS_PAYMENT_CUSTOMER ? currency->cut_off_customer_passed
                                         : currency->cut_off_interbank_passed) {
        return KHORGOS_SETTLE_after_cut_off; /* waits; its own currency's cut-off rejects */
    }
    if (settle_participant_suspended(settle, debtor)) return KHORGOS_SETTLE_participant_suspended;
    if (settle_participant_suspended(settle, creditor)) return KHORGOS_SETTLE_creditor_suspended;
    if (!funds) return KHORGOS_SETTLE_ok;
    u128 liquidity = settle_liquidity(settle, leg->debtor_slot);
    if (reserved > liquidity || leg->amount > liquidity - reserved) {
        return index == 0 ? KHORGOS_SETTLE_insufficient_funds
                          : KHORGOS_SETTLE_provider_insufficient_funds;
    }
    /* With reservations the whole promised outflow is checked against the bilateral limit
     * too: at least the flow to this creditor, so the check is conservative. */
    return settle_limits_status(settle, leg->debtor_slot, creditor, reserved + leg->amount);
}

/* Why the legs cannot all settle now (ok when they can). */
static u32 settle_fx_legs_status(const struct settle *settle, const struct settle_fx_leg *legs,
                                 u32 count, u8 type) {
    ASSERT(count >= 1 && count <= SETTLE_FX_LEG_COUNT_MAX);
    ASSERT(legs != NULL);
    for (u32 index = 0; index < count; index++) {
        u32 status = settle_fx_leg_status(settle, &legs[index], index, type, 0, true);
        if (status != KHORGOS_SETTLE_ok) return status;
    }
    return KHORGOS_SETTLE_ok;
}

/* The statistics of a settled leg: sent/received, bilateral positions, the payee's retry. */
void settle_fx_leg_settled(struct settle *settle, const struct settle_fx_leg *leg) {
    struct settle_position *debtor = &settle->positions[leg->debtor_slot];
    struct settle_position *creditor = &settle->positions[leg->creditor_slot];
    ASSERT(debtor->currency == creditor->currency);
    ASSERT(debtor->participant != creditor->participant);
    debtor->sent += leg->amount;
    debtor->sent_count++;
    creditor->received += leg->amount;
    creditor->received_count++;
    struct settle_bilateral_limit *forward =
        settle_limit_find(settle, leg->debtor_slot, creditor->participant);
    if (forward != NULL) forward->position += (i128)leg->amount;
    struct settle_bilateral_limit *reverse =
        settle_limit_find(settle, leg->creditor_slot, debtor->participant);
    if (reverse != NULL) reverse->position -= (i128)leg->amount;
    settle_retry_add(settle, leg->creditor_slot);
}

/* Books every leg (with draws) as one linked chain; the legs were checked. */
static void settle_fx_book(struct settle *settle, u32 payment, const struct settle_fx_leg *legs,
                           u32 count, u64 timestamp) {
    struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(record->state == 0);
    ASSERT(settle->chain_count == 0);
    for (u32 index = 0; index < count; index++) {
        const struct settle_fx_leg *leg = &legs[index];
        u128 draw = settle_credit_cover(settle, leg->debtor_slot, leg->amount);
        if (index == 0) record->transfer_id_credit_draw = draw;
        u128 id = settle_transfer_id_next(settle, SETTLE_TRANSFER_PAYMENT);
        if (index == 0) record->transfer_id_debit = id;
        if (index + 1 == count) record->transfer_id_credit = id;
        settle_chain_add(settle, SETTLE_TRANSFER_PAYMENT, id,
                         settle->positions[leg->debtor_slot].settlement_account_id,
                         settle->positions[leg->creditor_slot].settlement_account_id, leg->amount,
                         settle->currencies[settle->positions[leg->debtor_slot].currency].numeric,
                         record->id);
    }
    settle_chain_flush(settle); /* one linked chain: every leg or none */
    for (u32 index = 0; index < count; index++) settle_fx_leg_settled(settle, &legs[index]);
    settle_payment_mark_settled(settle, payment, KHORGOS_SETTLED_IN_ALONE, timestamp);
}

/* Tries to settle the payment now (state 0 or queued): settled, or why not. */
static u32 settle_fx_try(struct settle *settle, u32 payment, u64 timestamp) {
    struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(record->settlement == KHORGOS_SETTLEMENT_GROSS);
    ASSERT(record->state == 0 || record->state == KHORGOS_PAYMENT_QUEUED);
    struct settle_fx_price price;
    u32 status = settle_fx_price(settle, payment, timestamp, &price);
    if (status != KHORGOS_SETTLE_ok) return status;
    struct settle_fx_leg legs[SETTLE_FX_LEG_COUNT_MAX];
    u32 count = settle_fx_price_legs(settle, payment, &price, legs);
    status = settle_fx_legs_status(settle, legs, count, record->type);
    if (status != KHORGOS_SETTLE_ok) {
        if (record->state == 0 && record->amount_kind == KHORGOS_AMOUNT_CREDITOR) {
            record->amount = price.source; /* the estimate its queue counts */
        }
        return status;
    }
    if (!settle_chain_capacity(settle, count * 2)) return KHORGOS_SETTLE_capacity_full;
    if (record->state == KHORGOS_PAYMENT_QUEUED) settle_queue_remove(settle, payment);
    settle_fx_price_apply(settle, payment, &price);
    settle_fx_book(settle, payment, legs, count, timestamp);
    return KHORGOS_SETTLE_settled;
}

u32 settle_fx_retry(struct settle *settle, u32 payment, u64 timestamp) {
    ASSERT(settle->payments[payment].state == KHORGOS_PAYMENT_QUEUED);
    ASSERT(settle_fx_payment_is(&settle->payments[payment]));
    return settle_fx_try(settle, payment, timestamp);
}

/* Whether fifo holds the payer's queue at this priority (a queued one of it or higher). */
static bool settle_fx_queue_holds(const struct settle *settle, u32 slot, u32 priority) {
    ASSERT(settle->positions[slot].in_use);
    const struct settle_position *position = &settle->positions[slot];
    ASSERT(priority < KHORGOS_PRIORITY_COUNT);
    if (settle->currencies[position->currency].queue_mode != KHORGOS_QUEUE_MODE_FIFO) return false;
    for (u32 level = 0; level <= priority; level++) {
        if (position->queue_head[level] != SETTLE_NONE) return true;
    }
    return false;
}

/* Entering a valid gross cross-currency payment whose days are open, first part: settles it
 * alone when it can (returns settled), rejects it (returns the rejection's status), or returns
 * the reason it would wait, with *may_offset when it may try offsetting on entry first (fifo
 * does not hold it behind its payer's queue). settle_fx_enter_queue is the second part. */
u32 settle_fx_enter_try(struct settle *settle, u32 payment, u64 timestamp, bool *may_offset) {
    ASSERT(settle_fx_payment_is(&settle->payments[payment]));
    struct khorgos_payment *record = &settle->payments[payment];
    u32 slot = settle->payment_payer_slot[payment];
    const struct settle_currency *currency = &settle->currencies[settle->positions[slot].currency];
    ASSERT(record->state == 0);
    bool held = settle_fx_queue_holds(settle, slot, record->priority);
    u32 status = KHORGOS_SETTLE_queued;
    if (!held) {
        status = settle_fx_try(settle, payment, timestamp);
        if (status == KHORGOS_SETTLE_settled) return status;
    } else {
        struct settle_fx_price price; /* still reject what has no route at all */
        u32 priced = settle_fx_price(settle, payment, timestamp, &price);
        if (priced == KHORGOS_SETTLE_no_route) status = priced;
        if (priced == KHORGOS_SETTLE_ok && record->amount_kind == KHORGOS_AMOUNT_CREDITOR) {
            record->amount = price.source;
        }
    }
    if (status == KHORGOS_SETTLE_no_route || status == KHORGOS_SETTLE_participant_suspended ||
        status == KHORGOS_SETTLE_creditor_suspended || status == KHORGOS_SETTLE_capacity_full ||
        currency->queue_mode == KHORGOS_QUEUE_MODE_NONE) {
        if (status == KHORGOS_SETTLE_queued) status = KHORGOS_SETTLE_insufficient_funds;
        settle_payment_finish(settle, payment, KHORGOS_PAYMENT_REJECTED, status, timestamp);
        return status;
    }
    *may_offset = !held;
    ASSERT(record->state == 0);
    return status;
}

/* The second part: queues the payment in its payer's queue with the reason it waits. */
u32 settle_fx_enter_queue(struct settle *settle, u32 payment, u32 reason) {
    struct khorgos_payment *record = &settle->payments[payment];
    u32 slot = settle->payment_payer_slot[payment];
    ASSERT(record->state == 0 && settle_fx_payment_is(record));
    settle_queue_append(settle, payment);
    record->reason = reason;
    if (!settle->fx.slot_fx_queued[slot]) {
        settle->fx.slot_fx_queued[slot] = 1;
        settle->fx.queued_slot_count++;
    }
    if (record->settle_by != 0) settle_timer_push(settle, record->settle_by, payment);
    ASSERT(record->state == KHORGOS_PAYMENT_QUEUED);
    return KHORGOS_SETTLE_queued;
}

/* After a request: puts every payer queue holding cross-currency payments on the retry list
 * (a provider's funds, a quote or a limit elsewhere may have released them); false when there
 * is none, true when the caller is to run the retries (settle_apply.c). */
bool settle_fx_retry_mark(struct settle *settle) {
    struct settle_fx *fx = &settle->fx;
    ASSERT(settle->chain_count == 0);
    ASSERT(fx->queued_slot_count <= settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX);
    if (fx->queued_slot_count == 0) return false;
    u32 slots = settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
    for (u32 slot = 0; slot < slots; slot++) {
        if (!fx->slot_fx_queued[slot]) continue;
        if (settle->positions[slot].queued_count == 0) {
            fx->slot_fx_queued[slot] = 0;
            fx->queued_slot_count--;
            continue;
        }
        settle_retry_add(settle, slot);
    }
    return true;
}

/* ----------------------------------------------------------------------------------------- */
/* Liquidity saving: queued cross-currency payments in offsetting and gridlock resolution.    */

void settle_fx_lsm_begin(struct settle *settle) {
    ASSERT(settle->fx.admitted_count == 0);
    ASSERT(settle->fx.reserved_slot_count == 0);
}

/* Reserves `amount` of the slot's outflow for the run. */
static void settle_fx_lsm_reserve(struct settle *settle, u32 slot, u128 amount) {
    struct settle_fx *fx = &settle->fx;
    ASSERT(amount > 0);
    ASSERT(fx->reserved_slot_count <
           settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX);
    if (fx->slot_reserved[slot] == 0) fx->reserved_slots[fx->reserved_slot_count++] = slot;
    fx->slot_reserved[slot] += amount;
}

/* Prices the queued payment into the run's next entry and checks its legs; with `funds`, the
 * other legs' debtors must also cover them on top of what the run reserved. Returns the entry
 * (not yet counted) or NULL. */
static struct settle_fx_admitted *settle_fx_lsm_prepare(struct settle *settle, u32 payment,
                                                        u64 timestamp, bool funds) {
    struct settle_fx *fx = &settle->fx;
    const struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(record->state == KHORGOS_PAYMENT_QUEUED || record->state == 0); /* 0: entering */
    ASSERT(settle_fx_payment_is(record));
    ASSERT(fx->admitted_of[payment] == SETTLE_NONE);
    ASSERT(fx->admitted_count < settle->config.payment_count_max);
    struct settle_fx_admitted *entry = &fx->admitted[fx->admitted_count];
    if (settle_fx_price(settle, payment, timestamp, &entry->price) != KHORGOS_SETTLE_ok) {
        return NULL;
    }
    entry->leg_count = settle_fx_price_legs(settle, payment, &entry->price, entry->legs);
    for (u32 index = 0; index < entry->leg_count; index++) {
        const struct settle_fx_leg *leg = &entry->legs[index];
        bool other = funds && index > 0;
        u128 reserved = other ? fx->slot_reserved[leg->debtor_slot] : 0;
        if (settle_fx_leg_status(settle, leg, index, record->type, reserved, other) !=
            KHORGOS_SETTLE_ok) {
            return NULL;
        }
    }
    entry->room_taken = 0;
    entry->payment = payment;
    return entry;
}

bool settle_fx_lsm_admit(struct settle *settle, u32 payment, u64 timestamp, u32 *receiver_slot,
                         u128 *amount) {
    struct settle_fx_admitted *entry = settle_fx_lsm_prepare(settle, payment, timestamp, true);
    if (entry == NULL) return false;
    /* The other legs' debtors are in other currencies than the source, each slot once. */
    for (u32 index = 1; index < entry->leg_count; index++) {
        ASSERT(settle->positions[entry->legs[index].debtor_slot].currency !=
               settle->positions[entry->legs[0].debtor_slot].currency);
        settle_fx_lsm_reserve(settle, entry->legs[index].debtor_slot, entry->legs[index].amount);
    }
    settle_fx_price_take_room(settle, &entry->price);
    entry->room_taken = 1;
    settle->fx.admitted_of[payment] = settle->fx.admitted_count++;
    *receiver_slot = entry->legs[0].creditor_slot;
    *amount = entry->legs[0].amount;
    return true;
}

const struct settle_fx_admitted *settle_fx_lsm_price(struct settle *settle, u32 payment,
                                                     u64 timestamp) {
    struct settle_fx_admitted *entry = settle_fx_lsm_prepare(settle, payment, timestamp, false);
    if (entry == NULL) return NULL;
    ASSERT(entry->payment == payment && entry->room_taken == 0);
    settle->fx.admitted_of[payment] = settle->fx.admitted_count++;
    return entry;
}

bool settle_fx_lsm_admitted(const struct settle *settle, u32 payment) {
    ASSERT(payment < settle->payment_count);
    ASSERT(settle->fx.admitted_of != NULL);
    return settle->fx.admitted_of[payment] != SETTLE_NONE;
}

static struct settle_fx_admitted *settle_fx_lsm_entry(struct settle *settle, u32 payment) {
    u32 index = settle->fx.admitted_of[payment];
    ASSERT(index < settle->fx.admitted_count);
    ASSERT(settle->fx.admitted[index].payment == payment);
    return &settle->fx.admitted[index];
}

void settle_fx_lsm_take(struct settle *settle, u32 payment) {
    struct settle_fx_admitted *entry = settle_fx_lsm_entry(settle, payment);
    ASSERT(settle->payments[payment].state == 0); /* off its queue */
    if (!entry->room_taken) { /* the resolution kept every quote within its room */
        settle_fx_price_take_room(settle, &entry->price);
        entry->room_taken = 1;
    }
    settle_fx_price_record(settle, payment, &entry->price);
    ASSERT(settle->payments[payment].amount == entry->legs[0].amount);
}

u32 settle_fx_lsm_transfers(const struct settle *settle, const u32 *set, u32 count) {
    ASSERT(set != NULL);
    ASSERT(count <= settle->config.payment_count_max);
    u32 transfers = 0;
    for (u32 index = 0; index < count; index++) {
        u32 entry = settle->fx.admitted_of[set[index]];
        if (entry != SETTLE_NONE) transfers += 2 * (settle->fx.admitted[entry].leg_count - 1);
    }
    return transfers; /* each other leg and, at most, one draw per leg */
}

/* Appends, after the set's source-currency part of its chain, one credit draw per debtor slot
 * of the chosen payments' other legs that needs one, then every other leg (debtor -> creditor
 * directly). Each slot's draw covers its whole outflow in the set: nothing it receives in the
 * chain is counted, so no step takes it below zero. */
void settle_fx_lsm_book(struct settle *settle, const u32 *set, u32 count) {
    struct settle_fx *fx = &settle->fx;
    ASSERT(set != NULL && count > 0);
    for (u32 index = 0; index < fx->reserved_slot_count; index++) {
        fx->slot_reserved[fx->reserved_slots[index]] = 0; /* now: the chosen outflow */
    }
    for (u32 index = 0; index < count; index++) {
        if (fx->admitted_of[set[index]] == SETTLE_NONE) continue;
        const struct settle_fx_admitted *entry = settle_fx_lsm_entry(settle, set[index]);
        for (u32 leg = 1; leg < entry->leg_count; leg++) {
            fx->slot_reserved[entry->legs[leg].debtor_slot] += entry->legs[leg].amount;
        }
    }
    for (u32 index = 0; index < fx->reserved_slot_count; index++) {
        u32 slot = fx->reserved_slots[index];
        if (fx->slot_reserved[slot] != 0) {
            settle_credit_cover(settle, slot, fx->slot_reserved[slot]);
        }
    }
    for (u32 index = 0; index < count; index++) {
        if (fx->admitted_of[set[index]] == SETTLE_NONE) continue;
        const struct settle_fx_admitted *entry = settle_fx_lsm_entry(settle, set[index]);
        struct khorgos_payment *record = &settle->payments[set[index]];
        for (u32 leg = 1; leg < entry->leg_count; leg++) {
            const struct settle_fx_leg *other = &entry->legs[leg];
            u128 id = settle_transfer_id_next(settle, SETTLE_TRANSFER_PAYMENT);
            settle_chain_add(settle, SETTLE_TRANSFER_PAYMENT, id,
                             settle->positions[other->debtor_slot].settlement_account_id,
                             settle->positions[other->creditor_slot].settlement_account_id,
                             other->amount,
                             settle->currencies[settle->positions[other->debtor_slot].currency]
                                 .numeric,
                             record->id);
            record->transfer_id_credit = id; /* the last: the payee's leg */
        }
    }
}

void settle_fx_lsm_settled(struct settle *settle, u32 payment, u64 timestamp) {
    const struct settle_fx_admitted *entry = settle_fx_lsm_entry(settle, payment);
    struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(record->state == 0 && record->transfer_id_debit != 0);
    ASSERT(record->transfer_id_credit != 0);
    for (u32 index = 0; index < entry->leg_count; index++) {
        settle_fx_leg_settled(settle, &entry->legs[index]);
    }
    settle_payment_mark_settled(settle, payment, KHORGOS_SETTLED_IN_SET, timestamp);
}

/* Gives back the quote room of admitted payments the run did not settle and clears the run. */
void settle_fx_lsm_end(struct settle *settle) {
    struct settle_fx *fx = &settle->fx;
    ASSERT(fx->admitted_count <= settle->config.payment_count_max);
    for (u32 index = 0; index < fx->admitted_count; index++) {
        const struct settle_fx_admitted *entry = &fx->admitted[index];
        fx->admitted_of[entry->payment] = SETTLE_NONE;
        if (settle->payments[entry->payment].state == KHORGOS_PAYMENT_SETTLED) continue;
        ASSERT(settle->payments[entry->payment].state == KHORGOS_PAYMENT_QUEUED ||
               settle->payments[entry->payment].state == 0); /* 0: being entered */
        if (!entry->room_taken) continue;
        fx->quotes[entry->price.quote_first].amount_used -= entry->price.source;
        if (entry->price.quote_second != SETTLE_NONE) {
            fx->quotes[entry->price.quote_second].amount_used -= entry->price.vehicle_amount;
        }
    }
    for (u32 index = 0; index < fx->reserved_slot_count; index++) {
        fx->slot_reserved[fx->reserved_slots[index]] = 0;
    }
    fx->admitted_count = 0;
    fx->reserved_slot_count = 0;
}

/* ----------------------------------------------------------------------------------------- */
/* Submission.                                                                                */

static bool settle_fx_text_valid(const char *text, u32 size) {
    ASSERT(text != NULL);
    ASSERT(size > 0);
    u32 length = 0;
    while (length < size && text[length] != '\0') length++;
    for (u32 index = 0; index < length; index++) {
        if (text[index] < 0x20 || text[index] > 0x7E) return false;
    }
    for (u32 index = length; index < size; index++) {
        if (text[index] != '\0') return false;
    }
    return length > 0;
}

static bool settle_fx_purpose_valid(const char purpose[4]) {
    ASSERT(purpose != NULL);
    ASSERT(sizeof(((struct khorgos_payment *)0)->purpose) == 4);
    if (purpose[0] == '\0') return purpose[1] == '\0' && purpose[2] == '\0' && purpose[3] == '\0';
    for (u32 index = 0; index < 4; index++) {
        if (purpose[index] < 'A' || purpose[index] > 'Z') return false;
    }
    return true;
}

/* The fields common to every payment (as settle_payments.c checks them). */
static u32 settle_fx_common_status(const struct khorgos_payment *record, u64 timestamp) {
    ASSERT(record != NULL);
    ASSERT(timestamp > 0);
    if (record->type > KHORGOS_PAYMENT_INTERBANK) return KHORGOS_SETTLE_type_invalid;
    if (record->priority > KHORGOS_PRIORITY_NORMAL) return KHORGOS_SETTLE_priority_invalid;
    if (!settle_fx_text_valid(record->end_to_end_id, KHORGOS_END_TO_END_ID_BYTES)) {
        return KHORGOS_SETTLE_end_to_end_id_invalid;
    }
    u128 uetr = record->uetr;
    if (uetr != 0 && !(((uetr >> 76) & 0xF) == 4 && ((uetr >> 62) & 0x3) == 2)) {
        return KHORGOS_SETTLE_uetr_invalid;
    }
    if (!settle_fx_purpose_valid(record->purpose)) return KHORGOS_SETTLE_purpose_invalid;
    if (record->value_date != 0 && !settle_date_valid(record->value_date)) {
        return KHORGOS_SETTLE_value_date_invalid;
    }
    if (record->settle_by != 0 && record->settle_by <= timestamp) {
        return KHORGOS_SETTLE_settle_by_passed;
    }
    return KHORGOS_SETTLE_ok;
}

static u32 settle_fx_amount_status(const struct khorgos_payment *record, bool cross) {
    ASSERT(record != NULL);
    ASSERT(SETTLE_FX_AMOUNT_MAX <= SETTLE_LSM_AMOUNT_MAX);
    u128 amount_max = cross ? SETTLE_FX_AMOUNT_MAX : SETTLE_LSM_AMOUNT_MAX;
    if (record->amount_kind > KHORGOS_AMOUNT_CREDITOR) return KHORGOS_SETTLE_amount_kind_invalid;
    if (record->amount_kind == KHORGOS_AMOUNT_CREDITOR) {
        if (!cross) return KHORGOS_SETTLE_amount_kind_invalid;
        if (record->amount != 0) return KHORGOS_SETTLE_reserved_field;
        if (record->amount_target == 0) return KHORGOS_SETTLE_amount_must_not_be_zero;
        return record->amount_target > amount_max ? KHORGOS_SETTLE_amount_too_large
                                                  : KHORGOS_SETTLE_ok;
    }
    if (record->amount_target != 0) return KHORGOS_SETTLE_reserved_field;
    if (record->amount == 0) return KHORGOS_SETTLE_amount_must_not_be_zero;
    return record->amount > amount_max ? KHORGOS_SETTLE_amount_too_large : KHORGOS_SETTLE_ok;
}

/* Validates a new cross-currency or net payment (BICs normalised); sets its slots. */
static u32 settle_fx_payment_status(struct settle *settle, u32 payment, u64 timestamp) {
    ASSERT(payment < settle->payment_count);
    ASSERT(settle->payments[payment].state == 0);
    struct khorgos_payment *record = &settle->payments[payment];
    if (record->settlement > KHORGOS_SETTLEMENT_NET) {
        return KHORGOS_SETTLE_settlement_method_invalid;
    }
    if (!settle_bic_normalize(record->debtor) || !settle_bic_normalize(record->creditor)) {
        return KHORGOS_SETTLE_bic_invalid;
    }
    u32 payer = settle_participant_find(settle, record->debtor);
    if (payer == SETTLE_NONE) return KHORGOS_SETTLE_debtor_not_found;
    u32 payee = settle_participant_find(settle, record->creditor);
    if (payee == SETTLE_NONE) return KHORGOS_SETTLE_creditor_not_found;
    if (payer == payee) return KHORGOS_SETTLE_accounts_must_be_different;
    if (record->currency_target == record->currency) return KHORGOS_SETTLE_pair_unknown;
    u32 numeric_target = record->currency_target != 0 ? record->currency_target : record->currency;
    u32 source = settle_currency_find(settle, record->currency);
    u32 target = settle_currency_find(settle, numeric_target);
    if (khorgos_currency_by_numeric(record->currency) == NULL ||
        khorgos_currency_by_numeric(numeric_target) == NULL) {
        return KHORGOS_SETTLE_currency_invalid;
    }
    if (source == SETTLE_NONE || target == SETTLE_NONE) return KHORGOS_SETTLE_currency_not_held;
    u32 payer_slot = settle_position_slot(settle, payer, source);
    u32 payee_slot = settle_position_slot(settle, payee, target);
    if (payer_slot == SETTLE_NONE || payee_slot == SETTLE_NONE) {
        return KHORGOS_SETTLE_currency_not_held;
    }
    u32 status = settle_fx_amount_status(record, record->currency_target != 0);
    if (status == KHORGOS_SETTLE_ok) status = settle_fx_common_status(record, timestamp);
    if (status != KHORGOS_SETTLE_ok) return status;
    settle->payment_payer_slot[payment] = payer_slot;
    settle->payment_payee_slot[payment] = payee_slot;
    if (settle_participant_suspended(settle, payer)) return KHORGOS_SETTLE_participant_suspended;
    if (settle_participant_suspended(settle, payee)) return KHORGOS_SETTLE_creditor_suspended;
    return KHORGOS_SETTLE_ok;
}

/* The business days' verdict: both currencies' days open on the value date, before cut-off.
 * A cross-currency or net payment never waits for a later value date (value_date_invalid
 * instead). */
static u32 settle_fx_day_status(const struct settle *settle, u32 payment) {
    ASSERT(settle->payment_payer_slot[payment] != SETTLE_NONE);
    ASSERT(settle->payment_payee_slot[payment] != SETTLE_NONE);
    const struct khorgos_payment *record = &settle->payments[payment];
    const struct settle_currency *source =
        &settle->currencies[settle->positions[settle->payment_payer_slot[payment]].currency];
    const struct settle_currency *target =
        &settle->currencies[settle->positions[settle->payment_payee_slot[payment]].currency];
    /* The value date must be a business day of both currencies (settle_day.c, the calendar). */
    u32 value_date = record->value_date != 0 ? record->value_date : source->date;
    if (value_date != 0 &&
        (settle_holiday_is(settle, settle->positions[settle->payment_payer_slot[payment]].currency,
                           value_date) ||
         settle_holiday_is(settle, settle->positions[settle->payment_payee_slot[payment]].currency,
                           value_date))) {
        return KHORGOS_SETTLE_value_date_holiday;
    }
    if (!source->day_open || !target->day_open) return KHORGOS_SETTLE_day_not_open;
    if (record->value_date != 0 && record->value_date != source->date) {
        return KHORGOS_SETTLE_value_date_invalid;
    }
    bool customer = record->type == KHORGOS_PAYMENT_CUSTOMER;
    bool passed = customer ? source->cut_off_customer_passed || target->cut_off_customer_passed
                           : source->cut_off_interbank_passed || target->cut_off_interbank_passed;
    return passed ? KHORGOS_SETTLE_after_cut_off : KHORGOS_SETTLE_ok;
}

/* The record as submitted: out fields zero (amount zero when the creditor's was given). */
void settle_fx_input_view(struct khorgos_payment *record) {
    ASSERT(record != NULL);
    ASSERT(offsetof(struct khorgos_payment, submitted_at) <
           offsetof(struct khorgos_payment, currency_target));
    u8 kind = record->amount_kind;
    size_t out = offsetof(struct khorgos_payment, submitted_at);
    size_t out_end = offsetof(struct khorgos_payment, currency_target);
    record->state = 0;
    memset((u8 *)record + out, 0, out_end - out);
    record->route = 0;
    record->rate_exponent = 0;
    record->rate_mantissa = 0;
    record->window = 0;
    record->provider = 0;
    record->provider_vehicle = 0;
    record->reserved_3 = 0;
    if (kind == KHORGOS_AMOUNT_CREDITOR) record->amount = 0;
    else record->amount_target = 0;
}

/* Why a new cross-currency or net payment cannot be taken (its fields, then both days), ok
 * when it can. */
u32 settle_fx_submit_status(struct settle *settle, u32 payment, u64 timestamp) {
    ASSERT(payment < settle->payment_count);
    ASSERT(settle_fx_payment_is(&settle->payments[payment]));
    u32 status = settle_fx_payment_status(settle, payment, timestamp);
    if (status == KHORGOS_SETTLE_ok) status = settle_fx_day_status(settle, payment);
    return status;
}

/* ----------------------------------------------------------------------------------------- */
/* Invariants.                                                                                */

bool settle_fx_check(const struct settle *settle) {
    ASSERT(settle != NULL);
    ASSERT(settle->fx.quote_count <= SETTLE_FX_QUOTE_COUNT_MAX);
    for (u32 quote = 0; quote < settle->fx.quote_count; quote++) {
        const struct khorgos_fx_quote *record = &settle->fx.quotes[quote];
        if (record->amount_used > record->amount_max) return false;
        if (record->number != quote + 1) return false;
    }
    for (u32 payment = 0; payment < settle->payment_count; payment++) {
        const struct khorgos_payment *record = &settle->payments[payment];
        if (record->state != KHORGOS_PAYMENT_SETTLED || record->route == KHORGOS_ROUTE_NONE) {
            continue;
        }
        if (record->amount == 0 || record->amount_target == 0 || record->provider == 0) {
            return false;
        }
    }
    return true;
}

/* ----------------------------------------------------------------------------------------- */
/* Snapshot: the quotes' part of the settle section (its layout: settle_snapshot.c).          */

void settle_fx_snapshot_emit_quotes(const struct settle *settle, settle_snapshot_put put,
                                    void *context) {
    const struct settle_fx *fx = &settle->fx;
    ASSERT(put != NULL);
    ASSERT(fx->quote_count <= SETTLE_FX_QUOTE_COUNT_MAX);
    put(context, fx->quotes, (u64)fx->quote_count * sizeof(*fx->quotes));
    put(context, fx->quote_provider, (u64)fx->quote_count * 4);
}

void settle_fx_snapshot_emit_payments(const struct settle *settle, settle_snapshot_put put,
                                      void *context) {
    const struct settle_fx *fx = &settle->fx;
    ASSERT(put != NULL);
    u64 payments = settle->payment_count;
    put(context, fx->amount_vehicle, payments * 16);
    put(context, fx->vehicle_numeric_of, payments * 4);
    put(context, fx->quote_first_of, payments * 4);
    put(context, fx->quote_second_of, payments * 4);
    put(context, fx->slot_fx_queued,
        (u64)settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX);
}

/* Reads what settle_fx_snapshot_emit_quotes wrote, `quote_count` quotes (checked by the
 * caller), through `get` (ok, or its error). */
khorgos_error settle_fx_snapshot_read_quotes(struct settle *settle, u32 quote_count,
                                             settle_snapshot_get get, void *context) {
    struct settle_fx *fx = &settle->fx;
    ASSERT(get != NULL);
    ASSERT(fx->quote_count == 0 && quote_count <= SETTLE_FX_QUOTE_COUNT_MAX);
    fx->quote_count = quote_count;
    khorgos_error error = get(context, fx->quotes, (u64)fx->quote_count * sizeof(*fx->quotes));
    if (error != KHORGOS_ERROR_ok) return error;
    return get(context, fx->quote_provider, (u64)fx->quote_count * 4);
}

/* Reads what settle_fx_snapshot_emit_payments wrote (ok, or its error); corrupt when the quotes
 * do not rebuild their map. */
khorgos_error settle_fx_snapshot_read_payments(struct settle *settle, settle_snapshot_get get,
                                               void *context) {
    struct settle_fx *fx = &settle->fx;
    ASSERT(get != NULL);
    ASSERT(fx->quote_count <= SETTLE_FX_QUOTE_COUNT_MAX);
    u64 payments = settle->payment_count;
    void *targets[] = {fx->amount_vehicle, fx->vehicle_numeric_of, fx->quote_first_of,
                       fx->quote_second_of, fx->slot_fx_queued};
    u64 sizes[] = {payments * 16, payments * 4, payments * 4, payments * 4,
                   (u64)settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX};
    khorgos_error error = KHORGOS_ERROR_ok;
    for (u32 index = 0; error == KHORGOS_ERROR_ok && index < ARRAY_COUNT(targets); index++) {
        error = get(context, targets[index], sizes[index]);
    }
    if (error != KHORGOS_ERROR_ok) return error;
    struct settle_scoped_ids ids = settle_fx_scoped_quotes(settle);
    for (u32 quote = 0; quote < fx->quote_count; quote++) {
        u128 id = fx->quotes[quote].id;
        if (id == 0 || fx->quote_provider[quote] >= settle->participant_count ||
            !settle_scoped_insert(&fx->quote_map, fx->quote_same_id, &ids, id, quote)) {
            return KHORGOS_ERROR_corrupt;
        }
    }
    return KHORGOS_ERROR_ok;
}
