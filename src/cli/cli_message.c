/*
 * cli_message.c: `khorgos message`, ISO 20022 files through the gateway, for operators and tests.
 *
 *   khorgos message --data DIR [--clock manual] FILE.xml...
 *   khorgos message --addresses ADDR[,ADDR...] [--cluster ID] [--timeout S]
 *                   [--tls-cert F --tls-key F --tls-ca F] FILE.xml...
 *
 * Each file is submitted in turn (khorgos_submit_message: on DIR with the operator as sender,
 * or through a server's gateway as the connection's identity, cli_gateway.c) and its reply
 * (pacs.002, or camt.029 for a camt.056) is written next to it: a.xml -> a.reply.xml (a name
 * without ".xml" gets ".reply.xml" added). One line per file on standard output says the
 * group's status. Exit status: 0 when every message was accepted (no transaction refused), 5
 * when any was refused (its reply says why), 1 on a failure while working (a file that cannot
 * be read or written, the engine), 2 on a usage error.
 */
#include "cli/cli.h"
#include "cli/cli_gateway.h"
#include "khorgos_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A file's name and the ".reply.xml" that replaces its ".xml". */
#define MESSAGE_PATH_BYTES 4096u

struct message_options {
    const char *data_directory;
    bool clock_manual;
    struct khorgos_client_options client; /* with --addresses */
    int first_file;                       /* index in argv */
};

static int message_usage(const char *problem) {
    ASSERT(problem == NULL || problem[0] != '\0');
    ASSERT(problem == NULL || strlen(problem) < 200);
    if (problem != NULL) fprintf(stderr, "khorgos message: %s\n", problem);
    fprintf(stderr,
            "usage: khorgos message --data DIR [--clock manual] FILE.xml...\n"
            "       khorgos message --addresses ADDR[,ADDR...] [--cluster ID] [--timeout S]\n"
            "                       [--tls-cert F --tls-key F --tls-ca F] FILE.xml...\n"
            "  Submits each ISO 20022 message (pacs.008, pacs.009, pacs.004, camt.056) and\n"
            "  writes its reply next to it as FILE.reply.xml (pacs.002 or camt.029).\n"
            "  Exit 0: every message accepted; 5: one or more refused; 1: an error.\n"
            "  See docs/iso20022.md.\n");
    return CLI_EXIT_USAGE;
}

/* Returns -1 when the options are good, else the exit status (usage printed). */
static int message_options_parse(int argc, char **argv, struct message_options *options) {
    ASSERT(argc >= 1 && argv != NULL);
    memset(options, 0, sizeof(*options));
    int index = 1;
    for (; index < argc && strncmp(argv[index], "--", 2) == 0; index += 2) {
        const char *option = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (strcmp(option, "--help") == 0) {
            message_usage(NULL);
            return CLI_EXIT_OK;
        } else if (strcmp(option, "--data") == 0 && value != NULL) {
            options->data_directory = value;
        } else if (strcmp(option, "--clock") == 0 && value != NULL &&
                   (strcmp(value, "manual") == 0 || strcmp(value, "realtime") == 0)) {
            options->clock_manual = strcmp(value, "manual") == 0;
        } else {
            const char *problem = "unknown option or missing value";
            if (value == NULL ||
                cli_client_option(option, value, &options->client, &problem) != 1) {
                return message_usage(problem);
            }
        }
    }
    if ((options->data_directory == NULL) == (options->client.addresses == NULL)) {
        return message_usage("one of --data DIR and --addresses ADDR is needed");
    }
    const char *problem = options->data_directory != NULL
                              ? NULL
                              : cli_client_options_finish(&options->client);
    if (problem != NULL) return message_usage(problem);
    if (index >= argc) return message_usage("no message file given");
    options->first_file = index;
    ASSERT(options->first_file < argc);
    return -1;
}

/* Reads at most `capacity` bytes of `path` (one more than a message may be is enough for the
 * reader to refuse a larger file by its size). Returns the size, or -1 (message printed). */
static ssize_t message_file_read(const char *path, char *buffer, size_t capacity) {
    ASSERT(path != NULL && buffer != NULL);
    ASSERT(capacity > 0);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "khorgos message: %s: open: %s\n", path, strerror(errno));
        return -1;
    }
    size_t size = 0;
    while (size < capacity) {
        ssize_t got = read(fd, buffer + size, capacity - size);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            fprintf(stderr, "khorgos message: %s: read: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (got == 0) break;
        size += (size_t)got;
    }
    close(fd);
    return (ssize_t)size;
}

static bool message_reply_path(const char *path, char *out) {
    ASSERT(path != NULL && out != NULL);
    size_t length = strlen(path);
    if (length >= 4 && strcmp(path + length - 4, ".xml") == 0) length -= 4;
    int written = snprintf(out, MESSAGE_PATH_BYTES, "%.*s.reply.xml", (int)length, path);
    ASSERT(written > 0);
    return (size_t)written < MESSAGE_PATH_BYTES;
}

