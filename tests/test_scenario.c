/*
 * test_scenario.c - scenario parsing, --set and the effective-scenario JSON.
 *
 * Valid files are checked field by field against the values they spell out
 * (and bench_policy_default / the workload's declared defaults where they
 * are silent). Invalid inputs are table-driven: each row is one kind of
 * mistake, run as its own cmocka test, and the message must read
 * "FILE: $.json.path: what is wrong (got X)" with the exact path and, where
 * the file holds a value, that value. --set errors must name the assignment
 * and leave the scenario untouched. bench_scenario_to_json is checked by
 * content and by parsing its printed text back to an equivalent scenario.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

#define SCENARIO_DIR LORE_FIXTURES_DIR "/scenarios"
#define REPO_DIR LORE_FIXTURES_DIR "/../.."

/* The inline twin of fixtures/scenarios/valid_sweep.json. */
static const char full_text[] =
    "{\n"
    "    \"schema\": \"lore-scenario/1\",\n"
    "    \"name\": \"full-1.x_y\",\n"
    "    \"description\": \"Every field set: a 2 x 3 sgemm grid over fixed n and threads.\",\n"
    "    \"workload\": \"sgemm\",\n"
    "    \"params\": {\"n\": 128, \"threads\": 2},\n"
    "    \"sweep\": {\"m\": [64, 128], \"k\": [1, 2, 3]},\n"
    "    \"measure\": {\"warmup_ops\": 5, \"warmup_s\": 0.25, \"min_samples\": 20,\n"
    "                \"max_samples\": 5000, \"min_time_s\": 0.125, \"max_time_s\": 3,\n"
    "                \"repetitions\": 4},\n"
    "    \"counters\": [\"PAPI_TOT_CYC\", \"PAPI_TOT_INS\"]\n"
    "}\n";

/* ---- helpers ------------------------------------------------------------ */

static bench_scenario *parse_ok(const char *path, const char *text)
{
    bench_scenario *s = NULL;
    bench_err e = {{0}};
    if (bench_scenario_parse(path, text, &s, &e) != 0)
        fail_msg("parse of %s failed: %s", path, e.msg);
    assert_non_null(s);
    return s;
}

static bench_scenario *load_ok(const char *path)
{
    bench_scenario *s = NULL;
    bench_err e = {{0}};
    if (bench_scenario_load(path, &s, &e) != 0)
        fail_msg("load of %s failed: %s", path, e.msg);
    assert_non_null(s);
    return s;
}

static void set_ok(bench_scenario *s, const char *assignment)
{
    bench_err e = {{0}};
    if (bench_scenario_apply_set(s, assignment, &e) != 0)
        fail_msg("--set %s failed: %s", assignment, e.msg);
}

static void assert_has(const char *msg, const char *needle)
{
    if (!strstr(msg, needle))
        fail_msg("message lacks \"%s\": %s", needle, msg);
}

/*
 * msg must start "FILE: PATH: " (so "$.sweep.m" cannot pass for "$.sweep.m[1]")
 * and, when got is given, contain "(got GOT)".
 */
static void assert_located(const char *msg, const char *file, const char *path, const char *got)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s: %s: ", file, path);
    if (strncmp(msg, prefix, strlen(prefix)) != 0)
        fail_msg("message does not start \"%s\": %s", prefix, msg);
    if (got) {
        char shown[256];
        snprintf(shown, sizeof shown, "(got %s)", got);
        assert_has(msg, shown);
    }
}

static int param_index(const bench_scenario *s, const char *name)
{
    int idx = bench_workload_param_index(s->workload, name);
    if (idx < 0)
        fail_msg("workload %s has no parameter %s", s->workload->name, name);
    return idx;
}

static int64_t fixed_int(const bench_scenario *s, const char *name)
{
    const bench_value *v = &s->fixed[param_index(s, name)];
    assert_int_equal(v->type, BENCH_PARAM_INT);
    return v->i;
}

/* The axis of parameter name must hold exactly want[0..n). */
static void assert_axis_ints(const bench_scenario *s, const char *name, const int64_t *want,
                             size_t n)
{
    const bench_axis *a = bench_scenario_axis(s, param_index(s, name));
    if (!a)
        fail_msg("no sweep axis for %s", name);
    assert_int_equal(a->n_values, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a->values[i].type, BENCH_PARAM_INT);
        assert_int_equal(a->values[i].i, want[i]);
    }
}

static void assert_policy_equal(const bench_policy *a, const bench_policy *b)
{
    assert_int_equal(a->warmup_ops, b->warmup_ops);
    assert_true(a->warmup_s == b->warmup_s);
    assert_int_equal(a->min_samples, b->min_samples);
    assert_int_equal(a->max_samples, b->max_samples);
    assert_true(a->min_time_s == b->min_time_s);
    assert_true(a->max_time_s == b->max_time_s);
    assert_int_equal(a->repetitions, b->repetitions);
}

/*
 * Same effective scenario: name, description, workload, axes (order and
 * values), fixed values of the parameters that are not swept, policy,
 * counters. The path is not compared (it names where the text came from).
 */
