/* pipe_run.c — a model cut into pipeline stages over its task's data:
 * `weft train --pipeline` and `weft pipeline` both run through here.
 *
 * A step's batch B is split into M microbatches of B/M: the task is opened
 * for batch B/M and microbatch j is its step j, so a step's microbatches are
 * j = t*M .. t*M+M-1 — the data `exec` with M-way gradient accumulation sees. */
#include "cli/task.h"
#include "weft/models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "3,9,14" into S-1 cut points. */
static weft_status parse_split(const char *s, int S, int *cut)
{
    int n = 0, r;
    const char *p = s;
    char buf[32];
    while ((r = weft_list_next(&p, buf, sizeof buf))) {
        double v;
        if (r < 0) return weft_fail(WEFT_ERR_ARG, "--split %s: an empty or overlong cut point", s);
        if (!weft_parse_number(buf, true, 1, 1e6, &v))
            return weft_fail(WEFT_ERR_ARG, "--split %s: '%s' is not a whole number of 1 or more", s, buf);
        if (n == S - 1) return weft_fail(WEFT_ERR_ARG, "--split %s: more than the %d cut points of --stages %d", s, S - 1, S);
        cut[n++] = (int)v;
    }
    if (n != S - 1) return weft_fail(WEFT_ERR_ARG, "--split %s: %d cut points; --stages %d needs %d", s, n, S, S - 1);
    return WEFT_OK;
}

/* The microbatch's training graph, heavy ops split for S stages (unless
 * --no-op-split), not yet planned: the partition plans it. */
static weft_status compile_pipe(weft_compiled *c, const weft_opts *o, int batch, int *nsplit)
{
    *nsplit = 0;
    WEFT_TRY(weft_compile_forward(c, o, batch));
    /* split first: under mixed the weights reach their ops through casts */
    if (!o->no_op_split && o->stages > 1) {
        int *vmap = malloc((size_t)c->g->nvalues * sizeof *vmap);
        if (!vmap) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
        weft_status s = weft_pipe_split_heavy(c->g, o->stages, vmap, nsplit);
        if (!s) {
            int *f[] = { &c->io.x, &c->io.y, &c->io.pos, &c->io.ids, &c->io.logits, &c->io.loss };
            for (size_t k = 0; k < sizeof f / sizeof *f; k++) if (*f[k] >= 0) *f[k] = vmap[*f[k]];
            weft_onnx_remap(c, vmap);   /* the parameters are not split: they keep a value */
        }
        free(vmap);
        WEFT_TRY(s);
    }
    WEFT_TRY(weft_pass_precision(c->g, o->precision));
    WEFT_TRY(weft_pass_autodiff(c->g, c->io.loss));
    WEFT_TRY(weft_pass_optimizer(c->g, o->optimizer));
    return weft_graph_verify(c->g);
}

/* Times the nodes and cuts again by their times, twice; cuts gets the two
 * cuts made, in turn (stages - 1 item indices each). */
static weft_status measure_balance(weft_pipe_session *ps, uint64_t *cuts)
{
    weft_opts *o = &ps->o;
    /* Refine: time every node on its stage's thread, then cut again by those
     * times. The timed run is an asynchronous stream long enough to fill the
     * pipeline (at least 3S microbatches), so every stage works as it will
     * in a run: with all its microbatches' arenas in flight, not one. */
    int64_t steps = (8 * o->stages + o->microbatches - 1) / o->microbatches;
    int64_t measure = steps > 6 ? steps : 6;
    weft_pipe_kind k = WEFT_PIPE_PIPEMARE;
    weft_opts keep = *o;
    o->quiet = true;
    ps->cpu_node_clock = true;
    /* In the run's own mode (threads or one thread), every node timed by its
     * thread's CPU clock: what the stage works, not what the host's other
     * threads and processes take from it. The first stream warms up (first
     * touches of the arenas, the caches); only the second one's times count. */
    int nn = ps->tr.g->nnodes;
    double *secs = malloc(2 * (size_t)nn * sizeof *secs), *warm = secs ? secs + nn : NULL;
    weft_status s = secs ? WEFT_OK : weft_fail(WEFT_ERR_NOMEM, "out of memory");
    /* Twice: a node's time depends on its stage (whether its inputs were made
     * on the same thread, still in cache, or arrive from another), so the
     * second round times every node where the first round's cut put it. */
    for (int round = 0; round < 2 && !s; round++) {
        s = weft_pipe_session_start(ps, k);
        if (!s) s = weft_pipe_session_run(ps, 1, measure, 2 * measure);
        if (!s) {
            weft_pipe_node_seconds(ps->pipe, warm);
            s = weft_pipe_session_run(ps, measure + 1, measure, 2 * measure);
        }
        if (!s) {
            weft_pipe_node_seconds(ps->pipe, secs);
            for (int i = 0; i < nn; i++) secs[i] -= warm[i];
            /* An action also works outside its nodes (binding, feeding the
             * input, copying gradients out): 2-6% of a stage's time, more on
             * some stages than others. Each stage's nodes are scaled so they
             * sum to its actions' work in the same stream. */
            const weft_pipe_stats *st = weft_pipe_get_stats(ps->pipe);
            double in_nodes[WEFT_PIPE_MAX_STAGES] = { 0 };
            for (int i = 0; i < nn; i++) in_nodes[ps->tr.g->nodes[i].stage] += secs[i];
            for (int i = 0; i < nn; i++) {
                int q = ps->tr.g->nodes[i].stage;
                if (in_nodes[q] > 0) secs[i] *= st->st[q].work_s / in_nodes[q];
            }
            /* per microbatch: forward and backward ran M times a step, updates once */
            for (int i = 0; i < nn; i++)
                secs[i] /= (double)measure * (ps->tr.g->nodes[i].phase == WEFT_PHASE_UPDATE ? 1 : o->microbatches);
            weft_pipe_free(ps->pipe);
            ps->pipe = NULL;
            s = weft_pipe_partition(ps->tr.g, o->stages, NULL, secs, &ps->part);
            for (int c = 1; c < o->stages && !s; c++) cuts[round * (o->stages - 1) + c - 1] = (uint64_t)ps->part.start[c];
        }
    }
    free(secs);
    ps->cpu_node_clock = false;
    o->quiet = keep.quiet;
    return s;
}

