/*
 * noise.h - the measured noise floor of a scenario's wall metrics on this
 * machine (`lore-bench calibrate-noise`), and the file that keeps it.
 *
 * The scenario is run N times (A/A: same build, same machine); every pair of
 * runs (i < j) is compared with bench_compare exactly as a baseline and a
 * candidate would be. For each point and wall metric:
 *
 *   floor          exp(t * sqrt(2) * s) - 1, s the sample standard deviation
 *                  over the N runs of ln(value) (each run's value relative to
 *                  run 1, from their pair's ratio), t Student's 0.9995 quantile
 *                  with N - 1 degrees of freedom: the bound one more A/A pair
 *                  exceeds with probability 0.1% (two-sided) when run-to-run
 *                  shifts are log-normal; never below max. Why so far out: a
 *                  suite compares dozens of points many times, and one false
 *                  "worse" per point in a thousand comparisons already shows.
 *   max, p95       the largest and the 95th percentile (type 7) over the pairs
 *                  of max(r, 1/r) - 1, r the pair's ratio of medians.
 *   ci_half_width  the median over the pairs of half the bootstrap interval's
 *                  width (ci_hi - ci_lo) / 2: how wide one comparison's own
 *                  interval is; when it is far below floor, the runs' own
 *                  intervals leave out most of the noise.
 *   false_changes  the pairs compare (defaults, no floor) called better or worse.
 *
 * More runs tighten the floor (t is 8.6 at 5 runs, 3.9 at 20).
 *
 * bench_compare takes the file through bench_compare_opts.noise and uses a
 * metric's floor as its minimum effect when the floor is the larger.
 *
 * File (schema "lore-noise/1", validated on read):
 *   {"schema": "lore-noise/1", "scenario": NAME, "scenario_hash": "fnv1a64:..",
 *    "machine_class": CLASS, "created_at": ISO-8601, "runs": N, "pairs": N(N-1)/2,
 *    "definition": TEXT, "command": [ARGS],
 *    "points": {POINT_ID: {METRIC: {"floor": F, "p95": Q, "ci_half_width": H,
 *                                   "max": M, "n_pairs": P, "false_changes": C}}}}
 */
#ifndef BENCH_NOISE_H
#define BENCH_NOISE_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "util.h"

#define BENCH_NOISE_SCHEMA "lore-noise/1"

/* Checks a noise document; messages name path and the JSON path. Returns 0 or -1. */
int bench_noise_validate(const cJSON *doc, const char *path, bench_err *e);

/* Reads and validates a noise file. Returns 0 with *out (cJSON_Delete it), or -1 with e set. */
int bench_noise_read(const char *path, cJSON **out, bench_err *e);

/* The floor of metric at point_id (0.03 = 3%), or NAN when noise (may be NULL) has none. */
double bench_noise_floor(const cJSON *noise, const char *point_id, const char *metric);

/*
 * The noise document of n >= 2 A/A results of one scenario (paths name them in
 * messages). Returns 0 with *out, or -1 with e set (different scenarios, a
 * failing comparison, OOM).
 */
int bench_noise_from_results(const cJSON *const *results, const char *const *paths, size_t n,
                             cJSON **out, bench_err *e);

/* Student's t quantile at 0.9995 with df degrees of freedom (NAN for 0). */
double bench_noise_t_9995(size_t df);

/* exp(t(n-1) * sqrt(2) * sd(ln_values)) - 1, the floor above; NAN when n < 2. */
double bench_noise_prediction_floor(const double *ln_values, size_t n);

/* Writes noise as a Markdown table (point, metric, floor, max, p95, CI half-width). */
void bench_noise_print_table(const cJSON *noise, FILE *f);

/*
 * `lore-bench calibrate-noise SCENARIO [--runs N] [-o FILE] [--set K=V]...
 * [--filter K=V]...`. Returns the exit code.
 */
int bench_noise_cli_main(int argc, char **argv);

#endif
