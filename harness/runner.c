/*
 * runner.c - the measurement loop.
 *
 * The sample buffer is allocated once per run (max_samples x repetitions) and
 * touched before the first point, so the loop never allocates and the buffer's
 * pages are already resident when a point's peak RSS is reset. A point's own
 * copy of its samples is made after its RSS is read.
 *
 * Callgrind brackets and gate-validation slowdowns: see runner.h.
 */
#include "runner.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure/clock.h"
#include "measure/counters.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_HAVE_CALLGRIND 1
#endif
#endif
#ifndef BENCH_HAVE_CALLGRIND
#define CALLGRIND_START_INSTRUMENTATION ((void)0)
#define CALLGRIND_STOP_INSTRUMENTATION ((void)0)
#define CALLGRIND_ZERO_STATS ((void)0)
#define CALLGRIND_DUMP_STATS_AT(label) ((void)(label))
#endif

volatile sig_atomic_t bench_stop_requested = 0;

/* Set only between runs (bench_runner_use_callgrind), read by the runner. */
static bool use_callgrind = false;

void bench_runner_use_callgrind(bool on)
{
    use_callgrind = on;
}

/* ---- gate-validation builds (runner.h) ---- */

#if defined(LORE_BENCH_TEST_SLOWDOWN_PCT) || defined(LORE_BENCH_TEST_EXTRA_INSTR)
#define BENCH_TEST_SLOWDOWN 1
#ifndef LORE_BENCH_TEST_SLOWDOWN_PCT
#define LORE_BENCH_TEST_SLOWDOWN_PCT 0
#endif
#ifndef LORE_BENCH_TEST_EXTRA_INSTR
#define LORE_BENCH_TEST_EXTRA_INSTR 0
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* Whether the wall-time busy-wait runs: not under valgrind (set per run). */
static bool test_spin_wall = true;

/* Exactly 2 * rounds instructions on x86-64 (dec, jnz), whatever the compiler does. */
static void test_extra_instructions(uint64_t rounds)
{
    if (rounds == 0)
        return;
#if defined(__x86_64__)
    __asm__ volatile("1:\n\tdec %0\n\tjnz 1b" : "+r"(rounds) : : "cc");
#else
    for (volatile uint64_t i = 0; i < rounds; i = i + 1) {
    }
#endif
}

/* After one measured operation that began at t_begin: the deliberate slowdown. */
static void test_slow_down(int64_t t_begin)
{
    test_extra_instructions((uint64_t)(LORE_BENCH_TEST_EXTRA_INSTR) / 2);
    if (LORE_BENCH_TEST_SLOWDOWN_PCT > 0 && test_spin_wall) {
        int64_t t_end = bench_clock_ns();
        int64_t until =
            t_end + (int64_t)((t_end - t_begin) * (double)(LORE_BENCH_TEST_SLOWDOWN_PCT) / 100.0);
        while (bench_clock_ns() < until) {
        }
    }
}

const char *bench_runner_test_slowdown(void)
{
    static char text[192];
    const double pct = LORE_BENCH_TEST_SLOWDOWN_PCT;
    const unsigned long long extra = (unsigned long long)(LORE_BENCH_TEST_EXTRA_INSTR) / 2 * 2;
    int n = snprintf(text, sizeof text, "gate-validation build:");
    if (pct > 0)
        n += snprintf(text + n, sizeof text - (size_t)n,
                      " wall +%g%% of each measured operation (not under valgrind)", pct);
    if (extra > 0)
        snprintf(text + n, sizeof text - (size_t)n, "%s +%llu instructions per measured operation",
                 pct > 0 ? ";" : "", extra);
    return text;
}
#else
const char *bench_runner_test_slowdown(void)
{
    return NULL;
}
#endif

/* The first signal asks for a clean stop; a second one (an operation that
 * takes too long) ends the process the default way. */
static void on_signal(int sig)
{
    if (bench_stop_requested) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    bench_stop_requested = 1;
}

void bench_runner_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

typedef struct loop_ctx {
    const bench_workload *w;
    void *state;
    const bench_policy *policy;
    int64_t *samples; /* where the current window writes: max_samples free slots */
    bench_err err;
} loop_ctx;

/* Runs warm-up: at least warmup_ops operations and at least warmup_s seconds. */
static int warm_up(loop_ctx *c, bench_point_result *r)
{
    int64_t t0 = bench_clock_ns();
    int64_t min_ns = (int64_t)(c->policy->warmup_s * 1e9);
    size_t n = 0;
    for (;;) {
        int64_t now = bench_clock_ns();
        if ((int64_t)n >= c->policy->warmup_ops && now - t0 >= min_ns)
            break;
        if (bench_stop_requested)
            break;
        if (c->w->run_op(c->state, &c->err) != 0)
            return -1;
        n++;
    }
    r->n_warmup_ops = n;
    r->warmup_ns = bench_clock_ns() - t0;
    return 0;
}

