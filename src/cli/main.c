/*
 * main.c: the `khorgos` command. A table of subcommands, each a function of cli.h in its own
 * file; main finds the one named by the first argument and hands it the rest.
 *
 * Exit statuses (every subcommand, cli.h): 0 success; 1 a failure while working (engine,
 * input or output); 2 a usage error (unknown subcommand or option), with the usage on
 * standard error; 3 (check) a data directory that open repairs or works around without losing
 * an acknowledged record; 4 (check, apply) a data directory open refuses: damage to
 * acknowledged data, or another format version (docs/storage.md, "Recovery"); 5 (message) a
 * message was refused.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

struct cli_command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

static const struct cli_command cli_commands[] = {
    {"apply", cli_apply_main, "JSON lines on stdin, one reply line per request on stdout"},
    {"demo", cli_demo_main, "banks of China and Central Asia settle trade in their currencies"},
    {"format", cli_format_main, "create a data directory"},
    {"check", cli_check_main, "verify a data directory's checksums and chain"},
    {"inspect", cli_inspect_main, "print a data directory's journal readably"},
    {"benchmark", cli_benchmark_main, "drive the engine through its C API on the bench workload"},
    {"simulate", cli_simulate_main,
     "a day of regional trade through each settlement design: the report"},
    {"start", cli_start_main, "serve TigerBeetle's client protocol over the network"},
    {"message", cli_message_main, "submit ISO 20022 files; each reply is written beside its file"},
    {"client", cli_client_main, "apply's JSON lines, executed by a server (khorgos start)"},
    {"status", cli_status_main, "each replica's role, leader, term, indexes and lag"},
    {"cluster", cli_membership_main, "add, remove or replace a replica of a cluster"},
};

static void cli_usage(FILE *stream) {
    fprintf(stream, "usage: khorgos COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t index = 0; index < sizeof(cli_commands) / sizeof(cli_commands[0]); index++) {
        fprintf(stream, "  %-10s %s\n", cli_commands[index].name, cli_commands[index].summary);
    }
    fprintf(stream, "\n`khorgos COMMAND --help` describes a command's options; docs/api.md the "
                    "JSON operations of apply.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "khorgos: a command is needed\n");
        cli_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) return cli_help_print("khorgos");
    if (strcmp(name, "help") == 0) return cli_help_print(argc > 2 ? argv[2] : "khorgos");
    for (size_t index = 0; index < sizeof(cli_commands) / sizeof(cli_commands[0]); index++) {
        if (strcmp(cli_commands[index].name, name) == 0) {
            if (cli_help_wanted(argc - 1, argv + 1)) return cli_help_print(name);
            return cli_commands[index].main(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "khorgos: unknown command: %s\n", name);
    cli_usage(stderr);
    return 2;
}
