/* runtime.c — runs a pipeline schedule on a partitioned training graph.
 *
 * One executor per stage (its scratch, its bindings), one arena per
 * microbatch in flight. A microbatch's arena is the graph's planned arena:
 * the partition ordered the nodes so that running its stages one after
 * another is a run of the graph in order, so one microbatch never sees
 * another's bytes. What crosses stages is the arena's index, passed through
 * a bounded queue (a counter and a condition variable per stage boundary).
 *
 * Each stage owns the weights it updates, and nothing else touches them:
 *   - B(s, m) copies (M = 1) or sums in fp32 (M > 1, microbatch order) the
 *     stage's weight gradients out of the arena into buffers of its own;
 *   - U(s) points the update nodes at those buffers (x 1/M), applies the
 *     update at the stage's learning rate, and counts the version;
 *   - pipedream stashes the weights at F and binds the stash for B;
 *   - a weight read by a later stage too (tied embeddings) reaches it as the
 *     copy the owner held at F(owner, m), one per arena.
 * So every stage's results depend only on its own order of actions, and a
 * thread per stage gives bit-identical weights to the one-thread mode. */
#include "pipe/pipe_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Whether this process runs stage s: all of them, but one on MPI. */
static bool runs_here(const weft_pipe *p, int s) { return !p->o.mpi || s == p->me; }

static int64_t vbytes(const weft_graph *g, int v)
{
    return weft_shape_numel(&g->values[v].shape) * (int64_t)weft_dtype_size(g->values[v].dtype);
}

/* ---- set-up -------------------------------------------------------------------- */

static weft_status own_weights(weft_pipe *p)
{
    weft_graph *g = p->g;
    for (int i = 0; i < g->nnodes; i++) {
        const weft_node *n = &g->nodes[i];
        if (n->phase != WEFT_PHASE_UPDATE) continue;
        stage_t *s = &p->st[n->stage];
        owned *nw = realloc(s->w, (size_t)(s->nw + 1) * sizeof *nw);
        if (!nw) return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
        s->w = nw;
        owned *w = &s->w[s->nw++];
        memset(w, 0, sizeof *w);
        w->v = n->a.param;
        w->grad = n->in[1];
        w->rows = n->a.slot_rows ? n->in[n->a.slot_rows] : -1;
        w->n = weft_shape_numel(&g->values[w->v].shape);
        weft_tensor *t = weft_store_find(p->store, g->values[w->v].name);
        if (!t) return weft_fail(WEFT_ERR_ARG, "pipeline: %s is not in the store", g->values[w->v].name);
        w->master = t->data;
        w->dt = g->values[w->v].dtype;
        w->gdt = g->values[w->grad].dtype;
        w->bytes = vbytes(g, w->v);
        w->gbytes = vbytes(g, w->grad);
        w->rbytes = w->rows >= 0 ? vbytes(g, w->rows) : 0;
        s->wbytes += pad64(w->bytes);
        if (w->rows >= 0 && p->M > 1)
            return weft_fail(WEFT_ERR_ARG, "--microbatches %d: %s has a sparse gradient (an embedding bag), which "
                             "weft does not sum over microbatches; use --microbatches 1", p->M, g->values[w->v].name);
        if (w->rows >= 0 && p->R > 1)
            return weft_fail(WEFT_ERR_ARG, "--data-parallel %d: %s has a sparse gradient (an embedding bag), which "
                             "weft does not sum over replicas; use one replica", p->R, g->values[w->v].name);
        if (w->rows >= 0 && p->o.discrepancy)
            return weft_fail(WEFT_ERR_ARG, "--discrepancy-correction: %s has a sparse gradient; not supported",
                             g->values[w->v].name);
        if (!runs_here(p, n->stage)) continue;   /* another rank's: its buffers are there */
        w->gbuf = weft_alloc((size_t)w->gbytes);
        if (w->rows >= 0) w->rbuf = weft_alloc((size_t)w->rbytes);
        if (p->M > 1 || p->R > 1) w->acc = weft_alloc((size_t)w->n * sizeof(float));
        if (!w->gbuf || (w->rows >= 0 && !w->rbuf) || ((p->M > 1 || p->R > 1) && !w->acc))
            return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory for %s's gradient", g->values[w->v].name);
        if (p->o.discrepancy || p->o.predict) {   /* the moving average of the weights' change */
            w->delta = weft_calloc((size_t)w->n * sizeof(float));
            w->prev = weft_alloc((size_t)w->n * sizeof(float));
            w->est = p->o.discrepancy ? weft_alloc((size_t)w->bytes) : NULL;
            if (!w->delta || !w->prev || (p->o.discrepancy && !w->est))
                return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
        }
    }
    /* Weights read outside their owner's stage. */
    for (int i = 0; i < g->nnodes; i++) {
        const weft_node *n = &g->nodes[i];
        if (n->phase == WEFT_PHASE_UPDATE) continue;
        for (int a = 0; a < n->nin; a++) {
            int v = n->in[a];
            while (g->values[v].alias_of >= 0) v = g->values[v].alias_of;   /* a view reads its base */
            weft_role r = g->values[v].role;
            if (r != WEFT_ROLE_PARAM && r != WEFT_ROLE_STATE) continue;
            int owner = -1;
            for (int s = 0; s < p->S && owner < 0; s++)
                for (int k = 0; k < p->st[s].nw; k++) if (p->st[s].w[k].v == v) owner = s;
            if (owner < 0 || owner == n->stage) continue;
            if (owner > n->stage)
                return weft_fail(WEFT_ERR_INTERNAL, "pipeline: %s is read by stage %d before its owner %d",
                                 g->values[v].name, n->stage, owner);
            bool have = false;
            for (int k = 0; k < p->nsh; k++) have |= p->sh[k].v == v && p->sh[k].stage == n->stage;
            if (have) continue;
            shared_w *ns = realloc(p->sh, (size_t)(p->nsh + 1) * sizeof *ns);
            if (!ns) return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
            p->sh = ns;
            p->sh[p->nsh++] = (shared_w){ v, n->stage, owner, vbytes(g, v), NULL };
        }
    }
    return WEFT_OK;
}

