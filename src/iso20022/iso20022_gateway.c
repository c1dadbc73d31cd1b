/*
 * iso20022_gateway.c: khorgos_submit_message, a message in and its reply out, over the engine's
 * public requests (include/khorgos_iso20022.h). The gateway keeps nothing of its own: the
 * engine's records are the whole state, so a restart (or a replay) changes no answer.
 *
 *   pacs.008, pacs.009  each transaction becomes a payment record and its references
 *                       (docs/iso20022.md, "Mapping": MsgId, InstrId, TxId, BizMsgIdr, the
 *                       sender, the message's checksum), submitted in one
 *                       submit_message_payments request; each result's
 *                       status is the transaction's (settled ACSC, queued ACSP, waiting or in a
 *                       window PDNG, otherwise RJCT with the ISO code the status maps to, or
 *                       NARR and the status's name when it maps to none).
 *   pacs.004            each return's original is found (below) and must be settled, in the
 *                       reverse direction, in the same currency, and hold at least the
 *                       returned amount after its earlier returns (AM09); then the returns
 *                       are submitted as payments whose references name the original.
 *   camt.056            each original is found and the engine asked to cancel it, found or
 *                       not (cancel_payments with the message's checksum): a queued or
 *                       waiting one is cancelled (camt.029 CNCL, ACCR), a settled one refused
 *                       ARDT, a missing one NOOR, any other (rejected, cancelled before) NARR.
 * Finding an original: by OrgnlUETR when given (the payment id of a message with a UETR), else
 * among the ids the original message's transactions would have (iso20022_payment_id of the
 * original's sender, OrgnlMsgId and each position), the one with OrgnlEndToEndId.
 *
 * Duplicates and resubmissions are the engine's to decide (settle_references.c): a payment id
 * is the UETR or derived from sender, MsgId and position, so the same message again names the
 * same payments with the same references, and each gets its first answer (the result's retry
 * flag and first timestamp): the reply is the first reply byte for byte (its MsgId is derived
 * from the input's bytes, its CreDtTm is the first result's timestamp). The same sender and
 * MsgId with another body checksum is refused DUPL (message_exists_with_different_body, or
 * exists_with_different_fields for an id already taken). A camt.056 creates no payment: each
 * transaction's cancellation request (its id derived from sender, MsgId and position) carries
 * the message's checksum, and the engine answers that id again with its first result when the
 * checksum is equal, exists_with_different_fields (DUPL) otherwise.
 */
#include "iso20022/iso20022_private.h"

#include <stdio.h>
#include <stdlib.h>

_Static_assert(KHORGOS_MESSAGE_REPLY_BYTES_MAX == ISO20022_REPLY_BYTES_MAX, "one reply size");
_Static_assert(KHORGOS_MESSAGE_BYTES_MAX == ISO20022_MESSAGE_BYTES_MAX, "one message size");
_Static_assert(ISO20022_PAGE_TRANSFERS * sizeof(struct khorgos_payment) <= ISO20022_QUERY_BYTES,
               "one page's payments fit one lookup's reply");

khorgos_error iso20022_execute(struct khorgos_gateway *gateway, u32 operation, const void *body,
                               u32 body_size, void *reply, u32 *reply_size) {
    ASSERT(gateway != NULL && reply_size != NULL);
    ASSERT(body != NULL && reply != NULL);
    *reply_size = 0;
    if (gateway->error != KHORGOS_ERROR_ok) return gateway->error;
    struct khorgos_request request = {
        .operation = operation,
        .body_size = body_size,
        .body = body,
        .reply = reply,
        .reply_capacity = ISO20022_QUERY_BYTES,
        .actor = gateway->actor,
    };
    khorgos_error error = khorgos_execute(gateway->engine, &request, 1);
    if (error == KHORGOS_ERROR_ok) error = request.error;
    if (error != KHORGOS_ERROR_ok) {
        gateway->error = error;
        return error;
    }
    *reply_size = request.reply_size;
    return KHORGOS_ERROR_ok;
}

void iso20022_bic_stored(const char *bic, char out[KHORGOS_BIC_BYTES]) {
    ASSERT(bic != NULL && out != NULL);
    size_t length = strnlen(bic, KHORGOS_BIC_BYTES);
    ASSERT(length == 8 || length == KHORGOS_BIC_BYTES);
    memcpy(out, bic, length);
    if (length == 8) memcpy(out + 8, "XXX", 3);
}

void iso20022_uuid_text(u128 value, char out[ISO20022_UETR_TEXT_BYTES + 1]) {
    ASSERT(out != NULL);
    static const char digits[] = "0123456789abcdef";
    u32 at = 0;
    for (u32 nibble = 0; nibble < 32; nibble++) {
        if (nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20) out[at++] = '-';
        out[at++] = digits[(u32)(value >> (124 - 4 * nibble)) & 0xFu];
    }
    out[at] = '\0';
    ASSERT(at == ISO20022_UETR_TEXT_BYTES);
}

khorgos_error khorgos_gateway_open(struct khorgos_gateway **gateway, struct khorgos *engine) {
    ASSERT(gateway != NULL);
    *gateway = NULL;
    if (engine == NULL) return KHORGOS_ERROR_invalid_argument;
    struct khorgos_gateway *opened = calloc(1, sizeof(*opened));
    if (opened != NULL) {
        opened->query = aligned_alloc(64, ISO20022_QUERY_BYTES);
        opened->lookup = aligned_alloc(64, ISO20022_QUERY_BYTES);
    }
    if (opened == NULL || opened->query == NULL || opened->lookup == NULL) {
        khorgos_gateway_close(opened);
        return KHORGOS_ERROR_out_of_memory;
    }
    opened->engine = engine;
    opened->actor = (struct khorgos_actor){.role = KHORGOS_ACTOR_OPERATOR};
    *gateway = opened;
    ASSERT(ISO20022_QUERY_BYTES % 64 == 0);
    return KHORGOS_ERROR_ok;
}

