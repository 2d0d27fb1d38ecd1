/*
 * cli.c - lore-bench's subcommands.
 *
 * `run` validates everything it was given (scenario, --set, --filter, output
 * folder) before it measures anything, so a typo costs no waiting; any bad
 * input exits 2 with a message naming the file or flag, the field and the value.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ab.h"
#include "compare.h"
#include "engine_cli.h"
#include "gates.h"
#include "history.h"
#include "host.h"
#include "instructions.h"
#include "measure/clock.h"
#include "noise.h"
#include "report.h"
#include "results.h"
#include "runner.h"
#include "scenario.h"
#include "sweep.h"

#define REEXEC_ENV "LORE_BENCH_BLAS_REEXEC"
#define CALIBRATION_BUDGET_S 0.6

static const char usage_text[] =
    "usage: lore-bench <command> [options]\n"
    "\n"
    "commands:\n"
    "  run SCENARIO.json [options]   measure every point of a scenario's sweep\n"
    "      -o, --output DIR          write result.json and result.csv into DIR\n"
    "                                (default: results/<run-id>)\n"
    "      --set KEY=VALUE           override a parameter (a,b,c sets a sweep) or\n"
    "                                measure.FIELD; repeatable\n"
    "      --filter KEY=VALUE        run only matching points (a parameter, id or\n"
    "                                index); repeatable\n"
    "      --blas-core auto|NAME     re-run with OpenBLAS's kernel family set\n"
    "                                (OPENBLAS_CORETYPE) after a numeric self-check\n"
    "      --dry-run                 list the points and exit\n"
    "      --instructions            count instructions instead: re-run under valgrind\n"
    "                                callgrind, 1 warm-up + a few measured operations\n"
    "                                per point; adds instructions.per_op to each point\n"
    "      --instructions-ops N      measured operations per point (default 5)\n"
    "      -q, --quiet               no progress lines\n"
    "      --history FILE            append the run to FILE (default $LORE_BENCH_HISTORY,\n"
    "                                else results/history.sqlite); --no-history: don't\n"
    "      --baseline FILE|DIR|auto  judge the scenario's relative gates against a\n"
    "                                baseline (auto: baselines/<machine class>/)\n"
    "      --strict                  conditional and inconclusive gates fail too\n"
    "      --junit FILE              write the gate outcomes as JUnit XML\n"
    "  gate RESULT [--baseline B] [--strict] [--junit FILE]\n"
    "                                judge a saved result's gates again\n"
    "  calibrate-noise SCENARIO [--runs N] [-o FILE] [--set K=V] [--filter K=V]\n"
    "                                A/A runs (default 5): the noise floor per point\n"
    "                                and wall metric, into baselines/<class>/\n"
    "  ingest DB PATH... [options]   put files and folders into the store DB (made\n"
    "                                when missing): chunk, embed, store, index\n"
    "      --tier T                  embedding tier (default minilm-l6; synthetic\n"
    "                                weights unless --model-dir is given)\n"
    "      --model-dir DIR           Hugging Face model folder to embed with\n"
    "      --index flat|ivf|hnsw     vector index (default flat)\n"
    "      --chunk-size N            chunk window (default 500)\n"
    "      --chunk-overlap N         units shared by neighbouring chunks (default 60)\n"
    "      --chunk-unit chars|tokens unit of the two above (default chars)\n"
    "      --rows-per-txn N          chunk rows per transaction, whole documents;\n"
    "                                0: all in one (default 1024)\n"
    "      --threads N               embedding threads (default: every core)\n"
    "      -q, --quiet               no progress line\n"
    "  query DB TEXT [options]       the chunks of DB nearest to TEXT, best first\n"
    "      -k N                      hits (default 5)\n"
    "      --rerank none|verify|nli  NLI probabilities on the k hits (verify) or\n"
    "                                the top --depth re-ordered by entailment (nli)\n"
    "      --depth N                 nli: candidates judged, >= k (default 2k)\n"
    "      --nli-model-dir DIR       NLI model folder (default synthetic weights)\n"
    "      --probes N                ivf: lists scanned; --ef N  hnsw: candidates\n"
    "      --json                    one JSON object instead of text\n"
    "      --tier, --model-dir, --index, --threads  as for ingest: give query the\n"
    "                                --tier and --model-dir ingest used (its vectors\n"
    "                                are stored per tier); another --index is built\n"
    "                                from the stored vectors once, then kept\n"
    "  baseline save RESULT          bless RESULT as baselines/<class>/<scenario>.json\n"
    "      --name NAME               file name instead of the scenario's name\n"
    "      --dir DIR                 instead of baselines/\n"
    "      --force                   bless an interrupted result or one with failed points\n"
    "  compare CURRENT BASELINE      candidate result vs a baseline file, or a folder\n"
    "                                holding <scenario>.json or <class>/<scenario>.json;\n"
    "                                prints the verdict table, exit 1 when a number is worse\n"
    "      --min-effect X            smallest wall change that counts (default 0.05)\n"
    "      --alpha A                 false discovery rate over the wall tests (default 0.05)\n"
    "      --noise FILE              noise floors from calibrate-noise\n"
    "      --ignore PARAM            leave PARAM out of point matching; repeatable\n"
    "      --md/--junit/--bmf/--json FILE  full Markdown, JUnit XML, Bencher Metric\n"
    "                                Format, JSON\n"
    "      --strict                  inconclusive or missing numbers fail too\n"
    "  ab OLD_BIN NEW_BIN SCENARIO   two lore-bench builds interleaved (ABBA), one point\n"
    "                                at a time; paired ratios of median latency\n"
    "      --rounds N                rounds per point (default 10)\n"
    "      --set, --filter, -o DIR   as for run (default results/ab-<time>)\n"
    "      --min-effect X            smallest change that counts (default 0.02)\n"
    "      --confidence C            of the interval (default 0.95)\n"
    "      --fail-on-slowdown X      exit 1 when a point's whole interval is above 1+X\n"
    "  history SCENARIO [options]    one metric of each point across the recorded runs,\n"
    "                                with its change points (steps that are real)\n"
    "      --metric M                throughput (default), ops_per_s, latency_p50,\n"
    "                                latency_p99, rss_peak, counter:NAME, a workload's\n"
    "      --point KEY=VALUE         matching points only, as run --filter; repeatable\n"
    "      --last N                  the last N runs of each point\n"
    "      --plot FILE.svg           draw it with gnuplot (FILE.gp and FILE.dat kept)\n"
    "      --json                    one JSON document instead of tables\n"
    "      --history FILE            the history to read (default as for run)\n"
    "      --min-effect X --min-segment N --alpha A  smallest step kept (0.05), fewest\n"
    "                                runs a side (3), test level (0.01)\n"
    "  report RESULT [options]       report.md + self-contained report.html with plots\n"
    "                                (gnuplot; plots/NAME.dat + .gp kept to re-render)\n"
    "      --baseline FILE|DIR       verdicts against a baseline (a folder: as compare)\n"
    "      --peer RESULT             a peer's result of the same scenario; repeatable\n"
    "      --noise FILE              noise floors from calibrate-noise\n"
    "      -o, --output DIR          where to write (default: the result's folder);\n"
    "                                gnuplot: $LORE_BENCH_GNUPLOT (none: tables only)\n"
    "  list                          workloads and their parameters\n"
    "  version                       versions of lore-bench and its BLAS\n"
    "  help                          this text\n"
    "\n"
    "exit codes: 0 ok, 1 a gate failed, 2 bad input or usage, 3 runtime failure,\n"
    "            130 interrupted (run: finished points are written, marked\n"
    "            incomplete; ingest: what was committed stays)\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "lore-bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see lore-bench help)\n");
    return BENCH_EXIT_USAGE;
}

typedef struct run_opts {
    const char *scenario;
    const char *output;
    const char **sets;
    size_t n_sets;
    const char **filters;
    size_t n_filters;
    const char *blas_core;
    bool dry_run;
    bool quiet;
    bool instructions;
    int64_t instr_ops;
    const char *history; /* NULL: bench_history_path's default */
    bool no_history;
    bench_gate_cli gates; /* --baseline, --strict, --junit */
} run_opts;

