/* conv.c — 2-D convolution as im2col + one batched sgemm per direction.
 *
 * Notation: K = C*KH*KW (patch length), OHW = OH*OW, P = N*OHW (output
 * pixels of the whole batch). The column buffer `col` is (K, P): row
 * r = (c,kh,kw), column n*OHW + oh*OW + ow holds
 * x[n, c, oh*s - p + kh, ow*s - p + kw] (0 outside the image). Then
 *   forward      yt  (OC,P) = w (OC,K) col (K,P)      and yt -> y (N,OC,OH,OW)
 *   bwd data     dcol (K,P) = w^T (K,OC) dyt (OC,P)   and col2im -> dx
 *   bwd weight   dw (OC,K)  = dyt (OC,P) col^T (P,K)
 * where yt/dyt are the (OC, N, OHW) transposes of y/dy ("layout temp"). The
 * batch goes into one GEMM (one call, big N) rather than one per image; the
 * transposes cost one pass over the output, with bias and activation fused
 * into the forward one and db's sums into the backward one. With N == 1 the
 * transposes are the identity and are skipped.
 *
 * Stride-1 convolutions whose output is as wide as the input (the usual
 * "same" padding) take a faster im2col/col2im: a (kh,kw) row of one image is
 * the input plane shifted by a constant offset, so it is one contiguous copy
 * (or add) of the plane followed by zeroing the few padded cells.
 *
 * Threads: the GEMM runs on OpenBLAS's threads. The layout passes (im2col,
 * col2im, the transposes) are split across the weft pool given to the
 * *_pool variants, by image planes, whose outputs are disjoint; the plain
 * kernels are the same with no pool. Results do not depend on the split.
 *
 * Scratch: col (K*P floats) then the layout temp (OC*P floats). GEMM sizes
 * are int (OpenBLAS's blasint), so K, OC and P must each fit in an int. */
#include "kernels/kernels.h"

#include <string.h>

#define VB 8

/* Floats of work below which a pass is not worth splitting across threads. */
#define SPLIT_FLOATS 32768

weft_conv_dims weft_conv_dims_make(int N, int C, int H, int W, int OC, int KH, int KW,
                                   int stride, int pad)
{
    weft_conv_dims d = { N, C, H, W, OC, KH, KW, stride, pad, 0, 0 };
    if (stride > 0 && H + 2 * pad >= KH) d.OH = (H + 2 * pad - KH) / stride + 1;
    if (stride > 0 && W + 2 * pad >= KW) d.OW = (W + 2 * pad - KW) / stride + 1;
    return d;
}

int64_t weft_k_conv2d_scratch(const weft_conv_dims *d)
{
    int64_t P = (int64_t)d->N * d->OH * d->OW;
    int64_t K = (int64_t)d->C * d->KH * d->KW;
    return K * P + (int64_t)d->OC * P;
}

/* ---- small vector helpers --------------------------------------------------- */

static inline void zero_f(float *p, int64_t n) { if (n > 0) memset(p, 0, (size_t)n * sizeof *p); }
static inline void zero_small(float *p, int64_t n) { for (int64_t i = 0; i < n; i++) p[i] = 0.0f; }

/* y[i] += x[i], n elements. */
static inline void add_to(float *restrict y, const float *restrict x, int64_t n)
{
    int64_t i = 0;
    for (; i + VB <= n; i += VB)
        for (int j = 0; j < VB; j++) y[i + j] += x[i + j];
    for (; i < n; i++) y[i] += x[i];
}

/* sum of x[0..n), fp32 with VB partial sums. */
static float sum_f(const float *restrict x, int64_t n)
{
    float acc[VB] = { 0 };
    int64_t i = 0;
    for (; i + VB <= n; i += VB)
        for (int j = 0; j < VB; j++) acc[j] += x[i + j];
    float s = 0.0f;
    for (; i < n; i++) s += x[i];
    for (int j = 0; j < VB; j++) s += acc[j];
    return s;
}

