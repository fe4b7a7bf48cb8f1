/* test_rand.h — the kernel tests' random numbers: a xorshift stream whose
 * seed each test picks (define TEST_RAND_SEED before including), so a
 * test's inputs stay what they were; uniform floats in [-1, 1) and the
 * buffers they fill. Header-only: every test is its own program. */
#ifndef WEFT_TEST_RAND_H
#define WEFT_TEST_RAND_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#ifndef TEST_RAND_SEED
#define TEST_RAND_SEED 0x9E3779B97F4A7C15ull
#endif

static uint64_t rng_state = TEST_RAND_SEED;
static inline uint32_t rnd_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
/* uniform in [-1, 1) */
static inline float rnd(void) { return (float)((rnd_u32() >> 8) * (2.0 / 16777216.0) - 1.0); }
static inline void fill(float *p, int64_t n) { for (int64_t i = 0; i < n; i++) p[i] = rnd(); }
static inline void fill_nan(float *p, int64_t n) { for (int64_t i = 0; i < n; i++) p[i] = NAN; }
static inline float *fbuf(int64_t n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) abort();
    return p;
}

#endif
