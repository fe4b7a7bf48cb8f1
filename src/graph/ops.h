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

#endif