static bool message_file_write(const char *path, const char *bytes, size_t size) {
    ASSERT(path != NULL && bytes != NULL);
    ASSERT(size > 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    size_t written = 0;
    while (fd >= 0 && written < size) {
        ssize_t result = write(fd, bytes + written, size - written);
        if (result < 0 && errno == EINTR) continue;
        if (result < 0) break;
        written += (size_t)result;
    }
    bool ok = fd >= 0 && written == size && close(fd) == 0;
    if (!ok) {
        fprintf(stderr, "khorgos message: %s: write: %s\n", path, strerror(errno));
        if (fd >= 0 && written != size) close(fd);
    }
    return ok;
}

/* One file: submit, write the reply, print its line. Returns the exit status it asks for. */
static int message_one(struct cli_gateway *gateway, const char *path) {
    ASSERT(gateway != NULL && path != NULL);
    char reply_path[MESSAGE_PATH_BYTES];
    if (!message_reply_path(path, reply_path)) {
        fprintf(stderr, "khorgos message: %s: the name is too long\n", path);
        return CLI_EXIT_FAILED;
    }
    ssize_t size = message_file_read(path, gateway->xml, KHORGOS_MESSAGE_BYTES_MAX + 1u);
    if (size < 0) return CLI_EXIT_FAILED;
    ASSERT((size_t)size <= KHORGOS_MESSAGE_BYTES_MAX + 1u);
    struct khorgos_message_result result;
    khorgos_error error = cli_gateway_submit(gateway, gateway->xml, (size_t)size, &result);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos message: %s: %s\n", path, khorgos_strerror(error));
        return CLI_EXIT_FAILED;
    }
    if (!message_file_write(reply_path, gateway->reply, result.reply_size)) {
        return CLI_EXIT_FAILED;
    }
    bool accepted = strcmp(result.group_status, "RJCT") != 0 && result.rejected_count == 0;
    printf("%s: %s%s%s -> %s\n", path, result.group_status, result.reason[0] ? " " : "",
           result.reason, reply_path);
    return accepted ? CLI_EXIT_OK : CLI_EXIT_MESSAGE_REFUSED;
}

/* Every file, in turn, through the gateway; the exit status. */
static int message_files(struct cli_gateway *gateway, int first, int argc, char **argv) {
    ASSERT(gateway != NULL && argv != NULL);
    ASSERT(first >= 1 && first < argc);
    int status = CLI_EXIT_OK;
    for (int index = first; index < argc && status != CLI_EXIT_FAILED; index++) {
        int one = message_one(gateway, argv[index]);
        if (one != CLI_EXIT_OK) status = one;
    }
    fflush(stdout);
    return status;
}

/* Through a server: its gateway answers, as this client's identity. */
static int message_remote(const struct message_options *options, int argc, char **argv) {
    ASSERT(options->client.addresses != NULL);
    ASSERT(options->data_directory == NULL);
    struct khorgos_client *client = NULL;
    khorgos_error error = khorgos_client_open(&client, &options->client);
    if (error == KHORGOS_ERROR_invalid_argument) {
        return message_usage("--addresses takes HOST:PORT[,HOST:PORT...] (IPv4) or PORT, and "
                             "the TLS files must load");
    }
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos message: cannot start the client: %s\n",
                khorgos_strerror(error));
        return CLI_EXIT_FAILED;
    }
    struct cli_gateway gateway;
    int status = CLI_EXIT_FAILED;
    if (cli_gateway_reserve_remote(&gateway, client)) {
        status = message_files(&gateway, options->first_file, argc, argv);
    } else {
        fprintf(stderr, "khorgos message: out of memory for the gateway's buffers\n");
    }
    cli_gateway_release(&gateway);
    khorgos_client_close(client);
    return status;
}

int cli_message_main(int argc, char **argv) {
    struct message_options options;
    int status = message_options_parse(argc, argv, &options);
    if (status >= 0) return status;
    if (options.data_directory == NULL) return message_remote(&options, argc, argv);
    ASSERT(options.first_file >= 1 && options.first_file < argc);
    struct khorgos *engine = NULL;
    char report[1024] = "";
    struct khorgos_open_options open_options = {.clock_manual = options.clock_manual,
                                                .report = report,
                                                .report_capacity = sizeof(report)};
    khorgos_error error = khorgos_open(&engine, options.data_directory, &open_options);
    if (report[0] != '\0') fprintf(stderr, "khorgos: %s: %s\n", options.data_directory, report);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos message: %s: cannot open: %s\n", options.data_directory,
                khorgos_strerror(error));
        return cli_error_refused(error) ? CLI_EXIT_REFUSED : CLI_EXIT_FAILED;
    }
    struct cli_gateway gateway;
    status = CLI_EXIT_OK;
    if (!cli_gateway_reserve(&gateway, engine)) {
        fprintf(stderr, "khorgos message: out of memory for the gateway's buffers\n");
        status = CLI_EXIT_FAILED;
    }
    if (status == CLI_EXIT_OK) status = message_files(&gateway, options.first_file, argc, argv);
    cli_gateway_release(&gateway);
    khorgos_close(engine);
    return status;
}
