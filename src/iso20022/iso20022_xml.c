/* iso20022_xml.c: the safe parse of an untrusted message with libxml2, and the helpers that
 * read its tree. The rules (iso20022.h, "Safety"): a size cap, UTF-8 only, no DOCTYPE (seen in
 * the bytes, or by the parser's DOCTYPE callback, which stops the parse before any internal
 * subset), no network, no entity substitution, no DTD loading, and a depth cap counted as
 * elements open. */
#include "iso20022/iso20022_private.h"

#include <libxml/SAX2.h>
#include <libxml/parserInternals.h>
#include <stdio.h>
#include <strings.h>

struct parse_state {
    u32 depth;
    bool too_deep;
    bool doctype;
};

void iso20022_utf8_cut(char *text) {
    ASSERT(text != NULL);
    size_t length = strlen(text);
    size_t lead = length;
    while (lead > 0 && ((u8)text[lead - 1] & 0xC0) == 0x80) lead--;
    if (lead == 0) return;
    u8 first = (u8)text[lead - 1];
    size_t expected = first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : first >= 0xC0 ? 2 : 1;
    if (length - (lead - 1) < expected) text[lead - 1] = '\0';
    ASSERT(strlen(text) <= length);
}

void iso20022_fail(struct iso20022_cursor *cursor, enum iso20022_reason reason,
                   const char *what, const char *element) {
    ASSERT(cursor != NULL);
    ASSERT(reason != ISO20022_REASON_NONE && reason < ISO20022_REASON_COUNT);
    if (cursor->reason != ISO20022_REASON_NONE) return;
    cursor->reason = reason;
    if (cursor->transaction > 0) {
        snprintf(cursor->detail, sizeof(cursor->detail), "%s: %s (transaction %u)", what,
                 element, cursor->transaction);
    } else {
        snprintf(cursor->detail, sizeof(cursor->detail), "%s: %s", what, element);
    }
    iso20022_utf8_cut(cursor->detail);
}

/* Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF) without NUL. */
static bool utf8_valid(const u8 *bytes, size_t size) {
    ASSERT(bytes != NULL || size == 0);
    size_t index = 0;
    while (index < size) {
        u8 lead = bytes[index];
        if (lead == 0) return false;
        if (lead < 0x80) {
            index++;
            continue;
        }
        u32 count = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
        if (count == 0 || lead > 0xF4 || lead == 0xC0 || lead == 0xC1) return false;
        if (size - index <= count) return false;
        u32 code = lead & (0x3Fu >> count);
        for (u32 next = 1; next <= count; next++) {
            if ((bytes[index + next] & 0xC0) != 0x80) return false;
            code = (code << 6) | (bytes[index + next] & 0x3Fu);
        }
        static const u32 smallest[4] = {0, 0x80, 0x800, 0x10000};
        if (code < smallest[count] || code > 0x10FFFF) return false;
        if (code >= 0xD800 && code <= 0xDFFF) return false;
        index += count + 1;
    }
    ASSERT(index == size);
    return true;
}

static void on_doctype(void *context, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id) {
    (void)name, (void)external_id, (void)system_id;
    xmlParserCtxt *parser = context;
    ASSERT(parser != NULL && parser->_private != NULL);
    struct parse_state *state = parser->_private;
    state->doctype = true;
    xmlStopParser(parser);
}

static void on_start(void *context, const xmlChar *local, const xmlChar *prefix,
                     const xmlChar *uri, int namespace_count, const xmlChar **namespaces,
                     int attribute_count, int defaulted_count, const xmlChar **attributes) {
    xmlParserCtxt *parser = context;
    ASSERT(parser != NULL && parser->_private != NULL);
    struct parse_state *state = parser->_private;
    state->depth++;
    if (state->depth > ISO20022_DEPTH_MAX) {
        state->too_deep = true;
        xmlStopParser(parser);
        return;
    }
    xmlSAX2StartElementNs(context, local, prefix, uri, namespace_count, namespaces,
                          attribute_count, defaulted_count, attributes);
}

