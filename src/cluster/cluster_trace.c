/*
 * raft's last messages (cluster.h, "raft's last messages"). raft and raft_uv format a message
 * at each step whether anyone reads it or not, and hand it to their tracer; this one keeps the
 * last CLUSTER_TRACE_LINES of them in a ring, so that a replica that stops on raft's failure,
 * or dies inside raft, can say what raft did last.
 *
 * The ring: `lines[(first + i) % CLUSTER_TRACE_LINES]` for i < count is the i-th oldest line,
 * each NUL-terminated within its CLUSTER_TRACE_LINE_BYTES (a longer message is cut), and
 * `repeats` of the same slot counts the messages equal to it (its time aside) that came after
 * it among the last CLUSTER_TRACE_REPEAT_LINES lines: a follower refusing every AppendEntries
 * writes the same two lines hundreds of times a second, which would push out what came before
 * (a snapshot, an election) that says why. Lines come
 * from the loop's thread and from libuv's workers (raft_uv's disk work), so writes are behind
 * a mutex; the crash report reads without it (cluster_trace_write), and bounds each line by its
 * slot, so a line being written as the process died is cut, never overrun.
 */
#include "cluster/cluster.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <raft/uv.h>

static struct {
    pthread_mutex_t mutex;
    char lines[CLUSTER_TRACE_LINES][CLUSTER_TRACE_LINE_BYTES];
    u32 repeats[CLUSTER_TRACE_LINES];
    u32 first;
    u32 count;
    u64 start_ns; /* each line's time is since this */
    bool echo;    /* LIBRAFT_TRACE set: each line also to standard error, as raft's tracer does */
} cluster_trace = {.mutex = PTHREAD_MUTEX_INITIALIZER};

/* A line's text after its time ("12345 ms "). */
static const char *cluster_trace_text(const char *line) {
    ASSERT(line != NULL);
    const char *text = strstr(line, " ms ");
    return text != NULL ? text + 4 : line;
}

/* The slot of one of the last CLUSTER_TRACE_REPEAT_LINES lines whose text is `text`, or
 * CLUSTER_TRACE_LINES; with the mutex held. */
static u32 cluster_trace_repeated(const char *text) {
    ASSERT(text != NULL);
    ASSERT(cluster_trace.count <= CLUSTER_TRACE_LINES);
    for (u32 back = 1; back <= CLUSTER_TRACE_REPEAT_LINES && back <= cluster_trace.count;
         back++) {
        u32 at = (cluster_trace.first + cluster_trace.count - back) % CLUSTER_TRACE_LINES;
        if (strncmp(cluster_trace_text(cluster_trace.lines[at]), text,
                    CLUSTER_TRACE_LINE_BYTES) == 0) {
            return at;
        }
    }
    return CLUSTER_TRACE_LINES;
}

/* Keeps one line, "MS ms TEXT"; with the mutex held. */
static void cluster_trace_keep(const char *text) {
    ASSERT(text != NULL);
    u64 elapsed_ms = (base_clock_monotonic_ns() - cluster_trace.start_ns) / 1000000u;
    if (cluster_trace.echo) fprintf(stderr, "LIBRAFT %llu ms %s\n", (unsigned long long)elapsed_ms,
                                    text);
    u32 same = cluster_trace_repeated(text);
    if (same < CLUSTER_TRACE_LINES) {
        cluster_trace.repeats[same]++;
        return;
    }
    u32 at = (cluster_trace.first + cluster_trace.count) % CLUSTER_TRACE_LINES;
    if (cluster_trace.count == CLUSTER_TRACE_LINES) {
        cluster_trace.first = (cluster_trace.first + 1) % CLUSTER_TRACE_LINES;
    } else {
        cluster_trace.count++;
    }
    snprintf(cluster_trace.lines[at], CLUSTER_TRACE_LINE_BYTES, "%llu ms %s",
             (unsigned long long)elapsed_ms, text);
    cluster_trace.repeats[at] = 0;
    ASSERT(cluster_trace.count <= CLUSTER_TRACE_LINES);
}

