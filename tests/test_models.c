/* test_models.c — every model of the zoo against its PyTorch twin
 * (scripts/gen_fixtures.py writes tests/fixtures/model_<name>.safetensors),
 * as llm.c's test_gpt2 does: on one batch (4 Fashion-MNIST images; for the
 * gpt, a tiny weft_model_build_gpt on fixed tokens), the logits, the loss
 * and every parameter's gradient in fp32; the losses of three optimizer
 * steps (SGD with momentum for the image models; AdamW for the mlp and the
 * gpt); and the bf16 policy's forward and backward pass against a PyTorch
 * twin that rounds where weft rounds.
 *
 * The other presets the same way, at small sizes (the models table below):
 * lstm-lm (PyTorch's nn.Embedding + nn.LSTM + nn.Linear), bert-tiny
 * (bidirectional blocks, a head, some targets -1), dlrm-small and resnet,
 * each with both optimizers. dlrm-small's table has a sparse gradient
 * (compared scattered into PyTorch's dense one) and a lazy update: its
 * three steps see different ids, every update must leave the rows its
 * batch did not touch, and their state, bit for bit, and the table and its
 * state after the steps match a PyTorch reference that updates the same way
 * (SparseAdam-like; the script checks a dense update would be told apart).
 * resnet's batch norms use batch statistics; after its steps the running
 * statistics and an eval-mode forward's logits are compared too.
 *
 * Initial parameters are not in the fixture (the CNN's fc1 alone would be
 * 1.6 MB): both sides generate them with the same tiny generator (below, and
 * gen_param in the script), and the fixture's init.<param> (first 16 values)
 * proves the two agree bit for bit. They are written into the store by name
 * after weft_store_bind, as a checkpoint load would. */
#include "weft/exec.h"
#include "weft/io.h"
#include "weft/models.h"
#include "graph/ops.h"   /* weft_sparse_rows */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define MODEL_SEED 20240601ull
#define BATCH 4

/* ---- tolerances --------------------------------------------------------------
 * fp32 (relative: max |got - want| / max |want|): the reference is PyTorch in
 * float64; weft's fp32 error is a few ulps of the accumulations (measured
 * <= 4e-7 on logits and gradients, <= 7e-8 on the step losses; resnet's
 * first convolutions' gradients 2.1e-6, having come back through nine batch
 * norms, whose backward subtracts means). The losses of three SGD/AdamW
 * steps carry that error through the updates, and so do the tensors
 * compared after them (measured <= 6e-7, but for AdamW's exp_avg_sq of
 * the dlrm table, 1.2e-5: the hyperparameters are fp32, beta2 0.999f =
 * 0.99900001287, so weft's 1 - beta2 is 1.29e-5 smaller than PyTorch's
 * 1 - 0.999, and exp_avg_sq is proportional to it; the bias correction,
 * computed from the same beta2, cancels it in the update). */
#define TOL_F32 1e-4
/* bf16 against the rounded twin: PyTorch computing each op in fp32 from the
 * same bf16 params and images and rounding every op's output, and every
 * backward node's output, to bf16 (weft's contract, DESIGN.md section 3).
 * Both round the same fp32 values; only where a different summation order
 * puts a sum on the other side of a rounding boundary does a value move by
 * one ulp (at most 2^-7 of the largest), and later layers carry that move.
 * Measured on these fixtures: logits and loss identical, gradients
 * identical but for one conv2.weight element (6e-7 of the max). Allow about
 * one ulp of the max for the forward pass and two for gradients (they pass
 * through more rounded nodes). */
#define TOL_BF16_EMUL_Y    1e-2
#define TOL_BF16_EMUL_GRAD 2e-2
/* bf16 forward against PyTorch in fp32 from the same bf16-rounded params and
 * images without rounding inside: the difference is the rounding of every
 * activation (up to 2^-8 relative each, over 3-4 layers). Measured: logits
 * 3.2e-3 (mlp) and 3.0e-3 (cnn) of the max, loss 1e-5. */
#define TOL_BF16_LOGITS 2e-2
#define TOL_BF16_LOSS   5e-3
/* The gpt in bf16 against the same two references. Against the rounded
 * twin (which also keeps attention's P in bf16 for the backward, as weft
 * does) the argument above holds unchanged, and so do TOL_BF16_EMUL_*.
 * Measured: logits and every gradient identical, loss 1.7e-7 (the fp32
 * mean's summation order). Against fp32 from the same bf16 values it rounds
 * at more points than the image models: the embedding sum, then per block
 * ln1, qkv, attention, proj, the residual sum, ln2, fc1, GELU, fc2 and the
 * residual sum, then lnf and the logits (23 roundings on the way to a logit,
 * each up to 2^-8 relative); layer norm brings the residual stream back to
 * |x| ~ 1, so the errors do not shrink with depth. A random walk of 23 such
 * steps is ~1e-2 of the values, 23 aligned ones 9e-2. Measured: logits
 * 8.5e-3 of the max (2.4), loss 8.4e-5. Allow 3e-2 for the logits (about
 * three random walks) and, as for the image models, 5e-3 for the loss: it
 * is a mean over 12 tokens of log-softmax, whose errors largely cancel. */
