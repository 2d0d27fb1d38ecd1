/*
 * results.c - builds, writes and reads result documents.
 *
 * The JSON document is the single source: the CSV is rendered from it, so the
 * two can never disagree. Builders record allocation failure in a flag rather
 * than checking each of the many cJSON calls; the document is dropped whole
 * when the flag is set.
 */
#include "results.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

typedef struct jb {
    bool oom;
} jb;

static cJSON *obj(jb *b, cJSON *parent, const char *name)
{
    cJSON *o = parent ? cJSON_AddObjectToObject(parent, name) : cJSON_CreateObject();
    b->oom |= !o;
    return o;
}

static cJSON *arr(jb *b, cJSON *parent, const char *name)
{
    cJSON *a = cJSON_AddArrayToObject(parent, name);
    b->oom |= !a;
    return a;
}

static void num(jb *b, cJSON *o, const char *name, double v)
{
    b->oom |= !cJSON_AddNumberToObject(o, name, v);
}

static void str(jb *b, cJSON *o, const char *name, const char *v)
{
    b->oom |= !(v ? cJSON_AddStringToObject(o, name, v) : cJSON_AddNullToObject(o, name));
}

static void boolean(jb *b, cJSON *o, const char *name, bool v)
{
    b->oom |= !cJSON_AddBoolToObject(o, name, v);
}

static void put(jb *b, cJSON *o, const char *name, cJSON *item)
{
    if (!o || !item) {
        cJSON_Delete(item);
        b->oom = true;
        return;
    }
    cJSON_AddItemToObject(o, name, item);
}

int64_t bench_unix_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void iso_time(int64_t unix_ms, char *buf, size_t size)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", base, (int)(unix_ms % 1000));
}

static void add_latency(jb *b, cJSON *p, const bench_summary *s)
{
    cJSON *l = obj(b, p, "latency_ns");
    num(b, l, "min", s->min);
    num(b, l, "p50", s->p50);
    num(b, l, "p90", s->p90);
    num(b, l, "p95", s->p95);
    num(b, l, "p99", s->p99);
    num(b, l, "p999", s->p999);
    num(b, l, "max", s->max);
    num(b, l, "mean", s->mean);
    num(b, l, "stddev", s->stddev);
    num(b, l, "cv", s->cv);
}

static void add_outliers(jb *b, cJSON *p, const bench_point_result *r)
{
    const bench_summary *s = &r->latency_ns;
    cJSON *o = obj(b, p, "outliers");
    str(b, o, "method", "tukey-1.5iqr");
    num(b, o, "low_fence_ns", s->fence_low);
    num(b, o, "high_fence_ns", s->fence_high);
    num(b, o, "n_low", (double)s->n_outliers_low);
    num(b, o, "n_high", (double)s->n_outliers_high);
    cJSON *idx = arr(b, o, "indices");
    for (size_t i = 0; i < r->n_samples && idx; i++) {
        if (!bench_stats_is_outlier(s, r->samples_ns[i]))
            continue;
        cJSON *n = cJSON_CreateNumber((double)i);
        b->oom |= !n;
        cJSON_AddItemToArray(idx, n);
    }
}

static void add_counters(jb *b, cJSON *p, const bench_point_result *r)
{
    cJSON *cs = obj(b, p, "counters");
    for (size_t i = 0; i < r->n_counters && cs; i++) {
        const bench_counter_result *c = &r->counters[i];
        cJSON *co = cJSON_CreateObject();
        put(b, cs, c->name, co);
        if (!co)
            continue;
        boolean(b, co, "available", c->available);
        if (c->available) {
            num(b, co, "value", (double)c->value);
            num(b, co, "per_op", r->n_samples ? (double)c->value / r->n_samples : 0.0);
        } else {
            /* Never a zero for something not measured. */
            b->oom |= !cJSON_AddNullToObject(co, "value");
            str(b, co, "reason", c->reason);
        }
    }
}

