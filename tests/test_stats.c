/*
 * test_stats.c - percentiles, moments and outliers against hand-computed
 * values; Mann-Whitney U against scipy, Benjamini-Hochberg against the
 * example of the paper that introduced it, and the bootstrap against exact
 * binomial probabilities and against plain resampling.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- comparison statistics ---- */

/*
 * Reference p-values from scipy 1.10.1 (Debian python3-scipy):
 *   scipy.stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic",
 *                            use_continuity=True).pvalue
 * (normal approximation with tie and continuity corrections, the definition in
 * stats.h). U was checked against a pairwise count sum([x > y] + 0.5 [x == y]).
 */
typedef struct mwu_case {
    const char *name;
    double a[32], b[32];
    size_t na, nb;
    double p;
} mwu_case;

static mwu_case mwu_cases[] = {
    /* scipy's documentation example (U = 17). */
    {"docs", {19, 22, 16, 29, 24}, {20, 11, 17, 12}, 5, 4, 0.11134688653314041},
    /* heavy ties on both sides (U = 11) */
    {"ties", {1, 2, 2, 3, 3, 3, 4}, {2, 3, 3, 4, 4, 5, 5, 6}, 7, 8, 0.04988443697992588},
    /* identical samples: U = mu, the continuity correction caps p at 1 */
    {"same", {1, 2, 3, 4}, {1, 2, 3, 4}, 4, 4, 1.0},
    /* complete separation (U = 0) */
    {"disjoint",
     {1, 2, 3, 4, 5, 6, 7, 8},
     {10, 11, 12, 13, 14, 15, 16, 17, 18},
     8,
     9,
     0.0006355079242469125},
};

static void test_mann_whitney_against_scipy(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof mwu_cases / sizeof mwu_cases[0]; i++) {
        const mwu_case *c = &mwu_cases[i];
        print_message("case %s\n", c->name);
        double p = bench_stats_mann_whitney_p(c->a, c->na, c->b, c->nb);
        assert_double_equal(p, c->p, 1e-12);
        /* two-sided: symmetric in its arguments */
        assert_double_equal(bench_stats_mann_whitney_p(c->b, c->nb, c->a, c->na), c->p, 1e-12);
    }
}

static void test_mann_whitney_shift_and_edges(void **state)
{
    (void)state;
    /* a = 1.5 i (i = 1..30), b = 1.5 i + 7.25 (i = 1..25): scipy gives U = 325,
     * p = 0.4027596942538769. */
    double a[30], b[25];
    for (int i = 1; i <= 30; i++)
        a[i - 1] = 1.5 * i;
    for (int i = 1; i <= 25; i++)
        b[i - 1] = 1.5 * i + 7.25;
    assert_double_equal(bench_stats_mann_whitney_p(a, 30, b, 25), 0.4027596942538769, 1e-12);
    /* every value tied: no evidence either way */
    const double t[] = {5, 5, 5};
    assert_double_equal(bench_stats_mann_whitney_p(t, 3, t, 2), 1.0, 0);
    assert_true(isnan(bench_stats_mann_whitney_p(a, 0, b, 25)));
    assert_true(isnan(bench_stats_mann_whitney_p(a, 30, b, 0)));
}

/*
 * Benjamini & Hochberg (1995), section 4.1: fifteen p-values from a clinical
 * trial; at q* = 0.05 the procedure rejects the four smallest. The adjusted
 * values below are min over j >= i of 15 p_(j) / j (R's p.adjust "BH"),
 * computed with numpy.
 */
static void test_bh_textbook_example(void **state)
{
    (void)state;
    const double p[15] = {0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
                          0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000};
    const double want[15] = {0.0015,
                             0.003,
                             0.0095,
                             0.035625,
                             0.0603,
                             0.06385714285714286,
                             0.06385714285714286,
                             0.0645,
                             0.0765,
                             0.486,
                             0.5811818181818182,
                             0.714875,
                             0.7532307692307694,
                             0.8132142857142857,
                             1.0};
    /* Shuffled order and a NAN that must stay out of the ranking. */
    const size_t order[15] = {7, 14, 0, 3, 12, 1, 9, 5, 11, 2, 13, 6, 10, 4, 8};
    double in[16], q[16];
    for (size_t i = 0; i < 15; i++)
        in[i] = p[order[i]];
    in[15] = NAN;
    bench_stats_bh_adjust(in, 16, q);
    size_t rejected = 0;
    for (size_t i = 0; i < 15; i++) {
        assert_double_equal(q[i], want[order[i]], 1e-12);
        rejected += q[i] < 0.05;
    }
    assert_true(isnan(q[15]));
    assert_int_equal(rejected, 4);
    /* in place */
    bench_stats_bh_adjust(in, 16, in);
    for (size_t i = 0; i < 15; i++)
        assert_double_equal(in[i], want[order[i]], 1e-12);
}

static void test_median(void **state)
{
    (void)state;
    const double odd[] = {9, 1, 5};
    const double even[] = {4, 1, 3, 2};
    assert_double_equal(bench_stats_median(odd, 3), 5, 0);
    assert_double_equal(bench_stats_median(even, 4), 2.5, 0);
    assert_double_equal(odd[0], 9, 0); /* not modified */
    assert_true(isnan(bench_stats_median(odd, 0)));
}

