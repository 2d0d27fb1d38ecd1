/*
 * scenario.c - strict parsing and validation of scenario files, and --set.
 *
 * Every check names the file and the JSON path of the offending value, and
 * shows the value itself, so a user can fix the file without reading code.
 */
#include "scenario.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lore/lore.h"
#include "measure/counters.h"

bench_policy bench_policy_default(void)
{
    return (bench_policy){
        .warmup_ops = 1,
        .warmup_s = 0.1,
        .min_samples = 10,
        .max_samples = 100000,
        .min_time_s = 0.5,
        .max_time_s = 10.0,
        .repetitions = 1,
    };
}

/* The "measure" fields: name, integer or not, offset, inclusive range. */
static const struct policy_field {
    const char *name;
    bool is_int;
    size_t offset;
    double min, max;
} policy_fields[] = {
    {"warmup_ops", true, offsetof(bench_policy, warmup_ops), 0, 1e9},
    {"warmup_s", false, offsetof(bench_policy, warmup_s), 0, 3600},
    {"min_samples", true, offsetof(bench_policy, min_samples), 1, 1e8},
    {"max_samples", true, offsetof(bench_policy, max_samples), 1, 1e8},
    {"min_time_s", false, offsetof(bench_policy, min_time_s), 0, 86400},
    {"max_time_s", false, offsetof(bench_policy, max_time_s), 1e-6, 86400},
    {"repetitions", true, offsetof(bench_policy, repetitions), 1, 1000},
};
#define N_POLICY_FIELDS (sizeof policy_fields / sizeof policy_fields[0])

/* A short rendering of a JSON value for "(got X)". */
static void render(const cJSON *item, char *buf, size_t size)
{
    char *text = cJSON_PrintUnformatted(item);
    if (!text) {
        snprintf(buf, size, "?");
        return;
    }
    if (strlen(text) > 60)
        snprintf(buf, size, "%.57s...", text);
    else
        snprintf(buf, size, "%s", text);
    free(text);
}

static int fail_at(bench_err *e, const char *file, const char *path, const char *what,
                   const cJSON *got)
{
    char shown[72];
    if (got) {
        render(got, shown, sizeof shown);
        return bench_err_set(e, "%s: %s: %s (got %s)", file, path, what, shown);
    }
    return bench_err_set(e, "%s: %s: %s", file, path, what);
}

static bool json_is_integer(const cJSON *item)
{
    return cJSON_IsNumber(item) && isfinite(item->valuedouble) &&
           item->valuedouble == floor(item->valuedouble) && fabs(item->valuedouble) <= 9e15;
}

static const char *type_word(bench_param_type t)
{
    static const char *const words[] = {"an integer", "a number", "a string", "true or false"};
    return words[t];
}

/* Converts a JSON value to spec's type and checks it. */
static int json_to_value(const bench_param_spec *spec, const cJSON *item, bench_value *out,
                         const char *file, const char *path, bench_err *e)
{
    memset(out, 0, sizeof *out);
    out->type = spec->type;
    char what[96];
    snprintf(what, sizeof what, "must be %s", type_word(spec->type));
    switch (spec->type) {
    case BENCH_PARAM_INT:
        if (!json_is_integer(item))
            return fail_at(e, file, path, what, item);
        out->i = (int64_t)item->valuedouble;
        break;
    case BENCH_PARAM_FLOAT:
        if (!cJSON_IsNumber(item))
            return fail_at(e, file, path, what, item);
        out->f = item->valuedouble;
        break;
    case BENCH_PARAM_BOOL:
        if (!cJSON_IsBool(item))
            return fail_at(e, file, path, what, item);
        out->b = cJSON_IsTrue(item);
        break;
    case BENCH_PARAM_STRING:
        if (!cJSON_IsString(item))
            return fail_at(e, file, path, what, item);
        out->s = bench_strdup(item->valuestring);
        if (!out->s)
            return bench_err_set(e, "%s: out of memory", file);
        break;
    }
    bench_err why;
    if (bench_value_check(spec, out, &why) != 0) {
        bench_value_clear(out);
        /* bench_value_check already shows the value. */
        return bench_err_set(e, "%s: %s: %s", file, path, why.msg);
    }
    return 0;
}

/* Rejects fields not in allowed (NULL-terminated) and duplicated fields. */
static int check_fields(const cJSON *obj, const char *const *allowed, const char *file,
                        const char *path, bench_err *e)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(allowed[i], it->string) == 0;
        char where[256];
        snprintf(where, sizeof where, "%s.%s", path, it->string);
        if (!known) {
            char what[512] = "unknown field; expected one of: ";
            for (size_t i = 0; allowed[i]; i++) {
                strncat(what, allowed[i], sizeof what - strlen(what) - 3);
                if (allowed[i + 1])
                    strncat(what, ", ", sizeof what - strlen(what) - 1);
            }
            return fail_at(e, file, where, what, NULL);
        }
        for (const cJSON *other = it->next; other; other = other->next)
            if (strcmp(other->string, it->string) == 0)
                return fail_at(e, file, where, "duplicate field", NULL);
    }
    return 0;
}

static int check_object(const cJSON *item, const char *file, const char *path, bench_err *e)
{
    if (!cJSON_IsObject(item))
        return fail_at(e, file, path, "must be an object", item);
    return 0;
}

