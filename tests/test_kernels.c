/* test_kernels.c — every kernel of src/kernels against a plain reference
 * written here (double accumulation), every backward against central finite
 * differences of its forward, the optimizers against hand-computed steps,
 * and the bf16 update policies against their definitions.
 *
 * Shapes are small and odd so that the vector loops' tails, padding and
 * stride edge cases are all exercised. Buffers are exactly sized heap
 * allocations, so ASan catches any overrun, and scratch is filled with NaN
 * before each call so nothing may depend on its contents. */
#define TEST_RAND_SEED 0x9E3779B97F4A7C15ull
#include "test_rand.h"
#include "kernels/kernels.h"
#include "test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------- */

/* distinct multiples of 1/64 in random order, so a finite-difference step
 * of 1e-3 never changes which element of a max-pool window wins */
static void fill_distinct(float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++) p[i] = (float)i / 64.0f - (float)n / 128.0f;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = rnd_u32() % (uint32_t)(i + 1);
        float t = p[i]; p[i] = p[j]; p[j] = t;
    }
}
/* small integers, so that max-pool windows have ties */
static void fill_ties(float *p, int64_t n) { for (int64_t i = 0; i < n; i++) p[i] = (float)(rnd_u32() % 4); }

static double *dbuf(int64_t n) { double *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p); if (!p) abort(); return p; }




static double act_ref(double x, weft_act a)
{
    if (a == WEFT_ACT_RELU) return x > 0 ? x : 0;
    if (a == WEFT_ACT_GELU) return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    return x;
}

/* Central finite difference of L(p) = sum(f(p) * r) for every element of p
 * (step h), where f writes its output to y (ny elements). */
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

/* ---- GEMM ----------------------------------------------------------------------- */

static void test_gemm(void)
{
    const int M = 5, N = 7, K = 3;
    float *A = fbuf(M * K), *B = fbuf(K * N), *C = fbuf(M * N), *C0 = fbuf(M * N);
    double *want = dbuf(M * N);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int bi = 0; bi < 2; bi++) {
                float alpha = 1.5f, beta = bi ? 0.5f : 0.0f;
                fill(A, M * K); fill(B, K * N); fill(C0, M * N);
                memcpy(C, C0, sizeof(float) * M * N);
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double s = 0;
                        for (int k = 0; k < K; k++)
                            s += (double)(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
                        want[i * N + j] = alpha * s + beta * (double)C0[i * N + j];
                    }
                weft_k_gemm(ta, tb, M, N, K, alpha, A, B, beta, C);
                CHECK_CLOSE(C, want, M * N, 1e-5, 1e-5, "gemm ta=%d tb=%d beta=%g", ta, tb, beta);
            }
    /* K = 0: C = beta * C */
    fill(C0, M * N);
    memcpy(C, C0, sizeof(float) * M * N);
    for (int i = 0; i < M * N; i++) want[i] = 0.5 * C0[i];
    weft_k_gemm(false, false, M, N, 0, 1.0f, A, B, 0.5f, C);
    CHECK_CLOSE(C, want, M * N, 0, 1e-7, "gemm K=0");
    free(A); free(B); free(C); free(C0); free(want);
}

/* ---- linear ------------------------------------------------------------------------ */

typedef struct { float *y; const float *x, *w, *b; int M, K, N; } lin_ctx;
static void lin_fwd(void *p, float *y)
{
    lin_ctx *c = p;
    weft_k_linear_fwd(y, c->x, c->w, c->b, c->M, c->K, c->N, WEFT_ACT_NONE);
}

static void test_linear(void)
{
    const int M = 3, K = 19, N = 11;   /* K, N not multiples of the vector block */
    float *x = fbuf(M * K), *w = fbuf(N * K), *b = fbuf(N), *y = fbuf(M * N);
    float *dy = fbuf(M * N), *dx = fbuf(M * K), *dx0 = fbuf(M * K), *dw = fbuf(N * K), *db = fbuf(N);
    double *want = dbuf(M * K > N * K ? M * K : N * K), *fd = dbuf(N * K);
    fill(x, M * K); fill(w, N * K); fill(b, N); fill(dy, M * N);

    for (int a = 0; a < 3; a++)
        for (int hb = 0; hb < 2; hb++) {
            weft_act act = (weft_act)a;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = hb ? b[j] : 0.0;
                    for (int k = 0; k < K; k++) s += (double)x[i * K + k] * w[j * K + k];
                    want[i * N + j] = act_ref(s, act);
                }
            fill_nan(y, M * N);
            weft_k_linear_fwd(y, x, w, hb ? b : NULL, M, K, N, act);
            CHECK_CLOSE(y, want, M * N, 1e-5, 1e-5, "linear_fwd act=%d bias=%d", a, hb);
        }

    /* bwd data, beta 0 and 1 */
    for (int beta = 0; beta < 2; beta++) {
        fill(dx0, M * K);
        memcpy(dx, dx0, sizeof(float) * M * K);
        for (int i = 0; i < M; i++)
            for (int k = 0; k < K; k++) {
                double s = beta ? dx0[i * K + k] : 0.0;
                for (int j = 0; j < N; j++) s += (double)dy[i * N + j] * w[j * K + k];
                want[i * K + k] = s;
            }
        weft_k_linear_bwd_data(dx, dy, w, M, K, N, (float)beta);
        CHECK_CLOSE(dx, want, M * K, 1e-5, 1e-5, "linear_bwd_data beta=%d", beta);
    }
    /* bwd weight */
    for (int j = 0; j < N; j++)
        for (int k = 0; k < K; k++) {
            double s = 0;
            for (int i = 0; i < M; i++) s += (double)dy[i * N + j] * x[i * K + k];
            want[j * K + k] = s;
        }
    fill_nan(dw, N * K); fill_nan(db, N);
    weft_k_linear_bwd_weight(dw, db, dy, x, M, K, N);
    CHECK_CLOSE(dw, want, N * K, 1e-5, 1e-5, "linear_bwd_weight dw");
    for (int j = 0; j < N; j++) {
        double s = 0;
        for (int i = 0; i < M; i++) s += dy[i * N + j];
        want[j] = s;
    }
    CHECK_CLOSE(db, want, N, 1e-5, 1e-5, "linear_bwd_weight db");
    fill_nan(dw, N * K);
    weft_k_linear_bwd_weight(dw, NULL, dy, x, M, K, N);   /* db may be NULL */
    CHECK(isfinite(dw[0]) && isfinite(dw[N * K - 1]));

    /* finite differences of L = sum(y * dy) */
    lin_ctx c = { y, x, w, b, M, K, N };
    finite_diff(fd, x, M * K, y, M * N, dy, 1e-2f, lin_fwd, &c);
    weft_k_linear_bwd_data(dx, dy, w, M, K, N, 0.0f);
    CHECKF(test_rel_l2(dx, fd, M * K) < 1e-2, "linear dx vs finite differences: %.3g", test_rel_l2(dx, fd, M * K));
    finite_diff(fd, w, N * K, y, M * N, dy, 1e-2f, lin_fwd, &c);
    weft_k_linear_bwd_weight(dw, db, dy, x, M, K, N);
    CHECKF(test_rel_l2(dw, fd, N * K) < 1e-2, "linear dw vs finite differences: %.3g", test_rel_l2(dw, fd, N * K));
    finite_diff(fd, b, N, y, M * N, dy, 1e-2f, lin_fwd, &c);
    CHECKF(test_rel_l2(db, fd, N) < 1e-2, "linear db vs finite differences: %.3g", test_rel_l2(db, fd, N));

    free(x); free(w); free(b); free(y); free(dy); free(dx); free(dx0); free(dw); free(db);
    free(want); free(fd);
}

