/*
 * stream.c - the STREAM triad used to calibrate memory bandwidth.
 *
 * Written as a plain loop over restrict pointers: the compiler vectorises it,
 * and the arrays (sized well past the last-level cache by the caller) make it
 * memory-bound, which is what it measures.
 */
#include "core/lore_int.h"

void lore_calib_stream_triad(float *restrict a, const float *restrict b, const float *restrict c,
                             float scalar, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] + scalar * c[i];
    lore__counter_add(LORE_COUNTER_STREAM_BYTES, (int64_t)(3 * n * sizeof(float)));
}