/* dst[i] = act(src[i] + b), n elements; relu or none. dst may be src (the
 * one-image forward works in place): each block is read before it is
 * written, so no `restrict`. */
static void bias_act_copy(float *dst, const float *src, float b, int64_t n, weft_act act)
{
    int64_t i = 0;
    if (act == WEFT_ACT_RELU) {
        for (; i + VB <= n; i += VB) {
            float t[VB];
            for (int j = 0; j < VB; j++) t[j] = src[i + j] + b;
            for (int j = 0; j < VB; j++) t[j] = t[j] < 0.0f ? 0.0f : t[j];
            for (int j = 0; j < VB; j++) dst[i + j] = t[j];
        }
        for (; i < n; i++) { float v = src[i] + b; dst[i] = v < 0.0f ? 0.0f : v; }
    } else {
        for (; i + VB <= n; i += VB) {
            float t[VB];
            for (int j = 0; j < VB; j++) t[j] = src[i + j] + b;
            for (int j = 0; j < VB; j++) dst[i + j] = t[j];
        }
        for (; i < n; i++) dst[i] = src[i] + b;
    }
}

/* Items per pool chunk so that each chunk moves at least SPLIT_FLOATS. */
static int64_t grain_for(int64_t floats_per_item)
{
    return floats_per_item >= SPLIT_FLOATS ? 1 : SPLIT_FLOATS / (floats_per_item > 0 ? floats_per_item : 1);
}

/* ---- kernel offsets ------------------------------------------------------------ */

/* Output indices o in [lo, hi) whose input index o*s - p + k lies in [0, in). */
typedef struct { int lo, hi; } span;
static inline span valid_span(int out, int in, int s, int p, int k)
{
    span r;
    if (s == 1) {   /* no divisions on the common path */
        r.lo = p - k > 0 ? p - k : 0;
        r.hi = in + p - k;
    } else {
        r.lo = p - k > 0 ? (p - k + s - 1) / s : 0;
        int t = in - 1 + p - k;
        r.hi = t < 0 ? 0 : t / s + 1;
    }
    if (r.hi > out) r.hi = out;
    if (r.lo > r.hi) r.lo = r.hi;
    return r;
}

/* Is this the shifted-plane case? */
static inline bool same_width_s1(const weft_conv_dims *d) { return d->stride == 1 && d->OW == d->W; }

/* Everything about one kernel offset (kh,kw) that does not depend on the
 * image or channel:
 *   ro, co   output rows / columns whose input pixel is inside the image
 *   shift    input index minus output index (shifted-plane case)
 *   j0, j1   the output range [j0, j1) copied in the shifted-plane case:
 *            valid rows only, and never reading outside the input plane;
 *            every cell outside it is padding. */
typedef struct { span ro, co; int kh, kw; int64_t shift, j0, j1; } tap;

static inline tap tap_make(const weft_conv_dims *d, int kh, int kw)
{
    tap t;
    t.ro = valid_span(d->OH, d->H, d->stride, d->pad, kh);
    t.co = valid_span(d->OW, d->W, d->stride, d->pad, kw);
    t.kh = kh;
    t.kw = kw;
    t.shift = (int64_t)(kh - d->pad) * d->W + (kw - d->pad);
    t.j0 = (int64_t)t.ro.lo * d->OW;
    t.j1 = (int64_t)t.ro.hi * d->OW;
    if (t.j0 < -t.shift) t.j0 = -t.shift;
    if (t.j1 > (int64_t)d->H * d->W - t.shift) t.j1 = (int64_t)d->H * d->W - t.shift;
    if (t.j1 < t.j0) t.j1 = t.j0;
    return t;
}

/* Zero, in the valid rows of an (OH,OW) plane, the columns outside co. */
static inline void zero_pad_cols(float *plane, int OW, const tap *t)
{
    if (t->co.lo == 0 && t->co.hi == OW) return;
    for (int oh = t->ro.lo; oh < t->ro.hi; oh++) {
        float *row = plane + (int64_t)oh * OW;
        for (int ow = 0; ow < t->co.lo; ow++) row[ow] = 0.0f;
        for (int ow = t->co.hi; ow < OW; ow++) row[ow] = 0.0f;
    }
}