/* ---- elementwise ------------------------------------------------------------------------ */

typedef struct { const float *x; int64_t n; weft_act act; } act_ctx;
static void act_fwd_c(void *p, float *y) { act_ctx *c = p; weft_k_act_fwd(y, c->x, c->n, c->act); }

static void test_eltwise(void)
{
    const int64_t n = 37, M = 5, N = 13;
    float *a = fbuf(n), *b = fbuf(n), *y = fbuf(n), *dy = fbuf(n), *dx = fbuf(n);
    float *ym = fbuf(M * N), *bias = fbuf(N), *cs = fbuf(N);
    double *want = dbuf(M * N), *fd = dbuf(n);
    fill(a, n); fill(b, n); fill(dy, n);
    a[3] = 0.0f;   /* relu at exactly 0 */

    for (int64_t i = 0; i < n; i++) want[i] = (double)a[i] + b[i];
    weft_k_add(y, a, b, n);
    CHECK_CLOSE(y, want, n, 0, 1e-7, "add");
    memcpy(y, a, sizeof(float) * n);
    weft_k_add(y, y, b, n);                       /* in place */
    CHECK_CLOSE(y, want, n, 0, 1e-7, "add in place");

    fill(ym, M * N); fill(bias, N);
    for (int64_t i = 0; i < M * N; i++) want[i] = (double)ym[i] + bias[i % N];
    weft_k_add_bias(ym, bias, M, N);
    CHECK_CLOSE(ym, want, M * N, 0, 1e-7, "add_bias");

    for (int64_t j = 0; j < N; j++) {
        double s = 0;
        for (int64_t i = 0; i < M; i++) s += ym[i * N + j];
        want[j] = s;
    }
    weft_k_colsum(cs, ym, M, N);
    CHECK_CLOSE(cs, want, N, 1e-6, 1e-6, "colsum");

    for (int k = 0; k < 3; k++) {
        weft_act act = (weft_act)k;
        for (int64_t i = 0; i < n; i++) want[i] = act_ref(a[i], act);
        weft_k_act_fwd(y, a, n, act);
        CHECK_CLOSE(y, want, n, 1e-7, 1e-6, "act_fwd %d", k);
        memcpy(dx, a, sizeof(float) * n);
        weft_k_act_fwd(dx, dx, n, act);          /* in place */
        CHECK_CLOSE(dx, want, n, 1e-7, 1e-6, "act_fwd in place %d", k);

        /* backward: analytic in double */
        for (int64_t i = 0; i < n; i++) {
            double x = a[i], d;
            if (act == WEFT_ACT_RELU) d = act_ref(x, act) > 0 ? 1 : 0;
            else if (act == WEFT_ACT_GELU) d = 0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
            else d = 1;
            want[i] = dy[i] * d;
        }
        const float *saved = act == WEFT_ACT_RELU ? y : a;   /* relu: output; gelu: input */
        weft_k_act_bwd(dx, dy, saved, n, act);
        CHECK_CLOSE(dx, want, n, 1e-7, 1e-6, "act_bwd %d", k);
        memcpy(dx, dy, sizeof(float) * n);
        weft_k_act_bwd(dx, dx, saved, n, act);    /* in place */
        CHECK_CLOSE(dx, want, n, 1e-7, 1e-6, "act_bwd in place %d", k);
    }
    /* relu propagates NaN like PyTorch */
    float nan_in = NAN, nan_out = 0;
    weft_k_act_fwd(&nan_out, &nan_in, 1, WEFT_ACT_RELU);
    CHECK(isnan(nan_out));

    /* gelu backward against finite differences (smooth; relu is tested above) */
    act_ctx c = { a, n, WEFT_ACT_GELU };
    float *fx = fbuf(n);
    memcpy(fx, a, sizeof(float) * n);
    c.x = fx;
    finite_diff(fd, fx, n, y, n, dy, 1e-2f, act_fwd_c, &c);
    weft_k_act_bwd(dx, dy, a, n, WEFT_ACT_GELU);
    CHECKF(test_rel_l2(dx, fd, n) < 1e-2, "gelu bwd vs finite differences: %.3g", test_rel_l2(dx, fd, n));
    free(fx);
    free(a); free(b); free(y); free(dy); free(dx); free(ym); free(bias); free(cs); free(want); free(fd);
}

/* ---- convolution -------------------------------------------------------------------------- */

typedef struct { int N, C, H, W, OC, KH, KW, s, p; } conv_case;
static const conv_case conv_cases[] = {
    { 2, 3, 7, 6, 5, 3, 3, 1, 0 },
    { 2, 3, 7, 6, 5, 3, 3, 1, 1 },   /* same width: the shifted-plane path */
    { 2, 3, 7, 6, 5, 3, 3, 2, 0 },
    { 2, 3, 7, 6, 5, 3, 3, 2, 1 },
    { 3, 1, 9, 9, 4, 3, 3, 1, 1 },   /* first-layer shape: C = 1 */
    { 2, 2, 5, 6, 3, 5, 5, 1, 2 },   /* pad 2, same width */
    { 1, 3, 6, 7, 2, 1, 1, 1, 0 },   /* 1x1 */
    { 2, 2, 6, 5, 3, 3, 2, 1, 1 },   /* KH != KW */
    { 2, 2, 8, 7, 3, 3, 3, 3, 2 },   /* stride 3 */
    { 2, 2, 3, 3, 2, 3, 3, 1, 3 },   /* pad 3 > k/2: whole windows of padding */
};

static int64_t x_at(const conv_case *k, int n, int c, int h, int w)
{
    return (((int64_t)n * k->C + c) * k->H + h) * k->W + w;
}

typedef struct { const weft_conv_dims *d; const float *x, *w, *b; float *scratch; int64_t ns; } conv_ctx;
static void conv_fwd_c(void *p, float *y)
{
    conv_ctx *c = p;
    fill_nan(c->scratch, c->ns);
    weft_k_conv2d_fwd(y, c->x, c->w, c->b, c->d, WEFT_ACT_NONE, c->scratch);
}

