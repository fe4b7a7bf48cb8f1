/* weft/graph.h — the static dataflow graph: values, nodes, builder with shape
 * inference, verifier, text dump, precision pass, autodiff, optimizer nodes,
 * memory planner, and the store of persistent tensors. DESIGN.md section 4.
 * The graph knows nothing of threads, kernels or fabrics. */
#ifndef WEFT_GRAPH_H
#define WEFT_GRAPH_H

#include "weft/num.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_MAX_DIMS 6
#define WEFT_MAX_IN   8
#define WEFT_MAX_OUT  6
#define WEFT_NAME_MAX 64
#define WEFT_INTERACT_MAX 512  /* dot_interact: most embedded features */
#define WEFT_STR_(x) #x
#define WEFT_STR(x) WEFT_STR_(x)

typedef struct { int ndim; int64_t d[WEFT_MAX_DIMS]; } weft_shape;
weft_shape weft_shape_make(int ndim, const int64_t *d);
int64_t weft_shape_numel(const weft_shape *s);
bool weft_shape_eq(const weft_shape *a, const weft_shape *b);
/* "[64,1,28,28]" into buf (returns buf). */
char *weft_shape_str(const weft_shape *s, char *buf, size_t n);

typedef enum {
    WEFT_ROLE_INPUT,    /* fed by the caller each step (images, labels)         */
    WEFT_ROLE_PARAM,    /* trainable weight, persistent (lives in the store)    */
    WEFT_ROLE_STATE,    /* optimizer state / compensation, persistent           */
    WEFT_ROLE_ACT,      /* activation or temporary, planned in the arena        */
    WEFT_ROLE_GRAD,     /* gradient, planned in the arena                        */
    WEFT_ROLE_LOSS      /* the scalar loss (kept fp32: a metric), in the arena  */
} weft_role;

typedef enum { WEFT_INIT_NONE, WEFT_INIT_ZERO, WEFT_INIT_UNIFORM, WEFT_INIT_ONE, WEFT_INIT_NORMAL } weft_init;

typedef struct {
    char name[WEFT_NAME_MAX];
    weft_shape shape;
    weft_dtype dtype;
    weft_role role;
    int producer;        /* node index, -1 for inputs and persistent values      */
    int grad;            /* value id of d(loss)/d(this), -1 when none             */
    int alias_of;        /* a view (reshape) shares this value's bytes; -1 none   */
    bool keep;           /* must survive to the end of a run (outputs)            */
    bool fixed;          /* STATE read as data (an imported model's constant):
                            never trained, held in the compute precision (bf16
                            under every policy but fp32, as activations are)    */
    weft_init init;      /* persistent values: how the store initialises them     */
    float init_bound;    /* UNIFORM: U(-bound, bound); NORMAL: N(0, bound^2)       */
    int64_t offset;      /* arena byte offset, set by the planner (-1: not in it) */
} weft_value;

