/*
 * test_gates.c - the scenario "gates" field, gate evaluation, the verdict
 * outputs, and the noise file.
 *
 * Parsing: a good file is checked gate by gate against the values it spells
 * out and round-trips through bench_scenario_to_json; every bad form is a row
 * of a table and must give its exact message ("FILE: $.gates[i].path: what
 * (got X)"). Evaluation runs on result documents built here point by point,
 * so every band edge is placed on purpose: values just inside and exactly on
 * each edge (below is strict, above is inclusive). Relative gates get
 * synthetic comparisons from a fake source that also records the minimum
 * effect it was asked for (the gate's max_regression). Exit codes are checked
 * on reports with known counts, with and without --strict.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gates.h"
#include "noise.h"
#include "scenario.h"
#include "test_util.h"

#define MIB (1024.0 * 1024.0)

/* ---- helpers ------------------------------------------------------------------------- */

static void assert_has(const char *msg, const char *needle)
{
    if (!strstr(msg, needle))
        fail_msg("\"%s\" lacks \"%s\"", msg, needle);
}

/* A search scenario (kind x query_mode sweep) with gates_json as its "gates". */
static char *scenario_text(const char *gates_json, const char *extra)
{
    static const char fmt[] = "{\"schema\": \"lore-scenario/1\", \"name\": \"g\", \"workload\": "
                              "\"search\", \"params\": {\"n\": 2000, \"dim\": 64}, \"sweep\": "
                              "{\"kind\": [\"flat\", \"ivf\", \"hnsw\"], \"query_mode\": "
                              "[\"single\", \"batch\"]}%s, \"gates\": %s}";
    size_t n = strlen(fmt) + strlen(gates_json) + strlen(extra) + 1;
    char *text = malloc(n);
    assert_non_null(text);
    snprintf(text, n, fmt, extra, gates_json);
    return text;
}

static bench_scenario *parse_gates_ok(const char *gates_json)
{
    char *text = scenario_text(gates_json, "");
    bench_scenario *s = NULL;
    bench_err e = {{0}};
    if (bench_scenario_parse("g.json", text, &s, &e) != 0)
        fail_msg("parse failed: %s\n%s", e.msg, text);
    free(text);
    return s;
}

/* ---- parsing: good ------------------------------------------------------------------- */

static const char good_gates[] =
    "[{\"metric\": \"rss_peak_bytes\", \"below\": {\"pass\": 536870912, \"conditional\": "
    "805306368}, \"note\": \"measured 130 MiB\"},"
    " {\"metric\": \"recall_at_k\", \"above\": {\"pass\": 0.95}, \"where\": {\"kind\": "
    "[\"ivf\", \"hnsw\"], \"n\": 2000}},"
    " {\"name\": \"qps\", \"metric\": \"throughput\", \"max_regression\": 0.05},"
    " {\"metric\": \"instructions_per_op\", \"max_regression\": 0.01},"
    " {\"metric\": \"latency_p99\", \"below\": {\"pass\": 5e7}},"
    " {\"metric\": \"counter:sde:::lore::index_distances\", \"below\": {\"pass\": 2001}}]";

static void assert_good_gates(const bench_scenario *s)
{
    assert_int_equal(s->n_gates, 6);
    const bench_gate *g = &s->gates[0];
    assert_string_equal(g->metric, "rss_peak_bytes");
    assert_int_equal(g->kind, BENCH_GATE_BELOW);
    assert_true(g->pass == 536870912.0 && g->conditional == 805306368.0);
    assert_string_equal(g->name, "rss_peak_bytes below 536870912");
    assert_string_equal(g->note, "measured 130 MiB");
    assert_int_equal(g->n_where, 0);

    g = &s->gates[1];
    assert_int_equal(g->kind, BENCH_GATE_ABOVE);
    assert_true(g->pass == 0.95 && isnan(g->conditional));
    assert_string_equal(g->name, "recall_at_k above 0.95 where kind=ivf|hnsw,n=2000");
    assert_string_equal(g->note, "");
    assert_int_equal(g->n_where, 2);
    assert_int_equal(g->where[0].param, bench_workload_param_index(s->workload, "kind"));
    assert_int_equal(g->where[0].n_values, 2);
    assert_string_equal(g->where[0].values[0].s, "ivf");
    assert_string_equal(g->where[0].values[1].s, "hnsw");
    assert_int_equal(g->where[1].param, bench_workload_param_index(s->workload, "n"));
    assert_int_equal(g->where[1].n_values, 1);
    assert_int_equal(g->where[1].values[0].i, 2000);

    g = &s->gates[2];
    assert_string_equal(g->name, "qps");
    assert_int_equal(g->kind, BENCH_GATE_REGRESSION);
    assert_true(g->max_regression == 0.05);
    assert_string_equal(s->gates[3].name, "instructions_per_op max_regression 0.01");
    assert_true(s->gates[4].pass == 5e7);
    assert_string_equal(s->gates[5].metric, "counter:sde:::lore::index_distances");
}

static void test_parse_good(void **state)
{
    (void)state;
    bench_scenario *s = parse_gates_ok(good_gates);
    assert_good_gates(s);

    /* The effective scenario carries the gates, and reads back to the same ones. */
    cJSON *json = bench_scenario_to_json(s);
    assert_non_null(json);
    const cJSON *gates = cJSON_GetObjectItemCaseSensitive(json, "gates");
    assert_int_equal(cJSON_GetArraySize(gates), 6);
    char *text = cJSON_Print(json);
    cJSON_Delete(json);
    bench_scenario *back = NULL;
    bench_err e = {{0}};
    if (bench_scenario_parse("effective.json", text, &back, &e) != 0)
        fail_msg("effective JSON does not parse: %s\n%s", e.msg, text);
    free(text);
    assert_good_gates(back);
    bench_scenario_free(back);
    bench_scenario_free(s);

    /* A made-up name longer than a short one still reads back from the effective scenario. */
    s = parse_gates_ok("[{\"metric\": \"recall_at_k\", \"above\": {\"pass\": 0.123456789}, "
                       "\"where\": {\"kind\": [\"flat\", \"ivf\", \"hnsw\"], \"query_mode\": "
                       "[\"single\", \"batch\"], \"n\": [1000, 2000, 3000, 4000, 5000, 6000, "
                       "7000, 8000, 9000, 10000, 11000, 12000, 13000, 14000, 15000, 16000, 17000, "
                       "18000, 19000, 20000, 21000, 22000, 23000]}}]");
    assert_int_equal(strlen(s->gates[0].name), BENCH_GATE_NAME_MAX);
    json = bench_scenario_to_json(s);
    text = cJSON_Print(json);
    cJSON_Delete(json);
    assert_int_equal(bench_scenario_parse("effective.json", text, &back, &e), 0);
    free(text);
    assert_string_equal(back->gates[0].name, s->gates[0].name);
    bench_scenario_free(back);
    bench_scenario_free(s);

    /* An empty list is allowed and leaves no "gates" in the effective scenario. */
    s = parse_gates_ok("[]");
    assert_int_equal(s->n_gates, 0);
    json = bench_scenario_to_json(s);
    assert_null(cJSON_GetObjectItemCaseSensitive(json, "gates"));
    cJSON_Delete(json);
    bench_scenario_free(s);

    /* With "counters", a counter gate must name one of them. */
    char *t = scenario_text("[{\"metric\": \"counter:PAPI_TOT_INS\", \"below\": {\"pass\": 1}}]",
                            ", \"counters\": [\"PAPI_TOT_INS\"]");
    assert_int_equal(bench_scenario_parse("g.json", t, &s, &e), 0);
    bench_scenario_free(s);
    free(t);
}

/* ---- parsing: every bad form --------------------------------------------------------- */

typedef struct bad_case {
    const char *gates; /* the "gates" value */
    const char *extra; /* more top-level fields, or "" */
    const char *msg;   /* the whole message */
} bad_case;