static void test_conv_case(const conv_case *k)
{
    weft_conv_dims d = weft_conv_dims_make(k->N, k->C, k->H, k->W, k->OC, k->KH, k->KW, k->s, k->p);
    const int OH = (k->H + 2 * k->p - k->KH) / k->s + 1, OW = (k->W + 2 * k->p - k->KW) / k->s + 1;
    CHECKF(d.OH == OH && d.OW == OW, "conv dims %dx%d", d.OH, d.OW);
    const int64_t nx = (int64_t)k->N * k->C * k->H * k->W, nw = (int64_t)k->OC * k->C * k->KH * k->KW;
    const int64_t ny = (int64_t)k->N * k->OC * OH * OW, ns = weft_k_conv2d_scratch(&d);
    float *x = fbuf(nx), *w = fbuf(nw), *b = fbuf(k->OC), *y = fbuf(ny), *dy = fbuf(ny);
    float *dx = fbuf(nx), *dw = fbuf(nw), *db = fbuf(k->OC), *scratch = fbuf(ns);
    double *yref = dbuf(ny), *dxref = dbuf(nx), *dwref = dbuf(nw), *dbref = dbuf(k->OC);
    double *fd = dbuf(nx > nw ? nx : nw);
    fill(x, nx); fill(w, nw); fill(b, k->OC); fill(dy, ny);
    char name[96];
    snprintf(name, sizeof name, "conv N%d C%d %dx%d OC%d k%dx%d s%d p%d",
             k->N, k->C, k->H, k->W, k->OC, k->KH, k->KW, k->s, k->p);

    /* naive reference: forward, and both backwards as scatters */
    for (int n = 0; n < k->N; n++)
        for (int oc = 0; oc < k->OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    int64_t yi = (((int64_t)n * k->OC + oc) * OH + oh) * OW + ow;
                    double s = 0;
                    for (int c = 0; c < k->C; c++)
                        for (int kh = 0; kh < k->KH; kh++)
                            for (int kw = 0; kw < k->KW; kw++) {
                                int ih = oh * k->s - k->p + kh, iw = ow * k->s - k->p + kw;
                                if (ih < 0 || ih >= k->H || iw < 0 || iw >= k->W) continue;
                                int64_t wi = (((int64_t)oc * k->C + c) * k->KH + kh) * k->KW + kw;
                                int64_t xi = x_at(k, n, c, ih, iw);
                                s += (double)w[wi] * x[xi];
                                dxref[xi] += (double)w[wi] * dy[yi];
                                dwref[wi] += (double)x[xi] * dy[yi];
                            }
                    yref[yi] = s;
                    dbref[oc] += dy[yi];
                }

    for (int a = 0; a < 3; a++)
        for (int hb = 0; hb < 2; hb++) {
            weft_act act = (weft_act)a;
            double *want = dbuf(ny);
            for (int64_t i = 0; i < ny; i++) {
                int oc = (int)((i / ((int64_t)OH * OW)) % k->OC);
                want[i] = act_ref(yref[i] + (hb ? b[oc] : 0.0), act);
            }
            fill_nan(y, ny); fill_nan(scratch, ns);
            weft_k_conv2d_fwd(y, x, w, hb ? b : NULL, &d, act, scratch);
            CHECK_CLOSE(y, want, ny, 1e-5, 1e-5, "%s fwd act=%d bias=%d", name, a, hb);
            free(want);
        }

    fill_nan(dx, nx); fill_nan(scratch, ns);
    weft_k_conv2d_bwd_data(dx, dy, w, &d, scratch);
    CHECK_CLOSE(dx, dxref, nx, 1e-5, 1e-5, "%s bwd_data", name);
    fill_nan(dw, nw); fill_nan(db, k->OC); fill_nan(scratch, ns);
    weft_k_conv2d_bwd_weight(dw, db, dy, x, &d, scratch);
    CHECK_CLOSE(dw, dwref, nw, 1e-5, 1e-5, "%s bwd_weight dw", name);
    CHECK_CLOSE(db, dbref, k->OC, 1e-5, 1e-5, "%s bwd_weight db", name);
    fill_nan(dw, nw); fill_nan(scratch, ns);
    weft_k_conv2d_bwd_weight(dw, NULL, dy, x, &d, scratch);
    CHECK_CLOSE(dw, dwref, nw, 1e-5, 1e-5, "%s bwd_weight dw (db NULL)", name);

    /* finite differences of L = sum(conv(x) * dy) */
    conv_ctx c = { &d, x, w, b, scratch, ns };
    finite_diff(fd, x, nx, y, ny, dy, 1e-2f, conv_fwd_c, &c);
    double e = test_rel_l2(dx, fd, nx);
    CHECKF(e < 1e-2, "%s dx vs finite differences: %.3g", name, e);
    weft_k_conv2d_bwd_weight(dw, db, dy, x, &d, scratch);
    finite_diff(fd, w, nw, y, ny, dy, 1e-2f, conv_fwd_c, &c);
    e = test_rel_l2(dw, fd, nw);
    CHECKF(e < 1e-2, "%s dw vs finite differences: %.3g", name, e);
    finite_diff(fd, b, k->OC, y, ny, dy, 1e-2f, conv_fwd_c, &c);
    e = test_rel_l2(db, fd, k->OC);
    CHECKF(e < 1e-2, "%s db vs finite differences: %.3g", name, e);

    free(x); free(w); free(b); free(y); free(dy); free(dx); free(dw); free(db); free(scratch);
    free(yref); free(dxref); free(dwref); free(dbref); free(fd);
}

/* The *_pool variants split the layout passes across threads: results must
 * be bit-identical to the plain kernels. Shapes big enough to be split. */
static void test_conv_pool(void)
{
    static const conv_case cases[] = {
        { 8, 4, 16, 16, 6, 3, 3, 1, 1 },   /* shifted-plane path */
        { 8, 4, 16, 15, 6, 3, 3, 2, 0 },   /* general path */
        { 16, 1, 28, 28, 8, 3, 3, 1, 1 },  /* C = 1 */
    };
    weft_pool *pool = NULL;
    CHECK_OK(weft_pool_create(&pool, 3));
    if (!pool) return;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const conv_case *k = &cases[ci];
        weft_conv_dims d = weft_conv_dims_make(k->N, k->C, k->H, k->W, k->OC, k->KH, k->KW, k->s, k->p);
        const int64_t nx = (int64_t)k->N * k->C * k->H * k->W, nw = (int64_t)k->OC * k->C * k->KH * k->KW;
        const int64_t ny = (int64_t)k->N * k->OC * d.OH * d.OW, ns = weft_k_conv2d_scratch(&d);
        float *x = fbuf(nx), *w = fbuf(nw), *b = fbuf(k->OC), *dy = fbuf(ny), *s = fbuf(ns);
        float *y1 = fbuf(ny), *y2 = fbuf(ny), *dx1 = fbuf(nx), *dx2 = fbuf(nx);
        float *dw1 = fbuf(nw), *dw2 = fbuf(nw), *db1 = fbuf(k->OC), *db2 = fbuf(k->OC);
        fill(x, nx); fill(w, nw); fill(b, k->OC); fill(dy, ny);
        fill_nan(s, ns);
        weft_k_conv2d_fwd(y1, x, w, b, &d, WEFT_ACT_RELU, s);
        fill_nan(s, ns);
        weft_k_conv2d_fwd_pool(pool, y2, x, w, b, &d, WEFT_ACT_RELU, s);
        CHECKF(memcmp(y1, y2, sizeof(float) * ny) == 0, "conv pool fwd case %zu", ci);
        fill_nan(s, ns);
        weft_k_conv2d_bwd_data(dx1, dy, w, &d, s);
        fill_nan(s, ns);
        weft_k_conv2d_bwd_data_pool(pool, dx2, dy, w, &d, s);
        CHECKF(memcmp(dx1, dx2, sizeof(float) * nx) == 0, "conv pool bwd_data case %zu", ci);
        fill_nan(s, ns);
        weft_k_conv2d_bwd_weight(dw1, db1, dy, x, &d, s);
        fill_nan(s, ns);
        weft_k_conv2d_bwd_weight_pool(pool, dw2, db2, dy, x, &d, s);
        CHECKF(memcmp(dw1, dw2, sizeof(float) * nw) == 0 && memcmp(db1, db2, sizeof(float) * k->OC) == 0,
               "conv pool bwd_weight case %zu", ci);
        free(x); free(w); free(b); free(dy); free(s); free(y1); free(y2); free(dx1); free(dx2);
        free(dw1); free(dw2); free(db1); free(db2);
    }
    weft_pool_destroy(pool);
}

