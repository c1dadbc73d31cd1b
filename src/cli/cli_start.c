/*
 * cli_start.c: `khorgos start`, the network server (src/server/server.h).
 *
 *   khorgos start --data DIR [--addresses ADDR:PORT] [--http ADDR:PORT] [--clock manual]
 *                 [--tls-cert F --tls-key F --tls-ca F [--tls-crl F]]
 *                 [--max-connections N] [--handshake-timeout-ms N] [--idle-timeout-ms N]
 *                 [--memory resident|on-demand]
 *   khorgos start --data DIR --addresses A0,A1,A2 --replica N [--election-timeout-ms N]
 *                 [--snapshot-log-bytes N] [the others]
 *
 * --memory resident makes the engine's reserved memory resident before replay; it is not the
 * default because it costs the whole reservation at every start (about 2 GiB and tens of
 * seconds on a loaded machine for format's default capacities), which the many short-lived
 * servers of tests and demos would pay for nothing; a production server takes it.
 *
 * The cluster id it serves is the data directory's (format --cluster).
 *
 * It serves TigerBeetle 0.17's client protocol (docs/protocol.md, docs/server.md) over mutual
 * TLS 1.3, or without TLS options in plaintext on a loopback address, until SIGTERM or SIGINT
 * (docs/security.md).
 */
#include "cli/cli.h"
#include "cluster/cluster_replica.h"
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int start_usage(const char *problem) {
    ASSERT(problem == NULL || problem[0] != '\0');
    FILE *stream = problem != NULL ? stderr : stdout;
    if (problem != NULL) fprintf(stderr, "khorgos start: %s\n", problem);
    fprintf(stream,
            "usage: khorgos start --data DIR [--addresses ADDR:PORT] [--http ADDR:PORT] "
            "[--clock manual]\n"
            "                     [--tls-cert F --tls-key F --tls-ca F [--tls-crl F]]\n"
            "                     [--max-connections N] [--handshake-timeout-ms N] "
            "[--idle-timeout-ms N]\n"
            "                     [--memory resident|on-demand]\n"
            "       khorgos start --data DIR --addresses A0,A1,A2 --replica N "
            "[--election-timeout-ms N]\n"
            "                     [--snapshot-log-bytes N] [the others]\n"
            "Serves TigerBeetle 0.17's client protocol on DIR, a formatted data directory,\n"
            "until SIGTERM or SIGINT (it finishes the requests in flight, then exits 0).\n"
            "  --addresses ADDR:PORT  where to listen (default " SERVER_ADDRESS_DEFAULT
            "; a bare PORT\n"
            "                         means 127.0.0.1); without TLS options plaintext is\n"
            "                         served on a loopback address only; with --replica,\n"
            "                         every replica's address, comma-separated\n"
            "  --replica N            serve as replica N of DIR's cluster (docs/replication.md)\n"
            "  --election-timeout-ms N\n"
            "                         a replica's raft election timeout (default %u)\n"
            "  --snapshot-log-bytes N a replica takes a raft snapshot once its log since the\n"
            "                         last holds N bytes (default %u, at least %u)\n"
            "  --http ADDR:PORT       serve /metrics, /health and /ready over HTTP (loopback)\n"
            "  --clock manual         a manual clock from 2023-05-19T00:00:00Z\n"
            "  --tls-cert F, --tls-key F\n"
            "                         the server's certificate chain and key (PEM)\n"
            "  --tls-ca F             the CA (PEM) every client certificate must chain to;\n"
            "                         TLS 1.3 only, a client certificate required\n"
            "  --tls-crl F            a CRL (PEM): revoked client certificates are refused\n"
            "  --max-connections N    connections open at once (default %u)\n"
            "  --handshake-timeout-ms N\n"
            "                         a TLS handshake must finish within N ms (default %u)\n"
            "  --idle-timeout-ms N    a connection must send a whole message every N ms\n"
            "                         unless a request of it executes (default %u)\n"
            "  --memory resident      make the reserved memory resident at start, before the\n"
            "                         journal's replay: no first-touch page faults later\n"
            "Clients must name the cluster id DIR was formatted with (format --cluster).\n"
            "SIGHUP reloads the TLS files for new handshakes. One key=value line per event on\n"
            "standard error; docs/server.md, docs/security.md.\n",
            CLUSTER_ELECTION_TIMEOUT_MS, CLUSTER_SNAPSHOT_LOG_BYTES,
            CLUSTER_SNAPSHOT_LOG_MIN_BYTES, SERVER_CONNECTIONS_MAX,
            SERVER_HANDSHAKE_TIMEOUT_DEFAULT_MS,
            SERVER_IDLE_TIMEOUT_DEFAULT_MS);
    ASSERT(CLI_EXIT_USAGE != CLI_EXIT_OK);
    return problem != NULL ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}

