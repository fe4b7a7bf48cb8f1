/* pool.c — max pooling, no padding. Matches PyTorch's CPU kernel: a window's
 * value is its maximum with NaN winning (the last NaN, as PyTorch scans with
 * `v > best || isnan(v)`), and the backward sends dy to that same element —
 * the first maximal one when there is no NaN. The 2x2 stride-2 case, the one
 * every small CNN uses, has its own loops. */
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

/* Does v replace the current best in PyTorch's scan? */
static inline bool takes_over(float v, float best) { return v > best || isnan(v); }

/* Index (0..3) of the element the scan keeps among a, b, c, e (in order). */
static inline int argmax4(float a, float b, float c, float e)
{
    int i = 0;
    float m = a;
    if (takes_over(b, m)) { m = b; i = 1; }
    if (takes_over(c, m)) { m = c; i = 2; }
    if (takes_over(e, m)) { i = 3; }
    return i;
}

static inline float max2(float a, float b) { return takes_over(b, a) ? b : a; }

/* The 2x2 stride-2 loops work on blocks of OB outputs: the two input rows
 * are split into even and odd columns, and every step is a select without
 * branches, which gcc -O2 vectorises. */
#define OB 4

/* One output row: out[ow] = max of r0[2ow], r0[2ow+1], r1[2ow], r1[2ow+1]. */
static void max2x2_row(float *restrict out, const float *restrict r0, const float *restrict r1, int OW)
{
    int ow = 0;
    for (; ow + OB <= OW; ow += OB) {
        float a0[OB], a1[OB], b0[OB], b1[OB], m[OB];
        for (int j = 0; j < OB; j++) {
            a0[j] = r0[2 * (ow + j)]; a1[j] = r0[2 * (ow + j) + 1];
            b0[j] = r1[2 * (ow + j)]; b1[j] = r1[2 * (ow + j) + 1];
        }
        for (int j = 0; j < OB; j++) m[j] = max2(max2(max2(a0[j], a1[j]), b0[j]), b1[j]);
        for (int j = 0; j < OB; j++) out[ow + j] = m[j];
    }
    for (; ow < OW; ow++)
        out[ow] = max2(max2(max2(r0[2 * ow], r0[2 * ow + 1]), r1[2 * ow]), r1[2 * ow + 1]);
}

/* Backward of one output row, scalar: g[ow] goes to the window's element
 * that PyTorch's scan keeps, zeros to the other three. */
static void max2x2_bwd_scalar(float *restrict d0, float *restrict d1, const float *restrict g,
                              const float *restrict r0, const float *restrict r1, int from, int to)
{
    for (int ow = from; ow < to; ow++) {
        int i = argmax4(r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]);
        d0[2 * ow]     = i == 0 ? g[ow] : 0.0f;
        d0[2 * ow + 1] = i == 1 ? g[ow] : 0.0f;
        d1[2 * ow]     = i == 2 ? g[ow] : 0.0f;
        d1[2 * ow + 1] = i == 3 ? g[ow] : 0.0f;
    }
}

/* Backward of one output row. Without NaN the kept element is the first one
 * equal to the maximum, which vectorises; a block holding a NaN takes the
 * scalar scan (PyTorch keeps the last NaN). */
