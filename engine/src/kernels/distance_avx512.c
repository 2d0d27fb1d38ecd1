/*
 * distance_avx512.c - the AVX-512 set of the distance kernels (distance.h).
 *
 * Compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma and handed out by
 * distance.c only after a CPU check (and never under valgrind). Vectors are read 16 floats at a
 * time; the last partial chunk uses masked loads, which never touch memory past d, so a row
 * that ends at the end of its allocation is safe.
 *
 * ip / l2 (one pair) keep four accumulators so that four FMA chains are in flight. ip_many /
 * l2_many, the scan loops of the flat and IVF indexes, take four rows at a time with two
 * accumulators each: every chunk of the query is loaded once for four rows, eight independent
 * FMA chains hide the FMA latency, and the four sums are reduced together and stored with one
 * 128-bit store. Sums are in float; the tests bound their distance from the double reference.
 */
#include "core/lore_int.h"

#include "kernels/distance_int.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) &&                      \
    defined(__AVX512VL__) && defined(__FMA__)

#include <immintrin.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Lanes [0, k) for 0 < k < 16. */
ALWAYS_INLINE __mmask16 tail_mask(size_t k)
{
    return (__mmask16)((1u << k) - 1u);
}

/* acc + q*x (ip) or acc + (x-q)^2 (l2); l2 is a constant after inlining. */
ALWAYS_INLINE __m512 step(__m512 acc, __m512 q, __m512 x, int l2)
{
    if (l2) {
        __m512 t = _mm512_sub_ps(x, q);
        return _mm512_fmadd_ps(t, t, acc);
    }
    return _mm512_fmadd_ps(q, x, acc);
}

/* The lane sums of a, b, c, d in lanes 0..3. */
ALWAYS_INLINE __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d)
{
    __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
    __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
    __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
    /* hadd(a, b) = [a01 a23 b01 b23 | a45 a67 b45 b67]; twice gives [a b c d | a b c d]. */
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a8, b8), _mm256_hadd_ps(c8, d8));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

ALWAYS_INLINE float one(const float *restrict a, const float *restrict b, size_t d, int l2)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t j = 0;
    for (; j + 64 <= d; j += 64) {
        s0 = step(s0, _mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), l2);
        s1 = step(s1, _mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16), l2);
        s2 = step(s2, _mm512_loadu_ps(a + j + 32), _mm512_loadu_ps(b + j + 32), l2);
        s3 = step(s3, _mm512_loadu_ps(a + j + 48), _mm512_loadu_ps(b + j + 48), l2);
    }
    for (; j + 16 <= d; j += 16)
        s0 = step(s0, _mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), l2);
    if (j < d) {
        /* Masked-off lanes load 0 on both sides and add 0 (0*0, or (0-0)^2). */
        __mmask16 m = tail_mask(d - j);
        s1 = step(s1, _mm512_maskz_loadu_ps(m, a + j), _mm512_maskz_loadu_ps(m, b + j), l2);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

ALWAYS_INLINE void many(const float *restrict q, const float *restrict x, size_t n, size_t d,
                        float *restrict out, int l2)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *x0 = x + i * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
        __m512 b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
        size_t j = 0;
        for (; j + 32 <= d; j += 32) {
            __m512 qa = _mm512_loadu_ps(q + j), qb = _mm512_loadu_ps(q + j + 16);
            a0 = step(a0, qa, _mm512_loadu_ps(x0 + j), l2);
            a1 = step(a1, qa, _mm512_loadu_ps(x1 + j), l2);
            a2 = step(a2, qa, _mm512_loadu_ps(x2 + j), l2);
            a3 = step(a3, qa, _mm512_loadu_ps(x3 + j), l2);
            b0 = step(b0, qb, _mm512_loadu_ps(x0 + j + 16), l2);
            b1 = step(b1, qb, _mm512_loadu_ps(x1 + j + 16), l2);
            b2 = step(b2, qb, _mm512_loadu_ps(x2 + j + 16), l2);
            b3 = step(b3, qb, _mm512_loadu_ps(x3 + j + 16), l2);
        }
        if (j + 16 <= d) {
            __m512 qa = _mm512_loadu_ps(q + j);
            a0 = step(a0, qa, _mm512_loadu_ps(x0 + j), l2);
            a1 = step(a1, qa, _mm512_loadu_ps(x1 + j), l2);
            a2 = step(a2, qa, _mm512_loadu_ps(x2 + j), l2);
            a3 = step(a3, qa, _mm512_loadu_ps(x3 + j), l2);
            j += 16;
        }
        if (j < d) {
            __mmask16 m = tail_mask(d - j);
            __m512 qb = _mm512_maskz_loadu_ps(m, q + j);
            b0 = step(b0, qb, _mm512_maskz_loadu_ps(m, x0 + j), l2);
            b1 = step(b1, qb, _mm512_maskz_loadu_ps(m, x1 + j), l2);
            b2 = step(b2, qb, _mm512_maskz_loadu_ps(m, x2 + j), l2);
            b3 = step(b3, qb, _mm512_maskz_loadu_ps(m, x3 + j), l2);
        }
        _mm_storeu_ps(out + i, hsum4(_mm512_add_ps(a0, b0), _mm512_add_ps(a1, b1),
                                     _mm512_add_ps(a2, b2), _mm512_add_ps(a3, b3)));
    }
    for (; i < n; i++)
        out[i] = one(q, x + i * d, d, l2);
}

static float avx512_ip(const float *restrict a, const float *restrict b, size_t d)
{
    return one(a, b, d, 0);
}

static float avx512_l2(const float *restrict a, const float *restrict b, size_t d)
{
    return one(a, b, d, 1);
}

static void avx512_ip_many(const float *restrict q, const float *restrict x, size_t n, size_t d,
                           float *restrict out)
{
    many(q, x, n, d, out, 0);
}

static void avx512_l2_many(const float *restrict q, const float *restrict x, size_t n, size_t d,
                           float *restrict out)
{
    many(q, x, n, d, out, 1);
}

static const lore__dist_kernels avx512_set = {
    .isa = "avx512",
    .ip = avx512_ip,
    .l2 = avx512_l2,
    .ip_many = avx512_ip_many,
    .l2_many = avx512_l2_many,
};

const lore__dist_kernels *lore__dist_avx512(void)
{
    return &avx512_set;
}

#else

const lore__dist_kernels *lore__dist_avx512(void)
{
    return NULL;
}

#endif