static void axis_clear(bench_axis *a)
{
    for (size_t i = 0; i < a->n_values; i++)
        bench_value_clear(&a->values[i]);
    free(a->values);
    a->values = NULL;
    a->n_values = 0;
}

static void remove_axis(bench_scenario *s, int param)
{
    for (size_t i = 0; i < s->n_axes; i++) {
        if (s->axes[i].param != param)
            continue;
        axis_clear(&s->axes[i]);
        memmove(&s->axes[i], &s->axes[i + 1], (s->n_axes - i - 1) * sizeof *s->axes);
        s->n_axes--;
        return;
    }
}

const bench_axis *bench_scenario_axis(const bench_scenario *s, int param)
{
    for (size_t i = 0; i < s->n_axes; i++)
        if (s->axes[i].param == param)
            return &s->axes[i];
    return NULL;
}

/* Moves *v into the fixed value of param. */
static void set_fixed(bench_scenario *s, int param, bench_value *v)
{
    bench_value_clear(&s->fixed[param]);
    s->fixed[param] = *v;
    memset(v, 0, sizeof *v);
}

/* The parameter a "params" or "sweep" field names; path gets the field's path. */
static int param_of_field(const bench_workload *w, const char *section, const cJSON *it, char *path,
                          size_t path_size, const char *file, bench_err *e)
{
    snprintf(path, path_size, "%s.%s", section, it->string);
    int idx = bench_workload_param_index(w, it->string);
    if (idx < 0) {
        char what[128];
        snprintf(what, sizeof what, "unknown parameter of workload '%s' (see lore-bench list)",
                 w->name);
        return fail_at(e, file, path, what, NULL);
    }
    return idx;
}

static int parse_params(bench_scenario *s, const cJSON *params, const char *file, bench_err *e)
{
    if (check_object(params, file, "$.params", e) != 0)
        return -1;
    const bench_workload *w = s->workload;
    for (const cJSON *it = params->child; it; it = it->next) {
        char path[256];
        int idx = param_of_field(w, "$.params", it, path, sizeof path, file, e);
        if (idx < 0)
            return -1;
        for (const cJSON *other = it->next; other; other = other->next)
            if (strcmp(other->string, it->string) == 0)
                return fail_at(e, file, path, "duplicate field", NULL);
        bench_value v;
        if (json_to_value(&w->params[idx], it, &v, file, path, e) != 0)
            return -1;
        set_fixed(s, idx, &v);
    }
    return 0;
}

static int parse_sweep(bench_scenario *s, const cJSON *sweep, const cJSON *params, const char *file,
                       bench_err *e)
{
    if (check_object(sweep, file, "$.sweep", e) != 0)
        return -1;
    const bench_workload *w = s->workload;
    size_t n = (size_t)cJSON_GetArraySize(sweep);
    s->axes = n ? calloc(n, sizeof *s->axes) : NULL;
    if (n && !s->axes)
        return bench_err_set(e, "%s: out of memory", file);
    for (const cJSON *it = sweep->child; it; it = it->next) {
        char path[256];
        int idx = param_of_field(w, "$.sweep", it, path, sizeof path, file, e);
        if (idx < 0)
            return -1;
        if (bench_scenario_axis(s, idx))
            return fail_at(e, file, path, "duplicate field", NULL);
        if (params && cJSON_GetObjectItemCaseSensitive(params, it->string))
            return fail_at(e, file, path, "is also fixed in $.params; give it in one place", NULL);
        if (!cJSON_IsArray(it))
            return fail_at(e, file, path, "must be a list of values", it);
        size_t nv = (size_t)cJSON_GetArraySize(it);
        if (nv == 0)
            return fail_at(e, file, path, "must not be empty", it);
        bench_axis *axis = &s->axes[s->n_axes++];
        axis->param = idx;
        axis->values = calloc(nv, sizeof *axis->values);
        if (!axis->values)
            return bench_err_set(e, "%s: out of memory", file);
        size_t j = 0;
        for (const cJSON *v = it->child; v; v = v->next, j++) {
            char vpath[300];
            snprintf(vpath, sizeof vpath, "%s[%zu]", path, j);
            if (json_to_value(&w->params[idx], v, &axis->values[j], file, vpath, e) != 0)
                return -1;
            axis->n_values = j + 1;
            for (size_t k = 0; k < j; k++)
                if (bench_value_equal(&axis->values[k], &axis->values[j]))
                    return fail_at(e, file, vpath, "duplicate sweep value", v);
        }
    }
    return 0;
}

static int check_policy(const bench_policy *p, const char *file, bench_err *e)
{
    if (p->max_samples < p->min_samples)
        return bench_err_set(e, "%s: $.measure.max_samples: must be >= min_samples %lld (got %lld)",
                             file, (long long)p->min_samples, (long long)p->max_samples);
    if (p->max_time_s < p->min_time_s)
        return bench_err_set(e, "%s: $.measure.max_time_s: must be >= min_time_s %g (got %g)", file,
                             p->min_time_s, p->max_time_s);
    if (p->max_samples * p->repetitions > BENCH_MAX_SAMPLES_TOTAL)
        return bench_err_set(e,
                             "%s: $.measure.max_samples: max_samples x repetitions must be at "
                             "most %d (got %lld x %lld)",
                             file, BENCH_MAX_SAMPLES_TOTAL, (long long)p->max_samples,
                             (long long)p->repetitions);
    return 0;
}

