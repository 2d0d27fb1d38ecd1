/*
 * test_kernels.c - the encoder's nn kernels (kernels/nn.h).
 *
 * Three kinds of oracle:
 * - every SIMD set this machine can run against the scalar reference, on odd sizes (tails of
 *   every length), 1..5 rows, tight strides and strides with a gap whose sentinel must survive;
 *   the last row of a tight matrix ends at the end of its allocation, so an over-read or
 *   over-write shows under ASan and valgrind;
 * - the scalar reference against long-double math written independently here;
 * - properties every set must have (softmax sums to 1, unit norms, LayerNorm moments, zero
 *   stays zero), and the selection rules (valgrind never gets AVX-512).
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

#include "kernels/nn.h"
#include "test_util.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define HAVE_VALGRIND_H 1
#endif
#endif

/*
 * SIMD vs scalar tolerance: |got - want| <= ABS_TOL + REL_TOL |want|. The SIMD sets sum in
 * float in their own order (16 or 8 lanes, then a tree): for the longest row (1537) each lane
 * adds at most ~200 terms, a worst-case relative error of 200 * 2^-24 = 1.2e-5 and a typical
 * one (random walk) below 1e-6; their exp and erfc are within 2e-7 relative. 1e-5 is therefore
 * tight enough to catch a wrong lane, tail or constant (errors of 1e-3 and up) with margin over
 * honest rounding. ABS_TOL covers results that are 0 up to rounding (GELU of large negative
 * inputs, LayerNorm outputs near 0 by cancellation), where relative error means nothing.
 */
#define REL_TOL 1e-5
#define ABS_TOL 1e-6

static const size_t sizes[] = {1, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 383, 384, 385, 1536, 1537};
#define N_SIZES (sizeof sizes / sizeof sizes[0])
#define MAX_ROWS 5
#define GAP 5

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

/* Roughly N(0, 1): sum of 4 uniforms, scaled. */
static float normal(void)
{
    float s = 0.0f;
    for (int i = 0; i < 4; i++)
        s += uniform(-1.0f, 1.0f);
    return s * 0.8660254f;
}

/* A NaN with a payload no kernel produces: bit-compared, and poisonous if read into a sum. */
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

/* rows x ld floats, exactly (no slack after the last row); everything is the sentinel. */
static float *mat_new(size_t rows, size_t ld)
{
    size_t count = rows * ld > 0 ? rows * ld : 1;
    float *m = malloc(count * sizeof *m);
    assert_non_null(m);
    for (size_t i = 0; i < count; i++)
        m[i] = sentinel();
    return m;
}

static float *mat_copy(const float *src, size_t rows, size_t ld)
{
    float *m = mat_new(rows, ld);
    memcpy(m, src, rows * ld * sizeof *m);
    return m;
}

static float *vec_new(size_t n, float (*gen)(void))
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = gen();
    return v;
}

/* The SIMD sets this machine can run (under valgrind: never AVX-512). */
static size_t simd_sets(const lore__nn_kernels **out)
{
    static const char *const names[] = {"avx2", "avx512"};
    static int told;
    size_t count = 0;
    for (size_t i = 0; i < 2; i++) {
        const lore__nn_kernels *k = lore__nn_get(names[i]);
        if (k)
            out[count++] = k;
        else if (!told)
            print_message("%s set not runnable here: not compared\n", names[i]);
    }
    told = 1;
    return count;
}

/* ---- checks -------------------------------------------------------------------------- */

static int close_enough(double got, double want, double rel, double abs_tol)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= abs_tol + rel * fabs(want);
}

/* got and want agree on [0, n) of each row; the gap [n, ld) of got still holds the sentinel. */
static void check_rows(const char *what, const char *isa, const float *got, const float *want,
                       size_t rows, size_t n, size_t ld, double rel, double abs_tol)
{
    for (size_t r = 0; r < rows; r++) {
        for (size_t j = 0; j < n; j++) {
            double g = got[r * ld + j], w = want[r * ld + j];
            if (!close_enough(g, w, rel, abs_tol))
                fail_msg("%s [%s] rows %zu n %zu ld %zu: [%zu][%zu] = %.9g, want %.9g (diff %.3g)",
                         what, isa, rows, n, ld, r, j, g, w, fabs(g - w));
        }
        for (size_t j = n; j < ld; j++)
            if (!is_sentinel(got[r * ld + j]))
                fail_msg("%s [%s] rows %zu n %zu ld %zu: gap [%zu][%zu] overwritten (%g)", what,
                         isa, rows, n, ld, r, j, (double)got[r * ld + j]);
    }
}