void khorgos_gateway_set_actor(struct khorgos_gateway *gateway,
                               const struct khorgos_actor *actor) {
    ASSERT(gateway != NULL && gateway->engine != NULL);
    ASSERT(actor == NULL || actor->role <= KHORGOS_ACTOR_PARTICIPANT);
    gateway->actor = actor != NULL ? *actor
                                   : (struct khorgos_actor){.role = KHORGOS_ACTOR_OPERATOR};
}

void khorgos_gateway_close(struct khorgos_gateway *gateway) {
    if (gateway == NULL) return;
    ASSERT(gateway->engine != NULL || gateway->query == NULL || gateway->lookup == NULL);
    free(gateway->query);
    free(gateway->lookup);
    free(gateway);
}

/* ----------------------------------------------------------------------------------------- */
/* The reader's lookup: participants from get_positions.                                      */

static enum iso20022_participant_state gateway_participant(void *context, const char *bic,
                                                           u32 currency) {
    struct khorgos_gateway *gateway = context;
    ASSERT(gateway != NULL && bic != NULL);
    struct khorgos_settle_filter filter;
    memset(&filter, 0, sizeof(filter));
    iso20022_bic_stored(bic, filter.bic);
    filter.currency = khorgos_currency_by_numeric(currency) != NULL ? currency : 0;
    filter.limit = 1;
    u32 size = 0;
    struct khorgos_actor actor = gateway->actor; /* a bank may name another: read as auditor */
    gateway->actor = (struct khorgos_actor){.role = KHORGOS_ACTOR_AUDITOR};
    iso20022_execute(gateway, KHORGOS_OPERATION_GET_POSITIONS, &filter, sizeof(filter),
                     gateway->query, &size);
    if (size == 0 && filter.currency != 0) { /* known, but not in that currency: AM03 later */
        filter.currency = 0;
        iso20022_execute(gateway, KHORGOS_OPERATION_GET_POSITIONS, &filter, sizeof(filter),
                         gateway->query, &size);
    }
    gateway->actor = actor;
    if (size == 0) return ISO20022_PARTICIPANT_UNKNOWN;
    struct khorgos_position position;
    memcpy(&position, gateway->query, sizeof(position));
    ASSERT(size % sizeof(position) == 0);
    return (position.flags & KHORGOS_PARTICIPANT_SUSPENDED) != 0 ? ISO20022_PARTICIPANT_SUSPENDED
                                                                 : ISO20022_PARTICIPANT_ACTIVE;
}

/* ----------------------------------------------------------------------------------------- */
/* Statuses.                                                                                  */

static void status_refused(struct iso20022_transaction_status *out, enum iso20022_reason reason,
                           const char *additional_info) {
    ASSERT(out != NULL && additional_info != NULL);
    ASSERT(reason != ISO20022_REASON_NONE && reason < ISO20022_REASON_COUNT);
    out->status = ISO20022_STATUS_RJCT;
    out->reason = reason;
    snprintf(out->additional_info, sizeof(out->additional_info), "%s", additional_info);
}

/* A refusal by the engine's status: its ISO code, or NARR with the status's name. */
static void status_refused_by(struct iso20022_transaction_status *out, u32 status) {
    ASSERT(out != NULL && status < KHORGOS_SETTLE_STATUS_COUNT);
    const char *code = khorgos_settle_status_iso_code(status);
    ASSERT(code != NULL);
    enum iso20022_reason reason = ISO20022_REASON_NONE;
    if (code[0] != '\0' && iso20022_reason_parse(code, &reason)) {
        status_refused(out, reason, "");
    } else {
        status_refused(out, ISO20022_REASON_NARR, khorgos_settle_status_name(status));
    }
}

/* A submitted payment's status (submit_payments' result). */
static void status_of_payment(struct iso20022_transaction_status *out, u32 status) {
    ASSERT(out != NULL && status < KHORGOS_SETTLE_STATUS_COUNT);
    out->reason = ISO20022_REASON_NONE;
    out->additional_info[0] = '\0';
    if (status == KHORGOS_SETTLE_settled) {
        out->status = ISO20022_STATUS_ACSC;
    } else if (status == KHORGOS_SETTLE_queued || status == KHORGOS_SETTLE_ok) {
        out->status = ISO20022_STATUS_ACSP;
    } else if (status == KHORGOS_SETTLE_waiting || status == KHORGOS_SETTLE_in_window) {
        out->status = ISO20022_STATUS_PDNG;
    } else {
        status_refused_by(out, status);
    }
    ASSERT(out->status < ISO20022_STATUS_COUNT);
}

/* Every transaction refused with the same reason: one failure rejects the group. */
static void report_refuse_all(struct iso20022_report *report, enum iso20022_reason reason,
                              const char *additional_info) {
    ASSERT(report != NULL && additional_info != NULL);
    ASSERT(reason != ISO20022_REASON_NONE);
    for (u32 index = 0; index < report->transaction_count; index++) {
        status_refused(&report->transactions[index], reason, additional_info);
    }
}

/* The group's status: the transactions' when they agree, else PART; a refused group takes its
 * first transaction's reason. */
