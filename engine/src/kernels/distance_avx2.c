/*
 * distance_avx2.c - the AVX2 + FMA set of the distance kernels (distance.h).
 *
 * Compiled with -mavx2 -mfma and handed out by distance.c only after a CPU check; this is the
 * set valgrind runs on AVX-512 machines. Vectors are read 8 floats at a time and the last
 * d % 8 elements of a row are summed by a scalar loop (no masked loads, which valgrind has
 * handled unevenly), so nothing past d is ever read.
 *
 * Same structure as the AVX-512 set: ip / l2 keep four accumulators; ip_many / l2_many take
 * four rows at a time with two accumulators each (8 of the 16 ymm registers), load each query
 * chunk once for four rows and reduce the four sums together. Sums are in float.
 */
#include "core/lore_int.h"

#include "kernels/distance_int.h"

#if defined(__AVX2__) && defined(__FMA__)

#include <immintrin.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* acc + q*x (ip) or acc + (x-q)^2 (l2); l2 is a constant after inlining. */
ALWAYS_INLINE __m256 step(__m256 acc, __m256 q, __m256 x, int l2)
{
    if (l2) {
        __m256 t = _mm256_sub_ps(x, q);
        return _mm256_fmadd_ps(t, t, acc);
    }
    return _mm256_fmadd_ps(q, x, acc);
}

ALWAYS_INLINE float step1(float acc, float q, float x, int l2)
{
    if (l2) {
        float t = x - q;
        return acc + t * t;
    }
    return acc + q * x;
}

ALWAYS_INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The lane sums of a, b, c, d in lanes 0..3. */
ALWAYS_INLINE __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d)
{
    /* hadd(a, b) = [a01 a23 b01 b23 | a45 a67 b45 b67]; twice gives [a b c d | a b c d]. */
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

ALWAYS_INLINE float one(const float *restrict a, const float *restrict b, size_t d, int l2)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 32 <= d; j += 32) {
        s0 = step(s0, _mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), l2);
        s1 = step(s1, _mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8), l2);
        s2 = step(s2, _mm256_loadu_ps(a + j + 16), _mm256_loadu_ps(b + j + 16), l2);
        s3 = step(s3, _mm256_loadu_ps(a + j + 24), _mm256_loadu_ps(b + j + 24), l2);
    }
    for (; j + 8 <= d; j += 8)
        s0 = step(s0, _mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), l2);
    float t = 0.0f;
    for (; j < d; j++)
        t = step1(t, a[j], b[j], l2);
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + t;
}

ALWAYS_INLINE void many(const float *restrict q, const float *restrict x, size_t n, size_t d,
                        float *restrict out, int l2)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *x0 = x + i * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
        __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
        size_t j = 0;
        for (; j + 16 <= d; j += 16) {
            __m256 qa = _mm256_loadu_ps(q + j), qb = _mm256_loadu_ps(q + j + 8);
            a0 = step(a0, qa, _mm256_loadu_ps(x0 + j), l2);
            a1 = step(a1, qa, _mm256_loadu_ps(x1 + j), l2);
            a2 = step(a2, qa, _mm256_loadu_ps(x2 + j), l2);
            a3 = step(a3, qa, _mm256_loadu_ps(x3 + j), l2);
            b0 = step(b0, qb, _mm256_loadu_ps(x0 + j + 8), l2);
            b1 = step(b1, qb, _mm256_loadu_ps(x1 + j + 8), l2);
            b2 = step(b2, qb, _mm256_loadu_ps(x2 + j + 8), l2);
            b3 = step(b3, qb, _mm256_loadu_ps(x3 + j + 8), l2);
        }
        if (j + 8 <= d) {
            __m256 qa = _mm256_loadu_ps(q + j);
            a0 = step(a0, qa, _mm256_loadu_ps(x0 + j), l2);
            a1 = step(a1, qa, _mm256_loadu_ps(x1 + j), l2);
            a2 = step(a2, qa, _mm256_loadu_ps(x2 + j), l2);
            a3 = step(a3, qa, _mm256_loadu_ps(x3 + j), l2);
            j += 8;
        }
        float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
        for (; j < d; j++) {
            t0 = step1(t0, q[j], x0[j], l2);
            t1 = step1(t1, q[j], x1[j], l2);
            t2 = step1(t2, q[j], x2[j], l2);
            t3 = step1(t3, q[j], x3[j], l2);
        }
        __m128 s = hsum4(_mm256_add_ps(a0, b0), _mm256_add_ps(a1, b1), _mm256_add_ps(a2, b2),
                         _mm256_add_ps(a3, b3));
        _mm_storeu_ps(out + i, _mm_add_ps(s, _mm_setr_ps(t0, t1, t2, t3)));
    }
    for (; i < n; i++)
        out[i] = one(q, x + i * d, d, l2);
}

static float avx2_ip(const float *restrict a, const float *restrict b, size_t d)
{
    return one(a, b, d, 0);
}

static float avx2_l2(const float *restrict a, const float *restrict b, size_t d)
{
    return one(a, b, d, 1);
}

static void avx2_ip_many(const float *restrict q, const float *restrict x, size_t n, size_t d,
                         float *restrict out)
{
    many(q, x, n, d, out, 0);
}

static void avx2_l2_many(const float *restrict q, const float *restrict x, size_t n, size_t d,
                         float *restrict out)
{
    many(q, x, n, d, out, 1);
}

static const lore__dist_kernels avx2_set = {
    .isa = "avx2",
    .ip = avx2_ip,
    .l2 = avx2_l2,
    .ip_many = avx2_ip_many,
    .l2_many = avx2_l2_many,
};

const lore__dist_kernels *lore__dist_avx2(void)
{
    return &avx2_set;
}

#else

const lore__dist_kernels *lore__dist_avx2(void)
{
    return NULL;
}

#endif
