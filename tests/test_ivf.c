/*
 * test_ivf.c - k-means (through its internal header) and the IVF-Flat index
 * (through the public API).
 *
 * k-means: seeded blobs are found (each blob's points share a cluster, one
 * cluster a blob, centroids at the blob means), runs repeat per seed, empty
 * clusters are repaired when there are fewer distinct points than k, the
 * training sample is capped, both metrics.
 * IVF: probing every list equals the flat index exactly, recall grows with
 * probes, work is counted, state and argument errors, explicit ids, short
 * results, concurrent searches, snapshots (round trip, truncation, flipped
 * bytes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lore/lore.h"
#include "index/kmeans.h"
#include "kernels/distance.h"
#include "test_snapshot_mem.h"
#include "test_util.h"

/* ---- data ------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return ((double)(splitmix(s) >> 11) + 0.5) * 0x1.0p-53;
}

static double gauss(uint64_t *s)
{
    return sqrt(-2.0 * log(unit(s))) * cos(6.283185307179586 * unit(s));
}

static void normalise(float *v, int dim)
{
    double ss = 0.0;
    for (int d = 0; d < dim; d++)
        ss += (double)v[d] * v[d];
    for (int d = 0; d < dim; d++)
        v[d] = (float)(v[d] / sqrt(ss));
}

/*
 * n points around n_blobs centres: point i belongs to blob i % n_blobs (blob_of may be NULL).
 * Centres are Gaussian with norm ~ centre_scale; noise has standard deviation noise per
 * coordinate. unit: every point (and centre) L2-normalised.
 */
static float *blobs(size_t n, int dim, int n_blobs, double centre_scale, double noise,
                    bool unit_len, uint64_t seed, int *blob_of)
{
    float *c = malloc((size_t)n_blobs * dim * sizeof *c);
    float *x = malloc(n * dim * sizeof *x);
    assert_non_null(c);
    assert_non_null(x);
    uint64_t s = seed;
    for (int b = 0; b < n_blobs; b++) {
        for (int d = 0; d < dim; d++)
            c[b * dim + d] = (float)(gauss(&s) * centre_scale / sqrt(dim));
        if (unit_len)
            normalise(c + b * dim, dim);
    }
    for (size_t i = 0; i < n; i++) {
        int b = (int)(i % (size_t)n_blobs);
        for (int d = 0; d < dim; d++)
            x[i * dim + d] = c[b * dim + d] + (float)(noise * gauss(&s));
        if (unit_len)
            normalise(x + i * dim, dim);
        if (blob_of)
            blob_of[i] = b;
    }
    free(c);
    return x;
}

static lore__kmeans_params kparams(int dim, int k, lore_metric metric, uint64_t seed)
{
    return (lore__kmeans_params){.dim = dim,
                                 .k = k,
                                 .iters = 25,
                                 .max_per_centroid = 256,
                                 .seed = seed,
                                 .metric = metric,
                                 .dk = lore__dist_select()};
}

/* Nearest centroid of each point, through the same assignment the index uses. */
static int32_t *labels_of(const float *x, size_t n, int dim, const float *c, int k,
                          lore_metric metric)
{
    float *norm2 = malloc((size_t)k * sizeof *norm2);
    int32_t *lab = malloc(n * sizeof *lab);
    assert_non_null(norm2);
    assert_non_null(lab);
    for (int j = 0; j < k; j++) {
        double s = 0.0;
        for (int d = 0; d < dim; d++)
            s += (double)c[j * dim + d] * c[j * dim + d];
        norm2[j] = (float)s;
    }
    assert_int_equal(lore__kmeans_assign(x, n, dim, c, norm2, k, metric, lab, NULL), LORE_OK);
    free(norm2);
    return lab;
}

/* ---- k-means ---------------------------------------------------------------------- */

