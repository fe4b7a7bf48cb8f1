/* clicks.c — click-through sets in memory and the synthetic generator.
 *
 * The generator draws Criteo-shaped examples from a hidden logistic model:
 *
 *   count_j = floor(exp(mu_j + sig_j g))            g ~ N(0,1), j < 13
 *   dense_j = log(1 + count_j)
 *   id_t    = Zipf(zipf_s) over [0, cards[t])       rank r has p ~ (r+1)^-s
 *   logit   = bias + dense part + sum_t e_t[id_t]
 *             + pair_scale/2 * sum_{k<npairs} <z_2k[id_2k], z_2k+1[id_2k+1]>
 *   label   ~ Bernoulli(sigmoid(logit))
 *
 * The dense part is sum_j a_j x_j + b_j max(0, x_j) with x_j the standardized
 * dense_j: linear plus a hinge, so the bottom MLP has something to bend. The
 * ids are drawn independently of the dense features, so P(click | dense) is a
 * monotone function of the dense part and its AUC (truth.dense_auc) is the
 * best a model blind to the ids can reach. The per-id effect e_t[id] is
 * Gaussian with std sparse_scale / sqrt(1 + r/r0) and the latent 4-vectors
 * z_t[id] have components of std 1 / sqrt(1 + r/r0), r the id's rank: rare
 * ids carry little signal, as in real logs, so what there is to learn sits
 * in ids seen thousands of times (docs/DATA_CLICKS.md measures how close
 * simple learners get). The pair terms are what DLRM's dot interaction
 * models; a model without them tops out at a lower AUC.
 *
 * Determinism. Every random number is weft_rng_u32 under a key (seed, step,
 * stream): the hidden model uses step CLK_STEP_MODEL and one stream per
 * table and purpose, indexed by id; an example's draws use step = its split
 * (train, val, or the calibration split that fixes the bias and the dense
 * standardization) and one stream per field, indexed by the example's
 * number. So example i of a split is a pure function of (cfg, split, i), and
 * the validation set does not change with n_train. (Bit-for-bit on one
 * platform: the normals use the C library's float logf, sincosf, expf.)
 *
 * Zipf draws are exact inversion of the cumulative distribution, held as
 * 64-bit thresholds T[r] = floor(2^64 F(r)), against 64 random bits; a guide
 * table on the top 16 bits narrows the binary search to a few steps. One
 * table per distinct cardinality. The hidden model holds 4 bytes per table
 * row, 32 for tables in a pair: 44 MB at the default 26 x 100000 rows. */
#include "weft/clicks.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Streams: "CLK" in ASCII in the high bytes, then a purpose and an index. */
#define CLK_STREAM         UINT64_C(0x434C4B0000000000)
#define CLK_S_DENSE(p)     (CLK_STREAM | UINT64_C(0x010000) | (uint64_t)(p) << 1)
#define CLK_S_SPARSE(t)    (CLK_STREAM | UINT64_C(0x020000) | (uint64_t)(t) << 1)
#define CLK_S_LABEL        (CLK_STREAM | UINT64_C(0x030000))
#define CLK_S_TABLE(t, q)  (CLK_STREAM | UINT64_C(0x040000) | (uint64_t)((t) * 4 + (q)) << 1)
#define CLK_S_DPARAM       (CLK_STREAM | UINT64_C(0x050000))
/* Steps: the splits, and the hidden model. */
#define CLK_STEP_TRAIN 0
#define CLK_STEP_VAL   1
#define CLK_STEP_CAL   2
#define CLK_STEP_MODEL 3

#define CLK_K 4                     /* latent dimension of the pair terms  */
#define CLK_NCAL 65536              /* calibration examples                */
#define CLK_GUIDE_BITS 16
#define CLK_BLOCK 128               /* examples drawn per block            */
#define ND WEFT_CLICKS_NDENSE
#define NS WEFT_CLICKS_NSPARSE

/* ---- sets ------------------------------------------------------------------ */

static void truth_unknown(weft_clicks_truth *t)
{
    t->known = false;
    t->best_auc = t->best_logloss = t->dense_auc = t->head_auc = NAN;
}

