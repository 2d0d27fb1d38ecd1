/*
 * test_runner.c - the measurement loop's contract, checked on real workloads
 * from the registry and on a probe workload defined here whose behaviour each
 * point chooses (fail in setup, fail after N operations, ask to stop after N
 * operations, map and touch memory, spin per operation).
 *
 * Oracles: samples tile each window (their sum is its wall time, exactly); the
 * stop reasons follow the policy; the engine's own flop and call counts equal
 * n_samples * 2mnk and n_samples (warm-up excluded); failures are kept and the
 * run goes on; a stop request drops the interrupted point; a point that maps
 * 64 MiB shows it in its peak RSS, and the next point, once the peak is reset,
 * does not.
 *
 * Scenarios and grids for the probe are built as plain structs (the runner
 * reads only s->workload, s->policy, s->counters, s->path and the grid's
 * points); the sgemm ones go through bench_scenario_parse and bench_sweep_expand.
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
#include <sys/mman.h>

#include "ab.h"
#include "instructions.h"
#include "measure/clock.h"
#include "runner.h"
#include "scenario.h"
#include "sweep.h"
#include "test_util.h"
#include "workload.h"

/* ---- the probe workload ---------------------------------------------------- */

static const bench_param_spec probe_params[] = {
    {"setup_fail", BENCH_PARAM_INT, "0", 0, 1, NULL, "", "1: setup fails"},
    {"fail_after", BENCH_PARAM_INT, "0", 0, 1e9, NULL, "ops", "operation N fails (0: none)"},
    {"stop_after", BENCH_PARAM_INT, "0", 0, 1e9, NULL, "ops",
     "operation N sets bench_stop_requested (0: never)"},
    {"map_mib", BENCH_PARAM_INT, "0", 0, 1024, NULL, "MiB", "memory mapped and touched in setup"},
    {"spin_ns", BENCH_PARAM_INT, "0", 0, 1e9, NULL, "ns", "busy-wait per operation"},
};
enum { PROBE_N_PARAMS = sizeof probe_params / sizeof probe_params[0] };

enum { SETUP_FAIL_NS = 2000000 };

typedef struct probe_cfg {
    int64_t setup_fail, fail_after, stop_after, map_mib, spin_ns;
} probe_cfg;

typedef struct probe_state {
    int64_t ops; /* warm-up included */
    int64_t fail_after, stop_after, spin_ns;
    void *mem;
    size_t mem_bytes;
} probe_state;

/* Calls seen by the probe, reset by each test. */
static struct {
    int n_setup;
    int n_setup_ok;
    int n_teardown;
} probe_calls;

