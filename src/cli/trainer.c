/* trainer.c — a training run: data, the training and evaluation graphs, the
 * store, the step loop with progress, metrics, checkpoints and resume. */
#include "cli/task.h"
#include "weft/data.h"
#include "weft/exec.h"
#include "weft/io.h"
#include "weft/models.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CKPT_FORMAT "weft-checkpoint-1"

void weft_compiled_free(weft_compiled *c)
{
    weft_exec_free(c->ex);
    if (c->onnx) weft_onnx_free(c->onnx);   /* and its graph, c->g */
    else weft_graph_free(c->g);
    free(c->onnx);
    memset(c, 0, sizeof *c);
}

weft_status weft_compile_forward(weft_compiled *c, const weft_opts *o, int batch)
{
    if (o->onnx) return weft_onnx_build(c, o, batch);
    weft_model_size size = { o->layers, o->heads, o->d_model, o->ctx, o->vocab };
    memset(c, 0, sizeof *c);
    c->g = weft_graph_new();
    if (!c->g) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    return weft_model_build_sized(c->g, o->model, batch, &size, &c->io);
}

/* Builds model -> precision -> [autodiff -> optimizer] -> plan. */
weft_status weft_compile(weft_compiled *c, const weft_opts *o, int batch, bool train)
{
    weft_precision p = o->precision;
    weft_optimizer opt = o->optimizer;
    WEFT_TRY(weft_compile_forward(c, o, batch));
    WEFT_TRY(weft_pass_precision(c->g, p));
    if (train) {
        WEFT_TRY(weft_pass_autodiff(c->g, c->io.loss));
        WEFT_TRY(weft_pass_optimizer(c->g, opt));
    }
    WEFT_TRY(weft_graph_verify(c->g));
    return weft_pass_plan_memory(c->g);
}

/* ---- checkpoints -------------------------------------------------------------- */

weft_status weft_ckpt_save(const char *path, weft_store *st, const weft_opts *o, int64_t step,
                                   int64_t total)
{
    return weft_ckpt_save_part(path, st, NULL, o, step, total, NULL, 0);
}

weft_status weft_ckpt_save_part(const char *path, weft_store *st, const bool *only, const weft_opts *o, int64_t step,
                                int64_t total, const char **extra, int nextra)
{
    weft_st_tensor *ts = calloc((size_t)st->n + 1, sizeof *ts);
    if (!ts) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    int nt = 0;
    for (int i = 0; i < st->n; i++) {
        weft_tensor *t = &st->t[i];
        if (only && !only[i]) continue;
        weft_st_tensor *x = &ts[nt++];
        snprintf(x->name, sizeof x->name, "%s", t->name);
        x->dtype = t->dtype;
        x->ndim = t->shape.ndim;
        for (int d = 0; d < t->shape.ndim; d++) x->dims[d] = t->shape.d[d];
        x->data = t->data;
        x->nbytes = t->nbytes;
    }
    /* Everything a resumed run needs to continue exactly (%.17g: doubles round-trip). */
    char sstep[32], stotal[32], sseed[32], sbatch[32], slr[40], swarm[32], smom[40], swd[40], ssize[96];
    snprintf(sstep, sizeof sstep, "%lld", (long long)step);
    snprintf(stotal, sizeof stotal, "%lld", (long long)total);
    snprintf(sseed, sizeof sseed, "%lld", (long long)o->seed);
    snprintf(sbatch, sizeof sbatch, "%d", o->batch);
    snprintf(slr, sizeof slr, "%.17g", o->lr);
    snprintf(swarm, sizeof swarm, "%lld", (long long)o->warmup);
    snprintf(smom, sizeof smom, "%.17g", o->momentum);
    snprintf(swd, sizeof swd, "%.17g", o->weight_decay);
    snprintf(ssize, sizeof ssize, "%d %d %d %d %d", o->layers, o->heads, o->d_model, o->ctx, o->vocab);
    const char *meta[64] = {
        "format", CKPT_FORMAT, "model", o->model, "precision", weft_precision_name(o->precision),
        "optimizer", o->optimizer == WEFT_OPT_ADAMW ? "adamw" : "sgd",
        "step", sstep, "total_steps", stotal, "seed", sseed, "batch", sbatch, "lr", slr,
        "schedule", o->schedule, "warmup", swarm, "momentum", smom, "weight_decay", swd,
        "size", ssize,   /* layers heads d_model ctx vocab; 0: the preset's */
    };
    int nmeta = 0;
    while (meta[nmeta]) nmeta++;   /* the strings above; room for the ONNX run's */
    char onnx[4096];
    nmeta = weft_onnx_ckpt_meta(o, meta, nmeta, onnx, sizeof onnx);   /* the ONNX file, its data and loss */
    if (nmeta + 2 * nextra > (int)(sizeof meta / sizeof *meta)) {
        free(ts);
        return weft_fail(WEFT_ERR_INTERNAL, "%s: %d metadata entries, room for %d", path, nmeta / 2 + nextra,
                         (int)(sizeof meta / sizeof *meta) / 2);
    }
    for (int k = 0; k < 2 * nextra; k++) meta[nmeta++] = extra[k];
    weft_status s = weft_st_write(path, ts, nt, meta, nmeta / 2);
    free(ts);
    return s;
}

