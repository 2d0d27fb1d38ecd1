/*
 * pool.c - the engine's fixed worker pool.
 *
 * n_workers in all: the calling thread is worker 0, threads 1..n_workers-1
 * are created by lore__pool_new and park on a condition variable between jobs.
 * A job is published under the mutex by bumping the generation; every worker,
 * the caller included, claims task indices from one atomic counter until they
 * run out, so uneven tasks balance themselves.
 *
 * The subtle part is the end of a job. A worker may still hold the job's fn
 * and be about to claim from the counter after the last task has finished; if
 * the caller returned and published the next job (resetting the counter), that
 * worker would run a new index with the old fn. So a job is "open" only while
 * the caller is in lore__pool_run: a worker joins (active++) under the mutex
 * only while the job is open, and the caller closes it under the mutex only
 * once active is back to 0. Every claimed task was claimed by a joined worker
 * or the caller and finished before they left, so active == 0 after the
 * caller's own loop means all tasks are done; a worker that wakes after the
 * close sees a closed job and goes back to sleep. The mutex also orders the
 * tasks' writes before the caller's return.
 *
 * Waiting: a worker spins a short while (POOL_SPIN_ITERS) on the generation
 * before sleeping, which catches back-to-back jobs without a futex wake; the
 * caller spins the same way on active before sleeping on `done`. Nothing spins
 * unboundedly. Workers start with all signals blocked, so the process's
 * handlers (the harness's Ctrl-C) run on the caller's thread.
 */
#include "core/lore_int.h"

#include "core/pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* More workers than this is a caller's mistake, not a machine. */
#define POOL_MAX_WORKERS 1024

/* Polls of the generation (or of active) before sleeping. pause costs 10 to 140 cycles by CPU
 * (23 ns on the development VM's Xeon), so this is at most some 25 us of spinning: it catches
 * back-to-back jobs and a worker finishing soon, and costs little next to a futex wake. */
#define POOL_SPIN_ITERS 1000

/* Lines apart keep the claim counter from sharing a cache line with anything else. */
#define POOL_CACHE_LINE 64

typedef struct pool_worker {
    lore__pool *pool;
    int id;
    pthread_t thread;
} pool_worker;

struct lore__pool {
    int n_workers;
    int n_threads; /* threads running, n_workers - 1 once created */
    pool_worker *workers;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* workers: the generation moved or stop was set */
    pthread_cond_t done; /* caller: active fell to 0 */

    /* The job: written under mu by the caller while no worker is in it. */
    lore__pool_fn fn;
    void *ctx;
    size_t n_tasks;
    bool open; /* the caller is in lore__pool_run; workers may join */
    bool stop; /* lore__pool_free: workers exit */

    /* Written under mu; read without it only by the spins. Own cache line, apart from the
     * claim counter, so spinning readers do not slow the claims down. */
    _Alignas(POOL_CACHE_LINE) atomic_uint_least64_t generation;
    atomic_int active; /* workers other than the caller inside the job */

    _Alignas(POOL_CACHE_LINE) atomic_size_t next_task;
};

/* Claims and runs tasks until none are left. */
static void run_tasks(lore__pool *p, lore__pool_fn fn, void *ctx, size_t n_tasks, int worker)
{
    for (;;) {
        size_t task = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (task >= n_tasks)
            return;
        fn(ctx, task, worker);
    }
}

static void *worker_main(void *arg)
{
    pool_worker *w = arg;
    lore__pool *p = w->pool;
    uint_least64_t seen = 0;

    for (;;) {
        for (int i = 0; i < POOL_SPIN_ITERS; i++) {
            if (atomic_load_explicit(&p->generation, memory_order_relaxed) != seen)
                break;
            cpu_relax();
        }
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->generation, memory_order_relaxed) == seen && !p->stop)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = atomic_load_explicit(&p->generation, memory_order_relaxed);
        if (!p->open) { /* woke after the caller closed that job */
            pthread_mutex_unlock(&p->mu);
            continue;
        }
        lore__pool_fn fn = p->fn;
        void *ctx = p->ctx;
        size_t n_tasks = p->n_tasks;
        atomic_fetch_add_explicit(&p->active, 1, memory_order_relaxed);
        pthread_mutex_unlock(&p->mu);

        run_tasks(p, fn, ctx, n_tasks, w->id);

        pthread_mutex_lock(&p->mu);
        /* Release: the caller's spin reads active with acquire and then sees our tasks' writes. */
        if (atomic_fetch_sub_explicit(&p->active, 1, memory_order_release) == 1)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Stops and joins the running threads, then frees everything; the pool may be half built. */
