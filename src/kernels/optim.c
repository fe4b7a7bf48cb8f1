/* optim.c — SGD and AdamW updates, fused into one pass over [begin, end).
 *
 * Each optimizer has one scalar "unit" (sgd_unit, adamw_unit) that reads a
 * weight, its gradient and its state as fp32, writes the new state, and
 * returns delta, the fp32 amount to subtract from the weight. The fp32 and
 * bf16 kernels share the unit, so the bf16 path is exactly the fp32 one with
 * its inputs widened and its outputs rounded:
 *   state    m, v rounded to nearest even
 *   weight   nearest: w = rn(w - delta)
 *            stochastic: w = sr(w - delta) with bits weft_rng_u32(key, i),
 *              i the element's index in the tensor (so splits do not matter)
 *            kahan: weft_bf16_kahan_sub(&w, &comp, rn(delta))
 * The bf16 kernels work through chunks of CH elements staged as fp32 on the
 * stack, so that each stage is a simple loop gcc vectorises. */
#include "kernels/kernels.h"

#include <math.h>

#define VB 8
#define CH 1024

/* ---- the units ------------------------------------------------------------ */

/* The hyperparameters copied into locals (so the compiler knows stores to
 * weights cannot change them). */
typedef struct { float lr, mu, wd; } sgd_consts;

/* The SGD variants: momentum or not, first step or not, weight decay or not.
 * Each is compiled as its own loop (the flags are constants after inlining),
 * because a select inside the loop keeps gcc -O2 from vectorising it. */
typedef struct { bool use_m, first, wd; } sgd_variant;

/* PyTorch SGD (dampening 0, no nesterov): g' = g + wd*w (skipped when wd is
 * 0, as PyTorch does); with momentum m = g' on the first step, else
 * mu*m + g'; delta = lr*m (lr*g' without momentum). m is in/out. */
static inline __attribute__((always_inline))
float sgd_unit(float w, float g, float *m, sgd_consts c, sgd_variant k)
{
    float gg = k.wd ? g + c.wd * w : g;
    if (!k.use_m) return c.lr * gg;
    float m0 = k.first ? 0.0f : *m;
    float mi = k.first ? gg : c.mu * m0 + gg;
    *m = mi;
    return c.lr * mi;
}

/* Step-dependent AdamW constants, computed once per call in double as
 * PyTorch computes them in Python floats. */
typedef struct { float b1, omb1, b2, omb2, eps, step_size, bc2_sqrt, lr_wd; } adamw_consts;

static adamw_consts adamw_make(const weft_adamw_hp *hp, int64_t t)
{
    if (t < 1) t = 1;   /* t counts from 1; 0 would divide by zero */
    double bc1 = 1.0 - pow((double)hp->beta1, (double)t);
    double bc2 = 1.0 - pow((double)hp->beta2, (double)t);
    adamw_consts c = {
        .b1 = hp->beta1, .omb1 = (float)(1.0 - (double)hp->beta1),
        .b2 = hp->beta2, .omb2 = (float)(1.0 - (double)hp->beta2),
        .eps = hp->eps,
        .step_size = (float)((double)hp->lr / bc1),
        .bc2_sqrt = (float)sqrt(bc2),
        .lr_wd = (float)((double)hp->lr * (double)hp->weight_decay),
    };
    return c;
}

/* PyTorch AdamW (amsgrad off): decoupled decay lr*wd*w plus the Adam step
 * step_size * m / (sqrt(v)/sqrt(bc2) + eps), in PyTorch's operation order
 * (m*b1 + (1-b1)*g; v*b2 + (1-b2)*g*g). m and v are in/out. */
static inline __attribute__((always_inline))
float adamw_unit(float w, float g, float *m, float *v, adamw_consts c)
{
    float mi = c.b1 * *m + c.omb1 * g;
    float vi = c.b2 * *v + c.omb2 * g * g;
    *m = mi;
    *v = vi;
    float denom = sqrtf(vi) / c.bc2_sqrt + c.eps;
    return c.lr_wd * w + c.step_size * (mi / denom);
}

