/*
 * nn_avx512.c - the AVX-512 set of the encoder's elementwise and row kernels (nn.h).
 *
 * Compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma and handed out by nn.c
 * only after a CPU check (and never under valgrind). Rows are processed 16 floats at a time;
 * the last partial vector of a row uses masked loads and stores, which neither read nor write
 * past n, so the gap between n and the row stride is never touched.
 *
 * exp and erfc are the approximations described in nn_int.h; sums are in float, with the tricks
 * noted at each kernel. test_kernels.c states (and checks) how far from the scalar reference
 * the results may be: 1e-5 relative or 1e-6 absolute.
 */
#include "core/lore_int.h"

#include "kernels/nn_int.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) &&                      \
    defined(__AVX512VL__) && defined(__FMA__)

#include <float.h>
#include <immintrin.h>
#include <math.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Lanes [0, k) for 0 < k < 16. */
ALWAYS_INLINE __mmask16 tail_mask(size_t k)
{
    return (__mmask16)((1u << k) - 1u);
}

/* exp(x), denormal results included as expf gives them; 0 below -104, inf above ln(FLT_MAX),
 * NaN stays NaN. scalef builds 2^n without the exponent-field limits of the integer trick, so
 * the clamp is only there to keep -inf from turning into inf - inf in the reduction. */
ALWAYS_INLINE __m512 exp_ps(__m512 x)
{
    /* min/max return their second operand when one is NaN: x goes second to keep NaN. */
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LORE__NN_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LORE__NN_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LORE__NN_LN2_LO), r);
    __m512 p = _mm512_set1_ps(LORE__NN_EXP_P4);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(LORE__NN_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(LORE__NN_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(LORE__NN_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(LORE__NN_EXP_P0));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* GELU(x) = 0.5 x erfc(-x/sqrt2): erfc(|z|) once, reflected (2 - erfc) for x >= 0. */
ALWAYS_INLINE __m512 gelu_ps(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
    /* erfc(|x|/sqrt2) underflows to 0 long before |x| = 20; the clamp keeps x^2 finite. */
    __m512 ax = _mm512_min_ps(_mm512_set1_ps(20.0f), _mm512_abs_ps(x));
    __m512 z = _mm512_mul_ps(ax, _mm512_set1_ps(LORE__NN_SQRT1_2));
    __m512 d = _mm512_fmadd_ps(_mm512_set1_ps(0.5f), z, one);
    /* 1/d by rcp14 and one Newton step (relative error ~2^-28), cheaper than vdivps. */
    __m512 t = _mm512_rcp14_ps(d);
    t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
    __m512 q = _mm512_set1_ps(LORE__NN_ERFC_Q10);
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(LORE__NN_ERFC_Q9));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(LORE__NN_ERFC_Q8));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(LORE__NN_ERFC_Q7));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(LORE__NN_ERFC_Q6));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(LORE__NN_ERFC_Q5));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(LORE__NN_ERFC_Q4));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(LORE__NN_ERFC_Q3));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(LORE__NN_ERFC_Q2));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(LORE__NN_ERFC_Q1));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(LORE__NN_ERFC_Q0));
    /* -z^2 = -x^2/2 from x^2 split exactly in two (fma): z itself is rounded, and its error
     * would reach erfc multiplied by 2 z^2. */
    __m512 x2 = _mm512_mul_ps(ax, ax), x2lo = _mm512_fmsub_ps(ax, ax, x2);
    __m512 arg = _mm512_fnmadd_ps(half, x2lo, _mm512_fnmadd_ps(half, x2, q));
    __m512 e = _mm512_mul_ps(t, exp_ps(arg));
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 phi2 = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(2.0f), e), e);
    return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), phi2);
}

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u), evaluated with e = exp(-2|u|) <= 1 as x / (1 + e) for
 * u >= 0 and x e / (1 + e) for u < 0: no cancellation (1 + tanh(u) has it for u < 0) and no
 * overflow; x^3 overflowing only drives e to 0. */
