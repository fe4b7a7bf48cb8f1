/* plan.c — the memory planner: one arena per graph, offsets by liveness.
 *
 * A value lives from the node that writes it to the last node that reads it
 * (a view extends its base's life; `keep` values and inputs live for the
 * whole run). Two values may share bytes when their lives do not overlap.
 * Placement is greedy, largest first, at the lowest offset that fits beside
 * the already placed values whose lives overlap — the classic interval
 * colouring heuristic; peak bytes are known before anything runs. */
#include "graph/ops.h"

#include <stdlib.h>

typedef struct { int v; int64_t size, start, end, off; } item;

static int by_size_desc(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->v - y->v;
}

static int by_off(const void *a, const void *b)
{
    const item *x = *(const item *const *)a, *y = *(const item *const *)b;
    return (x->off > y->off) - (x->off < y->off);
}

static int root_of(const weft_graph *g, int v)
{
    while (g->values[v].alias_of >= 0) v = g->values[v].alias_of;
    return v;
}

static bool in_arena(const weft_value *x)
{
    return x->role != WEFT_ROLE_PARAM && x->role != WEFT_ROLE_STATE;
}

weft_status weft_pass_plan_memory(weft_graph *g)
{
    WEFT_TRY(weft_graph_verify(g));
    int nv = g->nvalues;
    int64_t *start = malloc((size_t)nv * sizeof *start), *end = malloc((size_t)nv * sizeof *end);
    item *items = malloc((size_t)nv * sizeof *items);
    item **placed = malloc((size_t)nv * sizeof *placed);
    if (!start || !end || !items || !placed) {
        free(start); free(end); free(items); free(placed);
        return weft_fail(WEFT_ERR_NOMEM, "memory planner: out of memory");
    }
    int64_t last = g->nnodes;
    for (int v = 0; v < nv; v++) {
        const weft_value *x = &g->values[v];
        start[v] = x->producer >= 0 ? x->producer : -1;
        end[v] = x->keep || x->role == WEFT_ROLE_INPUT || v == g->loss ? last : start[v];
    }
    for (int i = 0; i < g->nnodes; i++) {
        const weft_node *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++) {
            int r = root_of(g, n->in[k]);
            if (end[r] < i) end[r] = i;
        }
    }
    /* A view's own reads and keep flag extend its base's life. */
    for (int v = 0; v < nv; v++) {
        if (g->values[v].alias_of < 0) continue;
        int r = root_of(g, v);
        int64_t e = g->values[v].keep ? last : end[v];
        for (int i = 0; i < g->nnodes; i++)
            for (int k = 0; k < g->nodes[i].nin; k++)
                if (g->nodes[i].in[k] == v && e < i) e = i;
        if (end[r] < e) end[r] = e;
    }
    int n = 0;
    for (int v = 0; v < nv; v++) {
        weft_value *x = &g->values[v];
        x->offset = -1;
        if (!in_arena(x) || x->alias_of >= 0) continue;
        int64_t bytes = weft_shape_numel(&x->shape) * (int64_t)weft_dtype_size(x->dtype);
        items[n++] = (item){ v, (bytes + 63) & ~(int64_t)63, start[v], end[v], -1 };
    }
    qsort(items, (size_t)n, sizeof *items, by_size_desc);
    int64_t peak = 0;
    for (int i = 0; i < n; i++) {
        int np = 0;
        for (int j = 0; j < i; j++)
            if (items[j].start <= items[i].end && items[i].start <= items[j].end) placed[np++] = &items[j];
        qsort(placed, (size_t)np, sizeof *placed, by_off);
        int64_t off = 0;
        for (int j = 0; j < np; j++) {
            if (placed[j]->off >= off + items[i].size) break;
            int64_t e = placed[j]->off + placed[j]->size;
            if (e > off) off = e;
        }
        items[i].off = off;
        g->values[items[i].v].offset = off;
        if (off + items[i].size > peak) peak = off + items[i].size;
    }
    /* Views take their base's offset; a view of a store value has none (-1)
     * and the backend points it at the store's bytes. */
    for (int v = 0; v < nv; v++)
        if (g->values[v].alias_of >= 0 && in_arena(&g->values[v]))
            g->values[v].offset = g->values[root_of(g, v)].offset;
    g->arena_bytes = peak;
    g->planned = true;
    free(start); free(end); free(items); free(placed);
    return WEFT_OK;
}
