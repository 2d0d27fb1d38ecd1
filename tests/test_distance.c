/*
 * test_distance.c - the distance kernels (kernels/distance.h) and the top-k keeper
 * (kernels/topk.h).
 *
 * Oracles:
 * - every SIMD set this machine can run against the scalar reference on odd dimensions (tails
 *   of every length, chunks of 4 rows and the 1..3 rows left over) with q and x allocated to the
 *   exact size, so an over-read shows under ASan and valgrind, and out[n] a sentinel that must
 *   survive;
 * - the scalar reference against long double computed here, including sums that cancel in float;
 * - hand-computed values every set must give exactly, and the selection rules (valgrind never
 *   gets AVX-512);
 * - top-k against a stable sort of the whole stream: random streams with and without ties,
 *   k below, at and above n, ids in arrival order (exact match) and shuffled (same scores,
 *   pairs from the stream, strict order).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/distance.h"
#include "kernels/topk.h"
#include "test_util.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define HAVE_VALGRIND_H 1
#endif
#endif

/*
 * SIMD vs scalar tolerance: |got - want| <= TOL * sum_j |q_j x_j| (for l2, sum_j (q_j - x_j)^2,
 * which is the result itself). The SIMD sets sum in float over 8 or 16 lanes and two or four
 * accumulators, so each lane adds at most ~100 terms for d = 1537 and the tree adds ~6 more:
 * a worst-case error of ~110 * 2^-24 = 6.6e-6 of the sum of magnitudes (typical: far less).
 * A lost, doubled or misplaced term moves the result by about 1/d of that sum (>= 6.5e-4 at
 * d = 1537), two orders above the tolerance.
 */
#define TOL 1e-5

static const size_t dims[] = {1,  3,  7,   15,  16,  17,  31,  33,  63,
                              64, 65, 127, 383, 384, 385, 768, 1537};
#define N_DIMS (sizeof dims / sizeof dims[0])
#define MAX_ROWS 9 /* two chunks of 4 rows and every remainder 0..3 */

static int under_valgrind(void)
{
#ifdef HAVE_VALGRIND_H
    return RUNNING_ON_VALGRIND != 0;
#else
    return 0;
#endif
}

/* ---- data ---------------------------------------------------------------------------- */

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
    rng_state = s * 0x9E3779B97F4A7C15ull + 1;
}

/* splitmix64: deterministic, so a failure reproduces. */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(rng_next() >> 11) / 9007199254740992.0);
}

/* A NaN with a payload no kernel produces: bit-compared. */
static float sentinel(void)
{
    uint32_t bits = 0x7fc0beefu;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static int is_sentinel(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits == 0x7fc0beefu;
}

/* n floats, exactly (malloc(0) avoided), uniform in [lo, hi]. */
static float *vec_new(size_t n, float lo, float hi)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = uniform(lo, hi);
    return v;
}

/* The SIMD sets this machine can run (under valgrind: never AVX-512). */
static size_t simd_sets(const lore__dist_kernels **out)
{
    static const char *const names[] = {"avx2", "avx512"};
    static int told;
    size_t count = 0;
    for (size_t i = 0; i < 2; i++) {
        const lore__dist_kernels *k = lore__dist_get(names[i]);
        if (k)
            out[count++] = k;
        else if (!told)
            print_message("%s set not runnable here: not compared\n", names[i]);
    }
    told = 1;
    return count;
}

/* The condition of each result: sum |q_j x_j| for ip, sum (q_j - x_j)^2 for l2. */
static double magnitude(const float *q, const float *x, size_t d, int l2)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++)
        s += l2 ? ((double)q[j] - x[j]) * ((double)q[j] - x[j]) : fabs((double)q[j] * x[j]);
    return s;
}

static void check_close(const char *what, const char *isa, size_t d, size_t n, size_t i, double got,
                        double want, double mag)
{
    if (!(fabs(got - want) <= TOL * mag + 1e-30))
        fail_msg("%s [%s] d %zu n %zu row %zu: %.9g, want %.9g (diff %.3g, allowed %.3g)", what,
                 isa, d, n, i, got, want, fabs(got - want), TOL * mag);
}

/* ---- selection ----------------------------------------------------------------------- */

static void check_set_complete(const lore__dist_kernels *k, const char *isa)
{
    assert_non_null(k);
    assert_string_equal(k->isa, isa);
    assert_non_null(k->ip);
    assert_non_null(k->l2);
    assert_non_null(k->ip_many);
    assert_non_null(k->l2_many);
}

