/* test_sim_summary.c: the spread over seeds (sim_summary.c): Student's t quantile of 0.975
 * against published table values (to 6 decimals), and the mean and 95% interval of small
 * samples checked by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "sim/sim.h"

static void test_student_t_quantiles_match_the_tables(void **state) {
    (void)state;
    static const struct {
        u32 degrees;
        double quantile;
    } table[] = {
        {1, 12.706205}, {2, 4.302653}, {3, 3.182446}, {4, 2.776445}, {5, 2.570582},
        {6, 2.446912},  {7, 2.364624}, {9, 2.262157}, {10, 2.228139}, {19, 2.093024},
        {29, 2.045230}, {30, 2.042272}, {60, 2.000298}, {100, 1.983972}, {1000, 1.962339},
    };
    for (u32 index = 0; index < sizeof(table) / sizeof(table[0]); index++) {
        double quantile = sim_student_t95(table[index].degrees);
        if (fabs(quantile - table[index].quantile) > 1e-6) {
            fprintf(stderr, "t(0.975, %u) = %.9f, table %.6f\n", table[index].degrees, quantile,
                    table[index].quantile);
        }
        assert_true(fabs(quantile - table[index].quantile) <= 1e-6);
    }
    /* Decreasing towards the normal quantile 1.959964. */
    for (u32 degrees = 1; degrees < 200; degrees++) {
        assert_true(sim_student_t95(degrees + 1) < sim_student_t95(degrees));
    }
    assert_true(sim_student_t95(100000) > 1.959964 && sim_student_t95(100000) < 1.96);
}

static void test_interval_of_small_samples(void **state) {
    (void)state;
    /* 1, 2, 3: mean 2, s = 1, half-width t(0.975, 2) / sqrt(3) = 4.302653 / 1.732051. */
    const double three[] = {1.0, 2.0, 3.0};
    struct sim_interval interval = sim_interval_of(three, 3);
    assert_int_equal(interval.count, 3);
    assert_true(fabs(interval.mean - 2.0) < 1e-12);
    assert_true(fabs(interval.high - 2.0 - 2.484138) < 1e-6);
    assert_true(fabs(interval.mean - interval.low - 2.484138) < 1e-6);
    /* Equal values: no spread. */
    const double same[] = {0.25, 0.25, 0.25, 0.25};
    interval = sim_interval_of(same, 4);
    assert_true(interval.low == 0.25 && interval.high == 0.25 && interval.mean == 0.25);
    /* One value: the interval is the value. */
    interval = sim_interval_of(three + 2, 1);
    assert_true(interval.low == 3.0 && interval.high == 3.0 && interval.count == 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_student_t_quantiles_match_the_tables),
        cmocka_unit_test(test_interval_of_small_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
