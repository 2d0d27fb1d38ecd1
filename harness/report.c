/*
 * report.c - `lore-bench report`: report.md and a self-contained report.html
 * from a result, its comparison with a baseline and peer results (report.h).
 *
 * How it goes: every input is read and checked first (each field the report
 * uses, with a message naming file, field and value), then the comparison
 * runs (compare.c), then the body is laid out section by section into two
 * buffers at once, Markdown and HTML, through one small set of writers
 * (heading, paragraph, table, figure) so both say the same thing. Warnings
 * are gathered while the body is made and put at the top of both.
 *
 * What is plotted follows from the sweep's shape, computed once:
 *   axes      the parameters whose values differ between the candidate's
 *             points (the scenario's sweep order first), numeric or not;
 *   headline  the first workload metric in units per second that is better
 *             higher (qps, texts_per_s, docs_per_s ...), else items/s;
 *   recall    the first metric whose name starts with "recall".
 * A batch/batch_size axis gives throughput vs batch; a recall metric gives
 * recall vs QPS with the Pareto front over the search knobs (probes, ef,
 * lists, M ...) per remaining setting; two numeric axes (besides a batch
 * axis) give heatmaps, one panel per setting of the other axes;
 * <stage>_fraction metrics give stage bars (in ms where every stage also has
 * <stage>_ms). Latency spectrum and RSS are drawn for every result.
 *
 * Plots go through plot.c: data and script files under plots/, rendered by
 * gnuplot to SVG, embedded in the HTML as base64 data: URIs (an <img> each:
 * gnuplot's SVG element ids would collide if inlined side by side) and linked
 * from the Markdown as plots/NAME.svg.
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot.h"
#include "results.h"

#define MAX_AXES 16
#define MAX_PEERS 8
#define MAX_SIDES (2 + MAX_PEERS)
#define HBAR_CAP 60       /* ratio bars drawn at most (worst first when cut) */
#define FACET_CAP 8       /* heatmap panels at most */
#define SPECTRUM_LINES 10 /* up to this many points: one line per point */
#define LOG_SPAN 20.0     /* a value axis spanning this factor goes log */

/* Parameters that tune the recall/speed trade-off of one index: a Pareto front runs over them. */
static const char *const KNOBS[] = {"probes", "ef_search", "ef", "lists", "M", "ef_construction"};

static const char *const LAT_KEYS[] = {"min", "p50", "p90", "p95", "p99", "p999", "max", "mean"};
enum { L_MIN, L_P50, L_P90, L_P95, L_P99, L_P999, L_MAX, L_MEAN, N_LAT };

/* ---- the model ------------------------------------------------------------ */

typedef struct rpoint {
    size_t index;
    const char *id;
    const cJSON *params;
    bool ok;
    const char *error;
    const cJSON *metrics;  /* NULL when the point has none */
    const cJSON *counters; /* NULL when none */
    const cJSON *labels;   /* NULL when none */
    double items_per_s;
    double items_per_op;
    double lat[N_LAT]; /* ns; NAN when absent */
    double cv;
    double n_samples;
    double rss_before, rss_after, rss_peak; /* bytes; NAN when absent */
    bool rss_per_point;
    char label[200]; /* the axis values, for plots */
} rpoint;

typedef struct rside {
    char path[4096];
    char name[96]; /* legend name: "candidate", "baseline", "faiss" ... */
    cJSON *doc;
    const char *scenario, *workload, *item_unit;
    rpoint *pts;
    size_t n;
} rside;

typedef struct raxis {
    const char *name;
    bool numeric;
    bool batch;
} raxis;

typedef struct rtable {
    size_t n_cols, n_rows, cap_rows;
    char **head;
    bool *numeric;
    char **cells; /* n_rows x n_cols, NULL: empty */
    const char **row_class;
    bool oom;
} rtable;

typedef struct rep {
    const bench_report_opts *o;
    char out_dir[4096];
    rside sides[MAX_SIDES];
    size_t n_sides; /* [0] candidate, then the baseline (when given), then peers */
    int base;       /* index of the baseline side, -1 none */
    size_t first_peer;
    bench_comparison *cmp;
    bench_compare_opts copts;
    raxis axes[MAX_AXES];
    size_t n_axes;
    bool kv_labels;       /* point labels "k=v, k=v" (short) or values joined by " / " */
    char label_axes[256]; /* what a value label's parts are: "n / lists / probes" */
    const char *hl_name;  /* headline metric; NULL: throughput.items_per_s */
    char hl_unit[48];
    char hl_label[128]; /* "qps (queries/s)" */
    const char *recall_name;
    bench_plotter plotter;
    bool plotter_warned;
    bench_plot_buf md, html;   /* the body */
    bench_plot_buf wmd, whtml; /* warnings, put above the body */
    FILE *warn;
    size_t n_warnings, n_plots, n_rendered;
    bool oom;
} rep;

/* ---- small helpers --------------------------------------------------------- */

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* snprintf where cutting a long label short is fine (and expected). */
static void textf(char *buf, size_t size, const char *fmt, ...) BENCH_PRINTF(3, 4);

static void textf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* A parameter value as text: strings as they are, integers without ".0". */
static void param_text(const cJSON *v, char *buf, size_t size)
{
    if (cJSON_IsString(v))
        snprintf(buf, size, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(buf, size, "%.15g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(buf, size, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v) || !v)
        snprintf(buf, size, "-");
    else {
        char *t = cJSON_PrintUnformatted(v);
        snprintf(buf, size, "%s", t ? t : "?");
        free(t);
    }
}

/* A value as shown in an error message: its JSON, cut short. */
static void got_text(const cJSON *v, char *buf, size_t size)
{
    if (!v) {
        snprintf(buf, size, "nothing");
        return;
    }
    char *t = cJSON_PrintUnformatted(v);
    if (!t) {
        snprintf(buf, size, "?");
        return;
    }
    if (strlen(t) > 60)
        snprintf(buf, size, "%.57s...", t);
    else
        snprintf(buf, size, "%s", t);
    free(t);
}

/* Four significant digits, no exponent in the usual range, thousands grouped. */
static void fmt_num(double v, char *buf, size_t size)
{
    if (!isfinite(v)) {
        snprintf(buf, size, isnan(v) ? "-" : (v > 0 ? "inf" : "-inf"));
        return;
    }
    double a = fabs(v);
    if (a != 0 && (a < 1e-4 || a >= 1e15)) {
        snprintf(buf, size, "%.3e", v);
        return;
    }
    int decimals = a == 0 ? 0 : 3 - (int)floor(log10(a));
    if (decimals < 0)
        decimals = 0;
    char raw[64];
    snprintf(raw, sizeof raw, "%.*f", decimals, v);
    if (strchr(raw, '.')) { /* trim trailing zeros */
        char *end = raw + strlen(raw) - 1;
        while (*end == '0')
            *end-- = '\0';
        if (*end == '.')
            *end = '\0';
    }
    /* group the integer part by thousands from 10,000 on */
    const char *digits = raw[0] == '-' ? raw + 1 : raw;
    size_t n_int = strcspn(digits, ".");
    if (a < 1e4 || n_int <= 4) {
        snprintf(buf, size, "%s", raw);
        return;
    }
    char out[96];
    size_t k = 0;
    if (raw[0] == '-')
        out[k++] = '-';
    for (size_t i = 0; i < n_int; i++) {
        if (i && (n_int - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = digits[i];
    }
    snprintf(out + k, sizeof out - k, "%s", digits + n_int);
    snprintf(buf, size, "%s", out);
}

static void fmt_ns(double ns, char *buf, size_t size)
{
    if (!isfinite(ns))
        snprintf(buf, size, "-");
    else if (fabs(ns) < 1e3)
        snprintf(buf, size, "%.0f ns", ns);
    else if (fabs(ns) < 1e6)
        snprintf(buf, size, "%.3g us", ns / 1e3);
    else if (fabs(ns) < 1e9)
        snprintf(buf, size, "%.3g ms", ns / 1e6);
    else
        snprintf(buf, size, "%.3g s", ns / 1e9);
}

static void fmt_bytes(double b, char *buf, size_t size)
{
    if (!isfinite(b))
        snprintf(buf, size, "-");
    else if (fabs(b) >= 1024.0 * 1024 * 1024)
        snprintf(buf, size, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (fabs(b) >= 1024.0 * 1024)
        snprintf(buf, size, "%.1f MiB", b / (1024.0 * 1024));
    else if (fabs(b) >= 1024)
        snprintf(buf, size, "%.1f KiB", b / 1024);
    else
        snprintf(buf, size, "%.0f B", b);
}

/* A value with its unit, in the unit's natural scale (bytes, ns). */
static void fmt_value(double v, const char *unit, char *buf, size_t size)
{
    char n[64];
    if (unit && strcmp(unit, "bytes") == 0) {
        fmt_bytes(v, buf, size);
    } else if (unit && strcmp(unit, "ns") == 0) {
        fmt_ns(v, buf, size);
    } else {
        fmt_num(v, n, sizeof n);
        snprintf(buf, size, "%s%s%s", n, unit && *unit && isfinite(v) ? " " : "",
                 isfinite(v) && unit ? unit : "");
    }
}

static void fmt_change(double ratio, double lo, double hi, char *buf, size_t size)
{
    if (!isfinite(ratio))
        snprintf(buf, size, "-");
    else if (isfinite(lo) && isfinite(hi) && (lo != ratio || hi != ratio))
        snprintf(buf, size, "%+.1f%% [%+.1f%%, %+.1f%%]", (ratio - 1) * 100, (lo - 1) * 100,
                 (hi - 1) * 100);
    else if (ratio == 1)
        snprintf(buf, size, "0%%");
    else
        snprintf(buf, size, "%+.3g%%", (ratio - 1) * 100);
}

/* ---- reading and checking the inputs ----------------------------------------- */

static int bad(bench_err *e, const char *path, const char *where, const char *what, const cJSON *v)
{
    char got[80];
    got_text(v, got, sizeof got);
    return bench_err_set(e, "%s: %s: %s (got %s)", path, where, what, got);
}

/* A number field: absent or null gives NAN (when optional), anything else must be a number. */
static int num_field(const cJSON *obj, const char *key, bool required, const char *path,
                     const char *where, double *out, bench_err *e)
{
    const cJSON *v = bench_json_get(obj, key);
    char w[512];
    snprintf(w, sizeof w, "%s.%s", where, key);
    *out = NAN;
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return bad(e, path, w, "missing; must be a number", v);
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return bad(e, path, w, "must be a number", v);
    *out = v->valuedouble;
    return 0;
}

static int check_metrics(const cJSON *metrics, const char *path, const char *where, bench_err *e)
{
    if (!cJSON_IsObject(metrics))
        return bad(e, path, where, "must be an object", metrics);
    const cJSON *m;
    char w[512];
    cJSON_ArrayForEach(m, metrics)
    {
        snprintf(w, sizeof w, "%s.%s", where, m->string);
        if (!cJSON_IsObject(m))
            return bad(e, path, w, "must be an object {value, unit, better}", m);
        double v;
        if (num_field(m, "value", false, path, w, &v, e) != 0)
            return -1;
        const cJSON *unit = bench_json_get(m, "unit"), *better = bench_json_get(m, "better");
        if (unit && !cJSON_IsString(unit)) {
            snprintf(w, sizeof w, "%s.%s.unit", where, m->string);
            return bad(e, path, w, "must be a string", unit);
        }
        if (better && !(cJSON_IsString(better) && (strcmp(better->valuestring, "higher") == 0 ||
                                                   strcmp(better->valuestring, "lower") == 0 ||
                                                   strcmp(better->valuestring, "none") == 0))) {
            snprintf(w, sizeof w, "%s.%s.better", where, m->string);
            return bad(e, path, w, "must be \"higher\", \"lower\" or \"none\"", better);
        }
    }
    return 0;
}

static int load_point(const cJSON *pj, size_t i, const char *path, rpoint *p, bench_err *e)
{
    char where[96];
    snprintf(where, sizeof where, "$.points[%zu]", i);
    if (!cJSON_IsObject(pj))
        return bad(e, path, where, "must be an object", pj);
    char w[160];
    p->id = bench_json_str(pj, "id");
    if (!p->id) {
        snprintf(w, sizeof w, "%s.id", where);
        return bad(e, path, w, "must be a string", bench_json_get(pj, "id"));
    }
    p->params = bench_json_get(pj, "params");
    if (!cJSON_IsObject(p->params)) {
        snprintf(w, sizeof w, "%s.params", where);
        return bad(e, path, w, "must be an object", p->params);
    }
    double idx;
    if (num_field(pj, "index", false, path, where, &idx, e) != 0)
        return -1;
    p->index = isfinite(idx) && idx >= 0 ? (size_t)idx : i;
    const char *status = bench_json_str(pj, "status");
    if (!status || (strcmp(status, "ok") != 0 && strcmp(status, "error") != 0)) {
        snprintf(w, sizeof w, "%s.status", where);
        return bad(e, path, w, "must be \"ok\" or \"error\"", bench_json_get(pj, "status"));
    }
    p->ok = strcmp(status, "ok") == 0;
    p->error = bench_json_str(pj, "error");
    for (int k = 0; k < N_LAT; k++)
        p->lat[k] = NAN;
    p->items_per_s = p->cv = p->n_samples = p->items_per_op = NAN;
    p->rss_before = p->rss_after = p->rss_peak = NAN;
    if (!p->ok)
        return 0;

    const cJSON *tp = bench_json_get(pj, "throughput");
    snprintf(w, sizeof w, "%s.throughput", where);
    if (!cJSON_IsObject(tp))
        return bad(e, path, w, "must be an object", tp);
    if (num_field(tp, "items_per_s", true, path, w, &p->items_per_s, e) != 0 ||
        num_field(pj, "items_per_op", false, path, where, &p->items_per_op, e) != 0 ||
        num_field(pj, "n_samples", false, path, where, &p->n_samples, e) != 0)
        return -1;
    const cJSON *lat = bench_json_get(pj, "latency_ns");
    snprintf(w, sizeof w, "%s.latency_ns", where);
    if (lat && !cJSON_IsObject(lat))
        return bad(e, path, w, "must be an object", lat);
    for (int k = 0; k < N_LAT && lat; k++)
        if (num_field(lat, LAT_KEYS[k], false, path, w, &p->lat[k], e) != 0)
            return -1;
    if (lat && num_field(lat, "cv", false, path, w, &p->cv, e) != 0)
        return -1;
    const cJSON *rss = bench_json_get(pj, "rss");
    snprintf(w, sizeof w, "%s.rss", where);
    if (rss && !cJSON_IsObject(rss))
        return bad(e, path, w, "must be an object", rss);
    if (rss && (num_field(rss, "before_bytes", false, path, w, &p->rss_before, e) != 0 ||
                num_field(rss, "after_bytes", false, path, w, &p->rss_after, e) != 0 ||
                num_field(rss, "peak_bytes", false, path, w, &p->rss_peak, e) != 0))
        return -1;
    p->rss_per_point = cJSON_IsTrue(bench_json_get(rss, "peak_is_per_point"));
    p->metrics = bench_json_get(pj, "metrics");
    snprintf(w, sizeof w, "%s.metrics", where);
    if (p->metrics && check_metrics(p->metrics, path, w, e) != 0)
        return -1;
    p->counters = bench_json_get(pj, "counters");
    snprintf(w, sizeof w, "%s.counters", where);
    if (p->counters && !cJSON_IsObject(p->counters))
        return bad(e, path, w, "must be an object", p->counters);
    p->labels = bench_json_get(pj, "labels");
    if (p->labels && !cJSON_IsObject(p->labels))
        p->labels = NULL;
    return 0;
}

/* Reads the result at path (a file, or a folder holding result.json) into s. */
static int load_side(const char *path, const char *name, rside *s, bench_err *e)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(s->path, sizeof s->path, "%s/result.json", path);
    else
        snprintf(s->path, sizeof s->path, "%s", path);
    if (bench_results_read(s->path, &s->doc, e) != 0)
        return -1;
    const cJSON *sc = bench_json_get(s->doc, "scenario");
    s->scenario = bench_json_str(sc, "name");
    s->workload = bench_json_str(sc, "workload");
    if (!s->scenario)
        return bad(e, s->path, "$.scenario.name", "must be a string", bench_json_get(sc, "name"));
    if (!s->workload)
        return bad(e, s->path, "$.scenario.workload", "must be a string",
                   bench_json_get(sc, "workload"));
    const char *peer = bench_json_str(s->doc, "peer");
    snprintf(s->name, sizeof s->name, "%s", name ? name : peer ? peer : "peer");
    const cJSON *points = bench_json_get(s->doc, "points");
    size_t n = (size_t)cJSON_GetArraySize(points);
    s->pts = calloc(n ? n : 1, sizeof *s->pts);
    if (!s->pts)
        return bench_err_set(e, "%s: out of memory", s->path);
    const cJSON *pj;
    cJSON_ArrayForEach(pj, points)
    {
        if (load_point(pj, s->n, s->path, &s->pts[s->n], e) != 0)
            return -1;
        s->n++;
    }
    s->item_unit = "item";
    for (size_t i = 0; i < s->n; i++) {
        const char *u = bench_json_str(cJSON_GetArrayItem(points, (int)i), "item_unit");
        if (u) {
            s->item_unit = u;
            break;
        }
    }
    return 0;
}

static void side_free(rside *s)
{
    cJSON_Delete(s->doc);
    free(s->pts);
    memset(s, 0, sizeof *s);
}

/* ---- shape of the sweep -------------------------------------------------------- */

static size_t distinct_values(const rside *s, const char *name, bool *numeric)
{
    char seen[64][96];
    size_t n = 0;
    *numeric = true;
    for (size_t i = 0; i < s->n; i++) {
        const cJSON *v = bench_json_get(s->pts[i].params, name);
        if (v && !cJSON_IsNumber(v))
            *numeric = false;
        char t[96];
        param_text(v, t, sizeof t);
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(seen[j], t) == 0;
        if (!dup) {
            if (n == 64)
                return n + 1;
            snprintf(seen[n++], sizeof seen[0], "%s", t);
        }
    }
    return n;
}

static void add_axis(rep *r, const char *name)
{
    for (size_t i = 0; i < r->n_axes; i++)
        if (strcmp(r->axes[i].name, name) == 0)
            return;
    bool numeric;
    if (r->n_axes == MAX_AXES || distinct_values(&r->sides[0], name, &numeric) < 2)
        return;
    raxis *a = &r->axes[r->n_axes++];
    a->name = name;
    a->numeric = numeric;
    a->batch = numeric && (strcmp(name, "batch") == 0 || strcmp(name, "batch_size") == 0);
}

static void point_label(const rep *r, const rpoint *p, char *buf, size_t size, bool kv,
                        const char *sep)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t a = 0; a < r->n_axes && k + 1 < size; a++) {
        char v[96];
        param_text(bench_json_get(p->params, r->axes[a].name), v, sizeof v);
        int n = snprintf(buf + k, size - k, "%s%s%s%s", a ? sep : "", kv ? r->axes[a].name : "",
                         kv ? "=" : "", v);
        if (n < 0)
            break;
        k += (size_t)n < size - k ? (size_t)n : size - k - 1;
    }
    if (!buf[0])
        snprintf(buf, size, "%s", p->id[0] ? p->id : "(the only point)");
}

static void find_shape(rep *r)
{
    rside *c = &r->sides[0];
    const cJSON *sweep =
        bench_json_get(bench_json_get(bench_json_get(c->doc, "scenario"), "effective"), "sweep");
    const cJSON *ax;
    cJSON_ArrayForEach(ax, sweep) add_axis(r, ax->string);
    for (size_t i = 0; i < c->n; i++) {
        const cJSON *p;
        cJSON_ArrayForEach(p, c->pts[i].params) add_axis(r, p->string);
    }
    /* Short "k=v, k=v" labels when they fit, else the values alone. */
    size_t longest = 0;
    for (size_t s = 0; s < r->n_sides; s++)
        for (size_t i = 0; i < r->sides[s].n; i++) {
            char t[256];
            point_label(r, &r->sides[s].pts[i], t, sizeof t, true, ", ");
            longest = strlen(t) > longest ? strlen(t) : longest;
        }
    size_t most = 0;
    for (size_t k = 0; k < r->n_sides; k++)
        most = r->sides[k].n > most ? r->sides[k].n : most;
    r->kv_labels = (longest <= 30 && most <= 12) || r->n_axes <= 1;
    r->label_axes[0] = '\0';
    for (size_t a = 0; a < r->n_axes; a++) {
        size_t k = strlen(r->label_axes);
        snprintf(r->label_axes + k, sizeof r->label_axes - k, "%s%s", a ? " / " : "",
                 r->axes[a].name);
    }
    for (size_t s = 0; s < r->n_sides; s++)
        for (size_t i = 0; i < r->sides[s].n; i++)
            point_label(r, &r->sides[s].pts[i], r->sides[s].pts[i].label,
                        sizeof r->sides[s].pts[i].label, r->kv_labels, r->kv_labels ? ", " : " / ");

    /* Headline: the first better-higher rate among the workload's metrics. */
    r->hl_name = NULL;
    snprintf(r->hl_unit, sizeof r->hl_unit, "%ss/s", c->item_unit);
    for (size_t i = 0; i < c->n && !r->hl_name; i++) {
        const cJSON *m;
        cJSON_ArrayForEach(m, c->pts[i].metrics)
        {
            const char *unit = bench_json_str(m, "unit"), *better = bench_json_str(m, "better");
            if (unit && better && strcmp(better, "higher") == 0 && ends_with(unit, "/s")) {
                r->hl_name = m->string;
                snprintf(r->hl_unit, sizeof r->hl_unit, "%s", unit);
                break;
            }
        }
        if (c->pts[i].ok)
            break; /* the first measured point decides */
    }
    snprintf(r->hl_label, sizeof r->hl_label, "%s (%s)", r->hl_name ? r->hl_name : "throughput",
             r->hl_unit);
    r->recall_name = NULL;
    for (size_t i = 0; i < c->n && !r->recall_name; i++) {
        const cJSON *m;
        cJSON_ArrayForEach(m, c->pts[i].metrics) if (strncmp(m->string, "recall", 6) == 0)
        {
            r->recall_name = m->string;
            break;
        }
    }
}

static double metric_value(const rpoint *p, const char *name)
{
    return p->ok ? bench_json_num(bench_json_get(p->metrics, name), "value") : NAN;
}

static double headline(const rep *r, const rpoint *p)
{
    if (!p->ok)
        return NAN;
    return r->hl_name ? metric_value(p, r->hl_name) : p->items_per_s;
}

static const rpoint *find_point(const rside *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->pts[i].id, id) == 0)
            return &s->pts[i];
    return NULL;
}

