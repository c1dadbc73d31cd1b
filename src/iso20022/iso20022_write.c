/* iso20022_write.c: the replies. pacs.002.001.10 (FIToFIPmtStsRpt) is the status report CBPR+
 * and T2 RTGS pair with pacs.008.001.08 and pacs.009.001.08; camt.029.001.09
 * (RsltnOfInvstgtn) the resolution they pair with camt.056.001.08. CreDtTm is the caller's
 * timestamp (the engine's clock) in UTC with milliseconds, so a reply is reproducible under a
 * manual clock. Text is escaped; the output is UTF-8 and read back by iso20022_read_report. */
#include "iso20022/iso20022_private.h"

#include <stdio.h>

void iso20022_put(struct iso20022_output *out, const char *text) {
    ASSERT(out != NULL && text != NULL);
    size_t length = strlen(text);
    if (out->overflow || length >= out->capacity - out->length) {
        out->overflow = true;
        return;
    }
    memcpy(out->data + out->length, text, length + 1);
    out->length += length;
    ASSERT(out->length < out->capacity);
}

void iso20022_put_escaped(struct iso20022_output *out, const char *text) {
    ASSERT(out != NULL && text != NULL);
    char piece[2] = {0, 0};
    for (const char *c = text; *c != '\0'; c++) {
        switch (*c) {
        case '&': iso20022_put(out, "&amp;"); break;
        case '<': iso20022_put(out, "&lt;"); break;
        case '>': iso20022_put(out, "&gt;"); break;
        case '"': iso20022_put(out, "&quot;"); break;
        case '\'': iso20022_put(out, "&apos;"); break;
        case '\r': iso20022_put(out, "&#13;"); break; /* a raw CR would be read back as LF */
        default: piece[0] = *c; iso20022_put(out, piece); break;
        }
    }
    ASSERT(piece[1] == 0);
}

/* <name>value</name>, or nothing when value is "" and not required ("NOTPROVIDED" then). */
void iso20022_element(struct iso20022_output *out, const char *name, const char *value,
                      bool required) {
    ASSERT(out != NULL && name != NULL && value != NULL);
    if (value[0] == '\0' && !required) return;
    iso20022_put(out, "<");
    iso20022_put(out, name);
    iso20022_put(out, ">");
    iso20022_put_escaped(out, value[0] != '\0' ? value : "NOTPROVIDED");
    iso20022_put(out, "</");
    iso20022_put(out, name);
    iso20022_put(out, ">");
}

void iso20022_agent(struct iso20022_output *out, const char *name, const char *bic) {
    ASSERT(out != NULL && name != NULL);
    ASSERT(bic != NULL);
    if (bic[0] == '\0') return;
    iso20022_put(out, "<");
    iso20022_put(out, name);
    iso20022_put(out, "><FinInstnId>");
    iso20022_element(out, "BICFI", bic, true);
    iso20022_put(out, "</FinInstnId></");
    iso20022_put(out, name);
    iso20022_put(out, ">");
}

/* Civil date of a day count since the Unix epoch (the proleptic Gregorian calendar). */
static void civil_from_days(i64 days, u32 *year, u32 *month, u32 *day) {
    ASSERT(days >= 0);
    ASSERT(year != NULL && month != NULL && day != NULL);
    i64 shifted = days + 719468; /* days from 0000-03-01 */
    i64 era = shifted / 146097;
    i64 of_era = shifted - era * 146097;
    i64 year_of_era = (of_era - of_era / 1460 + of_era / 36524 - of_era / 146096) / 365;
    i64 day_of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    i64 month_index = (5 * day_of_year + 2) / 153; /* March = 0 */
    *day = (u32)(day_of_year - (153 * month_index + 2) / 5 + 1);
    *month = (u32)(month_index < 10 ? month_index + 3 : month_index - 9);
    *year = (u32)(year_of_era + era * 400 + (*month <= 2 ? 1 : 0));
}

