/*
 * test_results.c - the result document: built from a real tiny run (sgemm on
 * odd shapes through the whole pipeline: scenario, sweep, runner, host), written
 * to a temporary folder, read back and checked against oracles that do not come
 * from the code under test: the engine's flop count is exactly n_samples * 2mnk,
 * the samples tile the measured wall time, the throughput is n * items / wall,
 * the percentiles are ordered. Then the CSV rendering (one row per point, a
 * quoted id) and the reader's errors, each of which must name the file.
 *
 * The run is made once, in the group setup; the tests only read it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "results.h"
#include "runner.h"
#include "scenario.h"
#include "sweep.h"

/* Two points with ids that hold a comma ("m=4,n=3"), two repetitions of exactly
 * five samples each (min_time_s 0 makes min_samples the only stop), and a counter
 * list with the engine's SDE counters, one hardware preset that may or may not
 * exist here, and one event no PAPI knows. */
static const char SCENARIO[] =
    "{\n"
    "  \"schema\": \"lore-scenario/1\",\n"
    "  \"name\": \"results-tiny\",\n"
    "  \"workload\": \"sgemm\",\n"
    "  \"params\": {\"k\": 5, \"threads\": 1},\n"
    "  \"sweep\": {\"m\": [4, 7], \"n\": [3]},\n"
    "  \"measure\": {\"warmup_ops\": 1, \"warmup_s\": 0, \"min_samples\": 5,\n"
    "              \"max_samples\": 1000, \"min_time_s\": 0, \"max_time_s\": 0.5,\n"
    "              \"repetitions\": 2},\n"
    "  \"counters\": [\"sde:::lore::sgemm_flops\", \"sde:::lore::sgemm_calls\",\n"
    "                 \"PAPI_TOT_INS\", \"lore_test_no_such_event\"]\n"
    "}\n";

enum { N_POINTS = 2, SAMPLES_PER_REP = 5, N_REPS = 2, K = 5, N = 3 };
static const int64_t M_VALUES[N_POINTS] = {4, 7};

typedef struct fixture {
    char dir[64];
    char json_path[128];
    char csv_path[128];
    bench_scenario *s;
    bench_grid *g;
    bench_run *run;
    bench_host host;
    cJSON *doc;  /* as built */
    cJSON *back; /* as read back from result.json */
} fixture;

/* ---- helpers --------------------------------------------------------------- */

/* Removes every entry of dir (flat) and dir itself. */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Number of entries of dir other than . and ..; names joined into list. */
static size_t list_dir(const char *dir, char *list, size_t size)
{
    size_t n = 0;
    list[0] = '\0';
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n++;
        strncat(list, de->d_name, size - strlen(list) - 1);
        strncat(list, " ", size - strlen(list) - 1);
    }
    closedir(d);
    return n;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
    bench_err e = {{0}};
    char *text = bench_read_file(path, NULL, &e);
    if (!text)
        fail_msg("%s", e.msg);
    return text;
}

static const cJSON *get(const cJSON *o, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!x)
        fail_msg("missing field '%s'", name);
    return x;
}

static double get_num(const cJSON *o, const char *name)
{
    const cJSON *x = get(o, name);
    if (!cJSON_IsNumber(x))
        fail_msg("field '%s' is not a number", name);
    return x->valuedouble;
}

static bool near_rel(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fmax(fabs(a), fabs(b));
}

/* Splits one CSV line into fields (RFC 4180 quoting); returns the count. */
static size_t csv_split(const char *line, char fields[][128], size_t max_fields)
{
    size_t n = 0;
    const char *p = line;
    for (;;) {
        assert_true(n < max_fields);
        char *out = fields[n];
        size_t len = 0;
        if (*p == '"') {
            p++;
            for (;;) {
                assert_true(*p != '\0'); /* unterminated quote */
                if (*p == '"' && p[1] == '"') {
                    out[len++] = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    out[len++] = *p++;
                }
                assert_true(len < 127);
            }
        } else {
            while (*p && *p != ',') {
                out[len++] = *p++;
                assert_true(len < 127);
            }
        }
        out[len] = '\0';
        n++;
        if (*p != ',')
            break;
        p++;
    }
    assert_true(*p == '\0');
    return n;
}

/* ---- the shared run -------------------------------------------------------- */

