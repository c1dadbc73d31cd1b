/* iso20022_fields.c: the fields each message type carries, read into struct iso20022_message.
 * Every element read has cardinality at most one; a required one missing, a value too long, a
 * pattern or a code not matched is FF01 (first failure kept). Elements this layer does not
 * read are not checked beyond the tree-wide patterns (iso20022_rules_patterns). */
#include "iso20022/iso20022_private.h"

#define CODE_SIZE 8u /* a code read into a buffer: four letters and room to see it is longer */

static bool code_in(const char *code, const char *const *codes, size_t count) {
    ASSERT(code != NULL && codes != NULL);
    ASSERT(count > 0);
    for (size_t index = 0; index < count; index++) {
        if (strcmp(code, codes[index]) == 0) return true;
    }
    return false;
}

static void read_date(struct iso20022_cursor *cursor, xmlNode *node, const char *path,
                      u32 *date) {
    ASSERT(cursor != NULL && date != NULL);
    ASSERT(path != NULL);
    char text[16];
    if (!iso20022_xml_field(cursor, node, path, text, sizeof(text), false)) return;
    if (!iso20022_date_parse(text, strlen(text), date)) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not a date", path);
    }
}

static void read_uetr(struct iso20022_cursor *cursor, xmlNode *node, const char *path,
                      char *text, size_t size, u128 *value) {
    ASSERT(cursor != NULL && value != NULL);
    ASSERT(size == ISO20022_UETR_TEXT_BYTES + 1);
    if (!iso20022_xml_field(cursor, node, path, text, size, false)) return;
    if (!iso20022_uetr_parse(text, strlen(text), value)) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not a UUID v4", path);
    }
}

/* SttlmPrty (URGT, HIGH, NORM), else PmtTpInf/InstrPrty (HIGH, NORM), else normal. */
static void read_priority(struct iso20022_cursor *cursor, xmlNode *node, xmlNode *group,
                          u8 *priority) {
    ASSERT(cursor != NULL && priority != NULL);
    ASSERT(node != NULL && cursor->ns != NULL);
    static const char *const settlement[] = {"URGT", "HIGH", "NORM"};
    static const u8 settlement_priority[] = {KHORGOS_PRIORITY_URGENT, KHORGOS_PRIORITY_HIGH,
                                             KHORGOS_PRIORITY_NORMAL};
    char code[CODE_SIZE];
    *priority = KHORGOS_PRIORITY_NORMAL;
    if (iso20022_xml_field(cursor, node, "SttlmPrty", code, sizeof(code), false)) {
        for (u32 index = 0; index < ARRAY_COUNT(settlement); index++) {
            if (strcmp(code, settlement[index]) == 0) {
                *priority = settlement_priority[index];
                return;
            }
        }
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not a Priority3Code", "SttlmPrty");
        return;
    }
    xmlNode *source = iso20022_xml_child(cursor, node, "PmtTpInf") != NULL ? node : group;
    if (!iso20022_xml_field(cursor, source, "PmtTpInf/InstrPrty", code, sizeof(code), false)) {
        return;
    }
    if (strcmp(code, "HIGH") == 0) {
        *priority = KHORGOS_PRIORITY_HIGH;
    } else if (strcmp(code, "NORM") != 0) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not a Priority2Code", "InstrPrty");
    }
}