/* An OpenBLAS core name as OPENBLAS_CORETYPE takes it: 1-32 of [A-Za-z0-9_]. */
static bool blas_core_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 32)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

static int parse_run_opts(int argc, char **argv, run_opts *o)
{
    o->sets = calloc((size_t)argc, sizeof *o->sets);
    o->filters = calloc((size_t)argc, sizeof *o->filters);
    if (!o->sets || !o->filters) {
        fprintf(stderr, "lore-bench: out of memory\n");
        return BENCH_EXIT_RUNTIME;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        int gate_opt = bench_gate_cli_option(argc, argv, &i, &o->gates);
        if (gate_opt < 0)
            return BENCH_EXIT_USAGE;
        if (gate_opt > 0)
            continue;
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!has_value)
                return usage_error("%s needs a folder", a);
            o->output = argv[++i];
        } else if (strcmp(a, "--set") == 0) {
            if (!has_value)
                return usage_error("%s needs KEY=VALUE", a);
            o->sets[o->n_sets++] = argv[++i];
        } else if (strcmp(a, "--filter") == 0) {
            if (!has_value)
                return usage_error("%s needs KEY=VALUE", a);
            o->filters[o->n_filters++] = argv[++i];
        } else if (strcmp(a, "--blas-core") == 0) {
            if (!has_value)
                return usage_error("%s needs auto or a core name", a);
            o->blas_core = argv[++i];
            if (!blas_core_name_ok(o->blas_core))
                return usage_error("--blas-core '%s': expected auto or an OpenBLAS core name "
                                   "(letters, digits, _; e.g. SkylakeX, Haswell)",
                                   o->blas_core);
        } else if (strcmp(a, "--dry-run") == 0) {
            o->dry_run = true;
        } else if (strcmp(a, "--history") == 0) {
            if (!has_value || !argv[i + 1][0])
                return usage_error("%s needs a file", a);
            o->history = argv[++i];
        } else if (strcmp(a, "--no-history") == 0) {
            o->no_history = true;
        } else if (strcmp(a, "--instructions") == 0) {
            o->instructions = true;
        } else if (strcmp(a, "--instructions-ops") == 0) {
            char *end;
            if (!has_value)
                return usage_error("%s needs a count", a);
            o->instr_ops = strtoll(argv[++i], &end, 10);
            if (*end || end == argv[i] || o->instr_ops < 1 || o->instr_ops > BENCH_INSTR_MAX_OPS)
                return usage_error("--instructions-ops '%s': expected an integer in [1, 1000000]",
                                   argv[i]);
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = true;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else if (o->scenario) {
            return usage_error("one scenario per run (extra argument '%s')", a);
        } else {
            o->scenario = a;
        }
    }
    if (!o->scenario)
        return usage_error("%s", "run needs a scenario file");
    if (o->instr_ops && !o->instructions)
        return usage_error("%s", "--instructions-ops needs --instructions");
    if (!o->instr_ops)
        o->instr_ops = BENCH_INSTR_DEFAULT_OPS;
    return BENCH_EXIT_OK;
}

