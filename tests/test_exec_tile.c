/* test_exec_tile.c — running nodes tile by tile (weft_exec_run_tile) against
 * the whole-graph executor (weft_exec_run): what a dataflow compiler's
 * tiling must compute.
 *
 *   op by op   one table of single-node graphs: weft_node_tiling's claim
 *              (tileable or not, which inputs are batched, which outputs are
 *              sums over the rows) is the row's, and a node claimed tileable
 *              gives the whole node's result as 3 uneven tiles, in fp32 and
 *              in bf16; untileable nodes refuse a part of their rows.
 *   models     every zoo preset at a small size, training graph (forward,
 *              autodiff, the preset's optimizer): two steps run whole by one
 *              executor and node by node by another (same weights, same
 *              inputs), every tileable node as 3 uneven tiles. After forward
 *              and backward every value (loss, activations, gradients, batch
 *              norm's running statistics) is compared; the updates then run
 *              on the same gradients and must leave weights and optimizer
 *              state identical bit for bit (test_model says why).
 *
 * Tolerances (max |tiled - whole| / max |whole| per value):
 * fp32: 1e-5. A tile computes its rows with the same kernels, but not
 * always bit for bit: a GEMM of fewer rows may block its sums differently
 * (activations move by ~1 ulp), and the sums over rows (weight gradients)
 * are added part by part in another order. Measured: <= 2e-6 but for
 * dlrm-small's bot.4.bias.grad, 6.4e-6 (a bias gradient: a column sum of
 * 5 rows that largely cancel, so its error is relative to the summands).
 * bf16: 3e-2. Each tile's part of a weight's gradient is rounded to bf16 as
 * it is added to the sum -- one rounding per tile instead of one in all,
 * each up to 2^-9 of the running sum -- and an activation whose fp32 value
 * moved by an ulp can land on the other side of a bf16 rounding boundary
 * (2^-8 of it). Measured: <= 7.9e-3, two bf16 ulps of the largest element;
 * the tolerance leaves about 4x. */
#include "weft/exec.h"
#include "weft/models.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define TOL_F32  1e-5
#define TOL_BF16 3e-2

static const weft_optim_hp HP = { 0.05f, 0.9f, 0.01f, 0.9f, 0.999f, 1e-8f };

/* ---- shared: inputs, tiles, comparison --------------------------------------- */

/* The largest id + 1 an i32 input may hold: the rows of the table it
 * indexes, or the classes of the logits it labels. */
static int id_bound(const weft_graph *g, int v)
{
    int64_t b = INT32_MAX;
    for (int i = 0; i < g->nnodes; i++) {
        const weft_node *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++) {
            if (n->in[k] != v) continue;
            int64_t c = INT32_MAX;
            if ((n->op == WEFT_OP_EMBEDDING || n->op == WEFT_OP_EMBBAG) && k == 0)
                c = g->values[n->in[1]].shape.d[0];
            else if ((n->op == WEFT_OP_XENT || n->op == WEFT_OP_XENT_BWD) && k == 1)
                c = g->values[n->in[0]].shape.d[1];
            else if ((n->op == WEFT_OP_EMBEDDING_BWD || n->op == WEFT_OP_EMBBAG_BWD) && k == 1)
                c = g->values[n->in[2]].shape.d[0];
            if (c < b) b = c;
        }
    }
    return b == INT32_MAX ? 2 : (int)b;
}

static bool labels_xent(const weft_graph *g, int v)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == WEFT_OP_XENT && g->nodes[i].in[1] == v) return true;
    return false;
}

/* The same inputs into both executors: floats U(-1, 1), ids below their
 * bound (every fifth label -1: ignored by the cross-entropy). */
static weft_status feed_both(weft_exec *a, weft_exec *b, const weft_graph *g, uint64_t seed)
{
    for (int v = 0; v < g->nvalues; v++) {
        const weft_value *x = &g->values[v];
        if (x->role != WEFT_ROLE_INPUT) continue;
        int64_t n = weft_shape_numel(&x->shape);
        weft_rng_key key = weft_rng_key_make(seed, 1, (uint64_t)v);
        weft_status s = WEFT_OK;
        if (x->dtype == WEFT_I32) {
            int32_t *d = malloc((size_t)n * sizeof *d);
            int bound = id_bound(g, v);
            bool lab = labels_xent(g, v);
            for (int64_t i = 0; i < n; i++)
                d[i] = lab && i % 5 == 3 ? -1 : (int32_t)(weft_rng_u32(key, (uint32_t)i) % (uint32_t)bound);
            s = weft_exec_feed(a, v, d, WEFT_I32);
            if (!s) s = weft_exec_feed(b, v, d, WEFT_I32);
            free(d);
        } else {
            float *f = malloc((size_t)n * sizeof *f);
            for (int64_t i = 0; i < n; i++) f[i] = (float)(weft_rng_u32(key, (uint32_t)i) % 2000) / 1000.0f - 1.0f;
            s = weft_exec_feed(a, v, f, WEFT_F32);
            if (!s) s = weft_exec_feed(b, v, f, WEFT_F32);
            free(f);
        }
        if (s) return s;
    }
    return WEFT_OK;
}

