/*
 * results.h - the result of a run: result.json (schema lore-bench/1, every
 * point with its raw samples) and result.csv (one row per point), both
 * written atomically into the run's folder. README "Result format" documents
 * every field.
 */
#ifndef BENCH_RESULTS_H
#define BENCH_RESULTS_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "host.h"
#include "runner.h"
#include "scenario.h"
#include "sweep.h"
#include "util.h"

#define BENCH_RESULT_SCHEMA "lore-bench/1"

typedef struct bench_result_meta {
    const char *run_id;
    int argc;
    char **argv;
    int64_t started_unix_ms;
    int64_t finished_unix_ms;
} bench_result_meta;

/* Builds the result document. NULL on OOM. */
cJSON *bench_results_build(const bench_scenario *s, const bench_grid *g, const bench_run *run,
                           const bench_host *host, const bench_result_meta *meta);

/* Writes dir/result.json and dir/result.csv from doc. Returns 0, or -1 with e set. */
int bench_results_write(const char *dir, const cJSON *doc, bench_err *e);

/* The CSV rendering of a result document (caller frees). NULL on OOM. */
char *bench_results_csv(const cJSON *doc);

/*
 * Reads and checks a result file (JSON, schema lore-bench/1, points present).
 * Returns 0 with *out (caller cJSON_Deletes), or -1 with e naming file and field.
 */
int bench_results_read(const char *path, cJSON **out, bench_err *e);

/* Milliseconds since the Unix epoch. */
int64_t bench_unix_ms(void);

#endif
