/* functional.c — runs a plan on the CPU tile by tile, in the plan's order,
 * beside exec running the graph whole, and compares what they compute.
 *
 * The plan's order: sections one after another; in a section, its groups in
 * order; in a group, its nodes in order; for each node, the tiles of its
 * replicas, replica i taking rows [rows*i/r, rows*(i+1)/r) of the node's
 * batch axis. A sum over the rows (a weight's gradient) is built tile after
 * tile in replica order. A spatial chip runs the tiles at once; the values
 * they produce are the same, which is what this proves: that every node
 * computed as its plan's replicas' row tiles, in the plan's node order,
 * computes what exec computes. Where values live (PMUs, off chip) and where
 * sections are cut move bytes, not values; this check does not see them. */
#include "rdu/rdu_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What an integer input may hold: the rows of the table it indexes, or the
 * classes of the logits it labels. */
static int64_t int_range(const weft_graph *g, int v)
{
    int64_t r = INT64_MAX;
    for (int i = 0; i < g->nnodes; i++) {
        const weft_node *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++) {
            if (weft_rdu_root(g, n->in[k]) != v) continue;
            int64_t c = INT64_MAX;
            if ((n->op == WEFT_OP_EMBEDDING || n->op == WEFT_OP_EMBBAG) && k == 0) c = g->values[n->in[1]].shape.d[0];
            else if ((n->op == WEFT_OP_XENT || n->op == WEFT_OP_XENT_BWD) && k == 1) {
                const weft_shape *s = &g->values[n->in[0]].shape;
                c = s->d[s->ndim - 1];
            }
            if (c < r) r = c;
        }
    }
    return r == INT64_MAX ? 1 : r;
}

static bool is_target(const weft_graph *g, int v)
{
    for (int i = 0; i < g->nnodes; i++)
        if ((g->nodes[i].op == WEFT_OP_BCE || g->nodes[i].op == WEFT_OP_BCE_BWD) && g->nodes[i].in[1] == v) return true;
    return false;
}

static weft_status feed_inputs(weft_graph *g, weft_exec *a, weft_exec *b, uint64_t seed)
{
    for (int v = 0; v < g->nvalues; v++) {
        weft_rng_key key = weft_rng_key_make(seed, 0x636865636bull, (uint64_t)v);   /* "check" */
        const weft_value *x = &g->values[v];
        if (x->role != WEFT_ROLE_INPUT || x->producer >= 0 || x->alias_of >= 0) continue;
        int64_t n = weft_shape_numel(&x->shape);
        void *buf = malloc((size_t)n * 4 + 4);
        if (!buf) return weft_fail(WEFT_ERR_NOMEM, "check: out of memory");
        if (x->dtype == WEFT_I32) {
            int64_t r = int_range(g, v);
            for (int64_t i = 0; i < n; i++) ((int32_t *)buf)[i] = (int32_t)(weft_rng_u32(key, (uint32_t)i) % (uint64_t)r);
        } else {
            bool t = is_target(g, v);
            for (int64_t i = 0; i < n; i++) {
                float u = weft_rng_unit(key, (uint32_t)i);
                ((float *)buf)[i] = t ? (float)(u < 0.5f) : 2 * u - 1;
            }
        }
        weft_dtype src = x->dtype == WEFT_I32 ? WEFT_I32 : WEFT_F32;
        weft_status st = weft_exec_feed(a, v, buf, src);
        if (!st) st = weft_exec_feed(b, v, buf, src);
        free(buf);
        WEFT_TRY(st);
    }
    return WEFT_OK;
}

/* max |a - b| / max(max |a|, 1e-6): the error relative to the tensor's
 * scale; a NaN anywhere is the worst error there is (and stays so). */
static double rel_err(const float *a, const float *b, int64_t n)
{
    double d = 0, m = 1e-6;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (isnan(e)) return NAN;
        if (e > d) d = e;
        if (fabs((double)a[i]) > m) m = fabs((double)a[i]);
    }
    return d / m;
}

static bool worse(double e, double than) { return isnan(e) || (!isnan(than) && e > than); }

weft_status weft_plan_check(const weft_plan *p, weft_graph *g, uint64_t seed, weft_plan_check_result *r)
{
    return weft_plan_check_with(p, g, seed, NULL, NULL, r);
}

