/*
 * long_model.c: the randomised model test of test_model.c at length, for `make test-long`:
 * five seeds of a million operations each (five million in all), half of them with a clock
 * that ticks before every step and half with one that moves only in clock steps (so that
 * timestamps run ahead of it and expiries fall between the events of a request).
 *
 * KHORGOS_MODEL_SEED=N replays one seed (then only that one runs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "model/model_driver.c"

#define LONG_MODEL_SEED_COUNT 5u
#define LONG_MODEL_OPERATION_COUNT 1000000u
#define LONG_MODEL_EPOCH_OPERATION_COUNT 50000u
#define LONG_MODEL_CLOCK_TICK_NS 100000u

static void long_model_run(uint64_t seed) {
    static struct model_driver_statistics statistics;
    const struct model_driver_config config = {
        .seed = seed,
        .operation_count = LONG_MODEL_OPERATION_COUNT,
        .epoch_operation_count = LONG_MODEL_EPOCH_OPERATION_COUNT,
        .engine_count = 1,
        .compare_model = true,
        .clock_tick_ns = seed % 2 == 0 ? LONG_MODEL_CLOCK_TICK_NS : 0,
    };
    const bool passed = model_driver_run(&config, &statistics);
    printf("seed %llu:\n", (unsigned long long)seed);
    model_driver_print(&statistics);
    if (!passed) {
        printf("DISAGREEMENT: %s\n", statistics.failure);
        fail_msg("the engine disagreed with the reference model (see DISAGREEMENT above)");
    }
    assert_true(statistics.operation_count >= LONG_MODEL_OPERATION_COUNT);
    assert_int_equal(model_driver_statuses_unseen(&statistics), 0);
}

static void test_long_model_seeds(void **state) {
    (void)state;
    const char *text = getenv("KHORGOS_MODEL_SEED");
    if (text != NULL) {
        long_model_run(strtoull(text, NULL, 10));
        return;
    }
    for (uint64_t seed = 1; seed <= LONG_MODEL_SEED_COUNT; seed++) long_model_run(seed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_model_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
