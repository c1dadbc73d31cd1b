/*
 * cli_codec_settle.c: record and operation tables of the settlement operations for the JSON
 * front end (see cli_codec_settle.h). Field names are the records' member names
 * (include/khorgos.h); enums are read and written by name: role (bank, liquidity_provider,
 * settlement_agent), type (customer, interbank), priority (urgent, high, normal), state,
 * queue_mode (none, fifo, bypass_fifo), limit_kind (net_debit_cap, bilateral); statuses by
 * their names (khorgos_settle_status_name). Amounts are u128 minor units and currencies ISO
 * numeric codes here: the codec has no field kind yet for a decimal in major units tied to the
 * record's currency (see docs/api.md, Settlement).
 */
#include "cli/cli_codec_settle.h"

#define SETTLE_FIELD_(type, member, kind, element_size, input_only, names, name_count, status) \
    {#member, kind, element_size, sizeof(((type *)0)->member) / (element_size), input_only,   \
     offsetof(type, member), names, name_count, status}
#define SETTLE_SIZE_(type, member) sizeof(((type *)0)->member)
#define SETTLE_UNSIGNED(type, member)                                                          \
    SETTLE_FIELD_(type, member, CLI_FIELD_UNSIGNED, SETTLE_SIZE_(type, member), false, NULL, 0, \
                  NULL)
/* A reserved member is read as one unsigned when its size is one the codec reads (1, 2, 4, 8
 * or 16 bytes), otherwise as an array of bytes (e.g. a 3-byte gap before a u64). */
#define SETTLE_RESERVED_ELEMENT_(size)                                                         \
    ((size) == 1 || (size) == 2 || (size) == 4 || (size) == 8 || (size) == 16 ? (size) : 1)
#define SETTLE_RESERVED(type, member)                                                          \
    SETTLE_FIELD_(type, member, CLI_FIELD_UNSIGNED,                                            \
                  SETTLE_RESERVED_ELEMENT_(SETTLE_SIZE_(type, member)), true, NULL, 0, NULL)
#define SETTLE_TEXT(type, member)                                                              \
    SETTLE_FIELD_(type, member, CLI_FIELD_TEXT, SETTLE_SIZE_(type, member), false, NULL, 0, NULL)
#define SETTLE_ENUM(type, member, names)                                                       \
    SETTLE_FIELD_(type, member, CLI_FIELD_ENUM, SETTLE_SIZE_(type, member), false, names,      \
                  ARRAY_COUNT(names), NULL)
#define SETTLE_FLAGS(type, member, names)                                                      \
    SETTLE_FIELD_(type, member, CLI_FIELD_FLAGS, SETTLE_SIZE_(type, member), false, names,     \
                  ARRAY_COUNT(names), NULL)
#define SETTLE_ARRAY(type, member)                                                             \
    SETTLE_FIELD_(type, member, CLI_FIELD_UNSIGNED, sizeof(((type *)0)->member[0]), false,     \
                  NULL, 0, NULL)
#define SETTLE_STATUS(type, member)                                                            \
    SETTLE_FIELD_(type, member, CLI_FIELD_STATUS, SETTLE_SIZE_(type, member), false, NULL, 0,  \
                  khorgos_settle_status_name)
#define SETTLE_RECORD(name, type, fields) {name, sizeof(type), fields, ARRAY_COUNT(fields)}

/* Enum names by value (NULL: no name for that value). */
static const char *const role_names[] = {NULL, "bank", "liquidity_provider", "settlement_agent"};
static const char *const participant_flag_names[] = {"suspended"};
static const char *const limit_kind_names[] = {NULL, "net_debit_cap", "bilateral"};
static const char *const payment_type_names[] = {"customer", "interbank"};
static const char *const priority_names[] = {"urgent", "high", "normal"};
static const char *const payment_state_names[] = {NULL,        "settled", "queued", "rejected",
                                                  "cancelled", "waiting", "in_window"};