/* A test-local generator, independent of the one under test. */
static uint64_t lcg_state;

static double lcg_uniform(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(lcg_state >> 11) + 0.5) * 0x1.0p-53;
}

/* Log-normal "latencies": median m, log-sd sigma. */
static void lognormal(double *x, size_t n, double m, double sigma, uint64_t seed)
{
    lcg_state = seed;
    for (size_t i = 0; i < n; i++) {
        double u = lcg_uniform(), v = lcg_uniform();
        double z = sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
        x[i] = m * exp(sigma * z);
    }
}

static double binom_sf(int n, double p, int k) /* P(Bin(n, p) >= k) */
{
    double s = 0.0;
    for (int i = k; i <= n; i++) {
        double c = 1.0;
        for (int j = 0; j < i; j++)
            c = c * (n - j) / (j + 1);
        s += c * pow(p, i) * pow(1.0 - p, n - i);
    }
    return s;
}

/*
 * With a = {1}, the ratio is the resampled percentile of b itself. For b =
 * 1..7 the resampled median is the 4th smallest of 7 draws, and P(median <=
 * b[j]) = P(Bin(7, (j + 1) / 7) >= 4) exactly; the interval's ends must be the
 * values where that distribution crosses (1 -+ conf) / 2.
 */
static void test_bootstrap_exact_median_distribution(void **state)
{
    (void)state;
    const double one[] = {1.0};
    const double b[] = {4, 7, 1, 3, 6, 2, 5};
    const double confs[] = {0.5, 0.6, 0.95};
    for (size_t c = 0; c < 3; c++) {
        double levels[2] = {(1 - confs[c]) / 2, (1 + confs[c]) / 2}, want[2] = {0, 0};
        for (int e = 0; e < 2; e++) {
            for (int j = 0; j < 7; j++) {
                double cdf = binom_sf(7, (j + 1) / 7.0, 4);
                /* The level must not sit on a step, or sampling error decides. */
                assert_true(fabs(cdf - levels[e]) > 0.01);
                if (cdf >= levels[e]) {
                    want[e] = j + 1;
                    break;
                }
            }
        }
        double ratio, lo, hi;
        assert_int_equal(
            bench_stats_bootstrap_ratio(one, 1, b, 7, 0.5, 100000, confs[c], 7, &ratio, &lo, &hi),
            0);
        assert_double_equal(ratio, 4, 0);
        assert_double_equal(lo, want[0], 0);
        assert_double_equal(hi, want[1], 0);
    }
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The plain bootstrap by definition: resample, sort, take the percentile. */
static void naive_bootstrap(const double *x, size_t n, double pct, int n_boot, double conf,
                            double *lo, double *hi)
{
    double *r = malloc(n * sizeof *r), *reps = malloc((size_t)n_boot * sizeof *reps);
    assert_non_null(r);
    assert_non_null(reps);
    lcg_state = 99;
    for (int i = 0; i < n_boot; i++) {
        for (size_t k = 0; k < n; k++)
            r[k] = x[(size_t)(lcg_uniform() * (double)n)];
        qsort(r, n, sizeof *r, cmp_dbl);
        reps[i] = bench_stats_percentile_sorted(r, n, pct);
    }
    qsort(reps, (size_t)n_boot, sizeof *reps, cmp_dbl);
    *lo = bench_stats_percentile_sorted(reps, (size_t)n_boot, (1 - conf) / 2);
    *hi = bench_stats_percentile_sorted(reps, (size_t)n_boot, (1 + conf) / 2);
    free(r);
    free(reps);
}

/*
 * Percentiles that interpolate between two order statistics (an even-sized
 * median, a p90) take the two-order-statistic path: its interval must match
 * plain resampling up to Monte Carlo error.
 */
static void test_bootstrap_matches_resampling(void **state)
{
    (void)state;
    double x[40];
    lognormal(x, 40, 100.0, 0.4, 5);
    const double one[] = {1.0};
    const double pcts[] = {0.5, 0.9};
    const double confs[] = {0.5, 0.9};
    for (size_t i = 0; i < 2; i++)
        for (size_t c = 0; c < 2; c++) {
            double ratio, lo, hi, nlo, nhi;
            assert_int_equal(bench_stats_bootstrap_ratio(one, 1, x, 40, pcts[i], 40000, confs[c], 3,
                                                         &ratio, &lo, &hi),
                             0);
            naive_bootstrap(x, 40, pcts[i], 40000, confs[c], &nlo, &nhi);
            print_message("p%.0f conf %.2f: [%.3f, %.3f] vs resampling [%.3f, %.3f]\n",
                          pcts[i] * 100, confs[c], lo, hi, nlo, nhi);
            /* 2% of the value: well above the Monte Carlo error at 40000 replicates. */
            assert_double_equal(lo, nlo, 0.02 * nlo);
            assert_double_equal(hi, nhi, 0.02 * nhi);
        }
}

static void test_bootstrap_coverage_and_shift(void **state)
{
    (void)state;
    double a[200], b[200];
    /* Identical distributions: the 95% interval holds the true ratio 1 in
     * about 95% of independent pairs of samples. */
    int covered = 0;
    for (int rep = 0; rep < 40; rep++) {
        lognormal(a, 100, 1e6, 0.3, 1000 + 2 * (uint64_t)rep);
        lognormal(b, 100, 1e6, 0.3, 1001 + 2 * (uint64_t)rep);
        double ratio, lo, hi;
        assert_int_equal(
            bench_stats_bootstrap_ratio(a, 100, b, 100, 0.5, 1000, 0.95, 1, &ratio, &lo, &hi), 0);
        assert_true(lo <= ratio && ratio <= hi);
        covered += lo <= 1.0 && 1.0 <= hi;
    }
    print_message("1.0 covered by %d of 40 intervals\n", covered);
    assert_true(covered >= 34);

    /* A 20% shift with 200 samples a side is resolved. */
    lognormal(a, 200, 1e6, 0.3, 77);
    lognormal(b, 200, 1.2e6, 0.3, 78);
    double ratio, lo, hi;
    assert_int_equal(
        bench_stats_bootstrap_ratio(a, 200, b, 200, 0.5, 2000, 0.95, 1, &ratio, &lo, &hi), 0);
    print_message("20%% shift: %.3f [%.3f, %.3f]\n", ratio, lo, hi);
    assert_true(lo > 1.0);
    assert_true(lo < 1.2 && 1.2 < hi);
    assert_double_equal(ratio, bench_stats_median(b, 200) / bench_stats_median(a, 200), 1e-12);
}

static void test_bootstrap_seeded_and_errors(void **state)
{
    (void)state;
    double a[50], b[60];
    lognormal(a, 50, 10, 0.2, 1);
    lognormal(b, 60, 11, 0.2, 2);
    double r1, lo1, hi1, r2, lo2, hi2, r3, lo3, hi3;
    assert_int_equal(bench_stats_bootstrap_ratio(a, 50, b, 60, 0.99, 500, 0.9, 42, &r1, &lo1, &hi1),
                     0);
    assert_int_equal(bench_stats_bootstrap_ratio(a, 50, b, 60, 0.99, 500, 0.9, 42, &r2, &lo2, &hi2),
                     0);
    assert_int_equal(bench_stats_bootstrap_ratio(a, 50, b, 60, 0.99, 500, 0.9, 43, &r3, &lo3, &hi3),
                     0);
    assert_true(memcmp(&lo1, &lo2, sizeof lo1) == 0 && memcmp(&hi1, &hi2, sizeof hi1) == 0);
    assert_true(lo1 != lo3 || hi1 != hi3);
    assert_double_equal(r1, r3, 0);

    double ratio, lo, hi;
    const double zeros[] = {0, 0, 0};
    assert_int_equal(bench_stats_bootstrap_ratio(a, 0, b, 60, 0.5, 10, 0.9, 1, &ratio, &lo, &hi),
                     -1);
    assert_int_equal(bench_stats_bootstrap_ratio(a, 50, b, 0, 0.5, 10, 0.9, 1, &ratio, &lo, &hi),
                     -1);
    assert_int_equal(
        bench_stats_bootstrap_ratio(zeros, 3, b, 60, 0.5, 10, 0.9, 1, &ratio, &lo, &hi), -1);
    assert_int_equal(bench_stats_bootstrap_ratio(a, 50, b, 60, 0.5, 0, 0.9, 1, &ratio, &lo, &hi),
                     -1);
    assert_int_equal(bench_stats_bootstrap_ratio(a, 50, b, 60, 0.5, 10, 1.0, 1, &ratio, &lo, &hi),
                     -1);
}

/* 100,000 samples a side: the order-statistic bootstrap stays fast. */
static void test_bootstrap_large_samples(void **state)
{
    (void)state;
    size_t n = 100000;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    lognormal(a, n, 4000, 0.1, 11);
    lognormal(b, n, 4040, 0.1, 12);
    double ratio, lo, hi;
    assert_int_equal(bench_stats_bootstrap_ratio(a, n, b, n, 0.5, 2000, 0.95, 1, &ratio, &lo, &hi),
                     0);
    /* SE of a median ratio at this size is about 0.05%: a 1% shift is resolved. */
    assert_true(lo > 1.005 && hi < 1.015);
    free(a);
    free(b);
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
        cmocka_unit_test(test_mann_whitney_against_scipy),
        cmocka_unit_test(test_mann_whitney_shift_and_edges),
        cmocka_unit_test(test_bh_textbook_example),
        cmocka_unit_test(test_median),
        cmocka_unit_test(test_bootstrap_exact_median_distribution),
        cmocka_unit_test(test_bootstrap_matches_resampling),
        cmocka_unit_test(test_bootstrap_coverage_and_shift),
        cmocka_unit_test(test_bootstrap_seeded_and_errors),
        cmocka_unit_test(test_bootstrap_large_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
