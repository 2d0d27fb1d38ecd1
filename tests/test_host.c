/*
 * test_host.c - the host block: /proc parsers on fixed text, the BLAS core
 * tables, collection and calibration on the live machine, the sgemm self-check
 * and the JSON form (round trip and an allocation-failure sweep).
 *
 * Live-machine tests assert only what holds on any machine (a core, some
 * memory, finite positive rates), never a speed: the VMs we run on are noisy.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* Two processors as the kernel writes them; only the first block counts. The
 * "model" line precedes "model name" so a prefix match would pick the wrong one. */
static const char CPUINFO_FULL[] =
    "processor\t: 0\n"
    "vendor_id\t: GenuineIntel\n"
    "cpu family\t: 6\n"
    "model\t\t: 143\n"
    "model name\t:   Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz  \n"
    "stepping\t: 8\n"
    "flags\t\t: fpu vme sse sse2 ssse3 fma cx16 sse4_1 avx f16c avx2 smep bmi2 avx512f "
    "avx512dq avx512cd avx512bw avx_vnni avx512_bf16 amx_bf16 avx512_fp16 amx_tile amx_int8\n"
    "bugs\t\t: spectre_v1\n"
    "\n"
    "processor\t: 1\n"
    "model name\t: Second Processor Should Not Be Used\n"
    "flags\t\t: fpu\n";

/* AVX-512F reported but AVX2 masked (as a VM may do); look-alike tokens around. */
static const char CPUINFO_AVX512_NO_AVX2[] = "processor\t: 0\n"
                                             "model name\t: Masked VM CPU\n"
                                             "flags\t\t: fpu sse2 avx avx2foo xavx2 fmax avx512f "
                                             "avx512_bf16x amx_bf16 amx_int8\n";

/* No AVX at all, with tokens that merely start like the ones we look for. */
static const char CPUINFO_NO_AVX[] = "processor\t: 0\n"
                                     "model name\t: Old Core\n"
                                     "flags\t\t: fpu sse sse2 pni avx512fx avx2_ fma4 amx_tilex\n";

/* ---- parsers --------------------------------------------------------------- */

static void test_parse_cpuinfo_full(void **state)
{
    (void)state;
    bench_host h;
    memset(&h, 0xff, sizeof h); /* the parser must set every field it owns */
    bench_host_parse_cpuinfo(CPUINFO_FULL, &h);
    assert_string_equal(h.cpu_model, "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz");
    assert_true(h.has_avx2);
    assert_true(h.has_fma);
    assert_true(h.has_avx512f);
    assert_true(h.has_avx512_bf16);
    assert_true(h.has_amx);
}

static void test_parse_cpuinfo_avx512_without_avx2(void **state)
{
    (void)state;
    bench_host h;
    memset(&h, 0xff, sizeof h);
    bench_host_parse_cpuinfo(CPUINFO_AVX512_NO_AVX2, &h);
    assert_string_equal(h.cpu_model, "Masked VM CPU");
    assert_false(h.has_avx2); /* only "avx2foo" and "xavx2" */
    assert_false(h.has_fma);  /* only "fmax" */
    assert_true(h.has_avx512f);
    assert_false(h.has_avx512_bf16); /* only "avx512_bf16x" */
    assert_false(h.has_amx);         /* amx_bf16 and amx_int8 but no amx_tile */
}

static void test_parse_cpuinfo_no_avx(void **state)
{
    (void)state;
    bench_host h;
    memset(&h, 0xff, sizeof h);
    bench_host_parse_cpuinfo(CPUINFO_NO_AVX, &h);
    assert_string_equal(h.cpu_model, "Old Core");
    assert_false(h.has_avx2);
    assert_false(h.has_fma); /* "fma4" is AMD's other FMA, not FMA3 */
    assert_false(h.has_avx512f);
    assert_false(h.has_avx512_bf16);
    assert_false(h.has_amx);
}

static void test_parse_cpuinfo_missing(void **state)
{
    (void)state;
    bench_host h;
    memset(&h, 0xff, sizeof h);
    bench_host_parse_cpuinfo("processor\t: 0\nBogoMIPS\t: 50.00\n", &h);
    assert_string_equal(h.cpu_model, "unknown");
    assert_false(h.has_avx2);
    assert_false(h.has_avx512f);

    memset(&h, 0xff, sizeof h);
    bench_host_parse_cpuinfo(NULL, &h);
    assert_string_equal(h.cpu_model, "unknown");
    assert_false(h.has_fma);
    assert_false(h.has_amx);
}

