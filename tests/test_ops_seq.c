/* test_ops_seq.c — the sequence-model ops in the graph (embedding, layer
 * norm, attention): their autodiff-built backward against central finite
 * differences, and their bf16 path against fp32, from one table of cases.
 * (The kernels themselves are checked against references in
 * test_kernels_nn.c.) */
#include "test_util.h"
#include "weft/exec.h"
#include "weft/graph.h"
#include "weft/models.h"

#include <string.h>

typedef enum { C_EMBED, C_LAYERNORM, C_ATTN_CAUSAL, C_ATTN_BIDIR } kind;
typedef struct { const char *name; kind k; } op_case;

static const op_case cases[] = {
    { "embedding V=11 D=5, ids (2,3)", C_EMBED },
    { "layernorm (6,7)", C_LAYERNORM },
    { "attention causal B=2 T=5 D=8 H=2", C_ATTN_CAUSAL },
    { "attention bidirectional B=2 T=4 D=6 H=3", C_ATTN_BIDIR },
};

typedef struct { weft_graph *g; int y, probe, loss, ids; int params[3]; int np; } built;

static built build(const op_case *c, weft_precision p)
{
    built b = { .g = weft_graph_new(), .ids = -1 };
    weft_graph *g = b.g;
    switch (c->k) {
    case C_EMBED: {
        int64_t idd[2] = { 2, 3 }, td[2] = { 11, 5 };
        b.ids = weft_g_input(g, "ids", WEFT_I32, 2, idd);
        b.params[b.np++] = weft_g_param(g, "table", 2, td, 1.0f);
        b.y = weft_g_embedding(g, b.ids, b.params[0]);
        break;
    }
    case C_LAYERNORM: {
        int64_t xd[2] = { 6, 7 }, gd[1] = { 7 };
        b.params[b.np++] = weft_g_param(g, "x", 2, xd, 2.0f);
        b.params[b.np++] = weft_g_param(g, "gamma", 1, gd, 1.0f);
        b.params[b.np++] = weft_g_param(g, "beta", 1, gd, 1.0f);
        b.y = weft_g_layernorm(g, b.params[0], b.params[1], b.params[2], 1e-5f);
        break;
    }
    case C_ATTN_CAUSAL: case C_ATTN_BIDIR: {
        bool causal = c->k == C_ATTN_CAUSAL;
        int64_t qd[3] = { 2, causal ? 5 : 4, causal ? 24 : 18 };
        b.params[b.np++] = weft_g_param(g, "qkv", 3, qd, 1.0f);
        b.y = weft_g_attention(g, b.params[0], causal ? 2 : 3, causal);
        break;
    }
    }
    weft_shape ys = g->values[b.y].shape;
    b.probe = weft_g_input(g, "probe", WEFT_F32, ys.ndim, ys.d);
    CHECK_OK(weft_pass_precision(g, p));
    b.loss = weft_g_dot(g, b.y, b.probe);
    CHECK_OK(weft_pass_autodiff(g, b.loss));
    for (int i = 0; i < b.np; i++) g->values[g->values[b.params[i]].grad].keep = true;
    g->values[b.y].keep = true;
    CHECK_OK(weft_pass_plan_memory(g));
    return b;
}

static void feed(built *b, weft_exec *ex)
{
    const weft_value *pv = &b->g->values[b->probe];
    int64_t n = weft_shape_numel(&pv->shape);
    float *r = malloc((size_t)n * sizeof *r);
    weft_rng_key key = weft_rng_key_make(3, 0, 77);
    for (int64_t i = 0; i < n; i++) r[i] = 2.0f * weft_rng_unit(key, (uint32_t)i) - 1.0f;
    CHECK_OK(weft_exec_feed(ex, b->probe, r, WEFT_F32));
    free(r);
    if (b->ids >= 0) {
        int32_t ids[6] = { 3, 0, 10, 3, 7, 3 };   /* repeats accumulate */
        CHECK_OK(weft_exec_feed(ex, b->ids, ids, WEFT_I32));
    }
}

static float run_loss(weft_exec *ex, int loss)
{
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD, .step = 1 };
    CHECK_OK(weft_exec_run(ex, &ro));
    return *(float *)weft_exec_ptr(ex, loss);
}

