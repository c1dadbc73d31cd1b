/*
 * cli_client_options.c: the options of a server's client, shared by `khorgos client` and
 * `khorgos message --addresses`: --addresses, --cluster, --timeout, --tls-cert, --tls-key and
 * --tls-ca (docs/clients.md).
 */
#include "base/base.h"
#include "cli/cli.h"
#include "khorgos_client.h"

#include <string.h>

/* The default time a request may wait for its answer: far above a commit, so that only a
 * server that is gone or stuck is reported. */
#define CLIENT_TIMEOUT_SECONDS_DEFAULT 60u

int cli_client_option(const char *option, const char *value,
                      struct khorgos_client_options *options, const char **problem) {
    ASSERT(option != NULL && options != NULL);
    ASSERT(problem != NULL);
    u128 number = 0;
    if (strcmp(option, "--addresses") == 0) {
        options->addresses = value;
    } else if (strcmp(option, "--cluster") == 0) {
        *problem = "--cluster takes a decimal u128";
        if (base_u128_parse(value, strlen(value), &options->cluster) != 0) return -1;
    } else if (strcmp(option, "--timeout") == 0) {
        *problem = "--timeout takes seconds from 1 to 1000000";
        if (base_u128_parse(value, strlen(value), &number) != 0 || number == 0 ||
            number > 1000000) {
            return -1;
        }
        options->request_timeout_ns = (u64)number * 1000000000ull;
    } else if (strcmp(option, "--tls-cert") == 0) {
        options->tls_cert = value;
    } else if (strcmp(option, "--tls-key") == 0) {
        options->tls_key = value;
    } else if (strcmp(option, "--tls-ca") == 0) {
        options->tls_ca = value;
    } else {
        return 0;
    }
    return 1;
}

const char *cli_client_options_finish(struct khorgos_client_options *options) {
    ASSERT(options != NULL);
    if (options->addresses == NULL) return "--addresses is needed";
    u32 tls_files = (options->tls_cert != NULL) + (options->tls_key != NULL) +
                    (options->tls_ca != NULL);
    if (tls_files != 0 && tls_files != 3) return "TLS takes --tls-cert, --tls-key and --tls-ca";
    if (options->request_timeout_ns == 0) {
        options->request_timeout_ns = CLIENT_TIMEOUT_SECONDS_DEFAULT * 1000000000ull;
    }
    ASSERT(options->request_timeout_ns > 0);
    return NULL;
}
