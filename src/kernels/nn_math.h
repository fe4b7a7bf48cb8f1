/* nn_math.h — private helpers of the nn kernels (norm.c, attention.c, act2.c,
 * rnn.c, embed.c): vectorisable exp / sigmoid / tanh on blocks of NN_VB
 * floats, and lane-wise sums and dots.
 *
 * Why our own exp: gcc -O2 never vectorises a call to expf (no -ffast-math),
 * and softmax, the LSTM gates and cross-entropy spend most of their time in
 * it. nn_exp_block is Cephes' expf (range reduction by ln 2 split in two
 * parts, degree-6 polynomial, 2^n built in the exponent bits): within 2 ulp
 * of exp over its range, with inputs clamped to [-87, 88] so 2^n stays a
 * normal number — exp(x) for x < -87 gives ~1.6e-38 instead of a smaller
 * number or 0, which no caller can tell apart. Every step is a straight-line
 * loop over the block, which gcc turns into SIMD (the clamps are separate
 * loops: in one loop gcc threads the two branches into control flow and gives
 * up). The same code runs whatever the vector width, so results do not depend
 * on the ISA the dispatcher picks.
 *
 * Reductions: a float sum is not vectorised without reassociation, so sums
 * and dots keep NN_VB partial sums (one per lane) and add them at the end;
 * the order is fixed, so a result never depends on threads. */
#ifndef WEFT_KERNELS_NN_MATH_H
#define WEFT_KERNELS_NN_MATH_H

#include <stdint.h>
#include <string.h>

#define NN_VB 8
#define NN_INLINE static inline __attribute__((always_inline))

/* NN_HOT marks a function whose loops are worth AVX2: gcc builds it twice
 * and picks the AVX2 build at load time where the CPU has it. The builds
 * compute the same bits: no FMA contraction (ISO C mode), and the lane-wise
 * sums keep NN_VB lanes whatever the register width. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(NN_NO_HOT)
#define NN_HOT __attribute__((target_clones("avx2", "default")))
#else
#define NN_HOT
#endif

/* for (int64_t i = 0; i < n; i++) y[i] = expr;  as blocks of NN_VB that
 * gcc -O2 vectorises (it vectorises only loops of a known multiple of the
 * vector width, and without restrict — which it honours on parameters only —
 * only when no store can alias a later load: so each block computes into a
 * local array, then stores), plus a scalar tail. expr may read y[i]: the
 * block reads all before it writes, so in-place use is fine. */
#define NN_MAP(y, n, i, expr) do {                                                \
        const int64_t nn_n_ = (n);                                               \
        int64_t nn_b_ = 0;                                                       \
        for (; nn_b_ + NN_VB <= nn_n_; nn_b_ += NN_VB) {                         \
            float nn_t_[NN_VB];                                                  \
            for (int nn_j_ = 0; nn_j_ < NN_VB; nn_j_++) {                        \
                const int64_t i = nn_b_ + nn_j_; nn_t_[nn_j_] = (expr);          \
            }                                                                    \
            for (int nn_j_ = 0; nn_j_ < NN_VB; nn_j_++) (y)[nn_b_ + nn_j_] = nn_t_[nn_j_]; \
        }                                                                        \
        for (int64_t i = nn_b_; i < nn_n_; i++) (y)[i] = (expr);                 \
    } while (0)

/* t[0..NN_VB) = exp(t). */
NN_INLINE void nn_exp_block(float *restrict t)
{
    for (int j = 0; j < NN_VB; j++) t[j] = t[j] < -87.0f ? -87.0f : t[j];
    for (int j = 0; j < NN_VB; j++) t[j] = t[j] > 88.0f ? 88.0f : t[j];
    for (int j = 0; j < NN_VB; j++) {
        float x = t[j];
        /* tm's low mantissa bits hold n = round(x / ln 2) (1.5 * 2^23 trick) */
        float tm = x * 1.44269504088896341f + 12582912.0f;
        float n = tm - 12582912.0f;
        float r = x - n * 0.693359375f;
        r = r + n * 2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        uint32_t bits;
        memcpy(&bits, &tm, sizeof bits);
        bits = (bits - 0x4B400000u + 127u) << 23;   /* 2^n */
        float s;
        memcpy(&s, &bits, sizeof s);
        t[j] = p * s;
    }
}

/* t = 1 / (1 + exp(-t)). */
NN_INLINE void nn_sigmoid_block(float *restrict t)
{
    for (int j = 0; j < NN_VB; j++) t[j] = -t[j];
    nn_exp_block(t);
    for (int j = 0; j < NN_VB; j++) t[j] = 1.0f / (1.0f + t[j]);
}

