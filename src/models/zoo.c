/* zoo.c — model presets. Shapes and initialisation follow PyTorch's nn.Linear
 * and nn.Conv2d (weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in))), so
 * the peer scripts build the same models. */
#include "weft/models.h"
#include "models/layers.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int conv(weft_graph *g, const char *name, int x, int cin, int cout, int k, int pad, int act)
{
    float bound = 1.0f / sqrtf((float)(cin * k * k));
    int64_t wd[4] = { cout, cin, k, k }, bd[1] = { cout };
    int w = weft_m_param(g, name, "weight", 4, wd, WEFT_INIT_UNIFORM, bound);
    int b = weft_m_param(g, name, "bias", 1, bd, WEFT_INIT_UNIFORM, bound);
    return weft_g_conv2d(g, x, w, b, 1, pad, act);
}

static void io_inputs(weft_graph *g, int batch, weft_model_io *io)
{
    io->pos = io->ids = -1;
    int64_t xd[4] = { batch, 1, 28, 28 }, yd[1] = { batch };
    io->x = weft_g_input(g, "images", WEFT_F32, 4, xd);
    io->y = weft_g_input(g, "labels", WEFT_I32, 1, yd);
}

/* A fixed-size preset refuses size changes, naming the flag. */
static weft_status fixed_size(const char *name, const weft_model_size *z)
{
    if (!z) return WEFT_OK;
    const char *flag = z->layers ? "--layers" : z->heads ? "--heads" : z->d_model ? "--d-model"
                     : z->ctx ? "--ctx" : z->vocab ? "--vocab" : NULL;
    return flag ? weft_fail(WEFT_ERR_ARG, "%s: the %s preset has a fixed size", flag, name) : WEFT_OK;
}

/* mlp: 784-256-256-10, ReLU. */
static weft_status build_mlp(weft_graph *g, int batch, const weft_model_size *z, weft_model_io *io)
{
    WEFT_TRY(fixed_size("mlp", z));
    io_inputs(g, batch, io);
    int64_t fd[2] = { batch, 784 };
    int h = weft_g_reshape(g, io->x, 2, fd);
    h = weft_m_linear(g, "fc1", h, 784, 256, true, 1);
    h = weft_m_linear(g, "fc2", h, 256, 256, true, 1);
    io->logits = weft_m_linear(g, "fc3", h, 256, 10, true, 0);
    return weft_graph_status(g);
}

/* cnn: conv3x3(1->32, pad 1) ReLU maxpool2, conv3x3(32->64, pad 1) ReLU
 * maxpool2, fc(3136->128) ReLU, fc(128->10). */
static weft_status build_cnn(weft_graph *g, int batch, const weft_model_size *z, weft_model_io *io)
{
    WEFT_TRY(fixed_size("cnn", z));
    io_inputs(g, batch, io);
    int h = conv(g, "conv1", io->x, 1, 32, 3, 1, 1);
    h = weft_g_maxpool(g, h, 2, 2);
    h = conv(g, "conv2", h, 32, 64, 3, 1, 1);
    h = weft_g_maxpool(g, h, 2, 2);
    int64_t fd[2] = { batch, 64 * 7 * 7 };
    h = weft_g_reshape(g, h, 2, fd);
    h = weft_m_linear(g, "fc1", h, 3136, 128, true, 1);
    io->logits = weft_m_linear(g, "fc2", h, 128, 10, true, 0);
    return weft_graph_status(g);
}

static weft_status build_transformer(weft_graph *g, int batch, const weft_model_size *z, weft_model_io *io,
                                     weft_gpt_cfg c)
{
    io->ids = -1;
    if (z) {
        if (z->vocab) c.vocab = z->vocab;
        if (z->layers) c.layers = z->layers;
        if (z->heads) c.heads = z->heads;
        if (z->d_model) c.d_model = z->d_model;
        if (z->ctx) c.ctx = z->ctx;
    }
    return weft_model_build_gpt(g, &c, batch, io);
}

static weft_status build_gpt_mini(weft_graph *g, int batch, const weft_model_size *z, weft_model_io *io)
{
    return build_transformer(g, batch, z, io, (weft_gpt_cfg){ 256, 4, 4, 256, 128, false, 0, 0, 0, 0, 0, 0 });
}

/* bert-tiny's embeddings start N(0, 0.02^2), BERT's initializer range
 * (Devlin et al. 2019): from N(0,1) the rare words' rows barely move off
 * their random start in a few thousand steps (measured: 91.9% tagging
 * accuracy after 10 epochs, at the most-frequent-tag baseline). */
