/* onnx_const.c — numbers known at import. PyTorch's exporter computes shapes
 * inside the graph (Shape, Gather, Unsqueeze, Concat, Cast, Div, Range,
 * ConstantOfShape, Trilu, Equal, Where …) so that the batch may vary; weft
 * fixes the batch at import, so all of that folds here into constants, and
 * only the ops on data become weft nodes. Numbers are held as doubles: exact
 * for int64 shapes and float32 values; float results are rounded to float32
 * after each op, as the file's own arithmetic would be. */
#include "io/onnx_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cval *cval_new(cval_type t, int ndim, const int64_t *d)
{
    if (ndim < 0 || ndim > WEFT_MAX_DIMS) return NULL;
    int64_t n = 1;
    for (int k = 0; k < ndim; k++) {
        if (d[k] < 0 || d[k] > ONNX_MAX_CONST) return NULL;
        n *= d[k];
        if (n > ONNX_MAX_CONST) return NULL;
    }
    cval *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->v = weft_calloc((size_t)(n ? n : 1) * sizeof *c->v);
    if (!c->v) { free(c); return NULL; }
    c->type = t;
    c->ndim = ndim;
    for (int k = 0; k < ndim; k++) c->d[k] = d[k];
    c->n = n;
    return c;
}

void cval_free(cval *c)
{
    if (!c) return;
    weft_free(c->v);
    free(c);
}

static weft_status too_big(const importer *im, const char *what)
{
    return weft_fail(WEFT_ERR_FORMAT, "onnx %s: %s: a constant with negative, absurd or over %d numbers, or out of memory",
                     im->origin, what, ONNX_MAX_CONST);
}

weft_status cval_from_tensor(const importer *im, const Onnx__TensorProto *t, cval **out)
{
    const char *name = t->name ? t->name : "a constant";
    int dt = t->has_data_type ? t->data_type : 0;
    cval_type ty;
    size_t w;   /* bytes per raw element */
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: ty = C_FLOAT; w = 4; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: ty = C_FLOAT; w = 8; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: ty = C_INT; w = 8; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: ty = C_INT; w = 4; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: ty = C_INT; w = 1; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: ty = C_BOOL; w = 1; break;
    default:
        return weft_fail(WEFT_ERR_FORMAT, "onnx %s: %s: element type %d is not supported in a constant", im->origin, name, dt);
    }
    if (t->n_dims > WEFT_MAX_DIMS) return too_big(im, name);
    int64_t d[WEFT_MAX_DIMS];
    for (size_t k = 0; k < t->n_dims; k++) d[k] = t->dims[k];
    cval *c = cval_new(ty, (int)t->n_dims, d);
    if (!c) return too_big(im, name);
    size_t n = (size_t)c->n;
    bool ok = true;
    if (t->has_raw_data) {
        ok = t->raw_data.len == n * w;
        const uint8_t *p = t->raw_data.data;
        for (size_t i = 0; ok && i < n; i++, p += w) {
            if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) { float f; memcpy(&f, p, 4); c->v[i] = f; }
            else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) memcpy(&c->v[i], p, 8);
            else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) { int64_t x; memcpy(&x, p, 8); c->v[i] = (double)x; }
            else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32) { int32_t x; memcpy(&x, p, 4); c->v[i] = x; }
            else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT8) c->v[i] = (int8_t)*p;
            else c->v[i] = *p;
        }
    } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        ok = t->n_float_data == n;
        for (size_t i = 0; ok && i < n; i++) c->v[i] = t->float_data[i];
    } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
        ok = t->n_double_data == n;
        for (size_t i = 0; ok && i < n; i++) c->v[i] = t->double_data[i];
    } else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
        ok = t->n_int64_data == n;
        for (size_t i = 0; ok && i < n; i++) c->v[i] = (double)t->int64_data[i];
    } else {   /* int32, int8, uint8, bool: int32_data */
        ok = t->n_int32_data == n;
        for (size_t i = 0; ok && i < n; i++) c->v[i] = t->int32_data[i];
    }
    if (!ok) {
        cval_free(c);
        return weft_fail(WEFT_ERR_FORMAT, "onnx %s: %s: its data does not hold the %zu numbers its dimensions declare",
                         im->origin, name, n);
    }
    *out = c;
    return WEFT_OK;
}

