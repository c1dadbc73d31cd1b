/*
 * khorgos.h: the public interface of libkhorgos, the Khorgos clearing and settlement engine.
 *
 * An application embeds the engine through this one header, as it would SQLite or LMDB. The
 * `khorgos` command, the simulator, the benchmarks and the server are all users of it.
 *
 * Data model. The core works on fixed-size binary records, never on text:
 *   - struct khorgos_account   (128 bytes) and struct khorgos_transfer (128 bytes) follow
 *     TigerBeetle 0.17's Account and Transfer field for field, so that tools and people who know
 *     that model know ours;
 *   - a request is an operation code and a body made of whole records (events, ids or one
 *     filter); its reply is made of whole records (results, accounts, transfers, balances).
 * The JSON lines of `khorgos apply` are one front end that translates to and from these records.
 *
 * Amounts and balances are unsigned 128-bit integers in a currency's minor unit; a ledger is a
 * currency and its number is the ISO 4217 numeric code (156 CNY, 398 KZT, ...).
 *
 * Time. Timestamps are nanoseconds since the Unix epoch, assigned by the engine, unique and
 * strictly increasing over the life of a data directory: every event has its own, the first of
 * a request max(clock, last + 1), none before the clock. The engine reads its clock once per
 * request; the manual clock (for tests and simulation) starts at 2023-05-19T00:00:00Z.
 */
#ifndef KHORGOS_H
#define KHORGOS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef unsigned __int128 khorgos_u128;

#define KHORGOS_U128_MAX (~(khorgos_u128)0)
/* A post_pending_transfer with this amount posts the whole pending amount. */
#define KHORGOS_AMOUNT_MAX KHORGOS_U128_MAX
/* At most this many events in one client request (TigerBeetle's batch size). */
#define KHORGOS_BATCH_EVENTS_MAX 8189u
/* At most this many bytes in one request body and in one reply (a full batch of 128-byte
 * records, so that a message fits in 1 MiB): an operation with larger records takes fewer of
 * them, e.g. 4,094 payments. khorgos_events_max gives each operation's count; docs/limits.md
 * lists every limit. */
#define KHORGOS_MESSAGE_BODY_BYTES_MAX (KHORGOS_BATCH_EVENTS_MAX * 128u)
/* The manual clock's first instant: 2023-05-19T00:00:00Z, in nanoseconds. */
#define KHORGOS_MANUAL_CLOCK_START_NS (1684454400ull * 1000000000ull)

/* ----------------------------------------------------------------------------------------- */
/* Records.                                                                                   */

enum khorgos_account_flags {
    KHORGOS_ACCOUNT_LINKED = 1u << 0,
    KHORGOS_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS = 1u << 1,
    KHORGOS_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS = 1u << 2,
    KHORGOS_ACCOUNT_HISTORY = 1u << 3,
    KHORGOS_ACCOUNT_IMPORTED = 1u << 4,
    KHORGOS_ACCOUNT_CLOSED = 1u << 5,
};
#define KHORGOS_ACCOUNT_FLAGS_ALL 0x3Fu

struct khorgos_account {
    khorgos_u128 id;
    khorgos_u128 debits_pending;
    khorgos_u128 debits_posted;
    khorgos_u128 credits_pending;
    khorgos_u128 credits_posted;
    khorgos_u128 user_data_128;
    uint64_t user_data_64;
    uint32_t user_data_32;
    uint32_t reserved;
    uint32_t ledger;
    uint16_t code;
    uint16_t flags;
    uint64_t timestamp;
};

enum khorgos_transfer_flags {
    KHORGOS_TRANSFER_LINKED = 1u << 0,
    KHORGOS_TRANSFER_PENDING = 1u << 1,
    KHORGOS_TRANSFER_POST_PENDING_TRANSFER = 1u << 2,
    KHORGOS_TRANSFER_VOID_PENDING_TRANSFER = 1u << 3,
    KHORGOS_TRANSFER_BALANCING_DEBIT = 1u << 4,
    KHORGOS_TRANSFER_BALANCING_CREDIT = 1u << 5,
    KHORGOS_TRANSFER_CLOSING_DEBIT = 1u << 6,
    KHORGOS_TRANSFER_CLOSING_CREDIT = 1u << 7,
    KHORGOS_TRANSFER_IMPORTED = 1u << 8,
};
#define KHORGOS_TRANSFER_FLAGS_ALL 0x1FFu

struct khorgos_transfer {
    khorgos_u128 id;
    khorgos_u128 debit_account_id;
    khorgos_u128 credit_account_id;
    khorgos_u128 amount;
    khorgos_u128 pending_id;
    khorgos_u128 user_data_128;
    uint64_t user_data_64;
    uint32_t user_data_32;
    uint32_t timeout; /* seconds; pending transfers only */
    uint32_t ledger;
    uint16_t code;
    uint16_t flags;
    uint64_t timestamp;
};

/* One entry of an account's history: its balances right after one transfer touched it. */
struct khorgos_account_balance {
    khorgos_u128 debits_pending;
    khorgos_u128 debits_posted;
    khorgos_u128 credits_pending;
    khorgos_u128 credits_posted;
    uint64_t timestamp;
    uint8_t reserved[56];
};

enum khorgos_account_filter_flags {
    KHORGOS_ACCOUNT_FILTER_DEBITS = 1u << 0,
    KHORGOS_ACCOUNT_FILTER_CREDITS = 1u << 1,
    KHORGOS_ACCOUNT_FILTER_REVERSED = 1u << 2,
};

/* get_account_transfers / get_account_balances. Zero fields do not filter. */
struct khorgos_account_filter {
    khorgos_u128 account_id;
    khorgos_u128 user_data_128;
    uint64_t user_data_64;
    uint32_t user_data_32;
    uint16_t code;
    uint8_t reserved[58];
    uint64_t timestamp_min;
    uint64_t timestamp_max;
    uint32_t limit;
    uint32_t flags;
};

enum khorgos_query_filter_flags {
    KHORGOS_QUERY_FILTER_REVERSED = 1u << 0,
};

/* query_accounts / query_transfers. Non-zero fields are ANDed. */
struct khorgos_query_filter {
    khorgos_u128 user_data_128;
    uint64_t user_data_64;
    uint32_t user_data_32;
    uint32_t ledger;
    uint16_t code;
    uint8_t reserved[6];
    uint64_t timestamp_min;
    uint64_t timestamp_max;
    uint32_t limit;
    uint32_t flags;
};

/* The reply to each event of create_accounts / create_transfers. */
struct khorgos_create_result {
    uint64_t timestamp;
    uint32_t status; /* enum khorgos_create_account_status or khorgos_create_transfer_status */
    uint32_t reserved;
};

/* ----------------------------------------------------------------------------------------- */
/* Statuses, in TigerBeetle's precedence order: when several apply, the first listed wins.    */
/* The numbers are Khorgos' own; the names are TigerBeetle's (see khorgos_*_status_name).      */

#define KHORGOS_CREATE_ACCOUNT_STATUSES(X)                                                     \
    X(created) X(linked_event_failed) X(linked_event_chain_open) X(imported_event_expected)     \
    X(imported_event_not_expected) X(timestamp_must_be_zero)                                   \
    X(imported_event_timestamp_out_of_range) X(imported_event_timestamp_must_not_advance)      \
    X(reserved_field) X(reserved_flag) X(id_must_not_be_zero) X(id_must_not_be_int_max)        \
    X(exists_with_different_flags) X(exists_with_different_user_data_128)                      \
    X(exists_with_different_user_data_64) X(exists_with_different_user_data_32)                \
    X(exists_with_different_ledger) X(exists_with_different_code) X(exists)                    \
    X(flags_are_mutually_exclusive) X(debits_pending_must_be_zero)                             \
    X(debits_posted_must_be_zero) X(credits_pending_must_be_zero)                              \
    X(credits_posted_must_be_zero) X(ledger_must_not_be_zero) X(code_must_not_be_zero)         \
    X(imported_event_timestamp_must_not_regress)

