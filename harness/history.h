/*
 * history.h - every run of lore-bench, kept in one SQLite file
 * (results/history.sqlite), and the trend of a metric across runs with its
 * change points.
 *
 * `lore-bench run` appends each run it writes (its points and their metrics) in
 * one transaction; a history that cannot be written costs a warning, never the
 * run. `lore-bench history SCENARIO` reads the series of one metric per point
 * (and machine class) back, oldest first, and marks where it changed.
 *
 * The file is versioned (PRAGMA user_version, PRAGMA application_id): a file
 * written by a newer lore-bench, or a database that is not a lore-bench
 * history, is refused with a message rather than altered. history.c is the
 * only harness file that includes <sqlite3.h>.
 *
 * Change points: binary segmentation with a rank statistic and a permutation
 * test (see bench_history_change_points below and history.c).
 */
#ifndef BENCH_HISTORY_H
#define BENCH_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "util.h"
#include "workload.h"

#define BENCH_HISTORY_SCHEMA_VERSION 1
#define BENCH_HISTORY_DEFAULT_PATH "results/history.sqlite"
#define BENCH_HISTORY_ENV "LORE_BENCH_HISTORY"
#define BENCH_HISTORY_OFF_ENV "LORE_BENCH_NO_HISTORY"

/* The history file to use: flag when not NULL, else $LORE_BENCH_HISTORY when set and not
 * empty, else BENCH_HISTORY_DEFAULT_PATH. */
const char *bench_history_path(const char *flag);

/*
 * Appends one run (a result document as bench_results_build makes it or
 * bench_results_read returns it) to the history at path, creating the file
 * and its folder when missing. result_path (may be NULL) is where the result
 * was written; hostname (may be NULL) the machine that ran it. Everything is
 * written in one transaction: on failure nothing of the run is kept. Returns
 * 0, or -1 with e naming the file and what failed (not SQLite, a newer
 * schema, a run already recorded, a field missing from the result).
 */
int bench_history_append(const char *path, const cJSON *result, const char *result_path,
                         const char *hostname, bench_err *e);

/*
 * `run`'s hook: appends the run, written to result_dir/result.json, to path
 * (NULL: bench_history_path(NULL)) and, when that fails, prints a warning to
 * stderr. Never fails the run. Does nothing when $LORE_BENCH_NO_HISTORY is set
 * to anything but "" or "0" (for tools that run lore-bench many times over,
 * such as ab, whose runs would interleave two builds in one series).
 */
void bench_history_record_run(const char *path, const cJSON *result, const char *result_dir);

/* One run's value in a series. */
typedef struct bench_history_entry {
    char run_id[160];
    char started_at[40]; /* ISO 8601 UTC, as in the result */
    char commit[48];
    bool dirty;
    bool complete; /* the run was not interrupted */
    double value;
} bench_history_entry;

/* The series of one metric at one point (same parameters, same machine class). */
typedef struct bench_history_series {
    char point_id[256];
    char *params_json; /* the point's parameters, canonical JSON, owned */
    char machine_class[160];
    char metric[96];
    char unit[48];
    bench_better better;
    bench_history_entry *entries; /* oldest first */
    size_t n_entries;
} bench_history_series;

/* What bench_history_query reads. */
typedef struct bench_history_query_opts {
    const char *scenario; /* scenario name */
    const char *metric;   /* NULL: "throughput" */
    /* Point filters KEY=VALUE as `run --filter` takes them: KEY a parameter, "id" or
     * "index"; filters on one key are alternatives, different keys must all match. */
    const char *const *filters;
    size_t n_filters;
    size_t last; /* keep the last N runs of each series; 0: all */
} bench_history_query_opts;

/*
 * Reads the series of one metric of one scenario from the history at path
 * (opened read-only). Series are ordered by first appearance, entries by the
 * runs' start time. Returns 0 with *out (bench_history_series_free) and
 * *n_out >= 1; -1 with e set for bad input: no such file, not a (SQLite or
 * lore-bench) history, a newer schema, no run of the scenario (the message
 * lists the scenarios present), an unknown metric (the message lists the
 * metrics), a bad filter or no point matching the filters; -2 with e set
 * when reading fails halfway or memory runs out.
 */
int bench_history_query(const char *path, const bench_history_query_opts *o,
                        bench_history_series **out, size_t *n_out, bench_err *e);

void bench_history_series_free(bench_history_series *s, size_t n);

/* ---- change points ---- */

typedef struct bench_cp_opts {
    size_t min_segment; /* fewest values on either side of a change (default 3) */
    double min_effect;  /* smallest |median after / median before - 1| kept (default 0.05) */
    double alpha;       /* permutation-test level per split (default 0.01) */
    int n_perm;         /* permutations per test (default 999) */
    uint64_t seed;      /* permutation seed (default 1): same series, same answer */
} bench_cp_opts;

bench_cp_opts bench_cp_default_opts(void);

typedef struct bench_change_point {
    size_t index;         /* first value after the change */
    double median_before; /* median of the segment ending at index */
    double median_after;  /* median of the segment starting at index */
    double rel_change;    /* median_after / median_before - 1 (INFINITY from 0) */
    double p_value;       /* permutation p-value of the split that found it */
} bench_change_point;

/*
 * Change points of x[0..n) in order of index; at most max_out are written to
 * out (n/min_segment is always enough), *n_out gets their count.
 *
 * Method (history.c explains why): binary segmentation. A segment of at least
 * 2 min_segment values is split where the standardised Mann-Whitney statistic
 * between the two sides is largest in absolute value; the split is kept when a
 * permutation test of that maximum (n_perm shuffles of the segment) gives
 * p <= alpha, and both sides are searched again. When no single split passes,
 * an arc (a stretch against the rest: a change that later reverts) is scanned
 * and tested the same way (circular binary segmentation; segments up to 500
 * values). Then change points whose neighbouring segments' medians differ by
 * less than min_effect are removed, smallest first, merging segments, and each
 * one left is placed again by a split scan of its two neighbouring segments.
 * Rank-based, so one outlier can neither make nor hide a step, and the answer
 * is the same on log values.
 * Returns 0, or -1 (a value not finite, bad options, OOM).
 */
int bench_history_change_points(const double *x, size_t n, const bench_cp_opts *o,
                                bench_change_point *out, size_t max_out, size_t *n_out);

/* `lore-bench history ...` (argv[1] is "history"). Returns the exit code. */
int bench_history_main(int argc, char **argv);

#endif
