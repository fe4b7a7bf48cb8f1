/* layers.c — the parameter-making layers shared by the presets. */
#include "models/layers.h"

#include <math.h>
#include <stdio.h>

int weft_m_param(weft_graph *g, const char *prefix, const char *what, int nd, const int64_t *d,
                 weft_init init, float scale)
{
    char n[2 * WEFT_NAME_MAX + 2];   /* a longer name is the builder's error */
    snprintf(n, sizeof n, "%s.%s", prefix, what);
    return weft_g_param_init(g, n, nd, d, init, scale);
}

int weft_m_linear(weft_graph *g, const char *name, int x, int in, int out, bool bias, int act)
{
    int64_t wd[2] = { out, in }, bd[1] = { out };
    float bound = 1.0f / sqrtf((float)in);
    int w = weft_m_param(g, name, "weight", 2, wd, WEFT_INIT_UNIFORM, bound);
    int b = bias ? weft_m_param(g, name, "bias", 1, bd, WEFT_INIT_UNIFORM, bound) : -1;
    return weft_g_linear(g, x, w, b, act);
}
