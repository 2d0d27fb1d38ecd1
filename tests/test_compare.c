/*
 * test_compare.c - bench_compare on synthetic result documents whose samples
 * are drawn from known distributions, so every verdict has a known right
 * answer: identical distributions are "same", a 10% shift is "worse" with its
 * interval past 5%, a 3% shift is below the minimum effect, few samples and a
 * high noise floor are inconclusive; work and instruction counts are exact;
 * a machine of another class is compared only normalised; curves compare the
 * Pareto fronts. The writers' output is parsed back, and the subcommands run
 * on files in a temporary folder.
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
#include <unistd.h>

#include "compare.h"
#include "results.h"
#include "test_util.h"

/* ---- synthetic results ------------------------------------------------------- */

static uint64_t rng_state;

static double uniform01(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(rng_state >> 11) + 0.5) * 0x1.0p-53;
}

/* Log-normal op latencies around median, log-sd sigma. */
static void lognormal(double *x, size_t n, double median, double sigma, uint64_t seed)
{
    rng_state = seed * 2654435761ULL + 12345;
    for (size_t i = 0; i < n; i++) {
        double u = uniform01(), v = uniform01();
        x[i] = median * exp(sigma * sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v));
    }
}

typedef struct host_spec {
    const char *cpu;
    double gflops;
} host_spec;

static const host_spec here = {"Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", 100.0};

static cJSON *new_doc(const char *scenario, const char *workload, host_spec h)
{
    cJSON *doc = cJSON_CreateObject();
    assert_non_null(doc);
    cJSON_AddStringToObject(doc, "schema", "lore-bench/1");
    cJSON_AddBoolToObject(doc, "complete", 1);
    cJSON *sc = cJSON_AddObjectToObject(doc, "scenario");
    cJSON_AddStringToObject(sc, "name", scenario);
    cJSON_AddStringToObject(sc, "workload", workload);
    cJSON *host = cJSON_AddObjectToObject(doc, "host");
    cJSON *cpu = cJSON_AddObjectToObject(host, "cpu");
    cJSON_AddStringToObject(cpu, "model", h.cpu);
    cJSON_AddNumberToObject(cpu, "cores", 2);
    cJSON_AddNumberToObject(host, "memory_bytes", 25276502016.0);
    cJSON *blas = cJSON_AddObjectToObject(host, "blas");
    cJSON_AddStringToObject(blas, "core", "SkylakeX");
    cJSON *cal = cJSON_AddObjectToObject(host, "calibration");
    cJSON_AddNumberToObject(cal, "sgemm_gflops", h.gflops);
    cJSON_AddNumberToObject(cal, "stream_gbps", 12.5);
    cJSON_AddArrayToObject(doc, "points");
    return doc;
}

/* Adds a point with params (JSON text) and n samples; returns it. */
static cJSON *add_point(cJSON *doc, const char *id, const char *params, const double *samples,
                        size_t n, double items_per_op)
{
    cJSON *p = cJSON_CreateObject();
    assert_non_null(p);
    cJSON_AddItemToArray(cJSON_GetObjectItem(doc, "points"), p);
    cJSON_AddStringToObject(p, "id", id);
    cJSON *pj = cJSON_Parse(params);
    assert_non_null(pj);
    cJSON_AddItemToObject(p, "params", pj);
    cJSON_AddStringToObject(p, "status", "ok");
    cJSON_AddStringToObject(p, "item_unit", "query");
    cJSON_AddNumberToObject(p, "items_per_op", items_per_op);
    cJSON_AddNumberToObject(p, "n_samples", (double)n);
    cJSON_AddObjectToObject(p, "metrics");
    cJSON_AddObjectToObject(p, "counters");
    cJSON *s = cJSON_AddArrayToObject(p, "samples_ns");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(s, cJSON_CreateNumber(samples[i]));
    return p;
}

static cJSON *add_lognormal_point(cJSON *doc, const char *id, const char *params, size_t n,
                                  double median, double sigma, uint64_t seed)
{
    double *x = malloc(n * sizeof *x);
    assert_non_null(x);
    lognormal(x, n, median, sigma, seed);
    cJSON *p = add_point(doc, id, params, x, n, 1);
    free(x);
    return p;
}

static void add_metric(cJSON *p, const char *name, double value, const char *unit,
                       const char *better)
{
    cJSON *m = cJSON_AddObjectToObject(cJSON_GetObjectItem(p, "metrics"), name);
    cJSON_AddNumberToObject(m, "value", value);
    cJSON_AddStringToObject(m, "unit", unit);
    cJSON_AddStringToObject(m, "better", better);
}

static void add_counter(cJSON *p, const char *name, double per_op)
{
    cJSON *k = cJSON_AddObjectToObject(cJSON_GetObjectItem(p, "counters"), name);
    cJSON_AddBoolToObject(k, "available", 1);
    cJSON_AddNumberToObject(k, "value", per_op * 100);
    cJSON_AddNumberToObject(k, "per_op", per_op);
}

static void set_instructions(cJSON *p, double per_op)
{
    cJSON *i = cJSON_AddObjectToObject(p, "instructions");
    cJSON_AddNumberToObject(i, "per_op", per_op);
}

static const bench_metric_cmp *find(const bench_comparison *c, const char *point,
                                    const char *metric)
{
    for (size_t i = 0; i < c->n_items; i++)
        if (strcmp(c->items[i].point_id, point) == 0 && strcmp(c->items[i].metric, metric) == 0)
            return &c->items[i];
    fail_msg("no item %s / %s", point, metric);
    return NULL;
}

static bench_comparison *compare_ok(const cJSON *base, const cJSON *cand,
                                    const bench_compare_opts *o)
{
    bench_comparison *c = NULL;
    bench_err e = {{0}};
    int rc = bench_compare(base, "base.json", cand, "cand.json", o, &c, &e);
    if (rc != 0)
        fail_msg("bench_compare: %s", e.msg);
    assert_non_null(c);
    return c;
}

/* One point each side: base ~ median 1 ms, cand ~ median 1 ms * factor. */
static bench_comparison *one_point(size_t n_base, size_t n_cand, double factor, double sigma,
                                   const bench_compare_opts *o)
{
    cJSON *b = new_doc("s", "search", here), *c = new_doc("s", "search", here);
    add_lognormal_point(b, "kind=flat", "{\"kind\":\"flat\"}", n_base, 1e6, sigma, 1);
    add_lognormal_point(c, "kind=flat", "{\"kind\":\"flat\"}", n_cand, 1e6 * factor, sigma, 2);
    bench_comparison *r = compare_ok(b, c, o);
    cJSON_Delete(b);
    cJSON_Delete(c);
    return r;
}

