/* test_precision.c — precision policy names, parsing, bytes per parameter. */
#include "weft/num.h"
#include "test_util.h"

#include <string.h>

static void test_names(void)
{
    static const char *const want[WEFT_PREC_COUNT] = {
        "fp32", "mixed", "bf16", "bf16-sr", "bf16-kahan",
    };
    for (int p = 0; p < WEFT_PREC_COUNT; p++) {
        const char *name = weft_precision_name((weft_precision)p);
        CHECKF(strcmp(name, want[p]) == 0, "%d is named '%s', want '%s'", p, name, want[p]);
        weft_precision back = WEFT_PREC_COUNT;
        CHECK_OK(weft_precision_parse(want[p], &back));
        CHECK(back == (weft_precision)p);
    }
}

static void test_bad_names(void)
{
    static const char *const bad[] = { "", "FP32", "bf16_sr", "bf16-", "fp16", "bf16-kahan ", "mixed16" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        weft_precision out = WEFT_PREC_BF16_SR;
        weft_status s = weft_precision_parse(bad[i], &out);
        CHECKF(s == WEFT_ERR_ARG, "'%s' accepted", bad[i]);
        CHECK(out == WEFT_PREC_BF16_SR);   /* untouched on failure */
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        const char *msg = weft_errmsg();
        CHECKF(strstr(msg, quoted) && strstr(msg, "fp32, mixed, bf16, bf16-sr, bf16-kahan"),
               "message does not name the value and the choices: %s", msg);
    }
    weft_precision out;
    CHECK(weft_precision_parse(NULL, &out) == WEFT_ERR_ARG);
}

static void test_compute(void)
{
    CHECK(!weft_precision_bf16_compute(WEFT_PREC_FP32));
    CHECK(weft_precision_bf16_compute(WEFT_PREC_MIXED));
    CHECK(weft_precision_bf16_compute(WEFT_PREC_BF16));
    CHECK(weft_precision_bf16_compute(WEFT_PREC_BF16_SR));
    CHECK(weft_precision_bf16_compute(WEFT_PREC_BF16_KAHAN));
}

/* The formulas of num.h for 0, 1 (SGD momentum) and 2 (AdamW) states. */
static void test_bytes(void)
{
    static const struct { weft_precision p; double b[3]; } rows[] = {
        { WEFT_PREC_FP32,       { 4, 8, 12 } },
        { WEFT_PREC_MIXED,      { 6, 10, 14 } },
        { WEFT_PREC_BF16,       { 2, 4, 6 } },
        { WEFT_PREC_BF16_SR,    { 2, 4, 6 } },
        { WEFT_PREC_BF16_KAHAN, { 4, 6, 8 } },
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        for (int n = 0; n < 3; n++)
            CHECKF(weft_precision_bytes_per_param(rows[r].p, n) == rows[r].b[n],
                   "%s with %d states: %g bytes, want %g", weft_precision_name(rows[r].p), n,
                   weft_precision_bytes_per_param(rows[r].p, n), rows[r].b[n]);
}

int main(void)
{
    test_names();
    test_bad_names();
    test_compute();
    test_bytes();
    return test_summary();
}
