/*
 * test_cli.c - lore-bench as a user runs it: the built binary is spawned with
 * stdout and stderr captured to files, and its exit codes, messages and output
 * folder are checked.
 *
 * Bad input of any kind (usage, scenario file, --set, --filter, output folder)
 * exits 2 with a message naming the file or flag, and creates nothing: those
 * runs are given an -o folder that must still not exist afterwards. A good run
 * writes result.json (checked with cJSON) and result.csv and prints the path; a
 * SIGINT after the first point exits 130 with the finished points written and
 * the result marked incomplete.
 *
 * Every `run` that measures spends about 0.6 s calibrating, so only three do.
 * Scenario fixtures: tests/fixtures/scenarios/cli_*.json.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "util.h"
#include "test_util.h"

#define REPO_DIR LORE_FIXTURES_DIR "/../.."

extern char **environ;

#define SCENARIOS LORE_FIXTURES_DIR "/scenarios"
#define TINY SCENARIOS "/cli_tiny.json"
#define SLOW SCENARIOS "/cli_slow.json"

enum { MAX_ARGS = 32 };

/* The folder every test writes under; made in the group setup. */
static char base_dir[64];

typedef struct proc {
    pid_t pid;
    char out_path[256];
    char err_path[256];
    int code;      /* exit status, or 128 + signal */
    bool signaled; /* ended by a signal rather than exit() */
    char *out;     /* captured stdout (NUL-terminated) */
    char *err;     /* captured stderr */
} proc;

/* ---- helpers --------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *slurp(const char *path)
{
    bench_err e = {{0}};
    char *text = bench_read_file(path, NULL, &e);
    if (!text)
        fail_msg("%s", e.msg);
    return text;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* base_dir/name into buf. */
static const char *in_base(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", base_dir, name);
    return buf;
}

/* Starts lore-bench with args (NULL-terminated) and stdout/stderr to files. */
static void start_bench(proc *p, const char *tag, const char *const *args)
{
    static int seq = 0;
    memset(p, 0, sizeof *p);
    snprintf(p->out_path, sizeof p->out_path, "%s/%s-%d.out", base_dir, tag, seq);
    snprintf(p->err_path, sizeof p->err_path, "%s/%s-%d.err", base_dir, tag, seq);
    seq++;

    char *argv[MAX_ARGS + 2];
    size_t n = 0;
    argv[n++] = (char *)LORE_BENCH_BIN;
    for (; args[n - 1]; n++) {
        assert_true(n <= MAX_ARGS);
        argv[n] = (char *)args[n - 1];
    }
    argv[n] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
    assert_int_equal(
        posix_spawn_file_actions_addopen(&fa, 1, p->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644),
        0);
    assert_int_equal(
        posix_spawn_file_actions_addopen(&fa, 2, p->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644),
        0);
    /* The child gets default SIGINT handling and an empty mask, whatever ours are. */
    assert_int_equal(posix_spawnattr_init(&attr), 0);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(&p->pid, LORE_BENCH_BIN, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        fail_msg("cannot spawn %s: %s", LORE_BENCH_BIN, strerror(rc));
}

/* Waits (at most timeout_s, then kills) and reads what the process wrote. */
static void finish_bench(proc *p, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid)
            break;
        if (r < 0 && errno != EINTR)
            fail_msg("waitpid: %s", strerror(errno));
        if (now_s() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            fail_msg("lore-bench did not finish within %.0f s", timeout_s);
        }
        sleep_ms(5);
    }
    p->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    p->signaled = WIFSIGNALED(status);
    p->out = slurp(p->out_path);
    p->err = slurp(p->err_path);
}

static void run_bench(proc *p, const char *tag, const char *const *args)
{
    start_bench(p, tag, args);
    finish_bench(p, 30);
}

static void proc_free(proc *p)
{
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

/* Fails, showing the captured output, when needle is not in hay. */
static void has(const proc *p, const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected \"%s\" in %s\n--- stdout:\n%s--- stderr:\n%s", needle,
                 hay == p->out ? "stdout" : "stderr", p->out, p->err);
}

static void exits(const proc *p, int code)
{
    if (p->code != code)
        fail_msg("exit %d, expected %d\n--- stdout:\n%s--- stderr:\n%s", p->code, code, p->out,
                 p->err);
}

/*
 * Runs args, expects exit 2 with every needle (NULL-terminated) in stderr, no
 * measuring, and the folder `untouched` (may be NULL) still absent.
 */
static void usage_error(const char *tag, const char *const *args, const char *const *needles,
                        const char *untouched)
{
    proc p;
    run_bench(&p, tag, args);
    exits(&p, 2);
    for (size_t i = 0; needles[i]; i++)
        has(&p, p.err, needles[i]);
    if (strstr(p.err, "calibration"))
        fail_msg("bad input got as far as calibration:\n%s", p.err);
    assert_string_equal(p.out, "");
    if (untouched && path_exists(untouched))
        fail_msg("%s was created by a run that failed", untouched);
    proc_free(&p);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700);
    remove(path);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(base_dir, sizeof base_dir, "/tmp/lore-test-cli-XXXXXX");
    if (!mkdtemp(base_dir))
        return -1;
    if (access(LORE_BENCH_BIN, X_OK) != 0) {
        fprintf(stderr, "group setup: %s is not executable\n", LORE_BENCH_BIN);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    /* chmod on the way down too: a 0500 folder must be opened to be emptied. */
    chmod(base_dir, 0700);
    nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Parses DIR/result.json; caller deletes. */
static cJSON *load_result(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/result.json", dir);
    char *text = slurp(path);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!doc)
        fail_msg("%s is not valid JSON", path);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(doc, "schema");
    assert_true(cJSON_IsString(schema));
    assert_string_equal(schema->valuestring, "lore-bench/1");
    assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "points")));
    return doc;
}

static double num_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    if (!cJSON_IsNumber(x))
        fail_msg("%s%s%s is not a number", a, b ? "." : "", b ? b : "");
    return x->valuedouble;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *c = text; *c; c++)
        n += *c == '\n';
    return n;
}

/* The folder holds exactly result.json and result.csv (no probe, no temporaries). */
static void only_results_in(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0, n_expected = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n++;
        if (strcmp(de->d_name, "result.json") == 0 || strcmp(de->d_name, "result.csv") == 0)
            n_expected++;
        else
            print_message("unexpected file in %s: %s\n", dir, de->d_name);
    }
    closedir(d);
    assert_int_equal(n_expected, 2);
    assert_int_equal(n, 2);
}

/* ---- commands -------------------------------------------------------------- */

static void test_no_arguments(void **state)
{
    (void)state;
    const char *args[] = {NULL};
    const char *needles[] = {"missing command", "lore-bench help", NULL};
    usage_error("noargs", args, needles, NULL);
}

static void test_unknown_command(void **state)
{
    (void)state;
    const char *args[] = {"frobnicate", NULL};
    const char *needles[] = {"unknown command 'frobnicate'", NULL};
    usage_error("unknown-cmd", args, needles, NULL);
}

static void test_help(void **state)
{
    (void)state;
    static const char *const forms[] = {"help", "--help", "-h"};
    for (size_t i = 0; i < 3; i++) {
        const char *args[] = {forms[i], NULL};
        proc p;
        run_bench(&p, "help", args);
        exits(&p, 0);
        has(&p, p.out, "usage: lore-bench <command>");
        has(&p, p.out, "exit codes:");
        has(&p, p.out, "--dry-run");
        assert_string_equal(p.err, "");
        proc_free(&p);
    }
}

static void test_version(void **state)
{
    (void)state;
    const char *args[] = {"version", NULL};
    proc p;
    run_bench(&p, "version", args);
    exits(&p, 0);
    has(&p, p.out, "lore-bench ");
    has(&p, p.out, "liblore");
    proc_free(&p);
}

static void test_list(void **state)
{
    (void)state;
    const char *args[] = {"list", NULL};
    proc p;
    run_bench(&p, "list", args);
    exits(&p, 0);
    has(&p, p.out, "sgemm:");
    has(&p, p.out, "stream:");
    has(&p, p.out, "noop:");
    has(&p, p.out, "threads");
    assert_string_equal(p.err, "");
    proc_free(&p);
}

/* ---- run: bad input ---------------------------------------------------------- */

static void test_run_usage_errors(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "never-usage");
    {
        const char *args[] = {"run", NULL};
        const char *needles[] = {"run needs a scenario file", NULL};
        usage_error("run-noscenario", args, needles, NULL);
    }
    {
        const char *args[] = {"run", "-o", out, NULL};
        const char *needles[] = {"run needs a scenario file", NULL};
        usage_error("run-noscenario-o", args, needles, out);
    }
    {
        const char *args[] = {"run", TINY, "-o", out, "--bogus", NULL};
        const char *needles[] = {"unknown option '--bogus'", NULL};
        usage_error("run-unknown-option", args, needles, out);
    }
    {
        const char *args[] = {"run", TINY, TINY, "-o", out, NULL};
        const char *needles[] = {"one scenario per run", NULL};
        usage_error("run-two-scenarios", args, needles, out);
    }
    {
        const char *args[] = {"run", TINY, "-o", NULL};
        const char *needles[] = {"-o needs a folder", NULL};
        usage_error("run-o-novalue", args, needles, NULL);
    }
    {
        const char *args[] = {"run", TINY, "-o", out, "--set", NULL};
        const char *needles[] = {"--set needs KEY=VALUE", NULL};
        usage_error("run-set-novalue", args, needles, out);
    }
    {
        const char *args[] = {"run", TINY, "-o", out, "--filter", NULL};
        const char *needles[] = {"--filter needs KEY=VALUE", NULL};
        usage_error("run-filter-novalue", args, needles, out);
    }
    {
        const char *args[] = {"run", TINY, "-o", out, "--blas-core", "Sky lake;", NULL};
        const char *needles[] = {"--blas-core 'Sky lake;'", "core name", NULL};
        usage_error("run-blas-core-bad-name", args, needles, out);
    }
}