weft_status weft_pipe_session_open(weft_pipe_session *ps, const weft_opts *oin, bool eval)
{
    memset(ps, 0, sizeof *ps);
    weft_store_init(&ps->store);
    ps->o = *oin;
    weft_opts *o = &ps->o;
    WEFT_TRY(weft_run_preset(o, &ps->preset));
    weft_opts_resolve(o, ps->preset);
    if (o->stages < 1) o->stages = 4;
    if (o->batch % o->microbatches)
        return weft_fail(WEFT_ERR_ARG, "--microbatches %d must divide --batch %d", o->microbatches, o->batch);
    if (o->balance && strcmp(o->balance, "estimate") && strcmp(o->balance, "measured"))
        return weft_fail(WEFT_ERR_ARG, "--balance %s: valid are estimate, measured", o->balance);
    if (o->split && o->balance)
        return weft_fail(WEFT_ERR_ARG, "--split gives the cut points; --balance has nothing to balance then");
    if (o->discrepancy && o->predict)
        return weft_fail(WEFT_ERR_ARG, "--weight-prediction and --discrepancy-correction: one or the other (the "
                         "backward reads the forward's predicted weights, so there is no discrepancy to correct)");
    if (o->discrepancy && o->precision == WEFT_PREC_MIXED)
        return weft_fail(WEFT_ERR_ARG, "--discrepancy-correction: under mixed the backward reads the bf16 copy its "
                         "forward made, so there is nothing to correct; use another policy");
    int cut[WEFT_PIPE_MAX_STAGES];
    if (o->split) WEFT_TRY(parse_split(o->split, o->stages, cut));
    ps->mb_batch = o->batch / o->microbatches;
    weft_opts ob = *o;
    ob.batch = ps->mb_batch;
    WEFT_TRY(compile_pipe(&ps->tr, o, ps->mb_batch, &ps->nsplit));   /* the model before the data */
    WEFT_TRY(weft_task_open(&ps->task, ps->preset, &ob, true, eval));
    WEFT_TRY(ps->task.check(&ps->task, ps->tr.g, &ps->tr.io, false));
    ps->updates_per_epoch = ps->task.steps_per_epoch / o->microbatches / (o->data_parallel > 1 ? o->data_parallel : 1);
    if (ps->updates_per_epoch < 1) ps->updates_per_epoch = 1;
    WEFT_TRY(weft_pipe_partition(ps->tr.g, o->stages, o->split ? cut : NULL, NULL, &ps->part));
    if (!o->balance || strcmp(o->balance, "measured")) return WEFT_OK;
    uint64_t w[2 * WEFT_PIPE_MAX_STAGES + 1] = { 0 };   /* the cuts, then rank 0's failure */
    if (!weft_opts_mpi(o)) return measure_balance(ps, w);
    /* Under MPI rank 0 alone times the cut, with a thread per stage while the
     * other ranks wait, and sends them both cuts it made: each rank's graph
     * goes through the same cuts in the same order, so every rank ends with
     * the same cut and the same node order. */
    int rank, size, S = o->stages;
    WEFT_TRY(weft_mpi_start(&rank, &size));
    weft_status s = WEFT_OK;
    if (rank == 0) {
        weft_opts keep = *o;
        o->backend = NULL; o->data_parallel = 1; o->check_replicas = false;
        s = measure_balance(ps, w);
        o->backend = keep.backend; o->data_parallel = keep.data_parallel; o->check_replicas = keep.check_replicas;
        w[2 * (S - 1)] = s != WEFT_OK;
    }
    weft_status b = weft_mpi_bcast_u64(w, 2 * (S - 1) + 1, o->mpi_timeout);
    if (s || b) return s ? s : b;
    if (rank != 0 && w[2 * (S - 1)]) return weft_fail(WEFT_ERR_INTERNAL, "--balance measured: rank 0 could not time the cut");
    for (int round = 0; round < 2 && rank != 0; round++) {
        int at[WEFT_PIPE_MAX_STAGES];
        for (int c = 0; c < S - 1; c++) at[c] = (int)w[round * (S - 1) + c];
        WEFT_TRY(weft_pipe_partition(ps->tr.g, S, at, NULL, &ps->part));
    }
    return WEFT_OK;
}