static void test_selection(void **state)
{
    (void)state;
    assert_null(lore__dist_get("bogus"));
    assert_null(lore__dist_get(""));
    assert_null(lore__dist_get(NULL));
    assert_null(lore__dist_get("AVX2"));
    assert_ptr_equal(lore__dist_get("scalar"), lore__dist_scalar());
    check_set_complete(lore__dist_scalar(), "scalar");

    /* What the CPU says, asked independently of distance.c. */
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    int vg = under_valgrind();
    const lore__dist_kernels *k2 = lore__dist_get("avx2"), *k512 = lore__dist_get("avx512");
    assert_int_equal(k2 != NULL, avx2);
    assert_int_equal(k512 != NULL, avx512 && !vg);
    if (k2)
        check_set_complete(k2, "avx2");
    if (k512)
        check_set_complete(k512, "avx512");

    const lore__dist_kernels *sel = lore__dist_select();
    const lore__dist_kernels *want = k512 ? k512 : k2 ? k2 : lore__dist_scalar();
    assert_ptr_equal(sel, want);
    assert_ptr_equal(lore__dist_select(), sel);
    if (vg)
        assert_string_not_equal(sel->isa, "avx512");
    print_message("selected %s (cpu: avx2 %d, avx512 %d; valgrind %d)\n", sel->isa, avx2, avx512,
                  vg);
}

/* ---- kernels ------------------------------------------------------------------------- */

/* Every set this machine runs, the scalar one first. */
static size_t all_sets(const lore__dist_kernels **out)
{
    out[0] = lore__dist_scalar();
    return 1 + simd_sets(out + 1);
}

static void test_known_values(void **state)
{
    (void)state;
    const lore__dist_kernels *sets[3];
    size_t n_sets = all_sets(sets);
    /* Small integers: every partial sum is exact in float, so every set must hit these. */
    const float a[3] = {1, 2, 3}, b[3] = {4, -5, 6};
    const float x[2 * 3] = {4, -5, 6, 1, 2, 3};
    for (size_t s = 0; s < n_sets; s++) {
        const lore__dist_kernels *k = sets[s];
        assert_true(k->ip(a, b, 3) == 12.0f);
        assert_true(k->l2(a, b, 3) == 9.0f + 49.0f + 9.0f);
        assert_true(k->l2(a, a, 3) == 0.0f);
        /* d = 0: empty sums. */
        assert_true(k->ip(a, b, 0) == 0.0f);
        assert_true(k->l2(a, b, 0) == 0.0f);
        float out[3] = {sentinel(), sentinel(), sentinel()};
        k->ip_many(a, x, 2, 3, out);
        assert_true(out[0] == 12.0f && out[1] == 14.0f && is_sentinel(out[2]));
        k->l2_many(a, x, 2, 3, out);
        assert_true(out[0] == 67.0f && out[1] == 0.0f && is_sentinel(out[2]));
        /* n = 0 writes nothing. */
        k->ip_many(a, x, 0, 3, out);
        k->l2_many(a, x, 0, 3, out);
        out[0] = sentinel();
        k->ip_many(a, x, 0, 3, out);
        k->l2_many(a, x, 0, 3, out);
        assert_true(is_sentinel(out[0]));
    }
}

/* One SIMD set against the scalar one for dimension d and every n in 0..MAX_ROWS. */
static void check_set_at(const lore__dist_kernels *k, size_t d, float lo, float hi)
{
    const lore__dist_kernels *ref = lore__dist_scalar();
    float *q = vec_new(d, lo, hi);
    float out[MAX_ROWS + 1], want[MAX_ROWS];
    for (size_t n = 0; n <= MAX_ROWS; n++) {
        /* Exactly n*d floats: the last row ends at the end of the allocation. */
        float *x = vec_new(n * d, lo, hi);
        for (int l2 = 0; l2 <= 1; l2++) {
            const char *what = l2 ? "l2_many" : "ip_many";
            for (size_t i = 0; i <= MAX_ROWS; i++)
                out[i] = sentinel();
            (l2 ? k->l2_many : k->ip_many)(q, x, n, d, out);
            (l2 ? ref->l2_many : ref->ip_many)(q, x, n, d, want);
            for (size_t i = 0; i < n; i++) {
                const float *xi = x + i * d;
                double mag = magnitude(q, xi, d, l2);
                check_close(what, k->isa, d, n, i, out[i], want[i], mag);
                /* The pair kernel and the reference's pair kernel agree too. */
                double one = l2 ? k->l2(q, xi, d) : k->ip(q, xi, d);
                double one_ref = l2 ? ref->l2(q, xi, d) : ref->ip(q, xi, d);
                check_close(l2 ? "l2" : "ip", k->isa, d, n, i, one, one_ref, mag);
                assert_true(one_ref == want[i]);
            }
            if (!is_sentinel(out[n]))
                fail_msg("%s [%s] d %zu n %zu: out[n] overwritten", what, k->isa, d, n);
        }
        free(x);
    }
    free(q);
}

