/* weft/onnx_train.h — fine-tuning an imported ONNX model (weft/onnx.h): a
 * loss on its output, and its trained weights written back under the file's
 * initializer names and in the file's layouts, for PyTorch to load
 * (scripts/weft_to_torch.py). */
#ifndef WEFT_ONNX_TRAIN_H
#define WEFT_ONNX_TRAIN_H

#include "weft/onnx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What weft_onnx_attach_xent adds to an imported graph (value ids). */
typedef struct {
    int logits;   /* the model's first output as (M, C) rows of logits        */
    int labels;   /* an i32 input (M), "labels": a class per row (-1: ignored) */
    int loss;     /* the mean cross-entropy over the rows (a scalar)           */
} weft_onnx_loss;

/* Cross-entropy on m's first output, read as logits over its last axis:
 * (B, C) as it is, (B, ..., C) as (M, C) rows (M = B * ...). The labels
 * input joins m->g (not m->inputs: those are the file's); the logits and
 * the loss are kept to the end of a run. An output made by a Softmax is
 * refused (cross-entropy wants logits). Run before the precision pass. */
weft_status weft_onnx_attach_xent(weft_onnx *m, weft_onnx_loss *out);

/* Writes every parameter m imported, as the store st (bound to m->g) holds
 * it, to a safetensors file at path: each under its ONNX initializer name,
 * in the file's layout (transposed back where weft holds it transposed),
 * as float32 (a bf16 store widened exactly); batch-norm running statistics
 * too, but not the constants the importer made itself (no initializer
 * name). An initializer imported twice (read both plain and transposed) is
 * written once, from its first use. Atomic: a failed write leaves no file.
 * meta: nmeta key/value pairs for the file's __metadata__. */
weft_status weft_onnx_write_weights(const weft_onnx *m, weft_store *st, const char *path, const char *const *meta,
                                    int nmeta);

#ifdef __cplusplus
}
#endif
#endif
