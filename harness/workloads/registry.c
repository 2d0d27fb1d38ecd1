/*
 * registry.c - the table of built-in workloads and the typed parameter values
 * they take (parsing, range checks, formatting, JSON).
 */
#include "workload.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const bench_workload bench_workload_sgemm;
extern const bench_workload bench_workload_stream;
extern const bench_workload bench_workload_noop;
extern const bench_workload bench_workload_embed;
extern const bench_workload bench_workload_nli;
extern const bench_workload bench_workload_search;
extern const bench_workload bench_workload_ingest;
extern const bench_workload bench_workload_query;
extern const bench_workload bench_workload_sql;

/* clang-format off: one workload a line */
const bench_workload *const bench_workloads[] = {
    &bench_workload_sgemm,
    &bench_workload_stream,
    &bench_workload_noop,
    &bench_workload_embed,
    &bench_workload_nli,
    &bench_workload_search,
    &bench_workload_ingest,
    &bench_workload_query,
    &bench_workload_sql,
    NULL,
};
/* clang-format on */

const bench_workload *bench_workload_find(const char *name)
{
    for (size_t i = 0; bench_workloads[i]; i++)
        if (strcmp(bench_workloads[i]->name, name) == 0)
            return bench_workloads[i];
    return NULL;
}

int bench_workload_param_index(const bench_workload *w, const char *name)
{
    for (size_t i = 0; i < w->n_params; i++)
        if (strcmp(w->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

static const bench_value *param_value(const bench_params *p, const char *name,
                                      bench_param_type type)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->specs[i].name, name) == 0 && p->values[i].type == type)
            return &p->values[i];
    /* Workloads ask only for their own declared parameters. */
    fprintf(stderr, "lore-bench: internal error: workload asked for undeclared parameter '%s'\n",
            name);
    abort();
}

int64_t bench_params_int(const bench_params *p, const char *name)
{
    return param_value(p, name, BENCH_PARAM_INT)->i;
}

double bench_params_float(const bench_params *p, const char *name)
{
    return param_value(p, name, BENCH_PARAM_FLOAT)->f;
}

bool bench_params_bool(const bench_params *p, const char *name)
{
    return param_value(p, name, BENCH_PARAM_BOOL)->b;
}

const char *bench_params_string(const bench_params *p, const char *name)
{
    return param_value(p, name, BENCH_PARAM_STRING)->s;
}

int bench_metric_add(cJSON *metrics, const char *name, double value, const char *unit,
                     bench_better better)
{
    static const char *const better_names[] = {"higher", "lower", "none"};
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddNumberToObject(m, "value", value) ||
        !cJSON_AddStringToObject(m, "unit", unit) ||
        !cJSON_AddStringToObject(m, "better", better_names[better])) {
        cJSON_Delete(m);
        return -1;
    }
    cJSON_AddItemToObject(metrics, name, m);
    return 0;
}

static const char *type_name(bench_param_type t)
{
    switch (t) {
    case BENCH_PARAM_INT:
        return "an integer";
    case BENCH_PARAM_FLOAT:
        return "a number";
    case BENCH_PARAM_STRING:
        return "a string";
    case BENCH_PARAM_BOOL:
        return "true or false";
    }
    return "?";
}

int bench_value_check(const bench_param_spec *spec, const bench_value *v, bench_err *e)
{
    if (v->type != spec->type)
        return bench_err_set(e, "must be %s", type_name(spec->type));
    switch (v->type) {
    case BENCH_PARAM_INT:
        if ((double)v->i < spec->min || (double)v->i > spec->max)
            return bench_err_set(e, "must be in [%.15g, %.15g] (got %lld)", spec->min, spec->max,
                                 (long long)v->i);
        break;
    case BENCH_PARAM_FLOAT:
        if (!isfinite(v->f) || v->f < spec->min || v->f > spec->max)
            return bench_err_set(e, "must be in [%.15g, %.15g] (got %.15g)", spec->min, spec->max,
                                 v->f);
        break;
    case BENCH_PARAM_STRING:
        if (spec->choices) {
            for (size_t i = 0; spec->choices[i]; i++)
                if (strcmp(spec->choices[i], v->s) == 0)
                    return 0;
            char list[256] = "";
            size_t used = 0;
            for (size_t i = 0; spec->choices[i] && used < sizeof list; i++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                         spec->choices[i]);
            return bench_err_set(e, "must be one of %s (got \"%s\")", list, v->s);
        }
        break;
    case BENCH_PARAM_BOOL:
        break;
    }
    return 0;
}