weft_status onnx_const_in(importer *im, const Onnx__NodeProto *nd, size_t i, cval **out)
{
    *out = NULL;
    if (i >= nd->n_input || !nd->input[i][0]) return WEFT_OK;
    entry *x = onnx_find(im, nd->input[i]);
    if (!x) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: %s node %s: input %s is made by no node before it (dangling or a "
                             "cycle)", im->origin, nd->op_type, onnx_node_name(nd), nd->input[i]);
    if (x->kind == E_INIT && !x->c) WEFT_TRY(cval_from_tensor(im, x->t, &x->c));   /* cached on the entry */
    if (x->kind == E_INIT || x->kind == E_CONST) *out = x->c;
    return WEFT_OK;
}

weft_status onnx_materialize(importer *im, const cval *c, const_use use, const char *fname, int *out)
{
    int64_t d[WEFT_MAX_DIMS];
    int nd = 0;
    for (int k = 0; k < c->ndim; k++)
        if (nd || c->d[k] != 1 || k == c->ndim - 1) d[nd++] = c->d[k];
    if (!nd) d[nd++] = 1;
    float *f = weft_alloc((size_t)(c->n ? c->n : 1) * sizeof *f);
    if (!f) return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin);
    for (int64_t i = 0; i < c->n; i++) f[i] = (float)c->v[i];
    char name[WEFT_NAME_MAX];
    bool trained = use == AS_DATA && c->weight && fname;
    if (trained) onnx_value_name(name, fname, "");
    else snprintf(name, sizeof name, "onnx.const%d", im->g->nvalues);
    weft_shape s = weft_shape_make(nd, d);
    int v = trained ? weft_g_param_init(im->g, name, nd, d, WEFT_INIT_ZERO, 0)
                    : weft_g_value(im->g, name, WEFT_ROLE_STATE, use == AS_IDS ? WEFT_I32 : WEFT_F32, &s);
    if (v < 0) { weft_free(f); return weft_graph_status(im->g); }
    /* a weight the file reshaped or sliced is trained, and written back under the file's name for it */
    if (!trained) im->g->values[v].fixed = use == AS_DATA;
    WEFT_TRY(onnx_keep_numbers(im, v, f, trained ? fname : NULL, false));
    *out = v;
    return WEFT_OK;
}

/* ---- folding ---- */
static double to_type(cval_type t, double x)
{
    if (t == C_FLOAT) return (double)(float)x;
    if (t == C_BOOL) return x != 0;
    return trunc(x);
}

/* numpy's broadcast of k shapes into out's. */
static bool bcast_shape(const cval *const *in, int k, int *ndim, int64_t *d)
{
    int n = 0;
    for (int i = 0; i < k; i++) if (in[i]->ndim > n) n = in[i]->ndim;
    for (int a = 0; a < n; a++) {
        d[a] = 1;
        for (int i = 0; i < k; i++) {
            int j = a - (n - in[i]->ndim);
            int64_t x = j >= 0 ? in[i]->d[j] : 1;
            if (x == d[a] || x == 1) continue;
            if (d[a] != 1) return false;
            d[a] = x;
        }
    }
    *ndim = n;
    return true;
}

/* The element of c that out's element idx (in out's shape) reads. */
static double at(const cval *c, const cval *out, int64_t idx)
{
    int64_t off = 0, stride = 1;
    for (int a = out->ndim - 1, j = c->ndim - 1; a >= 0; a--, j--) {
        int64_t i = idx % out->d[a];
        idx /= out->d[a];
        if (j < 0) continue;
        if (c->d[j] != 1) off += i * stride;
        stride *= c->d[j];
    }
    return c->v[off];
}

typedef struct { importer *im; const Onnx__NodeProto *nd; cval *in[8]; size_t nin; bool weight; } fold_ctx;

static weft_status bad(fold_ctx *f, const char *why) { return onnx_unsupported(f->im, f->nd, "%s", why); }

static weft_status emit(fold_ctx *f, cval *c, size_t out_i)
{
    if (!c) return too_big(f->im, f->nd->output[out_i]);
    c->weight = f->weight && c->type == C_FLOAT;
    return onnx_add(f->im, f->nd->output[out_i], E_CONST, -1, NULL, c);
}

/* The elementwise ops folded, in the order of their names below. */
typedef enum { F_ADD, F_SUB, F_MUL, F_DIV, F_POW, F_SQRT, F_NEG, F_EQUAL, F_LESS, F_GREATER, F_NOT, F_AND, F_OR,
               F_WHERE } fold_op;
