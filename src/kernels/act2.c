/* act2.c — sigmoid, tanh, dropout, softmax, binary and per-token
 * cross-entropy, and the 4-D layout helpers (transpose, concat, split).
 *
 * The transcendental loops run on blocks of NN_VB through nn_math.h, so
 * gcc vectorises them; each tail element goes through the same block code,
 * so an element's value never depends on where it falls. Pool variants split
 * rows (or elements) and every row is computed the same way whatever the
 * split; losses sum their per-row terms in row order afterwards. */
#include "kernels/nn.h"
#include "kernels/nn_math.h"

#include <math.h>
#include <string.h>

/* Items per chunk so that a chunk does at least ~16K elements of work. */
static int64_t grain_for(int64_t per_item)
{
    return per_item >= 16384 ? 1 : 16384 / (per_item > 0 ? per_item : 1);
}

/* ---- sigmoid, tanh ------------------------------------------------------------------- */

NN_HOT static void sigmoid_range(float *y, const float *x, int64_t b, int64_t e)
{
    int64_t i = b;
    for (; i + NN_VB <= e; i += NN_VB) {
        float t[NN_VB];
        for (int j = 0; j < NN_VB; j++) t[j] = x[i + j];
        nn_sigmoid_block(t);
        for (int j = 0; j < NN_VB; j++) y[i + j] = t[j];
    }
    if (i < e) {   /* tail: one padded block */
        float t[NN_VB] = { 0 };
        memcpy(t, x + i, (size_t)(e - i) * sizeof *t);
        nn_sigmoid_block(t);
        memcpy(y + i, t, (size_t)(e - i) * sizeof *t);
    }
}

NN_HOT static void tanh_range(float *y, const float *x, int64_t b, int64_t e)
{
    int64_t i = b;
    for (; i + NN_VB <= e; i += NN_VB) {
        float t[NN_VB];
        for (int j = 0; j < NN_VB; j++) t[j] = x[i + j];
        nn_tanh_block(t);
        for (int j = 0; j < NN_VB; j++) y[i + j] = t[j];
    }
    if (i < e) {   /* tail: one padded block */
        float t[NN_VB] = { 0 };
        memcpy(t, x + i, (size_t)(e - i) * sizeof *t);
        nn_tanh_block(t);
        memcpy(y + i, t, (size_t)(e - i) * sizeof *t);
    }
}

typedef struct { float *y; const float *x; float p; weft_rng_key key; } ew_job;

static void sigmoid_chunk(void *ctx, int64_t b, int64_t e)
{
    const ew_job *j = ctx;
    sigmoid_range(j->y, j->x, b, e);
}
static void tanh_chunk(void *ctx, int64_t b, int64_t e)
{
    const ew_job *j = ctx;
    tanh_range(j->y, j->x, b, e);
}

void weft_k_sigmoid_fwd_pool(weft_pool *pool, float *y, const float *x, int64_t n)
{
    ew_job j = { y, x, 0.0f, { 0, 0 } };
    weft_pool_for(pool, n, 16384, sigmoid_chunk, &j);
}
void weft_k_tanh_fwd_pool(weft_pool *pool, float *y, const float *x, int64_t n)
{
    ew_job j = { y, x, 0.0f, { 0, 0 } };
    weft_pool_for(pool, n, 16384, tanh_chunk, &j);
}
void weft_k_sigmoid_fwd(float *y, const float *x, int64_t n) { sigmoid_range(y, x, 0, n); }
void weft_k_tanh_fwd(float *y, const float *x, int64_t n) { tanh_range(y, x, 0, n); }

void weft_k_sigmoid_bwd(float *dx, const float *dy, const float *y, int64_t n)
{
    NN_MAP(dx, n, i, dy[i] * (y[i] * (1.0f - y[i])));
}
void weft_k_tanh_bwd(float *dx, const float *dy, const float *y, int64_t n)
{
    NN_MAP(dx, n, i, dy[i] * (1.0f - y[i] * y[i]));
}

/* ---- dropout ------------------------------------------------------------------------ */

enum { DROP_BLOCK = 256 };

