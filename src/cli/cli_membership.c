/*
 * cli_membership.c: `khorgos cluster add|remove` (docs/replication.md, "Membership"). It sends
 * the leader an operator's cluster_membership request (cluster_membership.h) through a client
 * given the cluster's addresses, and asks again every CLI_MEMBERSHIP_POLL_MS while the leader
 * answers membership_changing, until the configuration is as asked (exit 0) or --timeout
 * passes (exit 1). Each answer's configuration is printed when it differs from the last.
 */
#include "base/base.h"
#include "cli/cli.h"
#include "cluster/cluster_membership.h"
#include "khorgos_client.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Between two asks: a step (a change committed, a catch-up round) takes about this long. */
#define CLI_MEMBERSHIP_POLL_MS 200u

static int cli_membership_usage(const char *problem) {
    ASSERT(problem != NULL);
    fprintf(stderr,
            "khorgos cluster: %s\n"
            "usage: khorgos cluster add --addresses A0,A1,.. --cluster ID --replica N "
            "[--generation G]\n"
            "       khorgos cluster remove --addresses A0,A1,.. --cluster ID --replica N\n"
            "  add: replica N of generation G (default 0) becomes a voter, after it caught up;\n"
            "       the other generations of replica N leave the configuration\n"
            "  remove: replica N leaves the configuration\n"
            "  --timeout S  give up after S seconds (default 60); --tls-cert, --tls-key,\n"
            "               --tls-ca as for khorgos client (an operator certificate)\n",
            problem);
    return CLI_EXIT_USAGE;
}

/* The outcome and configuration of a reply, one line. */
static void cli_membership_print(const struct cluster_membership_reply *reply,
                                 const struct cluster_member *members) {
    ASSERT(reply != NULL && members != NULL);
    ASSERT(reply->member_count <= CLUSTER_MEMBERS_MAX);
    printf("%s:", reply->error == KHORGOS_ERROR_ok ? "configuration" : "changing");
    for (u32 index = 0; index < reply->member_count; index++) {
        printf(" replica=%u generation=%u role=%s", members[index].replica,
               members[index].generation, cluster_member_role_name(members[index].role));
        if (index + 1 < reply->member_count) printf(",");
    }
    if (reply->raft_status != 0) printf(" (the last step failed: raft's %d)", reply->raft_status);
    printf("\n");
    fflush(stdout);
}

static void cli_membership_sleep(void) {
    struct timespec pause = {.tv_sec = 0, .tv_nsec = (long)CLI_MEMBERSHIP_POLL_MS * 1000000L};
    ASSERT(pause.tv_nsec < 1000000000L);
    while (nanosleep(&pause, &pause) != 0) continue;
}

/* One ask: ok, membership_changing (the reply's outcome), or the request's failure. */
static khorgos_error cli_membership_ask(struct khorgos_client *client,
                                        const struct cluster_membership_request *request,
                                        u8 *reply, u32 capacity, u32 *reply_bytes) {
    ASSERT(client != NULL && request != NULL);
    ASSERT(reply != NULL && reply_bytes != NULL);
    struct khorgos_client_call call = {.operation = KHORGOS_CLIENT_CLUSTER_MEMBERSHIP,
                                       .body = request, .body_size = sizeof(*request),
                                       .reply = reply, .reply_capacity = capacity};
    khorgos_error error = khorgos_client_execute(client, &call);
    *reply_bytes = call.reply_size;
    if (error != KHORGOS_ERROR_ok) return error;
    struct cluster_membership_reply header;
    if (call.reply_size < sizeof(header)) return KHORGOS_ERROR_message_invalid;
    memcpy(&header, reply, sizeof(header));
    bool known = header.error == KHORGOS_ERROR_ok ||
                 header.error == KHORGOS_ERROR_membership_changing;
    if (!known || header.member_count > CLUSTER_MEMBERS_MAX ||
        call.reply_size != sizeof(header) + header.member_count * sizeof(struct cluster_member)) {
        return KHORGOS_ERROR_message_invalid;
    }
    return (khorgos_error)header.error;
}