static void report_group_status(struct iso20022_report *report) {
    ASSERT(report != NULL);
    ASSERT(report->transaction_count >= 1);
    const struct iso20022_transaction_status *first = &report->transactions[0];
    report->group_status = first->status;
    for (u32 index = 1; index < report->transaction_count; index++) {
        if (report->transactions[index].status != first->status) {
            report->group_status = ISO20022_STATUS_PART;
        }
    }
    report->group_reason = ISO20022_REASON_NONE;
    report->group_additional_info[0] = '\0';
    if (report->group_status == ISO20022_STATUS_RJCT) {
        report->group_reason = first->reason;
        memcpy(report->group_additional_info, first->additional_info,
               sizeof(report->group_additional_info));
    }
}

/* ----------------------------------------------------------------------------------------- */
/* Payments: pacs.008, pacs.009, and the returns of pacs.004.                                */

/* Text into a NUL-padded field of `size` bytes (the text fits: Max35Text). */
static void field_put(char *field, size_t size, const char *text) {
    ASSERT(field != NULL && text != NULL);
    size_t length = strnlen(text, size);
    ASSERT(length <= size);
    memset(field, 0, size);
    memcpy(field, text, length);
}

/* A transaction as the engine's payment record and its references. */
static void payment_from_transaction(const struct iso20022_message *message, u32 index,
                                     struct khorgos_message_payment *event) {
    ASSERT(message != NULL && event != NULL);
    ASSERT(index < message->transaction_count);
    const struct iso20022_transaction *transaction = &message->transactions[index];
    ASSERT(transaction->payment_id != 0);
    memset(event, 0, sizeof(*event));
    struct khorgos_payment *payment = &event->payment;
    bool is_return = message->type == ISO20022_MESSAGE_PACS_004;
    payment->id = transaction->payment_id;
    payment->amount = transaction->amount.minor;
    payment->uetr = is_return ? 0 : transaction->uetr;
    iso20022_bic_stored(transaction->debtor.bic, payment->debtor);
    iso20022_bic_stored(transaction->creditor.bic, payment->creditor);
    field_put(payment->end_to_end_id, KHORGOS_END_TO_END_ID_BYTES,
              is_return ? transaction->original_end_to_end_id : transaction->end_to_end_id);
    memcpy(payment->purpose, transaction->purpose, strnlen(transaction->purpose, 4));
    payment->type = message->type == ISO20022_MESSAGE_PACS_009 ? KHORGOS_PAYMENT_INTERBANK
                                                               : KHORGOS_PAYMENT_CUSTOMER;
    payment->priority = transaction->priority;
    payment->currency = transaction->amount.currency_numeric;
    payment->value_date = transaction->settlement_date;
    if (transaction->target_currency[0] != '\0') { /* the PvP convention: converted */
        const struct khorgos_currency *target =
            khorgos_currency_by_letters(transaction->target_currency);
        ASSERT(target != NULL); /* AM03 ran before */
        payment->currency_target = target->numeric;
        payment->amount_kind = KHORGOS_AMOUNT_DEBTOR;
    }
    struct khorgos_payment_references *references = &event->references;
    references->payment_id = payment->id;
    references->body_checksum = message->body_checksum;
    iso20022_bic_stored(message->sender, references->sender);
    field_put(references->message_id, KHORGOS_REFERENCE_BYTES, message->message_id);
    field_put(references->instruction_id, KHORGOS_REFERENCE_BYTES, transaction->instruction_id);
    field_put(references->transaction_id, KHORGOS_REFERENCE_BYTES,
              is_return ? transaction->return_id : transaction->transaction_id);
    field_put(references->business_message_id, KHORGOS_REFERENCE_BYTES,
              message->header_message_id);
    field_put(references->message_name, KHORGOS_MESSAGE_NAME_BYTES, message->name);
    references->position = index + 1;
}

/* Submits gateway->payments[0, count) and sets each transaction's status from its result. */
static void gateway_submit_payments(struct khorgos_gateway *gateway, u32 count) {
    ASSERT(gateway != NULL);
    ASSERT(count >= 1 && count <= ISO20022_TRANSACTION_COUNT_MAX);
    struct iso20022_report *report = &gateway->report;
    u32 size = 0;
    if (iso20022_execute(gateway, KHORGOS_OPERATION_SUBMIT_MESSAGE_PAYMENTS, gateway->payments,
                         count * (u32)sizeof(struct khorgos_message_payment), gateway->query,
                         &size) != KHORGOS_ERROR_ok) {
        return;
    }
    ASSERT(size == count * sizeof(struct khorgos_settle_result));
    memcpy(gateway->results, gateway->query, size);
    report->created_ns = gateway->results[0].timestamp;
    for (u32 index = 0; index < count; index++) {
        status_of_payment(&report->transactions[index], gateway->results[index].status);
    }
}

static void gateway_payments(struct khorgos_gateway *gateway) {
    ASSERT(gateway != NULL);
    const struct iso20022_message *message = &gateway->message;
    ASSERT(message->transaction_count >= 1);
    for (u32 index = 0; index < message->transaction_count; index++) {
        payment_from_transaction(message, index, &gateway->payments[index]);
    }
    gateway_submit_payments(gateway, message->transaction_count);
}

/* The original payment of a pacs.004 or camt.056 transaction (see the file's note); false
 * when none. `sender` is the original message's sender. */