static void test_simd_matches_scalar(void **state)
{
    (void)state;
    const lore__dist_kernels *sets[2];
    size_t n_sets = simd_sets(sets);
    rng_seed(1);
    for (size_t s = 0; s < n_sets; s++) {
        for (size_t di = 0; di < N_DIMS; di++) {
            /* Signed data (ip sums cancel), then positive data with an offset (l2 of nearby
             * points, the case of clustered embeddings). */
            check_set_at(sets[s], dims[di], -1.0f, 1.0f);
            check_set_at(sets[s], dims[di], 3.0f, 3.5f);
        }
    }
}

/* A SIMD set over many rows: the 4-row loop run many times over, against the scalar set. */
static void test_simd_long_scan(void **state)
{
    (void)state;
    const lore__dist_kernels *sets[2], *ref = lore__dist_scalar();
    size_t n_sets = simd_sets(sets);
    const size_t n = 1003, d = 97;
    rng_seed(2);
    float *q = vec_new(d, -1.0f, 1.0f), *x = vec_new(n * d, -1.0f, 1.0f);
    float *out = malloc(n * sizeof *out), *want = malloc(n * sizeof *want);
    assert_non_null(out);
    assert_non_null(want);
    for (size_t s = 0; s < n_sets; s++) {
        for (int l2 = 0; l2 <= 1; l2++) {
            (l2 ? sets[s]->l2_many : sets[s]->ip_many)(q, x, n, d, out);
            (l2 ? ref->l2_many : ref->ip_many)(q, x, n, d, want);
            for (size_t i = 0; i < n; i++)
                check_close(l2 ? "l2_many" : "ip_many", sets[s]->isa, d, n, i, out[i], want[i],
                            magnitude(q, x + i * d, d, l2));
        }
    }
    free(q);
    free(x);
    free(out);
    free(want);
}

/* The scalar set against long double written independently (sums in reverse order). */
static void test_scalar_vs_long_double(void **state)
{
    (void)state;
    const lore__dist_kernels *k = lore__dist_scalar();
    rng_seed(3);
    for (size_t di = 0; di < N_DIMS; di++) {
        size_t d = dims[di];
        float *a = vec_new(d, -2.0f, 2.0f), *b = vec_new(d, -2.0f, 2.0f);
        long double ip = 0.0L, l2 = 0.0L, mag_ip = 0.0L;
        for (size_t j = d; j-- > 0;) {
            ip += (long double)a[j] * b[j];
            l2 += ((long double)a[j] - b[j]) * ((long double)a[j] - b[j]);
            mag_ip += fabsl((long double)a[j] * b[j]);
        }
        /* Rounded once to float (half an ulp, 2^-24 relative) after a double sum whose error
         * is below d * 2^-53 of the magnitudes: 1e-12 covers d = 1537 with room. */
        assert_double_equal(k->ip(a, b, d), (double)ip,
                            fabs((double)ip) * 0x1p-24 + 1e-12 * (double)mag_ip);
        assert_double_equal(k->l2(a, b, d), (double)l2, (double)l2 * (0x1p-24 + 1e-12));
        free(a);
        free(b);
    }

    /* Cancellation a float sum gets wrong: 1e8 + 1 - 1e8 is 0 in float, 1 in fact. */
    const float a[3] = {1e4f, 1.0f, -1e4f}, b[3] = {1e4f, 1.0f, 1e4f};
    assert_true(k->ip(a, b, 3) == 1.0f);
    /* l2 of two points far from the origin but close to each other: the differences are exact
     * (Sterbenz), so the result is the exact 3 * (2^-10)^2. */
    const float p[3] = {1000.0f, 1000.0f, 1000.0f};
    const float r[3] = {1000.0f + 0x1p-10f, 1000.0f - 0x1p-10f, 1000.0f + 0x1p-10f};
    assert_true(k->l2(p, r, 3) == 3.0f * 0x1p-20f);
    float out[1];
    k->l2_many(p, r, 1, 3, out);
    assert_true(out[0] == 3.0f * 0x1p-20f);
}

/* ---- top-k --------------------------------------------------------------------------- */

typedef struct pair {
    float score;
    int64_t id;
} pair;