void weft_clicks_free(weft_clicks *c)
{
    if (!c) return;
    free(c->dense);
    free(c->sparse);
    free(c->labels);
    free(c->prob);
    memset(c, 0, sizeof *c);
}

/* Allocates the arrays for n examples (none when n == 0). */
static weft_status clicks_alloc(weft_clicks *c, int64_t n, const int32_t *cards, bool prob,
                                const char *what)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    c->ctr = NAN;
    truth_unknown(&c->truth);
    memcpy(c->cards, cards, sizeof c->cards);
    if (n == 0) return WEFT_OK;
    c->dense = malloc((size_t)n * ND * sizeof(float));
    c->sparse = malloc((size_t)n * NS * sizeof(int32_t));
    c->labels = malloc((size_t)n * sizeof(float));
    if (prob) c->prob = malloc((size_t)n * sizeof(float));
    if (!c->dense || !c->sparse || !c->labels || (prob && !c->prob)) {
        weft_clicks_free(c);
        return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory for %lld examples", what, (long long)n);
    }
    return WEFT_OK;
}

static double mean_label(const float *y, int64_t n)
{
    if (n <= 0) return NAN;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += y[i];
    return s / (double)n;
}

void weft_clicks_gather(const weft_clicks *c, const int64_t *idx, int B,
                        float *dense, int32_t *sparse, float *labels)
{
    for (int b = 0; b < B; b++) {
        size_t k = (size_t)idx[b];
        if (dense) memcpy(dense + (size_t)b * ND, c->dense + k * ND, ND * sizeof(float));
        if (sparse) memcpy(sparse + (size_t)b * NS, c->sparse + k * NS, NS * sizeof(int32_t));
        if (labels) labels[b] = c->labels[k];
    }
}

weft_status weft_clicks_slice(const weft_clicks *c, int64_t begin, int64_t n, weft_clicks *out)
{
    if (begin < 0 || n < 0 || begin > c->n || n > c->n - begin) {
        memset(out, 0, sizeof *out);
        return weft_fail(WEFT_ERR_ARG, "clicks: slice [%lld, %lld) is outside the %lld examples",
                         (long long)begin, (long long)begin + (long long)n, (long long)c->n);
    }
    WEFT_TRY(clicks_alloc(out, n, c->cards, c->prob != NULL, "clicks slice"));
    if (n == 0) return WEFT_OK;
    memcpy(out->dense, c->dense + (size_t)begin * ND, (size_t)n * ND * sizeof(float));
    memcpy(out->sparse, c->sparse + (size_t)begin * NS, (size_t)n * NS * sizeof(int32_t));
    memcpy(out->labels, c->labels + begin, (size_t)n * sizeof(float));
    if (c->prob) memcpy(out->prob, c->prob + begin, (size_t)n * sizeof(float));
    out->ctr = mean_label(out->labels, n);
    return WEFT_OK;
}

/* ---- config ------------------------------------------------------------------ */

void weft_clicks_cfg_default(weft_clicks_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->n_train = 1000000;
    cfg->n_val = 100000;
    cfg->seed = 1;
    for (int t = 0; t < NS; t++) cfg->cards[t] = WEFT_CLICKS_CARD;
    cfg->zipf_s = 1.2;
    cfg->ctr = 0.25;
    cfg->dense_scale = 0.6;
    cfg->sparse_scale = 0.4;
    cfg->effect_r0 = 1;
    cfg->npairs = 6;
    cfg->pair_scale = 0.45;
}