typedef enum {
    /* forward */
    WEFT_OP_LINEAR,          /* x (M,K), w (N,K), [b (N)] -> y (M,N); attr act          */
    WEFT_OP_ADD,             /* a, b -> y (a's shape): b has a's shape, or a's trailing dims
                                (broadcast over a's leading ones)                     */
    WEFT_OP_RELU,            /* x -> y                                                    */
    WEFT_OP_GELU,            /* x -> y (erf form)                                          */
    WEFT_OP_CONV2D,          /* x (N,C,H,W), w (OC,C,KH,KW), [b (OC)] -> y; stride, pad, act */
    WEFT_OP_MAXPOOL,         /* x (N,C,H,W) -> y; attr k (window), stride                  */
    WEFT_OP_RESHAPE,         /* x -> y, same numel, a view                                 */
    WEFT_OP_XENT,            /* logits (M,C), labels (M) i32 -> loss () fp32, batch mean   */
    WEFT_OP_CAST,            /* x -> y in another dtype (rounded to nearest)               */
    WEFT_OP_DOT,             /* a, b (same shape) -> sum(a*b) () fp32: a probe loss whose
                                gradient w.r.t. a is b (tests inject upstream gradients) */
    WEFT_OP_EMBEDDING,       /* ids (...) i32, table (V,D) -> y (..., D)                     */
    WEFT_OP_LAYERNORM,       /* x (M,D), gamma (D), beta (D) -> y (M,D), mean (M) f32,
                                rstd (M) f32 (saved for backward); attr eps           */
    WEFT_OP_ATTENTION,       /* qkv (B,T,3D) -> y (B,T,D), P (B,H,T,T) (saved softmax);
                                attrs heads, causal; q, k, v are qkv's thirds, heads
                                are D/heads-wide slices, as PyTorch's split + view */
    WEFT_OP_SIGMOID,         /* x -> y                                                    */
    WEFT_OP_TANH,            /* x -> y                                                    */
    WEFT_OP_SOFTMAX,         /* x (..., N) -> y, softmax over the last dim                */
    WEFT_OP_TRANSPOSE,       /* x (<= 4-D) -> y with axes a.axis and a.axis2 exchanged    */
    WEFT_OP_CONCAT,          /* x0, x1, ... -> y, joined along a.axis                     */
    WEFT_OP_SPLIT,           /* x -> one part of a split: the slab [a.start, a.start+a.len)
                                along a.axis (a split into k parts is k split nodes)  */
    WEFT_OP_DROPOUT,         /* x -> y, zeroing with probability a.p from the counter RNG
                                keyed by (run seed, step, y's id); identity in eval    */
    WEFT_OP_BCE,             /* logits (N), targets (N) float -> loss () f32: mean binary
                                cross-entropy with logits                              */
    WEFT_OP_EMBBAG,          /* ids (B,F[,L]) i32, table (V,D) -> y (B,F,D): bag (b,f) sums
                                its L rows; the table's gradient is sparse             */
    WEFT_OP_DOT_INTERACT,    /* dense (B,D), emb (B,T,D) -> y (B, D + F(F-1)/2), F = T+1:
                                DLRM's pairwise dot interaction                        */
    WEFT_OP_BATCHNORM,       /* x (N,C[,H,W]), gamma, beta (C), running mean, var (C) f32
                                STATE -> y, mean (C) f32, rstd (C) f32; training uses
                                the batch's statistics and updates the running ones
                                (momentum a.p), eval uses the running ones; attr eps   */
    WEFT_OP_AVGPOOL,         /* x (N,C,H,W) -> y (N,C): global average pool               */
    WEFT_OP_LSTM,            /* x (T,B,I), w_ih (4H,I), w_hh (4H,H), b_ih, b_hh (4H) ->
                                y (T,B,H), gates (T,B,4H), cells (T,B,H) (saved); zero
                                initial state; torch.nn.LSTM's gate order i, f, g, o   */
    WEFT_OP_MUL,             /* a, b -> y = a*b, b broadcast as add's                      */
    WEFT_OP_SCALE,           /* x -> y = a.alpha * x + a.beta                               */
    WEFT_OP_MATMUL,          /* a (..., M, K), b (..., K, N) -> y (..., M, N): batched
                                products, 2-D to 4-D; a.ta / a.tb: a is stored (..., K, M)
                                / b (..., N, K); leading dims equal, or one operand 2-D
                                (shared by every batch of the other)                  */
    WEFT_OP_ERF,             /* x -> y = erf(x)                                           */
    WEFT_OP_WHERE,           /* x, mask -> y = mask != 0 ? x : a.alpha (may be -inf); mask
                                float, x's shape or its trailing dims; no gradient    */
    WEFT_OP_SUM_LEAD,        /* x (L1..Lk, T...) -> y (T...): the sum over the first
                                k = a.axis dims (1 <= k < x's rank)                   */
    /* backward */
    WEFT_OP_ACT_BWD,         /* dy, saved -> dx; attr act (relu, sigmoid, tanh: saved = y;
                                gelu, erf: saved = x)                                 */
    WEFT_OP_LINEAR_BWD_DATA, /* dy (M,N), w (N,K) -> dx (M,K)                                */
    WEFT_OP_LINEAR_BWD_WEIGHT, /* dy (M,N), x (M,K) -> dw (N,K), [db (N)]                    */
    WEFT_OP_CONV2D_BWD_DATA, /* dy, w, x (for its shape only) -> dx; stride, pad             */
    WEFT_OP_CONV2D_BWD_WEIGHT, /* dy, x -> dw, [db]                                          */
    WEFT_OP_MAXPOOL_BWD,     /* dy, x -> dx                                                  */
    WEFT_OP_XENT_BWD,        /* logits, labels -> dlogits (of the loss itself: dloss = 1)     */
    WEFT_OP_EMBEDDING_BWD,   /* dy (..., D), ids, table (shape only) -> dtable (V,D)         */
    WEFT_OP_LAYERNORM_BWD,   /* dy, x, mean, rstd, gamma -> dx, dgamma, dbeta                */
    WEFT_OP_ATTENTION_BWD,   /* dy (B,T,D), qkv, P -> dqkv (B,T,3D)                          */
    WEFT_OP_SOFTMAX_BWD,     /* dy, y -> dx                                                  */
    WEFT_OP_SPLIT_BWD,       /* dy (the part), x (shape only) -> dx: dy in its slab, 0 elsewhere */
    WEFT_OP_DROPOUT_BWD,     /* dy -> dx, the forward's mask (key: a.param = its output's id) */
    WEFT_OP_BCE_BWD,         /* logits, targets -> dlogits                                   */
    WEFT_OP_EMBBAG_BWD,      /* dy (B,F,D), ids, table (shape only) -> rows (n) i32, grad (n,D):
                                the sparse gradient, n = ids' count: the touched rows
                                ascending and unique, then -1 (unused)              */
    WEFT_OP_DOT_INTERACT_BWD, /* dy, dense, emb -> ddense, demb                              */
    WEFT_OP_BATCHNORM_BWD,   /* dy, x, mean, rstd, gamma -> dx, dgamma, dbeta                */
    WEFT_OP_AVGPOOL_BWD,     /* dy (N,C), x (shape only) -> dx                               */
    WEFT_OP_LSTM_BWD,        /* dy, x, y, gates, cells, w_ih, w_hh -> dx, dw_ih, dw_hh, db_ih,
                                db_hh                                                       */
    WEFT_OP_SUM_LEAD_BWD,    /* dy (T...), x (L1..Lk, T...) (shape only) -> dx: dy repeated over
                                x's k = a.axis leading dims                              */
    /* update (mutate their inputs in place; no outputs) */
    WEFT_OP_SGD,             /* w, g, [m], [comp], [rows]                                     */
    WEFT_OP_ADAMW,           /* w, g, m, v, [comp], [rows]; with rows (slot_rows) the gradient
                                is sparse (n,D): only the listed rows of w and of its
                                state are updated (lazy, as torch.optim.SparseAdam)  */
    WEFT_OP_COUNT
} weft_op;