static int probe_setup(const bench_params *p, void **out, bench_err *e)
{
    probe_calls.n_setup++;
    if (bench_params_int(p, "setup_fail")) {
        /* Take a measurable while to refuse, as a real setup would. */
        int64_t t0 = bench_clock_ns();
        while (bench_clock_ns() - t0 < SETUP_FAIL_NS) {
        }
        return bench_err_set(e, "probe: setup refused on purpose");
    }
    probe_state *s = calloc(1, sizeof *s);
    if (!s)
        return bench_err_set(e, "probe: out of memory");
    s->fail_after = bench_params_int(p, "fail_after");
    s->stop_after = bench_params_int(p, "stop_after");
    s->spin_ns = bench_params_int(p, "spin_ns");
    s->mem_bytes = (size_t)bench_params_int(p, "map_mib") << 20;
    if (s->mem_bytes) {
        /* mmap, not malloc: munmap returns the pages at once, whatever the
         * allocator (ASan's quarantine, valgrind's) would keep. */
        s->mem =
            mmap(NULL, s->mem_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (s->mem == MAP_FAILED) {
            free(s);
            return bench_err_set(e, "probe: mmap failed");
        }
        memset(s->mem, 0x5a, s->mem_bytes);
    }
    probe_calls.n_setup_ok++;
    *out = s;
    return 0;
}

static int probe_run_op(void *opaque, bench_err *e)
{
    probe_state *s = opaque;
    s->ops++;
    if (s->fail_after && s->ops >= s->fail_after)
        return bench_err_set(e, "probe: operation %lld failed on purpose", (long long)s->ops);
    if (s->stop_after && s->ops >= s->stop_after)
        bench_stop_requested = 1;
    if (s->spin_ns) {
        int64_t t0 = bench_clock_ns();
        while (bench_clock_ns() - t0 < s->spin_ns) {
        }
    }
    return 0;
}

static double probe_items_per_op(const void *opaque)
{
    (void)opaque;
    return 3.0;
}

static void probe_teardown(void *opaque)
{
    probe_state *s = opaque;
    probe_calls.n_teardown++;
    if (!s)
        return;
    if (s->mem)
        munmap(s->mem, s->mem_bytes);
    free(s);
}

static const bench_workload probe_workload = {
    .name = "probe",
    .description = "test workload whose behaviour each point chooses",
    .item_unit = "item",
    .params = probe_params,
    .n_params = PROBE_N_PARAMS,
    .setup = probe_setup,
    .run_op = probe_run_op,
    .items_per_op = probe_items_per_op,
    .metrics = NULL, /* optional: the runner must do without */
    .teardown = probe_teardown,
};

/* ---- helpers --------------------------------------------------------------- */

static char scenario_path[] = "inline-runner.json";
static char sde_calls_name[] = "sde:::lore::sgemm_calls";
static char *one_counter[] = {sde_calls_name};

/* A fast policy: one warm-up op, windows of min_samples with no minimum time. */
static bench_policy quick_policy(int64_t min_samples)
{
    bench_policy p = bench_policy_default();
    p.warmup_ops = 1;
    p.warmup_s = 0;
    p.min_samples = min_samples;
    p.max_samples = 100000;
    p.min_time_s = 0;
    p.max_time_s = 5;
    p.repetitions = 1;
    return p;
}

static bench_scenario make_scenario(const bench_workload *w, bench_policy policy)
{
    bench_scenario s;
    memset(&s, 0, sizeof s);
    s.path = scenario_path;
    s.name = scenario_path;
    s.workload = w;
    s.policy = policy;
    /* One cheap counter keeps the default hardware set out of most tests. */
    s.counters = one_counter;
    s.n_counters = 1;
    return s;
}

/* A grid of n points of workload w (no parameters) or of the probe (cfgs). */
static bench_grid *make_grid(const bench_workload *w, const probe_cfg *cfgs, size_t n)
{
    bench_grid *g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->workload = w;
    g->points = calloc(n, sizeof *g->points);
    assert_non_null(g->points);
    g->n_points = n;
    g->n_total = n;
    for (size_t i = 0; i < n; i++) {
        bench_point *p = &g->points[i];
        char id[32];
        snprintf(id, sizeof id, "p%zu", i);
        p->index = i;
        p->id = bench_strdup(id);
        assert_non_null(p->id);
        if (w->n_params == 0)
            continue;
        assert_int_equal(w->n_params, PROBE_N_PARAMS);
        p->values = calloc(PROBE_N_PARAMS, sizeof *p->values);
        assert_non_null(p->values);
        const int64_t v[PROBE_N_PARAMS] = {cfgs[i].setup_fail, cfgs[i].fail_after,
                                           cfgs[i].stop_after, cfgs[i].map_mib, cfgs[i].spin_ns};
        for (size_t j = 0; j < PROBE_N_PARAMS; j++) {
            p->values[j].type = BENCH_PARAM_INT;
            p->values[j].i = v[j];
        }
    }
    return g;
}

/* Progress calls, to check the callback sees each finished point once, in order. */
typedef struct progress_log {
    size_t n_calls;
    size_t n_done[16];
    size_t point[16];
    bool ok[16];
} progress_log;

static void log_progress(void *ctx, const bench_grid *g, size_t n_done, const bench_point_result *r,
                         double elapsed_s)
{
    (void)g;
    progress_log *log = ctx;
    assert_true(elapsed_s >= 0);
    if (log->n_calls < 16) {
        log->n_done[log->n_calls] = n_done;
        log->point[log->n_calls] = r->point;
        log->ok[log->n_calls] = r->ok;
    }
    log->n_calls++;
}

static bench_run *run_or_fail(const bench_scenario *s, const bench_grid *g, progress_log *log)
{
    bench_run *run = NULL;
    bench_err e = {{0}};
    memset(&probe_calls, 0, sizeof probe_calls);
    if (bench_runner_run(s, g, 0.0, log ? log_progress : NULL, log, &run, &e) != 0)
        fail_msg("bench_runner_run: %s", e.msg);
    assert_non_null(run);
    return run;
}

static int64_t slice_sum(const int64_t *x, size_t n)
{
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    return sum;
}

/* What holds for every measured point. */
static void check_point_invariants(const bench_point_result *r)
{
    assert_true(r->ok);
    assert_true(r->n_reps >= 1);
    assert_true(r->n_samples >= 1);
    size_t n = 0;
    int64_t wall = 0;
    for (size_t k = 0; k < r->n_reps; k++) {
        const bench_rep_result *rep = &r->reps[k];
        /* Samples tile the window: no gap, no overlap. */
        assert_int_equal(slice_sum(r->samples_ns + n, rep->n_samples), rep->wall_ns);
        assert_non_null(rep->stop_reason);
        double want = rep->wall_ns > 0
                          ? r->items_per_op * (double)rep->n_samples / (rep->wall_ns * 1e-9)
                          : 0.0;
        assert_true(fabs(rep->items_per_s - want) <= 1e-9 * want);
        n += rep->n_samples;
        wall += rep->wall_ns;
    }
    assert_int_equal(n, r->n_samples);
    assert_int_equal(wall, r->wall_ns);
    for (size_t i = 0; i < r->n_samples; i++)
        assert_true(r->samples_ns[i] >= 0);
    assert_int_equal(r->latency_ns.n, r->n_samples);
    assert_true(r->latency_ns.min <= r->latency_ns.p50);
    assert_true(r->latency_ns.p50 <= r->latency_ns.p90);
    assert_true(r->latency_ns.p90 <= r->latency_ns.p99);
    assert_true(r->latency_ns.p99 <= r->latency_ns.max);
    if (r->wall_ns > 0) {
        double ops = (double)r->n_samples / (r->wall_ns * 1e-9);
        assert_true(fabs(r->ops_per_s - ops) <= 1e-9 * ops);
        assert_true(fabs(r->items_per_s - ops * r->items_per_op) <= 1e-9 * ops * r->items_per_op);
    }
    assert_true(r->rss_before.current_bytes > 0);
    assert_true(r->rss_after.current_bytes > 0);
    assert_true(r->rss_peak_bytes >= r->rss_after.current_bytes);
    assert_true(r->point_ns >= r->wall_ns);
    assert_non_null(r->metrics);
}

/* ---- windows ----------------------------------------------------------------- */

static void test_samples_tile_the_window(void **state)
{
    (void)state;
    bench_policy p = quick_policy(200);
    p.min_time_s = 0.002;
    bench_scenario s = make_scenario(bench_workload_find("noop"), p);
    bench_grid *g = make_grid(s.workload, NULL, 1);
    bench_run *run = run_or_fail(&s, g, NULL);
    assert_int_equal(run->n_points, 1);
    assert_false(run->interrupted);
    assert_int_equal(run->n_failed, 0);
    const bench_point_result *r = &run->points[0];
    check_point_invariants(r);
    assert_int_equal(r->point, 0);
    assert_int_equal(r->n_reps, 1);
    assert_true(r->n_samples >= 200);
    assert_string_equal(r->reps[0].stop_reason, "minimums_met");
    assert_true(r->wall_ns >= 2000000);
    assert_true(r->min_samples_met);
    assert_true(r->n_warmup_ops >= 1);
    assert_true(r->items_per_op == 1.0);
    /* noop's metric: the harness's own cost per operation, its p50. */
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(r->metrics, "overhead_ns_p50");
    assert_non_null(m);
    assert_true(cJSON_GetObjectItemCaseSensitive(m, "value")->valuedouble == r->latency_ns.p50);
    bench_run_free(run);
    bench_grid_free(g);
}

static void test_repetitions_pool_samples(void **state)
{
    (void)state;
    bench_policy p = quick_policy(20);
    p.min_time_s = 0.001;
    p.repetitions = 3;
    bench_scenario s = make_scenario(bench_workload_find("noop"), p);
    bench_grid *g = make_grid(s.workload, NULL, 1);
    bench_run *run = run_or_fail(&s, g, NULL);
    const bench_point_result *r = &run->points[0];
    check_point_invariants(r);
    assert_int_equal(r->n_reps, 3);
    size_t sum = 0;
    for (size_t k = 0; k < 3; k++) {
        assert_true(r->reps[k].n_samples >= 20);
        assert_true(r->reps[k].wall_ns >= 1000000);
        sum += r->reps[k].n_samples;
    }
    assert_int_equal(r->n_samples, sum);
    assert_true(r->min_samples_met);
    bench_run_free(run);
    bench_grid_free(g);
}

static void test_max_samples_stops_a_window(void **state)
{
    (void)state;
    bench_policy p = quick_policy(1);
    p.max_samples = 50;
    p.min_time_s = 5; /* never reached: max_samples comes first */
    p.max_time_s = 5;
    p.repetitions = 3; /* every window full: the run's buffer holds all three */
    bench_scenario s = make_scenario(bench_workload_find("noop"), p);
    bench_grid *g = make_grid(s.workload, NULL, 1);
    bench_run *run = run_or_fail(&s, g, NULL);
    const bench_point_result *r = &run->points[0];
    check_point_invariants(r);
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(r->reps[k].n_samples, 50);
        assert_string_equal(r->reps[k].stop_reason, "max_samples");
    }
    assert_int_equal(r->n_samples, 150);
    assert_true(r->min_samples_met);
    assert_true(r->wall_ns < 5000000000LL);
    bench_run_free(run);
    bench_grid_free(g);
}

