/*
 * report.h - `lore-bench report`: a result (and optionally its comparison
 * with a baseline, and peer results of the same scenario) as report.md and a
 * self-contained report.html, with plots drawn by gnuplot.
 *
 * Layout: the verdict table first (the comparison with the baseline, worst
 * first) or, without a baseline, a summary of the headline metric per point;
 * then the scenario's tables and the plots its sweep's shape calls for:
 * throughput vs batch size (a batch/batch_size axis), recall vs QPS with
 * Pareto fronts (a recall metric), heatmaps (two numeric axes), the stage
 * breakdown (<stage>_fraction metrics), the latency percentile spectrum, RSS
 * per point in run order, and ratio bars with confidence intervals (with a
 * baseline). Plot data and scripts stay in plots/ (see plot.h); the HTML
 * embeds each SVG as a data: URI, so the page needs nothing else. Without
 * gnuplot (or when it fails) the report has its tables and says why the
 * plots are missing, on stderr and in the report.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "compare.h"
#include "util.h"

typedef struct bench_report_opts {
    const char *result_path;       /* result.json, or the folder holding it */
    const char *baseline_path;     /* NULL: no comparison */
    const char *const *peer_paths; /* peer results of the same scenario (scripts/peers) */
    size_t n_peers;
    const char *out_dir;   /* NULL: the result's folder */
    const char *gnuplot;   /* NULL: $LORE_BENCH_GNUPLOT, else gnuplot on PATH */
    double plot_timeout_s; /* one gnuplot run; <= 0: 30 s */
    const cJSON *noise;    /* noise floors for the comparison, or NULL */
} bench_report_opts;

typedef struct bench_report_info {
    char md_path[4096], html_path[4096];
    size_t n_plots;          /* plot files written (.dat + .gp) */
    size_t n_plots_rendered; /* of which gnuplot rendered an SVG */
    size_t n_warnings;       /* warning lines (also in the report and on warn) */
} bench_report_info;

/*
 * Writes out_dir/report.md, out_dir/report.html and out_dir/plots/. Warnings
 * (no gnuplot, a plot that failed, failed points) go to warn (may be NULL)
 * as "lore-bench: warning: ..." lines, and into the report. info may be NULL.
 * Returns BENCH_EXIT_OK; BENCH_EXIT_USAGE when an input is unreadable or
 * invalid (e names the file, the field and the value); BENCH_EXIT_RUNTIME
 * when the report cannot be written or memory runs out.
 */
int bench_report_write(const bench_report_opts *o, FILE *warn, bench_report_info *info,
                       bench_err *e);

/* `lore-bench report ...` (argv[1] is "report"). Returns an exit code. */
int bench_report_cli(int argc, char **argv);

#endif