static const char *const fold_names[] = { "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Neg", "Equal", "Less",
                                          "Greater", "Not", "And", "Or", "Where" };

static weft_status fold_elementwise(fold_ctx *f, const char *op)
{
    int nd;
    int64_t d[WEFT_MAX_DIMS];
    size_t k = f->nin;
    if (!bcast_shape((const cval *const *)f->in, (int)k, &nd, d)) return bad(f, "its inputs' shapes do not broadcast");
    fold_op o = F_ADD;
    while (o < F_WHERE && strcmp(op, fold_names[o])) o++;   /* named once, not per number */
    cval_type t = o >= F_EQUAL && o <= F_OR ? C_BOOL : o == F_WHERE ? f->in[1]->type
                : o == F_SQRT ? C_FLOAT : f->in[0]->type;
    cval *c = cval_new(t, nd, d);
    if (!c) return too_big(f->im, f->nd->output[0]);
    for (int64_t i = 0; i < c->n; i++) {
        double a = at(f->in[0], c, i), b = k > 1 ? at(f->in[1], c, i) : 0, r;
        switch (o) {
        case F_ADD: r = a + b; break;
        case F_SUB: r = a - b; break;
        case F_MUL: r = a * b; break;
        case F_DIV: r = t == C_FLOAT ? a / b : b != 0 ? trunc(a / b) : 0; break;
        case F_POW: r = pow(a, b); break;
        case F_SQRT: r = sqrt(a); break;
        case F_NEG: r = -a; break;
        case F_EQUAL: r = a == b; break;
        case F_LESS: r = a < b; break;
        case F_GREATER: r = a > b; break;
        case F_NOT: r = a == 0; break;
        case F_AND: r = a != 0 && b != 0; break;
        case F_OR: r = a != 0 || b != 0; break;
        default: r = a != 0 ? b : at(f->in[2], c, i); break;   /* Where */
        }
        c->v[i] = to_type(t, r);
    }
    return emit(f, c, 0);
}

static weft_status fold_cast(fold_ctx *f)
{
    int64_t to = onnx_attr_i(f->nd, "to", 1);
    cval_type t;
    switch (to) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: t = C_FLOAT; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: t = C_BOOL; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: t = C_INT; break;
    default: return bad(f, "a cast to a type other than float, double, an integer or bool");
    }
    cval *c = cval_new(t, f->in[0]->ndim, f->in[0]->d);
    if (c) for (int64_t i = 0; i < c->n; i++) c->v[i] = to_type(t, f->in[0]->v[i]);
    return emit(f, c, 0);
}

/* A copy of in with new dimensions (the same count of numbers). */
static cval *reshaped(const cval *in, int nd, const int64_t *d)
{
    cval *c = cval_new(in->type, nd, d);
    if (c && c->n == in->n) memcpy(c->v, in->v, (size_t)in->n * sizeof *c->v);
    else if (c) { cval_free(c); c = NULL; }
    return c;
}

static weft_status fold_unsqueeze(fold_ctx *f, bool squeeze)
{
    const cval *x = f->in[0], *ax = f->nin > 1 ? f->in[1] : NULL;
    const Onnx__AttributeProto *aa = onnx_attr(f->nd, "axes");   /* opsets before 13 */
    int nax = ax ? (int)ax->n : aa ? (int)aa->n_ints : 0;
    int64_t axes[WEFT_MAX_DIMS], d[WEFT_MAX_DIMS];
    if (nax > WEFT_MAX_DIMS) return bad(f, "too many dimensions");
    for (int i = 0; i < nax; i++) axes[i] = ax ? (int64_t)ax->v[i] : aa->ints[i];
    int n;
    const char *why = onnx_squeeze_dims(x->d, x->ndim, axes, nax, squeeze, &n, d);
    return why ? bad(f, why) : emit(f, reshaped(x, n, d), 0);
}