/* y[b..e) = x * keep(i) / (1-p); keep(i) = weft_rng_u32(key, i) < thr. */
static void dropout_range(float *y, const float *x, int64_t b, int64_t e, float p, weft_rng_key key)
{
    if (!(p > 0.0f)) {   /* p <= 0 (or NaN): identity */
        if (y != x) memmove(y + b, x + b, (size_t)(e - b) * sizeof *y);
        return;
    }
    if (p >= 1.0f) {
        memset(y + b, 0, (size_t)(e - b) * sizeof *y);
        return;
    }
    /* (1-p) 2^32 in double; for p below 2^-32 it rounds to 2^32, clamped to
     * 2^32 - 1 (one index in 2^32 dropped instead of none). */
    double t = (1.0 - (double)p) * 4294967296.0;
    const uint32_t thr = t >= 4294967295.0 ? 0xFFFFFFFFu : (uint32_t)t;
    const float scale = 1.0f / (1.0f - p);
    uint32_t u[DROP_BLOCK];
    for (int64_t s = b; s < e; s += DROP_BLOCK) {
        int64_t m = e - s < DROP_BLOCK ? e - s : DROP_BLOCK;
        weft_rng_fill_u32(key, (uint32_t)s, u, m);
        const float *xs = x + s;
        float *ys = y + s;
        NN_MAP(ys, m, i, u[i] < thr ? xs[i] * scale : 0.0f);
    }
}

static void dropout_chunk(void *ctx, int64_t b, int64_t e)
{
    const ew_job *j = ctx;
    dropout_range(j->y, j->x, b, e, j->p, j->key);
}

void weft_k_dropout_fwd_pool(weft_pool *pool, float *y, const float *x, int64_t n, float p,
                             weft_rng_key key)
{
    ew_job j = { y, x, p, key };
    weft_pool_for(pool, n, 16384, dropout_chunk, &j);
}
void weft_k_dropout_fwd(float *y, const float *x, int64_t n, float p, weft_rng_key key)
{
    dropout_range(y, x, 0, n, p, key);
}
void weft_k_dropout_bwd(float *dx, const float *dy, int64_t n, float p, weft_rng_key key)
{
    dropout_range(dx, dy, 0, n, p, key);
}

/* ---- softmax ------------------------------------------------------------------------- */

typedef struct { float *y; const float *x, *dy; int N; } sm_job;

NN_HOT static void softmax_rows(void *ctx, int64_t r0, int64_t r1)
{
    const sm_job *j = ctx;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->N;
        float *y = j->y + r * j->N;
        float s = nn_exp_shift_sum(y, x, j->N, nn_max(x, j->N));
        nn_scale(y, j->N, 1.0f / s);
    }
}

/* dx = y (dy - sum(dy y)); here j->y is dx and j->x is the forward's y. */
NN_HOT static void softmax_bwd_rows(void *ctx, int64_t r0, int64_t r1)
{
    const sm_job *j = ctx;
    for (int64_t r = r0; r < r1; r++) {
        const float *y = j->x + r * j->N, *dy = j->dy + r * j->N;
        float *dx = j->y + r * j->N;
        const float d = nn_dot(dy, y, j->N);
        NN_MAP(dx, j->N, i, y[i] * (dy[i] - d));
    }
}

void weft_k_softmax_fwd_pool(weft_pool *pool, float *y, const float *x, int64_t M, int N)
{
    if (N <= 0) return;
    sm_job j = { y, x, NULL, N };
    weft_pool_for(pool, M, grain_for(N), softmax_rows, &j);
}
void weft_k_softmax_bwd_pool(weft_pool *pool, float *dx, const float *dy, const float *y,
                             int64_t M, int N)
{
    if (N <= 0) return;
    sm_job j = { dx, y, dy, N };
    weft_pool_for(pool, M, grain_for(N), softmax_bwd_rows, &j);
}
void weft_k_softmax_fwd(float *y, const float *x, int64_t M, int N)
{
    weft_k_softmax_fwd_pool(NULL, y, x, M, N);
}
void weft_k_softmax_bwd(float *dx, const float *dy, const float *y, int64_t M, int N)
{
    weft_k_softmax_bwd_pool(NULL, dx, dy, y, M, N);
}

/* ---- binary cross-entropy with logits -------------------------------------------------- */

float weft_k_bce_logits_fwd(const float *x, const float *t, int64_t n)
{
    if (n <= 0) return NAN;   /* mean of nothing, as PyTorch */
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        s += (v > 0 ? v : 0.0) - v * (double)t[i] + log1p(exp(-fabs(v)));
    }
    return (float)(s / (double)n);
}

