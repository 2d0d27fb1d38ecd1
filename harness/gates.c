/*
 * gates.c - judges a scenario's gates on a result (and a baseline), renders
 * the verdict (Markdown table, JUnit XML, JSON), and the command-line side:
 * `run --baseline/--strict/--junit` and `lore-bench gate`.
 *
 * Everything works on result documents (the cJSON of result.json), so a gate
 * judged right after `run` and one judged later by `gate` on the saved file
 * give the same outcome. Relative gates never re-derive statistics: they read
 * compare's verdict and interval, computed with the gate's max_regression as
 * the minimum effect, and only add the check that the whole interval lies
 * past the allowed regression (what "fail" must mean on a noisy machine).
 */
#include "gates.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "noise.h"
#include "results.h"

const char *bench_gate_status_name(bench_gate_status s)
{
    static const char *const names[] = {"pass", "conditional", "fail", "inconclusive", "skipped"};
    return (unsigned)s < BENCH_GATE_N_STATUS ? names[s] : "?";
}

/* ---- reading a point -------------------------------------------------------------------- */

/* A gate metric read from one point of a result. */
typedef enum { PM_ABSENT, PM_NO_VALUE, PM_OK } pm_state;

typedef struct point_metric {
    pm_state state;
    double value;
    char unit[32];
    char reason[200]; /* PM_NO_VALUE: why */
    bool timing;      /* wall time or RSS: meaningless in a sanitized build */
} point_metric;

static void pm_number(point_metric *pm, const cJSON *v, const char *unit)
{
    snprintf(pm->unit, sizeof pm->unit, "%s", unit);
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
        pm->state = PM_OK;
        pm->value = v->valuedouble;
    } else {
        pm->state = PM_NO_VALUE;
        snprintf(pm->reason, sizeof pm->reason, "the point has no value for it");
    }
}

static point_metric point_metric_read(const cJSON *point, const char *metric)
{
    point_metric pm = {.state = PM_ABSENT, .value = NAN};
    if (strcmp(metric, "throughput") == 0) {
        const char *item = bench_json_str(point, "item_unit");
        char unit[32];
        snprintf(unit, sizeof unit, "%s/s", item ? item : "items");
        const cJSON *t = bench_json_get(point, "throughput");
        if (t)
            pm_number(&pm, bench_json_get(t, "items_per_s"), unit);
        pm.timing = true;
    } else if (strncmp(metric, "latency_", 8) == 0) {
        const cJSON *l = bench_json_get(point, "latency_ns");
        if (l)
            pm_number(&pm, bench_json_get(l, metric + 8), "ns");
        pm.timing = true;
    } else if (strcmp(metric, "rss_peak_bytes") == 0) {
        const cJSON *r = bench_json_get(point, "rss");
        if (r)
            pm_number(&pm, bench_json_get(r, "peak_bytes"), "bytes");
        pm.timing = true;
    } else if (strncmp(metric, "counter:", 8) == 0) {
        const cJSON *c = bench_json_get(bench_json_get(point, "counters"), metric + 8);
        if (c) {
            if (cJSON_IsTrue(bench_json_get(c, "available"))) {
                pm_number(&pm, bench_json_get(c, "per_op"), "/op");
            } else {
                const char *why = bench_json_str(c, "reason");
                pm.state = PM_NO_VALUE;
                snprintf(pm.reason, sizeof pm.reason, "counter unavailable here: %s",
                         why ? why : "no reason given");
            }
        }
    } else {
        /* A workload metric; instructions_per_op is one where the instruction track
         * ran, else it may sit in the point's "instructions" block. */
        const cJSON *m = bench_json_get(bench_json_get(point, "metrics"), metric);
        if (m) {
            const char *unit = bench_json_str(m, "unit");
            pm_number(&pm, bench_json_get(m, "value"), unit ? unit : "");
            pm.timing = bench_metric_track(metric, pm.unit) == BENCH_TRACK_WALL;
        } else if (strcmp(metric, "instructions_per_op") == 0) {
            const cJSON *ins = bench_json_get(point, "instructions");
            if (ins)
                pm_number(&pm, bench_json_get(ins, "per_op"), "instructions");
        }
    }
    return pm;
}

static bool json_equals_value(const cJSON *pv, const bench_value *v)
{
    switch (v->type) {
    case BENCH_PARAM_INT:
        return cJSON_IsNumber(pv) && pv->valuedouble == (double)v->i;
    case BENCH_PARAM_FLOAT:
        return cJSON_IsNumber(pv) && pv->valuedouble == v->f;
    case BENCH_PARAM_STRING:
        return cJSON_IsString(pv) && strcmp(pv->valuestring, v->s) == 0;
    case BENCH_PARAM_BOOL:
        return cJSON_IsBool(pv) && (cJSON_IsTrue(pv) != 0) == v->b;
    }
    return false;
}

/* True when every "where" of g holds for point (a result point with "params"). */
static bool gate_selects(const bench_scenario *s, const bench_gate *g, const cJSON *point)
{
    const cJSON *params = bench_json_get(point, "params");
    for (size_t i = 0; i < g->n_where; i++) {
        const bench_gate_where *wh = &g->where[i];
        const cJSON *pv = bench_json_get(params, s->workload->params[wh->param].name);
        bool any = false;
        for (size_t j = 0; pv && j < wh->n_values && !any; j++)
            any = json_equals_value(pv, &wh->values[j]);
        if (!any)
            return false;
    }
    return true;
}

/* "kind=ivf|hnsw,n=2000", or "" without a where. */
static void where_text(const bench_scenario *s, const bench_gate *g, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < g->n_where && len < size; i++) {
        const bench_gate_where *wh = &g->where[i];
        len += (size_t)snprintf(buf + len, size - len, "%s%s=", i ? "," : "",
                                s->workload->params[wh->param].name);
        for (size_t j = 0; j < wh->n_values && len < size; j++) {
            if (j)
                len += (size_t)snprintf(buf + len, size - len, "|");
            if (len < size)
                len += (size_t)bench_value_format(&wh->values[j], buf + len, size - len);
        }
    }
}

static const cJSON *find_point(const cJSON *result, const char *id)
{
    const cJSON *pt;
    cJSON_ArrayForEach(pt, bench_json_get(result, "points"))
    {
        const char *pid = bench_json_str(pt, "id");
        if (pid && strcmp(pid, id) == 0)
            return pt;
    }
    return NULL;
}

/* ---- formatting ------------------------------------------------------------------------ */

