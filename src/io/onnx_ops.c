/* onnx_ops.c — the ONNX ops that become weft nodes. A node whose inputs are
 * all known at import folds first (onnx_const.c); what remains reads data.
 * ONNX broadcasts freely; weft's elementwise ops take a second operand of
 * the first's shape or of its trailing dimensions, and a scalar constant
 * becomes a scale (alpha x + beta) — anything else is an error naming the
 * shapes. Transposes are pairs of exchanged axes; a MatMul with a weight is
 * a linear layer over the rows of its input. */
#include "io/onnx_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const onnx_ops[] = {
    "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Erf", "Softmax", "Flatten", "Reshape",
    "Transpose", "Unsqueeze", "Squeeze", "Concat", "Split", "Slice", "Gather", "Where", "Conv", "MaxPool",
    "AveragePool", "GlobalAveragePool", "BatchNormalization", "LayerNormalization", "Identity", "Dropout", "Cast",
    "Constant", "Shape", "Size", "Equal", "Less", "Greater", "Not", "And", "Or", "Pow", "Sqrt", "Neg", "Range",
    "ConstantOfShape", "Trilu", "Expand", "ReduceMean", "LSTM", NULL };

static entry *input(importer *im, const Onnx__NodeProto *nd, size_t i)
{
    return i < nd->n_input && nd->input[i][0] ? onnx_find(im, nd->input[i]) : NULL;
}

static bool is_weight(const entry *e) { return e && (e->kind == E_INIT || e->kind == E_INIT_T); }

/* Input i as numbers known at import; absent is NULL, but data where a
 * known list (axes, sizes, steps) is wanted is an error. */
static weft_status known_in(importer *im, const Onnx__NodeProto *nd, size_t i, cval **out)
{
    WEFT_TRY(onnx_const_in(im, nd, i, out));
    if (!*out && i < nd->n_input && nd->input[i][0])
        return onnx_unsupported(im, nd, "input %zu (%s) must be known at import", i, nd->input[i]);
    return WEFT_OK;
}

/* x's dimensions without its leading 1s (a reshape when there are any). */
static int drop_leading_ones(weft_graph *g, int x)
{
    const weft_shape sv = g->values[x].shape, *s = &sv;   /* a copy: builders may move g->values */
    int k = 0;
    while (k < s->ndim - 1 && s->d[k] == 1) k++;
    if (!k) return x;
    int64_t d[WEFT_MAX_DIMS];
    for (int i = k; i < s->ndim; i++) d[i - k] = s->d[i];
    return weft_g_reshape(g, x, s->ndim - k, d);
}

/* b fits a: the same shape, or a's trailing dimensions. */
static bool fits(const weft_shape *a, const weft_shape *b)
{
    if (b->ndim > a->ndim) return false;
    for (int i = 0; i < b->ndim; i++) if (b->d[i] != a->d[a->ndim - b->ndim + i]) return false;
    return true;
}

/* Add, Sub, Mul, Div. */
static weft_status binary(importer *im, const Onnx__NodeProto *nd, const char *op, int *y)
{
    weft_graph *g = im->g;
    cval *c[2] = { NULL, NULL };
    for (int k = 0; k < 2; k++) {
        entry *e = input(im, nd, (size_t)k);
        if (e && e->kind == E_CONST) c[k] = e->c;
        else if (e && e->kind == E_INIT && e->t->n_dims <= 1 && (e->t->n_dims == 0 || e->t->dims[0] == 1))
            WEFT_TRY(onnx_const_in(im, nd, (size_t)k, &c[k]));   /* a scalar initializer: a constant */
        if (c[k] && c[k]->n != 1) c[k] = NULL;                   /* a tensor: data */
    }
    if (c[0] || c[1]) {   /* with a scalar: a scale */
        int x, k = c[0] ? 1 : 0;
        double s = c[1 - k]->v[0];
        WEFT_TRY(onnx_value_of(im, nd, (size_t)k, &x));
        bool sub = op[0] == 'S', div = op[0] == 'D';
        if (op[0] == 'A') *y = weft_g_scale(g, x, 1.0f, (float)s);
        else if (sub) *y = k == 0 ? weft_g_scale(g, x, 1.0f, (float)-s) : weft_g_scale(g, x, -1.0f, (float)s);
        else if (!div) *y = weft_g_scale(g, x, (float)s, 0.0f);
        else if (k == 0) *y = weft_g_scale(g, x, (float)(1.0 / s), 0.0f);
        else return onnx_unsupported(im, nd, "a constant divided by data is not supported");
        return WEFT_OK;
    }
    int a, b;
    if (op[0] == 'D') return onnx_unsupported(im, nd, "a divisor that is not a scalar constant is not supported");
    entry *e1 = input(im, nd, 1);
    if (op[0] == 'S' && e1 && e1->kind == E_CONST && !e1->c->weight) {   /* x - C: x + (-C), C negated at import */
        cval *neg = cval_new(C_FLOAT, e1->c->ndim, e1->c->d);
        if (!neg) return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin);
        for (int64_t i = 0; i < neg->n; i++) neg->v[i] = -e1->c->v[i];
        weft_status s = onnx_value_of(im, nd, 0, &a);
        if (!s) s = onnx_materialize(im, neg, AS_DATA, NULL, &b);
        cval_free(neg);
        if (s) return s;
        op = "Add";
    } else {
        WEFT_TRY(onnx_value_of(im, nd, 0, &a));
        WEFT_TRY(onnx_value_of(im, nd, 1, &b));
    }
    bool swap = !fits(&g->values[a].shape, &g->values[b].shape);
    if (swap) { int t = a; a = b; b = t; }
    b = drop_leading_ones(g, b);
    if (b < 0) return weft_graph_status(g);
    if (!fits(&g->values[a].shape, &g->values[b].shape)) {
        char sa[64], sb[64];
        return onnx_unsupported(im, nd, "shapes %s and %s: weft broadcasts only over leading dimensions",
                                weft_shape_str(&g->values[a].shape, sa, sizeof sa),
                                weft_shape_str(&g->values[b].shape, sb, sizeof sb));
    }
    if (op[0] == 'M') *y = weft_g_mul(g, a, b);
    else if (op[0] == 'A') *y = weft_g_add(g, a, b);
    else if (!swap) *y = weft_g_add(g, a, weft_g_scale(g, b, -1.0f, 0.0f));      /* a - b */
    else *y = weft_g_add(g, weft_g_scale(g, a, -1.0f, 0.0f), b);                 /* the broadcast one was first */
    return WEFT_OK;
}