/* ---- wall track ---------------------------------------------------------------- */

static void test_identical_is_same(void **state)
{
    (void)state;
    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *c = one_point(1000, 1000, 1.0, 0.05, &o);
    const bench_metric_cmp *p50 = find(c, "kind=flat", "latency_p50");
    print_message("A/A p50: %.4f [%.4f, %.4f] p=%.3f: %s\n", p50->ratio, p50->ci_lo, p50->ci_hi,
                  p50->p_value, p50->reason);
    assert_int_equal(p50->verdict, BENCH_VERDICT_SAME);
    assert_int_equal(p50->track, BENCH_TRACK_WALL);
    assert_true(p50->ci_lo < 1 && 1 < p50->ci_hi);
    assert_int_equal(find(c, "kind=flat", "throughput")->verdict, BENCH_VERDICT_SAME);
    assert_int_equal(find(c, "kind=flat", "latency_p99")->verdict, BENCH_VERDICT_SAME);
    assert_int_equal(c->n_worse + c->n_better + c->n_inconclusive + c->n_missing, 0);
    assert_int_equal(bench_comparison_exit_code(c, true), 0);
    bench_comparison_free(c);
}

static void test_ten_percent_slower_is_worse(void **state)
{
    (void)state;
    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *c = one_point(400, 400, 1.10, 0.05, &o);
    const bench_metric_cmp *p50 = find(c, "kind=flat", "latency_p50");
    const bench_metric_cmp *tp = find(c, "kind=flat", "throughput");
    print_message("p50 %.4f [%.4f, %.4f] q=%.2g; throughput %.4f [%.4f, %.4f]\n", p50->ratio,
                  p50->ci_lo, p50->ci_hi, p50->q_value, tp->ratio, tp->ci_lo, tp->ci_hi);
    assert_int_equal(p50->verdict, BENCH_VERDICT_WORSE);
    assert_true(p50->ci_lo > 1.05);
    assert_true(p50->q_value < 0.05);
    assert_double_equal(p50->threshold, 0.05, 0);
    /* throughput is the inverse, higher is better */
    assert_int_equal(tp->verdict, BENCH_VERDICT_WORSE);
    assert_int_equal(tp->better, BENCH_BETTER_HIGHER);
    assert_true(tp->ci_hi < 0.95);
    assert_double_equal(tp->ratio * p50->ratio, 1.0, 1e-9);
    assert_int_equal(bench_comparison_exit_code(c, false), BENCH_EXIT_GATE);
    bench_comparison_free(c);

    /* The same shift the other way is better. */
    c = one_point(400, 400, 1 / 1.10, 0.05, &o);
    assert_int_equal(find(c, "kind=flat", "latency_p50")->verdict, BENCH_VERDICT_BETTER);
    assert_int_equal(find(c, "kind=flat", "throughput")->verdict, BENCH_VERDICT_BETTER);
    assert_int_equal(c->n_worse, 0);
    bench_comparison_free(c);
}

static void test_three_percent_is_below_min_effect(void **state)
{
    (void)state;
    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *c = one_point(2000, 2000, 1.03, 0.03, &o);
    const bench_metric_cmp *p50 = find(c, "kind=flat", "latency_p50");
    print_message("3%%: %.4f [%.4f, %.4f] q=%.2g: %s\n", p50->ratio, p50->ci_lo, p50->ci_hi,
                  p50->q_value, p50->reason);
    assert_true(p50->q_value < 0.05);                   /* real, and resolved ... */
    assert_int_equal(p50->verdict, BENCH_VERDICT_SAME); /* ... but smaller than 5% */
    bench_comparison_free(c);

    /* With a 2% minimum effect the same data is worse. */
    o.min_effect = 0.02;
    c = one_point(2000, 2000, 1.03, 0.03, &o);
    assert_int_equal(find(c, "kind=flat", "latency_p50")->verdict, BENCH_VERDICT_WORSE);
    bench_comparison_free(c);
}

static void test_few_samples_inconclusive(void **state)
{
    (void)state;
    bench_compare_opts o = bench_compare_default_opts();
    /* A 50% slowdown, but only 5 baseline samples. */
    bench_comparison *c = one_point(5, 400, 1.5, 0.05, &o);
    const bench_metric_cmp *p50 = find(c, "kind=flat", "latency_p50");
    assert_int_equal(p50->verdict, BENCH_VERDICT_INCONCLUSIVE);
    assert_non_null(strstr(p50->reason, "n=5"));
    assert_true(isnan(p50->p_value));
    /* the p99 needs 500 a side */
    assert_int_equal(find(c, "kind=flat", "latency_p99")->verdict, BENCH_VERDICT_INCONCLUSIVE);
    assert_int_equal(bench_comparison_exit_code(c, false), 0);
    assert_int_equal(bench_comparison_exit_code(c, true), BENCH_EXIT_GATE);
    bench_comparison_free(c);

    /* Wide noise: the interval straddles the threshold, which is not "same". */
    c = one_point(30, 30, 1.0, 0.5, &o);
    p50 = find(c, "kind=flat", "latency_p50");
    print_message("wide: [%.3f, %.3f] %s\n", p50->ci_lo, p50->ci_hi, p50->reason);
    assert_int_equal(p50->verdict, BENCH_VERDICT_INCONCLUSIVE);
    bench_comparison_free(c);
}