static const bad_case bad_cases[] = {
    {"{}", "", "g.json: $.gates: must be a list of gates (got {})"},
    {"[1]", "", "g.json: $.gates[0]: must be an object (got 1)"},
    {"[{\"metric\": \"throughput\", \"below\": {\"pass\": 1}, \"foo\": 1}]", "",
     "g.json: $.gates[0].foo: unknown field; expected one of: name, metric, below, above, "
     "max_regression, where, note"},
    {"[{\"below\": {\"pass\": 1}}]", "", "g.json: $.gates[0].metric: missing required field"},
    {"[{\"metric\": 5, \"below\": {\"pass\": 1}}]", "",
     "g.json: $.gates[0].metric: must be a string (got 5)"},
    {"[{\"metric\": \"Throughput!\", \"below\": {\"pass\": 1}}]", "",
     "g.json: $.gates[0].metric: must be throughput, latency_<stat>, rss_peak_bytes, "
     "counter:<event>, instructions_per_op or a workload metric name ([a-z][a-z0-9_]*) (got "
     "\"Throughput!\")"},
    {"[{\"metric\": \"latency_p75\", \"below\": {\"pass\": 1}}]", "",
     "g.json: $.gates[0].metric: unknown latency statistic; expected latency_ followed by one "
     "of: min, p50, p90, p95, p99, p999, max, mean (got \"latency_p75\")"},
    {"[{\"metric\": \"rss_after_bytes\", \"below\": {\"pass\": 1}}]", "",
     "g.json: $.gates[0].metric: unknown RSS metric; expected rss_peak_bytes (got "
     "\"rss_after_bytes\")"},
    {"[{\"metric\": \"counter:PAPI_FOO\", \"below\": {\"pass\": 1}}]", "",
     "g.json: $.gates[0].metric: names a counter outside the default set (PAPI_TOT_INS, "
     "PAPI_TOT_CYC, PAPI_L1_DCM, PAPI_L3_TCM, sde:::lore::*); list it in $.counters (got "
     "\"counter:PAPI_FOO\")"},
    {"[{\"metric\": \"counter:sde:::lore::no_such\", \"below\": {\"pass\": 1}}]", "",
     "g.json: $.gates[0].metric: names a counter outside the default set (PAPI_TOT_INS, "
     "PAPI_TOT_CYC, PAPI_L1_DCM, PAPI_L3_TCM, sde:::lore::*); list it in $.counters (got "
     "\"counter:sde:::lore::no_such\")"},
    {"[{\"metric\": \"counter:PAPI_TOT_CYC\", \"below\": {\"pass\": 1}}]",
     ", \"counters\": [\"PAPI_TOT_INS\"]",
     "g.json: $.gates[0].metric: names a counter this scenario does not read (see $.counters) "
     "(got \"counter:PAPI_TOT_CYC\")"},
    {"[{\"metric\": \"throughput\"}]", "",
     "g.json: $.gates[0]: needs exactly one of below, above, max_regression"},
    {"[{\"metric\": \"throughput\", \"below\": {\"pass\": 1}, \"above\": {\"pass\": 0}}]", "",
     "g.json: $.gates[0]: needs exactly one of below, above, max_regression"},
    {"[{\"metric\": \"throughput\", \"above\": {\"pass\": 1}, \"max_regression\": 0.1}]", "",
     "g.json: $.gates[0]: needs exactly one of below, above, max_regression"},
    {"[{\"metric\": \"throughput\", \"below\": 5}]", "",
     "g.json: $.gates[0].below: must be an object {\"pass\": X} or {\"pass\": X, "
     "\"conditional\": Y} (got 5)"},
    {"[{\"metric\": \"throughput\", \"below\": {}}]", "",
     "g.json: $.gates[0].below.pass: missing required field"},
    /* The issue's own example of the message form, at index 2. */
    {"[{\"metric\": \"throughput\", \"below\": {\"pass\": 1}},"
     " {\"metric\": \"qps\", \"below\": {\"pass\": 1}},"
     " {\"metric\": \"rss_peak_bytes\", \"below\": {\"pass\": \"x\"}}]",
     "", "g.json: $.gates[2].below.pass: must be a number (got \"x\")"},
    {"[{\"metric\": \"throughput\", \"above\": {\"pass\": null}}]", "",
     "g.json: $.gates[0].above.pass: must be a number (got null)"},
    {"[{\"metric\": \"throughput\", \"below\": {\"pass\": 5, \"conditional\": 3}}]", "",
     "g.json: $.gates[0].below.conditional: must be above pass 5 (the band beyond it) (got 3)"},
    {"[{\"metric\": \"throughput\", \"below\": {\"pass\": 5, \"conditional\": 5}}]", "",
     "g.json: $.gates[0].below.conditional: must be above pass 5 (the band beyond it) (got 5)"},
    {"[{\"metric\": \"recall_at_k\", \"above\": {\"pass\": 0.9, \"conditional\": 0.95}}]", "",
     "g.json: $.gates[0].above.conditional: must be below pass 0.9 (the band beyond it) (got "
     "0.95)"},
    {"[{\"metric\": \"throughput\", \"below\": {\"pass\": 1, \"conditional\": \"2\"}}]", "",
     "g.json: $.gates[0].below.conditional: must be a number (got \"2\")"},
    {"[{\"metric\": \"throughput\", \"below\": {\"pass\": 1, \"cond\": 2}}]", "",
     "g.json: $.gates[0].below.cond: unknown field; expected one of: pass, conditional"},
    {"[{\"metric\": \"throughput\", \"max_regression\": \"5%\"}]", "",
     "g.json: $.gates[0].max_regression: must be a number (got \"5%\")"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0}]", "",
     "g.json: $.gates[0].max_regression: must be in (0, 10] (0.05 = 5% worse) (got 0)"},
    {"[{\"metric\": \"throughput\", \"max_regression\": -0.05}]", "",
     "g.json: $.gates[0].max_regression: must be in (0, 10] (0.05 = 5% worse) (got -0.05)"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 11}]", "",
     "g.json: $.gates[0].max_regression: must be in (0, 10] (0.05 = 5% worse) (got 11)"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"where\": []}]", "",
     "g.json: $.gates[0].where: must be an object of parameter: value or [values] (got [])"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"where\": {}}]", "",
     "g.json: $.gates[0].where: must be an object of parameter: value or [values] (got {})"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"where\": {\"nope\": 1}}]", "",
     "g.json: $.gates[0].where.nope: unknown parameter of workload 'search' (see lore-bench "
     "list)"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"where\": {\"kind\": "
     "\"annoy\"}}]",
     "", "g.json: $.gates[0].where.kind: must be one of flat, ivf, hnsw (got \"annoy\")"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"where\": {\"kind\": []}}]", "",
     "g.json: $.gates[0].where.kind: must not be empty (got [])"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"where\": {\"kind\": [\"flat\", "
     "\"flat\"]}}]",
     "", "g.json: $.gates[0].where.kind[1]: duplicate value (got \"flat\")"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"where\": {\"kind\": [\"flat\", "
     "3]}}]",
     "", "g.json: $.gates[0].where.kind[1]: must be a string (got 3)"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"where\": {\"n\": \"big\"}}]", "",
     "g.json: $.gates[0].where.n: must be an integer (got \"big\")"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"where\": {\"n\": 0}}]", "",
     "g.json: $.gates[0].where.n: must be in [1, 100000000] (got 0)"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"where\": {\"n\": 1, \"n\": 2}}]", "",
     "g.json: $.gates[0].where.n: duplicate field"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"note\": 3}]", "",
     "g.json: $.gates[0].note: must be a string (got 3)"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"name\": \"\"}]", "",
     "g.json: $.gates[0].name: must be a string of 1-200 characters (got \"\")"},
    {"[{\"metric\": \"throughput\", \"max_regression\": 0.1, \"name\": \"a\"},"
     " {\"metric\": \"qps\", \"max_regression\": 0.1, \"name\": \"a\"}]",
     "", "g.json: $.gates[1].name: duplicate gate name (also $.gates[0]) (got \"a\")"},
    {"[{\"metric\": \"qps\", \"max_regression\": 0.1}, {\"metric\": \"qps\", "
     "\"max_regression\": 0.1}]",
     "", "g.json: $.gates[1]: same rule as $.gates[0]; give one of them a \"name\""},
};

