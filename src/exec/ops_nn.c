/* ops_nn.c — the executor's kernels for the sequence, vision and
 * recommendation ops (their rows are in ops_table.c). */
#include "exec/exec_ops.h"
#include "kernels/nn.h"

#include <math.h>
#include <string.h>


/* A tensor's dims as 4, padded with leading 1s; *off is how far axes moved. */
static void dims4(const weft_shape *s, int64_t d[4], int *off)
{
    *off = 4 - s->ndim;
    for (int i = 0; i < 4; i++) d[i] = i < *off ? 1 : s->d[i - *off];
}

static int64_t numel_out(const weft_kctx *k) { return weft_shape_numel(SH(k->n->out[0])); }

void weft_run_sigmoid_tanh(const weft_kctx *k)
{
    if (k->n->op == WEFT_OP_SIGMOID) weft_k_sigmoid_fwd_pool(k->pool, OUT(0), IN(0), numel_out(k));
    else weft_k_tanh_fwd_pool(k->pool, OUT(0), IN(0), numel_out(k));
}

void weft_run_softmax(const weft_kctx *k)
{
    const weft_shape *x = SH(k->n->out[0]);
    int64_t N = x->d[x->ndim - 1];
    if (k->n->op == WEFT_OP_SOFTMAX) weft_k_softmax_fwd_pool(k->pool, OUT(0), IN(0), numel_out(k) / N, (int)N);
    else weft_k_softmax_bwd_pool(k->pool, OUT(0), IN(0), IN(1), numel_out(k) / N, (int)N);
}

void weft_run_transpose(const weft_kctx *k)
{
    int64_t d[4];
    int off;
    dims4(SH(k->n->in[0]), d, &off);
    weft_k_transpose4_pool(k->pool, OUT(0), IN(0), d, k->n->a.axis + off, k->n->a.axis2 + off);
}

void weft_run_concat(const weft_kctx *k)
{
    int64_t d[4], sizes[WEFT_MAX_IN];
    int off;
    dims4(SH(k->n->out[0]), d, &off);
    const float *xs[WEFT_MAX_IN];
    for (int i = 0; i < k->n->nin; i++) {
        xs[i] = IN(i);
        sizes[i] = SH(k->n->in[i])->d[k->n->a.axis];
    }
    weft_k_concat4(OUT(0), xs, sizes, k->n->nin, d, k->n->a.axis + off);
}

/* split: the part is the middle of three slabs; split_bwd: the inverse, with
 * zeros in the other two. */
void weft_run_split(const weft_kctx *k)
{
    bool fwd = k->n->op == WEFT_OP_SPLIT;
    const weft_shape *x = SH(fwd ? k->n->in[0] : k->n->out[0]);
    int64_t d[4];
    int off;
    dims4(x, d, &off);
    int ax = k->n->a.axis;
    int64_t sizes[3] = { k->n->a.start, k->n->a.len, x->d[ax] - k->n->a.start - k->n->a.len };
    if (fwd) {
        float *ys[3] = { NULL, OUT(0), NULL };
        weft_k_split4(ys, sizes, 3, IN(0), d, ax + off);
    } else {
        const float *xs[3] = { NULL, IN(0), NULL };
        weft_k_concat4(OUT(0), xs, sizes, 3, d, ax + off);
    }
}

/* The mask's key: (run seed, step, the forward output's id). */
void weft_run_dropout(const weft_kctx *k)
{
    int64_t n = numel_out(k);
    if (k->opts->eval || k->n->a.p <= 0) {
        if (k->out[0] != k->in[0]) memcpy(OUT(0), IN(0), (size_t)n * sizeof(float));
        return;
    }
    bool fwd = k->n->op == WEFT_OP_DROPOUT;
    weft_rng_key key = weft_rng_key_make(k->seed, (uint64_t)k->opts->step,
                                         (uint64_t)(fwd ? k->n->out[0] : k->n->a.param));
    if (fwd) weft_k_dropout_fwd_pool(k->pool, OUT(0), IN(0), n, k->n->a.p, key);
    else weft_k_dropout_bwd(OUT(0), IN(0), n, k->n->a.p, key);
}

