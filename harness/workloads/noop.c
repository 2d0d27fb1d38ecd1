/*
 * noop.c - workload: an operation that does nothing, so its latency is the
 * harness's own cost per measured operation (one indirect call, one clock
 * read, the stop checks). Every other workload's samples include this cost.
 */
#include <stdlib.h>

#include "workload.h"

typedef struct state {
    volatile uint64_t calls;
} state;

static int setup(const bench_params *p, void **out, bench_err *e)
{
    (void)p;
    state *s = calloc(1, sizeof *s);
    if (!s)
        return bench_err_set(e, "noop: out of memory");
    *out = s;
    return 0;
}

static int run_op(void *opaque, bench_err *e)
{
    (void)e;
    state *s = opaque;
    /* One volatile store keeps the call from being elided; it costs ~1 ns. */
    s->calls = s->calls + 1;
    return 0;
}

static double items_per_op(const void *opaque)
{
    (void)opaque;
    return 1.0;
}

static int metrics(const void *opaque, const bench_point_measure *m, cJSON *out)
{
    (void)opaque;
    return bench_metric_add(out, "overhead_ns_p50", m->latency_ns->p50, "ns", BENCH_BETTER_LOWER);
}

static void teardown(void *opaque)
{
    free(opaque);
}

const bench_workload bench_workload_noop = {
    .name = "noop",
    .description = "an empty operation: the harness's own overhead per measured operation",
    .item_unit = "op",
    .params = NULL,
    .n_params = 0,
    .setup = setup,
    .run_op = run_op,
    .items_per_op = items_per_op,
    .metrics = metrics,
    .teardown = teardown,
};
