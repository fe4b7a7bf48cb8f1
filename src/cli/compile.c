/* compile.c — `weft compile`: a model's training step laid out on a dataflow
 * fabric: lowered to units, cut into sections, placed and routed; the plan
 * written as JSON, the fabric drawn as SVG, the plan checked tile by tile. */
#include "cli/task.h"
#include "weft/onnx.h"
#include "weft/rdu.h"
#include "weft/report.h"

#include <libgen.h>

#include <stdlib.h>
#include <string.h>

static const char *summary =
    "usage: weft compile --model M [model flags] [--fabric F] [--batch B] [-o plan.json] [--svg fabric.svg]\n"
    "                    [--place anneal|greedy|random] [--check] [--json]\n\n"
    "Lowers model M's training step (forward, backward and update) to the compute and memory units of\n"
    "fabric F (default plasticine; sn10, or a JSON file: `weft fabric list`): every op its own units,\n"
    "as many as balance the spatial pipeline, values on chip or streamed from off-chip memory; cuts it\n"
    "into sections when it does not fit; places (simulated annealing) and routes (negotiated\n"
    "congestion). Prints units by kind, on-chip and off-chip bytes, routed wirelength, worst link use\n"
    "and compile time per phase. -o writes the plan (docs/PLAN.md), --svg the placed and routed fabric,\n"
    "--check runs the plan tile by tile on the CPU beside exec and compares (small models).";

static weft_status parse_place(const char *s, weft_place_method *m)
{
    if (!s || !strcmp(s, "anneal")) { *m = WEFT_PLACE_ANNEAL; return WEFT_OK; }
    if (!strcmp(s, "greedy")) { *m = WEFT_PLACE_GREEDY; return WEFT_OK; }
    if (!strcmp(s, "random")) { *m = WEFT_PLACE_RANDOM; return WEFT_OK; }
    return weft_fail(WEFT_ERR_ARG, "--place %s: valid are anneal, greedy, random", s);
}

/* ---- the picture: the placed units of every section, coloured by what they
 * serve, and the load of every link ---- */
enum { C_FWD_GEMM, C_FWD_MAP, C_BWD_GEMM, C_BWD_MAP, C_UPDATE, C_MOVE, C_WEIGHT, C_STATE, C_ACT, C_GRAD, C_BUFFER, C_N };
static const char *cat_names[C_N] = { "forward GEMM", "forward elementwise", "backward GEMM", "backward elementwise",
                                      "update", "data movement", "weights", "optimizer state", "activations",
                                      "gradients", "stream buffers" };
static const char *cat_colors[C_N] = { "#0072b2", "#56b4e9", "#d55e00", "#e69f00", "#cc79a7", "#999933",
                                       "#009e73", "#7fd1b9", "#f0e442", "#f4a582", "#bbbbbb" };

static int unit_category(const weft_plan *p, const weft_unit *u)
{
    if (u->kind == WEFT_UNIT_PMU)
        switch (u->role) {
        case WEFT_ROLE_U_WEIGHT: return C_WEIGHT;
        case WEFT_ROLE_U_STATE: return C_STATE;
        case WEFT_ROLE_U_ACT: return C_ACT;
        case WEFT_ROLE_U_GRAD: return C_GRAD;
        default: return C_BUFFER;
        }
    const weft_group *G = &p->groups[u->group];
    const weft_node *n = &p->g->nodes[p->group_nodes[G->first]];
    if (n->phase == WEFT_PHASE_UPDATE) return C_UPDATE;
    if (G->kind == WEFT_GROUP_MOVE) return C_MOVE;
    bool gemm = G->kind == WEFT_GROUP_GEMM;
    return n->phase == WEFT_PHASE_FWD ? (gemm ? C_FWD_GEMM : C_FWD_MAP) : (gemm ? C_BWD_GEMM : C_BWD_MAP);
}