typedef enum { WEFT_PHASE_FWD = 1, WEFT_PHASE_BWD = 2, WEFT_PHASE_UPDATE = 4 } weft_phase;

typedef struct {
    int act;             /* 0 none, 1 relu, 2 gelu; act_bwd also 3 sigmoid, 4 tanh, 5 erf */
    int stride, pad;     /* conv, pool                                      */
    int k;               /* pool window                                     */
    bool has_bias;       /* linear / conv: last input is the bias           */
    int slot_m, slot_v, slot_comp; /* update nodes: input index of each state, -1 absent */
    int slot_rows;       /* update nodes: input index of a sparse gradient's rows, or 0 */
    int param;           /* update nodes: value id of the weight (RNG stream) */
    int dtype;           /* cast: the target weft_dtype                      */
    int heads;           /* attention: number of heads                       */
    bool causal;         /* attention: query i sees keys j <= i only         */
    float pos_back, pos_ahead; /* attention: position-bias slopes (0: none) on keys
                                  before / after the query for even heads; odd
                                  heads mirrored (weft_g_attention_pos) */
    float eps;           /* layer norm, batch norm                           */
    float p;             /* dropout probability; batch norm momentum          */
    int axis, axis2;     /* transpose, concat, split; sum_lead: axis = the leading
                            dims summed                                       */
    int64_t start, len;  /* split: the part's slab along axis                */
    float alpha, beta;   /* scale: y = alpha*x + beta; where: alpha is the fill value */
    bool ta, tb;         /* matmul: use a^T / b^T (last two axes)             */
} weft_attrs;

typedef struct {
    weft_op op;
    weft_phase phase;
    int origin;          /* backward nodes: the forward node autodiff was
                            differentiating when it appended this one; else -1 */
    int stage;           /* pipeline stage (weft_pipe_partition), 0 when not cut */
    int nin, nout;
    int in[WEFT_MAX_IN];
    int out[WEFT_MAX_OUT];
    weft_attrs a;
} weft_node;

typedef enum { WEFT_OPT_SGD, WEFT_OPT_ADAMW } weft_optimizer;

typedef struct weft_graph {
    weft_value *values; int nvalues, cap_values;
    weft_node *nodes;   int nnodes, cap_nodes;
    weft_precision precision;
    weft_optimizer optimizer;
    int loss;                 /* value id of the loss, -1 until set              */
    weft_status err;          /* first builder error (sticky), WEFT_OK if none   */
    char errmsg[512];
    int64_t arena_bytes;      /* planner: arena size = peak bytes                 */
    bool planned;
} weft_graph;

weft_graph *weft_graph_new(void);
void weft_graph_free(weft_graph *g);
/* The first builder error, with its message (also left in weft_errmsg()). */
weft_status weft_graph_status(const weft_graph *g);

