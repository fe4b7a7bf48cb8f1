/* test_graph.c — the graph IR and its passes: shape inference errors, the
 * verifier, the precision pass, autodiff's structure, the optimizer pass,
 * and the memory planner (no two values live at once share a byte). */
#include "test_util.h"
#include "weft/graph.h"
#include "weft/exec.h"
#include "weft/models.h"

#include <string.h>

static int find(const weft_graph *g, const char *name)
{
    for (int v = 0; v < g->nvalues; v++) if (!strcmp(g->values[v].name, name)) return v;
    return -1;
}

static void test_shape_errors(void)
{
    weft_graph *g = weft_graph_new();
    int64_t xd[2] = { 8, 10 }, wd[2] = { 4, 12 };
    int x = weft_g_input(g, "x", WEFT_F32, 2, xd);
    int w = weft_g_param(g, "w", 2, wd, 0.1f);
    int y = weft_g_linear(g, x, w, -1, 0);
    CHECK(y == -1);
    CHECK(weft_graph_status(g) == WEFT_ERR_SHAPE);
    CHECKF(strstr(weft_errmsg(), "linear") && strstr(weft_errmsg(), "w") && strstr(weft_errmsg(), "[4,12]"),
           "message: %s", weft_errmsg());
    /* Sticky: later calls fail too and keep the first message. */
    CHECK(weft_g_relu(g, x) == -1);
    CHECK(strstr(g->errmsg, "linear") != NULL);
    weft_graph_free(g);

    g = weft_graph_new();
    int64_t id[4] = { 2, 3, 5, 5 }, cw[4] = { 4, 2, 3, 3 };
    x = weft_g_input(g, "img", WEFT_F32, 4, id);
    w = weft_g_param(g, "cw", 4, cw, 0.1f);
    CHECK(weft_g_conv2d(g, x, w, -1, 1, 1, 0) == -1);
    CHECKF(strstr(weft_errmsg(), "channels") != NULL, "message: %s", weft_errmsg());
    weft_graph_free(g);

    g = weft_graph_new();
    x = weft_g_input(g, "img", WEFT_F32, 4, id);
    int64_t rd[2] = { 2, 77 };
    CHECK(weft_g_reshape(g, x, 2, rd) == -1);
    CHECKF(strstr(weft_errmsg(), "150") && strstr(weft_errmsg(), "154"), "message: %s", weft_errmsg());
    weft_graph_free(g);

    g = weft_graph_new();
    int64_t ld[2] = { 4, 10 }, lb[1] = { 5 };
    x = weft_g_input(g, "logits", WEFT_F32, 2, ld);
    int l = weft_g_input(g, "labels", WEFT_I32, 1, lb);
    CHECK(weft_g_xent(g, x, l) == -1);
    CHECKF(strstr(weft_errmsg(), "labels") != NULL, "message: %s", weft_errmsg());
    weft_graph_free(g);
}

/* ---- the general math ops: inferred shapes, and bad ones refused with a
 * message naming the op and the shapes ---- */

static weft_graph *two_inputs(int na, const int64_t *a, weft_dtype tb, int nb, const int64_t *b, int *x, int *y)
{
    weft_graph *g = weft_graph_new();
    *x = weft_g_input(g, "a", WEFT_F32, na, a);
    *y = weft_g_input(g, "b", tb, nb, b);
    return g;
}

/* y must be -1 and the message hold every needle given. */
static void refused(weft_graph *g, int y, const char *n1, const char *n2, const char *n3)
{
    const char *m = weft_errmsg();
    CHECKF(y == -1 && weft_graph_status(g) == WEFT_ERR_SHAPE && strstr(m, n1) && (!n2 || strstr(m, n2)) &&
           (!n3 || strstr(m, n3)), "%s: y %d, message: %s", n1, y, m);
    weft_graph_free(g);
}

static void inferred(weft_graph *g, int y, const char *want)
{
    char sb[64];
    CHECKF(y >= 0 && !strcmp(weft_shape_str(&g->values[y].shape, sb, sizeof sb), want),
           "inferred %s, want %s (%s)", y >= 0 ? sb : "-", want, weft_errmsg());
    weft_graph_free(g);
}

