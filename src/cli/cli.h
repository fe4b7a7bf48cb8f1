/* cli.h — the weft command: verbs, the one flag table, the trainer. */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include "weft/base.h"
#include "weft/num.h"
#include "weft/graph.h"

/* Every option of every verb; one table (flags.c) describes them. */
typedef struct {
    const char *model;
    weft_precision precision;
    weft_optimizer optimizer;
    bool optimizer_set;   /* --optimizer given (else the preset's) */
    double lr;            /* <0: the optimizer's default */
    double momentum, weight_decay;
    int batch, eval_batch;
    int epochs;
    int64_t steps;        /* >0 overrides epochs */
    int64_t seed;
    int threads;
    const char *checkpoint, *resume, *log, *data_dir;
    const char *data;     /* click models: synthetic[:N] or criteo:PATH (NULL: synthetic) */
    bool json, quiet, no_eval, profile;
    const char *dump;     /* write the training graph's text dump here */
    int layers, heads, d_model, ctx, vocab;  /* model size (0: the preset's) */
    const char *prompt;   /* sample: the text to continue */
    int tokens;           /* sample: bytes to generate */
    double temperature;   /* sample: 0 picks the most likely byte */
    const char *schedule; /* learning-rate schedule: constant, cosine, step, linear */
    int64_t warmup;       /* linear warm-up steps before the schedule */
    int64_t checkpoint_every; /* also save the checkpoint every N steps */
    int64_t stop_at;      /* stop after this step, as if interrupted (0: never) */
    const char *policies; /* study: comma-separated precision policies (NULL: all five) */
    int seeds;            /* study: seeds per policy (0: the preset's, else 1)   */
    const char *report;   /* study: write study.json and report.html into this directory */
    const char *preset;   /* study: a documented recipe ("paper"); NULL: the flags' */
    int64_t eval_every;   /* study: evaluate every N steps too (0: eval_points times a run) */
    int eval_points;      /* study: evaluations per run when eval_every is 0 (0: 8)   */
    const char *pipeline; /* train: gpipe, 1f1b, pipedream or pipemare (NULL: exec); pipeline: a list */
    int stages, microbatches; /* pipeline stages (0: 4 for `weft pipeline`, 1 for train) and microbatches a step */
    const char *split;    /* cut points by hand: "3,9,14" (items where stages 1.. begin) */
    const char *balance;  /* estimate (default) or measured                        */
    bool serial;          /* one thread, table order                                */
    bool no_op_split;     /* do not split heavy ops along the batch to balance stages */
    int queue_depth;      /* microbatches a queue between stages holds (0: what the schedule needs) */
    int slack;            /* asynchronous schedules: iterations of slack per stage boundary */
    const char *backend;  /* train --pipeline: threads (default) or mpi (a process per stage and replica) */
    int data_parallel;    /* --backend mpi: replicas R (0: 1)                       */
    double mpi_timeout;   /* --backend mpi: seconds a rank waits for a peer (0: 120) */
    bool check_replicas;  /* --backend mpi: compare the replicas' weights after every update */
    double lr_delay_scale;  /* pipemare's C (<0: the learning rate itself)          */
    int64_t lr_delay_warmup;/* pipemare: fade the rule out over this many updates   */
    bool discrepancy;     /* pipemare: discrepancy correction                       */
    double discrepancy_decay; /* D                                                  */
    bool predict;         /* pipemare: weight prediction                           */
    const char *timeline; /* pipeline: write the timeline SVG here                  */
    int64_t show_schedule;/* pipeline: print this many time slots of each table     */
    const char *fabric;   /* compile: a preset or a fabric JSON file               */
    const char *out;      /* compile: write the plan here (-o)                     */
    const char *svg;      /* compile: write the placed and routed fabric here      */
    const char *place;    /* compile: anneal (default), greedy, random             */
    bool check;           /* compile: run the plan tile by tile beside exec        */
    const char *mode;     /* simulate: spatial, kernel, or both (default)           */
    int waves;            /* simulate: tokens per net per step                      */
    const char *onnx;     /* infer, compile, train, pipeline: an ONNX model instead of a preset */
    const char *input;    /* infer: the input (.npy, or raw float32)                */
    const char *loss;     /* train --onnx: the loss on the model's output (xent)    */
    const char *export_weights; /* train --onnx: write the trained weights here for PyTorch */
    bool model_set;       /* --model given (not with --onnx)                        */
    /* owned copies, from a checkpoint */
    char model_buf[WEFT_NAME_MAX], schedule_buf[16], onnx_buf[4096], data_buf[16], loss_buf[16];
} weft_opts;

/* Verbs a flag belongs to. */
enum { V_TRAIN = 1, V_EVAL = 2, V_DEMO = 4, V_BENCH = 8, V_SAMPLE = 16, V_STUDY = 32, V_PIPE = 64, V_COMPILE = 128,
       V_SIM = 256, V_IMPORT = 512, V_INFER = 1024 };

