/* test_kernels_math.c — the kernels of the general math that imported
 * models are written in (kernels.h): mul and add with a broadcast row, scale,
 * where, column sums of a range, erf and its backward, and the batched GEMM
 * with shared operands, against plain references in double. Shapes are small
 * and odd so that vector tails are exercised; buffers are exactly sized heap
 * allocations, so ASan catches any overrun. */
#define TEST_RAND_SEED 0x13198A2E03707344ull
#include "test_rand.h"
#include "kernels/kernels.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double *dbuf(int64_t n) { double *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p); if (!p) abort(); return p; }

/* erf within 3 ulp of the exact value (kernels.h) over a sweep of [-6, 6]
 * that is dense near 0 (every 997th float from 1e-30 up), and its
 * backward against the formula. */
static void test_erf(void)
{
    enum { B = 4096 };
    float x[B], y[B], dy[B], dx[B];
    double worst = 0, worst_at = 0;
    int n = 0;
    uint32_t bits = 0x0d000000u;   /* 3.9e-31 */
    while (bits < 0x40c00000u) {   /* 6.0 */
        for (n = 0; n < B && bits < 0x40c00000u; n++, bits += 997) {
            uint32_t b = bits | (n % 2 ? 0x80000000u : 0);
            memcpy(&x[n], &b, sizeof b);
        }
        weft_k_erf_fwd(y, x, n);
        for (int i = 0; i < n; i++) {
            double r = erf((double)x[i]), ulp = nextafterf((float)fabs(r), INFINITY) - (float)fabs(r);
            double e = fabs(y[i] - r) / ulp;
            if (!(e <= worst)) { worst = e; worst_at = x[i]; }
        }
    }
    CHECKF(worst <= 3.0, "erf: %.2f ulp at %g", worst, worst_at);
    float big[4] = { 7.0f, -40.0f, INFINITY, NAN }, by[4];
    weft_k_erf_fwd(by, big, 4);
    CHECKF(by[0] == 1.0f && by[1] == -1.0f && by[2] == 1.0f && isnan(by[3]), "erf(7, -40, inf, nan) = %g %g %g %g",
           by[0], by[1], by[2], by[3]);
    double *want = dbuf(37);
    fill(x, 37); fill(dy, 37);
    for (int i = 0; i < 37; i++) { x[i] *= 3.0f; want[i] = dy[i] * 2.0 / sqrt(M_PI) * exp(-(double)x[i] * x[i]); }
    weft_k_erf_bwd(dx, dy, x, 37);
    CHECK_CLOSE(dx, want, 37, 1e-7, 1e-6, "erf_bwd");
    printf("erf: max error %.2f ulp (at %g)\n", worst, worst_at);
    free(want);
}

static void test_math(void)
{
    const int64_t M = 5, N = 13, n = M * N;
    float *a = fbuf(n), *b = fbuf(n), *y = fbuf(n), *cs = fbuf(N);
    double *want = dbuf(n);
    fill(a, n); fill(b, n);
    for (int64_t i = 0; i < n; i++) want[i] = (double)a[i] * b[i];
    weft_k_mul(y, a, b, n);
    CHECK_CLOSE(y, want, n, 0, 1e-7, "mul");
    for (int64_t i = 0; i < n; i++) want[i] = (double)a[i] * b[i % N];
    weft_k_mul_rows(y, a, b, M, N);
    CHECK_CLOSE(y, want, n, 0, 1e-7, "mul_rows");
    for (int64_t i = 0; i < n; i++) want[i] = (double)a[i] + b[i % N];
    memcpy(y, a, sizeof(float) * n);
    weft_k_add_rows(y, y, b, M, N);               /* in place */
    CHECK_CLOSE(y, want, n, 0, 1e-7, "add_rows in place");
    for (int64_t i = 0; i < n; i++) want[i] = -1.5 * a[i] + 0.25;
    weft_k_scale(y, a, n, -1.5f, 0.25f);
    CHECK_CLOSE(y, want, n, 1e-7, 1e-6, "scale");
    b[0] = 0.0f; b[1] = -0.0f; b[2] = NAN;        /* zeros mask; NaN is not zero */
    weft_k_where_rows(y, a, b, -INFINITY, M, N);
    bool ok = true;
    for (int64_t i = 0; i < n; i++) {
        int64_t j = i % N;
        ok = ok && (j < 2 ? y[i] == -INFINITY : y[i] == a[i]);
    }
    CHECK(ok);
    for (int64_t j = 0; j < N; j++) {
        double s = 0;
        for (int64_t i = 0; i < M; i++) s += a[i * N + j];
        want[j] = s;
    }
    cs[3] = cs[9] = 7.0f;
    weft_k_colsum_range(cs, a, M, N, 4, 9);        /* columns [4, 9) only */
    CHECK(cs[3] == 7.0f && cs[9] == 7.0f);
    CHECK_CLOSE(cs + 4, want + 4, 5, 1e-6, 1e-6, "colsum_range");
    free(a); free(b); free(y); free(cs); free(want);
}

/* C_i = op(A_i) op(B_i), each stride 0 (shared) or a matrix per batch, every
 * flag, inline and on a pool of 3 (batches split, or the stacked product). */
static void test_gemm_batched(void)
{
    const int M = 4, N = 6, K = 5, nb = 5;
    float *A = fbuf(nb * M * K), *B = fbuf(nb * K * N), *C = fbuf(nb * M * N);
    double *want = dbuf(nb * M * N);
    fill(A, nb * M * K); fill(B, nb * K * N);
    weft_pool *pool = NULL;
    CHECK_OK(weft_pool_create(&pool, 3));
    for (int f = 0; f < 32; f++) {
        bool ta = f & 1, tb = f & 2, sa0 = f & 4, sb0 = f & 8, pooled = f & 16;
        int64_t sa = sa0 ? 0 : M * K, sb = sb0 ? 0 : K * N;
        for (int bi = 0; bi < nb; bi++)
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    const float *Ai = A + bi * sa, *Bi = B + bi * sb;
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += (double)(ta ? Ai[k * M + i] : Ai[i * K + k]) * (tb ? Bi[j * K + k] : Bi[k * N + j]);
                    want[(bi * M + i) * N + j] = s;
                }
        fill_nan(C, nb * M * N);
        weft_k_gemm_batched_pool(pooled ? pool : NULL, ta, tb, nb, M, N, K, A, sa, B, sb, C);
        CHECK_CLOSE(C, want, nb * M * N, 1e-5, 1e-5, "gemm_batched ta=%d tb=%d shared a %d b %d pool %d", ta, tb,
                    sa0, sb0, pooled);
    }
    weft_pool_destroy(pool);
    free(A); free(B); free(C); free(want);
}

int main(void)
{
    test_erf();
    test_math();
    test_gemm_batched();
    return test_summary();
}
