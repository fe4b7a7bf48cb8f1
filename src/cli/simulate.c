/* simulate.c — `weft simulate plan.json`: the compiled plan run on its
 * fabric, spatially and kernel by kernel, side by side; the utilization of
 * every unit and link drawn over the fabric; an HTML report. */
#include "cli/cli.h"
#include "weft/rdu.h"
#include "weft/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *summary =
    "usage: weft simulate PLAN.json [--mode spatial|kernel|both] [--waves N] [--svg util.svg]\n"
    "                     [--report DIR] [--json]\n\n"
    "Runs one training step of a plan written by `weft compile -o` on its fabric: spatially, as\n"
    "compiled (every unit at once, tokens streaming between them with credit-based flow control,\n"
    "link latency and contention, PMU and off-chip bandwidth, sections one after another with their\n"
    "reconfiguration), and kernel by kernel (one op at a time on the whole fabric, every input read\n"
    "from and every output written to off-chip memory: the old way). Reports cycles per step,\n"
    "samples/s at the fabric's clock, FLOP/s against the fabric's peak, off-chip bytes, what bounds\n"
    "the step, and the ratio of the two. --svg draws every unit's and link's utilization.\n"
    "docs/SIMULATOR.md says what is modelled.";

/* ---- the utilization map ---- */
enum { NBANDS = 6 };
static const char *band_names[NBANDS] = { "busy < 5%", "5-20%", "20-40%", "40-60%", "60-80%", "80-100%" };
static const char *band_colors[NBANDS] = { "#ffffff", "#dadaeb", "#bcbddc", "#9e9ac8", "#756bb1", "#54278f" };

static int band(double u)
{
    return u < 0.05 ? 0 : u < 0.2 ? 1 : u < 0.4 ? 2 : u < 0.6 ? 3 : u < 0.8 ? 4 : 5;
}

static weft_status write_util_svg(FILE *f, const weft_sim_input *in, const weft_sim_result *r)
{
    const weft_fabric *fb = &in->fabric;
    int sites = weft_fabric_sites(fb), S = in->nsections, nl = weft_fabric_links(fb);
    weft_svg_fabric_panel *pan = calloc((size_t)S, sizeof *pan);
    int *cat = malloc((size_t)S * (size_t)sites * sizeof *cat + 1);
    char **tip = calloc((size_t)S * (size_t)sites + 1, sizeof *tip);
    unsigned char *shape = malloc((size_t)sites);
    double *share = malloc((size_t)S * (size_t)nl * sizeof *share + 1);
    int *drow = malloc((size_t)fb->ags * sizeof *drow + 1), *dside = malloc((size_t)fb->ags * sizeof *dside + 1);
    char (*cap)[160] = calloc((size_t)S + 1, sizeof *cap);
    weft_status st = pan && cat && tip && shape && share && drow && dside && cap ? WEFT_OK
                   : weft_fail(WEFT_ERR_NOMEM, "--svg: out of memory");
    for (int i = 0; !st && i < S * sites; i++) cat[i] = -1;
    if (!st) weft_fabric_map_frame(fb, shape, drow, dside);
    for (int s = 0; !st && s < S; s++) {
        const weft_sim_section *sec = &in->sections[s];
        double T = r->section_cycles[s] > 0 ? (double)r->section_cycles[s] : 1;
        for (int u = sec->first_unit; u < sec->first_unit + sec->nunits; u++) {
            const weft_sim_unit *x = &in->units[u];
            if (x->kind == WEFT_UNIT_AG) continue;
            double use = r->unit_busy[u] / T;
            size_t at = (size_t)s * sites + (size_t)x->slot;
            cat[at] = band(use);
            char buf[200];
            if (x->kind == WEFT_UNIT_PCU)
                snprintf(buf, sizeof buf, "PCU %d: %s (group %d, replica %d), busy %.1f%%", u, in->groups[x->group].op,
                         x->group, x->replica + 1, 100 * use);
            else snprintf(buf, sizeof buf, "PMU %d (%s, value %d), busy %.1f%%", u, weft_unit_role_name(x->role), x->value,
                          100 * use);
            tip[at] = strdup(buf);
        }
        for (int l = 0; l < nl; l++) share[(size_t)s * nl + l] = r->link_busy[(size_t)s * nl + l] / T;
        snprintf(cap[s], sizeof cap[s], "section %d of %d: %lld cycles; off-chip memory busy %.0f%%", s + 1, S,
                 (long long)r->section_cycles[s], 100 * r->dram_busy[s] / T);
        pan[s] = (weft_svg_fabric_panel){ .title = cap[s], .category = cat + (size_t)s * sites,
                                          .tooltip = (const char *const *)(tip + (size_t)s * sites),
                                          .link_load = share + (size_t)s * nl, .door_row = drow, .door_side = dside,
                                          .ndoors = fb->ags };
    }
    if (!st) {
        char title[200];
        snprintf(title, sizeof title, "%s, batch %d, on %s: utilization of every unit and link over one training step",
                 in->model, in->batch, fb->name);
        weft_svg_fabric_chart c = { .title = title, .rows = fb->rows, .cols = fb->cols, .shape = shape,
                                    .category_names = band_names, .category_colors = band_colors, .ncategories = NBANDS };
        st = weft_svg_fabric(f, &c, pan, S);
    }
    if (tip) for (size_t i = 0; i < (size_t)S * (size_t)sites; i++) free(tip[i]);
    free(tip); free(pan); free(cat); free(shape); free(share); free(drow); free(dside); free(cap);
    return st;
}

