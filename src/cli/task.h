/* task.h — what a model trains on: the data behind `weft train` and
 * `weft eval`. A task feeds a training step's batch and evaluates a graph on
 * its held-out split; the trainer knows nothing else of the data. */
#ifndef WEFT_CLI_TASK_H
#define WEFT_CLI_TASK_H

#include "cli/cli.h"
#include "weft/exec.h"
#include "weft/io.h"
#include "weft/models.h"
#include "weft/onnx.h"

/* A model compiled for one batch size: graph, its inputs and outputs, and
 * (once created) its executor. */
typedef struct {
    weft_graph *g;
    weft_model_io io;
    weft_exec *ex;
    weft_onnx *onnx;   /* --onnx: the import (owns g): the file's weights and names; else NULL */
} weft_compiled;

/* Builds o's model (preset, size; or o->onnx with its loss) for `batch`,
 * then precision (o's) -> [autodiff -> optimizer (o's)] -> verify -> plan. */
weft_status weft_compile(weft_compiled *c, const weft_opts *o, int batch, bool train);
/* Just the forward graph and its loss (weft_compile's first step). */
weft_status weft_compile_forward(weft_compiled *c, const weft_opts *o, int batch);
void weft_compiled_free(weft_compiled *c);

/* ---- ONNX models (onnx_model.c) ---- */
/* The preset a run trains like: o's zoo model by name; with --onnx, the one
 * of the data --data names (images or text), o->model becoming "onnx".
 * Checks that --loss and --export-weights come with --onnx, and --model
 * does not. */
weft_status weft_run_preset(weft_opts *o, const weft_model_preset **out);
/* o->onnx imported for `batch`, its input checked against --data, with
 * cross-entropy on its first output: c->g, c->io, c->onnx. */
weft_status weft_onnx_build(weft_compiled *c, const weft_opts *o, int batch);
/* After a pass renumbered c's values (vmap: old id -> new): the ONNX
 * parameters' ids follow. */
void weft_onnx_remap(weft_compiled *c, const int *vmap);
/* Fresh weights: an ONNX model's numbers into st (bound to c->g); a
 * preset's stay as the store initialised them. */
weft_status weft_compiled_fill(const weft_compiled *c, weft_store *st);
/* --export-weights: st's weights of c's ONNX model written back (after
 * `step` updates); nothing without the flag. */
weft_status weft_onnx_export(const weft_compiled *c, weft_store *st, const weft_opts *o, int64_t step);
/* A checkpoint's ONNX keys (onnx, data, loss) appended to meta (n strings
 * so far; buf holds the absolute path); returns the new count. */
int weft_onnx_ckpt_meta(const weft_opts *o, const char **meta, int n, char *buf, size_t cap);
/* Reads them back into o's owned copies (--onnx given: that path instead). */
weft_status weft_onnx_ckpt_read(const weft_st_file *f, const char *path, weft_opts *o);
/* Fails now, naming the flag, when an output file could not be written. */
weft_status weft_probe_output(const char *path, const char *flag);

/* Checkpoints: the run a checkpoint belongs to (model, policy, optimizer,
 * hyperparameters, schedule, length, step), read strictly; and its tensors
 * copied into a store bound to graph g (params_only: just the weights). */
weft_status weft_ckpt_read_run(const weft_st_file *f, const char *path, weft_opts *o, int64_t *step);
weft_status weft_ckpt_load(const weft_st_file *f, const char *path, weft_store *st, bool params_only,
                           const weft_graph *g);

typedef struct {
    double loss;   /* mean loss over the held-out split              */
    double acc;    /* images, tags: accuracy on the held-out split; else NAN */
    double bpb;    /* text: bits per byte on validation; else NAN    */
    double auc;    /* clicks: ROC AUC on validation; else NAN        */
    double best_auc; /* synthetic clicks: the generator's best AUC; else NAN */
    double baseline; /* tags: most-frequent-tag accuracy; else NAN   */
} weft_eval_result;

typedef struct weft_task weft_task;
struct weft_task {
    const char *name;           /* "Fashion-MNIST", "Brown bytes"                   */
    int64_t steps_per_epoch;    /* for the training batch                           */
    int64_t samples_per_step;   /* what samples/s counts: images, or token windows  */
    void *impl;
    /* The model's inputs fit the data (batch B of a graph built for it). */
    weft_status (*check)(weft_task *t, const weft_graph *g, const weft_model_io *io, bool eval);
    /* Feeds training step `step` (from 0): the batch depends on (seed, step) only. */
    weft_status (*feed)(weft_task *t, weft_exec *ex, const weft_graph *g, const weft_model_io *io,
                        int64_t step, uint64_t seed);
    weft_status (*evaluate)(weft_task *t, weft_exec *ex, const weft_graph *g, const weft_model_io *io,
                            weft_eval_result *r);
    void (*close)(weft_task *t);
};

/* Watches a training run (weft study): every step's loss and learning
 * rate, what the updates did to the weights on some steps, and held-out
 * metrics along the way. Evaluation time is not counted as training time. */
