/*
 * test_history.c - results/history.sqlite and change points: append/read round
 * trip on a temporary file, refusal of newer and non-SQLite files, the history
 * command's exit codes and outputs, and change-point detection on synthetic
 * series with known answers (a step, two steps, pure noise, one outlier).
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "history.h"
#include "test_util.h"

/* ---- fixtures ---------------------------------------------------------------- */

typedef struct tmp {
    char dir[256];
    char path[320];
} tmp;

static void tmp_make(tmp *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/lore-test-history-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    /* A folder that does not exist yet: append must create it. */
    snprintf(t->path, sizeof t->path, "%s/sub/history.sqlite", t->dir);
}

static void tmp_remove(tmp *t)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
}

/* A result document like bench_results_build's, with what history reads. */
static cJSON *make_result(const char *run_id, const char *started_at, const char *commit,
                          bool dirty, bool complete, double qps_flat, double qps_hnsw)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"schema\": \"lore-bench/1\", \"run_id\": \"%s\", \"complete\": %s,"
             " \"started_at\": \"%s\", \"finished_at\": \"%s\", \"lore_version\": \"0.1.0\","
             " \"scenario\": {\"file\": \"scenarios/t.json\", \"name\": \"search_t\","
             "   \"workload\": \"search\", \"hash\": \"fnv1a64:0123456789abcdef\"},"
             " \"host\": {\"cpu\": {\"model\": \"Test CPU\", \"cores\": 2},"
             "   \"memory_bytes\": 25276502016, \"git\": {\"commit\": \"%s\", \"dirty\": %s},"
             "   \"blas\": {\"core\": \"SkylakeX\"}},"
             " \"points\": ["
             "  {\"index\": 0, \"id\": \"kind=flat,k=10\", \"status\": \"ok\","
             "   \"params\": {\"kind\": \"flat\", \"k\": 10, \"alpha\": 0.5, \"exact\": true},"
             "   \"item_unit\": \"query\", \"n_samples\": 100,"
             "   \"throughput\": {\"items_per_s\": %.17g, \"ops_per_s\": %.17g},"
             "   \"latency_ns\": {\"p50\": 1000, \"p99\": 2000},"
             "   \"rss\": {\"peak_bytes\": 1048576},"
             "   \"counters\": {\"lore::distances\": {\"available\": true, \"value\": 5000,"
             "      \"per_op\": 50}, \"PAPI_TOT_INS\": {\"available\": false, \"value\": null}},"
             "   \"metrics\": {\"recall_at_10\": {\"value\": 1, \"unit\": \"ratio\","
             "      \"better\": \"higher\"}, \"throughput\": {\"value\": -1, \"unit\": \"x\","
             "      \"better\": \"lower\"}, \"odd\": {\"value\": null, \"unit\": \"x\","
             "      \"better\": \"none\"}}},"
             "  {\"index\": 1, \"id\": \"kind=hnsw,k=10\", \"status\": \"ok\","
             "   \"params\": {\"kind\": \"hnsw\", \"k\": 10, \"alpha\": 0.5, \"exact\": false},"
             "   \"item_unit\": \"query\", \"n_samples\": 100,"
             "   \"throughput\": {\"items_per_s\": %.17g, \"ops_per_s\": %.17g},"
             "   \"latency_ns\": {\"p50\": 100, \"p99\": 200}, \"rss\": {\"peak_bytes\": 2048},"
             "   \"counters\": {}, \"metrics\": {\"recall_at_10\": {\"value\": 0.97,"
             "      \"unit\": \"ratio\", \"better\": \"higher\"}}},"
             "  {\"index\": 2, \"id\": \"kind=ivf,k=10\", \"status\": \"error\","
             "   \"error\": \"setup failed\","
             "   \"params\": {\"kind\": \"ivf\", \"k\": 10, \"alpha\": 0.5, \"exact\": false}}"
             " ]}",
             run_id, complete ? "true" : "false", started_at, started_at, commit,
             dirty ? "true" : "false", qps_flat, qps_flat, qps_hnsw, qps_hnsw);
    cJSON *doc = cJSON_Parse(text);
    assert_non_null(doc);
    return doc;
}

