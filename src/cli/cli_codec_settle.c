/*
 * cli_codec_settle.c: record and operation tables of the settlement operations for the JSON
 * front end (see cli_codec_settle.h). Field names are the records' member names
 * (include/khorgos.h), except "rate" (rate_mantissa and rate_exponent as one decimal string);
 * enums are read and written by name: role (bank, liquidity_provider, settlement_agent), type
 * (customer, interbank), priority (urgent, high, normal; normal when a payment leaves it out,
 * as TARGET2 does, although the binary 0 is urgent), state, queue_mode (none, fifo,
 * bypass_fifo), limit_kind (net_debit_cap, bilateral); statuses by their names
 * (khorgos_settle_status_name).
 *
 * Currencies are ISO 4217 letters ("KZT"); every settlement amount is a decimal string in the
 * major unit of its record's currency (cli_codec.h, "amount"), which scales it as follows:
 *   participant event amount       its currency
 *   payment amount                 currency
 *   payment amount_target          currency_target, or currency when that is 0
 *   quote amount_max, amount_used  currency_source
 *   position, window position      currency
 * Which amounts must be positive (CLI_RULE_POSITIVE): a payment's amount and amount_target
 * (either may be left out: a creditor-amount payment gives only amount_target), fund and
 * defund amounts, a quote's amount_max. A credit line may be zero; a limit may be zero or
 * "none" (no limit). The ledger's records (cli_codec.c) keep integer minor units.
 */
#include "cli/cli_codec_settle.h"

#define SETTLE_FIELD_(type, member, kind_, element_size, input_only_, names_, name_count_,     \
                      status)                                                                  \
    {.name = #member, .kind = kind_, .size = element_size,                                     \
     .count = sizeof(((type *)0)->member) / (element_size), .input_only = input_only_,         \
     .offset = offsetof(type, member), .names = names_, .name_count = name_count_,             \
     .status_name = status, .scale_offset = CLI_OFFSET_NONE,                                   \
     .scale_fallback_offset = CLI_OFFSET_NONE}
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
/* An enum that takes `absent` when not given (a payment's priority: normal, TARGET2's). */
#define SETTLE_ENUM_ABSENT(type, member, names_, absent)                                       \
    {.name = #member, .kind = CLI_FIELD_ENUM, .size = SETTLE_SIZE_(type, member), .count = 1,  \
     .offset = offsetof(type, member), .names = names_, .name_count = ARRAY_COUNT(names_),     \
     .absent_value = absent, .scale_offset = CLI_OFFSET_NONE,                                  \
     .scale_fallback_offset = CLI_OFFSET_NONE}
/* A currency (or, with count > 1, an array of them): letters; see cli_codec.h. */
#define SETTLE_CURRENCY(type, member)                                                          \
    SETTLE_FIELD_(type, member, CLI_FIELD_CURRENCY, sizeof(uint32_t), false, NULL, 0, NULL)
/* An amount scaled by the record's currency `currency` (and `fallback` when that one is 0). */
#define SETTLE_AMOUNT_(type, member, currency, fallback, rules_)                               \
    {.name = #member, .kind = CLI_FIELD_AMOUNT, .size = 16, .count = 1,                        \
     .offset = offsetof(type, member), .rules = rules_,                                        \
     .scale_offset = offsetof(type, currency), .scale_fallback_offset = fallback}
#define SETTLE_AMOUNT(type, member, currency, rules)                                           \
    SETTLE_AMOUNT_(type, member, currency, CLI_OFFSET_NONE, rules)
#define SETTLE_AMOUNT_OR(type, member, currency, fallback, rules)                              \
    SETTLE_AMOUNT_(type, member, currency, offsetof(type, fallback), rules)
