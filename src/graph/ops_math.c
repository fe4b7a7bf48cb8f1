/* ops_math.c — the op table's rows for the general math that imported
 * models (ONNX) are written in: add's and mul's broadcast of an operand of
 * trailing dims, scale, batched matmul, erf (inference is ops.c's "same"),
 * where and sum_lead — the sum over leading dims that a broadcast
 * operand's gradient is. Inference checks every input and gives the
 * output's shape and dtype; the grad functions append backward nodes. */
#include "graph/ops.h"

#include <math.h>
#include <stdio.h>

#define V WOP_V

/* Input j has input 0's shape or its trailing dims (it is repeated over
 * input 0's leading dims); anything else is an error. */
static weft_status bcast_check(const weft_graph *g, const weft_node *n, int j)
{
    const weft_shape *a = &V(0)->shape, *b = &V(j)->shape;
    if (weft_shape_eq(a, b)) return WEFT_OK;
    bool ok = b->ndim >= 1 && b->ndim < a->ndim;
    for (int i = 0; ok && i < b->ndim; i++) ok = b->d[i] == a->d[a->ndim - b->ndim + i];
    if (!ok) {
        char sa[64], what[128];
        snprintf(what, sizeof what, "must have input 0's shape %s or its trailing dims",
                 weft_shape_str(a, sa, sizeof sa));
        return wop_bad(g, n, what, j);
    }
    return WEFT_OK;
}

/* ---- inference ------------------------------------------------------------------ */

/* add, mul: a unit reads one precision, so both operands share a dtype. */
WOP_DECL(bcast)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_float(g, n, 1));
    WEFT_TRY(bcast_check(g, n, 1));
    WEFT_TRY(wop_need_dtype(g, n, 0, 1));
    s[0] = V(0)->shape;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

WOP_DECL(scale)
{
    if (!isfinite(n->a.alpha) || !isfinite(n->a.beta))
        return weft_fail(WEFT_ERR_SHAPE, "scale: alpha %g and beta %g must be finite", (double)n->a.alpha,
                         (double)n->a.beta);
    return wop_infer_same(g, n, s, t);
}

/* op(a) (M,K) and op(b) (K,N) per batch; the batch dims are those of the
 * operand that has them (both: the same). */
WOP_DECL(matmul)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_float(g, n, 1)); WEFT_TRY(wop_need_dtype(g, n, 0, 1));
    for (int i = 0; i < 2; i++)
        if (V(i)->shape.ndim < 2 || V(i)->shape.ndim > 4) return wop_bad(g, n, "must have 2 to 4 dimensions", i);
    const weft_shape *a = &V(0)->shape, *b = &V(1)->shape;
    int ra = a->ndim, rb = b->ndim;
    char sa[64], sb[64];
    bool same = ra == 2 || rb == 2 || ra == rb;
    for (int i = 0; same && ra > 2 && rb > 2 && i < ra - 2; i++) same = a->d[i] == b->d[i];
    if (!same)
        return weft_fail(WEFT_ERR_SHAPE, "matmul: the batch dims of a (%s %s) and b (%s %s) differ "
                         "(or make one operand 2-D: it is shared by every batch)", V(0)->name,
                         weft_shape_str(a, sa, sizeof sa), V(1)->name, weft_shape_str(b, sb, sizeof sb));
    bool ta = n->a.ta, tb = n->a.tb;
    int64_t M = a->d[ra - (ta ? 1 : 2)], Ka = a->d[ra - (ta ? 2 : 1)];
    int64_t Kb = b->d[rb - (tb ? 1 : 2)], N = b->d[rb - (tb ? 2 : 1)];
    if (Ka != Kb)
        return weft_fail(WEFT_ERR_SHAPE, "matmul: inner dims differ: a (%s %s%s) has K = %lld, b (%s %s%s) "
                         "K = %lld", V(0)->name, weft_shape_str(a, sa, sizeof sa), ta ? ", transposed" : "",
                         (long long)Ka, V(1)->name, weft_shape_str(b, sb, sizeof sb),
                         tb ? ", transposed" : "", (long long)Kb);
    s[0] = ra >= rb ? *a : *b;
    s[0].d[s[0].ndim - 2] = M;
    s[0].d[s[0].ndim - 1] = N;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

/* The mask may be stored in another float dtype than x (a constant f32
 * state under a bf16 policy): it is read as a predicate, never as a number. */
WOP_DECL(where)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_float(g, n, 1));
    WEFT_TRY(bcast_check(g, n, 1));
    if (isnan(n->a.alpha)) return weft_fail(WEFT_ERR_SHAPE, "where: the fill value is NaN");
    s[0] = V(0)->shape;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

WOP_DECL(sum_lead)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    const weft_shape *x = &V(0)->shape;
    int k = n->a.axis;
    if (k < 1 || k >= x->ndim) {
        char sx[64];
        return weft_fail(WEFT_ERR_SHAPE, "sum_lead: %d leading dims of %s (%s): between 1 and %d", k,
                         V(0)->name, weft_shape_str(x, sx, sizeof sx), x->ndim - 1);
    }
    s[0] = weft_shape_make(x->ndim - k, x->d + k);
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

WOP_DECL(sum_lead_bwd)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    const weft_shape *dy = &V(0)->shape, *x = &V(1)->shape;
    int k = n->a.axis;
    bool ok = k >= 1 && k < x->ndim && dy->ndim == x->ndim - k;
    for (int i = 0; ok && i < dy->ndim; i++) ok = dy->d[i] == x->d[k + i];
    if (!ok) {
        char sx[64], what[128];
        snprintf(what, sizeof what, "must be x's shape %s without its %d leading dims",
                 weft_shape_str(x, sx, sizeof sx), k);
        return wop_bad(g, n, what, 0);
    }
    s[0] = *x;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