weft_status weft_pipe_session_start(weft_pipe_session *ps, weft_pipe_kind k)
{
    weft_pipe_free(ps->pipe);
    ps->pipe = NULL;
    weft_store_free(&ps->store);
    weft_store_init(&ps->store);
    const weft_opts *o = &ps->o;
    WEFT_TRY(weft_store_bind(&ps->store, ps->tr.g, (uint64_t)o->seed));
    WEFT_TRY(weft_compiled_fill(&ps->tr, &ps->store));   /* an ONNX model's weights */
    weft_pipe_opts po = {
        .kind = k, .stages = o->stages, .microbatches = o->microbatches, .serial = o->serial,
        .threads = o->threads, .queue = o->queue_depth, .cpu_node_clock = ps->cpu_node_clock,
        .slack = weft_pipe_async(k) ? o->slack : 0,
        .lr_delay_scale = k != WEFT_PIPE_PIPEMARE ? 0 : o->lr_delay_scale < 0 ? o->lr : o->lr_delay_scale,
        .lr_delay_warmup = o->lr_delay_warmup, .discrepancy = o->discrepancy && k == WEFT_PIPE_PIPEMARE,
        .discrepancy_decay = o->discrepancy_decay, .predict = o->predict && k == WEFT_PIPE_PIPEMARE,
        .mpi = weft_opts_mpi(o), .replicas = o->data_parallel, .mpi_timeout_s = o->mpi_timeout,
        .check_replicas = o->check_replicas,
    };
    weft_optim_hp hp = { (float)o->lr, (float)o->momentum, (float)o->weight_decay, 0.9f, 0.999f, 1e-8f };
    return weft_pipe_create(&ps->pipe, ps->tr.g, &ps->store, &po, &hp, (uint64_t)o->seed);
}

typedef struct { weft_pipe_session *ps; int64_t total; } run_ctx;

static weft_status feed_mb(void *ctx, weft_exec *ex, int64_t mb)
{
    weft_pipe_session *ps = ((run_ctx *)ctx)->ps;
    return ps->task.feed(&ps->task, ex, ps->tr.g, &ps->tr.io, mb, (uint64_t)ps->o.seed);
}

int64_t weft_pipe_cli_update;

static double lr_at(void *ctx, int64_t update)
{
    run_ctx *c = ctx;
    __atomic_store_n(&weft_pipe_cli_update, update, __ATOMIC_RELAXED);   /* every stage thread writes it */
    return weft_lr_at(&c->ps->o, c->ps->o.lr, update, c->total);
}

static void progress_mb(void *ctx, int64_t mb, double loss)
{
    weft_pipe_session *ps = ((run_ctx *)ctx)->ps;
    weft_progress_show(&ps->pg, mb + 1 - ps->pg_from, ps->mb_batch, loss, false);
}

weft_status weft_pipe_session_run(weft_pipe_session *ps, int64_t first, int64_t steps, int64_t total)
{
    run_ctx c = { ps, total };
    weft_pipe_io io = { &c, feed_mb, lr_at, progress_mb };
    ps->pg = (weft_progress){ .tty = isatty(2), .quiet = ps->o.quiet, .t0 = weft_now(),
                              .total = steps * ps->o.microbatches };
    ps->pg_from = (first - 1) * ps->o.microbatches;
    return weft_pipe_run(ps->pipe, first, steps, &io);
}

void weft_pipe_session_close(weft_pipe_session *ps)
{
    weft_pipe_free(ps->pipe);
    weft_compiled_free(&ps->tr);
    weft_store_free(&ps->store);
    if (ps->task.close) ps->task.close(&ps->task);
    memset(ps, 0, sizeof *ps);
}

