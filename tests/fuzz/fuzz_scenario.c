/*
 * fuzz_scenario.c - libFuzzer target for the scenario parser, the first thing
 * lore-bench reads from outside.
 *
 * Properties checked on every input: parsing never crashes or leaks; a
 * scenario that parses prints (bench_scenario_to_json) to text that parses
 * again to the same effective scenario; --set and sweep expansion on it either
 * work or fail with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"
#include "sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *print_effective(const bench_scenario *s)
{
    cJSON *j = bench_scenario_to_json(s);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    bench_scenario *s = NULL;
    bench_err e = {{0}};
    if (bench_scenario_parse("fuzz.json", text, &s, &e) != 0) {
        if (!e.msg[0] || strncmp(e.msg, "fuzz.json: ", 11) != 0)
            abort(); /* every failure names the file */
        free(text);
        return 0;
    }

    char *first = print_effective(s);
    if (first) {
        bench_scenario *again = NULL;
        if (bench_scenario_parse("round-trip.json", first, &again, &e) != 0)
            abort();
        char *second = print_effective(again);
        if (second && strcmp(first, second) != 0)
            abort();
        free(second);
        bench_scenario_free(again);
    }
    free(first);

    static const char *const sets[] = {"measure.max_time_s=0.5", "m=1,2", "threads=1", "n=64"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        bench_scenario_apply_set(s, sets[i], &e);

    bench_grid *g = NULL;
    if (bench_sweep_expand(s, &g, &e) == 0) {
        const char *filters[] = {"index=0"};
        bench_sweep_filter(g, filters, 1, &e);
        bench_grid_free(g);
    }
    bench_scenario_free(s);
    free(text);
    return 0;
}
