/* tile.c — which nodes can be computed tile by tile along axis 0.
 *
 * A dataflow compiler gives each tile of a node (a contiguous range of rows
 * of its batch axis) to one compute unit. That is only right when row r of
 * every sliced output depends on row r of the sliced inputs alone, plus
 * operands passed whole (weights, biases, gammas, shape-only inputs); an
 * output that sums over the rows (a weight's gradient) is then the sum of
 * the tiles' parts. One table says so for every op; a missing row means one
 * tile only, which is always safe. */
#include "graph/ops.h"

typedef enum {
    TC_NONE,
    TC_AXIS,     /* transpose/concat/split: the moved axes must not include 0  */
    TC_UPDATE,   /* updates: a dense gradient, and no index-keyed rounding     */
    TC_BCAST,    /* add, mul, where: input 1 is whole when it is broadcast     */
    TC_MATMUL    /* the batched operands are those with batch dims             */
} tile_cond;

typedef struct {
    bool ok;
    unsigned batched;   /* bit i: input i is sliced along axis 0 (the rest whole) */
    unsigned partial;   /* bit j: output j is a sum over the rows (the rest sliced) */
    int rank0;          /* input 0 needs at least this many dimensions            */
    tile_cond cond;
} tile_rule;

#define ALL 0xffu   /* every input (masked by the node's count) */
#define B(i) (1u << (i))

/* Not tileable (no row):
 *   reshape            a view: it writes nothing, its rows are its base's
 *   xent, xent_bwd     mean over the batch's valid labels: each row divides
 *                      by a count the whole batch sets
 *   bce, bce_bwd       mean over the batch, the same way
 *   dot                one sum over every element (a probe loss)
 *   dropout(_bwd)      the mask is keyed by the element's index in the tensor
 *   batchnorm(_bwd)    the batch's statistics
 *   lstm(_bwd)         the batch is axis 1; axis 0 is time, a recurrence
 *   embbag(_bwd)       the gradient is sparse: unique rows over the batch */
static const tile_rule rules[WEFT_OP_COUNT] = {
    /* forward: weights, biases, gammas and tables are passed whole */
    [WEFT_OP_LINEAR]            = { true, B(0), 0, 2, TC_NONE },
    [WEFT_OP_CONV2D]            = { true, B(0), 0, 4, TC_NONE },
    [WEFT_OP_ADD]               = { true, B(0) | B(1), 0, 1, TC_BCAST },
    [WEFT_OP_MUL]               = { true, B(0) | B(1), 0, 1, TC_BCAST },
    [WEFT_OP_WHERE]             = { true, B(0) | B(1), 0, 1, TC_BCAST },
    [WEFT_OP_SCALE]             = { true, B(0), 0, 1, TC_NONE },
    [WEFT_OP_ERF]               = { true, B(0), 0, 1, TC_NONE },
    /* rows of a 2-D a (not transposed) or the batches */
    [WEFT_OP_MATMUL]            = { true, B(0) | B(1), 0, 2, TC_MATMUL },
    /* each tile's rows summed: y is a sum over the rows */
    [WEFT_OP_SUM_LEAD]          = { true, B(0), B(0), 2, TC_NONE },
    [WEFT_OP_RELU]              = { true, B(0), 0, 1, TC_NONE },
    [WEFT_OP_GELU]              = { true, B(0), 0, 1, TC_NONE },
    [WEFT_OP_SIGMOID]           = { true, B(0), 0, 1, TC_NONE },
    [WEFT_OP_TANH]              = { true, B(0), 0, 1, TC_NONE },
    /* nearest rounding (or a copy) is elementwise */
    [WEFT_OP_CAST]              = { true, B(0), 0, 1, TC_NONE },
    /* over the last axis: a 1-D input's only axis is the softmax's */
    [WEFT_OP_SOFTMAX]           = { true, B(0), 0, 2, TC_NONE },
    [WEFT_OP_MAXPOOL]           = { true, B(0), 0, 4, TC_NONE },
    [WEFT_OP_AVGPOOL]           = { true, B(0), 0, 4, TC_NONE },
    /* per row: mean and rstd (M) are sliced with y */
    [WEFT_OP_LAYERNORM]         = { true, B(0), 0, 2, TC_NONE },
    /* sequences are independent; P (B,H,T,T) is sliced with y */
    [WEFT_OP_ATTENTION]         = { true, B(0), 0, 3, TC_NONE },
    [WEFT_OP_EMBEDDING]         = { true, B(0), 0, 1, TC_NONE },
    [WEFT_OP_DOT_INTERACT]      = { true, B(0) | B(1), 0, 2, TC_NONE },
    [WEFT_OP_TRANSPOSE]         = { true, B(0), 0, 2, TC_AXIS },
    [WEFT_OP_CONCAT]            = { true, ALL, 0, 1, TC_AXIS },
    [WEFT_OP_SPLIT]             = { true, B(0), 0, 1, TC_AXIS },
    /* backward: the data gradients are sliced, the weights' summed */
    [WEFT_OP_ACT_BWD]           = { true, B(0) | B(1), 0, 1, TC_NONE },
    [WEFT_OP_LINEAR_BWD_DATA]   = { true, B(0), 0, 2, TC_NONE },
    [WEFT_OP_LINEAR_BWD_WEIGHT] = { true, B(0) | B(1), B(0) | B(1), 2, TC_NONE },
    /* x (input 2) is read for its shape: its rows are the tile's */
    [WEFT_OP_CONV2D_BWD_DATA]   = { true, B(0) | B(2), 0, 4, TC_NONE },
    [WEFT_OP_CONV2D_BWD_WEIGHT] = { true, B(0) | B(1), B(0) | B(1), 4, TC_NONE },
    [WEFT_OP_MAXPOOL_BWD]       = { true, B(0) | B(1), 0, 4, TC_NONE },
    [WEFT_OP_AVGPOOL_BWD]       = { true, B(0) | B(1), 0, 2, TC_NONE },
    [WEFT_OP_SOFTMAX_BWD]       = { true, B(0) | B(1), 0, 2, TC_NONE },
    /* dy, x, mean, rstd sliced, gamma whole; dgamma, dbeta summed */
    [WEFT_OP_LAYERNORM_BWD]     = { true, B(0) | B(1) | B(2) | B(3), B(1) | B(2), 2, TC_NONE },
    [WEFT_OP_ATTENTION_BWD]     = { true, B(0) | B(1) | B(2), 0, 3, TC_NONE },
    /* dy and ids sliced, the table (shape only) whole; dtable summed */
    [WEFT_OP_EMBEDDING_BWD]     = { true, B(0) | B(1), B(0), 1, TC_NONE },
    [WEFT_OP_DOT_INTERACT_BWD]  = { true, B(0) | B(1) | B(2), 0, 2, TC_NONE },
    [WEFT_OP_SPLIT_BWD]         = { true, B(0) | B(1), 0, 1, TC_AXIS },
    /* x (input 1) is read for its shape: its rows are the tile's; dy whole */
    [WEFT_OP_SUM_LEAD_BWD]      = { true, B(1), 0, 1, TC_NONE },
    /* updates: in place, no outputs; "rows" are the weight's, and the
     * gradient and every state have the weight's shape */
    [WEFT_OP_SGD]               = { true, ALL, 0, 1, TC_UPDATE },
    [WEFT_OP_ADAMW]             = { true, ALL, 0, 1, TC_UPDATE },
};

