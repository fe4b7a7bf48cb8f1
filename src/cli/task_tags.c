/* task_tags.c — universal part-of-speech tagging of the Brown corpus for
 * token-classification models (bert-tiny).
 *
 * Words are ids of a vocabulary of V (the model's, 8192): the V - WEFT_BROWN_UNK_CLASSES
 * most frequent lower-cased training words (weft/corpus.h) and WEFT_BROWN_UNK_CLASSES
 * classes of unknown word, by the word's shape as written (weft/corpus.h), so
 * a model can tell an unknown "Kennedy" from an unknown "reappraised". The
 * sentences of a split, in corpus order, make one token stream. A training
 * batch is B windows of T tokens of the training stream at offsets drawn
 * from the counter RNG keyed by (seed, step); targets are the universal tags.
 * Evaluation tags the whole validation stream in consecutive windows (the
 * last one padded with ignored targets) and reports the accuracy over every
 * validation token, with the most-frequent-tag baseline beside it. */
#include "cli/task.h"
#include "weft/corpus.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_TAGS 0x54414753ull   /* the RNG stream of training windows */

typedef struct {
    weft_brown_tagged train, val;
    int32_t vocab;          /* ids the data uses: 0 .. vocab-1       */
    double baseline;        /* most-frequent-tag accuracy on validation */
    char dir[512];
    int32_t *tok, *pos, *tgt;
    float *logits;
    int cap;
} tags;

static void dims(const weft_graph *g, const weft_model_io *io, int *B, int *T)
{
    *B = (int)g->values[io->x].shape.d[0];
    *T = (int)g->values[io->x].shape.d[1];
}

static weft_status check(weft_task *t, const weft_graph *g, const weft_model_io *io, bool eval)
{
    tags *m = t->impl;
    if (io->pos < 0 || g->values[io->x].dtype != WEFT_I32 || g->values[io->x].shape.ndim != 2)
        return weft_fail(WEFT_ERR_ARG, "the model does not take word ids (B,T): not a token classifier");
    const weft_shape *l = &g->values[io->logits].shape;
    if (l->ndim != 2 || l->d[1] != WEFT_UTAG_COUNT)
        return weft_fail(WEFT_ERR_ARG, "the model's logits are not per-token scores of the %d universal tags",
                         WEFT_UTAG_COUNT);
    int B, T;
    dims(g, io, &B, &T);
    const weft_brown_tagged *d = eval ? &m->val : &m->train;
    if (d->ntokens < T)
        return weft_fail(WEFT_ERR_FORMAT, "%s: the %s split has %lld tokens, fewer than one window of %d", m->dir,
                         eval ? "validation" : "training", (long long)d->ntokens, T);
    if (!eval) t->steps_per_epoch = m->train.ntokens / ((int64_t)B * T) > 0 ? m->train.ntokens / ((int64_t)B * T) : 1;
    if (B * T > m->cap) {
        free(m->tok); free(m->pos); free(m->tgt); free(m->logits);
        m->tok = malloc((size_t)B * T * sizeof *m->tok);
        m->pos = malloc((size_t)B * T * sizeof *m->pos);
        m->tgt = malloc((size_t)B * T * sizeof *m->tgt);
        m->logits = malloc((size_t)B * T * WEFT_UTAG_COUNT * sizeof *m->logits);
        m->cap = B * T;
        if (!m->tok || !m->pos || !m->tgt || !m->logits) {
            m->cap = 0;
            return weft_fail(WEFT_ERR_NOMEM, "out of memory for a batch");
        }
    }
    return WEFT_OK;
}

/* Window b starts at token offs[b]; positions past the stream are padding
 * (word 0, target -1). Returns the count of real tokens. */
static int64_t fill(tags *m, const weft_brown_tagged *d, const int64_t *offs, int B, int T)
{
    int64_t real = 0;
    for (int b = 0; b < B; b++)
        for (int s = 0; s < T; s++) {
            int i = b * T + s;
            int64_t k = offs[b] + s;
            bool ok = offs[b] >= 0 && k < d->ntokens;
            m->tok[i] = ok ? d->words[k] : 0;
            m->tgt[i] = ok ? d->tags[k] : -1;
            m->pos[i] = s;
            real += ok;
        }
    return real;
}

static weft_status feed_batch(tags *m, weft_exec *ex, const weft_model_io *io)
{
    WEFT_TRY(weft_exec_feed(ex, io->x, m->tok, WEFT_I32));
    WEFT_TRY(weft_exec_feed(ex, io->pos, m->pos, WEFT_I32));
    return weft_exec_feed(ex, io->y, m->tgt, WEFT_I32);
}

