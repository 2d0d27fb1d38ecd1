/*
 * stats.h - summary statistics of a point's samples.
 *
 * Percentiles use linear interpolation between closest ranks (Hyndman & Fan
 * type 7, numpy's default): for sorted x[0..n-1] and p in [0,1], h = (n-1)p and
 * P = x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]).
 * Outliers are flagged with Tukey's fences (below Q1 - 1.5 IQR or above
 * Q3 + 1.5 IQR) and kept: every statistic includes them.
 */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_summary {
    size_t n;
    double min, max, mean;
    double stddev; /* sample standard deviation (n - 1); 0 when n < 2 */
    double cv;     /* stddev / mean; 0 when mean is 0 */
    double p50, p90, p95, p99, p999;
    double q1, q3;
    double fence_low, fence_high;
    size_t n_outliers_low, n_outliers_high;
} bench_summary;

/* Percentile p (0..1) of n >= 1 sorted values, by the definition above. */
double bench_stats_percentile_sorted(const double *sorted, size_t n, double p);

/*
 * Summarises n samples (any order, not modified). Returns 0, or -1 when n is 0
 * or memory runs out (out is then zeroed).
 */
int bench_stats_summarize(const int64_t *samples, size_t n, bench_summary *out);

/* True when sample value v lies outside s's Tukey fences. */
int bench_stats_is_outlier(const bench_summary *s, int64_t v);

/* ---- comparison statistics (compare.c, ab, calibrate-noise) ---- */

/*
 * Two-sided p-value of the Mann-Whitney U test of a (na values) against b (nb
 * values): normal approximation with tie correction and continuity
 * correction (exact enough from about 8 values a side). NAN when na or nb is 0.
 */
double bench_stats_mann_whitney_p(const double *a, size_t na, const double *b, size_t nb);

/*
 * Benjamini-Hochberg adjusted p-values (q-values) of n p-values; NAN inputs are
 * left out of the ranking and give NAN. q may alias p.
 */
void bench_stats_bh_adjust(const double *p, size_t n, double *q);

/*
 * Percentile-bootstrap confidence interval (level conf, e.g. 0.95) of the
 * ratio P(b)/P(a), P being the pct-percentile (0.5: median), resampling each
 * side independently n_boot times with a seeded generator (same inputs, same
 * interval). *ratio is the ratio on the full samples. Returns 0, or -1 (an
 * empty side, a zero denominator, OOM).
 */
int bench_stats_bootstrap_ratio(const double *a, size_t na, const double *b, size_t nb,
                                double pct, int n_boot, double conf, uint64_t seed,
                                double *ratio, double *lo, double *hi);

/* Median of n values (any order, not modified); NAN when n is 0 or on OOM. */
double bench_stats_median(const double *x, size_t n);

#endif