/* ---- selection ----------------------------------------------------------------------- */

static void check_set_complete(const lore__nn_kernels *k, const char *isa)
{
    assert_non_null(k);
    assert_string_equal(k->isa, isa);
    assert_non_null(k->add_layernorm);
    assert_non_null(k->bias_gelu);
    assert_non_null(k->bias_gelu_tanh);
    assert_non_null(k->add_bias);
    assert_non_null(k->softmax_rows);
    assert_non_null(k->mean_rows);
    assert_non_null(k->l2_normalize);
}

static void test_selection(void **state)
{
    (void)state;
    assert_null(lore__nn_get("bogus"));
    assert_null(lore__nn_get(""));
    assert_null(lore__nn_get(NULL));
    assert_null(lore__nn_get("AVX2"));
    assert_ptr_equal(lore__nn_get("scalar"), lore__nn_scalar());
    check_set_complete(lore__nn_scalar(), "scalar");

    /* What the CPU says, asked independently of nn.c. */
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    int vg = under_valgrind();
    const lore__nn_kernels *k2 = lore__nn_get("avx2"), *k512 = lore__nn_get("avx512");
    assert_int_equal(k2 != NULL, avx2);
    assert_int_equal(k512 != NULL, avx512 && !vg);
    if (k2)
        check_set_complete(k2, "avx2");
    if (k512)
        check_set_complete(k512, "avx512");

    const lore__nn_kernels *sel = lore__nn_select();
    assert_non_null(sel);
    const lore__nn_kernels *want = k512 ? k512 : k2 ? k2 : lore__nn_scalar();
    assert_ptr_equal(sel, want);
    assert_ptr_equal(lore__nn_select(), sel);
    if (vg)
        assert_string_not_equal(sel->isa, "avx512");
    print_message("selected %s (cpu: avx2 %d, avx512 %d; valgrind %d)\n", sel->isa, avx2, avx512,
                  vg);
}

/* ---- elementwise kernels vs scalar --------------------------------------------------- */

/* Mostly -10..10 (where GELU bends), with extremes and signed zeros mixed in. */
static float gelu_input(void)
{
    static const float special[] = {1e4f,   -1e4f, 0.0f,  -0.0f, 1e-20f, -1e-20f, 5.65f,
                                    -5.65f, 3.0f,  -3.0f, 40.0f, -40.0f, 1e30f,   -1e30f};
    uint64_t u = rng_next();
    if (u % 7 == 0)
        return special[(u >> 8) % (sizeof special / sizeof special[0])];
    return uniform(-10.0f, 10.0f);
}

static float small_bias(void)
{
    return uniform(-0.5f, 0.5f);
}

enum map_kind { MAP_GELU, MAP_GELU_TANH, MAP_ADD_BIAS };

static void run_map(const lore__nn_kernels *k, enum map_kind kind, float *x, size_t ld,
                    const float *bias, size_t rows, size_t n)
{
    if (kind == MAP_GELU)
        k->bias_gelu(x, ld, bias, rows, n);
    else if (kind == MAP_GELU_TANH)
        k->bias_gelu_tanh(x, ld, bias, rows, n);
    else
        k->add_bias(x, ld, bias, rows, n);
}

