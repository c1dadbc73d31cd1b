/* base_assert.c: the always-on assertion's failure path. */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void base_assert_fail(const char *file, int line, const char *expression) {
    /* stderr is unbuffered; one fprintf keeps the line whole when threads race to fail. */
    fprintf(stderr, "khorgos: assertion failed at %s:%d: %s\n", file, line, expression);
    abort();
}
