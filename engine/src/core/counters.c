/*
 * counters.c - the engine's work counters and their export as PAPI
 * software-defined events.
 *
 * Each counter is one atomic cell. On first use every cell is registered with
 * libsde under the library name "lore", read-only and in delta mode, so PAPI
 * reports the change between PAPI_start and PAPI_read/PAPI_stop. Without a PAPI
 * reader in the process libsde's calls are cheap no-ops; the cells still count.
 */
#include "core/lore_int.h"

#include <pthread.h>
#include <sde_lib.h>

atomic_llong lore__counters[LORE_COUNTER_COUNT_];

static const struct {
    const char *name;
    const char *description;
} counter_table[LORE_COUNTER_COUNT_] = {
#define LORE_COUNTER_ROW_(id, name, desc) [id] = {name, desc},
    LORE_COUNTER_LIST(LORE_COUNTER_ROW_)
#undef LORE_COUNTER_ROW_
};

static pthread_once_t register_once = PTHREAD_ONCE_INIT;

static void register_all(void)
{
    papi_handle_t handle = papi_sde_init("lore");
    for (size_t i = 0; i < LORE_COUNTER_COUNT_; i++) {
        /* The cell is an atomic long long: same size and layout as the
         * long long libsde reads. */
        papi_sde_register_counter(handle, counter_table[i].name, PAPI_SDE_RO | PAPI_SDE_DELTA,
                                  PAPI_SDE_long_long, (void *)&lore__counters[i]);
        /* No papi_sde_describe_counter: libsde 7.0 leaks a copy of the name for
         * every described counter. The descriptions are lore_counter_description(). */
    }
}

void lore__counters_register(void)
{
    pthread_once(&register_once, register_all);
}

size_t lore_counter_count(void)
{
    lore__counters_register();
    return LORE_COUNTER_COUNT_;
}

const char *lore_counter_name(lore_counter id)
{
    lore__counters_register();
    if ((unsigned)id >= LORE_COUNTER_COUNT_)
        return NULL;
    return counter_table[id].name;
}

const char *lore_counter_description(lore_counter id)
{
    if ((unsigned)id >= LORE_COUNTER_COUNT_)
        return NULL;
    return counter_table[id].description;
}

int64_t lore_counter_read(lore_counter id)
{
    if ((unsigned)id >= LORE_COUNTER_COUNT_)
        return 0;
    return atomic_load_explicit(&lore__counters[id], memory_order_relaxed);
}
