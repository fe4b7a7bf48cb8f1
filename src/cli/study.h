/* study.h — `weft study precision`: one model trained under several
 * precision policies and seeds with the same data order, initial weights and
 * schedule; what each run recorded, the summary table, and the report
 * (study_report.c). */
#ifndef WEFT_CLI_STUDY_H
#define WEFT_CLI_STUDY_H

#include "cli/task.h"

/* The held-out metric a task reports, and which way is better. */
typedef enum { METRIC_ACC, METRIC_BPB, METRIC_AUC } study_metric;

typedef struct {
    int64_t step;
    double metric, loss;   /* held-out metric (accuracy in %, bits per byte, AUC) and loss */
} study_eval;

/* One training run: a policy and a seed. */
typedef struct {
    weft_precision policy;
    int64_t seed;
    int64_t nsteps;
    double *loss;          /* nsteps: each step's training loss                    */
    study_eval *evals;     /* nevals, by step; the last is the run's end            */
    int nevals, cap_evals;
    /* Update counts (weft_update_count) on counted steps: ncount steps x ntensors */
    int ntensors;
    char (*tensor)[WEFT_NAME_MAX];   /* ntensors weight names, in update order      */
    int ncount, cap_count;
    int64_t *cstep;        /* ncount: the counted steps                              */
    double *cancelled;     /* ncount x ntensors: cancelled / nonzero (NaN: no update) */
    double *unchanged;     /* ncount x ntensors: unchanged / nonzero                  */
    double *cancelled_all, *unchanged_all; /* ncount: over every tensor              */
    weft_train_result r;
    double metric;         /* the final held-out metric                               */
    double step_s;         /* training seconds per step (evaluations excluded)        */
    bool done;
    bool diverged;         /* the loss became non-finite: no metric (why says where) */
    char why[256];
} study_run;

/* One policy's row of the summary, over its seeds. */
typedef struct {
    weft_precision policy;
    int nseeds;            /* runs that finished                        */
    int ndiverged;         /* runs whose loss became non-finite          */
    double metric_mean, metric_sd;   /* sd: sample standard deviation (0 for one seed) */
    double diff;                     /* metric_mean - fp32's                      */
    double step_s, rel_time;         /* mean seconds per step; / fp32's           */
    double bytes_per_param;          /* weights + optimizer state (+ batch-norm statistics) as stored */
    double cancelled_mean, unchanged_mean; /* cancelled / unchanged fraction, mean over counted steps */
    double cancelled_late, unchanged_late; /* the same over the last 10% of them                       */
    bool within;                     /* |diff| within the tolerance               */
} study_row;

typedef struct {
    weft_opts o;                 /* the resolved recipe (model, steps, lr, …)     */
    const char *preset_why;      /* the preset's reason, or NULL                  */
    study_metric metric;
    const char *metric_name;     /* "test accuracy (%)", "validation bits per byte", "validation AUC" */
    int npolicies, nseeds;
    weft_precision policies[WEFT_PREC_COUNT];
    study_run *runs;             /* nseeds x npolicies, seed-major                 */
    study_row rows[WEFT_PREC_COUNT];
    bool has_fp32;
    double fp32_sd, tol_abs, tol; /* tolerance = max(tol_abs, 2 fp32_sd)          */
    int64_t total_steps;
} study;

static inline bool study_higher_better(const study *s) { return s->metric != METRIC_BPB; }

/* study_report.c: the table on f; the JSON (study.json); the HTML page. */
void study_print_table(FILE *f, const study *s);
void study_write_json(FILE *f, const study *s);
void study_write_html(FILE *f, const study *s);

#endif