/* One measurement window into c->samples. Returns 0 or -1 on an operation's failure. */
static int measure_window(loop_ctx *c, bench_rep_result *rep)
{
    const bench_policy *p = c->policy;
    const int64_t min_ns = (int64_t)(p->min_time_s * 1e9);
    const int64_t max_ns = (int64_t)(p->max_time_s * 1e9);
    const size_t min_n = (size_t)p->min_samples;
    const size_t cap = (size_t)p->max_samples;
    int (*const run_op)(void *, bench_err *) = c->w->run_op;
    void *const state = c->state;
    int64_t *const samples = c->samples;
    size_t n = 0;

    const int64_t t_start = bench_clock_ns();
    int64_t t_prev = t_start;
    const char *reason = "minimums_met";
    for (;;) {
        if (run_op(state, &c->err) != 0)
            return -1;
#ifdef BENCH_TEST_SLOWDOWN
        test_slow_down(t_prev);
#endif
        const int64_t t = bench_clock_ns();
        samples[n++] = t - t_prev;
        t_prev = t;
        const int64_t elapsed = t - t_start;
        if (bench_stop_requested) {
            reason = "interrupted";
            break;
        }
        if (n >= min_n && elapsed >= min_ns)
            break;
        if (elapsed >= max_ns) {
            reason = "max_time";
            break;
        }
        if (n >= cap) {
            reason = "max_samples";
            break;
        }
    }
    rep->n_samples = n;
    rep->wall_ns = t_prev - t_start;
    rep->stop_reason = reason;
    return 0;
}

static int copy_counters(bench_counters *cs, bench_point_result *r)
{
    r->n_counters = bench_counters_count(cs);
    r->counters = r->n_counters ? calloc(r->n_counters, sizeof *r->counters) : NULL;
    if (r->n_counters && !r->counters)
        return -1;
    for (size_t i = 0; i < r->n_counters; i++) {
        bench_counter_result *cr = &r->counters[i];
        snprintf(cr->name, sizeof cr->name, "%s", bench_counters_name(cs, i));
        cr->available = bench_counters_available(cs, i);
        cr->value = cr->available ? bench_counters_value(cs, i) : 0;
        snprintf(cr->reason, sizeof cr->reason, "%s", bench_counters_reason(cs, i));
    }
    return 0;
}

static void fail_point(bench_point_result *r, const char *msg)
{
    r->ok = false;
    snprintf(r->error, sizeof r->error, "%s", msg);
}

/*
 * Measures one point into r. Returns 0 (r->ok says whether it worked), or 1 when
 * a stop request cut the point short (a point whose windows all finished is kept).
 */
