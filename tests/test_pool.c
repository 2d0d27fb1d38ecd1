/*
 * test_pool.c - the worker pool: every task runs exactly once with a worker id
 * in range, the workers really run at once, thousands of back-to-back jobs (lost
 * wake-ups hang or miscount), free with and without jobs, bad sizes, and clean
 * unwinding when a thread cannot be created.
 *
 * Thread creation failures are injected by defining pthread_create in this
 * executable: it interposes on libc's for the whole process (the pool in
 * liblore.a included) and forwards to the next definition (libc's, or a
 * sanitizer's interceptor) unless a failure is armed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/lore_int.h"
#include "core/pool.h"

/* ---- pthread_create interposer ------------------------------------------------------------- */

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static atomic_int g_create_countdown = -1; /* creations left before the failure; -1: never */
static atomic_int g_create_error = EAGAIN;
static atomic_bool g_tracking;    /* count the threads created while set */
static atomic_int g_live_threads; /* tracked threads not yet finished */

typedef struct tracked_start {
    void *(*start)(void *);
    void *arg;
} tracked_start;

static void *tracked_main(void *arg)
{
    tracked_start t = *(tracked_start *)arg;
    free(arg);
    void *ret = t.start(t.arg);
    atomic_fetch_sub(&g_live_threads, 1);
    return ret;
}

int pthread_create(pthread_t *restrict thread, const pthread_attr_t *restrict attr,
                   void *(*start)(void *), void *restrict arg)
{
    static _Atomic(create_fn) real_create;
    create_fn real = atomic_load(&real_create);
    if (!real) {
        real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
        atomic_store(&real_create, real);
    }
    if (atomic_load(&g_create_countdown) >= 0 && atomic_fetch_sub(&g_create_countdown, 1) == 0)
        return atomic_load(&g_create_error);
    if (!atomic_load(&g_tracking))
        return real(thread, attr, start, arg);
    tracked_start *t = malloc(sizeof *t);
    if (!t)
        return EAGAIN;
    t->start = start;
    t->arg = arg;
    atomic_fetch_add(&g_live_threads, 1);
    int rc = real(thread, attr, tracked_main, t);
    if (rc != 0) {
        atomic_fetch_sub(&g_live_threads, 1);
        free(t);
    }
    return rc;
}

/* ---- helpers --------------------------------------------------------------------------------- */

#define MAX_TASKS 1000

typedef struct count_job {
    atomic_int runs[MAX_TASKS];
    int written[MAX_TASKS]; /* plain stores: the pool must order them before run returns */
    atomic_int bad_worker;
    atomic_int per_worker[8];
    int n_workers;
} count_job;

static void count_task(void *ctx, size_t task, int worker)
{
    count_job *j = ctx;
    atomic_fetch_add(&j->runs[task], 1);
    j->written[task] = (int)task + 1;
    if (worker < 0 || worker >= j->n_workers)
        atomic_fetch_add(&j->bad_worker, 1);
    else
        atomic_fetch_add(&j->per_worker[worker], 1);
}

static lore__pool *new_pool(int n)
{
    lore__pool *p = NULL;
    assert_int_equal(lore__pool_new(n, &p), LORE_OK);
    assert_non_null(p);
    assert_int_equal(lore__pool_size(p), n);
    return p;
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static void test_every_task_runs_once(void **state)
{
    (void)state;
    const size_t task_counts[] = {0, 1, 3, 1000};
    count_job *j = malloc(sizeof *j);
    assert_non_null(j);
    for (int n = 1; n <= 4; n++) {
        lore__pool *p = new_pool(n);
        for (size_t t = 0; t < sizeof task_counts / sizeof task_counts[0]; t++) {
            size_t n_tasks = task_counts[t];
            memset(j, 0, sizeof *j);
            j->n_workers = n;
            lore__pool_run(p, n_tasks, count_task, j);
            for (size_t i = 0; i < MAX_TASKS; i++) {
                int want = i < n_tasks ? 1 : 0;
                if (atomic_load(&j->runs[i]) != want || j->written[i] != want * ((int)i + 1))
                    fail_msg("n_workers %d, n_tasks %zu: task %zu ran %d times", n, n_tasks, i,
                             atomic_load(&j->runs[i]));
            }
            assert_int_equal(atomic_load(&j->bad_worker), 0);
            int total = 0;
            for (int w = 0; w < n; w++)
                total += atomic_load(&j->per_worker[w]);
            assert_int_equal(total, (int)n_tasks);
            if (n == 1)
                assert_int_equal(atomic_load(&j->per_worker[0]), (int)n_tasks);
        }
        lore__pool_free(p);
    }
    free(j);
}

/* n_workers tasks that each wait for all the others to start: passes only if the pool runs
 * them at once on distinct workers. A broken pool fails on the deadline instead of hanging. */
typedef struct rendezvous {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived, n;
    int worker_seen[8];
    bool timed_out;
} rendezvous;

static void rendezvous_task(void *ctx, size_t task, int worker)
{
    (void)task;
    rendezvous *r = ctx;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&r->mu);
    r->worker_seen[worker]++;
    if (++r->arrived == r->n)
        pthread_cond_broadcast(&r->cv);
    while (r->arrived < r->n && !r->timed_out)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) == ETIMEDOUT)
            r->timed_out = true;
    pthread_mutex_unlock(&r->mu);
}

