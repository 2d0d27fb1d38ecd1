/*
 * instructions.h - the instruction-count track: `lore-bench run SCENARIO --instructions`.
 *
 * lore-bench re-runs its own command line under valgrind's callgrind:
 *
 *   valgrind --tool=callgrind --instr-atstart=no --dump-instr=no
 *            --callgrind-out-file=TMP/cg.%p -q lore-bench run SCENARIO ... --instructions
 *
 * with LORE_BENCH_CALLGRIND_DIR=TMP in its environment, waits for it and
 * passes its exit code on. The re-run (under callgrind) measures every point
 * with a reduced policy (one warm-up operation, then exactly `ops` measured
 * operations in one window, no minimum time), and the runner switches
 * callgrind's instrumentation on around each measurement window only (see
 * runner.h), zeroes the counts before a point's first window and dumps them
 * after its last, labelled "lore-bench point=I ops=N". Setup, warm-up,
 * teardown and the harness between points run uninstrumented and are not
 * counted. Each point of the result then gets
 *
 *   "instructions": {"per_op": Ir / ops, "total": Ir, "ops": ops,
 *                    "tool": "callgrind", "valgrind": "3.19.0"}
 *
 * where Ir counts every thread's instructions inside the windows: the
 * operations themselves plus the harness's fixed cost per operation (a clock
 * read and a few branches; the noop workload measures it) and a constant
 * per window (the bracket itself, a few dozen instructions).
 *
 * Why instrumentation and not CALLGRIND_TOGGLE_COLLECT: callgrind's collect
 * state is per thread, so toggling it on the measuring thread would miss the
 * work of the engine's worker and BLAS threads; instrumentation is global.
 * Why "totals:" and not "summary:": after CALLGRIND_ZERO_STATS with
 * instrumentation switched, callgrind 3.19 can write a wrapped summary (seen:
 * 2^64 - 3) while totals, the sum of the dump's cost lines, stays right.
 *
 * Determinism: a single-threaded point counts the same instructions on every
 * run. A point with several engine or BLAS threads also counts their bounded
 * spin-waits (pool.c spins up to POOL_SPIN_ITERS before sleeping), which
 * depend on valgrind's thread scheduling, so its count varies a little; use
 * threads=1 where the count is a hard gate.
 *
 * The result is marked: a top-level "measurement" object says
 * {"mode": "instructions", "wall_metrics_valid": false, ...}; throughput,
 * latency_ns, samples_ns and time-based workload metrics of such a result
 * were taken under valgrind (tens of times slower than native) and must not
 * be compared with anything. The host calibration is skipped (meaningless
 * under valgrind and several seconds long there).
 */
#ifndef BENCH_INSTRUCTIONS_H
#define BENCH_INSTRUCTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "runner.h"
#include "scenario.h"
#include "util.h"

/* Set by the parent in the re-run's environment: the folder callgrind dumps into. */
#define BENCH_INSTR_DIR_ENV "LORE_BENCH_CALLGRIND_DIR"
/* Optional: the valgrind executable to use (default: "valgrind" from PATH). */
#define BENCH_INSTR_VALGRIND_ENV "LORE_BENCH_VALGRIND"
/* Measured operations per point unless --instructions-ops says otherwise. */
#define BENCH_INSTR_DEFAULT_OPS 5
#define BENCH_INSTR_MAX_OPS 1000000
/* The dump label's prefix; the runner writes "lore-bench point=I ops=N". */
#define BENCH_INSTR_LABEL_PREFIX "lore-bench point="

/* One callgrind dump file, as far as the instruction track reads it. */
typedef struct bench_callgrind_dump {
    char version[32];  /* callgrind's version from "creator: callgrind-X" ("3.19.0") */
    char trigger[256]; /* "desc: Trigger: ..." text ("Client Request: lore-bench point=0 ops=5") */
    int64_t part;      /* "part:" (the dump's sequence number), -1 when absent */
    uint64_t ir;       /* instructions: the Ir column of "totals:" */
    bool has_summary;
    uint64_t summary_ir; /* the Ir column of "summary:" (see the file comment: not trusted) */
} bench_callgrind_dump;

/*
 * Parses the text of one callgrind dump (path is for messages). Needs the
 * "# callgrind format" header, an "events:" line naming Ir and a "totals:"
 * line with a value for each event. Returns 0, or -1 with e naming path,
 * line and value.
 */
int bench_callgrind_parse(const char *path, const char *text, bench_callgrind_dump *out,
                          bench_err *e);

/*
 * Parses a dump's trigger "Client Request: lore-bench point=I ops=N" into
 * *point and *ops. Returns 0, or -1 when the trigger is not one of the runner's.
 */
int bench_callgrind_point_label(const char *trigger, size_t *point, size_t *ops);

/* The reduced measurement policy of an instruction run: 1 warm-up operation,
 * then exactly ops operations in one window, no minimum time. */
void bench_instructions_policy(bench_policy *p, int64_t ops);

/* True in the re-run under callgrind (the environment variable is set and
 * valgrind is running us). */
bool bench_instructions_in_callgrind(void);

/*
 * Starts `run --instructions` once the command's inputs are validated. In the
 * process the user started: re-runs argv under callgrind (as described above),
 * waits and returns its exit code (2 with a message when valgrind is missing or
 * lore-bench is already under another valgrind tool). In the re-run: applies
 * bench_instructions_policy(s->policy, ops), turns the runner's callgrind
 * brackets on and returns -1, meaning "measure here".
 */
int bench_instructions_start(bench_scenario *s, int64_t ops, int argc, char **argv);

/*
 * In the re-run, after the result document is built: reads the dumps of the
 * callgrind folder and adds "instructions" to every finished point of doc
 * (doc's points are run's, in order) and the top-level "measurement" object.
 * Returns 0, or -1 with e set (a dump missing, unreadable or disagreeing on the
 * operation count; OOM).
 */
int bench_instructions_attach(cJSON *doc, const bench_run *run, bench_err *e);

/*
 * The same from an explicit folder of dumps (the tests' way in). Dumps whose
 * trigger is not the runner's label are ignored.
 */
int bench_instructions_attach_dir(cJSON *doc, const bench_run *run, const char *dir, bench_err *e);

#endif
