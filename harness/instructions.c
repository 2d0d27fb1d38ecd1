/*
 * instructions.c - `run --instructions`: the re-run under callgrind and the
 * reading of its dumps (instructions.h says what is counted and why).
 *
 * The process the user started validates the command, finds valgrind, makes a
 * private folder for the dumps, runs itself again under callgrind with the
 * same arguments and waits, ignoring SIGINT/SIGTERM meanwhile (the re-run gets
 * them too and stops cleanly, writing what it finished); then it removes the
 * folder and exits with the re-run's code. The re-run finds its dumps by the
 * runner's labels: callgrind names them cg.<pid>.<n> in dump order, and also
 * writes a last one (cg.<pid>, "Trigger: Program termination") as it exits,
 * after the result is written, which nobody reads.
 *
 * Dump format read here (callgrind 3.x, "# callgrind format"): header lines
 * "creator: callgrind-3.19.0", "part: N", "desc: Trigger: ...",
 * "events: Ir ...", "summary: ..." and, after the cost lines, "totals: ...".
 */
#include "instructions.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#if __has_include(<valgrind/callgrind.h>)
#define HAVE_CALLGRIND_H 1
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#ifndef HAVE_CALLGRIND_H
#define HAVE_CALLGRIND_H 0
#endif

#define MAX_DUMPS 100000

/* ---- the dump parser ------------------------------------------------------- */

/* The line starting at p, without its newline, into buf (truncated); returns the next line. */
static const char *next_line(const char *p, char *buf, size_t size)
{
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len && p[len - 1] == '\r')
        len--;
    size_t n = len < size - 1 ? len : size - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return end ? end + 1 : p + strlen(p);
}

/* Parses the idx-th whitespace-separated unsigned number of s into *v. Returns 0 or -1. */
static int nth_number(const char *s, size_t idx, uint64_t *v)
{
    for (size_t i = 0;; i++) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s < '0' || *s > '9')
            return -1;
        errno = 0;
        char *end;
        unsigned long long x = strtoull(s, &end, 10);
        if (errno || (*end && *end != ' ' && *end != '\t'))
            return -1;
        if (i == idx) {
            *v = (uint64_t)x;
            return 0;
        }
        s = end;
    }
}

int bench_callgrind_parse(const char *path, const char *text, bench_callgrind_dump *out,
                          bench_err *e)
{
    memset(out, 0, sizeof *out);
    out->part = -1;
    char line[1024];
    const char *p = next_line(text, line, sizeof line);
    if (strcmp(line, "# callgrind format") != 0)
        return bench_err_set(e,
                             "%s: line 1: not a callgrind dump (expected \"# callgrind "
                             "format\", got \"%.60s\")",
                             path, line);
    long ir_idx = -1;
    bool have_totals = false;
    for (size_t lineno = 2; *p; lineno++) {
        p = next_line(p, line, sizeof line);
        if (strncmp(line, "creator: callgrind-", 19) == 0) {
            snprintf(out->version, sizeof out->version, "%.31s", line + 19);
        } else if (strncmp(line, "part:", 5) == 0) {
            uint64_t v;
            if (nth_number(line + 5, 0, &v) != 0)
                return bench_err_set(e, "%s: line %zu: bad part number \"%.60s\"", path, lineno,
                                     line);
            out->part = (int64_t)v;
        } else if (strncmp(line, "desc: Trigger: ", 15) == 0) {
            snprintf(out->trigger, sizeof out->trigger, "%.255s", line + 15);
        } else if (strncmp(line, "events:", 7) == 0) {
            char names[1024];
            snprintf(names, sizeof names, "%s", line + 7);
            char *save = NULL;
            long i = 0;
            for (char *tok = strtok_r(names, " \t", &save); tok;
                 tok = strtok_r(NULL, " \t", &save), i++)
                if (strcmp(tok, "Ir") == 0 && ir_idx < 0)
                    ir_idx = i;
            if (ir_idx < 0)
                return bench_err_set(e, "%s: line %zu: events \"%.60s\" do not include Ir", path,
                                     lineno, line + 7);
        } else if (strncmp(line, "summary:", 8) == 0) {
            if (ir_idx >= 0 && nth_number(line + 8, (size_t)ir_idx, &out->summary_ir) == 0)
                out->has_summary = true;
        } else if (strncmp(line, "totals:", 7) == 0) {
            if (ir_idx < 0)
                return bench_err_set(e, "%s: line %zu: totals before any events line", path,
                                     lineno);
            if (nth_number(line + 7, (size_t)ir_idx, &out->ir) != 0)
                return bench_err_set(e,
                                     "%s: line %zu: totals \"%.60s\" has no Ir value (column %ld)",
                                     path, lineno, line + 7, ir_idx + 1);
            have_totals = true;
        }
    }
    if (ir_idx < 0)
        return bench_err_set(e, "%s: no events line (truncated dump?)", path);
    if (!have_totals)
        return bench_err_set(e, "%s: no totals line (truncated dump?)", path);
    return 0;
}

