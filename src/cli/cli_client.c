/*
 * cli_client.c: `khorgos client`, apply's JSON lines sent to a server.
 *
 *   khorgos client --addresses ADDR[,ADDR...] [--cluster ID] [--timeout SECONDS]
 *                  [--tls-cert FILE --tls-key FILE --tls-ca FILE]
 *
 * The same front end as apply (cli_apply_serve: the JSON codec, the batching, the replies in
 * line order) with another backend: each request's binary records go to the server through the
 * C client (include/khorgos_client.h), one request per message, and the reply's records come
 * back to the same encoder. So a line gets the same reply as from `khorgos apply` on the
 * server's engine. The ledger operations travel as TigerBeetle's (their codes and create-result
 * status numbers), so they are translated here with the server's own tables; the settlement
 * operations and advance_clock travel with Khorgos's codes, and the ISO 20022 operations go to
 * the server's gateway (cli_gateway.c, docs/protocol.md).
 */
#include "cli/cli.h"
#include "cli/cli_gateway.h"
#include "khorgos_client.h"
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>


struct client_backend {
    struct khorgos_client *client;
    khorgos_error failure; /* why the server could not be used */
};

static int client_usage(const char *problem) {
    ASSERT(problem == NULL || problem[0] != '\0');
    FILE *stream = problem != NULL ? stderr : stdout;
    if (problem != NULL) fprintf(stderr, "khorgos client: %s\n", problem);
    fprintf(stream,
            "usage: khorgos client --addresses ADDR[,ADDR...] [--cluster ID] [--timeout S]\n"
            "                      [--tls-cert FILE --tls-key FILE --tls-ca FILE]\n"
            "  JSON lines on standard input, one reply line per request on standard output,\n"
            "  as `khorgos apply` writes them, executed by the server `khorgos start` runs.\n"
            "  --addresses ADDR:PORT,...  the server's addresses (a bare PORT is 127.0.0.1);\n"
            "                             the client moves to the next one when one fails\n"
            "  --cluster ID               the server's cluster id (default 0)\n"
            "  --timeout S                seconds a request may wait for its answer (default "
            "60)\n"
            "  --tls-cert F --tls-key F --tls-ca F  mutual TLS 1.3: this client's certificate\n"
            "                             and key, and the CA the server's certificate must be\n"
            "                             signed by (for the address's IP); all three or none\n"
            "  docs/clients.md.\n");
    ASSERT(CLI_EXIT_USAGE != CLI_EXIT_OK);
    return problem != NULL ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}

/* The wire operation of an engine operation: TigerBeetle's code for the ledger ones. */
static u8 client_wire_operation(u32 operation) {
    ASSERT(khorgos_operation_name(operation) != NULL);
    for (u32 wire = KHORGOS_CLIENT_LOOKUP_ACCOUNTS; wire <= KHORGOS_CLIENT_CREATE_TRANSFERS;
         wire++) {
        if (server_operation_to_engine((u8)wire) == operation) return (u8)wire;
    }
    ASSERT(operation >= KHORGOS_OPERATION_CREATE_PARTICIPANTS && operation <= 255u);
    return (u8)operation;
}

/* The engine's status of a create result in TigerBeetle's numbers (translated back). */
static u32 client_status_from_wire(bool accounts, u32 wire) {
    u32 count = accounts ? KHORGOS_CREATE_ACCOUNT_STATUS_COUNT
                         : KHORGOS_CREATE_TRANSFER_STATUS_COUNT;
    for (u32 status = 0; status < count; status++) {
        u32 number = accounts ? server_account_status_to_wire(status)
                              : server_transfer_status_to_wire(status);
        if (number == wire) return status;
    }
    ASSERT(count > 0);
    return U32_MAX; /* unknown: the encoder names none */
}

static void client_results_from_wire(struct khorgos_request *request) {
    ASSERT(request->error == KHORGOS_ERROR_ok);
    bool accounts = request->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS;
    if (!accounts && request->operation != KHORGOS_OPERATION_CREATE_TRANSFERS) return;
    ASSERT(request->reply_size % sizeof(struct khorgos_create_result) == 0);
    u8 *bytes = request->reply;
    for (u32 offset = 0; offset < request->reply_size; offset += 16) {
        struct khorgos_create_result result;
        memcpy(&result, bytes + offset, sizeof(result));
        result.status = client_status_from_wire(accounts, result.status);
        memcpy(bytes + offset, &result, sizeof(result));
    }
}

/* A failure of the connection or the session, rather than the engine's refusal. */
static bool client_error_stops(khorgos_error error) {
    ASSERT((u32)error < KHORGOS_ERROR_COUNT);
    return error == KHORGOS_ERROR_timeout || error == KHORGOS_ERROR_evicted ||
           error == KHORGOS_ERROR_client_closed || error == KHORGOS_ERROR_message_invalid ||
           error == KHORGOS_ERROR_reply_too_small;
}

