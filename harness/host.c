/*
 * host.c - what machine, build and BLAS a result was measured on.
 *
 * Collects the host block every result carries (CPU and its SIMD flags, cores,
 * memory, kernel, compiler and flags, git commit, clock, BLAS library and
 * kernel family), runs the short calibration (1-thread sgemm GFLOP/s, STREAM
 * triad GB/s) used to normalise results across machines, and checks that the
 * BLAS in use computes correct products.
 *
 * Invariants: bench_host_collect never fails (what it cannot learn reads
 * "unknown" or 0); bench_host_calibrate leaves the BLAS thread count as it
 * found it; every string field is NUL-terminated.
 */
#include "host.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "measure/clock.h"

/* Compile definitions set by CMake; fallbacks keep a hand build honest. */
#ifndef LORE_C_FLAGS
#define LORE_C_FLAGS "unknown"
#endif
#ifndef LORE_BUILD_TYPE
#define LORE_BUILD_TYPE "unknown"
#endif
#ifndef LORE_SANITIZED
#define LORE_SANITIZED 0
#endif

/* Calibration shapes. 256^3 is large enough for BLAS to run its packed kernel
 * at full speed and small enough (3 x 256 KiB) to stay in L2, so the figure is
 * compute, not memory. The triad arrays (32 MiB each) are well past the LLC of
 * the machines we run on, so the triad measures DRAM bandwidth. */
enum {
    CALIB_SGEMM_DIM = 256,
    CALIB_STREAM_N = 8 * 1024 * 1024,
    CALIB_MIN_REPS = 3,
    CALIB_MAX_REPS = 20000,
};

/* ---- small string helpers ------------------------------------------------ */

static void copy_trimmed(char *dst, size_t size, const char *src, size_t len)
{
    while (len > 0 && isspace((unsigned char)*src)) {
        src++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)src[len - 1]))
        len--;
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/*
 * Finds the first line of text of the form "key<spaces>: value" (the layout of
 * /proc/cpuinfo and /proc/meminfo) and returns a pointer to its value, with
 * *value_len set to the length up to the end of the line. The key must match
 * whole: "model" does not match a "model name" line.
 */
static const char *find_key(const char *text, const char *key, size_t *value_len)
{
    size_t key_len = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t line_len = eol ? (size_t)(eol - line) : strlen(line);
        const char *colon = memchr(line, ':', line_len);
        if (colon) {
            size_t name_len = (size_t)(colon - line);
            while (name_len > 0 && isspace((unsigned char)line[name_len - 1]))
                name_len--;
            if (name_len == key_len && memcmp(line, key, key_len) == 0) {
                *value_len = line_len - (size_t)(colon + 1 - line);
                return colon + 1;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return NULL;
}

/* True when token occurs in list[0..len) as a whole whitespace-separated word,
 * so "avx512f" does not match "avx512fx" and "avx2" does not match "avx2foo". */
static bool has_token(const char *list, size_t len, const char *token)
{
    size_t token_len = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && isspace((unsigned char)list[i]))
            i++;
        size_t start = i;
        while (i < len && !isspace((unsigned char)list[i]))
            i++;
        if (i - start == token_len && memcmp(list + start, token, token_len) == 0)
            return true;
    }
    return false;
}

/* ---- parsers ----------------------------------------------------------- */

void bench_host_parse_cpuinfo(const char *text, bench_host *h)
{
    snprintf(h->cpu_model, sizeof h->cpu_model, "unknown");
    h->has_avx2 = h->has_fma = h->has_avx512f = h->has_avx512_bf16 = h->has_amx = false;
    if (!text)
        return;

    /* The first processor's block describes them all on the machines we run
     * on; find_key stops at the first match. */
    size_t len = 0;
    const char *model = find_key(text, "model name", &len);
    if (model) {
        copy_trimmed(h->cpu_model, sizeof h->cpu_model, model, len);
        if (!h->cpu_model[0])
            snprintf(h->cpu_model, sizeof h->cpu_model, "unknown");
    }

    const char *flags = find_key(text, "flags", &len);
    if (!flags)
        return;
    h->has_avx2 = has_token(flags, len, "avx2");
    h->has_fma = has_token(flags, len, "fma");
    h->has_avx512f = has_token(flags, len, "avx512f");
    h->has_avx512_bf16 = has_token(flags, len, "avx512_bf16");
    /* amx_tile is the base AMX feature; amx_bf16/amx_int8 build on it. */
    h->has_amx = has_token(flags, len, "amx_tile");
}