static void test_max_time_stops_below_min_samples(void **state)
{
    (void)state;
    bench_policy p = quick_policy(100000);
    p.max_samples = 100000;
    p.max_time_s = 0.02;
    probe_cfg cfg = {.spin_ns = 20000}; /* 20 us per op: about 1000 fit in 20 ms */
    bench_scenario s = make_scenario(&probe_workload, p);
    bench_grid *g = make_grid(&probe_workload, &cfg, 1);
    bench_run *run = run_or_fail(&s, g, NULL);
    const bench_point_result *r = &run->points[0];
    check_point_invariants(r);
    assert_string_equal(r->reps[0].stop_reason, "max_time");
    assert_false(r->min_samples_met);
    assert_true(r->n_samples < 100000);
    assert_true(r->wall_ns >= 20000000);
    assert_true(r->latency_ns.min >= 20000);
    assert_true(r->items_per_op == 3.0);
    /* The probe has no metrics hook: an empty object, not a failure. */
    assert_null(r->metrics->child);
    bench_run_free(run);
    bench_grid_free(g);
}

/* The engine counts its own work: exactly 2mnk flops and one call per measured
 * operation, over all repetitions, and nothing of the warm-up. */
static void test_sgemm_counters_exact(void **state)
{
    (void)state;
    static const char text[] =
        "{\"name\": \"runner-sgemm\", \"workload\": \"sgemm\",\n"
        " \"params\": {\"n\": 5, \"k\": 7, \"threads\": 1}, \"sweep\": {\"m\": [3, 9]},\n"
        " \"measure\": {\"warmup_ops\": 4, \"warmup_s\": 0, \"min_samples\": 6,\n"
        "             \"min_time_s\": 0, \"max_time_s\": 1, \"repetitions\": 3},\n"
        " \"counters\": [\"sde:::lore::sgemm_flops\", \"sde:::lore::sgemm_calls\"]}\n";
    bench_scenario *s = NULL;
    bench_grid *g = NULL;
    bench_err e = {{0}};
    if (bench_scenario_parse("inline-runner-sgemm.json", text, &s, &e) != 0 ||
        bench_sweep_expand(s, &g, &e) != 0)
        fail_msg("%s", e.msg);
    progress_log log = {0};
    bench_run *run = run_or_fail(s, g, &log);
    assert_int_equal(run->n_points, 2);
    assert_int_equal(log.n_calls, 2);
    static const int64_t m[2] = {3, 9};
    for (size_t i = 0; i < 2; i++) {
        const bench_point_result *r = &run->points[i];
        check_point_invariants(r);
        assert_int_equal(log.n_done[i], i + 1);
        assert_int_equal(log.point[i], i);
        assert_true(r->n_warmup_ops >= 4);
        assert_int_equal(r->n_reps, 3);
        assert_int_equal(r->n_samples, 18);
        assert_true(r->items_per_op == 2.0 * m[i] * 5 * 7);
        assert_int_equal(r->n_counters, 2);
        assert_string_equal(r->counters[0].name, "sde:::lore::sgemm_flops");
        assert_true(r->counters[0].available);
        assert_int_equal(r->counters[0].value, 18 * 2 * m[i] * 5 * 7);
        assert_string_equal(r->counters[1].name, "sde:::lore::sgemm_calls");
        assert_true(r->counters[1].available);
        assert_int_equal(r->counters[1].value, 18);
    }
    bench_run_free(run);
    bench_grid_free(g);
    bench_scenario_free(s);
}

/* No "counters" in the scenario: the default set, every event either counted or
 * unavailable with a reason. */
static void test_default_counters(void **state)
{
    (void)state;
    bench_scenario s = make_scenario(bench_workload_find("noop"), quick_policy(5));
    s.counters = NULL;
    s.n_counters = 0;
    bench_grid *g = make_grid(s.workload, NULL, 1);
    bench_run *run = run_or_fail(&s, g, NULL);
    const bench_point_result *r = &run->points[0];
    check_point_invariants(r);
    assert_true(r->n_counters > 0);
    bool seen_flops = false;
    for (size_t i = 0; i < r->n_counters; i++) {
        const bench_counter_result *c = &r->counters[i];
        if (strcmp(c->name, "sde:::lore::sgemm_flops") == 0) {
            seen_flops = true;
            if (c->available)
                assert_int_equal(c->value, 0); /* noop multiplies nothing */
        }
        if (!c->available)
            assert_true(strlen(c->reason) > 0);
    }
    assert_true(seen_flops);
    bench_run_free(run);
    bench_grid_free(g);
}