static void assert_equivalent(const bench_scenario *a, const bench_scenario *b)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->description, b->description);
    assert_ptr_equal(a->workload, b->workload);
    assert_int_equal(a->n_axes, b->n_axes);
    for (size_t i = 0; i < a->n_axes; i++) {
        assert_int_equal(a->axes[i].param, b->axes[i].param);
        assert_int_equal(a->axes[i].n_values, b->axes[i].n_values);
        for (size_t j = 0; j < a->axes[i].n_values; j++)
            assert_true(bench_value_equal(&a->axes[i].values[j], &b->axes[i].values[j]));
    }
    for (size_t i = 0; i < a->workload->n_params; i++)
        if (!bench_scenario_axis(a, (int)i))
            assert_true(bench_value_equal(&a->fixed[i], &b->fixed[i]));
    assert_policy_equal(&a->policy, &b->policy);
    assert_int_equal(a->counters == NULL, b->counters == NULL);
    assert_int_equal(a->n_counters, b->n_counters);
    for (size_t i = 0; i < a->n_counters; i++)
        assert_string_equal(a->counters[i], b->counters[i]);
}

/* to_json, print, parse the text back: it must be s again. */
static void assert_round_trips(const bench_scenario *s)
{
    cJSON *json = bench_scenario_to_json(s);
    assert_non_null(json);
    char *text = cJSON_Print(json);
    cJSON_Delete(json);
    assert_non_null(text);
    bench_scenario *back = NULL;
    bench_err e = {{0}};
    int rc = bench_scenario_parse("effective.json", text, &back, &e);
    if (rc != 0) {
        print_error("effective JSON:\n%s\n", text);
        free(text);
        fail_msg("the effective JSON does not parse: %s", e.msg);
    }
    free(text);
    assert_equivalent(s, back);
    bench_scenario_free(back);
}

/* The scenario's effective JSON, unformatted (caller frees). */
static char *json_text(const bench_scenario *s)
{
    cJSON *json = bench_scenario_to_json(s);
    assert_non_null(json);
    char *text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    assert_non_null(text);
    return text;
}

/* The full file's contents, checked field by field. */
static void assert_is_full(const bench_scenario *s)
{
    assert_string_equal(s->name, "full-1.x_y");
    assert_string_equal(s->description,
                        "Every field set: a 2 x 3 sgemm grid over fixed n and threads.");
    assert_ptr_equal(s->workload, bench_workload_find("sgemm"));
    assert_int_equal(fixed_int(s, "n"), 128);
    assert_int_equal(fixed_int(s, "threads"), 2);
    /* Fixed by "params", so not swept. */
    assert_null(bench_scenario_axis(s, param_index(s, "n")));
    assert_null(bench_scenario_axis(s, param_index(s, "threads")));
    assert_int_equal(s->n_axes, 2);
    /* Axes keep file order: m first (slowest), then k. */
    assert_int_equal(s->axes[0].param, param_index(s, "m"));
    assert_int_equal(s->axes[1].param, param_index(s, "k"));
    assert_axis_ints(s, "m", (const int64_t[]){64, 128}, 2);
    assert_axis_ints(s, "k", (const int64_t[]){1, 2, 3}, 3);
    assert_int_equal(s->policy.warmup_ops, 5);
    assert_true(s->policy.warmup_s == 0.25);
    assert_int_equal(s->policy.min_samples, 20);
    assert_int_equal(s->policy.max_samples, 5000);
    assert_true(s->policy.min_time_s == 0.125);
    assert_true(s->policy.max_time_s == 3.0);
    assert_int_equal(s->policy.repetitions, 4);
    assert_non_null(s->counters);
    assert_int_equal(s->n_counters, 2);
    assert_string_equal(s->counters[0], "PAPI_TOT_CYC");
    assert_string_equal(s->counters[1], "PAPI_TOT_INS");
}

/* ---- valid files -------------------------------------------------------- */

static void test_policy_default_values(void **state)
{
    (void)state;
    bench_policy p = bench_policy_default();
    assert_int_equal(p.warmup_ops, 1);
    assert_true(p.warmup_s == 0.1);
    assert_int_equal(p.min_samples, 10);
    assert_int_equal(p.max_samples, 100000);
    assert_true(p.min_time_s == 0.5);
    assert_true(p.max_time_s == 10.0);
    assert_int_equal(p.repetitions, 1);
}

static void test_parse_minimal_gets_defaults(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("min.json", "{\"name\": \"minimal\", \"workload\": \"sgemm\"}");
    assert_string_equal(s->path, "min.json");
    assert_string_equal(s->name, "minimal");
    assert_string_equal(s->description, "");
    assert_ptr_equal(s->workload, bench_workload_find("sgemm"));
    assert_int_equal(fixed_int(s, "m"), 256);
    assert_int_equal(fixed_int(s, "n"), 256);
    assert_int_equal(fixed_int(s, "k"), 256);
    assert_int_equal(fixed_int(s, "threads"), 1);
    assert_int_equal(s->n_axes, 0);
    assert_null(s->axes);
    bench_policy def = bench_policy_default();
    assert_policy_equal(&s->policy, &def);
    assert_null(s->counters);
    assert_int_equal(s->n_counters, 0);
    bench_scenario_free(s);
}

