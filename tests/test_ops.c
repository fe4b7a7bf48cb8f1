/* test_ops.c — every forward op of the graph, run through the whole stack
 * (builder -> precision -> autodiff -> planner -> store -> exec), against
 * PyTorch fixtures (scripts/gen_fixtures.py writes tests/fixtures/ops_*.
 * safetensors) in fp32 and bf16, and every gradient against central finite
 * differences in fp32. One table drives it all: adding an op case is one row
 * here and one entry in OP_CASES of the script.
 *
 * Each case makes the op's float inputs PARAM values (so autodiff gives them
 * gradients), overwrites their store data with the fixture's inputs, and
 * closes the graph with the probe loss dot(y, r), r an INPUT fed from the
 * fixture: the gradient reaching y is r, so the parameters' gradients are
 * those of sum(y * r) — what the fixture holds. xent and bce are their own
 * losses. Inputs that are not differentiated (xent's labels, embbag's and
 * embedding's ids, bce's targets) are INPUT values fed from the fixture.
 * where's mask is a constant: an f32 STATE value fed from the fixture in both
 * policies; with a -inf fill the case is where + softmax (an attention mask),
 * so that y and the finite differences are finite.
 * embbag's table has a sparse gradient (rows, (n,D) values): the test
 * scatters it to a dense (V,D) one; embedding's is dense (V,D) itself.
 * layernorm and attention: y is the node's first output (the others, the
 * saved statistics and P, are the backward's). Batch norm also checks its running statistics and an eval-mode
 * forward; dropout (no PyTorch fixture: another RNG) has its own test. */
#include "weft/exec.h"
#include "weft/io.h"
#include "graph/ops.h"   /* weft_sparse_rows */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FIN 5       /* most float inputs of a case (lstm)        */

typedef struct {
    const char *name;   /* fixture: ops_<name>.safetensors          */
    weft_op op;
    int nin;            /* float inputs, in the op's input order    */
    int act, stride, pad, k;
    bool bias;
    int axis, axis2;    /* transpose, concat, split                 */
    int start, len;     /* split                                    */
    int heads;          /* attention                                */
    bool causal;        /* attention: query i sees keys j <= i only */
    float pos_back, pos_ahead; /* attention: position-bias slopes       */
    float alpha, beta;  /* scale; where: alpha is the fill          */
    bool ta, tb;        /* matmul: a, b stored transposed           */
} op_case;

