/* onnx_train.c — the pieces fine-tuning an imported ONNX model needs beyond
 * the import itself: a cross-entropy loss on the model's output, and the
 * trained weights written back as the file had them (names, layouts), so
 * PyTorch can load them into the module the file was exported from. */
#include "weft/onnx_train.h"
#include "weft/io.h"

#include <stdlib.h>
#include <string.h>

weft_status weft_onnx_attach_xent(weft_onnx *m, weft_onnx_loss *out)
{
    weft_graph *g = m->g;
    if (!g || m->noutputs < 1) return weft_fail(WEFT_ERR_ARG, "onnx: the model has no output to put a loss on");
    int y = m->outputs[0];
    const weft_value *v = &g->values[y];
    char a[64];
    if (v->dtype == WEFT_I32 || v->shape.ndim < 2)
        return weft_fail(WEFT_ERR_SHAPE, "onnx: output %s is %s %s; cross-entropy needs float logits (B, ..., C)",
                         v->name, weft_dtype_name(v->dtype), weft_shape_str(&v->shape, a, sizeof a));
    if (v->producer >= 0 && g->nodes[v->producer].op == WEFT_OP_SOFTMAX)
        return weft_fail(WEFT_ERR_ARG, "onnx: output %s comes out of a Softmax; cross-entropy needs the logits "
                         "before it (export the model without its final softmax)", v->name);
    int64_t C = v->shape.d[v->shape.ndim - 1], M = weft_shape_numel(&v->shape) / C;
    int logits = y;
    if (v->shape.ndim != 2) {
        int64_t d[2] = { M, C };
        logits = weft_g_reshape(g, y, 2, d);
    }
    int64_t dl[1] = { M };
    int labels = logits < 0 ? -1 : weft_g_input(g, "labels", WEFT_I32, 1, dl);
    int loss = labels < 0 ? -1 : weft_g_xent(g, logits, labels);
    if (loss < 0) return weft_fail_wrap(weft_graph_status(g), "onnx: cross-entropy on output %s", g->values[y].name);
    g->values[logits].keep = true;
    g->values[loss].keep = true;
    *out = (weft_onnx_loss){ logits, labels, loss };
    return WEFT_OK;
}

/* Parameter i of m as the file holds it: float32, its dimensions (a
 * transposed one back to the file's (K, N)), into ts (data malloc'd). */
static weft_status file_tensor(const weft_onnx *m, weft_store *st, int i, const char *path, weft_st_tensor *ts)
{
    const weft_value *v = &m->g->values[m->param_value[i]];
    const char *name = m->param_onnx[i];
    weft_tensor *t = weft_store_find(st, v->name);
    if (!t) return weft_fail(WEFT_ERR_ARG, "%s: the store has no %s (initializer %s)", path, v->name, name);
    if (strlen(name) >= sizeof ts->name)
        return weft_fail(WEFT_ERR_ARG, "%s: initializer name %.40s... is longer than %zu bytes", path, name,
                         sizeof ts->name - 1);
    int64_t n = weft_shape_numel(&t->shape);
    bool tr = m->param_transposed[i];
    if (tr && t->shape.ndim != 2) return weft_fail(WEFT_ERR_SHAPE, "%s: %s: a transposed weight that is not 2-D", path, name);
    float *w = malloc((size_t)n * sizeof *w + 4), *f = tr ? malloc((size_t)n * sizeof *f + 4) : w;
    if (!w || !f) { free(w); if (f != w) free(f); return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory", path); }
    if (t->dtype == WEFT_F32) memcpy(w, t->data, (size_t)n * sizeof *w);
    else if (t->dtype == WEFT_BF16) weft_bf16_to_f32_n(t->data, w, n);
    else { free(w); if (f != w) free(f); return weft_fail(WEFT_ERR_ARG, "%s: %s is stored as %s", path, v->name, weft_dtype_name(t->dtype)); }
    snprintf(ts->name, sizeof ts->name, "%s", name);
    ts->dtype = WEFT_F32;
    ts->ndim = t->shape.ndim;
    for (int d = 0; d < t->shape.ndim; d++) ts->dims[d] = t->shape.d[d];
    if (tr) {   /* weft's (N, K) -> the file's (K, N) */
        int64_t N = t->shape.d[0], K = t->shape.d[1];
        for (int64_t r = 0; r < N; r++)
            for (int64_t c = 0; c < K; c++) f[c * N + r] = w[r * K + c];
        ts->dims[0] = K;
        ts->dims[1] = N;
        free(w);
    }
    ts->data = f;
    ts->nbytes = (size_t)n * sizeof *f;
    return WEFT_OK;
}

weft_status weft_onnx_write_weights(const weft_onnx *m, weft_store *st, const char *path, const char *const *meta,
                                    int nmeta)
{
    weft_st_tensor *ts = calloc((size_t)m->nparams + 1, sizeof *ts);
    if (!ts) return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory", path);
    int n = 0;
    weft_status s = WEFT_OK;
    for (int i = 0; i < m->nparams && !s; i++) {
        /* constants the importer made (masks, folded shapes) are no initializer */
        bool seen = !m->param_onnx[i][0];
        for (int j = 0; j < i && !seen; j++) seen = !strcmp(m->param_onnx[j], m->param_onnx[i]);   /* first use wins */
        if (!seen && !(s = file_tensor(m, st, i, path, &ts[n]))) n++;
    }
    if (!s) s = weft_st_write(path, ts, n, meta, nmeta);
    for (int i = 0; i < n; i++) free(ts[i].data);
    free(ts);
    return s;
}
