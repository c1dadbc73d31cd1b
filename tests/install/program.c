/* program.c: a program built against an installed Khorgos (tests/install.sh): it creates an
 * account in an engine in memory, looks it up, and prints what it found. */
#include <khorgos.h>

#include <stdio.h>
#include <string.h>

int main(void) {
    struct khorgos_config config = {.account_count_max = 16, .transfer_count_max = 16};
    struct khorgos *engine = NULL;
    if (khorgos_open_memory(&engine, &config) != KHORGOS_ERROR_ok) return 1;
    struct khorgos_account account = {.id = 42, .ledger = 398, .code = 1};
    struct khorgos_create_result result;
    struct khorgos_request create = {.operation = KHORGOS_OPERATION_CREATE_ACCOUNTS,
                                     .body_size = sizeof(account), .body = &account,
                                     .reply = &result, .reply_capacity = sizeof(result)};
    if (khorgos_execute(engine, &create, 1) != KHORGOS_ERROR_ok) return 1;
    khorgos_u128 id = 42;
    struct khorgos_account found;
    memset(&found, 0, sizeof(found));
    struct khorgos_request lookup = {.operation = KHORGOS_OPERATION_LOOKUP_ACCOUNTS,
                                     .body_size = sizeof(id), .body = &id, .reply = &found,
                                     .reply_capacity = sizeof(found)};
    if (khorgos_execute(engine, &lookup, 1) != KHORGOS_ERROR_ok) return 1;
    printf("create=%s lookup=%u ledger=%u\n", khorgos_create_account_status_name(result.status),
           (unsigned)(lookup.reply_size / sizeof(found)), found.ledger);
    khorgos_close(engine);
    return 0;
}
