/*
 * server_clock.c: advance_clock over the wire (Khorgos's operation 192), so that every example
 * of docs/api.md runs through the server with `--clock manual`. Its body is the u64 of
 * nanoseconds to move the clock by; its reply the u64 of the clock's new time, or no body and
 * the engine's error (clock_not_manual without a manual clock, invalid_argument when the clock
 * would pass 2^64 - 1, body_size for a body other than 8 bytes). It is a barrier: every request
 * read before it is executed and answered first, so the clock moves between the requests sent
 * before and after it, as it does in `khorgos apply`.
 *
 * The client's session does not record it (the manual clock is not journaled: a test's tool),
 * so its reply is sent and not kept, and the client gives its next request the same number
 * (docs/protocol.md, "Khorgos's operations").
 */
#include "server/server_private.h"

/* Executes and answers every request queued or in flight. */
static void server_clock_drain(struct server *server) {
    ASSERT(server->queued != server->flying);
    while (server->queued->requests_count > 0 || server->flying->requests_count > 0) {
        server_jobs_execute(server);
        if (server->failure != KHORGOS_ERROR_ok) break;
    }
    ASSERT(server->failure != KHORGOS_ERROR_ok || server->flying->requests_count == 0);
}

void server_clock_advance(struct server_connection *connection,
                          const struct client_header *header, const u8 *body) {
    struct server *server = connection->server;
    ASSERT(header->request.operation == CLIENT_OPERATION_ADVANCE_CLOCK);
    ASSERT(engine_session_find(server->engine, header->request.client) != NULL);
    server_clock_drain(server);
    if (server->failure != KHORGOS_ERROR_ok) return; /* the engine stopped: no reply */
    u64 nanoseconds = 0;
    khorgos_error error = KHORGOS_ERROR_body_size;
    if (header->size == CLIENT_HEADER_BYTES + sizeof(nanoseconds)) {
        memcpy(&nanoseconds, body, sizeof(nanoseconds));
        error = khorgos_clock_advance(server->engine, nanoseconds);
    }
    if (error == KHORGOS_ERROR_io || error == KHORGOS_ERROR_no_space ||
        error == KHORGOS_ERROR_stopped) {
        server_engine_stopped(server, error); /* the expiries it journaled were not written */
        return;
    }
    u64 now = khorgos_clock_now(server->engine);
    server_reply_unrecorded(connection, header, &now,
                            error == KHORGOS_ERROR_ok ? (u32)sizeof(now) : 0, now, error);
}
