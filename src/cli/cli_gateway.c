/* cli_gateway.c: the gateway's operations in the JSON front end (cli_gateway.h).
 *
 *   {"op":"submit_message","events":[{"xml":"<?xml ...>"}]}
 *     -> {"op":"submit_message","results":[{"status":"ACSC","transactions":1,"rejected":0,
 *                                            "reply_xml":"<?xml ...>"}]}   (and "reason")
 *   {"op":"get_message_status","events":[{"uetr":"..."}]}  (or {"msg_id","sender_bic"})
 *     -> as submit_message's results, with the payments' statuses now
 *   {"op":"get_statement","events":[{"bic":"HSBKKZKX","currency":"KZT","date":20230519,
 *                                    "message":"camt.053"}]}
 *     -> {"op":"get_statement","results":[{"xml":"<?xml ...>"}]}
 *
 * A line that cannot be read is answered with the front end's error line (docs/api.md,
 * "Errors") and changes nothing. The reply's XML is written as a JSON string: the XML this
 * gateway writes holds no control character but LF and TAB (CR is written &#13;), so its
 * JSON form is at most twice its length (a quote or LF becomes two bytes). */
#include "cli/cli_gateway.h"
#include "cli/cli_codec.h"
#include "client/client.h"
#include "khorgos_client.h"

#include <stdio.h>
#include <stdlib.h>

#define GATEWAY_ERROR_BYTES 200u
#define GATEWAY_XML_BYTES MAX(KHORGOS_MESSAGE_BYTES_MAX + 1u, KHORGOS_STATEMENT_BYTES_MAX)
/* The reply line: the largest of the two operations' with room for keys and the newline. */
#define GATEWAY_LINE_BYTES                                                                     \
    MAX(CLI_GATEWAY_MESSAGES_MAX * (2u * KHORGOS_MESSAGE_REPLY_BYTES_MAX + 256u),             \
        CLI_GATEWAY_STATEMENTS_MAX * (2u * KHORGOS_STATEMENT_BYTES_MAX + 256u)) + 256u

bool cli_gateway_reserve(struct cli_gateway *gateway, struct khorgos *engine) {
    ASSERT(gateway != NULL && engine != NULL);
    memset(gateway, 0, sizeof(*gateway));
    gateway->xml_capacity = GATEWAY_XML_BYTES;
    gateway->line_capacity = GATEWAY_LINE_BYTES;
    gateway->xml = malloc(gateway->xml_capacity);
    gateway->reply = malloc(KHORGOS_MESSAGE_REPLY_BYTES_MAX);
    gateway->line = malloc(gateway->line_capacity);
    khorgos_error error = khorgos_gateway_open(&gateway->gateway, engine);
    ASSERT(CLI_GATEWAY_MESSAGES_MAX >= 1);
    return error == KHORGOS_ERROR_ok && gateway->xml != NULL && gateway->reply != NULL &&
           gateway->line != NULL;
}

bool cli_gateway_reserve_remote(struct cli_gateway *gateway, struct khorgos_client *client) {
    ASSERT(gateway != NULL && client != NULL);
    memset(gateway, 0, sizeof(*gateway));
    gateway->client = client;
    gateway->xml_capacity = GATEWAY_XML_BYTES;
    gateway->line_capacity = GATEWAY_LINE_BYTES;
    gateway->xml = malloc(gateway->xml_capacity);
    gateway->reply = malloc(KHORGOS_MESSAGE_REPLY_BYTES_MAX);
    gateway->line = malloc(gateway->line_capacity);
    gateway->wire = malloc(KHORGOS_MESSAGE_BODY_BYTES_MAX);
    ASSERT(GATEWAY_XML_BYTES > KHORGOS_MESSAGE_BODY_BYTES_MAX);
    return gateway->xml != NULL && gateway->reply != NULL && gateway->line != NULL &&
           gateway->wire != NULL;
}

void cli_gateway_release(struct cli_gateway *gateway) {
    ASSERT(gateway != NULL);
    ASSERT(gateway->line_length <= gateway->line_capacity);
    khorgos_gateway_close(gateway->gateway);
    free(gateway->wire);
    free(gateway->xml);
    free(gateway->reply);
    free(gateway->line);
    memset(gateway, 0, sizeof(*gateway));
}

bool cli_gateway_line_is_candidate(const char *line, u32 length) {
    ASSERT(line != NULL || length == 0);
    ASSERT(length <= LIMIT_JSON_LINE_BYTES_MAX);
    return memmem(line, length, "\"submit_message\"", 16) != NULL ||
           memmem(line, length, "\"get_statement\"", 15) != NULL ||
           memmem(line, length, "\"get_message_status\"", 20) != NULL;
}