static bool gateway_find_original(struct khorgos_gateway *gateway,
                                  const struct iso20022_transaction *transaction,
                                  const char *sender, struct khorgos_payment *original) {
    ASSERT(gateway != NULL && transaction != NULL);
    ASSERT(sender != NULL && original != NULL);
    u32 count = 0;
    if (transaction->original_uetr != 0) {
        gateway->ids[count++] = transaction->original_uetr;
    } else if (transaction->original_message_id[0] != '\0' &&
               (strlen(sender) == 8 || strlen(sender) == KHORGOS_BIC_BYTES)) {
        for (; count < ISO20022_TRANSACTION_COUNT_MAX; count++) {
            gateway->ids[count] =
                iso20022_payment_id(sender, transaction->original_message_id, count + 1);
        }
    }
    if (count == 0) return false;
    u32 size = 0;
    if (iso20022_execute(gateway, KHORGOS_OPERATION_LOOKUP_PAYMENTS, gateway->ids,
                         count * (u32)sizeof(u128), gateway->lookup, &size) != KHORGOS_ERROR_ok) {
        return false;
    }
    for (u32 at = 0; at + sizeof(*original) <= size; at += (u32)sizeof(*original)) {
        memcpy(original, gateway->lookup + at, sizeof(*original));
        char end_to_end_id[KHORGOS_END_TO_END_ID_BYTES + 1] = {0};
        memcpy(end_to_end_id, original->end_to_end_id, KHORGOS_END_TO_END_ID_BYTES);
        if (strcmp(end_to_end_id, transaction->original_end_to_end_id) == 0) return true;
    }
    return false;
}

/* Whether `id` is one of the payment ids of the message being submitted. */
static bool message_names_payment(const struct iso20022_message *message, u128 id) {
    ASSERT(message != NULL);
    ASSERT(message->transaction_count <= ISO20022_TRANSACTION_COUNT_MAX);
    for (u32 index = 0; index < message->transaction_count; index++) {
        if (message->transactions[index].payment_id == id) return true;
    }
    return false;
}

/* What the earlier returns of `original` took back: the returns' payments (get_payment_references
 * by original, then lookup_payments), those not rejected or cancelled, and not this message's
 * own (a resubmission's returns are the same payments, answered by their first result). */
static u128 gateway_returned(struct khorgos_gateway *gateway, u128 original) {
    ASSERT(gateway != NULL && original != 0);
    struct khorgos_references_filter filter;
    memset(&filter, 0, sizeof(filter));
    filter.original_payment_id = original;
    filter.limit = ISO20022_PAGE_TRANSFERS;
    u32 size = 0;
    if (iso20022_execute(gateway, KHORGOS_OPERATION_GET_PAYMENT_REFERENCES, &filter,
                         sizeof(filter), gateway->lookup, &size) != KHORGOS_ERROR_ok) {
        return 0;
    }
    u32 count = MIN(size / (u32)sizeof(struct khorgos_payment_references),
                    ISO20022_PAGE_TRANSFERS);
    u32 kept = 0;
    for (u32 index = 0; index < count; index++) {
        struct khorgos_payment_references references;
        memcpy(&references, gateway->lookup + (size_t)index * sizeof(references),
               sizeof(references));
        if (message_names_payment(&gateway->message, references.payment_id)) continue;
        gateway->ids[kept++] = references.payment_id;
    }
    count = kept;
    if (count == 0 || iso20022_execute(gateway, KHORGOS_OPERATION_LOOKUP_PAYMENTS, gateway->ids,
                                       count * (u32)sizeof(u128), gateway->lookup,
                                       &size) != KHORGOS_ERROR_ok) {
        return 0;
    }
    u128 returned = 0;
    for (u32 at = 0; at + sizeof(struct khorgos_payment) <= size;
         at += (u32)sizeof(struct khorgos_payment)) {
        struct khorgos_payment payment;
        memcpy(&payment, gateway->lookup + at, sizeof(payment));
        if (payment.state != KHORGOS_PAYMENT_REJECTED &&
            payment.state != KHORGOS_PAYMENT_CANCELLED) {
            returned += payment.amount;
        }
    }
    return returned;
}

/* What the original's creditor received, in `*currency`: a converted (payment versus payment)
 * original's amount_target in its currency_target, else its amount in its currency. */
static u128 original_received(const struct khorgos_payment *original, u32 *currency) {
    ASSERT(original != NULL && currency != NULL);
    bool converted =
        original->currency_target != 0 && original->currency_target != original->currency;
    *currency = converted ? original->currency_target : original->currency;
    ASSERT(*currency != 0 || original->id == 0);
    return converted ? original->amount_target : original->amount;
}

/* Why a return cannot be made against `original` (found or not), having `returned` already
 * (earlier returns and this message's before it); NONE when it can, else the reason and in
 * `*info` why. */
static enum iso20022_reason return_refusal(bool found, const struct khorgos_payment *original,
                                           u128 returned, const struct khorgos_payment *payment,
                                           const char **info) {
    ASSERT(original != NULL && payment != NULL);
    ASSERT(info != NULL);
    *info = "no settled original payment with these references in reverse direction";
    if (!found || original->state != KHORGOS_PAYMENT_SETTLED ||
        memcmp(original->debtor, payment->creditor, KHORGOS_BIC_BYTES) != 0 ||
        memcmp(original->creditor, payment->debtor, KHORGOS_BIC_BYTES) != 0) {
        return ISO20022_REASON_NARR;
    }
    u32 currency = 0;
    u128 received = original_received(original, &currency);
    if (payment->currency != currency) {
        *info = "not in the currency the original's creditor received";
        return ISO20022_REASON_AM03;
    }
    ASSERT(returned <= received);
    *info = "more than the original payment's amount less its earlier returns";
    return payment->amount > received - returned ? ISO20022_REASON_AM09 : ISO20022_REASON_NONE;
}

