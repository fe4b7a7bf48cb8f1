/* ops_nn.c — the op table's rows for the sequence, vision and recommendation
 * ops: softmax, transpose, concat, split, dropout, binary cross-entropy,
 * embedding bag (sparse gradient), DLRM interaction, batch norm, global
 * average pool, LSTM. Inference checks every input and gives the outputs'
 * shapes and dtypes; the grad functions append backward nodes. */
#include "graph/ops.h"

#define V WOP_V

/* ---- inference ------------------------------------------------------------------ */

WOP_DECL(softmax)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    if (V(0)->shape.ndim < 1) return wop_bad(g, n, "must have at least one dimension", 0);
    s[0] = V(0)->shape;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

WOP_DECL(softmax_bwd)
{
    return wop_infer_same(g, n, s, t);
}

WOP_DECL(transpose)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    const weft_shape *x = &V(0)->shape;
    if (x->ndim < 2 || x->ndim > 4) return wop_bad(g, n, "must have 2 to 4 dimensions", 0);
    int a = n->a.axis, b = n->a.axis2;
    if (a < 0 || b < 0 || a >= x->ndim || b >= x->ndim)
        return weft_fail(WEFT_ERR_SHAPE, "transpose: axes %d, %d of a %d-D tensor", a, b, x->ndim);
    s[0] = *x;
    s[0].d[a] = x->d[b];
    s[0].d[b] = x->d[a];
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

WOP_DECL(concat)
{
    const weft_shape *x0 = &V(0)->shape;
    int ax = n->a.axis;
    if (x0->ndim < 1 || x0->ndim > 4) return wop_bad(g, n, "must have 1 to 4 dimensions", 0);
    if (ax < 0 || ax >= x0->ndim) return weft_fail(WEFT_ERR_SHAPE, "concat: axis %d of a %d-D tensor", ax, x0->ndim);
    s[0] = *x0;
    s[0].d[ax] = 0;
    for (int i = 0; i < n->nin; i++) {
        WEFT_TRY(wop_need_float(g, n, i));
        WEFT_TRY(wop_need_dtype(g, n, 0, i));
        const weft_shape *x = &V(i)->shape;
        bool ok = x->ndim == x0->ndim;
        for (int d = 0; d < x->ndim && ok; d++) ok = d == ax || x->d[d] == x0->d[d];
        if (!ok) return wop_bad(g, n, "must match input 0 except along the axis", i);
        s[0].d[ax] += x->d[ax];
    }
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status split_check(const weft_graph *g, const weft_node *n, int xi)
{
    const weft_shape *x = &V(xi)->shape;
    int ax = n->a.axis;
    if (x->ndim < 1 || x->ndim > 4) return wop_bad(g, n, "must have 1 to 4 dimensions", xi);
    if (ax < 0 || ax >= x->ndim || n->a.start < 0 || n->a.len < 1 || n->a.start + n->a.len > x->d[ax])
        return weft_fail(WEFT_ERR_SHAPE, "split: part [%lld, %lld) along axis %d does not fit %lld",
                         (long long)n->a.start, (long long)(n->a.start + n->a.len), ax,
                         (long long)(ax >= 0 && ax < x->ndim ? x->d[ax] : 0));
    return WEFT_OK;
}

WOP_DECL(split)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    WEFT_TRY(split_check(g, n, 0));
    s[0] = V(0)->shape;
    s[0].d[n->a.axis] = n->a.len;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

WOP_DECL(split_bwd)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    WEFT_TRY(split_check(g, n, 1));
    weft_shape part = V(1)->shape;
    part.d[n->a.axis] = n->a.len;
    if (!weft_shape_eq(&part, &V(0)->shape)) return wop_bad(g, n, "is not the part's shape", 0);
    s[0] = V(1)->shape;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status bce_check(const weft_graph *g, const weft_node *n)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    WEFT_TRY(wop_need_float(g, n, 1));
    if (V(0)->shape.ndim != 1) return wop_bad(g, n, "must be 1-D logits (N)", 0);
    return wop_need_same(g, n, 0, 1);
}

WOP_DECL(bce)
{
    WEFT_TRY(bce_check(g, n));
    s[0] = weft_shape_make(0, NULL);
    t[0] = WEFT_F32;
    return WEFT_OK;
}