void weft_run_bce(const weft_kctx *k)
{
    int64_t n = weft_shape_numel(SH(k->n->in[0]));
    if (k->n->op == WEFT_OP_BCE) OUT(0)[0] = weft_k_bce_logits_fwd(IN(0), IN(1), n);
    else weft_k_bce_logits_bwd(OUT(0), IN(0), IN(1), n, 1.0f);
}

/* ---- embedding bag: reads the table in its stored dtype (a raw kernel), so
 * a bf16 table is never widened whole: only the rows a batch touches. Like
 * every kernel it writes fp32; exec rounds. ---- */

static void bag_dims(const weft_kctx *k, int ids, int64_t *N, int *L)
{
    const weft_shape *s = SH(k->n->in[ids]);
    *N = s->d[0] * s->d[1];
    *L = s->ndim == 3 ? (int)s->d[2] : 1;
}

void weft_run_embbag(const weft_kctx *k)
{
    const weft_value *tab = &k->g->values[k->n->in[1]];
    int64_t N, V = tab->shape.d[0];
    int L, D = (int)tab->shape.d[1];
    bag_dims(k, 0, &N, &L);
    const int32_t *ids = k->raw_in[0];
    if (tab->dtype == WEFT_F32) {
        weft_k_embbag_fwd_pool(k->pool, k->out[0], ids, NULL, L, k->raw_in[1], N, V, D);
        return;
    }
    const weft_bf16 *t = k->raw_in[1];
    float *y = k->out[0];   /* fp32: exec rounds it to the output's dtype */
    for (int64_t b = 0; b < N; b++) {
        float *acc = y + b * D;
        for (int d = 0; d < D; d++) acc[d] = 0;
        for (int l = 0; l < L; l++) {
            int32_t id = ids[b * L + l];
            if (id < 0 || id >= V) continue;
            const weft_bf16 *row = t + (int64_t)id * D;
            for (int d = 0; d < D; d++) acc[d] += weft_bf16_to_f32(row[d]);
        }
    }
}

void weft_run_embbag_bwd(const weft_kctx *k)
{
    const weft_shape *tab = SH(k->n->in[2]);
    int64_t N;
    int L;
    bag_dims(k, 1, &N, &L);
    int64_t nnz = N * L;
    int32_t *rows = k->out[0];
    int64_t u = weft_k_embbag_bwd_sparse(rows, OUT(1), k->in[1], NULL, L, IN(0), N, tab->d[0],
                                         (int)tab->d[1], (uint64_t *)k->scratch);
    for (int64_t i = u; i < nnz; i++) rows[i] = -1;
    memset(OUT(1) + u * tab->d[1], 0, (size_t)((nnz - u) * tab->d[1]) * sizeof(float));
}

/* ---- DLRM interaction: emb (B,T,D) as T tensors of stride T*D. ------------------ */

void weft_run_dot_interact(const weft_kctx *k)
{
    bool fwd = k->n->op == WEFT_OP_DOT_INTERACT;
    const weft_shape *s = SH(k->n->in[fwd ? 1 : 2]);
    int B = (int)s->d[0], T = (int)s->d[1], D = (int)s->d[2];
    const float *emb[WEFT_INTERACT_MAX];
    float *demb[WEFT_INTERACT_MAX];
    for (int t = 0; t < T; t++) {
        emb[t] = (fwd ? IN(1) : IN(2)) + (int64_t)t * D;
        demb[t] = fwd ? NULL : OUT(1) + (int64_t)t * D;
    }
    if (fwd) weft_k_dot_interact_fwd_pool(k->pool, OUT(0), IN(0), emb, (int64_t)T * D, B, T, D);
    else weft_k_dot_interact_bwd_pool(k->pool, OUT(0), demb, IN(0), IN(1), emb, (int64_t)T * D, B, T, D);
}

/* ---- batch norm, global average pool --------------------------------------------- */