static void test_parse_minimal_other_workloads(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("s.json", "{\"name\": \"s\", \"workload\": \"stream\"}");
    assert_int_equal(fixed_int(s, "n"), 8388608);
    bench_scenario_free(s);

    s = parse_ok("o.json", "{\"name\": \"o\", \"workload\": \"noop\", \"params\": {}}");
    assert_ptr_equal(s->workload, bench_workload_find("noop"));
    assert_int_equal(s->workload->n_params, 0);
    assert_int_equal(s->n_axes, 0);
    bench_scenario_free(s);
}

static void test_parse_full(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("full.json", full_text);
    assert_string_equal(s->path, "full.json");
    assert_is_full(s);
    bench_scenario_free(s);
}

static void test_parse_empty_counters_is_not_default(void **state)
{
    (void)state;
    bench_scenario *s =
        parse_ok("c.json", "{\"name\": \"c\", \"workload\": \"noop\", \"counters\": []}");
    /* [] asks for no counters; only an absent field means the default set. */
    assert_non_null(s->counters);
    assert_int_equal(s->n_counters, 0);
    bench_scenario_free(s);
}

static void test_parse_integral_float_and_bounds_accepted(void **state)
{
    (void)state;
    /* 64.0 is an integer; the range bounds themselves are allowed. */
    bench_scenario *s = parse_ok("b.json", "{\"name\": \"b\", \"workload\": \"sgemm\",\n"
                                           " \"params\": {\"m\": 64.0, \"n\": 1, \"k\": 16384,"
                                           " \"threads\": 256},\n"
                                           " \"measure\": {\"repetitions\": 1000,"
                                           " \"max_samples\": 1000,"
                                           " \"min_time_s\": 0, \"max_time_s\": 1e-6}}");
    assert_int_equal(fixed_int(s, "m"), 64);
    assert_int_equal(fixed_int(s, "n"), 1);
    assert_int_equal(fixed_int(s, "k"), 16384);
    assert_int_equal(fixed_int(s, "threads"), 256);
    assert_int_equal(s->policy.repetitions, 1000);
    bench_scenario_free(s);
}

static void test_load_fixture_full(void **state)
{
    (void)state;
    const char *path = SCENARIO_DIR "/valid_sweep.json";
    bench_scenario *s = load_ok(path);
    assert_string_equal(s->path, path);
    assert_is_full(s);
    bench_scenario *inline_twin = parse_ok("full.json", full_text);
    assert_equivalent(s, inline_twin);
    bench_scenario_free(inline_twin);
    bench_scenario_free(s);
}

static void test_load_fixture_minimal(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(SCENARIO_DIR "/valid_minimal.json");
    assert_string_equal(s->name, "minimal");
    assert_int_equal(fixed_int(s, "m"), 256);
    assert_int_equal(s->n_axes, 0);
    bench_scenario_free(s);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    const char *path = SCENARIO_DIR "/no_such_scenario.json";
    bench_scenario sentinel;
    bench_scenario *s = &sentinel; /* must be reset to NULL */
    bench_err e = {{0}};
    assert_int_equal(bench_scenario_load(path, &s, &e), -1);
    assert_null(s);
    assert_has(e.msg, path);
    assert_has(e.msg, "cannot open");
}

static void test_load_fixture_invalid_value_names_file(void **state)
{
    (void)state;
    const char *path = SCENARIO_DIR "/invalid_sweep_value.json";
    bench_scenario *s = NULL;
    bench_err e = {{0}};
    assert_int_equal(bench_scenario_load(path, &s, &e), -1);
    assert_null(s);
    assert_located(e.msg, path, "$.sweep.threads[2]", "512");
    assert_has(e.msg, "[1, 256]");
}

static void test_load_fixture_invalid_json_line_column(void **state)
{
    (void)state;
    const char *path = SCENARIO_DIR "/invalid_json.json";
    bench_scenario *s = NULL;
    bench_err e = {{0}};
    assert_int_equal(bench_scenario_load(path, &s, &e), -1);
    assert_null(s);
    assert_located(e.msg, path, "$", NULL);
    assert_has(e.msg, "invalid JSON at line 4, column ");
    /*
     * Was a bug: the column was one too far whenever cJSON fails where an object key
     * is expected (a trailing comma, an unquoted key): cJSON 1.7.15's
     * parse_string leaves its error offset one past the offending character
     * and scenario.c reports it as is. Here the '}' after "64," is column 24;
     * the message says "line 4, column 25 (near "\n}")". Likewise
     * "{ a: 1}" reports column 4 for the 'a' at column 3.
     */
    assert_has(e.msg, "line 4, column 24");
}

static void test_repo_smoke(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(REPO_DIR "/scenarios/smoke.json");
    assert_string_equal(s->name, "smoke");
    assert_ptr_equal(s->workload, bench_workload_find("sgemm"));
    assert_int_equal(fixed_int(s, "threads"), 1);
    assert_int_equal(s->n_axes, 3);
    assert_axis_ints(s, "m", (const int64_t[]){64, 128}, 2);
    assert_axis_ints(s, "n", (const int64_t[]){64}, 1);
    assert_axis_ints(s, "k", (const int64_t[]){64, 256}, 2);
    assert_int_equal(s->policy.min_samples, 20);
    assert_true(s->policy.max_time_s == 2.0);
    assert_null(s->counters);
    assert_round_trips(s);
    bench_scenario_free(s);
}