void weft_k_bce_logits_bwd(float *dx, const float *x, const float *t, int64_t n, float dloss)
{
    const double scale = (double)dloss / (double)(n > 0 ? n : 1);
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        double sg = v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
        dx[i] = (float)(scale * (sg - (double)t[i]));
    }
}

/* ---- per-token cross-entropy ----------------------------------------------------------- */

typedef struct {
    float *out, *lse;
    const float *logits, *clse;
    const int32_t *tg;
    int V;
    int32_t ignore;
    float scale;
} xt_job;

NN_HOT static float row_lse(const float *x, int V)
{
    const float m = nn_max(x, V);
    float acc[NN_VB] = { 0 };
    int64_t i = 0;
    for (; i + NN_VB <= V; i += NN_VB) {
        float t[NN_VB];
        for (int j = 0; j < NN_VB; j++) t[j] = x[i + j] - m;
        nn_exp_block(t);
        for (int j = 0; j < NN_VB; j++) acc[j] += t[j];
    }
    if (i < V) {   /* tail: one padded block, its lanes as the loop would use them */
        const int r = (int)(V - i);
        float t[NN_VB] = { 0 };
        for (int j = 0; j < r; j++) t[j] = x[i + j] - m;
        nn_exp_block(t);
        for (int j = 0; j < r; j++) acc[j] += t[j];
    }
    float s = 0.0f;
    for (int j = 0; j < NN_VB; j++) s += acc[j];
    return m + logf(s);
}

static void xent_lse_rows(void *ctx, int64_t r0, int64_t r1)
{
    const xt_job *j = ctx;
    for (int64_t r = r0; r < r1; r++) j->lse[r] = row_lse(j->logits + r * j->V, j->V);
}

/* Mean over kept rows of lse - logit[target], from the per-row lse. */
static float xent_mean(const float *lse, const float *logits, const int32_t *tg, int64_t N,
                       int V, int32_t ignore)
{
    double s = 0.0;
    int64_t cnt = 0;
    for (int64_t r = 0; r < N; r++) {
        if (tg[r] == ignore) continue;
        if (tg[r] < 0 || tg[r] >= V) return NAN;
        s += (double)lse[r] - (double)logits[r * V + tg[r]];
        cnt++;
    }
    return cnt ? (float)(s / (double)cnt) : NAN;
}

float weft_k_xent_tok_fwd_pool(weft_pool *pool, float *lse, const float *logits,
                               const int32_t *targets, int64_t N, int V, int32_t ignore_index)
{
    if (N <= 0 || V <= 0) return NAN;
    xt_job j = { NULL, lse, logits, NULL, targets, V, ignore_index, 0.0f };
    weft_pool_for(pool, N, grain_for(V), xent_lse_rows, &j);
    return xent_mean(lse, logits, targets, N, V, ignore_index);
}

float weft_k_xent_tok_fwd(float *lse, const float *logits, const int32_t *targets, int64_t N,
                          int V, int32_t ignore_index)
{
    return weft_k_xent_tok_fwd_pool(NULL, lse, logits, targets, N, V, ignore_index);
}

NN_HOT static void xent_bwd_rows(void *ctx, int64_t r0, int64_t r1)
{
    const xt_job *j = ctx;
    const int V = j->V;
    const float sc = j->scale;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->logits + r * V;
        float *d = j->out + r * V;
        const int32_t t = j->tg[r];
        if (t == j->ignore || sc == 0.0f) {
            memset(d, 0, (size_t)V * sizeof *d);
            continue;
        }
        if (t < 0 || t >= V) {
            for (int i = 0; i < V; i++) d[i] = NAN;
            continue;
        }
        const float l = j->clse[r];
        int64_t i = 0;
        for (; i + NN_VB <= V; i += NN_VB) {
            float e[NN_VB];
            for (int k = 0; k < NN_VB; k++) e[k] = x[i + k] - l;
            nn_exp_block(e);
            for (int k = 0; k < NN_VB; k++) d[i + k] = e[k] * sc;
        }
        if (i < V) {
            const int r = (int)(V - i);
            float e[NN_VB] = { 0 };
            for (int k = 0; k < r; k++) e[k] = x[i + k] - l;
            nn_exp_block(e);
            for (int k = 0; k < r; k++) d[i + k] = e[k] * sc;
        }
        d[t] -= sc;
    }
}