static void format_value(double v, const char *unit, char *buf, size_t size)
{
    double a = fabs(v);
    if (isnan(v))
        snprintf(buf, size, "n/a");
    else if (strcmp(unit, "bytes") == 0 && a >= 1024.0 * 1024 * 1024)
        snprintf(buf, size, "%.2f GiB", v / (1024.0 * 1024 * 1024));
    else if (strcmp(unit, "bytes") == 0 && a >= 1024.0 * 1024)
        snprintf(buf, size, "%.1f MiB", v / (1024.0 * 1024));
    else if (strcmp(unit, "bytes") == 0 && a >= 1024.0)
        snprintf(buf, size, "%.1f KiB", v / 1024.0);
    else if (strcmp(unit, "bytes") == 0)
        snprintf(buf, size, "%.0f B", v);
    else if (strcmp(unit, "ns") == 0 && a >= 1e9)
        snprintf(buf, size, "%.3g s", v / 1e9);
    else if (strcmp(unit, "ns") == 0 && a >= 1e6)
        snprintf(buf, size, "%.3g ms", v / 1e6);
    else if (strcmp(unit, "ns") == 0 && a >= 1e3)
        snprintf(buf, size, "%.3g us", v / 1e3);
    else if (strcmp(unit, "ratio") == 0)
        snprintf(buf, size, "%.4g", v);
    else if (unit[0] == '/' || unit[0] == '\0')
        snprintf(buf, size, "%.4g%s", v, unit);
    else
        snprintf(buf, size, "%.4g %s", v, unit);
}

/* The unit a band's numbers are in: the metric's, as far as the name tells. */
static const char *metric_unit_guess(const char *metric)
{
    if (strncmp(metric, "latency_", 8) == 0)
        return "ns";
    if (strcmp(metric, "rss_peak_bytes") == 0)
        return "bytes";
    return "";
}

static void gate_rule(const bench_gate *g, char *buf, size_t size)
{
    const char *unit = metric_unit_guess(g->metric);
    char pass[48], cond[48];
    format_value(g->pass, unit, pass, sizeof pass);
    format_value(g->conditional, unit, cond, sizeof cond);
    const char *op = g->kind == BENCH_GATE_BELOW ? "<" : ">=";
    switch (g->kind) {
    case BENCH_GATE_BELOW:
    case BENCH_GATE_ABOVE:
        if (isnan(g->conditional))
            snprintf(buf, size, "%s %s pass", op, pass);
        else
            snprintf(buf, size, "%s %s pass, %s %s conditional", op, pass, op, cond);
        break;
    case BENCH_GATE_REGRESSION:
        snprintf(buf, size, "at most %.4g%% worse than the baseline", g->max_regression * 100);
        break;
    }
}

/* ---- the report ------------------------------------------------------------------------ */

typedef struct builder {
    bench_gate_report *r;
    size_t cap;
    const bench_scenario *s;
    size_t gate;
} builder;

static bench_gate_outcome *push(builder *b, const char *point_id, bench_gate_status st)
{
    bench_gate_report *r = b->r;
    if (r->n_items == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        bench_gate_outcome *grown = realloc(r->items, cap * sizeof *grown);
        if (!grown)
            return NULL;
        r->items = grown;
        b->cap = cap;
    }
    const bench_gate *g = &b->s->gates[b->gate];
    bench_gate_outcome *o = &r->items[r->n_items++];
    memset(o, 0, sizeof *o);
    o->gate = b->gate;
    snprintf(o->gate_name, sizeof o->gate_name, "%s", g->name);
    snprintf(o->metric, sizeof o->metric, "%s", g->metric);
    gate_rule(g, o->rule, sizeof o->rule);
    snprintf(o->point_id, sizeof o->point_id, "%s", point_id);
    o->status = st;
    o->value = o->ci_lo = o->ci_hi = NAN;
    snprintf(o->value_text, sizeof o->value_text, "-");
    r->n_status[st]++;
    return o;
}

#define PUSH_OR_OOM(o, b, id, st)                                                                  \
    do {                                                                                           \
        (o) = push((b), (id), (st));                                                               \
        if (!(o))                                                                                  \
            return bench_err_set(e, "gates: out of memory");                                       \
    } while (0)

/* Why this result's wall times and RSS say nothing about the engine, or NULL when they do. */
static const char *timing_invalid(const cJSON *result)
{
    if (cJSON_IsFalse(bench_json_get(bench_json_get(result, "measurement"), "wall_metrics_valid")))
        return "instruction-count run (under valgrind): its timings and RSS are not "
               "representative";
    if (cJSON_IsTrue(
            bench_json_get(bench_json_get(bench_json_get(result, "host"), "build"), "sanitized")))
        return "sanitized build (ASan/UBSan): its timings and RSS are not representative";
    return NULL;
}

/* Names of the metrics one point reports, for an error message. */
static void list_point_metrics(const cJSON *point, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size,
                                  "throughput, latency_<stat>, rss_peak_bytes, "
                                  "counter:<event>");
    const cJSON *m;
    cJSON_ArrayForEach(m, bench_json_get(point, "metrics"))
    {
        if (len < size)
            len += (size_t)snprintf(buf + len, size - len, ", %s", m->string);
    }
}

