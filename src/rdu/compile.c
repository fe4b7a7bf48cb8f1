/* compile.c — the compiler's driver: lower, then place and route each
 * section, timing every phase. */
#include "rdu/rdu_int.h"

#include <stdlib.h>
#include <string.h>

void weft_plan_free(weft_plan *p)
{
    free(p->groups);
    free(p->group_nodes);
    free(p->node_group);
    free(p->units);
    free(p->nets);
    free(p->sections);
    free(p->link_load);
    weft_routes_free(&p->routes);
    memset(p, 0, sizeof *p);
}

/* One section's netlist, its units and nets renumbered from 0. */
typedef struct {
    weft_unit_kind *kind;
    int *src, *dst, *place;
    double *rate;
} section_nl;

static void snl_free(section_nl *n) { free(n->kind); free(n->src); free(n->dst); free(n->place); free(n->rate); }

static weft_status place_route(weft_plan *P, const weft_compile_opts *o, int s, int *links_first, int **links,
                               int *nlinks, int *cap_links)
{
    weft_section *S = &P->sections[s];
    const weft_fabric *f = &P->fabric;
    section_nl n = { 0 };
    n.kind = malloc((size_t)S->nunits * sizeof *n.kind + 1);
    n.place = malloc((size_t)S->nunits * sizeof *n.place + 1);
    n.src = malloc((size_t)S->nnets * sizeof *n.src + 1);
    n.dst = malloc((size_t)S->nnets * sizeof *n.dst + 1);
    n.rate = malloc((size_t)S->nnets * sizeof *n.rate + 1);
    if (!n.kind || !n.place || !n.src || !n.dst || !n.rate) { snl_free(&n); return weft_fail(WEFT_ERR_NOMEM, "compile: out of memory"); }
    for (int u = 0; u < S->nunits; u++) n.kind[u] = P->units[S->first_unit + u].kind;
    for (int e = 0; e < S->nnets; e++) {
        const weft_net *x = &P->nets[S->first_net + e];
        n.src[e] = x->src - S->first_unit;
        n.dst[e] = x->dst - S->first_unit;
        n.rate[e] = x->rate;
    }
    weft_netlist nl = { S->nunits, n.kind, S->nnets, n.src, n.dst, n.rate };
    weft_status st = weft_place(f, &nl, o->place, o->seed + (uint64_t)s, n.place, &S->place);
    if (st) { snl_free(&n); return weft_fail_wrap(st, "compile: section %d", s + 1); }
    P->seconds_place += S->place.seconds;
    for (int u = 0; u < S->nunits; u++) P->units[S->first_unit + u].slot = n.place[u];
    weft_routes r = { 0 };
    st = weft_route(f, &nl, n.place, o->route_iters, &r, &S->route);
    if (st) { snl_free(&n); return weft_fail_wrap(st, "compile: section %d", s + 1); }
    P->seconds_route += S->route.seconds;
    /* A network that cannot carry the rates carries them slower: the section
     * runs at the rate its busiest link allows. */
    if (S->route.worst_use > 1 + 1e-9) {
        S->rate_scale = 1 / S->route.worst_use;
        S->cycles = (int64_t)((double)S->cycles / S->rate_scale + 0.5);
        for (int e = 0; e < S->nnets; e++) P->nets[S->first_net + e].rate *= S->rate_scale;
        for (int l = 0; l < weft_fabric_links(f); l++) r.load[l] *= S->rate_scale;
    }
    memcpy(P->link_load + (size_t)s * (size_t)weft_fabric_links(f), r.load, (size_t)weft_fabric_links(f) * sizeof(double));
    for (int e = 0; e < S->nnets; e++) S->traffic += P->nets[S->first_net + e].rate * (r.first[e + 1] - r.first[e]);
    int add = r.first[S->nnets];
    if (*nlinks + add > *cap_links) {
        int cap = (*nlinks + add) * 2 + 1024;
        int *nl2 = realloc(*links, (size_t)cap * sizeof *nl2);
        if (!nl2) { weft_routes_free(&r); snl_free(&n); return weft_fail(WEFT_ERR_NOMEM, "compile: out of memory"); }
        *links = nl2;
        *cap_links = cap;
    }
    for (int e = 0; e < S->nnets; e++) links_first[S->first_net + e] = *nlinks + r.first[e];
    memcpy(*links + *nlinks, r.links, (size_t)add * sizeof(int));
    *nlinks += add;
    weft_routes_free(&r);
    snl_free(&n);
    return WEFT_OK;
}