void weft_k_xent_tok_bwd_pool(weft_pool *pool, float *dlogits, const float *logits,
                              const float *lse, const int32_t *targets, int64_t N, int V,
                              int32_t ignore_index, float dloss)
{
    if (N <= 0 || V <= 0) return;
    int64_t cnt = 0;
    for (int64_t r = 0; r < N; r++) cnt += targets[r] != ignore_index;
    xt_job j = { dlogits, NULL, logits, lse, targets, V, ignore_index,
                 cnt ? (float)((double)dloss / (double)cnt) : 0.0f };
    weft_pool_for(pool, N, grain_for(V), xent_bwd_rows, &j);
}

void weft_k_xent_tok_bwd(float *dlogits, const float *logits, const float *lse,
                         const int32_t *targets, int64_t N, int V, int32_t ignore_index,
                         float dloss)
{
    weft_k_xent_tok_bwd_pool(NULL, dlogits, logits, lse, targets, N, V, ignore_index, dloss);
}

/* ---- layout helpers ---------------------------------------------------------------------- */

typedef struct {
    float *y;
    const float *x;
    int64_t yd[4], xs[4];   /* y's dims; x's strides, permuted to y's axes */
} tr_job;

/* Rows (i0, i1) of y in [b, e), each a (yd[2], yd[3]) block. */
static void transpose_chunk(void *ctx, int64_t b, int64_t e)
{
    const tr_job *j = ctx;
    const int64_t d2 = j->yd[2], d3 = j->yd[3], s3 = j->xs[3];
    for (int64_t r = b; r < e; r++) {
        const int64_t i0 = r / j->yd[1], i1 = r % j->yd[1];
        const float *xb = j->x + i0 * j->xs[0] + i1 * j->xs[1];
        float *yb = j->y + r * d2 * d3;
        for (int64_t i2 = 0; i2 < d2; i2++) {
            const float *xr = xb + i2 * j->xs[2];
            float *yr = yb + i2 * d3;
            if (s3 == 1) memcpy(yr, xr, (size_t)d3 * sizeof *yr);
            else for (int64_t i3 = 0; i3 < d3; i3++) yr[i3] = xr[i3 * s3];
        }
    }
}

void weft_k_transpose4_pool(weft_pool *pool, float *y, const float *x, const int64_t xd[4],
                            int a, int b)
{
    tr_job j = { y, x, { 0 }, { 0 } };
    int64_t st[4];
    st[3] = 1;
    for (int k = 2; k >= 0; k--) st[k] = st[k + 1] * xd[k + 1];
    for (int k = 0; k < 4; k++) {
        int src = k == a ? b : k == b ? a : k;
        j.yd[k] = xd[src];
        j.xs[k] = st[src];
    }
    weft_pool_for(pool, j.yd[0] * j.yd[1], grain_for(j.yd[2] * j.yd[3]), transpose_chunk, &j);
}

void weft_k_transpose4(float *y, const float *x, const int64_t xd[4], int a, int b)
{
    weft_k_transpose4_pool(NULL, y, x, xd, a, b);
}

/* outer = product of dims before axis, inner = product after it. */
static void outer_inner(const int64_t d[4], int axis, int64_t *outer, int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int k = 0; k < axis; k++) *outer *= d[k];
    for (int k = axis + 1; k < 4; k++) *inner *= d[k];
}

void weft_k_concat4(float *y, const float *const *xs, const int64_t *sizes, int nx,
                    const int64_t yd[4], int axis)
{
    int64_t outer, inner;
    outer_inner(yd, axis, &outer, &inner);
    const int64_t row = yd[axis] * inner;
    for (int64_t o = 0; o < outer; o++) {
        int64_t off = 0;
        for (int i = 0; i < nx; i++) {
            const int64_t w = sizes[i] * inner;
            if (xs[i]) memcpy(y + o * row + off, xs[i] + o * w, (size_t)w * sizeof *y);
            else memset(y + o * row + off, 0, (size_t)w * sizeof *y);
            off += w;
        }
    }
}

void weft_k_split4(float *const *ys, const int64_t *sizes, int ny, const float *x,
                   const int64_t xd[4], int axis)
{
    int64_t outer, inner;
    outer_inner(xd, axis, &outer, &inner);
    const int64_t row = xd[axis] * inner;
    for (int64_t o = 0; o < outer; o++) {
        int64_t off = 0;
        for (int i = 0; i < ny; i++) {
            const int64_t w = sizes[i] * inner;
            if (ys[i]) memcpy(ys[i] + o * w, x + o * row + off, (size_t)w * sizeof *x);
            off += w;
        }
    }
}