#define KHORGOS_CREATE_TRANSFER_STATUSES(X)                                                    \
    X(created) X(linked_event_failed) X(linked_event_chain_open) X(imported_event_expected)     \
    X(imported_event_not_expected) X(timestamp_must_be_zero)                                   \
    X(imported_event_timestamp_out_of_range) X(imported_event_timestamp_must_not_advance)      \
    X(reserved_flag) X(id_must_not_be_zero) X(id_must_not_be_int_max)                          \
    X(exists_with_different_flags) X(exists_with_different_pending_id)                         \
    X(exists_with_different_timeout) X(exists_with_different_debit_account_id)                 \
    X(exists_with_different_credit_account_id) X(exists_with_different_amount)                 \
    X(exists_with_different_user_data_128) X(exists_with_different_user_data_64)               \
    X(exists_with_different_user_data_32) X(exists_with_different_ledger)                      \
    X(exists_with_different_code) X(exists) X(id_already_failed)                               \
    X(flags_are_mutually_exclusive) X(debit_account_id_must_not_be_zero)                       \
    X(debit_account_id_must_not_be_int_max) X(credit_account_id_must_not_be_zero)             \
    X(credit_account_id_must_not_be_int_max) X(accounts_must_be_different)                     \
    X(pending_id_must_be_zero) X(pending_id_must_not_be_zero)                                  \
    X(pending_id_must_not_be_int_max) X(pending_id_must_be_different)                          \
    X(timeout_reserved_for_pending_transfer) X(closing_transfer_must_be_pending)               \
    X(ledger_must_not_be_zero) X(code_must_not_be_zero) X(debit_account_not_found)             \
    X(credit_account_not_found) X(accounts_must_have_the_same_ledger)                          \
    X(transfer_must_have_the_same_ledger_as_accounts) X(pending_transfer_not_found)            \
    X(pending_transfer_not_pending) X(pending_transfer_has_different_debit_account_id)         \
    X(pending_transfer_has_different_credit_account_id)                                        \
    X(pending_transfer_has_different_ledger) X(pending_transfer_has_different_code)            \
    X(exceeds_pending_transfer_amount) X(pending_transfer_has_different_amount)                \
    X(pending_transfer_already_posted) X(pending_transfer_already_voided)                      \
    X(pending_transfer_expired) X(imported_event_timestamp_must_not_regress)                   \
    X(imported_event_timestamp_must_postdate_debit_account)                                    \
    X(imported_event_timestamp_must_postdate_credit_account)                                   \
    X(imported_event_timeout_must_be_zero) X(debit_account_already_closed)                     \
    X(credit_account_already_closed) X(overflows_debits_pending)                               \
    X(overflows_credits_pending) X(overflows_debits_posted) X(overflows_credits_posted)        \
    X(overflows_debits) X(overflows_credits) X(overflows_timeout) X(exceeds_credits)           \
    X(exceeds_debits)

#define KHORGOS_STATUS_ENUM_ACCOUNT_(name) KHORGOS_CREATE_ACCOUNT_##name,
#define KHORGOS_STATUS_ENUM_TRANSFER_(name) KHORGOS_CREATE_TRANSFER_##name,
enum khorgos_create_account_status {
    KHORGOS_CREATE_ACCOUNT_STATUSES(KHORGOS_STATUS_ENUM_ACCOUNT_)
        KHORGOS_CREATE_ACCOUNT_STATUS_COUNT
};
enum khorgos_create_transfer_status {
    KHORGOS_CREATE_TRANSFER_STATUSES(KHORGOS_STATUS_ENUM_TRANSFER_)
        KHORGOS_CREATE_TRANSFER_STATUS_COUNT
};
#undef KHORGOS_STATUS_ENUM_ACCOUNT_
#undef KHORGOS_STATUS_ENUM_TRANSFER_

/* The TigerBeetle name of a status ("created", "exceeds_credits", ...); NULL if out of range. */
const char *khorgos_create_account_status_name(uint32_t status);
const char *khorgos_create_transfer_status_name(uint32_t status);
/* The status with that name; returns 0 and sets *status when found, -1 otherwise. */
int khorgos_create_account_status_parse(const char *name, size_t length, uint32_t *status);
int khorgos_create_transfer_status_parse(const char *name, size_t length, uint32_t *status);

/* ----------------------------------------------------------------------------------------- */
/* Operations. A request's body and reply are arrays of the records named here.               */

enum khorgos_operation {
    /* A pulse is a timer request: internal, never sent by a client, the engine makes one when
     * time-driven work is due (pending transfer expiry) and journals it like any request, so
     * that a replay reproduces it. Body: empty. Reply: empty. */
    KHORGOS_OPERATION_PULSE = 1,
    /* Opens a client's session (TigerBeetle's `register`): only with a client session on the
     * request (struct khorgos_client_request). Body: empty. Reply: the session's number, a
     * uint64_t (its journal sequence), when the request has a reply buffer (it may have none),
     * so that a caller can answer a register whose session a later register of the same batch
     * already evicted. */
    KHORGOS_OPERATION_REGISTER = 3,
    /* Moves a manual clock (the operator's; clock_not_manual without one). Body: a uint64_t of
     * nanoseconds. Reply: a uint64_t, the clock's new time. A journaled request like any state
     * change, so that a replay moves the clock the same way and a client's session records it
     * (a retry gets the first reply and moves nothing); the expiries and settlement timers due
     * by the new time fire after it, as requests of their own. khorgos_clock_advance moves the
     * clock without a record. The server's advance_clock (wire operation 192) is this. */
    KHORGOS_OPERATION_ADVANCE_CLOCK = 4,

    /* Ledger operations (TigerBeetle's). */
    KHORGOS_OPERATION_CREATE_ACCOUNTS = 128,   /* account[]          -> create_result[] */
    KHORGOS_OPERATION_CREATE_TRANSFERS = 129,  /* transfer[]         -> create_result[] */
    KHORGOS_OPERATION_LOOKUP_ACCOUNTS = 130,   /* u128 id[]          -> account[]       */
    KHORGOS_OPERATION_LOOKUP_TRANSFERS = 131,  /* u128 id[]          -> transfer[]      */
    KHORGOS_OPERATION_GET_ACCOUNT_TRANSFERS = 132, /* account_filter -> transfer[]      */
    KHORGOS_OPERATION_GET_ACCOUNT_BALANCES = 133,  /* account_filter -> account_balance[] */
    KHORGOS_OPERATION_QUERY_ACCOUNTS = 134,    /* query_filter       -> account[]       */
    KHORGOS_OPERATION_QUERY_TRANSFERS = 135,   /* query_filter       -> transfer[]      */

