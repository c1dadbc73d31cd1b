/*
 * sim_generate.c: one business day of trade payments, deterministic from a seed.
 *
 * The random numbers. xoshiro256** (Blackman and Vigna, 2018) with its 256-bit state filled by
 * splitmix64 from the seed, as its authors recommend. Each pair draws from its own stream,
 * seeded with splitmix64(seed + (pair + 1) * 0x9E3779B97F4A7C15), so changing one pair's
 * figures in a scenario leaves every other pair's payments as they were. rand() is never used:
 * its sequence differs between C libraries.
 *
 * One pair's day (pair p, exporter E, importer I, daily target T in US cents):
 *   1. count n = round(T * scale / mean), at least 1 (scale in per mille);
 *   2. for each payment, in order: the invoice size x = exp(mu + sigma z) in US cents (z by
 *      Box-Muller from two uniforms, mu = ln(mean) - sigma^2 / 2 so that the mean is `mean`),
 *      clipped to the scenario's maximum and rounded to a whole cent, at least 1; the invoicing
 *      currency from the pair's mix; the debtor among I's banks and the creditor among E's banks,
 *      each chosen with probability proportional to its weight; the priority; the submission
 *      time: a profile slot with probability proportional to its weight, then a second
 *      uniformly inside it;
 *   3. the rescale, in integers: every payment gets 1 cent plus its share
 *      floor((T - n) * x_k / sum x) of the rest, and the cents still missing go one each to the
 *      first payments, so the pair's payments sum to exactly T cents;
 *   4. each payment's cents become its invoicing currency's minor units at the scenario's rate
 *      (half up, at least one minor unit): the pair's value differs from T by at most half a
 *      minor unit per payment.
 * The creditor always receives its home currency (creditor_currency); the debtor pays the
 * invoicing currency (currency), so a payment is cross-currency exactly when the invoice is not
 * in the exporter's currency.
 *
 * Then all pairs' payments are sorted by (submitted_at, generation order) and numbered 1..n:
 * the day is the same array for every design (invariant 2 of sim.h).
 */
#include "sim/sim.h"

#include <math.h>
#include <stdlib.h>

#define GOLDEN_GAMMA 0x9E3779B97F4A7C15ull

static u64 splitmix64(u64 *state) {
    u64 value = (*state += GOLDEN_GAMMA);
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
    value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
    return value ^ (value >> 31);
}

void sim_random_seed(struct sim_random *random, u64 seed) {
    ASSERT(random != NULL);
    u64 state = seed;
    for (u32 index = 0; index < 4; index++) random->state[index] = splitmix64(&state);
    /* splitmix64 is a bijection of distinct inputs, so the state is never all zero. */
    ASSERT((random->state[0] | random->state[1] | random->state[2] | random->state[3]) != 0);
}

static u64 rotate_left(u64 value, u32 count) {
    ASSERT(count > 0 && count < 64);
    return (value << count) | (value >> (64 - count));
}

u64 sim_random_next(struct sim_random *random) {
    ASSERT(random != NULL);
    u64 *s = random->state;
    u64 result = rotate_left(s[1] * 5, 7) * 9;
    u64 shifted = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= shifted;
    s[3] = rotate_left(s[3], 45);
    return result;
}

u64 sim_random_below(struct sim_random *random, u64 bound) {
    ASSERT(random != NULL);
    ASSERT(bound > 0);
    u64 value = (u64)(((u128)sim_random_next(random) * bound) >> 64);
    ASSERT(value < bound);
    return value;
}

double sim_random_unit(struct sim_random *random) {
    ASSERT(random != NULL);
    double value = (double)((sim_random_next(random) >> 11) + 1) * 0x1.0p-53;
    ASSERT(value > 0.0 && value <= 1.0);
    return value;
}

/* ----------------------------------------------------------------------------------------- */
/* Counts.                                                                                    */

static u32 pair_payment_count(const struct sim_scenario *scenario, u32 pair,
                              u32 scale_per_mille) {
    ASSERT(scenario->amount_mean_usd_cents > 0);
    ASSERT(scale_per_mille > 0 && scale_per_mille <= SIM_SCALE_PER_MILLE_MAX);
    u128 numerator = (u128)sim_pair_daily_usd_cents(scenario, pair) * scale_per_mille;
    u128 denominator = (u128)scenario->amount_mean_usd_cents * 1000u;
    u128 count = (numerator + denominator / 2) / denominator;
    if (count == 0) count = 1;
    /* Every payment is at least one cent of the target. */
    if (count > sim_pair_daily_usd_cents(scenario, pair)) {
        count = sim_pair_daily_usd_cents(scenario, pair);
    }
    return count > SIM_PAYMENT_COUNT_MAX ? SIM_PAYMENT_COUNT_MAX + 1 : (u32)count;
}

