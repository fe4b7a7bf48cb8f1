/* weft/models.h — the model zoo: presets that build a forward graph. */
#ifndef WEFT_MODELS_H
#define WEFT_MODELS_H

#include "weft/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The values a trainer touches. */
typedef struct {
    int x;        /* input: images (B,1,28,28) f32, token ids (B,T) i32, or
                     click models' dense features (B,13) f32                   */
    int y;        /* labels (B), per-token targets (B*T) i32 (-1: ignored), or
                     click labels (B) f32                                       */
    int pos;      /* transformers: positions (B,T) i32, 0..T-1; else -1       */
    int ids;      /* click models: categorical ids (B,26) i32, each table's
                     rows numbered from table*rows; else -1                     */
    int logits;   /* (B, classes), (B*T, classes), or click logits (B)          */
    int loss;     /* scalar: cross-entropy, or binary cross-entropy (clicks)    */
} weft_model_io;

/* A preset's size, where the user changes it (0: the preset's own). Only
 * models with those dimensions take them (gpt: all five). */
typedef struct { int layers, heads, d_model, ctx, vocab; } weft_model_size;

/* What a preset trains on; the trainer picks its data from it. */
typedef enum { WEFT_TASK_IMAGES, WEFT_TASK_TEXT, WEFT_TASK_TAGS, WEFT_TASK_CLICKS } weft_task_kind;

typedef struct {
    const char *name;
    const char *summary;
    weft_status (*build)(weft_graph *g, int batch, const weft_model_size *size, weft_model_io *io);
    weft_task_kind task;        /* Fashion-MNIST, Brown bytes, Brown tags, clicks */
    int batch;                  /* default batch (the peer's)                 */
    weft_optimizer optimizer;   /* default optimizer (the peer's)             */
    double lr;                  /* its default learning rate (0: the optimizer's) */
    double momentum;            /* SGD momentum (<0: 0.9)                     */
    double weight_decay;
} weft_model_preset;

/* A transformer's shape: the gpt-mini preset is vocab 256, 4 layers, 4
 * heads, d 256, context 128 (causal, FFN 4d, tied head); GPT-2 small is
 * 50257, 12, 12, 768, 1024. bert-tiny is 8192, 2, 2, 128, 128, bidirectional,
 * FFN 512, a 12-class token-classification head, a directional position
 * bias on its attention (zoo.c says why). */
typedef struct {
    int vocab, layers, heads, d_model, ctx;
    bool bidirectional;   /* an encoder: every position sees every other     */
    int ffn;              /* MLP width (0: 4 d_model)                        */
    int classes;          /* 0: logits over the vocabulary through the tied
                             embedding; else a linear head to this many     */
    float embed_std;      /* token and position embeddings N(0, embed_std^2);
                             0: 1, PyTorch's nn.Embedding default           */
    float dropout;        /* on the embeddings and on each residual branch
                             (attention projection, MLP) in training; 0: none */
    float pos_back, pos_ahead; /* attention's linear position bias
                             (weft_g_attention_pos): slopes on earlier / later
                             keys for even heads, mirrored for odd; 0, 0: none */
} weft_gpt_cfg;
weft_status weft_model_build_gpt(weft_graph *g, const weft_gpt_cfg *c, int batch, weft_model_io *io);

/* The builders behind the presets (nets.c). */
weft_status weft_model_build_lstm(weft_graph *g, int batch, const weft_model_size *z, weft_model_io *io);
weft_status weft_model_build_dlrm(weft_graph *g, int batch, const weft_model_size *z, weft_model_io *io);
weft_status weft_model_build_resnet(weft_graph *g, int batch, const weft_model_size *z, weft_model_io *io);

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
