/* test_bf16.c — fp32 <-> bf16 conversions, stochastic rounding, Kahan updates.
 *
 * The nearest-even conversion is checked over all 2^32 fp32 patterns: the
 * array form against the scalar one, and both against PyTorch through the
 * hashes in tests/fixtures/bf16_rne_hashes.txt (written by
 * scripts/gen_bf16_fixture.py, which documents the hash).
 *
 * That check makes 2^32 scalar conversions and hash updates; unoptimised
 * (the Debug build that the sanitizer run uses) they take minutes, so with
 * gcc this file is always optimised. The sanitizers instrument it all the
 * same, and the library under test keeps the build's own flags. */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE__)
#pragma GCC optimize("O2", "inline")
#endif
#include "weft/num.h"
#include "test_util.h"

#include <string.h>

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static bool is_nan_bits(uint32_t u) { return (u & 0x7FFFFFFFu) > 0x7F800000u; }

/* ---- exhaustive nearest-even against PyTorch ------------------------------- */

enum { CHUNK_BITS = 24, NCHUNK = 256, LANES = 4096, BLOCK = 1 << 16 };
#define FNV_OFFSET 0xCBF29CE484222325ull
#define FNV_PRIME 0x100000001B3ull

/* Reads the 256 chunk hashes; returns how many were read. */
static int read_fixture(uint64_t want[NCHUNK])
{
    char path[1024];
    snprintf(path, sizeof path, "%s/bf16_rne_hashes.txt", test_fixture_dir());
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s (run scripts/gen_bf16_fixture.py)\n", path);
        return 0;
    }
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char *end;
        uint64_t h = strtoull(line, &end, 16);
        if (end == line || n == NCHUNK) { n = -1; break; }
        want[n++] = h;
    }
    fclose(f);
    return n;
}

/* The same bf16 nearest conversion, all 2^32 inputs, one block of 2^16 at a
 * time: the array form's result is compared with the scalar form's and
 * folded into the chunk's lane hashes (hash defined in the fixture script). */
static void test_exhaustive_rne(void)
{
    uint64_t want[NCHUNK];
    int nwant = read_fixture(want);
    CHECKF(nwant == NCHUNK, "fixture has %d hashes, want %d", nwant, NCHUNK);

    float *in = weft_alloc(sizeof(float) * BLOCK);
    weft_bf16 *out = weft_alloc(sizeof(weft_bf16) * BLOCK);
    uint64_t *lane = weft_alloc(sizeof(uint64_t) * LANES);
    uint64_t scalar_mismatch = 0, first_bad = 0;
    int hash_mismatch = 0;
    double t0 = weft_now();
    for (uint32_t c = 0; c < NCHUNK; c++) {
        for (int j = 0; j < LANES; j++) lane[j] = FNV_OFFSET;
        for (uint32_t b = 0; b < (1u << CHUNK_BITS); b += BLOCK) {
            uint32_t base = (c << CHUNK_BITS) | b;
            for (uint32_t i = 0; i < BLOCK; i++) in[i] = u2f(base + i);
            weft_bf16_from_f32_n(in, out, BLOCK);
            /* BLOCK is a multiple of LANES, so element i of the block is
             * element b + i of the chunk and lands in lane i % LANES. */
            for (uint32_t i = 0; i < BLOCK; i++) {
                weft_bf16 y = out[i];
                if (y != weft_bf16_from_f32(in[i]) && scalar_mismatch++ == 0) first_bad = base + i;
                lane[i & (LANES - 1)] = (lane[i & (LANES - 1)] ^ y) * FNV_PRIME;
            }
        }
        uint64_t h = FNV_OFFSET;
        for (int j = 0; j < LANES; j++)
            for (int k = 0; k < 8; k++) h = (h ^ ((lane[j] >> (8 * k)) & 0xFF)) * FNV_PRIME;
        if (c < (uint32_t)nwant && h != want[c] && hash_mismatch++ < 4)
            fprintf(stderr, "chunk %u (fp32 patterns %#010x..): hash %016llx, PyTorch's %016llx\n",
                    c, c << CHUNK_BITS, (unsigned long long)h, (unsigned long long)want[c]);
    }
    CHECKF(scalar_mismatch == 0, "array and scalar differ on %llu inputs, first %#010llx",
           (unsigned long long)scalar_mismatch, (unsigned long long)first_bad);
    CHECKF(hash_mismatch == 0, "%d of %d chunks differ from PyTorch", hash_mismatch, NCHUNK);
    fprintf(stderr, "exhaustive fp32->bf16: %.1f s\n", weft_now() - t0);
    weft_free(in);
    weft_free(out);
    weft_free(lane);
}

