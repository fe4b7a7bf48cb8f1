/* demo.c — `weft demo`: the main job of `make run`. Each capability that
 * lands adds its part here. */
#include "cli/cli.h"

static const char *summary =
    "The main job: trains the CNN on Fashion-MNIST for one epoch with pure bf16\n"
    "storage and stochastically rounded updates (bf16-sr), evaluates it, and\n"
    "prints the summary.";

int weft_cmd_demo(int argc, char **argv)
{
    weft_opts o;
    bool help;
    weft_opts_defaults(&o);
    o.model = "cnn";
    o.precision = WEFT_PREC_BF16_SR;
    weft_status s = weft_opts_parse(&o, V_DEMO, argc, argv, &help);
    if (help) { weft_opts_usage(stdout, "demo", V_DEMO, summary); return 0; }
    if (s) { fprintf(stderr, "weft demo: %s\n", weft_errmsg()); return weft_exit_code(s); }
    if (!o.json)
        printf("weft demo: training the %s on Fashion-MNIST, precision %s, %d epoch(s)\n", o.model,
               weft_precision_name(o.precision), o.epochs);
    fflush(stdout);  /* before the progress lines on stderr */
    weft_train_result r;
    s = weft_train_run(&o, &r);
    if (s) { fprintf(stderr, "weft demo: %s\n", weft_errmsg()); return weft_exit_code(s); }
    if (o.json) weft_train_print_json(stdout, &o, &r);
    else weft_train_print_summary(stdout, &o, &r);
    return 0;
}
