/*
 * ledger_accounts.c: create_accounts, with TigerBeetle 0.17's statuses in its precedence order.
 *
 * The batch driver (ledger_state.c) answers the statuses that depend on the batch:
 * linked_event_failed, linked_event_chain_open, imported_event_expected/not_expected,
 * timestamp_must_be_zero, imported_event_timestamp_out_of_range and _must_not_advance. Then,
 * for one account, in this order (the first that applies is the answer):
 *   reserved_field            reserved != 0
 *   reserved_flag             a flag bit above closed
 *   id_must_not_be_zero / id_must_not_be_int_max
 *   exists_with_different_{flags, user_data_128, user_data_64, user_data_32, ledger, code},
 *   exists                    an account with that id exists (compared field by field; the
 *                             result carries the existing account's timestamp)
 *   flags_are_mutually_exclusive   debits_must_not_exceed_credits with
 *                                  credits_must_not_exceed_debits
 *   debits_pending/debits_posted/credits_pending/credits_posted_must_be_zero
 *   ledger_must_not_be_zero / code_must_not_be_zero
 *   imported_event_timestamp_must_not_regress   (imported only) the timestamp is not after the
 *                             last account's, or a transfer has exactly that timestamp
 * Then the account is appended with the event's timestamp (the user's when imported). An
 * account may be created closed. create_accounts never burns ids (no status is transient).
 */
#include "ledger/ledger_private.h"

static u32 ledger_account_exists(const struct khorgos_account *account,
                                 const struct khorgos_account *existing, u64 *result_timestamp) {
    ASSERT(account->id == existing->id);
    ASSERT(existing->timestamp > 0);
    if (account->flags != existing->flags)
        return KHORGOS_CREATE_ACCOUNT_exists_with_different_flags;
    if (account->user_data_128 != existing->user_data_128) {
        return KHORGOS_CREATE_ACCOUNT_exists_with_different_user_data_128;
    }
    if (account->user_data_64 != existing->user_data_64) {
        return KHORGOS_CREATE_ACCOUNT_exists_with_different_user_data_64;
    }
    if (account->user_data_32 != existing->user_data_32) {
        return KHORGOS_CREATE_ACCOUNT_exists_with_different_user_data_32;
    }
    if (account->ledger != existing->ledger) {
        return KHORGOS_CREATE_ACCOUNT_exists_with_different_ledger;
    }
    if (account->code != existing->code) return KHORGOS_CREATE_ACCOUNT_exists_with_different_code;
    *result_timestamp = existing->timestamp;
    return KHORGOS_CREATE_ACCOUNT_exists;
}

/* The checks after the idempotency check, in precedence order. */
static u32 ledger_account_validate(const struct ledger *ledger,
                                   const struct khorgos_account *account) {
    ASSERT(account->id != 0 && account->id != U128_MAX);
    ASSERT(account->reserved == 0);
    const u16 limits = KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS |
                       KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    if ((account->flags & limits) == limits) {
        return KHORGOS_CREATE_ACCOUNT_flags_are_mutually_exclusive;
    }
    if (account->debits_pending != 0) return KHORGOS_CREATE_ACCOUNT_debits_pending_must_be_zero;
    if (account->debits_posted != 0) return KHORGOS_CREATE_ACCOUNT_debits_posted_must_be_zero;
    if (account->credits_pending != 0) return KHORGOS_CREATE_ACCOUNT_credits_pending_must_be_zero;
    if (account->credits_posted != 0) return KHORGOS_CREATE_ACCOUNT_credits_posted_must_be_zero;
    if (account->ledger == 0) return KHORGOS_CREATE_ACCOUNT_ledger_must_not_be_zero;
    if (account->code == 0) return KHORGOS_CREATE_ACCOUNT_code_must_not_be_zero;
    if (account->flags & KHORGOS_ACCOUNT_IMPORTED) {
        ASSERT(account->timestamp > 0);
        bool regressed =
            ledger->account_count > 0 &&
            account->timestamp <= ledger->accounts[ledger->account_count - 1].timestamp;
        if (regressed || ledger_transfer_timestamp_exists(ledger, account->timestamp)) {
            return KHORGOS_CREATE_ACCOUNT_imported_event_timestamp_must_not_regress;
        }
    }
    return KHORGOS_CREATE_ACCOUNT_created;
}

static u32 ledger_account_apply(struct ledger *ledger, const struct ledger_event *event,
                                u64 *result_timestamp) {
    const struct khorgos_account *account = event->record;
    ASSERT(ledger->account_count < ledger->config.account_count_max);
    ASSERT(result_timestamp != NULL && *result_timestamp == event->timestamp);
    if (account->reserved != 0) return KHORGOS_CREATE_ACCOUNT_reserved_field;
    if (account->flags & ~KHORGOS_ACCOUNT_FLAGS_ALL) return KHORGOS_CREATE_ACCOUNT_reserved_flag;
    if (account->id == 0) return KHORGOS_CREATE_ACCOUNT_id_must_not_be_zero;
    if (account->id == U128_MAX) return KHORGOS_CREATE_ACCOUNT_id_must_not_be_int_max;
    u32 existing = 0;
    if (ledger_account_index(ledger, account->id, &existing)) {
        return ledger_account_exists(account, &ledger->accounts[existing], result_timestamp);
    }
    u32 status = ledger_account_validate(ledger, account);
    if (status != KHORGOS_CREATE_ACCOUNT_created) return status;

    u32 index = ledger->account_count++;
    ledger->accounts[index] = *account;
    if ((account->flags & KHORGOS_ACCOUNT_IMPORTED) == 0) {
        ledger->accounts[index].timestamp = event->timestamp;
    }
    base_id_map_insert(&ledger->account_map, account->id, index);
    *result_timestamp = ledger->accounts[index].timestamp;
    ASSERT(index == 0 || ledger->accounts[index - 1].timestamp < *result_timestamp);
    return KHORGOS_CREATE_ACCOUNT_created;
}

static const struct ledger_batch_kind ledger_account_kind = {
    .record_size = sizeof(struct khorgos_account),
    .imported_flag = KHORGOS_ACCOUNT_IMPORTED,
    .status_exists = KHORGOS_CREATE_ACCOUNT_exists,
    .apply = ledger_account_apply,
    .failed = NULL,
    .prefetch = NULL, /* accounts are few: their map is usually cached */
};

void ledger_create_accounts(struct ledger *ledger, u64 timestamp,
                            const struct khorgos_account *events, u32 count,
                            struct khorgos_create_result *results) {
    ASSERT(ledger != NULL);
    ASSERT(ledger_capacity_accounts(ledger, count));
    ledger_batch_apply(ledger, &ledger_account_kind, timestamp, events, count, results);
    ASSERT(ledger->account_map.count == ledger->account_count);
}
