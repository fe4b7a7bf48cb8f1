/* passes.c — the precision pass and the optimizer pass. */
#include "graph/ops.h"

#include <stdlib.h>
#include <string.h>

/* Re-infers every node's output dtypes (and checks shapes) after the dtypes
 * of inputs or parameters changed. */
static weft_status reinfer(weft_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        weft_node *n = &g->nodes[i];
        weft_shape shapes[WEFT_MAX_OUT];
        weft_dtype dtypes[WEFT_MAX_OUT];
        WEFT_TRY(weft_op_get(n->op)->infer(g, n, shapes, dtypes));
        for (int j = 0; j < n->nout; j++) g->values[n->out[j]].dtype = dtypes[j];
    }
    return WEFT_OK;
}

weft_status weft_pass_precision(weft_graph *g, weft_precision p)
{
    WEFT_TRY(weft_graph_status(g));
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].phase != WEFT_PHASE_FWD)
            return weft_fail(WEFT_ERR_ARG, "precision pass: run it on the forward graph, before autodiff");
    g->precision = p;
    if (p == WEFT_PREC_FP32) return WEFT_OK;
    for (int v = 0; v < g->nvalues; v++) {
        weft_value *x = &g->values[v];
        if (x->dtype != WEFT_F32) continue;
        if (x->role == WEFT_ROLE_INPUT || (x->role == WEFT_ROLE_STATE && x->fixed)) x->dtype = WEFT_BF16;
        if (x->role == WEFT_ROLE_PARAM && p != WEFT_PREC_MIXED) x->dtype = WEFT_BF16;
    }
    if (p == WEFT_PREC_MIXED) {
        /* fp32 master weights; each forward use reads a bf16 copy made by a
         * cast at the start of the step. Casts go first, so node indices move. */
        int nold = g->nnodes;
        weft_node *old = malloc((size_t)(nold ? nold : 1) * sizeof *old);
        if (!old) return weft_fail(WEFT_ERR_NOMEM, "precision pass: out of memory");
        memcpy(old, g->nodes, (size_t)nold * sizeof *old);
        g->nnodes = 0;
        int nparams = g->nvalues;
        int *copy = malloc((size_t)nparams * sizeof *copy);
        if (!copy) { free(old); return weft_fail(WEFT_ERR_NOMEM, "precision pass: out of memory"); }
        for (int v = 0; v < nparams; v++) {
            copy[v] = -1;
            if (g->values[v].role != WEFT_ROLE_PARAM) continue;
            weft_attrs a = { .dtype = WEFT_BF16 };
            int out[1];
            copy[v] = weft_g_node(g, WEFT_OP_CAST, WEFT_PHASE_FWD, &v, 1, &a, out, 1);
            if (copy[v] >= 0) {
                char name[WEFT_NAME_MAX];
                snprintf(name, sizeof name, "%.*s.bf16", WEFT_NAME_MAX - 6, g->values[v].name);
                memcpy(g->values[copy[v]].name, name, sizeof name);
            }
        }
        weft_status s = weft_graph_status(g);
        if (!s && g->cap_nodes < g->nnodes + nold) {
            weft_node *nn = realloc(g->nodes, (size_t)(g->nnodes + nold) * sizeof *nn);
            if (!nn) s = weft_fail(WEFT_ERR_NOMEM, "precision pass: out of memory");
            else { g->nodes = nn; g->cap_nodes = g->nnodes + nold; }
        }
        for (int i = 0; i < nold && !s; i++) {
            weft_node n = old[i];
            for (int k = 0; k < n.nin; k++)
                if (n.in[k] < nparams && copy[n.in[k]] >= 0) n.in[k] = copy[n.in[k]];
            for (int j = 0; j < n.nout; j++) g->values[n.out[j]].producer = g->nnodes;
            g->nodes[g->nnodes++] = n;
        }
        free(old);
        free(copy);
        WEFT_TRY(s);
    }
    /* Activations follow their inputs; make the remaining float ones bf16 by
     * re-inferring from the (now bf16) inputs. */
    return reinfer(g);
}

weft_status weft_pass_optimizer(weft_graph *g, weft_optimizer opt)
{
    WEFT_TRY(weft_graph_status(g));
    g->optimizer = opt;
    bool kahan = g->precision == WEFT_PREC_BF16_KAHAN;
    int nv = g->nvalues;
    for (int v = 0; v < nv; v++) {
        weft_value p = g->values[v];
        if (p.role != WEFT_ROLE_PARAM) continue;
        if (p.grad < 0) return weft_fail(WEFT_ERR_ARG, "optimizer: %s has no gradient (run autodiff first)", p.name);
        const char *names[3];
        int ns = 0;
        names[ns++] = opt == WEFT_OPT_ADAMW ? "exp_avg" : "momentum";
        if (opt == WEFT_OPT_ADAMW) names[ns++] = "exp_avg_sq";
        if (kahan) names[ns++] = "kahan_comp";
        int in[WEFT_MAX_IN] = { v, p.grad };
        int rows = weft_sparse_rows(g, p.grad);
        for (int k = 0; k < ns; k++) {
            char name[WEFT_NAME_MAX];
            snprintf(name, sizeof name, "%.*s.%s", WEFT_NAME_MAX - 12, p.name, names[k]);
            int sv = weft_g_value(g, name, WEFT_ROLE_STATE, p.dtype, &p.shape);
            if (sv < 0) return weft_graph_status(g);
            g->values[sv].init = WEFT_INIT_ZERO;
            in[2 + k] = sv;
        }
        weft_attrs a = { .param = v, .slot_m = 2, .slot_v = opt == WEFT_OPT_ADAMW ? 3 : -1,
                         .slot_comp = kahan ? 2 + ns - 1 : -1, .slot_rows = rows >= 0 ? 2 + ns : 0 };
        if (rows >= 0) in[2 + ns] = rows;
        weft_g_node(g, opt == WEFT_OPT_ADAMW ? WEFT_OP_ADAMW : WEFT_OP_SGD, WEFT_PHASE_UPDATE,
                    in, 2 + ns + (rows >= 0), &a, NULL, 0);
        WEFT_TRY(weft_graph_status(g));
    }
    return WEFT_OK;
}