/* ---- failures ------------------------------------------------------------------ */

static void test_setup_failure_is_kept_and_run_goes_on(void **state)
{
    (void)state;
    probe_cfg cfgs[3] = {{0}, {.setup_fail = 1}, {0}};
    bench_scenario s = make_scenario(&probe_workload, quick_policy(5));
    bench_grid *g = make_grid(&probe_workload, cfgs, 3);
    progress_log log = {0};
    bench_run *run = run_or_fail(&s, g, &log);
    assert_int_equal(run->n_points, 3);
    assert_int_equal(run->n_failed, 1);
    assert_false(run->interrupted);
    check_point_invariants(&run->points[0]);
    check_point_invariants(&run->points[2]);
    const bench_point_result *bad = &run->points[1];
    assert_false(bad->ok);
    assert_int_equal(bad->point, 1);
    assert_string_equal(bad->error, "probe: setup refused on purpose");
    assert_int_equal(bad->n_samples, 0);
    /* Setup cleans up after itself: no teardown for the point that failed there. */
    assert_int_equal(probe_calls.n_setup, 3);
    assert_int_equal(probe_calls.n_teardown, probe_calls.n_setup_ok);
    assert_int_equal(log.n_calls, 3);
    assert_false(log.ok[1]);
    assert_true(log.ok[2]);
    bench_run_free(run);
    bench_grid_free(g);
}

/*
 * Was a bug: runner.c run_point returned straight after a failed setup, before
 * "r->point_ns = bench_clock_ns() - t_point" at its teardown label, so a point
 * that fails in setup reports point_ns 0 (and results.c writes "point_ns": 0 for
 * it), although runner.h defines point_ns as the whole point, setup to teardown.
 * Input: a point whose setup spends 2 ms and then returns -1. Expected:
 * point_ns >= 2000000. Actual: 0.
 */
static void test_setup_failure_reports_its_time(void **state)
{
    (void)state;
    probe_cfg cfg = {.setup_fail = 1};
    bench_scenario s = make_scenario(&probe_workload, quick_policy(5));
    bench_grid *g = make_grid(&probe_workload, &cfg, 1);
    bench_run *run = run_or_fail(&s, g, NULL);
    int64_t point_ns = run->points[0].point_ns;
    bool ok = run->points[0].ok;
    bench_run_free(run);
    bench_grid_free(g);
    assert_false(ok);
    if (point_ns < SETUP_FAIL_NS)
        fail_msg("point_ns of a point whose setup took 2 ms and failed: %lld", (long long)point_ns);
}

static void test_operation_failure_is_kept_and_run_goes_on(void **state)
{
    (void)state;
    /* Point 0 fails in its first window (warm-up is op 1), point 1 in warm-up. */
    probe_cfg cfgs[3] = {{.fail_after = 4}, {.fail_after = 1}, {0}};
    bench_policy p = quick_policy(10);
    p.repetitions = 2;
    bench_scenario s = make_scenario(&probe_workload, p);
    bench_grid *g = make_grid(&probe_workload, cfgs, 3);
    bench_run *run = run_or_fail(&s, g, NULL);
    assert_int_equal(run->n_points, 3);
    assert_int_equal(run->n_failed, 2);
    assert_false(run->interrupted);
    assert_false(run->points[0].ok);
    assert_string_equal(run->points[0].error, "probe: operation 4 failed on purpose");
    assert_false(run->points[1].ok);
    assert_string_equal(run->points[1].error, "probe: operation 1 failed on purpose");
    check_point_invariants(&run->points[2]);
    assert_int_equal(run->points[2].n_samples, 20);
    /* A point that got through setup is always torn down. */
    assert_int_equal(probe_calls.n_setup_ok, 3);
    assert_int_equal(probe_calls.n_teardown, 3);
    bench_run_free(run);
    bench_grid_free(g);
}

/* ---- interruption -------------------------------------------------------------- */

static void test_stop_request_drops_the_interrupted_point(void **state)
{
    (void)state;
    probe_cfg cfgs[3] = {{0}, {.stop_after = 3}, {0}};
    bench_scenario s = make_scenario(&probe_workload, quick_policy(10));
    bench_grid *g = make_grid(&probe_workload, cfgs, 3);
    progress_log log = {0};
    bench_run *run = run_or_fail(&s, g, &log);
    bench_stop_requested = 0;
    assert_true(run->interrupted);
    assert_int_equal(run->n_points, 1); /* point 0 kept, point 1 dropped, point 2 never run */
    assert_int_equal(run->n_failed, 0);
    check_point_invariants(&run->points[0]);
    assert_int_equal(run->points[0].n_samples, 10);
    assert_int_equal(probe_calls.n_setup, 2);
    assert_int_equal(probe_calls.n_teardown, 2);
    assert_int_equal(log.n_calls, 1);
    bench_run_free(run);
    bench_grid_free(g);
}

static void test_stop_request_in_warm_up(void **state)
{
    (void)state;
    probe_cfg cfgs[2] = {{.stop_after = 2}, {0}};
    bench_policy p = quick_policy(10);
    p.warmup_ops = 5;
    bench_scenario s = make_scenario(&probe_workload, p);
    bench_grid *g = make_grid(&probe_workload, cfgs, 2);
    bench_run *run = run_or_fail(&s, g, NULL);
    bench_stop_requested = 0;
    assert_true(run->interrupted);
    assert_int_equal(run->n_points, 0);
    assert_int_equal(probe_calls.n_setup, 1);
    assert_int_equal(probe_calls.n_teardown, 1);
    bench_run_free(run);
    bench_grid_free(g);
}

/* A stop requested before the run starts (a SIGINT during calibration): nothing
 * is measured, and the run says it was interrupted. */
