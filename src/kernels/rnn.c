/* rnn.c — LSTM, as one cell step and as a whole layer over a sequence.
 *
 * Both share the gate passes: forward, pre-activations a (B,4H) from the
 * GEMMs plus the two biases become the activated gates (in place) and the
 * new c and h; backward, the activated gates, c, c' and the incoming dh, dc
 * give the pre-activation gradient dA (B,4H) and dc of the previous step.
 * The passes work on NN_VB hidden units at a time, the four gates of a unit
 * being a[u], a[H+u], a[2H+u], a[3H+u], so the transcendentals vectorise.
 *
 * Layer forward: the input projection of all T steps is one GEMM over
 * (T*B, I) into the gates buffer; each step adds h W_hh^T (one GEMM,
 * accumulating into its slice) and runs the gate pass. Layer backward: the
 * recurrence needs only dA_t W_hh per step; dx, dW_ih, dW_hh and the bias
 * gradients are one GEMM (or column sum) each over all steps afterwards.
 * With a pool, the GEMMs split their output columns and the gate passes
 * split rows; every element is computed the same way whatever the split. */
#include "kernels/nn.h"
#include "kernels/nn_math.h"

#include <string.h>

/* ---- gate passes ----------------------------------------------------------------- */

/* Block loads and stores of n <= NN_VB floats: a whole block as a fixed-length
 * loop, a tail (the last block when NN_VB does not divide H) by memcpy. */
static inline __attribute__((always_inline)) void ld(float *dst, const float *src, int n)
{
    if (n == NN_VB) for (int k = 0; k < NN_VB; k++) dst[k] = src[k];
    else memcpy(dst, src, (size_t)n * sizeof *dst);
}
static inline __attribute__((always_inline)) void st(float *dst, const float *src, int n)
{
    if (n == NN_VB) for (int k = 0; k < NN_VB; k++) dst[k] = src[k];
    else memcpy(dst, src, (size_t)n * sizeof *dst);
}

/* One block of n <= NN_VB units: ai..ao hold pre-activations on entry and
 * activated gates on exit; c in, c1 and h1 out. Arrays are locals, so the
 * loops vectorise whatever the caller's pointers. */
static inline __attribute__((always_inline)) void fwd_block(float *ai, float *af, float *ag,
                                                            float *ao, const float *c, float *c1,
                                                            float *h1)
{
    nn_sigmoid_block(ai);
    nn_sigmoid_block(af);
    nn_tanh_block(ag);
    nn_sigmoid_block(ao);
    float t[NN_VB];
    for (int k = 0; k < NN_VB; k++) c1[k] = af[k] * c[k] + ai[k] * ag[k];
    for (int k = 0; k < NN_VB; k++) t[k] = c1[k];
    nn_tanh_block(t);
    for (int k = 0; k < NN_VB; k++) h1[k] = ao[k] * t[k];
}

/* Row pass: a (4H) pre-activations (+ biases, NULL for none) -> activated,
 * c (H) or NULL (zeros) -> c1 (H), h1 (H). */
NN_HOT static void gates_fwd_row(float *a, const float *b_ih, const float *b_hh, const float *c,
                          float *c1, float *h1, int H)
{
    const int64_t G = 4 * (int64_t)H;
    if (b_ih) NN_MAP(a, G, k, a[k] + b_ih[k]);
    if (b_hh) NN_MAP(a, G, k, a[k] + b_hh[k]);
    for (int u = 0; u < H; u += NN_VB) {
        const int n = H - u < NN_VB ? H - u : NN_VB;
        float ai[NN_VB] = { 0 }, af[NN_VB] = { 0 }, ag[NN_VB] = { 0 }, ao[NN_VB] = { 0 };
        float cc[NN_VB] = { 0 }, nc[NN_VB], nh[NN_VB];
        float *gi = a + u, *gf = a + H + u, *gg = a + 2 * (int64_t)H + u, *go = a + 3 * (int64_t)H + u;
        ld(ai, gi, n); ld(af, gf, n); ld(ag, gg, n); ld(ao, go, n);
        if (c) ld(cc, c + u, n);
        fwd_block(ai, af, ag, ao, cc, nc, nh);
        st(gi, ai, n); st(gf, af, n); st(gg, ag, n); st(go, ao, n);
        st(c1 + u, nc, n);
        st(h1 + u, nh, n);
    }
}

