/* nets.c — lstm-lm, dlrm-small and resnet: the shapes of the peer's
 * torch_models.py `LSTMLM` and `DLRM`, and a ResNet-20-style network for
 * 28x28 images. Parameter names follow the PyTorch modules', so fixtures
 * and checkpoints line up; initialisation follows PyTorch's defaults unless
 * a comment says otherwise. */
#include "weft/models.h"
#include "models/layers.h"

#include <math.h>
#include <stdio.h>

/* ---- lstm-lm: bytes -> embedding 128 -> LSTM layers (hidden 512) -> linear ---- */

weft_status weft_model_build_lstm(weft_graph *g, int batch, const weft_model_size *z, weft_model_io *io)
{
    int L = z && z->layers ? z->layers : 2, H = z && z->d_model ? z->d_model : 512;
    int T = z && z->ctx ? z->ctx : 64, V = z && z->vocab ? z->vocab : 256, E = 128, B = batch;
    if (z && z->heads) return weft_fail(WEFT_ERR_ARG, "--heads: lstm-lm has no attention heads");
    if (L < 1 || H < 1 || T < 1 || V < 2)
        return weft_fail(WEFT_ERR_ARG, "lstm-lm: --layers %d, --d-model %d, --ctx %d, --vocab %d do not make a model",
                         L, H, T, V);
    int64_t idd[2] = { B, T }, yd[1] = { (int64_t)B * T }, ed[2] = { V, E };
    io->x = weft_g_input(g, "tokens", WEFT_I32, 2, idd);
    io->y = weft_g_input(g, "targets", WEFT_I32, 1, yd);
    io->pos = io->ids = -1;
    int emb = weft_g_param_init(g, "emb.weight", 2, ed, WEFT_INIT_NORMAL, 1.0f);
    /* (B,T,E) -> time-major (T,B,E), as the recurrence runs over time */
    int h = weft_g_transpose(g, weft_g_embedding(g, io->x, emb), 0, 1);
    float bound = 1.0f / sqrtf((float)H);    /* nn.LSTM: every weight U(-1/sqrt(H), 1/sqrt(H)) */
    for (int l = 0; l < L; l++) {
        char n[WEFT_NAME_MAX];
        int in = l ? H : E;
        int64_t wi[2] = { 4 * H, in }, wh[2] = { 4 * H, H }, bd[1] = { 4 * H };
        int p[4];
        snprintf(n, sizeof n, "weight_ih_l%d", l);
        p[0] = weft_m_param(g, "lstm", n, 2, wi, WEFT_INIT_UNIFORM, bound);
        snprintf(n, sizeof n, "weight_hh_l%d", l);
        p[1] = weft_m_param(g, "lstm", n, 2, wh, WEFT_INIT_UNIFORM, bound);
        snprintf(n, sizeof n, "bias_ih_l%d", l);
        p[2] = weft_m_param(g, "lstm", n, 1, bd, WEFT_INIT_UNIFORM, bound);
        snprintf(n, sizeof n, "bias_hh_l%d", l);
        p[3] = weft_m_param(g, "lstm", n, 1, bd, WEFT_INIT_UNIFORM, bound);
        h = weft_g_lstm(g, h, p[0], p[1], p[2], p[3]);
    }
    int64_t flat[2] = { (int64_t)B * T, H };
    h = weft_g_reshape(g, weft_g_transpose(g, h, 0, 1), 2, flat);
    io->logits = weft_m_linear(g, "out", h, H, V, true, 0);
    return weft_graph_status(g);
}

/* ---- dlrm-small ------------------------------------------------------------------
 * bottom MLP 13-512-256-64-D (ReLU after each), 26 tables of `rows` x D held
 * as one (26*rows, D) tensor "emb.weight" (table t is rows [t*rows,
 * (t+1)*rows): the data numbers ids that way), one id per table and sample
 * (a bag of one; multi-hot data would give (B,26,L) ids), dot interaction,
 * top MLP (D + 27*26/2 = 367)-512-256-1, binary cross-entropy with logits.
 * The tables start U(-1/sqrt(rows), 1/sqrt(rows)), as the DLRM reference's. */

