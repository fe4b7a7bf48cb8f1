/* exec_ops.h — the executor's kernel table: how each op runs on fp32 buffers. */
#ifndef WEFT_EXEC_OPS_H
#define WEFT_EXEC_OPS_H

#include "weft/exec.h"
#include "kernels/kernels.h"

typedef struct {
    const weft_graph *g;
    const weft_node *n;
    void *in[WEFT_MAX_IN];      /* fp32 views of float inputs (i32 as is)       */
    void *out[WEFT_MAX_OUT];    /* fp32 buffers for outputs                      */
    void *raw_in[WEFT_MAX_IN];  /* the inputs in their stored dtype (updates)    */
    float *scratch;             /* weft_exec_op_scratch() floats                 */
    weft_pool *pool;
    const weft_run_opts *opts;
    uint64_t seed;
} weft_kctx;

typedef void (*weft_krun_fn)(const weft_kctx *k);

typedef struct {
    weft_krun_fn run;
    bool raw;   /* reads and writes its buffers in their stored dtype itself */
} weft_kernel_info;

const weft_kernel_info *weft_exec_kernel(weft_op op);
/* Kernel scratch (floats) that node n needs. */
int64_t weft_exec_op_scratch(const weft_graph *g, const weft_node *n, const weft_pool *pool);

#endif