#define TOL_GPT_BF16_LOGITS 3e-2
#define TOL_GPT_BF16_LOSS   5e-3
/* The other presets in bf16 use the same tolerances (bert-tiny the gpt's:
 * the same blocks). Against the rounded twin -- which for the LSTM also
 * runs each layer's recurrence in fp32 inside the op and keeps its gates,
 * cell states and outputs in bf16 for the backward, as weft does -- the
 * ulp argument of TOL_BF16_EMUL_* holds; measured: logits identical
 * everywhere, loss <= 9e-8, gradients identical but for resnet's
 * layer2.0.a and layer3.0.a conv weights (1.7e-4, 3.7e-4 of the max: one
 * element's ulp). Against fp32 from the same bf16 values, the roundings on
 * the way to a logit: lstm-lm 3 (the two layers' outputs -- the
 * recurrence itself is fp32 -- and the logits; the embedding is exact),
 * dlrm-small 8 (4 bottom, the interaction, 3 top), bert-tiny 23 as the
 * gpt, resnet-8 19 (stem conv and batch norm, then conv, batch norm, conv,
 * batch norm and the residual sum per stage, the average pool, the fc);
 * batch norm brings the activations back to ~1 as layer norm does, and the
 * average over 7x7 positions averages the last stage's roundings. Measured
 * (logits; loss): lstm 3.8e-3; 1.4e-5, bert 8.7e-3; 5.8e-4, dlrm 1.3e-3;
 * 3.9e-5, resnet 4.5e-3; 9.8e-5: each at least 3x inside its tolerance,
 * so no model needs a looser one. */

/* The transformer fixtures' models (GPT_CFG and BERT_CFG in the script):
 * the gpt small enough for a 27 KB fixture, big enough for two causal
 * heads, a residual stack of two blocks and tied embeddings; bert-tiny's
 * shape at the same scale (bidirectional, FFN 12, a 12-class head, a
 * position bias: slopes 0.5 / 4, gentler than the preset's 1 / 8 so that at
 * T = 5 every key keeps a weight its gradient can be checked through). */
static const weft_gpt_cfg gpt_cfg = { .vocab = 13, .layers = 2, .heads = 2, .d_model = 8, .ctx = 6 };
static const weft_gpt_cfg bert_cfg = { .vocab = 13, .layers = 2, .heads = 2, .d_model = 8, .ctx = 5,
                                       .bidirectional = true, .ffn = 12, .classes = 12,
                                       .pos_back = 0.5f, .pos_ahead = 4.0f };

typedef struct { const char *key; double value; } meta_kv;

typedef struct {
    const char *name;     /* fixture model_<name>.safetensors (metadata model = name)     */
    const char *preset;   /* built by weft_model_build_sized(preset, size), or NULL:      */
    weft_model_size size; /*   weft_model_build_gpt(gpt) plus the loss                     */
    const weft_gpt_cfg *gpt;
    int batch;
    const char *x, *pos, *ids, *y;   /* fixture tensors fed to io.x, io.pos, io.ids, io.y
                                        (NULL: the model has none); a fixture tensor
                                        steps.<key> (3, ...) replaces <key> at each step */
    bool sgd, adamw;      /* three SGD / AdamW steps (the fixture has sgd/adamw.losses)   */
    double bf16_logits_tol, bf16_loss_tol;   /* bf16 forward vs fp32 from bf16 values     */
    meta_kv meta[12];     /* the fixture's metadata: the size the test builds              */
} model_case;

static const model_case models[] = {
    { "mlp", "mlp", { 0 }, NULL, BATCH, "images", NULL, NULL, "labels", true, true, TOL_BF16_LOGITS,
      TOL_BF16_LOSS, { { "batch", BATCH } } },
    { "cnn", "cnn", { 0 }, NULL, BATCH, "images", NULL, NULL, "labels", true, false, TOL_BF16_LOGITS,
      TOL_BF16_LOSS, { { "batch", BATCH } } },
    { "gpt", NULL, { 0 }, &gpt_cfg, 2, "tokens", "positions", NULL, "targets", false, true, TOL_GPT_BF16_LOGITS,
      TOL_GPT_BF16_LOSS,
      { { "vocab", 13 }, { "layers", 2 }, { "heads", 2 }, { "d_model", 8 }, { "ctx", 6 }, { "batch", 2 } } },
    /* lstm-lm: embedding 128 (fixed in the builder), 2 layers of hidden 16 */
    { "lstm", "lstm-lm", { .layers = 2, .d_model = 16, .ctx = 6, .vocab = 11 }, NULL, 3, "tokens", NULL, NULL,
      "targets", true, true, TOL_BF16_LOGITS, TOL_BF16_LOSS,
      { { "vocab", 11 }, { "layers", 2 }, { "d_model", 16 }, { "ctx", 6 }, { "batch", 3 }, { "embed", 128 } } },
    { "bert", NULL, { 0 }, &bert_cfg, 2, "tokens", "positions", NULL, "targets", true, true, TOL_GPT_BF16_LOGITS,
      TOL_GPT_BF16_LOSS,
      { { "vocab", 13 }, { "layers", 2 }, { "heads", 2 }, { "d_model", 8 }, { "ctx", 5 }, { "bidirectional", 1 },
        { "ffn", 12 }, { "classes", 12 }, { "batch", 2 }, { "pos_back", 0.5 }, { "pos_ahead", 4.0 } } },
    /* dlrm-small: 26 tables of 7 rows x 4 (one tensor emb.weight); the MLPs are the builder's */
    { "dlrm", "dlrm-small", { .d_model = 4, .vocab = 7 }, NULL, 4, "dense", NULL, "sparse", "clicks", true, true,
      TOL_BF16_LOGITS, TOL_BF16_LOSS,
      { { "d_model", 4 }, { "rows", 7 }, { "tables", 26 }, { "dense", 13 }, { "batch", 4 } } },
    /* resnet-8 of width 4: one basic block per stage (4, 8, 16) */
    { "resnet", "resnet", { .layers = 8, .d_model = 4 }, NULL, BATCH, "images", NULL, NULL, "labels", true, true,
      TOL_BF16_LOGITS, TOL_BF16_LOSS, { { "layers", 8 }, { "d_model", 4 }, { "batch", BATCH } } },
};
#define NMODELS ((int)(sizeof models / sizeof *models))

