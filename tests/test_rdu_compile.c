/* test_rdu_compile.c — the dataflow compiler: every zoo model's training
 * step lowered, placed and routed on both presets, legally; the plan run tile
 * by tile in its order equals exec; forced sections too; bad input refused. */
#include "test_util.h"
#include "rdu_test_util.h"
#include "weft/models.h"
#include "weft/rdu.h"

#include <string.h>

/* small sizes: a test compiles each twice and runs it twice */
static const zoo_case zoo[] = {
    { "mlp", 8, { 0 }, WEFT_OPT_SGD },
    { "cnn", 4, { 0 }, WEFT_OPT_SGD },
    { "resnet", 2, { .layers = 8, .d_model = 4 }, WEFT_OPT_SGD },
    { "gpt-mini", 2, { .layers = 1, .heads = 2, .d_model = 16, .ctx = 8, .vocab = 256 }, WEFT_OPT_ADAMW },
    { "lstm-lm", 2, { .layers = 1, .d_model = 16, .ctx = 8 }, WEFT_OPT_ADAMW },
    { "bert-tiny", 2, { .layers = 1, .heads = 2, .d_model = 16, .ctx = 8, .vocab = 512 }, WEFT_OPT_ADAMW },
    { "dlrm-small", 8, { .d_model = 4, .vocab = 256 }, WEFT_OPT_SGD },
};

/* Every unit on a slot of its kind, one unit a slot per section, every route
 * a path of links from its source's switch to its destination's, every
 * link within its capacity (after the section's rate scale). */
static void check_legal(const weft_plan *p, const char *what)
{
    const weft_fabric *f = &p->fabric;
    int sites = weft_fabric_sites(f);
    int *used = calloc((size_t)sites + (size_t)f->ags, sizeof *used);
    bool ok_units = true, ok_routes = true, ok_load = true;
    for (int s = 0; s < p->nsections; s++) {
        const weft_section *S = &p->sections[s];
        memset(used, 0, ((size_t)sites + (size_t)f->ags) * sizeof *used);
        for (int u = S->first_unit; u < S->first_unit + S->nunits; u++) {
            const weft_unit *x = &p->units[u];
            int slot = x->kind == WEFT_UNIT_AG ? sites + x->slot : x->slot;
            if (x->slot < 0 || slot >= sites + f->ags || used[slot]++) ok_units = false;
            if (x->kind == WEFT_UNIT_PCU && weft_fabric_site_kind(f, x->slot) != WEFT_SITE_PCU) ok_units = false;
            if (x->kind == WEFT_UNIT_PMU && weft_fabric_site_kind(f, x->slot) != WEFT_SITE_PMU) ok_units = false;
        }
        for (int e = S->first_net; e < S->first_net + S->nnets; e++) {
            const weft_net *n = &p->nets[e];
            int at = weft_unit_site(f, p->units[n->src].kind, p->units[n->src].slot);
            int to = weft_unit_site(f, p->units[n->dst].kind, p->units[n->dst].slot);
            for (int l = p->routes.first[e]; l < p->routes.first[e + 1]; l++) {
                if (p->routes.links[l] / 4 != at) ok_routes = false;
                at = weft_fabric_link_dest(f, p->routes.links[l]);
            }
            if (at != to) ok_routes = false;
        }
        for (int l = 0; l < weft_fabric_links(f); l++)
            if (p->link_load[(size_t)s * weft_fabric_links(f) + l] > f->vec_links * (1 + 1e-6)) ok_load = false;
    }
    CHECKF(ok_units, "%s: a unit off its kind's slots or two on one", what);
    CHECKF(ok_routes, "%s: a route does not join its net's ends", what);
    CHECKF(ok_load, "%s: a link above its capacity", what);
    free(used);
}

