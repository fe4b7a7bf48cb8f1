/* test_rng.c — the counter-based generator: fixed values (a change to them
 * changes every seeded run and breaks resumption), the vector fill against
 * the scalar hash, uniformity of the bits, and decorrelation across keys and
 * neighbouring indices. Statistical checks use 5-sigma bounds (or the
 * equivalent chi-square tail), so a correct generator fails them with
 * probability below 1e-5 each; the inputs are fixed, so results never vary. */
#include "weft/base.h"
#include "test_util.h"

#include <string.h>

static void test_known_values(void)
{
    weft_rng_key k = weft_rng_key_make(0, 0, 0);
    CHECK_EQ_U(k.k0, 0x9c103f3f);
    CHECK_EQ_U(k.k1, 0xce7e9c56);
    k = weft_rng_key_make(1234, 5, 6);
    CHECK_EQ_U(k.k0, 0x7c239ee1);
    CHECK_EQ_U(k.k1, 0xf96f99b8);
    CHECK_EQ_U(weft_rng_u32(k, 0), 0x5901805b);
    CHECK_EQ_U(weft_rng_u32(k, 1), 0xc4abf8d3);
    CHECK_EQ_U(weft_rng_u32(k, 2), 0x6ef79489);
    CHECK_EQ_U(weft_rng_u32(k, 1000000), 0x6d2b2a61);
    CHECK_EQ_U(weft_rng_u32(k, 0xFFFFFFFFu), 0x1a89fac8);
    /* the three inputs of key_make are not interchangeable */
    weft_rng_key a = weft_rng_key_make(1, 2, 3), b = weft_rng_key_make(3, 2, 1);
    weft_rng_key c = weft_rng_key_make(2, 1, 3);
    CHECK(a.k0 != b.k0 && a.k0 != c.k0 && b.k0 != c.k0);
    float u = weft_rng_unit(k, 0);
    CHECK(u >= 0.0f && u < 1.0f);
    CHECK(u == (float)(0x5901805bu >> 8) / 16777216.0f);
}

static void test_fill_matches_scalar(void)
{
    enum { N = 1 << 20 };
    uint32_t *out = weft_alloc(sizeof(uint32_t) * (N + 16));
    weft_rng_key k = weft_rng_key_make(9, 8, 7);
    static const uint32_t firsts[] = { 0, 3, 0xFFFFFFF0u, 0x80000001u };
    int bad = 0;
    for (size_t f = 0; f < sizeof firsts / sizeof firsts[0]; f++) {
        /* short lengths and an unaligned start: tails of the vector loop */
        for (int n = 0; n <= 40; n++) {
            for (int i = 0; i < 48; i++) out[i] = 0xDEADBEEFu;
            weft_rng_fill_u32(k, firsts[f], out + 1, n);
            bad += out[0] != 0xDEADBEEFu;
            for (int i = 0; i < n; i++) bad += out[1 + i] != weft_rng_u32(k, firsts[f] + (uint32_t)i);
            for (int i = n + 1; i < 48; i++) bad += out[i] != 0xDEADBEEFu;
        }
        weft_rng_fill_u32(k, firsts[f], out, N);
        for (uint32_t i = 0; i < N; i++) bad += out[i] != weft_rng_u32(k, firsts[f] + i);
    }
    CHECKF(bad == 0, "%d filled words differ from weft_rng_u32", bad);
    weft_free(out);
}

/* Chi-square of `n` samples over `m` equally likely buckets against the
 * bound mean + 5 sd of the chi-square distribution with m - 1 degrees of
 * freedom (close enough to normal for m >= 256). */
static void check_chi2(const char *what, const uint32_t *count, int m, double n)
{
    double e = n / m, chi2 = 0;
    for (int b = 0; b < m; b++) chi2 += (count[b] - e) * (count[b] - e) / e;
    double dof = m - 1, bound = dof + 5 * sqrt(2 * dof);
    CHECKF(chi2 < bound, "%s: chi-square %.1f over %d buckets (bound %.1f)", what, chi2, m, bound);
}

