/* weft/exec.h — the kernel-by-kernel executor: runs a planned graph's nodes
 * in order on the CPU out of one arena, persistent values bound to a store.
 * It is the reference every other backend is checked against. */
#ifndef WEFT_EXEC_H
#define WEFT_EXEC_H

#include "weft/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_exec weft_exec;

/* Optimizer hyperparameters for one step (the learning rate may change
 * every step under a schedule). */
typedef struct {
    float lr, momentum, weight_decay;   /* SGD (weight_decay also AdamW's) */
    float beta1, beta2, eps;            /* AdamW                           */
} weft_optim_hp;

typedef struct {
    unsigned phases;       /* WEFT_PHASE_* mask of the nodes to run                */
    int64_t step;          /* the update's number, from 1 (AdamW bias correction,
                              stochastic-rounding key)                            */
    weft_optim_hp hp;
    bool check_finite;     /* stop at the first node that writes a non-finite value */
    bool eval;             /* inference: dropout is the identity, batch norm uses
                              (and leaves alone) its running statistics          */
    weft_update_count *update_counts; /* NULL, or nnodes counters: each update node
                              adds what it did to its weights (weft/num.h) at its
                              node's index; the caller zeroes them              */
    int stage;             /* 0: every node; s+1: only the nodes of pipeline stage s */
    bool cpu_clock;        /* node seconds by this thread's CPU clock, not the wall
                              clock (a clock call costs about a microsecond)     */
} weft_run_opts;

/* Plans g's memory if not yet planned, binds PARAM/STATE values to `store`
 * (which must already hold them: weft_store_bind), allocates the arena and
 * scratch once. threads: OpenBLAS and weft's pool (one owner at a time).
 * seed: the run's seed (stochastic rounding). */
weft_status weft_exec_create(weft_exec **out, weft_graph *g, weft_store *store,
                             int threads, uint64_t seed);
void weft_exec_free(weft_exec *ex);

/* ---- for backends that run one graph many times at once (pipelines) ----
 * An executor made by weft_exec_create_shared has no arena of its own: the
 * caller hands it one (weft_exec_arena_bytes() bytes, 64-aligned) before each
 * run, so several executors (one per thread) can work on several arenas (one
 * per microbatch in flight). weft_exec_bind points value v — and its views —
 * at other bytes (a stashed copy of a weight, a gradient buffer); NULL puts
 * it back where it lives. An executor is used by one thread at a time. */
weft_status weft_exec_create_shared(weft_exec **out, weft_graph *g, weft_store *store, int threads, uint64_t seed);
void weft_exec_set_arena(weft_exec *ex, void *arena);
void weft_exec_bind(weft_exec *ex, int v, void *p);

/* The bytes of value v (in the arena or the store). A transient value's
 * bytes hold it from the node that writes it to its last reader in the run
 * that wrote it (values marked `keep`: to that run's end); a later run may
 * reuse them, so read what you need before running again. */
void *weft_exec_ptr(weft_exec *ex, int v);
/* Copies n = numel(v) elements into v, converting fp32 to v's dtype
 * (bf16: nearest) — or raw when src_dtype equals v's dtype. */
weft_status weft_exec_feed(weft_exec *ex, int v, const void *src, weft_dtype src_dtype);
/* Reads value v as fp32 into dst (numel(v) floats). */
weft_status weft_exec_read(weft_exec *ex, int v, float *dst);
weft_status weft_exec_run(weft_exec *ex, const weft_run_opts *o);
/* Runs node `node` alone on rows [row0, row0 + nrows) of its batch axis, as
 * one compute unit of a dataflow chip would (weft_node_tiling says which
 * operands are batched). Batched inputs and sliced outputs are read and
 * written at those rows only; other inputs are read whole; an output that
 * sums over the rows gets the tile's part: written when !accumulate, else
 * added in fp32 (rounded once if bf16) -- so tiles 0..k-1 run in order with
 * accumulate = (tile > 0) give the whole sum. Updates work in place on the
 * weight's rows. A node weft_node_tiling refuses runs only whole: rows
 * [0, rows) it reports (accumulate is then ignored). Runs the node whatever
 * o->phases and o->stage say; the rest of o is as for weft_exec_run.
 * WEFT_ERR_ARG for a node out of range, rows outside [0, rows), or a part of
 * an untileable node. */
weft_status weft_exec_run_tile(weft_exec *ex, int node, int64_t row0, int64_t nrows, bool accumulate,
                               const weft_run_opts *o);

int64_t weft_exec_arena_bytes(const weft_exec *ex);
int64_t weft_exec_scratch_bytes(const weft_exec *ex);
/* Accumulated seconds spent in each node since creation (nnodes entries). */
const double *weft_exec_node_seconds(const weft_exec *ex);

#ifdef __cplusplus
}
#endif
#endif
