/* pipeline.c — `weft pipeline`: cut a model into stages, run a few steps of
 * each schedule on its real data, and show what every stage did — its work,
 * its idle time, the delays its gradients had — the utilization on the
 * virtual clock beside the closed-form bubble, and the timeline. */
#include "cli/task.h"
#include "weft/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *summary =
    "usage: weft pipeline --model M [--stages S] [--pipeline LIST] [--microbatches M] [--steps N]\n"
    "                     [--split LIST | --balance estimate|measured] [--serial] [--slack K] [--timeline FILE.svg]\n"
    "                     [--report DIR] [--show-schedule N] [--json]\n\n"
    "Cuts model M's training graph into S stages (default 4) and prints each stage's ops, cost,\n"
    "weights and activations. Then, for each schedule (default gpipe,1f1b,pipedream,pipemare), runs\n"
    "N steps (default 16) of M microbatches on the model's data with a thread per stage and reports:\n"
    "utilization = sum of work / (S x makespan) on a virtual clock that gives every stage its own\n"
    "device and charges it the measured time of its own work, beside the closed-form bubble\n"
    "(S-1)/(M+S-1) of the synchronous schedules, and \"steady\": the same clock with every action\n"
    "charged its stage's median time for its kind (the host's noise out, the imbalance kept); per\n"
    "stage, the work, the idle time, and the delays (updates between a microbatch's forward and its\n"
    "backward) measured beside the table's; the weight versions pipedream stashes. --timeline writes the runs as a Gantt chart (SVG).";

typedef struct {
    weft_pipe_kind kind;
    weft_pipe_stats st;       /* copied; arrays below owned here */
    weft_schedule sc;         /* copied tables: the pipe frees its own */
    double loss;              /* mean of the last step's microbatches */
    double *start, *finish;
    int64_t nact;
    weft_pipe_action *act;
} run_rec;

static weft_status parse_kinds(const char *list, weft_pipe_kind *k, int *n)
{
    *n = 0;
    const char *p = list ? list : "gpipe,1f1b,pipedream,pipemare";
    char buf[32];
    int r;
    while ((r = weft_list_next(&p, buf, sizeof buf))) {
        if (r < 0) return weft_fail(WEFT_ERR_ARG, "--pipeline %s: an empty or unknown schedule", list);
        if (*n == 4) return weft_fail(WEFT_ERR_ARG, "--pipeline %s: at most the four schedules", list);
        WEFT_TRY(weft_pipe_kind_parse(buf, &k[(*n)++]));
    }
    return WEFT_OK;
}

static weft_status record(run_rec *r, weft_pipe_kind k, const weft_pipe_session *ps)
{
    const weft_pipe_stats *st = weft_pipe_get_stats(ps->pipe);
    const weft_schedule *sc = weft_pipe_get_schedule(ps->pipe);
    memset(r, 0, sizeof *r);
    r->kind = k;
    r->st = *st;
    r->st.loss = NULL; r->st.delay = NULL; r->st.start = r->st.finish = NULL;
    r->sc = *sc;
    r->sc.a = NULL;
    memset(r->sc.order, 0, sizeof r->sc.order);
    r->nact = sc->n;
    r->act = malloc((size_t)sc->n * sizeof *r->act);
    r->start = malloc((size_t)sc->n * sizeof *r->start);
    r->finish = malloc((size_t)sc->n * sizeof *r->finish);
    if (!r->act || !r->start || !r->finish) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    memcpy(r->act, sc->a, (size_t)sc->n * sizeof *r->act);
    memcpy(r->start, st->start, (size_t)sc->n * sizeof *r->start);
    memcpy(r->finish, st->finish, (size_t)sc->n * sizeof *r->finish);
    int M = ps->o.microbatches;
    double sum = 0;
    for (int64_t i = st->microbatches - M; i < st->microbatches; i++) sum += st->loss[i];
    r->loss = sum / M;
    return WEFT_OK;
}

