/* onnx.c — an ONNX model (what torch.onnx.export writes) imported as a weft
 * forward graph. protobuf-c decodes the file with the code it generated from
 * ONNX's onnx.proto at build time; the importer only walks the decoded graph.
 *
 * Every tensor name maps to a weft value, or to numbers known at import: an
 * initializer (a weight), a Constant node's value, or what folds from them
 * and from shapes (onnx_const.c). An initializer becomes a parameter when an
 * op reads it as data; its numbers are kept (in weft's layout: a Gemm's B
 * without transB, or a MatMul's B, is transposed to (N, K)) to fill a store.
 * An op the importer does not know, or an attribute it cannot honour, is an
 * error naming the op type, the node and what is missing (onnx_ops.c) —
 * never a silently different graph. */
#include "io/onnx_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const *weft_onnx_ops(void) { return onnx_ops; }

const char *onnx_node_name(const Onnx__NodeProto *nd) { return nd->name && nd->name[0] ? nd->name : "?"; }

/* ---- names ---- */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 16777619u; }
    return h;
}

entry *onnx_find(importer *im, const char *name)
{
    if (!im->nhead) return NULL;
    for (int i = im->head[name_hash(name) % (uint32_t)im->nhead]; i >= 0; i = im->e[i].next)
        if (!strcmp(im->e[i].name, name)) return &im->e[i];
    return NULL;
}

/* A later definition of a name hides an earlier one (its bucket's first). */
weft_status onnx_add(importer *im, const char *name, entry_kind k, int value, const Onnx__TensorProto *t, cval *c)
{
    if (im->n == im->cap) {
        int cap = im->cap * 2 + 64;
        entry *e = realloc(im->e, (size_t)cap * sizeof *e);
        if (!e) { cval_free(c); return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin); }
        im->e = e;
        im->cap = cap;
    }
    if (im->n >= im->nhead) {   /* rehash: buckets at twice the entries */
        int nh = im->nhead * 2 + 128;
        int *h = malloc((size_t)nh * sizeof *h);
        if (!h) { cval_free(c); return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin); }
        for (int i = 0; i < nh; i++) h[i] = -1;
        for (int i = 0; i < im->n; i++) {
            uint32_t b = name_hash(im->e[i].name) % (uint32_t)nh;
            im->e[i].next = h[b];
            h[b] = i;
        }
        free(im->head);
        im->head = h;
        im->nhead = nh;
    }
    uint32_t b = name_hash(name) % (uint32_t)im->nhead;
    im->e[im->n] = (entry){ .name = name, .kind = k, .value = value, .t = t, .c = c, .next = im->head[b] };
    im->head[b] = im->n++;
    return WEFT_OK;
}

weft_status onnx_add_transposed(importer *im, const char *name, const entry *base)
{
    const char *bn = base->name;
    const Onnx__TensorProto *t = base->t;
    WEFT_TRY(onnx_add(im, name, E_INIT_T, -1, t, NULL));
    im->e[im->n - 1].base = bn;
    return WEFT_OK;
}

void onnx_value_name(char *buf, const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    if (n + k < WEFT_NAME_MAX) { memcpy(buf, name, n); memcpy(buf + n, suffix, k + 1); return; }
    snprintf(buf, WEFT_NAME_MAX, "%.40s~%08x%s", name, name_hash(name), suffix);
}

/* ---- parameters ---- */
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

weft_status onnx_tensor_floats(const importer *im, const Onnx__TensorProto *t, float **out)
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
    float *f = weft_alloc((size_t)n * sizeof *f + 4);
    if (!f) return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin);
    memcpy(f, raw ? (const void *)t->raw_data.data : (const void *)t->float_data, (size_t)n * 4);
    *out = f;
    return WEFT_OK;
}

/* Keeps value v's numbers f (owned from here) to fill a store with, and the
 * initializer they came from (transposed: as weft's (N, K) of its (K, N)). */
weft_status onnx_keep_numbers(importer *im, int v, float *f, const char *from, bool transposed)
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

weft_status onnx_new_param(importer *im, const char *from, bool transposed, int nd, const int64_t *d, float *f, int *out)
{
    char pname[WEFT_NAME_MAX];
    onnx_value_name(pname, from, transposed ? ".T" : "");
    int v = weft_g_param_init(im->g, pname, nd, d, WEFT_INIT_ZERO, 0);
    if (v < 0) { free(f); return weft_graph_status(im->g); }
    WEFT_TRY(onnx_keep_numbers(im, v, f, from, transposed));
    *out = v;
    return WEFT_OK;
}