/* "rate": rate_mantissa and rate_exponent as one positive decimal string. */
#define SETTLE_RATE(type)                                                                      \
    {.name = "rate", .kind = CLI_FIELD_RATE, .size = 8, .count = 1,                            \
     .offset = offsetof(type, rate_mantissa), .rules = CLI_RULE_POSITIVE,                      \
     .scale_offset = offsetof(type, rate_exponent), .scale_fallback_offset = CLI_OFFSET_NONE}
#define SETTLE_RECORD(name, type, fields) {name, sizeof(type), fields, ARRAY_COUNT(fields)}

/* Enum names by value (NULL: no name for that value). */
static const char *const role_names[] = {NULL, "bank", "liquidity_provider", "settlement_agent"};
static const char *const participant_flag_names[] = {"suspended"};
static const char *const limit_kind_names[] = {NULL, "net_debit_cap", "bilateral"};
static const char *const payment_type_names[] = {"customer", "interbank"};
static const char *const priority_names[] = {"urgent", "high", "normal"};
static const char *const payment_state_names[] = {NULL,        "settled", "queued", "rejected",
                                                  "cancelled", "waiting", "in_window"};
static const char *const settled_in_names[] = {"none", "alone", "set", "window"};
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
_Static_assert(ARRAY_COUNT(settled_in_names) == KHORGOS_SETTLED_IN_WINDOW + 1, "settled_in");

#define PARTICIPANT struct khorgos_participant
static const struct cli_field participant_fields[] = {
    SETTLE_TEXT(PARTICIPANT, bic),         SETTLE_TEXT(PARTICIPANT, country),
    SETTLE_ENUM(PARTICIPANT, role, role_names),
    SETTLE_FLAGS(PARTICIPANT, flags, participant_flag_names),
    SETTLE_RESERVED(PARTICIPANT, reserved), SETTLE_CURRENCY(PARTICIPANT, currencies),
    SETTLE_TEXT(PARTICIPANT, name),        SETTLE_UNSIGNED(PARTICIPANT, timestamp),
    SETTLE_UNSIGNED(PARTICIPANT, number),  SETTLE_RESERVED(PARTICIPANT, reserved_2),
};

#define PARTICIPANT_EVENT struct khorgos_participant_event
/* fund and defund move a positive amount; a credit line may be zero; a limit may be zero or
 * "none" (KHORGOS_AMOUNT_MAX: no limit); suspend and reinstate name a participant only. */
#define PARTICIPANT_EVENT_FIELDS_(amount_rules)                                               \
    SETTLE_UNSIGNED(PARTICIPANT_EVENT, id),                                                    \
    SETTLE_AMOUNT(PARTICIPANT_EVENT, amount, currency, amount_rules),                          \
    SETTLE_TEXT(PARTICIPANT_EVENT, bic), SETTLE_TEXT(PARTICIPANT_EVENT, counterparty),         \
    SETTLE_ENUM(PARTICIPANT_EVENT, limit_kind, limit_kind_names),                              \
    SETTLE_RESERVED(PARTICIPANT_EVENT, reserved), SETTLE_CURRENCY(PARTICIPANT_EVENT, currency), \
    SETTLE_RESERVED(PARTICIPANT_EVENT, reserved_2)
static const struct cli_field participant_fund_fields[] = {
    PARTICIPANT_EVENT_FIELDS_(CLI_RULE_POSITIVE)};
static const struct cli_field participant_credit_fields[] = {PARTICIPANT_EVENT_FIELDS_(0)};
static const struct cli_field participant_limit_fields[] = {
    PARTICIPANT_EVENT_FIELDS_(CLI_RULE_NONE_IS_MAX)};
static const struct cli_field participant_status_fields[] = {
    SETTLE_UNSIGNED(PARTICIPANT_EVENT, id), SETTLE_TEXT(PARTICIPANT_EVENT, bic)};
#undef PARTICIPANT_EVENT_FIELDS_

