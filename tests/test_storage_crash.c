/* test_storage_crash.c: the seeded crash simulation (tests/storage_sim.h) at the size of the
 * quick tier: at least a thousand crashes, each recovered and checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sanitizer.h"

#include "storage_sim.h"

/* Under AddressSanitizer every open costs much more (its allocator maps and poisons each
 * reserved buffer), so that tier runs a quarter of the crashes; the plain tier runs them all. */
#ifdef TEST_SANITIZED
#define CRASH_RUNS 15u
#define CRASHES_MIN 250u
#else
#define CRASH_RUNS 60u
#define CRASHES_MIN 1000u
#endif
#define CRASHES_PER_RUN 18u

static void test_crash_simulation(void **state) {
    (void)state;
    struct sim_totals totals;
    memset(&totals, 0, sizeof(totals));
    for (u64 seed = 1; seed <= CRASH_RUNS; seed++) sim_run(seed, CRASHES_PER_RUN, &totals);
    sim_totals_print(&totals);
    assert_true(totals.crashes >= CRASHES_MIN);
    assert_true(totals.power_losses > 0);
    assert_true(totals.no_space_errors > 0);
    assert_true(totals.write_or_sync_failures > 0);
    assert_true(totals.damage_detected == totals.damage_injected);
    assert_true(totals.damage_injected > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_simulation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