int bench_callgrind_point_label(const char *trigger, size_t *point, size_t *ops)
{
    static const char request[] = "Client Request: ";
    if (strncmp(trigger, request, sizeof request - 1) != 0)
        return -1;
    const char *s = trigger + sizeof request - 1;
    size_t plen = strlen(BENCH_INSTR_LABEL_PREFIX);
    if (strncmp(s, BENCH_INSTR_LABEL_PREFIX, plen) != 0)
        return -1;
    s += plen;
    char *end;
    errno = 0;
    unsigned long long pt = strtoull(s, &end, 10);
    if (errno || end == s || strncmp(end, " ops=", 5) != 0)
        return -1;
    s = end + 5;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *point = (size_t)pt;
    *ops = (size_t)n;
    return 0;
}

/* ---- policy and the re-run ----------------------------------------------- */

void bench_instructions_policy(bench_policy *p, int64_t ops)
{
    p->warmup_ops = 1;
    p->warmup_s = 0.0;
    p->min_samples = ops;
    p->max_samples = ops;
    p->min_time_s = 0.0;
    /* Never cut a window short (the count is per operation, however long they take): the
     * scenario format's largest max_time_s, a day, so the result's effective scenario still
     * validates. */
    p->max_time_s = 86400.0;
    p->repetitions = 1;
}

bool bench_instructions_in_callgrind(void)
{
    const char *dir = getenv(BENCH_INSTR_DIR_ENV);
    return dir && dir[0] && RUNNING_ON_VALGRIND;
}

/* Finds name in PATH (or takes it as a path when it has a '/'). Returns 0 with buf, or -1. */
static int find_executable(const char *name, char *buf, size_t size)
{
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0)
            return -1;
        snprintf(buf, size, "%s", name);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !path[0])
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        if (len > 0 && len + strlen(name) + 2 <= size) {
            snprintf(buf, size, "%.*s/%s", (int)len, path, name);
            struct stat st;
            if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
                return 0;
        }
        path += len + (colon != NULL);
    }
    return -1;
}

/* `valgrind --version` into buf ("valgrind-3.19.0"). Returns 0, or -1. */
static int valgrind_version(const char *valgrind, char *buf, size_t size)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(valgrind, valgrind, "--version", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t got;
    while (n + 1 < size && (got = read(fds[0], buf + n, size - 1 - n)) != 0) {
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        n += (size_t)got;
    }
    buf[n] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || strncmp(buf, "valgrind-", 9) != 0)
        return -1;
    return 0;
}

/* Removes the dump folder's files and the folder (it holds nothing else). */
static void remove_dump_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *ent;
        while ((ent = readdir(d))) {
            if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                continue;
            char path[PATH_MAX];
            if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, ent->d_name) < sizeof path)
                unlink(path);
        }
        closedir(d);
    }
    if (rmdir(dir) != 0)
        fprintf(stderr, "lore-bench: --instructions: could not remove %s: %s\n", dir,
                strerror(errno));
}