static int group_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    bench_err e = {{0}};
    snprintf(f->dir, sizeof f->dir, "/tmp/lore-test-results-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->json_path, sizeof f->json_path, "%s/result.json", f->dir);
    snprintf(f->csv_path, sizeof f->csv_path, "%s/result.csv", f->dir);
    *state = f;

    if (bench_scenario_parse("inline-results.json", SCENARIO, &f->s, &e) != 0 ||
        bench_sweep_expand(f->s, &f->g, &e) != 0 ||
        bench_runner_run(f->s, f->g, 0.0, NULL, NULL, &f->run, &e) != 0) {
        fprintf(stderr, "group setup: %s\n", e.msg);
        return -1;
    }
    bench_host_collect(&f->host); /* no calibration: "calibration" is then null */

    char *argv[] = {"lore-bench", "run", "inline-results.json"};
    bench_result_meta meta = {
        .run_id = "20260101T000000Z-results-tiny-0001",
        .argc = 3,
        .argv = argv,
        .started_unix_ms = 1767225600000,
        .finished_unix_ms = 1767225601234,
    };
    f->doc = bench_results_build(f->s, f->g, f->run, &f->host, &meta);
    if (!f->doc) {
        fprintf(stderr, "group setup: bench_results_build returned NULL\n");
        return -1;
    }
    if (bench_results_write(f->dir, f->doc, &e) != 0 ||
        bench_results_read(f->json_path, &f->back, &e) != 0) {
        fprintf(stderr, "group setup: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    cJSON_Delete(f->back);
    cJSON_Delete(f->doc);
    bench_run_free(f->run);
    bench_grid_free(f->g);
    bench_scenario_free(f->s);
    remove_tree(f->dir);
    free(f);
    return 0;
}

/* ---- the document ---------------------------------------------------------- */

static void test_document_top_level(void **state)
{
    fixture *f = *state;
    const cJSON *d = f->back;
    assert_string_equal(get(d, "schema")->valuestring, "lore-bench/1");
    assert_true(cJSON_IsTrue(get(d, "complete")));
    assert_string_equal(get(d, "run_id")->valuestring, "20260101T000000Z-results-tiny-0001");
    assert_string_equal(get(d, "started_at")->valuestring, "2026-01-01T00:00:00.000Z");
    assert_string_equal(get(d, "finished_at")->valuestring, "2026-01-01T00:00:01.234Z");
    assert_true(near_rel(get_num(d, "duration_s"), 1.234, 1e-12));
    const cJSON *cmd = get(d, "command");
    assert_true(cJSON_IsArray(cmd));
    assert_int_equal(cJSON_GetArraySize(cmd), 3);
    assert_string_equal(cJSON_GetArrayItem(cmd, 2)->valuestring, "inline-results.json");

    const cJSON *host = get(d, "host");
    assert_true(cJSON_IsObject(host));
    assert_true(cJSON_IsObject(get(host, "cpu")));
    assert_true(cJSON_IsObject(get(host, "blas")));
    assert_true(cJSON_IsNull(get(host, "calibration")));

    const cJSON *sc = get(d, "scenario");
    assert_string_equal(get(sc, "file")->valuestring, "inline-results.json");
    assert_string_equal(get(sc, "name")->valuestring, "results-tiny");
    assert_string_equal(get(sc, "workload")->valuestring, "sgemm");
    assert_int_equal((int)get_num(sc, "n_points_grid"), N_POINTS);
    assert_int_equal((int)get_num(sc, "n_points_selected"), N_POINTS);
    const cJSON *eff = get(sc, "effective");
    assert_true(cJSON_IsObject(eff));
    assert_int_equal((int)get_num(get(eff, "measure"), "repetitions"), N_REPS);
    assert_int_equal((int)get_num(get(eff, "params"), "k"), K);
    assert_int_equal(strncmp(get(sc, "hash")->valuestring, "fnv1a64:", 8), 0);

    const cJSON *points = get(d, "points");
    assert_true(cJSON_IsArray(points));
    assert_int_equal(cJSON_GetArraySize(points), N_POINTS);
    const cJSON *sum = get(d, "summary");
    assert_int_equal((int)get_num(sum, "n_points_run"), N_POINTS);
    assert_int_equal((int)get_num(sum, "n_points_failed"), 0);
    assert_int_equal((int)get_num(sum, "n_points_skipped"), 0);
}

/* What was written is what was built: printing loses nothing. */
static void test_read_back_equals_built(void **state)
{
    fixture *f = *state;
    assert_true(cJSON_Compare(f->doc, f->back, 1));
}

static void test_points_samples_throughput_latency(void **state)
{
    fixture *f = *state;
    const cJSON *p;
    int i = 0;
    cJSON_ArrayForEach(p, get(f->back, "points"))
    {
        assert_int_equal((int)get_num(p, "index"), i);
        assert_string_equal(get(p, "status")->valuestring, "ok");
        assert_string_equal(get(p, "item_unit")->valuestring, "flop");
        char id[64];
        snprintf(id, sizeof id, "m=%d,n=%d", (int)M_VALUES[i], N);
        assert_string_equal(get(p, "id")->valuestring, id);
        assert_int_equal((int)get_num(get(p, "params"), "m"), (int)M_VALUES[i]);

        double items_per_op = 2.0 * (double)M_VALUES[i] * N * K;
        assert_true(get_num(p, "items_per_op") == items_per_op);

        /* min_time_s 0: each window stops at exactly min_samples. */
        double n = get_num(p, "n_samples");
        assert_true(n == SAMPLES_PER_REP * N_REPS);
        assert_true(cJSON_IsTrue(get(p, "min_samples_met")));
        const cJSON *samples = get(p, "samples_ns");
        assert_int_equal(cJSON_GetArraySize(samples), (int)n);

        /* Samples tile the windows: their sum is the measured wall time. */
        double sum = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, samples)
        {
            assert_true(x->valuedouble >= 0);
            sum += x->valuedouble;
        }
        double wall_ns = get_num(p, "wall_ns");
        assert_true(wall_ns > 0);
        assert_true(sum == wall_ns);

        const cJSON *reps = get(p, "repetitions");
        assert_int_equal(cJSON_GetArraySize(reps), N_REPS);
        double rep_n = 0, rep_wall = 0;
        const cJSON *rep;
        cJSON_ArrayForEach(rep, reps)
        {
            assert_true(get_num(rep, "n_samples") == SAMPLES_PER_REP);
            assert_string_equal(get(rep, "stop_reason")->valuestring, "minimums_met");
            rep_n += get_num(rep, "n_samples");
            rep_wall += get_num(rep, "wall_ns");
        }
        assert_true(rep_n == n);
        assert_true(rep_wall == wall_ns);

        const cJSON *tp = get(p, "throughput");
        double items_per_s = get_num(tp, "items_per_s");
        assert_true(items_per_s > 0);
        assert_true(near_rel(items_per_s, n * items_per_op / (wall_ns * 1e-9), 1e-9));
        assert_true(near_rel(get_num(tp, "ops_per_s"), n / (wall_ns * 1e-9), 1e-9));
        const cJSON *gflops = get(get(p, "metrics"), "gflop_per_s");
        assert_true(near_rel(get_num(gflops, "value"), items_per_s / 1e9, 1e-9));

        const cJSON *lat = get(p, "latency_ns");
        double mn = get_num(lat, "min"), p50 = get_num(lat, "p50"), p90 = get_num(lat, "p90");
        double p99 = get_num(lat, "p99"), mx = get_num(lat, "max");
        assert_true(mn <= p50 && p50 <= p90 && p90 <= p99 && p99 <= mx);
        assert_true(near_rel(get_num(lat, "mean"), sum / n, 1e-9));
        assert_true(mn >= 0);

        const cJSON *rss = get(p, "rss");
        assert_true(get_num(rss, "before_bytes") > 0);
        assert_true(get_num(rss, "after_bytes") > 0);
        assert_true(get_num(rss, "peak_bytes") >= get_num(rss, "after_bytes"));
        assert_true(cJSON_IsBool(get(rss, "peak_is_per_point")));
        i++;
    }
    assert_int_equal(i, N_POINTS);
}

static void test_counters_exact_and_unavailable(void **state)
{
    fixture *f = *state;
    const cJSON *p;
    int i = 0;
    cJSON_ArrayForEach(p, get(f->back, "points"))
    {
        const cJSON *cs = get(p, "counters");
        assert_int_equal(cJSON_GetArraySize(cs), 4);
        double n = get_num(p, "n_samples");

        /* The engine counts flops itself: exactly 2mnk per call, warm-up excluded. */
        const cJSON *flops = get(cs, "sde:::lore::sgemm_flops");
        assert_true(cJSON_IsTrue(get(flops, "available")));
        double want = n * 2.0 * (double)M_VALUES[i] * N * K;
        assert_true(get_num(flops, "value") == want);
        assert_true(get_num(flops, "per_op") == 2.0 * (double)M_VALUES[i] * N * K);
        const cJSON *calls = get(cs, "sde:::lore::sgemm_calls");
        assert_true(get_num(calls, "value") == n);

        /* Never a zero for something not measured: null and a reason. */
        const cJSON *bogus = get(cs, "lore_test_no_such_event");
        assert_true(cJSON_IsFalse(get(bogus, "available")));
        assert_true(cJSON_IsNull(get(bogus, "value")));
        assert_true(cJSON_IsString(get(bogus, "reason")));
        assert_true(strlen(get(bogus, "reason")->valuestring) > 0);

        const cJSON *c;
        cJSON_ArrayForEach(c, cs)
        {
            if (cJSON_IsTrue(get(c, "available"))) {
                assert_true(cJSON_IsNumber(get(c, "value")));
            } else {
                assert_true(cJSON_IsNull(get(c, "value")));
                assert_true(strlen(get(c, "reason")->valuestring) > 0);
                assert_null(cJSON_GetObjectItemCaseSensitive(c, "per_op"));
            }
        }
        i++;
    }
}

/* ---- the CSV --------------------------------------------------------------- */

static void test_csv(void **state)
{
    fixture *f = *state;
    char *text = read_text(f->csv_path);
    char *rendered = bench_results_csv(f->doc);
    assert_non_null(rendered);
    assert_string_equal(text, rendered); /* rendered from the document, nothing else */
    free(rendered);

    static char fields[128][128];
    static const char *const head[] = {
        "index", "id", "m", "n", "k", "threads", "status", "n_samples", "throughput_items_per_s"};
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    assert_non_null(line);
    size_t n_cols = csv_split(line, fields, 128);
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        assert_string_equal(fields[i], head[i]);
    bool seen_flops = false, seen_p99 = false;
    for (size_t i = 0; i < n_cols; i++) {
        seen_flops |= strcmp(fields[i], "sde:::lore::sgemm_flops") == 0;
        seen_p99 |= strcmp(fields[i], "latency_ns_p99") == 0;
    }
    assert_true(seen_flops);
    assert_true(seen_p99);

    size_t rows = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char id[64];
        snprintf(id, sizeof id, "\"m=%d,n=%d\",", (int)M_VALUES[rows], N);
        /* The id holds a comma, so it is quoted. */
        assert_non_null(strstr(line, id));
        assert_int_equal(csv_split(line, fields, 128), n_cols);
        char want_index[16];
        snprintf(want_index, sizeof want_index, "%zu", rows);
        assert_string_equal(fields[0], want_index);
        assert_string_equal(fields[6], "ok");
        assert_string_equal(fields[7], "10");
        rows++;
    }
    assert_int_equal(rows, N_POINTS);
    free(text);
}