/* The values of the axes except those in skip (NULL-terminated names), as "k=v, k=v". */
static void group_key(const rep *r, const rpoint *p, const char *const *skip, size_t n_skip,
                      char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t a = 0; a < r->n_axes; a++) {
        if (in_list(r->axes[a].name, skip, n_skip))
            continue;
        char v[96];
        param_text(bench_json_get(p->params, r->axes[a].name), v, sizeof v);
        int n = snprintf(buf + k, size - k, "%s%s=%s", k ? ", " : "", r->axes[a].name, v);
        if (n < 0 || (size_t)n >= size - k)
            break;
        k += (size_t)n;
    }
}

/* ---- output: text, tables, figures ------------------------------------------- */

static void html_esc(bench_plot_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            bench_plot_buf_add(b, "&lt;");
            break;
        case '>':
            bench_plot_buf_add(b, "&gt;");
            break;
        case '&':
            bench_plot_buf_add(b, "&amp;");
            break;
        case '"':
            bench_plot_buf_add(b, "&quot;");
            break;
        case '\'':
            bench_plot_buf_add(b, "&#39;");
            break;
        default:
            bench_plot_buf_addn(b, s, 1);
        }
    }
}

/* Markdown text: characters that would start markup or HTML are escaped; one line. */
static void md_esc(bench_plot_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            bench_plot_buf_add(b, "&lt;");
            break;
        case '>':
            bench_plot_buf_add(b, "&gt;");
            break;
        case '&':
            bench_plot_buf_add(b, "&amp;");
            break;
        case '|':
        case '*':
        case '`':
        case '[':
        case ']':
        case '\\':
            bench_plot_buf_add(b, "\\%c", *s);
            break;
        case '\n':
        case '\r':
            bench_plot_buf_add(b, " ");
            break;
        default:
            bench_plot_buf_addn(b, s, 1);
        }
    }
}

static void doc_h(rep *r, int level, const char *text)
{
    bench_plot_buf_add(&r->md, "\n%.*s ", level, "######");
    md_esc(&r->md, text);
    bench_plot_buf_add(&r->md, "\n\n");
    bench_plot_buf_add(&r->html, "<h%d>", level);
    html_esc(&r->html, text);
    bench_plot_buf_add(&r->html, "</h%d>\n", level);
}

static void doc_p(rep *r, const char *fmt, ...) BENCH_PRINTF(2, 3);

static void doc_p(rep *r, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    md_esc(&r->md, text);
    bench_plot_buf_add(&r->md, "\n\n");
    bench_plot_buf_add(&r->html, "<p>");
    html_esc(&r->html, text);
    bench_plot_buf_add(&r->html, "</p>\n");
}

/* A paragraph of the report's own text (no user data): `code` spans become code in both. */
static void doc_note(rep *r, const char *text)
{
    bool code = false;
    bench_plot_buf_add(&r->html, "<p>");
    for (const char *p = text; *p; p++) {
        if (*p == '`') {
            bench_plot_buf_add(&r->html, code ? "</code>" : "<code>");
            bench_plot_buf_add(&r->md, "`");
            code = !code;
            continue;
        }
        char one[2] = {*p, 0};
        html_esc(&r->html, one);
        if (code)
            bench_plot_buf_addn(&r->md, p, 1);
        else
            md_esc(&r->md, one);
    }
    bench_plot_buf_add(&r->html, "%s</p>\n", code ? "</code>" : "");
    bench_plot_buf_add(&r->md, "\n\n");
}

/* A warning: in the report (top) and on the warning stream. */
static void warnf(rep *r, const char *fmt, ...) BENCH_PRINTF(2, 3);

static void warnf(rep *r, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    r->n_warnings++;
    if (r->warn)
        fprintf(r->warn, "lore-bench: warning: %s\n", text);
    bench_plot_buf_add(&r->wmd, "> **Warning:** ");
    md_esc(&r->wmd, text);
    bench_plot_buf_add(&r->wmd, "\n>\n");
    bench_plot_buf_add(&r->whtml, "<p class=\"warn\"><b>Warning:</b> ");
    html_esc(&r->whtml, text);
    bench_plot_buf_add(&r->whtml, "</p>\n");
}

static rtable *table_new(size_t n_cols)
{
    rtable *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n_cols = n_cols;
    t->head = calloc(n_cols ? n_cols : 1, sizeof *t->head);
    t->numeric = calloc(n_cols ? n_cols : 1, sizeof *t->numeric);
    if (!t->head || !t->numeric) {
        free(t->head);
        free(t->numeric);
        free(t);
        return NULL;
    }
    return t;
}

static void table_free(rtable *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_cols; i++)
        free(t->head[i]);
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->head);
    free(t->numeric);
    free(t->cells);
    free(t->row_class);
    free(t);
}

static void table_head(rtable *t, size_t col, const char *text, bool numeric)
{
    free(t->head[col]);
    t->head[col] = bench_strdup(text);
    t->oom |= !t->head[col];
    t->numeric[col] = numeric;
}

/* Adds an empty row; returns its index (SIZE_MAX on OOM, latched in t->oom). */
static size_t table_row(rtable *t, const char *cls)
{
    if (t->n_rows == t->cap_rows) {
        size_t cap = t->cap_rows ? 2 * t->cap_rows : 16;
        char **cells = realloc(t->cells, cap * t->n_cols * sizeof *cells);
        if (!cells) {
            t->oom = true;
            return SIZE_MAX;
        }
        t->cells = cells;
        const char **rc = realloc(t->row_class, cap * sizeof *rc);
        if (!rc) {
            t->oom = true;
            return SIZE_MAX;
        }
        t->row_class = rc;
        t->cap_rows = cap;
    }
    for (size_t c = 0; c < t->n_cols; c++)
        t->cells[t->n_rows * t->n_cols + c] = NULL;
    t->row_class[t->n_rows] = cls;
    return t->n_rows++;
}