/* ----------------------------------------------------------------------------------------- */
/* Through a server: the wire's bodies and replies (docs/protocol.md, "ISO 20022 operations"). */

static khorgos_error remote_call(struct cli_gateway *gateway, u8 operation, const void *body,
                                 size_t body_size, void *reply, u32 capacity, u32 *reply_size) {
    ASSERT(gateway->client != NULL && reply_size != NULL);
    ASSERT(reply != NULL && capacity > 0);
    *reply_size = 0;
    if (body_size > KHORGOS_MESSAGE_BODY_BYTES_MAX) return KHORGOS_ERROR_too_many_events;
    struct khorgos_client_call call = {.operation = operation, .body = body,
                                       .body_size = (u32)body_size, .reply = reply,
                                       .reply_capacity = capacity};
    khorgos_error error = khorgos_client_execute(gateway->client, &call);
    if (error == KHORGOS_ERROR_ok) *reply_size = call.reply_size;
    return error;
}

/* A reply of submit_message or get_message_status: the result, then the XML into
 * gateway->reply, NUL-terminated. message_invalid when they do not agree. */
static khorgos_error remote_message_reply(struct cli_gateway *gateway, khorgos_error error,
                                          u32 size, struct khorgos_message_result *result) {
    ASSERT(gateway != NULL && result != NULL);
    ASSERT(CLIENT_MESSAGE_RESULT_BYTES == sizeof(*result));
    memset(result, 0, sizeof(*result));
    if (error != KHORGOS_ERROR_ok) return error;
    if (size < sizeof(*result)) return KHORGOS_ERROR_message_invalid;
    memcpy(result, gateway->wire, sizeof(*result));
    result->group_status[4] = '\0';
    result->reason[4] = '\0';
    if (result->reply_size != size - sizeof(*result) ||
        result->reply_size >= KHORGOS_MESSAGE_REPLY_BYTES_MAX ||
        memchr(gateway->wire + sizeof(*result), '\0', result->reply_size) != NULL) {
        return KHORGOS_ERROR_message_invalid;
    }
    memcpy(gateway->reply, gateway->wire + sizeof(*result), result->reply_size);
    gateway->reply[result->reply_size] = '\0';
    return KHORGOS_ERROR_ok;
}

khorgos_error cli_gateway_submit(struct cli_gateway *gateway, const char *xml, size_t size,
                                 struct khorgos_message_result *result) {
    ASSERT(gateway != NULL && result != NULL);
    ASSERT(gateway->gateway != NULL || gateway->client != NULL);
    if (gateway->client == NULL) {
        return khorgos_submit_message(gateway->gateway, xml, size, gateway->reply,
                                      KHORGOS_MESSAGE_REPLY_BYTES_MAX, result);
    }
    u32 reply_size = 0;
    khorgos_error error = remote_call(gateway, CLIENT_OPERATION_SUBMIT_MESSAGE, xml, size,
                                      gateway->wire, KHORGOS_MESSAGE_BODY_BYTES_MAX, &reply_size);
    return remote_message_reply(gateway, error, reply_size, result);
}

static khorgos_error gateway_message_status(struct cli_gateway *gateway,
                                            const struct khorgos_message_status_request *status,
                                            struct khorgos_message_result *result) {
    ASSERT(gateway != NULL && status != NULL);
    ASSERT(result != NULL);
    if (gateway->client == NULL) {
        return khorgos_get_message_status(gateway->gateway, status, gateway->reply,
                                          KHORGOS_MESSAGE_REPLY_BYTES_MAX, result);
    }
    u32 reply_size = 0;
    khorgos_error error =
        remote_call(gateway, CLIENT_OPERATION_GET_MESSAGE_STATUS, status, sizeof(*status),
                    gateway->wire, KHORGOS_MESSAGE_BODY_BYTES_MAX, &reply_size);
    return remote_message_reply(gateway, error, reply_size, result);
}