/* t = tanh(t): Cephes' odd polynomial below |x| = 0.625 (where 1 - 2/(e+1)
 * would cancel), 1 - 2/(exp(2|x|) + 1) with the sign of x above. */
NN_INLINE void nn_tanh_block(float *restrict t)
{
    float a[NN_VB], e[NN_VB], s[NN_VB];
    for (int j = 0; j < NN_VB; j++) a[j] = t[j] < 0.0f ? -t[j] : t[j];
    for (int j = 0; j < NN_VB; j++) e[j] = 2.0f * a[j];
    nn_exp_block(e);
    for (int j = 0; j < NN_VB; j++) {
        float x = t[j], z = x * x;
        float p = -5.70498872745e-3f;
        p = p * z + 2.06390887954e-2f;
        p = p * z - 5.37397155531e-2f;
        p = p * z + 1.33314422036e-1f;
        p = p * z - 3.33332819422e-1f;
        s[j] = p * z * x + x;
    }
    for (int j = 0; j < NN_VB; j++) e[j] = 1.0f - 2.0f / (e[j] + 1.0f);
    for (int j = 0; j < NN_VB; j++) e[j] = t[j] < 0.0f ? -e[j] : e[j];
    for (int j = 0; j < NN_VB; j++) t[j] = a[j] < 0.625f ? s[j] : e[j];
}

/* sum of x[0..n) with NN_VB lanes. */
NN_INLINE float nn_sum(const float *x, int64_t n)
{
    float acc[NN_VB] = { 0 };
    int64_t i = 0;
    for (; i + NN_VB <= n; i += NN_VB)
        for (int j = 0; j < NN_VB; j++) acc[j] += x[i + j];
    for (int j = 0; i < n; i++, j++) acc[j] += x[i];
    float s = 0.0f;
    for (int j = 0; j < NN_VB; j++) s += acc[j];
    return s;
}

/* sum of a[i] * b[i], i < n, with NN_VB lanes. */
NN_INLINE float nn_dot(const float *a, const float *b, int64_t n)
{
    float acc[NN_VB] = { 0 };
    int64_t i = 0;
    for (; i + NN_VB <= n; i += NN_VB)
        for (int j = 0; j < NN_VB; j++) acc[j] += a[i + j] * b[i + j];
    for (int j = 0; i < n; i++, j++) acc[j] += a[i] * b[i];
    float s = 0.0f;
    for (int j = 0; j < NN_VB; j++) s += acc[j];
    return s;
}

/* max of x[0..n), n >= 1. */
NN_INLINE float nn_max(const float *x, int64_t n)
{
    float m[NN_VB];
    for (int j = 0; j < NN_VB; j++) m[j] = x[0];
    int64_t i = 0;
    for (; i + NN_VB <= n; i += NN_VB)
        for (int j = 0; j < NN_VB; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    for (int j = 0; i < n; i++, j++) m[j] = x[i] > m[j] ? x[i] : m[j];
    float r = m[0];
    for (int j = 1; j < NN_VB; j++) r = m[j] > r ? m[j] : r;
    return r;
}

/* y[i] = exp(x[i] - shift), i < n; returns their sum (lanes). y may be x. */
NN_INLINE float nn_exp_shift_sum(float *y, const float *x, int64_t n, float shift)
{
    float acc[NN_VB] = { 0 };
    int64_t i = 0;
    for (; i + NN_VB <= n; i += NN_VB) {
        float t[NN_VB];
        for (int j = 0; j < NN_VB; j++) t[j] = x[i + j] - shift;
        nn_exp_block(t);
        for (int j = 0; j < NN_VB; j++) acc[j] += t[j];
        for (int j = 0; j < NN_VB; j++) y[i + j] = t[j];
    }
    if (i < n) {   /* the tail as one padded block, its lanes as the loop would use them */
        const int m = (int)(n - i);
        float t[NN_VB] = { 0 };
        for (int j = 0; j < m; j++) t[j] = x[i + j] - shift;
        nn_exp_block(t);
        for (int j = 0; j < m; j++) { acc[j] += t[j]; y[i + j] = t[j]; }
    }
    float s = 0.0f;
    for (int j = 0; j < NN_VB; j++) s += acc[j];
    return s;
}

/* y[i] *= a, i < n. */
NN_INLINE void nn_scale(float *y, int64_t n, float a)
{
    int64_t i = 0;
    for (; i + NN_VB <= n; i += NN_VB)
        for (int j = 0; j < NN_VB; j++) y[i + j] *= a;
    for (; i < n; i++) y[i] *= a;
}

#endif