static weft_status check_real(const char *name, double v, double lo, bool lo_open, double hi,
                              bool hi_open)
{
    bool ok = isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
    if (ok) return WEFT_OK;
    return weft_fail(WEFT_ERR_ARG, "clicks config: %s = %g: must be a finite number in %c%g, %g%c",
                     name, v, lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
}

static weft_status cfg_check(const weft_clicks_cfg *c)
{
    const int64_t nmax = INT64_C(1) << 32;
    if (c->n_train < 0 || c->n_train >= nmax)
        return weft_fail(WEFT_ERR_ARG, "clicks config: n_train = %lld: must be in [0, 2^32)",
                         (long long)c->n_train);
    if (c->n_val < 0 || c->n_val >= nmax)
        return weft_fail(WEFT_ERR_ARG, "clicks config: n_val = %lld: must be in [0, 2^32)",
                         (long long)c->n_val);
    for (int t = 0; t < NS; t++)
        if (c->cards[t] < 1)
            return weft_fail(WEFT_ERR_ARG, "clicks config: cards[%d] (table C%d) = %d: a table "
                             "needs at least 1 row", t, t + 1, (int)c->cards[t]);
    WEFT_TRY(check_real("zipf_s", c->zipf_s, 0, false, 10, false));
    WEFT_TRY(check_real("ctr", c->ctr, 0, true, 1, true));
    WEFT_TRY(check_real("dense_scale", c->dense_scale, 0, false, 20, false));
    WEFT_TRY(check_real("sparse_scale", c->sparse_scale, 0, false, 20, false));
    WEFT_TRY(check_real("effect_r0", c->effect_r0, 0, true, 1e18, false));
    WEFT_TRY(check_real("pair_scale", c->pair_scale, 0, false, 20, false));
    if (c->npairs < 0 || c->npairs > NS / 2)
        return weft_fail(WEFT_ERR_ARG, "clicks config: npairs = %d: must be in [0, %d]",
                         c->npairs, NS / 2);
    return WEFT_OK;
}

/* ---- random numbers --------------------------------------------------------- */

static double u32_open(uint32_t u) { return ((double)u + 0.5) * (1.0 / 4294967296.0); }

/* Two independent standard normals from two 32-bit draws (Box-Muller), in
 * float, which halves the cost of the dense features; |g| stays below 5.9. */
static void gauss_pair(uint32_t a, uint32_t b, float *g0, float *g1)
{
    float u1 = ((float)(a >> 8) + 0.5f) * (1.0f / 16777216.0f);
    float u2 = (float)(b >> 8) * (1.0f / 16777216.0f);
    float r = sqrtf(-2.0f * logf(u1)), s, c;
    sincosf(6.2831853f * u2, &s, &c);
    *g0 = r * c;
    *g1 = r * s;
}

/* ---- Zipf ------------------------------------------------------------------ */

typedef struct {
    int32_t card;
    int32_t head;      /* ranks with n_train p(r) >= WEFT_CLICKS_HEAD_MIN: [0, head) */
    uint64_t *thr;     /* (card): T[r] = floor(2^64 F(r)), T[card-1] = 2^64-1      */
    uint32_t *guide;   /* (2^16 + 1): first r with T[r] > k 2^48; [2^16] = card-1 */
} clk_zipf;

static weft_status zipf_build(clk_zipf *z, int32_t card, double s, int64_t n_train)
{
    z->card = card;
    z->thr = malloc((size_t)card * sizeof *z->thr);
    z->guide = malloc((((size_t)1 << CLK_GUIDE_BITS) + 1) * sizeof *z->guide);
    double *w = malloc((size_t)card * sizeof *w);
    if (!z->thr || !z->guide || !w) {
        free(w);
        return weft_fail(WEFT_ERR_NOMEM, "clicks: out of memory for a Zipf table of %d rows", card);
    }
    /* Sum from the smallest terms up, so the total is accurate. */
    double total = 0, acc = 0;
    for (int32_t r = 0; r < card; r++) w[r] = pow((double)r + 1, -s);
    for (int32_t r = card - 1; r >= 0; r--) total += w[r];
    z->head = 0;
    for (int32_t r = 0; r < card; r++) {
        if ((double)n_train * w[r] / total >= WEFT_CLICKS_HEAD_MIN) z->head = r + 1;
        acc += w[r];
        double f = acc / total * 18446744073709551616.0;
        z->thr[r] = r == card - 1 || f >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)f;
    }
    free(w);
    int32_t r = 0;
    for (uint64_t k = 0; k < (UINT64_C(1) << CLK_GUIDE_BITS); k++) {
        uint64_t start = k << (64 - CLK_GUIDE_BITS);
        while (r < card - 1 && z->thr[r] <= start) r++;
        z->guide[k] = (uint32_t)r;
    }
    z->guide[(size_t)1 << CLK_GUIDE_BITS] = (uint32_t)(card - 1);
    return WEFT_OK;
}