static void check_blobs_found(lore_metric metric)
{
    const int dim = 16, k = 8;
    const size_t n = 400;
    int blob_of[400];
    bool unit_len = metric == LORE_METRIC_IP;
    float *x = blobs(n, dim, k, 10.0, unit_len ? 0.01 : 0.1, unit_len, 5, blob_of);
    float c[8 * 16];
    lore__kmeans_params p = kparams(dim, k, metric, 99);
    lore__kmeans_info info;
    assert_int_equal(lore__kmeans(x, n, &p, c, &info), LORE_OK);
    assert_int_equal(info.n_train, n);
    assert_true(info.iters_run >= 1 && info.iters_run <= p.iters);

    int32_t *lab = labels_of(x, n, dim, c, k, metric);
    int cluster_of_blob[8];
    for (int b = 0; b < k; b++)
        cluster_of_blob[b] = lab[b];
    for (size_t i = 0; i < n; i++)
        assert_int_equal(lab[i], cluster_of_blob[blob_of[i]]);
    for (int a = 0; a < k; a++)
        for (int b = 0; b < a; b++)
            assert_int_not_equal(cluster_of_blob[a], cluster_of_blob[b]);

    /* Each centroid is its blob's mean (normalised for IP). */
    for (int b = 0; b < k; b++) {
        double mean[16] = {0}, ss = 0.0;
        for (size_t i = (size_t)b; i < n; i += (size_t)k)
            for (int d = 0; d < dim; d++)
                mean[d] += x[i * dim + d] / (double)(n / k);
        for (int d = 0; d < dim; d++)
            ss += mean[d] * mean[d];
        for (int d = 0; d < dim; d++) {
            double want = unit_len ? mean[d] / sqrt(ss) : mean[d];
            assert_double_equal(c[cluster_of_blob[b] * dim + d], want, 1e-4);
        }
    }
    free(lab);
    free(x);
}

static void test_kmeans_finds_blobs_l2(void **state)
{
    (void)state;
    check_blobs_found(LORE_METRIC_L2);
}

static void test_kmeans_finds_blobs_ip(void **state)
{
    (void)state;
    check_blobs_found(LORE_METRIC_IP);
}

static void test_kmeans_deterministic(void **state)
{
    (void)state;
    const int dim = 12, k = 10;
    const size_t n = 600;
    float *x = blobs(n, dim, 1, 0.0, 1.0, false, 3, NULL); /* one noise cloud: no easy answer */
    const lore_metric metrics[] = {LORE_METRIC_L2, LORE_METRIC_IP};
    for (int mi = 0; mi < 2; mi++) {
        float a[120], b[120], c[120];
        lore__kmeans_params p = kparams(dim, k, metrics[mi], 1);
        p.max_per_centroid = 40; /* a sample of 400 of the 600: the sampling is seeded too */
        lore__kmeans_info ia, ib;
        assert_int_equal(lore__kmeans(x, n, &p, a, &ia), LORE_OK);
        assert_int_equal(lore__kmeans(x, n, &p, b, &ib), LORE_OK);
        assert_memory_equal(a, b, sizeof a);
        assert_int_equal(ia.iters_run, ib.iters_run);
        assert_int_equal(ia.n_train, 400);
        p.seed = 2;
        assert_int_equal(lore__kmeans(x, n, &p, c, NULL), LORE_OK);
        assert_memory_not_equal(a, c, sizeof a);
    }
    free(x);
}

/*
 * 10 distinct points, 4 copies each, k 20: after the 10 distinct picks, k-means++ can only
 * draw duplicates, whose clusters come out empty and must be split off a populated one.
 * Every distinct point still ends with a centroid on it, and nothing is NaN.
 */
