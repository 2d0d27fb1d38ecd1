/*
 * test_index.c - the public index API: argument and state validation, the
 * flat index against a naive exact search, the snapshot format (round trip,
 * every kind of damage), files, stats, and out-of-memory sweeps on create,
 * add and load (allocation failure injected through -Wl,--wrap, see
 * CMakeLists.txt) that must end in LORE_ENOMEM with nothing leaked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lore/lore.h"
#include "test_snapshot_mem.h"
#include "test_util.h"

/* ---- allocation failure injection ------------------------------------------
 * Every malloc/calloc/realloc/aligned_alloc/free of the engine's static
 * library goes through these wrappers in this executable. fail_countdown > 0
 * makes the countdown-th allocation from now fail; live counts what is
 * allocated and not yet freed. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
void __wrap_free(void *p);

static long fail_countdown;
static long live;

static bool should_fail(void)
{
    return fail_countdown > 0 && --fail_countdown == 0;
}

void *__wrap_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = __real_malloc(n);
    live += p != NULL;
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    void *p = __real_calloc(n, size);
    live += p != NULL;
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    void *q = __real_realloc(p, n);
    live += p == NULL && q != NULL;
    return q;
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    if (should_fail())
        return NULL;
    void *p = __real_aligned_alloc(align, n);
    live += p != NULL;
    return p;
}

void __wrap_free(void *p)
{
    live -= p != NULL;
    __real_free(p);
}

/* ---- data --------------------------------------------------------------------- */

static uint64_t rng_state;

static float rand_unit(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)((z >> 40) * 0x1.0p-24) * 2.0f - 1.0f;
}

static float *random_vectors(size_t n, int dim, uint64_t seed)
{
    rng_state = seed;
    float *x = malloc(n * (size_t)dim * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n * (size_t)dim; i++)
        x[i] = rand_unit();
    return x;
}

/* The oracle: score every vector, sort, keep k (ties: lower position first). */
static void naive_search(const float *x, size_t n, int dim, lore_metric metric, const float *q,
                         int k, float *scores, int64_t *ids)
{
    for (int j = 0; j < k; j++) {
        ids[j] = -1;
        scores[j] = metric == LORE_METRIC_IP ? -INFINITY : INFINITY;
    }
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int d = 0; d < dim; d++) {
            double a = x[i * dim + d], b = q[d];
            s += metric == LORE_METRIC_IP ? a * b : (a - b) * (a - b);
        }
        float sf = (float)s;
        int pos = k;
        while (pos > 0 && (metric == LORE_METRIC_IP ? sf > scores[pos - 1] : sf < scores[pos - 1]))
            pos--;
        if (pos == k)
            continue;
        memmove(&scores[pos + 1], &scores[pos], (size_t)(k - pos - 1) * sizeof *scores);
        memmove(&ids[pos + 1], &ids[pos], (size_t)(k - pos - 1) * sizeof *ids);
        scores[pos] = sf;
        ids[pos] = (int64_t)i;
    }
}

static lore_index *new_index(lore_index_kind kind, lore_metric metric, int dim)
{
    lore_index_params p = lore_index_default_params(kind, dim);
    p.metric = metric;
    lore_index *ix = NULL;
    lore_status s = lore_index_new(&p, &ix);
    if (s != LORE_OK)
        fail_msg("lore_index_new: %s: %s", lore_strerror(s), lore_last_error());
    return ix;
}

/* ---- API -------------------------------------------------------------------- */

static void test_names_and_defaults(void **state)
{
    (void)state;
    assert_string_equal(lore_index_kind_name(LORE_INDEX_FLAT), "flat");
    assert_string_equal(lore_index_kind_name(LORE_INDEX_IVF), "ivf");
    assert_string_equal(lore_index_kind_name(LORE_INDEX_HNSW), "hnsw");
    assert_string_equal(lore_index_kind_name((lore_index_kind)9), "unknown");
    assert_string_equal(lore_metric_name(LORE_METRIC_L2), "l2");
    lore_index_params p = lore_index_default_params(LORE_INDEX_HNSW, 384);
    assert_int_equal(p.dim, 384);
    assert_int_equal(p.M, 16);
    lore_search_params sp = lore_search_default_params();
    assert_int_equal(sp.n_probes, 1);
}

