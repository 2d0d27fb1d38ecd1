/*
 * noise.c - `lore-bench calibrate-noise`: A/A runs of one scenario, the noise
 * floor of every wall metric of every point, and the lore-noise/1 file that
 * keeps it (definitions in noise.h).
 *
 * The runs are this same lore-bench binary (/proc/self/exe) spawned with
 * `run` into a temporary folder, each a fresh process as a baseline and a
 * candidate would be: what a process inherits from the previous run (page
 * cache, allocator state, a warm CPU) is part of the noise being measured.
 * The pairs are compared by bench_compare itself, so the floor is measured
 * in exactly the statistic the gates later judge.
 */
#include "noise.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compare.h"
#include "gates.h"
#include "measure/stats.h"
#include "results.h"
#include "scenario.h"
#include "sweep.h"

extern char **environ;

#define NOISE_DEFINITION                                                                           \
    "floor: exp(t(N-1, 0.9995) * sqrt(2) * s) - 1, s the sample sd over the N runs of "            \
    "ln(value), t Student's quantile: the change one more A/A pair exceeds with probability "      \
    "0.1%; never below max. max and p95: the largest and the 95th percentile (type 7) over all "   \
    "pairs of max(r, 1/r) - 1, r the pair's ratio of medians as bench_compare computes it. "       \
    "ci_half_width: median over the pairs of (ci_hi - ci_lo) / 2 of bench_compare's bootstrap "    \
    "interval. false_changes: pairs bench_compare (defaults, no noise floor) called better or "    \
    "worse"

/* ---- reading and checking ---------------------------------------------------------------- */

static int bad(bench_err *e, const char *path, const char *where, const char *what,
               const cJSON *got)
{
    if (!got)
        return bench_err_set(e, "%s: %s: %s", path, where, what);
    char *text = cJSON_PrintUnformatted(got);
    int rc = bench_err_set(e, "%s: %s: %s (got %.60s)", path, where, what, text ? text : "?");
    free(text);
    return rc;
}

static bool is_count(const cJSON *v, double min)
{
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= min &&
           v->valuedouble <= 1e9;
}

int bench_noise_validate(const cJSON *doc, const char *path, bench_err *e)
{
    if (!cJSON_IsObject(doc))
        return bad(e, path, "$", "must be a JSON object", NULL);
    const cJSON *schema = bench_json_get(doc, "schema");
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, BENCH_NOISE_SCHEMA) != 0)
        return bad(e, path, "$.schema", "must be \"" BENCH_NOISE_SCHEMA "\"", schema);
    static const char *const strings[] = {"scenario", "machine_class"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = bench_json_get(doc, strings[i]);
        char where[64];
        snprintf(where, sizeof where, "$.%s", strings[i]);
        if (!cJSON_IsString(v) || !v->valuestring[0])
            return bad(e, path, where, "must be a non-empty string", v);
    }
    const cJSON *runs = bench_json_get(doc, "runs");
    if (!is_count(runs, 2))
        return bad(e, path, "$.runs", "must be an integer >= 2", runs);
    const cJSON *points = bench_json_get(doc, "points");
    if (!cJSON_IsObject(points))
        return bad(e, path, "$.points", "must be an object of point id: metrics", points);
    const cJSON *pt;
    cJSON_ArrayForEach(pt, points)
    {
        char where[512];
        snprintf(where, sizeof where, "$.points[\"%.200s\"]", pt->string);
        if (!cJSON_IsObject(pt))
            return bad(e, path, where, "must be an object of metric: noise", pt);
        const cJSON *m;
        cJSON_ArrayForEach(m, pt)
        {
            char mwhere[800];
            snprintf(mwhere, sizeof mwhere, "%s.%.100s", where, m->string);
            if (!cJSON_IsObject(m))
                return bad(e, path, mwhere, "must be an object", m);
            static const char *const fractions[] = {"floor", "max", "ci_half_width", "p95"};
            for (size_t i = 0; i < 4; i++) {
                const cJSON *v = bench_json_get(m, fractions[i]);
                char fwhere[900];
                snprintf(fwhere, sizeof fwhere, "%s.%s", mwhere, fractions[i]);
                if (!v && i < 2)
                    return bad(e, path, fwhere, "missing required field", NULL);
                /* ci_half_width and p95 are optional; ci_half_width is null where no
                 * pair had an interval. */
                if (!v || (i == 2 && cJSON_IsNull(v)))
                    continue;
                /* The floor in [0, 10): what bench_compare accepts (0.04 = 4%). The
                 * observed changes may be larger (a p99 can move 10x between runs). */
                if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
                    (i == 0 && v->valuedouble >= 10))
                    return bad(e, path, fwhere,
                               i == 0 ? "must be a number in [0, 10) (0.04 = 4%)"
                                      : "must be a number >= 0 (0.04 = 4%)",
                               v);
            }
            const cJSON *np = bench_json_get(m, "n_pairs");
            char nwhere[900];
            snprintf(nwhere, sizeof nwhere, "%s.n_pairs", mwhere);
            if (!is_count(np, 1))
                return bad(e, path, nwhere, "must be an integer >= 1", np);
        }
    }
    return 0;
}

