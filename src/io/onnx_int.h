/* onnx_int.h — the ONNX importer's insides, shared by onnx.c (the file, its
 * names, inputs, outputs and parameters), onnx_const.c (numbers known at
 * import: initializers, Constant nodes, and everything folded from them and
 * from shapes) and onnx_ops.c (the ops that become weft nodes). */
#ifndef WEFT_IO_ONNX_INT_H
#define WEFT_IO_ONNX_INT_H

#include "weft/onnx.h"

#include "onnx.pb-c.h"

/* A tensor whose numbers are known at import (a shape, an index, a mask, a
 * scalar): doubles hold int64 shapes and float32 numbers exactly. */
typedef enum { C_FLOAT, C_INT, C_BOOL } cval_type;
typedef struct {
    cval_type type;
    int ndim;
    int64_t d[WEFT_MAX_DIMS];
    int64_t n;
    double *v;
    bool weight;   /* folded from a float initializer (a weight sliced, stacked, reshaped): trained when read as data */
} cval;

/* What a name stands for: a weft value; an initializer (becoming a parameter
 * when an op reads it as one); an initializer seen through a 2-D Transpose
 * (a MatMul's B in the file's (K, N) order: weft's linear takes it as is);
 * or numbers known at import. */
typedef enum { E_VALUE, E_INIT, E_INIT_T, E_CONST, E_LN, E_ABSENT } entry_kind;   /* E_ABSENT: an output weft does not make */
/* E_LN: a piece of a layer norm written out (what exporters emit below
 * opset 17): mean(x), x - mean, its square, their mean (the variance), + eps,
 * its square root; the division of the second by the last is the norm. */
typedef enum { LN_MEAN, LN_CENTER, LN_SQUARE, LN_VAR, LN_VAR_EPS, LN_STD } ln_stage;
typedef struct {
    const char *name;
    entry_kind kind;
    int value;                     /* E_VALUE: its id (an E_INIT's parameters are
                                      the model's param_value, by ONNX name)       */
    const Onnx__TensorProto *t;    /* E_INIT, E_INIT_T                               */
    cval *c;                       /* E_CONST (owned); E_INIT: its numbers, once read */
    const char *base;              /* E_INIT_T: the name of the E_INIT it transposes  */
    ln_stage stage;                /* E_LN: which piece (value: x's id)               */
    float eps;                     /* E_LN from LN_VAR_EPS on                          */
    int next;                      /* hash chain                                     */
} entry;

enum { ONNX_MAX_CONST = 1 << 22 };   /* most numbers a folded constant may have (a 2048 x 2048 mask) */

typedef struct {
    const char *origin;
    weft_onnx *m;
    weft_graph *g;
    entry *e;
    int n, cap;
    int *head;                     /* hash buckets: first entry, -1 */
    int nhead;
    int cap_params;
} importer;

/* onnx.c */
entry *onnx_find(importer *im, const char *name);
weft_status onnx_add(importer *im, const char *name, entry_kind k, int value, const Onnx__TensorProto *t, cval *c);
/* Name stands for the initializer entry base seen through a 2-D Transpose. */
weft_status onnx_add_transposed(importer *im, const char *name, const entry *base);
weft_status onnx_add_ln(importer *im, const char *name, ln_stage stage, int x, float eps);
/* An initializer's float32 numbers (malloc'd), its data checked against its dimensions. */
weft_status onnx_tensor_floats(const importer *im, const Onnx__TensorProto *t, float **out);
weft_status onnx_keep_numbers(importer *im, int v, float *f, const char *from, bool transposed);
/* The initializer behind entry x as a parameter (transposed to weft's (N, K)
 * when transpose). */
/* A new parameter of dimensions d holding f (owned from here), named for
 * the file's tensor `from` (with ".T" when transposed), its numbers kept to
 * fill a store with. */
weft_status onnx_new_param(importer *im, const char *from, bool transposed, int nd, const int64_t *d, float *f, int *out);
weft_status onnx_weight(importer *im, const Onnx__NodeProto *nd, entry *x, bool transpose, int *out);
weft_status onnx_value_of(importer *im, const Onnx__NodeProto *nd, size_t i, int *out);
const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *nd, const char *name);
int64_t onnx_attr_i(const Onnx__NodeProto *nd, const char *name, int64_t dflt);
weft_status onnx_unsupported(const importer *im, const Onnx__NodeProto *nd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *onnx_node_name(const Onnx__NodeProto *nd);

/* onnx_const.c */
cval *cval_new(cval_type t, int ndim, const int64_t *d);
void cval_free(cval *c);
weft_status cval_from_tensor(const importer *im, const Onnx__TensorProto *t, cval **out);
/* Input i of nd as numbers known at import, or NULL (a weft value, or absent). */
weft_status onnx_const_in(importer *im, const Onnx__NodeProto *nd, size_t i, cval **out);
/* Folds nd when every input it reads is known at import (Shape: its input's
 * shape is); *done says whether it did. */
weft_status onnx_fold(importer *im, const Onnx__NodeProto *nd, bool *done);
/* A constant as a weft value, persistent, not trained, its numbers kept for
 * the store, leading 1s dropped: data (an operand beside activations: in
 * their precision), a mask (f32: 0 or 1) or ids (i32). */
typedef enum { AS_DATA, AS_MASK, AS_IDS } const_use;
/* name: what the file calls it; numbers folded from a weight (c->weight)
 * read as data become a trained parameter under that name. */
weft_status onnx_materialize(importer *im, const cval *c, const_use use, const char *name, int *out);
/* A weft value name for the file's name (and suffix): as it is when it
 * fits, else its head and a hash of the whole, so two long names stay two. */
void onnx_value_name(char *buf, const char *name, const char *suffix);

/* Reshape's target dimensions from its shape constant (0: keep the input's,
 * one -1: what is left), checked to hold the input's numbers. */
weft_status onnx_reshape_dims(const importer *im, const Onnx__NodeProto *nd, const cval *shape, const int64_t *in_d,
                              int in_nd, int *out_nd, int64_t *d);
/* Squeeze's or Unsqueeze's output dimensions: the nax axes (negative from
 * the end of the output) dropped from in_d, or inserted as 1s; Squeeze with
 * no axes drops every 1. NULL, or why it cannot. */
const char *onnx_squeeze_dims(const int64_t *in_d, int in_nd, const int64_t *axes, int nax, bool squeeze, int *out_nd,
                              int64_t *d);
/* Slice's per-dimension (start, count, step), clamped as ONNX says; axes and
 * steps may be NULL. */
weft_status onnx_slice_ranges(const importer *im, const Onnx__NodeProto *nd, int ndim, const int64_t *dims,
                              const cval *starts, const cval *ends, const cval *axes, const cval *steps, int64_t *st,
                              int64_t *cnt, int64_t *step);

/* onnx_ops.c */
weft_status onnx_node(importer *im, const Onnx__NodeProto *nd);
extern const char *const onnx_ops[];

/* An ONNX axis, negative from the end, as 0 .. ndim-1. */
static inline int64_t axis_of(int64_t a, int ndim) { return a < 0 ? a + ndim : a; }

#endif
