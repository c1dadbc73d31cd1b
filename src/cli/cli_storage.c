/* cli_storage.c: `khorgos format`, `check` and `inspect`. Placeholders until the storage layer
 * lands (its engineer replaces this file): each says so and exits with status 2. */
#include "cli/cli.h"

#include <stdio.h>

static int cli_storage_missing(const char *command) {
    fprintf(stderr, "khorgos: %s needs the storage layer, not built yet\n", command);
    return 2;
}

int cli_format_main(int argc, char **argv) {
    (void)argc, (void)argv;
    return cli_storage_missing("format");
}

int cli_check_main(int argc, char **argv) {
    (void)argc, (void)argv;
    return cli_storage_missing("check");
}

int cli_inspect_main(int argc, char **argv) {
    (void)argc, (void)argv;
    return cli_storage_missing("inspect");
}
