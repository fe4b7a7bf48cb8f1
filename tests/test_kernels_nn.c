/* test_kernels_nn.c — the kernels of nn.h (norm, softmax, attention,
 * embeddings, DLRM interaction, LSTM, activations, dropout, losses, layout
 * helpers) against plain references written here in double, every backward
 * against central finite differences of its forward, and every _pool
 * variant against the plain kernel bit for bit (a pool of 3 threads, so
 * chunks are uneven).
 *
 * Shapes are small and odd so that vector tails are exercised; buffers are
 * exactly sized heap allocations, so ASan catches any overrun. */
#define TEST_RAND_SEED 0x243F6A8885A308D3ull
#include "test_rand.h"
#include "kernels/nn.h"
#include "test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------- */

static void fill_scaled(float *p, int64_t n, float s) { for (int64_t i = 0; i < n; i++) p[i] = s * rnd(); }
static double *dbuf(int64_t n) { double *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p); if (!p) abort(); return p; }
static float *fcopy(const float *x, int64_t n) { float *p = fbuf(n); memcpy(p, x, (size_t)n * sizeof *p); return p; }
static bool same(const float *a, const float *b, int64_t n) { return memcmp(a, b, (size_t)n * sizeof *a) == 0; }
/* every |a - b| <= 1e-5 + 1e-4 |b| (rounding-level differences) */
static bool near(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabsf(a[i] - b[i]) <= 1e-5f + 1e-4f * fabsf(b[i]))) return false;
    return true;
}

static weft_pool *g_pool;   /* 3 threads, for the _pool variants */



/* Central differences of L(p) = sum(f(p) * r) for every element of p. */
typedef void (*fwd_fn)(void *ctx, float *y);
static void finite_diff(double *grad, float *p, int64_t np, float *y, int64_t ny,
                        const float *r, float h, fwd_fn f, void *ctx)
{
    for (int64_t i = 0; i < np; i++) {
        float keep = p[i];
        p[i] = keep + h; f(ctx, y); double lp = test_dot(y, r, ny);
        p[i] = keep - h; f(ctx, y); double lm = test_dot(y, r, ny);
        p[i] = keep;
        grad[i] = (lp - lm) / (2.0 * (double)h);
    }
}
/* FD of parameter p against the analytic gradient g; relative L2 below 1e-2. */
#define CHECK_FD(g, p, np, y, ny, r, h, f, ctx, ...) do {                         \
        double *fd_ = dbuf(np);                                                   \
        finite_diff(fd_, (p), (np), (y), (ny), (r), (h), (f), (ctx));             \
        double e_ = test_rel_l2((g), fd_, (np));                                       \
        CHECKF(e_ < 1e-2, "%s vs finite differences: %.3g", test_label(__VA_ARGS__), e_); \
        free(fd_);                                                                \
    } while (0)

/* ---- layer norm --------------------------------------------------------------------------- */

typedef struct { const float *x, *g, *b; float *mean, *rstd; int64_t M; int D; } ln_ctx;
static void ln_f(void *p, float *y)
{
    ln_ctx *c = p;
    weft_k_layernorm_fwd(y, c->mean, c->rstd, c->x, c->g, c->b, c->M, c->D, 1e-5f);
}

static void test_layernorm(void)
{
    const int64_t M = 5;
    const int Ds[] = { 19, 3, 64 };
    for (size_t di = 0; di < sizeof Ds / sizeof *Ds; di++)
        for (int affine = 0; affine < 2; affine++) {
            const int D = Ds[di];
            const int64_t n = M * D;
            float *x = fbuf(n), *g = fbuf(D), *b = fbuf(D), *y = fbuf(n), *mean = fbuf(M), *rstd = fbuf(M);
            float *dy = fbuf(n), *dx = fbuf(n), *dg = fbuf(D), *db = fbuf(D);
            double *want = dbuf(n), *wm = dbuf(M), *wr = dbuf(M);
            fill(x, n); fill(g, D); fill(b, D); fill(dy, n);
            for (int i = 0; i < D; i++) x[2 * D + i] = 1.0f + 0.25f * x[2 * D + i];   /* offset row */
            const float *gp = affine ? g : NULL, *bp = affine ? b : NULL;
            for (int64_t r = 0; r < M; r++) {
                double s = 0, ss = 0;
                for (int i = 0; i < D; i++) s += x[r * D + i];
                double mu = s / D;
                for (int i = 0; i < D; i++) ss += (x[r * D + i] - mu) * (x[r * D + i] - mu);
                double rs = 1.0 / sqrt(ss / D + 1e-5);
                wm[r] = mu; wr[r] = rs;
                for (int i = 0; i < D; i++)
                    want[r * D + i] = (x[r * D + i] - mu) * rs * (gp ? g[i] : 1.0) + (bp ? b[i] : 0.0);
            }
            weft_k_layernorm_fwd(y, mean, rstd, x, gp, bp, M, D, 1e-5f);
            CHECK_CLOSE(y, want, n, 1e-5, 1e-5, "layernorm D=%d affine=%d", D, affine);
            CHECK_CLOSE(mean, wm, M, 1e-6, 1e-5, "layernorm mean D=%d", D);
            CHECK_CLOSE(rstd, wr, M, 1e-6, 1e-4, "layernorm rstd D=%d", D);

            weft_k_layernorm_bwd(dx, affine ? dg : NULL, affine ? db : NULL, dy, x, mean, rstd, gp, M, D);
            ln_ctx c = { x, gp, bp, fbuf(M), fbuf(M), M, D };
            float *yy = fbuf(n);
            CHECK_FD(dx, x, n, yy, n, dy, 1e-2f, ln_f, &c, "layernorm dx D=%d affine=%d", D, affine);
            if (affine) {
                CHECK_FD(dg, g, D, yy, n, dy, 1e-2f, ln_f, &c, "layernorm dgamma D=%d", D);
                CHECK_FD(db, b, D, yy, n, dy, 1e-2f, ln_f, &c, "layernorm dbeta D=%d", D);
            }
            /* pool: identical bits */
            float *y2 = fbuf(n), *m2 = fbuf(M), *r2 = fbuf(M), *dx2 = fbuf(n), *dg2 = fbuf(D), *db2 = fbuf(D);
            weft_k_layernorm_fwd_pool(g_pool, y2, m2, r2, x, gp, bp, M, D, 1e-5f);
            CHECK(same(y, y2, n) && same(mean, m2, M) && same(rstd, r2, M));
            weft_k_layernorm_bwd_pool(g_pool, dx2, affine ? dg2 : NULL, affine ? db2 : NULL, dy, x,
                                      mean, rstd, gp, M, D);
            CHECK(same(dx, dx2, n));
            if (affine) CHECK(same(dg, dg2, D) && same(db, db2, D));
            free(c.mean); free(c.rstd); free(yy);
            free(x); free(g); free(b); free(y); free(mean); free(rstd); free(dy); free(dx); free(dg);
            free(db); free(want); free(wm); free(wr); free(y2); free(m2); free(r2); free(dx2);
            free(dg2); free(db2);
        }
}

/* ---- batch norm ------------------------------------------------------------------------------ */

typedef struct { const float *x, *g, *b; float *mean, *rstd; int N, C; int64_t HW; } bn_ctx;
static void bn_f(void *p, float *y)
{
    bn_ctx *c = p;
    weft_k_batchnorm_fwd_train(y, c->mean, c->rstd, NULL, NULL, c->x, c->g, c->b, c->N, c->C,
                               c->HW, 1e-5f, 0.1f);
}