const char *onnx_squeeze_dims(const int64_t *in_d, int in_nd, const int64_t *axes, int nax, bool squeeze, int *out_nd,
                              int64_t *d)
{
    int onr = squeeze ? in_nd : in_nd + nax;
    bool mark[WEFT_MAX_DIMS] = { false };
    if (onr > WEFT_MAX_DIMS || nax > WEFT_MAX_DIMS) return "too many dimensions";
    for (int i = 0; i < nax; i++) {
        int64_t a = axis_of(axes[i], onr);
        if (a < 0 || a >= onr) return "an axis out of range";
        mark[a] = true;
    }
    int n = 0;
    for (int k = 0, j = 0; k < onr; k++) {
        if (!squeeze) d[n++] = mark[k] ? 1 : in_d[j++];
        else if (nax ? !mark[k] : in_d[k] != 1) d[n++] = in_d[k];
        else if (in_d[k] != 1) return "squeezing a dimension that is not 1";
    }
    *out_nd = n;
    return NULL;
}

/* Reshape's target: 0 keeps the input's size, one -1 takes what is left. */
weft_status onnx_reshape_dims(const importer *im, const Onnx__NodeProto *nd, const cval *shape, const int64_t *in_d,
                              int in_nd, int *out_nd, int64_t *d)
{
    if (shape->ndim != 1 || shape->n > WEFT_MAX_DIMS) return onnx_unsupported(im, nd, "its shape must be a 1-D list of at "
                                                                              "most %d sizes", WEFT_MAX_DIMS);
    int64_t total = 1, known = 1;
    for (int k = 0; k < in_nd; k++) total *= in_d[k];
    int infer = -1;
    bool allowzero = onnx_attr_i(nd, "allowzero", 0) != 0;
    for (int k = 0; k < shape->n; k++) {
        d[k] = (int64_t)shape->v[k];
        if (d[k] > total && total > 0) return onnx_unsupported(im, nd, "a size of %lld for %lld numbers", (long long)d[k],
                                                               (long long)total);
        if (d[k] == 0 && allowzero) return onnx_unsupported(im, nd, "allowzero = 1 with a 0 in its shape is not supported");
        if (d[k] == 0) {
            if (k >= in_nd) return onnx_unsupported(im, nd, "a 0 in its shape beyond the input's dimensions");
            d[k] = in_d[k];
        }
        if (d[k] == -1) { if (infer >= 0) return onnx_unsupported(im, nd, "two -1 in its shape"); infer = k; }
        else if (d[k] < 0) return onnx_unsupported(im, nd, "a negative size in its shape");
        else known *= d[k];
    }
    if (infer >= 0) d[infer] = known > 0 ? total / known : 0;
    int64_t got = 1;
    for (int k = 0; k < shape->n; k++)
        if (__builtin_mul_overflow(got, d[k], &got)) return onnx_unsupported(im, nd, "its shape overflows");
    if (got != total) return onnx_unsupported(im, nd, "its shape holds %lld numbers, its input %lld", (long long)got,
                                              (long long)total);
    *out_nd = (int)shape->n;
    return WEFT_OK;
}

static weft_status fold_gather(fold_ctx *f)
{
    const cval *x = f->in[0], *ix = f->in[1];
    int64_t axis = axis_of(onnx_attr_i(f->nd, "axis", 0), x->ndim);
    if (axis < 0 || axis >= x->ndim || x->ndim - 1 + ix->ndim > WEFT_MAX_DIMS) return bad(f, "axis out of range");
    int64_t d[WEFT_MAX_DIMS], outer = 1, inner = 1;
    int n = 0;
    for (int k = 0; k < axis; k++) { d[n++] = x->d[k]; outer *= x->d[k]; }
    for (int k = 0; k < ix->ndim; k++) d[n++] = ix->d[k];
    for (int k = (int)axis + 1; k < x->ndim; k++) { d[n++] = x->d[k]; inner *= x->d[k]; }
    cval *c = cval_new(x->type, n, d);
    if (!c) return too_big(f->im, f->nd->output[0]);
    for (int64_t o = 0, w = 0; o < outer; o++)
        for (int64_t j = 0; j < ix->n; j++) {
            int64_t r = (int64_t)ix->v[j];
            if (r < 0) r += x->d[axis];
            if (r < 0 || r >= x->d[axis]) { cval_free(c); return bad(f, "an index out of range"); }
            for (int64_t i = 0; i < inner; i++) c->v[w++] = x->v[(o * x->d[axis] + r) * inner + i];
        }
    return emit(f, c, 0);
}

