/*
 * server_membership.c: an operator's request to change a cluster's membership
 * (`khorgos cluster add|remove`, docs/replication.md, "Membership"), and a replica's notice that
 * it was removed. The request is the client protocol's cluster_membership operation: only the
 * operator role may send it (on a TLS cluster, a client certificate with the CN `operator`), it
 * is answered only by the serving leader (a follower, or a leader before its barrier, drops it
 * unanswered as it drops every request), and the leader answers at once with the outcome of
 * one step (cluster_membership_step: ok, the configuration is as asked; membership_changing,
 * ask again) and the configuration in the reply's body
 * (struct cluster_membership_reply; the reply's own error is ok), outside the session's
 * record, so the client gives its next request the same number. Nothing of it is journaled:
 * raft's log holds the configuration changes.
 */
#include "server/server_private.h"

#include "cluster/cluster_replica.h"

#include <signal.h>

/* The reply's body: the outcome (cluster_membership_reply) and the configuration. */
static u32 membership_body(struct cluster_replica *cluster, khorgos_error error, u8 *body) {
    ASSERT(cluster != NULL && body != NULL);
    struct cluster_member members[CLUSTER_MEMBERS_MAX];
    u32 count = cluster_members_read(&cluster->raft, members);
    struct cluster_membership_reply reply = {.error = (u32)error, .member_count = count,
                                             .raft_status = cluster->membership.last_status};
    memcpy(body, &reply, sizeof(reply));
    memcpy(body + sizeof(reply), members, (size_t)count * sizeof(members[0]));
    ASSERT(count <= CLUSTER_MEMBERS_MAX);
    return (u32)sizeof(reply) + count * (u32)sizeof(members[0]);
}

void server_membership_request(struct server_connection *connection,
                               const struct client_header *header, const u8 *body) {
    ASSERT(connection != NULL && header != NULL);
    ASSERT(header->request.operation == CLIENT_OPERATION_CLUSTER_MEMBERSHIP);
    struct server *server = connection->server;
    /* Only the serving leader gets here: a follower, or a leader before its barrier, dropped
     * the request unanswered with every other (server_request.c), since its configuration may
     * lag the leader's and it could answer ok to a change not made. */
    ASSERT(server->replica == NULL || server_replica_serving(server));
    u64 now = khorgos_clock_now(server->engine);
    u32 body_bytes = header->size - (u32)CLIENT_HEADER_BYTES;
    khorgos_error error = KHORGOS_ERROR_ok;
    if (connection->identity.role != SERVER_ROLE_OPERATOR) error = KHORGOS_ERROR_forbidden;
    else if (server->replica == NULL) error = KHORGOS_ERROR_invalid_operation;
    else if (body_bytes != sizeof(struct cluster_membership_request)) {
        error = KHORGOS_ERROR_invalid_argument;
    }
    if (error != KHORGOS_ERROR_ok) {
        server_log("event=membership_refused connection=%llu error=%s",
                   (unsigned long long)connection->id, khorgos_error_name(error));
        server_reply_unrecorded(connection, header, NULL, 0, now, error);
        return;
    }
    struct cluster_membership_request request;
    memcpy(&request, body, sizeof(request));
    struct cluster_replica *cluster = server_replica_cluster(server);
    const char *address = request.replica < cluster->identity.replica_count
                              ? cluster->raft_addresses[request.replica]
                              : NULL;
    bool was_changing = cluster->membership.changing;
    if (!was_changing && cluster->membership.last_status != 0) {
        /* The step before ended in raft's refusal (a standby that did not catch up in raft's
         * rounds, a leadership lost): said here, since its callback cannot log. */
        server_log("event=membership_step_failed raft_status=\"%s\"",
                   raft_strerror(cluster->membership.last_status));
    }
    error = cluster_membership_step(&cluster->raft, &cluster->membership, address, &request);
    if (error == KHORGOS_ERROR_invalid_argument) {
        server_reply_unrecorded(connection, header, NULL, 0, now, error);
        return;
    }
    if (!was_changing && (cluster->membership.changing || cluster->membership.last_status != 0)) {
        server_log("event=membership_step action=%s replica=%u generation=%u servers=%u "
                   "begun=%s raft_status=\"%s\"",
                   request.action == CLUSTER_MEMBERSHIP_ADD ? "add" : "remove",
                   request.replica, request.generation, cluster->raft.configuration.n,
                   cluster->membership.changing ? "yes" : "no",
                   cluster->membership.last_status == 0
                       ? "ok"
                       : raft_strerror(cluster->membership.last_status));
    }
    u8 reply[sizeof(struct cluster_membership_reply) +
             CLUSTER_MEMBERS_MAX * sizeof(struct cluster_member)];
    u32 reply_bytes = membership_body(cluster, error, reply);
    server_reply_unrecorded(connection, header, reply, reply_bytes, now, KHORGOS_ERROR_ok);
}

bool server_membership_removed(struct server *server) {
    ASSERT(server != NULL && server->replica != NULL);
    struct cluster_replica *cluster = server_replica_cluster(server);
    ASSERT(cluster->raft.id != 0);
    bool present = false;
    for (unsigned index = 0; index < cluster->raft.configuration.n; index++) {
        if (cluster->raft.configuration.servers[index].id == cluster->raft.id) present = true;
    }
    if (present) cluster->membership.member_seen = true;
    if (present || !cluster->membership.member_seen) return false;
    cluster->membership.member_seen = false; /* said once */
    server_log("event=removed replica=%u generation=%u reason=\"this replica is no longer in "
               "the cluster's configuration; it stops\"",
               (unsigned)cluster->identity.replica, (unsigned)cluster->identity.generation);
    return true;
}