/* The case's model: a preset at its size, or the transformer plus the loss
 * and keeps as weft_model_build does for a preset (cross-entropy, mean over
 * the tokens whose target is not -1). */
static weft_status build_model(weft_graph *g, const model_case *mc, weft_model_io *io)
{
    if (mc->preset) {
        const weft_model_size *z = &mc->size;
        bool sized = z->layers || z->heads || z->d_model || z->ctx || z->vocab;
        return weft_model_build_sized(g, mc->preset, mc->batch, sized ? z : NULL, io);
    }
    io->ids = -1;
    WEFT_TRY(weft_model_build_gpt(g, mc->gpt, mc->batch, io));
    io->loss = weft_g_xent(g, io->logits, io->y);
    WEFT_TRY(weft_graph_status(g));
    g->values[io->logits].keep = true;
    g->values[io->loss].keep = true;
    return WEFT_OK;
}

/* ---- the parameter generator (the same as gen_uniform in the script) ------- */

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ull; }
    return h;
}

/* center + U(-bound, bound): splitmix64 of the element index keyed by
 * MODEL_SEED ^ FNV-1a(name); 24 bits per value (gen_uniform in the script;
 * the center is added last, and only when it is not 0). */
static void gen_uniform(const char *name, float center, float bound, float *out, int64_t n)
{
    uint64_t key = MODEL_SEED ^ fnv1a64(name);
    for (int64_t i = 0; i < n; i++) {
        uint64_t z = key + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        float u = (float)(z >> 40) * (1.0f / 16777216.0f);
        float v = (2.0f * u - 1.0f) * bound;
        out[i] = center != 0.0f ? center + v : v;
    }
}

/* PyTorch's fan_in: a weight's elements per output; a bias uses its weight's. */
static int64_t fan_in_of(const weft_graph *g, const weft_value *p)
{
    char wname[WEFT_NAME_MAX];
    const char *dot = strrchr(p->name, '.');
    if (dot && strcmp(dot, ".bias") == 0)
        snprintf(wname, sizeof wname, "%.*s.weight", (int)(dot - p->name), p->name);
    else
        snprintf(wname, sizeof wname, "%s", p->name);
    for (int v = 0; v < g->nvalues; v++) {
        const weft_value *w = &g->values[v];
        if (w->role == WEFT_ROLE_PARAM && strcmp(w->name, wname) == 0 && w->shape.ndim >= 2)
            return weft_shape_numel(&w->shape) / w->shape.d[0];
    }
    return 1;
}

static const weft_value *find_param(const weft_graph *g, const char *name)
{
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].role == WEFT_ROLE_PARAM && strcmp(g->values[v].name, name) == 0) return &g->values[v];
    return NULL;
}

/* A parameter's initial values (the script's *_params): linear and conv
 * layers U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch's nn.Linear/
 * nn.Conv2d; the LSTM's weights and biases U(-1/sqrt(H), 1/sqrt(H)) as
 * nn.LSTM; embedding tables (wte, wpe, emb) U(-0.5, 0.5); layer and batch
 * norms (modules ln*, bn*) 1 + U(-0.2, 0.2) (weight) and U(-0.1, 0.1)
 * (bias). The tables' and norms' scales are the test's, not the builders':
 * they keep the gpt's tied logits moderate and exercise every parameter's
 * gradient (the builders start norms at 1 and 0). */
static void gen_param(const weft_graph *g, const weft_value *p, float *out, int64_t n)
{
    const char *dot = strrchr(p->name, '.'), *mod = p->name;
    for (const char *c = p->name; dot && c < dot; c++)
        if (*c == '.') mod = c + 1;   /* the module: "ln1" of "blocks.0.ln1.weight" */
    bool bias = dot && strcmp(dot, ".bias") == 0;
    if (strcmp(p->name, "wte.weight") == 0 || strcmp(p->name, "wpe.weight") == 0 ||
        strcmp(p->name, "emb.weight") == 0) {
        gen_uniform(p->name, 0.0f, 0.5f, out, n);
        return;
    }
    if (strncmp(mod, "ln", 2) == 0 || strncmp(mod, "bn", 2) == 0) {
        gen_uniform(p->name, bias ? 0.0f : 1.0f, bias ? 0.1f : 0.2f, out, n);
        return;
    }
    if (strncmp(p->name, "lstm.", 5) == 0) {
        const weft_value *whh = find_param(g, "lstm.weight_hh_l0");
        gen_uniform(p->name, 0.0f, 1.0f / sqrtf(whh ? (float)whh->shape.d[1] : 1.0f), out, n);
        return;
    }
    gen_uniform(p->name, 0.0f, 1.0f / sqrtf((float)fan_in_of(g, p)), out, n);
}

