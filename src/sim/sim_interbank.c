/*
 * sim_interbank.c: the interbank layer of the default day (docs/simulation.md, "The interbank
 * layer"), added to the generated trade invoices. Real large-value days are dominated by
 * payments between banks; trade alone runs one way and leaves liquidity saving nothing to save.
 * Per currency whose country has at least two banks:
 *
 *   - the core: the country's (up to) SIM_INTERBANK_CORE_COUNT largest banks by weight, and in
 *     the KZT and RUB ledgers also China's largest bank (the yuan clearing bank);
 *   - events, one per SIM_INTERBANK_EVENTS_PER_TRADE_PAYMENT_DIVISOR trade payments expected in
 *     the currency (at least SIM_INTERBANK_EVENTS_MIN; the same count for every seed), each of
 *     one kind:
 *       money market (30%): a bank repays yesterday's overnight loan early (08:30-10:30) at
 *         principal x (1 + 5% / 360), half of them with priority high, and borrows again from
 *         the same lender in the afternoon (15:00 to the interbank cut-off): relationship
 *         lending, as Furfine's loans show;
 *       fx (25%): a bank and the first provider holding the currency pay each other the legs
 *         of two opposite trades, the first at a time rising through the day (the later of
 *         two uniform draws: the late peak), the second 1 to 300 seconds after it;
 *       securities (25%): two banks pay each other cash legs of an hourly batch (09:30 ..
 *         16:30, the first leg in the batch's first minute), the second 1 to 120 seconds
 *         after the first and half to one and a half of it;
 *       other (15%): a correspondent or cover payment each way between two banks, the first
 *         as the fx ones, the second 1 to 15 minutes after it;
 *       central-bank operations (5%, kind other): a bank repays the settlement agent's credit
 *         in the first hour and the agent lends 70-100% of it again in the afternoon, both
 *         urgent (the only urgent payments of the day);
 *     two thirds of the events are between core banks, the rest between the core and another
 *     bank (a core-periphery network with reciprocity);
 *   - sizes log-normal with sigma 1.5 (a heavy tail), rescaled so that the currency's interbank
 *     value is SIM_INTERBANK_VALUE_PER_TRADE_VALUE times its trade value (trade then about 20%
 *     of the day's value, the reference's calibration).
 *
 * No interbank payment shares its second with another payment of its participants in its
 * currency (sim_interbank_separate): the engine settles a second's payments one after another,
 * the bounds all at once. Each currency has its own random stream (seed + (currency + 1) x a
 * constant apart from the pairs' streams), so the trade payments are unchanged and the layer
 * is deterministic. The day is sorted again by submission time and renumbered 1..n (trade
 * payments first at a tie).
 */
#include "sim/sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Core banks per currency: the reference's 4-5 money-centre banks. */
#define SIM_INTERBANK_CORE_COUNT 4u
/* Events: one per five trade payments expected in the currency, at least eight. */
#define SIM_INTERBANK_EVENTS_PER_TRADE_PAYMENT_DIVISOR 5u
#define SIM_INTERBANK_EVENTS_MIN 8u
/* Interbank value = 4 x trade value: trade about 20% of the day. */
#define SIM_INTERBANK_VALUE_PER_TRADE_VALUE 4u
/* Money-market repayments sent with priority high (the rest normal). */
#define SIM_INTERBANK_REPAYMENT_HIGH_PERCENT 50u
/* Events that are central-bank operations (urgent), out of 100. */
#define SIM_INTERBANK_CENTRAL_BANK_PERCENT 5u
/* Log-normal sigma of the sizes, x 10^3. */
#define SIM_INTERBANK_SIGMA_MILLI 1500u
/* The overnight rate of the repayment: 5% a year, 360-day basis. */
#define SIM_INTERBANK_RATE_PER_MILLE 50u
/* Passes that move colliding payments apart: a few suffice in practice. */
#define SIM_INTERBANK_SEPARATE_PASS_COUNT_MAX 64u
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
    u16 agent;                        /* the currency's settlement agent, or SIM_NONE */
    u32 core_count;                   /* the first core_count of banks[] are the core */
    u32 interbank_cutoff;             /* seconds since the opening */
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

/* The yuan clearing bank (the reference's ICBC Almaty and ICBC Moscow): in a KZT or RUB
 * ledger, China's largest bank joins the core, second after the country's largest. */