/* A linear layer over x's rows, whatever x's leading dimensions. */
static int linear_rows(weft_graph *g, int x, int w, int b)
{
    weft_shape s = g->values[x].shape;
    if (s.ndim == 2) return weft_g_linear(g, x, w, b, 0);
    int64_t rows = 1, d2[2];
    for (int k = 0; k < s.ndim - 1; k++) rows *= s.d[k];
    d2[0] = rows;
    d2[1] = s.d[s.ndim - 1];
    int y = weft_g_linear(g, weft_g_reshape(g, x, 2, d2), w, b, 0);
    if (y < 0) return y;
    s.d[s.ndim - 1] = g->values[y].shape.d[1];
    return weft_g_reshape(g, y, s.ndim, s.d);
}

static weft_status matmul(importer *im, const Onnx__NodeProto *nd, int *y)
{
    int x, w;
    entry *b = input(im, nd, 1);
    WEFT_TRY(onnx_value_of(im, nd, 0, &x));
    if (is_weight(b)) {
        WEFT_TRY(onnx_weight(im, nd, b, true, &w));   /* (K, N) in the file; weft's linear takes (N, K) */
        *y = linear_rows(im->g, x, w, -1);
        return WEFT_OK;
    }
    WEFT_TRY(onnx_value_of(im, nd, 1, &w));
    *y = weft_g_matmul(im->g, x, w, false, false);
    return WEFT_OK;
}

/* A permutation as exchanges of two axes. */
static weft_status transpose(importer *im, const Onnx__NodeProto *nd, int x, int *y)
{
    weft_graph *g = im->g;
    int n = g->values[x].shape.ndim, cur[WEFT_MAX_DIMS];
    const Onnx__AttributeProto *p = onnx_attr(nd, "perm");
    if (p && p->n_ints != (size_t)n) return onnx_unsupported(im, nd, "perm has %zu entries for %d dimensions", p->n_ints, n);
    for (int k = 0; k < n; k++) cur[k] = k;
    for (int k = 0; k < n && x >= 0; k++) {
        if (p && (p->ints[k] < 0 || p->ints[k] >= n)) return onnx_unsupported(im, nd, "perm entry out of range");
        int want = p ? (int)p->ints[k] : n - 1 - k, j = k;
        while (j < n && cur[j] != want) j++;
        if (j == n) return onnx_unsupported(im, nd, "perm is not a permutation");
        if (j == k) continue;
        x = weft_g_transpose(g, x, k, j);
        int t = cur[k]; cur[k] = cur[j]; cur[j] = t;
    }
    *y = x;
    return WEFT_OK;
}

static weft_status reshape_like(importer *im, const Onnx__NodeProto *nd, const char *op, int x, int *y)
{
    weft_graph *g = im->g;
    const weft_shape sv = g->values[x].shape, *s = &sv;   /* a copy: builders may move g->values */
    int64_t d[WEFT_MAX_DIMS];
    int n = 0;
    if (!strcmp(op, "Flatten")) {
        int64_t axis = axis_of(onnx_attr_i(nd, "axis", 1), s->ndim);
        if (axis < 0 || axis > s->ndim) return onnx_unsupported(im, nd, "axis out of range");
        d[0] = d[1] = 1;
        for (int k = 0; k < s->ndim; k++) d[k >= axis] *= s->d[k];
        n = 2;
    } else if (!strcmp(op, "Reshape")) {
        cval *shape;
        WEFT_TRY(onnx_const_in(im, nd, 1, &shape));
        if (!shape) return onnx_unsupported(im, nd, "its shape must be known at import (a constant, or computed from shapes)");
        WEFT_TRY(onnx_reshape_dims(im, nd, shape, s->d, s->ndim, &n, d));
    } else {   /* Unsqueeze, Squeeze: axes from the second input (opset 13) */
        cval *ax;
        WEFT_TRY(known_in(im, nd, 1, &ax));
        int64_t axes[WEFT_MAX_DIMS];
        int nax = ax ? (int)ax->n : 0;
        if ((!ax && op[0] != 'S') || nax > WEFT_MAX_DIMS) return onnx_unsupported(im, nd, "axes missing or too many dimensions");
        for (int i = 0; i < nax; i++) axes[i] = (int64_t)ax->v[i];
        const char *why = onnx_squeeze_dims(s->d, s->ndim, axes, nax, op[0] == 'S', &n, d);
        if (why) return onnx_unsupported(im, nd, "%s", why);
        if (!n) d[n++] = 1;
    }
    *y = weft_g_reshape(g, x, n, d);
    return WEFT_OK;
}