static void test_stop_requested_before_the_run(void **state)
{
    (void)state;
    bench_scenario s = make_scenario(&probe_workload, quick_policy(10));
    probe_cfg cfgs[2] = {{0}, {0}};
    bench_grid *g = make_grid(&probe_workload, cfgs, 2);
    bench_stop_requested = 1;
    bench_run *run = run_or_fail(&s, g, NULL);
    bench_stop_requested = 0;
    assert_true(run->interrupted);
    assert_int_equal(run->n_points, 0);
    assert_int_equal(probe_calls.n_teardown, probe_calls.n_setup_ok);
    bench_run_free(run);
    bench_grid_free(g);
}

/* ---- memory ---------------------------------------------------------------------- */

static void test_rss_peak_is_per_point(void **state)
{
    (void)state;
    const int64_t mib = 1 << 20;
    probe_cfg cfgs[2] = {{.map_mib = 64}, {0}};
    bench_scenario s = make_scenario(&probe_workload, quick_policy(5));
    bench_grid *g = make_grid(&probe_workload, cfgs, 2);
    bench_run *run = run_or_fail(&s, g, NULL);
    assert_int_equal(run->n_points, 2);
    const bench_point_result *big = &run->points[0];
    const bench_point_result *small = &run->points[1];
    check_point_invariants(big);
    check_point_invariants(small);
    /* The 64 MiB are mapped from setup to teardown: after the windows, and at peak. */
    assert_true(big->rss_after.current_bytes >= big->rss_before.current_bytes + 60 * mib);
    assert_true(big->rss_peak_bytes >= big->rss_before.current_bytes + 60 * mib);
    if (big->rss_peak_reset && small->rss_peak_reset) {
        /* Unmapped in teardown, and the peak reset before the next setup. */
        assert_true(small->rss_peak_bytes < big->rss_peak_bytes - 32 * mib);
        assert_true(small->rss_peak_bytes < small->rss_before.current_bytes + 32 * mib);
    } else {
        print_message("peak RSS reset refused here; per-point peak not checked\n");
    }
    bench_run_free(run);
    bench_grid_free(g);
}

/* A failed assertion may leave a stop request behind; no test inherits it. */
/* ---- the instruction track (instructions.c) ------------------------------------ */

#define CG_FIXTURES LORE_FIXTURES_DIR "/callgrind"

static bench_callgrind_dump parse_fixture(const char *path)
{
    bench_err e = {{0}};
    char *text = bench_read_file(path, NULL, &e);
    if (!text)
        fail_msg("%s", e.msg);
    bench_callgrind_dump d;
    if (bench_callgrind_parse(path, text, &d, &e) != 0)
        fail_msg("%s", e.msg);
    free(text);
    return d;
}

static void test_callgrind_parse_point_dump(void **state)
{
    (void)state;
    bench_callgrind_dump d = parse_fixture(CG_FIXTURES "/run/cg.21450.1");
    assert_int_equal(d.ir, 281);
    assert_string_equal(d.version, "3.19.0");
    assert_int_equal(d.part, 1);
    assert_string_equal(d.trigger, "Client Request: lore-bench point=0 ops=5");
    /* The summary line is read but is not what the track uses (it says 0 here). */
    assert_true(d.has_summary);
    assert_int_equal(d.summary_ir, 0);
    size_t pt = 99, ops = 99;
    assert_int_equal(bench_callgrind_point_label(d.trigger, &pt, &ops), 0);
    assert_int_equal(pt, 0);
    assert_int_equal(ops, 5);

    d = parse_fixture(CG_FIXTURES "/run/cg.21450");
    assert_int_equal(d.ir, 0);
    assert_int_equal(d.part, 2);
    assert_string_equal(d.trigger, "Program termination");
    assert_int_equal(bench_callgrind_point_label(d.trigger, &pt, &ops), -1);
}

static void test_callgrind_parse_picks_the_ir_column(void **state)
{
    (void)state;
    bench_callgrind_dump d = parse_fixture(CG_FIXTURES "/cache_sim.dump");
    assert_int_equal(d.ir, 189);
    /* Synthetic: Ir in the second column. */
    const char *text = "# callgrind format\nversion: 1\ncreator: callgrind-3.22.0\n"
                       "events: Dr Ir Dw\nsummary: 1 2 3\n\nfn=(1) f\n0 7 11 13\n\n"
                       "totals: 7 11 13\n";
    bench_err e = {{0}};
    assert_int_equal(bench_callgrind_parse("synthetic", text, &d, &e), 0);
    assert_int_equal(d.ir, 11);
    assert_int_equal(d.summary_ir, 2);
    assert_string_equal(d.version, "3.22.0");
    assert_int_equal(d.part, -1);
    /* Large counts survive (no double on the way). */
    const char *big = "# callgrind format\nevents: Ir\ntotals: 18446744073709551613\n";
    assert_int_equal(bench_callgrind_parse("big", big, &d, &e), 0);
    assert_true(d.ir == UINT64_C(18446744073709551613));
}

static void parse_fails(const char *text, const char *needle)
{
    bench_callgrind_dump d;
    bench_err e = {{0}};
    assert_int_equal(bench_callgrind_parse("dump.x", text, &d, &e), -1);
    if (!strstr(e.msg, needle) || !strstr(e.msg, "dump.x"))
        fail_msg("message '%s' lacks '%s' or the path", e.msg, needle);
}

static void test_callgrind_parse_rejects(void **state)
{
    (void)state;
    bench_err e = {{0}};
    char *truncated = bench_read_file(CG_FIXTURES "/broken/cg.100.1", NULL, &e);
    assert_non_null(truncated);
    parse_fails(truncated, "no totals line");
    free(truncated);
    parse_fails("", "not a callgrind dump");
    parse_fails("hello\nevents: Ir\ntotals: 1\n", "not a callgrind dump");
    parse_fails("# callgrind format\ntotals: 5\n", "totals before any events");
    parse_fails("# callgrind format\nevents: Dr Dw\ntotals: 5 6\n", "do not include Ir");
    parse_fails("# callgrind format\nevents: Dr Ir\ntotals: 5\n", "has no Ir value");
    parse_fails("# callgrind format\nevents: Ir\ntotals: -5\n", "has no Ir value");
    parse_fails("# callgrind format\nevents: Ir\ntotals: 5x\n", "has no Ir value");
    parse_fails("# callgrind format\nevents: Ir\n", "no totals line");
    parse_fails("# callgrind format\npart: x\nevents: Ir\ntotals: 1\n", "bad part number");
}

