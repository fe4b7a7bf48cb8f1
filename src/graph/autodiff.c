/* autodiff.c — reverse mode over the forward nodes, appending backward nodes
 * to the same graph. */
#include "graph/ops.h"

#include <stdlib.h>
#include <string.h>

weft_status weft_pass_autodiff(weft_graph *g, int loss)
{
    WEFT_TRY(weft_graph_status(g));
    if (loss < 0 || loss >= g->nvalues || g->values[loss].shape.ndim != 0)
        return weft_fail(WEFT_ERR_ARG, "autodiff: the loss must be a scalar value of the graph");
    int lp = g->values[loss].producer;
    if (lp < 0 || (g->nodes[lp].op != WEFT_OP_XENT && g->nodes[lp].op != WEFT_OP_DOT && g->nodes[lp].op != WEFT_OP_BCE))
        return weft_fail(WEFT_ERR_ARG, "autodiff: the loss must be produced by a loss op (xent, bce, dot)");
    g->loss = loss;
    int nv = g->nvalues, nfwd = g->nnodes;
    bool *needs = calloc((size_t)nv, sizeof *needs);
    int *grad = malloc((size_t)nv * sizeof *grad);
    if (!needs || !grad) { free(needs); free(grad); return weft_fail(WEFT_ERR_NOMEM, "autodiff: out of memory"); }
    for (int v = 0; v < nv; v++) {
        grad[v] = -1;
        needs[v] = g->values[v].role == WEFT_ROLE_PARAM;
    }
    /* Forward: which values depend on a parameter. */
    for (int i = 0; i < nfwd; i++) {
        const weft_node *n = &g->nodes[i];
        if (n->phase != WEFT_PHASE_FWD) continue;
        bool any = false;
        for (int k = 0; k < n->nin; k++) any |= needs[n->in[k]];
        for (int j = 0; j < n->nout; j++) needs[n->out[j]] = any;
    }
    grad[loss] = loss;   /* a placeholder: d loss / d loss = 1 is implicit in xent_bwd */
    weft_status s = WEFT_OK;
    for (int i = nfwd - 1; i >= 0 && !s; i--) {
        weft_node n = g->nodes[i];   /* a copy: appending may move g->nodes */
        /* Gradients flow through a node's first output; the others are
         * statistics saved for its backward (layer norm's mean, attention's P). */
        if (n.phase != WEFT_PHASE_FWD || n.nout < 1 || grad[n.out[0]] < 0) continue;
        const weft_op_info *info = weft_op_get(n.op);
        if (!info->grad) {
            s = weft_fail(WEFT_ERR_INTERNAL, "autodiff: %s has no backward", info->name);
            break;
        }
        unsigned need = 0;
        for (int k = 0; k < n.nin; k++)
            if (needs[n.in[k]] && g->values[n.in[k]].dtype != WEFT_I32) need |= 1u << k;
        if (!need) continue;
        int dx[WEFT_MAX_IN];
        for (int k = 0; k < WEFT_MAX_IN; k++) dx[k] = -1;
        int first = g->nnodes;
        s = info->grad(g, &n, grad[n.out[0]], need, dx);
        for (int k = 0; k < n.nin && !s; k++) {
            int v = n.in[k];
            if (!(need & (1u << k)) || dx[k] < 0) continue;
            if (grad[v] < 0) {
                grad[v] = dx[k];
            } else if (weft_sparse_rows(g, grad[v]) >= 0 || weft_sparse_rows(g, dx[k]) >= 0) {
                s = weft_fail(WEFT_ERR_ARG, "autodiff: %s has a sparse gradient (an embedding bag's table) "
                              "and is used more than once", g->values[v].name);
            } else {
                int in[2] = { grad[v], dx[k] }, out[1];
                grad[v] = weft_g_node(g, WEFT_OP_ADD, WEFT_PHASE_BWD, in, 2, NULL, out, 1);
                s = weft_graph_status(g);
            }
        }
        /* Everything appended for node i (its backward, the sums of its
         * inputs' gradients) belongs to it: a pipeline cut keeps them in i's stage. */
        for (int j = first; j < g->nnodes; j++) g->nodes[j].origin = i;
    }
    for (int v = 0; v < nv && !s; v++) {
        if (g->values[v].role != WEFT_ROLE_PARAM) continue;
        if (grad[v] < 0) {
            s = weft_fail(WEFT_ERR_ARG, "autodiff: parameter %s does not affect the loss", g->values[v].name);
            break;
        }
        g->values[v].grad = grad[v];
        /* Name the gradient after its parameter, unless it is shared (an
         * input, or another value's gradient passed through an add). */
        if (g->values[grad[v]].role != WEFT_ROLE_GRAD || strstr(g->values[grad[v]].name, ".grad")) continue;
        char name[WEFT_NAME_MAX];
        snprintf(name, sizeof name, "%.*s.grad", WEFT_NAME_MAX - 6, g->values[v].name);
        memcpy(g->values[grad[v]].name, name, sizeof name);
    }
    free(needs);
    free(grad);
    return s;
}