static void expect_new_fails(lore_index_params p, const char *needle)
{
    lore_index *ix = (lore_index *)&p;
    assert_int_equal(lore_index_new(&p, &ix), LORE_EINVAL);
    assert_null(ix);
    if (!strstr(lore_last_error(), needle))
        fail_msg("'%s' does not mention '%s'", lore_last_error(), needle);
}

static void test_bad_params(void **state)
{
    (void)state;
    lore_index_params p = lore_index_default_params(LORE_INDEX_FLAT, 0);
    expect_new_fails(p, "dim");
    p = lore_index_default_params((lore_index_kind)7, 8);
    expect_new_fails(p, "kind");
    p = lore_index_default_params(LORE_INDEX_FLAT, 8);
    p.metric = (lore_metric)5;
    expect_new_fails(p, "metric");
    p = lore_index_default_params(LORE_INDEX_IVF, 8);
    p.n_lists = 0;
    expect_new_fails(p, "n_lists");
    p = lore_index_default_params(LORE_INDEX_HNSW, 8);
    p.M = 1;
    expect_new_fails(p, "M");
    p = lore_index_default_params(LORE_INDEX_HNSW, 8);
    p.ef_construction = 0;
    expect_new_fails(p, "ef_construction");
    assert_int_equal(lore_index_new(NULL, NULL), LORE_EINVAL);
    lore_index_free(NULL);
}

static void test_bad_calls(void **state)
{
    (void)state;
    lore_index *ix = new_index(LORE_INDEX_FLAT, LORE_METRIC_IP, 4);
    float x[8] = {1, 0, 0, 0, 0, 1, 0, 0}, scores[4];
    int64_t ids[4];
    assert_int_equal(lore_index_add(ix, NULL, NULL, 2), LORE_EINVAL);
    assert_int_equal(lore_index_add(ix, x, NULL, 2), LORE_OK);
    assert_int_equal(lore_index_search(ix, x, 1, 0, NULL, scores, ids), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "k must be"));
    assert_int_equal(lore_index_search(ix, x, 1, 2, NULL, NULL, ids), LORE_EINVAL);
    assert_int_equal(lore_index_search(ix, x, 0, 2, NULL, NULL, NULL), LORE_OK);
    assert_int_equal(lore_index_train(ix, x, 2), LORE_OK); /* flat: nothing to learn */
    lore_index_free(ix);

    /* IVF: search and add before train; probes beyond the lists; too few training points. */
    lore_index_params p = lore_index_default_params(LORE_INDEX_IVF, 4);
    p.n_lists = 4;
    assert_int_equal(lore_index_new(&p, &ix), LORE_OK);
    assert_false(lore_index_is_trained(ix));
    assert_int_equal(lore_index_search(ix, x, 1, 1, NULL, scores, ids), LORE_ESTATE);
    assert_int_equal(lore_index_add(ix, x, NULL, 2), LORE_ESTATE);
    assert_int_equal(lore_index_train(ix, x, 2), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "n_lists (4)"));
    float *train = random_vectors(64, 4, 3);
    assert_int_equal(lore_index_train(ix, train, 64), LORE_OK);
    assert_true(lore_index_is_trained(ix));
    assert_int_equal(lore_index_add(ix, train, NULL, 64), LORE_OK);
    lore_search_params sp = {.n_probes = 5};
    assert_int_equal(lore_index_search(ix, x, 1, 1, &sp, scores, ids), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "n_probes"));
    assert_int_equal(lore_index_train(ix, train, 64), LORE_ESTATE);
    lore_index_free(ix);
    free(train);

    /* HNSW: ef_search below k. */
    ix = new_index(LORE_INDEX_HNSW, LORE_METRIC_L2, 4);
    assert_int_equal(lore_index_add(ix, x, NULL, 2), LORE_OK);
    sp = (lore_search_params){.ef_search = 2};
    assert_int_equal(lore_index_search(ix, x, 1, 3, &sp, scores, ids), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "ef_search"));
    lore_index_free(ix);
}

