/* rng.c — counter-based random bits: a pure function of (key, index).
 *
 * Nothing is stateful, so any thread can draw any element's bits, the thread
 * count never changes a result, and a resumed run draws what an uninterrupted
 * one would have.
 *
 * The key. weft_rng_key_make absorbs seed, step and stream one at a time into
 * a 64-bit state, each followed by the splitmix64 finaliser (xor-shift 30,
 * multiply, xor-shift 27, multiply, xor-shift 31): h = fmix64(h ^ v + c_v)
 * with a distinct odd constant c_v per position, so (seed, step, stream) and
 * any permutation of them give unrelated keys. k0 and k1 are the low and high
 * halves of the final state.
 *
 * The hash. weft_rng_u32(key, i) uses 32-bit operations only (multiply low,
 * xor, shift), so eight lanes run at once in an AVX2 register (vpmulld):
 *
 *   x = i
 *   x = (x ^ k0)          * M1;  x ^= x >> 16
 *   x = (x ^ k1)          * M2;  x ^= x >> 15
 *   x = (x ^ k0 ^ rot16(k1)) * M3;  x ^= x >> 16
 *   x =  x                * M4;  x ^= x >> 15
 *
 * M1 = 0x9E3779B1 (2^32 / golden ratio, made odd); M2..M4 = 0x85EBCA77,
 * 0xC2B2AE3D, 0x27D4EB2F (the odd 32-bit primes that xxHash32 uses). Every
 * step is a bijection of x, so for a fixed key the map i -> bits is a
 * permutation of the 2^32 indices. A multiply only carries information from
 * low bits to high ones; each xor-shift folds the high bits back down, and
 * after four such rounds flipping any single bit of i, k0 or k1 flips each
 * output bit with probability 0.5 to within 0.004 (measured on 2e5 random
 * inputs, the sampling noise level). The key enters three times, the last
 * time after two non-linear rounds: were it xored in only at the start, the
 * keys (k0, k1) and (k0 ^ d, k1) would give the same stream with the indices
 * xor-permuted by d. tests/test_rng.c checks uniformity, decorrelation
 * across keys and indices, and that the vector path equals the scalar one.
 */
#include "weft/base.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WEFT_RNG_X86 1
#endif

#define M1 0x9E3779B1u
#define M2 0x85EBCA77u
#define M3 0xC2B2AE3Du
#define M4 0x27D4EB2Fu

static uint64_t fmix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

weft_rng_key weft_rng_key_make(uint64_t seed, uint64_t step, uint64_t stream)
{
    uint64_t h = fmix64(seed + 0x9E3779B97F4A7C15ull);
    h = fmix64((h ^ step) + 0xD1B54A32D192ED03ull);
    h = fmix64((h ^ stream) + 0x8CB92BA72F3D8DD7ull);
    return (weft_rng_key){ (uint32_t)h, (uint32_t)(h >> 32) };
}

uint32_t weft_rng_u32(weft_rng_key key, uint32_t x)
{
    uint32_t k2 = key.k0 ^ ((key.k1 >> 16) | (key.k1 << 16));
    x = (x ^ key.k0) * M1; x ^= x >> 16;
    x = (x ^ key.k1) * M2; x ^= x >> 15;
    x = (x ^ k2) * M3;     x ^= x >> 16;
    x = x * M4;            x ^= x >> 15;
    return x;
}

static void fill_scalar(weft_rng_key key, uint32_t first, uint32_t *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = weft_rng_u32(key, first + (uint32_t)i);
}

#ifdef WEFT_RNG_X86
/* The same four rounds on eight consecutive indices first .. first+7. */
__attribute__((target("avx2")))
static void fill_avx2(weft_rng_key key, uint32_t first, uint32_t *out, int64_t n)
{
    const __m256i k0 = _mm256_set1_epi32((int)key.k0);
    const __m256i k1 = _mm256_set1_epi32((int)key.k1);
    const __m256i k2 = _mm256_set1_epi32((int)(key.k0 ^ ((key.k1 >> 16) | (key.k1 << 16))));
    const __m256i m1 = _mm256_set1_epi32((int)M1), m2 = _mm256_set1_epi32((int)M2);
    const __m256i m3 = _mm256_set1_epi32((int)M3), m4 = _mm256_set1_epi32((int)M4);
    const __m256i eight = _mm256_set1_epi32(8);
    __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)first),
                                   _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i x = _mm256_mullo_epi32(_mm256_xor_si256(idx, k0), m1);
        x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
        x = _mm256_mullo_epi32(_mm256_xor_si256(x, k1), m2);
        x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
        x = _mm256_mullo_epi32(_mm256_xor_si256(x, k2), m3);
        x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
        x = _mm256_mullo_epi32(x, m4);
        x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
        _mm256_storeu_si256((__m256i *)(out + i), x);
        idx = _mm256_add_epi32(idx, eight);
    }
    fill_scalar(key, first + (uint32_t)i, out + i, n - i);
}
#endif

void weft_rng_fill_u32(weft_rng_key key, uint32_t first, uint32_t *out, int64_t n)
{
#ifdef WEFT_RNG_X86
    if (__builtin_cpu_supports("avx2")) {
        fill_avx2(key, first, out, n);
        return;
    }
#endif
    fill_scalar(key, first, out, n);
}