/* Issue 5 (cross-currency and netting). A power-of-ten exponent is an int8_t: the codec has no
 * signed kind, so it is an enumeration whose names are its values as text ("-4"), indexed by
 * the byte's unsigned value; -18..18 are named, others are written as their byte. */
static const char *const exponent_names[256] = {
    [0] = "0", [1] = "1", [2] = "2", [3] = "3", [4] = "4", [5] = "5", [6] = "6", [7] = "7",
    [8] = "8", [9] = "9", [10] = "10", [11] = "11", [12] = "12", [13] = "13", [14] = "14",
    [15] = "15", [16] = "16", [17] = "17", [18] = "18", [238] = "-18", [239] = "-17",
    [240] = "-16", [241] = "-15", [242] = "-14", [243] = "-13", [244] = "-12", [245] = "-11",
    [246] = "-10", [247] = "-9", [248] = "-8", [249] = "-7", [250] = "-6", [251] = "-5",
    [252] = "-4", [253] = "-3", [254] = "-2", [255] = "-1"};
static const char *const amount_kind_names[] = {"debtor", "creditor"};
static const char *const settlement_names[] = {"gross", "net"};
static const char *const route_names[] = {"none", "direct", "vehicle"};
static const char *const quote_state_names[] = {NULL, "live", "withdrawn"};
static const char *const routing_mode_names[] = {NULL, "direct_first", "vehicle_only"};
static const char *const window_state_names[] = {NULL, "open", "closed", "pending_settlement",
                                                 "settled", "aborted"};
_Static_assert(ARRAY_COUNT(window_state_names) == KHORGOS_WINDOW_ABORTED + 1, "window states");
_Static_assert(ARRAY_COUNT(route_names) == KHORGOS_ROUTE_VEHICLE + 1, "routes");
static const char *const queue_mode_names[] = {NULL, "none", "fifo", "bypass_fifo"};
static const char *const day_flag_names[] = {"offsetting_on_entry", "resolution_on_request",
                                             "resolution_on_timer"};
static const char *const result_flag_names[] = {"retry"};

_Static_assert(ARRAY_COUNT(role_names) == KHORGOS_ROLE_SETTLEMENT_AGENT + 1, "a name per role");
_Static_assert(ARRAY_COUNT(priority_names) == KHORGOS_PRIORITY_COUNT, "a name per priority");
_Static_assert(ARRAY_COUNT(queue_mode_names) == KHORGOS_QUEUE_MODE_BYPASS_FIFO + 1, "modes");
_Static_assert(ARRAY_COUNT(payment_state_names) == KHORGOS_PAYMENT_IN_WINDOW + 1, "states");

#define PARTICIPANT struct khorgos_participant
static const struct cli_field participant_fields[] = {
    SETTLE_TEXT(PARTICIPANT, bic),         SETTLE_TEXT(PARTICIPANT, country),
    SETTLE_ENUM(PARTICIPANT, role, role_names),
    SETTLE_FLAGS(PARTICIPANT, flags, participant_flag_names),
    SETTLE_RESERVED(PARTICIPANT, reserved), SETTLE_ARRAY(PARTICIPANT, currencies),
    SETTLE_TEXT(PARTICIPANT, name),        SETTLE_UNSIGNED(PARTICIPANT, timestamp),
    SETTLE_UNSIGNED(PARTICIPANT, number),  SETTLE_RESERVED(PARTICIPANT, reserved_2),
};

#define PARTICIPANT_EVENT struct khorgos_participant_event
static const struct cli_field participant_event_fields[] = {
    SETTLE_UNSIGNED(PARTICIPANT_EVENT, id),
    SETTLE_UNSIGNED(PARTICIPANT_EVENT, amount),
    SETTLE_TEXT(PARTICIPANT_EVENT, bic),
    SETTLE_TEXT(PARTICIPANT_EVENT, counterparty),
    SETTLE_ENUM(PARTICIPANT_EVENT, limit_kind, limit_kind_names),
    SETTLE_RESERVED(PARTICIPANT_EVENT, reserved),
    SETTLE_UNSIGNED(PARTICIPANT_EVENT, currency),
    SETTLE_RESERVED(PARTICIPANT_EVENT, reserved_2),
};