/* One block of the backward: gates i f g o, c, c1, dh, dc in; dA's four
 * parts and dcp (dc of the previous step) out. */
static inline __attribute__((always_inline)) void bwd_block(const float *i, const float *f,
                                                            const float *g, const float *o,
                                                            const float *c, const float *c1,
                                                            const float *dh, const float *dc,
                                                            float *dai, float *daf, float *dag,
                                                            float *dao, float *dcp)
{
    float tc[NN_VB], dct[NN_VB];
    for (int k = 0; k < NN_VB; k++) tc[k] = c1[k];
    nn_tanh_block(tc);
    for (int k = 0; k < NN_VB; k++) dct[k] = dh[k] * o[k] * (1.0f - tc[k] * tc[k]) + dc[k];
    for (int k = 0; k < NN_VB; k++) {
        dao[k] = dh[k] * tc[k] * o[k] * (1.0f - o[k]);
        dai[k] = dct[k] * g[k] * i[k] * (1.0f - i[k]);
        daf[k] = dct[k] * c[k] * f[k] * (1.0f - f[k]);
        dag[k] = dct[k] * i[k] * (1.0f - g[k] * g[k]);
        dcp[k] = dct[k] * f[k];
    }
}

/* Row pass: gates (4H) activated, c (H) or NULL, c1 (H), dh (H) (+ dh2 (H)
 * or NULL, added), dc (H) or NULL -> da (4H), dcp (H) or NULL. dcp may be dc. */
NN_HOT static void gates_bwd_row(float *da, float *dcp, const float *gt, const float *c, const float *c1,
                          const float *dh, const float *dh2, const float *dc, int H)
{
    const int64_t H1 = H, H2 = 2 * (int64_t)H, H3 = 3 * (int64_t)H;
    for (int u = 0; u < H; u += NN_VB) {
        const int n = H - u < NN_VB ? H - u : NN_VB;
        float i[NN_VB] = { 0 }, f[NN_VB] = { 0 }, g[NN_VB] = { 0 }, o[NN_VB] = { 0 };
        float cc[NN_VB] = { 0 }, cn[NN_VB] = { 0 }, h[NN_VB] = { 0 }, h2[NN_VB] = { 0 };
        float d[NN_VB] = { 0 };
        float ri[NN_VB], rf[NN_VB], rg[NN_VB], ro[NN_VB], rc[NN_VB];
        ld(i, gt + u, n); ld(f, gt + H1 + u, n); ld(g, gt + H2 + u, n); ld(o, gt + H3 + u, n);
        if (c) ld(cc, c + u, n);
        ld(cn, c1 + u, n);
        ld(h, dh + u, n);
        if (dh2) {
            ld(h2, dh2 + u, n);
            for (int k = 0; k < NN_VB; k++) h[k] += h2[k];
        }
        if (dc) ld(d, dc + u, n);
        bwd_block(i, f, g, o, cc, cn, h, d, ri, rf, rg, ro, rc);
        st(da + u, ri, n); st(da + H1 + u, rf, n); st(da + H2 + u, rg, n); st(da + H3 + u, ro, n);
        if (dcp) st(dcp + u, rc, n);
    }
}

/* ---- one cell step ----------------------------------------------------------------- */

void weft_k_lstm_cell_fwd(float *h1, float *c1, float *gates, const float *x, const float *h,
                          const float *c, const float *w_ih, const float *w_hh,
                          const float *b_ih, const float *b_hh, int B, int I, int H)
{
    const int G = 4 * H;
    weft_k_gemm(false, true, B, G, I, 1.0f, x, w_ih, 0.0f, gates);
    if (h) weft_k_gemm(false, true, B, G, H, 1.0f, h, w_hh, 1.0f, gates);
    for (int b = 0; b < B; b++)
        gates_fwd_row(gates + (int64_t)b * G, b_ih, b_hh, c ? c + (int64_t)b * H : NULL,
                      c1 + (int64_t)b * H, h1 + (int64_t)b * H, H);
}

/* db (G) += column sums of da (M,G), rows in order. */
static void colsum_acc(float *db, const float *da, int64_t M, int64_t G)
{
    for (int64_t r = 0; r < M; r++) {
        const float *row = da + r * G;
        NN_MAP(db, G, k, db[k] + row[k]);
    }
}