typedef struct {
    void *ctx;
    int count_points;      /* count updates (weft_update_count) on about this many steps,
                              evenly spaced, the first and the last among them (0: never) */
    int eval_points;       /* evaluate about this many times, the end included (0: at the end) */
    int64_t eval_every;    /* or every N steps, when > 0                            */
    /* Before the first step: the run's length in steps. Returns false to stop
     * the run (out of memory). */
    bool (*on_start)(void *ctx, int64_t total_steps);
    /* After step `step` (from 1). counts: g->nnodes counters by node (update
     * nodes filled) on a counted step, else NULL. */
    void (*on_step)(void *ctx, int64_t step, double loss, double lr, const weft_graph *g,
                    const weft_update_count *counts);
    void (*on_eval)(void *ctx, int64_t step, const weft_eval_result *er);
} weft_train_observer;

/* Progress of a long run on stderr: a bar on a terminal, a line every 10 s elsewhere. */
typedef struct { bool tty, quiet; double t0, last; int64_t total; } weft_progress;
void weft_progress_show(weft_progress *p, int64_t step, int batch, double loss, bool final);
/* The held-out metrics of a task into the result (er NULL: none). */
void weft_take_eval(weft_train_result *r, const weft_eval_result *er);
#define WEFT_EVAL_NONE { NAN, NAN, NAN, NAN, NAN, NAN }
/* Saves the store with o's run metadata, at `step` of `total`. */
weft_status weft_ckpt_save(const char *path, weft_store *st, const weft_opts *o, int64_t step, int64_t total);
/* The same with only the tensors `only` marks (NULL: all) and extra
 * metadata pairs (key, value) x nextra. */
weft_status weft_ckpt_save_part(const char *path, weft_store *st, const bool *only, const weft_opts *o, int64_t step,
                                int64_t total, const char **extra, int nextra);
/* PATH.<tag>.step<N>.stage<s>: stage s's file of a pipeline checkpoint on MPI. */
void weft_ckpt_stage_path(char *buf, size_t n, const char *path, const char *tag, int64_t step, int s);

weft_status weft_train_run_observed(weft_opts *o, weft_train_result *r, const weft_train_observer *obs);

/* Opens the data of preset p for a run with batch o->batch (and the held-out
 * split unless o->no_eval). */
weft_status weft_task_open(weft_task *t, const weft_model_preset *p, const weft_opts *o, bool train, bool eval);

/* B window offsets in [0, span) for training step `step`: a pure function
 * of (seed, step, stream) — the text and tagging tasks' batches. */
void weft_task_window_offsets(uint64_t seed, int64_t step, uint64_t stream, int B, uint64_t span, int64_t *offs);

weft_status weft_task_images_open(weft_task *t, const weft_opts *o, bool train, bool eval);
weft_status weft_task_text_open(weft_task *t, const weft_opts *o, bool train, bool eval);
weft_status weft_task_tags_open(weft_task *t, const weft_opts *o, bool train, bool eval);
weft_status weft_task_clicks_open(weft_task *t, const weft_opts *o, bool train, bool eval);

/* ---- pipelines (pipe_run.c) ---- */
#include "weft/pipe.h"

#include <string.h>

/* A model cut into stages over its task's data: what `weft train
 * --pipeline` and `weft pipeline` share. */
typedef struct {
    weft_opts o;              /* resolved; o.batch is the whole step's batch  */
    const weft_model_preset *preset;
    weft_task task;           /* opened for the microbatch                   */
    weft_compiled tr;         /* the microbatch's training graph, cut        */
    weft_partition part;
    weft_store store;
    weft_pipe *pipe;
    int mb_batch;             /* o.batch / o.microbatches                    */
    int nsplit;               /* heavy ops split along the batch             */
    int64_t updates_per_epoch;
    weft_progress pg;
    int64_t pg_from;          /* the run's first microbatch                  */
    bool cpu_node_clock;      /* the pipe times nodes by CPU clock (balance)  */
} weft_pipe_session;

/* Opens the task, builds the microbatch's graph and cuts it (o's --stages,
 * --split, --balance). eval: open the held-out split too. */
weft_status weft_pipe_session_open(weft_pipe_session *ps, const weft_opts *o, bool eval);
/* Fresh weights (o's seed) and a pipeline of schedule k over them. */
weft_status weft_pipe_session_start(weft_pipe_session *ps, weft_pipe_kind k);
/* `steps` updates from update `first`, of `total` (the learning-rate schedule's length). */
weft_status weft_pipe_session_run(weft_pipe_session *ps, int64_t first, int64_t steps, int64_t total);
void weft_pipe_session_close(weft_pipe_session *ps);
/* The update the pipeline's stage (this rank's, on MPI) is making. */
extern int64_t weft_pipe_cli_update;
/* --backend mpi */
static inline bool weft_opts_mpi(const weft_opts *o) { return o->backend && !strcmp(o->backend, "mpi"); }
/* The stage table: ops, cost, weights, activations. */
void weft_pipe_print_partition(FILE *f, const weft_pipe_session *ps);
weft_status weft_train_pipe(weft_opts *o, weft_train_result *r);
/* Flags that need a pipeline (or pipemare) given without one. list: `weft
 * pipeline`'s --pipeline is a list (default all four). */
weft_status weft_pipe_check_flags(const weft_opts *o, bool list);

#endif
