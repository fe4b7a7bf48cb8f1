/* test_ops.c — every forward op of the graph, run through the whole stack
 * (builder -> precision -> autodiff -> planner -> store -> exec), against
 * PyTorch fixtures (scripts/gen_fixtures.py writes tests/fixtures/ops_*.
 * safetensors) in fp32 and bf16, and every gradient against central finite
 * differences in fp32. One table drives it all: adding an op case is one row
 * here and one entry in OP_CASES of the script.
 *
 * Each case makes the op's float inputs PARAM values (so autodiff gives them
 * gradients), overwrites their store data with the fixture's inputs, and
 * closes the graph with the probe loss dot(y, r), r an INPUT fed from the
 * fixture: the gradient reaching y is r, so the parameters' gradients are
 * those of sum(y * r) — what the fixture holds. xent is its own loss. */
#include "weft/exec.h"
#include "weft/io.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;   /* fixture: ops_<name>.safetensors          */
    weft_op op;
    int nin;            /* float inputs, in the op's input order    */
    int act, stride, pad, k;
    bool bias;
} op_case;

static const op_case cases[] = {
    /* name                op               nin act stride pad k  bias */
    { "linear_bias",       WEFT_OP_LINEAR,  3,  0,  0,     0,  0, true  },
    { "linear_nobias",     WEFT_OP_LINEAR,  2,  0,  0,     0,  0, false },
    { "linear_relu",       WEFT_OP_LINEAR,  3,  1,  0,     0,  0, true  },
    { "add",               WEFT_OP_ADD,     2,  0,  0,     0,  0, false },
    { "relu",              WEFT_OP_RELU,    1,  0,  0,     0,  0, false },
    { "gelu",              WEFT_OP_GELU,    1,  0,  0,     0,  0, false },
    { "conv_s1p1_relu",    WEFT_OP_CONV2D,  3,  1,  1,     1,  0, true  },
    { "conv_s2p0",         WEFT_OP_CONV2D,  3,  0,  2,     0,  0, true  },
    { "conv_s2p1_nobias",  WEFT_OP_CONV2D,  2,  0,  2,     1,  0, false },
    { "maxpool_k2s2",      WEFT_OP_MAXPOOL, 1,  0,  2,     0,  2, false },
    { "maxpool_k3s2",      WEFT_OP_MAXPOOL, 1,  0,  2,     0,  3, false },
    { "reshape",           WEFT_OP_RESHAPE, 1,  0,  0,     0,  0, false },
    { "xent",              WEFT_OP_XENT,    1,  0,  0,     0,  0, false },
};
#define NCASES ((int)(sizeof cases / sizeof *cases))

/* ---- tolerances (max |got - want| / max |want| over the tensor) -------------
 * fp32: weft and the float64 reference differ only by fp32 rounding and the
 * GEMM's summation order: a few ulps of the largest term, ~1e-6 at most. */
#define TOL_F32 1e-5
/* bf16 outputs: the reference is PyTorch in fp32 from the same bf16 inputs,
 * rounded once to bf16 — the same value weft rounds, up to the summation
 * order (~1e-7 relative), so they differ by at most one bf16 ulp where the
 * fp32 sum lands near a rounding boundary. One ulp of the largest element is
 * at most 2^-7 = 0.0078 of the max abs; allow 1e-2 (1.3 ulps). */
#define TOL_BF16_Y 1e-2
/* bf16 gradients: the gradient kernels read bf16 values that were rounded
 * (the relu mask from the rounded output, gelu's x, the upstream r) and
 * round their own output once; a gradient summed over two uses (add) or
 * formed in two rounded stages may be two ulps away: 2.5e-2. */
#define TOL_BF16_GRAD 2.5e-2
/* Finite differences: central, step FD_H on one element at a time, loss in
 * fp32 (~1e-7 relative, i.e. ~5e-4 absolute error on the difference
 * quotient for losses of order 10). The fixture keeps every relu
 * pre-activation >= 5e-3 from zero and max-pool inputs distinct by 1/64, so
 * no step crosses a kink. */
#define FD_H 1e-3f
#define TOL_FD 1e-2
#define FD_SAMPLES 50

/* ---- fixture helpers -------------------------------------------------------- */

