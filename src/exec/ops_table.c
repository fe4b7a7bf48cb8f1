/* ops_table.c — one row per op: the kernel call with the dimensions the
 * graph's shapes give. */
#include "exec/exec_ops.h"
#include "kernels/nn.h"

#include <string.h>


static weft_conv_dims conv_dims(const weft_graph *g, int x, int w, int stride, int pad)
{
    const weft_shape *xs = &g->values[x].shape, *ws = &g->values[w].shape;
    return weft_conv_dims_make((int)xs->d[0], (int)xs->d[1], (int)xs->d[2], (int)xs->d[3],
                               (int)ws->d[0], (int)ws->d[2], (int)ws->d[3], stride, pad);
}

static void run_linear(const weft_kctx *k)
{
    const weft_shape *x = SH(k->n->in[0]), *w = SH(k->n->in[1]);
    weft_k_linear_fwd_pool(k->pool, OUT(0), IN(0), IN(1), k->n->a.has_bias ? IN(2) : NULL,
                      (int)x->d[0], (int)x->d[1], (int)w->d[0], (weft_act)k->n->a.act);
}

static void act_chunk(void *c, int64_t b, int64_t e)
{
    const weft_kctx *k = c;
    weft_k_act_fwd(OUT(0) + b, IN(0) + b, e - b, k->n->op == WEFT_OP_RELU ? WEFT_ACT_RELU : WEFT_ACT_GELU);
}

static void run_act(const weft_kctx *k)
{
    weft_pool_for(k->pool, weft_shape_numel(SH(k->n->out[0])), SPLIT_GRAIN, act_chunk, (void *)k);
}

static void run_conv(const weft_kctx *k)
{
    weft_conv_dims d = conv_dims(k->g, k->n->in[0], k->n->in[1], k->n->a.stride, k->n->a.pad);
    weft_k_conv2d_fwd_pool(k->pool, OUT(0), IN(0), IN(1), k->n->a.has_bias ? IN(2) : NULL, &d,
                      (weft_act)k->n->a.act, k->scratch);
}

/* Max-pool over image planes [b, e) of the (N*C) planes. */
static void pool_chunk(void *c, int64_t b, int64_t e)
{
    const weft_kctx *k = c;
    bool fwd = k->n->op == WEFT_OP_MAXPOOL;
    const weft_shape *x = SH(k->n->in[fwd ? 0 : 1]), *y = SH(fwd ? k->n->out[0] : k->n->in[0]);
    int64_t hw = x->d[2] * x->d[3], ohw = y->d[2] * y->d[3];
    if (fwd)
        weft_k_maxpool_fwd(OUT(0) + b * ohw, IN(0) + b * hw, 1, (int)(e - b), (int)x->d[2], (int)x->d[3],
                           k->n->a.k, k->n->a.stride);
    else
        weft_k_maxpool_bwd(OUT(0) + b * hw, IN(0) + b * ohw, IN(1) + b * hw, 1, (int)(e - b), (int)x->d[2],
                           (int)x->d[3], k->n->a.k, k->n->a.stride);
}

static void run_pool(const weft_kctx *k)
{
    const weft_shape *x = SH(k->n->in[k->n->op == WEFT_OP_MAXPOOL ? 0 : 1]);
    weft_pool_for(k->pool, x->d[0] * x->d[1], SPLIT_GRAIN / (x->d[2] * x->d[3]) + 1, pool_chunk, (void *)k);
}

static void run_copy(const weft_kctx *k)
{
    int64_t n = weft_shape_numel(SH(k->n->out[0]));
    if (k->out[0] != k->in[0]) memcpy(k->out[0], k->in[0], (size_t)n * sizeof(float));
}

/* Per-token cross-entropy: a label of -1 is ignored (padding); the loss is
 * the mean over the others. The backward recomputes the rows' log-sum-exp. */
static void run_xent(const weft_kctx *k)
{
    const weft_shape *l = SH(k->n->in[0]);
    OUT(0)[0] = weft_k_xent_tok_fwd_pool(k->pool, k->scratch, IN(0), (const int32_t *)k->in[1], l->d[0],
                                         (int)l->d[1], -1);
}

