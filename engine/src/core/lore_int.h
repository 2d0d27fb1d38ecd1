/*
 * lore_int.h - the internal header every engine source includes first.
 *
 * It brings in the public API and the few helpers all modules share: error
 * recording (lore__fail) and work counting (lore__counter_add).
 */
#ifndef LORE_INT_H
#define LORE_INT_H

#include "lore/lore.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define LORE__PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define LORE__PRINTF(fmt_idx, arg_idx)
#endif

/*
 * Records the detail of a failure for lore_last_error() and returns s, so a
 * caller writes `return lore__fail(LORE_EINVAL, "k must be >= 1 (got %d)", k);`.
 */
lore_status lore__fail(lore_status s, const char *fmt, ...) LORE__PRINTF(2, 3);

/* The counter cells; registered with PAPI SDE on first use (counters.c). */
extern atomic_llong lore__counters[LORE_COUNTER_COUNT_];

/* Makes sure the counters are registered with SDE; cheap after the first call. */
void lore__counters_register(void);

static inline void lore__counter_add(lore_counter id, int64_t n)
{
    atomic_fetch_add_explicit(&lore__counters[id], (long long)n, memory_order_relaxed);
}

#endif
