/* onnx.c — an ONNX model (what torch.onnx.export writes) imported as a weft
 * forward graph. protobuf-c decodes the file with the code it generated from
 * ONNX's onnx.proto at build time; this file only walks the decoded graph.
 *
 * Every tensor name maps to a weft value, or to numbers known at import: an
 * initializer (a weight, or a shape) or a Constant node's value. An
 * initializer becomes a parameter when an op reads it as a weight; its
 * numbers are kept (in weft's layout: a Gemm's B without transB, or a
 * MatMul's B, is transposed to (N, K)) to fill a store. An op this importer
 * does not know, or an attribute it cannot honour, is an error naming the op
 * type, the node and what is missing — never a silently different graph. */
#include "weft/onnx.h"

#include "onnx.pb-c.h"

#include <stdlib.h>
#include <string.h>

typedef enum { E_VALUE, E_INIT } entry_kind;
typedef struct { const char *name; entry_kind kind; int value; const Onnx__TensorProto *t; } entry;

typedef struct {
    const char *origin;
    weft_onnx *m;
    weft_graph *g;
    entry *e;
    int n, cap;
    int cap_params;
} importer;

static const char *const ops[] = { "Gemm", "MatMul", "Add", "Relu", "Flatten", "Reshape", "Conv", "MaxPool", "Constant",
                                   "Identity", "Sigmoid", "Tanh", "Softmax", "GlobalAveragePool", "BatchNormalization",
                                   "Gather", NULL };

const char *const *weft_onnx_ops(void) { return ops; }

static entry *find(importer *im, const char *name)
{
    for (int i = im->n - 1; i >= 0; i--) if (!strcmp(im->e[i].name, name)) return &im->e[i];
    return NULL;
}

static weft_status add(importer *im, const char *name, entry_kind k, int value, const Onnx__TensorProto *t)
{
    if (im->n == im->cap) {
        int cap = im->cap * 2 + 64;
        entry *e = realloc(im->e, (size_t)cap * sizeof *e);
        if (!e) return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin);
        im->e = e;
        im->cap = cap;
    }
    im->e[im->n++] = (entry){ name, k, value, t };
    return WEFT_OK;
}

/* ---- tensors' numbers ---- */
/* Its element count, or -1 when a dimension is negative or the count is
 * absurd (a damaged file must not make us allocate it). */
static int64_t tensor_numel(const Onnx__TensorProto *t)
{
    int64_t n = 1;
    for (size_t d = 0; d < t->n_dims; d++) {
        if (t->dims[d] < 0 || t->dims[d] > ((int64_t)1 << 34)) return -1;
        n *= t->dims[d];
        if (n > ((int64_t)1 << 34)) return -1;
    }
    return n;
}

static weft_status tensor_floats(const importer *im, const Onnx__TensorProto *t, float **out)
{
    int64_t n = tensor_numel(t);
    if (!t->has_data_type || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return weft_fail(WEFT_ERR_FORMAT, "onnx %s: initializer %s: not float32 (data type %d)", im->origin, t->name,
                         t->data_type);
    if (n < 0) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: initializer %s: its dimensions are negative or absurd",
                                im->origin, t->name);
    /* the data must hold what the dimensions declare: checked before allocating */
    bool raw = t->has_raw_data && t->raw_data.len == (size_t)n * 4, listed = t->n_float_data == (size_t)n;
    if (!raw && !listed)
        return weft_fail(WEFT_ERR_FORMAT, "onnx %s: initializer %s: %lld elements declared, the data holds %zu", im->origin,
                         t->name, (long long)n, t->has_raw_data ? t->raw_data.len / 4 : t->n_float_data);
    float *f = malloc((size_t)n * sizeof *f + 4);
    if (!f) return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin);
    memcpy(f, raw ? (const void *)t->raw_data.data : (const void *)t->float_data, (size_t)n * 4);
    *out = f;
    return WEFT_OK;
}

