/* sample.c — `weft sample --checkpoint FILE --prompt TEXT`: continues a text
 * byte by byte with a language model. Each new byte runs the model once on
 * the last T bytes (the model is causal, so a shorter text sits at the
 * window's start and the byte after it is read from its last position);
 * the draw uses the counter RNG keyed by (seed, byte index), so a seed
 * gives the same text every time. */
#include "cli/task.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *summary =
    "Continues --prompt with a byte-level language model saved by\n"
    "`weft train --model gpt-mini --checkpoint FILE`, printing the bytes as\n"
    "they come.";

/* Draws a byte from softmax(logits / temperature); temperature 0: argmax. */
static int draw(const float *logits, int V, double temperature, double u)
{
    int best = 0;
    for (int i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    if (temperature <= 0) return best;
    double z = 0, acc = 0;
    for (int i = 0; i < V; i++) z += exp((logits[i] - logits[best]) / temperature);
    for (int i = 0; i < V; i++) {
        acc += exp((logits[i] - logits[best]) / temperature) / z;
        if (u < acc) return i;
    }
    return best;
}

weft_status weft_sample_text(weft_opts *o)
{
    if (!o->checkpoint) return weft_fail(WEFT_ERR_ARG, "sample needs --checkpoint FILE");
    if (!o->prompt) return weft_fail(WEFT_ERR_ARG, "sample needs --prompt TEXT");
    weft_st_file ck = { 0 };
    weft_compiled m = { 0 };
    weft_store store;
    weft_store_init(&store);
    int64_t step;
    uint64_t seed = (uint64_t)o->seed;
    const weft_model_preset *p = NULL;
    float *logits = NULL;
    int32_t *tok = NULL, *pos = NULL, *tgt = NULL;
    weft_status s = weft_st_read(o->checkpoint, &ck);
    if (!s) s = weft_ckpt_read_run(&ck, o->checkpoint, o, &step);
    if (!s) s = weft_run_preset(o, &p);   /* a preset, or an ONNX language model */
    if (!s && p->task != WEFT_TASK_TEXT)
        s = weft_fail(WEFT_ERR_ARG, "%s: %s is not a language model", o->checkpoint, o->model);
    if (!s) s = weft_compile(&m, o, 1, false);
    if (!s) s = weft_store_bind(&store, m.g, 0);
    if (!s) s = weft_ckpt_load(&ck, o->checkpoint, &store, true, m.g);
    if (!s) s = weft_exec_create(&m.ex, m.g, &store, o->threads, 0);
    if (s) goto done;
    const int T = (int)m.g->values[m.io.x].shape.d[1], V = (int)m.g->values[m.io.logits].shape.d[1];
    size_t plen = strlen(o->prompt), cap = plen + (size_t)o->tokens + 1;
    uint8_t *text = malloc(cap);
    logits = malloc((size_t)T * (size_t)V * sizeof *logits);
    tok = calloc((size_t)T, sizeof *tok); pos = malloc((size_t)T * sizeof *pos); tgt = calloc((size_t)T, sizeof *tgt);
    if (!text || !logits || !tok || !pos || !tgt) { free(text); s = weft_fail(WEFT_ERR_NOMEM, "out of memory"); goto done; }
    memcpy(text, o->prompt, plen);
    size_t n = plen;
    for (int t = 0; t < T; t++) pos[t] = t;
    fwrite(text, 1, n, stdout);
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD, .eval = true };
    weft_rng_key key = weft_rng_key_make(seed, 0, 0x53414d504c45ull);
    for (int k = 0; k < o->tokens && !s; k++) {
        size_t start = n > (size_t)T ? n - (size_t)T : 0, len = n - start;
        for (size_t t = 0; t < (size_t)T; t++) tok[t] = t < len ? text[start + t] : 0;
        s = weft_exec_feed(m.ex, m.io.x, tok, WEFT_I32);
        if (!s && m.io.pos >= 0) s = weft_exec_feed(m.ex, m.io.pos, pos, WEFT_I32);
        if (!s) s = weft_exec_feed(m.ex, m.io.y, tgt, WEFT_I32);
        if (!s) s = weft_exec_run(m.ex, &ro);
        if (!s) s = weft_exec_read(m.ex, m.io.logits, logits);
        if (s) break;
        int c = len ? draw(logits + (len - 1) * (size_t)V, V, o->temperature, weft_rng_unit(key, (uint32_t)k)) : ' ';
        text[n++] = (uint8_t)c;
        fputc(c, stdout);
        fflush(stdout);
    }
    fputc('\n', stdout);
    free(text);
done:
    free(logits); free(tok); free(pos); free(tgt);
    weft_st_free(&ck);
    weft_compiled_free(&m);
    weft_store_free(&store);
    return s;
}

int weft_cmd_sample(int argc, char **argv)
{
    weft_opts o;
    bool help;
    weft_opts_defaults(&o);
    weft_status s = weft_opts_parse(&o, V_SAMPLE, argc, argv, &help);
    if (help) { weft_opts_usage(stdout, "sample", V_SAMPLE, summary); return 0; }
    if (!s) s = weft_sample_text(&o);
    if (s) { fprintf(stderr, "weft sample: %s\n", weft_errmsg()); return weft_exit_code(s); }
    return 0;
}
