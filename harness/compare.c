/*
 * compare.c - a candidate result against a baseline: point matching, the
 * wall / work / instructions tracks, recall/QPS curves, verdicts and their
 * writers (Markdown, JUnit XML, Bencher Metric Format, JSON); and the
 * `baseline save` and `compare` subcommands.
 *
 * Statistical choices (compare.h states the contract):
 *
 * wall, per matched point, from the raw op latencies (samples_ns):
 *   latency_p50  ratio of medians cand/base with a percentile-bootstrap CI
 *                (each side resampled on its own) and a Mann-Whitney U p-value.
 *   throughput   items/s at the median per-item time (op latency over
 *                items_per_op): the inverse of the per-item latency ratio, its
 *                CI inverted, MWU on the per-item times. With equal
 *                items_per_op it is the latency_p50 test seen the other way up;
 *                it differs when --ignore pairs points of different batch sizes.
 *   latency_p99  bootstrap of the 0.99 percentile only. MWU asks whether one
 *                whole distribution sits above the other, not whether its tail
 *                moved, so p99 carries no p-value and stays out of the BH
 *                family: its verdict rests on the CI alone (a CI wholly past
 *                the threshold is itself a test at level 1 - confidence). It
 *                needs >= 500 samples a side (5 beyond the p99): a bootstrap of
 *                a more extreme order statistic is not to be trusted.
 * Benjamini-Hochberg runs over every p-value of the comparison (latency_p50
 * and throughput of every point, and the curves), so many points of pure
 * noise do not add up to a false alarm. A change counts only when q < alpha
 * AND the CI lies wholly past threshold t = max(min_effect, noise floor):
 * above 1 + t or below 1 / (1 + t), symmetric in the ratio like the floor
 * (max(r, 1/r) - 1), so a latency and its rate get the same verdict.
 * "same" needs the CI wholly inside those bounds: a CI that straddles one is
 * inconclusive (the data cannot rule out a change of that size), and where the
 * noise floor is above min_effect a result inside the floor is inconclusive
 * too (changes between min_effect and the floor cannot be seen). Fewer than
 * min_samples on either side is inconclusive. Each item's bootstrap seed is
 * opts.seed mixed with a hash of its point and metric: same inputs, same output.
 *
 * Wall workload metrics (qps, docs/s, stage times, fractions) have no samples
 * of their own: they are informational (shown, never judged). Their rates are
 * means over the run (ops x items / wall time), which one stalled op on a
 * shared machine moves by tens of percent while the median barely moves; the
 * point's throughput row is the tested rate of every workload.
 *
 * work: workload metrics that count work (recall, bytes, counts, ratios of
 * work) and the engine's SDE counters per op ("counter:<name>"; less work is
 * better, except cache hits), exact within work_tolerance. Per-op averages
 * (counters, *_per_op, *_per_query) over runs that measured different op
 * counts get a wider tolerance (mix_tolerance). Counters that are 0 on both
 * sides are left out; hardware (PAPI preset) counters are not deterministic
 * and are informational. Metrics whose better is "none" are informational on
 * every track.
 *
 * instructions: the point's "instructions": {"per_op": N} (callgrind, when
 * the run had --instructions), within instr_tolerance, lower is better.
 *
 * Across machine classes only work, instructions, and wall numbers normalised
 * by each run's calibration are compared (sgemm GFLOP/s for compute workloads,
 * triad GB/s for stream): the candidate's latencies are multiplied, and its
 * rates divided, by calib_cand / calib_base, i.e. rescaled to the baseline
 * machine's speed, and then tested as usual. sql and noop have no calibration
 * that measures them, so their wall numbers are not compared, and workload
 * times and fractions are left out. The calibration's own noise is not in the CI.
 *
 * Curves: points with a recall metric (recall_at_k, or any "recall*") are
 * grouped by every parameter except the search-time knobs (probes, ef_search,
 * ef) and the ignored ones; a group of two or more points is a curve. At recall
 * levels 0.90, 0.95 and 0.99 each side's best point with recall >= the level
 * (its Pareto front there) is compared by QPS at the median per-query time,
 * CI by bootstrapping the chosen points' latency samples (in single-query mode
 * each sample is one query, so this resamples queries; in batch mode it
 * resamples batches). Recall itself is not resampled: per-query recall is not
 * stored, so the choice of point is taken as fixed.
 */
#include "compare.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "measure/stats.h"
#include "gates.h"
#include "results.h"

#define TAIL_PCT 0.99
#define TAIL_MIN_BEYOND 5 /* samples a side beyond the p99 */

static const double recall_levels[] = {0.90, 0.95, 0.99};
static const char *const search_knobs[] = {"probes", "ef_search", "ef"};

/* ---- names ---------------------------------------------------------------- */

const char *bench_track_name(bench_track t)
{
    switch (t) {
    case BENCH_TRACK_WALL:
        return "wall";
    case BENCH_TRACK_WORK:
        return "work";
    case BENCH_TRACK_INSTRUCTIONS:
        return "instructions";
    }
    return "?";
}

const char *bench_verdict_name(bench_verdict v)
{
    switch (v) {
    case BENCH_VERDICT_SAME:
        return "same";
    case BENCH_VERDICT_BETTER:
        return "better";
    case BENCH_VERDICT_WORSE:
        return "worse";
    case BENCH_VERDICT_INCONCLUSIVE:
        return "inconclusive";
    case BENCH_VERDICT_MISSING:
        return "missing";
    }
    return "?";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_time_unit(const char *u)
{
    static const char *const units[] = {"ns", "us", "\xc2\xb5s", "ms", "s", "min", "h"};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(u, units[i]) == 0)
            return true;
    return false;
}

static bool is_rate_unit(const char *u)
{
    return strstr(u, "/s") != NULL;
}

bench_track bench_metric_track(const char *name, const char *unit)
{
    if (!unit)
        unit = "";
    if (strncmp(name, "instructions", 12) == 0)
        return BENCH_TRACK_INSTRUCTIONS;
    if (strncmp(name, "counter:", 8) == 0)
        return BENCH_TRACK_WORK;
    if (strncmp(name, "latency", 7) == 0 || strcmp(name, "throughput") == 0)
        return BENCH_TRACK_WALL;
    /* Per second, a time, or a share of the time: measured by a clock. */
    if (is_rate_unit(unit) || is_time_unit(unit) || strstr(unit, "op time") ||
        ends_with(name, "_fraction"))
        return BENCH_TRACK_WALL;
    /* Arithmetic rates and their efficiency against a calibrated peak. */
    if (strstr(name, "gflop") || strstr(name, "efficiency") || ends_with(name, "_per_s"))
        return BENCH_TRACK_WALL;
    return BENCH_TRACK_WORK; /* recall, bytes, counts, ratios of work */
}

bench_compare_opts bench_compare_default_opts(void)
{
    bench_compare_opts o = {0};
    o.min_effect = 0.05;
    o.alpha = 0.05;
    o.confidence = 0.95;
    o.n_boot = 2000;
    o.seed = 1;
    o.min_samples = 10;
    o.work_tolerance = 1e-6;
    o.instr_tolerance = 0.003;
    return o;
}

/* ---- JSON helpers ----------------------------------------------------------- */

/* ---- machine class ------------------------------------------------------------- */

/* Appends the lower-case alphanumeric words of text, '-'-joined, to buf. */
static void slug_append(char *buf, size_t size, const char *text)
{
    size_t len = strlen(buf);
    bool gap = len > 0;
    for (const char *p = text; *p && len + 2 < size; p++) {
        if (isalnum((unsigned char)*p)) {
            if (gap && len > 0)
                buf[len++] = '-';
            gap = false;
            buf[len++] = (char)tolower((unsigned char)*p);
        } else {
            gap = true;
        }
    }
    buf[len] = '\0';
}

