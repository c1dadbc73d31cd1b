/*
 * settle_references.c: payments with their ISO 20022 references (MsgId, InstrId, TxId, the
 * sender's BizMsgIdr, the message's name and checksum, and for a return the payment it
 * returns). The 256-byte payment record has 8 spare bytes and these are four texts of 35, so
 * they live beside it rather than in it (growing the record would change every user of its
 * 256 bytes: submit_payments and lookup_payments on the wire, the clients, the simulator):
 * references[i] belongs to payments[i] (all zero when a payment has none), found by the
 * payment's index, so however payment ids are looked up the references follow the record.
 * They are written with the payment in the same event of submit_message_payments (so the
 * journal holds both in one record and a replay stores both), and are part of the snapshot and
 * its digest.
 *
 * An event of submit_message_payments, in order:
 *   - references that are not well formed (references.payment_id other than the payment's,
 *     no sender BIC, MsgId or message name, text that is not printable ASCII, a position of 0,
 *     a reserved byte set): references_invalid;
 *   - a payment id already taken: its stored references must be equal (else
 *     exists_with_different_fields), then submit_payments answers the retry;
 *   - a new payment of a message (sender and MsgId) already holding payments with another
 *     body checksum: message_exists_with_different_body (DUPL);
 *   - a return: the original must be a settled payment, paid by the return's creditor to its
 *     debtor, the return in the currency the original's creditor received (for a converted
 *     original: its currency_target, converted back into its currency, amount_kind debtor;
 *     else original_not_found), and the returned amount at most what was received (amount,
 *     or a converted original's amount_target) less its earlier returns that are not rejected
 *     or cancelled (else exceeds_original_amount, AM09);
 *   - then the payment is submitted as submit_payments would (its result is the event's), and
 *     when it was stored (any status but a refusal before it was kept) so are its references.
 * The maps (message key and original id -> newest payment) are derived and rebuilt on load.
 */
#include "settle/settle_private.h"

#include <stdlib.h>

khorgos_error settle_references_init(struct settle *settle) {
    ASSERT(settle != NULL && settle->references == NULL);
    u32 payments = settle->config.payment_count_max;
    ASSERT(payments > 0);
    settle->references = calloc(payments, sizeof(*settle->references));
    settle->reference_message_next = calloc(payments, sizeof(u32));
    settle->reference_return_next = calloc(payments, sizeof(u32));
    if (settle->references == NULL || settle->reference_message_next == NULL ||
        settle->reference_return_next == NULL) {
        return KHORGOS_ERROR_out_of_memory;
    }
    khorgos_error error = base_id_map_init(&settle->reference_message_map, payments);
    if (error == KHORGOS_ERROR_ok) {
        error = base_id_map_init(&settle->reference_return_map, payments);
    }
    return error;
}

void settle_references_deinit(struct settle *settle) {
    ASSERT(settle != NULL);
    if (settle->reference_message_map.slots != NULL) {
        base_id_map_deinit(&settle->reference_message_map);
    }
    if (settle->reference_return_map.slots != NULL) {
        base_id_map_deinit(&settle->reference_return_map);
    }
    free(settle->references);
    free(settle->reference_message_next);
    free(settle->reference_return_next);
    settle->references = NULL;
    settle->reference_message_next = settle->reference_return_next = NULL;
    ASSERT(settle->references == NULL);
}

/* The key of a message: XXH3-128 of its sender (11 characters) and MsgId (35 bytes), never 0
 * (the id map's empty key). */
static u128 settle_message_key(const char sender[KHORGOS_BIC_BYTES],
                               const char message_id[KHORGOS_REFERENCE_BYTES]) {
    ASSERT(sender != NULL && message_id != NULL);
    u8 bytes[KHORGOS_BIC_BYTES + KHORGOS_REFERENCE_BYTES];
    memcpy(bytes, sender, KHORGOS_BIC_BYTES);
    memcpy(bytes + KHORGOS_BIC_BYTES, message_id, KHORGOS_REFERENCE_BYTES);
    u128 key = base_checksum128(bytes, sizeof(bytes));
    ASSERT(sizeof(bytes) == 46);
    return key == 0 ? 1 : key;
}

static bool settle_same_message(const struct khorgos_payment_references *a,
                                const struct khorgos_payment_references *b) {
    ASSERT(a != NULL && b != NULL);
    return memcmp(a->sender, b->sender, KHORGOS_BIC_BYTES) == 0 &&
           memcmp(a->message_id, b->message_id, KHORGOS_REFERENCE_BYTES) == 0;
}