static void test_repo_calibration(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(REPO_DIR "/scenarios/calibration.json");
    assert_string_equal(s->name, "calibration");
    assert_int_equal(s->n_axes, 2);
    assert_axis_ints(s, "m", (const int64_t[]){128, 256, 512, 1024}, 4);
    assert_axis_ints(s, "threads", (const int64_t[]){1, 2}, 2);
    assert_int_equal(s->policy.repetitions, 3);
    assert_round_trips(s);
    bench_scenario_free(s);
}

static void test_repo_overhead(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(REPO_DIR "/scenarios/overhead.json");
    assert_string_equal(s->name, "overhead");
    assert_ptr_equal(s->workload, bench_workload_find("noop"));
    assert_int_equal(s->n_axes, 0);
    assert_int_equal(s->policy.warmup_ops, 1000);
    assert_int_equal(s->policy.min_samples, 100000);
    assert_int_equal(s->policy.max_samples, 200000);
    assert_true(s->policy.min_time_s == 0.0);
    assert_int_equal(s->policy.repetitions, 5);
    assert_round_trips(s);
    bench_scenario_free(s);
}

static void test_repo_stream(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(REPO_DIR "/scenarios/stream.json");
    assert_string_equal(s->name, "stream");
    assert_ptr_equal(s->workload, bench_workload_find("stream"));
    assert_axis_ints(s, "n", (const int64_t[]){65536, 1048576, 8388608, 33554432}, 4);
    assert_round_trips(s);
    bench_scenario_free(s);
}

/* The embedding scenarios: they load, name their workload and sweep what the issue asks. */
static void test_repo_embedding_scenarios(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(REPO_DIR "/scenarios/embed_batch.json");
    assert_ptr_equal(s->workload, bench_workload_find("embed"));
    assert_axis_ints(s, "batch_size", (const int64_t[]){1, 8, 16, 32, 64, 128}, 6);
    assert_axis_ints(s, "seq_len", (const int64_t[]){32, 128}, 2);
    assert_round_trips(s);
    bench_scenario_free(s);
    s = load_ok(REPO_DIR "/scenarios/nli_batch.json");
    assert_ptr_equal(s->workload, bench_workload_find("nli"));
    assert_axis_ints(s, "batch_size", (const int64_t[]){1, 4, 8, 16, 32}, 5);
    assert_round_trips(s);
    bench_scenario_free(s);
    const char *others[] = {"embed_padding", "embed_cache", "embed_threads"};
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/scenarios/%s.json", REPO_DIR, others[i]);
        s = load_ok(path);
        assert_string_equal(s->name, others[i]);
        assert_ptr_equal(s->workload, bench_workload_find("embed"));
        assert_round_trips(s);
        bench_scenario_free(s);
    }
}

/* Floats print in the shortest form that reads back exactly (point ids use it). */
static void test_float_format_shortest(void **state)
{
    (void)state;
    const struct {
        double v;
        const char *text;
    } rows[] = {{0.3, "0.3"}, {0.9, "0.9"}, {0, "0"}, {64, "64"}, {1e-7, "1e-07"},
                {0.1 + 0.2, "0.30000000000000004"}, {1.0 / 3, "0.3333333333333333"}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bench_value v = {.type = BENCH_PARAM_FLOAT, .f = rows[i].v};
        char buf[64];
        bench_value_format(&v, buf, sizeof buf);
        assert_string_equal(buf, rows[i].text);
        assert_true(strtod(buf, NULL) == rows[i].v);
    }
}

/* ---- invalid files: one row per kind of mistake ------------------------- */

typedef struct bad_case {
    const char *name;
    const char *text;
    const char *path;   /* exact JSON path the message must name */
    const char *got;    /* the value shown as "(got X)", or NULL */
    const char *has[4]; /* further substrings the message must hold */
} bad_case;

#define WL "\"name\": \"t\", \"workload\": \"sgemm\""