static void check_map_vs_scalar(enum map_kind kind, const char *what, double rel)
{
    const lore__nn_kernels *sets[2];
    size_t n_sets = simd_sets(sets);
    const lore__nn_kernels *ref = lore__nn_scalar();
    rng_seed(1 + (uint64_t)kind);
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < N_SIZES; i++)
            for (size_t rows = 1; rows <= MAX_ROWS; rows++)
                for (size_t pad = 0; pad <= GAP; pad += GAP) {
                    size_t n = sizes[i], ld = n + pad;
                    /* add_bias always has one; the GELUs are run with and without. */
                    int with_bias = kind == MAP_ADD_BIAS || (rows + pad) % 2 == 0;
                    float *want = mat_new(rows, ld);
                    for (size_t r = 0; r < rows; r++)
                        for (size_t j = 0; j < n; j++)
                            want[r * ld + j] = gelu_input();
                    float *bias = with_bias ? vec_new(n, small_bias) : NULL;
                    float *got = mat_copy(want, rows, ld);
                    run_map(ref, kind, want, ld, bias, rows, n);
                    run_map(sets[s], kind, got, ld, bias, rows, n);
                    check_rows(what, sets[s]->isa, got, want, rows, n, ld, rel, ABS_TOL);
                    check_rows(what, "scalar", want, want, rows, n, ld, 0, 0);
                    free(got);
                    free(bias);
                    free(want);
                }
}

static void test_bias_gelu_matches_scalar(void **state)
{
    (void)state;
    check_map_vs_scalar(MAP_GELU, "bias_gelu", REL_TOL);
}

static void test_bias_gelu_tanh_matches_scalar(void **state)
{
    (void)state;
    check_map_vs_scalar(MAP_GELU_TANH, "bias_gelu_tanh", REL_TOL);
}

static void test_add_bias_matches_scalar(void **state)
{
    (void)state;
    /* One float addition per element: every set must give the same bits. */
    check_map_vs_scalar(MAP_ADD_BIAS, "add_bias", 0.0);
}

/* ---- row kernels vs scalar ----------------------------------------------------------- */

static float softmax_wide(void)
{
    return uniform(-80.0f, 80.0f);
}

static float softmax_narrow(void)
{
    return uniform(-5.0f, 5.0f);
}

static void test_softmax_matches_scalar(void **state)
{
    (void)state;
    const lore__nn_kernels *sets[2];
    size_t n_sets = simd_sets(sets);
    rng_seed(11);
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < N_SIZES; i++)
            for (size_t rows = 1; rows <= MAX_ROWS; rows++)
                for (size_t pad = 0; pad <= GAP; pad += GAP) {
                    size_t n = sizes[i], ld = n + pad;
                    /* +-80: most exps underflow and the largest dominate; +-5: all count. */
                    float (*gen)(void) = rows % 2 ? softmax_wide : softmax_narrow;
                    float *want = mat_new(rows, ld);
                    for (size_t r = 0; r < rows; r++)
                        for (size_t j = 0; j < n; j++)
                            want[r * ld + j] = gen();
                    float *got = mat_copy(want, rows, ld);
                    lore__nn_scalar()->softmax_rows(want, ld, rows, n);
                    sets[s]->softmax_rows(got, ld, rows, n);
                    check_rows("softmax_rows", sets[s]->isa, got, want, rows, n, ld, REL_TOL,
                               ABS_TOL);
                    free(got);
                    free(want);
                }
}

static float gamma_gen(void)
{
    return uniform(0.5f, 1.5f);
}

static float beta_gen(void)
{
    return uniform(-0.2f, 0.2f);
}

/* A large common offset (1e3) over unit spread: a mean computed naively in float would be off
 * by its rounding (3e-5) and shift every output by that much. */
static float ln_input(void)
{
    return 1000.0f + normal();
}

