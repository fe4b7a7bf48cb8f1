/* eltwise.c — elementwise kernels: add, mul (also with a broadcast row),
 * bias add, scale, where, activations, erf, column sums.
 *
 * gcc at -O2 (its "very cheap" vectoriser) only vectorises a loop whose trip
 * count is a known multiple of the vector width, so each loop here is a main
 * loop over blocks of VB elements, whose inner fixed-length loops gcc turns
 * into SIMD, plus a scalar tail. Blocks are loaded into a local array before
 * anything is stored, which keeps in-place calls (y == x) correct without
 * `restrict`. */
#include "kernels/kernels.h"
#include "kernels/nn_math.h"

#include <math.h>
#include <string.h>

#define VB 8

static const float k_sqrt1_2 = 0.70710678118654752440f;   /* 1/sqrt(2)    */
static const float k_inv_sqrt_2pi = 0.39894228040143267794f; /* 1/sqrt(2pi) */
static const float k_2_sqrtpi = 1.12837916709551257390f;     /* 2/sqrt(pi)   */

static inline float relu1(float x) { return x < 0.0f ? 0.0f : x; } /* NaN passes */

static inline float gelu1(float x) { return x * 0.5f * (1.0f + erff(x * k_sqrt1_2)); }

/* erfc(z) = t e for a block of z >= 0: t = 1/(1 + z/2) and e = exp(-z^2 +
 * P(t)), the rational Chebyshev fit of Numerical Recipes' erfcc (fractional
 * error below 1.2e-7 everywhere), the exponential nn_math's (within 3 ulp). */
static inline __attribute__((always_inline))
void erfc_block(const float *restrict z, float *restrict t, float *restrict e)
{
    for (int j = 0; j < VB; j++) t[j] = 1.0f / (1.0f + 0.5f * z[j]);
    for (int j = 0; j < VB; j++) {
        float u = t[j];
        float p = 0.17087277f;
        p = p * u - 0.82215223f;
        p = p * u + 1.48851587f;
        p = p * u - 1.13520398f;
        p = p * u + 0.27886807f;
        p = p * u - 0.18628806f;
        p = p * u + 0.09678418f;
        p = p * u + 0.37409196f;
        p = p * u + 1.00002368f;
        p = p * u - 1.26551223f;
        e[j] = p - z[j] * z[j];
    }
    nn_exp_block(e);
}

/* Phi(x) and phi(x) for a block, vectorised. Phi from erfc by the rational
 * Chebyshev fit of Numerical Recipes' erfcc (fractional error below 1.2e-7
 * everywhere): erfc(z) = t exp(-z^2 + P(t)), t = 1/(1 + z/2), z >= 0; and
 * Phi(x) = erfc(-x/sqrt2)/2. The exponentials are nn_math's polynomial exp
 * (within 3 ulp), so a GELU block costs two exps instead of two libm calls. */
static inline __attribute__((always_inline))
void phi_block(const float *restrict x, float *restrict cdf, float *restrict pdf)
{
    float z[VB], t[VB], e[VB];
    for (int j = 0; j < VB; j++) z[j] = fabsf(x[j]) * k_sqrt1_2;
    erfc_block(z, t, e);
    for (int j = 0; j < VB; j++) {
        float half_erfc = 0.5f * t[j] * e[j];            /* Phi(-|x|) */
        cdf[j] = x[j] >= 0.0f ? 1.0f - half_erfc : half_erfc;
    }
    if (pdf) {
        for (int j = 0; j < VB; j++) pdf[j] = -0.5f * x[j] * x[j];
        nn_exp_block(pdf);
        for (int j = 0; j < VB; j++) pdf[j] *= k_inv_sqrt_2pi;
    }
}

/* d gelu / dx = Phi(x) + x phi(x) */
static inline float gelu_grad1(float x)
{
    float cdf = 0.5f * (1.0f + erff(x * k_sqrt1_2));
    float pdf = k_inv_sqrt_2pi * expf(-0.5f * x * x);
    return cdf + x * pdf;
}

/* y = a + b, n elements; y may be a or b. */
void weft_k_add(float *y, const float *a, const float *b, int64_t n)
{
    int64_t i = 0;
    for (; i + VB <= n; i += VB) {
        float t[VB];
        for (int j = 0; j < VB; j++) t[j] = a[i + j] + b[i + j];
        for (int j = 0; j < VB; j++) y[i + j] = t[j];
    }
    for (; i < n; i++) y[i] = a[i] + b[i];
}

/* y (M,N) += b (N) on every row. */
void weft_k_add_bias(float *restrict y, const float *restrict b, int64_t M, int64_t N)
{
    for (int64_t r = 0; r < M; r++) {
        float *row = y + r * N;
        int64_t i = 0;
        for (; i + VB <= N; i += VB)
            for (int j = 0; j < VB; j++) row[i + j] += b[i + j];
        for (; i < N; i++) row[i] += b[i];
    }
}

