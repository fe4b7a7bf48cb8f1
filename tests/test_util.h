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
#include <stdarg.h>
#include <ftw.h>
#include <sys/stat.h>

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


/* ---- a temporary directory per test program --------------------------------
 * test_tmpdir_make("data") creates /tmp/weft_test_data_XXXXXX; test_tmpdir()
 * is its path, test_tmp_path(name) a path inside it (eight buffers in turn);
 * test_tmpdir_remove() deletes it with everything in it. */
static inline char *test_tmpdir(void) { static char dir[96]; return dir; }

static inline bool test_tmpdir_make(const char *tag)
{
    snprintf(test_tmpdir(), 96, "/tmp/weft_test_%s_XXXXXX", tag);
    if (mkdtemp(test_tmpdir())) return true;
    perror("mkdtemp");
    return false;
}

static inline const char *test_tmp_path(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", test_tmpdir(), name);
    return p;
}

static inline int test_rm_one_(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static inline void test_tmpdir_remove(void) { nftw(test_tmpdir(), test_rm_one_, 16, FTW_DEPTH | FTW_PHYS); }

/* A whole file through weft_read_file, or exit: the file a test made must be there. */
static inline uint8_t *test_read_all(const char *path, size_t *n)
{
    char *data;
    if (weft_read_file(path, &data, n) != WEFT_OK) { fprintf(stderr, "%s\n", weft_errmsg()); exit(2); }
    return (uint8_t *)data;
}

/* ---- comparing kernels with double-precision references ---------------------- */

/* Largest |got - want| / (atol + rtol*|want|) over n elements; <= 1 passes. */
static inline double test_worst(const float *got, const double *want, int64_t n, double atol, double rtol)
{
    double w = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (atol + rtol * fabs(want[i]));
        if (!(e <= w)) w = e;   /* NaN counts as worst */
    }
    return w;
}

/* A printf-formatted label (one at a time: the buffer is reused). */
static inline const char *test_label(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline const char *test_label(const char *fmt, ...)
{
    static char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

/* Every element within atol + rtol*|want|; the label is printf-formatted. */
#define CHECK_CLOSE(got, want, n, atol, rtol, ...) do {                          \
        double check_w_ = test_worst((got), (want), (n), (atol), (rtol));        \
        CHECKF(check_w_ <= 1.0, "%s: worst error %.3g x tolerance", test_label(__VA_ARGS__), check_w_); \
    } while (0)

/* ||a - b|| / ||b||, for finite-difference comparisons. */
static inline double test_rel_l2(const float *a, const double *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i]; }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* sum a[i] * r[i] in double: a probe loss. */
static inline double test_dot(const float *a, const float *r, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * r[i];
    return s;
}

#endif