/* clang-format off */
static const bad_case bad_cases[] = {
    {"invalid_json", "{\n  \"name\": \"x\",\n  \"workload\": tru\n}", "$", NULL,
     {"invalid JSON", "line 3, column 15", "near \"tru"}},
    {"invalid_json_trailing_text", "{\"name\": \"x\"} x", "$", NULL,
     {"invalid JSON", "line 1, column 15"}},
    {"invalid_json_empty", "", "$", NULL, {"invalid JSON", "line 1"}},
    {"root_not_object", "[1, 2]", "$", "[1,2]", {"object"}},
    {"unknown_top_field", "{" WL ", \"repeat\": 3}", "$.repeat", NULL,
     {"unknown field", "workload"}},
    {"unknown_measure_field", "{" WL ", \"measure\": {\"min_time\": 1}}", "$.measure.min_time",
     NULL, {"unknown field", "min_time_s"}},
    {"duplicate_top_field", "{\"name\": \"a\", \"name\": \"b\", \"workload\": \"sgemm\"}", "$.name",
     NULL, {"duplicate"}},
    {"duplicate_params_field", "{" WL ", \"params\": {\"m\": 64, \"m\": 128}}", "$.params.m", NULL,
     {"duplicate"}},
    {"duplicate_sweep_field", "{" WL ", \"sweep\": {\"m\": [64], \"m\": [128]}}", "$.sweep.m",
     NULL, {"duplicate"}},
    {"duplicate_measure_field",
     "{" WL ", \"measure\": {\"repetitions\": 2, \"repetitions\": 3}}", "$.measure.repetitions",
     NULL, {"duplicate"}},
    {"missing_name", "{\"workload\": \"sgemm\"}", "$.name", NULL, {"missing"}},
    {"bad_name_characters", "{\"name\": \"my scenario\", \"workload\": \"sgemm\"}", "$.name",
     "\"my scenario\"", {"A-Za-z0-9_.-"}},
    {"name_not_string", "{\"name\": 5, \"workload\": \"sgemm\"}", "$.name", "5", {0}},
    {"name_empty", "{\"name\": \"\", \"workload\": \"sgemm\"}", "$.name", "\"\"", {0}},
    {"name_too_long",
     "{\"name\": \"a123456789b123456789c123456789d123456789e123456789f123456789xyzzy\","
     " \"workload\": \"sgemm\"}",
     "$.name", NULL, {"1-64"}},
    {"missing_workload", "{\"name\": \"t\"}", "$.workload", NULL, {"missing"}},
    {"workload_not_string", "{\"name\": \"t\", \"workload\": 3}", "$.workload", "3", {0}},
    {"unknown_workload", "{\"name\": \"t\", \"workload\": \"dgemm\"}", "$.workload", "\"dgemm\"",
     {"sgemm", "stream", "noop"}},
    {"wrong_schema", "{\"schema\": \"lore-scenario/2\", " WL "}", "$.schema",
     "\"lore-scenario/2\"", {"lore-scenario/1"}},
    {"schema_not_string", "{\"schema\": 1, " WL "}", "$.schema", "1", {0}},
    {"description_not_string", "{" WL ", \"description\": [\"x\"]}", "$.description",
     "[\"x\"]", {0}},
    {"params_not_object", "{" WL ", \"params\": [64]}", "$.params", "[64]", {0}},
    {"unknown_param", "{" WL ", \"params\": {\"q\": 1}}", "$.params.q", NULL,
     {"unknown parameter", "sgemm"}},
    {"unknown_param_noop", "{\"name\": \"t\", \"workload\": \"noop\", \"params\": {\"m\": 1}}",
     "$.params.m", NULL, {"unknown parameter", "noop"}},
    {"unknown_sweep_param", "{" WL ", \"sweep\": {\"q\": [1, 2]}}", "$.sweep.q", NULL,
     {"unknown parameter", "sgemm"}},
    {"param_in_params_and_sweep",
     "{" WL ", \"params\": {\"m\": 64}, \"sweep\": {\"m\": [64, 128]}}", "$.sweep.m", NULL,
     {"$.params"}},
    {"param_string_for_int", "{" WL ", \"params\": {\"m\": \"64\"}}", "$.params.m", "\"64\"",
     {"integer"}},
    {"param_float_for_int", "{" WL ", \"params\": {\"m\": 1.5}}", "$.params.m", "1.5",
     {"integer"}},
    {"param_bool_for_int", "{" WL ", \"params\": {\"threads\": true}}", "$.params.threads",
     "true", {"integer"}},
    {"param_null_for_int", "{" WL ", \"params\": {\"k\": null}}", "$.params.k", "null",
     {"integer"}},
    {"param_below_range", "{" WL ", \"params\": {\"m\": 0}}", "$.params.m", "0",
     {"[1, 16384]"}},
    {"param_above_range", "{" WL ", \"params\": {\"threads\": 1000}}", "$.params.threads", "1000",
     {"[1, 256]"}},
    {"sweep_not_object", "{" WL ", \"sweep\": [64, 128]}", "$.sweep", "[64,128]", {"object"}},
    {"sweep_not_list", "{" WL ", \"sweep\": {\"m\": 64}}", "$.sweep.m", "64", {"list"}},
    {"sweep_empty_list", "{" WL ", \"sweep\": {\"m\": []}}", "$.sweep.m", "[]", {"empty"}},
    {"sweep_wrong_type", "{" WL ", \"sweep\": {\"m\": [64, \"x\", 128]}}", "$.sweep.m[1]",
     "\"x\"", {"integer"}},
    {"sweep_float_for_int", "{" WL ", \"sweep\": {\"k\": [1, 2, 2.5]}}", "$.sweep.k[2]", "2.5",
     {"integer"}},
    {"sweep_out_of_range", "{" WL ", \"sweep\": {\"m\": [64], \"threads\": [1, 2, 300]}}",
     "$.sweep.threads[2]", "300", {"[1, 256]"}},
    {"sweep_duplicate_value", "{" WL ", \"sweep\": {\"m\": [64, 128, 64]}}", "$.sweep.m[2]", "64",
     {"duplicate"}},
    {"measure_not_object", "{" WL ", \"measure\": 5}", "$.measure", "5", {"object"}},
    {"measure_string_for_int", "{" WL ", \"measure\": {\"repetitions\": \"3\"}}",
     "$.measure.repetitions", "\"3\"", {"integer"}},
    {"measure_float_for_int", "{" WL ", \"measure\": {\"warmup_ops\": 1.5}}",
     "$.measure.warmup_ops", "1.5", {"integer"}},
    {"measure_bool_for_number", "{" WL ", \"measure\": {\"min_time_s\": true}}",
     "$.measure.min_time_s", "true", {"number"}},
    {"measure_repetitions_zero", "{" WL ", \"measure\": {\"repetitions\": 0}}",
     "$.measure.repetitions", "0", {"[1, 1000]"}},
    {"measure_negative_time", "{" WL ", \"measure\": {\"warmup_s\": -1}}", "$.measure.warmup_s",
     "-1", {0}},
    {"measure_max_time_below_min_time",
     "{" WL ", \"measure\": {\"min_time_s\": 2, \"max_time_s\": 1}}", "$.measure.max_time_s", "1",
     {"min_time_s"}},
    {"measure_max_samples_below_min_samples",
     "{" WL ", \"measure\": {\"min_samples\": 50, \"max_samples\": 10}}", "$.measure.max_samples",
     "10", {"min_samples"}},
    {"measure_samples_times_repetitions_too_large",
     "{" WL ", \"measure\": {\"max_samples\": 100000, \"repetitions\": 1000}}",
     "$.measure.max_samples", "100000 x 1000", {"repetitions"}},
    {"counters_not_list", "{" WL ", \"counters\": \"PAPI_TOT_CYC\"}", "$.counters",
     "\"PAPI_TOT_CYC\"", {0}},
    {"counters_element_not_string", "{" WL ", \"counters\": [\"PAPI_TOT_CYC\", 5]}",
     "$.counters[1]", "5", {0}},
    {"counters_element_empty", "{" WL ", \"counters\": [\"PAPI_TOT_CYC\", \"\"]}",
     "$.counters[1]", "\"\"", {0}},
    {"counters_duplicate", "{" WL ", \"counters\": [\"PAPI_TOT_CYC\", \"PAPI_TOT_CYC\"]}",
     "$.counters[1]", "\"PAPI_TOT_CYC\"", {"duplicate"}},
};
/* clang-format on */
#define N_BAD_CASES (sizeof bad_cases / sizeof bad_cases[0])