#define PAYMENT struct khorgos_payment
static const struct cli_field payment_fields[] = {
    SETTLE_UNSIGNED(PAYMENT, id),
    SETTLE_AMOUNT(PAYMENT, amount, currency, CLI_RULE_POSITIVE),
    SETTLE_UNSIGNED(PAYMENT, uetr),
    SETTLE_TEXT(PAYMENT, debtor),
    SETTLE_TEXT(PAYMENT, creditor),
    SETTLE_TEXT(PAYMENT, end_to_end_id),
    SETTLE_TEXT(PAYMENT, purpose),
    SETTLE_ENUM(PAYMENT, type, payment_type_names),
    SETTLE_ENUM_ABSENT(PAYMENT, priority, priority_names, KHORGOS_PRIORITY_NORMAL),
    SETTLE_ENUM(PAYMENT, state, payment_state_names),
    SETTLE_CURRENCY(PAYMENT, currency),
    SETTLE_UNSIGNED(PAYMENT, value_date),
    SETTLE_UNSIGNED(PAYMENT, settle_by),
    SETTLE_UNSIGNED(PAYMENT, submitted_at),
    SETTLE_UNSIGNED(PAYMENT, finished_at),
    SETTLE_UNSIGNED(PAYMENT, transfer_id_debit),
    SETTLE_UNSIGNED(PAYMENT, transfer_id_credit),
    SETTLE_UNSIGNED(PAYMENT, transfer_id_credit_draw),
    SETTLE_STATUS(PAYMENT, reason),
    SETTLE_ENUM(PAYMENT, settled_in, settled_in_names),
    SETTLE_RESERVED(PAYMENT, reserved),
    SETTLE_UNSIGNED(PAYMENT, sequence),
    SETTLE_CURRENCY(PAYMENT, currency_target),
    SETTLE_ENUM(PAYMENT, amount_kind, amount_kind_names),
    SETTLE_ENUM(PAYMENT, settlement, settlement_names),
    SETTLE_ENUM(PAYMENT, route, route_names),
    SETTLE_RATE(PAYMENT),
    SETTLE_AMOUNT_OR(PAYMENT, amount_target, currency_target, currency, CLI_RULE_POSITIVE),
    SETTLE_UNSIGNED(PAYMENT, window),
    SETTLE_UNSIGNED(PAYMENT, provider),
    SETTLE_UNSIGNED(PAYMENT, provider_vehicle),
    SETTLE_RESERVED(PAYMENT, reserved_3),
};

#define QUOTE struct khorgos_fx_quote
static const struct cli_field quote_fields[] = {
    SETTLE_UNSIGNED(QUOTE, id),
    SETTLE_AMOUNT(QUOTE, amount_max, currency_source, CLI_RULE_POSITIVE),
    SETTLE_AMOUNT(QUOTE, amount_used, currency_source, 0),
    SETTLE_TEXT(QUOTE, provider),
    SETTLE_ENUM(QUOTE, state, quote_state_names),
    SETTLE_CURRENCY(QUOTE, currency_source),
    SETTLE_CURRENCY(QUOTE, currency_target),
    SETTLE_RATE(QUOTE),
    SETTLE_RESERVED(QUOTE, reserved_2),
    SETTLE_UNSIGNED(QUOTE, expires_at),
    SETTLE_UNSIGNED(QUOTE, timestamp),
    SETTLE_UNSIGNED(QUOTE, number),
};

#define ROUTING struct khorgos_fx_routing
static const struct cli_field routing_fields[] = {
    SETTLE_UNSIGNED(ROUTING, id),
    SETTLE_CURRENCY(ROUTING, vehicle_currency),
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
    SETTLE_CURRENCY(WINDOW_FILTER, currency),
    SETTLE_TEXT(WINDOW_FILTER, bic),
    SETTLE_RESERVED(WINDOW_FILTER, reserved),
    SETTLE_UNSIGNED(WINDOW_FILTER, limit),
};