static void test_kmeans_repairs_empty_clusters(void **state)
{
    (void)state;
    const int dim = 8, k = 20, distinct = 10;
    const size_t n = 40;
    const lore_metric metrics[] = {LORE_METRIC_L2, LORE_METRIC_IP};
    for (int mi = 0; mi < 2; mi++) {
        float *base = blobs((size_t)distinct, dim, distinct, 5.0, 0.0,
                            metrics[mi] == LORE_METRIC_IP, 11, NULL);
        float *x = malloc(n * dim * sizeof *x);
        assert_non_null(x);
        for (size_t i = 0; i < n; i++)
            memcpy(x + i * dim, base + (i % distinct) * dim, dim * sizeof *x);
        float c[20 * 8];
        lore__kmeans_params p = kparams(dim, k, metrics[mi], 7);
        lore__kmeans_info info;
        assert_int_equal(lore__kmeans(x, n, &p, c, &info), LORE_OK);
        assert_true(info.n_splits > 0);
        for (int i = 0; i < k * dim; i++)
            assert_true(isfinite(c[i]));
        /* Duplicate seeds were split apart: without the repair only the 10 distinct points'
         * copies would remain. (Not all 20 need differ: BLAS may round a tie between two equal
         * centroids differently for different rows and keep both populated.) */
        int n_unique = 0;
        for (int a = 0; a < k; a++) {
            bool seen = false;
            for (int b = 0; b < a && !seen; b++)
                seen = memcmp(c + a * dim, c + b * dim, dim * sizeof *c) == 0;
            n_unique += !seen;
        }
        assert_true(n_unique > distinct);
        for (int q = 0; q < distinct; q++) {
            double nearest = INFINITY;
            for (int j = 0; j < k; j++) {
                double d2 = 0.0;
                for (int d = 0; d < dim; d++) {
                    double t = (double)c[j * dim + d] - base[q * dim + d];
                    d2 += t * t;
                }
                nearest = fmin(nearest, d2);
            }
            /* Split copies sit 1/1024 (relative) off the point. */
            assert_true(nearest < 1e-4);
        }
        free(x);
        free(base);
    }
}

/* k == n distinct points: every point becomes a centroid, the objective is 0. */
static void test_kmeans_k_equals_n(void **state)
{
    (void)state;
    const int dim = 6, k = 30;
    float *x = blobs((size_t)k, dim, 1, 0.0, 1.0, false, 21, NULL);
    float c[30 * 6];
    lore__kmeans_params p = kparams(dim, k, LORE_METRIC_L2, 5);
    lore__kmeans_info info;
    assert_int_equal(lore__kmeans(x, (size_t)k, &p, c, &info), LORE_OK);
    assert_double_equal(info.objective, 0.0, 1e-4);
    int32_t *lab = labels_of(x, (size_t)k, dim, c, k, LORE_METRIC_L2);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < i; j++)
            assert_int_not_equal(lab[i], lab[j]);
    free(lab);
    free(x);
}

static void test_kmeans_too_few_points(void **state)
{
    (void)state;
    float x[5 * 4] = {0};
    float c[6 * 4];
    lore__kmeans_params p = kparams(4, 6, LORE_METRIC_L2, 1);
    assert_int_equal(lore__kmeans(x, 5, &p, c, NULL), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "5 points"));
}

/* ---- IVF through the public API ---------------------------------------------------- */

#define DIM 48
#define N_VEC 2000
#define N_LISTS 20
#define N_QUERY 50
#define K 10

static lore_index *make_ivf(lore_metric metric, const float *x, size_t n, int n_lists)
{
    lore_index_params p = lore_index_default_params(LORE_INDEX_IVF, DIM);
    p.metric = metric;
    p.n_lists = n_lists;
    p.seed = 123;
    lore_index *ix = NULL;
    assert_int_equal(lore_index_new(&p, &ix), LORE_OK);
    assert_int_equal(lore_index_train(ix, x, n), LORE_OK);
    assert_true(lore_index_is_trained(ix));
    assert_int_equal(lore_index_add(ix, x, NULL, n), LORE_OK);
    assert_int_equal(lore_index_size(ix), n);
    return ix;
}

/* Clustered data with enough noise that the nearest list is often not the whole answer. */
static float *corpus(uint64_t seed)
{
    return blobs(N_VEC + N_QUERY, DIM, 8, 1.0, 1.0 / sqrt(DIM), true, seed, NULL);
}

