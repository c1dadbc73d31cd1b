/*
 * settle_participants.c: participants and their per-currency settings: create_participants,
 * fund, defund, set_credit_lines, set_limits, suspend, reinstate. Design: see settle.h.
 *
 * create_participants registers, per listed currency, a position slot with two ledger accounts
 * (settlement, credit); the first participant of a currency also registers the currency with
 * its clearing and issuance accounts. All the accounts of one participant are created by one
 * ledger_create_accounts call at the timestamp cursor.
 *
 * Every other event here goes: validate (a bad event changes nothing) -> request id check
 * (retry answered) -> apply -> store the answer -> retry the queues it may release.
 * Which queues: funding, a larger credit line, a raised limit or a reinstatement give the
 * participant more room, so its queues in that currency (all of them on reinstatement) are
 * retried; a bilateral limit also, being the payer's own.
 *
 * Limit positions (what the participant sent less what it received in that currency since the day
 * opened): the net debit cap is measured on the position's sent - received, which open_day resets
 * and every settled payment or leg updates; a bilateral limit's position is kept per limit, reset
 * by open_day, and a limit set in mid-day starts from the pair's payments since the open
 * (settle_limit_position_today), not from zero, so setting a limit after some sends does not give
 * the payer that room again.
 */
#include "settle/settle_private.h"

#define SETTLE_ACCOUNTS_PER_PARTICIPANT_MAX (KHORGOS_PARTICIPANT_CURRENCIES_MAX * 4u)

static bool settle_name_valid(const char name[KHORGOS_NAME_BYTES]) {
    u32 length = 0;
    while (length < KHORGOS_NAME_BYTES && name[length] != '\0') length++;
    if (length == 0) return false;
    for (u32 index = 0; index < length; index++) {
        if (name[index] < 0x20 || name[index] > 0x7E) return false;
    }
    for (u32 index = length; index < KHORGOS_NAME_BYTES; index++) {
        if (name[index] != '\0') return false;
    }
    return true;
}

static u32 settle_currencies_status(const struct settle *settle,
                                    const struct khorgos_participant *event) {
    u32 count = 0;
    for (u32 k = 0; k < KHORGOS_PARTICIPANT_CURRENCIES_MAX; k++) {
        u32 numeric = event->currencies[k];
        if (numeric == 0) continue;
        if (k > count) return KHORGOS_SETTLE_currency_invalid; /* zeros only at the end */
        count++;
        if (khorgos_currency_by_numeric(numeric) == NULL) return KHORGOS_SETTLE_currency_invalid;
        for (u32 other = 0; other < k; other++) {
            if (event->currencies[other] == numeric) return KHORGOS_SETTLE_currency_invalid;
        }
        u32 currency = settle_currency_find(settle, numeric);
        if (event->role == KHORGOS_ROLE_SETTLEMENT_AGENT && currency != SETTLE_NONE &&
            settle->currencies[currency].agent != SETTLE_NONE) {
            return KHORGOS_SETTLE_settlement_agent_exists;
        }
    }
    return count == 0 ? KHORGOS_SETTLE_currency_invalid : KHORGOS_SETTLE_ok;
}

static u32 settle_new_currency_count(const struct settle *settle,
                                     const struct khorgos_participant *event) {
    u32 count = 0;
    for (u32 k = 0; k < KHORGOS_PARTICIPANT_CURRENCIES_MAX; k++) {
        if (event->currencies[k] != 0 &&
            settle_currency_find(settle, event->currencies[k]) == SETTLE_NONE) {
            count++;
        }
    }
    return count;
}

/* Validates a create event (its BIC already normalised); ok or the status. */
static u32 settle_participant_status(const struct settle *settle,
                                     const struct khorgos_participant *event) {
    if (event->flags != 0 || event->reserved != 0 || event->timestamp != 0 ||
        event->number != 0 || event->reserved_2 != 0) {
        return KHORGOS_SETTLE_reserved_field;
    }
    if (!settle_country_valid(event->country)) return KHORGOS_SETTLE_country_invalid;
    if (!settle_name_valid(event->name)) return KHORGOS_SETTLE_name_invalid;
    if (event->role < KHORGOS_ROLE_BANK || event->role > KHORGOS_ROLE_SETTLEMENT_AGENT) {
        return KHORGOS_SETTLE_role_invalid;
    }
    u32 status = settle_currencies_status(settle, event);
    if (status != KHORGOS_SETTLE_ok) return status;
    if (settle->participant_count == settle->config.participant_count_max ||
        settle->currency_count + settle_new_currency_count(settle, event) >
            SETTLE_CURRENCY_COUNT_MAX ||
        !ledger_capacity_accounts(settle->ledger, SETTLE_ACCOUNTS_PER_PARTICIPANT_MAX)) {
        return KHORGOS_SETTLE_capacity_full;
    }
    return KHORGOS_SETTLE_ok;
}