/* ---- fixture helpers -------------------------------------------------------- */

static const weft_st_tensor *need(const weft_st_file *f, const char *name)
{
    const weft_st_tensor *t = weft_st_find(f, name);
    CHECKF(t != NULL, "fixture has no tensor '%s'", name);
    return t;
}



static float *fbuf(int64_t n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) abort();
    return p;
}

/* ---- one compiled model ----------------------------------------------------- */

typedef struct {
    weft_graph *g;
    weft_model_io io;
    weft_store st;
    weft_exec *ex;
    const model_case *mc;
} model;

static void model_free(model *m)
{
    weft_exec_free(m->ex);
    weft_store_free(&m->st);
    weft_graph_free(m->g);
    memset(m, 0, sizeof *m);
}

/* Generates every parameter, checks it against the fixture's init.<name>
 * (fp32 only: bf16 rounds them), and writes it into the store. The fixture
 * must name exactly weft's parameters (one init.<name> each). */
static weft_status load_params(model *m, const weft_st_file *f)
{
    int nparams = 0, ninit = 0;
    for (int i = 0; i < f->ntensors; i++) ninit += strncmp(f->tensors[i].name, "init.", 5) == 0;
    for (int v = 0; v < m->g->nvalues; v++) {
        const weft_value *p = &m->g->values[v];
        if (p->role != WEFT_ROLE_PARAM) continue;
        nparams++;
        weft_tensor *t = weft_store_find(&m->st, p->name);
        if (!t) return weft_fail(WEFT_ERR_INTERNAL, "%s is not in the store", p->name);
        int64_t n = weft_shape_numel(&p->shape);
        float *w = fbuf(n);
        gen_param(m->g, p, w, n);
        char iname[128];
        snprintf(iname, sizeof iname, "init.%s", p->name);
        const weft_st_tensor *it = need(f, iname);
        if (it) {
            int64_t k = test_st_numel(it);
            CHECKF(k <= n && memcmp(it->data, w, (size_t)k * sizeof *w) == 0,
                   "%s: the test's generator disagrees with the script's (init.%s)", p->name, p->name);
        }
        if (t->dtype == WEFT_F32) memcpy(t->data, w, (size_t)n * sizeof *w);
        else weft_bf16_from_f32_n(w, t->data, n);
        free(w);
    }
    CHECKF(nparams == ninit, "%s: weft's model has %d parameters, the fixture's %d", m->mc->name, nparams, ninit);
    return WEFT_OK;
}

/* Feeds the fixture tensor `key` to graph input v: the same number of
 * elements, integer ids (I32) to an I32 input, floats (F32) to a float one. */
static weft_status feed(model *m, const weft_st_file *f, const char *key, int v)
{
    const weft_st_tensor *t = need(f, key);
    if (!t) return weft_fail(WEFT_ERR_FORMAT, "fixture: no %s", key);
    const weft_value *x = &m->g->values[v];
    bool ids = x->dtype == WEFT_I32;
    if (test_st_numel(t) != weft_shape_numel(&x->shape) || t->dtype != (ids ? WEFT_I32 : WEFT_F32))
        return weft_fail(WEFT_ERR_FORMAT, "fixture: %s does not fit the model's %s", key, x->name);
    return weft_exec_feed(m->ex, v, t->data, t->dtype);
}

/* Builds the case's model -> precision -> [autodiff (grads kept for reading)
 * -> [optimizer]] -> plan -> store (params from the generator) -> exec, and
 * feeds the fixture's batch. */
static weft_status model_compile(model *m, const model_case *mc, const weft_st_file *f, weft_precision p,
                                 bool backward, bool optimizer, weft_optimizer opt)
{
    memset(m, 0, sizeof *m);
    m->mc = mc;
    weft_store_init(&m->st);
    m->g = weft_graph_new();
    if (!m->g) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    WEFT_TRY(build_model(m->g, mc, &m->io));
    WEFT_TRY(weft_pass_precision(m->g, p));
    if (backward) {
        WEFT_TRY(weft_pass_autodiff(m->g, m->io.loss));
        for (int v = 0; v < m->g->nvalues; v++) {
            if (m->g->values[v].role != WEFT_ROLE_PARAM) continue;
            int gv = m->g->values[v].grad, rows = weft_sparse_rows(m->g, gv);
            m->g->values[gv].keep = true;
            if (rows >= 0) m->g->values[rows].keep = true;   /* a sparse gradient's rows */
        }
        if (optimizer) WEFT_TRY(weft_pass_optimizer(m->g, opt));
    }
    WEFT_TRY(weft_graph_verify(m->g));
    WEFT_TRY(weft_pass_plan_memory(m->g));
    WEFT_TRY(weft_store_bind(&m->st, m->g, 7));
    WEFT_TRY(load_params(m, f));
    WEFT_TRY(weft_exec_create(&m->ex, m->g, &m->st, 1, 7));
    WEFT_TRY(feed(m, f, mc->x, m->io.x));
    if (mc->pos) WEFT_TRY(feed(m, f, mc->pos, m->io.pos));
    if (mc->ids) WEFT_TRY(feed(m, f, mc->ids, m->io.ids));
    return feed(m, f, mc->y, m->io.y);
}

/* Before step k (1..3): feeds part k of steps.<key> for each input that has
 * one (the inputs of step 1 are those model_compile fed). */
