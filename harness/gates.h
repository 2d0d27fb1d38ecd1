/*
 * gates.h - evaluates a scenario's gates on a result, alone or against a
 * baseline, and renders the outcomes (Markdown verdict table, JUnit XML, JSON).
 *
 * Every gate is judged on every point it selects (its "where"), so one gate
 * gives one outcome per point:
 *
 *   absolute (below / above)  pass, conditional or fail from the value's band.
 *   relative (max_regression) the comparison with the baseline, computed with
 *                             the gate's max_regression as the minimum effect:
 *                             fail only when compare says WORSE and the whole
 *                             confidence interval of the ratio lies past the
 *                             allowed regression; compare's INCONCLUSIVE stays
 *                             inconclusive (with its reason); no baseline, or a
 *                             point the baseline lacks, is skipped.
 *
 * A wall metric compared without a measured noise floor (calibrate-noise) is
 * never failed, only inconclusive: compare's bootstrap interval covers the
 * noise inside each run, not the shift between two runs, which on shared VMs
 * is often several times wider (A/A runs of search_smoke: intervals of +-1%,
 * shifts of 7-27%).
 *
 * Outcomes that cannot be judged say why: a counter this machine cannot read
 * and a metric without a value are inconclusive; timings and RSS of a
 * sanitized build (ASan/UBSan) or of an --instructions run (under valgrind)
 * are skipped; a metric compare shows but never judges is skipped. A gate
 * naming a metric that no point of the result has is an error (bad input),
 * not an outcome.
 *
 * Exit code (bench_gate_report_exit_code): 1 when any outcome is fail; with
 * strict, also when any is conditional or inconclusive; else 0. Skipped
 * outcomes never change it.
 */
#ifndef BENCH_GATES_H
#define BENCH_GATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "compare.h"
#include "scenario.h"
#include "util.h"

#define BENCH_GATES_SCHEMA "lore-gates/1"
/* Set (to anything) in a run's environment: `run` judges no gates (calibrate-noise's runs). */
#define BENCH_GATES_OFF_ENV "LORE_BENCH_NO_GATES"

typedef enum bench_gate_status {
    BENCH_GATE_PASS = 0,
    BENCH_GATE_CONDITIONAL = 1,
    BENCH_GATE_FAIL = 2,
    BENCH_GATE_INCONCLUSIVE = 3,
    BENCH_GATE_SKIPPED = 4,
} bench_gate_status;

#define BENCH_GATE_N_STATUS 5

/* "pass", "conditional", "fail", "inconclusive", "skipped". */
const char *bench_gate_status_name(bench_gate_status s);

/* One gate judged on one point (point "*": on every point it selects). */
typedef struct bench_gate_outcome {
    size_t gate; /* index into the scenario's gates */
    char gate_name[256];
    char metric[96];
    char rule[128]; /* "< 512 MiB pass, < 768 MiB conditional", "at most 5% worse" */
    char point_id[256];
    bench_gate_status status;
    double value;        /* absolute: the point's value; relative: cand / base; NAN: none */
    double ci_lo, ci_hi; /* relative: the ratio's confidence interval; NAN otherwise */
    char value_text[96]; /* value as shown: "412.3 MiB", "0.93 [0.91, 0.95]" */
    char reason[256];
} bench_gate_outcome;

typedef struct bench_gate_report {
    char scenario[128];
    char baseline[512]; /* the baseline's path; "" when there was none */
    bench_gate_outcome *items;
    size_t n_items;
    size_t n_status[BENCH_GATE_N_STATUS]; /* outcomes per bench_gate_status */
} bench_gate_report;

/*
 * Where relative gates get their comparison: compare(ctx, min_effect, &c, e)
 * returns 0 with c, the candidate compared with the baseline using min_effect
 * as the wall track's minimum effect (0: any, the gate's metric is a counter or
 * an instruction count, which min_effect does not touch); c stays owned by the
 * source and valid until the report is built. Or -1 with e set.
 */
typedef int (*bench_gate_compare_fn)(void *ctx, double min_effect, const bench_comparison **out,
                                     bench_err *e);

typedef struct bench_gate_baseline {
    const char *path; /* shown in the report */
    bench_gate_compare_fn compare;
    void *ctx;
} bench_gate_baseline;

/*
 * Judges s's gates on result (a document as bench_results_read returns it);
 * baseline NULL means none (relative gates are skipped). Returns 0 with *out
 * (free with bench_gate_report_free), or -1 with e set: a gate naming a metric
 * no point has, a regression gate on a metric without a direction, a failing
 * comparison, OOM.
 */