/* y = act(x), n elements; y may be x. */
void weft_k_act_fwd(float *y, const float *x, int64_t n, weft_act act)
{
    switch (act) {
    case WEFT_ACT_NONE:
        if (y != x) memmove(y, x, (size_t)n * sizeof *y);
        return;
    case WEFT_ACT_RELU: {
        int64_t i = 0;
        for (; i + VB <= n; i += VB) {
            float t[VB];
            for (int j = 0; j < VB; j++) t[j] = x[i + j];
            for (int j = 0; j < VB; j++) t[j] = relu1(t[j]);
            for (int j = 0; j < VB; j++) y[i + j] = t[j];
        }
        for (; i < n; i++) y[i] = relu1(x[i]);
        return;
    }
    case WEFT_ACT_GELU: {
        int64_t i = 0;
        for (; i + VB <= n; i += VB) {
            float t[VB], c[VB];
            for (int j = 0; j < VB; j++) t[j] = x[i + j];
            phi_block(t, c, NULL);
            for (int j = 0; j < VB; j++) y[i + j] = t[j] * c[j];
        }
        for (; i < n; i++) y[i] = gelu1(x[i]);
        return;
    }
    }
}

/* dx = dy * act'(.), n elements; dx may be dy. relu: saved is the output y;
 * gelu: saved is the input x. */
void weft_k_act_bwd(float *dx, const float *dy, const float *saved, int64_t n, weft_act act)
{
    switch (act) {
    case WEFT_ACT_NONE:
        if (dx != dy) memmove(dx, dy, (size_t)n * sizeof *dx);
        return;
    case WEFT_ACT_RELU: {
        int64_t i = 0;
        for (; i + VB <= n; i += VB) {
            float t[VB];
            float sv[VB];
            for (int j = 0; j < VB; j++) t[j] = dy[i + j];
            for (int j = 0; j < VB; j++) sv[j] = saved[i + j];
            for (int j = 0; j < VB; j++) t[j] = sv[j] > 0.0f ? t[j] : 0.0f;
            for (int j = 0; j < VB; j++) dx[i + j] = t[j];
        }
        for (; i < n; i++) dx[i] = saved[i] > 0.0f ? dy[i] : 0.0f;
        return;
    }
    case WEFT_ACT_GELU: {
        int64_t i = 0;
        for (; i + VB <= n; i += VB) {
            float t[VB], c[VB], p[VB], g[VB];
            for (int j = 0; j < VB; j++) t[j] = saved[i + j];
            for (int j = 0; j < VB; j++) g[j] = dy[i + j];
            phi_block(t, c, p);
            for (int j = 0; j < VB; j++) dx[i + j] = g[j] * (c[j] + t[j] * p[j]);
        }
        for (; i < n; i++) dx[i] = dy[i] * gelu_grad1(saved[i]);
        return;
    }
    }
}

/* db (N) = column sums of dy (M,N), fp32 accumulation row by row. */
void weft_k_colsum(float *restrict db, const float *restrict dy, int64_t M, int64_t N)
{
    weft_k_colsum_range(db, dy, M, N, 0, N);
}

/* db[c0, c1) of the column sums of dy (M,N); each column summed in row
 * order, so a split by columns never changes a bit. */
void weft_k_colsum_range(float *restrict db, const float *restrict dy, int64_t M, int64_t N, int64_t c0, int64_t c1)
{
    float *d = db + c0;
    int64_t w = c1 - c0;
    memset(d, 0, (size_t)w * sizeof *d);
    for (int64_t r = 0; r < M; r++) {
        const float *row = dy + r * N + c0;
        int64_t i = 0;
        for (; i + VB <= w; i += VB)
            for (int j = 0; j < VB; j++) d[i + j] += row[i + j];
        for (; i < w; i++) d[i] += row[i];
    }
}

/* y = a * b, n elements; y may be a or b. */
void weft_k_mul(float *y, const float *a, const float *b, int64_t n)
{
    int64_t i = 0;
    for (; i + VB <= n; i += VB) {
        float t[VB];
        for (int j = 0; j < VB; j++) t[j] = a[i + j] * b[i + j];
        for (int j = 0; j < VB; j++) y[i + j] = t[j];
    }
    for (; i < n; i++) y[i] = a[i] * b[i];
}

/* y (M,N) = a (M,N) + b (N) and a * b, b on every row; y may be a. */
void weft_k_add_rows(float *y, const float *a, const float *b, int64_t M, int64_t N)
{
    for (int64_t r = 0; r < M; r++) weft_k_add(y + r * N, a + r * N, b, N);
}

