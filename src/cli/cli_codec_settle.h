/*
 * cli_codec_settle: the JSON front end's tables for the settlement operations (200-215),
 * written in cli_codec.h's table language (struct cli_record, struct cli_operation), so that
 * the codec's generic walks decode and encode them with no settlement-specific code. The codec
 * serves them once cli_operation_find / cli_operation_by_code also look in this table.
 */
#ifndef KHORGOS_CLI_CODEC_SETTLE_H
#define KHORGOS_CLI_CODEC_SETTLE_H

#include "cli/cli_codec.h"

u32 cli_codec_settle_operation_count(void);
const struct cli_operation *cli_codec_settle_operation_at(u32 index);
/* The settlement operation of that name, NULL if none. */
const struct cli_operation *cli_codec_settle_operation_find(const char *name, u32 length);

#endif /* KHORGOS_CLI_CODEC_SETTLE_H */