int bench_machine_class(const cJSON *result, char *buf, size_t size, bench_err *e)
{
    const cJSON *host = bench_json_get(result, "host");
    const char *model = bench_json_str(bench_json_get(host, "cpu"), "model");
    double cores = bench_json_num(bench_json_get(host, "cpu"), "cores");
    double mem = bench_json_num(host, "memory_bytes");
    const char *core = bench_json_str(bench_json_get(host, "blas"), "core");
    if (!model)
        return bench_err_set(e, "$.host.cpu.model: missing (needed for the machine class)");
    if (!(cores >= 1))
        return bench_err_set(e, "$.host.cpu.cores: missing or not a positive number");
    if (!(mem > 0))
        return bench_err_set(e, "$.host.memory_bytes: missing or not a positive number");
    if (!core)
        return bench_err_set(e, "$.host.blas.core: missing (needed for the machine class)");

    /* "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz" -> "intel-xeon-platinum-8481c":
     * trademarks, the word CPU and the nominal clock say nothing about the part. */
    char words[256] = "", model_buf[256];
    snprintf(model_buf, sizeof model_buf, "%s", model);
    char *at = strchr(model_buf, '@');
    if (at)
        *at = '\0';
    char *save = NULL;
    for (char *w = strtok_r(model_buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        char lower[64];
        size_t k = 0;
        for (; w[k] && k + 1 < sizeof lower; k++)
            lower[k] = (char)tolower((unsigned char)w[k]);
        lower[k] = '\0';
        char *tm;
        while ((tm = strstr(lower, "(r)")) || (tm = strstr(lower, "(tm)")))
            memmove(tm, strchr(tm, ')') + 1, strlen(strchr(tm, ')') + 1) + 1);
        if (strcmp(lower, "cpu") == 0 || lower[0] == '\0')
            continue;
        slug_append(words, sizeof words, lower);
    }
    char tail[64];
    snprintf(tail, sizeof tail, "%dc-%lldg", (int)cores, (long long)llround(mem / 1073741824.0));
    slug_append(words, sizeof words, tail);
    slug_append(words, sizeof words, core);
    if (strlen(words) + 1 > size)
        return bench_err_set(e, "machine class '%s' is longer than %zu bytes", words, size - 1);
    memcpy(buf, words, strlen(words) + 1);
    return 0;
}

/* ---- noise floors ---------------------------------------------------------- */

static double floor_value(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return v->valuedouble;
    if (cJSON_IsObject(v))
        return bench_json_num(v, "floor");
    return NAN;
}

static int check_floors(const cJSON *o, const char *path, const char *where, bench_err *e)
{
    if (!o)
        return 0;
    if (!cJSON_IsObject(o))
        return bench_err_set(e, "%s: %s: must be an object", path, where);
    const cJSON *m;
    cJSON_ArrayForEach(m, o)
    {
        double f = floor_value(m);
        if (!isfinite(f) || f < 0 || f >= 10)
            return bench_err_set(e,
                                 "%s: %s.%s: a noise floor must be a number in [0, 10) or an "
                                 "object with one in \"floor\" (relative: 0.04 = 4%%)",
                                 path, where, m->string);
    }
    return 0;
}

static int check_scope(const cJSON *scope, const char *path, const char *where, bench_err *e)
{
    char at[512];
    const cJSON *pts = bench_json_get(scope, "points");
    if (pts && !cJSON_IsObject(pts))
        return bench_err_set(e, "%s: %s.points: must be an object of point ids", path, where);
    const cJSON *p;
    cJSON_ArrayForEach(p, pts)
    {
        snprintf(at, sizeof at, "%s.points.%s", where, p->string);
        if (check_floors(p, path, at, e) != 0)
            return -1;
    }
    snprintf(at, sizeof at, "%s.metrics", where);
    return check_floors(bench_json_get(scope, "metrics"), path, at, e);
}

/* Checks a noise document against the shape in compare.h and the scenario. */
static int check_noise(const cJSON *noise, const char *path, const char *scenario, bench_err *e)
{
    if (!cJSON_IsObject(noise))
        return bench_err_set(e, "%s: $: a noise file must be a JSON object", path);
    const cJSON *scs = bench_json_get(noise, "scenarios");
    if (scs) {
        if (!cJSON_IsObject(scs))
            return bench_err_set(e, "%s: $.scenarios: must be an object of scenario names", path);
        const cJSON *sc;
        cJSON_ArrayForEach(sc, scs)
        {
            char at[256];
            snprintf(at, sizeof at, "$.scenarios.%s", sc->string);
            if (check_scope(sc, path, at, e) != 0)
                return -1;
        }
        return 0;
    }
    const char *name = bench_json_str(noise, "scenario");
    if (name && scenario && strcmp(name, scenario) != 0)
        return bench_err_set(e, "%s: $.scenario: floors of '%s', comparing scenario '%s'", path,
                             name, scenario);
    if (!bench_json_get(noise, "points") && !bench_json_get(noise, "metrics"))
        return bench_err_set(e, "%s: $: no \"points\" or \"metrics\" floors in it", path);
    return check_scope(noise, path, "$", e);
}

static double noise_floor(const cJSON *noise, const char *scenario, const char *point,
                          const char *metric)
{
    if (!noise)
        return NAN;
    const cJSON *scope = noise;
    const cJSON *scs = bench_json_get(noise, "scenarios");
    if (scs)
        scope = bench_json_get(scs, scenario);
    double f =
        floor_value(bench_json_get(bench_json_get(bench_json_get(scope, "points"), point), metric));
    if (!isnan(f))
        return f;
    return floor_value(bench_json_get(bench_json_get(scope, "metrics"), metric));
}

/* ---- the points of one side ----------------------------------------------------- */

typedef struct side_point {
    const cJSON *j;
    const char *id;
    char *key;   /* every parameter but the ignored ones */
    char *group; /* the key less the search-time knobs */
    bool ok;
    const char *error;
    double *lat; /* op latencies, ns (candidate: normalised across classes) */
    double *per_item;
    size_t n;
    double items_per_op;
    const char *item_unit;
    const char *recall_name;
    double recall;
    double rate; /* items/s at the median per-item time; NAN without samples */
    long match;  /* index of the matching point on the other side, -1 none, -2 ambiguous */
} side_point;

typedef struct side {
    side_point *pts;
    size_t n;
} side;

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* "name=value\x1f..." over the parameters kept; NULL on OOM. */
static char *params_key(const cJSON *params, const bench_compare_opts *o, bool drop_knobs)
{
    size_t cap = 256, len = 0;
    char *key = malloc(cap);
    if (!key)
        return NULL;
    key[0] = '\0';
    const cJSON *p;
    cJSON_ArrayForEach(p, params)
    {
        if (in_list(p->string, o->ignore_params, o->n_ignore))
            continue;
        if (drop_knobs &&
            in_list(p->string, search_knobs, sizeof search_knobs / sizeof search_knobs[0]))
            continue;
        char *v = cJSON_PrintUnformatted(p);
        if (!v) {
            free(key);
            return NULL;
        }
        size_t need = len + strlen(p->string) + strlen(v) + 3;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            char *grown = realloc(key, cap);
            if (!grown) {
                free(v);
                free(key);
                return NULL;
            }
            key = grown;
        }
        len += (size_t)sprintf(key + len, "%s=%s\x1f", p->string, v);
        free(v);
    }
    return key;
}

static void side_free(side *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->pts[i].key);
        free(s->pts[i].group);
        free(s->pts[i].lat);
        free(s->pts[i].per_item);
    }
    free(s->pts);
    s->pts = NULL;
    s->n = 0;
}

/* Reads the points of doc; lat_scale multiplies every latency. Returns 0 or -1 (OOM). */
static int side_load(const cJSON *doc, const bench_compare_opts *o, double lat_scale, side *s)
{
    const cJSON *points = bench_json_get(doc, "points");
    size_t n = (size_t)cJSON_GetArraySize(points);
    s->pts = calloc(n ? n : 1, sizeof *s->pts);
    if (!s->pts)
        return -1;
    s->n = n;
    size_t i = 0;
    const cJSON *pj;
    cJSON_ArrayForEach(pj, points)
    {
        side_point *p = &s->pts[i++];
        p->j = pj;
        p->id = bench_json_str(pj, "id");
        if (!p->id)
            p->id = "?";
        p->match = -1;
        p->rate = NAN;
        p->recall = NAN;
        const char *status = bench_json_str(pj, "status");
        p->ok = status && strcmp(status, "ok") == 0;
        p->error = bench_json_str(pj, "error");
        p->key = params_key(bench_json_get(pj, "params"), o, false);
        p->group = params_key(bench_json_get(pj, "params"), o, true);
        if (!p->key || !p->group)
            return -1;
        p->items_per_op = bench_json_num(pj, "items_per_op");
        if (!(p->items_per_op > 0))
            p->items_per_op = 1;
        p->item_unit = bench_json_str(pj, "item_unit");
        if (!p->item_unit)
            p->item_unit = "item";
        const cJSON *m;
        cJSON_ArrayForEach(m, bench_json_get(pj, "metrics"))
        {
            if (strncmp(m->string, "recall", 6) == 0 &&
                cJSON_IsNumber(bench_json_get(m, "value"))) {
                p->recall_name = m->string;
                p->recall = bench_json_num(m, "value");
                break;
            }
        }
        const cJSON *samples = bench_json_get(pj, "samples_ns");
        size_t ns = (size_t)cJSON_GetArraySize(samples);
        if (!p->ok || ns == 0)
            continue;
        p->lat = malloc(ns * sizeof *p->lat);
        p->per_item = malloc(ns * sizeof *p->per_item);
        if (!p->lat || !p->per_item)
            return -1;
        const cJSON *v;
        cJSON_ArrayForEach(v, samples)
        {
            if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0))
                continue; /* a malformed sample is left out, never read as 0 */
            p->lat[p->n] = v->valuedouble * lat_scale;
            p->per_item[p->n] = p->lat[p->n] / p->items_per_op;
            p->n++;
        }
        if (p->n) {
            double med = bench_stats_median(p->per_item, p->n);
            p->rate = med > 0 ? 1e9 / med : NAN;
        }
    }
    return 0;
}

/* ---- building the comparison -------------------------------------------------- */

enum { PEND_NONE, PEND_WALL, PEND_TAIL };

typedef struct pend {
    int kind;
    double p;
    double floor;
} pend;

typedef struct curve_pend {
    pend p;
    char prefix[160];
} curve_pend;

typedef struct cctx {
    const bench_compare_opts *o;
    bench_comparison *c;
    size_t cap_items, cap_curves;
    pend *pi;       /* parallel to items */
    curve_pend *pc; /* parallel to curves */
    bool oom;
    bool wall;        /* wall numbers compared at all */
    const char *norm; /* cross-class: the calibration wall numbers are divided by */
    double scale;     /* candidate latency multiplier: 1, or calib_cand / calib_base */
    double calib_base, calib_cand;
} cctx;

static uint64_t item_seed(const bench_compare_opts *o, const char *a, const char *b)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s\x1f%s", a, b);
    return o->seed ^ bench_fnv1a64(buf, n < 0                    ? 0
                                        : (size_t)n < sizeof buf ? (size_t)n
                                                                 : sizeof buf - 1);
}

static bench_metric_cmp *new_item(cctx *x, const char *point, const char *metric, const char *unit,
                                  bench_track track, bench_better better)
{
    bench_comparison *c = x->c;
    if (c->n_items == x->cap_items) {
        size_t cap = x->cap_items ? 2 * x->cap_items : 64;
        bench_metric_cmp *items = realloc(c->items, cap * sizeof *items);
        if (!items) {
            x->oom = true;
            return NULL;
        }
        c->items = items;
        pend *pi = realloc(x->pi, cap * sizeof *pi);
        if (!pi) {
            x->oom = true;
            return NULL;
        }
        x->pi = pi;
        x->cap_items = cap;
    }
    x->pi[c->n_items] = (pend){PEND_NONE, NAN, NAN};
    bench_metric_cmp *m = &c->items[c->n_items++];
    memset(m, 0, sizeof *m);
    snprintf(m->point_id, sizeof m->point_id, "%s", point);
    snprintf(m->metric, sizeof m->metric, "%s", metric);
    snprintf(m->unit, sizeof m->unit, "%s", unit ? unit : "");
    m->track = track;
    m->better = better;
    m->base = m->cand = m->ratio = m->ci_lo = m->ci_hi = NAN;
    m->p_value = m->q_value = m->noise_floor = NAN;
    m->threshold = track == BENCH_TRACK_WALL ? x->o->min_effect : NAN;
    m->verdict = BENCH_VERDICT_SAME;
    return m;
}

static void set_reason(char *reason, size_t size, const char *fmt, ...) BENCH_PRINTF(3, 4);

static void set_reason(char *reason, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, size, fmt, ap);
    va_end(ap);
}

static void missing(cctx *x, const char *point, const char *metric, bench_track track,
                    const char *fmt, const char *arg)
{
    bench_metric_cmp *m = new_item(x, point, metric, "", track, BENCH_BETTER_NONE);
    if (!m)
        return;
    m->verdict = BENCH_VERDICT_MISSING;
    set_reason(m->reason, sizeof m->reason, fmt, arg ? arg : "");
}

static void pct_interval(double lo, double hi, char *buf, size_t size)
{
    snprintf(buf, size, "[%+.1f%%, %+.1f%%]", (lo - 1) * 100, (hi - 1) * 100);
}

/*
 * The wall verdict of a ratio's interval (see the file comment). p NAN: a
 * tail, judged on its CI alone. Returns the verdict, fills thr and reason.
 */