static void table_set(rtable *t, size_t row, size_t col, const char *fmt, ...) BENCH_PRINTF(4, 5);

static void table_set(rtable *t, size_t row, size_t col, const char *fmt, ...)
{
    if (row == SIZE_MAX || col >= t->n_cols)
        return;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char **cell = &t->cells[row * t->n_cols + col];
    free(*cell);
    *cell = bench_strdup(text);
    t->oom |= !*cell;
}

static void doc_table(rep *r, rtable *t)
{
    if (!t || t->oom) {
        r->oom = true;
        return;
    }
    bench_plot_buf *md = &r->md, *h = &r->html;
    bench_plot_buf_add(md, "|");
    for (size_t c = 0; c < t->n_cols; c++) {
        bench_plot_buf_add(md, " ");
        md_esc(md, t->head[c]);
        bench_plot_buf_add(md, " |");
    }
    bench_plot_buf_add(md, "\n|");
    for (size_t c = 0; c < t->n_cols; c++)
        bench_plot_buf_add(md, "%s|", t->numeric[c] ? "---:" : "---");
    bench_plot_buf_add(md, "\n");
    bench_plot_buf_add(h, "<div class=\"scroll\"><table>\n<thead><tr>");
    for (size_t c = 0; c < t->n_cols; c++) {
        bench_plot_buf_add(h, "<th>");
        html_esc(h, t->head[c]);
        bench_plot_buf_add(h, "</th>");
    }
    bench_plot_buf_add(h, "</tr></thead>\n<tbody>\n");
    for (size_t row = 0; row < t->n_rows; row++) {
        bench_plot_buf_add(md, "|");
        if (t->row_class[row])
            bench_plot_buf_add(h, "<tr class=\"%s\">", t->row_class[row]);
        else
            bench_plot_buf_add(h, "<tr>");
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *cell = t->cells[row * t->n_cols + c];
            bench_plot_buf_add(md, " ");
            md_esc(md, cell ? cell : "");
            bench_plot_buf_add(md, " |");
            bench_plot_buf_add(h, "%s", t->numeric[c] ? "<td class=\"n\">" : "<td>");
            html_esc(h, cell ? cell : "");
            bench_plot_buf_add(h, "</td>");
        }
        bench_plot_buf_add(md, "\n");
        bench_plot_buf_add(h, "</tr>\n");
    }
    bench_plot_buf_add(md, "\n");
    bench_plot_buf_add(h, "</tbody></table></div>\n");
}

static void doc_details(rep *r, bool open, const char *summary)
{
    if (open) {
        bench_plot_buf_add(&r->md, "<details><summary>");
        html_esc(&r->md, summary);
        bench_plot_buf_add(&r->md, "</summary>\n\n");
        bench_plot_buf_add(&r->html, "<details><summary>");
        html_esc(&r->html, summary);
        bench_plot_buf_add(&r->html, "</summary>\n");
    } else {
        bench_plot_buf_add(&r->md, "</details>\n\n");
        bench_plot_buf_add(&r->html, "</details>\n");
    }
}

static void base64(bench_plot_buf *b, const unsigned char *p, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        q[0] = A[(v >> 18) & 63];
        q[1] = A[(v >> 12) & 63];
        q[2] = i + 1 < n ? A[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? A[v & 63] : '=';
        bench_plot_buf_addn(b, q, 4);
    }
}

/*
 * Writes a plot's files, renders it and puts the figure (or a note saying
 * why there is none) into the report. Frees nothing: the caller owns dat/gp.
 */
static void emit_plot(rep *r, const char *name, const char *title, const char *caption,
                      bench_plot_buf *dat, bench_plot_buf *gp, int script_rc)
{
    if (script_rc != 0 || dat->oom || gp->oom) {
        r->oom = true;
        return;
    }
    char *svg = NULL;
    size_t len = 0;
    bool written = false;
    bench_err e = {{0}};
    int rc =
        bench_plot_emit(&r->plotter, r->out_dir, name, dat->p, gp->p, &svg, &len, &written, &e);
    if (written)
        r->n_plots++;
    if (rc != 0 && !written) {
        warnf(r, "plot %s: %s", name, e.msg);
        return;
    }
    if (rc != 0) {
        warnf(r, "plot %s not rendered: %s", name, e.msg);
        if (!r->plotter.available && !r->plotter_warned) {
            warnf(r, "the remaining plots are not rendered either (gnuplot is not usable); their "
                     "data and scripts are in plots/");
            r->plotter_warned = true;
        }
    } else if (!svg && !r->plotter_warned) {
        warnf(r,
              "no plots rendered: %s; the report has tables only (plot data and scripts are "
              "in plots/: install gnuplot and run `gnuplot plots/NAME.gp` in this folder)",
              r->plotter.why);
        r->plotter_warned = true;
    }
    if (svg)
        r->n_rendered++;

    /* Markdown: the SVG file beside the report. */
    if (svg) {
        bench_plot_buf_add(&r->md, "![");
        md_esc(&r->md, title);
        bench_plot_buf_add(&r->md, "](plots/%s.svg)\n\n", name);
    } else {
        bench_plot_buf_add(&r->md, "*Plot \"");
        md_esc(&r->md, title);
        bench_plot_buf_add(&r->md, "\" not rendered (see the warning above).*\n\n");
    }
    bench_plot_buf_add(&r->md, "*");
    md_esc(&r->md, caption);
    bench_plot_buf_add(&r->md, " Data: plots/%s.dat, script: plots/%s.gp.*\n\n", name, name);

    /* HTML: the SVG inline as a data: URI. */
    bench_plot_buf_add(&r->html, "<figure id=\"plot-%s\">", name);
    if (svg) {
        bench_plot_buf_add(&r->html, "<img alt=\"");
        html_esc(&r->html, title);
        bench_plot_buf_add(&r->html, "\" src=\"data:image/svg+xml;base64,");
        base64(&r->html, (const unsigned char *)svg, len);
        bench_plot_buf_add(&r->html, "\">");
    } else {
        bench_plot_buf_add(&r->html, "<div class=\"noplot\">Plot &ldquo;");
        html_esc(&r->html, title);
        bench_plot_buf_add(&r->html, "&rdquo; not rendered (see the warning above).</div>");
    }
    bench_plot_buf_add(&r->html, "<figcaption>");
    html_esc(&r->html, caption);
    bench_plot_buf_add(&r->html,
                       " Data: <code>plots/%s.dat</code>, script: <code>plots/%s.gp</code>."
                       "</figcaption></figure>\n",
                       name, name);
    free(svg);
}

/* ---- series storage for the x/y plots ------------------------------------------- */

typedef struct series_set {
    bench_plot_series *s;
    double **xs, **ys;
    size_t n, cap;
    bool oom;
} series_set;

/* Adds a series with room for n values; returns it (NULL on OOM). */
static bench_plot_series *series_add(series_set *set, size_t n)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        bench_plot_series *s = realloc(set->s, cap * sizeof *s);
        double **xs = s ? realloc(set->xs, cap * sizeof *xs) : NULL;
        double **ys = xs ? realloc(set->ys, cap * sizeof *ys) : NULL;
        if (s)
            set->s = s;
        if (xs)
            set->xs = xs;
        if (ys)
            set->ys = ys;
        if (!s || !xs || !ys) {
            set->oom = true;
            return NULL;
        }
        set->cap = cap;
    }
    double *x = calloc(n ? n : 1, sizeof *x), *y = calloc(n ? n : 1, sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        set->oom = true;
        return NULL;
    }
    set->xs[set->n] = x;
    set->ys[set->n] = y;
    bench_plot_series *se = &set->s[set->n++];
    memset(se, 0, sizeof *se);
    se->x = x;
    se->y = y;
    return se;
}

/* The writable arrays behind a series of set (the series shows them as const). */
#define SX(set, se) ((set)->xs[(size_t)((se) - (set)->s)])
#define SY(set, se) ((set)->ys[(size_t)((se) - (set)->s)])

static void series_free(series_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->xs[i]);
        free(set->ys[i]);
    }
    free(set->s);
    free(set->xs);
    free(set->ys);
    memset(set, 0, sizeof *set);
}

/* Style of a side: the candidate solid with filled circles, the baseline dashed, peers dotted. */
static void side_style(const rep *r, size_t side, bench_plot_series *se)
{
    static const int peer_pts[] = {9, 11, 13, 5, 3, 1, 2, 4};
    if (side == 0) {
        se->style = BENCH_PLOT_SOLID;
        se->point_type = 7;
    } else if ((int)side == r->base) {
        se->style = BENCH_PLOT_DASHED;
        se->point_type = 4; /* open square: not the candidate's open circles */
    } else {
        se->style = BENCH_PLOT_DOTTED;
        se->point_type = peer_pts[(side - r->first_peer) % 8];
    }
}

static bool spans_decades(double lo, double hi)
{
    return isfinite(lo) && isfinite(hi) && lo > 0 && hi / lo >= LOG_SPAN;
}

/* Index of key in keys (adding it when new); -1 when full. */
static int key_index(char (*keys)[200], size_t *n, size_t cap, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(keys[i], key) == 0)
            return (int)i;
    if (*n == cap)
        return -1;
    snprintf(keys[*n], 200, "%s", key);
    return (int)(*n)++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- plots -------------------------------------------------------------------- */

static const raxis *batch_axis(const rep *r)
{
    for (size_t a = 0; a < r->n_axes; a++)
        if (r->axes[a].batch)
            return &r->axes[a];
    return NULL;
}

/* Throughput vs batch size: one line per setting of the other axes, per side. */
static void plot_batch(rep *r)
{
    const raxis *ba = batch_axis(r);
    if (!ba)
        return;
    enum { CAP = 48 };
    char keys[CAP][200];
    size_t n_keys = 0;
    series_set set = {0};
    const char *skip[] = {ba->name};
    double lo = INFINITY, hi = -INFINITY;
    /* every line's key first, so a setting has one colour on every side */
    for (size_t s = 0; s < r->n_sides; s++)
        for (size_t i = 0; i < r->sides[s].n; i++) {
            char key[200];
            group_key(r, &r->sides[s].pts[i], skip, 1, key, sizeof key);
            key_index(keys, &n_keys, CAP, key);
        }
    for (size_t s = 0; s < r->n_sides; s++) {
        const rside *sd = &r->sides[s];
        char seen[CAP][200];
        size_t n_seen = 0;
        for (size_t i = 0; i < sd->n; i++) {
            char key[200];
            group_key(r, &sd->pts[i], skip, 1, key, sizeof key);
            size_t before = n_seen;
            if (key_index(seen, &n_seen, CAP, key) < 0 || n_seen == before)
                continue; /* not new on this side */
            int color = key_index(keys, &n_keys, CAP, key);
            bench_plot_series *se = series_add(&set, sd->n);
            if (!se || color < 0)
                break;
            /* every point of this group on this side, by batch size */
            double pairs[2 * 256];
            size_t np = 0;
            for (size_t j = i; j < sd->n && np < 256; j++) {
                char kj[200];
                group_key(r, &sd->pts[j], skip, 1, kj, sizeof kj);
                double b = bench_json_num(sd->pts[j].params, ba->name),
                       v = headline(r, &sd->pts[j]);
                if (strcmp(kj, key) != 0 || !isfinite(b))
                    continue;
                pairs[2 * np] = b;
                pairs[2 * np + 1] = v;
                np++;
                if (isfinite(v) && v > 0) {
                    lo = fmin(lo, v);
                    hi = fmax(hi, v);
                }
            }
            qsort(pairs, np, 2 * sizeof(double), cmp_double);
            for (size_t k = 0; k < np; k++) {
                SX(&set, se)[k] = pairs[2 * k];
                SY(&set, se)[k] = pairs[2 * k + 1];
            }
            se->n = np;
            se->color = r->n_sides > 1 && n_keys <= 1 ? (int)s : color;
            side_style(r, s, se);
            textf(se->label, sizeof se->label, "%s%s%s%s%s", key,
                  r->n_sides > 1 && key[0] ? " " : "", r->n_sides > 1 ? "(" : "",
                  r->n_sides > 1 ? sd->name : "", r->n_sides > 1 ? ")" : "");
            if (!se->label[0])
                snprintf(se->label, sizeof se->label, "%s", sd->name);
        }
    }
    if (set.oom) {
        r->oom = true;
        series_free(&set);
        return;
    }
    char title[256], xlabel[256], ylabel[256];
    snprintf(title, sizeof title, "%s vs %s", r->hl_name ? r->hl_name : "throughput", ba->name);
    snprintf(xlabel, sizeof xlabel, "%s (%ss per operation, log2 scale)", ba->name,
             r->sides[0].item_unit);
    bool ylog = spans_decades(lo, hi);
    snprintf(ylabel, sizeof ylabel, "%s%s", r->hl_label, ylog ? ", log scale" : "");
    bench_plot_xy xy = {.title = title,
                        .xlabel = xlabel,
                        .ylabel = ylabel,
                        .xlog = true,
                        .xlog_base = 2,
                        .ylog = ylog,
                        .series = set.s,
                        .n_series = set.n,
                        .key_outside = set.n > 8,
                        .width = set.n > 8 ? 1180 : 960,
                        .ymin = 0};
    bench_plot_buf dat = {0}, gp = {0};
    int rc = bench_plot_xy_script(&xy, "throughput_batch", &dat, &gp);
    doc_h(r, 3, "Throughput vs batch size");
    char caption[512];
    snprintf(caption, sizeof caption,
             "Higher is better. One line per setting of the other swept parameters%s.",
             r->n_sides > 1 ? "; the baseline dashed, peers dotted" : "");
    emit_plot(r, "throughput_batch", title, caption, &dat, &gp, rc);
    bench_plot_buf_free(&dat);
    bench_plot_buf_free(&gp);
    series_free(&set);
}

typedef struct rq {
    double recall, qps;
} rq;

static int cmp_rq_desc(const void *a, const void *b)
{
    const rq *x = a, *y = b;
    if (x->recall != y->recall)
        return x->recall < y->recall ? 1 : -1;
    return (x->qps < y->qps) - (x->qps > y->qps);
}