void weft_pipe_print_partition(FILE *f, const weft_pipe_session *ps)
{
    const weft_partition *p = &ps->part;
    double total = 0, most = 0;
    for (int s = 0; s < p->stages; s++) { total += p->cost[s]; if (p->cost[s] > most) most = p->cost[s]; }
    fprintf(f, "%s cut into %d stages at forward ops ", ps->o.model, p->stages);
    for (int s = 1; s < p->stages; s++) fprintf(f, "%s%d", s > 1 ? "," : "", p->start[s]);
    fprintf(f, " (of %d; --split takes these), balanced by %s cost; microbatch %d\n", p->nitems,
            ps->o.split ? "no" : p->measured ? "measured" : "estimated", ps->mb_batch);
    if (ps->nsplit)
        fprintf(f, "  %d heavy op%s split along the batch so the stages can balance (--no-op-split: cut between "
                "the model's own ops only)\n", ps->nsplit, ps->nsplit > 1 ? "s" : "");
    fprintf(f, "  %-5s %-5s %6s %10s %6s %10s %10s %10s  %s\n", "stage", "items", "nodes", "cost ms", "share",
            "weights", "acts", "sends", "forward ops");
    for (int s = 0; s < p->stages; s++) {
        char ops[160];
        weft_partition_ops(ps->tr.g, s, ops, sizeof ops);
        fprintf(f, "  %-5d %-5d %6d %10.3f %5.1f%% %9.2fM %9.2fM %9.2fM  %s\n", s, p->start[s + 1] - p->start[s],
                p->nodes[s], 1e3 * p->cost[s], total > 0 ? 100 * p->cost[s] / total : 0,
                (double)p->param_bytes[s] / 1048576.0, (double)p->act_bytes[s] / 1048576.0,
                (double)p->send_bytes[s] / 1048576.0, ops);
    }
    fprintf(f, "  balance: the largest stage is %.2fx the mean; so at best %.0f%% utilization\n",
            total > 0 ? most * p->stages / total : 1, total > 0 ? 100 * total / (most * p->stages) : 100);
}

/* ---- weft train --pipeline -------------------------------------------------------- */

weft_status weft_pipe_check_flags(const weft_opts *o, bool list)
{
    if (!list && !o->pipeline) {   /* weft train without a pipeline */
        const char *f = o->stages ? "--stages" : o->microbatches != 1 ? "--microbatches" : o->serial ? "--serial"
                      : o->split ? "--split" : o->balance ? "--balance" : o->queue_depth ? "--queue-depth"
                      : o->no_op_split ? "--no-op-split" : o->slack ? "--slack"
                      : o->backend ? "--backend" : o->data_parallel ? "--data-parallel"
                      : o->mpi_timeout ? "--mpi-timeout" : o->check_replicas ? "--check-replicas" : NULL;
        if (f) return weft_fail(WEFT_ERR_ARG, "%s: only with --pipeline SCHEDULE", f);
    }
    if (o->backend && strcmp(o->backend, "threads") && strcmp(o->backend, "mpi"))
        return weft_fail(WEFT_ERR_ARG, "--backend %s: valid are threads, mpi", o->backend);
    if (!weft_opts_mpi(o) && (o->data_parallel > 1 || o->mpi_timeout || o->check_replicas))
        return weft_fail(WEFT_ERR_ARG, "%s: only with --backend mpi", o->data_parallel > 1 ? "--data-parallel"
                         : o->mpi_timeout ? "--mpi-timeout" : "--check-replicas");
    if (weft_opts_mpi(o) && o->serial) return weft_fail(WEFT_ERR_ARG, "--serial: not with --backend mpi (a process per stage)");
    /* weft pipeline runs all four schedules unless told otherwise */
    bool mare = list ? !o->pipeline || strstr(o->pipeline, "pipemare") : o->pipeline && !strcmp(o->pipeline, "pipemare");
    const char *f = o->discrepancy ? "--discrepancy-correction" : o->predict ? "--weight-prediction"
                  : o->lr_delay_scale >= 0 ? "--lr-delay-scale"
                  : o->lr_delay_warmup ? "--lr-delay-warmup" : o->discrepancy_decay != 0.1 ? "--discrepancy-decay" : NULL;
    if (f && !mare) return weft_fail(WEFT_ERR_ARG, "%s: only with --pipeline pipemare", f);
    bool async = list ? !o->pipeline || strstr(o->pipeline, "pipedream") || mare
                      : o->pipeline && (!strcmp(o->pipeline, "pipedream") || mare);
    if (o->slack && !async)
        return weft_fail(WEFT_ERR_ARG, "--slack %d: only with an asynchronous schedule (pipedream, pipemare); %s drains "
                         "every step", o->slack, o->pipeline);
    return WEFT_OK;
}