static weft_status meta_need(const weft_st_file *f, const char *path, const char *key, const char **out)
{
    *out = weft_st_meta(f, key);
    if (!*out) return weft_fail(WEFT_ERR_FORMAT, "%s: not a weft checkpoint (no \"%s\" in __metadata__)", path, key);
    return WEFT_OK;
}

/* A number in [lo, hi] (whole when `integer`) from metadata key `key`, or a
 * format error naming the file and the key. */
static weft_status meta_num(const weft_st_file *f, const char *path, const char *key, bool integer, double lo,
                            double hi, double *out)
{
    const char *v;
    WEFT_TRY(meta_need(f, path, key, &v));
    if (!weft_parse_number(v, integer, lo, hi, out))
        return weft_fail(WEFT_ERR_FORMAT, "%s: metadata \"%s\" is '%s', not a %s in [%g, %g]", path, key, v,
                         integer ? "whole number" : "number", lo, hi);
    return WEFT_OK;
}

static weft_status meta_int(const weft_st_file *f, const char *path, const char *key, int64_t lo, int64_t hi,
                            int64_t *out)
{
    double d;
    WEFT_TRY(meta_num(f, path, key, true, (double)lo, (double)hi, &d));
    *out = (int64_t)d;
    return WEFT_OK;
}

/* The run a checkpoint belongs to: model, policy, optimizer, hyperparameters,
 * schedule, seed, length, and the step it stopped at. */
weft_status weft_ckpt_read_run(const weft_st_file *f, const char *path, weft_opts *o, int64_t *step)
{
    const char *v;
    int64_t x;
    WEFT_TRY(meta_need(f, path, "format", &v));
    if (strcmp(v, CKPT_FORMAT)) return weft_fail(WEFT_ERR_FORMAT, "%s: unknown checkpoint format '%s'", path, v);
    WEFT_TRY(meta_need(f, path, "model", &v));
    const weft_model_preset *mp;
    if (!strcmp(v, "onnx")) {
        WEFT_TRY(weft_onnx_ckpt_read(f, path, o));
    } else {
        if (weft_model_find(v, &mp)) return weft_fail(WEFT_ERR_FORMAT, "%s: metadata \"model\" is '%s', not a known model", path, v);
        if (o->onnx) return weft_fail(WEFT_ERR_ARG, "--onnx %s: %s is a checkpoint of the %s preset", o->onnx, path, v);
        snprintf(o->model_buf, sizeof o->model_buf, "%s", mp->name);
        o->model = o->model_buf;
    }
    WEFT_TRY(meta_need(f, path, "precision", &v));
    if (weft_precision_parse(v, &o->precision)) return weft_fail_wrap(WEFT_ERR_FORMAT, "%s: metadata", path);
    WEFT_TRY(meta_need(f, path, "optimizer", &v));
    if (!strcmp(v, "sgd")) o->optimizer = WEFT_OPT_SGD;
    else if (!strcmp(v, "adamw")) o->optimizer = WEFT_OPT_ADAMW;
    else return weft_fail(WEFT_ERR_FORMAT, "%s: metadata \"optimizer\" is '%s' (valid: sgd, adamw)", path, v);
    o->optimizer_set = true;
    WEFT_TRY(meta_need(f, path, "schedule", &v));
    if (weft_lr_schedule_check(v)) return weft_fail_wrap(WEFT_ERR_FORMAT, "%s: metadata", path);
    snprintf(o->schedule_buf, sizeof o->schedule_buf, "%s", v);
    o->schedule = o->schedule_buf;
    WEFT_TRY(meta_int(f, path, "total_steps", 1, (int64_t)1e12, &o->steps));
    WEFT_TRY(meta_int(f, path, "step", 0, o->steps, step));
    WEFT_TRY(meta_int(f, path, "seed", 0, (int64_t)9e15, &o->seed));
    WEFT_TRY(meta_int(f, path, "batch", 1, 1 << 20, &x));
    o->batch = (int)x;
    WEFT_TRY(meta_int(f, path, "warmup", 0, (int64_t)1e12, &o->warmup));
    WEFT_TRY(meta_num(f, path, "lr", false, 0, 1e6, &o->lr));
    WEFT_TRY(meta_num(f, path, "momentum", false, 0, 1, &o->momentum));
    WEFT_TRY(meta_num(f, path, "weight_decay", false, 0, 1e3, &o->weight_decay));
    WEFT_TRY(meta_need(f, path, "size", &v));
    int z[5], used = 0;
    if (sscanf(v, "%d %d %d %d %d%n", &z[0], &z[1], &z[2], &z[3], &z[4], &used) != 5 || v[used] ||
        z[0] < 0 || z[1] < 0 || z[2] < 0 || z[3] < 0 || z[4] < 0)
        return weft_fail(WEFT_ERR_FORMAT, "%s: metadata \"size\" is '%s', not five whole numbers", path, v);
    o->layers = z[0]; o->heads = z[1]; o->d_model = z[2]; o->ctx = z[3]; o->vocab = z[4];
    return WEFT_OK;
}