static void read_charges_and_purpose(struct iso20022_cursor *cursor, xmlNode *node,
                                     struct iso20022_transaction *transaction, bool required) {
    ASSERT(cursor != NULL && transaction != NULL);
    ASSERT(node != NULL);
    static const char *const bearers[] = {"DEBT", "CRED", "SHAR", "SLEV"};
    char code[CODE_SIZE];
    if (iso20022_xml_field(cursor, node, "ChrgBr", code, sizeof(code), required)) {
        if (!code_in(code, bearers, ARRAY_COUNT(bearers))) {
            iso20022_fail(cursor, ISO20022_REASON_FF01, "not a ChargeBearerType1Code", "ChrgBr");
        }
        memcpy(transaction->charges, code, 5);
    }
    if (iso20022_xml_field(cursor, node, "Purp/Cd", code, sizeof(code), false)) {
        if (strlen(code) > 4) iso20022_fail(cursor, ISO20022_REASON_FF01, "too long", "Purp/Cd");
        memcpy(transaction->purpose, code, 5);
        transaction->purpose[4] = '\0';
    }
    char rate[ISO20022_VALUE_BYTES_MAX];
    if (iso20022_xml_field(cursor, node, "XchgRate", rate, sizeof(rate), false)) {
        u128 digits = 0;
        u8 fraction = 0;
        if (!iso20022_decimal_parse(rate, strlen(rate), 11, 10, &digits, &fraction) ||
            digits == 0) {
            iso20022_fail(cursor, ISO20022_REASON_FF01, "not a BaseOneRate", "XchgRate");
            return;
        }
        ASSERT(strlen(rate) <= ISO20022_RATE_TEXT_BYTES_MAX);
        memcpy(transaction->exchange_rate, rate, strlen(rate) + 1);
    }
}

/* PmtTpInf/LclInstrm/Prtry (the transaction's PmtTpInf, else the group's): the PvP
 * convention, ISO20022_PVP_PREFIX and three capitals other than the settlement currency;
 * any other proprietary code is carried, not read. */
static void read_conversion(struct iso20022_cursor *cursor, xmlNode *node, xmlNode *group,
                            struct iso20022_transaction *transaction) {
    ASSERT(cursor != NULL && node != NULL);
    ASSERT(transaction != NULL);
    xmlNode *source = iso20022_xml_child(cursor, node, "PmtTpInf") != NULL ? node : group;
    char code[ISO20022_TEXT_SIZE];
    if (source == NULL || !iso20022_xml_field(cursor, source, "PmtTpInf/LclInstrm/Prtry", code,
                                              sizeof(code), false)) {
        return;
    }
    const size_t prefix = strlen(ISO20022_PVP_PREFIX);
    if (strncmp(code, ISO20022_PVP_PREFIX, prefix) != 0) return;
    const char *letters = code + prefix;
    bool capitals = strlen(letters) == 3;
    for (u32 index = 0; capitals && index < 3; index++) {
        capitals = letters[index] >= 'A' && letters[index] <= 'Z';
    }
    if (!capitals) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not KHORGOS/PVP/ and a currency code",
                      "LclInstrm/Prtry");
    } else if (strcmp(letters, transaction->amount.currency) == 0) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "a conversion into the settlement currency",
                      "LclInstrm/Prtry");
    } else {
        memcpy(transaction->target_currency, letters, 4);
    }
}

static void read_payment_id(struct iso20022_cursor *cursor, xmlNode *node,
                            struct iso20022_transaction *transaction) {
    ASSERT(cursor != NULL && transaction != NULL);
    ASSERT(node != NULL);
    xmlNode *id = iso20022_xml_child(cursor, node, "PmtId");
    if (id == NULL) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", "PmtId");
        return;
    }
    iso20022_xml_field(cursor, id, "InstrId", transaction->instruction_id, ISO20022_TEXT_SIZE,
                       false);
    iso20022_xml_field(cursor, id, "EndToEndId", transaction->end_to_end_id,
                       ISO20022_TEXT_SIZE, true);
    iso20022_xml_field(cursor, id, "TxId", transaction->transaction_id, ISO20022_TEXT_SIZE,
                       false);
    read_uetr(cursor, id, "UETR", transaction->uetr_text, sizeof(transaction->uetr_text),
              &transaction->uetr);
}