#define PAYMENT struct khorgos_payment
static const struct cli_field payment_fields[] = {
    SETTLE_UNSIGNED(PAYMENT, id),
    SETTLE_UNSIGNED(PAYMENT, amount),
    SETTLE_UNSIGNED(PAYMENT, uetr),
    SETTLE_TEXT(PAYMENT, debtor),
    SETTLE_TEXT(PAYMENT, creditor),
    SETTLE_TEXT(PAYMENT, end_to_end_id),
    SETTLE_TEXT(PAYMENT, purpose),
    SETTLE_ENUM(PAYMENT, type, payment_type_names),
    SETTLE_ENUM(PAYMENT, priority, priority_names),
    SETTLE_ENUM(PAYMENT, state, payment_state_names),
    SETTLE_UNSIGNED(PAYMENT, currency),
    SETTLE_UNSIGNED(PAYMENT, value_date),
    SETTLE_UNSIGNED(PAYMENT, settle_by),
    SETTLE_UNSIGNED(PAYMENT, submitted_at),
    SETTLE_UNSIGNED(PAYMENT, finished_at),
    SETTLE_UNSIGNED(PAYMENT, transfer_id_debit),
    SETTLE_UNSIGNED(PAYMENT, transfer_id_credit),
    SETTLE_UNSIGNED(PAYMENT, transfer_id_credit_draw),
    SETTLE_STATUS(PAYMENT, reason),
    SETTLE_RESERVED(PAYMENT, reserved),
    SETTLE_UNSIGNED(PAYMENT, sequence),
    SETTLE_UNSIGNED(PAYMENT, currency_target),
    SETTLE_ENUM(PAYMENT, amount_kind, amount_kind_names),
    SETTLE_ENUM(PAYMENT, settlement, settlement_names),
    SETTLE_ENUM(PAYMENT, route, route_names),
    SETTLE_ENUM(PAYMENT, rate_exponent, exponent_names),
    SETTLE_UNSIGNED(PAYMENT, rate_mantissa),
    SETTLE_UNSIGNED(PAYMENT, amount_target),
    SETTLE_UNSIGNED(PAYMENT, window),
    SETTLE_UNSIGNED(PAYMENT, provider),
    SETTLE_UNSIGNED(PAYMENT, provider_vehicle),
    SETTLE_RESERVED(PAYMENT, reserved_3),
};

#define QUOTE struct khorgos_fx_quote
static const struct cli_field quote_fields[] = {
    SETTLE_UNSIGNED(QUOTE, id),
    SETTLE_UNSIGNED(QUOTE, amount_max),
    SETTLE_UNSIGNED(QUOTE, amount_used),
    SETTLE_TEXT(QUOTE, provider),
    SETTLE_ENUM(QUOTE, state, quote_state_names),
    SETTLE_UNSIGNED(QUOTE, currency_source),
    SETTLE_UNSIGNED(QUOTE, currency_target),
    SETTLE_ENUM(QUOTE, rate_exponent, exponent_names),
    SETTLE_RESERVED(QUOTE, reserved_2),
    SETTLE_UNSIGNED(QUOTE, rate_mantissa),
    SETTLE_UNSIGNED(QUOTE, expires_at),
    SETTLE_UNSIGNED(QUOTE, timestamp),
    SETTLE_UNSIGNED(QUOTE, number),
};

#define ROUTING struct khorgos_fx_routing
static const struct cli_field routing_fields[] = {
    SETTLE_UNSIGNED(ROUTING, id),
    SETTLE_UNSIGNED(ROUTING, vehicle_currency),
    SETTLE_ENUM(ROUTING, mode, routing_mode_names),
};

