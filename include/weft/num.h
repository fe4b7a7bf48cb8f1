/* weft/num.h — the bfloat16 type, rounding (nearest-even, stochastic),
 * Kahan-compensated updates, precision policies. DESIGN.md section 3. */
#ifndef WEFT_NUM_H
#define WEFT_NUM_H

#include "weft/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of tensors in memory. */
typedef enum { WEFT_F32, WEFT_BF16, WEFT_I32, WEFT_U8, WEFT_DTYPE_COUNT } weft_dtype;
size_t weft_dtype_size(weft_dtype t);
/* "f32", "bf16", "i32", "u8" */
const char *weft_dtype_name(weft_dtype t);

/* A bfloat16 value as its bit pattern: the upper 16 bits of an IEEE fp32. */
typedef uint16_t weft_bf16;

/* bf16 -> fp32 is exact: shift into the upper half. */
static inline float weft_bf16_to_f32(weft_bf16 h)
{
    union { uint32_t u; float f; } v = { (uint32_t)h << 16 };
    return v.f;
}

/* fp32 -> bf16, round to nearest, ties to even, bit-identical to PyTorch
 * (c10::BFloat16): any NaN becomes 0x7FC0 (sign dropped); finite values
 * from 0x7F7F8000 up round to Inf. */
static inline weft_bf16 weft_bf16_from_f32(float f)
{
    union { float f; uint32_t u; } v = { f };
    if ((v.u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;
    uint32_t lsb = (v.u >> 16) & 1u;
    return (weft_bf16)((v.u + 0x7FFFu + lsb) >> 16);
}

/* fp32 -> bf16, stochastic: rounds |x| up to the next bf16 with probability
 * (x - down(x)) / ulp, using the 16 low bits of `rbits` as the uniform draw.
 * Non-finite inputs round as weft_bf16_from_f32 does. */
static inline weft_bf16 weft_bf16_from_f32_sr(float f, uint32_t rbits)
{
    union { float f; uint32_t u; } v = { f };
    if ((v.u & 0x7F800000u) == 0x7F800000u) return weft_bf16_from_f32(f);
    return (weft_bf16)((v.u + (rbits & 0xFFFFu)) >> 16);
}

/* Array conversions (vectorised; n elements). */
void weft_bf16_to_f32_n(const weft_bf16 *in, float *out, int64_t n);
void weft_bf16_from_f32_n(const float *in, weft_bf16 *out, int64_t n);
/* Stochastic rounding of in[0..n), element i keyed as weft_rng_u32(key, first + i).
 * Same result whatever the chunking, so it can be split across threads. */
void weft_bf16_from_f32_sr_n(const float *in, weft_bf16 *out, int64_t n,
                             weft_rng_key key, uint32_t first);
/* The same split across a pool (NULL: inline). */
void weft_bf16_from_f32_sr_pool(weft_pool *pool, const float *in, weft_bf16 *out,
                                int64_t n, weft_rng_key key);

/* Kahan-compensated bf16 update of one weight: w <- w - delta, with the
 * rounding residue carried in c. Every operation is bf16 (nearest even):
 *   u = c - delta;  w' = w + u;  c' = u - (w' - w)
 * `delta` is the update (already rounded to bf16 by the caller's unit). */
static inline void weft_bf16_kahan_sub(weft_bf16 *w, weft_bf16 *c, weft_bf16 delta)
{
    float u  = weft_bf16_to_f32(weft_bf16_from_f32(weft_bf16_to_f32(*c) - weft_bf16_to_f32(delta)));
    float w0 = weft_bf16_to_f32(*w);
    float w1 = weft_bf16_to_f32(weft_bf16_from_f32(w0 + u));
    float dw = weft_bf16_to_f32(weft_bf16_from_f32(w1 - w0));
    *c = weft_bf16_from_f32(u - dw);
    *w = weft_bf16_from_f32(w1);
}

/* ---- precision policies (DESIGN.md section 3 table) ------------------------- */
typedef enum {
    WEFT_PREC_FP32,        /* everything fp32                                       */
    WEFT_PREC_MIXED,       /* fp32 master weights + optimizer state, bf16 compute   */
    WEFT_PREC_BF16,        /* everything bf16, updates rounded to nearest           */
    WEFT_PREC_BF16_SR,     /* everything bf16, updates stochastically rounded       */
    WEFT_PREC_BF16_KAHAN,  /* everything bf16, Kahan-compensated updates            */
    WEFT_PREC_COUNT
} weft_precision;

const char *weft_precision_name(weft_precision p);
/* Parses "fp32", "mixed", "bf16", "bf16-sr", "bf16-kahan". */
weft_status weft_precision_parse(const char *s, weft_precision *out);
/* True when activations and gradients are bf16. */
bool weft_precision_bf16_compute(weft_precision p);
/* Bytes per parameter of weights plus optimizer state, for an optimizer that
 * keeps `nstates` state tensors per weight (SGD momentum 1, AdamW 2):
 * fp32 4+4n; mixed 4 (master) + 2 (bf16 copy) + 4n; bf16/bf16-sr 2+2n;
 * bf16-kahan 2+2 (compensation)+2n. */
double weft_precision_bytes_per_param(weft_precision p, int nstates);

/* What an update did to its weights, counted when a caller asks (cnt
 * non-NULL; the counts are added to *cnt, which the caller zeroes):
 *   nonzero    elements whose update delta was not 0;
 *   unchanged  of those, the ones whose stored weight kept its bits;
 *   cancelled  of those, the ones whose update was lost for certain — the
 *              "cancelled update" of nearest rounding (Zamirai et al.,
 *              Revisiting BFloat16 Training, 2021): fp32 and nearest:
 *              unchanged; stochastic: w - delta == w already in fp32, so no
 *              random draw could move the weight (an unchanged weight whose
 *              rounding could have gone up is not lost: it is unbiased);
 *              Kahan: neither the weight nor its compensation changed.
 * The update kernels count when given a non-NULL counter (one more pass
 * over each chunk); a training run asks through weft_run_opts. */
typedef struct { int64_t nonzero, unchanged, cancelled; } weft_update_count;

#ifdef __cplusplus
}
#endif
#endif
