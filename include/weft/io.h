/* weft/io.h — checkpoints (safetensors), reports. */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include "weft/num.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- safetensors -------------------------------------------------------------
 * The format: 8-byte little-endian header length, a JSON header mapping each
 * tensor name to {"dtype": "F32"|"BF16"|"I32"|"U8", "shape": [...],
 * "data_offsets": [begin, end]} plus an optional "__metadata__" object of
 * string -> string, then the tensor bytes (little-endian, row-major).
 * weft_st_file.buffer is released with free() by weft_st_free. */
#define WEFT_ST_MAX_DIMS 8
typedef struct {
    char name[128];
    weft_dtype dtype;
    int ndim;
    int64_t dims[WEFT_ST_MAX_DIMS];
    void *data;         /* nbytes; on read, points into the file's buffer */
    size_t nbytes;
} weft_st_tensor;

typedef struct {
    weft_st_tensor *tensors;
    int ntensors;
    char **meta_keys, **meta_vals;
    int nmeta;
    void *buffer;        /* owns the bytes the tensors point into */
} weft_st_file;

/* Writes atomically (temporary name, flush, fsync, rename). meta is an array
 * of nmeta key/value string pairs (meta[2i] key, meta[2i+1] value). The header
 * lists tensors in the order given; the data section is laid out widest
 * dtype first (the format allows no gaps, so this keeps every tensor aligned). */
weft_status weft_st_write(const char *path, const weft_st_tensor *ts, int n,
                          const char *const *meta, int nmeta);
/* Reads and validates: header length within the file, valid JSON, known
 * dtypes, offsets in order, contiguous, inside the data and matching
 * dtype size x shape. Errors name the file and the tensor or field. */
weft_status weft_st_read(const char *path, weft_st_file *out);
const weft_st_tensor *weft_st_find(const weft_st_file *f, const char *name);
const char *weft_st_meta(const weft_st_file *f, const char *key);
void weft_st_free(weft_st_file *f);

#ifdef __cplusplus
}
#endif
#endif
