/* store.c — persistent tensors by name: parameters and optimizer state. */
#include "weft/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void weft_store_init(weft_store *s) { memset(s, 0, sizeof *s); }

void weft_store_free(weft_store *s)
{
    for (int i = 0; i < s->n; i++) weft_free(s->t[i].data);
    free(s->t);
    memset(s, 0, sizeof *s);
}

weft_tensor *weft_store_find(weft_store *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

weft_status weft_store_get(weft_store *s, const char *name, weft_dtype t,
                           const weft_shape *shape, weft_tensor **out)
{
    char a[64], b[64];
    weft_tensor *x = weft_store_find(s, name);
    if (x) {
        if (x->dtype != t || !weft_shape_eq(&x->shape, shape))
            return weft_fail(WEFT_ERR_SHAPE, "tensor %s: holds %s %s, the graph wants %s %s", name,
                             weft_dtype_name(x->dtype), weft_shape_str(&x->shape, a, sizeof a),
                             weft_dtype_name(t), weft_shape_str(shape, b, sizeof b));
        *out = x;
        return WEFT_OK;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        weft_tensor *nt = realloc(s->t, (size_t)cap * sizeof *nt);
        if (!nt) return weft_fail(WEFT_ERR_NOMEM, "store: out of memory");
        s->t = nt; s->cap = cap;
    }
    x = &s->t[s->n];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", name);
    x->dtype = t;
    x->shape = *shape;
    x->nbytes = (size_t)weft_shape_numel(shape) * weft_dtype_size(t);
    x->data = weft_calloc(x->nbytes);
    if (!x->data) return weft_fail(WEFT_ERR_NOMEM, "store: out of memory for %s", name);
    s->n++;
    *out = x;
    return WEFT_OK;
}

/* FNV-1a of the name: the RNG stream of a parameter's initial values, so a
 * weight's initial values depend on (seed, its name) alone. */
static uint64_t name_stream(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ull; }
    return h;
}

weft_status weft_store_bind(weft_store *s, const weft_graph *g, uint64_t seed)
{
    for (int v = 0; v < g->nvalues; v++) {
        const weft_value *x = &g->values[v];
        if (x->role != WEFT_ROLE_PARAM && x->role != WEFT_ROLE_STATE) continue;
        bool fresh = weft_store_find(s, x->name) == NULL;
        weft_tensor *t;
        WEFT_TRY(weft_store_get(s, x->name, x->dtype, &x->shape, &t));
        if (!fresh || x->init == WEFT_INIT_NONE || x->init == WEFT_INIT_ZERO) continue;
        weft_rng_key key = weft_rng_key_make(seed, 0, name_stream(x->name));
        int64_t n = weft_shape_numel(&x->shape);
        for (int64_t i = 0; i < n; i++) {
            float u;
            if (x->init == WEFT_INIT_ONE) {
                u = 1.0f;
            } else if (x->init == WEFT_INIT_NORMAL) {
                /* Box-Muller from two draws of the element's own stream pair */
                double u1 = ((double)(weft_rng_u32(key, (uint32_t)(2 * i)) >> 8) + 0.5) / 16777216.0;
                double u2 = (double)(weft_rng_u32(key, (uint32_t)(2 * i + 1)) >> 8) / 16777216.0;
                u = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2)) * x->init_bound;
            } else {
                u = (2.0f * weft_rng_unit(key, (uint32_t)i) - 1.0f) * x->init_bound;
            }
            if (x->dtype == WEFT_F32) ((float *)t->data)[i] = u;
            else ((weft_bf16 *)t->data)[i] = weft_bf16_from_f32(u);
        }
    }
    return WEFT_OK;
}
