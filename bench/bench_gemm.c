/* bench_gemm.c — the GEMM kernel path against plain OpenBLAS sgemm, at the
 * shapes of the mlp and cnn presets (batch 64).
 *
 * For each GEMM a training step does, it times weft's kernel as the executor
 * runs it (bias, fused activation, im2col/col2im and layout passes included;
 * the work split across weft's pool, each block a one-thread sgemm) and its
 * bf16 path (inputs widened from bf16, output rounded once to bf16), against
 * a bare cblas_sgemm of the same (M,N,K) on OpenBLAS's own threads. Efficiency
 * is sgemm time / weft time: 100% means the kernel costs no more than its GEMM.
 *
 * Usage: bench_gemm [threads]   (default 2; best of many repetitions) */
#include "kernels/kernels.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

void openblas_set_num_threads(int n);

typedef enum { LIN_FWD, LIN_BWD_DATA, LIN_BWD_WEIGHT, CONV_FWD, CONV_BWD_DATA, CONV_BWD_WEIGHT } kind;

typedef struct {
    const char *name;
    kind k;
    int M, K, N;          /* linear: x (M,K) w (N,K) */
    int cn, cc, ch, coc;  /* conv: batch, channels, size, out channels (3x3, pad 1) */
} shape;

static const shape shapes[] = {
    { "mlp fc1 fwd", LIN_FWD, 64, 784, 256, 0, 0, 0, 0 },
    { "mlp fc1 bwd-weight", LIN_BWD_WEIGHT, 64, 784, 256, 0, 0, 0, 0 },
    { "mlp fc2 fwd", LIN_FWD, 64, 256, 256, 0, 0, 0, 0 },
    { "mlp fc2 bwd-data", LIN_BWD_DATA, 64, 256, 256, 0, 0, 0, 0 },
    { "mlp fc2 bwd-weight", LIN_BWD_WEIGHT, 64, 256, 256, 0, 0, 0, 0 },
    { "cnn conv1 fwd", CONV_FWD, 0, 0, 0, 64, 1, 28, 32 },
    { "cnn conv1 bwd-weight", CONV_BWD_WEIGHT, 0, 0, 0, 64, 1, 28, 32 },
    { "cnn conv2 fwd", CONV_FWD, 0, 0, 0, 64, 32, 14, 64 },
    { "cnn conv2 bwd-data", CONV_BWD_DATA, 0, 0, 0, 64, 32, 14, 64 },
    { "cnn conv2 bwd-weight", CONV_BWD_WEIGHT, 0, 0, 0, 64, 32, 14, 64 },
    { "cnn fc1 fwd", LIN_FWD, 64, 3136, 128, 0, 0, 0, 0 },
    { "cnn fc1 bwd-data", LIN_BWD_DATA, 64, 3136, 128, 0, 0, 0, 0 },
    { "cnn fc1 bwd-weight", LIN_BWD_WEIGHT, 64, 3136, 128, 0, 0, 0, 0 },
};

static float *randbuf(int64_t n)
{
    float *p = weft_alloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return p;
}

typedef struct { weft_pool *pool; const shape *s; weft_conv_dims d; float *a, *b, *c, *bias, *db, *scratch; bool bf16;
                 weft_bf16 *a16, *b16, *c16; float *aw, *bw; int64_t na, nb, nc; } ctx;

static void run_weft(ctx *x)
{
    const shape *s = x->s;
    float *a = x->a, *b = x->b;
    if (x->bf16) {  /* the executor's bf16 path: widen the inputs, round the output */
        weft_bf16_to_f32_n(x->a16, x->aw, x->na);
        weft_bf16_to_f32_n(x->b16, x->bw, x->nb);
        a = x->aw; b = x->bw;
    }
    switch (s->k) {
    case LIN_FWD: weft_k_linear_fwd_pool(x->pool, x->c, a, b, x->bias, s->M, s->K, s->N, WEFT_ACT_RELU); break;
    case LIN_BWD_DATA: weft_k_linear_bwd_data_pool(x->pool, x->c, a, b, s->M, s->K, s->N, 0.0f); break;
    case LIN_BWD_WEIGHT: weft_k_linear_bwd_weight_pool(x->pool, x->c, x->db, a, b, s->M, s->K, s->N); break;
    case CONV_FWD: weft_k_conv2d_fwd_pool(x->pool, x->c, a, b, x->bias, &x->d, WEFT_ACT_RELU, x->scratch); break;
    case CONV_BWD_DATA: weft_k_conv2d_bwd_data_pool(x->pool, x->c, a, b, &x->d, x->scratch); break;
    case CONV_BWD_WEIGHT: weft_k_conv2d_bwd_weight_pool(x->pool, x->c, x->db, a, b, &x->d, x->scratch); break;
    }
    if (x->bf16) weft_bf16_from_f32_n(x->c, x->c16, x->nc);
}

/* The bare GEMM with the same (M,N,K) and transposes as the kernel's. */
static void gemm_dims(const ctx *x, int *M, int *N, int *K)
{
    const shape *s = x->s;
    int P = x->d.N * x->d.OH * x->d.OW, KK = x->d.C * 9;
    *M = *N = *K = 1;
    switch (s->k) {
    case LIN_FWD: *M = s->M; *N = s->N; *K = s->K; break;
    case LIN_BWD_DATA: *M = s->M; *N = s->K; *K = s->N; break;
    case LIN_BWD_WEIGHT: *M = s->N; *N = s->K; *K = s->M; break;
    case CONV_FWD: *M = x->d.OC; *N = P; *K = KK; break;
    case CONV_BWD_DATA: *M = KK; *N = P; *K = x->d.OC; break;
    case CONV_BWD_WEIGHT: *M = x->d.OC; *N = KK; *K = P; break;
    }
}