/* ---- flat against the oracle ------------------------------------------------- */

static void check_against_naive(lore_metric metric, int dim, size_t n, size_t nq, int k)
{
    float *x = random_vectors(n, dim, 11 + (uint64_t)dim);
    float *q = random_vectors(nq, dim, 99);
    lore_index *ix = new_index(LORE_INDEX_FLAT, metric, dim);
    int64_t *custom = malloc(n * sizeof *custom);
    for (size_t i = 0; i < n; i++)
        custom[i] = (int64_t)(1000 + 3 * i);
    /* Two batches: the second with explicit ids continuing the first's numbering. */
    size_t half = n / 2;
    assert_int_equal(lore_index_add(ix, x, custom, half), LORE_OK);
    assert_int_equal(lore_index_add(ix, x + half * dim, custom + half, n - half), LORE_OK);
    assert_int_equal(lore_index_size(ix), n);
    float *got_s = malloc(nq * (size_t)k * sizeof *got_s), want_s[64];
    int64_t *got_i = malloc(nq * (size_t)k * sizeof *got_i), want_i[64];
    assert_int_equal(lore_index_search(ix, q, nq, k, NULL, got_s, got_i), LORE_OK);
    for (size_t j = 0; j < nq; j++) {
        naive_search(x, n, dim, metric, q + j * dim, k, want_s, want_i);
        for (int r = 0; r < k; r++) {
            int64_t want = want_i[r] < 0 ? -1 : custom[want_i[r]];
            double tol = 1e-4 * (1 + fabs(want_s[r] == want_s[r] ? want_s[r] : 0));
            if (want_i[r] < 0) {
                assert_int_equal(got_i[j * k + r], -1);
                continue;
            }
            assert_double_equal(got_s[j * k + r], want_s[r], tol);
            /* Ids agree unless two scores tie within float rounding. */
            if (got_i[j * k + r] != want &&
                !(r + 1 < k && fabs(want_s[r] - want_s[r + 1]) < tol) &&
                !(r > 0 && fabs(want_s[r] - want_s[r - 1]) < tol))
                fail_msg("query %zu rank %d: id %lld, expected %lld", j, r,
                         (long long)got_i[j * k + r], (long long)want);
        }
    }
    lore_index_stats st;
    lore_index_get_stats(ix, &st);
    assert_int_equal(st.n_searches, (int64_t)nq);
    assert_true(st.n_distances >= (int64_t)(nq * n));
    free(x);
    free(q);
    free(custom);
    free(got_s);
    free(got_i);
    lore_index_free(ix);
}

static void test_flat_exact(void **state)
{
    (void)state;
    const int dims[] = {1, 7, 16, 33, 384};
    for (size_t i = 0; i < 5; i++) {
        check_against_naive(LORE_METRIC_IP, dims[i], 300, 3, 10);  /* one query at a time */
        check_against_naive(LORE_METRIC_L2, dims[i], 300, 40, 10); /* the BLAS batch path */
    }
    check_against_naive(LORE_METRIC_IP, 8, 5, 2, 9); /* k > n: the rest is -1 */
    check_against_naive(LORE_METRIC_L2, 8, 1000, 17, 1);
}

static void test_empty_index(void **state)
{
    (void)state;
    lore_index *ix = new_index(LORE_INDEX_FLAT, LORE_METRIC_L2, 3);
    float q[3] = {1, 2, 3}, s[2];
    int64_t id[2];
    assert_int_equal(lore_index_search(ix, q, 1, 2, NULL, s, id), LORE_OK);
    assert_int_equal(id[0], -1);
    assert_int_equal(id[1], -1);
    assert_true(isinf(s[0]) && s[0] > 0);
    assert_true(lore_index_memory_bytes(ix) > 0);
    lore_index_free(ix);
}

/* ---- snapshots ---------------------------------------------------------------- */