/* Asks until the leader says the configuration is as asked, or the deadline. */
static int cli_membership_run(struct khorgos_client *client,
                              const struct cluster_membership_request *request, u64 timeout_ns) {
    ASSERT(client != NULL && request != NULL);
    ASSERT(timeout_ns > 0);
    u64 deadline_ns = base_clock_monotonic_ns() + timeout_ns;
    enum { capacity = sizeof(struct cluster_membership_reply) +
                      CLUSTER_MEMBERS_MAX * sizeof(struct cluster_member) };
    u8 reply[capacity];
    u8 last[capacity];
    u32 last_bytes = 0;
    while (true) {
        u32 bytes = 0;
        khorgos_error error = cli_membership_ask(client, request, reply, capacity, &bytes);
        bool answered = error == KHORGOS_ERROR_ok || error == KHORGOS_ERROR_membership_changing;
        if (answered && (bytes != last_bytes || memcmp(reply, last, bytes) != 0)) {
            struct cluster_membership_reply header;
            struct cluster_member members[CLUSTER_MEMBERS_MAX];
            memcpy(&header, reply, sizeof(header));
            memcpy(members, reply + sizeof(header), bytes - sizeof(header));
            cli_membership_print(&header, members);
            memcpy(last, reply, bytes);
            last_bytes = bytes;
        }
        if (error == KHORGOS_ERROR_ok) return CLI_EXIT_OK;
        if (!answered) {
            fprintf(stderr, "khorgos cluster: %s (%s)\n", khorgos_strerror(error),
                    khorgos_error_name(error));
            return CLI_EXIT_FAILED;
        }
        if (base_clock_monotonic_ns() >= deadline_ns) {
            fprintf(stderr, "khorgos cluster: the change did not finish within --timeout\n");
            return CLI_EXIT_FAILED;
        }
        cli_membership_sleep();
    }
}

/* Reads the options after the action; -1 when they are whole, else the exit status. */
static int cli_membership_options(int argc, char **argv, struct khorgos_client_options *options,
                                  struct cluster_membership_request *request, bool *replica) {
    ASSERT(options != NULL && request != NULL);
    ASSERT(replica != NULL);
    for (int index = 2; index < argc; index += 2) {
        const char *option = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (value == NULL) return cli_membership_usage("an option lacks its value");
        const char *problem = "an unknown option";
        u128 number = 0;
        bool numeric = base_u128_parse(value, strlen(value), &number) == 0;
        if (strcmp(option, "--replica") == 0 && numeric && number < CLUSTER_REPLICA_COUNT_MAX) {
            request->replica = (u32)number;
            *replica = true;
        } else if (strcmp(option, "--generation") == 0 && numeric &&
                   number <= CLUSTER_GENERATION_MAX &&
                   request->action == CLUSTER_MEMBERSHIP_ADD) {
            request->generation = (u32)number;
        } else if (cli_client_option(option, value, options, &problem) != 1) {
            return cli_membership_usage(problem);
        }
    }
    return -1;
}

int cli_membership_main(int argc, char **argv) {
    ASSERT(argc >= 1 && argv != NULL);
    if (cli_help_wanted(argc, argv)) return cli_help_print("cluster");
    struct cluster_membership_request request = {0};
    if (argc >= 2 && strcmp(argv[1], "add") == 0) request.action = CLUSTER_MEMBERSHIP_ADD;
    if (argc >= 2 && strcmp(argv[1], "remove") == 0) request.action = CLUSTER_MEMBERSHIP_REMOVE;
    if (request.action == 0) return cli_membership_usage("the action is add or remove");
    struct khorgos_client_options options = {0};
    bool replica = false;
    int status = cli_membership_options(argc, argv, &options, &request, &replica);
    if (status >= 0) return status;
    const char *problem = cli_client_options_finish(&options);
    if (problem == NULL && !replica) problem = "--replica is needed";
    if (problem != NULL) return cli_membership_usage(problem);
    u64 timeout_ns = options.request_timeout_ns;
    struct khorgos_client *client = NULL;
    khorgos_error error = khorgos_client_open(&client, &options);
    if (error != KHORGOS_ERROR_ok) {
        fprintf(stderr, "khorgos cluster: %s (%s)\n", khorgos_strerror(error),
                khorgos_error_name(error));
        return CLI_EXIT_FAILED;
    }
    status = cli_membership_run(client, &request, timeout_ns);
    khorgos_client_close(client);
    return status;
}
