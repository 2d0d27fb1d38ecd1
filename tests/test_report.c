/*
 * test_report.c - `lore-bench report` and its gnuplot module, on synthetic
 * results written here (no measuring): a search-like sweep with a string
 * axis full of HTML special characters, a batch axis, a lists x probes grid,
 * recall, stage metrics, counters and one failed point.
 *
 * Oracles: the files each plot kind must leave (the .gp naming its own .dat
 * and .svg), the exact base64 of an SVG that a fake gnuplot writes (proving
 * the HTML inlines what gnuplot made, from the report's folder), the exact
 * escaped text of hostile parameter values, warning lines for every way
 * gnuplot can be missing or fail (absent, exit status, no SVG, time limit),
 * and the verdicts of a candidate made 30% slower than its baseline. When a
 * real gnuplot is installed, every script must render with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot.h"
#include "report.h"
#include "util.h"

#define HOSTILE "a<b&c\"'"
#define HOSTILE_HTML "a&lt;b&amp;c&quot;&#39;"

/* The plots the synthetic sweep must produce (no baseline). */
static const char *const PLOTS[] = {
    "throughput_batch", "recall_qps", "heatmap_throughput", "heatmap_recall", "stages",
    "latency",          "rss"};
#define N_PLOTS (sizeof PLOTS / sizeof PLOTS[0])

/* What the fake gnuplot writes, and its base64 (computed independently). */
#define FAKE_SVG                                                                                   \
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\"><rect width=\"8\" "        \
    "height=\"8\"/></svg>"
#define FAKE_SVG_B64                                                                               \
    "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSI4IiBoZWlnaHQ9IjgiPjxyZWN0IHdp" \
    "ZHRoPSI4IiBoZWlnaHQ9IjgiLz48L3N2Zz4K"

typedef struct fixture {
    char dir[64];
} fixture;

/* ---- building results ---------------------------------------------------------- */

static void add_metric(cJSON *m, const char *name, double v, const char *unit, const char *better)
{
    cJSON *o = cJSON_AddObjectToObject(m, name);
    cJSON_AddNumberToObject(o, "value", v);
    cJSON_AddStringToObject(o, "unit", unit);
    cJSON_AddStringToObject(o, "better", better);
}

static cJSON *make_host(void)
{
    cJSON *h = cJSON_CreateObject();
    cJSON *cpu = cJSON_AddObjectToObject(h, "cpu");
    cJSON_AddStringToObject(cpu, "model", "Test CPU 9000");
    cJSON_AddNumberToObject(cpu, "cores", 2);
    cJSON_AddNumberToObject(h, "memory_bytes", 8.0 * 1024 * 1024 * 1024);
    cJSON_AddStringToObject(h, "kernel", "Linux test");
    cJSON *b = cJSON_AddObjectToObject(h, "build");
    cJSON_AddStringToObject(b, "compiler", "cc 1.0");
    cJSON_AddStringToObject(b, "build_type", "Release");
    cJSON *g = cJSON_AddObjectToObject(h, "git");
    cJSON_AddStringToObject(g, "commit", "0123456789abcdef0123");
    cJSON_AddFalseToObject(g, "dirty");
    cJSON *blas = cJSON_AddObjectToObject(h, "blas");
    cJSON_AddStringToObject(blas, "library", "OpenBLAS");
    cJSON_AddStringToObject(blas, "core", "Haswell");
    cJSON_AddNumberToObject(blas, "threads", 2);
    cJSON *cal = cJSON_AddObjectToObject(h, "calibration");
    cJSON_AddNumberToObject(cal, "sgemm_gflops", 100);
    cJSON_AddNumberToObject(cal, "stream_gbps", 10);
    return h;
}

/*
 * A result of scenario `name`: tier x batch_size x lists x probes (2 x 3 x 2 x
 * 2 = 24 points), latencies scaled by slow, the point at index failed_index
 * failed (SIZE_MAX: none). peer: a "peer" field, or NULL.
 */
