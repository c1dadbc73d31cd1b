/*
 * iso20022_private.h: what the files of the iso20022 layer share and nothing else uses: the
 * safe parse and the tree helpers over libxml2's tree. Only this layer includes libxml2.
 */
#ifndef KHORGOS_ISO20022_PRIVATE_H
#define KHORGOS_ISO20022_PRIVATE_H

#include "iso20022/iso20022.h"
#include "khorgos_iso20022.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

/* Text of one simple element while it is read: the longest simple value read is an IBAN's or
 * an AddtlInf's; longer text is refused by its field's own length first. */
#define ISO20022_VALUE_BYTES_MAX 256u

/* The failure sink of a read: the first failure is kept, later ones are ignored. */
struct iso20022_cursor {
    enum iso20022_reason reason;
    u32 transaction; /* position from 1 of the transaction being read; 0 = group */
    char detail[ISO20022_INFO_BYTES_MAX + 1];
    const xmlChar *ns; /* the namespace every element read must be in */
};

/* Cuts a NUL-terminated text cut short by a copy so that it ends on a whole UTF-8 character. */
void iso20022_utf8_cut(char *text);

void iso20022_fail(struct iso20022_cursor *cursor, enum iso20022_reason reason,
                   const char *what, const char *element);

/* Parses `bytes` under the safety rules; NULL with cursor's reason FF01 when refused. The
 * caller frees the document with xmlFreeDoc. */
xmlDoc *iso20022_xml_parse(const u8 *bytes, size_t size, struct iso20022_cursor *cursor);

bool iso20022_xml_named(const xmlNode *node, const char *name, const xmlChar *ns);
/* The first element among `node` and its next siblings; NULL when none. */
xmlNode *iso20022_xml_element(xmlNode *node);
/* The one child element named `name` (in cursor->ns); NULL when absent. Two or more fail
 * FF01 (every element this layer reads has cardinality at most one). */
xmlNode *iso20022_xml_child(struct iso20022_cursor *cursor, xmlNode *parent, const char *name);
/* Follows "A/B/C" from `node` by iso20022_xml_child; NULL when any step is absent. */
xmlNode *iso20022_xml_path(struct iso20022_cursor *cursor, xmlNode *node, const char *path);
/* Copies the text of a simple element (no element children) into out (`size` bytes with the
 * NUL); fails FF01 when it has element children, is empty or is longer than size - 1. */
bool iso20022_xml_text(struct iso20022_cursor *cursor, const xmlNode *node, char *out,
                       size_t size);
/* iso20022_xml_path then iso20022_xml_text; an absent element leaves out "" and fails FF01
 * only when `required`. Returns whether a value was read. */
bool iso20022_xml_field(struct iso20022_cursor *cursor, xmlNode *node, const char *path,
                        char *out, size_t size, bool required);
/* The value of an attribute without namespace, copied like iso20022_xml_text; false when
 * absent or too long. */
bool iso20022_xml_attribute(const xmlNode *node, const char *name, char *out, size_t size);

/* Reads an ActiveOrHistoricCurrencyAndAmount element (18 digits, 5 decimals, a Ccy of three
 * capitals) into *amount; absent leaves it zero and fails FF01 only when `required`. */
void iso20022_read_amount(struct iso20022_cursor *cursor, xmlNode *node, const char *path,
                          struct iso20022_amount *amount, bool required);
/* Reads an agent's FinInstnId/BICFI (BIC in the versions that name it so) at `path`. */
void iso20022_read_agent(struct iso20022_cursor *cursor, xmlNode *node, const char *path,
                         struct iso20022_agent *agent);

/* The envelope: the Document (after reading the AppHdr into message, if any); NULL with FF01
 * when the root is neither a Document nor one element holding AppHdr then Document. */
xmlNode *iso20022_read_envelope(struct iso20022_cursor *cursor, xmlDoc *document,
                                struct iso20022_message *message);
/* The Document's namespace (sets message's type, version and name) and its one child; NULL
 * with FF01 when not a message and version of this layer's table. Sets cursor->ns. */
xmlNode *iso20022_read_root(struct iso20022_cursor *cursor, xmlNode *document,
                            struct iso20022_message *message);

