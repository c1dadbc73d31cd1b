/*
 * settle_book.c: the bottom of the settlement layer, which every other file of it may call and
 * which calls none of them: identifiers (ledger ids, BICs, countries, dates, request ids), the
 * lookups of participants, currencies and positions, balances, the timestamp cursor, the
 * ledger booking primitive (the chain), the one intraday credit draw, and the payment records'
 * own bookkeeping (appending a payment, its queue and waiting links, finishing or settling it,
 * the retry list, the settle-by heap, bilateral limits and the limit check, holidays).
 * Design: see settle.h and settle_private.h.
 *
 * The chain. settle_chain_add appends a transfer to the scratch chain; settle_chain_flush hands
 * it to ledger_create_transfers as ONE linked chain (every event linked but the last) at the
 * timestamp cursor, and asserts every event was created: callers book only what they checked
 * to be covered, so a failure is a bug, not a case. A chain longer than SETTLE_CHAIN_EVENTS_MAX
 * (the scratch, one ledger call) is handed over in parts that the ledger keeps as one chain
 * (ledger_chain_continue): every part but the last ends linked, so the records show one chain
 * from the set's first transfer to its last (see settle.h, "Booking model").
 *
 * The credit draw. settle_credit_draw is the only place intraday credit is drawn: a payment
 * alone, a set of liquidity saving, a cross-currency leg and a netting window's net debit all
 * draw through it, so credit_outstanding and credit_used move in one way.
 *
 * Queues. A queue is three doubly linked lists (one per priority) threaded through
 * payment_next / payment_prev; "queue order" is urgent then high then normal, each in arrival
 * order. A waiting payment is on its currency's waiting list through the same links (never on
 * both).
 */
#include "settle/settle_private.h"

/* ----------------------------------------------------------------------------------------- */
/* Identifiers.                                                                               */

u128 settle_account_id(u32 kind, u32 currency_numeric, u32 participant_number) {
    ASSERT(kind >= SETTLE_ACCOUNT_SETTLEMENT && kind <= SETTLE_ACCOUNT_CLEARING);
    ASSERT(currency_numeric > 0);
    return ((u128)SETTLE_NAMESPACE << 112) | ((u128)kind << 104) |
           ((u128)currency_numeric << 64) | (u128)participant_number;
}

u128 settle_transfer_id_next(struct settle *settle, u32 kind) {
    ASSERT(kind >= SETTLE_TRANSFER_PAYMENT && kind <= SETTLE_TRANSFER_DEFUND);
    settle->transfer_sequence++;
    ASSERT(settle->transfer_sequence > 0);
    return ((u128)SETTLE_NAMESPACE << 112) | ((u128)kind << 104) | settle->transfer_sequence;
}

static bool settle_is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool settle_is_digit(char c) { return c >= '0' && c <= '9'; }

/* ISO 3166-1 alpha-2, every officially assigned code, plus XK (Kosovo), which SWIFT uses. */
static const char settle_countries[] =
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCH"
    "CICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGN"
    "GPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLI"
    "LKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOM"
    "PAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTD"
    "TFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSXKYEYTZAZMZW";

bool settle_country_valid(const char country[2]) {
    ASSERT(country != NULL);
    ASSERT(sizeof(settle_countries) % 2 == 1);
    if (!settle_is_upper(country[0]) || !settle_is_upper(country[1])) return false;
    for (u32 index = 0; index + 1 < sizeof(settle_countries); index += 2) {
        if (settle_countries[index] == country[0] && settle_countries[index + 1] == country[1]) {
            return true;
        }
    }
    return false;
}

bool settle_bic_normalize(char bic[KHORGOS_BIC_BYTES]) {
    ASSERT(bic != NULL);
    u32 length = 0;
    while (length < KHORGOS_BIC_BYTES && bic[length] != '\0') length++;
    for (u32 index = length; index < KHORGOS_BIC_BYTES; index++) {
        if (bic[index] != '\0') return false; /* text after the NUL */
    }
    if (length != 8 && length != 11) return false;
    for (u32 index = 0; index < length; index++) {
        char c = bic[index];
        bool letter_only = index < 6;
        if (letter_only ? !settle_is_upper(c) : !(settle_is_upper(c) || settle_is_digit(c))) {
            return false;
        }
    }
    if (!settle_country_valid(&bic[4])) return false;
    if (length == 8) memcpy(&bic[8], "XXX", 3);
    ASSERT(bic[10] != '\0');
    return true;
}

