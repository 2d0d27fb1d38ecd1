/*
 * compare.h - compares a candidate result with a baseline result, point by
 * point and metric by metric, on three tracks:
 *
 *   wall          time-based numbers (latency, throughput, anything per second):
 *                 noisy, so a change counts only when it is statistically real
 *                 (Mann-Whitney U on the raw samples, Benjamini-Hochberg over
 *                 every wall comparison of the run) AND the whole bootstrap
 *                 confidence interval of the ratio of medians lies past the
 *                 minimum effect (the larger of the options' min_effect and the
 *                 measured noise floor of that metric). Too few samples, or a
 *                 noise floor above the threshold, is INCONCLUSIVE, never a pass.
 *   work          deterministic work: the engine's SDE counters per op, recall,
 *                 bytes, counts. Compared with a tight relative tolerance.
 *   instructions  callgrind instruction counts per op (toggled around the
 *                 measured operations): deterministic to well under 1%, a hard
 *                 gate even on noisy machines.
 *
 * Points are matched by their parameters (optionally ignoring some, to compare
 * "batch 16" against "batch 32"). A baseline from another machine class is
 * compared only on the work and instructions tracks and on wall metrics
 * normalised by each run's calibration (sgemm GFLOP/s, triad GB/s); the
 * comparison says so (cross_class).
 *
 * Recall/QPS sweeps (points with a recall metric and a throughput) are also
 * compared as curves: the Pareto front of each side, and "QPS at recall >= R"
 * for a few recall levels, with a confidence interval by resampling.
 */
#ifndef BENCH_COMPARE_H
#define BENCH_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "util.h"
#include "workload.h"

typedef enum bench_track {
    BENCH_TRACK_WALL = 0,
    BENCH_TRACK_WORK = 1,
    BENCH_TRACK_INSTRUCTIONS = 2,
} bench_track;

typedef enum bench_verdict {
    BENCH_VERDICT_SAME = 0,         /* no change beyond the threshold (or not significant) */
    BENCH_VERDICT_BETTER = 1,       /* a real change in the better direction */
    BENCH_VERDICT_WORSE = 2,        /* a real change in the worse direction */
    BENCH_VERDICT_INCONCLUSIVE = 3, /* cannot tell: too few samples, noise above threshold */
    BENCH_VERDICT_MISSING = 4,      /* point or metric on one side only, or failed */
} bench_verdict;

const char *bench_track_name(bench_track t);     /* "wall", "work", "instructions" */
const char *bench_verdict_name(bench_verdict v); /* "same", "better", "worse", ... */

/* The track a metric belongs to, from its name and unit ("texts/s" -> wall). */
bench_track bench_metric_track(const char *name, const char *unit);

/* One metric of one point, compared. */
typedef struct bench_metric_cmp {
    char point_id[256]; /* the candidate's point id (parameters) */
    char metric[96];    /* "throughput", "latency_p50", "latency_p99", a workload
                           metric, "counter:<name>", "instructions_per_op" */
    char unit[32];
    bench_track track;
    bench_better better;
    bool normalised;     /* wall metric rescaled by the runs' calibrations (cross-class) */
    bool informational;  /* shown, never judged (verdict SAME): no better direction, a wall
                            number without samples of its own (a workload rate, a stage
                            time, a fraction), a hardware counter, peak RSS */
    double base, cand;   /* the compared values (wall: the percentile, or items/s at the
                            median per-item time) */
    double ratio;        /* cand / base */
    double ci_lo, ci_hi; /* confidence interval of ratio (wall: bootstrap; else = ratio) */
    double p_value;      /* latency_p50, throughput: Mann-Whitney U two-sided; else NAN */
    double q_value;      /* wall: Benjamini-Hochberg adjusted; else NAN */
    double threshold;    /* minimum relative effect that counts (0.05 = 5%) */
    double noise_floor;  /* measured noise floor used, NAN when none known */
    bench_verdict verdict;
    char reason[192]; /* why: "CI [0.91, 0.95] entirely below -5%", "n=3 < 10 samples" */
} bench_metric_cmp;

/* A recall/QPS curve comparison at one recall level. */
typedef struct bench_curve_cmp {
    char group[256]; /* the parameters that define one curve (kind, n, M ...) */
    char recall_metric[64];
    double recall_level; /* e.g. 0.95 */
    /* best throughput on each Pareto front at recall >= level (items/s at the median
       per-item time); NAN when none reaches it */
    double base_qps, cand_qps;
    double ratio, ci_lo, ci_hi;
    bench_verdict verdict;
    char reason[192];
} bench_curve_cmp;

