/*
 * test_stats.c - percentiles, moments and outliers against hand-computed values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "measure/stats.h"
#include "test_util.h"

#define EPS 1e-9

typedef struct stats_case {
    const char *name;
    int64_t samples[8];
    size_t n;
    double min, max, mean, stddev, p50, p90, p99, q1, q3;
    size_t n_low, n_high;
} stats_case;

/* Values worked by hand with the type-7 definition in stats.h. */
static const stats_case cases[] = {
    /* h = 4p: p90 -> 3.6 -> 4 + 0.6; p99 -> 3.96; sd = sqrt(10/4). */
    {"1..5", {1, 2, 3, 4, 5}, 5, 1, 5, 3, 1.5811388300841898, 3, 4.6, 4.96, 2, 4, 0, 0},
    {"unsorted 1..5", {5, 1, 4, 2, 3}, 5, 1, 5, 3, 1.5811388300841898, 3, 4.6, 4.96, 2, 4, 0, 0},
    /* h = p: p50 15, p90 19, p99 19.9; sd = sqrt(50). */
    {"two", {10, 20}, 2, 10, 20, 15, 7.0710678118654755, 15, 19, 19.9, 12.5, 17.5, 0, 0},
    {"one", {7}, 1, 7, 7, 7, 0, 7, 7, 7, 7, 7, 0, 0},
    /* q1 2, q3 4, fences -1 and 7: 100 is a high outlier and is kept in the mean. */
    {"outlier", {1, 2, 3, 4, 100}, 5, 1, 100, 22, 43.617656975128774, 3, 61.6, 96.16, 2, 4, 0, 1},
    /* fences 7.5 - 1.5*0.5 ... q1 = 10, q3 = 10: any other value is an outlier. */
    {"flat with low",
     {10, 10, 10, 10, 10, 10, 10, 1},
     8,
     1,
     10,
     8.875,
     3.181980515339464,
     10,
     10,
     10,
     10,
     10,
     1,
     0},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const stats_case *c = &cases[i];
        bench_summary s;
        assert_int_equal(bench_stats_summarize(c->samples, c->n, &s), 0);
        print_message("case %s\n", c->name);
        assert_int_equal(s.n, c->n);
        assert_double_equal(s.min, c->min, EPS);
        assert_double_equal(s.max, c->max, EPS);
        assert_double_equal(s.mean, c->mean, EPS);
        assert_double_equal(s.stddev, c->stddev, 1e-9);
        assert_double_equal(s.cv, c->mean ? c->stddev / c->mean : 0, 1e-12);
        assert_double_equal(s.p50, c->p50, EPS);
        assert_double_equal(s.p90, c->p90, EPS);
        assert_double_equal(s.p99, c->p99, EPS);
        assert_double_equal(s.q1, c->q1, EPS);
        assert_double_equal(s.q3, c->q3, EPS);
        assert_int_equal(s.n_outliers_low, c->n_low);
        assert_int_equal(s.n_outliers_high, c->n_high);
    }
}

static void test_p999_of_1_to_1000(void **state)
{
    (void)state;
    int64_t *v = malloc(1000 * sizeof *v);
    assert_non_null(v);
    for (int i = 0; i < 1000; i++)
        v[i] = 1000 - i; /* descending: the summary must sort */
    bench_summary s;
    assert_int_equal(bench_stats_summarize(v, 1000, &s), 0);
    /* h = 999 * 0.999 = 998.001 -> x[998] + 0.001 * (x[999] - x[998]) = 999.001 */
    assert_double_equal(s.p999, 999.001, 1e-6);
    /* h = 999 * 0.95 = 949.05 -> 950 + 0.05 */
    assert_double_equal(s.p95, 950.05, 1e-6);
    assert_double_equal(s.mean, 500.5, EPS);
    assert_int_equal(v[0], 1000); /* input untouched */
    free(v);
}

static void test_large_values_keep_precision(void **state)
{
    (void)state;
    /* A naive sum of squares loses the spread of values near 1e12 entirely. */
    int64_t v[4] = {1000000000000 + 1, 1000000000000 + 2, 1000000000000 + 3, 1000000000000 + 4};
    bench_summary s;
    assert_int_equal(bench_stats_summarize(v, 4, &s), 0);
    assert_double_equal(s.mean, 1000000000002.5, 1e-3);
    assert_double_equal(s.stddev, 1.2909944487358056, 1e-6);
}

static void test_percentile_edges(void **state)
{
    (void)state;
    const double x[] = {1, 2, 4};
    assert_double_equal(bench_stats_percentile_sorted(x, 3, 0.0), 1, EPS);
    assert_double_equal(bench_stats_percentile_sorted(x, 3, 1.0), 4, EPS);
    assert_double_equal(bench_stats_percentile_sorted(x, 3, 0.75), 3, EPS);
    assert_double_equal(bench_stats_percentile_sorted(x, 3, -1.0), 1, EPS);
    assert_double_equal(bench_stats_percentile_sorted(x, 3, 2.0), 4, EPS);
}

static void test_outlier_predicate(void **state)
{
    (void)state;
    const int64_t v[] = {1, 2, 3, 4, 100};
    bench_summary s;
    assert_int_equal(bench_stats_summarize(v, 5, &s), 0);
    assert_false(bench_stats_is_outlier(&s, 4));
    assert_false(bench_stats_is_outlier(&s, 7)); /* on the fence: not outside it */
    assert_true(bench_stats_is_outlier(&s, 8));
    assert_true(bench_stats_is_outlier(&s, -2));
}

static void test_empty_is_error(void **state)
{
    (void)state;
    bench_summary s;
    s.n = 99;
    assert_int_equal(bench_stats_summarize(NULL, 0, &s), -1);
    assert_int_equal(s.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_p999_of_1_to_1000),
        cmocka_unit_test(test_large_values_keep_precision),
        cmocka_unit_test(test_percentile_edges),
        cmocka_unit_test(test_outlier_predicate),
        cmocka_unit_test(test_empty_is_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