/* This message's returns before `index` of the same original. */
static u128 returned_in_message(const struct khorgos_gateway *gateway, u32 index) {
    ASSERT(gateway != NULL);
    ASSERT(index < gateway->message.transaction_count);
    u128 original = gateway->payments[index].references.original_payment_id, returned = 0;
    for (u32 earlier = 0; earlier < index; earlier++) {
        const struct khorgos_message_payment *event = &gateway->payments[earlier];
        if (event->references.original_payment_id == original) {
            returned += event->payment.amount;
        }
    }
    return returned;
}

static void gateway_returns(struct khorgos_gateway *gateway) {
    ASSERT(gateway != NULL);
    const struct iso20022_message *message = &gateway->message;
    ASSERT(message->type == ISO20022_MESSAGE_PACS_004);
    for (u32 index = 0; index < message->transaction_count; index++) {
        const struct iso20022_transaction *transaction = &message->transactions[index];
        struct khorgos_message_payment *event = &gateway->payments[index];
        payment_from_transaction(message, index, event);
        struct khorgos_payment original;
        bool found = gateway_find_original(gateway, transaction, transaction->creditor.bic,
                                           &original);
        u128 returned = 0;
        if (found) {
            event->references.original_payment_id = original.id;
            u32 currency = 0;
            returned = gateway_returned(gateway, original.id) +
                       returned_in_message(gateway, index);
            returned = MIN(returned, original_received(&original, &currency));
            if (currency != original.currency) { /* converted back, at a quote of now */
                event->payment.currency_target = original.currency;
                event->payment.amount_kind = KHORGOS_AMOUNT_DEBTOR;
            }
        }
        if (gateway->error != KHORGOS_ERROR_ok) return;
        const char *why = NULL;
        enum iso20022_reason refusal = return_refusal(found, &original, returned,
                                                      &event->payment, &why);
        if (refusal == ISO20022_REASON_NONE) {
            event->payment.type = original.type;
            continue;
        }
        char info[ISO20022_INFO_BYTES_MAX + 1];
        snprintf(info, sizeof(info), "transaction %u: %s", index + 1, why);
        report_refuse_all(&gateway->report, refusal, info);
        return;
    }
    gateway_submit_payments(gateway, message->transaction_count);
}

/* ----------------------------------------------------------------------------------------- */
/* Cancellations: camt.056.                                                                  */

/* Asks the engine to cancel transaction `index`'s original (none found: payment id 0, which
 * the engine answers payment_not_found). The request id is derived from the sender, the MsgId
 * and the position, and the request carries the message's checksum, so the engine keeps each
 * camt.056 transaction's first answer (settle_payments.c). False when the engine failed. */
static bool gateway_cancel(struct khorgos_gateway *gateway, u32 index, bool found,
                           const struct khorgos_payment *original,
                           struct khorgos_settle_result *result) {
    ASSERT(gateway != NULL && original != NULL);
    ASSERT(result != NULL && index < gateway->message.transaction_count);
    struct khorgos_payment_change change;
    memset(&change, 0, sizeof(change));
    change.id = iso20022_payment_id(gateway->message.sender, gateway->message.message_id,
                                    index + 1);
    change.message_checksum = gateway->message.body_checksum == 0 ? 1
                                                                  : gateway->message.body_checksum;
    if (found) {
        change.payment_id = original->id;
        memcpy(change.debtor, original->debtor, KHORGOS_BIC_BYTES);
    }
    u32 size = 0;
    if (iso20022_execute(gateway, KHORGOS_OPERATION_CANCEL_PAYMENTS, &change, sizeof(change),
                         gateway->query, &size) != KHORGOS_ERROR_ok) {
        return false;
    }
    ASSERT(size == sizeof(*result));
    memcpy(result, gateway->query, sizeof(*result));
    return true;
}

/* A cancellation's status from the engine's answer alone (and the original's record, whose
 * finished_at says whether it was settled before the cancellation was asked), so a resubmission
 * answered with the first result gets the first status. */
static void status_of_cancel(struct iso20022_transaction_status *status,
                             const struct khorgos_settle_result *result, bool found,
                             const struct khorgos_payment *original) {
    ASSERT(status != NULL && result != NULL);
    ASSERT(original != NULL);
    status->reason = ISO20022_REASON_NONE;
    status->additional_info[0] = '\0';
    if (result->status == KHORGOS_SETTLE_ok) {
        status->status = ISO20022_STATUS_ACSC; /* cancelled: CNCL, ACCR */
    } else if (result->status == KHORGOS_SETTLE_payment_not_found) {
        status_refused(status, ISO20022_REASON_NOOR, "no original payment");
    } else if (result->status == KHORGOS_SETTLE_payment_not_queued && found &&
               original->state == KHORGOS_PAYMENT_SETTLED &&
               original->finished_at < result->timestamp) {
        status_refused(status, ISO20022_REASON_ARDT, "the payment is settled");
    } else {
        status_refused_by(status, result->status);
    }
}

/* The original's references and UETR where the camt.056 left them out, so the camt.029 names
 * the original message, InstrId, TxId and UETR (get_payment_references by payment). */
