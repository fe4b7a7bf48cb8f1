/* nn.h — the kernels of the sequence, language and recommendation models:
 * normalisation, softmax, attention, embeddings, DLRM interaction, LSTM,
 * sigmoid/tanh, dropout, losses and layout helpers. Same conventions as
 * kernels.h: fp32 raw buffers, row-major, every dimension an argument, the
 * comment on each kernel giving every buffer's shape; bf16 is the executor's
 * widening and rounding around these. A `_pool` variant splits its work
 * across the pool (NULL: inline) and gives results identical to the plain
 * kernel, whatever the thread count. Unless said otherwise, outputs are
 * overwritten, never accumulated, and no output may alias an input.
 *
 * Transcendentals (exp, sigmoid, tanh) come from vectorised polynomials
 * within 3 ulp of the exact function (nn_math.h), as PyTorch's own are. */
#ifndef WEFT_KERNELS_NN_H
#define WEFT_KERNELS_NN_H

#include "kernels/kernels.h"

/* ---- layer norm (norm.c) ----------------------------------------------------
 * Over the last dim D, as torch.nn.LayerNorm (biased variance, eps inside the
 * square root; PyTorch's default eps is 1e-5):
 *   y = (x - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(var + eps)
 * x, y (M,D); gamma, beta (D), either NULL for no affine part;
 * mean, rstd (M) written: the graph saves them (with x) for backward. */
void weft_k_layernorm_fwd(float *y, float *mean, float *rstd, const float *x,
                          const float *gamma, const float *beta, int64_t M, int D, float eps);
/* dx (M,D); dgamma, dbeta (D) or NULL (not wanted); dy, x (M,D); mean,
 * rstd (M) from the forward; gamma (D) or NULL. */
void weft_k_layernorm_bwd(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                          const float *mean, const float *rstd, const float *gamma, int64_t M, int D);
/* Rows split across the pool; dgamma/dbeta by columns (each column's sum
 * over rows in row order, so the split never changes a bit). */
void weft_k_layernorm_fwd_pool(weft_pool *pool, float *y, float *mean, float *rstd, const float *x,
                               const float *gamma, const float *beta, int64_t M, int D, float eps);
void weft_k_layernorm_bwd_pool(weft_pool *pool, float *dx, float *dgamma, float *dbeta,
                               const float *dy, const float *x, const float *mean,
                               const float *rstd, const float *gamma, int64_t M, int D);

/* ---- batch norm 2-D (norm.c) -------------------------------------------------
 * x, y (N,C,HW) (HW = H*W; NCHW images); gamma, beta (C) or NULL.
 * Training: per-channel mean and biased variance over N*HW;
 * mean, rstd (C) written (saved for backward); the running statistics (C),
 * when not NULL, are updated as PyTorch does with the unbiased variance:
 *   running_mean = (1-momentum) running_mean + momentum mean
 *   running_var  = (1-momentum) running_var  + momentum var * cnt/(cnt-1)
 * (PyTorch's default momentum is 0.1, eps 1e-5). Sums accumulate in double. */
void weft_k_batchnorm_fwd_train(float *y, float *mean, float *rstd, float *running_mean,
                                float *running_var, const float *x, const float *gamma,
                                const float *beta, int N, int C, int64_t HW, float eps,
                                float momentum);
/* Evaluation: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta. */
void weft_k_batchnorm_fwd_eval(float *y, const float *x, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var,
                               int N, int C, int64_t HW, float eps);
/* Training backward: dx (N,C,HW); dgamma, dbeta (C) or NULL; mean, rstd (C)
 * from weft_k_batchnorm_fwd_train. */
void weft_k_batchnorm_bwd(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                          const float *mean, const float *rstd, const float *gamma,
                          int N, int C, int64_t HW);
/* Channels split across the pool. */
void weft_k_batchnorm_fwd_train_pool(weft_pool *pool, float *y, float *mean, float *rstd,
                                     float *running_mean, float *running_var, const float *x,
                                     const float *gamma, const float *beta, int N, int C,
                                     int64_t HW, float eps, float momentum);
void weft_k_batchnorm_bwd_pool(weft_pool *pool, float *dx, float *dgamma, float *dbeta,
                               const float *dy, const float *x, const float *mean,
                               const float *rstd, const float *gamma, int N, int C, int64_t HW);

