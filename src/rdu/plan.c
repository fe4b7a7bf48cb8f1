/* plan.c — the plan as JSON (docs/PLAN.md: the contract with the simulator)
 * and as a summary for a person. */
#include "rdu/rdu_int.h"

#include <string.h>

static const char *group_kind_name(weft_group_kind k)
{
    return k == WEFT_GROUP_GEMM ? "gemm" : k == WEFT_GROUP_MOVE ? "move" : "map";
}

const char *weft_unit_role_name(weft_unit_role r)
{
    static const char *names[] = { "compute", "weight", "state", "activation", "gradient", "buffer", "dram" };
    return (unsigned)r < sizeof names / sizeof *names ? names[r] : "?";
}

static const char *unit_kind_name(weft_unit_kind k) { return k == WEFT_UNIT_PCU ? "pcu" : k == WEFT_UNIT_PMU ? "pmu" : "ag"; }

static const char *phase_name(weft_phase p) { return p == WEFT_PHASE_FWD ? "forward" : p == WEFT_PHASE_BWD ? "backward" : "update"; }

static void write_shape(FILE *f, const weft_shape *s)
{
    fputc('[', f);
    for (int d = 0; d < s->ndim; d++) fprintf(f, "%s%lld", d ? ", " : "", (long long)s->d[d]);
    fputc(']', f);
}

