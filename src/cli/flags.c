/* flags.c — the one table of command-line flags, shared by every verb. */
#include "cli/cli.h"
#include "weft/models.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { F_STR, F_INT, F_I64, F_DBL, F_BOOL, F_PREC, F_OPT } kind;

typedef struct {
    const char *name;
    kind k;
    size_t off;
    unsigned verbs;
    const char *arg, *help;
    double lo, hi;        /* numeric flags: the accepted range */
} flag;

#define O(f) offsetof(weft_opts, f)
static const flag flags[] = {
    { "--model", F_STR, O(model), V_COMPILE | V_PIPE | V_TRAIN | V_BENCH | V_STUDY, "NAME", "model preset: mlp, cnn, resnet (Fashion-MNIST), gpt-mini, lstm-lm (Brown bytes), bert-tiny (Brown tags), dlrm-small (clicks); `weft models` lists them", 0, 0 },
    { "--layers", F_INT, O(layers), V_COMPILE | V_PIPE | V_TRAIN | V_BENCH | V_STUDY, "N", "transformer blocks (gpt-mini 4, bert-tiny 2), LSTM layers (lstm-lm 2), resnet depth 6n+2 (20)", 1, 1024 },
    { "--heads", F_INT, O(heads), V_COMPILE | V_PIPE | V_TRAIN | V_BENCH | V_STUDY, "N", "attention heads (gpt-mini: 4)", 1, 1024 },
    { "--d-model", F_INT, O(d_model), V_COMPILE | V_PIPE | V_TRAIN | V_BENCH | V_STUDY, "N", "model width (gpt-mini 256, GPT-2 small 768, bert-tiny 128), LSTM hidden (512), dlrm embedding width (16), resnet first width (16)", 1, 1 << 16 },
    { "--ctx", F_INT, O(ctx), V_COMPILE | V_PIPE | V_TRAIN | V_BENCH | V_STUDY, "N", "context length in tokens (gpt-mini 128, bert-tiny 128, lstm-lm 64)", 1, 1 << 16 },
    { "--vocab", F_INT, O(vocab), V_COMPILE | V_PIPE | V_TRAIN | V_BENCH | V_STUDY, "N", "vocabulary (gpt-mini 256 bytes, GPT-2 small 50257, bert-tiny 8192 words), dlrm rows per table (100000)", 256, 1 << 20 },
    { "--precision", F_PREC, O(precision), V_COMPILE | V_PIPE | V_TRAIN | V_DEMO | V_BENCH, "P",
      "fp32, mixed, bf16, bf16-sr, bf16-kahan (DESIGN.md section 3)", 0, 0 },
    { "--optimizer", F_OPT, O(optimizer), V_COMPILE | V_PIPE | V_TRAIN | V_STUDY, "O", "sgd (momentum, weight decay) or adamw (default: the preset's; gpt-mini adamw)", 0, 0 },
    { "--lr", F_DBL, O(lr), V_PIPE | V_TRAIN | V_STUDY, "X", "learning rate (default: the preset's; else sgd 0.05, adamw 0.001)", 0, 1e6 },
    { "--schedule", F_STR, O(schedule), V_PIPE | V_TRAIN | V_STUDY, "S", "learning-rate schedule: cosine (default, to 0 over the run), constant, step, linear", 0, 0 },
    { "--warmup", F_I64, O(warmup), V_PIPE | V_TRAIN | V_STUDY, "N", "linear learning-rate warm-up over the first N steps (default 0)", 0, 1e12 },
    { "--momentum", F_DBL, O(momentum), V_PIPE | V_TRAIN | V_STUDY, "X", "SGD momentum (default: the preset's; else 0.9)", 0, 1 },
    { "--weight-decay", F_DBL, O(weight_decay), V_PIPE | V_TRAIN | V_STUDY, "X", "weight decay (default: the preset's; else 0)", 0, 1e3 },
    { "--batch", F_INT, O(batch), V_INFER | V_IMPORT | V_COMPILE | V_PIPE | V_TRAIN | V_BENCH | V_STUDY, "N", "batch size (default: the preset's, as its PyTorch peer: mlp/cnn 64, gpt-mini/lstm-lm 16, bert-tiny 32, dlrm-small/resnet 128)", 1, 1 << 20 },
    { "--eval-batch", F_INT, O(eval_batch), V_TRAIN | V_EVAL | V_STUDY, "N", "batch for evaluation: must divide the 10000 test images (default 500); text: windows per pass (default --batch)", 1, 1 << 20 },
    { "--epochs", F_INT, O(epochs), V_TRAIN | V_DEMO | V_STUDY, "N", "passes over the training set (default 1)", 1, 1e6 },
    { "--steps", F_I64, O(steps), V_PIPE | V_TRAIN | V_DEMO | V_BENCH | V_STUDY, "N", "train this many steps instead of whole epochs", 1, 1e12 },
    { "--seed", F_I64, O(seed), V_COMPILE | V_PIPE | V_TRAIN | V_DEMO | V_SAMPLE | V_STUDY, "N", "seed of weights, data order and rounding (default 0)", 0, 9.0e15 },
    { "--threads", F_INT, O(threads), V_INFER | V_PIPE | V_TRAIN | V_EVAL | V_DEMO | V_BENCH | V_SAMPLE | V_STUDY, "N", "threads (default: the cores, at most 2; a pipeline runs each stage on one)", 1, 256 },
    { "--prompt", F_STR, O(prompt), V_SAMPLE, "TEXT", "the text to continue", 0, 0 },
    { "--tokens", F_INT, O(tokens), V_SAMPLE, "N", "bytes to generate (default 200)", 1, 1 << 20 },
    { "--temperature", F_DBL, O(temperature), V_SAMPLE, "X", "sampling temperature; 0 takes the most likely byte (default 0.8)", 0, 100 },
    { "--checkpoint", F_STR, O(checkpoint), V_TRAIN | V_EVAL | V_SAMPLE, "FILE",
      "train: save weights + optimizer state here at the end (safetensors); eval: the checkpoint to evaluate", 0, 0 },
    { "--checkpoint-every", F_I64, O(checkpoint_every), V_TRAIN, "N", "also save the checkpoint every N steps", 1, 1e12 },
    { "--stop-at", F_I64, O(stop_at), V_TRAIN, "N",
      "stop after step N as if interrupted (the schedule still spans the whole run); --resume continues it", 1, 1e12 },
    { "--resume", F_STR, O(resume), V_TRAIN, "FILE", "continue the run saved in FILE (its model, policy, optimizer, hyperparameters, schedule and length override the flags)", 0, 0 },
    { "--log", F_STR, O(log), V_TRAIN | V_DEMO, "FILE", "write metrics as JSON lines", 0, 0 },
    { "--data-dir", F_STR, O(data_dir), V_PIPE | V_TRAIN | V_EVAL | V_DEMO | V_STUDY, "DIR",
      "the data: Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist), or the Brown "
      "corpus for gpt-mini (default: scripts/fetch_brown.sh's cache)", 0, 0 },
    { "--data", F_STR, O(data), V_PIPE | V_TRAIN | V_EVAL | V_STUDY, "SPEC",
      "with --onnx: what the model trains on, fmnist (Fashion-MNIST images, default) or brown (Brown bytes: "
      "a language model's token ids (B,T)); "
      "click data for dlrm-small: synthetic (default: 4000000 training, 100000 validation examples), "
      "synthetic:N (N training examples), or criteo:PATH (Criteo's tab-separated file, .gz too; "
      "the last tenth of its lines validates)", 0, 0 },
    { "--json", F_BOOL, O(json), V_INFER | V_IMPORT | V_SIM | V_COMPILE | V_PIPE | V_TRAIN | V_EVAL | V_DEMO | V_BENCH | V_STUDY, NULL, "print one JSON summary object on stdout", 0, 0 },
    { "--quiet", F_BOOL, O(quiet), V_SIM | V_COMPILE | V_PIPE | V_TRAIN | V_EVAL | V_DEMO | V_BENCH | V_STUDY, NULL, "no progress output", 0, 0 },
    { "--no-eval", F_BOOL, O(no_eval), V_TRAIN | V_BENCH, NULL, "skip the test-set evaluation", 0, 0 },
    { "--profile", F_BOOL, O(profile), V_TRAIN | V_BENCH, NULL, "print the time spent in each kind of op (stderr)", 0, 0 },
    { "--dump-graph", F_STR, O(dump), V_TRAIN, "FILE", "write the training graph (after all passes) as text", 0, 0 },
    { "--policies", F_STR, O(policies), V_STUDY, "LIST", "comma-separated precision policies to compare (default fp32,mixed,bf16,bf16-sr,bf16-kahan)", 0, 0 },
    { "--seeds", F_INT, O(seeds), V_STUDY, "N", "seeds per policy, from --seed up (default: the preset's, else 1; the spread needs 2 or more)", 1, 1000 },
    { "--report", F_STR, O(report), V_SIM | V_STUDY | V_PIPE, "DIR", "write study.json (pipeline.json, simulate.json) and report.html (SVG charts) into DIR (created if missing)", 0, 0 },
    { "--preset", F_STR, O(preset), V_STUDY, "NAME", "a documented recipe per model: paper (docs/STUDY.md says why each); other flags override its settings", 0, 0 },
    { "--eval-every", F_I64, O(eval_every), V_STUDY, "N", "also evaluate every N steps, for the metric curve (default: 8 times a run)", 1, 1e12 },
    { "--pipeline", F_STR, O(pipeline), V_TRAIN | V_PIPE, "P", "train as a pipeline: gpipe, 1f1b (synchronous), pipedream, pipemare (asynchronous); `weft pipeline`: a comma-separated list (default all four)", 0, 0 },
    { "--stages", F_INT, O(stages), V_TRAIN | V_PIPE, "S", "pipeline stages (train default 4 with --pipeline; pipeline default 4)", 1, 64 },
    { "--microbatches", F_INT, O(microbatches), V_TRAIN | V_PIPE, "M", "microbatches a step: --batch is split into M (default 1)", 1, 1 << 16 },
    { "--split", F_STR, O(split), V_TRAIN | V_PIPE, "LIST", "cut points by hand: the forward ops where stages 1.. begin, e.g. 3,9,14 (`weft pipeline` lists them)", 0, 0 },
    { "--balance", F_STR, O(balance), V_TRAIN | V_PIPE, "HOW", "balance stages by estimate (FLOPs and bytes, default) or measured (times a few steps first)", 0, 0 },
    { "--serial", F_BOOL, O(serial), V_TRAIN | V_PIPE, NULL, "run the pipeline in one thread, in table order (same weights as a thread per stage)", 0, 0 },
    { "--no-op-split", F_BOOL, O(no_op_split), V_TRAIN | V_PIPE, NULL, "cut only between the model's own ops (default: ops heavier than a quarter of a stage are split along the batch first)", 0, 0 },
    { "--backend", F_STR, O(backend), V_TRAIN, "B", "with --pipeline: threads (a thread per stage, default) or mpi (under mpirun -np S*R: a process per stage and replica; docs/MPI.md)", 0, 0 },
    { "--data-parallel", F_INT, O(data_parallel), V_TRAIN, "R", "--backend mpi: R replicas of the pipeline, each its share of the batch, gradients summed across them (default 1)", 1, 4096 },
    { "--mpi-timeout", F_DBL, O(mpi_timeout), V_TRAIN, "SECONDS", "--backend mpi: a rank that waits this long for a peer stops the run, naming the peer and the step (default 120)", 0.1, 1e6 },
    { "--check-replicas", F_BOOL, O(check_replicas), V_TRAIN, NULL, "--data-parallel: compare the replicas' weights (a hash) after every update, not only at the end and at checkpoints", 0, 0 },
    { "--slack", F_INT, O(slack), V_TRAIN | V_PIPE, "K", "pipedream, pipemare: stage s runs (K+1)(S-1-s) forwards ahead, not S-1-s, so a stage that runs late does not stall its neighbours at once; its delays and activations in flight grow alike (default 0)", 0, 16 },
    { "--queue-depth", F_INT, O(queue_depth), V_TRAIN | V_PIPE, "N", "microbatches a queue between two stages holds (default: what the schedule needs)", 1, 1 << 16 },
    { "--lr-delay-scale", F_DBL, O(lr_delay_scale), V_TRAIN | V_PIPE, "C", "pipemare: a stage tau updates stale learns at min(lr, C/tau) (default C = lr; 0: no rule)", 0, 1e6 },
    { "--lr-delay-warmup", F_I64, O(lr_delay_warmup), V_TRAIN | V_PIPE, "K", "pipemare: the delay rule fades out over the first K updates (default 0: it holds throughout)", 0, 1e12 },
    { "--discrepancy-correction", F_BOOL, O(discrepancy), V_TRAIN | V_PIPE, NULL, "pipemare: the backward uses w - tau*delta, delta a moving average of recent updates", 0, 0 },
    { "--weight-prediction", F_BOOL, O(predict), V_TRAIN | V_PIPE, NULL, "pipemare: each forward (and its backward) reads w + tau*delta, the weights extrapolated to when its gradient lands", 0, 0 },
    { "--discrepancy-decay", F_DBL, O(discrepancy_decay), V_TRAIN | V_PIPE, "D", "pipemare: the moving average decays by D^(1/tau) an update (default 0.1)", 0, 1 },
    { "--timeline", F_STR, O(timeline), V_PIPE, "FILE", "write the timeline (stages x time, SVG) here", 0, 0 },
    { "--fabric", F_STR, O(fabric), V_COMPILE, "F", "the fabric: plasticine (default), sn10, or a fabric JSON file (`weft fabric list`)", 0, 0 },
    { "-o", F_STR, O(out), V_COMPILE | V_INFER, "FILE", "compile: write the plan (JSON, docs/PLAN.md) here; infer: the output (.npy)", 0, 0 },
    { "--onnx", F_STR, O(onnx), V_INFER | V_COMPILE | V_TRAIN | V_PIPE, "FILE", "an ONNX model (from PyTorch) instead of a preset (docs/ONNX.md); compile: its forward (inference) step; train: fine-tune it on --data with --loss, its weights the file's", 0, 0 },
    { "--loss", F_STR, O(loss), V_TRAIN | V_PIPE, "LOSS", "with --onnx: the loss on the model's first output: xent (cross-entropy on its logits; the default)", 0, 0 },
    { "--export-weights", F_STR, O(export_weights), V_TRAIN, "FILE", "with --onnx: at the end, write the trained weights under the file's initializer names and layouts (float32 safetensors; scripts/weft_to_torch.py loads them into PyTorch)", 0, 0 },
    { "--input", F_STR, O(input), V_INFER, "FILE", "the model's input: .npy (float32, its shape) or raw little-endian float32", 0, 0 },
    { "--svg", F_STR, O(svg), V_SIM | V_COMPILE, "FILE", "compile: the placed and routed fabric; simulate: its units' and links' utilization (SVG)", 0, 0 },
    { "--place", F_STR, O(place), V_COMPILE, "HOW", "placement: anneal (default; simulated annealing from greedy), greedy, random", 0, 0 },
    { "--mode", F_STR, O(mode), V_SIM, "M", "spatial (the plan as compiled), kernel (one op at a time, every output through off-chip memory), or both side by side (default)", 0, 0 },
    { "--waves", F_INT, O(waves), V_SIM, "N", "tokens each net carries per step: the simulation's granularity (default 256)", 1, 4096 },
    { "--check", F_BOOL, O(check), V_COMPILE, NULL, "run the plan on the CPU tile by tile beside exec and compare (small models)", 0, 0 },
    { "--show-schedule", F_I64, O(show_schedule), V_PIPE, "N", "print the first N time slots of each schedule table", 1, 1e9 },
};
#undef O