    /* Settlement (RTGS) operations, see the "Settlement" records below and docs/api.md. */
    /* The settlement layer's timer request (a pulse, as above): settlement timers due
     * (cut-offs, settle-by, timed gridlock resolution). Body: empty. Reply: empty. */
    KHORGOS_OPERATION_SETTLE_PULSE = 2,
    KHORGOS_OPERATION_CREATE_PARTICIPANTS = 200,  /* participant[]        -> settle_result[] */
    KHORGOS_OPERATION_FUND = 201,                 /* participant_event[]  -> settle_result[] */
    KHORGOS_OPERATION_DEFUND = 202,               /* participant_event[]  -> settle_result[] */
    KHORGOS_OPERATION_SET_CREDIT_LINES = 203,     /* participant_event[]  -> settle_result[] */
    KHORGOS_OPERATION_SET_LIMITS = 204,           /* participant_event[]  -> settle_result[] */
    KHORGOS_OPERATION_SUSPEND = 205,              /* participant_event[]  -> settle_result[] */
    KHORGOS_OPERATION_REINSTATE = 206,            /* participant_event[]  -> settle_result[] */
    KHORGOS_OPERATION_SUBMIT_PAYMENTS = 207,      /* payment[]            -> settle_result[] */
    KHORGOS_OPERATION_CANCEL_PAYMENTS = 208,      /* payment_change[]     -> settle_result[] */
    KHORGOS_OPERATION_REPRIORITIZE_PAYMENTS = 209,/* payment_change[]     -> settle_result[] */
    KHORGOS_OPERATION_LOOKUP_PAYMENTS = 210,      /* u128 id[]            -> payment[]       */
    KHORGOS_OPERATION_GET_QUEUE = 211,            /* settle_filter        -> payment[]       */
    KHORGOS_OPERATION_RESOLVE_GRIDLOCK = 212,     /* business_day[]       -> settle_result[] */
    KHORGOS_OPERATION_GET_POSITIONS = 213,        /* settle_filter        -> position[]      */
    KHORGOS_OPERATION_OPEN_DAY = 214,             /* business_day[]       -> settle_result[] */
    KHORGOS_OPERATION_CLOSE_DAY = 215,            /* business_day[]       -> settle_result[] */
    /* Cross-currency payment-versus-payment and deferred net settlement (see
     * src/settle/settle_fx.c, settle_netting.c and docs/api.md "Cross-currency and netting"). */
    KHORGOS_OPERATION_SET_FX_QUOTES = 216,        /* fx_quote[]           -> settle_result[] */
    KHORGOS_OPERATION_WITHDRAW_FX_QUOTES = 217,   /* u128 quote id[]      -> settle_result[] */
    KHORGOS_OPERATION_LOOKUP_FX_QUOTES = 218,     /* u128 quote id[]      -> fx_quote[]      */
    KHORGOS_OPERATION_SET_FX_ROUTING = 219,       /* fx_routing[]         -> settle_result[] */
    KHORGOS_OPERATION_OPEN_WINDOW = 220,          /* window[]             -> settle_result[] */
    KHORGOS_OPERATION_CLOSE_WINDOW = 221,         /* window[]             -> settle_result[] */
    KHORGOS_OPERATION_SETTLE_WINDOW = 222,        /* window[]             -> settle_result[] */
    KHORGOS_OPERATION_UNWIND_WINDOW = 223,        /* window[]             -> settle_result[] */
    KHORGOS_OPERATION_ABORT_WINDOW = 224,         /* window[]             -> settle_result[] */
    KHORGOS_OPERATION_LOOKUP_WINDOWS = 225,       /* u32 number[] as window[] -> window[]    */
    KHORGOS_OPERATION_GET_WINDOW_POSITIONS = 226, /* window_filter        -> window_position[] */
    /* The calendar per currency: holidays on which its day does not open. */
    KHORGOS_OPERATION_SET_HOLIDAYS = 227,         /* holiday[]            -> settle_result[] */
    /* Payments with their ISO 20022 references (the gateway's submission, docs/iso20022.md),
     * and the references found by payment, by the payment a return returns, or by sender and
     * MsgId. */
    KHORGOS_OPERATION_SUBMIT_MESSAGE_PAYMENTS = 228, /* message_payment[] -> settle_result[] */
    KHORGOS_OPERATION_GET_PAYMENT_REFERENCES = 229,  /* references_filter
                                                      *   -> payment_references[] */
    /* The business days a currency opened, with the timestamps of their open and close. */
    KHORGOS_OPERATION_GET_BUSINESS_DAYS = 230,    /* day_filter -> business_day_record[] */
};

/* The name of an operation ("create_transfers"), NULL if unknown. */
const char *khorgos_operation_name(uint32_t operation);

/* ----------------------------------------------------------------------------------------- */
/* Settlement (RTGS): participants, payments, queues, the business day. See src/settle/settle.h */
/* for the design and docs/api.md ("Settlement") for every field and status.                   */

/* Every settlement status, in precedence order, with its ISO 20022 status reason code where
 * one exists ("" where none does). The numbers are stable: append only. */
#define KHORGOS_SETTLE_STATUSES(X)                                                             \
    X(ok, "") X(settled, "") X(queued, "") X(waiting, "") X(id_must_not_be_zero, "")            \
    X(reserved_field, "") X(exists_with_different_fields, "DUPL") X(capacity_full, "")         \
    X(bic_invalid, "RC01") X(country_invalid, "BE09") X(name_invalid, "")                       \
    X(role_invalid, "") X(currency_invalid, "AM03") X(settlement_agent_exists, "")             \
    X(settlement_agent_not_found, "AM03") X(participant_not_found, "RC01")                     \
    X(counterparty_not_found, "RC01") X(debtor_not_found, "RC01")                               \
    X(creditor_not_found, "RC01") X(currency_not_held, "AM03")                                  \
    X(participant_suspended, "AC06") X(creditor_suspended, "AC06")                              \
    X(amount_must_not_be_zero, "AM01") X(limit_kind_invalid, "")                                \
    X(accounts_must_be_different, "") X(type_invalid, "") X(priority_invalid, "")               \
    X(value_date_invalid, "DT01") X(end_to_end_id_invalid, "") X(uetr_invalid, "")              \
    X(purpose_invalid, "") X(settle_by_passed, "TM01") X(day_not_open, "TM01")                  \
    X(after_cut_off, "TM01") X(insufficient_funds, "AM04") X(exceeds_net_debit_cap, "AM02")     \
    X(exceeds_bilateral_limit, "AM02") X(payment_not_found, "") X(payment_not_queued, "")       \
    X(cancelled, "") X(day_already_open, "") X(date_invalid, "DT01") X(cut_off_invalid, "")     \
    X(queue_mode_invalid, "") X(resolution_disabled, "")                                        \
    X(credit_line_below_outstanding, "") X(day_closed, "TM01") X(amount_too_large, "AM13")      \
    X(rate_invalid, "") X(rate_too_precise, "") X(quote_expired, "") X(pair_unknown, "")        \
    X(provider_invalid, "") X(quote_not_found, "") X(no_route, "AG09")                          \
    X(quote_unavailable, "") X(provider_insufficient_funds, "AM04")                             \
    X(settlement_method_invalid, "") X(amount_kind_invalid, "") X(routing_invalid, "")          \
    X(window_not_open, "") X(window_already_open, "") X(window_not_found, "")                   \
    X(window_state_invalid, "") X(window_short, "AM04") X(unwound, "AM04") X(aborted, "")       \
    X(timer_invalid, "") X(in_window, "")                                                       \
    X(day_is_holiday, "") X(value_date_holiday, "DT01") X(holiday_exists, "")                   \
    X(holiday_not_found, "") X(holiday_on_open_day, "") X(forbidden, "AG01")                  \
    X(references_invalid, "") X(message_exists_with_different_body, "DUPL")                    \
    X(original_not_found, "") X(exceeds_original_amount, "AM09")

#define KHORGOS_SETTLE_STATUS_ENUM_(name, iso) KHORGOS_SETTLE_##name,
enum khorgos_settle_status { KHORGOS_SETTLE_STATUSES(KHORGOS_SETTLE_STATUS_ENUM_)
                                 KHORGOS_SETTLE_STATUS_COUNT };