static int judge_absolute(builder *b, const cJSON *result, const char *result_name, bench_err *e)
{
    const bench_scenario *s = b->s;
    const bench_gate *g = &s->gates[b->gate];
    const char *no_timing = timing_invalid(result);
    size_t n_selected = 0, n_ok = 0, n_have = 0;
    const cJSON *first_ok = NULL, *pt;
    cJSON_ArrayForEach(pt, bench_json_get(result, "points"))
    {
        if (!gate_selects(s, g, pt))
            continue;
        n_selected++;
        const char *status = bench_json_str(pt, "status");
        if (!status || strcmp(status, "ok") != 0)
            continue;
        n_ok++;
        if (!first_ok)
            first_ok = pt;
        n_have += point_metric_read(pt, g->metric).state != PM_ABSENT;
    }
    bench_gate_outcome *o;
    char wtext[200];
    where_text(s, g, wtext, sizeof wtext);
    if (n_selected == 0) {
        PUSH_OR_OOM(o, b, "*", BENCH_GATE_SKIPPED);
        snprintf(o->reason, sizeof o->reason, "no point of this run matches where %s", wtext);
        return 0;
    }
    if (n_ok && !n_have) {
        if (strcmp(g->metric, "instructions_per_op") == 0) {
            PUSH_OR_OOM(o, b, "*", BENCH_GATE_SKIPPED);
            snprintf(o->reason, sizeof o->reason,
                     "instruction counts were not measured (run with --instructions)");
            return 0;
        }
        char have[600];
        list_point_metrics(first_ok, have, sizeof have);
        return bench_err_set(e,
                             "gate '%s' ($.gates[%zu]): no point of %s has metric '%s' "
                             "(its points report: %s)",
                             g->name, b->gate, result_name, g->metric, have);
    }
    cJSON_ArrayForEach(pt, bench_json_get(result, "points"))
    {
        if (!gate_selects(s, g, pt))
            continue;
        const char *id = bench_json_str(pt, "id");
        id = id ? id : "?";
        const char *status = bench_json_str(pt, "status");
        if (!status || strcmp(status, "ok") != 0) {
            const char *err = bench_json_str(pt, "error");
            PUSH_OR_OOM(o, b, id, BENCH_GATE_SKIPPED);
            snprintf(o->reason, sizeof o->reason, "the point failed: %s", err ? err : "?");
            continue;
        }
        point_metric pm = point_metric_read(pt, g->metric);
        if (pm.state == PM_ABSENT) {
            PUSH_OR_OOM(o, b, id, BENCH_GATE_SKIPPED);
            snprintf(o->reason, sizeof o->reason, "this point does not report %s", g->metric);
            continue;
        }
        if (pm.state == PM_NO_VALUE) {
            PUSH_OR_OOM(o, b, id, BENCH_GATE_INCONCLUSIVE);
            snprintf(o->reason, sizeof o->reason, "%s", pm.reason);
            continue;
        }
        char shown[48];
        format_value(pm.value, pm.unit, shown, sizeof shown);
        if (no_timing && pm.timing) {
            PUSH_OR_OOM(o, b, id, BENCH_GATE_SKIPPED);
            o->value = pm.value;
            snprintf(o->value_text, sizeof o->value_text, "%s", shown);
            snprintf(o->reason, sizeof o->reason, "%s", no_timing);
            continue;
        }
        bool below = g->kind == BENCH_GATE_BELOW;
        bool has_cond = !isnan(g->conditional);
        bool in_pass = below ? pm.value < g->pass : pm.value >= g->pass;
        bool in_cond = has_cond && (below ? pm.value < g->conditional : pm.value >= g->conditional);
        bench_gate_status st = in_pass   ? BENCH_GATE_PASS
                               : in_cond ? BENCH_GATE_CONDITIONAL
                                         : BENCH_GATE_FAIL;
        PUSH_OR_OOM(o, b, id, st);
        o->value = pm.value;
        snprintf(o->value_text, sizeof o->value_text, "%s", shown);
        char edge[48];
        const char *op = below ? "<" : ">=";
        const char *not_op = below ? ">=" : "<";
        if (st == BENCH_GATE_PASS) {
            format_value(g->pass, pm.unit, edge, sizeof edge);
            snprintf(o->reason, sizeof o->reason, "%s %s %s", shown, op, edge);
        } else if (st == BENCH_GATE_CONDITIONAL) {
            char cedge[48];
            format_value(g->pass, pm.unit, edge, sizeof edge);
            format_value(g->conditional, pm.unit, cedge, sizeof cedge);
            snprintf(o->reason, sizeof o->reason, "%s %s %s (pass band) but %s %s", shown, not_op,
                     edge, op, cedge);
        } else {
            format_value(has_cond ? g->conditional : g->pass, pm.unit, edge, sizeof edge);
            snprintf(o->reason, sizeof o->reason, "%s %s %s%s", shown, not_op, edge,
                     has_cond ? " (past the conditional band)" : "");
        }
    }
    return 0;
}

/* One compared metric against a regression gate. */
static void judge_cmp(const bench_gate *g, const bench_metric_cmp *c, bench_gate_outcome *o)
{
    bool higher = c->better == BENCH_BETTER_HIGHER;
    double r = g->max_regression;
    o->value = c->ratio;
    o->ci_lo = c->ci_lo;
    o->ci_hi = c->ci_hi;
    snprintf(o->value_text, sizeof o->value_text, "%+.1f%% [%+.1f%%, %+.1f%%]",
             (c->ratio - 1) * 100, (c->ci_lo - 1) * 100, (c->ci_hi - 1) * 100);
    /* Worse-by, as a fraction: 1 - ratio when higher is better, ratio - 1 when lower is. */
    double worse = higher ? 1 - c->ratio : c->ratio - 1;
    double worse_lo = higher ? 1 - c->ci_hi : c->ci_lo - 1;
    double worse_hi = higher ? 1 - c->ci_lo : c->ci_hi - 1;
    switch (c->verdict) {
    case BENCH_VERDICT_SAME:
        o->status = BENCH_GATE_PASS;
        snprintf(o->reason, sizeof o->reason, "no real change (%s)", c->reason);
        break;
    case BENCH_VERDICT_BETTER:
        o->status = BENCH_GATE_PASS;
        snprintf(o->reason, sizeof o->reason, "better (%s)", c->reason);
        break;
    case BENCH_VERDICT_WORSE:
        if (worse_lo > r && c->track == BENCH_TRACK_WALL && isnan(c->noise_floor)) {
            /* The bootstrap interval covers the noise inside each run, not the
             * shift between two runs (on shared VMs 4-30%): without a measured
             * floor a "worse" between runs cannot be told from that shift. */
            o->status = BENCH_GATE_INCONCLUSIVE;
            snprintf(o->reason, sizeof o->reason,
                     "worse by %.1f%% [%.1f%%, %.1f%%], but no noise floor was measured for "
                     "it: run lore-bench calibrate-noise on this scenario first",
                     worse * 100, worse_lo * 100, worse_hi * 100);
        } else if (worse_lo > r) {
            o->status = BENCH_GATE_FAIL;
            snprintf(o->reason, sizeof o->reason,
                     "worse by %.1f%% [%.1f%%, %.1f%%]: the whole interval is past the %.4g%% "
                     "allowed",
                     worse * 100, worse_lo * 100, worse_hi * 100, r * 100);
        } else if (worse_hi <= r) {
            o->status = BENCH_GATE_PASS;
            snprintf(o->reason, sizeof o->reason, "worse by %.2f%%, within the %.4g%% allowed",
                     worse * 100, r * 100);
        } else {
            o->status = BENCH_GATE_INCONCLUSIVE;
            snprintf(o->reason, sizeof o->reason,
                     "worse by %.1f%%, but the interval [%.1f%%, %.1f%%] reaches inside the "
                     "%.4g%% allowed",
                     worse * 100, worse_lo * 100, worse_hi * 100, r * 100);
        }
        break;
    case BENCH_VERDICT_INCONCLUSIVE:
        o->status = BENCH_GATE_INCONCLUSIVE;
        snprintf(o->reason, sizeof o->reason, "%s", c->reason);
        break;
    case BENCH_VERDICT_MISSING:
    default:
        o->status = BENCH_GATE_SKIPPED;
        snprintf(o->reason, sizeof o->reason, "not compared: %s", c->reason);
        break;
    }
}