/* ---- softmax (act2.c) ----------------------------------------------------------
 * y (M,N) = softmax of each row of x (M,N) (shifted by the row max). y may be x. */
void weft_k_softmax_fwd(float *y, const float *x, int64_t M, int N);
/* dx (M,N) = y * (dy - rowsum(dy * y)), from the forward's output y (M,N). dx may be dy. */
void weft_k_softmax_bwd(float *dx, const float *dy, const float *y, int64_t M, int N);
void weft_k_softmax_fwd_pool(weft_pool *pool, float *y, const float *x, int64_t M, int N);
void weft_k_softmax_bwd_pool(weft_pool *pool, float *dx, const float *dy, const float *y,
                             int64_t M, int N);

/* ---- multi-head attention core (attention.c) ------------------------------------
 * q, k, v, out (B,H,T,Dh), contiguous (head split/merge is the graph's
 * weft_k_transpose4 of (B,T,H,Dh)); P (B,H,T,T) written: the softmax
 * probabilities, saved for backward.
 *   P = softmax(q k^T / sqrt(Dh) - bias) (causal: query i sees keys j <= i,
 *   and P[i][j > i] is exactly 0);  out = P v.
 * Position bias (slopes non-NULL: 2 floats per head): a linear penalty on
 * the distance between query i and key j, a different slope on each side —
 * bias[i][j] = slopes[2h] * (i - j) for j < i, slopes[2h+1] * (j - i) for
 * j > i, 0 for j = i (ALiBi, Press et al. 2022, with a slope per
 * direction). The bias is fixed, so the backward is unchanged (it uses P).
 * sgemms per head (weft_k_gemm); everything accumulates in fp32. Causal
 * heads longer than 32 go by blocks of 32 query rows, each multiplying only
 * the keys it can see (about 5/8 of the full products at T = 128). */
void weft_k_attention_fwd(float *out, float *P, const float *q, const float *k, const float *v,
                          int B, int H, int T, int Dh, bool causal, const float *slopes);
/* dq, dk, dv (B,H,T,Dh) from dout (B,H,T,Dh), the forward's q, k, v and P.
 * scratch: weft_k_attention_bwd_scratch(NULL, T) floats (2*T*T). */
void weft_k_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                          const float *k, const float *v, const float *P, int B, int H, int T,
                          int Dh, bool causal, float *scratch);
/* Scratch floats the backward needs: 2*T*T per pool thread (pool NULL: one). */
int64_t weft_k_attention_bwd_scratch(const weft_pool *pool, int T);
/* The (b, h) pairs split across the pool, each running single-threaded
 * sgemms (exec keeps OpenBLAS at one thread). The backward's scratch must be
 * weft_k_attention_bwd_scratch(pool, T) floats. */
void weft_k_attention_fwd_pool(weft_pool *pool, float *out, float *P, const float *q,
                               const float *k, const float *v, int B, int H, int T, int Dh,
                               bool causal, const float *slopes);
void weft_k_attention_bwd_pool(weft_pool *pool, float *dq, float *dk, float *dv,
                               const float *dout, const float *q, const float *k, const float *v,
                               const float *P, int B, int H, int T, int Dh, bool causal,
                               float *scratch);

/* ---- embeddings (embed.c) ------------------------------------------------------
 * Bad ids. The graph checks ids against V before a step; the kernels still
 * never read or write outside the table: an id outside [0, V) gives a zero
 * output row (or adds nothing to its bag), contributes no gradient, and is
 * counted in the forward's return value (0 when all ids are good).
 *
 * Embedding: out (N,D) = table (V,D) rows at ids (N). */
int64_t weft_k_embedding_fwd(float *out, const int32_t *ids, const float *table,
                             int64_t N, int64_t V, int D);
/* Dense backward, for small (tied) tables: dtable (V,D) += dout (N,D) rows
 * scattered to ids (N), in order of n. Accumulates: zero dtable first. */
void weft_k_embedding_bwd_dense(float *dtable, const int32_t *ids, const float *dout,
                                int64_t N, int64_t V, int D);
/* Sparse backward: the touched rows, ascending and unique, in rows (U), and
 * their gradients in grad (U,D) (the dout rows of each id summed in order of
 * n); returns U (<= N). rows and grad must hold N entries / rows.
 * scratch: weft_k_embedding_sparse_scratch(N) uint64 words. */