static void run_dot(const weft_kctx *k)
{
    int64_t n = weft_shape_numel(SH(k->n->in[0]));
    double acc = 0;
    for (int64_t i = 0; i < n; i++) acc += (double)IN(0)[i] * IN(1)[i];
    OUT(0)[0] = (float)acc;
}

static void act_bwd_chunk(void *c, int64_t b, int64_t e)
{
    const weft_kctx *k = c;
    if (k->n->a.act == 3) weft_k_sigmoid_bwd(OUT(0) + b, IN(0) + b, IN(1) + b, e - b);
    else if (k->n->a.act == 4) weft_k_tanh_bwd(OUT(0) + b, IN(0) + b, IN(1) + b, e - b);
    else if (k->n->a.act == 5) weft_k_erf_bwd(OUT(0) + b, IN(0) + b, IN(1) + b, e - b);
    else weft_k_act_bwd(OUT(0) + b, IN(0) + b, IN(1) + b, e - b, (weft_act)k->n->a.act);
}

static void run_act_bwd(const weft_kctx *k)
{
    weft_pool_for(k->pool, weft_shape_numel(SH(k->n->out[0])), SPLIT_GRAIN, act_bwd_chunk, (void *)k);
}

static void run_linear_bwd_data(const weft_kctx *k)
{
    const weft_shape *dy = SH(k->n->in[0]), *w = SH(k->n->in[1]);
    weft_k_linear_bwd_data_pool(k->pool, OUT(0), IN(0), IN(1), (int)dy->d[0], (int)w->d[1], (int)dy->d[1], 0.0f);
}

static void run_linear_bwd_weight(const weft_kctx *k)
{
    const weft_shape *dy = SH(k->n->in[0]), *x = SH(k->n->in[1]);
    weft_k_linear_bwd_weight_pool(k->pool, OUT(0), k->n->nout > 1 ? OUT(1) : NULL, IN(0), IN(1),
                             (int)dy->d[0], (int)x->d[1], (int)dy->d[1]);
}

static void run_conv_bwd_data(const weft_kctx *k)
{
    weft_conv_dims d = conv_dims(k->g, k->n->in[2], k->n->in[1], k->n->a.stride, k->n->a.pad);
    weft_k_conv2d_bwd_data_pool(k->pool, OUT(0), IN(0), IN(1), &d, k->scratch);
}

static void run_conv_bwd_weight(const weft_kctx *k)
{
    weft_conv_dims d = conv_dims(k->g, k->n->in[1], k->n->out[0], k->n->a.stride, k->n->a.pad);
    weft_k_conv2d_bwd_weight_pool(k->pool, OUT(0), k->n->nout > 1 ? OUT(1) : NULL, IN(0), IN(1), &d, k->scratch);
}


static void run_xent_bwd(const weft_kctx *k)
{
    const weft_shape *l = SH(k->n->in[0]);
    const int32_t *y = k->in[1];
    weft_k_xent_tok_fwd_pool(k->pool, k->scratch, IN(0), y, l->d[0], (int)l->d[1], -1);
    weft_k_xent_tok_bwd_pool(k->pool, OUT(0), IN(0), k->scratch, y, l->d[0], (int)l->d[1], -1, 1.0f);
}

static void run_embedding(const weft_kctx *k)
{
    const weft_shape *tab = SH(k->n->in[1]);
    weft_k_embedding_fwd_pool(k->pool, OUT(0), (const int32_t *)k->in[0], IN(1),
                              weft_shape_numel(SH(k->n->in[0])), tab->d[0], (int)tab->d[1]);
}

static void run_embedding_bwd(const weft_kctx *k)
{
    const weft_shape *tab = SH(k->n->out[0]);
    memset(OUT(0), 0, (size_t)weft_shape_numel(tab) * sizeof(float));
    weft_k_embedding_bwd_dense(OUT(0), (const int32_t *)k->in[1], IN(0), weft_shape_numel(SH(k->n->in[1])),
                               tab->d[0], (int)tab->d[1]);
}

static void run_layernorm(const weft_kctx *k)
{
    const weft_shape *x = SH(k->n->in[0]);
    weft_k_layernorm_fwd_pool(k->pool, OUT(0), OUT(1), OUT(2), IN(0), IN(1), IN(2), x->d[0], (int)x->d[1],
                              k->n->a.eps);
}