static int set_policy_field(bench_policy *p, const struct policy_field *f, double v)
{
    if (f->is_int)
        *(int64_t *)((char *)p + f->offset) = (int64_t)v;
    else
        *(double *)((char *)p + f->offset) = v;
    return 0;
}

static const struct policy_field *policy_field_find(const char *name)
{
    for (size_t i = 0; i < N_POLICY_FIELDS; i++)
        if (strcmp(policy_fields[i].name, name) == 0)
            return &policy_fields[i];
    return NULL;
}

static int parse_measure(bench_scenario *s, const cJSON *measure, const char *file, bench_err *e)
{
    if (check_object(measure, file, "$.measure", e) != 0)
        return -1;
    const char *allowed[N_POLICY_FIELDS + 1];
    for (size_t i = 0; i < N_POLICY_FIELDS; i++)
        allowed[i] = policy_fields[i].name;
    allowed[N_POLICY_FIELDS] = NULL;
    if (check_fields(measure, allowed, file, "$.measure", e) != 0)
        return -1;
    for (const cJSON *it = measure->child; it; it = it->next) {
        const struct policy_field *f = policy_field_find(it->string);
        char path[128];
        snprintf(path, sizeof path, "$.measure.%s", it->string);
        if (f->is_int ? !json_is_integer(it) : !cJSON_IsNumber(it))
            return fail_at(e, file, path, f->is_int ? "must be an integer" : "must be a number",
                           it);
        if (it->valuedouble < f->min || it->valuedouble > f->max) {
            char what[96];
            snprintf(what, sizeof what, "must be in [%g, %g]", f->min, f->max);
            return fail_at(e, file, path, what, it);
        }
        set_policy_field(&s->policy, f, it->valuedouble);
    }
    return check_policy(&s->policy, file, e);
}

static int parse_counters(bench_scenario *s, const cJSON *counters, const char *file, bench_err *e)
{
    if (!cJSON_IsArray(counters))
        return fail_at(e, file, "$.counters", "must be a list of PAPI event names", counters);
    size_t n = (size_t)cJSON_GetArraySize(counters);
    s->counters = calloc(n + 1, sizeof *s->counters);
    if (!s->counters)
        return bench_err_set(e, "%s: out of memory", file);
    size_t i = 0;
    for (const cJSON *it = counters->child; it; it = it->next, i++) {
        char path[64];
        snprintf(path, sizeof path, "$.counters[%zu]", i);
        if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) > 90)
            return fail_at(e, file, path, "must be a PAPI event name of 1-90 characters", it);
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->counters[j], it->valuestring) == 0)
                return fail_at(e, file, path, "duplicate counter", it);
        s->counters[i] = bench_strdup(it->valuestring);
        if (!s->counters[i])
            return bench_err_set(e, "%s: out of memory", file);
        s->n_counters = i + 1;
    }
    return 0;
}