void iso20022_put_time(struct iso20022_output *out, const char *name, u64 timestamp_ns) {
    ASSERT(out != NULL && name != NULL);
    u64 seconds = timestamp_ns / 1000000000u;
    u32 milliseconds = (u32)(timestamp_ns / 1000000u % 1000u);
    u32 year = 0, month = 0, day = 0;
    civil_from_days((i64)(seconds / 86400u), &year, &month, &day);
    u32 second_of_day = (u32)(seconds % 86400u);
    char text[40];
    int length = snprintf(text, sizeof(text), "%04u-%02u-%02uT%02u:%02u:%02u.%03u+00:00", year,
                          month, day, second_of_day / 3600, second_of_day / 60 % 60,
                          second_of_day % 60, milliseconds);
    ASSERT(length > 0 && (size_t)length < sizeof(text));
    iso20022_element(out, name, text, true);
}

void iso20022_put_date(struct iso20022_output *out, const char *name, u64 timestamp_ns) {
    ASSERT(out != NULL && name != NULL);
    u32 year = 0, month = 0, day = 0;
    civil_from_days((i64)(timestamp_ns / 1000000000u / 86400u), &year, &month, &day);
    char text[16];
    int length = snprintf(text, sizeof(text), "%04u-%02u-%02u", year, month, day);
    ASSERT(length == 10);
    iso20022_element(out, name, text, true);
}

static void put_reason(struct iso20022_output *out, const char *name,
                       enum iso20022_reason reason, const char *additional_info) {
    ASSERT(out != NULL && name != NULL);
    ASSERT(reason < ISO20022_REASON_COUNT);
    if (reason == ISO20022_REASON_NONE && additional_info[0] == '\0') return;
    iso20022_put(out, "<");
    iso20022_put(out, name);
    iso20022_put(out, ">");
    if (reason != ISO20022_REASON_NONE) {
        iso20022_put(out, "<Rsn>");
        iso20022_element(out, "Cd", iso20022_reason_code(reason), true);
        iso20022_put(out, "</Rsn>");
    }
    iso20022_element(out, "AddtlInf", additional_info, false);
    iso20022_put(out, "</");
    iso20022_put(out, name);
    iso20022_put(out, ">");
}

static void put_originals(struct iso20022_output *out,
                          const struct iso20022_transaction_status *status) {
    ASSERT(out != NULL && status != NULL);
    ASSERT(status->status < ISO20022_STATUS_COUNT);
    iso20022_element(out, "OrgnlInstrId", status->original_instruction_id, false);
    iso20022_element(out, "OrgnlEndToEndId", status->original_end_to_end_id, true);
    iso20022_element(out, "OrgnlTxId", status->original_transaction_id, false);
    iso20022_element(out, "OrgnlUETR", status->original_uetr, false);
}

static void write_status_report(struct iso20022_output *out, const struct iso20022_report *report) {
    ASSERT(out != NULL && report != NULL);
    ASSERT(report->transaction_count <= ISO20022_TRANSACTION_COUNT_MAX);
    iso20022_put(out, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10\">"
             "<FIToFIPmtStsRpt><GrpHdr>");
    iso20022_element(out, "MsgId", report->message_id, true);
    iso20022_put_time(out, "CreDtTm", report->created_ns);
    iso20022_agent(out, "InstgAgt", report->from);
    iso20022_agent(out, "InstdAgt", report->to);
    iso20022_put(out, "</GrpHdr><OrgnlGrpInfAndSts>");
    iso20022_element(out, "OrgnlMsgId", report->original_message_id, true);
    iso20022_element(out, "OrgnlMsgNmId", report->original_message_name, true);
    iso20022_element(out, "GrpSts", iso20022_status_code(report->group_status), true);
    put_reason(out, "StsRsnInf", report->group_reason, report->group_additional_info);
    iso20022_put(out, "</OrgnlGrpInfAndSts>");
    for (u32 index = 0; index < report->transaction_count; index++) {
        const struct iso20022_transaction_status *status = &report->transactions[index];
        iso20022_put(out, "<TxInfAndSts>");
        put_originals(out, status);
        iso20022_element(out, "TxSts", iso20022_status_code(status->status), true);
        put_reason(out, "StsRsnInf", status->reason, status->additional_info);
        iso20022_put(out, "</TxInfAndSts>");
    }
    iso20022_put(out, "</FIToFIPmtStsRpt></Document>\n");
}

