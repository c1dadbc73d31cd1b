/* iso20022_rules.c: the checks that follow structure, in their order (iso20022.h, "Outcome"),
 * each over the whole message before the next, so the first failing check decides the code
 * whichever transaction fails it; then the sender and the payment ids of an accepted message.
 */
#include "iso20022/iso20022_private.h"

#include <stdio.h>

static void patterns_of(struct iso20022_cursor *cursor, xmlNode *node, u32 depth) {
    ASSERT(cursor != NULL);
    ASSERT(depth <= ISO20022_DEPTH_MAX);
    for (xmlNode *child = node->children; child != NULL; child = child->next) {
        if (cursor->reason != ISO20022_REASON_NONE) return;
        if (child->type != XML_ELEMENT_NODE) continue;
        const char *name = (const char *)child->name;
        bool bic = iso20022_xml_named(child, "BICFI", cursor->ns);
        bool iban = iso20022_xml_named(child, "IBAN", cursor->ns);
        bool uetr = iso20022_xml_named(child, "UETR", cursor->ns) ||
                    iso20022_xml_named(child, "OrgnlUETR", cursor->ns);
        if (bic || iban || uetr) {
            char text[ISO20022_VALUE_BYTES_MAX];
            u128 value = 0;
            if (!iso20022_xml_text(cursor, child, text, sizeof(text))) return;
            size_t length = strlen(text);
            bool valid = bic    ? iso20022_bic_valid(text, length)
                         : iban ? iso20022_iban_pattern_valid(text, length)
                                : iso20022_uetr_parse(text, length, &value);
            if (!valid) iso20022_fail(cursor, ISO20022_REASON_FF01, "pattern not matched", name);
            continue;
        }
        patterns_of(cursor, child, depth + 1);
    }
}

void iso20022_rules_patterns(struct iso20022_cursor *cursor, xmlNode *node) {
    ASSERT(cursor != NULL && node != NULL);
    ASSERT(cursor->ns != NULL);
    patterns_of(cursor, node, 0);
}

static void check_digits_of(struct iso20022_cursor *cursor, xmlNode *node, u32 depth) {
    ASSERT(cursor != NULL);
    ASSERT(depth <= ISO20022_DEPTH_MAX);
    for (xmlNode *child = node->children; child != NULL; child = child->next) {
        if (cursor->reason != ISO20022_REASON_NONE) return;
        if (child->type != XML_ELEMENT_NODE) continue;
        if (iso20022_xml_named(child, "IBAN", cursor->ns)) {
            char text[ISO20022_VALUE_BYTES_MAX];
            if (!iso20022_xml_text(cursor, child, text, sizeof(text))) return;
            if (!iso20022_iban_check_digits_valid(text, strlen(text))) {
                iso20022_fail(cursor, ISO20022_REASON_AC01, "check digits wrong", text);
            }
            continue;
        }
        check_digits_of(cursor, child, depth + 1);
    }
}

static u128 power_of_ten(u32 exponent) {
    ASSERT(exponent <= 36);
    u128 value = 1;
    for (u32 index = 0; index < exponent; index++) value *= 10;
    ASSERT(value > 0);
    return value;
}

/* Sets amount->minor; fails AM12 when written with more decimals than the currency has. A
 * code that is not an active ISO 4217 one has no minor units to check: AM03 refuses it later
 * if it is settled, and it is carried as written otherwise. */
static void check_decimals(struct iso20022_cursor *cursor, struct iso20022_amount *amount,
                           const char *element) {
    ASSERT(cursor != NULL && amount != NULL);
    ASSERT(amount->fraction_digits <= 5);
    if (!amount->present) return;
    int minor_units = iso20022_currency_minor_units(amount->currency);
    if (minor_units < 0) return;
    if (amount->fraction_digits > (u32)minor_units) {
        iso20022_fail(cursor, ISO20022_REASON_AM12, "more decimals than the currency has",
                      element);
        return;
    }
    amount->minor = amount->digits * power_of_ten((u32)minor_units - amount->fraction_digits);
}