static void write_result(const char *dir, const char *name, double slow, size_t failed_index,
                         const char *peer)
{
    static const char *const tiers[] = {HOSTILE, "plain"};
    static const int batches[] = {1, 4, 16}, lists[] = {10, 20}, probes[] = {1, 2};
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "schema", "lore-bench/1");
    cJSON_AddStringToObject(doc, "run_id", "20260101T000000Z-synth-0001");
    cJSON_AddTrueToObject(doc, "complete");
    cJSON_AddStringToObject(doc, "started_at", "2026-01-01T00:00:00.000Z");
    cJSON_AddNumberToObject(doc, "duration_s", 1.5);
    cJSON_AddStringToObject(doc, "lore_version", "0.1.0");
    if (peer)
        cJSON_AddStringToObject(doc, "peer", peer);
    cJSON *sc = cJSON_AddObjectToObject(doc, "scenario");
    cJSON_AddStringToObject(sc, "name", name);
    cJSON_AddStringToObject(sc, "workload", "search");
    cJSON *eff = cJSON_AddObjectToObject(sc, "effective");
    cJSON_AddStringToObject(eff, "description", "<b>synthetic</b> & co");
    cJSON *sweep = cJSON_AddObjectToObject(eff, "sweep");
    cJSON_AddItemToObject(sweep, "tier", cJSON_CreateStringArray(tiers, 2));
    cJSON_AddItemToObject(sweep, "batch_size", cJSON_CreateIntArray(batches, 3));
    cJSON_AddItemToObject(sweep, "lists", cJSON_CreateIntArray(lists, 2));
    cJSON_AddItemToObject(sweep, "probes", cJSON_CreateIntArray(probes, 2));
    cJSON_AddItemToObject(doc, "host", make_host());
    cJSON *points = cJSON_AddArrayToObject(doc, "points");
    size_t index = 0;
    for (int t = 0; t < 2; t++)
        for (int b = 0; b < 3; b++)
            for (int l = 0; l < 2; l++)
                for (int pr = 0; pr < 2; pr++, index++) {
                    cJSON *p = cJSON_CreateObject();
                    cJSON_AddItemToArray(points, p);
                    char id[128];
                    snprintf(id, sizeof id, "tier=%s,batch_size=%d,lists=%d,probes=%d", tiers[t],
                             batches[b], lists[l], probes[pr]);
                    cJSON_AddNumberToObject(p, "index", (double)index);
                    cJSON_AddStringToObject(p, "id", id);
                    cJSON *params = cJSON_AddObjectToObject(p, "params");
                    cJSON_AddStringToObject(params, "kind", "ivf");
                    cJSON_AddStringToObject(params, "tier", tiers[t]);
                    cJSON_AddNumberToObject(params, "batch_size", batches[b]);
                    cJSON_AddNumberToObject(params, "lists", lists[l]);
                    cJSON_AddNumberToObject(params, "probes", probes[pr]);
                    if (index == failed_index) {
                        cJSON_AddStringToObject(p, "status", "error");
                        cJSON_AddStringToObject(p, "error", "boom <x>");
                        continue;
                    }
                    cJSON_AddStringToObject(p, "status", "ok");
                    cJSON_AddStringToObject(p, "item_unit", "query");
                    cJSON_AddNumberToObject(p, "items_per_op", batches[b]);
                    /* 30 samples around a base that grows with batch and probes */
                    double base_ns = 1000.0 * batches[b] * (1 + pr) * (1 + t) * slow;
                    cJSON *samples = cJSON_AddArrayToObject(p, "samples_ns");
                    double sum = 0;
                    for (int k = 0; k < 30; k++) {
                        double v = base_ns * (1 + 0.01 * ((k * 7) % 11));
                        sum += v;
                        cJSON_AddItemToArray(samples, cJSON_CreateNumber(v));
                    }
                    double mean = sum / 30;
                    cJSON_AddNumberToObject(p, "n_samples", 30);
                    cJSON *tp = cJSON_AddObjectToObject(p, "throughput");
                    cJSON_AddNumberToObject(tp, "items_per_s", batches[b] * 1e9 / mean);
                    cJSON_AddNumberToObject(tp, "ops_per_s", 1e9 / mean);
                    cJSON *lat = cJSON_AddObjectToObject(p, "latency_ns");
                    cJSON_AddNumberToObject(lat, "min", base_ns);
                    cJSON_AddNumberToObject(lat, "p50", base_ns * 1.05);
                    cJSON_AddNumberToObject(lat, "p90", base_ns * 1.09);
                    cJSON_AddNumberToObject(lat, "p95", base_ns * 1.1);
                    cJSON_AddNumberToObject(lat, "p99", base_ns * 1.1);
                    cJSON_AddNumberToObject(lat, "p999", base_ns * 1.1);
                    cJSON_AddNumberToObject(lat, "max", base_ns * 1.1);
                    cJSON_AddNumberToObject(lat, "mean", mean);
                    cJSON_AddNumberToObject(lat, "cv", 0.03);
                    cJSON *rss = cJSON_AddObjectToObject(p, "rss");
                    cJSON_AddNumberToObject(rss, "before_bytes", 10e6 + 1e5 * (double)index);
                    cJSON_AddNumberToObject(rss, "after_bytes", 11e6 + 1e5 * (double)index);
                    cJSON_AddNumberToObject(rss, "peak_bytes", 12e6 + 1e5 * (double)index);
                    cJSON_AddTrueToObject(rss, "peak_is_per_point");
                    cJSON *m = cJSON_AddObjectToObject(p, "metrics");
                    add_metric(m, "qps", batches[b] * 1e9 / mean, "queries/s", "higher");
                    add_metric(m, "recall_at_k", 0.5 + 0.2 * pr + 0.1 * l, "ratio", "higher");
                    add_metric(m, "embed_ms", 0.6 * mean / 1e6, "ms", "lower");
                    add_metric(m, "embed_fraction", 0.6, "ratio of op time", "none");
                    add_metric(m, "search_ms", 0.4 * mean / 1e6, "ms", "lower");
                    add_metric(m, "search_fraction", 0.4, "ratio of op time", "none");
                    add_metric(m, "non_search_fraction", 0.6, "ratio of op time", "lower");
                    add_metric(m, "index_bytes", 4096, "bytes", "none");
                    cJSON *ctr = cJSON_AddObjectToObject(p, "counters");
                    cJSON *c1 = cJSON_AddObjectToObject(ctr, "sde:::lore::distances");
                    cJSON_AddTrueToObject(c1, "available");
                    cJSON_AddNumberToObject(c1, "value", 3000.0 * (1 + pr));
                    cJSON_AddNumberToObject(c1, "per_op", 100.0 * (1 + pr));
                    cJSON *c2 = cJSON_AddObjectToObject(ctr, "PAPI_TOT_INS");
                    cJSON_AddFalseToObject(c2, "available");
                    cJSON_AddStringToObject(c2, "reason", "no PMU here");
                }
    char path[256];
    snprintf(path, sizeof path, "%s/result.json", dir);
    mkdir(dir, 0755);
    char *text = cJSON_Print(doc);
    assert_non_null(text);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
    cJSON_Delete(doc);
}