ALWAYS_INLINE __m512 gelu_tanh_ps(__m512 x)
{
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 inner = _mm512_fmadd_ps(_mm512_mul_ps(x2, _mm512_set1_ps(LORE__NN_GELU_C3)), x, x);
    __m512 e =
        exp_ps(_mm512_mul_ps(_mm512_abs_ps(inner), _mm512_set1_ps(-2.0f * LORE__NN_SQRT2_PI)));
    __mmask16 neg = _mm512_cmp_ps_mask(inner, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 num = _mm512_mask_mul_ps(x, neg, x, e);
    return _mm512_div_ps(num, _mm512_add_ps(e, _mm512_set1_ps(1.0f)));
}

/* One row of x = f(x + bias); act 0 = GELU (erf), 1 = GELU (tanh), 2 = identity. The constant
 * arguments fold away at each call site. */
ALWAYS_INLINE void map_row(float *restrict x, const float *restrict bias, size_t n, int has_bias,
                           int act)
{
    size_t j = 0;
    /* Two vectors an iteration: the approximations are long dependency chains, and two
     * independent ones side by side keep both FMA ports busy. */
    for (; j + 32 <= n; j += 32) {
        __m512 v = _mm512_loadu_ps(x + j), w = _mm512_loadu_ps(x + j + 16);
        if (has_bias) {
            v = _mm512_add_ps(v, _mm512_loadu_ps(bias + j));
            w = _mm512_add_ps(w, _mm512_loadu_ps(bias + j + 16));
        }
        v = act == 0 ? gelu_ps(v) : act == 1 ? gelu_tanh_ps(v) : v;
        w = act == 0 ? gelu_ps(w) : act == 1 ? gelu_tanh_ps(w) : w;
        _mm512_storeu_ps(x + j, v);
        _mm512_storeu_ps(x + j + 16, w);
    }
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_loadu_ps(x + j);
        if (has_bias)
            v = _mm512_add_ps(v, _mm512_loadu_ps(bias + j));
        v = act == 0 ? gelu_ps(v) : act == 1 ? gelu_tanh_ps(v) : v;
        _mm512_storeu_ps(x + j, v);
    }
    if (j < n) {
        __mmask16 m = tail_mask(n - j);
        __m512 v = _mm512_maskz_loadu_ps(m, x + j);
        if (has_bias)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + j));
        v = act == 0 ? gelu_ps(v) : act == 1 ? gelu_tanh_ps(v) : v;
        _mm512_mask_storeu_ps(x + j, m, v);
    }
}

static void avx512_bias_gelu(float *restrict x, size_t ld, const float *restrict bias, size_t rows,
                             size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        if (bias)
            map_row(x + r * ld, bias, n, 1, 0);
        else
            map_row(x + r * ld, NULL, n, 0, 0);
    }
}

static void avx512_bias_gelu_tanh(float *restrict x, size_t ld, const float *restrict bias,
                                  size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        if (bias)
            map_row(x + r * ld, bias, n, 1, 1);
        else
            map_row(x + r * ld, NULL, n, 0, 1);
    }
}

static void avx512_add_bias(float *restrict x, size_t ld, const float *restrict bias, size_t rows,
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
    const __m512 vk = _mm512_set1_ps(k);
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m512 a = _mm512_loadu_ps(x + j), b = _mm512_loadu_ps(x + j + 16);
        if (has_res) {
            a = _mm512_add_ps(a, _mm512_loadu_ps(res + j));
            b = _mm512_add_ps(b, _mm512_loadu_ps(res + j + 16));
        }
        if (has_bias) {
            a = _mm512_add_ps(a, _mm512_loadu_ps(bias + j));
            b = _mm512_add_ps(b, _mm512_loadu_ps(bias + j + 16));
        }
        _mm512_storeu_ps(x + j, a);
        _mm512_storeu_ps(x + j + 16, b);
        s0 = _mm512_add_ps(s0, _mm512_sub_ps(a, vk));
        s1 = _mm512_add_ps(s1, _mm512_sub_ps(b, vk));
    }
    for (; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : tail_mask(n - j);
        __m512 a = _mm512_maskz_loadu_ps(m, x + j);
        if (has_res)
            a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, res + j));
        if (has_bias)
            a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, bias + j));
        _mm512_mask_storeu_ps(x + j, m, a);
        s0 = _mm512_mask_add_ps(s0, m, s0, _mm512_sub_ps(a, vk));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static void avx512_add_layernorm(float *restrict x, size_t ld_x, const float *restrict res,
                                 size_t ld_res, const float *restrict bias,
                                 const float *restrict gamma, const float *restrict beta,
                                 size_t rows, size_t n, float eps)
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
        const __m512 vk = _mm512_set1_ps(k), vdm = _mm512_set1_ps(sum * inv_n);
        __m512 q0 = _mm512_setzero_ps(), q1 = _mm512_setzero_ps();
        size_t j = 0;
        for (; j + 32 <= n; j += 32) {
            __m512 a = _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + j), vk), vdm);
            __m512 b = _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + j + 16), vk), vdm);
            q0 = _mm512_fmadd_ps(a, a, q0);
            q1 = _mm512_fmadd_ps(b, b, q1);
        }
        for (; j < n; j += 16) {
            __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : tail_mask(n - j);
            __m512 a = _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + j), vk), vdm);
            q0 = _mm512_mask3_fmadd_ps(a, a, q0, m);
        }
        /* Statistics in float from here: the row's latency chain runs through them, and
         * float sqrt and division are exactly rounded (rsqrt14 would not be). */
        __m128 var = _mm_set_ss(_mm512_reduce_add_ps(_mm512_add_ps(q0, q1)) * inv_n + eps);
        const __m512 vr = _mm512_broadcastss_ps(_mm_div_ss(_mm_set_ss(1.0f), _mm_sqrt_ss(var)));

        for (j = 0; j < n; j += 16) {
            __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : tail_mask(n - j);
            __m512 c = _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + j), vk), vdm);
            __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, gamma + j), vr);
            __m512 y = _mm512_fmadd_ps(c, g, _mm512_maskz_loadu_ps(m, beta + j));
            _mm512_mask_storeu_ps(xr + j, m, y);
        }
    }
}