static void test_add_layernorm_matches_scalar(void **state)
{
    (void)state;
    const lore__nn_kernels *sets[2];
    size_t n_sets = simd_sets(sets);
    rng_seed(21);
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < N_SIZES; i++)
            for (size_t rows = 1; rows <= MAX_ROWS; rows++)
                for (size_t pad = 0; pad <= GAP; pad += GAP) {
                    size_t n = sizes[i], ld = n + pad, ld_res = n + 2 * pad;
                    int variant = (int)((rows + pad / GAP) % 4); /* res and bias each or not */
                    float *want = mat_new(rows, ld);
                    for (size_t r = 0; r < rows; r++)
                        for (size_t j = 0; j < n; j++)
                            want[r * ld + j] = ln_input();
                    float *res = NULL, *bias = NULL;
                    if (variant & 1) {
                        res = mat_new(rows, ld_res);
                        for (size_t r = 0; r < rows; r++)
                            for (size_t j = 0; j < n; j++)
                                res[r * ld_res + j] = normal();
                    }
                    if (variant & 2)
                        bias = vec_new(n, small_bias);
                    float *gamma = vec_new(n, gamma_gen), *beta = vec_new(n, beta_gen);
                    float *got = mat_copy(want, rows, ld);
                    lore__nn_scalar()->add_layernorm(want, ld, res, ld_res, bias, gamma, beta, rows,
                                                     n, 1e-12f);
                    sets[s]->add_layernorm(got, ld, res, ld_res, bias, gamma, beta, rows, n,
                                           1e-12f);
                    check_rows("add_layernorm", sets[s]->isa, got, want, rows, n, ld, REL_TOL,
                               ABS_TOL);
                    if (res) /* res is read-only: its gap too */
                        check_rows("add_layernorm res", sets[s]->isa, res, res, rows, n, ld_res, 0,
                                   0);
                    free(got);
                    free(gamma);
                    free(beta);
                    free(bias);
                    free(res);
                    free(want);
                }
}

static float mean_input(void)
{
    return 3.0f + normal();
}

static void test_mean_rows_matches_scalar(void **state)
{
    (void)state;
    const lore__nn_kernels *sets[2];
    size_t n_sets = simd_sets(sets);
    rng_seed(31);
    const size_t row_counts[] = {1, 2, 3, 4, 5, 128};
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < N_SIZES; i++)
            for (size_t c = 0; c < sizeof row_counts / sizeof row_counts[0]; c++)
                for (size_t pad = 0; pad <= GAP; pad += GAP) {
                    size_t n = sizes[i], ld = n + pad, rows = row_counts[c];
                    float *x = mat_new(rows, ld);
                    for (size_t r = 0; r < rows; r++)
                        for (size_t j = 0; j < n; j++)
                            x[r * ld + j] = mean_input();
                    /* out has one slot past n that must keep its sentinel. */
                    float *want = mat_new(1, n + 1), *got = mat_new(1, n + 1);
                    lore__nn_scalar()->mean_rows(x, ld, rows, n, want);
                    sets[s]->mean_rows(x, ld, rows, n, got);
                    check_rows("mean_rows", sets[s]->isa, got, want, 1, n, n + 1, REL_TOL, ABS_TOL);
                    free(got);
                    free(want);
                    free(x);
                }
}

static float l2_input(void)
{
    return uniform(-1.0f, 1.0f);
}

static void test_l2_normalize_matches_scalar(void **state)
{
    (void)state;
    const lore__nn_kernels *sets[2];
    size_t n_sets = simd_sets(sets);
    rng_seed(41);
    /* Ordinary, tiny (squares underflow in float) and huge (squares overflow) vectors. */
    const float scales[] = {1.0f, 1e-25f, 1e25f, 3e-20f};
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < N_SIZES; i++)
            for (size_t c = 0; c < sizeof scales / sizeof scales[0]; c++) {
                size_t n = sizes[i];
                float *want = mat_new(1, n + 2);
                for (size_t j = 0; j < n; j++)
                    want[j] = l2_input() * scales[c];
                float *got = mat_copy(want, 1, n + 2);
                lore__nn_scalar()->l2_normalize(want, n);
                sets[s]->l2_normalize(got, n);
                check_rows("l2_normalize", sets[s]->isa, got, want, 1, n, n + 2, REL_TOL, ABS_TOL);
                free(got);
                free(want);
            }
}

/* ---- scalar reference vs long-double math -------------------------------------------- */

/*
 * The scalar set evaluates in double and rounds once, so it should sit within 2 float ulps
 * (2.4e-7 relative; 3e-7 allows the float rounding of the inputs the test derives) of these.
 * The absolute floors only cover values that underflow or cancel in long double itself.
 */
#define REF_REL 3e-7

static long double gelu_ld(long double x)
{
    return 0.5L * x * (1.0L + erfl(x / sqrtl(2.0L)));
}

static long double gelu_tanh_ld(long double x)
{
    const long double k = sqrtl(2.0L / acosl(-1.0L));
    return 0.5L * x * (1.0L + tanhl(k * (x + 0.044715L * x * x * x)));
}

