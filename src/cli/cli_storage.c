/*
 * cli_storage.c: the data-directory commands (docs/storage.md).
 *
 *   khorgos format  --data DIR [--accounts N] [--transfers N] [--balances N]
 *                   [--participants N] [--payments N] [--keep-journal] [--cluster ID]
 *       creates DIR (0700; or takes an existing empty one) with its format version, cluster id
 *       (decimal u128; default a random one, printed) and capacities, files 0600; refuses a
 *       non-empty DIR; a failed format removes what it made.
 *       With --keep-journal, checkpoints move the segments they no longer need into DIR/archive
 *       instead of deleting them.
 *   khorgos check   --data DIR [--from-genesis]
 *       verifies the superblock, every snapshot (checksums and, by replay, its state digest),
 *       every journal record (checksums, sequence, offset, header copy, hash chain); prints what
 *       it found and the chain head an operator can publish. It runs the classification open
 *       runs (the same scan, writing nothing), so its exit status says what open will do:
 *       0 clean (open repairs nothing); 3 repairable (open repairs or works around what is
 *       described, losing no acknowledged record: a torn unacknowledged tail, unconfirmed
 *       records, an unfinished segment start, a damaged snapshot with a valid one to serve
 *       from); 4 refused (damage to acknowledged data, file, offset and sequence named, or
 *       another format version: open refuses and changes nothing); 1 an error (I/O, not a
 *       data directory); 2 usage. docs/storage.md tabulates the states. --from-genesis also
 *       proves the chain from request 1 through DIR/archive (status 1 when checkpoints
 *       removed requests, or the archive is damaged, described).
 *   khorgos inspect --data DIR [--from SEQUENCE] [--limit COUNT]
 *       the cluster id, then one line per journal record: sequence, time (UTC), actor,
 *       operation, a summary of the body (event count and the first events), and for a
 *       client's request its client id, request number and batch. Read-only, like check.
 *       When SEQUENCE is before the journal's first request, a first line says that a
 *       checkpoint removed (or, with --keep-journal, archived) the records before it.
 * Neither check nor inspect writes to the directory: they open every file read-only, take no
 * lock and never wait for one, so they work on a read-only copy and never block a writer.
 * Beside a live writer (its lock held: they ask with F_OFD_GETLK) they warn on standard
 * error, since they may see a commit half done and report it as a torn tail.
 */
#include "cli/cli.h"
#include "cluster/cluster.h"
#include "engine/engine.h"
#include "storage/storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

/* Events a summary shows before "...": enough to recognise a request, short enough for a line. */
#define CLI_INSPECT_EVENTS_SHOWN 3u

struct cli_storage_options {
    const char *data;
    struct khorgos_config config;
    u64 from;
    u64 limit;
    bool from_genesis;
};

static void cli_storage_help(FILE *stream) {
    ASSERT(stream != NULL);
    fprintf(stream,
            "usage: khorgos format  --data DIR [--accounts N] [--transfers N] [--balances N]\n"
            "                       [--participants N] [--payments N] [--keep-journal]\n"
            "                       [--cluster ID --replica N --replica-count 3|5]\n"
            "       khorgos check   --data DIR [--from-genesis]\n"
            "       khorgos inspect --data DIR [--from SEQUENCE] [--limit COUNT]\n"
            "  --keep-journal  checkpoints move the journal segments they no longer need into\n"
            "                  DIR/archive instead of deleting them\n"
            "  --cluster ID    the cluster id (decimal u128) every client must name; default a\n"
            "                  random one, printed\n"
            "  --from-genesis  also prove the hash chain from request 1, through DIR/archive\n"
            "format creates DIR (mode 0700, files 0600) or takes an existing empty one; it\n"
            "refuses a non-empty one. check and inspect open every file read-only, take no\n"
            "lock (they warn when a writer holds DIR) and change nothing.\n"
            "check exits 0 clean, 3 repairable by the next open, 4 refused by open (damage to\n"
            "acknowledged data or another format version), 1 on an error, 2 on a usage error\n"
            "(docs/storage.md, \"Recovery\").\n");
    ASSERT(!ferror(stream) || stream == stderr);
}