static void append_run(const char *path, int i, double flat, double hnsw)
{
    char run_id[64], when[64], commit[64];
    snprintf(run_id, sizeof run_id, "run-%02d", i);
    snprintf(when, sizeof when, "2025-06-%02dT10:00:00.000Z", i + 1);
    snprintf(commit, sizeof commit, "%040d", i);
    cJSON *doc = make_result(run_id, when, commit, i == 2, i != 1, flat, hnsw);
    bench_err e = {{0}};
    int rc = bench_history_append(path, doc, "results/x/result.json", "testhost", &e);
    if (rc != 0)
        fail_msg("append %d: %s", i, e.msg);
    cJSON_Delete(doc);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_all(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Runs `lore-bench history ...` in this process; the list ends at NULL. */
static int run_cli_argv(char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    fflush(stdout);
    return bench_history_main(argc, argv);
}
#define run_cli(...) run_cli_argv((char *[]){__VA_ARGS__, NULL})

/* ---- storage ------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    const double flat[] = {100, 101, 99, 150};
    for (int i = 0; i < 4; i++)
        append_run(t.path, i, flat[i], 1000 + i);

    bench_history_query_opts q = {.scenario = "search_t"};
    bench_history_series *s = NULL;
    size_t n = 0;
    bench_err e = {{0}};
    if (bench_history_query(t.path, &q, &s, &n, &e) != 0)
        fail_msg("%s", e.msg);
    /* The failed point has no metric, so two series: flat and hnsw, in first-seen order. */
    assert_int_equal(n, 2);
    assert_string_equal(s[0].point_id, "kind=flat,k=10");
    assert_string_equal(s[1].point_id, "kind=hnsw,k=10");
    assert_string_equal(s[0].metric, "throughput");
    assert_string_equal(s[0].unit, "query/s");
    assert_int_equal(s[0].better, BENCH_BETTER_HIGHER);
    assert_non_null(strstr(s[0].params_json, "\"kind\":\"flat\""));
    assert_int_equal(s[0].n_entries, 4);
    for (int i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "run-%02d", i);
        assert_string_equal(s[0].entries[i].run_id, want);
        /* The harness's throughput wins over a workload metric of the same name. */
        assert_double_equal(s[0].entries[i].value, flat[i], 0);
        assert_double_equal(s[1].entries[i].value, 1000 + i, 0);
        assert_int_equal(s[0].entries[i].dirty, i == 2);
        assert_int_equal(s[0].entries[i].complete, i != 1);
    }
    assert_string_equal(s[0].entries[3].commit, "0000000000000000000000000000000000000003");
    assert_string_equal(s[0].entries[3].started_at, "2025-06-04T10:00:00.000Z");
    bench_history_series_free(s, n);

    /* A workload metric, a counter per op, the latency; --last keeps the newest. */
    q.metric = "recall_at_10";
    q.last = 2;
    assert_int_equal(bench_history_query(t.path, &q, &s, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(s[1].n_entries, 2);
    assert_string_equal(s[1].entries[1].run_id, "run-03");
    assert_double_equal(s[1].entries[0].value, 0.97, 1e-15);
    assert_string_equal(s[1].unit, "ratio");
    bench_history_series_free(s, n);
    q.last = 0;
    q.metric = "counter:lore::distances";
    assert_int_equal(bench_history_query(t.path, &q, &s, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_double_equal(s[0].entries[0].value, 50, 0);
    assert_string_equal(s[0].unit, "count/op");
    bench_history_series_free(s, n);
    q.metric = "latency_p99";
    assert_int_equal(bench_history_query(t.path, &q, &s, &n, &e), 0);
    assert_int_equal(s[1].better, BENCH_BETTER_LOWER);
    assert_double_equal(s[1].entries[0].value, 200, 0);
    bench_history_series_free(s, n);

    /* An unmeasured counter and a null metric are not stored as numbers. */
    q.metric = "counter:PAPI_TOT_INS";
    assert_int_equal(bench_history_query(t.path, &q, &s, &n, &e), -1);
    assert_non_null(strstr(e.msg, "recall_at_10"));
    q.metric = "odd";
    assert_int_equal(bench_history_query(t.path, &q, &s, &n, &e), -1);
    tmp_remove(&t);
}

static void test_instruction_runs(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    append_run(t.path, 0, 100, 200);
    /* A run under callgrind: its instruction counts and work are kept, its clock is not. */
    cJSON *doc = make_result("run-01", "2025-06-02T10:00:00.000Z", "abc", false, true, 2, 4);
    cJSON *m = cJSON_AddObjectToObject(doc, "measurement");
    cJSON_AddStringToObject(m, "mode", "instructions");
    cJSON_AddBoolToObject(m, "wall_metrics_valid", false);
    cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "points"), 0);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(p0, "instructions"), "per_op", 123456);
    cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(p0, "metrics"), "qps",
                          cJSON_Parse("{\"value\": 3, \"unit\": \"queries/s\", "
                                      "\"better\": \"higher\"}"));
    bench_err e = {{0}};
    assert_int_equal(bench_history_append(t.path, doc, NULL, NULL, &e), 0);
    cJSON_Delete(doc);
    static const struct {
        const char *metric;
        size_t n_entries; /* of the flat point */
    } cases[] = {
        {"throughput", 1},          {"latency_p50", 1},  {"rss_peak", 1},
        {"instructions_per_op", 1}, {"recall_at_10", 2}, {"counter:lore::distances", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bench_history_query_opts q = {.scenario = "search_t", .metric = cases[i].metric};
        bench_history_series *s = NULL;
        size_t n = 0;
        if (bench_history_query(t.path, &q, &s, &n, &e) != 0)
            fail_msg("%s: %s", cases[i].metric, e.msg);
        if (s[0].n_entries != cases[i].n_entries)
            fail_msg("%s: %zu runs, want %zu", cases[i].metric, s[0].n_entries, cases[i].n_entries);
        if (strcmp(cases[i].metric, "instructions_per_op") == 0) {
            assert_double_equal(s[0].entries[0].value, 123456, 0);
            assert_string_equal(s[0].entries[0].run_id, "run-01");
        }
        bench_history_series_free(s, n);
    }
    /* The clock-based workload metric of that run is left out entirely. */
    bench_history_query_opts q = {.scenario = "search_t", .metric = "qps"};
    bench_history_series *s = NULL;
    size_t n = 0;
    assert_int_equal(bench_history_query(&t.path[0], &q, &s, &n, &e), -1);
    tmp_remove(&t);
}

static void test_point_filters(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    append_run(t.path, 0, 100, 200);
    bench_history_series *s = NULL;
    size_t n = 0;
    bench_err e = {{0}};
    static const struct {
        const char *filters[3];
        size_t n_filters;
        int want_rc;
        size_t want_n;
        const char *want; /* first series' point id, or a piece of the error */
    } cases[] = {
        {{"kind=hnsw"}, 1, 0, 1, "kind=hnsw,k=10"},
        {{"kind=hnsw", "kind=flat"}, 2, 0, 2, "kind=flat,k=10"}, /* one key: alternatives */
        {{"kind=hnsw", "k=10"}, 2, 0, 1, "kind=hnsw,k=10"},      /* two keys: both */
        {{"k=10.0", "alpha=0.5"}, 2, 0, 2, "kind=flat,k=10"},    /* numbers compare as numbers */
        {{"exact=true"}, 1, 0, 1, "kind=flat,k=10"},
        {{"id=kind=hnsw,k=10"}, 1, 0, 1, "kind=hnsw,k=10"},
        {{"index=1"}, 1, 0, 1, "kind=hnsw,k=10"},
        {{"kind=ivf"}, 1, -1, 0, "no point"}, /* failed: it has no metric */
        {{"k=11"}, 1, -1, 0, "no point"},
        {{"threads=2"}, 1, -1, 0, "unknown key 'threads'"},
        {{"kind"}, 1, -1, 0, "expected KEY=VALUE"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bench_history_query_opts q = {
            .scenario = "search_t", .filters = cases[i].filters, .n_filters = cases[i].n_filters};
        int rc = bench_history_query(t.path, &q, &s, &n, &e);
        if (rc != cases[i].want_rc)
            fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].want_rc, e.msg);
        if (rc == 0) {
            assert_int_equal(n, cases[i].want_n);
            assert_string_equal(s[0].point_id, cases[i].want);
            bench_history_series_free(s, n);
        } else {
            if (!strstr(e.msg, cases[i].want))
                fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, cases[i].want);
            assert_null(s);
        }
    }
    tmp_remove(&t);
}