static bool wanted(const weft_tensor *t, bool params_only, const weft_graph *g)
{
    if (!params_only) return true;
    for (int v = 0; v < g->nvalues; v++)
        if ((g->values[v].role == WEFT_ROLE_PARAM || g->values[v].role == WEFT_ROLE_STATE) &&
            !strcmp(g->values[v].name, t->name)) return true;   /* weights, batch-norm statistics */
    return false;
}

static weft_status copy_tensor(const weft_st_tensor *ft, const char *path, weft_tensor *t)
{
    char a[64], b[64];
    if (ft->ndim > WEFT_MAX_DIMS)
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor %s has %d dimensions (at most %d)", path, t->name,
                         ft->ndim, WEFT_MAX_DIMS);
    weft_shape fs = { .ndim = ft->ndim };
    for (int d = 0; d < ft->ndim && d < WEFT_MAX_DIMS; d++) fs.d[d] = ft->dims[d];
    if (ft->dtype != t->dtype || !weft_shape_eq(&fs, &t->shape) || ft->nbytes != t->nbytes)
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor %s is %s %s, the model needs %s %s", path, t->name,
                         weft_dtype_name(ft->dtype), weft_shape_str(&fs, a, sizeof a),
                         weft_dtype_name(t->dtype), weft_shape_str(&t->shape, b, sizeof b));
    memcpy(t->data, ft->data, t->nbytes);
    return WEFT_OK;
}

/* A pipeline's checkpoint on MPI is a manifest (metadata "stages": S and
 * "stage_tag", no tensors) beside one file per stage,
 * PATH.<tag>.step<N>.stage<s>, each holding the tensors its stage updates;
 * any stage cut reads them all. The tag is the run's: another run saving to
 * the same path writes files of its own, never the ones a manifest names. */
void weft_ckpt_stage_path(char *buf, size_t n, const char *path, const char *tag, int64_t step, int s)
{
    snprintf(buf, n, "%s.%s.step%lld.stage%d", path, tag, (long long)step, s);
}

/* A stage file is the one its manifest names: the same run, step and cut. */
static weft_status stage_file_check(const weft_st_file *f, const weft_st_file *sf, const char *sp, int k, int64_t S)
{
    const char *keys[] = { "stage_tag", "step", "seed", "model" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *a = weft_st_meta(f, keys[i]), *b = weft_st_meta(sf, keys[i]);
        if (!a || !b || strcmp(a, b))
            return weft_fail(WEFT_ERR_FORMAT, "%s: metadata \"%s\" is '%s', its manifest's '%s': a file of another run",
                             sp, keys[i], b ? b : "(none)", a ? a : "(none)");
    }
    char want[32];
    const char *st = weft_st_meta(sf, "stage"), *of = weft_st_meta(sf, "stage_of");
    snprintf(want, sizeof want, "%lld", (long long)S);
    if (!st || atoi(st) != k || !of || strcmp(of, want))
        return weft_fail(WEFT_ERR_FORMAT, "%s: says it is stage %s of %s, not %d of %lld", sp, st ? st : "?", of ? of : "?",
                         k, (long long)S);
    return WEFT_OK;
}

static weft_status load_staged(const weft_st_file *f, const char *path, weft_store *st, bool params_only,
                               const weft_graph *g)
{
    int64_t S, step;
    const char *tag;
    WEFT_TRY(meta_int(f, path, "stages", 1, WEFT_PIPE_MAX_STAGES, &S));
    WEFT_TRY(meta_int(f, path, "step", 0, (int64_t)1e12, &step));
    WEFT_TRY(meta_need(f, path, "stage_tag", &tag));
    bool *got = calloc(2 * ((size_t)st->n + 1), sizeof *got), *want = got ? got + st->n + 1 : NULL;
    if (!got) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < st->n; i++) want[i] = wanted(&st->t[i], params_only, g);   /* once, not per stage file */
    weft_status s = WEFT_OK;
    for (int k = 0; k < S && !s; k++) {
        char sp[4200];
        weft_ckpt_stage_path(sp, sizeof sp, path, tag, step, k);
        weft_st_file sf = { 0 };
        s = weft_st_read(sp, &sf);
        if (s) { s = weft_fail_wrap(s, "%s: stage %d of %lld", path, k, (long long)S); break; }
        if ((s = stage_file_check(f, &sf, sp, k, S))) { weft_st_free(&sf); break; }
        for (int i = 0; i < st->n && !s; i++) {
            const weft_st_tensor *ft = weft_st_find(&sf, st->t[i].name);
            if (!ft || !want[i]) continue;
            s = copy_tensor(ft, sp, &st->t[i]);
            got[i] = true;
        }
        weft_st_free(&sf);
    }
    for (int i = 0; i < st->n && !s; i++)
        if (!got[i] && want[i])
            s = weft_fail(WEFT_ERR_FORMAT, "%s: tensor %s is in none of its %lld stage files", path, st->t[i].name,
                          (long long)S);
    free(got);
    return s;
}