static void test_noise_floor(void **state)
{
    (void)state;
    /* calibrate-noise's lore-noise/1 layout: points.ID.METRIC.floor */
    cJSON *noise = cJSON_Parse("{\"schema\":\"lore-noise/1\",\"scenario\":\"s\",\"points\":"
                               "{\"kind=flat\":{\"latency_p50\":{\"floor\":0.08,\"max\":0.1},"
                               "\"throughput\":{\"floor\":0.08}}}}");
    assert_non_null(noise);
    bench_compare_opts o = bench_compare_default_opts();
    o.noise = noise;
    /* A/A inside the 8% floor, which is above the 5% minimum effect: cannot tell. */
    bench_comparison *c = one_point(1000, 1000, 1.0, 0.05, &o);
    const bench_metric_cmp *p50 = find(c, "kind=flat", "latency_p50");
    print_message("%s\n", p50->reason);
    assert_int_equal(p50->verdict, BENCH_VERDICT_INCONCLUSIVE);
    assert_double_equal(p50->noise_floor, 0.08, 0);
    assert_double_equal(p50->threshold, 0.08, 0);
    assert_non_null(strstr(p50->reason, "noise floor"));
    /* the p99 has no floor in the file: judged on the 5% minimum effect */
    assert_int_equal(find(c, "kind=flat", "latency_p99")->verdict, BENCH_VERDICT_SAME);
    bench_comparison_free(c);

    /* A real 7% slowdown (past 5%, inside the 8% floor): inconclusive, not a silent pass. */
    c = one_point(1000, 1000, 1.07, 0.05, &o);
    p50 = find(c, "kind=flat", "latency_p50");
    print_message("7%% under an 8%% floor: [%.3f, %.3f] %s\n", p50->ci_lo, p50->ci_hi, p50->reason);
    assert_true(p50->ci_lo > 1.05);
    assert_int_equal(p50->verdict, BENCH_VERDICT_INCONCLUSIVE);
    bench_comparison_free(c);

    /* 10% is past it. */
    c = one_point(1000, 1000, 1.10, 0.05, &o);
    p50 = find(c, "kind=flat", "latency_p50");
    assert_int_equal(p50->verdict, BENCH_VERDICT_WORSE);
    assert_non_null(strstr(p50->reason, "noise floor"));
    bench_comparison_free(c);

    /* A floor below the minimum effect changes nothing. */
    cJSON_Delete(noise);
    noise = cJSON_Parse("{\"points\":{\"kind=flat\":{\"latency_p50\":0.01}}}");
    o.noise = noise;
    c = one_point(1000, 1000, 1.0, 0.05, &o);
    assert_int_equal(find(c, "kind=flat", "latency_p50")->verdict, BENCH_VERDICT_SAME);
    assert_double_equal(find(c, "kind=flat", "latency_p50")->threshold, 0.05, 0);
    bench_comparison_free(c);

    /* A noise file of another scenario, or with a bad floor, is refused. */
    bench_err e = {{0}};
    cJSON *b = new_doc("s", "search", here);
    add_lognormal_point(b, "kind=flat", "{\"kind\":\"flat\"}", 20, 1e6, 0.05, 1);
    cJSON_Delete(noise);
    noise = cJSON_Parse("{\"scenario\":\"other\",\"points\":{}}");
    o.noise = noise;
    assert_int_equal(bench_compare(b, "b", b, "c", &o, &c, &e), -1);
    assert_non_null(strstr(e.msg, "other"));
    cJSON_Delete(noise);
    noise = cJSON_Parse("{\"points\":{\"kind=flat\":{\"latency_p50\":\"big\"}}}");
    o.noise = noise;
    assert_int_equal(bench_compare(b, "b", b, "c", &o, &c, &e), -1);
    assert_non_null(strstr(e.msg, "latency_p50"));
    cJSON_Delete(noise);
    cJSON_Delete(b);
}

/*
 * 200 points of pure noise: about 5% of raw p-values fall below 0.05, but
 * after Benjamini-Hochberg (and with no minimum effect to hide behind) no
 * point may come out changed more often than the false discovery rate allows.
 */
static void test_bh_controls_false_alarms(void **state)
{
    (void)state;
    cJSON *b = new_doc("s", "search", here), *c = new_doc("s", "search", here);
    char id[32], params[64];
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "i=%d", i);
        snprintf(params, sizeof params, "{\"i\":%d}", i);
        add_lognormal_point(b, id, params, 40, 1e6, 0.2, 1000 + (uint64_t)i);
        add_lognormal_point(c, id, params, 40, 1e6, 0.2, 5000 + (uint64_t)i);
    }
    bench_compare_opts o = bench_compare_default_opts();
    o.min_effect = 0;
    o.n_boot = 200;
    bench_comparison *r = compare_ok(b, c, &o);
    size_t raw = 0, changed = 0;
    for (size_t i = 0; i < r->n_items; i++) {
        const bench_metric_cmp *m = &r->items[i];
        if (strcmp(m->metric, "latency_p50") != 0)
            continue;
        raw += m->p_value < 0.05;
        changed += m->verdict == BENCH_VERDICT_WORSE || m->verdict == BENCH_VERDICT_BETTER;
        assert_true(m->q_value >= m->p_value);
    }
    print_message("raw p < 0.05: %zu of 200; changed after BH: %zu\n", raw, changed);
    assert_true(raw >= 3);     /* the raw tests do fire on noise ... */
    assert_true(changed <= 1); /* ... BH keeps them from becoming verdicts */
    bench_comparison_free(r);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

/* ---- work and instructions ---------------------------------------------------- */