static void test_batchnorm(void)
{
    const int N = 3, C = 4;
    const int64_t HW = 5 * 3, n = N * C * HW, cnt = N * HW;
    float *x = fbuf(n), *g = fbuf(C), *b = fbuf(C), *y = fbuf(n), *mean = fbuf(C), *rstd = fbuf(C);
    float *rm = fbuf(C), *rv = fbuf(C), *rm0 = fbuf(C), *rv0 = fbuf(C);
    float *dy = fbuf(n), *dx = fbuf(n), *dg = fbuf(C), *db = fbuf(C);
    double *want = dbuf(n), *wrm = dbuf(C), *wrv = dbuf(C);
    fill(x, n); fill(g, C); fill(b, C); fill(dy, n); fill(rm0, C);
    for (int c = 0; c < C; c++) rv0[c] = 1.0f + 0.5f * rnd();
    memcpy(rm, rm0, sizeof(float) * C); memcpy(rv, rv0, sizeof(float) * C);
    for (int c = 0; c < C; c++) {
        double s = 0, ss = 0;
        for (int i = 0; i < N; i++) for (int64_t k = 0; k < HW; k++) s += x[(i * C + c) * HW + k];
        double mu = s / cnt;
        for (int i = 0; i < N; i++)
            for (int64_t k = 0; k < HW; k++) {
                double d = x[(i * C + c) * HW + k] - mu;
                ss += d * d;
            }
        double rs = 1.0 / sqrt(ss / cnt + 1e-5);
        for (int i = 0; i < N; i++)
            for (int64_t k = 0; k < HW; k++) {
                int64_t at = (i * C + c) * HW + k;
                want[at] = (x[at] - mu) * rs * g[c] + b[c];
            }
        wrm[c] = 0.9 * rm0[c] + 0.1 * mu;
        wrv[c] = 0.9 * rv0[c] + 0.1 * ss / (cnt - 1);
    }
    weft_k_batchnorm_fwd_train(y, mean, rstd, rm, rv, x, g, b, N, C, HW, 1e-5f, 0.1f);
    CHECK_CLOSE(y, want, n, 1e-5, 1e-5, "batchnorm train");
    CHECK_CLOSE(rm, wrm, C, 1e-6, 1e-5, "batchnorm running mean");
    CHECK_CLOSE(rv, wrv, C, 1e-6, 1e-5, "batchnorm running var");

    /* eval with the running statistics */
    for (int c = 0; c < C; c++)
        for (int i = 0; i < N; i++)
            for (int64_t k = 0; k < HW; k++) {
                int64_t at = (i * C + c) * HW + k;
                want[at] = (x[at] - (double)rm[c]) / sqrt((double)rv[c] + 1e-5) * g[c] + b[c];
            }
    float *ye = fbuf(n);
    weft_k_batchnorm_fwd_eval(ye, x, g, b, rm, rv, N, C, HW, 1e-5f);
    CHECK_CLOSE(ye, want, n, 1e-5, 1e-5, "batchnorm eval");

    weft_k_batchnorm_bwd(dx, dg, db, dy, x, mean, rstd, g, N, C, HW);
    bn_ctx bc = { x, g, b, fbuf(C), fbuf(C), N, C, HW };
    float *yy = fbuf(n);
    CHECK_FD(dx, x, n, yy, n, dy, 1e-2f, bn_f, &bc, "batchnorm dx");
    CHECK_FD(dg, g, C, yy, n, dy, 1e-2f, bn_f, &bc, "batchnorm dgamma");
    CHECK_FD(db, b, C, yy, n, dy, 1e-2f, bn_f, &bc, "batchnorm dbeta");

    float *y2 = fbuf(n), *m2 = fbuf(C), *r2 = fbuf(C), *dx2 = fbuf(n), *dg2 = fbuf(C), *db2 = fbuf(C);
    weft_k_batchnorm_fwd_train_pool(g_pool, y2, m2, r2, NULL, NULL, x, g, b, N, C, HW, 1e-5f, 0.1f);
    CHECK(same(y, y2, n) && same(mean, m2, C) && same(rstd, r2, C));
    weft_k_batchnorm_bwd_pool(g_pool, dx2, dg2, db2, dy, x, mean, rstd, g, N, C, HW);
    CHECK(same(dx, dx2, n) && same(dg, dg2, C) && same(db, db2, C));
    free(bc.mean); free(bc.rstd); free(yy); free(ye);
    free(x); free(g); free(b); free(y); free(mean); free(rstd); free(rm); free(rv); free(rm0); free(rv0);
    free(dy); free(dx); free(dg); free(db); free(want); free(wrm); free(wrv);
    free(y2); free(m2); free(r2); free(dx2); free(dg2); free(db2);
}

/* ---- softmax ------------------------------------------------------------------------------------ */

typedef struct { const float *x; int64_t M; int N; } sm_ctx;
static void sm_f(void *p, float *y) { sm_ctx *c = p; weft_k_softmax_fwd(y, c->x, c->M, c->N); }

static void test_softmax(void)
{
    const int64_t M = 4;
    const int N = 13, n = (int)M * N;
    float *x = fbuf(n), *y = fbuf(n), *dy = fbuf(n), *dx = fbuf(n);
    double *want = dbuf(n);
    fill_scaled(x, n, 4.0f); fill(dy, n);
    x[5] = 80.0f;   /* a large logit: the max shift keeps it finite */
    for (int64_t r = 0; r < M; r++) {
        double mx = -INFINITY, s = 0;
        for (int i = 0; i < N; i++) mx = fmax(mx, x[r * N + i]);
        for (int i = 0; i < N; i++) s += exp(x[r * N + i] - mx);
        for (int i = 0; i < N; i++) want[r * N + i] = exp(x[r * N + i] - mx) / s;
    }
    weft_k_softmax_fwd(y, x, M, N);
    CHECK_CLOSE(y, want, n, 1e-7, 1e-5, "softmax");
    float *yi = fcopy(x, n);
    weft_k_softmax_fwd(yi, yi, M, N);
    CHECK(same(y, yi, n));
    for (int64_t r = 0; r < M; r++) {
        double d = 0;
        for (int i = 0; i < N; i++) d += (double)dy[r * N + i] * y[r * N + i];
        for (int i = 0; i < N; i++) want[r * N + i] = y[r * N + i] * (dy[r * N + i] - d);
    }
    weft_k_softmax_bwd(dx, dy, y, M, N);
    CHECK_CLOSE(dx, want, n, 1e-7, 1e-5, "softmax bwd");
    x[5] = 0.5f;   /* FD away from saturation */
    weft_k_softmax_fwd(y, x, M, N);
    weft_k_softmax_bwd(dx, dy, y, M, N);
    sm_ctx c = { x, M, N };
    float *yy = fbuf(n);
    CHECK_FD(dx, x, n, yy, n, dy, 1e-2f, sm_f, &c, "softmax dx");
    float *y2 = fbuf(n), *dx2 = fcopy(dy, n);
    weft_k_softmax_fwd_pool(g_pool, y2, x, M, N);
    weft_k_softmax_bwd_pool(g_pool, dx2, dx2, y, M, N);   /* in place */
    CHECK(same(y, y2, n) && same(dx, dx2, n));
    free(x); free(y); free(dy); free(dx); free(want); free(yi); free(yy); free(y2); free(dx2);
}

/* ---- attention ------------------------------------------------------------------------------------ */

typedef struct { const float *q, *k, *v; float *P; int B, H, T, Dh; bool causal; const float *slopes; } att_ctx;
static void att_f(void *p, float *y)
{
    att_ctx *c = p;
    weft_k_attention_fwd(y, c->P, c->q, c->k, c->v, c->B, c->H, c->T, c->Dh, c->causal, c->slopes);
}