static void test_parse_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        char *text = scenario_text(c->gates, c->extra);
        bench_scenario *s = (bench_scenario *)1;
        bench_err e = {{0}};
        int rc = bench_scenario_parse("g.json", text, &s, &e);
        free(text);
        if (rc == 0)
            fail_msg("row %zu parsed but should fail with: %s", i, c->msg);
        assert_null(s);
        if (strcmp(e.msg, c->msg) != 0)
            fail_msg("row %zu:\n got: %s\nwant: %s", i, e.msg, c->msg);
    }
}

/* ---- result documents ---------------------------------------------------------------- */

typedef struct pt_spec {
    const char *kind, *mode;
    double recall; /* NAN: value null */
    double p99_ns;
    double rss_bytes;
    bool failed;
    bool with_instructions;
} pt_spec;

static cJSON *make_point(const pt_spec *p)
{
    cJSON *pt = cJSON_CreateObject();
    char id[64];
    snprintf(id, sizeof id, "kind=%s,query_mode=%s", p->kind, p->mode);
    cJSON_AddStringToObject(pt, "id", id);
    cJSON *params = cJSON_AddObjectToObject(pt, "params");
    cJSON_AddStringToObject(params, "kind", p->kind);
    cJSON_AddNumberToObject(params, "n", 2000);
    cJSON_AddNumberToObject(params, "dim", 64);
    cJSON_AddStringToObject(params, "query_mode", p->mode);
    cJSON_AddBoolToObject(params, "normalize", true);
    if (p->failed) {
        cJSON_AddStringToObject(pt, "status", "error");
        cJSON_AddStringToObject(pt, "error", "probes > lists");
        return pt;
    }
    cJSON_AddStringToObject(pt, "status", "ok");
    cJSON_AddStringToObject(pt, "item_unit", "query");
    cJSON *thr = cJSON_AddObjectToObject(pt, "throughput");
    cJSON_AddNumberToObject(thr, "items_per_s", 1e9 / p->p99_ns);
    cJSON *lat = cJSON_AddObjectToObject(pt, "latency_ns");
    cJSON_AddNumberToObject(lat, "p50", p->p99_ns / 2);
    cJSON_AddNumberToObject(lat, "p99", p->p99_ns);
    cJSON *rss = cJSON_AddObjectToObject(pt, "rss");
    cJSON_AddNumberToObject(rss, "peak_bytes", p->rss_bytes);
    cJSON *ctr = cJSON_AddObjectToObject(pt, "counters");
    cJSON *ins = cJSON_AddObjectToObject(ctr, "PAPI_TOT_INS");
    cJSON_AddBoolToObject(ins, "available", false);
    cJSON_AddNullToObject(ins, "value");
    cJSON_AddStringToObject(ins, "reason", "no hardware PMU");
    cJSON *dist = cJSON_AddObjectToObject(ctr, "sde:::lore::index_distances");
    cJSON_AddBoolToObject(dist, "available", true);
    cJSON_AddNumberToObject(dist, "value", 200000);
    cJSON_AddNumberToObject(dist, "per_op", 2000);
    cJSON *m = cJSON_AddObjectToObject(pt, "metrics");
    cJSON *rec = cJSON_AddObjectToObject(m, "recall_at_k");
    if (isnan(p->recall))
        cJSON_AddNullToObject(rec, "value");
    else
        cJSON_AddNumberToObject(rec, "value", p->recall);
    cJSON_AddStringToObject(rec, "unit", "ratio");
    cJSON_AddStringToObject(rec, "better", "higher");
    if (p->with_instructions) {
        cJSON *in = cJSON_AddObjectToObject(pt, "instructions");
        cJSON_AddNumberToObject(in, "per_op", 123456);
    }
    return pt;
}

/* A result of scenario s (its effective scenario inside) with the given points. */
static cJSON *make_result(const bench_scenario *s, const pt_spec *pts, size_t n, bool sanitized)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "schema", "lore-bench/1");
    cJSON *sc = cJSON_AddObjectToObject(doc, "scenario");
    cJSON_AddStringToObject(sc, "file", "g.json");
    cJSON_AddStringToObject(sc, "name", s ? s->name : "g");
    if (s)
        cJSON_AddItemToObject(sc, "effective", bench_scenario_to_json(s));
    cJSON *host = cJSON_AddObjectToObject(doc, "host");
    cJSON *build = cJSON_AddObjectToObject(host, "build");
    cJSON_AddBoolToObject(build, "sanitized", sanitized);
    cJSON *points = cJSON_AddArrayToObject(doc, "points");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(points, make_point(&pts[i]));
    return doc;
}

/* The six points of the sweep, with chosen recalls, p99s and peaks. */
static const pt_spec six[] = {
    {"flat", "single", 1.0, 1e6, 100 * MIB, false, false},
    {"flat", "batch", 1.0, 2e6, 512 * MIB, false, false},   /* exactly on a below edge */
    {"ivf", "single", 0.95, 3e6, 600 * MIB, false, false},  /* exactly on an above edge */
    {"ivf", "batch", 0.9499, 4e6, 768 * MIB, false, false}, /* on the conditional edge */
    {"hnsw", "single", 0.90, 5e6, 900 * MIB, false, false},
    {"hnsw", "batch", 0.0, 0.0, 0.0, true, false},
};

static const bench_gate_outcome *find_outcome(const bench_gate_report *r, size_t gate,
                                              const char *point)
{
    for (size_t i = 0; i < r->n_items; i++)
        if (r->items[i].gate == gate && strcmp(r->items[i].point_id, point) == 0)
            return &r->items[i];
    fail_msg("no outcome of gate %zu at point %s", gate, point);
    return NULL;
}

static size_t n_outcomes_of(const bench_gate_report *r, size_t gate)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_items; i++)
        n += r->items[i].gate == gate;
    return n;
}

static void assert_status(const bench_gate_report *r, size_t gate, const char *point,
                          bench_gate_status want)
{
    const bench_gate_outcome *o = find_outcome(r, gate, point);
    if (o->status != want)
        fail_msg("gate %zu at %s: %s (%s), expected %s", gate, point,
                 bench_gate_status_name(o->status), o->reason, bench_gate_status_name(want));
}

static bench_gate_report *evaluate_ok(const bench_scenario *s, const cJSON *doc,
                                      const bench_gate_baseline *b)
{
    bench_gate_report *r = NULL;
    bench_err e = {{0}};
    if (bench_gates_evaluate(s, doc, b, &r, &e) != 0)
        fail_msg("evaluation failed: %s", e.msg);
    /* The per-status counts always add up to the outcomes. */
    size_t total = 0;
    for (size_t k = 0; k < BENCH_GATE_N_STATUS; k++)
        total += r->n_status[k];
    assert_int_equal(total, r->n_items);
    return r;
}

/* ---- absolute bands ------------------------------------------------------------------- */

