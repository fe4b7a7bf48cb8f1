/* test_onnx.c — ONNX import: PyTorch's exports (scripts/export_onnx.py) of
 * each of the zoo's model families, small — an MLP, a CNN, a residual net,
 * an embedding model, a GPT (opset 17, and 14 with its layer norms written
 * out), a BERT-style encoder, an LSTM, a DLRM — imported and run forward by
 * exec match PyTorch's outputs in fp32 and, within a stated tolerance, in
 * bf16; damaged files, hand-made malformed models (dangling names, a
 * cycle, wrong types, absurd shapes, …) and unsupported ops get errors
 * naming them. */
#include "test_util.h"
#include "weft/exec.h"
#include "weft/onnx.h"

#include "onnx.pb-c.h"

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

/* Hand-made models, each wrong in one way, built with the structs protobuf-c
 * generated from onnx.proto and packed to bytes: a Relu (or a Gemm on a
 * weight) on a (1, 4) float input named x. */
typedef struct {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto op, *ops[1];
    Onnx__ValueInfoProto in, out, *ins[1], *outs[1];
    Onnx__TypeProto ty;
    Onnx__TypeProto__Tensor tt;
    Onnx__TensorShapeProto sh;
    Onnx__TensorShapeProto__Dimension d0, d1, *dims[2];
    Onnx__NodeProto n, *nodes[1];
    char *n_in[2], *n_out[1];
    Onnx__TensorProto w, sh2, *inits[2];
    int64_t wd[2], sd[1], sv[2];
    float wv[16];
    Onnx__AttributeProto perm, *attrs[1];
    int64_t pv[2];
} tiny;

static void tiny_make(tiny *t, const char *op)
{
    memset(t, 0, sizeof *t);
    onnx__model_proto__init(&t->m);
    onnx__graph_proto__init(&t->g);
    onnx__operator_set_id_proto__init(&t->op);
    t->op.domain = "";
    t->op.has_version = true;
    t->op.version = 17;
    t->ops[0] = &t->op;
    t->m.n_opset_import = 1;
    t->m.opset_import = t->ops;
    t->m.has_ir_version = true;
    t->m.ir_version = 8;
    t->m.graph = &t->g;
    onnx__tensor_shape_proto__dimension__init(&t->d0);
    onnx__tensor_shape_proto__dimension__init(&t->d1);
    t->d0.value_case = t->d1.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    t->d0.dim_value = 1;
    t->d1.dim_value = 4;
    t->dims[0] = &t->d0;
    t->dims[1] = &t->d1;
    onnx__tensor_shape_proto__init(&t->sh);
    t->sh.n_dim = 2;
    t->sh.dim = t->dims;
    onnx__type_proto__tensor__init(&t->tt);
    t->tt.has_elem_type = true;
    t->tt.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->tt.shape = &t->sh;
    onnx__type_proto__init(&t->ty);
    t->ty.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->ty.tensor_type = &t->tt;
    onnx__value_info_proto__init(&t->in);
    t->in.name = "x";
    t->in.type = &t->ty;
    t->ins[0] = &t->in;
    onnx__value_info_proto__init(&t->out);
    t->out.name = "y";
    t->outs[0] = &t->out;
    onnx__node_proto__init(&t->n);
    t->n.op_type = (char *)op;
    t->n.name = "the_node";
    t->n_in[0] = "x";
    t->n_in[1] = "w";
    t->n_out[0] = "y";
    t->n.n_input = !strcmp(op, "Gemm") ? 2 : 1;
    t->n.input = t->n_in;
    t->n.n_output = 1;
    t->n.output = t->n_out;
    t->nodes[0] = &t->n;
    onnx__tensor_proto__init(&t->w);
    t->w.name = "w";
    t->w.has_data_type = true;
    t->w.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->wd[0] = t->wd[1] = 4;
    t->w.n_dims = 2;
    t->w.dims = t->wd;
    t->w.n_float_data = 16;
    t->w.float_data = t->wv;
    t->inits[0] = &t->w;
    onnx__tensor_proto__init(&t->sh2);   /* an int64 list: a shape */
    t->sh2.name = "s";
    t->sh2.has_data_type = true;
    t->sh2.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    t->sd[0] = 2;
    t->sh2.n_dims = 1;
    t->sh2.dims = t->sd;
    t->sv[0] = 2;
    t->sv[1] = 8;
    t->sh2.n_int64_data = 2;
    t->sh2.int64_data = t->sv;
    t->inits[1] = &t->sh2;
    onnx__attribute_proto__init(&t->perm);
    t->perm.name = "perm";
    t->perm.has_type = true;
    t->perm.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    t->pv[0] = 1;
    t->pv[1] = 0;
    t->perm.n_ints = 2;
    t->perm.ints = t->pv;
    t->attrs[0] = &t->perm;
    t->g.n_input = 1;
    t->g.input = t->ins;
    t->g.n_output = 1;
    t->g.output = t->outs;
    t->g.n_node = 1;
    t->g.node = t->nodes;
    t->g.n_initializer = !strcmp(op, "Gemm") ? 2 : 0;
    t->g.initializer = t->inits;
}