const char *weft_op_name(weft_op op);
/* Parses an op name as printed by the dump. */
bool weft_op_parse(const char *s, weft_op *out);

/* ---- builder: each call infers shapes; on error it returns -1, records the
 * first error in the graph and later calls return -1 too. ---------------- */
int weft_g_input(weft_graph *g, const char *name, weft_dtype t, int ndim, const int64_t *d);
int weft_g_param(weft_graph *g, const char *name, int ndim, const int64_t *d, float init_bound);
/* A parameter with another initialisation (ZERO, ONE, UNIFORM, NORMAL). */
int weft_g_param_init(weft_graph *g, const char *name, int ndim, const int64_t *d, weft_init init, float scale);
int weft_g_linear(weft_graph *g, int x, int w, int b, int act);
int weft_g_add(weft_graph *g, int a, int b);
int weft_g_relu(weft_graph *g, int x);
int weft_g_gelu(weft_graph *g, int x);
int weft_g_conv2d(weft_graph *g, int x, int w, int b, int stride, int pad, int act);
int weft_g_maxpool(weft_graph *g, int x, int k, int stride);
int weft_g_reshape(weft_graph *g, int x, int ndim, const int64_t *d);
int weft_g_xent(weft_graph *g, int logits, int labels);
int weft_g_dot(weft_graph *g, int a, int b);
int weft_g_embedding(weft_graph *g, int ids, int table);
/* Returns y; the saved statistics are the node's other outputs. */
int weft_g_layernorm(weft_graph *g, int x, int gamma, int beta, float eps);
int weft_g_attention(weft_graph *g, int qkv, int heads, bool causal);
/* Attention with a linear position bias on its scores (ALiBi, Press et al.
 * 2022, with a slope per direction): even heads subtract back * (i - j)
 * from query i's score for an earlier key j and ahead * (j - i) for a later
 * one; odd heads swap the two, so a pair of heads looks mainly left and
 * mainly right. Fixed, not learned. */
int weft_g_attention_pos(weft_graph *g, int qkv, int heads, bool causal, float back, float ahead);
int weft_g_sigmoid(weft_graph *g, int x);
int weft_g_tanh(weft_graph *g, int x);
int weft_g_softmax(weft_graph *g, int x);
int weft_g_transpose(weft_graph *g, int x, int a, int b);
int weft_g_concat(weft_graph *g, const int *xs, int n, int axis);
int weft_g_split(weft_graph *g, int x, int axis, int64_t start, int64_t len);
int weft_g_dropout(weft_graph *g, int x, float p);
int weft_g_bce(weft_graph *g, int logits, int targets);
int weft_g_embbag(weft_graph *g, int ids, int table);
int weft_g_dot_interact(weft_graph *g, int dense, int emb);
/* Adds the running statistics "<name>.running_mean"/"running_var" (STATE,
 * f32, 0 and 1) and returns y. */
int weft_g_batchnorm(weft_graph *g, const char *name, int x, int gamma, int beta, float eps, float momentum);
int weft_g_avgpool(weft_graph *g, int x);
int weft_g_lstm(weft_graph *g, int x, int w_ih, int w_hh, int b_ih, int b_hh);
/* General math, for imported models (ONNX). mul: a*b, b broadcast as add's. */
int weft_g_mul(weft_graph *g, int a, int b);
/* y = alpha*x + beta. */
int weft_g_scale(weft_graph *g, int x, float alpha, float beta);
/* y = op(a) op(b) per batch, op a transpose of the last two axes where ta/tb. */
int weft_g_matmul(weft_graph *g, int a, int b, bool ta, bool tb);
int weft_g_erf(weft_graph *g, int x);
/* y = mask != 0 ? x : fill (fill may be -INFINITY: an attention mask before a
 * softmax). mask: f32 or bf16, x's shape or its trailing dims; a constant
 * mask is a STATE value. No gradient reaches mask. */
int weft_g_where(weft_graph *g, int x, int mask, float fill);
/* The sum over x's first nlead dims. */
int weft_g_sum_lead(weft_graph *g, int x, int nlead);
/* Low level: appends a node whose output shapes are inferred by the op table. */
int weft_g_node(weft_graph *g, weft_op op, weft_phase ph, const int *in, int nin,
                const weft_attrs *a, int *out, int nout_expected);
int weft_g_value(weft_graph *g, const char *name, weft_role r, weft_dtype t, const weft_shape *s);

/* ---- passes ----------------------------------------------------------------- */
/* Checks every node: input/output counts, ids in range, dtypes and shapes as
 * the op table infers them, a value produced once, topological order. */