static void test_math_shapes(void)
{
    const int64_t d234[3] = { 2, 3, 4 }, d24[2] = { 2, 4 }, d34[2] = { 3, 4 }, d256[3] = { 2, 5, 6 };
    const int64_t d345[3] = { 3, 4, 5 }, d243[3] = { 2, 4, 3 }, d54[2] = { 5, 4 }, d5[1] = { 5 };
    const int64_t d2245[4] = { 2, 2, 4, 5 }, d2345[4] = { 2, 3, 4, 5 }, d23[2] = { 2, 3 };
    int a, b;
    weft_graph *g = two_inputs(3, d234, WEFT_F32, 2, d24, &a, &b);
    refused(g, weft_g_mul(g, a, b), "mul: input 1 (b, f32 [2,4])", "[2,3,4] or its trailing dims", NULL);
    g = two_inputs(2, d34, WEFT_F32, 3, d234, &a, &b);
    refused(g, weft_g_add(g, a, b), "add: input 1 (b, f32 [2,3,4])", "[3,4]", NULL);
    g = two_inputs(3, d234, WEFT_BF16, 2, d34, &a, &b);
    refused(g, weft_g_mul(g, a, b), "mul: input 1", "dtype", NULL);
    g = two_inputs(3, d234, WEFT_F32, 3, d256, &a, &b);
    refused(g, weft_g_matmul(g, a, b, false, false), "matmul: inner dims", "K = 4", "K = 5");
    g = two_inputs(3, d234, WEFT_F32, 3, d345, &a, &b);
    refused(g, weft_g_matmul(g, a, b, false, false), "matmul: the batch dims", "[3,4,5]", NULL);
    g = two_inputs(3, d234, WEFT_F32, 1, d5, &a, &b);
    refused(g, weft_g_matmul(g, a, b, false, false), "matmul: input 1 (b, f32 [5])", "2 to 4", NULL);
    g = two_inputs(2, d23, WEFT_F32, 1, d5, &a, &b);
    refused(g, weft_g_sum_lead(g, a, 2), "sum_lead: 2 leading dims of a ([2,3])", "between 1 and 1", NULL);
    g = two_inputs(3, d234, WEFT_F32, 1, d5, &a, &b);
    refused(g, weft_g_where(g, a, b, 0.0f), "where: input 1 (b, f32 [5])", "[2,3,4]", NULL);
    g = two_inputs(3, d234, WEFT_F32, 2, d34, &a, &b);
    refused(g, weft_g_where(g, a, b, NAN), "where: the fill value is NaN", NULL, NULL);
    g = two_inputs(3, d234, WEFT_I32, 2, d34, &a, &b);
    refused(g, weft_g_where(g, a, b, 0.0f), "where: input 1", "f32 or bf16", NULL);
    g = two_inputs(3, d234, WEFT_F32, 2, d34, &a, &b);
    refused(g, weft_g_scale(g, a, INFINITY, 0.0f), "scale: alpha inf", "finite", NULL);

    g = two_inputs(3, d243, WEFT_F32, 2, d54, &a, &b);
    inferred(g, weft_g_matmul(g, a, b, true, true), "[2,3,5]");
    g = two_inputs(2, d34, WEFT_F32, 4, d2245, &a, &b);
    inferred(g, weft_g_matmul(g, a, b, false, false), "[2,2,3,5]");
    g = two_inputs(4, d2345, WEFT_F32, 1, d5, &a, &b);
    inferred(g, weft_g_sum_lead(g, a, 2), "[4,5]");
    /* a mask need not share x's dtype: an f32 constant beside bf16 activations */
    g = weft_graph_new();
    a = weft_g_input(g, "x", WEFT_BF16, 3, d234);
    b = weft_g_value(g, "mask", WEFT_ROLE_STATE, WEFT_F32, &(weft_shape){ 2, { 3, 4 } });
    int y = weft_g_where(g, a, b, -INFINITY);
    CHECK(y >= 0 && g->values[y].dtype == WEFT_BF16);
    weft_graph_free(g);

    /* the dump shows the new attributes; the names parse back */
    g = two_inputs(3, d243, WEFT_F32, 2, d54, &a, &b);
    CHECK(weft_g_matmul(g, a, b, true, true) >= 0);
    weft_g_scale(g, a, -1.5f, 0.25f);
    weft_g_where(g, a, a, -INFINITY);
    weft_g_sum_lead(g, a, 2);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    weft_graph_dump(g, f);
    fclose(f);
    CHECKF(strstr(text, "matmul(%0, %1)") && strstr(text, "ta=1 tb=1") && strstr(text, "alpha=-1.5 beta=0.25") &&
           strstr(text, "fill=-inf") && strstr(text, "nlead=2"), "dump:\n%s", text);
    free(text);
    weft_graph_free(g);
    static const char *const names[] = { "mul", "scale", "matmul", "erf", "where", "sum_lead", "sum_lead_bwd" };
    static const weft_op ops[] = { WEFT_OP_MUL, WEFT_OP_SCALE, WEFT_OP_MATMUL, WEFT_OP_ERF, WEFT_OP_WHERE,
                                   WEFT_OP_SUM_LEAD, WEFT_OP_SUM_LEAD_BWD };
    for (int i = 0; i < 7; i++) {
        weft_op op;
        CHECKF(weft_op_parse(names[i], &op) && op == ops[i] && !strcmp(weft_op_name(ops[i]), names[i]),
               "op name %s", names[i]);
    }
}

