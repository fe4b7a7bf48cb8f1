/* study.c — `weft study precision`: the seed's claim that 16-bit-only
 * training matches 32-bit, checked on the user's model. Every run of a study
 * shares the data order, the initial weights and the schedule of its seed
 * (all three are functions of the seed alone); only the policy changes. The
 * observer records each step's loss, held-out metrics along the way, and on
 * about 200 steps what the updates did to the weights — the cancelled-update
 * fraction that explains plain bf16's shortfall. */
#include "cli/study.h"
#include "weft/models.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *summary =
    "usage: weft study precision --model M [--preset paper] [--policies LIST] [--seeds N]\n"
    "                            [train flags...] [--report DIR] [--json]\n\n"
    "Trains model M under each precision policy (and each seed) with the same data\n"
    "order, initial weights and schedule, then prints a table: the final held-out\n"
    "metric, its difference from fp32 beside the fp32 seed-to-seed spread, the\n"
    "fraction of updates that were cancelled (a non-zero update that could not\n"
    "change the stored weight), bytes per parameter and time per step against fp32.\n"
    "--report DIR also writes study.json and report.html with SVG charts.";

/* ---- presets ------------------------------------------------------------------- */

/* `--preset paper`: a recipe per model, long enough for nearest rounding to
 * bite, short enough for minutes on 2 cores; docs/STUDY.md says why. Zero
 * fields keep the model preset's own value. */
typedef struct {
    const char *model;
    int64_t steps;
    int epochs;
    double lr;
    const char *optimizer;   /* NULL: the model preset's */
    double momentum;         /* < 0: the model preset's  */
    int64_t warmup;
    int seeds;
    int evals;               /* held-out evaluations per run (text: costly) */
    const char *data;
    const char *why;
} paper_preset;

static const paper_preset papers[] = {
    { "mlp", 0, 3, 0.005, NULL, -1, 0, 3, 8, NULL,
      "3 epochs of SGD at lr 0.005 (momentum 0.9, cosine to 0): a tenth of the default rate, as at the end of a "
      "schedule or in fine-tuning; most updates are then under half a bf16 ulp of their weight" },
    { "cnn", 0, 1, 0.003, NULL, -1, 0, 2, 8, NULL,
      "1 epoch of SGD at lr 0.003 (momentum 0.9, cosine to 0), for the same reason as mlp" },
    { "resnet", 0, 1, 0.01, NULL, -1, 0, 2, 4, NULL,
      "1 epoch of SGD at lr 0.01 (momentum 0.9, weight decay 5e-4, cosine to 0): a tenth of the default rate" },
    { "gpt-mini", 300, 0, 1e-3, NULL, -1, 30, 2, 4, NULL,
      "300 AdamW steps at the default lr 1e-3 (warm-up 30, cosine to 0): AdamW moves each weight by about lr "
      "a step, under half an ulp of the N(0,1) token embeddings and the layer-norm gains from the start" },
    { "lstm-lm", 300, 0, 2e-3, NULL, -1, 30, 2, 4, NULL,
      "300 AdamW steps at the default lr 2e-3 (warm-up 30, cosine to 0), as gpt-mini" },
    { "bert-tiny", 255, 0, 1e-4, NULL, -1, 0, 2, 4, NULL,
      "one epoch of AdamW at lr 1e-4 (weight decay 0.01, cosine to 0), a fine-tuning rate: the layer-norm gains "
      "(1.0, half-ulp 0.004) and most linear weights cannot move in bf16 (at the default 2e-3 plain bf16 "
      "matches fp32)" },
    { "dlrm-small", 0, 1, 0.1, "sgd", 0, 0, 2, 4, "synthetic:1000000",
      "one epoch of 1M synthetic clicks with plain SGD at lr 0.1, the optimizer of the DLRM reference: gradients "
      "of embedding rows and deep layers are small, and nearest rounding cancels nearly all of them" },
};

static const paper_preset *paper_find(const char *model)
{
    for (size_t i = 0; i < sizeof papers / sizeof *papers; i++)
        if (!strcmp(papers[i].model, model)) return &papers[i];
    return NULL;
}

/* --preset NAME and --model M from argv (before the flags are applied, so
 * that flags override the preset). */
static const char *scan_flag(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    const char *v = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], name) && i + 1 < argc) v = argv[i + 1];
        else if (!strncmp(argv[i], name, n) && argv[i][n] == '=') v = argv[i] + n + 1;
    }
    return v;
}