static char *slurp(const char *path)
{
    char *t = bench_read_file(path, NULL, NULL);
    if (!t)
        fail_msg("cannot read %s", path);
    return t;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* A shell script at dir/name with body; returns its path in buf. */
static void write_script(const char *dir, const char *name, const char *body, char *buf,
                         size_t size)
{
    snprintf(buf, size, "%s/%s", dir, name);
    FILE *f = fopen(buf, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(buf, 0755), 0);
}

/* Runs a report of dir/run with the given gnuplot; warnings into *warn_text. */
static int report(const fixture *fx, const char *gnuplot, double timeout_s, const char *baseline,
                  bench_report_info *info, char **warn_text, bench_err *e)
{
    char result[128];
    snprintf(result, sizeof result, "%s/run", fx->dir);
    char *buf = NULL;
    size_t len = 0;
    FILE *warn = open_memstream(&buf, &len);
    assert_non_null(warn);
    bench_report_opts o = {.result_path = result,
                           .baseline_path = baseline,
                           .gnuplot = gnuplot,
                           .plot_timeout_s = timeout_s};
    int rc = bench_report_write(&o, warn, info, e);
    fclose(warn);
    if (warn_text)
        *warn_text = buf;
    else
        free(buf);
    return rc;
}

/* ---- fixtures ---------------------------------------------------------------- */

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/lore-test-report-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    char run[128];
    snprintf(run, sizeof run, "%s/run", fx->dir);
    write_result(run, "synth", 1.0, 5, NULL);
    *state = fx;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture *fx = *state;
    nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_quote(void **state)
{
    (void)state;
    bench_plot_buf b = {0};
    bench_plot_quote(&b, "it's\na\ttab");
    assert_string_equal(b.p, "'it''s a tab'");
    bench_plot_buf_free(&b);
    bench_plot_quote(&b, "");
    assert_string_equal(b.p, "''");
    bench_plot_buf_free(&b);
}

static void test_find(void **state)
{
    (void)state;
    bench_plotter p;
    bench_plot_find(&p, "/nonexistent/gnuplot", 0);
    assert_false(p.available);
    assert_non_null(strstr(p.why, "/nonexistent/gnuplot"));
    assert_true(p.timeout_s > 0);
    bench_plot_find(&p, "none", 0);
    assert_false(p.available);
    bench_plot_find(&p, "sh", 2); /* on PATH */
    assert_true(p.available);
    assert_non_null(strchr(p.exe, '/'));
    assert_true(p.timeout_s == 2);
    setenv(BENCH_PLOT_ENV, "/nonexistent", 1);
    bench_plot_find(&p, NULL, 0);
    assert_false(p.available);
    assert_non_null(strstr(p.why, BENCH_PLOT_ENV "=/nonexistent"));
    unsetenv(BENCH_PLOT_ENV);
}

/* No gnuplot: every table, every plot's .dat and .gp, no image, and a warning. */
static void test_no_gnuplot_tables_and_warning(void **state)
{
    fixture *fx = *state;
    bench_report_info info;
    bench_err e = {{0}};
    char *warn = NULL;
    setenv(BENCH_PLOT_ENV, "/nonexistent", 1);
    int rc = report(fx, NULL, 0, NULL, &info, &warn, &e);
    unsetenv(BENCH_PLOT_ENV);
    assert_int_equal(rc, BENCH_EXIT_OK);
    assert_int_equal(info.n_plots, N_PLOTS);
    assert_int_equal(info.n_plots_rendered, 0);
    /* the warning names why, once on stderr and at the top of both reports */
    assert_non_null(
        strstr(warn, "lore-bench: warning: no plots rendered: " BENCH_PLOT_ENV "=/nonexistent"));
    assert_non_null(strstr(warn, "1 of 24 points failed"));
    char *md = slurp(info.md_path), *html = slurp(info.html_path);
    assert_int_equal(count(md, "no plots rendered"), 1);
    assert_int_equal(count(html, "no plots rendered"), 1);
    assert_true(strstr(md, "no plots rendered") < strstr(md, "## Summary"));
    assert_null(strstr(html, "<img"));
    assert_int_equal(count(html, "not rendered (see the warning above)"), N_PLOTS);
    /* tables: summary (24 rows), the failed point, counters with the unavailable one */
    assert_non_null(strstr(md, "| tier | batch_size | lists | probes | qps (queries/s) |"));
    assert_non_null(strstr(md, "boom &lt;x&gt;"));
    assert_non_null(strstr(md, "PAPI_TOT_INS (no PMU here)"));
    assert_non_null(strstr(md, "distances per op"));
    /* the aggregate non_search_fraction is no stage; embed and search are */
    assert_non_null(strstr(md, "| point | embed (ms) | search (ms) |"));
    assert_null(strstr(md, "non_search (ms)"));
    /* every plot's files, each script naming its own data and output */
    for (size_t i = 0; i < N_PLOTS; i++) {
        char path[256], want[128];
        snprintf(path, sizeof path, "%s/run/plots/%s.dat", fx->dir, PLOTS[i]);
        assert_true(exists(path));
        snprintf(path, sizeof path, "%s/run/plots/%s.gp", fx->dir, PLOTS[i]);
        char *gp = slurp(path);
        snprintf(want, sizeof want, "'plots/%s.dat'", PLOTS[i]);
        assert_non_null(strstr(gp, want));
        snprintf(want, sizeof want, "set output 'plots/%s.svg'", PLOTS[i]);
        assert_non_null(strstr(gp, want));
        assert_non_null(strstr(gp, "set terminal svg"));
        free(gp);
        snprintf(path, sizeof path, "%s/run/plots/%s.svg", fx->dir, PLOTS[i]);
        assert_false(exists(path));
    }
    /* the heatmap's data leaves the failed cell out: 23 cells of 24 */
    char path[256];
    snprintf(path, sizeof path, "%s/run/plots/heatmap_recall.dat", fx->dir);
    char *dat = slurp(path);
    size_t rows = 0;
    for (char *line = dat; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        rows += *line >= '0' && *line <= '9';
    assert_int_equal(rows, 23);
    free(dat);
    free(md);
    free(html);
    free(warn);
}

/* Parameter values, descriptions and errors reach HTML and Markdown escaped. */
static void test_escaping(void **state)
{
    fixture *fx = *state;
    bench_report_info info;
    bench_err e = {{0}};
    assert_int_equal(report(fx, "none", 0, NULL, &info, NULL, &e), BENCH_EXIT_OK);
    char *md = slurp(info.md_path), *html = slurp(info.html_path);
    assert_null(strstr(html, HOSTILE));
    assert_null(strstr(html, "<b>synthetic"));
    assert_null(strstr(html, "boom <x>"));
    assert_non_null(strstr(html, "<td>" HOSTILE_HTML "</td>"));
    assert_non_null(strstr(html, "&lt;b&gt;synthetic&lt;/b&gt; &amp; co"));
    assert_non_null(strstr(html, "boom &lt;x&gt;"));
    assert_null(strstr(md, "a<b"));
    assert_non_null(strstr(md, "a&lt;b&amp;c\"'"));
    /* the hostile value in a gnuplot script is a quoted string (' doubled) */
    char path[256];
    snprintf(path, sizeof path, "%s/run/plots/throughput_batch.gp", fx->dir);
    char *gp = slurp(path);
    assert_non_null(strstr(gp, "'tier=a<b&c\"'', lists=10, probes=1'"));
    free(gp);
    free(md);
    free(html);
}

/* A fake gnuplot that writes a known SVG: the HTML carries exactly its bytes. */
static void test_svg_inlined(void **state)
{
    fixture *fx = *state;
    char fake[256];
    write_script(fx->dir, "fake-gnuplot",
                 "case \"$1\" in plots/*.gp) ;; *) exit 9;; esac\n"
                 "test -f \"$1\" || exit 8\n"
                 "printf '%s\\n' '" FAKE_SVG "' > \"${1%.gp}.svg\"",
                 fake, sizeof fake);
    bench_report_info info;
    bench_err e = {{0}};
    char *warn = NULL;
    assert_int_equal(report(fx, fake, 5, NULL, &info, &warn, &e), BENCH_EXIT_OK);
    assert_int_equal(info.n_plots, N_PLOTS);
    assert_int_equal(info.n_plots_rendered, N_PLOTS);
    assert_null(strstr(warn, "not rendered"));
    char *html = slurp(info.html_path), *md = slurp(info.md_path);
    assert_int_equal(count(html, "<img "), N_PLOTS);
    assert_int_equal(count(html, "src=\"data:image/svg+xml;base64," FAKE_SVG_B64 "\""), N_PLOTS);
    /* self-contained: nothing loaded from elsewhere */
    assert_null(strstr(html, "src=\"http"));
    assert_null(strstr(html, "href=\"http"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<link"));
    for (size_t i = 0; i < N_PLOTS; i++) {
        char want[128];
        snprintf(want, sizeof want, "](plots/%s.svg)", PLOTS[i]);
        assert_non_null(strstr(md, want));
    }
    free(html);
    free(md);
    free(warn);
}

/* gnuplot that fails, writes nothing, or hangs: a warning each, the report still written. */
static void test_gnuplot_failures(void **state)
{
    fixture *fx = *state;
    char script[256];
    bench_report_info info;
    bench_err e = {{0}};
    char *warn = NULL;

    write_script(fx->dir, "failing", "echo 'line 3: boom here' >&2\necho '   ^' >&2\nexit 3",
                 script, sizeof script);
    assert_int_equal(report(fx, script, 5, NULL, &info, &warn, &e), BENCH_EXIT_OK);
    assert_int_equal(info.n_plots_rendered, 0);
    assert_int_equal(count(warn, "exit status 3: line 3: boom here"), N_PLOTS);
    free(warn);

    write_script(fx->dir, "silent", "exit 0", script, sizeof script);
    assert_int_equal(report(fx, script, 5, NULL, &info, &warn, &e), BENCH_EXIT_OK);
    assert_int_equal(info.n_plots_rendered, 0);
    assert_int_equal(count(warn, "exited 0 but wrote no SVG"), N_PLOTS);
    free(warn);

    /* a hang is killed at the limit, and the later plots do not wait again */
    write_script(fx->dir, "hanging", "exec sleep 30", script, sizeof script);
    assert_int_equal(report(fx, script, 0.2, NULL, &info, &warn, &e), BENCH_EXIT_OK);
    assert_int_equal(info.n_plots_rendered, 0);
    assert_int_equal(info.n_plots, N_PLOTS);
    assert_int_equal(count(warn, "ran past the 0.2 s limit and was killed"), 1);
    assert_int_equal(count(warn, "the remaining plots are not rendered either"), 1);
    assert_int_equal(count(warn, "lore-bench: warning: "), 3); /* + the failed point */
    char *html = slurp(info.html_path);
    assert_non_null(strstr(html, "was killed"));
    free(html);
    free(warn);
    char log[256];
    snprintf(log, sizeof log, "%s/run/plots/throughput_batch.log", fx->dir);
    assert_false(exists(log));
}

/* The real gnuplot, when installed: every script this module writes must render. */
static void test_real_gnuplot(void **state)
{
    fixture *fx = *state;
    bench_plotter p;
    bench_plot_find(&p, "gnuplot", 0);
    if (!p.available)
        skip();
    bench_report_info info;
    bench_err e = {{0}};
    char *warn = NULL;
    char base[128];
    snprintf(base, sizeof base, "%s/base", fx->dir);
    write_result(base, "synth", 1.0, 5, NULL);
    assert_int_equal(report(fx, "gnuplot", 20, base, &info, &warn, &e), BENCH_EXIT_OK);
    if (info.n_plots_rendered != info.n_plots)
        fail_msg("gnuplot rendered %zu of %zu plots:\n%s", info.n_plots_rendered, info.n_plots,
                 warn);
    assert_int_equal(info.n_plots, N_PLOTS + 1); /* + the ratio bars */
    for (size_t i = 0; i < N_PLOTS; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/run/plots/%s.svg", fx->dir, PLOTS[i]);
        char *svg = slurp(path);
        assert_non_null(strstr(svg, "<svg"));
        free(svg);
    }
    free(warn);
}

/* A candidate 30% slower than its baseline: worse verdicts first, and ratio bars. */
static void test_baseline_verdicts(void **state)
{
    fixture *fx = *state;
    char base[128], cand[128];
    snprintf(base, sizeof base, "%s/base", fx->dir);
    snprintf(cand, sizeof cand, "%s/slow", fx->dir);
    write_result(base, "synth", 1.0, SIZE_MAX, NULL);
    write_result(cand, "synth", 1.3, SIZE_MAX, NULL);
    bench_report_opts o = {.result_path = cand, .baseline_path = base, .gnuplot = "none"};
    bench_report_info info;
    bench_err e = {{0}};
    assert_int_equal(bench_report_write(&o, NULL, &info, &e), BENCH_EXIT_OK);
    char *md = slurp(info.md_path), *html = slurp(info.html_path);
    assert_non_null(strstr(md, "## Verdict"));
    assert_null(strstr(md, "## Summary"));
    assert_non_null(strstr(md, "WORSE: "));
    /* the first table row is a worse one, on the wall track; rows carry their class */
    const char *first = strstr(md, "|---|");
    assert_non_null(first);
    assert_true(strncmp(strchr(first, '\n') + 1, "| worse | wall |", 16) == 0);
    assert_non_null(strstr(html, "<tr class=\"worse\">"));
    assert_non_null(strstr(md, "-23.1%")); /* throughput 1/1.3 - 1 */
    char path[256];
    snprintf(path, sizeof path, "%s/plots/ratios.gp", cand);
    assert_true(exists(path));
    char *gp = slurp(path);
    assert_non_null(strstr(gp, "'plots/ratios.dat'"));
    assert_non_null(strstr(gp, "title 'worse'"));
    free(gp);
    free(md);
    free(html);
}

static void test_peers(void **state)
{
    fixture *fx = *state;
    char run[128], peer[128], other[128];
    snprintf(run, sizeof run, "%s/run", fx->dir);
    snprintf(peer, sizeof peer, "%s/faiss", fx->dir);
    snprintf(other, sizeof other, "%s/other", fx->dir);
    write_result(peer, "synth", 2.0, SIZE_MAX, "faiss");
    write_result(other, "not-synth", 1.0, SIZE_MAX, "faiss");
    const char *peers[] = {peer};
    bench_report_opts o = {
        .result_path = run, .peer_paths = peers, .n_peers = 1, .gnuplot = "none"};
    bench_report_info info;
    bench_err e = {{0}};
    assert_int_equal(bench_report_write(&o, NULL, &info, &e), BENCH_EXIT_OK);
    char *md = slurp(info.md_path);
    assert_non_null(strstr(md, "## Peers"));
    assert_non_null(strstr(md, "ratio lore/faiss"));
    assert_non_null(strstr(md, "| 2.00x |")); /* twice as fast as a peer at double latency */
    free(md);
    const char *bad_peers[] = {other};
    o.peer_paths = bad_peers;
    assert_int_equal(bench_report_write(&o, NULL, &info, &e), BENCH_EXIT_USAGE);
    assert_non_null(strstr(e.msg, "$.scenario.name"));
    assert_non_null(strstr(e.msg, other));
}

static void test_bad_inputs(void **state)
{
    fixture *fx = *state;
    bench_report_info info;
    bench_err e = {{0}};
    char path[256];
    bench_report_opts o = {.gnuplot = "none"};

    snprintf(path, sizeof path, "%s/missing/result.json", fx->dir);
    o.result_path = path;
    assert_int_equal(bench_report_write(&o, NULL, &info, &e), BENCH_EXIT_USAGE);
    assert_non_null(strstr(e.msg, path));

    /* a metric value that is not a number: file, field and value named */
    char dir[128];
    snprintf(dir, sizeof dir, "%s/badmetric", fx->dir);
    write_result(dir, "synth", 1.0, SIZE_MAX, NULL);
    snprintf(path, sizeof path, "%s/result.json", dir);
    char *text = slurp(path);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    cJSON *m = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "points"), 1), "metrics"),
        "qps");
    cJSON_ReplaceItemInObject(m, "value", cJSON_CreateString("fast"));
    text = cJSON_Print(doc);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    free(text);
    cJSON_Delete(doc);
    o.result_path = dir; /* a folder holding result.json */
    assert_int_equal(bench_report_write(&o, NULL, &info, &e), BENCH_EXIT_USAGE);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "$.points[1].metrics.qps.value: must be a number"));
    assert_non_null(strstr(e.msg, "\"fast\""));

    /* the subcommand: usage errors exit 2 */
    char *argv1[] = {"lore-bench", "report", "--bogus", NULL};
    assert_int_equal(bench_report_cli(3, argv1), BENCH_EXIT_USAGE);
    char *argv2[] = {"lore-bench", "report", NULL};
    assert_int_equal(bench_report_cli(2, argv2), BENCH_EXIT_USAGE);
    char *argv3[] = {"lore-bench", "report", dir, "--peer", NULL};
    assert_int_equal(bench_report_cli(4, argv3), BENCH_EXIT_USAGE);
}

/* -o puts the report elsewhere and leaves the result's folder alone. */
static void test_output_folder(void **state)
{
    fixture *fx = *state;
    char run[128], out[128], path[256];
    snprintf(run, sizeof run, "%s/run", fx->dir);
    snprintf(out, sizeof out, "%s/elsewhere/deeper", fx->dir);
    bench_report_opts o = {.result_path = run, .out_dir = out, .gnuplot = "none"};
    bench_report_info info;
    bench_err e = {{0}};
    assert_int_equal(bench_report_write(&o, NULL, &info, &e), BENCH_EXIT_OK);
    snprintf(path, sizeof path, "%s/report.html", out);
    assert_string_equal(info.html_path, path);
    assert_true(exists(path));
    snprintf(path, sizeof path, "%s/plots/latency.gp", out);
    assert_true(exists(path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_no_gnuplot_tables_and_warning),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_svg_inlined),
        cmocka_unit_test(test_gnuplot_failures),
        cmocka_unit_test(test_real_gnuplot),
        cmocka_unit_test(test_baseline_verdicts),
        cmocka_unit_test(test_peers),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_output_folder),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