/* Whether the rule's condition holds; it may narrow the batched inputs. */
static bool cond_holds(const weft_graph *g, const weft_node *n, tile_cond c, unsigned *bin)
{
    const weft_shape *s0 = &g->values[n->in[0]].shape, *s1 = n->nin > 1 ? &g->values[n->in[1]].shape : s0;
    switch (c) {
    case TC_NONE: return true;
    case TC_BCAST:
        if (!weft_shape_eq(s0, s1)) *bin &= ~B(1);
        return true;
    case TC_MATMUL:
        /* a 2-D operand is shared by the batches; two 2-D ones are a product
         * whose rows are a's, unless a is stored transposed (K rows) */
        if (s0->ndim == 2 && s1->ndim == 2) { *bin = B(0); return !n->a.ta; }
        *bin = (s0->ndim > 2 ? B(0) : 0) | (s1->ndim > 2 ? B(1) : 0);
        return true;
    case TC_AXIS: return n->a.axis != 0 && (n->op != WEFT_OP_TRANSPOSE || n->a.axis2 != 0);
    case TC_UPDATE:
        /* A sparse gradient lists rows of the weight, not a slab of it; and a
         * stochastic rounding's bits are keyed by the element's index in the
         * whole tensor (kernels/optim.c), which a tile's kernel, seeing its
         * slab from 0, would renumber. */
        return !n->a.slot_rows && g->precision != WEFT_PREC_BF16_SR;
    }
    return false;
}

/* The extent of the one tile an untileable node is: d[0] of its first input
 * that has a dimension, or 1. */
static int64_t whole_rows(const weft_graph *g, const weft_node *n)
{
    for (int i = 0; i < n->nin; i++) {
        const weft_shape *s = &g->values[n->in[i]].shape;
        if (s->ndim >= 1) return s->d[0];
    }
    return 1;
}

static bool sliced_fits(const weft_value *v, int64_t rows)
{
    return v->shape.ndim >= 1 && v->shape.d[0] == rows;
}

bool weft_node_tiling(const weft_graph *g, int node, unsigned *batched_in, unsigned *partial_out, int64_t *rows)
{
    *batched_in = *partial_out = 0;
    *rows = 1;
    if (node < 0 || node >= g->nnodes) return false;
    const weft_node *n = &g->nodes[node];
    *rows = whole_rows(g, n);
    if ((unsigned)n->op >= WEFT_OP_COUNT || n->nin < 1) return false;
    const tile_rule *r = &rules[n->op];
    unsigned bin = r->batched & ((1u << n->nin) - 1), pout = r->partial & ((1u << n->nout) - 1);
    if (!r->ok || !cond_holds(g, n, r->cond, &bin)) return false;
    if (!bin || g->values[n->in[0]].shape.ndim < r->rank0) return false;
    int first = __builtin_ctz(bin);
    int64_t m = g->values[n->in[first]].shape.ndim >= 1 ? g->values[n->in[first]].shape.d[0] : 0;
    if (m < 1) return false;
    for (int i = 0; i < n->nin; i++) {
        if (!(bin & (1u << i))) continue;
        if (!sliced_fits(&g->values[n->in[i]], m)) return false;
        /* a value both sliced and passed whole would need two shapes at once */
        for (int k = 0; k < n->nin; k++)
            if (!(bin & (1u << k)) && n->in[k] == n->in[i]) return false;
    }
    for (int j = 0; j < n->nout; j++)
        if (!(pout & (1u << j)) && !sliced_fits(&g->values[n->out[j]], m)) return false;
    *batched_in = bin;
    *partial_out = pout;
    *rows = m;
    return true;
}