static void test_callgrind_point_labels(void **state)
{
    (void)state;
    size_t pt = 0, ops = 0;
    assert_int_equal(
        bench_callgrind_point_label("Client Request: lore-bench point=12 ops=300", &pt, &ops), 0);
    assert_int_equal(pt, 12);
    assert_int_equal(ops, 300);
    static const char *const bad[] = {
        "Client Request: lore-bench point=1",
        "Client Request: lore-bench point= ops=3",
        "Client Request: lore-bench point=1 ops=",
        "Client Request: lore-bench point=1 ops=3 extra",
        "Client Request: other",
        "Program termination",
        "lore-bench point=1 ops=3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (bench_callgrind_point_label(bad[i], &pt, &ops) != -1)
            fail_msg("accepted '%s'", bad[i]);
}

/* A finished run of n points (ok or failed) as attach sees it, and its document. */
static bench_run *fake_run(size_t n, const size_t *n_samples, const bool *ok, cJSON **doc)
{
    bench_run *run = calloc(1, sizeof *run);
    assert_non_null(run);
    run->points = calloc(n, sizeof *run->points);
    assert_non_null(run->points);
    run->n_points = n;
    *doc = cJSON_CreateObject();
    cJSON *points = cJSON_AddArrayToObject(*doc, "points");
    assert_non_null(points);
    for (size_t i = 0; i < n; i++) {
        run->points[i].point = i;
        run->points[i].ok = ok[i];
        run->points[i].n_samples = n_samples[i];
        cJSON *p = cJSON_CreateObject();
        assert_non_null(p);
        cJSON_AddItemToArray(points, p);
    }
    return run;
}

static void test_instructions_attach(void **state)
{
    (void)state;
    cJSON *doc;
    bench_err e = {{0}};
    /* Point 0 measured 5 ops (the fixture's dump); point 1 failed, so it has no dump. */
    bench_run *run = fake_run(2, (const size_t[]){5, 0}, (const bool[]){true, false}, &doc);
    assert_int_equal(bench_instructions_attach_dir(doc, run, CG_FIXTURES "/run", &e), 0);
    const cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "points"), 0);
    const cJSON *in = cJSON_GetObjectItem(p0, "instructions");
    assert_non_null(in);
    assert_double_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(in, "per_op")), 281.0 / 5, 1e-12);
    assert_double_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(in, "total")), 281, 0);
    assert_double_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(in, "ops")), 5, 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(in, "tool")), "callgrind");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(in, "valgrind")), "3.19.0");
    const cJSON *p1 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "points"), 1);
    assert_null(cJSON_GetObjectItem(p1, "instructions"));
    const cJSON *m = cJSON_GetObjectItem(doc, "measurement");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "mode")), "instructions");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(m, "wall_metrics_valid")));
    assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(m, "policy")), "5 measured"));
    cJSON_Delete(doc);
    bench_run_free(run);

    /* The dump counted 5 operations, the run says 6: refused. */
    run = fake_run(1, (const size_t[]){6}, (const bool[]){true}, &doc);
    assert_int_equal(bench_instructions_attach_dir(doc, run, CG_FIXTURES "/run", &e), -1);
    assert_non_null(strstr(e.msg, "counts 5 operation(s), the run 6"));
    cJSON_Delete(doc);
    bench_run_free(run);

    /* A finished point without a dump. */
    run = fake_run(2, (const size_t[]){5, 5}, (const bool[]){true, true}, &doc);
    assert_int_equal(bench_instructions_attach_dir(doc, run, CG_FIXTURES "/run", &e), -1);
    assert_non_null(strstr(e.msg, "no callgrind dump for point 1"));
    cJSON_Delete(doc);
    bench_run_free(run);

    /* A folder with a broken dump, one with no dumps (other files are not read), and one
     * that does not exist. */
    run = fake_run(1, (const size_t[]){5}, (const bool[]){true}, &doc);
    assert_int_equal(bench_instructions_attach_dir(doc, run, CG_FIXTURES "/broken", &e), -1);
    assert_non_null(strstr(e.msg, "broken/cg.100.1: no totals line"));
    assert_int_equal(bench_instructions_attach_dir(doc, run, CG_FIXTURES, &e), -1);
    assert_non_null(strstr(e.msg, "no callgrind dump for point 0"));
    assert_int_equal(bench_instructions_attach_dir(doc, run, CG_FIXTURES "/none", &e), -1);
    assert_non_null(strstr(e.msg, "/none"));
    cJSON_Delete(doc);
    bench_run_free(run);
}

/* The reduced policy measures exactly ops operations after one warm-up, and the callgrind
 * brackets, no-ops outside valgrind, change nothing. */
static void test_instructions_policy_and_brackets(void **state)
{
    (void)state;
    bench_policy p = quick_policy(1000);
    p.warmup_s = 5;
    p.min_time_s = 3;
    p.repetitions = 4;
    bench_instructions_policy(&p, 7);
    const bench_workload *noop = bench_workload_find("noop");
    assert_non_null(noop);
    bench_scenario s = make_scenario(noop, p);
    bench_grid *g = make_grid(noop, NULL, 2);
    bench_runner_use_callgrind(true);
    bench_run *run = run_or_fail(&s, g, NULL);
    bench_runner_use_callgrind(false);
    assert_int_equal(run->n_points, 2);
    for (size_t i = 0; i < 2; i++) {
        const bench_point_result *r = &run->points[i];
        check_point_invariants(r);
        assert_int_equal(r->n_warmup_ops, 1);
        assert_int_equal(r->n_reps, 1);
        assert_int_equal(r->n_samples, 7);
        assert_string_equal(r->reps[0].stop_reason, "minimums_met");
    }
    bench_run_free(run);
    bench_grid_free(g);
    /* A real build is not a gate-validation build. */
    assert_null(bench_runner_test_slowdown());
}

/* ---- ab's statistics (ab.c) -------------------------------------------------------- */