/* Packs t and imports it: the status, the message kept in why. */
static weft_status tiny_import(tiny *t, char *why, size_t n)
{
    size_t len = onnx__model_proto__get_packed_size(&t->m);
    uint8_t *buf = malloc(len + 1);
    onnx__model_proto__pack(&t->m, buf);
    weft_onnx m;
    weft_status s = weft_onnx_import_bytes(buf, len, "tiny.onnx", 2, &m);
    snprintf(why, n, "%s", s ? weft_errmsg() : "imported");
    if (!s) weft_onnx_free(&m);
    free(buf);
    return s;
}

static void test_malformed(void)
{
    tiny t;
    char why[512];
    tiny_make(&t, "Relu");
    CHECKF(!tiny_import(&t, why, sizeof why), "the well-formed tiny model: %s", why);
    tiny_make(&t, "Gemm");
    CHECKF(!tiny_import(&t, why, sizeof why), "the well-formed tiny Gemm: %s", why);
    struct { const char *what, *op, *want; void (*spoil)(tiny *); } cases[] = {
        { "a dangling input", "Relu", "made by no node before it", NULL },
        { "a cycle", "Relu", "made by no node before it", NULL },
        { "a weight of the wrong type", "Gemm", "not float32", NULL },
        { "absurd dimensions", "Gemm", "negative or absurd", NULL },
        { "a weight shorter than its dimensions", "Gemm", "elements declared", NULL },
        { "a symbolic dimension past the batch", "Relu", "symbolic", NULL },
        { "an output no node makes", "Relu", "made by no node", NULL },
        { "another opset", "Relu", "opsets 13 to 17", NULL },
        { "a Concat missing an input", "Gemm", "missing", NULL },
        { "a perm that is no permutation", "Gemm", "not a permutation", NULL },
        { "a shape that overflows", "Gemm", "a size of", NULL },
        { "a folded Squeeze's axis out of range", "Gemm", "an axis out of range", NULL },
        { "a folded Squeeze of a 4", "Gemm", "squeezing a dimension that is not 1", NULL },
        { "a Squeeze of the input's 4", "Gemm", "squeezing a dimension that is not 1", NULL },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        tiny_make(&t, cases[k].op);
        switch (k) {
        case 0: t.n_in[0] = "nowhere"; break;
        case 1: t.n_in[0] = "y"; break;                                     /* reads its own output */
        case 2: t.w.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__STRING; break;
        case 3: t.wd[0] = (int64_t)1 << 40; break;
        case 4: t.w.n_float_data = 3; break;
        case 5: t.d1.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM; t.d1.dim_param = "n"; break;
        case 6: t.out.name = "z"; break;
        case 7: t.op.version = 9; break;
        case 8: t.n.op_type = "Concat"; t.n_in[0] = "w"; t.n_in[1] = ""; break;   /* folded: both known */
        case 9: t.n.op_type = "Transpose"; t.n_in[0] = "w"; t.n.n_input = 1; t.pv[1] = 1;   /* perm [1, 1] */
                t.n.n_attribute = 1; t.n.attribute = t.attrs; break;
        case 10: t.n.op_type = "Reshape"; t.n_in[0] = "w"; t.n_in[1] = "s"; t.sv[0] = (int64_t)1 << 40;
                 t.sv[1] = (int64_t)1 << 40; break;
        /* Squeeze on known numbers (folded at import), then on the graph's input; axes s */
        case 11: t.n.op_type = "Squeeze"; t.n_in[0] = "w"; t.n_in[1] = "s"; t.sv[0] = 2; t.sd[0] = 1; t.sh2.n_int64_data = 1; break;
        case 12: t.n.op_type = "Squeeze"; t.n_in[0] = "w"; t.n_in[1] = "s"; t.sv[0] = -2; t.sd[0] = 1; t.sh2.n_int64_data = 1; break;
        case 13: t.n.op_type = "Squeeze"; t.n_in[1] = "s"; t.sv[0] = 1; t.sd[0] = 1; t.sh2.n_int64_data = 1;
                 t.inits[0] = &t.sh2; t.g.n_initializer = 1; break;
        }
        weft_status s = tiny_import(&t, why, sizeof why);
        CHECKF(s && strstr(why, cases[k].want) && strstr(why, "tiny.onnx"), "%s: %s", cases[k].what, why);
    }
    /* and the Squeeze and Unsqueeze that hold: x (1, 4) to (4), and to (1, 1, 4) */
    const char *ok_ops[] = { "Squeeze", "Unsqueeze" };
    for (int k = 0; k < 2; k++) {
        tiny_make(&t, "Gemm");
        t.n.op_type = (char *)ok_ops[k];
        t.n_in[1] = "s";
        t.sv[0] = k ? -2 : 0;
        t.sd[0] = 1;
        t.sh2.n_int64_data = 1;
        t.inits[0] = &t.sh2;
        t.g.n_initializer = 1;
        CHECKF(!tiny_import(&t, why, sizeof why), "a %s that holds: %s", ok_ops[k], why);
    }
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
    test_malformed();
    return test_summary();
}