/* ---- im2col / col2im ------------------------------------------------------------- */

/* One (OH,OW) plane of col from input plane src (H,W) for the offset t. */
static void im2col_plane(float *restrict dst, const float *restrict src,
                         const weft_conv_dims *d, const tap *t)
{
    const int W = d->W, OH = d->OH, OW = d->OW, s = d->stride, p = d->pad;
    const span ro = t->ro, co = t->co;
    if (same_width_s1(d)) {
        zero_small(dst, t->j0);
        memcpy(dst + t->j0, src + t->j0 + t->shift, (size_t)(t->j1 - t->j0) * sizeof *dst);
        zero_small(dst + t->j1, (int64_t)OH * OW - t->j1);
        zero_pad_cols(dst, OW, t);
        return;
    }
    zero_small(dst, (int64_t)ro.lo * OW);
    for (int oh = ro.lo; oh < ro.hi; oh++) {
        float *row = dst + (int64_t)oh * OW;
        const float *in = src + (int64_t)(oh * s - p + t->kh) * W;   /* input row */
        for (int ow = 0; ow < co.lo; ow++) row[ow] = 0.0f;
        if (s == 1) {
            memcpy(row + co.lo, in + co.lo - p + t->kw, (size_t)(co.hi - co.lo) * sizeof *row);
        } else {
            for (int ow = co.lo; ow < co.hi; ow++) row[ow] = in[ow * s - p + t->kw];
        }
        for (int ow = co.hi; ow < OW; ow++) row[ow] = 0.0f;
    }
    zero_small(dst + (int64_t)ro.hi * OW, (int64_t)(OH - ro.hi) * OW);
}

/* dst plane (H,W) += the column plane src (OH,OW) of offset t, scattered
 * back. In the shifted-plane case src's padding columns are zeroed first
 * (src is scratch) so that the scatter is one contiguous add. */
static void col2im_plane(float *restrict dst, float *restrict src,
                         const weft_conv_dims *d, const tap *t)
{
    const int W = d->W, OW = d->OW, s = d->stride, p = d->pad;
    const span ro = t->ro, co = t->co;
    if (same_width_s1(d)) {
        zero_pad_cols(src, OW, t);
        add_to(dst + t->j0 + t->shift, src + t->j0, t->j1 - t->j0);
        return;
    }
    for (int oh = ro.lo; oh < ro.hi; oh++) {
        const float *row = src + (int64_t)oh * OW;
        float *out = dst + (int64_t)(oh * s - p + t->kh) * W;   /* input row */
        if (s == 1) {
            add_to(out + co.lo - p + t->kw, row + co.lo, co.hi - co.lo);
        } else {
            for (int ow = co.lo; ow < co.hi; ow++) out[ow * s - p + t->kw] += row[ow];
        }
    }
}

typedef struct { const weft_conv_dims *d; float *col; const float *x; float *dx; } cols_job;

/* col (K,P) from x (N,C,H,W). Item i is the input plane (c, n) with
 * i = c*N + n: its KH*KW column planes, read from one cached input plane. */
static void im2col_chunk(void *ctx, int64_t begin, int64_t end)
{
    const cols_job *j = ctx;
    const weft_conv_dims *d = j->d;
    const int64_t HW = (int64_t)d->H * d->W, OHW = (int64_t)d->OH * d->OW, P = d->N * OHW;
    for (int64_t i = begin; i < end; i++) {
        const int c = (int)(i / d->N), n = (int)(i % d->N);
        const float *src = j->x + ((int64_t)n * d->C + c) * HW;
        float *dst = j->col + (int64_t)c * d->KH * d->KW * P + n * OHW;
        for (int kh = 0; kh < d->KH; kh++)
            for (int kw = 0; kw < d->KW; kw++, dst += P) {
                const tap t = tap_make(d, kh, kw);
                im2col_plane(dst, src, d, &t);
            }
    }
}

