/* layers.h — the parameter-making layers every preset builds from (models
 * only): names as PyTorch's modules give them ("<name>.weight", ".bias"),
 * initialisation as PyTorch's defaults. */
#ifndef WEFT_MODELS_LAYERS_H
#define WEFT_MODELS_LAYERS_H

#include "weft/graph.h"

/* The parameter "<prefix>.<what>" with the given initialisation. */
int weft_m_param(weft_graph *g, const char *prefix, const char *what, int nd, const int64_t *d,
                 weft_init init, float scale);
/* nn.Linear(in, out): weight (out, in) and bias (out), both
 * U(-1/sqrt(in), 1/sqrt(in)); act fused after the bias (linear's attr). */
int weft_m_linear(weft_graph *g, const char *name, int x, int in, int out, bool bias, int act);

#endif