static bench_verdict judge_interval(double lo, double hi, double p, double q, bench_better better,
                                    double min_effect, double floor, double alpha, double *thr,
                                    char *reason, size_t size)
{
    bool use_floor = !isnan(floor) && floor > min_effect;
    double t = use_floor ? floor : min_effect;
    *thr = t;
    char ci[64];
    pct_interval(lo, hi, ci, sizeof ci);
    char qtxt[40] = "";
    if (!isnan(p))
        snprintf(qtxt, sizeof qtxt, ", q=%.2g", q);
    const char *why_t = use_floor ? " (noise floor)" : "";
    /* Symmetric in the ratio, as the noise floor max(r, 1/r) - 1 is: a latency past
     * 1 + t is exactly a rate past 1 / (1 + t), so the two views of one test agree. */
    double up_t = 1 + t, down_t = 1 / (1 + t);
    if (lo > up_t || hi < down_t) {
        bool up = lo > up_t;
        if (!isnan(p) && !(q < alpha)) {
            set_reason(reason, size, "CI %s past %+.1f%% but not significant (q=%.2g >= %.2g)", ci,
                       ((up ? up_t : down_t) - 1) * 100, q, alpha);
            return BENCH_VERDICT_INCONCLUSIVE;
        }
        set_reason(reason, size, "CI %s entirely %s %+.1f%%%s%s", ci, up ? "above" : "below",
                   ((up ? up_t : down_t) - 1) * 100, why_t, qtxt);
        return (better == BENCH_BETTER_HIGHER) == up ? BENCH_VERDICT_BETTER : BENCH_VERDICT_WORSE;
    }
    if (lo >= down_t && hi <= up_t) {
        if (use_floor) {
            set_reason(reason, size,
                       "noise floor %.1f%% above the %.1f%% minimum effect: CI %s is inside the "
                       "noise, a change of %.1f-%.1f%% cannot be seen",
                       floor * 100, min_effect * 100, ci, min_effect * 100, floor * 100);
            return BENCH_VERDICT_INCONCLUSIVE;
        }
        set_reason(reason, size, "CI %s within [%+.1f%%, %+.1f%%]%s", ci, (down_t - 1) * 100,
                   t * 100, qtxt);
        return BENCH_VERDICT_SAME;
    }
    set_reason(reason, size, "CI %s reaches past %+.1f%% or %+.1f%%%s: too noisy to tell%s", ci,
               (down_t - 1) * 100, t * 100, why_t, qtxt);
    return BENCH_VERDICT_INCONCLUSIVE;
}

/* Work and instructions: deterministic, exact within a relative tolerance. */
static void judge_exact(bench_metric_cmp *m, double tol)
{
    m->threshold = tol;
    m->ratio = m->base != 0 ? m->cand / m->base : (m->cand == 0 ? 1.0 : INFINITY * m->cand);
    m->ci_lo = m->ci_hi = m->ratio;
    if (m->base == m->cand) {
        set_reason(m->reason, sizeof m->reason, "equal (%.6g)", m->cand);
        m->verdict = BENCH_VERDICT_SAME;
        return;
    }
    double rel = m->base != 0 ? fabs(m->ratio - 1) : INFINITY;
    if (rel <= tol) {
        set_reason(m->reason, sizeof m->reason, "%+.3g%% within +-%.3g%%", (m->ratio - 1) * 100,
                   tol * 100);
        m->verdict = BENCH_VERDICT_SAME;
        return;
    }
    if (m->better == BENCH_BETTER_NONE) {
        m->informational = true;
        set_reason(m->reason, sizeof m->reason, "changed %.6g -> %.6g (no better direction)",
                   m->base, m->cand);
        return;
    }
    bool up = m->cand > m->base;
    m->verdict =
        (m->better == BENCH_BETTER_HIGHER) == up ? BENCH_VERDICT_BETTER : BENCH_VERDICT_WORSE;
    if (m->base != 0)
        set_reason(m->reason, sizeof m->reason, "%.6g -> %.6g (%+.3g%%, tolerance +-%.3g%%)",
                   m->base, m->cand, (m->ratio - 1) * 100, tol * 100);
    else
        set_reason(m->reason, sizeof m->reason, "0 -> %.6g", m->cand);
}

static bool few_samples(cctx *x, bench_metric_cmp *m, size_t nb, size_t nc, size_t need)
{
    if (nb >= need && nc >= need)
        return false;
    m->verdict = BENCH_VERDICT_INCONCLUSIVE;
    set_reason(m->reason, sizeof m->reason,
               "n=%zu baseline, %zu candidate: fewer than %zu samples%s", nb, nc, need,
               need > x->o->min_samples ? " (a p99 needs 5 beyond it)" : "");
    return true;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile_of(const double *v, size_t n, double pct, bool *oom)
{
    if (n == 0)
        return NAN;
    double *s = malloc(n * sizeof *s);
    if (!s) {
        *oom = true;
        return NAN;
    }
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_dbl);
    double r = bench_stats_percentile_sorted(s, n, pct);
    free(s);
    return r;
}

/*
 * A bootstrap item: cand/base of the pct-percentile of the op latencies, or
 * (rate) of the items/s at the pct-percentile of the per-item times. Its
 * verdict waits for Benjamini-Hochberg. Returns the item's index, or -1.
 */
static long wall_item(cctx *x, const side_point *b, const side_point *c, const char *metric,
                      double pct, bool rate, size_t need)
{
    char unit[32] = "ns";
    if (rate)
        snprintf(unit, sizeof unit, "%s/s", c->item_unit);
    bench_metric_cmp *m = new_item(x, c->id, metric, unit, BENCH_TRACK_WALL,
                                   rate ? BENCH_BETTER_HIGHER : BENCH_BETTER_LOWER);
    if (!m)
        return -1;
    long idx = (long)x->c->n_items - 1;
    const bench_compare_opts *o = x->o;
    m->normalised = x->norm != NULL;
    const double *xb = rate ? b->per_item : b->lat, *xc = rate ? c->per_item : c->lat;
    double vb = percentile_of(xb, b->n, pct, &x->oom), vc = percentile_of(xc, c->n, pct, &x->oom);
    m->base = rate ? 1e9 / vb : vb;
    m->cand = rate ? 1e9 / vc : vc;
    m->ratio = m->cand / m->base;
    m->ci_lo = m->ci_hi = m->ratio;
    m->noise_floor = noise_floor(o->noise, x->c->scenario, c->id, metric);
    if (few_samples(x, m, b->n, c->n, need))
        return idx;
    double r, lo, hi;
    if (bench_stats_bootstrap_ratio(xb, b->n, xc, c->n, pct, o->n_boot, o->confidence,
                                    item_seed(o, c->id, metric), &r, &lo, &hi) != 0) {
        m->verdict = BENCH_VERDICT_INCONCLUSIVE;
        set_reason(m->reason, sizeof m->reason,
                   "no interval: a zero baseline percentile (or out of memory)");
        return idx;
    }
    m->ratio = rate ? 1 / r : r;
    m->ci_lo = rate ? 1 / hi : lo;
    m->ci_hi = rate ? 1 / lo : hi;
    pend *pd = &x->pi[idx];
    pd->floor = m->noise_floor;
    if (pct == 0.5) {
        pd->kind = PEND_WALL;
        pd->p = m->p_value = bench_stats_mann_whitney_p(xb, b->n, xc, c->n);
    } else {
        pd->kind = PEND_TAIL;
    }
    return idx;
}

static bench_better parse_better(const char *s)
{
    if (s && strcmp(s, "higher") == 0)
        return BENCH_BETTER_HIGHER;
    if (s && strcmp(s, "lower") == 0)
        return BENCH_BETTER_LOWER;
    return BENCH_BETTER_NONE;
}

/*
 * Work per op is an average over the measured ops. A workload that cycles
 * through different inputs (queries) averages over another mix when the two
 * runs measured different numbers of ops, as time-bounded runs do; then the
 * exact tolerance widens to about ten ops' worth of work, 10 / n (a partial
 * cycle of a few hundred inputs whose work varies by tens of percent moves the
 * mean by that much). With equal op and warm-up counts the sequences are the
 * same and the tolerance stays exact. The reason says when it widened.
 */
static double mix_tolerance(cctx *x, const side_point *b, const side_point *c)
{
    double tol = x->o->work_tolerance;
    double nb = bench_json_num(b->j, "n_samples"), nc = bench_json_num(c->j, "n_samples");
    double wb = bench_json_num(bench_json_get(b->j, "warmup"), "ops"),
           wc = bench_json_num(bench_json_get(c->j, "warmup"), "ops");
    if (isnan(nb))
        nb = (double)b->n;
    if (isnan(nc))
        nc = (double)c->n;
    if (nb == nc && (wb == wc || (isnan(wb) && isnan(wc))))
        return tol;
    double n = fmin(nb, nc);
    return n >= 1 && 10.0 / n > tol ? 10.0 / n : tol;
}

/* Says so when mix_tolerance widened an item's tolerance. */
static void note_mix(const cctx *x, bench_metric_cmp *m)
{
    size_t len = strlen(m->reason);
    if (m->threshold > x->o->work_tolerance && len < sizeof m->reason)
        snprintf(m->reason + len, sizeof m->reason - len,
                 "; per-op averages over different op counts");
}

static void compare_instructions(cctx *x, const side_point *b, const side_point *c)
{
    double vb = bench_json_num(bench_json_get(b->j, "instructions"), "per_op");
    double vc = bench_json_num(bench_json_get(c->j, "instructions"), "per_op");
    if (isnan(vb) && isnan(vc))
        return;
    if (isnan(vb) || isnan(vc)) {
        missing(x, c->id, "instructions_per_op", BENCH_TRACK_INSTRUCTIONS,
                "instruction counts only in the %s (run both with --instructions)",
                isnan(vb) ? "candidate" : "baseline");
        return;
    }
    bench_metric_cmp *m = new_item(x, c->id, "instructions_per_op", "instructions",
                                   BENCH_TRACK_INSTRUCTIONS, BENCH_BETTER_LOWER);
    if (!m)
        return;
    m->base = vb;
    m->cand = vc;
    judge_exact(m, x->o->instr_tolerance);
}

static void compare_metrics(cctx *x, const side_point *b, const side_point *c)
{
    const cJSON *mb = bench_json_get(b->j, "metrics"), *mc = bench_json_get(c->j, "metrics");
    const cJSON *m;
    cJSON_ArrayForEach(m, mc)
    {
        const char *unit = bench_json_str(m, "unit");
        bench_better better = parse_better(bench_json_str(m, "better"));
        bench_track track = bench_metric_track(m->string, unit);
        const cJSON *bm = bench_json_get(mb, m->string);
        double vb = bench_json_num(bm, "value"), vc = bench_json_num(m, "value");
        bool wall = track == BENCH_TRACK_WALL;
        bool rate = wall && unit && is_rate_unit(unit);
        if (wall && (!x->wall || (x->norm && !rate)))
            continue; /* across classes only normalised rates are comparable */
        if (!bm) {
            bench_metric_cmp *it = new_item(x, c->id, m->string, unit, track, better);
            if (!it)
                return;
            it->cand = vc;
            it->informational = true;
            set_reason(it->reason, sizeof it->reason, "new in the candidate");
            continue;
        }
        if (isnan(vb) || isnan(vc)) {
            missing(x, c->id, m->string, track, "no value in the %s",
                    isnan(vb) ? "baseline" : "candidate");
            continue;
        }
        bench_metric_cmp *it = new_item(x, c->id, m->string, unit, track, better);
        if (!it)
            return;
        it->base = vb;
        it->cand = vc;
        if (!wall) {
            bool per_op = strstr(m->string, "per_op") || strstr(m->string, "per_query");
            judge_exact(it, per_op ? mix_tolerance(x, b, c) : x->o->work_tolerance);
            note_mix(x, it);
            continue;
        }
        if (x->norm) {
            /* at the baseline machine's speed, as the candidate's latencies are */
            it->cand = vc * x->calib_base / x->calib_cand;
            it->normalised = true;
        }
        it->ratio = it->cand / it->base;
        it->ci_lo = it->ci_hi = it->ratio;
        it->informational = true;
        set_reason(it->reason, sizeof it->reason,
                   rate ? "informational: a mean rate with no samples of its own; throughput "
                          "(the median op rate) is the tested number"
                        : "informational: a time or share of time with no samples of its own; "
                          "latency_p50 and throughput are the tested numbers");
    }
    cJSON_ArrayForEach(m, mb)
    {
        if (!bench_json_get(mc, m->string) &&
            !(bench_metric_track(m->string, bench_json_str(m, "unit")) == BENCH_TRACK_WALL &&
              x->norm))
            missing(x, c->id, m->string, bench_metric_track(m->string, bench_json_str(m, "unit")),
                    "only in the baseline%s", "");
    }
}