static void write_resolution(struct iso20022_output *out, const struct iso20022_report *report) {
    ASSERT(out != NULL && report != NULL);
    ASSERT(report->transaction_count <= ISO20022_TRANSACTION_COUNT_MAX);
    iso20022_put(out, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.029.001.09\">"
             "<RsltnOfInvstgtn><Assgnmt>");
    iso20022_element(out, "Id", report->message_id, true);
    iso20022_put(out, "<Assgnr>");
    iso20022_agent(out, "Agt", report->from);
    iso20022_put(out, "</Assgnr><Assgne>");
    iso20022_agent(out, "Agt", report->to);
    iso20022_put(out, "</Assgne>");
    iso20022_put_time(out, "CreDtTm", report->created_ns);
    iso20022_put(out, "</Assgnmt><Sts>");
    bool cancelled = report->group_status == ISO20022_STATUS_ACSC;
    iso20022_element(out, "Conf", cancelled ? "CNCL" : "RJCR", true);
    iso20022_put(out, "</Sts><CxlDtls>");
    for (u32 index = 0; index < report->transaction_count; index++) {
        const struct iso20022_transaction_status *status = &report->transactions[index];
        bool own = status->original_message_id[0] != '\0';
        iso20022_put(out, "<TxInfAndSts><OrgnlGrpInf>");
        iso20022_element(out, "OrgnlMsgId",
                         own ? status->original_message_id : report->original_message_id, true);
        iso20022_element(out, "OrgnlMsgNmId",
                         own ? status->original_message_name : report->original_message_name,
                         true);
        iso20022_put(out, "</OrgnlGrpInf>");
        put_originals(out, status);
        bool accepted = status->status == ISO20022_STATUS_ACSC;
        iso20022_element(out, "TxCxlSts", accepted ? "ACCR" : "RJCR", true);
        put_reason(out, "CxlStsRsnInf", status->reason, status->additional_info);
        iso20022_put(out, "</TxInfAndSts>");
    }
    iso20022_put(out, "</CxlDtls></RsltnOfInvstgtn></Document>\n");
}