static weft_status feed_step(model *m, const weft_st_file *f, int k)
{
    const char *keys[4] = { m->mc->x, m->mc->pos, m->mc->ids, m->mc->y };
    const int vals[4] = { m->io.x, m->io.pos, m->io.ids, m->io.y };
    for (int i = 0; i < 4; i++) {
        if (!keys[i]) continue;
        char nm[96];
        snprintf(nm, sizeof nm, "steps.%s", keys[i]);
        const weft_st_tensor *t = weft_st_find(f, nm);
        if (!t) continue;
        const weft_value *x = &m->g->values[vals[i]];
        int64_t n = weft_shape_numel(&x->shape);
        if (t->ndim < 1 || t->dims[0] != 3 || test_st_numel(t) != 3 * n ||
            t->dtype != (x->dtype == WEFT_I32 ? WEFT_I32 : WEFT_F32))
            return weft_fail(WEFT_ERR_FORMAT, "fixture: %s does not hold three of the model's %s", nm, x->name);
        WEFT_TRY(weft_exec_feed(m->ex, vals[i], (const char *)t->data + (size_t)((k - 1) * n) * 4, t->dtype));
    }
    return WEFT_OK;
}

static float read_loss(model *m)
{
    float l = NAN;
    weft_exec_read(m->ex, m->io.loss, &l);
    return l;
}

/* ---- the checks ------------------------------------------------------------- */

/* Marks in `touched` (V entries) the rows of a (V,D) table that the model's
 * ids input names; returns how many distinct rows. */
static int64_t touched_rows(model *m, bool *touched, int64_t V)
{
    memset(touched, 0, (size_t)V * sizeof *touched);
    if (m->io.ids < 0) return 0;
    const int32_t *id = weft_exec_ptr(m->ex, m->io.ids);
    int64_t n = weft_shape_numel(&m->g->values[m->io.ids].shape), distinct = 0;
    for (int64_t i = 0; i < n; i++)
        if (id[i] >= 0 && id[i] < V && !touched[id[i]]) { touched[id[i]] = true; distinct++; }
    return distinct;
}

/* Parameter p's gradient as fp32 of p's shape. A sparse one (an embedding
 * bag's table: (n,D) values and i32 rows, weft_sparse_rows) is checked --
 * rows ascending and unique, exactly the rows the batch's ids touch, then
 * -1 -- and scattered into zeros, so it compares with PyTorch's dense
 * gradient (which must then be zero on the other rows). */
static void read_grad(model *m, const weft_value *p, float *out, const char *what)
{
    int rows = weft_sparse_rows(m->g, p->grad);
    if (rows < 0) {
        weft_exec_read(m->ex, p->grad, out);
        return;
    }
    const weft_shape *gs = &m->g->values[p->grad].shape;
    int64_t V = p->shape.d[0], D = p->shape.d[1], n = gs->d[0];
    for (int64_t i = 0; i < V * D; i++) out[i] = NAN;
    bool shape_ok = p->shape.ndim == 2 && gs->ndim == 2 && gs->d[1] == D &&
                    weft_shape_numel(&m->g->values[rows].shape) == n && m->g->values[rows].dtype == WEFT_I32;
    CHECKF(shape_ok, "%s: %s's sparse gradient is not (n,D) values with n i32 rows", what, p->name);
    if (!shape_ok) return;
    float *sp = fbuf(n * D);
    bool *touched = malloc((size_t)V * sizeof *touched);
    if (!touched) abort();
    weft_exec_read(m->ex, p->grad, sp);
    const int32_t *r = weft_exec_ptr(m->ex, rows);
    int64_t distinct = touched_rows(m, touched, V), u = 0;
    bool ok = true, tail = true;
    memset(out, 0, (size_t)(V * D) * sizeof *out);
    for (; u < n && r[u] >= 0; u++) {
        ok = ok && r[u] < V && (u == 0 || r[u] > r[u - 1]) && touched[r[u]];
        if (r[u] < V) memcpy(out + r[u] * D, sp + u * D, (size_t)D * sizeof *out);
    }
    for (int64_t i = u; i < n; i++) tail = tail && r[i] == -1;
    CHECKF(ok && u == distinct && tail, "%s: %s's sparse rows (%lld) are not the batch's %lld distinct rows, "
           "ascending, then -1", what, p->name, (long long)u, (long long)distinct);
    free(touched);
    free(sp);
}

/* Compares every parameter's gradient with the fixture's "<prefix>grad.<name>"
 * (full), or for large tensors with a sample of elements and the L1 and L2
 * norms of the whole; all errors relative as rel_err. */