static void rec_free(run_rec *r)
{
    free(r->act); free(r->start); free(r->finish);
}

static void print_run(FILE *f, const run_rec *r, const weft_pipe_session *ps)
{
    int S = ps->o.stages, M = ps->o.microbatches;
    char sl[32] = "";
    if (r->sc.slack) snprintf(sl, sizeof sl, ", slack %d", r->sc.slack);
    fprintf(f, "\n%s: %lld steps of %d microbatch%s%s, %s; %.2f s wall, makespan %.3f s on the virtual clock\n",
            weft_pipe_kind_name(r->kind), (long long)r->sc.steps, M, M > 1 ? "es" : "", sl,
            ps->o.serial ? "one thread" : "a thread per stage", r->st.wall_s, r->st.makespan_s);
    fprintf(f, "  %-5s %10s %10s %10s %10s %8s %13s %11s %9s\n", "stage", "work s", "busy s", "idle s", "blocked s",
            "util", "delay min-max", "table tau", "B spread");
    for (int s = 0; s < S; s++) {
        const weft_stage_stats *q = &r->st.st[s];
        fprintf(f, "  %-5d %10.3f %10.3f %10.3f %10.3f %7.1f%% %6d-%-6d %11d %8.0f%%\n", s, q->work_s, q->busy_s, q->idle_s,
                q->blocked_s, r->st.makespan_s > 0 ? 100 * q->work_s / r->st.makespan_s : 0, q->tau_min, q->tau_max,
                r->sc.tau[s], 100 * q->spread);
    }
    fprintf(f, "  (B spread: the 10th to 90th percentile of the stage's backward times, over their median)\n");
    if (r->kind == WEFT_PIPE_PIPEDREAM) {
        int64_t w = 0;
        for (int s = 0; s < S; s++) w += ps->part.param_bytes[s];
        fprintf(f, "  weight stashing keeps %.2f MiB of weight versions beside the %.2f MiB of weights (%.2fx)\n",
                (double)r->st.stash_bytes / 1048576.0, (double)w / 1048576.0, w ? (double)r->st.stash_bytes / (double)w : 0);
    }
}

static weft_status write_timeline(FILE *f, const run_rec *runs, int nruns, int S, const char *title)
{
    int nrows = nruns * S;
    int64_t nb = 0;
    for (int k = 0; k < nruns; k++) nb += runs[k].nact;
    char **labels = calloc((size_t)nrows, sizeof *labels);
    weft_svg_bar *bars = malloc((size_t)(nb ? nb : 1) * sizeof *bars);
    char *lbuf = malloc((size_t)(nb ? nb : 1) * 12);
    weft_status s = WEFT_OK;
    if (!labels || !bars || !lbuf) s = weft_fail(WEFT_ERR_NOMEM, "out of memory");
    int64_t b = 0;
    for (int k = 0; k < nruns && !s; k++)
        for (int q = 0; q < S && !s; q++) {
            char *l = malloc(48);
            if (!l) { s = weft_fail(WEFT_ERR_NOMEM, "out of memory"); break; }
            if (nruns > 1) snprintf(l, 48, "%s s%d", weft_pipe_kind_name(runs[k].kind), q);
            else snprintf(l, 48, "stage %d", q);
            labels[k * S + q] = l;
        }
    for (int k = 0; k < nruns && !s; k++)
        for (int64_t i = 0; i < runs[k].nact; i++) {
            const weft_pipe_action *a = &runs[k].act[i];
            char *l = lbuf + b * 12;
            if (a->kind == WEFT_PA_U) snprintf(l, 12, "U%lld", (long long)a->update);
            else snprintf(l, 12, "%lld", (long long)a->mb);
            bars[b++] = (weft_svg_bar){ k * S + a->stage, runs[k].start[i], runs[k].finish[i], (int)a->kind, l };
        }
    static const char *const names[] = { "forward", "backward", "update" };
    static const char *const colors[] = { "#0072B2", "#E69F00", "#009E73" };
    weft_svg_gantt_chart c = { title, "seconds on the virtual clock (each stage its own device)",
                               (const char *const *)labels, nrows, names, colors, 3, 0 };
    if (!s) s = weft_svg_gantt(f, &c, bars, (int)b);
    for (int i = 0; labels && i < nrows; i++) free(labels[i]);
    free(labels); free(bars); free(lbuf);
    return s;
}

