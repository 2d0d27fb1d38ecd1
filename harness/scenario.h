/*
 * scenario.h - a scenario file parsed into typed structs.
 *
 * A scenario names a workload, fixed parameters, a sweep (lists of values per
 * parameter), the measurement policy, the counters to read and the gates its
 * results must pass. Parsing is strict: unknown fields, wrong types, empty or
 * duplicated sweep values and impossible values are rejected with
 * "FILE: $.json.path: what is wrong (got X)". See README "Scenario format".
 */
#ifndef BENCH_SCENARIO_H
#define BENCH_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "util.h"
#include "workload.h"

#define BENCH_SCENARIO_SCHEMA "lore-scenario/1"

/* Bound on max_samples x repetitions: the runner's sample buffer (8 bytes each). */
#define BENCH_MAX_SAMPLES_TOTAL (64 * 1024 * 1024)

/* How a point is measured. All of it is settable from the scenario's "measure". */
typedef struct bench_policy {
    int64_t warmup_ops;  /* operations run before measuring (at least) */
    double warmup_s;     /* ... and for at least this long */
    int64_t min_samples; /* per repetition */
    int64_t max_samples; /* per repetition; bounds the sample buffer */
    double min_time_s;   /* per repetition: measure at least this long ... */
    double max_time_s;   /* ... and stop after this long even below min_samples */
    int64_t repetitions; /* measurement windows per point, samples pooled */
} bench_policy;

bench_policy bench_policy_default(void);

typedef struct bench_axis {
    int param; /* index into the workload's parameter table */
    bench_value *values;
    size_t n_values;
} bench_axis;

/* Longest gate name, given or made from the rule. */
#define BENCH_GATE_NAME_MAX 200

/* What a gate checks: an absolute band, or a change against a baseline. */
typedef enum bench_gate_kind {
    BENCH_GATE_BELOW,      /* value < pass: pass; < conditional: conditional; else fail */
    BENCH_GATE_ABOVE,      /* value >= pass: pass; >= conditional: conditional; else fail */
    BENCH_GATE_REGRESSION, /* fails on a real change worse than max_regression vs a baseline */
} bench_gate_kind;

/* A gate's "where": the points whose parameter param has one of these values. */
typedef struct bench_gate_where {
    int param; /* index into the workload's parameter table */
    bench_value *values;
    size_t n_values;
} bench_gate_where;

/*
 * One gate (README "Scenario format", gates). metric is "throughput",
 * "latency_p50" (p90, p95, p99, p999, mean, max), "rss_peak_bytes",
 * "counter:<event>" (per operation), "instructions_per_op" or a workload metric;
 * the form is checked here, the workload metric's existence when gates are
 * evaluated (workloads add metrics at run time).
 */
typedef struct bench_gate {
    char *name; /* "name", or made from the rule ("rss_peak_bytes below 536870912") */
    char *metric;
    char *note; /* why the band is what it is; "" when none */
    bench_gate_kind kind;
    double pass;             /* BELOW/ABOVE: edge of the pass band, in the metric's unit */
    double conditional;      /* BELOW/ABOVE: edge of the conditional band; NAN when none */
    double max_regression;   /* REGRESSION: allowed relative worsening (0.05 = 5%) */
    bench_gate_where *where; /* all must hold; none: every point */
    size_t n_where;
} bench_gate;

typedef struct bench_scenario {
    char *path;
    char *name;
    char *description;
    const bench_workload *workload;
    bench_value *fixed; /* [workload->n_params]: defaults, then "params", then --set */
    bench_axis *axes;   /* in file order; the first varies slowest */
    size_t n_axes;
    bench_policy policy;
    char **counters; /* NULL: the default set */
    size_t n_counters;
    bench_gate *gates; /* in file order */
    size_t n_gates;
} bench_scenario;

/* Parses scenario text; path is used in messages. Returns 0, or -1 with e set. */
int bench_scenario_parse(const char *path, const char *text, bench_scenario **out, bench_err *e);

/* Reads and parses a scenario file. Returns 0, or -1 with e set. */
int bench_scenario_load(const char *path, bench_scenario **out, bench_err *e);

/*
 * Applies one --set KEY=VALUE: a parameter (a comma-separated VALUE sets a
 * sweep; a single value fixes the parameter, replacing any sweep of it) or a
 * measurement field "measure.FIELD". Returns 0, or -1 with e set.
 */
int bench_scenario_apply_set(bench_scenario *s, const char *assignment, bench_err *e);

/* The axis sweeping parameter index param, or NULL. */
const bench_axis *bench_scenario_axis(const bench_scenario *s, int param);

/* The effective scenario (after --set) as JSON, in the file format. NULL on OOM. */
cJSON *bench_scenario_to_json(const bench_scenario *s);

/* Accepts NULL. */
void bench_scenario_free(bench_scenario *s);

#endif
