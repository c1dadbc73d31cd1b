/*
 * server_crash.c: the report of a fatal signal. A server that dies of SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE or SIGABRT (glibc's heap checks and a failed ASSERT end in abort) writes one line,
 * `khorgos: event=crash signal=NAME`, the stack of the thread that took the signal, one frame
 * a line, and, in a replica, raft's last messages (`raft: ...` lines, cluster_trace_write), to
 * standard error; then it restores the signal's default action and raises it
 * again, so the exit status and any core dump are those of the signal (docs/operations.md,
 * "A crash's backtrace", says how to read the frames).
 *
 * Only async-signal-safe calls run in the handler: write, sigaction, raise, pthread_sigmask,
 * and backtrace/backtrace_symbols_fd, which are safe once libgcc's unwinder is loaded (it is
 * loaded by a first backtrace at install, so the handler never calls the dynamic loader or
 * malloc). A stack overflow is reported from a stack of its own (sigaltstack, the installing
 * thread's).
 *
 * Not installed under AddressSanitizer, whose own reports say more; nor by the library: the
 * `start` command installs it for its process (a program that embeds the server keeps its
 * own handlers).
 */
#include "server/server.h"

#include "cluster/cluster.h"

#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SERVER_CRASH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SERVER_CRASH_SANITIZED 1
#endif
#endif
#ifndef SERVER_CRASH_SANITIZED
#define SERVER_CRASH_SANITIZED 0
#endif

/* Frames of a crash's backtrace: deeper stacks are cut (the innermost frames are the ones that
 * name the fault). */
#define SERVER_CRASH_FRAMES_MAX 64
/* The handler's own stack: backtrace and the unwinder need a few KiB; this leaves room. */
#define SERVER_CRASH_STACK_BYTES (64u * 1024u)

static const struct {
    int number;
    const char *name;
} server_crash_signals[] = {
    {SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGILL, "SIGILL"},
    {SIGFPE, "SIGFPE"},   {SIGABRT, "SIGABRT"},
};

static atomic_flag server_crash_reported = ATOMIC_FLAG_INIT;
static _Alignas(16) unsigned char server_crash_stack[SERVER_CRASH_STACK_BYTES];

static void server_crash_write(const char *text) {
    ASSERT(text != NULL);
    size_t length = strlen(text);
    while (length > 0) {
        ssize_t written = write(STDERR_FILENO, text, length);
        if (written <= 0) return; /* nothing more can be done from here */
        text += written;
        length -= (size_t)written;
    }
}

static void server_crash_handler(int number) {
    /* Only the first crash is reported: a second thread's fault during the report just dies. */
    if (!atomic_flag_test_and_set(&server_crash_reported)) {
        const char *name = "unknown";
        for (size_t index = 0; index < ARRAY_COUNT(server_crash_signals); index++) {
            if (server_crash_signals[index].number == number) {
                name = server_crash_signals[index].name;
            }
        }
        server_crash_write("khorgos: event=crash signal=");
        server_crash_write(name);
        server_crash_write(" backtrace=follows\n");
        void *frames[SERVER_CRASH_FRAMES_MAX];
        int count = backtrace(frames, SERVER_CRASH_FRAMES_MAX);
        backtrace_symbols_fd(frames, count, STDERR_FILENO);
        cluster_trace_write(STDERR_FILENO); /* a replica's: raft's last messages */
    }
    struct sigaction fallback;
    memset(&fallback, 0, sizeof(fallback));
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(number, &fallback, NULL);
    raise(number); /* pending while blocked in this handler: delivered by the unblock below */
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, number);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
}

bool server_crash_report_install(void) {
    if (SERVER_CRASH_SANITIZED) return false;
    /* The first backtrace loads libgcc's unwinder (dlopen, malloc): here, not in the handler. */
    void *frames[4];
    int count = backtrace(frames, ARRAY_COUNT(frames));
    ASSERT(count >= 0 && count <= (int)ARRAY_COUNT(frames));
    stack_t stack = {.ss_sp = server_crash_stack, .ss_size = sizeof(server_crash_stack)};
    bool stack_set = sigaltstack(&stack, NULL) == 0;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = server_crash_handler;
    action.sa_flags = stack_set ? SA_ONSTACK : 0;
    sigemptyset(&action.sa_mask);
    for (size_t index = 0; index < ARRAY_COUNT(server_crash_signals); index++) {
        int result = sigaction(server_crash_signals[index].number, &action, NULL);
        ASSERT(result == 0);
    }
    return true;
}