static void check_grads(model *m, const weft_st_file *f, const char *prefix, const char *what, double tol)
{
    for (int v = 0; v < m->g->nvalues; v++) {
        const weft_value *p = &m->g->values[v];
        if (p->role != WEFT_ROLE_PARAM) continue;
        int64_t n = weft_shape_numel(&p->shape);
        float *gr = fbuf(n);
        read_grad(m, p, gr, what);
        char nm[128];
        snprintf(nm, sizeof nm, "%sgrad.%s", prefix, p->name);
        const weft_st_tensor *full = weft_st_find(f, nm);
        if (full) {
            float *want = fbuf(n);
            if (test_st_numel(full) == n) memcpy(want, full->data, (size_t)n * sizeof *want);
            double e = test_st_numel(full) == n ? test_rel_err(gr, want, n) : INFINITY;
            printf("  grad %-26s %8lld full       %.2e\n", p->name, (long long)n, e);
            CHECKF(e <= tol, "%s: grad of %s error %.3g > %.3g", what, p->name, e, tol);
            free(want);
        } else {
            char ni[140], nv[140], nn[140];
            snprintf(ni, sizeof ni, "%s.idx", nm);
            snprintf(nv, sizeof nv, "%s.val", nm);
            snprintf(nn, sizeof nn, "%s.norms", nm);
            const weft_st_tensor *ti = need(f, ni), *tv = need(f, nv), *tn = need(f, nn);
            if (ti && tv && tn && test_st_numel(ti) == test_st_numel(tv) && test_st_numel(tn) == 2) {
                int64_t k = test_st_numel(ti);
                float *got = fbuf(k), *want = fbuf(k);
                memcpy(want, tv->data, (size_t)k * sizeof *want);
                bool in_range = true;
                for (int64_t i = 0; i < k; i++) {
                    int32_t j = ((const int32_t *)ti->data)[i];
                    in_range &= j >= 0 && j < n;
                    got[i] = j >= 0 && j < n ? gr[j] : NAN;
                }
                CHECKF(in_range, "%s: sample indices outside %s", what, p->name);
                double es = test_rel_err(got, want, k);
                double l1 = 0, l2 = 0;
                for (int64_t i = 0; i < n; i++) { l1 += fabs((double)gr[i]); l2 += (double)gr[i] * gr[i]; }
                float wn[2];
                memcpy(wn, tn->data, sizeof wn);
                double e1 = fabs(l1 - wn[0]) / wn[0], e2 = fabs(sqrt(l2) - wn[1]) / wn[1];
                printf("  grad %-26s %8lld sample %lld %.2e  |g|_1 %.2e  |g|_2 %.2e\n", p->name,
                       (long long)n, (long long)k, es, e1, e2);
                CHECKF(es <= tol, "%s: grad of %s (sampled) error %.3g > %.3g", what, p->name, es, tol);
                CHECKF(e1 <= tol && e2 <= tol, "%s: grad of %s norms error %.3g %.3g > %.3g", what,
                       p->name, e1, e2, tol);
                free(got);
                free(want);
            }
        }
        free(gr);
    }
}

/* Logits, loss and every gradient of one forward/backward. */
static void check_fp32_grads(const model_case *mc, const weft_st_file *f)
{
    model m;
    weft_status s = model_compile(&m, mc, f, WEFT_PREC_FP32, true, false, WEFT_OPT_SGD);
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = 1 };
    if (!s) s = weft_exec_run(m.ex, &ro);
    CHECKF(s == WEFT_OK, "%s fp32: %s", mc->name, weft_errmsg());
    const weft_st_tensor *lt = need(f, "logits"), *ls = need(f, "loss");
    if (s || !lt || !ls) { model_free(&m); return; }

    int64_t nl = weft_shape_numel(&m.g->values[m.io.logits].shape);
    float *logits = fbuf(nl), *want = fbuf(nl);
    weft_exec_read(m.ex, m.io.logits, logits);
    if (nl == test_st_numel(lt)) memcpy(want, lt->data, (size_t)nl * sizeof *want);
    double el = nl == test_st_numel(lt) ? test_rel_err(logits, want, nl) : INFINITY;
    float loss = read_loss(&m), wl;
    memcpy(&wl, ls->data, sizeof wl);
    double eloss = fabs((double)loss - wl) / fabs((double)wl);
    printf("%s fp32: logits %.2e  loss %.2e (%.7f vs %.7f)\n", mc->name, el, eloss, loss, wl);
    CHECKF(el <= TOL_F32, "%s fp32: logits error %.3g", mc->name, el);
    CHECKF(eloss <= TOL_F32, "%s fp32: loss %.9g, PyTorch %.9g", mc->name, loss, wl);
    free(logits);
    free(want);
    char what[64];
    snprintf(what, sizeof what, "%s fp32", mc->name);
    check_grads(&m, f, "", what, TOL_F32);
    model_free(&m);
}

static double tensor_err(const float *got, int64_t n, const weft_st_tensor *t);

/* A persistent tensor's bytes before an update or an eval forward. */
typedef struct { const weft_tensor *t; void *before; } snapshot;

static void snap_take(snapshot *sn, const weft_tensor *t)
{
    sn->t = t;
    sn->before = malloc(t->nbytes ? t->nbytes : 1);
    if (!sn->before) abort();
    memcpy(sn->before, t->data, t->nbytes);
}

/* The store tensors of the tables with a sparse gradient and of their
 * optimizer state ("<table>.momentum", ...): up to max, into sn. */
static int sparse_snapshots(model *m, snapshot *sn, int max)
{
    int k = 0;
    for (int v = 0; v < m->g->nvalues; v++) {
        const weft_value *p = &m->g->values[v];
        if (p->role != WEFT_ROLE_PARAM || weft_sparse_rows(m->g, p->grad) < 0) continue;
        size_t len = strlen(p->name);
        for (int w = 0; w < m->g->nvalues && k < max; w++) {
            const weft_value *x = &m->g->values[w];
            bool mine = w == v || (x->role == WEFT_ROLE_STATE && strncmp(x->name, p->name, len) == 0 &&
                                   x->name[len] == '.');
            const weft_tensor *t = mine ? weft_store_find(&m->st, x->name) : NULL;
            if (t) snap_take(&sn[k++], t);
        }
    }
    return k;
}

