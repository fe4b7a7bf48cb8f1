/* tile.c — runs one node on a tile: a contiguous range of rows of its batch
 * axis (axis 0), as one compute unit of a dataflow chip would.
 *
 * Kernels read their dimensions from the graph's shapes, so the tile's
 * kernel sees a private copy of the graph's values in which the batched
 * operands have d[0] = the tile's rows, and pointers to its first row. What
 * weft_node_tiling passes whole is passed whole; an output that sums over
 * the rows (a weight's gradient) gets the tile's part, written or added.
 * Precision is exec.c's: bf16 inputs widened, outputs computed in fp32 and
 * rounded once -- an accumulated bf16 sum is rounded once per tile, as a
 * unit's rounded output added into memory would be. */
#include "exec/exec_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One operand as the tile sees it. */
static int64_t row_elems(const weft_value *x)
{
    return x->shape.ndim >= 1 && x->shape.d[0] > 0 ? weft_shape_numel(&x->shape) / x->shape.d[0] : 1;
}

/* Value v's bytes from the tile's first row (row0 of its stored dtype). */
static void *at_row(const weft_exec *ex, int v, int64_t row0)
{
    const weft_value *x = &ex->g->values[v];
    return (uint8_t *)ex->ptr[v] + (size_t)(row0 * row_elems(x)) * weft_dtype_size(x->dtype);
}

static int64_t pad16(int64_t n) { return (n + 15) & ~(int64_t)15; }

/* fp32 floats the tile needs: widened inputs, fp32 staging of bf16 outputs
 * and of summed partial outputs, and the kernel's own scratch at the
 * tile's shapes. */
static int64_t tile_scratch(const weft_graph *view, const weft_node *n, unsigned pout, bool accumulate,
                            const weft_pool *pool)
{
    bool raw = weft_exec_kernel(n->op)->raw;
    int64_t f = 0;
    for (int i = 0; i < n->nin; i++)
        if (!raw && weft_exec_widened(view, n, i)) f += pad16(weft_shape_numel(&view->values[n->in[i]].shape));
    for (int j = 0; j < n->nout; j++) {
        const weft_value *y = &view->values[n->out[j]];
        if (y->dtype == WEFT_BF16 || (accumulate && (pout & (1u << j)))) f += pad16(weft_shape_numel(&y->shape));
    }
    return f + weft_exec_op_scratch(view, n, pool);
}

/* The scratch for `need` floats: the executor's (sized for the largest
 * whole node) when it is enough, else a buffer of tile.c's own. */
static float *scratch_for(weft_exec *ex, int64_t need)
{
    if (need <= ex->scratch_floats) return ex->scratch;
    if (need > ex->tile_scratch_floats) {
        weft_free(ex->tile_scratch);
        ex->tile_scratch = weft_alloc((size_t)(need + 16) * sizeof(float));
        ex->tile_scratch_floats = ex->tile_scratch ? need : 0;
    }
    return ex->tile_scratch;
}

/* dst (an output, its dtype) += part (fp32), n elements, in fp32: a bf16
 * sum is widened, added and rounded once. */
static void add_part(void *dst, weft_dtype t, const float *part, int64_t n)
{
    if (t == WEFT_F32) {
        float *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] += part[i];
        return;
    }
    weft_bf16 *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = weft_bf16_from_f32(weft_bf16_to_f32(d[i]) + part[i]);
}

/* The first non-finite value among the n elements the tile wrote at p. */
static weft_status check_written(const weft_value *x, const void *p, int64_t n, int node, const weft_node *nd,
                                 const weft_run_opts *o)
{
    for (int64_t i = 0; i < n; i++) {
        float f = x->dtype == WEFT_F32 ? ((const float *)p)[i] : weft_bf16_to_f32(((const weft_bf16 *)p)[i]);
        if (!isfinite(f) && !weft_exec_fill_value(nd, f))
            return weft_fail(WEFT_ERR_NUMERIC, "step %lld: node #%d (%s) wrote a non-finite value (%g) to %s "
                             "in a tile", (long long)o->step, node, weft_op_name(nd->op), (double)f, x->name);
    }
    return WEFT_OK;
}