int64_t bench_host_parse_meminfo_total(const char *text)
{
    if (!text)
        return 0;
    size_t len = 0;
    const char *value = find_key(text, "MemTotal", &len);
    if (!value)
        return 0;

    char buf[64];
    copy_trimmed(buf, sizeof buf, value, len);
    char *end = NULL;
    unsigned long long n = strtoull(buf, &end, 10);
    if (end == buf)
        return 0;
    while (*end == ' ' || *end == '\t')
        end++;
    /* The kernel writes "kB" and means KiB; a bare number would be bytes. */
    unsigned long long scale = 1;
    if (strcasecmp(end, "kB") == 0)
        scale = 1024;
    else if (*end != '\0')
        return 0;
    if (n > (unsigned long long)INT64_MAX / scale)
        return 0;
    return (int64_t)(n * scale);
}

/* ---- BLAS kernel families ----------------------------------------------- */

bool bench_blas_core_is_generic(const char *core)
{
    /* OpenBLAS x86 kernel families (driver/others/dynamic.c) whose kernels use
     * no AVX2. Sandybridge (AVX1) and the AMD FMA4/FMA3-only families count as
     * generic too: on a CPU with AVX2 or AVX-512 they leave most of the
     * machine idle. Non-dynamic builds report names in capitals, hence the
     * case-insensitive compare. */
    static const char *const generic[] = {
        "unknown",     "generic",   "Katmai",       "Coppermine",  "Northwood",  "Prescott",
        "Banias",      "Atom",      "Core2",        "Penryn",      "Dunnington", "Nehalem",
        "Athlon",      "Opteron",   "Opteron_SSE3", "Barcelona",   "Nano",       "Bobcat",
        "Sandybridge", "Bulldozer", "Piledriver",   "Steamroller",
    };
    if (!core || !core[0])
        return true;
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        if (strcasecmp(core, generic[i]) == 0)
            return true;
    return false;
}

const char *bench_blas_core_for_host(const bench_host *h)
{
    /* SkylakeX kernels also use AVX2 and FMA instructions, so all three flags
     * are required (a VM may mask some). SkylakeX rather than Cooperlake or
     * SapphireRapids: it is the AVX-512 family every OpenBLAS since 0.3.x has,
     * and on AVX512_BF16 machines it measures the same for fp32 sgemm. */
    if (h->has_avx512f && h->has_avx2 && h->has_fma)
        return "SkylakeX";
    if (h->has_avx2 && h->has_fma)
        return "Haswell";
    return NULL;
}

/* ---- collect ----------------------------------------------------------- */

#ifdef LORE_SOURCE_DIR
/* Runs a shell command and keeps its first output line in buf; true when the
 * command exited 0. *any_output says whether it printed anything at all. */
static bool run_command(const char *cmd, char *buf, size_t size, bool *any_output)
{
    buf[0] = '\0';
    if (any_output)
        *any_output = false;
    fflush(NULL); /* popen forks; unflushed stdio buffers would be written twice */
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    char line[256];
    bool first = true;
    while (fgets(line, sizeof line, p)) {
        if (any_output)
            *any_output = true;
        if (first) {
            copy_trimmed(buf, size, line, strlen(line));
            first = false;
        }
    }
    int status = pclose(p);
    return status == 0;
}
#endif

static void collect_git(bench_host *h)
{
    snprintf(h->git_commit, sizeof h->git_commit, "unknown");
    h->git_dirty = false;
#ifdef LORE_SOURCE_DIR
    /* Quote the directory for the shell: wrap in '...' and turn each ' into '\''. */
    const char *dir = LORE_SOURCE_DIR;
    char quoted[1024];
    size_t q = 0;
    quoted[q++] = '\'';
    for (const char *s = dir; *s; s++) {
        if (q + 6 >= sizeof quoted)
            return;
        if (*s == '\'') {
            memcpy(quoted + q, "'\\''", 4);
            q += 4;
        } else {
            quoted[q++] = *s;
        }
    }
    quoted[q++] = '\'';
    quoted[q] = '\0';

    char cmd[1200];
    char out[128];
    snprintf(cmd, sizeof cmd, "git -C %s rev-parse HEAD 2>/dev/null", quoted);
    if (!run_command(cmd, out, sizeof out, NULL) || !out[0])
        return;
    for (const char *s = out; *s; s++)
        if (!isxdigit((unsigned char)*s))
            return;
    snprintf(h->git_commit, sizeof h->git_commit, "%.*s", (int)(sizeof h->git_commit - 1), out);

    /* Untracked files do not change what was built; modified tracked ones do. */
    bool dirty = false;
    snprintf(cmd, sizeof cmd, "git -C %s status --porcelain --untracked-files=no 2>/dev/null",
             quoted);
    if (run_command(cmd, out, sizeof out, &dirty))
        h->git_dirty = dirty;
#endif
}

