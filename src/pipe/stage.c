/* stage.c — what one action of a schedule does to its stage (runtime.c
 * says who owns what): F runs the stage's forward nodes on the
 * microbatch's arena, B its backward nodes and takes the weight gradients
 * out, U applies the stage's update. */
#include "pipe/pipe_int.h"

#include <math.h>
#include <string.h>

static void widen(const void *src, weft_dtype t, float *dst, int64_t n)
{
    if (t == WEFT_BF16) weft_bf16_to_f32_n(src, dst, n);
    else memcpy(dst, src, (size_t)n * sizeof(float));
}

static void narrow(const float *src, weft_dtype t, void *dst, int64_t n)
{
    if (t == WEFT_BF16) weft_bf16_from_f32_n(src, dst, n);
    else memcpy(dst, src, (size_t)n * sizeof(float));
}

static size_t esize(weft_dtype t) { return weft_dtype_size(t); }

static weft_status run_nodes(weft_pipe *p, int s, weft_phase ph, int64_t step, const weft_optim_hp *hp)
{
    weft_run_opts ro = { .phases = ph, .step = step, .hp = *hp, .stage = s + 1,
                          .cpu_clock = p->o.cpu_node_clock };
    return weft_exec_run(p->ex[s], &ro);
}

/* The weights stage s's shared readers see: one copy per arena. */
static void bind_shared(weft_pipe *p, int s, int slot)
{
    for (int k = 0; k < p->nsh; k++)
        if (p->sh[k].stage == s) weft_exec_bind(p->ex[s], p->sh[k].v, p->sh[k].copy + (size_t)slot * (size_t)pad64(p->sh[k].bytes));
}

/* Weight prediction keeps, per version of the stage's weights still read
 * by a microbatch in flight, w + tau * delta: the weights extrapolated over
 * the tau updates its gradient will be late by. Version v lives in stash
 * slot v mod nstash; the update that makes v writes it, in the same pass
 * that moves delta, so a forward only binds it. */
static uint8_t *version_slot(const stage_t *st, int64_t v)
{
    return st->stash + (size_t)(v % st->nstash) * (size_t)st->wbytes;
}

void weft_pipe_predict_init(weft_pipe *p, int s)
{
    stage_t *st = &p->st[s];
    float *t = p->tmp[s], tau = (float)p->sc.tau[s];
    uint8_t *dst = version_slot(st, st->version);
    for (int i = 0; i < st->nw; i++) {
        owned *w = &st->w[i];
        for (int64_t b = 0; b < w->n; b += TMP_FLOATS) {
            int64_t c = w->n - b < TMP_FLOATS ? w->n - b : TMP_FLOATS;
            widen((const uint8_t *)w->master + (size_t)b * esize(w->dt), w->dt, t, c);
            for (int64_t j = 0; j < c; j++) t[j] += tau * w->delta[b + j];
            narrow(t, w->dt, dst + (size_t)b * esize(w->dt), c);
        }
        dst += pad64(w->bytes);
    }
}

/* Binds stage s's weights to version k of its stash (pipedream), after
 * copying the current weights into it when `fill`; or to the weights
 * themselves when the stage stashes nothing. */
static void bind_weights(weft_pipe *p, int s, int64_t k, bool fill)
{
    stage_t *st = &p->st[s];
    bool stash = (p->o.kind == WEFT_PIPE_PIPEDREAM || p->o.predict) && st->nw;
    uint8_t *base = stash ? st->stash + (size_t)(k % st->nstash) * (size_t)st->wbytes : NULL;
    for (int i = 0; i < st->nw; i++) {
        if (base && fill) memcpy(base, st->w[i].master, (size_t)st->w[i].bytes);
        weft_exec_bind(p->ex[s], st->w[i].v, base);
        if (base) base += pad64(st->w[i].bytes);
    }
}