/* Uneven tiles of `rows`: a quarter, a third, the rest (2 tiles when rows
 * is 2). start[0..k] bounds the k tiles. */
static int tiles_of(int64_t rows, int64_t *start)
{
    int64_t a = rows / 4 > 0 ? rows / 4 : 1, b = rows / 3 > 0 ? rows / 3 : 1;
    start[0] = 0;
    if (rows < 2) { start[1] = rows; return 1; }
    if (a + b >= rows) { start[1] = 1; start[2] = rows; return 2; }
    start[1] = a; start[2] = a + b; start[3] = rows;
    return 3;
}

/* Runs node i as tiles when it is tileable (rows >= 2), else whole. */
static weft_status run_node_tiled(weft_exec *ex, const weft_graph *g, int i, const weft_run_opts *o, bool *tiled)
{
    unsigned bin, pout;
    int64_t rows, st[4];
    *tiled = weft_node_tiling(g, i, &bin, &pout, &rows) && rows >= 2;
    if (!*tiled) return weft_exec_run_tile(ex, i, 0, rows, false, o);
    int k = tiles_of(rows, st);
    for (int t = 0; t < k; t++) WEFT_TRY(weft_exec_run_tile(ex, i, st[t], st[t + 1] - st[t], t > 0, o));
    return WEFT_OK;
}

/* Every value but the inputs (which both were fed): the worst relative error
 * and its value's name. */
static double compare_all(weft_exec *whole, weft_exec *tiled, const weft_graph *g, const char **worst)
{
    double w = 0;
    *worst = "-";
    for (int v = 0; v < g->nvalues; v++) {
        const weft_value *x = &g->values[v];
        if (x->role == WEFT_ROLE_INPUT) continue;
        int64_t n = weft_shape_numel(&x->shape);
        float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        double e = INFINITY;
        if (!weft_exec_read(whole, v, a) && !weft_exec_read(tiled, v, b)) e = test_rel_err(b, a, n);
        if (!(e <= w)) { w = e; *worst = x->name; }
        free(a); free(b);
    }
    return w;
}

/* Both executors over one graph, each with its own store bound from the same
 * seed; every transient value kept, so all can be compared after a run. */
typedef struct { weft_graph *g; weft_store sa, sb; weft_exec *a, *b; } pair;

static weft_status pair_make(pair *p, weft_graph *g)
{
    p->g = g; p->a = p->b = NULL;
    weft_store_init(&p->sa);
    weft_store_init(&p->sb);
    for (int v = 0; v < g->nvalues; v++) g->values[v].keep = true;
    WEFT_TRY(weft_store_bind(&p->sa, g, 11));
    WEFT_TRY(weft_store_bind(&p->sb, g, 11));
    WEFT_TRY(weft_exec_create(&p->a, g, &p->sa, 1, 5));
    return weft_exec_create(&p->b, g, &p->sb, 1, 5);
}

static void pair_free(pair *p)
{
    weft_exec_free(p->a);
    weft_exec_free(p->b);
    weft_store_free(&p->sa);
    weft_store_free(&p->sb);
    weft_graph_free(p->g);
}

/* ---- op by op ------------------------------------------------------------------- */

/* An input: 'f' float (the case's dtype), 'F' fp32 always, 'i' i32 ids
 * (below the bound id_bound finds), 'S' fp32 running statistics
 * (persistent state, zero). */
typedef struct { char kind; int ndim; int64_t d[4]; } arg;

typedef struct {
    const char *label;
    weft_op op;
    int nin;
    arg in[WEFT_MAX_IN];
    weft_attrs a;
    bool tiles;            /* the claim weft_node_tiling must make          */
    unsigned batched, partial;
    int64_t rows;          /* *rows it must report, tileable or not          */
    const char *precs;     /* policies to run: f fp32, b bf16, s bf16-sr,
                              k bf16-kahan (NULL: "fb")                      */
} op_case;

/* update nodes: the input index of each state (-1: none) */
#define SLOTS(m, v, c) .slot_m = (m), .slot_v = (v), .slot_comp = (c)
#define F2(a, b) { 'f', 2, { a, b } }
#define F3(a, b, c) { 'f', 3, { a, b, c } }
#define F4(a, b, c, d) { 'f', 4, { a, b, c, d } }
#define F1(a) { 'f', 1, { a } }