static void test_scalar_gelu_vs_long_double(void **state)
{
    (void)state;
    const lore__nn_kernels *k = lore__nn_scalar();
    enum { N = 4001 };
    float x[N], y[N], yt[N];
    for (int i = 0; i < N; i++)
        x[i] = -10.0f + 20.0f * (float)i / (N - 1);
    memcpy(y, x, sizeof x);
    memcpy(yt, x, sizeof x);
    k->bias_gelu(y, N, NULL, 1, N);
    k->bias_gelu_tanh(yt, N, NULL, 1, N);
    for (int i = 0; i < N; i++) {
        /* The floor: 1 + erfl cancels for x < -6 (5e-20 absolute in long double, 1e-16 under
         * valgrind, which computes long double as double). */
        double want = (double)gelu_ld(x[i]), want_t = (double)gelu_tanh_ld(x[i]);
        if (!close_enough(y[i], want, REF_REL, 1e-15))
            fail_msg("gelu(%.9g) = %.9g, want %.12g", (double)x[i], (double)y[i], want);
        if (!close_enough(yt[i], want_t, REF_REL, 1e-15))
            fail_msg("gelu_tanh(%.9g) = %.9g, want %.12g", (double)x[i], (double)yt[i], want_t);
    }
    /* Values worth knowing by heart: Phi(1) = 0.841344746..., and the far tails. */
    float v[6] = {1.0f, -1.0f, 1e4f, -1e4f, 0.0f, 1e-30f};
    k->bias_gelu(v, 6, NULL, 1, 6);
    assert_double_equal(v[0], 0.8413447460685429, 1e-7);
    assert_double_equal(v[1], -0.15865525393145707, 1e-7);
    assert_true(v[2] == 1e4f);
    assert_true(v[3] == 0.0f);
    assert_true(v[4] == 0.0f);
    assert_double_equal(v[5], 0.5e-30, 1e-37);
}

static void test_scalar_softmax_vs_long_double(void **state)
{
    (void)state;
    enum { N = 385, ROWS = 3 };
    float x[ROWS * N], orig[ROWS * N];
    rng_seed(51);
    for (int i = 0; i < ROWS * N; i++)
        orig[i] = x[i] = i < N ? softmax_wide() : softmax_narrow();
    lore__nn_scalar()->softmax_rows(x, N, ROWS, N);
    for (int r = 0; r < ROWS; r++) {
        long double m = -INFINITY, s = 0.0L;
        for (int j = 0; j < N; j++)
            m = fmaxl(m, orig[r * N + j]);
        for (int j = 0; j < N; j++)
            s += expl((long double)orig[r * N + j] - m);
        for (int j = 0; j < N; j++) {
            double want = (double)(expl((long double)orig[r * N + j] - m) / s);
            /* Floor: float denormals (below 1.2e-38) carry fewer bits. */
            if (!close_enough(x[r * N + j], want, REF_REL, 1e-37))
                fail_msg("softmax[%d][%d] = %.9g, want %.12g", r, j, (double)x[r * N + j], want);
        }
    }
}

static void test_scalar_layernorm_vs_long_double(void **state)
{
    (void)state;
    enum { N = 384, ROWS = 2 };
    float x[ROWS * N], orig[ROWS * N], res[ROWS * N], bias[N], gamma[N], beta[N];
    rng_seed(61);
    for (int i = 0; i < ROWS * N; i++) {
        orig[i] = x[i] = ln_input();
        res[i] = normal();
    }
    for (int j = 0; j < N; j++) {
        bias[j] = small_bias();
        gamma[j] = gamma_gen();
        beta[j] = beta_gen();
    }
    const float eps = 1e-5f; /* a non-negligible eps, to see that it is applied */
    lore__nn_scalar()->add_layernorm(x, N, res, N, bias, gamma, beta, ROWS, N, eps);
    for (int r = 0; r < ROWS; r++) {
        long double v[N], mean = 0.0L, var = 0.0L;
        for (int j = 0; j < N; j++) {
            /* The model's residual sum is a float sum, in this order. */
            float f = orig[r * N + j] + res[r * N + j];
            f += bias[j];
            v[j] = f;
            mean += v[j];
        }
        mean /= N;
        for (int j = 0; j < N; j++)
            var += (v[j] - mean) * (v[j] - mean);
        var /= N;
        for (int j = 0; j < N; j++) {
            double want = (double)((v[j] - mean) / sqrtl(var + eps) * gamma[j] + beta[j]);
            /* Floor: an output near 0 by cancellation of its two terms (each <~ 3). */
            if (!close_enough(x[r * N + j], want, REF_REL, 1e-7))
                fail_msg("layernorm[%d][%d] = %.9g, want %.12g", r, j, (double)x[r * N + j], want);
        }
    }
}

