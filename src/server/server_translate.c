/*
 * server_translate.c: TigerBeetle 0.17's operation codes and create-result status numbers to
 * and from the engine's. The engine lists the statuses in TigerBeetle's precedence order under
 * TigerBeetle's names, with numbers of its own; the tables below give TigerBeetle's number for
 * each, in the engine's order, and every entry's name is checked against the engine's.
 */
#include "server/server.h"

#include <pthread.h>
#include <string.h>

struct status_number {
    const char *name;
    u32 wire;
};

/* TigerBeetle 0.17's CreateAccountStatus, in the engine's order. */
static const struct status_number account_statuses[] = {
    {"created", 4294967295u},
    {"linked_event_failed", 1u},
    {"linked_event_chain_open", 2u},
    {"imported_event_expected", 22u},
    {"imported_event_not_expected", 23u},
    {"timestamp_must_be_zero", 3u},
    {"imported_event_timestamp_out_of_range", 24u},
    {"imported_event_timestamp_must_not_advance", 25u},
    {"reserved_field", 4u},
    {"reserved_flag", 5u},
    {"id_must_not_be_zero", 6u},
    {"id_must_not_be_int_max", 7u},
    {"exists_with_different_flags", 15u},
    {"exists_with_different_user_data_128", 16u},
    {"exists_with_different_user_data_64", 17u},
    {"exists_with_different_user_data_32", 18u},
    {"exists_with_different_ledger", 19u},
    {"exists_with_different_code", 20u},
    {"exists", 21u},
    {"flags_are_mutually_exclusive", 8u},
    {"debits_pending_must_be_zero", 9u},
    {"debits_posted_must_be_zero", 10u},
    {"credits_pending_must_be_zero", 11u},
    {"credits_posted_must_be_zero", 12u},
    {"ledger_must_not_be_zero", 13u},
    {"code_must_not_be_zero", 14u},
    {"imported_event_timestamp_must_not_regress", 26u},
};
_Static_assert(ARRAY_COUNT(account_statuses) == KHORGOS_CREATE_ACCOUNT_STATUS_COUNT,
               "one TigerBeetle number per account status");

/* TigerBeetle 0.17's CreateTransferStatus, in the engine's order. */
static const struct status_number transfer_statuses[] = {
    {"created", 4294967295u},
    {"linked_event_failed", 1u},
    {"linked_event_chain_open", 2u},
    {"imported_event_expected", 56u},
    {"imported_event_not_expected", 57u},
    {"timestamp_must_be_zero", 3u},
    {"imported_event_timestamp_out_of_range", 58u},
    {"imported_event_timestamp_must_not_advance", 59u},
    {"reserved_flag", 4u},
    {"id_must_not_be_zero", 5u},
    {"id_must_not_be_int_max", 6u},
    {"exists_with_different_flags", 36u},
    {"exists_with_different_pending_id", 40u},
    {"exists_with_different_timeout", 44u},
    {"exists_with_different_debit_account_id", 37u},
    {"exists_with_different_credit_account_id", 38u},
    {"exists_with_different_amount", 39u},
    {"exists_with_different_user_data_128", 41u},
    {"exists_with_different_user_data_64", 42u},
    {"exists_with_different_user_data_32", 43u},
    {"exists_with_different_ledger", 67u},
    {"exists_with_different_code", 45u},
    {"exists", 46u},
    {"id_already_failed", 68u},
    {"flags_are_mutually_exclusive", 7u},
    {"debit_account_id_must_not_be_zero", 8u},
    {"debit_account_id_must_not_be_int_max", 9u},
    {"credit_account_id_must_not_be_zero", 10u},
    {"credit_account_id_must_not_be_int_max", 11u},
    {"accounts_must_be_different", 12u},
    {"pending_id_must_be_zero", 13u},
    {"pending_id_must_not_be_zero", 14u},
    {"pending_id_must_not_be_int_max", 15u},
    {"pending_id_must_be_different", 16u},
    {"timeout_reserved_for_pending_transfer", 17u},
    {"closing_transfer_must_be_pending", 64u},
    {"ledger_must_not_be_zero", 19u},
    {"code_must_not_be_zero", 20u},
    {"debit_account_not_found", 21u},
    {"credit_account_not_found", 22u},
    {"accounts_must_have_the_same_ledger", 23u},
    {"transfer_must_have_the_same_ledger_as_accounts", 24u},
    {"pending_transfer_not_found", 25u},
    {"pending_transfer_not_pending", 26u},
    {"pending_transfer_has_different_debit_account_id", 27u},
    {"pending_transfer_has_different_credit_account_id", 28u},
    {"pending_transfer_has_different_ledger", 29u},
    {"pending_transfer_has_different_code", 30u},
    {"exceeds_pending_transfer_amount", 31u},
    {"pending_transfer_has_different_amount", 32u},
    {"pending_transfer_already_posted", 33u},
    {"pending_transfer_already_voided", 34u},
    {"pending_transfer_expired", 35u},
    {"imported_event_timestamp_must_not_regress", 60u},
    {"imported_event_timestamp_must_postdate_debit_account", 61u},
    {"imported_event_timestamp_must_postdate_credit_account", 62u},
    {"imported_event_timeout_must_be_zero", 63u},
    {"debit_account_already_closed", 65u},
    {"credit_account_already_closed", 66u},
    {"overflows_debits_pending", 47u},
    {"overflows_credits_pending", 48u},
    {"overflows_debits_posted", 49u},
    {"overflows_credits_posted", 50u},
    {"overflows_debits", 51u},
    {"overflows_credits", 52u},
    {"overflows_timeout", 53u},
    {"exceeds_credits", 54u},
    {"exceeds_debits", 55u},
};
_Static_assert(ARRAY_COUNT(transfer_statuses) == KHORGOS_CREATE_TRANSFER_STATUS_COUNT,
               "one TigerBeetle number per transfer status");

