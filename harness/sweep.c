/*
 * sweep.c - grid expansion (odometer over the sweep axes) and --filter.
 */
#include "sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void point_clear(const bench_workload *w, bench_point *p)
{
    if (p->values)
        for (size_t i = 0; i < w->n_params; i++)
            bench_value_clear(&p->values[i]);
    free(p->values);
    free(p->id);
    p->values = NULL;
    p->id = NULL;
}

void bench_grid_free(bench_grid *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_points; i++)
        point_clear(g->workload, &g->points[i]);
    free(g->points);
    free(g);
}

bench_params bench_grid_params(const bench_grid *g, size_t i)
{
    return (bench_params){
        .specs = g->workload->params,
        .values = g->points[i].values,
        .n = g->workload->n_params,
    };
}

/* Builds point `index` whose axis positions are digits[]. */
static int make_point(const bench_scenario *s, size_t index, const size_t *digits, bench_point *p)
{
    const bench_workload *w = s->workload;
    p->index = index;
    p->values = w->n_params ? calloc(w->n_params, sizeof *p->values) : NULL;
    if (w->n_params && !p->values)
        return -1;
    for (size_t i = 0; i < w->n_params; i++) {
        const bench_axis *axis = bench_scenario_axis(s, (int)i);
        size_t a = axis ? (size_t)(axis - s->axes) : 0;
        const bench_value *src = axis ? &axis->values[digits[a]] : &s->fixed[i];
        if (bench_value_copy(&p->values[i], src) != 0)
            return -1;
    }
    char id[1024];
    size_t used = 0;
    if (s->n_axes == 0)
        used = (size_t)snprintf(id, sizeof id, "default");
    for (size_t a = 0; a < s->n_axes && used < sizeof id; a++) {
        char val[256];
        bench_value_format(&s->axes[a].values[digits[a]], val, sizeof val);
        used += (size_t)snprintf(id + used, sizeof id - used, "%s%s=%s", a ? "," : "",
                                 w->params[s->axes[a].param].name, val);
    }
    p->id = bench_strdup(id);
    return p->id ? 0 : -1;
}

int bench_sweep_expand(const bench_scenario *s, bench_grid **out, bench_err *e)
{
    *out = NULL;
    size_t total = 1;
    for (size_t a = 0; a < s->n_axes; a++) {
        total *= s->axes[a].n_values;
        if (total > BENCH_SWEEP_MAX_POINTS)
            return bench_err_set(e, "%s: $.sweep: expands to more than %d points", s->path,
                                 BENCH_SWEEP_MAX_POINTS);
    }
    bench_grid *g = calloc(1, sizeof *g);
    size_t *digits = calloc(s->n_axes + 1, sizeof *digits);
    if (!g || !digits)
        goto oom;
    g->workload = s->workload;
    g->points = calloc(total, sizeof *g->points);
    if (!g->points)
        goto oom;
    for (size_t idx = 0; idx < total; idx++) {
        g->n_points = idx + 1;
        if (make_point(s, idx, digits, &g->points[idx]) != 0)
            goto oom;
        /* Odometer: the last axis turns fastest. */
        for (size_t a = s->n_axes; a-- > 0;) {
            if (++digits[a] < s->axes[a].n_values)
                break;
            digits[a] = 0;
        }
    }
    g->n_total = total;
    free(digits);
    *out = g;
    return 0;
oom:
    free(digits);
    bench_grid_free(g);
    return bench_err_set(e, "%s: out of memory expanding the sweep", s->path);
}

typedef struct filter {
    char key[128];
    int param; /* >= 0: a parameter; -1: id; -2: index */
    bench_value value;
    const char *text;
} filter;

static bool filter_matches(const bench_point *p, const filter *f)
{
    if (f->param == -1)
        return strcmp(p->id, f->text) == 0;
    if (f->param == -2)
        return (int64_t)p->index == f->value.i;
    return bench_value_equal(&p->values[f->param], &f->value);
}

static int parse_filter(const bench_workload *w, const char *text, filter *f, bench_err *e)
{
    const char *eq = strchr(text, '=');
    size_t klen = eq ? (size_t)(eq - text) : 0;
    if (!eq || klen == 0)
        return bench_err_set(e, "--filter %s: expected KEY=VALUE", text);
    if (klen >= sizeof f->key)
        return bench_err_set(e, "--filter %.40s...: key too long", text);
    memcpy(f->key, text, klen);
    f->key[klen] = '\0';
    f->text = eq + 1;
    memset(&f->value, 0, sizeof f->value);
    if (strcmp(f->key, "id") == 0) {
        f->param = -1;
        return 0;
    }
    if (strcmp(f->key, "index") == 0) {
        static const bench_param_spec index_spec = {
            "index", BENCH_PARAM_INT, NULL, 0, 1e9, NULL, "", ""};
        f->param = -2;
        bench_err why;
        if (bench_value_parse(&index_spec, f->text, &f->value, &why) != 0)
            return bench_err_set(e, "--filter %s: %s", text, why.msg);
        return 0;
    }
    f->param = bench_workload_param_index(w, f->key);
    if (f->param < 0)
        return bench_err_set(e, "--filter %s: unknown key '%s' (a parameter of '%s', id or index)",
                             text, f->key, w->name);
    bench_err why;
    if (bench_value_parse(&w->params[f->param], f->text, &f->value, &why) != 0)
        return bench_err_set(e, "--filter %s: %s", text, why.msg);
    return 0;
}

int bench_sweep_filter(bench_grid *g, const char *const *filters, size_t n, bench_err *e)
{
    if (n == 0)
        return 0;
    filter *fs = calloc(n, sizeof *fs);
    if (!fs)
        return bench_err_set(e, "--filter: out of memory");
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (parse_filter(g->workload, filters[i], &fs[i], e) != 0) {
            rc = -1;
            n = i + 1;
            goto done;
        }
    }
    size_t kept = 0;
    for (size_t p = 0; p < g->n_points; p++) {
        bool keep = true;
        /* Filters on one key are alternatives; different keys must all match. */
        for (size_t i = 0; i < n && keep; i++) {
            bool seen_before = false;
            for (size_t j = 0; j < i; j++)
                seen_before |= strcmp(fs[j].key, fs[i].key) == 0;
            if (seen_before)
                continue;
            bool any = false;
            for (size_t j = i; j < n && !any; j++)
                if (strcmp(fs[j].key, fs[i].key) == 0)
                    any = filter_matches(&g->points[p], &fs[j]);
            keep = any;
        }
        if (keep)
            g->points[kept++] = g->points[p];
        else
            point_clear(g->workload, &g->points[p]);
    }
    g->n_points = kept;
    if (kept == 0) {
        char all[512] = "";
        for (size_t i = 0; i < n; i++) {
            strncat(all, " --filter ", sizeof all - strlen(all) - 1);
            strncat(all, filters[i], sizeof all - strlen(all) - 1);
        }
        rc = bench_err_set(e, "no point of the sweep matches%s", all);
    }
done:
    for (size_t i = 0; i < n; i++)
        bench_value_clear(&fs[i].value);
    free(fs);
    return rc;
}