weft_status onnx_add_ln(importer *im, const char *name, ln_stage stage, int x, float eps)
{
    WEFT_TRY(onnx_add(im, name, E_LN, x, NULL, NULL));
    im->e[im->n - 1].stage = stage;
    im->e[im->n - 1].eps = eps;
    return WEFT_OK;
}

/* One parameter per initializer (by the name it has in the graph: PyTorch
 * writes a weight equal to another as an Identity of it, and it is still
 * its own weight) and layout: its first use makes it. */
weft_status onnx_weight(importer *im, const Onnx__NodeProto *nd, entry *x, bool transpose, int *out)
{
    if (!x || (x->kind != E_INIT && x->kind != E_INIT_T))
        return onnx_unsupported(im, nd, "input %s must be an initializer (a weight)", x ? x->name : "?");
    if (x->kind == E_INIT_T) {   /* the file's Transpose of an initializer */
        entry *base = onnx_find(im, x->base);
        if (!base || base->kind != E_INIT || base->t != x->t) return onnx_unsupported(im, nd, "a transposed weight lost");
        return onnx_weight(im, nd, base, !transpose, out);
    }
    const Onnx__TensorProto *t = x->t;
    const char *name = x->name;
    for (int i = 0; i < im->m->nparams; i++)
        if (!strcmp(im->m->param_onnx[i], name) && im->m->param_transposed[i] == transpose &&
            im->g->values[im->m->param_value[i]].role == WEFT_ROLE_PARAM) {
            *out = im->m->param_value[i];
            return WEFT_OK;
        }
    if (t->n_dims < 1 || t->n_dims > 4)
        return weft_fail(WEFT_ERR_SHAPE, "onnx %s: initializer %s: %zu dimensions", im->origin, name, t->n_dims);
    float *f = NULL;
    WEFT_TRY(onnx_tensor_floats(im, t, &f));
    int64_t d[4];
    for (size_t k = 0; k < t->n_dims; k++) d[k] = t->dims[k];
    if (transpose) {
        if (t->n_dims != 2) { free(f); return weft_fail(WEFT_ERR_SHAPE, "onnx %s: %s: a 2-D weight to transpose", im->origin, name); }
        float *tr = weft_alloc((size_t)(d[0] * d[1]) * sizeof *tr + 4);
        if (!tr) { free(f); return weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", im->origin); }
        for (int64_t i = 0; i < d[0]; i++)
            for (int64_t j = 0; j < d[1]; j++) tr[j * d[0] + i] = f[i * d[1] + j];
        free(f);
        f = tr;
        int64_t s = d[0]; d[0] = d[1]; d[1] = s;
    }
    return onnx_new_param(im, name, transpose, (int)t->n_dims, d, f, out);
}

weft_status onnx_value_of(importer *im, const Onnx__NodeProto *nd, size_t i, int *out)
{
    if (i >= nd->n_input || !nd->input[i][0]) return onnx_unsupported(im, nd, "input %zu missing", i);
    entry *x = onnx_find(im, nd->input[i]);
    if (!x) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: %s node %s: input %s is made by no node before it (dangling or a "
                             "cycle)", im->origin, nd->op_type, onnx_node_name(nd), nd->input[i]);
    if (x->kind == E_INIT || x->kind == E_INIT_T) return onnx_weight(im, nd, x, false, out);
    if (x->kind == E_ABSENT) return onnx_unsupported(im, nd, "input %s is an output weft does not compute", x->name);
    if (x->kind == E_LN)
        return onnx_unsupported(im, nd, "input %s is a piece of a written-out layer norm (ReduceMean, Sub, Pow, ReduceMean, "
                                "Add, Sqrt, Div) used otherwise; only the whole is supported", x->name);
    if (x->kind == E_CONST) {   /* a constant tensor read as data: made once */
        if (x->value < 0) WEFT_TRY(onnx_materialize(im, x->c, AS_DATA, x->name, &x->value));
        *out = x->value;
        return WEFT_OK;
    }
    *out = x->value;
    return WEFT_OK;
}

const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *nd, const char *name)
{
    for (size_t i = 0; i < nd->n_attribute; i++)
        if (nd->attribute[i]->name && !strcmp(nd->attribute[i]->name, name)) return nd->attribute[i];
    return NULL;
}