static void json_run(FILE *f, const run_rec *r, const weft_pipe_session *ps, bool last)
{
    int S = ps->o.stages, M = ps->o.microbatches;
    fprintf(f, "{\"schedule\": \"%s\", \"utilization\": %.6f, \"closed_form\": ", weft_pipe_kind_name(r->kind),
            r->st.utilization);
    if (weft_pipe_async(r->kind)) fprintf(f, "null");
    else fprintf(f, "%.6f", 1 - weft_bubble_closed_form(S, M));
    fprintf(f, ", \"utilization_steady\": %.6f, \"makespan_s\": %.6f, \"wall_s\": %.6f, \"loss\": %.6f, \"stash_bytes\": %lld, "
            "\"slack\": %d, \"stages\": [", r->st.utilization_steady, r->st.makespan_s, r->st.wall_s, r->loss,
            (long long)r->st.stash_bytes, r->sc.slack);
    for (int s = 0; s < S; s++) {
        const weft_stage_stats *q = &r->st.st[s];
        fprintf(f, "{\"work_s\": %.6f, \"idle_s\": %.6f, \"blocked_s\": %.6f, \"tau_min\": %d, \"tau_max\": %d, "
                "\"tau_mean\": %.4f, \"table_tau\": %d, \"spread\": %.4f}%s", q->work_s, q->idle_s, q->blocked_s,
                q->tau_min, q->tau_max, q->tau_mean, r->sc.tau[s], q->spread, s + 1 < S ? ", " : "");
    }
    fprintf(f, "]}%s", last ? "" : ", ");
}