static void test_run_missing_scenario(void **state)
{
    (void)state;
    char out[256], missing[256];
    in_base(out, sizeof out, "never-missing");
    in_base(missing, sizeof missing, "cli_no_such_scenario.json");
    const char *args[] = {"run", missing, "-o", out, NULL};
    const char *needles[] = {missing, "cannot open", NULL};
    usage_error("run-missing", args, needles, out);

    /* A folder given as the scenario. */
    const char *args_dir[] = {"run", base_dir, "-o", out, NULL};
    const char *needles_dir[] = {base_dir, "cannot read", NULL};
    usage_error("run-scenario-is-dir", args_dir, needles_dir, out);
}

static void test_run_malformed_scenarios(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "never-malformed");
    {
        const char *args[] = {"run", SCENARIOS "/cli_bad_json.json", "-o", out, NULL};
        const char *needles[] = {SCENARIOS "/cli_bad_json.json: $: invalid JSON", "line 4", NULL};
        usage_error("run-bad-json", args, needles, out);
    }
    {
        const char *args[] = {"run", SCENARIOS "/cli_unknown_field.json", "-o", out, NULL};
        const char *needles[] = {SCENARIOS "/cli_unknown_field.json: $.measure.min_sample: "
                                           "unknown field",
                                 "min_samples", NULL};
        usage_error("run-unknown-field", args, needles, out);
    }
    {
        const char *args[] = {"run", SCENARIOS "/cli_unknown_workload.json", "-o", out, NULL};
        const char *needles[] = {SCENARIOS "/cli_unknown_workload.json: $.workload: "
                                           "unknown workload",
                                 "no_such_workload", "sgemm", NULL};
        usage_error("run-unknown-workload", args, needles, out);
    }
}

static void test_run_bad_set(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "never-set");
    static const struct {
        const char *assignment;
        const char *why;
    } cases[] = {
        {"bogus=1", "unknown parameter 'bogus'"},
        {"m=abc", "must be an integer"},
        {"m=0", "must be in"},
        {"m=8,abc", "value 2"},
        {"m=8,8", "duplicate sweep value"},
        {"m=", "empty value"},
        {"=8", "expected KEY=VALUE"},
        {"measure.min_time_s=-1", "must be in"},
        {"measure.bogus=1", "unknown measurement field"},
        {"measure.max_time_s=0.001", "max_time_s"}, /* below the fixture's min_time_s */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {"run", TINY, "-o", out, "--set", cases[i].assignment, NULL};
        char flag[128];
        snprintf(flag, sizeof flag, "--set %s", cases[i].assignment);
        const char *needles[] = {flag, cases[i].why, NULL};
        usage_error("run-bad-set", args, needles, out);
    }
}

static void test_run_bad_filter(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "never-filter");
    static const struct {
        const char *filter;
        const char *why;
    } cases[] = {
        {"bogus=1", "--filter bogus=1: unknown key 'bogus'"},
        {"m=abc", "--filter m=abc: must be an integer"},
        {"index=x", "--filter index=x"},
        {"nokey", "--filter nokey: expected KEY=VALUE"},
        {"m=999", "no point of the sweep matches --filter m=999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {"run", TINY, "-o", out, "--filter", cases[i].filter, NULL};
        const char *needles[] = {cases[i].why, NULL};
        usage_error("run-bad-filter", args, needles, out);
    }
}

/* ---- run: output folder --------------------------------------------------------- */

static void test_run_output_not_creatable(void **state)
{
    (void)state;
    /* /proc refuses new entries. */
    {
        const char *dir = "/proc/lore-test-cli";
        const char *args[] = {"run", TINY, "-o", dir, NULL};
        const char *needles[] = {"output folder /proc/lore-test-cli", NULL};
        usage_error("out-proc", args, needles, dir);
    }
    /* Under a regular file, and the regular file itself. */
    char file[256], under[300];
    in_base(file, sizeof file, "cli_plain_file");
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("not a folder\n", f);
    assert_int_equal(fclose(f), 0);
    snprintf(under, sizeof under, "%s/sub/dir", file);
    {
        const char *args[] = {"run", TINY, "-o", under, NULL};
        const char *needles[] = {under, "Not a directory", NULL};
        usage_error("out-under-file", args, needles, NULL);
    }
    {
        const char *args[] = {"run", TINY, "-o", file, NULL};
        const char *needles[] = {file, "not a directory", NULL};
        usage_error("out-is-file", args, needles, NULL);
    }
    char *text = slurp(file);
    assert_string_equal(text, "not a folder\n");
    free(text);
}

static void test_run_output_not_writable(void **state)
{
    (void)state;
    /* Root bypasses permission bits, so a 0500 folder is writable for root and
     * this case cannot fail there: it is skipped when running as root. */
    if (geteuid() == 0) {
        print_message("running as root: the read-only folder case is skipped\n");
        skip();
    }
    char ro[256], inside[300];
    in_base(ro, sizeof ro, "cli_readonly");
    assert_int_equal(mkdir(ro, 0700), 0);
    assert_int_equal(chmod(ro, 0500), 0);
    snprintf(inside, sizeof inside, "%s/out", ro);
    {
        const char *args[] = {"run", TINY, "-o", inside, NULL};
        const char *needles[] = {"output folder", inside, NULL};
        usage_error("out-readonly-sub", args, needles, inside);
    }
    {
        /* It exists but cannot be written: the write probe says so. */
        const char *args[] = {"run", TINY, "-o", ro, NULL};
        const char *needles[] = {"output folder", ro, "not writable", NULL};
        usage_error("out-readonly", args, needles, NULL);
    }
    char probe[320];
    snprintf(probe, sizeof probe, "%s/.write-probe", ro);
    assert_false(path_exists(probe));
    snprintf(probe, sizeof probe, "%s/result.json", ro);
    assert_false(path_exists(probe));
    chmod(ro, 0700);
}

/* ---- run: dry run, success, filter ------------------------------------------------ */

static void test_run_dry_run(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "never-dry");
    {
        const char *args[] = {"run", TINY, "--dry-run", "-o", out, NULL};
        proc p;
        run_bench(&p, "dry", args);
        exits(&p, 0);
        has(&p, p.out, "2 of 2 points:");
        has(&p, p.out, "index=0  id=m=8\n");
        has(&p, p.out, "index=1  id=m=16\n");
        assert_false(path_exists(out));
        assert_null(strstr(p.err, "calibration"));
        proc_free(&p);
    }
    {
        const char *args[] = {"run",     TINY,    "--dry-run", "--filter",
                              "index=1", "--set", "k=4,9",     NULL};
        proc p;
        run_bench(&p, "dry-filter", args);
        exits(&p, 0);
        has(&p, p.out, "1 of 4 points:");
        has(&p, p.out, "index=1  id=m=8,k=9\n");
        proc_free(&p);
    }
}

static void test_run_success(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "ok/nested"); /* -o creates missing parents */
    const char *args[] = {"run", TINY, "-o", out, "--set", "measure.max_time_s=0.05", NULL};
    proc p;
    run_bench(&p, "success", args);
    exits(&p, 0);
    char want[320];
    snprintf(want, sizeof want, "%s/result.json\n", out);
    assert_string_equal(p.out, want);
    has(&p, p.err, "[2/2]");

    cJSON *doc = load_result(out);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "complete")));
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    assert_int_equal(cJSON_GetArraySize(points), 2);
    static const char *const ids[] = {"m=8", "m=16"};
    for (int i = 0; i < 2; i++) {
        const cJSON *pt = cJSON_GetArrayItem(points, i);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "id")->valuestring, ids[i]);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "status")->valuestring, "ok");
        assert_true(num_at(pt, "n_samples", NULL) >= 5);
        assert_true(num_at(pt, "throughput", "items_per_s") > 0);
    }
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "scenario");
    assert_true(num_at(sc, "n_points_grid", NULL) == 2);
    assert_true(num_at(sc, "n_points_selected", NULL) == 2);
    const cJSON *eff = cJSON_GetObjectItemCaseSensitive(sc, "effective");
    assert_true(num_at(eff, "measure", "max_time_s") == 0.05); /* --set took effect */
    assert_true(num_at(eff, "measure", "min_samples") == 5);
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(doc, "host");
    assert_true(cJSON_IsObject(host));
    assert_true(num_at(host, "calibration", "sgemm_gflops") > 0);
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(doc, "command");
    assert_int_equal(cJSON_GetArraySize(cmd), 7);
    assert_string_equal(cJSON_GetArrayItem(cmd, 6)->valuestring, "measure.max_time_s=0.05");
    cJSON_Delete(doc);

    char csv_path[320];
    snprintf(csv_path, sizeof csv_path, "%s/result.csv", out);
    char *csv = slurp(csv_path);
    assert_int_equal(strncmp(csv, "index,id,m,n,k,threads,status,", 30), 0);
    assert_int_equal(count_lines(csv), 3);
    free(csv);
    only_results_in(out);
    proc_free(&p);
}