void weft_k_mul_rows(float *y, const float *a, const float *b, int64_t M, int64_t N)
{
    for (int64_t r = 0; r < M; r++) weft_k_mul(y + r * N, a + r * N, b, N);
}

/* y = alpha * x + beta, n elements (two roundings, as PyTorch's x * a + b); y may be x. */
void weft_k_scale(float *y, const float *x, int64_t n, float alpha, float beta)
{
    int64_t i = 0;
    for (; i + VB <= n; i += VB) {
        float t[VB];
        for (int j = 0; j < VB; j++) t[j] = alpha * x[i + j] + beta;
        for (int j = 0; j < VB; j++) y[i + j] = t[j];
    }
    for (; i < n; i++) y[i] = alpha * x[i] + beta;
}

/* y (M,N) = mask (N) != 0 ? x (M,N) : fill, the mask on every row; y may be x. */
void weft_k_where_rows(float *y, const float *x, const float *mask, float fill, int64_t M, int64_t N)
{
    for (int64_t r = 0; r < M; r++) {
        const float *xr = x + r * N;
        float *yr = y + r * N;
        int64_t i = 0;
        for (; i + VB <= N; i += VB) {
            float t[VB];
            for (int j = 0; j < VB; j++) t[j] = mask[i + j] != 0.0f ? xr[i + j] : fill;
            for (int j = 0; j < VB; j++) yr[i + j] = t[j];
        }
        for (; i < N; i++) yr[i] = mask[i] != 0.0f ? xr[i] : fill;
    }
}

/* erf of a block, within 3 ulp (measured 2.5 over every 37th float in
 * [1e-30, 6]). Below |x| = 0.75 the Maclaurin series in x^2 to degree 19
 * (truncation < 1e-10 there), where 1 - erfc would cancel; above it
 * 1 - erfc(|x|) with erfc from the rational Chebyshev fit of phi_block,
 * whose error shrinks with erfc's size. Both are computed and one kept, so
 * the block stays straight-line code that gcc vectorises. */
static inline __attribute__((always_inline)) void erf_block(const float *restrict x, float *restrict y)
{
    float s[VB], z[VB], t[VB], e[VB];
    for (int j = 0; j < VB; j++) {
        float u = x[j] * x[j], p = -1.6365844691234924e-07f;
        p = p * u + 1.6462114365889246e-06f;
        p = p * u - 1.492565035840625e-05f;
        p = p * u + 0.00012055332981789664f;
        p = p * u - 0.00085483270234508522f;
        p = p * u + 0.0052239776254421879f;
        p = p * u - 0.026866170645131252f;
        p = p * u + 0.11283791670955126f;
        p = p * u - 0.37612638903183754f;
        p = p * u + 1.1283791670955126f;
        s[j] = x[j] * p;
    }
    for (int j = 0; j < VB; j++) z[j] = fabsf(x[j]);
    erfc_block(z, t, e);
    for (int j = 0; j < VB; j++) {
        float c = 1.0f - t[j] * e[j];
        c = x[j] < 0.0f ? -c : c;
        y[j] = z[j] < 0.75f ? s[j] : c;
    }
}

/* y = erf(x), n elements; y may be x. The tail goes through one padded
 * block, so an element's value never depends on where it falls. */
void weft_k_erf_fwd(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + VB <= n; i += VB) {
        float t[VB], r[VB];
        for (int j = 0; j < VB; j++) t[j] = x[i + j];
        erf_block(t, r);
        for (int j = 0; j < VB; j++) y[i + j] = r[j];
    }
    if (i < n) {
        float t[VB] = { 0 }, r[VB];
        memcpy(t, x + i, (size_t)(n - i) * sizeof *t);
        erf_block(t, r);
        memcpy(y + i, r, (size_t)(n - i) * sizeof *r);
    }
}

/* dx = dy * 2/sqrt(pi) * exp(-x^2), n elements; dx may be dy. */
void weft_k_erf_bwd(float *dx, const float *dy, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + VB <= n; i += VB) {
        float e[VB], g[VB];
        for (int j = 0; j < VB; j++) e[j] = -x[i + j] * x[i + j];
        for (int j = 0; j < VB; j++) g[j] = dy[i + j];
        nn_exp_block(e);
        for (int j = 0; j < VB; j++) dx[i + j] = g[j] * (k_2_sqrtpi * e[j]);
    }
    if (i < n) {
        float e[VB] = { 0 };
        for (int64_t j = i; j < n; j++) e[j - i] = -x[j] * x[j];
        nn_exp_block(e);
        for (int64_t j = i; j < n; j++) dx[j] = dy[j] * (k_2_sqrtpi * e[j - i]);
    }
}