/* The statement into gateway->xml, NUL-terminated. */
static khorgos_error gateway_statement(struct cli_gateway *gateway,
                                       const struct khorgos_statement_request *statement,
                                       size_t *size) {
    ASSERT(gateway != NULL && statement != NULL);
    ASSERT(size != NULL);
    if (gateway->client == NULL) {
        return khorgos_get_statement(gateway->gateway, statement, gateway->xml,
                                     gateway->xml_capacity, size);
    }
    u32 reply_size = 0;
    khorgos_error error =
        remote_call(gateway, CLIENT_OPERATION_GET_STATEMENT, statement, sizeof(*statement),
                    gateway->xml, gateway->xml_capacity - 1, &reply_size);
    gateway->xml[reply_size] = '\0';
    *size = reply_size;
    return error;
}

/* ----------------------------------------------------------------------------------------- */
/* Reading the request.                                                                       */

enum gateway_op { GATEWAY_SUBMIT = 1, GATEWAY_STATEMENT = 2, GATEWAY_STATUS = 3 };

struct gateway_request {
    const char *text;
    const struct cli_json_token *tokens;
    enum gateway_op op_code;
    u32 events;            /* the token of the events array */
    char op[LIMIT_JSON_NAME_BYTES_MAX];
    enum cli_codec_error_code code;
    char message[GATEWAY_ERROR_BYTES];
};

static bool request_refuse(struct gateway_request *request, enum cli_codec_error_code code,
                           const char *message) {
    ASSERT(request != NULL && message != NULL);
    ASSERT(code < CLI_CODEC_ERROR_COUNT);
    request->code = code;
    snprintf(request->message, sizeof(request->message), "%s", message);
    return false;
}

/* The op and the events array of a parsed line; false (not mine) when op is another one. */
static bool request_op(struct gateway_request *request, bool *mine) {
    ASSERT(request != NULL && mine != NULL);
    const struct cli_json_token *tokens = request->tokens;
    *mine = false;
    if (tokens[0].type != CLI_JSON_OBJECT) return false;
    u32 events = 0;
    bool op_seen = false, unknown = false;
    for (u32 key = 1; key < tokens[0].end; key = tokens[key + 1].end) {
        const struct cli_json_token *value = &tokens[key + 1];
        if (cli_json_string_equals(request->text, &tokens[key], "op")) {
            if (value->type != CLI_JSON_STRING) return false;
            static const char *const names[] = {"", "submit_message", "get_statement",
                                                "get_message_status"};
            for (u32 op = GATEWAY_SUBMIT; op <= GATEWAY_STATUS; op++) {
                if (cli_json_string_equals(request->text, value, names[op])) {
                    request->op_code = (enum gateway_op)op;
                    snprintf(request->op, sizeof(request->op), "%s", names[op]);
                }
            }
            if (request->op_code == 0) return false;
            op_seen = true;
        } else if (cli_json_string_equals(request->text, &tokens[key], "events")) {
            events = key + 1;
        } else {
            unknown = true;
        }
    }
    if (!op_seen) return false;
    *mine = true;
    if (events == 0 || unknown) {
        return request_refuse(request, CLI_CODEC_ERROR_unknown_field,
                              "the request takes \"op\" and \"events\" only");
    }
    request->events = events;
    ASSERT(events < tokens[0].end);
    return true;
}

/* ----------------------------------------------------------------------------------------- */
/* submit_message.                                                                            */

static void reply_begin(struct cli_json_writer *writer, const char *op) {
    ASSERT(writer != NULL && op != NULL);
    ASSERT(writer->length == 0);
    cli_json_object_begin(writer);
    cli_json_key(writer, "op");
    cli_json_string_literal(writer, op);
    cli_json_key(writer, "results");
    cli_json_array_begin(writer);
}

static void reply_end(struct cli_json_writer *writer) {
    ASSERT(writer != NULL);
    cli_json_array_end(writer);
    cli_json_object_end(writer);
    cli_json_raw(writer, "\n", 1);
    ASSERT(!writer->overflow);
}

/* One result: the group's status and reason, the counts, the reply's XML. */
static void result_encode(struct cli_json_writer *writer,
                          const struct khorgos_message_result *result, const char *reply) {
    ASSERT(writer != NULL && result != NULL);
    ASSERT(reply != NULL && strlen(reply) == result->reply_size);
    cli_json_object_begin(writer);
    cli_json_key(writer, "status");
    cli_json_string_literal(writer, result->group_status);
    if (result->reason[0] != '\0') {
        cli_json_key(writer, "reason");
        cli_json_string_literal(writer, result->reason);
    }
    cli_json_key(writer, "transactions");
    cli_json_integer(writer, result->transaction_count);
    cli_json_key(writer, "rejected");
    cli_json_integer(writer, result->rejected_count);
    cli_json_key(writer, "reply_xml");
    cli_json_string(writer, reply, result->reply_size);
    cli_json_object_end(writer);
}