/* A positive decimal u32 of at most `max`; false otherwise. */
static bool start_number(const char *text, u32 max, u32 *value) {
    ASSERT(text != NULL && value != NULL);
    ASSERT(max > 0);
    char *end = NULL;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || parsed == 0 || parsed > max) {
        return false;
    }
    *value = (u32)parsed;
    return true;
}

/* The TLS and limit options; 1 when `option` is none of them, else an exit status. */
static int start_parse_more(const char *option, const char *value,
                            struct server_options *options) {
    ASSERT(option != NULL && value != NULL);
    ASSERT(options != NULL);
    char problem[96];
    if (strcmp(option, "--tls-cert") == 0) {
        options->tls_cert = value;
    } else if (strcmp(option, "--tls-key") == 0) {
        options->tls_key = value;
    } else if (strcmp(option, "--tls-ca") == 0) {
        options->tls_ca = value;
    } else if (strcmp(option, "--tls-crl") == 0) {
        options->tls_crl = value;
    } else if (strcmp(option, "--max-connections") == 0) {
        if (!start_number(value, SERVER_CONNECTIONS_OPTION_MAX, &options->connections_max)) {
            snprintf(problem, sizeof(problem), "--max-connections takes a number from 1 to %u",
                     SERVER_CONNECTIONS_OPTION_MAX);
            return start_usage(problem);
        }
    } else if (strcmp(option, "--handshake-timeout-ms") == 0 ||
               strcmp(option, "--idle-timeout-ms") == 0) {
        u32 *timeout_ms = option[2] == 'h' ? &options->handshake_timeout_ms
                                           : &options->idle_timeout_ms;
        if (!start_number(value, SERVER_TIMEOUT_OPTION_MAX_MS, timeout_ms)) {
            snprintf(problem, sizeof(problem), "%s takes milliseconds from 1 to %u", option,
                     SERVER_TIMEOUT_OPTION_MAX_MS);
            return start_usage(problem);
        }
    } else if (strcmp(option, "--election-timeout-ms") == 0) {
        u32 *timeout_ms = &options->election_timeout_ms;
        if (!start_number(value, CLUSTER_ELECTION_TIMEOUT_MAX_MS, timeout_ms) ||
            *timeout_ms < CLUSTER_ELECTION_TIMEOUT_MIN_MS) {
            snprintf(problem, sizeof(problem), "%s takes milliseconds from %u to %u", option,
                     CLUSTER_ELECTION_TIMEOUT_MIN_MS, CLUSTER_ELECTION_TIMEOUT_MAX_MS);
            return start_usage(problem);
        }
    } else if (strcmp(option, "--snapshot-log-bytes") == 0) {
        if (!start_number(value, UINT32_MAX, &options->snapshot_log_bytes) ||
            options->snapshot_log_bytes < CLUSTER_SNAPSHOT_LOG_MIN_BYTES) {
            snprintf(problem, sizeof(problem), "%s takes bytes from %u to %u", option,
                     CLUSTER_SNAPSHOT_LOG_MIN_BYTES, UINT32_MAX);
            return start_usage(problem);
        }
    } else {
        return 1;
    }
    return CLI_EXIT_OK;
}

