/*
 * distance.h - vector distance kernels for the indexes: inner product and
 * squared L2, one pair or one query against a contiguous block of vectors,
 * with a scalar reference and AVX2 / AVX-512 variants chosen once per index
 * (lore__dist_select; under valgrind never AVX-512).
 */
#ifndef LORE_KERNELS_DISTANCE_H
#define LORE_KERNELS_DISTANCE_H

#include <stddef.h>

typedef struct lore__dist_kernels {
    const char *isa; /* "scalar", "avx2", "avx512" */
    float (*ip)(const float *restrict a, const float *restrict b, size_t d);
    float (*l2)(const float *restrict a, const float *restrict b, size_t d); /* squared */
    /* out[i] = ip(q, x + i*d) (or l2) for i < n; x is n rows of d floats. */
    void (*ip_many)(const float *restrict q, const float *restrict x, size_t n, size_t d,
                    float *restrict out);
    void (*l2_many)(const float *restrict q, const float *restrict x, size_t n, size_t d,
                    float *restrict out);
} lore__dist_kernels;

const lore__dist_kernels *lore__dist_scalar(void);
/* The set for isa, or NULL when this CPU (or valgrind) cannot run it. */
const lore__dist_kernels *lore__dist_get(const char *isa);
/* The fastest set this CPU can run. */
const lore__dist_kernels *lore__dist_select(void);

#endif
