/*
 * runner.h - measures the points of a grid.
 *
 * Per point: setup (not timed), warm-up, then `repetitions` measurement
 * windows. In a window every operation is timed with the monotonic clock from
 * the end of the previous one, so samples tile the window with no gaps and
 * their sum is its wall time (the harness's own cost per operation, measured
 * by the noop workload, is inside each sample). Counters bracket exactly the
 * measured operations. A window ends when it has min_samples and min_time_s,
 * or at max_time_s, or at max_samples. Peak RSS is reset before setup, so it
 * is the point's own (see rss.h).
 *
 * A SIGINT stops the run after the current operation; the finished points are
 * kept, the interrupted one is dropped, and the run is marked interrupted.
 *
 * For the instruction track (instructions.h) the runner can bracket each
 * measurement window with callgrind client requests: instrumentation on just
 * before the window, off just after it (inside the counters' bracket), counts
 * zeroed before a point's first window and dumped after its last. Per window,
 * not per operation, so the loop itself is the same either way.
 *
 * Gate-validation builds (CMake LORE_BENCH_TEST_SLOWDOWN_PCT=P and/or
 * LORE_BENCH_TEST_EXTRA_INSTR=N; never in a real build) slow every measured
 * operation on purpose, inside its sample: a busy-wait of P% of the
 * operation's own duration (skipped under valgrind, where it would only add
 * noise), and N extra instructions (a dec/jnz loop of N/2 rounds on x86-64:
 * callgrind counts exactly N + 1 per operation, the 1 loading the count).
 * The run says so on stderr and in every point's labels.
 */
#ifndef BENCH_RUNNER_H
#define BENCH_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "measure/rss.h"
#include "measure/stats.h"
#include "scenario.h"
#include "sweep.h"

typedef struct bench_rep_result {
    size_t n_samples;
    int64_t wall_ns;
    double items_per_s;
    const char *stop_reason; /* "minimums_met" (min_samples and min_time_s), "max_time",
                              * "max_samples", "interrupted" (static strings) */
} bench_rep_result;

typedef struct bench_counter_result {
    char name[96];
    bool available;
    int64_t value; /* over all measured operations of the point */
    char reason[256];
} bench_counter_result;

typedef struct bench_point_result {
    size_t point; /* index into the grid's points array */
    bool ok;
    char error[1024]; /* when !ok */
    size_t n_warmup_ops;
    int64_t warmup_ns;
    int64_t *samples_ns; /* n_samples, in the order measured, all repetitions */
    size_t n_samples;
    bench_rep_result *reps;
    size_t n_reps;
    bool min_samples_met; /* every repetition reached min_samples */
    double items_per_op;
    int64_t wall_ns; /* sum of the windows */
    double items_per_s;
    double ops_per_s;
    bench_summary latency_ns;
    bench_rss rss_before; /* before setup */
    bench_rss rss_after;  /* after the last window, before teardown */
    int64_t rss_peak_bytes;
    bool rss_peak_reset; /* false: the peak is the process's peak so far */
    bench_counter_result *counters;
    size_t n_counters;
    cJSON *metrics;   /* workload metrics, owned */
    cJSON *labels;    /* workload labels (strings), owned; NULL when none */
    int64_t point_ns; /* whole point, setup to teardown */
} bench_point_result;

typedef struct bench_run {
    bench_point_result *points; /* in the grid's order; n_points finished */
    size_t n_points;
    size_t n_failed;
    bool interrupted;
} bench_run;

/* Called after each finished point. elapsed_s counts from the start of the run. */
typedef void (*bench_progress_fn)(void *ctx, const bench_grid *g, size_t n_done,
                                  const bench_point_result *r, double elapsed_s);

/* Set by the SIGINT handler; the runner stops after the current operation. */
extern volatile sig_atomic_t bench_stop_requested;

/* Installs the SIGINT/SIGTERM handler that sets bench_stop_requested. */
void bench_runner_install_signals(void);

/*
 * Runs every point of g. A point that fails (setup or an operation) is kept
 * with ok = false and its error, and the run goes on. Returns 0 with *out set
 * (even when points failed or the run was interrupted), or -1 with e set when
 * the run could not start (out of memory, counters unusable). calib_sgemm_gflops is
 * the run's 1-thread sgemm calibration (0 when none), handed to workload metrics.
 */
int bench_runner_run(const bench_scenario *s, const bench_grid *g, double calib_sgemm_gflops,
                     bench_progress_fn progress, void *ctx, bench_run **out, bench_err *e);

/* Accepts NULL. */
void bench_run_free(bench_run *r);

/*
 * Turns the callgrind brackets described above on or off (default off) for the
 * runs that follow. Outside valgrind the client requests cost a few
 * instructions per window.
 */
void bench_runner_use_callgrind(bool on);

/*
 * What a gate-validation build does to each measured operation ("wall +10% of
 * each operation; +250000 instructions per operation"), or NULL in a real build.
 */
const char *bench_runner_test_slowdown(void);

#endif