u32 settle_participant_find(const struct settle *settle, const char bic[KHORGOS_BIC_BYTES]) {
    ASSERT(settle != NULL && bic != NULL);
    ASSERT(settle->participant_count <= settle->config.participant_count_max);
    for (u32 index = 0; index < settle->participant_count; index++) {
        if (memcmp(settle->participants[index].record.bic, bic, KHORGOS_BIC_BYTES) == 0) {
            return index;
        }
    }
    return SETTLE_NONE;
}

u32 settle_currency_find(const struct settle *settle, u32 numeric) {
    ASSERT(settle != NULL);
    ASSERT(settle->currency_count <= SETTLE_CURRENCY_COUNT_MAX);
    for (u32 index = 0; index < settle->currency_count; index++) {
        if (settle->currencies[index].numeric == numeric) return index;
    }
    return SETTLE_NONE;
}

u32 settle_position_slot(const struct settle *settle, u32 participant, u32 currency) {
    ASSERT(participant < settle->participant_count);
    ASSERT(currency < settle->currency_count);
    u32 numeric = settle->currencies[currency].numeric;
    const struct khorgos_participant *record = &settle->participants[participant].record;
    for (u32 k = 0; k < KHORGOS_PARTICIPANT_CURRENCIES_MAX; k++) {
        if (record->currencies[k] == numeric) {
            return participant * KHORGOS_PARTICIPANT_CURRENCIES_MAX + k;
        }
    }
    return SETTLE_NONE;
}

u128 settle_balance(const struct settle *settle, u32 slot) {
    const struct settle_position *position = &settle->positions[slot];
    ASSERT(position->in_use);
    u32 index = 0;
    bool found = base_id_map_get(&settle->ledger->account_map, position->settlement_account_id,
                                 &index);
    ASSERT(found);
    const struct khorgos_account *account = &settle->ledger->accounts[index];
    ASSERT(account->credits_posted >= account->debits_posted + account->debits_pending);
    return account->credits_posted - account->debits_posted - account->debits_pending;
}

u128 settle_liquidity(const struct settle *settle, u32 slot) {
    const struct settle_position *position = &settle->positions[slot];
    ASSERT(position->in_use);
    u128 unused = position->credit_line > position->credit_outstanding
                      ? position->credit_line - position->credit_outstanding
                      : 0;
    u128 balance = settle_balance(settle, slot);
    return base_u128_add_overflows(balance, unused) ? U128_MAX : balance + unused;
}

/* ----------------------------------------------------------------------------------------- */
/* Request ids.                                                                               */

static u128 settle_request_checksum(u32 operation, const void *event, u32 size) {
    ASSERT(event != NULL && size > 0 && size <= 256);
    u8 buffer[4 + 256];
    memcpy(buffer, &operation, 4);
    memcpy(buffer + 4, event, size);
    return base_checksum128(buffer, 4 + (size_t)size);
}

/* ---- Ids scoped by participant ---------------------------------------------------------- */

struct settle_scoped_ids settle_scoped_payments(const struct settle *settle) {
    ASSERT(settle != NULL && settle->payment_same_id != NULL);
    return (struct settle_scoped_ids){
        .map = &settle->payment_map,
        .next = settle->payment_same_id,
        .scopes = (const u8 *)settle->payments + offsetof(struct khorgos_payment, debtor),
        .stride = sizeof(struct khorgos_payment)};
}

struct settle_scoped_ids settle_scoped_requests(const struct settle *settle) {
    ASSERT(settle != NULL && settle->request_same_id != NULL);
    return (struct settle_scoped_ids){
        .map = &settle->request_map,
        .next = settle->request_same_id,
        .scopes = (const u8 *)settle->requests + offsetof(struct settle_request, actor),
        .stride = sizeof(struct settle_request)};
}

static bool settle_scoped_is(const struct settle_scoped_ids *ids, u32 index, const char *scope) {
    ASSERT(ids != NULL && scope != NULL);
    ASSERT(index != SETTLE_NONE);
    return memcmp(ids->scopes + (size_t)index * ids->stride, scope, KHORGOS_BIC_BYTES) == 0;
}

u32 settle_scoped_find(const struct settle_scoped_ids *ids, u128 id, const char *scope) {
    ASSERT(ids != NULL && ids->map != NULL);
    ASSERT(id != 0);
    u32 index = 0;
    if (!base_id_map_get(ids->map, id, &index)) return SETTLE_NONE;
    if (scope == NULL) return index;
    while (index != SETTLE_NONE && !settle_scoped_is(ids, index, scope)) index = ids->next[index];
    return index;
}

