/*
 * stats.c - percentiles, moments and Tukey outliers over int64 samples, and
 * the statistics comparisons rest on: Mann-Whitney U, Benjamini-Hochberg and
 * a seeded percentile bootstrap of a ratio of percentiles.
 *
 * The mean and variance use Welford's update so a long run of nanosecond
 * samples does not lose precision to a large running sum of squares.
 */
#include "measure/stats.h"
#include "util.h"

#include <math.h>
#include <stdbool.h>
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

/* ---- comparison statistics ---------------------------------------------- */

/*
 * Mann-Whitney U by ranks: sort both samples together, give tied values their
 * average rank, U of a = R_a - na(na+1)/2. Under H0, U has mean na nb / 2 and
 * variance na nb / 12 ((N + 1) - sum(t^3 - t) / (N (N - 1))) over tie groups
 * of size t. The two-sided p-value takes the larger U with a 0.5 continuity
 * correction (as scipy.stats.mannwhitneyu(method="asymptotic") does).
 */
typedef struct tagged {
    double v;
    int from_a;
} tagged;

static int cmp_tagged(const void *x, const void *y)
{
    double a = ((const tagged *)x)->v, b = ((const tagged *)y)->v;
    return (a > b) - (a < b);
}

double bench_stats_mann_whitney_p(const double *a, size_t na, const double *b, size_t nb)
{
    if (na == 0 || nb == 0)
        return NAN;
    size_t n = na + nb;
    tagged *t = malloc(n * sizeof *t);
    if (!t)
        return NAN;
    for (size_t i = 0; i < na; i++)
        t[i] = (tagged){a[i], 1};
    for (size_t i = 0; i < nb; i++)
        t[na + i] = (tagged){b[i], 0};
    qsort(t, n, sizeof *t, cmp_tagged);

    double rank_sum_a = 0.0, tie_term = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && t[j].v == t[i].v)
            j++;
        /* Ranks i+1 .. j share their average. */
        double avg_rank = 0.5 * (double)(i + 1 + j);
        double size = (double)(j - i);
        for (size_t k = i; k < j; k++)
            if (t[k].from_a)
                rank_sum_a += avg_rank;
        tie_term += size * size * size - size;
        i = j;
    }
    free(t);

    double dna = (double)na, dnb = (double)nb, dn = (double)n;
    double u_a = rank_sum_a - dna * (dna + 1.0) / 2.0;
    double u = fmax(u_a, dna * dnb - u_a);
    double mu = dna * dnb / 2.0;
    double var = dna * dnb / 12.0 * ((dn + 1.0) - (n > 1 ? tie_term / (dn * (dn - 1.0)) : 0.0));
    if (!(var > 0.0))
        return 1.0; /* every value tied: no evidence of a difference */
    double z = (u - mu - 0.5) / sqrt(var);
    double p = erfc(z / sqrt(2.0));
    return p > 1.0 ? 1.0 : p;
}

typedef struct indexed_p {
    double p;
    size_t i;
} indexed_p;

static int cmp_indexed_p(const void *x, const void *y)
{
    const indexed_p *a = x, *b = y;
    if (a->p != b->p)
        return (a->p > b->p) - (a->p < b->p);
    return (a->i > b->i) - (a->i < b->i);
}

/*
 * q_(k) = min over j >= k of m p_(j) / j, capped at 1, for the m non-NAN
 * p-values sorted ascending (the step-up procedure written as adjusted values,
 * as R's p.adjust(method = "BH") does). Without memory for the sort the
 * Bonferroni bound m p >= q is returned instead: conservative, never wrong.
 */
void bench_stats_bh_adjust(const double *p, size_t n, double *q)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += !isnan(p[i]);
    indexed_p *s = m ? malloc(m * sizeof *s) : NULL;
    if (!s) {
        for (size_t i = 0; i < n; i++)
            q[i] = isnan(p[i]) ? NAN : fmin(1.0, p[i] * (double)m);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(p[i]))
            s[k++] = (indexed_p){p[i], i};
    qsort(s, m, sizeof *s, cmp_indexed_p);
    /* Every input is read into s before q is written: q may alias p. */
    for (size_t i = 0; i < n; i++)
        if (isnan(p[i]))
            q[i] = NAN;
    double running = 1.0;
    for (size_t r = m; r-- > 0;) {
        double adj = s[r].p * (double)m / (double)(r + 1);
        if (adj < running)
            running = adj;
        q[s[r].i] = running;
    }
    free(s);
}