static void test_bands(void **state)
{
    (void)state;
    bench_scenario *s = parse_gates_ok(
        "[{\"metric\": \"rss_peak_bytes\", \"below\": {\"pass\": 536870912, \"conditional\": "
        "805306368}},"
        " {\"metric\": \"recall_at_k\", \"above\": {\"pass\": 0.95, \"conditional\": 0.9}},"
        " {\"metric\": \"latency_p99\", \"below\": {\"pass\": 4e6}}]");
    cJSON *doc = make_result(s, six, 6, false);
    bench_gate_report *r = evaluate_ok(s, doc, NULL);

    /* below: strictly under pass passes; on the edge it is already conditional. */
    assert_status(r, 0, "kind=flat,query_mode=single", BENCH_GATE_PASS);
    assert_status(r, 0, "kind=flat,query_mode=batch", BENCH_GATE_CONDITIONAL);
    assert_status(r, 0, "kind=ivf,query_mode=single", BENCH_GATE_CONDITIONAL);
    /* ... and on the conditional edge it fails. */
    assert_status(r, 0, "kind=ivf,query_mode=batch", BENCH_GATE_FAIL);
    assert_status(r, 0, "kind=hnsw,query_mode=single", BENCH_GATE_FAIL);
    /* A failed point is not judged, and says why. */
    assert_status(r, 0, "kind=hnsw,query_mode=batch", BENCH_GATE_SKIPPED);
    assert_has(find_outcome(r, 0, "kind=hnsw,query_mode=batch")->reason, "probes > lists");

    /* above: on the edge passes; 0.9499 is conditional; 0.90 is on the conditional edge. */
    assert_status(r, 1, "kind=flat,query_mode=single", BENCH_GATE_PASS);
    assert_status(r, 1, "kind=ivf,query_mode=single", BENCH_GATE_PASS);
    assert_status(r, 1, "kind=ivf,query_mode=batch", BENCH_GATE_CONDITIONAL);
    assert_status(r, 1, "kind=hnsw,query_mode=single", BENCH_GATE_CONDITIONAL);

    /* No conditional band: pass or fail, nothing between. */
    assert_status(r, 2, "kind=ivf,query_mode=single", BENCH_GATE_PASS);
    assert_status(r, 2, "kind=ivf,query_mode=batch", BENCH_GATE_FAIL);
    assert_status(r, 2, "kind=hnsw,query_mode=single", BENCH_GATE_FAIL);

    /* Values and reasons are shown in the metric's unit. */
    const bench_gate_outcome *o = find_outcome(r, 0, "kind=hnsw,query_mode=single");
    assert_true(o->value == 900 * MIB);
    assert_string_equal(o->value_text, "900.0 MiB");
    assert_string_equal(o->rule, "< 512.0 MiB pass, < 768.0 MiB conditional");
    assert_string_equal(o->reason, "900.0 MiB >= 768.0 MiB (past the conditional band)");
    o = find_outcome(r, 0, "kind=ivf,query_mode=single");
    assert_string_equal(o->reason, "600.0 MiB >= 512.0 MiB (pass band) but < 768.0 MiB");
    o = find_outcome(r, 2, "kind=ivf,query_mode=batch");
    assert_string_equal(o->value_text, "4 ms");
    assert_string_equal(o->reason, "4 ms >= 4 ms");

    assert_int_equal(r->n_status[BENCH_GATE_FAIL], 4);
    assert_int_equal(bench_gate_report_exit_code(r, false), 1);
    bench_gate_report_free(r);
    cJSON_Delete(doc);

    /* Timings and RSS of a sanitized build are skipped; recall is still judged. */
    doc = make_result(s, six, 6, true);
    r = evaluate_ok(s, doc, NULL);
    assert_status(r, 0, "kind=hnsw,query_mode=single", BENCH_GATE_SKIPPED);
    assert_has(find_outcome(r, 0, "kind=hnsw,query_mode=single")->reason, "sanitized build");
    assert_status(r, 2, "kind=hnsw,query_mode=single", BENCH_GATE_SKIPPED);
    assert_status(r, 1, "kind=ivf,query_mode=batch", BENCH_GATE_CONDITIONAL);
    assert_int_equal(bench_gate_report_exit_code(r, false), 0);
    bench_gate_report_free(r);
    cJSON_Delete(doc);

    /* So are those of an instruction-count run (taken under valgrind). */
    doc = make_result(s, six, 6, false);
    cJSON *meas = cJSON_AddObjectToObject(doc, "measurement");
    cJSON_AddBoolToObject(meas, "wall_metrics_valid", false);
    r = evaluate_ok(s, doc, NULL);
    assert_status(r, 0, "kind=hnsw,query_mode=single", BENCH_GATE_SKIPPED);
    assert_has(find_outcome(r, 0, "kind=hnsw,query_mode=single")->reason, "valgrind");
    assert_status(r, 1, "kind=ivf,query_mode=batch", BENCH_GATE_CONDITIONAL);
    bench_gate_report_free(r);
    cJSON_Delete(doc);
    bench_scenario_free(s);
}

static void test_where(void **state)
{
    (void)state;
    bench_scenario *s = parse_gates_ok(
        "[{\"metric\": \"recall_at_k\", \"above\": {\"pass\": 0.95}, \"where\": {\"kind\": "
        "\"ivf\"}},"
        " {\"metric\": \"recall_at_k\", \"above\": {\"pass\": 0.99}, \"where\": {\"kind\": "
        "[\"flat\", \"hnsw\"], \"query_mode\": \"single\"}},"
        " {\"metric\": \"recall_at_k\", \"above\": {\"pass\": 0.5}, \"where\": {\"n\": 5000}},"
        " {\"metric\": \"recall_at_k\", \"above\": {\"pass\": 0.5}, \"where\": {\"n\": 2000, "
        "\"normalize\": true}}]");
    cJSON *doc = make_result(s, six, 6, false);
    bench_gate_report *r = evaluate_ok(s, doc, NULL);
    /* One string value: the two ivf points only. */
    assert_int_equal(n_outcomes_of(r, 0), 2);
    assert_status(r, 0, "kind=ivf,query_mode=single", BENCH_GATE_PASS);
    assert_status(r, 0, "kind=ivf,query_mode=batch", BENCH_GATE_FAIL);
    /* A list and a second parameter: flat/single and hnsw/single. */
    assert_int_equal(n_outcomes_of(r, 1), 2);
    assert_status(r, 1, "kind=flat,query_mode=single", BENCH_GATE_PASS);
    assert_status(r, 1, "kind=hnsw,query_mode=single", BENCH_GATE_FAIL);
    /* A fixed parameter at another value: nothing matches, one skipped outcome says so. */
    assert_int_equal(n_outcomes_of(r, 2), 1);
    assert_status(r, 2, "*", BENCH_GATE_SKIPPED);
    assert_string_equal(find_outcome(r, 2, "*")->reason,
                        "no point of this run matches where n=5000");
    /* Integer and boolean values match the result's JSON: all six points. */
    assert_int_equal(n_outcomes_of(r, 3), 6);
    bench_gate_report_free(r);
    cJSON_Delete(doc);
    bench_scenario_free(s);
}