static weft_status write_svg(FILE *f, const weft_plan *p)
{
    const weft_fabric *fb = &p->fabric;
    int sites = weft_fabric_sites(fb), S = p->nsections;
    weft_svg_fabric_panel *pan = calloc((size_t)S, sizeof *pan);
    int *cat = malloc((size_t)S * (size_t)sites * sizeof *cat);
    char **tip = calloc((size_t)S * (size_t)sites, sizeof *tip);
    unsigned char *shape = malloc((size_t)sites);
    int *drow = malloc((size_t)fb->ags * sizeof *drow + 1), *dside = malloc((size_t)fb->ags * sizeof *dside + 1);
    double *dload = calloc((size_t)S * (size_t)fb->ags + 1, sizeof *dload);
    char (*caption)[160] = calloc((size_t)S, sizeof *caption);
    weft_status st = pan && cat && tip && shape && drow && dside && dload && caption ? WEFT_OK
                   : weft_fail(WEFT_ERR_NOMEM, "--svg: out of memory");
    for (int i = 0; !st && i < S * sites; i++) cat[i] = -1;
    if (!st) weft_fabric_map_frame(fb, shape, drow, dside);
    int64_t *agb = st ? NULL : calloc((size_t)fb->ags + 1, sizeof *agb);
    for (int s = 0; !st && s < S; s++) {
        const weft_section *sec = &p->sections[s];
        int64_t most = 1;
        if (agb) memset(agb, 0, (size_t)fb->ags * sizeof *agb);
        for (int e = sec->first_net; agb && e < sec->first_net + sec->nnets; e++) {
            const weft_net *n = &p->nets[e];
            const weft_unit *a = &p->units[n->src], *b = &p->units[n->dst];
            if (a->kind == WEFT_UNIT_AG) agb[a->slot] += n->bytes;
            if (b->kind == WEFT_UNIT_AG) agb[b->slot] += n->bytes;
        }
        for (int a = 0; agb && a < fb->ags; a++) if (agb[a] > most) most = agb[a];
        for (int a = 0; agb && a < fb->ags; a++) dload[(size_t)s * fb->ags + a] = (double)agb[a] / (double)most;
        for (int u = sec->first_unit; u < sec->first_unit + sec->nunits; u++) {
            const weft_unit *x = &p->units[u];
            if (x->kind == WEFT_UNIT_AG) continue;
            size_t at = (size_t)s * sites + (size_t)x->slot;
            cat[at] = unit_category(p, x);
            char buf[200];
            if (x->kind == WEFT_UNIT_PCU) {
                const weft_group *G = &p->groups[x->group];
                int node = p->group_nodes[G->first];
                snprintf(buf, sizeof buf, "PCU: group %d, node #%d %s%s, replica %d of %d, link %d of %d, %lld cycles",
                         x->group, node, weft_op_name(p->g->nodes[node].op), G->count > 1 ? " (fused chain)" : "",
                         x->replica + 1, G->replicas, x->link + 1, G->chain, (long long)x->cycles);
            } else {
                snprintf(buf, sizeof buf, "PMU (%s): %s, %lld bytes", weft_unit_role_name(x->role),
                         p->g->values[x->value].name, (long long)x->bytes);
            }
            tip[at] = strdup(buf);
        }
        snprintf(caption[s], sizeof caption[s], "section %d of %d: %d PCUs, %d PMUs, %lld cycles; worst link %.2f", s + 1,
                 S, sec->pcus, sec->pmus, (long long)sec->cycles, sec->route.worst_use);
        pan[s] = (weft_svg_fabric_panel){ .title = caption[s], .category = cat + (size_t)s * sites,
                                          .tooltip = (const char *const *)(tip + (size_t)s * sites),
                                          .door_row = drow, .door_side = dside, .door_load = dload + (size_t)s * fb->ags,
                                          .ndoors = fb->ags };
    }
    /* link loads are vectors per cycle; the map wants shares of capacity */
    double *share = st ? NULL : malloc((size_t)S * (size_t)weft_fabric_links(fb) * sizeof *share + 1);
    if (!st && !share) st = weft_fail(WEFT_ERR_NOMEM, "--svg: out of memory");
    for (size_t i = 0; !st && i < (size_t)S * (size_t)weft_fabric_links(fb); i++) share[i] = p->link_load[i] / fb->vec_links;
    for (int s = 0; !st && s < S; s++) pan[s].link_load = share + (size_t)s * (size_t)weft_fabric_links(fb);
    if (!st) {
        char title[200];
        snprintf(title, sizeof title, "%s, batch %d, on %s (%dx%d): the training step, placed and routed", p->model,
                 p->batch, fb->name, fb->rows, fb->cols);
        weft_svg_fabric_chart c = { .title = title, .rows = fb->rows, .cols = fb->cols, .shape = shape,
                                    .category_names = cat_names, .category_colors = cat_colors, .ncategories = C_N };
        st = weft_svg_fabric(f, &c, pan, S);
    }
    if (tip) for (size_t i = 0; i < (size_t)S * (size_t)sites; i++) free(tip[i]);
    free(tip); free(pan); free(cat); free(shape); free(drow); free(dside); free(dload); free(caption); free(agb);
    free(share);
    return st;
}