size_t iso20022_write_report(const struct iso20022_report *report, char *out, size_t capacity) {
    ASSERT(report != NULL && out != NULL);
    ASSERT(capacity > 0);
    ASSERT(report->type == ISO20022_MESSAGE_PACS_002 || report->type == ISO20022_MESSAGE_CAMT_029);
    struct iso20022_output output = {.data = out, .capacity = capacity};
    iso20022_put(&output, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (report->type == ISO20022_MESSAGE_PACS_002) {
        write_status_report(&output, report);
    } else {
        write_resolution(&output, report);
    }
    if (output.overflow) {
        out[0] = '\0';
        return 0;
    }
    return output.length;
}

static const char reason_codes[ISO20022_REASON_COUNT][5] = {
    "", "FF01", "AC01", "AM12", "AM10", "AM18", "AM03", "AM01",
    "RC01", "AC06", "DUPL", "AGNT", "AM09", "NARR", "ARDT", "NOOR",
    "AM04", "AM02", "AM13", "AG09", "TM01", "DT01", "BE09", "AG01",
};
static const char status_codes[ISO20022_STATUS_COUNT][5] = {"ACSC", "ACSP", "PDNG", "RJCT",
                                                            "PART"};

const char *iso20022_reason_code(enum iso20022_reason reason) {
    ASSERT(reason < ISO20022_REASON_COUNT);
    ASSERT(reason == ISO20022_REASON_NONE || strlen(reason_codes[reason]) == 4);
    return reason_codes[reason];
}

const char *iso20022_status_code(enum iso20022_status status) {
    ASSERT(status < ISO20022_STATUS_COUNT);
    ASSERT(strlen(status_codes[status]) == 4);
    return status_codes[status];
}

bool iso20022_reason_parse(const char *code, enum iso20022_reason *reason) {
    ASSERT(code != NULL && reason != NULL);
    for (u32 index = 1; index < ISO20022_REASON_COUNT; index++) {
        if (strcmp(code, reason_codes[index]) == 0) {
            *reason = (enum iso20022_reason)index;
            return true;
        }
    }
    return false;
}

void iso20022_report_from_message(const struct iso20022_message *message,
                                  enum iso20022_status status, struct iso20022_report *report) {
    ASSERT(message != NULL && report != NULL);
    ASSERT(status < ISO20022_STATUS_COUNT);
    memset(report, 0, sizeof(*report));
    bool cancellation = message->type == ISO20022_MESSAGE_CAMT_056;
    bool refused = message->reason != ISO20022_REASON_NONE;
    report->type = cancellation ? ISO20022_MESSAGE_CAMT_029 : ISO20022_MESSAGE_PACS_002;
    memcpy(report->original_message_id, message->message_id, ISO20022_TEXT_SIZE);
    memcpy(report->original_message_name, message->name, sizeof(report->original_message_name));
    memcpy(report->from, message->receiver, ISO20022_BIC_SIZE);
    memcpy(report->to, message->sender, ISO20022_BIC_SIZE);
    report->group_status = refused ? ISO20022_STATUS_RJCT : status;
    report->group_reason = message->reason;
    if (refused) memcpy(report->group_additional_info, message->reason_detail,
                        sizeof(report->group_additional_info));
    report->transaction_count = message->transaction_count;
    for (u32 index = 0; index < message->transaction_count; index++) {
        const struct iso20022_transaction *transaction = &message->transactions[index];
        struct iso20022_transaction_status *out = &report->transactions[index];
        bool original = cancellation || message->type == ISO20022_MESSAGE_PACS_004;
        out->status = report->group_status;
        out->reason = message->reason;
        memcpy(out->original_instruction_id, original ? transaction->original_instruction_id
                                                      : transaction->instruction_id,
               ISO20022_TEXT_SIZE);
        memcpy(out->original_end_to_end_id, original ? transaction->original_end_to_end_id
                                                     : transaction->end_to_end_id,
               ISO20022_TEXT_SIZE);
        memcpy(out->original_transaction_id, original ? transaction->original_transaction_id
                                                      : transaction->transaction_id,
               ISO20022_TEXT_SIZE);
        memcpy(out->original_uetr, original ? transaction->original_uetr_text
                                            : transaction->uetr_text,
               sizeof(out->original_uetr));
        if (cancellation) { /* the original payment's message, as the camt.056 names it */
            memcpy(out->original_message_id, transaction->original_message_id,
                   ISO20022_TEXT_SIZE);
            memcpy(out->original_message_name, transaction->original_message_name,
                   ISO20022_TEXT_SIZE);
        }
    }
}

/* ---- reading a report back ------------------------------------------------------------- */

static i64 days_from_civil(i64 year, u32 month, u32 day) {
    ASSERT(month >= 1 && month <= 12);
    ASSERT(day >= 1 && day <= 31);
    year -= month <= 2 ? 1 : 0;
    i64 era = year / 400;
    i64 year_of_era = year - era * 400;
    i64 day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    i64 day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

u64 iso20022_day_start_ns(u32 date) {
    ASSERT(date >= 19700101 && date <= 99991231);
    i64 days = days_from_civil(date / 10000, date / 100 % 100, date % 100);
    ASSERT(days >= 0);
    return (u64)days * 86400u * 1000000000u;
}

/* "YYYY-MM-DDThh:mm:ss.mmm+00:00", as written above. */
static bool time_parse(const char *text, u64 *timestamp_ns) {
    ASSERT(text != NULL && timestamp_ns != NULL);
    u32 date = 0;
    if (strlen(text) != 29 || !iso20022_date_parse(text, 10, &date)) return false;
    if (text[10] != 'T' || strcmp(text + 23, "+00:00") != 0) return false;
    u32 values[4] = {0, 0, 0, 0};
    const u32 starts[4] = {11, 14, 17, 20}, lengths[4] = {2, 2, 2, 3};
    for (u32 field = 0; field < 4; field++) {
        for (u32 index = 0; index < lengths[field]; index++) {
            char c = text[starts[field] + index];
            if (c < '0' || c > '9') return false;
            values[field] = values[field] * 10 + (u32)(c - '0');
        }
    }
    if (values[0] > 23 || values[1] > 59 || values[2] > 59) return false;
    i64 days = days_from_civil(date / 10000, date / 100 % 100, date % 100);
    if (days < 0) return false;
    u64 seconds = (u64)days * 86400u + values[0] * 3600u + values[1] * 60u + values[2];
    *timestamp_ns = seconds * 1000000000u + (u64)values[3] * 1000000u;
    return true;
}

static void read_status(struct iso20022_cursor *cursor, xmlNode *node, const char *name,
                        bool resolution, enum iso20022_status *status) {
    ASSERT(cursor != NULL && status != NULL);
    ASSERT(name != NULL);
    char code[8];
    if (!iso20022_xml_field(cursor, node, name, code, sizeof(code), true)) return;
    const char *accepted = resolution ? "ACCR" : NULL;
    const char *refused = resolution ? "RJCR" : NULL;
    for (u32 index = 0; !resolution && index < ISO20022_STATUS_COUNT; index++) {
        if (strcmp(code, status_codes[index]) == 0) {
            *status = (enum iso20022_status)index;
            return;
        }
    }
    if (resolution && (strcmp(code, accepted) == 0 || strcmp(code, "CNCL") == 0)) {
        *status = ISO20022_STATUS_ACSC;
    } else if (resolution && strcmp(code, refused) == 0) {
        *status = ISO20022_STATUS_RJCT;
    } else {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not a status", name);
    }
}

static void read_reason(struct iso20022_cursor *cursor, xmlNode *node, const char *name,
                        enum iso20022_reason *reason, char *additional_info) {
    ASSERT(cursor != NULL && reason != NULL);
    ASSERT(additional_info != NULL);
    xmlNode *found = iso20022_xml_child(cursor, node, name);
    if (found == NULL) return;
    char code[8];
    if (iso20022_xml_field(cursor, found, "Rsn/Cd", code, sizeof(code), false) &&
        !iso20022_reason_parse(code, reason)) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not a reason code of this layer", code);
    }
    iso20022_xml_field(cursor, found, "AddtlInf", additional_info, ISO20022_INFO_BYTES_MAX + 1,
                       false);
}

static void read_report_transaction(struct iso20022_cursor *cursor, xmlNode *node,
                                    bool resolution,
                                    struct iso20022_transaction_status *status) {
    ASSERT(cursor != NULL && node != NULL);
    ASSERT(status != NULL);
    iso20022_xml_field(cursor, node, "OrgnlInstrId", status->original_instruction_id,
                       ISO20022_TEXT_SIZE, false);
    iso20022_xml_field(cursor, node, "OrgnlEndToEndId", status->original_end_to_end_id,
                       ISO20022_TEXT_SIZE, true);
    iso20022_xml_field(cursor, node, "OrgnlTxId", status->original_transaction_id,
                       ISO20022_TEXT_SIZE, false);
    iso20022_xml_field(cursor, node, "OrgnlUETR", status->original_uetr,
                       sizeof(status->original_uetr), false);
    read_status(cursor, node, resolution ? "TxCxlSts" : "TxSts", resolution, &status->status);
    read_reason(cursor, node, resolution ? "CxlStsRsnInf" : "StsRsnInf", &status->reason,
                status->additional_info);
}

static void read_report_transactions(struct iso20022_cursor *cursor, xmlNode *parent,
                                     bool resolution, struct iso20022_report *report) {
    ASSERT(cursor != NULL && report != NULL);
    ASSERT(report->transaction_count == 0);
    if (parent == NULL) return;
    for (xmlNode *node = parent->children; node != NULL; node = node->next) {
        if (!iso20022_xml_named(node, "TxInfAndSts", cursor->ns)) continue;
        if (report->transaction_count == ISO20022_TRANSACTION_COUNT_MAX) {
            iso20022_fail(cursor, ISO20022_REASON_FF01, "more transactions than taken",
                          "TxInfAndSts");
            return;
        }
        struct iso20022_transaction_status *status =
            &report->transactions[report->transaction_count++];
        read_report_transaction(cursor, node, resolution, status);
        if (resolution) {
            iso20022_xml_field(cursor, node, "OrgnlGrpInf/OrgnlMsgId",
                               status->original_message_id, ISO20022_TEXT_SIZE, true);
            iso20022_xml_field(cursor, node, "OrgnlGrpInf/OrgnlMsgNmId",
                               status->original_message_name, ISO20022_TEXT_SIZE, true);
            memcpy(report->original_message_id, status->original_message_id, ISO20022_TEXT_SIZE);
            memcpy(report->original_message_name, status->original_message_name,
                   ISO20022_TEXT_SIZE);
        }
    }
}

static void read_report_header(struct iso20022_cursor *cursor, xmlNode *header,
                               struct iso20022_report *report, bool resolution) {
    ASSERT(cursor != NULL && report != NULL);
    struct iso20022_agent from = {0}, to = {0};
    char time[ISO20022_VALUE_BYTES_MAX];
    iso20022_xml_field(cursor, header, resolution ? "Id" : "MsgId", report->message_id,
                       ISO20022_TEXT_SIZE, true);
    if (iso20022_xml_field(cursor, header, "CreDtTm", time, sizeof(time), true) &&
        !time_parse(time, &report->created_ns)) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not a time written here", "CreDtTm");
    }
    iso20022_read_agent(cursor, header, resolution ? "Assgnr/Agt" : "InstgAgt", &from);
    iso20022_read_agent(cursor, header, resolution ? "Assgne/Agt" : "InstdAgt", &to);
    memcpy(report->from, from.bic, ISO20022_BIC_SIZE);
    memcpy(report->to, to.bic, ISO20022_BIC_SIZE);
}