void weft_opts_defaults(weft_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = "cnn";
    o->precision = WEFT_PREC_FP32;
    o->optimizer = WEFT_OPT_SGD;    /* until resolved from the preset */
    o->lr = -1;
    o->momentum = -1;
    o->weight_decay = -1;
    o->batch = 0;       /* 0: the preset's */
    o->eval_batch = 0;  /* 0: 500 images, or the batch for text */
    o->schedule = "cosine";
    o->tokens = 200;
    o->temperature = 0.8;
    o->epochs = 1;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = n >= 2 ? 2 : 1;
    o->data_dir = NULL; /* the task's default */
    o->lr_delay_scale = -1;
    o->discrepancy_decay = 0.1;
    o->microbatches = 1;
}

void weft_opts_copy(weft_opts *dst, const weft_opts *src)
{
    if (dst == src) return;
    *dst = *src;
    const char **own[] = { &dst->model, &dst->schedule, &dst->onnx, &dst->data, &dst->loss };
    const char *from[] = { src->model_buf, src->schedule_buf, src->onnx_buf, src->data_buf, src->loss_buf };
    char *to[] = { dst->model_buf, dst->schedule_buf, dst->onnx_buf, dst->data_buf, dst->loss_buf };
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) if (*own[i] == from[i]) *own[i] = to[i];
}

