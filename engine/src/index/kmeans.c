/*
 * kmeans.c - seeded k-means (the IVF index's coarse quantizer).
 *
 * 1. Sample: at most max_per_centroid * k points, picked by selection
 *    sampling (Knuth's algorithm S: one pass, no index array, rows stay in
 *    input order so the copy streams). With n small enough x is used in place.
 * 2. Seeding: k-means++ (each next centroid drawn with probability
 *    proportional to its squared L2 distance to the nearest one chosen) on a
 *    random subset of LORE__KMEANS_SEED_PER_CENTROID * k sample points. Each pick is one
 *    l2_many pass over that subset: k passes over the whole sample would cost
 *    more than all the Lloyd iterations, and high-dimensional data leaves
 *    triangle-inequality pruning nothing to prune. Squared L2 serves both
 *    metrics: on unit vectors it is 2 - 2 c.x, the same order.
 * 3. Lloyd: the assignment step scores a block of points against all
 *    centroids with one GEMM (argmax of 2 c.x - ||c||^2 for L2, of c.x for
 *    IP), the update averages in double. Empty clusters are repaired by
 *    splitting the largest one (FAISS's rule: a copy of its centroid, both
 *    nudged by a symmetric relative 1/1024 perturbation). IP centroids are
 *    renormalised after each update (spherical k-means). Iterations stop
 *    early once (almost) no assignment changes.
 *
 * Determinism: one xoshiro256** stream seeded by splitmix64(seed) drives the
 * sample and the seeding; ties go to the lower index.
 */
#include "core/lore_int.h"
#include "index/kmeans.h"
#include "kernels/blas_int.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Points per assignment GEMM: their scores (rows x k floats) stay in L2 for k in the hundreds. */
#define LORE__KMEANS_BLOCK 1024
/* The assignment's score block never exceeds this many floats, whatever k is. */
#define LORE__KMEANS_SCORE_FLOATS (4u << 20)
/* k-means++ runs on at most this many sample points per centroid (its cost is k passes). */
#define LORE__KMEANS_SEED_PER_CENTROID 16
/*
 * Lloyd stops once an iteration moves at most this many sample points in 100,000 to another
 * cluster. The tail of Lloyd's iterations shuffles a few boundary points for a negligible gain
 * at the full cost of a GEMM each: on 100k x 384 clustered unit vectors with k 316 this stops
 * after 8 iterations; running on to 20 improves the objective by 0.03%, leaves recall@10 as
 * it was, and takes 2.5x the time. 0: only a settled assignment stops.
 */
#define LORE__KMEANS_SETTLED_PER_100K 500
/* Relative perturbation of a split centroid (FAISS's EPS). */
#define LORE__KMEANS_SPLIT_EPS (1.0f / 1024.0f)