static void test_append_is_one_transaction(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    append_run(t.path, 0, 100, 200);
    /* The same run again: refused whole, nothing of it kept. */
    cJSON *doc = make_result("run-00", "2025-07-01T00:00:00.000Z", "abc", false, true, 5, 5);
    bench_err e = {{0}};
    assert_int_equal(bench_history_append(t.path, doc, NULL, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "already recorded"));
    cJSON_Delete(doc);
    /* A bad point after good ones rolls the whole run back. */
    doc = make_result("run-09", "2025-07-01T00:00:00.000Z", "abc", false, true, 5, 5);
    cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(points, 1), "params");
    assert_int_equal(bench_history_append(t.path, doc, NULL, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "$.points[1]"));
    /* A result without its scenario name is refused before the file is touched. */
    cJSON_DeleteItemFromObject(cJSON_GetObjectItemCaseSensitive(doc, "scenario"), "name");
    assert_int_equal(bench_history_append(t.path, doc, NULL, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "$.scenario.name"));
    cJSON_Delete(doc);

    bench_history_query_opts q = {.scenario = "search_t"};
    bench_history_series *s = NULL;
    size_t n = 0;
    assert_int_equal(bench_history_query(t.path, &q, &s, &n, &e), 0);
    assert_int_equal(s[0].n_entries, 1);
    assert_double_equal(s[0].entries[0].value, 100, 0);
    bench_history_series_free(s, n);
    /* An unknown scenario names the ones present. */
    q.scenario = "nope";
    assert_int_equal(bench_history_query(t.path, &q, &s, &n, &e), -1);
    assert_non_null(strstr(e.msg, "search_t (1 run)"));
    tmp_remove(&t);
}