static int judge_relative(builder *b, const cJSON *result, const bench_gate_baseline *base,
                          bench_err *e)
{
    const bench_scenario *s = b->s;
    const bench_gate *g = &s->gates[b->gate];
    bench_gate_outcome *o;
    if (!base) {
        PUSH_OR_OOM(o, b, "*", BENCH_GATE_SKIPPED);
        snprintf(o->reason, sizeof o->reason,
                 "no baseline (relative gates need one: --baseline FILE|DIR|auto)");
        return 0;
    }
    /* The minimum effect only moves wall verdicts: counters and instruction counts
     * take any comparison (0), so a scenario's deterministic gates share one. */
    bool deterministic =
        strncmp(g->metric, "counter:", 8) == 0 || strcmp(g->metric, "instructions_per_op") == 0;
    const bench_comparison *c = NULL;
    if (base->compare(base->ctx, deterministic ? 0 : g->max_regression, &c, e) != 0)
        return -1;
    size_t n_metric = 0, n_selected = 0, n_judged = 0;
    const char *info_reason = NULL;
    for (size_t i = 0; i < c->n_items; i++) {
        const bench_metric_cmp *it = &c->items[i];
        if (strcmp(it->metric, g->metric) != 0)
            continue;
        n_metric++;
        const cJSON *pt = find_point(result, it->point_id);
        /* A point only the baseline has cannot be told apart by where, unless there is none. */
        if (pt ? !gate_selects(s, g, pt) : g->n_where > 0)
            continue;
        n_selected++;
        if (it->better == BENCH_BETTER_NONE && it->verdict != BENCH_VERDICT_MISSING)
            return bench_err_set(e,
                                 "gate '%s' ($.gates[%zu]): metric '%s' has no better direction, "
                                 "so it cannot regress; use below/above instead",
                                 g->name, b->gate, g->metric);
        PUSH_OR_OOM(o, b, it->point_id, BENCH_GATE_SKIPPED);
        if (it->informational && it->verdict != BENCH_VERDICT_MISSING) {
            /* Shown by compare, never judged (a stage time, peak RSS, a hardware
             * counter): its plain ratio would make a gate of noise. */
            info_reason = it->reason;
            snprintf(o->reason, sizeof o->reason, "compare does not judge it: %s", it->reason);
            continue;
        }
        n_judged += it->verdict != BENCH_VERDICT_MISSING;
        b->r->n_status[BENCH_GATE_SKIPPED]--;
        judge_cmp(g, it, o);
        b->r->n_status[o->status]++;
    }
    if (info_reason && n_judged == 0)
        return bench_err_set(e,
                             "gate '%s' ($.gates[%zu]): comparisons do not judge '%s' (%s); "
                             "give it an absolute band (below/above) instead",
                             g->name, b->gate, g->metric, info_reason);
    if (n_metric == 0) {
        const bool wall =
            strcmp(g->metric, "throughput") == 0 || strncmp(g->metric, "latency_", 8) == 0;
        const char *why = timing_invalid(result);
        if (wall && why) {
            /* compare leaves out the wall track of a run timed under valgrind. */
            PUSH_OR_OOM(o, b, "*", BENCH_GATE_SKIPPED);
            snprintf(o->reason, sizeof o->reason, "%s", why);
            return 0;
        }
        if (strcmp(g->metric, "instructions_per_op") == 0) {
            PUSH_OR_OOM(o, b, "*", BENCH_GATE_SKIPPED);
            snprintf(o->reason, sizeof o->reason,
                     "instruction counts were not measured on both sides (run with "
                     "--instructions)");
            return 0;
        }
        char have[600] = "";
        size_t len = 0;
        for (size_t i = 0; i < c->n_items && len < sizeof have; i++) {
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++)
                seen = strcmp(c->items[j].metric, c->items[i].metric) == 0;
            if (!seen)
                len += (size_t)snprintf(have + len, sizeof have - len, "%s%s", len ? ", " : "",
                                        c->items[i].metric);
        }
        return bench_err_set(e,
                             "gate '%s' ($.gates[%zu]): the comparison with %s has no metric '%s' "
                             "(compared: %s)",
                             g->name, b->gate, base->path ? base->path : "the baseline", g->metric,
                             have[0] ? have : "nothing");
    }
    if (n_selected == 0) {
        char wtext[200];
        where_text(s, g, wtext, sizeof wtext);
        PUSH_OR_OOM(o, b, "*", BENCH_GATE_SKIPPED);
        snprintf(o->reason, sizeof o->reason, "no compared point matches where %s", wtext);
    }
    return 0;
}

int bench_gates_evaluate(const bench_scenario *s, const cJSON *result,
                         const bench_gate_baseline *baseline, bench_gate_report **out, bench_err *e)
{
    *out = NULL;
    bench_gate_report *r = calloc(1, sizeof *r);
    if (!r)
        return bench_err_set(e, "gates: out of memory");
    snprintf(r->scenario, sizeof r->scenario, "%s", s->name);
    if (baseline)
        snprintf(r->baseline, sizeof r->baseline, "%s", baseline->path ? baseline->path : "?");
    const char *name = bench_json_str(bench_json_get(result, "scenario"), "file");
    char result_name[300];
    snprintf(result_name, sizeof result_name, "the result of %s", name ? name : s->name);
    builder b = {.r = r, .s = s};
    for (size_t i = 0; i < s->n_gates; i++) {
        b.gate = i;
        int rc = s->gates[i].kind == BENCH_GATE_REGRESSION
                     ? judge_relative(&b, result, baseline, e)
                     : judge_absolute(&b, result, result_name, e);
        if (rc != 0) {
            bench_gate_report_free(r);
            return -1;
        }
    }
    *out = r;
    return 0;
}

void bench_gate_report_free(bench_gate_report *r)
{
    if (!r)
        return;
    free(r->items);
    free(r);
}

int bench_gate_report_exit_code(const bench_gate_report *r, bool strict)
{
    if (r->n_status[BENCH_GATE_FAIL])
        return BENCH_EXIT_GATE;
    if (strict && (r->n_status[BENCH_GATE_CONDITIONAL] || r->n_status[BENCH_GATE_INCONCLUSIVE]))
        return BENCH_EXIT_GATE;
    return BENCH_EXIT_OK;
}

/* ---- from a result document ------------------------------------------------------------ */

int bench_gates_scenario_of(const cJSON *result, const char *path, bench_scenario **out,
                            bench_err *e)
{
    *out = NULL;
    const cJSON *eff = bench_json_get(bench_json_get(result, "scenario"), "effective");
    if (!eff)
        return 0; /* a result without its effective scenario declares no gates */
    if (!cJSON_IsObject(eff))
        return bench_err_set(e, "%s: $.scenario.effective: must be an object", path);
    if (!bench_json_get(eff, "gates"))
        return 0;
    char *text = cJSON_PrintUnformatted(eff);
    if (!text)
        return bench_err_set(e, "%s: out of memory", path);
    char label[4200];
    snprintf(label, sizeof label, "%s (scenario.effective)", path);
    int rc = bench_scenario_parse(label, text, out, e);
    free(text);
    return rc;
}

/* bench_compare once per distinct minimum effect, kept until the report is built. */
typedef struct comparer {
    const cJSON *base, *cand;
    const char *base_path, *cand_path;
    bench_compare_opts opts;
    double *effects;
    bench_comparison **cmps;
    size_t n;
} comparer;