static void test_conv(void)
{
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) test_conv_case(&conv_cases[i]);
    test_conv_pool();
    /* a kernel larger than the padded input gives an empty output */
    weft_conv_dims d = weft_conv_dims_make(1, 1, 2, 2, 1, 5, 5, 1, 1);
    CHECK(d.OH == 0 && d.OW == 0 && weft_k_conv2d_scratch(&d) == 0);
}

/* ---- max pool -------------------------------------------------------------------------------- */

/* nans: how many inputs to set to NaN (PyTorch: a NaN wins its window; the
 * scan keeps the last NaN). The 2x2 path works on blocks of 4 outputs, so
 * its cases have rows of more than 4 outputs, with a ragged tail. */
typedef struct { int N, C, H, W, k, s; bool ties; int nans; } pool_case;
static const pool_case pool_cases[] = {
    { 2, 3, 7, 14, 2, 2, true, 0 },   /* the 2x2 path, odd H: last row unused */
    { 2, 3, 6, 19, 2, 2, false, 0 },  /* odd W: last column unused */
    { 2, 3, 8, 18, 2, 2, true, 9 },   /* NaNs, in vector blocks and tails */
    { 2, 3, 7, 6, 3, 2, true, 0 },    /* general, overlapping windows */
    { 1, 2, 7, 7, 3, 1, true, 4 },
    { 1, 2, 5, 6, 2, 1, false, 0 },
    { 1, 1, 9, 8, 3, 3, true, 0 },
};

/* Same value, or both NaN. */
static bool same_or_nan(const float *got, const double *want, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!(got[i] == want[i] || (isnan(got[i]) && isnan(want[i])))) return false;
    return true;
}

typedef struct { const pool_case *k; const float *x; } pool_ctx;
static void pool_fwd_c(void *p, float *y)
{
    pool_ctx *c = p;
    weft_k_maxpool_fwd(y, c->x, c->k->N, c->k->C, c->k->H, c->k->W, c->k->k, c->k->s);
}

static void test_pool_case(const pool_case *k)
{
    const int OH = (k->H - k->k) / k->s + 1, OW = (k->W - k->k) / k->s + 1;
    const int64_t nx = (int64_t)k->N * k->C * k->H * k->W, ny = (int64_t)k->N * k->C * OH * OW;
    float *x = fbuf(nx), *y = fbuf(ny), *dy = fbuf(ny), *dx = fbuf(nx);
    double *yref = dbuf(ny), *dxref = dbuf(nx), *fd = dbuf(nx);
    if (k->ties) fill_ties(x, nx); else fill_distinct(x, nx);
    for (int i = 0; i < k->nans; i++) x[rnd_u32() % (uint32_t)nx] = NAN;
    fill(dy, ny);
    char name[64];
    snprintf(name, sizeof name, "maxpool %dx%d k%d s%d%s%s", k->H, k->W, k->k, k->s,
             k->ties ? " ties" : "", k->nans ? " nan" : "");

    for (int pl = 0; pl < k->N * k->C; pl++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                /* PyTorch's scan: the first maximal element, or the last NaN */
                int64_t best = ((int64_t)pl * k->H + oh * k->s) * k->W + ow * k->s;
                double bv = -INFINITY;
                for (int i = 0; i < k->k; i++)
                    for (int j = 0; j < k->k; j++) {
                        int64_t q = ((int64_t)pl * k->H + oh * k->s + i) * k->W + ow * k->s + j;
                        if (x[q] > bv || isnan(x[q])) { best = q; bv = x[q]; }
                    }
                int64_t yi = ((int64_t)pl * OH + oh) * OW + ow;
                yref[yi] = bv;
                dxref[best] += dy[yi];
            }
    fill_nan(y, ny);
    weft_k_maxpool_fwd(y, x, k->N, k->C, k->H, k->W, k->k, k->s);
    CHECKF(same_or_nan(y, yref, ny), "%s fwd", name);
    fill_nan(dx, nx);
    weft_k_maxpool_bwd(dx, dy, x, k->N, k->C, k->H, k->W, k->k, k->s);
    CHECK_CLOSE(dx, dxref, nx, 1e-7, 1e-6, "%s bwd", name);
    if (!k->ties) {
        float *xc = fbuf(nx);
        memcpy(xc, x, sizeof(float) * nx);
        pool_ctx c = { k, xc };
        finite_diff(fd, xc, nx, y, ny, dy, 1e-3f, pool_fwd_c, &c);
        double e = test_rel_l2(dx, fd, nx);
        CHECKF(e < 1e-2, "%s bwd vs finite differences: %.3g", name, e);
        free(xc);
    }
    free(x); free(y); free(dy); free(dx); free(yref); free(dxref); free(fd);
}

static void test_pool(void)
{
    for (size_t i = 0; i < sizeof pool_cases / sizeof pool_cases[0]; i++) test_pool_case(&pool_cases[i]);
    /* NaN wins a window, as in PyTorch; its gradient goes to the NaN */
    for (int gen = 0; gen < 2; gen++) {
        int k = 2, s = gen ? 1 : 2;     /* gen: the general path */
        int OH = (2 - k) / s + 1;
        float x[4] = { 1.0f, NAN, 3.0f, 2.0f }, y[1] = { 0 }, dy[1] = { 5.0f }, dx[4];
        weft_k_maxpool_fwd(y, x, 1, 1, 2, 2, k, s);
        weft_k_maxpool_bwd(dx, dy, x, 1, 1, 2, 2, k, s);
        CHECKF(OH == 1 && isnan(y[0]) && dx[1] == 5.0f && dx[0] == 0 && dx[2] == 0 && dx[3] == 0,
               "maxpool NaN (general=%d)", gen);
    }
}

/* ---- loss ---------------------------------------------------------------------------------------- */