/* After update k of a model with a sparse table: the rows that step's ids
 * did not touch, in the table and in its optimizer state, are bit for bit
 * what they were (the lazy update). Returns how many rows were untouched. */
static int64_t check_lazy(model *m, snapshot *sn, int nsn, const char *what, int k)
{
    int64_t untouched = 0;
    for (int i = 0; i < nsn; i++) {
        const weft_tensor *t = sn[i].t;
        int64_t V = t->shape.d[0];
        size_t row = t->nbytes / (size_t)V;
        bool *touched = malloc((size_t)V * sizeof *touched), same = true;
        if (!touched) abort();
        touched_rows(m, touched, V);
        untouched = 0;
        for (int64_t r = 0; r < V; r++) {
            if (touched[r]) continue;
            untouched++;
            same = same && memcmp((char *)sn[i].before + r * row, (char *)t->data + r * row, row) == 0;
        }
        CHECKF(same, "%s: update %d changed rows of %s that its batch did not touch", what, k, t->name);
        free(touched);
        free(sn[i].before);
    }
    return untouched;
}

/* Three steps: loss k is read after FWD|BWD and before UPDATE k (the
 * inputs of step k fed first: feed_step). Then, where the fixture has them,
 * the tensors "<opt>.final.<name>" (a sparse table, its optimizer state,
 * the running statistics) against the store, and an eval-mode forward's
 * logits "<opt>.eval.logits", which must leave the running statistics
 * alone. A sparse table's update is checked lazy at every step. */
static void check_steps(const model_case *mc, const weft_st_file *f, weft_optimizer opt,
                        const char *key, const weft_optim_hp *hp)
{
    const char *oname = opt == WEFT_OPT_ADAMW ? "adamw" : "sgd";
    const weft_st_tensor *lt = need(f, key);
    if (!lt || test_st_numel(lt) != 3) return;
    model m;
    weft_status s = model_compile(&m, mc, f, WEFT_PREC_FP32, true, true, opt);
    float got[3] = { NAN, NAN, NAN };
    int64_t untouched[3] = { -1, -1, -1 };
    char what[64];
    snprintf(what, sizeof what, "%s %s", mc->name, oname);
    for (int k = 1; k <= 3 && !s; k++) {
        s = feed_step(&m, f, k);
        weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = k, .hp = *hp };
        if (!s) s = weft_exec_run(m.ex, &ro);
        got[k - 1] = read_loss(&m);
        snapshot sn[4];
        int nsn = s ? 0 : sparse_snapshots(&m, sn, 4);
        ro.phases = WEFT_PHASE_UPDATE;
        if (!s) s = weft_exec_run(m.ex, &ro);
        if (nsn) untouched[k - 1] = check_lazy(&m, sn, nsn, what, k);
    }
    CHECKF(s == WEFT_OK, "%s: %s", what, weft_errmsg());
    const float *want = lt->data;
    printf("%s fp32 %s:", mc->name, oname);
    for (int k = 0; k < 3; k++) {
        double e = fabs((double)got[k] - want[k]) / fabs((double)want[k]);
        printf("  step %d %.7f vs %.7f (%.2e)", k + 1, got[k], want[k], e);
        CHECKF(e <= TOL_F32, "%s %s: loss of step %d is %.9g, PyTorch %.9g", mc->name, oname, k + 1,
               got[k], want[k]);
    }
    printf("\n");
    if (untouched[0] >= 0)
        printf("  lazy update: rows untouched by steps 1-3 (bit-identical, table and state): %lld, %lld, %lld\n",
               (long long)untouched[0], (long long)untouched[1], (long long)untouched[2]);
    for (int v = 0; v < m.g->nvalues && !s; v++) {
        const weft_value *x = &m.g->values[v];
        if (x->role != WEFT_ROLE_PARAM && x->role != WEFT_ROLE_STATE) continue;
        char nm[128];
        snprintf(nm, sizeof nm, "%s.final.%s", oname, x->name);
        const weft_st_tensor *w = weft_st_find(f, nm);
        if (!w) continue;
        const weft_tensor *t = weft_store_find(&m.st, x->name);
        int64_t n = weft_shape_numel(&x->shape);
        double e = t && t->dtype == WEFT_F32 && test_st_numel(w) == n && w->dtype == WEFT_F32
                       ? test_rel_err(t->data, w->data, n) : INFINITY;
        printf("  after the steps %-30s %6lld %.2e\n", x->name, (long long)n, e);
        CHECKF(e <= TOL_F32, "%s: %s after three steps: error %.3g > %.3g", what, x->name, e, TOL_F32);
    }
    char en[64];
    snprintf(en, sizeof en, "%s.eval.logits", oname);
    const weft_st_tensor *el = weft_st_find(f, en);
    if (el && !s) {
        snapshot sn[64];
        int nsn = 0;
        for (int v = 0; v < m.g->nvalues && nsn < 64; v++) {
            const weft_tensor *t = m.g->values[v].role == WEFT_ROLE_STATE ? weft_store_find(&m.st, m.g->values[v].name)
                                                                          : NULL;
            if (t) snap_take(&sn[nsn++], t);
        }
        weft_run_opts ro = { .phases = WEFT_PHASE_FWD, .step = 4, .hp = *hp, .eval = true };
        s = weft_exec_run(m.ex, &ro);
        CHECKF(s == WEFT_OK, "%s eval: %s", what, weft_errmsg());
        int64_t nl = weft_shape_numel(&m.g->values[m.io.logits].shape);
        float *logits = fbuf(nl);
        weft_exec_read(m.ex, m.io.logits, logits);
        double e = s ? INFINITY : tensor_err(logits, nl, el);
        printf("  eval-mode forward after the steps: logits %.2e\n", e);
        CHECKF(e <= TOL_F32, "%s: eval-mode logits error %.3g > %.3g", what, e, TOL_F32);
        bool same = true;
        for (int i = 0; i < nsn; i++) {
            same = same && memcmp(sn[i].before, sn[i].t->data, sn[i].t->nbytes) == 0;
            free(sn[i].before);
        }
        CHECKF(same, "%s: an eval-mode forward changed the running statistics", what);
        free(logits);
    }
    model_free(&m);
}