weft_status weft_exec_run_tile(weft_exec *ex, int node, int64_t row0, int64_t nrows, bool accumulate,
                               const weft_run_opts *o)
{
    const weft_graph *g = ex->g;
    if (node < 0 || node >= g->nnodes)
        return weft_fail(WEFT_ERR_ARG, "run tile: node %d is not in the graph (%d nodes)", node, g->nnodes);
    const weft_node *n = &g->nodes[node];
    unsigned bin, pout;
    int64_t rows;
    bool tileable = weft_node_tiling(g, node, &bin, &pout, &rows);
    if (row0 < 0 || nrows < 1 || row0 + nrows > rows)
        return weft_fail(WEFT_ERR_ARG, "run tile: rows [%lld, %lld) of node #%d (%s) are outside [0, %lld)",
                         (long long)row0, (long long)(row0 + nrows), node, weft_op_name(n->op), (long long)rows);
    if (!tileable && nrows != rows)
        return weft_fail(WEFT_ERR_ARG, "run tile: node #%d (%s) cannot be tiled; run it whole (rows [0, %lld))",
                         node, weft_op_name(n->op), (long long)rows);
    /* A view writes nothing: its bytes are its input's. */
    if (n->op == WEFT_OP_RESHAPE && ex->ptr[n->out[0]] == ex->ptr[n->in[0]]) return WEFT_OK;
    if (!ex->tile_values) {
        ex->tile_values = malloc((size_t)g->nvalues * sizeof *ex->tile_values);
        if (!ex->tile_values) return weft_fail(WEFT_ERR_NOMEM, "run tile: out of memory");
        memcpy(ex->tile_values, g->values, (size_t)g->nvalues * sizeof *ex->tile_values);
    }
    /* The kernel's view of the graph: the same nodes (update counters are
     * indexed by node), the operands' values with the tile's rows. Only the
     * node's operands are refreshed: a kernel reads no other value. */
    weft_graph view = *g;
    view.values = ex->tile_values;
    for (int a = 0; a < n->nin; a++) ex->tile_values[n->in[a]] = g->values[n->in[a]];
    for (int j = 0; j < n->nout; j++) ex->tile_values[n->out[j]] = g->values[n->out[j]];
    for (int a = 0; a < n->nin; a++)
        if (bin & (1u << a)) ex->tile_values[n->in[a]].shape.d[0] = nrows;
    for (int j = 0; j < n->nout; j++)
        if (tileable && !(pout & (1u << j))) ex->tile_values[n->out[j]].shape.d[0] = nrows;

    float *sp = scratch_for(ex, tile_scratch(&view, n, pout, accumulate, ex->pool));
    if (!sp) return weft_fail(WEFT_ERR_NOMEM, "run tile: out of memory for node #%d's scratch", node);
    double (*clk)(void) = o->cpu_clock ? weft_thread_cpu_now : weft_now;
    double t0 = clk();
    const weft_kernel_info *ki = weft_exec_kernel(n->op);
    weft_kctx k = { .g = &view, .n = n, .pool = ex->pool, .opts = o, .seed = ex->seed };
    void *dst[WEFT_MAX_OUT];
    for (int a = 0; a < n->nin; a++) {
        int v = n->in[a];
        k.raw_in[a] = k.in[a] = bin & (1u << a) ? at_row(ex, v, row0) : ex->ptr[v];
        if (!ki->raw && weft_exec_widened(&view, n, a)) {
            int64_t m = weft_shape_numel(&view.values[v].shape);
            weft_exec_widen(ex->pool, k.raw_in[a], sp, m);
            k.in[a] = sp;
            sp += pad16(m);
        }
    }
    for (int j = 0; j < n->nout; j++) {
        int v = n->out[j];
        bool part = pout & (1u << j);
        dst[j] = tileable && !part ? at_row(ex, v, row0) : ex->ptr[v];
        k.out[j] = dst[j];
        if (g->values[v].dtype == WEFT_BF16 || (part && accumulate)) {
            k.out[j] = sp;
            sp += pad16(weft_shape_numel(&view.values[v].shape));
        }
    }
    k.scratch = sp;
    ki->run(&k);
    weft_status s = WEFT_OK;
    for (int j = 0; j < n->nout; j++) {
        const weft_value *y = &view.values[n->out[j]];
        int64_t m = weft_shape_numel(&y->shape);
        if ((pout & (1u << j)) && accumulate) add_part(dst[j], y->dtype, k.out[j], m);
        else if (y->dtype == WEFT_BF16) weft_exec_round(ex->pool, k.out[j], dst[j], m);
        if (o->check_finite && !s) s = check_written(y, dst[j], m, node, n, o);
    }
    ex->node_s[node] += clk() - t0;
    /* the copy back to the graph's shapes, for whoever reads it next */
    for (int a = 0; a < n->nin; a++) ex->tile_values[n->in[a]] = g->values[n->in[a]];
    for (int j = 0; j < n->nout; j++) ex->tile_values[n->out[j]] = g->values[n->out[j]];
    return s;
}
