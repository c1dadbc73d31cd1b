/* iso20022_read.c: from bytes to struct iso20022_message. The envelope is a Document, or one
 * root element (any name and namespace) whose element children are exactly AppHdr (head.001
 * .001.01 to .04) then Document. The Document's namespace alone names the message and its
 * version. Then the fields each message type carries are read (structure, lengths, patterns
 * and codes: FF01), and iso20022_rules_run does the checks that follow, in their order. */
#include "iso20022/iso20022_private.h"

#include <stdio.h>

#define NAMESPACE_PREFIX "urn:iso:std:iso:20022:tech:xsd:"

struct message_kind {
    const char *area_and_number; /* "pacs.008" */
    const char *root;            /* the Document's one child */
    enum iso20022_message_type type;
    u8 version_min, version_max;
};

static const struct message_kind kinds[] = {
    {"pacs.008", "FIToFICstmrCdtTrf", ISO20022_MESSAGE_PACS_008, 2, 12},
    {"pacs.009", "FICdtTrf", ISO20022_MESSAGE_PACS_009, 2, 12},
    {"pacs.004", "PmtRtr", ISO20022_MESSAGE_PACS_004, 2, 13},
    {"camt.056", "FIToFIPmtCxlReq", ISO20022_MESSAGE_CAMT_056, 1, 11},
    {"pacs.002", "FIToFIPmtStsRpt", ISO20022_MESSAGE_PACS_002, 10, 10},
    {"camt.029", "RsltnOfInvstgtn", ISO20022_MESSAGE_CAMT_029, 9, 9},
};

/* "aaaa.nnn.nnn.nn" after the ISO 20022 prefix: sets the name and, when it is a message and
 * version of the table, the type and version (else ISO20022_MESSAGE_OTHER). */
static const struct message_kind *namespace_kind(const xmlChar *href,
                                                 struct iso20022_message *message) {
    ASSERT(message != NULL);
    ASSERT(message->type == ISO20022_MESSAGE_UNKNOWN);
    if (href == NULL) return NULL;
    const char *text = (const char *)href;
    size_t prefix = strlen(NAMESPACE_PREFIX);
    if (strncmp(text, NAMESPACE_PREFIX, prefix) != 0) return NULL;
    const char *name = text + prefix;
    if (strlen(name) != 15) return NULL;
    for (size_t index = 0; index < 15; index++) {
        char c = name[index];
        bool dot = index == 4 || index == 8 || index == 12;
        bool valid = dot ? c == '.' : index < 4 ? (c >= 'a' && c <= 'z') : (c >= '0' && c <= '9');
        if (!valid) return NULL;
    }
    memcpy(message->name, name, 16);
    message->type = ISO20022_MESSAGE_OTHER;
    u32 version = (u32)(name[13] - '0') * 10 + (u32)(name[14] - '0');
    if (strncmp(name + 8, ".001.", 5) != 0) return NULL;
    for (size_t index = 0; index < ARRAY_COUNT(kinds); index++) {
        if (strncmp(name, kinds[index].area_and_number, 8) != 0) continue;
        if (version < kinds[index].version_min || version > kinds[index].version_max) break;
        message->type = kinds[index].type;
        message->version = (u8)version;
        return &kinds[index];
    }
    return NULL;
}

static bool header_namespace(const xmlNode *node) {
    ASSERT(node != NULL);
    if (node->ns == NULL) return false;
    const char *href = (const char *)node->ns->href;
    const char *expected = NAMESPACE_PREFIX "head.001.001.0";
    size_t length = strlen(expected);
    ASSERT(length > 0);
    return strncmp(href, expected, length) == 0 && href[length] >= '1' &&
           href[length] <= '4' && href[length + 1] == '\0';
}

static void read_header(struct iso20022_cursor *cursor, xmlNode *header,
                        struct iso20022_message *message) {
    ASSERT(cursor != NULL && header != NULL);
    ASSERT(header->ns != NULL);
    cursor->ns = header->ns->href;
    message->has_header = true;
    iso20022_xml_field(cursor, header, "BizMsgIdr", message->header_message_id,
                       sizeof(message->header_message_id), true);
    struct iso20022_agent from = {0}, to = {0};
    iso20022_read_agent(cursor, header, "Fr/FIId", &from);
    iso20022_read_agent(cursor, header, "To/FIId", &to);
    if (iso20022_xml_child(cursor, header, "Fr") == NULL) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", "AppHdr/Fr");
    }
    memcpy(message->sender, from.bic, sizeof(message->sender));
    memcpy(message->receiver, to.bic, sizeof(message->receiver));
    cursor->ns = NULL;
}

/* Finds the Document (and reads the AppHdr before it); NULL when the envelope is wrong. */
xmlNode *iso20022_read_envelope(struct iso20022_cursor *cursor, xmlDoc *document,
                         struct iso20022_message *message) {
    ASSERT(cursor != NULL && document != NULL);
    xmlNode *root = xmlDocGetRootElement(document);
    ASSERT(root != NULL);
    if (xmlStrEqual(root->name, (const xmlChar *)"Document")) return root;
    xmlNode *header = iso20022_xml_element(root->children);
    xmlNode *body = header != NULL ? iso20022_xml_element(header->next) : NULL;
    bool valid = header != NULL && body != NULL && iso20022_xml_element(body->next) == NULL &&
                 xmlStrEqual(header->name, (const xmlChar *)"AppHdr") &&
                 header_namespace(header) &&
                 xmlStrEqual(body->name, (const xmlChar *)"Document");
    if (!valid) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not a message",
                      "the root is neither Document nor AppHdr then Document");
        return NULL;
    }
    read_header(cursor, header, message);
    return body;
}