weft_status weft_pipe_create(weft_pipe **out, weft_graph *g, weft_store *store, const weft_pipe_opts *o,
                             const weft_optim_hp *hp, uint64_t seed)
{
    *out = NULL;
    int S = o->stages;
    if (S < 1 || S > WEFT_PIPE_MAX_STAGES) return weft_fail(WEFT_ERR_ARG, "--stages %d: must be 1 to %d", S, WEFT_PIPE_MAX_STAGES);
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].stage >= S)
            return weft_fail(WEFT_ERR_ARG, "pipeline: the graph is cut into more than %d stages", S);
    if (o->microbatches < 1) return weft_fail(WEFT_ERR_ARG, "--microbatches %d: must be at least 1", o->microbatches);
    weft_pipe *p = calloc(1, sizeof *p);
    if (!p) return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
    p->g = g; p->store = store; p->o = *o; p->hp = *hp; p->seed = seed;
    p->S = S; p->M = o->microbatches;
    p->R = o->mpi && o->replicas > 1 ? o->replicas : 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (o->replicas > 1 && !o->mpi) {
        weft_pipe_free(p);
        return weft_fail(WEFT_ERR_ARG, "--data-parallel %d: replicas are processes (--backend mpi)", o->replicas);
    }
    weft_status s = WEFT_OK;
    if (o->mpi) {   /* this rank's stage and replica first: it keeps buffers for its own stage only */
        int rank, size;
        s = weft_mpi_start(&rank, &size);
        p->me = rank % S;
        p->replica = rank / S;
    }
    if (!s) s = own_weights(p);
    if (!s && o->mpi) s = weft_pipe_mpi_create(p);
    else p->feeds[0] = true;
    /* the one-thread mode may use every core within a node; a thread per
     * stage keeps each stage to one, as if it were its own device */
    int threads = 1;
    for (int k = 0; k < S && !s; k++) {
        if (!runs_here(p, k)) continue;
        s = weft_exec_create_shared(&p->ex[k], g, store, threads, seed);
        if (!s && !(p->tmp[k] = weft_alloc(TMP_FLOATS * sizeof(float))))
            s = weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
    }
    if (s) { weft_pipe_free(p); return s; }
    *out = p;
    return WEFT_OK;
}

