/* rdu_test_util.h — what the dataflow tests share: a zoo model at a small
 * size, built as a training graph (forward, autodiff, optimizer, verified,
 * planned). Include after test_util.h. */
#ifndef WEFT_RDU_TEST_UTIL_H
#define WEFT_RDU_TEST_UTIL_H

#include "weft/models.h"

typedef struct { const char *name; int batch; weft_model_size size; weft_optimizer opt; } zoo_case;

static weft_graph *train_graph(const zoo_case *z, weft_precision prec)
{
    weft_graph *g = weft_graph_new();
    weft_model_io io;
    weft_status s = weft_model_build_sized(g, z->name, z->batch, &z->size, &io);
    if (!s) s = weft_pass_precision(g, prec);
    if (!s) s = weft_pass_autodiff(g, io.loss);
    if (!s) s = weft_pass_optimizer(g, z->opt);
    if (!s) s = weft_graph_verify(g);
    if (!s) s = weft_pass_plan_memory(g);
    CHECKF(!s, "%s: %s", z->name, weft_errmsg());
    if (s) { weft_graph_free(g); return NULL; }
    return g;
}

#endif
