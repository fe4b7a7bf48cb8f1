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
    bool raw;   /* reads its inputs in their stored dtype itself (outputs are fp32
                   scratch as for every kernel; updates mutate their inputs) */
} weft_kernel_info;

const weft_kernel_info *weft_exec_kernel(weft_op op);
/* Kernel scratch (floats) that node n needs. */
int64_t weft_exec_op_scratch(const weft_graph *g, const weft_node *n, const weft_pool *pool);

/* ops_nn.c: the sequence, vision and recommendation ops. */
void weft_run_sigmoid_tanh(const weft_kctx *k);
void weft_run_softmax(const weft_kctx *k);      /* and softmax_bwd   */
void weft_run_transpose(const weft_kctx *k);
void weft_run_concat(const weft_kctx *k);
void weft_run_split(const weft_kctx *k);        /* and split_bwd     */
void weft_run_dropout(const weft_kctx *k);      /* and dropout_bwd   */
void weft_run_bce(const weft_kctx *k);          /* and bce_bwd       */
void weft_run_embbag(const weft_kctx *k);       /* raw: reads a bf16 table's touched rows only */
void weft_run_embbag_bwd(const weft_kctx *k);
void weft_run_dot_interact(const weft_kctx *k); /* and its backward  */
void weft_run_batchnorm(const weft_kctx *k);
void weft_run_batchnorm_bwd(const weft_kctx *k);
void weft_run_avgpool(const weft_kctx *k);      /* and avgpool_bwd   */
void weft_run_lstm(const weft_kctx *k);
void weft_run_lstm_bwd(const weft_kctx *k);
int64_t weft_exec_nn_scratch(const weft_graph *g, const weft_node *n);

/* ops_math.c: the general math of imported models. */
void weft_run_bcast(const weft_kctx *k);        /* add, mul, where   */
void weft_run_scale(const weft_kctx *k);
void weft_run_erf(const weft_kctx *k);
void weft_run_sum_lead(const weft_kctx *k);     /* and sum_lead_bwd  */
void weft_run_matmul(const weft_kctx *k);

/* Elementwise and per-plane kernels are memory-bound: split them across the
 * pool by element ranges (or rows, or image planes), which are independent. */
#define SPLIT_GRAIN (1 << 15)

/* A kernel's view of its node: a value's shape, its inputs and outputs as floats. */
#define SH(v) (&k->g->values[(v)].shape)
#define IN(i) ((float *)k->in[i])
#define OUT(j) ((float *)k->out[j])

#endif