/* A credit transfer (pacs.008 CdtTrfTxInf, pacs.009 CdtTrfTxInf). */
static void read_credit_transfer(struct iso20022_cursor *cursor, xmlNode *node, xmlNode *group,
                                 struct iso20022_message *message,
                                 struct iso20022_transaction *transaction) {
    ASSERT(cursor != NULL && node != NULL);
    ASSERT(message != NULL && transaction != NULL);
    bool customer = message->type == ISO20022_MESSAGE_PACS_008;
    read_payment_id(cursor, node, transaction);
    iso20022_read_amount(cursor, node, "IntrBkSttlmAmt", &transaction->amount, true);
    iso20022_read_amount(cursor, node, "InstdAmt", &transaction->instructed_amount, false);
    read_conversion(cursor, node, group, transaction);
    read_date(cursor, group, "IntrBkSttlmDt", &transaction->settlement_date);
    read_date(cursor, node, "IntrBkSttlmDt", &transaction->settlement_date);
    read_priority(cursor, node, group, &transaction->priority);
    read_charges_and_purpose(cursor, node, transaction, customer);
    struct iso20022_agent debtor_agent, creditor_agent;
    iso20022_read_agent(cursor, node, "DbtrAgt", &debtor_agent);
    iso20022_read_agent(cursor, node, "CdtrAgt", &creditor_agent);
    if (customer) {
        const char *const required[] = {"DbtrAgt", "CdtrAgt", "Dbtr", "Cdtr"};
        for (u32 index = 0; index < ARRAY_COUNT(required); index++) {
            if (iso20022_xml_child(cursor, node, required[index]) == NULL) {
                iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", required[index]);
            }
        }
    } else {
        struct iso20022_agent debtor, creditor;
        iso20022_read_agent(cursor, node, "Dbtr", &debtor);
        iso20022_read_agent(cursor, node, "Cdtr", &creditor);
        if (!debtor.present) iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", "Dbtr");
        if (!creditor.present) iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", "Cdtr");
        if (!debtor_agent.present) debtor_agent = debtor;
        if (!creditor_agent.present) creditor_agent = creditor;
        transaction->cover = iso20022_xml_child(cursor, node, "UndrlygCstmrCdtTrf") != NULL;
    }
    iso20022_read_agent(cursor, node, "InstgAgt", &transaction->debtor);
    if (!transaction->debtor.present) iso20022_read_agent(cursor, group, "InstgAgt",
                                                          &transaction->debtor);
    iso20022_read_agent(cursor, node, "InstdAgt", &transaction->creditor);
    if (!transaction->creditor.present) iso20022_read_agent(cursor, group, "InstdAgt",
                                                            &transaction->creditor);
    if (!transaction->debtor.present) transaction->debtor = debtor_agent;
    if (!transaction->creditor.present) transaction->creditor = creditor_agent;
}

static void read_original(struct iso20022_cursor *cursor, xmlNode *node,
                          struct iso20022_transaction *transaction) {
    ASSERT(cursor != NULL && node != NULL);
    ASSERT(transaction != NULL);
    const u32 size = ISO20022_TEXT_SIZE;
    iso20022_xml_field(cursor, node, "OrgnlGrpInf/OrgnlMsgId", transaction->original_message_id,
                       size, false);
    iso20022_xml_field(cursor, node, "OrgnlGrpInf/OrgnlMsgNmId",
                       transaction->original_message_name, size, false);
    iso20022_xml_field(cursor, node, "OrgnlInstrId", transaction->original_instruction_id, size,
                       false);
    iso20022_xml_field(cursor, node, "OrgnlEndToEndId", transaction->original_end_to_end_id,
                       size, true);
    iso20022_xml_field(cursor, node, "OrgnlTxId", transaction->original_transaction_id, size,
                       false);
    read_uetr(cursor, node, "OrgnlUETR", transaction->original_uetr_text,
              sizeof(transaction->original_uetr_text), &transaction->original_uetr);
    iso20022_read_amount(cursor, node, "OrgnlIntrBkSttlmAmt", &transaction->original_amount,
                         false);
    read_date(cursor, node, "OrgnlIntrBkSttlmDt", &transaction->original_settlement_date);
}

/* A return (pacs.004 TxInf): the participants are InstgAgt/InstdAgt, else the return
 * chain's DbtrAgt/CdtrAgt. */