void weft_pipe_free(weft_pipe *p)
{
    if (!p) return;
    for (int k = 0; k < p->S; k++) {
        weft_exec_free(p->ex[k]);
        stage_t *s = &p->st[k];
        for (int i = 0; i < s->nw; i++) {
            owned *w = &s->w[i];
            weft_free(w->acc); weft_free(w->gbuf); weft_free(w->rbuf);
            weft_free(w->delta); weft_free(w->prev); weft_free(w->est);
        }
        free(s->w);
        weft_free(s->stash);
        weft_free(p->tmp[k]);
    }
    for (int k = 0; k < p->nsh; k++) weft_free(p->sh[k].copy);
    free(p->sh);
    weft_pipe_mpi_free(p);
    for (int k = 0; k < p->narena; k++) weft_free(p->arena[k]);
    free(p->arena);
    if (p->have_sc) weft_schedule_free(&p->sc);
    free(p->dur); free(p->fver);
    free(p->stats.loss); free(p->stats.delay); free(p->stats.start); free(p->stats.finish);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

const weft_pipe_stats *weft_pipe_get_stats(const weft_pipe *p) { return &p->stats; }

void weft_pipe_set_done(weft_pipe *p, int64_t updates)
{
    for (int s = 0; s < p->S; s++) p->st[s].version = updates;
}

void weft_pipe_node_seconds(const weft_pipe *p, double *out)
{
    for (int i = 0; i < p->g->nnodes; i++) out[i] = weft_exec_node_seconds(p->ex[p->g->nodes[i].stage])[i];
}
const weft_schedule *weft_pipe_get_schedule(const weft_pipe *p) { return &p->sc; }

/* ---- the run -------------------------------------------------------------------- */

/* Buffers sized by the run's schedule: arenas, stashes, shared copies. */
static weft_status provision(weft_pipe *p)
{
    const weft_schedule *sc = &p->sc;
    int64_t ab = p->g->arena_bytes > 0 ? p->g->arena_bytes : 64;
    if (sc->buffers > p->narena) {
        uint8_t **na = realloc(p->arena, (size_t)sc->buffers * sizeof *na);
        if (!na) return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
        p->arena = na;
        for (; p->narena < sc->buffers; p->narena++)
            if (!(p->arena[p->narena] = weft_calloc((size_t)ab)))
                return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory for %d arenas of %lld bytes", sc->buffers,
                                 (long long)ab);
    }
    if (p->narena > p->ncopies) {   /* one copy of each shared weight per arena */
        for (int k = 0; k < p->nsh; k++) {
            weft_free(p->sh[k].copy);
            if (!(p->sh[k].copy = weft_alloc((size_t)p->narena * (size_t)pad64(p->sh[k].bytes))))
                return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
        }
        p->ncopies = p->narena;
    }
    p->stats.stash_bytes = 0;
    for (int s = 0; s < p->S; s++) {
        stage_t *st = &p->st[s];
        p->stats.st[s].stash_bytes = 0;
        if ((p->o.kind != WEFT_PIPE_PIPEDREAM && !p->o.predict) || !st->nw) continue;
        if (sc->inflight[s] + (p->o.predict ? 1 : 0) > st->nstash) {
            weft_free(st->stash);
            st->stash = NULL;
            st->nstash = sc->inflight[s] + (p->o.predict ? 1 : 0);   /* prediction: versions in flight, and the next */
            if (runs_here(p, s) && !(st->stash = weft_alloc((size_t)st->nstash * (size_t)st->wbytes)))
                return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory for %d weight versions", st->nstash);
        }
        p->stats.st[s].stash_bytes = (int64_t)st->nstash * st->wbytes;
        p->stats.stash_bytes += p->stats.st[s].stash_bytes;
    }
    p->stats.arena_bytes = (int64_t)p->narena * ab;
    return WEFT_OK;
}