static void zipf_free(clk_zipf *z)
{
    free(z->thr);
    free(z->guide);
    memset(z, 0, sizeof *z);
}

/* The smallest r with u < T[r] (card-1 if none): exact inversion. The search
 * is branch-free (the halving steps depend only on the range's length), since
 * a mispredicted branch per step costs more than the step. */
static int32_t zipf_draw(const clk_zipf *z, uint64_t u)
{
    uint64_t k = u >> (64 - CLK_GUIDE_BITS);
    uint32_t lo = z->guide[k], len = z->guide[k + 1] - lo;
    const uint64_t *t = z->thr + lo;
    while (len > 0) {
        uint32_t half = len / 2;
        uint32_t right = 0u - (uint32_t)(t[half] <= u);   /* all ones: go right */
        t += (half + 1) & right;
        len = half + ((len - 2 * half - 1) & right);      /* len - half - 1, or half */
    }
    return (int32_t)(t - z->thr);
}

/* ---- the hidden model ---------------------------------------------------- */

/* A table row of the hidden model: [0] the id's effect on the logit, [1..4]
 * its latent vector (tables in a pair only), padded to 32 bytes so one
 * cache line holds it. Unpaired tables store [0] alone. */
#define CLK_REC 8

typedef struct {
    const weft_clicks_cfg *cfg;
    clk_zipf zipf[NS];         /* one per distinct cardinality (first nzipf used) */
    int nzipf;
    int zi[NS];                /* table t draws from zipf[zi[t]]                  */
    float *tab[NS];            /* (cards[t], stride[t]) rows as above             */
    int stride[NS];            /* CLK_REC for paired tables, else 1               */
    int32_t head[NS];          /* ids [0, head[t]) of table t are "head" ids      */
    float mu[ND], sig[ND];     /* count_j = floor(exp(mu_j + sig_j g))             */
    double a[ND], b[ND];       /* dense weights: linear and hinge, on x_j         */
    double cen[ND], sd[ND];    /* x_j = (dense_j - cen_j) / sd_j                  */
    double bias;
} clk_model;

static void model_free(clk_model *m)
{
    for (int i = 0; i < m->nzipf; i++) zipf_free(&m->zipf[i]);
    for (int t = 0; t < NS; t++) weft_free(m->tab[t]);
    memset(m, 0, sizeof *m);
}

/* Rows r0 .. r0+n of table t: normals from the stream pairs CLK_S_TABLE(t,q),
 * q < 3, element r (cosine branch to slot 2q, sine branch to 2q+1), times
 * the rank's decay; the effect also times sparse_scale. */
static void table_block(clk_model *m, int t, uint32_t r0, int n)
{
    const weft_clicks_cfg *c = m->cfg;
    int stride = m->stride[t], slots = stride == 1 ? 1 : 1 + CLK_K;
    uint32_t ua[CLK_BLOCK], ub[CLK_BLOCK];
    float g[6][CLK_BLOCK];
    for (int q = 0; 2 * q < slots; q++) {
        weft_rng_fill_u32(weft_rng_key_make(c->seed, CLK_STEP_MODEL, CLK_S_TABLE(t, q)), r0, ua, n);
        weft_rng_fill_u32(weft_rng_key_make(c->seed, CLK_STEP_MODEL, CLK_S_TABLE(t, q) + 1), r0, ub, n);
        for (int i = 0; i < n; i++) gauss_pair(ua[i], ub[i], &g[2 * q][i], &g[2 * q + 1][i]);
    }
    for (int i = 0; i < n; i++) {
        float *row = m->tab[t] + (size_t)(r0 + (uint32_t)i) * (size_t)stride;
        float decay = (float)(1.0 / sqrt(1.0 + (double)(r0 + (uint32_t)i) / c->effect_r0));
        row[0] = (float)c->sparse_scale * decay * g[0][i];
        for (int k = 1; k < slots; k++) row[k] = decay * g[k][i];
        for (int k = slots; k < stride; k++) row[k] = 0;
    }
}

