/*
 * stream.c - workload: STREAM triad (a = b + s*c) over n floats per array, the
 * memory-bandwidth calibration. One item is one byte moved (3 * 4 per element),
 * so the throughput is bytes/s; gb_per_s restates it in GB/s (10^9 bytes).
 */
#include <stdlib.h>

#include "lore/lore.h"
#include "workload.h"

static const bench_param_spec params[] = {
    {"n", BENCH_PARAM_INT, "8388608", 1024, 1 << 30, NULL, "elements",
     "floats per array (three arrays); past the last-level cache to measure memory"},
};

typedef struct state {
    size_t n;
    float *a, *b, *c;
} state;

static void teardown(void *opaque)
{
    state *s = opaque;
    if (!s)
        return;
    free(s->a);
    free(s->b);
    free(s->c);
    free(s);
}

static int setup(const bench_params *p, void **out, bench_err *e)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return bench_err_set(e, "stream: out of memory");
    s->n = (size_t)bench_params_int(p, "n");
    s->a = malloc(s->n * sizeof(float));
    s->b = malloc(s->n * sizeof(float));
    s->c = malloc(s->n * sizeof(float));
    if (!s->a || !s->b || !s->c) {
        bench_err_set(e, "stream: out of memory for 3 x %zu floats", s->n);
        teardown(s);
        return -1;
    }
    /* Touch every page now so the measured operations do not pay for faults. */
    for (size_t i = 0; i < s->n; i++) {
        s->a[i] = 0.0f;
        s->b[i] = 1.0f + (float)(i % 7);
        s->c[i] = 0.5f + (float)(i % 3);
    }
    *out = s;
    return 0;
}

static int run_op(void *opaque, bench_err *e)
{
    (void)e;
    state *s = opaque;
    lore_calib_stream_triad(s->a, s->b, s->c, 3.0f, s->n);
    return 0;
}

static double items_per_op(const void *opaque)
{
    const state *s = opaque;
    return 3.0 * (double)s->n * sizeof(float);
}

static int metrics(const void *opaque, const bench_point_measure *m, cJSON *out)
{
    (void)opaque;
    return bench_metric_add(out, "gb_per_s", m->items_per_s / 1e9, "GB/s", BENCH_BETTER_HIGHER);
}

const bench_workload bench_workload_stream = {
    .name = "stream",
    .description = "STREAM triad over three float arrays (memory bandwidth, GB/s)",
    .item_unit = "byte",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .setup = setup,
    .run_op = run_op,
    .items_per_op = items_per_op,
    .metrics = metrics,
    .teardown = teardown,
};
