/* test_onnx_train.c — fine-tuning an imported ONNX model matches PyTorch.
 *
 * scripts/onnx_train_fixture.py exports a small MLP (with a bare x @ W: an
 * ONNX MatMul whose weight weft holds transposed), a small CNN and a tiny
 * byte-level language model (Gather, a Gemm on (B*T, d) rows, logits
 * (B, T, 256)) with do_constant_folding=False, and writes a batch, PyTorch's
 * cross-entropy loss, logits, every initializer's gradient and the weights
 * after one SGD step (lr from the file's metadata, no momentum), computed
 * in float64 from the exported float32 weights.
 *
 * Here each is imported, weft_onnx_attach_xent puts the loss on its output
 * (the LM's (B, T, V) read as (B*T, V) rows), and one step runs in weft:
 * loss, logits and gradients are compared (by ONNX initializer name, the
 * transpose undone), then the updated weights as weft_onnx_write_weights
 * writes them back (names and layouts of the file) — so the write-back is
 * checked too.
 *
 * Tolerances, relative to the largest |value| of each tensor:
 * fp32: 1e-5. Measured: loss exact, logits <= 3e-7, gradients <= 5e-7,
 * updated weights <= 1.1e-7 (a few ulps of the sums).
 * bf16-sr, against the same float64 reference (not a rounded twin; the
 * zoo's test_models checks bf16 op by op against one): every tensor in
 * memory is bf16 (2^-8 relative), the batch and weights are rounded before
 * the first op and each layer adds its own rounding. Allowed: loss 2e-3
 * relative, logits 2e-2, gradients 0.15 of their largest value (the CNN's
 * first convolution's weight gradient sums 4x28x28 products of bf16
 * gradients that largely cancel), updated weights 2^-7 + 2^-9 of their
 * largest value (rounded once to nearest, then stochastically: at most an
 * ulp) plus lr times the gradient's allowance. Measured: loss <= 1.9e-4,
 * logits <= 6.7e-3, gradients <= 4.6e-3 but that convolution's 9.1e-2,
 * updated weights <= 9e-3. */
#include "test_util.h"
#include "weft/exec.h"
#include "weft/onnx_train.h"
#include "graph/ops.h"   /* weft_sparse_rows */

#include <string.h>
#include <unistd.h>

#define TOL_F32 1e-5
#define TOL_BF16_LOSS 2e-3
#define TOL_BF16_LOGITS 2e-2
#define TOL_BF16_GRAD 0.15
#define TOL_BF16_WEIGHT (1.0 / 128 + 1.0 / 512)

static const char *fixtures(void)
{
    const char *d = getenv("WEFT_FIXTURES");
    return d ? d : "tests/fixtures";
}

/* max |got - want| / max |want| over n floats. */
static double rel_err(const float *got, const float *want, int64_t n)
{
    double e = 0, big = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= e)) e = d;   /* NaN counts as the worst */
        if (fabs((double)want[i]) > big) big = fabs((double)want[i]);
    }
    return e / (big > 0 ? big : 1);
}

static int64_t st_numel(const weft_st_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->dims[d];
    return n;
}

/* The fixture's float tensor `name` of n values, or NULL (a failed check). */
static const float *want_f32(const weft_st_file *f, const char *name, int64_t n)
{
    const weft_st_tensor *t = weft_st_find(f, name);
    CHECKF(t && t->dtype == WEFT_F32 && st_numel(t) == n, "fixture: %s missing or not %lld floats", name, (long long)n);
    return t && t->dtype == WEFT_F32 && st_numel(t) == n ? t->data : NULL;
}

typedef struct {
    weft_onnx m;
    weft_onnx_loss l;
    weft_store st;
    weft_exec *ex;
} run;

/* Imports, attaches the loss, precision -> autodiff (gradients kept) ->
 * SGD -> plan, the file's weights, and the fixture's batch fed. */
