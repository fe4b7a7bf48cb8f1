/* eltwise.c — elementwise kernels: add, bias add, activations, column sums.
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

static inline float relu1(float x) { return x < 0.0f ? 0.0f : x; } /* NaN passes */

static inline float gelu1(float x) { return x * 0.5f * (1.0f + erff(x * k_sqrt1_2)); }

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
    memset(db, 0, (size_t)N * sizeof *db);
    for (int64_t r = 0; r < M; r++) {
        const float *row = dy + r * N;
        int64_t i = 0;
        for (; i + VB <= N; i += VB)
            for (int j = 0; j < VB; j++) db[i + j] += row[i + j];
        for (; i < N; i++) db[i] += row[i];
    }
}
