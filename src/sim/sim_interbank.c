/*
 * sim_interbank.c: an interbank layer added to a generated day of trade invoices, the first
 * step towards a realistic RTGS day (docs/simulation.md, "The interbank layer"). Real
 * large-value days are dominated by payments between banks; trade alone runs one way and leaves
 * liquidity saving nothing to save. Per currency whose country has at least two banks:
 *
 *   - the core: the country's (up to) SIM_INTERBANK_CORE_COUNT largest banks by weight;
 *   - events, SIM_INTERBANK_EVENTS_PER_TRADE_PAYMENT_DIVISOR times fewer than the trade
 *     payments paid in the currency (at least SIM_INTERBANK_EVENTS_MIN), each of one kind:
 *       money market (30%): a bank repays yesterday's overnight loan early (08:30-10:30) at
 *         principal x (1 + 5% / 360) and borrows again from the same lender in the afternoon
 *         (15:00 to the customer cut-off): relationship lending, as Furfine's loans show;
 *       fx (25%): a bank and the first provider holding the currency pay each other the legs
 *         of two opposite trades at two random times, the second within 30% of the first;
 *       securities (25%): two banks pay each other cash legs of an hourly batch (09:00 ..
 *         16:00), the second within two minutes of the first (not in the same second: the
 *         engine settles a second's payments one after another, the bounds all at once) and
 *         half to one and a half of it;
 *       other (20%): a correspondent or cover payment each way between a core and another bank
 *         at two random times;
 *     two thirds of the events are between core banks, the rest between the core and another
 *     bank (a core-periphery network with reciprocity);
 *   - sizes log-normal with sigma 1.5 (a heavy tail), rescaled so that the currency's interbank
 *     value is SIM_INTERBANK_VALUE_PER_TRADE_VALUE times its trade value (trade then about 20%
 *     of the day's value, the reference's calibration).
 *
 * Each currency has its own random stream (seed + (currency + 1) x a constant apart from the
 * pairs' streams), so the trade payments are unchanged and the layer is deterministic. The day
 * is sorted again by submission time and renumbered 1..n (trade payments first at a tie).
 */
#include "sim/sim.h"

#include <math.h>
#include <stdlib.h>

/* Core banks per currency: the reference's 4-5 money-centre banks. */
#define SIM_INTERBANK_CORE_COUNT 4u
/* Events: one per five trade payments in the currency, at least eight. */
#define SIM_INTERBANK_EVENTS_PER_TRADE_PAYMENT_DIVISOR 5u
#define SIM_INTERBANK_EVENTS_MIN 8u
/* Interbank value = 4 x trade value: trade about 20% of the day. */
#define SIM_INTERBANK_VALUE_PER_TRADE_VALUE 4u
/* Log-normal sigma of the sizes, x 10^3. */
#define SIM_INTERBANK_SIGMA_MILLI 1500u
/* The overnight rate of the repayment: 5% a year, 360-day basis. */
#define SIM_INTERBANK_RATE_PER_MILLE 50u
#define SIM_INTERBANK_STREAM_GAMMA 0xD1B54A32D192ED03ull

enum sim_interbank_event { EVENT_MONEY_MARKET, EVENT_FX, EVENT_SECURITIES, EVENT_OTHER };

struct sim_interbank_context {
    const struct sim_scenario *scenario;
    struct sim_day *day;
    struct sim_random random;
    u32 currency;
    u16 banks[SIM_BANK_COUNT_MAX];    /* the country's banks, largest first */
    u32 bank_count;
    u16 provider;                     /* SIM_NONE when no provider holds the currency */
    u32 first;                        /* the currency's first added payment */
};

u32 sim_interbank_count_max(const struct sim_scenario *scenario, u32 trade_count) {
    ASSERT(scenario != NULL);
    ASSERT(scenario->currency_count <= SIM_CURRENCY_COUNT_MAX);
    /* Two payments per event, events at most trade_count / divisor + minimum per currency. */
    u64 events = trade_count / SIM_INTERBANK_EVENTS_PER_TRADE_PAYMENT_DIVISOR +
                 (u64)SIM_INTERBANK_EVENTS_MIN * scenario->currency_count;
    return (u32)MIN(2 * events, (u64)SIM_PAYMENT_COUNT_MAX);
}