u32 server_account_status_to_wire(u32 status) {
    ASSERT(status < ARRAY_COUNT(account_statuses));
    ASSERT(strcmp(account_statuses[status].name, khorgos_create_account_status_name(status)) ==
           0);
    return account_statuses[status].wire;
}

u32 server_transfer_status_to_wire(u32 status) {
    ASSERT(status < ARRAY_COUNT(transfer_statuses));
    ASSERT(strcmp(transfer_statuses[status].name, khorgos_create_transfer_status_name(status)) ==
           0);
    return transfer_statuses[status].wire;
}

u32 server_operation_to_engine(u8 operation) {
    u32 engine = 0;
    switch (operation) {
    case CLIENT_OPERATION_CREATE_ACCOUNTS: engine = KHORGOS_OPERATION_CREATE_ACCOUNTS; break;
    case CLIENT_OPERATION_CREATE_TRANSFERS: engine = KHORGOS_OPERATION_CREATE_TRANSFERS; break;
    case CLIENT_OPERATION_LOOKUP_ACCOUNTS: engine = KHORGOS_OPERATION_LOOKUP_ACCOUNTS; break;
    case CLIENT_OPERATION_LOOKUP_TRANSFERS: engine = KHORGOS_OPERATION_LOOKUP_TRANSFERS; break;
    case CLIENT_OPERATION_GET_ACCOUNT_TRANSFERS:
        engine = KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS;
        break;
    case CLIENT_OPERATION_GET_ACCOUNT_BALANCES:
        engine = KHORGOS_OPERATION_GET_ACCOUNT_BALANCES;
        break;
    case CLIENT_OPERATION_QUERY_ACCOUNTS: engine = KHORGOS_OPERATION_QUERY_ACCOUNTS; break;
    case CLIENT_OPERATION_QUERY_TRANSFERS: engine = KHORGOS_OPERATION_QUERY_TRANSFERS; break;
    case CLIENT_OPERATION_ADVANCE_CLOCK: engine = KHORGOS_OPERATION_ADVANCE_CLOCK; break;
    default:
        /* Khorgos's own operations keep the engine's codes: the settlement ones (200..). */
        if (client_operation_khorgos(operation) &&
            operation >= KHORGOS_OPERATION_CREATE_PARTICIPANTS &&
            khorgos_operation_name(operation) != NULL) {
            engine = operation;
        }
        break;
    }
    ASSERT(engine == 0 || khorgos_operation_name(engine) != NULL);
    ASSERT(engine == 0 || client_operation_khorgos(operation) ||
           client_operation_name(operation) != NULL);
    return engine;
}

/* The wire code of each engine operation below 256 (0: not served), filled once: every reply
 * names its operation, and the search it replaces tried each wire code in turn. */