static const op_case cases[] = {
    /* name                op                    nin act stride pad k  bias   axis axis2 start len heads causal back ahead alpha beta ta     tb    */
    { "linear_bias",       WEFT_OP_LINEAR,       3,  0,  0,     0,  0, true,  0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "linear_nobias",     WEFT_OP_LINEAR,       2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "linear_relu",       WEFT_OP_LINEAR,       3,  1,  0,     0,  0, true,  0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "add",               WEFT_OP_ADD,          2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "relu",              WEFT_OP_RELU,         1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "gelu",              WEFT_OP_GELU,         1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "conv_s1p1_relu",    WEFT_OP_CONV2D,       3,  1,  1,     1,  0, true,  0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "conv_s2p0",         WEFT_OP_CONV2D,       3,  0,  2,     0,  0, true,  0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "conv_s2p1_nobias",  WEFT_OP_CONV2D,       2,  0,  2,     1,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "maxpool_k2s2",      WEFT_OP_MAXPOOL,      1,  0,  2,     0,  2, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "maxpool_k3s2",      WEFT_OP_MAXPOOL,      1,  0,  2,     0,  3, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "reshape",           WEFT_OP_RESHAPE,      1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "xent",              WEFT_OP_XENT,         1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "sigmoid",           WEFT_OP_SIGMOID,      1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "tanh",              WEFT_OP_TANH,         1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "softmax",           WEFT_OP_SOFTMAX,      1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "transpose",         WEFT_OP_TRANSPOSE,    1,  0,  0,     0,  0, false, 1,   2,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "concat3_axis1",     WEFT_OP_CONCAT,       3,  0,  0,     0,  0, false, 1,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "concat2_axis2",     WEFT_OP_CONCAT,       2,  0,  0,     0,  0, false, 2,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "split_axis1",       WEFT_OP_SPLIT,        1,  0,  0,     0,  0, false, 1,   0,    2,    3,    0,    false, 0,   0,    0,     0,    false, false },
    { "split_last",        WEFT_OP_SPLIT,        1,  0,  0,     0,  0, false, 2,   0,    3,    2,    0,    false, 0,   0,    0,     0,    false, false },
    { "bce",               WEFT_OP_BCE,          1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "xent_ignore",       WEFT_OP_XENT,         1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "embbag",            WEFT_OP_EMBBAG,       1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "embbag_2d",         WEFT_OP_EMBBAG,       1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "dot_interact",      WEFT_OP_DOT_INTERACT, 2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "batchnorm_4d",      WEFT_OP_BATCHNORM,    3,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "batchnorm_2d",      WEFT_OP_BATCHNORM,    3,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "avgpool",           WEFT_OP_AVGPOOL,      1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "lstm",              WEFT_OP_LSTM,         5,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "embedding",         WEFT_OP_EMBEDDING,    1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "layernorm",         WEFT_OP_LAYERNORM,    3,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "attention_causal",  WEFT_OP_ATTENTION,    1,  0,  0,     0,  0, false, 0,   0,    0,    0,    2,    true,  0,   0,    0,     0,    false, false },
    { "attention_bidir",   WEFT_OP_ATTENTION,    1,  0,  0,     0,  0, false, 0,   0,    0,    0,    3,    false, 0,   0,    0,     0,    false, false },
    { "attention_posbias", WEFT_OP_ATTENTION,    1,  0,  0,     0,  0, false, 0,   0,    0,    0,    2,    false, 0.5f, 2.0f, 0,     0,    false, false },
    /* the general math of imported models; sum_lead's leading dims are its axis */
    { "mul",               WEFT_OP_MUL,          2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "mul_bcast",         WEFT_OP_MUL,          2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "add_bcast",         WEFT_OP_ADD,          2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "scale",             WEFT_OP_SCALE,        1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    -1.5f, 0.25f, false, false },
    { "matmul_nn",         WEFT_OP_MATMUL,       2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "matmul_tn",         WEFT_OP_MATMUL,       2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    true,  false },
    { "matmul_nt",         WEFT_OP_MATMUL,       2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, true  },
    { "matmul_tt",         WEFT_OP_MATMUL,       2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    true,  true  },
    { "matmul_2d",         WEFT_OP_MATMUL,       2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "matmul_shared",     WEFT_OP_MATMUL,       2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "matmul_shared_tt",  WEFT_OP_MATMUL,       2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    true,  true  },
    { "matmul_shared_a",   WEFT_OP_MATMUL,       2,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "erf",               WEFT_OP_ERF,          1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
    { "where",             WEFT_OP_WHERE,        1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    -2.5f, 0,    false, false },
    { "where_softmax",     WEFT_OP_WHERE,        1,  0,  0,     0,  0, false, 0,   0,    0,    0,    0,    false, 0,   0,    -INFINITY, 0, false, false },
    { "sum_lead",          WEFT_OP_SUM_LEAD,     1,  0,  0,     0,  0, false, 2,   0,    0,    0,    0,    false, 0,   0,    0,     0,    false, false },
};
#define NCASES ((int)(sizeof cases / sizeof *cases))

/* Batch norm's attributes (PyTorch's defaults; the fixtures' metadata must agree). */
#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f
#define BN_NAME "bn"
/* Layer norm's epsilon (F.layer_norm's default; the fixture's metadata must agree). */
#define LN_EPS 1e-5f

/* The op's own loss (no probe r); the input that is not differentiated:
 * its fixture tensor, and whether it is float (fed rounded in bf16). */
static bool is_loss_op(weft_op op) { return op == WEFT_OP_XENT || op == WEFT_OP_BCE; }
static const char *aux_name(weft_op op)
{
    return op == WEFT_OP_XENT ? "labels" : op == WEFT_OP_EMBBAG || op == WEFT_OP_EMBEDDING ? "ids"
         : op == WEFT_OP_BCE ? "targets" : op == WEFT_OP_WHERE ? "mask" : NULL;
}

/* ---- tolerances (max |got - want| / max |want| over the tensor) -------------
 * fp32: weft and the float64 reference differ only by fp32 rounding and the
 * GEMM's summation order: a few ulps of the largest term, ~1e-6 at most. */
#define TOL_F32 1e-5
/* bf16 outputs: the reference is PyTorch in fp32 from the same bf16 inputs,
 * rounded once to bf16 — the same value weft rounds, up to the summation
 * order (~1e-7 relative), so they differ by at most one bf16 ulp where the
 * fp32 sum lands near a rounding boundary. One ulp of the largest element is
 * at most 2^-7 = 0.0078 of the max abs; allow 1e-2 (1.3 ulps). */
#define TOL_BF16_Y 1e-2
/* bf16 gradients: the gradient kernels read bf16 values that were rounded
 * (the relu mask from the rounded output, gelu's x, the upstream r) and
 * round their own output once; a gradient summed over two uses (add) or
 * formed in two rounded stages may be two ulps away: 2.5e-2. */
#define TOL_BF16_GRAD 2.5e-2
/* Finite differences: central, step FD_H on one element at a time, loss in
 * fp32 (~1e-7 relative, i.e. ~5e-4 absolute error on the difference
 * quotient for losses of order 10). The fixture keeps every relu
 * pre-activation >= 5e-3 from zero and max-pool inputs distinct by 1/64, so
 * no step crosses a kink. */
#define FD_H 1e-3f
#define TOL_FD 1e-2
#define FD_SAMPLES 50

/* ---- fixture helpers -------------------------------------------------------- */

/* The tensor "<prefix><base>[<i>]" (no index when i < 0); a failed check when absent. */
static const weft_st_tensor *need(const weft_st_file *f, const char *prefix, const char *base, int i)
{
    char name[128];
    if (i >= 0) snprintf(name, sizeof name, "%s%s%d", prefix, base, i);
    else snprintf(name, sizeof name, "%s%s", prefix, base);
    const weft_st_tensor *t = weft_st_find(f, name);
    CHECKF(t != NULL, "fixture has no tensor '%s'", name);
    return t;
}


/* The tensor as fp32 (F32 copied, BF16 widened exactly); malloc'd. */
static float *st_floats(const weft_st_tensor *t)
{
    int64_t n = test_st_numel(t);
    float *o = malloc((size_t)(n > 0 ? n : 1) * sizeof *o);
    if (!o) abort();
    if (t->dtype == WEFT_F32) memcpy(o, t->data, (size_t)n * sizeof *o);
    else if (t->dtype == WEFT_BF16) weft_bf16_to_f32_n(t->data, o, n);
    else for (int64_t i = 0; i < n; i++) o[i] = (float)((const int32_t *)t->data)[i];
    return o;
}


static int meta_int(const weft_st_file *f, const char *key)
{
    const char *v = weft_st_meta(f, key);
    return v ? atoi(v) : -1;
}

/* An attribute only some cases write (absent: 0). */
static int meta_int0(const weft_st_file *f, const char *key)
{
    const char *v = weft_st_meta(f, key);
    return v ? atoi(v) : 0;
}

/* ---- one case, one policy ---------------------------------------------------- */

typedef struct {
    double y, grad[MAX_FIN], fd[MAX_FIN];
    int fd_n[MAX_FIN];
    double stats, eval_y;   /* batch norm: running statistics, eval-mode output */
} case_err;

static int build_op(weft_graph *g, const op_case *c, const int *p, int aux, const weft_st_tensor *y)
{
    switch (c->op) {
    case WEFT_OP_LINEAR:  return weft_g_linear(g, p[0], p[1], c->bias ? p[2] : -1, c->act);
    case WEFT_OP_ADD:     return weft_g_add(g, p[0], p[1]);
    case WEFT_OP_RELU:    return weft_g_relu(g, p[0]);
    case WEFT_OP_GELU:    return weft_g_gelu(g, p[0]);
    case WEFT_OP_CONV2D:  return weft_g_conv2d(g, p[0], p[1], c->bias ? p[2] : -1, c->stride, c->pad, c->act);
    case WEFT_OP_MAXPOOL: return weft_g_maxpool(g, p[0], c->k, c->stride);
    case WEFT_OP_RESHAPE: return weft_g_reshape(g, p[0], y->ndim, y->dims);
    case WEFT_OP_XENT:    return weft_g_xent(g, p[0], aux);
    case WEFT_OP_SIGMOID: return weft_g_sigmoid(g, p[0]);
    case WEFT_OP_TANH:    return weft_g_tanh(g, p[0]);
    case WEFT_OP_SOFTMAX: return weft_g_softmax(g, p[0]);
    case WEFT_OP_TRANSPOSE: return weft_g_transpose(g, p[0], c->axis, c->axis2);
    case WEFT_OP_CONCAT:  return weft_g_concat(g, p, c->nin, c->axis);
    case WEFT_OP_SPLIT:   return weft_g_split(g, p[0], c->axis, c->start, c->len);
    case WEFT_OP_BCE:     return weft_g_bce(g, p[0], aux);
    case WEFT_OP_EMBBAG:  return weft_g_embbag(g, aux, p[0]);
    case WEFT_OP_DOT_INTERACT: return weft_g_dot_interact(g, p[0], p[1]);
    case WEFT_OP_BATCHNORM: return weft_g_batchnorm(g, BN_NAME, p[0], p[1], p[2], BN_EPS, BN_MOMENTUM);
    case WEFT_OP_AVGPOOL: return weft_g_avgpool(g, p[0]);
    case WEFT_OP_LSTM:    return weft_g_lstm(g, p[0], p[1], p[2], p[3], p[4]);
    case WEFT_OP_EMBEDDING: return weft_g_embedding(g, aux, p[0]);
    case WEFT_OP_LAYERNORM: return weft_g_layernorm(g, p[0], p[1], p[2], LN_EPS);
    case WEFT_OP_ATTENTION: return weft_g_attention_pos(g, p[0], c->heads, c->causal, c->pos_back, c->pos_ahead);
    case WEFT_OP_MUL:     return weft_g_mul(g, p[0], p[1]);
    case WEFT_OP_SCALE:   return weft_g_scale(g, p[0], c->alpha, c->beta);
    case WEFT_OP_MATMUL:  return weft_g_matmul(g, p[0], p[1], c->ta, c->tb);
    case WEFT_OP_ERF:     return weft_g_erf(g, p[0]);
    case WEFT_OP_SUM_LEAD: return weft_g_sum_lead(g, p[0], c->axis);
    case WEFT_OP_WHERE: {
        /* a -inf fill masks scores out before a softmax, as attention does */
        int w = weft_g_where(g, p[0], aux, c->alpha);
        return isinf(c->alpha) ? weft_g_softmax(g, w) : w;
    }
    default:              return -1;
    }
}

static float run_loss(weft_exec *ex, int loss)
{
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD };
    float l = NAN;
    if (weft_exec_run(ex, &ro) == WEFT_OK) weft_exec_read(ex, loss, &l);
    return l;
}