static void test_uniform(void)
{
    enum { N = 1 << 20 };   /* 16 per bucket of the 16-bit chi-square */
    uint32_t *x = weft_alloc(sizeof(uint32_t) * N);
    uint32_t *c16 = weft_calloc(sizeof(uint32_t) * 65536);
    static const weft_rng_key keys[] = { { 0, 0 }, { 1, 0 }, { 0x12345678u, 0x9abcdef0u } };
    for (size_t kk = 0; kk < 4; kk++) {
        weft_rng_key k = kk < 3 ? keys[kk] : weft_rng_key_make(5, 0, 0);
        weft_rng_fill_u32(k, 0, x, N);
        /* every bit is 1 half the time */
        double ones[32] = { 0 };
        uint32_t bytes[4][256];
        memset(bytes, 0, sizeof bytes);
        memset(c16, 0, sizeof(uint32_t) * 65536);
        for (int i = 0; i < N; i++) {
            for (int b = 0; b < 32; b++) ones[b] += (x[i] >> b) & 1;
            for (int j = 0; j < 4; j++) bytes[j][(x[i] >> (8 * j)) & 0xFF]++;
            c16[x[i] & 0xFFFF]++;
        }
        int bad_bits = 0;
        for (int b = 0; b < 32; b++) bad_bits += fabs(ones[b] / N - 0.5) > 5 * 0.5 / sqrt(N);
        CHECKF(bad_bits == 0, "key %zu: %d bits are not 1 half the time", kk, bad_bits);
        for (int j = 0; j < 4; j++) check_chi2("byte", bytes[j], 256, N);
        /* the low 16 bits are what stochastic rounding uses */
        check_chi2("low 16 bits", c16, 65536, N);
        /* the unit float has mean 1/2 and variance 1/12 */
        double s = 0;
        for (int i = 0; i < N; i++) s += (double)(x[i] >> 8) / 16777216.0;
        CHECK_NEAR(s / N, 0.5, 5 * sqrt(1.0 / 12 / N));
    }
    weft_free(x);
    weft_free(c16);
}

/* Bits of two sequences agree half the time, bit by bit, and their unit
 * floats are uncorrelated: for keys one step apart in seed, step or stream,
 * and for the same key at neighbouring indices (lags 1 and 8, the vector
 * width), and for indices differing in one bit. */
static void check_pair(const char *what, const uint32_t *a, const uint32_t *b, int n)
{
    double agree[32] = { 0 }, sab = 0, sa = 0, sb = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        uint32_t same = ~(a[i] ^ b[i]);
        for (int j = 0; j < 32; j++) agree[j] += (same >> j) & 1;
        double x = (double)(a[i] >> 8) / 16777216.0, y = (double)(b[i] >> 8) / 16777216.0;
        sa += x; sb += y; sab += x * y; saa += x * x; sbb += y * y;
    }
    int bad = 0;
    for (int j = 0; j < 32; j++) bad += fabs(agree[j] / n - 0.5) > 5 * 0.5 / sqrt(n);
    double cov = sab / n - (sa / n) * (sb / n);
    double r = cov / sqrt((saa / n - (sa / n) * (sa / n)) * (sbb / n - (sb / n) * (sb / n)));
    CHECKF(bad == 0, "%s: %d bit positions agree more or less than half the time", what, bad);
    CHECKF(fabs(r) < 5 / sqrt(n), "%s: correlation %.5f", what, r);
}

static void test_decorrelated(void)
{
    enum { N = 1 << 20 };
    uint32_t *a = weft_alloc(sizeof(uint32_t) * (N + 8)), *b = weft_alloc(sizeof(uint32_t) * N);
    weft_rng_key k = weft_rng_key_make(100, 200, 300);
    weft_rng_fill_u32(k, 0, a, N + 8);
    weft_rng_fill_u32(weft_rng_key_make(101, 200, 300), 0, b, N);
    check_pair("seed + 1", a, b, N);
    weft_rng_fill_u32(weft_rng_key_make(100, 201, 300), 0, b, N);
    check_pair("step + 1", a, b, N);
    weft_rng_fill_u32(weft_rng_key_make(100, 200, 301), 0, b, N);
    check_pair("stream + 1", a, b, N);
    /* raw keys one bit apart in each word: the hash itself must separate them */
    weft_rng_fill_u32((weft_rng_key){ k.k0 ^ 1u, k.k1 }, 0, b, N);
    check_pair("k0 ^ 1", a, b, N);
    weft_rng_fill_u32((weft_rng_key){ k.k0, k.k1 ^ 0x80000000u }, 0, b, N);
    check_pair("k1 ^ 2^31", a, b, N);
    check_pair("lag 1", a, a + 1, N);
    check_pair("lag 8", a, a + 8, N);
    /* index bit flips: avalanche over the index */
    for (int bit = 0; bit < 32; bit += 5) {
        for (uint32_t i = 0; i < N; i++) b[i] = weft_rng_u32(k, (i * 2654435761u) ^ (1u << bit));
        for (uint32_t i = 0; i < N; i++) a[i] = weft_rng_u32(k, i * 2654435761u);
        char what[32];
        snprintf(what, sizeof what, "index bit %d", bit);
        check_pair(what, a, b, N);
    }
    weft_free(a);
    weft_free(b);
}

int main(void)
{
    test_known_values();
    test_fill_matches_scalar();
    test_uniform();
    test_decorrelated();
    return test_summary();
}
