/* attention.c — the core of multi-head attention, one (batch, head) pair at a
 * time: S = q k^T / sqrt(Dh) and out = P v are sgemms, the row softmax runs
 * in place in P. P is kept for backward (B*H*T*T floats: 4 MB a layer for
 * gpt-mini), which saves recomputing q k^T there.
 *
 * A position bias (ALiBi-style slopes, one per direction and head) is
 * subtracted from the scores before the softmax; being fixed, it needs no
 * backward of its own.
 *
 * Causal rows: row i's softmax covers keys 0..i and keys i+1.. are set to
 * exactly 0, so every product sees them as zero weights. Above ATT_ROWS
 * query rows, a causal head goes by blocks of ATT_ROWS rows, each block
 * multiplying only the keys it can see: at T = 128 that is 5/8 of the full
 * products, and measured 11% (forward) and 25% (backward) faster than the
 * full square despite four times as many sgemm calls.
 *
 * Pool: (b, h) pairs are independent; each runs single-threaded sgemms
 * (exec keeps OpenBLAS at one thread), so the split never changes a bit.
 * The backward needs 2*T*T floats per worker (dP, or a block's compact P and
 * dS): the job is split into one slot per pool thread, slot s using
 * scratch + s*2*T*T. */
#include "kernels/nn.h"
#include "kernels/nn_math.h"

#include <math.h>
#include <string.h>

/* Query rows r0 .. r1-1 of S (row stride w): each row becomes the softmax of
 * its entries (causal: of its first i+1, and zeros after). */
NN_HOT static void softmax_rows(float *S, int r0, int r1, int w, bool causal)
{
    for (int i = r0; i < r1; i++) {
        float *row = S + (int64_t)(i - r0) * w;
        const int n = causal ? i + 1 : w;
        const float s = nn_exp_shift_sum(row, row, n, nn_max(row, n));
        nn_scale(row, n, 1.0f / s);
        if (n < w) memset(row + n, 0, (size_t)(w - n) * sizeof *row);
    }
}

/* dS = P (dP - rowsum(P dP)) * scale, in place over dP; rows are query rows
 * r0 .. r0+nr-1, stride w (causal: entries after i+1 set to 0). */
NN_HOT static void softmax_bwd_rows(float *dP, const float *P, int nr, int w, int r0, bool causal,
                                    float scale)
{
    for (int i = 0; i < nr; i++) {
        const float *p = P + (int64_t)i * w;
        float *d = dP + (int64_t)i * w;
        const int n = causal ? r0 + i + 1 : w;
        const float dot = nn_dot(p, d, n);
        NN_MAP(d, n, c, p[c] * (d[c] - dot) * scale);
        if (n < w) memset(d + n, 0, (size_t)(w - n) * sizeof *d);
    }
}

/* Subtracts the position bias of nr query rows r0 .. r0+nr-1 over keys
 * 0 .. w-1 (row stride w): back * (i - j) for keys before the query,
 * ahead * (j - i) after it. */
NN_HOT static void pos_bias_rows(float *S, int r0, int nr, int w, float back, float ahead)
{
    for (int i = 0; i < nr; i++) {
        float *row = S + (int64_t)i * w;
        const int qi = r0 + i;
        for (int j = 0; j < w && j < qi; j++) row[j] -= back * (float)(qi - j);
        if (ahead != 0.0f)
            for (int j = qi + 1; j < w; j++) row[j] -= ahead * (float)(j - qi);
    }
}

typedef struct {
    float *out, *P, *dq, *dk, *dv, *scratch;
    const float *q, *k, *v, *dout, *cP, *slopes;
    int64_t BH;
    int H, T, Dh, slots;
    bool causal;
} att_job;

/* Causal heads go by blocks of ATT_ROWS query rows: rows [r0, r1) see keys
 * [0, r1) only, so their scores are an (r1 - r0, r1) product, computed
 * compactly at the start of the rows' slab of P, used compactly for P v,
 * then spread to row stride T from the last row back. */
enum { ATT_ROWS = 32 };