static bool name_is_valid(const char *name)
{
    if (!name[0] || strlen(name) > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

/* ---- gates ---------------------------------------------------------------------------- */

/* Latency statistics a gate may name as latency_<stat> (the result's latency_ns fields). */
static const char *const latency_stats[] = {"min",  "p50", "p90",  "p95", "p99",
                                            "p999", "max", "mean", NULL};

/* A workload metric's name as workloads write them: [a-z][a-z0-9_]*, at most 63 characters. */
static bool metric_word_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > 63 || !(m[0] >= 'a' && m[0] <= 'z'))
        return false;
    for (const char *p = m; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/* The counter events this scenario reads: its "counters", or the default set. */
static bool counter_is_read(const bench_scenario *s, const char *event)
{
    if (s->counters) {
        for (size_t i = 0; i < s->n_counters; i++)
            if (strcmp(s->counters[i], event) == 0)
                return true;
        return false;
    }
    for (size_t i = 0; i < bench_counters_n_default_hw; i++)
        if (strcmp(bench_counters_default_hw[i], event) == 0)
            return true;
    static const char prefix[] = "sde:::lore::";
    if (strncmp(event, prefix, sizeof prefix - 1) != 0)
        return false;
    for (size_t i = 0; i < lore_counter_count(); i++)
        if (strcmp(event + sizeof prefix - 1, lore_counter_name((lore_counter)i)) == 0)
            return true;
    return false;
}

static int check_gate_metric(const bench_scenario *s, const cJSON *metric, const char *file,
                             const char *path, bench_err *e)
{
    if (!cJSON_IsString(metric))
        return fail_at(e, file, path, "must be a string", metric);
    const char *m = metric->valuestring;
    if (strncmp(m, "counter:", 8) == 0) {
        if (counter_is_read(s, m + 8))
            return 0;
        return fail_at(e, file, path,
                       s->counters ? "names a counter this scenario does not read (see $.counters)"
                                   : "names a counter outside the default set (PAPI_TOT_INS, "
                                     "PAPI_TOT_CYC, PAPI_L1_DCM, PAPI_L3_TCM, sde:::lore::*); "
                                     "list it in $.counters",
                       metric);
    }
    if (strncmp(m, "latency_", 8) == 0) {
        for (size_t i = 0; latency_stats[i]; i++)
            if (strcmp(m + 8, latency_stats[i]) == 0)
                return 0;
        return fail_at(e, file, path,
                       "unknown latency statistic; expected latency_ followed by one of: min, "
                       "p50, p90, p95, p99, p999, max, mean",
                       metric);
    }
    if (strncmp(m, "rss_", 4) == 0 && strcmp(m, "rss_peak_bytes") != 0)
        return fail_at(e, file, path, "unknown RSS metric; expected rss_peak_bytes", metric);
    /* throughput, rss_peak_bytes, instructions_per_op and workload metrics share the form. */
    if (!metric_word_ok(m))
        return fail_at(e, file, path,
                       "must be throughput, latency_<stat>, rss_peak_bytes, counter:<event>, "
                       "instructions_per_op or a workload metric name ([a-z][a-z0-9_]*)",
                       metric);
    return 0;
}

/* "below"/"above": {"pass": X, "conditional": Y}, Y optional and on the far side of X. */
static int parse_band(bench_gate *g, const cJSON *band, bool below, const char *file,
                      const char *path, bench_err *e)
{
    static const char *const fields[] = {"pass", "conditional", NULL};
    if (!cJSON_IsObject(band))
        return fail_at(e, file, path,
                       "must be an object {\"pass\": X} or {\"pass\": X, \"conditional\": Y}",
                       band);
    if (check_fields(band, fields, file, path, e) != 0)
        return -1;
    char where[320];
    const cJSON *pass = cJSON_GetObjectItemCaseSensitive(band, "pass");
    snprintf(where, sizeof where, "%s.pass", path);
    if (!pass)
        return fail_at(e, file, where, "missing required field", NULL);
    if (!cJSON_IsNumber(pass) || !isfinite(pass->valuedouble))
        return fail_at(e, file, where, "must be a number", pass);
    g->pass = pass->valuedouble;
    g->conditional = NAN;
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(band, "conditional");
    if (!cond)
        return 0;
    snprintf(where, sizeof where, "%s.conditional", path);
    if (!cJSON_IsNumber(cond) || !isfinite(cond->valuedouble))
        return fail_at(e, file, where, "must be a number", cond);
    if (below ? !(cond->valuedouble > g->pass) : !(cond->valuedouble < g->pass)) {
        char what[96];
        snprintf(what, sizeof what, "must be %s pass %g (the band beyond it)",
                 below ? "above" : "below", g->pass);
        return fail_at(e, file, where, what, cond);
    }
    g->conditional = cond->valuedouble;
    return 0;
}

static int parse_where(const bench_scenario *s, bench_gate *g, const cJSON *where, const char *file,
                       const char *path, bench_err *e)
{
    if (!cJSON_IsObject(where) || !where->child)
        return fail_at(e, file, path, "must be an object of parameter: value or [values]", where);
    const bench_workload *w = s->workload;
    size_t n = (size_t)cJSON_GetArraySize(where);
    g->where = calloc(n, sizeof *g->where);
    if (!g->where)
        return bench_err_set(e, "%s: out of memory", file);
    for (const cJSON *it = where->child; it; it = it->next) {
        char ppath[256];
        int idx = param_of_field(w, path, it, ppath, sizeof ppath, file, e);
        if (idx < 0)
            return -1;
        for (const cJSON *other = it->next; other; other = other->next)
            if (strcmp(other->string, it->string) == 0)
                return fail_at(e, file, ppath, "duplicate field", NULL);
        bench_gate_where *wh = &g->where[g->n_where++];
        wh->param = idx;
        bool list = cJSON_IsArray(it);
        size_t nv = list ? (size_t)cJSON_GetArraySize(it) : 1;
        if (nv == 0)
            return fail_at(e, file, ppath, "must not be empty", it);
        wh->values = calloc(nv, sizeof *wh->values);
        if (!wh->values)
            return bench_err_set(e, "%s: out of memory", file);
        size_t j = 0;
        for (const cJSON *v = list ? it->child : it; v && j < nv; v = v->next, j++) {
            char vpath[300];
            if (list)
                snprintf(vpath, sizeof vpath, "%s[%zu]", ppath, j);
            else
                snprintf(vpath, sizeof vpath, "%s", ppath);
            if (json_to_value(&w->params[idx], v, &wh->values[j], file, vpath, e) != 0)
                return -1;
            wh->n_values = j + 1;
            for (size_t k = 0; k < j; k++)
                if (bench_value_equal(&wh->values[k], &wh->values[j]))
                    return fail_at(e, file, vpath, "duplicate value", v);
        }
    }
    return 0;
}

/*
 * The name a gate gets when the file gives none: its rule and where, e.g.
 * "recall_at_k above 0.95 where kind=ivf|hnsw".
 */
static char *default_gate_name(const bench_scenario *s, const bench_gate *g)
{
    /* The effective scenario writes the name out, so it must read back in. */
    char buf[BENCH_GATE_NAME_MAX + 1];
    int len = 0;
    switch (g->kind) {
    case BENCH_GATE_BELOW:
        len = snprintf(buf, sizeof buf, "%s below %.15g", g->metric, g->pass);
        break;
    case BENCH_GATE_ABOVE:
        len = snprintf(buf, sizeof buf, "%s above %.15g", g->metric, g->pass);
        break;
    case BENCH_GATE_REGRESSION:
        len = snprintf(buf, sizeof buf, "%s max_regression %.15g", g->metric, g->max_regression);
        break;
    }
    for (size_t i = 0; i < g->n_where && len > 0 && (size_t)len < sizeof buf; i++) {
        const bench_gate_where *wh = &g->where[i];
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%s=", i ? "," : " where ",
                        s->workload->params[wh->param].name);
        for (size_t j = 0; j < wh->n_values && (size_t)len < sizeof buf; j++) {
            if (j)
                len += snprintf(buf + len, sizeof buf - (size_t)len, "|");
            if ((size_t)len < sizeof buf)
                len += bench_value_format(&wh->values[j], buf + len, sizeof buf - (size_t)len);
        }
    }
    return bench_strdup(buf);
}

static int parse_gate(bench_scenario *s, bench_gate *g, const cJSON *item, const char *file,
                      const char *path, bench_err *e)
{
    static const char *const fields[] = {"name",           "metric", "below", "above",
                                         "max_regression", "where",  "note",  NULL};
    g->conditional = NAN;
    g->max_regression = NAN;
    g->pass = NAN;
    if (!cJSON_IsObject(item))
        return fail_at(e, file, path, "must be an object", item);
    if (check_fields(item, fields, file, path, e) != 0)
        return -1;
    char where[160];
    const cJSON *metric = cJSON_GetObjectItemCaseSensitive(item, "metric");
    snprintf(where, sizeof where, "%s.metric", path);
    if (!metric)
        return fail_at(e, file, where, "missing required field", NULL);
    if (check_gate_metric(s, metric, file, where, e) != 0)
        return -1;
    g->metric = bench_strdup(metric->valuestring);
    if (!g->metric)
        return bench_err_set(e, "%s: out of memory", file);

    const cJSON *below = cJSON_GetObjectItemCaseSensitive(item, "below");
    const cJSON *above = cJSON_GetObjectItemCaseSensitive(item, "above");
    const cJSON *reg = cJSON_GetObjectItemCaseSensitive(item, "max_regression");
    if ((below != NULL) + (above != NULL) + (reg != NULL) != 1)
        return fail_at(e, file, path, "needs exactly one of below, above, max_regression", NULL);
    if (below || above) {
        g->kind = below ? BENCH_GATE_BELOW : BENCH_GATE_ABOVE;
        snprintf(where, sizeof where, "%s.%s", path, below ? "below" : "above");
        if (parse_band(g, below ? below : above, below != NULL, file, where, e) != 0)
            return -1;
    } else {
        g->kind = BENCH_GATE_REGRESSION;
        snprintf(where, sizeof where, "%s.max_regression", path);
        if (!cJSON_IsNumber(reg))
            return fail_at(e, file, where, "must be a number", reg);
        /* 0 would fail on any real change; past 10 (11x worse) is no gate at all. */
        if (!(reg->valuedouble > 0 && reg->valuedouble <= 10))
            return fail_at(e, file, where, "must be in (0, 10] (0.05 = 5% worse)", reg);
        g->max_regression = reg->valuedouble;
    }
    const cJSON *wh = cJSON_GetObjectItemCaseSensitive(item, "where");
    if (wh) {
        snprintf(where, sizeof where, "%s.where", path);
        if (parse_where(s, g, wh, file, where, e) != 0)
            return -1;
    }
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(item, "note");
    snprintf(where, sizeof where, "%s.note", path);
    if (note && !cJSON_IsString(note))
        return fail_at(e, file, where, "must be a string", note);
    g->note = bench_strdup(note ? note->valuestring : "");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
    snprintf(where, sizeof where, "%s.name", path);
    if (name && !(cJSON_IsString(name) && name->valuestring[0] &&
                  strlen(name->valuestring) <= BENCH_GATE_NAME_MAX))
        return fail_at(e, file, where, "must be a string of 1-200 characters", name);
    g->name = name ? bench_strdup(name->valuestring) : default_gate_name(s, g);
    if (!g->note || !g->name)
        return bench_err_set(e, "%s: out of memory", file);
    /* Names tell outcomes (and JUnit test cases) apart, so they must be unique. */
    for (size_t i = 0; i < s->n_gates; i++)
        if (strcmp(s->gates[i].name, g->name) == 0) {
            char what[128];
            if (name) {
                snprintf(what, sizeof what, "duplicate gate name (also $.gates[%zu])", i);
                return fail_at(e, file, where, what, name);
            }
            snprintf(what, sizeof what, "same rule as $.gates[%zu]; give one of them a \"name\"",
                     i);
            return fail_at(e, file, path, what, NULL);
        }
    return 0;
}

static void gate_clear(bench_gate *g)
{
    for (size_t i = 0; i < g->n_where; i++) {
        for (size_t j = 0; j < g->where[i].n_values; j++)
            bench_value_clear(&g->where[i].values[j]);
        free(g->where[i].values);
    }
    free(g->where);
    free(g->name);
    free(g->metric);
    free(g->note);
    memset(g, 0, sizeof *g);
}

static int parse_gates(bench_scenario *s, const cJSON *gates, const char *file, bench_err *e)
{
    if (!cJSON_IsArray(gates))
        return fail_at(e, file, "$.gates", "must be a list of gates", gates);
    size_t n = (size_t)cJSON_GetArraySize(gates);
    s->gates = n ? calloc(n, sizeof *s->gates) : NULL;
    if (n && !s->gates)
        return bench_err_set(e, "%s: out of memory", file);
    size_t i = 0;
    for (const cJSON *it = gates->child; it; it = it->next, i++) {
        char path[64];
        snprintf(path, sizeof path, "$.gates[%zu]", i);
        /* Counted before parsing, so a half-parsed gate is freed with the scenario. */
        bench_gate *g = &s->gates[s->n_gates];
        int r = parse_gate(s, g, it, file, path, e);
        s->n_gates++;
        if (r != 0)
            return -1;
    }
    return 0;
}

/* Line and column (1-based) of offset pos in text. */
static void line_col(const char *text, size_t pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/*
 * Where cJSON stopped. cJSON 1.7 reports a failed object key (a trailing
 * comma, an unquoted key) one character past the offending one; that
 * character is the first non-blank after '{' or ',', so step back onto it.
 */
static const char *json_error_at(const char *text, const char *at)
{
    if (at <= text || at[-1] == '"' || at[-1] == ' ' || at[-1] == '\t' || at[-1] == '\n' ||
        at[-1] == '\r')
        return at;
    const char *q = at - 1;
    const char *before = q;
    while (before > text && strchr(" \t\r\n", before[-1]))
        before--;
    if (before > text && (before[-1] == '{' || before[-1] == ','))
        return q;
    return at;
}

static int json_syntax_error(const char *path, const char *text, bench_err *e)
{
    const char *at = cJSON_GetErrorPtr();
    if (!at || at < text || at > text + strlen(text))
        at = text;
    at = json_error_at(text, at);
    int line, col;
    line_col(text, (size_t)(at - text), &line, &col);
    /* Show the rest of that line only, so the message stays on one line. */
    int shown = (int)strcspn(at, "\r\n");
    if (shown > 20)
        shown = 20;
    if (shown == 0)
        return bench_err_set(e,
                             "%s: $: invalid JSON at line %d, column %d (at the end of the line)",
                             path, line, col);
    return bench_err_set(e, "%s: $: invalid JSON at line %d, column %d (near \"%.*s\")", path, line,
                         col, shown, at);
}

static int fill_defaults(bench_scenario *s, bench_err *e)
{
    const bench_workload *w = s->workload;
    s->fixed = w->n_params ? calloc(w->n_params, sizeof *s->fixed) : NULL;
    if (w->n_params && !s->fixed)
        return bench_err_set(e, "%s: out of memory", s->path);
    for (size_t i = 0; i < w->n_params; i++) {
        s->fixed[i].type = w->params[i].type;
        if (!w->params[i].def)
            continue;
        bench_err why;
        if (bench_value_parse(&w->params[i], w->params[i].def, &s->fixed[i], &why) != 0)
            return bench_err_set(e, "internal error: default of %s.%s: %s", w->name,
                                 w->params[i].name, why.msg);
    }
    return 0;
}

/* A parameter without a default must be given in "params" or swept. */
static int check_required(const bench_scenario *s, const cJSON *params, bench_err *e)
{
    const bench_workload *w = s->workload;
    for (size_t i = 0; i < w->n_params; i++) {
        if (w->params[i].def || bench_scenario_axis(s, (int)i))
            continue;
        if (params && cJSON_GetObjectItemCaseSensitive(params, w->params[i].name))
            continue;
        return bench_err_set(e, "%s: $.params: missing required parameter '%s' (%s)", s->path,
                             w->params[i].name, w->params[i].description);
    }
    return 0;
}

int bench_scenario_parse(const char *path, const char *text, bench_scenario **out, bench_err *e)
{
    static const char *const top_fields[] = {"schema", "name",  "description", "workload",
                                             "params", "sweep", "measure",     "counters",
                                             "gates",  NULL};
    *out = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, NULL, 1);
    if (!root)
        return json_syntax_error(path, text, e);
    bench_scenario *s = calloc(1, sizeof *s);
    if (!s) {
        cJSON_Delete(root);
        return bench_err_set(e, "%s: out of memory", path);
    }
    s->path = bench_strdup(path);
    s->policy = bench_policy_default();
    if (!s->path) {
        bench_err_set(e, "%s: out of memory", path);
        goto fail;
    }
    if (!cJSON_IsObject(root)) {
        fail_at(e, path, "$", "must be a JSON object", root);
        goto fail;
    }
    if (check_fields(root, top_fields, path, "$", e) != 0)
        goto fail;

    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    if (schema &&
        !(cJSON_IsString(schema) && strcmp(schema->valuestring, BENCH_SCENARIO_SCHEMA) == 0)) {
        fail_at(e, path, "$.schema", "must be \"" BENCH_SCENARIO_SCHEMA "\"", schema);
        goto fail;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!name) {
        fail_at(e, path, "$.name", "missing required field", NULL);
        goto fail;
    }
    if (!cJSON_IsString(name) || !name_is_valid(name->valuestring)) {
        fail_at(e, path, "$.name", "must be 1-64 characters of [A-Za-z0-9_.-]", name);
        goto fail;
    }
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (desc && !cJSON_IsString(desc)) {
        fail_at(e, path, "$.description", "must be a string", desc);
        goto fail;
    }
    const cJSON *wl = cJSON_GetObjectItemCaseSensitive(root, "workload");
    if (!wl) {
        fail_at(e, path, "$.workload", "missing required field", NULL);
        goto fail;
    }
    if (!cJSON_IsString(wl)) {
        fail_at(e, path, "$.workload", "must be a string", wl);
        goto fail;
    }
    s->workload = bench_workload_find(wl->valuestring);
    if (!s->workload) {
        char what[256] = "unknown workload; known:";
        for (size_t i = 0; bench_workloads[i]; i++) {
            strncat(what, " ", sizeof what - strlen(what) - 1);
            strncat(what, bench_workloads[i]->name, sizeof what - strlen(what) - 1);
        }
        fail_at(e, path, "$.workload", what, wl);
        goto fail;
    }
    s->name = bench_strdup(name->valuestring);
    s->description = bench_strdup(desc ? desc->valuestring : "");
    if (!s->name || !s->description) {
        bench_err_set(e, "%s: out of memory", path);
        goto fail;
    }
    if (fill_defaults(s, e) != 0)
        goto fail;

    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
    const cJSON *sweep = cJSON_GetObjectItemCaseSensitive(root, "sweep");
    const cJSON *measure = cJSON_GetObjectItemCaseSensitive(root, "measure");
    const cJSON *counters = cJSON_GetObjectItemCaseSensitive(root, "counters");
    if (params && parse_params(s, params, path, e) != 0)
        goto fail;
    if (sweep && parse_sweep(s, sweep, params, path, e) != 0)
        goto fail;
    if (measure && parse_measure(s, measure, path, e) != 0)
        goto fail;
    if (counters && parse_counters(s, counters, path, e) != 0)
        goto fail;
    const cJSON *gates = cJSON_GetObjectItemCaseSensitive(root, "gates");
    if (gates && parse_gates(s, gates, path, e) != 0)
        goto fail;
    if (check_required(s, params, e) != 0)
        goto fail;
    cJSON_Delete(root);
    *out = s;
    return 0;

fail:
    cJSON_Delete(root);
    bench_scenario_free(s);
    return -1;
}

int bench_scenario_load(const char *path, bench_scenario **out, bench_err *e)
{
    *out = NULL;
    char *text = bench_read_file(path, NULL, e);
    if (!text)
        return -1;
    int r = bench_scenario_parse(path, text, out, e);
    free(text);
    return r;
}

/* Splits "a,b,c" into values of spec's type for a sweep set from the command line. */
static int parse_list(const bench_param_spec *spec, const char *text, bench_axis *axis,
                      const char *assignment, bench_err *e)
{
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    axis->values = calloc(n, sizeof *axis->values);
    char *copy = bench_strdup(text);
    if (!axis->values || !copy) {
        free(copy);
        return bench_err_set(e, "--set %s: out of memory", assignment);
    }
    char *tok = copy;
    for (size_t i = 0; i < n; i++) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = '\0';
        bench_err why;
        if (bench_value_parse(spec, tok, &axis->values[i], &why) != 0) {
            bench_err_set(e, "--set %s: value %zu: %s", assignment, i + 1, why.msg);
            free(copy);
            return -1;
        }
        axis->n_values = i + 1;
        for (size_t k = 0; k < i; k++) {
            if (bench_value_equal(&axis->values[k], &axis->values[i])) {
                bench_err_set(e, "--set %s: duplicate sweep value \"%s\"", assignment, tok);
                free(copy);
                return -1;
            }
        }
        tok = comma ? comma + 1 : tok + strlen(tok);
    }
    free(copy);
    return 0;
}

