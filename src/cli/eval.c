/* eval.c — `weft eval --checkpoint FILE`. */
#include "cli/cli.h"

#include <math.h>

static const char *summary =
    "Evaluates the weights of a checkpoint written by `weft train --checkpoint`\n"
    "on its model's held-out data: Fashion-MNIST's test set, or the validation split\n"
    "of Brown bytes, Brown tags or the click data (model and precision come from the file).";

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
    if (o.json) {
        printf("{\"model\": \"%s\", \"precision\": \"%s\", \"steps\": %lld, ", o.model,
               weft_precision_name(o.precision), (long long)r.steps);
        if (isfinite(r.test_acc)) printf("\"test_loss\": %.6g, \"test_acc\": %.6g, ", r.test_loss, r.test_acc);
        if (isfinite(r.val_bpb)) printf("\"val_loss\": %.6g, \"val_bpb\": %.6g, ", r.test_loss, r.val_bpb);
        if (isfinite(r.val_auc)) printf("\"val_auc\": %.6g, \"val_logloss\": %.6g, ", r.val_auc, r.val_logloss);
        printf("\"wall_s\": %.3g}\n", r.wall_s);
    } else if (isfinite(r.val_auc)) {
        printf("%s: %s after %lld steps: validation AUC %.4f (log loss %.4f)\n", o.checkpoint, o.model,
               (long long)r.steps, r.val_auc, r.val_logloss);
    } else if (isfinite(r.val_bpb)) {
        printf("%s: %s after %lld steps: validation %.4f bits per byte (loss %.4f)\n", o.checkpoint, o.model,
               (long long)r.steps, r.val_bpb, r.test_loss);
    } else {
        printf("%s: %s after %lld steps: test accuracy %.2f%% (loss %.4f)\n", o.checkpoint, o.model,
               (long long)r.steps, 100 * r.test_acc, r.test_loss);
    }
    return 0;
}