static void search(const lore_index *ix, const float *q, size_t nq, int k, int probes,
                   float *scores, int64_t *ids)
{
    lore_search_params sp = lore_search_default_params();
    sp.n_probes = probes;
    assert_int_equal(lore_index_search(ix, q, nq, k, &sp, scores, ids), LORE_OK);
}

static void check_all_probes_equal_flat(lore_metric metric)
{
    float *x = corpus(31);
    const float *q = x + (size_t)N_VEC * DIM;
    lore_index *ivf = make_ivf(metric, x, N_VEC, N_LISTS);
    lore_index_params fp = lore_index_default_params(LORE_INDEX_FLAT, DIM);
    fp.metric = metric;
    lore_index *flat = NULL;
    assert_int_equal(lore_index_new(&fp, &flat), LORE_OK);
    assert_int_equal(lore_index_add(flat, x, NULL, N_VEC), LORE_OK);

    static float s_ivf[N_QUERY * K], s_flat[N_QUERY * K];
    static int64_t i_ivf[N_QUERY * K], i_flat[N_QUERY * K];
    lore_index_reset_stats(ivf);
    search(ivf, q, N_QUERY, K, N_LISTS, s_ivf, i_ivf);
    search(flat, q, N_QUERY, K, 1, s_flat, i_flat);
    for (int i = 0; i < N_QUERY * K; i++) {
        assert_int_equal(i_ivf[i], i_flat[i]);
        assert_double_equal(s_ivf[i], s_flat[i], 1e-5);
    }
    /* Every centroid and every vector scored once per query; every list probed. */
    lore_index_stats st;
    lore_index_get_stats(ivf, &st);
    assert_int_equal(st.n_searches, N_QUERY);
    assert_int_equal(st.n_distances, (int64_t)N_QUERY * (N_LISTS + N_VEC));
    assert_int_equal(st.n_lists_probed, (int64_t)N_QUERY * N_LISTS);

    /* One probe: the centroids plus one list's vectors each. */
    lore_index_reset_stats(ivf);
    search(ivf, q, N_QUERY, K, 1, s_ivf, i_ivf);
    lore_index_get_stats(ivf, &st);
    assert_int_equal(st.n_lists_probed, N_QUERY);
    assert_true(st.n_distances > (int64_t)N_QUERY * N_LISTS);
    assert_true(st.n_distances < (int64_t)N_QUERY * (N_LISTS + N_VEC / 2));

    lore_index_free(flat);
    lore_index_free(ivf);
    free(x);
}

static void test_ivf_all_probes_equal_flat_ip(void **state)
{
    (void)state;
    check_all_probes_equal_flat(LORE_METRIC_IP);
}

static void test_ivf_all_probes_equal_flat_l2(void **state)
{
    (void)state;
    check_all_probes_equal_flat(LORE_METRIC_L2);
}

static double recall(const int64_t *found, const int64_t *truth, size_t nq, int k)
{
    size_t hit = 0;
    for (size_t i = 0; i < nq; i++)
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                hit += found[i * k + a] == truth[i * k + b];
    return (double)hit / (double)(nq * (size_t)k);
}

static void test_ivf_recall_grows_with_probes(void **state)
{
    (void)state;
    float *x = corpus(41);
    const float *q = x + (size_t)N_VEC * DIM;
    lore_index *ix = make_ivf(LORE_METRIC_IP, x, N_VEC, N_LISTS);
    static float s[N_QUERY * K];
    static int64_t truth[N_QUERY * K], found[N_QUERY * K];
    search(ix, q, N_QUERY, K, N_LISTS, s, truth); /* exact (see the test above) */
    const int probes[] = {1, 2, 4, 8, 20};
    double last = 0.0;
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        search(ix, q, N_QUERY, K, probes[i], s, found);
        double r = recall(found, truth, N_QUERY, K);
        if (i == 0)
            assert_true(r < 0.9); /* the data is hard enough to show the trend (0.64) */
        else
            assert_true(last < 1.0 ? r > last : r == 1.0);
        last = r;
    }
    assert_double_equal(last, 1.0, 0.0);
    lore_index_free(ix);
    free(x);
}