/* dx (N,C,H,W) from dcol (K,P). Item i is the dx plane i = n*C + c: zeroed,
 * then the KH*KW column planes added into it while it sits in cache. */
static void col2im_chunk(void *ctx, int64_t begin, int64_t end)
{
    const cols_job *j = ctx;
    const weft_conv_dims *d = j->d;
    const int64_t HW = (int64_t)d->H * d->W, OHW = (int64_t)d->OH * d->OW, P = d->N * OHW;
    for (int64_t i = begin; i < end; i++) {
        const int n = (int)(i / d->C), c = (int)(i % d->C);
        float *dst = j->dx + i * HW;
        float *src = j->col + (int64_t)c * d->KH * d->KW * P + n * OHW;
        zero_f(dst, HW);
        for (int kh = 0; kh < d->KH; kh++)
            for (int kw = 0; kw < d->KW; kw++, src += P) {
                const tap t = tap_make(d, kh, kw);
                col2im_plane(dst, src, d, &t);
            }
    }
}

static void im2col(weft_pool *pool, float *col, const float *x, const weft_conv_dims *d)
{
    cols_job j = { d, col, x, NULL };
    weft_pool_for(pool, (int64_t)d->C * d->N, grain_for((int64_t)d->KH * d->KW * d->OH * d->OW),
                  im2col_chunk, &j);
}

static void col2im(weft_pool *pool, float *dx, float *dcol, const weft_conv_dims *d)
{
    cols_job j = { d, dcol, NULL, dx };
    weft_pool_for(pool, (int64_t)d->N * d->C, grain_for((int64_t)d->KH * d->KW * d->OH * d->OW),
                  col2im_chunk, &j);
}

/* ---- layout passes ---------------------------------------------------------------- */

typedef struct { const weft_conv_dims *d; float *y; const float *yt; const float *b; weft_act act; } fixup_job;

/* y plane i = n*OC + oc = act(yt[oc, n*OHW ..] + b[oc]). */
static void fixup_chunk(void *ctx, int64_t begin, int64_t end)
{
    const fixup_job *j = ctx;
    const weft_conv_dims *d = j->d;
    const int64_t OHW = (int64_t)d->OH * d->OW, P = d->N * OHW;
    for (int64_t i = begin; i < end; i++) {
        const int n = (int)(i / d->OC), oc = (int)(i % d->OC);
        bias_act_copy(j->y + i * OHW, j->yt + oc * P + n * OHW, j->b ? j->b[oc] : 0.0f, OHW, j->act);
    }
}

typedef struct { const weft_conv_dims *d; float *dyt; float *db; const float *dy; } dyt_job;

/* Row oc of dyt (OC, N*OHW) from the oc planes of dy (N, OC, OHW), and with
 * db, db[oc] = the sum of that row while it is in cache. */
static void dyt_chunk(void *ctx, int64_t begin, int64_t end)
{
    const dyt_job *j = ctx;
    const weft_conv_dims *d = j->d;
    const int64_t OHW = (int64_t)d->OH * d->OW, P = d->N * OHW;
    for (int64_t oc = begin; oc < end; oc++) {
        float *row = j->dyt + oc * P;
        for (int n = 0; n < d->N; n++)
            memcpy(row + n * OHW, j->dy + ((int64_t)n * d->OC + oc) * OHW, (size_t)OHW * sizeof *row);
        if (j->db) j->db[oc] = sum_f(row, P);
    }
}

/* db[oc] = sum of row oc of an (OC, OHW) dy (the N == 1 case). */
static void dbsum_chunk(void *ctx, int64_t begin, int64_t end)
{
    const dyt_job *j = ctx;
    const int64_t OHW = (int64_t)j->d->OH * j->d->OW;
    for (int64_t oc = begin; oc < end; oc++) j->db[oc] = sum_f(j->dy + oc * OHW, OHW);
}