static void status_fill_original(struct khorgos_gateway *gateway,
                                 struct iso20022_transaction_status *status,
                                 const struct khorgos_payment *original) {
    ASSERT(gateway != NULL && status != NULL);
    ASSERT(original != NULL);
    if (status->original_uetr[0] == '\0' && original->uetr != 0) {
        iso20022_uuid_text(original->uetr, status->original_uetr);
    }
    struct khorgos_references_filter filter;
    memset(&filter, 0, sizeof(filter));
    filter.payment_id = original->id;
    filter.limit = 1;
    u32 size = 0;
    if (iso20022_execute(gateway, KHORGOS_OPERATION_GET_PAYMENT_REFERENCES, &filter,
                         sizeof(filter), gateway->query, &size) != KHORGOS_ERROR_ok ||
        size != sizeof(struct khorgos_payment_references)) {
        return;
    }
    struct khorgos_payment_references references;
    memcpy(&references, gateway->query, sizeof(references));
    struct {
        char *field;
        const char *value;
        size_t size;
    } fills[] = {
        {status->original_message_id, references.message_id, KHORGOS_REFERENCE_BYTES},
        {status->original_message_name, references.message_name, KHORGOS_MESSAGE_NAME_BYTES},
        {status->original_instruction_id, references.instruction_id, KHORGOS_REFERENCE_BYTES},
        {status->original_transaction_id, references.transaction_id, KHORGOS_REFERENCE_BYTES},
    };
    for (u32 index = 0; index < ARRAY_COUNT(fills); index++) {
        if (fills[index].field[0] != '\0') continue;
        memcpy(fills[index].field, fills[index].value, fills[index].size);
        fills[index].field[fills[index].size] = '\0';
    }
}

/* Each transaction's cancellation in order. The engine keeps every one (found or not), so a
 * MsgId the sender used before meets its first transaction's request: the same body is answered
 * as the first time, another body exists_with_different_fields, which rejects the group DUPL
 * before anything changes. */
static void gateway_cancellations(struct khorgos_gateway *gateway) {
    ASSERT(gateway != NULL);
    const struct iso20022_message *message = &gateway->message;
    ASSERT(message->type == ISO20022_MESSAGE_CAMT_056);
    for (u32 index = 0; index < message->transaction_count; index++) {
        struct iso20022_transaction_status *status = &gateway->report.transactions[index];
        struct khorgos_payment original;
        memset(&original, 0, sizeof(original));
        bool found = gateway_find_original(gateway, &message->transactions[index],
                                           message->sender, &original);
        struct khorgos_settle_result result;
        if (gateway->error != KHORGOS_ERROR_ok ||
            !gateway_cancel(gateway, index, found, &original, &result)) {
            return;
        }
        if (index == 0) gateway->report.created_ns = result.timestamp;
        if (result.status == KHORGOS_SETTLE_exists_with_different_fields) {
            char info[ISO20022_INFO_BYTES_MAX + 1];
            snprintf(info, sizeof(info), "transaction %u: MsgId already sent with another body",
                     index + 1);
            report_refuse_all(&gateway->report, ISO20022_REASON_DUPL, info);
            return;
        }
        /* The originals of a first NOOR are not filled in, found later or not. */
        if (found && result.status != KHORGOS_SETTLE_payment_not_found) {
            status_fill_original(gateway, status, &original);
        }
        if (gateway->error != KHORGOS_ERROR_ok) return;
        status_of_cancel(status, &result, found, &original);
    }
}

/* ----------------------------------------------------------------------------------------- */
/* The operation.                                                                             */

/* The reply's MsgId: "KH" and the 32 hex digits of XXH3-128 of the input's bytes, so the same
 * bytes get the same reply. */
static void report_message_id(const void *xml, size_t size, char *out) {
    ASSERT(out != NULL);
    ASSERT(xml != NULL || size == 0);
    static const char digits[] = "0123456789abcdef";
    u128 checksum = base_checksum128(xml, size);
    ASSERT(sizeof(digits) == 17);
    out[0] = 'K';
    out[1] = 'H';
    for (u32 nibble = 0; nibble < 32; nibble++) {
        out[2 + nibble] = digits[(u32)(checksum >> (124 - 4 * nibble)) & 0xFu];
    }
    out[34] = '\0';
    ASSERT(34 <= ISO20022_TEXT_BYTES_MAX);
}

static void result_fill(const struct iso20022_report *report, u32 transaction_count,
                        size_t length, struct khorgos_message_result *result) {
    ASSERT(report != NULL && result != NULL);
    ASSERT(length > 0 && length < U32_MAX);
    memcpy(result->group_status, iso20022_status_code(report->group_status), 5);
    memcpy(result->reason, iso20022_reason_code(report->group_reason), 5);
    result->transaction_count = transaction_count;
    for (u32 index = 0; index < report->transaction_count; index++) {
        if (report->transactions[index].status == ISO20022_STATUS_RJCT) result->rejected_count++;
    }
    result->reply_size = (u32)length;
}

/* AGNT: a participant's message must come from that participant (AppHdr/Fr, else the
 * instructing agent); the operator may send for anyone. It follows the reader's checks, the
 * sender being known only then, and takes the place of a DUPL, which would tell the forger about
 * another sender's MsgIds. */
static void gateway_check_sender(const struct khorgos_gateway *gateway,
                                 struct iso20022_message *message) {
    ASSERT(gateway != NULL && message != NULL);
    if (gateway->actor.role != KHORGOS_ACTOR_PARTICIPANT || message->sender[0] == '\0') return;
    if (message->reason != ISO20022_REASON_NONE && message->reason != ISO20022_REASON_DUPL) {
        return;
    }
    size_t length = strnlen(message->sender, ISO20022_BIC_SIZE);
    ASSERT(length == 8 || length == KHORGOS_BIC_BYTES);
    char sender[KHORGOS_BIC_BYTES];
    iso20022_bic_stored(message->sender, sender);
    if (memcmp(sender, gateway->actor.bic, KHORGOS_BIC_BYTES) == 0) return;
    message->reason = ISO20022_REASON_AGNT;
    message->reason_transaction = 0;
    snprintf(message->reason_detail, sizeof(message->reason_detail), "%s",
             message->has_header ? "AppHdr/Fr: not the session's participant"
                                 : "InstgAgt: not the session's participant");
}