static const cJSON *metric(const cJSON *pt, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(pt, "metrics"), name);
    if (!m)
        fail_msg("point has no metric '%s'", name);
    return cJSON_GetObjectItemCaseSensitive(m, "value");
}

/* The embed workload end to end: every point measured, labelled synthetic, with
 * consistent derived metrics and the engine's counters. */
static void test_run_embed(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "embed");
    const char *args[] = {"run", LORE_FIXTURES_DIR "/scenarios/cli_embed.json", "-o", out, NULL};
    proc p;
    run_bench(&p, "embed", args);
    exits(&p, 0);
    has(&p, p.err, "texts_per_s");
    cJSON *doc = load_result(out);
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    assert_int_equal(cJSON_GetArraySize(points), 4);
    const cJSON *pt;
    cJSON_ArrayForEach(pt, points)
    {
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "status")->valuestring, "ok");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "item_unit")->valuestring,
                            "text");
        double texts = num_at(pt, "throughput", "items_per_s");
        assert_true(texts > 0);
        assert_double_equal(metric(pt, "texts_per_s")->valuedouble, texts, texts * 1e-9);
        /* Every text is 12 tokens; tokens/s counts only what the encoder ran. */
        double encoded = metric(pt, "encoded_ratio")->valuedouble;
        assert_true(encoded > 0 && encoded <= 1);
        assert_double_equal(metric(pt, "tokens_per_s")->valuedouble, texts * 12 * encoded,
                            texts * 12 * 1e-6);
        assert_true(metric(pt, "cache_hit_rate")->valuedouble > 0);
        assert_true(metric(pt, "synthetic_weights")->valuedouble == 1);
        assert_true(metric(pt, "gemm_efficiency")->valuedouble > 0);
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(pt, "labels");
        assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(labels, "weights")->valuestring,
                               "synthetic"));
        assert_non_null(
            strstr(cJSON_GetObjectItemCaseSensitive(labels, "model_source")->valuestring,
                   "synthetic:minilm-l3"));
        const cJSON *texts_counter = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(pt, "counters"), "sde:::lore::embed_texts");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(texts_counter, "available")));
        assert_true(num_at(texts_counter, "value", NULL) ==
                    num_at(pt, "items_per_op", NULL) * num_at(pt, "n_samples", NULL));
    }
    cJSON_Delete(doc);
    proc_free(&p);
}

/* The nli workload on the fixture cross-encoder (a real model folder), 2 workers. */
static void test_run_nli(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "nli");
    const char *args[] = {"run", LORE_FIXTURES_DIR "/scenarios/cli_nli.json", "-o", out, "--set",
                          "model_dir=" LORE_FIXTURES_DIR "/tiny-bert-nli", NULL};
    proc p;
    run_bench(&p, "nli", args);
    exits(&p, 0);
    cJSON *doc = load_result(out);
    const cJSON *pt = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "points"), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "status")->valuestring, "ok");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "item_unit")->valuestring, "pair");
    assert_true(metric(pt, "pairs_per_s")->valuedouble > 0);
    assert_true(metric(pt, "synthetic_weights")->valuedouble == 0);
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(pt, "labels");
    assert_non_null(
        strstr(cJSON_GetObjectItemCaseSensitive(labels, "threads")->valuestring, "2 worker"));
    cJSON_Delete(doc);
    proc_free(&p);

    /* A model folder that does not exist fails the point with the path named. */
    in_base(out, sizeof out, "nli-bad");
    const char *bad[] = {"run", LORE_FIXTURES_DIR "/scenarios/cli_nli.json", "-o", out, "--set",
                         "model_dir=/nonexistent/nli-model", NULL};
    run_bench(&p, "nli-bad", bad);
    exits(&p, 3);
    has(&p, p.err, "/nonexistent/nli-model");
    proc_free(&p);
}

static const char *label(const cJSON *pt, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(pt, "labels"), name);
    if (!cJSON_IsString(v))
        fail_msg("point has no label '%s'", name);
    return v->valuestring;
}

/* The search workload end to end: exact recall for flat, a build reused across
 * query modes, and the ground truth cached for the next run. */
static void test_run_search(void **state)
{
    (void)state;
    char out[256], cache[256];
    in_base(cache, sizeof cache, "cache");
    setenv("LORE_BENCH_CACHE_DIR", cache, 1);
    const char *args[] = {"run", REPO_DIR "/scenarios/search_smoke.json", "-o", NULL,
                          "--set", "n=500", "--set", "n_queries=20", "--set",
                          "measure.min_samples=5", "--set", "measure.max_time_s=0.2", NULL};
    for (int round = 0; round < 2; round++) {
        in_base(out, sizeof out, round ? "search2" : "search1");
        args[3] = out;
        proc p;
        run_bench(&p, "search", args);
        exits(&p, 0);
        cJSON *doc = load_result(out);
        const cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
        assert_int_equal(cJSON_GetArraySize(points), 6);
        const cJSON *pt;
        cJSON_ArrayForEach(pt, points)
        {
            assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "status")->valuestring,
                                "ok");
            double recall = metric(pt, "recall_at_k")->valuedouble;
            assert_true(recall > 0.3 && recall <= 1.0);
            assert_true(metric(pt, "qps")->valuedouble > 0);
            assert_true(metric(pt, "index_bytes")->valuedouble > 500 * 64 * 4);
        }
        const cJSON *flat = cJSON_GetArrayItem(points, 0);
        assert_true(metric(flat, "recall_at_k")->valuedouble == 1.0);
        assert_string_equal(label(flat, "build"), "built here");
        assert_non_null(strstr(label(cJSON_GetArrayItem(points, 1), "build"), "reused"));
        /* The first run computes and caches the ground truth; the second reads it. */
        assert_non_null(strstr(label(flat, "ground_truth"), round ? "read from the cache"
                                                                   : "cached as"));
        assert_non_null(strstr(label(flat, "ground_truth"), cache));
        cJSON_Delete(doc);
        proc_free(&p);
    }

    /* Embeddings from the embedding engine as the corpus; a tier that does not exist fails. */
    in_base(out, sizeof out, "search-embed");
    const char *emb[] = {"run", REPO_DIR "/scenarios/search_smoke.json", "-o", out, "--set",
                         "data=embed:minilm-l3", "--set", "dim=384", "--set", "n=200", "--set",
                         "n_queries=10", "--filter", "kind=flat", "--filter", "query_mode=single",
                         "--set", "measure.min_samples=5", "--set", "measure.max_time_s=0.2",
                         NULL};
    proc p;
    run_bench(&p, "search-embed", emb);
    exits(&p, 0);
    cJSON *doc = load_result(out);
    const cJSON *pt = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "points"), 0);
    assert_true(metric(pt, "recall_at_k")->valuedouble == 1.0);
    assert_non_null(strstr(label(pt, "data"), "embedded by minilm-l3"));
    cJSON_Delete(doc);
    proc_free(&p);
    /* Batch mode split over 2 search threads answers the same: flat stays exact. */
    in_base(out, sizeof out, "search-threads");
    const char *thr[] = {"run", REPO_DIR "/scenarios/search_smoke.json", "-o", out, "--set",
                         "threads=2", "--filter", "kind=flat", "--filter", "query_mode=batch",
                         "--set", "measure.min_samples=5", "--set", "measure.max_time_s=0.2",
                         NULL};
    run_bench(&p, "search-threads", thr);
    exits(&p, 0);
    doc = load_result(out);
    pt = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "points"), 0);
    assert_true(metric(pt, "recall_at_k")->valuedouble == 1.0);
    cJSON_Delete(doc);
    proc_free(&p);
    emb[5] = "data=embed:no-such-tier";
    run_bench(&p, "search-embed-bad", emb);
    exits(&p, 3);
    has(&p, p.err, "no-such-tier");
    proc_free(&p);
    unsetenv("LORE_BENCH_CACHE_DIR");
}

/* --blas-core naming the core already running: no re-exec (tests never change
 * the core type), but the self-check runs and the result records both. */
static void test_run_blas_core_current(void **state)
{
    (void)state;
    proc v;
    const char *vargs[] = {"version", NULL};
    run_bench(&v, "blas-version", vargs);
    exits(&v, 0);
    const char *at = strstr(v.out, "core ");
    assert_non_null(at);
    char core[64];
    assert_int_equal(sscanf(at, "core %63[^,]", core), 1);
    proc_free(&v);

    char out[256];
    in_base(out, sizeof out, "blas-core");
    const char *args[] = {"run", TINY,       "-o",      out,     "--blas-core",
                          core,  "--filter", "index=0", "--set", "measure.max_time_s=0.05",
                          NULL};
    proc p;
    run_bench(&p, "blas-core", args);
    exits(&p, 0);
    has(&p, p.err, "passed the sgemm self-check");
    assert_null(strstr(p.err, "re-running"));
    cJSON *doc = load_result(out);
    const cJSON *blas =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "host"), "blas");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(blas, "core")->valuestring, core);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(blas, "core_request")->valuestring, core);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(blas, "self_check_passed")));
    cJSON_Delete(doc);
    proc_free(&p);
}