static void run_bad_case(void **state)
{
    const bad_case *c = *state;
    bench_scenario sentinel;
    bench_scenario *s = &sentinel; /* must be reset to NULL */
    bench_err e = {{0}};
    int rc = bench_scenario_parse("case.json", c->text, &s, &e);
    if (rc != -1)
        bench_scenario_free(rc == 0 ? s : NULL);
    assert_int_equal(rc, -1);
    assert_null(s);
    assert_located(e.msg, "case.json", c->path, c->got);
    for (size_t i = 0; i < 4 && c->has[i]; i++)
        assert_has(e.msg, c->has[i]);
}

/* ---- --set -------------------------------------------------------------- */

static void test_set_fixes_param(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("full.json", full_text);
    set_ok(s, "n=512");
    assert_int_equal(fixed_int(s, "n"), 512);
    set_ok(s, "threads=8");
    assert_int_equal(fixed_int(s, "threads"), 8);
    /* The sweep is untouched. */
    assert_int_equal(s->n_axes, 2);
    assert_axis_ints(s, "m", (const int64_t[]){64, 128}, 2);
    assert_axis_ints(s, "k", (const int64_t[]){1, 2, 3}, 3);
    bench_scenario_free(s);
}

static void test_set_single_value_replaces_sweep(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("full.json", full_text);
    set_ok(s, "m=512");
    assert_null(bench_scenario_axis(s, param_index(s, "m")));
    assert_int_equal(fixed_int(s, "m"), 512);
    assert_int_equal(s->n_axes, 1);
    assert_int_equal(s->axes[0].param, param_index(s, "k"));
    assert_axis_ints(s, "k", (const int64_t[]){1, 2, 3}, 3);
    /* The last axis too. */
    set_ok(s, "k=7");
    assert_int_equal(s->n_axes, 0);
    assert_int_equal(fixed_int(s, "k"), 7);
    bench_scenario_free(s);
}

static void test_set_list_replaces_sweep_in_place(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("full.json", full_text);
    set_ok(s, "m=1,2,3");
    assert_int_equal(s->n_axes, 2);
    /* Still the first (slowest) axis. */
    assert_int_equal(s->axes[0].param, param_index(s, "m"));
    assert_axis_ints(s, "m", (const int64_t[]){1, 2, 3}, 3);
    assert_axis_ints(s, "k", (const int64_t[]){1, 2, 3}, 3);
    bench_scenario_free(s);
}

static void test_set_list_adds_axis(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("min.json", "{\"name\": \"minimal\", \"workload\": \"sgemm\"}");
    set_ok(s, "k=1,2,3");
    assert_int_equal(s->n_axes, 1);
    assert_axis_ints(s, "k", (const int64_t[]){1, 2, 3}, 3);
    set_ok(s, "threads=1,2");
    assert_int_equal(s->n_axes, 2);
    /* A new axis goes last: it varies fastest. */
    assert_int_equal(s->axes[0].param, param_index(s, "k"));
    assert_int_equal(s->axes[1].param, param_index(s, "threads"));
    assert_axis_ints(s, "threads", (const int64_t[]){1, 2}, 2);
    bench_scenario_free(s);
}

