/*
 * nn_avx2.c - the AVX2+FMA set of the encoder's elementwise and row kernels (nn.h).
 *
 * Compiled with -mavx2 -mfma and handed out by nn.c only after a CPU check. This is also the
 * set that runs under valgrind (which cannot run AVX-512), so it uses no masked loads or
 * stores: the last partial vector of a row (fewer than 8 floats) goes through an 8-float
 * stack buffer, and the gap between n and the row stride is never read or written.
 *
 * exp and erfc are the approximations described in nn_int.h; sums are in float, with the tricks
 * noted at each kernel. test_kernels.c states (and checks) how far from the scalar reference
 * the results may be: 1e-5 relative or 1e-6 absolute.
 */
#include "core/lore_int.h"

#include "kernels/nn_int.h"

#if defined(__AVX2__) && defined(__FMA__)

#include <float.h>
#include <immintrin.h>
#include <math.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* The first k floats of p (0 < k < 8) in the low lanes, fill in the others. */
ALWAYS_INLINE __m256 load_part(const float *p, size_t k, float fill)
{
    float buf[8];
    for (size_t i = 0; i < 8; i++)
        buf[i] = i < k ? p[i] : fill;
    return _mm256_loadu_ps(buf);
}

/* Stores the low k lanes of v to p (0 < k < 8). */
ALWAYS_INLINE void store_part(float *p, size_t k, __m256 v)
{
    float buf[8];
    _mm256_storeu_ps(buf, v);
    for (size_t i = 0; i < k; i++)
        p[i] = buf[i];
}

/* All-ones in lanes [0, k), zero above, for 0 <= k <= 8. */
ALWAYS_INLINE __m256 lane_mask(size_t k)
{
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(bits + 8 - k)));
}

ALWAYS_INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

ALWAYS_INLINE float hmax(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* exp(x); 0 below ln(FLT_MIN) (expf would give a denormal), NaN stays NaN. Every caller passes
 * x <= 0; above 88.38 the result would saturate near 2.4e38 rather than become inf. 2^n is
 * built in the exponent field, which the clamp keeps in [-126, 127]. */
ALWAYS_INLINE __m256 exp_ps(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(LORE__NN_EXP_LO);
    /* min/max return their second operand when one is NaN: x goes second to keep NaN. */
    __m256 xc = _mm256_max_ps(lo, _mm256_min_ps(_mm256_set1_ps(LORE__NN_EXP_HI), x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(LORE__NN_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LORE__NN_LN2_HI), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LORE__NN_LN2_LO), r);
    __m256 p = _mm256_set1_ps(LORE__NN_EXP_P4);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(LORE__NN_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(LORE__NN_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(LORE__NN_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(LORE__NN_EXP_P0));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);
}

/* GELU(x) = 0.5 x erfc(-x/sqrt2): erfc(|z|) once, reflected (2 - erfc) for x >= 0. */
ALWAYS_INLINE __m256 gelu_ps(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    /* erfc(|x|/sqrt2) underflows to 0 long before |x| = 20; the clamp keeps x^2 finite. */
    __m256 ax = _mm256_min_ps(_mm256_set1_ps(20.0f), _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x));
    __m256 z = _mm256_mul_ps(ax, _mm256_set1_ps(LORE__NN_SQRT1_2));
    /* A true division: rcp_ps has 12 bits and one Newton step would leave ~2e-7. */
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.5f), z, one));
    __m256 q = _mm256_set1_ps(LORE__NN_ERFC_Q10);
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(LORE__NN_ERFC_Q9));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(LORE__NN_ERFC_Q8));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(LORE__NN_ERFC_Q7));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(LORE__NN_ERFC_Q6));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(LORE__NN_ERFC_Q5));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(LORE__NN_ERFC_Q4));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(LORE__NN_ERFC_Q3));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(LORE__NN_ERFC_Q2));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(LORE__NN_ERFC_Q1));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(LORE__NN_ERFC_Q0));
    /* -z^2 = -x^2/2 from x^2 split exactly in two (fma): z itself is rounded, and its error
     * would reach erfc multiplied by 2 z^2. */
    __m256 x2 = _mm256_mul_ps(ax, ax), x2lo = _mm256_fmsub_ps(ax, ax, x2);
    __m256 arg = _mm256_fnmadd_ps(half, x2lo, _mm256_fnmadd_ps(half, x2, q));
    __m256 e = _mm256_mul_ps(t, exp_ps(arg));
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 phi2 = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), e), e, neg);
    return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), phi2);
}

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u), evaluated with e = exp(-2|u|) <= 1 as x / (1 + e) for
 * u >= 0 and x e / (1 + e) for u < 0: no cancellation (1 + tanh(u) has it for u < 0) and no
 * overflow; x^3 overflowing only drives e to 0. */