static const op_case op_cases[] = {
    { "linear", WEFT_OP_LINEAR, 3, { F2(5, 3), F2(4, 3), F1(4) }, { .has_bias = true, .act = 1 }, true, 1, 0, 5, NULL },
    { "linear_bwd_data", WEFT_OP_LINEAR_BWD_DATA, 2, { F2(5, 4), F2(4, 3) }, { 0 }, true, 1, 0, 5, NULL },
    { "linear_bwd_weight", WEFT_OP_LINEAR_BWD_WEIGHT, 2, { F2(7, 4), F2(7, 3) }, { .has_bias = true },
      true, 3, 3, 7, NULL },
    { "conv2d", WEFT_OP_CONV2D, 3, { F4(5, 2, 6, 6), F4(3, 2, 3, 3), F1(3) },
      { .has_bias = true, .act = 1, .stride = 1, .pad = 1 }, true, 1, 0, 5, NULL },
    { "conv2d_bwd_data", WEFT_OP_CONV2D_BWD_DATA, 3, { F4(5, 3, 3, 3), F4(3, 2, 3, 3), F4(5, 2, 6, 6) },
      { .stride = 2, .pad = 1 }, true, 5, 0, 5, NULL },
    { "conv2d_bwd_weight", WEFT_OP_CONV2D_BWD_WEIGHT, 2, { F4(5, 3, 6, 6), F4(5, 2, 6, 6) },
      { .stride = 1, .pad = 1, .has_bias = true }, true, 3, 3, 5, NULL },
    { "add", WEFT_OP_ADD, 2, { F2(5, 4), F2(5, 4) }, { 0 }, true, 3, 0, 5, NULL },
    { "add 1-d (a bias gradient)", WEFT_OP_ADD, 2, { F1(9), F1(9) }, { 0 }, true, 3, 0, 9, NULL },
    { "relu", WEFT_OP_RELU, 1, { F2(5, 7) }, { 0 }, true, 1, 0, 5, NULL },
    { "gelu", WEFT_OP_GELU, 1, { F3(5, 2, 7) }, { 0 }, true, 1, 0, 5, NULL },
    { "sigmoid", WEFT_OP_SIGMOID, 1, { F2(5, 7) }, { 0 }, true, 1, 0, 5, NULL },
    { "tanh", WEFT_OP_TANH, 1, { F2(5, 7) }, { 0 }, true, 1, 0, 5, NULL },
    { "act_bwd gelu", WEFT_OP_ACT_BWD, 2, { F2(5, 7), F2(5, 7) }, { .act = 2 }, true, 3, 0, 5, NULL },
    { "act_bwd sigmoid", WEFT_OP_ACT_BWD, 2, { F2(5, 7), F2(5, 7) }, { .act = 3 }, true, 3, 0, 5, NULL },
    { "softmax", WEFT_OP_SOFTMAX, 1, { F2(5, 7) }, { 0 }, true, 1, 0, 5, NULL },
    { "softmax 1-d (over the batch axis)", WEFT_OP_SOFTMAX, 1, { F1(7) }, { 0 }, false, 0, 0, 7, NULL },
    { "softmax_bwd", WEFT_OP_SOFTMAX_BWD, 2, { F2(5, 7), F2(5, 7) }, { 0 }, true, 3, 0, 5, NULL },
    { "cast to bf16", WEFT_OP_CAST, 1, { F2(5, 7) }, { .dtype = WEFT_BF16 }, true, 1, 0, 5, NULL },
    { "cast to f32", WEFT_OP_CAST, 1, { F2(5, 7) }, { .dtype = WEFT_F32 }, true, 1, 0, 5, NULL },
    { "maxpool", WEFT_OP_MAXPOOL, 1, { F4(5, 2, 6, 6) }, { .k = 2, .stride = 2 }, true, 1, 0, 5, NULL },
    { "maxpool_bwd", WEFT_OP_MAXPOOL_BWD, 2, { F4(5, 2, 3, 3), F4(5, 2, 6, 6) }, { .k = 2, .stride = 2 },
      true, 3, 0, 5, NULL },
    { "avgpool", WEFT_OP_AVGPOOL, 1, { F4(5, 2, 4, 4) }, { 0 }, true, 1, 0, 5, NULL },
    { "avgpool_bwd", WEFT_OP_AVGPOOL_BWD, 2, { F2(5, 2), F4(5, 2, 4, 4) }, { 0 }, true, 3, 0, 5, NULL },
    { "layernorm", WEFT_OP_LAYERNORM, 3, { F2(5, 6), F1(6), F1(6) }, { .eps = 1e-5f }, true, 1, 0, 5, NULL },
    { "layernorm_bwd", WEFT_OP_LAYERNORM_BWD, 5,
      { F2(5, 6), F2(5, 6), { 'F', 1, { 5 } }, { 'F', 1, { 5 } }, F1(6) }, { .eps = 1e-5f },
      true, 15, 6, 5, NULL },
    { "attention causal", WEFT_OP_ATTENTION, 1, { F3(4, 3, 12) }, { .heads = 2, .causal = true }, true, 1, 0, 4, NULL },
    { "attention with position bias", WEFT_OP_ATTENTION, 1, { F3(4, 3, 12) },
      { .heads = 2, .pos_back = 0.5f, .pos_ahead = 2.0f }, true, 1, 0, 4, NULL },
    { "attention_bwd", WEFT_OP_ATTENTION_BWD, 3, { F3(4, 3, 4), F3(4, 3, 12), F4(4, 2, 3, 3) },
      { .heads = 2, .causal = true }, true, 7, 0, 4, NULL },
    { "embedding", WEFT_OP_EMBEDDING, 2, { { 'i', 2, { 5, 3 } }, F2(7, 4) }, { 0 }, true, 1, 0, 5, NULL },
    { "embedding_bwd", WEFT_OP_EMBEDDING_BWD, 3, { F3(5, 3, 4), { 'i', 2, { 5, 3 } }, F2(7, 4) }, { 0 },
      true, 3, 1, 5, NULL },
    { "dot_interact", WEFT_OP_DOT_INTERACT, 2, { F2(5, 4), F3(5, 3, 4) }, { 0 }, true, 3, 0, 5, NULL },
    { "dot_interact_bwd", WEFT_OP_DOT_INTERACT_BWD, 3, { F2(5, 10), F2(5, 4), F3(5, 3, 4) }, { 0 },
      true, 7, 0, 5, NULL },
    { "transpose axes 1, 2", WEFT_OP_TRANSPOSE, 1, { F3(5, 3, 4) }, { .axis = 1, .axis2 = 2 }, true, 1, 0, 5, NULL },
    { "transpose axes 0, 1", WEFT_OP_TRANSPOSE, 1, { F3(5, 3, 4) }, { .axis = 0, .axis2 = 1 }, false, 0, 0, 5, NULL },
    { "concat axis 1", WEFT_OP_CONCAT, 2, { F2(5, 2), F2(5, 3) }, { .axis = 1 }, true, 3, 0, 5, NULL },
    { "concat axis 0", WEFT_OP_CONCAT, 2, { F2(5, 2), F2(3, 2) }, { .axis = 0 }, false, 0, 0, 5, NULL },
    { "split axis 1", WEFT_OP_SPLIT, 1, { F2(5, 6) }, { .axis = 1, .start = 2, .len = 3 }, true, 1, 0, 5, NULL },
    { "split axis 0", WEFT_OP_SPLIT, 1, { F2(5, 6) }, { .axis = 0, .start = 2, .len = 3 }, false, 0, 0, 5, NULL },
    { "split_bwd axis 1", WEFT_OP_SPLIT_BWD, 2, { F2(5, 3), F2(5, 6) }, { .axis = 1, .start = 2, .len = 3 },
      true, 3, 0, 5, NULL },
    /* the general math: a broadcast operand (trailing dims) is passed whole,
     * even when its first dim happens to be the rows' count */
    { "add broadcast", WEFT_OP_ADD, 2, { F3(5, 3, 4), F2(3, 4) }, { 0 }, true, 1, 0, 5, NULL },
    { "add broadcast, as many as the rows", WEFT_OP_ADD, 2, { F2(4, 4), F1(4) }, { 0 }, true, 1, 0, 4, NULL },
    { "mul", WEFT_OP_MUL, 2, { F2(5, 4), F2(5, 4) }, { 0 }, true, 3, 0, 5, NULL },
    { "mul broadcast", WEFT_OP_MUL, 2, { F3(5, 3, 4), F1(4) }, { 0 }, true, 1, 0, 5, NULL },
    { "scale", WEFT_OP_SCALE, 1, { F2(5, 7) }, { .alpha = -1.5f, .beta = 0.25f }, true, 1, 0, 5, NULL },
    { "erf", WEFT_OP_ERF, 1, { F2(5, 7) }, { 0 }, true, 1, 0, 5, NULL },
    { "act_bwd erf", WEFT_OP_ACT_BWD, 2, { F2(5, 7), F2(5, 7) }, { .act = 5 }, true, 3, 0, 5, NULL },
    { "where", WEFT_OP_WHERE, 2, { F2(5, 7), F2(5, 7) }, { .alpha = -3.0f }, true, 3, 0, 5, NULL },
    /* an f32 mask beside bf16 x in the bf16 policy */
    { "where broadcast f32 mask", WEFT_OP_WHERE, 2, { F3(5, 3, 4), { 'F', 2, { 3, 4 } } }, { .alpha = -3.0f },
      true, 1, 0, 5, NULL },
    { "matmul batched", WEFT_OP_MATMUL, 2, { F3(5, 3, 4), F3(5, 4, 2) }, { 0 }, true, 3, 0, 5, NULL },
    { "matmul 4-d", WEFT_OP_MATMUL, 2, { F4(5, 2, 3, 4), F4(5, 2, 2, 4) }, { .tb = true }, true, 3, 0, 5, NULL },
    { "matmul shared b, both transposed", WEFT_OP_MATMUL, 2, { F3(5, 4, 3), F2(2, 4) }, { .ta = true, .tb = true },
      true, 1, 0, 5, NULL },
    { "matmul shared a", WEFT_OP_MATMUL, 2, { F2(3, 4), F3(5, 4, 2) }, { 0 }, true, 2, 0, 5, NULL },
    { "matmul 2-d: a's rows", WEFT_OP_MATMUL, 2, { F2(5, 4), F2(4, 3) }, { 0 }, true, 1, 0, 5, NULL },
    { "matmul 2-d, a transposed (rows are K)", WEFT_OP_MATMUL, 2, { F2(4, 5), F2(4, 3) }, { .ta = true },
      false, 0, 0, 4, NULL },
    { "sum_lead", WEFT_OP_SUM_LEAD, 1, { F3(5, 3, 4) }, { .axis = 2 }, true, 1, 1, 5, NULL },
    { "sum_lead_bwd", WEFT_OP_SUM_LEAD_BWD, 2, { F1(4), F3(5, 3, 4) }, { .axis = 2 }, true, 2, 0, 5, NULL },
    /* the whole batch */
    { "xent", WEFT_OP_XENT, 2, { F2(5, 4), { 'i', 1, { 5 } } }, { 0 }, false, 0, 0, 5, NULL },
    { "xent_bwd", WEFT_OP_XENT_BWD, 2, { F2(5, 4), { 'i', 1, { 5 } } }, { 0 }, false, 0, 0, 5, NULL },
    { "bce", WEFT_OP_BCE, 2, { F1(5), F1(5) }, { 0 }, false, 0, 0, 5, NULL },
    { "bce_bwd", WEFT_OP_BCE_BWD, 2, { F1(5), F1(5) }, { 0 }, false, 0, 0, 5, NULL },
    { "dot", WEFT_OP_DOT, 2, { F2(5, 3), F2(5, 3) }, { 0 }, false, 0, 0, 5, NULL },
    { "dropout", WEFT_OP_DROPOUT, 1, { F2(5, 7) }, { .p = 0.5f }, false, 0, 0, 5, NULL },
    { "batchnorm", WEFT_OP_BATCHNORM, 5,
      { F4(5, 2, 3, 3), F1(2), F1(2), { 'S', 1, { 2 } }, { 'S', 1, { 2 } } }, { .eps = 1e-5f, .p = 0.1f },
      false, 0, 0, 5, NULL },
    { "embbag", WEFT_OP_EMBBAG, 2, { { 'i', 2, { 5, 3 } }, F2(7, 4) }, { 0 }, false, 0, 0, 5, NULL },
    { "reshape (a view)", WEFT_OP_RESHAPE, 1, { F2(5, 7) }, { 0 }, false, 0, 0, 5, NULL },
    { "dropout_bwd", WEFT_OP_DROPOUT_BWD, 1, { F2(5, 7) }, { .p = 0.5f, .param = 1 }, false, 0, 0, 5, NULL },
    { "batchnorm_bwd", WEFT_OP_BATCHNORM_BWD, 5,
      { F4(5, 2, 3, 3), F4(5, 2, 3, 3), { 'F', 1, { 2 } }, { 'F', 1, { 2 } }, F1(2) }, { .eps = 1e-5f },
      false, 0, 0, 5, NULL },
    { "embbag_bwd", WEFT_OP_EMBBAG_BWD, 3, { F3(5, 3, 4), { 'i', 2, { 5, 3 } }, F2(7, 4) }, { 0 },
      false, 0, 0, 5, NULL },
    { "lstm_bwd", WEFT_OP_LSTM_BWD, 7,
      { F3(3, 5, 2), F3(3, 5, 4), F3(3, 5, 2), F3(3, 5, 8), F3(3, 5, 2), F2(8, 4), F2(8, 2) }, { 0 },
      false, 0, 0, 3, NULL },
    { "lstm (batch is axis 1)", WEFT_OP_LSTM, 5, { F3(3, 5, 4), F2(8, 4), F2(8, 2), F1(8), F1(8) }, { 0 },
      false, 0, 0, 3, NULL },
    /* updates: the weight's rows; in place */
    { "sgd momentum", WEFT_OP_SGD, 3, { F2(6, 4), F2(6, 4), F2(6, 4) }, { SLOTS(2, -1, -1) }, true, 7, 0, 6, "fb" },
    { "adamw", WEFT_OP_ADAMW, 4, { F2(6, 4), F2(6, 4), F2(6, 4), F2(6, 4) }, { SLOTS(2, 3, -1) },
      true, 15, 0, 6, "fb" },
    { "adamw kahan", WEFT_OP_ADAMW, 5, { F2(6, 4), F2(6, 4), F2(6, 4), F2(6, 4), F2(6, 4) },
      { SLOTS(2, 3, 4) }, true, 31, 0, 6, "k" },
    /* a stochastic rounding's bits are keyed by the element's index */
    { "sgd stochastic rounding", WEFT_OP_SGD, 3, { F2(6, 4), F2(6, 4), F2(6, 4) }, { SLOTS(2, -1, -1) }, false, 0, 0, 6, "s" },
    { "adamw sparse rows", WEFT_OP_ADAMW, 5, { F2(7, 4), F2(3, 4), F2(7, 4), F2(7, 4), { 'i', 1, { 3 } } },
      { SLOTS(2, 3, -1), .slot_rows = 4 }, false, 0, 0, 7, "f" },
};
#define NOP_CASES ((int)(sizeof op_cases / sizeof *op_cases))