/* ---- random numbers --------------------------------------------------------------- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, 1). */
static double rng_unit(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in 0..n-1 (n >= 1). */
static size_t rng_below(rng *r, size_t n)
{
    size_t i = (size_t)(rng_unit(r) * (double)n);
    return i < n ? i : n - 1;
}

/* ---- assignment -------------------------------------------------------------------- */

/*
 * Index of the largest s[j] - norm2[j] (norm2 NULL: of s[j]); ties to the lower index.
 * Four independent lanes (j mod 4) break the compare-and-branch dependency chain that keeps
 * a single running maximum at one element per few cycles; each lane keeps its first maximum,
 * and the lanes' winners are merged by value, then by index.
 */
static int32_t argmax_row(const float *s, const float *norm2, int k, float *best)
{
    float top[4];
    int arg[4];
    int lanes = k < 4 ? k : 4;
    for (int l = 0; l < lanes; l++) {
        top[l] = norm2 ? s[l] - norm2[l] : s[l];
        arg[l] = l;
    }
    int j = lanes;
    if (norm2) {
        for (; j + 4 <= k; j += 4)
            for (int l = 0; l < 4; l++) {
                float v = s[j + l] - norm2[j + l];
                if (v > top[l]) {
                    top[l] = v;
                    arg[l] = j + l;
                }
            }
    } else {
        for (; j + 4 <= k; j += 4)
            for (int l = 0; l < 4; l++)
                if (s[j + l] > top[l]) {
                    top[l] = s[j + l];
                    arg[l] = j + l;
                }
    }
    for (; j < k; j++) {
        /* The tail: lane j % 4 holds indices below j, so strict > keeps ties lower. */
        int l = j % 4;
        float v = norm2 ? s[j] - norm2[j] : s[j];
        if (v > top[l]) {
            top[l] = v;
            arg[l] = j;
        }
    }
    int w = 0;
    for (int l = 1; l < lanes; l++)
        if (top[l] > top[w] || (top[l] == top[w] && arg[l] < arg[w]))
            w = l;
    *best = top[w];
    return arg[w];
}

lore_status lore__kmeans_assign(const float *x, size_t n, int dim, const float *c,
                                const float *c_norm2, int k, lore_metric metric, int32_t *labels,
                                float *best)
{
    assert(dim >= 1 && k >= 1 && (metric == LORE_METRIC_IP || c_norm2));
    if (n == 0)
        return LORE_OK;
    size_t rows = LORE__KMEANS_BLOCK;
    if (rows * (size_t)k > LORE__KMEANS_SCORE_FLOATS)
        rows =
            LORE__KMEANS_SCORE_FLOATS / (size_t)k > 0 ? LORE__KMEANS_SCORE_FLOATS / (size_t)k : 1;
    if (rows > n)
        rows = n;
    float *s = malloc(rows * (size_t)k * sizeof *s);
    if (!s)
        return lore__fail(LORE_ENOMEM, "k-means: out of memory for a %zu x %d score block", rows,
                          k);
    const float *norm2 = metric == LORE_METRIC_L2 ? c_norm2 : NULL;
    /* L2: 2 c.x - ||c||^2 ranks like -||x - c||^2 and comes from the GEMM with alpha 2. */
    float alpha = metric == LORE_METRIC_L2 ? 2.0f : 1.0f;
    for (size_t i0 = 0; i0 < n; i0 += rows) {
        size_t nb = n - i0 < rows ? n - i0 : rows;
        lore__sgemm_nt((int)nb, k, dim, alpha, x + i0 * (size_t)dim, dim, c, dim, 0.0f, s, k);
        for (size_t i = 0; i < nb; i++) {
            float b;
            labels[i0 + i] = argmax_row(s + i * (size_t)k, norm2, k, &b);
            if (best)
                best[i0 + i] = b;
        }
    }
    free(s);
    return LORE_OK;
}

/* ---- seeding ----------------------------------------------------------------------- */

static void normalise(float *v, int dim)
{
    double ss = 0.0;
    for (int d = 0; d < dim; d++)
        ss += (double)v[d] * v[d];
    if (ss > 0.0) {
        float inv = (float)(1.0 / sqrt(ss));
        for (int d = 0; d < dim; d++)
            v[d] *= inv;
    }
}

/* The point to pick next: P(i) proportional to d2[i]; uniform when every d2 is 0. */
static size_t seed_draw(rng *r, const float *d2, size_t m, double total)
{
    if (!(total > 0.0))
        return rng_below(r, m);
    double target = rng_unit(r) * total, cum = 0.0;
    size_t last_positive = 0;
    for (size_t i = 0; i < m; i++) {
        if (d2[i] > 0.0f) {
            cum += d2[i];
            last_positive = i;
            if (cum > target)
                return i;
        }
    }
    /* Rounding left target at or past the running sum: the last point that can be drawn. */
    return last_positive;
}

/*
 * k-means++ over the m rows of xs into c (k rows); d2 and tmp are m floats of scratch.
 * Each pick costs one l2_many pass over xs, so the caller keeps m to a small multiple of k.
 */
static void seed_kmeanspp(const float *xs, size_t m, int dim, int k, rng *r,
                          const lore__dist_kernels *dk, float *c, float *d2, float *tmp)
{
    size_t D = (size_t)dim;
    memcpy(c, xs + rng_below(r, m) * D, D * sizeof *c);
    dk->l2_many(c, xs, m, D, d2);
    double total = 0.0;
    for (size_t i = 0; i < m; i++)
        total += d2[i];
    for (int t = 1; t < k; t++) {
        float *ct = c + (size_t)t * D;
        memcpy(ct, xs + seed_draw(r, d2, m, total) * D, D * sizeof *ct);
        dk->l2_many(ct, xs, m, D, tmp);
        total = 0.0;
        for (size_t i = 0; i < m; i++) {
            d2[i] = tmp[i] < d2[i] ? tmp[i] : d2[i];
            total += d2[i];
        }
    }
}

/* ---- Lloyd ------------------------------------------------------------------------- */

/* Index of the most populous cluster; ties to the lower index. */
static int largest(const size_t *count, int k)
{
    int arg = 0;
    for (int j = 1; j < k; j++)
        if (count[j] > count[arg])
            arg = j;
    return arg;
}

/*
 * Centroids from the sums of their points; each empty one becomes a perturbed copy of the
 * largest cluster's (which is split in two for the count, so the next empty one picks
 * another). Returns the number of splits.
 */
static int update_centroids(const double *sum, size_t *count, int k, int dim, float *c)
{
    size_t D = (size_t)dim;
    int splits = 0;
    for (int j = 0; j < k; j++) {
        if (count[j] == 0)
            continue;
        double inv = 1.0 / (double)count[j];
        for (size_t d = 0; d < D; d++)
            c[(size_t)j * D + d] = (float)(sum[(size_t)j * D + d] * inv);
    }
    for (int j = 0; j < k; j++) {
        if (count[j] > 0)
            continue;
        int big = largest(count, k);
        /* n >= k points: an empty cluster means another holds at least two. */
        assert(count[big] >= 2);
        float *cj = c + (size_t)j * D, *cb = c + (size_t)big * D;
        for (size_t d = 0; d < D; d++) {
            float v = cb[d];
            if (d % 2 == 0) {
                cj[d] = v * (1.0f + LORE__KMEANS_SPLIT_EPS);
                cb[d] = v * (1.0f - LORE__KMEANS_SPLIT_EPS);
            } else {
                cj[d] = v * (1.0f - LORE__KMEANS_SPLIT_EPS);
                cb[d] = v * (1.0f + LORE__KMEANS_SPLIT_EPS);
            }
        }
        count[j] = count[big] / 2;
        count[big] -= count[j];
        splits++;
    }
    return splits;
}

/* out[j] = ||v_j||^2 for the rows of v. */
static void norms2(const float *c, size_t rows, int dim, float *out)
{
    for (size_t j = 0; j < rows; j++) {
        const float *v = c + (size_t)j * (size_t)dim;
        float s = 0.0f;
        for (int d = 0; d < dim; d++)
            s += v[d] * v[d];
        out[j] = s;
    }
}

/* Selection sampling (Knuth's algorithm S): m of the n rows of x, in order, into xs. */
static void sample_rows(const float *x, size_t n, int dim, size_t m, rng *r, float *xs)
{
    size_t D = (size_t)dim, taken = 0;
    for (size_t i = 0; i < n && taken < m; i++) {
        if ((double)(n - i) * rng_unit(r) < (double)(m - taken)) {
            memcpy(xs + taken * D, x + i * D, D * sizeof *xs);
            taken++;
        }
    }
    assert(taken == m);
}

lore_status lore__kmeans(const float *x, size_t n, const lore__kmeans_params *p, float *centroids,
                         lore__kmeans_info *info)
{
    assert(p->dim >= 1 && p->k >= 1 && p->iters >= 1 && p->max_per_centroid >= 1 && p->dk);
    const int k = p->k, dim = p->dim;
    const size_t D = (size_t)dim;
    if (n < (size_t)k)
        return lore__fail(LORE_EINVAL, "k-means: %zu points cannot make %d clusters", n, k);

    size_t m = (size_t)p->max_per_centroid * (size_t)k;
    if (m > n)
        m = n;
    rng r;
    rng_seed(&r, p->seed);

    lore_status s = LORE_OK;
    float *xs_own = NULL, *xseed_own = NULL, *d2 = NULL, *tmp = NULL, *norm2 = NULL, *xn = NULL;
    int32_t *label = NULL, *prev = NULL;
    double *sum = NULL;
    size_t *count = NULL;
    if (m < n) {
        xs_own = malloc(m * D * sizeof *xs_own);
        if (!xs_own)
            goto oom;
        sample_rows(x, n, dim, m, &r, xs_own);
    }
    const float *xs = xs_own ? xs_own : x;

    d2 = malloc(m * sizeof *d2);
    label = malloc(m * sizeof *label);
    prev = malloc(m * sizeof *prev);
    norm2 = malloc((size_t)k * sizeof *norm2);
    sum = malloc((size_t)k * D * sizeof *sum);
    count = malloc((size_t)k * sizeof *count);
    if (!d2 || !label || !prev || !norm2 || !sum || !count)
        goto oom;
    if (p->metric == LORE_METRIC_L2) {
        /* ||x||^2 turns the assignment's 2 c.x - ||c||^2 into the objective. */
        if (!(xn = malloc(m * sizeof *xn)))
            goto oom;
        norms2(xs, m, dim, xn);
    }

    size_t ns = (size_t)LORE__KMEANS_SEED_PER_CENTROID * (size_t)k;
    if (ns < m) {
        if (!(xseed_own = malloc(ns * D * sizeof *xseed_own)))
            goto oom;
        sample_rows(xs, m, dim, ns, &r, xseed_own);
    } else {
        ns = m;
    }
    if (!(tmp = malloc(ns * sizeof *tmp)))
        goto oom;
    seed_kmeanspp(xseed_own ? xseed_own : xs, ns, dim, k, &r, p->dk, centroids, d2, tmp);
    free(tmp);
    tmp = NULL;
    free(xseed_own);
    xseed_own = NULL;
    if (p->metric == LORE_METRIC_IP)
        for (int j = 0; j < k; j++)
            normalise(centroids + (size_t)j * D, dim);

    int it = 0, splits = 0;
    double objective = 0.0;
    for (it = 0; it < p->iters; it++) {
        if (p->metric == LORE_METRIC_L2)
            norms2(centroids, (size_t)k, dim, norm2);
        int32_t *swap = prev;
        prev = label;
        label = swap;
        s = lore__kmeans_assign(xs, m, dim, centroids, norm2, k, p->metric, label, d2);
        if (s != LORE_OK)
            goto done;
        size_t changed = 0;
        objective = 0.0;
        for (size_t i = 0; i < m; i++) {
            changed += it == 0 || label[i] != prev[i];
            if (p->metric == LORE_METRIC_L2)
                objective += fmax(0.0, (double)xn[i] - (double)d2[i]);
            else
                objective += d2[i];
        }
        /* Settled (the update would give the same centroids), or as good as. */
        if (changed == 0 || changed * 100000 <= m * LORE__KMEANS_SETTLED_PER_100K)
            break;
        memset(sum, 0, (size_t)k * D * sizeof *sum);
        memset(count, 0, (size_t)k * sizeof *count);
        for (size_t i = 0; i < m; i++) {
            double *acc = sum + (size_t)label[i] * D;
            const float *xi = xs + i * D;
            for (size_t d = 0; d < D; d++)
                acc[d] += xi[d];
            count[label[i]]++;
        }
        splits += update_centroids(sum, count, k, dim, centroids);
        if (p->metric == LORE_METRIC_IP)
            for (int j = 0; j < k; j++)
                normalise(centroids + (size_t)j * D, dim);
    }
    if (info) {
        info->n_train = m;
        info->iters_run = it < p->iters ? it + 1 : p->iters;
        info->n_splits = splits;
        info->objective = objective;
    }
    goto done;
oom:
    s = lore__fail(LORE_ENOMEM, "k-means: out of memory (%zu points x %d dims, k %d)", m, dim, k);
done:
    free(count);
    free(sum);
    free(norm2);
    free(tmp);
    free(xseed_own);
    free(prev);
    free(label);
    free(d2);
    free(xn);
    free(xs_own);
    return s;
}