ALWAYS_INLINE __m256 gelu_tanh_ps(__m256 x)
{
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(x2, _mm256_set1_ps(LORE__NN_GELU_C3)), x, x);
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), inner);
    __m256 e = exp_ps(_mm256_mul_ps(a, _mm256_set1_ps(-2.0f * LORE__NN_SQRT2_PI)));
    __m256 neg = _mm256_cmp_ps(inner, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 num = _mm256_blendv_ps(x, _mm256_mul_ps(x, e), neg);
    return _mm256_div_ps(num, _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
}

/* One row of x = f(x + bias); act 0 = GELU (erf), 1 = GELU (tanh), 2 = identity. The constant
 * arguments fold away at each call site. */
ALWAYS_INLINE void map_row(float *restrict x, const float *restrict bias, size_t n, int has_bias,
                           int act)
{
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_loadu_ps(x + j);
        if (has_bias)
            v = _mm256_add_ps(v, _mm256_loadu_ps(bias + j));
        v = act == 0 ? gelu_ps(v) : act == 1 ? gelu_tanh_ps(v) : v;
        _mm256_storeu_ps(x + j, v);
    }
    if (j < n) {
        __m256 v = load_part(x + j, n - j, 0.0f);
        if (has_bias)
            v = _mm256_add_ps(v, load_part(bias + j, n - j, 0.0f));
        v = act == 0 ? gelu_ps(v) : act == 1 ? gelu_tanh_ps(v) : v;
        store_part(x + j, n - j, v);
    }
}

static void avx2_bias_gelu(float *restrict x, size_t ld, const float *restrict bias, size_t rows,
                           size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        if (bias)
            map_row(x + r * ld, bias, n, 1, 0);
        else
            map_row(x + r * ld, NULL, n, 0, 0);
    }
}

static void avx2_bias_gelu_tanh(float *restrict x, size_t ld, const float *restrict bias,
                                size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        if (bias)
            map_row(x + r * ld, bias, n, 1, 1);
        else
            map_row(x + r * ld, NULL, n, 0, 1);
    }
}

static void avx2_add_bias(float *restrict x, size_t ld, const float *restrict bias, size_t rows,
                          size_t n)
{
    for (size_t r = 0; r < rows; r++)
        map_row(x + r * ld, bias, n, 1, 2);
}

/*
 * Pass 1 of a LayerNorm row: v = x + res + bias stored back into x, and the sum of v - k.
 * Subtracting k (the row's first value) before summing keeps a large common offset out of the
 * float accumulators: v - k is exact when v and k are within a factor of 2 (Sterbenz), and
 * what is summed is then of the size of the row's spread, not of its offset.
 */
ALWAYS_INLINE float ln_pass1(float *restrict x, const float *restrict res,
                             const float *restrict bias, size_t n, float k, int has_res,
                             int has_bias)
{
    const __m256 vk = _mm256_set1_ps(k);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 a = _mm256_loadu_ps(x + j), b = _mm256_loadu_ps(x + j + 8);
        if (has_res) {
            a = _mm256_add_ps(a, _mm256_loadu_ps(res + j));
            b = _mm256_add_ps(b, _mm256_loadu_ps(res + j + 8));
        }
        if (has_bias) {
            a = _mm256_add_ps(a, _mm256_loadu_ps(bias + j));
            b = _mm256_add_ps(b, _mm256_loadu_ps(bias + j + 8));
        }
        _mm256_storeu_ps(x + j, a);
        _mm256_storeu_ps(x + j + 8, b);
        s0 = _mm256_add_ps(s0, _mm256_sub_ps(a, vk));
        s1 = _mm256_add_ps(s1, _mm256_sub_ps(b, vk));
    }
    for (; j + 8 <= n; j += 8) {
        __m256 a = _mm256_loadu_ps(x + j);
        if (has_res)
            a = _mm256_add_ps(a, _mm256_loadu_ps(res + j));
        if (has_bias)
            a = _mm256_add_ps(a, _mm256_loadu_ps(bias + j));
        _mm256_storeu_ps(x + j, a);
        s0 = _mm256_add_ps(s0, _mm256_sub_ps(a, vk));
    }
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; j < n; j++) {
        float v = x[j];
        if (has_res)
            v += res[j];
        if (has_bias)
            v += bias[j];
        x[j] = v;
        s += v - k;
    }
    return s;
}