static void test_unjudgeable(void **state)
{
    (void)state;
    bench_scenario *s = parse_gates_ok(
        "[{\"metric\": \"counter:PAPI_TOT_INS\", \"below\": {\"pass\": 1e9}},"
        " {\"metric\": \"counter:sde:::lore::index_distances\", \"below\": {\"pass\": 2000}},"
        " {\"metric\": \"recall_at_k\", \"above\": {\"pass\": 0.5}},"
        " {\"metric\": \"instructions_per_op\", \"below\": {\"pass\": 1e6}}]");
    pt_spec pts[2] = {six[0], six[2]};
    pts[1].recall = NAN;
    cJSON *doc = make_result(s, pts, 2, false);
    bench_gate_report *r = evaluate_ok(s, doc, NULL);
    /* A counter this machine cannot read: inconclusive, with PAPI's reason. */
    assert_status(r, 0, "kind=flat,query_mode=single", BENCH_GATE_INCONCLUSIVE);
    assert_string_equal(find_outcome(r, 0, "kind=flat,query_mode=single")->reason,
                        "counter unavailable here: no hardware PMU");
    /* A readable counter is judged per operation: 2000 is not < 2000. */
    assert_status(r, 1, "kind=flat,query_mode=single", BENCH_GATE_FAIL);
    assert_true(find_outcome(r, 1, "kind=flat,query_mode=single")->value == 2000);
    /* A metric whose value is null: inconclusive, never a pass. */
    assert_status(r, 2, "kind=flat,query_mode=single", BENCH_GATE_PASS);
    assert_status(r, 2, "kind=ivf,query_mode=single", BENCH_GATE_INCONCLUSIVE);
    /* Instruction counts not measured: one skipped outcome, not an error. */
    assert_int_equal(n_outcomes_of(r, 3), 1);
    assert_status(r, 3, "*", BENCH_GATE_SKIPPED);
    assert_has(find_outcome(r, 3, "*")->reason, "--instructions");
    assert_int_equal(bench_gate_report_exit_code(r, false), 1);
    bench_gate_report_free(r);
    cJSON_Delete(doc);

    /* Measured (the instruction track's block on the point): judged. */
    pts[0].with_instructions = pts[1].with_instructions = true;
    doc = make_result(s, pts, 2, false);
    r = evaluate_ok(s, doc, NULL);
    assert_int_equal(n_outcomes_of(r, 3), 2);
    assert_status(r, 3, "kind=ivf,query_mode=single", BENCH_GATE_PASS);
    assert_true(find_outcome(r, 3, "kind=ivf,query_mode=single")->value == 123456);
    bench_gate_report_free(r);
    cJSON_Delete(doc);
    bench_scenario_free(s);
}

static void test_unknown_metric(void **state)
{
    (void)state;
    bench_scenario *s = parse_gates_ok(
        "[{\"metric\": \"recall_at_k\", \"above\": {\"pass\": 0.5}},"
        " {\"name\": \"typo\", \"metric\": \"recal_at_k\", \"above\": {\"pass\": 0.5}}]");
    cJSON *doc = make_result(s, six, 2, false);
    bench_gate_report *r = (bench_gate_report *)1;
    bench_err e = {{0}};
    assert_int_equal(bench_gates_evaluate(s, doc, NULL, &r, &e), -1);
    assert_null(r);
    assert_string_equal(e.msg, "gate 'typo' ($.gates[1]): no point of the result of g.json has "
                               "metric 'recal_at_k' (its points report: throughput, "
                               "latency_<stat>, rss_peak_bytes, counter:<event>, recall_at_k)");
    cJSON_Delete(doc);

    /* Only failed points selected: nothing to judge, so no error, only skipped outcomes. */
    doc = make_result(s, &six[5], 1, false);
    r = evaluate_ok(s, doc, NULL);
    assert_int_equal(r->n_items, 2);
    assert_int_equal(r->n_status[BENCH_GATE_SKIPPED], 2);
    bench_gate_report_free(r);
    cJSON_Delete(doc);
    bench_scenario_free(s);
}

/* ---- relative gates ------------------------------------------------------------------- */

typedef struct fake_source {
    bench_comparison cmp;
    double asked[8];
    size_t n_asked;
    bool fail;
} fake_source;

static int fake_compare(void *ctx, double min_effect, const bench_comparison **out, bench_err *e)
{
    fake_source *f = ctx;
    if (f->fail)
        return bench_err_set(e, "base.json: no point in common");
    assert_true(f->n_asked < 8);
    f->asked[f->n_asked++] = min_effect;
    *out = &f->cmp;
    return 0;
}

static bench_metric_cmp item(const char *point, const char *metric, bench_better better,
                             bench_verdict v, double ratio, double lo, double hi,
                             const char *reason)
{
    bench_metric_cmp c;
    memset(&c, 0, sizeof c);
    snprintf(c.point_id, sizeof c.point_id, "%s", point);
    snprintf(c.metric, sizeof c.metric, "%s", metric);
    c.better = better;
    c.track = strcmp(metric, "instructions_per_op") == 0 ? BENCH_TRACK_INSTRUCTIONS
              : strcmp(metric, "rss_peak_bytes") == 0    ? BENCH_TRACK_WORK
                                                         : BENCH_TRACK_WALL;
    c.verdict = v;
    c.ratio = ratio;
    c.ci_lo = lo;
    c.ci_hi = hi;
    c.p_value = c.q_value = NAN;
    /* Wall items as compare gives them with a noise file: a measured floor. */
    c.noise_floor = c.track == BENCH_TRACK_WALL ? 0.03 : NAN;
    snprintf(c.reason, sizeof c.reason, "%s", reason);
    return c;
}

#define FS "kind=flat,query_mode=single"
#define FB "kind=flat,query_mode=batch"
#define IS "kind=ivf,query_mode=single"
#define IB "kind=ivf,query_mode=batch"
#define HS "kind=hnsw,query_mode=single"