khorgos_error khorgos_submit_message(struct khorgos_gateway *gateway, const void *xml,
                                     size_t size, char *reply, size_t capacity,
                                     struct khorgos_message_result *result) {
    ASSERT(gateway != NULL && result != NULL);
    ASSERT(xml != NULL || size == 0);
    memset(result, 0, sizeof(*result));
    if (reply == NULL || capacity < KHORGOS_MESSAGE_REPLY_BYTES_MAX) {
        return KHORGOS_ERROR_reply_too_small;
    }
    gateway->error = KHORGOS_ERROR_ok;
    struct iso20022_message *message = &gateway->message;
    struct iso20022_report *report = &gateway->report;
    struct iso20022_lookup lookup = {.context = gateway, .participant = gateway_participant};
    iso20022_read(xml, size, &lookup, message);
    gateway_check_sender(gateway, message);
    iso20022_report_from_message(message, ISO20022_STATUS_ACSP, report);
    report->created_ns = khorgos_clock_now(gateway->engine);
    if (message->reason == ISO20022_REASON_NONE && gateway->error == KHORGOS_ERROR_ok) {
        if (message->type == ISO20022_MESSAGE_CAMT_056) {
            gateway_cancellations(gateway);
        } else if (message->type == ISO20022_MESSAGE_PACS_004) {
            gateway_returns(gateway);
        } else {
            gateway_payments(gateway);
        }
        report_group_status(report);
    }
    if (gateway->error != KHORGOS_ERROR_ok) return gateway->error;
    report_message_id(xml, size, report->message_id);
    size_t length = iso20022_write_report(report, reply, capacity);
    ASSERT(length > 0); /* KHORGOS_MESSAGE_REPLY_BYTES_MAX holds any report */
    result_fill(report, message->transaction_count, length, result);
    return KHORGOS_ERROR_ok;
}

uint32_t khorgos_message_payments(const struct khorgos_gateway *gateway, khorgos_u128 *ids,
                                  struct khorgos_message_status_request *requests,
                                  uint32_t capacity) {
    ASSERT(gateway != NULL);
    ASSERT(capacity == 0 || (ids != NULL && requests != NULL));
    const struct iso20022_message *message = &gateway->message;
    if (message->reason != ISO20022_REASON_NONE || message->type == ISO20022_MESSAGE_CAMT_056 ||
        gateway->report.group_status == ISO20022_STATUS_RJCT) {
        return 0;
    }
    u32 count = MIN(message->transaction_count, capacity);
    for (u32 index = 0; index < count; index++) {
        const struct iso20022_transaction *transaction = &message->transactions[index];
        ids[index] = transaction->payment_id;
        memset(&requests[index], 0, sizeof(requests[index]));
        if (transaction->payment_id == transaction->uetr) {
            iso20022_uuid_text(transaction->uetr, requests[index].uetr);
        } else {
            snprintf(requests[index].message_id, sizeof(requests[index].message_id), "%s",
                     message->message_id);
            snprintf(requests[index].sender_bic, sizeof(requests[index].sender_bic), "%s",
                     message->sender);
        }
    }
    return count;
}

/* ----------------------------------------------------------------------------------------- */
/* A message's status now.                                                                    */

/* A payment record's status now, with its references (found by payment id among `count`
 * in `references`; none for a payment submitted without). */
static void status_of_record(struct iso20022_transaction_status *out,
                             const struct khorgos_payment *payment,
                             const struct khorgos_payment_references *references, u32 count) {
    ASSERT(out != NULL && payment != NULL);
    ASSERT(payment->state >= KHORGOS_PAYMENT_SETTLED);
    memset(out, 0, sizeof(*out));
    memcpy(out->original_end_to_end_id, payment->end_to_end_id, KHORGOS_END_TO_END_ID_BYTES);
    if (payment->uetr != 0) iso20022_uuid_text(payment->uetr, out->original_uetr);
    for (u32 index = 0; index < count; index++) {
        if (references[index].payment_id != payment->id) continue;
        memcpy(out->original_instruction_id, references[index].instruction_id,
               KHORGOS_REFERENCE_BYTES);
        memcpy(out->original_transaction_id, references[index].transaction_id,
               KHORGOS_REFERENCE_BYTES);
        break;
    }
    if (payment->state == KHORGOS_PAYMENT_SETTLED) {
        out->status = ISO20022_STATUS_ACSC;
    } else if (payment->state == KHORGOS_PAYMENT_QUEUED &&
               payment->reason != KHORGOS_SETTLE_quote_unavailable) {
        out->status = ISO20022_STATUS_ACSP;
    } else if (payment->state == KHORGOS_PAYMENT_QUEUED || /* waiting for a quote */
               payment->state == KHORGOS_PAYMENT_WAITING ||
               payment->state == KHORGOS_PAYMENT_IN_WINDOW) {
        out->status = ISO20022_STATUS_PDNG;
    } else {
        status_refused_by(out, payment->reason); /* rejected, cancelled: why */
    }
}

/* The references the request names into gateway->query (by sender and MsgId: the message's
 * payments in position order; by UETR: that payment's), their count in *found, and the
 * payment ids to look up into gateway->ids (by UETR without references: the UETR); returns
 * the ids' count. *valid is false when the request names nothing valid. */