/* The tensor "<prefix><base>[<i>]" (no index when i < 0); a failed check when absent. */
static const weft_st_tensor *need(const weft_st_file *f, const char *prefix, const char *base, int i)
{
    char name[128];
    if (i >= 0) snprintf(name, sizeof name, "%s%s%d", prefix, base, i);
    else snprintf(name, sizeof name, "%s%s", prefix, base);
    const weft_st_tensor *t = weft_st_find(f, name);
    CHECKF(t != NULL, "fixture has no tensor '%s'", name);
    return t;
}


/* The tensor as fp32 (F32 copied, BF16 widened exactly); malloc'd. */
static float *st_floats(const weft_st_tensor *t)
{
    int64_t n = test_st_numel(t);
    float *o = malloc((size_t)(n > 0 ? n : 1) * sizeof *o);
    if (!o) abort();
    if (t->dtype == WEFT_F32) memcpy(o, t->data, (size_t)n * sizeof *o);
    else if (t->dtype == WEFT_BF16) weft_bf16_to_f32_n(t->data, o, n);
    else for (int64_t i = 0; i < n; i++) o[i] = (float)((const int32_t *)t->data)[i];
    return o;
}


static int meta_int(const weft_st_file *f, const char *key)
{
    const char *v = weft_st_meta(f, key);
    return v ? atoi(v) : -1;
}

/* ---- one case, one policy ---------------------------------------------------- */

typedef struct { double y, grad[3], fd[3]; int fd_n[3]; } case_err;

static int build_op(weft_graph *g, const op_case *c, const int *p, int labels, const weft_st_tensor *y)
{
    switch (c->op) {
    case WEFT_OP_LINEAR:  return weft_g_linear(g, p[0], p[1], c->bias ? p[2] : -1, c->act);
    case WEFT_OP_ADD:     return weft_g_add(g, p[0], p[1]);
    case WEFT_OP_RELU:    return weft_g_relu(g, p[0]);
    case WEFT_OP_GELU:    return weft_g_gelu(g, p[0]);
    case WEFT_OP_CONV2D:  return weft_g_conv2d(g, p[0], p[1], c->bias ? p[2] : -1, c->stride, c->pad, c->act);
    case WEFT_OP_MAXPOOL: return weft_g_maxpool(g, p[0], c->k, c->stride);
    case WEFT_OP_RESHAPE: return weft_g_reshape(g, p[0], y->ndim, y->dims);
    case WEFT_OP_XENT:    return weft_g_xent(g, p[0], labels);
    default:              return -1;
    }
}

static float run_loss(weft_exec *ex, int loss)
{
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD };
    float l = NAN;
    if (weft_exec_run(ex, &ro) == WEFT_OK) weft_exec_read(ex, loss, &l);
    return l;
}

/* Central differences of the loss w.r.t. up to FD_SAMPLES elements of each
 * input, against the analytic gradient; error relative to max |analytic|. */
static void finite_differences(weft_exec *ex, weft_store *st, const weft_graph *g, const op_case *c,
                               const int *pid, int loss, const float *const *grads, case_err *e)
{
    for (int i = 0; i < c->nin; i++) {
        weft_tensor *t = weft_store_find(st, g->values[pid[i]].name);
        float *w = t->data;
        int64_t n = weft_shape_numel(&t->shape);
        int64_t m = n < FD_SAMPLES ? n : FD_SAMPLES;
        double num = 0, den = 0;
        for (int64_t j = 0; j < n; j++) if (fabs(grads[i][j]) > den) den = fabs(grads[i][j]);
        for (int64_t s = 0; s < m; s++) {
            int64_t j = n <= FD_SAMPLES ? s : (s * 7919) % n;  /* 7919 is prime: distinct */
            float w0 = w[j];
            w[j] = w0 + FD_H;
            double lp = run_loss(ex, loss);
            w[j] = w0 - FD_H;
            double lm = run_loss(ex, loss);
            w[j] = w0;
            /* the step actually taken, in fp32 */
            double h2 = (double)(w0 + FD_H) - (double)(w0 - FD_H);
            double d = fabs((lp - lm) / h2 - grads[i][j]);
            if (!(d <= num)) num = isnan(d) ? INFINITY : d;
        }
        e->fd[i] = num / (den > 0 ? den : 1.0);
        e->fd_n[i] = (int)m;
    }
}

