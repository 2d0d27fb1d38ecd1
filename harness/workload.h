/*
 * workload.h - what the runner drives: typed parameters and the workload
 * interface (setup / run one operation / teardown).
 *
 * A workload declares its parameters as a table of specs (name, type, range,
 * default); scenarios and --set are validated against that table, so a
 * workload's code only ever sees values that passed it.
 */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "measure/stats.h"
#include "util.h"

typedef enum bench_param_type {
    BENCH_PARAM_INT,
    BENCH_PARAM_FLOAT,
    BENCH_PARAM_STRING,
    BENCH_PARAM_BOOL,
} bench_param_type;

typedef struct bench_value {
    bench_param_type type;
    int64_t i;
    double f;
    bool b;
    char *s; /* owned by whoever owns the value */
} bench_value;

typedef struct bench_param_spec {
    const char *name;
    bench_param_type type;
    const char *def;            /* default in --set syntax ("256", "true", "ip"); NULL: required */
    double min, max;            /* inclusive range for INT and FLOAT */
    const char *const *choices; /* STRING: NULL-terminated allowed values; NULL: any */
    const char *unit;           /* "", "elements", "threads", ... */
    const char *description;
} bench_param_spec;

/* A full assignment of a workload's parameters, in spec order. */
typedef struct bench_params {
    const bench_param_spec *specs;
    const bench_value *values;
    size_t n;
} bench_params;

int64_t bench_params_int(const bench_params *p, const char *name);
double bench_params_float(const bench_params *p, const char *name);
bool bench_params_bool(const bench_params *p, const char *name);
const char *bench_params_string(const bench_params *p, const char *name);

/* What the runner measured for a point, handed to a workload's metrics hook. */
typedef struct bench_point_measure {
    size_t n_ops;
    int64_t wall_ns; /* wall time of the measured operations, all repetitions */
    double items_per_s;
    double ops_per_s;
    const bench_summary *latency_ns;
    double calib_sgemm_gflops; /* the run's 1-thread sgemm calibration; 0 when none */
} bench_point_measure;

typedef struct bench_workload {
    const char *name;
    const char *description;
    const char *item_unit; /* what one item is: "flop", "byte", "op" */
    const bench_param_spec *params;
    size_t n_params;
    /* Builds the state for one point; not timed. Returns 0, or -1 with e set. */
    int (*setup)(const bench_params *p, void **state, bench_err *e);
    /* One measured operation. Returns 0, or -1 with e set. */
    int (*run_op)(void *state, bench_err *e);
    /* Items one operation processes (constant for a point). */
    double (*items_per_op)(const void *state);
    /* Optional: adds workload metrics with bench_metric_add. Returns 0 or -1 (OOM). */
    int (*metrics)(const void *state, const bench_point_measure *m, cJSON *metrics);
    /* Optional: adds string labels that qualify the point (what the weights are, which
     * kernels ran) with cJSON_AddStringToObject. Returns 0 or -1 (OOM). */
    int (*labels)(const void *state, cJSON *labels);
    void (*teardown)(void *state);
} bench_workload;

/* Metric direction, for comparisons: which way is better. */
typedef enum bench_better {
    BENCH_BETTER_HIGHER,
    BENCH_BETTER_LOWER,
    BENCH_BETTER_NONE
} bench_better;

/* Adds {"value", "unit", "better"} under name to a metrics object. Returns 0 or -1 (OOM). */
int bench_metric_add(cJSON *metrics, const char *name, double value, const char *unit,
                     bench_better better);

/* Every built-in workload, NULL-terminated. */
extern const bench_workload *const bench_workloads[];

/* The workload named name, or NULL. */
const bench_workload *bench_workload_find(const char *name);

/* Index of the parameter named name in w's table, or -1. */
int bench_workload_param_index(const bench_workload *w, const char *name);

/*
 * Parses text (--set syntax: 12, 0.5, true/false, a bare string) into a value
 * of spec's type and checks its range/choices. Returns 0, or -1 with e saying
 * what is wrong without a location prefix ("must be an integer (got "x")").
 */
int bench_value_parse(const bench_param_spec *spec, const char *text, bench_value *out,
                      bench_err *e);

/* Checks v against spec's range/choices. Returns 0, or -1 with e as above. */
int bench_value_check(const bench_param_spec *spec, const bench_value *v, bench_err *e);

/* Formats v as --set syntax text. Returns the length snprintf would write. */
int bench_value_format(const bench_value *v, char *buf, size_t size);

bool bench_value_equal(const bench_value *a, const bench_value *b);

/* Deep copy (string duplicated). Returns 0 or -1 (OOM). */
int bench_value_copy(bench_value *dst, const bench_value *src);

void bench_value_clear(bench_value *v);

/* v as a JSON value (number, string, bool). NULL on OOM. */
cJSON *bench_value_to_json(const bench_value *v);

#endif
