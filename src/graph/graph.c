/* graph.c — values, nodes, the builder, the verifier and the text dump. */
#include "graph/ops.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

weft_shape weft_shape_make(int ndim, const int64_t *d)
{
    weft_shape s = { .ndim = ndim };
    for (int i = 0; i < ndim && i < WEFT_MAX_DIMS; i++) s.d[i] = d[i];
    return s;
}

int64_t weft_shape_numel(const weft_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->d[i];
    return n;
}

bool weft_shape_eq(const weft_shape *a, const weft_shape *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++) if (a->d[i] != b->d[i]) return false;
    return true;
}

char *weft_shape_str(const weft_shape *s, char *buf, size_t n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < s->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)s->d[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

weft_graph *weft_graph_new(void)
{
    weft_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->loss = -1;
    g->precision = WEFT_PREC_FP32;
    return g;
}

void weft_graph_free(weft_graph *g)
{
    if (!g) return;
    free(g->values);
    free(g->nodes);
    free(g);
}

/* Records the first error; later ones are dropped (they usually follow from it). */
static int gfail(weft_graph *g, weft_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int gfail(weft_graph *g, weft_status s, const char *fmt, ...)
{
    if (g->err == WEFT_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->errmsg, sizeof g->errmsg, fmt, ap);
        va_end(ap);
        g->err = s;
    }
    weft_fail(g->err, "%s", g->errmsg);
    return -1;
}

weft_status weft_graph_status(const weft_graph *g)
{
    if (g->err != WEFT_OK) weft_fail(g->err, "%s", g->errmsg);
    return g->err;
}

int weft_g_value(weft_graph *g, const char *name, weft_role r, weft_dtype t, const weft_shape *s)
{
    if (g->err) return -1;
    if (strlen(name) >= WEFT_NAME_MAX)
        return gfail(g, WEFT_ERR_ARG, "value name '%s' is longer than %d characters", name, WEFT_NAME_MAX - 1);
    if (g->nvalues == g->cap_values) {
        int cap = g->cap_values ? 2 * g->cap_values : 64;
        weft_value *v = realloc(g->values, (size_t)cap * sizeof *v);
        if (!v) return gfail(g, WEFT_ERR_NOMEM, "graph: out of memory adding value %s", name);
        g->values = v; g->cap_values = cap;
    }
    weft_value *v = &g->values[g->nvalues];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->shape = *s; v->dtype = t; v->role = r;
    v->producer = -1; v->grad = -1; v->alias_of = -1; v->offset = -1;
    return g->nvalues++;
}

int weft_g_input(weft_graph *g, const char *name, weft_dtype t, int ndim, const int64_t *d)
{
    weft_shape s = weft_shape_make(ndim, d);
    if (ndim < 0 || ndim > WEFT_MAX_DIMS)
        return gfail(g, WEFT_ERR_SHAPE, "input %s: %d dimensions (at most %d)", name, ndim, WEFT_MAX_DIMS);
    return weft_g_value(g, name, WEFT_ROLE_INPUT, t, &s);
}

int weft_g_param(weft_graph *g, const char *name, int ndim, const int64_t *d, float init_bound)
{
    weft_shape s = weft_shape_make(ndim, d);
    int id = weft_g_value(g, name, WEFT_ROLE_PARAM, WEFT_F32, &s);
    if (id >= 0) { g->values[id].init = WEFT_INIT_UNIFORM; g->values[id].init_bound = init_bound; }
    return id;
}

int weft_g_param_init(weft_graph *g, const char *name, int ndim, const int64_t *d, weft_init init, float scale)
{
    int id = weft_g_param(g, name, ndim, d, scale);
    if (id >= 0) g->values[id].init = init;
    return id;
}

/* Names a produced value "<op><node index>" or "<op><node>.<j>". */
static void out_name(char *buf, size_t n, weft_op op, int node, int j, int nout)
{
    if (nout > 1) snprintf(buf, n, "%s%d.%d", weft_op_name(op), node, j);
    else snprintf(buf, n, "%s%d", weft_op_name(op), node);
}

int weft_g_node(weft_graph *g, weft_op op, weft_phase ph, const int *in, int nin,
                const weft_attrs *a, int *out, int nout_expected)
{
    if (g->err) return -1;
    const weft_op_info *info = weft_op_get(op);
    if (nin < info->min_in || nin > info->max_in)
        return gfail(g, WEFT_ERR_SHAPE, "%s: %d inputs (expects %d to %d)", info->name, nin,
                     info->min_in, info->max_in);
    for (int i = 0; i < nin; i++)
        if (in[i] < 0 || in[i] >= g->nvalues)
            return gfail(g, WEFT_ERR_ARG, "%s: input %d is not a value of this graph", info->name, i);
    if (g->nnodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
        weft_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return gfail(g, WEFT_ERR_NOMEM, "graph: out of memory adding node");
        g->nodes = nn; g->cap_nodes = cap;
    }
    weft_node node = { .op = op, .phase = ph, .origin = -1, .nin = nin, .nout = info->nout };
    if (a) node.a = *a;
    for (int i = 0; i < nin; i++) node.in[i] = in[i];
    weft_shape shapes[WEFT_MAX_OUT];
    weft_dtype dtypes[WEFT_MAX_OUT];
    memset(shapes, 0, sizeof shapes);
    if (info->infer(g, &node, shapes, dtypes) != WEFT_OK)
        return gfail(g, WEFT_ERR_SHAPE, "%s", weft_errmsg());
    int nout = info->nout;
    /* Optional second outputs (a bias gradient) only when the node has a bias. */
    if ((op == WEFT_OP_LINEAR_BWD_WEIGHT || op == WEFT_OP_CONV2D_BWD_WEIGHT) && !node.a.has_bias)
        nout = 1;
    node.nout = nout;
    int idx = g->nnodes;
    weft_role role = ph == WEFT_PHASE_BWD ? WEFT_ROLE_GRAD : WEFT_ROLE_ACT;
    if (op == WEFT_OP_XENT || op == WEFT_OP_BCE) role = WEFT_ROLE_LOSS;
    for (int j = 0; j < nout; j++) {
        char name[WEFT_NAME_MAX];
        out_name(name, sizeof name, op, idx, j, nout);
        int v = weft_g_value(g, name, role, dtypes[j], &shapes[j]);
        if (v < 0) return -1;
        g->values[v].producer = idx;
        if (op == WEFT_OP_RESHAPE) g->values[v].alias_of = in[0];
        node.out[j] = v;
        if (out) out[j] = v;
    }
    if (nout_expected >= 0 && nout_expected != nout)
        return gfail(g, WEFT_ERR_INTERNAL, "%s: %d outputs, caller expects %d", info->name, nout, nout_expected);
    g->nodes[g->nnodes++] = node;
    return nout ? node.out[0] : idx;
}

static int fwd1(weft_graph *g, weft_op op, const int *in, int nin, const weft_attrs *a)
{
    int out[WEFT_MAX_OUT];
    return weft_g_node(g, op, WEFT_PHASE_FWD, in, nin, a, out, 1);
}

int weft_g_linear(weft_graph *g, int x, int w, int b, int act)
{
    int in[3] = { x, w, b };
    weft_attrs a = { .act = act, .has_bias = b >= 0 };
    return fwd1(g, WEFT_OP_LINEAR, in, b >= 0 ? 3 : 2, &a);
}

int weft_g_add(weft_graph *g, int a_, int b)
{
    int in[2] = { a_, b };
    return fwd1(g, WEFT_OP_ADD, in, 2, NULL);
}

int weft_g_relu(weft_graph *g, int x) { return fwd1(g, WEFT_OP_RELU, &x, 1, NULL); }
int weft_g_gelu(weft_graph *g, int x) { return fwd1(g, WEFT_OP_GELU, &x, 1, NULL); }

int weft_g_conv2d(weft_graph *g, int x, int w, int b, int stride, int pad, int act)
{
    int in[3] = { x, w, b };
    weft_attrs a = { .act = act, .stride = stride, .pad = pad, .has_bias = b >= 0 };
    return fwd1(g, WEFT_OP_CONV2D, in, b >= 0 ? 3 : 2, &a);
}

int weft_g_maxpool(weft_graph *g, int x, int k, int stride)
{
    weft_attrs a = { .k = k, .stride = stride };
    return fwd1(g, WEFT_OP_MAXPOOL, &x, 1, &a);
}

int weft_g_reshape(weft_graph *g, int x, int ndim, const int64_t *d)
{
    if (g->err) return -1;
    if (ndim < 1 || ndim > WEFT_MAX_DIMS)
        return gfail(g, WEFT_ERR_SHAPE, "reshape: %d dimensions", ndim);
    weft_shape s = weft_shape_make(ndim, d);
    if (x < 0 || x >= g->nvalues) return gfail(g, WEFT_ERR_ARG, "reshape: input is not a value");
    char a[48], b[48];
    if (weft_shape_numel(&s) != weft_shape_numel(&g->values[x].shape))
        return gfail(g, WEFT_ERR_SHAPE, "reshape of %s: %s has %lld elements, %s has %lld",
                     g->values[x].name, weft_shape_str(&g->values[x].shape, a, sizeof a),
                     (long long)weft_shape_numel(&g->values[x].shape), weft_shape_str(&s, b, sizeof b),
                     (long long)weft_shape_numel(&s));
    int y = fwd1(g, WEFT_OP_RESHAPE, &x, 1, NULL);
    if (y >= 0) g->values[y].shape = s;
    return y;
}

int weft_g_xent(weft_graph *g, int logits, int labels)
{
    int in[2] = { logits, labels };
    return fwd1(g, WEFT_OP_XENT, in, 2, NULL);
}

int weft_g_dot(weft_graph *g, int a_, int b)
{
    int in[2] = { a_, b };
    int y = fwd1(g, WEFT_OP_DOT, in, 2, NULL);
    if (y >= 0) g->values[y].role = WEFT_ROLE_LOSS;
    return y;
}

int weft_g_embedding(weft_graph *g, int ids, int table)
{
    int in[2] = { ids, table };
    return fwd1(g, WEFT_OP_EMBEDDING, in, 2, NULL);
}

int weft_g_layernorm(weft_graph *g, int x, int gamma, int beta, float eps)
{
    int in[3] = { x, gamma, beta }, out[WEFT_MAX_OUT];
    weft_attrs a = { .eps = eps };
    return weft_g_node(g, WEFT_OP_LAYERNORM, WEFT_PHASE_FWD, in, 3, &a, out, 3);
}

int weft_g_attention(weft_graph *g, int qkv, int heads, bool causal)
{
    return weft_g_attention_pos(g, qkv, heads, causal, 0.0f, 0.0f);
}

int weft_g_attention_pos(weft_graph *g, int qkv, int heads, bool causal, float back, float ahead)
{
    int out[WEFT_MAX_OUT];
    weft_attrs a = { .heads = heads, .causal = causal, .pos_back = back, .pos_ahead = ahead };
    return weft_g_node(g, WEFT_OP_ATTENTION, WEFT_PHASE_FWD, &qkv, 1, &a, out, 2);
}

int weft_g_sigmoid(weft_graph *g, int x) { return fwd1(g, WEFT_OP_SIGMOID, &x, 1, NULL); }
int weft_g_tanh(weft_graph *g, int x) { return fwd1(g, WEFT_OP_TANH, &x, 1, NULL); }
int weft_g_softmax(weft_graph *g, int x) { return fwd1(g, WEFT_OP_SOFTMAX, &x, 1, NULL); }
int weft_g_avgpool(weft_graph *g, int x) { return fwd1(g, WEFT_OP_AVGPOOL, &x, 1, NULL); }

int weft_g_transpose(weft_graph *g, int x, int a_, int b)
{
    weft_attrs a = { .axis = a_, .axis2 = b };
    return fwd1(g, WEFT_OP_TRANSPOSE, &x, 1, &a);
}

int weft_g_concat(weft_graph *g, const int *xs, int n, int axis)
{
    weft_attrs a = { .axis = axis };
    return fwd1(g, WEFT_OP_CONCAT, xs, n, &a);
}

int weft_g_split(weft_graph *g, int x, int axis, int64_t start, int64_t len)
{
    weft_attrs a = { .axis = axis, .start = start, .len = len };
    return fwd1(g, WEFT_OP_SPLIT, &x, 1, &a);
}

int weft_g_dropout(weft_graph *g, int x, float p)
{
    weft_attrs a = { .p = p };
    return fwd1(g, WEFT_OP_DROPOUT, &x, 1, &a);
}

int weft_g_bce(weft_graph *g, int logits, int targets)
{
    int in[2] = { logits, targets };
    return fwd1(g, WEFT_OP_BCE, in, 2, NULL);
}

int weft_g_embbag(weft_graph *g, int ids, int table)
{
    int in[2] = { ids, table };
    return fwd1(g, WEFT_OP_EMBBAG, in, 2, NULL);
}

int weft_g_dot_interact(weft_graph *g, int dense, int emb)
{
    int in[2] = { dense, emb };
    return fwd1(g, WEFT_OP_DOT_INTERACT, in, 2, NULL);
}

int weft_g_batchnorm(weft_graph *g, const char *name, int x, int gamma, int beta, float eps, float momentum)
{
    if (g->err) return -1;
    if (x < 0 || x >= g->nvalues || g->values[x].shape.ndim < 2)
        return gfail(g, WEFT_ERR_SHAPE, "batchnorm %s: input is not a (N,C,...) value", name);
    char mn[WEFT_NAME_MAX], vn[WEFT_NAME_MAX];
    snprintf(mn, sizeof mn, "%.*s.running_mean", WEFT_NAME_MAX - 14, name);
    snprintf(vn, sizeof vn, "%.*s.running_var", WEFT_NAME_MAX - 14, name);
    weft_shape cs = weft_shape_make(1, &g->values[x].shape.d[1]);
    int rm = weft_g_value(g, mn, WEFT_ROLE_STATE, WEFT_F32, &cs);
    int rv = weft_g_value(g, vn, WEFT_ROLE_STATE, WEFT_F32, &cs);
    if (rm < 0 || rv < 0) return -1;
    g->values[rm].init = WEFT_INIT_ZERO;
    g->values[rv].init = WEFT_INIT_ONE;
    int in[5] = { x, gamma, beta, rm, rv }, out[WEFT_MAX_OUT];
    weft_attrs a = { .eps = eps, .p = momentum };
    return weft_g_node(g, WEFT_OP_BATCHNORM, WEFT_PHASE_FWD, in, 5, &a, out, 3);
}

int weft_g_lstm(weft_graph *g, int x, int w_ih, int w_hh, int b_ih, int b_hh)
{
    int in[5] = { x, w_ih, w_hh, b_ih, b_hh }, out[WEFT_MAX_OUT];
    return weft_g_node(g, WEFT_OP_LSTM, WEFT_PHASE_FWD, in, 5, NULL, out, 3);
}

int weft_g_mul(weft_graph *g, int a_, int b)
{
    int in[2] = { a_, b };
    return fwd1(g, WEFT_OP_MUL, in, 2, NULL);
}

int weft_g_scale(weft_graph *g, int x, float alpha, float beta)
{
    weft_attrs a = { .alpha = alpha, .beta = beta };
    return fwd1(g, WEFT_OP_SCALE, &x, 1, &a);
}

int weft_g_matmul(weft_graph *g, int a_, int b, bool ta, bool tb)
{
    int in[2] = { a_, b };
    weft_attrs a = { .ta = ta, .tb = tb };
    return fwd1(g, WEFT_OP_MATMUL, in, 2, &a);
}

int weft_g_erf(weft_graph *g, int x) { return fwd1(g, WEFT_OP_ERF, &x, 1, NULL); }

int weft_g_where(weft_graph *g, int x, int mask, float fill)
{
    int in[2] = { x, mask };
    weft_attrs a = { .alpha = fill };
    return fwd1(g, WEFT_OP_WHERE, in, 2, &a);
}

int weft_g_sum_lead(weft_graph *g, int x, int nlead)
{
    weft_attrs a = { .axis = nlead };
    return fwd1(g, WEFT_OP_SUM_LEAD, &x, 1, &a);
}

/* ---- verifier ------------------------------------------------------------- */

weft_status weft_graph_verify(const weft_graph *g)
{
    if (g->err) return weft_graph_status(g);
    int *written = calloc((size_t)g->nvalues + 1, sizeof *written);
    if (!written) return weft_fail(WEFT_ERR_NOMEM, "verify: out of memory");
    weft_status s = WEFT_OK;
    for (int v = 0; v < g->nvalues && !s; v++) {
        const weft_value *val = &g->values[v];
        if (val->role == WEFT_ROLE_INPUT || val->role == WEFT_ROLE_PARAM || val->role == WEFT_ROLE_STATE) {
            if (val->producer != -1)
                s = weft_fail(WEFT_ERR_INTERNAL, "verify: %s is an input/persistent value but has a producer", val->name);
            written[v] = 1;
        }
    }
    for (int i = 0; i < g->nnodes && !s; i++) {
        const weft_node *n = &g->nodes[i];
        const weft_op_info *info = weft_op_get(n->op);
        if (n->nin < info->min_in || n->nin > info->max_in) {
            s = weft_fail(WEFT_ERR_INTERNAL, "verify: node %d (%s) has %d inputs", i, info->name, n->nin);
            break;
        }
        for (int k = 0; k < n->nin && !s; k++) {
            int v = n->in[k];
            if (v < 0 || v >= g->nvalues)
                s = weft_fail(WEFT_ERR_INTERNAL, "verify: node %d (%s) input %d out of range", i, info->name, k);
            else if (!written[v])
                s = weft_fail(WEFT_ERR_INTERNAL, "verify: node %d (%s) reads %s before it is produced",
                              i, info->name, g->values[v].name);
        }
        if (s) break;
        weft_shape shapes[WEFT_MAX_OUT];
        weft_dtype dtypes[WEFT_MAX_OUT];
        memset(shapes, 0, sizeof shapes);
        if (info->infer(g, n, shapes, dtypes) != WEFT_OK) {
            s = weft_fail_wrap(WEFT_ERR_SHAPE, "verify: node %d (%s)", i, info->name);
            break;
        }
        for (int j = 0; j < n->nout && !s; j++) {
            int v = n->out[j];
            if (v < 0 || v >= g->nvalues) {
                s = weft_fail(WEFT_ERR_INTERNAL, "verify: node %d output out of range", i);
                break;
            }
            const weft_value *val = &g->values[v];
            char a[48], b[48];
            if (written[v])
                s = weft_fail(WEFT_ERR_INTERNAL, "verify: %s is produced twice", val->name);
            else if (val->producer != i)
                s = weft_fail(WEFT_ERR_INTERNAL, "verify: %s names producer %d, made by %d", val->name, val->producer, i);
            else if (n->op == WEFT_OP_RESHAPE
                         ? weft_shape_numel(&shapes[j]) != weft_shape_numel(&val->shape)
                         : !weft_shape_eq(&shapes[j], &val->shape))
                s = weft_fail(WEFT_ERR_SHAPE, "verify: %s has shape %s, %s infers %s", val->name,
                              weft_shape_str(&val->shape, a, sizeof a), info->name,
                              weft_shape_str(&shapes[j], b, sizeof b));
            else if (dtypes[j] != val->dtype)
                s = weft_fail(WEFT_ERR_SHAPE, "verify: %s has dtype %s, %s infers %s", val->name,
                              weft_dtype_name(val->dtype), info->name, weft_dtype_name(dtypes[j]));
            written[v] = 1;
        }
    }
    free(written);
    return s;
}

/* ---- dump ----------------------------------------------------------------- */

static const char *role_name(weft_role r)
{
    static const char *names[] = { "input", "param", "state", "act", "grad", "loss" };
    return names[r];
}

void weft_graph_dump(const weft_graph *g, FILE *f)
{
    char sb[64];
    fprintf(f, "graph: %d values, %d nodes, precision %s\n", g->nvalues, g->nnodes,
            weft_precision_name(g->precision));
    for (int v = 0; v < g->nvalues; v++) {
        const weft_value *x = &g->values[v];
        fprintf(f, "  %%%d %-24s %-6s %-5s %s", v, x->name, role_name(x->role),
                weft_dtype_name(x->dtype), weft_shape_str(&x->shape, sb, sizeof sb));
        if (x->offset >= 0) fprintf(f, " @%lld", (long long)x->offset);
        if (x->alias_of >= 0) fprintf(f, " view-of %%%d", x->alias_of);
        fputc('\n', f);
    }
    static const char *ph[] = { "", "fwd", "bwd", "", "upd" };
    for (int i = 0; i < g->nnodes; i++) {
        const weft_node *n = &g->nodes[i];
        fprintf(f, "  #%d %s %s(", i, ph[n->phase], weft_op_name(n->op));
        for (int k = 0; k < n->nin; k++) fprintf(f, k ? ", %%%d" : "%%%d", n->in[k]);
        fprintf(f, ")");
        if (n->nout) {
            fprintf(f, " ->");
            for (int j = 0; j < n->nout; j++) fprintf(f, " %%%d", n->out[j]);
        }
        static const char *acts[] = { "", "relu", "gelu", "sigmoid", "tanh", "erf" };
        if (n->a.act > 0 && n->a.act < 6) fprintf(f, " act=%s", acts[n->a.act]);
        if (n->op == WEFT_OP_CONV2D || n->op == WEFT_OP_CONV2D_BWD_DATA || n->op == WEFT_OP_CONV2D_BWD_WEIGHT)
            fprintf(f, " stride=%d pad=%d", n->a.stride, n->a.pad);
        if (n->op == WEFT_OP_MAXPOOL || n->op == WEFT_OP_MAXPOOL_BWD)
            fprintf(f, " k=%d stride=%d", n->a.k, n->a.stride);
        if (n->op == WEFT_OP_ATTENTION && (n->a.pos_back != 0.0f || n->a.pos_ahead != 0.0f))
            fprintf(f, " pos-bias=%g,%g", n->a.pos_back, n->a.pos_ahead);
        if (n->op == WEFT_OP_SCALE) fprintf(f, " alpha=%g beta=%g", n->a.alpha, n->a.beta);
        if (n->op == WEFT_OP_WHERE) fprintf(f, " fill=%g", n->a.alpha);
        if (n->op == WEFT_OP_MATMUL && (n->a.ta || n->a.tb)) fprintf(f, " ta=%d tb=%d", n->a.ta, n->a.tb);
        if (n->op == WEFT_OP_SUM_LEAD || n->op == WEFT_OP_SUM_LEAD_BWD) fprintf(f, " nlead=%d", n->a.axis);
        fputc('\n', f);
    }
    if (g->planned) fprintf(f, "arena: %lld bytes\n", (long long)g->arena_bytes);
}

int64_t weft_graph_param_count(const weft_graph *g)
{
    int64_t n = 0;
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].role == WEFT_ROLE_PARAM) n += weft_shape_numel(&g->values[v].shape);
    return n;
}

int weft_optimizer_nstates(weft_optimizer o) { return o == WEFT_OPT_ADAMW ? 2 : 1; }