u32 sim_generate_count(const struct sim_scenario *scenario, u32 scale_per_mille) {
    ASSERT(scenario != NULL);
    ASSERT(scenario->pair_count <= SIM_PAIR_COUNT_MAX);
    if (scale_per_mille == 0 || scale_per_mille > SIM_SCALE_PER_MILLE_MAX) return 0;
    u64 total = 0;
    for (u32 pair = 0; pair < scenario->pair_count; pair++) {
        total += pair_payment_count(scenario, pair, scale_per_mille);
    }
    return total > SIM_PAYMENT_COUNT_MAX ? 0 : (u32)total;
}

khorgos_error sim_day_init(struct sim_day *day, u32 count_max) {
    ASSERT(day != NULL);
    ASSERT(count_max <= SIM_PAYMENT_COUNT_MAX);
    memset(day, 0, sizeof(*day));
    day->payments = calloc(MAX(count_max, 1u), sizeof(struct sim_payment));
    if (day->payments == NULL) return KHORGOS_ERROR_out_of_memory;
    day->count_max = count_max;
    return KHORGOS_ERROR_ok;
}

void sim_day_deinit(struct sim_day *day) {
    ASSERT(day != NULL);
    ASSERT(day->count <= day->count_max);
    free(day->payments);
    memset(day, 0, sizeof(*day));
}

/* ----------------------------------------------------------------------------------------- */
/* Choosing banks and times.                                                                  */

/* Banks (role bank) grouped by country, with cumulative weights for a weighted choice. */
struct bank_table {
    u16 bank[SIM_BANK_COUNT_MAX];
    u64 cumulative[SIM_BANK_COUNT_MAX];
    u32 first[SIM_COUNTRY_COUNT_MAX];
    u32 count[SIM_COUNTRY_COUNT_MAX];
};

static void bank_table_build(const struct sim_scenario *scenario, struct bank_table *table) {
    u32 position = 0;
    for (u32 country = 0; country < scenario->country_count; country++) {
        table->first[country] = position;
        u64 total = 0;
        for (u32 index = 0; index < scenario->bank_count; index++) {
            const struct sim_bank *bank = &scenario->banks[index];
            if (bank->country != country || bank->role != SIM_ROLE_BANK) continue;
            total += bank->weight_micro;
            table->bank[position] = (u16)index;
            table->cumulative[position++] = total;
        }
        table->count[country] = position - table->first[country];
    }
    ASSERT(position <= scenario->bank_count);
}

static u16 bank_choose(const struct bank_table *table, u32 country, struct sim_random *random) {
    u32 first = table->first[country], count = table->count[country];
    ASSERT(count > 0);
    u64 draw = sim_random_below(random, table->cumulative[first + count - 1]);
    u32 low = first, high = first + count - 1; /* the first cumulative weight above draw */
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (table->cumulative[middle] > draw) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    ASSERT(table->cumulative[low] > draw);
    return table->bank[low];
}

static u32 time_choose(const struct sim_scenario *scenario, u64 weight_total,
                       struct sim_random *random) {
    u64 draw = sim_random_below(random, weight_total);
    u32 slot = 0;
    while (draw >= scenario->profile_weights[slot]) {
        draw -= scenario->profile_weights[slot];
        slot++;
        ASSERT(slot < scenario->profile_slot_count);
    }
    u32 offset = (u32)sim_random_below(random, scenario->profile_slot_seconds);
    return slot * scenario->profile_slot_seconds + offset;
}

static u8 currency_choose(const struct sim_pair *pair, struct sim_random *random) {
    u32 draw = (u32)sim_random_below(random, 100);
    for (u32 index = 0; index < pair->mix_count; index++) {
        if (draw < pair->mix[index].percent) return pair->mix[index].currency;
        draw -= pair->mix[index].percent;
    }
    ASSERT(false && "a validated mix sums to 100");
    return 0;
}

/* ----------------------------------------------------------------------------------------- */
/* One pair.                                                                                  */

struct pair_context {
    const struct sim_scenario *scenario;
    const struct bank_table *banks;
    u64 profile_total;
    double mu;
    double sigma;
};