/* Cases from c10::BFloat16 semantics, spelled out. */
static void test_rne_cases(void)
{
    static const struct { uint32_t in; uint16_t out; } cases[] = {
        { 0x3F800000, 0x3F80 },  /* 1.0 */
        { 0x3F808000, 0x3F80 },  /* tie, even stays */
        { 0x3F818000, 0x3F82 },  /* tie, odd goes up */
        { 0x3F808001, 0x3F81 },  /* just above the tie */
        { 0xBF808001, 0xBF81 },  /* negative, same magnitude rule */
        { 0x00008000, 0x0000 },  /* subnormal tie to even zero */
        { 0x80018000, 0x8002 },  /* negative subnormal tie, odd goes up */
        { 0x7F7F7FFF, 0x7F7F },  /* below the Inf threshold */
        { 0x7F7F8000, 0x7F80 },  /* finite, rounds to Inf */
        { 0xFF7FFFFF, 0xFF80 },  /* -FLT_MAX -> -Inf */
        { 0x7F800000, 0x7F80 },  /* Inf */
        { 0xFF800000, 0xFF80 },  /* -Inf */
        { 0x7F800001, 0x7FC0 },  /* NaN, payload only in the low bits */
        { 0xFFC00000, 0x7FC0 },  /* negative NaN loses its sign */
        { 0x7FFFFFFF, 0x7FC0 },
        { 0x80000000, 0x8000 },  /* -0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float f = u2f(cases[i].in);
        weft_bf16 a;
        weft_bf16_from_f32_n(&f, &a, 1);
        CHECKF(weft_bf16_from_f32(f) == cases[i].out, "%#010x -> %#06x, want %#06x",
               cases[i].in, weft_bf16_from_f32(f), cases[i].out);
        CHECK_EQ_U(a, cases[i].out);
    }
}

/* bf16 -> fp32 for all 65536 patterns (array == scalar == shift), and the
 * round trip back, exact for every non-NaN. */
static void test_roundtrip(void)
{
    weft_bf16 *h = weft_alloc(2 * 65536), *back = weft_alloc(2 * 65536);
    float *f = weft_alloc(4 * 65536);
    for (int i = 0; i < 65536; i++) h[i] = (weft_bf16)i;
    weft_bf16_to_f32_n(h, f, 65536);
    weft_bf16_from_f32_n(f, back, 65536);
    int bad_to = 0, bad_back = 0, bad_nan = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        if (f2u(f[i]) != i << 16 || f2u(weft_bf16_to_f32((weft_bf16)i)) != i << 16) bad_to++;
        if (is_nan_bits(i << 16)) bad_nan += back[i] != 0x7FC0;
        else bad_back += back[i] != i || weft_bf16_from_f32(f[i]) != i;
    }
    CHECKF(bad_to == 0, "%d bf16 -> fp32 wrong", bad_to);
    CHECKF(bad_back == 0, "%d non-NaN bf16 patterns do not round-trip", bad_back);
    CHECKF(bad_nan == 0, "%d NaN patterns do not come back as 0x7FC0", bad_nan);
    weft_free(h);
    weft_free(back);
    weft_free(f);
}

/* Lengths and offsets that leave tails and unaligned starts; nothing
 * written past n. */
static void test_tails(void)
{
    enum { MAX = 80 };
    float in[MAX + 8];
    weft_bf16 hin[MAX + 8], out[MAX + 8];
    float fout[MAX + 8];
    weft_rng_key key = weft_rng_key_make(7, 1, 2);
    for (int i = 0; i < MAX + 8; i++) {
        in[i] = u2f(weft_rng_u32(key, (uint32_t)i) & 0xBFFFFFFFu);  /* finite-ish mix */
        hin[i] = (weft_bf16)weft_rng_u32(key, (uint32_t)(1000 + i));
    }
    in[5] = u2f(0x7F800001);
    in[17] = u2f(0xFF800000);
    int bad = 0;
    for (int off = 0; off < 4; off++) {
        for (int n = 0; n <= MAX; n++) {
            for (int i = 0; i < MAX + 8; i++) out[i] = 0xABCD;
            weft_bf16_from_f32_n(in + off, out + off, n);
            for (int i = 0; i < MAX + 8; i++) {
                weft_bf16 want = i >= off && i < off + n ? weft_bf16_from_f32(in[i]) : 0xABCD;
                bad += out[i] != want;
            }
            for (int i = 0; i < MAX + 8; i++) out[i] = 0xABCD;
            weft_bf16_from_f32_sr_n(in + off, out + off, n, key, 100u + (uint32_t)off);
            for (int i = 0; i < MAX + 8; i++) {
                weft_bf16 want = i >= off && i < off + n
                    ? weft_bf16_from_f32_sr(in[i], weft_rng_u32(key, 100u + (uint32_t)i)) : 0xABCD;
                bad += out[i] != want;
            }
            for (int i = 0; i < MAX + 8; i++) fout[i] = -7.0f;
            weft_bf16_to_f32_n(hin + off, fout + off, n);
            for (int i = 0; i < MAX + 8; i++) {
                uint32_t want = i >= off && i < off + n ? (uint32_t)hin[i] << 16 : f2u(-7.0f);
                bad += f2u(fout[i]) != want;
            }
        }
    }
    CHECKF(bad == 0, "%d elements wrong across lengths 0..%d and offsets 0..3", bad, MAX);
}

/* ---- stochastic rounding ---------------------------------------------------- */

/* The mean of N stochastic roundings of x is x in expectation: x lies
 * between lo = trunc(x) and hi = lo + one bf16 step away from zero, and
 * rounds to hi with probability p = (low 16 bits) / 2^16, so
 * E = lo + p (hi - lo) = x exactly, with Bernoulli variance
 * (hi - lo)^2 p (1 - p). Checked to 5 standard errors. */
static void test_sr_unbiased(void)
{
    enum { N = 1 << 16 };
    static const uint32_t xs[] = {
        0x3F802000,  /* 1 + 2^-10: p = 1/8 */
        0x40490FDB,  /* pi */
        0xC0490FDB,  /* -pi */
        0x3DCCCCCD,  /* 0.1 */
        0xBBE56042,  /* -7e-3 */
        0x000116C2,  /* 1e-40, subnormal */
        0x801B3F17,  /* -2.5e-39, subnormal */
        0x3FC00001,  /* just above the bf16 1.5: p = 2^-16 */
        0xBFC0FFFF,  /* just below the next bf16 after -1.5: p = 1 - 2^-16 */
        0x7149F2CA,  /* 1e30 */
        0x3F7FFFFF,  /* just below 1: hi crosses into the next binade */
        0x3F800000,  /* exact: never moves */
    };
    float *in = weft_alloc(sizeof(float) * N);
    weft_bf16 *out = weft_alloc(sizeof(weft_bf16) * N);
    for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) {
        uint32_t u = xs[k];
        float x = u2f(u);
        for (int i = 0; i < N; i++) in[i] = x;
        weft_rng_key key = weft_rng_key_make(1234, k, 99);
        weft_bf16_from_f32_sr_n(in, out, N, key, 0);
        weft_bf16 lo = (weft_bf16)(u >> 16), hi = (weft_bf16)((u >> 16) + 1);
        double dlo = weft_bf16_to_f32(lo), dhi = weft_bf16_to_f32(hi);
        double p = (double)(u & 0xFFFF) / 65536.0;
        double sum = 0;
        int other = 0;
        for (int i = 0; i < N; i++) {
            other += out[i] != lo && out[i] != hi;
            sum += weft_bf16_to_f32(out[i]);
        }
        double mean = sum / N;
        double se = fabs(dhi - dlo) * sqrt(p * (1 - p) / N);
        CHECKF(other == 0, "x=%#010x: %d results neither %#06x nor %#06x", u, other, lo, hi);
        CHECKF(fabs(mean - (double)x) <= 5 * se + 1e-12 * fabs((double)x),
               "x=%#010x (%.9g): mean of %d roundings %.9g, %.2f standard errors off",
               u, (double)x, N, mean, se > 0 ? (mean - (double)x) / se : INFINITY);
    }
    weft_free(in);
    weft_free(out);
}

