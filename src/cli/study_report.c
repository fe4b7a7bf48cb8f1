/* study_report.c — what `weft study precision` writes: the table, the JSON
 * record of every run, and the HTML page with its SVG charts. */
#include "cli/study.h"
#include "weft/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "3 seeds, 1876 steps, SGD lr 0.05 (momentum 0.9, weight decay 0), cosine, warm-up 0" */
static void recipe(char *buf, size_t n, const study *s)
{
    const weft_opts *o = &s->o;
    char opt[96];
    if (o->optimizer == WEFT_OPT_SGD)
        snprintf(opt, sizeof opt, "SGD lr %g (momentum %g, weight decay %g)", o->lr, o->momentum, o->weight_decay);
    else
        snprintf(opt, sizeof opt, "AdamW lr %g (weight decay %g)", o->lr, o->weight_decay);
    snprintf(buf, n, "%d seed%s from %lld, %lld steps of batch %d, %s, %s schedule, warm-up %lld", s->nseeds,
             s->nseeds == 1 ? "" : "s", (long long)o->seed, (long long)s->total_steps, o->batch, opt, o->schedule,
             (long long)o->warmup);
}

static void pct(char *b, size_t n, double x)
{
    if (!isfinite(x)) snprintf(b, n, "-");
    else if (x > 0 && x < 0.001) snprintf(b, n, "%.4f%%", 100 * x);
    else snprintf(b, n, "%.1f%%", 100 * x);
}

/* The cells of row p (formatted as the table and the HTML page show them). */
enum { NCOL = 8 };
static const char *const header[NCOL] = { "policy", "metric (mean ± sd)", "vs fp32", "within tolerance",
                                          "cancelled: run | last 10%", "unchanged: run",
                                          "bytes / param", "time / step vs fp32" };

static void row_cells(const study *s, int p, char cells[NCOL][48])
{
    const study_row *w = &s->rows[p];
    const int dec = s->metric == METRIC_ACC ? 2 : 4;
    snprintf(cells[0], 48, "%s", weft_precision_name(w->policy));
    if (w->ndiverged && !w->nseeds) {
        snprintf(cells[1], 48, "diverged (all %d)", w->ndiverged);
        for (int c = 2; c < NCOL; c++) snprintf(cells[c], 48, "-");
        return;
    }
    if (w->ndiverged) snprintf(cells[1], 48, "%.*f (%d diverged)", dec, w->metric_mean, w->ndiverged);
    else if (w->nseeds > 1) snprintf(cells[1], 48, "%.*f ± %.*f", dec, w->metric_mean, dec, w->metric_sd);
    else snprintf(cells[1], 48, "%.*f", dec, w->metric_mean);
    if (!s->has_fp32 || w->policy == WEFT_PREC_FP32) snprintf(cells[2], 48, "-");
    else snprintf(cells[2], 48, "%+.*f", dec, w->diff);
    snprintf(cells[3], 48, "%s", !s->has_fp32 || w->policy == WEFT_PREC_FP32 ? "-" : w->within ? "yes" : "NO");
    char a[16], b[16];
    pct(a, sizeof a, w->cancelled_mean);
    pct(b, sizeof b, w->cancelled_late);
    snprintf(cells[4], 48, "%s | %s", a, b);
    pct(cells[5], 48, w->unchanged_mean);
    snprintf(cells[6], 48, "%.2f", w->bytes_per_param);
    if (isfinite(w->rel_time)) snprintf(cells[7], 48, "%.2fx (%.1f ms)", w->rel_time, 1e3 * w->step_s);
    else snprintf(cells[7], 48, "%.1f ms", 1e3 * w->step_s);
}