/* ---- backward construction ---------------------------------------------------------- */

/* The gradient of operand `target` from p (input 0's shape): p itself, or
 * for a broadcast operand the sum of p over the leading dims it was
 * repeated on. */
static int unbroadcast(weft_graph *g, int p, int target)
{
    if (p < 0) return -1;
    int lead = g->values[p].shape.ndim - g->values[target].shape.ndim;
    if (lead == 0) return p;
    weft_attrs a = { .axis = lead };
    return wop_bwd(g, WEFT_OP_SUM_LEAD, &p, 1, &a, NULL);
}

WOP_GRAD(add)
{
    if (need & 1u) dx[0] = dy;
    if (need & 2u) dx[1] = unbroadcast(g, dy, n->in[1]);
    return weft_graph_status(g);
}

/* da = dy*b, db = dy*a: new values, so a persistent operand needs no
 * snapshot (ops.c's dot): an update cannot change them before they are read. */
WOP_GRAD(mul)
{
    if (need & 1u) {
        int in[2] = { dy, n->in[1] };
        dx[0] = wop_bwd(g, WEFT_OP_MUL, in, 2, NULL, NULL);
    }
    if (need & 2u) {
        int in[2] = { dy, n->in[0] };
        dx[1] = unbroadcast(g, wop_bwd(g, WEFT_OP_MUL, in, 2, NULL, NULL), n->in[1]);
    }
    return weft_graph_status(g);
}

WOP_GRAD(scale)
{
    if (!(need & 1u)) return WEFT_OK;
    if (n->a.alpha == 1.0f) {   /* a shift: the gradient passes as it is */
        dx[0] = dy;
        return WEFT_OK;
    }
    weft_attrs a = { .alpha = n->a.alpha };
    dx[0] = wop_bwd(g, WEFT_OP_SCALE, &dy, 1, &a, NULL);
    return weft_graph_status(g);
}

/* v as a 2-D view (its rows stacked, its last dim). */
static int flat2(weft_graph *g, int v)
{
    const weft_shape *s = &g->values[v].shape;
    if (s->ndim == 2) return v;
    int64_t last = s->d[s->ndim - 1], d[2] = { last ? weft_shape_numel(s) / last : 0, last };
    int r = wop_bwd(g, WEFT_OP_RESHAPE, &v, 1, NULL, NULL);
    if (r >= 0) g->values[r].shape = weft_shape_make(2, d);
    return r;
}

/* op(p) op(q) as the gradient of `target`. A 2-D target shared by the
 * batches of the other operand gets the sum over the batches (p and q are
 * then both batched): with tp and not tq both contract over their rows, so
 * the sum of p_i^T q_i is one product of the batches stacked as rows (the
 * weight's gradient of a matmul used as a linear layer); otherwise the
 * batched product, then its sum. */
static int mm_grad(weft_graph *g, int p, int q, bool tp, bool tq, int target)
{
    weft_attrs a = { .ta = tp, .tb = tq };
    bool sum = g->values[target].shape.ndim == 2 && g->values[p].shape.ndim > 2;
    if (sum && tp && !tq) {
        int in[2] = { flat2(g, p), flat2(g, q) };
        if (in[0] < 0 || in[1] < 0) return -1;
        return wop_bwd(g, WEFT_OP_MATMUL, in, 2, &a, NULL);
    }
    int in[2] = { p, q };
    int y = wop_bwd(g, WEFT_OP_MATMUL, in, 2, &a, NULL);
    if (!sum || y < 0) return y;
    weft_attrs s = { .axis = g->values[y].shape.ndim - 2 };
    return wop_bwd(g, WEFT_OP_SUM_LEAD, &y, 1, &s, NULL);
}

/* y = A B with A = op(a), B = op(b): dA = dy B^T, dB = A^T dy. da is dA, or
 * dA^T = B dy^T when ta; db is dB, or dB^T = dy^T A when tb — each one
 * matmul whose flags absorb every transpose. */
WOP_GRAD(matmul)
{
    bool ta = n->a.ta, tb = n->a.tb;
    int a = n->in[0], b = n->in[1];
    if (need & 1u) dx[0] = ta ? mm_grad(g, b, dy, tb, true, a) : mm_grad(g, dy, b, false, !tb, a);
    if (need & 2u) dx[1] = tb ? mm_grad(g, dy, a, true, ta, b) : mm_grad(g, a, dy, !ta, false, b);
    return weft_graph_status(g);
}

/* dx = dy where the mask holds, 0 elsewhere; the mask gets no gradient. */
WOP_GRAD(where)
{
    if (!(need & 1u)) return WEFT_OK;
    int in[2] = { dy, n->in[1] };
    weft_attrs a = { .alpha = 0.0f };
    dx[0] = wop_bwd(g, WEFT_OP_WHERE, in, 2, &a, NULL);
    return weft_graph_status(g);
}

WOP_GRAD(sum_lead)
{
    if (!(need & 1u)) return WEFT_OK;
    int in[2] = { dy, n->in[0] };
    weft_attrs a = { .axis = n->a.axis };
    dx[0] = wop_bwd(g, WEFT_OP_SUM_LEAD_BWD, in, 2, &a, NULL);
    return weft_graph_status(g);
}