/* A replica listens on its own entry of --addresses; a single node takes one address. */
static int start_replica_address(struct server_options *options) {
    ASSERT(options != NULL && options->address != NULL);
    static char own[CLUSTER_ADDRESS_BYTES];
    if (options->replica_addresses == NULL) {
        if (options->election_timeout_ms != 0) {
            return start_usage("--election-timeout-ms is a replica's: give --replica N too");
        }
        if (options->snapshot_log_bytes != 0) {
            return start_usage("--snapshot-log-bytes is a replica's: give --replica N too");
        }
        if (strchr(options->address, ',') != NULL) {
            return start_usage("several --addresses are a cluster's: give --replica N too");
        }
        return CLI_EXIT_OK;
    }
    if (options->clock_manual) return start_usage("a replica runs on the leader's clock: "
                                                  "--clock manual is a single node's");
    const char *start = options->address;
    for (u32 index = 0; index < options->replica; index++) {
        start = strchr(start, ',');
        if (start == NULL) return start_usage("--addresses has no entry for --replica");
        start++;
    }
    size_t length = strcspn(start, ",");
    if (length == 0 || length >= sizeof(own)) return start_usage("--addresses: an empty entry");
    memcpy(own, start, length);
    own[length] = '\0';
    options->replica_addresses = options->address;
    options->address = own;
    return CLI_EXIT_OK;
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
            options->address = value;
        } else if (strcmp(option, "--replica") == 0) {
            if (value[0] < '0' || value[0] > '9' || value[1] != '\0' ||
                (u32)(value[0] - '0') >= CLUSTER_REPLICA_COUNT_MAX) {
                return start_usage("--replica takes a replica index from 0 to 4");
            }
            options->replica = (u32)(value[0] - '0');
            options->replica_addresses = value; /* set to the list below */
        } else if (strcmp(option, "--http") == 0) {
            options->http_address = value;
        } else if (strcmp(option, "--clock") == 0) {
            if (strcmp(value, "manual") != 0 && strcmp(value, "realtime") != 0) {
                return start_usage("--clock takes manual or realtime");
            }
            options->clock_manual = strcmp(value, "manual") == 0;
        } else if (strcmp(option, "--memory") == 0) {
            if (strcmp(value, "resident") != 0 && strcmp(value, "on-demand") != 0) {
                return start_usage("--memory takes resident or on-demand");
            }
            options->memory_resident = strcmp(value, "resident") == 0;
        } else {
            int status = start_parse_more(option, value, options);
            if (status != CLI_EXIT_OK) return status == 1 ? start_usage("unknown option") : status;
        }
    }
    if (options->data_directory == NULL) return start_usage("--data DIR is needed");
    bool any_tls = options->tls_cert != NULL || options->tls_key != NULL ||
                   options->tls_ca != NULL || options->tls_crl != NULL;
    if (any_tls && (options->tls_cert == NULL || options->tls_key == NULL ||
                    options->tls_ca == NULL)) {
        return start_usage("TLS needs all of --tls-cert, --tls-key and --tls-ca");
    }
    ASSERT(options->address != NULL);
    return start_replica_address(options);
}

int cli_start_main(int argc, char **argv) {
    ASSERT(argc >= 1 && argv != NULL);
    struct server_options options = {.address = SERVER_ADDRESS_DEFAULT};
    int parsed = start_parse(argc, argv, &options);
    if (parsed < 0) return start_usage(NULL);
    if (parsed != CLI_EXIT_OK) return parsed;
    ASSERT(options.data_directory != NULL);
    server_crash_report_install(); /* false under AddressSanitizer, whose reports say more */
    khorgos_error error = server_run(&options);
    if (error == KHORGOS_ERROR_ok) return CLI_EXIT_OK;
    if (error == KHORGOS_ERROR_invalid_argument) return CLI_EXIT_USAGE;
    return cli_error_refused(error) ? CLI_EXIT_REFUSED : CLI_EXIT_FAILED;
}
