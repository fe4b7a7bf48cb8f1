/* norm.c — layer norm over rows, batch norm over channels.
 *
 * Layer norm: one row's statistics are two passes over it (mean, then the
 * sum of squared deviations, which does not cancel the way E[x^2] - mean^2
 * does) with NN_VB-lane sums. The pool splits rows; dgamma/dbeta are column
 * sums over all rows, split by columns instead, so each column is summed in
 * row order whatever the thread count.
 *
 * Batch norm: per channel, statistics over N planes of HW; each plane is
 * summed in lanes and the planes are added in double. The pool splits
 * channels. */
#include "kernels/nn.h"
#include "kernels/nn_math.h"

#include <math.h>
#include <string.h>

/* ---- layer norm ----------------------------------------------------------------- */

typedef struct {
    float *y, *mean, *rstd;
    const float *x, *gamma, *beta;
    int D;
    float eps;
} ln_fwd_job;

NN_HOT static void ln_fwd_rows(void *ctx, int64_t r0, int64_t r1)
{
    const ln_fwd_job *j = ctx;
    const int D = j->D;
    for (int64_t r = r0; r < r1; r++) {
        const float *restrict x = j->x + r * D;
        float *restrict y = j->y + r * D;
        const float mu = nn_sum(x, D) / (float)D;
        float acc[NN_VB] = { 0 };
        int i = 0;
        for (; i + NN_VB <= D; i += NN_VB)
            for (int k = 0; k < NN_VB; k++) {
                float d = x[i + k] - mu;
                acc[k] += d * d;
            }
        for (int k = 0; i < D; i++, k++) { float d = x[i] - mu; acc[k] += d * d; }
        float ss = 0.0f;
        for (int k = 0; k < NN_VB; k++) ss += acc[k];
        const float rs = 1.0f / sqrtf(ss / (float)D + j->eps);
        j->mean[r] = mu;
        j->rstd[r] = rs;
        const float *restrict g = j->gamma, *restrict b = j->beta;
        if (g && b)
            NN_MAP(y, D, c, (x[c] - mu) * rs * g[c] + b[c]);
        else if (g)
            NN_MAP(y, D, c, (x[c] - mu) * rs * g[c]);
        else if (b)
            NN_MAP(y, D, c, (x[c] - mu) * rs + b[c]);
        else
            NN_MAP(y, D, c, (x[c] - mu) * rs);
    }
}

void weft_k_layernorm_fwd_pool(weft_pool *pool, float *y, float *mean, float *rstd, const float *x,
                               const float *gamma, const float *beta, int64_t M, int D, float eps)
{
    if (M <= 0 || D <= 0) return;
    ln_fwd_job j = { y, mean, rstd, x, gamma, beta, D, eps };
    weft_pool_for(pool, M, 1 + 8192 / D, ln_fwd_rows, &j);
}

void weft_k_layernorm_fwd(float *y, float *mean, float *rstd, const float *x,
                          const float *gamma, const float *beta, int64_t M, int D, float eps)
{
    weft_k_layernorm_fwd_pool(NULL, y, mean, rstd, x, gamma, beta, M, D, eps);
}

typedef struct {
    float *dx, *dgamma, *dbeta;
    const float *dy, *x, *mean, *rstd, *gamma;
    int64_t M;
    int D;
} ln_bwd_job;

/* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma. */
NN_HOT static void ln_bwd_rows(void *ctx, int64_t r0, int64_t r1)
{
    const ln_bwd_job *j = ctx;
    const int D = j->D;
    const float *restrict gm = j->gamma;
    for (int64_t r = r0; r < r1; r++) {
        const float *restrict x = j->x + r * D, *restrict dy = j->dy + r * D;
        float *restrict dx = j->dx + r * D;
        const float mu = j->mean[r], rs = j->rstd[r];
        float sg[NN_VB] = { 0 }, sgx[NN_VB] = { 0 };
        int i = 0;
        for (; i + NN_VB <= D; i += NN_VB)
            for (int k = 0; k < NN_VB; k++) {
                float g = gm ? dy[i + k] * gm[i + k] : dy[i + k];
                sg[k] += g;
                sgx[k] += g * ((x[i + k] - mu) * rs);
            }
        for (int k = 0; i < D; i++, k++) {
            float g = gm ? dy[i] * gm[i] : dy[i];
            sg[k] += g;
            sgx[k] += g * ((x[i] - mu) * rs);
        }
        float a = 0.0f, b = 0.0f;
        for (int k = 0; k < NN_VB; k++) { a += sg[k]; b += sgx[k]; }
        a /= (float)D;
        b /= (float)D;
        if (gm)
            NN_MAP(dx, D, c, rs * (dy[c] * gm[c] - a - (x[c] - mu) * rs * b));
        else
            NN_MAP(dx, D, c, rs * (dy[c] - a - (x[c] - mu) * rs * b));
    }
}