weft_status weft_plan_write_json(FILE *f, const weft_plan *p)
{
    const weft_graph *g = p->g;
    const weft_fabric *fb = &p->fabric;
    fprintf(f, "{\"format\": \"weft-plan\", \"version\": 1,\n\"model\": ");
    weft_json_string(f, p->model);
    fprintf(f, ", \"batch\": %d, \"precision\": \"%s\",\n\"fabric\": ", p->batch, weft_precision_name(p->precision));
    weft_fabric_write_json(f, fb);
    int n[3] = { 0, 0, 0 };
    for (int u = 0; u < p->nunits; u++) n[p->units[u].kind]++;
    fprintf(f, ",\n\"summary\": {\"sections\": %d, \"groups\": %d, \"pcu_units\": %d, \"pmu_units\": %d, \"ag_units\": %d, "
            "\"nets\": %d, \"onchip_bytes\": %lld, \"dram_bytes_per_step\": %lld, \"wirelength\": %lld, \"traffic\": %.6g, "
            "\"worst_link_use\": %.6f, \"cycles_per_step\": %lld, \"seconds\": {\"lower\": %.6f, \"place\": %.6f, "
            "\"route\": %.6f}},\n", p->nsections, p->ngroups, n[0], n[1], n[2], p->nnets, (long long)p->onchip_bytes,
            (long long)p->dram_bytes, (long long)p->wirelength, p->traffic, p->worst_use, (long long)weft_plan_cycles(p),
            p->seconds_lower, p->seconds_place, p->seconds_route);
    /* the values the units hold or the nets carry */
    fprintf(f, "\"values\": [");
    bool first = true;
    for (int v = 0; v < g->nvalues; v++) {
        if (g->values[v].alias_of >= 0) continue;
        fprintf(f, "%s\n {\"id\": %d, \"name\": ", first ? "" : ",", v);
        first = false;
        weft_json_string(f, g->values[v].name);
        fprintf(f, ", \"dtype\": \"%s\", \"shape\": ", weft_dtype_name(g->values[v].dtype));
        write_shape(f, &g->values[v].shape);
        fprintf(f, ", \"bytes\": %lld}", (long long)weft_rdu_value_bytes(g, v));
    }
    fprintf(f, "],\n\"groups\": [");
    for (int k = 0; k < p->ngroups; k++) {
        const weft_group *G = &p->groups[k];
        fprintf(f, "%s\n {\"id\": %d, \"kind\": \"%s\", \"section\": %d, \"chain\": %d, \"replicas\": %d, "
                "\"stage_ops\": %d, \"flops\": %lld, \"cycles\": %lld, \"io_whole\": %lld, \"io_rows\": %lld, "
                "\"replica_cycles\": %lld, \"tiled\": %s, \"nodes\": [", k ? "," : "", k, group_kind_name(G->kind),
                G->section, G->chain, G->replicas, G->stage_ops, (long long)G->flops, (long long)G->cycles,
                (long long)G->io_whole, (long long)G->io_rows, (long long)weft_group_cycles(G, G->replicas),
                G->tiled ? "true" : "false");
        for (int t = G->first; t < G->first + G->count; t++) {
            int i = p->group_nodes[t];
            const weft_node *nd = &g->nodes[i];
            unsigned bi = 0, po = 0;
            int64_t rows = 1;
            weft_node_tiling(g, i, &bi, &po, &rows);   /* rows: the extent, tiled or not */
            fprintf(f, "%s{\"node\": %d, \"op\": \"%s\", \"phase\": \"%s\", \"rows\": %lld, \"in\": [", t > G->first ? ", " : "",
                    i, weft_op_name(nd->op), phase_name(nd->phase), (long long)rows);
            for (int j = 0; j < nd->nin; j++) fprintf(f, "%s%d", j ? ", " : "", weft_rdu_root(g, nd->in[j]));
            fprintf(f, "], \"out\": [");
            for (int j = 0; j < nd->nout; j++) fprintf(f, "%s%d", j ? ", " : "", weft_rdu_root(g, nd->out[j]));
            fprintf(f, "], \"shape_only\": %u, \"batched_in\": %u, \"partial_out\": %u}",
                    weft_op_get(nd->op)->shape_only & ((1u << nd->nin) - 1), G->tiled ? bi : 0, G->tiled ? po : 0);
        }
        fprintf(f, "]}");
    }
    fprintf(f, "],\n\"sections\": [");
    for (int s = 0; s < p->nsections; s++) {
        const weft_section *S = &p->sections[s];
        fprintf(f, "%s\n {\"id\": %d, \"groups\": [%d, %d], \"units\": [%d, %d], \"nets\": [%d, %d], \"pcus\": %d, "
                "\"pmus\": %d, \"ags\": %d, \"cycles\": %lld, \"onchip_bytes\": %lld, \"dram_read\": %lld, "
                "\"dram_write\": %lld, \"bound_unit\": %d, \"rate_scale\": %.6g, \"place\": {\"cost\": %.3f, "
                "\"cost_start\": %.3f, \"moves\": %lld, \"seconds\": %.4f}, \"route\": {\"wirelength\": %lld, "
                "\"worst_use\": %.6f, \"overused\": %d, \"iterations\": %d, \"seconds\": %.4f}}",
                s ? "," : "", s, S->first_group, S->ngroups, S->first_unit, S->nunits, S->first_net, S->nnets, S->pcus,
                S->pmus, S->ags, (long long)S->cycles, (long long)S->onchip_bytes, (long long)S->dram_read,
                (long long)S->dram_write, S->bound_unit, S->rate_scale, S->place.cost, S->place.cost_start,
                (long long)S->place.moves, S->place.seconds, (long long)S->route.wirelength, S->route.worst_use,
                S->route.overused, S->route.iterations, S->route.seconds);
    }
    fprintf(f, "],\n\"units\": [");
    for (int u = 0; u < p->nunits; u++) {
        const weft_unit *x = &p->units[u];
        int site = weft_unit_site(fb, x->kind, x->slot);
        fprintf(f, "%s\n {\"id\": %d, \"kind\": \"%s\", \"role\": \"%s\", \"section\": %d, \"group\": %d, \"replica\": %d, "
                "\"link\": %d, \"value\": %d, \"bytes\": %lld, \"cycles\": %lld, \"slot\": %d, \"row\": %d, \"col\": %d}",
                u ? "," : "", u, unit_kind_name(x->kind), weft_unit_role_name(x->role), x->section, x->group, x->replica,
                x->link, x->value, (long long)x->bytes, (long long)x->cycles, x->slot, site / fb->cols, site % fb->cols);
    }
    fprintf(f, "],\n\"nets\": [");
    for (int e = 0; e < p->nnets; e++) {
        const weft_net *x = &p->nets[e];
        fprintf(f, "%s\n {\"id\": %d, \"src\": %d, \"dst\": %d, \"value\": %d, \"bytes\": %lld, \"rate\": %.6g, "
                "\"whole\": %s, \"writeback\": %s, \"links\": [", e ? "," : "", e, x->src, x->dst, x->value,
                (long long)x->bytes, x->rate, x->whole ? "true" : "false", x->writeback ? "true" : "false");
        for (int l = p->routes.first[e]; l < p->routes.first[e + 1]; l++)
            fprintf(f, "%s%d", l > p->routes.first[e] ? ", " : "", p->routes.links[l]);
        fprintf(f, "]}");
    }
    fprintf(f, "]}\n");
    return ferror(f) ? weft_fail(WEFT_ERR_IO, "plan: write error") : WEFT_OK;
}

int weft_plan_network_bound(const weft_plan *p)
{
    int n = 0;
    for (int s = 0; s < p->nsections; s++) n += p->sections[s].rate_scale < 1;
    return n;
}

