/* onnx_model.c — an ONNX model as the trainer's model: `weft train --onnx
 * M.onnx --data fmnist|brown --loss xent`. The forward graph comes from
 * weft_onnx_import, cross-entropy goes on its first output, and from there
 * the run is any preset's (precision, autodiff, optimizer, plan; exec or a
 * pipeline); the store starts from the file's weights, and at the end
 * --export-weights writes them back under the file's names and layouts.
 *
 * What the checkpoint of such a run records beside a preset's: the ONNX
 * file (its absolute path: a resume rebuilds the graph from it), the data
 * and the loss. */
#include "cli/task.h"
#include "weft/onnx_train.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What an ONNX run trains like when the flags do not say: the batch and
 * optimizer of the zoo's models on the same data (cnn, gpt-mini). */
static const weft_model_preset onnx_images = {
    "onnx", "an ONNX model on Fashion-MNIST images", NULL, WEFT_TASK_IMAGES, 64, WEFT_OPT_SGD, 0, -1, 0,
};
static const weft_model_preset onnx_text = {
    "onnx", "an ONNX language model on Brown bytes", NULL, WEFT_TASK_TEXT, 16, WEFT_OPT_ADAMW, 1e-3, -1, 0,
};

static const char *data_of(const weft_opts *o) { return o->data ? o->data : "fmnist"; }

weft_status weft_run_preset(weft_opts *o, const weft_model_preset **out)
{
    if (!o->onnx) {
        const char *f = o->loss ? "--loss" : o->export_weights ? "--export-weights" : NULL;
        if (f) return weft_fail(WEFT_ERR_ARG, "%s: only with --onnx (a preset has its own loss and weight names)", f);
        return weft_model_find(o->model, out);
    }
    if (o->model_set)
        return weft_fail(WEFT_ERR_ARG, "--model %s and --onnx %s: one model or the other", o->model, o->onnx);
    if (access(o->onnx, R_OK))   /* told before any data loads */
        return weft_fail(WEFT_ERR_IO, "--onnx %s: cannot read: %s", o->onnx, strerror(errno));
    if (o->loss && strcmp(o->loss, "xent"))
        return weft_fail(WEFT_ERR_ARG, "--loss %s: unknown loss (valid: xent, cross-entropy on the model's logits)",
                         o->loss);
    const char *d = data_of(o);
    if (!strcmp(d, "fmnist")) *out = &onnx_images;
    else if (!strcmp(d, "brown")) *out = &onnx_text;
    else return weft_fail(WEFT_ERR_ARG, "--data %s: with --onnx, fmnist (Fashion-MNIST images) or brown (Brown bytes, "
                          "for a language model)", d);
    o->model = "onnx";
    return WEFT_OK;
}

/* The model's input fits the data: float images, or token ids (B, T). The
 * pixel count and the classes are the task's to check (its data says). */
static weft_status check_fit(const weft_onnx *m, const weft_opts *o)
{
    const weft_graph *g = m->g;
    if (m->ninputs != 1)
        return weft_fail(WEFT_ERR_ARG, "--onnx %s: the model takes %d inputs; weft train feeds one (its data)", o->onnx,
                         m->ninputs);
    const weft_value *x = &g->values[m->inputs[0]];
    char a[64];
    bool text = !strcmp(data_of(o), "brown");
    if (text && (x->dtype != WEFT_I32 || x->shape.ndim != 2))
        return weft_fail(WEFT_ERR_SHAPE, "--data brown: the model's input %s is %s %s; Brown bytes feed token ids "
                         "(B, T), int64 in the file", x->name, weft_dtype_name(x->dtype), weft_shape_str(&x->shape, a, sizeof a));
    if (!text && x->dtype == WEFT_I32)
        return weft_fail(WEFT_ERR_SHAPE, "--data fmnist: the model's input %s is %s %s (token ids?); Fashion-MNIST "
                         "feeds float32 images (B, 1, 28, 28) or (B, 784); --data brown trains a language model",
                         x->name, weft_dtype_name(x->dtype), weft_shape_str(&x->shape, a, sizeof a));
    return WEFT_OK;
}

