/* weft/data.h — datasets and batching. Needs only base. */
#ifndef WEFT_DATA_H
#define WEFT_DATA_H

#include "weft/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An IDX file (the MNIST format): big-endian magic 0x0000 <type> <ndim>,
 * ndim big-endian uint32 dimensions, then the data. Read through zlib, so a
 * .gz file and a plain one both work. Only type 0x08 (unsigned byte) is
 * accepted. Errors name the file and what is wrong (wrong magic, a size that
 * does not match, truncated data, a corrupt gzip stream). */
typedef struct {
    int ndim;
    int64_t dims[4];
    uint8_t *data;     /* prod(dims) bytes, malloc'd */
} weft_idx;
weft_status weft_idx_read(const char *path, weft_idx *out);
void weft_idx_free(weft_idx *x);

/* A labelled image dataset held in memory. */
typedef struct {
    int64_t n;          /* number of examples                       */
    int rows, cols;     /* image size (28x28 for Fashion-MNIST)     */
    int nclasses;       /* 10                                        */
    float *images;      /* (n, rows*cols), pixel/255 in [0,1]        */
    int32_t *labels;    /* (n), in [0, nclasses)                     */
} weft_dataset;

/* The default directory of Debian's dataset-fashion-mnist package. */
#define WEFT_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
/* Loads "<dir>/<split>-images-idx3-ubyte.gz" and "<dir>/<split>-labels-idx1-ubyte.gz"
 * with split "train" or "t10k"; checks that the counts agree and labels < 10. */
weft_status weft_fmnist_load(const char *dir, const char *split, weft_dataset *out);
void weft_dataset_free(weft_dataset *d);

/* The order of examples in epoch `epoch` (from 0): a permutation of [0,n)
 * that depends only on (seed, epoch), so a resumed run sees the same order. */
void weft_dataset_permutation(int64_t n, uint64_t seed, int64_t epoch, int64_t *perm);
/* Copies examples idx[0..B) into x (B, rows*cols) and y (B). */
void weft_dataset_gather(const weft_dataset *d, const int64_t *idx, int B, float *x, int32_t *y);

#ifdef __cplusplus
}
#endif
#endif
