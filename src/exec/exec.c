/* exec.c — runs a planned graph node by node out of one arena.
 *
 * bf16 storage, fp32 units: a float input stored as bf16 is widened into an
 * fp32 scratch buffer before its kernel runs, and a bf16 output is computed
 * into fp32 scratch and rounded once (nearest even) on the way out — the
 * 16-bit FPU of DESIGN.md section 3: bf16 in memory, fp32 inside the unit. */
#include "exec/exec_int.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Debian's OpenBLAS exports this; declared here so any cblas.h works. */
void openblas_set_num_threads(int n);

static int64_t node_scratch(const weft_graph *g, const weft_node *n, const weft_pool *pool)
{
    /* raw kernels read their inputs as stored; every kernel writes fp32 */
    bool raw = weft_exec_kernel(n->op)->raw;
    int64_t f = 0;
    for (int i = 0; i < n->nin; i++)
        if (!raw && weft_exec_widened(g, n, i)) f += (weft_shape_numel(&g->values[n->in[i]].shape) + 15) & ~15;
    for (int j = 0; j < n->nout; j++)
        if (g->values[n->out[j]].dtype == WEFT_BF16)
            f += (weft_shape_numel(&g->values[n->out[j]].shape) + 15) & ~15;
    return f + weft_exec_op_scratch(g, n, pool);
}

/* Where value v's bytes are: bound elsewhere, in the store, in the arena, or
 * (a view) wherever its base's are. */
static void *place_of(const weft_exec *ex, int v)
{
    const weft_value *x = &ex->g->values[v];
    if (ex->bound[v]) return ex->bound[v];
    if (x->role == WEFT_ROLE_PARAM || x->role == WEFT_ROLE_STATE) return ex->home[v];
    int r = ex->root[v];
    if (r != v) return ex->ptr[r] ? ex->ptr[r] : place_of(ex, r);
    return ex->arena ? ex->arena + x->offset : NULL;
}

/* Recomputes the bytes of every transient value (a new arena) and of every
 * view, bases first (a view's id is always after its base's). */
static void place_transients(weft_exec *ex)
{
    const weft_graph *g = ex->g;
    for (int v = 0; v < g->nvalues; v++) {
        const weft_value *x = &g->values[v];
        bool persistent = x->role == WEFT_ROLE_PARAM || x->role == WEFT_ROLE_STATE;
        if (ex->bound[v]) ex->ptr[v] = ex->bound[v];
        else if (!persistent) ex->ptr[v] = place_of(ex, v);
    }
}

static weft_status create(weft_exec **out, weft_graph *g, weft_store *store, int threads, uint64_t seed,
                          bool shared)
{
    *out = NULL;
    if (threads < 1) return weft_fail(WEFT_ERR_ARG, "--threads must be at least 1");
    if (!g->planned) WEFT_TRY(weft_pass_plan_memory(g));
    weft_exec *ex = calloc(1, sizeof *ex);
    if (!ex) return weft_fail(WEFT_ERR_NOMEM, "exec: out of memory");
    ex->g = g; ex->store = store; ex->seed = seed;
    ex->ptr = calloc((size_t)g->nvalues, sizeof *ex->ptr);
    ex->bound = calloc((size_t)g->nvalues, sizeof *ex->bound);
    ex->home = calloc((size_t)g->nvalues, sizeof *ex->home);
    ex->root = malloc((size_t)g->nvalues * sizeof *ex->root);
    ex->views = malloc((size_t)g->nvalues * sizeof *ex->views);
    ex->next_view = malloc((size_t)g->nvalues * sizeof *ex->next_view);
    ex->node_s = calloc((size_t)g->nnodes + 1, sizeof *ex->node_s);
    if (!shared) ex->arena = ex->own_arena = weft_calloc((size_t)g->arena_bytes);
    weft_status s = weft_pool_create(&ex->pool, threads);
    for (int i = 0; i < g->nnodes && !s; i++) {
        int64_t f = node_scratch(g, &g->nodes[i], ex->pool);
        if (f > ex->scratch_floats) ex->scratch_floats = f;
    }
    ex->scratch = weft_alloc((size_t)(ex->scratch_floats + 16) * sizeof(float));
    if (!s && (!ex->ptr || !ex->bound || !ex->home || !ex->root || !ex->views || !ex->next_view || !ex->node_s || (!shared && !ex->arena) || !ex->scratch))
        s = weft_fail(WEFT_ERR_NOMEM, "exec: out of memory for a %lld-byte arena", (long long)g->arena_bytes);
    for (int v = 0; v < g->nvalues && !s; v++) {
        const weft_value *x = &g->values[v];
        int r = v;
        while (g->values[r].alias_of >= 0) r = g->values[r].alias_of;
        ex->root[v] = r;
        ex->views[v] = -1;
        ex->next_view[v] = -1;
        if (r != v) { ex->next_view[v] = ex->views[r]; ex->views[r] = v; }
        if (x->role == WEFT_ROLE_PARAM || x->role == WEFT_ROLE_STATE) {
            weft_tensor *t = weft_store_find(store, x->name);
            if (!t) s = weft_fail(WEFT_ERR_ARG, "exec: %s is not in the store (bind it first)", x->name);
            else if (t->dtype != x->dtype || !weft_shape_eq(&t->shape, &x->shape))
                s = weft_fail(WEFT_ERR_SHAPE, "exec: stored %s does not match the graph", x->name);
            else ex->ptr[v] = ex->home[v] = t->data;
        }
    }
    /* Transient values, and views: a view shares its base's bytes, whether
     * the base is in the arena or the store (a reshaped parameter). */
    if (!s) place_transients(ex);
    if (s) { weft_exec_free(ex); return s; }
    /* One owner of the cores: the pool splits GEMMs itself, each block a
     * single-threaded sgemm, so OpenBLAS's spinning threads never compete
     * with the pool (DESIGN.md section 9). */
    openblas_set_num_threads(1);
    *out = ex;
    return WEFT_OK;
}