/* Central differences of the loss w.r.t. up to FD_SAMPLES elements of each
 * input, against the analytic gradient; error relative to max |analytic|.
 * cand[i] (or NULL: all elements) lists the elements input i's samples come
 * from, ncand[i] of them (embbag: the table's touched rows). */
static void finite_differences(weft_exec *ex, weft_store *st, const weft_graph *g, const op_case *c,
                               const int *pid, int loss, const float *const *grads,
                               const int64_t *const *cand, const int64_t *ncand, case_err *e)
{
    for (int i = 0; i < c->nin; i++) {
        weft_tensor *t = weft_store_find(st, g->values[pid[i]].name);
        float *w = t->data;
        int64_t n = weft_shape_numel(&t->shape), nc = cand[i] ? ncand[i] : n;
        int64_t m = nc < FD_SAMPLES ? nc : FD_SAMPLES;
        double num = 0, den = 0;
        for (int64_t j = 0; j < n; j++) if (fabs(grads[i][j]) > den) den = fabs(grads[i][j]);
        for (int64_t s = 0; s < m; s++) {
            int64_t j = nc <= FD_SAMPLES ? s : (s * 7919) % nc;  /* 7919 is prime: distinct */
            if (cand[i]) j = cand[i][j];
            float w0 = w[j];
            w[j] = w0 + FD_H;
            double lp = run_loss(ex, loss);
            w[j] = w0 - FD_H;
            double lm = run_loss(ex, loss);
            w[j] = w0;
            /* the step actually taken, in fp32 */
            double h2 = (double)(w0 + FD_H) - (double)(w0 - FD_H);
            double d = fabs((lp - lm) / h2 - grads[i][j]);
            if (!(d <= num)) num = isnan(d) ? INFINITY : d;
        }
        e->fd[i] = num / (den > 0 ? den : 1.0);
        e->fd_n[i] = (int)m;
    }
}

/* embbag's sparse gradient: the (n,D) values of the rows value `rows`,
 * scattered into a dense (V,D) gradient (malloc'd). Checks the rows:
 * ascending, unique, in range, then -1; exactly the ids' distinct rows; and
 * torch's gradient `want` zero on the rows weft did not touch. *cand gets
 * the touched rows' elements (for the finite differences). */