/* Inf and NaN round as nearest does whatever the random bits; a value that
 * is already a bf16 never moves. */
static void test_sr_special(void)
{
    static const uint32_t specials[] = {
        0x7F800000, 0xFF800000, 0x7F800001, 0x7F80FFFF, 0xFF800001,
        0x7FC00000, 0xFFC00000, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FBFFFFF,
    };
    static const uint32_t rbits[] = { 0, 1, 0x7FFF, 0x8000, 0xFFFF, 0xFFFFFFFF, 0x12345678 };
    int bad = 0;
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        float f = u2f(specials[i]);
        for (size_t r = 0; r < sizeof rbits / sizeof rbits[0]; r++)
            bad += weft_bf16_from_f32_sr(f, rbits[r]) != weft_bf16_from_f32(f);
        float arr[37];
        weft_bf16 out[37];
        for (int j = 0; j < 37; j++) arr[j] = f;
        weft_bf16_from_f32_sr_n(arr, out, 37, weft_rng_key_make(i, 0, 0), 0);
        for (int j = 0; j < 37; j++) bad += out[j] != weft_bf16_from_f32(f);
    }
    CHECKF(bad == 0, "%d non-finite inputs not rounded to nearest", bad);

    /* Every non-NaN bf16 pattern, four keys, through the array path. */
    float *in = weft_alloc(sizeof(float) * 65536);
    weft_bf16 *out = weft_alloc(sizeof(weft_bf16) * 65536);
    for (uint32_t i = 0; i < 65536; i++) in[i] = u2f(i << 16);
    int moved = 0;
    for (uint64_t k = 0; k < 4; k++) {
        weft_bf16_from_f32_sr_n(in, out, 65536, weft_rng_key_make(k, 5, 6), (uint32_t)k * 977u);
        for (uint32_t i = 0; i < 65536; i++)
            if (!is_nan_bits(i << 16)) moved += out[i] != i;
    }
    CHECKF(moved == 0, "%d exact bf16 values moved under stochastic rounding", moved);
    weft_free(in);
    weft_free(out);
}