static void test_newer_schema_is_refused(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    append_run(t.path, 0, 100, 200);
    size_t len = 0;
    unsigned char *bytes = (unsigned char *)read_all(t.path, &len);
    assert_non_null(bytes);
    assert_true(len > 100);
    assert_memory_equal(bytes, "SQLite format 3", 16);
    /* The header's user_version (offset 60, big-endian) is our schema version. */
    assert_int_equal(bytes[60] << 24 | bytes[61] << 16 | bytes[62] << 8 | bytes[63],
                     BENCH_HISTORY_SCHEMA_VERSION);
    bytes[63] = BENCH_HISTORY_SCHEMA_VERSION + 1;
    write_all(t.path, bytes, len);

    cJSON *doc = make_result("run-05", "2025-07-01T00:00:00.000Z", "abc", false, true, 5, 5);
    bench_err e = {{0}};
    assert_int_equal(bench_history_append(t.path, doc, NULL, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "newer"));
    cJSON_Delete(doc);
    /* Refused, not altered. */
    size_t len2 = 0;
    char *after = read_all(t.path, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(after, bytes, len);
    free(after);

    bench_history_query_opts q = {.scenario = "search_t"};
    bench_history_series *s = NULL;
    size_t n = 0;
    assert_int_equal(bench_history_query(t.path, &q, &s, &n, &e), -1);
    assert_non_null(strstr(e.msg, "schema version 2 is newer"));
    assert_int_equal(run_cli("lore-bench", "history", "search_t", "--history", t.path),
                     BENCH_EXIT_USAGE);
    free(bytes);
    tmp_remove(&t);
}

static void test_not_sqlite(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    char path[400];
    snprintf(path, sizeof path, "%s/junk.sqlite", t.dir);
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)("not a database, just text\n"[i % 26]);
    write_all(path, junk, sizeof junk);

    cJSON *doc = make_result("run-00", "2025-07-01T00:00:00.000Z", "abc", false, true, 5, 5);
    bench_err e = {{0}};
    assert_int_equal(bench_history_append(path, doc, NULL, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "not a SQLite database"));
    /* run's hook: a warning, and the run goes on (this returns); the file is untouched. */
    bench_history_record_run(path, doc, NULL);
    cJSON_Delete(doc);
    size_t len = 0;
    char *after = read_all(path, &len);
    assert_int_equal(len, sizeof junk);
    assert_memory_equal(after, junk, sizeof junk);
    free(after);

    bench_history_query_opts q = {.scenario = "search_t"};
    bench_history_series *s = NULL;
    size_t n = 0;
    assert_int_equal(bench_history_query(path, &q, &s, &n, &e), -1);
    assert_non_null(strstr(e.msg, "not a SQLite database"));
    assert_int_equal(run_cli("lore-bench", "history", "search_t", "--history", path),
                     BENCH_EXIT_USAGE);
    /* A file that does not exist is bad input too, with a hint. */
    snprintf(path, sizeof path, "%s/none.sqlite", t.dir);
    assert_int_equal(bench_history_query(path, &q, &s, &n, &e), -1);
    assert_non_null(strstr(e.msg, "no history file"));
    assert_int_equal(run_cli("lore-bench", "history", "search_t", "--history", path),
                     BENCH_EXIT_USAGE);
    tmp_remove(&t);
}