static void test_ab_order_is_abba(void **state)
{
    (void)state;
    char seq[17] = "";
    for (size_t r = 0; r < 8; r++) {
        strcat(seq, bench_ab_old_first(r) ? "A" : "B");
        strcat(seq, bench_ab_old_first(r) ? "B" : "A");
    }
    assert_string_equal(seq, "ABBAABBAABBAABBA");
}

static void test_ab_t_quantile(void **state)
{
    (void)state;
    /* Printed tables (two-sided 95% and 90%, one-sided 99%). */
    assert_double_equal(bench_ab_t_quantile(0.975, 9), 2.262157, 2e-6);
    assert_double_equal(bench_ab_t_quantile(0.975, 1), 12.706205, 2e-5);
    assert_double_equal(bench_ab_t_quantile(0.975, 4), 2.776445, 2e-6);
    assert_double_equal(bench_ab_t_quantile(0.95, 30), 1.697261, 2e-6);
    assert_double_equal(bench_ab_t_quantile(0.99, 19), 2.539483, 2e-6);
    assert_double_equal(bench_ab_t_quantile(0.975, 1e6), 1.959966, 2e-6);
    assert_double_equal(bench_ab_t_quantile(0.025, 9), -2.262157, 2e-6);
    assert_double_equal(bench_ab_t_quantile(0.5, 3), 0.0, 0);
    assert_true(isnan(bench_ab_t_quantile(1.0, 3)));
    assert_true(isnan(bench_ab_t_quantile(0.9, 0)));
}