/* The Document's namespace and its one child; NULL when it is not a message taken here. */
xmlNode *iso20022_read_root(struct iso20022_cursor *cursor, xmlNode *document,
                             struct iso20022_message *message) {
    ASSERT(cursor != NULL && document != NULL);
    const xmlChar *href = document->ns != NULL ? document->ns->href : NULL;
    const struct message_kind *kind = namespace_kind(href, message);
    if (kind == NULL) {
        if (href != NULL && message->type == ISO20022_MESSAGE_UNKNOWN) {
            snprintf(message->name, sizeof(message->name), "%s", (const char *)href);
            iso20022_utf8_cut(message->name);
        }
        iso20022_fail(cursor, ISO20022_REASON_FF01,
                      message->type == ISO20022_MESSAGE_OTHER ? "not taken by this gateway"
                                                              : "unknown namespace",
                      message->name[0] != '\0' ? message->name : "Document");
        return NULL;
    }
    cursor->ns = href;
    xmlNode *root = iso20022_xml_element(document->children);
    if (root == NULL || iso20022_xml_element(root->next) != NULL ||
        !iso20022_xml_named(root, kind->root, href)) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "expected", kind->root);
        return NULL;
    }
    return root;
}

void iso20022_read_amount(struct iso20022_cursor *cursor, xmlNode *node, const char *path,
                          struct iso20022_amount *amount, bool required) {
    ASSERT(cursor != NULL && path != NULL);
    ASSERT(amount != NULL);
    memset(amount, 0, sizeof(*amount));
    char text[ISO20022_VALUE_BYTES_MAX];
    xmlNode *found = iso20022_xml_path(cursor, node, path);
    if (found == NULL) {
        if (required) iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", path);
        return;
    }
    if (!iso20022_xml_text(cursor, found, text, sizeof(text))) return;
    if (!iso20022_decimal_parse(text, strlen(text), 18, 5, &amount->digits,
                                &amount->fraction_digits)) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not an amount", path);
        return;
    }
    char currency[8];
    bool letters = iso20022_xml_attribute(found, "Ccy", currency, sizeof(currency)) &&
                   strlen(currency) == 3;
    for (size_t index = 0; letters && index < 3; index++) {
        letters = currency[index] >= 'A' && currency[index] <= 'Z';
    }
    if (!letters) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "no currency code", path);
        return;
    }
    memcpy(amount->currency, currency, 4);
    amount->currency_numeric = iso20022_currency_numeric(currency);
    amount->present = true;
}

void iso20022_read_agent(struct iso20022_cursor *cursor, xmlNode *node, const char *path,
                         struct iso20022_agent *agent) {
    ASSERT(cursor != NULL && path != NULL);
    ASSERT(agent != NULL);
    memset(agent, 0, sizeof(*agent));
    xmlNode *found = iso20022_xml_path(cursor, node, path);
    if (found == NULL) return;
    agent->present = true;
    xmlNode *institution = iso20022_xml_child(cursor, found, "FinInstnId");
    if (institution == NULL) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "missing FinInstnId", path);
        return;
    }
    /* BICFI since the 2013 versions; BIC in the earlier ones (pacs.008.001.02, ...). */
    const char *name = iso20022_xml_child(cursor, institution, "BICFI") != NULL ? "BICFI" : "BIC";
    iso20022_xml_field(cursor, institution, name, agent->bic, sizeof(agent->bic), false);
    if (agent->bic[0] != '\0' && !iso20022_bic_valid(agent->bic, strlen(agent->bic))) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not a BIC", path);
        agent->bic[0] = '\0'; /* never echoed in a reply */
    }
}

void iso20022_read(const u8 *bytes, size_t size, const struct iso20022_lookup *lookup,
                   struct iso20022_message *message) {
    ASSERT(message != NULL);
    ASSERT(bytes != NULL || size == 0);
    memset(message, 0, sizeof(*message));
    struct iso20022_cursor cursor = {0};
    xmlDoc *document = iso20022_xml_parse(bytes, size, &cursor);
    xmlNode *body = document != NULL ? iso20022_read_envelope(&cursor, document, message) : NULL;
    xmlNode *root = body != NULL ? iso20022_read_root(&cursor, body, message) : NULL;
    if (root != NULL && message->type >= ISO20022_MESSAGE_PACS_002) {
        iso20022_fail(&cursor, ISO20022_REASON_FF01, "not taken by this gateway",
                      message->name);
    }
    if (root != NULL && cursor.reason == ISO20022_REASON_NONE) {
        message->body_checksum = base_checksum128(bytes, size);
        iso20022_read_fields(&cursor, root, message);
        if (cursor.reason == ISO20022_REASON_NONE) iso20022_rules_patterns(&cursor, body);
        if (cursor.reason == ISO20022_REASON_NONE) {
            iso20022_rules_run(&cursor, body, lookup, message);
        }
    }
    message->reason = cursor.reason;
    message->reason_transaction = cursor.reason != ISO20022_REASON_NONE ? cursor.transaction : 0;
    memcpy(message->reason_detail, cursor.detail, sizeof(message->reason_detail));
    if (document != NULL) xmlFreeDoc(document);
    ASSERT((message->reason == ISO20022_REASON_NONE) == (cursor.reason == ISO20022_REASON_NONE));
}
