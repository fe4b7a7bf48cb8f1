/* weft/models.h — the model zoo: presets that build a forward graph. */
#ifndef WEFT_MODELS_H
#define WEFT_MODELS_H

#include "weft/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The values a trainer touches. */
typedef struct {
    int x;        /* input images (B, 1, 28, 28) f32 before the precision pass */
    int y;        /* labels (B) i32                                            */
    int logits;   /* (B, classes)                                              */
    int loss;     /* scalar                                                    */
} weft_model_io;

typedef struct {
    const char *name;
    const char *summary;
    weft_status (*build)(weft_graph *g, int batch, weft_model_io *io);
} weft_model_preset;

/* NULL-terminated table of presets. */
const weft_model_preset *weft_model_presets(void);
/* Looks a preset up by name; the error lists the valid names. */
weft_status weft_model_find(const char *name, const weft_model_preset **out);

/* Builds the forward graph of `name` for batch `batch`, marks the logits and
 * loss to be kept, and returns their ids. */
weft_status weft_model_build(weft_graph *g, const char *name, int batch, weft_model_io *io);

#ifdef __cplusplus
}
#endif
#endif