static weft_status model_tables(clk_model *m)
{
    const weft_clicks_cfg *c = m->cfg;
    for (int t = 0; t < NS; t++) {
        int found = -1;
        for (int i = 0; i < m->nzipf; i++)
            if (m->zipf[i].card == c->cards[t]) found = i;
        if (found < 0) {
            found = m->nzipf++;
            WEFT_TRY(zipf_build(&m->zipf[found], c->cards[t], c->zipf_s, c->n_train));
        }
        m->zi[t] = found;
        m->head[t] = m->zipf[found].head;

        int32_t card = c->cards[t];
        m->stride[t] = t < 2 * c->npairs ? CLK_REC : 1;
        m->tab[t] = weft_alloc((size_t)card * (size_t)m->stride[t] * sizeof(float));
        if (!m->tab[t])
            return weft_fail(WEFT_ERR_NOMEM, "clicks: out of memory for the hidden effects of "
                             "table C%d (%d rows)", t + 1, card);
        for (int32_t r0 = 0; r0 < card; r0 += CLK_BLOCK)
            table_block(m, t, (uint32_t)r0, card - r0 < CLK_BLOCK ? card - r0 : CLK_BLOCK);
    }
    /* Dense features: log-normal counts with location in [0.5, 4] and scale in
     * [0.5, 2], so some features are mostly zero and some in the thousands. */
    weft_rng_key kp = weft_rng_key_make(c->seed, CLK_STEP_MODEL, CLK_S_DPARAM);
    for (int j = 0; j < ND; j++) {
        float g0, g1;
        m->mu[j] = (float)(0.5 + 3.5 * u32_open(weft_rng_u32(kp, (uint32_t)(4 * j))));
        m->sig[j] = (float)(0.5 + 1.5 * u32_open(weft_rng_u32(kp, (uint32_t)(4 * j + 1))));
        gauss_pair(weft_rng_u32(kp, (uint32_t)(4 * j + 2)), weft_rng_u32(kp, (uint32_t)(4 * j + 3)),
                   &g0, &g1);
        m->a[j] = g0;
        m->b[j] = 0.5 * g1;
        m->cen[j] = 0;
        m->sd[j] = 1;
    }
    return WEFT_OK;
}

/* Draws examples [i0, i0+n) of split `step` (n <= CLK_BLOCK): dense (n,13),
 * sparse (n,26). Dense features 2p and 2p+1 share the stream pair
 * CLK_S_DENSE(p) (the two Box-Muller branches); table t's id takes 64 bits
 * from the pair CLK_S_SPARSE(t). All the bits are drawn first, then the
 * examples are filled row by row: writing the outputs column by column runs
 * the Zipf search at a third of the speed. */
static void draw_block(const clk_model *m, uint64_t step, uint32_t i0, int n,
                       float *dense, int32_t *sparse)
{
    enum { NP = (ND + 1) / 2 };
    uint64_t seed = m->cfg->seed;
    uint32_t da[NP][CLK_BLOCK], db[NP][CLK_BLOCK], sa[NS][CLK_BLOCK], sb[NS][CLK_BLOCK];
    for (int p = 0; p < NP; p++) {
        weft_rng_fill_u32(weft_rng_key_make(seed, step, CLK_S_DENSE(p)), i0, da[p], n);
        weft_rng_fill_u32(weft_rng_key_make(seed, step, CLK_S_DENSE(p) + 1), i0, db[p], n);
    }
    for (int t = 0; t < NS; t++) {
        weft_rng_fill_u32(weft_rng_key_make(seed, step, CLK_S_SPARSE(t)), i0, sa[t], n);
        weft_rng_fill_u32(weft_rng_key_make(seed, step, CLK_S_SPARSE(t) + 1), i0, sb[t], n);
    }
    const clk_zipf *z[NS];
    for (int t = 0; t < NS; t++) z[t] = &m->zipf[m->zi[t]];
    for (int i = 0; i < n; i++) {
        float g[2 * NP], *d = dense + (size_t)i * ND;
        for (int p = 0; p < NP; p++) gauss_pair(da[p][i], db[p][i], &g[2 * p], &g[2 * p + 1]);
        /* Counts stay below 2^24 (|g| < 5.9), so floats hold them exactly and
         * log(1 + count) needs no log1p. */
        for (int j = 0; j < ND; j++) d[j] = logf(1.0f + floorf(expf(m->mu[j] + m->sig[j] * g[j])));
        int32_t *s = sparse + (size_t)i * NS;
        for (int t = 0; t < NS; t++) s[t] = zipf_draw(z[t], (uint64_t)sa[t][i] << 32 | sb[t][i]);
    }
}