static void avx2_add_layernorm(float *restrict x, size_t ld_x, const float *restrict res,
                               size_t ld_res, const float *restrict bias,
                               const float *restrict gamma, const float *restrict beta, size_t rows,
                               size_t n, float eps)
{
    if (n == 0)
        return;
    const float inv_n = 1.0f / (float)n;
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * ld_x;
        const float *rr = res ? res + r * ld_res : NULL;
        /* The shift is v[0], formed exactly as pass 1 forms it. */
        float k = xr[0];
        if (rr)
            k += rr[0];
        if (bias)
            k += bias[0];
        float sum;
        if (rr && bias)
            sum = ln_pass1(xr, rr, bias, n, k, 1, 1);
        else if (rr)
            sum = ln_pass1(xr, rr, NULL, n, k, 1, 0);
        else if (bias)
            sum = ln_pass1(xr, NULL, bias, n, k, 0, 1);
        else
            sum = ln_pass1(xr, NULL, NULL, n, k, 0, 0);

        /* Centred values are (v - k) - dm, never v - mean: the mean rounded to float would
         * carry the offset's rounding error (3e-5 at an offset of 1e3) into every output. */
        const float dm = sum * inv_n;
        const __m256 vk = _mm256_set1_ps(k), vdm = _mm256_set1_ps(dm);
        __m256 q0 = _mm256_setzero_ps(), q1 = _mm256_setzero_ps();
        size_t j = 0;
        for (; j + 16 <= n; j += 16) {
            __m256 a = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vk), vdm);
            __m256 b = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j + 8), vk), vdm);
            q0 = _mm256_fmadd_ps(a, a, q0);
            q1 = _mm256_fmadd_ps(b, b, q1);
        }
        if (j + 8 <= n) {
            __m256 a = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vk), vdm);
            q0 = _mm256_fmadd_ps(a, a, q0);
            j += 8;
        }
        if (j < n) {
            __m256 a = _mm256_sub_ps(_mm256_sub_ps(load_part(xr + j, n - j, 0.0f), vk), vdm);
            a = _mm256_and_ps(a, lane_mask(n - j));
            q0 = _mm256_fmadd_ps(a, a, q0);
        }
        /* Statistics in float from here: the row's latency chain runs through them, and
         * float sqrt and division are exactly rounded (rsqrt would not be). */
        __m128 var = _mm_set_ss(hsum(_mm256_add_ps(q0, q1)) * inv_n + eps);
        const __m256 vr = _mm256_broadcastss_ps(_mm_div_ss(_mm_set_ss(1.0f), _mm_sqrt_ss(var)));

        for (j = 0; j + 8 <= n; j += 8) {
            __m256 c = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vk), vdm);
            __m256 g = _mm256_mul_ps(_mm256_loadu_ps(gamma + j), vr);
            _mm256_storeu_ps(xr + j, _mm256_fmadd_ps(c, g, _mm256_loadu_ps(beta + j)));
        }
        if (j < n) {
            size_t t = n - j;
            __m256 c = _mm256_sub_ps(_mm256_sub_ps(load_part(xr + j, t, 0.0f), vk), vdm);
            __m256 g = _mm256_mul_ps(load_part(gamma + j, t, 0.0f), vr);
            store_part(xr + j, t, _mm256_fmadd_ps(c, g, load_part(beta + j, t, 0.0f)));
        }
    }
}

static void avx2_softmax_rows(float *restrict x, size_t ld, size_t rows, size_t n)
{
    if (n == 0)
        return;
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * ld;
        __m256 m0 = ninf, m1 = ninf;
        size_t j = 0;
        for (; j + 16 <= n; j += 16) {
            m0 = _mm256_max_ps(m0, _mm256_loadu_ps(xr + j));
            m1 = _mm256_max_ps(m1, _mm256_loadu_ps(xr + j + 8));
        }
        for (; j + 8 <= n; j += 8)
            m0 = _mm256_max_ps(m0, _mm256_loadu_ps(xr + j));
        if (j < n)
            m0 = _mm256_max_ps(m0, load_part(xr + j, n - j, -INFINITY));
        const __m256 vmax = _mm256_set1_ps(hmax(_mm256_max_ps(m0, m1)));

        /* Every exp is at most 1 and the largest is exactly 1, so the float sum has no
         * cancellation and grows slowly: its relative error stays near 1e-7. */
        __m256 s = _mm256_setzero_ps();
        for (j = 0; j + 8 <= n; j += 8) {
            __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vmax));
            _mm256_storeu_ps(xr + j, e);
            s = _mm256_add_ps(s, e);
        }
        if (j < n) {
            /* -inf in the unused lanes: exp gives 0 there, which adds nothing. */
            __m256 e = exp_ps(_mm256_sub_ps(load_part(xr + j, n - j, -INFINITY), vmax));
            store_part(xr + j, n - j, e);
            s = _mm256_add_ps(s, e);
        }
        const __m256 inv = _mm256_set1_ps(1.0f / hsum(s));
        for (j = 0; j + 8 <= n; j += 8)
            _mm256_storeu_ps(xr + j, _mm256_mul_ps(_mm256_loadu_ps(xr + j), inv));
        for (; j < n; j++)
            xr[j] *= _mm256_cvtss_f32(inv);
    }
}