static weft_status fold_concat(fold_ctx *f)
{
    const cval *x0 = f->in[0];
    int64_t axis = axis_of(onnx_attr_i(f->nd, "axis", 0), x0->ndim);
    if (axis < 0 || axis >= x0->ndim) return bad(f, "axis out of range");
    int64_t d[WEFT_MAX_DIMS], outer = 1, inner = 1;
    memcpy(d, x0->d, sizeof d);
    d[axis] = 0;
    for (size_t i = 0; i < f->nin; i++) {
        if (f->in[i]->ndim != x0->ndim) return bad(f, "inputs of different ranks");
        for (int k = 0; k < x0->ndim; k++)
            if (k != axis && f->in[i]->d[k] != x0->d[k]) return bad(f, "inputs whose other dimensions differ");
        d[axis] += f->in[i]->d[axis];
    }
    for (int k = 0; k < axis; k++) outer *= d[k];
    for (int k = (int)axis + 1; k < x0->ndim; k++) inner *= d[k];
    cval *c = cval_new(x0->type, x0->ndim, d);
    if (!c) return too_big(f->im, f->nd->output[0]);
    int64_t w = 0;
    for (int64_t o = 0; o < outer; o++)
        for (size_t i = 0; i < f->nin; i++) {
            int64_t run = f->in[i]->d[axis] * inner;
            memcpy(c->v + w, f->in[i]->v + o * run, (size_t)run * sizeof *c->v);
            w += run;
        }
    return emit(f, c, 0);
}

/* Slice's starts, ends, axes, steps; clamped as ONNX says. One dimension's
 * slice is (start, count, step). */
static weft_status fold_slice(fold_ctx *f)
{
    const cval *x = f->in[0];
    int64_t st[WEFT_MAX_DIMS], cnt[WEFT_MAX_DIMS], step[WEFT_MAX_DIMS];
    WEFT_TRY(onnx_slice_ranges(f->im, f->nd, x->ndim, x->d, f->in[1], f->in[2], f->nin > 3 ? f->in[3] : NULL,
                               f->nin > 4 ? f->in[4] : NULL, st, cnt, step));
    cval *c = cval_new(x->type, x->ndim, cnt);
    if (!c) return too_big(f->im, f->nd->output[0]);
    for (int64_t i = 0; i < c->n; i++) {
        int64_t idx = i, off = 0, stride = 1;
        for (int a = x->ndim - 1; a >= 0; a--) {
            int64_t j = idx % cnt[a];
            idx /= cnt[a];
            off += (st[a] + j * step[a]) * stride;
            stride *= x->d[a];
        }
        c->v[i] = x->v[off];
    }
    return emit(f, c, 0);
}

weft_status onnx_slice_ranges(const importer *im, const Onnx__NodeProto *nd, int ndim, const int64_t *dims,
                              const cval *starts, const cval *ends, const cval *axes, const cval *steps, int64_t *st,
                              int64_t *cnt, int64_t *step)
{
    if (!starts || !ends || starts->n != ends->n || (axes && axes->n != starts->n) || (steps && steps->n != starts->n))
        return onnx_unsupported(im, nd, "starts, ends, axes and steps must be constants of one length");
    for (int a = 0; a < ndim; a++) { st[a] = 0; cnt[a] = dims[a]; step[a] = 1; }
    for (int64_t i = 0; i < starts->n; i++) {
        int64_t a = axis_of(axes ? (int64_t)axes->v[i] : i, ndim), s = steps ? (int64_t)steps->v[i] : 1;
        if (a < 0 || a >= ndim || s == 0) return onnx_unsupported(im, nd, "an axis out of range or a step of 0");
        double b = starts->v[i], e = ends->v[i], n = (double)dims[a];
        if (b < 0) b += n;
        if (e < 0) e += n;
        if (s > 0) { b = b < 0 ? 0 : b > n ? n : b; e = e < 0 ? 0 : e > n ? n : e; }
        else { b = b < 0 ? 0 : b > n - 1 ? n - 1 : b; e = e < -1 ? -1 : e > n - 1 ? n - 1 : e; }
        int64_t c = s > 0 ? (int64_t)ceil((e - b) / (double)s) : (int64_t)ceil((b - e) / (double)-s);
        st[a] = (int64_t)b;
        cnt[a] = c > 0 ? c : 0;
        step[a] = s;
    }
    return WEFT_OK;
}