/* Whether references are well formed; the sender is normalised in *out. */
static bool settle_references_valid(const struct khorgos_message_payment *event,
                                    struct khorgos_payment_references *out) {
    ASSERT(event != NULL && out != NULL);
    *out = event->references;
    return out->payment_id == event->payment.id && out->reserved == 0 && out->position > 0 &&
           out->original_payment_id != out->payment_id && settle_bic_normalize(out->sender) &&
           settle_text_valid(out->message_id, KHORGOS_REFERENCE_BYTES, true) &&
           settle_text_valid(out->instruction_id, KHORGOS_REFERENCE_BYTES, false) &&
           settle_text_valid(out->transaction_id, KHORGOS_REFERENCE_BYTES, false) &&
           settle_text_valid(out->business_message_id, KHORGOS_REFERENCE_BYTES, false) &&
           settle_text_valid(out->message_name, KHORGOS_MESSAGE_NAME_BYTES, true);
}

/* A new payment of a message that already holds payments: the same body, or refused. */
static u32 settle_message_status(const struct settle *settle,
                                 const struct khorgos_payment_references *references) {
    ASSERT(settle != NULL && references != NULL);
    u32 at = SETTLE_NONE;
    if (!base_id_map_get(&settle->reference_message_map,
                         settle_message_key(references->sender, references->message_id), &at)) {
        return KHORGOS_SETTLE_ok;
    }
    for (; at != SETTLE_NONE; at = settle->reference_message_next[at]) {
        ASSERT(at < settle->payment_count);
        const struct khorgos_payment_references *earlier = &settle->references[at];
        if (settle_same_message(earlier, references) &&
            earlier->body_checksum != references->body_checksum) {
            return KHORGOS_SETTLE_message_exists_with_different_body;
        }
    }
    return KHORGOS_SETTLE_ok;
}

/* A return of a converted original is converted back: from the currency its creditor received
 * into the original's, the amount being the return's (debtor's); any other return is in one
 * currency. */
static bool settle_return_conversion_valid(const struct khorgos_payment *record,
                                           const struct khorgos_payment *payment, bool converted) {
    ASSERT(record != NULL && payment != NULL);
    ASSERT(!converted || record->currency_target != 0);
    if (!converted) return payment->currency_target == 0 ||
                           payment->currency_target == payment->currency;
    return payment->currency_target == record->currency &&
           payment->amount_kind == KHORGOS_AMOUNT_DEBTOR;
}

/* A new return: its original settled in the reverse direction, and not over-returned. */
static u32 settle_return_status(const struct settle *settle, const struct khorgos_payment *payment,
                                u128 original_id) {
    ASSERT(settle != NULL && payment != NULL);
    ASSERT(original_id != 0);
    /* The original is the return creditor's payment (ids are scoped by payer). */
    u32 original = settle_payment_find(settle, payment->creditor, original_id);
    if (original == SETTLE_NONE) return KHORGOS_SETTLE_original_not_found;
    const struct khorgos_payment *record = &settle->payments[original];
    char debtor[KHORGOS_BIC_BYTES], creditor[KHORGOS_BIC_BYTES];
    memcpy(debtor, payment->debtor, sizeof(debtor));
    memcpy(creditor, payment->creditor, sizeof(creditor));
    /* What the original's creditor received, in the currency it received it in. */
    bool converted = record->currency_target != 0 && record->currency_target != record->currency;
    u32 received_currency = converted ? record->currency_target : record->currency;
    u128 received = converted ? record->amount_target : record->amount;
    if (record->state != KHORGOS_PAYMENT_SETTLED || payment->currency != received_currency ||
        !settle_return_conversion_valid(record, payment, converted) ||
        !settle_bic_normalize(debtor) || !settle_bic_normalize(creditor) ||
        memcmp(record->debtor, creditor, KHORGOS_BIC_BYTES) != 0 ||
        memcmp(record->creditor, debtor, KHORGOS_BIC_BYTES) != 0) {
        return KHORGOS_SETTLE_original_not_found;
    }
    u128 returned = 0;
    u32 at = SETTLE_NONE;
    if (base_id_map_get(&settle->reference_return_map, original_id, &at)) {
        for (; at != SETTLE_NONE; at = settle->reference_return_next[at]) {
            ASSERT(at < settle->payment_count);
            u8 state = settle->payments[at].state;
            if (state == KHORGOS_PAYMENT_REJECTED || state == KHORGOS_PAYMENT_CANCELLED) continue;
            /* Another payer's payment with the same id is another original. */
            if (memcmp(settle->payments[at].creditor, record->debtor, KHORGOS_BIC_BYTES) != 0) {
                continue;
            }
            returned += settle->payments[at].amount; /* at most what was received in all */
        }
    }
    ASSERT(returned <= received);
    return payment->amount > received - returned ? KHORGOS_SETTLE_exceeds_original_amount
                                                 : KHORGOS_SETTLE_ok;
}