/* The plan and its picture: both written, or neither. */
static weft_status write_files(const char *plan, const char *svg, const weft_plan *p)
{
    weft_outfile a = { 0 }, b = { 0 };
    weft_status s = WEFT_OK;
    if (plan && (s = weft_outfile_open(&a, plan))) return weft_fail_wrap(s, "-o");
    if (svg && (s = weft_outfile_open(&b, svg))) {
        if (plan) weft_outfile_abort(&a);
        return weft_fail_wrap(s, "--svg");
    }
    if (plan && (s = weft_plan_write_json(a.f, p))) weft_fail_wrap(s, "-o %s", plan);
    if (!s && svg && (s = write_svg(b.f, p))) weft_fail_wrap(s, "--svg %s", svg);
    if (!s && plan && (s = weft_outfile_commit(&a))) weft_fail_wrap(s, "-o");
    if (!s && svg && (s = weft_outfile_commit(&b))) weft_fail_wrap(s, "--svg");
    if (s) {
        if (plan && a.f) weft_outfile_abort(&a);
        if (svg && b.f) weft_outfile_abort(&b);
    }
    return s;
}

static void print_json(FILE *f, const weft_plan *p, const weft_plan_check_result *c)
{
    int n[3] = { 0, 0, 0 }, over = 0;
    for (int u = 0; u < p->nunits; u++) n[p->units[u].kind]++;
    for (int s = 0; s < p->nsections; s++) over += p->sections[s].route.overused;
    fprintf(f, "{\"model\": ");
    weft_json_string(f, p->model);
    fprintf(f, ", \"fabric\": ");
    weft_json_string(f, p->fabric.name);
    fprintf(f, ", \"batch\": %d, \"precision\": \"%s\", \"nodes\": %d, \"groups\": %d, \"sections\": %d, "
            "\"pcu_units\": %d, \"pmu_units\": %d, \"ag_units\": %d, \"nets\": %d, \"onchip_bytes\": %lld, "
            "\"dram_bytes_per_step\": %lld, \"wirelength\": %lld, \"traffic\": %.6g, \"worst_link_use\": %.6f, "
            "\"cycles_per_step\": %lld, "
            "\"seconds_lower\": %.6f, \"seconds_place\": %.6f, \"seconds_route\": %.6f, \"overused_links\": %d, "
            "\"network_bound_sections\": %d",
            p->batch, weft_precision_name(p->precision), p->g->nnodes, p->ngroups, p->nsections, n[0], n[1], n[2],
            p->nnets, (long long)p->onchip_bytes, (long long)p->dram_bytes, (long long)p->wirelength, p->traffic, p->worst_use,
            (long long)weft_plan_cycles(p), p->seconds_lower, p->seconds_place, p->seconds_route, over, weft_plan_network_bound(p));
    if (c) fprintf(f, ", \"check\": {\"tiles\": %lld, \"compared\": %d, \"loss_err\": %.3g, \"grad_err\": %.3g, "
                   "\"weight_err\": %.3g, \"state_err\": %.3g}", (long long)c->tiles, c->compared, c->loss_err,
                   c->grad_err, c->weight_err, c->state_err);
    fprintf(f, "}\n");
}

/* The functional check of an imported model runs on the file's own weights
 * and constants (its masks, its position bias), not on zeros. */
static weft_status fill_onnx(void *ctx, weft_store *st) { return weft_onnx_fill_store(ctx, st); }