static void att_fwd_head_causal(const att_job *j, int64_t bh)
{
    const int T = j->T, Dh = j->Dh;
    const int64_t hs = (int64_t)T * Dh;
    const float *q = j->q + bh * hs, *k = j->k + bh * hs, *v = j->v + bh * hs;
    float *P = j->P + bh * T * T, *out = j->out + bh * hs;
    const float scale = 1.0f / sqrtf((float)Dh);
    const int64_t h = bh % j->H;
    for (int r0 = 0; r0 < T; r0 += ATT_ROWS) {
        const int r1 = T - r0 < ATT_ROWS ? T : r0 + ATT_ROWS, nb = r1 - r0;
        float *S = P + (int64_t)r0 * T;   /* (nb, r1) compact */
        weft_k_gemm(false, true, nb, r1, Dh, scale, q + (int64_t)r0 * Dh, k, 0.0f, S);
        if (j->slopes) pos_bias_rows(S, r0, nb, r1, j->slopes[h * 2], 0.0f);   /* later keys are masked */
        softmax_rows(S, r0, r1, r1, true);
        weft_k_gemm(false, false, nb, Dh, r1, 1.0f, S, v, 0.0f, out + (int64_t)r0 * Dh);
        if (r1 == T) continue;
        for (int i = nb - 1; i >= 0; i--) {
            float *dst = S + (int64_t)i * T;
            memmove(dst, S + (int64_t)i * r1, (size_t)r1 * sizeof *dst);
            memset(dst + r1, 0, (size_t)(T - r1) * sizeof *dst);
        }
    }
}

static void att_fwd_head(const att_job *j, int64_t bh)
{
    if (j->causal && j->T > ATT_ROWS) {
        att_fwd_head_causal(j, bh);
        return;
    }
    const int T = j->T, Dh = j->Dh;
    const int64_t hs = (int64_t)T * Dh;
    float *P = j->P + bh * T * T;
    weft_k_gemm(false, true, T, T, Dh, 1.0f / sqrtf((float)Dh), j->q + bh * hs, j->k + bh * hs,
                0.0f, P);
    if (j->slopes)   /* a causal row's later keys are masked: no bias to add there */
        pos_bias_rows(P, 0, T, T, j->slopes[bh % j->H * 2], j->causal ? 0.0f : j->slopes[bh % j->H * 2 + 1]);
    softmax_rows(P, 0, T, T, j->causal);
    weft_k_gemm(false, false, T, Dh, T, 1.0f, P, j->v + bh * hs, 0.0f, j->out + bh * hs);
}

static void att_fwd_chunk(void *ctx, int64_t b, int64_t e)
{
    for (int64_t bh = b; bh < e; bh++) att_fwd_head(ctx, bh);
}

void weft_k_attention_fwd_pool(weft_pool *pool, float *out, float *P, const float *q,
                               const float *k, const float *v, int B, int H, int T, int Dh,
                               bool causal, const float *slopes)
{
    if (B <= 0 || H <= 0 || T <= 0 || Dh <= 0) return;
    att_job j = { .out = out, .P = P, .q = q, .k = k, .v = v, .slopes = slopes,
                  .BH = (int64_t)B * H, .H = H, .T = T, .Dh = Dh, .causal = causal };
    weft_pool_for(pool, j.BH, 1, att_fwd_chunk, &j);
}

void weft_k_attention_fwd(float *out, float *P, const float *q, const float *k, const float *v,
                          int B, int H, int T, int Dh, bool causal, const float *slopes)
{
    weft_k_attention_fwd_pool(NULL, out, P, q, k, v, B, H, T, Dh, causal, slopes);
}

/* dv = P^T dout;  dP = dout v^T;  dS = P (dP - rowsum(P dP)) / sqrt(Dh);
 * dq = dS k;  dk = dS^T q.  dS overwrites dP in the slot's scratch. */
static void att_bwd_head(const att_job *j, int64_t bh, float *dP)
{
    const int T = j->T, Dh = j->Dh;
    const int64_t hs = (int64_t)T * Dh;
    const float *P = j->cP + bh * T * T, *dout = j->dout + bh * hs;
    const float scale = 1.0f / sqrtf((float)Dh);
    weft_k_gemm(true, false, T, Dh, T, 1.0f, P, dout, 0.0f, j->dv + bh * hs);
    weft_k_gemm(false, true, T, T, Dh, 1.0f, dout, j->v + bh * hs, 0.0f, dP);
    softmax_bwd_rows(dP, P, T, T, 0, j->causal, scale);
    weft_k_gemm(false, false, T, Dh, T, 1.0f, dP, j->k + bh * hs, 0.0f, j->dq + bh * hs);
    weft_k_gemm(true, false, T, Dh, T, 1.0f, dP, j->q + bh * hs, 0.0f, j->dk + bh * hs);
}

