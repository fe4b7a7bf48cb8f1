/* lower.c — lays a training graph out on a fabric: compute groups, sections,
 * replicas, memory, and the netlist of each section (rdu.h says what each
 * is; docs/COMPILER.md says why).
 *
 * The model of a unit. A PCU takes one vector of `lanes` elements a cycle
 * through `stages` pipeline stages. Elementwise work costs one stage per
 * operation per element, so a node of k operations per element streams its
 * elements at lanes per cycle through ceil(k / stages) PCUs in a chain (and
 * twice for row reductions that read a row twice: softmax, layer norm). A
 * GEMM uses every lane and stage as a multiply-add: 2 x lanes x stages FLOPs
 * a cycle. */
#include "rdu/rdu_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- per-op costs: one row per op -------------------------------------------- */
typedef lw_cost op_cost;

static op_cost cost_of(const weft_graph *g, const weft_node *n)
{
    switch (n->op) {
    case WEFT_OP_LINEAR: case WEFT_OP_LINEAR_BWD_DATA: case WEFT_OP_LINEAR_BWD_WEIGHT:
    case WEFT_OP_CONV2D: case WEFT_OP_CONV2D_BWD_DATA: case WEFT_OP_CONV2D_BWD_WEIGHT:
    case WEFT_OP_ATTENTION: case WEFT_OP_ATTENTION_BWD: case WEFT_OP_LSTM: case WEFT_OP_LSTM_BWD:
    case WEFT_OP_DOT_INTERACT: case WEFT_OP_DOT_INTERACT_BWD: case WEFT_OP_MATMUL:
        return (op_cost){ WEFT_GROUP_GEMM, 0, 1 };
    case WEFT_OP_TRANSPOSE: case WEFT_OP_CONCAT: case WEFT_OP_SPLIT: case WEFT_OP_SPLIT_BWD:
    case WEFT_OP_EMBEDDING: case WEFT_OP_RESHAPE:
        return (op_cost){ WEFT_GROUP_MOVE, 1, 1 };
    case WEFT_OP_EMBEDDING_BWD: case WEFT_OP_EMBBAG: case WEFT_OP_EMBBAG_BWD:
        return (op_cost){ WEFT_GROUP_MOVE, 2, 1 };
    case WEFT_OP_ADD: case WEFT_OP_RELU: case WEFT_OP_CAST: case WEFT_OP_AVGPOOL: case WEFT_OP_AVGPOOL_BWD:
    case WEFT_OP_MUL: case WEFT_OP_WHERE: case WEFT_OP_SUM_LEAD: case WEFT_OP_SUM_LEAD_BWD:
        return (op_cost){ WEFT_GROUP_MAP, 1, 1 };
    case WEFT_OP_SCALE: case WEFT_OP_DOT: case WEFT_OP_MAXPOOL_BWD:
        return (op_cost){ WEFT_GROUP_MAP, 2, 1 };
    case WEFT_OP_DROPOUT: case WEFT_OP_DROPOUT_BWD:
        return (op_cost){ WEFT_GROUP_MAP, 3, 1 };
    case WEFT_OP_SIGMOID: case WEFT_OP_TANH: case WEFT_OP_BCE_BWD:
        return (op_cost){ WEFT_GROUP_MAP, 4, 1 };
    case WEFT_OP_MAXPOOL:
        return (op_cost){ WEFT_GROUP_MAP, n->a.k > 0 ? n->a.k * n->a.k : 4, 1 };
    case WEFT_OP_ACT_BWD:
        return (op_cost){ WEFT_GROUP_MAP, n->a.act == 2 ? 10 : n->a.act >= 3 ? 4 : 2, 1 };
    case WEFT_OP_GELU: case WEFT_OP_BCE: case WEFT_OP_ERF:
        return (op_cost){ WEFT_GROUP_MAP, 8, 1 };
    case WEFT_OP_SOFTMAX: case WEFT_OP_XENT_BWD:
        return (op_cost){ WEFT_GROUP_MAP, 5, 2 };
    case WEFT_OP_SOFTMAX_BWD:
        return (op_cost){ WEFT_GROUP_MAP, 4, 2 };
    case WEFT_OP_XENT:
        return (op_cost){ WEFT_GROUP_MAP, 6, 2 };
    case WEFT_OP_LAYERNORM: case WEFT_OP_BATCHNORM:
        return (op_cost){ WEFT_GROUP_MAP, 8, 2 };
    case WEFT_OP_LAYERNORM_BWD: case WEFT_OP_BATCHNORM_BWD:
        return (op_cost){ WEFT_GROUP_MAP, 12, 2 };
    case WEFT_OP_SGD:
        return (op_cost){ WEFT_GROUP_MAP, 4 + (n->a.slot_comp >= 0) * 4 + (g->values[n->in[0]].dtype == WEFT_BF16), 1 };
    case WEFT_OP_ADAMW:
        return (op_cost){ WEFT_GROUP_MAP, 14 + (n->a.slot_comp >= 0) * 4 + (g->values[n->in[0]].dtype == WEFT_BF16), 1 };
    default:
        return (op_cost){ WEFT_GROUP_MAP, 4, 1 };
    }
}