bool settle_scoped_insert(struct base_id_map *map, u32 *next, const struct settle_scoped_ids *ids,
                          u128 id, u32 index) {
    ASSERT(map == ids->map && next == ids->next);
    ASSERT(id != 0 && index != SETTLE_NONE);
    const char *scope = (const char *)ids->scopes + (size_t)index * ids->stride;
    next[index] = SETTLE_NONE;
    u32 at = 0;
    if (!base_id_map_get(map, id, &at)) {
        base_id_map_insert(map, id, index);
        return true;
    }
    for (;; at = next[at]) {
        if (settle_scoped_is(ids, at, scope)) return false;
        if (next[at] == SETTLE_NONE) break;
    }
    next[at] = index;
    return true;
}

const char *settle_actor_scope(const struct settle *settle) {
    ASSERT(settle != NULL);
    static const char operator_scope[KHORGOS_BIC_BYTES];
    return memcmp(settle->actor, operator_scope, KHORGOS_BIC_BYTES) == 0 ? NULL : settle->actor;
}

void settle_actor_set(struct settle *settle, const char bic[KHORGOS_BIC_BYTES]) {
    ASSERT(settle != NULL);
    memset(settle->actor, 0, KHORGOS_BIC_BYTES);
    if (bic != NULL) memcpy(settle->actor, bic, KHORGOS_BIC_BYTES);
    ASSERT(bic == NULL || settle_actor_scope(settle) != NULL);
}

u32 settle_payment_find(const struct settle *settle, const char payer[KHORGOS_BIC_BYTES],
                        u128 id) {
    ASSERT(settle != NULL && payer != NULL);
    ASSERT(id != 0);
    char scope[KHORGOS_BIC_BYTES];
    memcpy(scope, payer, KHORGOS_BIC_BYTES);
    settle_bic_normalize(scope); /* an invalid BIC stays as it is, as in the stored record */
    struct settle_scoped_ids ids = settle_scoped_payments(settle);
    return settle_scoped_find(&ids, id, scope);
}

/* ---- Request ids ------------------------------------------------------------------------- */

/* The request of the actor with this id, SETTLE_NONE when none. */
static u32 settle_request_find(const struct settle *settle, u128 id) {
    struct settle_scoped_ids ids = settle_scoped_requests(settle);
    static const char operator_scope[KHORGOS_BIC_BYTES];
    const char *scope = settle_actor_scope(settle);
    return settle_scoped_find(&ids, id, scope == NULL ? operator_scope : scope);
}

bool settle_request_seen(struct settle *settle, u32 operation, u128 id, const void *event,
                         u32 size, struct khorgos_settle_result *result) {
    ASSERT(id != 0);
    ASSERT(result != NULL);
    u32 index = settle_request_find(settle, id);
    if (index == SETTLE_NONE) return false;
    ASSERT(index < settle->request_count);
    if (settle->requests[index].checksum != settle_request_checksum(operation, event, size)) {
        *result =
            (struct khorgos_settle_result){.timestamp = settle->requests[index].result.timestamp,
                                           .status = KHORGOS_SETTLE_exists_with_different_fields};
        return true;
    }
    *result = settle->requests[index].result;
    result->flags |= KHORGOS_SETTLE_RESULT_RETRY;
    return true;
}

bool settle_request_begin(struct settle *settle, u32 operation, u128 id, const void *event,
                          u32 size, struct khorgos_settle_result *result) {
    ASSERT(settle != NULL && event != NULL);
    ASSERT(result != NULL);
    if (id == 0) {
        result->status = KHORGOS_SETTLE_id_must_not_be_zero;
        return false;
    }
    if (settle_request_seen(settle, operation, id, event, size, result)) return false;
    if (settle->request_count == settle->config.request_count_max) {
        result->status = KHORGOS_SETTLE_capacity_full;
        return false;
    }
    return true;
}

