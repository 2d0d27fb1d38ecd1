/*
 * test_engine_core.c - liblore's core: status table, last error, counters,
 * sgemm against a naive reference, and the triad kernel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lore/lore.h"
#include "test_util.h"

static void test_status_table(void **state)
{
    (void)state;
    const lore_status all[] = {
#define X_(name, value, text) name,
        LORE_STATUS_LIST(X_)
#undef X_
    };
    size_t n = sizeof all / sizeof all[0];
    assert_string_equal(lore_strerror(LORE_OK), "ok");
    for (size_t i = 0; i < n; i++) {
        assert_true(strlen(lore_strerror(all[i])) > 1);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(lore_strerror(all[i]), lore_strerror(all[j]));
    }
    assert_string_equal(lore_strerror((lore_status)999), "unknown status");
}

static void test_sgemm_rejects_bad_input(void **state)
{
    (void)state;
    float x[4] = {0};
    assert_int_equal(lore_blas_sgemm(0, 2, 2, x, x, x), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "m=0"));
    assert_int_equal(lore_blas_sgemm(2, 2, 2, NULL, x, x), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "NULL"));
    assert_int_equal(lore_blas_set_threads(0), LORE_EINVAL);
    assert_non_null(strstr(lore_last_error(), "got 0"));
}

static void *other_thread(void *arg)
{
    (void)arg;
    return (void *)lore_last_error();
}

static void test_last_error_is_per_thread(void **state)
{
    (void)state;
    assert_int_equal(lore_blas_set_threads(-3), LORE_EINVAL);
    pthread_t t;
    void *seen = NULL;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, &seen);
    assert_string_equal((const char *)seen, "");
    assert_non_null(strstr(lore_last_error(), "-3"));
}

static void test_sgemm_matches_reference_on_odd_sizes(void **state)
{
    (void)state;
    const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 1, 33}, {31, 29, 65}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = malloc((size_t)m * k * sizeof *a);
        float *b = malloc((size_t)k * n * sizeof *b);
        float *c = malloc((size_t)m * n * sizeof *c);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(c);
        for (int i = 0; i < m * k; i++)
            a[i] = (float)((i * 37) % 19) / 19.0f - 0.5f;
        for (int i = 0; i < k * n; i++)
            b[i] = (float)((i * 11) % 23) / 23.0f - 0.5f;
        int64_t flops_before = lore_counter_read(LORE_COUNTER_SGEMM_FLOPS);
        assert_int_equal(lore_blas_sgemm(m, n, k, a, b, c), LORE_OK);
        assert_int_equal(lore_counter_read(LORE_COUNTER_SGEMM_FLOPS) - flops_before,
                         2LL * m * n * k);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double ref = 0;
                for (int p = 0; p < k; p++)
                    ref += (double)a[i * k + p] * b[p * n + j];
                assert_double_equal(c[i * n + j], ref, 1e-5 * k);
            }
        free(a);
        free(b);
        free(c);
    }
}

static void test_triad(void **state)
{
    (void)state;
    enum { N = 1031 };
    float a[N], b[N], c[N];
    for (int i = 0; i < N; i++) {
        b[i] = (float)i;
        c[i] = (float)(N - i);
    }
    int64_t before = lore_counter_read(LORE_COUNTER_STREAM_BYTES);
    lore_calib_stream_triad(a, b, c, 0.5f, N);
    for (int i = 0; i < N; i++)
        assert_float_equal(a[i], (float)i + 0.5f * (float)(N - i), 1e-4);
    assert_int_equal(lore_counter_read(LORE_COUNTER_STREAM_BYTES) - before, 3 * N * 4);
}

static void test_counter_table(void **state)
{
    (void)state;
    assert_int_equal(lore_counter_count(), LORE_COUNTER_COUNT_);
    for (size_t i = 0; i < lore_counter_count(); i++) {
        assert_non_null(lore_counter_name((lore_counter)i));
        assert_non_null(lore_counter_description((lore_counter)i));
        assert_null(strchr(lore_counter_name((lore_counter)i), ':'));
    }
    assert_null(lore_counter_name(LORE_COUNTER_COUNT_));
    assert_null(lore_counter_description((lore_counter)-1));
    assert_int_equal(lore_counter_read(LORE_COUNTER_COUNT_), 0);
}

static void test_blas_info(void **state)
{
    (void)state;
    lore_blas_info info;
    lore_blas_get_info(&info);
    assert_string_equal(info.library, "OpenBLAS");
    assert_true(strlen(info.core) > 0);
    assert_true(info.n_threads >= 1);
    int before = info.n_threads;
    assert_int_equal(lore_blas_set_threads(1), LORE_OK);
    lore_blas_get_info(&info);
    assert_int_equal(info.n_threads, 1);
    lore_blas_set_threads(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_sgemm_rejects_bad_input),
        cmocka_unit_test(test_last_error_is_per_thread),
        cmocka_unit_test(test_sgemm_matches_reference_on_odd_sizes),
        cmocka_unit_test(test_triad),
        cmocka_unit_test(test_counter_table),
        cmocka_unit_test(test_blas_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