static u32 settle_currency_register(struct settle *settle, u32 numeric) {
    u32 currency = settle_currency_find(settle, numeric);
    if (currency != SETTLE_NONE) return currency;
    ASSERT(settle->currency_count < SETTLE_CURRENCY_COUNT_MAX);
    const struct khorgos_currency *table = khorgos_currency_by_numeric(numeric);
    ASSERT(table != NULL);
    currency = settle->currency_count++;
    struct settle_currency *entry = &settle->currencies[currency];
    memset(entry, 0, sizeof(*entry));
    entry->numeric = numeric;
    entry->minor_units = table->minor_units;
    entry->queue_mode = KHORGOS_QUEUE_MODE_FIFO;
    entry->agent = SETTLE_NONE;
    entry->waiting_head = SETTLE_NONE;
    entry->waiting_tail = SETTLE_NONE;
    entry->clearing_account_id = settle_account_id(SETTLE_ACCOUNT_CLEARING, numeric, 0);
    entry->issuance_account_id = settle_account_id(SETTLE_ACCOUNT_ISSUANCE, numeric, 0);
    return currency;
}

static void settle_account_event(struct khorgos_account *account, u128 id, u32 numeric, u32 kind,
                                 u16 flags, u32 participant_number) {
    memset(account, 0, sizeof(*account));
    account->id = id;
    account->ledger = numeric;
    account->code = (u16)kind;
    account->flags = flags;
    account->user_data_32 = participant_number;
}

/* Registers the participant's currencies and positions and creates its ledger accounts. */
static void settle_participant_register(struct settle *settle, u32 participant) {
    const struct khorgos_participant *record = &settle->participants[participant].record;
    struct khorgos_account accounts[SETTLE_ACCOUNTS_PER_PARTICIPANT_MAX];
    u32 count = 0;
    for (u32 k = 0; k < KHORGOS_PARTICIPANT_CURRENCIES_MAX && record->currencies[k] != 0; k++) {
        u32 numeric = record->currencies[k];
        bool new_currency = settle_currency_find(settle, numeric) == SETTLE_NONE;
        u32 currency = settle_currency_register(settle, numeric);
        struct settle_currency *entry = &settle->currencies[currency];
        if (new_currency) {
            settle_account_event(&accounts[count++], entry->clearing_account_id, numeric,
                                 SETTLE_ACCOUNT_CLEARING, 0, 0);
            settle_account_event(&accounts[count++], entry->issuance_account_id, numeric,
                                 SETTLE_ACCOUNT_ISSUANCE, 0, 0);
        }
        if (record->role == KHORGOS_ROLE_SETTLEMENT_AGENT) entry->agent = participant;
        u32 slot = participant * KHORGOS_PARTICIPANT_CURRENCIES_MAX + k;
        struct settle_position *position = &settle->positions[slot];
        memset(position, 0, sizeof(*position));
        position->in_use = true;
        position->participant = participant;
        position->currency = currency;
        position->net_debit_cap = KHORGOS_AMOUNT_MAX;
        for (u32 priority = 0; priority < KHORGOS_PRIORITY_COUNT; priority++) {
            position->queue_head[priority] = SETTLE_NONE;
            position->queue_tail[priority] = SETTLE_NONE;
        }
        position->settlement_account_id =
            settle_account_id(SETTLE_ACCOUNT_SETTLEMENT, numeric, record->number);
        position->credit_account_id =
            settle_account_id(SETTLE_ACCOUNT_CREDIT, numeric, record->number);
        settle_account_event(&accounts[count++], position->settlement_account_id, numeric,
                             SETTLE_ACCOUNT_SETTLEMENT,
                             KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS, record->number);
        settle_account_event(&accounts[count++], position->credit_account_id, numeric,
                             SETTLE_ACCOUNT_CREDIT, 0, record->number);
    }
    ASSERT(count > 0 && count <= SETTLE_ACCOUNTS_PER_PARTICIPANT_MAX);
    struct khorgos_create_result results[SETTLE_ACCOUNTS_PER_PARTICIPANT_MAX];
    u64 timestamp = settle->timestamp_cursor + count - 1;
    ledger_create_accounts(settle->ledger, timestamp, accounts, count, results);
    for (u32 index = 0; index < count; index++) {
        ASSERT(results[index].status == KHORGOS_CREATE_ACCOUNT_created);
    }
    settle->timestamp_cursor = timestamp + 1;
    settle->timestamp_last = timestamp;
}