static weft_status do_f(weft_pipe *p, int s, int64_t m)
{
    weft_exec *E = p->ex[s];
    stage_t *st = &p->st[s];
    int slot = (int)(m % p->narena);
    weft_exec_set_arena(E, p->arena[slot]);
    int64_t gm = weft_pipe_gmb(p, m);   /* the microbatch of the whole job */
    if (p->feeds[s] && p->io->feed) WEFT_TRY(p->io->feed(p->io->ctx, E, gm));
    if (p->o.predict) bind_weights(p, s, st->version, false);   /* this version's prediction, made by its update */
    else bind_weights(p, s, st->fcount, true);   /* pipedream: this microbatch's backward uses the copy */
    st->fcount++;
    for (int k = 0; k < p->nsh; k++)
        if (p->sh[k].owner == s)
            memcpy(p->sh[k].copy + (size_t)slot * (size_t)pad64(p->sh[k].bytes), weft_exec_ptr(E, p->sh[k].v),
                   (size_t)p->sh[k].bytes);
    bind_shared(p, s, slot);
    p->fver[(size_t)s * (size_t)p->nmb + (size_t)m] = (int)st->version;
    WEFT_TRY(run_nodes(p, s, WEFT_PHASE_FWD, gm + 1, &p->hp));
    if (s == p->S - 1) {
        double loss = *(const float *)weft_exec_ptr(E, p->g->loss);
        p->stats.loss[m] = loss;
        if (!isfinite(loss))
            return weft_fail(WEFT_ERR_NUMERIC, "microbatch %lld (update %lld of the last stage): the loss is %g",
                             (long long)(gm + 1), (long long)(st->version + 1), loss);
        if (p->io->progress && p->replica == 0) p->io->progress(p->io->ctx, p->mb0 + m, loss);
    }
    return WEFT_OK;
}

/* Discrepancy correction (PipeMare): the backward uses an estimate of the
 * weights its forward saw, w - d * delta, delta the moving average of the
 * stage's recent weight changes and d the microbatch's delay. */
static void bind_estimate(weft_pipe *p, int s, int d)
{
    stage_t *st = &p->st[s];
    float *t = p->tmp[s];
    for (int i = 0; i < st->nw; i++) {
        owned *w = &st->w[i];
        for (int64_t b = 0; b < w->n; b += TMP_FLOATS) {
            int64_t c = w->n - b < TMP_FLOATS ? w->n - b : TMP_FLOATS;
            widen((const uint8_t *)w->master + (size_t)b * esize(w->dt), w->dt, t, c);
            for (int64_t j = 0; j < c; j++) t[j] -= (float)d * w->delta[b + j];
            narrow(t, w->dt, (uint8_t *)w->est + (size_t)b * esize(w->dt), c);
        }
        weft_exec_bind(p->ex[s], w->v, w->est);
    }
}

static weft_status do_b(weft_pipe *p, int s, int64_t m)
{
    weft_exec *E = p->ex[s];
    stage_t *st = &p->st[s];
    int slot = (int)(m % p->narena);
    int d = (int)st->version - p->fver[(size_t)s * (size_t)p->nmb + (size_t)m];
    weft_exec_set_arena(E, p->arena[slot]);
    if (p->o.discrepancy && d > 0) bind_estimate(p, s, d);
    else if (p->o.predict) bind_weights(p, s, st->version - d, false);   /* what its forward read */
    else bind_weights(p, s, st->bcount, false);
    st->bcount++;
    bind_shared(p, s, slot);
    WEFT_TRY(run_nodes(p, s, WEFT_PHASE_BWD, weft_pipe_gmb(p, m) + 1, &p->hp));
    p->stats.delay[(size_t)s * (size_t)p->nmb + (size_t)m] = d;
    /* the weight gradients leave the arena: copied (M = 1, one replica) or
     * summed in microbatch order in fp32 (the first microbatch of a step
     * starts the sum; replicas then sum theirs in replica order) */
    bool first = (p->mb0 + m) % p->M == 0;
    float *t = p->tmp[s];
    for (int i = 0; i < st->nw; i++) {
        owned *w = &st->w[i];
        const uint8_t *gsrc = weft_exec_ptr(E, w->grad);
        if (p->M == 1 && p->R == 1) {
            memcpy(w->gbuf, gsrc, (size_t)w->gbytes);
            if (w->rows >= 0) memcpy(w->rbuf, weft_exec_ptr(E, w->rows), (size_t)w->rbytes);
            continue;
        }
        if (first) { widen(gsrc, w->gdt, w->acc, w->n); continue; }
        for (int64_t b = 0; b < w->n; b += TMP_FLOATS) {
            int64_t c = w->n - b < TMP_FLOATS ? w->n - b : TMP_FLOATS;
            widen(gsrc + (size_t)b * esize(w->gdt), w->gdt, t, c);
            for (int64_t j = 0; j < c; j++) w->acc[b + j] += t[j];
        }
    }
    return WEFT_OK;
}