/* dy (N, OC, OHW) as the (OC, N*OHW) matrix the GEMMs need: dy itself when
 * N is 1, else its transpose written to tmp. With db (OC) non-NULL, also
 * db = the sums of dy over N and OHW. */
static const float *dy_matrix(weft_pool *pool, float *tmp, float *db, const float *dy,
                              const weft_conv_dims *d)
{
    const int64_t P = (int64_t)d->N * d->OH * d->OW;
    dyt_job j = { d, tmp, db, dy };
    if (d->N == 1) {
        if (db) weft_pool_for(pool, d->OC, grain_for(P), dbsum_chunk, &j);
        return dy;
    }
    weft_pool_for(pool, d->OC, grain_for(P), dyt_chunk, &j);
    return tmp;
}

/* ---- weight gradient of a 9-tap patch (the first layer) ------------------------------
 * With K = C*KH*KW = 9 (a 3x3 kernel on one channel) the GEMM
 * dw (OC,9) = dyt (OC,P) col^T is tall and thin, and OpenBLAS threads it
 * badly (slower on 2 threads than on 1 here). Instead each dw[oc][r] is a
 * sum over images of dot products of dy's (n,oc) plane with col's row r,
 * read straight from dy (no transpose) while the image's 9 column planes sit
 * in cache; the nine running sums are vector variables, so they stay in
 * registers. Split across the pool by oc; every sum has a fixed order. */
typedef float v4f __attribute__((vector_size(16)));
typedef float v4f_u __attribute__((vector_size(16), aligned(4), may_alias));  /* unaligned loads */
#define LD4(p) (*(const v4f_u *)(p))

static inline float hsum4(v4f a) { return (a[0] + a[1]) + (a[2] + a[3]); }

typedef struct { const weft_conv_dims *d; const float *col, *dy; float *dw, *db; } dw9_job;

static void dw9_chunk(void *ctx, int64_t oc0, int64_t oc1)
{
    const dw9_job *j = ctx;
    const weft_conv_dims *d = j->d;
    const int64_t OHW = (int64_t)d->OH * d->OW, P = d->N * OHW;
    for (int64_t oc = oc0; oc < oc1; oc++) {
        for (int r = 0; r < 9; r++) j->dw[oc * 9 + r] = 0.0f;
        if (j->db) j->db[oc] = 0.0f;
    }
    for (int n = 0; n < d->N; n++) {
        const float *c = j->col + n * OHW;
        for (int64_t oc = oc0; oc < oc1; oc++) {
            const float *g = j->dy + ((int64_t)n * d->OC + oc) * OHW;
            v4f a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 }, a4 = { 0 };
            v4f a5 = { 0 }, a6 = { 0 }, a7 = { 0 }, a8 = { 0 }, gs = { 0 };
            int64_t i = 0;
            for (; i + 4 <= OHW; i += 4) {
                const v4f gv = LD4(g + i);
                gs += gv;
                a0 += gv * LD4(c + i);         a1 += gv * LD4(c + P + i);
                a2 += gv * LD4(c + 2 * P + i); a3 += gv * LD4(c + 3 * P + i);
                a4 += gv * LD4(c + 4 * P + i); a5 += gv * LD4(c + 5 * P + i);
                a6 += gv * LD4(c + 6 * P + i); a7 += gv * LD4(c + 7 * P + i);
                a8 += gv * LD4(c + 8 * P + i);
            }
            float s[9] = { hsum4(a0), hsum4(a1), hsum4(a2), hsum4(a3), hsum4(a4),
                           hsum4(a5), hsum4(a6), hsum4(a7), hsum4(a8) };
            float sg = hsum4(gs);
            for (; i < OHW; i++) {
                sg += g[i];
                for (int r = 0; r < 9; r++) s[r] += g[i] * c[r * P + i];
            }
            for (int r = 0; r < 9; r++) j->dw[oc * 9 + r] += s[r];
            if (j->db) j->db[oc] += sg;
        }
    }
}