static int cli_storage_usage(const char *command, const char *problem) {
    ASSERT(command != NULL);
    if (problem != NULL) fprintf(stderr, "khorgos %s: %s\n", command, problem);
    cli_storage_help(stderr);
    return CLI_EXIT_USAGE;
}

static bool cli_storage_count(const char *text, u64 max, u64 *count) {
    ASSERT(count != NULL && max > 0);
    u128 value = 0;
    if (text == NULL || base_u128_parse(text, strlen(text), &value) != 0) return false;
    if (value == 0 || value > max) return false;
    *count = (u64)value;
    return true;
}

/* A random cluster id, so that two directories formatted apart never take each other's
 * clients: -1, or the exit status after saying why not. */
static int cli_cluster_random(u128 *cluster) {
    ASSERT(cluster != NULL);
    if (getrandom(cluster, sizeof(*cluster), 0) != (ssize_t)sizeof(*cluster)) {
        fprintf(stderr, "khorgos format: getrandom: %s\n", strerror(errno));
        return CLI_EXIT_FAILED;
    }
    ASSERT(CLI_EXIT_FAILED >= 0);
    return -1;
}

/* Returns -1 when the options are good, else the exit status (usage printed). */
static int cli_storage_parse(const char *command, int argc, char **argv,
                             struct cli_storage_options *options) {
    ASSERT(argc >= 1 && argv != NULL);
    memset(options, 0, sizeof(*options));
    options->limit = U64_MAX;
    bool format = strcmp(command, "format") == 0;
    bool inspect = strcmp(command, "inspect") == 0;
    bool cluster_given = false;
    for (int index = 1; index < argc; index += 2) {
        const char *option = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (strcmp(option, "--help") == 0 || strcmp(option, "-h") == 0) {
            cli_storage_help(stdout);
            return CLI_EXIT_OK;
        }
        if (format && strcmp(option, "--keep-journal") == 0) { /* a flag: no value */
            options->config.keep_journal = 1;
            index--;
            continue;
        }
        if (strcmp(command, "check") == 0 && strcmp(option, "--from-genesis") == 0) {
            options->from_genesis = true;
            index--;
            continue;
        }
        if (value == NULL) return cli_storage_usage(command, "every option takes a value");
        u64 count = 0;
        if (strcmp(option, "--data") == 0) {
            options->data = value;
            continue;
        }
        if (format && strcmp(option, "--cluster") == 0) {
            if (base_u128_parse(value, strlen(value), &options->config.cluster) != 0) {
                return cli_storage_usage(command, "--cluster takes a decimal u128");
            }
            cluster_given = true;
            continue;
        }
        bool counted = cli_storage_count(value, U32_MAX, &count);
        if (format && counted && strcmp(option, "--accounts") == 0) {
            options->config.account_count_max = (u32)count;
        } else if (format && counted && strcmp(option, "--transfers") == 0) {
            options->config.transfer_count_max = (u32)count;
        } else if (format && counted && strcmp(option, "--balances") == 0) {
            options->config.account_balance_count_max = (u32)count;
        } else if (format && counted && strcmp(option, "--participants") == 0) {
            options->config.participant_count_max = (u32)count;
        } else if (format && counted && strcmp(option, "--payments") == 0) {
            options->config.payment_count_max = (u32)count;
        } else if (inspect && cli_storage_count(value, U64_MAX, &count) &&
                   strcmp(option, "--from") == 0) {
            options->from = count;
        } else if (inspect && cli_storage_count(value, U64_MAX, &count) &&
                   strcmp(option, "--limit") == 0) {
            options->limit = count;
        } else {
            return cli_storage_usage(command, "unknown option or a count that is not >= 1");
        }
    }
    if (options->data == NULL) return cli_storage_usage(command, "--data DIR is required");
    if (format && !cluster_given) return cli_cluster_random(&options->config.cluster);
    return -1;
}

