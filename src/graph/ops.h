/* ops.h — the op table: one row per op says how many inputs and outputs it
 * has, how its output shapes and dtypes follow from its inputs, and how its
 * backward is built. Adding an op is one row here and one in exec's table. */
#ifndef WEFT_GRAPH_OPS_H
#define WEFT_GRAPH_OPS_H

#include "weft/graph.h"

typedef weft_status (*weft_infer_fn)(const weft_graph *g, const weft_node *n,
                                     weft_shape *shapes, weft_dtype *dtypes);
/* Appends the backward of forward node n to g. dy is the gradient of its
 * (single) output. For each input i with bit i set in `need`, writes the
 * gradient's value id into dxs[i]; others are left -1. */
typedef weft_status (*weft_grad_fn)(weft_graph *g, const weft_node *n, int dy,
                                    unsigned need, int *dxs);

typedef struct {
    const char *name;
    int min_in, max_in;      /* input count range                          */
    int nout;                /* outputs (0 for in-place update ops)        */
    unsigned shape_only;     /* bit i: input i is read for its shape only  */
    weft_infer_fn infer;
    weft_grad_fn grad;       /* NULL: not differentiable (backward ops)    */
} weft_op_info;

const weft_op_info *weft_op_get(weft_op op);

/* Shared by the rows of ops.c and ops_nn.c. */
#define WOP_V(i) (&g->values[n->in[i]])
bool wop_is_float(weft_dtype t);
/* "<op>: input i (name, dtype shape) <what>", WEFT_ERR_SHAPE. */
weft_status wop_bad(const weft_graph *g, const weft_node *n, const char *what, int i);
weft_status wop_need_float(const weft_graph *g, const weft_node *n, int i);
weft_status wop_need_dtype(const weft_graph *g, const weft_node *n, int i, int j);
weft_status wop_need_same(const weft_graph *g, const weft_node *n, int i, int j);
/* One output, the shape and dtype of input 0 (all inputs alike). */
weft_status wop_infer_same(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t);
/* Appends a backward node; returns its first output (out: all of them). */
int wop_bwd(weft_graph *g, weft_op op, const int *in, int nin, const weft_attrs *a, int *out);

/* The rows of ops_nn.c: inference and backward of the sequence, vision and
 * recommendation ops. */
#define WOP_DECL(name) \
    weft_status wop_infer_##name(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
WOP_DECL(softmax); WOP_DECL(transpose); WOP_DECL(concat); WOP_DECL(split); WOP_DECL(bce);
WOP_DECL(embbag); WOP_DECL(dot_interact); WOP_DECL(batchnorm); WOP_DECL(avgpool); WOP_DECL(lstm);
WOP_DECL(softmax_bwd); WOP_DECL(split_bwd); WOP_DECL(bce_bwd); WOP_DECL(embbag_bwd);
WOP_DECL(dot_interact_bwd); WOP_DECL(batchnorm_bwd); WOP_DECL(avgpool_bwd); WOP_DECL(lstm_bwd);
#define WOP_GRAD(name) \
    weft_status wop_grad_##name(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
WOP_GRAD(softmax); WOP_GRAD(transpose); WOP_GRAD(concat); WOP_GRAD(split); WOP_GRAD(dropout);
WOP_GRAD(bce); WOP_GRAD(embbag); WOP_GRAD(dot_interact); WOP_GRAD(batchnorm); WOP_GRAD(avgpool);
WOP_GRAD(lstm);
/* The rows of ops_math.c: the general math of imported models (add's
 * broadcast, mul, scale, matmul, where, sum_lead). bcast serves add and mul. */
WOP_DECL(bcast); WOP_DECL(scale); WOP_DECL(matmul); WOP_DECL(where); WOP_DECL(sum_lead);
WOP_DECL(sum_lead_bwd);
WOP_GRAD(add); WOP_GRAD(mul); WOP_GRAD(scale); WOP_GRAD(matmul); WOP_GRAD(where); WOP_GRAD(sum_lead);
/* grad_act serves sigmoid, tanh and erf too. */
weft_status wop_grad_act(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx);

/* The value id of a sparse gradient's rows (an embbag_bwd's first output,
 * through casts), or -1 for a dense gradient. */
int weft_sparse_rows(const weft_graph *g, int grad);

#endif
