/* main.c — `weft VERB [flags]`: one file per verb, this one dispatches. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

typedef struct { const char *name; int (*run)(int, char **); const char *summary; } verb;

static const verb verbs[] = {
    { "train", weft_cmd_train, "train a model on Fashion-MNIST in a precision policy" },
    { "eval", weft_cmd_eval, "evaluate a checkpoint on the Fashion-MNIST test set" },
    { "sample", weft_cmd_sample, "continue a text with a language-model checkpoint (gpt-mini)" },
    { "study", weft_cmd_study, "compare precision policies on one model: metric, cancelled updates, time, bytes" },
    { "pipeline", weft_cmd_pipeline, "cut a model into stages and run gpipe, 1f1b, pipedream, pipemare: utilization, delays, timeline" },
    { "compile", weft_cmd_compile, "lay a model's training step out on a dataflow fabric: units, sections, placement, routes" },
    { "simulate", weft_cmd_simulate, "run a compiled plan on its fabric, spatially and kernel by kernel: cycles, utilization, bound" },
    { "infer", weft_cmd_infer, "run an ONNX model on an input: outputs, and the time it took" },
    { "import", weft_cmd_import, "read an ONNX model (from PyTorch) into a weft graph and summarise it" },
    { "fabric", weft_cmd_fabric, "show a dataflow fabric: a preset (plasticine, sn10) or a JSON file" },
    { "demo", weft_cmd_demo, "the main job: train the CNN one epoch in bf16-sr and report" },
};

static void usage(FILE *f)
{
    fprintf(f, "weft — a dataflow training stack: 16-bit training, one static graph\n\n"
               "usage: weft VERB [flags]      (weft VERB --help for its flags)\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) { puts("weft 0.1.0"); return 0; }
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        if (!strcmp(argv[1], verbs[i].name)) return verbs[i].run(argc - 2, argv + 2);
    fprintf(stderr, "weft: unknown verb '%s' (valid:", argv[1]);
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) fprintf(stderr, " %s", verbs[i].name);
    fprintf(stderr, ")\n");
    return 2;
}
