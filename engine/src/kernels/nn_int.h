/*
 * nn_int.h - private to the nn kernels: the SIMD variant sets and the
 * constants of the approximations they share.
 *
 * Each SIMD set lives in a file compiled for its ISA (nn_avx2.c, nn_avx512.c);
 * nn.c decides whether the CPU can run it before handing it out, so nothing
 * here may be called without that check.
 */
#ifndef LORE_KERNELS_NN_INT_H
#define LORE_KERNELS_NN_INT_H

#include "kernels/nn.h"

/* The AVX2+FMA set, or NULL when the compiler could not build it. No CPU check. */
const lore__nn_kernels *lore__nn_avx2(void);

/* The AVX-512 (F, DQ, BW, VL) set, or NULL when the compiler could not build it. No CPU check. */
const lore__nn_kernels *lore__nn_avx512(void);

/*
 * exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2], ln 2 split
 * in two so that r is exact to float precision. exp(r) = 1 + r + r^2 P(r), P of degree 4
 * fitted (Chebyshev, mpmath) to (exp(r) - 1 - r) / r^2; measured error 1.5 ulp over the
 * whole range. The AVX2 set flushes results below FLT_MIN (x < LORE__NN_EXP_LO) to 0, where
 * expf gives a denormal: less than 1.2e-38 apart.
 */
#define LORE__NN_LOG2E 1.44269504088896341f
#define LORE__NN_LN2_HI 0.693147182464599609375f /* float(ln 2) */
#define LORE__NN_LN2_LO -1.904654323148236e-09f  /* ln 2 - LN2_HI */
#define LORE__NN_EXP_LO -87.33654f               /* ln(FLT_MIN) */
#define LORE__NN_EXP_HI 88.37626f                /* keeps n <= 127 */
#define LORE__NN_EXP_P4 0.0013926176119935579f
#define LORE__NN_EXP_P3 0.0083631730745137109f
#define LORE__NN_EXP_P2 0.041666554662050534f
#define LORE__NN_EXP_P1 0.16666577025597988f
#define LORE__NN_EXP_P0 0.5f

/*
 * erfc(z) for z >= 0 as t * exp(-z^2 + Q(t)), t = 1 / (1 + z/2) in (0, 1]: the form of
 * Numerical Recipes' erfcc, with Q of degree 10 fitted here (Chebyshev, mpmath) to
 * log(erfc(z)) + z^2 - log(t); |error of Q| <= 1e-7, so erfc has a relative error of about
 * 2e-7 in float for every z, the far tail included. GELU is 0.5 x erfc(-x/sqrt 2), which
 * keeps its relative accuracy for negative x where 1 + erf(x/sqrt 2) cancels.
 */
#define LORE__NN_ERFC_Q10 0.0047696509837828346f
#define LORE__NN_ERFC_Q9 0.14636138449163779f
#define LORE__NN_ERFC_Q8 -0.76845808549635733f
#define LORE__NN_ERFC_Q7 1.4231719453126935f
#define LORE__NN_ERFC_Q6 -1.0869556191597849f
#define LORE__NN_ERFC_Q5 0.25671506735347321f
#define LORE__NN_ERFC_Q4 -0.18006151233223975f
#define LORE__NN_ERFC_Q3 0.095772412237656002f
#define LORE__NN_ERFC_Q2 0.37417608818318484f
#define LORE__NN_ERFC_Q1 1.0000209430461464f
#define LORE__NN_ERFC_Q0 -1.2655122103075874f

/*
 * The SIMD l2_normalize sums squares in float and hands a vector to the scalar reference (which
 * sums in double) when that sum overflowed or is below this: at or above it the largest square
 * is a normal float with full precision for any n below 1e6, and squares that went denormal
 * or to zero contribute less than 1e-19 of the sum.
 */
#define LORE__NN_L2_SS_MIN 1e-20f

#define LORE__NN_SQRT1_2 0.70710678118654752f
#define LORE__NN_SQRT2_PI 0.79788456080286536f /* sqrt(2/pi), for the tanh form */
#define LORE__NN_GELU_C3 0.044715f

#endif