static u8 operation_from_engine_table[256];
static pthread_once_t operation_from_engine_once = PTHREAD_ONCE_INIT;

static void operation_from_engine_fill(void) {
    for (u32 wire = CLIENT_OPERATION_STATE_MACHINE_FIRST; wire <= 255u; wire++) {
        u32 engine = server_operation_to_engine((u8)wire);
        ASSERT(engine < ARRAY_COUNT(operation_from_engine_table));
        if (engine != 0 && operation_from_engine_table[engine] == 0) {
            operation_from_engine_table[engine] = (u8)wire;
        }
    }
    ASSERT(operation_from_engine_table[KHORGOS_OPERATION_CREATE_TRANSFERS] != 0);
}

u8 server_operation_from_engine(u32 operation) {
    if (operation == KHORGOS_OPERATION_REGISTER) return CLIENT_OPERATION_REGISTER;
    pthread_once(&operation_from_engine_once, operation_from_engine_fill);
    u8 wire = operation < ARRAY_COUNT(operation_from_engine_table)
                  ? operation_from_engine_table[operation]
                  : 0;
    ASSERT(wire != 0 && "an engine operation the server does not serve");
    return wire;
}

/* The records travel unchanged: check that the engine's are TigerBeetle's, field by field. */
_Static_assert(sizeof(struct khorgos_account) == 128, "Account is 128 bytes");
_Static_assert(offsetof(struct khorgos_account, user_data_128) == 80, "Account.user_data_128");
_Static_assert(offsetof(struct khorgos_account, ledger) == 112, "Account.ledger");
_Static_assert(offsetof(struct khorgos_account, code) == 116, "Account.code");
_Static_assert(offsetof(struct khorgos_account, flags) == 118, "Account.flags");
_Static_assert(offsetof(struct khorgos_account, timestamp) == 120, "Account.timestamp");
_Static_assert(sizeof(struct khorgos_transfer) == 128, "Transfer is 128 bytes");
_Static_assert(offsetof(struct khorgos_transfer, pending_id) == 64, "Transfer.pending_id");
_Static_assert(offsetof(struct khorgos_transfer, timeout) == 108, "Transfer.timeout");
_Static_assert(offsetof(struct khorgos_transfer, ledger) == 112, "Transfer.ledger");
_Static_assert(offsetof(struct khorgos_transfer, code) == 116, "Transfer.code");
_Static_assert(offsetof(struct khorgos_transfer, flags) == 118, "Transfer.flags");
_Static_assert(offsetof(struct khorgos_transfer, timestamp) == 120, "Transfer.timestamp");
_Static_assert(sizeof(struct khorgos_account_filter) == 128, "AccountFilter is 128 bytes");
_Static_assert(offsetof(struct khorgos_account_filter, code) == 44, "AccountFilter.code");
_Static_assert(offsetof(struct khorgos_account_filter, timestamp_min) == 104,
               "AccountFilter.timestamp_min");
_Static_assert(offsetof(struct khorgos_account_filter, limit) == 120, "AccountFilter.limit");
_Static_assert(offsetof(struct khorgos_account_filter, flags) == 124, "AccountFilter.flags");
_Static_assert(sizeof(struct khorgos_query_filter) == 64, "QueryFilter is 64 bytes");
_Static_assert(offsetof(struct khorgos_query_filter, ledger) == 28, "QueryFilter.ledger");
_Static_assert(offsetof(struct khorgos_query_filter, code) == 32, "QueryFilter.code");
_Static_assert(offsetof(struct khorgos_query_filter, timestamp_min) == 40,
               "QueryFilter.timestamp_min");
_Static_assert(offsetof(struct khorgos_query_filter, limit) == 56, "QueryFilter.limit");
_Static_assert(offsetof(struct khorgos_query_filter, flags) == 60, "QueryFilter.flags");
_Static_assert(sizeof(struct khorgos_account_balance) == 128, "AccountBalance is 128 bytes");
_Static_assert(offsetof(struct khorgos_account_balance, timestamp) == 64,
               "AccountBalance.timestamp");
_Static_assert(sizeof(struct khorgos_create_result) == 16, "CreateResult is 16 bytes");
_Static_assert(offsetof(struct khorgos_create_result, status) == 8, "CreateResult.status");