/* The stage's learning rate: PipeMare's rule lr = min(lr_sync, C / tau) for
 * a stage whose gradients are tau updates stale; with a warm-up of K
 * updates the rule fades out geometrically, lr_sync * (rule / lr_sync)^f,
 * f = 1 - k/K, as PipeMare's lr * tau^-p_k with p_k falling to 0. */
static double stage_lr(const weft_pipe *p, int s, int64_t update, double lr_sync)
{
    int tau = p->sc.tau[s];
    if (p->o.kind != WEFT_PIPE_PIPEMARE || p->o.lr_delay_scale <= 0 || tau <= 0) return lr_sync;
    double rule = p->o.lr_delay_scale / tau;
    if (rule >= lr_sync) return lr_sync;
    if (p->o.lr_delay_warmup <= 0) return rule;
    double f = 1.0 - (double)(update - 1) / (double)p->o.lr_delay_warmup;
    if (f <= 0) return lr_sync;
    return lr_sync * pow(rule / lr_sync, f);
}

static weft_status do_u(weft_pipe *p, int s)
{
    weft_exec *E = p->ex[s];
    stage_t *st = &p->st[s];
    int64_t update = st->version + 1;
    double lr_sync = p->io->lr ? p->io->lr(p->io->ctx, update) : p->hp.lr;
    weft_optim_hp hp = p->hp;
    hp.lr = (float)stage_lr(p, s, update, lr_sync);
    p->stats.st[s].lr_scale_last = lr_sync > 0 ? hp.lr / lr_sync : 1;
    float inv = 1.0f / (float)(p->M * p->R), *t = p->tmp[s];
    for (int i = 0; i < st->nw; i++) {
        owned *w = &st->w[i];
        weft_exec_bind(E, w->v, NULL);
        if (p->R > 1) WEFT_TRY(weft_pipe_mpi_reduce(p, w->acc, w->n));
        if (p->M > 1 || p->R > 1)   /* the step's gradient: the sum times the fp32 reciprocal of M R */
            for (int64_t b = 0; b < w->n; b += TMP_FLOATS) {
                int64_t c = w->n - b < TMP_FLOATS ? w->n - b : TMP_FLOATS;
                for (int64_t j = 0; j < c; j++) t[j] = w->acc[b + j] * inv;
                narrow(t, w->gdt, (uint8_t *)w->gbuf + (size_t)b * esize(w->gdt), c);
            }
        weft_exec_bind(E, w->grad, w->gbuf);
        if (w->rows >= 0) weft_exec_bind(E, w->rows, w->rbuf);
    }
    weft_status r = run_nodes(p, s, WEFT_PHASE_UPDATE, update, &hp);
    if (!r && p->R > 1) r = weft_pipe_mpi_combine_stats(p);   /* batch norm's, moved by each replica's forwards */
    uint8_t *pred = p->o.predict && st->nw ? version_slot(st, st->version + 1) : NULL;   /* the version this update makes */
    float tau = (float)p->sc.tau[s];
    for (int i = 0; i < st->nw; i++) {
        owned *w = &st->w[i];
        weft_exec_bind(E, w->grad, NULL);
        if (w->rows >= 0) weft_exec_bind(E, w->rows, NULL);
        if (!p->o.discrepancy && !p->o.predict) continue;
        for (int64_t b = 0; b < w->n; b += TMP_FLOATS) {   /* delta moves; the prediction, in the same pass */
            int64_t c = w->n - b < TMP_FLOATS ? w->n - b : TMP_FLOATS;
            widen((const uint8_t *)w->master + (size_t)b * esize(w->dt), w->dt, t, c);
            for (int64_t j = 0; j < c; j++) {
                float *dl = &w->delta[b + j], *pv = &w->prev[b + j];
                *dl = (float)(st->gamma * *dl + (1 - st->gamma) * (t[j] - *pv));
                *pv = t[j];
            }
            if (!pred) continue;
            for (int64_t j = 0; j < c; j++) t[j] += tau * w->delta[b + j];
            narrow(t, w->dt, pred + (size_t)b * esize(w->dt), c);
        }
        if (pred) pred += pad64(w->bytes);
    }
    st->version++;
    if (!r && p->o.check_replicas) r = weft_pipe_mpi_check_replicas(p);
    return r;
}

weft_status weft_pipe_do(weft_pipe *p, const weft_pipe_action *a)
{
    switch (a->kind) {
    case WEFT_PA_F: return do_f(p, a->stage, a->mb);
    case WEFT_PA_B: return do_b(p, a->stage, a->mb);
    default: return do_u(p, a->stage);
    }
}