/* Runs argv again under callgrind; returns its exit code. */
static int rerun_under_callgrind(int64_t ops, int argc, char **argv)
{
    if (RUNNING_ON_VALGRIND) {
        fprintf(stderr, "lore-bench: --instructions: already running under valgrind; run "
                        "lore-bench natively and it starts callgrind itself\n");
        return BENCH_EXIT_USAGE;
    }
    const char *want = getenv(BENCH_INSTR_VALGRIND_ENV);
    if (!want || !want[0])
        want = "valgrind";
    char valgrind[PATH_MAX];
    char version[128];
    if (find_executable(want, valgrind, sizeof valgrind) != 0) {
        fprintf(stderr,
                "lore-bench: --instructions needs valgrind (its callgrind tool), and '%s' was not "
                "found%s; install it (Debian/Ubuntu: apt-get install valgrind) or run without "
                "--instructions\n",
                want, strchr(want, '/') ? "" : " in PATH");
        return BENCH_EXIT_USAGE;
    }
    if (valgrind_version(valgrind, version, sizeof version) != 0) {
        fprintf(stderr,
                "lore-bench: --instructions: %s does not run as valgrind (`%s --version` "
                "failed)\n",
                valgrind, valgrind);
        return BENCH_EXIT_USAGE;
    }
#if defined(LORE_SANITIZED) && LORE_SANITIZED
    fprintf(stderr, "lore-bench: --instructions: this lore-bench is built with ASan/UBSan "
                    "(LORE_SANITIZE=ON), which valgrind cannot run; use a normal build\n");
    return BENCH_EXIT_USAGE;
#endif
    if (!HAVE_CALLGRIND_H) {
        /* runner.c's brackets compiled to nothing: there would be no dumps. */
        fprintf(stderr, "lore-bench: --instructions: this lore-bench was built without "
                        "<valgrind/callgrind.h>; rebuild it with valgrind's headers installed\n");
        return BENCH_EXIT_USAGE;
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, "lore-bench: --instructions: cannot find my own executable: %s\n",
                strerror(errno));
        return BENCH_EXIT_RUNTIME;
    }
    self[len] = '\0';
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/lore-bench-callgrind.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr,
                "lore-bench: --instructions: cannot make a folder for callgrind's dumps "
                "(%s): %s\n",
                dir, strerror(errno));
        return BENCH_EXIT_RUNTIME;
    }
    char out_file[PATH_MAX + 32];
    snprintf(out_file, sizeof out_file, "--callgrind-out-file=%s/cg.%%p", dir);
    static const char *const vg_opts[] = {"--tool=callgrind", "--instr-atstart=no",
                                          "--dump-instr=no", "-q"};
    enum { N_VG = sizeof vg_opts / sizeof vg_opts[0] };
    char **args = calloc((size_t)argc + N_VG + 4, sizeof *args);
    if (!args) {
        remove_dump_dir(dir);
        fprintf(stderr, "lore-bench: out of memory\n");
        return BENCH_EXIT_RUNTIME;
    }
    size_t n = 0;
    args[n++] = valgrind;
    for (size_t i = 0; i < N_VG; i++)
        args[n++] = (char *)vg_opts[i];
    args[n++] = out_file;
    args[n++] = self;
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;

    fprintf(stderr,
            "lore-bench: --instructions: running again under %s callgrind: 1 warm-up and %" PRId64
            " measured operation(s) per point, instructions counted inside the measurement "
            "windows only; wall-clock numbers of this run are not comparable\n",
            version, ops);
    fflush(NULL);
    /* The re-run handles Ctrl-C (it writes what it finished); we wait for it. */
    struct sigaction ign = {0}, old_int, old_term;
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGTERM, &ign, &old_term);
    pid_t pid = fork();
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        if (setenv(BENCH_INSTR_DIR_ENV, dir, 1) != 0)
            _exit(BENCH_EXIT_RUNTIME);
        execv(valgrind, args);
        fprintf(stderr, "lore-bench: --instructions: cannot run %s: %s\n", valgrind,
                strerror(errno));
        _exit(BENCH_EXIT_RUNTIME);
    }
    int rc = BENCH_EXIT_RUNTIME;
    if (pid < 0) {
        fprintf(stderr, "lore-bench: --instructions: cannot start valgrind: %s\n", strerror(errno));
    } else {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (WIFEXITED(status))
            rc = WEXITSTATUS(status);
        else if (WIFSIGNALED(status)) {
            fprintf(stderr,
                    "lore-bench: --instructions: the run under valgrind ended by signal %d\n",
                    WTERMSIG(status));
            rc = WTERMSIG(status) == SIGINT ? BENCH_EXIT_INTERRUPTED : BENCH_EXIT_RUNTIME;
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(args);
    remove_dump_dir(dir);
    return rc;
}

int bench_instructions_start(bench_scenario *s, int64_t ops, int argc, char **argv)
{
    if (!bench_instructions_in_callgrind())
        return rerun_under_callgrind(ops, argc, argv);
    bench_instructions_policy(&s->policy, ops);
    bench_runner_use_callgrind(true);
    return -1;
}

/* ---- attaching the counts ---------------------------------------------------- */

typedef struct point_dump {
    bool seen;
    size_t ops;
    uint64_t ir;
    char file[256];
} point_dump;

/* Reads every runner dump of dir into dumps[point] (n_grid slots). */
static int read_dumps(const char *dir, point_dump *dumps, size_t n_grid, char *version,
                      size_t version_size, bench_err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return bench_err_set(e, "callgrind dump folder %s: %s", dir, strerror(errno));
    int rc = 0;
    size_t n_files = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) && n_files < MAX_DUMPS) {
        /* Only callgrind's files (--callgrind-out-file=DIR/cg.%p): cg.<pid>[.<n>]. */
        if (strncmp(ent->d_name, "cg.", 3) != 0)
            continue;
        n_files++;
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, ent->d_name) >= sizeof path)
            continue;
        size_t len;
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        char *text = bench_read_file(path, &len, e);
        if (!text) {
            rc = -1;
            break;
        }
        if (len == 0) {
            /* callgrind opens its main output file (cg.<pid>) at start and fills it at exit. */
            free(text);
            continue;
        }
        bench_callgrind_dump dump;
        size_t pt, ops;
        int prc = bench_callgrind_parse(path, text, &dump, e);
        free(text);
        if (prc != 0) {
            rc = -1;
            break;
        }
        if (bench_callgrind_point_label(dump.trigger, &pt, &ops) != 0)
            continue; /* not the runner's: the termination dump, or someone else's request */
        if (pt >= n_grid) {
            rc = bench_err_set(e, "%s: dump for point %zu, but the run has %zu point(s)", path, pt,
                               n_grid);
            break;
        }
        if (dumps[pt].seen) {
            rc = bench_err_set(e, "%s: a second dump for point %zu (first: %s)", path, pt,
                               dumps[pt].file);
            break;
        }
        dumps[pt] = (point_dump){.seen = true, .ops = ops, .ir = dump.ir};
        snprintf(dumps[pt].file, sizeof dumps[pt].file, "%s", ent->d_name);
        if (dump.version[0])
            snprintf(version, version_size, "%s", dump.version);
    }
    closedir(d);
    return rc;
}