static int comparer_get(void *ctx, double min_effect, const bench_comparison **out, bench_err *e)
{
    comparer *c = ctx;
    if (!(min_effect > 0))
        min_effect = c->n ? c->effects[0] : c->opts.min_effect; /* any will do */
    for (size_t i = 0; i < c->n; i++)
        if (c->effects[i] == min_effect) {
            *out = c->cmps[i];
            return 0;
        }
    double *effects = realloc(c->effects, (c->n + 1) * sizeof *effects);
    if (effects)
        c->effects = effects;
    bench_comparison **cmps = realloc(c->cmps, (c->n + 1) * sizeof *cmps);
    if (cmps)
        c->cmps = cmps;
    if (!effects || !cmps)
        return bench_err_set(e, "gates: out of memory");
    bench_compare_opts opts = c->opts;
    if (min_effect > 0)
        opts.min_effect = min_effect;
    bench_comparison *cmp = NULL;
    if (bench_compare(c->base, c->base_path, c->cand, c->cand_path, &opts, &cmp, e) != 0)
        return -1;
    c->effects[c->n] = min_effect;
    c->cmps[c->n++] = cmp;
    *out = cmp;
    return 0;
}

static void comparer_free(comparer *c)
{
    for (size_t i = 0; i < c->n; i++)
        bench_comparison_free(c->cmps[i]);
    free(c->cmps);
    free(c->effects);
}

int bench_gates_check(const cJSON *cand, const char *cand_path, const cJSON *base,
                      const char *base_path, const bench_compare_opts *opts,
                      bench_gate_report **out, bench_err *e)
{
    *out = NULL;
    bench_scenario *s = NULL;
    if (bench_gates_scenario_of(cand, cand_path, &s, e) != 0)
        return -1;
    if (!s) {
        bench_gate_report *r = calloc(1, sizeof *r);
        if (!r)
            return bench_err_set(e, "gates: out of memory");
        const char *name = bench_json_str(bench_json_get(cand, "scenario"), "name");
        snprintf(r->scenario, sizeof r->scenario, "%s", name ? name : "?");
        if (base)
            snprintf(r->baseline, sizeof r->baseline, "%s", base_path);
        *out = r;
        return 0;
    }
    comparer c = {.base = base,
                  .cand = cand,
                  .base_path = base_path,
                  .cand_path = cand_path,
                  .opts = opts ? *opts : bench_compare_default_opts()};
    bench_gate_baseline b = {.path = base_path, .compare = comparer_get, .ctx = &c};
    int rc = bench_gates_evaluate(s, cand, base ? &b : NULL, out, e);
    comparer_free(&c);
    bench_scenario_free(s);
    return rc;
}

/* ---- writers --------------------------------------------------------------------------- */

/* Whether an outcome counts as failed: fail always, conditional/inconclusive with strict. */
static bool outcome_fails(bench_gate_status st, bool strict)
{
    return st == BENCH_GATE_FAIL ||
           (strict && (st == BENCH_GATE_CONDITIONAL || st == BENCH_GATE_INCONCLUSIVE));
}

static const char *verdict_word(const bench_gate_report *r, bool strict)
{
    if (r->n_items == 0)
        return "no gates";
    if (bench_gate_report_exit_code(r, strict) != 0)
        return "FAIL";
    if (r->n_status[BENCH_GATE_CONDITIONAL] || r->n_status[BENCH_GATE_INCONCLUSIVE])
        return "PASS with warnings";
    return "PASS";
}

/* A Markdown table cell: '|' escaped, newlines flattened. */
static void md_cell(FILE *f, const char *s)
{
    fputc(' ', f);
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
    fputs(" |", f);
}

/* The table; hide_pass leaves the pass rows out (the console's view of a long table). */
static int write_markdown(const bench_gate_report *r, bool strict, bool hide_pass, FILE *f,
                          bench_err *e)
{
    fprintf(f, "## Gates: %s\n\n", r->scenario);
    fprintf(f, "**%s**: %zu fail, %zu conditional, %zu inconclusive, %zu pass, %zu skipped%s.\n\n",
            verdict_word(r, strict), r->n_status[BENCH_GATE_FAIL],
            r->n_status[BENCH_GATE_CONDITIONAL], r->n_status[BENCH_GATE_INCONCLUSIVE],
            r->n_status[BENCH_GATE_PASS], r->n_status[BENCH_GATE_SKIPPED],
            strict ? " (--strict: conditional and inconclusive fail)" : "");
    fprintf(f, "Baseline: %s\n\n", r->baseline[0] ? r->baseline : "none (relative gates skipped)");
    size_t n_shown = hide_pass ? r->n_items - r->n_status[BENCH_GATE_PASS] : r->n_items;
    if (n_shown) {
        fputs("| outcome | gate | point | value | rule | reason |\n", f);
        fputs("|---|---|---|---|---|---|\n", f);
        /* Worst first, so the line that matters is at the top. */
        static const bench_gate_status order[] = {BENCH_GATE_FAIL, BENCH_GATE_CONDITIONAL,
                                                  BENCH_GATE_INCONCLUSIVE, BENCH_GATE_PASS,
                                                  BENCH_GATE_SKIPPED};
        for (size_t k = 0; k < BENCH_GATE_N_STATUS; k++)
            for (size_t i = 0; i < r->n_items; i++) {
                const bench_gate_outcome *o = &r->items[i];
                if (o->status != order[k] || (hide_pass && o->status == BENCH_GATE_PASS))
                    continue;
                char word[32];
                snprintf(word, sizeof word, "%s%s", bench_gate_status_name(o->status),
                         outcome_fails(o->status, strict) ? " ✗" : "");
                fputc('|', f);
                md_cell(f, word);
                md_cell(f, o->gate_name);
                md_cell(f, o->point_id);
                md_cell(f, o->value_text);
                md_cell(f, o->rule);
                md_cell(f, o->reason);
                fputc('\n', f);
            }
        fputc('\n', f);
    }
    if (hide_pass && r->n_status[BENCH_GATE_PASS]) {
        fprintf(f,
                "(%zu pass rows not shown here: gates.md, gates.json and --junit list every "
                "outcome)\n\n",
                r->n_status[BENCH_GATE_PASS]);
    }
    if (ferror(f))
        return bench_err_set(e, "gates: cannot write the Markdown table: %s", strerror(errno));
    return 0;
}

int bench_gate_report_write_markdown(const bench_gate_report *r, bool strict, FILE *f, bench_err *e)
{
    return write_markdown(r, strict, false, f, e);
}

/* The console shows a long table without its pass rows. */
#define CONSOLE_MAX_ROWS 25

static void print_console(const bench_gate_report *r, bool strict)
{
    bench_err ignored;
    write_markdown(r, strict, r->n_items > CONSOLE_MAX_ROWS, stdout, &ignored);
    fflush(stdout);
}

static void junit_counts(const bench_gate_report *r, bool strict, size_t *n_fail, size_t *n_skip)
{
    *n_fail = *n_skip = 0;
    for (size_t i = 0; i < r->n_items; i++) {
        if (outcome_fails(r->items[i].status, strict))
            ++*n_fail;
        else if (r->items[i].status != BENCH_GATE_PASS)
            ++*n_skip;
    }
}

