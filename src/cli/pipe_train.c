/* pipe_train.c — `weft train --pipeline`: a thread per stage in this
 * process, or (--backend mpi, under mpirun) this process as one stage of
 * one replica. The run goes in chunks between checkpoints: each chunk is a
 * whole schedule (filled and drained), so a checkpoint is taken with no
 * microbatch in flight and a resumed run repeats the chunks an
 * uninterrupted one runs.
 *
 * On MPI a checkpoint is one file per stage, written by that stage's rank
 * of replica 0, then — once all are on disk — a manifest, written by rank
 * 0 over the last one; the stage files of the step before are removed only
 * after. A rank that dies at any point leaves the last manifest and every
 * file it names intact. */
#include "cli/task.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

/* ---- a rank stopped from outside --------------------------------------------------- */

static int sig_rank, sig_stage, sig_replica;
static volatile int64_t sig_ckpt = -1;

static void put(char **p, const char *s)
{
    while (*s) *(*p)++ = *s++;
}

static void put_int(char **p, int64_t v)
{
    char t[24];
    int n = 0;
    if (v < 0) { *(*p)++ = '-'; v = -v; }
    do t[n++] = (char)('0' + v % 10); while ((v /= 10) && n < 23);
    while (n) *(*p)++ = t[--n];
}

/* mpirun ends the job when a rank dies: say which rank this was and where
 * it stood (write(2) only: this runs in a signal handler). */
static void on_term(int sig)
{
    char buf[320], *p = buf;
    put(&p, "weft train: rank ");
    put_int(&p, sig_rank);
    put(&p, " (stage ");
    put_int(&p, sig_stage);
    put(&p, ", replica ");
    put_int(&p, sig_replica);
    put(&p, "): stopped by mpirun at update ");
    put_int(&p, __atomic_load_n(&weft_pipe_cli_update, __ATOMIC_RELAXED));
    put(&p, " (a rank failed, or the job was interrupted)");
    if (sig_ckpt >= 0) {
        put(&p, "; the last checkpoint is at step ");
        put_int(&p, sig_ckpt);
    }
    put(&p, "\n");
    ssize_t w = write(2, buf, (size_t)(p - buf));
    (void)w;
    _exit(128 + sig);
}

/* ---- checkpoints ------------------------------------------------------------------- */

/* The checkpoint files a run has written last, to remove once newer ones
 * stand: their step, the run's tag and the number of stage files (mpi). */
typedef struct { int64_t step; char tag[24]; int stages; } saved_t;

/* What a pipeline's checkpoint records beside the run's settings: what a
 * resumed run must repeat to continue it exactly. */
typedef struct { char sched[16], mb[16], dp[16], every[24], slack[16], S[16], tag[24]; const char *kv[14]; } pipe_meta;

static int pipe_meta_fill(pipe_meta *m, const weft_opts *o, const char *tag)
{
    snprintf(m->sched, sizeof m->sched, "%s", o->pipeline);
    snprintf(m->mb, sizeof m->mb, "%d", o->microbatches);
    snprintf(m->dp, sizeof m->dp, "%d", o->data_parallel > 1 ? o->data_parallel : 1);
    snprintf(m->every, sizeof m->every, "%lld", (long long)o->checkpoint_every);
    snprintf(m->slack, sizeof m->slack, "%d", o->slack);
    snprintf(m->S, sizeof m->S, "%d", o->stages);
    snprintf(m->tag, sizeof m->tag, "%s", tag ? tag : "");
    const char *kv[] = { "pipeline", m->sched, "microbatches", m->mb, "data_parallel", m->dp,
                         "checkpoint_every", m->every, "slack", m->slack,
                         "stages", m->S, "stage_tag", m->tag };   /* the last two: the manifest of a run on MPI */
    _Static_assert(sizeof kv == sizeof m->kv, "pipe_meta.kv holds every pair");
    memcpy(m->kv, kv, sizeof kv);
    int pairs = (int)(sizeof kv / sizeof *kv) / 2;
    return tag ? pairs : pairs - 2;
}

/* A resumed pipeline repeats what its checkpoint's run did: the schedule,
 * microbatches, replicas and chunks (the data each update sees, and where
 * the pipeline drains). --checkpoint-every, when not given, is taken from it. */