int weft_rdu_root(const weft_graph *g, int v)
{
    while (g->values[v].alias_of >= 0) v = g->values[v].alias_of;
    return v;
}

int weft_rdu_operands(const weft_graph *g, const weft_node *n, int *v, bool *is_in)
{
    int c = 0;
    for (int k = 0; k < n->nin; k++) {
        if (weft_op_get(n->op)->shape_only & (1u << k)) continue;
        is_in[c] = true;
        v[c++] = weft_rdu_root(g, n->in[k]);
    }
    for (int j = 0; j < n->nout; j++) {
        is_in[c] = false;
        v[c++] = weft_rdu_root(g, n->out[j]);
    }
    return c;
}

int64_t weft_rdu_value_bytes(const weft_graph *g, int v)
{
    return weft_shape_numel(&g->values[v].shape) * (int64_t)weft_dtype_size(g->values[v].dtype);
}

static int64_t node_elems(const weft_graph *g, const weft_node *n)
{
    int64_t big = 0;
    for (int i = 0; i < n->nin; i++) {
        int64_t e = weft_shape_numel(&g->values[n->in[i]].shape);
        if (e > big) big = e;
    }
    for (int j = 0; j < n->nout; j++) {
        int64_t e = weft_shape_numel(&g->values[n->out[j]].shape);
        if (e > big) big = e;
    }
    return big;
}


/* ---- groups ---------------------------------------------------------------------- */

/* Can node i join group G (its last node `last`)? Elementwise work on the
 * same rows, reading what the group just made, fits a short chain. */
static bool fuses(const weft_graph *g, const lw_node *ln, const weft_group *G, int last, int i, const weft_fabric *f)
{
    const weft_node *n = &g->nodes[i], *p = &g->nodes[last];
    if (G->kind != WEFT_GROUP_MAP || ln[i].cost.kind != WEFT_GROUP_MAP) return false;
    if (n->phase != p->phase || ln[i].tiled != ln[last].tiled || ln[i].rows != ln[last].rows) return false;
    if (node_elems(g, n) != node_elems(g, p)) return false;
    if (G->stage_ops + ln[i].cost.ops > 2 * f->pcu_stages) return false;
    for (int k = 0; k < n->nin; k++)
        for (int j = 0; j < p->nout; j++)
            if (weft_rdu_root(g, n->in[k]) == weft_rdu_root(g, p->out[j])) return true;
    return false;
}

static int vec_inputs(const weft_node *n)
{
    int c = 0;
    for (int k = 0; k < n->nin; k++) if (!(weft_op_get(n->op)->shape_only & (1u << k))) c++;
    return c;
}