static cJSON *measurement_json(const bench_run *run, const char *version)
{
    cJSON *m = cJSON_CreateObject();
    if (!m)
        return NULL;
    size_t ops = 0;
    for (size_t i = 0; i < run->n_points && !ops; i++)
        ops = run->points[i].ok ? run->points[i].n_samples : 0;
    char policy[160];
    snprintf(policy, sizeof policy,
             "1 warm-up operation, then %zu measured operation(s) per point in one window, "
             "no minimum time",
             ops);
    if (!cJSON_AddStringToObject(m, "mode", "instructions") ||
        !cJSON_AddStringToObject(m, "tool", "callgrind") ||
        !cJSON_AddStringToObject(m, "valgrind", version) ||
        !cJSON_AddStringToObject(m, "policy", policy) ||
        !cJSON_AddBoolToObject(m, "wall_metrics_valid", 0) ||
        !cJSON_AddStringToObject(
            m, "note",
            "measured under valgrind callgrind: instructions.per_op counts every thread's "
            "instructions inside the measurement windows; throughput, latency_ns, samples_ns and "
            "time-based metrics were taken under valgrind, tens of times slower than native, "
            "and must not be compared; host calibration was skipped")) {
        cJSON_Delete(m);
        return NULL;
    }
    return m;
}