#undef KHORGOS_SETTLE_STATUS_ENUM_

/* The status's name ("insufficient_funds") and ISO 20022 code ("AM04", "" when none); NULL
 * when out of range. */
const char *khorgos_settle_status_name(uint32_t status);
const char *khorgos_settle_status_iso_code(uint32_t status);
int khorgos_settle_status_parse(const char *name, size_t length, uint32_t *status);

enum khorgos_participant_role {
    KHORGOS_ROLE_BANK = 1,
    KHORGOS_ROLE_LIQUIDITY_PROVIDER = 2,
    KHORGOS_ROLE_SETTLEMENT_AGENT = 3, /* the central bank of each currency it holds */
};
enum khorgos_participant_flags { KHORGOS_PARTICIPANT_SUSPENDED = 1u << 0 };
#define KHORGOS_PARTICIPANT_CURRENCIES_MAX 8u
#define KHORGOS_BIC_BYTES 11u
#define KHORGOS_NAME_BYTES 64u
#define KHORGOS_END_TO_END_ID_BYTES 35u

/* create_participants event (and the participant as stored). Text fields are ASCII, padded
 * with NUL; an 8-character BIC is stored as its 11-character form ending in "XXX". */
struct khorgos_participant {
    char bic[KHORGOS_BIC_BYTES];
    char country[2];   /* ISO 3166 alpha-2 */
    uint8_t role;      /* enum khorgos_participant_role */
    uint8_t flags;     /* out: enum khorgos_participant_flags; zero on create */
    uint8_t reserved;
    uint32_t currencies[KHORGOS_PARTICIPANT_CURRENCIES_MAX]; /* ISO 4217 numeric, 0 = unused */
    char name[KHORGOS_NAME_BYTES];
    uint64_t timestamp; /* out; zero on create */
    uint32_t number;    /* out: the participant's index + 1; zero on create */
    uint32_t reserved_2;
};

enum khorgos_limit_kind { KHORGOS_LIMIT_NET_DEBIT_CAP = 1, KHORGOS_LIMIT_BILATERAL = 2 };

/* fund, defund, set_credit_lines, set_limits, suspend, reinstate. `id` is the client's request
 * id (nonzero, idempotent). amount: fund/defund amount, the credit line, or the limit
 * (KHORGOS_AMOUNT_MAX removes a limit). counterparty: bilateral limits only. */
struct khorgos_participant_event {
    khorgos_u128 id;
    khorgos_u128 amount;
    char bic[KHORGOS_BIC_BYTES];
    char counterparty[KHORGOS_BIC_BYTES];
    uint8_t limit_kind; /* enum khorgos_limit_kind, set_limits only */
    uint8_t reserved;
    uint32_t currency;  /* ISO 4217 numeric */
    uint32_t reserved_2;
};

enum khorgos_payment_type { KHORGOS_PAYMENT_CUSTOMER = 0, KHORGOS_PAYMENT_INTERBANK = 1 };
enum khorgos_payment_priority {
    KHORGOS_PRIORITY_URGENT = 0,
    KHORGOS_PRIORITY_HIGH = 1,
    KHORGOS_PRIORITY_NORMAL = 2,
};
#define KHORGOS_PRIORITY_COUNT 3u
enum khorgos_payment_state {
    KHORGOS_PAYMENT_SETTLED = 1,
    KHORGOS_PAYMENT_QUEUED = 2,
    KHORGOS_PAYMENT_REJECTED = 3,
    KHORGOS_PAYMENT_CANCELLED = 4,
    KHORGOS_PAYMENT_WAITING = 5,
    KHORGOS_PAYMENT_IN_WINDOW = 6, /* a net payment held by its window until it settles */
};

/* submit_payments event (the "in" fields) and lookup_payments / get_queue reply (all). */
struct khorgos_payment {
    khorgos_u128 id;     /* nonzero, idempotent */
    khorgos_u128 amount; /* minor units, nonzero */
    khorgos_u128 uetr;   /* optional UUID v4 (big-endian bytes as a number), 0 = none */
    char debtor[KHORGOS_BIC_BYTES];
    char creditor[KHORGOS_BIC_BYTES];
    char end_to_end_id[KHORGOS_END_TO_END_ID_BYTES]; /* printable ASCII, NUL-padded */
    char purpose[4];     /* ISO 20022 purpose code (4 upper-case letters) or empty */
    uint8_t type;        /* enum khorgos_payment_type */
    uint8_t priority;    /* enum khorgos_payment_priority */
    uint8_t state;       /* out: enum khorgos_payment_state; zero on submit */
    uint32_t currency;   /* ISO 4217 numeric */
    uint32_t value_date; /* YYYYMMDD; 0 = the currency's current business day */
    uint64_t settle_by;  /* timestamp (ns); 0 = none; still queued then: rejected */
    /* Out (zero on submit). */
    uint64_t submitted_at;
    uint64_t finished_at; /* settled, rejected or cancelled */
    khorgos_u128 transfer_id_debit;        /* payer -> payee, or payer -> clearing */
    khorgos_u128 transfer_id_credit;       /* clearing -> payee when settled in a set */
    khorgos_u128 transfer_id_credit_draw;  /* intraday credit drawn in its chain, 0 = none */
    uint32_t reason;     /* enum khorgos_settle_status: why queued, rejected or cancelled */
    uint8_t settled_in;  /* enum khorgos_settled_in: how it settled; none until settled */
    uint8_t reserved[3];
    uint64_t sequence;   /* arrival order among all payments, from 1 */
    /* Cross-currency and net settlement. In: currency_target, amount_kind,
     * settlement, and amount_target when amount_kind is creditor; the rest out. */
    uint32_t currency_target; /* the creditor's currency; 0 = `currency` (not cross-currency) */
    uint8_t amount_kind;      /* enum khorgos_amount_kind */
    uint8_t settlement;       /* enum khorgos_settlement_method */
    uint8_t route;            /* out: enum khorgos_fx_route */
    int8_t rate_exponent;     /* out: the (first) quote's rate = rate_mantissa * 10^exponent */
    uint64_t rate_mantissa;   /* out */
    khorgos_u128 amount_target; /* creditor's amount (in: amount_kind creditor; else out) */
    uint32_t window;          /* out: the net settlement window that holds it */
    uint32_t provider;        /* out: participant number of the (first) liquidity provider */
    uint32_t provider_vehicle;/* out: the vehicle route's second provider, 0 = none */
    uint32_t reserved_3;
};

/* How a settled payment settled: alone (its own chain), in a set (booked in one chain with the
 * others a resolution selected, by offsetting on entry or a gridlock resolution, whatever its
 * currencies), or in a net settlement window. */
enum khorgos_settled_in {
    KHORGOS_SETTLED_IN_NONE = 0, /* not settled */
    KHORGOS_SETTLED_IN_ALONE = 1,
    KHORGOS_SETTLED_IN_SET = 2,
    KHORGOS_SETTLED_IN_WINDOW = 3,
};

enum khorgos_amount_kind {
    KHORGOS_AMOUNT_DEBTOR = 0,   /* `amount` is what the debtor pays (ISO 20022 instructed) */
    KHORGOS_AMOUNT_CREDITOR = 1, /* `amount_target` is what the creditor gets (settlement) */
};
enum khorgos_settlement_method { KHORGOS_SETTLEMENT_GROSS = 0, KHORGOS_SETTLEMENT_NET = 1 };
enum khorgos_fx_route {
    KHORGOS_ROUTE_NONE = 0,
    KHORGOS_ROUTE_DIRECT = 1,
    KHORGOS_ROUTE_VEHICLE = 2
};

