/*
 * test_hnsw.c - the HNSW index through the public API: recall against exact search on
 * clustered data (IP and L2), recall growing with ef, ordering and scores checked against the
 * vectors, custom ids, short and empty indexes, determinism and batched adds, snapshot round
 * trips (also continuing to add after a load), corrupt snapshots, and concurrent searches.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lore/lore.h"
#include "test_snapshot_mem.h"
#include "test_util.h"

#define DIM 32
#define N_CLUSTERS 20
#define K 10

/* ---- data ----------------------------------------------------------------- */

static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
    return ((double)(next_u64(s) >> 11) + 0.5) * 0x1.0p-53;
}

static double gaussian(uint64_t *s)
{
    return sqrt(-2.0 * log(uniform(s))) * cos(6.283185307179586 * uniform(s));
}

/*
 * n points of a Gaussian mixture: N_CLUSTERS unit centres (fixed by centre_seed), noise of
 * norm about spread, L2-normalised when normalize is set. Points of other seeds follow the
 * same distribution (queries).
 */
static float *mixture(size_t n, int dim, double spread, bool normalize, uint64_t seed)
{
    uint64_t cs = 12345;
    float *c = malloc((size_t)N_CLUSTERS * dim * sizeof *c);
    float *x = malloc(n * dim * sizeof *x);
    assert_non_null(c);
    assert_non_null(x);
    for (int i = 0; i < N_CLUSTERS; i++) {
        double norm = 0;
        for (int j = 0; j < dim; j++) {
            c[i * dim + j] = (float)gaussian(&cs);
            norm += (double)c[i * dim + j] * c[i * dim + j];
        }
        for (int j = 0; j < dim; j++)
            c[i * dim + j] /= (float)sqrt(norm);
    }
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        const float *ci = c + (next_u64(&s) % N_CLUSTERS) * dim;
        double norm = 0;
        for (int j = 0; j < dim; j++) {
            x[i * dim + j] = ci[j] + (float)(gaussian(&s) * spread / sqrt(dim));
            norm += (double)x[i * dim + j] * x[i * dim + j];
        }
        if (normalize)
            for (int j = 0; j < dim; j++)
                x[i * dim + j] /= (float)sqrt(norm);
    }
    free(c);
    return x;
}

static double score_of(lore_metric metric, const float *a, const float *b, int dim)
{
    double s = 0;
    for (int j = 0; j < dim; j++)
        s += metric == LORE_METRIC_IP ? (double)a[j] * b[j]
                                      : ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return s;
}

/* Exact top-k row numbers (ties: lower row first), in double precision. */
static int64_t *brute_force(lore_metric metric, const float *x, size_t n, const float *q, size_t nq,
                            int dim, int k)
{
    int64_t *ids = malloc(nq * k * sizeof *ids);
    double *best = malloc(k * sizeof *best);
    assert_non_null(ids);
    assert_non_null(best);
    for (size_t i = 0; i < nq; i++) {
        int64_t *row = ids + i * k;
        int kept = 0;
        for (size_t r = 0; r < n; r++) {
            double s = score_of(metric, q + i * dim, x + r * dim, dim);
            if (metric == LORE_METRIC_L2)
                s = -s;
            if (kept == k && s <= best[k - 1])
                continue;
            int pos = kept < k ? kept++ : k - 1;
            while (pos > 0 && best[pos - 1] < s) {
                best[pos] = best[pos - 1];
                row[pos] = row[pos - 1];
                pos--;
            }
            best[pos] = s;
            row[pos] = (int64_t)r;
        }
        for (int j = kept; j < k; j++)
            row[j] = -1;
    }
    free(best);
    return ids;
}

static double recall(const int64_t *found, const int64_t *truth, size_t nq, int k)
{
    size_t hit = 0;
    for (size_t i = 0; i < nq; i++)
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                hit += found[i * k + a] == truth[i * k + b] && truth[i * k + b] >= 0;
    return (double)hit / (double)(nq * k);
}