/* Split (sizes from the second input, the attribute of older opsets, or equal parts). */
static weft_status split(importer *im, const Onnx__NodeProto *nd, int x)
{
    weft_graph *g = im->g;
    const weft_shape sv = g->values[x].shape, *s = &sv;   /* a copy: builders may move g->values */
    int64_t axis = axis_of(onnx_attr_i(nd, "axis", 0), s->ndim);
    if (axis < 0 || axis >= s->ndim) return onnx_unsupported(im, nd, "axis out of range");
    cval *sz;
    WEFT_TRY(known_in(im, nd, 1, &sz));
    const Onnx__AttributeProto *sa = onnx_attr(nd, "split");
    int64_t start = 0, dim = s->d[axis], parts = (int64_t)nd->n_output;
    if ((sz && sz->n != parts) || (sa && sa->n_ints != (size_t)parts))
        return onnx_unsupported(im, nd, "%lld outputs but a different number of sizes", (long long)parts);
    if (!sz && !sa && dim % parts) return onnx_unsupported(im, nd, "equal parts of an axis of %lld cannot be %lld",
                                                             (long long)dim, (long long)parts);
    for (int64_t i = 0; i < parts; i++) {
        int64_t len = sz ? (int64_t)sz->v[i] : sa ? sa->ints[i] : dim / parts;
        if (len < 0 || start + len > dim) return onnx_unsupported(im, nd, "its sizes exceed the axis (%lld)", (long long)dim);
        int y = weft_g_split(g, x, (int)axis, start, len);
        if (y < 0) return weft_fail_wrap(weft_graph_status(g), "onnx %s: Split node %s", im->origin, onnx_node_name(nd));
        WEFT_TRY(onnx_add(im, nd->output[i], E_VALUE, y, NULL, NULL));
        start += len;
    }
    return WEFT_OK;
}

static weft_status slice(importer *im, const Onnx__NodeProto *nd, int x, int *y)
{
    weft_graph *g = im->g;
    cval *c[4];
    for (int k = 0; k < 4; k++) WEFT_TRY(known_in(im, nd, (size_t)k + 1, &c[k]));
    weft_shape s = g->values[x].shape;
    int64_t st[WEFT_MAX_DIMS], cnt[WEFT_MAX_DIMS], step[WEFT_MAX_DIMS];
    WEFT_TRY(onnx_slice_ranges(im, nd, s.ndim, s.d, c[0], c[1], c[2], c[3], st, cnt, step));
    for (int a = 0; a < s.ndim && x >= 0; a++) {
        if (st[a] == 0 && cnt[a] == s.d[a]) continue;
        if (step[a] != 1 && cnt[a] > 1) return onnx_unsupported(im, nd, "steps other than 1 are not supported");
        x = weft_g_split(g, x, a, st[a], cnt[a]);
    }
    *y = x;
    return WEFT_OK;
}

/* Gather: rows of a table (an embedding, by data or constant ids), or one
 * index of data along an axis. */
static weft_status gather(importer *im, const Onnx__NodeProto *nd, int *y)
{
    weft_graph *g = im->g;
    entry *tab = input(im, nd, 0), *ie = input(im, nd, 1);
    int64_t axis = onnx_attr_i(nd, "axis", 0);
    if (is_weight(tab)) {
        if (axis != 0) return onnx_unsupported(im, nd, "only axis 0 (rows of a table) is supported");
        int ids, w;
        bool scalar = false;
        if (ie && ie->kind == E_CONST) {   /* known ids: counted from the end when negative, as ONNX says */
            int64_t V = tab->t->n_dims == 2 ? tab->t->dims[tab->kind == E_INIT ? 0 : 1] : 0;
            cval *c = cval_new(C_INT, ie->c->ndim, ie->c->d);
            if (!c) return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin);
            for (int64_t i = 0; i < c->n; i++) {
                double r = ie->c->v[i] < 0 ? ie->c->v[i] + (double)V : ie->c->v[i];
                if (r < 0 || r >= (double)V) { cval_free(c); return onnx_unsupported(im, nd, "index %g out of range", ie->c->v[i]); }
                c->v[i] = r;
            }
            scalar = c->ndim == 0;
            weft_status s = onnx_materialize(im, c, AS_IDS, NULL, &ids);
            cval_free(c);
            if (s) return s;
        } else WEFT_TRY(onnx_value_of(im, nd, 1, &ids));
        if (g->values[ids].dtype != WEFT_I32) return onnx_unsupported(im, nd, "its indices must be integers");
        WEFT_TRY(onnx_weight(im, nd, tab, false, &w));
        *y = weft_g_embedding(g, ids, w);
        if (scalar && *y >= 0) {   /* one row: its (D), not (1, D) */
            int64_t D = g->values[*y].shape.d[g->values[*y].shape.ndim - 1];
            *y = weft_g_reshape(g, *y, 1, &D);
        }
        return WEFT_OK;
    }
    int x;
    cval *ix;
    WEFT_TRY(onnx_value_of(im, nd, 0, &x));
    WEFT_TRY(onnx_const_in(im, nd, 1, &ix));
    const weft_shape sv = g->values[x].shape, *s = &sv;   /* a copy: builders may move g->values */
    axis = axis_of(axis, s->ndim);
    if (!ix || ix->ndim > 1 || ix->n < 1 || axis < 0 || axis >= s->ndim)
        return onnx_unsupported(im, nd, "data is gathered only by a constant index or a 1-D list of them along an axis");
    /* runs of consecutive indices are slabs of x (a split each), joined */
    int parts[WEFT_MAX_IN], np = 0, acc = -1;
    for (int64_t i = 0; i < ix->n;) {
        int64_t a = (int64_t)ix->v[i], len = 1;
        if (a < 0) a += s->d[axis];
        if (a < 0 || a >= s->d[axis]) return onnx_unsupported(im, nd, "index %lld out of range", (long long)ix->v[i]);
        while (i + len < ix->n && (int64_t)ix->v[i + len] == a + len) len++;   /* negative ones end a run */
        parts[np++] = weft_g_split(g, x, (int)axis, a, len);
        i += len;
        if (np + (acc >= 0) == WEFT_MAX_IN || i == ix->n) {   /* join what there is, the running join first */
            int in[WEFT_MAX_IN], k = 0;
            if (acc >= 0) in[k++] = acc;
            for (int j = 0; j < np; j++) in[k++] = parts[j];
            acc = k == 1 ? in[0] : weft_g_concat(g, in, k, (int)axis);
            np = 0;
            if (acc < 0) { *y = -1; return WEFT_OK; }
        }
    }
    if (ix->ndim == 1) { *y = acc; return WEFT_OK; }
    int64_t d[WEFT_MAX_DIMS];   /* one index: its axis goes */
    int n = 0;
    for (int k = 0; k < s->ndim; k++) if (k != axis) d[n++] = s->d[k];
    if (!n) d[n++] = 1;
    *y = weft_g_reshape(g, acc, n, d);
    return WEFT_OK;
}