static weft_status tensor_ints(const importer *im, const Onnx__TensorProto *t, int64_t *out, int max, int *n)
{
    int64_t k = tensor_numel(t);
    if (!t->has_data_type || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || k < 0 || k > max)
        return weft_fail(WEFT_ERR_FORMAT, "onnx %s: %s: not an int64 list of at most %d", im->origin, t->name, max);
    if (t->has_raw_data && t->raw_data.len == (size_t)k * 8) memcpy(out, t->raw_data.data, (size_t)k * 8);
    else if (t->n_int64_data == (size_t)k) memcpy(out, t->int64_data, (size_t)k * 8);
    else return weft_fail(WEFT_ERR_FORMAT, "onnx %s: %s: its data does not hold %lld numbers", im->origin, t->name,
                          (long long)k);
    *n = (int)k;
    return WEFT_OK;
}

/* Keeps value v's numbers f (owned from here) to fill a store with, and the
 * initializer they came from (transposed: as weft's (N, K) of its (K, N)). */
static weft_status keep_numbers(importer *im, int v, float *f, const char *from, bool transposed)
{
    weft_onnx *m = im->m;
    if (m->nparams == im->cap_params) {
        int cap = im->cap_params * 2 + 16;
        int *pv = realloc(m->param_value, (size_t)cap * sizeof *pv);
        if (pv) m->param_value = pv;
        float **pd = pv ? realloc(m->param_data, (size_t)cap * sizeof *pd) : NULL;
        if (pd) m->param_data = pd;
        char **pn = pd ? realloc(m->param_onnx, (size_t)cap * sizeof *pn) : NULL;
        if (pn) m->param_onnx = pn;
        bool *pt = pn ? realloc(m->param_transposed, (size_t)cap * sizeof *pt) : NULL;
        if (pt) m->param_transposed = pt;
        if (!pt) { free(f); return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin); }
        im->cap_params = cap;
    }
    char *name = strdup(from ? from : "");
    if (!name) { free(f); return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin); }
    m->param_value[m->nparams] = v;
    m->param_data[m->nparams] = f;
    m->param_onnx[m->nparams] = name;
    m->param_transposed[m->nparams++] = transposed;
    return WEFT_OK;
}

/* A weight: the initializer as a parameter, its numbers (transposed from
 * (K, N) to (N, K) when transpose) kept for the store. */
static weft_status weight(importer *im, const Onnx__NodeProto *nd, const char *name, bool transpose, int *out)
{
    entry *x = find(im, name);
    if (!x || x->kind != E_INIT)
        return weft_fail(WEFT_ERR_ARG, "onnx %s: %s node %s: input %s must be an initializer (a weight)", im->origin,
                         nd->op_type, nd->name ? nd->name : "?", name);
    if (x->value >= 0 && !transpose) { *out = x->value; return WEFT_OK; }
    const Onnx__TensorProto *t = x->t;
    if (t->n_dims < 1 || t->n_dims > 4)
        return weft_fail(WEFT_ERR_SHAPE, "onnx %s: initializer %s: %zu dimensions", im->origin, t->name, t->n_dims);
    float *f = NULL;
    WEFT_TRY(tensor_floats(im, t, &f));
    int64_t d[4];
    for (size_t k = 0; k < t->n_dims; k++) d[k] = t->dims[k];
    if (transpose) {
        if (t->n_dims != 2) { free(f); return weft_fail(WEFT_ERR_SHAPE, "onnx %s: %s: a 2-D weight to transpose", im->origin, t->name); }
        float *tr = malloc((size_t)(d[0] * d[1]) * sizeof *tr + 4);
        if (!tr) { free(f); return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin); }
        for (int64_t i = 0; i < d[0]; i++)
            for (int64_t j = 0; j < d[1]; j++) tr[j * d[0] + i] = f[i * d[1] + j];
        free(f);
        f = tr;
        int64_t s = d[0]; d[0] = d[1]; d[1] = s;
    }
    char pname[WEFT_NAME_MAX];
    snprintf(pname, sizeof pname, "%s%s", t->name, transpose ? ".T" : "");
    int v = weft_g_param_init(im->g, pname, (int)t->n_dims, d, WEFT_INIT_ZERO, 0);
    if (v < 0) { free(f); return weft_graph_status(im->g); }
    WEFT_TRY(keep_numbers(im, v, f, t->name, transpose));
    if (!transpose) x->value = v;
    *out = v;
    return WEFT_OK;
}

