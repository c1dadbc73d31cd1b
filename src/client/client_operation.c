/* client_operation.c: names of commands, operations and eviction reasons, and how TigerBeetle
 * 0.17's state machine operations carry events (src/tigerbeetle.zig, Operation). */
#include "client/client.h"

/* Record sizes of TigerBeetle 0.17: account, transfer, account filter and account balance are
 * 128 bytes, a query filter 64, an id 16, a create result 16, a change events filter 64 and a
 * change event 384 (a transfer and two accounts); deprecated sparse create results are 8. */
#define RECORD_BYTES 128u
#define QUERY_FILTER_BYTES 64u
#define ID_BYTES 16u
#define CREATE_RESULT_BYTES 16u
#define CREATE_ERROR_RESULT_BYTES 8u
#define CHANGE_EVENTS_FILTER_BYTES 64u
#define CHANGE_EVENT_BYTES 384u

struct operation_entry {
    const char *name;
    struct client_operation_shape shape;
};

#define ENTRY(name, event, result, multi, batchable) {name, {event, result, multi, batchable}}

static const struct operation_entry operations[] = {
    [CLIENT_OPERATION_PULSE] = ENTRY("pulse", 0, 0, false, false),
    [CLIENT_OPERATION_DEPRECATED_CREATE_ACCOUNTS_UNBATCHED] = ENTRY(
        "deprecated_create_accounts_unbatched", RECORD_BYTES, CREATE_ERROR_RESULT_BYTES, false,
        true),
    [CLIENT_OPERATION_DEPRECATED_CREATE_TRANSFERS_UNBATCHED] = ENTRY(
        "deprecated_create_transfers_unbatched", RECORD_BYTES, CREATE_ERROR_RESULT_BYTES, false,
        true),
    [CLIENT_OPERATION_DEPRECATED_LOOKUP_ACCOUNTS_UNBATCHED] = ENTRY(
        "deprecated_lookup_accounts_unbatched", ID_BYTES, RECORD_BYTES, false, true),
    [CLIENT_OPERATION_DEPRECATED_LOOKUP_TRANSFERS_UNBATCHED] = ENTRY(
        "deprecated_lookup_transfers_unbatched", ID_BYTES, RECORD_BYTES, false, true),
    [CLIENT_OPERATION_DEPRECATED_GET_ACCOUNT_TRANSFERS_UNBATCHED] = ENTRY(
        "deprecated_get_account_transfers_unbatched", RECORD_BYTES, RECORD_BYTES, false, false),
    [CLIENT_OPERATION_DEPRECATED_GET_ACCOUNT_BALANCES_UNBATCHED] = ENTRY(
        "deprecated_get_account_balances_unbatched", RECORD_BYTES, RECORD_BYTES, false, false),
    [CLIENT_OPERATION_DEPRECATED_QUERY_ACCOUNTS_UNBATCHED] = ENTRY(
        "deprecated_query_accounts_unbatched", QUERY_FILTER_BYTES, RECORD_BYTES, false, false),
    [CLIENT_OPERATION_DEPRECATED_QUERY_TRANSFERS_UNBATCHED] = ENTRY(
        "deprecated_query_transfers_unbatched", QUERY_FILTER_BYTES, RECORD_BYTES, false, false),
    [CLIENT_OPERATION_GET_CHANGE_EVENTS] = ENTRY(
        "get_change_events", CHANGE_EVENTS_FILTER_BYTES, CHANGE_EVENT_BYTES, false, false),
    [CLIENT_OPERATION_DEPRECATED_CREATE_ACCOUNTS_SPARSE] = ENTRY(
        "deprecated_create_accounts_sparse", RECORD_BYTES, CREATE_ERROR_RESULT_BYTES, true, true),
    [CLIENT_OPERATION_DEPRECATED_CREATE_TRANSFERS_SPARSE] = ENTRY(
        "deprecated_create_transfers_sparse", RECORD_BYTES, CREATE_ERROR_RESULT_BYTES, true,
        true),
    [CLIENT_OPERATION_LOOKUP_ACCOUNTS] = ENTRY("lookup_accounts", ID_BYTES, RECORD_BYTES, true,
                                               true),
    [CLIENT_OPERATION_LOOKUP_TRANSFERS] = ENTRY("lookup_transfers", ID_BYTES, RECORD_BYTES, true,
                                                true),
    [CLIENT_OPERATION_GET_ACCOUNT_TRANSFERS] = ENTRY("get_account_transfers", RECORD_BYTES,
                                                     RECORD_BYTES, true, false),
    [CLIENT_OPERATION_GET_ACCOUNT_BALANCES] = ENTRY("get_account_balances", RECORD_BYTES,
                                                    RECORD_BYTES, true, false),
    [CLIENT_OPERATION_QUERY_ACCOUNTS] = ENTRY("query_accounts", QUERY_FILTER_BYTES,
                                              RECORD_BYTES, true, false),
    [CLIENT_OPERATION_QUERY_TRANSFERS] = ENTRY("query_transfers", QUERY_FILTER_BYTES,
                                               RECORD_BYTES, true, false),
    [CLIENT_OPERATION_CREATE_ACCOUNTS] = ENTRY("create_accounts", RECORD_BYTES,
                                               CREATE_RESULT_BYTES, true, true),
    [CLIENT_OPERATION_CREATE_TRANSFERS] = ENTRY("create_transfers", RECORD_BYTES,
                                                CREATE_RESULT_BYTES, true, true),
};
#undef ENTRY