/* set_fx_quotes event and lookup_fx_quotes reply. A liquidity provider converts up to
 * amount_max of currency_source into currency_target at rate_mantissa * 10^rate_exponent
 * units of target per unit of source (major units), until expires_at. */
enum khorgos_fx_quote_state { KHORGOS_QUOTE_LIVE = 1, KHORGOS_QUOTE_WITHDRAWN = 2 };
struct khorgos_fx_quote {
    khorgos_u128 id;          /* nonzero, idempotent */
    khorgos_u128 amount_max;  /* the most source currency it converts, minor units */
    khorgos_u128 amount_used; /* out */
    char provider[KHORGOS_BIC_BYTES];
    uint8_t state;            /* out: enum khorgos_fx_quote_state */
    uint32_t currency_source; /* ISO 4217 numeric */
    uint32_t currency_target;
    int8_t rate_exponent;     /* -18..18 */
    uint8_t reserved_2[3];
    uint64_t rate_mantissa;   /* 1..999,999,999,999 (12 significant digits) */
    uint64_t expires_at;      /* timestamp (ns), in the future */
    uint64_t timestamp;       /* out */
    uint32_t number;          /* out: arrival order, from 1 (ties go to the earliest) */
    uint8_t reserved[28];
};

enum khorgos_fx_routing_mode { KHORGOS_ROUTING_DIRECT_FIRST = 1, KHORGOS_ROUTING_VEHICLE_ONLY = 2 };
/* set_fx_routing event: the system's routing of cross-currency payments. */
struct khorgos_fx_routing {
    khorgos_u128 id;           /* request id */
    uint32_t vehicle_currency; /* ISO 4217 numeric; default 156 (CNY) */
    uint8_t mode;              /* enum khorgos_fx_routing_mode */
    uint8_t reserved[11];
};

/* Net settlement windows (Mojaloop's states). */
enum khorgos_window_state {
    KHORGOS_WINDOW_OPEN = 1,
    KHORGOS_WINDOW_CLOSED = 2,
    KHORGOS_WINDOW_PENDING_SETTLEMENT = 3,
    KHORGOS_WINDOW_SETTLED = 4,
    KHORGOS_WINDOW_ABORTED = 5,
};
/* open/close/settle/unwind/abort_window event (id, number; open: close_at, settle_after) and
 * lookup_windows request (number only) and reply (all). */
struct khorgos_window {
    khorgos_u128 id;        /* request id */
    uint32_t number;        /* the window, from 1; 0 on open (out) and for the open window */
    uint8_t state;          /* out: enum khorgos_window_state */
    uint8_t reserved[3];
    uint64_t close_at;      /* open: close on this timer (ns), 0 = on request */
    uint64_t settle_after;  /* open: settle this long (ns) after closing, 0 = on request */
    uint64_t opened_at;     /* out */
    uint64_t closed_at;     /* out */
    uint64_t finished_at;   /* out: settled or aborted */
    uint32_t payment_count; /* out: open or pending: payments in it now; settled: payments
                             * it settled; aborted: 0 (docs/api.md) */
    uint32_t short_count;   /* out: participant-currencies that cannot cover their net debit */
    uint32_t unwound_count; /* out: payments removed by unwinds */
    uint32_t reason;        /* out: why pending or aborted (window_short, aborted) */
    uint64_t interval;      /* open: when closed by its timer, the next window opens at once
                             * and closes `interval` ns later (hourly netting); 0 = none */
};

/* get_window_positions: the window's multilateral net positions. Zero fields do not filter. */
struct khorgos_window_filter {
    uint32_t window;        /* required */
    uint32_t currency;
    char bic[KHORGOS_BIC_BYTES];
    uint8_t reserved;
    uint32_t limit;
};
struct khorgos_window_position {
    char bic[KHORGOS_BIC_BYTES];
    uint8_t short_flag;     /* 1: its liquidity does not cover its net debit */
    uint32_t currency;
    uint32_t window;
    uint32_t sent_count;
    uint32_t received_count;
    uint32_t reserved;
    khorgos_u128 sent;      /* gross value it pays in the window (FX legs included) */
    khorgos_u128 received;  /* gross value it receives */
    khorgos_u128 net_debit; /* max(0, sent - received) */
    khorgos_u128 net_credit;/* max(0, received - sent) */
    khorgos_u128 shortfall; /* net_debit - liquidity when short, else 0 */
    uint8_t reserved_2[16];
};

/* A settlement request or reply record: zero fields do not filter. */
struct khorgos_settle_filter {
    char bic[KHORGOS_BIC_BYTES];
    uint8_t reserved;
    uint32_t currency;
    uint32_t limit; /* 0 = as many as fit */
    uint8_t reserved_2[12];
};

/* cancel_payments / reprioritize_payments event. A payment id is its payer's own: the payment
 * is (debtor, payment_id). An empty debtor means the actor's own payment for a participant, and
 * for the operator the payment submitted first with that id (docs/security.md). */
struct khorgos_payment_change {
    khorgos_u128 id; /* request id */
    khorgos_u128 payment_id;
    uint8_t priority; /* reprioritize only */
    char debtor[KHORGOS_BIC_BYTES];
    uint8_t reserved[4];
    /* cancel only; 0 = none. The checksum of the message that asks for the cancellation (the
     * gateway's camt.056: XXH3-128 of its bytes). With it the request is that message's: its
     * id is seen again as the same request when the checksum is equal, whatever payment it
     * names (an original may be found later), and as exists_with_different_fields otherwise. */
    khorgos_u128 message_checksum;
};

/* A payment's ISO 20022 references: what the 256-byte payment record has no room for. The
 * settlement layer keeps them beside the payment (journaled with it, in snapshots and the
 * digest); the gateway writes and reads them (docs/iso20022.md, "Payment references"). Text
 * is printable ASCII, NUL-padded. */
#define KHORGOS_REFERENCE_BYTES 35u   /* ISO 20022 Max35Text */
#define KHORGOS_MESSAGE_NAME_BYTES 16u /* "pacs.008.001.08", NUL-padded */
struct khorgos_payment_references {
    khorgos_u128 payment_id;          /* the payment's id */
    khorgos_u128 original_payment_id; /* a return (pacs.004): the payment it returns; 0 = none */
    khorgos_u128 body_checksum;       /* XXH3-128 of the message's bytes */
    char sender[KHORGOS_BIC_BYTES];   /* the message's sender (required) */
    char message_id[KHORGOS_REFERENCE_BYTES];     /* GrpHdr/MsgId (required) */
    char instruction_id[KHORGOS_REFERENCE_BYTES]; /* PmtId/InstrId */
    char transaction_id[KHORGOS_REFERENCE_BYTES]; /* PmtId/TxId (pacs.004: RtrId) */
    char business_message_id[KHORGOS_REFERENCE_BYTES]; /* AppHdr/BizMsgIdr: the sender's
                                                        * reference of the message */
    char message_name[KHORGOS_MESSAGE_NAME_BYTES];     /* "pacs.008.001.08" (required) */
    uint32_t position; /* the transaction's position in its message, from 1 */
    uint32_t reserved;
};
_Static_assert(sizeof(struct khorgos_payment_references) == 224, "references are 224 bytes");

/* submit_message_payments event: a payment (as submit_payments takes it) and its references
 * (references.payment_id = payment.id). */
struct khorgos_message_payment {
    struct khorgos_payment payment;
    struct khorgos_payment_references references;
};

/* get_payment_references filter: exactly one of payment_id (that payment's references),
 * original_payment_id (the returns of that payment) or sender and message_id (the payments of
 * that message, by position); limit: the most records answered. */
