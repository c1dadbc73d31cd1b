/* long_storage_crash.c: the seeded crash simulation (tests/storage_sim.h) at the size of the
 * long tier: many more seeds, longer runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "storage_sim.h"

#define LONG_CRASH_RUNS 600u
#define LONG_CRASHES_PER_RUN 40u

static void test_crash_simulation_long(void **state) {
    (void)state;
    struct sim_totals totals;
    memset(&totals, 0, sizeof(totals));
    /* Seeds apart from the quick tier's 1..60, so the two tiers cover different runs. */
    for (u64 seed = 1000; seed < 1000 + LONG_CRASH_RUNS; seed++) {
        sim_run(seed, LONG_CRASHES_PER_RUN, &totals);
    }
    sim_totals_print(&totals);
    assert_true(totals.crashes >= LONG_CRASH_RUNS * LONG_CRASHES_PER_RUN);
    assert_true(totals.damage_detected == totals.damage_injected);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_simulation_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