static void run_case(const op_case *c, const weft_st_file *f, weft_precision prec, case_err *e)
{
    const bool bf = prec != WEFT_PREC_FP32;
    const char *pre = bf ? "bf16." : "";
    const weft_dtype dt = bf ? WEFT_BF16 : WEFT_F32;
    const bool is_loss = c->op == WEFT_OP_XENT;
    const char *tag = bf ? "bf16" : "fp32";
    e->y = INFINITY;
    for (int i = 0; i < 3; i++) { e->grad[i] = e->fd[i] = INFINITY; e->fd_n[i] = 0; }

    const weft_st_tensor *in[3] = { 0 }, *gt[3] = { 0 }, *yt, *rt = NULL, *lt = NULL;
    for (int i = 0; i < c->nin; i++) {
        in[i] = need(f, pre, "in", i);
        gt[i] = need(f, pre, "grad", i);
        if (!in[i] || !gt[i]) return;
        CHECKF(in[i]->dtype == dt, "%s %s: in%d has dtype %d", c->name, tag, i, (int)in[i]->dtype);
    }
    yt = need(f, pre, "y", -1);
    if (!is_loss) rt = need(f, pre, "r", -1);
    if (is_loss) lt = need(f, "", "labels", -1);
    if (!yt || (!is_loss && !rt) || (is_loss && !lt)) return;

    weft_graph *g = weft_graph_new();
    if (!g) abort();
    int pid[3] = { -1, -1, -1 }, labels = -1, r = -1, loss;
    for (int i = 0; i < c->nin; i++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        pid[i] = weft_g_param(g, name, in[i]->ndim, in[i]->dims, 0.0f);
    }
    if (is_loss) labels = weft_g_input(g, "labels", WEFT_I32, lt->ndim, lt->dims);
    int y = build_op(g, c, pid, labels, yt);
    if (is_loss) loss = y;
    else {
        r = weft_g_input(g, "r", WEFT_F32, rt->ndim, rt->dims);
        loss = weft_g_dot(g, y, r);
    }
    weft_store st;
    weft_store_init(&st);
    weft_exec *ex = NULL;
    float *got = NULL, *want = NULL, *grads[3] = { 0 };
    weft_status s = weft_graph_status(g);
    if (!s) s = weft_pass_precision(g, prec);
    if (!s) s = weft_pass_autodiff(g, loss);
    if (!s) {
        /* The test reads y and the gradients after the run: keep them. */
        g->values[y].keep = true;
        for (int i = 0; i < c->nin; i++) g->values[g->values[pid[i]].grad].keep = true;
        s = weft_graph_verify(g);
    }
    if (!s) s = weft_pass_plan_memory(g);
    if (!s) s = weft_store_bind(&st, g, 1);
    for (int i = 0; i < c->nin && !s; i++) {
        weft_tensor *t = weft_store_find(&st, g->values[pid[i]].name);
        if (!t || t->dtype != in[i]->dtype || t->nbytes != in[i]->nbytes)
            s = weft_fail(WEFT_ERR_SHAPE, "%s %s: store tensor in%d does not match the fixture", c->name, tag, i);
        else memcpy(t->data, in[i]->data, t->nbytes);
    }
    if (!s) s = weft_exec_create(&ex, g, &st, 1, 1);
    /* graph.h: a view (reshape) shares its base's bytes. Running with a view
     * pointing elsewhere would write out of bounds, so stop here. */
    for (int v = 0; v < g->nvalues && !s; v++)
        if (g->values[v].alias_of >= 0 && weft_exec_ptr(ex, v) != weft_exec_ptr(ex, g->values[v].alias_of))
            s = weft_fail(WEFT_ERR_INTERNAL, "view %s of %s (%s) does not share its bytes (%p, base %p)",
                          g->values[v].name, g->values[g->values[v].alias_of].name,
                          g->values[g->values[v].alias_of].role == WEFT_ROLE_PARAM ? "a parameter" : "arena",
                          weft_exec_ptr(ex, v), weft_exec_ptr(ex, g->values[v].alias_of));
    if (!s && rt) s = weft_exec_feed(ex, r, rt->data, rt->dtype);
    if (!s && lt) s = weft_exec_feed(ex, labels, lt->data, WEFT_I32);
    if (!s) {
        weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = 1 };
        s = weft_exec_run(ex, &ro);
    }
    CHECKF(s == WEFT_OK, "%s %s: %s: %s", c->name, tag, weft_status_name(s), weft_errmsg());
    if (s) goto done;

    int64_t ny = weft_shape_numel(&g->values[y].shape);
    CHECKF(ny == test_st_numel(yt), "%s %s: y has %lld elements, the fixture %lld", c->name, tag,
           (long long)ny, (long long)test_st_numel(yt));
    if (ny != test_st_numel(yt)) goto done;
    got = malloc((size_t)ny * sizeof *got);
    if (!got) abort();
    weft_exec_read(ex, y, got);
    want = st_floats(yt);
    e->y = test_rel_err(got, want, ny);
    for (int i = 0; i < c->nin; i++) {
        int gv = g->values[pid[i]].grad;
        int64_t n = weft_shape_numel(&g->values[gv].shape);
        CHECKF(n == test_st_numel(gt[i]), "%s %s: grad%d has %lld elements", c->name, tag, i, (long long)n);
        if (n != test_st_numel(gt[i])) goto done;
        grads[i] = malloc((size_t)n * sizeof *grads[i]);
        if (!grads[i]) abort();
        weft_exec_read(ex, gv, grads[i]);
        float *gw = st_floats(gt[i]);
        e->grad[i] = test_rel_err(grads[i], gw, n);
        free(gw);
    }
    if (!bf) finite_differences(ex, &st, g, c, pid, loss, (const float *const *)grads, e);

    double ty = bf ? TOL_BF16_Y : TOL_F32, tg = bf ? TOL_BF16_GRAD : TOL_F32;
    CHECKF(e->y <= ty, "%s %s: y error %.3g > %.3g", c->name, tag, e->y, ty);
    for (int i = 0; i < c->nin; i++) {
        CHECKF(e->grad[i] <= tg, "%s %s: grad of in%d error %.3g > %.3g", c->name, tag, i, e->grad[i], tg);
        if (!bf) CHECKF(e->fd[i] <= TOL_FD, "%s fp32: finite differences of in%d: error %.3g > %.3g",
                        c->name, i, e->fd[i], TOL_FD);
    }