int bench_noise_read(const char *path, cJSON **out, bench_err *e)
{
    *out = NULL;
    char *text = bench_read_file(path, NULL, e);
    if (!text)
        return -1;
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!doc)
        return bench_err_set(e, "%s: $: not valid JSON", path);
    if (bench_noise_validate(doc, path, e) != 0) {
        cJSON_Delete(doc);
        return -1;
    }
    *out = doc;
    return 0;
}

double bench_noise_floor(const cJSON *noise, const char *point_id, const char *metric)
{
    if (!noise)
        return NAN;
    const cJSON *f = bench_json_get(
        bench_json_get(bench_json_get(bench_json_get(noise, "points"), point_id), metric), "floor");
    return cJSON_IsNumber(f) ? f->valuedouble : NAN;
}

/* ---- computing ------------------------------------------------------------------------- */

#define NOISE_FLOOR_CAP 9.99

/* t quantiles at 0.9995 (two-sided 99.9%) for 1-30 degrees of freedom. */
static const double t_9995[30] = {636.62, 31.599, 12.924, 8.610, 6.869, 5.959, 5.408, 5.041,
                                  4.781,  4.587,  4.437,  4.318, 4.221, 4.140, 4.073, 4.015,
                                  3.965,  3.922,  3.883,  3.850, 3.819, 3.792, 3.768, 3.745,
                                  3.725,  3.707,  3.690,  3.674, 3.659, 3.646};

double bench_noise_t_9995(size_t df)
{
    if (df == 0)
        return NAN;
    if (df <= 30)
        return t_9995[df - 1];
    /* Cornish-Fisher expansion around the normal quantile: within 0.01% from 30 on. */
    double z = 3.2905267314919, v = (double)df;
    double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z, z9 = z7 * z * z;
    return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v) +
           (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v) +
           (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / (92160 * v * v * v * v);
}

double bench_noise_prediction_floor(const double *ln_values, size_t n)
{
    if (n < 2)
        return NAN;
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += ln_values[i];
    mean /= (double)n;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (ln_values[i] - mean) * (ln_values[i] - mean);
    double sd = sqrt(ss / (double)(n - 1));
    /* A new pair's log difference has sd sqrt(2) sigma; with sigma estimated from
     * n runs it is t-distributed with n - 1 degrees of freedom. */
    return exp(bench_noise_t_9995(n - 1) * sqrt(2.0) * sd) - 1;
}

typedef struct noise_entry {
    char point_id[256];
    char metric[96];
    double *diffs; /* max(r, 1/r) - 1 per pair */
    double *half_widths;
    double *ln_runs; /* ln(run j's value / run 1's), from the pairs with run 1; NAN: unseen */
    size_t n, n_half;
    size_t false_changes;
} noise_entry;

typedef struct noise_acc {
    noise_entry *entries;
    size_t n, cap;
    size_t n_pairs, n_runs;
} noise_acc;