void study_print_table(FILE *f, const study *s)
{
    char rec[512];
    recipe(rec, sizeof rec, s);
    fprintf(f, "precision study: %s — %s\nmetric: %s (%s is better)\n\n", s->o.model, rec, s->metric_name,
            study_higher_better(s) ? "higher" : "lower");
    int wd[NCOL];
    char cells[WEFT_PREC_COUNT][NCOL][48];
    for (int c = 0; c < NCOL; c++) wd[c] = (int)strlen(header[c]);
    for (int p = 0; p < s->npolicies; p++) {
        row_cells(s, p, cells[p]);
        for (int c = 0; c < NCOL; c++) {
            int l = (int)strlen(cells[p][c]) - (strstr(cells[p][c], "±") ? 1 : 0);   /* ± is 2 bytes */
            if (l > wd[c]) wd[c] = l;
        }
    }
    for (int c = 0; c < NCOL; c++) fprintf(f, "%-*s%s", wd[c], header[c], c + 1 < NCOL ? "  " : "\n");
    for (int p = 0; p < s->npolicies; p++)
        for (int c = 0; c < NCOL; c++)
            fprintf(f, "%-*s%s", wd[c] + (strstr(cells[p][c], "±") ? 1 : 0), cells[p][c], c + 1 < NCOL ? "  " : "\n");
    if (s->has_fp32)
        fprintf(f, "\ntolerance: the larger of %g and twice fp32's seed-to-seed standard deviation (%.4g) = %.4g\n",
                s->tol_abs, s->fp32_sd, s->tol);
    fprintf(f, "cancelled: a non-zero update that could not change the stored weight (nearest rounding: it\n"
               "stayed put; stochastic: w - update equals w even in fp32; Kahan: neither the weight nor its\n"
               "compensation moved). unchanged: the stored weight kept its bits (stochastic rounding leaves\n"
               "many weights unchanged in a step, but the expected update is kept).\n");
}

/* ---- JSON --------------------------------------------------------------------------- */

static void jstr(FILE *f, const char *s) { weft_json_string(f, s); }

static void jnum(FILE *f, double x)
{
    if (isfinite(x)) fprintf(f, "%.6g", x);
    else fputs("null", f);
}

static void jarr(FILE *f, const double *x, int64_t n, int64_t stride)
{
    fputc('[', f);
    for (int64_t i = 0; i < n; i++) {
        if (i) fputc(',', f);
        jnum(f, x[i * stride]);
    }
    fputc(']', f);
}

static void json_run(FILE *f, const study_run *r)
{
    fprintf(f, "{\"policy\": \"%s\", \"seed\": %lld, \"diverged\": ", weft_precision_name(r->policy), (long long)r->seed);
    if (r->diverged) jstr(f, r->why); else fputs("false", f);
    fputs(", \"metric\": ", f);
    jnum(f, r->metric);
    fputs(", \"train_loss\": ", f); jnum(f, r->r.train_loss);
    fputs(", \"step_s\": ", f); jnum(f, r->step_s);
    fprintf(f, ", \"steps\": %lld, \"params\": %lld, \"store_bytes\": %lld, \"loss\": ", (long long)r->r.steps,
            (long long)r->r.params, (long long)r->r.store_bytes);
    jarr(f, r->loss, r->nsteps, 1);
    fputs(", \"evals\": [", f);
    for (int i = 0; i < r->nevals; i++) {
        fprintf(f, "%s{\"step\": %lld, \"metric\": ", i ? ", " : "", (long long)r->evals[i].step);
        jnum(f, r->evals[i].metric);
        fputs(", \"loss\": ", f); jnum(f, r->evals[i].loss);
        fputc('}', f);
    }
    fputs("], \"updates\": {\"steps\": [", f);
    for (int i = 0; i < r->ncount; i++) fprintf(f, "%s%lld", i ? "," : "", (long long)r->cstep[i]);
    fputs("], \"cancelled\": ", f); jarr(f, r->cancelled_all, r->ncount, 1);
    fputs(", \"unchanged\": ", f); jarr(f, r->unchanged_all, r->ncount, 1);
    fputs(", \"tensors\": [", f);
    for (int t = 0; t < r->ntensors; t++) {
        fprintf(f, "%s{\"name\": ", t ? ", " : "");
        jstr(f, r->tensor[t]);
        fputs(", \"cancelled\": ", f); jarr(f, r->cancelled + t, r->ncount, r->ntensors);
        fputs(", \"unchanged\": ", f); jarr(f, r->unchanged + t, r->ncount, r->ntensors);
        fputc('}', f);
    }
    fputs("]}}", f);
}

