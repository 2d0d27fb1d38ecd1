/*
 * counters.h - hardware and software counters, read through PAPI alone.
 *
 * A counter set holds the events a scenario asks for: PAPI hardware presets
 * (instructions, cycles, cache misses) and the engine's software-defined
 * events ("sde:::lore::sgemm_flops"). Each event that PAPI cannot count on
 * this machine stays in the set as unavailable, with PAPI's reason: a result
 * never shows an unmeasured counter as 0.
 *
 * Values accumulate over every start/stop window, so the runner brackets
 * exactly the measured operations of each repetition.
 */
#ifndef BENCH_COUNTERS_H
#define BENCH_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct bench_counters bench_counters;

/* The hardware presets asked for when a scenario names none. */
extern const char *const bench_counters_default_hw[];
extern const size_t bench_counters_n_default_hw;

/*
 * Opens a set of the n named events; with names == NULL, the default hardware
 * presets plus every lore SDE counter. Unavailable events are kept and marked,
 * not an error. Returns 0, or -1 (e says why) when memory runs out.
 */
int bench_counters_open(const char *const *names, size_t n, bench_counters **out, bench_err *e);

/* Zeroes the accumulated values. */
void bench_counters_reset(bench_counters *c);

/* Starts counting. An event group that fails to start becomes unavailable with the reason. */
void bench_counters_start(bench_counters *c);

/* Stops counting and adds this window's counts to the totals. */
void bench_counters_stop(bench_counters *c);

size_t bench_counters_count(const bench_counters *c);
const char *bench_counters_name(const bench_counters *c, size_t i);
bool bench_counters_available(const bench_counters *c, size_t i);
/* Why event i is unavailable ("" when available). */
const char *bench_counters_reason(const bench_counters *c, size_t i);
int64_t bench_counters_value(const bench_counters *c, size_t i);

/* Accepts NULL. */
void bench_counters_close(bench_counters *c);

#endif