int64_t weft_k_embedding_bwd_sparse(int32_t *rows, float *grad, const int32_t *ids,
                                    const float *dout, int64_t N, int64_t V, int D,
                                    uint64_t *scratch);
int64_t weft_k_embedding_sparse_scratch(int64_t nnz);

/* Embedding bag, sum mode (multi-hot): out (N,D), out[n] = sum of the table
 * rows of bag n. Bags are given by offsets (N+1) (int32, offsets[0] = 0,
 * nondecreasing: bag n is ids[offsets[n] .. offsets[n+1]), nnz = offsets[N]
 * ids in all; an empty bag gives zeros), or, with offsets NULL, each bag is
 * L consecutive ids (ids (N,L), nnz = N*L). Returns the count of bad ids. */
int64_t weft_k_embbag_fwd(float *out, const int32_t *ids, const int32_t *offsets, int L,
                          const float *table, int64_t N, int64_t V, int D);
/* dtable (V,D) += dout (N,D) row of each id's bag. Accumulates. */
void weft_k_embbag_bwd_dense(float *dtable, const int32_t *ids, const int32_t *offsets, int L,
                             const float *dout, int64_t N, int64_t V, int D);
/* Sparse backward as weft_k_embedding_bwd_sparse, over the nnz ids: rows and
 * grad hold nnz entries / rows; scratch weft_k_embedding_sparse_scratch(nnz). */
int64_t weft_k_embbag_bwd_sparse(int32_t *rows, float *grad, const int32_t *ids,
                                 const int32_t *offsets, int L, const float *dout,
                                 int64_t N, int64_t V, int D, uint64_t *scratch);
/* Output rows split across the pool. */
int64_t weft_k_embedding_fwd_pool(weft_pool *pool, float *out, const int32_t *ids,
                                  const float *table, int64_t N, int64_t V, int D);
int64_t weft_k_embbag_fwd_pool(weft_pool *pool, float *out, const int32_t *ids,
                               const int32_t *offsets, int L, const float *table,
                               int64_t N, int64_t V, int D);

/* ---- DLRM dot interaction (embed.c) ---------------------------------------------
 * F = T + 1 feature vectors per sample: feature 0 is dense (B,D), feature
 * 1 + t is row b of emb[t] — element d of it at emb[t][b * emb_stride + d]
 * (T separate (B,D) tensors: emb_stride = D; one (B,T,D) tensor e:
 * emb[t] = e + t*D, emb_stride = T*D).
 * out (B, D + F(F-1)/2) = [dense, dots of features (i,j) for i = 1..F-1,
 * j = 0..i-1] — the DLRM reference's order (interaction "dot", no self
 * interaction): (1,0), (2,0), (2,1), (3,0), ... For D=16, T=26: 367 wide. */
int64_t weft_k_dot_interact_width(int T, int D);
void weft_k_dot_interact_fwd(float *out, const float *dense, const float *const *emb,
                             int64_t emb_stride, int B, int T, int D);
/* ddense (B,D) and demb[t] (same layout as emb, stride emb_stride) from
 * dout (B, width). Overwrites. */
void weft_k_dot_interact_bwd(float *ddense, float *const *demb, const float *dout,
                             const float *dense, const float *const *emb, int64_t emb_stride,
                             int B, int T, int D);
/* Samples split across the pool. */
void weft_k_dot_interact_fwd_pool(weft_pool *pool, float *out, const float *dense,
                                  const float *const *emb, int64_t emb_stride, int B, int T, int D);
void weft_k_dot_interact_bwd_pool(weft_pool *pool, float *ddense, float *const *demb,
                                  const float *dout, const float *dense, const float *const *emb,
                                  int64_t emb_stride, int B, int T, int D);

/* ---- LSTM (rnn.c) -----------------------------------------------------------------
 * torch.nn.LSTM's cell, gates in the order i, f, g, o:
 *   a = x w_ih^T + b_ih + h w_hh^T + b_hh          (B,4H)
 *   i = sig(a_i), f = sig(a_f), g = tanh(a_g), o = sig(a_o)
 *   c' = f c + i g,  h' = o tanh(c')
 * w_ih (4H,I), w_hh (4H,H), b_ih, b_hh (4H) (either bias may be NULL).
 *
 * One step: x (B,I), h, c (B,H) -> h1, c1 (B,H); gates (B,4H) written: the
 * activated i, f, g, o, saved for backward (with x, h, c, c1). */
