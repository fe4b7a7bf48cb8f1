/* kernels.h — CPU kernels on raw fp32 buffers. Kernels know nothing of graphs:
 * every buffer is a pointer, every dimension an argument, and the comment on
 * each kernel gives each buffer's shape. Row-major throughout; images NCHW;
 * linear weights (out, in) as in PyTorch.
 *
 * bf16 paths: a kernel's bf16 path is the same computation fed with bf16
 * inputs widened to fp32 and its outputs rounded once to bf16 on the way out
 * (weft_k_run_bf16 in exec does the widening/rounding around these kernels);
 * matmul and convolution therefore accumulate in fp32 and round once.
 * The optimizer kernels (optim.c) handle bf16 storage themselves, because
 * they update persistent state in place with the policy's rounding. */
#ifndef WEFT_KERNELS_H
#define WEFT_KERNELS_H

#include "weft/num.h"

/* Fused activation applied after a bias add. */
typedef enum { WEFT_ACT_NONE, WEFT_ACT_RELU, WEFT_ACT_GELU } weft_act;

/* ---- GEMM (gemm.c) ---------------------------------------------------------
 * C (M,N) = alpha * op(A) op(B) + beta * C, row-major, through OpenBLAS sgemm.
 * ta/tb: A is stored (K,M) / B is stored (N,K) when true. */
void weft_k_gemm(bool ta, bool tb, int M, int N, int K, float alpha,
                 const float *A, const float *B, float beta, float *C);
/* The same split across `pool` (NULL or 1 thread: weft_k_gemm), each thread
 * running a single-threaded sgemm on its block of C. */
void weft_k_gemm_pool(weft_pool *pool, bool ta, bool tb, int M, int N, int K, float alpha,
                      const float *A, const float *B, float beta, float *C);
/* Batched: C_i (M,N) = op(A_i) op(B_i) for i < batch, A_i = A + i*sa,
 * B_i = B + i*sb (a stride 0: one matrix shared by every batch),
 * C_i = C + i*M*N; overwrites C. The batches are split across `pool` (each
 * a single-threaded sgemm), or, fewer than its threads, each product is;
 * a shared B under an untransposed A is one product of the stacked A_i. */
void weft_k_gemm_batched_pool(weft_pool *pool, bool ta, bool tb, int64_t batch, int M, int N, int K,
                              const float *A, int64_t sa, const float *B, int64_t sb, float *C);

/* ---- linear (linear.c) -----------------------------------------------------
 * forward: y = act(x w^T + b)    x (M,K), w (N,K), b (N) or NULL, y (M,N)
 * gelu is the exact erf form (PyTorch's default). */
void weft_k_linear_fwd(float *y, const float *x, const float *w, const float *b,
                       int M, int K, int N, weft_act act);
/* dx (M,K) = dy (M,N) w (N,K); beta 0 overwrites, 1 accumulates into dx. */
void weft_k_linear_bwd_data(float *dx, const float *dy, const float *w,
                            int M, int K, int N, float beta);
/* dw (N,K) = dy^T x;  db (N) = column sums of dy (db may be NULL). Overwrites. */
void weft_k_linear_bwd_weight(float *dw, float *db, const float *dy, const float *x,
                              int M, int K, int N);
/* The same with the GEMM split across `pool` (weft_k_gemm_pool). */
void weft_k_linear_fwd_pool(weft_pool *pool, float *y, const float *x, const float *w, const float *b,
                            int M, int K, int N, weft_act act);
void weft_k_linear_bwd_data_pool(weft_pool *pool, float *dx, const float *dy, const float *w,
                                 int M, int K, int N, float beta);
void weft_k_linear_bwd_weight_pool(weft_pool *pool, float *dw, float *db, const float *dy, const float *x,
                                   int M, int K, int N);

/* ---- elementwise (eltwise.c) ------------------------------------------------ */
/* y = a + b, n elements (a broadcast-free add). */
void weft_k_add(float *y, const float *a, const float *b, int64_t n);
/* y (M,N) += b (N) broadcast over rows. */
void weft_k_add_bias(float *y, const float *b, int64_t M, int64_t N);
/* y = act(x), n elements. */
void weft_k_act_fwd(float *y, const float *x, int64_t n, weft_act act);
/* Backward of an activation. relu uses its output y (dx = dy where y > 0);
 * gelu uses its input x. Pass the one the activation needs in `saved`. */
void weft_k_act_bwd(float *dx, const float *dy, const float *saved, int64_t n, weft_act act);
/* db (N) = column sums of dy (M,N). */
void weft_k_colsum(float *db, const float *dy, int64_t M, int64_t N);
/* Columns [c0, c1) of it only (db[c0..c1) written): a split by columns. */
void weft_k_colsum_range(float *db, const float *dy, int64_t M, int64_t N, int64_t c0, int64_t c1);
/* y = a * b, n elements. */
void weft_k_mul(float *y, const float *a, const float *b, int64_t n);
/* y (M,N) = a (M,N) + b (N) / a (M,N) * b (N), b on every row. */
void weft_k_add_rows(float *y, const float *a, const float *b, int64_t M, int64_t N);
void weft_k_mul_rows(float *y, const float *a, const float *b, int64_t M, int64_t N);
/* y = alpha * x + beta, n elements. */
void weft_k_scale(float *y, const float *x, int64_t n, float alpha, float beta);
/* y (M,N) = mask (N) != 0 ? x : fill, the mask on every row (M = 1: the
 * same shape). fill may be infinite. */
void weft_k_where_rows(float *y, const float *x, const float *mask, float fill, int64_t M, int64_t N);
/* y = erf(x) (within 3 ulp); dx = dy * 2/sqrt(pi) * exp(-x^2) from the input x. */
void weft_k_erf_fwd(float *y, const float *x, int64_t n);
void weft_k_erf_bwd(float *dx, const float *dy, const float *x, int64_t n);