weft_status weft_graph_verify(const weft_graph *g);
/* Human-readable listing: one line per value and per node. */
void weft_graph_dump(const weft_graph *g, FILE *f);
/* Sets dtypes per policy: bf16 compute policies make every float activation,
 * input and gradient bf16; pure bf16 policies make parameters bf16 too; mixed
 * keeps fp32 master parameters and inserts a CAST to a bf16 copy before use.
 * The loss stays fp32. Run on the forward graph, before autodiff. */
weft_status weft_pass_precision(weft_graph *g, weft_precision p);
/* Appends the backward nodes of the loss (a scalar): every parameter gets a
 * gradient value. Values used several times get their gradients summed. */
weft_status weft_pass_autodiff(weft_graph *g, int loss);
/* Appends one update node per parameter, with its state values (momentum;
 * Adam m, v; Kahan compensation for bf16-kahan) as persistent STATE values
 * named "<param>.<state>". */
weft_status weft_pass_optimizer(weft_graph *g, weft_optimizer opt);
/* Splits forward node i into pieces[i] nodes (1: keep it; at most
 * WEFT_MAX_IN squared) on slabs of its data input's first axis, joined by a concat
 * — the same values, in pieces a pipeline can put on different stages.
 * Rebuilds g (before autodiff); vmap (the old nvalues entries) gets each old
 * value's new id (-1: a split node's saved statistics, now per piece). */
weft_status weft_pass_split_batch(weft_graph *g, const int *pieces, int *vmap);
/* A forward node with independent rows that the pass can split. */
bool weft_node_batch_splittable(const weft_graph *g, int node);
/* Assigns arena offsets by liveness (first write to last read, in node order;
 * views share their base's bytes; `keep` values live to the end). */
weft_status weft_pass_plan_memory(weft_graph *g);

/* Estimated work of one node, for partitioners and cost models: floating-
 * point operations (a multiply-add is 2) and bytes its inputs and outputs
 * occupy. Estimates, not measurements (graph/cost.c states the formulas). */
int64_t weft_node_flops(const weft_graph *g, const weft_node *n);
int64_t weft_node_bytes(const weft_graph *g, const weft_node *n);

/* Number of trainable parameters (elements). */
int64_t weft_graph_param_count(const weft_graph *g);
/* Number of state tensors per parameter the optimizer keeps (SGD 1, AdamW 2). */
int weft_optimizer_nstates(weft_optimizer o);

/* ---- the store: persistent tensors (parameters, optimizer state), by name.
 * Backends bind a graph's PARAM/STATE values to it; checkpoints save it. ---- */
typedef struct {
    char name[WEFT_NAME_MAX];
    weft_dtype dtype;
    weft_shape shape;
    void *data;
    size_t nbytes;
} weft_tensor;

typedef struct {
    weft_tensor *t; int n, cap;
} weft_store;

void weft_store_init(weft_store *s);
void weft_store_free(weft_store *s);
weft_tensor *weft_store_find(weft_store *s, const char *name);
/* Adds (zeroed) or returns the existing tensor; an existing one must match. */
weft_status weft_store_get(weft_store *s, const char *name, weft_dtype t,
                           const weft_shape *shape, weft_tensor **out);
/* Makes every PARAM/STATE value of g present in the store, initialising new
 * ones from (seed, value name) per their init spec — the same weights for the
 * same seed whatever the policy (bf16 policies round them once to nearest). */
weft_status weft_store_bind(weft_store *s, const weft_graph *g, uint64_t seed);

/* ---- tiling (graph/tile.c): computing one node as tiles of rows ----------
 * A tile is a contiguous range of rows of the node's batch axis (axis 0);
 * the dataflow compiler gives each to one compute unit. Returns true when
 * the node can be computed tile by tile: *rows is the batch extent (d[0] of
 * its batched operands; for an update, the weight's rows); bit i of
 * *batched_in is set for each input sliced along axis 0 (the others --
 * weights, biases, gammas, shape-only inputs -- are passed whole); bit j of
 * *partial_out for each output that is a sum over the rows (a weight's
 * gradient: each tile computes its part); the other outputs are sliced.
 * Returns false when the result depends on the whole batch (or the node
 * cannot be sliced safely): then it is one tile, and *rows is that tile's
 * extent (d[0] of its first input with a dimension, or 1); both masks 0. */
bool weft_node_tiling(const weft_graph *g, int node, unsigned *batched_in, unsigned *partial_out, int64_t *rows);

#ifdef __cplusplus
}
#endif
#endif
