/* gemm.c — the one place weft calls BLAS. Row-major sgemm through OpenBLAS;
 * who owns the cores (OpenBLAS's threads or weft's pool) is decided by exec,
 * not here. */
#include "kernels/kernels.h"

#include <cblas.h>

/* C (M,N) = alpha * op(A) op(B) + beta * C.
 * A is (M,K), or (K,M) when ta; B is (K,N), or (N,K) when tb; C is (M,N). */
void weft_k_gemm(bool ta, bool tb, int M, int N, int K, float alpha,
                 const float *A, const float *B, float beta, float *C)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        /* BLAS leaves this case to the implementation; define it: C = beta*C,
         * and beta == 0 overwrites (even NaN) as sgemm does. */
        for (int64_t i = 0; i < (int64_t)M * N; i++) C[i] = beta == 0.0f ? 0.0f : beta * C[i];
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}