/* ---- writing --------------------------------------------------------------- */

static void test_write_leaves_only_the_two_files(void **state)
{
    fixture *f = *state;
    char list[512];
    assert_int_equal(list_dir(f->dir, list, sizeof list), 2);
    assert_non_null(strstr(list, "result.json "));
    assert_non_null(strstr(list, "result.csv "));

    /* Rewriting replaces the files in place, still no temporaries. */
    bench_err e = {{0}};
    assert_int_equal(bench_results_write(f->dir, f->doc, &e), 0);
    assert_int_equal(list_dir(f->dir, list, sizeof list), 2);
}

static void test_write_error_names_path(void **state)
{
    fixture *f = *state;
    char missing[128];
    snprintf(missing, sizeof missing, "%s/no-such-folder", f->dir);
    bench_err e = {{0}};
    assert_int_equal(bench_results_write(missing, f->doc, &e), -1);
    assert_non_null(strstr(e.msg, missing));
    struct stat st;
    assert_int_equal(stat(missing, &st), -1);
}

/* ---- reading errors -------------------------------------------------------- */

static void check_read_fails(const char *path, const char *what)
{
    cJSON *out = (cJSON *)(uintptr_t)1;
    bench_err e = {{0}};
    assert_int_equal(bench_results_read(path, &out, &e), -1);
    assert_null(out);
    if (!strstr(e.msg, path))
        fail_msg("message does not name %s: %s", path, e.msg);
    if (!strstr(e.msg, what))
        fail_msg("message does not say '%s': %s", what, e.msg);
}

