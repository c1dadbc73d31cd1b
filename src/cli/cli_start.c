/*
 * cli_start.c: `khorgos start`, the network server (src/server/server.h).
 *
 *   khorgos start --data DIR [--addresses ADDR:PORT] [--clock manual]
 *
 * The cluster id it serves is the data directory's (format --cluster).
 *
 * It serves TigerBeetle 0.17's client protocol (docs/protocol.md, docs/server.md) in plaintext
 * on a loopback address, until SIGTERM or SIGINT.
 */
#include "cli/cli.h"
#include "server/server.h"

#include <stdio.h>
#include <string.h>

static int start_usage(const char *problem) {
    ASSERT(problem == NULL || problem[0] != '\0');
    FILE *stream = problem != NULL ? stderr : stdout;
    if (problem != NULL) fprintf(stderr, "khorgos start: %s\n", problem);
    fprintf(stream,
            "usage: khorgos start --data DIR [--addresses ADDR:PORT] [--clock manual]\n"
            "Serves TigerBeetle 0.17's client protocol on DIR, a formatted data directory,\n"
            "until SIGTERM or SIGINT (it finishes the requests in flight, then exits 0).\n"
            "  --addresses ADDR:PORT  where to listen (default " SERVER_ADDRESS_DEFAULT
            "; a bare PORT\n"
            "                         means 127.0.0.1); plaintext is served on a loopback\n"
            "                         address only (TLS is not built yet)\n"
            "  --clock manual         a manual clock from 2023-05-19T00:00:00Z\n"
            "Clients must name the cluster id DIR was formatted with (format --cluster).\n"
            "One key=value line per event on standard error; docs/server.md.\n");
    ASSERT(CLI_EXIT_USAGE != CLI_EXIT_OK);
    return problem != NULL ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}

static int start_parse(int argc, char **argv, struct server_options *options) {
    ASSERT(argc >= 1 && options != NULL);
    for (int index = 1; index < argc; index += 2) {
        const char *option = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (strcmp(option, "--help") == 0 || strcmp(option, "-h") == 0) return -1;
        if (value == NULL) return start_usage("an option needs a value");
        if (strcmp(option, "--data") == 0) {
            options->data_directory = value;
        } else if (strcmp(option, "--addresses") == 0) {
            if (strchr(value, ',') != NULL) return start_usage("one address only: one replica");
            options->address = value;
        } else if (strcmp(option, "--clock") == 0) {
            if (strcmp(value, "manual") != 0 && strcmp(value, "realtime") != 0) {
                return start_usage("--clock takes manual or realtime");
            }
            options->clock_manual = strcmp(value, "manual") == 0;
        } else {
            return start_usage("unknown option");
        }
    }
    if (options->data_directory == NULL) return start_usage("--data DIR is needed");
    ASSERT(options->address != NULL);
    return CLI_EXIT_OK;
}

int cli_start_main(int argc, char **argv) {
    ASSERT(argc >= 1 && argv != NULL);
    struct server_options options = {.address = SERVER_ADDRESS_DEFAULT};
    int parsed = start_parse(argc, argv, &options);
    if (parsed < 0) return start_usage(NULL);
    if (parsed != CLI_EXIT_OK) return parsed;
    ASSERT(options.data_directory != NULL);
    khorgos_error error = server_run(&options);
    if (error == KHORGOS_ERROR_ok) return CLI_EXIT_OK;
    if (error == KHORGOS_ERROR_invalid_argument) return CLI_EXIT_USAGE;
    if (error == KHORGOS_ERROR_corrupt || error == KHORGOS_ERROR_format_version) {
        return CLI_EXIT_REFUSED;
    }
    return CLI_EXIT_FAILED;
}
