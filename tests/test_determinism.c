/*
 * test_determinism.c: the state machine is deterministic (issue 2, item 5). The same random
 * request sequence (tests/model/model_driver.h: every kind of create, lookups, clock advances
 * that expire pending transfers) is run
 *   1. on two fresh engines in lockstep: every reply must be byte-identical and their ledger
 *      digests (ledger_digest, the whole state) equal every 256 steps and at every epoch's end;
 *   2. twice in a row on one engine: the hashes of all replies and of the final digests match,
 *      and a different seed changes them (so the hashes do cover the replies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "model/model_driver.c"

#define TEST_DETERMINISM_OPERATION_COUNT 40000u
#define TEST_DETERMINISM_EPOCH_OPERATION_COUNT 10000u
/* The clock moves 100 microseconds before every step, as a real clock would. */
#define TEST_DETERMINISM_CLOCK_TICK_NS 100000u

static struct model_driver_config test_determinism_config(uint64_t seed, uint32_t engine_count) {
    return (struct model_driver_config){
        .seed = seed,
        .operation_count = TEST_DETERMINISM_OPERATION_COUNT,
        .epoch_operation_count = TEST_DETERMINISM_EPOCH_OPERATION_COUNT,
        .engine_count = engine_count,
        .compare_model = false,
        .clock_tick_ns = TEST_DETERMINISM_CLOCK_TICK_NS,
    };
}

static void test_two_engines_in_lockstep_agree(void **state) {
    (void)state;
    static struct model_driver_statistics statistics;
    const struct model_driver_config config = test_determinism_config(42, 2);
    const bool passed = model_driver_run(&config, &statistics);
    printf("determinism: %llu operations, %llu requests, %llu digest comparisons\n",
           (unsigned long long)statistics.operation_count,
           (unsigned long long)statistics.request_count,
           (unsigned long long)statistics.digest_comparison_count);
    if (!passed) {
        printf("DISAGREEMENT: %s\n", statistics.failure);
        fail_msg("the two engines disagreed (see DISAGREEMENT above)");
    }
    assert_true(statistics.operation_count >= TEST_DETERMINISM_OPERATION_COUNT);
    assert_true(statistics.digest_comparison_count >= 4);
}

static void test_a_second_run_repeats_the_first(void **state) {
    (void)state;
    static struct model_driver_statistics first, second, other;
    const struct model_driver_config config = test_determinism_config(7, 1);
    assert_true(model_driver_run(&config, &first));
    assert_true(model_driver_run(&config, &second));
    assert_true(first.operation_count == second.operation_count);
    assert_true(first.reply_hash == second.reply_hash);
    assert_true(first.state_hash == second.state_hash);
    const struct model_driver_config other_seed = test_determinism_config(8, 1);
    assert_true(model_driver_run(&other_seed, &other));
    assert_true(other.reply_hash != first.reply_hash);
    assert_true(other.state_hash != first.state_hash);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_engines_in_lockstep_agree),
        cmocka_unit_test(test_a_second_run_repeats_the_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