/* Copies every tensor the store holds from the file (all must be there);
 * params_only: just those graph g uses (no optimizer state). */
weft_status weft_ckpt_load(const weft_st_file *f, const char *path, weft_store *st, bool params_only,
                                const weft_graph *g)
{
    if (weft_st_meta(f, "stages")) return load_staged(f, path, st, params_only, g);
    for (int i = 0; i < st->n; i++) {
        weft_tensor *t = &st->t[i];
        if (!wanted(t, params_only, g)) continue;
        const weft_st_tensor *ft = weft_st_find(f, t->name);
        if (!ft) return weft_fail(WEFT_ERR_FORMAT, "%s: tensor %s is missing", path, t->name);
        WEFT_TRY(copy_tensor(ft, path, t));
    }
    return WEFT_OK;
}

#define EVAL_NONE { NAN, NAN, NAN, NAN, NAN, NAN }

/* The held-out metrics of a task into the result (er NULL: none). */
void weft_take_eval(weft_train_result *r, const weft_eval_result *er)
{
    static const weft_eval_result none = EVAL_NONE;
    if (!er) er = &none;
    r->test_loss = er->loss; r->test_acc = er->acc; r->val_bpb = er->bpb;
    r->val_auc = er->auc; r->best_auc = er->best_auc; r->baseline_acc = er->baseline;
    r->val_logloss = isfinite(er->auc) ? er->loss : NAN;
}

/* ---- progress --------------------------------------------------------------------- */

void weft_progress_show(weft_progress *p, int64_t step, int batch, double loss, bool final)
{
    if (p->quiet) return;
    double now = weft_now(), el = now - p->t0;
    if (!final && now - p->last < (p->tty ? 0.2 : 10.0)) return;
    p->last = now;
    double sps = el > 0 ? (double)step * batch / el : 0;
    double eta = step > 0 ? el * (double)(p->total - step) / (double)step : 0;
    if (p->tty) {
        int w = 30, fill = p->total ? (int)(w * step / p->total) : w;
        char bar[64];
        for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
        bar[w] = 0;
        fprintf(stderr, "\r[%s] %lld/%lld  loss %.4f  %.0f samples/s  ETA %.0fs   ", bar, (long long)step,
                (long long)p->total, loss, sps, eta);
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "step %lld/%lld loss %.4f %.0f samples/s eta %.0fs\n", (long long)step,
                (long long)p->total, loss, sps, eta);
    }
    fflush(stderr);
}

/* Time per op kind and phase over the run, largest first, on stderr. */
static void print_profile(const weft_graph *g, const weft_exec *ex, int64_t steps)
{
    const double *t = weft_exec_node_seconds(ex);
    double by[WEFT_OP_COUNT][5] = { { 0 } }, total = 0;
    for (int i = 0; i < g->nnodes; i++) { by[g->nodes[i].op][g->nodes[i].phase] += t[i]; total += t[i]; }
    fprintf(stderr, "profile: %.3f ms per step in ops\n", 1e3 * total / (double)(steps ? steps : 1));
    for (;;) {
        int bo = -1, bp = 0;
        for (int o = 0; o < WEFT_OP_COUNT; o++)
            for (int p = 1; p < 5; p++)
                if (by[o][p] > 0 && (bo < 0 || by[o][p] > by[bo][bp])) { bo = o; bp = p; }
        if (bo < 0) break;
        fprintf(stderr, "  %-20s %-4s %8.3f ms/step %5.1f%%\n", weft_op_name((weft_op)bo),
                bp == WEFT_PHASE_FWD ? "fwd" : bp == WEFT_PHASE_BWD ? "bwd" : "upd",
                1e3 * by[bo][bp] / (double)(steps ? steps : 1), 100 * by[bo][bp] / total);
        by[bo][bp] = 0;
    }
}

/* ---- the run ------------------------------------------------------------------------ */

weft_status weft_train_run(weft_opts *oio, weft_train_result *r)
{
    return weft_train_run_observed(oio, r, NULL);
}

/* The observer's evaluation at step `step`; its seconds go to *eval_s. */
static weft_status observe_eval(const weft_train_observer *obs, weft_task *task, weft_compiled *ev, int64_t step,
                                double *eval_s)
{
    double t0 = weft_now();
    weft_eval_result er = EVAL_NONE;
    WEFT_TRY(task->evaluate(task, ev->ex, ev->g, &ev->io, &er));
    obs->on_eval(obs->ctx, step, &er);
    *eval_s += weft_now() - t0;
    return WEFT_OK;
}