void study_write_json(FILE *f, const study *s)
{
    const weft_opts *o = &s->o;
    fprintf(f, "{\"study\": \"precision\", \"model\": ");
    jstr(f, o->model);
    fprintf(f, ", \"metric\": ");
    jstr(f, s->metric_name);
    fprintf(f, ", \"higher_is_better\": %s, \"steps\": %lld, \"batch\": %d, \"optimizer\": \"%s\", \"lr\": %g, "
            "\"momentum\": %g, \"weight_decay\": %g, \"schedule\": ", study_higher_better(s) ? "true" : "false",
            (long long)s->total_steps, o->batch, o->optimizer == WEFT_OPT_ADAMW ? "adamw" : "sgd", o->lr,
            o->momentum, o->weight_decay);
    jstr(f, o->schedule);
    fprintf(f, ", \"warmup\": %lld, \"seed\": %lld, \"seeds\": %d, \"threads\": %d, \"preset\": ", (long long)o->warmup,
            (long long)o->seed, s->nseeds, o->threads);
    if (o->preset) jstr(f, o->preset); else fputs("null", f);
    fputs(", \"tolerance\": ", f); jnum(f, s->tol);
    fputs(", \"fp32_sd\": ", f); jnum(f, s->fp32_sd);
    fputs(", \"summary\": [", f);
    for (int p = 0; p < s->npolicies; p++) {
        const study_row *w = &s->rows[p];
        fprintf(f, "%s\n  {\"policy\": \"%s\", \"seeds\": %d, \"metric_mean\": ", p ? "," : "",
                weft_precision_name(w->policy), w->nseeds);
        jnum(f, w->metric_mean);
        fputs(", \"metric_sd\": ", f); jnum(f, w->metric_sd);
        fputs(", \"diff_vs_fp32\": ", f); jnum(f, w->diff);
        fprintf(f, ", \"within_tolerance\": %s", s->has_fp32 && w->policy != WEFT_PREC_FP32 ? (w->within ? "true" : "false") : "null");
        fputs(", \"cancelled_mean\": ", f); jnum(f, w->cancelled_mean);
        fputs(", \"unchanged_mean\": ", f); jnum(f, w->unchanged_mean);
        fputs(", \"cancelled_late\": ", f); jnum(f, w->cancelled_late);
        fputs(", \"unchanged_late\": ", f); jnum(f, w->unchanged_late);
        fputs(", \"bytes_per_param\": ", f); jnum(f, w->bytes_per_param);
        fputs(", \"step_s\": ", f); jnum(f, w->step_s);
        fputs(", \"time_vs_fp32\": ", f); jnum(f, w->rel_time);
        fputc('}', f);
    }
    fputs("],\n\"runs\": [", f);
    for (int i = 0; i < s->nseeds * s->npolicies; i++) {
        if (!s->runs[i].done && !s->runs[i].diverged) continue;
        fputs(i ? ",\n" : "\n", f);
        json_run(f, &s->runs[i]);
    }
    fputs("]}\n", f);
}

/* ---- HTML ------------------------------------------------------------------------------ */

/* Mean over seeds of a per-run series: run (k, p)'s value i, for i < n. */
typedef double (*run_value)(const study_run *r, int i);

static double eval_metric(const study_run *r, int i) { return i < r->nevals ? r->evals[i].metric : NAN; }
static double eval_step(const study_run *r, int i) { return i < r->nevals ? (double)r->evals[i].step : NAN; }
static double cancelled_pct(const study_run *r, int i) { return i < r->ncount ? 100 * r->cancelled_all[i] : NAN; }
static double unchanged_pct(const study_run *r, int i) { return i < r->ncount ? 100 * r->unchanged_all[i] : NAN; }
static double count_step(const study_run *r, int i) { return i < r->ncount ? (double)r->cstep[i] : NAN; }