void settle_request_store(struct settle *settle, u32 operation, u128 id, const void *event,
                          u32 size, const struct khorgos_settle_result *result) {
    ASSERT(id != 0);
    ASSERT(settle_request_find(settle, id) == SETTLE_NONE);
    if (settle->request_count == settle->config.request_count_max) return; /* checked by callers */
    u32 index = settle->request_count++;
    memset(&settle->requests[index], 0, sizeof(settle->requests[index]));
    settle->requests[index].id = id;
    settle->requests[index].checksum = settle_request_checksum(operation, event, size);
    settle->requests[index].result = *result;
    memcpy(settle->requests[index].actor, settle->actor, KHORGOS_BIC_BYTES);
    struct settle_scoped_ids ids = settle_scoped_requests(settle);
    bool inserted =
        settle_scoped_insert(&settle->request_map, settle->request_same_id, &ids, id, index);
    ASSERT(inserted);
    settle->request_stored_last = index;
    settle->request_stored_result = (struct khorgos_settle_result *)result;
}

u32 settle_settled_since(const struct settle *settle, u64 before) {
    ASSERT(settle->payments_settled >= before);
    ASSERT(settle->payments_settled - before <= U32_MAX);
    return (u32)(settle->payments_settled - before);
}

/* ----------------------------------------------------------------------------------------- */
/* Timestamps.                                                                                */

u64 settle_timestamp_take(struct settle *settle) {
    ASSERT(settle != NULL);
    u64 timestamp = settle->timestamp_cursor++;
    ASSERT(settle->timestamp_cursor > timestamp); /* no wrap */
    settle->timestamp_last = MAX(settle->timestamp_last, timestamp);
    return timestamp;
}

u64 settle_event_begin(struct settle *settle, struct khorgos_settle_result *result) {
    ASSERT(result != NULL);
    u64 timestamp = settle_timestamp_take(settle);
    *result = (struct khorgos_settle_result){.timestamp = timestamp};
    return timestamp;
}

/* ----------------------------------------------------------------------------------------- */
/* The chain.                                                                                 */

/* A chain is flushed in ledger calls of at most SETTLE_CHAIN_EVENTS_MAX events, each of which
 * must pass the ledger's own (conservative) check; the history entries it reserves per call are
 * never used by this layer's accounts (no history flag), so one call's check stands for all,
 * and the transfer array must hold the whole chain. */
bool settle_chain_capacity(const struct settle *settle, u32 count) {
    const struct ledger *ledger = settle->ledger;
    ASSERT(settle->chain_count == 0);
    ASSERT(ledger->transfer_count <= ledger->config.transfer_count_max);
    return ledger_capacity_transfers(ledger, MIN(count, SETTLE_CHAIN_EVENTS_MAX)) &&
           (u64)ledger->transfer_count + count <= ledger->config.transfer_count_max;
}

/* Hands the scratch to the ledger; `last` ends the chain, otherwise it goes on in the next part
 * (ledger_chain_continue), so its last event stays linked. */
static void settle_chain_flush_part(struct settle *settle, bool last) {
    u32 count = settle->chain_count;
    ASSERT(count <= SETTLE_CHAIN_EVENTS_MAX);
    ASSERT(count > 0 || last);
    if (count == 0) return;
    for (u32 index = 0; index < count; index++) {
        settle->chain[index].flags = index + 1 < count || !last ? KHORGOS_TRANSFER_LINKED : 0;
    }
    if (!last) ledger_chain_continue(settle->ledger);
    u64 timestamp = settle->timestamp_cursor + count - 1;
    ledger_create_transfers(settle->ledger, timestamp, settle->chain, count,
                            settle->chain_results);
    for (u32 index = 0; index < count; index++) {
        ASSERT(settle->chain_results[index].status == KHORGOS_CREATE_TRANSFER_created);
    }
    settle->timestamp_cursor = timestamp + 1;
    settle->timestamp_last = timestamp;
    settle->chain_count = 0;
    ASSERT(settle->ledger->chain_open == !last);
}

void settle_chain_flush(struct settle *settle) {
    settle_chain_flush_part(settle, true);
}

void settle_chain_add(struct settle *settle, u32 kind, u128 id, u128 debit, u128 credit,
                      u128 amount, u32 ledger, u128 user_data) {
    ASSERT(amount > 0);
    ASSERT(debit != credit);
    /* Full, and another event follows: the chain goes on in the next part. */
    if (settle->chain_count == SETTLE_CHAIN_EVENTS_MAX) settle_chain_flush_part(settle, false);
    settle->chain[settle->chain_count++] = (struct khorgos_transfer){
        .id = id, .debit_account_id = debit, .credit_account_id = credit, .amount = amount,
        .user_data_128 = user_data, .ledger = ledger, .code = (u16)kind};
}

