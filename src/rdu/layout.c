/* layout.c — one section's memory, units and nets.
 *
 * Memory. Every value a section touches gets a PMU at least. A value that
 * only streams from its maker to readers of the same phase in the same
 * section passes through that PMU as a double buffer. A value that must exist
 * whole — a weight, optimizer state, an activation the backward reads, a
 * gradient the update reads, anything another section reads — is held: in
 * PMUs when they have room (smallest first, so that many values stay on chip),
 * else off-chip, staged through its one PMU and an address generator. A
 * weight and its state stay on chip across steps only when the whole step is
 * one section; otherwise every section loads what it uses and writes back
 * what it updates.
 *
 * Nets. A replica of a group reads each input from the value's PMUs and
 * writes each output to them: pairs i = 0 .. max(r, m) - 1 join replica
 * i mod r and PMU i mod m, so every replica and every PMU has a stream, a
 * batched value split over the pairs. A value every replica reads whole (a
 * weight) passes along the replicas, each forwarding it to the next, from
 * the PMUs into the first; a sum every replica adds to (a weight's gradient
 * from row tiles) passes along them the other way, from the last into the
 * PMUs. A chain passes its stream link to link. */
#include "rdu/rdu_int.h"

#include <stdlib.h>
#include <string.h>


static weft_status grow(lw *L, int units, int64_t nets)
{
    if ((int64_t)L->p->nunits + units > INT32_MAX / 2 || (int64_t)L->p->nnets + nets > INT32_MAX / 2)
        return weft_fail(WEFT_ERR_ARG, "compile: more than %d units or nets", INT32_MAX / 2);
    weft_plan *P = L->p;
    if (P->nunits + units > L->cap_units) {
        int cap = (P->nunits + units) * 2 + 64;
        weft_unit *u = realloc(P->units, (size_t)cap * sizeof *u);
        if (!u) return weft_fail(WEFT_ERR_NOMEM, "compile: out of memory");
        P->units = u;
        L->cap_units = cap;
    }
    if (P->nnets + nets > L->cap_nets) {
        int cap = (int)(P->nnets + nets) * 2 + 64;
        weft_net *n = realloc(P->nets, (size_t)cap * sizeof *n);
        if (!n) return weft_fail(WEFT_ERR_NOMEM, "compile: out of memory");
        P->nets = n;
        L->cap_nets = cap;
    }
    return WEFT_OK;
}

static int add_unit(lw *L, weft_unit u)
{
    L->p->units[L->p->nunits] = u;
    return L->p->nunits++;
}

/* Room for the nets was reserved from a bound; a net past it is a bug in the
 * bound, reported (lw.net_overflow), never written out of bounds. */
static void add_net(lw *L, int src, int dst, int v, int64_t bytes)
{
    if (bytes <= 0 || src == dst) return;
    if (L->p->nnets >= L->cap_nets) { L->net_overflow = true; return; }
    L->p->nets[L->p->nnets++] = (weft_net){ .src = src, .dst = dst, .value = v, .bytes = bytes };
}

/* Marks the nets added since `from`: their reader waits for all of them. */
static void mark_whole(lw *L, int from)
{
    for (int e = from; e < L->p->nnets; e++) L->p->nets[e].whole = true;
}

static weft_unit_role role_of(const weft_graph *g, int v)
{
    switch (g->values[v].role) {
    case WEFT_ROLE_PARAM: return WEFT_ROLE_U_WEIGHT;
    case WEFT_ROLE_STATE: return WEFT_ROLE_U_STATE;
    case WEFT_ROLE_GRAD: return WEFT_ROLE_U_GRAD;
    default: return WEFT_ROLE_U_ACT;
    }
}

static int by_pmus(const void *a, const void *b)
{
    const lw_sval *x = *(const lw_sval *const *)a, *y = *(const lw_sval *const *)b;
    if (x->pmus != y->pmus) return x->pmus < y->pmus ? -1 : 1;
    return (x->v > y->v) - (x->v < y->v);
}

/* Joins a group's r replicas to a value's m PMUs (see the top). */
static void pair_nets(lw *L, const lw_sval *sv, int first_pcu, int r, int chain, bool to_value, bool whole,
                      int64_t bytes)
{
    int m = sv->pmus, port = to_value ? chain - 1 : 0;
    if (!whole || r == 1) {
        int pairs = r > m ? r : m;
        for (int i = 0; i < pairs; i++) {
            int pcu = first_pcu + (i % r) * chain + port, pmu = sv->first_unit + i % m;
            if (to_value) add_net(L, pcu, pmu, sv->v, lw_cdiv(bytes, pairs));
            else add_net(L, pmu, pcu, sv->v, lw_cdiv(bytes, pairs));
        }
        return;
    }
    /* Read whole by every replica (a weight) or summed by all (its gradient):
     * the value passes along the replicas, each forwarding what it read or
     * adding its part to the sum it passes on, and only the chain's end
     * meets the PMUs. */
    int end = to_value ? first_pcu + (r - 1) * chain + port : first_pcu + port;
    for (int i = 0; i < m; i++) {
        if (to_value) add_net(L, end, sv->first_unit + i, sv->v, lw_cdiv(bytes, m));
        else add_net(L, sv->first_unit + i, end, sv->v, lw_cdiv(bytes, m));
    }
    for (int j = 0; j + 1 < r; j++)
        add_net(L, first_pcu + j * chain + port, first_pcu + (j + 1) * chain + port, sv->v, bytes);
}