static void test_ab_rank_tests(void **state)
{
    (void)state;
    /* All ten positive: W+ is the maximum, P = 2 / 2^10. */
    const double up[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_double_equal(bench_ab_wilcoxon_p(up, 10), 2.0 / 1024, 1e-15);
    assert_double_equal(bench_ab_sign_p(up, 10), 2.0 / 1024, 1e-15);
    /* W- = 3: subsets of {1..5} summing to <= 3 are {}, 1, 2, 3, 1+2: P = 2 * 5/32. */
    const double mixed[5] = {0.1, 0.2, -0.3, 0.4, 0.5};
    assert_double_equal(bench_ab_wilcoxon_p(mixed, 5), 10.0 / 32, 1e-15);
    /* Ties: ranks 1.5 1.5 3 4, W- = 3, doubled 3 3 6 8; sums <= 6: {}, 3, 3, 3+3, 6 -> 2*5/16. */
    const double tied[4] = {1, 1, -2, 3};
    assert_double_equal(bench_ab_wilcoxon_p(tied, 4), 10.0 / 16, 1e-15);
    /* Zeros are dropped; all zero: no evidence at all. */
    const double zeros[6] = {0, 0, 0.5, 0, 0.25, 0.125};
    assert_double_equal(bench_ab_wilcoxon_p(zeros, 6), 2.0 / 8, 1e-15);
    assert_double_equal(bench_ab_wilcoxon_p(zeros, 2), 1.0, 0);
    /* Sign test: 9 of 10 positive, P = 2 (1 + 10) / 1024. */
    const double nine[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, -10};
    assert_double_equal(bench_ab_sign_p(nine, 10), 22.0 / 1024, 1e-15);
    /* Wilcoxon weighs that the one negative is the largest: W- = 10, and 43 of the 1024 sign
     * patterns have W- <= 10 (enumerated), so P = 86/1024: not significant where the sign
     * test is. */
    assert_double_equal(bench_ab_wilcoxon_p(nine, 10), 86.0 / 1024, 1e-15);
    /* The symmetric middle caps at 1. */
    const double mid[4] = {1, -2, -3, 4};
    assert_double_equal(bench_ab_wilcoxon_p(mid, 4), 1.0, 0);
    /* Large n takes the normal approximation: 300 positives is overwhelming. */
    double many[300];
    for (size_t i = 0; i < 300; i++)
        many[i] = 1.0 + (double)i;
    assert_true(bench_ab_wilcoxon_p(many, 300) < 1e-40);
    assert_true(isnan(bench_ab_wilcoxon_p(many, 0)));
}

static void test_ab_stats_verdicts(void **state)
{
    (void)state;
    bench_ab_opts o = bench_ab_default_opts();
    assert_double_equal(o.min_effect, 0.02, 0);
    bench_ab_stats st;

    /* 10% slower with +-1% jitter: slower, the interval around 1.10. */
    double slow[10];
    for (size_t i = 0; i < 10; i++)
        slow[i] = 1.10 * (1.0 + ((i % 3) - 1.0) * 0.01);
    assert_int_equal(bench_ab_stats_compute(slow, 10, &o, &st), 0);
    assert_int_equal(st.n, 10);
    assert_int_equal(st.verdict, BENCH_AB_SLOWER);
    assert_true(st.ci_lo > 1.08 && st.ci_hi < 1.12 && st.ci_lo < st.median && st.median < st.ci_hi);
    assert_double_equal(st.p_wilcoxon, 2.0 / 1024, 1e-15);
    assert_non_null(strstr(st.reason, "above"));

    /* The mirror image: faster. */
    double fast[10];
    for (size_t i = 0; i < 10; i++)
        fast[i] = 1.0 / slow[i];
    assert_int_equal(bench_ab_stats_compute(fast, 10, &o, &st), 0);
    assert_int_equal(st.verdict, BENCH_AB_FASTER);

    /* Identical builds, tight: same; all exactly 1: interval [1, 1], p = 1. */
    double same[8] = {1.002, 0.998, 1.001, 0.999, 1.0, 1.003, 0.997, 1.0};
    assert_int_equal(bench_ab_stats_compute(same, 8, &o, &st), 0);
    assert_int_equal(bench_ab_stats_compute(same, 8, &o, &st), 0);
    assert_int_equal(st.verdict, BENCH_AB_SAME);
    double ones[6] = {1, 1, 1, 1, 1, 1};
    assert_int_equal(bench_ab_stats_compute(ones, 6, &o, &st), 0);
    assert_int_equal(st.verdict, BENCH_AB_SAME);
    assert_double_equal(st.ci_lo, 1.0, 1e-15);
    assert_double_equal(st.ci_hi, 1.0, 1e-15);
    assert_double_equal(st.p_wilcoxon, 1.0, 0);

    /* Noisy: +-6% around 1: the interval straddles 1 +- 2%, inconclusive, never "same". */
    double noisy[10] = {1.06, 0.94, 1.05, 0.95, 1.06, 0.94, 1.04, 0.96, 1.06, 0.95};
    assert_int_equal(bench_ab_stats_compute(noisy, 10, &o, &st), 0);
    assert_int_equal(st.verdict, BENCH_AB_INCONCLUSIVE);
    assert_non_null(strstr(st.reason, "straddles"));

    /* 20% slower on 5 rounds: no 95% distribution-free interval exists with 5 pairs
     * (2 P(Bin(5, 1/2) = 0) = 1/16 > 0.05): inconclusive, saying so. */
    double five[5] = {1.19, 1.21, 1.20, 1.22, 1.18};
    assert_int_equal(bench_ab_stats_compute(five, 5, &o, &st), 0);
    assert_int_equal(st.verdict, BENCH_AB_INCONCLUSIVE);
    assert_non_null(strstr(st.reason, "too few"));

    /* Two pairs: too few, whatever they say. */
    assert_int_equal(bench_ab_stats_compute(slow, 2, &o, &st), 0);
    assert_int_equal(st.verdict, BENCH_AB_INCONCLUSIVE);
    assert_int_equal(st.n, 2);
    assert_non_null(strstr(st.reason, "too few"));

    /* 10% slower in 10 of 12 rounds, two rounds where one process ran in a slow
     * state (ratios 0.7 and 1.5): the median and its interval ignore them. */
    double state_shift[12] = {1.10, 1.09, 0.70, 1.10, 1.11, 1.10,
                              1.50, 1.10, 1.09, 1.11, 1.10, 1.10};
    assert_int_equal(bench_ab_stats_compute(state_shift, 12, &o, &st), 0);
    assert_int_equal(st.verdict, BENCH_AB_SLOWER);
    assert_true(st.ci_lo >= 1.09 && st.ci_hi <= 1.11);
    assert_int_equal(bench_ab_stats_compute(slow, 0, &o, &st), 0);
    assert_int_equal(st.verdict, BENCH_AB_INCONCLUSIVE);
    assert_true(isnan(st.median));

    /* Unpaired rounds (NAN) are skipped; a ratio <= 0 is an error. */
    double gaps[12];
    memcpy(gaps, slow, sizeof slow);
    gaps[10] = NAN;
    gaps[11] = NAN;
    bench_ab_stats with_gaps;
    assert_int_equal(bench_ab_stats_compute(gaps, 12, &o, &with_gaps), 0);
    assert_int_equal(bench_ab_stats_compute(slow, 10, &o, &st), 0);
    assert_int_equal(with_gaps.n, 10);
    assert_double_equal(with_gaps.median, st.median, 0);
    double bad[3] = {1.0, 0.0, 1.0};
    assert_int_equal(bench_ab_stats_compute(bad, 3, &o, &st), -1);
}

/* The interval against a hand computation: the sign test's order statistics. */
static void test_ab_stats_interval(void **state)
{
    (void)state;
    bench_ab_opts o = bench_ab_default_opts();
    double r[10];
    for (size_t i = 0; i < 10; i++)
        r[i] = 1.05 + 0.001 * (double)((i * 7) % 10); /* 1.050 .. 1.059, shuffled */
    /* n = 10 at 95%: 2 P(Bin(10, 1/2) <= 1) = 22/1024 <= 0.05 < 2 P(<= 2) = 112/1024,
     * so the interval runs from the 2nd smallest to the 2nd largest ratio. */
    bench_ab_stats st;
    assert_int_equal(bench_ab_stats_compute(r, 10, &o, &st), 0);
    assert_double_equal(st.median, sqrt(1.054 * 1.055), 1e-12);
    assert_double_equal(st.ci_lo, 1.051, 1e-12);
    assert_double_equal(st.ci_hi, 1.058, 1e-12);
    assert_int_equal(st.verdict, BENCH_AB_SLOWER);
    /* A wider level widens it. */
    o.confidence = 0.99;
    bench_ab_stats st99;
    assert_int_equal(bench_ab_stats_compute(r, 10, &o, &st99), 0);
    assert_true(st99.ci_lo < st.ci_lo && st99.ci_hi > st.ci_hi);
}

static int clear_stop(void **state)
{
    (void)state;
    bench_stop_requested = 0;
    return 0;
}

#define RUNNER_TEST(f) cmocka_unit_test_setup_teardown(f, clear_stop, clear_stop)

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUNNER_TEST(test_samples_tile_the_window),
        RUNNER_TEST(test_repetitions_pool_samples),
        RUNNER_TEST(test_max_samples_stops_a_window),
        RUNNER_TEST(test_max_time_stops_below_min_samples),
        RUNNER_TEST(test_sgemm_counters_exact),
        RUNNER_TEST(test_default_counters),
        RUNNER_TEST(test_setup_failure_is_kept_and_run_goes_on),
        RUNNER_TEST(test_setup_failure_reports_its_time),
        RUNNER_TEST(test_operation_failure_is_kept_and_run_goes_on),
        RUNNER_TEST(test_stop_request_drops_the_interrupted_point),
        RUNNER_TEST(test_stop_request_in_warm_up),
        RUNNER_TEST(test_stop_requested_before_the_run),
        RUNNER_TEST(test_rss_peak_is_per_point),
        RUNNER_TEST(test_callgrind_parse_point_dump),
        RUNNER_TEST(test_callgrind_parse_picks_the_ir_column),
        RUNNER_TEST(test_callgrind_parse_rejects),
        RUNNER_TEST(test_callgrind_point_labels),
        RUNNER_TEST(test_instructions_attach),
        RUNNER_TEST(test_instructions_policy_and_brackets),
        RUNNER_TEST(test_ab_order_is_abba),
        RUNNER_TEST(test_ab_t_quantile),
        RUNNER_TEST(test_ab_rank_tests),
        RUNNER_TEST(test_ab_stats_verdicts),
        RUNNER_TEST(test_ab_stats_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