/* Recall vs QPS: every point, and the Pareto front over the knobs, per group and side. */
static void plot_recall(rep *r)
{
    if (!r->recall_name)
        return;
    enum { CAP = 24 };
    char keys[CAP][200];
    size_t n_keys = 0;
    series_set set = {0};
    double lo = INFINITY, hi = -INFINITY;
    size_t n_knobs = sizeof KNOBS / sizeof KNOBS[0];
    /* groups first, so colours are known */
    for (size_t s = 0; s < r->n_sides; s++)
        for (size_t i = 0; i < r->sides[s].n; i++) {
            char key[200];
            group_key(r, &r->sides[s].pts[i], KNOBS, n_knobs, key, sizeof key);
            key_index(keys, &n_keys, CAP, key);
        }
    for (size_t s = 0; s < r->n_sides; s++) {
        const rside *sd = &r->sides[s];
        for (size_t g = 0; g < n_keys; g++) {
            rq *pts = calloc(sd->n ? sd->n : 1, sizeof *pts);
            if (!pts) {
                set.oom = true;
                break;
            }
            size_t np = 0;
            for (size_t i = 0; i < sd->n; i++) {
                char key[200];
                group_key(r, &sd->pts[i], KNOBS, n_knobs, key, sizeof key);
                double rec = metric_value(&sd->pts[i], r->recall_name);
                double q = headline(r, &sd->pts[i]);
                if (strcmp(key, keys[g]) != 0 || !isfinite(rec) || !(q > 0))
                    continue;
                pts[np++] = (rq){rec, q};
                lo = fmin(lo, q);
                hi = fmax(hi, q);
            }
            if (np == 0) {
                free(pts);
                continue;
            }
            qsort(pts, np, sizeof *pts, cmp_rq_desc);
            bench_plot_series *front = series_add(&set, np);
            bench_plot_series *rest = front ? series_add(&set, np) : NULL;
            if (!front || !rest) {
                free(pts);
                break;
            }
            front = &set.s[set.n - 2]; /* series_add may have moved the array */
            double best = -INFINITY;
            size_t nf = 0, nr = 0;
            for (size_t i = 0; i < np; i++) {
                if (pts[i].qps > best) {
                    best = pts[i].qps;
                    SX(&set, front)[nf] = pts[i].recall;
                    SY(&set, front)[nf++] = pts[i].qps;
                } else {
                    SX(&set, rest)[nr] = pts[i].recall;
                    SY(&set, rest)[nr++] = pts[i].qps;
                }
            }
            /* the front from low recall to high */
            for (size_t i = 0; i < nf / 2; i++) {
                double tx = SX(&set, front)[i], ty = SY(&set, front)[i];
                SX(&set, front)[i] = SX(&set, front)[nf - 1 - i];
                SY(&set, front)[i] = SY(&set, front)[nf - 1 - i];
                SX(&set, front)[nf - 1 - i] = tx;
                SY(&set, front)[nf - 1 - i] = ty;
            }
            front->n = nf;
            rest->n = nr;
            int color = n_keys <= 1 ? (int)s : (int)g;
            front->color = rest->color = color;
            side_style(r, s, front);
            rest->style = BENCH_PLOT_POINTS;
            /* behind the front: the open form of the front's marker */
            int pt = front->point_type;
            rest->point_type = pt == 7 || pt == 5 || pt == 9 || pt == 11 || pt == 13 ? pt - 1 : pt;
            if (n_keys <= 1 && r->n_sides == 1 && nr > 0)
                snprintf(rest->label, sizeof rest->label, "behind the front");
            const char *k = keys[g][0] ? keys[g] : "";
            if (r->n_sides > 1)
                textf(front->label, sizeof front->label, "%s%s%s", k, k[0] ? " - " : "", sd->name);
            else
                textf(front->label, sizeof front->label, "%s", k[0] ? k : "Pareto front");
            free(pts);
        }
    }
    if (set.oom) {
        r->oom = true;
        series_free(&set);
        return;
    }
    char title[256], xlabel[160], ylabel[256];
    snprintf(title, sizeof title, "%s vs %s", r->recall_name,
             r->hl_name ? r->hl_name : "throughput");
    snprintf(xlabel, sizeof xlabel, "%s (fraction of the true nearest neighbours found)",
             r->recall_name);
    bool ylog = spans_decades(lo, hi) || (isfinite(lo) && lo > 0 && hi / lo >= 10);
    snprintf(ylabel, sizeof ylabel, "%s%s", r->hl_label, ylog ? ", log scale" : "");
    bench_plot_xy xy = {.title = title,
                        .xlabel = xlabel,
                        .ylabel = ylabel,
                        .ylog = ylog,
                        .series = set.s,
                        .n_series = set.n,
                        .key_outside = set.n > 16,
                        .width = set.n > 16 ? 1180 : 960,
                        .height = 600,
                        .ymin = 0};
    bench_plot_buf dat = {0}, gp = {0};
    int rc = bench_plot_xy_script(&xy, "recall_qps", &dat, &gp);
    doc_h(r, 3, "Recall vs throughput");
    char caption[640];
    snprintf(caption, sizeof caption,
             "Up and to the right is better. Lines: the Pareto front (no other point has both "
             "higher recall and higher throughput) over the index's tuning knobs (probes, ef, "
             "lists, M) for each setting of the other parameters; open markers: points behind "
             "the front.%s",
             r->n_sides > 1 ? " The candidate solid, the baseline dashed, peers dotted." : "");
    emit_plot(r, "recall_qps", title, caption, &dat, &gp, rc);
    bench_plot_buf_free(&dat);
    bench_plot_buf_free(&gp);
    series_free(&set);
}

typedef struct heat_axis {
    const raxis *a;
    double v[64];
    char t[64][32];
    size_t n;
} heat_axis;

static void heat_axis_fill(const rside *s, const raxis *a, heat_axis *h)
{
    h->a = a;
    h->n = 0;
    for (size_t i = 0; i < s->n && h->n < 64; i++) {
        double v = bench_json_num(s->pts[i].params, a->name);
        bool dup = false;
        for (size_t j = 0; j < h->n && !dup; j++)
            dup = h->v[j] == v;
        if (!dup && isfinite(v))
            h->v[h->n++] = v;
    }
    qsort(h->v, h->n, sizeof h->v[0], cmp_double);
    for (size_t i = 0; i < h->n; i++)
        snprintf(h->t[i], sizeof h->t[i], "%.15g", h->v[i]);
}

static size_t heat_pos(const heat_axis *h, double v)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i] == v)
            return i;
    return SIZE_MAX;
}

/* Heatmaps over the last two numeric axes, a panel per setting of the others. */
static void plot_heatmaps(rep *r)
{
    const raxis *num[MAX_AXES];
    size_t n_num = 0;
    for (size_t a = 0; a < r->n_axes; a++)
        if (r->axes[a].numeric && !r->axes[a].batch)
            num[n_num++] = &r->axes[a];
    if (n_num < 2)
        return;
    const rside *c = &r->sides[0];
    heat_axis hx, hy;
    heat_axis_fill(c, num[n_num - 1], &hx);
    heat_axis_fill(c, num[n_num - 2], &hy);
    if (hx.n < 2 || hy.n < 2)
        return;
    const char *skip[] = {hx.a->name, hy.a->name};
    char facets[FACET_CAP][200];
    size_t n_facets = 0;
    bool cut = false;
    for (size_t i = 0; i < c->n; i++) {
        char key[200];
        group_key(r, &c->pts[i], skip, 2, key, sizeof key);
        cut |= key_index(facets, &n_facets, FACET_CAP, key) < 0;
    }
    const char *xt[64], *yt[64];
    for (size_t i = 0; i < hx.n; i++)
        xt[i] = hx.t[i];
    for (size_t i = 0; i < hy.n; i++)
        yt[i] = hy.t[i];
    bool headed = false;

    const char *metrics[2] = {r->hl_name, r->recall_name};
    for (int m = 0; m < (r->recall_name ? 2 : 1); m++) {
        bool is_recall = m == 1;
        double *v = malloc(n_facets * hx.n * hy.n * sizeof *v);
        bench_plot_heat_facet fa[FACET_CAP];
        if (!v) {
            r->oom = true;
            return;
        }
        double lo = INFINITY, hi = -INFINITY;
        for (size_t k = 0; k < n_facets * hx.n * hy.n; k++)
            v[k] = NAN;
        for (size_t i = 0; i < c->n; i++) {
            char key[200];
            group_key(r, &c->pts[i], skip, 2, key, sizeof key);
            int f = key_index(facets, &n_facets, n_facets, key);
            size_t ix = heat_pos(&hx, bench_json_num(c->pts[i].params, hx.a->name));
            size_t iy = heat_pos(&hy, bench_json_num(c->pts[i].params, hy.a->name));
            if (f < 0 || ix == SIZE_MAX || iy == SIZE_MAX)
                continue;
            double val = is_recall ? metric_value(&c->pts[i], metrics[1]) : headline(r, &c->pts[i]);
            v[((size_t)f * hy.n + iy) * hx.n + ix] = val;
            if (isfinite(val)) {
                lo = fmin(lo, val);
                hi = fmax(hi, val);
            }
        }
        if (!isfinite(lo)) { /* no point of the grid measured */
            free(v);
            continue;
        }
        /* Large rates in thousands, so the cell labels stay short. */
        double scale = !is_recall && hi >= 1e4 ? 1e3 : 1;
        for (size_t k = 0; k < n_facets * hx.n * hy.n; k++)
            v[k] /= scale;
        for (size_t f = 0; f < n_facets; f++) {
            textf(fa[f].title, sizeof fa[f].title, "%s", facets[f][0] ? facets[f] : "");
            fa[f].v = v + f * hx.n * hy.n;
        }
        char title[256], cbl[160], name[64];
        const char *mname = is_recall ? r->recall_name : r->hl_name ? r->hl_name : "throughput";
        if (is_recall)
            snprintf(cbl, sizeof cbl, "%s", r->recall_name);
        else
            snprintf(cbl, sizeof cbl, "%s (%s%s)", mname, scale > 1 ? "thousand " : "", r->hl_unit);
        snprintf(title, sizeof title, "%s by %s and %s", cbl, hy.a->name, hx.a->name);
        snprintf(name, sizeof name, "heatmap_%s", is_recall ? "recall" : "throughput");
        bench_plot_heat heat = {.title = title,
                                .xlabel = hx.a->name,
                                .ylabel = hy.a->name,
                                .cblabel = cbl,
                                .xtics = xt,
                                .nx = hx.n,
                                .ytics = yt,
                                .ny = hy.n,
                                .facets = fa,
                                .n_facets = n_facets,
                                .cblog = !is_recall && isfinite(lo) && lo > 0 && hi / lo >= 10,
                                .value_format = is_recall ? "%.3f" : "%.3g"};
        bench_plot_buf dat = {0}, gp = {0};
        int rc = bench_plot_heat_script(&heat, name, &dat, &gp);
        char caption[512];
        snprintf(caption, sizeof caption,
                 "%s per cell%s; blank cells: no value (the point failed or was not run).%s",
                 is_recall ? "Recall" : "Throughput", is_recall ? "" : " (higher is better)",
                 cut ? " Only the first panels are shown." : "");
        if (!headed)
            doc_h(r, 3, "Heatmaps");
        headed = true;
        emit_plot(r, name, title, caption, &dat, &gp, rc);
        bench_plot_buf_free(&dat);
        bench_plot_buf_free(&gp);
        free(v);
    }
}

/*
 * The stages of an operation: each <stage>_fraction metric that has a time of
 * its own (<stage>_ms or <stage>_s), so aggregates such as non_embed_fraction
 * stay out and the stages add up to the whole. *in_ms: every stage has _ms.
 */
static size_t find_stages(const rep *r, const char **stages, size_t cap, bool *in_ms)
{
    const rside *c = &r->sides[0];
    const rpoint *p = NULL;
    for (size_t i = 0; i < c->n && !p; i++)
        if (c->pts[i].ok && c->pts[i].metrics)
            p = &c->pts[i];
    size_t n = 0;
    *in_ms = true;
    if (!p)
        return 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, p->metrics)
    {
        if (!ends_with(m->string, "_fraction") || n == cap)
            continue;
        char ms[128], sec[128];
        int len = (int)(strlen(m->string) - 9);
        snprintf(ms, sizeof ms, "%.*s_ms", len, m->string);
        snprintf(sec, sizeof sec, "%.*s_s", len, m->string);
        bool has_ms = bench_json_get(p->metrics, ms) != NULL;
        if (!has_ms && !bench_json_get(p->metrics, sec))
            continue;
        stages[n++] = m->string;
        *in_ms &= has_ms;
    }
    if (n < 2)
        return 0; /* one stage is no breakdown */
    return n;
}

static void stage_plot(rep *r, const char *name, const char *title, const char *caption,
                       const char *const *cats, size_t n_cats, const char *const *parts,
                       const int *colors, size_t n_parts, const double *v, bool in_ms, bool full)
{
    bench_plot_stack st = {.title = title,
                           .xlabel = r->kv_labels ? "point" : r->label_axes,
                           .ylabel =
                               in_ms ? "time per operation (ms)" : "share of operation time (%)",
                           .categories = cats,
                           .n_categories = n_cats,
                           .parts = parts,
                           .n_parts = n_parts,
                           .v = v,
                           .ymax = full && !in_ms ? 100 : NAN,
                           .part_colors = colors};
    bench_plot_buf dat = {0}, gp = {0};
    int rc = bench_plot_stack_script(&st, name, &dat, &gp);
    emit_plot(r, name, title, caption, &dat, &gp, rc);
    bench_plot_buf_free(&dat);
    bench_plot_buf_free(&gp);
}

