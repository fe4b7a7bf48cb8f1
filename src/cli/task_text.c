/* task_text.c — Brown bytes for byte-level language models.
 *
 * Training batches are B windows of T+1 bytes of the training text at
 * offsets drawn from the counter RNG keyed by (seed, step), so a resumed run
 * sees the same batches. Inputs are the first T bytes, targets the last T,
 * positions 0..T-1 (for models that take them). Evaluation runs consecutive
 * non-overlapping windows of the validation text from its start, up to
 * EVAL_TOKENS tokens, and reports
 * the mean cross-entropy and bits per byte (one token is one byte, so
 * bpb = loss / ln 2). */
#include "cli/task.h"
#include "weft/corpus.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_TEXT 0x544558545752ull   /* the RNG stream of training windows */
#define EVAL_TOKENS (1 << 17)

typedef struct {
    uint8_t *train, *val;
    int64_t ntrain, nval;
    char dir[512];
    int32_t *tok, *pos, *tgt;
    int cap;        /* tokens the buffers hold */
} text;

static void dims(const weft_graph *g, const weft_model_io *io, int *B, int *T)
{
    *B = (int)g->values[io->x].shape.d[0];
    *T = (int)g->values[io->x].shape.d[1];
}

static weft_status buffers(text *m, int n)
{
    if (n <= m->cap) return WEFT_OK;
    free(m->tok); free(m->pos); free(m->tgt);
    m->tok = malloc((size_t)n * sizeof *m->tok);
    m->pos = malloc((size_t)n * sizeof *m->pos);
    m->tgt = malloc((size_t)n * sizeof *m->tgt);
    m->cap = n;
    if (!m->tok || !m->pos || !m->tgt) { m->cap = 0; return weft_fail(WEFT_ERR_NOMEM, "out of memory for a batch"); }
    return WEFT_OK;
}

static weft_status check(weft_task *t, const weft_graph *g, const weft_model_io *io, bool eval)
{
    text *m = t->impl;
    const weft_value *xv = &g->values[io->x], *lv = &g->values[io->logits];
    char a[64];
    if (xv->dtype != WEFT_I32 || xv->shape.ndim != 2)
        return weft_fail(WEFT_ERR_ARG, "the model does not take token ids (B,T): not a language model (its input %s "
                         "is %s %s)", xv->name, weft_dtype_name(xv->dtype), weft_shape_str(&xv->shape, a, sizeof a));
    int B, T;
    dims(g, io, &B, &T);
    if (lv->shape.ndim != 2 || lv->shape.d[0] != (int64_t)B * T || lv->shape.d[1] < 256)
        return weft_fail(WEFT_ERR_SHAPE, "Brown bytes: the model's logits %s are %s; a byte-level language model "
                         "needs (B*T, V >= 256) for its input (%d, %d)", lv->name, weft_shape_str(&lv->shape, a, sizeof a),
                         B, T);
    int64_t n = eval ? m->nval : m->ntrain;
    if (n < (int64_t)T + 1)
        return weft_fail(WEFT_ERR_FORMAT, "%s: the %s text (%lld bytes) is shorter than one window of %d",
                         m->dir, eval ? "validation" : "training", (long long)n, T + 1);
    if (!eval) t->steps_per_epoch = m->ntrain / ((int64_t)B * T) > 0 ? m->ntrain / ((int64_t)B * T) : 1;
    if (eval && (n - 1) / T < B)
        return weft_fail(WEFT_ERR_ARG, "--eval-batch %d: the validation text holds only %lld windows of %d bytes",
                         B, (long long)((n - 1) / T), T);
    return buffers(m, B * T);
}

static weft_status feed_windows(text *m, weft_exec *ex, const weft_model_io *io, const uint8_t *bytes,
                                const int64_t *offs, int B, int T)
{
    for (int b = 0; b < B; b++)
        for (int s = 0; s < T; s++) {
            int i = b * T + s;
            m->tok[i] = bytes[offs[b] + s];
            m->tgt[i] = bytes[offs[b] + s + 1];
            m->pos[i] = s;
        }
    WEFT_TRY(weft_exec_feed(ex, io->x, m->tok, WEFT_I32));
    if (io->pos >= 0) WEFT_TRY(weft_exec_feed(ex, io->pos, m->pos, WEFT_I32));
    return weft_exec_feed(ex, io->y, m->tgt, WEFT_I32);
}