static weft_precision prec_of(char c)
{
    return c == 'b' ? WEFT_PREC_BF16 : c == 's' ? WEFT_PREC_BF16_SR : c == 'k' ? WEFT_PREC_BF16_KAHAN : WEFT_PREC_FP32;
}

/* The case's one-node graph (its inputs, then the node); returns the node
 * index (0), or -1 with the builder's error. */
static int build_case(weft_graph *g, const op_case *c, weft_precision p)
{
    g->precision = p;
    weft_dtype ft = p == WEFT_PREC_FP32 ? WEFT_F32 : WEFT_BF16;
    int in[WEFT_MAX_IN];
    for (int i = 0; i < c->nin; i++) {
        const arg *x = &c->in[i];
        weft_shape s = weft_shape_make(x->ndim, x->d);
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        weft_dtype t = x->kind == 'i' ? WEFT_I32 : x->kind == 'f' ? ft : WEFT_F32;
        in[i] = weft_g_value(g, name, x->kind == 'S' ? WEFT_ROLE_STATE : WEFT_ROLE_INPUT, t, &s);
    }
    weft_attrs a = c->a;
    if (c->op == WEFT_OP_SGD || c->op == WEFT_OP_ADAMW) a.param = in[0];
    int out[WEFT_MAX_OUT];
    weft_phase ph = c->op == WEFT_OP_SGD || c->op == WEFT_OP_ADAMW ? WEFT_PHASE_UPDATE : WEFT_PHASE_FWD;
    if (weft_g_node(g, c->op, ph, in, c->nin, &a, out, -1) < 0 && g->err) return -1;
    return 0;
}