/* ---- the side by side ---- */
typedef struct { const char *name; char v[2][64]; char ratio[32]; } row;

static int side_by_side(const weft_sim_result *sp, const weft_sim_result *kn, row *rows)
{
    const weft_sim_result *rs[2] = { sp, kn };
    int n = 0;
    rows[n].name = "cycles per step";
    for (int k = 0; k < 2; k++) if (rs[k]) snprintf(rows[n].v[k], 64, "%lld", (long long)rs[k]->cycles);
    if (sp && kn && kn->cycles >= sp->cycles) snprintf(rows[n].ratio, 32, "%.2fx faster", (double)kn->cycles / (double)sp->cycles);
    else if (sp && kn) snprintf(rows[n].ratio, 32, "%.2fx slower", (double)sp->cycles / (double)kn->cycles);
    n++;
    rows[n].name = "of which reconfiguring";
    for (int k = 0; k < 2; k++) if (rs[k]) snprintf(rows[n].v[k], 64, "%lld", (long long)rs[k]->config_cycles);
    n++;
    rows[n].name = "ms per step";
    for (int k = 0; k < 2; k++) if (rs[k]) snprintf(rows[n].v[k], 64, "%.4f", 1e3 * rs[k]->seconds);
    n++;
    rows[n].name = "samples/s";
    for (int k = 0; k < 2; k++) if (rs[k]) snprintf(rows[n].v[k], 64, "%.0f", rs[k]->samples_per_s);
    n++;
    rows[n].name = "TFLOP/s (of peak)";
    for (int k = 0; k < 2; k++)
        if (rs[k]) snprintf(rows[n].v[k], 64, "%.2f (%.1f%%)", rs[k]->flops_per_s / 1e12, 100 * rs[k]->peak_fraction);
    n++;
    rows[n].name = "off-chip MiB per step";
    for (int k = 0; k < 2; k++) if (rs[k]) snprintf(rows[n].v[k], 64, "%.2f", (double)rs[k]->dram_bytes / 1048576.0);
    if (sp && kn && sp->dram_bytes > 0)
        snprintf(rows[n].ratio, 32, "%.2fx less", (double)kn->dram_bytes / (double)sp->dram_bytes);
    else if (sp && kn) snprintf(rows[n].ratio, 32, "none spatially");
    n++;
    rows[n].name = sp ? "sections" : "kernels";
    for (int k = 0; k < 2; k++) if (rs[k]) snprintf(rows[n].v[k], 64, "%d", rs[k]->nsections);
    n++;
    return n;
}

static void print_table(FILE *f, const row *rows, int n)
{
    fprintf(f, "  %-24s %20s %20s  %s\n", "", "spatial", "kernel by kernel", "spatial vs kernel");
    for (int i = 0; i < n; i++)
        fprintf(f, "  %-24s %20s %20s  %s\n", rows[i].name, rows[i].v[0][0] ? rows[i].v[0] : "-",
                rows[i].v[1][0] ? rows[i].v[1] : "-", rows[i].ratio);
}