static void max2x2_bwd_row(float *restrict d0, float *restrict d1, const float *restrict g,
                           const float *restrict r0, const float *restrict r1, int OW)
{
    int ow = 0;
    for (; ow + OB <= OW; ow += OB) {
        float a0[OB], a1[OB], b0[OB], b1[OB], m[OB], s0[OB], s1[OB], s2[OB], s3[OB];
        for (int j = 0; j < OB; j++) {
            a0[j] = r0[2 * (ow + j)]; a1[j] = r0[2 * (ow + j) + 1];
            b0[j] = r1[2 * (ow + j)]; b1[j] = r1[2 * (ow + j) + 1];
        }
        for (int j = 0; j < OB; j++) m[j] = max2(max2(max2(a0[j], a1[j]), b0[j]), b1[j]);
        int nan = 0;
        for (int j = 0; j < OB; j++) nan |= m[j] != m[j];
        if (nan) { max2x2_bwd_scalar(d0, d1, g, r0, r1, ow, ow + OB); continue; }
        for (int j = 0; j < OB; j++) {
            int q0 = a0[j] == m[j], q1 = a1[j] == m[j], q2 = b0[j] == m[j];
            float gv = g[ow + j];
            s0[j] = q0 ? gv : 0.0f;
            s1[j] = (q1 & !q0) ? gv : 0.0f;
            s2[j] = (q2 & !q0 & !q1) ? gv : 0.0f;
            s3[j] = (!q0 & !q1 & !q2) ? gv : 0.0f;
        }
        for (int j = 0; j < OB; j++) {
            d0[2 * (ow + j)] = s0[j]; d0[2 * (ow + j) + 1] = s1[j];
            d1[2 * (ow + j)] = s2[j]; d1[2 * (ow + j) + 1] = s3[j];
        }
    }
    max2x2_bwd_scalar(d0, d1, g, r0, r1, ow, OW);
}

static void maxpool2_fwd(float *restrict y, const float *restrict x, int64_t planes, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = xp + (int64_t)2 * oh * W;
            max2x2_row(yp + (int64_t)oh * OW, r0, r0 + W, OW);
        }
    }
}

static void maxpool2_bwd(float *restrict dx, const float *restrict dy, const float *restrict x,
                         int64_t planes, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W;
        const float *dyp = dy + pl * OH * OW;
        float *dxp = dx + pl * H * W;
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = xp + (int64_t)2 * oh * W;
            float *d0 = dxp + (int64_t)2 * oh * W;
            max2x2_bwd_row(d0, d0 + W, dyp + (int64_t)oh * OW, r0, r0 + W, OW);
            if (W & 1) { d0[W - 1] = 0.0f; d0[2 * W - 1] = 0.0f; }
        }
        if (H & 1) memset(dxp + (int64_t)(H - 1) * W, 0, (size_t)W * sizeof *dxp);
    }
}

static inline int pool_out(int in, int k, int s) { return in >= k && s > 0 ? (in - k) / s + 1 : 0; }

/* x (N,C,H,W) -> y (N,C,OH,OW), OH = (H-k)/s + 1, OW = (W-k)/s + 1. */
void weft_k_maxpool_fwd(float *y, const float *x, int N, int C, int H, int W, int k, int s)
{
    const int64_t planes = (int64_t)N * C;
    if (k == 2 && s == 2) { maxpool2_fwd(y, x, planes, H, W); return; }
    const int OH = pool_out(H, k, s), OW = pool_out(W, k, s);
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float best = -INFINITY;
                for (int i = 0; i < k; i++) {
                    const float *row = xp + (int64_t)(oh * s + i) * W + (int64_t)ow * s;
                    for (int j = 0; j < k; j++)
                        if (takes_over(row[j], best)) best = row[j];
                }
                yp[(int64_t)oh * OW + ow] = best;
            }
    }
}

/* dx (N,C,H,W) from dy (N,C,OH,OW) and the forward input x; overwrites dx. */
void weft_k_maxpool_bwd(float *dx, const float *dy, const float *x,
                        int N, int C, int H, int W, int k, int s)
{
    const int64_t planes = (int64_t)N * C;
    if (k == 2 && s == 2) { maxpool2_bwd(dx, dy, x, planes, H, W); return; }
    const int OH = pool_out(H, k, s), OW = pool_out(W, k, s);
    memset(dx, 0, (size_t)(planes * H * W) * sizeof *dx);
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W;
        const float *dyp = dy + pl * OH * OW;
        float *dxp = dx + pl * H * W;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int64_t at = (int64_t)oh * s * W + (int64_t)ow * s;  /* window's first */
                float best = -INFINITY;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) {
                        int64_t q = (int64_t)(oh * s + i) * W + (int64_t)ow * s + j;
                        if (takes_over(xp[q], best)) { best = xp[q]; at = q; }
                    }
                dxp[at] += dyp[(int64_t)oh * OW + ow];
            }
    }
}
