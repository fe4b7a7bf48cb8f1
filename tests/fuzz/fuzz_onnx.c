/* fuzz_onnx.c — libFuzzer target for the ONNX reader (scripts/fuzz_onnx.sh
 * builds and runs it with the exported models as the seed corpus): any bytes
 * must import cleanly or fail with a message, never crash, leak or hang. An
 * import that succeeds is also planned and its store filled, so the shapes
 * it accepted are ones the rest of weft can take. */
#include "weft/onnx.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weft_onnx m;
    if (weft_onnx_import_bytes(data, size, "fuzz.onnx", 2, &m)) return 0;
    /* absurd but valid shapes would make the plan and store huge: cap them */
    int64_t total = 0;
    for (int v = 0; v < m.g->nvalues; v++) total += weft_shape_numel(&m.g->values[v].shape);
    if (total < ((int64_t)1 << 24) && !weft_pass_plan_memory(m.g)) {
        weft_store st;
        weft_store_init(&st);
        if (!weft_store_bind(&st, m.g, 0)) weft_onnx_fill_store(&m, &st);
        weft_store_free(&st);
    }
    weft_onnx_free(&m);
    return 0;
}