int bench_scenario_apply_set(bench_scenario *s, const char *assignment, bench_err *e)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return bench_err_set(e, "--set %s: expected KEY=VALUE", assignment);
    char key[128];
    size_t klen = (size_t)(eq - assignment);
    if (klen >= sizeof key)
        return bench_err_set(e, "--set %s: key too long", assignment);
    memcpy(key, assignment, klen);
    key[klen] = '\0';
    const char *text = eq + 1;

    if (strncmp(key, "measure.", 8) == 0) {
        const struct policy_field *f = policy_field_find(key + 8);
        if (!f)
            return bench_err_set(e, "--set %s: unknown measurement field '%s'", assignment,
                                 key + 8);
        char *end;
        double v = strtod(text, &end);
        if (end == text || *end || !isfinite(v) || (f->is_int && v != floor(v)))
            return bench_err_set(e, "--set %s: must be %s (got \"%s\")", assignment,
                                 f->is_int ? "an integer" : "a number", text);
        if (v < f->min || v > f->max)
            return bench_err_set(e, "--set %s: must be in [%g, %g] (got %s)", assignment, f->min,
                                 f->max, text);
        bench_policy p = s->policy;
        set_policy_field(&p, f, v);
        bench_err why;
        if (check_policy(&p, "--set", &why) != 0)
            return bench_err_set(e, "--set %s: %s", assignment, strchr(why.msg, '$'));
        s->policy = p;
        return 0;
    }

    int idx = bench_workload_param_index(s->workload, key);
    if (idx < 0)
        return bench_err_set(e, "--set %s: unknown parameter '%s' of workload '%s'", assignment,
                             key, s->workload->name);
    const bench_param_spec *spec = &s->workload->params[idx];
    if (*text == '\0')
        return bench_err_set(e, "--set %s: empty value", assignment);
    if (strchr(text, ',')) {
        bench_axis axis = {.param = idx};
        if (parse_list(spec, text, &axis, assignment, e) != 0) {
            axis_clear(&axis);
            return -1;
        }
        bench_axis *existing = (bench_axis *)bench_scenario_axis(s, idx);
        if (existing) {
            axis_clear(existing);
            *existing = axis;
            return 0;
        }
        bench_axis *grown = realloc(s->axes, (s->n_axes + 1) * sizeof *s->axes);
        if (!grown) {
            axis_clear(&axis);
            return bench_err_set(e, "--set %s: out of memory", assignment);
        }
        s->axes = grown;
        s->axes[s->n_axes++] = axis;
        return 0;
    }
    bench_value v;
    bench_err why;
    if (bench_value_parse(spec, text, &v, &why) != 0)
        return bench_err_set(e, "--set %s: %s", assignment, why.msg);
    remove_axis(s, idx);
    set_fixed(s, idx, &v);
    return 0;
}