/* T above 32 takes the causal row-block path (blocks of 32 query rows). */
typedef struct { int B, H, T, Dh; } att_case;
static const att_case att_cases[] = { { 2, 3, 7, 5 }, { 1, 2, 37, 6 }, { 1, 1, 64, 8 } };

static void test_attention_case(const att_case *ac)
{
    const int B = ac->B, H = ac->H, T = ac->T, Dh = ac->Dh;
    const int64_t n = (int64_t)B * H * T * Dh, np = (int64_t)B * H * T * T;
    float *q = fbuf(n), *k = fbuf(n), *v = fbuf(n), *out = fbuf(n), *P = fbuf(np);
    float *dout = fbuf(n), *dq = fbuf(n), *dk = fbuf(n), *dv = fbuf(n);
    double *wout = dbuf(n), *wP = dbuf(np);
    fill_scaled(q, n, 2.0f); fill_scaled(k, n, 2.0f); fill(v, n); fill(dout, n);
    float slope_buf[2 * 8];   /* per head: keys before, keys after the query */
    for (int h = 0; h < H; h++) { slope_buf[2 * h] = 0.25f * (float)(h + 1); slope_buf[2 * h + 1] = 0.7f / (float)(h + 1); }
    for (int mode = 0; mode < 4; mode++) {
        const bool causal = mode & 1;
        const float *slopes = mode & 2 ? slope_buf : NULL;
        for (int bh = 0; bh < B * H; bh++)
            for (int i = 0; i < T; i++) {
                double s[128], mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    double d = 0;
                    for (int e = 0; e < Dh; e++) d += (double)q[(bh * T + i) * Dh + e] * k[(bh * T + j) * Dh + e];
                    s[j] = d / sqrt((double)Dh);
                    if (slopes) s[j] -= j < i ? slopes[bh % H * 2] * (i - j) : slopes[bh % H * 2 + 1] * (j - i);
                    if (!(causal && j > i)) mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < T; j++) {
                    s[j] = causal && j > i ? 0.0 : exp(s[j] - mx);
                    sum += s[j];
                }
                for (int j = 0; j < T; j++) wP[((int64_t)bh * T + i) * T + j] = s[j] / sum;
                for (int e = 0; e < Dh; e++) {
                    double o = 0;
                    for (int j = 0; j < T; j++) o += s[j] / sum * v[(bh * T + j) * Dh + e];
                    wout[(bh * T + i) * Dh + e] = o;
                }
            }
        weft_k_attention_fwd(out, P, q, k, v, B, H, T, Dh, causal, slopes);
        CHECK_CLOSE(P, wP, np, 1e-7, 1e-5, "attention P T=%d causal=%d bias=%d", T, causal, !!slopes);
        CHECK_CLOSE(out, wout, n, 1e-6, 1e-5, "attention out T=%d causal=%d bias=%d", T, causal, !!slopes);
        if (causal) {
            bool zero = true;
            for (int bh = 0; bh < B * H; bh++)
                for (int i = 0; i < T; i++)
                    for (int j = i + 1; j < T; j++) zero &= P[((int64_t)bh * T + i) * T + j] == 0.0f;
            CHECKF(zero, "causal attention gives future keys exactly zero weight");
            /* queries before the last must not see the last key's value */
            float *v2 = fcopy(v, n), *out2 = fbuf(n), *P2 = fbuf(np);
            for (int e = 0; e < Dh; e++) v2[(T - 1) * Dh + e] += 10.0f;   /* head 0, last key */
            weft_k_attention_fwd(out2, P2, q, k, v2, B, H, T, Dh, true, slopes);
            CHECK(memcmp(out, out2, sizeof(float) * (size_t)(T - 1) * Dh) == 0);
            free(v2); free(out2); free(P2);
        }
        float *scratch = fbuf(weft_k_attention_bwd_scratch(NULL, T));
        weft_k_attention_bwd(dq, dk, dv, dout, q, k, v, P, B, H, T, Dh, causal, scratch);
        att_ctx c = { q, k, v, fbuf(np), B, H, T, Dh, causal, slopes };
        float *yy = fbuf(n);
        CHECK_FD(dq, q, n, yy, n, dout, 1e-2f, att_f, &c, "attention dq T=%d causal=%d", T, causal);
        CHECK_FD(dk, k, n, yy, n, dout, 1e-2f, att_f, &c, "attention dk T=%d causal=%d", T, causal);
        CHECK_FD(dv, v, n, yy, n, dout, 1e-2f, att_f, &c, "attention dv T=%d causal=%d", T, causal);
        /* pool */
        float *o2 = fbuf(n), *P2 = fbuf(np), *dq2 = fbuf(n), *dk2 = fbuf(n), *dv2 = fbuf(n);
        float *s2 = fbuf(weft_k_attention_bwd_scratch(g_pool, T));
        weft_k_attention_fwd_pool(g_pool, o2, P2, q, k, v, B, H, T, Dh, causal, slopes);
        CHECKF(same(out, o2, n) && same(P, P2, np), "attention pool fwd T=%d", T);
        weft_k_attention_bwd_pool(g_pool, dq2, dk2, dv2, dout, q, k, v, P, B, H, T, Dh, causal, s2);
        CHECKF(same(dq, dq2, n) && same(dk, dk2, n) && same(dv, dv2, n), "attention pool bwd T=%d", T);
        free(scratch); free(c.P); free(yy); free(o2); free(P2); free(dq2); free(dk2); free(dv2); free(s2);
    }
    free(q); free(k); free(v); free(out); free(P); free(dout); free(dq); free(dk); free(dv);
    free(wout); free(wP);
}

static void test_attention(void)
{
    for (size_t i = 0; i < sizeof att_cases / sizeof *att_cases; i++) test_attention_case(&att_cases[i]);
}

/* ---- embeddings -------------------------------------------------------------------------------------- */

/* dtable zeroed, dense accumulate; sparse rows must be exactly its nonzero rows. */
static void check_sparse_vs_dense(const int32_t *rows, const float *grad, int64_t U,
                                  const float *dtable, const int32_t *ids, int64_t nnz,
                                  int64_t V, int D, const char *what)
{
    int64_t distinct = 0;
    bool *seen = calloc((size_t)V, 1);
    for (int64_t i = 0; i < nnz; i++)
        if (ids[i] >= 0 && ids[i] < V && !seen[ids[i]]) { seen[ids[i]] = true; distinct++; }
    CHECKF(U == distinct, "%s: U = %lld, distinct = %lld", what, (long long)U, (long long)distinct);
    bool ok = true;
    for (int64_t u = 0; u < U && u < distinct; u++) {
        ok &= rows[u] >= 0 && rows[u] < V && seen[rows[u]];
        if (u) ok &= rows[u] > rows[u - 1];
        if (ok) ok &= same(grad + u * D, dtable + (int64_t)rows[u] * D, D);
    }
    CHECKF(ok, "%s: sparse rows sorted, unique, equal to the dense gradient", what);
    free(seen);
}

typedef struct { const int32_t *ids, *off; int L; const float *table; int64_t N, V; int D; } emb_ctx;
static void bag_f(void *p, float *y)
{
    emb_ctx *c = p;
    weft_k_embbag_fwd(y, c->ids, c->off, c->L, c->table, c->N, c->V, c->D);
}