weft_status weft_rdu_layout(lw *L, int s)
{
    const weft_graph *g = L->g;
    const weft_fabric *f = L->f;
    weft_plan *P = L->p;
    weft_section *S = &P->sections[s];
    int *idx = malloc((size_t)g->nvalues * sizeof *idx);
    lw_sval *sv = calloc((size_t)g->nvalues, sizeof *sv);
    lw_sval **order = malloc((size_t)g->nvalues * sizeof *order);
    weft_status st = idx && sv && order ? WEFT_OK : weft_fail(WEFT_ERR_NOMEM, "compile: out of memory");
    int nv = 0;
    if (st) goto out;
    for (int v = 0; v < g->nvalues; v++) idx[v] = -1;

    /* the values it touches */
    for (int k = S->first_group; k < S->first_group + S->ngroups; k++) {
        const weft_group *G = &P->groups[k];
        for (int t = G->first; t < G->first + G->count; t++) {
            const weft_node *n = &g->nodes[P->group_nodes[t]];
            int ops[WEFT_MAX_IN + WEFT_MAX_OUT];
            bool ins[WEFT_MAX_IN + WEFT_MAX_OUT];
            int no = weft_rdu_operands(g, n, ops, ins);
            for (int j = 0; j < no; j++) {
                bool in = ins[j];
                int v = ops[j];
                if (idx[v] < 0) {
                    const lw_value *vi = &L->vi[v];
                    sv[nv] = (lw_sval){ .v = v, .ag = -1, .bytes = weft_rdu_value_bytes(g, v), .last_group = -1,
                                        .later = vi->last_reader >= 0 && P->groups[vi->last_reader].section > s };
                    idx[v] = nv++;
                }
                lw_sval *x = &sv[idx[v]];
                if (!in) x->made = true;
                else if (x->last_group != k) { x->last_group = k; x->readers++; }   /* the groups that read it */
            }
            if (n->phase == WEFT_PHASE_UPDATE)
                for (int j = 0; j < n->nin; j++)
                    if (L->vi[n->in[j]].updated == k) sv[idx[weft_rdu_root(g, n->in[j])]].updated = true;
        }
    }
    /* held or streamed; then which held ones fit on chip */
    int budget = L->max_pmus - nv, nheld = 0;
    for (int i = 0; i < nv; i++) {
        lw_sval *x = &sv[i];
        const lw_value *vi = &L->vi[x->v];
        weft_role role = g->values[x->v].role;
        bool streams = x->made && !x->later && !vi->read_whole && vi->phases_read == vi->phase_made &&
                       role != WEFT_ROLE_PARAM && role != WEFT_ROLE_STATE && !x->updated;
        x->held = !streams;
        x->pmus = 1;
        if (x->held) { x->pmus = (int)lw_cdiv(x->bytes, f->pmu_bytes); if (x->pmus < 1) x->pmus = 1; order[nheld++] = x; }
    }
    qsort(order, (size_t)nheld, sizeof *order, by_pmus);
    for (int i = 0; i < nheld; i++) {
        lw_sval *x = order[i];
        if (x->pmus - 1 <= budget) { x->resident = true; budget -= x->pmus - 1; }
        else x->pmus = 1;
    }
    /* off-chip traffic per step */
    for (int i = 0; i < nv; i++) {
        lw_sval *x = &sv[i];
        weft_role role = g->values[x->v].role;
        bool persistent = role == WEFT_ROLE_PARAM || role == WEFT_ROLE_STATE;
        bool from_outside = !x->made && !(persistent && P->nsections == 1 && x->resident);
        bool goes_out = (x->made && x->later) || (x->updated && !(P->nsections == 1 && x->resident));
        if (!x->held) continue;
        if (x->resident) {
            if (from_outside) x->dram_read = x->bytes;
        } else {
            /* staged: every reader group streams it in again */
            x->dram_read = x->bytes * x->readers;
            if (x->made) goes_out = true;
        }
        if (goes_out) x->dram_write = x->bytes;
    }

    /* units: PCUs by group and replica, PMUs by value, AGs for the traffic */
    int npcu = 0, npmu = 0, ndram = 0;
    for (int k = S->first_group; k < S->first_group + S->ngroups; k++) npcu += P->groups[k].replicas * P->groups[k].chain;
    for (int i = 0; i < nv; i++) { npmu += sv[i].pmus; ndram += sv[i].dram_read + sv[i].dram_write > 0; }
    int nag = ndram < f->ags ? ndram : f->ags;
    if ((st = grow(L, npcu + npmu + nag, 0))) goto out;
    S->first_unit = P->nunits;
    int *gfirst = malloc((size_t)(S->ngroups + 1) * sizeof *gfirst);
    if (!gfirst) { st = weft_fail(WEFT_ERR_NOMEM, "compile: out of memory"); goto out; }
    for (int k = S->first_group; k < S->first_group + S->ngroups; k++) {
        const weft_group *G = &P->groups[k];
        gfirst[k - S->first_group] = P->nunits;
        for (int r = 0; r < G->replicas; r++)
            for (int c = 0; c < G->chain; c++)
                add_unit(L, (weft_unit){ .kind = WEFT_UNIT_PCU, .role = WEFT_ROLE_U_COMPUTE, .section = s, .group = k,
                                         .replica = r, .link = c, .value = -1, .cycles = weft_group_cycles(G, G->replicas),
                                         .slot = -1 });
    }
    for (int i = 0; i < nv; i++) {
        lw_sval *x = &sv[i];
        x->first_unit = P->nunits;
        int64_t left = x->bytes;
        for (int m = 0; m < x->pmus; m++) {
            int64_t b = x->held && x->resident ? (left < f->pmu_bytes ? left : f->pmu_bytes) : (x->bytes < f->pmu_bytes ? x->bytes : f->pmu_bytes);
            left -= b;
            add_unit(L, (weft_unit){ .kind = WEFT_UNIT_PMU, .role = x->held && x->resident ? role_of(g, x->v) : WEFT_ROLE_U_BUFFER,
                                     .section = s, .group = -1, .replica = -1, .link = -1, .value = x->v, .bytes = b,
                                     .slot = -1 });
            S->onchip_bytes += b;
        }
    }
    int first_ag = P->nunits;
    int64_t *ag_bytes = calloc((size_t)nag + 1, sizeof *ag_bytes);
    if (!ag_bytes) { free(gfirst); st = weft_fail(WEFT_ERR_NOMEM, "compile: out of memory"); goto out; }
    for (int a = 0; a < nag; a++)
        add_unit(L, (weft_unit){ .kind = WEFT_UNIT_AG, .role = WEFT_ROLE_U_DRAM, .section = s, .group = -1,
                                 .replica = -1, .link = -1, .value = -1, .slot = -1 });
    S->pcus = npcu; S->pmus = npmu; S->ags = nag;
    S->nunits = P->nunits - S->first_unit;

    /* nets: count an upper bound, then add */
    int64_t bound = 0;
    for (int k = S->first_group; k < S->first_group + S->ngroups; k++) {
        const weft_group *G = &P->groups[k];
        for (int t = G->first; t < G->first + G->count; t++) {
            const weft_node *n = &g->nodes[P->group_nodes[t]];
            int ops[WEFT_MAX_IN + WEFT_MAX_OUT];
            bool ins[WEFT_MAX_IN + WEFT_MAX_OUT];
            int no = weft_rdu_operands(g, n, ops, ins);
            for (int j = 0; j < no; j++) {
                /* pairs: max(r, m); a value passed along the replicas: m + r - 1;
                 * an update also writes its weight and states back */
                int m = sv[idx[ops[j]]].pmus;
                bound += (n->phase == WEFT_PHASE_UPDATE ? 2 : 1) * ((int64_t)G->replicas + m);
            }
        }
        bound += (int64_t)G->replicas * G->chain;
    }
    for (int i = 0; i < nv; i++) bound += 2 * (sv[i].pmus < 8 ? sv[i].pmus : 8);
    if (bound > 50000000) { st = weft_fail(WEFT_ERR_ARG, "compile: section %d would need %lld nets", s, (long long)bound); }
    if (!st) st = grow(L, 0, (int)bound);
    if (!st) {
        S->first_net = P->nnets;
        for (int k = S->first_group; k < S->first_group + S->ngroups; k++) {
            const weft_group *G = &P->groups[k];
            int fp = gfirst[k - S->first_group];
            for (int t = G->first; t < G->first + G->count; t++) {
                int ni = P->group_nodes[t];
                const weft_node *n = &g->nodes[ni];
                const lw_node *x = &L->ln[ni];
                for (int j = 0; j < n->nin; j++) {
                    if (weft_op_get(n->op)->shape_only & (1u << j)) continue;
                    lw_sval *y = &sv[idx[weft_rdu_root(g, n->in[j])]];
                    /* made inside the chain: it never comes back from a PMU (when it
                     * is kept, the chain only writes it) */
                    if (L->vi[y->v].producer == k) continue;
                    bool batched = x->tiled && (x->batched_in & (1u << j));
                    int from = P->nnets;
                    pair_nets(L, y, fp, G->replicas, G->chain, false, !batched, y->bytes);
                    /* an untiled node reads all of its input before it starts; a
                     * sum over rows exists only once its last tile is in */
                    if (!x->tiled || (L->vi[y->v].producer >= 0 && L->vi[y->v].producer != k && L->vi[y->v].sum))
                        mark_whole(L, from);
                }
                for (int j = 0; j < n->nout; j++) {
                    lw_sval *y = &sv[idx[weft_rdu_root(g, n->out[j])]];
                    const lw_value *vi = &L->vi[y->v];
                    if (!y->held && vi->first_reader == k && vi->last_reader == k) continue;
                    bool partial = x->tiled && (x->partial_out & (1u << j));
                    pair_nets(L, y, fp, G->replicas, G->chain, true, partial, y->bytes);
                }
                if (n->phase == WEFT_PHASE_UPDATE)
                    for (int j = 0; j < n->nin; j++) {
                        if (L->vi[n->in[j]].updated != k) continue;
                        lw_sval *y = &sv[idx[weft_rdu_root(g, n->in[j])]];
                        int from = P->nnets;
                        pair_nets(L, y, fp, G->replicas, G->chain, true, false, y->bytes);
                        /* the new weight (state) goes back where the old one was read */
                        for (int e = from; e < P->nnets; e++) P->nets[e].writeback = true;
                    }
            }
            /* along each chain */
            int64_t big = 0;
            for (int t = G->first; t < G->first + G->count; t++) {
                const weft_node *n = &g->nodes[P->group_nodes[t]];
                /* the stream a chain passes on: its largest operand (an update
                 * has no outputs: it writes in place what it reads) */
                int ops[WEFT_MAX_IN + WEFT_MAX_OUT];
                bool ins[WEFT_MAX_IN + WEFT_MAX_OUT];
                int no = weft_rdu_operands(g, n, ops, ins);
                for (int j = 0; j < no; j++) {
                    int64_t b = weft_rdu_value_bytes(g, ops[j]);
                    if (b > big) big = b;
                }
            }
            for (int r = 0; r < G->replicas; r++)
                for (int c = 0; c + 1 < G->chain; c++)
                    add_net(L, fp + r * G->chain + c, fp + r * G->chain + c + 1, -1, lw_cdiv(big, G->replicas));
        }
        /* off-chip: each value's traffic through the least loaded AG, over up to 8 of its PMUs */
        for (int i = 0; i < nv; i++) {
            lw_sval *x = &sv[i];
            if (x->dram_read + x->dram_write == 0) continue;
            int a = 0;
            for (int b = 1; b < nag; b++) if (ag_bytes[b] < ag_bytes[a]) a = b;
            ag_bytes[a] += x->dram_read + x->dram_write;
            x->ag = first_ag + a;
            int spread = x->pmus < 8 ? x->pmus : 8;
            for (int m = 0; m < spread; m++) {
                add_net(L, x->ag, x->first_unit + m, x->v, lw_cdiv(x->dram_read, spread));
                add_net(L, x->first_unit + m, x->ag, x->v, lw_cdiv(x->dram_write, spread));
            }
            S->dram_read += x->dram_read;
            S->dram_write += x->dram_write;
        }
        S->nnets = P->nnets - S->first_net;
        if (L->net_overflow) st = weft_fail(WEFT_ERR_INTERNAL, "compile: section %d has more nets than its bound", s + 1);
        /* the section's cycles: its slowest replica, or the off-chip bandwidth */
        int64_t cyc = 1;
        S->bound_unit = -1;
        for (int u = S->first_unit; u < S->first_unit + S->nunits; u++)
            if (P->units[u].kind == WEFT_UNIT_PCU && P->units[u].cycles > cyc) { cyc = P->units[u].cycles; S->bound_unit = u; }
        double bytes_per_cycle = f->dram_gbps / f->clock_ghz;
        int64_t dram_cyc = (int64_t)((double)(S->dram_read + S->dram_write) / bytes_per_cycle) + 1;
        if (dram_cyc > cyc) { cyc = dram_cyc; S->bound_unit = first_ag; }
        S->cycles = cyc;
        double vec = (double)f->pcu_lanes * f->word_bytes;
        for (int e = S->first_net; e < P->nnets; e++) P->nets[e].rate = (double)P->nets[e].bytes / vec / (double)cyc;
    }
    free(gfirst);
    free(ag_bytes);
out:
    free(idx);
    free(sv);
    free(order);
    return st;
}