static weft_status apply_preset(weft_opts *o, const char *name, const char *model, const char **why)
{
    *why = NULL;
    if (!name) return WEFT_OK;
    if (strcmp(name, "paper")) return weft_fail(WEFT_ERR_ARG, "--preset: unknown preset '%s' (valid: paper)", name);
    const paper_preset *p = paper_find(model);
    if (!p) {
        char valid[256] = "";
        for (size_t i = 0; i < sizeof papers / sizeof *papers; i++)
            snprintf(valid + strlen(valid), sizeof valid - strlen(valid), "%s%s", i ? ", " : "", papers[i].model);
        return weft_fail(WEFT_ERR_ARG, "--preset paper: no recipe for model '%s' (there is one for %s)", model, valid);
    }
    if (p->steps) o->steps = p->steps;
    if (p->epochs) o->epochs = p->epochs;
    if (p->lr > 0) o->lr = p->lr;
    if (p->optimizer) {
        o->optimizer = !strcmp(p->optimizer, "sgd") ? WEFT_OPT_SGD : WEFT_OPT_ADAMW;
        o->optimizer_set = true;
    }
    if (p->momentum >= 0) o->momentum = p->momentum;
    o->warmup = p->warmup;
    o->eval_points = p->evals;
    if (p->seeds) o->seeds = p->seeds;
    if (p->data) o->data = p->data;
    *why = p->why;
    return WEFT_OK;
}

static weft_status parse_policies(study *s, const char *list)
{
    if (!list) list = "fp32,mixed,bf16,bf16-sr,bf16-kahan";
    char buf[256];
    if (strlen(list) >= sizeof buf) return weft_fail(WEFT_ERR_ARG, "--policies: list too long");
    snprintf(buf, sizeof buf, "%s", list);
    s->npolicies = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        weft_precision p;
        if (weft_precision_parse(t, &p)) return weft_fail_wrap(WEFT_ERR_ARG, "--policies");
        for (int i = 0; i < s->npolicies; i++)
            if (s->policies[i] == p) return weft_fail(WEFT_ERR_ARG, "--policies: '%s' is listed twice", t);
        s->policies[s->npolicies++] = p;
    }
    if (!s->npolicies) return weft_fail(WEFT_ERR_ARG, "--policies: empty list");
    return WEFT_OK;
}

/* ---- the observer ----------------------------------------------------------------- */

static void *grow(void *p, int *cap, int need, size_t el)
{
    if (need <= *cap) return p;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(p, (size_t)nc * el);
    if (q) *cap = nc;
    return q;
}

/* Room for twice as many counted steps in all five arrays; false when out of memory. */
static bool grow_counts(study_run *r)
{
    int cap = r->cap_count ? 2 * r->cap_count : 256;
    size_t nt = (size_t)(r->ntensors ? r->ntensors : 1);
    int64_t *cs = realloc(r->cstep, (size_t)cap * sizeof *cs);
    if (cs) r->cstep = cs;
    double *ca = realloc(r->cancelled_all, (size_t)cap * sizeof *ca);
    if (ca) r->cancelled_all = ca;
    double *ua = realloc(r->unchanged_all, (size_t)cap * sizeof *ua);
    if (ua) r->unchanged_all = ua;
    double *c = realloc(r->cancelled, (size_t)cap * nt * sizeof *c);
    if (c) r->cancelled = c;
    double *u = realloc(r->unchanged, (size_t)cap * nt * sizeof *u);
    if (u) r->unchanged = u;
    if (!cs || !ca || !ua || !c || !u) return false;
    r->cap_count = cap;
    return true;
}

static double frac(int64_t a, int64_t b) { return b > 0 ? (double)a / (double)b : NAN; }

static void on_step(void *ctx, int64_t step, double loss, double lr, const weft_graph *g,
                    const weft_update_count *counts)
{
    (void)lr;
    study_run *r = ctx;
    if (step >= 1 && step <= r->nsteps) r->loss[step - 1] = loss;
    if (!counts) return;
    if (!r->tensor) {   /* first counted step: the update nodes, in order */
        for (int i = 0; i < g->nnodes; i++) r->ntensors += g->nodes[i].phase == WEFT_PHASE_UPDATE;
        r->tensor = calloc((size_t)(r->ntensors ? r->ntensors : 1), sizeof *r->tensor);
        if (!r->tensor) { r->ntensors = 0; return; }
        for (int i = 0, k = 0; i < g->nnodes; i++)
            if (g->nodes[i].phase == WEFT_PHASE_UPDATE)
                snprintf(r->tensor[k++], WEFT_NAME_MAX, "%s", g->values[g->nodes[i].in[0]].name);
    }
    if (r->ncount == r->cap_count && !grow_counts(r)) return;   /* out of memory: unrecorded */
    int64_t nz = 0, un = 0, cn = 0;
    for (int i = 0, k = 0; i < g->nnodes; i++) {
        if (g->nodes[i].phase != WEFT_PHASE_UPDATE) continue;
        const weft_update_count *q = &counts[i];
        r->cancelled[r->ncount * r->ntensors + k] = frac(q->cancelled, q->nonzero);
        r->unchanged[r->ncount * r->ntensors + k] = frac(q->unchanged, q->nonzero);
        nz += q->nonzero; un += q->unchanged; cn += q->cancelled;
        k++;
    }
    r->cstep[r->ncount] = step;
    r->cancelled_all[r->ncount] = frac(cn, nz);
    r->unchanged_all[r->ncount] = frac(un, nz);
    r->ncount++;
}

