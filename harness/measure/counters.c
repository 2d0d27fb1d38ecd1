/*
 * counters.c - the only harness file that includes <papi.h>.
 *
 * PAPI event sets are per component, so events are grouped by the component
 * that counts them (perf_event for hardware presets, sde for the engine's
 * software events), one event set per group. An event joins its group only if
 * PAPI accepts it; a group that then fails to start marks all its events
 * unavailable with PAPI's message. Hardware counts cover the calling thread;
 * SDE counts are process-wide (the engine's counters are atomics).
 */
#include "measure/counters.h"

#include <papi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lore/lore.h"

const char *const bench_counters_default_hw[] = {"PAPI_TOT_INS", "PAPI_TOT_CYC", "PAPI_L1_DCM",
                                                 "PAPI_L3_TCM"};
const size_t bench_counters_n_default_hw =
    sizeof bench_counters_default_hw / sizeof bench_counters_default_hw[0];

enum { MAX_GROUPS = 8, MAX_EVENTS_PER_GROUP = 64 };

typedef struct event {
    char name[96];
    int group; /* index into groups, -1 when unavailable */
    int slot;  /* position inside the group's event set */
    bool available;
    int64_t total;
    char reason[256];
} event;

typedef struct group {
    int component;
    int event_set;
    int n_events;
    bool running;
} group;

struct bench_counters {
    event *events;
    size_t n_events;
    group groups[MAX_GROUPS];
    int n_groups;
};

/* PAPI_library_init once per process; the result (or its failure) is kept. */
static int papi_state = 0; /* 0 untried, 1 ready, -1 failed */
static char papi_init_error[128];

static bool papi_ready(void)
{
    if (papi_state == 0) {
        /* The engine registers its SDE counters on first use; make sure that
         * has happened before PAPI's sde component looks for them. */
        lore_counter_count();
        int r = PAPI_library_init(PAPI_VER_CURRENT);
        if (r == PAPI_VER_CURRENT) {
            papi_state = 1;
        } else {
            papi_state = -1;
            snprintf(papi_init_error, sizeof papi_init_error, "PAPI_library_init failed: %s",
                     r > 0 ? "version mismatch" : PAPI_strerror(r));
        }
    }
    return papi_state == 1;
}

/* Adds context to PAPI's terse message where the cause is known. */
static void explain(event *ev, int code, int component)
{
    const char *msg = PAPI_strerror(code);
    const PAPI_component_info_t *ci = component >= 0 ? PAPI_get_component_info(component) : NULL;
    if (ci && ci->disabled) {
        snprintf(ev->reason, sizeof ev->reason, "%s (component %.40s disabled: %.120s)", msg,
                 ci->name, ci->disabled_reason);
    } else if (strncmp(ev->name, "PAPI_", 5) == 0 && code == PAPI_ENOEVNT) {
        const PAPI_component_info_t *cpu = PAPI_get_component_info(0);
        snprintf(ev->reason, sizeof ev->reason,
                 "%s: PAPI maps no hardware counter to this preset (%s has %d presets; "
                 "no hardware PMU visible, as in most VMs)",
                 msg, cpu ? cpu->name : "cpu component", cpu ? cpu->num_preset_events : 0);
    } else {
        snprintf(ev->reason, sizeof ev->reason, "%s", msg);
    }
}

static int group_for(bench_counters *c, int component)
{
    for (int g = 0; g < c->n_groups; g++)
        if (c->groups[g].component == component)
            return g;
    if (c->n_groups == MAX_GROUPS)
        return -1;
    group *gr = &c->groups[c->n_groups];
    gr->component = component;
    gr->event_set = PAPI_NULL;
    gr->n_events = 0;
    if (PAPI_create_eventset(&gr->event_set) != PAPI_OK)
        return -1;
    return c->n_groups++;
}

/* PAPI's SDE component accepts any name (a library may register it later), so
 * a typo would read as a silent 0: check lore's names against the engine's table. */
static bool is_unknown_lore_event(const char *name)
{
    static const char prefix[] = "sde:::lore::";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return false;
    for (size_t i = 0; i < lore_counter_count(); i++)
        if (strcmp(name + sizeof prefix - 1, lore_counter_name((lore_counter)i)) == 0)
            return false;
    return true;
}