static double best_of(void (*fn)(void *), void *arg, double budget)
{
    double best = 1e30, start = weft_now();
    int reps = 0;
    while ((weft_now() - start < budget || reps < 5) && reps < 2000) {
        double t0 = weft_now();
        fn(arg);
        double t = weft_now() - t0;
        if (t < best) best = t;
        reps++;
    }
    return best;
}

typedef struct { int M, N, K, threads; float *A, *B, *C; } gctx;
static void run_gemm(void *p)
{
    gctx *g = p;
    openblas_set_num_threads(g->threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->M, g->N, g->K, 1.0f, g->A, g->K, g->B, g->N,
                0.0f, g->C, g->N);
}
static void run_weft_v(void *p) { openblas_set_num_threads(1); run_weft(p); }

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1) threads = 1;
    weft_pool *pool = NULL;
    if (weft_pool_create(&pool, threads)) { fprintf(stderr, "bench_gemm: %s\n", weft_errmsg()); return 1; }
    printf("GEMM kernel path against plain OpenBLAS sgemm, batch 64, %d thread(s)\n", threads);
    printf("%-22s %6s %6s %6s %10s %10s %10s %8s %8s\n", "shape", "M", "N", "K", "sgemm us", "weft us",
           "bf16 us", "fp32 eff", "bf16 eff");
    double tg = 0, tw = 0, tb = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        ctx x = { .pool = pool, .s = &shapes[i] };
        const shape *s = x.s;
        if (s->k >= CONV_FWD) {
            x.d = weft_conv_dims_make(s->cn, s->cc, s->ch, s->ch, s->coc, 3, 3, 1, 1);
            int64_t xn = (int64_t)s->cn * s->cc * s->ch * s->ch, wn = (int64_t)s->coc * s->cc * 9;
            int64_t yn = (int64_t)s->cn * s->coc * x.d.OH * x.d.OW;
            x.scratch = randbuf(weft_k_conv2d_scratch(&x.d));
            if (s->k == CONV_FWD) { x.na = xn; x.nb = wn; x.nc = yn; }
            if (s->k == CONV_BWD_DATA) { x.na = yn; x.nb = wn; x.nc = xn; }
            if (s->k == CONV_BWD_WEIGHT) { x.na = yn; x.nb = xn; x.nc = wn; }
            x.bias = randbuf(s->coc); x.db = randbuf(s->coc);
        } else {
            int64_t xn = (int64_t)s->M * s->K, wn = (int64_t)s->N * s->K, yn = (int64_t)s->M * s->N;
            if (s->k == LIN_FWD) { x.na = xn; x.nb = wn; x.nc = yn; }
            if (s->k == LIN_BWD_DATA) { x.na = yn; x.nb = wn; x.nc = xn; }
            if (s->k == LIN_BWD_WEIGHT) { x.na = yn; x.nb = xn; x.nc = wn; }
            x.bias = randbuf(s->N); x.db = randbuf(s->N);
        }
        x.a = randbuf(x.na); x.b = randbuf(x.nb); x.c = randbuf(x.nc);
        x.aw = randbuf(x.na); x.bw = randbuf(x.nb);
        x.a16 = weft_alloc((size_t)x.na * 2); x.b16 = weft_alloc((size_t)x.nb * 2); x.c16 = weft_alloc((size_t)x.nc * 2);
        weft_bf16_from_f32_n(x.a, x.a16, x.na);
        weft_bf16_from_f32_n(x.b, x.b16, x.nb);
        gctx g = { .threads = threads };
        gemm_dims(&x, &g.M, &g.N, &g.K);
        g.A = randbuf((int64_t)g.M * g.K); g.B = randbuf((int64_t)g.K * g.N); g.C = randbuf((int64_t)g.M * g.N);
        double t_g = best_of(run_gemm, &g, 0.3);
        x.bf16 = false;
        double t_w = best_of(run_weft_v, &x, 0.3);
        x.bf16 = true;
        double t_b = best_of(run_weft_v, &x, 0.3);
        tg += t_g; tw += t_w; tb += t_b;
        printf("%-22s %6d %6d %6d %10.1f %10.1f %10.1f %7.0f%% %7.0f%%\n", s->name, g.M, g.N, g.K, 1e6 * t_g,
               1e6 * t_w, 1e6 * t_b, 100 * t_g / t_w, 100 * t_g / t_b);
        weft_free(x.a); weft_free(x.b); weft_free(x.c); weft_free(x.aw); weft_free(x.bw);
        weft_free(x.a16); weft_free(x.b16); weft_free(x.c16); weft_free(x.bias); weft_free(x.db);
        weft_free(x.scratch); weft_free(g.A); weft_free(g.B); weft_free(g.C);
    }
    printf("%-22s %6s %6s %6s %10.1f %10.1f %10.1f %7.0f%% %7.0f%%\n", "all", "", "", "", 1e6 * tg, 1e6 * tw,
           1e6 * tb, 100 * tg / tw, 100 * tg / tb);
    weft_pool_destroy(pool);
    return 0;
}