/* ----------------------------------------------------------------------------------------- */
/* Payments: records, queues, finishing and settling, retries.                                */

void settle_queue_append(struct settle *settle, u32 payment) {
    struct khorgos_payment *record = &settle->payments[payment];
    struct settle_position *position = &settle->positions[settle->payment_payer_slot[payment]];
    u32 priority = record->priority;
    ASSERT(priority < KHORGOS_PRIORITY_COUNT);
    ASSERT(record->state != KHORGOS_PAYMENT_QUEUED);
    settle->payment_prev[payment] = position->queue_tail[priority];
    settle->payment_next[payment] = SETTLE_NONE;
    if (position->queue_tail[priority] == SETTLE_NONE) {
        position->queue_head[priority] = payment;
    } else {
        settle->payment_next[position->queue_tail[priority]] = payment;
    }
    position->queue_tail[priority] = payment;
    position->queued_count++;
    position->queued_value += record->amount;
    record->state = KHORGOS_PAYMENT_QUEUED;
}

void settle_queue_remove(struct settle *settle, u32 payment) {
    struct khorgos_payment *record = &settle->payments[payment];
    struct settle_position *position = &settle->positions[settle->payment_payer_slot[payment]];
    u32 priority = record->priority;
    ASSERT(record->state == KHORGOS_PAYMENT_QUEUED);
    ASSERT(position->queued_count > 0 && position->queued_value >= record->amount);
    u32 previous = settle->payment_prev[payment];
    u32 next = settle->payment_next[payment];
    if (previous == SETTLE_NONE) position->queue_head[priority] = next;
    else settle->payment_next[previous] = next;
    if (next == SETTLE_NONE) position->queue_tail[priority] = previous;
    else settle->payment_prev[next] = previous;
    settle->payment_next[payment] = SETTLE_NONE;
    settle->payment_prev[payment] = SETTLE_NONE;
    position->queued_count--;
    position->queued_value -= record->amount;
    record->state = 0;
}

void settle_waiting_remove(struct settle *settle, u32 payment) {
    struct khorgos_payment *record = &settle->payments[payment];
    struct settle_currency *currency =
        &settle->currencies[settle->positions[settle->payment_payer_slot[payment]].currency];
    ASSERT(record->state == KHORGOS_PAYMENT_WAITING);
    u32 previous = settle->payment_prev[payment];
    u32 next = settle->payment_next[payment];
    if (previous == SETTLE_NONE) currency->waiting_head = next;
    else settle->payment_next[previous] = next;
    if (next == SETTLE_NONE) currency->waiting_tail = previous;
    else settle->payment_prev[next] = previous;
    settle->payment_next[payment] = SETTLE_NONE;
    settle->payment_prev[payment] = SETTLE_NONE;
    record->state = 0;
}

void settle_waiting_append(struct settle *settle, u32 payment) {
    struct khorgos_payment *record = &settle->payments[payment];
    struct settle_currency *currency =
        &settle->currencies[settle->positions[settle->payment_payer_slot[payment]].currency];
    ASSERT(record->state == 0);
    settle->payment_prev[payment] = currency->waiting_tail;
    settle->payment_next[payment] = SETTLE_NONE;
    if (currency->waiting_tail == SETTLE_NONE) currency->waiting_head = payment;
    else settle->payment_next[currency->waiting_tail] = payment;
    currency->waiting_tail = payment;
    record->state = KHORGOS_PAYMENT_WAITING;
}

/* Whether the payer has a queued payment of this priority or a higher one (fifo holds). */
bool settle_queue_holds(const struct settle *settle, u32 slot, u32 priority) {
    const struct settle_position *position = &settle->positions[slot];
    ASSERT(priority < KHORGOS_PRIORITY_COUNT);
    for (u32 level = 0; level <= priority; level++) {
        if (position->queue_head[level] != SETTLE_NONE) return true;
    }
    return false;
}

void settle_payment_finish(struct settle *settle, u32 payment, u8 state, u32 reason,
                           u64 timestamp) {
    struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(state == KHORGOS_PAYMENT_REJECTED || state == KHORGOS_PAYMENT_CANCELLED);
    if (record->state == KHORGOS_PAYMENT_QUEUED) settle_queue_remove(settle, payment);
    if (record->state == KHORGOS_PAYMENT_WAITING) settle_waiting_remove(settle, payment);
    ASSERT(record->state == 0);
    record->state = state;
    record->reason = reason;
    record->finished_at = timestamp;
    u32 slot = settle->payment_payer_slot[payment];
    if (state == KHORGOS_PAYMENT_REJECTED && slot != SETTLE_NONE) {
        settle->positions[slot].rejected_value += record->amount;
        settle->positions[slot].rejected_count++;
    }
}