#define WINDOW struct khorgos_window
static const struct cli_field window_fields[] = {
    SETTLE_UNSIGNED(WINDOW, id),
    SETTLE_UNSIGNED(WINDOW, number),
    SETTLE_ENUM(WINDOW, state, window_state_names),
    SETTLE_UNSIGNED(WINDOW, close_at),
    SETTLE_UNSIGNED(WINDOW, settle_after),
    SETTLE_UNSIGNED(WINDOW, opened_at),
    SETTLE_UNSIGNED(WINDOW, closed_at),
    SETTLE_UNSIGNED(WINDOW, finished_at),
    SETTLE_UNSIGNED(WINDOW, payment_count),
    SETTLE_UNSIGNED(WINDOW, short_count),
    SETTLE_UNSIGNED(WINDOW, unwound_count),
    SETTLE_STATUS(WINDOW, reason),
    SETTLE_UNSIGNED(WINDOW, interval),
};

#define WINDOW_FILTER struct khorgos_window_filter
static const struct cli_field window_filter_fields[] = {
    SETTLE_UNSIGNED(WINDOW_FILTER, window),
    SETTLE_UNSIGNED(WINDOW_FILTER, currency),
    SETTLE_TEXT(WINDOW_FILTER, bic),
    SETTLE_RESERVED(WINDOW_FILTER, reserved),
    SETTLE_UNSIGNED(WINDOW_FILTER, limit),
};

#define WINDOW_POSITION struct khorgos_window_position
static const struct cli_field window_position_fields[] = {
    SETTLE_TEXT(WINDOW_POSITION, bic),
    SETTLE_UNSIGNED(WINDOW_POSITION, short_flag),
    SETTLE_UNSIGNED(WINDOW_POSITION, currency),
    SETTLE_UNSIGNED(WINDOW_POSITION, window),
    SETTLE_UNSIGNED(WINDOW_POSITION, sent_count),
    SETTLE_UNSIGNED(WINDOW_POSITION, received_count),
    SETTLE_UNSIGNED(WINDOW_POSITION, sent),
    SETTLE_UNSIGNED(WINDOW_POSITION, received),
    SETTLE_UNSIGNED(WINDOW_POSITION, net_debit),
    SETTLE_UNSIGNED(WINDOW_POSITION, net_credit),
    SETTLE_UNSIGNED(WINDOW_POSITION, shortfall),
};

#define FILTER struct khorgos_settle_filter
static const struct cli_field filter_fields[] = {
    SETTLE_TEXT(FILTER, bic), SETTLE_RESERVED(FILTER, reserved), SETTLE_UNSIGNED(FILTER, currency),
    SETTLE_UNSIGNED(FILTER, limit),
};

#define CHANGE struct khorgos_payment_change
static const struct cli_field change_fields[] = {
    SETTLE_UNSIGNED(CHANGE, id), SETTLE_UNSIGNED(CHANGE, payment_id),
    SETTLE_ENUM(CHANGE, priority, priority_names),
};

#define DAY struct khorgos_business_day
static const struct cli_field day_fields[] = {
    SETTLE_UNSIGNED(DAY, id),
    SETTLE_UNSIGNED(DAY, currency),
    SETTLE_UNSIGNED(DAY, date),
    SETTLE_UNSIGNED(DAY, cut_off_customer),
    SETTLE_UNSIGNED(DAY, cut_off_interbank),
    SETTLE_UNSIGNED(DAY, resolution_interval),
    SETTLE_ENUM(DAY, queue_mode, queue_mode_names),
    SETTLE_FLAGS(DAY, flags, day_flag_names),
};