static void test_op_table(void)
{
    weft_run_opts o = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD | WEFT_PHASE_UPDATE, .step = 2, .hp = HP };
    bool covered[WEFT_OP_COUNT] = { false };
    double top[2] = { 0, 0 };   /* the worst error: fp32, the bf16 policies */
    const char *top_at[2] = { "-", "-" };
    for (int ci = 0; ci < NOP_CASES; ci++) {
        const op_case *c = &op_cases[ci];
        covered[c->op] = true;
        for (const char *pc = c->precs ? c->precs : "fb"; *pc; pc++) {
            weft_precision p = prec_of(*pc);
            weft_graph *g = weft_graph_new();
            int node = build_case(g, c, p);
            CHECKF(node == 0, "%s: %s", c->label, weft_errmsg());
            if (node) { weft_graph_free(g); continue; }
            unsigned bin = 99, pout = 99;
            int64_t rows = -1;
            bool t = weft_node_tiling(g, node, &bin, &pout, &rows);
            CHECKF(t == c->tiles && bin == c->batched && pout == c->partial && rows == c->rows,
                   "%s (%s): tiling says %d, batched %#x, partial %#x, rows %lld; the table %d, %#x, %#x, %lld",
                   c->label, weft_precision_name(p), t, bin, pout, (long long)rows, c->tiles, c->batched,
                   c->partial, (long long)c->rows);
            pair pr;
            weft_status s = pair_make(&pr, g);
            CHECK_OK(s);
            if (!s) s = feed_both(pr.a, pr.b, g, (uint64_t)ci);
            CHECK_OK(s);
            if (s) { pair_free(&pr); continue; }
            CHECK_OK(weft_exec_run(pr.a, &o));
            bool tiled;
            CHECK_OK(run_node_tiled(pr.b, g, node, &o, &tiled));
            const char *worst;
            double e = compare_all(pr.a, pr.b, g, &worst), tol = p == WEFT_PREC_FP32 ? TOL_F32 : TOL_BF16;
            CHECKF(e <= tol, "%s (%s): tiled differs from whole by %.3g in %s", c->label, weft_precision_name(p),
                   e, worst);
            int w = p != WEFT_PREC_FP32;
            if (!(e <= top[w])) { top[w] = e; top_at[w] = c->label; }
            /* a part of an untileable node, and rows out of range, are refused */
            if (!t && rows >= 2)
                CHECK_ERR(weft_exec_run_tile(pr.b, node, 0, 1, false, &o), WEFT_ERR_ARG, NULL, "cannot be tiled");
            CHECK_ERR(weft_exec_run_tile(pr.b, node, rows - 1, 2, false, &o), WEFT_ERR_ARG, NULL, "outside");
            CHECK_ERR(weft_exec_run_tile(pr.b, node, 0, 0, false, &o), WEFT_ERR_ARG, NULL, "outside");
            CHECK_ERR(weft_exec_run_tile(pr.b, 1, 0, 1, false, &o), WEFT_ERR_ARG, NULL, "not in the graph");
            pair_free(&pr);
        }
    }
    printf("  op table: max rel error fp32 %.2e (%s), bf16 %.2e (%s)\n", top[0], top_at[0], top[1], top_at[1]);
    /* one row per op at least: adding an op means saying how it tiles */
    for (int op = 0; op < WEFT_OP_COUNT; op++)
        CHECKF(covered[op], "op %s has no row in the op table", weft_op_name((weft_op)op));
}