static void test_embedding(void)
{
    const int64_t V = 11, N = 9;
    const int D = 5;
    const int32_t ids[9] = { 3, 7, 3, 0, 10, -1, 3, 11, 7 };   /* duplicates, two bad ids */
    float *table = fbuf(V * D), *out = fbuf(N * D), *dout = fbuf(N * D), *dt = fbuf(V * D);
    float *grad = fbuf(N * D);
    int32_t rows[9];
    double *want = dbuf(V * D);
    fill(table, V * D); fill(dout, N * D);
    fill(out, N * D);
    int64_t bad = weft_k_embedding_fwd(out, ids, table, N, V, D);
    CHECK(bad == 2);
    for (int64_t i = 0; i < N; i++)
        for (int d = 0; d < D; d++)
            want[i * D + d] = ids[i] >= 0 && ids[i] < V ? table[ids[i] * D + d] : 0.0;
    CHECK_CLOSE(out, want, N * D, 1e-30, 0, "embedding fwd");
    float *o2 = fbuf(N * D);
    CHECK(weft_k_embedding_fwd_pool(g_pool, o2, ids, table, N, V, D) == 2 && same(out, o2, N * D));

    memset(dt, 0, sizeof(float) * V * D);
    weft_k_embedding_bwd_dense(dt, ids, dout, N, V, D);
    memset(want, 0, sizeof(double) * V * D);
    for (int64_t i = 0; i < N; i++)
        if (ids[i] >= 0 && ids[i] < V)
            for (int d = 0; d < D; d++) want[ids[i] * D + d] += dout[i * D + d];
    CHECK_CLOSE(dt, want, V * D, 1e-6, 1e-6, "embedding dense bwd (duplicates accumulate)");
    uint64_t *scr = malloc(sizeof(uint64_t) * (size_t)weft_k_embedding_sparse_scratch(N));
    int64_t U = weft_k_embedding_bwd_sparse(rows, grad, ids, dout, N, V, D, scr);
    check_sparse_vs_dense(rows, grad, U, dt, ids, N, V, D, "embedding sparse");
    CHECK(U == 4 && rows[0] == 0 && rows[1] == 3 && rows[2] == 7 && rows[3] == 10);
    free(scr);

    /* big V: multi-byte radix passes */
    {
        const int64_t BV = 300000, BN = 200;
        int32_t *bid = malloc(sizeof(int32_t) * BN), *brow = malloc(sizeof(int32_t) * BN);
        for (int64_t i = 0; i < BN; i++) bid[i] = (int32_t)(rnd_u32() % (i < 100 ? BV : 300));
        bid[7] = bid[3]; bid[150] = bid[3]; bid[9] = (int32_t)BV;   /* one bad */
        float *bt = calloc((size_t)(BV * 2), sizeof(float)), *bg = fbuf(BN * 2), *bd = fbuf(BN * 2);
        fill(bd, BN * 2);
        uint64_t *s2 = malloc(sizeof(uint64_t) * (size_t)weft_k_embedding_sparse_scratch(BN));
        weft_k_embedding_bwd_dense(bt, bid, bd, BN, BV, 2);
        int64_t BU = weft_k_embedding_bwd_sparse(brow, bg, bid, bd, BN, BV, 2, s2);
        check_sparse_vs_dense(brow, bg, BU, bt, bid, BN, BV, 2, "embedding sparse, V = 300000");
        free(bid); free(brow); free(bt); free(bg); free(bd); free(s2);
    }

    /* embedding bag: fixed L and offsets (with an empty bag) */
    {
        const int64_t NB = 4;
        const int L = 3;
        const int32_t bids[12] = { 1, 4, 1, 9, 12, 0, 5, 5, 5, 2, 8, 1 };   /* 12 is bad */
        const int32_t offs[5] = { 0, 4, 4, 9, 12 };                         /* bag 1 empty */
        for (int use_off = 0; use_off < 2; use_off++) {
            const int32_t *off = use_off ? offs : NULL;
            float *bo = fbuf(NB * D), *bdo = fbuf(NB * D), *bdt = fbuf(V * D), *bg = fbuf(12 * D);
            int32_t brows[12];
            double *bw = dbuf(NB * D);
            fill(bdo, NB * D);
            for (int64_t bn = 0; bn < NB; bn++) {
                int64_t b = off ? off[bn] : bn * L, e = off ? off[bn + 1] : (bn + 1) * L;
                for (int64_t p = b; p < e; p++)
                    if (bids[p] < V)
                        for (int d = 0; d < D; d++) bw[bn * D + d] += table[bids[p] * D + d];
            }
            CHECK(weft_k_embbag_fwd(bo, bids, off, L, table, NB, V, D) == 1);
            CHECK_CLOSE(bo, bw, NB * D, 1e-6, 1e-6, "embbag fwd offsets=%d", use_off);
            float *bo2 = fbuf(NB * D);
            CHECK(weft_k_embbag_fwd_pool(g_pool, bo2, bids, off, L, table, NB, V, D) == 1);
            CHECK(same(bo, bo2, NB * D));
            memset(bdt, 0, sizeof(float) * V * D);
            weft_k_embbag_bwd_dense(bdt, bids, off, L, bdo, NB, V, D);
            /* dense gradient against finite differences of the table */
            emb_ctx c = { bids, off, L, table, NB, V, D };
            float *yy = fbuf(NB * D);
            CHECK_FD(bdt, table, V * D, yy, NB * D, bdo, 1e-2f, bag_f, &c, "embbag dtable offsets=%d", use_off);
            uint64_t *s3 = malloc(sizeof(uint64_t) * (size_t)weft_k_embedding_sparse_scratch(12));
            int64_t BU = weft_k_embbag_bwd_sparse(brows, bg, bids, off, L, bdo, NB, V, D, s3);
            check_sparse_vs_dense(brows, bg, BU, bdt, bids, 12, V, D, "embbag sparse");
            free(bo); free(bdo); free(bdt); free(bg); free(bw); free(bo2); free(yy); free(s3);
        }
    }
    free(table); free(out); free(dout); free(dt); free(grad); free(want); free(o2);
}

/* ---- DLRM dot interaction ----------------------------------------------------------------------------------- */

typedef struct { const float *dense; const float *const *emb; int64_t stride; int B, T, D; } di_ctx;
static void di_f(void *p, float *y)
{
    di_ctx *c = p;
    weft_k_dot_interact_fwd(y, c->dense, c->emb, c->stride, c->B, c->T, c->D);
}