static weft_status pipe_meta_check(const weft_st_file *f, const char *path, weft_opts *o)
{
    const char *v;
    if (!(v = weft_st_meta(f, "pipeline"))) return WEFT_OK;   /* a checkpoint of plain training */
    if (strcmp(v, o->pipeline))
        return weft_fail(WEFT_ERR_ARG, "--pipeline %s: %s was saved by a %s run; resume it with --pipeline %s", o->pipeline,
                         path, v, v);
    int dp = o->data_parallel > 1 ? o->data_parallel : 1;
    if ((v = weft_st_meta(f, "microbatches")) && atoi(v) != o->microbatches)
        return weft_fail(WEFT_ERR_ARG, "--microbatches %d: %s was saved with %s (each update would see other data); "
                         "give --microbatches %s", o->microbatches, path, v, v);
    if ((v = weft_st_meta(f, "data_parallel")) && atoi(v) != dp)
        return weft_fail(WEFT_ERR_ARG, "--data-parallel %d: %s was saved with %s replicas (each update would see "
                         "other data); give --data-parallel %s", dp, path, v, v);
    if ((v = weft_st_meta(f, "slack")) ? atoi(v) != o->slack : o->slack != 0)
        return weft_fail(WEFT_ERR_ARG, "--slack %d: %s was saved with slack %s (each stage's delays would change); "
                         "give --slack %s", o->slack, path, v ? v : "0", v ? v : "0");
    if ((v = weft_st_meta(f, "checkpoint_every"))) {
        int64_t k = atoll(v);
        if (!o->checkpoint_every) o->checkpoint_every = k;
        else if (k && o->checkpoint_every != k)
            return weft_fail(WEFT_ERR_ARG, "--checkpoint-every %lld: %s was saved by a run draining every %lld updates",
                             (long long)o->checkpoint_every, path, (long long)k);
    }
    return WEFT_OK;
}

/* After a rename, the directory itself: the new name reaches the disk
 * before the old files go. */
static void sync_dir(const char *path)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir[0] ? dir : "/", O_RDONLY);
    if (fd >= 0) { fsync(fd); close(fd); }
}

static weft_status save_staged(weft_pipe_session *ps, const weft_opts *o, const char *tag, int64_t step, int64_t total,
                               saved_t *prev)
{
    weft_pipe *p = ps->pipe;
    int me = weft_pipe_my_stage(p), rank = weft_mpi_rank();
    char path[4200], sstage[16];
    snprintf(sstage, sizeof sstage, "%d", me);
    pipe_meta pm;
    int npm = pipe_meta_fill(&pm, o, tag);
    bool *mine = calloc((size_t)ps->store.n + 1, sizeof *mine);
    int *stage_of = malloc(((size_t)ps->store.n + 1) * sizeof *stage_of);
    weft_status s = mine && stage_of ? WEFT_OK : weft_fail(WEFT_ERR_NOMEM, "out of memory");
    if (!s && weft_pipe_my_replica(p) == 0) {
        weft_pipe_tensor_stages(p, stage_of);
        for (int i = 0; i < ps->store.n; i++) mine[i] = stage_of[i] == me;
        weft_ckpt_stage_path(path, sizeof path, o->checkpoint, tag, step, me);
        const char *extra[] = { "stage", sstage, "stage_of", pm.S, "stage_tag", pm.tag };
        s = weft_ckpt_save_part(path, &ps->store, mine, o, step, total, extra, 3);
    }
    const char *stall = getenv("WEFT_FAULT_STALL");   /* fault injection (docs/MPI.md): a rank that hangs here */
    if (!s && stall && atoi(stall) == rank)
        for (;;) pause();
    char what[96];
    snprintf(what, sizeof what, "the checkpoint's stage files (step %lld)", (long long)step);
    if (!s) s = weft_mpi_barrier(o->mpi_timeout, what);
    if (!s && rank == 0) {
        memset(mine, 0, (size_t)ps->store.n * sizeof *mine);   /* the manifest: no tensors */
        s = weft_ckpt_save_part(o->checkpoint, &ps->store, mine, o, step, total, pm.kv, npm);
        if (!s) sync_dir(o->checkpoint);
    }
    snprintf(what, sizeof what, "the checkpoint's manifest (step %lld)", (long long)step);
    if (!s) s = weft_mpi_barrier(o->mpi_timeout, what);
    if (!s && rank == 0 && prev->step >= 0 && (prev->step != step || strcmp(prev->tag, tag)))
        for (int k = 0; k < prev->stages; k++) {   /* the files the manifest named before */
            weft_ckpt_stage_path(path, sizeof path, o->checkpoint, prev->tag, prev->step, k);
            unlink(path);
        }
    if (!s) {
        *prev = (saved_t){ step, "", o->stages };
        snprintf(prev->tag, sizeof prev->tag, "%s", tag);
        sig_ckpt = step;
    }
    free(mine);
    free(stage_of);
    return s;
}

/* The weights after updates 1..step, saved; under MPI each stage's rank of
 * replica 0 writes the stage it holds (no rank needs the others' weights). */