static void test_workers_run_concurrently(void **state)
{
    (void)state;
    for (int n = 2; n <= 4; n++) {
        lore__pool *p = new_pool(n);
        for (int rep = 0; rep < 20; rep++) {
            rendezvous r = {.n = n};
            pthread_mutex_init(&r.mu, NULL);
            pthread_cond_init(&r.cv, NULL);
            lore__pool_run(p, (size_t)n, rendezvous_task, &r);
            assert_false(r.timed_out);
            for (int w = 0; w < n; w++)
                assert_int_equal(r.worker_seen[w], 1); /* each worker exactly one task */
            pthread_cond_destroy(&r.cv);
            pthread_mutex_destroy(&r.mu);
        }
        lore__pool_free(p);
    }
}

typedef struct tiny_job {
    atomic_llong sum;
    atomic_int calls;
} tiny_job;

static void tiny_task(void *ctx, size_t task, int worker)
{
    (void)worker;
    tiny_job *j = ctx;
    atomic_fetch_add_explicit(&j->sum, (long long)task + 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&j->calls, 1, memory_order_relaxed);
}

/* Back-to-back jobs of varying size: a lost wake-up hangs; a worker that joins a job after the
 * caller closed it and then claims from the next job's counter (the race the pool's open flag
 * prevents) steals a task, which breaks the per-job count and sum. Without that flag this test
 * failed in 10 runs of 10; with 4 workers instead of 16, in only 5 of 10. */
static void test_many_consecutive_jobs(void **state)
{
    (void)state;
    /* 16 workers on a 2-core machine get preempted inside the pool's windows. */
    for (int n = 2; n <= 16; n *= 8) {
        lore__pool *p = new_pool(n);
        for (int job = 0; job < 50000; job++) {
            size_t n_tasks = (size_t)(job % 7) + 1; /* 1..7: below and above n_workers */
            tiny_job j = {0};
            lore__pool_run(p, n_tasks, tiny_task, &j);
            long long want = (long long)(n_tasks * (n_tasks + 1) / 2);
            if (atomic_load(&j.calls) != (int)n_tasks || atomic_load(&j.sum) != want)
                fail_msg("n_workers %d, job %d: %d calls, sum %lld (want %zu, %lld)", n, job,
                         atomic_load(&j.calls), atomic_load(&j.sum), n_tasks, want);
        }
        lore__pool_free(p);
    }
}

static void test_free_without_run_and_right_after(void **state)
{
    (void)state;
    atomic_store(&g_tracking, true);
    for (int rep = 0; rep < 50; rep++) {
        lore__pool_free(new_pool(1 + rep % 4));
        lore__pool *p = new_pool(1 + rep % 4);
        tiny_job j = {0};
        lore__pool_run(p, 64, tiny_task, &j);
        lore__pool_free(p); /* workers may still be spinning on the job just closed */
        assert_int_equal(atomic_load(&j.calls), 64);
    }
    atomic_store(&g_tracking, false);
    assert_int_equal(atomic_load(&g_live_threads), 0); /* every worker was joined */
    lore__pool_free(NULL);
}

static void test_bad_sizes(void **state)
{
    (void)state;
    const int bad[] = {0, -1, 1 << 20};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lore__pool *p = (lore__pool *)&p;
        assert_int_equal(lore__pool_new(bad[i], &p), LORE_EINVAL);
        assert_null(p);
        char want[32];
        snprintf(want, sizeof want, "got %d", bad[i]);
        assert_non_null(strstr(lore_last_error(), want));
    }
}

static void test_thread_creation_failure_unwinds(void **state)
{
    (void)state;
    const struct {
        int error;
        lore_status want;
    } errors[] = {{EAGAIN, LORE_ENOMEM}, {EPERM, LORE_EINTERNAL}};
    atomic_store(&g_tracking, true);
    for (size_t e = 0; e < sizeof errors / sizeof errors[0]; e++) {
        for (int fail_at = 0; fail_at < 3; fail_at++) { /* fail the 1st, 2nd, 3rd thread */
            lore__pool *p = (lore__pool *)&p;
            atomic_store(&g_create_error, errors[e].error);
            atomic_store(&g_create_countdown, fail_at);
            lore_status st = lore__pool_new(4, &p);
            atomic_store(&g_create_countdown, -1);
            assert_int_equal(st, errors[e].want);
            assert_null(p);
            char want[64];
            snprintf(want, sizeof want, "thread %d of 3", fail_at + 1);
            if (!strstr(lore_last_error(), want))
                fail_msg("message '%s' lacks '%s'", lore_last_error(), want);
            assert_non_null(strstr(lore_last_error(), strerror(errors[e].error)));
            /* The threads created before the failure were stopped and joined. */
            assert_int_equal(atomic_load(&g_live_threads), 0);
        }
    }
    atomic_store(&g_tracking, false);

    /* The interposer is off again: a pool builds and works. */
    lore__pool *p = new_pool(3);
    tiny_job j = {0};
    lore__pool_run(p, 10, tiny_task, &j);
    assert_int_equal(atomic_load(&j.sum), 55);
    lore__pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_task_runs_once),
        cmocka_unit_test(test_workers_run_concurrently),
        cmocka_unit_test(test_many_consecutive_jobs),
        cmocka_unit_test(test_free_without_run_and_right_after),
        cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_thread_creation_failure_unwinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