static void test_dot_interact(void)
{
    CHECK(weft_k_dot_interact_width(26, 16) == 367);
    const int B = 3, T = 4, D = 5, F = T + 1;
    const int64_t W = weft_k_dot_interact_width(T, D);
    CHECK(W == 15);
    float *dense = fbuf(B * D), *e3 = fbuf((int64_t)B * T * D), *out = fbuf(B * W), *dout = fbuf(B * W);
    float *dd = fbuf(B * D), *de3 = fbuf((int64_t)B * T * D);
    double *want = dbuf(B * W);
    fill(dense, B * D); fill(e3, (int64_t)B * T * D); fill(dout, B * W);
    const float *emb[4];
    float *demb[4];
    for (int t = 0; t < T; t++) { emb[t] = e3 + t * D; demb[t] = de3 + t * D; }   /* (B,T,D) */
    for (int b = 0; b < B; b++) {
        int64_t k = 0;
        for (int d = 0; d < D; d++) want[b * W + k++] = dense[b * D + d];
        for (int i = 1; i < F; i++)
            for (int j = 0; j < i; j++) {
                const float *fi = e3 + ((int64_t)b * T + i - 1) * D;
                const float *fj = j ? e3 + ((int64_t)b * T + j - 1) * D : dense + b * D;
                double s = 0;
                for (int d = 0; d < D; d++) s += (double)fi[d] * fj[d];
                want[b * W + k++] = s;
            }
    }
    weft_k_dot_interact_fwd(out, dense, emb, (int64_t)T * D, B, T, D);
    CHECK_CLOSE(out, want, B * W, 1e-6, 1e-5, "dot interaction (B,T,D)");
    weft_k_dot_interact_bwd(dd, demb, dout, dense, emb, (int64_t)T * D, B, T, D);
    di_ctx c = { dense, emb, (int64_t)T * D, B, T, D };
    float *yy = fbuf(B * W);
    CHECK_FD(dd, dense, B * D, yy, B * W, dout, 1e-2f, di_f, &c, "dot interaction ddense");
    CHECK_FD(de3, e3, (int64_t)B * T * D, yy, B * W, dout, 1e-2f, di_f, &c, "dot interaction demb");

    /* T separate (B,D) tensors: the same numbers */
    float *sep[4], *dsep[4];
    for (int t = 0; t < T; t++) {
        sep[t] = fbuf(B * D); dsep[t] = fbuf(B * D);
        for (int b = 0; b < B; b++) memcpy(sep[t] + b * D, e3 + ((int64_t)b * T + t) * D, sizeof(float) * D);
    }
    float *out2 = fbuf(B * W), *dd2 = fbuf(B * D);
    weft_k_dot_interact_fwd_pool(g_pool, out2, dense, (const float *const *)sep, D, B, T, D);
    CHECK(same(out, out2, B * W));
    weft_k_dot_interact_bwd_pool(g_pool, dd2, dsep, dout, dense, (const float *const *)sep, D, B, T, D);
    bool ok = same(dd, dd2, B * D);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) ok &= same(dsep[t] + b * D, de3 + ((int64_t)b * T + t) * D, D);
    CHECKF(ok, "dot interaction: separate tensors and pool give the same bits");
    for (int t = 0; t < T; t++) { free(sep[t]); free(dsep[t]); }
    free(dense); free(e3); free(out); free(dout); free(dd); free(de3); free(want); free(yy);
    free(out2); free(dd2);
}

/* ---- LSTM ----------------------------------------------------------------------------------------------------- */

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* One step in double: h, c (B,H) updated in place; gates (B,4H) activated. */
static void lstm_ref_step(double *h, double *c, double *gates, const float *x, const float *wih,
                          const float *whh, const float *bih, const float *bhh, int B, int I, int H)
{
    double *hn = dbuf((int64_t)B * H);
    for (int b = 0; b < B; b++) {
        for (int r = 0; r < 4 * H; r++) {
            double a = (bih ? bih[r] : 0.0) + (bhh ? bhh[r] : 0.0);
            for (int k = 0; k < I; k++) a += (double)x[b * I + k] * wih[r * I + k];
            for (int k = 0; k < H; k++) a += h[b * H + k] * whh[r * H + k];
            gates[(int64_t)b * 4 * H + r] = r / H == 2 ? tanh(a) : sigm(a);
        }
        for (int u = 0; u < H; u++) {
            const double *g = gates + (int64_t)b * 4 * H;
            double cn = g[H + u] * c[b * H + u] + g[u] * g[2 * H + u];
            c[b * H + u] = cn;
            hn[b * H + u] = g[3 * H + u] * tanh(cn);
        }
    }
    memcpy(h, hn, sizeof(double) * (size_t)B * H);
    free(hn);
}

typedef struct {
    const float *x, *h, *c, *wih, *whh, *bih, *bhh;
    int T, B, I, H;
    float *gates, *cs, *y;
} lstm_ctx;

/* cell: y = [h1, c1] */
static void cell_f(void *p, float *y)
{
    lstm_ctx *c = p;
    const int64_t hs = (int64_t)c->B * c->H;
    weft_k_lstm_cell_fwd(y, y + hs, c->gates, c->x, c->h, c->c, c->wih, c->whh, c->bih, c->bhh,
                         c->B, c->I, c->H);
}
/* layer: y = [ys (T,B,H), hT, cT] */
static void layer_f(void *p, float *y)
{
    lstm_ctx *c = p;
    const int64_t hs = (int64_t)c->B * c->H;
    weft_k_lstm_fwd(y, c->gates, c->cs, c->x, c->h, c->c, c->wih, c->whh, c->bih, c->bhh,
                    c->T, c->B, c->I, c->H);
    memcpy(y + c->T * hs, y + (c->T - 1) * hs, sizeof(float) * (size_t)hs);
    memcpy(y + (c->T + 1) * hs, c->cs + (c->T - 1) * hs, sizeof(float) * (size_t)hs);
}

static void test_lstm_cell(void)
{
    const int B = 3, I = 5, H = 11, G = 4 * H;
    const int64_t hs = (int64_t)B * H;
    float *x = fbuf(B * I), *h = fbuf(hs), *c = fbuf(hs), *wih = fbuf(G * I), *whh = fbuf(G * H);
    float *bih = fbuf(G), *bhh = fbuf(G), *out = fbuf(2 * hs), *gates = fbuf((int64_t)B * G);
    float *r = fbuf(2 * hs), *dx = fbuf(B * I), *dh = fbuf(hs), *dc = fbuf(hs);
    float *dwih = fbuf(G * I), *dwhh = fbuf(G * H), *dbih = fbuf(G), *dbhh = fbuf(G), *scr = fbuf((int64_t)B * G);
    fill(x, B * I); fill(h, hs); fill(c, hs); fill(wih, G * I); fill(whh, G * H); fill(bih, G); fill(bhh, G);
    fill(r, 2 * hs);
    double *rh = dbuf(hs), *rc = dbuf(hs), *rg = dbuf((int64_t)B * G), *want = dbuf(2 * hs);
    for (int64_t i = 0; i < hs; i++) { rh[i] = h[i]; rc[i] = c[i]; }
    lstm_ref_step(rh, rc, rg, x, wih, whh, bih, bhh, B, I, H);
    for (int64_t i = 0; i < hs; i++) { want[i] = rh[i]; want[hs + i] = rc[i]; }
    weft_k_lstm_cell_fwd(out, out + hs, gates, x, h, c, wih, whh, bih, bhh, B, I, H);
    CHECK_CLOSE(out, want, 2 * hs, 1e-6, 1e-5, "lstm cell h1, c1");
    CHECK_CLOSE(gates, rg, (int64_t)B * G, 1e-6, 1e-5, "lstm cell gates");

    memset(dwih, 0, sizeof(float) * G * I); memset(dwhh, 0, sizeof(float) * G * H);
    memset(dbih, 0, sizeof(float) * G); memset(dbhh, 0, sizeof(float) * G);
    weft_k_lstm_cell_bwd(dx, dh, dc, dwih, dwhh, dbih, dbhh, r, r + hs, gates, c, out + hs, x, h,
                         wih, whh, B, I, H, scr);
    lstm_ctx lc = { x, h, c, wih, whh, bih, bhh, 1, B, I, H, fbuf((int64_t)B * G), NULL, NULL };
    float *yy = fbuf(2 * hs);
    CHECK_FD(dx, x, B * I, yy, 2 * hs, r, 1e-2f, cell_f, &lc, "lstm cell dx");
    CHECK_FD(dh, h, hs, yy, 2 * hs, r, 1e-2f, cell_f, &lc, "lstm cell dh");
    CHECK_FD(dc, c, hs, yy, 2 * hs, r, 1e-2f, cell_f, &lc, "lstm cell dc");
    CHECK_FD(dwih, wih, G * I, yy, 2 * hs, r, 1e-2f, cell_f, &lc, "lstm cell dw_ih");
    CHECK_FD(dwhh, whh, G * H, yy, 2 * hs, r, 1e-2f, cell_f, &lc, "lstm cell dw_hh");
    CHECK_FD(dbih, bih, G, yy, 2 * hs, r, 1e-2f, cell_f, &lc, "lstm cell db_ih");
    CHECK_FD(dbhh, bhh, G, yy, 2 * hs, r, 1e-2f, cell_f, &lc, "lstm cell db_hh");
    /* weight gradients accumulate */
    float *w1 = fcopy(dwih, G * I);
    weft_k_lstm_cell_bwd(NULL, NULL, NULL, dwih, NULL, NULL, NULL, r, r + hs, gates, c, out + hs, x,
                         h, wih, whh, B, I, H, scr);
    double *w2 = dbuf(G * I);
    for (int64_t i = 0; i < G * I; i++) w2[i] = 2.0 * w1[i];
    CHECK_CLOSE(dwih, w2, G * I, 1e-6, 1e-5, "lstm cell dw_ih accumulates");
    free(lc.gates); free(yy); free(w1); free(w2);
    free(x); free(h); free(c); free(wih); free(whh); free(bih); free(bhh); free(out); free(gates);
    free(r); free(dx); free(dh); free(dc); free(dwih); free(dwhh); free(dbih); free(dbhh); free(scr);
    free(rh); free(rc); free(rg); free(want);
}

