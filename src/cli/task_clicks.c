/* task_clicks.c — click-through data for DLRM-style models (dlrm-small).
 *
 * --data synthetic[:N] generates the Criteo-shaped synthetic set (weft/
 * clicks.h: N training examples, DEFAULT_TRAIN by default, and 100000
 * validation examples, with the model's rows per table as every
 * cardinality);
 * --data criteo:PATH reads Criteo's tab-separated file, ids reduced modulo
 * the rows per table, and validates on the last tenth of its lines.
 * Training batches follow a fresh permutation of the training examples each
 * epoch (keyed by the seed). The model sees table t's id i as row
 * t*rows + i of its one stacked table. Evaluation scores every validation
 * example and reports ROC AUC and log loss, with the generator's best
 * achievable AUC beside them. */
#include "cli/task.h"
#include "weft/clicks.h"
#include "weft/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One epoch of 4M examples is dlrm-small's default schedule: with AdamW
 * (lr 2e-3) it ends within 0.005 of the generator's best AUC; 1M examples
 * leave it about 0.008 short, and a second epoch over 2M overfits. */
#define DEFAULT_TRAIN 4000000

typedef struct {
    weft_clicks train, val;
    int64_t rows;               /* rows per table */
    int64_t *perm, perm_epoch;
    float *dense, *labels, *scores;
    int32_t *ids;
    int cap;
} clicks;

static int batch_of(const weft_graph *g, const weft_model_io *io) { return (int)g->values[io->y].shape.d[0]; }

static weft_status check(weft_task *t, const weft_graph *g, const weft_model_io *io, bool eval)
{
    clicks *m = t->impl;
    if (io->ids < 0 || g->values[io->x].shape.ndim != 2 || g->values[io->x].shape.d[1] != WEFT_CLICKS_NDENSE ||
        g->values[io->ids].shape.d[1] != WEFT_CLICKS_NSPARSE)
        return weft_fail(WEFT_ERR_ARG, "the model does not take %d dense and %d categorical features: not a click model",
                         WEFT_CLICKS_NDENSE, WEFT_CLICKS_NSPARSE);
    int B = batch_of(g, io);
    const weft_clicks *d = eval ? &m->val : &m->train;
    if (d->n < B)
        return weft_fail(WEFT_ERR_ARG, "--%s %d is larger than the %lld %s examples", eval ? "eval-batch" : "batch", B,
                         (long long)d->n, eval ? "validation" : "training");
    if (!eval) t->steps_per_epoch = m->train.n / B;
    if (B > m->cap) {
        free(m->dense); free(m->labels); free(m->ids); free(m->scores);
        m->dense = malloc((size_t)B * WEFT_CLICKS_NDENSE * sizeof *m->dense);
        m->labels = malloc((size_t)B * sizeof *m->labels);
        m->scores = malloc((size_t)B * sizeof *m->scores);
        m->ids = malloc((size_t)B * WEFT_CLICKS_NSPARSE * sizeof *m->ids);
        m->cap = B;
        if (!m->dense || !m->labels || !m->ids || !m->scores) {
            m->cap = 0;
            return weft_fail(WEFT_ERR_NOMEM, "out of memory for a batch");
        }
    }
    return WEFT_OK;
}

static weft_status feed_idx(clicks *m, const weft_clicks *d, weft_exec *ex, const weft_model_io *io,
                            const int64_t *idx, int B)
{
    weft_clicks_gather(d, idx, B, m->dense, m->ids, m->labels);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < WEFT_CLICKS_NSPARSE; t++) m->ids[b * WEFT_CLICKS_NSPARSE + t] += (int32_t)(t * m->rows);
    WEFT_TRY(weft_exec_feed(ex, io->x, m->dense, WEFT_F32));
    WEFT_TRY(weft_exec_feed(ex, io->ids, m->ids, WEFT_I32));
    return weft_exec_feed(ex, io->y, m->labels, WEFT_F32);
}

static weft_status feed(weft_task *t, weft_exec *ex, const weft_graph *g, const weft_model_io *io,
                        int64_t step, uint64_t seed)
{
    clicks *m = t->impl;
    int B = batch_of(g, io);
    int64_t spe = m->train.n / B, epoch = step / spe;
    if (!m->perm) {
        m->perm = malloc((size_t)m->train.n * sizeof *m->perm);
        m->perm_epoch = -1;
        if (!m->perm) return weft_fail(WEFT_ERR_NOMEM, "out of memory for the example order");
    }
    if (epoch != m->perm_epoch) {
        weft_dataset_permutation(m->train.n, seed, epoch, m->perm);
        m->perm_epoch = epoch;
    }
    return feed_idx(m, &m->train, ex, io, m->perm + (step % spe) * B, B);
}

