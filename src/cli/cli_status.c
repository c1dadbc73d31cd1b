/*
 * cli_status.c: `khorgos status`, every replica's place in the cluster at a glance.
 *
 *   khorgos status --addresses HTTP[,HTTP...] [--timeout SECONDS]
 *
 * Each address is a replica's HTTP port (`start --http`); status reads its /metrics page
 * (server_metrics.c: the khorgos_cluster_* gauges, cluster_status.h) and prints one line per
 * replica: its role, the leader it knows, raft's term, its commit and applied indexes and its
 * lag (the highest commit index any replica reported, less this one's applied index), then the
 * leader. Why /metrics and not a request over the client protocol: a session's register is a
 * replicated write, which a cluster without a majority cannot commit, and that is exactly when
 * an operator needs to see each replica; the HTTP port answers from the replica's own loop
 * whatever raft's state. A single node answers as standalone.
 *
 * Exit status: 0 when every replica answered and, in a cluster, they agree on one leader of
 * the highest term; 1 otherwise (a replica that did not answer, no leader, a stopped replica);
 * 2 on a usage error.
 */
#include "cli/cli.h"
#include "cluster/cluster_status.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Replicas one status asks at most: a cluster has at most five; a few more addresses let an
 * operator include a replica being added or replaced. */
#define STATUS_ADDRESSES_MAX 8u
/* Bytes of a /metrics page read at most: a page is a few KiB per currency. */
#define STATUS_PAGE_BYTES_MAX (1u << 20)
/* Seconds a replica may take to answer: a page is written in milliseconds, so a replica that
 * takes longer is stopped or cut off. */
#define STATUS_TIMEOUT_SECONDS_DEFAULT 2u

struct status_replica {
    char address[64];
    struct sockaddr_in socket_address;
    bool answered;
    char failure[128]; /* why it did not answer */
    struct cluster_status status;
};

static int status_usage(const char *problem) {
    ASSERT(problem == NULL || problem[0] != '\0');
    FILE *stream = problem != NULL ? stderr : stdout;
    if (problem != NULL) fprintf(stderr, "khorgos status: %s\n", problem);
    fprintf(stream, "usage: khorgos status --addresses HTTP[,HTTP...] [--timeout SECONDS]\n"
                    "  each replica's role, leader, term, commit and applied index and lag,\n"
                    "  from the /metrics page of its HTTP port (start --http). khorgos status "
                    "--help.\n");
    ASSERT(CLI_EXIT_USAGE != CLI_EXIT_OK);
    return problem != NULL ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}

/* "HOST:PORT" (IPv4) or "PORT" for 127.0.0.1. */
static bool status_address_parse(const char *text, size_t length, struct status_replica *out) {
    ASSERT(text != NULL && out != NULL);
    if (length == 0 || length >= sizeof(out->address)) return false;
    memcpy(out->address, text, length);
    out->address[length] = '\0';
    char host[64] = "127.0.0.1";
    const char *port_text = out->address;
    const char *colon = strrchr(out->address, ':');
    if (colon != NULL) {
        memcpy(host, out->address, (size_t)(colon - out->address));
        host[colon - out->address] = '\0';
        port_text = colon + 1;
    }
    char *end = NULL;
    unsigned long port = strtoul(port_text, &end, 10);
    if (*port_text == '\0' || *end != '\0' || port == 0 || port > 65535) return false;
    memset(&out->socket_address, 0, sizeof(out->socket_address));
    out->socket_address.sin_family = AF_INET;
    out->socket_address.sin_port = htons((u16)port);
    ASSERT(strlen(host) < sizeof(host));
    return inet_pton(AF_INET, host, &out->socket_address.sin_addr) == 1;
}

static u64 status_now_ms(void) {
    struct timespec now;
    int result = clock_gettime(CLOCK_MONOTONIC, &now);
    ASSERT(result == 0);
    ASSERT(now.tv_nsec >= 0);
    return (u64)now.tv_sec * 1000u + (u64)now.tv_nsec / 1000000u;
}

/* Waits for `events` on the socket until the deadline; false on timeout or error. */
static bool status_wait(int socket_fd, short events, u64 deadline_ms) {
    ASSERT(socket_fd >= 0);
    ASSERT(events != 0);
    u64 now = status_now_ms();
    if (now >= deadline_ms) return false;
    struct pollfd poller = {.fd = socket_fd, .events = events};
    int ready = poll(&poller, 1, (int)(deadline_ms - now));
    return ready == 1;
}