static cJSON *point_json(jb *b, const bench_grid *g, const bench_point_result *r)
{
    const bench_point *pt = &g->points[r->point];
    const bench_workload *w = g->workload;
    cJSON *p = cJSON_CreateObject();
    b->oom |= !p;
    if (!p)
        return NULL;
    num(b, p, "index", (double)pt->index);
    str(b, p, "id", pt->id);
    cJSON *params = obj(b, p, "params");
    for (size_t i = 0; i < w->n_params; i++)
        put(b, params, w->params[i].name, bench_value_to_json(&pt->values[i]));
    str(b, p, "status", r->ok ? "ok" : "error");
    if (!r->ok) {
        str(b, p, "error", r->error);
        num(b, p, "point_ns", (double)r->point_ns);
        return p;
    }
    str(b, p, "item_unit", w->item_unit);
    num(b, p, "items_per_op", r->items_per_op);
    num(b, p, "n_samples", (double)r->n_samples);
    boolean(b, p, "min_samples_met", r->min_samples_met);
    cJSON *warm = obj(b, p, "warmup");
    num(b, warm, "ops", (double)r->n_warmup_ops);
    num(b, warm, "ns", (double)r->warmup_ns);
    num(b, p, "wall_ns", (double)r->wall_ns);
    num(b, p, "point_ns", (double)r->point_ns);
    cJSON *tp = obj(b, p, "throughput");
    num(b, tp, "items_per_s", r->items_per_s);
    num(b, tp, "ops_per_s", r->ops_per_s);
    add_latency(b, p, &r->latency_ns);
    add_outliers(b, p, r);
    cJSON *rss = obj(b, p, "rss");
    num(b, rss, "before_bytes", (double)r->rss_before.current_bytes);
    num(b, rss, "after_bytes", (double)r->rss_after.current_bytes);
    num(b, rss, "peak_bytes", (double)r->rss_peak_bytes);
    boolean(b, rss, "peak_is_per_point", r->rss_peak_reset);
    add_counters(b, p, r);
    cJSON *metrics = obj(b, p, "metrics");
    const cJSON *m;
    cJSON_ArrayForEach(m, r->metrics)
    {
        cJSON *mo = obj(b, metrics, m->string);
        num(b, mo, "value", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "value")));
        str(b, mo, "unit", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "unit")));
        str(b, mo, "better", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "better")));
    }
    if (r->labels) {
        cJSON *labels = obj(b, p, "labels");
        cJSON_ArrayForEach(m, r->labels) str(b, labels, m->string, cJSON_GetStringValue(m));
    }
    cJSON *reps = arr(b, p, "repetitions");
    for (size_t k = 0; k < r->n_reps && reps; k++) {
        cJSON *rep = cJSON_CreateObject();
        b->oom |= !rep;
        cJSON_AddItemToArray(reps, rep);
        num(b, rep, "n_samples", (double)r->reps[k].n_samples);
        num(b, rep, "wall_ns", (double)r->reps[k].wall_ns);
        num(b, rep, "items_per_s", r->reps[k].items_per_s);
        str(b, rep, "stop_reason", r->reps[k].stop_reason);
    }
    cJSON *samples = arr(b, p, "samples_ns");
    for (size_t i = 0; i < r->n_samples && samples; i++) {
        cJSON *n = cJSON_CreateNumber((double)r->samples_ns[i]);
        b->oom |= !n;
        cJSON_AddItemToArray(samples, n);
    }
    return p;
}