/* Links a stored payment's references into the two maps (newest first). */
static void settle_references_link(struct settle *settle, u32 payment) {
    ASSERT(payment < settle->payment_count);
    const struct khorgos_payment_references *references = &settle->references[payment];
    ASSERT(references->payment_id == settle->payments[payment].id);
    u128 key = settle_message_key(references->sender, references->message_id);
    u32 newest = SETTLE_NONE;
    if (base_id_map_get(&settle->reference_message_map, key, &newest)) {
        base_id_map_remove(&settle->reference_message_map, key);
    }
    settle->reference_message_next[payment] = newest;
    base_id_map_insert(&settle->reference_message_map, key, payment);
    newest = SETTLE_NONE;
    settle->reference_return_next[payment] = SETTLE_NONE;
    if (references->original_payment_id == 0) return;
    if (base_id_map_get(&settle->reference_return_map, references->original_payment_id,
                        &newest)) {
        base_id_map_remove(&settle->reference_return_map, references->original_payment_id);
    }
    settle->reference_return_next[payment] = newest;
    base_id_map_insert(&settle->reference_return_map, references->original_payment_id, payment);
}

/* The checks of one event before its payment is submitted: ok, or why not. */
static u32 settle_message_payment_status(struct settle *settle,
                                         const struct khorgos_message_payment *event,
                                         struct khorgos_payment_references *references) {
    ASSERT(settle != NULL && event != NULL);
    ASSERT(references != NULL);
    if (event->payment.id == 0) return KHORGOS_SETTLE_id_must_not_be_zero;
    if (!settle_references_valid(event, references)) return KHORGOS_SETTLE_references_invalid;
    u32 existing = settle_payment_find(settle, event->payment.debtor, event->payment.id);
    if (existing != SETTLE_NONE) {
        bool same = memcmp(&settle->references[existing], references, sizeof(*references)) == 0;
        return same ? KHORGOS_SETTLE_ok : KHORGOS_SETTLE_exists_with_different_fields;
    }
    u32 status = settle_message_status(settle, references);
    if (status == KHORGOS_SETTLE_ok && references->original_payment_id != 0) {
        status = settle_return_status(settle, &event->payment, references->original_payment_id);
    }
    return status;
}