static float *sparse_to_dense(weft_exec *ex, const weft_graph *g, const op_case *c, const char *tag,
                              int gv, int rows, const weft_st_tensor *ids, const float *want,
                              int64_t V, int64_t D, int64_t **cand, int64_t *ncand)
{
    const weft_shape *gs = &g->values[gv].shape;
    int64_t n = test_st_numel(ids);
    float *dense = calloc((size_t)(V * D), sizeof *dense);
    bool *touched = calloc((size_t)V, sizeof *touched), *seen = calloc((size_t)V, sizeof *seen);
    float *sp = malloc((size_t)(n * D) * sizeof *sp);
    *cand = malloc((size_t)(V * D) * sizeof **cand);
    if (!dense || !touched || !seen || !sp || !*cand) abort();
    *ncand = 0;
    CHECKF(rows >= 0, "%s %s: the table's gradient is not sparse", c->name, tag);
    CHECKF(gs->ndim == 2 && gs->d[0] == n && gs->d[1] == D && rows >= 0 &&
           g->values[rows].dtype == WEFT_I32 && weft_shape_numel(&g->values[rows].shape) == n,
           "%s %s: sparse gradient of shape (%lld,%lld), want (%lld,%lld) with i32 rows (%lld)", c->name, tag,
           (long long)gs->d[0], (long long)(gs->ndim > 1 ? gs->d[1] : 0), (long long)n, (long long)D,
           (long long)n);
    if (rows < 0 || gs->ndim != 2 || gs->d[0] != n || gs->d[1] != D) goto out;
    const int32_t *id = ids->data, *r = weft_exec_ptr(ex, rows);
    int64_t distinct = 0;
    for (int64_t i = 0; i < n; i++)
        if (id[i] >= 0 && id[i] < V && !touched[id[i]]) { touched[id[i]] = true; distinct++; }
    weft_exec_read(ex, gv, sp);
    int64_t u = 0;
    bool ok = true;
    for (; u < n && r[u] >= 0; u++) {
        ok = ok && r[u] < V && (u == 0 || r[u] > r[u - 1]) && touched[r[u]];
        if (r[u] < V) seen[r[u]] = true;
        if (r[u] < V) memcpy(dense + r[u] * D, sp + u * D, (size_t)D * sizeof *dense);
    }
    CHECKF(ok, "%s %s: sparse rows are not ascending, unique rows of the ids", c->name, tag);
    CHECKF(u == distinct, "%s %s: %lld sparse rows, the ids touch %lld", c->name, tag, (long long)u,
           (long long)distinct);
    bool tail = true;
    for (int64_t i = u; i < n; i++) tail = tail && r[i] == -1;
    CHECKF(tail, "%s %s: the unused sparse rows are not -1", c->name, tag);
    bool zero = true;
    for (int64_t v = 0; v < V; v++) {
        for (int64_t d = 0; d < D && !seen[v]; d++) zero = zero && want[v * D + d] == 0.0f;
        for (int64_t d = 0; d < D && touched[v]; d++) (*cand)[(*ncand)++] = v * D + d;
    }
    CHECKF(zero, "%s %s: torch's gradient is not zero on the rows weft left out", c->name, tag);
out:
    free(touched); free(seen); free(sp);
    return dense;
}

/* Batch norm: the running statistics after the training run, then an
 * eval-mode forward (which must leave them alone) against the fixture. */
static void batchnorm_extra(weft_exec *ex, weft_store *st, int y, const weft_st_file *f, const char *pre,
                            const op_case *c, const char *tag, double ty, case_err *e)
{
    static const char *const stat[2] = { "running_mean", "running_var" };
    float *before[2] = { 0 };
    e->stats = 0;
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, BN_NAME ".%s", stat[k]);
        weft_tensor *t = weft_store_find(st, name);
        const weft_st_tensor *w = need(f, pre, stat[k], -1);
        CHECKF(t && t->dtype == WEFT_F32, "%s %s: no f32 state %s in the store", c->name, tag, name);
        if (!t || !w || t->dtype != WEFT_F32 || weft_shape_numel(&t->shape) != test_st_numel(w)) {
            e->stats = INFINITY;
            continue;
        }
        float *want = st_floats(w);
        double err = test_rel_err(t->data, want, test_st_numel(w));
        if (!(err <= e->stats)) e->stats = err;
        free(want);
        before[k] = malloc(t->nbytes);
        if (!before[k]) abort();
        memcpy(before[k], t->data, t->nbytes);
    }
    CHECKF(e->stats <= TOL_F32, "%s %s: running statistics error %.3g > %.3g", c->name, tag, e->stats, TOL_F32);

    e->eval_y = INFINITY;
    const weft_st_tensor *yt = need(f, pre, "eval.y", -1);
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD, .step = 1, .eval = true };
    weft_status s = weft_exec_run(ex, &ro);
    CHECKF(s == WEFT_OK, "%s %s eval: %s: %s", c->name, tag, weft_status_name(s), weft_errmsg());
    if (!s && yt) {
        int64_t n = test_st_numel(yt);
        float *got = malloc((size_t)n * sizeof *got), *want = st_floats(yt);
        if (!got) abort();
        weft_exec_read(ex, y, got);
        e->eval_y = test_rel_err(got, want, n);
        free(got); free(want);
    }
    CHECKF(e->eval_y <= ty, "%s %s: eval-mode y error %.3g > %.3g", c->name, tag, e->eval_y, ty);
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, BN_NAME ".%s", stat[k]);
        weft_tensor *t = weft_store_find(st, name);
        if (before[k] && t) CHECKF(memcmp(before[k], t->data, t->nbytes) == 0,
                                   "%s %s: an eval-mode forward changed %s", c->name, tag, name);
        free(before[k]);
    }
}