typedef struct { const float *logits; const int32_t *labels; int M, C; } xent_ctx;
static void xent_fwd_c(void *p, float *y)
{
    xent_ctx *c = p;
    y[0] = weft_k_xent_fwd(c->logits, c->labels, c->M, c->C);
}

static void test_xent(void)
{
    const int M = 5, C = 7;
    float *lg = fbuf(M * C), *dl = fbuf(M * C);
    double *want = dbuf(M * C), *fd = dbuf(M * C);
    int32_t labels[5] = { 0, 6, 3, 3, 1 };
    fill(lg, M * C);
    for (int i = 0; i < M * C; i++) lg[i] *= 4.0f;
    double loss = 0;
    for (int r = 0; r < M; r++) {
        double s = 0;
        for (int j = 0; j < C; j++) s += exp((double)lg[r * C + j]);
        loss += log(s) - lg[r * C + labels[r]];
        for (int j = 0; j < C; j++)
            want[r * C + j] = 0.7 * (exp((double)lg[r * C + j]) / s - (j == labels[r])) / M;
    }
    loss /= M;
    CHECK_NEAR(weft_k_xent_fwd(lg, labels, M, C), loss, 1e-6 * (1 + loss));
    weft_k_xent_bwd(dl, lg, labels, M, C, 0.7f);
    CHECK_CLOSE(dl, want, M * C, 1e-8, 1e-5, "xent_bwd");

    float one = 1.0f, L;
    xent_ctx c = { lg, labels, M, C };
    finite_diff(fd, lg, M * C, &L, 1, &one, 1e-2f, xent_fwd_c, &c);
    weft_k_xent_bwd(dl, lg, labels, M, C, 1.0f);
    CHECKF(test_rel_l2(dl, fd, M * C) < 1e-2, "xent vs finite differences: %.3g", test_rel_l2(dl, fd, M * C));

    /* huge logits: no overflow */
    float big[3] = { 1000.0f, 990.0f, -1000.0f }, dbig[3];
    int32_t lb = 1;
    float lbig = weft_k_xent_fwd(big, &lb, 1, 3);
    CHECK_NEAR(lbig, 10.0 + log1p(exp(-10.0)), 1e-4);
    weft_k_xent_bwd(dbig, big, &lb, 1, 3, 1.0f);
    CHECK(isfinite(dbig[0]) && isfinite(dbig[1]) && dbig[2] == 0.0f);
    CHECK_NEAR(dbig[0] + dbig[1] + dbig[2], 0.0, 1e-6);

    /* a label outside [0, C): NaN, not a read outside the row */
    int32_t bad = 3;
    CHECK(isnan(weft_k_xent_fwd(big, &bad, 1, 3)));
    weft_k_xent_bwd(dbig, big, &bad, 1, 3, 1.0f);
    CHECK(isnan(dbig[0]) && isnan(dbig[2]));
    free(lg); free(dl); free(want); free(fd);
}

/* ---- optimizers, fp32 ---------------------------------------------------------------------------- */

static void test_sgd_f32(void)
{
    /* By hand: w = 1, g = 0.5, lr 0.1, momentum 0.9, wd 0.01.
     * step 1: g' = 0.51, m = 0.51, w = 1 - 0.051 = 0.949
     * step 2: g' = 0.5 + 0.00949 = 0.50949, m = 0.459 + 0.50949 = 0.96849,
     *         w = 0.949 - 0.096849 = 0.852151 */
    weft_sgd_hp hp = { 0.1f, 0.9f, 0.01f };
    float w = 1.0f, m = 123.0f, g = 0.5f;   /* m's initial value must be ignored */
    weft_k_sgd_f32(&w, &m, &g, 0, 1, &hp, true, NULL);
    CHECK_NEAR(m, 0.51, 1e-7);
    CHECK_NEAR(w, 0.949, 1e-7);
    weft_k_sgd_f32(&w, &m, &g, 0, 1, &hp, false, NULL);
    CHECK_NEAR(m, 0.96849, 1e-6);
    CHECK_NEAR(w, 0.852151, 1e-6);

    /* no momentum, no decay: plain w -= lr*g; m may be NULL */
    weft_sgd_hp plain = { 0.5f, 0.0f, 0.0f };
    float w2 = 2.0f, g2 = -1.0f;
    weft_k_sgd_f32(&w2, NULL, &g2, 0, 1, &plain, true, NULL);
    CHECK_NEAR(w2, 2.5, 0);

    /* vectors against a double reference over a few steps, split in two calls */
    enum { n = 29 };
    float wv[n], mv[n], gv[n];
    double wr[n], mr[n];
    fill(wv, n);
    for (int i = 0; i < n; i++) { wr[i] = wv[i]; mr[i] = 0; }
    for (int t = 1; t <= 4; t++) {
        fill(gv, n);
        weft_k_sgd_f32(wv, mv, gv, 0, 13, &hp, t == 1, NULL);
        weft_k_sgd_f32(wv, mv, gv, 13, n, &hp, t == 1, NULL);
        for (int i = 0; i < n; i++) {
            double gg = gv[i] + (double)hp.weight_decay * wr[i];
            mr[i] = t == 1 ? gg : (double)hp.momentum * mr[i] + gg;
            wr[i] -= (double)hp.lr * mr[i];
        }
    }
    CHECK_CLOSE(wv, wr, n, 1e-6, 1e-6, "sgd f32 4 steps");
}

static void test_adamw_f32(void)
{
    /* By hand: w = 1, g = 0.5, lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.01.
     * step 1: m = 0.05, v = 0.00025; m^ = 0.5, v^ = 0.25, sqrt 0.5;
     *         w = 1*(1 - 0.001) - 0.1 * 0.5/(0.5 + 1e-8) = 0.899000002 */
    weft_adamw_hp hp = { 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f };
    float w = 1.0f, m = 0.0f, v = 0.0f, g = 0.5f;
    weft_k_adamw_f32(&w, &m, &v, &g, 0, 1, &hp, 1, NULL);
    /* tolerances: the betas are floats (1 - 0.999f = 0.00099998713...) */
    CHECK_NEAR(m, 0.05, 1e-7);
    CHECK_NEAR(v, 0.00025, 5e-9);
    CHECK_NEAR(w, 0.899000002, 1e-7);
    /* step 2, g = -0.25: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225
     * m^ = 0.02/0.19 = 0.105263158, v^ = 0.00031225/0.001999 = 0.156203102, sqrt 0.395225382
     * w = 0.899000002*(0.999) - 0.1*0.105263158/(0.395225382 + 1e-8) = 0.871476 */
    g = -0.25f;
    weft_k_adamw_f32(&w, &m, &v, &g, 0, 1, &hp, 2, NULL);
    CHECK_NEAR(m, 0.02, 1e-7);
    CHECK_NEAR(v, 0.00031225, 1e-8);
    CHECK_NEAR(w, 0.899000002 * 0.999 - 0.1 * (0.02 / 0.19) / (sqrt(0.00031225 / (1 - 0.999 * 0.999)) + 1e-8), 2e-7);

    /* vectors against a double reference over several steps, split in two calls */
    enum { n = 29 };
    float wv[n], mv[n] = { 0 }, vv[n] = { 0 }, gv[n];
    double wr[n], mr[n] = { 0 }, vr[n] = { 0 };
    fill(wv, n);
    for (int i = 0; i < n; i++) wr[i] = wv[i];
    for (int t = 1; t <= 5; t++) {
        fill(gv, n);
        weft_k_adamw_f32(wv, mv, vv, gv, 0, 11, &hp, t, NULL);
        weft_k_adamw_f32(wv, mv, vv, gv, 11, n, &hp, t, NULL);
        double b1 = hp.beta1, b2 = hp.beta2;
        for (int i = 0; i < n; i++) {
            wr[i] *= 1 - (double)hp.lr * hp.weight_decay;
            mr[i] = b1 * mr[i] + (1 - b1) * gv[i];
            vr[i] = b2 * vr[i] + (1 - b2) * gv[i] * gv[i];
            double mh = mr[i] / (1 - pow(b1, t)), vh = vr[i] / (1 - pow(b2, t));
            wr[i] -= hp.lr * mh / (sqrt(vh) + hp.eps);
        }
    }
    CHECK_CLOSE(wv, wr, n, 1e-6, 1e-5, "adamw f32 5 steps");
}