int cli_format_main(int argc, char **argv) {
    struct cli_storage_options options;
    struct cluster_identity identity;
    bool clustered = false;
    int status = cli_format_cluster_options(&argc, argv, &identity, &clustered);
    if (status < 0) status = cli_storage_parse("format", argc, argv, &options);
    if (status >= 0) return status;
    ASSERT(options.data != NULL);
    char report[STORAGE_MESSAGE_BYTES_MAX];
    khorgos_error error =
        khorgos_format_report(options.data, &options.config, report, sizeof(report));
    ASSERT(error == KHORGOS_ERROR_ok || report[0] != '\0');
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos format: %s: %s (%s)\n", options.data, report,
                khorgos_error_name(error));
        return 1;
    }
    char cluster[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
    base_u128_format(options.config.cluster, cluster);
    printf("formatted %s (format version %u, cluster %s%s)\n", options.data,
           STORAGE_FORMAT_VERSION, cluster,
           options.config.keep_journal ? ", the journal kept in its archive folder" : "");
    return clustered ? cli_format_cluster_write(options.data, &identity) : 0;
}

static void cli_hex(const u8 *bytes, u32 size, char *out) {
    static const char digits[] = "0123456789abcdef";
    ASSERT(bytes != NULL && out != NULL);
    for (u32 index = 0; index < size; index++) {
        out[2 * index] = digits[bytes[index] >> 4];
        out[2 * index + 1] = digits[bytes[index] & 15];
    }
    out[2 * size] = '\0';
}

/* Opens the directory read-only: no lock is taken or waited for, every file is opened
 * O_RDONLY and nothing in the directory changes. Warns when a writer holds it now: what is
 * read may then be a commit half done, or a checkpoint's files half made. */
static struct storage_io *cli_storage_open_io(const char *command, const char *data) {
    struct storage_io *io = NULL;
    char message[STORAGE_MESSAGE_BYTES_MAX];
    khorgos_error error = storage_io_posix_create(data, STORAGE_POSIX_READ, &io, message);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos %s: %s: %s\n", command, data,
                message[0] != '\0' ? message : khorgos_strerror(error));
        return NULL;
    }
    ASSERT(io != NULL);
    int writer = storage_io_posix_writer(io);
    if (writer != 0) {
        char pid[32] = "";
        if (writer > 0) snprintf(pid, sizeof(pid), " (pid %d)", writer);
        fprintf(stderr,
                "khorgos %s: warning: %s is open for writing by another process%s; what is read "
                "may be a commit or a checkpoint in progress\n",
                command, data, pid);
    }
    return io;
}

/* The system's cause of a failed call, when the io has one ("" otherwise). */
static const char *cli_storage_cause(struct storage_io *io, khorgos_error error) {
    ASSERT(io != NULL);
    if (error != KHORGOS_ERROR_io && error != KHORGOS_ERROR_no_space &&
        error != KHORGOS_ERROR_not_found) {
        return "";
    }
    return io->last_error(io);
}

/* check --from-genesis: the chain from request 1, through DIR/archive; it must end at the
 * chain head the whole check found. Returns -1 when proved, else the exit status. */
static int cli_check_genesis(const char *data, struct storage_io *io, const u8 *chain_head) {
    ASSERT(data != NULL && io != NULL && chain_head != NULL);
    char path[4096];
    int length = snprintf(path, sizeof(path), "%s/%s", data, STORAGE_ARCHIVE_NAME);
    if (length < 0 || (size_t)length >= sizeof(path)) {
        printf("check: FAILED: %s: the path is too long\n", data);
        return CLI_EXIT_FAILED;
    }
    struct storage_io *archive = NULL;
    char message[STORAGE_MESSAGE_BYTES_MAX];
    khorgos_error error = storage_io_posix_create(path, STORAGE_POSIX_READ, &archive, message);
    if (error != KHORGOS_ERROR_ok && error != KHORGOS_ERROR_not_found) {
        printf("check: FAILED: %s: %s\n", path,
               message[0] != '\0' ? message : khorgos_strerror(error));
        return CLI_EXIT_FAILED;
    }
    static struct storage_report report;
    error = engine_storage_check_genesis(io, archive, &report);
    if (archive != NULL) storage_io_posix_destroy(archive);
    if (report.message[0] != '\0') printf("%s\n", report.message);
    if (error == KHORGOS_ERROR_ok &&
        memcmp(report.chain_head, chain_head, BASE_SHA256_BYTES) != 0) {
        printf("the chain from request 1 ends at another head than the journal's.\n");
        error = KHORGOS_ERROR_corrupt;
    }
    if (error != KHORGOS_ERROR_ok) {
        printf("check: FAILED (%s): the chain cannot be proved from request 1\n",
               khorgos_error_name(error));
        return CLI_EXIT_FAILED;
    }
    return -1;
}