static void run_layernorm_bwd(const weft_kctx *k)
{
    const weft_shape *x = SH(k->n->in[1]);
    weft_k_layernorm_bwd_pool(k->pool, OUT(0), OUT(1), OUT(2), IN(0), IN(1), IN(2), IN(3), IN(4), x->d[0],
                              (int)x->d[1]);
}

/* (B,T,3D) -> q, k, v each (B,H,T,Dh): PyTorch's qkv.split(D, -1) and
 * view(B,T,H,Dh).transpose(1,2). */
static void heads_split(float *q, float *kk, float *v, const float *qkv, int B, int T, int H, int Dh)
{
    int64_t D = (int64_t)H * Dh;
    float *dst[3] = { q, kk, v };
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *row = qkv + ((int64_t)b * T + t) * 3 * D;
            for (int s3 = 0; s3 < 3; s3++)
                for (int h = 0; h < H; h++)
                    memcpy(dst[s3] + (((int64_t)b * H + h) * T + t) * Dh, row + s3 * D + (int64_t)h * Dh,
                           (size_t)Dh * sizeof(float));
        }
}

/* (B,H,T,Dh) -> (B,T,H*Dh), with `stride` floats per (b,t) row at `off`. */
static void heads_merge(float *y, const float *x, int B, int T, int H, int Dh, int64_t stride, int64_t off)
{
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++)
                memcpy(y + ((int64_t)b * T + t) * stride + off + (int64_t)h * Dh,
                       x + (((int64_t)b * H + h) * T + t) * Dh, (size_t)Dh * sizeof(float));
}

static void attention_dims(const weft_kctx *k, int qi, int *B, int *T, int *H, int *Dh)
{
    const weft_shape *q = SH(k->n->in[qi]);
    *B = (int)q->d[0]; *T = (int)q->d[1]; *H = k->n->a.heads; *Dh = (int)(q->d[2] / 3 / *H);
}

static void run_attention(const weft_kctx *k)
{
    int B, T, H, Dh;
    attention_dims(k, 0, &B, &T, &H, &Dh);
    int64_t n = (int64_t)B * T * H * Dh;
    float *q = k->scratch, *kk = q + n, *v = kk + n, *o = v + n, *slopes = NULL;
    const weft_attrs *a = &k->n->a;
    if (a->pos_back != 0.0f || a->pos_ahead != 0.0f) {   /* even heads as given, odd mirrored */
        slopes = o + n;
        for (int h = 0; h < H; h++) {
            slopes[2 * h] = h % 2 ? a->pos_ahead : a->pos_back;
            slopes[2 * h + 1] = h % 2 ? a->pos_back : a->pos_ahead;
        }
    }
    heads_split(q, kk, v, IN(0), B, T, H, Dh);
    weft_k_attention_fwd_pool(k->pool, o, OUT(1), q, kk, v, B, H, T, Dh, a->causal, slopes);
    heads_merge(OUT(0), o, B, T, H, Dh, (int64_t)H * Dh, 0);
}

static void run_attention_bwd(const weft_kctx *k)
{
    int B, T, H, Dh;
    attention_dims(k, 1, &B, &T, &H, &Dh);
    int64_t n = (int64_t)B * T * H * Dh, D = (int64_t)H * Dh;
    float *q = k->scratch, *kk = q + n, *v = kk + n, *dyh = v + n, *dq = dyh + n, *dk = dq + n, *dv = dk + n;
    heads_split(q, kk, v, IN(1), B, T, H, Dh);
    /* dy (B,T,D) into heads: the same layout move as one third of a qkv row */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++)
                memcpy(dyh + (((int64_t)b * H + h) * T + t) * Dh, IN(0) + ((int64_t)b * T + t) * D + (int64_t)h * Dh,
                       (size_t)Dh * sizeof(float));
    weft_k_attention_bwd_pool(k->pool, dq, dk, dv, dyh, q, kk, v, IN(2), B, H, T, Dh, k->n->a.causal, dv + n);
    heads_merge(OUT(0), dq, B, T, H, Dh, 3 * D, 0);
    heads_merge(OUT(0), dk, B, T, H, Dh, 3 * D, D);
    heads_merge(OUT(0), dv, B, T, H, Dh, 3 * D, 2 * D);
}