/* Where(condition known at import, data, scalar) or (…, scalar, data): a
 * masked fill. */
static weft_status where(importer *im, const Onnx__NodeProto *nd, int *y)
{
    cval *cond, *a, *b;
    WEFT_TRY(onnx_const_in(im, nd, 0, &cond));
    WEFT_TRY(onnx_const_in(im, nd, 1, &a));
    WEFT_TRY(onnx_const_in(im, nd, 2, &b));
    if (!cond || (a && a->n != 1) || (b && b->n != 1) || !a == !b)
        return onnx_unsupported(im, nd, "only a constant condition choosing between data and a scalar is supported");
    cval *mask = cval_new(C_FLOAT, cond->ndim, cond->d);
    if (!mask) return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin);
    for (int64_t i = 0; i < cond->n; i++) mask->v[i] = b ? cond->v[i] != 0 : cond->v[i] == 0;   /* 1: keep the data */
    int x, m;
    weft_status s = onnx_value_of(im, nd, b ? 1 : 2, &x);
    if (!s) s = onnx_materialize(im, mask, AS_MASK, NULL, &m);
    float fill = (float)(b ? b->v[0] : a->v[0]);
    cval_free(mask);
    if (s) return s;
    *y = weft_g_where(im->g, x, m, fill);
    return WEFT_OK;
}

/* weft's layer norm over the last axis of x, whatever its leading dimensions. */
static int layernorm_rows(weft_graph *g, int x, int gam, int bet, float eps)
{
    weft_shape s = g->values[x].shape;
    int64_t d2[2] = { weft_shape_numel(&s) / s.d[s.ndim - 1], s.d[s.ndim - 1] };
    int h = s.ndim == 2 ? x : weft_g_reshape(g, x, 2, d2);
    h = weft_g_layernorm(g, h, gam, bet, eps);
    return s.ndim == 2 || h < 0 ? h : weft_g_reshape(g, h, s.ndim, s.d);
}

static weft_status layernorm(importer *im, const Onnx__NodeProto *nd, int *y)
{
    weft_graph *g = im->g;
    int x, gam, bet;
    WEFT_TRY(onnx_value_of(im, nd, 0, &x));
    int64_t axis = onnx_attr_i(nd, "axis", -1);
    if (axis != -1 && axis != g->values[x].shape.ndim - 1) return onnx_unsupported(im, nd, "only the last axis is supported");
    if (nd->n_output > 1 && nd->output[1][0]) return onnx_unsupported(im, nd, "its mean and inverse deviation as outputs");
    if (!is_weight(input(im, nd, 1)) || !is_weight(input(im, nd, 2)))
        return onnx_unsupported(im, nd, "its scale and bias must be initializers");
    WEFT_TRY(onnx_weight(im, nd, input(im, nd, 1), false, &gam));
    WEFT_TRY(onnx_weight(im, nd, input(im, nd, 2), false, &bet));
    const Onnx__AttributeProto *ep = onnx_attr(nd, "epsilon");
    *y = layernorm_rows(g, x, gam, bet, ep ? ep->f : 1e-5f);
    return WEFT_OK;
}

/* A layer norm written out (opsets 13 to 16): ReduceMean(x), Sub(x, mean),
 * Pow(·, 2), ReduceMean, Add(eps), Sqrt, Div — followed by the model's own
 * Mul(scale) and Add(bias), which stay ops. Each piece is remembered (E_LN)
 * until the Div makes weft's layer norm (scale 1, bias 0); a piece used
 * any other way is an error (onnx_value_of). *done: nd was such a piece. */
