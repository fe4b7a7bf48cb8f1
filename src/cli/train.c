/* train.c — `weft train`. */
#include "cli/cli.h"

static const char *summary =
    "Trains a model preset on Fashion-MNIST with the chosen precision policy and\n"
    "optimizer, then evaluates it on the test set. Progress goes to stderr; with\n"
    "--json one summary object goes to stdout.";

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
    if (o.json) weft_train_print_json(stdout, &o, &r);
    else weft_train_print_summary(stdout, &o, &r);
    return 0;
}