/* The xml of each event, checked before anything is submitted. */
static bool submit_check(struct gateway_request *request) {
    ASSERT(request != NULL);
    const struct cli_json_token *tokens = request->tokens;
    const struct cli_json_token *events = &tokens[request->events];
    ASSERT(request->op_code == GATEWAY_SUBMIT);
    if (events->type != CLI_JSON_ARRAY) {
        return request_refuse(request, CLI_CODEC_ERROR_wrong_type, "\"events\" is an array");
    }
    if (events->children > CLI_GATEWAY_MESSAGES_MAX) {
        return request_refuse(request, CLI_CODEC_ERROR_too_many_events,
                              "submit_message takes at most 8 messages a line");
    }
    for (u32 event = request->events + 1; event < events->end; event = tokens[event].end) {
        const struct cli_json_token *object = &tokens[event];
        if (object->type != CLI_JSON_OBJECT || object->children != 1 ||
            !cli_json_string_equals(request->text, &tokens[event + 1], "xml")) {
            return request_refuse(request, CLI_CODEC_ERROR_unknown_field,
                                  "a message is {\"xml\": \"...\"}");
        }
        if (tokens[event + 2].type != CLI_JSON_STRING) {
            return request_refuse(request, CLI_CODEC_ERROR_wrong_type, "\"xml\" is a string");
        }
    }
    return true;
}

static khorgos_error submit_serve(struct cli_gateway *gateway, struct gateway_request *request,
                                  struct cli_json_writer *writer) {
    ASSERT(gateway != NULL && request != NULL);
    ASSERT(writer != NULL);
    const struct cli_json_token *tokens = request->tokens;
    reply_begin(writer, request->op);
    for (u32 event = request->events + 1; event < tokens[request->events].end;
         event = tokens[event].end) {
        int decoded = cli_json_string_decode(request->text, &tokens[event + 2], gateway->xml,
                                             KHORGOS_MESSAGE_BYTES_MAX + 1u);
        /* Longer than a message may be: the reader refuses it by its size, unread. */
        size_t size = decoded < 0 ? KHORGOS_MESSAGE_BYTES_MAX + 1u : (size_t)decoded;
        struct khorgos_message_result result;
        khorgos_error error = cli_gateway_submit(gateway, gateway->xml, size, &result);
        if (error != KHORGOS_ERROR_ok) return error;
        result_encode(writer, &result, gateway->reply);
    }
    reply_end(writer);
    return KHORGOS_ERROR_ok;
}

/* ----------------------------------------------------------------------------------------- */
/* get_statement.                                                                             */

static bool statement_field(struct gateway_request *request, u32 key,
                            struct khorgos_statement_request *statement) {
    ASSERT(request != NULL && statement != NULL);
    const char *text = request->text;
    const struct cli_json_token *name = &request->tokens[key], *value = name + 1;
    ASSERT(name->type == CLI_JSON_STRING);
    char buffer[16] = "";
    int length = value->type == CLI_JSON_STRING
                     ? cli_json_string_decode(text, value, buffer, sizeof(buffer) - 1)
                     : -1;
    if (length >= 0) buffer[length] = '\0';
    u128 number = 0;
    if (cli_json_string_equals(text, name, "bic")) {
        if (length != 8 && length != 11) {
            return request_refuse(request, CLI_CODEC_ERROR_wrong_type, "\"bic\": 8 or 11 letters");
        }
        memcpy(statement->bic, buffer, (size_t)length + 1);
    } else if (cli_json_string_equals(text, name, "currency")) {
        const struct khorgos_currency *currency = length == 3 ? khorgos_currency_by_letters(buffer)
                                                              : NULL;
        if (currency == NULL) {
            return request_refuse(request, CLI_CODEC_ERROR_unknown_currency,
                                  "\"currency\": ISO 4217 letters of the currency table");
        }
        statement->currency = currency->numeric;
    } else if (cli_json_string_equals(text, name, "message")) {
        bool camt053 = length == 8 && strcmp(buffer, "camt.053") == 0;
        bool camt054 = length == 8 && strcmp(buffer, "camt.054") == 0;
        if (!camt053 && !camt054) {
            return request_refuse(request, CLI_CODEC_ERROR_unknown_name,
                                  "\"message\": \"camt.053\" or \"camt.054\"");
        }
        statement->kind = camt053 ? KHORGOS_STATEMENT_CAMT_053 : KHORGOS_STATEMENT_CAMT_054;
    } else if (cli_json_string_equals(text, name, "date")) {
        if (cli_json_read_integer(text, value, 99991231u, &number) != CLI_JSON_NUMBER_OK) {
            return request_refuse(request, CLI_CODEC_ERROR_out_of_range, "\"date\": YYYYMMDD");
        }
        statement->date = (u32)number;
    } else if (cli_json_string_equals(text, name, "timestamp_min") ||
               cli_json_string_equals(text, name, "timestamp_max")) {
        if (cli_json_read_unsigned(text, value, U64_MAX, &number) != CLI_JSON_NUMBER_OK) {
            return request_refuse(request, CLI_CODEC_ERROR_out_of_range,
                                  "a timestamp is a decimal string of nanoseconds");
        }
        bool minimum = cli_json_string_equals(text, name, "timestamp_min");
        *(minimum ? &statement->timestamp_min : &statement->timestamp_max) = (u64)number;
    } else {
        return request_refuse(request, CLI_CODEC_ERROR_unknown_field,
                              "a statement takes bic, currency, message, date, timestamp_min "
                              "and timestamp_max");
    }
    return true;
}