struct khorgos_references_filter {
    khorgos_u128 payment_id;
    khorgos_u128 original_payment_id;
    char sender[KHORGOS_BIC_BYTES];
    char message_id[KHORGOS_REFERENCE_BYTES];
    uint32_t limit;
    uint8_t reserved[12];
};
_Static_assert(sizeof(struct khorgos_references_filter) == 96, "the filter is 96 bytes");

enum khorgos_queue_mode {
    KHORGOS_QUEUE_MODE_NONE = 1,        /* no queue: uncovered payments are rejected */
    KHORGOS_QUEUE_MODE_FIFO = 2,        /* the head blocks those of its priority or lower */
    KHORGOS_QUEUE_MODE_BYPASS_FIFO = 3, /* later payments that fit may pass the head */
};
enum khorgos_business_day_flags {
    KHORGOS_DAY_OFFSETTING_ON_ENTRY = 1u << 0,
    KHORGOS_DAY_RESOLUTION_ON_REQUEST = 1u << 1,
    KHORGOS_DAY_RESOLUTION_ON_TIMER = 1u << 2,
};

/* open_day, close_day and resolve_gridlock event (close and resolve use id and currency). */
struct khorgos_business_day {
    khorgos_u128 id; /* request id */
    uint32_t currency;
    uint32_t date;   /* YYYYMMDD */
    uint64_t cut_off_customer;  /* timestamps (ns); 0 = none */
    uint64_t cut_off_interbank;
    uint64_t resolution_interval; /* ns between timed resolutions (flag ON_TIMER) */
    uint8_t queue_mode;           /* enum khorgos_queue_mode */
    uint8_t flags;                /* enum khorgos_business_day_flags */
    uint8_t reserved[14];
};

/* set_holidays event: adds (or, with KHORGOS_HOLIDAY_REMOVE, removes) one holiday of one
 * currency's calendar. See src/settle/settle_day.c for what a holiday does. */
struct khorgos_holiday {
    khorgos_u128 id; /* request id */
    uint32_t currency;
    uint32_t date;   /* YYYYMMDD */
    uint8_t flags;   /* KHORGOS_HOLIDAY_REMOVE */
    uint8_t reserved[7];
};
#define KHORGOS_HOLIDAY_REMOVE 1u
_Static_assert(sizeof(struct khorgos_holiday) == 32, "holiday record is 32 bytes");

/* get_business_days filter and reply. A business day of a currency runs from its open_day's
 * timestamp to the next open_day's (excluded): every ledger record of the currency falls in
 * exactly one, the close_day's repayments and any funding between days in the day before. */
struct khorgos_day_filter {
    uint32_t currency; /* ISO 4217 numeric */
    uint32_t date_min; /* YYYYMMDD: the days on or after it, in date order */
    uint32_t limit;
    uint32_t reserved;
};
struct khorgos_business_day_record {
    uint32_t currency;
    uint32_t date;      /* YYYYMMDD */
    uint64_t opened_at; /* the open_day's timestamp */
    uint64_t closed_at; /* the close_day's timestamp; 0 while open */
    uint64_t reserved;
};
_Static_assert(sizeof(struct khorgos_business_day_record) == 32, "a day record is 32 bytes");

/* The reply to each settlement event. */
struct khorgos_settle_result {
    uint64_t timestamp;
    uint32_t status; /* enum khorgos_settle_status */
    uint32_t flags;  /* KHORGOS_SETTLE_RESULT_RETRY: answered from an earlier request */
    uint32_t payments_settled; /* settled while this event was applied, by any path; the
                                * request's last result adds those its closing retry of
                                * queued cross-currency payments settled (docs/api.md) */
    uint32_t reserved;
    uint64_t reserved_2;
};
#define KHORGOS_SETTLE_RESULT_RETRY 1u

/* get_positions reply: one participant in one currency, for the current (or last) day. */
struct khorgos_position {
    char bic[KHORGOS_BIC_BYTES];
    uint8_t flags; /* enum khorgos_participant_flags */
    uint32_t currency;
    khorgos_u128 opening_balance;
    khorgos_u128 balance;
    khorgos_u128 sent;
    khorgos_u128 received;
    khorgos_u128 queued;   /* value now queued */
    khorgos_u128 rejected; /* value rejected today */
    khorgos_u128 credit_line;
    khorgos_u128 credit_outstanding;
    khorgos_u128 credit_used;   /* the most drawn at once today */
    khorgos_u128 credit_repaid;
    khorgos_u128 overnight_credit;
    khorgos_u128 net_debit_cap; /* KHORGOS_AMOUNT_MAX = none */
    uint32_t sent_count;
    uint32_t received_count;
    uint32_t queued_count;
    uint32_t rejected_count;
    /* The balance when the currency's day closed (after credit was repaid); 0 from open_day to
     * close_day. Funding between days moves `balance`, never this. */
    khorgos_u128 closing_balance;
    uint8_t reserved[16];
};

/* ----------------------------------------------------------------------------------------- */
/* Errors of the library's own calls (not the per-event statuses above).                      */

#define KHORGOS_ERRORS(X)                                                                      \
    X(ok, "success")                                                                           \
    X(invalid_argument, "an argument is out of its range")                                     \
    X(invalid_operation, "the operation is unknown or not allowed here")                       \
    X(body_size, "the request body is not a whole number of records of the operation")         \
    X(too_many_events, "more events than a request may hold")                                  \
    X(reply_too_small, "the reply buffer cannot hold the reply")                               \
    X(capacity_full, "a capacity limit set at start or format time is reached")                \
    X(out_of_memory, "memory for the configured capacity could not be reserved")              \
    X(clock_not_manual, "the clock can be advanced only when it is manual")                    \
    X(io, "an input/output operation failed")                                                  \
    X(no_space, "no space left on the device")                                                 \
    X(corrupt, "stored data failed its checksum or chain")                                     \
    X(format_version, "the data directory has an unknown format version")                      \
    X(exists, "the data directory exists and is not empty")                                    \
    X(locked, "another process has the data directory open for writing")                       \
    X(not_found, "the data directory does not exist")                                          \
    X(stopped, "the engine stopped after a storage failure and serves nothing more")          \
    X(message_checksum, "a network message failed its header or body checksum")               \
    X(message_invalid, "a network message has a field its command does not allow")             \
    X(message_cluster, "a network message is addressed to another cluster")                    \
    X(diverged, "this replica's state differs from the leader's; it serves nothing more")     \
    X(account_not_found, "the participant has no settlement account in that currency")        \
    X(too_many_entries, "the statement would hold more entries than one may")                  \
    X(message_not_found, "no payment of that message is known")                            \
    X(forbidden, "the request's actor may not use this operation (docs/security.md)")         \
    X(no_session, "the client has no session: it never registered, or it was evicted")        \
    X(request_duplicate, "a retry of the client's latest request: its stored reply answers")  \
    X(request_mismatch, "the client's request number was used before for another body")       \
    X(request_out_of_order, "the client's request number or batch is not its next one")       \
    X(timeout, "the server did not answer in time")                                            \
    X(evicted, "the server ended this client's session; the client stops")                    \
    X(client_closed, "the client was closed before the request was answered")                 \
    X(day_not_found, "the currency has no business day of that date in its history")          \
    X(membership_changing, "the cluster's membership is changing; ask again")                 \
    X(raft_failed, "the raft library failed a step on this replica; it serves nothing more")

#define KHORGOS_ERROR_ENUM_(name, text) KHORGOS_ERROR_##name,
typedef enum khorgos_error {
    KHORGOS_ERRORS(KHORGOS_ERROR_ENUM_) KHORGOS_ERROR_COUNT
} khorgos_error;
#undef KHORGOS_ERROR_ENUM_