static void test_relative(void **state)
{
    (void)state;
    bench_scenario *s = parse_gates_ok(
        "[{\"metric\": \"throughput\", \"max_regression\": 0.05},"
        " {\"metric\": \"latency_p99\", \"max_regression\": 0.1, \"where\": {\"kind\": "
        "\"ivf\"}},"
        " {\"metric\": \"instructions_per_op\", \"max_regression\": 0.01}]");
    cJSON *doc = make_result(s, six, 5, false);
    bench_metric_cmp items[] = {
        item(FS, "throughput", BENCH_BETTER_HIGHER, BENCH_VERDICT_SAME, 0.99, 0.97, 1.01, "ok"),
        item(FB, "throughput", BENCH_BETTER_HIGHER, BENCH_VERDICT_BETTER, 1.2, 1.1, 1.3, "up"),
        /* Worse, and the whole interval past 5%: the only kind of fail. */
        item(IS, "throughput", BENCH_BETTER_HIGHER, BENCH_VERDICT_WORSE, 0.88, 0.85, 0.90, "dn"),
        /* Worse, but the interval reaches inside the allowed 5%: not proven. */
        item(IB, "throughput", BENCH_BETTER_HIGHER, BENCH_VERDICT_WORSE, 0.95, 0.93, 0.97, "dn"),
        item(HS, "throughput", BENCH_BETTER_HIGHER, BENCH_VERDICT_INCONCLUSIVE, 0.9, 0.7, 1.1,
             "n=3 < 10 samples"),
        item("kind=hnsw,query_mode=gone", "throughput", BENCH_BETTER_HIGHER, BENCH_VERDICT_MISSING,
             NAN, NAN, NAN, "point only in the baseline"),
        /* Lower is better: 1.2 [1.15, 1.25] is past 10%; the where keeps ivf only. */
        item(IS, "latency_p99", BENCH_BETTER_LOWER, BENCH_VERDICT_WORSE, 1.2, 1.15, 1.25, "up"),
        item(IB, "latency_p99", BENCH_BETTER_LOWER, BENCH_VERDICT_SAME, 1.0, 0.95, 1.05, "ok"),
        item(FS, "latency_p99", BENCH_BETTER_LOWER, BENCH_VERDICT_WORSE, 2.0, 1.9, 2.1, "up"),
        /* Instructions: deterministic; 0.5% worse is within 1%, 2% is past it. */
        item(FS, "instructions_per_op", BENCH_BETTER_LOWER, BENCH_VERDICT_WORSE, 1.005, 1.005,
             1.005, "+0.5%"),
        item(IS, "instructions_per_op", BENCH_BETTER_LOWER, BENCH_VERDICT_WORSE, 1.02, 1.02, 1.02,
             "+2%"),
    };
    fake_source f = {.cmp = {.items = items, .n_items = sizeof items / sizeof items[0]}};
    bench_gate_baseline b = {.path = "base.json", .compare = fake_compare, .ctx = &f};
    bench_gate_report *r = evaluate_ok(s, doc, &b);

    /* Each wall gate asked for a comparison with its own max_regression as the minimum
     * effect; the instruction gate, which no minimum effect touches, for any (0). */
    assert_int_equal(f.n_asked, 3);
    assert_true(f.asked[0] == 0.05 && f.asked[1] == 0.1 && f.asked[2] == 0);
    assert_string_equal(r->baseline, "base.json");

    assert_status(r, 0, FS, BENCH_GATE_PASS);
    assert_status(r, 0, FB, BENCH_GATE_PASS);
    assert_status(r, 0, IS, BENCH_GATE_FAIL);
    assert_string_equal(find_outcome(r, 0, IS)->reason,
                        "worse by 12.0% [10.0%, 15.0%]: the whole interval is past the 5% "
                        "allowed");
    assert_string_equal(find_outcome(r, 0, IS)->value_text, "-12.0% [-15.0%, -10.0%]");
    assert_true(find_outcome(r, 0, IS)->ci_lo == 0.85);
    assert_status(r, 0, IB, BENCH_GATE_INCONCLUSIVE);
    assert_has(find_outcome(r, 0, IB)->reason, "reaches inside the 5% allowed");
    assert_status(r, 0, HS, BENCH_GATE_INCONCLUSIVE);
    assert_string_equal(find_outcome(r, 0, HS)->reason, "n=3 < 10 samples");
    /* A baseline-only point, with no where to test it against: skipped with compare's reason. */
    assert_status(r, 0, "kind=hnsw,query_mode=gone", BENCH_GATE_SKIPPED);
    assert_has(find_outcome(r, 0, "kind=hnsw,query_mode=gone")->reason, "only in the baseline");

    assert_int_equal(n_outcomes_of(r, 1), 2);
    assert_status(r, 1, IS, BENCH_GATE_FAIL);
    assert_status(r, 1, IB, BENCH_GATE_PASS);

    assert_status(r, 2, FS, BENCH_GATE_PASS);
    assert_has(find_outcome(r, 2, FS)->reason, "within the 1% allowed");
    assert_status(r, 2, IS, BENCH_GATE_FAIL);
    assert_int_equal(bench_gate_report_exit_code(r, false), 1);
    bench_gate_report_free(r);

    /* Without a measured noise floor a wall "worse" between two runs is not proven. */
    items[2].noise_floor = NAN;
    r = evaluate_ok(s, doc, &b);
    assert_status(r, 0, IS, BENCH_GATE_INCONCLUSIVE);
    assert_has(find_outcome(r, 0, IS)->reason, "no noise floor was measured");
    assert_status(r, 2, IS, BENCH_GATE_FAIL); /* instructions need none */
    bench_gate_report_free(r);
    items[2].noise_floor = 0.03;

    /* No baseline: each relative gate is one skipped outcome saying so. */
    r = evaluate_ok(s, doc, NULL);
    assert_int_equal(r->n_items, 3);
    assert_int_equal(r->n_status[BENCH_GATE_SKIPPED], 3);
    assert_has(find_outcome(r, 0, "*")->reason, "no baseline");
    assert_int_equal(bench_gate_report_exit_code(r, true), 0);
    bench_gate_report_free(r);

    /* Instruction counts absent from the comparison: skipped. A wall metric absent: an error. */
    f.cmp.n_items = 9;
    f.n_asked = 0;
    r = evaluate_ok(s, doc, &b);
    assert_status(r, 2, "*", BENCH_GATE_SKIPPED);
    bench_gate_report_free(r);
    f.cmp.n_items = 1;
    bench_err e = {{0}};
    assert_int_equal(bench_gates_evaluate(s, doc, &b, &r, &e), -1);
    assert_string_equal(e.msg, "gate 'latency_p99 max_regression 0.1 where kind=ivf' "
                               "($.gates[1]): the comparison with base.json has no metric "
                               "'latency_p99' (compared: throughput)");
    /* A failing comparison is passed on. */
    f.fail = true;
    assert_int_equal(bench_gates_evaluate(s, doc, &b, &r, &e), -1);
    assert_string_equal(e.msg, "base.json: no point in common");
    cJSON_Delete(doc);
    bench_scenario_free(s);

    /* A regression gate on a metric with no direction is an error. */
    s = parse_gates_ok("[{\"metric\": \"build_s\", \"max_regression\": 0.1}]");
    doc = make_result(s, six, 1, false);
    bench_metric_cmp none = item(FS, "build_s", BENCH_BETTER_NONE, BENCH_VERDICT_SAME, 1, 1, 1, "");
    fake_source f2 = {.cmp = {.items = &none, .n_items = 1}};
    bench_gate_baseline b2 = {.path = "base.json", .compare = fake_compare, .ctx = &f2};
    f2.fail = false;
    assert_int_equal(bench_gates_evaluate(s, doc, &b2, &r, &e), -1);
    assert_has(e.msg, "metric 'build_s' has no better direction");
    cJSON_Delete(doc);
    bench_scenario_free(s);

    /* A metric compare shows but never judges: skipped where other points are
     * judged, an error when it is never judged. */
    s = parse_gates_ok("[{\"metric\": \"rss_peak_bytes\", \"max_regression\": 0.1}]");
    doc = make_result(s, six, 2, false);
    bench_metric_cmp rss[2] = {
        item(FS, "rss_peak_bytes", BENCH_BETTER_LOWER, BENCH_VERDICT_SAME, 2, 2, 2,
             "informational: peak RSS moves with the allocator"),
        item(FB, "rss_peak_bytes", BENCH_BETTER_LOWER, BENCH_VERDICT_WORSE, 2, 2, 2, "+100%"),
    };
    rss[0].informational = true;
    fake_source f3 = {.cmp = {.items = rss, .n_items = 2}};
    bench_gate_baseline b3 = {.path = "base.json", .compare = fake_compare, .ctx = &f3};
    r = evaluate_ok(s, doc, &b3);
    assert_status(r, 0, FS, BENCH_GATE_SKIPPED);
    assert_has(find_outcome(r, 0, FS)->reason, "compare does not judge it: informational");
    assert_status(r, 0, FB, BENCH_GATE_FAIL);
    bench_gate_report_free(r);
    f3.cmp.n_items = 1;
    assert_int_equal(bench_gates_evaluate(s, doc, &b3, &r, &e), -1);
    assert_string_equal(e.msg, "gate 'rss_peak_bytes max_regression 0.1' ($.gates[0]): "
                               "comparisons do not judge 'rss_peak_bytes' (informational: peak "
                               "RSS moves with the allocator); give it an absolute band "
                               "(below/above) instead");
    cJSON_Delete(doc);
    bench_scenario_free(s);
}

/* ---- exit codes, --strict and the writers --------------------------------------------- */

static bench_gate_report *report_with(size_t pass, size_t cond, size_t fail, size_t inconc,
                                      size_t skipped)
{
    bench_gate_report *r = calloc(1, sizeof *r);
    size_t counts[BENCH_GATE_N_STATUS] = {pass, cond, fail, inconc, skipped};
    size_t n = pass + cond + fail + inconc + skipped;
    r->items = calloc(n ? n : 1, sizeof *r->items);
    snprintf(r->scenario, sizeof r->scenario, "s<&>");
    for (size_t k = 0; k < BENCH_GATE_N_STATUS; k++)
        for (size_t j = 0; j < counts[k]; j++) {
            bench_gate_outcome *o = &r->items[r->n_items++];
            o->gate = r->n_items - 1;
            snprintf(o->gate_name, sizeof o->gate_name, "g%zu \"q\"", r->n_items);
            snprintf(o->metric, sizeof o->metric, "throughput");
            snprintf(o->point_id, sizeof o->point_id, "p|%zu", r->n_items);
            snprintf(o->reason, sizeof o->reason, "why <%s>",
                     bench_gate_status_name((bench_gate_status)k));
            snprintf(o->value_text, sizeof o->value_text, "1");
            o->status = (bench_gate_status)k;
            o->value = o->ci_lo = o->ci_hi = NAN;
            r->n_status[k]++;
        }
    return r;
}