static void test_set_measure(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("full.json", full_text);
    set_ok(s, "measure.min_time_s=0.1");
    assert_true(s->policy.min_time_s == 0.1);
    set_ok(s, "measure.repetitions=7");
    assert_int_equal(s->policy.repetitions, 7);
    set_ok(s, "measure.max_samples=20");
    assert_int_equal(s->policy.max_samples, 20);
    /* The rest stays as the file had it. */
    assert_int_equal(s->policy.warmup_ops, 5);
    assert_true(s->policy.max_time_s == 3.0);
    bench_scenario_free(s);
}

typedef struct bad_set {
    const char *name;
    const char *assignment;
    const char *has[3];
} bad_set;

/* clang-format off */
static const bad_set bad_sets[] = {
    {"set_no_equals", "m512", {"KEY=VALUE"}},
    {"set_empty_key", "=512", {"KEY=VALUE"}},
    {"set_empty_value", "m=", {0}},
    {"set_unknown_key", "q=1", {"unknown", "'q'", "sgemm"}},
    {"set_bad_value_type", "m=abc", {"integer", "\"abc\""}},
    {"set_float_for_int", "threads=1.5", {"integer", "1.5"}},
    {"set_leading_blank", "m= 64", {"integer", "\" 64\""}},
    {"set_trailing_blank", "m=64 ", {"integer", "\"64 \""}},
    {"set_bad_value_in_list", "k=1,x,3", {"integer", "\"x\""}},
    {"set_out_of_range", "threads=1000", {"[1, 256]", "1000"}},
    {"set_out_of_range_in_list", "m=64,0", {"[1, 16384]"}},
    {"set_duplicate_list_value", "k=1,2,1", {"duplicate"}},
    {"set_unknown_measure_field", "measure.min_time=1", {"unknown", "min_time"}},
    {"set_measure_bad_type", "measure.min_time_s=fast", {"number", "fast"}},
    {"set_measure_float_for_int", "measure.repetitions=2.5", {"integer"}},
    {"set_measure_out_of_range", "measure.repetitions=0", {"[1, 1000]"}},
    /* The file has max_time_s 3 and min_samples 20. */
    {"set_measure_min_time_above_max", "measure.min_time_s=5", {"max_time_s", "min_time_s"}},
    {"set_measure_max_time_below_min", "measure.max_time_s=0.1", {"max_time_s", "min_time_s"}},
    {"set_measure_max_samples_below_min", "measure.max_samples=5",
     {"max_samples", "min_samples"}},
    {"set_measure_samples_times_repetitions", "measure.max_samples=100000000",
     {"max_samples", "repetitions"}},
};
/* clang-format on */
#define N_BAD_SETS (sizeof bad_sets / sizeof bad_sets[0])

static void run_bad_set(void **state)
{
    const bad_set *c = *state;
    bench_scenario *s = parse_ok("full.json", full_text);
    char *before = json_text(s);
    bench_err e = {{0}};
    assert_int_equal(bench_scenario_apply_set(s, c->assignment, &e), -1);
    assert_has(e.msg, c->assignment);
    for (size_t i = 0; i < 3 && c->has[i]; i++)
        assert_has(e.msg, c->has[i]);
    /* A rejected --set changes nothing. */
    char *after = json_text(s);
    assert_string_equal(before, after);
    free(before);
    free(after);
    bench_scenario_free(s);
}

/* ---- effective JSON ------------------------------------------------------ */

static double json_number(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(item))
        fail_msg("\"%s\" is not a number in the effective JSON", key);
    return item->valuedouble;
}

static void assert_json_int_list(const cJSON *list, const int64_t *want, size_t n)
{
    assert_true(cJSON_IsArray(list));
    assert_int_equal(cJSON_GetArraySize(list), (int)n);
    size_t i = 0;
    for (const cJSON *v = list->child; v; v = v->next, i++)
        assert_true(cJSON_IsNumber(v) && v->valuedouble == (double)want[i]);
}

static void test_to_json_full(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("full.json", full_text);
    cJSON *j = bench_scenario_to_json(s);
    assert_non_null(j);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(j, "schema");
    assert_true(cJSON_IsString(schema));
    assert_string_equal(schema->valuestring, BENCH_SCENARIO_SCHEMA);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "name")->valuestring, "full-1.x_y");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "workload")->valuestring, "sgemm");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(j, "params");
    /* Every parameter not swept appears, defaults included. */
    assert_int_equal(cJSON_GetArraySize(params), 2);
    assert_true(json_number(params, "n") == 128);
    assert_true(json_number(params, "threads") == 2);
    const cJSON *sweep = cJSON_GetObjectItemCaseSensitive(j, "sweep");
    assert_int_equal(cJSON_GetArraySize(sweep), 2);
    assert_string_equal(sweep->child->string, "m");
    assert_json_int_list(cJSON_GetObjectItemCaseSensitive(sweep, "m"), (const int64_t[]){64, 128},
                         2);
    assert_json_int_list(cJSON_GetObjectItemCaseSensitive(sweep, "k"), (const int64_t[]){1, 2, 3},
                         3);
    const cJSON *measure = cJSON_GetObjectItemCaseSensitive(j, "measure");
    assert_true(json_number(measure, "warmup_ops") == 5);
    assert_true(json_number(measure, "warmup_s") == 0.25);
    assert_true(json_number(measure, "min_samples") == 20);
    assert_true(json_number(measure, "max_samples") == 5000);
    assert_true(json_number(measure, "min_time_s") == 0.125);
    assert_true(json_number(measure, "max_time_s") == 3);
    assert_true(json_number(measure, "repetitions") == 4);
    const cJSON *counters = cJSON_GetObjectItemCaseSensitive(j, "counters");
    assert_int_equal(cJSON_GetArraySize(counters), 2);
    assert_string_equal(counters->child->valuestring, "PAPI_TOT_CYC");
    cJSON_Delete(j);
    assert_round_trips(s);
    bench_scenario_free(s);
}