/* ---- models ------------------------------------------------------------------- */

typedef struct { const char *preset; weft_model_size size; int batch; } zoo_case;

/* Each preset small: uneven tiles need rows >= 3. */
static const zoo_case zoo[] = {
    { "mlp", { 0 }, 5 },
    { "cnn", { 0 }, 3 },
    { "gpt-mini", { .layers = 2, .heads = 2, .d_model = 16, .ctx = 8, .vocab = 32 }, 3 },
    { "lstm-lm", { .layers = 1, .d_model = 16, .ctx = 6, .vocab = 11 }, 3 },
    { "bert-tiny", { .layers = 2, .heads = 2, .d_model = 16, .ctx = 8, .vocab = 32 }, 3 },
    { "dlrm-small", { .d_model = 4, .vocab = 7 }, 5 },
    { "resnet", { .layers = 8, .d_model = 4 }, 3 },
};
#define NZOO ((int)(sizeof zoo / sizeof *zoo))

static weft_status build_training(weft_graph *g, const zoo_case *z, weft_precision p)
{
    const weft_model_preset *pre;
    WEFT_TRY(weft_model_find(z->preset, &pre));
    const weft_model_size *zs = &z->size;
    bool sized = zs->layers || zs->heads || zs->d_model || zs->ctx || zs->vocab;
    weft_model_io io;
    WEFT_TRY(weft_model_build_sized(g, z->preset, z->batch, sized ? zs : NULL, &io));
    WEFT_TRY(weft_pass_precision(g, p));
    WEFT_TRY(weft_pass_autodiff(g, io.loss));
    return weft_pass_optimizer(g, pre->optimizer);
}