static weft_status write_report(const char *dir, const run_rec *runs, int n, const weft_pipe_session *ps)
{
    if (mkdir(dir, 0777) && errno != EEXIST) return weft_fail(WEFT_ERR_IO, "--report %s: cannot create the directory", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/report.html", dir);
    weft_outfile of;
    weft_status os = weft_outfile_open(&of, path);
    if (os) return weft_fail_wrap(os, "--report");
    FILE *f = of.f;
    char t[256];
    snprintf(t, sizeof t, "weft pipeline: %s, %d stages, %d microbatch%s a step, %s", ps->o.model, ps->o.stages,
             ps->o.microbatches, ps->o.microbatches > 1 ? "es" : "", weft_precision_name(ps->o.precision));
    weft_report_begin(f, t);
    weft_report_heading(f, 2, "Stages");
    int S = ps->o.stages;
    const char *hdr[] = { "stage", "forward ops", "cost ms", "weights MiB", "activations MiB", "sends MiB" };
    char *cells[WEFT_PIPE_MAX_STAGES * 6];
    char store[WEFT_PIPE_MAX_STAGES * 6][200];
    for (int s = 0; s < S; s++) {
        snprintf(store[s * 6], 200, "%d", s);
        weft_partition_ops(ps->tr.g, s, store[s * 6 + 1], 200);
        snprintf(store[s * 6 + 2], 200, "%.3f", 1e3 * ps->part.cost[s]);
        snprintf(store[s * 6 + 3], 200, "%.3f", (double)ps->part.param_bytes[s] / 1048576.0);
        snprintf(store[s * 6 + 4], 200, "%.3f", (double)ps->part.act_bytes[s] / 1048576.0);
        snprintf(store[s * 6 + 5], 200, "%.3f", (double)ps->part.send_bytes[s] / 1048576.0);
        for (int c = 0; c < 6; c++) cells[s * 6 + c] = store[s * 6 + c];
    }
    weft_status s = weft_report_table(f, hdr, 6, (const char *const *)cells, S);
    weft_report_heading(f, 2, "Utilization");
    weft_report_paragraph(f, "Utilization is the sum of every stage's measured work over S times the makespan, on a "
                             "virtual clock that gives every stage its own device: each action is charged the CPU "
                             "time it took, and starts when its stage is free and its inputs are done. The closed "
                             "form is GPipe's 1 - (S-1)/(M+S-1) for equal stages. \"Steady\" is the same clock "
                             "with every action charged its stage's median time for its kind (forward, backward, "
                             "update): the host's noise taken out, the stages' imbalance kept.");
    const char *h2[] = { "schedule", "utilization", "steady", "closed form", "makespan s", "wall s", "final loss",
                         "stash MiB" };
    char st2[4][8][64];
    char *c2[32];
    for (int k = 0; k < n; k++) {
        snprintf(st2[k][0], 64, "%s", weft_pipe_kind_name(runs[k].kind));
        snprintf(st2[k][1], 64, "%.1f%%", 100 * runs[k].st.utilization);
        snprintf(st2[k][2], 64, "%.1f%%", 100 * runs[k].st.utilization_steady);
        if (weft_pipe_async(runs[k].kind)) snprintf(st2[k][3], 64, "-");
        else snprintf(st2[k][3], 64, "%.1f%%", 100 * (1 - weft_bubble_closed_form(S, ps->o.microbatches)));
        snprintf(st2[k][4], 64, "%.3f", runs[k].st.makespan_s);
        snprintf(st2[k][5], 64, "%.3f", runs[k].st.wall_s);
        snprintf(st2[k][6], 64, "%.4f", runs[k].loss);
        snprintf(st2[k][7], 64, "%.2f", (double)runs[k].st.stash_bytes / 1048576.0);
        for (int c = 0; c < 8; c++) c2[k * 8 + c] = st2[k][c];
    }
    if (!s) s = weft_report_table(f, h2, 8, (const char *const *)c2, n);
    weft_report_heading(f, 2, "Timeline");
    if (!s) s = write_timeline(f, runs, n, S, "forward, backward and update of every stage");
    weft_report_end(f);
    /* both files, or neither */
    weft_outfile jf;
    snprintf(path, sizeof path, "%s/pipeline.json", dir);
    if (!s && !(s = weft_outfile_open(&jf, path))) {
        fprintf(jf.f, "{\"model\": \"%s\", \"stages\": %d, \"microbatches\": %d, \"runs\": [", ps->o.model, S,
                ps->o.microbatches);
        for (int k = 0; k < n; k++) json_run(jf.f, &runs[k], ps, k + 1 == n);
        fprintf(jf.f, "]}\n");
        if ((s = weft_outfile_commit(&jf))) weft_outfile_abort(&of);
        else s = weft_outfile_commit(&of);
    } else {
        weft_outfile_abort(&of);
    }
    if (s) weft_fail_wrap(s, "--report");
    return s;
}

int weft_cmd_pipeline(int argc, char **argv)
{
    weft_opts o;
    weft_opts_defaults(&o);
    bool help;
    weft_status s = weft_opts_parse(&o, V_PIPE, argc, argv, &help);
    if (help) { weft_opts_usage(stdout, "pipeline", V_PIPE, summary); return 0; }
    weft_pipe_kind kinds[4];
    int nk = 0;
    if (!s) s = parse_kinds(o.pipeline, kinds, &nk);
    if (!s) s = weft_pipe_check_flags(&o, true);
    if (!s && o.steps <= 0) o.steps = 16;
    weft_pipe_session ps = { 0 };
    run_rec runs[4];
    int nr = 0;
    if (!s) s = weft_pipe_session_open(&ps, &o, false);
    FILE *out = o.json ? stderr : stdout;
    if (!s && !o.quiet) weft_pipe_print_partition(out, &ps);
    for (int k = 0; k < nk && !s; k++) {
        s = weft_pipe_session_start(&ps, kinds[k]);
        ps.o.quiet = true;
        if (!s) s = weft_pipe_session_run(&ps, 1, ps.o.steps, ps.o.steps);
        ps.o.quiet = o.quiet;
        if (!s && o.show_schedule > 0) weft_schedule_print(out, weft_pipe_get_schedule(ps.pipe), o.show_schedule);
        if (!s) s = record(&runs[nr++], kinds[k], &ps);
        if (!s && !o.quiet) print_run(out, &runs[nr - 1], &ps);
    }
    if (!s) {
        int S = ps.o.stages, M = ps.o.microbatches;
        fprintf(out, "\n%s, %d stages, %d microbatch%s a step, %s", ps.o.model, S, M, M > 1 ? "es" : "",
                weft_precision_name(ps.o.precision));
        if (o.slack) fprintf(out, ", slack %d (pipedream, pipemare)", o.slack);
        fprintf(out, ": utilization on the virtual clock\n");
        fprintf(out, "  %-10s %12s %8s %12s %12s %10s %10s\n", "schedule", "utilization", "steady", "closed form",
                "vs gpipe", "loss", "stash MiB");
        double gp = 0;
        for (int k = 0; k < nr; k++) if (runs[k].kind == WEFT_PIPE_GPIPE) gp = runs[k].st.utilization;
        for (int k = 0; k < nr; k++) {
            char cf[32] = "-", vs[32] = "-";
            if (!weft_pipe_async(runs[k].kind)) snprintf(cf, sizeof cf, "%.1f%%", 100 * (1 - weft_bubble_closed_form(S, M)));
            if (gp > 0) snprintf(vs, sizeof vs, "%.2fx", runs[k].st.utilization / gp);
            fprintf(out, "  %-10s %11.1f%% %7.1f%% %12s %12s %10.4f %10.2f\n", weft_pipe_kind_name(runs[k].kind),
                    100 * runs[k].st.utilization, 100 * runs[k].st.utilization_steady, cf, vs, runs[k].loss, (double)runs[k].st.stash_bytes / 1048576.0);
        }
    }
    if (!s && o.timeline) {
        weft_outfile of;
        char title[200];
        snprintf(title, sizeof title, "%s: %d stages, %d microbatch%s a step", ps.o.model, ps.o.stages, ps.o.microbatches,
                 ps.o.microbatches > 1 ? "es" : "");
        s = weft_outfile_open(&of, o.timeline);
        if (s) weft_fail_wrap(s, "--timeline");
        else {
            s = write_timeline(of.f, runs, nr, ps.o.stages, title);
            if (s) weft_outfile_abort(&of);
            else if ((s = weft_outfile_commit(&of))) weft_fail_wrap(s, "--timeline");
        }
        if (!s && !o.quiet) fprintf(out, "timeline: %s\n", o.timeline);
    }
    if (!s && o.report) {
        s = write_report(o.report, runs, nr, &ps);
        if (!s && !o.quiet) fprintf(out, "report: %s/report.html\n", o.report);
    }
    if (!s && o.json) {
        printf("{\"model\": \"%s\", \"stages\": %d, \"microbatches\": %d, \"precision\": \"%s\", \"runs\": [", ps.o.model,
               ps.o.stages, ps.o.microbatches, weft_precision_name(ps.o.precision));
        for (int k = 0; k < nr; k++) json_run(stdout, &runs[k], &ps, k + 1 == nr);
        printf("]}\n");
    }
    for (int k = 0; k < nr; k++) rec_free(&runs[k]);
    weft_pipe_session_close(&ps);
    if (s) {
        fprintf(stderr, "weft pipeline: %s\n", weft_errmsg());
        return weft_exit_code(s);
    }
    return 0;
}