int bench_instructions_attach_dir(cJSON *doc, const bench_run *run, const char *dir, bench_err *e)
{
    size_t n_grid = 0;
    for (size_t i = 0; i < run->n_points; i++)
        n_grid = run->points[i].point + 1 > n_grid ? run->points[i].point + 1 : n_grid;
    point_dump *dumps = calloc(n_grid ? n_grid : 1, sizeof *dumps);
    if (!dumps)
        return bench_err_set(e, "out of memory reading callgrind dumps");
    char version[32] = "";
    int rc = read_dumps(dir, dumps, n_grid, version, sizeof version, e);
    cJSON *points = cJSON_GetObjectItemCaseSensitive(doc, "points");
    if (rc == 0 && (!cJSON_IsArray(points) || (size_t)cJSON_GetArraySize(points) != run->n_points))
        rc = bench_err_set(e, "result document has %d point(s), the run %zu",
                           cJSON_GetArraySize(points), run->n_points);
    for (size_t i = 0; rc == 0 && i < run->n_points; i++) {
        const bench_point_result *r = &run->points[i];
        if (!r->ok)
            continue;
        const point_dump *d = &dumps[r->point];
        if (!d->seen) {
            rc = bench_err_set(e, "%s: no callgrind dump for point %zu", dir, r->point);
            break;
        }
        if (d->ops != r->n_samples || d->ops == 0) {
            rc = bench_err_set(e, "%s/%s: point %zu: the dump counts %zu operation(s), the run %zu",
                               dir, d->file, r->point, d->ops, r->n_samples);
            break;
        }
        cJSON *in = cJSON_CreateObject();
        if (!in || !cJSON_AddNumberToObject(in, "per_op", (double)d->ir / (double)d->ops) ||
            !cJSON_AddNumberToObject(in, "total", (double)d->ir) ||
            !cJSON_AddNumberToObject(in, "ops", (double)d->ops) ||
            !cJSON_AddStringToObject(in, "tool", "callgrind") ||
            !cJSON_AddStringToObject(in, "valgrind", version) ||
            !cJSON_AddItemToObject(cJSON_GetArrayItem(points, (int)i), "instructions", in)) {
            cJSON_Delete(in);
            rc = bench_err_set(e, "out of memory adding instruction counts");
        }
    }
    if (rc == 0) {
        cJSON *m = measurement_json(run, version);
        if (!m || !cJSON_AddItemToObject(doc, "measurement", m)) {
            cJSON_Delete(m);
            rc = bench_err_set(e, "out of memory adding instruction counts");
        }
    }
    free(dumps);
    return rc;
}

int bench_instructions_attach(cJSON *doc, const bench_run *run, bench_err *e)
{
    const char *dir = getenv(BENCH_INSTR_DIR_ENV);
    if (!dir || !dir[0])
        return bench_err_set(e, "--instructions: %s is not set (not the re-run under callgrind)",
                             BENCH_INSTR_DIR_ENV);
    return bench_instructions_attach_dir(doc, run, dir, e);
}