static void test_ivf_state_and_argument_errors(void **state)
{
    (void)state;
    float *x = corpus(51);
    lore_index_params p = lore_index_default_params(LORE_INDEX_IVF, DIM);
    p.n_lists = N_LISTS;
    lore_index *ix = NULL;
    assert_int_equal(lore_index_new(&p, &ix), LORE_OK);
    assert_false(lore_index_is_trained(ix));
    float s[K];
    int64_t id[K];
    assert_int_equal(lore_index_search(ix, x, 1, K, NULL, s, id), LORE_ESTATE);
    assert_int_equal(lore_index_add(ix, x, NULL, 10), LORE_ESTATE);
    /* Fewer training points than lists. */
    assert_int_equal(lore_index_train(ix, x, N_LISTS - 1), LORE_EINVAL);
    assert_false(lore_index_is_trained(ix));
    assert_int_equal(lore_index_train(ix, x, N_LISTS), LORE_OK);
    /* Retraining an empty index is allowed; a filled one is not. */
    assert_int_equal(lore_index_train(ix, x, N_VEC), LORE_OK);
    assert_int_equal(lore_index_add(ix, x, NULL, N_VEC), LORE_OK);
    assert_int_equal(lore_index_train(ix, x, N_VEC), LORE_ESTATE);

    lore_search_params sp = lore_search_default_params();
    sp.n_probes = N_LISTS + 1;
    assert_int_equal(lore_index_search(ix, x, 1, K, &sp, s, id), LORE_EINVAL);
    sp.n_probes = 0;
    assert_int_equal(lore_index_search(ix, x, 1, K, &sp, s, id), LORE_EINVAL);
    assert_int_equal(lore_index_search(ix, x, 1, 0, NULL, s, id), LORE_EINVAL);
    /* The defaults (one probe) work. */
    assert_int_equal(lore_index_search(ix, x, 1, K, NULL, s, id), LORE_OK);
    assert_int_equal(id[0], 0); /* vector 0 itself is its best inner product */
    lore_index_free(ix);
    free(x);
}

/* Explicit ids come back; k beyond what the probed lists hold pads with -1 and -inf / +inf. */
static void test_ivf_ids_and_short_results(void **state)
{
    (void)state;
    const size_t n = 100;
    float *x = corpus(61);
    int64_t *ids = malloc(n * sizeof *ids);
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = 1000000 + 7 * (int64_t)i;
    const lore_metric metrics[] = {LORE_METRIC_IP, LORE_METRIC_L2};
    for (int mi = 0; mi < 2; mi++) {
        lore_index_params p = lore_index_default_params(LORE_INDEX_IVF, DIM);
        p.metric = metrics[mi];
        p.n_lists = 4;
        lore_index *ix = NULL;
        assert_int_equal(lore_index_new(&p, &ix), LORE_OK);
        assert_int_equal(lore_index_train(ix, x, n), LORE_OK);
        assert_int_equal(lore_index_add(ix, x, ids, n), LORE_OK);
        const int k = 150;
        float s[150];
        int64_t id[150];
        search(ix, x + 5 * DIM, 1, k, 4, s, id);
        assert_int_equal(id[0], ids[5]);
        for (int i = 0; i < k; i++) {
            if (i < (int)n) {
                assert_true((id[i] - 1000000) % 7 == 0);
                if (i > 0)
                    assert_true(metrics[mi] == LORE_METRIC_IP ? s[i] <= s[i - 1]
                                                              : s[i] >= s[i - 1]);
            } else {
                assert_int_equal(id[i], -1);
                assert_true(isinf(s[i]) && (metrics[mi] == LORE_METRIC_IP ? s[i] < 0 : s[i] > 0));
            }
        }
        lore_index_free(ix);
    }
    free(ids);
    free(x);
}