static void print_json(FILE *f, const weft_sim_input *in, const weft_sim_result *r, const char *mode, bool comma)
{
    fprintf(f, "\"%s\": {\"cycles\": %lld, \"config_cycles\": %lld, \"seconds\": %.9g, \"samples_per_s\": %.6g, "
            "\"flops_per_s\": %.6g, \"peak_fraction\": %.6f, \"dram_bytes\": %lld, \"sections\": %d, "
            "\"tokens_sent\": %lld, \"tokens_taken\": %lld, \"seconds_sim\": %.4f, \"bound\": ", mode,
            (long long)r->cycles, (long long)r->config_cycles, r->seconds, r->samples_per_s, r->flops_per_s,
            r->peak_fraction, (long long)r->dram_bytes, r->nsections, (long long)r->tokens_sent,
            (long long)r->tokens_taken, r->seconds_sim);
    weft_json_string(f, r->bound);
    if (r->mode == WEFT_SIM_SPATIAL) {
        fprintf(f, ", \"critical_path\": ");
        weft_json_string(f, r->critical);
    }
    fprintf(f, ", \"section_cycles\": [");
    for (int s = 0; s < r->nsections; s++) fprintf(f, "%s%lld", s ? ", " : "", (long long)r->section_cycles[s]);
    fprintf(f, "]");
    if (r->mode == WEFT_SIM_SPATIAL) {
        /* every unit's and link's share of its section busy */
        fprintf(f, ", \"unit_utilization\": [");
        for (int u = 0; u < in->nunits; u++) {
            double T = (double)r->section_cycles[in->units[u].section];
            fprintf(f, "%s%.4f", u ? ", " : "", T > 0 ? r->unit_busy[u] / T : 0);
        }
        fprintf(f, "], \"link_utilization\": [");
        int nl = weft_fabric_links(&in->fabric), first = 1;
        for (int s = 0; s < in->nsections; s++)
            for (int l = 0; l < nl; l++) {
                double b = r->link_busy[(size_t)s * nl + l], T = (double)r->section_cycles[s];
                if (b <= 0 || T <= 0) continue;
                fprintf(f, "%s{\"section\": %d, \"link\": %d, \"use\": %.4f}", first ? "" : ", ", s, l, b / T);
                first = 0;
            }
        fprintf(f, "]");
    }
    fprintf(f, "}%s", comma ? ", " : "");
}

static void print_all_json(FILE *f, const weft_sim_input *in, const weft_sim_result *sp, const weft_sim_result *kn)
{
    fprintf(f, "{\"model\": ");
    weft_json_string(f, in->model);
    fprintf(f, ", \"fabric\": ");
    weft_json_string(f, in->fabric.name);
    fprintf(f, ", \"batch\": %d, \"peak_flops\": %.6g, ", in->batch, weft_fabric_peak_flops(&in->fabric));
    if (sp) print_json(f, in, sp, "spatial", kn != NULL);
    if (kn) print_json(f, in, kn, "kernel", false);
    fprintf(f, "}\n");
}