static noise_entry *acc_entry(noise_acc *a, const char *point_id, const char *metric)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->entries[i].point_id, point_id) == 0 &&
            strcmp(a->entries[i].metric, metric) == 0)
            return &a->entries[i];
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        noise_entry *grown = realloc(a->entries, cap * sizeof *grown);
        if (!grown)
            return NULL;
        a->entries = grown;
        a->cap = cap;
    }
    noise_entry *en = &a->entries[a->n];
    memset(en, 0, sizeof *en);
    snprintf(en->point_id, sizeof en->point_id, "%s", point_id);
    snprintf(en->metric, sizeof en->metric, "%s", metric);
    en->diffs = calloc(a->n_pairs, sizeof *en->diffs);
    en->half_widths = calloc(a->n_pairs, sizeof *en->half_widths);
    en->ln_runs = calloc(a->n_runs, sizeof *en->ln_runs);
    if (!en->diffs || !en->half_widths || !en->ln_runs) {
        free(en->diffs);
        free(en->half_widths);
        free(en->ln_runs);
        return NULL;
    }
    for (size_t i = 0; i < a->n_runs; i++)
        en->ln_runs[i] = NAN;
    a->n++;
    return en;
}

static void acc_free(noise_acc *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->entries[i].diffs);
        free(a->entries[i].half_widths);
        free(a->entries[i].ln_runs);
    }
    free(a->entries);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Adds the comparison of run i (base) with run j (candidate). */
static int acc_add(noise_acc *a, size_t i_run, size_t j_run, const bench_comparison *c,
                   bench_err *e)
{
    for (size_t i = 0; i < c->n_items; i++) {
        const bench_metric_cmp *it = &c->items[i];
        /* Informational items (stage times, fractions) are never judged: no floor needed. */
        if (it->track != BENCH_TRACK_WALL || it->informational ||
            it->verdict == BENCH_VERDICT_MISSING || !(it->ratio > 0) || !isfinite(it->ratio))
            continue;
        noise_entry *en = acc_entry(a, it->point_id, it->metric);
        if (!en)
            return bench_err_set(e, "calibrate-noise: out of memory");
        en->diffs[en->n++] = (it->ratio >= 1 ? it->ratio : 1 / it->ratio) - 1;
        if (i_run == 0) {
            en->ln_runs[0] = 0;
            en->ln_runs[j_run] = log(it->ratio);
        }
        if (isfinite(it->ci_lo) && isfinite(it->ci_hi))
            en->half_widths[en->n_half++] = (it->ci_hi - it->ci_lo) / 2;
        en->false_changes +=
            it->verdict == BENCH_VERDICT_BETTER || it->verdict == BENCH_VERDICT_WORSE;
    }
    return 0;
}