double bench_stats_median(const double *x, size_t n)
{
    if (n == 0)
        return NAN;
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return NAN;
    memcpy(sorted, x, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    double m = bench_stats_percentile_sorted(sorted, n, 0.5);
    free(sorted);
    return m;
}

/*
 * The bootstrap draws order statistics directly instead of resampling.
 *
 * A resample of sorted x takes n indices floor(n U_i) with U_i uniform; floor
 * is monotone, so the resample's j-th smallest value is x[floor(n U_(j))],
 * U_(j) being the j-th smallest of n uniforms. U_(j) ~ Beta(j, n - j + 1), and
 * given U_(j) = u, U_(j+1) = u + (1 - u) V with V ~ Beta(1, n - j) (the least
 * of the n - j uniforms above u). The type-7 percentile needs only those two
 * order statistics, so each replicate costs O(1) instead of O(n) with exactly
 * the distribution of "resample, sort, take the percentile" (the tests check
 * it against that and against exact binomial probabilities). This keeps
 * 2000 replicates of 100,000-sample points cheap.
 */
typedef struct boot_rng {
    uint64_t s[4];
    bool has_spare;
    double spare;
} boot_rng;

static void boot_rng_seed(boot_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = bench_splitmix64(&seed);
    r->has_spare = false;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t boot_next(boot_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in the open interval (0, 1). */
static double boot_uniform(boot_rng *r)
{
    return ((double)(boot_next(r) >> 11) + 0.5) * 0x1.0p-53;
}

/* Standard normal (Marsaglia's polar method). */
static double boot_normal(boot_rng *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * boot_uniform(r) - 1.0;
        v = 2.0 * boot_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    r->spare = v * f;
    r->has_spare = true;
    return u * f;
}

/* Gamma(shape a >= 1, scale 1) by Marsaglia and Tsang (2000). */
static double boot_gamma(boot_rng *r, double a)
{
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = boot_normal(r), v = 1.0 + c * x;
        if (v <= 0.0)
            continue;
        v = v * v * v;
        double u = boot_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x)
            return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v;
    }
}

/* Beta(a, b), a, b >= 1. */
static double boot_beta(boot_rng *r, double a, double b)
{
    if (a == 1.0) /* the least of b uniforms */
        return 1.0 - pow(boot_uniform(r), 1.0 / b);
    if (b == 1.0) /* the greatest of a uniforms */
        return pow(boot_uniform(r), 1.0 / a);
    double x = boot_gamma(r, a), y = boot_gamma(r, b);
    return x / (x + y);
}

static double index_of(double u, size_t n)
{
    double k = floor(u * (double)n);
    return k >= (double)n ? (double)(n - 1) : k;
}

/* One bootstrap replicate of the pct-percentile of sorted x (see above). */
static double boot_percentile(boot_rng *r, const double *x, size_t n, double pct)
{
    if (n == 1)
        return x[0];
    double h = (double)(n - 1) * (pct < 0.0 ? 0.0 : pct > 1.0 ? 1.0 : pct);
    size_t lo = (size_t)floor(h);
    double frac = h - (double)lo;
    if (lo >= n - 1) {
        lo = n - 1;
        frac = 0.0;
    }
    size_t j = lo + 1; /* 1-based rank of the lower order statistic */
    double u = boot_beta(r, (double)j, (double)(n - j + 1));
    double y_lo = x[(size_t)index_of(u, n)];
    if (frac == 0.0)
        return y_lo;
    double u2 = u + (1.0 - u) * boot_beta(r, 1.0, (double)(n - j));
    double y_hi = x[(size_t)index_of(u2, n)];
    return y_lo + frac * (y_hi - y_lo);
}

static double *sorted_copy(const double *x, size_t n)
{
    double *s = malloc(n * sizeof *s);
    if (!s)
        return NULL;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    return s;
}

int bench_stats_bootstrap_ratio(const double *a, size_t na, const double *b, size_t nb, double pct,
                                int n_boot, double conf, uint64_t seed, double *ratio, double *lo,
                                double *hi)
{
    if (na == 0 || nb == 0 || n_boot < 1 || !(conf > 0.0 && conf < 1.0))
        return -1;
    int rc = -1;
    double *sa = sorted_copy(a, na), *sb = sorted_copy(b, nb);
    double *reps = malloc((size_t)n_boot * sizeof *reps);
    if (!sa || !sb || !reps)
        goto done;
    double pa = bench_stats_percentile_sorted(sa, na, pct);
    double pb = bench_stats_percentile_sorted(sb, nb, pct);
    if (pa == 0.0)
        goto done;
    boot_rng r;
    boot_rng_seed(&r, seed);
    for (int i = 0; i < n_boot; i++) {
        double ra = boot_percentile(&r, sa, na, pct);
        double rb = boot_percentile(&r, sb, nb, pct);
        if (ra == 0.0)
            goto done;
        reps[i] = rb / ra;
    }
    qsort(reps, (size_t)n_boot, sizeof *reps, cmp_double);
    *ratio = pb / pa;
    *lo = bench_stats_percentile_sorted(reps, (size_t)n_boot, (1.0 - conf) / 2.0);
    *hi = bench_stats_percentile_sorted(reps, (size_t)n_boot, (1.0 + conf) / 2.0);
    rc = 0;
done:
    free(sa);
    free(sb);
    free(reps);
    return rc;
}