/* A large array: the array form equals the scalar definition element by
 * element, splitting a call changes nothing, and pools of 1, 2 and 3
 * threads give identical results. */
static void test_sr_threads(void)
{
    const int64_t n = (3 << 20) + 7;
    float *in = weft_alloc(sizeof(float) * (size_t)n);
    weft_bf16 *ref = weft_alloc(2 * (size_t)n), *out = weft_alloc(2 * (size_t)n);
    weft_rng_key gen = weft_rng_key_make(42, 0, 1), key = weft_rng_key_make(42, 17, 3);
    for (int64_t i = 0; i < n; i++) {
        uint32_t r = weft_rng_u32(gen, (uint32_t)i);
        /* mostly moderate values of both signs, some subnormal, some special */
        uint32_t u = (r & 0x80000000u) | ((0x30u + (r >> 24 & 0x1Fu)) << 23) | (r & 0x7FFFFF);
        if ((r & 0xFF) == 0) u = r & 0x807FFFFFu;
        if ((r & 0xFFF) == 1) u = 0x7F800000u | r;
        in[i] = u2f(u);
    }
    for (int64_t i = 0; i < n; i++) ref[i] = weft_bf16_from_f32_sr(in[i], weft_rng_u32(key, (uint32_t)i));

    weft_bf16_from_f32_sr_n(in, out, n, key, 0);
    CHECK(memcmp(out, ref, 2 * (size_t)n) == 0);

    memset(out, 0, 2 * (size_t)n);
    int64_t cuts[] = { 0, 1, 17, 4096, 100003, 2000000, n };
    for (int c = 0; c + 1 < (int)(sizeof cuts / sizeof cuts[0]); c++)
        weft_bf16_from_f32_sr_n(in + cuts[c], out + cuts[c], cuts[c + 1] - cuts[c], key, (uint32_t)cuts[c]);
    CHECK(memcmp(out, ref, 2 * (size_t)n) == 0);

    memset(out, 0, 2 * (size_t)n);
    weft_bf16_from_f32_sr_pool(NULL, in, out, n, key);
    CHECK(memcmp(out, ref, 2 * (size_t)n) == 0);
    for (int t = 1; t <= 3; t++) {
        weft_pool *pool = NULL;
        CHECK_OK(weft_pool_create(&pool, t));
        memset(out, 0, 2 * (size_t)n);
        weft_bf16_from_f32_sr_pool(pool, in, out, n, key);
        CHECKF(memcmp(out, ref, 2 * (size_t)n) == 0, "pool of %d threads differs", t);
        weft_pool_destroy(pool);
    }
    /* index wrap-around at 2^32 is the scalar's too */
    weft_bf16_from_f32_sr_n(in, out, 1000, key, 0xFFFFFE00u);
    int bad = 0;
    for (uint32_t i = 0; i < 1000; i++)
        bad += out[i] != weft_bf16_from_f32_sr(in[i], weft_rng_u32(key, 0xFFFFFE00u + i));
    CHECK(bad == 0);
    weft_free(in);
    weft_free(ref);
    weft_free(out);
}