/* The dense part of the logit for one example. */
static double dense_part(const clk_model *m, const float *d)
{
    double s = 0;
    for (int j = 0; j < ND; j++) {
        double x = ((double)d[j] - m->cen[j]) / m->sd[j];
        s += m->a[j] * x + m->b[j] * (x > 0 ? x : 0);
    }
    return s;
}

/* The categorical part of the logit; *head gets the same sum over head ids
 * only (a pair term counts when both of its ids are head ids). */
static double sparse_part(const clk_model *m, const int32_t *ids, double *head)
{
    double s = 0, h = 0;
    const float *row[NS];
    bool hd[NS];
    for (int t = 0; t < NS; t++) {
        row[t] = m->tab[t] + (size_t)ids[t] * (size_t)m->stride[t];
        hd[t] = ids[t] < m->head[t];
        s += row[t][0];
        if (hd[t]) h += row[t][0];
    }
    double scale = m->cfg->pair_scale / sqrt((double)CLK_K);
    for (int k = 0; k < m->cfg->npairs; k++) {
        const float *za = row[2 * k] + 1, *zb = row[2 * k + 1] + 1;
        double p = 0;
        for (int q = 0; q < CLK_K; q++) p += (double)za[q] * zb[q];
        s += scale * p;
        if (hd[2 * k] && hd[2 * k + 1]) h += scale * p;
    }
    if (head) *head = h;
    return s;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Calibration: standardize each dense feature and scale the dense part to
 * std dense_scale, then solve for the bias that makes the mean click
 * probability cfg->ctr, all on CLK_NCAL examples of the calibration split. */
static weft_status model_calibrate(clk_model *m)
{
    const weft_clicks_cfg *c = m->cfg;
    float *dense = malloc((size_t)CLK_NCAL * ND * sizeof(float));
    int32_t *sparse = malloc((size_t)CLK_NCAL * NS * sizeof(int32_t));
    double *z = malloc((size_t)CLK_NCAL * sizeof(double));
    if (!dense || !sparse || !z) {
        free(dense); free(sparse); free(z);
        return weft_fail(WEFT_ERR_NOMEM, "clicks: out of memory calibrating the hidden model");
    }
    for (int i = 0; i < CLK_NCAL; i += CLK_BLOCK)
        draw_block(m, CLK_STEP_CAL, (uint32_t)i, CLK_BLOCK, dense + (size_t)i * ND,
                   sparse + (size_t)i * NS);
    for (int j = 0; j < ND; j++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < CLK_NCAL; i++) s += dense[(size_t)i * ND + j];
        double mean = s / CLK_NCAL;
        for (int i = 0; i < CLK_NCAL; i++) {
            double d = dense[(size_t)i * ND + j] - mean;
            s2 += d * d;
        }
        double sd = sqrt(s2 / CLK_NCAL);
        m->cen[j] = mean;
        m->sd[j] = sd > 1e-3 ? sd : 1e-3;
    }
    double s = 0, s2 = 0;
    for (int i = 0; i < CLK_NCAL; i++) {
        z[i] = dense_part(m, dense + (size_t)i * ND);
        s += z[i];
    }
    for (int i = 0; i < CLK_NCAL; i++) s2 += (z[i] - s / CLK_NCAL) * (z[i] - s / CLK_NCAL);
    double sd = sqrt(s2 / CLK_NCAL), scale = sd > 0 ? c->dense_scale / sd : 0;
    for (int j = 0; j < ND; j++) { m->a[j] *= scale; m->b[j] *= scale; }
    for (int i = 0; i < CLK_NCAL; i++)
        z[i] = z[i] * scale + sparse_part(m, sparse + (size_t)i * NS, NULL);
    /* The mean of sigmoid(b + z) increases with b: bisect. */
    double lo = -40, hi = 40;
    for (int it = 0; it < 100 && hi - lo > 1e-12; it++) {
        double mid = 0.5 * (lo + hi), p = 0;
        for (int i = 0; i < CLK_NCAL; i++) p += sigmoid(mid + z[i]);
        if (p / CLK_NCAL < c->ctr) lo = mid;
        else hi = mid;
    }
    m->bias = 0.5 * (lo + hi);
    free(dense); free(sparse); free(z);
    return WEFT_OK;
}