/*
 * --blas-core: OpenBLAS reads OPENBLAS_CORETYPE once, when it loads, so the
 * only way to change the kernel is to set the variable and exec ourselves
 * again. Returns -1 to go on in this process, else an exit code.
 */
static int apply_blas_core(const char *request, char **argv)
{
    if (getenv(REEXEC_ENV))
        return -1; /* already re-executed: verified after loading */
    bench_host h;
    bench_host_collect(&h);
    const char *core = request;
    if (strcmp(request, "auto") == 0) {
        core = bench_blas_core_for_host(&h);
        if (!core || strcasecmp(core, h.blas.core) == 0) {
            fprintf(stderr, "lore-bench: --blas-core auto: keeping OpenBLAS core %s\n",
                    h.blas.core);
            return -1;
        }
    } else if (strcasecmp(core, h.blas.core) == 0) {
        return -1;
    }
    fprintf(stderr, "lore-bench: --blas-core: re-running with OPENBLAS_CORETYPE=%s (was %s)\n",
            core, h.blas.core);
    if (setenv("OPENBLAS_CORETYPE", core, 1) != 0 || setenv(REEXEC_ENV, core, 1) != 0) {
        fprintf(stderr, "lore-bench: --blas-core: cannot set the environment: %s\n",
                strerror(errno));
        return BENCH_EXIT_RUNTIME;
    }
    fflush(NULL);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "lore-bench: --blas-core: cannot re-execute: %s\n", strerror(errno));
    return BENCH_EXIT_RUNTIME;
}