static void test_run_filter(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "filtered");
    const char *args[] = {"run", TINY, "-q", "-o", out, "--filter", "m=16", NULL};
    proc p;
    run_bench(&p, "filter", args);
    exits(&p, 0);
    assert_null(strstr(p.err, "[1/")); /* -q: no progress lines */
    cJSON *doc = load_result(out);
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    assert_int_equal(cJSON_GetArraySize(points), 1);
    const cJSON *pt = cJSON_GetArrayItem(points, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "id")->valuestring, "m=16");
    assert_true(num_at(pt, "index", NULL) == 1); /* its index in the full grid */
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "scenario");
    assert_true(num_at(sc, "n_points_grid", NULL) == 2);
    assert_true(num_at(sc, "n_points_selected", NULL) == 1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "complete")));
    cJSON_Delete(doc);
    proc_free(&p);
}

/* ---- run: interrupted ------------------------------------------------------------- */

static void test_run_sigint(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "interrupted");
    const char *args[] = {"run", SLOW, "-o", out, NULL};
    proc p;
    start_bench(&p, "sigint", args);
    /* The handler is installed after calibration; wait for the first finished
     * point (about 0.6 s + 0.3 s) rather than guess, then interrupt the second. */
    double deadline = now_s() + 20;
    bool first_done = false;
    while (!first_done && now_s() < deadline) {
        sleep_ms(10);
        char *err = slurp(p.err_path);
        first_done = strstr(err, "[1/10]") != NULL;
        free(err);
        if (waitpid(p.pid, NULL, WNOHANG) == p.pid)
            fail_msg("lore-bench ended before its first point");
    }
    if (!first_done) {
        kill(p.pid, SIGKILL);
        waitpid(p.pid, NULL, 0);
        fail_msg("no point finished within 20 s");
    }
    sleep_ms(100);
    assert_int_equal(kill(p.pid, SIGINT), 0);
    finish_bench(&p, 20);
    if (p.signaled)
        fail_msg("lore-bench was killed by the SIGINT instead of stopping cleanly:\n%s", p.err);
    exits(&p, 130);
    has(&p, p.err, "interrupted");
    has(&p, p.err, "marked incomplete");

    cJSON *doc = load_result(out);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "complete")));
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    int n = cJSON_GetArraySize(points);
    assert_true(n >= 1);
    assert_true(n < 10);
    for (int i = 0; i < n; i++) {
        const cJSON *pt = cJSON_GetArrayItem(points, i);
        assert_true(num_at(pt, "index", NULL) == i);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "status")->valuestring, "ok");
    }
    const cJSON *summary = cJSON_GetObjectItemCaseSensitive(doc, "summary");
    assert_true(num_at(summary, "n_points_run", NULL) == n);
    assert_true(num_at(summary, "n_points_skipped", NULL) == 10 - n);
    assert_true(num_at(cJSON_GetObjectItemCaseSensitive(doc, "scenario"), "n_points_grid", NULL) ==
                10);
    cJSON_Delete(doc);
    only_results_in(out);
    proc_free(&p);
}

/* ---- sql workload ------------------------------------------------------------------ */

/* The sql workload on a tiny store, both modes: every operation did what it says. */
static void test_run_sql(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "sql");
    const char *args[] = {"run", SCENARIOS "/cli_sql.json", "-q", "-o", out, NULL};
    proc p;
    run_bench(&p, "sql", args);
    exits(&p, 0);
    cJSON *doc = load_result(out);
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    assert_int_equal(cJSON_GetArraySize(points), 4);
    const cJSON *pt;
    cJSON_ArrayForEach(pt, points)
    {
        const char *id = cJSON_GetObjectItemCaseSensitive(pt, "id")->valuestring;
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "status")->valuestring, "ok");
        bool write = strstr(id, "mode=write") != NULL;
        double rows_per_s = metric(pt, "rows_per_s")->valuedouble;
        assert_true(rows_per_s > 0);
        assert_double_equal(rows_per_s, num_at(pt, "throughput", "items_per_s"), rows_per_s * 1e-9);
        assert_true(num_at(pt, "items_per_op", NULL) == (write ? 200 : 10));
        assert_true(metric(pt, "db_bytes")->valuedouble > 200 * 64);
        double items = write ? 200 : 10, p50_us = num_at(pt, "latency_ns", "p50") / 1e3;
        assert_double_equal(metric(pt, write ? "us_per_row_p50" : "us_per_id_p50")->valuedouble *
                                items,
                            p50_us, p50_us * 1e-9);
        double ops = num_at(pt, "n_samples", NULL) + num_at(pt, "warmup", "ops");
        if (write) {
            /* Every operation appended its 200 rows: none lost, none doubled. */
            assert_true(metric(pt, "db_chunks")->valuedouble == 200 * ops);
            assert_double_equal(metric(pt, "us_per_row")->valuedouble, 1e6 / rows_per_s,
                                1e-6 * 1e6 / rows_per_s);
            /* 200 rows committed every 32: 7 transactions, whichever impl. */
            assert_double_equal(metric(pt, "transactions_per_op")->valuedouble, 7, 1e-9);
            if (strstr(id, "impl=store"))
                assert_true(metric(pt, "rows_written_per_op")->valuedouble >= 200);
        } else {
            assert_true(metric(pt, "db_chunks")->valuedouble == 200);
            assert_true(metric(pt, "us_per_id")->valuedouble > 0);
            assert_double_equal(metric(pt, "rows_read_per_op")->valuedouble, 10, 1e-9);
            /* 10 distinct ids in IN lists of at most 8: ceil(10 / 8) statements. */
            assert_double_equal(metric(pt, "statements_per_op")->valuedouble, 2, 1e-9);
        }
        assert_string_equal(label(pt, "synchronous"), "normal");
        assert_string_equal(label(pt, "journal_mode"), "wal");
        assert_true(strlen(label(pt, "sqlite_version")) >= 5);
    }
    cJSON_Delete(doc);
    proc_free(&p);

    /* Out-of-range bind is refused before anything runs. */
    in_base(out, sizeof out, "never-sql");
    const char *bad[] = {"run", SCENARIOS "/cli_sql.json", "-o", out, "--set", "bind=40000", NULL};
    const char *needles[] = {"--set bind=40000", "must be in [1, 32766]", NULL};
    usage_error("sql-bad-bind", bad, needles, out);
}

/* ---- ingest and query -------------------------------------------------------------- */

#define TINY_BERT LORE_FIXTURES_DIR "/tiny-bert"

/* Words of the tiny model's vocabulary, so the texts embed without [UNK]s. */
static const char *const doc_names[] = {"animals.txt", "cities.txt", "sub/drinks.txt"};
static const char *const doc_texts[] = {
    "the quick brown fox jump over the lazy dog. the cat sat on the mat.",
    "paris is the capital of france. london is a big city with a red car on every street.",
    "he likes coffee and she likes tea. they play music with a guitar and a piano.",
};

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A folder with the three documents, an empty file and a binary one. */
static void make_corpus(const char *dir)
{
    char path[512];
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, doc_names[i]);
        write_file(path, doc_texts[i], strlen(doc_texts[i]));
    }
    snprintf(path, sizeof path, "%s/empty.txt", dir);
    write_file(path, "", 0);
    snprintf(path, sizeof path, "%s/blob.bin", dir);
    write_file(path, "PK\3\4\0\0\20 binary", 15);
}