weft_status weft_train_run_observed(weft_opts *oio, weft_train_result *r, const weft_train_observer *obs)
{
    if (oio->pipeline) {
        if (obs) return weft_fail(WEFT_ERR_ARG, "--pipeline: a study runs on exec; train pipelines with weft train");
        return weft_train_pipe(oio, r);
    }
    WEFT_TRY(weft_pipe_check_flags(oio, false));
    weft_opts o = *oio;
    weft_update_count *counts = NULL;
    memset(r, 0, sizeof *r);
    double t_start = weft_now();
    weft_task task = { 0 };
    weft_compiled tr = { 0 }, ev = { 0 };
    weft_store store;
    weft_store_init(&store);
    FILE *logf = NULL;
    weft_st_file ck = { 0 };
    int64_t step0 = 0;
    const weft_model_preset *preset;
    weft_status s;

    /* A resumed run takes its settings from the file. */
    if (o.resume) {
        s = weft_st_read(o.resume, &ck);
        if (!s) s = weft_ckpt_read_run(&ck, o.resume, &o, &step0);
        if (!s && o.stop_at > 0 && o.stop_at <= step0)
            s = weft_fail(WEFT_ERR_ARG, "--stop-at %lld: %s is already at step %lld", (long long)o.stop_at,
                          o.resume, (long long)step0);
        if (s) goto done;
    }
    if ((s = weft_run_preset(&o, &preset))) goto done;
    weft_opts_resolve(&o, preset);
    /* Fail now, not after the run, when an output cannot be written. */
    if ((s = weft_probe_output(o.checkpoint, "--checkpoint")) ||
        (s = weft_probe_output(o.export_weights, "--export-weights"))) goto done;

    /* The model before the data: a model that cannot be built, or does not
     * fit the data, is told before the data loads. */
    s = weft_compile(&tr, &o, o.batch, true);
    if (!s && !o.no_eval) s = weft_compile(&ev, &o, o.eval_batch, false);
    if (!s) s = weft_task_open(&task, preset, &o, true, !o.no_eval);
    if (!s) s = task.check(&task, tr.g, &tr.io, false);
    if (!s && !o.no_eval) s = task.check(&task, ev.g, &ev.io, true);
    if (!s) s = weft_store_bind(&store, tr.g, (uint64_t)o.seed);
    if (!s && o.resume) s = weft_ckpt_load(&ck, o.resume, &store, false, tr.g);
    else if (!s) s = weft_compiled_fill(&tr, &store);   /* an ONNX model's weights */
    if (!s) s = weft_exec_create(&tr.ex, tr.g, &store, o.threads, (uint64_t)o.seed);
    if (!s && !o.no_eval) s = weft_exec_create(&ev.ex, ev.g, &store, o.threads, (uint64_t)o.seed);
    if (s) goto done;
    if (o.dump) {
        weft_outfile df;
        if ((s = weft_outfile_open(&df, o.dump))) { weft_fail_wrap(s, "--dump-graph"); goto done; }
        weft_graph_dump(tr.g, df.f);
        if ((s = weft_outfile_commit(&df))) { weft_fail_wrap(s, "--dump-graph"); goto done; }
    }
    if (o.log) {
        logf = fopen(o.log, o.resume ? "a" : "w");
        if (!logf) { s = weft_fail(WEFT_ERR_IO, "--log %s: cannot write", o.log); goto done; }
    }

    int B = o.batch;
    int64_t spe = task.steps_per_epoch;
    int64_t total = o.steps > 0 ? o.steps : (int64_t)o.epochs * spe;
    int64_t count_every = 0, eval_every = 0;   /* the observer's, in steps */
    if (obs) {
        if (obs->count_points > 0) count_every = total / obs->count_points > 1 ? total / obs->count_points : 1;
        if (obs->eval_every > 0) eval_every = obs->eval_every;
        else if (obs->eval_points > 0) eval_every = total / obs->eval_points > 1 ? total / obs->eval_points : 1;
        if ((count_every && !(counts = calloc((size_t)tr.g->nnodes, sizeof *counts))) ||
            (obs->on_start && !obs->on_start(obs->ctx, total))) {
            s = weft_fail(WEFT_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    if (step0 > total) { s = weft_fail(WEFT_ERR_ARG, "%s is at step %lld, past the %lld steps asked for", o.resume, (long long)step0, (long long)total); goto done; }

    int64_t end = o.stop_at > 0 && o.stop_at < total ? o.stop_at : total;
    weft_progress pg = { .tty = isatty(2), .quiet = o.quiet, .t0 = weft_now(), .total = end - step0 };
    weft_run_opts ro = { .hp = { (float)o.lr, (float)o.momentum, (float)o.weight_decay, 0.9f, 0.999f, 1e-8f } };
    double loss = NAN;
    double t_train = weft_now();
    /* samples/s is timed after WARMUP steps (first-touch page faults, thread
     * start-up), as the PyTorch peer times its steps; short runs time all. */
    enum { WARMUP = 5 };
    int64_t timed_from = end - step0 > 4 * WARMUP ? step0 + WARMUP : step0;
    double t_timed = t_train, eval_s = 0, eval_untimed = 0;   /* observer evaluations: not training time */
    for (int64_t st = step0; st < end; st++) {
        if (st == timed_from) { t_timed = weft_now(); eval_untimed = eval_s; }
        if ((s = task.feed(&task, tr.ex, tr.g, &tr.io, st, (uint64_t)o.seed))) goto done;
        ro.step = st + 1;
        ro.hp.lr = (float)weft_lr_at(&o, o.lr, st + 1, total);
        ro.phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD;
        ro.check_finite = false;
        if ((s = weft_exec_run(tr.ex, &ro))) goto done;
        loss = *(float *)weft_exec_ptr(tr.ex, tr.io.loss);
        if (!isfinite(loss)) {
            /* Find the first op that produced it: the weights are untouched,
             * so the forward pass reproduces it. */
            ro.phases = WEFT_PHASE_FWD;
            ro.check_finite = true;
            s = weft_exec_run(tr.ex, &ro);
            if (!s) s = weft_fail(WEFT_ERR_NUMERIC, "step %lld: the loss is %g", (long long)(st + 1), loss);
            else weft_fail_wrap(s, "training stopped: the loss became non-finite");
            goto done;
        }
        ro.phases = WEFT_PHASE_UPDATE;
        bool count = counts && ((st + 1) % count_every == 0 || st + 1 == end || st == step0);
        if (count) memset(counts, 0, (size_t)tr.g->nnodes * sizeof *counts);
        ro.update_counts = count ? counts : NULL;
        if ((s = weft_exec_run(tr.ex, &ro))) goto done;
        if (obs && obs->on_step) obs->on_step(obs->ctx, st + 1, loss, ro.hp.lr, tr.g, count ? counts : NULL);
        if (obs && obs->on_eval && eval_every > 0 && !o.no_eval && (st + 1) % eval_every == 0 &&
            st + 1 < end && (s = observe_eval(obs, &task, &ev, st + 1, &eval_s)))
            goto done;
        weft_progress_show(&pg, st + 1 - step0, B, loss, false);
        if (o.checkpoint && o.checkpoint_every > 0 && (st + 1) % o.checkpoint_every == 0 && st + 1 < end &&
            (s = weft_ckpt_save(o.checkpoint, &store, &o, st + 1, total))) goto done;
        if (logf && ((st + 1) % 50 == 0 || st + 1 == total))
            fprintf(logf, "{\"step\": %lld, \"epoch\": %.4f, \"loss\": %.6f, \"lr\": %g}\n", (long long)(st + 1),
                    (double)(st + 1) / (double)spe, loss, (double)ro.hp.lr);
    }
    double train_s = weft_now() - t_train - eval_s;
    if (o.profile) print_profile(tr.g, tr.ex, end - step0);
    weft_progress_show(&pg, end - step0, B, loss, true);

    r->steps = end;
    r->epochs = (double)end / (double)spe;
    r->train_loss = loss;
    r->train_s = train_s;
    double timed_s = weft_now() - t_timed - (eval_s - eval_untimed);
    r->samples_per_s = timed_s > 0 ? (double)(end - timed_from) * B / timed_s : 0;
    r->peak_arena_bytes = weft_exec_arena_bytes(tr.ex);
    r->params = weft_graph_param_count(tr.g);
    r->bytes_per_param = weft_precision_bytes_per_param(o.precision, weft_optimizer_nstates(o.optimizer));
    r->store_bytes = r->grad_bytes = 0;
    for (int i = 0; i < store.n; i++) r->store_bytes += (int64_t)store.t[i].nbytes;
    for (int v = 0; v < tr.g->nvalues; v++) {
        const weft_value *x = &tr.g->values[v];
        if (x->role != WEFT_ROLE_PARAM) continue;
        const weft_value *gv = &tr.g->values[x->grad];
        r->grad_bytes += weft_shape_numel(&gv->shape) * (int64_t)weft_dtype_size(gv->dtype);
    }
    weft_take_eval(r, NULL);
    r->task = task.name;
    if (o.checkpoint && (s = weft_ckpt_save(o.checkpoint, &store, &o, end, total))) goto done;
    if ((s = weft_onnx_export(&tr, &store, &o, end))) goto done;
    if (!o.no_eval) {
        weft_eval_result er = EVAL_NONE;
        if ((s = task.evaluate(&task, ev.ex, ev.g, &ev.io, &er))) goto done;
        weft_take_eval(r, &er);
        if (obs && obs->on_eval) obs->on_eval(obs->ctx, end, &er);
        if (logf)
            fprintf(logf, "{\"step\": %lld, \"eval_loss\": %.6f, \"test_acc\": %.6f, \"val_bpb\": %.6f, "
                    "\"val_auc\": %.6f}\n", (long long)end, er.loss, er.acc, er.bpb, er.auc);
    }
    r->wall_s = weft_now() - t_start;
done:
    /* Hand back the options the run used; owned strings move with them. */
    weft_opts_copy(oio, &o);
    if (logf) fclose(logf);
    free(counts);
    if (o.resume) weft_st_free(&ck);
    weft_compiled_free(&tr);
    weft_compiled_free(&ev);
    weft_store_free(&store);
    if (task.close) task.close(&task);
    return s;
}

weft_status weft_eval_checkpoint(weft_opts *oio, weft_train_result *r)
{
    weft_opts o = *oio;
    memset(r, 0, sizeof *r);
    if (!o.checkpoint) return weft_fail(WEFT_ERR_ARG, "eval needs --checkpoint FILE");
    double t0 = weft_now();
    weft_st_file ck = { 0 };
    weft_task task = { 0 };
    weft_compiled ev = { 0 };
    weft_store store;
    weft_store_init(&store);
    const weft_model_preset *preset = NULL;
    int eval_batch = o.eval_batch;
    weft_status s = weft_st_read(o.checkpoint, &ck);
    if (!s) s = weft_ckpt_read_run(&ck, o.checkpoint, &o, &r->steps);
    if (!s) s = weft_run_preset(&o, &preset);
    if (!s) {
        o.eval_batch = eval_batch;
        weft_opts_resolve(&o, preset);
        s = weft_task_open(&task, preset, &o, false, true);
    }
    if (!s) s = weft_compile(&ev, &o, o.eval_batch, false);
    if (!s) s = task.check(&task, ev.g, &ev.io, true);
    if (!s) s = weft_store_bind(&store, ev.g, 0);
    if (!s) s = weft_ckpt_load(&ck, o.checkpoint, &store, true, ev.g);
    if (!s) s = weft_exec_create(&ev.ex, ev.g, &store, o.threads, 0);
    weft_eval_result er = EVAL_NONE;
    if (!s) s = task.evaluate(&task, ev.ex, ev.g, &ev.io, &er);
    if (!s) {
        weft_take_eval(r, &er);
        r->task = task.name;
        r->params = weft_graph_param_count(ev.g);
        r->peak_arena_bytes = weft_exec_arena_bytes(ev.ex);
        r->wall_s = weft_now() - t0;
        r->train_loss = NAN;
    }
    weft_opts_copy(oio, &o);
    weft_st_free(&ck);
    weft_compiled_free(&ev);
    weft_store_free(&store);
    if (task.close) task.close(&task);
    return s;
}

static void jnum(FILE *f, const char *k, double v, bool last)
{
    if (isfinite(v)) fprintf(f, "\"%s\": %.6g%s", k, v, last ? "" : ", ");
    else fprintf(f, "\"%s\": null%s", k, last ? "" : ", ");
}

void weft_train_print_json(FILE *f, const weft_opts *o, const weft_train_result *r)
{
    fprintf(f, "{\"model\": \"%s\", ", o->model);
    if (o->onnx) {
        fprintf(f, "\"onnx\": ");
        weft_json_string(f, o->onnx);
        fprintf(f, ", \"data\": \"%s\", \"loss\": \"%s\", ", o->data ? o->data : "fmnist", o->loss ? o->loss : "xent");
    }
    fprintf(f, "\"precision\": \"%s\", \"optimizer\": \"%s\", \"steps\": %lld, ", weft_precision_name(o->precision),
            o->optimizer == WEFT_OPT_ADAMW ? "adamw" : "sgd", (long long)r->steps);
    jnum(f, "epochs", r->epochs, false);
    fprintf(f, "\"batch\": %d, \"threads\": %d, ", o->batch, o->threads);
    jnum(f, "train_loss", r->train_loss, false);
    jnum(f, "test_loss", r->test_loss, false);
    jnum(f, "test_acc", r->test_acc, false);
    if (isfinite(r->val_bpb)) { jnum(f, "val_loss", r->test_loss, false); jnum(f, "val_bpb", r->val_bpb, false); }
    if (isfinite(r->baseline_acc)) jnum(f, "baseline_acc", r->baseline_acc, false);
    if (isfinite(r->val_auc)) {
        jnum(f, "val_auc", r->val_auc, false);
        jnum(f, "val_logloss", r->val_logloss, false);
        jnum(f, "best_auc", r->best_auc, false);
    }
    jnum(f, "samples_per_s", r->samples_per_s, false);
    jnum(f, "train_s", r->train_s, false);
    jnum(f, "wall_s", r->wall_s, false);
    fprintf(f, "\"peak_arena_bytes\": %lld, \"store_bytes\": %lld, \"grad_bytes\": %lld, \"params\": %lld, ",
            (long long)r->peak_arena_bytes, (long long)r->store_bytes, (long long)r->grad_bytes, (long long)r->params);
    if (o->pipeline) {
        fprintf(f, "\"pipeline\": \"%s\", \"stages\": %d, \"microbatches\": %d, ", o->pipeline, o->stages,
                o->microbatches);
        jnum(f, "utilization", r->pipe_util, false);
        jnum(f, "closed_form_utilization", r->pipe_closed, false);
        fprintf(f, "\"stash_bytes\": %lld, \"delays\": [", (long long)r->pipe_stash_bytes);
        for (int s = 0; s < o->stages && s < 64; s++) fprintf(f, "%s%d", s ? ", " : "", r->pipe_tau[s]);
        if (r->mpi_ranks) {
            fprintf(f, "], \"mpi_ranks\": %d, \"data_parallel\": %d, \"sent_bytes_per_step\": [", r->mpi_ranks,
                    o->data_parallel > 1 ? o->data_parallel : 1);
            for (int s = 0; s < o->stages && s < 64; s++) fprintf(f, "%s%.0f", s ? ", " : "", r->mpi_sent[s]);
            fprintf(f, "], \"reduce_bytes_per_step\": [");
            for (int s = 0; s < o->stages && s < 64; s++) fprintf(f, "%s%.0f", s ? ", " : "", r->mpi_reduce[s]);
        }
        fprintf(f, "], ");
    }
    jnum(f, "bytes_per_param", r->bytes_per_param, true);
    fprintf(f, "}\n");
}

void weft_train_print_summary(FILE *f, const weft_opts *o, const weft_train_result *r)
{
    fprintf(f, "model %s%s%s, precision %s, %lld steps (%.2f epochs) of batch %d on %d threads\n", o->model,
            o->onnx ? " " : "", o->onnx ? o->onnx : "", weft_precision_name(o->precision), (long long)r->steps, r->epochs,
            o->batch, o->threads);
    if (o->export_weights) fprintf(f, "  weights written   %s (the ONNX file's names and layouts)\n", o->export_weights);
    if (isfinite(r->train_loss)) fprintf(f, "  train loss        %.4f\n", r->train_loss);
    if (isfinite(r->test_acc))
        fprintf(f, "  %-17s %.2f%%  (loss %.4f)\n", isfinite(r->baseline_acc) ? "val accuracy" : "test accuracy",
                100 * r->test_acc, r->test_loss);
    if (isfinite(r->baseline_acc))
        fprintf(f, "  baseline          %.2f%%  (each word's most frequent tag in training)\n", 100 * r->baseline_acc);
    if (isfinite(r->val_auc)) {
        fprintf(f, "  validation AUC    %.4f  (log loss %.4f)", r->val_auc, r->val_logloss);
        if (isfinite(r->best_auc)) fprintf(f, "; best achievable %.4f (gap %.4f)", r->best_auc, r->best_auc - r->val_auc);
        fputc('\n', f);
    }
    if (isfinite(r->val_bpb)) fprintf(f, "  validation        %.4f bits per byte  (loss %.4f)\n", r->val_bpb, r->test_loss);
    if (r->samples_per_s > 0) fprintf(f, "  speed             %.0f samples/s\n", r->samples_per_s);
    fprintf(f, "  parameters        %lld, %.0f bytes each with optimizer state\n", (long long)r->params, r->bytes_per_param);
    if (o->pipeline) {
        fprintf(f, "  pipeline          %s, %d stages, %d microbatch%s a step: utilization %.1f%% on the virtual clock",
                o->pipeline, o->stages, o->microbatches, o->microbatches > 1 ? "es" : "", 100 * r->pipe_util);
        if (isfinite(r->pipe_closed)) fprintf(f, " (closed form %.1f%%)", 100 * r->pipe_closed);
        fprintf(f, "\n  delays by stage  ");
        for (int s = 0; s < o->stages && s < 64; s++) fprintf(f, " %d", r->pipe_tau[s]);
        fprintf(f, "  (updates between a microbatch's forward and backward)\n");
        if (r->mpi_ranks) {
            int R = o->data_parallel > 1 ? o->data_parallel : 1;
            fprintf(f, "  mpi               %d ranks (%d stage%s x %d replica%s); bytes a rank sends a step:", r->mpi_ranks,
                    o->stages, o->stages > 1 ? "s" : "", R, R > 1 ? "s" : "");
            for (int s = 0; s < o->stages && s < 64; s++)
                fprintf(f, " %.0f%s", r->mpi_sent[s] + r->mpi_reduce[s], r->mpi_reduce[s] > 0 ? "*" : "");
            fprintf(f, "%s\n", o->data_parallel > 1 ? " (* with the gradient sums)" : "");
        }
        if (r->pipe_stash_bytes)
            fprintf(f, "  stashed weights   %.2f MiB (weight versions pipedream keeps)\n", (double)r->pipe_stash_bytes / 1048576.0);
    }
    fprintf(f, "  %-17s %.2f MiB\n", o->pipeline ? "arenas" : "peak arena", (double)r->peak_arena_bytes / 1048576.0);
    fprintf(f, "  wall time         %.1f s\n", r->wall_s);
}