static study_metric metric_of(const weft_eval_result *er)
{
    return isfinite(er->auc) ? METRIC_AUC : isfinite(er->bpb) ? METRIC_BPB : METRIC_ACC;
}

static double metric_value(const weft_eval_result *er)
{
    switch (metric_of(er)) {
    case METRIC_AUC: return er->auc;
    case METRIC_BPB: return er->bpb;
    default: return 100.0 * er->acc;
    }
}

static void on_eval(void *ctx, int64_t step, const weft_eval_result *er)
{
    study_run *r = ctx;
    study_eval *e = grow(r->evals, &r->cap_evals, r->nevals + 1, sizeof *e);
    if (!e) return;
    r->evals = e;
    e[r->nevals++] = (study_eval){ step, metric_value(er), er->loss };
}

static void run_free(study_run *r)
{
    free(r->loss); free(r->evals); free(r->tensor); free(r->cstep);
    free(r->cancelled); free(r->unchanged); free(r->cancelled_all); free(r->unchanged_all);
}

/* ---- the summary --------------------------------------------------------------- */

static void summarize(study *s)
{
    for (int p = 0; p < s->npolicies; p++) {
        study_row *w = &s->rows[p];
        memset(w, 0, sizeof *w);
        w->policy = s->policies[p];
        double sum = 0, sq = 0, t = 0, late_c = 0, late_u = 0, all_c = 0, all_u = 0;
        int nl = 0, na = 0;
        for (int k = 0; k < s->nseeds; k++) {
            const study_run *r = &s->runs[k * s->npolicies + p];
            w->ndiverged += r->diverged;
            if (!r->done) continue;
            w->nseeds++;
            sum += r->metric;
            t += r->step_s;
            w->bytes_per_param = r->r.params ? (double)r->r.store_bytes / (double)r->r.params : 0;
            for (int i = 0; i < r->ncount; i++) {
                if (!isfinite(r->cancelled_all[i])) continue;
                all_c += r->cancelled_all[i]; all_u += r->unchanged_all[i]; na++;
                if (i >= r->ncount - r->ncount / 10 - 1) { late_c += r->cancelled_all[i]; late_u += r->unchanged_all[i]; nl++; }
            }
        }
        if (!w->nseeds) continue;
        w->metric_mean = sum / w->nseeds;
        for (int k = 0; k < s->nseeds; k++) {
            const study_run *r = &s->runs[k * s->npolicies + p];
            if (r->done) sq += (r->metric - w->metric_mean) * (r->metric - w->metric_mean);
        }
        w->metric_sd = w->nseeds > 1 ? sqrt(sq / (w->nseeds - 1)) : 0;
        w->step_s = t / w->nseeds;
        w->cancelled_mean = na ? all_c / na : NAN;
        w->unchanged_mean = na ? all_u / na : NAN;
        w->cancelled_late = nl ? late_c / nl : NAN;
        w->unchanged_late = nl ? late_u / nl : NAN;
    }
    const study_row *f32 = NULL;
    for (int p = 0; p < s->npolicies; p++)
        if (s->rows[p].policy == WEFT_PREC_FP32 && s->rows[p].nseeds) f32 = &s->rows[p];
    s->has_fp32 = f32 != NULL;
    s->tol_abs = s->metric == METRIC_BPB ? 0.02 : s->metric == METRIC_AUC ? 0.003 : 0.3;
    s->fp32_sd = f32 ? f32->metric_sd : NAN;
    s->tol = f32 ? fmax(s->tol_abs, 2 * f32->metric_sd) : NAN;
    for (int p = 0; p < s->npolicies; p++) {
        study_row *w = &s->rows[p];
        w->diff = f32 ? w->metric_mean - f32->metric_mean : NAN;
        w->rel_time = f32 && f32->step_s > 0 ? w->step_s / f32->step_s : NAN;
        w->within = f32 && fabs(w->diff) <= s->tol;
    }
}

/* ---- the command ------------------------------------------------------------------- */