weft_status weft_rdu_compile(const weft_graph *g, const weft_fabric *f, const weft_compile_opts *o, weft_plan *p)
{
    memset(p, 0, sizeof *p);
    p->fabric = *f;
    p->g = g;
    p->precision = g->precision;
    lw L = { .g = g, .f = &p->fabric, .o = o, .p = p };
    L.max_pcus = weft_fabric_count(f, WEFT_SITE_PCU);
    L.max_pmus = weft_fabric_count(f, WEFT_SITE_PMU);
    if (o->max_pcus > 0 && o->max_pcus < L.max_pcus) L.max_pcus = o->max_pcus;
    if (o->max_pmus > 0 && o->max_pmus < L.max_pmus) L.max_pmus = o->max_pmus;
    /* every number the step computes or keeps must be one the fabric has */
    for (int v = 0; v < g->nvalues; v++) {
        weft_dtype t = g->values[v].dtype;
        if ((t == WEFT_F32 && !f->fp32) || (t == WEFT_BF16 && !f->bf16))
            return weft_fail(WEFT_ERR_ARG, "compile: %s is %s; fabric %s computes in %s only", g->values[v].name,
                             weft_dtype_name(t), f->name, f->fp32 ? "fp32" : "bf16");
    }
    double t0 = weft_now();
    weft_status st = weft_rdu_groups(&L);
    if (!st) st = weft_rdu_values(&L);
    if (!st) st = weft_rdu_sections(&L);
    if (!st) {
        weft_rdu_replicas(&L);
        for (int s = 0; s < p->nsections && !st; s++) st = weft_rdu_layout(&L, s);
    }
    free(L.ln);
    free(L.vi);
    p->seconds_lower = weft_now() - t0;
    if (st) return st;
    weft_log(WEFT_LOG_INFO, "compile: lowered %d nodes to %d groups in %d section%s, %d units, %d nets (%.2f s)",
             g->nnodes, p->ngroups, p->nsections, p->nsections > 1 ? "s" : "", p->nunits, p->nnets, p->seconds_lower);
    int nl = weft_fabric_links(f);
    p->link_load = calloc((size_t)p->nsections * (size_t)nl + 1, sizeof *p->link_load);
    p->routes.first = malloc(((size_t)p->nnets + 1) * sizeof *p->routes.first);
    if (!p->link_load || !p->routes.first) return weft_fail(WEFT_ERR_NOMEM, "compile: out of memory");
    int nlinks = 0, cap = 0;
    for (int s = 0; s < p->nsections && !st; s++) {
        st = place_route(p, o, s, p->routes.first, &p->routes.links, &nlinks, &cap);
        if (!st)
            weft_log(WEFT_LOG_INFO, "compile: section %d of %d placed (%.2f s) and routed (%.2f s, %d rounds, worst link %.2f)",
                     s + 1, p->nsections, p->sections[s].place.seconds, p->sections[s].route.seconds,
                     p->sections[s].route.iterations, p->sections[s].route.worst_use);
    }
    p->routes.first[p->nnets] = nlinks;
    if (st) return st;
    for (int s = 0; s < p->nsections; s++) {
        const weft_section *S = &p->sections[s];
        p->dram_bytes += S->dram_read + S->dram_write;
        if (S->onchip_bytes > p->onchip_bytes) p->onchip_bytes = S->onchip_bytes;
        p->wirelength += S->route.wirelength;
        p->traffic += S->traffic;
        if (S->route.worst_use > p->worst_use) p->worst_use = S->route.worst_use;
    }
    return WEFT_OK;
}