void weft_opts_defaults(weft_opts *o);
/* *dst = *src, the strings src owns (read from a checkpoint) pointing into dst's copies. */
void weft_opts_copy(weft_opts *dst, const weft_opts *src);
/* Fills what the flags left unset from the model preset: batch, optimizer,
 * learning rate, evaluation batch. */
void weft_opts_resolve(weft_opts *o, const void *preset);
/* Parses argv[first..argc) for `verb`; on a bad flag or value prints the
 * error naming it and the valid choices and returns WEFT_ERR_ARG. `--help`
 * sets *help. */
weft_status weft_opts_parse(weft_opts *o, unsigned verb, int argc, char **argv, bool *help);
void weft_opts_usage(FILE *f, const char *verb, unsigned verbmask, const char *summary);

/* The learning rate at update `step` (from 1) of `total`, for o's schedule:
 * constant; cosine from lr to 0; step (x0.1 at 50% and 75%); linear to 0;
 * each after `warmup` steps of linear warm-up from lr/warmup. */
double weft_lr_at(const weft_opts *o, double lr, int64_t step, int64_t total);

/* The whole string s as a number in [lo, hi] (a whole number when
 * `integer`); false when it is not one (NaN included). Flags and checkpoint
 * metadata both parse through it. */
bool weft_parse_number(const char *s, bool integer, double lo, double hi, double *out);

/* The next item of a comma-separated flag value: copies it into buf (n
 * bytes) and advances *p past it and its comma. Returns 1 for an item, 0 at
 * the end, -1 for an empty item or one longer than n - 1. */
int weft_list_next(const char **p, char *buf, size_t n);

/* WEFT_OK for a known schedule name, else an error listing them. */
weft_status weft_lr_schedule_check(const char *s);

/* Exit status for a failure: 2 for bad input (arguments, files), 1 otherwise. */
int weft_exit_code(weft_status s);

/* ---- trainer (trainer.c) ---- */
typedef struct {
    double train_loss, test_loss, test_acc;
    double samples_per_s, wall_s, train_s;
    int64_t steps, peak_arena_bytes, params;
    double epochs, bytes_per_param;
    int64_t store_bytes;  /* weights + optimizer state (+ batch-norm statistics), as stored */
    int64_t grad_bytes;   /* the parameters' gradients (sparse ones: their rows)         */
    double val_bpb;       /* language models: bits per byte on validation */
    double val_auc, val_logloss; /* click models, on validation                */
    double best_auc;      /* synthetic clicks: the best achievable AUC      */
    double baseline_acc;  /* tagging: the most-frequent-tag baseline       */
    const char *task;     /* what it trained on                          */
    /* pipelined runs (--pipeline) */
    double pipe_util;     /* utilization on the virtual clock            */
    double pipe_closed;   /* synchronous: the closed-form bubble's utilization, 1-(S-1)/(M+S-1); else NAN */
    int64_t pipe_stash_bytes; /* pipedream: weight versions kept         */
    int pipe_tau[64];     /* per stage: the largest delay it produced    */
    int mpi_ranks;        /* --backend mpi: S x R processes (0: none)    */
    double mpi_sent[64];  /* per stage: bytes its rank sent a step to other stages */
    double mpi_reduce[64];/* per stage: bytes its rank sent a step summing gradients */
} weft_train_result;

/* Runs training; on return *o holds the options the run actually used (a
 * resumed run takes them from its checkpoint). */
weft_status weft_train_run(weft_opts *o, weft_train_result *r);
weft_status weft_eval_checkpoint(weft_opts *o, weft_train_result *r);
void weft_train_print_json(FILE *f, const weft_opts *o, const weft_train_result *r);
void weft_train_print_summary(FILE *f, const weft_opts *o, const weft_train_result *r);

/* Prints o->prompt and o->tokens more bytes from o->checkpoint's language model. */
weft_status weft_sample_text(weft_opts *o);

int weft_cmd_train(int argc, char **argv);
int weft_cmd_eval(int argc, char **argv);
int weft_cmd_demo(int argc, char **argv);
int weft_cmd_sample(int argc, char **argv);
int weft_cmd_study(int argc, char **argv);
int weft_cmd_pipeline(int argc, char **argv);
int weft_cmd_compile(int argc, char **argv);
int weft_cmd_fabric(int argc, char **argv);
int weft_cmd_simulate(int argc, char **argv);
int weft_cmd_import(int argc, char **argv);
int weft_cmd_infer(int argc, char **argv);

/* A fabric map's frame (fabric.c): per site, 1 for a memory unit (sites
 * entries); per address generator, its row and edge (0 left, 1 right). */
#include "weft/rdu.h"
void weft_fabric_map_frame(const weft_fabric *f, unsigned char *shape, int *door_row, int *door_side);

#endif
