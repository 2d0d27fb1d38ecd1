/*
 * test_sweep.c - grid expansion and --filter.
 *
 * Expansion is checked against hand-written grids: exact ids, indices and
 * full parameter assignments in odometer order (the first axis slowest).
 * Filters are table-driven: each row lists the filters and the original
 * indices that must survive; every survivor must be the very point the
 * unfiltered grid had at that index (same id, same values), and n_total must
 * still count the whole grid. Filter errors must name the filter.
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
#include "sweep.h"

#define SCENARIO_DIR LORE_FIXTURES_DIR "/scenarios"
#define REPO_DIR LORE_FIXTURES_DIR "/../.."

/* ---- helpers ------------------------------------------------------------ */

static bench_scenario *parse_ok(const char *text)
{
    bench_scenario *s = NULL;
    bench_err e = {{0}};
    if (bench_scenario_parse("t.json", text, &s, &e) != 0)
        fail_msg("parse failed: %s", e.msg);
    return s;
}

static bench_scenario *load_ok(const char *path)
{
    bench_scenario *s = NULL;
    bench_err e = {{0}};
    if (bench_scenario_load(path, &s, &e) != 0)
        fail_msg("load of %s failed: %s", path, e.msg);
    return s;
}

static bench_grid *expand_ok(const bench_scenario *s)
{
    bench_grid *g = NULL;
    bench_err e = {{0}};
    if (bench_sweep_expand(s, &g, &e) != 0)
        fail_msg("expand failed: %s", e.msg);
    assert_non_null(g);
    return g;
}

static void assert_has(const char *msg, const char *needle)
{
    if (!strstr(msg, needle))
        fail_msg("message lacks \"%s\": %s", needle, msg);
}

/* Point i's value of integer parameter name, read the way a workload reads it. */
static int64_t point_int(const bench_grid *g, size_t i, const char *name)
{
    bench_params p = bench_grid_params(g, i);
    return bench_params_int(&p, name);
}

/* One expected sgemm point: its id and m, n, k, threads. */
typedef struct want_point {
    const char *id;
    int64_t m, n, k, threads;
} want_point;

static void assert_sgemm_grid(const bench_grid *g, const want_point *want, size_t n)
{
    assert_ptr_equal(g->workload, bench_workload_find("sgemm"));
    assert_int_equal(g->n_points, n);
    assert_int_equal(g->n_total, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g->points[i].index, i);
        assert_string_equal(g->points[i].id, want[i].id);
        assert_int_equal(point_int(g, i, "m"), want[i].m);
        assert_int_equal(point_int(g, i, "n"), want[i].n);
        assert_int_equal(point_int(g, i, "k"), want[i].k);
        assert_int_equal(point_int(g, i, "threads"), want[i].threads);
    }
}

/* The full grid of fixtures/scenarios/valid_sweep.json (n 128, threads 2 fixed). */
/* clang-format off */
static const want_point full_grid[] = {
    {"m=64,k=1", 64, 128, 1, 2},  {"m=64,k=2", 64, 128, 2, 2},  {"m=64,k=3", 64, 128, 3, 2},
    {"m=128,k=1", 128, 128, 1, 2}, {"m=128,k=2", 128, 128, 2, 2}, {"m=128,k=3", 128, 128, 3, 2},
};
/* clang-format on */
#define N_FULL (sizeof full_grid / sizeof full_grid[0])

/* ---- expansion ---------------------------------------------------------- */

static void test_no_sweep_one_default_point(void **state)
{
    (void)state;
    bench_scenario *s =
        parse_ok("{\"name\": \"d\", \"workload\": \"sgemm\", \"params\": {\"m\": 64}}");
    bench_grid *g = expand_ok(s);
    static const want_point want[] = {{"default", 64, 256, 256, 1}};
    assert_sgemm_grid(g, want, 1);
    bench_grid_free(g);
    bench_scenario_free(s);
}

static void test_no_params_workload(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(REPO_DIR "/scenarios/overhead.json");
    bench_grid *g = expand_ok(s);
    assert_ptr_equal(g->workload, bench_workload_find("noop"));
    assert_int_equal(g->n_points, 1);
    assert_int_equal(g->n_total, 1);
    assert_int_equal(g->points[0].index, 0);
    assert_string_equal(g->points[0].id, "default");
    assert_int_equal(bench_grid_params(g, 0).n, 0);
    bench_grid_free(g);
    bench_scenario_free(s);
}

static void test_grid_2x3_odometer(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(SCENARIO_DIR "/valid_sweep.json");
    bench_grid *g = expand_ok(s);
    assert_sgemm_grid(g, full_grid, N_FULL);
    bench_grid_free(g);
    bench_scenario_free(s);
}