static weft_status value_of(importer *im, const Onnx__NodeProto *nd, size_t i, int *out)
{
    if (i >= nd->n_input || !nd->input[i][0])
        return weft_fail(WEFT_ERR_ARG, "onnx %s: %s node %s: input %zu missing", im->origin, nd->op_type,
                         nd->name ? nd->name : "?", i);
    entry *x = find(im, nd->input[i]);
    if (!x) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: %s node %s: input %s is made by no node before it (dangling or a "
                             "cycle)", im->origin, nd->op_type, nd->name ? nd->name : "?", nd->input[i]);
    if (x->kind != E_VALUE)
        return weft_fail(WEFT_ERR_ARG, "onnx %s: %s node %s: input %s is a constant where data was expected", im->origin,
                         nd->op_type, nd->name ? nd->name : "?", nd->input[i]);
    *out = x->value;
    return WEFT_OK;
}

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *nd, const char *name)
{
    for (size_t i = 0; i < nd->n_attribute; i++)
        if (nd->attribute[i]->name && !strcmp(nd->attribute[i]->name, name)) return nd->attribute[i];
    return NULL;
}

static int64_t attr_i(const Onnx__NodeProto *nd, const char *name, int64_t dflt)
{
    const Onnx__AttributeProto *a = attr(nd, name);
    return a && a->has_i ? a->i : dflt;
}

/* A list attribute whose entries must all be equal (square kernels, the
 * same stride and padding on every side): their value, or dflt if absent. */
static weft_status attr_same(const importer *im, const Onnx__NodeProto *nd, const char *name, int64_t dflt, int64_t *out)
{
    const Onnx__AttributeProto *a = attr(nd, name);
    *out = dflt;
    if (!a) return WEFT_OK;
    for (size_t i = 0; i < a->n_ints; i++)
        if (a->ints[i] != a->ints[0])
            return weft_fail(WEFT_ERR_ARG, "onnx %s: %s node %s: attribute %s: unequal entries are not supported", im->origin,
                             nd->op_type, nd->name ? nd->name : "?", name);
    if (a->n_ints) *out = a->ints[0];
    return WEFT_OK;
}

static weft_status unsupported(const importer *im, const Onnx__NodeProto *nd, const char *what)
{
    return weft_fail(WEFT_ERR_ARG, "onnx %s: %s node %s: %s", im->origin, nd->op_type, nd->name ? nd->name : "?", what);
}

