/* embed.c — embedding lookup, embedding bag (sum), and DLRM's pairwise dot
 * interaction.
 *
 * Sparse gradients. A big table's gradient touches few rows, so the backward
 * returns the touched rows, unique and ascending, with one summed gradient
 * row each. The (id, output row) pairs are packed into 64-bit keys, id in the
 * high half, in output-row order, then stably radix-sorted on the id's bytes
 * only (no pass for bytes above V's highest): equal ids end up adjacent and
 * still in output-row order, so each gradient row is summed in a fixed order
 * and the result equals the dense variant's accumulation bit for bit.
 *
 * Ids outside [0, V) are skipped everywhere (zero rows forward, nothing
 * backward) and counted by the forwards; see nn.h. */
#include "kernels/nn.h"
#include "kernels/nn_math.h"

#include <string.h>

static bool id_ok(int32_t id, int64_t V) { return id >= 0 && (int64_t)id < V; }

static int64_t count_bad(const int32_t *ids, int64_t n, int64_t V)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += !id_ok(ids[i], V);
    return bad;
}

/* y (D) += x (D) */
static void row_add(float *y, const float *x, int D) { NN_MAP(y, D, i, y[i] + x[i]); }

/* Bag n's ids: [*b, *e) of ids. */
static void bag_range(const int32_t *offsets, int L, int64_t n, int64_t *b, int64_t *e)
{
    if (offsets) { *b = offsets[n]; *e = offsets[n + 1]; }
    else { *b = n * L; *e = (n + 1) * L; }
}

/* ---- forward ------------------------------------------------------------------------ */

typedef struct {
    float *out;
    const int32_t *ids, *offsets;
    const float *table;
    int64_t V;
    int L, D;
} emb_job;

static void embbag_rows(void *ctx, int64_t n0, int64_t n1)
{
    const emb_job *j = ctx;
    const int D = j->D;
    for (int64_t n = n0; n < n1; n++) {
        float *o = j->out + n * D;
        int64_t b, e;
        bag_range(j->offsets, j->L, n, &b, &e);
        memset(o, 0, (size_t)D * sizeof *o);
        bool first = true;
        for (int64_t p = b; p < e; p++) {
            if (!id_ok(j->ids[p], j->V)) continue;
            const float *row = j->table + (int64_t)j->ids[p] * D;
            if (first) memcpy(o, row, (size_t)D * sizeof *o);
            else row_add(o, row, D);
            first = false;
        }
    }
}

int64_t weft_k_embbag_fwd_pool(weft_pool *pool, float *out, const int32_t *ids,
                               const int32_t *offsets, int L, const float *table,
                               int64_t N, int64_t V, int D)
{
    if (N <= 0 || D <= 0) return 0;
    const int64_t nnz = offsets ? offsets[N] : N * L;
    emb_job j = { out, ids, offsets, table, V, L, D };
    weft_pool_for(pool, N, 1 + 4096 / D, embbag_rows, &j);
    return count_bad(ids, nnz, V);
}

int64_t weft_k_embbag_fwd(float *out, const int32_t *ids, const int32_t *offsets, int L,
                          const float *table, int64_t N, int64_t V, int D)
{
    return weft_k_embbag_fwd_pool(NULL, out, ids, offsets, L, table, N, V, D);
}

/* An embedding is a bag of one id per row. */
int64_t weft_k_embedding_fwd_pool(weft_pool *pool, float *out, const int32_t *ids,
                                  const float *table, int64_t N, int64_t V, int D)
{
    return weft_k_embbag_fwd_pool(pool, out, ids, NULL, 1, table, N, V, D);
}

int64_t weft_k_embedding_fwd(float *out, const int32_t *ids, const float *table,
                             int64_t N, int64_t V, int D)
{
    return weft_k_embbag_fwd_pool(NULL, out, ids, NULL, 1, table, N, V, D);
}

/* ---- dense backward ------------------------------------------------------------------- */