/* With --blas-core: say which core actually runs, and check its results. */
static int verify_blas_core(const char *request, bench_host *host)
{
    const char *wanted = getenv(REEXEC_ENV);
    if (wanted && strcasecmp(host->blas.core, wanted) != 0)
        fprintf(stderr,
                "lore-bench: --blas-core: asked OpenBLAS for %s, it runs %s (this build of "
                "OpenBLAS may not have that kernel)\n",
                wanted, host->blas.core);
    bench_err e = {{0}};
    if (bench_blas_self_check(&e) != 0) {
        fprintf(stderr, "lore-bench: %s\n", e.msg);
        return BENCH_EXIT_RUNTIME;
    }
    fprintf(stderr, "lore-bench: BLAS core %s passed the sgemm self-check\n", host->blas.core);
    snprintf(host->blas_core_request, sizeof host->blas_core_request, "%s", request);
    host->blas_self_check_passed = true;
    return BENCH_EXIT_OK;
}

static void make_run_id(const char *name, char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    unsigned tag = (unsigned)(bench_fnv1a64(&(int64_t){bench_clock_ns()}, 8) ^ (unsigned)getpid());
    snprintf(buf, size, "%s-%s-%04x", stamp, name, tag & 0xffff);
}

/* Creates the output folder and proves it is writable before any measuring. */
static int prepare_output(const char *dir)
{
    bench_err e = {{0}};
    if (bench_mkdir_p(dir, &e) != 0) {
        fprintf(stderr, "lore-bench: output folder %s\n", e.msg);
        return BENCH_EXIT_USAGE;
    }
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/.write-probe", dir);
    if (bench_write_file_atomic(probe, "", 0, &e) != 0) {
        fprintf(stderr, "lore-bench: output folder %s is not writable: %s\n", dir, e.msg);
        return BENCH_EXIT_USAGE;
    }
    unlink(probe);
    return BENCH_EXIT_OK;
}

