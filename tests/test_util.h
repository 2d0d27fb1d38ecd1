/*
 * test_util.h - what the tests need beyond cmocka 1.1 (whose float assertion
 * rounds to float). Include after <cmocka.h>.
 */
#ifndef LORE_TEST_UTIL_H
#define LORE_TEST_UTIL_H

#include <math.h>

#ifndef assert_double_equal
#define assert_double_equal(a, b, eps)                                                             \
    do {                                                                                           \
        double a_ = (a), b_ = (b), eps_ = (eps);                                                   \
        if (!(fabs(a_ - b_) <= eps_))                                                              \
            fail_msg("%s = %.17g, expected %s = %.17g (+- %g)", #a, a_, #b, b_, eps_);             \
    } while (0)
#endif

#endif