weft_status weft_onnx_build(weft_compiled *c, const weft_opts *o, int batch)
{
    memset(c, 0, sizeof *c);
    weft_onnx *m = calloc(1, sizeof *m);
    if (!m) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    c->onnx = m;   /* weft_compiled_free frees it, and its graph */
    weft_status s = weft_onnx_import(o->onnx, batch, m);
    if (s) return weft_fail_wrap(s, "--onnx");
    c->g = m->g;
    WEFT_TRY(check_fit(m, o));
    weft_onnx_loss l;
    if ((s = weft_onnx_attach_xent(m, &l))) return weft_fail_wrap(s, "--onnx %s: --loss xent", o->onnx);
    c->io = (weft_model_io){ .x = m->inputs[0], .y = l.labels, .pos = -1, .ids = -1, .logits = l.logits,
                             .loss = l.loss };
    return WEFT_OK;
}

void weft_onnx_remap(weft_compiled *c, const int *vmap)
{
    if (!c->onnx) return;
    for (int i = 0; i < c->onnx->nparams; i++) c->onnx->param_value[i] = vmap[c->onnx->param_value[i]];
}

weft_status weft_compiled_fill(const weft_compiled *c, weft_store *st)
{
    if (!c->onnx) return WEFT_OK;
    weft_status s = weft_onnx_fill_store(c->onnx, st);
    return s ? weft_fail_wrap(s, "--onnx") : WEFT_OK;
}

/* The ONNX file as a checkpoint records it: absolute, so a resume finds it
 * from anywhere (as given when it cannot be resolved). */
static const char *abs_path(const char *p, char *buf, size_t n)
{
    char r[PATH_MAX];
    if (!realpath(p, r) || strlen(r) >= n) return p;
    memcpy(buf, r, strlen(r) + 1);
    return buf;
}

int weft_onnx_ckpt_meta(const weft_opts *o, const char **meta, int n, char *buf, size_t cap)
{
    if (!o->onnx) return n;
    meta[n++] = "onnx"; meta[n++] = abs_path(o->onnx, buf, cap);
    meta[n++] = "data"; meta[n++] = data_of(o);
    meta[n++] = "loss"; meta[n++] = o->loss ? o->loss : "xent";
    return n;
}

/* One metadata string into buf (an owned copy), or a format error. */
static weft_status meta_copy(const weft_st_file *f, const char *path, const char *key, char *buf, size_t n,
                             const char **out)
{
    const char *v = weft_st_meta(f, key);
    if (!v) return weft_fail(WEFT_ERR_FORMAT, "%s: an ONNX run's checkpoint without \"%s\" in __metadata__", path, key);
    if (strlen(v) >= n) return weft_fail(WEFT_ERR_FORMAT, "%s: metadata \"%s\" is longer than %zu bytes", path, key, n - 1);
    memcpy(buf, v, strlen(v) + 1);
    *out = buf;
    return WEFT_OK;
}

weft_status weft_onnx_ckpt_read(const weft_st_file *f, const char *path, weft_opts *o)
{
    const char *given = o->onnx;   /* --onnx on the command line: the file moved */
    WEFT_TRY(meta_copy(f, path, "onnx", o->onnx_buf, sizeof o->onnx_buf, &o->onnx));
    if (given) o->onnx = given;
    WEFT_TRY(meta_copy(f, path, "data", o->data_buf, sizeof o->data_buf, &o->data));
    WEFT_TRY(meta_copy(f, path, "loss", o->loss_buf, sizeof o->loss_buf, &o->loss));
    snprintf(o->model_buf, sizeof o->model_buf, "onnx");
    o->model = o->model_buf;
    o->model_set = false;
    return WEFT_OK;
}

weft_status weft_onnx_export(const weft_compiled *c, weft_store *st, const weft_opts *o, int64_t step)
{
    if (!o->export_weights) return WEFT_OK;
    if (!c->onnx) return weft_fail(WEFT_ERR_ARG, "--export-weights: only with --onnx");
    char sstep[32], buf[PATH_MAX];
    snprintf(sstep, sizeof sstep, "%lld", (long long)step);
    const char *meta[] = { "format", "weft-onnx-weights-1", "onnx", abs_path(o->onnx, buf, sizeof buf),
                           "data", data_of(o), "precision", weft_precision_name(o->precision), "step", sstep };
    weft_status s = weft_onnx_write_weights(c->onnx, st, o->export_weights, meta, (int)(sizeof meta / sizeof *meta) / 2);
    return s ? weft_fail_wrap(s, "--export-weights") : WEFT_OK;
}

weft_status weft_probe_output(const char *path, const char *flag)
{
    if (!path) return WEFT_OK;
    weft_outfile probe;
    weft_status s = weft_outfile_open(&probe, path);
    if (s) return weft_fail_wrap(s, "%s", flag);
    weft_outfile_abort(&probe);
    return WEFT_OK;
}
