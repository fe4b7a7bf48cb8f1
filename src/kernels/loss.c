/* loss.c — softmax cross-entropy over rows of logits. Each row is shifted by
 * its maximum before exponentiating (so no exp overflows) and the sums are in
 * double: C is small (10 classes) and this is a negligible part of a step.
 * Labels are checked by the data loader; one outside [0, C) here gives a NaN
 * loss (and NaN gradient row) rather than a read outside the row. */
#include "kernels/kernels.h"

#include <math.h>

/* log(sum_j exp(row[j])) in double, computed as max + log(sum exp(row - max)). */
static double row_logsumexp(const float *row, int C)
{
    float mx = row[0];
    for (int j = 1; j < C; j++) mx = row[j] > mx ? row[j] : mx;
    double s = 0.0;
    for (int j = 0; j < C; j++) s += exp((double)row[j] - (double)mx);
    return (double)mx + log(s);
}

/* Mean over M rows of -log softmax(logits[r])[labels[r]]; logits (M,C). */
float weft_k_xent_fwd(const float *logits, const int32_t *labels, int M, int C)
{
    if (M <= 0 || C <= 0) return 0.0f;
    double total = 0.0;
    for (int r = 0; r < M; r++) {
        const float *row = logits + (int64_t)r * C;
        if (labels[r] < 0 || labels[r] >= C) return NAN;   /* never read outside the row */
        total += row_logsumexp(row, C) - (double)row[labels[r]];
    }
    return (float)(total / M);
}

/* dlogits (M,C) = dloss * (softmax(logits) - onehot(labels)) / M. */
void weft_k_xent_bwd(float *dlogits, const float *logits, const int32_t *labels,
                     int M, int C, float dloss)
{
    if (M <= 0 || C <= 0) return;
    const double scale = (double)dloss / M;
    for (int r = 0; r < M; r++) {
        const float *row = logits + (int64_t)r * C;
        float *out = dlogits + (int64_t)r * C;
        const double lse = row_logsumexp(row, C);
        if (labels[r] < 0 || labels[r] >= C) {   /* a bad label poisons its row */
            for (int j = 0; j < C; j++) out[j] = NAN;
            continue;
        }
        for (int j = 0; j < C; j++) {
            double p = exp((double)row[j] - lse);
            out[j] = (float)(scale * (p - (j == labels[r] ? 1.0 : 0.0)));
        }
    }
}