typedef struct search_job {
    const lore_index *ix;
    const float *q;
    float s[N_QUERY * K];
    int64_t id[N_QUERY * K];
    lore_status status;
} search_job;

static void *search_thread(void *arg)
{
    search_job *j = arg;
    lore_search_params sp = lore_search_default_params();
    sp.n_probes = 3;
    for (int rep = 0; rep < 20 && j->status == LORE_OK; rep++)
        j->status = lore_index_search(j->ix, j->q, N_QUERY, K, &sp, j->s, j->id);
    return NULL;
}

/* Several threads searching one index (each taking scratch from the pool) agree with one. */
static void test_ivf_concurrent_search(void **state)
{
    (void)state;
    float *x = corpus(71);
    lore_index *ix = make_ivf(LORE_METRIC_L2, x, N_VEC, N_LISTS);
    static float s[N_QUERY * K];
    static int64_t id[N_QUERY * K];
    static search_job jobs[4];
    search(ix, x + (size_t)N_VEC * DIM, N_QUERY, K, 3, s, id);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (search_job){.ix = ix, .q = x + (size_t)N_VEC * DIM, .status = LORE_OK};
        assert_int_equal(pthread_create(&t[i], NULL, search_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].status, LORE_OK);
        assert_memory_equal(jobs[i].id, id, sizeof id);
        assert_memory_equal(jobs[i].s, s, sizeof s);
    }
    lore_index_free(ix);
    free(x);
}

static void test_ivf_memory_bytes(void **state)
{
    (void)state;
    float *x = corpus(81);
    lore_index *ix = make_ivf(LORE_METRIC_IP, x, N_VEC, N_LISTS);
    size_t held = (size_t)N_VEC * (DIM * sizeof(float) + sizeof(int64_t)) +
                  (size_t)N_LISTS * DIM * sizeof(float);
    size_t m = lore_index_memory_bytes(ix);
    assert_true(m >= held);
    assert_true(m <= 3 * held); /* geometric growth leaves at most 2x slack */
    lore_index_free(ix);
    free(x);
}

/* ---- snapshots -------------------------------------------------------------------- */

static void test_ivf_snapshot_round_trip(void **state)
{
    (void)state;
    float *x = corpus(91);
    const float *q = x + (size_t)N_VEC * DIM;
    const lore_metric metrics[] = {LORE_METRIC_IP, LORE_METRIC_L2};
    for (int mi = 0; mi < 2; mi++) {
        lore_index *ix = make_ivf(metrics[mi], x, N_VEC, N_LISTS);
        membuf m = save_to_memory(ix);
        lore_index *back = NULL;
        assert_int_equal(load_from(m.data, m.len, &back), LORE_OK);
        assert_int_equal(lore_index_size(back), N_VEC);
        assert_true(lore_index_is_trained(back));
        assert_int_equal(lore_index_params_of(back)->n_lists, N_LISTS);
        static float s1[N_QUERY * K], s2[N_QUERY * K];
        static int64_t i1[N_QUERY * K], i2[N_QUERY * K];
        for (int probes = 1; probes <= N_LISTS; probes += 9) {
            search(ix, q, N_QUERY, K, probes, s1, i1);
            search(back, q, N_QUERY, K, probes, s2, i2);
            assert_memory_equal(i1, i2, sizeof i1);
            assert_memory_equal(s1, s2, sizeof s1);
        }
        /* The loaded index takes more vectors like the original. */
        assert_int_equal(lore_index_add(back, q, NULL, N_QUERY), LORE_OK);
        search(back, q, 1, 1, 1, s2, i2);
        assert_int_equal(i2[0], N_VEC);
        /* Saving the loaded copy again gives the same bytes. */
        lore_index_free(back);
        back = NULL;
        assert_int_equal(load_from(m.data, m.len, &back), LORE_OK);
        membuf m2 = save_to_memory(back);
        assert_int_equal(m2.len, m.len);
        assert_memory_equal(m2.data, m.data, m.len);
        free(m2.data);
        free(m.data);
        lore_index_free(back);
        lore_index_free(ix);
    }

    /* An untrained index round-trips untrained. */
    lore_index_params p = lore_index_default_params(LORE_INDEX_IVF, DIM);
    lore_index *ix = NULL, *back = NULL;
    assert_int_equal(lore_index_new(&p, &ix), LORE_OK);
    membuf m = save_to_memory(ix);
    assert_int_equal(load_from(m.data, m.len, &back), LORE_OK);
    assert_false(lore_index_is_trained(back));
    assert_int_equal(lore_index_train(back, x, N_VEC), LORE_OK);
    free(m.data);
    lore_index_free(back);
    lore_index_free(ix);
    free(x);
}