static void test_read_errors(void **state)
{
    fixture *f = *state;
    char path[160];

    snprintf(path, sizeof path, "%s/absent.json", f->dir);
    check_read_fails(path, "cannot open");

    static const struct {
        const char *name;
        const char *text;
        const char *what;
    } cases[] = {
        {"bad.json", "{\"schema\": \"lore-bench/1\", \"points\": [", "not valid JSON"},
        {"empty.json", "", "not valid JSON"},
        {"wrong-schema.json", "{\"schema\": \"lore-bench/2\", \"points\": []}", "$.schema"},
        {"no-schema.json", "{\"points\": []}", "$.schema"},
        {"schema-number.json", "{\"schema\": 1, \"points\": []}", "$.schema"},
        {"points-object.json", "{\"schema\": \"lore-bench/1\", \"points\": {}}", "$.points"},
        {"no-points.json", "{\"schema\": \"lore-bench/1\"}", "$.points"},
        {"array.json", "[1, 2]", "$.schema"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", f->dir, cases[i].name);
        write_text(path, cases[i].text);
        check_read_fails(path, cases[i].what);
        unlink(path);
    }

    /* The minimal valid document. */
    snprintf(path, sizeof path, "%s/minimal.json", f->dir);
    write_text(path, "{\"schema\": \"lore-bench/1\", \"points\": []}");
    cJSON *doc = NULL;
    bench_err e = {{0}};
    assert_int_equal(bench_results_read(path, &doc, &e), 0);
    assert_non_null(doc);
    cJSON_Delete(doc);
    unlink(path);
}

/* ---- documents of unfinished runs ------------------------------------------ */

/* An interrupted run with no finished point: complete false, an empty list,
 * every selected point skipped, and a CSV of the header alone. */
static void test_build_interrupted_empty_run(void **state)
{
    fixture *f = *state;
    bench_run run = {.points = NULL, .n_points = 0, .n_failed = 0, .interrupted = true};
    char *argv[] = {"lore-bench"};
    bench_result_meta meta = {.run_id = "r", .argc = 1, .argv = argv};
    cJSON *doc = bench_results_build(f->s, f->g, &run, &f->host, &meta);
    assert_non_null(doc);
    assert_true(cJSON_IsFalse(get(doc, "complete")));
    assert_int_equal(cJSON_GetArraySize(get(doc, "points")), 0);
    assert_int_equal((int)get_num(get(doc, "summary"), "n_points_skipped"), N_POINTS);
    char *csv = bench_results_csv(doc);
    assert_non_null(csv);
    assert_int_equal(strncmp(csv, "index,id,status,n_samples,", 26), 0);
    assert_non_null(strchr(csv, '\n'));
    assert_string_equal(strchr(csv, '\n'), "\n"); /* one line */
    free(csv);
    cJSON_Delete(doc);
}

/* A failed point: status "error" and its message, no measurements; its CSV row
 * quotes the message's comma and doubles its quotes. */
static void test_build_failed_point(void **state)
{
    fixture *f = *state;
    bench_point_result pr;
    memset(&pr, 0, sizeof pr);
    pr.point = 1;
    pr.ok = false;
    snprintf(pr.error, sizeof pr.error, "sgemm: refused, \"on purpose\"");
    pr.point_ns = 1234;
    bench_run run = {.points = &pr, .n_points = 1, .n_failed = 1, .interrupted = false};
    char *argv[] = {"lore-bench"};
    bench_result_meta meta = {.run_id = "r", .argc = 1, .argv = argv};
    cJSON *doc = bench_results_build(f->s, f->g, &run, &f->host, &meta);
    assert_non_null(doc);
    assert_true(cJSON_IsTrue(get(doc, "complete")));
    const cJSON *p = cJSON_GetArrayItem(get(doc, "points"), 0);
    assert_non_null(p);
    assert_string_equal(get(p, "status")->valuestring, "error");
    assert_string_equal(get(p, "error")->valuestring, "sgemm: refused, \"on purpose\"");
    assert_int_equal((int)get_num(p, "index"), 1);
    assert_null(cJSON_GetObjectItemCaseSensitive(p, "samples_ns"));
    assert_null(cJSON_GetObjectItemCaseSensitive(p, "throughput"));
    const cJSON *sum = get(doc, "summary");
    assert_int_equal((int)get_num(sum, "n_points_failed"), 1);
    assert_int_equal((int)get_num(sum, "n_points_skipped"), 1);

    char *csv = bench_results_csv(doc);
    assert_non_null(csv);
    const char *row = strchr(csv, '\n');
    assert_non_null(row);
    row++;
    assert_int_equal(strncmp(row, "1,\"m=7,n=3\",7,3,5,1,error,", 26), 0);
    free(csv);
    cJSON_Delete(doc);
}

/*
 * Numbers survive the file exactly: a reader of result.json sees the values the
 * run measured, and the same values the CSV shows (results.c: "the CSV is
 * rendered from [the JSON document], so the two can never disagree").
 *
 * Was a bug: results.c bench_results_write writes result.json with cJSON_Print, which
 * (cJSON 1.7.x print_number) first tries "%1.15g" and keeps it whenever the
 * re-read value is within one DBL_EPSILON relative of the original, so values
 * are silently rounded: items_per_s 0.1 + 0.2 = 0.30000000000000004 is written
 * as 0.3, and a counter value of 9000000000000001 (exactly representable, below
 * 2^53) is written as 9e+15. result.csv, rendered with "%.17g" from the
 * in-memory document, keeps the exact values, so the two files disagree.
 * Expected: each number in result.json reads back bit-identical (print with
 * "%.17g" or check round trips exactly). Actual: off by one ulp for fractions,
 * and by 1 or 2 for integers between 2^52 and 2^53.
 */
static void test_json_numbers_round_trip_exactly(void **state)
{
    fixture *f = *state;
    int64_t samples[4] = {100, 200, 300, 400};
    bench_rep_result rep = {
        .n_samples = 4, .wall_ns = 1000, .items_per_s = 0.1 + 0.2, .stop_reason = "minimums_met"};
    bench_counter_result ctr;
    memset(&ctr, 0, sizeof ctr);
    snprintf(ctr.name, sizeof ctr.name, "sde:::lore::sgemm_flops");
    ctr.available = true;
    ctr.value = INT64_C(9000000000000001);
    bench_point_result pr;
    memset(&pr, 0, sizeof pr);
    pr.point = 0;
    pr.ok = true;
    pr.samples_ns = samples;
    pr.n_samples = 4;
    pr.reps = &rep;
    pr.n_reps = 1;
    pr.min_samples_met = true;
    pr.items_per_op = 120;
    pr.wall_ns = 1000;
    pr.items_per_s = 0.1 + 0.2;
    pr.ops_per_s = 4e6;
    assert_int_equal(bench_stats_summarize(samples, 4, &pr.latency_ns), 0);
    pr.counters = &ctr;
    pr.n_counters = 1;
    bench_run run = {.points = &pr, .n_points = 1};
    char *argv[] = {"lore-bench"};
    bench_result_meta meta = {.run_id = "r", .argc = 1, .argv = argv};
    cJSON *doc = bench_results_build(f->s, f->g, &run, &f->host, &meta);
    assert_non_null(doc);

    char dir[] = "/tmp/lore-test-results-rt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/result.json", dir);
    bench_err e = {{0}};
    cJSON *back = NULL;
    int rc_write = bench_results_write(dir, doc, &e);
    int rc_read = rc_write == 0 ? bench_results_read(path, &back, &e) : -1;
    double tp = 0, flops = 0;
    if (back) {
        const cJSON *p = cJSON_GetArrayItem(get(back, "points"), 0);
        tp = get_num(get(p, "throughput"), "items_per_s");
        flops = get_num(get(get(p, "counters"), "sde:::lore::sgemm_flops"), "value");
    }
    cJSON_Delete(back);
    cJSON_Delete(doc);
    remove_tree(dir);
    assert_int_equal(rc_write, 0);
    assert_int_equal(rc_read, 0);
    if (tp != 0.1 + 0.2 || flops != 9000000000000001.0)
        fail_msg("items_per_s: wrote %.17g, read back %.17g; counter: wrote 9000000000000001, "
                 "read back %.17g",
                 0.1 + 0.2, tp, flops);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_top_level),
        cmocka_unit_test(test_read_back_equals_built),
        cmocka_unit_test(test_points_samples_throughput_latency),
        cmocka_unit_test(test_counters_exact_and_unavailable),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_write_leaves_only_the_two_files),
        cmocka_unit_test(test_write_error_names_path),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_build_interrupted_empty_run),
        cmocka_unit_test(test_build_failed_point),
        cmocka_unit_test(test_json_numbers_round_trip_exactly),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