static weft_status layernorm_piece(importer *im, const Onnx__NodeProto *nd, const char *op, bool *done)
{
    weft_graph *g = im->g;
    entry *a = input(im, nd, 0), *b = input(im, nd, 1);
    *done = false;
    if (!a || (a->kind != E_VALUE && a->kind != E_LN)) return WEFT_OK;
    int x = a->value;
    cval *c = NULL;
    if (b && b->kind == E_CONST) c = b->c;
    if (!strcmp(op, "ReduceMean")) {
        const Onnx__AttributeProto *ax = onnx_attr(nd, "axes");
        int nd_ = g->values[x].shape.ndim;
        bool last = ax && ax->n_ints == 1 && (ax->ints[0] == -1 || ax->ints[0] == nd_ - 1) &&
                    onnx_attr_i(nd, "keepdims", 1) == 1;
        if (!last || (a->kind == E_LN && a->stage != LN_SQUARE))
            return onnx_unsupported(im, nd, "ReduceMean is supported only inside a layer norm over the last axis");
        *done = true;
        return onnx_add_ln(im, nd->output[0], a->kind == E_VALUE ? LN_MEAN : LN_VAR, x, 0);
    }
    if (a->kind == E_VALUE) {   /* x - mean(x) */
        if (strcmp(op, "Sub") || !b || b->kind != E_LN || b->stage != LN_MEAN || b->value != x) return WEFT_OK;
        *done = true;
        return onnx_add_ln(im, nd->output[0], LN_CENTER, x, 0);
    }
    ln_stage st = a->stage, next;
    float eps = a->eps;
    if (st == LN_CENTER && !strcmp(op, "Pow") && c && c->n == 1 && c->v[0] == 2) next = LN_SQUARE;
    else if (st == LN_CENTER && !strcmp(op, "Mul") && b == a) next = LN_SQUARE;
    else if (st == LN_VAR && !strcmp(op, "Add") && c && c->n == 1) { next = LN_VAR_EPS; eps = (float)c->v[0]; }
    else if (st == LN_VAR_EPS && !strcmp(op, "Sqrt")) next = LN_STD;
    else if (st == LN_CENTER && !strcmp(op, "Div") && b && b->kind == E_LN && b->stage == LN_STD && b->value == x) {
        int64_t D = g->values[x].shape.d[g->values[x].shape.ndim - 1];
        cval *one = cval_new(C_FLOAT, 1, &D), *zero = cval_new(C_FLOAT, 1, &D);
        int gam = -1, bet = -1;
        weft_status s = one && zero ? WEFT_OK : weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin);
        for (int64_t i = 0; one && i < D; i++) one->v[i] = 1;
        if (!s) s = onnx_materialize(im, one, AS_DATA, NULL, &gam);
        if (!s) s = onnx_materialize(im, zero, AS_DATA, NULL, &bet);
        cval_free(one);
        cval_free(zero);
        if (s) return s;
        int y = layernorm_rows(g, x, gam, bet, b->eps);
        if (y < 0) return weft_fail_wrap(weft_graph_status(g), "onnx %s: %s node %s", im->origin, op, onnx_node_name(nd));
        *done = true;
        return onnx_add(im, nd->output[0], E_VALUE, y, NULL, NULL);
    } else return onnx_value_of(im, nd, 0, &x);   /* a piece used otherwise: the error */
    *done = true;
    return onnx_add_ln(im, nd->output[0], next, x, eps);
}

/* A parameter made from numbers known at import (what PyTorch computes
 * from its weights with Slice, Concat, Unsqueeze): kept under the name the
 * file gives them; cut into nblocks equal blocks put in `order` if given. */
static weft_status param_from(importer *im, const char *name, const cval *c, int ndim, const int64_t *d,
                              const int *order, int64_t nblocks, int *out)
{
    int64_t n = 1;
    for (int k = 0; k < ndim; k++) n *= d[k];
    if (n != c->n) return weft_fail(WEFT_ERR_SHAPE, "onnx %s: %s: %lld numbers, %lld expected", im->origin, name,
                                    (long long)c->n, (long long)n);
    float *f = malloc((size_t)n * sizeof *f + 4);
    if (!f) return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin);
    int64_t per = order ? n / nblocks : n;   /* numbers in one block */
    for (int64_t i = 0; i < n; i++) {
        int64_t b = i / per, from = order ? order[b] * per + i % per : i;
        f[i] = (float)c->v[from];
    }
    return onnx_new_param(im, name, false, ndim, d, f, out);
}

/* One forward LSTM layer (what PyTorch writes for each layer of nn.LSTM):
 * X (T, B, I), W (1, 4H, I), R (1, 4H, H), B (1, 8H) known at import (its
 * weights, sliced and stacked), zero initial states. ONNX orders the gates
 * i, o, f, c; weft (as torch.nn.LSTM) i, f, g, o. Y is (T, 1, B, H). */