done:
    free(got); free(want);
    for (int i = 0; i < 3; i++) free(grads[i]);
    weft_exec_free(ex);
    weft_store_free(&st);
    weft_graph_free(g);
}

/* The fixture's metadata must describe the same case as the table row. */
static bool same_case(const op_case *c, const weft_st_file *f)
{
    const char *op = weft_st_meta(f, "op");
    bool ok = op && strcmp(op, weft_op_name(c->op)) == 0 && meta_int(f, "act") == c->act &&
              meta_int(f, "bias") == (int)c->bias && meta_int(f, "stride") == c->stride &&
              meta_int(f, "pad") == c->pad && meta_int(f, "k") == c->k;
    CHECKF(ok, "ops_%s.safetensors: metadata (op %s) does not match the table row "
           "(regenerate with `make fixtures`)", c->name, op ? op : "?");
    return ok;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("%-18s %-4s %-9s %-29s %s\n", "case", "prec", "y", "grads (max err / max abs)", "finite differences");
    for (int ci = 0; ci < NCASES; ci++) {
        const op_case *c = &cases[ci];
        char path[512];
        snprintf(path, sizeof path, "%s/ops_%s.safetensors", test_fixture_dir(), c->name);
        weft_st_file f;
        weft_status s = weft_st_read(path, &f);
        CHECKF(s == WEFT_OK, "%s", weft_errmsg());
        if (s) continue;
        if (same_case(c, &f)) {
            for (int pi = 0; pi < 2; pi++) {
                weft_precision p = pi ? WEFT_PREC_BF16 : WEFT_PREC_FP32;
                case_err e;
                run_case(c, &f, p, &e);
                char gs[64] = "", fs[64] = "";
                size_t k = 0, kf = 0;
                for (int i = 0; i < c->nin; i++) {
                    k += (size_t)snprintf(gs + k, sizeof gs - k, " %.2e", e.grad[i]);
                    if (!pi) kf += (size_t)snprintf(fs + kf, sizeof fs - kf, " %.2e(%d)", e.fd[i], e.fd_n[i]);
                }
                printf("%-18s %-4s %.2e %-29s%s\n", c->name, pi ? "bf16" : "fp32", e.y, gs, fs);
            }
        }
        weft_st_free(&f);
    }
    return test_summary();
}