static void format_ns(double ns, char *buf, size_t size)
{
    if (ns < 1e3)
        snprintf(buf, size, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, size, "%.1f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, size, "%.2f ms", ns / 1e6);
    else
        snprintf(buf, size, "%.2f s", ns / 1e9);
}

static void progress_line(void *ctx, const bench_grid *g, size_t n_done,
                          const bench_point_result *r, double elapsed_s)
{
    (void)ctx;
    const bench_point *pt = &g->points[r->point];
    double eta_s = elapsed_s / (double)n_done * (double)(g->n_points - n_done);
    if (!r->ok) {
        fprintf(stderr, "[%zu/%zu] %s  FAILED: %s\n", n_done, g->n_points, pt->id, r->error);
        return;
    }
    char what[96];
    const cJSON *m = r->metrics ? r->metrics->child : NULL;
    const cJSON *value = m ? cJSON_GetObjectItemCaseSensitive(m, "value") : NULL;
    const cJSON *unit = m ? cJSON_GetObjectItemCaseSensitive(m, "unit") : NULL;
    if (cJSON_IsNumber(value) && cJSON_IsString(unit))
        snprintf(what, sizeof what, "%s %.4g %s", m->string, value->valuedouble, unit->valuestring);
    else
        snprintf(what, sizeof what, "%.4g %s/s", r->items_per_s, g->workload->item_unit);
    char p50[32];
    format_ns(r->latency_ns.p50, p50, sizeof p50);
    fprintf(stderr, "[%zu/%zu] %-32s %s  p50 %s  cv %.1f%%  n=%zu  %.1fs", n_done, g->n_points,
            pt->id, what, p50, r->latency_ns.cv * 100, r->n_samples, r->point_ns * 1e-9);
    if (n_done < g->n_points)
        fprintf(stderr, "  ETA %.0fs", eta_s);
    if (!r->min_samples_met)
        fprintf(stderr, "  (below min_samples: max_time_s reached)");
    fputc('\n', stderr);
}

static void print_points(const bench_grid *g)
{
    printf("%zu of %zu points:\n", g->n_points, g->n_total);
    for (size_t i = 0; i < g->n_points; i++)
        printf("  index=%zu  id=%s\n", g->points[i].index, g->points[i].id);
}

static int cmd_run(int argc, char **argv)
{
    run_opts o = {0};
    bench_scenario *s = NULL;
    bench_grid *g = NULL;
    bench_run *run = NULL;
    cJSON *doc = NULL;
    bench_err e = {{0}};
    int rc = parse_run_opts(argc, argv, &o);
    if (rc != BENCH_EXIT_OK)
        goto done;
    if (o.blas_core) {
        rc = apply_blas_core(o.blas_core, argv);
        if (rc >= 0)
            goto done;
    }
    if (bench_scenario_load(o.scenario, &s, &e) != 0) {
        rc = BENCH_EXIT_USAGE;
        goto report;
    }
    for (size_t i = 0; i < o.n_sets; i++)
        if (bench_scenario_apply_set(s, o.sets[i], &e) != 0) {
            rc = BENCH_EXIT_USAGE;
            goto report;
        }
    if (bench_sweep_expand(s, &g, &e) != 0 || bench_sweep_filter(g, o.filters, o.n_filters, &e) ||
        bench_gate_cli_prepare(&o.gates, s, &e) != 0) {
        rc = BENCH_EXIT_USAGE;
        goto report;
    }
    if (o.dry_run) {
        print_points(g);
        rc = BENCH_EXIT_OK;
        goto done;
    }
    if (o.instructions && (rc = bench_instructions_start(s, o.instr_ops, argc, argv)) >= 0)
        goto done; /* the re-run under callgrind did the work */
    char run_id[160];
    make_run_id(s->name, run_id, sizeof run_id);
    char default_dir[256];
    snprintf(default_dir, sizeof default_dir, "results/%s", run_id);
    const char *dir = o.output ? o.output : default_dir;
    rc = prepare_output(dir);
    if (rc != BENCH_EXIT_OK)
        goto done;
    /* From here on Ctrl-C means "stop and keep what is finished". */
    bench_runner_install_signals();
    bench_host host;
    bench_host_collect(&host);
    if (o.blas_core) {
        rc = verify_blas_core(o.blas_core, &host);
        if (rc != BENCH_EXIT_OK)
            goto done;
    }
    if (host.blas_generic_on_simd_cpu)
        fprintf(stderr,
                "\nlore-bench: WARNING: %s\n"
                "lore-bench: WARNING: results of this run understate what this machine can do.\n\n",
                host.blas_warning);
    /* Under callgrind the calibration means nothing and takes seconds. */
    if (!o.instructions && bench_host_calibrate(&host, CALIBRATION_BUDGET_S) != 0) {
        fprintf(stderr, "lore-bench: calibration: out of memory\n");
        rc = BENCH_EXIT_RUNTIME;
        goto done;
    }
    if (!o.quiet)
        fprintf(stderr,
                "lore-bench: %s (%s), %zu point(s); BLAS %s core %s; calibration %.1f GFLOP/s "
                "sgemm, %.1f GB/s triad\n",
                s->name, s->workload->name, g->n_points, host.blas.library, host.blas.core,
                host.calib_sgemm_gflops, host.calib_stream_gbps);

    bench_result_meta meta = {.run_id = run_id, .argc = argc, .argv = argv};
    meta.started_unix_ms = bench_unix_ms();
    double calib_gflops = host.calibrated ? host.calib_sgemm_gflops : 0.0;
    if (bench_runner_run(s, g, calib_gflops, o.quiet ? NULL : progress_line, NULL, &run, &e) !=
        0) {
        rc = BENCH_EXIT_RUNTIME;
        goto report;
    }
    meta.finished_unix_ms = bench_unix_ms();
    doc = bench_results_build(s, g, run, &host, &meta);
    if (!doc) {
        fprintf(stderr, "lore-bench: out of memory building the result\n");
        rc = BENCH_EXIT_RUNTIME;
        goto done;
    }
    if (o.instructions && bench_instructions_attach(doc, run, &e) != 0) {
        rc = BENCH_EXIT_RUNTIME;
        goto report;
    }
    if (bench_results_write(dir, doc, &e) != 0) {
        rc = BENCH_EXIT_RUNTIME;
        goto report;
    }
    if (!o.no_history)
        bench_history_record_run(o.history, doc, dir); /* warns, never fails the run */
    if (run->interrupted) {
        fprintf(stderr,
                "lore-bench: interrupted: %zu of %zu points written to %s/result.json "
                "(marked incomplete)\n",
                run->n_points, g->n_points, dir);
        rc = BENCH_EXIT_INTERRUPTED;
    } else if (run->n_failed) {
        fprintf(stderr, "lore-bench: %zu of %zu points failed; result in %s/result.json\n",
                run->n_failed, g->n_points, dir);
        rc = BENCH_EXIT_RUNTIME;
    } else {
        printf("%s/result.json\n", dir);
        char result_path[4200];
        snprintf(result_path, sizeof result_path, "%s/result.json", dir);
        rc = bench_gate_cli_finish(&o.gates, doc, result_path, dir);
    }
    goto done;

report:
    fprintf(stderr, "lore-bench: %s\n", e.msg);
done:
    cJSON_Delete(doc);
    bench_run_free(run);
    bench_grid_free(g);
    bench_scenario_free(s);
    bench_gate_cli_free(&o.gates);
    free(o.sets);
    free(o.filters);
    return rc;
}

static const char *type_label(bench_param_type t)
{
    static const char *const labels[] = {"int", "float", "string", "bool"};
    return labels[t];
}

static int cmd_list(void)
{
    for (size_t i = 0; bench_workloads[i]; i++) {
        const bench_workload *w = bench_workloads[i];
        printf("%s: %s\n  items: %s\n", w->name, w->description, w->item_unit);
        for (size_t j = 0; j < w->n_params; j++) {
            const bench_param_spec *p = &w->params[j];
            printf("  %-12s %-6s default %-10s", p->name, type_label(p->type),
                   p->def ? p->def : "(required)");
            if (p->type == BENCH_PARAM_INT || p->type == BENCH_PARAM_FLOAT)
                printf(" range [%g, %g]", p->min, p->max);
            printf("  %s\n", p->description);
        }
    }
    return BENCH_EXIT_OK;
}

static int cmd_version(void)
{
    lore_blas_info info;
    lore_blas_get_info(&info);
    printf("lore-bench %s (liblore %s)\n%s %s, core %s, %d thread(s)\n", LORE_VERSION,
           lore_version(), info.library, info.config, info.core, info.n_threads);
    return BENCH_EXIT_OK;
}

int bench_cli_main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "missing command");
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc, argv);
    if (strcmp(cmd, "ingest") == 0)
        return bench_cli_ingest(argc, argv);
    if (strcmp(cmd, "query") == 0)
        return bench_cli_query(argc, argv);
    if (strcmp(cmd, "ab") == 0)
        return bench_ab_main(argc, argv);
    if (strcmp(cmd, "gate") == 0)
        return bench_gate_cli_main(argc, argv);
    if (strcmp(cmd, "calibrate-noise") == 0)
        return bench_noise_cli_main(argc, argv);
    if (strcmp(cmd, "baseline") == 0)
        return bench_cli_baseline(argc, argv);
    if (strcmp(cmd, "compare") == 0)
        return bench_cli_compare(argc, argv);
    if (strcmp(cmd, "report") == 0)
        return bench_report_cli(argc, argv);
    if (strcmp(cmd, "history") == 0)
        return bench_history_main(argc, argv);
    if (strcmp(cmd, "list") == 0)
        return cmd_list();
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return cmd_version();
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return BENCH_EXIT_OK;
    }
    return usage_error("unknown command '%s'", cmd);
}