void weft_k_lstm_cell_bwd(float *dx, float *dh, float *dc, float *dw_ih, float *dw_hh,
                          float *db_ih, float *db_hh, const float *dh1, const float *dc1,
                          const float *gates, const float *c, const float *c1, const float *x,
                          const float *h, const float *w_ih, const float *w_hh,
                          int B, int I, int H, float *scratch)
{
    const int G = 4 * H;
    float *da = scratch;
    for (int b = 0; b < B; b++) {
        const int64_t o = (int64_t)b * H;
        gates_bwd_row(da + (int64_t)b * G, dc ? dc + o : NULL, gates + (int64_t)b * G,
                      c ? c + o : NULL, c1 + o, dh1 + o, NULL, dc1 ? dc1 + o : NULL, H);
    }
    if (dx) weft_k_gemm(false, false, B, I, G, 1.0f, da, w_ih, 0.0f, dx);
    if (dh) weft_k_gemm(false, false, B, H, G, 1.0f, da, w_hh, 0.0f, dh);
    if (dw_ih) weft_k_gemm(true, false, G, I, B, 1.0f, da, x, 1.0f, dw_ih);
    if (dw_hh && h) weft_k_gemm(true, false, G, H, B, 1.0f, da, h, 1.0f, dw_hh);
    if (db_ih) colsum_acc(db_ih, da, B, G);
    if (db_hh) colsum_acc(db_hh, da, B, G);
}

/* ---- a layer over a sequence ---------------------------------------------------------- */

typedef struct {
    float *a, *c1, *h1, *dcp;           /* step slices */
    const float *c, *cc1, *b_ih, *b_hh, *gt, *dh, *dh2, *dc;
    int H;
} step_job;

static void fwd_rows(void *ctx, int64_t r0, int64_t r1)
{
    const step_job *j = ctx;
    const int64_t H = j->H;
    for (int64_t b = r0; b < r1; b++)
        gates_fwd_row(j->a + b * 4 * H, j->b_ih, j->b_hh, j->c ? j->c + b * H : NULL,
                      j->c1 + b * H, j->h1 + b * H, j->H);
}

static void bwd_rows(void *ctx, int64_t r0, int64_t r1)
{
    const step_job *j = ctx;
    const int64_t H = j->H;
    for (int64_t b = r0; b < r1; b++)
        gates_bwd_row(j->a + b * 4 * H, j->dcp + b * H, j->gt + b * 4 * H,
                      j->c ? j->c + b * H : NULL, j->cc1 + b * H, j->dh + b * H,
                      j->dh2 ? j->dh2 + b * H : NULL, j->dc ? j->dc + b * H : NULL, j->H);
}

static int64_t row_grain(int H) { return 1 + 16384 / (4 * (int64_t)H); }

void weft_k_lstm_fwd_pool(weft_pool *pool, float *y, float *gates, float *cs, const float *x,
                          const float *h0, const float *c0, const float *w_ih, const float *w_hh,
                          const float *b_ih, const float *b_hh, int T, int B, int I, int H)
{
    if (T <= 0 || B <= 0 || H <= 0) return;
    const int G = 4 * H;
    const int64_t gs = (int64_t)B * G, hs = (int64_t)B * H;
    weft_k_gemm_pool(pool, false, true, T * B, G, I, 1.0f, x, w_ih, 0.0f, gates);
    for (int t = 0; t < T; t++) {
        const float *hp = t ? y + (t - 1) * hs : h0;
        if (hp) weft_k_gemm_pool(pool, false, true, B, G, H, 1.0f, hp, w_hh, 1.0f, gates + t * gs);
        step_job j = { .a = gates + t * gs, .c1 = cs + t * hs, .h1 = y + t * hs,
                       .c = t ? cs + (t - 1) * hs : c0, .b_ih = b_ih, .b_hh = b_hh, .H = H };
        weft_pool_for(pool, B, row_grain(H), fwd_rows, &j);
    }
}

int64_t weft_k_lstm_bwd_scratch(int T, int B, int H)
{
    return (int64_t)T * B * 4 * H + 2 * (int64_t)B * H;
}