/* ---- updates: in place on persistent state, split across the pool ---------- */

typedef struct { const weft_kctx *k; weft_round r; weft_rng_key key; bool f32; weft_update_count *cnt; } upd_ctx;

/* The node's counter when the run counts updates, else NULL. */
static weft_update_count *node_count(const weft_kctx *k)
{
    return k->opts->update_counts ? &k->opts->update_counts[k->n - k->g->nodes] : NULL;
}

/* A chunk's counts into the node's counter (chunks run in parallel). */
static void count_add(weft_update_count *to, const weft_update_count *c)
{
    if (!to) return;
    __atomic_fetch_add(&to->nonzero, c->nonzero, __ATOMIC_RELAXED);
    __atomic_fetch_add(&to->unchanged, c->unchanged, __ATOMIC_RELAXED);
    __atomic_fetch_add(&to->cancelled, c->cancelled, __ATOMIC_RELAXED);
}

static weft_round policy_round(weft_precision p)
{
    return p == WEFT_PREC_BF16_SR ? WEFT_ROUND_STOCHASTIC
         : p == WEFT_PREC_BF16_KAHAN ? WEFT_ROUND_KAHAN : WEFT_ROUND_NEAREST;
}

static void *slot(const weft_kctx *k, int s) { return s >= 0 ? k->raw_in[s] : NULL; }

static void sgd_chunk(void *c, int64_t b, int64_t e)
{
    const upd_ctx *u = c;
    const weft_kctx *k = u->k;
    const weft_optim_hp *h = &k->opts->hp;
    weft_sgd_hp hp = { h->lr, h->momentum, h->weight_decay };
    bool first = k->opts->step <= 1;
    weft_update_count got = { 0 }, *cp = u->cnt ? &got : NULL;
    if (u->f32)
        weft_k_sgd_f32(k->raw_in[0], h->momentum ? slot(k, k->n->a.slot_m) : NULL, k->raw_in[1],
                       b, e, &hp, first, cp);
    else
        weft_k_sgd_bf16(k->raw_in[0], h->momentum ? slot(k, k->n->a.slot_m) : NULL,
                        slot(k, k->n->a.slot_comp), k->raw_in[1], b, e, &hp, first, u->r, u->key, cp);
    count_add(u->cnt, &got);
}

static void adamw_chunk(void *c, int64_t b, int64_t e)
{
    const upd_ctx *u = c;
    const weft_kctx *k = u->k;
    const weft_optim_hp *h = &k->opts->hp;
    weft_adamw_hp hp = { h->lr, h->beta1, h->beta2, h->eps, h->weight_decay };
    weft_update_count got = { 0 }, *cp = u->cnt ? &got : NULL;
    if (u->f32)
        weft_k_adamw_f32(k->raw_in[0], slot(k, k->n->a.slot_m), slot(k, k->n->a.slot_v),
                         k->raw_in[1], b, e, &hp, k->opts->step, cp);
    else
        weft_k_adamw_bf16(k->raw_in[0], slot(k, k->n->a.slot_m), slot(k, k->n->a.slot_v),
                          slot(k, k->n->a.slot_comp), k->raw_in[1], b, e, &hp, k->opts->step,
                          u->r, u->key, cp);
    count_add(u->cnt, &got);
}

static size_t elsize(bool f32) { return f32 ? sizeof(float) : sizeof(weft_bf16); }
static void *at(void *p, int64_t i, bool f32) { return p ? (char *)p + (size_t)i * elsize(f32) : NULL; }

/* A sparse gradient: row r of the weight (and of its state) takes the
 * update of gradient row u, alone; untouched rows, and their state, are
 * left as they are. Each row's rounding stream is keyed by (param, row). */