/* Connects and sends the request; the socket, or -1 with the failure said. */
static int status_connect(struct status_replica *replica, u64 deadline_ms) {
    ASSERT(replica != NULL);
    int socket_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (socket_fd < 0) {
        snprintf(replica->failure, sizeof(replica->failure), "socket: %s", strerror(errno));
        return -1;
    }
    int status = connect(socket_fd, (const struct sockaddr *)&replica->socket_address,
                         sizeof(replica->socket_address));
    int error = status == 0 ? 0 : errno;
    if (error == EINPROGRESS && status_wait(socket_fd, POLLOUT, deadline_ms)) {
        socklen_t size = sizeof(error);
        if (getsockopt(socket_fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
    } else if (error == EINPROGRESS) {
        error = ETIMEDOUT;
    }
    static const char request[] = "GET /metrics HTTP/1.0\r\nHost: khorgos\r\n\r\n";
    if (error == 0 && send(socket_fd, request, sizeof(request) - 1, MSG_NOSIGNAL) !=
                          (ssize_t)(sizeof(request) - 1)) {
        error = errno != 0 ? errno : EIO;
    }
    if (error != 0) {
        snprintf(replica->failure, sizeof(replica->failure), "connect: %s", strerror(error));
        close(socket_fd);
        return -1;
    }
    ASSERT(socket_fd >= 0);
    return socket_fd;
}

/* Reads the whole answer (the server closes after it); NULL with the failure said. */
static char *status_fetch(struct status_replica *replica, u64 deadline_ms) {
    ASSERT(replica != NULL);
    int socket_fd = status_connect(replica, deadline_ms);
    if (socket_fd < 0) return NULL;
    char *page = malloc(STATUS_PAGE_BYTES_MAX + 1);
    size_t used = 0;
    const char *failure = page == NULL ? "out of memory" : NULL;
    while (failure == NULL) {
        ssize_t count = recv(socket_fd, page + used, STATUS_PAGE_BYTES_MAX - used, 0);
        if (count > 0) {
            used += (size_t)count;
            if (used == STATUS_PAGE_BYTES_MAX) failure = "the page is too large";
        } else if (count == 0) {
            break;
        } else if (errno != EAGAIN && errno != EINTR) {
            failure = strerror(errno);
        } else if (!status_wait(socket_fd, POLLIN, deadline_ms)) {
            failure = "no answer in time";
        }
    }
    close(socket_fd);
    if (failure != NULL) {
        snprintf(replica->failure, sizeof(replica->failure), "%s", failure);
        free(page);
        return NULL;
    }
    ASSERT(used <= STATUS_PAGE_BYTES_MAX);
    page[used] = '\0';
    return page;
}

/* The value of the sample `key` (the name with its labels) on the page; false when absent. */
static bool status_value(const char *page, const char *key, double *value) {
    ASSERT(page != NULL && key != NULL);
    size_t length = strlen(key);
    for (const char *line = page; line != NULL && *line != '\0';) {
        if (strncmp(line, key, length) == 0 && line[length] == ' ') {
            *value = strtod(line + length + 1, NULL);
            return true;
        }
        line = strchr(line, '\n');
        if (line != NULL) line++;
    }
    ASSERT(length > 0);
    return false;
}

/* The configuration's servers on the page (khorgos_cluster_member samples), at most
 * CLUSTER_MEMBERS_MAX. */
static void status_members(struct cluster_status *status, const char *page) {
    ASSERT(status != NULL && page != NULL);
    static const char key[] = "khorgos_cluster_member{replica=\"";
    status->member_count = 0;
    for (const char *line = strstr(page, key); line != NULL; line = strstr(line + 1, key)) {
        unsigned replica = 0, generation = 0;
        char role[16] = "";
        if (sscanf(line + sizeof(key) - 1, "%u\",generation=\"%u\",role=\"%15[a-z]\"",
                   &replica, &generation, role) != 3 ||
            status->member_count == CLUSTER_MEMBERS_MAX) {
            continue;
        }
        u32 code = strcmp(role, "voter") == 0 ? RAFT_VOTER
                   : strcmp(role, "standby") == 0 ? RAFT_STANDBY : RAFT_SPARE;
        status->members[status->member_count++] = (struct cluster_member){
            .replica = replica, .generation = generation, .role = code};
    }
    ASSERT(status->member_count <= CLUSTER_MEMBERS_MAX);
}

/* Fills the replica's status from its page; false (failure said) when a gauge is missing. */
static bool status_parse(struct status_replica *replica, const char *page) {
    ASSERT(replica != NULL && page != NULL);
    if (strncmp(page, "HTTP/1.", 7) != 0 || strncmp(page + 8, " 200", 4) != 0) {
        snprintf(replica->failure, sizeof(replica->failure), "HTTP answer %.12s", page);
        return false;
    }
    struct cluster_status *status = &replica->status;
    double replicas = 0, index = 0, leader = 0, term = 0, commit = 0, applied = 0, stopped = 0;
    bool found = status_value(page, "khorgos_cluster_replicas", &replicas) &&
                 status_value(page, "khorgos_cluster_replica", &index) &&
                 status_value(page, "khorgos_cluster_leader", &leader) &&
                 status_value(page, "khorgos_cluster_term", &term) &&
                 status_value(page, "khorgos_cluster_commit_index", &commit) &&
                 status_value(page, "khorgos_cluster_applied_index", &applied) &&
                 status_value(page, "khorgos_cluster_stopped", &stopped);
    status->role = CLUSTER_ROLE_COUNT;
    for (u32 role = 0; found && role < CLUSTER_ROLE_COUNT; role++) {
        char key[64];
        double on = 0;
        snprintf(key, sizeof(key), "khorgos_cluster_role{role=\"%s\"}",
                 cluster_role_name((enum cluster_role)role));
        if (status_value(page, key, &on) && on == 1) status->role = (enum cluster_role)role;
    }
    if (!found || status->role == CLUSTER_ROLE_COUNT) {
        snprintf(replica->failure, sizeof(replica->failure), "no cluster gauges on /metrics");
        return false;
    }
    status->replica_count = (u32)replicas;
    status->replica = (u32)index;
    status->leader = (i64)leader;
    status->term = (u64)term;
    status->commit_index = (u64)commit;
    status->applied_index = (u64)applied;
    status->stopped = stopped != 0;
    status_members(status, page);
    return true;
}

/* The leader the replicas agree on (the highest term's), or -1; *agreed false when replicas
 * of that term name different leaders. */
static i64 status_leader(const struct status_replica *replicas, u32 count, u64 *term,
                         bool *agreed) {
    ASSERT(replicas != NULL && term != NULL);
    ASSERT(count <= STATUS_ADDRESSES_MAX);
    *term = 0;
    *agreed = true;
    i64 leader = -1;
    for (u32 index = 0; index < count; index++) {
        const struct cluster_status *status = &replicas[index].status;
        if (!replicas[index].answered || status->leader < 0) continue;
        if (status->role == CLUSTER_ROLE_STANDALONE) continue; /* no raft, no leader */
        if (status->term > *term || leader < 0) {
            *term = status->term;
            leader = status->leader;
            *agreed = true;
        } else if (status->term == *term && status->leader != leader) {
            *agreed = false;
        }
    }
    return leader;
}

static void status_print_line(const struct status_replica *replica, u64 commit_max) {
    ASSERT(replica != NULL);
    const struct cluster_status *status = &replica->status;
    if (!replica->answered) {
        printf("%-7s %-21s %-11s no answer: %s\n", "-", replica->address, "-", replica->failure);
        return;
    }
    ASSERT(cluster_role_name(status->role) != NULL);
    if (status->role == CLUSTER_ROLE_STANDALONE) {
        printf("%-7u %-21s %s\n", status->replica, replica->address, "standalone");
        return;
    }
    char leader[24] = "none";
    if (status->leader >= 0) snprintf(leader, sizeof(leader), "%lld", (long long)status->leader);
    u64 lag = commit_max > status->applied_index ? commit_max - status->applied_index : 0;
    printf("%-7u %-21s %-11s %-7s %-7llu %-9llu %-9llu %llu%s\n", status->replica,
           replica->address, cluster_role_name(status->role), leader,
           (unsigned long long)status->term, (unsigned long long)status->commit_index,
           (unsigned long long)status->applied_index, (unsigned long long)lag,
           status->stopped ? " (stopped)" : "");
}

/* The configuration as the leader's page lists it (the leader's is the newest). */
static void status_print_members(const struct status_replica *replicas, u32 count, i64 leader,
                                 u64 term) {
    ASSERT(replicas != NULL && leader >= 0);
    ASSERT(count <= STATUS_ADDRESSES_MAX);
    for (u32 index = 0; index < count; index++) {
        const struct cluster_status *status = &replicas[index].status;
        if (!replicas[index].answered || status->role != CLUSTER_ROLE_LEADER ||
            (i64)status->replica != leader || status->term != term) {
            continue;
        }
        printf("configuration:");
        for (u32 member = 0; member < status->member_count; member++) {
            const struct cluster_member *server = &status->members[member];
            printf("%s replica %u generation %u %s", member == 0 ? "" : ",", server->replica,
                   server->generation, cluster_member_role_name(server->role));
        }
        printf("\n");
        return;
    }
}

/* Prints the table and the leader; the exit status. */
static int status_report(const struct status_replica *replicas, u32 count) {
    ASSERT(replicas != NULL);
    ASSERT(count > 0 && count <= STATUS_ADDRESSES_MAX);
    u64 commit_max = 0;
    bool healthy = true, standalone = false;
    for (u32 index = 0; index < count; index++) {
        const struct status_replica *replica = &replicas[index];
        healthy = healthy && replica->answered && !replica->status.stopped;
        if (!replica->answered) continue;
        commit_max = MAX(commit_max, replica->status.commit_index);
        standalone = standalone || replica->status.role == CLUSTER_ROLE_STANDALONE;
    }
    printf("%-7s %-21s %-11s %-7s %-7s %-9s %-9s %s\n", "replica", "address", "role", "leader",
           "term", "commit", "applied", "lag");
    for (u32 index = 0; index < count; index++) status_print_line(&replicas[index], commit_max);
    if (standalone && count == 1) {
        printf("a single node (standalone): no raft, it serves alone\n");
        return healthy ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    }
    u64 term = 0;
    bool agreed = true;
    i64 leader = status_leader(replicas, count, &term, &agreed);
    if (leader < 0) {
        printf("leader: none known (an election, or no majority)\n");
        return CLI_EXIT_FAILED;
    }
    printf("leader: replica %lld, term %llu%s\n", (long long)leader, (unsigned long long)term,
           agreed ? "" : " (replicas of that term name different leaders)");
    status_print_members(replicas, count, leader, term);
    return healthy && agreed ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

/* Parses the comma-separated addresses; their count, 0 on an error (said). */
static u32 status_addresses(const char *text, struct status_replica *replicas) {
    ASSERT(text != NULL && replicas != NULL);
    u32 count = 0;
    for (const char *at = text;;) {
        const char *comma = strchr(at, ',');
        size_t length = comma != NULL ? (size_t)(comma - at) : strlen(at);
        if (count == STATUS_ADDRESSES_MAX) {
            status_usage("at most 8 addresses");
            return 0;
        }
        if (!status_address_parse(at, length, &replicas[count])) {
            fprintf(stderr, "khorgos status: bad address \"%.*s\" (HOST:PORT or PORT)\n",
                    (int)length, at);
            return 0;
        }
        count++;
        if (comma == NULL) break;
        at = comma + 1;
    }
    ASSERT(count > 0);
    return count;
}

int cli_status_main(int argc, char **argv) {
    ASSERT(argc >= 1 && argv != NULL);
    if (cli_help_wanted(argc, argv)) return cli_help_print("status");
    const char *addresses = NULL;
    unsigned long timeout_seconds = STATUS_TIMEOUT_SECONDS_DEFAULT;
    for (int index = 1; index < argc; index++) {
        if (strcmp(argv[index], "--addresses") == 0 && index + 1 < argc) {
            addresses = argv[++index];
        } else if (strcmp(argv[index], "--timeout") == 0 && index + 1 < argc) {
            char *end = NULL;
            timeout_seconds = strtoul(argv[++index], &end, 10);
            if (*end != '\0' || timeout_seconds == 0 || timeout_seconds > 3600) {
                return status_usage("--timeout takes 1 to 3600 seconds");
            }
        } else {
            return status_usage("unknown or incomplete option");
        }
    }
    if (addresses == NULL) return status_usage("--addresses is required");
    struct status_replica replicas[STATUS_ADDRESSES_MAX];
    memset(replicas, 0, sizeof(replicas));
    u32 count = status_addresses(addresses, replicas);
    if (count == 0) return CLI_EXIT_USAGE;
    for (u32 index = 0; index < count; index++) { /* each its own time: one stopped replica
                                                     * does not hide the others */
        char *page = status_fetch(&replicas[index], status_now_ms() + timeout_seconds * 1000u);
        if (page == NULL) continue;
        replicas[index].answered = status_parse(&replicas[index], page);
        free(page);
    }
    return status_report(replicas, count);
}