static void test_history_path(void **state)
{
    (void)state;
    unsetenv(BENCH_HISTORY_ENV);
    assert_string_equal(bench_history_path(NULL), BENCH_HISTORY_DEFAULT_PATH);
    setenv(BENCH_HISTORY_ENV, "/tmp/elsewhere.sqlite", 1);
    assert_string_equal(bench_history_path(NULL), "/tmp/elsewhere.sqlite");
    assert_string_equal(bench_history_path("flag.sqlite"), "flag.sqlite");
    setenv(BENCH_HISTORY_ENV, "", 1);
    assert_string_equal(bench_history_path(NULL), BENCH_HISTORY_DEFAULT_PATH);
    unsetenv(BENCH_HISTORY_ENV);
}

static void test_record_run(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    cJSON *doc = make_result("run-00", "2025-07-01T00:00:00.000Z", "abc", false, true, 5, 6);
    /* Switched off for tools that run lore-bench many times: nothing is written. */
    setenv(BENCH_HISTORY_OFF_ENV, "1", 1);
    bench_history_record_run(t.path, doc, "results/r0");
    struct stat st;
    assert_int_equal(stat(t.path, &st), -1);
    setenv(BENCH_HISTORY_OFF_ENV, "0", 1);
    bench_history_record_run(t.path, doc, "results/r0");
    unsetenv(BENCH_HISTORY_OFF_ENV);
    cJSON_Delete(doc);
    bench_history_query_opts q = {.scenario = "search_t"};
    bench_history_series *s = NULL;
    size_t n = 0;
    bench_err e = {{0}};
    if (bench_history_query(t.path, &q, &s, &n, &e) != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(s[0].n_entries, 1);
    assert_double_equal(s[0].entries[0].value, 5, 0);
    bench_history_series_free(s, n);
    tmp_remove(&t);
}

static void test_concurrent_appends(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    /* Four processes append five runs each to a history none of them finds: all 20 kept. */
    pid_t pids[4];
    for (int c = 0; c < 4; c++) {
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0) {
            for (int i = 0; i < 5; i++) {
                char id[32], when[40];
                snprintf(id, sizeof id, "run-%d-%d", c, i);
                snprintf(when, sizeof when, "2025-08-01T00:%02d:%02d.000Z", i, c);
                cJSON *doc = make_result(id, when, "abc", false, true, 100 + c, 5);
                bench_err e = {{0}};
                int rc = bench_history_append(t.path, doc, NULL, NULL, &e);
                cJSON_Delete(doc);
                if (rc != 0) {
                    fprintf(stderr, "child %d: %s\n", c, e.msg);
                    _exit(1);
                }
            }
            _exit(0);
        }
    }
    for (int c = 0; c < 4; c++) {
        int status = 0;
        assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    bench_history_query_opts q = {.scenario = "search_t"};
    bench_history_series *s = NULL;
    size_t n = 0;
    bench_err e = {{0}};
    assert_int_equal(bench_history_query(t.path, &q, &s, &n, &e), 0);
    assert_int_equal(s[0].n_entries, 20);
    /* Oldest first: minute i, then process c. */
    for (size_t k = 0; k < 20; k++)
        assert_double_equal(s[0].entries[k].value, 100 + (double)(k % 4), 0);
    bench_history_series_free(s, n);
    tmp_remove(&t);
}

/* ---- the command ------------------------------------------------------------ */

static void test_command(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    /* A 12% drop at run 6 of 12 on the flat point; the hnsw point is flat. */
    for (int i = 0; i < 12; i++)
        append_run(t.path, i, i < 6 ? 100 + (i % 3) : 88 + (i % 3), 1000 + (i % 2));
    setenv(BENCH_HISTORY_ENV, t.path, 1);
    char out[400];
    snprintf(out, sizeof out, "%s/out.json", t.dir);
    /* --json on stdout, redirected to a file to check it. */
    fflush(stdout);
    FILE *saved = fdopen(dup(fileno(stdout)), "w");
    assert_non_null(freopen(out, "w", stdout));
    int rc = run_cli("lore-bench", "history", "search_t", "--point", "kind=flat", "--json");
    fflush(stdout);
    assert_int_equal(dup2(fileno(saved), fileno(stdout)), fileno(stdout));
    fclose(saved);
    assert_int_equal(rc, BENCH_EXIT_OK);
    size_t len = 0;
    char *text = read_all(out, &len);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    assert_non_null(doc);
    const cJSON *series = cJSON_GetObjectItemCaseSensitive(doc, "series");
    assert_int_equal(cJSON_GetArraySize(series), 1);
    const cJSON *s0 = cJSON_GetArrayItem(series, 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s0, "runs")), 12);
    const cJSON *cps = cJSON_GetObjectItemCaseSensitive(s0, "change_points");
    assert_int_equal(cJSON_GetArraySize(cps), 1);
    const cJSON *cp = cJSON_GetArrayItem(cps, 0);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(cp, "index")->valueint, 6);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cp, "commit")->valuestring,
                        "0000000000000000000000000000000000000006");
    assert_double_equal(cJSON_GetObjectItemCaseSensitive(cp, "median_before")->valuedouble, 101, 0);
    assert_double_equal(cJSON_GetObjectItemCaseSensitive(cp, "median_after")->valuedouble, 89, 0);
    assert_double_equal(cJSON_GetObjectItemCaseSensitive(cp, "rel_change")->valuedouble,
                        89.0 / 101 - 1, 1e-12);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cp, "direction")->valuestring, "worse");
    cJSON_Delete(doc);

    /* Text output and bad usage. */
    assert_int_equal(run_cli("lore-bench", "history", "search_t"), BENCH_EXIT_OK);
    assert_int_equal(run_cli("lore-bench", "history"), BENCH_EXIT_USAGE);
    assert_int_equal(run_cli("lore-bench", "history", "search_t", "--bogus"), BENCH_EXIT_USAGE);
    assert_int_equal(run_cli("lore-bench", "history", "search_t", "--last", "0"), BENCH_EXIT_USAGE);
    assert_int_equal(run_cli("lore-bench", "history", "search_t", "--plot", "x.png"),
                     BENCH_EXIT_USAGE);
    assert_int_equal(run_cli("lore-bench", "history", "search_t", "--metric", "nope"),
                     BENCH_EXIT_USAGE);
    assert_int_equal(run_cli("lore-bench", "history", "other"), BENCH_EXIT_USAGE);

    /* --plot: the script and data are kept; the SVG exists when gnuplot does. */
    char svg[400], gp[400], dat[400];
    snprintf(svg, sizeof svg, "%s/trend.svg", t.dir);
    snprintf(gp, sizeof gp, "%s/trend.gp", t.dir);
    snprintf(dat, sizeof dat, "%s/trend.dat", t.dir);
    bool have_gnuplot = system("gnuplot --version > /dev/null 2>&1") == 0;
    assert_int_equal(run_cli("lore-bench", "history", "search_t", "--plot", svg), BENCH_EXIT_OK);
    struct stat st;
    assert_int_equal(stat(gp, &st), 0);
    assert_int_equal(stat(dat, &st), 0);
    if (have_gnuplot) {
        char *svg_text = read_all(svg, &len);
        assert_non_null(svg_text);
        assert_non_null(strstr(svg_text, "<svg"));
        assert_non_null(strstr(svg_text, "change point"));
        free(svg_text);
    }
    /* Without gnuplot on PATH: said, and exit 0 with the table. */
    unlink(svg);
    char *old_path = bench_strdup(getenv("PATH"));
    setenv("PATH", "/nonexistent", 1);
    rc = run_cli("lore-bench", "history", "search_t", "--plot", svg);
    setenv("PATH", old_path, 1);
    free(old_path);
    assert_int_equal(rc, BENCH_EXIT_OK);
    assert_int_equal(stat(svg, &st), -1);
    unsetenv(BENCH_HISTORY_ENV);
    tmp_remove(&t);
}

