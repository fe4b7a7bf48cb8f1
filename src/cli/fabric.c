/* fabric.c — `weft fabric show NAME|FILE [--json]` and `weft fabric list`:
 * what a fabric description holds, read through the same validation the
 * compiler uses, so a file that shows is a file that compiles. */
#include "cli/cli.h"
#include "weft/rdu.h"

#include <string.h>

static const char *usage_text =
    "usage: weft fabric show NAME|FILE [--json]\n"
    "       weft fabric list\n\n"
    "show: reads a fabric — a preset (weft fabric list) or a JSON file in the format of\n"
    "docs/FABRIC.md — checks every field, and prints its units, peak, on-chip memory,\n"
    "network and off-chip memory with the sources and assumptions behind the figures;\n"
    "--json prints it in the file format instead (a starting point for your own).\n"
    "list: the presets, one line each.\n\n"
    "flags:\n"
    "  --json                 show: print the fabric as JSON\n"
    "  --help                 this help\n";

/* One line: the figures that tell fabrics apart. */
static void summary_line(FILE *out, const weft_fabric *f)
{
    fprintf(out, "  %-12s %d x %d %s, %d PCUs (%d lanes x %d stages) + %d PMUs, %.4g TFLOPS, "
            "%.6g MiB on chip, %.6g GB/s off-chip\n", f->name, f->rows, f->cols,
            f->pattern == WEFT_PATTERN_COLUMNS ? "columns" : "checkerboard", weft_fabric_count(f, WEFT_SITE_PCU),
            f->pcu_lanes, f->pcu_stages, weft_fabric_count(f, WEFT_SITE_PMU), weft_fabric_peak_flops(f) / 1e12,
            (double)weft_fabric_count(f, WEFT_SITE_PMU) * (double)f->pmu_bytes / (1 << 20), f->dram_gbps);
}

static int cmd_list(int argc, char **argv)
{
    if (argc > 0) {
        fprintf(stderr, "weft fabric list: unexpected argument '%s' (list takes none)\n", argv[0]);
        return 2;
    }
    printf("presets (weft fabric show NAME for the whole description):\n");
    for (const char *const *p = weft_fabric_presets(); *p; p++) {
        weft_fabric f;
        weft_status s = weft_fabric_load(&f, *p);
        if (s) { fprintf(stderr, "weft fabric: %s\n", weft_errmsg()); return weft_exit_code(s); }
        summary_line(stdout, &f);
    }
    return 0;
}

static int cmd_show(int argc, char **argv)
{
    const char *what = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "weft fabric show: unknown flag '%s' (valid: --json --help)\n", argv[i]);
            return 2;
        } else if (what) {
            fprintf(stderr, "weft fabric show: one fabric at a time ('%s' and '%s')\n", what, argv[i]);
            return 2;
        } else what = argv[i];
    }
    if (!what) {
        fprintf(stderr, "weft fabric show: which fabric? a preset (weft fabric list) or a JSON file\n");
        return 2;
    }
    weft_fabric f;
    weft_status s = weft_fabric_load(&f, what);
    if (s) { fprintf(stderr, "weft fabric: %s\n", weft_errmsg()); return weft_exit_code(s); }
    if (json) weft_fabric_write_json(stdout, &f);
    else weft_fabric_print(stdout, &f);
    if (fflush(stdout) || ferror(stdout)) { fprintf(stderr, "weft fabric: cannot write to the standard output\n"); return 1; }
    return 0;
}

int weft_cmd_fabric(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(usage_text, stdout); return 0; }
    if (argc < 1) { fputs(usage_text, stderr); return 2; }
    if (!strcmp(argv[0], "show")) return cmd_show(argc - 1, argv + 1);
    if (!strcmp(argv[0], "list")) return cmd_list(argc - 1, argv + 1);
    fprintf(stderr, "weft fabric: unknown command '%s' (valid: show, list)\n", argv[0]);
    return 2;
}

void weft_fabric_map_frame(const weft_fabric *f, unsigned char *shape, int *door_row, int *door_side)
{
    for (int i = 0; i < weft_fabric_sites(f); i++) shape[i] = weft_fabric_site_kind(f, i) == WEFT_SITE_PMU;
    for (int a = 0; a < f->ags; a++) {
        int site = weft_fabric_ag_site(f, a);
        door_row[a] = site / f->cols;
        door_side[a] = site % f->cols != 0;
    }
}
