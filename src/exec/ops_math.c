/* ops_math.c — the executor's kernels for the general math of imported
 * models (their rows are in ops_table.c): add, mul and where with an operand
 * of the same shape or of trailing dims, scale, erf, sum_lead and its
 * backward, batched matmul. Elementwise work is split across the pool by
 * element ranges, or by rows of the broadcast operand's length; each
 * element is computed the same way whatever the split. */
#include "exec/exec_ops.h"

#include <string.h>


static int64_t numel(const weft_kctx *k, int v) { return weft_shape_numel(SH(v)); }

/* Items [b, e): elements when input 1 has the output's size, else rows of
 * input 1's N elements (a tile of a broadcast node may have a single row of
 * N: then the two agree). */
static void bcast_chunk(void *c, int64_t b, int64_t e)
{
    const weft_kctx *k = c;
    int64_t N = numel(k, k->n->in[1]);
    bool rows = N != numel(k, k->n->out[0]);
    int64_t at = rows ? b * N : b, M = rows ? e - b : 1, w = rows ? N : e - b;
    const float *m = rows ? IN(1) : IN(1) + b;
    switch (k->n->op) {
    case WEFT_OP_ADD:
        if (rows) weft_k_add_rows(OUT(0) + at, IN(0) + at, m, M, w);
        else weft_k_add(OUT(0) + at, IN(0) + at, m, w);
        break;
    case WEFT_OP_MUL:
        if (rows) weft_k_mul_rows(OUT(0) + at, IN(0) + at, m, M, w);
        else weft_k_mul(OUT(0) + at, IN(0) + at, m, w);
        break;
    default:   /* where */
        weft_k_where_rows(OUT(0) + at, IN(0) + at, m, k->n->a.alpha, M, w);
        break;
    }
}

void weft_run_bcast(const weft_kctx *k)
{
    int64_t n = numel(k, k->n->out[0]), N = numel(k, k->n->in[1]);
    if (n == 0 || N == 0) return;
    if (N == n) weft_pool_for(k->pool, n, SPLIT_GRAIN, bcast_chunk, (void *)k);
    else weft_pool_for(k->pool, n / N, SPLIT_GRAIN / N + 1, bcast_chunk, (void *)k);
}

static void scale_chunk(void *c, int64_t b, int64_t e)
{
    const weft_kctx *k = c;
    weft_k_scale(OUT(0) + b, IN(0) + b, e - b, k->n->a.alpha, k->n->a.beta);
}

void weft_run_scale(const weft_kctx *k)
{
    weft_pool_for(k->pool, numel(k, k->n->out[0]), SPLIT_GRAIN, scale_chunk, (void *)k);
}

static void erf_chunk(void *c, int64_t b, int64_t e)
{
    const weft_kctx *k = c;
    weft_k_erf_fwd(OUT(0) + b, IN(0) + b, e - b);
}

void weft_run_erf(const weft_kctx *k)
{
    weft_pool_for(k->pool, numel(k, k->n->out[0]), SPLIT_GRAIN, erf_chunk, (void *)k);
}

/* sum_lead: x as (M,N), N = y's elements; y its column sums, split by
 * columns. sum_lead_bwd: dx (M,N) is dy (N) on every row, split by rows. */
static void sum_lead_dims(const weft_kctx *k, int64_t *M, int64_t *N)
{
    bool fwd = k->n->op == WEFT_OP_SUM_LEAD;
    *N = numel(k, fwd ? k->n->out[0] : k->n->in[0]);
    *M = *N ? numel(k, fwd ? k->n->in[0] : k->n->out[0]) / *N : 0;
}

static void sum_lead_chunk(void *c, int64_t b, int64_t e)
{
    const weft_kctx *k = c;
    int64_t M, N;
    sum_lead_dims(k, &M, &N);
    if (k->n->op == WEFT_OP_SUM_LEAD) {
        weft_k_colsum_range(OUT(0), IN(0), M, N, b, e);
        return;
    }
    for (int64_t r = b; r < e; r++) memcpy(OUT(0) + r * N, IN(0), (size_t)N * sizeof(float));
}

void weft_run_sum_lead(const weft_kctx *k)
{
    int64_t M, N;
    sum_lead_dims(k, &M, &N);
    if (N == 0) return;
    if (k->n->op == WEFT_OP_SUM_LEAD) {
        int64_t grain = SPLIT_GRAIN / (M > 0 ? M : 1) + 1;
        weft_pool_for(k->pool, N, grain < 16 ? 16 : grain, sum_lead_chunk, (void *)k);
    } else {
        weft_pool_for(k->pool, M, SPLIT_GRAIN / N + 1, sum_lead_chunk, (void *)k);
    }
}

/* y (..., M, N) = op(a) op(b) per batch; a 2-D operand (stride 0) is shared
 * by every batch. A tile's a of (rows, K) is a product of fewer rows. */
void weft_run_matmul(const weft_kctx *k)
{
    const weft_shape *a = SH(k->n->in[0]), *b = SH(k->n->in[1]), *y = SH(k->n->out[0]);
    bool ta = k->n->a.ta, tb = k->n->a.tb;
    int64_t M = y->d[y->ndim - 2], N = y->d[y->ndim - 1], K = a->d[a->ndim - (ta ? 2 : 1)];
    if (M == 0 || N == 0) return;
    weft_k_gemm_batched_pool(k->pool, ta, tb, numel(k, k->n->out[0]) / (M * N), (int)M, (int)N, (int)K, IN(0),
                             a->ndim > 2 ? M * K : 0, IN(1), b->ndim > 2 ? K * N : 0, OUT(0));
}
