/*
 * clock.h - the harness's one clock: CLOCK_MONOTONIC in nanoseconds.
 *
 * Inline so that timing an operation costs one vDSO call and nothing more; the
 * cost of a read is measured (bench_clock_cost_ns) and reported with every run.
 */
#ifndef BENCH_CLOCK_H
#define BENCH_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline int64_t bench_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Median cost of one bench_clock_ns() call in ns, over a few short batches. */
double bench_clock_cost_ns(void);

/* clock_getres of CLOCK_MONOTONIC in ns. */
int64_t bench_clock_resolution_ns(void);

/* The kernel's current clocksource ("tsc", "kvm-clock"), or "unknown". */
void bench_clock_source(char *buf, size_t size);

#endif
