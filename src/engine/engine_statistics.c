/*
 * engine_statistics.c: read-only views of the settlement state for operators (the server's
 * /metrics): per currency its queued payments, balances and credit, and the netting windows by
 * state. Each call reads the state as it is between requests and changes nothing; its cost is
 * a walk over the positions (participants x currencies) or the windows, paid only when called.
 */
#include "engine/engine.h"

uint32_t khorgos_currency_count(const struct khorgos *engine) {
    ASSERT(engine != NULL);
    ASSERT(engine->settle.currency_count <= SETTLE_CURRENCY_COUNT_MAX);
    return engine->settle.currency_count;
}

/* a + b, held at the largest u128: amounts may each be up to the largest u128. */
static u128 sum_saturated(u128 a, u128 b) {
    u128 sum = a + b;
    return sum < a ? KHORGOS_U128_MAX : sum;
}

/* Adds one position's figures to the currency's, with its settlement account's balance. */
static void statistics_add_position(const struct khorgos *engine,
                                    const struct settle_position *position,
                                    struct khorgos_currency_statistics *statistics) {
    ASSERT(position->in_use);
    ASSERT(statistics->participants < U32_MAX);
    statistics->participants++;
    statistics->queued_count += position->queued_count; /* payments: fewer than U32_MAX */
    statistics->queued_value = sum_saturated(statistics->queued_value, position->queued_value);
    statistics->credit_line = sum_saturated(statistics->credit_line, position->credit_line);
    statistics->credit_outstanding =
        sum_saturated(statistics->credit_outstanding, position->credit_outstanding);
    u32 account = 0;
    if (base_id_map_get(&engine->ledger.account_map, position->settlement_account_id,
                        &account)) {
        ASSERT(account < engine->ledger.account_count);
        const struct khorgos_account *record = &engine->ledger.accounts[account];
        /* A settlement account never goes below zero (debits_must_not_exceed_credits). */
        ASSERT(record->credits_posted >= record->debits_posted);
        statistics->balance = sum_saturated(statistics->balance,
                                            record->credits_posted - record->debits_posted);
    }
}

khorgos_error khorgos_currency_statistics(const struct khorgos *engine, uint32_t index,
                                          struct khorgos_currency_statistics *statistics) {
    ASSERT(engine != NULL && statistics != NULL);
    const struct settle *settle = &engine->settle;
    if (index >= settle->currency_count) return KHORGOS_ERROR_invalid_argument;
    const struct settle_currency *currency = &settle->currencies[index];
    *statistics = (struct khorgos_currency_statistics){
        .numeric = currency->numeric,
        .minor_units = currency->minor_units,
        .day_open = currency->day_open ? 1 : 0,
    };
    for (u32 participant = 0; participant < settle->participant_count; participant++) {
        u32 slot = settle_position_slot(settle, participant, index);
        if (slot == SETTLE_NONE || !settle->positions[slot].in_use) continue;
        ASSERT(settle->positions[slot].currency == index);
        statistics_add_position(engine, &settle->positions[slot], statistics);
    }
    ASSERT(statistics->participants <= settle->participant_count);
    return KHORGOS_ERROR_ok;
}

void khorgos_window_counts(const struct khorgos *engine,
                           uint32_t counts[KHORGOS_WINDOW_STATE_COUNT]) {
    ASSERT(engine != NULL && counts != NULL);
    memset(counts, 0, KHORGOS_WINDOW_STATE_COUNT * sizeof(counts[0]));
    const struct settle_netting *netting = &engine->settle.netting;
    for (u32 index = 0; index < netting->window_count; index++) {
        u8 state = netting->windows[index].record.state;
        ASSERT(state > 0 && state < KHORGOS_WINDOW_STATE_COUNT);
        counts[state]++;
    }
    ASSERT(counts[0] == 0);
}