/* Best first: higher score, then smaller id. */
static int by_score_then_id(const void *pa, const void *pb)
{
    const pair *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* The reference: the stream sorted by score, equal scores by id, -inf and NaN dropped (topk.h
 * keeps only scores above -inf), first k. With ids that grow with arrival this is the first k
 * of a stable sort. Returns how many there are (<= k). */
static int reference_topk(const float *s, const int64_t *ids, size_t n, int k, pair *out)
{
    pair *all = malloc((n ? n : 1) * sizeof *all);
    assert_non_null(all);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] > -INFINITY)
            all[m++] = (pair){s[i], ids[i]};
    qsort(all, m, sizeof *all, by_score_then_id);
    int kept = m < (size_t)k ? (int)m : k;
    memcpy(out, all, (size_t)kept * sizeof *out);
    free(all);
    return kept;
}

/* A stream of n scores: ties when levels > 0 (scores drawn from that many values); with
 * levels 7, one in 8 is -inf or NaN, which must never be kept. */
static void stream_fill(float *s, size_t n, int levels)
{
    for (size_t i = 0; i < n; i++) {
        s[i] = levels > 0 ? (float)(rng_next() % (uint64_t)levels) - 3.0f : uniform(-1.0f, 1.0f);
        if (levels == 7 && rng_next() % 8 == 0)
            s[i] = rng_next() % 2 ? -INFINITY : NAN;
    }
}

/*
 * Checks a finished top-k (k slots) against the reference for the stream. With ids in arrival
 * order the match is exact. With other ids the keeper keeps the earliest of the scores tied at
 * the boundary, which need not be the smallest ids: there the kept scores must still be exactly
 * the reference's, ids above the boundary score must match, every (score, id) must come from
 * the stream without repeats, and equal scores must come in ascending id.
 */
static void check_topk(const float *got_s, const int64_t *got_id, int k, const float *s,
                       const int64_t *ids, size_t n, bool ids_in_arrival_order, bool negated)
{
    pair *want = malloc((size_t)k * sizeof *want);
    assert_non_null(want);
    int m = reference_topk(s, ids, n, k, want);
    for (int i = 0; i < m; i++) {
        float g = negated ? -got_s[i] : got_s[i];
        if (g != want[i].score)
            fail_msg("k %d n %zu slot %d: score %g, want %g", k, n, i, (double)g,
                     (double)want[i].score);
        if (ids_in_arrival_order || want[i].score > want[m - 1].score)
            assert_int_equal(got_id[i], want[i].id);
        if (i > 0 && got_s[i] == got_s[i - 1])
            assert_true(got_id[i] > got_id[i - 1]);
        size_t at = 0;
        while (at < n && !(ids[at] == got_id[i] && s[at] == g))
            at++;
        if (at == n)
            fail_msg("k %d n %zu slot %d: (%g, %lld) is not in the stream", k, n, i, (double)g,
                     (long long)got_id[i]);
        for (int j = 0; j < i; j++)
            assert_true(got_id[j] != got_id[i]);
    }
    for (int i = m; i < k; i++) {
        assert_int_equal(got_id[i], -1);
        assert_true(got_s[i] == (negated ? INFINITY : -INFINITY));
    }
    free(want);
}

static void test_topk_vs_sort(void **state)
{
    (void)state;
    static const int ks[] = {1, 2, 3, 5, 10, 17, 64, 300};
    static const size_t ns[] = {0, 1, 2, 5, 10, 11, 63, 64, 65, 200, 1000};
    static const int levels[] = {0, 2, 7, 50};
    rng_seed(4);
    float s[1000], neg[1000], got_s[300];
    int64_t seq[1000], shuffled[1000], got_id[300];
    for (size_t i = 0; i < 1000; i++)
        seq[i] = shuffled[i] = (int64_t)i + 100;
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        int k = ks[ki];
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            size_t n = ns[ni];
            for (size_t li = 0; li < sizeof levels / sizeof levels[0]; li++) {
                stream_fill(s, n, levels[li]);
                lore__topk t;

                /* push_many with ids NULL (id_base + i) and in two uneven pieces. */
                lore__topk_init(&t, k, got_s, got_id);
                size_t half = n / 3;
                lore__topk_push_many(&t, s, NULL, 100, half);
                lore__topk_push_many(&t, s + half, NULL, 100 + (int64_t)half, n - half);
                lore__topk_finish(&t, false, got_s, got_id);
                check_topk(got_s, got_id, k, s, seq, n, true, false);
                assert_int_equal(t.n, 0);

                /* push_many with an id array in arrival order. */
                lore__topk_init(&t, k, got_s, got_id);
                lore__topk_push_many(&t, s, seq, -5, n);
                lore__topk_finish(&t, false, got_s, got_id);
                check_topk(got_s, got_id, k, s, seq, n, true, false);

                /* push one by one with shuffled ids, outputs apart from the keeper's storage. */
                for (size_t i = n; i > 1; i--) {
                    size_t j = rng_next() % i;
                    int64_t tmp = shuffled[i - 1];
                    shuffled[i - 1] = shuffled[j];
                    shuffled[j] = tmp;
                }
                float heap_s[300], out_s[300];
                int64_t heap_id[300], out_id[300];
                lore__topk_init(&t, k, heap_s, heap_id);
                for (size_t i = 0; i < n; i++)
                    lore__topk_push(&t, s[i], shuffled[i]);
                lore__topk_finish(&t, false, out_s, out_id);
                check_topk(out_s, out_id, k, s, shuffled, n, false, false);

                /* L2 style: distances pushed negated, finished with negate. */
                for (size_t i = 0; i < n; i++)
                    neg[i] = -s[i];
                lore__topk_init(&t, k, got_s, got_id);
                lore__topk_push_many(&t, neg, shuffled, 0, n);
                lore__topk_finish(&t, true, got_s, got_id);
                check_topk(got_s, got_id, k, neg, shuffled, n, false, true);
                for (int i = 1; i < k && got_id[i] >= 0; i++)
                    assert_true(got_s[i] >= got_s[i - 1]);
            }
        }
    }
}