static void run_update_sparse(const weft_kctx *k, const weft_value *w, weft_round rnd, bool f32)
{
    const weft_node *n = k->n;
    const int32_t *rows = k->raw_in[n->a.slot_rows];
    int64_t nnz = k->g->values[n->in[n->a.slot_rows]].shape.d[0], D = w->shape.d[1];
    const weft_optim_hp *h = &k->opts->hp;
    weft_sgd_hp sh = { h->lr, h->momentum, h->weight_decay };
    weft_adamw_hp ah = { h->lr, h->beta1, h->beta2, h->eps, h->weight_decay };
    void *m = slot(k, n->a.slot_m), *v = slot(k, n->a.slot_v), *comp = slot(k, n->a.slot_comp);
    weft_update_count *cnt = node_count(k);   /* one thread: the rows run in order */
    for (int64_t u = 0; u < nnz && rows[u] >= 0; u++) {
        int64_t r = (int64_t)rows[u] * D;
        void *wr = at(k->raw_in[0], r, f32), *g = at(k->raw_in[1], u * D, f32);
        weft_rng_key key = weft_rng_key_make(k->seed, (uint64_t)k->opts->step,
                                             ((uint64_t)(n->a.param + 1) << 32) | (uint32_t)rows[u]);
        if (n->op == WEFT_OP_SGD && f32)
            weft_k_sgd_f32(wr, h->momentum ? at(m, r, f32) : NULL, g, 0, D, &sh, k->opts->step <= 1, cnt);
        else if (n->op == WEFT_OP_SGD)
            weft_k_sgd_bf16(wr, h->momentum ? at(m, r, f32) : NULL, at(comp, r, f32), g, 0, D, &sh,
                            k->opts->step <= 1, rnd, key, cnt);
        else if (f32)
            weft_k_adamw_f32(wr, at(m, r, f32), at(v, r, f32), g, 0, D, &ah, k->opts->step, cnt);
        else
            weft_k_adamw_bf16(wr, at(m, r, f32), at(v, r, f32), at(comp, r, f32), g, 0, D, &ah,
                              k->opts->step, rnd, key, cnt);
    }
}

static void run_update(const weft_kctx *k)
{
    const weft_value *w = &k->g->values[k->n->in[0]];
    if (k->n->a.slot_rows) {
        run_update_sparse(k, w, policy_round(k->g->precision), w->dtype == WEFT_F32);
        return;
    }
    upd_ctx u = { k, policy_round(k->g->precision),
                  weft_rng_key_make(k->seed, (uint64_t)k->opts->step, (uint64_t)k->n->a.param),
                  w->dtype == WEFT_F32, node_count(k) };
    weft_pool_for(k->pool, weft_shape_numel(&w->shape), 1 << 15,
                  k->n->op == WEFT_OP_SGD ? sgd_chunk : adamw_chunk, &u);
}