static void check_all_decimals(struct iso20022_cursor *cursor,
                               struct iso20022_message *message) {
    ASSERT(cursor != NULL && message != NULL);
    ASSERT(message->transaction_count <= ISO20022_TRANSACTION_COUNT_MAX);
    check_decimals(cursor, &message->total, "total");
    for (u32 index = 0; index < message->transaction_count; index++) {
        struct iso20022_transaction *transaction = &message->transactions[index];
        cursor->transaction = index + 1;
        check_decimals(cursor, &transaction->amount, "settlement amount");
        check_decimals(cursor, &transaction->instructed_amount, "instructed amount");
        check_decimals(cursor, &transaction->original_amount, "original amount");
    }
    if (cursor->reason == ISO20022_REASON_NONE) cursor->transaction = 0;
}

/* TtlIntrBkSttlmAmt (pacs.004: TtlRtrdIntrBkSttlmAmt) and CtrlSum equal the sum of the
 * transactions' amounts (camt.056: their OrgnlIntrBkSttlmAmt), all in one currency. */
static void check_sums(struct iso20022_cursor *cursor, const struct iso20022_message *message) {
    ASSERT(cursor != NULL && message != NULL);
    ASSERT(message->transaction_count > 0);
    bool cancellation = message->type == ISO20022_MESSAGE_CAMT_056;
    u128 sum = 0;
    bool one_currency = true;
    const struct iso20022_amount *first = cancellation ? &message->transactions[0].original_amount
                                                       : &message->transactions[0].amount;
    for (u32 index = 0; index < message->transaction_count; index++) {
        const struct iso20022_transaction *transaction = &message->transactions[index];
        const struct iso20022_amount *amount =
            cancellation ? &transaction->original_amount : &transaction->amount;
        if (!amount->present || memcmp(amount->currency, first->currency, 4) != 0 ||
            iso20022_currency_minor_units(amount->currency) < 0) {
            one_currency = false;
        }
        sum += amount->minor; /* at most 64 x 10^18: no overflow */
    }
    const struct iso20022_amount *total = &message->total;
    if (total->present && (!one_currency || memcmp(total->currency, first->currency, 4) != 0 ||
                           total->minor != sum)) {
        iso20022_fail(cursor, ISO20022_REASON_AM10, "not the sum of the transactions", "total");
        return;
    }
    if (!message->has_control_sum) return;
    u32 minor_units = one_currency ? (u32)iso20022_currency_minor_units(first->currency) : 0;
    /* digits / 10^f == sum / 10^m  <=>  digits x 10^m == sum x 10^f (both below 2^128). */
    if (!one_currency || message->control_sum_digits * power_of_ten(minor_units) !=
                             sum * power_of_ten(message->control_sum_fraction_digits)) {
        iso20022_fail(cursor, ISO20022_REASON_AM10, "not the sum of the transactions",
                      "CtrlSum");
    }
}

static void check_currencies_and_zero(struct iso20022_cursor *cursor,
                                      const struct iso20022_message *message,
                                      enum iso20022_reason reason) {
    ASSERT(cursor != NULL && message != NULL);
    ASSERT(reason == ISO20022_REASON_AM03 || reason == ISO20022_REASON_AM01);
    if (message->type == ISO20022_MESSAGE_CAMT_056) return; /* moves no money itself */
    for (u32 index = 0; index < message->transaction_count; index++) {
        const struct iso20022_amount *amount = &message->transactions[index].amount;
        cursor->transaction = index + 1;
        ASSERT(amount->present);
        const char *target = message->transactions[index].target_currency;
        if (reason == ISO20022_REASON_AM03 && khorgos_currency_by_letters(amount->currency) ==
                                                  NULL) {
            iso20022_fail(cursor, reason, "not a currency settled here", amount->currency);
        } else if (reason == ISO20022_REASON_AM03 && target[0] != '\0' &&
                   khorgos_currency_by_letters(target) == NULL) {
            iso20022_fail(cursor, reason, "not a currency settled here", target);
        }
        if (reason == ISO20022_REASON_AM01 && amount->minor == 0) {
            iso20022_fail(cursor, reason, "zero", "settlement amount");
        }
        if (cursor->reason != ISO20022_REASON_NONE) return;
    }
    cursor->transaction = 0;
}

