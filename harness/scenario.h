/*
 * scenario.h - a scenario file parsed into typed structs.
 *
 * A scenario names a workload, fixed parameters, a sweep (lists of values per
 * parameter), the measurement policy and the counters to read. Parsing is
 * strict: unknown fields, wrong types, empty or duplicated sweep values and
 * impossible values are rejected with "FILE: $.json.path: what is wrong
 * (got X)". See README "Scenario format".
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