static void test_parse_meminfo(void **state)
{
    (void)state;
    /* MemTotal not first; "MemTotalX" must not be taken for it. */
    static const char text[] = "MemFree:         1000000 kB\n"
                               "MemTotalX:             7 kB\n"
                               "MemTotal:       24576044 kB\n"
                               "MemAvailable:   20000000 kB\n";
    assert_int_equal(bench_host_parse_meminfo_total(text), (int64_t)24576044 * 1024);
    assert_int_equal(bench_host_parse_meminfo_total("MemTotal: 1 kB"), 1024);
    /* 2 TiB: past 32 bits, must not wrap. */
    assert_int_equal(bench_host_parse_meminfo_total("MemTotal:   2147483648 kB\n"),
                     (int64_t)2147483648 * 1024);
    assert_int_equal(bench_host_parse_meminfo_total("MemFree: 5 kB\n"), 0);
    assert_int_equal(bench_host_parse_meminfo_total("MemTotal: lots\n"), 0);
    assert_int_equal(bench_host_parse_meminfo_total(""), 0);
    assert_int_equal(bench_host_parse_meminfo_total(NULL), 0);
}

/* ---- BLAS core tables ------------------------------------------------------ */

static void test_core_is_generic(void **state)
{
    (void)state;
    static const struct {
        const char *core;
        bool generic;
    } cases[] = {
        {"Prescott", true},    {"PRESCOTT", true},
        {"prescott", true},    {"Core2", true},
        {"Penryn", true},      {"Dunnington", true},
        {"Nehalem", true},     {"Atom", true},
        {"Katmai", true},      {"Coppermine", true},
        {"Northwood", true},   {"Banias", true},
        {"Opteron", true},     {"Barcelona", true},
        {"Bobcat", true},      {"Sandybridge", true},
        {"SANDYBRIDGE", true}, {"generic", true},
        {"Unknown", true},     {"", true},
        {NULL, true},          {"Haswell", false},
        {"HASWELL", false},    {"SkylakeX", false},
        {"Cooperlake", false}, {"SapphireRapids", false},
        {"Zen", false},        {"Prescott2", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = bench_blas_core_is_generic(cases[i].core);
        if (got != cases[i].generic)
            fail_msg("bench_blas_core_is_generic(\"%s\") = %d, expected %d",
                     cases[i].core ? cases[i].core : "(null)", got, cases[i].generic);
    }
}

static void test_core_for_host(void **state)
{
    (void)state;
    bench_host h;
    memset(&h, 0, sizeof h);

    h.has_avx2 = h.has_fma = h.has_avx512f = true;
    assert_string_equal(bench_blas_core_for_host(&h), "SkylakeX");

    h.has_avx512f = false;
    assert_string_equal(bench_blas_core_for_host(&h), "Haswell");

    h.has_avx2 = h.has_fma = false;
    assert_null(bench_blas_core_for_host(&h));

    /* AVX2 without FMA: Haswell kernels use FMA, so nothing better is known. */
    h.has_avx2 = true;
    assert_null(bench_blas_core_for_host(&h));
}

/* ---- live machine ---------------------------------------------------------- */

static void test_collect_live(void **state)
{
    (void)state;
    bench_host h;
    memset(&h, 0xff, sizeof h); /* calibrated must come back false, not garbage */
    bench_host_collect(&h);
    assert_true(h.n_cores >= 1);
    assert_true(h.mem_total_bytes > 0);
    assert_true(h.blas.core[0] != '\0');
    assert_true(h.blas.n_threads >= 1);
    assert_true(h.clock_cost_ns > 0.0);
    assert_true(h.clock_res_ns > 0);
    assert_true(h.cpu_model[0] != '\0');
    assert_true(h.kernel[0] != '\0');
    assert_true(h.compiler[0] != '\0');
    assert_true(h.git_commit[0] != '\0');
    assert_false(h.calibrated);

    /* The generic-kernel flag follows from the core and the CPU flags, and its
     * warning names the running core and, when there is one, the better core. */
    bool expect = bench_blas_core_is_generic(h.blas.core) && (h.has_avx2 || h.has_avx512f);
    assert_int_equal(h.blas_generic_on_simd_cpu, expect);
    if (expect) {
        assert_non_null(strstr(h.blas_warning, h.blas.core));
        const char *best = bench_blas_core_for_host(&h);
        if (best)
            assert_non_null(strstr(h.blas_warning, best));
    } else {
        assert_string_equal(h.blas_warning, "");
    }
}

static void test_collect_coretype_env(void **state)
{
    (void)state;
    const char *old = getenv("OPENBLAS_CORETYPE");
    char *saved = old ? strdup(old) : NULL;
    bench_host h;

    /* OpenBLAS reads the variable only at load time; the host block reports
     * what the environment says, which is what a user would check. */
    assert_int_equal(setenv("OPENBLAS_CORETYPE", "Haswell", 1), 0);
    bench_host_collect(&h);
    assert_string_equal(h.blas_coretype_env, "Haswell");

    assert_int_equal(unsetenv("OPENBLAS_CORETYPE"), 0);
    bench_host_collect(&h);
    assert_string_equal(h.blas_coretype_env, "");

    if (saved)
        setenv("OPENBLAS_CORETYPE", saved, 1);
    free(saved);
}

static void test_blas_self_check(void **state)
{
    (void)state;
    bench_err e = {{0}};
    int rc = bench_blas_self_check(&e);
    if (rc != 0)
        fail_msg("%s", e.msg);
    assert_string_equal(e.msg, "");
}

static void test_calibrate(void **state)
{
    (void)state;
    lore_blas_info original, before, after;
    lore_blas_get_info(&original);
    lore_blas_set_threads(2); /* clamped to the maximum on a 1-core machine */
    lore_blas_get_info(&before);

    bench_host h;
    bench_host_collect(&h);
    assert_int_equal(bench_host_calibrate(&h, 0.2), 0);
    assert_true(h.calibrated);
    assert_true(isfinite(h.calib_sgemm_gflops));
    assert_true(h.calib_sgemm_gflops > 0.0);
    assert_true(isfinite(h.calib_stream_gbps));
    assert_true(h.calib_stream_gbps > 0.0);

    lore_blas_get_info(&after);
    lore_blas_set_threads(original.n_threads);
    assert_int_equal(after.n_threads, before.n_threads);
    print_message("calibration: sgemm %.1f GFLOP/s, stream %.1f GB/s, BLAS core %s\n",
                  h.calib_sgemm_gflops, h.calib_stream_gbps, h.blas.core);
}

/* ---- JSON ------------------------------------------------------------------ */

/* A host block with known values, so the JSON can be checked field by field. */
static void fixed_host(bench_host *h)
{
    memset(h, 0, sizeof *h);
    bench_host_parse_cpuinfo(CPUINFO_FULL, h);
    h->n_cores = 2;
    h->mem_total_bytes = (int64_t)24576044 * 1024;
    strcpy(h->kernel, "Linux 6.1.0-test x86_64");
    strcpy(h->compiler, "gcc 12.2.0");
    strcpy(h->c_flags, "-O2 -g");
    strcpy(h->build_type, "RelWithDebInfo");
    h->sanitized = true;
    strcpy(h->git_commit, "0123456789abcdef0123456789abcdef01234567");
    h->git_dirty = true;
    strcpy(h->clock_source, "kvm-clock");
    h->clock_cost_ns = 26.5;
    h->clock_res_ns = 1;
    strcpy(h->blas.library, "OpenBLAS");
    strcpy(h->blas.config, "OpenBLAS 0.3.21 DYNAMIC_ARCH");
    strcpy(h->blas.core, "Prescott");
    h->blas.n_threads = 1;
    h->blas.n_threads_max = 2;
    strcpy(h->blas_coretype_env, "");
    h->blas_generic_on_simd_cpu = true;
    strcpy(h->blas_warning, "generic kernels");
    h->calibrated = true;
    h->calib_sgemm_gflops = 123.25;
    h->calib_stream_gbps = 9.5;
}

static cJSON *object_at(const cJSON *obj, const char *key)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsObject(item))
        fail_msg("\"%s\" is not an object", key);
    return item;
}