/* The causal blocks backward: for rows [r0, r1), with Pc, dS (nb, r1) compact
 * in the slot's scratch:  dv[0:r1] += Pc^T dout[r0:r1];
 * dP = dout[r0:r1] v[0:r1]^T;  dS = Pc (dP - rowsum(Pc dP)) / sqrt(Dh);
 * dq[r0:r1] = dS k[0:r1];  dk[0:r1] += dS^T q[r0:r1]. */
static void att_bwd_head_causal(const att_job *j, int64_t bh, float *scr)
{
    const int T = j->T, Dh = j->Dh;
    const int64_t hs = (int64_t)T * Dh;
    const float *P = j->cP + bh * T * T, *dout = j->dout + bh * hs;
    const float *q = j->q + bh * hs, *k = j->k + bh * hs, *v = j->v + bh * hs;
    float *dq = j->dq + bh * hs, *dk = j->dk + bh * hs, *dv = j->dv + bh * hs;
    const float scale = 1.0f / sqrtf((float)Dh);
    memset(dk, 0, (size_t)hs * sizeof *dk);
    memset(dv, 0, (size_t)hs * sizeof *dv);
    for (int r0 = 0; r0 < T; r0 += ATT_ROWS) {
        const int r1 = T - r0 < ATT_ROWS ? T : r0 + ATT_ROWS, nb = r1 - r0;
        float *Pc = scr, *dS = scr + (int64_t)nb * r1;
        for (int i = 0; i < nb; i++)
            memcpy(Pc + (int64_t)i * r1, P + (int64_t)(r0 + i) * T, (size_t)r1 * sizeof *Pc);
        weft_k_gemm(true, false, r1, Dh, nb, 1.0f, Pc, dout + (int64_t)r0 * Dh, 1.0f, dv);
        weft_k_gemm(false, true, nb, r1, Dh, 1.0f, dout + (int64_t)r0 * Dh, v, 0.0f, dS);
        softmax_bwd_rows(dS, Pc, nb, r1, r0, true, scale);
        weft_k_gemm(false, false, nb, Dh, r1, 1.0f, dS, k, 0.0f, dq + (int64_t)r0 * Dh);
        weft_k_gemm(true, false, r1, Dh, nb, 1.0f, dS, q + (int64_t)r0 * Dh, 1.0f, dk);
    }
}

/* Slots [b, e): slot s owns heads [s*BH/slots, (s+1)*BH/slots) and scratch s. */
static void att_bwd_chunk(void *ctx, int64_t b, int64_t e)
{
    const att_job *j = ctx;
    for (int64_t s = b; s < e; s++) {
        float *dP = j->scratch + s * 2 * j->T * j->T;
        for (int64_t bh = s * j->BH / j->slots; bh < (s + 1) * j->BH / j->slots; bh++) {
            if (j->causal && j->T > ATT_ROWS) att_bwd_head_causal(j, bh, dP);
            else att_bwd_head(j, bh, dP);
        }
    }
}

int64_t weft_k_attention_bwd_scratch(const weft_pool *pool, int T)
{
    return (int64_t)(pool ? weft_pool_threads(pool) : 1) * 2 * T * T;
}

void weft_k_attention_bwd_pool(weft_pool *pool, float *dq, float *dk, float *dv,
                               const float *dout, const float *q, const float *k, const float *v,
                               const float *P, int B, int H, int T, int Dh, bool causal,
                               float *scratch)
{
    if (B <= 0 || H <= 0 || T <= 0 || Dh <= 0) return;
    att_job j = { .dq = dq, .dk = dk, .dv = dv, .scratch = scratch, .q = q, .k = k, .v = v,
                  .dout = dout, .cP = P, .BH = (int64_t)B * H, .T = T, .Dh = Dh,
                  .slots = pool ? weft_pool_threads(pool) : 1, .causal = causal };
    if (j.slots > j.BH) j.slots = (int)j.BH;
    weft_pool_for(pool, j.slots, 1, att_bwd_chunk, &j);
}

void weft_k_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                          const float *k, const float *v, const float *P, int B, int H, int T,
                          int Dh, bool causal, float *scratch)
{
    weft_k_attention_bwd_pool(NULL, dq, dk, dv, dout, q, k, v, P, B, H, T, Dh, causal, scratch);
}