static void plot_stages(rep *r)
{
    const char *stages[32];
    bool in_ms;
    size_t ns = find_stages(r, stages, 32, &in_ms);
    if (ns == 0)
        return;
    const rside *c = &r->sides[0];
    char names[32][96], ms_names[32][128];
    const char *parts[32], *rest_parts[32];
    for (size_t j = 0; j < ns; j++) {
        snprintf(names[j], sizeof names[j], "%.*s", (int)(strlen(stages[j]) - 9), stages[j]);
        snprintf(ms_names[j], sizeof ms_names[j], "%s_ms", names[j]);
        parts[j] = names[j];
    }
    const char **cats = calloc(c->n ? c->n : 1, sizeof *cats);
    double *v = calloc((c->n ? c->n : 1) * ns, sizeof *v);
    double *rest = calloc((c->n ? c->n : 1) * ns, sizeof *rest);
    rtable *t = table_new(1 + ns);
    if (!cats || !v || !rest || !t) {
        r->oom = true;
        goto done;
    }
    size_t n = 0;
    table_head(t, 0, "point", false);
    for (size_t j = 0; j < ns; j++) {
        char h[128];
        textf(h, sizeof h, "%s (%s)", names[j], in_ms ? "ms" : "%");
        table_head(t, 1 + j, h, true);
    }
    double share_max[32] = {0}, share_min[32];
    for (size_t j = 0; j < 32; j++)
        share_min[j] = INFINITY;
    for (size_t i = 0; i < c->n; i++) {
        const rpoint *p = &c->pts[i];
        if (!p->ok)
            continue;
        cats[n] = p->label;
        size_t row = table_row(t, NULL);
        table_set(t, row, 0, "%s", p->label);
        for (size_t j = 0; j < ns; j++) {
            double x = in_ms ? metric_value(p, ms_names[j]) : metric_value(p, stages[j]) * 100;
            double f = metric_value(p, stages[j]);
            if (isfinite(f) && f > share_max[j])
                share_max[j] = f;
            if (isfinite(f) && f < share_min[j])
                share_min[j] = f;
            v[n * ns + j] = x;
            char num[64];
            fmt_num(x, num, sizeof num);
            table_set(t, row, 1 + j, "%s", num);
        }
        n++;
    }
    doc_h(r, 3, "Stage breakdown");
    const char *title =
        in_ms ? "Time per operation by stage" : "Share of each operation's time by stage";
    stage_plot(r, "stages", title,
               in_ms ? "Each bar is one operation's mean time split into its stages (the "
                       "<stage>_ms metrics)."
                     : "Each bar is 100% of an operation's time split into its stages (the "
                       "<stage>_fraction metrics).",
               cats, n, parts, NULL, ns, v, in_ms, true);
    /* One stage taking most of every operation hides the others: draw them again without it. */
    size_t dom = ns;
    for (size_t j = 0; j < ns; j++)
        if (share_min[j] >= 0.8 && isfinite(share_min[j]))
            dom = j;
    if (dom < ns && ns >= 3) {
        size_t k = 0;
        int rest_colors[32];
        for (size_t j = 0; j < ns; j++)
            if (j != dom) {
                rest_colors[k] = (int)j;
                rest_parts[k++] = parts[j];
            }
        for (size_t i = 0; i < n; i++) {
            k = 0;
            for (size_t j = 0; j < ns; j++)
                if (j != dom)
                    rest[i * (ns - 1) + k++] = v[i * ns + j];
        }
        char t2[160], cap2[320];
        snprintf(t2, sizeof t2, "%s, without %s", title, names[dom]);
        snprintf(cap2, sizeof cap2,
                 "The same bars without %s (up to %.1f%% of an operation), so the smaller "
                 "stages can be read; the scale is %s.",
                 names[dom], share_max[dom] * 100,
                 in_ms ? "ms per operation" : "% of the whole operation");
        stage_plot(r, "stages_rest", t2, cap2, cats, n, rest_parts, rest_colors, ns - 1, rest,
                   in_ms, false);
    }
    doc_table(r, t);
done:
    table_free(t);
    free(cats);
    free(v);
    free(rest);
}

/* The time unit that suits values around typical_ns: its name and ns per unit. */
static const char *time_unit(double typical_ns, double *per)
{
    if (!(typical_ns >= 1e3)) {
        *per = 1;
        return "ns";
    }
    if (typical_ns < 1e6) {
        *per = 1e3;
        return "us";
    }
    if (typical_ns < 1e9) {
        *per = 1e6;
        return "ms";
    }
    *per = 1e9;
    return "s";
}

static void plot_latency(rep *r)
{
    static const int pct[] = {L_P50, L_P90, L_P99, L_P999, L_MAX};
    static const char *const pct_names[] = {"p50", "p90", "p99", "p99.9", "max"};
    enum { NP = 5 };
    const rside *c = &r->sides[0];
    const rside *b = r->base >= 0 ? &r->sides[r->base] : NULL;
    double *p50 = calloc(c->n ? c->n : 1, sizeof *p50);
    size_t n_ok = 0;
    if (!p50) {
        r->oom = true;
        return;
    }
    for (size_t i = 0; i < c->n; i++)
        if (c->pts[i].ok && isfinite(c->pts[i].lat[L_P50]))
            p50[n_ok++] = c->pts[i].lat[L_P50];
    if (n_ok == 0) {
        free(p50);
        return;
    }
    qsort(p50, n_ok, sizeof *p50, cmp_double);
    double per;
    const char *unit = time_unit(p50[n_ok / 2], &per);
    free(p50);

    series_set set = {0};
    const char **cats = NULL;
    bool by_pct = n_ok <= SPECTRUM_LINES;
    if (by_pct) {
        /* x: the percentiles; one line per point (the baseline's dashed beside it) */
        size_t color = 0;
        for (size_t i = 0; i < c->n; i++) {
            const rpoint *p = &c->pts[i];
            if (!p->ok || !isfinite(p->lat[L_P50]))
                continue;
            for (int side = 0; side < (b ? 2 : 1); side++) {
                const rpoint *q = side ? find_point(b, p->id) : p;
                if (!q || !q->ok)
                    continue;
                bench_plot_series *se = series_add(&set, NP);
                if (!se)
                    break;
                for (int k = 0; k < NP; k++) {
                    SX(&set, se)[k] = k;
                    SY(&set, se)[k] = q->lat[pct[k]] / per;
                }
                se->n = NP;
                se->color = (int)color;
                side_style(r, side ? (size_t)r->base : 0, se);
                textf(se->label, sizeof se->label, "%s%s", p->label, side ? " (baseline)" : "");
            }
            color++;
        }
    } else {
        /* x: the points in run order; one line per percentile */
        cats = calloc(c->n, sizeof *cats);
        if (!cats) {
            r->oom = true;
            return;
        }
        for (size_t i = 0; i < c->n; i++)
            cats[i] = c->pts[i].label;
        for (int k = 0; k < NP; k++)
            for (int side = 0; side < (b ? 2 : 1); side++) {
                if (side && pct[k] != L_P50 && pct[k] != L_P99)
                    continue; /* the baseline's median and p99 only: enough to compare */
                bench_plot_series *se = series_add(&set, c->n);
                if (!se)
                    break;
                for (size_t i = 0; i < c->n; i++) {
                    const rpoint *q = side ? find_point(b, c->pts[i].id) : &c->pts[i];
                    SX(&set, se)[i] = (double)i;
                    SY(&set, se)[i] = q && q->ok ? q->lat[pct[k]] / per : NAN;
                }
                se->n = c->n;
                se->color = k;
                side_style(r, side ? (size_t)r->base : 0, se);
                se->point_type = side ? 6 : 7;
                snprintf(se->label, sizeof se->label, "%s%s", pct_names[k],
                         side ? " (baseline)" : "");
            }
    }
    if (set.oom) {
        r->oom = true;
        series_free(&set);
        free(cats);
        return;
    }
    char ylabel[96];
    snprintf(ylabel, sizeof ylabel, "latency per operation (%s, log scale)", unit);
    const char *title = "Latency percentiles";
    bench_plot_xy xy = {.title = title,
                        .xlabel = by_pct         ? "percentile of the operation latencies"
                                  : r->kv_labels ? "point (run order)"
                                                 : r->label_axes,
                        .ylabel = ylabel,
                        .ylog = true,
                        .xtics = by_pct ? pct_names : cats,
                        .n_xtics = by_pct ? NP : c->n,
                        .series = set.s,
                        .n_series = set.n,
                        .key_outside = by_pct && set.n > 6,
                        .width = by_pct ? (set.n > 6 ? 1180 : 960) : (c->n > 30 ? 1400 : 1100),
                        .height = by_pct ? 540 : 620};
    bench_plot_buf dat = {0}, gp = {0};
    int rc = bench_plot_xy_script(&xy, "latency", &dat, &gp);
    doc_h(r, 3, "Latency");
    emit_plot(r, "latency", title,
              by_pct ? "One line per point from the median to the slowest operation; a steep "
                       "right end is a long tail. Lower is better."
                     : "p50 to max of every point, in run order. Lower is better; a wide gap "
                       "between p50 and p99.9 is a long tail.",
              &dat, &gp, rc);
    bench_plot_buf_free(&dat);
    bench_plot_buf_free(&gp);
    series_free(&set);
    free(cats);
}

static void plot_rss(rep *r)
{
    const rside *c = &r->sides[0];
    const rside *b = r->base >= 0 ? &r->sides[r->base] : NULL;
    bool any = false, per_point = true;
    for (size_t i = 0; i < c->n; i++) {
        any |= isfinite(c->pts[i].rss_peak);
        if (c->pts[i].ok)
            per_point &= c->pts[i].rss_per_point;
    }
    if (!any)
        return;
    const char **cats = calloc(c->n ? c->n : 1, sizeof *cats);
    series_set set = {0};
    if (!cats) {
        r->oom = true;
        return;
    }
    static const char *const names[] = {"before setup", "after teardown", "peak"};
    for (size_t i = 0; i < c->n; i++)
        cats[i] = c->pts[i].label;
    for (int k = 0; k < (b ? 4 : 3); k++) {
        bench_plot_series *se = series_add(&set, c->n);
        if (!se)
            break;
        for (size_t i = 0; i < c->n; i++) {
            const rpoint *p = k == 3 ? find_point(b, c->pts[i].id) : &c->pts[i];
            double v = !p ? NAN : k == 0 ? p->rss_before : k == 1 ? p->rss_after : p->rss_peak;
            SX(&set, se)[i] = (double)i;
            SY(&set, se)[i] = v / (1024.0 * 1024.0);
        }
        se->n = c->n;
        se->color = k == 3 ? 2 : k;
        side_style(r, k == 3 ? (size_t)r->base : 0, se);
        se->point_type = k == 0 ? 7 : k == 1 ? 5 : k == 2 ? 9 : 8; /* distinct where they overlap */
        snprintf(se->label, sizeof se->label, "%s", k == 3 ? "peak (baseline)" : names[k]);
    }
    if (set.oom) {
        r->oom = true;
        series_free(&set);
        free(cats);
        return;
    }
    const char *title = "Resident memory per point, in run order";
    bench_plot_xy xy = {.title = title,
                        .xlabel = r->kv_labels ? "point (run order)" : r->label_axes,
                        .ylabel = "RSS (MiB)",
                        .xtics = cats,
                        .n_xtics = c->n,
                        .series = set.s,
                        .n_series = set.n,
                        .width = c->n > 30 ? 1400 : 1100,
                        .height = 560,
                        .ymin = 0};
    bench_plot_buf dat = {0}, gp = {0};
    int rc = bench_plot_xy_script(&xy, "rss", &dat, &gp);
    doc_h(r, 3, "Memory");
    emit_plot(r, "rss", title,
              per_point ? "Resident set size before each point's setup, after its teardown, "
                          "and its peak (the peak is reset per point). Points run left to "
                          "right, so this is also memory over the run's time."
                        : "Resident set size before each point's setup, after its teardown, "
                          "and the process's peak so far (this kernel cannot reset the peak "
                          "per point). Points run left to right.",
              &dat, &gp, rc);
    bench_plot_buf_free(&dat);
    bench_plot_buf_free(&gp);
    series_free(&set);
    free(cats);
}

static int verdict_class(bench_verdict v)
{
    return (int)v; /* SAME 0, BETTER 1, WORSE 2, INCONCLUSIVE 3, MISSING 4 */
}

static const char *const VERDICT_NAMES[] = {"same", "better", "worse", "inconclusive", "missing"};
static const char *const VERDICT_COLORS[] = {"#9e9e9e", "#2ca02c", "#d62728", "#ff9f1c", "#bdbdbd"};

static int verdict_rank(bench_verdict v)
{
    static const int rank[] = {4, 3, 0, 1, 2}; /* worse, inconclusive, missing, better, same */
    return rank[v];
}

static const char *point_label_of(const rep *r, const char *id)
{
    const rpoint *p = find_point(&r->sides[0], id);
    return p ? p->label : id;
}