static weft_status make_dir(const char *dir)
{
    if (mkdir(dir, 0777) && errno != EEXIST)
        return weft_fail(WEFT_ERR_IO, "--report %s: cannot create the directory: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return weft_fail(WEFT_ERR_IO, "--report %s: not a directory", dir);
    return WEFT_OK;
}

static weft_status write_file(const char *dir, const char *name, void (*fn)(FILE *, const study *), const study *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    weft_outfile f;
    weft_status st = weft_outfile_open(&f, path);
    if (st) return weft_fail_wrap(st, "--report");
    fn(f.f, s);
    st = weft_outfile_commit(&f);
    return st ? weft_fail_wrap(st, "--report") : WEFT_OK;
}

static bool on_start(void *ctx, int64_t total)
{
    study_run *r = ctx;
    r->nsteps = total;
    r->loss = malloc((size_t)(total > 0 ? total : 1) * sizeof *r->loss);
    for (int64_t i = 0; r->loss && i < total; i++) r->loss[i] = NAN;
    return r->loss != NULL;
}

static weft_status run_study(study *s)
{
    const weft_model_preset *mp;
    WEFT_TRY(weft_model_find(s->o.model, &mp));
    weft_opts_resolve(&s->o, mp);
    s->metric = mp->task == WEFT_TASK_TEXT ? METRIC_BPB : mp->task == WEFT_TASK_CLICKS ? METRIC_AUC : METRIC_ACC;
    s->metric_name = s->metric == METRIC_BPB ? "validation bits per byte"
                   : s->metric == METRIC_AUC ? "validation AUC" : "held-out accuracy (%)";
    int n = s->nseeds * s->npolicies;
    s->runs = calloc((size_t)n, sizeof *s->runs);
    if (!s->runs) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < s->nseeds; k++)
        for (int p = 0; p < s->npolicies; p++) {
            study_run *r = &s->runs[k * s->npolicies + p];
            weft_opts o = s->o;
            o.precision = r->policy = s->policies[p];
            o.seed = r->seed = s->o.seed + k;
            if (!o.quiet)
                fprintf(stderr, "study: run %d/%d — %s, %s, seed %lld\n", k * s->npolicies + p + 1, n, o.model,
                        weft_precision_name(o.precision), (long long)o.seed);
            weft_train_observer obs = { .ctx = r, .count_points = 200,
                                        .eval_points = s->o.eval_points > 0 ? s->o.eval_points : 8,
                                        .eval_every = s->o.eval_every, .on_start = on_start,
                                        .on_step = on_step, .on_eval = on_eval };
            weft_status st = weft_train_run_observed(&o, &r->r, &obs);
            s->total_steps = r->nsteps;
            if (st == WEFT_ERR_NUMERIC) {   /* a result, not a failure: plain bf16 may diverge */
                r->diverged = true;
                snprintf(r->why, sizeof r->why, "%s", weft_errmsg());
                if (!o.quiet) fprintf(stderr, "study: %s diverged: %s\n", weft_precision_name(o.precision), r->why);
                continue;
            }
            if (st) return st;
            r->metric = r->nevals ? r->evals[r->nevals - 1].metric : NAN;
            r->step_s = r->r.steps ? r->r.train_s / (double)r->r.steps : NAN;
            r->done = true;
        }
    return WEFT_OK;
}

int weft_cmd_study(int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        weft_opts_usage(argc < 1 ? stderr : stdout, "study precision", V_STUDY, summary);
        return argc < 1 ? 2 : 0;
    }
    if (strcmp(argv[0], "precision")) {
        fprintf(stderr, "weft study: unknown study '%s' (valid: precision)\n", argv[0]);
        return 2;
    }
    study s;
    memset(&s, 0, sizeof s);
    weft_opts_defaults(&s.o);
    bool help;
    const char *model = scan_flag(argc - 1, argv + 1, "--model");
    if (model) s.o.model = model;
    weft_status st = apply_preset(&s.o, scan_flag(argc - 1, argv + 1, "--preset"), s.o.model, &s.preset_why);
    if (!st) st = weft_opts_parse(&s.o, V_STUDY, argc - 1, argv + 1, &help);
    if (!st && help) { weft_opts_usage(stdout, "study precision", V_STUDY, summary); return 0; }
    if (!st) st = parse_policies(&s, s.o.policies);
    if (!st) {
        s.nseeds = s.o.seeds > 0 ? s.o.seeds : 1;
        if (s.o.report) st = make_dir(s.o.report);
    }
    if (!st) st = run_study(&s);
    if (!st) {
        summarize(&s);
        if (s.o.json) study_write_json(stdout, &s);
        else study_print_table(stdout, &s);
        if (s.o.report) st = write_file(s.o.report, "study.json", study_write_json, &s);
        if (!st && s.o.report) st = write_file(s.o.report, "report.html", study_write_html, &s);
        if (!st && s.o.report && !s.o.quiet) fprintf(stderr, "study: wrote %s/report.html and %s/study.json\n", s.o.report, s.o.report);
    }
    if (st) fprintf(stderr, "weft study precision: %s\n", weft_errmsg());
    for (int i = 0; s.runs && i < s.nseeds * s.npolicies; i++) run_free(&s.runs[i]);
    free(s.runs);
    return st ? weft_exit_code(st) : 0;
}