bool client_operation_khorgos(u8 operation) {
    ASSERT(CLIENT_OPERATION_KHORGOS_FIRST > CLIENT_OPERATION_CREATE_TRANSFERS);
    ASSERT(CLIENT_OPERATION_KHORGOS_LAST == 255);
    return operation >= CLIENT_OPERATION_KHORGOS_FIRST;
}

bool client_operation_unrecorded(u8 operation) {
    ASSERT(CLIENT_OPERATION_SUBMIT_MESSAGE < CLIENT_OPERATION_SUBSCRIBE_ENTRIES);
    ASSERT(CLIENT_OPERATION_ADVANCE_CLOCK < CLIENT_OPERATION_SUBMIT_MESSAGE);
    return (operation >= CLIENT_OPERATION_SUBMIT_MESSAGE &&
            operation <= CLIENT_OPERATION_SUBSCRIBE_ENTRIES) ||
           operation == CLIENT_OPERATION_CLUSTER_MEMBERSHIP;
}

static const char *const vsr_operation_names[] = {
    [CLIENT_OPERATION_RESERVED] = "reserved", [CLIENT_OPERATION_ROOT] = "root",
    [CLIENT_OPERATION_REGISTER] = "register", [CLIENT_OPERATION_RECONFIGURE] = "reconfigure",
    [CLIENT_OPERATION_VSR_PULSE] = "vsr_pulse", [CLIENT_OPERATION_UPGRADE] = "upgrade",
    [CLIENT_OPERATION_NOOP] = "noop",
};

const char *client_operation_name(u8 operation) {
    ASSERT(ARRAY_COUNT(vsr_operation_names) == CLIENT_OPERATION_NOOP + 1);
    ASSERT(ARRAY_COUNT(operations) == CLIENT_OPERATION_CREATE_TRANSFERS + 1);
    if (operation < ARRAY_COUNT(vsr_operation_names)) return vsr_operation_names[operation];
    if (operation < ARRAY_COUNT(operations)) return operations[operation].name;
    if (operation == CLIENT_OPERATION_ADVANCE_CLOCK) return "advance_clock";
    if (operation == CLIENT_OPERATION_CLUSTER_MEMBERSHIP) return "cluster_membership";
    return NULL;
}

bool client_operation_shape(u8 operation, struct client_operation_shape *shape) {
    ASSERT(shape != NULL);
    memset(shape, 0, sizeof(*shape));
    if (operation < CLIENT_OPERATION_STATE_MACHINE_FIRST) return false;
    if (operation >= ARRAY_COUNT(operations)) return false;
    *shape = operations[operation].shape;
    ASSERT(operations[operation].name != NULL);
    ASSERT(shape->result_bytes > 0 || operation == CLIENT_OPERATION_PULSE);
    return true;
}

static const char *const command_names[] = {
    [CLIENT_COMMAND_RESERVED] = "reserved",       [CLIENT_COMMAND_PING] = "ping",
    [CLIENT_COMMAND_PONG] = "pong",               [CLIENT_COMMAND_PING_CLIENT] = "ping_client",
    [CLIENT_COMMAND_PONG_CLIENT] = "pong_client", [CLIENT_COMMAND_REQUEST] = "request",
    [CLIENT_COMMAND_PREPARE] = "prepare",         [CLIENT_COMMAND_PREPARE_OK] = "prepare_ok",
    [CLIENT_COMMAND_REPLY] = "reply",             [CLIENT_COMMAND_COMMIT] = "commit",
    [CLIENT_COMMAND_EXIT_VIEW] = "exit_view",     [CLIENT_COMMAND_JOIN_VIEW] = "join_view",
    [CLIENT_COMMAND_GET_VIEW] = "get_view",       [CLIENT_COMMAND_GET_HEADERS] = "get_headers",
    [CLIENT_COMMAND_GET_PREPARE] = "get_prepare", [CLIENT_COMMAND_GET_REPLY] = "get_reply",
    [CLIENT_COMMAND_HEADERS] = "headers",         [CLIENT_COMMAND_EVICTION] = "eviction",
    [CLIENT_COMMAND_GET_BLOCKS] = "get_blocks",   [CLIENT_COMMAND_BLOCK] = "block",
    [CLIENT_COMMAND_VIEW] = "view",
};

const char *client_command_name(u8 command) {
    ASSERT(ARRAY_COUNT(command_names) == CLIENT_COMMAND_VIEW + 1);
    ASSERT(command_names[CLIENT_COMMAND_EVICTION] != NULL);
    if (command == CLIENT_COMMAND_NOTIFICATION) return "notification";
    if (command < ARRAY_COUNT(command_names)) return command_names[command];
    return NULL;
}

#define EVICTION_NAME_(name, value) [value] = #name,
static const char *const eviction_names[] = {CLIENT_EVICTION_REASONS(EVICTION_NAME_)};
#undef EVICTION_NAME_
_Static_assert(ARRAY_COUNT(eviction_names) == CLIENT_EVICTION_REASON_COUNT,
               "a name for every eviction reason");

const char *client_eviction_reason_name(u8 reason) {
    ASSERT(eviction_names[CLIENT_EVICTION_session_release_mismatch] != NULL);
    if (reason >= ARRAY_COUNT(eviction_names)) return NULL;
    return eviction_names[reason];
}
