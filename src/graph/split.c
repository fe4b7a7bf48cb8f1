/* split.c — splits heavy forward nodes along their batch axis.
 *
 * A node y = op(x, weights) whose rows are independent (a linear layer, a
 * convolution, attention, pooling, layer norm, an activation) computes the
 * same y as k nodes on k slabs of x's first axis, joined by a concat. A
 * pipeline can then give the slabs to different stages: a node too heavy
 * for one stage no longer caps how well the stages balance. The pass runs
 * on the forward graph (before autodiff) and rebuilds it; autodiff then
 * differentiates the pieces like any other nodes. */
#include "graph/ops.h"

#include <stdlib.h>
#include <string.h>

bool weft_node_batch_splittable(const weft_graph *g, int i)
{
    const weft_node *n = &g->nodes[i];
    if (n->phase != WEFT_PHASE_FWD) return false;
    switch (n->op) {
    case WEFT_OP_LINEAR: case WEFT_OP_CONV2D: case WEFT_OP_ATTENTION: case WEFT_OP_MAXPOOL:
    case WEFT_OP_LAYERNORM: case WEFT_OP_RELU: case WEFT_OP_GELU:
        break;
    default:
        return false;
    }
    const weft_value *x = &g->values[n->in[0]];
    if (x->role == WEFT_ROLE_PARAM || x->role == WEFT_ROLE_STATE || x->shape.ndim < 1 || x->shape.d[0] < 2) return false;
    for (int k = 1; k < n->nin; k++) {
        weft_role r = g->values[n->in[k]].role;
        if (r != WEFT_ROLE_PARAM && r != WEFT_ROLE_STATE) return false;
    }
    /* statistics saved for the backward must not be read by anyone else */
    for (int j = 1; j < n->nout; j++)
        for (int m = 0; m < g->nnodes; m++)
            for (int k = 0; k < g->nodes[m].nin; k++)
                if (g->nodes[m].in[k] == n->out[j]) return false;
    return true;
}

weft_status weft_pass_split_batch(weft_graph *g, const int *pieces, int *vmap)
{
    WEFT_TRY(weft_graph_status(g));
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].phase != WEFT_PHASE_FWD)
            return weft_fail(WEFT_ERR_ARG, "split pass: run it before autodiff (node %d is not forward)", i);
        if (pieces[i] > 1 && !weft_node_batch_splittable(g, i))
            return weft_fail(WEFT_ERR_ARG, "split pass: node %d (%s) cannot be split along its batch", i,
                             weft_op_name(g->nodes[i].op));
        if (pieces[i] > WEFT_MAX_IN * WEFT_MAX_IN)
            return weft_fail(WEFT_ERR_ARG, "split pass: node %d: at most %d pieces", i, WEFT_MAX_IN * WEFT_MAX_IN);
    }
    weft_graph *h = weft_graph_new();
    if (!h) return weft_fail(WEFT_ERR_NOMEM, "split pass: out of memory");
    h->precision = g->precision;
    h->optimizer = g->optimizer;
    for (int v = 0; v < g->nvalues; v++) {
        const weft_value *x = &g->values[v];
        vmap[v] = -1;
        if (x->producer >= 0) continue;
        int id = weft_g_value(h, x->name, x->role, x->dtype, &x->shape);
        if (id < 0) break;
        h->values[id].init = x->init;
        h->values[id].init_bound = x->init_bound;
        h->values[id].keep = x->keep;
        vmap[v] = id;
    }
    for (int i = 0; i < g->nnodes && !h->err; i++) {
        const weft_node *n = &g->nodes[i];
        int in[WEFT_MAX_IN], out[WEFT_MAX_OUT];
        for (int k = 0; k < n->nin; k++) in[k] = vmap[n->in[k]];
        if (n->op == WEFT_OP_RESHAPE) {   /* its shape is the output's, not an attribute */
            const weft_shape *ys = &g->values[n->out[0]].shape;
            out[0] = weft_g_reshape(h, in[0], ys->ndim, ys->d);
            if (out[0] < 0) break;
            vmap[n->out[0]] = out[0];
            h->values[out[0]].keep = g->values[n->out[0]].keep;
            continue;
        }
        if (pieces[i] < 2) {
            if (weft_g_node(h, n->op, WEFT_PHASE_FWD, in, n->nin, &n->a, out, n->nout) < 0 && h->err) break;
            for (int j = 0; j < n->nout; j++) {
                vmap[n->out[j]] = out[j];
                h->values[out[j]].keep = g->values[n->out[j]].keep;
            }
            continue;
        }
        int k = pieces[i], x = in[0], ys[WEFT_MAX_IN * WEFT_MAX_IN];
        int64_t N = g->values[n->in[0]].shape.d[0], at = 0;
        for (int p = 0; p < k && !h->err; p++) {
            int64_t len = N / k + (p < N % k);
            in[0] = weft_g_split(h, x, 0, at, len);
            at += len;
            weft_g_node(h, n->op, WEFT_PHASE_FWD, in, n->nin, &n->a, out, n->nout);
            ys[p] = out[0];
        }
        if (h->err) break;
        /* a concat takes at most WEFT_MAX_IN inputs: join groups, then the groups */
        int groups = (k + WEFT_MAX_IN - 1) / WEFT_MAX_IN, gs[WEFT_MAX_IN];
        for (int q = 0; q < groups && groups > 1; q++) {
            int from = q * k / groups, to = (q + 1) * k / groups;
            gs[q] = to - from > 1 ? weft_g_concat(h, ys + from, to - from, 0) : ys[from];
        }
        int y = groups > 1 ? weft_g_concat(h, gs, groups, 0) : weft_g_concat(h, ys, k, 0);
        if (y < 0) break;
        vmap[n->out[0]] = y;
        h->values[y].keep = g->values[n->out[0]].keep;
    }
    weft_status s = weft_graph_status(h);
    if (s) { weft_graph_free(h); return s; }
    h->loss = g->loss >= 0 ? vmap[g->loss] : -1;
    free(g->values);
    free(g->nodes);
    *g = *h;
    free(h);
    return weft_graph_verify(g);
}
