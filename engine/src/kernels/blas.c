/*
 * blas.c - the only file of the engine that includes <cblas.h>.
 *
 * Wraps the BLAS calls the engine makes, counts their work, and reports which
 * library and kernel family ran them.
 */
#include "core/lore_int.h"
#include "kernels/blas_int.h"

#include <assert.h>
#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static void copy_string(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "unknown");
}

void lore_blas_get_info(lore_blas_info *info)
{
    copy_string(info->library, sizeof info->library, "OpenBLAS");
    copy_string(info->config, sizeof info->config, openblas_get_config());
    copy_string(info->core, sizeof info->core, openblas_get_corename());
    /* OpenBLAS pads its build string with a trailing space. */
    size_t n = strlen(info->config);
    while (n > 0 && info->config[n - 1] == ' ')
        info->config[--n] = '\0';
    info->n_threads = openblas_get_num_threads();
    info->n_threads_max = openblas_get_num_procs();
}

lore_status lore_blas_set_threads(int n_threads)
{
    if (n_threads < 1)
        return lore__fail(LORE_EINVAL, "BLAS threads must be >= 1 (got %d)", n_threads);
    openblas_set_num_threads(n_threads);
    return LORE_OK;
}

lore_status lore_blas_sgemm(int m, int n, int k, const float *a, const float *b, float *c)
{
    if (m < 1 || n < 1 || k < 1)
        return lore__fail(LORE_EINVAL, "sgemm sizes must be >= 1 (got m=%d n=%d k=%d)", m, n, k);
    if (!a || !b || !c)
        return lore__fail(LORE_EINVAL, "sgemm: NULL matrix pointer");
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
    lore__counter_add(LORE_COUNTER_SGEMM_FLOPS, 2 * (int64_t)m * n * k);
    lore__counter_add(LORE_COUNTER_SGEMM_CALLS, 1);
    return LORE_OK;
}

static void count_gemm(int m, int n, int k)
{
    lore__counter_add(LORE_COUNTER_SGEMM_FLOPS, 2 * (int64_t)m * n * k);
    lore__counter_add(LORE_COUNTER_SGEMM_CALLS, 1);
}

void lore__sgemm_nt(int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                    int ldb, float beta, float *c, int ldc)
{
    assert(m > 0 && n > 0 && k > 0 && lda >= k && ldb >= k && ldc >= n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
    count_gemm(m, n, k);
}

void lore__sgemm_nn(int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                    int ldb, float beta, float *c, int ldc)
{
    assert(m > 0 && n > 0 && k > 0 && lda >= k && ldb >= n && ldc >= n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
    count_gemm(m, n, k);
}

bool lore__blas_has_sbgemm(void)
{
    /* Looked up at run time: Debian's OpenBLAS declares it in cblas.h but is
     * built without BUILD_BFLOAT16, so a direct call would not link. */
    return dlsym(RTLD_DEFAULT, "cblas_sbgemm") != NULL;
}

int lore__blas_threads(void)
{
    return openblas_get_num_threads();
}