static weft_graph *train_graph(const char *model, weft_precision p, weft_optimizer o, weft_model_io *io)
{
    weft_graph *g = weft_graph_new();
    CHECK_OK(weft_model_build(g, model, 4, io));
    CHECK_OK(weft_pass_precision(g, p));
    CHECK_OK(weft_pass_autodiff(g, io->loss));
    CHECK_OK(weft_pass_optimizer(g, o));
    CHECK_OK(weft_graph_verify(g));
    CHECK_OK(weft_pass_plan_memory(g));
    return g;
}

static void test_passes(void)
{
    weft_model_io io;
    for (int p = 0; p < WEFT_PREC_COUNT; p++) {
        weft_graph *g = train_graph("cnn", (weft_precision)p, WEFT_OPT_SGD, &io);
        bool bf = weft_precision_bf16_compute((weft_precision)p);
        int w = find(g, "conv1.weight");
        CHECK(w >= 0);
        CHECK(g->values[w].role == WEFT_ROLE_PARAM);
        CHECK(g->values[w].dtype == (p == WEFT_PREC_FP32 || p == WEFT_PREC_MIXED ? WEFT_F32 : WEFT_BF16));
        CHECK(g->values[io.x].dtype == (bf ? WEFT_BF16 : WEFT_F32));
        CHECK(g->values[io.y].dtype == WEFT_I32);
        CHECK(g->values[io.loss].dtype == WEFT_F32);
        CHECK(g->values[io.logits].dtype == (bf ? WEFT_BF16 : WEFT_F32));
        /* Every parameter has a gradient of its own dtype and one update node. */
        int nparam = 0, nupd = 0;
        for (int v = 0; v < g->nvalues; v++) {
            if (g->values[v].role != WEFT_ROLE_PARAM) continue;
            nparam++;
            int gv = g->values[v].grad;
            CHECK(gv >= 0 && weft_shape_eq(&g->values[gv].shape, &g->values[v].shape));
            CHECK(gv >= 0 && g->values[gv].dtype == g->values[v].dtype);
        }
        for (int i = 0; i < g->nnodes; i++) nupd += g->nodes[i].op == WEFT_OP_SGD;
        CHECK(nparam == 8 && nupd == 8);
        /* Mixed: one cast per parameter at the head of the graph. */
        int ncast = 0;
        for (int i = 0; i < g->nnodes; i++) ncast += g->nodes[i].op == WEFT_OP_CAST && g->nodes[i].phase == WEFT_PHASE_FWD;
        CHECK(ncast == (p == WEFT_PREC_MIXED ? 8 : 0));
        if (p == WEFT_PREC_MIXED) CHECK(g->nodes[0].op == WEFT_OP_CAST && find(g, "conv1.weight.bf16") >= 0);
        /* Kahan gets a compensation buffer per weight. */
        CHECK((find(g, "fc1.weight.kahan_comp") >= 0) == (p == WEFT_PREC_BF16_KAHAN));
        CHECK(find(g, "fc1.weight.momentum") >= 0);
        weft_graph_free(g);
    }
    weft_graph *g = train_graph("mlp", WEFT_PREC_BF16, WEFT_OPT_ADAMW, &io);
    CHECK(find(g, "fc2.bias.exp_avg") >= 0 && find(g, "fc2.bias.exp_avg_sq") >= 0);
    CHECK(weft_graph_param_count(g) == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
    /* The dump names ops and values. */
    char *buf = NULL; size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    weft_graph_dump(g, f);
    fclose(f);
    CHECK(strstr(buf, "linear_bwd_weight") && strstr(buf, "adamw") && strstr(buf, "fc1.weight.grad"));
    CHECK(strstr(buf, "arena:") != NULL);
    free(buf);
    weft_graph_free(g);
}

static void test_verifier(void)
{
    weft_model_io io;
    weft_graph *g = train_graph("mlp", WEFT_PREC_FP32, WEFT_OPT_SGD, &io);
    /* Corrupt a shape: the verifier names the value. */
    int v = g->nodes[2].out[0];
    g->values[v].shape.d[1] += 1;
    CHECK(weft_graph_verify(g) == WEFT_ERR_SHAPE);
    CHECKF(strstr(weft_errmsg(), g->values[v].name) != NULL, "message: %s", weft_errmsg());
    g->values[v].shape.d[1] -= 1;
    CHECK_OK(weft_graph_verify(g));
    /* A node reading a value produced later. */
    weft_node saved = g->nodes[1];
    g->nodes[1].in[0] = g->nodes[3].out[0];
    CHECK(weft_graph_verify(g) != WEFT_OK);
    g->nodes[1] = saved;
    /* A wrong dtype. */
    g->values[v].dtype = WEFT_BF16;
    CHECK(weft_graph_verify(g) == WEFT_ERR_SHAPE);
    weft_graph_free(g);
}

/* No two arena values whose lives overlap may share a byte. */
static void test_planner(void)
{
    const char *models[] = { "mlp", "cnn" };
    for (int m = 0; m < 2; m++) {
        weft_model_io io;
        weft_graph *g = train_graph(models[m], WEFT_PREC_BF16_SR, WEFT_OPT_SGD, &io);
        int nv = g->nvalues;
        int64_t *st = calloc((size_t)nv, sizeof *st), *en = calloc((size_t)nv, sizeof *en);
        int64_t sum = 0;
        for (int v = 0; v < nv; v++) {
            st[v] = g->values[v].producer;
            en[v] = g->values[v].keep || g->values[v].role == WEFT_ROLE_INPUT ? g->nnodes : st[v];
        }
        for (int i = 0; i < g->nnodes; i++)
            for (int k = 0; k < g->nodes[i].nin; k++) {
                int r = g->nodes[i].in[k];
                while (g->values[r].alias_of >= 0) { if (en[r] < i) en[r] = i; r = g->values[r].alias_of; }
                if (en[r] < i) en[r] = i;
            }
        int bad = 0;
        for (int a = 0; a < nv; a++) {
            const weft_value *x = &g->values[a];
            if (x->offset < 0 || x->alias_of >= 0) continue;
            int64_t sa = weft_shape_numel(&x->shape) * (int64_t)weft_dtype_size(x->dtype);
            sum += sa;
            CHECK(x->offset + sa <= g->arena_bytes);
            for (int b = a + 1; b < nv; b++) {
                const weft_value *y = &g->values[b];
                if (y->offset < 0 || y->alias_of >= 0) continue;
                int64_t sb = weft_shape_numel(&y->shape) * (int64_t)weft_dtype_size(y->dtype);
                bool live = st[a] <= en[b] && st[b] <= en[a];
                bool overlap = x->offset < y->offset + sb && y->offset < x->offset + sa;
                if (live && overlap) bad++;
            }
        }
        CHECKF(bad == 0, "%s: %d pairs of live values share bytes", models[m], bad);
        CHECKF(g->arena_bytes < sum, "%s: arena %lld not below the sum %lld", models[m],
               (long long)g->arena_bytes, (long long)sum);
        free(st); free(en);
        weft_graph_free(g);
    }
}

static void test_store(void)
{
    weft_model_io io;
    weft_graph *a = train_graph("mlp", WEFT_PREC_FP32, WEFT_OPT_SGD, &io);
    weft_graph *b = train_graph("mlp", WEFT_PREC_BF16, WEFT_OPT_SGD, &io);
    weft_store sa, sb;
    weft_store_init(&sa); weft_store_init(&sb);
    CHECK_OK(weft_store_bind(&sa, a, 7));
    CHECK_OK(weft_store_bind(&sb, b, 7));
    weft_tensor *ta = weft_store_find(&sa, "fc1.weight"), *tb = weft_store_find(&sb, "fc1.weight");
    CHECK(ta && tb && ta->dtype == WEFT_F32 && tb->dtype == WEFT_BF16);
    /* Same seed: the bf16 weights are the fp32 ones rounded once. */
    int same = 0;
    float bound = 0;
    for (int i = 0; i < 784 * 256; i++) {
        float x = ((float *)ta->data)[i];
        same += weft_bf16_from_f32(x) == ((weft_bf16 *)tb->data)[i];
        if (fabsf(x) > bound) bound = fabsf(x);
    }
    CHECK(same == 784 * 256);
    CHECK(bound <= 1.0f / sqrtf(784.0f) && bound > 0.9f / sqrtf(784.0f));
    weft_tensor *m = weft_store_find(&sa, "fc1.weight.momentum");
    CHECK(m && ((float *)m->data)[0] == 0.0f);
    /* A store bound to one graph refuses a mismatching one. */
    CHECK(weft_store_bind(&sa, b, 7) == WEFT_ERR_SHAPE);
    weft_store_free(&sa); weft_store_free(&sb);
    weft_graph_free(a); weft_graph_free(b);
}

/* dot(p, q): each parameter's gradient is the other one. The updates must
 * read the values from before either update (a snapshot), not the new ones. */
static void test_param_as_gradient(void)
{
    weft_graph *g = weft_graph_new();
    int64_t d[1] = { 3 };
    int p = weft_g_param(g, "p", 1, d, 0.1f), q = weft_g_param(g, "q", 1, d, 0.1f);
    int loss = weft_g_dot(g, p, q);
    CHECK_OK(weft_pass_autodiff(g, loss));
    CHECK_OK(weft_pass_optimizer(g, WEFT_OPT_SGD));
    weft_store st;
    weft_store_init(&st);
    CHECK_OK(weft_store_bind(&st, g, 1));
    for (int i = 0; i < 3; i++) {
        ((float *)weft_store_find(&st, "p")->data)[i] = 1.0f;
        ((float *)weft_store_find(&st, "q")->data)[i] = 2.0f;
    }
    weft_exec *ex = NULL;
    CHECK_OK(weft_exec_create(&ex, g, &st, 1, 0));
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD | WEFT_PHASE_UPDATE, .step = 1,
                         .hp = { .lr = 0.1f } };
    CHECK_OK(weft_exec_run(ex, &ro));
    CHECK_NEAR(((float *)weft_store_find(&st, "p")->data)[0], 1.0f - 0.1f * 2.0f, 1e-6);
    CHECK_NEAR(((float *)weft_store_find(&st, "q")->data)[0], 2.0f - 0.1f * 1.0f, 1e-6);
    weft_exec_free(ex);
    weft_store_free(&st);
    weft_graph_free(g);

    /* A unit reads one precision: mixing a bf16 input with an fp32 weight is refused. */
    g = weft_graph_new();
    int64_t xd[2] = { 2, 3 }, wd[2] = { 4, 3 };
    int x = weft_g_input(g, "x", WEFT_BF16, 2, xd);
    int w = weft_g_param(g, "w", 2, wd, 0.1f);
    CHECK(weft_g_linear(g, x, w, -1, 0) == -1);
    CHECKF(strstr(weft_errmsg(), "dtype") != NULL, "message: %s", weft_errmsg());
    weft_graph_free(g);
}

int main(void)
{
    test_param_as_gradient();
    test_shape_errors();
    test_math_shapes();
    test_passes();
    test_verifier();
    test_planner();
    test_store();
    return test_summary();
}