/* The fields of the message under `root` (its Document's one child), by message type
 * (iso20022_fields.c); failures are FF01. */
void iso20022_read_fields(struct iso20022_cursor *cursor, xmlNode *root,
                          struct iso20022_message *message);

/* The checks after structure (iso20022_rules.c). `document` is the message's Document. */
void iso20022_rules_run(struct iso20022_cursor *cursor, xmlNode *document,
                        const struct iso20022_lookup *lookup, struct iso20022_message *message);
/* The tree-wide patterns, FF01: every BICFI, IBAN, UETR and OrgnlUETR under `node`. */
void iso20022_rules_patterns(struct iso20022_cursor *cursor, xmlNode *node);

/* Writing XML (iso20022_write.c): appends to a caller's buffer; an append that does not fit
 * sets `overflow` and nothing more is written. */
struct iso20022_output {
    char *data;
    size_t capacity;
    size_t length;
    bool overflow;
};
void iso20022_put(struct iso20022_output *out, const char *text);
/* Text with &, <, >, ", ' and CR escaped. */
void iso20022_put_escaped(struct iso20022_output *out, const char *text);
/* <name>value</name>; nothing when value is "" and not required ("NOTPROVIDED" then). */
void iso20022_element(struct iso20022_output *out, const char *name, const char *value,
                      bool required);
/* <name><FinInstnId><BICFI>bic</BICFI></FinInstnId></name>; nothing when bic is "". */
void iso20022_agent(struct iso20022_output *out, const char *name, const char *bic);
/* <name>YYYY-MM-DDThh:mm:ss.mmm+00:00</name>, UTC. */
void iso20022_put_time(struct iso20022_output *out, const char *name, u64 timestamp_ns);
/* <name>YYYY-MM-DD</name>: the UTC date of the timestamp. */
void iso20022_put_date(struct iso20022_output *out, const char *name, u64 timestamp_ns);
/* The timestamp of 00:00 UTC of a real date YYYYMMDD from 1970 (iso20022_date_parse's). */
u64 iso20022_day_start_ns(u32 date);

/* ----------------------------------------------------------------------------------------- */
/* The gateway over the engine (iso20022_gateway.c, iso20022_statement.c).                    */

/* A query's reply buffer: the largest reply the engine may give (khorgos_reply_size_max of a
 * filter is the whole message, whatever the filter's limit). */
#define ISO20022_QUERY_BYTES LIMIT_REPLY_BODY_BYTES_MAX
/* Records asked of get_account_transfers at once: the most payments one lookup_payments takes,
 * so that one lookup gives every payment of a page. */
#define ISO20022_PAGE_TRANSFERS 4094u

struct khorgos_gateway {
    struct khorgos *engine;
    khorgos_error error; /* the first error of the engine in this call: the call stops */
    /* Who the gateway acts for (khorgos_gateway_set_actor): every request carries it, but the
     * reader's participant lookups, which read as the auditor. */
    struct khorgos_actor actor;
    struct iso20022_message message;
    struct iso20022_report report;
    struct khorgos_message_payment payments[ISO20022_TRANSACTION_COUNT_MAX];
    struct khorgos_settle_result results[ISO20022_TRANSACTION_COUNT_MAX];
    u128 ids[ISO20022_PAGE_TRANSFERS];
    u8 *query;  /* ISO20022_QUERY_BYTES, 64-byte aligned */
    u8 *lookup; /* ISO20022_QUERY_BYTES, 64-byte aligned */
};

/* One request through khorgos_execute; the engine's or the request's error is kept in
 * gateway->error, and every later call returns it without executing. */
khorgos_error iso20022_execute(struct khorgos_gateway *gateway, u32 operation, const void *body,
                               u32 body_size, void *reply, u32 *reply_size);
/* An 8- or 11-character BIC as the engine stores it: 11 characters ("XXX" added), unpadded. */
void iso20022_bic_stored(const char *bic, char out[KHORGOS_BIC_BYTES]);
/* "8-4-4-4-12" lower-case hex of a UUID given as 16 bytes big-endian in a number, with NUL. */
void iso20022_uuid_text(u128 value, char out[ISO20022_UETR_TEXT_BYTES + 1]);

#endif /* KHORGOS_ISO20022_PRIVATE_H */