static khorgos_error client_execute(void *context, struct khorgos_request *requests,
                                    u32 count) {
    struct client_backend *backend = context;
    ASSERT(backend->client != NULL && count > 0);
    for (u32 index = 0; index < count; index++) {
        struct khorgos_request *request = &requests[index];
        struct khorgos_client_call sent = {
            .operation = client_wire_operation(request->operation),
            .body = request->body, .body_size = request->body_size,
            .reply = request->reply, .reply_capacity = request->reply_capacity};
        khorgos_error error = khorgos_client_execute(backend->client, &sent);
        if (client_error_stops(error)) {
            backend->failure = error;
            return error;
        }
        request->error = error;
        request->reply_size = error == KHORGOS_ERROR_ok ? sent.reply_size : 0;
        request->timestamp = sent.timestamp;
        if (error == KHORGOS_ERROR_ok) client_results_from_wire(request);
    }
    return KHORGOS_ERROR_ok;
}

static khorgos_error client_clock_advance(void *context, u64 nanoseconds, u64 *now_ns) {
    struct client_backend *backend = context;
    ASSERT(backend->client != NULL && now_ns != NULL);
    u64 now = 0;
    struct khorgos_client_call sent = {.operation = KHORGOS_CLIENT_ADVANCE_CLOCK,
                                          .body = &nanoseconds, .body_size = sizeof(nanoseconds),
                                          .reply = &now, .reply_capacity = sizeof(now)};
    khorgos_error error = khorgos_client_execute(backend->client, &sent);
    if (client_error_stops(error)) backend->failure = error;
    *now_ns = now;
    return error;
}

static void client_failed(void *context, khorgos_error error) {
    struct client_backend *backend = context;
    ASSERT(backend != NULL && error != KHORGOS_ERROR_ok);
    fprintf(stderr, "khorgos client: stopped: %s (%s); no further replies\n",
            khorgos_strerror(error), khorgos_error_name(error));
}

/* Returns -1 when the options are good, else the exit status. */
static int client_parse(int argc, char **argv, struct khorgos_client_options *options) {
    ASSERT(argc >= 1 && options != NULL);
    for (int index = 1; index < argc; index += 2) {
        const char *option = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (strcmp(option, "--help") == 0 || strcmp(option, "-h") == 0) return client_usage(NULL);
        if (value == NULL) return client_usage("an option needs a value");
        const char *problem = "unknown option";
        if (cli_client_option(option, value, options, &problem) != 1) {
            return client_usage(problem);
        }
    }
    const char *problem = cli_client_options_finish(options);
    return problem != NULL ? client_usage(problem) : -1;
}

int cli_client_main(int argc, char **argv) {
    ASSERT(argc >= 1 && argv != NULL);
    struct khorgos_client_options options = {0};
    int parsed = client_parse(argc, argv, &options);
    if (parsed >= 0) return parsed;
    struct client_backend local = {0};
    struct khorgos_client_options plaintext = {.addresses = options.addresses};
    khorgos_error error = khorgos_client_open(&local.client, &plaintext); /* the addresses */
    khorgos_client_close(local.client);
    local.client = NULL;
    if (error == KHORGOS_ERROR_invalid_argument) {
        return client_usage("--addresses takes HOST:PORT[,HOST:PORT...] (IPv4) or PORT");
    }
    if (error == KHORGOS_ERROR_ok) error = khorgos_client_open(&local.client, &options);
    if (error == KHORGOS_ERROR_invalid_argument) {
        fprintf(stderr,
                "khorgos client: the TLS files do not load (%s, %s, %s): a PEM certificate, "
                "its key and the CA are needed\n",
                options.tls_cert, options.tls_key, options.tls_ca);
        return CLI_EXIT_USAGE;
    }
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos client: cannot start the client: %s\n", khorgos_strerror(error));
        return CLI_EXIT_FAILED;
    }
    struct cli_gateway gateway;
    if (!cli_gateway_reserve_remote(&gateway, local.client)) {
        fprintf(stderr, "khorgos client: out of memory for the gateway's buffers\n");
        cli_gateway_release(&gateway);
        khorgos_client_close(local.client);
        return CLI_EXIT_FAILED;
    }
    struct cli_apply_backend backend = {.name = "client", .context = &local,
                                        .execute = client_execute,
                                        .clock_advance = client_clock_advance,
                                        .failed = client_failed, .gateway = &gateway};
    int exit_status = cli_apply_serve(&backend);
    cli_gateway_release(&gateway);
    khorgos_client_close(local.client);
    ASSERT(exit_status == CLI_EXIT_OK || exit_status == CLI_EXIT_FAILED);
    return exit_status;
}