#define RESULT struct khorgos_settle_result
static const struct cli_field result_fields[] = {
    SETTLE_STATUS(RESULT, status),
    SETTLE_UNSIGNED(RESULT, timestamp),
    SETTLE_FLAGS(RESULT, flags, result_flag_names),
    SETTLE_UNSIGNED(RESULT, payments_settled),
};

#define POSITION struct khorgos_position
static const struct cli_field position_fields[] = {
    SETTLE_TEXT(POSITION, bic),
    SETTLE_FLAGS(POSITION, flags, participant_flag_names),
    SETTLE_UNSIGNED(POSITION, currency),
    SETTLE_UNSIGNED(POSITION, opening_balance),
    SETTLE_UNSIGNED(POSITION, balance),
    SETTLE_UNSIGNED(POSITION, sent),
    SETTLE_UNSIGNED(POSITION, received),
    SETTLE_UNSIGNED(POSITION, queued),
    SETTLE_UNSIGNED(POSITION, rejected),
    SETTLE_UNSIGNED(POSITION, credit_line),
    SETTLE_UNSIGNED(POSITION, credit_outstanding),
    SETTLE_UNSIGNED(POSITION, credit_used),
    SETTLE_UNSIGNED(POSITION, credit_repaid),
    SETTLE_UNSIGNED(POSITION, overnight_credit),
    SETTLE_UNSIGNED(POSITION, net_debit_cap),
    SETTLE_UNSIGNED(POSITION, sent_count),
    SETTLE_UNSIGNED(POSITION, received_count),
    SETTLE_UNSIGNED(POSITION, queued_count),
    SETTLE_UNSIGNED(POSITION, rejected_count),
};

struct cli_settle_id {
    u128 id;
};
static const struct cli_field id_fields[] = {SETTLE_UNSIGNED(struct cli_settle_id, id)};

static const struct cli_record record_participant =
    SETTLE_RECORD("participant", PARTICIPANT, participant_fields);
static const struct cli_record record_participant_event =
    SETTLE_RECORD("participant_event", PARTICIPANT_EVENT, participant_event_fields);
static const struct cli_record record_payment = SETTLE_RECORD("payment", PAYMENT, payment_fields);
static const struct cli_record record_filter = SETTLE_RECORD("settle_filter", FILTER, filter_fields);
static const struct cli_record record_change =
    SETTLE_RECORD("payment_change", CHANGE, change_fields);
static const struct cli_record record_day = SETTLE_RECORD("business_day", DAY, day_fields);
static const struct cli_record record_result =
    SETTLE_RECORD("settle_result", RESULT, result_fields);
static const struct cli_record record_position =
    SETTLE_RECORD("position", POSITION, position_fields);
static const struct cli_record record_id = SETTLE_RECORD("id", struct cli_settle_id, id_fields);
static const struct cli_record record_quote = SETTLE_RECORD("fx_quote", QUOTE, quote_fields);
static const struct cli_record record_routing =
    SETTLE_RECORD("fx_routing", ROUTING, routing_fields);
static const struct cli_record record_window = SETTLE_RECORD("window", WINDOW, window_fields);
static const struct cli_record record_window_filter =
    SETTLE_RECORD("window_filter", WINDOW_FILTER, window_filter_fields);
static const struct cli_record record_window_position =
    SETTLE_RECORD("window_position", WINDOW_POSITION, window_position_fields);