weft_status weft_exec_create(weft_exec **out, weft_graph *g, weft_store *store, int threads, uint64_t seed)
{
    return create(out, g, store, threads, seed, false);
}

weft_status weft_exec_create_shared(weft_exec **out, weft_graph *g, weft_store *store, int threads, uint64_t seed)
{
    return create(out, g, store, threads, seed, true);
}

void weft_exec_set_arena(weft_exec *ex, void *arena)
{
    if (ex->arena == arena) return;
    ex->arena = arena;
    place_transients(ex);
}

void weft_exec_bind(weft_exec *ex, int v, void *p)
{
    ex->bound[v] = p;
    ex->ptr[v] = place_of(ex, v);
    /* its views follow it */
    for (int u = ex->views[ex->root[v]]; u >= 0; u = ex->next_view[u])
        if (!ex->bound[u]) ex->ptr[u] = place_of(ex, u);
}

void weft_exec_free(weft_exec *ex)
{
    if (!ex) return;
    weft_pool_destroy(ex->pool);
    weft_free(ex->own_arena);
    weft_free(ex->scratch);
    free(ex->ptr);
    free(ex->bound);
    free(ex->home);
    free(ex->root);
    free(ex->views);
    free(ex->next_view);
    free(ex->node_s);
    free(ex->tile_values);
    weft_free(ex->tile_scratch);
    free(ex);
}

void *weft_exec_ptr(weft_exec *ex, int v) { return ex->ptr[v]; }
int64_t weft_exec_arena_bytes(const weft_exec *ex) { return ex->g->arena_bytes; }
int64_t weft_exec_scratch_bytes(const weft_exec *ex) { return ex->scratch_floats * (int64_t)sizeof(float); }
const double *weft_exec_node_seconds(const weft_exec *ex) { return ex->node_s; }

/* ---- conversions, split across the pool ------------------------------------ */

typedef struct { const void *src; void *dst; } conv_ctx;

static void widen_chunk(void *c, int64_t b, int64_t e)
{
    const conv_ctx *x = c;
    weft_bf16_to_f32_n((const weft_bf16 *)x->src + b, (float *)x->dst + b, e - b);
}

static void round_chunk(void *c, int64_t b, int64_t e)
{
    const conv_ctx *x = c;
    weft_bf16_from_f32_n((const float *)x->src + b, (weft_bf16 *)x->dst + b, e - b);
}

void weft_exec_widen(weft_pool *p, const weft_bf16 *src, float *dst, int64_t n)
{
    conv_ctx c = { src, dst };
    weft_pool_for(p, n, 1 << 15, widen_chunk, &c);
}

void weft_exec_round(weft_pool *p, const float *src, weft_bf16 *dst, int64_t n)
{
    conv_ctx c = { src, dst };
    weft_pool_for(p, n, 1 << 15, round_chunk, &c);
}

