/*
 * lore/blas.h - the engine's BLAS: which library runs, its threads, and sgemm.
 *
 * All matrix products of the engine go through here, so the library, its kernel
 * ("core") and its thread count are visible and set explicitly, never left to
 * surprise.
 */
#ifndef LORE_BLAS_H
#define LORE_BLAS_H

#include "lore/status.h"

typedef struct lore_blas_info {
    char library[32];  /* "OpenBLAS" */
    char config[256];  /* the library's own build string (version, options) */
    char core[64];     /* kernel family running now ("SkylakeX", "Prescott", ...) */
    int n_threads;     /* threads the library will use for one call */
    int n_threads_max; /* processors the library detected */
} lore_blas_info;

/* Fills *info with the BLAS in effect. info must not be NULL. Thread-safe. */
void lore_blas_get_info(lore_blas_info *info);

/*
 * Sets the number of threads BLAS uses for one call. n_threads >= 1; values
 * above the library's maximum are clamped (read the effect back with
 * lore_blas_get_info). Not thread-safe against concurrent BLAS calls.
 * Returns LORE_EINVAL for n_threads < 1.
 */
lore_status lore_blas_set_threads(int n_threads);

/*
 * C = A * B in single precision, row-major, no transposes:
 * A is m x k, B is k x n, C is m x n (all contiguous; C is overwritten).
 * m, n, k >= 1; pointers non-NULL and not aliasing C. Adds 2*m*n*k to the
 * sgemm_flops counter. Returns LORE_EINVAL for bad sizes or NULL pointers.
 */
lore_status lore_blas_sgemm(int m, int n, int k, const float *a, const float *b, float *c);

#endif