static void bn_dims(const weft_shape *x, int *N, int *C, int64_t *HW)
{
    *N = (int)x->d[0]; *C = (int)x->d[1];
    *HW = x->ndim == 4 ? x->d[2] * x->d[3] : 1;
}

void weft_run_batchnorm(const weft_kctx *k)
{
    int N, C;
    int64_t HW;
    bn_dims(SH(k->n->in[0]), &N, &C, &HW);
    const weft_node *n = k->n;
    if (!k->opts->eval) {
        weft_k_batchnorm_fwd_train_pool(k->pool, OUT(0), OUT(1), OUT(2), IN(3), IN(4), IN(0), IN(1), IN(2),
                                        N, C, HW, n->a.eps, n->a.p);
        return;
    }
    weft_k_batchnorm_fwd_eval(OUT(0), IN(0), IN(1), IN(2), IN(3), IN(4), N, C, HW, n->a.eps);
    for (int c = 0; c < C; c++) {
        OUT(1)[c] = IN(3)[c];
        OUT(2)[c] = 1.0f / sqrtf(IN(4)[c] + n->a.eps);
    }
}

void weft_run_batchnorm_bwd(const weft_kctx *k)
{
    int N, C;
    int64_t HW;
    bn_dims(SH(k->n->in[1]), &N, &C, &HW);
    weft_k_batchnorm_bwd_pool(k->pool, OUT(0), OUT(1), OUT(2), IN(0), IN(1), IN(2), IN(3), IN(4), N, C, HW);
}

void weft_run_avgpool(const weft_kctx *k)
{
    bool fwd = k->n->op == WEFT_OP_AVGPOOL;
    const weft_shape *x = SH(fwd ? k->n->in[0] : k->n->out[0]);
    int64_t planes = x->d[0] * x->d[1], hw = x->d[2] * x->d[3];
    float inv = 1.0f / (float)hw;
    for (int64_t p = 0; p < planes; p++) {
        if (fwd) {
            double s = 0;
            for (int64_t i = 0; i < hw; i++) s += IN(0)[p * hw + i];
            OUT(0)[p] = (float)s * inv;
        } else {
            float g = IN(0)[p] * inv;
            for (int64_t i = 0; i < hw; i++) OUT(0)[p * hw + i] = g;
        }
    }
}

/* ---- LSTM ------------------------------------------------------------------------- */

static void lstm_dims(const weft_kctx *k, int xi, int whh, int *T, int *B, int *I, int *H)
{
    const weft_shape *x = SH(k->n->in[xi]);
    *T = (int)x->d[0]; *B = (int)x->d[1]; *I = (int)x->d[2];
    *H = (int)SH(k->n->in[whh])->d[1];
}

void weft_run_lstm(const weft_kctx *k)
{
    int T, B, I, H;
    lstm_dims(k, 0, 2, &T, &B, &I, &H);
    weft_k_lstm_fwd_pool(k->pool, OUT(0), OUT(1), OUT(2), IN(0), NULL, NULL, IN(1), IN(2), IN(3), IN(4),
                         T, B, I, H);
}

void weft_run_lstm_bwd(const weft_kctx *k)
{
    int T, B, I, H;
    lstm_dims(k, 1, 6, &T, &B, &I, &H);
    weft_k_lstm_bwd_pool(k->pool, OUT(0), NULL, NULL, OUT(1), OUT(2), OUT(3), OUT(4), IN(0), NULL, NULL,
                         IN(3), IN(4), IN(1), IN(2), NULL, NULL, IN(5), IN(6), T, B, I, H, k->scratch);
}

int64_t weft_exec_nn_scratch(const weft_graph *g, const weft_node *n)
{
    const weft_shape *s;
    switch (n->op) {
    case WEFT_OP_EMBBAG_BWD:
        return 2 * weft_k_embedding_sparse_scratch(weft_shape_numel(&g->values[n->in[1]].shape));
    case WEFT_OP_LSTM_BWD:
        s = &g->values[n->in[1]].shape;
        return weft_k_lstm_bwd_scratch((int)s->d[0], (int)s->d[1], (int)g->values[n->in[6]].shape.d[1]);
    default: return 0;
    }
}
