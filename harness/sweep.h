/*
 * sweep.h - a scenario's sweep expanded to an ordered grid of points.
 *
 * Order: the first sweep axis in the file varies slowest (an odometer). Each
 * point has an index (its position in the full grid) and an id naming its
 * swept values ("m=256,threads=2"; "default" with no sweep), both stable
 * while the sweep itself is unchanged; --filter picks points by either or by
 * any parameter's value.
 */
#ifndef BENCH_SWEEP_H
#define BENCH_SWEEP_H

#include <stddef.h>

#include "scenario.h"

#define BENCH_SWEEP_MAX_POINTS 100000

typedef struct bench_point {
    size_t index;        /* position in the full grid */
    char *id;            /* "m=256,threads=2" */
    bench_value *values; /* [n_params] full assignment */
} bench_point;

typedef struct bench_grid {
    const bench_workload *workload;
    bench_point *points;
    size_t n_points;
    size_t n_total; /* points before filtering */
} bench_grid;

/* Expands s's sweep. Returns 0, or -1 with e set (too many points, OOM). */
int bench_sweep_expand(const bench_scenario *s, bench_grid **out, bench_err *e);

/*
 * Keeps the points matching every filter KEY=VALUE (KEY: a parameter name,
 * "id" or "index"; several filters on one key match any of their values).
 * Returns 0, or -1 with e set (unknown key, bad value, nothing left).
 */
int bench_sweep_filter(bench_grid *g, const char *const *filters, size_t n, bench_err *e);

/* The parameters of point i as a workload sees them. */
bench_params bench_grid_params(const bench_grid *g, size_t i);

/* Accepts NULL. */
void bench_grid_free(bench_grid *g);

#endif