/* ---- helpers --------------------------------------------------------------- */

static lore_index *new_hnsw(lore_metric metric, int dim, int M, int efc, uint64_t seed)
{
    lore_index_params p = lore_index_default_params(LORE_INDEX_HNSW, dim);
    p.metric = metric;
    p.M = M;
    p.ef_construction = efc;
    p.seed = seed;
    lore_index *ix = NULL;
    assert_int_equal(lore_index_new(&p, &ix), LORE_OK);
    assert_non_null(ix);
    return ix;
}

static void search(const lore_index *ix, const float *q, size_t nq, int k, int ef, float *scores,
                   int64_t *ids)
{
    lore_search_params sp = lore_search_default_params();
    sp.ef_search = ef;
    assert_int_equal(lore_index_search(ix, q, nq, k, &sp, scores, ids), LORE_OK);
}

typedef struct built {
    lore_index *ix;
    float *x, *q;
    int64_t *truth;
    size_t n, nq;
} built;

static built build(lore_metric metric, size_t n, size_t nq, double spread, int M, int efc)
{
    built b = {0};
    b.n = n;
    b.nq = nq;
    b.x = mixture(n, DIM, spread, metric == LORE_METRIC_IP, 1);
    b.q = mixture(nq, DIM, spread, metric == LORE_METRIC_IP, 2);
    b.truth = brute_force(metric, b.x, n, b.q, nq, DIM, K);
    b.ix = new_hnsw(metric, DIM, M, efc, 7);
    assert_int_equal(lore_index_add(b.ix, b.x, NULL, n), LORE_OK);
    assert_int_equal(lore_index_size(b.ix), n);
    return b;
}

static void built_free(built *b)
{
    lore_index_free(b->ix);
    free(b->x);
    free(b->q);
    free(b->truth);
}

static double recall_at(const built *b, int ef)
{
    float *s = malloc(b->nq * K * sizeof *s);
    int64_t *id = malloc(b->nq * K * sizeof *id);
    search(b->ix, b->q, b->nq, K, ef, s, id);
    double r = recall(id, b->truth, b->nq, K);
    free(s);
    free(id);
    return r;
}

/* ---- recall ---------------------------------------------------------------- */

static void check_recall(lore_metric metric)
{
    /* Recall@10 is about 0.85 at ef 10 on this data: the long list has real work to do. */
    built b = build(metric, 3000, 100, 1.5, 16, 64);
    /* Building counts its work: every insertion after the first fills a list of up to 64. */
    lore_index_stats st;
    lore_index_get_stats(b.ix, &st);
    assert_int_equal(st.n_searches, 0);
    assert_true(st.n_distances >= 32 * 2999);
    assert_true(st.n_hops >= 2999);
    lore_index_reset_stats(b.ix);
    double r = recall_at(&b, 200);
    if (r < 0.99)
        fail_msg("%s recall@10 at ef 200 is %.4f, want >= 0.99", lore_metric_name(metric), r);
    /* A list of 200 needed at least 200 distances a query, and at most one per node on level
     * 0 (the visited set) plus the upper levels' greedy steps. */
    lore_index_get_stats(b.ix, &st);
    assert_int_equal(st.n_searches, 100);
    assert_true(st.n_distances >= 100 * 200);
    assert_true(st.n_distances < 100 * 3000);
    assert_true(st.n_hops >= 100 * 10);
    /* At least the level-0 block: vectors, ids and 2M links a node. */
    assert_true(lore_index_memory_bytes(b.ix) > 3000 * (DIM * sizeof(float) + 8 + 32 * 4));
    built_free(&b);
}

static void test_recall_ip(void **state)
{
    (void)state;
    check_recall(LORE_METRIC_IP);
}

static void test_recall_l2(void **state)
{
    (void)state;
    check_recall(LORE_METRIC_L2);
}