/* ---- change points ----------------------------------------------------------- */

/* Deterministic normal noise: xorshift64* + Box-Muller. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static double gauss(uint64_t *s)
{
    double u1 = ((double)(rng_next(s) >> 11) + 0.5) * 0x1.0p-53;
    double u2 = (double)(rng_next(s) >> 11) * 0x1.0p-53;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* level[i] times multiplicative noise of relative sd `noise`. */
static void series(double *x, size_t n, const double *level, double noise, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++)
        x[i] = level[i] * (1 + noise * gauss(&s));
}

static size_t detect(const double *x, size_t n, bench_change_point *cp)
{
    bench_cp_opts o = bench_cp_default_opts();
    size_t n_cp = 0;
    assert_int_equal(bench_history_change_points(x, n, &o, cp, 32, &n_cp), 0);
    return n_cp;
}

static void test_cp_clean_step(void **state)
{
    (void)state;
    /*
     * A 10% step in 3% noise at index 20 of 40, on 50 seeds: always one change
     * point. A value next to the step that the noise carried nearer the other
     * level moves it by one now and then (over 1000 seeds: 90% exactly at 20,
     * 98% within one), so: at 20 for at least 80% of the seeds (44 of these
     * 50), never more than 4 away.
     */
    double level[40], x[40];
    for (size_t i = 0; i < 40; i++)
        level[i] = i < 20 ? 100 : 110;
    bench_change_point cp[32];
    int exact = 0;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        series(x, 40, level, 0.03, seed);
        size_t n = detect(x, 40, cp);
        if (n != 1 || cp[0].index < 16 || cp[0].index > 24)
            fail_msg("seed %llu: %zu change points, the first at %zu", (unsigned long long)seed, n,
                     n ? cp[0].index : 0);
        exact += cp[0].index == 20;
        assert_true(cp[0].rel_change > 0.06 && cp[0].rel_change < 0.14);
        assert_true(cp[0].p_value <= 0.01);
    }
    if (exact < 40)
        fail_msg("the step was placed exactly for %d of 50 seeds", exact);
    /* A step down the same way, with exact medians on noise-free data. */
    const double y[10] = {2, 2, 2, 2, 2, 1, 1, 1, 1, 1};
    assert_int_equal(detect(y, 10, cp), 1);
    assert_int_equal(cp[0].index, 5);
    assert_double_equal(cp[0].median_before, 2, 0);
    assert_double_equal(cp[0].median_after, 1, 0);
    assert_double_equal(cp[0].rel_change, -0.5, 0);
}