static void read_report_body(struct iso20022_cursor *cursor, xmlNode *root,
                             struct iso20022_report *report) {
    ASSERT(cursor != NULL && root != NULL);
    ASSERT(report != NULL);
    bool resolution = report->type == ISO20022_MESSAGE_CAMT_029;
    xmlNode *header = iso20022_xml_child(cursor, root, resolution ? "Assgnmt" : "GrpHdr");
    read_report_header(cursor, header, report, resolution);
    if (resolution) {
        read_status(cursor, root, "Sts/Conf", true, &report->group_status);
        xmlNode *details = iso20022_xml_child(cursor, root, "CxlDtls");
        read_report_transactions(cursor, details, true, report);
        return;
    }
    xmlNode *group = iso20022_xml_child(cursor, root, "OrgnlGrpInfAndSts");
    iso20022_xml_field(cursor, group, "OrgnlMsgId", report->original_message_id,
                       ISO20022_TEXT_SIZE, true);
    iso20022_xml_field(cursor, group, "OrgnlMsgNmId", report->original_message_name,
                       sizeof(report->original_message_name), true);
    read_status(cursor, group, "GrpSts", false, &report->group_status);
    read_reason(cursor, group, "StsRsnInf", &report->group_reason,
                report->group_additional_info);
    read_report_transactions(cursor, root, false, report);
}