void weft_k_lstm_cell_fwd(float *h1, float *c1, float *gates, const float *x, const float *h,
                          const float *c, const float *w_ih, const float *w_hh,
                          const float *b_ih, const float *b_hh, int B, int I, int H);
/* One step back: from dh1 (B,H) and dc1 (B,H) or NULL (zero), writes
 * dx (B,I), dh, dc (B,H) (any may be NULL: not wanted) and ACCUMULATES
 * dw_ih (4H,I) += , dw_hh (4H,H) += , db_ih, db_hh (4H) += (either bias
 * grad may be NULL), so a sequence loop sums them over steps.
 * scratch: B*4H floats. */
void weft_k_lstm_cell_bwd(float *dx, float *dh, float *dc, float *dw_ih, float *dw_hh,
                          float *db_ih, float *db_hh, const float *dh1, const float *dc1,
                          const float *gates, const float *c, const float *c1, const float *x,
                          const float *h, const float *w_ih, const float *w_hh,
                          int B, int I, int H, float *scratch);

/* A whole layer over a sequence (time-major, as torch.nn.LSTM's default):
 * x (T,B,I), h0, c0 (B,H) or NULL (zeros) -> y (T,B,H) the hidden state of
 * every step; saved for backward: gates (T,B,4H) (activated) and cs (T,B,H)
 * the cell state after every step (h_T = y[T-1], c_T = cs[T-1]).
 * The input projection of all steps is one GEMM before the recurrence; each
 * step is then one (B,H)x(H,4H) GEMM and a fused gate pass. */
void weft_k_lstm_fwd(float *y, float *gates, float *cs, const float *x, const float *h0,
                     const float *c0, const float *w_ih, const float *w_hh, const float *b_ih,
                     const float *b_hh, int T, int B, int I, int H);
/* From dy (T,B,H) (or NULL), dhT, dcT (B,H) (or NULL: zero), writes dx (T,B,I),
 * dh0, dc0 (B,H) (or NULL) and OVERWRITES dw_ih (4H,I), dw_hh (4H,H),
 * db_ih, db_hh (4H) (or NULL). The input and weight GEMMs run once over all
 * steps after the recurrence. scratch: weft_k_lstm_bwd_scratch(T,B,H) floats. */
void weft_k_lstm_bwd(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh,
                     float *db_ih, float *db_hh, const float *dy, const float *dhT,
                     const float *dcT, const float *gates, const float *cs, const float *x,
                     const float *y, const float *h0, const float *c0, const float *w_ih,
                     const float *w_hh, int T, int B, int I, int H, float *scratch);
int64_t weft_k_lstm_bwd_scratch(int T, int B, int H);
/* The same with the GEMMs on weft_k_gemm_pool (column splits) and the gate
 * passes split by rows. The gate passes are split-independent; the GEMMs
 * are as split-independent as weft_k_gemm_pool is. */
void weft_k_lstm_fwd_pool(weft_pool *pool, float *y, float *gates, float *cs, const float *x,
                          const float *h0, const float *c0, const float *w_ih, const float *w_hh,
                          const float *b_ih, const float *b_hh, int T, int B, int I, int H);
void weft_k_lstm_bwd_pool(weft_pool *pool, float *dx, float *dh0, float *dc0, float *dw_ih,
                          float *dw_hh, float *db_ih, float *db_hh, const float *dy,
                          const float *dhT, const float *dcT, const float *gates, const float *cs,
                          const float *x, const float *y, const float *h0, const float *c0,
                          const float *w_ih, const float *w_hh, int T, int B, int I, int H,
                          float *scratch);

/* ---- elementwise activations, dropout (act2.c) ---------------------------------
 * n elements; y may be x, dx may be dy. Backwards take the forward's output. */