weft_status weft_model_build_dlrm(weft_graph *g, int batch, const weft_model_size *z, weft_model_io *io)
{
    int D = z && z->d_model ? z->d_model : 16, rows = z && z->vocab ? z->vocab : 100000, B = batch;
    const int NT = 26, ND = 13;
    if (z && (z->layers || z->heads || z->ctx))
        return weft_fail(WEFT_ERR_ARG, "%s: dlrm-small takes only --d-model (embedding width) and --vocab "
                         "(rows per table)", z->layers ? "--layers" : z->heads ? "--heads" : "--ctx");
    if (D < 1 || rows < 1 || (int64_t)rows * NT > INT32_MAX)
        return weft_fail(WEFT_ERR_ARG, "dlrm-small: --d-model %d, --vocab %d do not make a model", D, rows);
    int64_t xd[2] = { B, ND }, idd[2] = { B, NT }, yd[1] = { B }, td[2] = { (int64_t)NT * rows, D };
    io->x = weft_g_input(g, "dense", WEFT_F32, 2, xd);
    io->ids = weft_g_input(g, "sparse", WEFT_I32, 2, idd);
    io->y = weft_g_input(g, "clicks", WEFT_F32, 1, yd);
    io->pos = -1;
    int x = weft_m_linear(g, "bot.0", io->x, ND, 512, true, 1);
    x = weft_m_linear(g, "bot.2", x, 512, 256, true, 1);
    x = weft_m_linear(g, "bot.4", x, 256, 64, true, 1);
    x = weft_m_linear(g, "bot.6", x, 64, D, true, 1);
    int tab = weft_g_param_init(g, "emb.weight", 2, td, WEFT_INIT_UNIFORM, 1.0f / sqrtf((float)rows));
    int e = weft_g_embbag(g, io->ids, tab);
    int h = weft_g_dot_interact(g, x, e);
    int width = D + (NT + 1) * NT / 2;
    h = weft_m_linear(g, "top.0", h, width, 512, true, 1);
    h = weft_m_linear(g, "top.2", h, 512, 256, true, 1);
    h = weft_m_linear(g, "top.4", h, 256, 1, true, 0);
    io->logits = weft_g_reshape(g, h, 1, yd);
    io->loss = weft_g_bce(g, io->logits, io->y);
    return weft_graph_status(g);
}

/* ---- resnet ------------------------------------------------------------------------
 * He et al.'s CIFAR ResNet (6n+2 layers) for 1x28x28: conv3x3(1->w) BN ReLU,
 * three stages of n basic blocks at widths w, 2w, 4w (28x28, 14x14, 7x7; the
 * first block of stages 2 and 3 has stride 2 and a 1x1 stride-2 conv + BN
 * shortcut), global average pool, linear 4w->10. Convolutions have no bias
 * (batch norm follows). Batch norm: eps 1e-5, momentum 0.1, gamma 1, beta 0. */

static int conv_bn(weft_graph *g, const char *name, int x, int cin, int cout, int k, int stride, bool relu)
{
    char n[WEFT_NAME_MAX + 8];
    int64_t wd[4] = { cout, cin, k, k }, cd[1] = { cout };
    snprintf(n, sizeof n, "%s.conv", name);
    int w = weft_m_param(g, n, "weight", 4, wd, WEFT_INIT_UNIFORM, 1.0f / sqrtf((float)(cin * k * k)));
    int y = weft_g_conv2d(g, x, w, -1, stride, k / 2, 0);
    snprintf(n, sizeof n, "%s.bn", name);
    int gam = weft_m_param(g, n, "weight", 1, cd, WEFT_INIT_ONE, 0);
    int bet = weft_m_param(g, n, "bias", 1, cd, WEFT_INIT_ZERO, 0);
    y = weft_g_batchnorm(g, n, y, gam, bet, 1e-5f, 0.1f);
    return relu ? weft_g_relu(g, y) : y;
}

weft_status weft_model_build_resnet(weft_graph *g, int batch, const weft_model_size *z, weft_model_io *io)
{
    int depth = z && z->layers ? z->layers : 20, w = z && z->d_model ? z->d_model : 16;
    if (z && (z->heads || z->ctx || z->vocab))
        return weft_fail(WEFT_ERR_ARG, "%s: resnet takes only --layers (6n+2) and --d-model (first width)",
                         z->heads ? "--heads" : z->ctx ? "--ctx" : "--vocab");
    if (depth < 8 || (depth - 2) % 6 || w < 1)
        return weft_fail(WEFT_ERR_ARG, "resnet: --layers %d must be 6n+2 with n >= 1 (8, 14, 20, 32, ...), "
                         "--d-model %d at least 1", depth, w);
    int nb = (depth - 2) / 6;
    int64_t xd[4] = { batch, 1, 28, 28 }, yd[1] = { batch };
    io->x = weft_g_input(g, "images", WEFT_F32, 4, xd);
    io->y = weft_g_input(g, "labels", WEFT_I32, 1, yd);
    io->pos = io->ids = -1;
    int x = conv_bn(g, "stem", io->x, 1, w, 3, 1, true);
    int cin = w;
    for (int st = 0; st < 3; st++) {
        int cout = w << st;
        for (int b = 0; b < nb; b++) {
            char n[48];
            int stride = st > 0 && b == 0 ? 2 : 1;
            snprintf(n, sizeof n, "layer%d.%d.a", st + 1, b);
            int h = conv_bn(g, n, x, cin, cout, 3, stride, true);
            snprintf(n, sizeof n, "layer%d.%d.b", st + 1, b);
            h = conv_bn(g, n, h, cout, cout, 3, 1, false);
            int sc = x;
            if (stride != 1 || cin != cout) {
                snprintf(n, sizeof n, "layer%d.%d.down", st + 1, b);
                sc = conv_bn(g, n, x, cin, cout, 1, stride, false);
            }
            x = weft_g_relu(g, weft_g_add(g, h, sc));
            cin = cout;
        }
    }
    x = weft_g_avgpool(g, x);
    io->logits = weft_m_linear(g, "fc", x, cin, 10, true, 0);
    return weft_graph_status(g);
}