bool iso20022_read_report(const u8 *bytes, size_t size, struct iso20022_report *report,
                          enum iso20022_reason *reason) {
    ASSERT(report != NULL && reason != NULL);
    ASSERT(bytes != NULL || size == 0);
    memset(report, 0, sizeof(*report));
    static _Thread_local struct iso20022_message message; /* only its envelope part is used */
    memset(&message, 0, sizeof(message));
    struct iso20022_cursor cursor = {0};
    xmlDoc *document = iso20022_xml_parse(bytes, size, &cursor);
    xmlNode *body = document != NULL ? iso20022_read_envelope(&cursor, document, &message)
                                     : NULL;
    xmlNode *root = body != NULL ? iso20022_read_root(&cursor, body, &message) : NULL;
    if (root != NULL && message.type != ISO20022_MESSAGE_PACS_002 &&
        message.type != ISO20022_MESSAGE_CAMT_029) {
        iso20022_fail(&cursor, ISO20022_REASON_FF01, "not a report", message.name);
    }
    if (cursor.reason == ISO20022_REASON_NONE) {
        report->type = message.type;
        read_report_body(&cursor, root, report);
    }
    if (document != NULL) xmlFreeDoc(document);
    *reason = cursor.reason;
    return cursor.reason == ISO20022_REASON_NONE;
}