/* Runs the nodes of the phases in o one by one, tileable ones in tiles;
 * counts the nodes run and those tiled. */
static weft_status run_tiled(weft_exec *ex, const weft_graph *g, const weft_run_opts *o, int *nrun, int *ntiled)
{
    for (int i = 0; i < g->nnodes; i++) {
        if (!(g->nodes[i].phase & o->phases)) continue;
        bool tiled;
        WEFT_TRY(run_node_tiled(ex, g, i, o, &tiled));
        ++*nrun;
        *ntiled += tiled;
    }
    return WEFT_OK;
}

/* The values the updates read that are not persistent (the gradients), from
 * the whole run into the tiled one, byte for byte. */
static weft_status sync_update_inputs(weft_exec *from, weft_exec *to, const weft_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        const weft_node *n = &g->nodes[i];
        if (n->phase != WEFT_PHASE_UPDATE) continue;
        for (int k = 0; k < n->nin; k++) {
            const weft_value *x = &g->values[n->in[k]];
            if (x->role != WEFT_ROLE_PARAM && x->role != WEFT_ROLE_STATE)
                WEFT_TRY(weft_exec_feed(to, n->in[k], weft_exec_ptr(from, n->in[k]), x->dtype));
        }
    }
    return WEFT_OK;
}

/* Whether the values the updates wrote (weights, optimizer state) are the
 * same bytes in both runs. (Batch norm's running statistics are written by
 * the forward pass, from activations: compare_all covers them.) */