int bench_gates_evaluate(const bench_scenario *s, const cJSON *result,
                         const bench_gate_baseline *baseline, bench_gate_report **out,
                         bench_err *e);

/*
 * The scenario a result was run with (result.scenario.effective, parsed and
 * validated like a scenario file; messages name "PATH (scenario.effective)").
 * A result whose effective scenario has no gates gives *out NULL and 0, so old
 * results need not parse under today's workloads. Returns 0, or -1 with e set.
 */
int bench_gates_scenario_of(const cJSON *result, const char *path, bench_scenario **out,
                            bench_err *e);

/*
 * Gates of cand's effective scenario judged on cand, and against base (NULL:
 * none) with bench_compare under opts (NULL: defaults), one comparison per
 * distinct max_regression. *out gets an empty report when cand declares no
 * gates. Returns 0, or -1 with e set (bad input, OOM).
 */
int bench_gates_check(const cJSON *cand, const char *cand_path, const cJSON *base,
                      const char *base_path, const bench_compare_opts *opts,
                      bench_gate_report **out, bench_err *e);

/* 0, or 1 when a gate failed (with strict: or is conditional or inconclusive). */
int bench_gate_report_exit_code(const bench_gate_report *r, bool strict);

/* Writers; each returns 0, or -1 with e set (I/O). strict decides what fails. */
int bench_gate_report_write_markdown(const bench_gate_report *r, bool strict, FILE *f,
                                     bench_err *e);
int bench_gate_report_write_junit(const bench_gate_report *r, bool strict, FILE *f, bench_err *e);
cJSON *bench_gate_report_to_json(const bench_gate_report *r, bool strict); /* NULL on OOM */

/* Accepts NULL. */
void bench_gate_report_free(bench_gate_report *r);

/* ---- command line -------------------------------------------------------------------- */

/* --baseline FILE|DIR|auto, --strict, --junit FILE, as `run` and `gate` take them. */
typedef struct bench_gate_cli {
    const char *baseline; /* NULL: none */
    bool strict;
    const char *junit;
    /* Filled by bench_gate_cli_prepare / bench_gate_cli_finish. */
    cJSON *base_doc;
    char base_path[4096];
    cJSON *noise_doc;
    char noise_path[4096];
} bench_gate_cli;

/*
 * Takes the option at argv[*i] if it is one of the above (advancing *i over
 * its value). Returns 1 when taken, 0 when not ours, -1 on a usage error
 * (printed; exit 2).
 */
int bench_gate_cli_option(int argc, char **argv, int *i, bench_gate_cli *o);

/*
 * Before measuring: loads and checks --baseline FILE or DIR (auto waits for
 * the run's machine class) and that --junit's folder exists. Returns 0, or -1
 * with e set (exit 2).
 */
int bench_gate_cli_prepare(bench_gate_cli *o, const bench_scenario *s, bench_err *e);

/*
 * After a run wrote dir/result.json (doc): resolves --baseline auto, judges the
 * gates, prints the verdict table to stdout, writes dir/gates.md and
 * dir/gates.json (and, with a baseline, dir/comparison.md and .json with the
 * gates inside), and --junit. Prints nothing when the scenario has no gates and
 * no baseline was asked for. Returns the exit code.
 */
int bench_gate_cli_finish(bench_gate_cli *o, const cJSON *doc, const char *result_path,
                          const char *dir);

/*
 * The gates' part of `lore-bench compare`, called after compare wrote its
 * outputs and summary: judges cand's gates against base under opts, prints
 * their verdict table on stdout, appends it to md_path, puts "gates" into
 * json_path's object and the gates' <testsuite> into junit_path (each may be
 * NULL). Returns the gates' exit code when cand declares gates (they are the
 * scenario's contract), else fallback (compare's own); 2 on bad gates, 3 when
 * a file cannot be rewritten.
 */
int bench_gates_compare_cli(const cJSON *cand, const char *cand_path, const cJSON *base,
                            const char *base_path, const bench_compare_opts *opts, bool strict,
                            const char *md_path, const char *json_path, const char *junit_path,
                            int fallback);

void bench_gate_cli_free(bench_gate_cli *o);

/* `lore-bench gate RESULT [--baseline B] [--strict] [--junit FILE]`. Returns the exit code. */
int bench_gate_cli_main(int argc, char **argv);

#endif