bool weft_parse_number(const char *s, bool integer, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = integer ? (double)strtoll(s, &end, 10) : strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return false;   /* NaN fails too */
    *out = v;
    return true;
}

static weft_status parse_num(const char *flag_name, const char *s, bool integer, double lo, double hi, double *out)
{
    if (weft_parse_number(s, integer, lo, hi, out)) return WEFT_OK;
    return weft_fail(WEFT_ERR_ARG, "%s: '%s' is not %s between %g and %g", flag_name, s,
                     integer ? "a whole number" : "a number", lo, hi);
}

double weft_lr_at(const weft_opts *o, double lr, int64_t step, int64_t total)
{
    if (o->warmup > 0 && step <= o->warmup) return lr * (double)step / (double)o->warmup;
    double span = (double)(total - o->warmup), t = span > 0 ? (double)(step - o->warmup) / span : 1.0;
    if (!strcmp(o->schedule, "cosine")) return lr * 0.5 * (1.0 + cos(3.141592653589793 * (t - 1.0 / (span > 0 ? span : 1))));
    if (!strcmp(o->schedule, "linear")) return lr * (1.0 - t + 1.0 / (span > 0 ? span : 1));
    if (!strcmp(o->schedule, "step")) return lr * (t > 0.75 ? 0.01 : t > 0.5 ? 0.1 : 1.0);
    return lr;
}