static void avx512_softmax_rows(float *restrict x, size_t ld, size_t rows, size_t n)
{
    if (n == 0)
        return;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * ld;
        __m512 m0 = ninf, m1 = ninf;
        size_t j = 0;
        for (; j + 32 <= n; j += 32) {
            m0 = _mm512_max_ps(m0, _mm512_loadu_ps(xr + j));
            m1 = _mm512_max_ps(m1, _mm512_loadu_ps(xr + j + 16));
        }
        for (; j < n; j += 16) {
            __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : tail_mask(n - j);
            m0 = _mm512_max_ps(m0, _mm512_mask_loadu_ps(ninf, m, xr + j));
        }
        const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(m0, m1)));

        /* Every exp is at most 1 and the largest is exactly 1, so the float sum has no
         * cancellation and grows slowly: its relative error stays near 1e-7. */
        __m512 s = _mm512_setzero_ps();
        for (j = 0; j + 16 <= n; j += 16) {
            __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + j), vmax));
            _mm512_storeu_ps(xr + j, e);
            s = _mm512_add_ps(s, e);
        }
        if (j < n) {
            __mmask16 m = tail_mask(n - j);
            __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + j), vmax));
            _mm512_mask_storeu_ps(xr + j, m, e);
            s = _mm512_mask_add_ps(s, m, s, e);
        }
        const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(s));
        for (j = 0; j < n; j += 16) {
            __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : tail_mask(n - j);
            _mm512_mask_storeu_ps(xr + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + j), inv));
        }
    }
}

/* Columns in blocks of 64 (four accumulators kept in registers across all rows), then 16, then
 * a masked tail; each x row is read once per block, contiguously. */
static void avx512_mean_rows(const float *restrict x, size_t ld, size_t rows, size_t n,
                             float *restrict out)
{
    const __m512 inv = _mm512_set1_ps(rows ? 1.0f / (float)rows : 0.0f);
    size_t j = 0;
    for (; j + 64 <= n; j += 64) {
        __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
        for (size_t r = 0; r < rows; r++) {
            const float *p = x + r * ld + j;
            a = _mm512_add_ps(a, _mm512_loadu_ps(p));
            b = _mm512_add_ps(b, _mm512_loadu_ps(p + 16));
            c = _mm512_add_ps(c, _mm512_loadu_ps(p + 32));
            d = _mm512_add_ps(d, _mm512_loadu_ps(p + 48));
        }
        _mm512_storeu_ps(out + j, _mm512_mul_ps(a, inv));
        _mm512_storeu_ps(out + j + 16, _mm512_mul_ps(b, inv));
        _mm512_storeu_ps(out + j + 32, _mm512_mul_ps(c, inv));
        _mm512_storeu_ps(out + j + 48, _mm512_mul_ps(d, inv));
    }
    for (; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : tail_mask(n - j);
        __m512 a = _mm512_setzero_ps();
        for (size_t r = 0; r < rows; r++)
            a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, x + r * ld + j));
        _mm512_mask_storeu_ps(out + j, m, _mm512_mul_ps(a, inv));
    }
}

static void avx512_l2_normalize(float *restrict x, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t j = 0;
    for (; j + 64 <= n; j += 64) {
        __m512 a = _mm512_loadu_ps(x + j), b = _mm512_loadu_ps(x + j + 16);
        __m512 c = _mm512_loadu_ps(x + j + 32), d = _mm512_loadu_ps(x + j + 48);
        s0 = _mm512_fmadd_ps(a, a, s0);
        s1 = _mm512_fmadd_ps(b, b, s1);
        s2 = _mm512_fmadd_ps(c, c, s2);
        s3 = _mm512_fmadd_ps(d, d, s3);
    }
    for (; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : tail_mask(n - j);
        __m512 a = _mm512_maskz_loadu_ps(m, x + j);
        s0 = _mm512_fmadd_ps(a, a, s0);
    }
    float ss = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    /* Squares overflow past 1.8e19 and lose precision below 1e-19 in float; such vectors (and
     * the zero vector) go to the reference, which sums in double. */
    if (!(ss >= LORE__NN_L2_SS_MIN && ss <= FLT_MAX)) {
        lore__nn_scalar()->l2_normalize(x, n);
        return;
    }
    const __m512 inv = _mm512_set1_ps((float)(1.0 / sqrt((double)ss)));
    for (j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? (__mmask16)0xffff : tail_mask(n - j);
        _mm512_mask_storeu_ps(x + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), inv));
    }
}

static const lore__nn_kernels avx512_set = {
    .isa = "avx512",
    .add_layernorm = avx512_add_layernorm,
    .bias_gelu = avx512_bias_gelu,
    .bias_gelu_tanh = avx512_bias_gelu_tanh,
    .add_bias = avx512_add_bias,
    .softmax_rows = avx512_softmax_rows,
    .mean_rows = avx512_mean_rows,
    .l2_normalize = avx512_l2_normalize,
};

const lore__nn_kernels *lore__nn_avx512(void)
{
    return &avx512_set;
}

#else

const lore__nn_kernels *lore__nn_avx512(void)
{
    return NULL;
}

#endif
