/* fmnist.c — Fashion-MNIST (and any MNIST-layout) datasets in memory, the
 * epoch order, and batch gathering. */
#include "weft/data.h"

#include <stdlib.h>
#include <string.h>

#define FMNIST_CLASSES 10

/* The RNG stream that drives data shuffling ("SHUFFLE" in ASCII): far from
 * the small tensor ids other consumers use, so the streams never meet. */
#define WEFT_STREAM_SHUFFLE UINT64_C(0x53485546464C45)
/* Extra draws for the rare rejections of the bounded draw below. */
#define WEFT_STREAM_SHUFFLE_RETRY UINT64_C(0x53485546464C4500)

static weft_status fmnist_paths(const char *dir, const char *split, char **img, char **lab)
{
    size_t n = strlen(dir) + strlen(split) + 40;
    *img = malloc(n);
    *lab = malloc(n);
    if (!*img || !*lab) {
        free(*img); free(*lab);
        *img = *lab = NULL;
        return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory", dir);
    }
    snprintf(*img, n, "%s/%s-images-idx3-ubyte.gz", dir, split);
    snprintf(*lab, n, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    return WEFT_OK;
}

static weft_status fmnist_build(const char *img_path, const char *lab_path,
                                const weft_idx *im, const weft_idx *lb, weft_dataset *out)
{
    if (im->ndim != 3)
        return weft_fail(WEFT_ERR_FORMAT, "%s: images must have 3 dimensions (n, rows, cols), "
                         "this file has %d", img_path, im->ndim);
    if (lb->ndim != 1)
        return weft_fail(WEFT_ERR_FORMAT, "%s: labels must have 1 dimension (n), this file has %d",
                         lab_path, lb->ndim);
    /* IDX dimensions are uint32; rows*cols must fit an int for the struct. */
    if (im->dims[1] * im->dims[2] > INT32_MAX)
        return weft_fail(WEFT_ERR_FORMAT, "%s: images of %lld x %lld pixels are too large",
                         img_path, (long long)im->dims[1], (long long)im->dims[2]);
    if (im->dims[0] != lb->dims[0])
        return weft_fail(WEFT_ERR_FORMAT, "%s has %lld images but %s has %lld labels",
                         img_path, (long long)im->dims[0], lab_path, (long long)lb->dims[0]);
    int64_t n = im->dims[0], pix = im->dims[1] * im->dims[2];
    for (int64_t i = 0; i < n; i++)
        if (lb->data[i] >= FMNIST_CLASSES)
            return weft_fail(WEFT_ERR_FORMAT, "%s: label %u at index %lld is out of range "
                             "(expected 0 to %d)", lab_path, lb->data[i], (long long)i,
                             FMNIST_CLASSES - 1);

    float *x = weft_alloc((size_t)n * (size_t)pix * sizeof(float));
    int32_t *y = weft_alloc((size_t)n * sizeof(int32_t));
    if (!x || !y) {
        weft_free(x); weft_free(y);
        return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory for %lld images", img_path, (long long)n);
    }
    /* A division, not a multiply by 1/255: the same floats torchvision's
     * ToTensor produces. */
    const uint8_t *p = im->data;
    for (size_t i = 0, m = (size_t)n * (size_t)pix; i < m; i++) x[i] = (float)p[i] / 255.0f;
    for (int64_t i = 0; i < n; i++) y[i] = lb->data[i];

    out->n = n;
    out->rows = (int)im->dims[1];
    out->cols = (int)im->dims[2];
    out->nclasses = FMNIST_CLASSES;
    out->images = x;
    out->labels = y;
    return WEFT_OK;
}

weft_status weft_fmnist_load(const char *dir, const char *split, weft_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (!dir || !split)
        return weft_fail(WEFT_ERR_ARG, "fashion-mnist: no directory or split given");
    if (strcmp(split, "train") != 0 && strcmp(split, "t10k") != 0)
        return weft_fail(WEFT_ERR_ARG, "fashion-mnist: unknown split '%s' (expected train or t10k)",
                         split);
    char *img_path, *lab_path;
    WEFT_TRY(fmnist_paths(dir, split, &img_path, &lab_path));
    weft_idx im = {0}, lb = {0};
    weft_status s = weft_idx_read(img_path, &im);
    if (s == WEFT_OK) s = weft_idx_read(lab_path, &lb);
    if (s == WEFT_OK) s = fmnist_build(img_path, lab_path, &im, &lb, out);
    weft_idx_free(&im);
    weft_idx_free(&lb);
    free(img_path);
    free(lab_path);
    return s;
}

void weft_dataset_free(weft_dataset *d)
{
    if (!d) return;
    weft_free(d->images);
    weft_free(d->labels);
    memset(d, 0, sizeof *d);
}

/* A uniform draw in [0, bound), bound <= 2^32, from r: Lemire's
 * multiply-shift with rejection, so no value is favoured. The rare retries
 * (probability < bound / 2^32) take fresh bits from another stream, keyed by
 * the attempt, so the result stays a pure function of (seed, epoch, i). */
static uint64_t bounded_u32(uint64_t bound, uint32_t r, uint64_t seed, int64_t epoch, uint32_t i)
{
    uint64_t m = (uint64_t)r * bound;
    uint32_t low = (uint32_t)m;
    if (low < bound) {
        uint32_t threshold = (uint32_t)((UINT64_C(1) << 32) % bound);
        for (uint64_t attempt = 0; low < threshold; attempt++) {
            weft_rng_key k = weft_rng_key_make(seed, (uint64_t)epoch,
                                               WEFT_STREAM_SHUFFLE_RETRY + attempt);
            m = (uint64_t)weft_rng_u32(k, i) * bound;
            low = (uint32_t)m;
        }
    }
    return m >> 32;
}

/* The same for bound > 2^32 (datasets of over four billion examples): 64
 * random bits from two streams selected by the high half of i, reduced by
 * rejection modulo. */
static uint64_t bounded_u64(uint64_t bound, uint64_t seed, int64_t epoch, uint64_t i)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    for (uint64_t attempt = 0;; attempt++) {
        uint64_t stream = WEFT_STREAM_SHUFFLE + ((i >> 32) + 1) * 4 + attempt * (UINT64_C(1) << 40);
        uint32_t hi = weft_rng_u32(weft_rng_key_make(seed, (uint64_t)epoch, stream), (uint32_t)i);
        uint32_t lo = weft_rng_u32(weft_rng_key_make(seed, (uint64_t)epoch, stream + 1), (uint32_t)i);
        uint64_t r = (uint64_t)hi << 32 | lo;
        if (r < limit) return r % bound;
    }
}