void settle_submit_message_payments(struct settle *settle, u64 timestamp,
                                    const struct khorgos_message_payment *events, u32 count,
                                    struct khorgos_settle_result *results) {
    ASSERT(settle != NULL);
    ASSERT(count == 0 || (events != NULL && results != NULL));
    for (u32 index = 0; index < count; index++) {
        struct khorgos_payment_references references;
        u32 status = settle_message_payment_status(settle, &events[index], &references);
        if (status != KHORGOS_SETTLE_ok) {
            settle_event_begin(settle, &results[index]);
            if (status == KHORGOS_SETTLE_exists_with_different_fields) { /* its first time */
                u32 existing = settle_payment_find(settle, events[index].payment.debtor,
                                                   events[index].payment.id);
                ASSERT(existing != SETTLE_NONE);
                results[index].timestamp = settle->payments[existing].submitted_at;
            }
            results[index].status = status;
            continue;
        }
        u32 before = settle->payment_count;
        /* The events before may have booked past T: the event takes the cursor's slot. */
        settle_submit_payments(settle, MAX(timestamp, settle->timestamp_cursor),
                               &events[index].payment, 1, &results[index]);
        if (settle->payment_count == before) continue; /* a retry, or refused before kept */
        ASSERT(settle->payment_count == before + 1);
        settle->references[before] = references;
        settle_references_link(settle, before);
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Lookups.                                                                                   */

static bool settle_filter_reserved_zero(const struct khorgos_references_filter *filter) {
    ASSERT(filter != NULL);
    static const u8 zero[sizeof(filter->reserved)];
    return memcmp(filter->reserved, zero, sizeof(zero)) == 0;
}

/* Copies a chain (newest first) out oldest first, at most count_max records. */
static u32 settle_references_chain(const struct settle *settle, u32 newest, const u32 *next,
                                   const struct khorgos_references_filter *filter,
                                   struct khorgos_payment_references *out, u32 count_max) {
    ASSERT(settle != NULL && next != NULL);
    ASSERT(out != NULL || count_max == 0);
    u32 count = 0;
    for (u32 at = newest; at != SETTLE_NONE; at = next[at]) {
        ASSERT(at < settle->payment_count);
        const struct khorgos_payment_references *references = &settle->references[at];
        if (filter->original_payment_id == 0 &&
            (memcmp(references->sender, filter->sender, KHORGOS_BIC_BYTES) != 0 ||
             memcmp(references->message_id, filter->message_id, KHORGOS_REFERENCE_BYTES) != 0)) {
            continue; /* another message under the same key */
        }
        count++;
    }
    u32 skip = count > count_max ? count - count_max : 0, written = MIN(count, count_max);
    u32 place = written;
    for (u32 at = newest; at != SETTLE_NONE && place > 0; at = next[at]) {
        const struct khorgos_payment_references *references = &settle->references[at];
        if (filter->original_payment_id == 0 &&
            (memcmp(references->sender, filter->sender, KHORGOS_BIC_BYTES) != 0 ||
             memcmp(references->message_id, filter->message_id, KHORGOS_REFERENCE_BYTES) != 0)) {
            continue;
        }
        if (skip > 0) {
            skip--;
            continue;
        }
        out[--place] = *references;
    }
    return written;
}

u32 settle_get_payment_references(const struct settle *settle,
                                  const struct khorgos_references_filter *filter,
                                  struct khorgos_payment_references *out, u32 count_max) {
    ASSERT(settle != NULL && filter != NULL);
    ASSERT(out != NULL);
    u32 limit = MIN(filter->limit, count_max);
    if (limit == 0 || !settle_filter_reserved_zero(filter)) return 0;
    u32 at = SETTLE_NONE;
    if (filter->payment_id != 0) {
        struct settle_scoped_ids ids = settle_scoped_payments(settle);
        at = settle_scoped_find(&ids, filter->payment_id, settle_actor_scope(settle));
        if (at == SETTLE_NONE) return 0;
        if (settle->references[at].payment_id == 0) return 0;
        out[0] = settle->references[at];
        return 1;
    }
    if (filter->original_payment_id != 0) {
        if (!base_id_map_get(&settle->reference_return_map, filter->original_payment_id, &at)) {
            return 0;
        }
        return settle_references_chain(settle, at, settle->reference_return_next, filter, out,
                                       limit);
    }
    struct khorgos_references_filter message = *filter;
    if (!settle_bic_normalize(message.sender)) return 0;
    if (!base_id_map_get(&settle->reference_message_map,
                         settle_message_key(message.sender, message.message_id), &at)) {
        return 0;
    }
    return settle_references_chain(settle, at, settle->reference_message_next, &message, out,
                                   limit);
}

/* ----------------------------------------------------------------------------------------- */
/* Invariants and snapshots.                                                                  */

bool settle_references_check(const struct settle *settle) {
    ASSERT(settle != NULL);
    ASSERT(settle->payment_count <= settle->config.payment_count_max);
    static const struct khorgos_payment_references none;
    for (u32 index = 0; index < settle->payment_count; index++) {
        const struct khorgos_payment_references *references = &settle->references[index];
        if (memcmp(references, &none, sizeof(none)) == 0) continue;
        char sender[KHORGOS_BIC_BYTES];
        memcpy(sender, references->sender, sizeof(sender));
        if (references->payment_id != settle->payments[index].id || references->position == 0 ||
            references->reserved != 0 || !settle_bic_normalize(sender) ||
            memcmp(sender, references->sender, sizeof(sender)) != 0 ||
            !settle_text_valid(references->message_id, KHORGOS_REFERENCE_BYTES, true) ||
            !settle_text_valid(references->message_name, KHORGOS_MESSAGE_NAME_BYTES, true)) {
            return false;
        }
    }
    return true;
}

void settle_references_snapshot_emit(const struct settle *settle, settle_snapshot_put put,
                                     void *context) {
    ASSERT(settle != NULL && put != NULL);
    ASSERT(settle->payment_count <= settle->config.payment_count_max);
    put(context, settle->references, (u64)settle->payment_count * sizeof(*settle->references));
}

khorgos_error settle_references_snapshot_read(struct settle *settle, settle_snapshot_get get,
                                              void *context) {
    ASSERT(settle != NULL && get != NULL);
    ASSERT(settle->payment_count <= settle->config.payment_count_max);
    khorgos_error error =
        get(context, settle->references, (u64)settle->payment_count * sizeof(*settle->references));
    if (error != KHORGOS_ERROR_ok) return error;
    if (!settle_references_check(settle)) return KHORGOS_ERROR_corrupt;
    for (u32 index = 0; index < settle->payment_count; index++) {
        if (settle->references[index].payment_id != 0) settle_references_link(settle, index);
    }
    return KHORGOS_ERROR_ok;
}