/* dgamma[c], dbeta[c] for columns [c0, c1), each summed over rows in order. */
static void ln_bwd_cols(void *ctx, int64_t c0, int64_t c1)
{
    const ln_bwd_job *j = ctx;
    const int D = j->D;
    float *restrict dg = j->dgamma, *restrict db = j->dbeta;
    if (dg) memset(dg + c0, 0, (size_t)(c1 - c0) * sizeof *dg);
    if (db) memset(db + c0, 0, (size_t)(c1 - c0) * sizeof *db);
    for (int64_t r = 0; r < j->M; r++) {
        const float *restrict x = j->x + r * D + c0, *restrict dy = j->dy + r * D + c0;
        const float mu = j->mean[r], rs = j->rstd[r];
        if (dg) {
            float *restrict g = dg + c0;
            NN_MAP(g, c1 - c0, c, g[c] + dy[c] * ((x[c] - mu) * rs));
        }
        if (db) {
            float *restrict b = db + c0;
            NN_MAP(b, c1 - c0, c, b[c] + dy[c]);
        }
    }
}

void weft_k_layernorm_bwd_pool(weft_pool *pool, float *dx, float *dgamma, float *dbeta,
                               const float *dy, const float *x, const float *mean,
                               const float *rstd, const float *gamma, int64_t M, int D)
{
    if (D <= 0) return;
    ln_bwd_job j = { dx, dgamma, dbeta, dy, x, mean, rstd, gamma, M, D };
    if (M > 0 && dx) weft_pool_for(pool, M, 1 + 8192 / D, ln_bwd_rows, &j);
    if (dgamma || dbeta) weft_pool_for(pool, D, 64, ln_bwd_cols, &j);
}

void weft_k_layernorm_bwd(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                          const float *mean, const float *rstd, const float *gamma, int64_t M, int D)
{
    weft_k_layernorm_bwd_pool(NULL, dx, dgamma, dbeta, dy, x, mean, rstd, gamma, M, D);
}

/* ---- batch norm --------------------------------------------------------------------- */

typedef struct {
    float *y, *mean, *rstd, *rmean, *rvar;
    const float *x, *gamma, *beta;
    int N, C;
    int64_t HW;
    float eps, momentum;
} bn_fwd_job;

static void bn_fwd_channels(void *ctx, int64_t c0, int64_t c1)
{
    const bn_fwd_job *j = ctx;
    const int64_t HW = j->HW, cnt = (int64_t)j->N * HW;
    for (int64_t c = c0; c < c1; c++) {
        double s = 0.0;
        for (int n = 0; n < j->N; n++) s += nn_sum(j->x + ((int64_t)n * j->C + c) * HW, HW);
        const float mu = (float)(s / (double)cnt);
        double ss = 0.0;
        for (int n = 0; n < j->N; n++) {
            const float *x = j->x + ((int64_t)n * j->C + c) * HW;
            float acc[NN_VB] = { 0 };
            int64_t i = 0;
            for (; i + NN_VB <= HW; i += NN_VB)
                for (int k = 0; k < NN_VB; k++) {
                    float d = x[i + k] - mu;
                    acc[k] += d * d;
                }
            for (int k = 0; i < HW; i++, k++) { float d = x[i] - mu; acc[k] += d * d; }
            for (int k = 0; k < NN_VB; k++) ss += acc[k];
        }
        const double var = ss / (double)cnt;
        const float rs = (float)(1.0 / sqrt(var + (double)j->eps));
        j->mean[c] = mu;
        j->rstd[c] = rs;
        if (j->rmean) j->rmean[c] = (1.0f - j->momentum) * j->rmean[c] + j->momentum * mu;
        if (j->rvar) {
            double unbiased = cnt > 1 ? ss / (double)(cnt - 1) : var;
            j->rvar[c] = (1.0f - j->momentum) * j->rvar[c] + j->momentum * (float)unbiased;
        }
        const float sc = rs * (j->gamma ? j->gamma[c] : 1.0f);
        const float sh = (j->beta ? j->beta[c] : 0.0f) - mu * sc;
        for (int n = 0; n < j->N; n++) {
            const float *restrict x = j->x + ((int64_t)n * j->C + c) * HW;
            float *restrict y = j->y + ((int64_t)n * j->C + c) * HW;
            NN_MAP(y, HW, i, x[i] * sc + sh);
        }
    }
}