static weft_status evaluate(weft_task *t, weft_exec *ex, const weft_graph *g, const weft_model_io *io,
                            weft_eval_result *r)
{
    clicks *m = t->impl;
    int B = batch_of(g, io);
    int64_t n = m->val.n;
    float *scores = malloc((size_t)n * sizeof *scores), *prob = malloc((size_t)n * sizeof *prob);
    int64_t *idx = malloc((size_t)B * sizeof *idx);
    weft_status s = scores && prob && idx ? WEFT_OK : weft_fail(WEFT_ERR_NOMEM, "out of memory");
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD, .eval = true };
    /* every example once: the last batch is topped up with the first ones */
    for (int64_t k = 0; k < n && !s; k += B) {
        for (int b = 0; b < B; b++) idx[b] = (k + b) % n;
        s = feed_idx(m, &m->val, ex, io, idx, B);
        if (!s) s = weft_exec_run(ex, &ro);
        if (!s) s = weft_exec_read(ex, io->logits, m->scores);
        for (int b = 0; b < B && !s && k + b < n; b++) scores[k + b] = m->scores[b];
    }
    if (!s) {
        for (int64_t i = 0; i < n; i++) prob[i] = 1.0f / (1.0f + expf(-scores[i]));
        r->auc = weft_auc(scores, m->val.labels, n);
        r->loss = weft_logloss(prob, m->val.labels, n);
        r->best_auc = m->val.truth.known ? m->val.truth.best_auc : NAN;
    }
    free(scores); free(prob); free(idx);
    return s;
}

static void close_clicks(weft_task *t)
{
    clicks *m = t->impl;
    if (!m) return;
    weft_clicks_free(&m->train);
    weft_clicks_free(&m->val);
    free(m->perm); free(m->dense); free(m->labels); free(m->ids); free(m->scores);
    free(m);
    t->impl = NULL;
}

static weft_status open_data(clicks *m, const char *spec, bool train, bool eval)
{
    int cards[WEFT_CLICKS_NSPARSE];
    for (int t = 0; t < WEFT_CLICKS_NSPARSE; t++) cards[t] = (int)m->rows;
    if (!strncmp(spec, "criteo:", 7)) {
        weft_clicks all = { 0 };
        WEFT_TRY(weft_clicks_read_criteo(spec + 7, cards, 0, &all));
        int64_t nval = all.n / 10, ntrain = all.n - nval;
        weft_status s = ntrain > 0 && nval > 0 ? WEFT_OK
            : weft_fail(WEFT_ERR_FORMAT, "%s: %lld examples are too few to split (at least 10)", spec + 7, (long long)all.n);
        if (!s && train) s = weft_clicks_slice(&all, 0, ntrain, &m->train);
        if (!s && eval) s = weft_clicks_slice(&all, ntrain, nval, &m->val);
        weft_clicks_free(&all);
        return s;
    }
    weft_clicks_cfg cfg;
    weft_clicks_cfg_default(&cfg);
    for (int t = 0; t < WEFT_CLICKS_NSPARSE; t++) cfg.cards[t] = (int32_t)m->rows;
    cfg.n_train = DEFAULT_TRAIN;
    if (!strncmp(spec, "synthetic:", 10)) {
        double v;
        if (!weft_parse_number(spec + 10, true, 1, 4294967295.0, &v))
            return weft_fail(WEFT_ERR_ARG, "--data %s: '%s' is not a number of training examples", spec, spec + 10);
        cfg.n_train = (int64_t)v;
    } else if (strcmp(spec, "synthetic")) {
        return weft_fail(WEFT_ERR_ARG, "--data '%s': expected synthetic, synthetic:N or criteo:PATH", spec);
    }
    if (!train) cfg.n_train = 0;
    if (!eval) cfg.n_val = 0;
    return weft_clicks_synth(&cfg, &m->train, &m->val);
}

weft_status weft_task_clicks_open(weft_task *t, const weft_opts *o, bool train, bool eval)
{
    clicks *m = calloc(1, sizeof *m);
    if (!m) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    *t = (weft_task){ .name = "clicks", .samples_per_step = 1, .impl = m, .check = check, .feed = feed,
                      .evaluate = evaluate, .close = close_clicks };
    m->rows = o->vocab ? o->vocab : WEFT_CLICKS_CARD;
    const char *spec = o->data ? o->data : "synthetic";
    t->name = strncmp(spec, "criteo:", 7) ? "synthetic clicks" : "Criteo clicks";
    weft_status s = open_data(m, spec, train, eval);
    if (s) close_clicks(t);
    return s;
}