int64_t onnx_attr_i(const Onnx__NodeProto *nd, const char *name, int64_t dflt)
{
    const Onnx__AttributeProto *a = onnx_attr(nd, name);
    return a && a->has_i ? a->i : dflt;
}

weft_status onnx_unsupported(const importer *im, const Onnx__NodeProto *nd, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return weft_fail(WEFT_ERR_ARG, "onnx %s: %s node %s: %s", im->origin, nd->op_type ? nd->op_type : "?",
                     onnx_node_name(nd), why);
}

/* ---- the graph ---- */
static weft_status import_graph(importer *im, const Onnx__ModelProto *mp, int batch)
{
    const Onnx__GraphProto *gp = mp->graph;
    if (!gp) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: no graph", im->origin);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        if (!gp->initializer[i]->name) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: initializer %zu has no name", im->origin, i);
        WEFT_TRY(onnx_add(im, gp->initializer[i]->name, E_INIT, -1, gp->initializer[i], NULL));
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: graph input %zu has no name", im->origin, i);
        if (onnx_find(im, vi->name)) continue;   /* an initializer listed as an input (old exporters) */
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
            d[k] = fixed ? dm->dim_value : (batch > 0 ? batch : 1);   /* only a symbolic one is the batch */
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
        WEFT_TRY(onnx_add(im, vi->name, E_VALUE, v, NULL, NULL));
    }
    im->m->nnodes_onnx = (int)gp->n_node;
    for (size_t i = 0; i < gp->n_node; i++) WEFT_TRY(onnx_node(im, gp->node[i]));
    for (size_t i = 0; i < gp->n_output; i++) {
        entry *e = gp->output[i]->name ? onnx_find(im, gp->output[i]->name) : NULL;
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

/* protobuf-c's allocations through weft's: a large initializer's copy gets
 * huge pages (weft_alloc), so decoding a big model is not page faults. */
static void *pb_alloc(void *ctx, size_t n) { (void)ctx; return weft_alloc(n); }
static void pb_free(void *ctx, void *p) { (void)ctx; weft_free(p); }
static ProtobufCAllocator pb_allocator = { pb_alloc, pb_free, NULL };

weft_status weft_onnx_import_bytes(const uint8_t *data, size_t n, const char *origin, int batch, weft_onnx *m)
{
    memset(m, 0, sizeof *m);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&pb_allocator, n, data);
    if (!mp) return weft_fail(WEFT_ERR_FORMAT, "onnx %s: not an ONNX model (protobuf decoding failed: truncated or "
                              "another format)", origin);
    importer im = { .origin = origin, .m = m };
    weft_status s = WEFT_OK;
    m->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    for (size_t i = 0; i < mp->n_opset_import; i++)
        if (!mp->opset_import[i]->domain || !mp->opset_import[i]->domain[0] ||
            !strcmp(mp->opset_import[i]->domain, "ai.onnx"))   /* the default domain, by either name */
            m->opset = mp->opset_import[i]->version;
    snprintf(m->producer, sizeof m->producer, "%s", mp->producer_name ? mp->producer_name : "");
    if (m->opset && (m->opset < 13 || m->opset > 17))
        s = weft_fail(WEFT_ERR_FORMAT, "onnx %s: opset %lld; weft reads opsets 13 to 17", origin, (long long)m->opset);
    if (!s && !(im.g = m->g = weft_graph_new())) s = weft_fail(WEFT_ERR_NOMEM, "onnx %s: out of memory", origin);
    if (!s) s = import_graph(&im, mp, batch);
    for (int i = 0; i < im.n; i++) cval_free(im.e[i].c);
    free(im.e);
    free(im.head);
    onnx__model_proto__free_unpacked(mp, &pb_allocator);
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
        else if (t->dtype == WEFT_I32)   /* constant ids: small whole numbers, exact in a float */
            for (int64_t k = 0; k < n; k++) ((int32_t *)t->data)[k] = (int32_t)m->param_data[i][k];
        else return weft_fail(WEFT_ERR_ARG, "onnx: %s is stored as %s", v->name, weft_dtype_name(t->dtype));
    }
    return WEFT_OK;
}