static void sim_interbank_clearing_bank(struct sim_interbank_context *context) {
    const struct sim_scenario *scenario = context->scenario;
    const char *letters = scenario->currencies[context->currency].letters;
    ASSERT(context->bank_count < SIM_BANK_COUNT_MAX);
    if (context->bank_count < 2 || (strcmp(letters, "KZT") != 0 && strcmp(letters, "RUB") != 0)) {
        return;
    }
    int yuan = sim_scenario_currency_find(scenario, "CNY");
    u32 clearing = SIM_NONE;
    for (u32 bank = 0; bank < scenario->bank_count && yuan >= 0; bank++) {
        const struct sim_bank *entry = &scenario->banks[bank];
        if (entry->role == SIM_ROLE_BANK &&
            scenario->countries[entry->country].currency == (u32)yuan &&
            (clearing == SIM_NONE ||
             entry->weight_micro > scenario->banks[clearing].weight_micro)) {
            clearing = bank;
        }
    }
    if (clearing == SIM_NONE) return;
    memmove(&context->banks[2], &context->banks[1], (context->bank_count - 1) * sizeof(u16));
    context->banks[1] = (u16)clearing;
    context->bank_count++;
    context->core_count++;
    ASSERT(context->core_count <= context->bank_count);
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
    context->core_count = MIN(context->bank_count, SIM_INTERBANK_CORE_COUNT);
    sim_interbank_clearing_bank(context);
    int agent = sim_scenario_agent_of(scenario, context->currency);
    context->agent = agent >= 0 ? (u16)agent : SIM_NONE;
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
    u32 core = context->core_count;
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
    u32 time = from + (u32)sim_random_below(&context->random, to - from);
    ASSERT(time < to);
    return time;
}

/* A time in [from, to) with a density rising through the day (the later of two uniform
 * draws): the late peak of large-value systems, where banks wait to reuse incoming funds. */
static u32 sim_interbank_time_late(struct sim_interbank_context *context, u32 from, u32 to) {
    ASSERT(from < to);
    u32 one = sim_interbank_time(context, from, to);
    u32 two = sim_interbank_time(context, from, to);
    ASSERT(one < to && two < to);
    return MAX(one, two);
}

/* Appends one payment; `amount` is in relative units until the currency is rescaled. */
static void sim_interbank_payment(struct sim_interbank_context *context, u16 debtor,
                                  u16 creditor, u32 submitted_at, u128 amount, u8 kind,
                                  u8 priority) {
    struct sim_day *day = context->day;
    ASSERT(day->count < day->count_max && debtor != creditor);
    ASSERT(submitted_at < context->interbank_cutoff);
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
    payment->priority = priority;
    payment->type = SIM_PAYMENT_INTERBANK;
    payment->kind = kind;
    day->count++;
}

/* The second leg of a crossing pair: `from` + [min, max] seconds, before `end`. */
static u32 sim_interbank_later(struct sim_interbank_context *context, u32 from, u32 min,
                               u32 max, u32 end) {
    ASSERT(min <= max && from < end);
    u32 later = from + min + (u32)sim_random_below(&context->random, max - min + 1);
    ASSERT(end > 0);
    return MIN(later, end - 1);
}

/* A money-market loan: b repays a yesterday's loan in the morning (high priority in a share),
 * then borrows again from it in the afternoon, up to the interbank cut-off. */
static void sim_interbank_money_market(struct sim_interbank_context *context, u16 a, u16 b,
                                       u128 size) {
    const struct sim_day *day = context->day;
    u32 ten_thirty = MIN(2 * 3600u, day->customer_cutoff_seconds - 1);
    u32 three = day->customer_cutoff_seconds > 2 * 3600 ? day->customer_cutoff_seconds - 2 * 3600
                                                         : 0;
    ASSERT(context->interbank_cutoff > three);
    ASSERT(a != b);
    u128 repaid = size + size * SIM_INTERBANK_RATE_PER_MILLE / 1000 / 360;
    bool high = sim_random_below(&context->random, 100) < SIM_INTERBANK_REPAYMENT_HIGH_PERCENT;
    sim_interbank_payment(context, b, a, sim_interbank_time(context, 0, ten_thirty), repaid,
                          SIM_KIND_MONEY_MARKET, high ? SIM_PRIORITY_HIGH : SIM_PRIORITY_NORMAL);
    u128 lent = size * (70 + sim_random_below(&context->random, 61)) / 100;
    sim_interbank_payment(context, a, b,
                          sim_interbank_time(context, three, context->interbank_cutoff), lent,
                          SIM_KIND_MONEY_MARKET, SIM_PRIORITY_NORMAL);
}