static void check_agent(struct iso20022_cursor *cursor, const struct iso20022_lookup *lookup,
                        const struct iso20022_agent *agent, u32 currency, const char *role) {
    ASSERT(cursor != NULL && agent != NULL);
    ASSERT(role != NULL);
    if (agent->bic[0] == '\0') {
        iso20022_fail(cursor, ISO20022_REASON_RC01, "no BICFI", role);
        return;
    }
    if (lookup == NULL || lookup->participant == NULL) return;
    enum iso20022_participant_state state = lookup->participant(lookup->context, agent->bic,
                                                                currency);
    if (state == ISO20022_PARTICIPANT_UNKNOWN) {
        iso20022_fail(cursor, ISO20022_REASON_RC01, "not a participant", agent->bic);
    } else if (state == ISO20022_PARTICIPANT_SUSPENDED) {
        iso20022_fail(cursor, ISO20022_REASON_AC06, "suspended", agent->bic);
    }
}

static void check_participants(struct iso20022_cursor *cursor,
                               const struct iso20022_lookup *lookup,
                               const struct iso20022_message *message) {
    ASSERT(cursor != NULL && message != NULL);
    ASSERT(message->transaction_count > 0);
    if (message->type == ISO20022_MESSAGE_CAMT_056) {
        check_agent(cursor, lookup, &message->assigner, 0, "Assgnr");
        check_agent(cursor, lookup, &message->assignee, 0, "Assgne");
        return;
    }
    for (u32 index = 0; index < message->transaction_count; index++) {
        const struct iso20022_transaction *transaction = &message->transactions[index];
        const struct khorgos_currency *currency =
            khorgos_currency_by_letters(transaction->amount.currency);
        ASSERT(currency != NULL); /* AM03 ran before */
        cursor->transaction = index + 1;
        check_agent(cursor, lookup, &transaction->debtor, currency->numeric, "debtor agent");
        check_agent(cursor, lookup, &transaction->creditor, currency->numeric, "creditor agent");
        if (cursor->reason != ISO20022_REASON_NONE) return;
    }
    cursor->transaction = 0;
}

/* Two transactions with one UETR would be one payment: FF01. */
static void check_uetrs_distinct(struct iso20022_cursor *cursor,
                                 const struct iso20022_message *message) {
    ASSERT(cursor != NULL && message != NULL);
    ASSERT(message->transaction_count <= ISO20022_TRANSACTION_COUNT_MAX);
    for (u32 index = 0; index < message->transaction_count; index++) {
        u128 uetr = message->transactions[index].uetr;
        for (u32 other = index + 1; uetr != 0 && other < message->transaction_count; other++) {
            if (message->transactions[other].uetr == uetr) {
                cursor->transaction = other + 1;
                iso20022_fail(cursor, ISO20022_REASON_FF01, "repeated", "UETR");
                return;
            }
        }
    }
}

/* Without an AppHdr the sender is the instructing agent: the group's InstgAgt, else the first
 * transaction's debtor participant (camt.056: the assigner). */
static void set_sender(xmlNode *document, struct iso20022_cursor *cursor,
                       struct iso20022_message *message) {
    ASSERT(cursor != NULL && message != NULL);
    ASSERT(message->transaction_count > 0);
    if (message->has_header) return;
    if (message->type == ISO20022_MESSAGE_CAMT_056) {
        memcpy(message->sender, message->assigner.bic, ISO20022_BIC_SIZE);
        memcpy(message->receiver, message->assignee.bic, ISO20022_BIC_SIZE);
        return;
    }
    xmlNode *root = iso20022_xml_element(document->children);
    struct iso20022_agent instructing, instructed;
    iso20022_read_agent(cursor, root, "GrpHdr/InstgAgt", &instructing);
    iso20022_read_agent(cursor, root, "GrpHdr/InstdAgt", &instructed);
    if (!instructing.present) instructing = message->transactions[0].debtor;
    if (!instructed.present) instructed = message->transactions[0].creditor;
    memcpy(message->sender, instructing.bic, ISO20022_BIC_SIZE);
    memcpy(message->receiver, instructed.bic, ISO20022_BIC_SIZE);
}

