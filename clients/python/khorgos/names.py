"""Names of the numbers the server answers with: the engine's errors (khorgos_error), the
settlement statuses (khorgos_settle_status) and TigerBeetle 0.17's create statuses (the ledger
operations' results travel in TigerBeetle's numbers). tests/test_records.py checks each list
against include/khorgos.h and src/server/server_translate.c."""

ERRORS = [
    "ok", "invalid_argument", "invalid_operation", "body_size", "too_many_events",
    "reply_too_small", "capacity_full", "out_of_memory", "clock_not_manual", "io", "no_space",
    "corrupt", "format_version", "exists", "locked", "not_found", "stopped", "message_checksum",
    "message_invalid", "message_cluster", "diverged", "account_not_found", "too_many_entries",
    "message_not_found", "forbidden", "no_session", "request_duplicate", "request_mismatch",
    "request_out_of_order", "timeout", "evicted", "client_closed", "day_not_found",
    "membership_changing", "raft_failed"
]

SETTLE_STATUSES = [
    "ok", "settled", "queued", "waiting", "id_must_not_be_zero", "reserved_field",
    "exists_with_different_fields", "capacity_full", "bic_invalid", "country_invalid",
    "name_invalid", "role_invalid", "currency_invalid", "settlement_agent_exists",
    "settlement_agent_not_found", "participant_not_found", "counterparty_not_found",
    "debtor_not_found", "creditor_not_found", "currency_not_held", "participant_suspended",
    "creditor_suspended", "amount_must_not_be_zero", "limit_kind_invalid",
    "accounts_must_be_different", "type_invalid", "priority_invalid", "value_date_invalid",
    "end_to_end_id_invalid", "uetr_invalid", "purpose_invalid", "settle_by_passed", "day_not_open",
    "after_cut_off", "insufficient_funds", "exceeds_net_debit_cap", "exceeds_bilateral_limit",
    "payment_not_found", "payment_not_queued", "cancelled", "day_already_open", "date_invalid",
    "cut_off_invalid", "queue_mode_invalid", "resolution_disabled",
    "credit_line_below_outstanding", "day_closed", "amount_too_large", "rate_invalid",
    "rate_too_precise", "quote_expired", "pair_unknown", "provider_invalid", "quote_not_found",
    "no_route", "quote_unavailable", "provider_insufficient_funds", "settlement_method_invalid",
    "amount_kind_invalid", "routing_invalid", "window_not_open", "window_already_open",
    "window_not_found", "window_state_invalid", "window_short", "unwound", "aborted",
    "timer_invalid", "in_window", "day_is_holiday", "value_date_holiday", "holiday_exists",
    "holiday_not_found", "holiday_on_open_day", "forbidden", "references_invalid",
    "message_exists_with_different_body", "original_not_found", "exceeds_original_amount"
]

CREATE_ACCOUNT_STATUSES = {
    1: "linked_event_failed", 2: "linked_event_chain_open", 3: "timestamp_must_be_zero", 4:
    "reserved_field", 5: "reserved_flag", 6: "id_must_not_be_zero", 7: "id_must_not_be_int_max",
    8: "flags_are_mutually_exclusive", 9: "debits_pending_must_be_zero", 10:
    "debits_posted_must_be_zero", 11: "credits_pending_must_be_zero", 12:
    "credits_posted_must_be_zero", 13: "ledger_must_not_be_zero", 14: "code_must_not_be_zero",
    15: "exists_with_different_flags", 16: "exists_with_different_user_data_128", 17:
    "exists_with_different_user_data_64", 18: "exists_with_different_user_data_32", 19:
    "exists_with_different_ledger", 20: "exists_with_different_code", 21: "exists", 22:
    "imported_event_expected", 23: "imported_event_not_expected", 24:
    "imported_event_timestamp_out_of_range", 25: "imported_event_timestamp_must_not_advance",
    26: "imported_event_timestamp_must_not_regress", 4294967295: "created"
}

CREATE_TRANSFER_STATUSES = {
    1: "linked_event_failed", 2: "linked_event_chain_open", 3: "timestamp_must_be_zero", 4:
    "reserved_flag", 5: "id_must_not_be_zero", 6: "id_must_not_be_int_max", 7:
    "flags_are_mutually_exclusive", 8: "debit_account_id_must_not_be_zero", 9:
    "debit_account_id_must_not_be_int_max", 10: "credit_account_id_must_not_be_zero", 11:
    "credit_account_id_must_not_be_int_max", 12: "accounts_must_be_different", 13:
    "pending_id_must_be_zero", 14: "pending_id_must_not_be_zero", 15:
    "pending_id_must_not_be_int_max", 16: "pending_id_must_be_different", 17:
    "timeout_reserved_for_pending_transfer", 19: "ledger_must_not_be_zero", 20:
    "code_must_not_be_zero", 21: "debit_account_not_found", 22: "credit_account_not_found", 23:
    "accounts_must_have_the_same_ledger", 24: "transfer_must_have_the_same_ledger_as_accounts",
    25: "pending_transfer_not_found", 26: "pending_transfer_not_pending", 27:
    "pending_transfer_has_different_debit_account_id", 28:
    "pending_transfer_has_different_credit_account_id", 29:
    "pending_transfer_has_different_ledger", 30: "pending_transfer_has_different_code", 31:
    "exceeds_pending_transfer_amount", 32: "pending_transfer_has_different_amount", 33:
    "pending_transfer_already_posted", 34: "pending_transfer_already_voided", 35:
    "pending_transfer_expired", 36: "exists_with_different_flags", 37:
    "exists_with_different_debit_account_id", 38: "exists_with_different_credit_account_id", 39:
    "exists_with_different_amount", 40: "exists_with_different_pending_id", 41:
    "exists_with_different_user_data_128", 42: "exists_with_different_user_data_64", 43:
    "exists_with_different_user_data_32", 44: "exists_with_different_timeout", 45:
    "exists_with_different_code", 46: "exists", 47: "overflows_debits_pending", 48:
    "overflows_credits_pending", 49: "overflows_debits_posted", 50: "overflows_credits_posted",
    51: "overflows_debits", 52: "overflows_credits", 53: "overflows_timeout", 54:
    "exceeds_credits", 55: "exceeds_debits", 56: "imported_event_expected", 57:
    "imported_event_not_expected", 58: "imported_event_timestamp_out_of_range", 59:
    "imported_event_timestamp_must_not_advance", 60:
    "imported_event_timestamp_must_not_regress", 61:
    "imported_event_timestamp_must_postdate_debit_account", 62:
    "imported_event_timestamp_must_postdate_credit_account", 63:
    "imported_event_timeout_must_be_zero", 64: "closing_transfer_must_be_pending", 65:
    "debit_account_already_closed", 66: "credit_account_already_closed", 67:
    "exists_with_different_ledger", 68: "id_already_failed", 4294967295: "created"
}