static int run_point(const bench_scenario *s, const bench_grid *g, size_t pi, int64_t *samples,
                     bench_counters *cs, double calib_sgemm_gflops, bench_point_result *r)
{
    const bench_workload *w = s->workload;
    const bench_policy *policy = &s->policy;
    loop_ctx c = {.w = w, .policy = policy};
    int64_t t_point = bench_clock_ns();
    r->point = pi;
    r->ok = true;

    bench_rss_read(&r->rss_before);
    r->rss_peak_reset = bench_rss_reset_peak();
    bench_params params = bench_grid_params(g, pi);
    bool cut_short = false;
    if (w->setup(&params, &c.state, &c.err) != 0) {
        fail_point(r, c.err.msg);
        r->point_ns = bench_clock_ns() - t_point;
        return 0;
    }
    if (warm_up(&c, r) != 0) {
        fail_point(r, c.err.msg);
        goto teardown;
    }

    size_t n_reps = (size_t)policy->repetitions;
    r->reps = calloc(n_reps, sizeof *r->reps);
    if (!r->reps) {
        fail_point(r, "out of memory for repetitions");
        goto teardown;
    }
    r->min_samples_met = true;
    bench_counters_reset(cs);
    if (use_callgrind)
        CALLGRIND_ZERO_STATS;
    for (size_t k = 0; k < n_reps; k++) {
        if (bench_stop_requested) {
            cut_short = true;
            goto teardown;
        }
        c.samples = samples + r->n_samples;
        bench_counters_start(cs);
        if (use_callgrind)
            CALLGRIND_START_INSTRUMENTATION;
        int rc = measure_window(&c, &r->reps[k]);
        if (use_callgrind)
            CALLGRIND_STOP_INSTRUMENTATION;
        bench_counters_stop(cs);
        if (rc != 0) {
            fail_point(r, c.err.msg);
            goto teardown;
        }
        r->n_samples += r->reps[k].n_samples;
        r->wall_ns += r->reps[k].wall_ns;
        r->n_reps = k + 1;
        if (r->reps[k].n_samples < (size_t)policy->min_samples)
            r->min_samples_met = false;
        if (strcmp(r->reps[k].stop_reason, "interrupted") == 0) {
            cut_short = true;
            goto teardown;
        }
    }

    if (use_callgrind) {
        /* instructions.c finds the point's dump by this label. */
        char label[96];
        snprintf(label, sizeof label, "lore-bench point=%zu ops=%zu", pi, r->n_samples);
        CALLGRIND_DUMP_STATS_AT(label);
    }
    bench_rss_read(&r->rss_after);
    r->rss_peak_bytes = r->rss_after.peak_bytes;
    r->samples_ns = malloc(r->n_samples * sizeof *r->samples_ns);
    if (!r->samples_ns) {
        fail_point(r, "out of memory for samples");
        goto teardown;
    }
    memcpy(r->samples_ns, samples, r->n_samples * sizeof *samples);
    r->items_per_op = w->items_per_op(c.state);
    for (size_t k = 0; k < r->n_reps; k++)
        r->reps[k].items_per_s = r->reps[k].wall_ns > 0 ? r->items_per_op * r->reps[k].n_samples /
                                                              (r->reps[k].wall_ns * 1e-9)
                                                        : 0.0;
    double wall_s = r->wall_ns * 1e-9;
    r->ops_per_s = wall_s > 0 ? r->n_samples / wall_s : 0.0;
    r->items_per_s = r->ops_per_s * r->items_per_op;
    if (bench_stats_summarize(r->samples_ns, r->n_samples, &r->latency_ns) != 0 ||
        copy_counters(cs, r) != 0 || !(r->metrics = cJSON_CreateObject())) {
        fail_point(r, "out of memory summarising the point");
        goto teardown;
    }
    if (w->metrics) {
        bench_point_measure m = {
            .n_ops = r->n_samples,
            .wall_ns = r->wall_ns,
            .items_per_s = r->items_per_s,
            .ops_per_s = r->ops_per_s,
            .latency_ns = &r->latency_ns,
            .calib_sgemm_gflops = calib_sgemm_gflops,
        };
        if (w->metrics(c.state, &m, r->metrics) != 0)
            fail_point(r, "out of memory computing workload metrics");
    }
    if (w->labels && r->ok &&
        (!(r->labels = cJSON_CreateObject()) || w->labels(c.state, r->labels) != 0))
        fail_point(r, "out of memory labelling the point");
#ifdef BENCH_TEST_SLOWDOWN
    if (r->ok && ((!r->labels && !(r->labels = cJSON_CreateObject())) ||
                  !cJSON_AddStringToObject(r->labels, "gate_validation_build",
                                           bench_runner_test_slowdown())))
        fail_point(r, "out of memory labelling the point");
#endif

teardown:
    w->teardown(c.state);
    /* Hand freed heap back to the kernel: glibc keeps large freed blocks once its
     * mmap threshold has grown, and the next point's RSS would start from them. */
    malloc_trim(0);
    r->point_ns = bench_clock_ns() - t_point;
    return cut_short ? 1 : 0;
}

static void point_result_clear(bench_point_result *r)
{
    free(r->samples_ns);
    free(r->reps);
    free(r->counters);
    cJSON_Delete(r->metrics);
    cJSON_Delete(r->labels);
    memset(r, 0, sizeof *r);
}

int bench_runner_run(const bench_scenario *s, const bench_grid *g, double calib_sgemm_gflops,
                     bench_progress_fn progress, void *ctx, bench_run **out, bench_err *e)
{
    *out = NULL;
    const bench_policy *policy = &s->policy;

    size_t capacity = (size_t)policy->max_samples * (size_t)policy->repetitions;
    bench_run *run = calloc(1, sizeof *run);
    int64_t *samples = malloc(capacity * sizeof *samples);
    bench_counters *cs = NULL;
    if (!run || !samples || !(run->points = calloc(g->n_points, sizeof *run->points))) {
        bench_err_set(e, "out of memory for %zu samples", capacity);
        goto fail;
    }
#ifdef BENCH_TEST_SLOWDOWN
    test_spin_wall = !RUNNING_ON_VALGRIND;
    fprintf(stderr, "lore-bench: WARNING: %s\n", bench_runner_test_slowdown());
#endif
    /* Fault the buffer in now: see the file comment. */
    memset(samples, 0, capacity * sizeof *samples);
    if (bench_counters_open((const char *const *)s->counters, s->n_counters, &cs, e) != 0)
        goto fail;

    int64_t t0 = bench_clock_ns();
    for (size_t i = 0; i < g->n_points; i++) {
        bench_point_result *r = &run->points[i];
        if (run_point(s, g, i, samples, cs, calib_sgemm_gflops, r) != 0) {
            point_result_clear(r);
            run->interrupted = true;
            break;
        }
        run->n_points = i + 1;
        run->n_failed += !r->ok;
        if (progress)
            progress(ctx, g, i + 1, r, (bench_clock_ns() - t0) * 1e-9);
        if (bench_stop_requested) {
            run->interrupted = true;
            break;
        }
    }
    bench_counters_close(cs);
    free(samples);
    *out = run;
    return 0;

fail:
    bench_counters_close(cs);
    free(samples);
    bench_run_free(run);
    return -1;
}

void bench_run_free(bench_run *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_points; i++)
        point_result_clear(&r->points[i]);
    free(r->points);
    free(r);
}