void weft_k_sigmoid_fwd(float *y, const float *x, int64_t n);
void weft_k_sigmoid_bwd(float *dx, const float *dy, const float *y, int64_t n);  /* dy y (1-y) */
void weft_k_tanh_fwd(float *y, const float *x, int64_t n);
void weft_k_tanh_bwd(float *dx, const float *dy, const float *y, int64_t n);     /* dy (1-y^2) */
/* Dropout, probability p of zeroing: element i is kept when
 * weft_rng_u32(key, i) < (1-p) 2^32, and kept elements are scaled by 1/(1-p)
 * (p >= 1 zeroes everything, p <= 0 copies). No mask is stored: the backward
 * recomputes it from the same key, so it is the same function applied to dy.
 * n <= 2^32 (indices are 32-bit). */
void weft_k_dropout_fwd(float *y, const float *x, int64_t n, float p, weft_rng_key key);
void weft_k_dropout_bwd(float *dx, const float *dy, int64_t n, float p, weft_rng_key key);
/* Split across the pool. */
void weft_k_sigmoid_fwd_pool(weft_pool *pool, float *y, const float *x, int64_t n);
void weft_k_tanh_fwd_pool(weft_pool *pool, float *y, const float *x, int64_t n);
void weft_k_dropout_fwd_pool(weft_pool *pool, float *y, const float *x, int64_t n, float p,
                             weft_rng_key key);

/* ---- losses (act2.c) ----------------------------------------------------------------
 * Binary cross-entropy with logits, mean over n (torch's
 * binary_cross_entropy_with_logits): loss_i = max(x,0) - x t + log1p(exp(-|x|)),
 * finite for any finite logit. x, t (n); returns the mean (double sums). */
float weft_k_bce_logits_fwd(const float *x, const float *t, int64_t n);
/* dx (n) = dloss * (sigmoid(x) - t) / n. */
void weft_k_bce_logits_bwd(float *dx, const float *x, const float *t, int64_t n, float dloss);

/* Per-token cross-entropy: logits (N,V), targets (N) int32; a target equal to
 * ignore_index (PyTorch's default is -100; weft's data uses -1) is skipped;
 * the loss is the mean over the others. lse (N) written: each row's
 * log-sum-exp, saved for backward. Returns the mean loss (double sum over
 * rows); NaN when a target is outside [0,V) and not ignore_index, or when
 * every target is ignored (0/0, as PyTorch). */
float weft_k_xent_tok_fwd(float *lse, const float *logits, const int32_t *targets, int64_t N,
                          int V, int32_t ignore_index);
/* dlogits (N,V) = dloss * (softmax(row) - onehot(target)) / count for kept
 * rows, 0 for ignored rows (and for all rows when none is kept); a bad
 * target gives a NaN row. lse (N) from the forward. dlogits may be logits. */
void weft_k_xent_tok_bwd(float *dlogits, const float *logits, const float *lse,
                         const int32_t *targets, int64_t N, int V, int32_t ignore_index,
                         float dloss);
/* Rows split across the pool; the loss still sums rows in order. */
float weft_k_xent_tok_fwd_pool(weft_pool *pool, float *lse, const float *logits,
                               const int32_t *targets, int64_t N, int V, int32_t ignore_index);
void weft_k_xent_tok_bwd_pool(weft_pool *pool, float *dlogits, const float *logits,
                              const float *lse, const int32_t *targets, int64_t N, int V,
                              int32_t ignore_index, float dloss);

/* ---- layout helpers for 4-D tensors (act2.c) ------------------------------------
 * Tensors of lower rank pad their dims with leading 1s.
 * y = x with axes a and b (0..3) exchanged: x has dims xd, y has xd with
 * xd[a] and xd[b] swapped. (B,T,H,Dh) <-> (B,H,T,Dh) is a = 1, b = 2. */
void weft_k_transpose4(float *y, const float *x, const int64_t xd[4], int a, int b);
void weft_k_transpose4_pool(weft_pool *pool, float *y, const float *x, const int64_t xd[4],
                            int a, int b);
/* Concatenation along `axis`: xs[i] has dims yd except yd[axis] = sizes[i],
 * and sum(sizes) = yd[axis]. split is its inverse (and its backward): ys[i]
 * gets the slab of x (dims xd) at sizes[0] + ... + sizes[i-1] along axis.
 * A NULL xs[i] is a slab of zeros; a NULL ys[i] is skipped. */
void weft_k_concat4(float *y, const float *const *xs, const int64_t *sizes, int nx,
                    const int64_t yd[4], int axis);
void weft_k_split4(float *const *ys, const int64_t *sizes, int ny, const float *x,
                   const int64_t xd[4], int axis);

#endif