/* One <testsuite> of the outcomes, to stand alone or join another file's <testsuites>. */
static void write_junit_suite(const bench_gate_report *r, bool strict, FILE *f)
{
    size_t n_fail, n_skip;
    junit_counts(r, strict, &n_fail, &n_skip);
    fputs("  <testsuite name=\"", f);
    bench_xml_text(f, r->scenario);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n", r->n_items,
            n_fail, n_skip);
    fputs("    <properties>\n      <property name=\"baseline\" value=\"", f);
    bench_xml_text(f, r->baseline[0] ? r->baseline : "none");
    fprintf(f, "\"/>\n      <property name=\"strict\" value=\"%s\"/>\n    </properties>\n",
            strict ? "true" : "false");
    for (size_t i = 0; i < r->n_items; i++) {
        const bench_gate_outcome *o = &r->items[i];
        fputs("    <testcase classname=\"", f);
        bench_xml_text(f, r->scenario);
        fputc('.', f);
        bench_xml_text(f, o->gate_name);
        fputs("\" name=\"", f);
        bench_xml_text(f, o->point_id);
        fputs("\">\n", f);
        char msg[400];
        snprintf(msg, sizeof msg, "%s: %s", bench_gate_status_name(o->status), o->reason);
        if (outcome_fails(o->status, strict)) {
            fprintf(f, "      <failure type=\"%s\" message=\"", bench_gate_status_name(o->status));
            bench_xml_text(f, msg);
            fputs("\"/>\n", f);
        } else if (o->status != BENCH_GATE_PASS) {
            /* JUnit has no "warning": conditional and inconclusive show as skipped
             * with their outcome first in the message. */
            fputs("      <skipped message=\"", f);
            bench_xml_text(f, msg);
            fputs("\"/>\n", f);
        }
        fputs("      <system-out>", f);
        char line[1200];
        snprintf(line, sizeof line, "%s %s: %s (rule: %s) - %s", o->metric, o->point_id,
                 o->value_text, o->rule, msg);
        bench_xml_text(f, line);
        fputs("</system-out>\n    </testcase>\n", f);
    }
    fputs("  </testsuite>\n", f);
}

int bench_gate_report_write_junit(const bench_gate_report *r, bool strict, FILE *f, bench_err *e)
{
    size_t n_fail, n_skip;
    junit_counts(r, strict, &n_fail, &n_skip);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fputs("<testsuites name=\"lore-bench gates\"", f);
    fprintf(f, " tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n", r->n_items, n_fail, n_skip);
    write_junit_suite(r, strict, f);
    fputs("</testsuites>\n", f);
    if (ferror(f))
        return bench_err_set(e, "gates: cannot write the JUnit XML: %s", strerror(errno));
    return 0;
}

static cJSON *add_num_or_null(cJSON *o, const char *name, double v)
{
    return isfinite(v) ? cJSON_AddNumberToObject(o, name, v) : cJSON_AddNullToObject(o, name);
}

cJSON *bench_gate_report_to_json(const bench_gate_report *r, bool strict)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "schema", BENCH_GATES_SCHEMA);
    cJSON_AddStringToObject(root, "scenario", r->scenario);
    if (r->baseline[0])
        cJSON_AddStringToObject(root, "baseline", r->baseline);
    else
        cJSON_AddNullToObject(root, "baseline");
    cJSON_AddBoolToObject(root, "strict", strict);
    cJSON_AddStringToObject(root, "verdict", verdict_word(r, strict));
    cJSON_AddNumberToObject(root, "exit_code", bench_gate_report_exit_code(r, strict));
    cJSON *counts = cJSON_AddObjectToObject(root, "counts");
    cJSON *list = cJSON_AddArrayToObject(root, "outcomes");
    if (!counts || !list)
        goto oom;
    for (size_t k = 0; k < BENCH_GATE_N_STATUS; k++)
        if (!cJSON_AddNumberToObject(counts, bench_gate_status_name((bench_gate_status)k),
                                     (double)r->n_status[k]))
            goto oom;
    for (size_t i = 0; i < r->n_items; i++) {
        const bench_gate_outcome *o = &r->items[i];
        cJSON *it = cJSON_CreateObject();
        if (!it)
            goto oom;
        cJSON_AddItemToArray(list, it);
        if (!cJSON_AddNumberToObject(it, "gate", (double)o->gate) ||
            !cJSON_AddStringToObject(it, "name", o->gate_name) ||
            !cJSON_AddStringToObject(it, "metric", o->metric) ||
            !cJSON_AddStringToObject(it, "rule", o->rule) ||
            !cJSON_AddStringToObject(it, "point", o->point_id) ||
            !cJSON_AddStringToObject(it, "outcome", bench_gate_status_name(o->status)) ||
            !cJSON_AddBoolToObject(it, "fails", outcome_fails(o->status, strict)) ||
            !add_num_or_null(it, "value", o->value) || !add_num_or_null(it, "ci_lo", o->ci_lo) ||
            !add_num_or_null(it, "ci_hi", o->ci_hi) ||
            !cJSON_AddStringToObject(it, "value_text", o->value_text) ||
            !cJSON_AddStringToObject(it, "reason", o->reason))
            goto oom;
    }
    return root;
oom:
    cJSON_Delete(root);
    return NULL;
}

/* ---- command line ---------------------------------------------------------------------- */

static int cli_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "lore-bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see lore-bench help)\n");
    return -1;
}

int bench_gate_cli_option(int argc, char **argv, int *i, bench_gate_cli *o)
{
    const char *a = argv[*i];
    bool has_value = *i + 1 < argc;
    if (strcmp(a, "--baseline") == 0) {
        if (!has_value || !argv[*i + 1][0])
            return cli_usage("%s needs a result file, a folder or auto", a);
        o->baseline = argv[++*i];
        return 1;
    }
    if (strcmp(a, "--junit") == 0) {
        if (!has_value || !argv[*i + 1][0])
            return cli_usage("%s needs a file to write", a);
        o->junit = argv[++*i];
        return 1;
    }
    if (strcmp(a, "--strict") == 0) {
        o->strict = true;
        return 1;
    }
    return 0;
}

/* --baseline FILE or DIR (DIR/<scenario>.json, else DIR/result.json), loaded and checked. */
static int load_baseline(bench_gate_cli *o, const char *scenario, bench_err *e)
{
    const char *arg = o->baseline;
    if (bench_is_dir(arg)) {
        snprintf(o->base_path, sizeof o->base_path, "%s/%s.json", arg, scenario);
        if (!bench_is_file(o->base_path))
            snprintf(o->base_path, sizeof o->base_path, "%s/result.json", arg);
        if (!bench_is_file(o->base_path))
            return bench_err_set(e,
                                 "--baseline %s: a folder holding neither %s.json (a saved "
                                 "baseline) nor result.json (a run)",
                                 arg, scenario);
    } else {
        snprintf(o->base_path, sizeof o->base_path, "%s", arg);
    }
    bench_err why;
    if (bench_results_read(o->base_path, &o->base_doc, &why) != 0)
        return bench_err_set(e, "--baseline %s: %s", arg, why.msg);
    return 0;
}