static const weft_kernel_info table[WEFT_OP_COUNT] = {
    [WEFT_OP_LINEAR]            = { run_linear, false },
    [WEFT_OP_ADD]               = { weft_run_bcast, false },
    [WEFT_OP_RELU]              = { run_act, false },
    [WEFT_OP_GELU]              = { run_act, false },
    [WEFT_OP_CONV2D]            = { run_conv, false },
    [WEFT_OP_MAXPOOL]           = { run_pool, false },
    [WEFT_OP_RESHAPE]           = { run_copy, false },
    [WEFT_OP_XENT]              = { run_xent, false },
    [WEFT_OP_CAST]              = { run_copy, false },
    [WEFT_OP_DOT]               = { run_dot, false },
    [WEFT_OP_EMBEDDING]         = { run_embedding, false },
    [WEFT_OP_LAYERNORM]         = { run_layernorm, false },
    [WEFT_OP_ATTENTION]         = { run_attention, false },
    [WEFT_OP_EMBEDDING_BWD]     = { run_embedding_bwd, false },
    [WEFT_OP_LAYERNORM_BWD]     = { run_layernorm_bwd, false },
    [WEFT_OP_ATTENTION_BWD]     = { run_attention_bwd, false },
    [WEFT_OP_ACT_BWD]           = { run_act_bwd, false },
    [WEFT_OP_LINEAR_BWD_DATA]   = { run_linear_bwd_data, false },
    [WEFT_OP_LINEAR_BWD_WEIGHT] = { run_linear_bwd_weight, false },
    [WEFT_OP_CONV2D_BWD_DATA]   = { run_conv_bwd_data, false },
    [WEFT_OP_CONV2D_BWD_WEIGHT] = { run_conv_bwd_weight, false },
    [WEFT_OP_MAXPOOL_BWD]       = { run_pool, false },
    [WEFT_OP_XENT_BWD]          = { run_xent_bwd, false },
    [WEFT_OP_SIGMOID]           = { weft_run_sigmoid_tanh, false },
    [WEFT_OP_TANH]              = { weft_run_sigmoid_tanh, false },
    [WEFT_OP_SOFTMAX]           = { weft_run_softmax, false },
    [WEFT_OP_TRANSPOSE]         = { weft_run_transpose, false },
    [WEFT_OP_CONCAT]            = { weft_run_concat, false },
    [WEFT_OP_SPLIT]             = { weft_run_split, false },
    [WEFT_OP_DROPOUT]           = { weft_run_dropout, false },
    [WEFT_OP_BCE]               = { weft_run_bce, false },
    [WEFT_OP_EMBBAG]            = { weft_run_embbag, true },
    [WEFT_OP_DOT_INTERACT]      = { weft_run_dot_interact, false },
    [WEFT_OP_BATCHNORM]         = { weft_run_batchnorm, false },
    [WEFT_OP_AVGPOOL]           = { weft_run_avgpool, false },
    [WEFT_OP_LSTM]              = { weft_run_lstm, false },
    [WEFT_OP_MUL]               = { weft_run_bcast, false },
    [WEFT_OP_SCALE]             = { weft_run_scale, false },
    [WEFT_OP_MATMUL]            = { weft_run_matmul, false },
    [WEFT_OP_ERF]               = { weft_run_erf, false },
    [WEFT_OP_WHERE]             = { weft_run_bcast, false },
    [WEFT_OP_SUM_LEAD]          = { weft_run_sum_lead, false },
    [WEFT_OP_SOFTMAX_BWD]       = { weft_run_softmax, false },
    [WEFT_OP_SPLIT_BWD]         = { weft_run_split, false },
    [WEFT_OP_DROPOUT_BWD]       = { weft_run_dropout, false },
    [WEFT_OP_BCE_BWD]           = { weft_run_bce, false },
    [WEFT_OP_EMBBAG_BWD]        = { weft_run_embbag_bwd, false },
    [WEFT_OP_DOT_INTERACT_BWD]  = { weft_run_dot_interact, false },
    [WEFT_OP_BATCHNORM_BWD]     = { weft_run_batchnorm_bwd, false },
    [WEFT_OP_AVGPOOL_BWD]       = { weft_run_avgpool, false },
    [WEFT_OP_LSTM_BWD]          = { weft_run_lstm_bwd, false },
    [WEFT_OP_SUM_LEAD_BWD]      = { weft_run_sum_lead, false },
    [WEFT_OP_SGD]               = { run_update, true },
    [WEFT_OP_ADAMW]             = { run_update, true },
};

const weft_kernel_info *weft_exec_kernel(weft_op op) { return &table[op]; }

int64_t weft_exec_op_scratch(const weft_graph *g, const weft_node *n, const weft_pool *pool)
{
    weft_conv_dims d;
    switch (n->op) {
    case WEFT_OP_ATTENTION: return 4 * weft_shape_numel(&g->values[n->in[0]].shape) / 3 + 2 * n->a.heads;
    case WEFT_OP_XENT: case WEFT_OP_XENT_BWD: return g->values[n->in[0]].shape.d[0];
    case WEFT_OP_ATTENTION_BWD:
        return 7 * weft_shape_numel(&g->values[n->in[1]].shape) / 3 +
               weft_k_attention_bwd_scratch(pool, (int)g->values[n->in[1]].shape.d[1]);
    case WEFT_OP_CONV2D: d = conv_dims(g, n->in[0], n->in[1], n->a.stride, n->a.pad); break;
    case WEFT_OP_CONV2D_BWD_DATA: d = conv_dims(g, n->in[2], n->in[1], n->a.stride, n->a.pad); break;
    case WEFT_OP_CONV2D_BWD_WEIGHT: d = conv_dims(g, n->in[1], n->out[0], n->a.stride, n->a.pad); break;
    default: return weft_exec_nn_scratch(g, n);
    }
    return weft_k_conv2d_scratch(&d);
}
