/*
 * test_counters.c - the engine's counters read back through PAPI's SDE
 * component, and unavailable counters reported with a reason, never as 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lore/lore.h"
#include "measure/counters.h"

static size_t find(const bench_counters *c, const char *name)
{
    for (size_t i = 0; i < bench_counters_count(c); i++)
        if (strcmp(bench_counters_name(c, i), name) == 0)
            return i;
    fail_msg("counter %s not in the set", name);
    return 0;
}

static void sgemm_once(int m, int n, int k)
{
    float *a = calloc((size_t)m * k, sizeof *a);
    float *b = calloc((size_t)k * n, sizeof *b);
    float *c = calloc((size_t)m * n, sizeof *c);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(lore_blas_sgemm(m, n, k, a, b, c), LORE_OK);
    free(a);
    free(b);
    free(c);
}

static void test_default_set_has_every_engine_counter(void **state)
{
    (void)state;
    bench_counters *c = NULL;
    bench_err e = {{0}};
    assert_int_equal(bench_counters_open(NULL, 0, &c, &e), 0);
    assert_int_equal(bench_counters_count(c), bench_counters_n_default_hw + lore_counter_count());
    for (size_t i = 0; i < lore_counter_count(); i++) {
        char name[96];
        snprintf(name, sizeof name, "sde:::lore::%s", lore_counter_name((lore_counter)i));
        size_t at = find(c, name);
        assert_true(bench_counters_available(c, at));
        assert_string_equal(bench_counters_reason(c, at), "");
    }
    /* Hardware presets: either counted, or unavailable with PAPI's reason. */
    for (size_t i = 0; i < bench_counters_n_default_hw; i++) {
        size_t at = find(c, bench_counters_default_hw[i]);
        if (!bench_counters_available(c, at))
            assert_true(strlen(bench_counters_reason(c, at)) > 10);
    }
    bench_counters_close(c);
}

static void test_sde_counts_exact_flops_over_windows(void **state)
{
    (void)state;
    const char *names[] = {"sde:::lore::sgemm_flops", "sde:::lore::sgemm_calls"};
    bench_counters *c = NULL;
    bench_err e = {{0}};
    assert_int_equal(bench_counters_open(names, 2, &c, &e), 0);
    assert_true(bench_counters_available(c, 0));

    sgemm_once(8, 8, 8); /* outside any window: not counted */
    bench_counters_start(c);
    sgemm_once(3, 5, 7);
    sgemm_once(3, 5, 7);
    bench_counters_stop(c);
    sgemm_once(8, 8, 8); /* between windows: not counted */
    bench_counters_start(c);
    sgemm_once(2, 2, 2);
    bench_counters_stop(c);
    assert_int_equal(bench_counters_value(c, 0), 2 * (2 * 3 * 5 * 7) + 2 * 2 * 2 * 2);
    assert_int_equal(bench_counters_value(c, 1), 3);

    bench_counters_reset(c);
    assert_int_equal(bench_counters_value(c, 0), 0);
    bench_counters_close(c);
}

static void test_unknown_event_is_unavailable_with_reason(void **state)
{
    (void)state;
    const char *names[] = {"PAPI_NOT_AN_EVENT", "sde:::lore::no_such_counter",
                           "sde:::lore::stream_bytes"};
    bench_counters *c = NULL;
    bench_err e = {{0}};
    assert_int_equal(bench_counters_open(names, 3, &c, &e), 0);
    assert_false(bench_counters_available(c, 0));
    assert_non_null(strstr(bench_counters_reason(c, 0), "does not know"));
    assert_false(bench_counters_available(c, 1));
    assert_non_null(strstr(bench_counters_reason(c, 1), "no counter of that name"));
    assert_true(bench_counters_available(c, 2));
    /* Starting with unavailable members still counts the available one. */
    bench_counters_start(c);
    float a[1024] = {0}, b[1024] = {0}, out[1024];
    lore_calib_stream_triad(out, a, b, 2.0f, 1024);
    bench_counters_stop(c);
    assert_int_equal(bench_counters_value(c, 2), 3 * 1024 * 4);
    bench_counters_close(c);
}

static void test_close_accepts_null(void **state)
{
    (void)state;
    bench_counters_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_set_has_every_engine_counter),
        cmocka_unit_test(test_sde_counts_exact_flops_over_windows),
        cmocka_unit_test(test_unknown_event_is_unavailable_with_reason),
        cmocka_unit_test(test_close_accepts_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