static void test_grid_axis_order_is_file_order(void **state)
{
    (void)state;
    /* The same axes written k first: now k varies slowest. */
    bench_scenario *s = parse_ok("{\"name\": \"t\", \"workload\": \"sgemm\","
                                 " \"sweep\": {\"k\": [1, 2, 3], \"m\": [64, 128]}}");
    bench_grid *g = expand_ok(s);
    static const want_point want[] = {
        {"k=1,m=64", 64, 256, 1, 1},   {"k=1,m=128", 128, 256, 1, 1}, {"k=2,m=64", 64, 256, 2, 1},
        {"k=2,m=128", 128, 256, 2, 1}, {"k=3,m=64", 64, 256, 3, 1},   {"k=3,m=128", 128, 256, 3, 1},
    };
    assert_sgemm_grid(g, want, sizeof want / sizeof want[0]);
    bench_grid_free(g);
    bench_scenario_free(s);
}

static void test_grid_single_axis(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("{\"name\": \"t\", \"workload\": \"sgemm\","
                                 " \"params\": {\"m\": 32}, \"sweep\": {\"threads\": [4, 1, 2]}}");
    bench_grid *g = expand_ok(s);
    /* Values keep the list's order; they are not sorted. */
    static const want_point want[] = {
        {"threads=4", 32, 256, 256, 4},
        {"threads=1", 32, 256, 256, 1},
        {"threads=2", 32, 256, 256, 2},
    };
    assert_sgemm_grid(g, want, 3);
    bench_grid_free(g);
    bench_scenario_free(s);
}

static void test_grid_three_axes_smoke(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(REPO_DIR "/scenarios/smoke.json");
    bench_grid *g = expand_ok(s);
    static const want_point want[] = {
        {"m=64,n=64,k=64", 64, 64, 64, 1},
        {"m=64,n=64,k=256", 64, 64, 256, 1},
        {"m=128,n=64,k=64", 128, 64, 64, 1},
        {"m=128,n=64,k=256", 128, 64, 256, 1},
    };
    assert_sgemm_grid(g, want, 4);
    bench_grid_free(g);
    bench_scenario_free(s);
}

static void test_grid_stream(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(REPO_DIR "/scenarios/stream.json");
    bench_grid *g = expand_ok(s);
    static const int64_t n[] = {65536, 1048576, 8388608, 33554432};
    assert_int_equal(g->n_points, 4);
    for (size_t i = 0; i < 4; i++) {
        char id[64];
        snprintf(id, sizeof id, "n=%lld", (long long)n[i]);
        assert_string_equal(g->points[i].id, id);
        assert_int_equal(point_int(g, i, "n"), n[i]);
    }
    bench_grid_free(g);
    bench_scenario_free(s);
}

static void test_grid_after_set(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(SCENARIO_DIR "/valid_sweep.json");
    bench_err e = {{0}};
    /* m fixed (its axis goes), threads swept (a new, fastest axis). */
    assert_int_equal(bench_scenario_apply_set(s, "m=16", &e), 0);
    assert_int_equal(bench_scenario_apply_set(s, "threads=1,8", &e), 0);
    bench_grid *g = expand_ok(s);
    static const want_point want[] = {
        {"k=1,threads=1", 16, 128, 1, 1}, {"k=1,threads=8", 16, 128, 1, 8},
        {"k=2,threads=1", 16, 128, 2, 1}, {"k=2,threads=8", 16, 128, 2, 8},
        {"k=3,threads=1", 16, 128, 3, 1}, {"k=3,threads=8", 16, 128, 3, 8},
    };
    assert_sgemm_grid(g, want, 6);
    bench_grid_free(g);
    bench_scenario_free(s);
}

static void test_grid_points_own_their_values(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(SCENARIO_DIR "/valid_sweep.json");
    bench_grid *g = expand_ok(s);
    /* The grid outlives the scenario it came from. */
    bench_scenario_free(s);
    assert_sgemm_grid(g, full_grid, N_FULL);
    bench_grid_free(g);
}

