/*
 * stats.c - percentiles, moments and Tukey outliers over int64 samples.
 *
 * The mean and variance use Welford's update so a long run of nanosecond
 * samples does not lose precision to a large running sum of squares.
 */
#include "measure/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_stats_percentile_sorted(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    if (p <= 0.0)
        return sorted[0];
    if (p >= 1.0)
        return sorted[n - 1];
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

int bench_stats_summarize(const int64_t *samples, size_t n, bench_summary *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return -1;
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return -1;

    double mean = 0.0, m2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)samples[i];
        sorted[i] = x;
        double delta = x - mean;
        mean += delta / (double)(i + 1);
        m2 += delta * (x - mean);
    }
    qsort(sorted, n, sizeof *sorted, cmp_double);

    out->n = n;
    out->min = sorted[0];
    out->max = sorted[n - 1];
    out->mean = mean;
    out->stddev = n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0;
    out->cv = mean != 0.0 ? out->stddev / mean : 0.0;
    out->p50 = bench_stats_percentile_sorted(sorted, n, 0.50);
    out->p90 = bench_stats_percentile_sorted(sorted, n, 0.90);
    out->p95 = bench_stats_percentile_sorted(sorted, n, 0.95);
    out->p99 = bench_stats_percentile_sorted(sorted, n, 0.99);
    out->p999 = bench_stats_percentile_sorted(sorted, n, 0.999);
    out->q1 = bench_stats_percentile_sorted(sorted, n, 0.25);
    out->q3 = bench_stats_percentile_sorted(sorted, n, 0.75);
    double iqr = out->q3 - out->q1;
    out->fence_low = out->q1 - 1.5 * iqr;
    out->fence_high = out->q3 + 1.5 * iqr;
    for (size_t i = 0; i < n; i++) {
        out->n_outliers_low += sorted[i] < out->fence_low;
        out->n_outliers_high += sorted[i] > out->fence_high;
    }
    free(sorted);
    return 0;
}

int bench_stats_is_outlier(const bench_summary *s, int64_t v)
{
    double x = (double)v;
    return x < s->fence_low || x > s->fence_high;
}