/* A sentence for an error code; never NULL. */
const char *khorgos_strerror(khorgos_error error);
/* The error's short name ("capacity_full"), used in JSON error replies; never NULL. */
const char *khorgos_error_name(khorgos_error error);

/* ----------------------------------------------------------------------------------------- */
/* The engine.                                                                                */

struct khorgos_config {
    /* Capacity limits: all memory is reserved at open from these; nothing is allocated per
     * event afterwards. Zero takes the default (see docs/limits.md). */
    uint32_t account_count_max;
    uint32_t transfer_count_max;
    /* Balances kept for accounts with the history flag (one per transfer touching one). */
    uint32_t account_balance_count_max;
    /* Nonzero: the clock is manual, starts at KHORGOS_MANUAL_CLOCK_START_NS and moves only
     * through khorgos_clock_advance. Zero: the system's realtime clock. */
    int clock_manual;
    /* Settlement capacities (zero takes the default in src/settle/settle.h). */
    uint32_t participant_count_max;
    uint32_t payment_count_max;
    /* khorgos_format only. Nonzero: checkpoints move the journal segments they no longer need
     * into the directory's archive folder instead of deleting them, so that `khorgos check
     * --from-genesis` proves the chain from the first request (docs/storage.md). */
    int keep_journal;
    /* khorgos_format only: the cluster id the directory serves, which every client message
     * names (`khorgos format --cluster`); recorded in the superblock. */
    khorgos_u128 cluster;
};

struct khorgos;

/* Who sends a request, for authorization inside the engine (docs/security.md, "Authorization").
 * The zero actor is the operator, who may do everything: `apply` and in-process callers that
 * leave it zero are not restricted. A participant's rights come from its participant record
 * (bank, settlement agent or liquidity provider) at the time of the request. The engine
 * journals the actor (the BIC, or the role's name) so that replay decides the same way. */
enum khorgos_actor_role {
    KHORGOS_ACTOR_OPERATOR = 0,
    KHORGOS_ACTOR_AUDITOR = 1,     /* reads everything, changes nothing */
    KHORGOS_ACTOR_REPLICA = 2,     /* a cluster peer: no client operation */
    KHORGOS_ACTOR_PARTICIPANT = 3, /* the participant with `bic` */
};
struct khorgos_actor {
    uint32_t role;               /* enum khorgos_actor_role */
    char bic[KHORGOS_BIC_BYTES]; /* participant: its BIC, 8 or 11 characters, NUL-padded;
                                  * zero for the other roles */
    uint8_t reserved;            /* zero */
};

/* A request's client and its place in that client's session (docs/protocol.md, "Sessions"):
 * the engine keeps a bounded table of sessions, journaled and snapshotted, so that a client's
 * retry, after a dropped connection or a restart, gets its original reply and applies nothing
 * twice. A client request of n batches is n engine requests, batch 0 to n - 1, in order. */
struct khorgos_client_request {
    khorgos_u128 client;   /* nonzero */
    khorgos_u128 checksum; /* identifies the request's bytes: a retry repeats it */
    uint64_t request;      /* 0 for its register, then 1, 2, ... */
    uint32_t release;      /* the client's release (kept from its register) */
    uint16_t batch;
    uint16_t batch_count;
};

/* One request of a batch given to khorgos_execute. */
struct khorgos_request {
    uint32_t operation;       /* enum khorgos_operation, never PULSE */
    uint32_t body_size;       /* bytes; a whole number of the operation's records */
    const void *body;
    void *reply;              /* the caller's buffer */
    uint32_t reply_capacity;  /* bytes */
    uint32_t reply_size;      /* out: bytes written */
    uint64_t timestamp;       /* out: the timestamp the engine assigned: a ledger request's
                               * last event's; a settlement request's events take theirs from
                               * (this - events + 1) on, each in its result (events refused as
                               * forbidden take none: the others from (this - others + 1)) */
    khorgos_error error;      /* out: ok, or why this request was refused (nothing applied) */
    struct khorgos_actor actor; /* in: who sends it; zero (the default) is the operator */
    /* NULL: outside any session (apply, the C API). Else the client's session: it is checked
     * (no_session, request_duplicate, request_mismatch, request_out_of_order refuse it and
     * change nothing), the request is journaled even when it only reads, and its reply kept. */
    const struct khorgos_client_request *client;
};

/* Opens an engine in memory (a data directory comes with the storage layer). */
khorgos_error khorgos_open_memory(struct khorgos **engine, const struct khorgos_config *config);
void khorgos_close(struct khorgos *engine);

/* Applies `count` requests in order and commits them together. A request that is malformed
 * (bad size, unknown operation, too many events, reply buffer too small) gets its own error and
 * changes nothing; the others are applied. A request its actor may not use gets forbidden and
 * changes nothing (a state-changing one is journaled all the same: docs/security.md). Returns
 * ok unless the engine itself failed, in which case no reply of this batch may be used. */
khorgos_error khorgos_execute(struct khorgos *engine, struct khorgos_request *requests,
                              uint32_t count);
/* khorgos_execute in two halves, so that a caller may apply its next batch while this one is
 * written and synced (a pipeline of two; docs/storage.md, "Pipelined commit"). begin applies
 * the requests and hands their records to the journal's writer, waiting first for the batch
 * before it; it fills the replies, but NO REPLY MAY BE USED (released to anyone) until
 * khorgos_execute_wait(ticket) returns ok: only then are its records durable. wait returns
 * what khorgos_execute would have; a later ticket covers every earlier one. Requests keep
 * their order: a batch sees the effects of every batch begun before it. Not thread-safe, as
 * no call is: one thread drives the engine. */
khorgos_error khorgos_execute_begin(struct khorgos *engine, struct khorgos_request *requests,
                                    uint32_t count, uint64_t *ticket);
khorgos_error khorgos_execute_wait(struct khorgos *engine, uint64_t ticket);

/* ----------------------------------------------------------------------------------------- */
/* Data directories: a durable journal, checkpoints and recovery (docs/storage.md).           */

struct khorgos_open_options {
    /* As khorgos_config.clock_manual (capacities come from the directory). */
    int clock_manual;
    /* Checkpoint automatically once the journal written since the last checkpoint holds this
     * many bytes; UINT64_MAX never (khorgos_checkpoint only); 0 takes the default: half a
     * segment, or twice the last checkpoint's state if more, so that checkpoints of a large
     * state come less often and write no more than half the journal's bytes (docs/storage.md,
     * "Checkpoint policy"). */
    uint64_t checkpoint_journal_bytes;
    /* Optional: receives what recovery found (a torn tail truncated, a snapshot fallback, or
     * the file, offset and sequence of damage), NUL-terminated. */
    char *report;
    size_t report_capacity;
    /* Nonzero: make the reserved memory resident (khorgos_memory_prefault) before the journal
     * is replayed, so recovery pays no first-touch page faults either. */
    int memory_prefault;
};

/* Creates a data directory with the config's capacities: makes `directory` (mode 0700), or
 * takes an existing empty one (exists when it holds anything). Files are created 0600. A
 * format that fails leaves nothing behind that blocks the next: what it made is removed. */
khorgos_error khorgos_format(const char *directory, const struct khorgos_config *config);
/* As khorgos_format; `report` (optional, NUL-terminated) receives what failed, with the file
 * and the system's cause ("journal-0000000000000001: fallocate: No space left on device"). */
khorgos_error khorgos_format_report(const char *directory, const struct khorgos_config *config,
                                    char *report, size_t report_capacity);
