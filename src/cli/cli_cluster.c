/*
 * cli_cluster.c: the replica options of `khorgos format` (docs/replication.md, "Formatting a
 * replica"): --cluster ID --replica N --replica-count 3|5, all three or none of the replica
 * ones, and optionally --generation G (a replacement's) and --voters V (the first
 * configuration's voters). The replica options are taken out of format's arguments before the
 * storage options are read; --cluster stays, since a single node records its cluster id too (in the
 * superblock). Once the data directory is formatted the identity goes to DIR/cluster
 * (cluster.h, "Identity").
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cluster/cluster.h"
#include "storage/storage.h"

static int cli_cluster_usage(const char *problem) {
    ASSERT(problem != NULL);
    fprintf(stderr,
            "khorgos format: %s\n"
            "usage: khorgos format --data DIR --cluster ID --replica N --replica-count 3|5 ...\n"
            "  --cluster ID         the cluster's id (decimal u128), as clients name it\n"
            "  --replica N          this replica's index, 0 to the replica count - 1\n"
            "  --replica-count 3|5  replicas in the cluster (the slots of its address list)\n"
            "  --generation G       0 (default); a replacement of a replica whose data was\n"
            "                       lost takes its predecessor's generation plus one\n"
            "  --voters V           the replicas 0 .. V-1 start as the cluster's voters, the\n"
            "                       others join when added (default: all)\n"
            "  (--replica and --replica-count need --cluster; the other options as for a\n"
            "  single node)\n",
            problem);
    return CLI_EXIT_USAGE;
}

/* Reads one replica option's value into the identity; false when it is not one or bad. */
static bool cli_cluster_option(const char *option, const char *value,
                               struct cluster_identity *identity, u32 *seen) {
    ASSERT(option != NULL && identity != NULL && seen != NULL);
    u128 number = 0;
    if (value == NULL || base_u128_parse(value, strlen(value), &number) != 0) return false;
    if (strcmp(option, "--cluster") == 0) {
        identity->cluster = number;
        *seen |= 1u;
    } else if (strcmp(option, "--replica") == 0 && number < CLUSTER_REPLICA_COUNT_MAX) {
        identity->replica = (u8)number;
        *seen |= 2u;
    } else if (strcmp(option, "--replica-count") == 0 && number <= CLUSTER_REPLICA_COUNT_MAX) {
        identity->replica_count = (u8)number;
        *seen |= 4u;
    } else if (strcmp(option, "--generation") == 0 && number <= CLUSTER_GENERATION_MAX) {
        identity->generation = (u32)number;
        *seen |= 8u;
    } else if (strcmp(option, "--voters") == 0 && number >= 1 &&
               number <= CLUSTER_REPLICA_COUNT_MAX) {
        identity->voters = (u8)number;
        *seen |= 16u;
    } else {
        return false;
    }
    return true;
}

int cli_format_cluster_options(int *argc, char **argv, struct cluster_identity *identity,
                               bool *clustered) {
    ASSERT(argc != NULL && argv != NULL);
    ASSERT(identity != NULL && clustered != NULL);
    memset(identity, 0, sizeof(*identity));
    u32 seen = 0;
    int kept = 1;
    for (int index = 1; index < *argc; index++) {
        const char *option = argv[index];
        bool cluster_option = strcmp(option, "--cluster") == 0;
        bool replica_option = strcmp(option, "--replica") == 0 ||
                              strcmp(option, "--replica-count") == 0 ||
                              strcmp(option, "--generation") == 0 ||
                              strcmp(option, "--voters") == 0;
        if (!replica_option) argv[kept++] = argv[index];
        if (!replica_option && !cluster_option) continue;
        const char *value = index + 1 < *argc ? argv[index + 1] : NULL;
        if (!cli_cluster_option(option, value, identity, &seen)) {
            return cli_cluster_usage("--cluster takes a decimal u128, --replica 0 to 4, "
                                     "--replica-count 3 or 5, --generation 0 to 1000000, "
                                     "--voters 1 to 5");
        }
        if (cluster_option) argv[kept++] = argv[index + 1]; /* the storage options read it */
        index++;
    }
    *argc = kept;
    argv[kept] = NULL;
    *clustered = (seen & 30u) != 0; /* a replica option: --cluster alone is a single node */
    if (*clustered && (seen & 7u) != 7u) {
        return cli_cluster_usage("--replica and --replica-count go together, with --cluster");
    }
    if (*clustered && !cluster_identity_valid(identity)) {
        return cli_cluster_usage("--replica-count is 3 or 5, --replica is below it, and "
                                 "--voters at most it");
    }
    return -1;
}

int cli_format_cluster_write(const char *data, const struct cluster_identity *identity) {
    ASSERT(data != NULL && identity != NULL);
    ASSERT(cluster_identity_valid(identity));
    char message[STORAGE_MESSAGE_BYTES_MAX];
    khorgos_error error = cluster_identity_write(data, identity, message, sizeof(message));
    if (error == KHORGOS_ERROR_ok) {
        char cluster[LIMIT_U128_DECIMAL_DIGITS_MAX + 1];
        base_u128_format(identity->cluster, cluster);
        printf("replica %u of %u in cluster %s, generation %u (%s/%s)\n", identity->replica,
               identity->replica_count, cluster, identity->generation, data,
               CLUSTER_IDENTITY_NAME);
        return CLI_EXIT_OK;
    }
    fprintf(stderr, "khorgos format: %s (%s); the data directory is removed\n", message,
            khorgos_error_name(error));
    /* A failed format takes back what it made, so the next one finds the directory empty. */
    struct storage_io *io = NULL;
    if (storage_io_posix_create(data, STORAGE_POSIX_WRITE, &io, message) == KHORGOS_ERROR_ok) {
        storage_io_posix_remove(io);
    }
    return CLI_EXIT_FAILED;
}