static void test_recall_grows_with_ef(void **state)
{
    (void)state;
    /* Wide clusters and a sparse graph (M 6, ef_construction 20) make a short list visibly
     * lossy: recall runs from about 0.67 at ef 10 to 0.99 at ef 160. */
    built b = build(LORE_METRIC_IP, 3000, 100, 1.5, 6, 20);
    const int efs[] = {10, 20, 40, 80, 160};
    double prev = 0;
    int64_t prev_dist = 0;
    for (size_t i = 0; i < sizeof efs / sizeof efs[0]; i++) {
        lore_index_stats st0, st1;
        lore_index_get_stats(b.ix, &st0);
        double r = recall_at(&b, efs[i]);
        lore_index_get_stats(b.ix, &st1);
        int64_t dist = st1.n_distances - st0.n_distances;
        if (i == 0 && r > 0.9)
            fail_msg("recall at ef 10 is already %.4f: the data is too easy to show growth", r);
        if (r <= prev)
            fail_msg("recall went from %.4f to %.4f at ef %d", prev, r, efs[i]);
        /* A longer list costs more distances. */
        assert_true(dist > prev_dist);
        prev = r;
        prev_dist = dist;
    }
    if (prev < 0.98)
        fail_msg("recall at ef 160 is %.4f, want >= 0.98", prev);
    built_free(&b);
}

static void test_exact_when_ef_covers_n(void **state)
{
    (void)state;
    /* With ef >= n nothing is ever dropped from the list, so the search expands every node it
     * can reach: on a connected graph the answer is exact, even on a sparse one. (This graph
     * is connected; at M 3 the heuristic leaves it in pieces, in hnswlib too.) */
    size_t n = 500, nq = 50;
    float *x = mixture(n, DIM, 1.5, false, 20);
    float *q = mixture(nq, DIM, 1.5, false, 21);
    int64_t *truth = brute_force(LORE_METRIC_L2, x, n, q, nq, DIM, K);
    lore_index *ix = new_hnsw(LORE_METRIC_L2, DIM, 6, 16, 9);
    assert_int_equal(lore_index_add(ix, x, NULL, n), LORE_OK);
    float *s = malloc(nq * K * sizeof *s);
    int64_t *id = malloc(nq * K * sizeof *id);
    search(ix, q, nq, K, (int)n, s, id);
    double r = recall(id, truth, nq, K);
    if (r < 1.0)
        fail_msg("recall@10 with ef = n is %.4f, want 1", r);
    free(s);
    free(id);
    free(truth);
    free(x);
    free(q);
    lore_index_free(ix);
}

/* ---- results --------------------------------------------------------------- */

static void check_results_sorted_and_scored(lore_metric metric)
{
    size_t n = 1000, nq = 20;
    float *x = mixture(n, DIM, 1.0, metric == LORE_METRIC_IP, 3);
    float *q = mixture(nq, DIM, 1.0, metric == LORE_METRIC_IP, 4);
    int64_t *ids_in = malloc(n * sizeof *ids_in);
    for (size_t i = 0; i < n; i++)
        ids_in[i] = 1000000007LL * 3 + (int64_t)(n - i) * 11; /* any int64, not row numbers */
    lore_index *ix = new_hnsw(metric, DIM, 8, 64, 1);
    assert_int_equal(lore_index_add(ix, x, ids_in, n), LORE_OK);
    float s[nq * K];
    int64_t id[nq * K];
    search(ix, q, nq, K, 64, s, id);
    for (size_t i = 0; i < nq; i++) {
        for (int j = 0; j < K; j++) {
            int64_t got = id[i * K + j];
            size_t row = n;
            for (size_t r = 0; r < n; r++)
                if (ids_in[r] == got)
                    row = r;
            if (row == n)
                fail_msg("query %zu result %d: id %lld was never added", i, j, (long long)got);
            double want = score_of(metric, q + i * DIM, x + row * DIM, DIM);
            assert_double_equal(s[i * K + j], want, 1e-4 * (1 + fabs(want)));
            if (j > 0) {
                float a = s[i * K + j - 1], c = s[i * K + j];
                assert_true(metric == LORE_METRIC_IP ? a >= c : a <= c);
                assert_true(id[i * K + j - 1] != got);
            }
        }
    }
    lore_index_free(ix);
    free(x);
    free(q);
    free(ids_in);
}

