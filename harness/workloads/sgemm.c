/*
 * sgemm.c - workload: one single-precision matrix multiply through the engine's
 * BLAS (C = A * B, row-major, A m x k, B k x n). One item is one flop, so the
 * throughput is flop/s; the gflop_per_s metric restates it in GFLOP/s.
 */
#include <stdlib.h>

#include "lore/lore.h"
#include "workload.h"

static const bench_param_spec params[] = {
    {"m", BENCH_PARAM_INT, "256", 1, 16384, NULL, "rows", "rows of A and C"},
    {"n", BENCH_PARAM_INT, "256", 1, 16384, NULL, "columns", "columns of B and C"},
    {"k", BENCH_PARAM_INT, "256", 1, 16384, NULL, "", "columns of A, rows of B"},
    {"threads", BENCH_PARAM_INT, "1", 1, 256, NULL, "threads", "BLAS threads for the call"},
};

typedef struct state {
    int m, n, k;
    int threads_before;
    float *a, *b, *c;
} state;

static void teardown(void *opaque)
{
    state *s = opaque;
    if (!s)
        return;
    lore_blas_set_threads(s->threads_before);
    free(s->a);
    free(s->b);
    free(s->c);
    free(s);
}

static int setup(const bench_params *p, void **out, bench_err *e)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return bench_err_set(e, "sgemm: out of memory");
    lore_blas_info info;
    lore_blas_get_info(&info);
    s->threads_before = info.n_threads;
    s->m = (int)bench_params_int(p, "m");
    s->n = (int)bench_params_int(p, "n");
    s->k = (int)bench_params_int(p, "k");
    s->a = malloc((size_t)s->m * s->k * sizeof(float));
    s->b = malloc((size_t)s->k * s->n * sizeof(float));
    s->c = calloc((size_t)s->m * s->n, sizeof(float));
    if (!s->a || !s->b || !s->c) {
        bench_err_set(e, "sgemm: out of memory for %d x %d x %d matrices", s->m, s->n, s->k);
        teardown(s);
        return -1;
    }
    /* Small, non-trivial values: denormals or zeros would change the timing. */
    for (size_t i = 0; i < (size_t)s->m * s->k; i++)
        s->a[i] = (float)((i * 7 + 3) % 17) / 17.0f - 0.5f;
    for (size_t i = 0; i < (size_t)s->k * s->n; i++)
        s->b[i] = (float)((i * 5 + 1) % 13) / 13.0f - 0.5f;
    int threads = (int)bench_params_int(p, "threads");
    if (lore_blas_set_threads(threads) != LORE_OK) {
        bench_err_set(e, "sgemm: %s", lore_last_error());
        teardown(s);
        return -1;
    }
    /* The library clamps to what it was built for; measuring at another count
     * than the one recorded would mislabel the point. */
    lore_blas_get_info(&info);
    if (info.n_threads != threads) {
        bench_err_set(e, "sgemm: threads=%d: this BLAS runs %d threads at most", threads,
                      info.n_threads);
        teardown(s);
        return -1;
    }
    *out = s;
    return 0;
}

static int run_op(void *opaque, bench_err *e)
{
    state *s = opaque;
    if (lore_blas_sgemm(s->m, s->n, s->k, s->a, s->b, s->c) != LORE_OK)
        return bench_err_set(e, "sgemm: %s", lore_last_error());
    return 0;
}

static double items_per_op(const void *opaque)
{
    const state *s = opaque;
    return 2.0 * s->m * s->n * s->k;
}

static int metrics(const void *opaque, const bench_point_measure *m, cJSON *out)
{
    (void)opaque;
    return bench_metric_add(out, "gflop_per_s", m->items_per_s / 1e9, "GFLOP/s",
                            BENCH_BETTER_HIGHER);
}

const bench_workload bench_workload_sgemm = {
    .name = "sgemm",
    .description = "single-precision matrix multiply through the engine's BLAS (GFLOP/s)",
    .item_unit = "flop",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .setup = setup,
    .run_op = run_op,
    .items_per_op = items_per_op,
    .metrics = metrics,
    .teardown = teardown,
};