/* The currency's country banks, largest first, and a provider holding it (quoting it). */
static void sim_interbank_members(struct sim_interbank_context *context) {
    const struct sim_scenario *scenario = context->scenario;
    ASSERT(context->currency < scenario->currency_count);
    context->bank_count = 0;
    for (u32 bank = 0; bank < scenario->bank_count; bank++) {
        const struct sim_bank *entry = &scenario->banks[bank];
        if (entry->role == SIM_ROLE_BANK &&
            scenario->countries[entry->country].currency == context->currency) {
            context->banks[context->bank_count++] = (u16)bank;
        }
    }
    for (u32 index = 1; index < context->bank_count; index++) { /* largest weight first */
        u16 bank = context->banks[index];
        u32 at = index;
        while (at > 0 && scenario->banks[context->banks[at - 1]].weight_micro <
                             scenario->banks[bank].weight_micro) {
            context->banks[at] = context->banks[at - 1];
            at--;
        }
        context->banks[at] = bank;
    }
    context->provider = SIM_NONE;
    for (u32 quote = 0; quote < scenario->quote_count && context->provider == SIM_NONE; quote++) {
        if (scenario->quotes[quote].from == context->currency ||
            scenario->quotes[quote].to == context->currency) {
            context->provider = scenario->quotes[quote].provider;
        }
    }
    ASSERT(context->bank_count <= SIM_BANK_COUNT_MAX);
}

/* Two different banks: both core (two thirds), or a core bank and another. */
static void sim_interbank_pair(struct sim_interbank_context *context, u16 *first, u16 *second) {
    ASSERT(context->bank_count >= 2);
    u32 core = MIN(context->bank_count, SIM_INTERBANK_CORE_COUNT);
    u32 a = (u32)sim_random_below(&context->random, core);
    u32 b = a;
    if (core >= 2 && (context->bank_count == core || sim_random_below(&context->random, 3) < 2)) {
        while (b == a) b = (u32)sim_random_below(&context->random, core);
    } else {
        b = core + (u32)sim_random_below(&context->random, context->bank_count - core);
    }
    ASSERT(a != b);
    bool swap = sim_random_below(&context->random, 2) == 1;
    *first = context->banks[swap ? b : a];
    *second = context->banks[swap ? a : b];
}

/* A time in [from, to) seconds since the opening. */
static u32 sim_interbank_time(struct sim_interbank_context *context, u32 from, u32 to) {
    ASSERT(from < to);
    return from + (u32)sim_random_below(&context->random, to - from);
}

/* Appends one payment; `amount` is in relative units until the currency is rescaled. */
static void sim_interbank_payment(struct sim_interbank_context *context, u16 debtor,
                                  u16 creditor, u32 submitted_at, u128 amount, u8 kind) {
    struct sim_day *day = context->day;
    ASSERT(day->count < day->count_max && debtor != creditor);
    ASSERT(submitted_at < day->customer_cutoff_seconds);
    struct sim_payment *payment = &day->payments[day->count];
    memset(payment, 0, sizeof(*payment));
    payment->amount = MAX(amount, (u128)1);
    payment->id = day->count + 1; /* order of generation, for ties */
    payment->submitted_at = submitted_at;
    payment->debtor = debtor;
    payment->creditor = creditor;
    payment->pair = SIM_PAIR_NONE;
    payment->currency = (u8)context->currency;
    payment->creditor_currency = (u8)context->currency;
    payment->priority = SIM_PRIORITY_NORMAL;
    payment->type = SIM_PAYMENT_INTERBANK;
    payment->kind = kind;
    day->count++;
}

static void sim_interbank_event(struct sim_interbank_context *context, u128 size) {
    const struct sim_scenario *scenario = context->scenario;
    u32 open = 0, cutoff = context->day->customer_cutoff_seconds;
    u32 ten_thirty = MIN(2 * 3600u, cutoff - 1), three = cutoff > 2 * 3600 ? cutoff - 2 * 3600 : 0;
    u64 kind_draw = sim_random_below(&context->random, 100);
    u16 a = 0, b = 0;
    sim_interbank_pair(context, &a, &b);
    ASSERT(scenario->day_open_seconds < scenario->customer_cutoff_seconds);
    if (kind_draw < 30) { /* b repays a yesterday's loan, then borrows again from it */
        u128 repaid = size + size * SIM_INTERBANK_RATE_PER_MILLE / 1000 / 360;
        sim_interbank_payment(context, b, a, sim_interbank_time(context, open, ten_thirty),
                              repaid, SIM_KIND_MONEY_MARKET);
        u128 lent = size * (70 + sim_random_below(&context->random, 61)) / 100;
        sim_interbank_payment(context, a, b, sim_interbank_time(context, three, cutoff), lent,
                              SIM_KIND_MONEY_MARKET);
    } else if (kind_draw < 55 && context->provider != SIM_NONE) {
        u128 second = size * (70 + sim_random_below(&context->random, 61)) / 100;
        sim_interbank_payment(context, a, context->provider,
                              sim_interbank_time(context, open, cutoff), size, SIM_KIND_FX);
        sim_interbank_payment(context, context->provider, a,
                              sim_interbank_time(context, open, cutoff), second, SIM_KIND_FX);
    } else if (kind_draw < 80) { /* both cash legs in one hourly batch */
        u32 batches = MAX(cutoff / 3600, 1u);
        u32 batch = MIN((1 + (u32)sim_random_below(&context->random, batches)) * 3600, cutoff - 1);
        u128 second = size * (50 + sim_random_below(&context->random, 101)) / 100;
        u32 later = MIN(batch + 1 + (u32)sim_random_below(&context->random, 120), cutoff - 1);
        sim_interbank_payment(context, a, b, batch, size, SIM_KIND_SECURITIES);
        sim_interbank_payment(context, b, a, later, second, SIM_KIND_SECURITIES);
    } else {
        sim_interbank_payment(context, a, b, sim_interbank_time(context, open, cutoff), size,
                              SIM_KIND_OTHER);
        sim_interbank_payment(context, b, a, sim_interbank_time(context, open, cutoff),
                              size * (50 + sim_random_below(&context->random, 101)) / 100,
                              SIM_KIND_OTHER);
    }
}

