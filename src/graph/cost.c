/* cost.c — how much work a node is, estimated from its shapes alone: the
 * pipeline partitioner balances stages with it before anything has run.
 *
 * FLOPs count a multiply-add as 2. GEMM-shaped ops (linear, convolution and
 * their backward halves, attention's two batched products, the LSTM's gate
 * products, matmul's batches) are 2·M·N·K; everything else is a few
 * operations per element of its largest tensor. Bytes are what the node's inputs and outputs
 * occupy as stored. These are estimates: `weft pipeline --balance measured`
 * replaces them with timed runs. */
#include "graph/ops.h"

static int64_t numel(const weft_graph *g, int v) { return weft_shape_numel(&g->values[v].shape); }
static const weft_shape *shp(const weft_graph *g, int v) { return &g->values[v].shape; }

/* Convolution: 2 · output elements · (C · KH · KW), whichever half it is. */
static int64_t conv_flops(const weft_graph *g, const weft_node *n)
{
    int w = n->op == WEFT_OP_CONV2D_BWD_WEIGHT ? -1 : n->in[1];
    const weft_shape *y, *x;
    if (n->op == WEFT_OP_CONV2D) { y = shp(g, n->out[0]); x = shp(g, n->in[0]); }
    else { y = shp(g, n->in[0]); x = shp(g, n->op == WEFT_OP_CONV2D_BWD_DATA ? n->in[2] : n->in[1]); }
    int64_t ck = x->d[1];
    if (w >= 0) ck *= shp(g, w)->d[2] * shp(g, w)->d[3];
    else ck *= shp(g, n->out[0])->d[2] * shp(g, n->out[0])->d[3];
    return 2 * weft_shape_numel(y) * ck;
}

int64_t weft_node_flops(const weft_graph *g, const weft_node *n)
{
    int64_t big = 0;
    for (int i = 0; i < n->nin; i++) if (numel(g, n->in[i]) > big) big = numel(g, n->in[i]);
    for (int j = 0; j < n->nout; j++) if (numel(g, n->out[j]) > big) big = numel(g, n->out[j]);
    switch (n->op) {
    case WEFT_OP_LINEAR: {
        const weft_shape *x = shp(g, n->in[0]), *w = shp(g, n->in[1]);
        return 2 * x->d[0] * x->d[1] * w->d[0];
    }
    case WEFT_OP_LINEAR_BWD_DATA: case WEFT_OP_LINEAR_BWD_WEIGHT: {
        /* dy (M,N) with w (N,K) or x (M,K): K is input 1's last dimension */
        const weft_shape *dy = shp(g, n->in[0]), *o = shp(g, n->in[1]);
        return 2 * dy->d[0] * dy->d[1] * o->d[1];
    }
    case WEFT_OP_CONV2D: case WEFT_OP_CONV2D_BWD_DATA: case WEFT_OP_CONV2D_BWD_WEIGHT:
        return conv_flops(g, n);
    case WEFT_OP_ATTENTION: case WEFT_OP_ATTENTION_BWD: {
        /* QK^T and PV: 2 · B · T · T · D each; the backward does twice that. */
        const weft_shape *q = shp(g, n->op == WEFT_OP_ATTENTION ? n->in[0] : n->in[1]);
        int64_t B = q->d[0], T = q->d[1], D = q->d[2] / 3;
        return (n->op == WEFT_OP_ATTENTION ? 4 : 8) * B * T * T * D;
    }
    case WEFT_OP_LSTM: case WEFT_OP_LSTM_BWD: {
        int xi = n->op == WEFT_OP_LSTM ? 0 : 1, wi = n->op == WEFT_OP_LSTM ? 1 : 5;
        const weft_shape *x = shp(g, n->in[xi]), *w = shp(g, n->in[wi]);
        int64_t T = x->d[0], B = x->d[1], H4 = w->d[0], I = x->d[2], H = H4 / 4;
        return (n->op == WEFT_OP_LSTM ? 2 : 4) * T * B * H4 * (I + H);
    }
    case WEFT_OP_MATMUL: {
        /* y (..., M, N): 2 · K per output element */
        const weft_shape *a = shp(g, n->in[0]);
        return 2 * numel(g, n->out[0]) * a->d[a->ndim - (n->a.ta ? 2 : 1)];
    }
    case WEFT_OP_RESHAPE:
        return 0;
    default:
        return 4 * big;
    }
}

int64_t weft_node_bytes(const weft_graph *g, const weft_node *n)
{
    int64_t b = 0;
    for (int i = 0; i < n->nin; i++) b += numel(g, n->in[i]) * (int64_t)weft_dtype_size(g->values[n->in[i]].dtype);
    for (int j = 0; j < n->nout; j++) b += numel(g, n->out[j]) * (int64_t)weft_dtype_size(g->values[n->out[j]].dtype);
    return n->op == WEFT_OP_RESHAPE ? 0 : b;
}