cJSON *bench_results_build(const bench_scenario *s, const bench_grid *g, const bench_run *run,
                           const bench_host *host, const bench_result_meta *meta)
{
    jb b = {false};
    cJSON *doc = obj(&b, NULL, NULL);
    if (!doc)
        return NULL;
    char when[40];
    str(&b, doc, "schema", BENCH_RESULT_SCHEMA);
    str(&b, doc, "run_id", meta->run_id);
    boolean(&b, doc, "complete", !run->interrupted);
    iso_time(meta->started_unix_ms, when, sizeof when);
    str(&b, doc, "started_at", when);
    iso_time(meta->finished_unix_ms, when, sizeof when);
    str(&b, doc, "finished_at", when);
    num(&b, doc, "duration_s", (meta->finished_unix_ms - meta->started_unix_ms) / 1000.0);
    cJSON *argv = arr(&b, doc, "command");
    for (int i = 0; i < meta->argc && argv; i++)
        cJSON_AddItemToArray(argv, cJSON_CreateString(meta->argv[i]));
    str(&b, doc, "lore_version", lore_version());

    cJSON *sc = obj(&b, doc, "scenario");
    str(&b, sc, "file", s->path);
    str(&b, sc, "name", s->name);
    str(&b, sc, "workload", s->workload->name);
    cJSON *effective = bench_scenario_to_json(s);
    if (effective) {
        char *canon = cJSON_PrintUnformatted(effective);
        char hash[32];
        snprintf(hash, sizeof hash, "fnv1a64:%016" PRIx64,
                 canon ? bench_fnv1a64(canon, strlen(canon)) : 0);
        b.oom |= !canon;
        free(canon);
        str(&b, sc, "hash", hash);
    }
    put(&b, sc, "effective", effective);
    num(&b, sc, "n_points_grid", (double)g->n_total);
    num(&b, sc, "n_points_selected", (double)g->n_points);
    put(&b, doc, "host", bench_host_to_json(host));

    cJSON *points = arr(&b, doc, "points");
    for (size_t i = 0; i < run->n_points && points; i++) {
        cJSON *p = point_json(&b, g, &run->points[i]);
        if (p)
            cJSON_AddItemToArray(points, p);
    }
    cJSON *summary = obj(&b, doc, "summary");
    num(&b, summary, "n_points_run", (double)run->n_points);
    num(&b, summary, "n_points_failed", (double)run->n_failed);
    num(&b, summary, "n_points_skipped", (double)(g->n_points - run->n_points));
    if (b.oom) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

/* Appends text to a growing buffer; false on OOM. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *s, const char *fmt, ...) BENCH_PRINTF(2, 3);

static void sb_add(sbuf *s, const char *fmt, ...)
{
    if (s->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->p ? s->p + s->len : NULL, s->p ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            s->oom = true;
            return;
        }
        if (s->p && s->len + (size_t)n < s->cap) {
            s->len += (size_t)n;
            return;
        }
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap <= s->len + (size_t)n)
            cap *= 2;
        char *grown = realloc(s->p, cap);
        if (!grown) {
            s->oom = true;
            return;
        }
        s->p = grown;
        s->cap = cap;
    }
}

/* A CSV field: quoted when it holds a comma, quote or newline. */
static void sb_field(sbuf *s, const char *v)
{
    if (!strpbrk(v, ",\"\n")) {
        sb_add(s, "%s", v);
        return;
    }
    sb_add(s, "\"");
    for (const char *c = v; *c; c++)
        sb_add(s, *c == '"' ? "\"\"" : "%c", *c);
    sb_add(s, "\"");
}

static void sb_json_value(sbuf *s, const cJSON *v)
{
    if (!v || cJSON_IsNull(v))
        return;
    if (cJSON_IsString(v)) {
        sb_field(s, v->valuestring);
    } else if (cJSON_IsBool(v)) {
        sb_add(s, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNumber(v)) {
        sb_add(s, "%.17g", v->valuedouble);
    }
}

static const cJSON *path_get(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

char *bench_results_csv(const cJSON *doc)
{
    static const char *const fixed_cols[][2] = {
        {"n_samples", NULL},     {"throughput", "items_per_s"}, {"throughput", "ops_per_s"},
        {"latency_ns", "min"},   {"latency_ns", "p50"},         {"latency_ns", "p90"},
        {"latency_ns", "p95"},   {"latency_ns", "p99"},         {"latency_ns", "p999"},
        {"latency_ns", "max"},   {"latency_ns", "mean"},        {"latency_ns", "stddev"},
        {"latency_ns", "cv"},    {"outliers", "n_low"},         {"outliers", "n_high"},
        {"rss", "before_bytes"}, {"rss", "after_bytes"},        {"rss", "peak_bytes"},
    };
    const size_t n_fixed = sizeof fixed_cols / sizeof fixed_cols[0];
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    const cJSON *first = NULL;
    const cJSON *p;
    /* Parameter, metric and counter columns come from the first good point. */
    cJSON_ArrayForEach(p, points)
    {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(p, "status");
        if (cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0) {
            first = p;
            break;
        }
    }
    if (!first)
        first = points ? points->child : NULL;
    const cJSON *params = path_get(first, "params", NULL);
    const cJSON *metrics = path_get(first, "metrics", NULL);
    const cJSON *counters = path_get(first, "counters", NULL);

    sbuf s = {0};
    sb_add(&s, "index,id");
    const cJSON *c;
    cJSON_ArrayForEach(c, params) sb_add(&s, ",%s", c->string);
    sb_add(&s, ",status");
    for (size_t i = 0; i < n_fixed; i++)
        sb_add(&s, fixed_cols[i][1] ? ",%s_%s" : ",%s", fixed_cols[i][0], fixed_cols[i][1]);
    cJSON_ArrayForEach(c, metrics) sb_add(&s, ",%s", c->string);
    cJSON_ArrayForEach(c, counters) sb_add(&s, ",%s", c->string);
    sb_add(&s, "\n");

    cJSON_ArrayForEach(p, points)
    {
        sb_json_value(&s, path_get(p, "index", NULL));
        sb_add(&s, ",");
        sb_json_value(&s, path_get(p, "id", NULL));
        cJSON_ArrayForEach(c, params)
        {
            sb_add(&s, ",");
            sb_json_value(&s, path_get(p, "params", c->string));
        }
        sb_add(&s, ",");
        sb_json_value(&s, path_get(p, "status", NULL));
        for (size_t i = 0; i < n_fixed; i++) {
            sb_add(&s, ",");
            sb_json_value(&s, path_get(p, fixed_cols[i][0], fixed_cols[i][1]));
        }
        cJSON_ArrayForEach(c, metrics)
        {
            sb_add(&s, ",");
            sb_json_value(&s, path_get(path_get(p, "metrics", c->string), "value", NULL));
        }
        cJSON_ArrayForEach(c, counters)
        {
            sb_add(&s, ",");
            sb_json_value(&s, path_get(path_get(p, "counters", c->string), "value", NULL));
        }
        sb_add(&s, "\n");
    }
    if (s.oom) {
        free(s.p);
        return NULL;
    }
    return s.p;
}

/*
 * Turns every number of a (copied) tree into its shortest exact text. cJSON
 * prints 15 significant digits whenever they read back within a relative
 * 1e-16, which rounds some doubles and integers above 2^52; a result must read
 * back exactly as measured. Non-finite numbers become null. Returns 0 or -1 (OOM).
 */
static int exact_numbers(cJSON *node)
{
    for (; node; node = node->next) {
        if (exact_numbers(node->child) != 0)
            return -1;
        if (!cJSON_IsNumber(node))
            continue;
        double v = node->valuedouble;
        if (!isfinite(v)) {
            node->type = cJSON_NULL;
            continue;
        }
        char buf[40];
        for (int digits = 15; digits <= 17; digits++) {
            snprintf(buf, sizeof buf, "%.*g", digits, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        char *text = bench_strdup(buf);
        if (!text)
            return -1;
        node->type = cJSON_Raw;
        node->valuestring = text;
    }
    return 0;
}

/* The document as text with exact numbers (caller frees). NULL on OOM. */
static char *print_exact(const cJSON *doc)
{
    cJSON *copy = cJSON_Duplicate(doc, 1);
    char *text = NULL;
    if (copy && exact_numbers(copy) == 0)
        text = cJSON_Print(copy);
    cJSON_Delete(copy);
    return text;
}

int bench_results_write(const char *dir, const cJSON *doc, bench_err *e)
{
    char path[4096];
    char *json = print_exact(doc);
    char *csv = bench_results_csv(doc);
    int rc = -1;
    if (!json || !csv) {
        bench_err_set(e, "%s: out of memory rendering the result", dir);
        goto done;
    }
    snprintf(path, sizeof path, "%s/result.json", dir);
    if (bench_write_file_atomic(path, json, strlen(json), e) != 0)
        goto done;
    snprintf(path, sizeof path, "%s/result.csv", dir);
    if (bench_write_file_atomic(path, csv, strlen(csv), e) != 0)
        goto done;
    rc = 0;
done:
    free(json);
    free(csv);
    return rc;
}

int bench_results_read(const char *path, cJSON **out, bench_err *e)
{
    *out = NULL;
    char *text = bench_read_file(path, NULL, e);
    if (!text)
        return -1;
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!doc)
        return bench_err_set(e, "%s: $: not valid JSON", path);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(doc, "schema");
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, BENCH_RESULT_SCHEMA) != 0) {
        cJSON_Delete(doc);
        return bench_err_set(e, "%s: $.schema: must be \"%s\"", path, BENCH_RESULT_SCHEMA);
    }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "points"))) {
        cJSON_Delete(doc);
        return bench_err_set(e, "%s: $.points: must be a list", path);
    }
    *out = doc;
    return 0;
}