int bench_value_parse(const bench_param_spec *spec, const char *text, bench_value *out,
                      bench_err *e)
{
    memset(out, 0, sizeof *out);
    out->type = spec->type;
    char *end = NULL;
    errno = 0;
    /* strtoll/strtod skip leading blanks but not trailing ones: accept neither. */
    if ((spec->type == BENCH_PARAM_INT || spec->type == BENCH_PARAM_FLOAT) &&
        (text[0] == ' ' || text[0] == '\t'))
        return bench_err_set(e, "must be %s (got \"%s\")", type_name(spec->type), text);
    switch (spec->type) {
    case BENCH_PARAM_INT: {
        long long x = strtoll(text, &end, 10);
        if (end == text || *end != '\0' || errno == ERANGE)
            return bench_err_set(e, "must be an integer (got \"%s\")", text);
        out->i = x;
        break;
    }
    case BENCH_PARAM_FLOAT: {
        double x = strtod(text, &end);
        if (end == text || *end != '\0' || errno == ERANGE || !isfinite(x))
            return bench_err_set(e, "must be a number (got \"%s\")", text);
        out->f = x;
        break;
    }
    case BENCH_PARAM_BOOL:
        if (strcmp(text, "true") == 0)
            out->b = true;
        else if (strcmp(text, "false") == 0)
            out->b = false;
        else
            return bench_err_set(e, "must be true or false (got \"%s\")", text);
        break;
    case BENCH_PARAM_STRING:
        out->s = bench_strdup(text);
        if (!out->s)
            return bench_err_set(e, "out of memory");
        break;
    }
    if (bench_value_check(spec, out, e) != 0) {
        bench_value_clear(out);
        return -1;
    }
    return 0;
}

int bench_value_format(const bench_value *v, char *buf, size_t size)
{
    switch (v->type) {
    case BENCH_PARAM_INT:
        return snprintf(buf, size, "%lld", (long long)v->i);
    case BENCH_PARAM_FLOAT:
        /* The shortest form that reads back exactly: ids say 0.3, not 0.29999999999999999. */
        for (int digits = 1; digits < 17; digits++) {
            char tmp[40];
            snprintf(tmp, sizeof tmp, "%.*g", digits, v->f);
            if (strtod(tmp, NULL) == v->f)
                return snprintf(buf, size, "%s", tmp);
        }
        return snprintf(buf, size, "%.17g", v->f);
    case BENCH_PARAM_BOOL:
        return snprintf(buf, size, "%s", v->b ? "true" : "false");
    case BENCH_PARAM_STRING:
        return snprintf(buf, size, "%s", v->s ? v->s : "");
    }
    return 0;
}

bool bench_value_equal(const bench_value *a, const bench_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case BENCH_PARAM_INT:
        return a->i == b->i;
    case BENCH_PARAM_FLOAT:
        return a->f == b->f;
    case BENCH_PARAM_BOOL:
        return a->b == b->b;
    case BENCH_PARAM_STRING:
        return strcmp(a->s, b->s) == 0;
    }
    return false;
}

int bench_value_copy(bench_value *dst, const bench_value *src)
{
    *dst = *src;
    if (src->type == BENCH_PARAM_STRING) {
        dst->s = bench_strdup(src->s);
        if (!dst->s)
            return -1;
    }
    return 0;
}

void bench_value_clear(bench_value *v)
{
    if (v->type == BENCH_PARAM_STRING)
        free(v->s);
    v->s = NULL;
}

cJSON *bench_value_to_json(const bench_value *v)
{
    switch (v->type) {
    case BENCH_PARAM_INT:
        return cJSON_CreateNumber((double)v->i);
    case BENCH_PARAM_FLOAT:
        return cJSON_CreateNumber(v->f);
    case BENCH_PARAM_BOOL:
        return cJSON_CreateBool(v->b);
    case BENCH_PARAM_STRING:
        return cJSON_CreateString(v->s);
    }
    return NULL;
}
