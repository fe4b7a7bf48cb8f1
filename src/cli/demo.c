/* demo.c — `weft demo`: the main job of `make run`. Each capability that
 * lands adds its part here. */
#include "cli/cli.h"

#include "weft/pipe.h"

#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *summary =
    "The main job: trains the CNN on Fashion-MNIST for one epoch with pure bf16\n"
    "storage and stochastically rounded updates (bf16-sr), evaluates it, and\n"
    "prints the summary. Then, when the Brown corpus is there, trains gpt-mini\n"
    "(bf16-sr) for 100 steps on its bytes and lets it continue a sentence, and\n"
    "bert-tiny (bf16-sr) for 150 steps on its part-of-speech tags. Last, dlrm-small\n"
    "(bf16-sr) learns 300000 synthetic clicks, its AUC beside the best achievable.\n"
    "Finally a short precision study of the CNN: the same 300 steps under fp32,\n"
    "bf16, bf16-sr and bf16-kahan, side by side (weft study precision).\n"
    "And the CNN as an 8-stage pipeline in bf16-sr: 64 steps synchronous (gpipe)\n"
    "and asynchronous (pipemare, --slack 1), their utilization side by side and the timeline\n"
    "written to weft-demo-timeline.svg (weft pipeline).\n"
    "Last, the CNN's training step compiled onto the SN10-sized dataflow fabric:\n"
    "units, sections, placement and routes, checked tile by tile against exec;\n"
    "the plan in weft-demo-plan.json, the fabric in weft-demo-fabric.svg (weft compile);\n"
    "then that plan simulated, spatially against kernel by kernel, its utilization\n"
    "drawn in weft-demo-util.svg (weft simulate).\n"
    "And a model brought from PyTorch: a small CNN exported to ONNX (tests/fixtures/\n"
    "onnx_cnn.onnx, by scripts/export_onnx.py) imported (weft import), fine-tuned\n"
    "for 300 steps in bf16-sr from its own weights, and written back under its\n"
    "PyTorch names to weft-demo-onnx-weights.safetensors (weft train --onnx).\n"
    "Then, when OpenMPI is there, the CNN as 2 pipeline stages in 2 processes under\n"
    "mpirun, activations and gradients crossing as MPI messages (--backend mpi).\n"
    "With --json, only the CNN's summary object is printed.";

/* A short run of another preset in bf16-sr; its summary, or why it was skipped. */
static void demo_more(const weft_opts *cnn, const char *model, int64_t steps, const char *data, const char *what)
{
    weft_opts o;
    weft_opts_defaults(&o);
    o.model = model;
    o.precision = WEFT_PREC_BF16_SR;
    o.steps = steps;
    o.data = data;
    o.threads = cnn->threads;
    o.quiet = cnn->quiet;
    printf("\nweft demo: training %s on %s, precision bf16-sr, %lld steps\n", model, what, (long long)steps);
    fflush(stdout);
    weft_train_result r;
    if (weft_train_run(&o, &r)) printf("  skipped: %s\n", weft_errmsg());
    else weft_train_print_summary(stdout, &o, &r);
}

/* Part two: a byte-level GPT, briefly, and what it writes. */
static void demo_gpt(const weft_opts *cnn)
{
    char dir[] = "/tmp/weft-demo-XXXXXX", path[64];
    if (!mkdtemp(dir)) return;
    snprintf(path, sizeof path, "%s/gpt-mini.safetensors", dir);
    weft_opts o;
    weft_opts_defaults(&o);
    o.model = "gpt-mini";
    o.precision = WEFT_PREC_BF16_SR;
    o.steps = 100;
    o.threads = cnn->threads;
    o.quiet = cnn->quiet;
    o.checkpoint = path;
    printf("\nweft demo: training gpt-mini on Brown-corpus bytes, precision bf16-sr, 100 steps\n");
    fflush(stdout);
    weft_train_result r;
    weft_status s = weft_train_run(&o, &r);
    if (s) {
        printf("  skipped: %s\n", weft_errmsg());
    } else {
        weft_train_print_summary(stdout, &o, &r);
        printf("  it continues \"The jury said\" as:\n  ");
        weft_opts so;
        weft_opts_defaults(&so);
        so.checkpoint = path;
        so.prompt = "The jury said";
        so.tokens = 120;
        so.threads = cnn->threads;
        if (weft_sample_text(&so)) printf("(sampling failed: %s)\n", weft_errmsg());
    }
    unlink(path);
    rmdir(dir);
}

/* An argument list's length, its last word (--quiet) dropped unless asked. */
#define ARGS_QUIET(a, quiet) ((int)(sizeof(a) / sizeof *(a)) - ((quiet) ? 0 : 1))

/* Part three: the precision study of the CNN, briefly (weft study precision). */
static void demo_study(const weft_opts *cnn)
{
    char threads[16];
    snprintf(threads, sizeof threads, "%d", cnn->threads);
    char *args[] = { "precision", "--model", "cnn", "--steps", "300", "--lr", "0.003", "--eval-every", "300",
                     "--policies", "fp32,bf16,bf16-sr,bf16-kahan", "--threads", threads, "--quiet" };
    printf("\nweft demo: the CNN for 300 steps (SGD lr 0.003) under four precision policies "
           "(weft study precision)\n");
    fflush(stdout);
    if (weft_cmd_study((int)(sizeof args / sizeof *args), args)) printf("  (the study failed)\n");
}

/* Part four: the CNN as a pipeline of 8 stages, synchronous against
 * asynchronous, and its timeline (weft pipeline). */