static void plot_ratios(rep *r)
{
    const bench_comparison *c = r->cmp;
    size_t *pick = calloc(c->n_items ? c->n_items : 1, sizeof *pick);
    bool *keep = calloc(c->n_items ? c->n_items : 1, sizeof *keep);
    bench_plot_hbar *bars = calloc(HBAR_CAP + 1, sizeof *bars);
    if (!pick || !keep || !bars) {
        r->oom = true;
        free(pick);
        free(keep);
        free(bars);
        return;
    }
    size_t n = 0, n_all = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        const bench_metric_cmp *m = &c->items[i];
        bool wall = m->track == BENCH_TRACK_WALL && !m->informational;
        bool changed = !m->informational &&
                       (m->verdict == BENCH_VERDICT_WORSE || m->verdict == BENCH_VERDICT_BETTER);
        if (isfinite(m->ratio) && (wall || changed))
            pick[n_all++] = i;
    }
    /* Too many: keep the most telling (worse first), in item order. */
    n = n_all;
    if (n_all > HBAR_CAP) {
        size_t k = 0;
        for (int rank = 0; rank < 5; rank++)
            for (size_t j = 0; j < n_all; j++)
                if (verdict_rank(c->items[pick[j]].verdict) == rank)
                    keep[j] = k++ < HBAR_CAP;
        n = 0;
        for (size_t j = 0; j < n_all; j++)
            if (keep[j])
                pick[n++] = pick[j];
    }
    for (size_t j = 0; j < n; j++) {
        const bench_metric_cmp *m = &c->items[pick[j]];
        bench_plot_hbar *b = &bars[j];
        textf(b->label, sizeof b->label, "%s  %s", point_label_of(r, m->point_id), m->metric);
        b->value = (m->ratio - 1) * 100;
        b->lo = isfinite(m->ci_lo) && m->ci_lo != m->ci_hi ? (m->ci_lo - 1) * 100 : NAN;
        b->hi = isfinite(m->ci_hi) && m->ci_lo != m->ci_hi ? (m->ci_hi - 1) * 100 : NAN;
        b->cls = verdict_class(m->verdict);
    }
    if (n > 0) {
        char caption[512];
        snprintf(caption, sizeof caption,
                 "Candidate / baseline - 1 per compared number, with its %.0f%% bootstrap "
                 "interval; the colour is the verdict. For throughput higher is better, for "
                 "latency lower is better. Dashed lines: the minimum effect (%.0f%%); a wall "
                 "number changes only when its whole interval lies past it.%s",
                 r->copts.confidence * 100, r->copts.min_effect * 100,
                 n < n_all ? " Only the most telling bars are shown." : "");
        bench_plot_hbars hb = {.title = "Change against the baseline",
                               .xlabel = "change (%)",
                               .bars = bars,
                               .n_bars = n,
                               .class_names = VERDICT_NAMES,
                               .class_colors = VERDICT_COLORS,
                               .n_classes = 5,
                               .guide = r->copts.min_effect * 100};
        bench_plot_buf dat = {0}, gp = {0};
        int rc = bench_plot_hbars_script(&hb, "ratios", &dat, &gp);
        emit_plot(r, "ratios", hb.title, caption, &dat, &gp, rc);
        bench_plot_buf_free(&dat);
        bench_plot_buf_free(&gp);
    }
    /* Curves: QPS at a recall level, one bar each. */
    n = 0;
    for (size_t i = 0; i < c->n_curves && n < HBAR_CAP; i++) {
        const bench_curve_cmp *k = &c->curves[i];
        if (!isfinite(k->ratio))
            continue;
        bench_plot_hbar *b = &bars[n++];
        textf(b->label, sizeof b->label, "%s  @ %s >= %.2f", k->group, k->recall_metric,
              k->recall_level);
        b->value = (k->ratio - 1) * 100;
        b->lo = isfinite(k->ci_lo) && k->ci_lo != k->ci_hi ? (k->ci_lo - 1) * 100 : NAN;
        b->hi = isfinite(k->ci_hi) && k->ci_lo != k->ci_hi ? (k->ci_hi - 1) * 100 : NAN;
        b->cls = verdict_class(k->verdict);
    }
    if (n > 0) {
        bench_plot_hbars hb = {.title = "Throughput at a recall level against the baseline",
                               .xlabel = "change in throughput at the recall level (%)",
                               .bars = bars,
                               .n_bars = n,
                               .class_names = VERDICT_NAMES,
                               .class_colors = VERDICT_COLORS,
                               .n_classes = 5,
                               .guide = r->copts.min_effect * 100};
        bench_plot_buf dat = {0}, gp = {0};
        int rc = bench_plot_hbars_script(&hb, "curve_ratios", &dat, &gp);
        emit_plot(r, "curve_ratios", hb.title,
                  "Best throughput on each side's Pareto front at recall >= the level, "
                  "candidate / baseline - 1, with its bootstrap interval (resampling queries); "
                  "the colour is the verdict.",
                  &dat, &gp, rc);
        bench_plot_buf_free(&dat);
        bench_plot_buf_free(&gp);
    }
    free(pick);
    free(keep);
    free(bars);
}

/* ---- sections ------------------------------------------------------------------ */

/* Adds the axis columns (one per swept parameter) to a table whose first columns they are. */
static void axis_heads(const rep *r, rtable *t)
{
    for (size_t a = 0; a < r->n_axes; a++)
        table_head(t, a, r->axes[a].name, r->axes[a].numeric);
    if (r->n_axes == 0)
        table_head(t, 0, "point", false);
}

static size_t n_axis_cols(const rep *r)
{
    return r->n_axes ? r->n_axes : 1;
}

static void axis_cells(const rep *r, rtable *t, size_t row, const rpoint *p)
{
    for (size_t a = 0; a < r->n_axes; a++) {
        char v[200];
        param_text(bench_json_get(p->params, r->axes[a].name), v, sizeof v);
        table_set(t, row, a, "%s", v);
    }
    if (r->n_axes == 0)
        table_set(t, row, 0, "%s", p->label);
}

static void write_header(rep *r)
{
    const rside *c = &r->sides[0];
    const cJSON *doc = c->doc, *host = bench_json_get(doc, "host"),
                *sc = bench_json_get(doc, "scenario");
    char title[256];
    snprintf(title, sizeof title, "lore-bench report: %s", c->scenario);
    doc_h(r, 1, title);
    const char *file = bench_json_str(sc, "file"), *hash = bench_json_str(sc, "hash");
    doc_p(r, "Scenario %s (workload %s)%s%s%s%s. Result: %s.", c->scenario, c->workload,
          file ? " from " : "", file ? file : "", hash ? ", hash " : "", hash ? hash : "", c->path);
    const cJSON *git = bench_json_get(host, "git");
    const char *commit = bench_json_str(git, "commit"), *run_id = bench_json_str(doc, "run_id");
    const char *started = bench_json_str(doc, "started_at"),
               *version = bench_json_str(doc, "lore_version");
    const char *tool = bench_json_str(doc, "tool");
    double dur = bench_json_num(doc, "duration_s");
    doc_p(r, "Run %s, started %s, %.1f s%s; %s %s, commit %.12s%s.", run_id ? run_id : "?",
          started ? started : "?", isfinite(dur) ? dur : 0.0,
          cJSON_IsFalse(bench_json_get(doc, "complete")) ? " (interrupted: incomplete)" : "",
          tool ? tool : "lore", tool ? "" : (version ? version : "?"), commit ? commit : "?",
          cJSON_IsTrue(bench_json_get(git, "dirty")) ? " (with uncommitted changes)" : "");
    const cJSON *cpu = bench_json_get(host, "cpu"), *blas = bench_json_get(host, "blas"),
                *cal = bench_json_get(host, "calibration");
    const cJSON *build = bench_json_get(host, "build");
    const char *model = bench_json_str(cpu, "model"), *kernel = bench_json_str(host, "kernel");
    double cores = bench_json_num(cpu, "cores"), mem = bench_json_num(host, "memory_bytes");
    char calib[160] = "";
    if (isfinite(bench_json_num(cal, "sgemm_gflops")))
        snprintf(calib, sizeof calib,
                 "; calibration %.1f GFLOP/s sgemm (1 thread), %.1f GB/s triad",
                 bench_json_num(cal, "sgemm_gflops"), bench_json_num(cal, "stream_gbps"));
    doc_p(r,
          "Host: %s, %.0f cores, %.1f GiB memory, %s; %s %s build; BLAS %s core %s, %.0f "
          "thread(s)%s.",
          model ? model : "?", isfinite(cores) ? cores : 0.0,
          isfinite(mem) ? mem / (1024.0 * 1024 * 1024) : 0.0, kernel ? kernel : "?",
          bench_json_str(build, "compiler") ? bench_json_str(build, "compiler") : "?",
          bench_json_str(build, "build_type") ? bench_json_str(build, "build_type") : "?",
          bench_json_str(blas, "library") ? bench_json_str(blas, "library") : "?",
          bench_json_str(blas, "core") ? bench_json_str(blas, "core") : "?",
          isfinite(bench_json_num(blas, "threads")) ? bench_json_num(blas, "threads") : 0.0, calib);
    if (cJSON_IsTrue(bench_json_get(build, "sanitized")))
        warnf(r, "this build is sanitized (ASan/UBSan): its timings are not representative");
    const char *bw = bench_json_str(blas, "warning");
    if (bw)
        warnf(r, "%s", bw);
    if (cJSON_IsFalse(bench_json_get(doc, "complete")))
        warnf(r, "the run was interrupted: only the points it finished are reported");
    /* Synthetic weights: every report says so (DESIGN.md). */
    for (size_t i = 0; i < c->n; i++) {
        const char *w = bench_json_str(c->pts[i].labels, "weights");
        if (w && strncmp(w, "synthetic", 9) == 0) {
            doc_p(r, "Model weights: %s.", w);
            break;
        }
    }
}

static void write_summary(rep *r)
{
    const rside *c = &r->sides[0];
    doc_h(r, 2, "Summary");
    doc_p(r, "%zu point(s); headline metric %s.", c->n, r->hl_label);
    doc_note(r, "No baseline given: `lore-bench report RESULT --baseline B` adds verdicts.");
    size_t na = n_axis_cols(r);
    rtable *t = table_new(na + 7);
    if (!t) {
        r->oom = true;
        return;
    }
    axis_heads(r, t);
    table_head(t, na, r->hl_label, true);
    table_head(t, na + 1, "p50", true);
    table_head(t, na + 2, "p99", true);
    table_head(t, na + 3, "cv", true);
    table_head(t, na + 4, "samples", true);
    table_head(t, na + 5, "peak RSS", true);
    table_head(t, na + 6, "status", false);
    for (size_t i = 0; i < c->n; i++) {
        const rpoint *p = &c->pts[i];
        size_t row = table_row(t, p->ok ? NULL : "worse");
        char a[64], b[64], d[64], rss[64];
        axis_cells(r, t, row, p);
        fmt_num(headline(r, p), a, sizeof a);
        fmt_ns(p->lat[L_P50], b, sizeof b);
        fmt_ns(p->lat[L_P99], d, sizeof d);
        fmt_bytes(p->rss_peak, rss, sizeof rss);
        table_set(t, row, na, "%s", a);
        table_set(t, row, na + 1, "%s", b);
        table_set(t, row, na + 2, "%s", d);
        if (isfinite(p->cv))
            table_set(t, row, na + 3, "%.1f%%", p->cv * 100);
        if (isfinite(p->n_samples))
            table_set(t, row, na + 4, "%.0f", p->n_samples);
        table_set(t, row, na + 5, "%s", rss);
        table_set(t, row, na + 6, "%s%s%s", p->ok ? "ok" : "error", p->error ? ": " : "",
                  p->error ? p->error : "");
    }
    doc_table(r, t);
    table_free(t);
}

static void cmp_row(rep *r, rtable *t, const bench_metric_cmp *m)
{
    size_t row = table_row(t, m->informational ? NULL : VERDICT_NAMES[m->verdict]);
    char vb[64], vc[64], ch[96];
    fmt_value(m->base, m->unit, vb, sizeof vb);
    fmt_value(m->cand, m->unit, vc, sizeof vc);
    fmt_change(m->ratio, m->ci_lo, m->ci_hi, ch, sizeof ch);
    table_set(t, row, 0, "%s", m->informational ? "info" : VERDICT_NAMES[m->verdict]);
    table_set(t, row, 1, "%s", bench_track_name(m->track));
    table_set(t, row, 2, "%s", point_label_of(r, m->point_id));
    table_set(t, row, 3, "%s%s", m->metric, m->normalised ? " (normalised)" : "");
    table_set(t, row, 4, "%s", vb);
    table_set(t, row, 5, "%s", vc);
    table_set(t, row, 6, "%s", ch);
    if (isfinite(m->q_value) && m->q_value < 1e-300)
        table_set(t, row, 7, "< 1e-300");
    else if (isfinite(m->q_value))
        table_set(t, row, 7, "%.3g", m->q_value);
    table_set(t, row, 8, "%s", m->reason);
}

static rtable *cmp_table(void)
{
    static const char *const heads[] = {"verdict",   "track",       "point", "metric", "baseline",
                                        "candidate", "change [CI]", "q",     "reason"};
    rtable *t = table_new(9);
    if (!t)
        return NULL;
    for (size_t i = 0; i < 9; i++)
        table_head(t, i, heads[i], i >= 4 && i <= 7);
    return t;
}

static void write_verdict(rep *r)
{
    const bench_comparison *c = r->cmp;
    const rside *b = &r->sides[r->base];
    doc_h(r, 2, "Verdict");
    const char *brun = bench_json_str(b->doc, "run_id");
    const char *bcommit =
        bench_json_str(bench_json_get(bench_json_get(b->doc, "host"), "git"), "commit");
    doc_p(r,
          "Candidate %s (machine class %s) against baseline %s (run %s, commit %.12s, machine "
          "class %s).",
          r->sides[0].path, c->cand_class, b->path, brun ? brun : "?", bcommit ? bcommit : "?",
          c->base_class);
    if (c->cross_class)
        warnf(r,
              "the baseline comes from another machine class (%s, here %s): only the work and "
              "instructions tracks and calibration-normalised wall numbers are compared",
              c->base_class, c->cand_class);
    doc_p(r,
          "Wall numbers (throughput, latency) change only when Benjamini-Hochberg q < %.2g "
          "and the whole %.0f%% bootstrap interval of the ratio lies past the minimum effect "
          "(%.0f%%, or the measured noise floor when larger); work numbers (counters, recall, "
          "bytes) and instruction counts must match within a tight tolerance.",
          r->copts.alpha, r->copts.confidence * 100, r->copts.min_effect * 100);
    size_t n_same = 0, n_info = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        n_info += c->items[i].informational;
        n_same += !c->items[i].informational && c->items[i].verdict == BENCH_VERDICT_SAME;
    }
    for (size_t i = 0; i < c->n_curves; i++)
        n_same += c->curves[i].verdict == BENCH_VERDICT_SAME;
    doc_p(r,
          "%s: %zu worse, %zu better, %zu inconclusive, %zu missing; %zu same, %zu "
          "informational.",
          c->n_worse                          ? "WORSE"
          : c->n_inconclusive || c->n_missing ? "NOT CONCLUSIVE"
                                              : "OK",
          c->n_worse, c->n_better, c->n_inconclusive, c->n_missing, n_same, n_info);

    rtable *t = cmp_table();
    if (!t) {
        r->oom = true;
        return;
    }
    for (int rank = 0; rank < 4; rank++) {
        for (size_t i = 0; i < c->n_items; i++) {
            const bench_metric_cmp *m = &c->items[i];
            if (!m->informational && verdict_rank(m->verdict) == rank)
                cmp_row(r, t, m);
        }
        for (size_t i = 0; i < c->n_curves; i++) {
            const bench_curve_cmp *k = &c->curves[i];
            if (verdict_rank(k->verdict) != rank)
                continue;
            size_t row = table_row(t, VERDICT_NAMES[k->verdict]);
            char vb[64], vc[64], ch[96];
            fmt_value(k->base_qps, "q/s", vb, sizeof vb);
            fmt_value(k->cand_qps, "q/s", vc, sizeof vc);
            fmt_change(k->ratio, k->ci_lo, k->ci_hi, ch, sizeof ch);
            table_set(t, row, 0, "%s", VERDICT_NAMES[k->verdict]);
            table_set(t, row, 1, "wall (curve)");
            table_set(t, row, 2, "%s", k->group);
            table_set(t, row, 3, "QPS at %s >= %.2f", k->recall_metric, k->recall_level);
            table_set(t, row, 4, "%s", vb);
            table_set(t, row, 5, "%s", vc);
            table_set(t, row, 6, "%s", ch);
            table_set(t, row, 8, "%s", k->reason);
        }
    }
    if (t->n_rows)
        doc_table(r, t);
    else
        doc_p(r, "Nothing worse, better, inconclusive or missing: every compared number is the "
                 "same within its threshold.");
    table_free(t);
    plot_ratios(r);

    t = cmp_table();
    if (!t) {
        r->oom = true;
        return;
    }
    for (size_t i = 0; i < c->n_items; i++)
        if (c->items[i].informational || c->items[i].verdict == BENCH_VERDICT_SAME)
            cmp_row(r, t, &c->items[i]);
    if (t->n_rows) {
        char summary[128];
        snprintf(summary, sizeof summary, "The %zu numbers that are the same or informational",
                 t->n_rows);
        doc_details(r, true, summary);
        doc_table(r, t);
        doc_details(r, false, NULL);
    }
    table_free(t);
}