weft_status weft_exec_feed(weft_exec *ex, int v, const void *src, weft_dtype src_dtype)
{
    const weft_value *x = &ex->g->values[v];
    int64_t n = weft_shape_numel(&x->shape);
    if (src_dtype == x->dtype) {
        memcpy(ex->ptr[v], src, (size_t)n * weft_dtype_size(x->dtype));
        return WEFT_OK;
    }
    if (src_dtype == WEFT_F32 && x->dtype == WEFT_BF16) {
        weft_exec_round(ex->pool, src, ex->ptr[v], n);
        return WEFT_OK;
    }
    return weft_fail(WEFT_ERR_ARG, "feed %s: cannot convert %s to %s", x->name,
                     weft_dtype_name(src_dtype), weft_dtype_name(x->dtype));
}

weft_status weft_exec_read(weft_exec *ex, int v, float *dst)
{
    const weft_value *x = &ex->g->values[v];
    int64_t n = weft_shape_numel(&x->shape);
    if (x->dtype == WEFT_F32) memcpy(dst, ex->ptr[v], (size_t)n * sizeof(float));
    else if (x->dtype == WEFT_BF16) weft_exec_widen(ex->pool, ex->ptr[v], dst, n);
    else if (x->dtype == WEFT_I32) for (int64_t i = 0; i < n; i++) dst[i] = (float)((int32_t *)ex->ptr[v])[i];
    else return weft_fail(WEFT_ERR_ARG, "read %s: not a number type", x->name);
    return WEFT_OK;
}

static weft_status check_finite(weft_exec *ex, const weft_node *n, int idx, const weft_run_opts *o)
{
    for (int j = 0; j < n->nout; j++) {
        const weft_value *x = &ex->g->values[n->out[j]];
        int64_t m = weft_shape_numel(&x->shape);
        for (int64_t i = 0; i < m; i++) {
            float f = x->dtype == WEFT_F32 ? ((float *)ex->ptr[n->out[j]])[i]
                                            : weft_bf16_to_f32(((weft_bf16 *)ex->ptr[n->out[j]])[i]);
            if (!isfinite(f) && !weft_exec_fill_value(n, f))
                return weft_fail(WEFT_ERR_NUMERIC, "step %lld: node #%d (%s) wrote a non-finite value (%g) "
                                 "to %s at element %lld", (long long)o->step, idx, weft_op_name(n->op),
                                 (double)f, x->name, (long long)i);
        }
    }
    return WEFT_OK;
}

weft_status weft_exec_run(weft_exec *ex, const weft_run_opts *o)
{
    const weft_graph *g = ex->g;
    double (*clk)(void) = o->cpu_clock ? weft_thread_cpu_now : weft_now;
    for (int i = 0; i < g->nnodes; i++) {
        const weft_node *n = &g->nodes[i];
        if (!(n->phase & o->phases) || (o->stage && n->stage != o->stage - 1)) continue;
        /* A view writes nothing: its bytes are its input's. */
        if (n->op == WEFT_OP_RESHAPE && ex->ptr[n->out[0]] == ex->ptr[n->in[0]]) continue;
        double t0 = clk();
        const weft_kernel_info *ki = weft_exec_kernel(n->op);
        weft_kctx k = { .g = g, .n = n, .pool = ex->pool, .opts = o, .seed = ex->seed };
        float *sp = ex->scratch;
        for (int a = 0; a < n->nin; a++) {
            int v = n->in[a];
            k.raw_in[a] = k.in[a] = ex->ptr[v];
            if (!ki->raw && weft_exec_widened(g, n, a)) {
                int64_t m = weft_shape_numel(&g->values[v].shape);
                weft_exec_widen(ex->pool, ex->ptr[v], sp, m);
                k.in[a] = sp;
                sp += (m + 15) & ~15;
            }
        }
        for (int j = 0; j < n->nout; j++) {
            int v = n->out[j];
            k.out[j] = ex->ptr[v];
            if (g->values[v].dtype == WEFT_BF16) {
                k.out[j] = sp;
                sp += (weft_shape_numel(&g->values[v].shape) + 15) & ~15;
            }
        }
        /* A view (reshape) of an fp32 value writes nothing: same bytes. */
        k.scratch = sp;
        ki->run(&k);
        for (int j = 0; j < n->nout; j++) {
            int v = n->out[j];
            if (g->values[v].dtype == WEFT_BF16)
                weft_exec_round(ex->pool, k.out[j], ex->ptr[v], weft_shape_numel(&g->values[v].shape));
        }
        ex->node_s[i] += clk() - t0;
        if (o->check_finite) WEFT_TRY(check_finite(ex, n, i, o));
    }
    return WEFT_OK;
}