weft_status weft_plan_check_with(const weft_plan *p, weft_graph *g, uint64_t seed,
                                 weft_status (*fill)(void *ctx, weft_store *st), void *ctx, weft_plan_check_result *r)
{
    memset(r, 0, sizeof *r);
    if (p->g != g) return weft_fail(WEFT_ERR_ARG, "check: the plan was compiled from another graph");
    /* fp32 sums tiles in another order than exec; a bf16 policy also rounds
     * each tile's partial sum before the next is added (a few bf16 ulps) */
    r->tolerance = g->precision == WEFT_PREC_FP32 ? 1e-4 : 5e-2;
    weft_store sa, sb;
    weft_store_init(&sa);
    weft_store_init(&sb);
    weft_exec *a = NULL, *b = NULL;
    float *x = NULL, *y = NULL;
    weft_status st = weft_store_bind(&sa, g, seed);
    if (!st) st = weft_store_bind(&sb, g, seed);
    if (!st && fill) st = fill(ctx, &sa);
    if (!st && fill) st = fill(ctx, &sb);
    if (!st) st = weft_exec_create(&a, g, &sa, 1, seed);
    if (!st) st = weft_exec_create(&b, g, &sb, 1, seed);
    if (!st) st = feed_inputs(g, a, b, seed);
    /* AdamW's first step is lr * g / (|g| + eps): with a small eps a gradient
     * of 1e-9 moves its weight as far as one of 1, and the order of a tile
     * sum flips its sign. A larger eps keeps the comparison about the tiling. */
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD | WEFT_PHASE_UPDATE, .step = 1,
                         .hp = { .lr = 0.01f, .momentum = 0.9f, .weight_decay = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f,
                                 .eps = 1e-3f } };
    if (!st) st = weft_exec_run(a, &ro);
    /* the plan's order; views (no group) run where they stand */
    for (int i = 0; i < g->nnodes && !st; i++) {
        int k = p->node_group[i];
        unsigned bi, po;
        int64_t rows = 1;
        bool tiled = weft_node_tiling(g, i, &bi, &po, &rows);
        int reps = k >= 0 && tiled ? p->groups[k].replicas : 1;
        bool first = true;
        for (int t = 0; t < reps && !st; t++) {
            int64_t r0 = rows * t / reps, r1 = rows * (t + 1) / reps;
            if (r1 == r0) continue;
            st = weft_exec_run_tile(b, i, r0, r1 - r0, !first, &ro);
            first = false;
            r->tiles++;
        }
    }
    /* compare: the loss, every gradient still in the arena at the end (the
     * weights'), the updated weights and the optimizer state */
    int64_t big = 0;
    for (int v = 0; v < g->nvalues; v++) if (weft_shape_numel(&g->values[v].shape) > big) big = weft_shape_numel(&g->values[v].shape);
    if (!st && (!(x = malloc((size_t)big * sizeof *x + 4)) || !(y = malloc((size_t)big * sizeof *y + 4))))
        st = weft_fail(WEFT_ERR_NOMEM, "check: out of memory");
    /* a weight's gradient: what an update reads as its input 1 */
    bool *wgrad = st ? NULL : calloc((size_t)g->nvalues + 1, sizeof *wgrad);
    if (!st && !wgrad) st = weft_fail(WEFT_ERR_NOMEM, "check: out of memory");
    for (int i = 0; !st && i < g->nnodes; i++)
        if (g->nodes[i].phase == WEFT_PHASE_UPDATE) wgrad[g->nodes[i].in[1]] = true;
    for (int v = 0; v < g->nvalues && !st; v++) {
        const weft_value *val = &g->values[v];
        /* the loss, or what a graph without one returns (an inference step;
         * a view too: an imported model often ends in a reshape) */
        bool output = val->role == WEFT_ROLE_LOSS || (val->keep && val->role == WEFT_ROLE_ACT);
        if ((val->alias_of >= 0 && !output) || val->dtype == WEFT_I32) continue;
        bool weight_grad = val->role == WEFT_ROLE_GRAD && wgrad[v];
        int cls = output ? 0 : weight_grad ? 1 : val->role == WEFT_ROLE_PARAM ? 2
                : val->role == WEFT_ROLE_STATE ? 3 : -1;
        if (cls < 0) continue;
        int64_t n = weft_shape_numel(&val->shape);
        st = weft_exec_read(a, v, x);
        if (!st) st = weft_exec_read(b, v, y);
        if (st) break;
        double e = rel_err(x, y, n);
        double *slot = cls == 0 ? &r->loss_err : cls == 1 ? &r->grad_err : cls == 2 ? &r->weight_err : &r->state_err;
        if (worse(e, *slot)) *slot = e;
        if (worse(e, r->worst_err)) { r->worst_err = e; snprintf(r->worst, sizeof r->worst, "%s", val->name); }
        r->compared++;
    }
    free(wgrad);
    free(x);
    free(y);
    weft_exec_free(a);
    weft_exec_free(b);
    weft_store_free(&sa);
    weft_store_free(&sb);
    return st;
}