static weft_status lstm(importer *im, const Onnx__NodeProto *nd)
{
    weft_graph *g = im->g;
    cval *W, *R, *Bc, *h0, *c0, *sl;
    WEFT_TRY(onnx_const_in(im, nd, 1, &W));
    WEFT_TRY(onnx_const_in(im, nd, 2, &R));
    WEFT_TRY(onnx_const_in(im, nd, 3, &Bc));
    WEFT_TRY(onnx_const_in(im, nd, 4, &sl));
    WEFT_TRY(onnx_const_in(im, nd, 5, &h0));
    WEFT_TRY(onnx_const_in(im, nd, 6, &c0));
    const Onnx__AttributeProto *dir = onnx_attr(nd, "direction");
    if (dir && dir->s.len && (dir->s.len != 7 || memcmp(dir->s.data, "forward", 7)))
        return onnx_unsupported(im, nd, "only the forward direction is supported");
    if (onnx_attr(nd, "activations") || onnx_attr(nd, "clip") || onnx_attr_i(nd, "input_forget", 0) ||
        onnx_attr_i(nd, "layout", 0) || (nd->n_input > 7 && nd->input[7][0]) || (nd->n_input > 4 && nd->input[4][0]))
        return onnx_unsupported(im, nd, "activations, clip, input_forget, layout 1, sequence lengths and peepholes are "
                                "not supported");
    for (int k = 0; k < 2; k++) {
        const cval *z = k ? c0 : h0;
        bool named = nd->n_input > (size_t)(5 + k) && nd->input[5 + k][0];
        if (named && !z) return onnx_unsupported(im, nd, "its initial state must be known at import (zeros)");
        for (int64_t i = 0; z && i < z->n; i++)
            if (z->v[i] != 0) return onnx_unsupported(im, nd, "only zero initial states are supported");
    }
    int64_t H = onnx_attr_i(nd, "hidden_size", 0);
    if (!W || !R || W->ndim != 3 || R->ndim != 3 || W->d[0] != 1 || W->d[1] != 4 * H || R->d[2] != H || H <= 0)
        return onnx_unsupported(im, nd, "its weights must be known at import, one direction of 4 x hidden_size rows");
    if (Bc && Bc->n != 8 * H) return onnx_unsupported(im, nd, "its bias must hold 8 x hidden_size numbers");
    int x, w_ih, w_hh, b_ih, b_hh;
    WEFT_TRY(onnx_value_of(im, nd, 0, &x));
    static const int order[4] = { 0, 2, 3, 1 };   /* weft's i, f, g, o from ONNX's i, o, f, c */
    int64_t dw[2] = { 4 * H, W->d[2] }, dr[2] = { 4 * H, H }, db = 4 * H;
    WEFT_TRY(param_from(im, nd->input[1], W, 2, dw, order, 4, &w_ih));
    WEFT_TRY(param_from(im, nd->input[2], R, 2, dr, order, 4, &w_hh));
    cval *half = cval_new(C_FLOAT, 1, &db);
    if (!half) return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin);
    char bn[2][WEFT_NAME_MAX];
    int *bv[2] = { &b_ih, &b_hh };
    weft_status s = WEFT_OK;
    for (int k = 0; k < 2 && !s; k++) {   /* B holds the input bias, then the recurrent one */
        for (int64_t i = 0; i < db; i++) half->v[i] = Bc ? Bc->v[k * db + i] : 0;
        snprintf(bn[k], sizeof bn[k], "%.50s.%s", nd->n_input > 3 && nd->input[3][0] ? nd->input[3] : nd->input[1],
                 k ? "hh" : "ih");
        s = param_from(im, bn[k], half, 1, &db, order, 4, bv[k]);
    }
    cval_free(half);
    if (s) return s;
    int y = weft_g_lstm(g, x, w_ih, w_hh, b_ih, b_hh);
    if (y < 0) return weft_fail_wrap(weft_graph_status(g), "onnx %s: LSTM node %s", im->origin, onnx_node_name(nd));
    weft_shape ys = g->values[y].shape;
    int64_t d4[4] = { ys.d[0], 1, ys.d[1], ys.d[2] };
    int y4 = weft_g_reshape(g, y, 4, d4);
    if (y4 < 0) return weft_graph_status(g);
    WEFT_TRY(onnx_add(im, nd->output[0], E_VALUE, y4, NULL, NULL));
    for (size_t k = 1; k < nd->n_output; k++)
        if (nd->output[k][0]) WEFT_TRY(onnx_add(im, nd->output[k], E_ABSENT, -1, NULL, NULL));
    return WEFT_OK;
}

/* A list attribute whose entries must all be equal (square kernels, the
 * same stride and padding on every side): their value, or dflt if absent. */
static weft_status attr_same(const importer *im, const Onnx__NodeProto *nd, const char *name, int64_t dflt, int64_t *out)
{
    const Onnx__AttributeProto *a = onnx_attr(nd, name);
    *out = dflt;
    if (!a) return WEFT_OK;
    for (size_t i = 0; i < a->n_ints; i++)
        if (a->ints[i] != a->ints[0]) return onnx_unsupported(im, nd, "attribute %s: unequal entries are not supported", name);
    if (a->n_ints) *out = a->ints[0];
    return WEFT_OK;
}

static weft_status conv_pool(importer *im, const Onnx__NodeProto *nd, const char *op, int x, int *y)
{
    weft_graph *g = im->g;
    int64_t k, stride, pad, dil;
    const Onnx__AttributeProto *ap = onnx_attr(nd, "auto_pad");
    if (ap && ap->s.len && (ap->s.len != 6 || memcmp(ap->s.data, "NOTSET", 6)))
        return onnx_unsupported(im, nd, "auto_pad other than NOTSET is not supported (give pads)");
    WEFT_TRY(attr_same(im, nd, "kernel_shape", 0, &k));
    WEFT_TRY(attr_same(im, nd, "strides", 1, &stride));
    WEFT_TRY(attr_same(im, nd, "pads", 0, &pad));
    WEFT_TRY(attr_same(im, nd, "dilations", 1, &dil));
    if (dil != 1) return onnx_unsupported(im, nd, "dilations other than 1 are not supported");
    if (!strcmp(op, "Conv")) {
        int w, b = -1;
        if (onnx_attr_i(nd, "group", 1) != 1) return onnx_unsupported(im, nd, "group other than 1 is not supported");
        WEFT_TRY(onnx_weight(im, nd, input(im, nd, 1), false, &w));
        if (input(im, nd, 2)) WEFT_TRY(onnx_weight(im, nd, input(im, nd, 2), false, &b));
        *y = weft_g_conv2d(g, x, w, b, (int)stride, (int)pad, 0);
        return WEFT_OK;
    }
    if (pad != 0) return onnx_unsupported(im, nd, "padding is not supported");
    if (onnx_attr_i(nd, "ceil_mode", 0)) return onnx_unsupported(im, nd, "ceil_mode = 1 is not supported");
    const weft_shape sv = g->values[x].shape, *s = &sv;   /* a copy: builders may move g->values */
    if (s->ndim != 4) return onnx_unsupported(im, nd, "a 4-D (N, C, H, W) input is needed");
    if (!strcmp(op, "MaxPool")) { *y = weft_g_maxpool(g, x, (int)k, (int)stride); return WEFT_OK; }
    bool global = !strcmp(op, "GlobalAveragePool");
    if (!global && (k != s->d[2] || k != s->d[3]))
        return onnx_unsupported(im, nd, "only a window over the whole (square) image is supported");
    int p = weft_g_avgpool(g, x);
    int64_t d[4] = { s->d[0], s->d[1], 1, 1 };
    *y = p < 0 ? -1 : weft_g_reshape(g, p, 4, d);   /* ONNX keeps the (1, 1) */
    return WEFT_OK;
}