void weft_k_batchnorm_fwd_train_pool(weft_pool *pool, float *y, float *mean, float *rstd,
                                     float *running_mean, float *running_var, const float *x,
                                     const float *gamma, const float *beta, int N, int C,
                                     int64_t HW, float eps, float momentum)
{
    if (C <= 0 || N <= 0 || HW <= 0) return;
    bn_fwd_job j = { y, mean, rstd, running_mean, running_var, x, gamma, beta, N, C, HW,
                     eps, momentum };
    weft_pool_for(pool, C, 1 + 16384 / ((int64_t)N * HW), bn_fwd_channels, &j);
}

void weft_k_batchnorm_fwd_train(float *y, float *mean, float *rstd, float *running_mean,
                                float *running_var, const float *x, const float *gamma,
                                const float *beta, int N, int C, int64_t HW, float eps,
                                float momentum)
{
    weft_k_batchnorm_fwd_train_pool(NULL, y, mean, rstd, running_mean, running_var, x, gamma,
                                    beta, N, C, HW, eps, momentum);
}

void weft_k_batchnorm_fwd_eval(float *y, const float *x, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var,
                               int N, int C, int64_t HW, float eps)
{
    for (int c = 0; c < C; c++) {
        const float rs = (float)(1.0 / sqrt((double)running_var[c] + (double)eps));
        const float sc = rs * (gamma ? gamma[c] : 1.0f);
        const float sh = (beta ? beta[c] : 0.0f) - running_mean[c] * sc;
        for (int n = 0; n < N; n++) {
            const float *restrict xp = x + ((int64_t)n * C + c) * HW;
            float *restrict yp = y + ((int64_t)n * C + c) * HW;
            NN_MAP(yp, HW, i, xp[i] * sc + sh);
        }
    }
}

typedef struct {
    float *dx, *dgamma, *dbeta;
    const float *dy, *x, *mean, *rstd, *gamma;
    int N, C;
    int64_t HW;
} bn_bwd_job;

/* dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat)); dgamma = sum dy xhat; dbeta = sum dy. */
static void bn_bwd_channels(void *ctx, int64_t c0, int64_t c1)
{
    const bn_bwd_job *j = ctx;
    const int64_t HW = j->HW, cnt = (int64_t)j->N * HW;
    for (int64_t c = c0; c < c1; c++) {
        const float mu = j->mean[c], rs = j->rstd[c];
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < j->N; n++) {
            const float *x = j->x + ((int64_t)n * j->C + c) * HW;
            const float *dy = j->dy + ((int64_t)n * j->C + c) * HW;
            float a[NN_VB] = { 0 }, b[NN_VB] = { 0 };
            int64_t i = 0;
            for (; i + NN_VB <= HW; i += NN_VB)
                for (int k = 0; k < NN_VB; k++) {
                    a[k] += dy[i + k];
                    b[k] += dy[i + k] * ((x[i + k] - mu) * rs);
                }
            for (int k = 0; i < HW; i++, k++) { a[k] += dy[i]; b[k] += dy[i] * ((x[i] - mu) * rs); }
            for (int k = 0; k < NN_VB; k++) { sdy += a[k]; sdyx += b[k]; }
        }
        if (j->dgamma) j->dgamma[c] = (float)sdyx;
        if (j->dbeta) j->dbeta[c] = (float)sdy;
        if (!j->dx) continue;
        const float g = (j->gamma ? j->gamma[c] : 1.0f) * rs;
        const float mdy = (float)(sdy / (double)cnt), mdyx = (float)(sdyx / (double)cnt);
        for (int n = 0; n < j->N; n++) {
            const float *restrict x = j->x + ((int64_t)n * j->C + c) * HW;
            const float *restrict dy = j->dy + ((int64_t)n * j->C + c) * HW;
            float *restrict dx = j->dx + ((int64_t)n * j->C + c) * HW;
            NN_MAP(dx, HW, i, g * (dy[i] - mdy - (x[i] - mu) * rs * mdyx));
        }
    }
}

void weft_k_batchnorm_bwd_pool(weft_pool *pool, float *dx, float *dgamma, float *dbeta,
                               const float *dy, const float *x, const float *mean,
                               const float *rstd, const float *gamma, int N, int C, int64_t HW)
{
    if (C <= 0 || N <= 0 || HW <= 0) return;
    bn_bwd_job j = { dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, HW };
    weft_pool_for(pool, C, 1 + 16384 / ((int64_t)N * HW), bn_bwd_channels, &j);
}

void weft_k_batchnorm_bwd(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                          const float *mean, const float *rstd, const float *gamma,
                          int N, int C, int64_t HW)
{
    weft_k_batchnorm_bwd_pool(NULL, dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, HW);
}