static void iso_now(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cJSON *acc_to_json(const noise_acc *a, const cJSON *first, size_t n_runs, bench_err *e)
{
    char cls[160];
    if (bench_machine_class(first, cls, sizeof cls, e) != 0)
        return NULL;
    cJSON *doc = cJSON_CreateObject();
    char when[32];
    iso_now(when, sizeof when);
    const cJSON *sc = bench_json_get(first, "scenario");
    const char *hash = bench_json_str(sc, "hash");
    if (!doc || !cJSON_AddStringToObject(doc, "schema", BENCH_NOISE_SCHEMA) ||
        !cJSON_AddStringToObject(doc, "scenario", bench_json_str(sc, "name")) ||
        !cJSON_AddStringToObject(doc, "scenario_hash", hash ? hash : "") ||
        !cJSON_AddStringToObject(doc, "machine_class", cls) ||
        !cJSON_AddStringToObject(doc, "created_at", when) ||
        !cJSON_AddNumberToObject(doc, "runs", (double)n_runs) ||
        !cJSON_AddNumberToObject(doc, "pairs", (double)a->n_pairs) ||
        !cJSON_AddStringToObject(doc, "definition", NOISE_DEFINITION))
        goto oom;
    cJSON *points = cJSON_AddObjectToObject(doc, "points");
    if (!points)
        goto oom;
    for (size_t i = 0; i < a->n; i++) {
        noise_entry *en = &a->entries[i];
        cJSON *pt = cJSON_GetObjectItemCaseSensitive(points, en->point_id);
        if (!pt && !(pt = cJSON_AddObjectToObject(points, en->point_id)))
            goto oom;
        cJSON *m = cJSON_AddObjectToObject(pt, en->metric);
        if (!m)
            goto oom;
        qsort(en->diffs, en->n, sizeof *en->diffs, cmp_double);
        double p95 = bench_stats_percentile_sorted(en->diffs, en->n, 0.95);
        double max = en->diffs[en->n - 1];
        size_t n_ln = 0;
        for (size_t r = 0; r < a->n_runs; r++)
            if (!isnan(en->ln_runs[r]))
                en->ln_runs[n_ln++] = en->ln_runs[r];
        double bound = bench_noise_prediction_floor(en->ln_runs, n_ln);
        double floor_v = isnan(bound) || bound < max ? max : bound;
        /* Past 10x nothing can be seen anyway, and compare takes floors below 10. */
        if (floor_v > NOISE_FLOOR_CAP)
            floor_v = NOISE_FLOOR_CAP;
        double half = en->n_half ? bench_stats_median(en->half_widths, en->n_half) : NAN;
        if (!cJSON_AddNumberToObject(m, "floor", floor_v) ||
            !cJSON_AddNumberToObject(m, "p95", p95) ||
            !(isfinite(half) ? cJSON_AddNumberToObject(m, "ci_half_width", half)
                             : cJSON_AddNullToObject(m, "ci_half_width")) ||
            !cJSON_AddNumberToObject(m, "max", en->diffs[en->n - 1]) ||
            !cJSON_AddNumberToObject(m, "n_pairs", (double)en->n) ||
            !cJSON_AddNumberToObject(m, "false_changes", (double)en->false_changes))
            goto oom;
    }
    return doc;
oom:
    cJSON_Delete(doc);
    bench_err_set(e, "calibrate-noise: out of memory");
    return NULL;
}

int bench_noise_from_results(const cJSON *const *results, const char *const *paths, size_t n,
                             cJSON **out, bench_err *e)
{
    *out = NULL;
    if (n < 2)
        return bench_err_set(e, "calibrate-noise: needs at least 2 runs (got %zu)", n);
    const char *name = bench_json_str(bench_json_get(results[0], "scenario"), "name");
    const char *hash = bench_json_str(bench_json_get(results[0], "scenario"), "hash");
    for (size_t i = 1; i < n; i++) {
        const char *ni = bench_json_str(bench_json_get(results[i], "scenario"), "name");
        const char *hi = bench_json_str(bench_json_get(results[i], "scenario"), "hash");
        if (!name || !ni || strcmp(name, ni) != 0 || (hash && hi && strcmp(hash, hi) != 0))
            return bench_err_set(e,
                                 "calibrate-noise: %s and %s are not runs of the same scenario "
                                 "(%s %s vs %s %s)",
                                 paths[0], paths[i], name ? name : "?", hash ? hash : "?",
                                 ni ? ni : "?", hi ? hi : "?");
    }
    noise_acc a = {.n_pairs = n * (n - 1) / 2, .n_runs = n};
    bench_compare_opts opts = bench_compare_default_opts();
    int rc = -1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            bench_comparison *c = NULL;
            if (bench_compare(results[i], paths[i], results[j], paths[j], &opts, &c, e) != 0)
                goto done;
            int r = acc_add(&a, i, j, c, e);
            bench_comparison_free(c);
            if (r != 0)
                goto done;
        }
    *out = acc_to_json(&a, results[0], n, e);
    rc = *out ? 0 : -1;
done:
    acc_free(&a);
    return rc;
}