/* Whether any ledger id the participant would take is already used (a client in our
 * namespace). */
static bool settle_participant_ids_taken(const struct settle *settle,
                                         const struct khorgos_participant *event) {
    u32 number = settle->participant_count + 1;
    for (u32 k = 0; k < KHORGOS_PARTICIPANT_CURRENCIES_MAX && event->currencies[k] != 0; k++) {
        u32 numeric = event->currencies[k];
        u128 ids[4] = {settle_account_id(SETTLE_ACCOUNT_SETTLEMENT, numeric, number),
                       settle_account_id(SETTLE_ACCOUNT_CREDIT, numeric, number),
                       settle_account_id(SETTLE_ACCOUNT_CLEARING, numeric, 0),
                       settle_account_id(SETTLE_ACCOUNT_ISSUANCE, numeric, 0)};
        u32 checked = settle_currency_find(settle, numeric) == SETTLE_NONE ? 4 : 2;
        for (u32 index = 0; index < checked; index++) {
            if (base_id_map_get(&settle->ledger->account_map, ids[index], &(u32){0})) return true;
        }
    }
    return false;
}

static u32 settle_create_participant(struct settle *settle, u64 timestamp,
                                     const struct khorgos_participant *input,
                                     struct khorgos_settle_result *result) {
    struct khorgos_participant event = *input;
    if (!settle_bic_normalize(event.bic)) return KHORGOS_SETTLE_bic_invalid;
    u32 existing = settle_participant_find(settle, event.bic);
    if (existing != SETTLE_NONE) {
        struct khorgos_participant stored = settle->participants[existing].record;
        result->timestamp = stored.timestamp;
        stored.flags = 0;
        stored.timestamp = 0;
        stored.number = 0;
        if (memcmp(&stored, &event, sizeof(event)) != 0) {
            return KHORGOS_SETTLE_exists_with_different_fields;
        }
        result->flags |= KHORGOS_SETTLE_RESULT_RETRY;
        return KHORGOS_SETTLE_ok;
    }
    u32 status = settle_participant_status(settle, &event);
    if (status != KHORGOS_SETTLE_ok) return status;
    if (settle_participant_ids_taken(settle, &event)) {
        return KHORGOS_SETTLE_exists_with_different_fields;
    }
    u32 participant = settle->participant_count++;
    event.timestamp = timestamp;
    event.number = participant + 1;
    settle->participants[participant].record = event;
    settle_participant_register(settle, participant);
    return KHORGOS_SETTLE_ok;
}