static weft_status fold_transpose(fold_ctx *f)
{
    const cval *x = f->in[0];
    const Onnx__AttributeProto *p = onnx_attr(f->nd, "perm");
    int64_t perm[WEFT_MAX_DIMS], d[WEFT_MAX_DIMS] = { 0 };
    bool seen[WEFT_MAX_DIMS] = { false };
    if (p && p->n_ints != (size_t)x->ndim) return bad(f, "perm's length is not the input's rank");
    for (int k = 0; k < x->ndim; k++) {
        perm[k] = p ? p->ints[k] : x->ndim - 1 - k;
        if (perm[k] < 0 || perm[k] >= x->ndim || seen[perm[k]]) return bad(f, "perm is not a permutation");
        seen[perm[k]] = true;
        d[k] = x->d[perm[k]];
    }
    cval *c = cval_new(x->type, x->ndim, d);
    if (!c) return too_big(f->im, f->nd->output[0]);
    int64_t xs[WEFT_MAX_DIMS];
    for (int64_t k = x->ndim - 1, s = 1; k >= 0; k--) { xs[k] = s; s *= x->d[k]; }
    for (int64_t i = 0; i < c->n; i++) {
        int64_t idx = i, off = 0;
        for (int a = x->ndim - 1; a >= 0; a--) { off += (idx % d[a]) * xs[perm[a]]; idx /= d[a]; }
        c->v[i] = x->v[off];
    }
    return emit(f, c, 0);
}

static weft_status fold_misc(fold_ctx *f, const char *op)
{
    const cval *x = f->in[0];
    if (!strcmp(op, "Reshape")) {
        int n;
        int64_t d[WEFT_MAX_DIMS];
        WEFT_TRY(onnx_reshape_dims(f->im, f->nd, f->in[1], x->d, x->ndim, &n, d));
        return emit(f, reshaped(x, n, d), 0);
    }
    if (!strcmp(op, "Expand")) {   /* a broadcast to the shape (both ways) */
        const cval *s = f->in[1];
        int64_t d[WEFT_MAX_DIMS];
        if (s->ndim != 1 || s->n > WEFT_MAX_DIMS) return bad(f, "its shape must be a 1-D list");
        cval *t = cval_new(C_INT, (int)s->n, (int64_t[WEFT_MAX_DIMS]){ 0 });   /* only its dims are read */
        if (!t) return too_big(f->im, f->nd->output[0]);
        for (int k = 0; k < s->n; k++) t->d[k] = (int64_t)s->v[k];
        const cval *both[2] = { x, t };
        int nd;
        bool ok = bcast_shape(both, 2, &nd, d);
        cval_free(t);
        if (!ok) return bad(f, "its input does not broadcast to the shape");
        cval *c = cval_new(x->type, nd, d);
        if (c) for (int64_t i = 0; i < c->n; i++) c->v[i] = at(x, c, i);
        return emit(f, c, 0);
    }
    if (!strcmp(op, "Range")) {
        double a = x->v[0], lim = f->in[1]->v[0], dl = f->in[2]->v[0];
        if (x->n != 1 || f->in[1]->n != 1 || f->in[2]->n != 1 || dl == 0) return bad(f, "start, limit and delta must be "
                                                                                      "scalars, delta not 0");
        double cnt = ceil((lim - a) / dl);
        if (!(cnt <= ONNX_MAX_CONST)) return too_big(f->im, f->nd->output[0]);   /* NaN too */
        int64_t n = cnt > 0 ? (int64_t)cnt : 0;
        cval *c = cval_new(x->type, 1, &n);
        if (c) for (int64_t i = 0; i < n; i++) c->v[i] = to_type(x->type, a + (double)i * dl);
        return emit(f, c, 0);
    }
    if (!strcmp(op, "ConstantOfShape")) {
        int64_t d[WEFT_MAX_DIMS];
        if (x->ndim != 1 || x->n > WEFT_MAX_DIMS) return bad(f, "its shape must be a 1-D list");
        for (int k = 0; k < x->n; k++) d[k] = (int64_t)x->v[k];
        const Onnx__AttributeProto *va = onnx_attr(f->nd, "value");
        cval *fill = NULL;
        if (va && va->t) WEFT_TRY(cval_from_tensor(f->im, va->t, &fill));
        if (fill && fill->n != 1) { cval_free(fill); return bad(f, "its value must hold one number"); }
        cval *c = cval_new(fill ? fill->type : C_FLOAT, (int)x->n, d);
        if (c) for (int64_t i = 0; i < c->n; i++) c->v[i] = fill ? fill->v[0] : 0.0;
        cval_free(fill);
        return emit(f, c, 0);
    }
    if (!strcmp(op, "Trilu")) {
        int64_t k = f->nin > 1 && f->in[1] ? (int64_t)f->in[1]->v[0] : 0;
        bool upper = onnx_attr_i(f->nd, "upper", 1) != 0;
        if (x->ndim < 2) return bad(f, "its input needs two dimensions");
        cval *c = reshaped(x, x->ndim, x->d);
        int64_t R = x->d[x->ndim - 2], C = x->d[x->ndim - 1];
        if (c) for (int64_t i = 0; i < c->n; i++) {
            int64_t col = i % C, row = (i / C) % R;
            if (upper ? col - row < k : col - row > k) c->v[i] = 0;
        }
        return emit(f, c, 0);
    }
    return bad(f, "cannot be folded");
}