static void check_string(const cJSON *obj, const char *key, const char *want)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(item))
        fail_msg("\"%s\" is not a string", key);
    assert_string_equal(item->valuestring, want);
}

static void check_number(const cJSON *obj, const char *key, double want)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(item))
        fail_msg("\"%s\" is not a number", key);
    assert_true(item->valuedouble == want);
}

static void check_bool(const cJSON *obj, const char *key, bool want)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsBool(item))
        fail_msg("\"%s\" is not a bool", key);
    assert_int_equal(cJSON_IsTrue(item) ? 1 : 0, want ? 1 : 0);
}

static void check_null(const cJSON *obj, const char *key)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNull(item))
        fail_msg("\"%s\" is not null", key);
}

/* Serialises and parses back, so what is checked is what a reader sees. */
static cJSON *round_trip(const bench_host *h)
{
    cJSON *json = bench_host_to_json(h);
    assert_non_null(json);
    char *text = cJSON_Print(json);
    assert_non_null(text);
    cJSON_Delete(json);
    cJSON *back = cJSON_Parse(text);
    cJSON_free(text);
    assert_non_null(back);
    return back;
}

static void test_to_json_round_trip(void **state)
{
    (void)state;
    bench_host h;
    fixed_host(&h);
    cJSON *j = round_trip(&h);

    cJSON *cpu = object_at(j, "cpu");
    check_string(cpu, "model", "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz");
    check_number(cpu, "cores", 2);
    cJSON *flags = object_at(cpu, "flags");
    check_bool(flags, "avx2", true);
    check_bool(flags, "fma", true);
    check_bool(flags, "avx512f", true);
    check_bool(flags, "avx512_bf16", true);
    check_bool(flags, "amx", true);
    check_number(j, "memory_bytes", 24576044.0 * 1024);
    check_string(j, "kernel", "Linux 6.1.0-test x86_64");

    cJSON *build = object_at(j, "build");
    check_string(build, "compiler", "gcc 12.2.0");
    check_string(build, "c_flags", "-O2 -g");
    check_string(build, "build_type", "RelWithDebInfo");
    check_bool(build, "sanitized", true);

    cJSON *git = object_at(j, "git");
    check_string(git, "commit", "0123456789abcdef0123456789abcdef01234567");
    check_bool(git, "dirty", true);

    cJSON *clock = object_at(j, "clock");
    check_string(clock, "source", "kvm-clock");
    check_number(clock, "cost_ns", 26.5);
    check_number(clock, "resolution_ns", 1);

    cJSON *blas = object_at(j, "blas");
    check_string(blas, "library", "OpenBLAS");
    check_string(blas, "config", "OpenBLAS 0.3.21 DYNAMIC_ARCH");
    check_string(blas, "core", "Prescott");
    check_number(blas, "threads", 1);
    check_number(blas, "threads_max", 2);
    check_null(blas, "coretype_env");
    check_bool(blas, "generic_on_simd_cpu", true);
    check_string(blas, "warning", "generic kernels");

    cJSON *calib = object_at(j, "calibration");
    check_number(calib, "sgemm_gflops", 123.25);
    check_number(calib, "stream_gbps", 9.5);
    cJSON_Delete(j);

    /* Uncalibrated, with the environment variable set and no warning. */
    h.calibrated = false;
    strcpy(h.blas_coretype_env, "SkylakeX");
    h.blas_generic_on_simd_cpu = false;
    h.blas_warning[0] = '\0';
    j = round_trip(&h);
    check_null(j, "calibration");
    blas = object_at(j, "blas");
    check_string(blas, "coretype_env", "SkylakeX");
    check_bool(blas, "generic_on_simd_cpu", false);
    check_null(blas, "warning");
    cJSON_Delete(j);
}