/* ---- optimizers, bf16 ----------------------------------------------------------------------------- */

static void to_bf16(weft_bf16 *o, const float *in, int64_t n) { for (int64_t i = 0; i < n; i++) o[i] = weft_bf16_from_f32(in[i]); }
static void to_f32(float *o, const weft_bf16 *in, int64_t n) { for (int64_t i = 0; i < n; i++) o[i] = weft_bf16_to_f32(in[i]); }

static bool same_bits(const weft_bf16 *a, const weft_bf16 *b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* bf16 nearest = round-to-nearest of the fp32 path run on the widened inputs,
 * for one step; n spans several chunks and a ragged tail. */
static void test_bf16_nearest(void)
{
    enum { n = 1003 };
    static float f[4][n], wf[n], mf[n], vf[n], gf[n];
    static weft_bf16 w[n], m[n], v[n], g[n], want[n];
    weft_rng_key key = weft_rng_key_make(1, 2, 3);
    for (int k = 0; k < 4; k++) fill(f[k], n);
    for (int i = 0; i < n; i++) f[2][i] = fabsf(f[2][i]) * 1e-2f;    /* v >= 0 */

    weft_sgd_hp sh = { 0.05f, 0.9f, 0.01f };
    for (int first = 0; first < 2; first++) {
        to_bf16(w, f[0], n); to_bf16(m, f[1], n); to_bf16(g, f[3], n);
        to_f32(wf, w, n); to_f32(mf, m, n); to_f32(gf, g, n);
        weft_k_sgd_bf16(w, m, NULL, g, 0, n, &sh, first, WEFT_ROUND_NEAREST, key, NULL);
        weft_k_sgd_f32(wf, mf, gf, 0, n, &sh, first, NULL);
        to_bf16(want, wf, n);
        CHECKF(same_bits(w, want, n), "sgd bf16 nearest w == rn(fp32 path), first=%d", first);
        to_bf16(want, mf, n);
        CHECKF(same_bits(m, want, n), "sgd bf16 nearest m == rn(fp32 path), first=%d", first);
    }
    weft_adamw_hp ah = { 1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f };
    to_bf16(w, f[0], n); to_bf16(m, f[1], n); to_bf16(v, f[2], n); to_bf16(g, f[3], n);
    to_f32(wf, w, n); to_f32(mf, m, n); to_f32(vf, v, n); to_f32(gf, g, n);
    weft_k_adamw_bf16(w, m, v, NULL, g, 0, n, &ah, 7, WEFT_ROUND_NEAREST, key, NULL);
    weft_k_adamw_f32(wf, mf, vf, gf, 0, n, &ah, 7, NULL);
    to_bf16(want, wf, n);
    CHECK(same_bits(w, want, n));
    to_bf16(want, mf, n);
    CHECK(same_bits(m, want, n));
    to_bf16(want, vf, n);
    CHECK(same_bits(v, want, n));
}

/* Stochastic rounding: the bits depend on the element index only, so any
 * split of [0, n) gives the same result; each result is one of the two bf16
 * neighbours of the exact fp32 value; and the mean over many elements
 * follows the fp32 value. */
static void test_bf16_stochastic(void)
{
    enum { n = 1000, half = 333 };
    static float f[4][n];
    static weft_bf16 w1[n], m1[n], v1[n], w2[n], m2[n], v2[n], g[n];
    weft_rng_key key = weft_rng_key_make(42, 7, 9);
    for (int k = 0; k < 4; k++) fill(f[k], n);
    for (int i = 0; i < n; i++) f[2][i] = fabsf(f[2][i]) * 1e-2f;
    to_bf16(g, f[3], n);

    weft_sgd_hp sh = { 0.05f, 0.9f, 0.01f };
    to_bf16(w1, f[0], n); to_bf16(m1, f[1], n);
    memcpy(w2, w1, sizeof w1); memcpy(m2, m1, sizeof m1);
    weft_k_sgd_bf16(w1, m1, NULL, g, 0, n, &sh, false, WEFT_ROUND_STOCHASTIC, key, NULL);
    weft_k_sgd_bf16(w2, m2, NULL, g, 0, half, &sh, false, WEFT_ROUND_STOCHASTIC, key, NULL);
    weft_k_sgd_bf16(w2, m2, NULL, g, half, n, &sh, false, WEFT_ROUND_STOCHASTIC, key, NULL);
    CHECK(same_bits(w1, w2, n) && same_bits(m1, m2, n));

    weft_adamw_hp ah = { 1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f };
    to_bf16(w1, f[0], n); to_bf16(m1, f[1], n); to_bf16(v1, f[2], n);
    memcpy(w2, w1, sizeof w1); memcpy(m2, m1, sizeof m1); memcpy(v2, v1, sizeof v1);
    weft_k_adamw_bf16(w1, m1, v1, NULL, g, 0, n, &ah, 3, WEFT_ROUND_STOCHASTIC, key, NULL);
    weft_k_adamw_bf16(w2, m2, v2, NULL, g, 0, half, &ah, 3, WEFT_ROUND_STOCHASTIC, key, NULL);
    weft_k_adamw_bf16(w2, m2, v2, NULL, g, half, n, &ah, 3, WEFT_ROUND_STOCHASTIC, key, NULL);
    CHECK(same_bits(w1, w2, n) && same_bits(m1, m2, n) && same_bits(v1, v2, n));

    /* neighbours: w - delta computed in fp32 lies between down and up */
    weft_sgd_hp plain = { 1e-3f, 0.0f, 0.0f };
    to_bf16(w1, f[0], n);
    memcpy(w2, w1, sizeof w1);
    weft_k_sgd_bf16(w1, NULL, NULL, g, 0, n, &plain, true, WEFT_ROUND_STOCHASTIC, key, NULL);
    int bad = 0, moved = 0;
    for (int i = 0; i < n; i++) {
        float exact = weft_bf16_to_f32(w2[i]) - plain.lr * weft_bf16_to_f32(g[i]);
        union { float f; uint32_t u; } e = { exact };
        weft_bf16 down = (weft_bf16)(e.u >> 16), up = (weft_bf16)(down + 1);
        if (w1[i] != down && !(w1[i] == up && (e.u & 0xFFFF))) bad++;
        if (w1[i] != w2[i]) moved++;
    }
    CHECKF(bad == 0, "sr: %d results not a neighbour of the exact value", bad);
    CHECKF(moved > 0, "sr: no weight moved");

    /* unbiased: 4096 weights at 1.0, 200 steps of 1e-4 each (an eighth of
     * the half-ulp at 1.0, so nearest would never move). Mean ~ 0.98. */
    enum { nw = 4096 };
    static weft_bf16 ws[nw], gs[nw];
    for (int i = 0; i < nw; i++) { ws[i] = weft_bf16_from_f32(1.0f); gs[i] = weft_bf16_from_f32(1.0f); }
    weft_sgd_hp tiny = { 1e-4f, 0.0f, 0.0f };
    for (int step = 0; step < 200; step++)
        weft_k_sgd_bf16(ws, NULL, NULL, gs, 0, nw, &tiny, true, WEFT_ROUND_STOCHASTIC,
                        weft_rng_key_make(5, (uint64_t)step, 1), NULL);
    double mean = 0;
    for (int i = 0; i < nw; i++) mean += weft_bf16_to_f32(ws[i]);
    mean /= nw;
    double ref = 1.0 - 200 * (double)1e-4f;
    CHECK_NEAR(mean, ref, 1e-3);
}

/* Kahan: many updates each below half an ulp of the weight (1/16 to 1/8 of
 * an ulp). Nearest never moves the weight; Kahan tracks an fp64 reference to
 * within half an ulp. (The compensation is itself bf16, so with updates far
 * smaller than this, ~1/100 ulp, its own rounding drifts by a few percent of
 * the total update.) */
static void test_bf16_kahan(void)
{
    enum { n = 19, steps = 1000 };
    weft_bf16 wk[n], ck[n], wn[n], g[n];
    double ref[n];
    for (int i = 0; i < n; i++) {
        float w0 = 1.0f + 0.25f * (float)i / n;
        wk[i] = wn[i] = weft_bf16_from_f32(w0);
        ck[i] = 0;
        g[i] = weft_bf16_from_f32(0.5f + 0.03f * (float)i);
        ref[i] = weft_bf16_to_f32(wk[i]);
    }
    weft_sgd_hp hp = { 1e-3f, 0.0f, 0.0f };
    weft_rng_key key = { 0, 0 };
    for (int s = 0; s < steps; s++) {
        weft_k_sgd_bf16(wk, NULL, ck, g, 0, n, &hp, s == 0, WEFT_ROUND_KAHAN, key, NULL);
        weft_k_sgd_bf16(wn, NULL, NULL, g, 0, n, &hp, s == 0, WEFT_ROUND_NEAREST, key, NULL);
        for (int i = 0; i < n; i++) {
            /* the unit's delta rounded to bf16, as Kahan receives it */
            float delta = hp.lr * weft_bf16_to_f32(g[i]);
            ref[i] -= weft_bf16_to_f32(weft_bf16_from_f32(delta));
        }
    }
    double worst_k = 0, least_n = 1e9;
    for (int i = 0; i < n; i++) {
        double ek = fabs(weft_bf16_to_f32(wk[i]) + weft_bf16_to_f32(ck[i]) - ref[i]);
        double en = fabs(weft_bf16_to_f32(wn[i]) - ref[i]);
        if (ek > worst_k) worst_k = ek;
        if (en < least_n) least_n = en;
    }
    /* the total update is 0.5 to 1.07; the ulp of bf16 in [0.25, 0.5) is
     * 2^-9, in [1, 2) 2^-7 */
    CHECKF(worst_k < 2.5e-3, "kahan drift %.3g", worst_k);
    CHECKF(least_n > 0.4, "nearest moved (least error %.3g)", least_n);

    /* AdamW through Kahan: one step equals weft_bf16_kahan_sub with rn(delta) */
    weft_adamw_hp ah = { 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f };
    weft_bf16 w[n], c[n], m[n], v[n], w2[n], c2[n];
    float wf[n], mf[n], vf[n], gf[n];
    for (int i = 0; i < n; i++) {
        w[i] = weft_bf16_from_f32(rnd()); c[i] = weft_bf16_from_f32(rnd() * 1e-3f);
        m[i] = weft_bf16_from_f32(rnd() * 0.1f); v[i] = weft_bf16_from_f32(fabsf(rnd()) * 1e-2f);
        w2[i] = w[i]; c2[i] = c[i];
        wf[i] = weft_bf16_to_f32(w[i]); mf[i] = weft_bf16_to_f32(m[i]);
        vf[i] = weft_bf16_to_f32(v[i]); gf[i] = weft_bf16_to_f32(g[i]);
    }
    weft_k_adamw_bf16(w, m, v, c, g, 0, n, &ah, 4, WEFT_ROUND_KAHAN, key, NULL);
    float wnew[n];
    memcpy(wnew, wf, sizeof wf);
    weft_k_adamw_f32(wnew, mf, vf, gf, 0, n, &ah, 4, NULL);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        weft_bf16_kahan_sub(&w2[i], &c2[i], weft_bf16_from_f32(wf[i] - wnew[i]));
        if (w2[i] != w[i] || c2[i] != c[i]) bad++;
    }
    /* wf - wnew re-derives delta from the fp32 path; it can differ from
     * delta in its last fp32 bit, which rn to bf16 almost never sees. */
    CHECKF(bad <= 1, "adamw kahan: %d of %d differ", bad, n);

    /* the vectorised chunk is weft_bf16_kahan_sub, bit for bit: plain SGD,
     * whose delta is lr*g exactly as the test computes it; 2500 elements
     * (chunk tails), compensations of every size, some deltas cancelling */
    enum { N = 2500 };
    static weft_bf16 kw[N], kc[N], kg[N], sw[N], sc[N];
    weft_sgd_hp sp = { 0.01f, 0.0f, 0.0f };
    for (int i = 0; i < N; i++) {
        kw[i] = sw[i] = weft_bf16_from_f32(rnd() * 4.0f);
        kc[i] = sc[i] = weft_bf16_from_f32(rnd() * 1e-2f * (float)(i % 4));
        kg[i] = weft_bf16_from_f32(rnd() * (i % 3 ? 1.0f : 1e-4f));
    }
    for (int step = 0; step < 3; step++) {
        weft_k_sgd_bf16(kw, NULL, kc, kg, 0, N, &sp, true, WEFT_ROUND_KAHAN, key, NULL);
        for (int i = 0; i < N; i++)
            weft_bf16_kahan_sub(&sw[i], &sc[i], weft_bf16_from_f32(sp.lr * weft_bf16_to_f32(kg[i])));
    }
    CHECK(!memcmp(kw, sw, sizeof kw) && !memcmp(kc, sc, sizeof kc));
}