static void collect_build(bench_host *h)
{
#if defined(__clang__)
    snprintf(h->compiler, sizeof h->compiler, "%s", __VERSION__); /* "Debian Clang 14.0.6" */
#elif defined(__GNUC__)
    snprintf(h->compiler, sizeof h->compiler, "gcc %s", __VERSION__); /* "12.2.0" alone */
#elif defined(__VERSION__)
    snprintf(h->compiler, sizeof h->compiler, "%s", __VERSION__);
#else
    snprintf(h->compiler, sizeof h->compiler, "unknown");
#endif
    /* CMake joins flags with spaces and leaves them around empty parts. */
    copy_trimmed(h->c_flags, sizeof h->c_flags, LORE_C_FLAGS, strlen(LORE_C_FLAGS));
    copy_trimmed(h->build_type, sizeof h->build_type, LORE_BUILD_TYPE, strlen(LORE_BUILD_TYPE));
    if (!h->build_type[0])
        snprintf(h->build_type, sizeof h->build_type, "none");
    h->sanitized = LORE_SANITIZED != 0;
}

static void collect_blas_warning(bench_host *h)
{
    h->blas_generic_on_simd_cpu = false;
    h->blas_warning[0] = '\0';
    if (!bench_blas_core_is_generic(h->blas.core) || !(h->has_avx2 || h->has_avx512f))
        return;
    h->blas_generic_on_simd_cpu = true;

    const char *isa = h->has_avx512f ? "AVX-512" : "AVX2";
    /* Measured on the reference machine (anchors): Prescott ~20 GFLOP/s on one
     * thread against ~110-130 with SkylakeX and ~75 with Haswell. */
    const char *factor = h->has_avx512f ? "about 5x" : "about 3x";
    const char *best = bench_blas_core_for_host(h);
    if (best)
        snprintf(h->blas_warning, sizeof h->blas_warning,
                 "OpenBLAS runs its generic '%s' kernels on a CPU with %s: sgemm is %s slower "
                 "than it can be. Re-run with --blas-core auto (or set OPENBLAS_CORETYPE=%s).",
                 h->blas.core, isa, factor, best);
    else
        snprintf(h->blas_warning, sizeof h->blas_warning,
                 "OpenBLAS runs its generic '%s' kernels on a CPU with %s, but the CPU flags "
                 "(no FMA) name no better OpenBLAS core; set OPENBLAS_CORETYPE by hand if "
                 "the CPU supports one.",
                 h->blas.core, isa);
}

void bench_host_collect(bench_host *h)
{
    memset(h, 0, sizeof *h);

    char *text = bench_read_file("/proc/cpuinfo", NULL, NULL);
    bench_host_parse_cpuinfo(text, h);
    free(text);

    long n_cores = sysconf(_SC_NPROCESSORS_ONLN);
    h->n_cores = n_cores > 0 ? (int)n_cores : 0;

    text = bench_read_file("/proc/meminfo", NULL, NULL);
    h->mem_total_bytes = bench_host_parse_meminfo_total(text);
    free(text);

    struct utsname u;
    if (uname(&u) == 0)
        snprintf(h->kernel, sizeof h->kernel, "%.40s %.80s %.30s", u.sysname, u.release, u.machine);
    else
        snprintf(h->kernel, sizeof h->kernel, "unknown");

    collect_build(h);
    collect_git(h);

    bench_clock_source(h->clock_source, sizeof h->clock_source);
    h->clock_cost_ns = bench_clock_cost_ns();
    h->clock_res_ns = bench_clock_resolution_ns();

    lore_blas_get_info(&h->blas);
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    snprintf(h->blas_coretype_env, sizeof h->blas_coretype_env, "%s", coretype ? coretype : "");
    collect_blas_warning(h);

    h->calibrated = false;
}