static const char *const foldable[] = { "Identity", "Cast", "Unsqueeze", "Squeeze", "Concat", "Gather", "Reshape",
                                        "Slice", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Neg", "Equal", "Less",
                                        "Greater", "Not", "And", "Or", "Where", "Range", "ConstantOfShape", "Trilu",
                                        "Transpose", "Expand", NULL };

/* The dimensions of nd's first input, whatever it is. */
static weft_status input_dims(importer *im, const Onnx__NodeProto *nd, int *n, int64_t *d)
{
    entry *x = nd->n_input ? onnx_find(im, nd->input[0]) : NULL;
    if (!x) return onnx_unsupported(im, nd, "its input is made by no node before it");
    if (x->kind == E_VALUE) { const weft_shape *s = &im->g->values[x->value].shape; *n = s->ndim; memcpy(d, s->d, sizeof s->d); }
    else if (x->kind == E_CONST) { *n = x->c->ndim; memcpy(d, x->c->d, sizeof x->c->d); }
    else if (x->kind != E_INIT && x->kind != E_INIT_T)
        return onnx_unsupported(im, nd, "its input %s is a piece of a written-out layer norm or an output weft does not "
                                "compute", x->name);
    else {
        *n = (int)x->t->n_dims;
        if (*n > WEFT_MAX_DIMS) return onnx_unsupported(im, nd, "its input has too many dimensions");
        for (int k = 0; k < *n; k++) d[k] = x->t->dims[k];
        if (x->kind == E_INIT_T && *n == 2) { int64_t t = d[0]; d[0] = d[1]; d[1] = t; }
    }
    return WEFT_OK;
}

/* Shape (opset 15's start and end too) and Size: known from the input's dimensions. */
static weft_status fold_shape(importer *im, const Onnx__NodeProto *nd, bool size)
{
    int64_t d[WEFT_MAX_DIMS];
    int n = 0;
    WEFT_TRY(input_dims(im, nd, &n, d));
    cval *c;
    if (size) {
        c = cval_new(C_INT, 0, d);
        if (c) { c->v[0] = 1; for (int k = 0; k < n; k++) c->v[0] *= (double)d[k]; }
    } else {
        int64_t b = axis_of(onnx_attr_i(nd, "start", 0), n), e = axis_of(onnx_attr_i(nd, "end", n), n);
        b = b < 0 ? 0 : b > n ? n : b;
        e = e < b ? b : e > n ? n : e;
        int64_t len = e - b;
        c = cval_new(C_INT, 1, &len);
        if (c) for (int64_t k = 0; k < len; k++) c->v[k] = (double)d[b + k];
    }
    if (!c) return too_big(im, nd->output[0]);
    return onnx_add(im, nd->output[0], E_CONST, -1, NULL, c);
}