static void test_exit_codes(void **state)
{
    (void)state;
    static const struct {
        size_t pass, cond, fail, inconc, skipped;
        int plain, strict;
    } rows[] = {
        {0, 0, 0, 0, 0, 0, 0}, /* no gates */
        {3, 0, 0, 0, 0, 0, 0}, {3, 0, 1, 0, 0, 1, 1}, {3, 1, 0, 0, 0, 0, 1},
        {3, 0, 0, 1, 0, 0, 1}, {0, 0, 0, 0, 4, 0, 0}, /* skipped never fails, even strict */
        {0, 2, 1, 2, 2, 1, 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bench_gate_report *r =
            report_with(rows[i].pass, rows[i].cond, rows[i].fail, rows[i].inconc, rows[i].skipped);
        if (bench_gate_report_exit_code(r, false) != rows[i].plain ||
            bench_gate_report_exit_code(r, true) != rows[i].strict)
            fail_msg("row %zu: exit %d/%d, expected %d/%d", i,
                     bench_gate_report_exit_code(r, false), bench_gate_report_exit_code(r, true),
                     rows[i].plain, rows[i].strict);
        bench_gate_report_free(r);
    }
}

static char *render(bench_gate_report *r, bool strict, int which)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bench_err e = {{0}};
    int rc = which == 0 ? bench_gate_report_write_markdown(r, strict, f, &e)
                        : bench_gate_report_write_junit(r, strict, f, &e);
    fclose(f);
    assert_int_equal(rc, 0);
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_writers(void **state)
{
    (void)state;
    bench_gate_report *r = report_with(2, 1, 1, 1, 1);
    char *md = render(r, false, 0);
    assert_has(md, "## Gates: s<&>");
    assert_has(md, "**FAIL**: 1 fail, 1 conditional, 1 inconclusive, 2 pass, 1 skipped.");
    assert_has(md, "Baseline: none (relative gates skipped)");
    /* One row per outcome, '|' in a cell escaped, the fail row first. */
    assert_int_equal(count(md, "\n| "), 7); /* the header and six rows */
    assert_has(md, "| p\\|4 |");
    assert_true(strstr(md, "| fail ✗ |") < strstr(md, "| pass |"));
    assert_null(strstr(md, "conditional ✗"));
    free(md);
    md = render(r, true, 0);
    assert_has(md, "| conditional ✗ |");
    assert_has(md, "(--strict: conditional and inconclusive fail)");
    free(md);

    /* JUnit: one test case per outcome; fail is a failure; conditional and
     * inconclusive are skipped, or failures under --strict; text is escaped. */
    char *xml = render(r, false, 1);
    assert_int_equal(count(xml, "<testcase "), 6);
    assert_int_equal(count(xml, "<failure "), 1);
    assert_int_equal(count(xml, "<skipped "), 3);
    assert_has(xml, "<testsuite name=\"s&lt;&amp;&gt;\" tests=\"6\" failures=\"1\"");
    assert_has(xml, "classname=\"s&lt;&amp;&gt;.g4 &quot;q&quot;\" name=\"p|4\"");
    assert_has(xml, "message=\"fail: why &lt;fail&gt;\"");
    assert_null(strstr(xml, "<&"));
    free(xml);
    xml = render(r, true, 1);
    assert_int_equal(count(xml, "<failure "), 3);
    assert_int_equal(count(xml, "<skipped "), 1);
    assert_has(xml, "failures=\"3\"");
    free(xml);

    cJSON *j = bench_gate_report_to_json(r, false);
    assert_string_equal(cJSON_GetObjectItem(j, "schema")->valuestring, BENCH_GATES_SCHEMA);
    assert_int_equal(cJSON_GetObjectItem(j, "exit_code")->valueint, 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "baseline")));
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "counts"), "conditional")->valueint,
                     1);
    const cJSON *outs = cJSON_GetObjectItem(j, "outcomes");
    assert_int_equal(cJSON_GetArraySize(outs), 6);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(outs, 0), "value")));
    cJSON_Delete(j);
    bench_gate_report_free(r);

    r = report_with(2, 0, 0, 0, 0);
    md = render(r, false, 0);
    assert_has(md, "**PASS**: 0 fail");
    free(md);
    bench_gate_report_free(r);
    r = report_with(2, 1, 0, 0, 0);
    md = render(r, false, 0);
    assert_has(md, "**PASS with warnings**");
    free(md);
    bench_gate_report_free(r);
}

/* ---- gates of a saved result ----------------------------------------------------------- */

static void test_scenario_of_result(void **state)
{
    (void)state;
    bench_scenario *s = parse_gates_ok("[{\"metric\": \"recall_at_k\", \"above\": {\"pass\": "
                                       "0.95}, \"where\": {\"kind\": \"ivf\"}}]");
    cJSON *doc = make_result(s, six, 6, false);
    bench_scenario *back = NULL;
    bench_err e = {{0}};
    assert_int_equal(bench_gates_scenario_of(doc, "r/result.json", &back, &e), 0);
    assert_non_null(back);
    assert_int_equal(back->n_gates, 1);
    assert_string_equal(back->gates[0].name, s->gates[0].name);
    bench_scenario_free(back);

    /* bench_gates_check: the same outcomes as evaluating the scenario itself. */
    bench_gate_report *r = NULL;
    assert_int_equal(bench_gates_check(doc, "r/result.json", NULL, NULL, NULL, &r, &e), 0);
    assert_int_equal(r->n_items, 2);
    assert_status(r, 0, IB, BENCH_GATE_FAIL);
    bench_gate_report_free(r);

    /* A bad gate inside a result names the result. */
    cJSON *eff = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "scenario"), "effective");
    cJSON *g0 = cJSON_GetArrayItem(cJSON_GetObjectItem(eff, "gates"), 0);
    cJSON_ReplaceItemInObject(g0, "metric", cJSON_CreateString("latency_p7"));
    assert_int_equal(bench_gates_scenario_of(doc, "r/result.json", &back, &e), -1);
    assert_has(e.msg, "r/result.json (scenario.effective): $.gates[0].metric: unknown latency");
    /* No gates: no scenario, no error; the check gives an empty report. */
    cJSON_DeleteItemFromObject(eff, "gates");
    assert_int_equal(bench_gates_scenario_of(doc, "r/result.json", &back, &e), 0);
    assert_null(back);
    assert_int_equal(bench_gates_check(doc, "r/result.json", NULL, NULL, NULL, &r, &e), 0);
    assert_int_equal(r->n_items, 0);
    assert_string_equal(r->scenario, "g");
    assert_int_equal(bench_gate_report_exit_code(r, true), 0);
    bench_gate_report_free(r);
    cJSON_Delete(doc);
    bench_scenario_free(s);
}

/* ---- the hook of `lore-bench compare` --------------------------------------------------- */

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *get_file(const char *path)
{
    bench_err e = {{0}};
    char *text = bench_read_file(path, NULL, &e);
    if (!text)
        fail_msg("%s", e.msg);
    return text;
}

