/*
 * cli_gateway.h: the ISO 20022 gateway's operations in the JSON front end (`apply`):
 * submit_message, get_message_status and get_statement (docs/api.md, "ISO 20022 messages").
 * Their bodies are XML in JSON strings, not records, so they are decoded here rather than by
 * the record tables of cli_codec.c; apply answers them at once (a barrier, like
 * advance_clock), through the C interface of include/khorgos_iso20022.h, and `khorgos client`
 * through a server's, over the wire.
 */
#ifndef KHORGOS_CLI_GATEWAY_H
#define KHORGOS_CLI_GATEWAY_H

#include "base/base.h"
#include "cli/cli_json.h"
#include "khorgos_iso20022.h"

/* Messages in one submit_message line: each reply may need 96 KiB of XML, so 8 keep a reply
 * line under 2 MiB. get_statement takes one statement a line (up to 3 MiB of XML). */
#define CLI_GATEWAY_MESSAGES_MAX 8u
#define CLI_GATEWAY_STATEMENTS_MAX 1u

struct khorgos_client;
struct cli_gateway {
    struct khorgos_gateway *gateway; /* in this process; NULL for a server's */
    struct khorgos_client *client;   /* a server's (docs/protocol.md); NULL for the local one */
    u8 *wire;                        /* a server's reply, KHORGOS_MESSAGE_BODY_BYTES_MAX */
    char *xml;          /* a decoded message (1 MiB and one byte) or a statement */
    u32 xml_capacity;
    char *reply;        /* one message's reply */
    char *line;         /* the reply line */
    u32 line_capacity;
    u32 line_length;
};

/* Reserves the buffers; false when memory is short. */
bool cli_gateway_reserve(struct cli_gateway *gateway, struct khorgos *engine);
/* The same operations through a server (`khorgos client`, `khorgos message --addresses`):
 * each is one request of its own (submit_message, get_message_status, get_statement), answered
 * by the server's gateway as the client's identity. */
bool cli_gateway_reserve_remote(struct cli_gateway *gateway, struct khorgos_client *client);
void cli_gateway_release(struct cli_gateway *gateway);

/* Whether the line may be a gateway operation (a fast test on its bytes, before any parse). */
bool cli_gateway_line_is_candidate(const char *line, u32 length);

enum cli_gateway_outcome {
    CLI_GATEWAY_NOT_MINE = 0, /* not a gateway operation: decode it as usual */
    CLI_GATEWAY_ANSWERED = 1, /* line[0, line_length) is the reply line, newline included */
    CLI_GATEWAY_FAILED = 2,   /* the engine stopped: *error says why; nothing may be written */
};

/* Reads one line; when it is a gateway operation, serves it and writes its reply
 * line (or its error line) into gateway->line. */
enum cli_gateway_outcome cli_gateway_line(struct cli_gateway *gateway,
                                          struct cli_json_reader *reader, const char *line,
                                          u32 length, u64 line_number, khorgos_error *error);

/* Submits one message and writes its reply to gateway->reply, NUL-terminated
 * (khorgos_submit_message, here or on the server). */
khorgos_error cli_gateway_submit(struct cli_gateway *gateway, const char *xml, size_t size,
                                 struct khorgos_message_result *result);

#endif /* KHORGOS_CLI_GATEWAY_H */
