/* ops.c — the op table: shape/dtype inference and backward construction. */
#include "graph/ops.h"

#include <math.h>
#include <string.h>

#define V(i) (&g->values[n->in[i]])

bool wop_is_float(weft_dtype t) { return t == WEFT_F32 || t == WEFT_BF16; }

weft_status wop_bad(const weft_graph *g, const weft_node *n, const char *what, int i)
{
    char sb[64];
    const weft_value *v = &g->values[n->in[i]];
    return weft_fail(WEFT_ERR_SHAPE, "%s: input %d (%s, %s %s) %s", weft_op_name(n->op), i,
                     v->name, weft_dtype_name(v->dtype), weft_shape_str(&v->shape, sb, sizeof sb), what);
}

weft_status wop_need_float(const weft_graph *g, const weft_node *n, int i)
{
    return wop_is_float(V(i)->dtype) ? WEFT_OK : wop_bad(g, n, "must be f32 or bf16", i);
}

/* Float inputs i and j must share a dtype: a unit reads one precision. */
weft_status wop_need_dtype(const weft_graph *g, const weft_node *n, int i, int j)
{
    return V(i)->dtype == V(j)->dtype ? WEFT_OK : wop_bad(g, n, "must have input 0's dtype", j);
    (void)i;
}

weft_status wop_need_same(const weft_graph *g, const weft_node *n, int i, int j)
{
    if (!weft_shape_eq(&V(i)->shape, &V(j)->shape))
        return wop_bad(g, n, "must have the shape of input 0", j);
    (void)i;
    return WEFT_OK;
}

/* ---- inference ---------------------------------------------------------------- */

static weft_status infer_linear(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_float(g, n, 1));
    for (int i = 1; i < n->nin; i++) WEFT_TRY(wop_need_dtype(g, n, 0, i));
    const weft_shape *x = &V(0)->shape, *w = &V(1)->shape;
    if (x->ndim != 2) return wop_bad(g, n, "must be 2-D (M,K)", 0);
    if (w->ndim != 2 || w->d[1] != x->d[1]) return wop_bad(g, n, "must be (N,K) with K = x's columns", 1);
    if (n->a.has_bias) {
        if (n->nin != 3) return weft_fail(WEFT_ERR_SHAPE, "linear: has_bias without a bias input");
        const weft_shape *b = &V(2)->shape;
        if (b->ndim != 1 || b->d[0] != w->d[0]) return wop_bad(g, n, "must be (N)", 2);
    }
    if (n->a.act == 2) return weft_fail(WEFT_ERR_SHAPE, "linear: fused gelu is not supported; use a gelu node");
    int64_t d[2] = { x->d[0], w->d[0] };
    s[0] = weft_shape_make(2, d);
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