void weft_k_embbag_bwd_dense(float *dtable, const int32_t *ids, const int32_t *offsets, int L,
                             const float *dout, int64_t N, int64_t V, int D)
{
    for (int64_t n = 0; n < N; n++) {
        int64_t b, e;
        bag_range(offsets, L, n, &b, &e);
        for (int64_t p = b; p < e; p++)
            if (id_ok(ids[p], V)) row_add(dtable + (int64_t)ids[p] * D, dout + n * D, D);
    }
}

void weft_k_embedding_bwd_dense(float *dtable, const int32_t *ids, const float *dout,
                                int64_t N, int64_t V, int D)
{
    weft_k_embbag_bwd_dense(dtable, ids, NULL, 1, dout, N, V, D);
}

/* ---- sparse backward ------------------------------------------------------------------ */

int64_t weft_k_embedding_sparse_scratch(int64_t nnz) { return 2 * (nnz > 0 ? nnz : 1); }

/* Stable LSD radix sort of key[0..m) on bits 32..32+8*bytes (the id), using
 * tmp (m); returns the buffer holding the sorted keys (key or tmp). */
static uint64_t *sort_by_id(uint64_t *key, uint64_t *tmp, int64_t m, int64_t V)
{
    int bytes = 1;
    while (bytes < 4 && (V - 1) >> (8 * bytes) != 0) bytes++;
    for (int pass = 0; pass < bytes; pass++) {
        const int sh = 32 + 8 * pass;
        int64_t cnt[257] = { 0 };
        for (int64_t i = 0; i < m; i++) cnt[((key[i] >> sh) & 0xFF) + 1]++;
        if (cnt[((key[0] >> sh) & 0xFF) + 1] == m) continue;   /* one digit: order kept */
        for (int d = 0; d < 256; d++) cnt[d + 1] += cnt[d];
        for (int64_t i = 0; i < m; i++) tmp[cnt[(key[i] >> sh) & 0xFF]++] = key[i];
        uint64_t *t = key; key = tmp; tmp = t;
    }
    return key;
}

int64_t weft_k_embbag_bwd_sparse(int32_t *rows, float *grad, const int32_t *ids,
                                 const int32_t *offsets, int L, const float *dout,
                                 int64_t N, int64_t V, int D, uint64_t *scratch)
{
    if (N <= 0 || D <= 0) return 0;
    const int64_t nnz = offsets ? offsets[N] : N * L;
    if (nnz <= 0) return 0;
    uint64_t *key = scratch, *tmp = scratch + nnz;
    int64_t m = 0;
    for (int64_t n = 0; n < N; n++) {
        int64_t b, e;
        bag_range(offsets, L, n, &b, &e);
        for (int64_t p = b; p < e; p++)
            if (id_ok(ids[p], V)) key[m++] = (uint64_t)(uint32_t)ids[p] << 32 | (uint64_t)n;
    }
    if (m == 0) return 0;
    key = sort_by_id(key, tmp, m, V);
    int64_t u = -1;
    uint32_t cur = 0;
    for (int64_t i = 0; i < m; i++) {
        const uint32_t id = (uint32_t)(key[i] >> 32);
        const float *src = dout + (int64_t)(uint32_t)key[i] * D;
        if (u < 0 || id != cur) {
            cur = id;
            rows[++u] = (int32_t)id;
            memcpy(grad + u * D, src, (size_t)D * sizeof *grad);
        } else {
            row_add(grad + u * D, src, D);
        }
    }
    return u + 1;
}

int64_t weft_k_embedding_bwd_sparse(int32_t *rows, float *grad, const int32_t *ids,
                                    const float *dout, int64_t N, int64_t V, int D,
                                    uint64_t *scratch)
{
    return weft_k_embbag_bwd_sparse(rows, grad, ids, NULL, 1, dout, N, V, D, scratch);
}

/* ---- DLRM dot interaction ------------------------------------------------------------------ */

int64_t weft_k_dot_interact_width(int T, int D)
{
    const int64_t F = (int64_t)T + 1;
    return D + F * (F - 1) / 2;
}

typedef struct {
    float *out, *ddense;
    float *const *demb;
    const float *dense, *dout;
    const float *const *emb;
    int64_t stride;
    int T, D;
} di_job;