/* Inference: the running mean and variance are the file's. */
static weft_status batchnorm(importer *im, const Onnx__NodeProto *nd, int x, int *y)
{
    weft_graph *g = im->g;
    if (nd->n_output > 1) return onnx_unsupported(im, nd, "training mode (running statistics as outputs)");
    int gam, bet;
    WEFT_TRY(onnx_weight(im, nd, input(im, nd, 1), false, &gam));
    WEFT_TRY(onnx_weight(im, nd, input(im, nd, 2), false, &bet));
    const Onnx__AttributeProto *ep = onnx_attr(nd, "epsilon");
    char bn[WEFT_NAME_MAX];
    snprintf(bn, sizeof bn, "bn%d", g->nvalues);
    *y = weft_g_batchnorm(g, bn, x, gam, bet, ep ? ep->f : 1e-5f, 0.1f);
    for (int k = 3; k < 5 && *y >= 0; k++) {
        entry *st = input(im, nd, (size_t)k);
        if (!st || st->kind != E_INIT) return onnx_unsupported(im, nd, "its mean and variance must be initializers");
        float *f = NULL;
        WEFT_TRY(onnx_tensor_floats(im, st->t, &f));
        /* weft_g_batchnorm's running mean and variance: its inputs 3 and 4 */
        int sv = g->nodes[g->values[*y].producer].in[k];
        int64_t n = 1;
        for (size_t i = 0; i < st->t->n_dims; i++) n *= st->t->dims[i];
        if (sv < 0 || n != weft_shape_numel(&g->values[sv].shape)) {
            free(f);
            return onnx_unsupported(im, nd, "its mean or variance does not have one entry per channel");
        }
        WEFT_TRY(onnx_keep_numbers(im, sv, f, st->t->name, false));
    }
    return WEFT_OK;
}