/* ---- fp32 ------------------------------------------------------------------ */

static inline __attribute__((always_inline))
void sgd_f32_run(float *restrict w, float *restrict m, const float *restrict g,
                 int64_t begin, int64_t end, sgd_consts c, sgd_variant k)
{
    float dummy[VB] = { 0 };
    int64_t i = begin;
    for (; i + VB <= end; i += VB) {
        float *mb = k.use_m ? m + i : dummy;
        for (int j = 0; j < VB; j++)
            w[i + j] = w[i + j] - sgd_unit(w[i + j], g[i + j], &mb[j], c, k);
    }
    for (; i < end; i++)
        w[i] = w[i] - sgd_unit(w[i], g[i], k.use_m ? &m[i] : dummy, c, k);
}

#define SGD_DISPATCH(RUN, c, first_step, ...) do {                                   \
        const bool wd_ = (c).wd != 0.0f;                                             \
        if ((c).mu == 0.0f) {                                                        \
            if (wd_) RUN(__VA_ARGS__, (sgd_variant){ false, false, true });           \
            else     RUN(__VA_ARGS__, (sgd_variant){ false, false, false });          \
        } else if (first_step) {                                                     \
            if (wd_) RUN(__VA_ARGS__, (sgd_variant){ true, true, true });             \
            else     RUN(__VA_ARGS__, (sgd_variant){ true, true, false });            \
        } else {                                                                     \
            if (wd_) RUN(__VA_ARGS__, (sgd_variant){ true, false, true });            \
            else     RUN(__VA_ARGS__, (sgd_variant){ true, false, false });           \
        }                                                                            \
    } while (0)

/* The counting twin of the fp32 runs: the same units, one element at a
 * time, comparing each new weight with the old. */
static void count_f32(weft_update_count *cnt, const float *w_old, const float *delta, const float *w_new, int n)
{
    int64_t nz = 0, un = 0;
    for (int i = 0; i < n; i++)
        if (delta[i] != 0.0f) { nz++; un += w_new[i] == w_old[i]; }
    cnt->nonzero += nz; cnt->unchanged += un; cnt->cancelled += un;
}

static inline __attribute__((always_inline))
void sgd_f32_count(float *restrict w, float *restrict m, const float *restrict g, int64_t begin,
                   int64_t end, weft_update_count *cnt, sgd_consts c, sgd_variant k)
{
    float dummy = 0, old[CH], delta[CH];
    for (int64_t base = begin; base < end; base += CH) {
        const int n = end - base < CH ? (int)(end - base) : CH;
        for (int i = 0; i < n; i++) {
            old[i] = w[base + i];
            delta[i] = sgd_unit(old[i], g[base + i], k.use_m ? &m[base + i] : &dummy, c, k);
            w[base + i] = old[i] - delta[i];
        }
        count_f32(cnt, old, delta, w + base, n);
    }
}

void weft_k_sgd_f32(float *w, float *m, const float *g, int64_t begin, int64_t end,
                    const weft_sgd_hp *hp, bool first_step, weft_update_count *cnt)
{
    const sgd_consts c = { hp->lr, hp->momentum, hp->weight_decay };
    if (cnt) SGD_DISPATCH(sgd_f32_count, c, first_step, w, c.mu == 0.0f ? NULL : m, g, begin, end, cnt, c);
    else SGD_DISPATCH(sgd_f32_run, c, first_step, w, c.mu == 0.0f ? NULL : m, g, begin, end, c);
}

static void adamw_f32_run(float *restrict w, float *restrict m, float *restrict v,
                          const float *restrict g, int64_t begin, int64_t end, adamw_consts c)
{
    int64_t i = begin;
    for (; i + VB <= end; i += VB)
        for (int j = 0; j < VB; j++)
            w[i + j] = w[i + j] - adamw_unit(w[i + j], g[i + j], &m[i + j], &v[i + j], c);
    for (; i < end; i++) w[i] = w[i] - adamw_unit(w[i], g[i], &m[i], &v[i], c);
}