/* The one place where a payment becomes settled, whichever path settled it (alone, in a set,
 * cross-currency, in a window), so that results count every one (settle.h, "Results"); the
 * caller says which path (enum khorgos_settled_in). */
void settle_payment_mark_settled(struct settle *settle, u32 payment, u8 settled_in,
                                 u64 timestamp) {
    ASSERT(payment < settle->payment_count);
    ASSERT(settled_in >= KHORGOS_SETTLED_IN_ALONE && settled_in <= KHORGOS_SETTLED_IN_WINDOW);
    struct khorgos_payment *record = &settle->payments[payment];
    ASSERT(record->state == 0 || record->state == KHORGOS_PAYMENT_IN_WINDOW);
    ASSERT(record->settled_in == KHORGOS_SETTLED_IN_NONE);
    ASSERT(settled_in != KHORGOS_SETTLED_IN_WINDOW || record->window != 0);
    record->state = KHORGOS_PAYMENT_SETTLED;
    record->settled_in = settled_in;
    record->reason = KHORGOS_SETTLE_settled;
    record->finished_at = timestamp;
    settle->payments_settled++;
}

void settle_payment_settled(struct settle *settle, u32 payment, u64 timestamp) {
    struct khorgos_payment *record = &settle->payments[payment];
    u32 payer_slot = settle->payment_payer_slot[payment];
    u32 payee_slot = settle->payment_payee_slot[payment];
    struct settle_position *payer = &settle->positions[payer_slot];
    struct settle_position *payee = &settle->positions[payee_slot];
    ASSERT(record->state == 0);
    ASSERT(record->transfer_id_debit != 0);
    settle_payment_mark_settled(settle, payment, KHORGOS_SETTLED_IN_ALONE, timestamp);
    payer->sent += record->amount;
    payer->sent_count++;
    payee->received += record->amount;
    payee->received_count++;
    struct settle_bilateral_limit *forward =
        settle_limit_find(settle, payer_slot, payee->participant);
    if (forward != NULL) forward->position += (i128)record->amount;
    struct settle_bilateral_limit *reverse =
        settle_limit_find(settle, payee_slot, payer->participant);
    if (reverse != NULL) reverse->position -= (i128)record->amount;
    settle_retry_add(settle, payee_slot);
}

void settle_retry_add(struct settle *settle, u32 slot) {
    struct settle_position *position = &settle->positions[slot];
    ASSERT(position->in_use);
    if (position->retry_pending || position->queued_count == 0) return;
    ASSERT(settle->retry_count < settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX);
    position->retry_pending = true;
    settle->retry_list[settle->retry_count++] = slot;
}

/* Records a new payment (the caller checked its id is new and capacity remains): in no queue
 * yet, submitted now, next in arrival order. Returns its index. */
u32 settle_payment_append(struct settle *settle, const struct khorgos_payment *event,
                          u64 timestamp) {
    ASSERT(settle != NULL && event != NULL);
    ASSERT(settle->payment_count < settle->config.payment_count_max);
    u32 payment = settle->payment_count++;
    settle->payments[payment] = *event;
    settle_bic_normalize(settle->payments[payment].debtor); /* the scope of its id */
    settle->payments[payment].submitted_at = timestamp;
    settle->payments[payment].sequence = ++settle->payment_sequence;
    settle->payment_next[payment] = SETTLE_NONE;
    settle->payment_prev[payment] = SETTLE_NONE;
    settle->payment_payer_slot[payment] = SETTLE_NONE;
    settle->payment_payee_slot[payment] = SETTLE_NONE;
    struct settle_scoped_ids ids = settle_scoped_payments(settle);
    bool inserted =
        settle_scoped_insert(&settle->payment_map, settle->payment_same_id, &ids, event->id,
                             payment);
    ASSERT(inserted); /* the caller found (payer, id) new */
    return payment;
}

bool settle_date_valid(u32 date) {
    static const u8 days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    u32 year = date / 10000, month = date / 100 % 100, day = date % 100;
    if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1) return false;
    if (month == 2 && day == 29) return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return day <= days[month - 1];
}

