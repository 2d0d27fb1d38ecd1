/*
 * host.h - what machine, build and BLAS a result was measured on.
 *
 * Every result carries a host block, so a number is never read without its
 * context: CPU and its SIMD features, cores, memory, kernel, compiler and
 * flags, build type, BLAS library, kernel family ("core") and threads, git
 * commit, the clock and its cost, and a short calibration (sgemm GFLOP/s,
 * memory GB/s) for normalising across machines.
 */
#ifndef BENCH_HOST_H
#define BENCH_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "lore/lore.h"
#include "util.h"

typedef struct bench_host {
    char cpu_model[128];
    bool has_avx2;
    bool has_fma;
    bool has_avx512f;
    bool has_avx512_bf16;
    bool has_amx;
    int n_cores;             /* online processors */
    int64_t mem_total_bytes; /* MemTotal, 0 if unknown */
    char kernel[160];        /* "Linux 6.1.0-... x86_64" */
    char compiler[128];      /* __VERSION__ of the compiler that built lore-bench */
    char c_flags[256];       /* compile flags of the build */
    char build_type[32];     /* CMake build type */
    bool sanitized;          /* built with ASan/UBSan */
    char git_commit[48];     /* "unknown" when not in a git checkout */
    bool git_dirty;
    char clock_source[32]; /* kernel clocksource ("kvm-clock", "tsc"), or "unknown" */
    double clock_cost_ns;  /* measured cost of one clock read */
    int64_t clock_res_ns;  /* clock_getres of the monotonic clock */
    lore_blas_info blas;
    char blas_coretype_env[64]; /* OPENBLAS_CORETYPE as set in the environment, "" if unset */
    /* Set when BLAS runs a generic kernel on a CPU that has AVX2 or AVX-512;
     * blas_warning then says so and how to fix it. */
    bool blas_generic_on_simd_cpu;
    char blas_warning[320];
    /* --blas-core: what was asked ("auto", "SkylakeX"; "" when not used) and
     * whether the sgemm self-check passed on the core that then ran. */
    char blas_core_request[64];
    bool blas_self_check_passed;
    /* Calibration; calibrated is false until bench_host_calibrate succeeds. */
    bool calibrated;
    double calib_sgemm_gflops; /* 1 BLAS thread, 256^3 */
    double calib_stream_gbps;  /* triad, arrays well past the LLC */
} bench_host;

/* Fills everything but the calibration. Never fails: unknown fields say "unknown". */
void bench_host_collect(bench_host *h);

/*
 * Runs the calibration kernels (about budget_s seconds in all) and fills the
 * calib_* fields. Restores the BLAS thread count it found. Returns 0, or -1 on
 * allocation failure.
 */
int bench_host_calibrate(bench_host *h, double budget_s);

/* The host block of a result (schema in README). NULL on allocation failure. */
cJSON *bench_host_to_json(const bench_host *h);

/* Parsers, exposed for tests: text is the content of /proc/cpuinfo or /proc/meminfo. */
void bench_host_parse_cpuinfo(const char *text, bench_host *h);
int64_t bench_host_parse_meminfo_total(const char *text);

/* True for OpenBLAS kernel families that use no AVX2/AVX-512 ("Prescott", "Nehalem", ...). */
bool bench_blas_core_is_generic(const char *core);

/* The OpenBLAS core to use on this CPU for `--blas-core auto`, or NULL for none better. */
const char *bench_blas_core_for_host(const bench_host *h);

/*
 * sgemm through the engine against a naive reference on odd sizes; returns 0
 * when the largest relative error is within tolerance, else -1 with e saying
 * by how much.
 */
int bench_blas_self_check(bench_err *e);

#endif
