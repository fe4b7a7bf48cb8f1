/* exec_int.h — the executor's insides, shared by exec.c (whole runs) and
 * tile.c (one node on a tile of rows). Not a public header. */
#ifndef WEFT_EXEC_INT_H
#define WEFT_EXEC_INT_H

#include "exec/exec_ops.h"
#include "graph/ops.h"

struct weft_exec {
    weft_graph *g;
    weft_store *store;
    uint8_t *arena;      /* the arena in use                           */
    uint8_t *own_arena;  /* allocated here (NULL: a shared executor)    */
    void **ptr;          /* per value: its bytes                       */
    void **bound;        /* per value: bytes bound by weft_exec_bind, or NULL */
    void **home;         /* per value: a persistent value's bytes in the store */
    int *root;           /* per value: the value whose bytes a view shares */
    int *views;          /* per value: its first view (-1 none), then view -> next */
    int *next_view;
    float *scratch;      /* conversions + kernel scratch               */
    int64_t scratch_floats;
    weft_pool *pool;
    uint64_t seed;
    double *node_s;
    /* tile.c, made on first use: a copy of the graph's values whose batched
     * operands get the tile's shapes, and scratch for a tile that needs
     * more than `scratch` (an fp32 partial output summed into the old one) */
    weft_value *tile_values;
    float *tile_scratch;
    int64_t tile_scratch_floats;
};

/* Input i of n is stored bf16 and read as fp32 (widened before its kernel). */
static inline bool weft_exec_widened(const weft_graph *g, const weft_node *n, int i)
{
    return g->values[n->in[i]].dtype == WEFT_BF16 && !(weft_op_get(n->op)->shape_only & (1u << i));
}

/* A non-finite value that node n writes on purpose: where's fill (-inf
 * masks a score out before a softmax). check_finite lets it pass. */
static inline bool weft_exec_fill_value(const weft_node *n, float f)
{
    return n->op == WEFT_OP_WHERE && f == n->a.alpha;
}

/* bf16 -> fp32 and fp32 -> bf16 (nearest even) of n elements, split across
 * the pool. */
void weft_exec_widen(weft_pool *p, const weft_bf16 *src, float *dst, int64_t n);
void weft_exec_round(weft_pool *p, const float *src, weft_bf16 *dst, int64_t n);

#endif
