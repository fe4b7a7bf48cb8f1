/* train.c — `weft train`. */
#include "cli/task.h"

static const char *summary =
    "Trains a model preset on its data (Fashion-MNIST, Brown bytes, Brown tags, clicks)\n"
    "with the chosen precision policy and optimizer, then evaluates it on the held-out\n"
    "split. --onnx MODEL.onnx fine-tunes a model exported from PyTorch instead, from its\n"
    "own weights (--data fmnist or brown, --loss xent; --export-weights writes the result\n"
    "back for PyTorch: docs/ONNX.md). Progress goes to stderr; with --json one summary\n"
    "object goes to stdout.";

int weft_cmd_train(int argc, char **argv)
{
    weft_opts o;
    bool help;
    weft_opts_defaults(&o);
    weft_status s = weft_opts_parse(&o, V_TRAIN, argc, argv, &help);
    if (help) { weft_opts_usage(stdout, "train", V_TRAIN, summary); return 0; }
    if (s) { fprintf(stderr, "weft train: %s\n", weft_errmsg()); return weft_exit_code(s); }
    weft_train_result r;
    s = weft_train_run(&o, &r);
    if (s) { fprintf(stderr, "weft train: %s\n", weft_errmsg()); return weft_exit_code(s); }
    if (weft_mpi_rank() != 0) return 0;   /* rank 0 speaks for the run */
    if (o.json) weft_train_print_json(stdout, &o, &r);
    else weft_train_print_summary(stdout, &o, &r);
    return 0;
}