static u32 status_request_references(struct khorgos_gateway *gateway,
                                     const struct khorgos_message_status_request *request,
                                     bool *valid, u32 *found) {
    ASSERT(gateway != NULL && request != NULL);
    ASSERT(valid != NULL && found != NULL);
    *found = 0;
    size_t uetr_length = strnlen(request->uetr, sizeof(request->uetr));
    size_t id_length = strnlen(request->message_id, sizeof(request->message_id));
    size_t bic_length = strnlen(request->sender_bic, sizeof(request->sender_bic));
    struct khorgos_references_filter filter;
    memset(&filter, 0, sizeof(filter));
    filter.limit = ISO20022_TRANSACTION_COUNT_MAX;
    if (uetr_length > 0) {
        *valid = uetr_length < sizeof(request->uetr) &&
                 iso20022_uetr_parse(request->uetr, uetr_length, &filter.payment_id);
    } else {
        *valid = id_length > 0 && id_length <= ISO20022_TEXT_BYTES_MAX &&
                 (bic_length == 8 || bic_length == KHORGOS_BIC_BYTES) &&
                 iso20022_bic_valid(request->sender_bic, bic_length);
        if (*valid) {
            iso20022_bic_stored(request->sender_bic, filter.sender);
            memcpy(filter.message_id, request->message_id, id_length);
        }
    }
    u32 size = 0;
    if (!*valid || iso20022_execute(gateway, KHORGOS_OPERATION_GET_PAYMENT_REFERENCES, &filter,
                                    sizeof(filter), gateway->query, &size) != KHORGOS_ERROR_ok) {
        return 0;
    }
    u32 count = size / (u32)sizeof(struct khorgos_payment_references);
    ASSERT(count <= ISO20022_TRANSACTION_COUNT_MAX);
    for (u32 index = 0; index < count; index++) {
        struct khorgos_payment_references references;
        memcpy(&references, gateway->query + (size_t)index * sizeof(references),
               sizeof(references));
        gateway->ids[index] = references.payment_id;
    }
    *found = count;
    if (uetr_length > 0 && count == 0) { /* a payment submitted without references */
        gateway->ids[count++] = filter.payment_id;
    }
    return count;
}

/* The report's originals of the message: MsgId and name from the first references (a
 * payment without them: NOTPROVIDED), the receiver its sender. */
static void status_report_originals(struct iso20022_report *report,
                                    const struct khorgos_payment_references *references,
                                    u32 count) {
    ASSERT(report != NULL);
    ASSERT(references != NULL || count == 0);
    if (count == 0) return;
    memcpy(report->original_message_id, references[0].message_id, KHORGOS_REFERENCE_BYTES);
    memcpy(report->original_message_name, references[0].message_name,
           KHORGOS_MESSAGE_NAME_BYTES);
    char sender[KHORGOS_BIC_BYTES + 1] = {0};
    memcpy(sender, references[0].sender, KHORGOS_BIC_BYTES);
    if (memcmp(sender + 8, "XXX", 3) == 0) sender[8] = '\0';
    memcpy(report->to, sender, sizeof(sender));
}

khorgos_error khorgos_get_message_status(struct khorgos_gateway *gateway,
                                         const struct khorgos_message_status_request *request,
                                         char *reply, size_t capacity,
                                         struct khorgos_message_result *result) {
    ASSERT(gateway != NULL && request != NULL);
    ASSERT(result != NULL);
    memset(result, 0, sizeof(*result));
    if (reply == NULL || capacity < KHORGOS_MESSAGE_REPLY_BYTES_MAX) {
        return KHORGOS_ERROR_reply_too_small;
    }
    gateway->error = KHORGOS_ERROR_ok;
    struct iso20022_report *report = &gateway->report;
    memset(report, 0, sizeof(*report));
    report->type = ISO20022_MESSAGE_PACS_002;
    bool valid = false;
    u32 references_count = 0;
    u32 count = status_request_references(gateway, request, &valid, &references_count);
    if (gateway->error != KHORGOS_ERROR_ok) return gateway->error;
    if (!valid) return KHORGOS_ERROR_invalid_argument;
    if (count == 0) return KHORGOS_ERROR_message_not_found;
    const struct khorgos_payment_references *references = (const void *)gateway->query;
    u32 size = 0;
    if (iso20022_execute(gateway, KHORGOS_OPERATION_LOOKUP_PAYMENTS, gateway->ids,
                         count * (u32)sizeof(u128), gateway->lookup, &size) != KHORGOS_ERROR_ok) {
        return gateway->error;
    }
    report->transaction_count = size / (u32)sizeof(struct khorgos_payment);
    if (report->transaction_count == 0) return KHORGOS_ERROR_message_not_found;
    status_report_originals(report, references, references_count);
    for (u32 index = 0; index < report->transaction_count; index++) {
        struct khorgos_payment payment;
        memcpy(&payment, gateway->lookup + index * sizeof(payment), sizeof(payment));
        status_of_record(&report->transactions[index], &payment, references, references_count);
    }
    report->created_ns = khorgos_clock_now(gateway->engine);
    report_group_status(report);
    /* Its MsgId: of the payments as they stand and the time, so each report has its own. */
    memcpy(gateway->lookup + size, &report->created_ns, sizeof(report->created_ns));
    report_message_id(gateway->lookup, size + sizeof(report->created_ns), report->message_id);
    size_t length = iso20022_write_report(report, reply, capacity);
    ASSERT(length > 0);
    result_fill(report, report->transaction_count, length, result);
    return KHORGOS_ERROR_ok;
}