static void cluster_trace_emit(struct raft_tracer *tracer, int type, const void *data) {
    ASSERT(tracer != NULL);
    if (type != RAFT_TRACER_DIAGNOSTIC || data == NULL) return; /* raft's other kinds: none */
    const struct raft_tracer_info *info = data;
    ASSERT(info->version >= 1);
    const char *file = strrchr(info->diagnostic.file, '/');
    file = file != NULL ? file + 1 : info->diagnostic.file;
    char text[CLUSTER_TRACE_LINE_BYTES];
    snprintf(text, sizeof(text), "%s:%d %s", file, info->diagnostic.line,
             info->diagnostic.message);
    pthread_mutex_lock(&cluster_trace.mutex);
    cluster_trace_keep(text);
    pthread_mutex_unlock(&cluster_trace.mutex);
}

void cluster_trace_note(const char *format, ...) {
    ASSERT(format != NULL);
    char text[CLUSTER_TRACE_LINE_BYTES];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(text, sizeof(text), format, arguments);
    va_end(arguments);
    pthread_mutex_lock(&cluster_trace.mutex);
    if (cluster_trace.start_ns != 0) cluster_trace_keep(text); /* installed */
    pthread_mutex_unlock(&cluster_trace.mutex);
    ASSERT(strlen(text) < sizeof(text));
}

static struct raft_tracer cluster_trace_tracer = {.impl = NULL, .version = 2,
                                                  .emit = cluster_trace_emit};

void cluster_trace_install(struct raft *raft, struct raft_io *uv_io) {
    ASSERT(raft != NULL);
    ASSERT(cluster_trace_tracer.emit != NULL);
    pthread_mutex_lock(&cluster_trace.mutex);
    if (cluster_trace.start_ns == 0) cluster_trace.start_ns = base_clock_monotonic_ns();
    cluster_trace.echo = getenv("LIBRAFT_TRACE") != NULL;
    pthread_mutex_unlock(&cluster_trace.mutex);
    raft->tracer = &cluster_trace_tracer;
    if (uv_io != NULL) raft_uv_set_tracer(uv_io, &cluster_trace_tracer);
}

u32 cluster_trace_copy(char lines[][CLUSTER_TRACE_LINE_BYTES], u32 capacity) {
    ASSERT(lines != NULL || capacity == 0);
    pthread_mutex_lock(&cluster_trace.mutex);
    u32 count = MIN(capacity, cluster_trace.count);
    u32 skip = cluster_trace.count - count; /* the newest `count` are kept */
    for (u32 index = 0; index < count; index++) {
        u32 at = (cluster_trace.first + skip + index) % CLUSTER_TRACE_LINES;
        if (cluster_trace.repeats[at] == 0) {
            memcpy(lines[index], cluster_trace.lines[at], CLUSTER_TRACE_LINE_BYTES);
        } else {
            snprintf(lines[index], CLUSTER_TRACE_LINE_BYTES, "%.*s (and %u more times)",
                     (int)(CLUSTER_TRACE_LINE_BYTES - 32), cluster_trace.lines[at],
                     (unsigned)cluster_trace.repeats[at]);
        }
    }
    pthread_mutex_unlock(&cluster_trace.mutex);
    ASSERT(count <= capacity);
    return count;
}

/* write(2) of all of `bytes`, as far as the descriptor takes them. */
static void cluster_trace_write_all(int fd, const char *bytes, size_t length) {
    ASSERT(bytes != NULL || length == 0);
    while (length > 0) {
        ssize_t written = write(fd, bytes, length);
        if (written <= 0) return; /* from a crash report nothing more can be done */
        bytes += written;
        length -= (size_t)written;
    }
}

void cluster_trace_write(int fd) {
    ASSERT(fd >= 0);
    u32 count = cluster_trace.count; /* no lock: a crash may have happened holding it */
    ASSERT(count <= CLUSTER_TRACE_LINES);
    for (u32 index = 0; index < count; index++) {
        u32 at = (cluster_trace.first + index) % CLUSTER_TRACE_LINES;
        const char *line = cluster_trace.lines[at];
        cluster_trace_write_all(fd, "raft: ", 6);
        cluster_trace_write_all(fd, line, strnlen(line, CLUSTER_TRACE_LINE_BYTES));
        if (cluster_trace.repeats[at] > 0) cluster_trace_write_all(fd, " (repeated)", 11);
        cluster_trace_write_all(fd, "\n", 1);
    }
}

void cluster_trace_reset(void) {
    pthread_mutex_lock(&cluster_trace.mutex);
    cluster_trace.first = 0;
    cluster_trace.count = 0;
    memset(cluster_trace.repeats, 0, sizeof(cluster_trace.repeats));
    pthread_mutex_unlock(&cluster_trace.mutex);
    ASSERT(cluster_trace.count == 0);
}