static double num_or_nan(const cJSON *o, const char *name)
{
    const cJSON *v = bench_json_get(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

void bench_noise_print_table(const cJSON *noise, FILE *f)
{
    fprintf(f, "## Noise floor: %s on %s (%g runs, %g A/A pairs)\n\n",
            bench_json_str(noise, "scenario"), bench_json_str(noise, "machine_class"),
            num_or_nan(noise, "runs"), num_or_nan(noise, "pairs"));
    fputs("| point | metric | floor | max A/A | p95 A/A | CI half-width | false changes |\n", f);
    fputs("|---|---|---|---|---|---|---|\n", f);
    const cJSON *pt, *m;
    cJSON_ArrayForEach(pt, bench_json_get(noise, "points"))
    {
        cJSON_ArrayForEach(m, pt)
        {
            fprintf(f, "| %s | %s | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %g/%g |\n", pt->string,
                    m->string, num_or_nan(m, "floor") * 100, num_or_nan(m, "max") * 100,
                    num_or_nan(m, "p95") * 100, num_or_nan(m, "ci_half_width") * 100,
                    num_or_nan(m, "false_changes"), num_or_nan(m, "n_pairs"));
        }
    }
    fputc('\n', f);
}

/* ---- the command ----------------------------------------------------------------------- */

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "lore-bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see lore-bench help)\n");
    return BENCH_EXIT_USAGE;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* One `lore-bench run` into dir; stdout (the result path, a gate table) is dropped. */
static int spawn_run(const char *scenario, const char *dir, const char *const *sets, size_t n_sets,
                     const char *const *filters, size_t n_filters, int *status)
{
    size_t n_args = 6 + 2 * (n_sets + n_filters) + 1;
    char **args = calloc(n_args, sizeof *args);
    if (!args)
        return ENOMEM;
    size_t k = 0;
    /* posix_spawn takes char *const[]; it does not write to the strings. */
    args[k++] = (char *)"lore-bench";
    args[k++] = (char *)"run";
    args[k++] = (char *)scenario;
    args[k++] = (char *)"-q";
    args[k++] = (char *)"-o";
    args[k++] = (char *)dir;
    for (size_t i = 0; i < n_sets; i++) {
        args[k++] = (char *)"--set";
        args[k++] = (char *)sets[i];
    }
    for (size_t i = 0; i < n_filters; i++) {
        args[k++] = (char *)"--filter";
        args[k++] = (char *)filters[i];
    }
    args[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    free(args);
    if (rc != 0)
        return rc;
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

typedef struct noise_opts {
    const char *scenario;
    const char *output;
    long runs;
    const char **sets, **filters;
    size_t n_sets, n_filters;
} noise_opts;

static int parse_opts(int argc, char **argv, noise_opts *o)
{
    o->runs = 5;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--runs") == 0) {
            if (!has_value)
                return usage("%s needs a number of runs", a);
            char *end;
            errno = 0;
            o->runs = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end || errno || o->runs < 2 || o->runs > 100)
                return usage("--runs %s: must be an integer in [2, 100]", argv[i]);
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!has_value)
                return usage("%s needs a file", a);
            o->output = argv[++i];
        } else if (strcmp(a, "--set") == 0) {
            if (!has_value)
                return usage("%s needs KEY=VALUE", a);
            o->sets[o->n_sets++] = argv[++i];
        } else if (strcmp(a, "--filter") == 0) {
            if (!has_value)
                return usage("%s needs KEY=VALUE", a);
            o->filters[o->n_filters++] = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return usage("unknown option '%s'", a);
        } else if (o->scenario) {
            return usage("calibrate-noise takes one scenario (extra argument '%s')", a);
        } else {
            o->scenario = a;
        }
    }
    if (!o->scenario)
        return usage("%s", "calibrate-noise needs a scenario file");
    return BENCH_EXIT_OK;
}

/* The scenario, --set and --filter checked here, so a typo costs no runs. */
static int check_inputs(const noise_opts *o, char *name, size_t size)
{
    bench_err e = {{0}};
    bench_scenario *s = NULL;
    bench_grid *g = NULL;
    int rc = BENCH_EXIT_USAGE;
    if (bench_scenario_load(o->scenario, &s, &e) != 0)
        goto done;
    for (size_t i = 0; i < o->n_sets; i++)
        if (bench_scenario_apply_set(s, o->sets[i], &e) != 0)
            goto done;
    if (bench_sweep_expand(s, &g, &e) != 0 || bench_sweep_filter(g, o->filters, o->n_filters, &e))
        goto done;
    snprintf(name, size, "%s", s->name);
    rc = BENCH_EXIT_OK;
done:
    if (rc != BENCH_EXIT_OK)
        fprintf(stderr, "lore-bench: %s\n", e.msg);
    bench_grid_free(g);
    bench_scenario_free(s);
    return rc;
}