int weft_cmd_compile(int argc, char **argv)
{
    weft_opts o;
    weft_opts_defaults(&o);
    bool help;
    weft_status s = weft_opts_parse(&o, V_COMPILE, argc, argv, &help);
    if (help) { weft_opts_usage(stdout, "compile", V_COMPILE, summary); return 0; }
    const weft_model_preset *mp = NULL;
    weft_place_method pm = WEFT_PLACE_ANNEAL;
    if (!s) s = parse_place(o.place, &pm);
    if (!s && !o.onnx) s = weft_model_find(o.model, &mp);
    if (!s && !o.onnx) weft_opts_resolve(&o, mp);
    if (!s && o.onnx && o.batch <= 0) o.batch = 1;
    if (o.quiet || o.json) weft_log_set_level(WEFT_LOG_QUIET);
    weft_fabric fab;
    if (!s) s = weft_fabric_load(&fab, o.fabric ? o.fabric : "plasticine");
    if (!s && o.precision != WEFT_PREC_FP32 && !fab.bf16)
        s = weft_fail(WEFT_ERR_ARG, "--precision %s: fabric %s computes in fp32 only", weft_precision_name(o.precision),
                      fab.name);
    weft_compiled c = { 0 };
    weft_onnx onnx = { 0 };
    char name[64];
    snprintf(name, sizeof name, "%s", o.model);
    double t0 = weft_now();
    if (!s && o.onnx) {
        /* an imported model: its forward (inference) step, as the file defines it */
        s = weft_onnx_import(o.onnx, o.batch, &onnx);
        if (!s) s = weft_pass_precision(onnx.g, o.precision);
        if (!s) s = weft_pass_plan_memory(onnx.g);
        if (!s) {
            c.g = onnx.g;
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", o.onnx);
            snprintf(name, sizeof name, "%s", basename(tmp));
        }
    } else if (!s) s = weft_compile(&c, &o, o.batch, true);
    double build_s = weft_now() - t0;
    weft_plan p = { 0 };
    weft_compile_opts co = { .place = pm, .seed = (uint64_t)o.seed };
    if (!s) {
        if (!o.quiet && !o.json) fprintf(stderr, "compile: %s %s graph, batch %d: %d nodes (built in %.2f s)\n", name,
                                        o.onnx ? "inference" : "training", o.batch, c.g->nnodes, build_s);
        s = weft_rdu_compile(c.g, &fab, &co, &p);
    }
    if (!s) {
        snprintf(p.model, sizeof p.model, "%s", name);
        p.batch = o.batch;
    }
    weft_plan_check_result chk;
    if (!s && o.check) {
        if (!o.quiet && !o.json) fprintf(stderr, "check: running the plan tile by tile beside exec\n");
        s = o.onnx ? weft_plan_check_with(&p, c.g, (uint64_t)o.seed, fill_onnx, &onnx, &chk)
                   : weft_plan_check(&p, c.g, (uint64_t)o.seed, &chk);
        if (!s && !(chk.worst_err <= chk.tolerance))
            s = weft_fail(WEFT_ERR_NUMERIC, "--check: the plan computes %s %.3g away from exec (the tolerance is %.0e)",
                          chk.worst, chk.worst_err, chk.tolerance);
    }
    FILE *out = o.json ? stderr : stdout;
    if (!s && !o.quiet) weft_plan_print(out, &p);
    if (!s && o.check && !o.quiet)
        fprintf(out, "  functional check  %lld tiles in the plan's order against exec: loss (or outputs) %.2g, gradients %.2g, "
                "weights %.2g, optimizer state %.2g (max error / the tensor's largest value; worst: %s)\n",
                (long long)chk.tiles, chk.loss_err, chk.grad_err, chk.weight_err, chk.state_err, chk.worst);
    if (!s && (o.out || o.svg)) {
        s = write_files(o.out, o.svg, &p);
        if (!s && !o.quiet && o.out) fprintf(out, "plan: %s\n", o.out);
        if (!s && !o.quiet && o.svg) fprintf(out, "fabric picture: %s\n", o.svg);
    }
    if (!s && o.json) print_json(stdout, &p, o.check ? &chk : NULL);
    if (!s && (fflush(stdout) || ferror(stdout))) s = weft_fail(WEFT_ERR_IO, "cannot write to the standard output");
    weft_plan_free(&p);
    if (o.onnx) { c.g = NULL; weft_onnx_free(&onnx); }
    weft_compiled_free(&c);
    if (s) {
        fprintf(stderr, "weft compile: %s\n", weft_errmsg());
        return weft_exit_code(s);
    }
    return 0;
}
