/* task.h — what a model trains on: the data behind `weft train` and
 * `weft eval`. A task feeds a training step's batch and evaluates a graph on
 * its held-out split; the trainer knows nothing else of the data. */
#ifndef WEFT_CLI_TASK_H
#define WEFT_CLI_TASK_H

#include "cli/cli.h"
#include "weft/exec.h"
#include "weft/models.h"

typedef struct {
    double loss;   /* mean loss over the held-out split              */
    double acc;    /* images: accuracy on the test set; else NAN     */
    double bpb;    /* text: bits per byte on validation; else NAN    */
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

/* Opens the data of preset p for a run with batch o->batch (and the held-out
 * split unless o->no_eval). */
weft_status weft_task_open(weft_task *t, const weft_model_preset *p, const weft_opts *o, bool train, bool eval);

weft_status weft_task_images_open(weft_task *t, const weft_opts *o, bool train, bool eval);
weft_status weft_task_text_open(weft_task *t, const weft_opts *o, bool train, bool eval);

#endif