/* Opens a data directory, recovers (newest valid snapshot, then the journal), then serves;
 * every state-changing request is durable before khorgos_execute returns. One writer at a
 * time: the engine holds the directory's lock (the file "lock" in it) until khorgos_close,
 * and the kernel releases it if the process dies; while another engine, in this process or
 * another, holds it, open fails with locked before reading or writing anything (the report
 * names the holder's pid). not_found, locked, format_version, corrupt (refuses to start on
 * damage to acknowledged data), io, ... */
khorgos_error khorgos_open(struct khorgos **engine, const char *directory,
                           const struct khorgos_open_options *options);
/* Begins a snapshot of the state now (the state is copied before this returns; a thread writes
 * it, and a later call publishes it and drops what it makes unnecessary). ok and nothing more if
 * a checkpoint is already being written. A snapshot is published only once every request it
 * covers is durable. */
khorgos_error khorgos_checkpoint(struct khorgos *engine);
/* Makes every page of the memory the engine reserved at open resident, keeping its contents,
 * so that no later request pays a first-touch page fault (without it the first batches after
 * open fault on most id-map inserts). A server's (and the benchmark's) choice right after
 * open: it costs the whole reservation in resident memory and a page fault per page now. */
khorgos_error khorgos_memory_prefault(struct khorgos *engine);

/* What the checkpoints of an engine opened on a data directory have done so far, for
 * operators and the benchmarks (a commit's delay by a checkpoint is measured against these). */
struct khorgos_checkpoint_statistics {
    uint64_t started;             /* checkpoints begun (automatic and khorgos_checkpoint) */
    uint64_t completed;           /* published: durable and renamed into place */
    uint64_t discarded;           /* failed in the background; the journal still holds all */
    uint64_t sequence_running;    /* the sequence of the one being written, 0 when none */
    uint64_t begin_ns_max;        /* the longest a commit spent beginning one */
};
/* invalid_operation for an engine in memory. */
khorgos_error khorgos_checkpoint_statistics(const struct khorgos *engine,
                                            struct khorgos_checkpoint_statistics *statistics);

/* How long the journal's writes took since open. A flight is one batch's write: its records,
 * fdatasync, header copies and fdatasync, which every commit of the batch waits for (the
 * batch being written is "in flight"). For operators (a disk whose syncs slow down shows here
 * first) and the benchmarks (a checkpoint's effect on the commits is the difference between
 * runs with and without checkpoints), whose output keys keep these names. */
struct khorgos_journal_statistics {
    uint64_t flights;             /* batches written */
    uint64_t flight_ns_max;       /* the longest */
    uint64_t flights_over_5_ms;
    uint64_t flights_over_10_ms;
};
/* invalid_operation for an engine in memory. */
khorgos_error khorgos_journal_statistics(const struct khorgos *engine,
                                         struct khorgos_journal_statistics *statistics);
/* A currency's settlement state now, read by the server's metrics (docs/operations.md). The
 * amounts are in the currency's minor units, summed over every participant holding it. */
struct khorgos_currency_statistics {
    uint32_t numeric;             /* ISO 4217 numeric code: the ledger */
    uint8_t minor_units;
    uint8_t day_open;             /* 1 while its business day is open */
    uint8_t reserved[2];
    uint32_t participants;        /* participants holding it */
    uint32_t queued_count;        /* payments queued now */
    khorgos_u128 queued_value;
    khorgos_u128 balance;         /* settlement accounts' posted credits minus debits */
    khorgos_u128 credit_line;     /* intraday credit lines granted */
    khorgos_u128 credit_outstanding; /* intraday credit drawn and not repaid */
};
/* Currencies the settlement layer has seen (created with a participant or an agent). */
uint32_t khorgos_currency_count(const struct khorgos *engine);
/* The statistics of the index-th of them (0 <= index < khorgos_currency_count);
 * invalid_argument past the last. Reads the state only: no request, no journal. */
khorgos_error khorgos_currency_statistics(const struct khorgos *engine, uint32_t index,
                                          struct khorgos_currency_statistics *statistics);
/* Netting windows by state now: counts[state] for each enum khorgos_window_state (counts[0]
 * is 0). */
#define KHORGOS_WINDOW_STATE_COUNT 6u
void khorgos_window_counts(const struct khorgos *engine,
                           uint32_t counts[KHORGOS_WINDOW_STATE_COUNT]);
/* Once a call returned io or no_space (a write or sync of the data directory failed, and the
 * engine stopped: no reply of that batch or any later one may be released), what failed:
 * "<file>: <cause>", the file's name inside the data directory and the system's error text,
 * for example "journal-0000000000000001: No space left on device". Empty (text[0] == 0) when
 * the engine has not stopped or is in memory. Restarting after the cause is cleared recovers
 * every acknowledged request. */
void khorgos_failure_text(const struct khorgos *engine, char *text, size_t capacity);
/* The longest failure text with its NUL: a name of the data directory, the call and the
 * system's error text (strerror's longest is under 50 bytes). A buffer this size never cuts it. */
#define KHORGOS_FAILURE_TEXT_BYTES 160u
/* The journal's chain head (SHA-256 of the last record, zero before the first) and its
 * sequence number; invalid_operation for an engine in memory, or while a batch begun is not
 * yet waited for. */
khorgos_error khorgos_chain_head(const struct khorgos *engine, uint8_t head[32],
                                 uint64_t *sequence);

/* The engine's clock now, in nanoseconds since the epoch. */
uint64_t khorgos_clock_now(const struct khorgos *engine);
/* Moves a manual clock forward; expiries that fall due are applied (and journaled). */
khorgos_error khorgos_clock_advance(struct khorgos *engine, uint64_t nanoseconds);

/* Bytes a reply of `operation` with a body of `body_size` bytes may need at the most (never
 * more than KHORGOS_MESSAGE_BODY_BYTES_MAX). */
uint32_t khorgos_reply_size_max(uint32_t operation, uint32_t body_size);
/* The most records (events or ids) a request body of `operation` may hold: 1 for a filter,
 * otherwise KHORGOS_BATCH_EVENTS_MAX or fewer, so that its body and its reply each fit in
 * KHORGOS_MESSAGE_BODY_BYTES_MAX (submit_payments and lookup_payments: 4,094); more gets
 * too_many_events and changes nothing. 0 for an unknown operation. */
uint32_t khorgos_events_max(uint32_t operation);

/* ----------------------------------------------------------------------------------------- */
/* Currencies: ISO 4217. Ledgers outside the table still work; they show as minor units.     */

struct khorgos_currency {
    uint32_t numeric;    /* the ledger number */
    char letters[4];     /* "CNY" */
    uint8_t minor_units; /* decimals */
};

/* The currency of a ledger number, NULL when not in the table. */
const struct khorgos_currency *khorgos_currency_by_numeric(uint32_t numeric);
/* The currency with these three letters (case-sensitive), NULL when not in the table. */
const struct khorgos_currency *khorgos_currency_by_letters(const char *letters);

/* Writes `amount` (minor units) as a decimal with `minor_units` decimals, e.g. "1234.50",
 * NUL-terminated; returns the length, or 0 if `capacity` is too small (at least 42 suffices). */
size_t khorgos_amount_format(khorgos_u128 amount, uint8_t minor_units, char *out,
                             size_t capacity);
/* Reads a decimal in major units ("1234.5") into minor units exactly; -1 on bad syntax, more
 * decimals than minor_units, or overflow. */
int khorgos_amount_parse(const char *text, size_t length, uint8_t minor_units,
                         khorgos_u128 *amount);

#ifdef __cplusplus
}
#endif

#endif /* KHORGOS_H */