static bool same_updates(weft_exec *a, weft_exec *b, const weft_graph *g, const char **differs)
{
    for (int i = 0; i < g->nnodes; i++) {
        const weft_node *n = &g->nodes[i];
        if (n->phase != WEFT_PHASE_UPDATE) continue;
        for (int k = 0; k < n->nin; k++) {
            const weft_value *x = &g->values[n->in[k]];
            size_t bytes = (size_t)weft_shape_numel(&x->shape) * weft_dtype_size(x->dtype);
            if ((x->role == WEFT_ROLE_PARAM || x->role == WEFT_ROLE_STATE) &&
                memcmp(weft_exec_ptr(a, n->in[k]), weft_exec_ptr(b, n->in[k]), bytes)) {
                *differs = x->name;
                return false;
            }
        }
    }
    return true;
}

/* Two training steps of one preset, whole and node by node in tiles. Each
 * step: forward and backward, every value compared; then the updates, on
 * the same gradients (copied from the whole run), must leave weights and
 * state identical bit for bit. Why copy: AdamW divides each gradient by its
 * own running magnitude, so an element whose exact gradient is 0 (the key
 * bias of attention: softmax ignores a score added to every key) steps by
 * about +-lr on the sign of its rounding noise, and summing the rows in
 * another order changes that noise; the updated weights would then differ
 * by 2 lr where the gradients agree to 1e-7. An update is elementwise, so
 * with the same gradient its tiles must match exactly; and the next step
 * starts from the same weights. */
static void test_model(const zoo_case *z, weft_precision p, double tol)
{
    weft_graph *g = weft_graph_new();
    weft_status s = build_training(g, z, p);
    CHECKF(s == WEFT_OK, "%s: %s", z->preset, weft_errmsg());
    if (s) { weft_graph_free(g); return; }
    pair pr;
    s = pair_make(&pr, g);
    CHECK_OK(s);
    int nrun = 0, ntiled = 0;
    double worst_e = 0;
    const char *worst_v = "-", *upd_v = NULL;
    for (int64_t step = 1; step <= 2 && !s; step++) {
        weft_run_opts o = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = step, .hp = HP };
        weft_run_opts u = o;
        u.phases = WEFT_PHASE_UPDATE;
        s = feed_both(pr.a, pr.b, g, (uint64_t)step);
        if (!s) s = weft_exec_run(pr.a, &o);
        if (!s) s = run_tiled(pr.b, g, &o, &nrun, &ntiled);
        CHECK_OK(s);
        if (s) break;
        const char *wv;
        double e = compare_all(pr.a, pr.b, g, &wv);
        if (!(e <= worst_e)) { worst_e = e; worst_v = wv; }
        s = sync_update_inputs(pr.a, pr.b, g);
        if (!s) s = weft_exec_run(pr.a, &u);
        if (!s) s = run_tiled(pr.b, g, &u, &nrun, &ntiled);
        CHECK_OK(s);
        if (!upd_v) same_updates(pr.a, pr.b, g, &upd_v);
    }
    CHECKF(worst_e <= tol, "%s (%s): tiled differs from whole by %.3g in %s", z->preset, weft_precision_name(p),
           worst_e, worst_v);
    CHECKF(!upd_v, "%s (%s): tiled updates differ from whole ones in %s", z->preset, weft_precision_name(p),
           upd_v ? upd_v : "");
    printf("  %-10s %-5s %3d of %3d nodes tiled; max rel error %.2e (%s); updates %s\n", z->preset,
           weft_precision_name(p), ntiled / 2, nrun / 2, worst_e, worst_v, upd_v ? "DIFFER" : "identical");
    pair_free(&pr);
}

static void test_models(void)
{
    /* every preset has a small size here */
    for (const weft_model_preset *p = weft_model_presets(); p->name; p++) {
        bool found = false;
        for (int i = 0; i < NZOO; i++) found |= !strcmp(zoo[i].preset, p->name);
        CHECKF(found, "preset %s has no row in the zoo table", p->name);
    }
    for (int i = 0; i < NZOO; i++) test_model(&zoo[i], WEFT_PREC_FP32, TOL_F32);
    for (int i = 0; i < NZOO; i++) test_model(&zoo[i], WEFT_PREC_BF16, TOL_BF16);
}

int main(void)
{
    test_op_table();
    test_models();
    return test_summary();
}