static void fd_case(const op_case *c)
{
    built b = build(c, WEFT_PREC_FP32);
    weft_store st;
    weft_store_init(&st);
    CHECK_OK(weft_store_bind(&st, b.g, 11));
    weft_exec *ex = NULL;
    CHECK_OK(weft_exec_create(&ex, b.g, &st, 2, 0));
    feed(&b, ex);
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = 1 };
    CHECK_OK(weft_exec_run(ex, &ro));
    double worst = 0;
    float *grads[3];
    for (int i = 0; i < b.np; i++) {   /* all before any forward-only run (see gpt_case) */
        const weft_value *pv = &b.g->values[b.params[i]];
        grads[i] = malloc((size_t)weft_shape_numel(&pv->shape) * sizeof(float));
        CHECK_OK(weft_exec_read(ex, pv->grad, grads[i]));
    }
    for (int i = 0; i < b.np; i++) {
        const weft_value *pv = &b.g->values[b.params[i]];
        int64_t n = weft_shape_numel(&pv->shape);
        float *grad = grads[i], *w = weft_store_find(&st, pv->name)->data;
        double scale = 1e-3;
        for (int64_t e = 0; e < n; e++) scale = fmax(scale, fabs(grad[e]));
        for (int64_t e = 0; e < n; e++) {
            const float h = 1e-2f, w0 = w[e];
            w[e] = w0 + h; double lp = run_loss(ex, b.loss);
            w[e] = w0 - h; double lm = run_loss(ex, b.loss);
            w[e] = w0;
            double fd = (lp - lm) / (2.0 * h), err = fabs(fd - grad[e]) / scale;
            if (err > worst) worst = err;
        }
        free(grad);
    }
    CHECKF(worst < 2e-2, "%s: finite differences differ by %.3g (relative to the largest gradient)", c->name, worst);
    weft_exec_free(ex);
    weft_store_free(&st);
    weft_graph_free(b.g);
}

/* The bf16 path computes the same function with bf16 storage: within a few
 * bf16 ulps (2^-8 relative) of fp32 from the same (bf16-rounded) inputs. */
static void bf16_case(const op_case *c)
{
    built a = build(c, WEFT_PREC_FP32), b = build(c, WEFT_PREC_BF16);
    weft_store sa, sb;
    weft_store_init(&sa); weft_store_init(&sb);
    CHECK_OK(weft_store_bind(&sa, a.g, 11));
    CHECK_OK(weft_store_bind(&sb, b.g, 11));
    for (int i = 0; i < a.np; i++) {   /* fp32 from the bf16 values */
        weft_tensor *ta = weft_store_find(&sa, a.g->values[a.params[i]].name);
        weft_tensor *tb = weft_store_find(&sb, b.g->values[b.params[i]].name);
        weft_bf16_to_f32_n(tb->data, ta->data, weft_shape_numel(&ta->shape));
    }
    weft_exec *ea = NULL, *eb = NULL;
    CHECK_OK(weft_exec_create(&ea, a.g, &sa, 1, 0));
    CHECK_OK(weft_exec_create(&eb, b.g, &sb, 1, 0));
    feed(&a, ea); feed(&b, eb);
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = 1 };
    CHECK_OK(weft_exec_run(ea, &ro));
    CHECK_OK(weft_exec_run(eb, &ro));
    int64_t n = weft_shape_numel(&a.g->values[a.y].shape);
    float *ya = malloc((size_t)n * sizeof *ya), *yb = malloc((size_t)n * sizeof *yb);
    CHECK_OK(weft_exec_read(ea, a.y, ya));
    CHECK_OK(weft_exec_read(eb, b.y, yb));
    double e = test_rel_err(yb, ya, n);
    CHECKF(e < 1.6e-2, "%s: bf16 output differs from fp32 by %.3g", c->name, e);
    free(ya); free(yb);
    weft_exec_free(ea); weft_exec_free(eb);
    weft_store_free(&sa); weft_store_free(&sb);
    weft_graph_free(a.g); weft_graph_free(b.g);
}