static void test_sorted_with_custom_ids_ip(void **state)
{
    (void)state;
    check_results_sorted_and_scored(LORE_METRIC_IP);
}

static void test_sorted_with_custom_ids_l2(void **state)
{
    (void)state;
    check_results_sorted_and_scored(LORE_METRIC_L2);
}

static void test_k_above_n(void **state)
{
    (void)state;
    size_t n = 5;
    float *x = mixture(n, DIM, 1.0, false, 5);
    float *q = mixture(1, DIM, 1.0, false, 6);
    int64_t *truth = brute_force(LORE_METRIC_L2, x, n, q, 1, DIM, 8);
    lore_index *ix = new_hnsw(LORE_METRIC_L2, DIM, 16, 200, 1);
    assert_int_equal(lore_index_add(ix, x, NULL, n), LORE_OK);
    float s[8];
    int64_t id[8];
    search(ix, q, 1, 8, 8, s, id);
    /* Five vectors: a graph this small is searched exhaustively, in exact order. */
    for (int j = 0; j < 5; j++)
        assert_int_equal(id[j], truth[j]);
    for (int j = 5; j < 8; j++) {
        assert_int_equal(id[j], -1);
        assert_true(isinf(s[j]) && s[j] > 0);
    }
    lore_index_free(ix);
    free(x);
    free(q);
    free(truth);
}

