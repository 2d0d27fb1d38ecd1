/*
 * nn.h - the encoder's elementwise and row kernels (LayerNorm, GELU,
 * softmax, pooling, normalisation), each with a scalar reference and SIMD
 * variants. A variant set is chosen once, when an encoder is created
 * (lore__nn_select), from the CPU's features; under valgrind, which cannot run
 * AVX-512, the AVX2 or scalar set is chosen.
 *
 * All matrices are row-major with an explicit row stride ld (in floats).
 */
#ifndef LORE_KERNELS_NN_H
#define LORE_KERNELS_NN_H

#include <stddef.h>

typedef struct lore__nn_kernels {
    const char *isa; /* "scalar", "avx2", "avx512" */

    /* x[r] = LayerNorm(x[r] + res[r] + bias) * gamma + beta for each of rows rows of n;
     * res and bias may be NULL (not added). eps as in the model config. */
    void (*add_layernorm)(float *restrict x, size_t ld_x, const float *restrict res,
                          size_t ld_res, const float *restrict bias, const float *restrict gamma,
                          const float *restrict beta, size_t rows, size_t n, float eps);

    /* x[r] = GELU(x[r] + bias), exact (erf) form; bias may be NULL. */
    void (*bias_gelu)(float *restrict x, size_t ld, const float *restrict bias, size_t rows,
                      size_t n);

    /* x[r] = GELU_tanh(x[r] + bias); bias may be NULL. */
    void (*bias_gelu_tanh)(float *restrict x, size_t ld, const float *restrict bias,
                           size_t rows, size_t n);

    /* x[r] += bias. */
    void (*add_bias)(float *restrict x, size_t ld, const float *restrict bias, size_t rows,
                     size_t n);

    /* Softmax of the first n entries of each row, in place (numerically safe: max subtracted). */
    void (*softmax_rows)(float *restrict x, size_t ld, size_t rows, size_t n);

    /* out[j] = mean over rows of x[r][j], j < n. */
    void (*mean_rows)(const float *restrict x, size_t ld, size_t rows, size_t n,
                      float *restrict out);

    /* x /= ||x||_2 (left unchanged when the norm is 0). */
    void (*l2_normalize)(float *restrict x, size_t n);
} lore__nn_kernels;

/* The scalar reference set; always available. */
const lore__nn_kernels *lore__nn_scalar(void);

/* The set for isa ("scalar", "avx2", "avx512"), or NULL when this CPU (or valgrind) cannot run it. */
const lore__nn_kernels *lore__nn_get(const char *isa);

/* The fastest set this CPU can run (AVX-512, then AVX2, then scalar). */
const lore__nn_kernels *lore__nn_select(void);

#endif
