/* test_util.h — a tiny test harness.
 *
 *   CHECK(cond)                 counts a pass, or prints file:line and counts a failure
 *   CHECKF(cond, fmt, ...)      the same, printing a message on failure
 *   CHECK_OK(expr)              expr returns WEFT_OK (prints weft_errmsg otherwise)
 *   CHECK_EQ_U(a, b)            unsigned integers, both printed in hex on failure
 *   CHECK_NEAR(a, b, tol)       |a - b| <= tol, as doubles
 *   return test_summary();      prints "N passed, M failed"; exit status 1 on any failure
 *
 * Each test program includes this once; the counters are per program. */
#ifndef WEFT_TEST_UTIL_H
#define WEFT_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "weft/base.h"

static long test_passes_, test_failures_;

#define CHECKF(cond, ...) do {                                                   \
        if (cond) test_passes_++;                                                \
        else {                                                                   \
            test_failures_++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

#define CHECK(cond) CHECKF(cond, "%s", "")

#define CHECK_OK(expr) do {                                                      \
        weft_status check_s_ = (expr);                                           \
        CHECKF(check_s_ == WEFT_OK, "%s: %s", weft_status_name(check_s_), weft_errmsg()); \
    } while (0)

#define CHECK_EQ_U(a, b) do {                                                    \
        unsigned long long check_a_ = (unsigned long long)(a);                   \
        unsigned long long check_b_ = (unsigned long long)(b);                   \
        CHECKF(check_a_ == check_b_, "%#llx != %#llx", check_a_, check_b_);      \
    } while (0)

#define CHECK_NEAR(a, b, tol) do {                                               \
        double check_a_ = (double)(a), check_b_ = (double)(b);                   \
        CHECKF(fabs(check_a_ - check_b_) <= (double)(tol),                       \
               "%.9g vs %.9g (tolerance %.3g)", check_a_, check_b_, (double)(tol)); \
    } while (0)

static inline int test_summary(void)
{
    printf("%ld passed, %ld failed\n", test_passes_, test_failures_);
    return test_failures_ ? 1 : 0;
}

/* tests/fixtures, or $WEFT_FIXTURES when set (ctest sets it). */
static inline const char *test_fixture_dir(void)
{
    const char *d = getenv("WEFT_FIXTURES");
    return d && *d ? d : "tests/fixtures";
}

#endif