int weft_list_next(const char **p, char *buf, size_t n)
{
    if (!**p) return 0;
    size_t len = strcspn(*p, ",");
    if (len == 0 || len >= n) return -1;
    memcpy(buf, *p, len);
    buf[len] = 0;
    *p += len + ((*p)[len] == ',');
    return 1;
}

weft_status weft_lr_schedule_check(const char *s)
{
    const char *valid[] = { "constant", "cosine", "step", "linear" };
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) if (!strcmp(s, valid[i])) return WEFT_OK;
    return weft_fail(WEFT_ERR_ARG, "--schedule: unknown schedule '%s' (valid: constant, cosine, step, linear)", s);
}

weft_status weft_opts_parse(weft_opts *o, unsigned verb, int argc, char **argv, bool *help)
{
    *help = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { *help = true; continue; }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const flag *f = NULL;
        for (size_t k = 0; k < sizeof flags / sizeof *flags; k++)
            if (strlen(flags[k].name) == len && !strncmp(flags[k].name, a, len) && (flags[k].verbs & verb))
                f = &flags[k];
        if (!f) {
            char valid[1024] = "";
            for (size_t k = 0; k < sizeof flags / sizeof *flags; k++)
                if (flags[k].verbs & verb)
                    snprintf(valid + strlen(valid), sizeof valid - strlen(valid), " %s", flags[k].name);
            return weft_fail(WEFT_ERR_ARG, "unknown %s '%s' (valid:%s --help)",
                             a[0] == '-' ? "flag" : "argument", a, valid);
        }
        const char *val = NULL;
        if (f->k == F_BOOL) {
            if (eq) return weft_fail(WEFT_ERR_ARG, "%s takes no value", f->name);
        } else if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc) return weft_fail(WEFT_ERR_ARG, "%s needs a value (%s)", f->name, f->arg);
            val = argv[++i];
        }
        void *p = (char *)o + f->off;
        double d;
        switch (f->k) {
        case F_STR:
            if (!*val) return weft_fail(WEFT_ERR_ARG, "%s: empty value", f->name);
            *(const char **)p = val;
            if (f->off == offsetof(weft_opts, model)) o->model_set = true;
            break;
        case F_INT:
            WEFT_TRY(parse_num(f->name, val, true, f->lo, f->hi, &d));
            *(int *)p = (int)d;
            break;
        case F_I64:
            WEFT_TRY(parse_num(f->name, val, true, f->lo, f->hi, &d));
            *(int64_t *)p = (int64_t)d;
            break;
        case F_DBL:
            WEFT_TRY(parse_num(f->name, val, false, f->lo, f->hi, &d));
            *(double *)p = d;
            break;
        case F_BOOL:
            *(bool *)p = true;
            break;
        case F_PREC:
            if (weft_precision_parse(val, (weft_precision *)p) != WEFT_OK)
                return weft_fail_wrap(WEFT_ERR_ARG, "%s", f->name);
            break;
        case F_OPT:
            if (!strcmp(val, "sgd")) *(weft_optimizer *)p = WEFT_OPT_SGD;
            else if (!strcmp(val, "adamw")) *(weft_optimizer *)p = WEFT_OPT_ADAMW;
            else return weft_fail(WEFT_ERR_ARG, "%s: unknown optimizer '%s' (valid: sgd, adamw)", f->name, val);
            o->optimizer_set = true;
            break;
        }
    }
    return weft_lr_schedule_check(o->schedule);
}