static weft_status feed(weft_task *t, weft_exec *ex, const weft_graph *g, const weft_model_io *io,
                        int64_t step, uint64_t seed)
{
    tags *m = t->impl;
    int B, T;
    dims(g, io, &B, &T);
    int64_t *offs = malloc((size_t)B * sizeof *offs);
    if (!offs) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    weft_task_window_offsets(seed, step, STREAM_TAGS, B, (uint64_t)(m->train.ntokens - T + 1), offs);
    fill(m, &m->train, offs, B, T);
    free(offs);
    return feed_batch(m, ex, io);
}

static weft_status evaluate(weft_task *t, weft_exec *ex, const weft_graph *g, const weft_model_io *io,
                            weft_eval_result *r)
{
    tags *m = t->impl;
    int B, T;
    dims(g, io, &B, &T);
    const int C = WEFT_UTAG_COUNT;
    int64_t windows = (m->val.ntokens + T - 1) / T, nb = (windows + B - 1) / B;
    int64_t *offs = malloc((size_t)B * sizeof *offs);
    if (!offs) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD, .eval = true };
    double lsum = 0;
    int64_t correct = 0, seen = 0;
    weft_status s = WEFT_OK;
    for (int64_t k = 0; k < nb && !s; k++) {
        for (int b = 0; b < B; b++) offs[b] = k * B + b < windows ? (k * B + b) * (int64_t)T : -1;
        int64_t real = fill(m, &m->val, offs, B, T);
        s = feed_batch(m, ex, io);
        if (!s) s = weft_exec_run(ex, &ro);
        if (!s) s = weft_exec_read(ex, io->logits, m->logits);
        if (s) break;
        lsum += (double)*(float *)weft_exec_ptr(ex, io->loss) * (double)real;   /* a mean over real tokens */
        for (int i = 0; i < B * T; i++) {
            if (m->tgt[i] < 0) continue;
            const float *row = m->logits + (int64_t)i * C;
            int best = 0;
            for (int c = 1; c < C; c++) if (row[c] > row[best]) best = c;
            correct += best == m->tgt[i];
        }
        seen += real;
    }
    free(offs);
    if (s) return s;
    r->loss = lsum / (double)seen;
    r->acc = (double)correct / (double)seen;
    r->bpb = NAN;
    r->baseline = m->baseline;
    return WEFT_OK;
}

static void close_tags(weft_task *t)
{
    tags *m = t->impl;
    if (!m) return;
    weft_brown_tagged_free(&m->train);
    weft_brown_tagged_free(&m->val);
    free(m->tok); free(m->pos); free(m->tgt); free(m->logits);
    free(m);
    t->impl = NULL;
}

weft_status weft_task_tags_open(weft_task *t, const weft_opts *o, bool train, bool eval)
{
    tags *m = calloc(1, sizeof *m);
    if (!m) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    *t = (weft_task){ .name = "Brown universal tags", .samples_per_step = 1, .impl = m, .check = check,
                      .feed = feed, .evaluate = evaluate, .close = close_tags };
    int32_t vocab = o->vocab ? o->vocab : WEFT_BROWN_VOCAB_WORDS;
    weft_status s = vocab <= WEFT_BROWN_UNK_CLASSES
        ? weft_fail(WEFT_ERR_ARG, "--vocab %d: a tagger needs more than %d word ids", vocab, WEFT_BROWN_UNK_CLASSES) : WEFT_OK;
    if (!s && o->data_dir) snprintf(m->dir, sizeof m->dir, "%s", o->data_dir);
    else if (!s) s = weft_brown_default_dir(m->dir, sizeof m->dir);
    weft_brown b = { 0 };
    weft_brown_vocab v = { 0 };
    if (!s) s = weft_brown_load(m->dir, &b);
    if (!s) s = weft_brown_vocab_build(&b, vocab - WEFT_BROWN_UNK_CLASSES, &v);
    if (!s && train) s = weft_brown_tagged_split(&b, &v, WEFT_BROWN_TRAIN, &m->train);
    if (!s && train) weft_brown_tagged_classify(&b, WEFT_BROWN_TRAIN, &m->train, vocab);
    if (!s && eval) s = weft_brown_tagged_split(&b, &v, WEFT_BROWN_VALID, &m->val);
    if (!s && eval) weft_brown_tagged_classify(&b, WEFT_BROWN_VALID, &m->val, vocab);
    if (!s && eval) s = weft_brown_baseline(&b, &v, &m->baseline);
    m->vocab = vocab;
    weft_brown_vocab_free(&v);
    weft_brown_free(&b);
    if (s) {
        weft_fail_wrap(s, "the Brown corpus (scripts/fetch_brown.sh fetches it; --data-dir names another copy)");
        close_tags(t);
        return s;
    }
    return WEFT_OK;
}
