/* gemm.c — the one place weft calls BLAS. Row-major sgemm through OpenBLAS.
 *
 * One owner of the cores: with a pool, weft_k_gemm_pool splits C into one
 * block of columns (or rows) per pool thread and each thread runs a
 * single-threaded sgemm on its block, so OpenBLAS's own threads (which spin
 * after every call) never compete with the pool's layout and conversion
 * passes. exec sets OpenBLAS to one thread for that reason. Each element of C
 * is computed by exactly one call; a run is reproducible for a given thread
 * count, but a different count changes the blocks, and OpenBLAS's kernels
 * then round some elements differently (last-bit differences, measured:
 * ~2% of elements at 2 threads). */
#include "kernels/kernels.h"

#include <cblas.h>
#include <limits.h>

/* C (M,N) = alpha * op(A) op(B) + beta * C.
 * A is (M,K), or (K,M) when ta; B is (K,N), or (N,K) when tb; C is (M,N). */
void weft_k_gemm(bool ta, bool tb, int M, int N, int K, float alpha,
                 const float *A, const float *B, float beta, float *C)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        /* BLAS leaves this case to the implementation; define it: C = beta*C,
         * and beta == 0 overwrites (even NaN) as sgemm does. */
        for (int64_t i = 0; i < (int64_t)M * N; i++) C[i] = beta == 0.0f ? 0.0f : beta * C[i];
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}

typedef struct {
    bool ta, tb, split_n;
    int M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

static void gemm_chunk(void *ctx, int64_t b, int64_t e)
{
    const gemm_job *j = ctx;
    int n = (int)(e - b);
    if (j->split_n) {
        /* C[:, b:e] = op(A) op(B)[:, b:e] */
        const float *B = j->tb ? j->B + b * j->K : j->B + b;
        cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans,
                    j->M, n, j->K, j->alpha, j->A, j->ta ? j->M : j->K, B, j->tb ? j->K : j->N,
                    j->beta, j->C + b, j->N);
    } else {
        /* C[b:e, :] = op(A)[b:e, :] op(B) */
        const float *A = j->ta ? j->A + b : j->A + b * j->K;
        cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans,
                    n, j->N, j->K, j->alpha, A, j->ta ? j->M : j->K, j->B, j->tb ? j->K : j->N,
                    j->beta, j->C + b * j->N, j->N);
    }
}

void weft_k_gemm_pool(weft_pool *pool, bool ta, bool tb, int M, int N, int K, float alpha,
                      const float *A, const float *B, float beta, float *C)
{
    int nt = pool ? weft_pool_threads(pool) : 1;
    /* Below ~1 MFLOP a split costs more than it saves. */
    if (nt < 2 || M <= 0 || N <= 0 || K <= 0 || (int64_t)M * N * K < (1 << 20)) {
        weft_k_gemm(ta, tb, M, N, K, alpha, A, B, beta, C);
        return;
    }
    gemm_job j = { ta, tb, N >= M, M, N, K, alpha, beta, A, B, C };
    /* Split the longer side; column blocks stay multiples of 16 floats. */
    int64_t len = j.split_n ? N : M, grain = j.split_n ? 16 : 4;
    weft_pool_for(pool, len, grain, gemm_chunk, &j);
}

typedef struct {
    bool ta, tb;
    int M, N, K;
    const float *A, *B;
    int64_t sa, sb;
    float *C;
} batch_job;

static void batch_chunk(void *ctx, int64_t b, int64_t e)
{
    const batch_job *j = ctx;
    for (int64_t i = b; i < e; i++)
        weft_k_gemm(j->ta, j->tb, j->M, j->N, j->K, 1.0f, j->A + i * j->sa, j->B + i * j->sb, 0.0f,
                    j->C + i * (int64_t)j->M * j->N);
}

void weft_k_gemm_batched_pool(weft_pool *pool, bool ta, bool tb, int64_t batch, int M, int N, int K,
                              const float *A, int64_t sa, const float *B, int64_t sb, float *C)
{
    if (batch <= 0 || M <= 0 || N <= 0) return;
    /* A_i stacked as rows under one shared B: C_i are the rows of one product */
    if (sb == 0 && !ta && sa == (int64_t)M * K && batch * M <= INT_MAX) {
        weft_k_gemm_pool(pool, false, tb, (int)(batch * M), N, K, 1.0f, A, B, 0.0f, C);
        return;
    }
    batch_job j = { ta, tb, M, N, K, A, B, sa, sb, C };
    int nt = pool ? weft_pool_threads(pool) : 1;
    if (nt >= 2 && batch >= nt) {
        weft_pool_for(pool, batch, 1, batch_chunk, &j);
        return;
    }
    for (int64_t i = 0; i < batch; i++)
        weft_k_gemm_pool(pool, ta, tb, M, N, K, 1.0f, A + i * sa, B + i * sb, 0.0f, C + i * (int64_t)M * N);
}