static void test_compare_hook(void **state)
{
    (void)state;
    char dir[] = "/tmp/lore-test-gates-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char md[64], json[64], junit[64];
    snprintf(md, sizeof md, "%s/c.md", dir);
    snprintf(json, sizeof json, "%s/c.json", dir);
    snprintf(junit, sizeof junit, "%s/c.xml", dir);
    /* What compare wrote before the hook runs. */
    put_file(md, "# comparison\n");
    put_file(json, "{\"schema\": \"x\"}");
    put_file(junit, "<?xml version=\"1.0\"?>\n<testsuites>\n  <testsuite name=\"cmp\">\n  "
                    "</testsuite>\n</testsuites>\n");
    bench_scenario *s = parse_gates_ok("[{\"metric\": \"recall_at_k\", \"above\": {\"pass\": "
                                       "0.95}, \"where\": {\"kind\": \"ivf\"}}]");
    cJSON *doc = make_result(s, six, 6, false);
    /* With gates the gates decide (a failing one: 1, whatever compare said). */
    int rc = bench_gates_compare_cli(doc, "c.json", doc, "b.json", NULL, false, md, json, junit, 0);
    assert_int_equal(rc, 1);
    char *text = get_file(md);
    assert_true(strncmp(text, "# comparison\n\n## Gates: g\n", 26) == 0);
    free(text);
    text = get_file(json);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_string_equal(cJSON_GetObjectItem(j, "schema")->valuestring, "x");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "gates"), "exit_code")->valueint,
                     1);
    cJSON_Delete(j);
    text = get_file(junit);
    /* The gates' suite inside compare's <testsuites>, compare's own suite kept. */
    assert_non_null(strstr(text, "<testsuite name=\"cmp\">"));
    const char *suite = strstr(text, "<testsuite name=\"g\"");
    assert_non_null(suite);
    assert_true(suite < strstr(text, "</testsuites>"));
    assert_int_equal(count(text, "</testsuites>"), 1);
    free(text);

    /* Without gates compare's own exit code stands and its files are left alone. */
    cJSON *eff = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "scenario"), "effective");
    cJSON_DeleteItemFromObject(eff, "gates");
    put_file(md, "# comparison\n");
    assert_int_equal(
        bench_gates_compare_cli(doc, "c.json", doc, "b.json", NULL, false, md, NULL, NULL, 1), 1);
    assert_int_equal(
        bench_gates_compare_cli(doc, "c.json", doc, "b.json", NULL, true, md, NULL, NULL, 0), 0);
    text = get_file(md);
    assert_string_equal(text, "# comparison\n");
    free(text);
    /* Bad gates: exit 2. */
    cJSON *bad = cJSON_Parse("[{\"metric\": \"latency_p7\", \"below\": {\"pass\": 1}}]");
    cJSON_AddItemToObject(eff, "gates", bad);
    assert_int_equal(
        bench_gates_compare_cli(doc, "c.json", doc, "b.json", NULL, false, NULL, NULL, NULL, 0), 2);
    cJSON_Delete(doc);
    bench_scenario_free(s);
    remove(md);
    remove(json);
    remove(junit);
    rmdir(dir);
}

/* ---- the noise file ------------------------------------------------------------------- */

static const char good_noise[] =
    "{\"schema\": \"lore-noise/1\", \"scenario\": \"g\", \"machine_class\": \"x-2c-24g-skx\","
    " \"runs\": 5, \"pairs\": 10, \"points\": {\"kind=flat\": {\"throughput\": {\"floor\": 0.031,"
    " \"ci_half_width\": 0.01, \"max\": 0.04, \"n_pairs\": 10, \"false_changes\": 0},"
    " \"latency_p99\": {\"floor\": 0.2, \"ci_half_width\": null, \"max\": 0.3, \"n_pairs\": 10}}}}";

static void test_noise_file(void **state)
{
    (void)state;
    cJSON *doc = cJSON_Parse(good_noise);
    bench_err e = {{0}};
    assert_int_equal(bench_noise_validate(doc, "n.json", &e), 0);
    /* Observed changes past 10x are allowed; only the floor is bounded. */
    cJSON_ReplaceItemInObject(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "points"), "kind=flat"),
                            "latency_p99"),
        "max", cJSON_CreateNumber(12.3));
    assert_int_equal(bench_noise_validate(doc, "n.json", &e), 0);
    assert_true(bench_noise_floor(doc, "kind=flat", "throughput") == 0.031);
    assert_true(bench_noise_floor(doc, "kind=flat", "latency_p99") == 0.2);
    assert_true(isnan(bench_noise_floor(doc, "kind=flat", "latency_p50")));
    assert_true(isnan(bench_noise_floor(doc, "kind=ivf", "throughput")));
    assert_true(isnan(bench_noise_floor(NULL, "kind=flat", "throughput")));
    cJSON_Delete(doc);

    static const struct {
        const char *from, *to, *msg;
    } bad[] = {
        {"lore-noise/1", "lore-noise/2",
         "n.json: $.schema: must be \"lore-noise/1\" (got "
         "\"lore-noise/2\")"},
        {"\"runs\": 5", "\"runs\": 1", "n.json: $.runs: must be an integer >= 2 (got 1)"},
        {"\"machine_class\": \"x-2c-24g-skx\"", "\"machine_class\": \"\"",
         "n.json: $.machine_class: must be a non-empty string (got \"\")"},
        {"\"floor\": 0.031", "\"floor\": -0.1",
         "n.json: $.points[\"kind=flat\"].throughput.floor: must be a number in [0, 10) (0.04 = "
         "4%) (got -0.1)"},
        {"\"floor\": 0.031", "\"floor\": \"3%\"",
         "n.json: $.points[\"kind=flat\"].throughput.floor: must be a number in [0, 10) (0.04 = "
         "4%) (got \"3%\")"},
        {"\"floor\": 0.031,", "",
         "n.json: $.points[\"kind=flat\"].throughput.floor: missing required field"},
        {"\"n_pairs\": 10, \"false", "\"n_pairs\": 0.5, \"false",
         "n.json: $.points[\"kind=flat\"].throughput.n_pairs: must be an integer >= 1 (got 0.5)"},
        {"\"max\": 0.3", "\"max\": null",
         "n.json: $.points[\"kind=flat\"].latency_p99.max: must be a number >= 0 (0.04 = 4%) (got "
         "null)"},
        {"\"floor\": 0.2", "\"floor\": 10",
         "n.json: $.points[\"kind=flat\"].latency_p99.floor: must be a number in [0, 10) (0.04 = "
         "4%) (got 10)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        const char *at = strstr(good_noise, bad[i].from);
        assert_non_null(at);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good_noise), good_noise, bad[i].to,
                 at + strlen(bad[i].from));
        doc = cJSON_Parse(text);
        assert_non_null(doc);
        if (bench_noise_validate(doc, "n.json", &e) == 0)
            fail_msg("row %zu validated", i);
        if (strcmp(e.msg, bad[i].msg) != 0)
            fail_msg("row %zu:\n got: %s\nwant: %s", i, e.msg, bad[i].msg);
        cJSON_Delete(doc);
    }
    /* The floor's t quantiles (tables of Student's t at 0.9995) and the bound itself. */
    assert_true(isnan(bench_noise_t_9995(0)));
    assert_double_equal(bench_noise_t_9995(1), 636.62, 0.01);
    assert_double_equal(bench_noise_t_9995(4), 8.610, 0.001);
    assert_double_equal(bench_noise_t_9995(40), 3.551, 0.002);
    assert_double_equal(bench_noise_t_9995(120), 3.373, 0.002);
    const double ln[] = {0, 0.01, -0.01, 0.02, -0.02}; /* sd 0.0158114 */
    assert_double_equal(bench_noise_prediction_floor(ln, 5), 0.212307, 1e-5);
    assert_true(isnan(bench_noise_prediction_floor(ln, 1)));
    assert_true(bench_noise_prediction_floor(ln, 2) > 10); /* one pair: t(1) = 636 */

    /* Reading a file that is not there names it. */
    cJSON *out = (cJSON *)1;
    assert_int_equal(bench_noise_read("/nonexistent/noise.json", &out, &e), -1);
    assert_null(out);
    assert_has(e.msg, "/nonexistent/noise.json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),   cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_bands),        cmocka_unit_test(test_where),
        cmocka_unit_test(test_unjudgeable),  cmocka_unit_test(test_unknown_metric),
        cmocka_unit_test(test_relative),     cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_writers),      cmocka_unit_test(test_scenario_of_result),
        cmocka_unit_test(test_compare_hook), cmocka_unit_test(test_noise_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