static void write_peers(rep *r)
{
    if (r->n_sides <= r->first_peer)
        return;
    const rside *c = &r->sides[0];
    size_t np = r->n_sides - r->first_peer, na = n_axis_cols(r);
    bool rec = r->recall_name != NULL;
    size_t per_peer = rec ? 3 : 2;
    rtable *t = table_new(na + 1 + (rec ? 1 : 0) + np * per_peer);
    if (!t) {
        r->oom = true;
        return;
    }
    doc_h(r, 2, "Peers");
    doc_p(r,
          "The same scenario run by other software (scripts/peers), point by point by id. "
          "Ratio: %s / peer (above 1: %s is faster).",
          c->name, c->name);
    axis_heads(r, t);
    char h[200];
    textf(h, sizeof h, "%s %s", c->name, r->hl_label);
    table_head(t, na, h, true);
    if (rec) {
        snprintf(h, sizeof h, "%s %s", c->name, r->recall_name);
        table_head(t, na + 1, h, true);
    }
    size_t col0 = na + 1 + (rec ? 1 : 0);
    for (size_t k = 0; k < np; k++) {
        const rside *ps = &r->sides[r->first_peer + k];
        snprintf(h, sizeof h, "%s %s", ps->name, r->hl_name ? r->hl_name : "throughput");
        table_head(t, col0 + k * per_peer, h, true);
        snprintf(h, sizeof h, "ratio %s/%s", c->name, ps->name);
        table_head(t, col0 + k * per_peer + 1, h, true);
        if (rec) {
            snprintf(h, sizeof h, "%s %s", ps->name, r->recall_name);
            table_head(t, col0 + k * per_peer + 2, h, true);
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        const rpoint *p = &c->pts[i];
        size_t row = table_row(t, NULL);
        char v[64];
        axis_cells(r, t, row, p);
        double hc = headline(r, p);
        fmt_num(hc, v, sizeof v);
        table_set(t, row, na, "%s", v);
        if (rec) {
            fmt_num(metric_value(p, r->recall_name), v, sizeof v);
            table_set(t, row, na + 1, "%s", v);
        }
        for (size_t k = 0; k < np; k++) {
            const rpoint *q = find_point(&r->sides[r->first_peer + k], p->id);
            if (!q) {
                table_set(t, row, col0 + k * per_peer, "(not run)");
                continue;
            }
            double hq = headline(r, q);
            fmt_num(hq, v, sizeof v);
            table_set(t, row, col0 + k * per_peer, "%s", q->ok ? v : "error");
            if (isfinite(hc) && isfinite(hq) && hq > 0)
                table_set(t, row, col0 + k * per_peer + 1, "%.2fx", hc / hq);
            if (rec) {
                fmt_num(metric_value(q, r->recall_name), v, sizeof v);
                table_set(t, row, col0 + k * per_peer + 2, "%s", v);
            }
        }
    }
    doc_table(r, t);
    table_free(t);
}

static void write_latency_table(rep *r)
{
    const rside *c = &r->sides[0];
    static const int cols[] = {L_MIN, L_P50, L_P90, L_P95, L_P99, L_P999, L_MAX, L_MEAN};
    static const char *const heads[] = {"min", "p50", "p90", "p95", "p99", "p99.9", "max", "mean"};
    size_t na = n_axis_cols(r);
    rtable *t = table_new(na + 10);
    if (!t) {
        r->oom = true;
        return;
    }
    axis_heads(r, t);
    table_head(t, na, "samples", true);
    for (size_t k = 0; k < 8; k++)
        table_head(t, na + 1 + k, heads[k], true);
    table_head(t, na + 9, "cv", true);
    for (size_t i = 0; i < c->n; i++) {
        const rpoint *p = &c->pts[i];
        if (!p->ok)
            continue;
        size_t row = table_row(t, NULL);
        axis_cells(r, t, row, p);
        if (isfinite(p->n_samples))
            table_set(t, row, na, "%.0f", p->n_samples);
        for (size_t k = 0; k < 8; k++) {
            char v[64];
            fmt_ns(p->lat[cols[k]], v, sizeof v);
            table_set(t, row, na + 1 + k, "%s", v);
        }
        if (isfinite(p->cv))
            table_set(t, row, na + 9, "%.1f%%", p->cv * 100);
    }
    doc_table(r, t);
    table_free(t);
}

static void write_memory_table(rep *r)
{
    const rside *c = &r->sides[0];
    size_t na = n_axis_cols(r);
    rtable *t = table_new(na + 4);
    if (!t) {
        r->oom = true;
        return;
    }
    axis_heads(r, t);
    table_head(t, na, "RSS before", true);
    table_head(t, na + 1, "RSS after", true);
    table_head(t, na + 2, "RSS peak", true);
    table_head(t, na + 3, "peak - before", true);
    bool any = false;
    for (size_t i = 0; i < c->n; i++) {
        const rpoint *p = &c->pts[i];
        if (!isfinite(p->rss_peak))
            continue;
        any = true;
        size_t row = table_row(t, NULL);
        char v[64];
        axis_cells(r, t, row, p);
        fmt_bytes(p->rss_before, v, sizeof v);
        table_set(t, row, na, "%s", v);
        fmt_bytes(p->rss_after, v, sizeof v);
        table_set(t, row, na + 1, "%s", v);
        fmt_bytes(p->rss_peak, v, sizeof v);
        table_set(t, row, na + 2, "%s", v);
        fmt_bytes(p->rss_peak - p->rss_before, v, sizeof v);
        table_set(t, row, na + 3, "%s", v);
    }
    if (any)
        doc_table(r, t);
    table_free(t);
}

/* Is metric name one of the stage metrics (<stage>_fraction, _ms, _s)? */
static bool is_stage_metric(const char *name, const char *const *stages, size_t ns)
{
    for (size_t j = 0; j < ns; j++) {
        size_t len = strlen(stages[j]) - 9; /* without "_fraction" */
        if (strncmp(name, stages[j], len) == 0 &&
            (strcmp(name + len, "_fraction") == 0 || strcmp(name + len, "_ms") == 0 ||
             strcmp(name + len, "_s") == 0))
            return true;
    }
    return false;
}

static void write_metrics_table(rep *r)
{
    const rside *c = &r->sides[0];
    const char *stages[32];
    bool in_ms;
    size_t ns = find_stages(r, stages, 32, &in_ms);
    /* Every metric name in first-seen order; varying ones get a column. */
    enum { CAP = 64 };
    const char *names[CAP], *units[CAP];
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        const cJSON *m;
        cJSON_ArrayForEach(m, c->pts[i].metrics)
        {
            if (is_stage_metric(m->string, stages, ns) || n == CAP)
                continue;
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++)
                dup = strcmp(names[k], m->string) == 0;
            if (!dup) {
                names[n] = m->string;
                units[n++] = bench_json_str(m, "unit");
            }
        }
    }
    if (n == 0)
        return;
    bool varies[CAP];
    size_t n_vary = 0;
    bench_plot_buf same = {0};
    for (size_t k = 0; k < n; k++) {
        double first = NAN;
        varies[k] = false;
        size_t n_ok = 0;
        for (size_t i = 0; i < c->n; i++) {
            if (!c->pts[i].ok)
                continue;
            double v = metric_value(&c->pts[i], names[k]);
            if (n_ok++ == 0)
                first = v;
            else if (!(v == first || (isnan(v) && isnan(first))))
                varies[k] = true;
        }
        if (n_ok <= 1)
            varies[k] = true;
        if (varies[k]) {
            n_vary++;
        } else {
            char v[96];
            fmt_value(first, units[k], v, sizeof v);
            bench_plot_buf_add(&same, "%s%s %s", same.len ? ", " : "", names[k], v);
        }
    }
    doc_h(r, 3, "Metrics");
    if (same.len)
        doc_p(r, "The same at every point: %s.", same.p);
    bench_plot_buf_free(&same);
    if (n_vary == 0)
        return;
    size_t na = n_axis_cols(r);
    rtable *t = table_new(na + n_vary);
    if (!t) {
        r->oom = true;
        return;
    }
    axis_heads(r, t);
    size_t col = na;
    for (size_t k = 0; k < n; k++) {
        if (!varies[k])
            continue;
        char h[160];
        snprintf(h, sizeof h, "%s%s%s%s", names[k], units[k] && *units[k] ? " (" : "",
                 units[k] ? units[k] : "", units[k] && *units[k] ? ")" : "");
        table_head(t, col++, h, true);
    }
    for (size_t i = 0; i < c->n; i++) {
        const rpoint *p = &c->pts[i];
        if (!p->ok)
            continue;
        size_t row = table_row(t, NULL);
        axis_cells(r, t, row, p);
        col = na;
        for (size_t k = 0; k < n; k++) {
            if (!varies[k])
                continue;
            char v[64];
            double x = metric_value(p, names[k]);
            if (units[k] && strcmp(units[k], "bytes") == 0)
                fmt_bytes(x, v, sizeof v);
            else
                fmt_num(x, v, sizeof v);
            table_set(t, row, col++, "%s", v);
        }
    }
    doc_table(r, t);
    table_free(t);
}

static void write_counters_table(rep *r)
{
    const rside *c = &r->sides[0];
    enum { CAP = 48 };
    const char *avail[CAP], *unavail[CAP], *why[CAP];
    size_t na_c = 0, nu = 0;
    for (size_t i = 0; i < c->n; i++) {
        const cJSON *k;
        cJSON_ArrayForEach(k, c->pts[i].counters)
        {
            bool is_avail = cJSON_IsTrue(bench_json_get(k, "available"));
            const char **list = is_avail ? avail : unavail;
            size_t *n = is_avail ? &na_c : &nu;
            bool dup = false;
            for (size_t j = 0; j < *n && !dup; j++)
                dup = strcmp(list[j], k->string) == 0;
            if (!dup && *n < CAP) {
                if (!is_avail)
                    why[*n] = bench_json_str(k, "reason");
                list[(*n)++] = k->string;
            }
        }
    }
    if (na_c == 0 && nu == 0)
        return;
    doc_h(r, 3, "Counters");
    if (nu) {
        bench_plot_buf b = {0};
        for (size_t j = 0; j < nu; j++) {
            bool repeat = j > 0 && why[j] && why[j - 1] && strcmp(why[j], why[j - 1]) == 0;
            bench_plot_buf_add(&b, "%s%s", j ? ", " : "", unavail[j]);
            if (why[j] && !(j + 1 < nu && why[j + 1] && strcmp(why[j], why[j + 1]) == 0))
                bench_plot_buf_add(&b, " (%s)", why[j]);
            (void)repeat;
        }
        doc_p(r, "Not measured on this machine: %s.", b.p ? b.p : "");
        bench_plot_buf_free(&b);
    }
    if (na_c == 0)
        return;
    size_t na = n_axis_cols(r);
    rtable *t = table_new(na + na_c);
    if (!t) {
        r->oom = true;
        return;
    }
    axis_heads(r, t);
    for (size_t j = 0; j < na_c; j++) {
        char h[160];
        const char *name = strncmp(avail[j], "sde:::lore::", 12) == 0 ? avail[j] + 12 : avail[j];
        snprintf(h, sizeof h, "%s per op", name);
        table_head(t, na + j, h, true);
    }
    for (size_t i = 0; i < c->n; i++) {
        const rpoint *p = &c->pts[i];
        if (!p->ok)
            continue;
        size_t row = table_row(t, NULL);
        axis_cells(r, t, row, p);
        for (size_t j = 0; j < na_c; j++) {
            const cJSON *k = bench_json_get(p->counters, avail[j]);
            if (!cJSON_IsTrue(bench_json_get(k, "available")))
                continue;
            char v[64];
            fmt_num(bench_json_num(k, "per_op"), v, sizeof v);
            table_set(t, row, na + j, "%s", v);
        }
    }
    doc_table(r, t);
    table_free(t);
}

static void write_failed(rep *r)
{
    const rside *c = &r->sides[0];
    size_t n_failed = 0;
    for (size_t i = 0; i < c->n; i++)
        n_failed += !c->pts[i].ok;
    if (!n_failed)
        return;
    warnf(r,
          "%zu of %zu points failed (listed under \"Failed points\"); plots and tables leave "
          "them out",
          n_failed, c->n);
    doc_h(r, 3, "Failed points");
    rtable *t = table_new(3);
    if (!t) {
        r->oom = true;
        return;
    }
    table_head(t, 0, "index", true);
    table_head(t, 1, "point", false);
    table_head(t, 2, "error", false);
    for (size_t i = 0; i < c->n; i++) {
        const rpoint *p = &c->pts[i];
        if (p->ok)
            continue;
        size_t row = table_row(t, "worse");
        table_set(t, row, 0, "%zu", p->index);
        table_set(t, row, 1, "%s", p->id);
        table_set(t, row, 2, "%s", p->error ? p->error : "(no message)");
    }
    doc_table(r, t);
    table_free(t);
}