static void run_case(const op_case *c, const weft_st_file *f, weft_precision prec, case_err *e)
{
    const bool bf = prec != WEFT_PREC_FP32;
    const char *pre = bf ? "bf16." : "";
    const weft_dtype dt = bf ? WEFT_BF16 : WEFT_F32;
    const bool is_loss = is_loss_op(c->op), sparse = c->op == WEFT_OP_EMBBAG;
    const char *tag = bf ? "bf16" : "fp32", *an = aux_name(c->op);
    const bool aux_float = c->op == WEFT_OP_BCE;
    /* where's mask: a constant, an f32 state in every policy (read as a
     * predicate: weft lets it keep f32 beside bf16 activations) */
    const bool aux_state = c->op == WEFT_OP_WHERE;
    e->y = e->stats = e->eval_y = INFINITY;
    for (int i = 0; i < MAX_FIN; i++) { e->grad[i] = e->fd[i] = INFINITY; e->fd_n[i] = 0; }

    const weft_st_tensor *in[MAX_FIN] = { 0 }, *gt[MAX_FIN] = { 0 }, *yt, *rt = NULL, *at = NULL;
    for (int i = 0; i < c->nin; i++) {
        in[i] = need(f, pre, "in", i);
        gt[i] = need(f, pre, "grad", i);
        if (!in[i] || !gt[i]) return;
        CHECKF(in[i]->dtype == dt, "%s %s: in%d has dtype %d", c->name, tag, i, (int)in[i]->dtype);
    }
    yt = need(f, pre, "y", -1);
    if (!is_loss) rt = need(f, pre, "r", -1);
    if (an) {
        at = need(f, aux_float ? pre : "", an, -1);
        if (!at) return;
        weft_dtype want = aux_float ? dt : aux_state ? WEFT_F32 : WEFT_I32;
        CHECKF(at->dtype == want, "%s %s: %s has dtype %d", c->name, tag, an, (int)at->dtype);
    }
    if (!yt || (!is_loss && !rt)) return;

    weft_graph *g = weft_graph_new();
    if (!g) abort();
    int pid[MAX_FIN] = { -1, -1, -1, -1, -1 }, aux = -1, r = -1, loss, rows = -1;
    for (int i = 0; i < c->nin; i++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        pid[i] = weft_g_param(g, name, in[i]->ndim, in[i]->dims, 0.0f);
    }
    if (an && aux_state) {
        weft_shape ms = weft_shape_make(at->ndim, at->dims);
        aux = weft_g_value(g, an, WEFT_ROLE_STATE, WEFT_F32, &ms);
    } else if (an) {
        aux = weft_g_input(g, an, aux_float ? WEFT_F32 : WEFT_I32, at->ndim, at->dims);
    }
    int y = build_op(g, c, pid, aux, yt);
    if (is_loss) loss = y;
    else {
        r = weft_g_input(g, "r", WEFT_F32, rt->ndim, rt->dims);
        loss = weft_g_dot(g, y, r);
    }
    weft_store st;
    weft_store_init(&st);
    weft_exec *ex = NULL;
    float *got = NULL, *want = NULL, *grads[MAX_FIN] = { 0 };
    int64_t *cand[MAX_FIN] = { 0 }, ncand[MAX_FIN] = { 0 };
    weft_status s = weft_graph_status(g);
    if (!s) s = weft_pass_precision(g, prec);
    if (!s) s = weft_pass_autodiff(g, loss);
    if (!s) {
        /* The test reads y and the gradients after the run: keep them. */
        g->values[y].keep = true;
        for (int i = 0; i < c->nin; i++) g->values[g->values[pid[i]].grad].keep = true;
        if (sparse) {
            rows = weft_sparse_rows(g, g->values[pid[0]].grad);
            if (rows >= 0) g->values[rows].keep = true;
        }
        s = weft_graph_verify(g);
        /* embedding's table gradient is dense (V,D), unlike embbag's */
        if (!s && c->op == WEFT_OP_EMBEDDING && weft_sparse_rows(g, g->values[pid[0]].grad) >= 0)
            s = weft_fail(WEFT_ERR_INTERNAL, "%s %s: the table's gradient is sparse", c->name, tag);
    }
    if (!s) s = weft_pass_plan_memory(g);
    if (!s) s = weft_store_bind(&st, g, 1);
    for (int i = 0; i < c->nin && !s; i++) {
        weft_tensor *t = weft_store_find(&st, g->values[pid[i]].name);
        if (!t || t->dtype != in[i]->dtype || t->nbytes != in[i]->nbytes)
            s = weft_fail(WEFT_ERR_SHAPE, "%s %s: store tensor in%d does not match the fixture", c->name, tag, i);
        else memcpy(t->data, in[i]->data, t->nbytes);
    }
    if (!s) s = weft_exec_create(&ex, g, &st, 1, 1);
    /* graph.h: a view (reshape) shares its base's bytes. Running with a view
     * pointing elsewhere would write out of bounds, so stop here. */
    for (int v = 0; v < g->nvalues && !s; v++)
        if (g->values[v].alias_of >= 0 && weft_exec_ptr(ex, v) != weft_exec_ptr(ex, g->values[v].alias_of))
            s = weft_fail(WEFT_ERR_INTERNAL, "view %s of %s (%s) does not share its bytes (%p, base %p)",
                          g->values[v].name, g->values[g->values[v].alias_of].name,
                          g->values[g->values[v].alias_of].role == WEFT_ROLE_PARAM ? "a parameter" : "arena",
                          weft_exec_ptr(ex, v), weft_exec_ptr(ex, g->values[v].alias_of));
    if (!s && rt) s = weft_exec_feed(ex, r, rt->data, rt->dtype);
    if (!s && at) s = weft_exec_feed(ex, aux, at->data, at->dtype);
    if (!s) {
        weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = 1 };
        s = weft_exec_run(ex, &ro);
    }
    CHECKF(s == WEFT_OK, "%s %s: %s: %s", c->name, tag, weft_status_name(s), weft_errmsg());
    if (s) goto done;

    int64_t ny = weft_shape_numel(&g->values[y].shape);
    CHECKF(ny == test_st_numel(yt), "%s %s: y has %lld elements, the fixture %lld", c->name, tag,
           (long long)ny, (long long)test_st_numel(yt));
    if (ny != test_st_numel(yt)) goto done;
    got = malloc((size_t)ny * sizeof *got);
    if (!got) abort();
    weft_exec_read(ex, y, got);
    want = st_floats(yt);
    e->y = test_rel_err(got, want, ny);
    for (int i = 0; i < c->nin; i++) {
        int gv = g->values[pid[i]].grad;
        int64_t n = test_st_numel(gt[i]);
        float *gw = st_floats(gt[i]);
        if (sparse) {
            grads[i] = sparse_to_dense(ex, g, c, tag, gv, rows, at, gw, in[i]->dims[0], in[i]->dims[1],
                                       &cand[i], &ncand[i]);
        } else {
            int64_t ng = weft_shape_numel(&g->values[gv].shape);
            CHECKF(ng == n, "%s %s: grad%d has %lld elements", c->name, tag, i, (long long)ng);
            if (ng != n) { free(gw); goto done; }
            grads[i] = malloc((size_t)n * sizeof *grads[i]);
            if (!grads[i]) abort();
            weft_exec_read(ex, gv, grads[i]);
        }
        e->grad[i] = test_rel_err(grads[i], gw, n);
        free(gw);
    }

    double ty = bf ? TOL_BF16_Y : TOL_F32, tg = bf ? TOL_BF16_GRAD : TOL_F32;
    /* before the finite differences: their forwards update the running statistics */
    if (c->op == WEFT_OP_BATCHNORM) batchnorm_extra(ex, &st, y, f, pre, c, tag, ty, e);
    if (!bf) finite_differences(ex, &st, g, c, pid, loss, (const float *const *)grads,
                                (const int64_t *const *)cand, ncand, e);

    CHECKF(e->y <= ty, "%s %s: y error %.3g > %.3g", c->name, tag, e->y, ty);
    for (int i = 0; i < c->nin; i++) {
        CHECKF(e->grad[i] <= tg, "%s %s: grad of in%d error %.3g > %.3g", c->name, tag, i, e->grad[i], tg);
        if (!bf) CHECKF(e->fd[i] <= TOL_FD, "%s fp32: finite differences of in%d: error %.3g > %.3g",
                        c->name, i, e->fd[i], TOL_FD);
    }