static cJSON *gate_to_json(const bench_scenario *s, const bench_gate *g)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "name", g->name) ||
        !cJSON_AddStringToObject(o, "metric", g->metric))
        goto oom;
    if (g->kind == BENCH_GATE_REGRESSION) {
        if (!cJSON_AddNumberToObject(o, "max_regression", g->max_regression))
            goto oom;
    } else {
        cJSON *band = cJSON_AddObjectToObject(o, g->kind == BENCH_GATE_BELOW ? "below" : "above");
        if (!band || !cJSON_AddNumberToObject(band, "pass", g->pass))
            goto oom;
        if (!isnan(g->conditional) && !cJSON_AddNumberToObject(band, "conditional", g->conditional))
            goto oom;
    }
    if (g->n_where) {
        cJSON *where = cJSON_AddObjectToObject(o, "where");
        if (!where)
            goto oom;
        for (size_t i = 0; i < g->n_where; i++) {
            const bench_gate_where *wh = &g->where[i];
            cJSON *v;
            if (wh->n_values == 1) {
                v = bench_value_to_json(&wh->values[0]);
            } else {
                v = cJSON_CreateArray();
                for (size_t j = 0; v && j < wh->n_values; j++) {
                    cJSON *x = bench_value_to_json(&wh->values[j]);
                    if (!x) {
                        cJSON_Delete(v);
                        v = NULL;
                    } else {
                        cJSON_AddItemToArray(v, x);
                    }
                }
            }
            if (!v)
                goto oom;
            cJSON_AddItemToObject(where, s->workload->params[wh->param].name, v);
        }
    }
    if (g->note[0] && !cJSON_AddStringToObject(o, "note", g->note))
        goto oom;
    return o;
