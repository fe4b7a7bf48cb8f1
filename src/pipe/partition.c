/* partition.c — cuts a training graph into pipeline stages (weft/pipe.h).
 *
 * Stages are annotations on the one graph (weft_node.stage), never copies
 * of it. Each cut item carries the cost of everything that runs for it —
 * its forward node, the backward nodes autodiff appended for it, the
 * weight-only nodes that feed it and the updates of the weights it owns —
 * and the balancer picks the contiguous cut that minimises the most
 * expensive stage (a bottleneck partition: dynamic programming over items). */
#include "weft/pipe.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

/* The estimate's machine: one core's sustained GEMM rate and memory
 * bandwidth on this CPU class (DESIGN.md section 9: ~75 GFLOP/s peak a core). */
#define EST_FLOPS 50e9
#define EST_BYTES 8e9

/* A node's estimated seconds on the estimate's machine. */
static double est_seconds(const weft_graph *g, const weft_node *n)
{
    return (double)weft_node_flops(g, n) / EST_FLOPS + (double)weft_node_bytes(g, n) / EST_BYTES;
}

static bool persistent(const weft_graph *g, int v)
{
    weft_role r = g->values[v].role;
    return r == WEFT_ROLE_PARAM || r == WEFT_ROLE_STATE;
}

/* A forward node that reads only weights, or values made from weights only. */
static void weight_only(const weft_graph *g, bool *wo)
{
    bool *from_w = calloc((size_t)g->nvalues, sizeof *from_w);
    for (int v = 0; from_w && v < g->nvalues; v++) from_w[v] = persistent(g, v);
    for (int i = 0; i < g->nnodes; i++) {
        const weft_node *n = &g->nodes[i];
        wo[i] = false;
        if (n->phase != WEFT_PHASE_FWD || !from_w || n->nin == 0) continue;
        bool all = true;
        for (int k = 0; k < n->nin; k++) all &= from_w[n->in[k]];
        wo[i] = all;
        for (int j = 0; j < n->nout; j++) from_w[n->out[j]] = all;
    }
    free(from_w);
}

bool weft_pipe_is_item(const weft_graph *g, int node)
{
    if (g->nodes[node].phase != WEFT_PHASE_FWD) return false;
    bool *wo = malloc((size_t)g->nnodes * sizeof *wo);
    if (!wo) return false;
    weight_only(g, wo);
    bool r = !wo[node];
    free(wo);
    return r;
}

/* Minimises the largest stage sum over contiguous cuts of c[0..n) into S
 * non-empty stages; writes start[0..S]. */
static weft_status balance(const double *c, int n, int S, int *start)
{
    double *pre = malloc((size_t)(n + 1) * sizeof *pre);
    double *best = malloc((size_t)(S + 1) * (size_t)(n + 1) * sizeof *best);
    int *arg = malloc((size_t)(S + 1) * (size_t)(n + 1) * sizeof *arg);
    if (!pre || !best || !arg) {
        free(pre); free(best); free(arg);
        return weft_fail(WEFT_ERR_NOMEM, "partition: out of memory");
    }
#define BEST(s, k) best[(size_t)(s) * (size_t)(n + 1) + (size_t)(k)]
#define ARG(s, k) arg[(size_t)(s) * (size_t)(n + 1) + (size_t)(k)]
    pre[0] = 0;
    for (int k = 0; k < n; k++) pre[k + 1] = pre[k] + c[k];
    /* BEST(s, k): the best bottleneck of the first k items in s stages */
    for (int k = 0; k <= n; k++) BEST(1, k) = k ? pre[k] : DBL_MAX;
    for (int s = 2; s <= S; s++)
        for (int k = 0; k <= n; k++) {
            BEST(s, k) = DBL_MAX; ARG(s, k) = -1;
            for (int j = s - 1; j < k; j++) {   /* the last stage is items [j, k) */
                double b = BEST(s - 1, j), last = pre[k] - pre[j];
                if (last > b) b = last;
                /* ties: prefer the later cut, so light items gather at the end */
                if (b <= BEST(s, k)) { BEST(s, k) = b; ARG(s, k) = j; }
            }
        }
    start[S] = n;
    for (int s = S, k = n; s > 1; s--) { k = ARG(s, k); start[s - 1] = k; }
    start[0] = 0;
#undef BEST
#undef ARG
    free(pre); free(best); free(arg);
    return WEFT_OK;
}

/* Stable order: forward by stage, backward by stage descending, updates by stage. */
typedef struct { int key, idx; } okey;

static int by_key(const void *a, const void *b)
{
    const okey *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->idx - y->idx;
}

