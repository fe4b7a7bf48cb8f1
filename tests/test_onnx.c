/* test_onnx.c — ONNX import: PyTorch's exports of a small MLP, CNN,
 * residual net (batch norm, global average pooling, a sigmoid head) and
 * embedding model (Gather)
 * (scripts/export_onnx.py) imported and run forward by exec match PyTorch's
 * outputs; malformed files and unsupported ops get errors naming them. */
#include "test_util.h"
#include "weft/exec.h"
#include "weft/onnx.h"

#include <string.h>

static const char *fixtures(void)
{
    const char *d = getenv("WEFT_FIXTURES");
    return d ? d : "tests/fixtures";
}

/* Imports onnx_<name>, runs it forward under precision p and compares with
 * PyTorch's output: fp32 to 1e-5 of the output's scale; bf16 (weights and
 * activations rounded to bfloat16, 8 bits of mantissa, through every layer)
 * to 5e-2 of it. Returns the max error. */
static double check_model_in(const char *name, weft_precision p)
{
    char path[512], io[512];
    snprintf(path, sizeof path, "%s/onnx_%s.onnx", fixtures(), name);
    snprintf(io, sizeof io, "%s/onnx_%s.io", fixtures(), name);
    weft_onnx m;
    double err = -1;
    CHECK_OK(weft_onnx_import(path, 2, &m));
    if (!m.g) return err;
    CHECK_OK(weft_pass_precision(m.g, p));
    CHECK(m.ninputs >= 1 && m.noutputs == 1 && m.nparams > 0);
    char *buf;
    size_t n;
    CHECK_OK(weft_read_file(io, &buf, &n));
    int64_t nin = 0, nout = weft_shape_numel(&m.g->values[m.outputs[0]].shape);   /* the inputs in order, then the output */
    for (int i = 0; i < m.ninputs; i++) nin += weft_shape_numel(&m.g->values[m.inputs[i]].shape);
    CHECKF((int64_t)n == 4 * (nin + nout), "%s: %zu bytes of input and output, want %lld", name, n,
           (long long)(4 * (nin + nout)));
    weft_store st;
    weft_store_init(&st);
    weft_exec *ex = NULL;
    CHECK_OK(weft_pass_plan_memory(m.g));
    CHECK_OK(weft_store_bind(&st, m.g, 0));
    CHECK_OK(weft_onnx_fill_store(&m, &st));
    CHECK_OK(weft_exec_create(&ex, m.g, &st, 1, 0));
    if (ex && (int64_t)n == 4 * (nin + nout)) {
        const float *in = (const float *)buf;
        for (int i = 0; i < m.ninputs; i++) {
            const weft_value *v = &m.g->values[m.inputs[i]];
            int64_t k = weft_shape_numel(&v->shape);
            if (v->dtype == WEFT_I32) {   /* token ids, stored as floats */
                int32_t *ids = malloc((size_t)k * sizeof *ids);
                for (int64_t j = 0; j < k; j++) ids[j] = (int32_t)in[j];
                CHECK_OK(weft_exec_feed(ex, m.inputs[i], ids, WEFT_I32));
                free(ids);
            } else CHECK_OK(weft_exec_feed(ex, m.inputs[i], in, WEFT_F32));
            in += k;
        }
        weft_run_opts ro = { .phases = WEFT_PHASE_FWD, .step = 1, .eval = true };
        CHECK_OK(weft_exec_run(ex, &ro));
        float *y = malloc((size_t)nout * sizeof *y);
        CHECK_OK(weft_exec_read(ex, m.outputs[0], y));
        const float *want = (const float *)buf + nin;
        double big = 0;
        err = 0;
        for (int64_t i = 0; i < nout; i++) {
            double e = fabs((double)y[i] - (double)want[i]);
            if (e > err) err = e;
            if (fabs((double)want[i]) > big) big = fabs((double)want[i]);
        }
        double tol = p == WEFT_PREC_FP32 ? 1e-5 : 5e-2;
        CHECKF(err <= tol * (big > 1 ? big : 1), "%s (%s): max error %g against PyTorch (outputs up to %g)", name,
               weft_precision_name(p), err, big);
        printf("%s (%s): imported %d ONNX nodes, %d parameters; output max error %.2g against PyTorch (outputs up to "
               "%.2g)\n", name, weft_precision_name(p), m.nnodes_onnx, m.nparams, err, big);
        free(y);
    }
    weft_exec_free(ex);
    weft_store_free(&st);
    free(buf);
    weft_onnx_free(&m);
    return err;
}

static void check_model(const char *name)
{
    check_model_in(name, WEFT_PREC_FP32);
    check_model_in(name, WEFT_PREC_BF16);
}

/* Damaged files: truncated, not protobuf, and an op the importer lacks. */
static void test_bad(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/onnx_cnn.onnx", fixtures());
    char *buf;
    size_t n;
    CHECK_OK(weft_read_file(path, &buf, &n));
    weft_onnx m;
    int refused = 0;
    for (size_t cut = 1; cut < n; cut += n / 37 + 1) {
        weft_status s = weft_onnx_import_bytes((const uint8_t *)buf, cut, "cut.onnx", 2, &m);
        if (s) refused++;
        else weft_onnx_free(&m);
        CHECK(m.g == NULL || !s);
    }
    CHECK(refused > 0);
    const char junk[] = "this is not a protobuf message at all \xff\xff\xff\xff";
    CHECK(weft_onnx_import_bytes((const uint8_t *)junk, sizeof junk, "junk.onnx", 2, &m) == WEFT_ERR_FORMAT &&
          strstr(weft_errmsg(), "junk.onnx"));
    /* a node's op type (NodeProto field 4: tag 0x22, length 7) renamed to
     * one the importer does not know: the error names it */
    char *p = memmem(buf, n, "\x22\x07MaxPool", 9);
    CHECK(p != NULL);
    if (p) {
        memcpy(p + 2, "MinPool", 7);
        weft_status s = weft_onnx_import_bytes((const uint8_t *)buf, n, "renamed.onnx", 2, &m);
        CHECKF(s == WEFT_ERR_ARG && strstr(weft_errmsg(), "MinPool") && strstr(weft_errmsg(), "not supported"), "%s",
               weft_errmsg());
        if (!s) weft_onnx_free(&m);
    }
    CHECK(weft_onnx_import("/nonexistent/model.onnx", 1, &m) == WEFT_ERR_IO);
    /* what the fuzzer found (scripts/fuzz_onnx.sh): an initializer declaring
     * far more numbers than it holds, an attribute without a name */
    for (int k = 1; k <= 2; k++) {
        char fp[512];
        snprintf(fp, sizeof fp, "%s/onnx_fuzz_%d.onnx", fixtures(), k);
        weft_status s = weft_onnx_import(fp, 2, &m);
        CHECKF(s != WEFT_OK && strstr(weft_errmsg(), "onnx_fuzz_"), "fuzz input %d: %s", k, s ? weft_errmsg() : "imported");
        if (!s) weft_onnx_free(&m);
    }
    free(buf);
}

int main(void)
{
    check_model("mlp");
    check_model("cnn");
    check_model("resnet");
    check_model("embed");
    check_model("gpt");
    check_model("bert");
    check_model("gpt14");
    check_model("lstm");
    check_model("dlrm");
    test_bad();
    return test_summary();
}