static void test_ingest_query(void **state)
{
    (void)state;
    char corpus[256], db[256];
    in_base(corpus, sizeof corpus, "corpus");
    in_base(db, sizeof db, "lore.db");
    make_corpus(corpus);
    const char *ingest[] = {"ingest",       db,    corpus, "--model-dir", TINY_BERT,
                            "--chunk-size", "200", NULL};
    proc p;
    run_bench(&p, "ingest", ingest);
    exits(&p, 0);
    has(&p, p.out, "5 seen: 3 added, 0 replaced, 0 unchanged, 2 skipped");
    has(&p, p.out, "blob.bin: binary");
    has(&p, p.out, "empty.txt: empty");
    has(&p, p.out, "3 stored"); /* each document fits one 200-character chunk */
    static const char *const stages[] = {"read",  "chunk", "tokenize", "embed",
                                         "store", "index", "total"};
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
        char row[32];
        snprintf(row, sizeof row, "\n%-10s ", stages[i]);
        has(&p, p.out, row);
    }
    has(&p, p.out, "3 documents, 3 chunks, 3 embeddings");
    has(&p, p.err, "[5/5]"); /* not a terminal: the last progress line is printed whole */
    proc_free(&p);

    /* Again: nothing changed, nothing written. */
    run_bench(&p, "reingest", ingest);
    exits(&p, 0);
    has(&p, p.out, "0 added, 0 replaced, 3 unchanged, 2 skipped");
    proc_free(&p);

    /* A query equal to a document's whole text finds that document first, exactly. */
    const char *query[] = {"query", db, doc_texts[1], "--model-dir", TINY_BERT, "-k", "2", NULL};
    run_bench(&p, "query", query);
    exits(&p, 0);
    char where[600];
    snprintf(where, sizeof where, " 1    1.0000  %s/%s:0-%zu\n", corpus, doc_names[1],
             strlen(doc_texts[1]));
    has(&p, p.out, where);
    has(&p, p.out, "    paris is the capital of france.");
    has(&p, p.out, "\n 2  ");
    assert_null(strstr(p.out, "\n 3  "));
    has(&p, p.out, "stages: embed ");
    proc_free(&p);

    const char *query_json[] = {"query",   db,       doc_texts[2], "--model-dir",
                                TINY_BERT, "--json", NULL};
    run_bench(&p, "query-json", query_json);
    exits(&p, 0);
    cJSON *doc = cJSON_Parse(p.out);
    if (!doc)
        fail_msg("query --json printed no JSON:\n%s", p.out);
    const cJSON *hits = cJSON_GetObjectItemCaseSensitive(doc, "hits");
    assert_int_equal(cJSON_GetArraySize(hits), 3); /* k 5, three chunks */
    const cJSON *top = cJSON_GetArrayItem(hits, 0);
    char want[600];
    snprintf(want, sizeof want, "%s/%s", corpus, doc_names[2]);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(top, "path")->valuestring, want);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(top, "text")->valuestring, doc_texts[2]);
    assert_true(num_at(top, "rank", NULL) == 1);
    assert_true(num_at(top, "byte_begin", NULL) == 0);
    assert_true(num_at(top, "byte_end", NULL) == (double)strlen(doc_texts[2]));
    assert_double_equal(num_at(top, "score", NULL), 1.0, 1e-4);
    assert_true(num_at(cJSON_GetArrayItem(hits, 1), "score", NULL) < num_at(top, "score", NULL));
    assert_true(num_at(doc, "stage_ms", "embed") >= 0);
    assert_true(num_at(doc, "stage_ms", "total") > 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "index")->valuestring, "flat");
    cJSON_Delete(doc);
    proc_free(&p);

    /* A model other than the one ingest used has no vectors here: said clearly. */
    const char *other[] = {"query", db, "fox", "--tier", "minilm-l3", NULL};
    run_bench(&p, "query-other-tier", other);
    exits(&p, 2);
    has(&p, p.err, db);
    has(&p, p.err, "no embeddings for tier minilm-l3");
    has(&p, p.err, "--tier and --model-dir that ingest used");
    proc_free(&p);
}

/* Bad flags exit 2 naming the flag, before any database is made. */
static void test_ingest_query_usage_errors(void **state)
{
    (void)state;
    char db[256], corpus[256], missing[256];
    in_base(db, sizeof db, "never.db");
    in_base(corpus, sizeof corpus, "usage-corpus");
    in_base(missing, sizeof missing, "no-such-folder");
    assert_int_equal(mkdir(corpus, 0700), 0);
    static const struct {
        const char *args[10];
        const char *why;
    } cases[] = {
        {{"ingest", NULL}, "needs a database file and at least one PATH"},
        {{"ingest", "DB", NULL}, "needs at least one PATH"},
        {{"ingest", "DB", "C", "--chunk-size", "abc", NULL}, "--chunk-size 'abc'"},
        {{"ingest", "DB", "C", "--chunk-size", "0", NULL}, "--chunk-size '0'"},
        {{"ingest", "DB", "C", "--chunk-overlap", "600", NULL},
         "--chunk-overlap 600 must be below --chunk-size 500"},
        {{"ingest", "DB", "C", "--chunk-unit", "words", NULL}, "--chunk-unit 'words'"},
        {{"ingest", "DB", "C", "--rows-per-txn", "-1", NULL}, "--rows-per-txn '-1'"},
        {{"ingest", "DB", "C", "--threads", "0", NULL}, "--threads '0'"},
        {{"ingest", "DB", "C", "--index", "lsh", NULL},
         "--index 'lsh': expected flat, ivf or hnsw"},
        {{"ingest", "DB", "C", "--tier", "nope", NULL}, "--tier 'nope': unknown tier"},
        {{"ingest", "DB", "C", "--tier", "nli-minilm-l6", NULL}, "not an embedding tier"},
        {{"ingest", "DB", "C", "--model-dir", "/nonexistent/model", NULL},
         "--model-dir '/nonexistent/model': not a folder"},
        {{"ingest", "DB", "C", "--bogus", NULL}, "unknown option '--bogus'"},
        {{"ingest", "DB", "C", "--json", NULL}, "unknown option '--json'"},
        {{"ingest", "DB", "C", "--tier", NULL}, "--tier needs a value"},
        {{"ingest", "DB", "M", NULL}, "no-such-folder: No such file or directory"},
        {{"ingest", "C", "C", NULL}, "is a folder, not a file"},
        {{"query", "DB", NULL}, "needs a query TEXT"},
        {{"query", "DB", "a", "b", NULL}, "extra argument 'b'"},
        {{"query", "DB", "fox", NULL}, "No such file or directory"},
        {{"query", "DB", "fox", "-k", "0", NULL}, "-k '0'"},
        {{"query", "DB", "fox", "--rerank", "sort", NULL}, "--rerank 'sort'"},
        {{"query", "DB", "fox", "-k", "5", "--depth", "3", NULL}, "--depth 3 must be at least"},
        {{"query", "DB", "fox", "--ef", "32", NULL}, "--ef applies to --index hnsw"},
        {{"query", "DB", "fox", "--probes", "4", "--index", "hnsw", NULL},
         "--probes applies to --index ivf"},
        {{"query", "DB", "fox", "--index", "hnsw", "--ef", "3", NULL}, "--ef 3 must be at least"},
        {{"query", "DB", "fox", "--chunk-size", "9", NULL}, "unknown option '--chunk-size'"},
        {{"query", "DB", "fox", "--nli-model-dir", "C", NULL}, "needs --rerank verify or nli"},
    };
    /* Both commands are in the help. */
    const char *help[] = {"help", NULL};
    proc p;
    run_bench(&p, "help-engine", help);
    exits(&p, 0);
    has(&p, p.out, "ingest DB PATH... [options]");
    has(&p, p.out, "query DB TEXT [options]");
    has(&p, p.out, "--rerank none|verify|nli");
    proc_free(&p);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[12];
        size_t n = 0;
        for (; cases[i].args[n]; n++) {
            const char *a = cases[i].args[n];
            args[n] = strcmp(a, "DB") == 0  ? db
                      : strcmp(a, "C") == 0 ? corpus
                      : strcmp(a, "M") == 0 ? missing
                                            : a;
        }
        args[n] = NULL;
        const char *needles[] = {cases[i].why, "lore-bench help", NULL};
        usage_error(cases[i].args[0], args, needles, db);
    }
}

/* A file that is not a lore store is refused and left exactly as it was. */
static void test_ingest_not_a_store(void **state)
{
    (void)state;
    char db[256], corpus[256];
    in_base(db, sizeof db, "notes.txt");
    in_base(corpus, sizeof corpus, "corpus-notastore");
    make_corpus(corpus);
    char text[8192];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 26);
    write_file(db, text, sizeof text);
    const char *ingest[] = {"ingest", db, corpus, "--model-dir", TINY_BERT, NULL};
    proc p;
    run_bench(&p, "not-a-store", ingest);
    if (p.code != 3 && p.code != 2)
        fail_msg("exit %d, expected 3 (or 2)\n--- stderr:\n%s", p.code, p.err);
    has(&p, p.err, db);
    assert_null(strstr(p.out, "added"));
    proc_free(&p);
    const char *query[] = {"query", db, "fox", "--model-dir", TINY_BERT, NULL};
    run_bench(&p, "not-a-store-query", query);
    if (p.code != 3 && p.code != 2)
        fail_msg("exit %d, expected 3 (or 2)\n--- stderr:\n%s", p.code, p.err);
    has(&p, p.err, db);
    proc_free(&p);
    size_t len = 0;
    bench_err e = {{0}};
    char *after = bench_read_file(db, &len, &e);
    assert_non_null(after);
    assert_int_equal(len, sizeof text);
    assert_memory_equal(after, text, sizeof text);
    free(after);
}

/* ---- ingest and query workloads ------------------------------------------------------ */

/* Each <stage>_fraction of a point (stages NULL-terminated) lies in [0, 1], together they
 * come to at most 1, and other_fraction is what they leave. */
static void wl_check_fractions(const cJSON *pt, const char *const *stages)
{
    double sum = 0;
    for (size_t i = 0; stages[i]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_fraction", stages[i]);
        double f = metric(pt, name)->valuedouble;
        if (!(f >= 0 && f <= 1 + 1e-9))
            fail_msg("%s = %g", name, f);
        sum += f;
    }
    assert_true(sum <= 1 + 1e-9);
    assert_double_equal(metric(pt, "other_fraction")->valuedouble, 1 - sum, 1e-9);
}

static const char *const wl_ingest_stages[] = {"read",  "chunk", "tokenize", "embed",
                                               "store", "index", NULL};

/* The ingest workload on the tiny model: synthetic documents (one transaction per document
 * against one for all), then a folder with a binary and an empty file among the documents. */