bool settle_filter_select(const struct settle *settle, const struct khorgos_settle_filter *filter,
                          u32 *participant, u32 *currency) {
    ASSERT(filter != NULL && participant != NULL && currency != NULL);
    *participant = SETTLE_NONE;
    *currency = SETTLE_NONE;
    if (filter->bic[0] != '\0') {
        char bic[KHORGOS_BIC_BYTES];
        memcpy(bic, filter->bic, KHORGOS_BIC_BYTES);
        if (!settle_bic_normalize(bic)) return false;
        *participant = settle_participant_find(settle, bic);
        if (*participant == SETTLE_NONE) return false;
    }
    if (filter->currency != 0) {
        *currency = settle_currency_find(settle, filter->currency);
        if (*currency == SETTLE_NONE) return false;
    }
    return true;
}

u32 settle_limits_status(const struct settle *settle, u32 payer_slot, u32 payee, u128 amount) {
    const struct settle_position *position = &settle->positions[payer_slot];
    ASSERT(position->in_use);
    ASSERT(payee < settle->participant_count);
    if (position->net_debit_cap != KHORGOS_AMOUNT_MAX) {
        i128 after = (i128)(position->sent + amount) - (i128)position->received;
        if (after > 0 && (u128)after > position->net_debit_cap) {
            return KHORGOS_SETTLE_exceeds_net_debit_cap;
        }
    }
    const struct settle_bilateral_limit *limit = settle_limit_find(settle, payer_slot, payee);
    if (limit != NULL) {
        i128 after = limit->position + (i128)amount;
        if (after > 0 && (u128)after > limit->limit) return KHORGOS_SETTLE_exceeds_bilateral_limit;
    }
    return KHORGOS_SETTLE_ok;
}

bool settle_participant_suspended(const struct settle *settle, u32 participant) {
    ASSERT(participant < settle->participant_count);
    ASSERT(settle->participant_count <= settle->config.participant_count_max);
    return (settle->participants[participant].record.flags & KHORGOS_PARTICIPANT_SUSPENDED) != 0;
}

u128 settle_limit_key(u32 slot, u32 counterparty) {
    return (((u128)slot << 32) | counterparty) + 1;
}

struct settle_bilateral_limit *settle_limit_find(const struct settle *settle, u32 slot,
                                                 u32 counterparty) {
    ASSERT(slot != SETTLE_NONE && counterparty != SETTLE_NONE);
    if (settle->limit_count == 0) return NULL;
    u32 index = 0;
    if (!base_id_map_get(&settle->limit_map, settle_limit_key(slot, counterparty), &index)) {
        return NULL;
    }
    ASSERT(index < settle->limit_count);
    return &settle->limits[index];
}

static bool settle_timer_before(const struct settle_timer *a, const struct settle_timer *b) {
    return a->due < b->due || (a->due == b->due && a->payment < b->payment);
}

static void settle_timer_swap(struct settle *settle, u32 a, u32 b) {
    struct settle_timer swap = settle->timers[a];
    settle->timers[a] = settle->timers[b];
    settle->timers[b] = swap;
}

void settle_timer_push(struct settle *settle, u64 due, u32 payment) {
    ASSERT(due > 0);
    ASSERT(settle->timer_count < settle->config.payment_count_max);
    u32 at = settle->timer_count++;
    settle->timers[at] = (struct settle_timer){.due = due, .payment = payment};
    while (at > 0 && settle_timer_before(&settle->timers[at], &settle->timers[(at - 1) / 2])) {
        settle_timer_swap(settle, at, (at - 1) / 2);
        at = (at - 1) / 2;
    }
}

void settle_timer_pop(struct settle *settle) {
    ASSERT(settle->timer_count > 0);
    settle->timers[0] = settle->timers[--settle->timer_count];
    u32 at = 0;
    for (;;) {
        u32 smallest = at;
        u32 left = 2 * at + 1, right = 2 * at + 2;
        if (left < settle->timer_count &&
            settle_timer_before(&settle->timers[left], &settle->timers[smallest])) {
            smallest = left;
        }
        if (right < settle->timer_count &&
            settle_timer_before(&settle->timers[right], &settle->timers[smallest])) {
            smallest = right;
        }
        if (smallest == at) break;
        settle_timer_swap(settle, at, smallest);
        at = smallest;
    }
}