typedef struct { float *db; const float *da; int64_t M, G; } cs_job;

static void colsum_chunk(void *ctx, int64_t k0, int64_t k1)
{
    const cs_job *j = ctx;
    float *db = j->db + k0;
    memset(db, 0, (size_t)(k1 - k0) * sizeof *db);
    for (int64_t r = 0; r < j->M; r++) {
        const float *row = j->da + r * j->G + k0;
        NN_MAP(db, k1 - k0, k, db[k] + row[k]);
    }
}

void weft_k_lstm_bwd_pool(weft_pool *pool, float *dx, float *dh0, float *dc0, float *dw_ih,
                          float *dw_hh, float *db_ih, float *db_hh, const float *dy,
                          const float *dhT, const float *dcT, const float *gates, const float *cs,
                          const float *x, const float *y, const float *h0, const float *c0,
                          const float *w_ih, const float *w_hh, int T, int B, int I, int H,
                          float *scratch)
{
    if (T <= 0 || B <= 0 || H <= 0) return;
    const int G = 4 * H;
    const int64_t gs = (int64_t)B * G, hs = (int64_t)B * H;
    float *da = scratch, *dh = scratch + (int64_t)T * gs, *dc = dh + hs;
    if (dhT) memcpy(dh, dhT, (size_t)hs * sizeof *dh);
    else memset(dh, 0, (size_t)hs * sizeof *dh);
    if (dcT) memcpy(dc, dcT, (size_t)hs * sizeof *dc);
    else memset(dc, 0, (size_t)hs * sizeof *dc);
    for (int t = T - 1; t >= 0; t--) {
        step_job j = { .a = da + t * gs, .dcp = dc, .gt = gates + t * gs,
                       .c = t ? cs + (t - 1) * hs : c0, .cc1 = cs + t * hs, .dh = dh,
                       .dh2 = dy ? dy + t * hs : NULL, .dc = dc, .H = H };
        weft_pool_for(pool, B, row_grain(H), bwd_rows, &j);
        if (t > 0 || dh0)
            weft_k_gemm_pool(pool, false, false, B, H, G, 1.0f, da + t * gs, w_hh, 0.0f, dh);
    }
    if (dh0) memcpy(dh0, dh, (size_t)hs * sizeof *dh0);
    if (dc0) memcpy(dc0, dc, (size_t)hs * sizeof *dc0);
    const int TB = T * B;
    if (dx) weft_k_gemm_pool(pool, false, false, TB, I, G, 1.0f, da, w_ih, 0.0f, dx);
    if (dw_ih) weft_k_gemm_pool(pool, true, false, G, I, TB, 1.0f, da, x, 0.0f, dw_ih);
    if (dw_hh) {
        weft_k_gemm_pool(pool, true, false, G, H, TB - B, 1.0f, da + gs, y, 0.0f, dw_hh);
        if (h0) weft_k_gemm_pool(pool, true, false, G, H, B, 1.0f, da, h0, 1.0f, dw_hh);
    }
    float *db = db_ih ? db_ih : db_hh;
    if (db) {
        cs_job j = { db, da, TB, G };
        weft_pool_for(pool, G, 256, colsum_chunk, &j);
        if (db_ih && db_hh) memcpy(db_hh, db_ih, (size_t)G * sizeof *db_hh);
    }
}

void weft_k_lstm_fwd(float *y, float *gates, float *cs, const float *x, const float *h0,
                     const float *c0, const float *w_ih, const float *w_hh, const float *b_ih,
                     const float *b_hh, int T, int B, int I, int H)
{
    weft_k_lstm_fwd_pool(NULL, y, gates, cs, x, h0, c0, w_ih, w_hh, b_ih, b_hh, T, B, I, H);
}

void weft_k_lstm_bwd(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh,
                     float *db_ih, float *db_hh, const float *dy, const float *dhT,
                     const float *dcT, const float *gates, const float *cs, const float *x,
                     const float *y, const float *h0, const float *c0, const float *w_ih,
                     const float *w_hh, int T, int B, int I, int H, float *scratch)
{
    weft_k_lstm_bwd_pool(NULL, dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dy, dhT, dcT, gates, cs,
                         x, y, h0, c0, w_ih, w_hh, T, B, I, H, scratch);
}
