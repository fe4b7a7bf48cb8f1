/* import.c — `weft import model.onnx`: an ONNX model read into a weft graph
 * and summarised: where it came from, its ops, parameters, inputs and
 * outputs. */
#include "cli/cli.h"
#include "weft/onnx.h"

static const char *summary =
    "usage: weft import MODEL.onnx [--batch B] [--json]\n\n"
    "Reads an ONNX model (what torch.onnx.export writes; opsets 13 to 17) into a weft graph and\n"
    "prints its producer, opset, ops by type, parameters and the shapes of its inputs and outputs.\n"
    "A symbolic batch dimension takes --batch (default 1). An op or attribute weft does not read is\n"
    "an error naming the op type, the node and what is missing.";

static void shape_str(const weft_shape *s, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < s->ndim && len < n; d++) len += (size_t)snprintf(buf + len, n - len, "%s%lld", d ? ", " : "", (long long)s->d[d]);
    if (len < n) snprintf(buf + len, n - len, ")");
}

int weft_cmd_import(int argc, char **argv)
{
    weft_opts o;
    weft_opts_defaults(&o);
    bool help = false;
    const char *path = NULL;
    if (argc > 0 && argv[0][0] != '-') { path = argv[0]; argc--; argv++; }
    weft_status s = weft_opts_parse(&o, V_IMPORT, argc, argv, &help);
    if (help) { weft_opts_usage(stdout, "import", V_IMPORT, summary); return 0; }
    if (!s && !path) s = weft_fail(WEFT_ERR_ARG, "which model? usage: weft import MODEL.onnx");
    weft_onnx m = { 0 };
    double t0 = weft_now();
    if (!s) s = weft_onnx_import(path, o.batch > 0 ? o.batch : 1, &m);
    double secs = weft_now() - t0;
    if (s) {
        fprintf(stderr, "weft import: %s\n", weft_errmsg());
        return weft_exit_code(s);
    }
    int64_t params = 0, consts = 0;   /* trained weights; constants (masks, biases, statistics) */
    int ntensors = 0;
    for (int i = 0; i < m.nparams; i++) {
        const weft_value *v = &m.g->values[m.param_value[i]];
        if (v->role == WEFT_ROLE_PARAM) { params += weft_shape_numel(&v->shape); ntensors++; }
        else consts += weft_shape_numel(&v->shape);
    }
    const char *const *ops = weft_onnx_ops();
    char sh[128];
    if (o.json) {
        printf("{\"model\": ");
        weft_json_string(stdout, path);
        printf(", \"producer\": ");
        weft_json_string(stdout, m.producer);
        printf(", \"ir_version\": %lld, \"opset\": %lld, \"onnx_nodes\": %d, \"weft_nodes\": %d, \"parameters\": %lld, "
               "\"constants\": %lld, \"seconds\": %.6g, \"ops\": {", (long long)m.ir_version, (long long)m.opset,
               m.nnodes_onnx, m.g->nnodes, (long long)params, (long long)consts, secs);
        int first = 1;
        for (int i = 0; ops[i]; i++)
            if (m.op_count[i]) { printf("%s\"%s\": %d", first ? "" : ", ", ops[i], m.op_count[i]); first = 0; }
        printf("}, \"inputs\": [");
        for (int i = 0; i < m.ninputs; i++) {
            printf("%s{\"name\": ", i ? ", " : "");
            weft_json_string(stdout, m.g->values[m.inputs[i]].name);
            printf(", \"shape\": [");
            const weft_shape *q = &m.g->values[m.inputs[i]].shape;
            for (int d = 0; d < q->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)q->d[d]);
            printf("]}");
        }
        printf("], \"outputs\": %d}\n", m.noutputs);
    } else {
        printf("%s: ONNX IR %lld, opset %lld, from %s\n", path, (long long)m.ir_version, (long long)m.opset,
               m.producer[0] ? m.producer : "an unnamed producer");
        printf("  %d ONNX nodes -> %d weft nodes in %.3f s; %lld parameters (%.2f MiB fp32) in %d tensors", m.nnodes_onnx,
               m.g->nnodes, secs, (long long)params, (double)params * 4 / 1048576.0, ntensors);
        if (consts) printf("; %lld constant numbers (masks, statistics)", (long long)consts);
        printf("\n");
        printf("  ops:");
        for (int i = 0; ops[i]; i++) if (m.op_count[i]) printf(" %s x%d", ops[i], m.op_count[i]);
        printf("\n");
        for (int i = 0; i < m.ninputs; i++) {
            shape_str(&m.g->values[m.inputs[i]].shape, sh, sizeof sh);
            printf("  input  %-20s %s %s\n", m.g->values[m.inputs[i]].name, weft_dtype_name(m.g->values[m.inputs[i]].dtype), sh);
        }
        for (int i = 0; i < m.noutputs; i++) {
            shape_str(&m.g->values[m.outputs[i]].shape, sh, sizeof sh);
            printf("  output %-20s %s %s\n", m.g->values[m.outputs[i]].name, weft_dtype_name(m.g->values[m.outputs[i]].dtype), sh);
        }
    }
    weft_onnx_free(&m);
    if (fflush(stdout) || ferror(stdout)) { fprintf(stderr, "weft import: cannot write to the standard output\n"); return 1; }
    return 0;
}
