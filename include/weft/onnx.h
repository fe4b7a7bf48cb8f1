/* weft/onnx.h — bring your own model: an ONNX file (what PyTorch exports)
 * imported as a weft forward graph. The file is decoded by protobuf-c from
 * ONNX's own onnx.proto; initializers become parameters, their values kept
 * to fill a store. */
#ifndef WEFT_ONNX_H
#define WEFT_ONNX_H

#include "weft/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { WEFT_ONNX_MAX_IO = 16, WEFT_ONNX_MAX_OPS = 64 };

typedef struct {
    weft_graph *g;                         /* the forward graph             */
    int ninputs, noutputs;
    int inputs[WEFT_ONNX_MAX_IO], outputs[WEFT_ONNX_MAX_IO]; /* value ids   */
    int nparams;
    int *param_value;                      /* per initializer used: its value */
    float **param_data;                    /* its numbers, in weft's layout   */
    char **param_onnx;                     /* the initializer it came from     */
    bool *param_transposed;                /* its weft layout is the file's 2-D
                                              tensor transposed ((K,N) -> (N,K)) */
    char producer[64];
    int64_t ir_version, opset;
    int nnodes_onnx;                       /* nodes in the file             */
    int op_count[WEFT_ONNX_MAX_OPS];       /* per op type weft_onnx_ops lists, in the file */
} weft_onnx;

/* Reads path and builds its graph. batch: the size of a symbolic first
 * dimension of the inputs (0: 1). Errors name the file and, for an op, its
 * type and node name and what is missing. */
weft_status weft_onnx_import(const char *path, int batch, weft_onnx *m);
/* The same from the bytes of a file (origin names it in errors). */
weft_status weft_onnx_import_bytes(const uint8_t *data, size_t n, const char *origin, int batch, weft_onnx *m);
void weft_onnx_free(weft_onnx *m);
/* Copies the initializers' numbers into st (bound to m->g). */
weft_status weft_onnx_fill_store(const weft_onnx *m, weft_store *st);
/* The ONNX op types the importer reads, NULL-terminated. */
const char *const *weft_onnx_ops(void);

#ifdef __cplusplus
}
#endif
#endif
