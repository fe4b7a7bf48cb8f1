/* gpt.c — the transformers: gpt-mini, a byte-level GPT (pre-LN blocks, GELU
 * MLP 4x, tied embeddings), and bert-tiny, the same blocks bidirectional with
 * a token-classification head (and a position bias on its attention) — the
 * shapes of the peer's torch_models.py
 * `GPT` and `BERT`. Initialisation
 * follows PyTorch's defaults for the same modules: embeddings N(0,1),
 * linear layers U(-1/sqrt(fan_in), 1/sqrt(fan_in)), layer norms 1 and 0. */
#include "weft/models.h"
#include "models/layers.h"

#include <math.h>
#include <stdio.h>

static int layernorm(weft_graph *g, const char *name, int x, int d)
{
    int64_t dd[1] = { d };
    int gam = weft_m_param(g, name, "weight", 1, dd, WEFT_INIT_ONE, 0);
    int bet = weft_m_param(g, name, "bias", 1, dd, WEFT_INIT_ZERO, 0);
    return weft_g_layernorm(g, x, gam, bet, 1e-5f);
}

weft_status weft_model_build_gpt(weft_graph *g, const weft_gpt_cfg *c, int batch, weft_model_io *io)
{
    const int B = batch, T = c->ctx, D = c->d_model, V = c->vocab, M = B * T;
    const int F = c->ffn > 0 ? c->ffn : 4 * D;
    if (c->layers < 1 || c->heads < 1 || D % c->heads || T < 1 || V < 2 || c->classes < 0)
        return weft_fail(WEFT_ERR_ARG, "gpt: --layers %d, --heads %d, --d-model %d, --ctx %d, --vocab %d do not "
                         "make a model (--heads must divide --d-model)", c->layers, c->heads, D, T, V);
    int64_t idd[2] = { B, T }, yd[1] = { M };
    io->x = weft_g_input(g, "tokens", WEFT_I32, 2, idd);
    io->pos = weft_g_input(g, "positions", WEFT_I32, 2, idd);
    io->y = weft_g_input(g, "targets", WEFT_I32, 1, yd);
    int64_t ted[2] = { V, D }, ped[2] = { T, D };
    float es = c->embed_std > 0 ? c->embed_std : 1.0f;
    int wte = weft_g_param_init(g, "wte.weight", 2, ted, WEFT_INIT_NORMAL, es);
    int wpe = weft_g_param_init(g, "wpe.weight", 2, ped, WEFT_INIT_NORMAL, es);
    int x = weft_g_add(g, weft_g_embedding(g, io->x, wte), weft_g_embedding(g, io->pos, wpe));
    int64_t flat[2] = { M, D }, seq3[3] = { B, T, 3 * D };
    x = weft_g_reshape(g, x, 2, flat);
    if (c->dropout > 0) x = weft_g_dropout(g, x, c->dropout);
    for (int l = 0; l < c->layers; l++) {
        char p[WEFT_NAME_MAX];
        snprintf(p, sizeof p, "blocks.%d.ln1", l);
        int h = layernorm(g, p, x, D);
        snprintf(p, sizeof p, "blocks.%d.qkv", l);
        h = weft_g_reshape(g, weft_m_linear(g, p, h, D, 3 * D, true, 0), 3, seq3);
        h = weft_g_reshape(g, weft_g_attention_pos(g, h, c->heads, !c->bidirectional, c->pos_back, c->pos_ahead), 2, flat);
        snprintf(p, sizeof p, "blocks.%d.proj", l);
        h = weft_m_linear(g, p, h, D, D, true, 0);
        x = weft_g_add(g, x, c->dropout > 0 ? weft_g_dropout(g, h, c->dropout) : h);
        snprintf(p, sizeof p, "blocks.%d.ln2", l);
        h = layernorm(g, p, x, D);
        snprintf(p, sizeof p, "blocks.%d.fc1", l);
        h = weft_g_gelu(g, weft_m_linear(g, p, h, D, F, true, 0));
        snprintf(p, sizeof p, "blocks.%d.fc2", l);
        h = weft_m_linear(g, p, h, F, D, true, 0);
        x = weft_g_add(g, x, c->dropout > 0 ? weft_g_dropout(g, h, c->dropout) : h);
    }
    x = layernorm(g, "lnf", x, D);
    if (c->classes) io->logits = weft_m_linear(g, "head", x, D, c->classes, true, 0);
    else io->logits = weft_g_linear(g, x, wte, -1, 0);   /* tied: logits = lnf(x) wte^T */
    return weft_graph_status(g);
}
