/* test_server_crash.c: the report of a fatal signal (server_crash.c). A child installs it and
 * then aborts, dereferences a null pointer, or overflows its stack; its standard error must
 * hold the `event=crash signal=NAME` line and at least one frame, and it must still end by
 * that signal (the default action was restored and the signal raised again). Under
 * AddressSanitizer nothing is installed, and the line must not appear (ASan reports). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/server.h"

enum crash_kind { CRASH_ABORT, CRASH_NULL, CRASH_STACK };

static volatile int crash_pointer_offset; /* 0, read at run time so the compiler keeps the fault */

static int crash_recurse(int depth) {
    volatile char frame[4096];
    frame[0] = (char)depth;
    if (crash_pointer_offset == 0) return crash_recurse(depth + 1) + frame[0];
    return frame[0];
}

static void crash_child(enum crash_kind kind, int error_fd) {
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none); /* the test wants the status, not a core file */
    if (dup2(error_fd, STDERR_FILENO) < 0) _exit(90);
    bool installed = server_crash_report_install();
    if (!installed) dprintf(STDERR_FILENO, "not installed\n");
    if (kind == CRASH_ABORT) abort();
    if (kind == CRASH_NULL) {
        volatile int *pointer = (volatile int *)(uintptr_t)crash_pointer_offset;
        *pointer = 1;
    }
    if (kind == CRASH_STACK) crash_recurse(0);
    _exit(91);
}

/* Runs a crashing child; returns its wait status and its standard error in text. */
static int crash_run(enum crash_kind kind, char *text, size_t capacity) {
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(pipe_fds[0]);
        crash_child(kind, pipe_fds[1]);
    }
    close(pipe_fds[1]);
    size_t length = 0;
    for (;;) {
        ssize_t got = read(pipe_fds[0], text + length, capacity - 1 - length);
        if (got <= 0) break;
        length += (size_t)got;
    }
    text[length] = '\0';
    close(pipe_fds[0]);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    return status;
}

static void crash_expect(enum crash_kind kind, int number, const char *name) {
    static char text[1 << 16];
    int status = crash_run(kind, text, sizeof(text));
    if (strstr(text, "not installed\n") != NULL) { /* AddressSanitizer's build: its report */
        assert_null(strstr(text, "event=crash"));
        return;
    }
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), number);
    char line[96];
    snprintf(line, sizeof(line), "khorgos: event=crash signal=%s backtrace=follows\n", name);
    const char *found = strstr(text, line);
    if (found == NULL) fprintf(stderr, "child's stderr:\n%s\n", text);
    assert_non_null(found);
    assert_ptr_equal(found, text); /* the first thing written */
    /* backtrace_symbols_fd's frames: "program(+0xOFFSET) [0xADDRESS]" or "program() [0x...]". */
    const char *frame = found + strlen(line);
    assert_non_null(strstr(frame, "[0x"));
    assert_non_null(strstr(frame, "\n"));
}

static void test_abort_reported_then_raised(void **state) {
    (void)state;
    crash_expect(CRASH_ABORT, SIGABRT, "SIGABRT");
}

static void test_null_dereference_reported_then_raised(void **state) {
    (void)state;
    crash_expect(CRASH_NULL, SIGSEGV, "SIGSEGV");
}

static void test_stack_overflow_reported_then_raised(void **state) {
    (void)state;
    crash_expect(CRASH_STACK, SIGSEGV, "SIGSEGV");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abort_reported_then_raised),
        cmocka_unit_test(test_null_dereference_reported_then_raised),
        cmocka_unit_test(test_stack_overflow_reported_then_raised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
