/*
 * pool.h - the engine's fixed worker pool.
 *
 * n_workers threads in all: the calling thread is worker 0 and n_workers - 1
 * threads are created once and sleep between jobs. lore__pool_run hands out
 * task indices 0..n_tasks-1 dynamically (an atomic counter) and returns when
 * every task has finished. One job at a time per pool.
 */
#ifndef LORE_CORE_POOL_H
#define LORE_CORE_POOL_H

#include "core/lore_int.h"

typedef struct lore__pool lore__pool;

/* fn(ctx, task, worker): worker in [0, n_workers) identifies per-worker scratch. */
typedef void (*lore__pool_fn)(void *ctx, size_t task, int worker);

/* n_workers >= 1 (1: no threads, run inline). *out NULL on failure. */
lore_status lore__pool_new(int n_workers, lore__pool **out);

/* Joins the threads; NULL is allowed. */
void lore__pool_free(lore__pool *p);

int lore__pool_size(const lore__pool *p);

/* Runs fn for every task on the pool's workers and waits for all of them. */
void lore__pool_run(lore__pool *p, size_t n_tasks, lore__pool_fn fn, void *ctx);

#endif
