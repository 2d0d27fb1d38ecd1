/*
 * lore/calib.h - calibration kernels: memory bandwidth.
 *
 * Together with lore_blas_sgemm (compute) these measure what a machine can do,
 * so results from different machines can be normalised.
 */
#ifndef LORE_CALIB_H
#define LORE_CALIB_H

#include <stddef.h>

/*
 * STREAM triad: a[i] = b[i] + scalar * c[i] for i < n. The arrays must not
 * overlap. Adds 3 * n * sizeof(float) (two reads and one write per element) to
 * the stream_bytes counter.
 */
void lore_calib_stream_triad(float *restrict a, const float *restrict b, const float *restrict c,
                             float scalar, size_t n);

#endif