done:
    free(got); free(want);
    for (int i = 0; i < MAX_FIN; i++) { free(grads[i]); free(cand[i]); }
    weft_exec_free(ex);
    weft_store_free(&st);
    weft_graph_free(g);
}

/* The fixture's metadata must describe the same case as the table row. */
static bool same_case(const op_case *c, const weft_st_file *f)
{
    const char *op = weft_st_meta(f, "op");
    bool ok = op && strcmp(op, weft_op_name(c->op)) == 0 && meta_int(f, "act") == c->act &&
              meta_int(f, "bias") == (int)c->bias && meta_int(f, "stride") == c->stride &&
              meta_int(f, "pad") == c->pad && meta_int(f, "k") == c->k &&
              meta_int0(f, "axis") == c->axis && meta_int0(f, "axis2") == c->axis2 &&
              meta_int0(f, "start") == c->start && meta_int0(f, "len") == c->len &&
              meta_int0(f, "heads") == c->heads && meta_int0(f, "causal") == (int)c->causal &&
              meta_int0(f, "ta") == (int)c->ta && meta_int0(f, "tb") == (int)c->tb;
    if (ok) {
        const char *al = weft_st_meta(f, "alpha"), *be = weft_st_meta(f, "beta");
        ok = (float)(al ? atof(al) : 0.0) == c->alpha && (float)(be ? atof(be) : 0.0) == c->beta;
    }
    if (ok && c->op == WEFT_OP_ATTENTION) {
        const char *b = weft_st_meta(f, "pos_back"), *a = weft_st_meta(f, "pos_ahead");
        ok = (b ? atof(b) : 0.0) == c->pos_back && (a ? atof(a) : 0.0) == c->pos_ahead;
    }
    if (ok && c->op == WEFT_OP_LAYERNORM) {
        const char *eps = weft_st_meta(f, "eps");
        ok = eps && fabs(atof(eps) - LN_EPS) <= 1e-6 * LN_EPS;
    }
    if (ok && c->op == WEFT_OP_BATCHNORM) {
        const char *eps = weft_st_meta(f, "eps"), *mom = weft_st_meta(f, "momentum");
        ok = eps && mom && fabs(atof(eps) - BN_EPS) <= 1e-6 * BN_EPS &&
             fabs(atof(mom) - BN_MOMENTUM) <= 1e-6 * BN_MOMENTUM;
    }
    CHECKF(ok, "ops_%s.safetensors: metadata (op %s) does not match the table row "
           "(regenerate with `make fixtures`)", c->name, op ? op : "?");
    return ok;
}

/* ---- dropout: no PyTorch fixture (another RNG); its contract instead ---------- */

#define DROP_P 0.3f
/* The fraction of zeros is binomial: sd sqrt(p(1-p)/n) = 1.8e-3 for n = 2^16;
 * 0.01 is 5.5 sd. */
#define DROP_FRAC_TOL 0.01
/* y = x / (1-p) in fp32 (scale rounded once, then the product): 2 ulps. */
#define DROP_SCALE_TOL 3e-7