static double counter_per_op(const cJSON *k, const side_point *p)
{
    double v = bench_json_num(k, "per_op");
    if (!isnan(v))
        return v;
    const cJSON *samples = bench_json_get(p->j, "samples_ns");
    int n = cJSON_GetArraySize(samples);
    return n > 0 ? bench_json_num(k, "value") / n : NAN;
}

static void compare_counters(cctx *x, const side_point *b, const side_point *c)
{
    const cJSON *cb = bench_json_get(b->j, "counters"), *cc = bench_json_get(c->j, "counters");
    const cJSON *k;
    char name[96], why[192];
    cJSON_ArrayForEach(k, cc)
    {
        const cJSON *kb = bench_json_get(cb, k->string);
        bool avail_c = cJSON_IsTrue(bench_json_get(k, "available")),
             avail_b = cJSON_IsTrue(bench_json_get(kb, "available"));
        bool hw = strncmp(k->string, "sde:::", 6) != 0;
        snprintf(name, sizeof name, "counter:%s", k->string);
        if (!avail_b && !avail_c)
            continue;
        if (hw && x->norm)
            continue; /* another machine's hardware events */
        if (!avail_b || !avail_c) {
            const char *r = bench_json_str(avail_b ? k : kb, "reason");
            snprintf(why, sizeof why, "not measured in the %s%s%s",
                     avail_b ? "candidate" : "baseline", r ? ": " : "", r ? r : "");
            missing(x, c->id, name, BENCH_TRACK_WORK, "%s", why);
            continue;
        }
        double vb = counter_per_op(kb, b), vc = counter_per_op(k, c);
        if (vb == 0 && vc == 0)
            continue;
        bench_better better = strstr(k->string, "hit") ? BENCH_BETTER_HIGHER : BENCH_BETTER_LOWER;
        bench_metric_cmp *m = new_item(x, c->id, name, "per op", BENCH_TRACK_WORK, better);
        if (!m)
            return;
        m->base = vb;
        m->cand = vc;
        judge_exact(m, mix_tolerance(x, b, c));
        note_mix(x, m);
        if (hw) {
            m->verdict = BENCH_VERDICT_SAME;
            m->informational = true;
            set_reason(m->reason, sizeof m->reason,
                       "informational: hardware counters are not deterministic (%+.2g%%)",
                       (m->ratio - 1) * 100);
        }
    }
    cJSON_ArrayForEach(k, cb)
    {
        if (!bench_json_get(cc, k->string) && cJSON_IsTrue(bench_json_get(k, "available")) &&
            !(x->norm && strncmp(k->string, "sde:::", 6) != 0)) {
            snprintf(name, sizeof name, "counter:%s", k->string);
            missing(x, c->id, name, BENCH_TRACK_WORK, "only in the baseline%s", "");
        }
    }
}

static void compare_point(cctx *x, const side_point *b, const side_point *c)
{
    if (x->wall) {
        if (!b->n || !c->n) {
            missing(x, c->id, "latency_p50", BENCH_TRACK_WALL, "no samples in the %s",
                    b->n ? "candidate" : "baseline");
        } else {
            size_t need = x->o->min_samples;
            size_t need_tail = (size_t)ceil(TAIL_MIN_BEYOND / (1 - TAIL_PCT) - 1e-9);
            if (need_tail < need)
                need_tail = need;
            wall_item(x, b, c, "latency_p50", 0.5, false, need);
            wall_item(x, b, c, "throughput", 0.5, true, need);
            wall_item(x, b, c, "latency_p99", TAIL_PCT, false, need_tail);
        }
    }
    compare_instructions(x, b, c);
    compare_metrics(x, b, c);
    compare_counters(x, b, c);
    double rb = bench_json_num(bench_json_get(b->j, "rss"), "peak_bytes"),
           rc = bench_json_num(bench_json_get(c->j, "rss"), "peak_bytes");
    if (!isnan(rb) && !isnan(rc) && rb > 0) {
        bench_metric_cmp *m =
            new_item(x, c->id, "rss_peak_bytes", "bytes", BENCH_TRACK_WORK, BENCH_BETTER_LOWER);
        if (!m)
            return;
        m->base = rb;
        m->cand = rc;
        m->ratio = m->ci_lo = m->ci_hi = rc / rb;
        m->informational = true;
        set_reason(m->reason, sizeof m->reason,
                   "informational: peak RSS moves with the allocator; absolute gates judge it");
    }
}

/* ---- curves ------------------------------------------------------------------ */

static void value_text(const cJSON *v, char *buf, size_t size)
{
    if (cJSON_IsString(v))
        snprintf(buf, size, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(buf, size, "%.15g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(buf, size, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else
        snprintf(buf, size, "?");
}

/* "name=value,..." of p's knobs (knobs) or of its other parameters, into buf. */
static void params_text(const side *s, const side_point *p, const bench_compare_opts *o, bool knobs,
                        char *buf, size_t size)
{
    buf[0] = '\0';
    size_t len = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, bench_json_get(p->j, "params"))
    {
        bool knob = in_list(v->string, search_knobs, sizeof search_knobs / sizeof search_knobs[0]);
        if (knob != knobs || in_list(v->string, o->ignore_params, o->n_ignore))
            continue;
        if (knobs || strcmp(v->string, "kind") != 0) {
            /* The parameters that vary across the scenario's points (and the index kind)
             * name a curve and its chosen points. */
            bool varies = false;
            char *mine = cJSON_PrintUnformatted(v);
            for (size_t i = 0; i < s->n && mine && !varies; i++) {
                char *other = cJSON_PrintUnformatted(
                    bench_json_get(bench_json_get(s->pts[i].j, "params"), v->string));
                varies = !other || strcmp(other, mine) != 0;
                free(other);
            }
            free(mine);
            if (!varies)
                continue;
        }
        char val[128];
        value_text(v, val, sizeof val);
        int n = snprintf(buf + len, size - len, "%s%s=%s", len ? "," : "", v->string, val);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
    }
    if (!buf[0] && !knobs)
        snprintf(buf, size, "all points");
}

static bool on_curve(const side_point *p)
{
    return p->ok && p->recall_name && !isnan(p->recall) && p->n > 0 && !isnan(p->rate);
}

static long best_at(const side *s, const char *group, double level)
{
    long best = -1;
    for (size_t i = 0; i < s->n; i++) {
        const side_point *p = &s->pts[i];
        if (!on_curve(p) || strcmp(p->group, group) != 0 || p->recall < level)
            continue;
        if (best < 0 || p->rate > s->pts[best].rate)
            best = (long)i;
    }
    return best;
}

static size_t group_size(const side *s, const char *group)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += on_curve(&s->pts[i]) && strcmp(s->pts[i].group, group) == 0;
    return n;
}

static bench_curve_cmp *new_curve(cctx *x, curve_pend **cp)
{
    bench_comparison *c = x->c;
    if (c->n_curves == x->cap_curves) {
        size_t cap = x->cap_curves ? 2 * x->cap_curves : 16;
        bench_curve_cmp *curves = realloc(c->curves, cap * sizeof *curves);
        if (!curves) {
            x->oom = true;
            return NULL;
        }
        c->curves = curves;
        curve_pend *pc = realloc(x->pc, cap * sizeof *pc);
        if (!pc) {
            x->oom = true;
            return NULL;
        }
        x->pc = pc;
        x->cap_curves = cap;
    }
    *cp = &x->pc[c->n_curves];
    memset(*cp, 0, sizeof **cp);
    (*cp)->p = (pend){PEND_NONE, NAN, NAN};
    bench_curve_cmp *k = &c->curves[c->n_curves++];
    memset(k, 0, sizeof *k);
    k->base_qps = k->cand_qps = k->ratio = k->ci_lo = k->ci_hi = NAN;
    return k;
}

static void compare_curves(cctx *x, const side *bs, const side *cs)
{
    const bench_compare_opts *o = x->o;
    for (size_t i = 0; i < cs->n; i++) {
        const side_point *first = &cs->pts[i];
        if (!on_curve(first))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = on_curve(&cs->pts[j]) && strcmp(cs->pts[j].group, first->group) == 0;
        if (seen)
            continue;
        if (group_size(cs, first->group) < 2 && group_size(bs, first->group) < 2)
            continue; /* one point is a cell, not a curve */
        char label[256];
        params_text(cs, first, o, false, label, sizeof label);
        for (size_t l = 0; l < sizeof recall_levels / sizeof recall_levels[0]; l++) {
            double level = recall_levels[l];
            long ib = best_at(bs, first->group, level), ic = best_at(cs, first->group, level);
            if (ib < 0 && ic < 0)
                continue;
            curve_pend *cp;
            bench_curve_cmp *k = new_curve(x, &cp);
            if (!k)
                return;
            snprintf(k->group, sizeof k->group, "%s", label);
            snprintf(k->recall_metric, sizeof k->recall_metric, "%s", first->recall_name);
            k->recall_level = level;
            if (ib < 0 || ic < 0) {
                const side_point *p = ib < 0 ? &cs->pts[ic] : &bs->pts[ib];
                if (ib < 0)
                    k->cand_qps = p->rate;
                else
                    k->base_qps = p->rate;
                k->verdict = ib < 0 ? BENCH_VERDICT_BETTER : BENCH_VERDICT_WORSE;
                set_reason(k->reason, sizeof k->reason, "only the %s reaches %s >= %.2f",
                           ib < 0 ? "candidate" : "baseline", first->recall_name, level);
                continue;
            }
            const side_point *b = &bs->pts[ib], *c = &cs->pts[ic];
            k->base_qps = b->rate;
            k->cand_qps = c->rate;
            k->ratio = k->ci_lo = k->ci_hi = c->rate / b->rate;
            char kb[64], kc[64];
            params_text(bs, b, o, true, kb, sizeof kb);
            params_text(cs, c, o, true, kc, sizeof kc);
            if (strcmp(kb, kc) == 0)
                snprintf(cp->prefix, sizeof cp->prefix, "%s: ", kb[0] ? kb : c->id);
            else
                snprintf(cp->prefix, sizeof cp->prefix, "%s vs %s: ", kc, kb);
            size_t need = o->min_samples;
            if (b->n < need || c->n < need) {
                k->verdict = BENCH_VERDICT_INCONCLUSIVE;
                set_reason(k->reason, sizeof k->reason,
                           "%sn=%zu baseline, %zu candidate: fewer than %zu samples", cp->prefix,
                           b->n, c->n, need);
                continue;
            }
            double r, lo, hi;
            char tag[320];
            snprintf(tag, sizeof tag, "%s@%.2f", label, level);
            if (bench_stats_bootstrap_ratio(b->per_item, b->n, c->per_item, c->n, 0.5, o->n_boot,
                                            o->confidence, item_seed(o, tag, "curve"), &r, &lo,
                                            &hi) != 0) {
                k->verdict = BENCH_VERDICT_INCONCLUSIVE;
                set_reason(k->reason, sizeof k->reason, "%sno interval (zero latency?)",
                           cp->prefix);
                continue;
            }
            k->ratio = 1 / r;
            k->ci_lo = 1 / hi;
            k->ci_hi = 1 / lo;
            cp->p.kind = PEND_WALL;
            cp->p.p = bench_stats_mann_whitney_p(b->per_item, b->n, c->per_item, c->n);
            cp->p.floor = noise_floor(o->noise, x->c->scenario, c->id, "throughput");
        }
    }
}