static double scalar_err(float got, const weft_st_tensor *t)
{
    float w;
    memcpy(&w, t->data, sizeof w);
    return fabs((double)got - w) / fabs((double)w);
}

static double tensor_err(const float *got, int64_t n, const weft_st_tensor *t)
{
    if (test_st_numel(t) != n || t->dtype != WEFT_F32) return INFINITY;
    float *w = fbuf(n);
    memcpy(w, t->data, (size_t)n * sizeof *w);
    double e = test_rel_err(got, w, n);
    free(w);
    return e;
}

/* The bf16 policy: forward against both references, gradients against the
 * per-op-rounded twin. */
static void check_bf16(const model_case *mc, const weft_st_file *f)
{
    model m;
    weft_status s = model_compile(&m, mc, f, WEFT_PREC_BF16, true, false, WEFT_OPT_SGD);
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = 1 };
    if (!s) s = weft_exec_run(m.ex, &ro);
    CHECKF(s == WEFT_OK, "%s bf16: %s", mc->name, weft_errmsg());
    const weft_st_tensor *le = need(f, "bf16.emul.logits"), *se = need(f, "bf16.emul.loss");
    const weft_st_tensor *lp = need(f, "bf16.logits"), *sp = need(f, "bf16.loss");
    if (s || !le || !se || !lp || !sp) { model_free(&m); return; }
    int64_t nl = weft_shape_numel(&m.g->values[m.io.logits].shape);
    float *logits = fbuf(nl);
    weft_exec_read(m.ex, m.io.logits, logits);
    float loss = read_loss(&m);
    double e_le = tensor_err(logits, nl, le), e_lp = tensor_err(logits, nl, lp);
    double e_se = scalar_err(loss, se), e_sp = scalar_err(loss, sp);
    printf("%s bf16: vs rounded twin: logits %.2e loss %.2e;  vs fp32 from bf16 values: "
           "logits %.2e loss %.2e (loss %.6f)\n", mc->name, e_le, e_se, e_lp, e_sp, loss);
    CHECKF(e_le <= TOL_BF16_EMUL_Y, "%s bf16: logits vs the rounded twin %.3g", mc->name, e_le);
    CHECKF(e_se <= TOL_BF16_EMUL_Y, "%s bf16: loss vs the rounded twin %.3g", mc->name, e_se);
    CHECKF(e_lp <= mc->bf16_logits_tol, "%s bf16: logits vs fp32 %.3g", mc->name, e_lp);
    CHECKF(e_sp <= mc->bf16_loss_tol, "%s bf16: loss vs fp32 %.3g", mc->name, e_sp);
    free(logits);
    char what[64];
    snprintf(what, sizeof what, "%s bf16", mc->name);
    check_grads(&m, f, "bf16.emul.", what, TOL_BF16_EMUL_GRAD);
    model_free(&m);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < NMODELS; i++) {
        const model_case *mc = &models[i];
        char path[512];
        snprintf(path, sizeof path, "%s/model_%s.safetensors", test_fixture_dir(), mc->name);
        weft_st_file f;
        weft_status s = weft_st_read(path, &f);
        CHECKF(s == WEFT_OK, "%s", weft_errmsg());
        if (s) continue;
        const char *fm = weft_st_meta(&f, "model");
        CHECKF(fm && strcmp(fm, mc->name) == 0, "%s: metadata model is %s", path, fm ? fm : "missing");
        for (const meta_kv *kv = mc->meta; kv->key; kv++) {   /* the script's size is the test's */
            const char *v = weft_st_meta(&f, kv->key);
            CHECKF(v && atof(v) == kv->value, "%s: metadata %s is %s, the test builds %g", path, kv->key,
                   v ? v : "missing", kv->value);
        }
        check_fp32_grads(mc, &f);
        if (mc->sgd) {
            weft_optim_hp sgd = { .lr = 0.05f, .momentum = 0.9f, .weight_decay = 0.0f };
            check_steps(mc, &f, WEFT_OPT_SGD, "sgd.losses", &sgd);
        }
        if (mc->adamw) {
            weft_optim_hp adamw = { .lr = 1e-3f, .weight_decay = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f,
                                    .eps = 1e-8f };
            check_steps(mc, &f, WEFT_OPT_ADAMW, "adamw.losses", &adamw);
        }
        check_bf16(mc, &f);
        weft_st_free(&f);
    }
    return test_summary();
}