static void test_empty_and_single(void **state)
{
    (void)state;
    lore_index *ix = new_hnsw(LORE_METRIC_IP, 4, 16, 200, 1);
    float q[4] = {1, 0, 0, 0}, s[3];
    int64_t id[3];
    search(ix, q, 1, 3, 0, s, id);
    for (int j = 0; j < 3; j++) {
        assert_int_equal(id[j], -1);
        assert_true(isinf(s[j]) && s[j] < 0);
    }
    float v[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    int64_t vid = -77;
    assert_int_equal(lore_index_add(ix, v, &vid, 1), LORE_OK);
    search(ix, q, 1, 3, 0, s, id);
    assert_int_equal(id[0], -77);
    assert_double_equal(s[0], 0.5, 1e-6);
    assert_int_equal(id[1], -1);
    assert_int_equal(id[2], -1);
    lore_index_free(ix);
}

static void test_duplicates_and_zero_vectors(void **state)
{
    (void)state;
    /* 300 copies of one vector and 300 zero vectors: every distance ties. */
    size_t n = 600;
    float *x = calloc(n * DIM, sizeof *x);
    for (size_t i = 0; i < n / 2; i++)
        x[i * DIM] = 1.0f;
    lore_index *ix = new_hnsw(LORE_METRIC_L2, DIM, 4, 16, 1);
    assert_int_equal(lore_index_add(ix, x, NULL, n), LORE_OK);
    float s[K];
    int64_t id[K];
    search(ix, x, 1, K, 32, s, id);
    for (int j = 0; j < K; j++) {
        assert_true(id[j] >= 0 && id[j] < 300);
        assert_double_equal(s[j], 0.0, 0.0);
        for (int i = 0; i < j; i++)
            assert_true(id[i] != id[j]);
    }
    lore_index_free(ix);
    free(x);
}

/* ---- determinism and batches ---------------------------------------------------- */

static void search_all(const lore_index *ix, const float *q, size_t nq, float *s, int64_t *id)
{
    search(ix, q, nq, K, 40, s, id);
}

static void assert_same_results(const lore_index *a, const lore_index *b, const float *q, size_t nq)
{
    float *sa = malloc(nq * K * sizeof *sa), *sb = malloc(nq * K * sizeof *sb);
    int64_t *ia = malloc(nq * K * sizeof *ia), *ib = malloc(nq * K * sizeof *ib);
    search_all(a, q, nq, sa, ia);
    search_all(b, q, nq, sb, ib);
    assert_memory_equal(ia, ib, nq * K * sizeof *ia);
    assert_memory_equal(sa, sb, nq * K * sizeof *sa);
    free(sa);
    free(sb);
    free(ia);
    free(ib);
}

static void test_batches_equal_one_add(void **state)
{
    (void)state;
    size_t n = 1500, nq = 50;
    float *x = mixture(n, DIM, 1.0, true, 8);
    float *q = mixture(nq, DIM, 1.0, true, 9);
    lore_index *one = new_hnsw(LORE_METRIC_IP, DIM, 8, 50, 3);
    lore_index *parts = new_hnsw(LORE_METRIC_IP, DIM, 8, 50, 3);
    lore_index *other_seed = new_hnsw(LORE_METRIC_IP, DIM, 8, 50, 4);
    assert_int_equal(lore_index_add(one, x, NULL, n), LORE_OK);
    assert_int_equal(lore_index_add(other_seed, x, NULL, n), LORE_OK);
    size_t cuts[] = {0, 1, 2, 64, 65, 700, n};
    for (size_t i = 0; i + 1 < sizeof cuts / sizeof cuts[0]; i++)
        assert_int_equal(lore_index_add(parts, x + cuts[i] * DIM, NULL, cuts[i + 1] - cuts[i]),
                         LORE_OK);
    assert_same_results(one, parts, q, nq);
    /* The seed matters: another one builds another graph (same answers mostly, not the same
     * work). */
    lore_index_stats a, b;
    lore_index_get_stats(one, &a);
    lore_index_get_stats(other_seed, &b);
    assert_true(a.n_distances != b.n_distances);
    lore_index_free(one);
    lore_index_free(parts);
    lore_index_free(other_seed);
    free(x);
    free(q);
}

/* ---- snapshots --------------------------------------------------------------- */

static void test_snapshot_round_trip(void **state)
{
    (void)state;
    size_t n = 1200, more = 300, nq = 40;
    float *x = mixture(n + more, DIM, 1.0, false, 10);
    float *q = mixture(nq, DIM, 1.0, false, 11);
    int64_t *ids = malloc((n + more) * sizeof *ids);
    for (size_t i = 0; i < n + more; i++)
        ids[i] = (int64_t)i * 1000 - 5;
    lore_index *a = new_hnsw(LORE_METRIC_L2, DIM, 6, 40, 5);
    assert_int_equal(lore_index_add(a, x, ids, n), LORE_OK);
    membuf m = save_to_memory(a);
    lore_index *b = NULL;
    assert_int_equal(load_from(m.data, m.len, &b), LORE_OK);
    assert_int_equal(lore_index_size(b), n);
    assert_int_equal(lore_index_params_of(b)->M, 6);
    assert_same_results(a, b, q, nq);
    /* Saving the loaded index gives the same bytes. */
    membuf m2 = save_to_memory(b);
    assert_int_equal(m2.len, m.len);
    assert_memory_equal(m2.data, m.data, m.len);
    /* The level generator's state travels too: adding more builds the same graph. */
    assert_int_equal(lore_index_add(a, x + n * DIM, ids + n, more), LORE_OK);
    assert_int_equal(lore_index_add(b, x + n * DIM, ids + n, more), LORE_OK);
    assert_same_results(a, b, q, nq);
    lore_index_free(a);
    lore_index_free(b);
    free(m.data);
    free(m2.data);
    free(x);
    free(q);
    free(ids);
}

static void test_snapshot_empty(void **state)
{
    (void)state;
    lore_index *a = new_hnsw(LORE_METRIC_IP, 3, 16, 200, 1);
    membuf m = save_to_memory(a);
    lore_index *b = NULL;
    assert_int_equal(load_from(m.data, m.len, &b), LORE_OK);
    assert_int_equal(lore_index_size(b), 0);
    float v[3] = {1, 2, 3}, s[1];
    int64_t id[1];
    assert_int_equal(lore_index_add(b, v, NULL, 1), LORE_OK);
    search(b, v, 1, 1, 0, s, id);
    assert_int_equal(id[0], 0);
    lore_index_free(a);
    lore_index_free(b);
    free(m.data);
}

/* Body layout (hnsw.c) after index.c's 68-byte header. */
#define HEADER_BYTES 68
#define BODY_MAX_LEVEL (HEADER_BYTES + 12)
#define BODY_ENTRY (HEADER_BYTES + 16)
#define BODY_NODES (HEADER_BYTES + 20)

static void put_u32_at(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof v);
}