/* ---- verdicts ------------------------------------------------------------------ */

static int finalize(cctx *x)
{
    bench_comparison *c = x->c;
    const bench_compare_opts *o = x->o;
    curve_pend *pc = x->pc;
    size_t n = c->n_items + c->n_curves;
    double *p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return -1;
    for (size_t i = 0; i < c->n_items; i++)
        p[i] = x->pi[i].kind == PEND_WALL ? x->pi[i].p : NAN;
    for (size_t i = 0; i < c->n_curves; i++)
        p[c->n_items + i] = pc[i].p.kind == PEND_WALL ? pc[i].p.p : NAN;
    bench_stats_bh_adjust(p, n, p);

    for (size_t i = 0; i < c->n_items; i++) {
        bench_metric_cmp *m = &c->items[i];
        if (x->pi[i].kind != PEND_WALL && x->pi[i].kind != PEND_TAIL)
            continue;
        m->q_value = p[i];
        m->verdict =
            judge_interval(m->ci_lo, m->ci_hi, m->p_value, m->q_value, m->better, o->min_effect,
                           x->pi[i].floor, o->alpha, &m->threshold, m->reason, sizeof m->reason);
    }
    for (size_t i = 0; i < c->n_curves; i++) {
        bench_curve_cmp *k = &c->curves[i];
        if (pc[i].p.kind != PEND_WALL)
            continue;
        double thr;
        char why[192];
        k->verdict =
            judge_interval(k->ci_lo, k->ci_hi, pc[i].p.p, p[c->n_items + i], BENCH_BETTER_HIGHER,
                           o->min_effect, pc[i].p.floor, o->alpha, &thr, why, sizeof why);
        set_reason(k->reason, sizeof k->reason, "%s%s", pc[i].prefix, why);
    }
    free(p);

    c->n_worse = c->n_better = c->n_inconclusive = c->n_missing = 0;
    for (size_t i = 0; i < n; i++) {
        bench_verdict v;
        if (i < c->n_items) {
            if (c->items[i].informational)
                continue;
            v = c->items[i].verdict;
        } else {
            v = c->curves[i - c->n_items].verdict;
        }
        c->n_worse += v == BENCH_VERDICT_WORSE;
        c->n_better += v == BENCH_VERDICT_BETTER;
        c->n_inconclusive += v == BENCH_VERDICT_INCONCLUSIVE;
        c->n_missing += v == BENCH_VERDICT_MISSING;
    }
    return 0;
}

/* ---- bench_compare ------------------------------------------------------------- */

static int check_opts(const bench_compare_opts *o, bench_err *e)
{
    if (!(o->min_effect >= 0 && o->min_effect < 1))
        return bench_err_set(e, "min_effect %g: must be in [0, 1) (0.05 = 5%%)", o->min_effect);
    if (!(o->alpha > 0 && o->alpha < 1))
        return bench_err_set(e, "alpha %g: must be in (0, 1)", o->alpha);
    if (!(o->confidence > 0 && o->confidence < 1))
        return bench_err_set(e, "confidence %g: must be in (0, 1)", o->confidence);
    if (o->n_boot < 100)
        return bench_err_set(e, "n_boot %d: at least 100 resamples", o->n_boot);
    if (o->min_samples < 2)
        return bench_err_set(e, "min_samples %zu: at least 2", o->min_samples);
    if (!(o->work_tolerance >= 0) || !(o->instr_tolerance >= 0))
        return bench_err_set(e, "tolerances must be >= 0");
    return 0;
}

/* The first parameter whose value differs between two points, for a hint. */
static void first_difference(const cJSON *a, const cJSON *b, char *buf, size_t size)
{
    buf[0] = '\0';
    const cJSON *v;
    cJSON_ArrayForEach(v, bench_json_get(a, "params"))
    {
        char *x = cJSON_PrintUnformatted(v);
        char *y = cJSON_PrintUnformatted(bench_json_get(bench_json_get(b, "params"), v->string));
        bool differ = !x || !y || strcmp(x, y) != 0;
        if (differ)
            snprintf(buf, size, " (e.g. %s: %s in the baseline, %s in the candidate)", v->string,
                     y ? y : "absent", x ? x : "?");
        free(x);
        free(y);
        if (differ)
            return;
    }
}

int bench_compare(const cJSON *base, const char *base_path, const cJSON *cand,
                  const char *cand_path, const bench_compare_opts *opts, bench_comparison **out,
                  bench_err *e)
{
    *out = NULL;
    bench_compare_opts o = opts ? *opts : bench_compare_default_opts();
    if (check_opts(&o, e) != 0)
        return -1;
    const cJSON *sb = bench_json_get(base, "scenario"), *sc = bench_json_get(cand, "scenario");
    const char *name_b = bench_json_str(sb, "name"), *name_c = bench_json_str(sc, "name");
    const char *wl_b = bench_json_str(sb, "workload"), *wl_c = bench_json_str(sc, "workload");
    if (!name_b || !name_c || !wl_b || !wl_c)
        return bench_err_set(e, "%s: $.scenario.name/workload: missing",
                             !name_b || !wl_b ? base_path : cand_path);
    if (strcmp(name_b, name_c) != 0 || strcmp(wl_b, wl_c) != 0)
        return bench_err_set(e,
                             "different scenarios: baseline %s is '%s' (%s), candidate %s is "
                             "'%s' (%s)",
                             base_path, name_b, wl_b, cand_path, name_c, wl_c);
    if (o.noise && check_noise(o.noise, "noise floors", name_c, e) != 0)
        return -1;

    bench_comparison *c = calloc(1, sizeof *c);
    if (!c)
        return bench_err_set(e, "out of memory");
    cctx x = {.o = &o, .c = c, .wall = true, .scale = 1.0};
    side bs = {0}, cs = {0};
    int rc = -1;
    bench_err ce = {{0}};
    snprintf(c->base_path, sizeof c->base_path, "%s", base_path ? base_path : "");
    snprintf(c->cand_path, sizeof c->cand_path, "%s", cand_path ? cand_path : "");
    snprintf(c->scenario, sizeof c->scenario, "%s", name_c);
    if (bench_machine_class(base, c->base_class, sizeof c->base_class, &ce) != 0) {
        bench_err_set(e, "%s: %s", base_path, ce.msg);
        goto done;
    }
    if (bench_machine_class(cand, c->cand_class, sizeof c->cand_class, &ce) != 0) {
        bench_err_set(e, "%s: %s", cand_path, ce.msg);
        goto done;
    }
    c->cross_class = strcmp(c->base_class, c->cand_class) != 0;
    if (c->cross_class) {
        const char *key = NULL;
        if (strcmp(wl_c, "stream") == 0) {
            key = "stream_gbps";
            x.norm = "triad GB/s";
        } else if (strcmp(wl_c, "sql") != 0 && strcmp(wl_c, "noop") != 0) {
            key = "sgemm_gflops";
            x.norm = "sgemm GFLOP/s";
        }
        x.calib_base =
            key ? bench_json_num(bench_json_get(bench_json_get(base, "host"), "calibration"), key)
                : NAN;
        x.calib_cand =
            key ? bench_json_num(bench_json_get(bench_json_get(cand, "host"), "calibration"), key)
                : NAN;
        if (!(x.calib_base > 0) || !(x.calib_cand > 0)) {
            x.wall = false;
            x.norm = NULL;
        } else {
            /* time x speed: a machine twice as fast halves the time and doubles the calibration. */
            x.scale = x.calib_cand / x.calib_base;
        }
    }
    /* Timings taken under valgrind (run --instructions) mean nothing: no wall track then. */
    if (cJSON_IsFalse(bench_json_get(bench_json_get(base, "measurement"), "wall_metrics_valid")) ||
        cJSON_IsFalse(bench_json_get(bench_json_get(cand, "measurement"), "wall_metrics_valid")))
        x.wall = false;
    if (side_load(base, &o, 1.0, &bs) != 0 || side_load(cand, &o, x.scale, &cs) != 0) {
        bench_err_set(e, "out of memory reading the points");
        goto done;
    }

    size_t n_matched = 0;
    for (size_t i = 0; i < cs.n; i++) {
        size_t nb = 0, nc = 0;
        long at = -1;
        for (size_t j = 0; j < bs.n; j++)
            if (strcmp(bs.pts[j].key, cs.pts[i].key) == 0) {
                nb++;
                at = (long)j;
            }
        for (size_t j = 0; j < cs.n; j++)
            nc += strcmp(cs.pts[j].key, cs.pts[i].key) == 0;
        cs.pts[i].match = nb == 1 && nc == 1 ? at : nb == 0 ? -1 : -2;
        if (nb == 1 && nc == 1) {
            bs.pts[at].match = (long)i;
            n_matched++;
        }
    }
    if (n_matched == 0) {
        char hint[256] = "";
        size_t n_ambiguous = 0;
        for (size_t i = 0; i < cs.n; i++)
            n_ambiguous += cs.pts[i].match == -2;
        if (n_ambiguous)
            snprintf(hint, sizeof hint,
                     " (%zu point(s) share their parameters with others once the ignored ones "
                     "are dropped)",
                     n_ambiguous);
        else if (bs.n && cs.n)
            first_difference(cs.pts[0].j, bs.pts[0].j, hint, sizeof hint);
        bench_err_set(e,
                      "%s and %s have no point in common: points match by every parameter but "
                      "the --ignore'd ones%s",
                      base_path, cand_path, hint);
        goto done;
    }
    for (size_t i = 0; i < cs.n; i++) {
        const side_point *cp = &cs.pts[i];
        if (cp->match == -1) {
            missing(&x, cp->id, "point", BENCH_TRACK_WALL,
                    "no baseline point with these parameters%s", "");
        } else if (cp->match == -2) {
            missing(&x, cp->id, "point", BENCH_TRACK_WALL,
                    "ambiguous: several points share these parameters%s",
                    o.n_ignore ? " once the ignored ones are dropped" : "");
        } else {
            const side_point *bp = &bs.pts[cp->match];
            if (!bp->ok)
                missing(&x, cp->id, "point", BENCH_TRACK_WALL, "failed in the baseline: %s",
                        bp->error ? bp->error : "(no message)");
            else if (!cp->ok)
                missing(&x, cp->id, "point", BENCH_TRACK_WALL, "failed in the candidate: %s",
                        cp->error ? cp->error : "(no message)");
            else
                compare_point(&x, bp, cp);
        }
    }
    for (size_t j = 0; j < bs.n; j++)
        if (bs.pts[j].match < 0)
            missing(&x, bs.pts[j].id, "point", BENCH_TRACK_WALL, "only in the baseline%s", "");
    if (x.wall)
        compare_curves(&x, &bs, &cs);
    if (x.oom || finalize(&x) != 0) {
        bench_err_set(e, "out of memory comparing %s with %s", cand_path, base_path);
        goto done;
    }
    *out = c;
    c = NULL;
    rc = 0;
done:
    side_free(&bs);
    side_free(&cs);
    free(x.pi);
    free(x.pc);
    bench_comparison_free(c);
    return rc;
}