static void demo_pipeline(const weft_opts *cnn)
{
    char *args[] = { "--model", "cnn", "--stages", "8", "--pipeline", "gpipe,pipemare", "--steps", "64",
                     "--precision", "bf16-sr", "--serial", "--balance", "measured", "--slack", "1",
                     "--timeline", "weft-demo-timeline.svg", "--quiet" };
    int nargs = ARGS_QUIET(args, cnn->quiet);
    printf("\nweft demo: the CNN cut into 8 pipeline stages, bf16-sr, 64 steps each of gpipe (synchronous) and "
           "pipemare (asynchronous, one iteration of slack between stages) (weft pipeline)\n");
    fflush(stdout);
    if (weft_cmd_pipeline(nargs, args)) printf("  (the pipeline run failed)\n");
}

/* Part five: the CNN's whole training step laid out in space on the
 * SN10-sized fabric, placed and routed, checked tile by tile against exec,
 * and drawn (weft compile). */
static void demo_compile(const weft_opts *cnn)
{
    char *args[] = { "--model", "cnn", "--precision", "bf16-sr", "--fabric", "sn10", "--check",
                     "-o", "weft-demo-plan.json", "--svg", "weft-demo-fabric.svg", "--quiet" };
    int nargs = ARGS_QUIET(args, cnn->quiet);
    printf("\nweft demo: the CNN's training step (bf16-sr) compiled onto the sn10 fabric: lowered, placed, routed, "
           "checked tile by tile against exec (weft compile)\n");
    fflush(stdout);
    if (weft_cmd_compile(nargs, args)) { printf("  (the compile failed)\n"); return; }
    char *sargs[] = { "weft-demo-plan.json", "--svg", "weft-demo-util.svg", "--quiet" };
    int nsargs = ARGS_QUIET(sargs, cnn->quiet);
    printf("\nweft demo: that plan simulated on sn10, spatially and kernel by kernel (weft simulate)\n");
    fflush(stdout);
    if (weft_cmd_simulate(nsargs, sargs)) printf("  (the simulation failed)\n");
}

/* Part six: bring your own model — a PyTorch export imported, fine-tuned
 * and written back for PyTorch (weft import, weft train --onnx). */
static void demo_onnx(const weft_opts *cnn)
{
    char model[] = "tests/fixtures/onnx_cnn.onnx";
    if (access(model, R_OK)) { printf("\nweft demo: skipped the ONNX part: no %s here\n", model); return; }
    char *iargs[] = { model };
    printf("\nweft demo: a CNN exported from PyTorch to ONNX, imported (weft import)\n");
    fflush(stdout);
    if (weft_cmd_import(1, iargs)) { printf("  (the import failed)\n"); return; }
    char *targs[] = { "--onnx", model, "--data", "fmnist", "--precision", "bf16-sr", "--steps", "300",
                      "--export-weights", "weft-demo-onnx-weights.safetensors", "--quiet" };
    int nargs = ARGS_QUIET(targs, cnn->quiet);
    printf("\nweft demo: that model fine-tuned from its own weights, bf16-sr, 300 steps, its weights written back "
           "for PyTorch (weft train --onnx; scripts/weft_to_torch.py loads them)\n");
    fflush(stdout);
    if (weft_cmd_train(nargs, targs)) printf("  (the fine-tuning failed)\n");
}

/* Part seven: beyond one process — the CNN's 2 stages as 2 MPI ranks under
 * mpirun (weft train --backend mpi). */
static void demo_mpi(const weft_opts *cnn)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (!weft_mpi_available() || n <= 0 || system("command -v mpirun >/dev/null 2>&1")) {
        printf("\nweft demo: skipped the MPI part: %s\n", weft_mpi_available() ? "no mpirun here (scripts/deps.sh "
               "installs OpenMPI)" : "this weft was built without MPI");
        return;
    }
    self[n] = 0;
    char *args[32];
    int k = 0;
    args[k++] = "mpirun";
    args[k++] = "--oversubscribe";
    if (getuid() == 0) args[k++] = "--allow-run-as-root";   /* OpenMPI refuses root without it */
    char *rest[] = { "-np", "2", self, "train", "--model", "cnn", "--pipeline", "1f1b", "--stages", "2",
                     "--microbatches", "4", "--steps", "200", "--precision", "bf16-sr", "--backend", "mpi" };
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++) args[k++] = rest[i];
    if (cnn->quiet) args[k++] = "--quiet";
    args[k] = NULL;
    printf("\nweft demo: the CNN as 2 pipeline stages in 2 processes (mpirun -np 2 weft train --backend mpi), 1f1b, "
           "4 microbatches a step, bf16-sr, 200 steps\n");
    fflush(stdout);
    pid_t pid;
    int st = 0;
    if (posix_spawnp(&pid, "mpirun", NULL, NULL, args, environ) || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
        WEXITSTATUS(st))
        printf("  (the MPI run failed)\n");
}

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
    if (o.json) {
        weft_train_print_json(stdout, &o, &r);
        return 0;
    }
    weft_train_print_summary(stdout, &o, &r);
    if (o.steps == 0) {   /* the full demo, not a shortened one */
        demo_gpt(&o);
        demo_more(&o, "bert-tiny", 150, NULL, "Brown-corpus part-of-speech tags");
        demo_more(&o, "dlrm-small", 2343, "synthetic:300000", "synthetic click-through data");
        demo_study(&o);
        demo_pipeline(&o);
        demo_compile(&o);
        demo_onnx(&o);
        demo_mpi(&o);
    }
    return 0;
}