static const float *feat(const float *dense, const float *const *emb, int64_t stride,
                         int64_t b, int i, int D)
{
    return i == 0 ? dense + b * D : emb[i - 1] + b * stride;
}

static void di_fwd_rows(void *ctx, int64_t b0, int64_t b1)
{
    const di_job *j = ctx;
    const int D = j->D, F = j->T + 1;
    const int64_t W = weft_k_dot_interact_width(j->T, D);
    for (int64_t b = b0; b < b1; b++) {
        float *o = j->out + b * W;
        memcpy(o, j->dense + b * D, (size_t)D * sizeof *o);
        int64_t k = D;
        for (int i = 1; i < F; i++) {
            const float *fi = feat(j->dense, j->emb, j->stride, b, i, D);
            for (int c = 0; c < i; c++) o[k++] = nn_dot(fi, feat(j->dense, j->emb, j->stride, b, c, D), D);
        }
    }
}

/* d f_i += g_ic f_c and d f_c += g_ic f_i for every pair (i, c < i). */
static void di_bwd_rows(void *ctx, int64_t b0, int64_t b1)
{
    const di_job *j = ctx;
    const int D = j->D, F = j->T + 1;
    const int64_t W = weft_k_dot_interact_width(j->T, D);
    for (int64_t b = b0; b < b1; b++) {
        const float *g = j->dout + b * W;
        memcpy(j->ddense + b * D, g, (size_t)D * sizeof *g);
        for (int t = 0; t < j->T; t++) memset(j->demb[t] + b * j->stride, 0, (size_t)D * sizeof *g);
        int64_t k = D;
        for (int i = 1; i < F; i++) {
            const float *fi = feat(j->dense, j->emb, j->stride, b, i, D);
            float *dfi = j->demb[i - 1] + b * j->stride;
            for (int c = 0; c < i; c++, k++) {
                const float gk = g[k];
                const float *fc = feat(j->dense, j->emb, j->stride, b, c, D);
                float *dfc = c == 0 ? j->ddense + b * D : j->demb[c - 1] + b * j->stride;
                NN_MAP(dfi, D, d, dfi[d] + gk * fc[d]);
                NN_MAP(dfc, D, d, dfc[d] + gk * fi[d]);
            }
        }
    }
}

void weft_k_dot_interact_fwd_pool(weft_pool *pool, float *out, const float *dense,
                                  const float *const *emb, int64_t emb_stride, int B, int T, int D)
{
    if (B <= 0 || D <= 0) return;
    di_job j = { .out = out, .dense = dense, .emb = emb, .stride = emb_stride, .T = T, .D = D };
    weft_pool_for(pool, B, 1 + 64 * 1024 / (((int64_t)T + 1) * (T + 1) * D), di_fwd_rows, &j);
}

void weft_k_dot_interact_bwd_pool(weft_pool *pool, float *ddense, float *const *demb,
                                  const float *dout, const float *dense, const float *const *emb,
                                  int64_t emb_stride, int B, int T, int D)
{
    if (B <= 0 || D <= 0) return;
    di_job j = { .ddense = ddense, .demb = demb, .dense = dense, .dout = dout, .emb = emb,
                 .stride = emb_stride, .T = T, .D = D };
    weft_pool_for(pool, B, 1 + 64 * 1024 / (((int64_t)T + 1) * (T + 1) * D), di_bwd_rows, &j);
}

void weft_k_dot_interact_fwd(float *out, const float *dense, const float *const *emb,
                             int64_t emb_stride, int B, int T, int D)
{
    weft_k_dot_interact_fwd_pool(NULL, out, dense, emb, emb_stride, B, T, D);
}

void weft_k_dot_interact_bwd(float *ddense, float *const *demb, const float *dout,
                             const float *dense, const float *const *emb, int64_t emb_stride,
                             int B, int T, int D)
{
    weft_k_dot_interact_bwd_pool(NULL, ddense, demb, dout, dense, emb, emb_stride, B, T, D);
}