/* ---- Kahan-compensated updates ---------------------------------------------- */

/* ulp of a bf16 at |x| (normal range) */
static double bf16_ulp(double x)
{
    int e;
    frexp(fabs(x), &e);
    return ldexp(1.0, e - 8);
}

typedef weft_bf16 (*delta_fn)(weft_rng_key key, uint32_t t);

static weft_bf16 delta_const(weft_rng_key key, uint32_t t)
{
    (void)key; (void)t;
    return weft_bf16_from_f32(-3e-4f);  /* w grows; 0.077 ulp at w = 1 */
}

/* Magnitudes uniform in [2e-5, 1e-3], mostly below half an ulp of w in
 * [1, 4); signs nearly balanced, slightly more often negative, so w drifts
 * up by about 2.5 over 1e5 steps. */
static weft_bf16 delta_mixed(weft_rng_key key, uint32_t t)
{
    uint32_t r = weft_rng_u32(key, t);
    float mag = 2e-5f + (float)(r >> 9) * (1.0f / 8388608.0f) * (1e-3f - 2e-5f);
    return weft_bf16_from_f32((r & 0xFF) < 122 ? mag : -mag);
}

/* Runs `steps` updates w <- w - delta_t from w = 1 three ways, and checks:
 * Kahan stays within 2 ulp of the exact (double) sum all along; plain
 * nearest rounding never leaves 1.0 (every update is below half an ulp);
 * stochastic rounding over R independent runs averages to the exact sum
 * within 5 standard errors (from the sample variance). */