weft_status wop_infer_same(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    for (int i = 1; i < n->nin; i++) {
        WEFT_TRY(wop_need_float(g, n, i)); WEFT_TRY(wop_need_same(g, n, 0, i)); WEFT_TRY(wop_need_dtype(g, n, 0, i));
    }
    s[0] = V(0)->shape;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status conv_out(const weft_graph *g, const weft_node *n, int xi, int wi, weft_shape *y)
{
    const weft_shape *x = &V(xi)->shape, *w = &V(wi)->shape;
    if (x->ndim != 4) return wop_bad(g, n, "must be 4-D (N,C,H,W)", xi);
    if (w->ndim != 4 || w->d[1] != x->d[1]) return wop_bad(g, n, "must be (OC,C,KH,KW) with C = x's channels", wi);
    if (n->a.stride < 1 || n->a.pad < 0)
        return weft_fail(WEFT_ERR_SHAPE, "%s: stride %d, pad %d", weft_op_name(n->op), n->a.stride, n->a.pad);
    int64_t oh = (x->d[2] + 2 * n->a.pad - w->d[2]) / n->a.stride + 1;
    int64_t ow = (x->d[3] + 2 * n->a.pad - w->d[3]) / n->a.stride + 1;
    if (x->d[2] + 2 * n->a.pad < w->d[2] || x->d[3] + 2 * n->a.pad < w->d[3])
        return wop_bad(g, n, "is smaller than the kernel", xi);
    int64_t d[4] = { x->d[0], w->d[0], oh, ow };
    *y = weft_shape_make(4, d);
    return WEFT_OK;
}

static weft_status infer_conv(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_float(g, n, 1));
    for (int i = 1; i < n->nin; i++) WEFT_TRY(wop_need_dtype(g, n, 0, i));
    WEFT_TRY(conv_out(g, n, 0, 1, &s[0]));
    if (n->a.has_bias) {
        if (n->nin != 3) return weft_fail(WEFT_ERR_SHAPE, "conv2d: has_bias without a bias input");
        if (V(2)->shape.ndim != 1 || V(2)->shape.d[0] != V(1)->shape.d[0]) return wop_bad(g, n, "must be (OC)", 2);
    }
    if (n->a.act == 2) return weft_fail(WEFT_ERR_SHAPE, "conv2d: fused gelu is not supported");
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status pool_out(const weft_graph *g, const weft_node *n, weft_shape *y)
{
    const weft_shape *x = &V(n->op == WEFT_OP_MAXPOOL ? 0 : 1)->shape;
    if (x->ndim != 4) return wop_bad(g, n, "must be 4-D (N,C,H,W)", n->op == WEFT_OP_MAXPOOL ? 0 : 1);
    if (n->a.k < 1 || n->a.stride < 1 || x->d[2] < n->a.k || x->d[3] < n->a.k)
        return weft_fail(WEFT_ERR_SHAPE, "maxpool: window %d, stride %d does not fit %lldx%lld",
                         n->a.k, n->a.stride, (long long)x->d[2], (long long)x->d[3]);
    int64_t d[4] = { x->d[0], x->d[1], (x->d[2] - n->a.k) / n->a.stride + 1,
                     (x->d[3] - n->a.k) / n->a.stride + 1 };
    *y = weft_shape_make(4, d);
    return WEFT_OK;
}

static weft_status infer_pool(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    WEFT_TRY(pool_out(g, n, &s[0]));
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status infer_reshape(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    s[0] = V(0)->shape;   /* the builder sets the target shape; numel is checked */
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status xent_check(const weft_graph *g, const weft_node *n)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    const weft_shape *l = &V(0)->shape, *y = &V(1)->shape;
    if (l->ndim != 2) return wop_bad(g, n, "must be 2-D (M,C)", 0);
    if (V(1)->dtype != WEFT_I32 || y->ndim != 1 || y->d[0] != l->d[0])
        return wop_bad(g, n, "must be i32 labels (M)", 1);
    return WEFT_OK;
}

static weft_status infer_xent(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(xent_check(g, n));
    s[0] = weft_shape_make(0, NULL);
    t[0] = WEFT_F32;
    return WEFT_OK;
}

static weft_status infer_dot(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_float(g, n, 1)); WEFT_TRY(wop_need_same(g, n, 0, 1));
    s[0] = weft_shape_make(0, NULL);
    t[0] = WEFT_F32;
    return WEFT_OK;
}

static weft_status infer_xent_bwd(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(xent_check(g, n));
    s[0] = V(0)->shape;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status infer_cast(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    if (n->a.dtype != WEFT_F32 && n->a.dtype != WEFT_BF16)
        return weft_fail(WEFT_ERR_SHAPE, "cast: target dtype must be f32 or bf16");
    s[0] = V(0)->shape;
    t[0] = (weft_dtype)n->a.dtype;
    return WEFT_OK;
}

static weft_status infer_dropout(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    if (!(n->a.p >= 0 && n->a.p < 1)) return weft_fail(WEFT_ERR_SHAPE, "dropout: probability %g is not in [0, 1)", (double)n->a.p);
    return wop_infer_same(g, n, s, t);
}

static weft_status infer_act_bwd(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    if (n->a.act < 1 || n->a.act > 5) return weft_fail(WEFT_ERR_SHAPE, "act_bwd: no activation");
    return wop_infer_same(g, n, s, t);
}

static weft_status infer_linear_bwd_data(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_float(g, n, 1));
    const weft_shape *dy = &V(0)->shape, *w = &V(1)->shape;
    if (dy->ndim != 2) return wop_bad(g, n, "must be 2-D (M,N)", 0);
    if (w->ndim != 2 || w->d[0] != dy->d[1]) return wop_bad(g, n, "must be (N,K)", 1);
    int64_t d[2] = { dy->d[0], w->d[1] };
    s[0] = weft_shape_make(2, d);
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status infer_linear_bwd_weight(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_float(g, n, 1));
    const weft_shape *dy = &V(0)->shape, *x = &V(1)->shape;
    if (dy->ndim != 2) return wop_bad(g, n, "must be 2-D (M,N)", 0);
    if (x->ndim != 2 || x->d[0] != dy->d[0]) return wop_bad(g, n, "must be (M,K)", 1);
    int64_t d[2] = { dy->d[1], x->d[1] };
    s[0] = weft_shape_make(2, d);
    s[1] = weft_shape_make(1, d);
    t[0] = t[1] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status infer_conv_bwd_data(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_float(g, n, 1));
    weft_shape y;
    WEFT_TRY(conv_out(g, n, 2, 1, &y));
    if (!weft_shape_eq(&y, &V(0)->shape)) return wop_bad(g, n, "is not the conv's output shape", 0);
    s[0] = V(2)->shape;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status infer_conv_bwd_weight(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_float(g, n, 1));
    const weft_shape *dy = &V(0)->shape, *x = &V(1)->shape;
    if (dy->ndim != 4 || x->ndim != 4 || dy->d[0] != x->d[0]) return wop_bad(g, n, "must be (N,C,H,W) matching dy", 1);
    /* The kernel size follows from the shapes: OH = (H + 2p - KH)/s + 1 has a
     * unique KH only for stride 1; the weight's shape is passed as the
     * node's aux k for other strides. */
    int64_t kh = n->a.k ? n->a.k : x->d[2] + 2 * n->a.pad - (dy->d[2] - 1) * n->a.stride;
    int64_t kw = n->a.k ? n->a.k : x->d[3] + 2 * n->a.pad - (dy->d[3] - 1) * n->a.stride;
    int64_t d[4] = { dy->d[1], x->d[1], kh, kw };
    s[0] = weft_shape_make(4, d);
    s[1] = weft_shape_make(1, d);
    t[0] = t[1] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status infer_pool_bwd(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_float(g, n, 1));
    weft_shape y;
    WEFT_TRY(pool_out(g, n, &y));
    if (!weft_shape_eq(&y, &V(0)->shape)) return wop_bad(g, n, "is not the pool's output shape", 0);
    s[0] = V(1)->shape;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

/* w, g, states...; with a.slot_rows the gradient is sparse: rows (n) i32 and
 * g (n, D) for a (V, D) weight. */
static weft_status infer_update(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    (void)s; (void)t;
    int r = n->a.slot_rows;
    if (r) {
        const weft_shape *w = &V(0)->shape, *gs = &V(1)->shape, *rs = &V(r)->shape;
        if (r >= n->nin || V(r)->dtype != WEFT_I32 || rs->ndim != 1) return wop_bad(g, n, "must be i32 rows (n)", r);
        if (w->ndim != 2 || gs->ndim != 2 || gs->d[0] != rs->d[0] || gs->d[1] != w->d[1])
            return wop_bad(g, n, "must be a sparse gradient (n, D) of a (V, D) weight", 1);
    }
    for (int i = 1; i < n->nin; i++) {
        if (i == r) continue;
        if (i != 1 || !r)
            if (!weft_shape_eq(&V(i)->shape, &V(0)->shape)) return wop_bad(g, n, "must have the weight's shape", i);
        if (!wop_is_float(V(i)->dtype)) return wop_bad(g, n, "must be f32 or bf16", i);
        if (V(i)->dtype != V(0)->dtype) return wop_bad(g, n, "must have the weight's dtype", i);
    }
    return WEFT_OK;
}

static weft_status infer_embedding(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    const weft_shape *ids = &V(0)->shape, *tab = &V(1)->shape;
    if (V(0)->dtype != WEFT_I32 || ids->ndim < 1 || ids->ndim >= WEFT_MAX_DIMS) return wop_bad(g, n, "must be i32 ids", 0);
    WEFT_TRY(wop_need_float(g, n, 1));
    if (tab->ndim != 2) return wop_bad(g, n, "must be a (V,D) table", 1);
    s[0] = *ids;
    s[0].d[s[0].ndim++] = tab->d[1];
    t[0] = V(1)->dtype;
    return WEFT_OK;
}

static weft_status infer_embedding_bwd(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    if (V(1)->dtype != WEFT_I32) return wop_bad(g, n, "must be i32 ids", 1);
    const weft_shape *tab = &V(2)->shape;
    if (tab->ndim != 2 || V(0)->shape.d[V(0)->shape.ndim - 1] != tab->d[1]) return wop_bad(g, n, "must be (V,D)", 2);
    if (weft_shape_numel(&V(0)->shape) != weft_shape_numel(&V(1)->shape) * tab->d[1])
        return wop_bad(g, n, "must have one row per id", 0);
    s[0] = *tab;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status infer_layernorm(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    const weft_shape *x = &V(0)->shape;
    if (x->ndim != 2) return wop_bad(g, n, "must be 2-D (M,D)", 0);
    for (int i = 1; i < 3; i++) {
        WEFT_TRY(wop_need_dtype(g, n, 0, i));
        if (V(i)->shape.ndim != 1 || V(i)->shape.d[0] != x->d[1]) return wop_bad(g, n, "must be (D)", i);
    }
    if (!(n->a.eps > 0)) return weft_fail(WEFT_ERR_SHAPE, "layernorm: eps must be positive");
    s[0] = *x;
    s[1] = s[2] = weft_shape_make(1, x->d);
    t[0] = V(0)->dtype;
    t[1] = t[2] = WEFT_F32;
    return WEFT_OK;
}

static weft_status infer_layernorm_bwd(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_same(g, n, 0, 1)); WEFT_TRY(wop_need_dtype(g, n, 0, 1));
    const weft_shape *x = &V(1)->shape;
    if (x->ndim != 2) return wop_bad(g, n, "must be 2-D (M,D)", 1);
    for (int i = 2; i < 4; i++)
        if (V(i)->dtype != WEFT_F32 || V(i)->shape.ndim != 1 || V(i)->shape.d[0] != x->d[0])
            return wop_bad(g, n, "must be the forward's f32 statistics (M)", i);
    if (V(4)->shape.ndim != 1 || V(4)->shape.d[0] != x->d[1]) return wop_bad(g, n, "must be gamma (D)", 4);
    s[0] = *x;
    s[1] = s[2] = V(4)->shape;
    t[0] = t[1] = t[2] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status attention_dims(const weft_graph *g, const weft_node *n, int qi, int64_t *D)
{
    const weft_shape *q = &V(qi)->shape;
    if (q->ndim != 3 || q->d[2] % 3) return wop_bad(g, n, "must be (B,T,3D)", qi);
    *D = q->d[2] / 3;
    if (n->a.heads < 1 || *D % n->a.heads)
        return weft_fail(WEFT_ERR_SHAPE, "attention: %d heads do not divide the width %lld", n->a.heads, (long long)*D);
    if (!(n->a.pos_back >= 0.0f && n->a.pos_ahead >= 0.0f && isfinite(n->a.pos_back) && isfinite(n->a.pos_ahead)))
        return weft_fail(WEFT_ERR_SHAPE, "attention: position-bias slopes %g, %g must be finite and >= 0",
                         n->a.pos_back, n->a.pos_ahead);
    return WEFT_OK;
}

static weft_status infer_attention(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0));
    int64_t D;
    WEFT_TRY(attention_dims(g, n, 0, &D));
    const weft_shape *q = &V(0)->shape;
    int64_t yd[3] = { q->d[0], q->d[1], D }, pd[4] = { q->d[0], n->a.heads, q->d[1], q->d[1] };
    s[0] = weft_shape_make(3, yd);
    s[1] = weft_shape_make(4, pd);
    t[0] = t[1] = V(0)->dtype;
    return WEFT_OK;
}

static weft_status infer_attention_bwd(const weft_graph *g, const weft_node *n, weft_shape *s, weft_dtype *t)
{
    WEFT_TRY(wop_need_float(g, n, 0)); WEFT_TRY(wop_need_dtype(g, n, 0, 1)); WEFT_TRY(wop_need_dtype(g, n, 0, 2));
    int64_t D;
    WEFT_TRY(attention_dims(g, n, 1, &D));
    const weft_shape *q = &V(1)->shape, *dy = &V(0)->shape;
    if (dy->ndim != 3 || dy->d[0] != q->d[0] || dy->d[1] != q->d[1] || dy->d[2] != D)
        return wop_bad(g, n, "must be (B,T,D)", 0);
    s[0] = *q;
    t[0] = V(0)->dtype;
    return WEFT_OK;
}

/* ---- backward construction --------------------------------------------------- */

int wop_bwd(weft_graph *g, weft_op op, const int *in, int nin, const weft_attrs *a, int *out)
{
    int tmp[WEFT_MAX_OUT];
    return weft_g_node(g, op, WEFT_PHASE_BWD, in, nin, a, out ? out : tmp, -1);
}

/* Gradient through a fused activation: relu reads the node's output. */
static int through_act(weft_graph *g, const weft_node *n, int dy)
{
    if (!n->a.act) return dy;
    int in[2] = { dy, n->out[0] };
    weft_attrs a = { .act = n->a.act };
    return wop_bwd(g, WEFT_OP_ACT_BWD, in, 2, &a, NULL);
}

static weft_status grad_linear(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
{
    int dz = through_act(g, n, dy);
    if (need & 1u) {
        int in[2] = { dz, n->in[1] };
        dx[0] = wop_bwd(g, WEFT_OP_LINEAR_BWD_DATA, in, 2, NULL, NULL);
    }
    if (need & 6u) {
        int in[2] = { dz, n->in[0] }, out[2] = { -1, -1 };
        weft_attrs a = { .has_bias = n->a.has_bias };
        wop_bwd(g, WEFT_OP_LINEAR_BWD_WEIGHT, in, 2, &a, out);
        dx[1] = out[0];
        if (n->a.has_bias) dx[2] = out[1];
    }
    return weft_graph_status(g);
}

/* gelu's and erf's backward read their input; relu's, sigmoid's and tanh's
 * their output. */
weft_status wop_grad_act(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
{
    if (!(need & 1u)) return WEFT_OK;
    int act = n->op == WEFT_OP_RELU ? 1 : n->op == WEFT_OP_GELU ? 2 : n->op == WEFT_OP_SIGMOID ? 3
            : n->op == WEFT_OP_TANH ? 4 : 5;
    int in[2] = { dy, act == 2 || act == 5 ? n->in[0] : n->out[0] };
    weft_attrs a = { .act = act };
    dx[0] = wop_bwd(g, WEFT_OP_ACT_BWD, in, 2, &a, NULL);
    return weft_graph_status(g);
}

static weft_status grad_conv(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
{
    int dz = through_act(g, n, dy);
    weft_attrs a = { .stride = n->a.stride, .pad = n->a.pad, .has_bias = n->a.has_bias };
    if (need & 1u) {
        int in[3] = { dz, n->in[1], n->in[0] };
        dx[0] = wop_bwd(g, WEFT_OP_CONV2D_BWD_DATA, in, 3, &a, NULL);
    }
    if (need & 6u) {
        const weft_shape *w = &g->values[n->in[1]].shape;
        if (w->d[2] != w->d[3] && n->a.stride != 1)
            return weft_fail(WEFT_ERR_SHAPE, "conv2d backward: non-square kernels need stride 1");
        a.k = n->a.stride != 1 ? (int)w->d[2] : 0;
        int in[2] = { dz, n->in[0] }, out[2] = { -1, -1 };
        wop_bwd(g, WEFT_OP_CONV2D_BWD_WEIGHT, in, 2, &a, out);
        dx[1] = out[0];
        if (n->a.has_bias) dx[2] = out[1];
    }
    return weft_graph_status(g);
}

static weft_status grad_pool(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
{
    if (!(need & 1u)) return WEFT_OK;
    int in[2] = { dy, n->in[0] };
    dx[0] = wop_bwd(g, WEFT_OP_MAXPOOL_BWD, in, 2, &n->a, NULL);
    return weft_graph_status(g);
}

static weft_status grad_reshape(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
{
    if (!(need & 1u)) return WEFT_OK;
    int v = wop_bwd(g, WEFT_OP_RESHAPE, &dy, 1, NULL, NULL);
    if (v >= 0) g->values[v].shape = g->values[n->in[0]].shape;
    dx[0] = v;
    return weft_graph_status(g);
}

static weft_status grad_xent(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
{
    (void)dy;  /* the loss is the root: d loss / d loss = 1 */
    if (!(need & 1u)) return WEFT_OK;
    int in[2] = { n->in[0], n->in[1] };
    dx[0] = wop_bwd(g, WEFT_OP_XENT_BWD, in, 2, NULL, NULL);
    return weft_graph_status(g);
}

/* The gradient of a is b itself — unless b is persistent: an update could
 * then change it before a's update reads it, so take a copy first. */
static int snapshot(weft_graph *g, int v)
{
    weft_role r = g->values[v].role;
    if (r != WEFT_ROLE_PARAM && r != WEFT_ROLE_STATE) return v;
    weft_attrs a = { .dtype = g->values[v].dtype };
    return wop_bwd(g, WEFT_OP_CAST, &v, 1, &a, NULL);
}

static weft_status grad_dot(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
{
    (void)dy;  /* a root loss: the gradient of a is b and of b is a */
    if (need & 1u) dx[0] = snapshot(g, n->in[1]);
    if (need & 2u) dx[1] = snapshot(g, n->in[0]);
    return weft_graph_status(g);
}

static weft_status grad_cast(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
{
    if (!(need & 1u)) return WEFT_OK;
    weft_attrs a = { .dtype = g->values[n->in[0]].dtype };
    dx[0] = wop_bwd(g, WEFT_OP_CAST, &dy, 1, &a, NULL);
    return weft_graph_status(g);
}

static weft_status grad_embedding(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
{
    if (!(need & 2u)) return WEFT_OK;
    int in[3] = { dy, n->in[0], n->in[1] };
    dx[1] = wop_bwd(g, WEFT_OP_EMBEDDING_BWD, in, 3, NULL, NULL);
    return weft_graph_status(g);
}

static weft_status grad_layernorm(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
{
    int in[5] = { dy, n->in[0], n->out[1], n->out[2], n->in[1] }, out[3] = { -1, -1, -1 };
    wop_bwd(g, WEFT_OP_LAYERNORM_BWD, in, 5, &n->a, out);
    if (need & 1u) dx[0] = out[0];
    if (need & 2u) dx[1] = out[1];
    if (need & 4u) dx[2] = out[2];
    return weft_graph_status(g);
}

static weft_status grad_attention(weft_graph *g, const weft_node *n, int dy, unsigned need, int *dx)
{
    if (!(need & 1u)) return WEFT_OK;
    int in[3] = { dy, n->in[0], n->out[1] };
    dx[0] = wop_bwd(g, WEFT_OP_ATTENTION_BWD, in, 3, &n->a, NULL);
    return weft_graph_status(g);
}

static const weft_op_info table[WEFT_OP_COUNT] = {
    [WEFT_OP_LINEAR]            = { "linear", 2, 3, 1, 0, infer_linear, grad_linear },
    [WEFT_OP_ADD]               = { "add", 2, 2, 1, 0, wop_infer_bcast, wop_grad_add },
    [WEFT_OP_RELU]              = { "relu", 1, 1, 1, 0, wop_infer_same, wop_grad_act },
    [WEFT_OP_GELU]              = { "gelu", 1, 1, 1, 0, wop_infer_same, wop_grad_act },
    [WEFT_OP_CONV2D]            = { "conv2d", 2, 3, 1, 0, infer_conv, grad_conv },
    [WEFT_OP_MAXPOOL]           = { "maxpool", 1, 1, 1, 0, infer_pool, grad_pool },
    [WEFT_OP_RESHAPE]           = { "reshape", 1, 1, 1, 0, infer_reshape, grad_reshape },
    [WEFT_OP_XENT]              = { "xent", 2, 2, 1, 0, infer_xent, grad_xent },
    [WEFT_OP_CAST]              = { "cast", 1, 1, 1, 0, infer_cast, grad_cast },
    [WEFT_OP_DOT]               = { "dot", 2, 2, 1, 0, infer_dot, grad_dot },
    [WEFT_OP_EMBEDDING]         = { "embedding", 2, 2, 1, 0, infer_embedding, grad_embedding },
    [WEFT_OP_LAYERNORM]         = { "layernorm", 3, 3, 3, 0, infer_layernorm, grad_layernorm },
    [WEFT_OP_ATTENTION]         = { "attention", 1, 1, 2, 0, infer_attention, grad_attention },
    [WEFT_OP_EMBEDDING_BWD]     = { "embedding_bwd", 3, 3, 1, 1u << 2, infer_embedding_bwd, NULL },
    [WEFT_OP_LAYERNORM_BWD]     = { "layernorm_bwd", 5, 5, 3, 0, infer_layernorm_bwd, NULL },
    [WEFT_OP_ATTENTION_BWD]     = { "attention_bwd", 3, 3, 1, 0, infer_attention_bwd, NULL },
    [WEFT_OP_ACT_BWD]           = { "act_bwd", 2, 2, 1, 0, infer_act_bwd, NULL },
    [WEFT_OP_LINEAR_BWD_DATA]   = { "linear_bwd_data", 2, 2, 1, 0, infer_linear_bwd_data, NULL },
    [WEFT_OP_LINEAR_BWD_WEIGHT] = { "linear_bwd_weight", 2, 2, 2, 0, infer_linear_bwd_weight, NULL },
    [WEFT_OP_CONV2D_BWD_DATA]   = { "conv2d_bwd_data", 3, 3, 1, 1u << 2, infer_conv_bwd_data, NULL },
    [WEFT_OP_CONV2D_BWD_WEIGHT] = { "conv2d_bwd_weight", 2, 2, 2, 0, infer_conv_bwd_weight, NULL },
    [WEFT_OP_MAXPOOL_BWD]       = { "maxpool_bwd", 2, 2, 1, 0, infer_pool_bwd, NULL },
    [WEFT_OP_XENT_BWD]          = { "xent_bwd", 2, 2, 1, 0, infer_xent_bwd, NULL },
    [WEFT_OP_SIGMOID]           = { "sigmoid", 1, 1, 1, 0, wop_infer_same, wop_grad_act },
    [WEFT_OP_TANH]              = { "tanh", 1, 1, 1, 0, wop_infer_same, wop_grad_act },
    [WEFT_OP_SOFTMAX]           = { "softmax", 1, 1, 1, 0, wop_infer_softmax, wop_grad_softmax },
    [WEFT_OP_TRANSPOSE]         = { "transpose", 1, 1, 1, 0, wop_infer_transpose, wop_grad_transpose },
    [WEFT_OP_CONCAT]            = { "concat", 2, WEFT_MAX_IN, 1, 0, wop_infer_concat, wop_grad_concat },
    [WEFT_OP_SPLIT]             = { "split", 1, 1, 1, 0, wop_infer_split, wop_grad_split },
    [WEFT_OP_DROPOUT]           = { "dropout", 1, 1, 1, 0, infer_dropout, wop_grad_dropout },
    [WEFT_OP_BCE]               = { "bce", 2, 2, 1, 0, wop_infer_bce, wop_grad_bce },
    [WEFT_OP_EMBBAG]            = { "embbag", 2, 2, 1, 0, wop_infer_embbag, wop_grad_embbag },
    [WEFT_OP_DOT_INTERACT]      = { "dot_interact", 2, 2, 1, 0, wop_infer_dot_interact, wop_grad_dot_interact },
    [WEFT_OP_BATCHNORM]         = { "batchnorm", 5, 5, 3, 0, wop_infer_batchnorm, wop_grad_batchnorm },
    [WEFT_OP_AVGPOOL]           = { "avgpool", 1, 1, 1, 0, wop_infer_avgpool, wop_grad_avgpool },
    [WEFT_OP_LSTM]              = { "lstm", 5, 5, 3, 0, wop_infer_lstm, wop_grad_lstm },
    [WEFT_OP_MUL]               = { "mul", 2, 2, 1, 0, wop_infer_bcast, wop_grad_mul },
    [WEFT_OP_SCALE]             = { "scale", 1, 1, 1, 0, wop_infer_scale, wop_grad_scale },
    [WEFT_OP_MATMUL]            = { "matmul", 2, 2, 1, 0, wop_infer_matmul, wop_grad_matmul },
    [WEFT_OP_ERF]               = { "erf", 1, 1, 1, 0, wop_infer_same, wop_grad_act },
    [WEFT_OP_WHERE]             = { "where", 2, 2, 1, 0, wop_infer_where, wop_grad_where },
    [WEFT_OP_SUM_LEAD]          = { "sum_lead", 1, 1, 1, 0, wop_infer_sum_lead, wop_grad_sum_lead },
    [WEFT_OP_SOFTMAX_BWD]       = { "softmax_bwd", 2, 2, 1, 0, wop_infer_softmax_bwd, NULL },
    [WEFT_OP_SPLIT_BWD]         = { "split_bwd", 2, 2, 1, 1u << 1, wop_infer_split_bwd, NULL },
    [WEFT_OP_DROPOUT_BWD]       = { "dropout_bwd", 1, 1, 1, 0, infer_dropout, NULL },
    [WEFT_OP_BCE_BWD]           = { "bce_bwd", 2, 2, 1, 0, wop_infer_bce_bwd, NULL },
    [WEFT_OP_EMBBAG_BWD]        = { "embbag_bwd", 3, 3, 2, 1u << 2, wop_infer_embbag_bwd, NULL },
    [WEFT_OP_DOT_INTERACT_BWD]  = { "dot_interact_bwd", 3, 3, 2, 0, wop_infer_dot_interact_bwd, NULL },
    [WEFT_OP_BATCHNORM_BWD]     = { "batchnorm_bwd", 5, 5, 3, 0, wop_infer_batchnorm_bwd, NULL },
    [WEFT_OP_AVGPOOL_BWD]       = { "avgpool_bwd", 2, 2, 1, 1u << 1, wop_infer_avgpool_bwd, NULL },
    [WEFT_OP_LSTM_BWD]          = { "lstm_bwd", 7, 7, 5, 0, wop_infer_lstm_bwd, NULL },
    [WEFT_OP_SUM_LEAD_BWD]      = { "sum_lead_bwd", 2, 2, 1, 1u << 1, wop_infer_sum_lead_bwd, NULL },
    [WEFT_OP_SGD]               = { "sgd", 2, 5, 0, 0, infer_update, NULL },
    [WEFT_OP_ADAMW]             = { "adamw", 4, 6, 0, 0, infer_update, NULL },
};

const weft_op_info *weft_op_get(weft_op op) { return &table[op]; }
const char *weft_op_name(weft_op op) { return (unsigned)op < WEFT_OP_COUNT ? table[op].name : "?"; }

bool weft_op_parse(const char *s, weft_op *out)
{
    for (int i = 0; i < WEFT_OP_COUNT; i++)
        if (strcmp(table[i].name, s) == 0) { *out = (weft_op)i; return true; }
    return false;
}
