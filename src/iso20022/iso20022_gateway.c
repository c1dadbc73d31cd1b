/*
 * iso20022_gateway.c: khorgos_submit_message, a message in and its reply out, over the engine's
 * public requests (include/khorgos_iso20022.h). The gateway keeps nothing of its own: the
 * engine's records are the whole state, so a restart (or a replay) changes no answer.
 *
 *   pacs.008, pacs.009  each transaction becomes a payment record (docs/iso20022.md,
 *                       "Mapping"), submitted in one submit_payments request; each result's
 *                       status is the transaction's (settled ACSC, queued ACSP, waiting or in a
 *                       window PDNG, otherwise RJCT with the ISO code the status maps to, or
 *                       NARR and the status's name when it maps to none).
 *   pacs.004            each return's original is found (below) and must be settled, in the
 *                       reverse direction, in the same currency and not below the returned
 *                       amount (AM09); then the returns are submitted as payments.
 *   camt.056            each original is found; a queued or waiting one is cancelled
 *                       (cancel_payments: camt.029 CNCL, ACCR), a settled one refused ARDT, a
 *                       missing one NOOR, any other (rejected, cancelled before) NARR.
 * Finding an original: by OrgnlUETR when given (the payment id of a message with a UETR), else
 * among the ids the original message's transactions would have (iso20022_payment_id of the
 * original's sender, OrgnlMsgId and each position), the one with OrgnlEndToEndId.
 *
 * Duplicates and resubmissions come from the engine's idempotency: a payment id is the UETR or
 * derived from sender, MsgId and position, so the same message again names the same payments.
 * The same fields again get the first answer (the result's retry flag and first timestamp), so
 * the reply is the first reply byte for byte (its MsgId is derived from the input's bytes, its
 * CreDtTm is the first result's timestamp); other fields under the same ids get
 * exists_with_different_fields, DUPL.
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

static void payment_from_transaction(const struct iso20022_message *message,
                                     const struct iso20022_transaction *transaction,
                                     struct khorgos_payment *payment) {
    ASSERT(message != NULL && transaction != NULL);
    ASSERT(payment != NULL && transaction->payment_id != 0);
    memset(payment, 0, sizeof(*payment));
    payment->id = transaction->payment_id;
    payment->amount = transaction->amount.minor;
    payment->uetr = message->type == ISO20022_MESSAGE_PACS_004 ? 0 : transaction->uetr;
    iso20022_bic_stored(transaction->debtor.bic, payment->debtor);
    iso20022_bic_stored(transaction->creditor.bic, payment->creditor);
    const char *end_to_end_id = message->type == ISO20022_MESSAGE_PACS_004
                                    ? transaction->original_end_to_end_id
                                    : transaction->end_to_end_id;
    memcpy(payment->end_to_end_id, end_to_end_id,
           strnlen(end_to_end_id, KHORGOS_END_TO_END_ID_BYTES));
    memcpy(payment->purpose, transaction->purpose, strnlen(transaction->purpose, 4));
    payment->type = message->type == ISO20022_MESSAGE_PACS_009 ? KHORGOS_PAYMENT_INTERBANK
                                                               : KHORGOS_PAYMENT_CUSTOMER;
    payment->priority = transaction->priority;
    payment->currency = transaction->amount.currency_numeric;
    payment->value_date = transaction->settlement_date;
}

/* Submits gateway->payments[0, count) and sets each transaction's status from its result. */
static void gateway_submit_payments(struct khorgos_gateway *gateway, u32 count) {
    ASSERT(gateway != NULL);
    ASSERT(count >= 1 && count <= ISO20022_TRANSACTION_COUNT_MAX);
    struct iso20022_report *report = &gateway->report;
    u32 size = 0;
    if (iso20022_execute(gateway, KHORGOS_OPERATION_SUBMIT_PAYMENTS, gateway->payments,
                         count * (u32)sizeof(struct khorgos_payment), gateway->query,
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
        payment_from_transaction(message, &message->transactions[index],
                                 &gateway->payments[index]);
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

/* Why a return cannot be made against `original` (found or not); NONE when it can. */
static enum iso20022_reason return_refusal(const struct iso20022_transaction *transaction,
                                           bool found, const struct khorgos_payment *original,
                                           const struct khorgos_payment *payment) {
    ASSERT(transaction != NULL && original != NULL);
    ASSERT(payment != NULL);
    if (!found || original->state != KHORGOS_PAYMENT_SETTLED ||
        memcmp(original->debtor, payment->creditor, KHORGOS_BIC_BYTES) != 0 ||
        memcmp(original->creditor, payment->debtor, KHORGOS_BIC_BYTES) != 0 ||
        original->currency != payment->currency) {
        return ISO20022_REASON_NARR;
    }
    return payment->amount > original->amount ? ISO20022_REASON_AM09 : ISO20022_REASON_NONE;
}

static void gateway_returns(struct khorgos_gateway *gateway) {
    ASSERT(gateway != NULL);
    const struct iso20022_message *message = &gateway->message;
    ASSERT(message->type == ISO20022_MESSAGE_PACS_004);
    for (u32 index = 0; index < message->transaction_count; index++) {
        const struct iso20022_transaction *transaction = &message->transactions[index];
        struct khorgos_payment *payment = &gateway->payments[index];
        payment_from_transaction(message, transaction, payment);
        struct khorgos_payment original;
        bool found = gateway_find_original(gateway, transaction, transaction->creditor.bic,
                                           &original);
        if (gateway->error != KHORGOS_ERROR_ok) return;
        enum iso20022_reason refusal = return_refusal(transaction, found, &original, payment);
        if (refusal == ISO20022_REASON_NONE) {
            payment->type = original.type;
            continue;
        }
        char info[ISO20022_INFO_BYTES_MAX + 1];
        snprintf(info, sizeof(info), "transaction %u: %s", index + 1,
                 refusal == ISO20022_REASON_AM09
                     ? "more than the original payment's amount"
                     : "no settled original payment with these references in reverse direction");
        report_refuse_all(&gateway->report, refusal, info);
        return;
    }
    gateway_submit_payments(gateway, message->transaction_count);
}

/* ----------------------------------------------------------------------------------------- */
/* Cancellations: camt.056.                                                                  */

static void gateway_cancel(struct khorgos_gateway *gateway, u32 index,
                           const struct khorgos_payment *original) {
    ASSERT(gateway != NULL && original != NULL);
    ASSERT(index < gateway->message.transaction_count);
    struct iso20022_transaction_status *status = &gateway->report.transactions[index];
    struct khorgos_payment_change change;
    memset(&change, 0, sizeof(change));
    change.id = iso20022_payment_id(gateway->message.sender, gateway->message.message_id,
                                    index + 1);
    change.payment_id = original->id;
    memcpy(change.debtor, original->debtor, KHORGOS_BIC_BYTES);
    u32 size = 0;
    if (iso20022_execute(gateway, KHORGOS_OPERATION_CANCEL_PAYMENTS, &change, sizeof(change),
                         gateway->query, &size) != KHORGOS_ERROR_ok) {
        return;
    }
    struct khorgos_settle_result result;
    ASSERT(size == sizeof(result));
    memcpy(&result, gateway->query, sizeof(result));
    if (index == 0) gateway->report.created_ns = result.timestamp;
    if (result.status == KHORGOS_SETTLE_ok) {
        status->status = ISO20022_STATUS_ACSC; /* cancelled: CNCL, ACCR */
        status->reason = ISO20022_REASON_NONE;
    } else {
        status_refused_by(status, result.status);
    }
}

static void gateway_cancellations(struct khorgos_gateway *gateway) {
    ASSERT(gateway != NULL);
    const struct iso20022_message *message = &gateway->message;
    ASSERT(message->type == ISO20022_MESSAGE_CAMT_056);
    for (u32 index = 0; index < message->transaction_count; index++) {
        struct iso20022_transaction_status *status = &gateway->report.transactions[index];
        struct khorgos_payment original;
        bool found = gateway_find_original(gateway, &message->transactions[index],
                                           message->sender, &original);
        if (gateway->error != KHORGOS_ERROR_ok) return;
        if (!found) {
            status_refused(status, ISO20022_REASON_NOOR, "no original payment");
        } else if (original.state == KHORGOS_PAYMENT_SETTLED) {
            status_refused(status, ISO20022_REASON_ARDT, "the payment is settled");
        } else {
            gateway_cancel(gateway, index, &original);
        }
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

/* A payment record's status now. */
static void status_of_record(struct iso20022_transaction_status *out,
                             const struct khorgos_payment *payment) {
    ASSERT(out != NULL && payment != NULL);
    ASSERT(payment->state >= KHORGOS_PAYMENT_SETTLED);
    memset(out, 0, sizeof(*out));
    memcpy(out->original_end_to_end_id, payment->end_to_end_id, KHORGOS_END_TO_END_ID_BYTES);
    if (payment->uetr != 0) iso20022_uuid_text(payment->uetr, out->original_uetr);
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

/* The ids the request names into gateway->ids; 0 when it names nothing valid. */
static u32 status_request_ids(struct khorgos_gateway *gateway,
                              const struct khorgos_message_status_request *request) {
    ASSERT(gateway != NULL && request != NULL);
    size_t uetr_length = strnlen(request->uetr, sizeof(request->uetr));
    size_t id_length = strnlen(request->message_id, sizeof(request->message_id));
    size_t bic_length = strnlen(request->sender_bic, sizeof(request->sender_bic));
    u128 uetr = 0;
    if (uetr_length > 0) {
        bool valid = uetr_length < sizeof(request->uetr) &&
                     iso20022_uetr_parse(request->uetr, uetr_length, &uetr);
        gateway->ids[0] = uetr;
        return valid ? 1 : 0;
    }
    if (id_length == 0 || id_length > ISO20022_TEXT_BYTES_MAX ||
        (bic_length != 8 && bic_length != KHORGOS_BIC_BYTES) ||
        !iso20022_bic_valid(request->sender_bic, bic_length)) {
        return 0;
    }
    for (u32 position = 1; position <= ISO20022_TRANSACTION_COUNT_MAX; position++) {
        gateway->ids[position - 1] =
            iso20022_payment_id(request->sender_bic, request->message_id, position);
    }
    memcpy(gateway->report.original_message_id, request->message_id, id_length + 1);
    memcpy(gateway->report.to, request->sender_bic, bic_length + 1);
    return ISO20022_TRANSACTION_COUNT_MAX;
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
    u32 count = status_request_ids(gateway, request);
    if (count == 0) return KHORGOS_ERROR_invalid_argument;
    u32 size = 0;
    if (iso20022_execute(gateway, KHORGOS_OPERATION_LOOKUP_PAYMENTS, gateway->ids,
                         count * (u32)sizeof(u128), gateway->lookup, &size) != KHORGOS_ERROR_ok) {
        return gateway->error;
    }
    report->transaction_count = size / (u32)sizeof(struct khorgos_payment);
    if (report->transaction_count == 0) return KHORGOS_ERROR_message_not_found;
    for (u32 index = 0; index < report->transaction_count; index++) {
        struct khorgos_payment payment;
        memcpy(&payment, gateway->lookup + index * sizeof(payment), sizeof(payment));
        status_of_record(&report->transactions[index], &payment);
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