static weft_status write_report(const char *dir, const weft_sim_input *in, const weft_sim_result *sp,
                                const weft_sim_result *kn, const row *rows, int n)
{
    if (mkdir(dir, 0777) && errno != EEXIST) return weft_fail(WEFT_ERR_IO, "--report %s: cannot create the directory", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/simulate.json", dir);
    weft_outfile jf;
    WEFT_TRY(weft_outfile_open(&jf, path));
    print_all_json(jf.f, in, sp, kn);
    WEFT_TRY(weft_outfile_commit(&jf));
    snprintf(path, sizeof path, "%s/report.html", dir);
    weft_outfile of;
    WEFT_TRY(weft_outfile_open(&of, path));
    char t[256];
    snprintf(t, sizeof t, "weft simulate: %s, batch %d, on %s", in->model, in->batch, in->fabric.name);
    weft_report_begin(of.f, t);
    weft_report_heading(of.f, 2, "Spatial against kernel by kernel");
    weft_report_paragraph(of.f, "One training step. Spatial: the plan as compiled, every unit at once, sections one "
                                "after another. Kernel by kernel: one op at a time on the whole fabric, every input "
                                "read from and every output written to off-chip memory.");
    const char *hdr[] = { "", "spatial", "kernel by kernel", "spatial vs kernel" };
    const char *cells[64 * 4];
    for (int i = 0; i < n && i < 64; i++) {
        cells[i * 4] = rows[i].name;
        cells[i * 4 + 1] = rows[i].v[0];
        cells[i * 4 + 2] = rows[i].v[1];
        cells[i * 4 + 3] = rows[i].ratio;
    }
    weft_status s = weft_report_table(of.f, hdr, 4, cells, n);
    char para[600];
    if (sp) {
        snprintf(para, sizeof para, "Spatially, the step is bound by %s. Critical path: %s.", sp->bound, sp->critical);
        weft_report_paragraph(of.f, para);
    }
    if (kn) {
        snprintf(para, sizeof para, "Kernel by kernel: %s.", kn->bound);
        weft_report_paragraph(of.f, para);
    }
    if (!s && sp) {
        weft_report_heading(of.f, 2, "Utilization over the fabric");
        s = write_util_svg(of.f, in, sp);
    }
    weft_report_end(of.f);
    if (s) { weft_outfile_abort(&of); return s; }
    return weft_outfile_commit(&of);
}

int weft_cmd_simulate(int argc, char **argv)
{
    weft_opts o;
    weft_opts_defaults(&o);
    bool help = false;
    const char *plan = NULL;
    if (argc > 0 && argv[0][0] != '-') { plan = argv[0]; argc--; argv++; }
    weft_status s = weft_opts_parse(&o, V_SIM, argc, argv, &help);
    if (help) { weft_opts_usage(stdout, "simulate", V_SIM, summary); return 0; }
    if (!s && !plan) s = weft_fail(WEFT_ERR_ARG, "which plan? usage: weft simulate PLAN.json (weft compile -o writes one)");
    const char *mode = o.mode ? o.mode : "both";
    if (!s && strcmp(mode, "spatial") && strcmp(mode, "kernel") && strcmp(mode, "both"))
        s = weft_fail(WEFT_ERR_ARG, "--mode %s: valid are spatial, kernel, both", mode);
    if (!s && o.svg && !strcmp(mode, "kernel"))
        s = weft_fail(WEFT_ERR_ARG, "--svg draws the spatial run: not with --mode kernel");
    weft_sim_input in = { 0 };
    weft_sim_result sp = { 0 }, kn = { 0 };
    bool want_sp = strcmp(mode, "kernel") != 0, want_kn = strcmp(mode, "spatial") != 0;
    if (!s) s = weft_sim_read(plan, &in);
    weft_sim_opts so = { .mode = WEFT_SIM_SPATIAL, .waves = o.waves };
    if (!s && want_sp) s = weft_simulate(&in, &so, &sp);
    so.mode = WEFT_SIM_KERNEL;
    if (!s && want_kn) s = weft_simulate(&in, &so, &kn);
    row rows[16];
    memset(rows, 0, sizeof rows);
    int n = s ? 0 : side_by_side(want_sp ? &sp : NULL, want_kn ? &kn : NULL, rows);
    FILE *out = o.json ? stderr : stdout;
    if (!s && !o.quiet) {
        fprintf(out, "%s, batch %d, %s, on %s (%dx%d, %.0f TFLOP/s peak at %.2f GHz): one step of its plan\n", in.model,
                in.batch, in.precision, in.fabric.name, in.fabric.rows, in.fabric.cols,
                weft_fabric_peak_flops(&in.fabric) / 1e12, in.fabric.clock_ghz);
        print_table(out, rows, n);
        if (want_sp) {
            fprintf(out, "  spatial: bound by %s\n", sp.bound);
            fprintf(out, "  critical path: %s\n", sp.critical);
            fprintf(out, "  %-8s %12s %12s %8s\n", "section", "cycles", "compiler", "dram");
            for (int k = 0; k < in.nsections && k < 64; k++)
                fprintf(out, "  %-8d %12lld %12lld %7.0f%%\n", k + 1, (long long)sp.section_cycles[k],
                        (long long)in.sections[k].cycles,
                        sp.section_cycles[k] ? 100 * sp.dram_busy[k] / (double)sp.section_cycles[k] : 0);
            fprintf(out, "  conservation: %lld tokens sent, %lld taken; simulated in %.2f s\n", (long long)sp.tokens_sent,
                    (long long)sp.tokens_taken, sp.seconds_sim);
        }
        if (want_kn) fprintf(out, "  kernel by kernel: %s\n", kn.bound);
    }
    if (!s && o.svg) {
        weft_outfile of;
        s = weft_outfile_open(&of, o.svg);
        if (!s && (s = write_util_svg(of.f, &in, &sp))) weft_outfile_abort(&of);
        else if (!s) s = weft_outfile_commit(&of);
        if (s) weft_fail_wrap(s, "--svg");
        else if (!o.quiet) fprintf(out, "utilization map: %s\n", o.svg);
    }
    if (!s && o.report) {
        s = write_report(o.report, &in, want_sp ? &sp : NULL, want_kn ? &kn : NULL, rows, n);
        if (!s && !o.quiet) fprintf(out, "report: %s/report.html\n", o.report);
    }
    if (!s && o.json) {
        print_all_json(stdout, &in, want_sp ? &sp : NULL, want_kn ? &kn : NULL);
        if (fflush(stdout) || ferror(stdout)) s = weft_fail(WEFT_ERR_IO, "cannot write to the standard output");
    }
    weft_sim_result_free(&sp);
    weft_sim_result_free(&kn);
    weft_sim_input_free(&in);
    if (s) {
        fprintf(stderr, "weft simulate: %s\n", weft_errmsg());
        return weft_exit_code(s);
    }
    return 0;
}