static void test_zoo(void)
{
    const char *fabrics[] = { "plasticine", "sn10" };
    for (size_t m = 0; m < sizeof zoo / sizeof *zoo; m++) {
        weft_graph *g = train_graph(&zoo[m], WEFT_PREC_FP32);
        if (!g) continue;
        for (int k = 0; k < 2; k++) {
            weft_fabric f;
            CHECK_OK(weft_fabric_load(&f, fabrics[k]));
            weft_plan p;
            weft_compile_opts o = { .place = WEFT_PLACE_ANNEAL, .seed = 1 };
            weft_status s = weft_rdu_compile(g, &f, &o, &p);
            char what[96];
            snprintf(what, sizeof what, "%s on %s", zoo[m].name, fabrics[k]);
            CHECKF(!s, "%s: %s", what, weft_errmsg());
            if (s) continue;
            check_legal(&p, what);
            int pcus = 0;
            for (int u = 0; u < p.nunits; u++) pcus += p.units[u].kind == WEFT_UNIT_PCU;
            CHECKF(pcus > 0 && p.nsections >= 1 && weft_plan_cycles(&p) > 0, "%s: empty plan", what);
            if (k == 0) {
                weft_plan_check_result r;
                CHECK_OK(weft_plan_check(&p, g, 3, &r));
                /* fp32: tiles sum a weight's gradient in another order */
                CHECKF(r.compared > 0 && r.worst_err < 1e-4, "%s: plan vs exec: loss %g grad %g weight %g state %g (%s)",
                       what, r.loss_err, r.grad_err, r.weight_err, r.state_err, r.worst);
                printf("%-12s %-10s %3d groups %d section(s) %5d units %6d nets, %lld tiles: max error %.2g (%s)\n",
                       zoo[m].name, fabrics[k], p.ngroups, p.nsections, p.nunits, p.nnets, (long long)r.tiles,
                       r.worst_err, r.worst);
            }
            weft_plan_free(&p);
        }
        weft_graph_free(g);
    }
}

/* A fabric cut down to a few units forces sections; the plan still computes
 * what exec does, and the same seed places the same way. */
static void test_sections(void)
{
    weft_graph *g = train_graph(&zoo[3], WEFT_PREC_FP32);
    if (!g) return;
    weft_fabric f;
    CHECK_OK(weft_fabric_load(&f, "plasticine"));
    weft_compile_opts o = { .place = WEFT_PLACE_ANNEAL, .seed = 7, .max_pcus = 12, .max_pmus = 40 };
    weft_plan p, q;
    CHECK_OK(weft_rdu_compile(g, &f, &o, &p));
    CHECK_OK(weft_rdu_compile(g, &f, &o, &q));
    CHECKF(p.nsections > 2, "%d sections", p.nsections);
    check_legal(&p, "gpt-mini in 12 PCUs");
    bool same = p.nunits == q.nunits;
    for (int u = 0; same && u < p.nunits; u++) same = p.units[u].slot == q.units[u].slot;
    CHECK(same);
    int64_t dram = 0;
    for (int s = 0; s < p.nsections; s++) {
        CHECK(p.sections[s].pcus <= 12 && p.sections[s].pmus <= 40);
        dram += p.sections[s].dram_read + p.sections[s].dram_write;
    }
    CHECK(dram == p.dram_bytes && dram > 0);
    weft_plan_check_result r;
    CHECK_OK(weft_plan_check(&p, g, 5, &r));
    CHECKF(r.worst_err < 1e-4, "sections: worst %g (%s)", r.worst_err, r.worst);
    weft_plan_free(&p);
    weft_plan_free(&q);
    weft_graph_free(g);
}

/* bf16-sr on sn10: the plan runs; tiles round a weight's gradient sum once
 * per tile, so bf16 values differ by a few units in the last place. */
static void test_bf16(void)
{
    weft_graph *g = train_graph(&zoo[0], WEFT_PREC_BF16_SR);
    if (!g) return;
    weft_fabric f;
    CHECK_OK(weft_fabric_load(&f, "sn10"));
    weft_compile_opts o = { .place = WEFT_PLACE_GREEDY, .seed = 1 };
    weft_plan p;
    CHECK_OK(weft_rdu_compile(g, &f, &o, &p));
    check_legal(&p, "mlp bf16-sr on sn10");
    weft_plan_check_result r;
    CHECK_OK(weft_plan_check(&p, g, 3, &r));
    CHECKF(r.loss_err < 2e-2 && r.worst_err < 5e-2, "bf16-sr: worst %g (%s)", r.worst_err, r.worst);
    printf("mlp bf16-sr on sn10: max error %.2g (%s)\n", r.worst_err, r.worst);
    weft_plan_free(&p);
    weft_graph_free(g);
}

/* Placement quality: annealing beats greedy beats random on a real plan, in
 * what it minimises — traffic, rate x distance (hops alone weigh a trickle
 * like a torrent). */