static weft_status reorder(weft_graph *g, int S)
{
    int nn = g->nnodes;
    okey *k = malloc((size_t)nn * sizeof *k);
    int *pos = malloc((size_t)nn * sizeof *pos);
    weft_node *old = malloc((size_t)nn * sizeof *old);
    if (!k || !pos || !old) { free(k); free(pos); free(old); return weft_fail(WEFT_ERR_NOMEM, "partition: out of memory"); }
    for (int i = 0; i < nn; i++) {
        const weft_node *n = &g->nodes[i];
        int grp = n->phase == WEFT_PHASE_FWD ? 0 : n->phase == WEFT_PHASE_BWD ? 1 : 2;
        int sk = n->phase == WEFT_PHASE_BWD ? S - 1 - n->stage : n->stage;
        k[i] = (okey){ grp * (S + 1) + sk, i };
    }
    qsort(k, (size_t)nn, sizeof *k, by_key);
    for (int i = 0; i < nn; i++) pos[k[i].idx] = i;
    memcpy(old, g->nodes, (size_t)nn * sizeof *old);
    weft_status s = WEFT_OK;
    for (int i = 0; i < nn && !s; i++) {
        weft_node n = old[k[i].idx];
        if (n.origin >= 0) n.origin = pos[n.origin];
        for (int a = 0; a < n.nin && !s; a++) {
            int p = g->values[n.in[a]].producer;
            if (p >= 0 && pos[p] >= i)
                s = weft_fail(WEFT_ERR_INTERNAL, "partition: %s (stage %d) would run before %s, which it reads",
                              weft_op_name(n.op), n.stage, g->values[n.in[a]].name);
        }
        g->nodes[i] = n;
    }
    for (int v = 0; v < g->nvalues && !s; v++)
        if (g->values[v].producer >= 0) g->values[v].producer = pos[g->values[v].producer];
    if (s) memcpy(g->nodes, old, (size_t)nn * sizeof *old);
    free(k); free(pos); free(old);
    return s;
}

weft_status weft_pipe_partition(weft_graph *g, int S, const int *split, const double *node_seconds,
                                weft_partition *p)
{
    memset(p, 0, sizeof *p);
    WEFT_TRY(weft_graph_status(g));
    if (S < 1 || S > WEFT_PIPE_MAX_STAGES)
        return weft_fail(WEFT_ERR_ARG, "--stages %d: must be 1 to %d", S, WEFT_PIPE_MAX_STAGES);
    int nn = g->nnodes, nupd = 0;
    for (int i = 0; i < nn; i++) nupd += g->nodes[i].phase == WEFT_PHASE_UPDATE;
    if (!nupd) return weft_fail(WEFT_ERR_ARG, "partition: not a training graph (no update nodes)");
    int *home = malloc((size_t)nn * sizeof *home);      /* the cut item a node runs with */
    int *item_of = malloc((size_t)nn * sizeof *item_of);  /* node -> item index, or -1   */
    int *owner = malloc((size_t)g->nvalues * sizeof *owner); /* weight -> first reading item */
    bool *wo = malloc((size_t)nn * sizeof *wo);
    double *cost = calloc((size_t)nn, sizeof *cost);
    weft_status s = WEFT_OK;
    if (!home || !item_of || !owner || !wo || !cost) { s = weft_fail(WEFT_ERR_NOMEM, "partition: out of memory"); goto out; }
    weight_only(g, wo);
    int n = 0;
    for (int i = 0; i < nn; i++) {
        item_of[i] = -1;
        home[i] = -1;
        if (g->nodes[i].phase == WEFT_PHASE_FWD && !wo[i]) { item_of[i] = n++; home[i] = i; }
    }
    if (n < S) {
        s = weft_fail(WEFT_ERR_ARG, "--stages %d: this model has %d forward ops to cut between, so at most %d stages",
                      S, n, n);
        goto out;
    }
    /* weight-only nodes go with their first reader (consumers come later) */
    for (int j = nn - 1; j >= 0; j--) {
        const weft_node *c = &g->nodes[j];
        if (c->phase != WEFT_PHASE_FWD || home[j] < 0) continue;
        for (int a = 0; a < c->nin; a++) {
            int pr = g->values[c->in[a]].producer;
            if (pr >= 0 && wo[pr] && (home[pr] < 0 || home[j] < home[pr])) home[pr] = home[j];
        }
    }
    for (int v = 0; v < g->nvalues; v++) owner[v] = -1;
    for (int i = 0; i < nn; i++) {
        const weft_node *c = &g->nodes[i];
        if (c->phase != WEFT_PHASE_FWD) continue;
        if (home[i] < 0) { s = weft_fail(WEFT_ERR_ARG, "partition: %s (node %d) feeds nothing", weft_op_name(c->op), i); goto out; }
        for (int a = 0; a < c->nin; a++)
            if (persistent(g, c->in[a]) && (owner[c->in[a]] < 0 || home[i] < owner[c->in[a]]))
                owner[c->in[a]] = home[i];   /* the earliest reader, in cut order */
    }
    for (int i = 0; i < nn && !s; i++) {
        const weft_node *c = &g->nodes[i];
        if (c->phase == WEFT_PHASE_BWD) {
            if (c->origin < 0 || home[c->origin] < 0)
                s = weft_fail(WEFT_ERR_INTERNAL, "partition: backward node %d (%s) has no forward origin", i, weft_op_name(c->op));
            else home[i] = home[c->origin];
        } else if (c->phase == WEFT_PHASE_UPDATE) {
            int w = c->a.param;
            if (w < 0 || owner[w] < 0) s = weft_fail(WEFT_ERR_INTERNAL, "partition: update node %d: no reader of its weight", i);
            else home[i] = owner[w];
        }
        if (s) goto out;
        cost[i] = node_seconds ? node_seconds[i]
                               : est_seconds(g, c);
    }
    double *icost = calloc((size_t)n, sizeof *icost);
    if (!icost) { s = weft_fail(WEFT_ERR_NOMEM, "partition: out of memory"); goto out; }
    for (int i = 0; i < nn; i++) icost[item_of[home[i]]] += cost[i];
    p->stages = S;
    p->nitems = n;
    p->measured = node_seconds != NULL;
    if (split) {
        p->start[0] = 0;
        p->start[S] = n;
        for (int k = 1; k < S && !s; k++) {
            p->start[k] = split[k - 1];
            if (split[k - 1] <= p->start[k - 1] || split[k - 1] >= n)
                s = weft_fail(WEFT_ERR_ARG, "--split: cut %d is %d; cuts must increase, from 1 to %d (the model has %d "
                              "forward ops to cut between)", k, split[k - 1], n - 1, n);
        }
    } else {
        s = balance(icost, n, S, p->start);
    }
    if (!s) {
        for (int i = 0; i < nn; i++) {
            int it = item_of[home[i]], st = 0;
            while (st + 1 < S && it >= p->start[st + 1]) st++;
            g->nodes[i].stage = st;
            p->cost[st] += cost[i];
            p->nodes[st]++;
        }
        for (int v = 0; v < g->nvalues; v++) {
            const weft_value *x = &g->values[v];
            int64_t bytes = weft_shape_numel(&x->shape) * (int64_t)weft_dtype_size(x->dtype);
            if (x->role == WEFT_ROLE_PARAM && owner[v] >= 0) p->param_bytes[g->nodes[owner[v]].stage] += bytes;
            int pr = x->producer;
            if (pr < 0 || g->nodes[pr].phase != WEFT_PHASE_FWD || x->alias_of >= 0) continue;
            int ps = g->nodes[pr].stage;
            p->act_bytes[ps] += bytes;
            bool sent = false;
            for (int i = 0; i < nn && !sent; i++)
                for (int a = 0; a < g->nodes[i].nin; a++) {
                    int r = g->nodes[i].in[a];
                    while (g->values[r].alias_of >= 0 && r != v) r = g->values[r].alias_of;   /* a view's base */
                    if (r == v && g->nodes[i].stage > ps) sent = true;
                }
            if (sent) p->send_bytes[ps] += bytes;
        }
        s = reorder(g, S);
    }
    free(icost);
    if (!s) {
        g->planned = false;
        s = weft_pass_plan_memory(g);
    }
out:
    free(home); free(item_of); free(owner); free(wo); free(cost);
    return s;
}