/* A central-bank operation, urgent both ways: a bank repays the agent's credit of yesterday
 * in the first hour, and the agent lends it 70-100% of that again in the afternoon. */
static void sim_interbank_central_bank(struct sim_interbank_context *context, u16 bank,
                                       u128 size) {
    u32 cutoff = context->day->customer_cutoff_seconds;
    ASSERT(context->agent != SIM_NONE && cutoff > 3600);
    ASSERT(bank != context->agent);
    u32 afternoon = cutoff > 2 * 3600 ? cutoff - 2 * 3600 : 3600;
    sim_interbank_payment(context, bank, context->agent, sim_interbank_time(context, 0, 3600),
                          size, SIM_KIND_OTHER, SIM_PRIORITY_URGENT);
    u128 lent = size * (70 + sim_random_below(&context->random, 31)) / 100;
    sim_interbank_payment(context, context->agent, bank,
                          sim_interbank_time(context, afternoon, cutoff), lent, SIM_KIND_OTHER,
                          SIM_PRIORITY_URGENT);
}

static void sim_interbank_event(struct sim_interbank_context *context, u128 size) {
    u32 cutoff = context->day->customer_cutoff_seconds;
    u64 kind_draw = sim_random_below(&context->random, 100);
    u16 a = 0, b = 0;
    sim_interbank_pair(context, &a, &b);
    ASSERT(cutoff > 3600);
    ASSERT(a != b);
    if (kind_draw < 30) {
        sim_interbank_money_market(context, a, b, size);
    } else if (kind_draw < 55 && context->provider != SIM_NONE) { /* opposite FX trades */
        u128 second = size * (70 + sim_random_below(&context->random, 61)) / 100;
        u32 first_at = sim_interbank_time_late(context, 0, cutoff);
        sim_interbank_payment(context, a, context->provider, first_at, size, SIM_KIND_FX,
                              SIM_PRIORITY_NORMAL);
        sim_interbank_payment(context, context->provider, a,
                              sim_interbank_later(context, first_at, 1, 300, cutoff), second,
                              SIM_KIND_FX, SIM_PRIORITY_NORMAL);
    } else if (kind_draw < 80) { /* both cash legs in one hourly batch */
        u32 batches = MAX(cutoff / 3600, 1u);
        u32 batch = MIN((1 + (u32)sim_random_below(&context->random, batches)) * 3600 +
                            (u32)sim_random_below(&context->random, 60),
                        cutoff - 1);
        u128 second = size * (50 + sim_random_below(&context->random, 101)) / 100;
        sim_interbank_payment(context, a, b, batch, size, SIM_KIND_SECURITIES,
                              SIM_PRIORITY_NORMAL);
        sim_interbank_payment(context, b, a, sim_interbank_later(context, batch, 1, 120, cutoff),
                              second, SIM_KIND_SECURITIES, SIM_PRIORITY_NORMAL);
    } else if (kind_draw < 100 - SIM_INTERBANK_CENTRAL_BANK_PERCENT ||
               context->agent == SIM_NONE) { /* correspondent and cover, crossing */
        u32 first_at = sim_interbank_time_late(context, 0, cutoff);
        sim_interbank_payment(context, a, b, first_at, size, SIM_KIND_OTHER, SIM_PRIORITY_NORMAL);
        sim_interbank_payment(context, b, a,
                              sim_interbank_later(context, first_at, 60, 900, cutoff),
                              size * (50 + sim_random_below(&context->random, 101)) / 100,
                              SIM_KIND_OTHER, SIM_PRIORITY_NORMAL);
    } else {
        sim_interbank_central_bank(context, a, size);
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

/* Events in a currency: one per SIM_INTERBANK_EVENTS_PER_TRADE_PAYMENT_DIVISOR trade payments
 * expected in it (the pairs' invoicing shares weighted by their value, which the pairs' payment
 * counts follow), the same for every seed, so that every seed's day has as many payments. */
static u32 sim_interbank_event_count(const struct sim_scenario *scenario, u32 currency,
                                     u32 trade_count) {
    ASSERT(currency < scenario->currency_count);
    ASSERT(scenario->pair_count <= SIM_PAIR_COUNT_MAX);
    u128 weighted = 0, total = 0;
    for (u32 pair = 0; pair < scenario->pair_count; pair++) {
        u64 daily = sim_pair_daily_usd_cents(scenario, pair);
        total += (u128)daily * 100;
        for (u32 mix = 0; mix < scenario->pairs[pair].mix_count; mix++) {
            if (scenario->pairs[pair].mix[mix].currency == currency) {
                weighted += (u128)daily * scenario->pairs[pair].mix[mix].percent;
            }
        }
    }
    if (total == 0) return 0;
    return (u32)((u128)trade_count * weighted / total /
                 SIM_INTERBANK_EVENTS_PER_TRADE_PAYMENT_DIVISOR);
}

static int sim_interbank_payment_compare(const void *left, const void *right) {
    const struct sim_payment *a = left, *b = right;
    ASSERT(a != NULL && b != NULL);
    if (a->submitted_at != b->submitted_at) return a->submitted_at < b->submitted_at ? -1 : 1;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return 0;
}

/* Whether the payment at `index` shares its second and currency with an earlier payment of
 * one of its two participants. */
static bool sim_interbank_collides(const struct sim_day *day, u32 index) {
    const struct sim_payment *payment = &day->payments[index];
    ASSERT(index < day->count);
    for (u32 at = index; at > 0 && day->payments[at - 1].submitted_at == payment->submitted_at;
         at--) {
        const struct sim_payment *other = &day->payments[at - 1];
        bool shared = other->debtor == payment->debtor || other->debtor == payment->creditor ||
                      other->creditor == payment->debtor || other->creditor == payment->creditor;
        if (shared && (other->currency == payment->currency ||
                       other->creditor_currency == payment->currency)) {
            return true;
        }
    }
    ASSERT(payment->id > 0);
    return false;
}

/* Moves each interbank payment that shares a second with another payment of one of its
 * participants in its currency a second later (two earlier at the last second it may be sent:
 * the interbank cut-off for a loan, the customer cut-off for the rest), and sorts again,
 * until none does: the engine settles a second's payments one after another while the bounds
 * settle them together, so at a = 1 such a pair could wait. Trade payments never move. */
static void sim_interbank_separate(struct sim_day *day, u32 interbank_cutoff) {
    ASSERT(interbank_cutoff >= day->customer_cutoff_seconds && day->customer_cutoff_seconds > 2);
    bool moved = true;
    for (u32 pass = 0; moved && pass < SIM_INTERBANK_SEPARATE_PASS_COUNT_MAX; pass++) {
        moved = false;
        for (u32 index = 0; index < day->count; index++) {
            struct sim_payment *payment = &day->payments[index];
            if (payment->kind == SIM_KIND_TRADE || !sim_interbank_collides(day, index)) continue;
            u32 cutoff = payment->kind == SIM_KIND_MONEY_MARKET ? interbank_cutoff
                                                                : day->customer_cutoff_seconds;
            payment->submitted_at += payment->submitted_at + 1 < cutoff ? 1 : -2;
            moved = true;
        }
        qsort(day->payments, day->count, sizeof(struct sim_payment),
              sim_interbank_payment_compare);
    }
    ASSERT(day->count == 0 || day->payments[day->count - 1].submitted_at < interbank_cutoff);
}

khorgos_error sim_interbank_add(const struct sim_scenario *scenario, u64 seed,
                                struct sim_day *day) {
    ASSERT(scenario != NULL && day != NULL);
    ASSERT(day->customer_cutoff_seconds > 0);
    static _Thread_local struct sim_interbank_context context; /* the bank list is 2 KiB */
    u32 interbank_cutoff = scenario->interbank_cutoff_seconds - scenario->day_open_seconds;
    u32 trade_count = day->count;
    if (day->count_max - day->count < sim_interbank_count_max(scenario, trade_count)) {
        return KHORGOS_ERROR_capacity_full;
    }
    for (u32 currency = 0; currency < scenario->currency_count; currency++) {
        context = (struct sim_interbank_context){
            .scenario = scenario, .day = day, .currency = currency, .first = day->count,
            .interbank_cutoff = interbank_cutoff};
        sim_interbank_members(&context);
        if (context.bank_count < 2) continue;
        u128 value = 0;
        for (u32 index = 0; index < trade_count; index++) {
            if (day->payments[index].currency == currency) value += day->payments[index].amount;
        }
        sim_random_seed(&context.random, seed + (u64)(currency + 1) * SIM_INTERBANK_STREAM_GAMMA);
        u32 events = MAX(sim_interbank_event_count(scenario, currency, trade_count),
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
    sim_interbank_separate(day, interbank_cutoff);
    for (u32 index = 0; index < day->count; index++) day->payments[index].id = index + 1;
    return KHORGOS_ERROR_ok;
}