void bench_comparison_free(bench_comparison *c)
{
    if (!c)
        return;
    free(c->items);
    free(c->curves);
    free(c);
}

int bench_comparison_exit_code(const bench_comparison *c, bool strict)
{
    if (c->n_worse)
        return BENCH_EXIT_GATE;
    if (strict && (c->n_inconclusive || c->n_missing))
        return BENCH_EXIT_GATE;
    return BENCH_EXIT_OK;
}

/* ---- writers ------------------------------------------------------------------ */

static void fmt_value(double v, const char *unit, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "-");
    } else if (strcmp(unit, "ns") == 0) {
        double a = fabs(v);
        if (a < 1e3)
            snprintf(buf, size, "%.0f ns", v);
        else if (a < 1e6)
            snprintf(buf, size, "%.2f us", v / 1e3);
        else if (a < 1e9)
            snprintf(buf, size, "%.2f ms", v / 1e6);
        else
            snprintf(buf, size, "%.3f s", v / 1e9);
    } else {
        /* 87570 -> "87.57k": readable rates and counts, four digits kept. */
        static const char *const prefix[] = {"", "k", "M", "G", "T"};
        double a = fabs(v);
        int k = 0;
        while (a >= 1e4 && k < 4) {
            a /= 1e3;
            v /= 1e3;
            k++;
        }
        snprintf(buf, size, "%.4g%s%s%s", v, prefix[k], unit[0] ? " " : "", unit);
    }
}

static void fmt_change(double ratio, double lo, double hi, char *buf, size_t size)
{
    if (isnan(ratio))
        snprintf(buf, size, "-");
    else if (isinf(ratio))
        snprintf(buf, size, "from 0");
    else if (!isnan(lo) && !isnan(hi) && (lo != ratio || hi != ratio))
        snprintf(buf, size, "%+.1f%% [%+.1f%%, %+.1f%%]", (ratio - 1) * 100, (lo - 1) * 100,
                 (hi - 1) * 100);
    else if (fabs(ratio - 1) < 1e-12) /* rounding in the workload's own arithmetic */
        snprintf(buf, size, "0");
    else
        snprintf(buf, size, "%+.3g%%", (ratio - 1) * 100);
}

static const char *item_label(const bench_metric_cmp *m)
{
    return m->informational ? "info" : bench_verdict_name(m->verdict);
}

/* A Markdown table cell: no pipes or newlines. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static void curve_metric(const bench_curve_cmp *k, char *buf, size_t size)
{
    snprintf(buf, size, "QPS at %s >= %.2f", k->recall_metric, k->recall_level);
}

static void md_header(const bench_comparison *c, FILE *f)
{
    size_t n_same = 0, n_info = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        n_info += c->items[i].informational;
        n_same += !c->items[i].informational && c->items[i].verdict == BENCH_VERDICT_SAME;
    }
    for (size_t i = 0; i < c->n_curves; i++)
        n_same += c->curves[i].verdict == BENCH_VERDICT_SAME;
    fprintf(f, "## lore-bench compare: %s\n\n", c->scenario);
    fprintf(f, "- candidate: `%s` (%s)\n- baseline: `%s` (%s)\n", c->cand_path, c->cand_class,
            c->base_path, c->base_class);
    if (c->cross_class)
        fprintf(f, "- **baseline from another machine class**: compared only on the work and "
                   "instructions tracks and on normalised wall numbers: the candidate's rescaled "
                   "to the baseline machine's speed by the ratio of the runs' calibrations "
                   "(sgemm GFLOP/s for compute workloads, triad GB/s for stream; sql and noop "
                   "wall numbers are not compared)\n");
    fprintf(f, "- wall: a change counts when Benjamini-Hochberg q < alpha and the bootstrap CI of "
               "the ratio lies wholly past the threshold (min effect or noise floor); work and "
               "instructions: exact within a tolerance\n\n");
    fprintf(f,
            "**%zu worse, %zu better, %zu inconclusive, %zu missing**; %zu same, %zu "
            "informational\n\n",
            c->n_worse, c->n_better, c->n_inconclusive, c->n_missing, n_same, n_info);
}

static void md_verdicts(const bench_comparison *c, FILE *f)
{
    static const bench_verdict order[] = {BENCH_VERDICT_WORSE, BENCH_VERDICT_INCONCLUSIVE,
                                          BENCH_VERDICT_MISSING, BENCH_VERDICT_BETTER};
    fprintf(f, "### Verdicts\n\n");
    bool any = false;
    char vb[64], vc[64], ch[96], metric[128];
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        for (size_t i = 0; i < c->n_items; i++) {
            const bench_metric_cmp *m = &c->items[i];
            if (m->informational || m->verdict != order[o])
                continue;
            if (!any)
                fprintf(f, "| verdict | track | point | metric | baseline | candidate | change "
                           "[CI] | reason |\n|---|---|---|---|---|---|---|---|\n");
            any = true;
            fmt_value(m->base, m->unit, vb, sizeof vb);
            fmt_value(m->cand, m->unit, vc, sizeof vc);
            fmt_change(m->ratio, m->ci_lo, m->ci_hi, ch, sizeof ch);
            fprintf(f, "| **%s** | %s | `", bench_verdict_name(m->verdict),
                    bench_track_name(m->track));
            md_cell(f, m->point_id);
            fprintf(f, "` | %s%s | %s | %s | %s | ", m->metric,
                    m->normalised ? " (normalised)" : "", vb, vc, ch);
            md_cell(f, m->reason);
            fprintf(f, " |\n");
        }
        for (size_t i = 0; i < c->n_curves; i++) {
            const bench_curve_cmp *k = &c->curves[i];
            if (k->verdict != order[o])
                continue;
            if (!any)
                fprintf(f, "| verdict | track | point | metric | baseline | candidate | change "
                           "[CI] | reason |\n|---|---|---|---|---|---|---|---|\n");
            any = true;
            fmt_value(k->base_qps, "q/s", vb, sizeof vb);
            fmt_value(k->cand_qps, "q/s", vc, sizeof vc);
            fmt_change(k->ratio, k->ci_lo, k->ci_hi, ch, sizeof ch);
            curve_metric(k, metric, sizeof metric);
            fprintf(f, "| **%s** | wall (curve) | `", bench_verdict_name(k->verdict));
            md_cell(f, k->group);
            fprintf(f, "` | %s | %s | %s | %s | ", metric, vb, vc, ch);
            md_cell(f, k->reason);
            fprintf(f, " |\n");
        }
    }
    if (!any)
        fprintf(f, "Nothing worse, better, inconclusive or missing: every compared number is "
                   "the same within its threshold.\n");
    fprintf(f, "\n");
}

static int finish(FILE *f, bench_err *e)
{
    if (fflush(f) != 0 || ferror(f))
        return bench_err_set(e, "writing the comparison: %s", strerror(errno));
    return 0;
}

int bench_comparison_write_summary(const bench_comparison *c, FILE *f, bench_err *e)
{
    md_header(c, f);
    md_verdicts(c, f);
    return finish(f, e);
}

int bench_comparison_write_markdown(const bench_comparison *c, FILE *f, bench_err *e)
{
    md_header(c, f);
    md_verdicts(c, f);
    char vb[64], vc[64], ch[96], metric[128];
    if (c->n_curves) {
        fprintf(f, "### Recall/QPS curves\n\n");
        for (size_t i = 0; i < c->n_curves; i++) {
            const bench_curve_cmp *k = &c->curves[i];
            fmt_value(k->base_qps, "q/s", vb, sizeof vb);
            fmt_value(k->cand_qps, "q/s", vc, sizeof vc);
            fmt_change(k->ratio, k->ci_lo, k->ci_hi, ch, sizeof ch);
            curve_metric(k, metric, sizeof metric);
            fprintf(f, "- **%s** `", bench_verdict_name(k->verdict));
            md_cell(f, k->group);
            fprintf(f, "`: %s: %s (baseline %s, candidate %s): ", metric, ch, vb, vc);
            md_cell(f, k->reason);
            fprintf(f, "\n");
        }
        fprintf(f, "\n");
    }
    fprintf(f, "### Per point\n");
    for (size_t i = 0; i < c->n_items; i++) {
        const bench_metric_cmp *m = &c->items[i];
        if (i == 0 || strcmp(m->point_id, c->items[i - 1].point_id) != 0) {
            fprintf(f, "\n#### `");
            md_cell(f, m->point_id);
            fprintf(f, "`\n\n| track | metric | baseline | candidate | change [CI] | q | verdict "
                       "|\n|---|---|---|---|---|---|---|\n");
        }
        fmt_value(m->base, m->unit, vb, sizeof vb);
        fmt_value(m->cand, m->unit, vc, sizeof vc);
        fmt_change(m->ratio, m->ci_lo, m->ci_hi, ch, sizeof ch);
        char q[32] = "-";
        if (!isnan(m->q_value))
            snprintf(q, sizeof q, "%.2g", m->q_value);
        fprintf(f, "| %s | %s%s | %s | %s | %s | %s | %s |\n", bench_track_name(m->track),
                m->metric, m->normalised ? " (normalised)" : "", vb, vc, ch, q, item_label(m));
    }
    fprintf(f, "\n");
    return finish(f, e);
}

static void junit_case(FILE *f, const char *scenario, const char *track, const char *point,
                       const char *metric, bench_verdict v, const char *detail, const char *reason)
{
    fprintf(f, "    <testcase classname=\"");
    bench_xml_text(f, scenario);
    fprintf(f, ".%s\" name=\"", track);
    bench_xml_text(f, point);
    fputs(": ", f);
    bench_xml_text(f, metric);
    fprintf(f, "\" time=\"0\"");
    if (v == BENCH_VERDICT_WORSE) {
        fprintf(f, ">\n      <failure type=\"worse\" message=\"");
        bench_xml_text(f, reason);
        fprintf(f, "\">");
        bench_xml_text(f, detail);
        fprintf(f, "</failure>\n    </testcase>\n");
    } else if (v == BENCH_VERDICT_INCONCLUSIVE || v == BENCH_VERDICT_MISSING) {
        fprintf(f, ">\n      <skipped message=\"%s: ", bench_verdict_name(v));
        bench_xml_text(f, reason);
        fprintf(f, "\"/>\n    </testcase>\n");
    } else {
        fprintf(f, "/>\n");
    }
}

int bench_comparison_write_junit(const bench_comparison *c, FILE *f, bench_err *e)
{
    size_t n = c->n_items + c->n_curves, skipped = c->n_inconclusive + c->n_missing;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"lore-bench compare\" tests=\"%zu\" failures=\"%zu\" "
            "errors=\"0\" skipped=\"%zu\">\n",
            n, c->n_worse, skipped);
    fprintf(f, "  <testsuite name=\"");
    bench_xml_text(f, c->scenario);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n", n, c->n_worse,
            skipped);
    char vb[64], vc[64], ch[96], detail[512], metric[160];
    for (size_t i = 0; i < c->n_items; i++) {
        const bench_metric_cmp *m = &c->items[i];
        fmt_value(m->base, m->unit, vb, sizeof vb);
        fmt_value(m->cand, m->unit, vc, sizeof vc);
        fmt_change(m->ratio, m->ci_lo, m->ci_hi, ch, sizeof ch);
        snprintf(detail, sizeof detail, "baseline %s, candidate %s, change %s (%s track)", vb, vc,
                 ch, bench_track_name(m->track));
        snprintf(metric, sizeof metric, "%s%s", m->metric, m->normalised ? " (normalised)" : "");
        junit_case(f, c->scenario, bench_track_name(m->track), m->point_id, metric,
                   m->informational ? BENCH_VERDICT_SAME : m->verdict, detail, m->reason);
    }
    for (size_t i = 0; i < c->n_curves; i++) {
        const bench_curve_cmp *k = &c->curves[i];
        fmt_value(k->base_qps, "q/s", vb, sizeof vb);
        fmt_value(k->cand_qps, "q/s", vc, sizeof vc);
        fmt_change(k->ratio, k->ci_lo, k->ci_hi, ch, sizeof ch);
        curve_metric(k, metric, sizeof metric);
        snprintf(detail, sizeof detail, "%s: %s (baseline %s, candidate %s)", metric, ch, vb, vc);
        junit_case(f, c->scenario, "curve", k->group, metric, k->verdict, detail, k->reason);
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    return finish(f, e);
}

/* Adds value (and, when the ratio has an interval, its bounds) under metric. */
static bool bmf_add(cJSON *bench, const char *metric, double value, double ratio, double lo,
                    double hi)
{
    cJSON *m = cJSON_AddObjectToObject(bench, metric);
    if (!m || !cJSON_AddNumberToObject(m, "value", value))
        return false;
    /* Bencher's bounds of the candidate's value: the CI of the ratio, baseline held fixed. */
    if (isfinite(lo) && isfinite(hi) && isfinite(ratio) && ratio != 0 &&
        (lo != ratio || hi != ratio))
        return cJSON_AddNumberToObject(m, "lower_value", value * lo / ratio) &&
               cJSON_AddNumberToObject(m, "upper_value", value * hi / ratio);
    return true;
}