static void set_payment_ids(struct iso20022_message *message) {
    ASSERT(message != NULL);
    ASSERT(message->sender[0] != '\0');
    if (message->type == ISO20022_MESSAGE_CAMT_056) return; /* not a payment */
    for (u32 index = 0; index < message->transaction_count; index++) {
        struct iso20022_transaction *transaction = &message->transactions[index];
        bool own_uetr = message->type != ISO20022_MESSAGE_PACS_004 && transaction->uetr != 0;
        transaction->payment_id = own_uetr ? transaction->uetr
                                           : iso20022_payment_id(message->sender,
                                                                 message->message_id, index + 1);
        ASSERT(transaction->payment_id != 0);
    }
}

void iso20022_rules_run(struct iso20022_cursor *cursor, xmlNode *document,
                        const struct iso20022_lookup *lookup, struct iso20022_message *message) {
    ASSERT(cursor != NULL && document != NULL);
    ASSERT(cursor->reason == ISO20022_REASON_NONE);
    check_uetrs_distinct(cursor, message);
    if (cursor->reason == ISO20022_REASON_NONE) check_digits_of(cursor, document, 0);
    if (cursor->reason == ISO20022_REASON_NONE) check_all_decimals(cursor, message);
    if (cursor->reason == ISO20022_REASON_NONE) check_sums(cursor, message);
    if (cursor->reason == ISO20022_REASON_NONE && message->declared_count != 0 &&
        message->declared_count != message->transaction_count) {
        iso20022_fail(cursor, ISO20022_REASON_AM18, "not the transactions' count", "NbOfTxs");
    }
    if (cursor->reason == ISO20022_REASON_NONE) {
        check_currencies_and_zero(cursor, message, ISO20022_REASON_AM03);
    }
    if (cursor->reason == ISO20022_REASON_NONE) {
        check_currencies_and_zero(cursor, message, ISO20022_REASON_AM01);
    }
    if (cursor->reason == ISO20022_REASON_NONE) check_participants(cursor, lookup, message);
    if (cursor->reason == ISO20022_REASON_NONE) set_sender(document, cursor, message);
    if (cursor->reason == ISO20022_REASON_NONE && message->sender[0] == '\0') {
        iso20022_fail(cursor, ISO20022_REASON_RC01, "no BICFI", "sender");
    }
    if (cursor->reason == ISO20022_REASON_NONE && lookup != NULL && lookup->duplicate != NULL) {
        enum iso20022_duplicate duplicate = lookup->duplicate(
            lookup->context, message->sender, message->message_id, message->body_checksum);
        if (duplicate == ISO20022_DUPLICATE_OTHER_BODY) {
            iso20022_fail(cursor, ISO20022_REASON_DUPL, "MsgId already used", message->message_id);
        }
        message->resubmission = duplicate == ISO20022_DUPLICATE_SAME_BODY;
    }
    if (cursor->reason == ISO20022_REASON_NONE) set_payment_ids(message);
}

u128 iso20022_payment_id(const char *sender, const char *message_id, u32 position) {
    ASSERT(sender != NULL && message_id != NULL);
    ASSERT(position >= 1);
    static const char label[] = "khorgos iso20022 payment id";
    u8 input[sizeof(label) + KHORGOS_BIC_BYTES + 1 + ISO20022_TEXT_BYTES_MAX + 1 + 4];
    size_t length = 0;
    memcpy(input, label, sizeof(label)); /* with its NUL */
    length += sizeof(label);
    size_t sender_length = strlen(sender);
    ASSERT(sender_length == 8 || sender_length == 11);
    memcpy(input + length, sender, sender_length);
    if (sender_length == 8) memcpy(input + length + 8, "XXX", 3);
    length += KHORGOS_BIC_BYTES;
    input[length++] = 0;
    size_t id_length = strnlen(message_id, ISO20022_TEXT_BYTES_MAX);
    memcpy(input + length, message_id, id_length);
    length += id_length;
    input[length++] = 0;
    for (u32 shift = 0; shift < 4; shift++) input[length++] = (u8)(position >> (24 - 8 * shift));
    u8 digest[BASE_SHA256_BYTES];
    base_sha256(input, length, digest);
    digest[6] = (u8)((digest[6] & 0x0F) | 0x80); /* UUID version 8 */
    digest[8] = (u8)((digest[8] & 0x3F) | 0x80); /* variant 10 */
    u128 id = 0;
    for (u32 index = 0; index < 16; index++) id = (id << 8) | digest[index];
    ASSERT(id != 0);
    return id;
}