void weft_task_window_offsets(uint64_t seed, int64_t step, uint64_t stream, int B, uint64_t span, int64_t *offs)
{
    weft_rng_key key = weft_rng_key_make(seed, (uint64_t)step, stream);
    for (int b = 0; b < B; b++) {
        uint64_t r = (uint64_t)weft_rng_u32(key, 2u * (uint32_t)b) << 32 | weft_rng_u32(key, 2u * (uint32_t)b + 1);
        offs[b] = (int64_t)(r % span);
    }
}

static weft_status feed(weft_task *t, weft_exec *ex, const weft_graph *g, const weft_model_io *io,
                        int64_t step, uint64_t seed)
{
    text *m = t->impl;
    int B, T;
    dims(g, io, &B, &T);
    int64_t *offs = malloc((size_t)B * sizeof *offs);
    if (!offs) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    /* offsets 0 .. ntrain-T-1 */
    weft_task_window_offsets(seed, step, STREAM_TEXT, B, (uint64_t)(m->ntrain - T), offs);
    weft_status s = feed_windows(m, ex, io, m->train, offs, B, T);
    free(offs);
    return s;
}

static weft_status evaluate(weft_task *t, weft_exec *ex, const weft_graph *g, const weft_model_io *io,
                            weft_eval_result *r)
{
    text *m = t->impl;
    int B, T;
    dims(g, io, &B, &T);
    int64_t windows = (m->nval - 1) / T;
    if (windows * T > EVAL_TOKENS) windows = EVAL_TOKENS / T;
    int64_t nb = windows / B;
    int64_t *offs = malloc((size_t)B * sizeof *offs);
    if (!offs) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD, .eval = true };
    double lsum = 0;
    weft_status s = WEFT_OK;
    for (int64_t k = 0; k < nb && !s; k++) {
        for (int b = 0; b < B; b++) offs[b] = (k * B + b) * (int64_t)T;
        s = feed_windows(m, ex, io, m->val, offs, B, T);
        if (!s) s = weft_exec_run(ex, &ro);
        if (!s) lsum += *(float *)weft_exec_ptr(ex, io->loss);
    }
    free(offs);
    if (s) return s;
    r->loss = lsum / (double)nb;
    r->bpb = r->loss / log(2.0);
    r->acc = NAN;
    return WEFT_OK;
}

static void close_text(weft_task *t)
{
    text *m = t->impl;
    if (!m) return;
    free(m->train); free(m->val);
    free(m->tok); free(m->pos); free(m->tgt);
    free(m);
    t->impl = NULL;
}

weft_status weft_task_text_open(weft_task *t, const weft_opts *o, bool train, bool eval)
{
    text *m = calloc(1, sizeof *m);
    if (!m) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    *t = (weft_task){ .name = "Brown bytes", .samples_per_step = 1, .impl = m, .check = check,
                      .feed = feed, .evaluate = evaluate, .close = close_text };
    weft_status s = WEFT_OK;
    if (o->data_dir) snprintf(m->dir, sizeof m->dir, "%s", o->data_dir);
    else s = weft_brown_default_dir(m->dir, sizeof m->dir);
    weft_brown b = { 0 };
    if (!s) s = weft_brown_load(m->dir, &b);
    if (!s && train) s = weft_brown_text(&b, WEFT_BROWN_TRAIN, &m->train, &m->ntrain);
    if (!s && eval) s = weft_brown_text(&b, WEFT_BROWN_VALID, &m->val, &m->nval);
    weft_brown_free(&b);
    if (s) {
        weft_fail_wrap(s, "the Brown corpus (scripts/fetch_brown.sh fetches it; --data-dir names another copy)");
        close_text(t);
        return s;
    }
    return WEFT_OK;
}

weft_status weft_task_open(weft_task *t, const weft_model_preset *p, const weft_opts *o, bool train, bool eval)
{
    memset(t, 0, sizeof *t);
    switch (p->task) {
    case WEFT_TASK_TEXT: return weft_task_text_open(t, o, train, eval);
    case WEFT_TASK_TAGS: return weft_task_tags_open(t, o, train, eval);
    case WEFT_TASK_CLICKS: return weft_task_clicks_open(t, o, train, eval);
    default: return weft_task_images_open(t, o, train, eval);
    }
}