static void read_return(struct iso20022_cursor *cursor, xmlNode *node, xmlNode *group,
                        struct iso20022_transaction *transaction) {
    ASSERT(cursor != NULL && node != NULL);
    ASSERT(transaction != NULL);
    iso20022_xml_field(cursor, node, "RtrId", transaction->return_id, ISO20022_TEXT_SIZE,
                       false);
    read_original(cursor, node, transaction);
    iso20022_read_amount(cursor, node, "RtrdIntrBkSttlmAmt", &transaction->amount, true);
    iso20022_read_amount(cursor, node, "RtrdInstdAmt", &transaction->instructed_amount, false);
    read_date(cursor, group, "IntrBkSttlmDt", &transaction->settlement_date);
    read_date(cursor, node, "IntrBkSttlmDt", &transaction->settlement_date);
    read_priority(cursor, node, group, &transaction->priority);
    read_charges_and_purpose(cursor, node, transaction, false);
    iso20022_xml_field(cursor, node, "RtrRsnInf/Rsn/Cd", transaction->reason_code, 5, false);
    iso20022_read_agent(cursor, node, "InstgAgt", &transaction->debtor);
    if (!transaction->debtor.present) {
        iso20022_read_agent(cursor, group, "InstgAgt", &transaction->debtor);
    }
    if (!transaction->debtor.present) {
        iso20022_read_agent(cursor, node, "RtrChain/DbtrAgt", &transaction->debtor);
    }
    iso20022_read_agent(cursor, node, "InstdAgt", &transaction->creditor);
    if (!transaction->creditor.present) {
        iso20022_read_agent(cursor, group, "InstdAgt", &transaction->creditor);
    }
    if (!transaction->creditor.present) {
        iso20022_read_agent(cursor, node, "RtrChain/CdtrAgt", &transaction->creditor);
    }
}

static void read_cancellation(struct iso20022_cursor *cursor, xmlNode *node,
                              struct iso20022_transaction *transaction) {
    ASSERT(cursor != NULL && node != NULL);
    ASSERT(transaction != NULL);
    iso20022_xml_field(cursor, node, "CxlId", transaction->cancellation_id, ISO20022_TEXT_SIZE,
                       false);
    read_original(cursor, node, transaction);
    iso20022_xml_field(cursor, node, "CxlRsnInf/Rsn/Cd", transaction->reason_code, 5, false);
}

static void read_group(struct iso20022_cursor *cursor, xmlNode *group,
                       struct iso20022_message *message) {
    ASSERT(cursor != NULL && message != NULL);
    ASSERT(cursor->ns != NULL);
    static const char *const methods[] = {"CLRG", "INDA", "INGA"};
    if (group == NULL) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", "GrpHdr");
        return;
    }
    iso20022_xml_field(cursor, group, "MsgId", message->message_id, ISO20022_TEXT_SIZE, true);
    char text[ISO20022_VALUE_BYTES_MAX];
    iso20022_xml_field(cursor, group, "CreDtTm", text, sizeof(text), true);
    char code[CODE_SIZE];
    if (iso20022_xml_field(cursor, group, "SttlmInf/SttlmMtd", code, sizeof(code), true)) {
        for (u32 index = 0; index < ARRAY_COUNT(methods); index++) {
            if (strcmp(code, methods[index]) == 0) {
                message->settlement_method = (enum iso20022_settlement_method)(index + 1);
            }
        }
        if (message->settlement_method == ISO20022_SETTLEMENT_NONE) {
            iso20022_fail(cursor, ISO20022_REASON_FF01, "not settled here", "SttlmMtd");
        }
    }
    const char *total = message->type == ISO20022_MESSAGE_PACS_004 ? "TtlRtrdIntrBkSttlmAmt"
                                                                   : "TtlIntrBkSttlmAmt";
    iso20022_read_amount(cursor, group, total, &message->total, false);
}

/* NbOfTxs (Max15NumericText) and CtrlSum (18 digits, 17 decimals) at `node`. */
static void read_counts(struct iso20022_cursor *cursor, xmlNode *node,
                        struct iso20022_message *message, bool required) {
    ASSERT(cursor != NULL && message != NULL);
    ASSERT(cursor->ns != NULL);
    char text[ISO20022_VALUE_BYTES_MAX];
    u128 digits = 0;
    u8 fraction = 0;
    if (iso20022_xml_field(cursor, node, "NbOfTxs", text, sizeof(text), required)) {
        if (!iso20022_decimal_parse(text, strlen(text), 15, 0, &digits, &fraction)) {
            iso20022_fail(cursor, ISO20022_REASON_FF01, "not a Max15NumericText", "NbOfTxs");
        }
        message->declared_count = digits > U32_MAX ? U32_MAX : (u32)digits;
    }
    if (iso20022_xml_field(cursor, node, "CtrlSum", text, sizeof(text), false)) {
        if (!iso20022_decimal_parse(text, strlen(text), 18, 17, &message->control_sum_digits,
                                    &message->control_sum_fraction_digits)) {
            iso20022_fail(cursor, ISO20022_REASON_FF01, "not a DecimalNumber", "CtrlSum");
        }
        message->has_control_sum = true;
    }
}

