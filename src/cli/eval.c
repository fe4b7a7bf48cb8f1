/* eval.c — `weft eval --checkpoint FILE`. */
#include "cli/cli.h"

#include <math.h>

static const char *summary =
    "Evaluates the weights of a checkpoint written by `weft train --checkpoint`\n"
    "on the Fashion-MNIST test set (model and precision come from the file).";

int weft_cmd_eval(int argc, char **argv)
{
    weft_opts o;
    bool help;
    weft_opts_defaults(&o);
    weft_status s = weft_opts_parse(&o, V_EVAL, argc, argv, &help);
    if (help) { weft_opts_usage(stdout, "eval", V_EVAL, summary); return 0; }
    if (s) { fprintf(stderr, "weft eval: %s\n", weft_errmsg()); return weft_exit_code(s); }
    weft_train_result r;
    s = weft_eval_checkpoint(&o, &r);
    if (s) { fprintf(stderr, "weft eval: %s\n", weft_errmsg()); return weft_exit_code(s); }
    if (o.json)
        printf("{\"checkpoint\": \"%s\", \"steps\": %lld, \"test_loss\": %.6g, \"test_acc\": %.6g, \"wall_s\": %.3g}\n",
               o.checkpoint, (long long)r.steps, r.test_loss, r.test_acc, r.wall_s);
    else
        printf("%s: test accuracy %.2f%% (loss %.4f) after %lld steps\n", o.checkpoint, 100 * r.test_acc,
               r.test_loss, (long long)r.steps);
    return 0;
}