static weft_status setup(run *r, const char *path, const weft_st_file *f, weft_precision p)
{
    memset(r, 0, sizeof *r);
    weft_store_init(&r->st);
    const weft_st_tensor *x = weft_st_find(f, "x"), *y = weft_st_find(f, "labels");
    if (!x || !y || x->ndim < 1) return weft_fail(WEFT_ERR_FORMAT, "fixture: no x or labels");
    WEFT_TRY(weft_onnx_import(path, (int)x->dims[0], &r->m));
    WEFT_TRY(weft_onnx_attach_xent(&r->m, &r->l));
    weft_graph *g = r->m.g;
    WEFT_TRY(weft_pass_precision(g, p));
    WEFT_TRY(weft_pass_autodiff(g, r->l.loss));
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].role == WEFT_ROLE_PARAM) {
            int gv = g->values[v].grad, rows = weft_sparse_rows(g, gv);
            g->values[gv].keep = true;
            if (rows >= 0) g->values[rows].keep = true;
        }
    WEFT_TRY(weft_pass_optimizer(g, WEFT_OPT_SGD));
    WEFT_TRY(weft_graph_verify(g));
    WEFT_TRY(weft_pass_plan_memory(g));
    WEFT_TRY(weft_store_bind(&r->st, g, 1));
    WEFT_TRY(weft_onnx_fill_store(&r->m, &r->st));
    WEFT_TRY(weft_exec_create(&r->ex, g, &r->st, 1, 1));
    WEFT_TRY(weft_exec_feed(r->ex, r->m.inputs[0], x->data, x->dtype));
    return weft_exec_feed(r->ex, r->l.labels, y->data, WEFT_I32);
}

static void teardown(run *r)
{
    weft_exec_free(r->ex);
    weft_store_free(&r->st);
    weft_onnx_free(&r->m);
}

/* Parameter i's gradient in the file's layout (a sparse one scattered). */
static float *grad_of(run *r, int i)
{
    const weft_graph *g = r->m.g;
    const weft_value *p = &g->values[r->m.param_value[i]];
    int64_t n = weft_shape_numel(&p->shape);
    float *w = calloc((size_t)n, sizeof *w), *out = calloc((size_t)n, sizeof *out);
    if (!w || !out) abort();
    int rows = weft_sparse_rows(g, p->grad);
    if (rows < 0) {
        weft_exec_read(r->ex, p->grad, w);
    } else {   /* (k, D) rows of a (V, D) table */
        int64_t k = g->values[p->grad].shape.d[0], D = p->shape.d[1];
        float *sp = malloc((size_t)(k * D) * sizeof *sp);
        if (!sp) abort();
        weft_exec_read(r->ex, p->grad, sp);
        const int32_t *rw = weft_exec_ptr(r->ex, rows);
        for (int64_t u = 0; u < k && rw[u] >= 0; u++) memcpy(w + rw[u] * D, sp + u * D, (size_t)D * sizeof *w);
        free(sp);
    }
    if (r->m.param_transposed[i]) {   /* weft's (N, K) -> the file's (K, N) */
        int64_t N = p->shape.d[0], K = p->shape.d[1];
        for (int64_t a = 0; a < N; a++)
            for (int64_t b = 0; b < K; b++) out[b * N + a] = w[a * K + b];
    } else {
        memcpy(out, w, (size_t)n * sizeof *out);
    }
    free(w);
    return out;
}