static uint32_t u32_at(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void expect_corrupt(const membuf *m, const char *what)
{
    lore_index *ix = (lore_index *)1;
    assert_int_equal(load_from(m->data, m->len, &ix), LORE_ECORRUPT);
    assert_null(ix);
    if (!strstr(lore_last_error(), what))
        fail_msg("error '%s' does not mention '%s'", lore_last_error(), what);
}

static void test_snapshot_corrupt(void **state)
{
    (void)state;
    const int M = 4;
    size_t n = 400, rec = 4 + 4 * (1 + 2 * M) + 8 + 4 * DIM;
    float *x = mixture(n, DIM, 1.0, true, 12);
    lore_index *a = new_hnsw(LORE_METRIC_IP, DIM, M, 20, 2);
    assert_int_equal(lore_index_add(a, x, NULL, n), LORE_OK);
    membuf m = save_to_memory(a);
    unsigned char *orig = malloc(m.len);
    memcpy(orig, m.data, m.len);
    uint32_t max_level = u32_at(m.data + BODY_MAX_LEVEL);
    uint32_t entry = u32_at(m.data + BODY_ENTRY);
    assert_true(max_level >= 1); /* 400 nodes at M 4: several levels */
    assert_true(entry < n);

    /* A level-0 link past n (node 3's first link). */
    unsigned char *node3 = m.data + BODY_NODES + 3 * rec;
    assert_true(u32_at(node3 + 4) >= 1);
    put_u32_at(node3 + 8, (uint32_t)n + 5);
    expect_corrupt(&m, "link 0 is node 405");
    memcpy(m.data, orig, m.len);

    /* More links than 2M. */
    put_u32_at(node3 + 4, 2 * M + 1);
    expect_corrupt(&m, "links on level 0");
    memcpy(m.data, orig, m.len);

    /* A node above the max level. */
    put_u32_at(node3, max_level + 1);
    expect_corrupt(&m, "above the max level");
    memcpy(m.data, orig, m.len);

    /* An entry point past n, and one that is not on the top level. */
    put_u32_at(m.data + BODY_ENTRY, (uint32_t)n);
    expect_corrupt(&m, "entry node");
    memcpy(m.data, orig, m.len);
    uint32_t low = 0;
    while (u32_at(m.data + BODY_NODES + low * rec) == max_level)
        low++;
    put_u32_at(m.data + BODY_ENTRY, low);
    expect_corrupt(&m, "not the max level");
    memcpy(m.data, orig, m.len);

    /* A max level no draw can reach. */
    put_u32_at(m.data + BODY_MAX_LEVEL, 200);
    expect_corrupt(&m, "max level 200");
    memcpy(m.data, orig, m.len);

    /* An upper-level link to a node without that level: the first upper list's first link. */
    size_t upper = BODY_NODES + n * rec;
    uint32_t zero_level = 0;
    while (u32_at(m.data + BODY_NODES + zero_level * rec) != 0)
        zero_level++;
    assert_true(u32_at(m.data + upper) >= 1);
    put_u32_at(m.data + upper + 4, zero_level);
    expect_corrupt(&m, "whose level is 0");
    memcpy(m.data, orig, m.len);

    /* Truncations anywhere in the body, and a flipped vector byte (the checksum). */
    size_t cuts[] = {HEADER_BYTES + 2, BODY_NODES + 1, BODY_NODES + rec * 7 + 3, upper + 2,
                     m.len - 9};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        lore_index *ix = (lore_index *)1;
        assert_int_equal(load_from(m.data, cuts[i], &ix), LORE_ECORRUPT);
        assert_null(ix);
    }
    m.data[BODY_NODES + rec * 9 + rec - 5] ^= 0x40;
    expect_corrupt(&m, "checksum");
    memcpy(m.data, orig, m.len);

    /* The untouched bytes still load. */
    lore_index *b = NULL;
    assert_int_equal(load_from(m.data, m.len, &b), LORE_OK);
    lore_index_free(b);
    lore_index_free(a);
    free(orig);
    free(m.data);
    free(x);
}

