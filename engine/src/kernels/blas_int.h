/*
 * blas_int.h - the engine-internal BLAS entry points the encoder uses.
 *
 * Row-major, with leading dimensions, so a GEMM can read a head's slice out
 * of a fused QKV matrix in place. Every call adds its 2*m*n*k to the
 * sgemm_flops counter. Arguments are the caller's invariants (asserted, not
 * checked): these run thousands of times per forward pass.
 */
#ifndef LORE_KERNELS_BLAS_INT_H
#define LORE_KERNELS_BLAS_INT_H

#include <stdbool.h>

/* C = alpha * A * B^T + beta * C; A m x k (lda), B n x k (ldb), C m x n (ldc). */
void lore__sgemm_nt(int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                    int ldb, float beta, float *c, int ldc);

/* C = alpha * A * B + beta * C; A m x k (lda), B k x n (ldb), C m x n (ldc). */
void lore__sgemm_nn(int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                    int ldb, float beta, float *c, int ldc);

/* Whether the loaded BLAS exports cblas_sbgemm (bf16 inputs, f32 output). */
bool lore__blas_has_sbgemm(void);

/* BLAS threads in effect now. */
int lore__blas_threads(void);

#endif