int64_t weft_plan_cycles(const weft_plan *p)
{
    int64_t c = 0;
    for (int s = 0; s < p->nsections; s++) c += p->sections[s].cycles;
    return c;
}

static void mib(char *b, size_t n, int64_t bytes)
{
    if (bytes >= (int64_t)1 << 30) snprintf(b, n, "%.2f GiB", (double)bytes / (1 << 30));
    else if (bytes >= 1 << 20) snprintf(b, n, "%.2f MiB", (double)bytes / (1 << 20));
    else snprintf(b, n, "%.1f KiB", (double)bytes / 1024);
}

void weft_plan_print(FILE *f, const weft_plan *p)
{
    const weft_fabric *fb = &p->fabric;
    int n[3] = { 0, 0, 0 }, roles[8] = { 0 };
    for (int u = 0; u < p->nunits; u++) { n[p->units[u].kind]++; roles[p->units[u].role]++; }
    char on[32], dr[32];
    mib(on, sizeof on, p->onchip_bytes);
    mib(dr, sizeof dr, p->dram_bytes);
    int64_t cyc = weft_plan_cycles(p);
    double flops = 0;
    for (int k = 0; k < p->ngroups; k++) flops += (double)p->groups[k].flops;
    fprintf(f, "%s, batch %d, %s on %s (%dx%d, %d PCUs, %d PMUs): %d nodes in %d groups, %d section%s\n", p->model,
            p->batch, weft_precision_name(p->precision), fb->name, fb->rows, fb->cols, weft_fabric_count(fb, WEFT_SITE_PCU),
            weft_fabric_count(fb, WEFT_SITE_PMU), p->g->nnodes, p->ngroups, p->nsections, p->nsections > 1 ? "s" : "");
    fprintf(f, "  units used        %d PCU (compute), %d PMU (%d weight, %d state, %d activation, %d gradient, %d buffer), "
            "%d AG%s\n", n[0], n[1], roles[WEFT_ROLE_U_WEIGHT], roles[WEFT_ROLE_U_STATE], roles[WEFT_ROLE_U_ACT],
            roles[WEFT_ROLE_U_GRAD], roles[WEFT_ROLE_U_BUFFER], n[2],
            p->nsections > 1 ? " (summed over the sections: each reuses the fabric)" : "");
    fprintf(f, "  on chip           %s (the largest section's)\n", on);
    fprintf(f, "  off chip          %s per step\n", dr);
    fprintf(f, "  routed wirelength %lld hops (traffic %.1f vector-hops a cycle); worst link use %.2f of its capacity\n",
            (long long)p->wirelength, p->traffic, p->worst_use);
    fprintf(f, "  estimate          %lld cycles per step (%.3f ms at %.2f GHz), %.1f%% of peak (the simulator measures)\n",
            (long long)cyc, (double)cyc / (fb->clock_ghz * 1e6), fb->clock_ghz,
            cyc > 0 ? 100 * flops / ((double)cyc / (fb->clock_ghz * 1e9)) / weft_fabric_peak_flops(fb) : 0);
    fprintf(f, "  compile time      lower %.3f s, place %.3f s, route %.3f s\n", p->seconds_lower, p->seconds_place,
            p->seconds_route);
    fprintf(f, "  %-7s %6s %6s %6s %4s %12s %11s %11s %9s %9s %7s\n", "section", "groups", "PCUs", "PMUs", "AGs", "cycles",
            "on chip", "off chip", "wirelen", "worst", "bound");
    for (int s = 0; s < p->nsections; s++) {
        const weft_section *S = &p->sections[s];
        char a[32], b[32], bound[48] = "-";
        mib(a, sizeof a, S->onchip_bytes);
        mib(b, sizeof b, S->dram_read + S->dram_write);
        if (S->rate_scale < 1) snprintf(bound, sizeof bound, "network");
        else if (S->bound_unit >= 0 && p->units[S->bound_unit].kind == WEFT_UNIT_AG) snprintf(bound, sizeof bound, "off-chip");
        else if (S->bound_unit >= 0) {
            const weft_unit *u = &p->units[S->bound_unit];
            snprintf(bound, sizeof bound, "%s", weft_op_name(p->g->nodes[p->group_nodes[p->groups[u->group].first]].op));
        }
        fprintf(f, "  %-7d %6d %6d %6d %4d %12lld %11s %11s %9lld %9.2f %7s\n", s + 1, S->ngroups, S->pcus, S->pmus, S->ags,
                (long long)S->cycles, a, b, (long long)S->route.wirelength, S->route.worst_use, bound);
    }
}