WOP_DECL(bce_bwd)
{
    WEFT_TRY(bce_check(g, n));
    s[0] = V(0)->shape;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status ids_check(const weft_graph *g, const weft_node *n, int i)
{
    const weft_shape *ids = &V(i)->shape;
    if (V(i)->dtype != WEFT_I32 || ids->ndim < 2 || ids->ndim > 3)
        return wop_bad(g, n, "must be i32 ids (B,F) or (B,F,L)", i);
    return WEFT_OK;
}

WOP_DECL(embbag)
{
    WEFT_TRY(ids_check(g, n, 0));
    WEFT_TRY(wop_need_float(g, n, 1));
    const weft_shape *ids = &V(0)->shape, *tab = &V(1)->shape;
    if (tab->ndim != 2) return wop_bad(g, n, "must be a (V,D) table", 1);
    int64_t d[3] = { ids->d[0], ids->d[1], tab->d[1] };
    s[0] = weft_shape_make(3, d);
    t[0] = V(1)->dtype;
    return WEFT_OK;
}

WOP_DECL(embbag_bwd)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    WEFT_TRY(ids_check(g, n, 1));
    const weft_shape *dy = &V(0)->shape, *ids = &V(1)->shape, *tab = &V(2)->shape;
    if (tab->ndim != 2) return wop_bad(g, n, "must be a (V,D) table", 2);
    if (dy->ndim != 3 || dy->d[0] != ids->d[0] || dy->d[1] != ids->d[1] || dy->d[2] != tab->d[1])
        return wop_bad(g, n, "must be (B,F,D)", 0);
    int64_t nnz = weft_shape_numel(ids), gd[2] = { nnz, tab->d[1] };
    s[0] = weft_shape_make(1, &nnz);
    s[1] = weft_shape_make(2, gd);
    t[0] = WEFT_I32;
    t[1] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status interact_check(const weft_graph *g, const weft_node *n, int di, int ei)
{
    WEFT_TRY(wop_need_float(g, n, di));
    WEFT_TRY(wop_need_float(g, n, ei));
    WEFT_TRY(wop_need_dtype(g, n, di, ei));
    const weft_shape *d = &V(di)->shape, *e = &V(ei)->shape;
    if (d->ndim != 2) return wop_bad(g, n, "must be dense features (B,D)", di);
    if (e->ndim != 3 || e->d[0] != d->d[0] || e->d[2] != d->d[1]) return wop_bad(g, n, "must be (B,T,D)", ei);
    if (e->d[1] > WEFT_INTERACT_MAX) return wop_bad(g, n, "has more than " WEFT_STR(WEFT_INTERACT_MAX) " features", ei);
    return WEFT_OK;
}

static int64_t interact_width(const weft_shape *e)
{
    int64_t F = e->d[1] + 1;
    return e->d[2] + F * (F - 1) / 2;
}

WOP_DECL(dot_interact)
{
    WEFT_TRY(interact_check(g, n, 0, 1));
    int64_t d[2] = { V(0)->shape.d[0], interact_width(&V(1)->shape) };
    s[0] = weft_shape_make(2, d);
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

WOP_DECL(dot_interact_bwd)
{
    WEFT_TRY(interact_check(g, n, 1, 2));
    const weft_shape *dy = &V(0)->shape;
    if (dy->ndim != 2 || dy->d[0] != V(1)->shape.d[0] || dy->d[1] != interact_width(&V(2)->shape))
        return wop_bad(g, n, "is not the interaction's output shape", 0);
    s[0] = V(1)->shape;
    s[1] = V(2)->shape;
    t[0] = t[1] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status bn_x(const weft_graph *g, const weft_node *n, int i)
{
    WEFT_TRY(wop_need_float(g, n, i));
    int nd = V(i)->shape.ndim;
    return nd == 2 || nd == 4 ? WEFT_OK : wop_bad(g, n, "must be (N,C) or (N,C,H,W)", i);
}

static weft_status bn_channel(const weft_graph *g, const weft_node *n, int i, int64_t C, bool f32)
{
    const weft_value *v = V(i);
    if (v->shape.ndim != 1 || v->shape.d[0] != C) return wop_bad(g, n, "must be per channel (C)", i);
    if (f32 && v->dtype != WEFT_F32) return wop_bad(g, n, "must be f32", i);
    return WEFT_OK;
}

WOP_DECL(batchnorm)
{
    WEFT_TRY(bn_x(g, n, 0));
    int64_t C = V(0)->shape.d[1];
    for (int i = 1; i < 3; i++) { WEFT_TRY(wop_need_dtype(g, n, 0, i)); WEFT_TRY(bn_channel(g, n, i, C, false)); }
    for (int i = 3; i < 5; i++) {
        WEFT_TRY(bn_channel(g, n, i, C, true));
        if (V(i)->role != WEFT_ROLE_STATE) return wop_bad(g, n, "must be a running statistic (state)", i);
    }
    if (!(n->a.eps > 0) || !(n->a.p >= 0 && n->a.p <= 1))
        return weft_fail(WEFT_ERR_SHAPE, "batchnorm: eps %g must be positive, momentum %g in [0,1]",
                         (double)n->a.eps, (double)n->a.p);
    s[0] = V(0)->shape;
    s[1] = s[2] = weft_shape_make(1, &C);
    t[0] = V(0)->dtype;
    t[1] = t[2] = WEFT_F32;
    return WEFT_OK;
}

WOP_DECL(batchnorm_bwd)
{
    WEFT_TRY(bn_x(g, n, 1));
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_same(g, n, 1, 0)); WEFT_TRY(wop_need_dtype(g, n, 0, 1));
    int64_t C = V(1)->shape.d[1];
    WEFT_TRY(bn_channel(g, n, 2, C, true));
    WEFT_TRY(bn_channel(g, n, 3, C, true));
    WEFT_TRY(bn_channel(g, n, 4, C, false));
    s[0] = V(1)->shape;
    s[1] = s[2] = V(4)->shape;
    t[0] = t[1] = t[2] = V(0)->dtype;
    return WEFT_OK;
}

WOP_DECL(avgpool)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    if (V(0)->shape.ndim != 4) return wop_bad(g, n, "must be 4-D (N,C,H,W)", 0);
    s[0] = weft_shape_make(2, V(0)->shape.d);
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

WOP_DECL(avgpool_bwd)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    const weft_shape *x = &V(1)->shape, *dy = &V(0)->shape;
    if (x->ndim != 4) return wop_bad(g, n, "must be 4-D (N,C,H,W)", 1);
    if (dy->ndim != 2 || dy->d[0] != x->d[0] || dy->d[1] != x->d[1]) return wop_bad(g, n, "must be (N,C)", 0);
    s[0] = *x;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

/* x (T,B,I) at xi, w_ih (4H,I) and w_hh (4H,H) at wi, wi + 1. */
static weft_status lstm_check(const weft_graph *g, const weft_node *n, int xi, int wi, int64_t *H)
{
    const weft_shape *x = &V(xi)->shape, *wih = &V(wi)->shape, *whh = &V(wi + 1)->shape;
    WEFT_TRY(wop_need_float(g, n, xi));
    if (x->ndim != 3) return wop_bad(g, n, "must be (T,B,I), time-major", xi);
    for (int i = wi; i < wi + 2; i++) WEFT_TRY(wop_need_dtype(g, n, xi, i));
    if (whh->ndim != 2 || whh->d[0] != 4 * whh->d[1]) return wop_bad(g, n, "must be (4H,H)", wi + 1);
    *H = whh->d[1];
    if (wih->ndim != 2 || wih->d[0] != 4 * *H || wih->d[1] != x->d[2]) return wop_bad(g, n, "must be (4H,I)", wi);
    return WEFT_OK;
}

WOP_DECL(lstm)
{
    int64_t H;
    WEFT_TRY(lstm_check(g, n, 0, 1, &H));
    for (int i = 3; i < 5; i++) {
        WEFT_TRY(wop_need_dtype(g, n, 0, i));
        if (V(i)->shape.ndim != 1 || V(i)->shape.d[0] != 4 * H) return wop_bad(g, n, "must be a bias (4H)", i);
    }
    const weft_shape *x = &V(0)->shape;
    int64_t yd[3] = { x->d[0], x->d[1], H }, gd[3] = { x->d[0], x->d[1], 4 * H };
    s[0] = s[2] = weft_shape_make(3, yd);
    s[1] = weft_shape_make(3, gd);
    t[0] = t[1] = t[2] = V(0)->dtype;
    return WEFT_OK;
}

WOP_DECL(lstm_bwd)
{
    int64_t H;
    WEFT_TRY(lstm_check(g, n, 1, 5, &H));
    const weft_shape *x = &V(1)->shape;
    int64_t yd[3] = { x->d[0], x->d[1], H }, gd[3] = { x->d[0], x->d[1], 4 * H };
    weft_shape ys = weft_shape_make(3, yd), gs = weft_shape_make(3, gd);
    for (int i = 0; i < 5; i++) {
        if (i == 1) continue;
        WEFT_TRY(wop_need_dtype(g, n, 1, i));
        if (!weft_shape_eq(&V(i)->shape, i == 3 ? &gs : &ys)) return wop_bad(g, n, "is not the forward's shape", i);
    }
    s[0] = *x;
    s[1] = V(5)->shape;
    s[2] = V(6)->shape;
    s[3] = s[4] = weft_shape_make(1, &gd[2]);
    for (int j = 0; j < 5; j++) t[j] = V(0)->dtype;
    return WEFT_OK;
}

/* ---- backward construction -------------------------------------------------------- */

WOP_GRAD(softmax)
{
    if (!(need & 1u)) return WEFT_OK;
    int in[2] = { dy, n->out[0] };
    dx[0] = wop_bwd(g, WEFT_OP_SOFTMAX_BWD, in, 2, NULL, NULL);
    return weft_graph_status(g);
}

WOP_GRAD(transpose)
{
    if (!(need & 1u)) return WEFT_OK;
    dx[0] = wop_bwd(g, WEFT_OP_TRANSPOSE, &dy, 1, &n->a, NULL);
    return weft_graph_status(g);
}

WOP_GRAD(concat)
{
    weft_attrs a = { .axis = n->a.axis };
    for (int i = 0; i < n->nin; i++) {
        a.len = g->values[n->in[i]].shape.d[a.axis];
        if (need & (1u << i)) dx[i] = wop_bwd(g, WEFT_OP_SPLIT, &dy, 1, &a, NULL);
        a.start += a.len;
    }
    return weft_graph_status(g);
}

WOP_GRAD(split)
{
    if (!(need & 1u)) return WEFT_OK;
    int in[2] = { dy, n->in[0] };
    dx[0] = wop_bwd(g, WEFT_OP_SPLIT_BWD, in, 2, &n->a, NULL);
    return weft_graph_status(g);
}

WOP_GRAD(dropout)
{
    if (!(need & 1u)) return WEFT_OK;
    weft_attrs a = { .p = n->a.p, .param = n->out[0] };
    dx[0] = wop_bwd(g, WEFT_OP_DROPOUT_BWD, &dy, 1, &a, NULL);
    return weft_graph_status(g);
}

WOP_GRAD(bce)
{
    (void)dy;  /* a root loss */
    if (!(need & 1u)) return WEFT_OK;
    int in[2] = { n->in[0], n->in[1] };
    dx[0] = wop_bwd(g, WEFT_OP_BCE_BWD, in, 2, NULL, NULL);
    return weft_graph_status(g);
}

WOP_GRAD(embbag)
{
    if (!(need & 2u)) return WEFT_OK;
    int in[3] = { dy, n->in[0], n->in[1] }, out[WEFT_MAX_OUT];
    wop_bwd(g, WEFT_OP_EMBBAG_BWD, in, 3, NULL, out);
    if (!g->err) dx[1] = out[1];
    return weft_graph_status(g);
}

WOP_GRAD(dot_interact)
{
    int in[3] = { dy, n->in[0], n->in[1] }, out[WEFT_MAX_OUT];
    wop_bwd(g, WEFT_OP_DOT_INTERACT_BWD, in, 3, NULL, out);
    if (g->err) return weft_graph_status(g);
    if (need & 1u) dx[0] = out[0];
    if (need & 2u) dx[1] = out[1];
    return WEFT_OK;
}

WOP_GRAD(batchnorm)
{
    int in[5] = { dy, n->in[0], n->out[1], n->out[2], n->in[1] }, out[WEFT_MAX_OUT];
    wop_bwd(g, WEFT_OP_BATCHNORM_BWD, in, 5, &n->a, out);
    if (g->err) return weft_graph_status(g);
    for (int i = 0; i < 3; i++) if (need & (1u << i)) dx[i] = out[i];
    return WEFT_OK;
}

WOP_GRAD(avgpool)
{
    if (!(need & 1u)) return WEFT_OK;
    int in[2] = { dy, n->in[0] };
    dx[0] = wop_bwd(g, WEFT_OP_AVGPOOL_BWD, in, 2, NULL, NULL);
    return weft_graph_status(g);
}

WOP_GRAD(lstm)
{
    int in[7] = { dy, n->in[0], n->out[0], n->out[1], n->out[2], n->in[1], n->in[2] }, out[WEFT_MAX_OUT];
    wop_bwd(g, WEFT_OP_LSTM_BWD, in, 7, NULL, out);
    if (g->err) return weft_graph_status(g);
    for (int i = 0; i < 5; i++) if (need & (1u << i)) dx[i] = out[i];
    return WEFT_OK;
}

int weft_sparse_rows(const weft_graph *g, int grad)
{
    int v = grad;
    while (v >= 0 && g->values[v].producer >= 0) {
        const weft_node *p = &g->nodes[g->values[v].producer];
        if (p->op == WEFT_OP_EMBBAG_BWD) return p->out[0];
        if (p->op != WEFT_OP_CAST) return -1;
        v = p->in[0];
    }
    return -1;
}