static lore_index *filled_flat(size_t n, int dim, float **x_out)
{
    float *x = random_vectors(n, dim, 5);
    lore_index *ix = new_index(LORE_INDEX_FLAT, LORE_METRIC_IP, dim);
    assert_int_equal(lore_index_add(ix, x, NULL, n), LORE_OK);
    if (x_out)
        *x_out = x;
    else
        free(x);
    return ix;
}

static void test_snapshot_round_trip(void **state)
{
    (void)state;
    float *x;
    lore_index *ix = filled_flat(200, 24, &x);
    membuf m = save_to_memory(ix);
    lore_index *back = NULL;
    assert_int_equal(load_from(m.data, m.len, &back), LORE_OK);
    assert_int_equal(lore_index_size(back), 200);
    assert_int_equal(lore_index_dim(back), 24);
    assert_int_equal(lore_index_params_of(back)->metric, LORE_METRIC_IP);
    float s1[50], s2[50];
    int64_t i1[50], i2[50];
    assert_int_equal(lore_index_search(ix, x, 5, 10, NULL, s1, i1), LORE_OK);
    assert_int_equal(lore_index_search(back, x, 5, 10, NULL, s2, i2), LORE_OK);
    assert_memory_equal(i1, i2, sizeof i1);
    assert_memory_equal(s1, s2, sizeof s1);
    /* Saving what was loaded gives the same bytes. */
    membuf again = save_to_memory(back);
    assert_int_equal(again.len, m.len);
    assert_memory_equal(again.data, m.data, m.len);
    free(again.data);
    free(m.data);
    free(x);
    lore_index_free(ix);
    lore_index_free(back);
}

static void expect_corrupt(const unsigned char *data, size_t len, const char *needle)
{
    lore_index *ix = (lore_index *)data;
    lore_status s = load_from(data, len, &ix);
    assert_int_equal(s, LORE_ECORRUPT);
    assert_null(ix);
    if (needle && !strstr(lore_last_error(), needle))
        fail_msg("'%s' does not mention '%s'", lore_last_error(), needle);
}

static void test_snapshot_damage(void **state)
{
    (void)state;
    lore_index *ix = filled_flat(50, 8, NULL);
    membuf m = save_to_memory(ix);
    unsigned char *copy = malloc(m.len);

    /* Every truncation point fails cleanly. */
    for (size_t cut = 0; cut < m.len; cut += (cut < 80 ? 1 : 97))
        expect_corrupt(m.data, cut, NULL);
    /* A flipped bit anywhere is caught (by a field check or by the checksum). */
    for (size_t at = 0; at < m.len; at += 13) {
        memcpy(copy, m.data, m.len);
        copy[at] ^= 0x10;
        expect_corrupt(copy, m.len, NULL);
    }
    memcpy(copy, m.data, m.len);
    copy[0] = 'X';
    expect_corrupt(copy, m.len, "magic");
    memcpy(copy, m.data, m.len);
    copy[8] = 2; /* version */
    expect_corrupt(copy, m.len, "version 2");
    memcpy(copy, m.data, m.len);
    copy[m.len - 20] ^= 1; /* inside the ids: only the checksum notices */
    expect_corrupt(copy, m.len, "checksum");
    memcpy(copy, m.data, m.len);
    memset(copy + 20, 0, 4); /* dim 0: parameters lore_index_new refuses */
    expect_corrupt(copy, m.len, "dim");
    free(copy);
    free(m.data);
    lore_index_free(ix);
}