/* ---- the kernels ---------------------------------------------------------------------- */

void weft_k_conv2d_fwd_pool(weft_pool *pool, float *y, const float *x, const float *w,
                            const float *b, const weft_conv_dims *d, weft_act act, float *scratch)
{
    const int64_t OHW = (int64_t)d->OH * d->OW, P = d->N * OHW;
    const int K = d->C * d->KH * d->KW;
    if (P == 0 || d->OC == 0) return;
    float *col = scratch;
    /* with one image, (OC, N*OHW) is already NCHW: the GEMM writes y */
    float *yt = d->N == 1 ? y : scratch + (int64_t)K * P;
    im2col(pool, col, x, d);
    weft_k_gemm_pool(pool, false, false, d->OC, (int)P, K, 1.0f, w, col, 0.0f, yt);
    fixup_job j = { d, y, yt, b, act == WEFT_ACT_GELU ? WEFT_ACT_NONE : act };
    if (d->N > 1 || b || j.act != WEFT_ACT_NONE)
        weft_pool_for(pool, (int64_t)d->N * d->OC, grain_for(OHW), fixup_chunk, &j);
    if (act == WEFT_ACT_GELU) weft_k_act_fwd(y, y, (int64_t)d->N * d->OC * OHW, act);
}

void weft_k_conv2d_bwd_data_pool(weft_pool *pool, float *dx, const float *dy, const float *w,
                                 const weft_conv_dims *d, float *scratch)
{
    const int64_t OHW = (int64_t)d->OH * d->OW, P = d->N * OHW;
    const int K = d->C * d->KH * d->KW;
    if (P == 0 || d->OC == 0) {
        zero_f(dx, (int64_t)d->N * d->C * d->H * d->W);
        return;
    }
    float *dcol = scratch;
    const float *dyt = dy_matrix(pool, scratch + (int64_t)K * P, NULL, dy, d);
    weft_k_gemm_pool(pool, true, false, K, (int)P, d->OC, 1.0f, w, dyt, 0.0f, dcol);
    col2im(pool, dx, dcol, d);
}

void weft_k_conv2d_bwd_weight_pool(weft_pool *pool, float *dw, float *db, const float *dy,
                                   const float *x, const weft_conv_dims *d, float *scratch)
{
    const int64_t OHW = (int64_t)d->OH * d->OW, P = d->N * OHW;
    const int K = d->C * d->KH * d->KW;
    if (P == 0) {
        zero_f(dw, (int64_t)d->OC * K);
        if (db) zero_f(db, d->OC);
        return;
    }
    float *col = scratch;
    if (K == 9) {
        im2col(pool, col, x, d);
        dw9_job j = { d, col, dy, dw, db };
        weft_pool_for(pool, d->OC, grain_for(P * 10), dw9_chunk, &j);
        return;
    }
    const float *dyt = dy_matrix(pool, scratch + (int64_t)K * P, db, dy, d);
    im2col(pool, col, x, d);
    weft_k_gemm_pool(pool, false, true, d->OC, K, (int)P, 1.0f, dyt, col, 0.0f, dw);
}

void weft_k_conv2d_fwd(float *y, const float *x, const float *w, const float *b,
                       const weft_conv_dims *d, weft_act act, float *scratch)
{
    weft_k_conv2d_fwd_pool(NULL, y, x, w, b, d, act, scratch);
}

void weft_k_conv2d_bwd_data(float *dx, const float *dy, const float *w,
                            const weft_conv_dims *d, float *scratch)
{
    weft_k_conv2d_bwd_data_pool(NULL, dx, dy, w, d, scratch);
}

void weft_k_conv2d_bwd_weight(float *dw, float *db, const float *dy, const float *x,
                              const weft_conv_dims *d, float *scratch)
{
    weft_k_conv2d_bwd_weight_pool(NULL, dw, db, dy, x, d, scratch);
}