static void test_topk_threshold_and_specials(void **state)
{
    (void)state;
    float sc[3];
    int64_t id[3];
    lore__topk t;
    lore__topk_init(&t, 3, sc, id);
    assert_true(lore__topk_threshold(&t) == -INFINITY);
    lore__topk_push(&t, 5.0f, 1);
    lore__topk_push(&t, 1.0f, 2);
    assert_true(lore__topk_threshold(&t) == -INFINITY); /* not full yet */
    lore__topk_push(&t, 3.0f, 3);
    assert_true(lore__topk_threshold(&t) == 1.0f);
    /* A tie with the worst kept is rejected (the earlier stays, even against a smaller id); a
     * better one evicts it. */
    lore__topk_push(&t, 1.0f, 0);
    assert_true(lore__topk_threshold(&t) == 1.0f);
    lore__topk_push(&t, 2.0f, 5);
    assert_true(lore__topk_threshold(&t) == 2.0f);
    /* NaN and -inf never get in. */
    lore__topk_push(&t, NAN, 6);
    lore__topk_push(&t, -INFINITY, 7);
    lore__topk_push(&t, INFINITY, 8);
    float out[3];
    int64_t out_id[3];
    lore__topk_finish(&t, false, out, out_id);
    assert_true(out[0] == INFINITY && out[1] == 5.0f && out[2] == 3.0f);
    assert_int_equal(out_id[0], 8);
    assert_int_equal(out_id[1], 1);
    assert_int_equal(out_id[2], 3);

    /* Left empty: reusable, and a stream of only NaN / -inf leaves every slot padded. */
    assert_true(lore__topk_threshold(&t) == -INFINITY);
    const float bad[4] = {NAN, -INFINITY, NAN, -INFINITY};
    lore__topk_push_many(&t, bad, NULL, 0, 4);
    lore__topk_finish(&t, true, out, out_id);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out_id[i], -1);
        assert_true(out[i] == INFINITY);
    }

    /* Equal scores come out in ascending id whatever order they came in. */
    lore__topk_init(&t, 3, sc, id);
    lore__topk_push(&t, 7.0f, 30);
    lore__topk_push(&t, 7.0f, 10);
    lore__topk_push(&t, 7.0f, 20);
    lore__topk_finish(&t, false, out, out_id);
    assert_int_equal(out_id[0], 10);
    assert_int_equal(out_id[1], 20);
    assert_int_equal(out_id[2], 30);

    /* At the boundary the earlier arrival wins over a smaller id. */
    lore__topk_init(&t, 2, sc, id);
    lore__topk_push(&t, 4.0f, 50);
    lore__topk_push(&t, 1.0f, 40);
    lore__topk_push(&t, 1.0f, 0);
    lore__topk_finish(&t, false, out, out_id);
    assert_int_equal(out_id[0], 50);
    assert_int_equal(out_id[1], 40);
    assert_true(out[1] == 1.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_simd_matches_scalar),
        cmocka_unit_test(test_simd_long_scan),
        cmocka_unit_test(test_scalar_vs_long_double),
        cmocka_unit_test(test_topk_vs_sort),
        cmocka_unit_test(test_topk_threshold_and_specials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
