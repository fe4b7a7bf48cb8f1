/* precision.c — the precision policies of DESIGN.md section 3: names,
 * parsing, and the bytes each keeps per parameter. */
#include "weft/num.h"

#include <string.h>

/* Indexed by weft_precision; the parse error lists them in this order. */
static const char *const names[WEFT_PREC_COUNT] = {
    [WEFT_PREC_FP32] = "fp32",
    [WEFT_PREC_MIXED] = "mixed",
    [WEFT_PREC_BF16] = "bf16",
    [WEFT_PREC_BF16_SR] = "bf16-sr",
    [WEFT_PREC_BF16_KAHAN] = "bf16-kahan",
};

static bool valid(weft_precision p) { return (unsigned)p < (unsigned)WEFT_PREC_COUNT; }

const char *weft_precision_name(weft_precision p)
{
    return valid(p) ? names[p] : "?";
}

weft_status weft_precision_parse(const char *s, weft_precision *out)
{
    for (int p = 0; s && p < WEFT_PREC_COUNT; p++) {
        if (strcmp(s, names[p]) == 0) {
            *out = (weft_precision)p;
            return WEFT_OK;
        }
    }
    char choices[128] = "";
    for (int p = 0; p < WEFT_PREC_COUNT; p++) {
        if (p) strncat(choices, ", ", sizeof choices - strlen(choices) - 1);
        strncat(choices, names[p], sizeof choices - strlen(choices) - 1);
    }
    if (!s) return weft_fail(WEFT_ERR_ARG, "precision: no value given (choose one of %s)", choices);
    return weft_fail(WEFT_ERR_ARG, "precision: unknown value '%s' (choose one of %s)", s, choices);
}

bool weft_precision_bf16_compute(weft_precision p)
{
    return valid(p) && p != WEFT_PREC_FP32;
}

/* Weights plus optimizer state (no gradients, no activations):
 *   fp32        4 weight + 4 per state
 *   mixed       4 fp32 master + 2 bf16 compute copy + 4 per state
 *   bf16, -sr   2 weight + 2 per state
 *   bf16-kahan  2 weight + 2 compensation + 2 per state */
double weft_precision_bytes_per_param(weft_precision p, int nstates)
{
    if (nstates < 0) nstates = 0;
    switch (p) {
    case WEFT_PREC_FP32: return 4.0 + 4.0 * nstates;
    case WEFT_PREC_MIXED: return 6.0 + 4.0 * nstates;
    case WEFT_PREC_BF16:
    case WEFT_PREC_BF16_SR: return 2.0 + 2.0 * nstates;
    case WEFT_PREC_BF16_KAHAN: return 4.0 + 2.0 * nstates;
    case WEFT_PREC_COUNT: break;
    }
    return 0.0;
}