/* Columns in blocks of 32 (four accumulators kept in registers across all rows), then 8, then
 * the last few one by one; each x row is read once per block, contiguously. */
static void avx2_mean_rows(const float *restrict x, size_t ld, size_t rows, size_t n,
                           float *restrict out)
{
    const float inv_s = rows ? 1.0f / (float)rows : 0.0f;
    const __m256 inv = _mm256_set1_ps(inv_s);
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
        for (size_t r = 0; r < rows; r++) {
            const float *p = x + r * ld + j;
            a = _mm256_add_ps(a, _mm256_loadu_ps(p));
            b = _mm256_add_ps(b, _mm256_loadu_ps(p + 8));
            c = _mm256_add_ps(c, _mm256_loadu_ps(p + 16));
            d = _mm256_add_ps(d, _mm256_loadu_ps(p + 24));
        }
        _mm256_storeu_ps(out + j, _mm256_mul_ps(a, inv));
        _mm256_storeu_ps(out + j + 8, _mm256_mul_ps(b, inv));
        _mm256_storeu_ps(out + j + 16, _mm256_mul_ps(c, inv));
        _mm256_storeu_ps(out + j + 24, _mm256_mul_ps(d, inv));
    }
    for (; j + 8 <= n; j += 8) {
        __m256 a = _mm256_setzero_ps();
        for (size_t r = 0; r < rows; r++)
            a = _mm256_add_ps(a, _mm256_loadu_ps(x + r * ld + j));
        _mm256_storeu_ps(out + j, _mm256_mul_ps(a, inv));
    }
    for (; j < n; j++) {
        float s = 0.0f;
        for (size_t r = 0; r < rows; r++)
            s += x[r * ld + j];
        out[j] = s * inv_s;
    }
}

static void avx2_l2_normalize(float *restrict x, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m256 a = _mm256_loadu_ps(x + j), b = _mm256_loadu_ps(x + j + 8);
        __m256 c = _mm256_loadu_ps(x + j + 16), d = _mm256_loadu_ps(x + j + 24);
        s0 = _mm256_fmadd_ps(a, a, s0);
        s1 = _mm256_fmadd_ps(b, b, s1);
        s2 = _mm256_fmadd_ps(c, c, s2);
        s3 = _mm256_fmadd_ps(d, d, s3);
    }
    for (; j + 8 <= n; j += 8) {
        __m256 a = _mm256_loadu_ps(x + j);
        s0 = _mm256_fmadd_ps(a, a, s0);
    }
    float ss = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (size_t i = j; i < n; i++)
        ss += x[i] * x[i];
    /* Squares overflow past 1.8e19 and lose precision below 1e-19 in float; such vectors (and
     * the zero vector) go to the reference, which sums in double. */
    if (!(ss >= LORE__NN_L2_SS_MIN && ss <= FLT_MAX)) {
        lore__nn_scalar()->l2_normalize(x, n);
        return;
    }
    const float inv_s = (float)(1.0 / sqrt((double)ss));
    const __m256 inv = _mm256_set1_ps(inv_s);
    for (j = 0; j + 8 <= n; j += 8)
        _mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), inv));
    for (; j < n; j++)
        x[j] *= inv_s;
}

static const lore__nn_kernels avx2_set = {
    .isa = "avx2",
    .add_layernorm = avx2_add_layernorm,
    .bias_gelu = avx2_bias_gelu,
    .bias_gelu_tanh = avx2_bias_gelu_tanh,
    .add_bias = avx2_add_bias,
    .softmax_rows = avx2_softmax_rows,
    .mean_rows = avx2_mean_rows,
    .l2_normalize = avx2_l2_normalize,
};

const lore__nn_kernels *lore__nn_avx2(void)
{
    return &avx2_set;
}

#else

const lore__nn_kernels *lore__nn_avx2(void)
{
    return NULL;
}

#endif