static double seed_mean(const study *s, int p, run_value fn, int i)
{
    double sum = 0;
    int n = 0;
    for (int k = 0; k < s->nseeds; k++) {
        const study_run *r = &s->runs[k * s->npolicies + p];
        double v = r->done ? fn(r, i) : NAN;
        if (isfinite(v)) { sum += v; n++; }
    }
    return n ? sum / n : NAN;
}

/* One line per policy: x from seed 0's run, y the seed mean. */
static void policy_chart(FILE *f, const study *s, const char *title, const char *ylabel, run_value xf,
                         run_value yf, int (*len)(const study_run *))
{
    weft_svg_series ser[WEFT_PREC_COUNT] = { { 0 } };
    double *buf[WEFT_PREC_COUNT] = { 0 };
    int ns = 0;
    for (int p = 0; p < s->npolicies; p++) {
        const study_run *r0 = &s->runs[p];
        int n = r0->done ? len(r0) : 0;
        double *xy = malloc((size_t)(2 * (n ? n : 1)) * sizeof *xy);
        if (!xy) continue;
        buf[ns] = xy;
        for (int i = 0; i < n; i++) { xy[i] = xf(r0, i); xy[n + i] = seed_mean(s, p, yf, i); }
        ser[ns++] = (weft_svg_series){ weft_precision_name(s->policies[p]), xy, xy + n, n };
    }
    weft_svg_chart c = { title, "step", ylabel, false, 0, 0 };
    weft_svg_line_chart(f, &c, ser, ns);
    for (int i = 0; i < ns; i++) free(buf[i]);
}

static int n_evals(const study_run *r) { return r->nevals; }
static int n_counts(const study_run *r) { return r->ncount; }

/* Training loss, the seed mean smoothed by a centred moving average of w
 * steps and thinned to at most 400 points. */
static void loss_chart(FILE *f, const study *s)
{
    const int64_t n = s->total_steps, w = n / 50 > 1 ? n / 50 : 1, every = n / 400 > 1 ? n / 400 : 1;
    const int m = (int)((n + every - 1) / every);
    weft_svg_series ser[WEFT_PREC_COUNT] = { { 0 } };
    double *buf[WEFT_PREC_COUNT] = { 0 };
    int ns = 0;
    double *mean = malloc((size_t)(n ? n : 1) * sizeof *mean);
    for (int p = 0; mean && p < s->npolicies; p++) {
        double *xy = malloc((size_t)(2 * (m ? m : 1)) * sizeof *xy);
        if (!xy) continue;
        for (int64_t i = 0; i < n; i++) {
            double sum = 0;
            int c = 0;
            for (int k = 0; k < s->nseeds; k++) {
                const study_run *r = &s->runs[k * s->npolicies + p];
                if (r->done && i < r->nsteps && isfinite(r->loss[i])) { sum += r->loss[i]; c++; }
            }
            mean[i] = c ? sum / c : NAN;
        }
        int j = 0;
        for (int64_t i = 0; i < n; i += every, j++) {
            double sum = 0;
            int c = 0;
            for (int64_t t = i - w / 2; t <= i + w / 2; t++)
                if (t >= 0 && t < n && isfinite(mean[t])) { sum += mean[t]; c++; }
            xy[j] = (double)(i + 1);
            xy[m + j] = c ? sum / c : NAN;
        }
        buf[ns] = xy;
        ser[ns++] = (weft_svg_series){ weft_precision_name(s->policies[p]), xy, xy + m, j };
    }
    char title[96];
    snprintf(title, sizeof title, "training loss (mean over seeds, moving average of %lld steps)", (long long)w);
    weft_svg_chart c = { title, "step", "loss", false, 0, 0 };
    weft_svg_line_chart(f, &c, ser, ns);
    for (int i = 0; i < ns; i++) free(buf[i]);
    free(mean);
}