static void test_scalar_mean_and_l2_vs_long_double(void **state)
{
    (void)state;
    enum { N = 65, ROWS = 7 };
    float x[ROWS * N], out[N], v[N];
    rng_seed(71);
    for (int i = 0; i < ROWS * N; i++)
        x[i] = mean_input();
    lore__nn_scalar()->mean_rows(x, N, ROWS, N, out);
    for (int j = 0; j < N; j++) {
        long double s = 0.0L;
        for (int r = 0; r < ROWS; r++)
            s += x[r * N + j];
        assert_double_equal(out[j], (double)(s / ROWS), 3e-7 * fabs((double)(s / ROWS)));
    }
    for (int j = 0; j < N; j++)
        v[j] = x[j] = l2_input();
    lore__nn_scalar()->l2_normalize(x, N);
    long double ss = 0.0L;
    for (int j = 0; j < N; j++)
        ss += (long double)v[j] * v[j];
    for (int j = 0; j < N; j++) {
        double want = (double)(v[j] / sqrtl(ss));
        assert_double_equal(x[j], want, REF_REL * fabs(want) + 1e-30);
    }
}

/* ---- SIMD approximations vs long-double math ------------------------------------------- */

/*
 * Tighter than REL_TOL where the SIMD sets' own approximations are the only error, so that a
 * slightly wrong coefficient (a few 1e-6) shows. exp is within 2e-7 (softmax of [0, t] gives
 * e^t / (1 + e^t) with no long sum). GELU is within 1e-6 down to x = -4; below, the argument of
 * exp (up to 70 in magnitude) is rounded to float, a relative error of |arg| 2^-24 in the
 * result (7e-6 at x = -11) on values below 1e-4, so the bound there is looser.
 */
static long double gelu_erfc_ld(long double x)
{
    return 0.5L * x * erfcl(-x / sqrtl(2.0L));
}

static long double gelu_sigmoid_ld(long double x)
{
    const long double k = sqrtl(2.0L / acosl(-1.0L));
    return x / (1.0L + expl(-2.0L * k * (x + 0.044715L * x * x * x)));
}