static void test_cp_pure_noise(void **state)
{
    (void)state;
    /* 200 seeds of pure 3% noise (and some of 10%): at least 95% have no change point. */
    double level[40], x[40];
    for (size_t i = 0; i < 40; i++)
        level[i] = 100;
    bench_change_point cp[32];
    const double noises[] = {0.03, 0.10};
    for (size_t k = 0; k < 2; k++) {
        int clean = 0, seeds = 200;
        for (int seed = 1; seed <= seeds; seed++) {
            series(x, 40, level, noises[k], (uint64_t)seed + 1000);
            clean += detect(x, 40, cp) == 0;
        }
        if (clean < seeds * 95 / 100)
            fail_msg("noise %.2f: only %d of %d seeds without a change point", noises[k], clean,
                     seeds);
    }
}

static void test_cp_two_steps(void **state)
{
    (void)state;
    double level[60], x[60];
    bench_change_point cp[32];
    /* Up then down (a regression fixed later: no single split separates it, the circular
     * scan does), and two steps in the same direction; 20 seeds each. Over 1000 seeds:
     * exactly two change points 98%, each step placed exactly 94% and 89%. */
    const double shapes[2][3] = {{100, 112, 100}, {100, 110, 121}};
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < 60; i++)
            level[i] = shapes[k][i / 20];
        int two = 0, exact = 0;
        for (uint64_t seed = 1; seed <= 20; seed++) {
            series(x, 60, level, 0.03, seed + 50);
            size_t n = detect(x, 60, cp);
            if (n < 2)
                fail_msg("shape %zu seed %llu: %zu change point(s)", k, (unsigned long long)seed,
                         n);
            /* The two real steps are among those found, near their places. */
            size_t near20 = n, near40 = n;
            for (size_t c = 0; c < n; c++) {
                if (cp[c].index >= 16 && cp[c].index <= 24)
                    near20 = c;
                if (cp[c].index >= 36 && cp[c].index <= 44)
                    near40 = c;
            }
            if (near20 == n || near40 == n)
                fail_msg("shape %zu seed %llu: no change point near 20 or 40", k,
                         (unsigned long long)seed);
            assert_true(cp[near20].rel_change > 0.05);
            assert_true(k == 0 ? cp[near40].rel_change < -0.05 : cp[near40].rel_change > 0.05);
            two += n == 2;
            exact += (cp[near20].index == 20) + (cp[near40].index == 40);
        }
        if (two < 18 || exact < 32)
            fail_msg("shape %zu: exactly two change points for %d of 20 seeds, %d of 40 steps "
                     "placed exactly",
                     k, two, exact);
    }
}