/* Which snapshot the state was verified from, and the journal records replayed after it. */
static void cli_check_state(const struct storage_report *report) {
    ASSERT(report != NULL);
    ASSERT(report->sequence_last >= report->snapshot_sequence);
    unsigned long long snapshot = report->snapshot_sequence;
    printf("state: snapshot-%016llx (request %llu%s)", snapshot, snapshot,
           report->snapshot_installed
               ? ", installed from another replica; the journal starts after it"
               : "");
    if (report->sequence_last == report->snapshot_sequence) {
        printf(", no journal record after it\n");
    } else {
        printf(" and journal records %llu to %llu\n", snapshot + 1,
               (unsigned long long)report->sequence_last);
    }
}

int cli_check_main(int argc, char **argv) {
    struct cli_storage_options options;
    int status = cli_storage_parse("check", argc, argv, &options);
    if (status >= 0) return status;
    struct storage_io *io = cli_storage_open_io("check", options.data);
    if (io == NULL) return 1;
    static struct storage_report report;
    khorgos_error error = engine_storage_check(io, &report);
    ASSERT(error != KHORGOS_ERROR_locked); /* a reader never takes the lock */
    char cause[STORAGE_MESSAGE_BYTES_MAX];
    snprintf(cause, sizeof(cause), "%s", cli_storage_cause(io, error));
    if (report.message[0] != '\0') printf("%s\n", report.message);
    if (error != KHORGOS_ERROR_ok) storage_io_posix_destroy(io);
    if (cli_error_refused(error)) {
        printf("check: REFUSED (%s): open refuses this directory and changes nothing\n",
               khorgos_error_name(error));
        return CLI_EXIT_REFUSED;
    }
    if (error != KHORGOS_ERROR_ok) {
        printf("check: FAILED (%s): %s: %s\n", khorgos_error_name(error), options.data,
               cause[0] != '\0' ? cause : khorgos_strerror(error));
        return CLI_EXIT_FAILED;
    }
    char head[2 * BASE_SHA256_BYTES + 1];
    cli_hex(report.chain_head, BASE_SHA256_BYTES, head);
    printf("check: %llu journal records verified, last sequence %llu\n",
           (unsigned long long)report.records, (unsigned long long)report.sequence_last);
    cli_check_state(&report);
    printf("chain head: %s\n", head);
    struct storage_superblock superblock;
    if (storage_superblock_read(io, &superblock) == KHORGOS_ERROR_ok) {
        char cluster[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
        base_u128_format(superblock.cluster, cluster);
        printf("cluster: %s\n", cluster);
    }
    if (options.from_genesis) status = cli_check_genesis(options.data, io, report.chain_head);
    storage_io_posix_destroy(io);
    if (status >= 0) return status;
    if (report.repairable) {
        printf("check: repairable (the next open repairs or works around what is described "
               "above, losing no acknowledged record)\n");
        return CLI_EXIT_REPAIRABLE;
    }
    printf("check: ok\n");
    return CLI_EXIT_OK;
}

/* ---- inspect ------------------------------------------------------------------------------- */

struct cli_inspect {
    u64 from;
    u64 limit;
    u64 printed;
};

static void cli_time(u64 timestamp, char *out, size_t capacity) {
    time_t seconds = (time_t)(timestamp / 1000000000ull);
    struct tm parts;
    if (gmtime_r(&seconds, &parts) == NULL) {
        snprintf(out, capacity, "%llu", (unsigned long long)timestamp);
        return;
    }
    size_t length = strftime(out, capacity, "%Y-%m-%dT%H:%M:%S", &parts);
    ASSERT(length > 0);
    snprintf(out + length, capacity - length, ".%09lluZ",
             (unsigned long long)(timestamp % 1000000000ull));
}

static void cli_amount(u128 amount, u32 ledger, char *out, size_t capacity) {
    const struct khorgos_currency *currency = khorgos_currency_by_numeric(ledger);
    char digits[64];
    if (currency == NULL || amount == KHORGOS_AMOUNT_MAX ||
        khorgos_amount_format(amount, currency->minor_units, digits, sizeof(digits)) == 0) {
        base_u128_format(amount, digits);
        snprintf(out, capacity, "%s (ledger %u)", digits, ledger);
        return;
    }
    snprintf(out, capacity, "%s %s", digits, currency->letters);
}

static void cli_inspect_summary(const struct storage_record_header *header, const void *body,
                                char *out, size_t capacity) {
    const struct engine_operation *entry = engine_operation_find(header->operation);
    u32 count = entry == NULL || entry->body_record_size == 0
                    ? 0
                    : header->body_size / entry->body_record_size;
    if (header->operation == KHORGOS_OPERATION_REGISTER) {
        snprintf(out, capacity, "a client opens its session");
        return;
    }
    if (header->operation == KHORGOS_OPERATION_PULSE || header->body_size == 0) {
        snprintf(out, capacity, "internal timer work (expiries due)");
        return;
    }
    if (header->operation == KHORGOS_OPERATION_ADVANCE_CLOCK && header->body_size == 8) {
        u64 nanoseconds = 0;
        memcpy(&nanoseconds, body, sizeof(nanoseconds));
        snprintf(out, capacity, "the manual clock moves %llu ns", (unsigned long long)nanoseconds);
        return;
    }
    int used = snprintf(out, capacity, "%u event(s)", count);
    for (u32 index = 0; index < MIN(count, CLI_INSPECT_EVENTS_SHOWN) && used > 0 &&
                        (size_t)used < capacity;
         index++) {
        char id[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
        char amount[96];
        if (header->operation == KHORGOS_OPERATION_CREATE_TRANSFERS) {
            struct khorgos_transfer transfer;
            memcpy(&transfer, (const u8 *)body + index * sizeof(transfer), sizeof(transfer));
            base_u128_format(transfer.id, id);
            cli_amount(transfer.amount, transfer.ledger, amount, sizeof(amount));
            char debit[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
            char credit[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
            base_u128_format(transfer.debit_account_id, debit);
            base_u128_format(transfer.credit_account_id, credit);
            used += snprintf(out + used, capacity - (size_t)used, "; transfer %s %s->%s %s", id,
                             debit, credit, amount);
        } else if (header->operation == KHORGOS_OPERATION_CREATE_ACCOUNTS) {
            struct khorgos_account account;
            memcpy(&account, (const u8 *)body + index * sizeof(account), sizeof(account));
            base_u128_format(account.id, id);
            const struct khorgos_currency *currency = khorgos_currency_by_numeric(account.ledger);
            used += snprintf(out + used, capacity - (size_t)used, "; account %s %s", id,
                             currency ? currency->letters : "?");
        }
    }
    if (count > CLI_INSPECT_EVENTS_SHOWN && used > 0 && (size_t)used < capacity) {
        snprintf(out + used, capacity - (size_t)used, "; ...");
    }
}

static khorgos_error cli_inspect_record(void *context, const struct storage_record_header *header,
                                        const void *body) {
    struct cli_inspect *inspect = context;
    ASSERT(inspect != NULL && header != NULL);
    if (header->sequence < inspect->from || inspect->printed >= inspect->limit) {
        return KHORGOS_ERROR_ok;
    }
    char time_text[64];
    cli_time(header->timestamp, time_text, sizeof(time_text));
    char actor[STORAGE_ACTOR_BYTES + 1];
    memcpy(actor, header->actor, STORAGE_ACTOR_BYTES);
    actor[STORAGE_ACTOR_BYTES] = '\0';
    const char *name = khorgos_operation_name(header->operation);
    char summary[512];
    cli_inspect_summary(header, body, summary, sizeof(summary));
    char client[96] = "";
    if (header->client != 0) {
        char id[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
        base_u128_format(header->client, id);
        snprintf(client, sizeof(client), "  client %s request %llu batch %u/%u", id,
                 (unsigned long long)header->request, header->batch + 1u, header->batch_count);
    }
    printf("%llu  %s  %-8s %-22s %s%s\n", (unsigned long long)header->sequence, time_text, actor,
           name != NULL ? name : "unknown", summary, client);
    inspect->printed++;
    return KHORGOS_ERROR_ok;
}

/* Where the journal starts, when the records asked for (from `from`) are before it or it
 * starts at a snapshot installed from another replica. */
static void cli_inspect_start(const struct storage_superblock *superblock,
                              const struct storage_listing *listing, u64 from) {
    ASSERT(superblock != NULL && listing != NULL);
    ASSERT(listing->segment_count > 0);
    unsigned long long first = listing->segments[0];
    if (storage_listing_installed(listing)) {
        if (from > 0 && from < first) {
            printf("records %llu to %llu are not in this directory; ", (unsigned long long)from,
                   first - 1);
        }
        printf("this journal starts at request %llu, after snapshot-%016llx, installed from "
               "another replica\n",
               first, first - 1);
    } else if (from > 0 && from < first) {
        bool kept = (superblock->flags & STORAGE_SUPERBLOCK_KEEP_JOURNAL) != 0;
        printf("records %llu to %llu were %s by a checkpoint; this journal starts at "
               "request %llu\n",
               (unsigned long long)from, first - 1,
               kept ? "moved to the archive folder" : "removed", first);
    }
}

int cli_inspect_main(int argc, char **argv) {
    struct cli_storage_options options;
    int status = cli_storage_parse("inspect", argc, argv, &options);
    if (status >= 0) return status;
    struct storage_io *io = cli_storage_open_io("inspect", options.data);
    if (io == NULL) return 1;
    static struct storage_report report;
    memset(&report, 0, sizeof(report));
    struct storage_superblock superblock;
    struct storage_listing listing;
    struct storage *storage = NULL;
    khorgos_error error = storage_superblock_read(io, &superblock);
    if (error == KHORGOS_ERROR_ok) error = storage_list(io, &listing);
    if (error == KHORGOS_ERROR_ok && listing.segment_count == 0) error = KHORGOS_ERROR_corrupt;
    if (error == KHORGOS_ERROR_ok) error = storage_create(io, &superblock, &storage);
    struct cli_inspect inspect = {.from = options.from, .limit = options.limit};
    if (error == KHORGOS_ERROR_ok) cli_inspect_start(&superblock, &listing, options.from);
    if (error == KHORGOS_ERROR_ok) {
        char cluster[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
        base_u128_format(superblock.cluster, cluster);
        printf("cluster %s\n", cluster);
        printf("sequence  time (UTC)  actor  operation  summary\n");
        error = storage_journal_recover(storage, listing.segments[0] - 1, NULL, false,
                                        cli_inspect_record, &inspect, &report);
    }
    storage_destroy(storage);
    ASSERT(error != KHORGOS_ERROR_locked); /* a reader never takes the lock */
    char cause[STORAGE_MESSAGE_BYTES_MAX];
    snprintf(cause, sizeof(cause), "%s", cli_storage_cause(io, error));
    storage_io_posix_destroy(io);
    if (report.message[0] != '\0') fprintf(stderr, "%s\n", report.message);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos inspect: %s: %s\n", options.data,
                cause[0] != '\0' ? cause : khorgos_strerror(error));
        return 1;
    }
    return 0;
}