static cJSON *bmf_bench(cJSON *root, const char *scenario, const char *point)
{
    char key[512];
    snprintf(key, sizeof key, "%s/%s", scenario, point);
    cJSON *b = cJSON_GetObjectItemCaseSensitive(root, key);
    return b ? b : cJSON_AddObjectToObject(root, key);
}

int bench_comparison_write_bmf(const bench_comparison *c, FILE *f, bench_err *e)
{
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    for (size_t i = 0; i < c->n_items && ok; i++) {
        const bench_metric_cmp *m = &c->items[i];
        if (!isfinite(m->cand))
            continue;
        cJSON *b = bmf_bench(root, c->scenario, m->point_id);
        ok = b && bmf_add(b, m->metric, m->cand, m->ratio, m->ci_lo, m->ci_hi);
    }
    for (size_t i = 0; i < c->n_curves && ok; i++) {
        const bench_curve_cmp *k = &c->curves[i];
        if (!isfinite(k->cand_qps))
            continue;
        char metric[160];
        curve_metric(k, metric, sizeof metric);
        cJSON *b = bmf_bench(root, c->scenario, k->group);
        ok = b && bmf_add(b, metric, k->cand_qps, k->ratio, k->ci_lo, k->ci_hi);
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return bench_err_set(e, "out of memory rendering the Bencher Metric Format");
    fputs(text, f);
    fputc('\n', f);
    free(text);
    return finish(f, e);
}

static bool add_num(cJSON *o, const char *name, double v)
{
    return isfinite(v) ? cJSON_AddNumberToObject(o, name, v) != NULL
                       : cJSON_AddNullToObject(o, name) != NULL;
}

static const char *better_name(bench_better b)
{
    return b == BENCH_BETTER_HIGHER ? "higher" : b == BENCH_BETTER_LOWER ? "lower" : "none";
}

cJSON *bench_comparison_to_json(const bench_comparison *c)
{
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    ok = ok && cJSON_AddStringToObject(root, "schema", "lore-bench-compare/1");
    ok = ok && cJSON_AddStringToObject(root, "scenario", c->scenario);
    ok = ok && cJSON_AddStringToObject(root, "baseline", c->base_path);
    ok = ok && cJSON_AddStringToObject(root, "candidate", c->cand_path);
    ok = ok && cJSON_AddStringToObject(root, "baseline_class", c->base_class);
    ok = ok && cJSON_AddStringToObject(root, "candidate_class", c->cand_class);
    ok = ok && cJSON_AddBoolToObject(root, "cross_class", c->cross_class);
    cJSON *sum = ok ? cJSON_AddObjectToObject(root, "summary") : NULL;
    ok = sum && add_num(sum, "worse", (double)c->n_worse) &&
         add_num(sum, "better", (double)c->n_better) &&
         add_num(sum, "inconclusive", (double)c->n_inconclusive) &&
         add_num(sum, "missing", (double)c->n_missing);
    cJSON *items = ok ? cJSON_AddArrayToObject(root, "items") : NULL;
    ok = items != NULL;
    for (size_t i = 0; i < c->n_items && ok; i++) {
        const bench_metric_cmp *m = &c->items[i];
        cJSON *it = cJSON_CreateObject();
        ok = it != NULL;
        if (ok)
            cJSON_AddItemToArray(items, it);
        ok = ok && cJSON_AddStringToObject(it, "point", m->point_id) &&
             cJSON_AddStringToObject(it, "metric", m->metric) &&
             cJSON_AddStringToObject(it, "unit", m->unit) &&
             cJSON_AddStringToObject(it, "track", bench_track_name(m->track)) &&
             cJSON_AddStringToObject(it, "better", better_name(m->better)) &&
             cJSON_AddBoolToObject(it, "normalised", m->normalised) &&
             cJSON_AddBoolToObject(it, "informational", m->informational) &&
             add_num(it, "base", m->base) && add_num(it, "cand", m->cand) &&
             add_num(it, "ratio", m->ratio) && add_num(it, "ci_lo", m->ci_lo) &&
             add_num(it, "ci_hi", m->ci_hi) && add_num(it, "p", m->p_value) &&
             add_num(it, "q", m->q_value) && add_num(it, "threshold", m->threshold) &&
             add_num(it, "noise_floor", m->noise_floor) &&
             cJSON_AddStringToObject(it, "verdict", bench_verdict_name(m->verdict)) &&
             cJSON_AddStringToObject(it, "reason", m->reason);
    }
    cJSON *curves = ok ? cJSON_AddArrayToObject(root, "curves") : NULL;
    ok = ok && curves != NULL;
    for (size_t i = 0; i < c->n_curves && ok; i++) {
        const bench_curve_cmp *k = &c->curves[i];
        cJSON *it = cJSON_CreateObject();
        ok = it != NULL;
        if (ok)
            cJSON_AddItemToArray(curves, it);
        ok = ok && cJSON_AddStringToObject(it, "group", k->group) &&
             cJSON_AddStringToObject(it, "recall_metric", k->recall_metric) &&
             add_num(it, "recall_level", k->recall_level) && add_num(it, "base_qps", k->base_qps) &&
             add_num(it, "cand_qps", k->cand_qps) && add_num(it, "ratio", k->ratio) &&
             add_num(it, "ci_lo", k->ci_lo) && add_num(it, "ci_hi", k->ci_hi) &&
             cJSON_AddStringToObject(it, "verdict", bench_verdict_name(k->verdict)) &&
             cJSON_AddStringToObject(it, "reason", k->reason);
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* ---- baselines and the subcommands -------------------------------------------- */

int bench_baseline_resolve(const char *arg, const cJSON *cand, char *path, size_t size,
                           bench_err *e)
{
    if (bench_is_file(arg)) {
        snprintf(path, size, "%s", arg);
        return 0;
    }
    if (!bench_is_dir(arg))
        return bench_err_set(e, "baseline %s: no such file or folder", arg);
    const char *name = bench_json_str(bench_json_get(cand, "scenario"), "name");
    if (!name)
        return bench_err_set(e, "the candidate has no $.scenario.name to find its baseline by");
    char first[4096], second[4096] = "";
    snprintf(first, sizeof first, "%s/%s.json", arg, name);
    if (bench_is_file(first)) {
        snprintf(path, size, "%s", first);
        return 0;
    }
    char cls[160];
    bench_err ce = {{0}};
    if (bench_machine_class(cand, cls, sizeof cls, &ce) == 0) {
        snprintf(second, sizeof second, "%s/%s/%s.json", arg, cls, name);
        if (bench_is_file(second)) {
            snprintf(path, size, "%s", second);
            return 0;
        }
    }
    return bench_err_set(e,
                         "no baseline for scenario '%s' in %s (looked for %s%s%s); bless one with "
                         "`lore-bench baseline save RESULT`",
                         name, arg, first, second[0] ? " and " : "", second);
}

static int cli_error(int code, const char *fmt, ...) BENCH_PRINTF(2, 3);

static int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lore-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return code;
}

/* A baseline file name: letters, digits, '.', '_', '-'; not hidden, not empty. */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 100 || s[0] == '.')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return false;
    return true;
}