static void check_model(const char *name, weft_precision p)
{
    bool bf = p != WEFT_PREC_FP32;
    double tol_loss = bf ? TOL_BF16_LOSS : TOL_F32, tol_logits = bf ? TOL_BF16_LOGITS : TOL_F32;
    double tol = bf ? TOL_BF16_GRAD : TOL_F32;
    char path[512], fx[512], out[512], what[64];
    snprintf(path, sizeof path, "%s/onnx_train_%s.onnx", fixtures(), name);
    snprintf(fx, sizeof fx, "%s/onnx_train_%s.safetensors", fixtures(), name);
    snprintf(what, sizeof what, "%s %s", name, weft_precision_name(p));
    weft_st_file f = { 0 };
    CHECK_OK(weft_st_read(fx, &f));
    const char *slr = weft_st_meta(&f, "lr");
    float lr = slr ? strtof(slr, NULL) : 0;
    CHECKF(lr > 0, "%s: fixture has no lr", fx);
    run r;
    weft_status s = setup(&r, path, &f, p);
    CHECKF(!s, "%s: %s", what, weft_errmsg());
    if (s) { teardown(&r); weft_st_free(&f); return; }
    const weft_graph *g = r.m.g;
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = 1, .hp = { .lr = lr } };
    CHECK_OK(weft_exec_run(r.ex, &ro));
    /* loss and logits */
    float loss = NAN;
    CHECK_OK(weft_exec_read(r.ex, r.l.loss, &loss));
    const float *wl = want_f32(&f, "loss", 1);
    double el = wl ? fabs((double)loss - *wl) / fabs((double)*wl) : 1;
    CHECKF(el <= tol_loss, "%s: loss %.9g, PyTorch %.9g (relative error %.3g)", what, loss, wl ? *wl : NAN, el);
    int64_t nlog = weft_shape_numel(&g->values[r.m.outputs[0]].shape);
    float *lg = malloc((size_t)nlog * sizeof *lg);
    if (!lg) abort();
    CHECK_OK(weft_exec_read(r.ex, r.m.outputs[0], lg));
    const float *wlog = want_f32(&f, "logits", nlog);
    double elog = wlog ? rel_err(lg, wlog, nlog) : 1;
    CHECKF(elog <= tol_logits, "%s: logits relative error %.3g", what, elog);
    free(lg);
    /* every parameter's gradient, by its ONNX name, in the file's layout */
    double eg = 0;
    int ngrads = 0;
    for (int i = 0; i < r.m.nparams; i++) {
        const weft_value *pv = &g->values[r.m.param_value[i]];
        if (pv->role != WEFT_ROLE_PARAM) continue;   /* batch-norm statistics: no gradient */
        char key[160];
        snprintf(key, sizeof key, "grad.%s", r.m.param_onnx[i]);
        int64_t n = weft_shape_numel(&pv->shape);
        float *gr = grad_of(&r, i);
        const float *want = want_f32(&f, key, n);
        double e = want ? rel_err(gr, want, n) : 1;
        CHECKF(e <= tol, "%s: %s relative error %.3g", what, key, e);
        if (e > eg) eg = e;
        ngrads++;
        free(gr);
    }
    CHECKF(ngrads >= 3, "%s: %d gradients checked", what, ngrads);
    /* the update, as written back for PyTorch */
    ro.phases = WEFT_PHASE_UPDATE;
    CHECK_OK(weft_exec_run(r.ex, &ro));
    const char *tmpdir = getenv("TMPDIR");
    snprintf(out, sizeof out, "%s/weft_onnx_train_%d_%s.safetensors", tmpdir && *tmpdir ? tmpdir : "/tmp", (int)getpid(),
             name);
    const char *meta[] = { "test", "onnx_train" };
    CHECK_OK(weft_onnx_write_weights(&r.m, &r.st, out, meta, 1));
    weft_st_file w = { 0 };
    CHECK_OK(weft_st_read(out, &w));
    unlink(out);
    double ew = 0;
    for (int i = 0; i < f.ntensors; i++) {
        const weft_st_tensor *t = &f.tensors[i];
        if (strncmp(t->name, "new.", 4)) continue;
        const weft_st_tensor *got = weft_st_find(&w, t->name + 4);
        bool shape_ok = got && got->dtype == WEFT_F32 && got->ndim == t->ndim;
        for (int d = 0; shape_ok && d < t->ndim; d++) shape_ok = got->dims[d] == t->dims[d];
        CHECKF(shape_ok, "%s: the written weights lack %s in the file's shape", what, t->name + 4);
        if (!shape_ok) continue;
        double e = rel_err(got->data, t->data, st_numel(t));
        double tol_w = bf ? TOL_BF16_WEIGHT + lr * tol : TOL_F32;
        CHECKF(e <= tol_w, "%s: updated %s relative error %.3g", what, t->name + 4, e);
        if (e > ew) ew = e;
    }
    CHECKF(w.ntensors == ngrads, "%s: %d tensors written, %d parameters", what, w.ntensors, ngrads);
    printf("%s: loss %.9g (PyTorch %.9g, relative error %.2g); logits %.2g, %d gradients max %.2g, "
           "updated weights max %.2g\n", what, loss, wl ? *wl : NAN, el, elog, ngrads, eg, ew);
    weft_st_free(&w);
    teardown(&r);
    weft_st_free(&f);
}

/* A softmax output is refused (cross-entropy wants logits). */
static void test_softmax_refused(void)
{
    weft_onnx m = { 0 };
    m.g = weft_graph_new();
    int64_t d[2] = { 2, 3 };
    int x = weft_g_input(m.g, "x", WEFT_F32, 2, d);
    m.ninputs = m.noutputs = 1;
    m.inputs[0] = x;
    m.outputs[0] = weft_g_softmax(m.g, x);
    weft_onnx_loss l;
    CHECKF(weft_onnx_attach_xent(&m, &l) == WEFT_ERR_ARG && strstr(weft_errmsg(), "Softmax"), "%s", weft_errmsg());
    weft_onnx_free(&m);
}

int main(void)
{
    const char *names[] = { "mlp", "cnn", "lm", "gpt" };
    for (int i = 0; i < 4; i++) check_model(names[i], WEFT_PREC_FP32);
    for (int i = 0; i < 4; i++) check_model(names[i], WEFT_PREC_BF16_SR);
    test_softmax_refused();
    return test_summary();
}
