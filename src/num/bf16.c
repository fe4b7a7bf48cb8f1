/* bf16.c — dtype sizes and names; array conversions between fp32 and bf16.
 *
 * Each conversion has a portable loop over the inline scalar functions of
 * weft/num.h and an AVX2 loop chosen at run time; the AVX2 loops compute the
 * same integer formulas lane by lane, so the two give identical bits (the
 * tests check the array forms against the scalar ones over all 2^32 inputs).
 * The AVX2 helpers are always_inline so that an unoptimised (Debug,
 * sanitizer) build still runs them as straight vector code.
 */
#include "weft/num.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WEFT_BF16_X86 1
#endif

size_t weft_dtype_size(weft_dtype t)
{
    switch (t) {
    case WEFT_F32: return 4;
    case WEFT_BF16: return 2;
    case WEFT_I32: return 4;
    case WEFT_U8: return 1;
    case WEFT_DTYPE_COUNT: break;
    }
    return 0;
}

const char *weft_dtype_name(weft_dtype t)
{
    switch (t) {
    case WEFT_F32: return "f32";
    case WEFT_BF16: return "bf16";
    case WEFT_I32: return "i32";
    case WEFT_U8: return "u8";
    case WEFT_DTYPE_COUNT: break;
    }
    return "?";
}

/* ---- portable loops ---------------------------------------------------------- */

static void to_f32_scalar(const weft_bf16 *in, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = weft_bf16_to_f32(in[i]);
}

static void from_f32_scalar(const float *in, weft_bf16 *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = weft_bf16_from_f32(in[i]);
}

static void from_f32_sr_scalar(const float *in, weft_bf16 *out, int64_t n,
                               weft_rng_key key, uint32_t first)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = weft_bf16_from_f32_sr(in[i], weft_rng_u32(key, first + (uint32_t)i));
}

/* ---- AVX2 loops ---------------------------------------------------------------- */
#ifdef WEFT_BF16_X86

static bool have_avx2(void) { return __builtin_cpu_supports("avx2"); }

__attribute__((target("avx2")))
static void to_f32_avx2(const weft_bf16 *in, float *out, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(in + i)));
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_slli_epi32(h, 16));
    }
    to_f32_scalar(in + i, out + i, n - i);
}

/* Eight fp32 bit patterns -> eight nearest-even results in the low 16 bits
 * of each 32-bit lane: NaN ? 0x7FC0 : (u + 0x7FFF + ((u >> 16) & 1)) >> 16.
 * |u| as a signed 32-bit lane is non-negative, so the signed compare is the
 * unsigned one of the scalar code. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i rne8(__m256i u)
{
    const __m256i absmask = _mm256_set1_epi32(0x7FFFFFFF);
    const __m256i inf = _mm256_set1_epi32(0x7F800000);
    const __m256i qnan = _mm256_set1_epi32(0x7FC0);
    const __m256i bias = _mm256_set1_epi32(0x7FFF);
    const __m256i one = _mm256_set1_epi32(1);
    __m256i isnan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absmask), inf);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, bias), lsb), 16);
    return _mm256_blendv_epi8(r, qnan, isnan);
}

/* Two vectors of 32-bit lanes (each < 2^16) -> sixteen uint16 in order.
 * packus interleaves the 128-bit halves; the permute puts them back. */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i pack16(__m256i lo, __m256i hi)
{
    return _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
}

__attribute__((target("avx2")))
static void from_f32_avx2(const float *in, weft_bf16 *out, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a = rne8(_mm256_loadu_si256((const __m256i *)(in + i)));
        __m256i b = rne8(_mm256_loadu_si256((const __m256i *)(in + i + 8)));
        _mm256_storeu_si256((__m256i *)(out + i), pack16(a, b));
    }
    from_f32_scalar(in + i, out + i, n - i);
}

/* Stochastic rounding of eight values given their eight random words:
 * finite ? (u + (bits & 0xFFFF)) >> 16 : nearest-even (Inf, NaN). */
__attribute__((target("avx2")))
static inline __attribute__((always_inline)) __m256i sr8(__m256i u, __m256i bits)
{
    const __m256i expmask = _mm256_set1_epi32(0x7F800000);
    const __m256i low16 = _mm256_set1_epi32(0xFFFF);
    __m256i nonfinite = _mm256_cmpeq_epi32(_mm256_and_si256(u, expmask), expmask);
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_and_si256(bits, low16)), 16);
    return _mm256_blendv_epi8(r, rne8(u), nonfinite);
}

__attribute__((target("avx2")))
static void from_f32_sr_avx2(const float *in, weft_bf16 *out, int64_t n,
                             weft_rng_key key, uint32_t first)
{
    /* Random words a block at a time from the vectorised generator, kept
     * in L1 (1 KiB on the stack). */
    enum { BLOCK = 256 };
    uint32_t bits[BLOCK];
    int64_t i = 0;
    while (n - i >= 16) {
        int64_t m = n - i < BLOCK ? (n - i) & ~(int64_t)15 : BLOCK;
        weft_rng_fill_u32(key, first + (uint32_t)i, bits, m);
        for (int64_t j = 0; j < m; j += 16) {
            __m256i a = sr8(_mm256_loadu_si256((const __m256i *)(in + i + j)),
                            _mm256_loadu_si256((const __m256i *)(bits + j)));
            __m256i b = sr8(_mm256_loadu_si256((const __m256i *)(in + i + j + 8)),
                            _mm256_loadu_si256((const __m256i *)(bits + j + 8)));
            _mm256_storeu_si256((__m256i *)(out + i + j), pack16(a, b));
        }
        i += m;
    }
    from_f32_sr_scalar(in + i, out + i, n - i, key, first + (uint32_t)i);
}
#endif /* WEFT_BF16_X86 */

/* ---- public entry points ---------------------------------------------------- */

void weft_bf16_to_f32_n(const weft_bf16 *in, float *out, int64_t n)
{
#ifdef WEFT_BF16_X86
    if (have_avx2()) { to_f32_avx2(in, out, n); return; }
#endif
    to_f32_scalar(in, out, n);
}

void weft_bf16_from_f32_n(const float *in, weft_bf16 *out, int64_t n)
{
#ifdef WEFT_BF16_X86
    if (have_avx2()) { from_f32_avx2(in, out, n); return; }
#endif
    from_f32_scalar(in, out, n);
}

void weft_bf16_from_f32_sr_n(const float *in, weft_bf16 *out, int64_t n,
                             weft_rng_key key, uint32_t first)
{
#ifdef WEFT_BF16_X86
    if (have_avx2()) { from_f32_sr_avx2(in, out, n, key, first); return; }
#endif
    from_f32_sr_scalar(in, out, n, key, first);
}

typedef struct {
    const float *in;
    weft_bf16 *out;
    weft_rng_key key;
} sr_job;

static void sr_chunk(void *ctx, int64_t begin, int64_t end)
{
    const sr_job *j = ctx;
    weft_bf16_from_f32_sr_n(j->in + begin, j->out + begin, end - begin, j->key, (uint32_t)begin);
}

/* Element i is keyed by index i (mod 2^32), so chunking does not matter. */
void weft_bf16_from_f32_sr_pool(weft_pool *pool, const float *in, weft_bf16 *out,
                                int64_t n, weft_rng_key key)
{
    sr_job j = { in, out, key };
    weft_pool_for(pool, n, 1 << 14, sr_chunk, &j);
}