#define EVENTS_(name, code, body) {name, code, CLI_BODY_EVENTS, "events", body, "results", &record_result}
static const struct cli_operation settle_operation_table[] = {
    EVENTS_("create_participants", KHORGOS_OPERATION_CREATE_PARTICIPANTS, &record_participant),
    EVENTS_("fund", KHORGOS_OPERATION_FUND, &record_participant_event),
    EVENTS_("defund", KHORGOS_OPERATION_DEFUND, &record_participant_event),
    EVENTS_("set_credit_lines", KHORGOS_OPERATION_SET_CREDIT_LINES, &record_participant_event),
    EVENTS_("set_limits", KHORGOS_OPERATION_SET_LIMITS, &record_participant_event),
    EVENTS_("suspend", KHORGOS_OPERATION_SUSPEND, &record_participant_event),
    EVENTS_("reinstate", KHORGOS_OPERATION_REINSTATE, &record_participant_event),
    EVENTS_("submit_payments", KHORGOS_OPERATION_SUBMIT_PAYMENTS, &record_payment),
    EVENTS_("cancel_payments", KHORGOS_OPERATION_CANCEL_PAYMENTS, &record_change),
    EVENTS_("reprioritize_payments", KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS, &record_change),
    {"lookup_payments", KHORGOS_OPERATION_LOOKUP_PAYMENTS, CLI_BODY_IDS, "ids", &record_id,
     "payments", &record_payment},
    {"get_queue", KHORGOS_OPERATION_GET_QUEUE, CLI_BODY_FILTER, "filter", &record_filter,
     "payments", &record_payment},
    EVENTS_("resolve_gridlock", KHORGOS_OPERATION_RESOLVE_GRIDLOCK, &record_day),
    {"get_positions", KHORGOS_OPERATION_GET_POSITIONS, CLI_BODY_FILTER, "filter", &record_filter,
     "positions", &record_position},
    EVENTS_("open_day", KHORGOS_OPERATION_OPEN_DAY, &record_day),
    EVENTS_("close_day", KHORGOS_OPERATION_CLOSE_DAY, &record_day),
    EVENTS_("set_fx_quotes", KHORGOS_OPERATION_SET_FX_QUOTES, &record_quote),
    {"withdraw_fx_quotes", KHORGOS_OPERATION_WITHDRAW_FX_QUOTES, CLI_BODY_IDS, "ids", &record_id,
     "results", &record_result},
    {"lookup_fx_quotes", KHORGOS_OPERATION_LOOKUP_FX_QUOTES, CLI_BODY_IDS, "ids", &record_id,
     "quotes", &record_quote},
    EVENTS_("set_fx_routing", KHORGOS_OPERATION_SET_FX_ROUTING, &record_routing),
    EVENTS_("open_window", KHORGOS_OPERATION_OPEN_WINDOW, &record_window),
    EVENTS_("close_window", KHORGOS_OPERATION_CLOSE_WINDOW, &record_window),
    EVENTS_("settle_window", KHORGOS_OPERATION_SETTLE_WINDOW, &record_window),
    EVENTS_("unwind_window", KHORGOS_OPERATION_UNWIND_WINDOW, &record_window),
    EVENTS_("abort_window", KHORGOS_OPERATION_ABORT_WINDOW, &record_window),
    {"lookup_windows", KHORGOS_OPERATION_LOOKUP_WINDOWS, CLI_BODY_EVENTS, "windows",
     &record_window, "windows", &record_window},
    {"get_window_positions", KHORGOS_OPERATION_GET_WINDOW_POSITIONS, CLI_BODY_FILTER, "filter",
     &record_window_filter, "positions", &record_window_position},
};
#undef EVENTS_

u32 cli_codec_settle_operation_count(void) {
    ASSERT(ARRAY_COUNT(settle_operation_table) == 27);
    return ARRAY_COUNT(settle_operation_table);
}

const struct cli_operation *cli_codec_settle_operation_at(u32 index) {
    ASSERT(index < ARRAY_COUNT(settle_operation_table));
    ASSERT(settle_operation_table[index].body != NULL);
    return &settle_operation_table[index];
}

const struct cli_operation *cli_codec_settle_operation_find(const char *name, u32 length) {
    ASSERT(name != NULL || length == 0);
    for (u32 index = 0; index < ARRAY_COUNT(settle_operation_table); index++) {
        const char *candidate = settle_operation_table[index].name;
        if (strlen(candidate) == length && memcmp(candidate, name, length) == 0) {
            return &settle_operation_table[index];
        }
    }
    return NULL;
}