/* Step 2 for one payment: everything but the final amount, which holds the cents drawn. */
static void payment_draw(const struct pair_context *context, u32 pair_index,
                         struct sim_random *random, struct sim_payment *payment) {
    const struct sim_scenario *scenario = context->scenario;
    const struct sim_pair *pair = &scenario->pairs[pair_index];
    double u1 = sim_random_unit(random), u2 = sim_random_unit(random);
    double normal = sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
    double cents = exp(context->mu + context->sigma * normal);
    if (!(cents <= (double)scenario->amount_max_usd_cents)) {
        cents = (double)scenario->amount_max_usd_cents;
    }
    u64 whole = (u64)llround(cents);
    memset(payment, 0, sizeof(*payment));
    payment->amount = whole == 0 ? 1 : whole;
    payment->currency = currency_choose(pair, random);
    payment->creditor_currency = scenario->countries[pair->exporter].currency;
    payment->debtor = bank_choose(context->banks, pair->importer, random);
    payment->creditor = bank_choose(context->banks, pair->exporter, random);
    bool high = sim_random_below(random, 1000) < scenario->high_priority_per_mille;
    payment->priority = high ? SIM_PRIORITY_HIGH : SIM_PRIORITY_NORMAL;
    payment->type = SIM_PAYMENT_CUSTOMER;
    payment->submitted_at = time_choose(scenario, context->profile_total, random);
    payment->pair = (u16)pair_index;
    ASSERT(payment->submitted_at < scenario->customer_cutoff_seconds - scenario->day_open_seconds);
}

/* Steps 3 and 4: rescale the drawn cents to exactly the target, then convert. */
static void pair_rescale(const struct sim_scenario *scenario, u64 target_cents,
                         struct sim_payment *payments, u32 count) {
    ASSERT(count > 0 && target_cents >= count);
    u128 drawn_total = 0;
    for (u32 index = 0; index < count; index++) drawn_total += payments[index].amount;
    u128 rest = target_cents - count, assigned = 0;
    for (u32 index = 0; index < count; index++) {
        u128 share = rest * payments[index].amount / drawn_total;
        payments[index].amount = 1 + share;
        assigned += 1 + share;
    }
    ASSERT(assigned <= target_cents && target_cents - assigned <= count);
    for (u32 index = 0; assigned < target_cents; index++) {
        payments[index].amount++;
        assigned++;
    }
    for (u32 index = 0; index < count; index++) {
        u128 minor = sim_scenario_from_usd_cents(scenario, payments[index].currency,
                                                 payments[index].amount);
        payments[index].amount = minor == 0 ? 1 : minor;
        ASSERT(payments[index].amount <= SIM_AMOUNT_MAX);
    }
}

static int payment_compare(const void *left, const void *right) {
    const struct sim_payment *a = left, *b = right;
    if (a->submitted_at != b->submitted_at) return a->submitted_at < b->submitted_at ? -1 : 1;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return 0;
}

khorgos_error sim_generate(const struct sim_scenario *scenario, u64 seed, u32 scale_per_mille,
                           struct sim_day *day) {
    ASSERT(scenario != NULL && day != NULL);
    ASSERT(day->payments != NULL);
    if (scale_per_mille == 0 || scale_per_mille > SIM_SCALE_PER_MILLE_MAX) {
        return KHORGOS_ERROR_invalid_argument;
    }
    u32 total = sim_generate_count(scenario, scale_per_mille);
    if (total == 0 || total > day->count_max) return KHORGOS_ERROR_capacity_full;
    struct bank_table banks; /* 10 KiB of stack */
    bank_table_build(scenario, &banks);
    struct pair_context context = {.scenario = scenario, .banks = &banks};
    for (u32 slot = 0; slot < scenario->profile_slot_count; slot++) {
        context.profile_total += scenario->profile_weights[slot];
    }
    context.sigma = (double)scenario->amount_sigma_micro / SIM_RATE_SCALE;
    context.mu = log((double)scenario->amount_mean_usd_cents) - context.sigma * context.sigma / 2;
    u32 position = 0;
    for (u32 pair = 0; pair < scenario->pair_count; pair++) {
        u32 count = pair_payment_count(scenario, pair, scale_per_mille);
        struct sim_random random;
        sim_random_seed(&random, seed + (u64)(pair + 1) * GOLDEN_GAMMA);
        for (u32 index = 0; index < count; index++) {
            payment_draw(&context, pair, &random, &day->payments[position + index]);
            day->payments[position + index].id = position + index; /* generation order */
        }
        pair_rescale(scenario, sim_pair_daily_usd_cents(scenario, pair),
                     &day->payments[position], count);
        position += count;
    }
    ASSERT(position == total);
    qsort(day->payments, total, sizeof(struct sim_payment), payment_compare);
    for (u32 index = 0; index < total; index++) day->payments[index].id = index + 1;
    day->count = total;
    day->seed = seed;
    day->scale_per_mille = scale_per_mille;
    day->close_seconds = scenario->day_close_seconds - scenario->day_open_seconds;
    day->customer_cutoff_seconds = scenario->customer_cutoff_seconds - scenario->day_open_seconds;
    day->interbank_cutoff_seconds = scenario->interbank_cutoff_seconds - scenario->day_open_seconds;
    return KHORGOS_ERROR_ok;
}