/* The one event of get_statement or get_message_status: its object's token, or 0 (refused). */
static u32 request_one_event(struct gateway_request *request) {
    ASSERT(request != NULL);
    ASSERT(request->op_code == GATEWAY_STATEMENT || request->op_code == GATEWAY_STATUS);
    const struct cli_json_token *events = &request->tokens[request->events];
    if (events->type != CLI_JSON_ARRAY || events->children != 1 ||
        request->tokens[request->events + 1].type != CLI_JSON_OBJECT) {
        request_refuse(request, CLI_CODEC_ERROR_too_many_events,
                       "the operation takes one event, an object");
        return 0;
    }
    return request->events + 1;
}

static bool statement_read(struct gateway_request *request,
                           struct khorgos_statement_request *statement) {
    ASSERT(request != NULL && statement != NULL);
    ASSERT(CLI_GATEWAY_STATEMENTS_MAX == 1);
    memset(statement, 0, sizeof(*statement));
    u32 object = request_one_event(request);
    if (object == 0) return false;
    for (u32 key = object + 1; key < request->tokens[object].end;
         key = request->tokens[key + 1].end) {
        if (!statement_field(request, key, statement)) return false;
    }
    if (statement->bic[0] == '\0' || statement->currency == 0 || statement->kind == 0) {
        return request_refuse(request, CLI_CODEC_ERROR_unknown_field,
                              "a statement needs bic, currency and message");
    }
    return true;
}

static khorgos_error statement_serve(struct cli_gateway *gateway,
                                     const struct khorgos_statement_request *statement,
                                     struct cli_json_writer *writer,
                                     struct gateway_request *request) {
    ASSERT(gateway != NULL && statement != NULL);
    ASSERT(writer != NULL && request != NULL);
    size_t size = 0;
    khorgos_error error = gateway_statement(gateway, statement, &size);
    if (error != KHORGOS_ERROR_ok) return error;
    reply_begin(writer, request->op);
    cli_json_object_begin(writer);
    cli_json_key(writer, "xml");
    cli_json_string(writer, gateway->xml, (u32)size);
    cli_json_object_end(writer);
    reply_end(writer);
    return KHORGOS_ERROR_ok;
}

/* ----------------------------------------------------------------------------------------- */
/* get_message_status.                                                                        */

static bool status_field(struct gateway_request *request, u32 key,
                         struct khorgos_message_status_request *status) {
    ASSERT(request != NULL && status != NULL);
    const char *text = request->text;
    const struct cli_json_token *name = &request->tokens[key], *value = name + 1;
    char *out = NULL;
    u32 capacity = 0;
    if (cli_json_string_equals(text, name, "uetr")) {
        out = status->uetr, capacity = sizeof(status->uetr);
    } else if (cli_json_string_equals(text, name, "msg_id")) {
        out = status->message_id, capacity = sizeof(status->message_id);
    } else if (cli_json_string_equals(text, name, "sender_bic")) {
        out = status->sender_bic, capacity = sizeof(status->sender_bic);
    } else {
        return request_refuse(request, CLI_CODEC_ERROR_unknown_field,
                              "a status request takes uetr, or msg_id and sender_bic");
    }
    int length = value->type == CLI_JSON_STRING
                     ? cli_json_string_decode(text, value, out, capacity - 1)
                     : -1;
    if (length <= 0) {
        return request_refuse(request, CLI_CODEC_ERROR_wrong_type,
                              "uetr, msg_id and sender_bic are strings of their lengths");
    }
    out[length] = '\0';
    ASSERT((u32)length < capacity);
    return true;
}