static void add_event(bench_counters *c, event *ev)
{
    if (is_unknown_lore_event(ev->name)) {
        snprintf(ev->reason, sizeof ev->reason,
                 "the engine has no counter of that name (see lore::* in the README)");
        return;
    }
    int code = 0;
    int r = PAPI_event_name_to_code(ev->name, &code);
    if (r != PAPI_OK) {
        if (strncmp(ev->name, "PAPI_", 5) == 0 && r == PAPI_ENOEVNT)
            explain(ev, r, -1);
        else
            snprintf(ev->reason, sizeof ev->reason,
                     "PAPI does not know this event on this machine (%s)", PAPI_strerror(r));
        return;
    }
    int component = PAPI_get_event_component(code);
    int g = group_for(c, component);
    if (g < 0) {
        snprintf(ev->reason, sizeof ev->reason, "too many PAPI components in one counter set");
        return;
    }
    if (c->groups[g].n_events == MAX_EVENTS_PER_GROUP) {
        snprintf(ev->reason, sizeof ev->reason, "more than %d events of one PAPI component",
                 MAX_EVENTS_PER_GROUP);
        return;
    }
    r = PAPI_add_event(c->groups[g].event_set, code);
    if (r != PAPI_OK) {
        explain(ev, r, component);
        return;
    }
    ev->group = g;
    ev->slot = c->groups[g].n_events++;
    ev->available = true;
}

static int fill_default_names(bench_counters *c)
{
    size_t n_sde = lore_counter_count();
    c->n_events = bench_counters_n_default_hw + n_sde;
    c->events = calloc(c->n_events, sizeof *c->events);
    if (!c->events)
        return -1;
    for (size_t i = 0; i < bench_counters_n_default_hw; i++)
        snprintf(c->events[i].name, sizeof c->events[i].name, "%s", bench_counters_default_hw[i]);
    for (size_t i = 0; i < n_sde; i++)
        snprintf(c->events[bench_counters_n_default_hw + i].name, sizeof c->events[0].name,
                 "sde:::lore::%s", lore_counter_name((lore_counter)i));
    return 0;
}

int bench_counters_open(const char *const *names, size_t n, bench_counters **out, bench_err *e)
{
    *out = NULL;
    bench_counters *c = calloc(1, sizeof *c);
    if (!c)
        return bench_err_set(e, "counters: out of memory");
    if (names) {
        c->n_events = n;
        c->events = n ? calloc(n, sizeof *c->events) : NULL;
        if (n && !c->events)
            goto oom;
        for (size_t i = 0; i < n; i++)
            snprintf(c->events[i].name, sizeof c->events[i].name, "%s", names[i]);
    } else if (fill_default_names(c) != 0) {
        goto oom;
    }

    bool ready = papi_ready();
    for (size_t i = 0; i < c->n_events; i++) {
        event *ev = &c->events[i];
        ev->group = -1;
        if (ready)
            add_event(c, ev);
        else
            snprintf(ev->reason, sizeof ev->reason, "%s", papi_init_error);
    }
    *out = c;
    return 0;

oom:
    bench_counters_close(c);
    return bench_err_set(e, "counters: out of memory");
}

void bench_counters_reset(bench_counters *c)
{
    for (size_t i = 0; i < c->n_events; i++)
        c->events[i].total = 0;
}

static void mark_group_unavailable(bench_counters *c, int g, int code)
{
    for (size_t i = 0; i < c->n_events; i++) {
        event *ev = &c->events[i];
        if (ev->group == g && ev->available) {
            ev->available = false;
            explain(ev, code, c->groups[g].component);
        }
    }
}

void bench_counters_start(bench_counters *c)
{
    for (int g = 0; g < c->n_groups; g++) {
        group *gr = &c->groups[g];
        if (gr->n_events == 0)
            continue;
        int r = PAPI_start(gr->event_set);
        gr->running = r == PAPI_OK;
        if (!gr->running)
            mark_group_unavailable(c, g, r);
    }
}

void bench_counters_stop(bench_counters *c)
{
    long long values[MAX_EVENTS_PER_GROUP];
    for (int g = 0; g < c->n_groups; g++) {
        group *gr = &c->groups[g];
        if (!gr->running)
            continue;
        gr->running = false;
        int r = PAPI_stop(gr->event_set, values);
        if (r != PAPI_OK) {
            mark_group_unavailable(c, g, r);
            continue;
        }
        for (size_t i = 0; i < c->n_events; i++)
            if (c->events[i].group == g && c->events[i].available)
                c->events[i].total += values[c->events[i].slot];
    }
}

size_t bench_counters_count(const bench_counters *c)
{
    return c->n_events;
}

const char *bench_counters_name(const bench_counters *c, size_t i)
{
    return c->events[i].name;
}

bool bench_counters_available(const bench_counters *c, size_t i)
{
    return c->events[i].available;
}

const char *bench_counters_reason(const bench_counters *c, size_t i)
{
    return c->events[i].reason;
}

int64_t bench_counters_value(const bench_counters *c, size_t i)
{
    return c->events[i].total;
}

void bench_counters_close(bench_counters *c)
{
    if (!c)
        return;
    for (int g = 0; g < c->n_groups; g++) {
        if (c->groups[g].running) {
            long long scratch[MAX_EVENTS_PER_GROUP];
            PAPI_stop(c->groups[g].event_set, scratch);
        }
        PAPI_cleanup_eventset(c->groups[g].event_set);
        PAPI_destroy_eventset(&c->groups[g].event_set);
    }
    free(c->events);
    free(c);
}