static void check_map_accuracy(const lore__nn_kernels *k, int tanh_form, float lo, float hi,
                               double rel)
{
    enum { N = 20001 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = lo + (hi - lo) * (float)i / (N - 1);
    memcpy(y, x, sizeof x);
    if (tanh_form)
        k->bias_gelu_tanh(y, N, NULL, 1, N);
    else
        k->bias_gelu(y, N, NULL, 1, N);
    for (int i = 0; i < N; i++) {
        double want = (double)(tanh_form ? gelu_sigmoid_ld(x[i]) : gelu_erfc_ld(x[i]));
        /* Floor: exp flushes results below FLT_MIN to 0, and x (|x| <= 12) scales that. */
        if (!close_enough(y[i], want, rel, 12 * FLT_MIN))
            fail_msg("%s [%s] (%.9g) = %.9g, want %.12g (rel %.3g > %.3g)",
                     tanh_form ? "gelu_tanh" : "gelu", k->isa, (double)x[i], (double)y[i], want,
                     fabs(y[i] - want) / fabs(want), rel);
    }
}

static void test_simd_approximations_vs_long_double(void **state)
{
    (void)state;
    const lore__nn_kernels *sets[2];
    size_t n_sets = simd_sets(sets);
    for (size_t s = 0; s < n_sets; s++) {
        const lore__nn_kernels *k = sets[s];
        for (int i = 0; i <= 8700; i++) {
            float t = -0.01f * (float)i, p[2] = {0.0f, t};
            k->softmax_rows(p, 2, 1, 2);
            long double e = expl((long double)t);
            if (!close_enough(p[1], (double)(e / (1.0L + e)), 4e-7, 0) ||
                !close_enough(p[0], (double)(1.0L / (1.0L + e)), 4e-7, 0))
                fail_msg("softmax [%s] of {0, %g} = {%.9g, %.9g}", k->isa, (double)t, (double)p[0],
                         (double)p[1]);
        }
        check_map_accuracy(k, 0, -4.0f, 10.0f, 2e-6);
        check_map_accuracy(k, 0, -12.0f, -4.0f, 2e-5);
        check_map_accuracy(k, 1, -4.0f, 10.0f, 3e-6);
        check_map_accuracy(k, 1, -12.0f, -4.0f, 3e-5);
    }
}

/* ---- properties every set has -------------------------------------------------------- */

/* The scalar set and every runnable SIMD set. */
static size_t all_sets(const lore__nn_kernels **out)
{
    out[0] = lore__nn_scalar();
    return 1 + simd_sets(out + 1);
}

static void test_softmax_properties(void **state)
{
    (void)state;
    const lore__nn_kernels *sets[3];
    size_t n_sets = all_sets(sets);
    enum { N = 1537, ROWS = 4 };
    static float x[ROWS * N], orig[ROWS * N];
    for (size_t s = 0; s < n_sets; s++) {
        rng_seed(81);
        for (int r = 0; r < ROWS; r++)
            for (int j = 0; j < N; j++)
                orig[r * N + j] = r == 3 ? 80.0f : r == 2 ? softmax_narrow() : softmax_wide();
        memcpy(x, orig, sizeof x);
        sets[s]->softmax_rows(x, N, ROWS, N);
        for (int r = 0; r < ROWS; r++) {
            double sum = 0.0;
            int arg_in = 0, arg_out = 0;
            for (int j = 0; j < N; j++) {
                float p = x[r * N + j];
                assert_true(p >= 0.0f && p <= 1.0f);
                sum += p;
                if (orig[r * N + j] > orig[r * N + arg_in])
                    arg_in = j;
                if (p > x[r * N + arg_out])
                    arg_out = j;
            }
            /* Float sums in the SIMD sets: see REL_TOL. */
            assert_double_equal(sum, 1.0, 1e-5);
            if (r < 3)
                assert_int_equal(arg_out, arg_in);
            else /* all inputs equal: uniform */
                for (int j = 0; j < N; j++)
                    assert_double_equal(x[r * N + j], 1.0 / N, 1e-5 / N);
        }
        float one = -3.5f; /* a single entry becomes 1 */
        sets[s]->softmax_rows(&one, 1, 1, 1);
        assert_true(one == 1.0f);
    }
}

static void test_l2_normalize_properties(void **state)
{
    (void)state;
    const lore__nn_kernels *sets[3];
    size_t n_sets = all_sets(sets);
    for (size_t s = 0; s < n_sets; s++) {
        for (size_t i = 0; i < N_SIZES; i++) {
            size_t n = sizes[i];
            float *x = vec_new(n, l2_input);
            sets[s]->l2_normalize(x, n);
            double ss = 0.0;
            for (size_t j = 0; j < n; j++)
                ss += (double)x[j] * x[j];
            assert_double_equal(sqrt(ss), 1.0, 1e-6);
            /* The zero vector stays zero, bit for bit (no 0/0). */
            memset(x, 0, n * sizeof *x);
            sets[s]->l2_normalize(x, n);
            for (size_t j = 0; j < n; j++)
                assert_true(x[j] == 0.0f && !signbit(x[j]));
            free(x);
        }
        float v[3] = {3e-30f, 0.0f, -4e-30f}; /* squares underflow in float */
        sets[s]->l2_normalize(v, 3);
        assert_double_equal(v[0], 0.6, 1e-7);
        assert_double_equal(v[2], -0.8, 1e-7);
        float w[2] = {3e30f, 4e30f}; /* squares overflow in float */
        sets[s]->l2_normalize(w, 2);
        assert_double_equal(w[0], 0.6, 1e-7);
        assert_double_equal(w[1], 0.8, 1e-7);
    }
}

static void test_layernorm_properties(void **state)
{
    (void)state;
    const lore__nn_kernels *sets[3];
    size_t n_sets = all_sets(sets);
    enum { N = 385, ROWS = 3 };
    static float x[ROWS * N], gamma[N], beta[N];
    for (int j = 0; j < N; j++) {
        gamma[j] = 1.0f;
        beta[j] = 0.0f;
    }
    for (size_t s = 0; s < n_sets; s++) {
        rng_seed(91);
        for (int i = 0; i < ROWS * N; i++)
            x[i] = ln_input();
        sets[s]->add_layernorm(x, N, NULL, 0, NULL, gamma, beta, ROWS, N, 1e-12f);
        for (int r = 0; r < ROWS; r++) {
            double mean = 0.0, var = 0.0;
            for (int j = 0; j < N; j++)
                mean += x[r * N + j];
            mean /= N;
            for (int j = 0; j < N; j++)
                var += (x[r * N + j] - mean) * (x[r * N + j] - mean);
            var /= N;
            /* With gamma 1 and beta 0 the output has mean 0 and variance var/(var+eps) = 1. */
            assert_double_equal(mean, 0.0, 1e-5);
            assert_double_equal(var, 1.0, 1e-5);
        }
        /* A constant row has no spread: eps keeps it finite and the output is beta exactly. */
        float c[17], b[17];
        for (int j = 0; j < 17; j++) {
            c[j] = 1234.5f;
            b[j] = (float)j * 0.25f - 1.0f;
        }
        sets[s]->add_layernorm(c, 17, NULL, 0, NULL, gamma, b, 1, 17, 1e-12f);
        for (int j = 0; j < 17; j++)
            assert_true(c[j] == b[j]);
    }
}

/* Sizes of 0 do nothing (and mean over no rows is 0, not 0/0). */
static void test_empty_sizes(void **state)
{
    (void)state;
    const lore__nn_kernels *sets[3];
    size_t n_sets = all_sets(sets);
    for (size_t s = 0; s < n_sets; s++) {
        const lore__nn_kernels *k = sets[s];
        float x[4] = {1.0f, 2.0f, 3.0f, 4.0f}, g[4] = {1, 1, 1, 1}, b[4] = {0}, out[4];
        k->add_layernorm(x, 4, NULL, 0, NULL, g, b, 1, 0, 1e-12f);
        k->add_layernorm(x, 4, NULL, 0, NULL, g, b, 0, 4, 1e-12f);
        k->bias_gelu(x, 4, NULL, 0, 4);
        k->bias_gelu(x, 4, NULL, 1, 0);
        k->bias_gelu_tanh(x, 4, NULL, 1, 0);
        k->add_bias(x, 4, g, 0, 4);
        k->softmax_rows(x, 4, 1, 0);
        k->softmax_rows(x, 4, 0, 4);
        k->l2_normalize(x, 0);
        for (int j = 0; j < 4; j++)
            assert_true(x[j] == (float)(j + 1));
        out[0] = out[1] = out[2] = out[3] = sentinel();
        k->mean_rows(x, 4, 0, 3, out);
        assert_true(out[0] == 0.0f && out[1] == 0.0f && out[2] == 0.0f);
        assert_true(is_sentinel(out[3]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_bias_gelu_matches_scalar),
        cmocka_unit_test(test_bias_gelu_tanh_matches_scalar),
        cmocka_unit_test(test_add_bias_matches_scalar),
        cmocka_unit_test(test_softmax_matches_scalar),
        cmocka_unit_test(test_add_layernorm_matches_scalar),
        cmocka_unit_test(test_mean_rows_matches_scalar),
        cmocka_unit_test(test_l2_normalize_matches_scalar),
        cmocka_unit_test(test_simd_approximations_vs_long_double),
        cmocka_unit_test(test_scalar_gelu_vs_long_double),
        cmocka_unit_test(test_scalar_softmax_vs_long_double),
        cmocka_unit_test(test_scalar_layernorm_vs_long_double),
        cmocka_unit_test(test_scalar_mean_and_l2_vs_long_double),
        cmocka_unit_test(test_softmax_properties),
        cmocka_unit_test(test_l2_normalize_properties),
        cmocka_unit_test(test_layernorm_properties),
        cmocka_unit_test(test_empty_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