/* ---- calibration ------------------------------------------------------- */

/* Deterministic pseudo-random floats in [-1, 1] (xorshift64*), so calibration
 * and self-check inputs are the same on every run and never all-zero. */
static float next_uniform(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    uint64_t r = x * 0x2545F4914F6CDD1Dull;
    return (float)((double)(r >> 40) / (double)(1ull << 23) - 1.0);
}

static void fill_uniform(float *x, size_t n, uint64_t seed)
{
    uint64_t state = seed ? seed : 1;
    for (size_t i = 0; i < n; i++)
        x[i] = next_uniform(&state);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, size_t n)
{
    qsort(x, n, sizeof x[0], cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* The three float arrays a calibration kernel works on. */
typedef struct calib_arrays {
    int d;    /* sgemm: d x d matrices */
    size_t n; /* triad: n elements */
    float *a, *b, *c;
} calib_arrays;

static int op_sgemm(calib_arrays *x)
{
    return lore_blas_sgemm(x->d, x->d, x->d, x->a, x->b, x->c) == LORE_OK ? 0 : -1;
}

static int op_triad(calib_arrays *x)
{
    lore_calib_stream_triad(x->a, x->b, x->c, 3.0f, x->n);
    return 0;
}

/*
 * Runs op once to warm up (BLAS allocates its buffers, pages get touched),
 * then for about budget_s seconds, and returns the median per-call rate of
 * `work` units per ns (flops/ns = GFLOP/s, bytes/ns = GB/s) in *rate. The
 * median rather than the best: calibration normalises other medians, and on
 * noisy VMs the best call is an outlier in the other direction. Returns -1 on
 * allocation or kernel failure.
 */
static int median_rate(int (*op)(calib_arrays *), calib_arrays *x, double work, double budget_s,
                       double *rate)
{
    double *rates = malloc(CALIB_MAX_REPS * sizeof *rates);
    if (!rates || op(x) != 0) {
        free(rates);
        return -1;
    }
    const int64_t budget_ns = (int64_t)(budget_s * 1e9);
    const int64_t t_start = bench_clock_ns();
    size_t n_rep = 0;
    while (n_rep < CALIB_MAX_REPS) {
        int64_t t0 = bench_clock_ns();
        if (op(x) != 0) {
            free(rates);
            return -1;
        }
        int64_t t1 = bench_clock_ns();
        /* A 0 ns reading (coarse clock) would divide by zero; count it as 1 ns. */
        rates[n_rep++] = work / (double)(t1 - t0 > 0 ? t1 - t0 : 1);
        if (n_rep >= CALIB_MIN_REPS && t1 - t_start >= budget_ns)
            break;
    }
    *rate = median(rates, n_rep);
    free(rates);
    return 0;
}

/* Allocates three arrays of n floats each. Returns 0, or -1 with nothing held. */
static int calib_arrays_alloc(calib_arrays *x, size_t n)
{
    x->a = malloc(n * sizeof *x->a);
    x->b = malloc(n * sizeof *x->b);
    x->c = malloc(n * sizeof *x->c);
    if (x->a && x->b && x->c)
        return 0;
    free(x->a);
    free(x->b);
    free(x->c);
    return -1;
}

static void calib_arrays_free(calib_arrays *x)
{
    free(x->a);
    free(x->b);
    free(x->c);
}

/* Median 1-thread sgemm rate in GFLOP/s at CALIB_SGEMM_DIM^3. */
static int calibrate_sgemm(double budget_s, double *gflops)
{
    const int d = CALIB_SGEMM_DIM;
    const size_t nn = (size_t)d * d;
    calib_arrays x = {.d = d};
    if (calib_arrays_alloc(&x, nn) != 0)
        return -1;
    fill_uniform(x.a, nn, 0x5eed0001);
    fill_uniform(x.b, nn, 0x5eed0002);
    int rc = median_rate(op_sgemm, &x, 2.0 * d * d * d, budget_s, gflops);
    calib_arrays_free(&x);
    return rc;
}

/* Median triad bandwidth in GB/s (10^9 bytes/s, counting 3 x 4 bytes per
 * element as STREAM does). */
static int calibrate_stream(double budget_s, double *gbps)
{
    const size_t n = CALIB_STREAM_N;
    calib_arrays x = {.n = n};
    if (calib_arrays_alloc(&x, n) != 0)
        return -1;
    /* Non-trivial values touch every page before timing (no first-touch
     * faults in the measurement) and keep the arithmetic away from zeros. */
    for (size_t i = 0; i < n; i++) {
        x.a[i] = 0.0f;
        x.b[i] = 1.0f + (float)(i % 1021) * 0.001f;
        x.c[i] = 0.5f - (float)(i % 997) * 0.0005f;
    }
    int rc = median_rate(op_triad, &x, 3.0 * (double)n * sizeof(float), budget_s, gbps);
    calib_arrays_free(&x);
    return rc;
}

int bench_host_calibrate(bench_host *h, double budget_s)
{
    if (!(budget_s > 0.0))
        budget_s = 0.0; /* still runs the minimum repetitions */

    /* One BLAS thread: the figure is per core, comparable across machines
     * whatever their core count. */
    lore_blas_info before;
    lore_blas_get_info(&before);
    lore_blas_set_threads(1);

    double gflops = 0.0, gbps = 0.0;
    int rc = calibrate_sgemm(budget_s / 2, &gflops);
    if (rc == 0)
        rc = calibrate_stream(budget_s / 2, &gbps);

    lore_blas_set_threads(before.n_threads >= 1 ? before.n_threads : 1);
    if (rc != 0)
        return -1;
    h->calib_sgemm_gflops = gflops;
    h->calib_stream_gbps = gbps;
    h->calibrated = true;
    return 0;
}

/* ---- JSON -------------------------------------------------------------- */

static cJSON *add_bool(cJSON *obj, const char *key, bool v)
{
    return cJSON_AddBoolToObject(obj, key, v ? 1 : 0);
}

/* A string that means "absent" when empty is written as JSON null. */
static cJSON *add_string_or_null(cJSON *obj, const char *key, const char *s)
{
    return s && s[0] ? cJSON_AddStringToObject(obj, key, s) : cJSON_AddNullToObject(obj, key);
}

cJSON *bench_host_to_json(const bench_host *h)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;

    cJSON *cpu = cJSON_AddObjectToObject(root, "cpu");
    if (!cpu || !cJSON_AddStringToObject(cpu, "model", h->cpu_model))
        goto fail;
    cJSON *flags = cJSON_AddObjectToObject(cpu, "flags");
    if (!flags || !add_bool(flags, "avx2", h->has_avx2) || !add_bool(flags, "fma", h->has_fma) ||
        !add_bool(flags, "avx512f", h->has_avx512f) ||
        !add_bool(flags, "avx512_bf16", h->has_avx512_bf16) || !add_bool(flags, "amx", h->has_amx))
        goto fail;
    if (!cJSON_AddNumberToObject(cpu, "cores", h->n_cores))
        goto fail;

    if (!cJSON_AddNumberToObject(root, "memory_bytes", (double)h->mem_total_bytes) ||
        !cJSON_AddStringToObject(root, "kernel", h->kernel))
        goto fail;

    cJSON *build = cJSON_AddObjectToObject(root, "build");
    if (!build || !cJSON_AddStringToObject(build, "compiler", h->compiler) ||
        !cJSON_AddStringToObject(build, "c_flags", h->c_flags) ||
        !cJSON_AddStringToObject(build, "build_type", h->build_type) ||
        !add_bool(build, "sanitized", h->sanitized))
        goto fail;

    cJSON *git = cJSON_AddObjectToObject(root, "git");
    if (!git || !cJSON_AddStringToObject(git, "commit", h->git_commit) ||
        !add_bool(git, "dirty", h->git_dirty))
        goto fail;

    cJSON *clock = cJSON_AddObjectToObject(root, "clock");
    if (!clock || !cJSON_AddStringToObject(clock, "source", h->clock_source) ||
        !cJSON_AddNumberToObject(clock, "cost_ns", h->clock_cost_ns) ||
        !cJSON_AddNumberToObject(clock, "resolution_ns", (double)h->clock_res_ns))
        goto fail;

    cJSON *blas = cJSON_AddObjectToObject(root, "blas");
    if (!blas || !cJSON_AddStringToObject(blas, "library", h->blas.library) ||
        !cJSON_AddStringToObject(blas, "config", h->blas.config) ||
        !cJSON_AddStringToObject(blas, "core", h->blas.core) ||
        !cJSON_AddNumberToObject(blas, "threads", h->blas.n_threads) ||
        !cJSON_AddNumberToObject(blas, "threads_max", h->blas.n_threads_max) ||
        !add_string_or_null(blas, "coretype_env", h->blas_coretype_env) ||
        !add_bool(blas, "generic_on_simd_cpu", h->blas_generic_on_simd_cpu) ||
        !add_string_or_null(blas, "warning", h->blas_warning) ||
        !add_string_or_null(blas, "core_request", h->blas_core_request) ||
        !add_bool(blas, "self_check_passed", h->blas_self_check_passed))
        goto fail;

    if (h->calibrated) {
        cJSON *calib = cJSON_AddObjectToObject(root, "calibration");
        if (!calib || !cJSON_AddNumberToObject(calib, "sgemm_gflops", h->calib_sgemm_gflops) ||
            !cJSON_AddNumberToObject(calib, "stream_gbps", h->calib_stream_gbps))
            goto fail;
    } else if (!cJSON_AddNullToObject(root, "calibration")) {
        goto fail;
    }
    return root;

fail:
    cJSON_Delete(root);
    return NULL;
}

/* ---- BLAS self-check --------------------------------------------------- */

/*
 * One product checked against a double-precision triple loop. The bound is the
 * classic worst case for a float dot product of length k, |c - ref| <=
 * k * u * sum|a||b| with u = FLT_EPSILON / 2, taken with a 4x margin and
 * against the largest sum|a||b| of the product (robust where ref cancels to
 * near zero). Any correct blocking or FMA order stays inside it; a wrong
 * kernel misses by orders of magnitude.
 */
static int check_one(int m, int n, int k, uint64_t seed, bench_err *e)
{
    const size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
    int rc = -1;
    float *a = malloc(na * sizeof *a);
    float *b = malloc(nb * sizeof *b);
    float *c = malloc(nc * sizeof *c);
    if (!a || !b || !c) {
        bench_err_set(e, "BLAS self-check: out of memory (sgemm m=%d n=%d k=%d)", m, n, k);
        goto done;
    }
    fill_uniform(a, na, seed);
    fill_uniform(b, nb, seed * 31 + 7);
    /* sgemm must overwrite C: a sentinel left behind shows up as a huge error. */
    for (size_t i = 0; i < nc; i++)
        c[i] = 1e30f;

    lore_status st = lore_blas_sgemm(m, n, k, a, b, c);
    if (st != LORE_OK) {
        bench_err_set(e, "BLAS self-check failed: sgemm m=%d n=%d k=%d: %s: %s", m, n, k,
                      lore_strerror(st), lore_last_error());
        goto done;
    }

    double max_err = 0.0, max_abs_sum = 0.0;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double ref = 0.0, abs_sum = 0.0;
            for (int p = 0; p < k; p++) {
                double x = (double)a[(size_t)i * k + p] * (double)b[(size_t)p * n + j];
                ref += x;
                abs_sum += fabs(x);
            }
            float got = c[(size_t)i * n + j];
            double err = isfinite(got) ? fabs((double)got - ref) : INFINITY;
            if (err > max_err)
                max_err = err;
            if (abs_sum > max_abs_sum)
                max_abs_sum = abs_sum;
        }
    }
    double tol = 4.0 * k * (FLT_EPSILON / 2) * max_abs_sum;
    if (!(max_err <= tol)) {
        lore_blas_info info;
        lore_blas_get_info(&info);
        bench_err_set(e,
                      "BLAS self-check failed: sgemm m=%d n=%d k=%d: max abs error %.3g vs "
                      "tolerance %.3g (core %s)",
                      m, n, k, max_err, tol, info.core);
        goto done;
    }
    rc = 0;
done:
    free(c);
    free(b);
    free(a);
    return rc;
}

int bench_blas_self_check(bench_err *e)
{
    /* Odd sizes, so edge tiles of every blocked kernel are exercised; the
     * second is large enough for OpenBLAS to take its packed (and possibly
     * threaded) path. */
    static const int sizes[][3] = {{37, 53, 71}, {128, 96, 200}, {1, 17, 5}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (check_one(sizes[i][0], sizes[i][1], sizes[i][2], 0x5e1fc4ecull + i, e) != 0)
            return -1;
    return 0;
}