weft_status weft_rdu_groups(lw *L)
{
    const weft_graph *g = L->g;
    const weft_fabric *f = L->f;
    weft_plan *P = L->p;
    P->node_group = malloc((size_t)g->nnodes * sizeof *P->node_group);
    P->group_nodes = malloc((size_t)g->nnodes * sizeof *P->group_nodes);
    P->groups = calloc((size_t)g->nnodes + 1, sizeof *P->groups);
    L->ln = calloc((size_t)g->nnodes, sizeof *L->ln);
    if (!P->node_group || !P->group_nodes || !P->groups || !L->ln) return weft_fail(WEFT_ERR_NOMEM, "compile: out of memory");
    int ng = 0, nn = 0, last = -1;
    for (int i = 0; i < g->nnodes; i++) {
        const weft_node *n = &g->nodes[i];
        lw_node *x = &L->ln[i];
        x->cost = cost_of(g, n);
        unsigned bi = 0, po = 0;
        x->tiled = weft_node_tiling(g, i, &bi, &po, &x->rows);
        x->batched_in = bi;
        x->partial_out = po;
        if (!x->tiled) x->rows = 1;
        if (n->op == WEFT_OP_RESHAPE) { P->node_group[i] = -1; continue; }
        weft_group *G = ng ? &P->groups[ng - 1] : NULL;
        if (!G || last < 0 || !fuses(g, L->ln, G, last, i, f)) {
            G = &P->groups[ng++];
            *G = (weft_group){ .kind = x->cost.kind, .section = -1, .first = nn, .count = 0, .chain = 1, .replicas = 1,
                               .tiled = x->tiled };
        }
        P->group_nodes[nn++] = i;
        G->count++;
        P->node_group[i] = (int)(G - P->groups);
        G->stage_ops += x->cost.ops;
        G->flops += weft_node_flops(g, n);
        /* a lane holds word_bytes: wider numbers (fp32 on a bf16 fabric) take
         * several lanes each */
        int dsize = (int)weft_dtype_size(g->values[n->nout ? n->out[0] : n->in[0]].dtype);
        int64_t wide = dsize > f->word_bytes ? dsize / f->word_bytes : 1;
        int64_t cyc;
        if (x->cost.kind == WEFT_GROUP_GEMM) {
            cyc = lw_cdiv(weft_node_flops(g, n) * wide, 2 * (int64_t)f->pcu_lanes * f->pcu_stages);
        } else {
            cyc = lw_cdiv(node_elems(g, n) * x->cost.passes * wide, f->pcu_lanes);
            /* a fused chain streams once: its nodes overlap, so the group
             * costs its slowest node, not their sum */
            if (G->count > 1) { if (cyc > G->cycles) G->cycles = cyc; cyc = 0; }
        }
        G->cycles += cyc;
        /* streams: a vector a cycle through each port */
        int64_t vec = (int64_t)f->pcu_lanes * f->word_bytes;
        for (int j = 0; j < n->nin + n->nout; j++) {
            bool in = j < n->nin;
            if (in && (weft_op_get(n->op)->shape_only & (1u << j))) continue;
            int v = in ? n->in[j] : n->out[j - n->nin];
            int64_t vecs = lw_cdiv(weft_rdu_value_bytes(g, v), vec);
            bool rows = x->tiled && (in ? (x->batched_in >> j) & 1 : !((x->partial_out >> (j - n->nin)) & 1));
            int64_t *slot = rows ? &G->io_rows : &G->io_whole;
            if (vecs > *slot) *slot = vecs;
        }
        int chain = x->cost.kind == WEFT_GROUP_GEMM ? 1 : (int)lw_cdiv(G->stage_ops, f->pcu_stages);
        int ports = (int)lw_cdiv(vec_inputs(n), f->pcu_vec_in);
        int outs = (int)lw_cdiv(n->nout, f->pcu_vec_out);
        if (ports > chain) chain = ports;
        if (outs > chain) chain = outs;
        if (chain > G->chain) G->chain = chain;
        last = i;
    }
    P->ngroups = ng;
    for (int k = 0; k < ng; k++) if (P->groups[k].cycles < 1) P->groups[k].cycles = 1;
    return WEFT_OK;
}

/* ---- values: who makes them, who reads them, what must be held ------------------ */

weft_status weft_rdu_values(lw *L)
{
    const weft_graph *g = L->g;
    weft_plan *P = L->p;
    L->vi = calloc((size_t)g->nvalues, sizeof *L->vi);
    if (!L->vi) return weft_fail(WEFT_ERR_NOMEM, "compile: out of memory");
    for (int v = 0; v < g->nvalues; v++)
        L->vi[v] = (lw_value){ .producer = -1, .updated = -1, .first_reader = -1, .last_reader = -1 };
    for (int i = 0; i < g->nnodes; i++) {
        int G = P->node_group[i];
        if (G < 0) continue;
        const weft_node *n = &g->nodes[i];
        for (int j = 0; j < n->nout; j++) {
            lw_value *x = &L->vi[weft_rdu_root(g, n->out[j])];
            x->producer = G;
            x->phase_made = n->phase;
            /* a sum over the rows is done only after the last tile */
            x->sum = !L->ln[i].tiled || ((L->ln[i].partial_out >> j) & 1);
        }
        if (n->phase == WEFT_PHASE_UPDATE) {
            /* updates write their weight and states in place */
            L->vi[n->in[0]].updated = G;
            for (int k = 2; k < n->nin; k++) if (k != n->a.slot_rows || n->a.slot_rows == 0) L->vi[n->in[k]].updated = G;
        }
        for (int k = 0; k < n->nin; k++) {
            if (weft_op_get(n->op)->shape_only & (1u << k)) continue;
            lw_value *x = &L->vi[weft_rdu_root(g, n->in[k])];
            if (x->first_reader < 0) x->first_reader = G;
            x->last_reader = G;
            x->phases_read |= n->phase;
            if (!L->ln[i].tiled) x->read_whole = true;
        }
    }
    return WEFT_OK;
}