static void test_dropout(void)
{
    const int64_t d[2] = { 256, 256 }, n = d[0] * d[1];
    const float keep = 1.0f - DROP_P;
    weft_graph *g = weft_graph_new();
    if (!g) abort();
    int x = weft_g_param(g, "x", 2, d, 0.0f);
    int y = weft_g_dropout(g, x, DROP_P);
    int r = weft_g_input(g, "r", WEFT_F32, 2, d);
    int loss = weft_g_dot(g, y, r);
    weft_store st;
    weft_store_init(&st);
    weft_exec *ex = NULL;
    float *xv = malloc((size_t)n * sizeof *xv), *rv = malloc((size_t)n * sizeof *rv);
    float *y1 = malloc((size_t)n * sizeof *y1), *y2 = malloc((size_t)n * sizeof *y2);
    float *gx = malloc((size_t)n * sizeof *gx);
    if (!xv || !rv || !y1 || !y2 || !gx) abort();
    for (int64_t i = 0; i < n; i++) {
        xv[i] = (i % 2 ? -1.0f : 1.0f) * (0.5f + (float)(i % 97) / 97.0f);  /* never 0 */
        rv[i] = 1.0f + (float)(i % 13) / 13.0f;
    }
    weft_status s = weft_graph_status(g);
    if (!s) s = weft_pass_precision(g, WEFT_PREC_FP32);
    if (!s) s = weft_pass_autodiff(g, loss);
    int gv = s ? -1 : g->values[x].grad;
    if (!s) {
        g->values[y].keep = true;
        g->values[gv].keep = true;
        s = weft_graph_verify(g);
    }
    if (!s) s = weft_pass_plan_memory(g);
    if (!s) s = weft_store_bind(&st, g, 1);
    if (!s) memcpy(weft_store_find(&st, "x")->data, xv, (size_t)n * sizeof *xv);
    if (!s) s = weft_exec_create(&ex, g, &st, 1, 1);
    if (!s) s = weft_exec_feed(ex, r, rv, WEFT_F32);
    CHECK_OK(s);
    if (s) goto done;

    /* step 1, training: ~p zeros, the rest scaled by 1/(1-p); the gradient
     * has the same mask and scale */
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = 1 };
    CHECK_OK(weft_exec_run(ex, &ro));
    weft_exec_read(ex, y, y1);
    weft_exec_read(ex, gv, gx);
    int64_t zeros = 0;
    double worst_y = 0, worst_g = 0;
    bool same_mask = true;
    for (int64_t i = 0; i < n; i++) {
        if (y1[i] == 0.0f) {
            zeros++;
            same_mask = same_mask && gx[i] == 0.0f;
            continue;
        }
        double wy = (double)xv[i] / keep, wg = (double)rv[i] / keep;
        worst_y = fmax(worst_y, fabs(y1[i] - wy) / fabs(wy));
        worst_g = fmax(worst_g, fabs(gx[i] - wg) / fabs(wg));
        same_mask = same_mask && gx[i] != 0.0f;
    }
    double frac = (double)zeros / (double)n;
    CHECKF(fabs(frac - DROP_P) <= DROP_FRAC_TOL, "dropout: %.4f of the outputs are zero, p = %.2f", frac,
           (double)DROP_P);
    CHECKF(worst_y <= DROP_SCALE_TOL, "dropout: kept outputs are not x/(1-p): relative error %.3g", worst_y);
    CHECKF(same_mask, "dropout: the backward's mask is not the forward's");
    CHECKF(worst_g <= DROP_SCALE_TOL, "dropout: kept gradients are not r/(1-p): relative error %.3g", worst_g);

    /* the same step again: the same mask */
    CHECK_OK(weft_exec_run(ex, &ro));
    weft_exec_read(ex, y, y2);
    CHECKF(memcmp(y1, y2, (size_t)n * sizeof *y1) == 0, "dropout: the same step gave another mask");

    /* step 2: another mask (expected to differ at 2p(1-p) = 42% of the elements) */
    ro.step = 2;
    CHECK_OK(weft_exec_run(ex, &ro));
    weft_exec_read(ex, y, y2);
    int64_t differ = 0, zeros2 = 0;
    for (int64_t i = 0; i < n; i++) {
        differ += (y1[i] == 0.0f) != (y2[i] == 0.0f);
        zeros2 += y2[i] == 0.0f;
    }
    double fd = (double)differ / (double)n, f2 = (double)zeros2 / (double)n;
    CHECKF(fabs(fd - 2.0 * DROP_P * (1.0 - DROP_P)) <= 2 * DROP_FRAC_TOL,
           "dropout: steps 1 and 2 masks differ at %.4f of the elements, expected %.2f", fd,
           2.0 * DROP_P * (1.0 - DROP_P));
    CHECKF(fabs(f2 - DROP_P) <= DROP_FRAC_TOL, "dropout step 2: %.4f zero", f2);

    /* eval: the identity, forward and backward */
    weft_run_opts ev = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = 3, .eval = true };
    CHECK_OK(weft_exec_run(ex, &ev));
    weft_exec_read(ex, y, y2);
    weft_exec_read(ex, gv, gx);
    CHECKF(memcmp(y2, xv, (size_t)n * sizeof *xv) == 0, "dropout: eval mode is not the identity");
    CHECKF(memcmp(gx, rv, (size_t)n * sizeof *rv) == 0, "dropout: eval mode's gradient is not dy");
    printf("%-18s %-4s zeros %.4f (p %.2f), step 2 differs at %.4f, scale err y %.2e grad %.2e\n", "dropout",
           "fp32", frac, (double)DROP_P, fd, worst_y, worst_g);
done:
    free(xv); free(rv); free(y1); free(y2); free(gx);
    weft_exec_free(ex);
    weft_store_free(&st);
    weft_graph_free(g);
}

/* ---- the general math ops split across a pool: what one thread computes --------
 * Sizes past the executor's split grain (2^15 elements), so the elementwise
 * kernels run as several chunks (by elements, by rows of a broadcast
 * operand, by columns of a sum, by rows of its backward) and the products
 * by batches or by blocks. A pool's GEMM blocks may round some sums
 * differently (kernels/gemm.c): 1e-5 of the largest element. */
#define THREADS_TOL 1e-5