static void test_run_ingest_workload(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "wl-ingest");
    const char *args[] = {"run",
                          SCENARIOS "/cli_ingest.json",
                          "-q",
                          "-o",
                          out,
                          "--set",
                          "model_dir=" LORE_FIXTURES_DIR "/tiny-bert",
                          NULL};
    proc p;
    run_bench(&p, "wl-ingest", args);
    exits(&p, 0);
    cJSON *doc = load_result(out);
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    assert_int_equal(cJSON_GetArraySize(points), 2);
    double txn[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        const cJSON *pt = cJSON_GetArrayItem(points, i);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "status")->valuestring, "ok");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "item_unit")->valuestring,
                            "document");
        assert_true(num_at(pt, "items_per_op", NULL) == 6);
        double docs_per_s = metric(pt, "docs_per_s")->valuedouble;
        assert_true(docs_per_s > 0);
        assert_double_equal(docs_per_s, num_at(pt, "throughput", "items_per_s"), docs_per_s * 1e-9);
        assert_true(metric(pt, "docs")->valuedouble == 6);
        assert_true(metric(pt, "skipped")->valuedouble == 0);
        double chunks = metric(pt, "chunks")->valuedouble;
        assert_true(chunks >= 6);
        /* chunks/s and docs/s are the same ops/s times the per-op counts. */
        assert_double_equal(metric(pt, "chunks_per_s")->valuedouble, docs_per_s * chunks / 6,
                            docs_per_s * chunks * 1e-9);
        assert_true(metric(pt, "text_mb_per_s")->valuedouble > 0);
        /* The tiny model embeds at most 64 tokens of a chunk. */
        double tpc = metric(pt, "tokens_per_chunk")->valuedouble;
        assert_true(tpc > 2 && tpc <= 64);
        wl_check_fractions(pt, wl_ingest_stages);
        assert_true(metric(pt, "embed_fraction")->valuedouble > 0);
        assert_true(metric(pt, "store_fraction")->valuedouble > 0);
        assert_true(metric(pt, "embed_s")->valuedouble > 0);
        assert_true(metric(pt, "db_bytes")->valuedouble > chunks * 32 * 4);
        assert_true(metric(pt, "synthetic_weights")->valuedouble == 0);
        assert_string_equal(label(pt, "index"), "flat");
        assert_non_null(strstr(label(pt, "weights"), "trained"));
        txn[i] = metric(pt, "transactions")->valuedouble;
    }
    /* rows_per_txn=1 commits every document on its own; 0 commits them all at once. */
    assert_true(txn[0] >= 6);
    assert_true(txn[1] >= 1 && txn[1] < txn[0]);
    cJSON_Delete(doc);
    proc_free(&p);

    /* A folder: three documents, an empty file and a binary one (both skipped, counted). */
    char dir[256], path[512];
    in_base(dir, sizeof dir, "wl-folder");
    assert_int_equal(mkdir(dir, 0700), 0);
    const char *texts[] = {"the cat sat on the mat. the dog sat on the log.",
                           "paris is a city. london is a city too.", "one two three four."};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/doc%d.txt", dir, i);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs(texts[i], f);
        assert_int_equal(fclose(f), 0);
    }
    snprintf(path, sizeof path, "%s/empty.txt", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    snprintf(path, sizeof path, "%s/blob.bin", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    static const char blob[] = {0x7f, 'E', 'L', 'F', 0, 0, 1, 'b', 'i', 'n'};
    assert_int_equal(fwrite(blob, 1, sizeof blob, f), sizeof blob);
    assert_int_equal(fclose(f), 0);
    char folder_set[300];
    snprintf(folder_set, sizeof folder_set, "folder=%s", dir);
    in_base(out, sizeof out, "wl-ingest-folder");
    const char *fargs[] = {"run",
                           SCENARIOS "/cli_ingest.json",
                           "-q",
                           "-o",
                           out,
                           "--set",
                           "model_dir=" LORE_FIXTURES_DIR "/tiny-bert",
                           "--set",
                           "source=folder",
                           "--set",
                           folder_set,
                           "--set",
                           "rows_per_txn=32",
                           NULL};
    run_bench(&p, "wl-ingest-folder", fargs);
    exits(&p, 0);
    doc = load_result(out);
    points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    assert_int_equal(cJSON_GetArraySize(points), 1);
    const cJSON *pt = cJSON_GetArrayItem(points, 0);
    assert_true(num_at(pt, "items_per_op", NULL) == 3);
    assert_true(metric(pt, "docs")->valuedouble == 3);
    assert_true(metric(pt, "skipped")->valuedouble == 2);
    wl_check_fractions(pt, wl_ingest_stages);
    assert_non_null(strstr(label(pt, "corpus"), dir));
    cJSON_Delete(doc);
    proc_free(&p);

    /* A folder that does not exist fails the point with its path named. */
    in_base(out, sizeof out, "wl-ingest-nofolder");
    fargs[4] = out;
    fargs[10] = "folder=/nonexistent/lore-corpus";
    run_bench(&p, "wl-ingest-nofolder", fargs);
    exits(&p, 3);
    doc = load_result(out);
    pt = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "points"), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "status")->valuestring, "error");
    assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(pt, "error")->valuestring,
                           "/nonexistent/lore-corpus"));
    cJSON_Delete(doc);
    proc_free(&p);
}

static bool wl_store_label_has(const cJSON *pt, const char *needle)
{
    return strstr(label(pt, "store"), needle) != NULL;
}

/* Checks one query point; verify: NLI verification ran. */
static void wl_check_query_point(const cJSON *pt, bool verify)
{
    const char *id = cJSON_GetObjectItemCaseSensitive(pt, "id")->valuestring;
    if (strcmp(cJSON_GetObjectItemCaseSensitive(pt, "status")->valuestring, "ok") != 0)
        fail_msg("point %s failed: %s", id,
                 cJSON_GetObjectItemCaseSensitive(pt, "error")->valuestring);
    bool cold = strstr(id, "mode=cold") != NULL, flat = strstr(id, "kind=flat") != NULL;
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(pt, "item_unit")->valuestring, "query");
    double qps = metric(pt, "qps")->valuedouble;
    assert_true(qps > 0);
    assert_double_equal(qps, num_at(pt, "throughput", "items_per_s"), qps * 1e-9);
    assert_true(metric(pt, "n_chunks")->valuedouble >= 40);
    assert_true(metric(pt, "n_docs")->valuedouble >= 2);
    assert_true(metric(pt, "hits_per_query")->valuedouble == 3);
    assert_true(metric(pt, "chunk_queries")->valuedouble == 4);
    /* A chunk's own text finds the chunk first on an exact index. */
    if (flat)
        assert_true(metric(pt, "self_hit_rate")->valuedouble == 1.0);
    static const char *const warm_stages[] = {"embed", "search", "fetch", "verify", NULL};
    static const char *const cold_stages[] = {"embed", "search", "fetch", "verify",
                                              "open",  "close",  NULL};
    wl_check_fractions(pt, cold ? cold_stages : warm_stages);
    assert_true(metric(pt, "search_ms")->valuedouble > 0);
    /* Verification judges every hit returned (order kept); none judges nothing. */
    if (verify)
        assert_true(metric(pt, "verify_ms")->valuedouble > 0);
    else
        assert_true(metric(pt, "verify_ms")->valuedouble == 0);
    assert_true(metric(pt, "verified_per_query")->valuedouble == (verify ? 3 : 0));
    double hit = metric(pt, "cache_hit_rate")->valuedouble;
    if (cold) {
        /* A fresh pipeline per query: nothing cached, the index snapshot loaded, not rebuilt. */
        assert_true(hit == 0);
        assert_true(metric(pt, "index_loaded_rate")->valuedouble == 1.0);
        assert_true(metric(pt, "open_ms")->valuedouble > 0);
    } else {
        /* 8 texts cycled with the cache on: every repeat hits. */
        assert_true(hit > 0 && hit < 1);
        assert_true(metric(pt, "embed_ms")->valuedouble > 0);
    }
}

/* The query workload on the tiny model: stores built once into the cache folder (HNSW's
 * derived from the flat one), then read from it; a damaged cached store is rebuilt. */