static void test_lstm_layer_case(int T, int B, int I, int H, bool with_state, bool pool_check)
{
    const int G = 4 * H;
    const int64_t hs = (int64_t)B * H, gs = (int64_t)B * G, ny = (T + 2) * hs;
    float *x = fbuf((int64_t)T * B * I), *h0 = fbuf(hs), *c0 = fbuf(hs), *wih = fbuf((int64_t)G * I);
    float *whh = fbuf((int64_t)G * H), *bih = fbuf(G), *bhh = fbuf(G);
    float *y = fbuf(ny), *gates = fbuf(T * gs), *cs = fbuf(T * hs), *r = fbuf(ny);
    fill(x, (int64_t)T * B * I); fill(h0, hs); fill(c0, hs); fill(wih, (int64_t)G * I);
    fill(whh, (int64_t)G * H); fill(bih, G); fill(bhh, G); fill(r, ny);
    const float *h0p = with_state ? h0 : NULL, *c0p = with_state ? c0 : NULL;
    lstm_ctx lc = { x, h0p, c0p, wih, whh, bih, bhh, T, B, I, H, gates, cs, NULL };
    layer_f(&lc, y);

    /* reference: the double cell over the steps */
    double *rh = dbuf(hs), *rc = dbuf(hs), *rg = dbuf(gs), *wy = dbuf(T * hs), *wc = dbuf(T * hs), *wg = dbuf(T * gs);
    for (int64_t i = 0; i < hs; i++) { rh[i] = with_state ? h0[i] : 0; rc[i] = with_state ? c0[i] : 0; }
    for (int t = 0; t < T; t++) {
        lstm_ref_step(rh, rc, rg, x + (int64_t)t * B * I, wih, whh, bih, bhh, B, I, H);
        memcpy(wy + t * hs, rh, sizeof(double) * (size_t)hs);
        memcpy(wc + t * hs, rc, sizeof(double) * (size_t)hs);
        memcpy(wg + t * gs, rg, sizeof(double) * (size_t)gs);
    }
    CHECK_CLOSE(y, wy, T * hs, 1e-5, 1e-4, "lstm layer y T=%d H=%d", T, H);
    CHECK_CLOSE(cs, wc, T * hs, 1e-5, 1e-4, "lstm layer cs T=%d H=%d", T, H);
    CHECK_CLOSE(gates, wg, T * gs, 1e-5, 1e-4, "lstm layer gates T=%d H=%d", T, H);

    float *dx = fbuf((int64_t)T * B * I), *dh0 = fbuf(hs), *dc0 = fbuf(hs), *dwih = fbuf((int64_t)G * I);
    float *dwhh = fbuf((int64_t)G * H), *dbih = fbuf(G), *dbhh = fbuf(G);
    float *scr = fbuf(weft_k_lstm_bwd_scratch(T, B, H));
    weft_k_lstm_bwd(dx, dh0, dc0, dwih, dwhh, dbih, dbhh, r, r + T * hs, r + (T + 1) * hs,
                    gates, cs, x, y, h0p, c0p, wih, whh, T, B, I, H, scr);
    if (!pool_check) {
        float *yy = fbuf(ny);
        lc.gates = fbuf(T * gs); lc.cs = fbuf(T * hs);
        CHECK_FD(dx, x, (int64_t)T * B * I, yy, ny, r, 1e-2f, layer_f, &lc, "lstm layer dx T=%d", T);
        if (with_state) {
            CHECK_FD(dh0, h0, hs, yy, ny, r, 1e-2f, layer_f, &lc, "lstm layer dh0");
            CHECK_FD(dc0, c0, hs, yy, ny, r, 1e-2f, layer_f, &lc, "lstm layer dc0");
        }
        CHECK_FD(dwih, wih, (int64_t)G * I, yy, ny, r, 1e-2f, layer_f, &lc, "lstm layer dw_ih T=%d", T);
        CHECK_FD(dwhh, whh, (int64_t)G * H, yy, ny, r, 1e-2f, layer_f, &lc, "lstm layer dw_hh T=%d", T);
        CHECK_FD(dbih, bih, G, yy, ny, r, 1e-2f, layer_f, &lc, "lstm layer db_ih");
        CHECK_FD(dbhh, bhh, G, yy, ny, r, 1e-2f, layer_f, &lc, "lstm layer db_hh");
        free(lc.gates); free(lc.cs); free(yy);
    } else {
        /* The pool variant: the gate passes split rows (bit-identical), the
         * GEMMs go through weft_k_gemm_pool, whose column split changes
         * OpenBLAS's rounding at some widths, so: close, not identical. */
        float *y2 = fbuf(T * hs), *g2 = fbuf(T * gs), *c2 = fbuf(T * hs);
        weft_k_lstm_fwd_pool(g_pool, y2, g2, c2, x, h0p, c0p, wih, whh, bih, bhh, T, B, I, H);
        CHECKF(near(y2, y, T * hs) && near(g2, gates, T * gs) && near(c2, cs, T * hs),
               "lstm layer pool fwd T=%d B=%d H=%d", T, B, H);
        float *dx2 = fbuf((int64_t)T * B * I), *dh2 = fbuf(hs), *dc2 = fbuf(hs), *dwih2 = fbuf((int64_t)G * I);
        float *dwhh2 = fbuf((int64_t)G * H), *dbih2 = fbuf(G), *dbhh2 = fbuf(G);
        weft_k_lstm_bwd_pool(g_pool, dx2, dh2, dc2, dwih2, dwhh2, dbih2, dbhh2, r, r + T * hs,
                        r + (T + 1) * hs, gates, cs, x, y, h0p, c0p, wih, whh, T, B, I, H, scr);
        CHECKF(near(dx2, dx, (int64_t)T * B * I) && near(dh2, dh0, hs) && near(dc2, dc0, hs) &&
               near(dwih2, dwih, (int64_t)G * I) && near(dwhh2, dwhh, (int64_t)G * H) &&
               near(dbih2, dbih, G) && near(dbhh2, dbhh, G), "lstm layer pool bwd T=%d B=%d H=%d", T, B, H);
        free(y2); free(g2); free(c2); free(dx2); free(dh2); free(dc2); free(dwih2); free(dwhh2);
        free(dbih2); free(dbhh2);
    }
    free(x); free(h0); free(c0); free(wih); free(whh); free(bih); free(bhh); free(y); free(gates);
    free(cs); free(r); free(rh); free(rc); free(rg); free(wy); free(wc); free(wg);
    free(dx); free(dh0); free(dc0); free(dwih); free(dwhh); free(dbih); free(dbhh); free(scr);
}

