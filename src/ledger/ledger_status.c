/*
 * ledger_status.c: the TigerBeetle names of create_accounts and create_transfers statuses.
 *
 * The tables are generated from the X-macros in include/khorgos.h, so a status's number, its
 * name and its place in the precedence order are written once. Names are what the JSON front
 * end writes and reads ("exceeds_credits"); parse compares exact bytes (case matters) and
 * walks the table, which is under 70 entries and used once per result at most.
 */
#include "base/base.h"

#define LEDGER_STATUS_NAME_(name) #name,
static const char *const ledger_account_status_names[] = {
    KHORGOS_CREATE_ACCOUNT_STATUSES(LEDGER_STATUS_NAME_)};
static const char *const ledger_transfer_status_names[] = {
    KHORGOS_CREATE_TRANSFER_STATUSES(LEDGER_STATUS_NAME_)};
#undef LEDGER_STATUS_NAME_

_Static_assert(ARRAY_COUNT(ledger_account_status_names) == KHORGOS_CREATE_ACCOUNT_STATUS_COUNT,
               "one name per account status");
_Static_assert(ARRAY_COUNT(ledger_transfer_status_names) == KHORGOS_CREATE_TRANSFER_STATUS_COUNT,
               "one name per transfer status");

static int ledger_status_parse(const char *const *names, u32 count, const char *name, size_t length,
                               uint32_t *status) {
    ASSERT(names != NULL && count > 0);
    ASSERT(status != NULL);
    if (name == NULL) return -1;
    for (u32 index = 0; index < count; index++) {
        if (strlen(names[index]) == length && memcmp(names[index], name, length) == 0) {
            *status = index;
            return 0;
        }
    }
    return -1;
}

const char *khorgos_create_account_status_name(uint32_t status) {
    ASSERT(ledger_account_status_names[KHORGOS_CREATE_ACCOUNT_created] != NULL);
    if (status >= ARRAY_COUNT(ledger_account_status_names)) return NULL;
    return ledger_account_status_names[status];
}

const char *khorgos_create_transfer_status_name(uint32_t status) {
    ASSERT(ledger_transfer_status_names[KHORGOS_CREATE_TRANSFER_created] != NULL);
    if (status >= ARRAY_COUNT(ledger_transfer_status_names)) return NULL;
    return ledger_transfer_status_names[status];
}

int khorgos_create_account_status_parse(const char *name, size_t length, uint32_t *status) {
    ASSERT(status != NULL);
    return ledger_status_parse(ledger_account_status_names,
                               ARRAY_COUNT(ledger_account_status_names), name, length, status);
}

int khorgos_create_transfer_status_parse(const char *name, size_t length, uint32_t *status) {
    ASSERT(status != NULL);
    return ledger_status_parse(ledger_transfer_status_names,
                               ARRAY_COUNT(ledger_transfer_status_names), name, length, status);
}