static void test_run_query_workload(void **state)
{
    (void)state;
    char out[256], cache[256];
    in_base(cache, sizeof cache, "wl-cache");
    setenv("LORE_BENCH_CACHE_DIR", cache, 1);
    in_base(out, sizeof out, "wl-query1");
    const char *args[] = {"run",
                          SCENARIOS "/cli_query.json",
                          "-q",
                          "-o",
                          out,
                          "--set",
                          "model_dir=" LORE_FIXTURES_DIR "/tiny-bert",
                          NULL};
    proc p;
    run_bench(&p, "wl-query1", args);
    exits(&p, 0);
    has(&p, p.err, "building the store");
    cJSON *doc = load_result(out);
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    assert_int_equal(cJSON_GetArraySize(points), 4);
    const cJSON *pt;
    cJSON_ArrayForEach(pt, points) wl_check_query_point(pt, false);
    /* Points: flat warm, flat cold, hnsw warm, hnsw cold. */
    assert_true(wl_store_label_has(cJSON_GetArrayItem(points, 0), "built here"));
    assert_true(wl_store_label_has(cJSON_GetArrayItem(points, 1), "read from the cache"));
    assert_true(wl_store_label_has(cJSON_GetArrayItem(points, 2), "built here"));
    assert_true(wl_store_label_has(cJSON_GetArrayItem(points, 3), "read from the cache"));
    assert_true(wl_store_label_has(cJSON_GetArrayItem(points, 0), cache));
    cJSON_Delete(doc);
    proc_free(&p);

    /* Again with NLI verification beside none: every store comes from the cache. */
    in_base(out, sizeof out, "wl-query2");
    const char *args2[] = {"run",
                           SCENARIOS "/cli_query.json",
                           "-q",
                           "-o",
                           out,
                           "--set",
                           "model_dir=" LORE_FIXTURES_DIR "/tiny-bert",
                           "--set",
                           "nli_model_dir=" LORE_FIXTURES_DIR "/tiny-bert-nli",
                           "--set",
                           "rerank=none,verify",
                           "--filter",
                           "mode=warm",
                           NULL};
    run_bench(&p, "wl-query2", args2);
    exits(&p, 0);
    assert_null(strstr(p.err, "building the store"));
    doc = load_result(out);
    points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    assert_int_equal(cJSON_GetArraySize(points), 4);
    cJSON_ArrayForEach(pt, points)
    {
        const char *id = cJSON_GetObjectItemCaseSensitive(pt, "id")->valuestring;
        wl_check_query_point(pt, strstr(id, "rerank=verify") != NULL);
        assert_true(wl_store_label_has(pt, "read from the cache"));
    }
    cJSON_Delete(doc);
    proc_free(&p);

    /* A damaged cached store fails its check and is rebuilt. */
    char dir[300];
    snprintf(dir, sizeof dir, "%s/corpus", cache);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int damaged = 0;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 7 || strcmp(de->d_name + n - 7, ".sqlite") != 0)
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        char junk[4096];
        memset(junk, 0x5a, sizeof junk);
        assert_int_equal(fwrite(junk, 1, sizeof junk, f), sizeof junk);
        assert_int_equal(fclose(f), 0);
        damaged++;
    }
    closedir(d);
    assert_int_equal(damaged, 2); /* the flat store and the HNSW one */
    in_base(out, sizeof out, "wl-query3");
    const char *args3[] = {"run",
                           SCENARIOS "/cli_query.json",
                           "-q",
                           "-o",
                           out,
                           "--set",
                           "model_dir=" LORE_FIXTURES_DIR "/tiny-bert",
                           "--filter",
                           "kind=flat",
                           "--filter",
                           "mode=warm",
                           NULL};
    run_bench(&p, "wl-query3", args3);
    exits(&p, 0);
    has(&p, p.err, "rebuilding");
    doc = load_result(out);
    pt = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "points"), 0);
    wl_check_query_point(pt, false);
    assert_true(wl_store_label_has(pt, "built here"));
    cJSON_Delete(doc);
    proc_free(&p);
    unsetenv("LORE_BENCH_CACHE_DIR");
}

/* ---- gates (helper "gates"): run with gates, gate, calibrate-noise ---------------- */

/* A noop scenario whose gates read deterministic counters (so sanitized builds,
 * which skip timing gates, judge them too): one fails, one passes, one is relative. */
static const char gates_scenario[] =
    "{\"name\": \"cli_gates\", \"workload\": \"noop\",\n"
    " \"measure\": {\"warmup_ops\": 10, \"warmup_s\": 0, \"min_samples\": 200,\n"
    "             \"min_time_s\": 0.05, \"max_time_s\": 0.2},\n"
    " \"gates\": [{\"name\": \"no sgemm\", \"metric\": \"counter:sde:::lore::sgemm_calls\",\n"
    "             \"below\": {\"pass\": 0}},\n"
    "            {\"metric\": \"counter:sde:::lore::stream_bytes\", \"below\": {\"pass\": 1}},\n"
    "            {\"metric\": \"throughput\", \"max_regression\": 0.5}]}\n";

static void test_gates_cli(void **state)
{
    (void)state;
    char scen[256], out[256], junit[256], noise[256], bad[256], never[256];
    in_base(scen, sizeof scen, "cli_gates.json");
    write_file(scen, gates_scenario, strlen(gates_scenario));
    in_base(out, sizeof out, "gates-run");
    in_base(junit, sizeof junit, "gates-junit.xml");

    /* A failing gate: exit 1, the verdict table on stdout, gates.md/json and JUnit written. */
    const char *run[] = {"run", scen, "-o", out, "-q", "--junit", junit, NULL};
    proc p;
    run_bench(&p, "gates-run", run);
    exits(&p, 1);
    has(&p, p.out, "/result.json\n## Gates: cli_gates\n");
    has(&p, p.out, "| fail ✗ | no sgemm | default |");
    has(&p, p.out, "no baseline (relative gates need one");
    proc_free(&p);
    char path[512];
    snprintf(path, sizeof path, "%s/gates.md", out);
    assert_true(path_exists(path));
    snprintf(path, sizeof path, "%s/gates.json", out);
    char *text = slurp(path);
    cJSON *g = cJSON_Parse(text);
    free(text);
    assert_int_equal(cJSON_GetObjectItem(g, "exit_code")->valueint, 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(g, "outcomes")), 3);
    cJSON_Delete(g);
    text = slurp(junit);
    assert_non_null(strstr(text, "<testcase classname=\"cli_gates.no sgemm\" name=\"default\">"));
    assert_non_null(strstr(text, "<failure type=\"fail\""));
    free(text);

    /* The saved result judged again against itself: the relative gate is judged (same). */
    const char *gate[] = {"gate", out, "--baseline", out, NULL};
    run_bench(&p, "gates-gate", gate);
    exits(&p, 1);
    has(&p, p.out, "| pass | throughput max_regression 0.5 | default |");
    proc_free(&p);

    /* Bad gates are bad input: exit 2 naming the path, nothing measured or written. */
    in_base(bad, sizeof bad, "cli_bad_gates.json");
    static const char bad_text[] = "{\"name\": \"b\", \"workload\": \"noop\", \"gates\": "
                                   "[{\"metric\": \"latency_p75\", \"below\": {\"pass\": 1}}]}";
    write_file(bad, bad_text, strlen(bad_text));
    in_base(never, sizeof never, "gates-never");
    const char *bad_run[] = {"run", bad, "-o", never, NULL};
    const char *bad_needles[] = {"cli_bad_gates.json: $.gates[0].metric: unknown latency "
                                 "statistic",
                                 NULL};
    usage_error("gates-bad", bad_run, bad_needles, never);
    const char *bad_base[] = {"run", scen, "-o", never, "--baseline", never, NULL};
    const char *base_needles[] = {"--baseline", "cannot open", NULL};
    usage_error("gates-bad-base", bad_base, base_needles, never);

    /* Two A/A runs: a lore-noise/1 file with the point's wall metrics. */
    in_base(noise, sizeof noise, "noise.json");
    const char *cal[] = {"calibrate-noise", scen, "--runs", "2", "-o", noise, NULL};
    run_bench(&p, "gates-noise", cal);
    exits(&p, 0);
    has(&p, p.out, "## Noise floor: cli_gates");
    proc_free(&p);
    text = slurp(noise);
    cJSON *n = cJSON_Parse(text);
    free(text);
    assert_string_equal(cJSON_GetObjectItem(n, "schema")->valuestring, "lore-noise/1");
    assert_int_equal(cJSON_GetObjectItem(n, "runs")->valueint, 2);
    const cJSON *tp = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(n, "points"), "default"), "throughput");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(tp, "floor")));
    assert_true(cJSON_GetObjectItem(tp, "floor")->valuedouble >= 0);
    cJSON_Delete(n);
    const char *cal_bad[] = {"calibrate-noise", scen, "--runs", "1", NULL};
    const char *cal_needles[] = {"--runs 1: must be an integer in [2, 100]", NULL};
    usage_error("gates-noise-bad", cal_bad, cal_needles, NULL);
}

/* ---- run --instructions and ab (instructions.c, ab.c) --------------------------- */

/* Whether valgrind is on PATH (the instruction track's end-to-end test needs it). */
static bool have_valgrind(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    while (path && *path) {
        size_t len = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/valgrind", (int)len, path);
        if (len && access(buf, X_OK) == 0)
            return true;
        path += len + (path[len] == ':');
    }
    return false;
}

static void test_run_instructions_usage(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "instr-usage");
    usage_error("instr-ops-alone",
                (const char *[]){"run", TINY, "--instructions-ops", "3", "-o", out, NULL},
                (const char *[]){"--instructions-ops needs --instructions", NULL}, out);
    usage_error(
        "instr-ops-zero",
        (const char *[]){"run", TINY, "--instructions", "--instructions-ops", "0", "-o", out, NULL},
        (const char *[]){"--instructions-ops '0'", "[1, 1000000]", NULL}, out);
    /* No valgrind: a clear message and exit 2, before anything is measured or made. */
    setenv("LORE_BENCH_VALGRIND", "/nonexistent/valgrind", 1);
    usage_error("instr-no-valgrind",
                (const char *[]){"run", TINY, "--instructions", "-o", out, NULL},
                (const char *[]){"--instructions needs valgrind", "/nonexistent/valgrind",
                                 "apt-get install valgrind", NULL},
                out);
    unsetenv("LORE_BENCH_VALGRIND");
}