static void test_to_json_minimal(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("min.json", "{\"name\": \"minimal\", \"workload\": \"sgemm\"}");
    cJSON *j = bench_scenario_to_json(s);
    assert_non_null(j);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(j, "params");
    assert_true(json_number(params, "m") == 256);
    assert_true(json_number(params, "threads") == 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "sweep")), 0);
    /* No "counters": the default set stays the default set. */
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "counters"));
    assert_true(json_number(cJSON_GetObjectItemCaseSensitive(j, "measure"), "max_samples") ==
                100000);
    cJSON_Delete(j);
    assert_round_trips(s);
    bench_scenario_free(s);

    s = parse_ok("o.json", "{\"name\": \"o\", \"workload\": \"noop\", \"counters\": []}");
    assert_round_trips(s);
    bench_scenario_free(s);
}

static void test_to_json_after_sets(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("full.json", full_text);
    set_ok(s, "m=512");                  /* swept -> fixed */
    set_ok(s, "n=32,64");                /* fixed -> new (last) axis */
    set_ok(s, "k=4,5");                  /* sweep replaced in place */
    set_ok(s, "threads=4");              /* fixed -> fixed */
    set_ok(s, "measure.min_time_s=0.1"); /* policy */
    cJSON *j = bench_scenario_to_json(s);
    assert_non_null(j);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(j, "params");
    assert_int_equal(cJSON_GetArraySize(params), 2);
    assert_true(json_number(params, "m") == 512);
    assert_true(json_number(params, "threads") == 4);
    assert_null(cJSON_GetObjectItemCaseSensitive(params, "n"));
    assert_null(cJSON_GetObjectItemCaseSensitive(params, "k"));
    const cJSON *sweep = cJSON_GetObjectItemCaseSensitive(j, "sweep");
    assert_int_equal(cJSON_GetArraySize(sweep), 2);
    assert_string_equal(sweep->child->string, "k");
    assert_string_equal(sweep->child->next->string, "n");
    assert_json_int_list(sweep->child, (const int64_t[]){4, 5}, 2);
    assert_json_int_list(sweep->child->next, (const int64_t[]){32, 64}, 2);
    const cJSON *measure = cJSON_GetObjectItemCaseSensitive(j, "measure");
    assert_true(json_number(measure, "min_time_s") == 0.1);
    assert_true(json_number(measure, "max_time_s") == 3);
    cJSON_Delete(j);
    assert_round_trips(s);
    bench_scenario_free(s);
}

static void test_free_null(void **state)
{
    (void)state;
    bench_scenario_free(NULL);
}

/* ---- main ---------------------------------------------------------------- */

int main(void)
{
    static const struct CMUnitTest fixed_tests[] = {
        cmocka_unit_test(test_policy_default_values),
        cmocka_unit_test(test_parse_minimal_gets_defaults),
        cmocka_unit_test(test_parse_minimal_other_workloads),
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_parse_empty_counters_is_not_default),
        cmocka_unit_test(test_parse_integral_float_and_bounds_accepted),
        cmocka_unit_test(test_load_fixture_full),
        cmocka_unit_test(test_load_fixture_minimal),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_load_fixture_invalid_value_names_file),
        cmocka_unit_test(test_load_fixture_invalid_json_line_column),
        cmocka_unit_test(test_repo_smoke),
        cmocka_unit_test(test_repo_calibration),
        cmocka_unit_test(test_repo_overhead),
        cmocka_unit_test(test_repo_stream),
        cmocka_unit_test(test_set_fixes_param),
        cmocka_unit_test(test_set_single_value_replaces_sweep),
        cmocka_unit_test(test_set_list_replaces_sweep_in_place),
        cmocka_unit_test(test_set_list_adds_axis),
        cmocka_unit_test(test_set_measure),
        cmocka_unit_test(test_to_json_full),
        cmocka_unit_test(test_to_json_minimal),
        cmocka_unit_test(test_to_json_after_sets),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_repo_embedding_scenarios),
        cmocka_unit_test(test_float_format_shortest),
    };
    enum { N_FIXED = sizeof fixed_tests / sizeof fixed_tests[0] };
    /* Each table row runs as its own named test. */
    struct CMUnitTest tests[N_FIXED + N_BAD_CASES + N_BAD_SETS];
    size_t n = 0;
    for (size_t i = 0; i < N_FIXED; i++)
        tests[n++] = fixed_tests[i];
    for (size_t i = 0; i < N_BAD_CASES; i++)
        tests[n++] =
            (struct CMUnitTest){bad_cases[i].name, run_bad_case, NULL, NULL, (void *)&bad_cases[i]};
    for (size_t i = 0; i < N_BAD_SETS; i++)
        tests[n++] =
            (struct CMUnitTest){bad_sets[i].name, run_bad_set, NULL, NULL, (void *)&bad_sets[i]};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