static void write_scenario(rep *r)
{
    const rside *c = &r->sides[0];
    const cJSON *eff = bench_json_get(bench_json_get(c->doc, "scenario"), "effective");
    char title[200];
    snprintf(title, sizeof title, "Scenario %s", c->scenario);
    doc_h(r, 2, title);
    const char *desc = bench_json_str(eff, "description");
    if (desc)
        doc_p(r, "%s", desc);
    bench_plot_buf b = {0};
    for (size_t a = 0; a < r->n_axes; a++) {
        bench_plot_buf_add(&b, "%s%s (", a ? "; " : "", r->axes[a].name);
        char seen[64][96];
        size_t n = 0;
        for (size_t i = 0; i < c->n; i++) {
            char v[96];
            param_text(bench_json_get(c->pts[i].params, r->axes[a].name), v, sizeof v);
            bool dup = false;
            for (size_t j = 0; j < n && !dup; j++)
                dup = strcmp(seen[j], v) == 0;
            if (dup || n == 64)
                continue;
            snprintf(seen[n++], sizeof seen[0], "%s", v);
            bench_plot_buf_add(&b, "%s%s", n > 1 ? ", " : "", v);
        }
        bench_plot_buf_add(&b, ")");
    }
    if (b.len)
        doc_p(r, "Swept: %s.", b.p);
    bench_plot_buf_free(&b);
    if (c->n) {
        const cJSON *p;
        cJSON_ArrayForEach(p, c->pts[0].params)
        {
            bool axis = false;
            for (size_t a = 0; a < r->n_axes && !axis; a++)
                axis = strcmp(r->axes[a].name, p->string) == 0;
            if (axis)
                continue;
            char v[200];
            param_text(p, v, sizeof v);
            bench_plot_buf_add(&b, "%s%s=%s", b.len ? ", " : "", p->string, v[0] ? v : "\"\"");
        }
        if (b.len)
            doc_p(r, "Fixed: %s.", b.p);
        bench_plot_buf_free(&b);
    }
    plot_batch(r);
    plot_recall(r);
    plot_heatmaps(r);
    plot_stages(r);
    plot_latency(r);
    write_latency_table(r);
    plot_rss(r);
    write_memory_table(r);
    write_metrics_table(r);
    write_counters_table(r);
    write_failed(r);
}

static const char HTML_HEAD[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";

static const char HTML_STYLE[] =
    "</title>\n<style>\n"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
    "max-width:1240px;margin:1.5em auto;padding:0 1em;color:#1d1d1d;line-height:1.45}\n"
    "h1{font-size:1.6em;border-bottom:2px solid #ddd;padding-bottom:.2em}\n"
    "h2{font-size:1.3em;margin-top:1.8em;border-bottom:1px solid #e3e3e3}\n"
    "h3{font-size:1.1em;margin-top:1.5em}\n"
    "p{margin:.5em 0}\n"
    ".scroll{overflow-x:auto;margin:.5em 0 1.2em}\n"
    "table{border-collapse:collapse;font-size:13px}\n"
    "th,td{border:1px solid #d8d8d8;padding:3px 8px;vertical-align:top}\n"
    "th{background:#f2f2f2;text-align:left;white-space:nowrap}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "tr.worse td{background:#fde0dd}\n"
    "tr.better td{background:#e2f4e2}\n"
    "tr.inconclusive td{background:#fff0cf}\n"
    "tr.missing td{background:#ececec}\n"
    ".warn{background:#fff3cd;border:1px solid #e6c35c;border-radius:4px;padding:.45em .8em}\n"
    "figure{margin:1em 0 1.5em}\n"
    "figure img{max-width:100%;height:auto;border:1px solid #eee}\n"
    "figcaption{color:#555;font-size:13px;max-width:960px}\n"
    ".noplot{border:1px dashed #bbb;padding:1em;color:#666;max-width:940px}\n"
    "details{margin:.5em 0 1em}\nsummary{cursor:pointer;color:#333}\n"
    "code{font-size:12px}\n"
    "</style>\n</head>\n<body>\n";

/* header + warnings + body, for one of the two formats */
static int assemble(bench_plot_buf *out, const bench_plot_buf *body, size_t head_len,
                    const bench_plot_buf *warnings)
{
    bench_plot_buf_addn(out, body->p ? body->p : "", head_len);
    if (warnings->len)
        bench_plot_buf_addn(out, warnings->p, warnings->len);
    bench_plot_buf_addn(out, body->p ? body->p + head_len : "", body->len - head_len);
    return out->oom ? -1 : 0;
}

/* Every plot name this module writes: an earlier report's files must not pass for this one's. */
static const char *const PLOT_NAMES[] = {"throughput_batch", "recall_qps", "heatmap_throughput",
                                         "heatmap_recall",   "stages",     "stages_rest",
                                         "latency",          "rss",        "ratios",
                                         "curve_ratios"};

static void remove_old_plots(const char *dir)
{
    static const char *const ext[] = {"dat", "gp", "svg", "log"};
    for (size_t i = 0; i < sizeof PLOT_NAMES / sizeof PLOT_NAMES[0]; i++)
        for (size_t k = 0; k < 4; k++) {
            char path[4096];
            textf(path, sizeof path, "%s/plots/%s.%s", dir, PLOT_NAMES[i], ext[k]);
            unlink(path);
        }
}

int bench_report_write(const bench_report_opts *o, FILE *warn, bench_report_info *info,
                       bench_err *e)
{
    int rc = BENCH_EXIT_USAGE;
    rep *r = calloc(1, sizeof *r);
    bench_plot_buf md = {0}, html = {0};
    if (info)
        memset(info, 0, sizeof *info);
    if (!r)
        return bench_err_set(e, "out of memory"), BENCH_EXIT_RUNTIME;
    r->o = o;
    r->warn = warn;
    r->base = -1;
    if (!o->result_path) {
        bench_err_set(e, "report needs a result file");
        goto done;
    }
    if (o->n_peers > MAX_PEERS) {
        bench_err_set(e, "at most %d peers (got %zu)", MAX_PEERS, o->n_peers);
        goto done;
    }
    if (load_side(o->result_path, o->baseline_path ? "candidate" : NULL, &r->sides[0], e) != 0)
        goto done;
    r->n_sides = 1;
    if (!o->baseline_path)
        snprintf(r->sides[0].name, sizeof r->sides[0].name, "%s",
                 bench_json_str(r->sides[0].doc, "peer") ? bench_json_str(r->sides[0].doc, "peer")
                                                         : "lore");
    if (o->baseline_path) {
        /* A run's folder (holding result.json) is taken as it is; any other folder is a
         * baselines folder, searched as compare does. */
        char path[4096];
        struct stat st;
        textf(path, sizeof path, "%s/result.json", o->baseline_path);
        if (stat(path, &st) != 0 &&
            bench_baseline_resolve(o->baseline_path, r->sides[0].doc, path, sizeof path, e) != 0)
            goto done;
        if (load_side(path, "baseline", &r->sides[1], e) != 0)
            goto done;
        r->base = 1;
        r->n_sides = 2;
    }
    r->first_peer = r->n_sides;
    for (size_t k = 0; k < o->n_peers; k++) {
        rside *s = &r->sides[r->n_sides];
        if (load_side(o->peer_paths[k], NULL, s, e) != 0)
            goto done;
        r->n_sides++;
        if (strcmp(s->scenario, r->sides[0].scenario) != 0) {
            bench_err_set(e,
                          "%s: $.scenario.name: peer result of scenario \"%s\", the result is "
                          "of \"%s\"",
                          s->path, s->scenario, r->sides[0].scenario);
            goto done;
        }
    }
    /* the output folder: given, or the result's own */
    if (o->out_dir) {
        snprintf(r->out_dir, sizeof r->out_dir, "%s", o->out_dir);
    } else {
        snprintf(r->out_dir, sizeof r->out_dir, "%s", r->sides[0].path);
        char *slash = strrchr(r->out_dir, '/');
        if (slash == r->out_dir)
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
        else
            snprintf(r->out_dir, sizeof r->out_dir, ".");
    }
    if (strlen(r->out_dir) > 3800) { /* room for plots/NAME.ext under it */
        bench_err_set(e, "output folder name longer than 3800 bytes: %.60s...", r->out_dir);
        goto done;
    }
    if (bench_mkdir_p(r->out_dir, e) != 0) {
        rc = BENCH_EXIT_RUNTIME;
        goto done;
    }
    remove_old_plots(r->out_dir);
    r->copts = bench_compare_default_opts();
    r->copts.noise = o->noise;
    if (r->base >= 0 && bench_compare(r->sides[1].doc, r->sides[1].path, r->sides[0].doc,
                                      r->sides[0].path, &r->copts, &r->cmp, e) != 0)
        goto done;

    find_shape(r);
    bench_plot_find(&r->plotter, o->gnuplot, o->plot_timeout_s);

    write_header(r);
    size_t head_md = r->md.len, head_html = r->html.len;
    if (r->cmp)
        write_verdict(r);
    else
        write_summary(r);
    write_peers(r);
    write_scenario(r);
    doc_h(r, 2, "Files");
    doc_note(r, "Every plot is kept as `plots/NAME.dat` (data) and `plots/NAME.gp` (gnuplot "
                "script); re-render one from this folder with `gnuplot plots/NAME.gp` (it writes "
                "`plots/NAME.svg`).");
    if (r->oom || r->md.oom || r->html.oom || r->wmd.oom || r->whtml.oom) {
        bench_err_set(e, "out of memory writing the report");
        rc = BENCH_EXIT_RUNTIME;
        goto done;
    }

    char title[256];
    snprintf(title, sizeof title, "lore-bench report: %s", r->sides[0].scenario);
    if (assemble(&md, &r->md, head_md, &r->wmd) != 0)
        goto oom;
    bench_plot_buf_add(&html, "%s", HTML_HEAD);
    html_esc(&html, title);
    bench_plot_buf_add(&html, "%s", HTML_STYLE);
    if (assemble(&html, &r->html, head_html, &r->whtml) != 0)
        goto oom;
    bench_plot_buf_add(&html, "</body>\n</html>\n");
    if (html.oom)
        goto oom;
    char md_path[4096], html_path[4096];
    textf(md_path, sizeof md_path, "%s/report.md", r->out_dir);
    textf(html_path, sizeof html_path, "%s/report.html", r->out_dir);
    if (bench_write_file_atomic(md_path, md.p, md.len, e) != 0 ||
        bench_write_file_atomic(html_path, html.p, html.len, e) != 0) {
        rc = BENCH_EXIT_RUNTIME;
        goto done;
    }
    if (info) {
        snprintf(info->md_path, sizeof info->md_path, "%s", md_path);
        snprintf(info->html_path, sizeof info->html_path, "%s", html_path);
        info->n_plots = r->n_plots;
        info->n_plots_rendered = r->n_rendered;
        info->n_warnings = r->n_warnings;
    }
    rc = BENCH_EXIT_OK;
    goto done;
oom:
    bench_err_set(e, "out of memory writing the report");
    rc = BENCH_EXIT_RUNTIME;
done:
    bench_plot_buf_free(&md);
    bench_plot_buf_free(&html);
    if (r) {
        bench_comparison_free(r->cmp);
        for (size_t s = 0; s < MAX_SIDES; s++)
            side_free(&r->sides[s]);
        bench_plot_buf_free(&r->md);
        bench_plot_buf_free(&r->html);
        bench_plot_buf_free(&r->wmd);
        bench_plot_buf_free(&r->whtml);
        free(r);
    }
    return rc;
}

/* ---- the subcommand ------------------------------------------------------------- */

int bench_report_cli(int argc, char **argv)
{
    bench_report_opts o = {0};
    const char **peers = calloc((size_t)argc, sizeof *peers);
    const char *noise_path = NULL;
    cJSON *noise = NULL;
    bench_err e = {{0}};
    int rc = BENCH_EXIT_USAGE;
    if (!peers) {
        fprintf(stderr, "lore-bench: out of memory\n");
        return BENCH_EXIT_RUNTIME;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--baseline") == 0 || strcmp(a, "--peer") == 0 || strcmp(a, "--noise") == 0 ||
            strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!has_value) {
                fprintf(stderr, "lore-bench: report: %s needs a value\n(see lore-bench help)\n", a);
                goto done;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--baseline") == 0)
                o.baseline_path = v;
            else if (strcmp(a, "--peer") == 0)
                peers[o.n_peers++] = v;
            else if (strcmp(a, "--noise") == 0)
                noise_path = v;
            else
                o.out_dir = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "lore-bench: report: unknown option '%s'\n(see lore-bench help)\n", a);
            goto done;
        } else if (o.result_path) {
            fprintf(stderr, "lore-bench: report: one result per report (extra argument '%s')\n", a);
            goto done;
        } else {
            o.result_path = a;
        }
    }
    if (!o.result_path) {
        fprintf(stderr, "lore-bench: report needs a result (result.json or its folder)\n"
                        "(see lore-bench help)\n");
        goto done;
    }
    if (noise_path) {
        char *text = bench_read_file(noise_path, NULL, &e);
        if (!text) {
            fprintf(stderr, "lore-bench: --noise %s\n", e.msg);
            goto done;
        }
        noise = cJSON_Parse(text);
        free(text);
        if (!noise) {
            fprintf(stderr, "lore-bench: --noise %s: $: not valid JSON\n", noise_path);
            goto done;
        }
        o.noise = noise;
    }
    o.peer_paths = peers;
    bench_report_info info;
    rc = bench_report_write(&o, stderr, &info, &e);
    if (rc != BENCH_EXIT_OK) {
        fprintf(stderr, "lore-bench: report: %s\n", e.msg);
        goto done;
    }
    printf("%s\n%s\n", info.md_path, info.html_path);
done:
    cJSON_Delete(noise);
    free(peers);
    return rc;
}