static void test_lstm(void)
{
    test_lstm_cell();
    test_lstm_layer_case(4, 3, 5, 11, true, false);
    test_lstm_layer_case(3, 2, 4, 8, false, false);    /* zero initial state, whole blocks */
    test_lstm_layer_case(1, 2, 3, 5, true, false);     /* one step */
    test_lstm_layer_case(3, 16, 64, 128, true, true);  /* GEMMs big enough to split */
}

/* ---- sigmoid, tanh, dropout ------------------------------------------------------------------------------------ */

typedef struct { const float *x; int64_t n; int which; } ew_ctx;
static void ew_f(void *p, float *y)
{
    ew_ctx *c = p;
    if (c->which == 0) weft_k_sigmoid_fwd(y, c->x, c->n);
    else weft_k_tanh_fwd(y, c->x, c->n);
}

static void test_activations(void)
{
    const int64_t n = 203;
    float *x = fbuf(n), *y = fbuf(n), *dy = fbuf(n), *dx = fbuf(n), *y2 = fbuf(n);
    double *want = dbuf(n);
    fill_scaled(x, n, 6.0f); fill(dy, n);
    x[0] = 100.0f; x[1] = -100.0f; x[2] = 0.0f; x[3] = 1e-4f; x[4] = -0.62f; x[5] = 0.63f; x[6] = 20.0f;
    for (int which = 0; which < 2; which++) {
        for (int64_t i = 0; i < n; i++) want[i] = which ? tanh((double)x[i]) : sigm(x[i]);
        if (which) weft_k_tanh_fwd(y, x, n); else weft_k_sigmoid_fwd(y, x, n);
        CHECK_CLOSE(y, want, n, 1e-30, 3e-7, "%s fwd", which ? "tanh" : "sigmoid");
        memcpy(y2, x, sizeof(float) * n);
        if (which) weft_k_tanh_fwd_pool(g_pool, y2, y2, n); else weft_k_sigmoid_fwd_pool(g_pool, y2, y2, n);
        CHECK(same(y, y2, n));
        for (int64_t i = 0; i < n; i++)
            want[i] = dy[i] * (which ? 1.0 - (double)y[i] * y[i] : (double)y[i] * (1.0 - y[i]));
        if (which) weft_k_tanh_bwd(dx, dy, y, n); else weft_k_sigmoid_bwd(dx, dy, y, n);
        CHECK_CLOSE(dx, want, n, 1e-7, 1e-5, "%s bwd", which ? "tanh" : "sigmoid");
        ew_ctx c = { x, n, which };
        float *xs = fcopy(x, n);
        c.x = xs;
        for (int i = 0; i < 7; i++) xs[i] = 0.25f * (float)i;   /* FD away from saturation */
        if (which) { weft_k_tanh_fwd(y, xs, n); weft_k_tanh_bwd(dx, dy, y, n); }
        else { weft_k_sigmoid_fwd(y, xs, n); weft_k_sigmoid_bwd(dx, dy, y, n); }
        CHECK_FD(dx, xs, n, y2, n, dy, 1e-2f, ew_f, &c, "%s dx", which ? "tanh" : "sigmoid");
        free(xs);
    }
    free(x); free(y); free(dy); free(dx); free(y2); free(want);
}

static void test_dropout(void)
{
    const int64_t n = 100003;
    const float p = 0.3f;
    float *x = fbuf(n), *y = fbuf(n), *y2 = fbuf(n), *dy = fbuf(n), *dx = fbuf(n);
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f + 0.5f * fabsf(rnd());   /* never zero */
    fill(dy, n);
    weft_rng_key key = weft_rng_key_make(7, 3, 11), other = weft_rng_key_make(7, 4, 11);
    weft_k_dropout_fwd(y, x, n, p, key);
    weft_k_dropout_fwd(y2, x, n, p, key);
    CHECK(same(y, y2, n));
    int64_t kept = 0;
    bool scaled = true;
    const float scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++) {
        bool keep = weft_rng_u32(key, (uint32_t)i) < (uint32_t)((1.0 - (double)p) * 4294967296.0);
        kept += y[i] != 0.0f;
        scaled &= keep ? y[i] == x[i] * scale : y[i] == 0.0f;
    }
    CHECKF(scaled, "dropout keeps exactly the elements whose bits are below the threshold, scaled by 1/(1-p)");
    double frac = (double)kept / n, sd = sqrt(p * (1 - p) / n);
    CHECKF(fabs(frac - (1 - p)) < 5 * sd, "dropout kept %.4f, want %.4f", frac, 1 - p);
    weft_k_dropout_fwd(y2, x, n, p, other);
    CHECK(!same(y, y2, n));
    weft_k_dropout_fwd_pool(g_pool, y2, x, n, p, key);
    CHECK(same(y, y2, n));
    /* backward: the same mask and scale, from the key alone */
    weft_k_dropout_bwd(dx, dy, n, p, key);
    bool ok = true;
    for (int64_t i = 0; i < n; i++) ok &= dx[i] == (y[i] != 0.0f ? dy[i] * scale : 0.0f);
    CHECKF(ok, "dropout backward reuses the forward's mask");
    memcpy(y2, x, sizeof(float) * n);
    weft_k_dropout_fwd(y2, y2, n, p, key);   /* in place */
    CHECK(same(y, y2, n));
    weft_k_dropout_fwd(y2, x, n, 0.0f, key);
    CHECK(same(x, y2, n));
    weft_k_dropout_fwd(y2, x, n, 1.0f, key);
    ok = true;
    for (int64_t i = 0; i < n; i++) ok &= y2[i] == 0.0f;
    CHECK(ok);
    free(x); free(y); free(y2); free(dy); free(dx);
}

/* ---- losses ------------------------------------------------------------------------------------------------------- */

typedef struct { const float *x, *t; int64_t n; } bce_ctx;
static void bce_f(void *p, float *y) { bce_ctx *c = p; y[0] = weft_k_bce_logits_fwd(c->x, c->t, c->n); }

static void test_bce(void)
{
    const int64_t n = 13;
    float *x = fbuf(n), *t = fbuf(n), *dx = fbuf(n);
    fill_scaled(x, n, 3.0f);
    for (int64_t i = 0; i < n; i++) t[i] = (float)(rnd_u32() % 2);
    t[2] = 0.3f;   /* soft target */
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double p = sigm(x[i]);
        s += -(t[i] * log(p) + (1 - t[i]) * log(1 - p));
    }
    CHECK_NEAR(weft_k_bce_logits_fwd(x, t, n), s / n, 1e-6 * fabs(s / n));
    const float dl = 1.7f;
    weft_k_bce_logits_bwd(dx, x, t, n, dl);
    double *want = dbuf(n);
    for (int64_t i = 0; i < n; i++) want[i] = dl * (sigm(x[i]) - t[i]) / n;
    CHECK_CLOSE(dx, want, n, 1e-8, 1e-6, "bce bwd");
    bce_ctx c = { x, t, n };
    float r = dl, yy;
    CHECK_FD(dx, x, n, &yy, 1, &r, 1e-2f, bce_f, &c, "bce dx");
    /* |logit| = 100: finite and right */
    float bx[4] = { 100.0f, -100.0f, 100.0f, -100.0f }, bt[4] = { 0.0f, 1.0f, 1.0f, 0.0f }, bd[4];
    float l = weft_k_bce_logits_fwd(bx, bt, 4);
    CHECKF(isfinite(l) && fabs(l - 50.0) < 1e-5, "bce at |x| = 100: %g", l);
    weft_k_bce_logits_bwd(bd, bx, bt, 4, 1.0f);
    CHECK(bd[0] == 0.25f && bd[1] == -0.25f && fabsf(bd[2]) < 1e-30f && fabsf(bd[3]) < 1e-30f);
    free(x); free(t); free(dx); free(want);
}

