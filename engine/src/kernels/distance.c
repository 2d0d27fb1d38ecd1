/*
 * distance.c - the scalar reference set of the distance kernels, and the choice of a set for
 * this CPU.
 *
 * The scalar set is what the SIMD sets are tested against, so it favours accuracy over speed:
 * products and sums are formed in double (a float product is exact in double, and the sum of a
 * few thousand of them loses far less than float's precision) and rounded to float once. It is
 * only the run-time set on CPUs without AVX2.
 *
 * Selection follows kernels/isa.c: AVX-512 when the CPU has it and the process is not under
 * valgrind (which cannot decode AVX-512), else AVX2 with FMA, else scalar.
 * No kernel allocates, prints or fails; d = 0 gives 0 and n = 0 writes nothing.
 */
#include "core/lore_int.h"

#include <string.h>

#include "kernels/distance.h"
#include "kernels/distance_int.h"
#include "kernels/isa.h"

static float scalar_ip(const float *restrict a, const float *restrict b, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++)
        s += (double)a[j] * b[j];
    return (float)s;
}

static float scalar_l2(const float *restrict a, const float *restrict b, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++) {
        /* The difference of two floats is exact in double, so only the sum rounds. */
        double t = (double)a[j] - b[j];
        s += t * t;
    }
    return (float)s;
}

static void scalar_ip_many(const float *restrict q, const float *restrict x, size_t n, size_t d,
                           float *restrict out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = scalar_ip(q, x + i * d, d);
}

static void scalar_l2_many(const float *restrict q, const float *restrict x, size_t n, size_t d,
                           float *restrict out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = scalar_l2(q, x + i * d, d);
}

static const lore__dist_kernels scalar_set = {
    .isa = "scalar",
    .ip = scalar_ip,
    .l2 = scalar_l2,
    .ip_many = scalar_ip_many,
    .l2_many = scalar_l2_many,
};

const lore__dist_kernels *lore__dist_scalar(void)
{
    return &scalar_set;
}

const lore__dist_kernels *lore__dist_get(const char *isa)
{
    switch (lore__isa_parse(isa)) {
    case LORE__ISA_SCALAR:
        return &scalar_set;
    case LORE__ISA_AVX2:
        return lore__isa_runnable(LORE__ISA_AVX2) ? lore__dist_avx2() : NULL;
    case LORE__ISA_AVX512:
        return lore__isa_runnable(LORE__ISA_AVX512) ? lore__dist_avx512() : NULL;
    case LORE__ISA_UNKNOWN:
        break;
    }
    return NULL;
}

const lore__dist_kernels *lore__dist_select(void)
{
    static const char *const order[] = {"avx512", "avx2"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const lore__dist_kernels *k = lore__dist_get(order[i]);
        if (k)
            return k;
    }
    return &scalar_set;
}