int bench_gate_cli_prepare(bench_gate_cli *o, const bench_scenario *s, bench_err *e)
{
    if (o->junit) {
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", o->junit);
        const char *dir = dirname(copy);
        if (bench_is_dir(o->junit))
            return bench_err_set(e, "--junit %s: is a folder; give a file name", o->junit);
        if (!bench_is_dir(dir) || access(dir, W_OK) != 0)
            return bench_err_set(e, "--junit %s: folder %s does not exist or is not writable",
                                 o->junit, dir);
    }
    if (o->baseline && strcmp(o->baseline, "auto") != 0 && !o->base_doc)
        return load_baseline(o, s->name, e);
    return 0;
}

/* The noise floors for a comparison with base: beside the baseline, else in this class's folder. */
static int find_noise(bench_gate_cli *o, const char *scenario, const char *cand_class, bench_err *e)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", o->base_path);
    char candidates[2][sizeof o->noise_path];
    int n0 =
        snprintf(candidates[0], sizeof candidates[0], "%s/noise-%s.json", dirname(copy), scenario);
    int n1 = snprintf(candidates[1], sizeof candidates[1], "baselines/%s/noise-%s.json", cand_class,
                      scenario);
    bool usable[2] = {n0 > 0 && (size_t)n0 < sizeof candidates[0],
                      cand_class[0] && n1 > 0 && (size_t)n1 < sizeof candidates[1]};
    for (size_t i = 0; i < 2; i++) {
        if (!usable[i] || !bench_is_file(candidates[i]))
            continue;
        memcpy(o->noise_path, candidates[i], sizeof o->noise_path);
        return bench_noise_read(candidates[i], &o->noise_doc, e);
    }
    return 0;
}

static int write_text_file(const char *path, void (*render)(void *, FILE *), void *ctx,
                           bench_err *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return bench_err_set(e, "%s: out of memory", path);
    render(ctx, f);
    fclose(f);
    int rc = bench_write_file_atomic(path, buf, len, e);
    free(buf);
    return rc;
}

typedef struct render_ctx {
    const bench_gate_report *r;
    const bench_comparison *cmp;
    const cJSON *json;
    bool strict;
} render_ctx;

static void render_md(void *ctx, FILE *f)
{
    render_ctx *c = ctx;
    bench_err ignored;
    if (c->cmp) {
        bench_comparison_write_markdown(c->cmp, f, &ignored);
        fputc('\n', f);
    }
    bench_gate_report_write_markdown(c->r, c->strict, f, &ignored);
}

static void render_junit(void *ctx, FILE *f)
{
    render_ctx *c = ctx;
    bench_err ignored;
    bench_gate_report_write_junit(c->r, c->strict, f, &ignored);
}

static void render_json(void *ctx, FILE *f)
{
    render_ctx *c = ctx;
    char *text = cJSON_Print(c->json);
    if (text) {
        fputs(text, f);
        fputc('\n', f);
    }
    free(text);
}

static int write_json_file(const char *path, const cJSON *doc, bench_err *e)
{
    if (!doc)
        return bench_err_set(e, "%s: out of memory", path);
    render_ctx c = {.json = doc};
    return write_text_file(path, render_json, &c, e);
}

/* comparison.md / comparison.json of the run against its baseline, gates inside. */
static int write_comparison(const bench_gate_cli *o, const cJSON *doc, const char *result_path,
                            const char *dir, const bench_gate_report *r, bench_err *e)
{
    bench_compare_opts opts = bench_compare_default_opts();
    opts.noise = o->noise_doc;
    bench_comparison *cmp = NULL;
    if (bench_compare(o->base_doc, o->base_path, doc, result_path, &opts, &cmp, e) != 0)
        return -1;
    char path[4200];
    render_ctx c = {.r = r, .cmp = cmp, .strict = o->strict};
    snprintf(path, sizeof path, "%s/comparison.md", dir);
    int rc = write_text_file(path, render_md, &c, e);
    cJSON *json = rc == 0 ? bench_comparison_to_json(cmp) : NULL;
    if (rc == 0) {
        cJSON *gates = json ? bench_gate_report_to_json(r, o->strict) : NULL;
        if (gates)
            cJSON_AddItemToObject(json, "gates", gates);
        snprintf(path, sizeof path, "%s/comparison.json", dir);
        rc = write_json_file(path, gates ? json : NULL, e);
    }
    cJSON_Delete(json);
    bench_comparison_free(cmp);
    return rc;
}

int bench_gate_cli_finish(bench_gate_cli *o, const cJSON *doc, const char *result_path,
                          const char *dir)
{
    bench_err e = {{0}};
    if (getenv(BENCH_GATES_OFF_ENV))
        return BENCH_EXIT_OK;
    const char *scenario = bench_json_str(bench_json_get(doc, "scenario"), "name");
    scenario = scenario ? scenario : "?";
    bench_gate_report *r = NULL;
    int rc = BENCH_EXIT_USAGE;
    char cls[160] = "";
    bench_err why;
    if (bench_machine_class(doc, cls, sizeof cls, &why) != 0)
        cls[0] = '\0';
    if (o->baseline && strcmp(o->baseline, "auto") == 0 && !o->base_doc) {
        char path[4096];
        snprintf(path, sizeof path, "baselines/%s/%s.json", cls[0] ? cls : "?", scenario);
        if (cls[0] && bench_is_file(path)) {
            snprintf(o->base_path, sizeof o->base_path, "%s", path);
            if (bench_results_read(path, &o->base_doc, &e) != 0)
                goto report;
        } else if (!cls[0]) {
            fprintf(stderr,
                    "lore-bench: --baseline auto: this result's machine class is unknown (%s); "
                    "no baseline used, relative gates are skipped\n",
                    why.msg);
        } else {
            fprintf(stderr,
                    "lore-bench: no baseline for %s on this machine class (%s): %s does not "
                    "exist, so relative gates are skipped.\n"
                    "lore-bench: to make one, bless a good run: lore-bench baseline save %s\n",
                    scenario, cls, path, result_path);
        }
    }
    if (o->base_doc) {
        if (find_noise(o, scenario, cls, &e) != 0)
            goto report;
        fprintf(stderr, "lore-bench: baseline %s; noise floors %s\n", o->base_path,
                o->noise_path[0] ? o->noise_path
                                 : "not measured (lore-bench calibrate-noise makes them)");
    }
    bench_compare_opts opts = bench_compare_default_opts();
    opts.noise = o->noise_doc;
    if (bench_gates_check(doc, result_path, o->base_doc, o->base_path, &opts, &r, &e) != 0)
        goto report;
    if (r->n_items == 0 && !o->base_doc && !o->junit) {
        rc = BENCH_EXIT_OK;
        goto done;
    }
    print_console(r, o->strict);
    render_ctx c = {.r = r, .strict = o->strict};
    char path[4200];
    if (dir) {
        snprintf(path, sizeof path, "%s/gates.md", dir);
        if (write_text_file(path, render_md, &c, &e) != 0)
            goto runtime;
        cJSON *json = bench_gate_report_to_json(r, o->strict);
        snprintf(path, sizeof path, "%s/gates.json", dir);
        int w = write_json_file(path, json, &e);
        cJSON_Delete(json);
        if (w != 0)
            goto runtime;
        if (o->base_doc && write_comparison(o, doc, result_path, dir, r, &e) != 0)
            goto report;
    }
    if (o->junit && write_text_file(o->junit, render_junit, &c, &e) != 0)
        goto runtime;
    rc = bench_gate_report_exit_code(r, o->strict);
    if (rc != BENCH_EXIT_OK)
        fprintf(stderr, "lore-bench: gates: %s\n", verdict_word(r, o->strict));
    goto done;

runtime:
    rc = BENCH_EXIT_RUNTIME;
report:
    fprintf(stderr, "lore-bench: %s\n", e.msg);
done:
    bench_gate_report_free(r);
    return rc;
}