/* ---- convolution (conv.c) --------------------------------------------------
 * 2-D convolution, stride s, zero padding p, im2col + one batched GEMM.
 * x (N,C,H,W), w (OC,C,KH,KW), b (OC) or NULL, y (N,OC,OH,OW) with
 * OH = (H + 2p - KH)/s + 1, OW likewise. `act` fuses relu after the bias.
 * scratch: at least weft_k_conv2d_scratch(...) floats. */
typedef struct { int N, C, H, W, OC, KH, KW, stride, pad, OH, OW; } weft_conv_dims;
weft_conv_dims weft_conv_dims_make(int N, int C, int H, int W, int OC, int KH, int KW,
                                   int stride, int pad);
int64_t weft_k_conv2d_scratch(const weft_conv_dims *d);
void weft_k_conv2d_fwd(float *y, const float *x, const float *w, const float *b,
                       const weft_conv_dims *d, weft_act act, float *scratch);
/* dx (N,C,H,W) = conv backward w.r.t. input (overwrites). */
void weft_k_conv2d_bwd_data(float *dx, const float *dy, const float *w,
                            const weft_conv_dims *d, float *scratch);
/* dw (OC,C,KH,KW), db (OC) or NULL (overwrites). */
void weft_k_conv2d_bwd_weight(float *dw, float *db, const float *dy, const float *x,
                              const weft_conv_dims *d, float *scratch);

/* The same kernels with their layout passes (im2col, col2im, the NCHW
 * transposes, bias + activation) split across `pool` by image planes; the
 * GEMM stays one sgemm on OpenBLAS's threads. Results are identical to the
 * plain kernels (which are these with pool NULL), whatever the thread count. */
void weft_k_conv2d_fwd_pool(weft_pool *pool, float *y, const float *x, const float *w,
                            const float *b, const weft_conv_dims *d, weft_act act, float *scratch);
void weft_k_conv2d_bwd_data_pool(weft_pool *pool, float *dx, const float *dy, const float *w,
                                 const weft_conv_dims *d, float *scratch);
void weft_k_conv2d_bwd_weight_pool(weft_pool *pool, float *dw, float *db, const float *dy,
                                   const float *x, const weft_conv_dims *d, float *scratch);

/* ---- pooling (pool.c) --------------------------------------------------------
 * Max pool, window k, stride s, no padding: x (N,C,H,W) -> y (N,C,OH,OW),
 * OH = (H - k)/s + 1. Backward routes dy to the first maximal element of each
 * window (PyTorch's choice), recomputed from x. */
void weft_k_maxpool_fwd(float *y, const float *x, int N, int C, int H, int W, int k, int s);
void weft_k_maxpool_bwd(float *dx, const float *dy, const float *x,
                        int N, int C, int H, int W, int k, int s);

/* ---- loss (loss.c) -------------------------------------------------------------
 * Softmax cross-entropy, mean over the batch: logits (M,C), labels (M) in [0,C).
 * Returns the mean loss (fp32, accumulated in double). */
float weft_k_xent_fwd(const float *logits, const int32_t *labels, int M, int C);
/* dlogits (M,C) = dloss * (softmax(logits) - onehot(labels)) / M. */
void weft_k_xent_bwd(float *dlogits, const float *logits, const int32_t *labels,
                     int M, int C, float dloss);

/* ---- optimizers (optim.c) ---------------------------------------------------------
 * PyTorch semantics. SGD: g' = g + wd*w; m = mu*m + g' (m = g' on step 1);
 *                         w -= lr*m  (mu == 0: no momentum buffer, m may be NULL).
 * AdamW:  w -= lr*wd*w; m = b1*m + (1-b1)g; v = b2*v + (1-b2)g^2;
 *         w -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps), t = step (from 1).
 * The weight update leaves the unit as delta (the amount subtracted) and is
 * applied with the policy's rounding: fp32 exact; bf16 nearest; bf16-sr
 * stochastic keyed by (key, element); bf16-kahan through weft_bf16_kahan_sub
 * with the compensation buffer `comp`. Optimizer state is stored in the
 * weights' dtype and rounded to nearest. */
typedef struct { float lr, momentum, weight_decay; } weft_sgd_hp;
typedef struct { float lr, beta1, beta2, eps, weight_decay; } weft_adamw_hp;
typedef enum { WEFT_ROUND_NEAREST, WEFT_ROUND_STOCHASTIC, WEFT_ROUND_KAHAN } weft_round;

/* cnt: weft_update_count (weft/num.h), or NULL. */

/* Elements updated [begin, end) so callers can split across threads. */
void weft_k_sgd_f32(float *w, float *m, const float *g, int64_t begin, int64_t end,
                    const weft_sgd_hp *hp, bool first_step, weft_update_count *cnt);
void weft_k_sgd_bf16(weft_bf16 *w, weft_bf16 *m, weft_bf16 *comp, const weft_bf16 *g,
                     int64_t begin, int64_t end, const weft_sgd_hp *hp, bool first_step,
                     weft_round r, weft_rng_key key, weft_update_count *cnt);
void weft_k_adamw_f32(float *w, float *m, float *v, const float *g, int64_t begin, int64_t end,
                      const weft_adamw_hp *hp, int64_t t, weft_update_count *cnt);
void weft_k_adamw_bf16(weft_bf16 *w, weft_bf16 *m, weft_bf16 *v, weft_bf16 *comp,
                       const weft_bf16 *g, int64_t begin, int64_t end,
                       const weft_adamw_hp *hp, int64_t t, weft_round r, weft_rng_key key,
                       weft_update_count *cnt);

#endif