static void pool_destroy(lore__pool *p, bool sync_made)
{
    if (sync_made) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->n_threads; i++)
            pthread_join(p->workers[i + 1].thread, NULL);
        pthread_cond_destroy(&p->done);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
    }
    free(p->workers);
    free(p);
}

lore_status lore__pool_new(int n_workers, lore__pool **out)
{
    *out = NULL;
    if (n_workers < 1 || n_workers > POOL_MAX_WORKERS)
        return lore__fail(LORE_EINVAL, "pool: n_workers must be in 1..%d (got %d)",
                          POOL_MAX_WORKERS, n_workers);

    /* aligned_alloc wants a size that is a multiple of the alignment; sizeof already is. */
    lore__pool *p = aligned_alloc(POOL_CACHE_LINE, sizeof *p);
    if (!p)
        return lore__fail(LORE_ENOMEM, "pool: out of memory for a pool of %d workers", n_workers);
    memset(p, 0, sizeof *p);
    p->n_workers = n_workers;
    atomic_init(&p->generation, 0);
    atomic_init(&p->active, 0);
    atomic_init(&p->next_task, 0);
    p->workers = calloc((size_t)n_workers, sizeof *p->workers);
    if (!p->workers) {
        pool_destroy(p, false);
        return lore__fail(LORE_ENOMEM, "pool: out of memory for a pool of %d workers", n_workers);
    }
    for (int i = 0; i < n_workers; i++) {
        p->workers[i].pool = p;
        p->workers[i].id = i;
    }

    int rc = pthread_mutex_init(&p->mu, NULL);
    if (rc == 0) {
        rc = pthread_cond_init(&p->wake, NULL);
        if (rc == 0) {
            rc = pthread_cond_init(&p->done, NULL);
            if (rc != 0)
                pthread_cond_destroy(&p->wake);
        }
        if (rc != 0)
            pthread_mutex_destroy(&p->mu);
    }
    if (rc != 0) {
        pool_destroy(p, false);
        return lore__fail(rc == ENOMEM ? LORE_ENOMEM : LORE_EINTERNAL,
                          "pool: cannot create its mutex or condition variables: %s", strerror(rc));
    }

    /* Workers inherit a mask that blocks every signal; the caller's mask is restored after. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 1; i < n_workers; i++) {
        rc = pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
        if (rc != 0)
            break;
        p->n_threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        int started = p->n_threads;
        pool_destroy(p, true);
        /* EAGAIN is the system's limit on threads or memory for their stacks. */
        return lore__fail(rc == EAGAIN ? LORE_ENOMEM : LORE_EINTERNAL,
                          "pool: cannot create worker thread %d of %d: %s", started + 1,
                          n_workers - 1, strerror(rc));
    }
    *out = p;
    return LORE_OK;
}

void lore__pool_free(lore__pool *p)
{
    if (p)
        pool_destroy(p, true);
}

int lore__pool_size(const lore__pool *p)
{
    return p->n_workers;
}

void lore__pool_run(lore__pool *p, size_t n_tasks, lore__pool_fn fn, void *ctx)
{
    if (n_tasks == 0)
        return;
    if (p->n_threads == 0 || n_tasks == 1) { /* waking anyone would cost more than it gives */
        for (size_t t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }

    pthread_mutex_lock(&p->mu);
    /* No worker is inside a job here: the last run closed its job with active == 0. */
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    p->open = true;
    atomic_store_explicit(&p->next_task, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_relaxed);
    /* Wake only as many workers as there are tasks beyond the caller's first. */
    if (n_tasks - 1 >= (size_t)p->n_threads) {
        pthread_cond_broadcast(&p->wake);
    } else {
        for (size_t i = 0; i < n_tasks - 1; i++)
            pthread_cond_signal(&p->wake);
    }
    pthread_mutex_unlock(&p->mu);

    run_tasks(p, fn, ctx, n_tasks, 0);

    for (int i = 0; i < POOL_SPIN_ITERS; i++) {
        if (atomic_load_explicit(&p->active, memory_order_acquire) == 0)
            break;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->active, memory_order_relaxed) > 0)
        pthread_cond_wait(&p->done, &p->mu);
    p->open = false;
    pthread_mutex_unlock(&p->mu);
}