static void read_transactions(struct iso20022_cursor *cursor, xmlNode *parent,
                              const char *name, xmlNode *group,
                              struct iso20022_message *message) {
    ASSERT(cursor != NULL && parent != NULL);
    ASSERT(message != NULL && name != NULL);
    for (xmlNode *node = parent->children; node != NULL; node = node->next) {
        if (!iso20022_xml_named(node, name, cursor->ns)) continue;
        if (message->transaction_count == ISO20022_TRANSACTION_COUNT_MAX) {
            iso20022_fail(cursor, ISO20022_REASON_FF01, "more transactions than taken", name);
            return;
        }
        struct iso20022_transaction *transaction =
            &message->transactions[message->transaction_count++];
        cursor->transaction = message->transaction_count;
        if (message->type == ISO20022_MESSAGE_PACS_004) {
            read_return(cursor, node, group, transaction);
        } else if (message->type == ISO20022_MESSAGE_CAMT_056) {
            read_cancellation(cursor, node, transaction);
        } else {
            read_credit_transfer(cursor, node, group, message, transaction);
        }
        if (cursor->reason != ISO20022_REASON_NONE) return;
        cursor->transaction = 0;
    }
}

static void read_cancellation_request(struct iso20022_cursor *cursor, xmlNode *root,
                                      struct iso20022_message *message) {
    ASSERT(cursor != NULL && root != NULL);
    ASSERT(message->type == ISO20022_MESSAGE_CAMT_056);
    xmlNode *assignment = iso20022_xml_child(cursor, root, "Assgnmt");
    if (assignment == NULL) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", "Assgnmt");
        return;
    }
    iso20022_xml_field(cursor, assignment, "Id", message->message_id, ISO20022_TEXT_SIZE,
                       true);
    char text[ISO20022_VALUE_BYTES_MAX];
    iso20022_xml_field(cursor, assignment, "CreDtTm", text, sizeof(text), true);
    iso20022_read_agent(cursor, assignment, "Assgnr/Agt", &message->assigner);
    iso20022_read_agent(cursor, assignment, "Assgne/Agt", &message->assignee);
    if (!message->assigner.present || !message->assignee.present) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", "Assgnr/Agt or Assgne/Agt");
    }
    read_counts(cursor, iso20022_xml_child(cursor, root, "CtrlData"), message, false);
    bool any = false;
    for (xmlNode *node = root->children; node != NULL; node = node->next) {
        if (!iso20022_xml_named(node, "Undrlyg", cursor->ns)) continue;
        any = true;
        read_transactions(cursor, node, "TxInf", NULL, message);
    }
    if (!any) iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", "Undrlyg");
}

void iso20022_read_fields(struct iso20022_cursor *cursor, xmlNode *root,
                          struct iso20022_message *message) {
    ASSERT(cursor != NULL && root != NULL);
    ASSERT(message->type >= ISO20022_MESSAGE_PACS_008 &&
           message->type <= ISO20022_MESSAGE_CAMT_056);
    if (message->type == ISO20022_MESSAGE_CAMT_056) {
        read_cancellation_request(cursor, root, message);
    } else {
        xmlNode *group = iso20022_xml_child(cursor, root, "GrpHdr");
        read_group(cursor, group, message);
        read_counts(cursor, group, message, true);
        bool is_return = message->type == ISO20022_MESSAGE_PACS_004;
        read_transactions(cursor, root, is_return ? "TxInf" : "CdtTrfTxInf", group, message);
    }
    if (cursor->reason == ISO20022_REASON_NONE && message->transaction_count == 0) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", "a transaction");
    }
}