typedef struct { float *lse; const float *x; const int32_t *t; int64_t N; int V; } xt_ctx;
static void xt_f(void *p, float *y)
{
    xt_ctx *c = p;
    y[0] = weft_k_xent_tok_fwd(c->lse, c->x, c->t, c->N, c->V, -1);
}

static void test_xent_tok(void)
{
    const int64_t N = 7;
    const int V = 13;
    const int64_t n = N * V;
    int32_t t[7] = { 3, -1, 12, 0, -1, 5, 5 };
    float *x = fbuf(n), *lse = fbuf(N), *dx = fbuf(n);
    double *want = dbuf(n), *wl = dbuf(N);
    fill_scaled(x, n, 3.0f);
    x[2 * V + 4] = 60.0f;
    double s = 0;
    int cnt = 0;
    for (int64_t r = 0; r < N; r++) {
        double mx = -INFINITY, e = 0;
        for (int i = 0; i < V; i++) mx = fmax(mx, x[r * V + i]);
        for (int i = 0; i < V; i++) e += exp(x[r * V + i] - mx);
        wl[r] = mx + log(e);
        if (t[r] >= 0) { s += wl[r] - x[r * V + t[r]]; cnt++; }
    }
    float l = weft_k_xent_tok_fwd(lse, x, t, N, V, -1);
    CHECK_NEAR(l, s / cnt, 1e-5 * fabs(s / cnt));
    CHECK_CLOSE(lse, wl, N, 1e-6, 1e-6, "xent lse");
    const float dl = 0.7f;
    for (int64_t r = 0; r < N; r++)
        for (int i = 0; i < V; i++)
            want[r * V + i] = t[r] < 0 ? 0.0 : dl * (exp(x[r * V + i] - wl[r]) - (i == t[r])) / cnt;
    weft_k_xent_tok_bwd(dx, x, lse, t, N, V, -1, dl);
    CHECK_CLOSE(dx, want, n, 1e-8, 1e-5, "xent bwd");
    xt_ctx c = { fbuf(N), x, t, N, V };
    float r = dl, yy;
    x[2 * V + 4] = 0.6f;
    weft_k_xent_tok_fwd(lse, x, t, N, V, -1);
    weft_k_xent_tok_bwd(dx, x, lse, t, N, V, -1, dl);
    CHECK_FD(dx, x, n, &yy, 1, &r, 1e-2f, xt_f, &c, "xent dlogits");
    /* pool, and the backward in place */
    float *l2 = fbuf(N), *dx2 = fcopy(x, n);
    CHECK(weft_k_xent_tok_fwd_pool(g_pool, l2, x, t, N, V, -1) == weft_k_xent_tok_fwd(lse, x, t, N, V, -1));
    CHECK(same(lse, l2, N));
    weft_k_xent_tok_bwd_pool(g_pool, dx2, dx2, lse, t, N, V, -1, dl);
    CHECK(same(dx, dx2, n));
    /* every target ignored: NaN loss (0/0, as PyTorch), zero gradient */
    int32_t ti[7] = { -1, -1, -1, -1, -1, -1, -1 };
    CHECK(isnan(weft_k_xent_tok_fwd(lse, x, ti, N, V, -1)));
    weft_k_xent_tok_bwd(dx, x, lse, ti, N, V, -1, 1.0f);
    bool zero = true;
    for (int64_t i = 0; i < n; i++) zero &= dx[i] == 0.0f;
    CHECK(zero);
    /* a bad target: NaN, never a read outside the row */
    int32_t tb[7] = { 3, 13, 0, 0, 0, 0, 0 };
    CHECK(isnan(weft_k_xent_tok_fwd(lse, x, tb, N, V, -1)));
    free(c.lse); free(l2); free(dx2);
    free(x); free(lse); free(dx); free(want); free(wl);
}

/* ---- layout helpers -------------------------------------------------------------------------------------------------- */

static void test_layout(void)
{
    const int64_t xd[4] = { 2, 3, 4, 5 }, n = 120;
    float *x = fbuf(n), *y = fbuf(n), *y2 = fbuf(n);
    fill(x, n);
    bool ok = true;
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++) {
            int64_t yd[4] = { xd[0], xd[1], xd[2], xd[3] };
            yd[a] = xd[b]; yd[b] = xd[a];
            weft_k_transpose4(y, x, xd, a, b);
            for (int64_t i0 = 0; i0 < yd[0]; i0++)
                for (int64_t i1 = 0; i1 < yd[1]; i1++)
                    for (int64_t i2 = 0; i2 < yd[2]; i2++)
                        for (int64_t i3 = 0; i3 < yd[3]; i3++) {
                            int64_t yi[4] = { i0, i1, i2, i3 }, xi[4] = { i0, i1, i2, i3 };
                            xi[a] = yi[b]; xi[b] = yi[a];
                            ok &= y[((i0 * yd[1] + i1) * yd[2] + i2) * yd[3] + i3] ==
                                  x[((xi[0] * xd[1] + xi[1]) * xd[2] + xi[2]) * xd[3] + xi[3]];
                        }
            weft_k_transpose4_pool(g_pool, y2, x, xd, a, b);
            ok &= same(y, y2, n);
        }
    CHECKF(ok, "transpose4 of every pair of axes");
    /* concat then split is the identity, on every axis */
    for (int axis = 0; axis < 4; axis++) {
        const int64_t sizes[3] = { 1, 2, 3 };
        float *xs[3], *back[3];
        int64_t yd[4] = { 2, 3, 4, 5 };
        yd[axis] = 6;
        int64_t tot = yd[0] * yd[1] * yd[2] * yd[3];
        for (int i = 0; i < 3; i++) {
            int64_t m = tot / 6 * sizes[i];
            xs[i] = fbuf(m); back[i] = fbuf(m);
            fill(xs[i], m);
        }
        float *cat = fbuf(tot);
        weft_k_concat4(cat, (const float *const *)xs, sizes, 3, yd, axis);
        /* element check of the middle input's first element along the axis */
        int64_t inner = 1;
        for (int k = axis + 1; k < 4; k++) inner *= yd[k];
        CHECK(cat[1 * inner] == xs[1][0] && cat[0] == xs[0][0]);
        weft_k_split4(back, sizes, 3, cat, yd, axis);
        bool rt = true;
        for (int i = 0; i < 3; i++) rt &= same(xs[i], back[i], tot / 6 * sizes[i]);
        CHECKF(rt, "concat/split round trip on axis %d", axis);
        for (int i = 0; i < 3; i++) { free(xs[i]); free(back[i]); }
        free(cat);
    }
    free(x); free(y); free(y2);
}

int main(void)
{
    CHECK_OK(weft_pool_create(&g_pool, 3));
    if (!g_pool) return test_summary();
    test_layernorm();
    test_batchnorm();
    test_softmax();
    test_attention();
    test_embedding();
    test_dot_interact();
    test_lstm();
    test_activations();
    test_dropout();
    test_bce();
    test_xent_tok();
    test_layout();
    weft_pool_destroy(g_pool);
    return test_summary();
}
