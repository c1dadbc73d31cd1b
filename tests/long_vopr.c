/* long_vopr.c: the deterministic simulation of the whole engine (tests/vopr.h) at the size of
 * the long tier: many more seeds than test_vopr.c, with more crashes each.
 *
 * Replay one seed (a failure prints "VOPR seed N" just before it):
 *     KHORGOS_VOPR_SEED=N build/tests/long_vopr
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vopr.h"

/* Seeds apart from the quick tier's 1..8, so the two tiers cover different runs. */
#define LONG_VOPR_FIRST_SEED 1000u
#define LONG_VOPR_SEEDS 100u
#define LONG_VOPR_CRASHES_PER_SEED 24u

static void test_vopr_long(void **state) {
    (void)state;
    struct sim_totals totals;
    struct vopr_totals vopr_totals;
    memset(&totals, 0, sizeof(totals));
    memset(&vopr_totals, 0, sizeof(vopr_totals));
    u64 replay = vopr_seed_from_environment();
    u64 first = replay != 0 ? replay : LONG_VOPR_FIRST_SEED;
    u64 seeds = replay != 0 ? 1 : LONG_VOPR_SEEDS;
    for (u64 seed = first; seed < first + seeds; seed++) {
        vopr_run(seed, LONG_VOPR_CRASHES_PER_SEED, &totals, &vopr_totals);
    }
    vopr_totals_print(seeds, &totals, &vopr_totals);
    assert_true(totals.crashes == seeds * LONG_VOPR_CRASHES_PER_SEED);
    assert_true(totals.recoveries == totals.crashes);
    assert_true(totals.damage_detected == totals.damage_injected);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vopr_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