void settle_create_participants(struct settle *settle, u64 timestamp,
                                const struct khorgos_participant *events, u32 count,
                                struct khorgos_settle_result *results) {
    ASSERT(settle != NULL);
    ASSERT(settle->timestamp_cursor <= timestamp); /* events take slots from here */
    ASSERT(count == 0 || (events != NULL && results != NULL));
    for (u32 index = 0; index < count; index++) {
        u64 event_timestamp = settle_event_begin(settle, &results[index]);
        results[index].status =
            settle_create_participant(settle, event_timestamp, &events[index], &results[index]);
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Bilateral limits.                                                                          */

/* The position a new bilateral limit starts from: what the payer (slot) sent the counterparty
 * less what it received from it in the slot's currency since that currency's day opened, i.e.
 * over the payments settled at or after its opened_at (every leg, so cross-currency and net
 * payments count in the currency of each leg). A scan of the payments (at most
 * payment_count_max; none when the payer has no payment today; set_limits is rare); from
 * then on each settlement keeps it current (settle_payment_settled, settle_fx_leg_settled)
 * and open_day resets it to zero. */
static i128 settle_limit_position_today(const struct settle *settle, u32 slot, u32 counterparty) {
    const struct settle_position *position = &settle->positions[slot];
    const struct settle_currency *currency = &settle->currencies[position->currency];
    ASSERT(position->in_use);
    ASSERT(counterparty < settle->participant_count && counterparty != position->participant);
    i128 total = 0;
    if (currency->date == 0) return total; /* never opened: nothing settled in it */
    /* Every settled leg counts in sent/received too: a payer without any today has none. */
    if (position->sent_count == 0 && position->received_count == 0) return total;
    for (u32 payment = 0; payment < settle->payment_count; payment++) {
        const struct khorgos_payment *record = &settle->payments[payment];
        if (record->state != KHORGOS_PAYMENT_SETTLED || record->finished_at < currency->opened_at) {
            continue;
        }
        struct settle_fx_leg legs[SETTLE_FX_LEG_COUNT_MAX];
        u32 count = settle_payment_legs(settle, payment, legs);
        ASSERT(count >= 1 && count <= SETTLE_FX_LEG_COUNT_MAX);
        for (u32 index = 0; index < count; index++) {
            const struct settle_fx_leg *leg = &legs[index];
            if (leg->debtor_slot == slot &&
                settle->positions[leg->creditor_slot].participant == counterparty) {
                total += (i128)leg->amount;
            } else if (leg->creditor_slot == slot &&
                       settle->positions[leg->debtor_slot].participant == counterparty) {
                total -= (i128)leg->amount;
            }
        }
    }
    return total;
}

static u32 settle_limit_set(struct settle *settle, u32 slot, u32 counterparty, u128 amount) {
    u128 key = settle_limit_key(slot, counterparty);
    u32 index = 0;
    bool found = base_id_map_get(&settle->limit_map, key, &index);
    if (amount == KHORGOS_AMOUNT_MAX) { /* remove: move the last into its place */
        if (!found) return KHORGOS_SETTLE_ok;
        base_id_map_remove(&settle->limit_map, key);
        u32 last = --settle->limit_count;
        if (index != last) {
            settle->limits[index] = settle->limits[last];
            u128 moved = settle_limit_key(settle->limits[index].position_slot,
                                          settle->limits[index].counterparty);
            base_id_map_remove(&settle->limit_map, moved);
            base_id_map_insert(&settle->limit_map, moved, index);
        }
        return KHORGOS_SETTLE_ok;
    }
    if (!found) {
        if (settle->limit_count == settle->config.limit_count_max) {
            return KHORGOS_SETTLE_capacity_full;
        }
        index = settle->limit_count++;
        settle->limits[index] = (struct settle_bilateral_limit){
            .position = settle_limit_position_today(settle, slot, counterparty),
            .position_slot = slot, .counterparty = counterparty};
        base_id_map_insert(&settle->limit_map, key, index);
    }
    settle->limits[index].limit = amount;
    return KHORGOS_SETTLE_ok;
}

/* ----------------------------------------------------------------------------------------- */
/* fund, defund, set_credit_lines, set_limits, suspend, reinstate.                            */

static u32 settle_fund(struct settle *settle, u32 operation, u32 slot, u128 amount) {
    struct settle_position *position = &settle->positions[slot];
    struct settle_currency *currency = &settle->currencies[position->currency];
    if (amount == 0) return KHORGOS_SETTLE_amount_must_not_be_zero;
    if (currency->agent == SETTLE_NONE) return KHORGOS_SETTLE_settlement_agent_not_found;
    bool fund = operation == KHORGOS_OPERATION_FUND;
    if (!fund && amount > settle_balance(settle, slot)) return KHORGOS_SETTLE_insufficient_funds;
    if (!settle_chain_capacity(settle, 1)) return KHORGOS_SETTLE_capacity_full;
    u128 settlement = position->settlement_account_id;
    u128 issuance = currency->issuance_account_id;
    u32 kind = fund ? SETTLE_TRANSFER_FUND : SETTLE_TRANSFER_DEFUND;
    settle_chain_add(settle, kind, settle_transfer_id_next(settle, kind),
                     fund ? issuance : settlement, fund ? settlement : issuance, amount,
                     currency->numeric, 0);
    settle_chain_flush(settle);
    if (fund) settle_retry_add(settle, slot);
    return KHORGOS_SETTLE_ok;
}

static u32 settle_set_limit(struct settle *settle, u32 slot,
                            const struct khorgos_participant_event *event) {
    struct settle_position *position = &settle->positions[slot];
    if (event->limit_kind == KHORGOS_LIMIT_NET_DEBIT_CAP) {
        if (event->counterparty[0] != '\0') return KHORGOS_SETTLE_reserved_field;
        position->net_debit_cap = event->amount;
        settle_retry_add(settle, slot);
        return KHORGOS_SETTLE_ok;
    }
    if (event->limit_kind != KHORGOS_LIMIT_BILATERAL) return KHORGOS_SETTLE_limit_kind_invalid;
    char counterparty_bic[KHORGOS_BIC_BYTES];
    memcpy(counterparty_bic, event->counterparty, KHORGOS_BIC_BYTES);
    if (!settle_bic_normalize(counterparty_bic)) return KHORGOS_SETTLE_bic_invalid;
    u32 counterparty = settle_participant_find(settle, counterparty_bic);
    if (counterparty == SETTLE_NONE) return KHORGOS_SETTLE_counterparty_not_found;
    if (counterparty == position->participant) return KHORGOS_SETTLE_accounts_must_be_different;
    u32 status = settle_limit_set(settle, slot, counterparty, event->amount);
    if (status == KHORGOS_SETTLE_ok) settle_retry_add(settle, slot);
    return status;
}

static u32 settle_set_suspended(struct settle *settle, u32 participant, bool suspended) {
    struct khorgos_participant *record = &settle->participants[participant].record;
    if (suspended) {
        record->flags |= KHORGOS_PARTICIPANT_SUSPENDED;
        return KHORGOS_SETTLE_ok;
    }
    record->flags &= (u8)~KHORGOS_PARTICIPANT_SUSPENDED;
    /* Its own queues and those of everyone (payments to it were held). */
    for (u32 slot = 0; slot < settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX;
         slot++) {
        if (settle->positions[slot].in_use && settle->positions[slot].queued_count > 0) {
            settle_retry_add(settle, slot);
        }
    }
    return KHORGOS_SETTLE_ok;
}

/* One event of fund, defund, set_credit_lines, set_limits, suspend or reinstate (its request
 * id, retries and count: settle_apply.c). */
u32 settle_participant_event_one(struct settle *settle, u32 operation, const void *body,
                                 u64 timestamp) {
    const struct khorgos_participant_event *event = body;
    ASSERT(settle->timestamp_cursor > timestamp); /* the event's own timestamp was taken */
    if (event->reserved != 0 || event->reserved_2 != 0) return KHORGOS_SETTLE_reserved_field;
    char bic[KHORGOS_BIC_BYTES];
    memcpy(bic, event->bic, KHORGOS_BIC_BYTES);
    if (!settle_bic_normalize(bic)) return KHORGOS_SETTLE_bic_invalid;
    u32 participant = settle_participant_find(settle, bic);
    if (participant == SETTLE_NONE) return KHORGOS_SETTLE_participant_not_found;
    if (operation == KHORGOS_OPERATION_SUSPEND || operation == KHORGOS_OPERATION_REINSTATE) {
        if (event->amount != 0 || event->currency != 0 || event->limit_kind != 0) {
            return KHORGOS_SETTLE_reserved_field;
        }
        return settle_set_suspended(settle, participant, operation == KHORGOS_OPERATION_SUSPEND);
    }
    u32 currency = settle_currency_find(settle, event->currency);
    if (currency == SETTLE_NONE) {
        return khorgos_currency_by_numeric(event->currency) == NULL
                   ? KHORGOS_SETTLE_currency_invalid
                   : KHORGOS_SETTLE_currency_not_held;
    }
    u32 slot = settle_position_slot(settle, participant, currency);
    if (slot == SETTLE_NONE) return KHORGOS_SETTLE_currency_not_held;
    if (operation == KHORGOS_OPERATION_SET_LIMITS) return settle_set_limit(settle, slot, event);
    if (event->limit_kind != 0 || event->counterparty[0] != '\0') {
        return KHORGOS_SETTLE_reserved_field;
    }
    if (operation == KHORGOS_OPERATION_SET_CREDIT_LINES) {
        struct settle_position *position = &settle->positions[slot];
        if (event->amount < position->credit_outstanding) {
            return KHORGOS_SETTLE_credit_line_below_outstanding;
        }
        position->credit_line = event->amount;
        settle_retry_add(settle, slot);
        return KHORGOS_SETTLE_ok;
    }
    return settle_fund(settle, operation, slot, event->amount);
}