/* ---- one node ---- */
static weft_status node(importer *im, const Onnx__NodeProto *nd)
{
    weft_graph *g = im->g;
    const char *op = nd->op_type ? nd->op_type : "";
    int y = -1, x, w, b = -1;
    if (nd->n_output < 1) return unsupported(im, nd, "no output");
    /* the inputs each op reads by position must be there */
    static const struct { const char *op; size_t n; } need[] = {
        { "Gemm", 2 }, { "MatMul", 2 }, { "Add", 2 }, { "Conv", 2 }, { "Reshape", 2 }, { "BatchNormalization", 5 },
        { "Gather", 2 }, { "Identity", 1 }, { "Relu", 1 }, { "Sigmoid", 1 }, { "Tanh", 1 }, { "Softmax", 1 },
        { "Flatten", 1 }, { "MaxPool", 1 }, { "GlobalAveragePool", 1 } };
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (!strcmp(op, need[i].op) && nd->n_input < need[i].n) {
            char why[64];
            snprintf(why, sizeof why, "%zu inputs, it needs %zu", nd->n_input, need[i].n);
            return unsupported(im, nd, why);
        }
    if (!strcmp(op, "Constant")) {
        const Onnx__AttributeProto *a = attr(nd, "value");
        if (!a || !a->t) return unsupported(im, nd, "only a tensor 'value' is supported");
        return add(im, nd->output[0], E_INIT, -1, a->t);
    }
    if (!strcmp(op, "Identity")) {
        entry *e = find(im, nd->input[0]);
        if (!e) return unsupported(im, nd, "its input is made by no node before it");
        return add(im, nd->output[0], e->kind, e->value, e->t);
    }
    if (!strcmp(op, "Gemm")) {
        if (attr_i(nd, "transA", 0)) return unsupported(im, nd, "transA = 1 is not supported");
        const Onnx__AttributeProto *al = attr(nd, "alpha"), *be = attr(nd, "beta");
        if ((al && al->f != 1.0f) || (be && be->f != 1.0f)) return unsupported(im, nd, "alpha and beta other than 1");
        WEFT_TRY(value_of(im, nd, 0, &x));
        WEFT_TRY(weight(im, nd, nd->input[1], attr_i(nd, "transB", 0) == 0, &w));
        if (nd->n_input > 2 && nd->input[2][0]) WEFT_TRY(weight(im, nd, nd->input[2], false, &b));
        y = weft_g_linear(g, x, w, b, 0);
    } else if (!strcmp(op, "MatMul")) {
        WEFT_TRY(value_of(im, nd, 0, &x));
        WEFT_TRY(weight(im, nd, nd->input[1], true, &w));
        y = weft_g_linear(g, x, w, -1, 0);
    } else if (!strcmp(op, "Add")) {
        int a2;
        WEFT_TRY(value_of(im, nd, 0, &x));
        WEFT_TRY(value_of(im, nd, 1, &a2));
        y = weft_g_add(g, x, a2);
    } else if (!strcmp(op, "Relu")) {
        WEFT_TRY(value_of(im, nd, 0, &x));
        y = weft_g_relu(g, x);
    } else if (!strcmp(op, "Flatten")) {
        WEFT_TRY(value_of(im, nd, 0, &x));
        const weft_shape *s = &g->values[x].shape;
        int64_t axis = attr_i(nd, "axis", 1);
        if (axis < 0) axis += s->ndim;
        if (axis < 0 || axis > s->ndim) return unsupported(im, nd, "axis out of range");
        int64_t d[2] = { 1, 1 };
        for (int k = 0; k < s->ndim; k++) d[k >= axis] *= s->d[k];
        y = weft_g_reshape(g, x, 2, d);
    } else if (!strcmp(op, "Reshape")) {
        WEFT_TRY(value_of(im, nd, 0, &x));
        entry *se = nd->n_input > 1 ? find(im, nd->input[1]) : NULL;
        if (!se || se->kind != E_INIT) return unsupported(im, nd, "its shape must be a constant (an initializer or Constant)");
        int64_t d[WEFT_MAX_DIMS];
        int nd_ = 0;
        WEFT_TRY(tensor_ints(im, se->t, d, WEFT_MAX_DIMS, &nd_));
        const weft_shape *s = &g->values[x].shape;
        int64_t known = 1, total = weft_shape_numel(s);
        int infer = -1;
        for (int k = 0; k < nd_; k++) {
            if (d[k] == 0) {
                if (k >= s->ndim) return unsupported(im, nd, "a 0 in its shape beyond the input's dimensions");
                d[k] = s->d[k];
            }
            if (d[k] == -1) { if (infer >= 0) return unsupported(im, nd, "two -1 in its shape"); infer = k; }
            else if (d[k] < 0) return unsupported(im, nd, "a negative size in its shape");
            else known *= d[k];
        }
        if (infer >= 0) d[infer] = known > 0 ? total / known : 0;
        y = weft_g_reshape(g, x, nd_, d);
    } else if (!strcmp(op, "Conv")) {
        int64_t k, stride, pad, dil;
        if (attr_i(nd, "group", 1) != 1) return unsupported(im, nd, "group other than 1 is not supported");
        WEFT_TRY(attr_same(im, nd, "kernel_shape", 0, &k));
        WEFT_TRY(attr_same(im, nd, "strides", 1, &stride));
        WEFT_TRY(attr_same(im, nd, "pads", 0, &pad));
        WEFT_TRY(attr_same(im, nd, "dilations", 1, &dil));
        if (dil != 1) return unsupported(im, nd, "dilations other than 1 are not supported");
        WEFT_TRY(value_of(im, nd, 0, &x));
        WEFT_TRY(weight(im, nd, nd->input[1], false, &w));
        if (nd->n_input > 2 && nd->input[2][0]) WEFT_TRY(weight(im, nd, nd->input[2], false, &b));
        y = weft_g_conv2d(g, x, w, b, (int)stride, (int)pad, 0);
    } else if (!strcmp(op, "MaxPool")) {
        int64_t k, stride, pad;
        WEFT_TRY(attr_same(im, nd, "kernel_shape", 0, &k));
        WEFT_TRY(attr_same(im, nd, "strides", 1, &stride));
        WEFT_TRY(attr_same(im, nd, "pads", 0, &pad));
        if (pad != 0) return unsupported(im, nd, "padding is not supported");
        if (attr_i(nd, "ceil_mode", 0)) return unsupported(im, nd, "ceil_mode = 1 is not supported");
        WEFT_TRY(value_of(im, nd, 0, &x));
        y = weft_g_maxpool(g, x, (int)k, (int)stride);
    } else if (!strcmp(op, "Sigmoid") || !strcmp(op, "Tanh")) {
        WEFT_TRY(value_of(im, nd, 0, &x));
        y = op[0] == 'S' ? weft_g_sigmoid(g, x) : weft_g_tanh(g, x);
    } else if (!strcmp(op, "Softmax")) {
        WEFT_TRY(value_of(im, nd, 0, &x));
        int64_t axis = attr_i(nd, "axis", -1);
        if (axis != -1 && axis != g->values[x].shape.ndim - 1) return unsupported(im, nd, "only the last axis is supported");
        y = weft_g_softmax(g, x);
    } else if (!strcmp(op, "GlobalAveragePool")) {
        WEFT_TRY(value_of(im, nd, 0, &x));
        if (g->values[x].shape.ndim != 4) return unsupported(im, nd, "a 4-D (N, C, H, W) input is needed");
        int p = weft_g_avgpool(g, x);
        int64_t d[4] = { g->values[x].shape.d[0], g->values[x].shape.d[1], 1, 1 };
        y = p < 0 ? -1 : weft_g_reshape(g, p, 4, d);   /* ONNX keeps the (1, 1) */
    } else if (!strcmp(op, "BatchNormalization")) {
        /* inference: the running mean and variance are the file's */
        if (nd->n_output > 1) return unsupported(im, nd, "training mode (running statistics as outputs)");
        int gam, bet;
        WEFT_TRY(value_of(im, nd, 0, &x));
        WEFT_TRY(weight(im, nd, nd->input[1], false, &gam));
        WEFT_TRY(weight(im, nd, nd->input[2], false, &bet));
        const Onnx__AttributeProto *ep = attr(nd, "epsilon");
        char bn[WEFT_NAME_MAX];
        snprintf(bn, sizeof bn, "bn%d", g->nvalues);
        y = weft_g_batchnorm(g, bn, x, gam, bet, ep ? ep->f : 1e-5f, 0.1f);
        for (int k = 3; k < 5 && y >= 0; k++) {
            entry *st = nd->n_input > (size_t)k ? find(im, nd->input[k]) : NULL;
            if (!st || st->kind != E_INIT) return unsupported(im, nd, "its mean and variance must be initializers");
            float *f = NULL;
            WEFT_TRY(tensor_floats(im, st->t, &f));
            /* weft_g_batchnorm's running mean and variance: its inputs 3 and 4 */
            int sv = g->nodes[g->values[y].producer].in[k];
            if (sv < 0 || tensor_numel(st->t) != weft_shape_numel(&g->values[sv].shape)) {
                free(f);
                return unsupported(im, nd, "its mean or variance does not have one entry per channel");
            }
            WEFT_TRY(keep_numbers(im, sv, f, st->t->name, false));
        }
    } else if (!strcmp(op, "Gather")) {
        /* an embedding: rows of a table (an initializer) picked by ids */
        if (attr_i(nd, "axis", 0) != 0) return unsupported(im, nd, "only axis 0 (rows of a table) is supported");
        int ids, tab;
        WEFT_TRY(value_of(im, nd, 1, &ids));
        WEFT_TRY(weight(im, nd, nd->input[0], false, &tab));
        if (g->values[ids].dtype != WEFT_I32) return unsupported(im, nd, "its indices must be integers");
        y = weft_g_embedding(g, ids, tab);
    } else {
        char list[512] = "";
        for (int i = 0; ops[i]; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", ops[i]);
        return weft_fail(WEFT_ERR_ARG, "onnx %s: %s node %s: op type %s is not supported (supported: %s)", im->origin, op,
                         nd->name ? nd->name : "?", op, list);
    }
    if (y < 0) return weft_fail_wrap(weft_graph_status(g), "onnx %s: %s node %s", im->origin, op, nd->name ? nd->name : "?");
    for (int i = 0; ops[i]; i++) if (!strcmp(op, ops[i]) && i < 32) im->m->op_count[i]++;
    return add(im, nd->output[0], E_VALUE, y, NULL);
}

static weft_status import_graph(importer *im, const Onnx__ModelProto *mp, int batch)
{
    const Onnx__GraphProto *gp = mp->graph;
    if (!gp) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: no graph", im->origin);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        if (!gp->initializer[i]->name) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: initializer %zu has no name", im->origin, i);
        WEFT_TRY(add(im, gp->initializer[i]->name, E_INIT, -1, gp->initializer[i]));
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: graph input %zu has no name", im->origin, i);
        if (find(im, vi->name)) continue;   /* an initializer listed as an input (old exporters) */
        const Onnx__TypeProto *tp = vi->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type->shape)
            return weft_fail(WEFT_ERR_FORMAT, "onnx %s: graph input %s: not a tensor with a shape", im->origin, vi->name);
        const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
        if (sh->n_dim > WEFT_MAX_DIMS)
            return weft_fail(WEFT_ERR_SHAPE, "onnx %s: graph input %s: %zu dimensions", im->origin, vi->name, sh->n_dim);
        int64_t d[WEFT_MAX_DIMS];
        for (size_t k = 0; k < sh->n_dim; k++) {
            const Onnx__TensorShapeProto__Dimension *dm = sh->dim[k];
            bool fixed = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dm->dim_value > 0;
            if (!fixed && k > 0)
                return weft_fail(WEFT_ERR_SHAPE, "onnx %s: graph input %s: dimension %zu is symbolic (only the first, the "
                                 "batch, may be)", im->origin, vi->name, k);
            d[k] = fixed ? (k == 0 && batch > 0 ? batch : dm->dim_value) : (batch > 0 ? batch : 1);
            if (d[k] > ((int64_t)1 << 31))
                return weft_fail(WEFT_ERR_SHAPE, "onnx %s: graph input %s: dimension %zu is %lld", im->origin, vi->name, k,
                                 (long long)d[k]);
        }
        int et = tp->tensor_type->elem_type;
        weft_dtype t = et == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ? WEFT_F32
                     : et == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || et == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ? WEFT_I32
                     : (weft_dtype)-1;
        if ((int)t < 0) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: graph input %s: element type %d is not supported",
                                         im->origin, vi->name, et);
        int v = weft_g_input(im->g, vi->name, t, (int)sh->n_dim, d);
        if (v < 0) return weft_graph_status(im->g);
        if (im->m->ninputs == WEFT_ONNX_MAX_IO) return weft_fail(WEFT_ERR_ARG, "onnx %s: more than %d inputs", im->origin,
                                                                   WEFT_ONNX_MAX_IO);
        im->m->inputs[im->m->ninputs++] = v;
        WEFT_TRY(add(im, vi->name, E_VALUE, v, NULL));
    }
    im->m->nnodes_onnx = (int)gp->n_node;
    for (size_t i = 0; i < gp->n_node; i++) WEFT_TRY(node(im, gp->node[i]));
    for (size_t i = 0; i < gp->n_output; i++) {
        entry *e = gp->output[i]->name ? find(im, gp->output[i]->name) : NULL;
        if (!e || e->kind != E_VALUE)
            return weft_fail(WEFT_ERR_FORMAT, "onnx %s: graph output %s is made by no node", im->origin,
                             gp->output[i]->name ? gp->output[i]->name : "?");
        if (im->m->noutputs == WEFT_ONNX_MAX_IO) return weft_fail(WEFT_ERR_ARG, "onnx %s: more than %d outputs", im->origin,
                                                                    WEFT_ONNX_MAX_IO);
        im->m->outputs[im->m->noutputs++] = e->value;
        im->g->values[e->value].keep = true;
        /* the model's own name for what it returns */
        snprintf(im->g->values[e->value].name, sizeof im->g->values[e->value].name, "%s", gp->output[i]->name);
    }
    return weft_graph_verify(im->g);
}