/* The same point twice under callgrind: the same instruction count per operation. */
static void test_run_instructions(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    print_message("skipped: valgrind cannot run a sanitized lore-bench\n");
    skip();
#endif
    if (!have_valgrind()) {
        print_message("skipped: valgrind is not installed (apt-get install valgrind)\n");
        skip();
    }
    /* Callgrind's dump folders go under base_dir, where we can see they are removed. */
    char tmp[256];
    in_base(tmp, sizeof tmp, "instr-tmp");
    assert_int_equal(mkdir(tmp, 0700), 0);
    setenv("TMPDIR", tmp, 1);
    double per_op[2];
    for (int i = 0; i < 2; i++) {
        char out[256], tag[32];
        snprintf(tag, sizeof tag, "instr-%d", i);
        in_base(out, sizeof out, tag);
        proc p;
        start_bench(&p, tag,
                    (const char *[]){"run", TINY, "--filter", "m=16", "--instructions",
                                     "--instructions-ops", "3", "-q", "-o", out, NULL});
        finish_bench(&p, 60);
        exits(&p, 0);
        has(&p, p.err, "under valgrind-");
        cJSON *doc = load_result(out);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "measurement");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "mode")),
                            "instructions");
        assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "wall_metrics_valid")));
        const cJSON *pt = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "points"), 0);
        assert_double_equal(num_at(pt, "n_samples", NULL), 3, 0);
        assert_double_equal(num_at(pt, "warmup", "ops"), 1, 0);
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(pt, "instructions");
        per_op[i] = num_at(pt, "instructions", "per_op");
        /* 16x8x8 sgemm: 1024 multiply-adds, at least some hundreds of instructions. */
        assert_true(per_op[i] > 300);
        assert_double_equal(num_at(pt, "instructions", "ops"), 3, 0);
        assert_double_equal(num_at(pt, "instructions", "total"), 3 * per_op[i], 1e-6);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "tool")),
                            "callgrind");
        cJSON_Delete(doc);
        proc_free(&p);
    }
    unsetenv("TMPDIR");
    if (per_op[0] != per_op[1])
        fail_msg("instructions per op differ between two runs: %.17g vs %.17g", per_op[0],
                 per_op[1]);
    assert_int_equal(rmdir(tmp), 0); /* empty: the dump folders were removed */
}

static void test_ab_usage_errors(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "ab-usage");
    const char *bin = LORE_BENCH_BIN;
    usage_error("ab-none", (const char *[]){"ab", NULL},
                (const char *[]){"needs OLD_BIN, NEW_BIN and SCENARIO", NULL}, NULL);
    usage_error("ab-old", (const char *[]){"ab", "/nonexistent/old", bin, TINY, "-o", out, NULL},
                (const char *[]){"OLD_BIN '/nonexistent/old' is not an executable file", NULL},
                out);
    usage_error("ab-new", (const char *[]){"ab", bin, SCENARIOS, TINY, "-o", out, NULL},
                (const char *[]){"NEW_BIN", "is not an executable file", NULL}, out);
    usage_error("ab-rounds", (const char *[]){"ab", bin, bin, TINY, "--rounds", "0", NULL},
                (const char *[]){"--rounds '0'", NULL}, NULL);
    usage_error("ab-effect",
                (const char *[]){"ab", bin, bin, TINY, "--min-effect", "2", "-o", out, NULL},
                (const char *[]){"--min-effect '2'", NULL}, out);
    usage_error("ab-conf",
                (const char *[]){"ab", bin, bin, TINY, "--confidence", "x", "-o", out, NULL},
                (const char *[]){"--confidence 'x'", NULL}, out);
    usage_error("ab-option", (const char *[]){"ab", bin, bin, TINY, "--bogus", "-o", out, NULL},
                (const char *[]){"unknown option '--bogus'", NULL}, out);
    usage_error("ab-extra", (const char *[]){"ab", bin, bin, TINY, TINY, "-o", out, NULL},
                (const char *[]){"extra argument", NULL}, out);
    usage_error("ab-scenario",
                (const char *[]){"ab", bin, bin, SCENARIOS "/missing.json", "-o", out, NULL},
                (const char *[]){"missing.json", NULL}, out);
    usage_error("ab-filter",
                (const char *[]){"ab", bin, bin, TINY, "--filter", "m=99", "-o", out, NULL},
                (const char *[]){"no point of the sweep matches", NULL}, out);
    usage_error("ab-set", (const char *[]){"ab", bin, bin, TINY, "--set", "m=x", "-o", out, NULL},
                (const char *[]){"m=x", NULL}, out);
}

/* The ISO start time of the run in out/runs/<tag>. */
static char *run_started(const char *out, const char *tag)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/runs/%s", out, tag);
    cJSON *doc = load_result(dir);
    char *s =
        bench_strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "started_at")));
    assert_non_null(s);
    cJSON_Delete(doc);
    return s;
}

/* One build against itself, two rounds: ABBA order on disk, the pairs, the report files. */
static void test_ab_end_to_end(void **state)
{
    (void)state;
    char out[256];
    in_base(out, sizeof out, "ab");
    proc p;
    start_bench(&p, "ab",
                (const char *[]){"ab", LORE_BENCH_BIN, LORE_BENCH_BIN, TINY, "--filter", "m=8",
                                 "--rounds", "2", "--fail-on-slowdown", "0.5", "-q", "-o", out,
                                 NULL});
    finish_bench(&p, 60);
    exits(&p, 0); /* two pairs: inconclusive, and the interval is far too wide to fail a gate */
    has(&p, p.out, "m=8");
    has(&p, p.out, "inconclusive");
    has(&p, p.out, "/ab.json");

    char path[512];
    snprintf(path, sizeof path, "%s/ab.json", out);
    char *text = slurp(path);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "schema")),
                        "lore-bench-ab/1");
    assert_double_equal(num_at(doc, "rounds_done", NULL), 2, 0);
    const cJSON *pt = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "points"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pt, "id")), "m=8");
    assert_double_equal(num_at(pt, "pairs", NULL), 2, 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pt, "verdict")),
                        "inconclusive");
    const cJSON *rounds = cJSON_GetObjectItemCaseSensitive(pt, "rounds");
    assert_int_equal(cJSON_GetArraySize(rounds), 2);
    for (int r = 0; r < 2; r++) {
        const cJSON *ro = cJSON_GetArrayItem(rounds, r);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ro, "first")),
                            r == 0 ? "old" : "new");
        double o = num_at(ro, "old_p50_ns", NULL), n = num_at(ro, "new_p50_ns", NULL);
        assert_true(o > 0 && n > 0);
        assert_double_equal(num_at(ro, "ratio", NULL), n / o, 1e-12 * (n / o));
    }
    cJSON_Delete(doc);
    snprintf(path, sizeof path, "%s/ab.md", out);
    text = slurp(path);
    assert_non_null(strstr(text, "| point |"));
    assert_non_null(strstr(text, "`m=8`"));
    free(text);

    /* The runs really happened in A B | B A order (ISO times sort as strings). */
    char *t[4] = {run_started(out, "r000-p000-old"), run_started(out, "r000-p000-new"),
                  run_started(out, "r001-p000-new"), run_started(out, "r001-p000-old")};
    for (int i = 0; i < 3; i++)
        if (strcmp(t[i], t[i + 1]) > 0)
            fail_msg("run %d started at %s, after run %d at %s", i, t[i], i + 1, t[i + 1]);
    for (int i = 0; i < 4; i++)
        free(t[i]);
    proc_free(&p);
}

int main(void)
{
    /* The runs these tests make are not the project's history. */
    setenv("LORE_BENCH_NO_HISTORY", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_arguments),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_run_usage_errors),
        cmocka_unit_test(test_run_missing_scenario),
        cmocka_unit_test(test_run_malformed_scenarios),
        cmocka_unit_test(test_run_bad_set),
        cmocka_unit_test(test_run_bad_filter),
        cmocka_unit_test(test_run_output_not_creatable),
        cmocka_unit_test(test_run_output_not_writable),
        cmocka_unit_test(test_run_dry_run),
        cmocka_unit_test(test_run_embed),
        cmocka_unit_test(test_run_nli),
        cmocka_unit_test(test_run_search),
        cmocka_unit_test(test_run_success),
        cmocka_unit_test(test_run_blas_core_current),
        cmocka_unit_test(test_run_filter),
        cmocka_unit_test(test_run_sigint),
        cmocka_unit_test(test_run_sql),
        cmocka_unit_test(test_ingest_query),
        cmocka_unit_test(test_ingest_query_usage_errors),
        cmocka_unit_test(test_ingest_not_a_store),
        cmocka_unit_test(test_run_ingest_workload),
        cmocka_unit_test(test_run_query_workload),
        cmocka_unit_test(test_run_instructions_usage),
        cmocka_unit_test(test_run_instructions),
        cmocka_unit_test(test_ab_usage_errors),
        cmocka_unit_test(test_ab_end_to_end),
        cmocka_unit_test(test_gates_cli),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