static weft_status checkpoint(weft_pipe_session *ps, const weft_opts *o, const char *tag, int64_t step, int64_t total,
                              saved_t *prev)
{
    if (!weft_opts_mpi(o)) {
        pipe_meta pm;
        int npm = pipe_meta_fill(&pm, &ps->o, NULL);
        WEFT_TRY(weft_ckpt_save_part(o->checkpoint, &ps->store, NULL, &ps->o, step, total, pm.kv, npm));
        sig_ckpt = step;
        return WEFT_OK;
    }
    return save_staged(ps, &ps->o, tag, step, total, prev);
}

/* ---- the run ------------------------------------------------------------------------ */

static void take_stats(weft_pipe_session *ps, weft_pipe_kind kind, int64_t total, int64_t trained, double train_s,
                       weft_train_result *r)
{
    const weft_pipe_stats *st = weft_pipe_get_stats(ps->pipe);
    weft_progress_show(&ps->pg, st->microbatches, ps->mb_batch, st->loss[st->microbatches - 1], true);
    r->steps = total;
    r->epochs = (double)total / (double)ps->updates_per_epoch;
    double sum = 0;
    int64_t n = st->microbatches < ps->o.microbatches ? st->microbatches : ps->o.microbatches;
    for (int64_t i = st->microbatches - n; i < st->microbatches; i++) sum += st->loss[i];
    r->train_loss = sum / (double)n;
    r->train_s = train_s;
    int R = ps->o.data_parallel > 1 ? ps->o.data_parallel : 1;
    r->samples_per_s = train_s > 0 ? (double)trained * ps->o.batch * R / train_s : 0;
    r->peak_arena_bytes = st->arena_bytes;
    r->params = weft_graph_param_count(ps->tr.g);
    r->bytes_per_param = weft_precision_bytes_per_param(ps->o.precision, weft_optimizer_nstates(ps->o.optimizer));
    for (int i = 0; i < ps->store.n; i++) r->store_bytes += (int64_t)ps->store.t[i].nbytes;
    r->pipe_util = st->utilization;
    r->pipe_closed = weft_pipe_async(kind) ? NAN : 1 - weft_bubble_closed_form(ps->o.stages, ps->o.microbatches);
    r->pipe_stash_bytes = st->stash_bytes;
    int64_t steps = st->microbatches / ps->o.microbatches;
    for (int k = 0; k < ps->o.stages && k < 64; k++) {
        r->pipe_tau[k] = st->st[k].tau_max;
        if (weft_opts_mpi(&ps->o) && steps > 0) {
            r->mpi_sent[k] = (double)st->sent_bytes[k] / (double)steps;
            r->mpi_reduce[k] = (double)st->reduce_bytes[k] / (double)steps;
        }
    }
    if (weft_opts_mpi(&ps->o)) r->mpi_ranks = ps->o.stages * R;
    weft_take_eval(r, NULL);
    r->task = ps->task.name;
}