/* Update counting (weft_update_count): the definitions on single elements,
 * and counting never changes a result. */
static void count_one(weft_round r, float w0, float lr, float g0, weft_update_count *c)
{
    weft_bf16 w = weft_bf16_from_f32(w0), comp = 0, g = weft_bf16_from_f32(g0);
    weft_sgd_hp hp = { lr, 0.0f, 0.0f };
    memset(c, 0, sizeof *c);
    weft_k_sgd_bf16(&w, NULL, &comp, &g, 0, 1, &hp, true, r, (weft_rng_key){ 1, 2 }, c);
}

static void test_update_count(void)
{
    weft_update_count c;
    /* nearest: 1e-3 is under half the ulp of 1.0 (2^-8): cancelled */
    count_one(WEFT_ROUND_NEAREST, 1.0f, 1e-3f, 1.0f, &c);
    CHECK(c.nonzero == 1 && c.unchanged == 1 && c.cancelled == 1);
    count_one(WEFT_ROUND_NEAREST, 1.0f, 1e-2f, 1.0f, &c);   /* over it: moves */
    CHECK(c.nonzero == 1 && c.unchanged == 0 && c.cancelled == 0);
    /* a zero gradient is no update */
    count_one(WEFT_ROUND_NEAREST, 1.0f, 1e-3f, 0.0f, &c);
    CHECK(c.nonzero == 0 && c.unchanged == 0 && c.cancelled == 0);
    /* stochastic: 1e-3 may leave the weight, but 1 - 1e-3 != 1 in fp32, so
     * the update is not lost; 1e-9 is lost even in fp32 */
    count_one(WEFT_ROUND_STOCHASTIC, 1.0f, 1e-3f, 1.0f, &c);
    CHECK(c.nonzero == 1 && c.cancelled == 0);
    count_one(WEFT_ROUND_STOCHASTIC, 1.0f, 1e-9f, 1.0f, &c);
    CHECK(c.nonzero == 1 && c.unchanged == 1 && c.cancelled == 1);
    /* Kahan: the weight stays but the compensation takes the update */
    count_one(WEFT_ROUND_KAHAN, 1.0f, 1e-3f, 1.0f, &c);
    CHECK(c.nonzero == 1 && c.unchanged == 1 && c.cancelled == 0);
    /* fp32: lost only below half an fp32 ulp */
    float w = 1.0f, g = 1.0f;
    weft_sgd_hp hp = { 1e-9f, 0.0f, 0.0f };
    memset(&c, 0, sizeof c);
    weft_k_sgd_f32(&w, NULL, &g, 0, 1, &hp, true, &c);
    CHECK(c.nonzero == 1 && c.cancelled == 1 && w == 1.0f);
    hp.lr = 1e-3f;
    weft_k_sgd_f32(&w, NULL, &g, 0, 1, &hp, true, &c);
    CHECK(c.nonzero == 2 && c.cancelled == 1 && w != 1.0f);

    /* counting changes nothing: every policy, SGD with momentum and AdamW,
     * 3000 elements (chunk tails), against the same update uncounted */
    enum { n = 3000 };
    static weft_bf16 wa[n], wb[n], ma[n], mb[n], va[n], vb[n], ca[n], cb[n], gb[n];
    static float fa[n], fb[n], fma[n], fmb[n], fva[n], fvb[n], gf[n];
    weft_sgd_hp sh = { 0.05f, 0.9f, 1e-4f };
    weft_adamw_hp ah = { 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f };
    for (int r = 0; r < 3; r++)
        for (int opt = 0; opt < 2; opt++) {
            for (int i = 0; i < n; i++) {
                wa[i] = wb[i] = weft_bf16_from_f32(rnd());
                ma[i] = mb[i] = weft_bf16_from_f32(rnd() * 0.1f);
                va[i] = vb[i] = weft_bf16_from_f32(fabsf(rnd()) * 0.01f);
                ca[i] = cb[i] = 0;
                gb[i] = weft_bf16_from_f32(i % 7 ? rnd() * (i % 3 ? 1e-3f : 1.0f) : 0.0f);
            }
            weft_update_count k = { 0 };
            weft_rng_key key = { 7, (uint64_t)r };
            for (int step = 1; step <= 3; step++) {
                if (opt == 0) {
                    weft_k_sgd_bf16(wa, ma, ca, gb, 0, n, &sh, step == 1, (weft_round)r, key, NULL);
                    weft_k_sgd_bf16(wb, mb, cb, gb, 0, n, &sh, step == 1, (weft_round)r, key, &k);
                } else {
                    weft_k_adamw_bf16(wa, ma, va, ca, gb, 0, n, &ah, step, (weft_round)r, key, NULL);
                    weft_k_adamw_bf16(wb, mb, vb, cb, gb, 0, n, &ah, step, (weft_round)r, key, &k);
                }
            }
            CHECKF(!memcmp(wa, wb, sizeof wa) && !memcmp(ma, mb, sizeof ma) && !memcmp(va, vb, sizeof va) &&
                   !memcmp(ca, cb, sizeof ca), "counted bf16 update differs (round %d, %s)", r, opt ? "adamw" : "sgd");
            CHECKF(k.nonzero > 0 && k.cancelled <= k.nonzero && k.unchanged <= k.nonzero,
                   "counts %lld %lld %lld", (long long)k.nonzero, (long long)k.unchanged, (long long)k.cancelled);
        }
    for (int i = 0; i < n; i++) {
        fa[i] = fb[i] = rnd(); fma[i] = fmb[i] = rnd() * 0.1f; fva[i] = fvb[i] = fabsf(rnd()) * 0.01f;
        gf[i] = i % 5 ? rnd() : 0.0f;
    }
    weft_update_count k = { 0 };
    for (int step = 1; step <= 3; step++) {
        weft_k_sgd_f32(fa, fma, gf, 0, n, &sh, step == 1, NULL);
        weft_k_sgd_f32(fb, fmb, gf, 0, n, &sh, step == 1, &k);
        weft_k_adamw_f32(fa, fma, fva, gf, 0, n, &ah, step, NULL);
        weft_k_adamw_f32(fb, fmb, fvb, gf, 0, n, &ah, step, &k);
    }
    CHECK(!memcmp(fa, fb, sizeof fa) && !memcmp(fma, fmb, sizeof fma) && !memcmp(fva, fvb, sizeof fva));
    CHECK(k.nonzero > 0 && k.nonzero <= 6 * (int64_t)n && k.cancelled == k.unchanged);   /* fp32: the same */
}

int main(void)
{
    test_gemm();
    test_linear();
    test_eltwise();
    test_conv();
    test_pool();
    test_xent();
    test_sgd_f32();
    test_adamw_f32();
    test_bf16_nearest();
    test_bf16_stochastic();
    test_bf16_kahan();
    test_update_count();
    return test_summary();
}