static weft_status math_graph(weft_graph *g, int *loss, int *out, int *r, int *params, int *np)
{
    const int64_t dx[3] = { 64, 32, 40 }, db[2] = { 32, 40 }, dc[1] = { 40 }, dw[2] = { 40, 24 };
    const int64_t dv[3] = { 64, 24, 8 }, dz[2] = { 40, 8 }, dr[2] = { 32, 8 };
    int x = weft_g_param(g, "x", 3, dx, 1.0f), b = weft_g_param(g, "b", 2, db, 1.0f);
    int c = weft_g_param(g, "c", 1, dc, 1.0f), w = weft_g_param(g, "w", 2, dw, 0.3f);
    int v = weft_g_param(g, "v", 3, dv, 0.3f), z = weft_g_param(g, "z", 2, dz, 0.3f);
    weft_shape ms = weft_shape_make(2, db);
    int mask = weft_g_value(g, "mask", WEFT_ROLE_STATE, WEFT_F32, &ms);
    int e = weft_g_erf(g, weft_g_scale(g, weft_g_add(g, weft_g_mul(g, x, b), c), 0.5f, 0.1f));
    int m = weft_g_where(g, e, mask, -1.0f);
    int h = weft_g_matmul(g, weft_g_matmul(g, m, w, false, false), v, false, false);      /* (64,32,8) */
    int y3 = weft_g_matmul(g, weft_g_sum_lead(g, m, 1), z, false, false);                 /* (32,8)    */
    *out = weft_g_add(g, weft_g_sum_lead(g, h, 1), y3);
    *r = weft_g_input(g, "r", WEFT_F32, 2, dr);
    *loss = weft_g_dot(g, *out, *r);
    int ps[6] = { x, b, c, w, v, z };
    memcpy(params, ps, sizeof ps);
    *np = 6;
    return weft_graph_status(g);
}

static void test_math_threads(void)
{
    weft_graph *g = weft_graph_new();
    if (!g) abort();
    int loss, out, rv, params[6], np;
    weft_status s = math_graph(g, &loss, &out, &rv, params, &np);
    if (!s) s = weft_pass_autodiff(g, loss);
    if (!s) {
        g->values[out].keep = true;
        for (int i = 0; i < np; i++) g->values[g->values[params[i]].grad].keep = true;
        s = weft_pass_plan_memory(g);
    }
    weft_store st[2];
    weft_exec *ex[2] = { NULL, NULL };
    float r[32 * 8];
    for (int i = 0; i < 32 * 8; i++) r[i] = (float)(i % 7) / 7.0f - 0.4f;
    for (int k = 0; k < 2; k++) {
        weft_store_init(&st[k]);
        if (!s) s = weft_store_bind(&st[k], g, 3);
        weft_tensor *mt = s ? NULL : weft_store_find(&st[k], "mask");
        for (int i = 0; mt && i < 32 * 40; i++) ((float *)mt->data)[i] = (float)(i % 3 != 0);
        if (!s) s = weft_exec_create(&ex[k], g, &st[k], k ? 3 : 1, 1);
        if (!s) s = weft_exec_feed(ex[k], rv, r, WEFT_F32);
        weft_run_opts ro = { .phases = WEFT_PHASE_FWD | WEFT_PHASE_BWD, .step = 1 };
        if (!s) s = weft_exec_run(ex[k], &ro);
    }
    CHECK_OK(s);
    double worst = 0;
    const char *at = "-";
    for (int i = -1; i < np && !s; i++) {
        int v = i < 0 ? out : g->values[params[i]].grad;
        int64_t n = weft_shape_numel(&g->values[v].shape);
        float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        if (!a || !b) abort();
        weft_exec_read(ex[0], v, a);
        weft_exec_read(ex[1], v, b);
        double e = test_rel_err(b, a, n);
        if (!(e <= worst)) { worst = e; at = g->values[v].name; }
        free(a); free(b);
    }
    CHECKF(worst <= THREADS_TOL, "math ops on 3 threads differ from 1 by %.3g in %s", worst, at);
    printf("%-18s %-4s 3 threads against 1: max rel error %.2e (%s)\n", "math split", "fp32", worst, at);
    for (int k = 0; k < 2; k++) { weft_exec_free(ex[k]); weft_store_free(&st[k]); }
    weft_graph_free(g);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("%-18s %-4s %-9s %-29s %s\n", "case", "prec", "y", "grads (max err / max abs)", "finite differences");
    for (int ci = 0; ci < NCASES; ci++) {
        const op_case *c = &cases[ci];
        char path[512];
        snprintf(path, sizeof path, "%s/ops_%s.safetensors", test_fixture_dir(), c->name);
        weft_st_file f;
        weft_status s = weft_st_read(path, &f);
        CHECKF(s == WEFT_OK, "%s", weft_errmsg());
        if (s) continue;
        if (same_case(c, &f)) {
            for (int pi = 0; pi < 2; pi++) {
                weft_precision p = pi ? WEFT_PREC_BF16 : WEFT_PREC_FP32;
                case_err e;
                run_case(c, &f, p, &e);
                char gs[128] = "", fs[160] = "", bs[64] = "";
                size_t k = 0, kf = 0;
                for (int i = 0; i < c->nin; i++) {
                    k += (size_t)snprintf(gs + k, sizeof gs - k, " %.2e", e.grad[i]);
                    if (!pi) kf += (size_t)snprintf(fs + kf, sizeof fs - kf, " %.2e(%d)", e.fd[i], e.fd_n[i]);
                }
                if (c->op == WEFT_OP_BATCHNORM)
                    snprintf(bs, sizeof bs, "  running %.2e eval y %.2e", e.stats, e.eval_y);
                printf("%-18s %-4s %.2e %-29s%s%s\n", c->name, pi ? "bf16" : "fp32", e.y, gs, fs, bs);
            }
        }
        weft_st_free(&f);
    }
    test_dropout();
    test_math_threads();
    return test_summary();
}