weft_status weft_onnx_import_bytes(const uint8_t *data, size_t n, const char *origin, int batch, weft_onnx *m)
{
    memset(m, 0, sizeof *m);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, n, data);
    if (!mp) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: not an ONNX model (protobuf decoding failed: truncated or "
                              "another format)", origin);
    importer im = { .origin = origin, .m = m };
    weft_status s = WEFT_OK;
    m->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    for (size_t i = 0; i < mp->n_opset_import; i++)
        if (!mp->opset_import[i]->domain || !mp->opset_import[i]->domain[0]) m->opset = mp->opset_import[i]->version;
    snprintf(m->producer, sizeof m->producer, "%s", mp->producer_name ? mp->producer_name : "");
    if (m->opset && (m->opset < 13 || m->opset > 17))
        s = weft_fail(WEFT_ERR_FORMAT, "onnx %s: opset %lld; weft reads opsets 13 to 17", origin, (long long)m->opset);
    if (!s && !(im.g = m->g = weft_graph_new())) s = weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", origin);
    if (!s) s = import_graph(&im, mp, batch);
    free(im.e);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (s) weft_onnx_free(m);
    return s;
}

weft_status weft_onnx_import(const char *path, int batch, weft_onnx *m)
{
    char *data;
    size_t n;
    memset(m, 0, sizeof *m);
    weft_status s = weft_read_file(path, &data, &n);
    if (s) return weft_fail_wrap(s, "onnx");
    s = weft_onnx_import_bytes((const uint8_t *)data, n, path, batch, m);
    free(data);
    return s;
}

void weft_onnx_free(weft_onnx *m)
{
    for (int i = 0; i < m->nparams; i++) { free(m->param_data[i]); free(m->param_onnx[i]); }
    free(m->param_data);
    free(m->param_onnx);
    free(m->param_transposed);
    free(m->param_value);
    weft_graph_free(m->g);
    memset(m, 0, sizeof *m);
}

weft_status weft_onnx_fill_store(const weft_onnx *m, weft_store *st)
{
    for (int i = 0; i < m->nparams; i++) {
        const weft_value *v = &m->g->values[m->param_value[i]];
        weft_tensor *t = weft_store_find(st, v->name);
        if (!t) return weft_fail(WEFT_ERR_ARG, "onnx: the store has no %s (bind it to the graph first)", v->name);
        int64_t n = weft_shape_numel(&v->shape);
        if (t->dtype == WEFT_F32) memcpy(t->data, m->param_data[i], (size_t)n * sizeof(float));
        else if (t->dtype == WEFT_BF16) weft_bf16_from_f32_n(m->param_data[i], t->data, n);
        else return weft_fail(WEFT_ERR_ARG, "onnx: %s is stored as %s", v->name, weft_dtype_name(t->dtype));
    }
    return WEFT_OK;
}