#define WINDOW_POSITION struct khorgos_window_position
static const struct cli_field window_position_fields[] = {
    SETTLE_TEXT(WINDOW_POSITION, bic),
    SETTLE_UNSIGNED(WINDOW_POSITION, short_flag),
    SETTLE_CURRENCY(WINDOW_POSITION, currency),
    SETTLE_UNSIGNED(WINDOW_POSITION, window),
    SETTLE_UNSIGNED(WINDOW_POSITION, sent_count),
    SETTLE_UNSIGNED(WINDOW_POSITION, received_count),
    SETTLE_AMOUNT(WINDOW_POSITION, sent, currency, 0),
    SETTLE_AMOUNT(WINDOW_POSITION, received, currency, 0),
    SETTLE_AMOUNT(WINDOW_POSITION, net_debit, currency, 0),
    SETTLE_AMOUNT(WINDOW_POSITION, net_credit, currency, 0),
    SETTLE_AMOUNT(WINDOW_POSITION, shortfall, currency, 0),
};

#define FILTER struct khorgos_settle_filter
static const struct cli_field filter_fields[] = {
    SETTLE_TEXT(FILTER, bic), SETTLE_RESERVED(FILTER, reserved), SETTLE_CURRENCY(FILTER, currency),
    SETTLE_UNSIGNED(FILTER, limit),
};

#define CHANGE struct khorgos_payment_change
static const struct cli_field change_fields[] = {
    SETTLE_UNSIGNED(CHANGE, id), SETTLE_UNSIGNED(CHANGE, payment_id),
    SETTLE_ENUM(CHANGE, priority, priority_names), SETTLE_TEXT(CHANGE, debtor),
    SETTLE_UNSIGNED(CHANGE, message_checksum),
};

#define DAY struct khorgos_business_day
static const struct cli_field day_fields[] = {
    SETTLE_UNSIGNED(DAY, id),
    SETTLE_CURRENCY(DAY, currency),
    SETTLE_UNSIGNED(DAY, date),
    SETTLE_UNSIGNED(DAY, cut_off_customer),
    SETTLE_UNSIGNED(DAY, cut_off_interbank),
    SETTLE_UNSIGNED(DAY, resolution_interval),
    SETTLE_ENUM(DAY, queue_mode, queue_mode_names),
    SETTLE_FLAGS(DAY, flags, day_flag_names),
};

/* set_holidays: the date is a JSON integer YYYYMMDD, as open_day's date and a payment's
 * value_date are. */
#define HOLIDAY struct khorgos_holiday
static const char *const holiday_flag_names[] = {"remove"};
_Static_assert((1u << ARRAY_COUNT(holiday_flag_names)) - 1 == KHORGOS_HOLIDAY_REMOVE,
               "a name per holiday flag");
static const struct cli_field holiday_fields[] = {
    SETTLE_UNSIGNED(HOLIDAY, id),
    SETTLE_CURRENCY(HOLIDAY, currency),
    SETTLE_UNSIGNED(HOLIDAY, date),
    SETTLE_FLAGS(HOLIDAY, flags, holiday_flag_names),
    SETTLE_RESERVED(HOLIDAY, reserved),
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
    SETTLE_CURRENCY(POSITION, currency),
    SETTLE_AMOUNT(POSITION, opening_balance, currency, 0),
    SETTLE_AMOUNT(POSITION, balance, currency, 0),
    SETTLE_AMOUNT(POSITION, sent, currency, 0),
    SETTLE_AMOUNT(POSITION, received, currency, 0),
    SETTLE_AMOUNT(POSITION, queued, currency, 0),
    SETTLE_AMOUNT(POSITION, rejected, currency, 0),
    SETTLE_AMOUNT(POSITION, credit_line, currency, 0),
    SETTLE_AMOUNT(POSITION, credit_outstanding, currency, 0),
    SETTLE_AMOUNT(POSITION, credit_used, currency, 0),
    SETTLE_AMOUNT(POSITION, credit_repaid, currency, 0),
    SETTLE_AMOUNT(POSITION, overnight_credit, currency, 0),
    SETTLE_AMOUNT(POSITION, net_debit_cap, currency, CLI_RULE_NONE_IS_MAX),
    SETTLE_UNSIGNED(POSITION, sent_count),
    SETTLE_UNSIGNED(POSITION, received_count),
    SETTLE_UNSIGNED(POSITION, queued_count),
    SETTLE_UNSIGNED(POSITION, rejected_count),
    SETTLE_AMOUNT(POSITION, closing_balance, currency, 0),
};