typedef struct bench_compare_opts {
    double min_effect;      /* wall: smallest relative change that counts (default 0.05) */
    double alpha;           /* false discovery rate for Benjamini-Hochberg (default 0.05) */
    double confidence;      /* bootstrap interval (default 0.95) */
    int n_boot;             /* bootstrap resamples (default 2000) */
    uint64_t seed;          /* bootstrap seed (default 1): same inputs, same output */
    size_t min_samples;     /* fewer samples on either side: inconclusive (default 10) */
    double work_tolerance;  /* relative tolerance on the work track (default 1e-6) */
    double instr_tolerance; /* relative tolerance on instructions (default 0.003) */
    const cJSON *noise;     /* noise floors written by calibrate-noise, or NULL (format below) */
    const char *const *ignore_params; /* parameters left out of point matching */
    size_t n_ignore;
} bench_compare_opts;

bench_compare_opts bench_compare_default_opts(void);

/*
 * Noise floors (opts.noise): relative changes A/A runs of this scenario show
 * by themselves (0.04 = 4%), per point id and metric name, with an optional
 * scenario-wide value per metric:
 *   {"scenario": "search_smoke",                  (optional: must match)
 *    "points": {"kind=flat,query_mode=single": {"latency_p50": 0.031,
 *                                               "throughput": {"floor": 0.029, ...}}},
 *    "metrics": {"latency_p99": 0.12}}
 * A floor is a number >= 0 or an object with a "floor" number (other fields are
 * ignored). {"scenarios": {NAME: {...as above...}}} holds several scenarios.
 */

typedef struct bench_comparison {
    char base_path[512], cand_path[512];
    char scenario[128];
    char base_class[160], cand_class[160];
    bool cross_class; /* different machine classes: wall compared only normalised */
    bench_metric_cmp *items;
    size_t n_items;
    bench_curve_cmp *curves;
    size_t n_curves;
    size_t n_worse, n_better, n_inconclusive, n_missing; /* over items and curves */
} bench_comparison;

/*
 * Compares cand with base (result documents as bench_results_read returns
 * them). Returns 0 with *out (free with bench_comparison_free), or -1 with e
 * set (different scenarios, no point in common, OOM).
 */
int bench_compare(const cJSON *base, const char *base_path, const cJSON *cand,
                  const char *cand_path, const bench_compare_opts *opts, bench_comparison **out,
                  bench_err *e);

void bench_comparison_free(bench_comparison *c);

/*
 * Exit code of a comparison judged without scenario gates: BENCH_EXIT_GATE (1)
 * when a metric or curve is worse, or with strict when one is inconclusive or
 * missing; else BENCH_EXIT_OK (0).
 */
int bench_comparison_exit_code(const bench_comparison *c, bool strict);

/* Writers. Each returns 0, or -1 with e set (I/O). */
int bench_comparison_write_markdown(const bench_comparison *c, FILE *f, bench_err *e);
/* Only the verdict table (counts, then the rows that are not "same"): what compare prints. */
int bench_comparison_write_summary(const bench_comparison *c, FILE *f, bench_err *e);
int bench_comparison_write_junit(const bench_comparison *c, FILE *f, bench_err *e);
/* Bencher Metric Format of the candidate's values
 * (https://bencher.dev/docs/reference/bencher-metric-format/). */
int bench_comparison_write_bmf(const bench_comparison *c, FILE *f, bench_err *e);
cJSON *bench_comparison_to_json(const bench_comparison *c); /* NULL on OOM */

/*
 * Machine class of a result's host block: a slug of CPU model, cores, memory
 * (GiB, rounded) and BLAS core, e.g. "intel-xeon-platinum-8481c-2c-24g-skylakex".
 * Writes at most size bytes (NUL included). Returns 0, or -1 with e set when
 * the host block lacks a field.
 */
int bench_machine_class(const cJSON *result, char *buf, size_t size, bench_err *e);

/*
 * The baseline file for cand: arg itself when it is a file; when it is a
 * folder, arg/<scenario>.json, else arg/<machine class>/<scenario>.json.
 * Returns 0 with path filled, or -1 with e saying where it looked.
 */
int bench_baseline_resolve(const char *arg, const cJSON *cand, char *path, size_t size,
                           bench_err *e);

/* `lore-bench baseline save ...` and `lore-bench compare ...` (argv[1] is the command). */
int bench_cli_baseline(int argc, char **argv);
int bench_cli_compare(int argc, char **argv);

#endif