u32 *settle_holidays_of(struct settle *settle, u32 currency) {
    ASSERT(currency < settle->currency_count);
    ASSERT(settle->currencies[currency].holiday_count <= SETTLE_HOLIDAY_COUNT_MAX);
    return &settle->holidays[currency * SETTLE_HOLIDAY_COUNT_MAX];
}

/* The index of the first holiday of the currency on or after `date` (binary search). */
u32 settle_holiday_lower_bound(const struct settle *settle, u32 currency, u32 date) {
    ASSERT(currency < settle->currency_count);
    const u32 *dates = &settle->holidays[currency * SETTLE_HOLIDAY_COUNT_MAX];
    u32 low = 0, high = settle->currencies[currency].holiday_count;
    ASSERT(high <= SETTLE_HOLIDAY_COUNT_MAX);
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (dates[middle] < date) low = middle + 1;
        else high = middle;
    }
    return low;
}

bool settle_holiday_is(const struct settle *settle, u32 currency, u32 date) {
    ASSERT(settle != NULL);
    ASSERT(currency < settle->currency_count);
    u32 at = settle_holiday_lower_bound(settle, currency, date);
    return at < settle->currencies[currency].holiday_count &&
           settle->holidays[currency * SETTLE_HOLIDAY_COUNT_MAX + at] == date;
}

/* The one intraday credit draw: appends to the chain a draw of `draw` for `slot` (0: nothing)
 * and counts it as outstanding; returns the draw's transfer id, 0 when none. The caller computed
 * the amount from balances before its chain, within the unused credit line. */
u128 settle_credit_draw(struct settle *settle, u32 slot, u128 draw) {
    struct settle_position *position = &settle->positions[slot];
    if (draw == 0) return 0;
    ASSERT(position->credit_line >= position->credit_outstanding);
    ASSERT(draw <= position->credit_line - position->credit_outstanding);
    u32 numeric = settle->currencies[position->currency].numeric;
    u128 id = settle_transfer_id_next(settle, SETTLE_TRANSFER_CREDIT_DRAW);
    settle_chain_add(settle, SETTLE_TRANSFER_CREDIT_DRAW, id, position->credit_account_id,
                     position->settlement_account_id, draw, numeric, 0);
    position->credit_outstanding += draw;
    position->credit_used = MAX(position->credit_used, position->credit_outstanding);
    return id;
}

/* Draws for `slot` what `amount` exceeds its balance by (settle_credit_draw); the draw's id or
 * 0 when the balance covers it. */
u128 settle_credit_cover(struct settle *settle, u32 slot, u128 amount) {
    ASSERT(settle->positions[slot].in_use);
    ASSERT(slot < settle->participant_count * KHORGOS_PARTICIPANT_CURRENCIES_MAX);
    u128 balance = settle_balance(settle, slot);
    if (amount <= balance) return 0;
    return settle_credit_draw(settle, slot, amount - balance);
}

/* The legs of a settled or windowed payment from its record (for netting). */
/* The legs of a payment as it settled or was priced (its route, providers and amounts on its
 * record): one for a local payment, two or three for a cross-currency one. */
u32 settle_payment_legs(const struct settle *settle, u32 payment, struct settle_fx_leg *legs) {
    ASSERT(legs != NULL);
    ASSERT(payment < settle->payment_count);
    const struct khorgos_payment *record = &settle->payments[payment];
    u32 payer_slot = settle->payment_payer_slot[payment];
    u32 payee_slot = settle->payment_payee_slot[payment];
    if (record->route == KHORGOS_ROUTE_NONE) {
        legs[0] = (struct settle_fx_leg){record->amount, payer_slot, payee_slot};
        return 1;
    }
    u32 first = record->provider - 1;
    u32 last = record->provider_vehicle != 0 ? record->provider_vehicle - 1 : first;
    u32 count = 0;
    legs[count++] = (struct settle_fx_leg){
        record->amount, payer_slot,
        settle_position_slot(settle, first, settle->positions[payer_slot].currency)};
    if (first != last) {
        u32 vehicle = settle_currency_find(settle, settle->fx.vehicle_numeric_of[payment]);
        legs[count++] = (struct settle_fx_leg){settle->fx.amount_vehicle[payment],
                                               settle_position_slot(settle, first, vehicle),
                                               settle_position_slot(settle, last, vehicle)};
    }
    legs[count++] = (struct settle_fx_leg){
        record->amount_target,
        settle_position_slot(settle, last, settle->positions[payee_slot].currency), payee_slot};
    return count;
}