oom:
    cJSON_Delete(o);
    return NULL;
}

cJSON *bench_scenario_to_json(const bench_scenario *s)
{
    const bench_workload *w = s->workload;
    cJSON *root = cJSON_CreateObject();
    cJSON *params = cJSON_AddObjectToObject(root, "params");
    cJSON *sweep = cJSON_AddObjectToObject(root, "sweep");
    cJSON *measure = cJSON_AddObjectToObject(root, "measure");
    if (!params || !sweep || !measure)
        goto oom;
    cJSON_AddStringToObject(root, "schema", BENCH_SCENARIO_SCHEMA);
    cJSON_AddStringToObject(root, "name", s->name);
    cJSON_AddStringToObject(root, "description", s->description);
    cJSON_AddStringToObject(root, "workload", w->name);
    for (size_t i = 0; i < w->n_params; i++) {
        if (bench_scenario_axis(s, (int)i))
            continue;
        cJSON *v = bench_value_to_json(&s->fixed[i]);
        if (!v)
            goto oom;
        cJSON_AddItemToObject(params, w->params[i].name, v);
    }
    for (size_t a = 0; a < s->n_axes; a++) {
        cJSON *list = cJSON_AddArrayToObject(sweep, w->params[s->axes[a].param].name);
        if (!list)
            goto oom;
        for (size_t j = 0; j < s->axes[a].n_values; j++) {
            cJSON *v = bench_value_to_json(&s->axes[a].values[j]);
            if (!v)
                goto oom;
            cJSON_AddItemToArray(list, v);
        }
    }
    for (size_t i = 0; i < N_POLICY_FIELDS; i++) {
        const struct policy_field *f = &policy_fields[i];
        const char *base = (const char *)&s->policy;
        double v = f->is_int ? (double)*(const int64_t *)(base + f->offset)
                             : *(const double *)(base + f->offset);
        if (!cJSON_AddNumberToObject(measure, f->name, v))
            goto oom;
    }
    if (s->counters) {
        cJSON *list = cJSON_AddArrayToObject(root, "counters");
        if (!list)
            goto oom;
        for (size_t i = 0; i < s->n_counters; i++)
            cJSON_AddItemToArray(list, cJSON_CreateString(s->counters[i]));
    }
    /* Only when there are gates, so the effective scenario (and its hash) of a
     * scenario without gates is what it was before gates existed. */
    if (s->n_gates) {
        cJSON *list = cJSON_AddArrayToObject(root, "gates");
        if (!list)
            goto oom;
        for (size_t i = 0; i < s->n_gates; i++) {
            cJSON *g = gate_to_json(s, &s->gates[i]);
            if (!g)
                goto oom;
            cJSON_AddItemToArray(list, g);
        }
    }
    return root;
oom:
    cJSON_Delete(root);
    return NULL;
}

void bench_scenario_free(bench_scenario *s)
{
    if (!s)
        return;
    if (s->fixed)
        for (size_t i = 0; i < s->workload->n_params; i++)
            bench_value_clear(&s->fixed[i]);
    free(s->fixed);
    for (size_t i = 0; i < s->n_axes; i++)
        axis_clear(&s->axes[i]);
    free(s->axes);
    for (size_t i = 0; i < s->n_counters; i++)
        free(s->counters[i]);
    free(s->counters);
    for (size_t i = 0; i < s->n_gates; i++)
        gate_clear(&s->gates[i]);
    free(s->gates);
    free(s->path);
    free(s->name);
    free(s->description);
    free(s);
}
