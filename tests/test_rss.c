/*
 * test_rss.c - the RSS readers: parsing /proc status text, live reads, and
 * resetting the high-water mark between points.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/mman.h>

#include "measure/rss.h"

static void test_parse_status(void **state)
{
    (void)state;
    const char *text = "Name:\tlore-bench\n"
                       "VmPeak:\t  300000 kB\n"
                       "VmHWM:\t    12345 kB\n"
                       "VmRSS:\t    10240 kB\n"
                       "RssAnon:\t 5000 kB\n";
    bench_rss r;
    assert_int_equal(bench_rss_parse_status(text, &r), 0);
    assert_int_equal(r.current_bytes, 10240 * 1024LL);
    assert_int_equal(r.peak_bytes, 12345 * 1024LL);
}

static void test_parse_status_missing_fields(void **state)
{
    (void)state;
    bench_rss r;
    assert_int_equal(bench_rss_parse_status("Name:\tx\nVmRSS:\t 10 kB\n", &r), -1);
    assert_int_equal(bench_rss_parse_status("VmHWM:\t 10 kB\n", &r), -1);
    assert_int_equal(bench_rss_parse_status("", &r), -1);
    /* A key that only starts like the one wanted does not count. */
    assert_int_equal(bench_rss_parse_status("VmRSSx:\t 1 kB\nVmHWM:\t 2 kB\n", &r), -1);
    assert_int_equal(bench_rss_parse_status("VmRSS:\t kB\nVmHWM:\t 2 kB\n", &r), -1);
}

static void test_live_read(void **state)
{
    (void)state;
    bench_rss r;
    assert_int_equal(bench_rss_read(&r), 0);
    assert_true(r.current_bytes > 0);
    assert_true(r.peak_bytes >= r.current_bytes);
}

static void touch_and_release(size_t bytes)
{
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    memset(p, 1, bytes);
    munmap(p, bytes);
}

static void test_peak_follows_allocation_and_resets(void **state)
{
    (void)state;
    const size_t big = 64u << 20;
    bench_rss before, after_touch, after_reset;
    assert_int_equal(bench_rss_read(&before), 0);
    touch_and_release(big);
    assert_int_equal(bench_rss_read(&after_touch), 0);
    /* The pages are gone but the high-water mark remembers them. */
    assert_true(after_touch.peak_bytes >= before.current_bytes + (int64_t)(60u << 20));
    if (!bench_rss_reset_peak()) {
        print_message("clear_refs refused: peak reset unsupported here\n");
        skip();
    }
    assert_int_equal(bench_rss_read(&after_reset), 0);
    assert_true(after_reset.peak_bytes < after_touch.peak_bytes - (int64_t)(32u << 20));
    assert_true(after_reset.peak_bytes >= after_reset.current_bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_status),
        cmocka_unit_test(test_parse_status_missing_fields),
        cmocka_unit_test(test_live_read),
        cmocka_unit_test(test_peak_follows_allocation_and_resets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