weft_status onnx_fold(importer *im, const Onnx__NodeProto *nd, bool *done)
{
    const char *op = nd->op_type ? nd->op_type : "";
    *done = false;
    if (!strcmp(op, "Shape") || !strcmp(op, "Size")) {
        *done = true;
        return fold_shape(im, nd, op[1] == 'i');
    }
    if (!strcmp(op, "Constant")) {
        const Onnx__AttributeProto *a;
        cval *c = NULL;
        if ((a = onnx_attr(nd, "value")) && a->t) WEFT_TRY(cval_from_tensor(im, a->t, &c));
        else if ((a = onnx_attr(nd, "value_float")) || (a = onnx_attr(nd, "value_int"))) {
            c = cval_new(a->has_f ? C_FLOAT : C_INT, 0, NULL);
            if (c) c->v[0] = a->has_f ? a->f : (double)a->i;
        } else if ((a = onnx_attr(nd, "value_floats")) || (a = onnx_attr(nd, "value_ints"))) {
            int64_t n = a->n_floats ? (int64_t)a->n_floats : (int64_t)a->n_ints;
            c = cval_new(a->n_floats ? C_FLOAT : C_INT, 1, &n);
            for (int64_t i = 0; c && i < n; i++) c->v[i] = a->n_floats ? a->floats[i] : (double)a->ints[i];
        } else return onnx_unsupported(im, nd, "only a tensor, float(s) or int(s) value is supported");
        *done = true;
        if (!c) return too_big(im, nd->output[0]);
        return onnx_add(im, nd->output[0], E_CONST, -1, NULL, c);
    }
    int i;
    for (i = 0; foldable[i] && strcmp(foldable[i], op); i++) {}
    if (!foldable[i] || nd->n_input == 0 || nd->n_input > 8 || nd->n_output != 1) return WEFT_OK;
    /* rows of a weight picked by known ids are an embedding: the weight
     * must stay a weight (onnx_ops.c), not fold into a constant */
    entry *x0 = onnx_find(im, nd->input[0]);
    if (!strcmp(op, "Gather") && x0 && x0->kind == E_INIT && x0->t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return WEFT_OK;
    fold_ctx f = { .im = im, .nd = nd, .nin = nd->n_input };
    bool weight = false;   /* numbers derived from a float initializer: a weight, reshaped or sliced */
    for (size_t k = 0; k < nd->n_input; k++) {   /* every input known, before any is converted */
        if (!nd->input[k][0]) { if (k == 0) return WEFT_OK; continue; }
        entry *e = onnx_find(im, nd->input[k]);
        if (!e || (e->kind != E_INIT && e->kind != E_CONST)) return WEFT_OK;   /* data: not ours */
        weight |= e->kind == E_INIT ? e->t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT : e->c->weight;
    }
    for (size_t k = 0; k < nd->n_input; k++) {
        WEFT_TRY(onnx_const_in(im, nd, k, &f.in[k]));
        /* an empty name is an absent input: only these are optional */
        bool optional = (!strcmp(op, "Slice") && k >= 3) || (!strcmp(op, "Trilu") && k == 1) ||
                        (!strcmp(op, "Squeeze") && k == 1);
        if (!f.in[k] && !optional) return onnx_unsupported(im, nd, "input %zu is missing", k);
    }
    *done = true;
    f.weight = weight;
    if (!strcmp(op, "Identity")) return emit(&f, reshaped(f.in[0], f.in[0]->ndim, f.in[0]->d), 0);
    if (!strcmp(op, "Cast")) return fold_cast(&f);
    if (!strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze")) return fold_unsqueeze(&f, op[0] == 'S');
    if (!strcmp(op, "Concat")) return fold_concat(&f);
    if (!strcmp(op, "Gather")) return f.nin == 2 ? fold_gather(&f) : bad(&f, "needs 2 inputs");
    if (!strcmp(op, "Slice")) return f.nin >= 3 ? fold_slice(&f) : bad(&f, "needs starts and ends");
    if (!strcmp(op, "Transpose")) return fold_transpose(&f);
    if (!strcmp(op, "Reshape") || !strcmp(op, "Expand")) return f.nin == 2 ? fold_misc(&f, op) : bad(&f, "needs 2 inputs");
    if (!strcmp(op, "Range")) return f.nin == 3 ? fold_misc(&f, op) : bad(&f, "needs 3 inputs");
    if (!strcmp(op, "ConstantOfShape") || !strcmp(op, "Trilu")) return fold_misc(&f, op);
    bool unary = !strcmp(op, "Sqrt") || !strcmp(op, "Neg") || !strcmp(op, "Not");
    size_t want = unary ? 1 : !strcmp(op, "Where") ? 3 : 2;
    if (f.nin != want) return bad(&f, "wrong number of inputs");
    for (size_t k = 0; k < want; k++) if (!f.in[k]) return bad(&f, "an input missing");
    return fold_elementwise(&f, op);
}