struct cli_settle_id {
    u128 id;
};
static const struct cli_field id_fields[] = {SETTLE_UNSIGNED(struct cli_settle_id, id)};

static const struct cli_record record_participant =
    SETTLE_RECORD("participant", PARTICIPANT, participant_fields);
static const struct cli_record record_participant_fund =
    SETTLE_RECORD("participant_event", PARTICIPANT_EVENT, participant_fund_fields);
static const struct cli_record record_participant_credit =
    SETTLE_RECORD("participant_event", PARTICIPANT_EVENT, participant_credit_fields);
static const struct cli_record record_participant_limit =
    SETTLE_RECORD("participant_event", PARTICIPANT_EVENT, participant_limit_fields);
static const struct cli_record record_participant_status =
    SETTLE_RECORD("participant_event", PARTICIPANT_EVENT, participant_status_fields);
static const struct cli_record record_holiday = SETTLE_RECORD("holiday", HOLIDAY, holiday_fields);
static const struct cli_record record_payment = SETTLE_RECORD("payment", PAYMENT, payment_fields);
static const struct cli_record record_filter =
    SETTLE_RECORD("settle_filter", FILTER, filter_fields);
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

#define EVENTS_(name, code, body) \
    {name, code, CLI_BODY_EVENTS, "events", body, "results", &record_result}
static const struct cli_operation settle_operation_table[] = {
    EVENTS_("create_participants", KHORGOS_OPERATION_CREATE_PARTICIPANTS, &record_participant),
    EVENTS_("fund", KHORGOS_OPERATION_FUND, &record_participant_fund),
    EVENTS_("defund", KHORGOS_OPERATION_DEFUND, &record_participant_fund),
    EVENTS_("set_credit_lines", KHORGOS_OPERATION_SET_CREDIT_LINES, &record_participant_credit),
    EVENTS_("set_limits", KHORGOS_OPERATION_SET_LIMITS, &record_participant_limit),
    EVENTS_("suspend", KHORGOS_OPERATION_SUSPEND, &record_participant_status),
    EVENTS_("reinstate", KHORGOS_OPERATION_REINSTATE, &record_participant_status),
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
    EVENTS_("set_holidays", KHORGOS_OPERATION_SET_HOLIDAYS, &record_holiday),
};
#undef EVENTS_

/* The members that scale amounts and rates have the sizes the codec reads there. */
_Static_assert(sizeof(((PAYMENT *)0)->currency) == 4 &&
                   sizeof(((PAYMENT *)0)->currency_target) == 4,
               "a currency is a u32");
_Static_assert(sizeof(((QUOTE *)0)->rate_exponent) == 1 && sizeof(((QUOTE *)0)->rate_mantissa) == 8,
               "a rate is a u64 mantissa and an int8 exponent");
_Static_assert(sizeof(((PAYMENT *)0)->rate_exponent) == 1 &&
                   sizeof(((PAYMENT *)0)->rate_mantissa) == 8,
               "a rate is a u64 mantissa and an int8 exponent");
_Static_assert(sizeof(struct khorgos_position) < CLI_OFFSET_NONE, "offsets fit u16");

u32 cli_codec_settle_operation_count(void) {
    ASSERT(ARRAY_COUNT(settle_operation_table) == 28);
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
