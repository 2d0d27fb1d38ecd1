/*
 * distance_int.h - private to the distance kernels: the SIMD variant sets.
 *
 * Each set lives in a file compiled for its ISA (distance_avx2.c, distance_avx512.c);
 * distance.c decides whether the CPU (and valgrind) can run it before handing it out, so
 * nothing here may be called without that check.
 */
#ifndef LORE_KERNELS_DISTANCE_INT_H
#define LORE_KERNELS_DISTANCE_INT_H

#include "kernels/distance.h"

/* The AVX2+FMA set, or NULL when the compiler could not build it. No CPU check. */
const lore__dist_kernels *lore__dist_avx2(void);

/* The AVX-512 (F, DQ, BW, VL) set, or NULL when the compiler could not build it. No CPU check. */
const lore__dist_kernels *lore__dist_avx512(void);

#endif
