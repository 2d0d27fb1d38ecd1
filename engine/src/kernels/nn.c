/*
 * nn.c - the scalar reference set of the encoder's elementwise and row kernels, and the choice
 * of a set for this CPU.
 *
 * The scalar set is what the SIMD sets are tested against, so it favours accuracy over speed:
 * statistics and transcendental functions are evaluated in double and rounded once. Sums that
 * the model defines in float (x + res + bias before LayerNorm) are formed in float in the same
 * order as the SIMD sets, so every set normalises exactly the same values.
 *
 * Selection follows kernels/isa.c: AVX-512 when the CPU has it and the process is not under
 * valgrind (which cannot decode AVX-512), else AVX2 with FMA, else scalar.
 * None of the kernels allocates, prints or fails; sizes of 0 do nothing.
 */
#include "core/lore_int.h"

#include <math.h>
#include <string.h>

#include "kernels/nn.h"
#include "kernels/isa.h"
#include "kernels/nn_int.h"

static void scalar_add_layernorm(float *restrict x, size_t ld_x, const float *restrict res,
                                 size_t ld_res, const float *restrict bias,
                                 const float *restrict gamma, const float *restrict beta,
                                 size_t rows, size_t n, float eps)
{
    if (n == 0)
        return;
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * ld_x;
        const float *rr = res ? res + r * ld_res : NULL;
        double sum = 0.0;
        for (size_t j = 0; j < n; j++) {
            float v = xr[j];
            if (rr)
                v += rr[j];
            if (bias)
                v += bias[j];
            xr[j] = v;
            sum += v;
        }
        /* Two passes in double: the mean of rows with a large common offset stays exact
         * enough that the centred values do not cancel. */
        double mean = sum / (double)n, ss = 0.0;
        for (size_t j = 0; j < n; j++) {
            double c = (double)xr[j] - mean;
            ss += c * c;
        }
        double rstd = 1.0 / sqrt(ss / (double)n + (double)eps);
        for (size_t j = 0; j < n; j++)
            xr[j] = (float)(((double)xr[j] - mean) * rstd * gamma[j] + beta[j]);
    }
}

static void scalar_bias_gelu(float *restrict x, size_t ld, const float *restrict bias, size_t rows,
                             size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * ld;
        for (size_t j = 0; j < n; j++) {
            double v = bias ? xr[j] + bias[j] : xr[j];
            /* 0.5 x (1 + erf(x/sqrt2)) written with erfc, which does not cancel for x < 0. */
            xr[j] = (float)(0.5 * v * erfc(-v * M_SQRT1_2));
        }
    }
}

static void scalar_bias_gelu_tanh(float *restrict x, size_t ld, const float *restrict bias,
                                  size_t rows, size_t n)
{
    const double k = sqrt(2.0 / M_PI);
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * ld;
        for (size_t j = 0; j < n; j++) {
            double v = bias ? xr[j] + bias[j] : xr[j];
            double u = k * (v + 0.044715 * v * v * v);
            /* 0.5 v (1 + tanh(u)) = v / (1 + exp(-2u)), which does not cancel for u < 0. */
            xr[j] = (float)(v / (1.0 + exp(-2.0 * u)));
        }
    }
}

static void scalar_add_bias(float *restrict x, size_t ld, const float *restrict bias, size_t rows,
                            size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * ld;
        for (size_t j = 0; j < n; j++)
            xr[j] += bias[j];
    }
}

static void scalar_softmax_rows(float *restrict x, size_t ld, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * ld;
        if (n == 0)
            continue;
        float m = xr[0];
        for (size_t j = 1; j < n; j++)
            m = xr[j] > m ? xr[j] : m;
        double sum = 0.0;
        for (size_t j = 0; j < n; j++) {
            double e = exp((double)xr[j] - (double)m);
            xr[j] = (float)e;
            sum += e;
        }
        double inv = 1.0 / sum;
        for (size_t j = 0; j < n; j++)
            xr[j] = (float)(xr[j] * inv);
    }
}

static void scalar_mean_rows(const float *restrict x, size_t ld, size_t rows, size_t n,
                             float *restrict out)
{
    /* The mean over no rows is taken as 0 rather than 0/0. */
    double inv = rows ? 1.0 / (double)rows : 0.0;
    for (size_t j = 0; j < n; j++) {
        double s = 0.0;
        for (size_t r = 0; r < rows; r++)
            s += x[r * ld + j];
        out[j] = (float)(s * inv);
    }
}

static void scalar_l2_normalize(float *restrict x, size_t n)
{
    /* Squares in double neither overflow nor underflow for any finite float. */
    double ss = 0.0;
    for (size_t j = 0; j < n; j++)
        ss += (double)x[j] * x[j];
    if (ss == 0.0)
        return;
    double inv = 1.0 / sqrt(ss);
    for (size_t j = 0; j < n; j++)
        x[j] = (float)(x[j] * inv);
}

static const lore__nn_kernels scalar_set = {
    .isa = "scalar",
    .add_layernorm = scalar_add_layernorm,
    .bias_gelu = scalar_bias_gelu,
    .bias_gelu_tanh = scalar_bias_gelu_tanh,
    .add_bias = scalar_add_bias,
    .softmax_rows = scalar_softmax_rows,
    .mean_rows = scalar_mean_rows,
    .l2_normalize = scalar_l2_normalize,
};

const lore__nn_kernels *lore__nn_scalar(void)
{
    return &scalar_set;
}

const lore__nn_kernels *lore__nn_get(const char *isa)
{
    switch (lore__isa_parse(isa)) {
    case LORE__ISA_SCALAR:
        return &scalar_set;
    case LORE__ISA_AVX2:
        return lore__isa_runnable(LORE__ISA_AVX2) ? lore__nn_avx2() : NULL;
    case LORE__ISA_AVX512:
        return lore__isa_runnable(LORE__ISA_AVX512) ? lore__nn_avx512() : NULL;
    case LORE__ISA_UNKNOWN:
        break;
    }
    return NULL;
}

const lore__nn_kernels *lore__nn_select(void)
{
    static const char *const order[] = {"avx512", "avx2"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const lore__nn_kernels *k = lore__nn_get(order[i]);
        if (k)
            return k;
    }
    return &scalar_set;
}