weft_status weft_pipe_split_heavy(weft_graph *g, int S, int *vmap, int *nsplit)
{
    *nsplit = 0;
    int nn = g->nnodes;
    int *pieces = malloc((size_t)nn * sizeof *pieces);
    double *c = malloc((size_t)nn * sizeof *c), total = 0;
    if (!pieces || !c) { free(pieces); free(c); return weft_fail(WEFT_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < nn; i++) {
        /* a backward costs about two forwards */
        c[i] = 3 * est_seconds(g, &g->nodes[i]);
        total += c[i];
        pieces[i] = 1;
    }
    double share = S > 1 ? total / S : 0;
    for (int i = 0; i < nn && share > 0; i++) {
        if (c[i] <= share / 4 || !weft_node_batch_splittable(g, i)) continue;
        int64_t n0 = g->values[g->nodes[i].in[0]].shape.d[0];
        int k = (int)(6 * c[i] / share) + 1;
        if (k > WEFT_MAX_IN * WEFT_MAX_IN) k = WEFT_MAX_IN * WEFT_MAX_IN;
        if (k > n0) k = (int)n0;
        if (k > 1) { pieces[i] = k; (*nsplit)++; }
    }
    weft_status s = WEFT_OK;
    if (*nsplit) s = weft_pass_split_batch(g, pieces, vmap);
    else for (int v = 0; v < g->nvalues; v++) vmap[v] = v;
    free(pieces); free(c);
    return s;
}

void weft_partition_ops(const weft_graph *g, int s, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    bool *wo = malloc((size_t)g->nnodes * sizeof *wo);
    if (!wo) return;
    weight_only(g, wo);
    for (int i = 0; i < g->nnodes && used + 1 < n; i++) {
        const weft_node *c = &g->nodes[i];
        if (c->phase != WEFT_PHASE_FWD || c->stage != s || wo[i]) continue;
        int w = snprintf(buf + used, n - used, "%s%s", used ? " " : "", weft_op_name(c->op));
        if (w < 0) break;
        used += (size_t)w;
    }
    if (used >= n && n > 4) memcpy(buf + n - 4, "...", 4);
    free(wo);
}