void weft_k_adamw_f32(float *w, float *m, float *v, const float *g, int64_t begin, int64_t end,
                      const weft_adamw_hp *hp, int64_t t, weft_update_count *cnt)
{
    const adamw_consts c = adamw_make(hp, t);
    if (!cnt) { adamw_f32_run(w, m, v, g, begin, end, c); return; }
    float old[CH], delta[CH];
    for (int64_t base = begin; base < end; base += CH) {
        const int n = end - base < CH ? (int)(end - base) : CH;
        for (int i = 0; i < n; i++) {
            old[i] = w[base + i];
            delta[i] = adamw_unit(old[i], g[base + i], &m[base + i], &v[base + i], c);
            w[base + i] = old[i] - delta[i];
        }
        count_f32(cnt, old, delta, w + base, n);
    }
}

/* ---- bf16 ------------------------------------------------------------------
 * A chunk of n <= CH elements is staged in fp32 arrays padded with zeros to
 * nv, a multiple of VB, so every stage is a loop over whole blocks. */

static inline int round_up_vb(int n) { return (n + VB - 1) / VB * VB; }

/* The num layer's vectorised conversions, on a chunk. */
static void widen(float *restrict out, const weft_bf16 *restrict in, int n)
{
    weft_bf16_to_f32_n(in, out, n);
    for (int i = n; i < round_up_vb(n); i++) out[i] = 0.0f;
}

static void narrow(weft_bf16 *restrict out, const float *restrict in, int n)
{
    weft_bf16_from_f32_n(in, out, n);
}

/* x (n, padded to a multiple of VB) rounded to bf16 and back, in place. */
static void rn_inplace(float *restrict x, weft_bf16 *restrict tmp, int n)
{
    narrow(tmp, x, n);
    widen(x, tmp, n);
}

/* Apply delta (n) to the bf16 weights w[base .. base+n) whose fp32 values
 * are wf, with the policy's rounding. */
static void apply_delta(weft_bf16 *restrict w, weft_bf16 *restrict comp, const float *restrict wf,
                        const float *restrict delta, int64_t base, int n,
                        weft_round r, weft_rng_key key);

/* apply_delta, then the counts (weft_update_count) of the chunk; cnt NULL:
 * apply_delta alone. */
static void apply_delta_counted(weft_bf16 *restrict w, weft_bf16 *restrict comp, const float *restrict wf,
                                const float *restrict delta, int64_t base, int n, weft_round r,
                                weft_rng_key key, weft_update_count *cnt)
{
    if (!cnt) { apply_delta(w, comp, wf, delta, base, n, r, key); return; }
    uint16_t old_comp[CH];
    if (r == WEFT_ROUND_KAHAN)
        for (int j = 0; j < n; j++) old_comp[j] = comp[base + j];
    apply_delta(w, comp, wf, delta, base, n, r, key);
    int64_t nz = 0, un = 0, ca = 0;
    for (int j = 0; j < n; j++) {
        if (delta[j] == 0.0f) continue;
        nz++;
        const bool same = weft_bf16_to_f32(w[base + j]) == wf[j];
        un += same;
        if (r == WEFT_ROUND_STOCHASTIC) ca += wf[j] - delta[j] == wf[j];
        else if (r == WEFT_ROUND_KAHAN) ca += same && comp[base + j] == old_comp[j];
        else ca += same;
    }
    cnt->nonzero += nz; cnt->unchanged += un; cnt->cancelled += ca;
}