void weft_opts_usage(FILE *f, const char *verb, unsigned verbmask, const char *summary)
{
    fprintf(f, "usage: weft %s [flags]\n\n%s\n\nflags:\n", verb, summary);
    for (size_t k = 0; k < sizeof flags / sizeof *flags; k++) {
        if (!(flags[k].verbs & verbmask)) continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", flags[k].name, flags[k].arg ? " " : "", flags[k].arg ? flags[k].arg : "");
        fprintf(f, "  %-22s %s\n", left, flags[k].help);
    }
    fprintf(f, "  %-22s %s\n", "--help", "this help");
}

void weft_opts_resolve(weft_opts *o, const void *preset)
{
    const weft_model_preset *p = preset;
    if (o->batch <= 0) o->batch = p->batch;
    if (!o->optimizer_set) o->optimizer = p->optimizer;
    /* the preset's recipe applies to its own optimizer only */
    bool own = o->optimizer == p->optimizer;
    if (o->lr < 0) o->lr = own && p->lr > 0 ? p->lr : o->optimizer == WEFT_OPT_ADAMW ? 1e-3 : 0.05;
    if (o->momentum < 0) o->momentum = own && p->momentum >= 0 ? p->momentum : 0.9;
    if (o->weight_decay < 0) o->weight_decay = own ? p->weight_decay : 0;
    if (o->eval_batch <= 0)
        o->eval_batch = p->task == WEFT_TASK_TEXT || p->task == WEFT_TASK_TAGS ? o->batch : 500;
}

int weft_exit_code(weft_status s)
{
    switch (s) {
    case WEFT_OK: return 0;
    case WEFT_ERR_ARG: case WEFT_ERR_IO: case WEFT_ERR_FORMAT: case WEFT_ERR_SHAPE: return 2;
    default: return 1;
    }
}