static void on_end(void *context, const xmlChar *local, const xmlChar *prefix,
                   const xmlChar *uri) {
    xmlParserCtxt *parser = context;
    ASSERT(parser != NULL && parser->_private != NULL);
    struct parse_state *state = parser->_private;
    ASSERT(state->depth > 0);
    state->depth--;
    xmlSAX2EndElementNs(context, local, prefix, uri);
}

static void on_error(void *context, xmlError *error) {
    (void)context, (void)error; /* the parse's result says it failed; nothing is printed */
}

static bool has_doctype_bytes(const u8 *bytes, size_t size) {
    ASSERT(bytes != NULL || size == 0);
    static const char doctype[] = "<!DOCTYPE";
    ASSERT(sizeof(doctype) - 1 == 9);
    return size >= 9 && memmem(bytes, size, doctype, 9) != NULL;
}

static bool encoding_is_utf8(const xmlDoc *document) {
    ASSERT(document != NULL);
    if (document->encoding == NULL) return true;
    const char *name = (const char *)document->encoding;
    ASSERT(name[0] != '\0' || true);
    return strcasecmp(name, "UTF-8") == 0;
}

static xmlDoc *parse_checked(const u8 *bytes, size_t size, struct iso20022_cursor *cursor) {
    ASSERT(size <= ISO20022_MESSAGE_BYTES_MAX);
    ASSERT(cursor != NULL);
    xmlInitParser();
    xmlParserCtxt *parser = xmlCreateMemoryParserCtxt((const char *)bytes, (int)size);
    if (parser == NULL) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not parsed", "out of memory");
        return NULL;
    }
    struct parse_state state = {0};
    parser->_private = &state;
    parser->sax->internalSubset = on_doctype;
    parser->sax->startElementNs = on_start;
    parser->sax->endElementNs = on_end;
    parser->sax->serror = on_error;
    xmlCtxtUseOptions(parser, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                  XML_PARSE_NOCDATA);
    int status = xmlParseDocument(parser);
    xmlDoc *document = parser->myDoc;
    bool good = status == 0 && parser->wellFormed && !state.doctype && !state.too_deep;
    parser->myDoc = NULL;
    xmlFreeParserCtxt(parser);
    if (good && (document->intSubset != NULL || document->extSubset != NULL)) good = false;
    if (good && !encoding_is_utf8(document)) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not UTF-8", "the XML declaration");
    }
    if (!good || cursor->reason != ISO20022_REASON_NONE) {
        if (state.doctype) iso20022_fail(cursor, ISO20022_REASON_FF01, "refused", "DOCTYPE");
        if (state.too_deep) iso20022_fail(cursor, ISO20022_REASON_FF01, "too deep", "element");
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not well-formed", "XML");
        if (document != NULL) xmlFreeDoc(document);
        return NULL;
    }
    return document;
}

xmlDoc *iso20022_xml_parse(const u8 *bytes, size_t size, struct iso20022_cursor *cursor) {
    ASSERT(cursor != NULL);
    ASSERT(bytes != NULL || size == 0);
    if (size > ISO20022_MESSAGE_BYTES_MAX) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "too large", "message");
        return NULL;
    }
    if (size == 0) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "empty", "message");
        return NULL;
    }
    if (!utf8_valid(bytes, size)) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "not UTF-8", "message");
        return NULL;
    }
    if (has_doctype_bytes(bytes, size)) {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "refused", "DOCTYPE");
        return NULL;
    }
    return parse_checked(bytes, size, cursor);
}

bool iso20022_xml_named(const xmlNode *node, const char *name, const xmlChar *ns) {
    ASSERT(node != NULL);
    ASSERT(name != NULL);
    if (node->type != XML_ELEMENT_NODE) return false;
    if (!xmlStrEqual(node->name, (const xmlChar *)name)) return false;
    if (ns == NULL) return node->ns == NULL;
    return node->ns != NULL && xmlStrEqual(node->ns->href, ns);
}