static void test_work_counters_exact(void **state)
{
    (void)state;
    double x[20];
    lognormal(x, 20, 1e6, 0.05, 3);
    cJSON *b = new_doc("s", "search", here), *c = new_doc("s", "search", here);
    cJSON *pb = add_point(b, "p", "{\"kind\":\"flat\"}", x, 20, 1);
    cJSON *pc = add_point(c, "p", "{\"kind\":\"flat\"}", x, 20, 1);
    add_counter(pb, "sde:::lore::index_distances", 10000);
    add_counter(pc, "sde:::lore::index_distances", 10000);
    add_counter(pb, "sde:::lore::index_hops", 500);
    add_counter(pc, "sde:::lore::index_hops", 501); /* 0.2% more work */
    add_counter(pb, "sde:::lore::cache_hits", 10);
    add_counter(pc, "sde:::lore::cache_hits", 12);
    add_counter(pb, "sde:::lore::sgemm_calls", 0);
    add_counter(pc, "sde:::lore::sgemm_calls", 0);
    add_counter(pb, "PAPI_TOT_CYC", 1e6);
    add_counter(pc, "PAPI_TOT_CYC", 1.3e6);
    add_counter(pb, "sde:::lore::queries", 1);
    cJSON *gone =
        cJSON_AddObjectToObject(cJSON_GetObjectItem(pc, "counters"), "sde:::lore::queries");
    cJSON_AddBoolToObject(gone, "available", 0);
    cJSON_AddStringToObject(gone, "reason", "component disabled");
    add_metric(pb, "recall_at_k", 0.95, "ratio", "higher");
    add_metric(pc, "recall_at_k", 0.94, "ratio", "higher");
    add_metric(pb, "index_bytes", 1000, "bytes", "lower");
    add_metric(pc, "index_bytes", 1000, "bytes", "lower");
    add_metric(pb, "n_chunks", 10, "chunks", "none");
    add_metric(pc, "n_chunks", 11, "chunks", "none");
    add_metric(pb, "dropped", 1, "count", "lower");

    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *r = compare_ok(b, c, &o);
    const bench_metric_cmp *m = find(r, "p", "counter:sde:::lore::index_distances");
    assert_int_equal(m->track, BENCH_TRACK_WORK);
    assert_int_equal(m->verdict, BENCH_VERDICT_SAME);
    m = find(r, "p", "counter:sde:::lore::index_hops");
    assert_int_equal(m->verdict, BENCH_VERDICT_WORSE);
    assert_double_equal(m->ratio, 501.0 / 500, 1e-12);
    assert_int_equal(find(r, "p", "counter:sde:::lore::cache_hits")->verdict, BENCH_VERDICT_BETTER);
    m = find(r, "p", "counter:PAPI_TOT_CYC");
    assert_true(m->informational);
    m = find(r, "p", "counter:sde:::lore::queries");
    assert_int_equal(m->verdict, BENCH_VERDICT_MISSING);
    assert_non_null(strstr(m->reason, "component disabled"));
    for (size_t i = 0; i < r->n_items; i++)
        assert_null(strstr(r->items[i].metric, "sgemm_calls")); /* 0 on both: left out */
    m = find(r, "p", "recall_at_k");
    assert_int_equal(m->track, BENCH_TRACK_WORK);
    assert_int_equal(m->verdict, BENCH_VERDICT_WORSE);
    assert_int_equal(find(r, "p", "index_bytes")->verdict, BENCH_VERDICT_SAME);
    m = find(r, "p", "n_chunks");
    assert_true(m->informational);
    assert_int_equal(m->verdict, BENCH_VERDICT_SAME);
    assert_int_equal(find(r, "p", "dropped")->verdict, BENCH_VERDICT_MISSING);
    /* hops, recall; cache hits better; queries and dropped missing */
    assert_int_equal(r->n_worse, 2);
    assert_int_equal(r->n_better, 1);
    assert_int_equal(r->n_missing, 2);
    bench_comparison_free(r);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

static void test_instructions_track(void **state)
{
    (void)state;
    double x[20];
    lognormal(x, 20, 1e6, 0.05, 3);
    const double deltas[] = {0.01, 0.001, -0.01};
    const bench_verdict want[] = {BENCH_VERDICT_WORSE, BENCH_VERDICT_SAME, BENCH_VERDICT_BETTER};
    for (size_t i = 0; i < 3; i++) {
        cJSON *b = new_doc("s", "search", here), *c = new_doc("s", "search", here);
        set_instructions(add_point(b, "p", "{\"k\":1}", x, 20, 1), 2.5e6);
        set_instructions(add_point(c, "p", "{\"k\":1}", x, 20, 1), 2.5e6 * (1 + deltas[i]));
        bench_compare_opts o = bench_compare_default_opts();
        bench_comparison *r = compare_ok(b, c, &o);
        const bench_metric_cmp *m = find(r, "p", "instructions_per_op");
        print_message("%+.1f%%: %s (%s)\n", deltas[i] * 100, bench_verdict_name(m->verdict),
                      m->reason);
        assert_int_equal(m->track, BENCH_TRACK_INSTRUCTIONS);
        assert_int_equal(m->verdict, want[i]);
        assert_double_equal(m->threshold, 0.003, 0);
        bench_comparison_free(r);
        cJSON_Delete(b);
        cJSON_Delete(c);
    }
    /* On one side only: missing; on neither: no item. */
    cJSON *b = new_doc("s", "search", here), *c = new_doc("s", "search", here);
    add_point(b, "p", "{\"k\":1}", x, 20, 1);
    set_instructions(add_point(c, "p", "{\"k\":1}", x, 20, 1), 1e6);
    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *r = compare_ok(b, c, &o);
    assert_int_equal(find(r, "p", "instructions_per_op")->verdict, BENCH_VERDICT_MISSING);
    bench_comparison_free(r);
    r = compare_ok(b, b, &o);
    for (size_t i = 0; i < r->n_items; i++)
        assert_string_not_equal(r->items[i].metric, "instructions_per_op");
    bench_comparison_free(r);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

static void test_metric_tracks(void **state)
{
    (void)state;
    static const struct {
        const char *name, *unit;
        bench_track t;
    } cases[] = {
        {"qps", "queries/s", BENCH_TRACK_WALL},
        {"gflop_per_s", "GFLOP/s", BENCH_TRACK_WALL},
        {"embed_ms", "ms", BENCH_TRACK_WALL},
        {"train_s", "s", BENCH_TRACK_WALL},
        {"embed_fraction", "ratio of op time", BENCH_TRACK_WALL},
        {"gemm_efficiency", "ratio", BENCH_TRACK_WALL},
        {"recall_at_k", "ratio", BENCH_TRACK_WORK},
        {"index_bytes", "bytes", BENCH_TRACK_WORK},
        {"hops_per_query", "count", BENCH_TRACK_WORK},
        {"padded_token_ratio", "ratio", BENCH_TRACK_WORK},
        {"cache_hit_rate", "ratio", BENCH_TRACK_WORK},
        {"counter:sde:::lore::index_hops", "per op", BENCH_TRACK_WORK},
        {"instructions_per_op", "instructions", BENCH_TRACK_INSTRUCTIONS},
        {"latency_p99", "ns", BENCH_TRACK_WALL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("%s [%s]\n", cases[i].name, cases[i].unit);
        assert_int_equal(bench_metric_track(cases[i].name, cases[i].unit), cases[i].t);
    }
    assert_string_equal(bench_track_name(BENCH_TRACK_INSTRUCTIONS), "instructions");
    assert_string_equal(bench_verdict_name(BENCH_VERDICT_INCONCLUSIVE), "inconclusive");
}

/* Workload wall metrics have no samples: shown, never judged. */
static void test_wall_workload_metrics(void **state)
{
    (void)state;
    cJSON *b = new_doc("s", "search", here), *c = new_doc("s", "search", here);
    cJSON *pb = add_lognormal_point(b, "p", "{\"k\":1}", 400, 1e6, 0.05, 1);
    cJSON *pc = add_lognormal_point(c, "p", "{\"k\":1}", 400, 1.2e6, 0.05, 2);
    add_metric(pb, "qps", 1000, "queries/s", "higher");
    add_metric(pc, "qps", 830, "queries/s", "higher");
    add_metric(pb, "embed_ms", 0.5, "ms", "lower");
    add_metric(pc, "embed_ms", 0.9, "ms", "lower");
    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *r = compare_ok(b, c, &o);
    const bench_metric_cmp *qps = find(r, "p", "qps"), *ms = find(r, "p", "embed_ms");
    assert_true(qps->informational);
    assert_int_equal(qps->verdict, BENCH_VERDICT_SAME);
    assert_double_equal(qps->ratio, 0.83, 1e-12);
    assert_non_null(strstr(qps->reason, "throughput"));
    assert_true(ms->informational);
    assert_double_equal(ms->ratio, 1.8, 1e-12);
    assert_int_equal(r->n_worse, 2); /* latency_p50 and throughput; the p99 needs 500 */
    bench_comparison_free(r);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

/* Per-op work averaged over different op counts (time-bounded runs of a
 * cycling workload) gets about ten ops' worth of tolerance; equal counts stay exact. */
static void test_work_over_different_op_counts(void **state)
{
    (void)state;
    double x[5000];
    lognormal(x, 5000, 1e6, 0.05, 3);
    cJSON *b = new_doc("s", "search", here), *c = new_doc("s", "search", here);
    cJSON *pb = add_point(b, "p", "{\"k\":1}", x, 5000, 1);
    cJSON *pc = add_point(c, "p", "{\"k\":1}", x, 4000, 1);
    add_counter(pb, "sde:::lore::index_hops", 41.7307);
    add_counter(pc, "sde:::lore::index_hops", 41.7276); /* -0.007%: another mix of queries */
    add_counter(pb, "sde:::lore::index_distances", 400);
    add_counter(pc, "sde:::lore::index_distances", 404); /* +1%: real */
    add_metric(pb, "hops_per_query", 41.7307, "count", "lower");
    add_metric(pc, "hops_per_query", 41.7276, "count", "lower");
    add_metric(pb, "recall_at_k", 0.9512, "ratio", "higher");
    add_metric(pc, "recall_at_k", 0.9511, "ratio", "higher"); /* not an average over ops */
    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *r = compare_ok(b, c, &o);
    const bench_metric_cmp *m = find(r, "p", "counter:sde:::lore::index_hops");
    print_message("%s\n", m->reason);
    assert_int_equal(m->verdict, BENCH_VERDICT_SAME);
    assert_double_equal(m->threshold, 10.0 / 4000, 1e-15);
    assert_non_null(strstr(m->reason, "different op counts"));
    assert_int_equal(find(r, "p", "hops_per_query")->verdict, BENCH_VERDICT_SAME);
    assert_int_equal(find(r, "p", "counter:sde:::lore::index_distances")->verdict,
                     BENCH_VERDICT_WORSE);
    assert_int_equal(find(r, "p", "recall_at_k")->verdict, BENCH_VERDICT_WORSE);
    bench_comparison_free(r);
    cJSON_Delete(b);
    cJSON_Delete(c);

    /* The same op count: exact again. */
    b = new_doc("s", "search", here);
    c = new_doc("s", "search", here);
    pb = add_point(b, "p", "{\"k\":1}", x, 5000, 1);
    pc = add_point(c, "p", "{\"k\":1}", x, 5000, 1);
    add_counter(pb, "sde:::lore::index_hops", 41.7307);
    add_counter(pc, "sde:::lore::index_hops", 41.7276);
    r = compare_ok(b, c, &o);
    assert_int_equal(find(r, "p", "counter:sde:::lore::index_hops")->verdict, BENCH_VERDICT_BETTER);
    bench_comparison_free(r);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

/* ---- matching and classes ----------------------------------------------------- */

static void test_cross_class_normalised(void **state)
{
    (void)state;
    /* The candidate machine is half as fast: calibration and latencies both show it. */
    host_spec slow = {"AMD EPYC 7B13 64-Core Processor", 50.0};
    cJSON *b = new_doc("s", "embed", here), *c = new_doc("s", "embed", slow);
    cJSON *pb = add_lognormal_point(b, "p", "{\"k\":1}", 600, 1e6, 0.05, 1);
    cJSON *pc = add_lognormal_point(c, "p", "{\"k\":1}", 600, 2e6, 0.05, 2);
    add_counter(pb, "sde:::lore::embed_flops", 1e9);
    add_counter(pc, "sde:::lore::embed_flops", 1e9);
    add_counter(pb, "PAPI_TOT_INS", 1e9);
    add_counter(pc, "PAPI_TOT_INS", 1e9);
    add_metric(pb, "texts_per_s", 1000, "texts/s", "higher");
    add_metric(pc, "texts_per_s", 500, "texts/s", "higher");
    add_metric(pb, "embed_ms", 1, "ms", "lower");
    add_metric(pc, "embed_ms", 2, "ms", "lower");
    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *r = compare_ok(b, c, &o);
    assert_true(r->cross_class);
    assert_string_not_equal(r->base_class, r->cand_class);
    const bench_metric_cmp *p50 = find(r, "p", "latency_p50");
    print_message("normalised p50 %.4f [%.4f, %.4f]\n", p50->ratio, p50->ci_lo, p50->ci_hi);
    assert_true(p50->normalised);
    assert_int_equal(p50->verdict, BENCH_VERDICT_SAME);
    const bench_metric_cmp *tps = find(r, "p", "texts_per_s");
    assert_true(tps->normalised);
    assert_double_equal(tps->ratio, 1.0, 1e-12);
    assert_int_equal(find(r, "p", "counter:sde:::lore::embed_flops")->verdict, BENCH_VERDICT_SAME);
    for (size_t i = 0; i < r->n_items; i++) {
        const bench_metric_cmp *m = &r->items[i];
        assert_true(m->track != BENCH_TRACK_WALL || m->normalised);
        assert_string_not_equal(m->metric, "embed_ms");             /* not normalisable */
        assert_string_not_equal(m->metric, "counter:PAPI_TOT_INS"); /* another machine's */
    }
    size_t len = 0;
    char *md = NULL;
    FILE *f = open_memstream(&md, &len);
    bench_err e = {{0}};
    assert_int_equal(bench_comparison_write_summary(r, f, &e), 0);
    fclose(f);
    assert_non_null(strstr(md, "another machine class"));
    free(md);
    bench_comparison_free(r);

    /* sql has no calibration that measures it: no wall numbers at all. */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(b, "scenario"), "workload",
                              cJSON_CreateString("sql"));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(c, "scenario"), "workload",
                              cJSON_CreateString("sql"));
    r = compare_ok(b, c, &o);
    for (size_t i = 0; i < r->n_items; i++)
        assert_int_not_equal(r->items[i].track, BENCH_TRACK_WALL);
    assert_int_equal(find(r, "p", "counter:sde:::lore::embed_flops")->verdict, BENCH_VERDICT_SAME);
    bench_comparison_free(r);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

static void test_ignore_params(void **state)
{
    (void)state;
    double x[200];
    lognormal(x, 200, 1e6, 0.05, 9);
    /* batch 16 against batch 32 at the same op latency: twice the items/s. */
    cJSON *b = new_doc("s", "embed", here), *c = new_doc("s", "embed", here);
    add_point(b, "batch=16", "{\"batch\":16,\"tier\":\"a\"}", x, 200, 16);
    add_point(c, "batch=32", "{\"batch\":32,\"tier\":\"a\"}", x, 200, 32);
    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *r = NULL;
    bench_err e = {{0}};
    assert_int_equal(bench_compare(b, "b.json", c, "c.json", &o, &r, &e), -1);
    print_message("%s\n", e.msg);
    assert_non_null(strstr(e.msg, "no point in common"));
    assert_non_null(strstr(e.msg, "batch"));
    const char *ignore[] = {"batch"};
    o.ignore_params = ignore;
    o.n_ignore = 1;
    r = compare_ok(b, c, &o);
    const bench_metric_cmp *tp = find(r, "batch=32", "throughput");
    assert_double_equal(tp->ratio, 2.0, 1e-9);
    assert_int_equal(tp->verdict, BENCH_VERDICT_BETTER);
    assert_int_equal(find(r, "batch=32", "latency_p50")->verdict, BENCH_VERDICT_SAME);
    bench_comparison_free(r);

    /* Ignoring a parameter that tells two points apart makes them ambiguous. */
    add_point(b, "batch=64", "{\"batch\":64,\"tier\":\"a\"}", x, 200, 64);
    add_point(b, "tier=b", "{\"batch\":16,\"tier\":\"b\"}", x, 200, 16);
    add_point(c, "tier=b", "{\"batch\":16,\"tier\":\"b\"}", x, 200, 16);
    r = compare_ok(b, c, &o);
    assert_int_equal(find(r, "batch=32", "point")->verdict, BENCH_VERDICT_MISSING);
    assert_non_null(strstr(find(r, "batch=32", "point")->reason, "ambiguous"));
    assert_int_equal(find(r, "tier=b", "latency_p50")->verdict, BENCH_VERDICT_SAME);
    bench_comparison_free(r);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

static void test_missing_failed_and_mismatched(void **state)
{
    (void)state;
    double x[50];
    lognormal(x, 50, 1e6, 0.05, 4);
    cJSON *b = new_doc("s", "search", here), *c = new_doc("s", "search", here);
    add_point(b, "k=1", "{\"k\":1}", x, 50, 1);
    add_point(c, "k=1", "{\"k\":1}", x, 50, 1);
    add_point(b, "k=2", "{\"k\":2}", x, 50, 1);
    cJSON *bad = add_point(c, "k=3", "{\"k\":3}", x, 50, 1);
    add_point(b, "k=3", "{\"k\":3}", x, 50, 1);
    cJSON_ReplaceItemInObject(bad, "status", cJSON_CreateString("error"));
    cJSON_AddStringToObject(bad, "error", "probes > lists");
    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *r = compare_ok(b, c, &o);
    assert_int_equal(find(r, "k=2", "point")->verdict, BENCH_VERDICT_MISSING);
    assert_non_null(strstr(find(r, "k=3", "point")->reason, "probes > lists"));
    assert_int_equal(r->n_missing, 2);
    bench_comparison_free(r);

    /* Different scenarios are not compared. */
    cJSON *other = new_doc("t", "search", here);
    add_point(other, "k=1", "{\"k\":1}", x, 50, 1);
    bench_err e = {{0}};
    assert_int_equal(bench_compare(b, "b.json", other, "t.json", &o, &r, &e), -1);
    assert_non_null(strstr(e.msg, "different scenarios"));
    assert_null(r);
    cJSON_Delete(other);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

static void test_machine_class(void **state)
{
    (void)state;
    cJSON *d = new_doc("s", "search", here);
    char cls[160];
    bench_err e = {{0}};
    assert_int_equal(bench_machine_class(d, cls, sizeof cls, &e), 0);
    assert_string_equal(cls, "intel-xeon-platinum-8481c-2c-24g-skylakex");
    cJSON *cpu = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "host"), "cpu");
    cJSON_ReplaceItemInObject(cpu, "model", cJSON_CreateString("Intel(R) Xeon(R) Processor"));
    assert_int_equal(bench_machine_class(d, cls, sizeof cls, &e), 0);
    assert_string_equal(cls, "intel-xeon-processor-2c-24g-skylakex");
    char small[8];
    assert_int_equal(bench_machine_class(d, small, sizeof small, &e), -1);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(d, "host"), "blas");
    assert_int_equal(bench_machine_class(d, cls, sizeof cls, &e), -1);
    assert_non_null(strstr(e.msg, "blas.core"));
    cJSON_Delete(d);
}

/* ---- curves ------------------------------------------------------------------ */

/* An IVF sweep: probes 1..8 with rising recall and falling QPS. */
static void add_ivf_sweep(cJSON *doc, double slowdown, uint64_t seed)
{
    static const int probes[] = {1, 2, 4, 8};
    static const double recall[] = {0.80, 0.91, 0.96, 0.995};
    static const double lat_us[] = {100, 180, 330, 620};
    for (int i = 0; i < 4; i++) {
        char id[64], params[128];
        snprintf(id, sizeof id, "probes=%d", probes[i]);
        snprintf(params, sizeof params, "{\"kind\":\"ivf\",\"lists\":50,\"probes\":%d}", probes[i]);
        cJSON *p = add_lognormal_point(doc, id, params, 500, lat_us[i] * 1e3 * slowdown, 0.1,
                                       seed + (uint64_t)i);
        add_metric(p, "recall_at_k", recall[i], "ratio", "higher");
    }
    /* a lone flat point: one point is a cell, not a curve */
    cJSON *p = add_lognormal_point(doc, "flat", "{\"kind\":\"flat\",\"lists\":50,\"probes\":1}",
                                   500, 2e6, 0.1, seed + 9);
    add_metric(p, "recall_at_k", 1.0, "ratio", "higher");
}

static const bench_curve_cmp *find_curve(const bench_comparison *c, double level)
{
    for (size_t i = 0; i < c->n_curves; i++)
        if (fabs(c->curves[i].recall_level - level) < 1e-9)
            return &c->curves[i];
    fail_msg("no curve at recall %.2f", level);
    return NULL;
}

static void test_curves(void **state)
{
    (void)state;
    cJSON *b = new_doc("ivf", "search", here), *c = new_doc("ivf", "search", here);
    add_ivf_sweep(b, 1.0, 10);
    add_ivf_sweep(c, 1.0 / 0.9, 20); /* QPS 10% lower everywhere */
    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *r = compare_ok(b, c, &o);
    assert_int_equal(r->n_curves, 3); /* ivf at 0.90, 0.95, 0.99; flat is no curve */
    const bench_curve_cmp *k = find_curve(r, 0.95);
    print_message("%s: QPS at %s >= 0.95: %+.1f%% [%+.1f%%, %+.1f%%] %s\n", k->group,
                  k->recall_metric, (k->ratio - 1) * 100, (k->ci_lo - 1) * 100,
                  (k->ci_hi - 1) * 100, k->reason);
    assert_string_equal(k->group, "kind=ivf");
    assert_string_equal(k->recall_metric, "recall_at_k");
    assert_int_equal(k->verdict, BENCH_VERDICT_WORSE);
    /* probes=4 is the best point at recall >= 0.95 on both sides */
    assert_double_equal(k->base_qps, 1e9 / 330e3, 1e9 / 330e3 * 0.05);
    assert_true(k->ci_hi < 0.95 && k->ci_lo < 0.9 && 0.9 < k->ci_hi);
    assert_non_null(strstr(k->reason, "probes=4"));
    bench_comparison_free(r);

    /* The candidate no longer reaches 0.99 (its best point lost recall): worse. */
    cJSON *c2 = new_doc("ivf", "search", here);
    add_ivf_sweep(c2, 1.0, 30);
    cJSON *p8 = cJSON_GetArrayItem(cJSON_GetObjectItem(c2, "points"), 3);
    cJSON_ReplaceItemInObject(
        cJSON_GetObjectItem(cJSON_GetObjectItem(p8, "metrics"), "recall_at_k"), "value",
        cJSON_CreateNumber(0.985));
    r = compare_ok(b, c2, &o);
    k = find_curve(r, 0.99);
    assert_int_equal(k->verdict, BENCH_VERDICT_WORSE);
    assert_true(isnan(k->cand_qps));
    assert_int_equal(find_curve(r, 0.95)->verdict, BENCH_VERDICT_SAME);
    bench_comparison_free(r);
    cJSON_Delete(c2);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

/* ---- writers --------------------------------------------------------------------- */

static char *render(const bench_comparison *c,
                    int (*w)(const bench_comparison *, FILE *, bench_err *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    bench_err e = {{0}};
    assert_int_equal(w(c, f, &e), 0);
    fclose(f);
    return buf;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Minimal well-formedness: balanced elements, quoted attributes, escaped text. */
static void check_xml(const char *x)
{
    assert_true(strncmp(x, "<?xml version=\"1.0\"", 19) == 0);
    const char *stack[16];
    int depth = 0;
    for (const char *p = strchr(x + 1, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        /* no raw '<' or '&' that is not an entity inside a tag */
        for (const char *q = p + 1; q < end; q++) {
            assert_true(*q != '<');
            if (*q == '&')
                assert_true(strncmp(q, "&amp;", 5) == 0 || strncmp(q, "&lt;", 4) == 0 ||
                            strncmp(q, "&gt;", 4) == 0 || strncmp(q, "&quot;", 6) == 0 ||
                            strncmp(q, "&apos;", 6) == 0);
        }
        size_t quotes = 0;
        for (const char *q = p; q < end; q++)
            quotes += *q == '"';
        assert_int_equal(quotes % 2, 0);
        if (p[1] == '/') {
            assert_true(depth > 0);
            depth--;
            size_t n = strcspn(p + 2, " >");
            assert_true(strncmp(stack[depth], p + 2, n) == 0);
        } else if (end[-1] != '/') {
            assert_true(depth < 16);
            stack[depth++] = p + 1;
        }
    }
    assert_int_equal(depth, 0);
}

static void test_writers(void **state)
{
    (void)state;
    cJSON *b = new_doc("w", "search", here), *c = new_doc("w", "search", here);
    add_lognormal_point(b, "slow<&\"q\">", "{\"k\":1}", 400, 1e6, 0.05, 1);
    add_lognormal_point(c, "slow<&\"q\">", "{\"k\":1}", 400, 1.2e6, 0.05, 2);
    cJSON *pb = add_lognormal_point(b, "same", "{\"k\":2}", 400, 1e6, 0.05, 3);
    cJSON *pc = add_lognormal_point(c, "same", "{\"k\":2}", 400, 1e6, 0.05, 4);
    add_counter(pb, "sde:::lore::index_hops", 7);
    add_counter(pc, "sde:::lore::index_hops", 7);
    add_lognormal_point(b, "few", "{\"k\":3}", 3, 1e6, 0.05, 5);
    add_lognormal_point(c, "few", "{\"k\":3}", 3, 1e6, 0.05, 6);
    bench_compare_opts o = bench_compare_default_opts();
    bench_comparison *r = compare_ok(b, c, &o);
    assert_true(r->n_worse >= 2);

    /* Markdown: the verdict table first, worse rows before the rest. */
    char *md = render(r, bench_comparison_write_markdown);
    const char *verdicts = strstr(md, "### Verdicts");
    const char *per_point = strstr(md, "### Per point");
    assert_non_null(verdicts);
    assert_non_null(per_point);
    assert_true(verdicts < per_point);
    const char *first_row = strstr(verdicts, "| **");
    assert_non_null(first_row);
    assert_true(strncmp(first_row, "| **worse** | wall |", 20) == 0);
    const char *incon = strstr(verdicts, "| **inconclusive**");
    assert_non_null(incon);
    assert_true(incon > first_row && incon < per_point);
    assert_non_null(strstr(per_point, "| work | counter:sde:::lore::index_hops |"));
    free(md);

    /* JUnit: one test case per compared number, failures for worse, skipped. */
    char *xml = render(r, bench_comparison_write_junit);
    check_xml(xml);
    assert_int_equal(count(xml, "<testcase "), r->n_items + r->n_curves);
    assert_int_equal(count(xml, "<failure "), r->n_worse);
    assert_int_equal(count(xml, "<skipped "), r->n_inconclusive + r->n_missing);
    assert_non_null(strstr(xml, "slow&lt;&amp;&quot;q&quot;&gt;"));
    free(xml);

    /* BMF: the candidate's values, bounds from the interval. */
    char *bmf = render(r, bench_comparison_write_bmf);
    cJSON *doc = cJSON_Parse(bmf);
    assert_non_null(doc);
    const cJSON *bench = cJSON_GetObjectItemCaseSensitive(doc, "w/slow<&\"q\">");
    assert_non_null(bench);
    const cJSON *p50 = cJSON_GetObjectItemCaseSensitive(bench, "latency_p50");
    const bench_metric_cmp *m = find(r, "slow<&\"q\">", "latency_p50");
    assert_double_equal(cJSON_GetObjectItem(p50, "value")->valuedouble, m->cand, m->cand * 1e-12);
    double lo = cJSON_GetObjectItem(p50, "lower_value")->valuedouble;
    double hi = cJSON_GetObjectItem(p50, "upper_value")->valuedouble;
    assert_true(lo < m->cand && m->cand < hi);
    const cJSON *hops = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "w/same"), "counter:sde:::lore::index_hops");
    assert_double_equal(cJSON_GetObjectItem(hops, "value")->valuedouble, 7, 0);
    assert_null(cJSON_GetObjectItem(hops, "lower_value"));
    cJSON_Delete(doc);
    free(bmf);

    /* JSON: round trip of the counts and one item. */
    cJSON *j = bench_comparison_to_json(r);
    assert_non_null(j);
    char *text = cJSON_PrintUnformatted(j);
    cJSON *back = cJSON_Parse(text);
    assert_non_null(back);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(back, "summary"), "worse")->valueint,
                     (int)r->n_worse);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(back, "items")), (int)r->n_items);
    cJSON_Delete(back);
    free(text);
    cJSON_Delete(j);

    /* Seeded: the same inputs give the same intervals. */
    bench_comparison *r2 = compare_ok(b, c, &o);
    assert_int_equal(r2->n_items, r->n_items);
    for (size_t i = 0; i < r->n_items; i++)
        assert_true(memcmp(&r->items[i].ci_lo, &r2->items[i].ci_lo, sizeof(double)) == 0);
    bench_comparison_free(r2);
    bench_comparison_free(r);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

/* ---- subcommands --------------------------------------------------------------- */

static void write_doc(const char *path, const cJSON *doc)
{
    char *text = cJSON_Print(doc);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
}

static int run_cli(int (*fn)(int, char **), const char *const *args)
{
    char *argv[32];
    int argc = 0;
    for (; args[argc]; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    fflush(stdout);
    return fn(argc, argv);
}

static void test_cli_baseline_and_compare(void **state)
{
    (void)state;
    char dir[] = "/tmp/lore-test-compare-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char base[256], cand[256], slow[256], bdir[256], md[300], junit[300], bmf[300], json[300];
    snprintf(base, sizeof base, "%s/base.json", dir);
    snprintf(cand, sizeof cand, "%s/cand.json", dir);
    snprintf(slow, sizeof slow, "%s/slow.json", dir);
    snprintf(bdir, sizeof bdir, "%s/baselines", dir);
    snprintf(md, sizeof md, "%s/out.md", dir);
    snprintf(junit, sizeof junit, "%s/out.xml", dir);
    snprintf(bmf, sizeof bmf, "%s/out.bmf.json", dir);
    snprintf(json, sizeof json, "%s/out.json", dir);
    cJSON *b = new_doc("cli", "search", here), *c = new_doc("cli", "search", here),
          *s = new_doc("cli", "search", here);
    add_lognormal_point(b, "k=1", "{\"k\":1}", 400, 1e6, 0.05, 1);
    add_lognormal_point(c, "k=1", "{\"k\":1}", 400, 1e6, 0.05, 2);
    add_lognormal_point(s, "k=1", "{\"k\":1}", 400, 1.15e6, 0.05, 3);
    write_doc(base, b);
    write_doc(cand, c);
    write_doc(slow, s);

    const char *save[] = {"lore-bench", "baseline", "save", base, "--dir", bdir, NULL};
    assert_int_equal(run_cli(bench_cli_baseline, save), 0);
    char blessed[400];
    snprintf(blessed, sizeof blessed, "%s/intel-xeon-platinum-8481c-2c-24g-skylakex/cli.json",
             bdir);
    struct stat st;
    assert_int_equal(stat(blessed, &st), 0);

    /* An interrupted result is refused unless forced. */
    cJSON_ReplaceItemInObject(s, "complete", cJSON_CreateFalse());
    char partial[300];
    snprintf(partial, sizeof partial, "%s/partial.json", dir);
    write_doc(partial, s);
    const char *save_partial[] = {"lore-bench", "baseline", "save", partial, "--dir",
                                  bdir,         "--name",   "p",    NULL};
    assert_int_equal(run_cli(bench_cli_baseline, save_partial), BENCH_EXIT_USAGE);
    const char *bad_name[] = {"lore-bench", "baseline", "save", base, "--name", "../x", NULL};
    assert_int_equal(run_cli(bench_cli_baseline, bad_name), BENCH_EXIT_USAGE);

    /* Against the folder: the blessed file is found by class and scenario. */
    const char *same[] = {"lore-bench", "compare", cand, bdir,     "--md", md,  "--junit",
                          junit,        "--bmf",   bmf,  "--json", json,   NULL};
    assert_int_equal(run_cli(bench_cli_compare, same), 0);
    assert_int_equal(stat(md, &st), 0);
    assert_int_equal(stat(junit, &st), 0);
    cJSON *out = NULL;
    bench_err e = {{0}};
    char *text = bench_read_file(json, NULL, &e);
    assert_non_null(text);
    out = cJSON_Parse(text);
    assert_non_null(out);
    assert_string_equal(cJSON_GetObjectItem(out, "baseline")->valuestring, blessed);
    cJSON_Delete(out);
    free(text);
    const char *worse[] = {"lore-bench", "compare", slow, base, NULL};
    assert_int_equal(run_cli(bench_cli_compare, worse), BENCH_EXIT_GATE);
    const char *bad_ignore[] = {"lore-bench", "compare", cand, base, "--ignore", "nope", NULL};
    assert_int_equal(run_cli(bench_cli_compare, bad_ignore), BENCH_EXIT_USAGE);
    const char *bad_effect[] = {"lore-bench", "compare", cand, base, "--min-effect", "5%", NULL};
    assert_int_equal(run_cli(bench_cli_compare, bad_effect), BENCH_EXIT_USAGE);
    const char *no_base[] = {"lore-bench", "compare", cand, "/nonexistent/x.json", NULL};
    assert_int_equal(run_cli(bench_cli_compare, no_base), BENCH_EXIT_USAGE);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_is_same),
        cmocka_unit_test(test_ten_percent_slower_is_worse),
        cmocka_unit_test(test_three_percent_is_below_min_effect),
        cmocka_unit_test(test_few_samples_inconclusive),
        cmocka_unit_test(test_noise_floor),
        cmocka_unit_test(test_bh_controls_false_alarms),
        cmocka_unit_test(test_work_counters_exact),
        cmocka_unit_test(test_instructions_track),
        cmocka_unit_test(test_metric_tracks),
        cmocka_unit_test(test_wall_workload_metrics),
        cmocka_unit_test(test_work_over_different_op_counts),
        cmocka_unit_test(test_cross_class_normalised),
        cmocka_unit_test(test_ignore_params),
        cmocka_unit_test(test_missing_failed_and_mismatched),
        cmocka_unit_test(test_machine_class),
        cmocka_unit_test(test_curves),
        cmocka_unit_test(test_writers),
        cmocka_unit_test(test_cli_baseline_and_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