/* ---- threads ----------------------------------------------------------------- */

typedef struct job {
    const lore_index *ix;
    const float *q;
    size_t nq;
    float *s;
    int64_t *id;
    lore_status st;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    lore_search_params sp = lore_search_default_params();
    sp.ef_search = 50;
    /* One query a call, so the two threads take and return scratch all the time. */
    j->st = LORE_OK;
    for (size_t i = 0; i < j->nq && j->st == LORE_OK; i++)
        j->st = lore_index_search(j->ix, j->q + i * DIM, 1, K, &sp, j->s + i * K, j->id + i * K);
    return NULL;
}

static void test_concurrent_searches(void **state)
{
    (void)state;
    built b = build(LORE_METRIC_IP, 2000, 200, 1.0, 16, 64);
    size_t nq = b.nq;
    float *s_seq = malloc(nq * K * sizeof *s_seq), *s_par = malloc(nq * K * sizeof *s_par);
    int64_t *i_seq = malloc(nq * K * sizeof *i_seq), *i_par = malloc(nq * K * sizeof *i_par);
    job seq = {b.ix, b.q, nq, s_seq, i_seq, LORE_EINTERNAL};
    run_job(&seq);
    assert_int_equal(seq.st, LORE_OK);
    /* Two threads split the queries; each must get what the sequential run got. */
    job half[2] = {{b.ix, b.q, nq / 2, s_par, i_par, LORE_EINTERNAL},
                   {b.ix, b.q + nq / 2 * DIM, nq - nq / 2, s_par + nq / 2 * K, i_par + nq / 2 * K,
                    LORE_EINTERNAL}};
    pthread_t t[2];
    for (int round = 0; round < 3; round++) {
        memset(i_par, 0xff, nq * K * sizeof *i_par);
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&t[i], NULL, run_job, &half[i]), 0);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(pthread_join(t[i], NULL), 0);
            assert_int_equal(half[i].st, LORE_OK);
        }
        assert_memory_equal(i_par, i_seq, nq * K * sizeof *i_seq);
        assert_memory_equal(s_par, s_seq, nq * K * sizeof *s_seq);
    }
    free(s_seq);
    free(s_par);
    free(i_seq);
    free(i_par);
    built_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recall_ip),
        cmocka_unit_test(test_recall_l2),
        cmocka_unit_test(test_recall_grows_with_ef),
        cmocka_unit_test(test_exact_when_ef_covers_n),
        cmocka_unit_test(test_sorted_with_custom_ids_ip),
        cmocka_unit_test(test_sorted_with_custom_ids_l2),
        cmocka_unit_test(test_k_above_n),
        cmocka_unit_test(test_empty_and_single),
        cmocka_unit_test(test_duplicates_and_zero_vectors),
        cmocka_unit_test(test_batches_equal_one_add),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_empty),
        cmocka_unit_test(test_snapshot_corrupt),
        cmocka_unit_test(test_concurrent_searches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
