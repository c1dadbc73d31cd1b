/*
 * sim_summary.c: the spread of a figure across seeds. A run of one design at one a is repeated
 * on the days of several seeds; each figure (liquidity used, delay, ...) then has one value per
 * seed, and the report gives their mean with a 95% confidence interval from Student's t:
 *
 *   mean +- t(0.975, n - 1) x s / sqrt(n),   s the sample standard deviation (n - 1 divisor).
 *
 * The quantile is computed, not looked up: for an integer number of degrees of freedom v, the
 * probability P(|T| <= t) has a closed form in theta = atan(t / sqrt(v)) (Abramowitz and Stegun
 * 26.7.3 and 26.7.4, a finite sum of powers of cos theta), increasing in t, so bisection finds
 * the t where it is 0.95 to the last bits of a double. tests/test_sim_summary.c checks it
 * against published table values.
 *
 * With one seed there is no spread: the interval is the value itself (n = 1).
 */
#include "sim/sim.h"

#include <math.h>

/* Bisection steps: the bracket [0, 2^10] halves each step, far below a double's resolution
 * after 80. */
#define SIM_SUMMARY_BISECTION_STEPS 80u
/* The largest 95% quantile (one degree of freedom) is 12.706; the bracket holds it. */
#define SIM_SUMMARY_T_BRACKET 1024.0
#define SIM_SUMMARY_PI 3.14159265358979323846

/* P(|T| <= t) for Student's t with `degrees` degrees of freedom (A&S 26.7.3, 26.7.4). */
static double sim_student_t_central(double t, u32 degrees) {
    ASSERT(degrees >= 1);
    ASSERT(t >= 0);
    double theta = atan(t / sqrt((double)degrees));
    double cosine_squared = cos(theta) * cos(theta);
    double term = 1.0, sum = 1.0;
    if (degrees % 2 == 1) {
        if (degrees == 1) return 2.0 * theta / SIM_SUMMARY_PI;
        /* 1 + 2/3 c^2 + (2 4)/(3 5) c^4 + ... up to the power v - 3. */
        for (u32 k = 2; k + 1 <= degrees - 2; k += 2) {
            term *= cosine_squared * (double)k / (double)(k + 1);
            sum += term;
        }
        return 2.0 / SIM_SUMMARY_PI * (theta + sin(theta) * cos(theta) * sum);
    }
    /* 1 + 1/2 c^2 + (1 3)/(2 4) c^4 + ... up to the power v - 2. */
    for (u32 k = 1; k + 1 <= degrees - 1; k += 2) {
        term *= cosine_squared * (double)k / (double)(k + 1);
        sum += term;
    }
    return sin(theta) * sum;
}

double sim_student_t95(u32 degrees) {
    ASSERT(degrees >= 1);
    double low = 0.0, high = SIM_SUMMARY_T_BRACKET;
    ASSERT(sim_student_t_central(high, degrees) > 0.95);
    for (u32 step = 0; step < SIM_SUMMARY_BISECTION_STEPS; step++) {
        double middle = (low + high) / 2.0;
        if (sim_student_t_central(middle, degrees) < 0.95) {
            low = middle;
        } else {
            high = middle;
        }
    }
    return (low + high) / 2.0;
}

struct sim_interval sim_interval_of(const double *values, u32 count) {
    ASSERT(values != NULL);
    ASSERT(count >= 1);
    double sum = 0;
    for (u32 index = 0; index < count; index++) sum += values[index];
    double mean = sum / count;
    struct sim_interval interval = {.mean = mean, .low = mean, .high = mean, .count = count};
    if (count < 2) return interval;
    double squares = 0;
    for (u32 index = 0; index < count; index++) {
        squares += (values[index] - mean) * (values[index] - mean);
    }
    double half = sim_student_t95(count - 1) * sqrt(squares / (count - 1)) / sqrt((double)count);
    interval.low = mean - half;
    interval.high = mean + half;
    return interval;
}
