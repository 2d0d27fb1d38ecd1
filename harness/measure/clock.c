/*
 * clock.c - measuring the clock itself.
 */
#include "measure/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_clock_cost_ns(void)
{
    enum { BATCHES = 9, READS = 20000 };
    double per_read[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        int64_t sink = 0;
        int64_t t0 = bench_clock_ns();
        for (int i = 0; i < READS; i++)
            sink += bench_clock_ns();
        int64_t t1 = bench_clock_ns();
        /* Keeps the loop from being optimised away. */
        if (sink == 42)
            fputc(' ', stderr);
        per_read[b] = (double)(t1 - t0) / READS;
    }
    qsort(per_read, BATCHES, sizeof per_read[0], cmp_double);
    return per_read[BATCHES / 2];
}

int64_t bench_clock_resolution_ns(void)
{
    struct timespec ts;
    if (clock_getres(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_clock_source(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!f)
        return;
    char line[64];
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            snprintf(buf, size, "%s", line);
    }
    fclose(f);
}