/* Rewrites path as its current text with add(ctx, f, text) deciding what to write. */
typedef void (*rewrite_fn)(void *ctx, FILE *f, const char *old);

static int rewrite_file(const char *path, rewrite_fn add, void *ctx, bench_err *e)
{
    char *old = bench_read_file(path, NULL, e);
    if (!old)
        return -1;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        free(old);
        return bench_err_set(e, "%s: out of memory", path);
    }
    add(ctx, f, old);
    fclose(f);
    free(old);
    int rc = bench_write_file_atomic(path, buf, len, e);
    free(buf);
    return rc;
}

static void append_md(void *ctx, FILE *f, const char *old)
{
    render_ctx *c = ctx;
    bench_err ignored;
    fputs(old, f);
    fputc('\n', f);
    bench_gate_report_write_markdown(c->r, c->strict, f, &ignored);
}

/* The gates' <testsuite> joins compare's <testsuites>; a file without one is replaced. */
static void merge_junit(void *ctx, FILE *f, const char *old)
{
    render_ctx *c = ctx;
    const char *end = NULL;
    for (const char *p = old; (p = strstr(p, "</testsuites>")); p++)
        end = p;
    if (!end) {
        render_junit(ctx, f);
        return;
    }
    fwrite(old, 1, (size_t)(end - old), f);
    write_junit_suite(c->r, c->strict, f);
    fputs(end, f);
}

static int add_gates_to_json(const char *path, const bench_gate_report *r, bool strict,
                             bench_err *e)
{
    char *text = bench_read_file(path, NULL, e);
    if (!text)
        return -1;
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return bench_err_set(e, "%s: not a JSON object", path);
    }
    cJSON *gates = bench_gate_report_to_json(r, strict);
    if (gates) {
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "gates");
        cJSON_AddItemToObject(doc, "gates", gates);
    }
    int rc = write_json_file(path, gates ? doc : NULL, e);
    cJSON_Delete(doc);
    return rc;
}

int bench_gates_compare_cli(const cJSON *cand, const char *cand_path, const cJSON *base,
                            const char *base_path, const bench_compare_opts *opts, bool strict,
                            const char *md_path, const char *json_path, const char *junit_path,
                            int fallback)
{
    bench_gate_report *r = NULL;
    bench_err e = {{0}};
    if (bench_gates_check(cand, cand_path, base, base_path, opts, &r, &e) != 0) {
        fprintf(stderr, "lore-bench: %s\n", e.msg);
        return BENCH_EXIT_USAGE;
    }
    int rc = fallback;
    if (r->n_items == 0)
        goto done;
    fputc('\n', stdout);
    print_console(r, strict);
    render_ctx c = {.r = r, .strict = strict};
    if ((md_path && rewrite_file(md_path, append_md, &c, &e) != 0) ||
        (json_path && add_gates_to_json(json_path, r, strict, &e) != 0) ||
        (junit_path && rewrite_file(junit_path, merge_junit, &c, &e) != 0)) {
        fprintf(stderr, "lore-bench: %s\n", e.msg);
        rc = BENCH_EXIT_RUNTIME;
        goto done;
    }
    rc = bench_gate_report_exit_code(r, strict);
    if (rc != BENCH_EXIT_OK)
        fprintf(stderr, "lore-bench: gates: %s\n", verdict_word(r, strict));
done:
    bench_gate_report_free(r);
    return rc;
}

void bench_gate_cli_free(bench_gate_cli *o)
{
    cJSON_Delete(o->base_doc);
    cJSON_Delete(o->noise_doc);
    o->base_doc = o->noise_doc = NULL;
}

int bench_gate_cli_main(int argc, char **argv)
{
    bench_gate_cli o = {0};
    const char *arg = NULL;
    for (int i = 2; i < argc; i++) {
        int taken = bench_gate_cli_option(argc, argv, &i, &o);
        if (taken < 0)
            return BENCH_EXIT_USAGE;
        if (taken)
            continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            cli_usage("unknown option '%s'", argv[i]);
            return BENCH_EXIT_USAGE;
        }
        if (arg) {
            cli_usage("gate takes one result (extra argument '%s')", argv[i]);
            return BENCH_EXIT_USAGE;
        }
        arg = argv[i];
    }
    if (!arg) {
        cli_usage("%s", "gate needs a result (result.json or its folder)");
        return BENCH_EXIT_USAGE;
    }
    char path[4096];
    if (snprintf(path, sizeof path, bench_is_dir(arg) ? "%s/result.json" : "%s", arg) >=
        (int)sizeof path) {
        cli_usage("%s: path too long", arg);
        return BENCH_EXIT_USAGE;
    }
    bench_err e = {{0}};
    cJSON *doc = NULL;
    bench_scenario *s = NULL;
    int rc = BENCH_EXIT_USAGE;
    if (bench_results_read(path, &doc, &e) != 0)
        goto report;
    /* Validates the gates (and --junit, --baseline FILE|DIR) before anything is written. */
    if (bench_gates_scenario_of(doc, path, &s, &e) != 0)
        goto report;
    const char *name = bench_json_str(bench_json_get(doc, "scenario"), "name");
    bench_scenario stub = {.name = (char *)(name ? name : "?")};
    if (bench_gate_cli_prepare(&o, s ? s : &stub, &e) != 0)
        goto report;
    if (!s)
        fprintf(stderr, "lore-bench: %s: its scenario declares no gates\n", path);
    rc = bench_gate_cli_finish(&o, doc, path, NULL);
    goto done;
report:
    fprintf(stderr, "lore-bench: %s\n", e.msg);
done:
    bench_scenario_free(s);
    cJSON_Delete(doc);
    bench_gate_cli_free(&o);
    return rc;
}