static void test_to_json_live(void **state)
{
    (void)state;
    bench_host h;
    bench_host_collect(&h);
    cJSON *j = round_trip(&h);
    check_number(object_at(j, "cpu"), "cores", h.n_cores);
    check_string(object_at(j, "blas"), "core", h.blas.core);
    check_null(j, "calibration");
    cJSON_Delete(j);
}

/* cJSON allocation hooks that fail the Nth allocation and count live blocks. */
static int g_alloc_countdown; /* fail when it reaches 0; < 0: never */
static int g_alloc_live;

static void *failing_malloc(size_t size)
{
    if (g_alloc_countdown == 0)
        return NULL;
    if (g_alloc_countdown > 0)
        g_alloc_countdown--;
    void *p = malloc(size);
    if (p)
        g_alloc_live++;
    return p;
}

static void counting_free(void *p)
{
    if (p)
        g_alloc_live--;
    free(p);
}

static void test_to_json_oom_sweep(void **state)
{
    (void)state;
    bench_host h;
    fixed_host(&h);
    cJSON_Hooks hooks = {failing_malloc, counting_free};
    cJSON_InitHooks(&hooks);

    /* Fail the 0th, 1st, ... allocation until the object builds: each failure
     * must give NULL and leave nothing allocated. */
    int n;
    for (n = 0; n < 1000; n++) {
        g_alloc_countdown = n;
        g_alloc_live = 0;
        cJSON *j = bench_host_to_json(&h);
        if (j) {
            cJSON_Delete(j);
            assert_int_equal(g_alloc_live, 0);
            break;
        }
        if (g_alloc_live != 0) {
            cJSON_InitHooks(NULL);
            fail_msg("allocation %d failed: %d blocks leaked", n, g_alloc_live);
        }
    }
    cJSON_InitHooks(NULL);
    assert_true(n > 10); /* the sweep really went through the object */
    assert_true(n < 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_cpuinfo_full),
        cmocka_unit_test(test_parse_cpuinfo_avx512_without_avx2),
        cmocka_unit_test(test_parse_cpuinfo_no_avx),
        cmocka_unit_test(test_parse_cpuinfo_missing),
        cmocka_unit_test(test_parse_meminfo),
        cmocka_unit_test(test_core_is_generic),
        cmocka_unit_test(test_core_for_host),
        cmocka_unit_test(test_collect_live),
        cmocka_unit_test(test_collect_coretype_env),
        cmocka_unit_test(test_blas_self_check),
        cmocka_unit_test(test_calibrate),
        cmocka_unit_test(test_to_json_round_trip),
        cmocka_unit_test(test_to_json_live),
        cmocka_unit_test(test_to_json_oom_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