static bool status_read(struct gateway_request *request,
                        struct khorgos_message_status_request *status) {
    ASSERT(request != NULL && status != NULL);
    ASSERT(request->op_code == GATEWAY_STATUS);
    memset(status, 0, sizeof(*status));
    u32 object = request_one_event(request);
    if (object == 0) return false;
    for (u32 key = object + 1; key < request->tokens[object].end;
         key = request->tokens[key + 1].end) {
        if (!status_field(request, key, status)) return false;
    }
    return true;
}

static khorgos_error status_serve(struct cli_gateway *gateway,
                                  const struct khorgos_message_status_request *status,
                                  struct cli_json_writer *writer,
                                  struct gateway_request *request) {
    ASSERT(gateway != NULL && status != NULL);
    ASSERT(writer != NULL && request != NULL);
    struct khorgos_message_result result;
    khorgos_error error = gateway_message_status(gateway, status, &result);
    if (error != KHORGOS_ERROR_ok) return error;
    reply_begin(writer, request->op);
    result_encode(writer, &result, gateway->reply);
    reply_end(writer);
    return KHORGOS_ERROR_ok;
}

/* ----------------------------------------------------------------------------------------- */
/* The line.                                                                                  */

static bool gateway_stops(khorgos_error error) {
    ASSERT(error < KHORGOS_ERROR_COUNT);
    ASSERT(KHORGOS_ERROR_ok == 0);
    return error == KHORGOS_ERROR_io || error == KHORGOS_ERROR_no_space ||
           error == KHORGOS_ERROR_stopped || error == KHORGOS_ERROR_timeout ||
           error == KHORGOS_ERROR_evicted || error == KHORGOS_ERROR_client_closed ||
           error == KHORGOS_ERROR_message_invalid;
}

static void gateway_error_line(struct cli_json_writer *writer,
                               const struct gateway_request *request,
                               const char *code, const char *message, u64 line_number) {
    ASSERT(writer != NULL && request != NULL);
    ASSERT(code != NULL && message != NULL);
    cli_json_writer_init(writer, writer->buffer, writer->capacity);
    bool encoded = cli_codec_error_encode(writer, request->op, (u32)strlen(request->op), code,
                                          message, line_number);
    ASSERT(encoded);
}

enum cli_gateway_outcome cli_gateway_line(struct cli_gateway *gateway,
                                          struct cli_json_reader *reader, const char *line,
                                          u32 length, u64 line_number, khorgos_error *error) {
    ASSERT(gateway != NULL && reader != NULL);
    ASSERT(error != NULL && line_number >= 1);
    *error = KHORGOS_ERROR_ok;
    if (cli_json_parse(reader, line, length) != CLI_JSON_OK) return CLI_GATEWAY_NOT_MINE;
    struct gateway_request request = {.text = line, .tokens = reader->tokens};
    bool mine = false;
    bool readable = request_op(&request, &mine);
    if (!mine) return CLI_GATEWAY_NOT_MINE;
    struct cli_json_writer writer;
    cli_json_writer_init(&writer, gateway->line, gateway->line_capacity);
    struct khorgos_statement_request statement;
    struct khorgos_message_status_request status;
    if (readable) {
        readable = request.op_code == GATEWAY_STATEMENT ? statement_read(&request, &statement)
                   : request.op_code == GATEWAY_STATUS  ? status_read(&request, &status)
                                                        : submit_check(&request);
    }
    if (!readable) {
        gateway_error_line(&writer, &request, cli_codec_error_name(request.code),
                           request.message, line_number);
    } else {
        *error = request.op_code == GATEWAY_STATEMENT
                     ? statement_serve(gateway, &statement, &writer, &request)
                 : request.op_code == GATEWAY_STATUS
                     ? status_serve(gateway, &status, &writer, &request)
                     : submit_serve(gateway, &request, &writer);
        if (gateway_stops(*error)) return CLI_GATEWAY_FAILED;
        if (*error != KHORGOS_ERROR_ok) {
            gateway_error_line(&writer, &request, khorgos_error_name(*error),
                               khorgos_strerror(*error), line_number);
            *error = KHORGOS_ERROR_ok;
        }
    }
    gateway->line_length = writer.length;
    return CLI_GATEWAY_ANSWERED;
}