weft_status weft_train_pipe(weft_opts *oio, weft_train_result *r)
{
    memset(r, 0, sizeof *r);
    weft_opts o = *oio;
    if (o.dump || o.log || o.profile)
        return weft_fail(WEFT_ERR_ARG, "%s: not with --pipeline", o.dump ? "--dump-graph" : o.log ? "--log" : "--profile");
    if ((o.discrepancy || o.predict) && (o.resume || o.checkpoint_every || o.stop_at))
        return weft_fail(WEFT_ERR_ARG, "%s: not with %s (its moving average of the updates is not in a checkpoint)",
                         o.resume ? "--resume" : o.checkpoint_every ? "--checkpoint-every" : "--stop-at",
                         o.predict ? "--weight-prediction" : "--discrepancy-correction");
    if ((o.checkpoint_every || o.stop_at) && !o.checkpoint)
        return weft_fail(WEFT_ERR_ARG, "%s: with --pipeline, give --checkpoint FILE too",
                         o.checkpoint_every ? "--checkpoint-every" : "--stop-at");
    weft_pipe_kind kind;
    WEFT_TRY(weft_pipe_kind_parse(o.pipeline, &kind));
    WEFT_TRY(weft_pipe_check_flags(&o, false));
    bool mpi = weft_opts_mpi(&o);
    int rank = 0, size = 1;
    char tag[24] = "";
    if (mpi) {   /* the run's name for its checkpoint files: rank 0's clock and pid */
        WEFT_TRY(weft_mpi_start(&rank, &size));
        uint64_t t = ((uint64_t)(weft_now() * 1e6) << 16) ^ (uint64_t)getpid();
        WEFT_TRY(weft_mpi_bcast_u64(&t, 1, o.mpi_timeout));
        snprintf(tag, sizeof tag, "%012llx", (unsigned long long)(t & 0xffffffffffffull));
    }
    weft_st_file ck = { 0 };
    int64_t step0 = 0;
    if (o.resume) {   /* the run's settings from the file; the pipeline's from the flags */
        weft_status s = weft_st_read(o.resume, &ck);
        if (!s) s = weft_ckpt_read_run(&ck, o.resume, &o, &step0);
        if (!s) s = pipe_meta_check(&ck, o.resume, &o);
        if (!s && o.stop_at > 0 && o.stop_at <= step0)
            s = weft_fail(WEFT_ERR_ARG, "--stop-at %lld: %s is already at step %lld", (long long)o.stop_at, o.resume,
                          (long long)step0);
        if (s) { weft_st_free(&ck); return s; }
    }
    if (o.stages < 1) o.stages = 4;
    double t0 = weft_now();
    bool eval = !o.no_eval && rank == 0;
    weft_pipe_session ps;
    weft_compiled ev = { 0 };
    weft_status s = weft_pipe_session_open(&ps, &o, eval);
    if (!s && rank == 0) s = weft_probe_output(o.checkpoint, "--checkpoint");
    if (!s && rank == 0) s = weft_probe_output(o.export_weights, "--export-weights");
    if (!s) s = weft_pipe_session_start(&ps, kind);
    if (!s && o.resume) s = weft_ckpt_load(&ck, o.resume, &ps.store, false, ps.tr.g);
    if (!s && o.resume) weft_pipe_set_done(ps.pipe, step0);
    if (!s && eval) s = weft_compile(&ev, &ps.o, ps.o.eval_batch, false);
    if (!s && eval) s = ps.task.check(&ps.task, ev.g, &ev.io, true);
    if (!s && eval) s = weft_exec_create(&ev.ex, ev.g, &ps.store, ps.o.threads, (uint64_t)o.seed);
    int64_t total = ps.o.steps > 0 ? ps.o.steps : (int64_t)ps.o.epochs * ps.updates_per_epoch;
    int64_t end = o.stop_at > 0 && o.stop_at < total ? o.stop_at : total;
    if (!s && !ps.o.quiet && rank == 0) weft_pipe_print_partition(stderr, &ps);
    if (!s && mpi) {
        sig_rank = rank;
        sig_stage = weft_pipe_my_stage(ps.pipe);
        sig_replica = weft_pipe_my_replica(ps.pipe);
        signal(SIGTERM, on_term);
        if (rank != ps.o.stages - 1) ps.o.quiet = true;   /* the progress: the last stage's, replica 0 */
    }
    double tt = weft_now();
    saved_t prev = { -1, "", 0 };
    if (o.resume && o.checkpoint && !strcmp(o.resume, o.checkpoint)) {   /* the files resumed from go when newer stand */
        const char *t = weft_st_meta(&ck, "stage_tag"), *n = weft_st_meta(&ck, "stages");
        if (t && n) {
            prev = (saved_t){ step0, "", atoi(n) };
            snprintf(prev.tag, sizeof prev.tag, "%s", t);
        }
    }
    if (o.resume) sig_ckpt = step0;
    int64_t K = o.checkpoint_every > 0 ? o.checkpoint_every : 0;   /* chunks; saved when --checkpoint */
    for (int64_t first = step0 + 1; !s && first <= end;) {
        int64_t last = end;
        if (K && (first - 1) / K * K + K < last) last = (first - 1) / K * K + K;
        s = weft_pipe_session_run(&ps, first, last - first + 1, total);
        if (!s && last < end && o.checkpoint) s = checkpoint(&ps, &o, tag, last, total, &prev);
        first = last + 1;
    }
    double train_s = weft_now() - tt;
    if (!s && step0 >= end) s = weft_fail(WEFT_ERR_ARG, "%s is at step %lld of %lld: nothing to train", o.resume,
                                          (long long)step0, (long long)end);
    if (!s) take_stats(&ps, kind, end, end - step0, train_s, r);
    if (!s && mpi) s = weft_pipe_mpi_share_store(ps.pipe);   /* rank 0 exports and evaluates the whole model */
    if (!s && o.checkpoint) s = checkpoint(&ps, &o, tag, end, total, &prev);
    if (!s && rank == 0) s = weft_onnx_export(&ps.tr, &ps.store, &ps.o, end);
    if (!s && eval) {
        weft_eval_result er = WEFT_EVAL_NONE;
        s = ps.task.evaluate(&ps.task, ev.ex, ev.g, &ev.io, &er);
        if (!s) weft_take_eval(r, &er);
    }
    r->wall_s = weft_now() - t0;
    if (s && mpi) {   /* stop every rank now: messages in flight still point into this rank's buffers */
        fprintf(stderr, "weft train: rank %d: %s\n", rank, weft_errmsg());
        weft_mpi_abort(weft_exit_code(s));
    }
    weft_opts_copy(oio, &ps.o);
    oio->quiet = o.quiet;
    weft_compiled_free(&ev);
    weft_pipe_session_close(&ps);
    weft_st_free(&ck);
    return s;
}
