/*
 * cli: the `khorgos` command. main.c holds the table of subcommands; each subcommand lives in
 * its own file and has the signature below, returning the process exit status.
 *
 *   apply    JSON lines on stdin -> one reply line per request on stdout   (cli_apply.c)
 *   demo     a short tour of the ledger in the region's currencies            (cli_demo.c)
 *   format   create a data directory                                       (cli_storage.c)
 *            a replica's identity (--cluster, --replica, --replica-count)  (cli_cluster.c)
 *   check    verify a data directory's checksums and chain                 (cli_storage.c)
 *   inspect  print journal records readably                                (cli_storage.c)
 *   benchmark  the engine through its C API on bench/bench_workload.h     (cli_benchmark.c)
 *   simulate   a day of trade through each settlement design, the report  (cli_simulate.c)
 *   start    the network server: TigerBeetle's client protocol            (cli_start.c)
 *   message  ISO 20022 files through the gateway, replies beside them    (cli_message.c)
 *   client   apply's JSON lines, sent to a server through the C client    (cli_client.c)
 *   status   each replica's role, leader, term, indexes and lag (/metrics) (cli_status.c)
 *
 * The JSON front end (cli_json.c: reader and writer; cli_codec.c: requests and replies to and
 * from the engine's binary records) is part of this layer: JSON is one front end, not the
 * core's data model.
 */
#ifndef KHORGOS_CLI_H
#define KHORGOS_CLI_H

#include "khorgos.h"

#include <stdbool.h>

/* Exit statuses shared by every subcommand (main.c), each distinct so a script can tell them
 * apart: 2 is the usage error's, so a data directory's state needs codes of its own. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILED 1     /* a failure while working: engine, input, output, I/O */
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_REPAIRABLE 3 /* check: open repairs or works around it, losing nothing */
#define CLI_EXIT_REFUSED 4    /* check, apply: damage to acknowledged data, or another format
                                 version; open refuses and changes nothing */
#define CLI_EXIT_MESSAGE_REFUSED 5 /* message: a message was refused (its reply says why) */

/* Whether an engine's or a check's error is CLI_EXIT_REFUSED's: damage to acknowledged data
 * (corrupt) or another format version; any other failure is CLI_EXIT_FAILED's. */
static inline bool cli_error_refused(khorgos_error error) {
    return error == KHORGOS_ERROR_corrupt || error == KHORGOS_ERROR_format_version;
}

int cli_apply_main(int argc, char **argv);
int cli_demo_main(int argc, char **argv);
int cli_format_main(int argc, char **argv);
int cli_check_main(int argc, char **argv);
int cli_inspect_main(int argc, char **argv);
int cli_benchmark_main(int argc, char **argv);
int cli_simulate_main(int argc, char **argv);
int cli_start_main(int argc, char **argv);
int cli_message_main(int argc, char **argv);

/* cli_help.c: the manual pages. Whether --help or -h is among argv[1..]; and prints the page
 * of `command` ("khorgos" for the command itself), returning the exit status. */
bool cli_help_wanted(int argc, char **argv);
int cli_help_print(const char *command);

/* format's replica options (cli_cluster.c): takes --cluster, --replica and --replica-count out
 * of argv (the rest stay, in order); -1 when they are good (*clustered: they were given), else
 * the exit status, usage printed. Then, once the directory is formatted, writes its identity;
 * on failure removes what format made and returns the exit status. */
struct cluster_identity;
int cli_format_cluster_options(int *argc, char **argv, struct cluster_identity *identity,
                               bool *clustered);
int cli_format_cluster_write(const char *data, const struct cluster_identity *identity);

int cli_client_main(int argc, char **argv);
/* One option of a server's client (--addresses, --cluster, --timeout, --tls-cert, --tls-key,
 * --tls-ca; `khorgos client` and `khorgos message --addresses`) into `options`: 1 taken, 0 not
 * one of them, -1 a bad value (*problem says why). */
struct khorgos_client_options;
int cli_client_option(const char *option, const char *value,
                      struct khorgos_client_options *options, const char **problem);
/* After the options: NULL when they make a client (the default timeout set), else why not. */
const char *cli_client_options_finish(struct khorgos_client_options *options);
int cli_status_main(int argc, char **argv);
int cli_membership_main(int argc, char **argv);

/* What executes apply's requests: the engine in this process (apply) or a server (client).
 * execute is khorgos_execute's contract; a result other than ok stops the command (after
 * `failed` said why). clock_advance moves a manual clock by `nanoseconds` and sets *now_ns:
 * ok, clock_not_manual, invalid_argument (past 2^64 - 1), or a failure that stops. */
struct cli_gateway;
struct cli_apply_backend {
    const char *name; /* the subcommand, for messages */
    void *context;
    khorgos_error (*execute)(void *context, struct khorgos_request *requests, uint32_t count);
    khorgos_error (*clock_advance)(void *context, uint64_t nanoseconds, uint64_t *now_ns);
    void (*failed)(void *context, khorgos_error error);
    /* The ISO 20022 operations (cli_gateway.c), served in this process (apply) or by the
     * server's gateway (client). */
    struct cli_gateway *gateway;
};
/* Reads JSON lines on standard input and answers them through the backend, as apply does;
 * returns the exit status (0 at the end of the input, 1 when the backend or output failed). */
int cli_apply_serve(const struct cli_apply_backend *backend);

#endif /* KHORGOS_CLI_H */