static void test_ivf_snapshot_damage(void **state)
{
    (void)state;
    const size_t n = 300;
    float *x = corpus(101);
    lore_index_params p = lore_index_default_params(LORE_INDEX_IVF, DIM);
    p.n_lists = 6;
    lore_index *ix = NULL;
    assert_int_equal(lore_index_new(&p, &ix), LORE_OK);
    assert_int_equal(lore_index_train(ix, x, n), LORE_OK);
    assert_int_equal(lore_index_add(ix, x, NULL, n), LORE_OK);
    membuf m = save_to_memory(ix);
    const size_t header = 68, centroids = 6 * DIM * sizeof(float);
    assert_int_equal(m.len, header + centroids + 6 * 8 + n * (DIM * 4 + 8) + 8);

    /* Every truncation point through the header, the centroids and into the first list, then
     * a stride across the rest. */
    lore_index *back = NULL;
    for (size_t len = 0; len < m.len; len += len < header + centroids + 64 ? 1 : 97) {
        assert_int_equal(load_from(m.data, len, &back), LORE_ECORRUPT);
        assert_null(back);
    }
    assert_int_equal(load_from(m.data, m.len - 1, &back), LORE_ECORRUPT);

    /* A flipped byte anywhere in the body: a list size (caught by the bounds or the sum), a
     * centroid, a vector, an id, the trailer (caught by the checksum). */
    const size_t first_size = header + centroids;
    const size_t spots[] = {first_size,           first_size + 7, header + 5,
                            first_size + 8 + 100, m.len - 8 - 3,  m.len - 1};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        m.data[spots[i]] ^= 0x40;
        assert_int_equal(load_from(m.data, m.len, &back), LORE_ECORRUPT);
        assert_null(back);
        m.data[spots[i]] ^= 0x40;
    }
    /* A list size that stays in bounds but breaks the sum. */
    m.data[first_size] ^= 0x01;
    assert_int_equal(load_from(m.data, m.len, &back), LORE_ECORRUPT);
    m.data[first_size] ^= 0x01;
    assert_int_equal(load_from(m.data, m.len, &back), LORE_OK);
    lore_index_free(back);
    free(m.data);
    lore_index_free(ix);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kmeans_finds_blobs_l2),
        cmocka_unit_test(test_kmeans_finds_blobs_ip),
        cmocka_unit_test(test_kmeans_deterministic),
        cmocka_unit_test(test_kmeans_repairs_empty_clusters),
        cmocka_unit_test(test_kmeans_k_equals_n),
        cmocka_unit_test(test_kmeans_too_few_points),
        cmocka_unit_test(test_ivf_all_probes_equal_flat_ip),
        cmocka_unit_test(test_ivf_all_probes_equal_flat_l2),
        cmocka_unit_test(test_ivf_recall_grows_with_probes),
        cmocka_unit_test(test_ivf_state_and_argument_errors),
        cmocka_unit_test(test_ivf_ids_and_short_results),
        cmocka_unit_test(test_ivf_concurrent_search),
        cmocka_unit_test(test_ivf_memory_bytes),
        cmocka_unit_test(test_ivf_snapshot_round_trip),
        cmocka_unit_test(test_ivf_snapshot_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