static void test_snapshot_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/lore-test-index-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/flat.idx", dir);
    lore_index *ix = filled_flat(100, 16, NULL), *back = NULL;
    assert_int_equal(lore_index_save_file(ix, path), LORE_OK);
    assert_int_equal(lore_index_load_file(path, &back), LORE_OK);
    assert_int_equal(lore_index_size(back), 100);
    lore_index_free(back);

    /* Trailing bytes are refused; a missing file names the path. */
    FILE *f = fopen(path, "ab");
    fputc(0, f);
    fclose(f);
    back = (lore_index *)ix;
    assert_int_equal(lore_index_load_file(path, &back), LORE_ECORRUPT);
    assert_null(back);
    assert_non_null(strstr(lore_last_error(), "trailing"));
    unlink(path);
    assert_int_equal(lore_index_load_file(path, &back), LORE_EIO);
    assert_non_null(strstr(lore_last_error(), path));
    /* A folder that cannot hold the temporary file: the error names the path. */
    assert_int_equal(lore_index_save_file(ix, "/nonexistent-dir/x.idx"), LORE_EIO);
    assert_non_null(strstr(lore_last_error(), "/nonexistent-dir/x.idx"));
    lore_index_free(ix);
    rmdir(dir);
}

/* ---- out of memory -------------------------------------------------------------- */

/* Runs op with the n-th allocation failing, for n = 1, 2, ... until it succeeds;
 * every failure must be LORE_ENOMEM and leave nothing allocated. */
static void oom_sweep(lore_status (*op)(void *ctx, lore_index **made), void *ctx,
                      const char *what)
{
    for (long n = 1; n < 10000; n++) {
        long live_before = live;
        lore_index *made = NULL;
        fail_countdown = n;
        lore_status s = op(ctx, &made);
        bool injected = fail_countdown == 0;
        fail_countdown = 0;
        if (!injected) { /* every allocation succeeded: the sweep is complete */
            assert_int_equal(s, LORE_OK);
            lore_index_free(made);
            assert_int_equal(live, live_before);
            return;
        }
        if (s == LORE_OK) { /* the failure was absorbed (a cache, a retry): still no leak */
            lore_index_free(made);
        } else {
            if (s != LORE_ENOMEM)
                fail_msg("%s, allocation %ld failing: %s (%s)", what, n, lore_strerror(s),
                         lore_last_error());
            assert_null(made);
        }
        if (live != live_before)
            fail_msg("%s, allocation %ld failing: %ld allocations leaked", what, n,
                     live - live_before);
    }
    fail_msg("%s: the sweep did not finish", what);
}

typedef struct oom_ctx {
    lore_index_kind kind;
    const float *x;
    size_t n;
    const unsigned char *snapshot;
    size_t snapshot_len;
} oom_ctx;

static lore_status create_and_fill(void *opaque, lore_index **made)
{
    const oom_ctx *c = opaque;
    lore_index_params p = lore_index_default_params(c->kind, 8);
    p.n_lists = 4;
    p.M = 4;
    p.ef_construction = 16;
    lore_status s = lore_index_new(&p, made);
    if (s == LORE_OK)
        s = lore_index_train(*made, c->x, c->n);
    if (s == LORE_OK)
        s = lore_index_add(*made, c->x, NULL, c->n);
    if (s != LORE_OK) {
        lore_index_free(*made);
        *made = NULL;
    }
    return s;
}

static lore_status load_snapshot(void *opaque, lore_index **made)
{
    const oom_ctx *c = opaque;
    return load_from(c->snapshot, c->snapshot_len, made);
}

static void test_oom(void **state)
{
    (void)state;
    float *x = random_vectors(64, 8, 17);
    const lore_index_kind kinds[] = {LORE_INDEX_FLAT, LORE_INDEX_IVF, LORE_INDEX_HNSW};
    for (size_t i = 0; i < 3; i++) {
        oom_ctx c = {kinds[i], x, 64, NULL, 0};
        oom_sweep(create_and_fill, &c, lore_index_kind_name(kinds[i]));
        lore_index *ix = NULL;
        assert_int_equal(create_and_fill(&c, &ix), LORE_OK);
        membuf m = save_to_memory(ix);
        c.snapshot = m.data;
        c.snapshot_len = m.len;
        oom_sweep(load_snapshot, &c, "load");
        free(m.data);
        lore_index_free(ix);
    }
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_defaults),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_bad_calls),
        cmocka_unit_test(test_flat_exact),
        cmocka_unit_test(test_empty_index),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_damage),
        cmocka_unit_test(test_snapshot_file),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