/* Rescales the currency's added payments to `target` minor units in all, in integers. */
static void sim_interbank_rescale(struct sim_interbank_context *context, u128 target) {
    struct sim_day *day = context->day;
    ASSERT(context->first <= day->count);
    u128 total = 0;
    for (u32 index = context->first; index < day->count; index++) {
        total += day->payments[index].amount;
    }
    if (total == 0) return;
    ASSERT(target / total < ((u128)1 << 64));
    for (u32 index = context->first; index < day->count; index++) {
        struct sim_payment *payment = &day->payments[index];
        double share = (double)payment->amount / (double)total;
        u128 amount = (u128)(share * (double)target);
        payment->amount = MIN(MAX(amount, (u128)1), SIM_AMOUNT_MAX);
    }
}

static int sim_interbank_payment_compare(const void *left, const void *right) {
    const struct sim_payment *a = left, *b = right;
    if (a->submitted_at != b->submitted_at) return a->submitted_at < b->submitted_at ? -1 : 1;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return 0;
}

khorgos_error sim_interbank_add(const struct sim_scenario *scenario, u64 seed,
                                struct sim_day *day) {
    ASSERT(scenario != NULL && day != NULL);
    ASSERT(day->customer_cutoff_seconds > 0);
    static _Thread_local struct sim_interbank_context context; /* the bank list is 2 KiB */
    u32 trade_count = day->count;
    if (day->count_max - day->count < sim_interbank_count_max(scenario, trade_count)) {
        return KHORGOS_ERROR_capacity_full;
    }
    for (u32 currency = 0; currency < scenario->currency_count; currency++) {
        context = (struct sim_interbank_context){.scenario = scenario, .day = day,
                                                 .currency = currency, .first = day->count};
        sim_interbank_members(&context);
        if (context.bank_count < 2) continue;
        u32 paid = 0;
        u128 value = 0;
        for (u32 index = 0; index < trade_count; index++) {
            if (day->payments[index].currency != currency) continue;
            paid++;
            value += day->payments[index].amount;
        }
        sim_random_seed(&context.random, seed + (u64)(currency + 1) * SIM_INTERBANK_STREAM_GAMMA);
        u32 events = MAX(paid / SIM_INTERBANK_EVENTS_PER_TRADE_PAYMENT_DIVISOR,
                         SIM_INTERBANK_EVENTS_MIN);
        double sigma = SIM_INTERBANK_SIGMA_MILLI / 1000.0;
        for (u32 event = 0; event < events; event++) {
            double normal = sqrt(-2.0 * log(sim_random_unit(&context.random))) *
                            cos(2.0 * 3.14159265358979323846 * sim_random_unit(&context.random));
            sim_interbank_event(&context, (u128)(1e6 * exp(sigma * normal)) + 1);
        }
        u128 target = value > 0 ? value * SIM_INTERBANK_VALUE_PER_TRADE_VALUE
                                : sim_scenario_from_usd_cents(scenario, currency, 100000000000ull);
        sim_interbank_rescale(&context, target);
    }
    qsort(day->payments, day->count, sizeof(struct sim_payment), sim_interbank_payment_compare);
    for (u32 index = 0; index < day->count; index++) day->payments[index].id = index + 1;
    return KHORGOS_ERROR_ok;
}