xmlNode *iso20022_xml_element(xmlNode *node) {
    ASSERT(node == NULL || node->doc != NULL);
    while (node != NULL && node->type != XML_ELEMENT_NODE) node = node->next;
    ASSERT(node == NULL || node->type == XML_ELEMENT_NODE);
    return node;
}

xmlNode *iso20022_xml_child(struct iso20022_cursor *cursor, xmlNode *parent, const char *name) {
    ASSERT(cursor != NULL);
    ASSERT(name != NULL);
    if (parent == NULL) return NULL;
    xmlNode *found = NULL;
    for (xmlNode *child = parent->children; child != NULL; child = child->next) {
        if (!iso20022_xml_named(child, name, cursor->ns)) continue;
        if (found != NULL) {
            iso20022_fail(cursor, ISO20022_REASON_FF01, "more than one", name);
            return NULL;
        }
        found = child;
    }
    return found;
}

xmlNode *iso20022_xml_path(struct iso20022_cursor *cursor, xmlNode *node, const char *path) {
    ASSERT(cursor != NULL);
    ASSERT(path != NULL);
    char name[64];
    const char *start = path;
    while (node != NULL && *start != '\0') {
        const char *end = strchr(start, '/');
        size_t length = end != NULL ? (size_t)(end - start) : strlen(start);
        ASSERT(length > 0 && length < sizeof(name));
        memcpy(name, start, length);
        name[length] = '\0';
        node = iso20022_xml_child(cursor, node, name);
        start += length + (end != NULL ? 1 : 0);
    }
    return node;
}

static bool copy_text(const xmlNode *first, char *out, size_t size, bool *has_element) {
    ASSERT(out != NULL && size > 0);
    size_t length = 0;
    *has_element = false;
    for (const xmlNode *child = first; child != NULL; child = child->next) {
        if (child->type == XML_ELEMENT_NODE) *has_element = true;
        if (child->type != XML_TEXT_NODE && child->type != XML_CDATA_SECTION_NODE) continue;
        size_t piece = child->content != NULL ? strlen((const char *)child->content) : 0;
        if (piece >= size - length) return false;
        memcpy(out + length, child->content, piece);
        length += piece;
    }
    out[length] = '\0';
    ASSERT(length < size);
    return !*has_element;
}

bool iso20022_xml_text(struct iso20022_cursor *cursor, const xmlNode *node, char *out,
                       size_t size) {
    ASSERT(cursor != NULL && node != NULL);
    ASSERT(out != NULL && size > 1);
    const char *name = (const char *)node->name;
    bool has_element = false;
    if (!copy_text(node->children, out, size, &has_element)) {
        out[0] = '\0';
        iso20022_fail(cursor, ISO20022_REASON_FF01, has_element ? "not a value" : "too long",
                      name);
        return false;
    }
    if (out[0] == '\0') {
        iso20022_fail(cursor, ISO20022_REASON_FF01, "empty", name);
        return false;
    }
    return true;
}

bool iso20022_xml_field(struct iso20022_cursor *cursor, xmlNode *node, const char *path,
                        char *out, size_t size, bool required) {
    ASSERT(cursor != NULL && path != NULL);
    ASSERT(out != NULL && size > 1);
    out[0] = '\0';
    xmlNode *found = iso20022_xml_path(cursor, node, path);
    if (found == NULL) {
        if (required) iso20022_fail(cursor, ISO20022_REASON_FF01, "missing", path);
        return false;
    }
    return iso20022_xml_text(cursor, found, out, size);
}

bool iso20022_xml_attribute(const xmlNode *node, const char *name, char *out, size_t size) {
    ASSERT(node != NULL && name != NULL);
    ASSERT(out != NULL && size > 1);
    out[0] = '\0';
    for (const xmlAttr *attribute = node->properties; attribute != NULL;
         attribute = attribute->next) {
        if (attribute->ns != NULL) continue;
        if (!xmlStrEqual(attribute->name, (const xmlChar *)name)) continue;
        bool has_element = false;
        return copy_text(attribute->children, out, size, &has_element) && out[0] != '\0';
    }
    return false;
}