/* Seed 0's cancelled fraction per tensor (rows) and counted step (columns). */
static void tensor_heatmap(FILE *f, const study_run *r)
{
    if (!r->done || !r->ntensors || !r->ncount) return;
    const char **labels = malloc((size_t)r->ntensors * sizeof *labels);
    double *v = malloc((size_t)r->ntensors * (size_t)r->ncount * sizeof *v);
    if (labels && v) {
        for (int t = 0; t < r->ntensors; t++) {
            labels[t] = r->tensor[t];
            for (int i = 0; i < r->ncount; i++) v[t * r->ncount + i] = r->cancelled[i * r->ntensors + t];
        }
        char title[96];
        snprintf(title, sizeof title, "%s, seed %lld: cancelled fraction per weight tensor", weft_precision_name(r->policy),
                 (long long)r->seed);
        weft_svg_heatmap(f, title, labels, r->ntensors, v, r->ncount, (double)r->cstep[0],
                         (double)r->cstep[r->ncount - 1], "step");
    }
    free(labels);
    free(v);
}

void study_write_html(FILE *f, const study *s)
{
    char buf[1024], rec[512];
    snprintf(buf, sizeof buf, "weft precision study: %s", s->o.model);
    weft_report_begin(f, buf);
    recipe(rec, sizeof rec, s);
    snprintf(buf, sizeof buf, "The same model, data order, initial weights and schedule under each precision policy: "
             "%s. Metric: %s (%s is better).", rec, s->metric_name, study_higher_better(s) ? "higher" : "lower");
    weft_report_paragraph(f, buf);
    if (s->preset_why) {
        snprintf(buf, sizeof buf, "Preset paper: %s.", s->preset_why);
        weft_report_paragraph(f, buf);
    }
    char cells[WEFT_PREC_COUNT][NCOL][48];
    const char *cp[WEFT_PREC_COUNT * NCOL];
    for (int p = 0; p < s->npolicies; p++) {
        row_cells(s, p, cells[p]);
        for (int c = 0; c < NCOL; c++) cp[p * NCOL + c] = cells[p][c];
    }
    weft_report_table(f, header, NCOL, cp, s->npolicies);
    if (s->has_fp32) {
        snprintf(buf, sizeof buf, "Within tolerance: |mean - fp32's mean| at most the larger of %g and twice fp32's "
                 "seed-to-seed standard deviation (%.4g), here %.4g.", s->tol_abs, s->fp32_sd, s->tol);
        weft_report_paragraph(f, buf);
    }
    weft_report_paragraph(f, "A cancelled update is a non-zero update that could not change the stored weight: under "
                          "nearest rounding (bf16) the weight stayed put because the update was under half a bf16 "
                          "unit in the last place; under stochastic rounding only when weight minus update equals "
                          "the weight even in fp32 (any other update moves the weight with probability in proportion "
                          "to its size, so it is kept on average); under Kahan summation when neither the weight nor "
                          "its compensation changed. Zamirai et al. (Revisiting BFloat16 Training, 2021) trace plain "
                          "bf16's shortfall to exactly these cancelled updates, which grow as the learning rate decays.");
    weft_report_heading(f, 2, "Held-out metric");
    policy_chart(f, s, s->metric_name, s->metric_name, eval_step, eval_metric, n_evals);
    weft_report_heading(f, 2, "Training loss");
    loss_chart(f, s);
    weft_report_heading(f, 2, "Cancelled updates");
    policy_chart(f, s, "cancelled updates (% of non-zero updates, mean over seeds)", "% cancelled", count_step,
                 cancelled_pct, n_counts);
    policy_chart(f, s, "weights left unchanged by a non-zero update (%)", "% unchanged", count_step, unchanged_pct,
                 n_counts);
    weft_report_heading(f, 2, "Cancelled updates per weight tensor");
    for (int p = 0; p < s->npolicies; p++) tensor_heatmap(f, &s->runs[p]);
    weft_report_end(f);
}
