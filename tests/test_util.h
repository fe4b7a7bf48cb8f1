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

#include <string.h>

#include "weft/base.h"
#include "weft/io.h"

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


/* CHECK_ERR(expr, want, path, needle): expr fails with status `want`, and
 * the message names `path` and holds `needle` (either may be NULL). */
#define CHECK_ERR(expr, want, path, needle) \
    test_check_err((expr), (want), (path), (needle), __FILE__, __LINE__, #expr)

static inline void test_check_err(weft_status got, weft_status want, const char *path, const char *needle,
                                  const char *file, int line, const char *what)
{
    const char *msg = weft_errmsg();
    bool ok = got == want && (!path || strstr(msg, path)) && (!needle || strstr(msg, needle));
    if (ok) { test_passes_++; return; }
    test_failures_++;
    fprintf(stderr, "%s:%d: %s: got %s \"%s\", wanted %s naming \"%s\" with \"%s\"\n", file, line,
            what, weft_status_name(got), msg, weft_status_name(want), path ? path : "",
            needle ? needle : "");
}

/* max |got - want| / max |want| over n elements; NaN anywhere gives Inf. */
static inline double test_rel_err(const float *got, const float *want, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= num)) num = isnan(d) ? INFINITY : d;
        if (fabs((double)want[i]) > den) den = fabs((double)want[i]);
    }
    return num / (den > 0 ? den : 1.0);
}

/* Elements of a safetensors tensor. */
static inline int64_t test_st_numel(const weft_st_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->dims[d];
    return n;
}

#endif