int bench_noise_cli_main(int argc, char **argv)
{
    noise_opts o = {0};
    o.sets = calloc((size_t)argc, sizeof *o.sets);
    o.filters = calloc((size_t)argc, sizeof *o.filters);
    cJSON **docs = NULL;
    char **paths = NULL;
    cJSON *noise = NULL;
    char tmp[256] = "";
    char name[128];
    bench_err e = {{0}};
    int rc = BENCH_EXIT_RUNTIME;
    if (!o.sets || !o.filters) {
        fprintf(stderr, "lore-bench: out of memory\n");
        goto done;
    }
    rc = parse_opts(argc, argv, &o);
    if (rc != BENCH_EXIT_OK)
        goto done;
    rc = check_inputs(&o, name, sizeof name);
    if (rc != BENCH_EXIT_OK)
        goto done;
    rc = BENCH_EXIT_RUNTIME;
    const char *tmpdir = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/lore-noise-XXXXXX", tmpdir && tmpdir[0] ? tmpdir : "/tmp");
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "lore-bench: calibrate-noise: cannot make a temporary folder %s: %s\n", tmp,
                strerror(errno));
        tmp[0] = '\0';
        goto done;
    }
    /* The runs only measure: their gates would fail on the noise being measured. */
    setenv(BENCH_GATES_OFF_ENV, "1", 1);
    docs = calloc((size_t)o.runs, sizeof *docs);
    paths = calloc((size_t)o.runs, sizeof *paths);
    if (!docs || !paths) {
        fprintf(stderr, "lore-bench: out of memory\n");
        goto done;
    }
    for (long i = 0; i < o.runs; i++) {
        char dir[300];
        snprintf(dir, sizeof dir, "%s/run-%ld", tmp, i + 1);
        fprintf(stderr, "lore-bench: calibrate-noise: run %ld of %ld of %s\n", i + 1, o.runs, name);
        int status = 0;
        int err = spawn_run(o.scenario, dir, o.sets, o.n_sets, o.filters, o.n_filters, &status);
        if (err) {
            fprintf(stderr, "lore-bench: calibrate-noise: cannot start lore-bench run: %s\n",
                    strerror(err));
            goto done;
        }
        /* 1 is a failed gate: the run itself is complete and just as good for noise. */
        if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 1)) {
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            fprintf(stderr, "lore-bench: calibrate-noise: run %ld exited with %d (see above)\n",
                    i + 1, code);
            rc = code == BENCH_EXIT_INTERRUPTED ? code : BENCH_EXIT_RUNTIME;
            goto done;
        }
        char path[340];
        snprintf(path, sizeof path, "%s/result.json", dir);
        paths[i] = bench_strdup(path);
        if (!paths[i] || bench_results_read(path, &docs[i], &e) != 0) {
            fprintf(stderr, "lore-bench: calibrate-noise: %s\n",
                    paths[i] ? e.msg : "out of memory");
            goto done;
        }
    }
    if (bench_noise_from_results((const cJSON *const *)docs, (const char *const *)paths,
                                 (size_t)o.runs, &noise, &e) != 0) {
        fprintf(stderr, "lore-bench: %s\n", e.msg);
        goto done;
    }
    cJSON *cmd = cJSON_AddArrayToObject(noise, "command");
    for (int i = 0; cmd && i < argc; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(argv[i]));
    char out[4200];
    if (o.output) {
        snprintf(out, sizeof out, "%s", o.output);
    } else {
        char folder[300];
        snprintf(folder, sizeof folder, "baselines/%s", bench_json_str(noise, "machine_class"));
        if (bench_mkdir_p(folder, &e) != 0) {
            fprintf(stderr, "lore-bench: calibrate-noise: %s\n", e.msg);
            goto done;
        }
        snprintf(out, sizeof out, "%s/noise-%s.json", folder, name);
    }
    char *text = cJSON_Print(noise);
    if (!text) {
        fprintf(stderr, "lore-bench: out of memory\n");
        goto done;
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: the file ends with a newline */
    int w = bench_write_file_atomic(out, text, len + 1, &e);
    free(text);
    if (w != 0) {
        fprintf(stderr, "lore-bench: calibrate-noise: %s\n", e.msg);
        goto done;
    }
    bench_noise_print_table(noise, stdout);
    printf("%s\n", out);
    rc = BENCH_EXIT_OK;
done:
    if (tmp[0])
        nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (long i = 0; docs && i < o.runs; i++)
        cJSON_Delete(docs[i]);
    for (long i = 0; paths && i < o.runs; i++)
        free(paths[i]);
    free(docs);
    free(paths);
    cJSON_Delete(noise);
    free(o.sets);
    free(o.filters);
    return rc;
}