static weft_status not_supported(const importer *im, const Onnx__NodeProto *nd)
{
    char list[1024] = "";
    for (int i = 0; onnx_ops[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", onnx_ops[i]);
    return onnx_unsupported(im, nd, "op type %s is not supported (supported: %s)", nd->op_type, list);
}

/* The ops on one data input x. */
static weft_status unary(importer *im, const Onnx__NodeProto *nd, const char *op, int x, int *y)
{
    weft_graph *g = im->g;
    if (!strcmp(op, "Relu")) *y = weft_g_relu(g, x);
    else if (!strcmp(op, "Sigmoid")) *y = weft_g_sigmoid(g, x);
    else if (!strcmp(op, "Tanh")) *y = weft_g_tanh(g, x);
    else if (!strcmp(op, "Erf")) *y = weft_g_erf(g, x);
    else if (!strcmp(op, "Identity") || !strcmp(op, "Dropout")) *y = x;   /* Dropout: inference */
    else if (!strcmp(op, "Cast")) {
        int64_t to = onnx_attr_i(nd, "to", 0);
        if (to != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || g->values[x].dtype == WEFT_I32)
            return onnx_unsupported(im, nd, "only a cast of float data to float32 is supported");
        *y = x;
    } else if (!strcmp(op, "Softmax")) {
        int64_t axis = onnx_attr_i(nd, "axis", -1);
        if (axis != -1 && axis != g->values[x].shape.ndim - 1) return onnx_unsupported(im, nd, "only the last axis is supported");
        *y = weft_g_softmax(g, x);
    } else if (!strcmp(op, "Transpose")) return transpose(im, nd, x, y);
    else if (!strcmp(op, "Flatten") || !strcmp(op, "Reshape") || !strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze"))
        return reshape_like(im, nd, op, x, y);
    else if (!strcmp(op, "Slice")) return slice(im, nd, x, y);
    else if (!strcmp(op, "Conv") || !strcmp(op, "MaxPool") || !strcmp(op, "AveragePool") ||
             !strcmp(op, "GlobalAveragePool")) return conv_pool(im, nd, op, x, y);
    else if (!strcmp(op, "BatchNormalization")) return batchnorm(im, nd, x, y);
    else return not_supported(im, nd);
    return WEFT_OK;
}

static void count(importer *im, const char *op)
{
    for (int i = 0; onnx_ops[i]; i++)
        if (!strcmp(op, onnx_ops[i]) && i < WEFT_ONNX_MAX_OPS) im->m->op_count[i]++;
}

weft_status onnx_node(importer *im, const Onnx__NodeProto *nd)
{
    weft_graph *g = im->g;
    const char *op = nd->op_type ? nd->op_type : "";
    if (nd->n_output < 1) return onnx_unsupported(im, nd, "no output");
    /* the inputs each op reads by position must be there */
    static const struct { const char *op; size_t n; } need[] = {
        { "Gemm", 2 }, { "MatMul", 2 }, { "Add", 2 }, { "Sub", 2 }, { "Mul", 2 }, { "Div", 2 }, { "Conv", 2 },
        { "Reshape", 2 }, { "BatchNormalization", 5 }, { "LayerNormalization", 3 }, { "Gather", 2 }, { "Where", 3 },
        { "Slice", 3 }, { "Identity", 1 }, { "Relu", 1 }, { "Sigmoid", 1 }, { "Tanh", 1 }, { "Erf", 1 },
        { "Softmax", 1 }, { "Flatten", 1 }, { "MaxPool", 1 }, { "AveragePool", 1 }, { "GlobalAveragePool", 1 },
        { "Transpose", 1 }, { "Split", 1 }, { "Concat", 1 }, { "Unsqueeze", 1 }, { "Squeeze", 1 }, { "Cast", 1 },
        { "Dropout", 1 }, { "LSTM", 3 } };
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (!strcmp(op, need[i].op) && (nd->n_input < need[i].n || !nd->input[0][0]))
            return onnx_unsupported(im, nd, "%zu inputs, it needs %zu", nd->n_input, need[i].n);
    count(im, op);
    /* a weight seen transposed stays the weight: a MatMul takes it as is */
    entry *x0 = input(im, nd, 0);
    if (!strcmp(op, "Transpose") && x0 && x0->kind == E_INIT && x0->t->n_dims == 2) {
        const Onnx__AttributeProto *p = onnx_attr(nd, "perm");
        if (!p || (p->n_ints == 2 && p->ints[0] == 1 && p->ints[1] == 0)) return onnx_add_transposed(im, nd->output[0], x0);
    }
    /* a weight equal to another (PyTorch writes it as an Identity of the
     * first) is a weight of its own, under its own name */
    if (!strcmp(op, "Identity") && x0 && x0->kind == E_INIT) return onnx_add(im, nd->output[0], E_INIT, -1, x0->t, NULL);
    if (!strcmp(op, "Identity") && x0 && x0->kind == E_INIT_T) {
        entry *base = onnx_find(im, x0->base);
        if (base) return onnx_add_transposed(im, nd->output[0], base);
    }
    bool folded;
    WEFT_TRY(onnx_fold(im, nd, &folded));
    if (folded) return WEFT_OK;
    WEFT_TRY(layernorm_piece(im, nd, op, &folded));
    if (folded) return WEFT_OK;
    int y = -1, x;
    if (!strcmp(op, "Split")) {
        WEFT_TRY(onnx_value_of(im, nd, 0, &x));
        return split(im, nd, x);
    }
    if (!strcmp(op, "LSTM")) return lstm(im, nd);
    if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div")) WEFT_TRY(binary(im, nd, op, &y));
    else if (!strcmp(op, "MatMul")) WEFT_TRY(matmul(im, nd, &y));
    else if (!strcmp(op, "Gather")) WEFT_TRY(gather(im, nd, &y));
    else if (!strcmp(op, "Where")) WEFT_TRY(where(im, nd, &y));
    else if (!strcmp(op, "LayerNormalization")) WEFT_TRY(layernorm(im, nd, &y));
    else if (!strcmp(op, "Gemm")) {
        int w, b = -1;
        if (onnx_attr_i(nd, "transA", 0)) return onnx_unsupported(im, nd, "transA = 1 is not supported");
        const Onnx__AttributeProto *al = onnx_attr(nd, "alpha"), *be = onnx_attr(nd, "beta");
        if ((al && al->f != 1.0f) || (be && be->f != 1.0f)) return onnx_unsupported(im, nd, "alpha and beta other than 1");
        WEFT_TRY(onnx_value_of(im, nd, 0, &x));
        WEFT_TRY(onnx_weight(im, nd, input(im, nd, 1), onnx_attr_i(nd, "transB", 0) == 0, &w));
        if (input(im, nd, 2)) WEFT_TRY(onnx_weight(im, nd, input(im, nd, 2), false, &b));
        y = weft_g_linear(g, x, w, b, 0);
    } else if (!strcmp(op, "Concat")) {
        int xs[WEFT_MAX_IN];
        if (nd->n_input > WEFT_MAX_IN) return onnx_unsupported(im, nd, "more than %d inputs", WEFT_MAX_IN);
        for (size_t i = 0; i < nd->n_input; i++) WEFT_TRY(onnx_value_of(im, nd, i, &xs[i]));
        int64_t axis = axis_of(onnx_attr_i(nd, "axis", 0), g->values[xs[0]].shape.ndim);
        y = nd->n_input == 1 ? xs[0] : weft_g_concat(g, xs, (int)nd->n_input, (int)axis);
    } else {
        WEFT_TRY(onnx_value_of(im, nd, 0, &x));
        WEFT_TRY(unary(im, nd, op, x, &y));
    }
    if (y < 0) return weft_fail_wrap(weft_graph_status(g), "onnx %s: %s node %s", im->origin, op, onnx_node_name(nd));
    return onnx_add(im, nd->output[0], E_VALUE, y, NULL, NULL);
}