static void fail_from_thread(weft_pipe *p, weft_status s)
{
    pthread_mutex_lock(&p->mu);
    if (!p->err) {
        p->err = s;
        snprintf(p->errmsg, sizeof p->errmsg, "%s", weft_errmsg());
    }
    p->abort = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* 0: ready; 1: waiting for input (idle); 2: waiting for room downstream (blocked). */
static int wait_state(const weft_pipe *p, const weft_pipe_action *a, int queue)
{
    int s = a->stage;
    if (a->kind == WEFT_PA_F) {
        if (s > 0 && p->fdone[s - 1] <= a->mb) return 1;
        if (s + 1 < p->S && a->mb >= queue && p->fstart[s + 1] <= a->mb - queue) return 2;
    } else if (a->kind == WEFT_PA_B && s + 1 < p->S && p->bdone[s + 1] <= a->mb) {
        return 1;
    }
    return 0;
}

typedef struct { weft_pipe *p; int s; } stage_arg;

static void *stage_main(void *arg)
{
    weft_pipe *p = ((stage_arg *)arg)->p;
    int s = ((stage_arg *)arg)->s;
    weft_stage_stats *ss = &p->stats.st[s];
    int queue = p->o.queue > 0 ? p->o.queue : p->sc.buffers;
    for (int64_t k = 0; k < p->sc.count[s]; k++) {
        int64_t i = p->sc.order[s][k];
        const weft_pipe_action *a = &p->sc.a[i];
        pthread_mutex_lock(&p->mu);
        int w;
        while (!p->abort && (w = wait_state(p, a, queue))) {
            double t0 = weft_now();
            pthread_cond_wait(&p->cv, &p->mu);
            if (w == 1) ss->idle_s += weft_now() - t0;
            else ss->blocked_s += weft_now() - t0;
        }
        if (p->abort) { pthread_mutex_unlock(&p->mu); return NULL; }
        if (a->kind == WEFT_PA_F) p->fstart[s]++;
        pthread_mutex_unlock(&p->mu);
        double t0 = weft_now(), c0 = weft_thread_cpu_now();
        weft_status r = weft_pipe_do(p, a);
        p->dur[i] = weft_thread_cpu_now() - c0;
        ss->busy_s += weft_now() - t0;
        if (r) { fail_from_thread(p, r); return NULL; }
        pthread_mutex_lock(&p->mu);
        if (a->kind == WEFT_PA_F) p->fdone[s]++;
        else if (a->kind == WEFT_PA_B) p->bdone[s]++;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

static weft_status run_threads(weft_pipe *p)
{
    pthread_t tid[WEFT_PIPE_MAX_STAGES];
    stage_arg args[WEFT_PIPE_MAX_STAGES];
    int started = 0;
    weft_status s = WEFT_OK;
    for (; started < p->S; started++) {
        args[started] = (stage_arg){ p, started };
        if (pthread_create(&tid[started], NULL, stage_main, &args[started])) {
            s = weft_fail(WEFT_ERR_INTERNAL, "pipeline: cannot start the thread of stage %d", started);
            fail_from_thread(p, s);
            break;
        }
    }
    for (int k = 0; k < started; k++) pthread_join(tid[k], NULL);
    if (p->err) return weft_fail(p->err, "%s", p->errmsg);
    return s;
}

static weft_status run_serial(weft_pipe *p)
{
    for (int64_t i = 0; i < p->sc.n; i++) {
        const weft_pipe_action *a = &p->sc.a[i];
        double t0 = weft_now();
        WEFT_TRY(weft_pipe_do(p, a));
        p->dur[i] = weft_now() - t0;
        p->stats.st[a->stage].busy_s += p->dur[i];
    }
    return WEFT_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The virtual clock without the host's noise: the same replay with every
 * action charged the median of its stage's measured actions of its kind
 * (forward, backward, update). A stage with its own device would take about
 * as long for each microbatch; on a 2-core host running S stages the
 * per-action times also carry the other stages' (and processes') contention
 * for caches and memory. Returns the utilization; *span: the makespan.
 * Each stage's spread is noted on the way. */
static double steady_utilization(weft_pipe *p, int queue, double *span)
{
    int64_t n = p->sc.n;
    double *d = malloc((size_t)n * sizeof *d), *tmp = malloc((size_t)n * sizeof *tmp);
    double *st = malloc((size_t)n * sizeof *st), *fin = malloc((size_t)n * sizeof *fin);
    double u = -1;
    *span = -1;
    if (d && tmp && st && fin) {
        double med[WEFT_PIPE_MAX_STAGES][3];
        for (int s = 0; s < p->S; s++)
            for (int k = 0; k < 3; k++) {
                int64_t c = 0;
                for (int64_t i = 0; i < n; i++)
                    if (p->sc.a[i].stage == s && (int)p->sc.a[i].kind == k) tmp[c++] = p->dur[i];
                qsort(tmp, (size_t)c, sizeof *tmp, cmp_double);
                med[s][k] = c == 0 ? 0 : c % 2 ? tmp[c / 2] : 0.5 * (tmp[c / 2 - 1] + tmp[c / 2]);
                if (k == WEFT_PA_B && med[s][k] > 0)
                    p->stats.st[s].spread = (tmp[c * 9 / 10 < c ? c * 9 / 10 : c - 1] - tmp[c / 10]) / med[s][k];
            }
        double work = 0;
        for (int64_t i = 0; i < n; i++) work += d[i] = med[p->sc.a[i].stage][p->sc.a[i].kind];
        *span = weft_schedule_replay(&p->sc, d, queue, st, fin);
        u = *span > 0 ? work / (p->S * *span) : 0;
    }
    free(d); free(tmp); free(st); free(fin);
    return u;
}

weft_status weft_pipe_run(weft_pipe *p, int64_t first, int64_t steps, const weft_pipe_io *io)
{
    if (first < 1) return weft_fail(WEFT_ERR_ARG, "pipeline: updates count from 1");
    if (p->have_sc) weft_schedule_free(&p->sc);
    p->have_sc = false;
    WEFT_TRY(weft_schedule_build(&p->sc, p->o.kind, p->S, p->M, p->o.slack, steps));
    p->have_sc = true;
    for (int s = 0; s < p->S; s++)
        if (p->st[s].version != first - 1)
            return weft_fail(WEFT_ERR_ARG, "pipeline: stage %d is at update %lld, not %lld", s,
                             (long long)p->st[s].version, (long long)(first - 1));
    p->nmb = steps * p->M;
    p->mb0 = (first - 1) * p->M;
    p->io = io;
    weft_pipe_stats *ps = &p->stats;
    free(ps->loss); free(ps->delay); free(ps->start); free(ps->finish); free(p->dur); free(p->fver);
    size_t smb = (size_t)p->S * (size_t)p->nmb;
    ps->loss = calloc((size_t)p->nmb, sizeof *ps->loss);
    ps->delay = calloc(smb, sizeof *ps->delay);
    p->fver = calloc(smb, sizeof *p->fver);
    p->dur = calloc((size_t)p->sc.n, sizeof *p->dur);
    ps->start = calloc((size_t)p->sc.n, sizeof *ps->start);
    ps->finish = calloc((size_t)p->sc.n, sizeof *ps->finish);
    if (!ps->loss || !ps->delay || !p->fver || !p->dur || !ps->start || !ps->finish)
        return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory for %lld microbatches", (long long)p->nmb);
    WEFT_TRY(provision(p));
    memset(ps->sent_bytes, 0, sizeof ps->sent_bytes);
    memset(ps->reduce_bytes, 0, sizeof ps->reduce_bytes);
    for (int s = 0; s < p->S; s++) {
        stage_t *st = &p->st[s];
        st->fcount = st->bcount = 0;
        p->fdone[s] = p->bdone[s] = p->fstart[s] = 0;
        int64_t keep_stash = ps->st[s].stash_bytes;
        memset(&ps->st[s], 0, sizeof ps->st[s]);
        ps->st[s].stash_bytes = keep_stash;
        int tau = p->sc.tau[s];
        st->gamma = tau > 0 ? pow(p->o.discrepancy_decay, 1.0 / tau) : 0;
        if ((p->o.discrepancy || p->o.predict) && runs_here(p, s))
            for (int i = 0; i < st->nw; i++) {
                owned *w = &st->w[i];
                if (w->dt == WEFT_BF16) weft_bf16_to_f32_n(w->master, w->prev, w->n);
                else memcpy(w->prev, w->master, (size_t)w->n * sizeof(float));
            }
        if (p->o.predict && st->nw && runs_here(p, s)) weft_pipe_predict_init(p, s);
    }
    p->abort = false;
    p->err = WEFT_OK;
    double t0 = weft_now();
    weft_status s = p->o.mpi ? weft_pipe_mpi_run(p) : p->o.serial ? run_serial(p) : run_threads(p);
    ps->wall_s = weft_now() - t0;
    if (!s && p->o.mpi) s = weft_pipe_mpi_gather_stats(p);
    if (s) return s;
    ps->microbatches = p->nmb;
    /* the virtual clock: every stage its own device, charged its measured work */
    int queue = p->o.queue > 0 ? p->o.queue : p->sc.buffers;
    ps->makespan_s = weft_schedule_replay(&p->sc, p->dur, queue, ps->start, ps->finish);
    if (ps->makespan_s < 0) return weft_fail(WEFT_ERR_INTERNAL, "pipeline: %s", weft_errmsg());
    double work = 0;
    for (int64_t i = 0; i < p->sc.n; i++) {
        ps->st[p->sc.a[i].stage].work_s += p->dur[i];
        work += p->dur[i];
    }
    ps->utilization = ps->makespan_s > 0 ? work / (p->S * ps->makespan_s) : 0;
    ps->bubble = 1 - ps->utilization;
    ps->utilization_steady = steady_utilization(p, queue, &ps->makespan_steady_s);
    for (int s = 0; s < p->S; s++) {
        weft_stage_stats *q = &ps->st[s];
        q->vbusy_s = q->work_s;
        q->tau_min = INT32_MAX;
        double sum = 0;
        for (int64_t m = 0; m < p->nmb; m++) {
            int d = ps->delay[(size_t)s * (size_t)p->nmb + (size_t)m];
            if (d < q->tau_min) q->tau_min = d;
            if (d > q->tau_max) q->tau_max = d;
            sum += d;
        }
        q->tau_mean = sum / (double)p->nmb;
        if (p->o.serial) q->idle_s = ps->wall_s - q->busy_s;
    }
    return WEFT_OK;
}