int bench_cli_baseline(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[2], "save") != 0)
        return cli_error(BENCH_EXIT_USAGE, "usage: lore-bench baseline save RESULT [--name NAME] "
                                           "[--dir DIR] [--force]\n(see lore-bench help)");
    const char *result = NULL, *name = NULL, *dir = "baselines";
    bool force = false;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--name") == 0 || strcmp(a, "--dir") == 0) && i + 1 < argc) {
            if (a[2] == 'n')
                name = argv[++i];
            else
                dir = argv[++i];
        } else if (strcmp(a, "--force") == 0) {
            force = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_error(BENCH_EXIT_USAGE,
                             "baseline save: unknown option or missing value "
                             "'%s'",
                             a);
        } else if (result) {
            return cli_error(BENCH_EXIT_USAGE, "baseline save: one result at a time (extra '%s')",
                             a);
        } else {
            result = a;
        }
    }
    if (!result)
        return cli_error(BENCH_EXIT_USAGE, "baseline save needs a result.json");
    if (name && !name_ok(name))
        return cli_error(BENCH_EXIT_USAGE,
                         "--name '%s': letters, digits, '.', '_' and '-' only, not starting "
                         "with '.'",
                         name);

    bench_err e = {{0}};
    cJSON *doc = NULL;
    char *text = NULL;
    int rc = BENCH_EXIT_USAGE;
    if (bench_results_read(result, &doc, &e) != 0) {
        cli_error(rc, "%s", e.msg);
        goto done;
    }
    const cJSON *points = bench_json_get(doc, "points");
    if (cJSON_GetArraySize(points) == 0) {
        cli_error(rc, "%s: $.points: empty; nothing to compare against", result);
        goto done;
    }
    if (cJSON_IsFalse(bench_json_get(doc, "complete")) && !force) {
        cli_error(rc, "%s: $.complete: false (an interrupted run); --force to bless it anyway",
                  result);
        goto done;
    }
    size_t n_failed = 0;
    const char *first_failed = NULL;
    const cJSON *p;
    cJSON_ArrayForEach(p, points)
    {
        const char *st = bench_json_str(p, "status");
        if (!st || strcmp(st, "ok") != 0) {
            n_failed++;
            if (!first_failed)
                first_failed = bench_json_str(p, "id");
        }
    }
    if (n_failed && !force) {
        cli_error(rc, "%s: %zu point(s) failed (first: %s); --force to bless it anyway", result,
                  n_failed, first_failed ? first_failed : "?");
        goto done;
    }
    char cls[160];
    if (bench_machine_class(doc, cls, sizeof cls, &e) != 0) {
        cli_error(rc, "%s: %s", result, e.msg);
        goto done;
    }
    if (!name) {
        name = bench_json_str(bench_json_get(doc, "scenario"), "name");
        if (!name || !name_ok(name)) {
            cli_error(rc, "%s: $.scenario.name '%s' cannot name a file; give --name", result,
                      name ? name : "(missing)");
            goto done;
        }
    }
    char folder[4096], path[4400];
    snprintf(folder, sizeof folder, "%s/%s", dir, cls);
    snprintf(path, sizeof path, "%s/%s.json", folder, name);
    rc = BENCH_EXIT_RUNTIME;
    size_t len = 0;
    /* The file as measured, byte for byte: re-printing could round its numbers. */
    text = bench_read_file(result, &len, &e);
    if (!text || bench_mkdir_p(folder, &e) != 0 ||
        bench_write_file_atomic(path, text, len, &e) != 0) {
        cli_error(rc, "baseline save: %s", e.msg);
        goto done;
    }
    printf("%s\n", path);
    rc = BENCH_EXIT_OK;
done:
    free(text);
    cJSON_Delete(doc);
    return rc;
}

typedef struct compare_cli {
    const char *cand, *base, *noise, *md, *junit, *bmf, *json;
    const char **ignore;
    size_t n_ignore;
    bool strict;
    bench_compare_opts opts;
} compare_cli;

static int parse_fraction(const char *flag, const char *text, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= lo && v < hi))
        return cli_error(BENCH_EXIT_USAGE, "%s '%s': expected a number in [%g, %g)", flag, text, lo,
                         hi);
    *out = v;
    return 0;
}

static int parse_compare(int argc, char **argv, compare_cli *o)
{
    o->opts = bench_compare_default_opts();
    o->ignore = calloc((size_t)argc, sizeof *o->ignore);
    if (!o->ignore)
        return cli_error(BENCH_EXIT_RUNTIME, "out of memory");
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **file = strcmp(a, "--md") == 0      ? &o->md
                            : strcmp(a, "--junit") == 0 ? &o->junit
                            : strcmp(a, "--bmf") == 0   ? &o->bmf
                            : strcmp(a, "--json") == 0  ? &o->json
                            : strcmp(a, "--noise") == 0 ? &o->noise
                                                        : NULL;
        if (file || strcmp(a, "--min-effect") == 0 || strcmp(a, "--alpha") == 0 ||
            strcmp(a, "--ignore") == 0) {
            if (!v)
                return cli_error(BENCH_EXIT_USAGE, "%s needs a value\n(see lore-bench help)", a);
            i++;
            if (file)
                *file = v;
            else if (strcmp(a, "--ignore") == 0)
                o->ignore[o->n_ignore++] = v;
            else if (strcmp(a, "--alpha") == 0 && parse_fraction(a, v, 1e-9, 1, &o->opts.alpha))
                return BENCH_EXIT_USAGE;
            else if (strcmp(a, "--min-effect") == 0 &&
                     parse_fraction(a, v, 0, 1, &o->opts.min_effect))
                return BENCH_EXIT_USAGE;
        } else if (strcmp(a, "--strict") == 0) {
            o->strict = true;
        } else if (a[0] == '-' && a[1]) {
            return cli_error(BENCH_EXIT_USAGE,
                             "compare: unknown option '%s'\n(see lore-bench "
                             "help)",
                             a);
        } else if (!o->cand) {
            o->cand = a;
        } else if (!o->base) {
            o->base = a;
        } else {
            return cli_error(BENCH_EXIT_USAGE, "compare: CURRENT and BASELINE only (extra '%s')",
                             a);
        }
    }
    if (!o->cand || !o->base)
        return cli_error(BENCH_EXIT_USAGE, "usage: lore-bench compare CURRENT BASELINE "
                                           "[options]\n(see lore-bench help)");
    /* Output files go into folders that exist: a typo fails before any work. */
    const char *outs[] = {o->md, o->junit, o->bmf, o->json};
    for (size_t i = 0; i < 4; i++) {
        if (!outs[i])
            continue;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", outs[i]);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (!bench_is_dir(dir))
                return cli_error(BENCH_EXIT_USAGE, "%s: folder %s does not exist", outs[i], dir);
        }
    }
    o->opts.ignore_params = o->ignore;
    o->opts.n_ignore = o->n_ignore;
    return 0;
}

/* --ignore names a parameter the candidate's points have. */
static int check_ignores(const compare_cli *o, const cJSON *cand)
{
    const cJSON *first = cJSON_GetArrayItem(bench_json_get(cand, "points"), 0);
    const cJSON *params = bench_json_get(first, "params");
    for (size_t i = 0; i < o->n_ignore; i++) {
        if (bench_json_get(params, o->ignore[i]))
            continue;
        char names[1024] = "";
        size_t len = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, params)
        {
            int n = snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", p->string);
            if (n < 0 || (size_t)n >= sizeof names - len)
                break;
            len += (size_t)n;
        }
        return cli_error(BENCH_EXIT_USAGE, "--ignore '%s': %s has no such parameter (it has: %s)",
                         o->ignore[i], o->cand, names);
    }
    return 0;
}

typedef int (*writer_fn)(const bench_comparison *, FILE *, bench_err *);

/* Renders with w into memory, then writes path atomically. */
static int write_output(const char *path, const bench_comparison *c, writer_fn w)
{
    char *buf = NULL;
    size_t len = 0;
    bench_err e = {{0}};
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return cli_error(BENCH_EXIT_RUNTIME, "%s: out of memory", path);
    int rc = w(c, f, &e);
    if (fclose(f) != 0 && rc == 0)
        rc = bench_err_set(&e, "out of memory");
    if (rc == 0)
        rc = bench_write_file_atomic(path, buf, len, &e);
    free(buf);
    if (rc != 0)
        return cli_error(BENCH_EXIT_RUNTIME, "%s: %s", path, e.msg);
    return 0;
}

static int write_json(const bench_comparison *c, FILE *f, bench_err *e)
{
    cJSON *doc = bench_comparison_to_json(c);
    char *text = doc ? cJSON_Print(doc) : NULL;
    cJSON_Delete(doc);
    if (!text)
        return bench_err_set(e, "out of memory rendering JSON");
    fputs(text, f);
    fputc('\n', f);
    free(text);
    return finish(f, e);
}

int bench_cli_compare(int argc, char **argv)
{
    compare_cli o = {0};
    cJSON *cand = NULL, *base = NULL, *noise = NULL;
    bench_comparison *c = NULL;
    bench_err e = {{0}};
    char base_path[4096];
    int rc = parse_compare(argc, argv, &o);
    if (rc != 0)
        goto done;
    rc = BENCH_EXIT_USAGE;
    if (bench_results_read(o.cand, &cand, &e) != 0) {
        cli_error(rc, "%s", e.msg);
        goto done;
    }
    if (bench_baseline_resolve(o.base, cand, base_path, sizeof base_path, &e) != 0) {
        cli_error(rc, "%s", e.msg);
        goto done;
    }
    if (bench_results_read(base_path, &base, &e) != 0) {
        cli_error(rc, "%s", e.msg);
        goto done;
    }
    if (o.noise) {
        char *text = bench_read_file(o.noise, NULL, &e);
        if (!text) {
            cli_error(rc, "--noise %s", e.msg);
            goto done;
        }
        noise = cJSON_Parse(text);
        free(text);
        if (!noise) {
            cli_error(rc, "%s: $: not valid JSON", o.noise);
            goto done;
        }
        if (check_noise(noise, o.noise, bench_json_str(bench_json_get(cand, "scenario"), "name"),
                        &e) != 0) {
            cli_error(rc, "%s", e.msg);
            goto done;
        }
        o.opts.noise = noise;
    }
    if (check_ignores(&o, cand) != 0)
        goto done;
    if (bench_compare(base, base_path, cand, o.cand, &o.opts, &c, &e) != 0) {
        cli_error(strncmp(e.msg, "out of memory", 13) == 0 ? BENCH_EXIT_RUNTIME : BENCH_EXIT_USAGE,
                  "compare: %s", e.msg);
        rc = strncmp(e.msg, "out of memory", 13) == 0 ? BENCH_EXIT_RUNTIME : BENCH_EXIT_USAGE;
        goto done;
    }
    rc = BENCH_EXIT_RUNTIME;
    if ((o.md && write_output(o.md, c, bench_comparison_write_markdown)) ||
        (o.junit && write_output(o.junit, c, bench_comparison_write_junit)) ||
        (o.bmf && write_output(o.bmf, c, bench_comparison_write_bmf)) ||
        (o.json && write_output(o.json, c, write_json)))
        goto done;
    if (bench_comparison_write_summary(c, stdout, &e) != 0) {
        cli_error(rc, "%s", e.msg);
        goto done;
    }
    /* The candidate's scenario gates, when it declares any, decide the exit code. */
    rc = bench_gates_compare_cli(cand, o.cand, base, base_path, &o.opts, o.strict, o.md, o.json,
                                 o.junit, bench_comparison_exit_code(c, o.strict));
done:
    bench_comparison_free(c);
    cJSON_Delete(noise);
    cJSON_Delete(base);
    cJSON_Delete(cand);
    free(o.ignore);
    return rc;
}