static void test_quality(void)
{
    weft_graph *g = train_graph(&zoo[1], WEFT_PREC_FP32);
    if (!g) return;
    weft_fabric f;
    CHECK_OK(weft_fabric_load(&f, "plasticine"));
    double wl[3];
    for (int m = 0; m < 3; m++) {
        weft_compile_opts o = { .place = (weft_place_method)m, .seed = 2 };
        weft_plan p;
        CHECK_OK(weft_rdu_compile(g, &f, &o, &p));
        wl[m] = p.traffic;
        weft_plan_free(&p);
    }
    CHECKF(wl[WEFT_PLACE_ANNEAL] <= wl[WEFT_PLACE_GREEDY] && wl[WEFT_PLACE_GREEDY] < wl[WEFT_PLACE_RANDOM],
           "traffic anneal %g greedy %g random %g", wl[0], wl[1], wl[2]);
    weft_graph_free(g);
}

/* The cost model by hand on the mlp: one section on plasticine, its
 * weights and state resident, so the only off-chip bytes are the batch's
 * images and labels; a GEMM group costs its FLOPs over 2 x lanes x stages; a
 * replica its share or its largest stream; the section its slowest unit. */
static void test_closed_form(void)
{
    weft_graph *g = train_graph(&zoo[0], WEFT_PREC_FP32);
    if (!g) return;
    weft_fabric f;
    CHECK_OK(weft_fabric_load(&f, "plasticine"));
    weft_compile_opts o = { .place = WEFT_PLACE_GREEDY, .seed = 1 };
    weft_plan p;
    CHECK_OK(weft_rdu_compile(g, &f, &o, &p));
    CHECK(p.nsections == 1);
    int64_t inputs = 0;
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].role == WEFT_ROLE_INPUT && g->values[v].alias_of < 0)
            inputs += weft_shape_numel(&g->values[v].shape) * (int64_t)weft_dtype_size(g->values[v].dtype);
    CHECKF(p.dram_bytes == inputs, "off-chip %lld, the inputs %lld", (long long)p.dram_bytes, (long long)inputs);
    int gemms = 0;
    for (int k = 0; k < p.ngroups; k++) {
        const weft_group *G = &p.groups[k];
        if (G->kind != WEFT_GROUP_GEMM) continue;
        gemms++;
        int64_t want = (G->flops + 2 * 16 * 6 - 1) / (2 * 16 * 6);
        CHECKF(G->cycles == want, "group %d: %lld cycles, want %lld", k, (long long)G->cycles, (long long)want);
    }
    CHECK(gemms >= 6);   /* 3 linear layers: forward, data and weight gradients */
    int64_t slowest = 0;
    for (int u = 0; u < p.nunits; u++) {
        const weft_unit *x = &p.units[u];
        if (x->kind != WEFT_UNIT_PCU) continue;
        CHECK(x->cycles == weft_group_cycles(&p.groups[x->group], p.groups[x->group].replicas));
        if (x->cycles > slowest) slowest = x->cycles;
    }
    double per_cycle = f.dram_gbps / f.clock_ghz;
    int64_t dram = (int64_t)((double)inputs / per_cycle) + 1;
    CHECK(p.sections[0].cycles == (slowest > dram ? slowest : dram));
    weft_plan_free(&p);
    weft_graph_free(g);
}

/* Too small a fabric: the error names the node and what is short. */
static void test_too_small(void)
{
    weft_graph *g = train_graph(&zoo[3], WEFT_PREC_FP32);
    if (!g) return;
    weft_fabric f;
    CHECK_OK(weft_fabric_load(&f, "plasticine"));
    weft_compile_opts o = { .place = WEFT_PLACE_GREEDY, .seed = 1, .max_pcus = 1 };
    weft_plan p;
    weft_status s = weft_rdu_compile(g, &f, &o, &p);
    CHECK(s == WEFT_ERR_ARG && strstr(weft_errmsg(), "node #") && strstr(weft_errmsg(), "PCUs in a chain") &&
          strstr(weft_errmsg(), "short"));
    weft_plan_free(&p);
    weft_fabric bf = f;
    bf.fp32 = false;
    bf.bf16 = true;
    s = weft_rdu_compile(g, &bf, &(weft_compile_opts){ .seed = 1 }, &p);
    CHECK(s == WEFT_ERR_ARG && strstr(weft_errmsg(), "computes in bf16 only"));
    weft_plan_free(&p);
    weft_graph_free(g);
}

int main(void)
{
    weft_log_set_level(WEFT_LOG_QUIET);   /* the compiler's progress lines */
    test_closed_form();
    test_too_small();
    test_zoo();
    test_sections();
    test_bf16();
    test_quality();
    return test_summary();
}