#define BERT_EMBED_STD 0.02f
#define BERT_DROPOUT 0.1f
/* bert-tiny's attention carries a linear position bias (ALiBi, Press et al.
 * 2022), one slope per direction: head 0 is pulled to the words before each
 * token, head 1 to the words after. With learned absolute positions alone
 * the encoder never learns to look at its neighbours in a tagging run of a
 * few thousand steps: measured in weft and in PyTorch alike, attention
 * stays spread over ~20 tokens at no preferred offset, and the tagger ends at
 * the most-frequent-tag accuracy on known words (93.5% overall after 10
 * epochs). AdamW moves a weight by about lr per step, far too little to grow
 * the large position-dependent scores locality needs. With the bias the
 * same model and recipe tag 95.8% after one epoch in PyTorch. */
#define BERT_POS_BACK 1.0f
#define BERT_POS_AHEAD 8.0f

static weft_status build_bert_tiny(weft_graph *g, int batch, const weft_model_size *z, weft_model_io *io)
{
    return build_transformer(g, batch, z, io, (weft_gpt_cfg){ 8192, 2, 2, 128, 128, true, 512, 12, BERT_EMBED_STD, BERT_DROPOUT,
                                                                BERT_POS_BACK, BERT_POS_AHEAD });
}

static const weft_model_preset presets[] = {
    { "mlp", "784-256-256-10 ReLU multilayer perceptron (Fashion-MNIST)", build_mlp,
      WEFT_TASK_IMAGES, 64, WEFT_OPT_SGD, 0.05, 0.9, 0 },
    { "cnn", "2 conv3x3 + maxpool, fc 3136-128-10 (Fashion-MNIST)", build_cnn,
      WEFT_TASK_IMAGES, 64, WEFT_OPT_SGD, 0.05, 0.9, 0 },
    { "gpt-mini", "byte GPT: 4 layers, 4 heads, d 256, context 128, tied embeddings (Brown bytes)",
      build_gpt_mini, WEFT_TASK_TEXT, 16, WEFT_OPT_ADAMW, 1e-3, -1, 0 },
    { "lstm-lm", "byte LSTM: embedding 128, 2 layers of hidden 512, sequence 64 (Brown bytes)",
      weft_model_build_lstm, WEFT_TASK_TEXT, 16, WEFT_OPT_ADAMW, 2e-3, -1, 0 },
    { "bert-tiny", "encoder: 8192 words, 2 layers, 2 heads, d 128, FFN 512, 128 tokens; tags (Brown POS)",
      build_bert_tiny, WEFT_TASK_TAGS, 32, WEFT_OPT_ADAMW, 2e-3, -1, 0.01 },
    { "dlrm-small", "DLRM: bottom 13-512-256-64-16, 26 tables x 100000 x 16, dot interaction, top "
      "367-512-256-1 (synthetic clicks)", weft_model_build_dlrm, WEFT_TASK_CLICKS, 128, WEFT_OPT_ADAMW, 2e-3, -1, 0 },
    { "resnet", "ResNet-20: 3 stages x 3 basic blocks (16, 32, 64), batch norm (Fashion-MNIST)",
      weft_model_build_resnet, WEFT_TASK_IMAGES, 128, WEFT_OPT_SGD, 0.1, 0.9, 5e-4 },
    { NULL, NULL, NULL, WEFT_TASK_IMAGES, 0, WEFT_OPT_SGD, 0, 0, 0 },
};

const weft_model_preset *weft_model_presets(void) { return presets; }

weft_status weft_model_find(const char *name, const weft_model_preset **out)
{
    char valid[512] = "";
    for (const weft_model_preset *p = presets; p->name; p++) {
        if (strcmp(p->name, name) == 0) { *out = p; return WEFT_OK; }
        snprintf(valid + strlen(valid), sizeof valid - strlen(valid), "%s%s", p == presets ? "" : ", ", p->name);
    }
    return weft_fail(WEFT_ERR_ARG, "--model: unknown model '%s' (valid: %s)", name, valid);
}

weft_status weft_model_build(weft_graph *g, const char *name, int batch, weft_model_io *io)
{
    return weft_model_build_sized(g, name, batch, NULL, io);
}

weft_status weft_model_build_sized(weft_graph *g, const char *name, int batch, const weft_model_size *size,
                                   weft_model_io *io)
{
    const weft_model_preset *p;
    WEFT_TRY(weft_model_find(name, &p));
    if (batch < 1) return weft_fail(WEFT_ERR_ARG, "--batch must be at least 1");
    io->loss = -1;
    WEFT_TRY(p->build(g, batch, size, io));
    if (io->loss < 0) io->loss = weft_g_xent(g, io->logits, io->y);
    WEFT_TRY(weft_graph_status(g));
    g->values[io->logits].keep = true;
    g->values[io->loss].keep = true;
    return WEFT_OK;
}