/* ---- generating a split ---------------------------------------------------- */

/* Fills out (allocated, with prob) with split `step`, and its truth. */
static weft_status gen_split(const clk_model *m, uint64_t step, weft_clicks *out)
{
    if (out->n == 0) return WEFT_OK;
    float *dscore = malloc((size_t)out->n * sizeof(float));
    float *hscore = malloc((size_t)out->n * sizeof(float));
    if (!dscore || !hscore) {
        free(dscore); free(hscore);
        return weft_fail(WEFT_ERR_NOMEM, "clicks: out of memory for %lld scores", (long long)out->n);
    }
    weft_rng_key kl = weft_rng_key_make(m->cfg->seed, step, CLK_S_LABEL);
    uint32_t u[CLK_BLOCK];
    for (int64_t i0 = 0; i0 < out->n; i0 += CLK_BLOCK) {
        int n = out->n - i0 < CLK_BLOCK ? (int)(out->n - i0) : CLK_BLOCK;
        float *d = out->dense + (size_t)i0 * ND;
        int32_t *s = out->sparse + (size_t)i0 * NS;
        draw_block(m, step, (uint32_t)i0, n, d, s);
        weft_rng_fill_u32(kl, (uint32_t)i0, u, n);
        for (int i = 0; i < n; i++) {
            /* The tables' tail rows miss the cache: ask for example i+8's early. */
            if (i + 8 < n)
                for (int t = 0; t < NS; t++)
                    __builtin_prefetch(m->tab[t] + (size_t)s[(size_t)(i + 8) * NS + t] * (size_t)m->stride[t]);
            double head, dp = dense_part(m, d + (size_t)i * ND);
            double p = sigmoid(m->bias + dp + sparse_part(m, s + (size_t)i * NS, &head));
            dscore[i0 + i] = (float)dp;
            hscore[i0 + i] = (float)(dp + head);
            out->prob[i0 + i] = (float)p;
            out->labels[i0 + i] = u32_open(u[i]) < p ? 1.0f : 0.0f;
        }
    }
    weft_clicks_truth *t = &out->truth;
    out->ctr = mean_label(out->labels, out->n);
    t->known = true;
    t->best_auc = weft_auc(out->prob, out->labels, out->n);
    t->best_logloss = weft_logloss(out->prob, out->labels, out->n);
    t->dense_auc = weft_auc(dscore, out->labels, out->n);
    t->head_auc = weft_auc(hscore, out->labels, out->n);
    free(dscore); free(hscore);
    return WEFT_OK;
}

weft_status weft_clicks_synth(const weft_clicks_cfg *cfg, weft_clicks *train, weft_clicks *val)
{
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    WEFT_TRY(cfg_check(cfg));
    clk_model m = { .cfg = cfg };
    weft_status s = model_tables(&m);
    if (s == WEFT_OK) s = model_calibrate(&m);
    if (s == WEFT_OK) s = clicks_alloc(train, cfg->n_train, cfg->cards, true, "clicks train split");
    if (s == WEFT_OK) s = clicks_alloc(val, cfg->n_val, cfg->cards, true, "clicks val split");
    if (s == WEFT_OK) s = gen_split(&m, CLK_STEP_TRAIN, train);
    if (s == WEFT_OK) s = gen_split(&m, CLK_STEP_VAL, val);
    model_free(&m);
    if (s == WEFT_OK) {
        train->truth.known = val->truth.known = true;
        return WEFT_OK;
    }
    weft_clicks_free(train);
    weft_clicks_free(val);
    return s;
}