static void apply_delta(weft_bf16 *restrict w, weft_bf16 *restrict comp, const float *restrict wf,
                        const float *restrict delta, int64_t base, int n,
                        weft_round r, weft_rng_key key)
{
    float t[CH];
    const int nv = round_up_vb(n);
    switch (r) {
    case WEFT_ROUND_NEAREST:
        for (int i = 0; i < nv; i += VB)
            for (int j = 0; j < VB; j++) t[i + j] = wf[i + j] - delta[i + j];
        narrow(w + base, t, n);
        return;
    case WEFT_ROUND_STOCHASTIC:
        for (int i = 0; i < nv; i += VB)
            for (int j = 0; j < VB; j++) t[i + j] = wf[i + j] - delta[i + j];
        /* element base+j is keyed by its index in the tensor */
        weft_bf16_from_f32_sr_n(t, w + base, n, key, (uint32_t)base);
        return;
    case WEFT_ROUND_KAHAN: {
        /* weft_bf16_kahan_sub on the whole chunk, each of its roundings a
         * vectorised pass (bit-identical to the scalar function). */
        float d[CH], c[CH], u[CH];
        weft_bf16 h[CH];
        for (int i = 0; i < nv; i++) d[i] = delta[i];
        rn_inplace(d, h, n);                          /* the delta as bf16 */
        widen(c, comp + base, n);
        for (int i = 0; i < nv; i++) u[i] = c[i] - d[i];
        rn_inplace(u, h, n);                          /* u = rn(c - delta) */
        for (int i = 0; i < nv; i++) t[i] = wf[i] + u[i];
        narrow(w + base, t, n);                       /* w1 = rn(w + u), stored */
        widen(t, w + base, n);
        for (int i = 0; i < nv; i++) d[i] = t[i] - wf[i];
        rn_inplace(d, h, n);                          /* dw = rn(w1 - w) */
        for (int i = 0; i < nv; i++) c[i] = u[i] - d[i];
        narrow(comp + base, c, n);                    /* c = rn(u - dw) */
        return;
    }
    }
}

static inline __attribute__((always_inline))
void sgd_bf16_chunk(float *restrict delta, float *restrict mf, const float *restrict wf,
                    const float *restrict gf, int nv, sgd_consts c, sgd_variant k)
{
    for (int i = 0; i < nv; i += VB)
        for (int j = 0; j < VB; j++)
            delta[i + j] = sgd_unit(wf[i + j], gf[i + j], &mf[i + j], c, k);
}

void weft_k_sgd_bf16(weft_bf16 *w, weft_bf16 *m, weft_bf16 *comp, const weft_bf16 *g,
                     int64_t begin, int64_t end, const weft_sgd_hp *hp, bool first_step,
                     weft_round r, weft_rng_key key, weft_update_count *cnt)
{
    const sgd_consts c = { hp->lr, hp->momentum, hp->weight_decay };
    const bool use_m = c.mu != 0.0f;
    float wf[CH], gf[CH], mf[CH] = { 0 }, delta[CH];
    for (int64_t base = begin; base < end; base += CH) {
        const int n = end - base < CH ? (int)(end - base) : CH, nv = round_up_vb(n);
        widen(wf, w + base, n);
        widen(gf, g + base, n);
        if (use_m && !first_step) widen(mf, m + base, n);
        SGD_DISPATCH(sgd_bf16_chunk, c, first_step, delta, mf, wf, gf, nv, c);
        if (use_m) narrow(m + base, mf, n);
        apply_delta_counted(w, comp, wf, delta, base, n, r, key, cnt);
    }
}

void weft_k_adamw_bf16(weft_bf16 *w, weft_bf16 *m, weft_bf16 *v, weft_bf16 *comp,
                       const weft_bf16 *g, int64_t begin, int64_t end,
                       const weft_adamw_hp *hp, int64_t t, weft_round r, weft_rng_key key,
                       weft_update_count *cnt)
{
    const adamw_consts c = adamw_make(hp, t);
    float wf[CH], gf[CH], mf[CH], vf[CH], delta[CH];
    for (int64_t base = begin; base < end; base += CH) {
        const int n = end - base < CH ? (int)(end - base) : CH, nv = round_up_vb(n);
        widen(wf, w + base, n);
        widen(gf, g + base, n);
        widen(mf, m + base, n);
        widen(vf, v + base, n);
        for (int i = 0; i < nv; i += VB)
            for (int j = 0; j < VB; j++)
                delta[i + j] = adamw_unit(wf[i + j], gf[i + j], &mf[i + j], &vf[i + j], c);
        narrow(m + base, mf, n);
        narrow(v + base, vf, n);
        apply_delta_counted(w, comp, wf, delta, base, n, r, key, cnt);
    }
}