static void kahan_case(const char *name, delta_fn delta, uint32_t steps)
{
    enum { R = 64 };
    weft_rng_key dkey = weft_rng_key_make(2024, 0, 7);
    weft_bf16 w = weft_bf16_from_f32(1.0f), c = 0, wn = w;
    double exact = 1.0, worst = 0;
    for (uint32_t t = 0; t < steps; t++) {
        weft_bf16 d = delta(dkey, t);
        exact -= weft_bf16_to_f32(d);
        weft_bf16_kahan_sub(&w, &c, d);
        wn = weft_bf16_from_f32(weft_bf16_to_f32(wn) - weft_bf16_to_f32(d));
        double err = fabs(weft_bf16_to_f32(w) - exact) / bf16_ulp(exact);
        if (err > worst) worst = err;
    }
    CHECKF(worst <= 2.0, "%s: Kahan %.6g vs exact %.6g, worst %.2f ulp along the way",
           name, (double)weft_bf16_to_f32(w), exact, worst);
    CHECKF(wn == weft_bf16_from_f32(1.0f), "%s: nearest rounding moved to %.6g (should stall at 1)",
           name, (double)weft_bf16_to_f32(wn));

    double sum = 0, sum2 = 0;
    for (int r = 0; r < R; r++) {
        weft_rng_key skey = weft_rng_key_make(77, (uint64_t)r, 8);
        weft_bf16 ws = weft_bf16_from_f32(1.0f);
        for (uint32_t t = 0; t < steps; t++) {
            float next = weft_bf16_to_f32(ws) - weft_bf16_to_f32(delta(dkey, t));
            ws = weft_bf16_from_f32_sr(next, weft_rng_u32(skey, t));
        }
        double v = weft_bf16_to_f32(ws);
        sum += v;
        sum2 += v * v;
    }
    double mean = sum / R, var = (sum2 - R * mean * mean) / (R - 1);
    double se = sqrt(var > 0 ? var / R : 0);
    CHECKF(fabs(mean - exact) <= 5 * se + 1e-9, "%s: stochastic rounding mean %.6g vs exact %.6g (se %.3g)",
           name, mean, exact, se);
    fprintf(stderr, "%s: exact %.6f, Kahan %.6f (worst %.2f ulp), nearest %.6f, SR mean %.6f +- %.4f\n",
            name, exact, (double)weft_bf16_to_f32(w), worst, (double)weft_bf16_to_f32(wn), mean, se);
}

/* bf16 Kahan has a floor of its own: the compensation c is bf16 too, so
 * once |delta| drops below about half an ulp of c (c ~ ulp(w)/2, so about
 * ulp(w)/512) the compensation stops growing and w stalls. With
 * delta = -1e-4 from w = 1 that happens at w = 8 (exact 11.01 after 1e5
 * steps); still far past nearest rounding, which never leaves 1. */
static void test_kahan_floor(void)
{
    weft_bf16 w = weft_bf16_from_f32(1.0f), c = 0, d = weft_bf16_from_f32(-1e-4f);
    for (int t = 0; t < 100000; t++) weft_bf16_kahan_sub(&w, &c, d);
    CHECKF(weft_bf16_to_f32(w) >= 4.0f, "Kahan stalled at %g", (double)weft_bf16_to_f32(w));
}

static void test_kahan(void)
{
    kahan_case("constant delta -3e-4, 3000 steps", delta_const, 3000);
    kahan_case("mixed-sign deltas, 1e5 steps", delta_mixed, 100000);
    test_kahan_floor();
}

static void test_dtype(void)
{
    CHECK(weft_dtype_size(WEFT_F32) == 4 && weft_dtype_size(WEFT_BF16) == 2);
    CHECK(weft_dtype_size(WEFT_I32) == 4 && weft_dtype_size(WEFT_U8) == 1);
    CHECK(strcmp(weft_dtype_name(WEFT_F32), "f32") == 0);
    CHECK(strcmp(weft_dtype_name(WEFT_BF16), "bf16") == 0);
    CHECK(strcmp(weft_dtype_name(WEFT_I32), "i32") == 0);
    CHECK(strcmp(weft_dtype_name(WEFT_U8), "u8") == 0);
}

int main(void)
{
    test_dtype();
    test_rne_cases();
    test_roundtrip();
    test_tails();
    test_sr_unbiased();
    test_sr_special();
    test_sr_threads();
    test_kahan();
    test_exhaustive_rne();
    return test_summary();
}