/* ---- sections: groups in order until the fabric is full -------------------------- */

/* The values group k touches that section `sec` (1-based) has not; marks
 * them seen when `mark`. stamp dedupes within the group. */
static int fresh_values(const lw *L, int k, int *seen, int *stamp, int sec, bool mark, int *all)
{
    const weft_graph *g = L->g;
    const weft_group *G = &L->p->groups[k];
    int fresh = 0;
    *all = 0;
    for (int t = G->first; t < G->first + G->count; t++) {
        int ops[WEFT_MAX_IN + WEFT_MAX_OUT];
        bool in[WEFT_MAX_IN + WEFT_MAX_OUT];
        int no = weft_rdu_operands(g, &g->nodes[L->p->group_nodes[t]], ops, in);
        for (int j = 0; j < no; j++) {
            int v = ops[j];
            if (stamp[v] == 2 * k + 1 + mark) continue;
            stamp[v] = 2 * k + 1 + mark;
            (*all)++;
            if (seen[v] != sec) fresh++;
            if (mark) seen[v] = sec;
        }
    }
    return fresh;
}

weft_status weft_rdu_sections(lw *L)
{
    weft_plan *P = L->p;
    const weft_graph *g = L->g;
    P->sections = calloc((size_t)P->ngroups + 1, sizeof *P->sections);
    int *seen = calloc(2 * (size_t)g->nvalues, sizeof *seen), *stamp = seen ? seen + g->nvalues : NULL;
    if (!P->sections || !seen) { free(seen); return weft_fail(WEFT_ERR_NOMEM, "compile: out of memory"); }
    int ns = 0, pcus = 0, pmus = 0;
    weft_status st = WEFT_OK;
    for (int k = 0; k < P->ngroups; k++) {
        weft_group *G = &P->groups[k];
        const weft_node *n0 = &g->nodes[P->group_nodes[G->first]];
        int all, fresh = fresh_values(L, k, seen, stamp, ns, false, &all);
        if (G->chain > L->max_pcus || all > L->max_pmus) {
            bool pcu = G->chain > L->max_pcus;
            st = weft_fail(WEFT_ERR_ARG, "compile: node #%d (%s%s) needs %d %s at once; %d can be used (%d short)",
                           P->group_nodes[G->first], weft_op_name(n0->op), G->count > 1 ? " and the ops fused with it" : "",
                           pcu ? G->chain : all, pcu ? "PCUs in a chain" : "PMUs, one per value it touches",
                           pcu ? L->max_pcus : L->max_pmus, pcu ? G->chain - L->max_pcus : all - L->max_pmus);
            break;
        }
        /* every value a section touches needs a PMU at least (a buffer) */
        if (ns == 0 || pcus + G->chain > L->max_pcus || pmus + fresh > L->max_pmus) {
            P->sections[ns++] = (weft_section){ .first_group = k, .rate_scale = 1 };
            pcus = pmus = 0;
        }
        pmus += fresh_values(L, k, seen, stamp, ns, true, &all);
        G->section = ns - 1;
        P->sections[ns - 1].ngroups++;
        pcus += G->chain;
    }
    free(seen);
    P->nsections = ns;
    return st;
}

/* ---- replicas: water-filling, the slowest group gets the next unit ------------------ */

int64_t weft_group_cycles(const weft_group *G, int r)
{
    int64_t c = lw_cdiv(G->cycles, r), io = lw_cdiv(G->io_rows, r);
    if (io > c) c = io;
    return G->io_whole > c ? G->io_whole : c;
}

void weft_rdu_replicas(lw *L)
{
    weft_plan *P = L->p;
    for (int s = 0; s < P->nsections; s++) {
        weft_section *S = &P->sections[s];
        int used = 0;
        for (int k = S->first_group; k < S->first_group + S->ngroups; k++) used += P->groups[k].chain;
        int budget = L->max_pcus - used;
        for (;;) {
            int best = -1;
            double worst = 0;
            for (int k = S->first_group; k < S->first_group + S->ngroups; k++) {
                const weft_group *G = &P->groups[k];
                double t = (double)weft_group_cycles(G, G->replicas);
                if (t > worst) { worst = t; best = k; }
            }
            if (best < 0) break;
            weft_group *G = &P->groups[best];
            /* the slowest cannot grow: nothing else would shorten the section */
            if (!G->tiled || G->chain > budget || G->replicas >= L->ln[P->group_nodes[G->first]].rows ||
                weft_group_cycles(G, G->replicas + 1) >= weft_group_cycles(G, G->replicas)) break;
            G->replicas++;
            budget -= G->chain;
        }
    }
}
