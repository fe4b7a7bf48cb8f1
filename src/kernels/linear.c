/* linear.c — fully connected layer, weights (out,in) as in PyTorch.
 * One sgemm per direction; bias and activation are fused into one pass over
 * the GEMM's output. */
#include "kernels/kernels.h"

#define VB 8

/* y (M,N) = act(y + b), b (N) or NULL; relu and none fused in one pass. */
static void bias_act_rows(float *restrict y, const float *restrict b, int M, int N, weft_act act)
{
    if (act == WEFT_ACT_GELU) {
        if (b) weft_k_add_bias(y, b, M, N);
        weft_k_act_fwd(y, y, (int64_t)M * N, act);
        return;
    }
    if (!b && act == WEFT_ACT_NONE) return;
    for (int r = 0; r < M; r++) {
        float *row = y + (int64_t)r * N;
        int i = 0;
        if (b && act == WEFT_ACT_RELU) {
            for (; i + VB <= N; i += VB)
                for (int j = 0; j < VB; j++) {
                    float v = row[i + j] + b[i + j];
                    row[i + j] = v < 0.0f ? 0.0f : v;
                }
            for (; i < N; i++) { float v = row[i] + b[i]; row[i] = v < 0.0f ? 0.0f : v; }
        } else if (b) {
            for (; i + VB <= N; i += VB)
                for (int j = 0; j < VB; j++) row[i + j] += b[i + j];
            for (; i < N; i++) row[i] += b[i];
        } else {
            for (; i + VB <= N; i += VB)
                for (int j = 0; j < VB; j++) row[i + j] = row[i + j] < 0.0f ? 0.0f : row[i + j];
            for (; i < N; i++) row[i] = row[i] < 0.0f ? 0.0f : row[i];
        }
    }
}

/* y (M,N) = act(x (M,K) w^T + b);  w (N,K), b (N) or NULL. */
void weft_k_linear_fwd_pool(weft_pool *pool, float *y, const float *x, const float *w, const float *b,
                            int M, int K, int N, weft_act act)
{
    weft_k_gemm_pool(pool, false, true, M, N, K, 1.0f, x, w, 0.0f, y);
    bias_act_rows(y, b, M, N, act);
}

/* dx (M,K) = dy (M,N) w (N,K) + beta * dx. */
void weft_k_linear_bwd_data_pool(weft_pool *pool, float *dx, const float *dy, const float *w,
                                 int M, int K, int N, float beta)
{
    weft_k_gemm_pool(pool, false, false, M, K, N, 1.0f, dy, w, beta, dx);
}

/* dw (N,K) = dy^T (N,M) x (M,K);  db (N) = column sums of dy, or NULL. */
void weft_k_linear_bwd_weight_pool(weft_pool *pool, float *dw, float *db, const float *dy, const float *x,
                                   int M, int K, int N)
{
    weft_k_gemm_pool(pool, true, false, N, K, M, 1.0f, dy, x, 0.0f, dw);
    if (db) weft_k_colsum(db, dy, M, N);
}

void weft_k_linear_fwd(float *y, const float *x, const float *w, const float *b,
                       int M, int K, int N, weft_act act)
{
    weft_k_linear_fwd_pool(NULL, y, x, w, b, M, K, N, act);
}

void weft_k_linear_bwd_data(float *dx, const float *dy, const float *w, int M, int K, int N, float beta)
{
    weft_k_linear_bwd_data_pool(NULL, dx, dy, w, M, K, N, beta);
}

void weft_k_linear_bwd_weight(float *dw, float *db, const float *dy, const float *x, int M, int K, int N)
{
    weft_k_linear_bwd_weight_pool(NULL, dw, db, dy, x, M, K, N);
}