static void test_grid_too_many_points(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("{\"name\": \"big\", \"workload\": \"sgemm\"}");
    /* 400 x 400 x 1 = 160000 > BENCH_SWEEP_MAX_POINTS. */
    char list[4096] = "";
    size_t used = 0;
    for (int i = 1; i <= 400; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%d", i > 1 ? "," : "", i);
    assert_true(used < sizeof list);
    char set[4200];
    bench_err e = {{0}};
    snprintf(set, sizeof set, "m=%s", list);
    assert_int_equal(bench_scenario_apply_set(s, set, &e), 0);
    snprintf(set, sizeof set, "n=%s", list);
    assert_int_equal(bench_scenario_apply_set(s, set, &e), 0);
    bench_grid sentinel;
    bench_grid *g = &sentinel;
    assert_int_equal(bench_sweep_expand(s, &g, &e), -1);
    assert_null(g);
    assert_has(e.msg, "t.json: $.sweep: ");
    assert_has(e.msg, "100000");
    bench_scenario_free(s);
}

static void test_grid_free_null(void **state)
{
    (void)state;
    bench_grid_free(NULL);
}

/* ---- filters ------------------------------------------------------------ */

typedef struct filter_case {
    const char *name;
    const char *filters[4];
    size_t n_filters;
    size_t keep[N_FULL]; /* original indices that survive, in order */
    size_t n_keep;
} filter_case;

/* clang-format off */
static const filter_case filter_cases[] = {
    {"filter_none", {0}, 0, {0, 1, 2, 3, 4, 5}, 6},
    {"filter_param_value", {"m=128"}, 1, {3, 4, 5}, 3},
    {"filter_param_value_inner_axis", {"k=2"}, 1, {1, 4}, 2},
    {"filter_id", {"id=m=64,k=2"}, 1, {1}, 1},
    {"filter_index", {"index=4"}, 1, {4}, 1},
    {"filter_index_zero", {"index=0"}, 1, {0}, 1},
    {"filter_same_key_is_or", {"k=1", "k=3"}, 2, {0, 2, 3, 5}, 4},
    {"filter_same_key_or_ids", {"id=m=128,k=3", "id=m=64,k=1"}, 2, {0, 5}, 2},
    {"filter_same_key_or_indices", {"index=5", "index=1", "index=2"}, 3, {1, 2, 5}, 3},
    {"filter_different_keys_is_and", {"m=64", "k=2"}, 2, {1}, 1},
    {"filter_or_within_and_across", {"k=1", "m=64", "k=3"}, 3, {0, 2}, 2},
    {"filter_id_and_index", {"id=m=64,k=2", "index=1"}, 2, {1}, 1},
    {"filter_fixed_param", {"threads=2"}, 1, {0, 1, 2, 3, 4, 5}, 6},
    {"filter_fixed_and_swept", {"n=128", "k=3"}, 2, {2, 5}, 2},
    {"filter_repeated_same_value", {"m=64", "m=64"}, 2, {0, 1, 2}, 3},
};
/* clang-format on */
#define N_FILTER_CASES (sizeof filter_cases / sizeof filter_cases[0])

static void run_filter_case(void **state)
{
    const filter_case *c = *state;
    bench_scenario *s = load_ok(SCENARIO_DIR "/valid_sweep.json");
    bench_grid *g = expand_ok(s);
    bench_err e = {{0}};
    if (bench_sweep_filter(g, c->filters, c->n_filters, &e) != 0)
        fail_msg("filter failed: %s", e.msg);
    assert_int_equal(g->n_total, N_FULL);
    assert_int_equal(g->n_points, c->n_keep);
    for (size_t i = 0; i < c->n_keep; i++) {
        /* The survivor is the very point the full grid had at that index. */
        const want_point *w = &full_grid[c->keep[i]];
        assert_int_equal(g->points[i].index, c->keep[i]);
        assert_string_equal(g->points[i].id, w->id);
        assert_int_equal(point_int(g, i, "m"), w->m);
        assert_int_equal(point_int(g, i, "n"), w->n);
        assert_int_equal(point_int(g, i, "k"), w->k);
        assert_int_equal(point_int(g, i, "threads"), w->threads);
    }
    bench_grid_free(g);
    bench_scenario_free(s);
}

static void test_filter_twice_keeps_original_indices(void **state)
{
    (void)state;
    bench_scenario *s = load_ok(SCENARIO_DIR "/valid_sweep.json");
    bench_grid *g = expand_ok(s);
    bench_err e = {{0}};
    const char *first[] = {"m=128"};
    assert_int_equal(bench_sweep_filter(g, first, 1, &e), 0);
    /* Index means the place in the full grid, not in what is left. */
    const char *second[] = {"index=5"};
    assert_int_equal(bench_sweep_filter(g, second, 1, &e), 0);
    assert_int_equal(g->n_points, 1);
    assert_int_equal(g->n_total, N_FULL);
    assert_int_equal(g->points[0].index, 5);
    assert_string_equal(g->points[0].id, "m=128,k=3");
    bench_grid_free(g);
    bench_scenario_free(s);
}

static void test_filter_default_point(void **state)
{
    (void)state;
    bench_scenario *s = parse_ok("{\"name\": \"d\", \"workload\": \"sgemm\"}");
    bench_grid *g = expand_ok(s);
    bench_err e = {{0}};
    const char *f[] = {"id=default", "m=256"};
    assert_int_equal(bench_sweep_filter(g, f, 2, &e), 0);
    assert_int_equal(g->n_points, 1);
    assert_string_equal(g->points[0].id, "default");
    bench_grid_free(g);
    bench_scenario_free(s);
}

typedef struct filter_error {
    const char *name;
    const char *filters[3];
    size_t n_filters;
    const char *has[3]; /* substrings the message must hold */
    bool emptied;       /* the error is "nothing left" (the grid is then empty) */
} filter_error;

/* clang-format off */
static const filter_error filter_errors[] = {
    {"filter_unknown_key", {"q=1"}, 1, {"q=1", "unknown key", "'q'"}, false},
    {"filter_unknown_key_after_good", {"m=64", "bogus=1"}, 2, {"bogus=1", "unknown key"}, false},
    {"filter_bad_value_type", {"m=abc"}, 1, {"m=abc", "integer", "\"abc\""}, false},
    {"filter_bad_index", {"index=first"}, 1, {"index=first", "integer"}, false},
    {"filter_negative_index", {"index=-1"}, 1, {"index=-1"}, false},
    {"filter_out_of_range_value", {"threads=1000"}, 1, {"threads=1000", "[1, 256]"}, false},
    {"filter_missing_equals", {"m64"}, 1, {"m64", "KEY=VALUE"}, false},
    {"filter_empty_key", {"=64"}, 1, {"=64", "KEY=VALUE"}, false},
    {"filter_no_match_value", {"m=32"}, 1, {"no point", "m=32"}, true},
    {"filter_no_match_id", {"id=m=64"}, 1, {"no point", "id=m=64"}, true},
    {"filter_no_match_index", {"index=6"}, 1, {"no point", "index=6"}, true},
    {"filter_no_match_fixed", {"threads=1"}, 1, {"no point", "threads=1"}, true},
    {"filter_no_match_and", {"m=64", "id=m=128,k=1"}, 2, {"no point", "m=64", "id=m=128,k=1"},
     true},
};
/* clang-format on */
#define N_FILTER_ERRORS (sizeof filter_errors / sizeof filter_errors[0])

static void run_filter_error(void **state)
{
    const filter_error *c = *state;
    bench_scenario *s = load_ok(SCENARIO_DIR "/valid_sweep.json");
    bench_grid *g = expand_ok(s);
    bench_err e = {{0}};
    assert_int_equal(bench_sweep_filter(g, c->filters, c->n_filters, &e), -1);
    for (size_t i = 0; i < 3 && c->has[i]; i++)
        assert_has(e.msg, c->has[i]);
    assert_int_equal(g->n_total, N_FULL);
    if (c->emptied) {
        assert_int_equal(g->n_points, 0);
    } else {
        /* A filter that does not parse drops nothing. */
        assert_sgemm_grid(g, full_grid, N_FULL);
    }
    bench_grid_free(g);
    bench_scenario_free(s);
}

/* ---- main ---------------------------------------------------------------- */

int main(void)
{
    static const struct CMUnitTest fixed_tests[] = {
        cmocka_unit_test(test_no_sweep_one_default_point),
        cmocka_unit_test(test_no_params_workload),
        cmocka_unit_test(test_grid_2x3_odometer),
        cmocka_unit_test(test_grid_axis_order_is_file_order),
        cmocka_unit_test(test_grid_single_axis),
        cmocka_unit_test(test_grid_three_axes_smoke),
        cmocka_unit_test(test_grid_stream),
        cmocka_unit_test(test_grid_after_set),
        cmocka_unit_test(test_grid_points_own_their_values),
        cmocka_unit_test(test_grid_too_many_points),
        cmocka_unit_test(test_grid_free_null),
        cmocka_unit_test(test_filter_twice_keeps_original_indices),
        cmocka_unit_test(test_filter_default_point),
    };
    enum { N_FIXED = sizeof fixed_tests / sizeof fixed_tests[0] };
    /* Each table row runs as its own named test. */
    struct CMUnitTest tests[N_FIXED + N_FILTER_CASES + N_FILTER_ERRORS];
    size_t n = 0;
    for (size_t i = 0; i < N_FIXED; i++)
        tests[n++] = fixed_tests[i];
    for (size_t i = 0; i < N_FILTER_CASES; i++)
        tests[n++] = (struct CMUnitTest){filter_cases[i].name, run_filter_case, NULL, NULL,
                                         (void *)&filter_cases[i]};
    for (size_t i = 0; i < N_FILTER_ERRORS; i++)
        tests[n++] = (struct CMUnitTest){filter_errors[i].name, run_filter_error, NULL, NULL,
                                         (void *)&filter_errors[i]};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
