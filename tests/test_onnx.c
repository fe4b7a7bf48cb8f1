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

static void check_model(const char *name)
{
    char path[512], io[512];
    snprintf(path, sizeof path, "%s/onnx_%s.onnx", fixtures(), name);
    snprintf(io, sizeof io, "%s/onnx_%s.io", fixtures(), name);
    weft_onnx m;
    CHECK_OK(weft_onnx_import(path, 2, &m));
    if (!m.g) return;
    CHECK(m.ninputs == 1 && m.noutputs == 1 && m.nparams > 0);
    char *buf;
    size_t n;
    CHECK_OK(weft_read_file(io, &buf, &n));
    int64_t nin = weft_shape_numel(&m.g->values[m.inputs[0]].shape), nout = weft_shape_numel(&m.g->values[m.outputs[0]].shape);
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
        if (m.g->values[m.inputs[0]].dtype == WEFT_I32) {   /* token ids, stored as floats */
            int32_t *ids = malloc((size_t)nin * sizeof *ids);
            for (int64_t i = 0; i < nin; i++) ids[i] = (int32_t)((const float *)buf)[i];
            CHECK_OK(weft_exec_feed(ex, m.inputs[0], ids, WEFT_I32));
            free(ids);
        } else CHECK_OK(weft_exec_feed(ex, m.inputs[0], buf, WEFT_F32));
        weft_run_opts ro = { .phases = WEFT_PHASE_FWD, .step = 1, .eval = true };
        CHECK_OK(weft_exec_run(ex, &ro));
        float *y = malloc((size_t)nout * sizeof *y);
        CHECK_OK(weft_exec_read(ex, m.outputs[0], y));
        const float *want = (const float *)buf + nin;
        double err = 0, big = 0;
        for (int64_t i = 0; i < nout; i++) {
            double e = fabs((double)y[i] - (double)want[i]);
            if (e > err) err = e;
            if (fabs((double)want[i]) > big) big = fabs((double)want[i]);
        }
        CHECKF(err <= 1e-5 * (big > 1 ? big : 1), "%s: max error %g against PyTorch", name, err);
        printf("%s: imported %d ONNX nodes, %d parameters; output max error %.2g against PyTorch\n", name, m.nnodes_onnx,
               m.nparams, err);
        free(y);
    }
    weft_exec_free(ex);
    weft_store_free(&st);
    free(buf);
    weft_onnx_free(&m);
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
    test_bad();
    return test_summary();
}