static void test_cp_outlier_is_not_a_change(void **state)
{
    (void)state;
    double level[40], x[40];
    for (size_t i = 0; i < 40; i++)
        level[i] = 100;
    bench_change_point cp[32];
    /* One run three times slower (or 3x faster), in the middle, at the start or at the end. */
    const size_t where[] = {0, 17, 39};
    const double factor[] = {3.0, 1.0 / 3};
    for (uint64_t seed = 1; seed <= 10; seed++)
        for (size_t w = 0; w < 3; w++)
            for (size_t f = 0; f < 2; f++) {
                series(x, 40, level, 0.03, seed + 500);
                x[where[w]] *= factor[f];
                size_t n = detect(x, 40, cp);
                if (n != 0)
                    fail_msg("seed %llu, outlier x%.2f at %zu: change point at %zu",
                             (unsigned long long)seed, factor[f], where[w], cp[0].index);
            }
}

static void test_cp_edges(void **state)
{
    (void)state;
    bench_change_point cp[8];
    bench_cp_opts o = bench_cp_default_opts();
    size_t n = 99;
    const double flat[12] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
    assert_int_equal(bench_history_change_points(flat, 12, &o, cp, 8, &n), 0);
    assert_int_equal(n, 0);
    /* Too short for two segments of min_segment. */
    const double shortx[5] = {1, 1, 1, 9, 9};
    assert_int_equal(bench_history_change_points(shortx, 5, &o, cp, 8, &n), 0);
    assert_int_equal(n, 0);
    /* A clear step smaller than min_effect is dropped; with a lower min_effect it is kept. */
    double small[20];
    for (size_t i = 0; i < 20; i++)
        small[i] = (i < 10 ? 100 : 103) + 0.01 * (double)(i % 3);
    assert_int_equal(bench_history_change_points(small, 20, &o, cp, 8, &n), 0);
    assert_int_equal(n, 0);
    o.min_effect = 0.02;
    assert_int_equal(bench_history_change_points(small, 20, &o, cp, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(cp[0].index, 10);
    /* Not finite, bad options. */
    const double bad[6] = {1, 2, NAN, 4, 5, 6};
    assert_int_equal(bench_history_change_points(bad, 6, &o, cp, 8, &n), -1);
    o.alpha = 0;
    assert_int_equal(bench_history_change_points(flat, 12, &o, cp, 8, &n), -1);
    /* Same input, same answer. */
    o = bench_cp_default_opts();
    double level[30], x[30];
    for (size_t i = 0; i < 30; i++)
        level[i] = i < 15 ? 1 : 1.2;
    series(x, 30, level, 0.1, 7);
    bench_change_point a[8], b[8];
    size_t na = 0, nb = 0;
    assert_int_equal(bench_history_change_points(x, 30, &o, a, 8, &na), 0);
    assert_int_equal(bench_history_change_points(x, 30, &o, b, 8, &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_instruction_runs),
        cmocka_unit_test(test_point_filters),
        cmocka_unit_test(test_append_is_one_transaction),
        cmocka_unit_test(test_newer_schema_is_refused),
        cmocka_unit_test(test_not_sqlite),
        cmocka_unit_test(test_history_path),
        cmocka_unit_test(test_record_run),
        cmocka_unit_test(test_concurrent_appends),
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_cp_clean_step),
        cmocka_unit_test(test_cp_pure_noise),
        cmocka_unit_test(test_cp_two_steps),
        cmocka_unit_test(test_cp_outlier_is_not_a_change),
        cmocka_unit_test(test_cp_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