/* Fisher-Yates from the end: step i swaps perm[i] with perm[j], j uniform in
 * [0, i], drawn from element i of the (seed, epoch, shuffle) stream. */
void weft_dataset_permutation(int64_t n, uint64_t seed, int64_t epoch, int64_t *perm)
{
    if (n <= 0 || !perm) return;
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    weft_rng_key key = weft_rng_key_make(seed, (uint64_t)epoch, WEFT_STREAM_SHUFFLE);
    for (int64_t i = n - 1; i > 0; i--) {
        uint64_t bound = (uint64_t)i + 1, j;
        if (bound <= (UINT64_C(1) << 32))
            j = bounded_u32(bound, weft_rng_u32(key, (uint32_t)i), seed, epoch, (uint32_t)i);
        else
            j = bounded_u64(bound, seed, epoch, (uint64_t)i);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void weft_dataset_gather(const weft_dataset *d, const int64_t *idx, int B, float *x, int32_t *y)
{
    size_t pix = (size_t)d->rows * (size_t)d->cols;
    for (int b = 0; b < B; b++) {
        int64_t k = idx[b];
        if (x) memcpy(x + (size_t)b * pix, d->images + (size_t)k * pix, pix * sizeof(float));
        if (y) y[b] = d->labels[k];
    }
}
