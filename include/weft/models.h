/* weft/models.h — the model zoo: presets that build a forward graph. */
#ifndef WEFT_MODELS_H
#define WEFT_MODELS_H

#include "weft/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The values a trainer touches. */
typedef struct {
    int x;        /* input: images (B,1,28,28) f32, or token ids (B,T) i32     */
    int y;        /* labels (B) or next-token targets (B*T), i32              */
    int pos;      /* language models: positions (B,T) i32, 0..T-1; else -1    */
    int logits;   /* (B, classes)                                              */
    int loss;     /* scalar                                                    */
} weft_model_io;

/* A preset's size, where the user changes it (0: the preset's own). Only
 * models with those dimensions take them (gpt: all five). */
typedef struct { int layers, heads, d_model, ctx, vocab; } weft_model_size;

/* What a preset trains on; the trainer picks its data from it. */
typedef enum { WEFT_TASK_IMAGES, WEFT_TASK_TEXT } weft_task_kind;

typedef struct {
    const char *name;
    const char *summary;
    weft_status (*build)(weft_graph *g, int batch, const weft_model_size *size, weft_model_io *io);
    weft_task_kind task;        /* Fashion-MNIST images or Brown bytes        */
    int batch;                  /* default batch (the peer's)                 */
    weft_optimizer optimizer;   /* default optimizer (the peer's)             */
} weft_model_preset;

/* A GPT's shape: the gpt-mini preset is vocab 256, 4 layers, 4 heads,
 * d 256, context 128; GPT-2 small is 50257, 12, 12, 768, 1024. */
typedef struct { int vocab, layers, heads, d_model, ctx; } weft_gpt_cfg;
weft_status weft_model_build_gpt(weft_graph *g, const weft_gpt_cfg *c, int batch, weft_model_io *io);

/* NULL-terminated table of presets. */
const weft_model_preset *weft_model_presets(void);
/* Looks a preset up by name; the error lists the valid names. */
weft_status weft_model_find(const char *name, const weft_model_preset **out);

/* Builds the forward graph of `name` for batch `batch`, marks the logits and
 * loss to be kept, and returns their ids. */
weft_status weft_model_build(weft_graph *g, const char *name, int batch, weft_model_io *io);
/* The same at a size other than the preset's (NULL: the preset's). */
weft_status weft_model_build_sized(weft_graph *g, const char *name, int batch, const weft_model_size *size,
                                   weft_model_io *io);

#ifdef __cplusplus
}
#endif
#endif