/* A whole (tiny) GPT: every parameter's gradient against finite differences
 * of the cross-entropy loss, on a sample of elements per tensor. */
static void gpt_case(void)
{
    weft_graph *g = weft_graph_new();
    weft_model_io io;
    weft_gpt_cfg c = { 11, 2, 2, 8, 5, false, 0, 0, 0, 0, 0, 0 };
    const int B = 2, T = 5;
    CHECK_OK(weft_model_build_gpt(g, &c, B, &io));
    io.loss = weft_g_xent(g, io.logits, io.y);
    CHECK_OK(weft_pass_autodiff(g, io.loss));
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].role == WEFT_ROLE_PARAM) g->values[g->values[v].grad].keep = true;
    CHECK_OK(weft_pass_plan_memory(g));
    weft_store st;
    weft_store_init(&st);
    CHECK_OK(weft_store_bind(&st, g, 5));
    /* Embeddings N(0,1) make the initial logits large; shrink them so the
     * loss is smooth at the finite-difference step. */
    for (int i = 0; i < st.n; i++)
        if (strstr(st.t[i].name, "wte") || strstr(st.t[i].name, "wpe"))
            for (int64_t e = 0; e < weft_shape_numel(&st.t[i].shape); e++) ((float *)st.t[i].data)[e] *= 0.3f;
    weft_exec *ex = NULL;
    CHECK_OK(weft_exec_create(&ex, g, &st, 2, 0));
    int32_t tok[10], pos[10], tgt[10];
    for (int i = 0; i < B * T; i++) { tok[i] = (i * 7 + 3) % 11; pos[i] = i % T; tgt[i] = (i * 5 + 1) % 11; }
    CHECK_OK(weft_exec_feed(ex, io.x, tok, WEFT_I32));
    CHECK_OK(weft_exec_feed(ex, io.pos, pos, WEFT_I32));
    CHECK_OK(weft_exec_feed(ex, io.y, tgt, WEFT_I32));
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = 1 };
    CHECK_OK(weft_exec_run(ex, &ro));
    /* Read every gradient before the finite differences: a forward-only run
     * may reuse the bytes of values that are `keep` only to the end of the
     * backward run. */
    float *grads[64] = { 0 };
    int nparams = 0;
    for (int v = 0; v < g->nvalues && nparams < 64; v++) {
        const weft_value *pv = &g->values[v];
        if (pv->role != WEFT_ROLE_PARAM) continue;
        grads[nparams] = malloc((size_t)weft_shape_numel(&pv->shape) * sizeof(float));
        CHECK_OK(weft_exec_read(ex, pv->grad, grads[nparams]));
        nparams++;
    }
    double worst = 0;
    const char *worst_name = "";
    for (int v = 0, pi = 0; v < g->nvalues && pi < nparams; v++) {
        const weft_value *pv = &g->values[v];
        if (pv->role != WEFT_ROLE_PARAM) continue;
        int64_t n = weft_shape_numel(&pv->shape);
        float *grad = grads[pi++], *w = weft_store_find(&st, pv->name)->data;
        double scale = 1e-4;
        for (int64_t e = 0; e < n; e++) scale = fmax(scale, fabs(grad[e]));
        for (int64_t k = 0; k < 6 && k < n; k++) {
            int64_t e = (k * 7919) % n;
            const float h = 3e-3f, w0 = w[e];
            w[e] = w0 + h; double lp = run_loss(ex, io.loss);
            w[e] = w0 - h; double lm = run_loss(ex, io.loss);
            w[e] = w0;
            double err = fabs((lp - lm) / (2.0 * h) - grad[e]) / scale;
            if (err > worst) { worst = err; worst_name = pv->name; }
        }
        free(grad);
    }
    CHECK(nparams == 2 + 2 * 12 + 2);
    CHECKF(worst < 3e-2, "gpt: finite differences differ by %.3g (%s)", worst, worst_name);
    weft_exec_free(ex);
    weft_store_free(&st);
    weft_graph_free(g);
}

int main(void)
{
    gpt_case();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fd_case(&cases[i]);
        bf16_case(&cases[i]);
    }
    return test_summary();
}
