/* infer.c — `weft infer --onnx model.onnx --input x.npy`: an imported model
 * run forward by exec on an input file; its output printed (and written as
 * .npy with -o), with the time it took. */
#include "cli/cli.h"
#include "weft/exec.h"
#include "weft/onnx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *summary =
    "usage: weft infer --onnx MODEL.onnx --input X.npy [-o Y.npy] [--threads N] [--json]\n\n"
    "Imports an ONNX model (weft import says what it reads) and runs it forward on the input: a\n"
    ".npy file of float32, or of int64/int32 token ids (its shape sets the batch), or raw\n"
    "little-endian float32 (the batch is its size over one sample's). Prints each output's shape,\n"
    "its first values and, for 2-D outputs, each row's largest entry; -o writes the first output as\n"
    ".npy. The time is the forward pass alone (the median of 5 runs after a warm-up).";

/* A .npy in C order: its shape and numbers (NPY format 1.0/2.0), float32,
 * or token ids as int64 or int32 (*ints: their width in bytes, else 0). */
static weft_status read_npy(const char *path, const char *data, size_t n, int64_t *shape, int *ndim, const float **x,
                            int64_t *count, int *ints)
{
    if (n < 12 || memcmp(data, "\x93NUMPY", 6))
        return weft_fail(WEFT_ERR_FORMAT, "--input %s: not a .npy file", path);
    size_t hl = data[6] == 1 ? (size_t)(uint8_t)data[8] | (size_t)(uint8_t)data[9] << 8
                             : (size_t)(uint8_t)data[8] | (size_t)(uint8_t)data[9] << 8 | (size_t)(uint8_t)data[10] << 16;
    size_t off = data[6] == 1 ? 10 : 12;
    if (off + hl > n) return weft_fail(WEFT_ERR_FORMAT, "--input %s: its header runs past the end", path);
    char hdr[1024];
    size_t m = hl < sizeof hdr - 1 ? hl : sizeof hdr - 1;
    memcpy(hdr, data + off, m);
    hdr[m] = 0;
    *ints = strstr(hdr, "'<i8'") ? 8 : strstr(hdr, "'<i4'") ? 4 : 0;
    if (!*ints && !strstr(hdr, "'<f4'"))
        return weft_fail(WEFT_ERR_FORMAT, "--input %s: not little-endian float32 ('<f4'), int64 or int32 ids", path);
    if (strstr(hdr, "'fortran_order': True")) return weft_fail(WEFT_ERR_FORMAT, "--input %s: Fortran order", path);
    const char *p = strstr(hdr, "'shape':");
    p = p ? strchr(p, '(') : NULL;
    if (!p) return weft_fail(WEFT_ERR_FORMAT, "--input %s: no shape in its header", path);
    *ndim = 0;
    int64_t total = 1;
    for (p++; *p && *p != ')';) {
        char *end;
        long long d = strtoll(p, &end, 10);
        if (end == p) { p++; continue; }
        if (*ndim == WEFT_MAX_DIMS || d < 0 || (d > 0 && total > INT64_MAX / d))
            return weft_fail(WEFT_ERR_FORMAT, "--input %s: its shape", path);
        shape[(*ndim)++] = d;
        total *= d;
        p = end;
    }
    if (off + hl + (size_t)total * (size_t)(*ints ? *ints : 4) > n)
        return weft_fail(WEFT_ERR_FORMAT, "--input %s: %lld numbers declared, the file is shorter", path, (long long)total);
    *x = (const float *)(data + off + hl);
    *count = total;
    return WEFT_OK;
}

static weft_status write_npy(const char *path, const float *y, const weft_shape *s)
{
    char hdr[256], shp[160] = "";
    for (int d = 0; d < s->ndim; d++)
        snprintf(shp + strlen(shp), sizeof shp - strlen(shp), "%lld%s", (long long)s->d[d], s->ndim == 1 || d + 1 < s->ndim ? "," : "");
    int len = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shp);
    int total = 10 + len + 1, pad = (64 - total % 64) % 64;
    weft_outfile of;
    WEFT_TRY(weft_outfile_open(&of, path));
    uint16_t hl = (uint16_t)(len + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, of.f);
    fputc(hl & 0xff, of.f);
    fputc(hl >> 8, of.f);
    fwrite(hdr, 1, (size_t)len, of.f);
    for (int i = 0; i < pad; i++) fputc(' ', of.f);
    fputc('\n', of.f);
    fwrite(y, sizeof *y, (size_t)weft_shape_numel(s), of.f);
    return weft_outfile_commit(&of);
}

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int weft_cmd_infer(int argc, char **argv)
{
    weft_opts o;
    weft_opts_defaults(&o);
    bool help;
    weft_status s = weft_opts_parse(&o, V_INFER, argc, argv, &help);
    if (help) { weft_opts_usage(stdout, "infer", V_INFER, summary); return 0; }
    if (!s && !o.onnx) s = weft_fail(WEFT_ERR_ARG, "--onnx: which model? (weft infer --onnx MODEL.onnx --input X.npy)");
    if (!s && !o.input) s = weft_fail(WEFT_ERR_ARG, "--input: which input? (a .npy of float32, or raw float32)");
    char *data = NULL;
    size_t n = 0;
    if (!s) s = weft_read_file(o.input, &data, &n);
    int64_t shape[WEFT_MAX_DIMS];
    int ndim = 0;
    const float *x = NULL;
    int64_t count = 0;
    bool npy = !s && n >= 6 && !memcmp(data, "\x93NUMPY", 6);
    int ints = 0;
    if (!s && npy) s = read_npy(o.input, data, n, shape, &ndim, &x, &count, &ints);
    else if (!s) { x = (const float *)data; count = (int64_t)(n / 4); }
    /* the batch: a .npy's first dimension; raw: its size over one sample's */
    weft_onnx m = { 0 };
    int batch = npy && ndim ? (int)shape[0] : 1;   /* raw: found from the model's sample below */
    if (!s) s = weft_onnx_import(o.onnx, batch, &m);
    if (!s && m.ninputs != 1) s = weft_fail(WEFT_ERR_ARG, "--onnx %s: %d inputs; weft infer feeds one", o.onnx, m.ninputs);
    if (!s && !npy) {   /* raw: imported for one sample, again for the whole batch */
        int64_t per = weft_shape_numel(&m.g->values[m.inputs[0]].shape);
        if (per > 0 && count % per == 0) batch = (int)(count / per);
        else s = weft_fail(WEFT_ERR_SHAPE, "--input %s: %lld floats is not a whole number of samples of %lld", o.input,
                           (long long)count, (long long)per);
        if (!s && batch != 1) { weft_onnx_free(&m); s = weft_onnx_import(o.onnx, batch, &m); }
    }
    if (!s) {
        if (!s && weft_shape_numel(&m.g->values[m.inputs[0]].shape) != count)
            s = weft_fail(WEFT_ERR_SHAPE, "--input %s: %lld numbers; the model's input %s takes %lld", o.input,
                          (long long)count, m.g->values[m.inputs[0]].name,
                          (long long)weft_shape_numel(&m.g->values[m.inputs[0]].shape));
    }
    weft_store st;
    weft_store_init(&st);
    weft_exec *ex = NULL;
    if (!s) s = weft_pass_plan_memory(m.g);
    if (!s) s = weft_store_bind(&st, m.g, 0);
    if (!s) s = weft_onnx_fill_store(&m, &st);
    if (!s) s = weft_exec_create(&ex, m.g, &st, o.threads, 0);
    if (!s) {   /* token ids (an int .npy, or whole floats) for an integer input */
        bool ids = m.g->values[m.inputs[0]].dtype == WEFT_I32;
        int32_t *iv = ids || ints ? malloc((size_t)count * sizeof *iv + 4) : NULL;
        if ((ids || ints) && !iv) s = weft_fail(WEFT_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; iv && !s && i < count; i++) {
            int64_t v8 = 0;
            int32_t v4;
            if (ints == 8) memcpy(&v8, (const char *)x + 8 * i, 8);
            else if (ints == 4) { memcpy(&v4, (const char *)x + 4 * i, 4); v8 = v4; }
            else if (x[i] == x[i] && fabsf(x[i]) < 2147483648.0f) v8 = (int64_t)x[i];
            else v8 = INT64_MAX;   /* NaN or huge: refused below */
            if (v8 < INT32_MIN || v8 > INT32_MAX)
                s = weft_fail(WEFT_ERR_ARG, "--input %s: id %lld (number %lld) does not fit the model's ids", o.input,
                              (long long)v8, (long long)i);
            else iv[i] = (int32_t)v8;
        }
        if (!s && ints && !ids) s = weft_fail(WEFT_ERR_ARG, "--input %s: integers, but the model's input %s takes floats",
                                              o.input, m.g->values[m.inputs[0]].name);
        if (!s) s = ids ? weft_exec_feed(ex, m.inputs[0], iv, WEFT_I32) : weft_exec_feed(ex, m.inputs[0], x, WEFT_F32);
        free(iv);
    }
    double times[6];
    weft_run_opts ro = { .phases = WEFT_PHASE_FWD, .step = 1, .eval = true };
    for (int r = 0; r < 6 && !s; r++) {
        double t0 = weft_now();
        s = weft_exec_run(ex, &ro);
        times[r] = weft_now() - t0;
    }
    float *y = NULL;
    const weft_shape *ys = s ? NULL : &m.g->values[m.outputs[0]].shape;
    if (!s && !(y = malloc((size_t)weft_shape_numel(ys) * sizeof *y + 4))) s = weft_fail(WEFT_ERR_NOMEM, "out of memory");
    if (!s) s = weft_exec_read(ex, m.outputs[0], y);
    if (!s && o.out) s = write_npy(o.out, y, ys);
    if (!s) {
        qsort(times + 1, 5, sizeof *times, cmp_d);
        double med = times[3];
        FILE *out = stdout;
        int64_t ny = weft_shape_numel(ys);
        if (o.json) {
            fprintf(out, "{\"model\": ");
            weft_json_string(out, o.onnx);
            fprintf(out, ", \"batch\": %d, \"threads\": %d, \"seconds\": %.6g, \"output\": [", batch, o.threads, med);
            for (int64_t i = 0; i < ny && i < 4096; i++) fprintf(out, "%s%.8g", i ? ", " : "", (double)y[i]);
            fprintf(out, "]}\n");
        } else {
            fprintf(out, "%s on %s: batch %d, %.3f ms a forward pass (%d threads)\n", o.onnx, o.input, batch, 1e3 * med,
                    o.threads);
            fprintf(out, "  %s (", m.g->values[m.outputs[0]].name);
            for (int d = 0; d < ys->ndim; d++) fprintf(out, "%s%lld", d ? ", " : "", (long long)ys->d[d]);
            fprintf(out, "):");
            for (int64_t i = 0; i < ny && i < 8; i++) fprintf(out, " %.5g", (double)y[i]);
            fprintf(out, "%s\n", ny > 8 ? " ..." : "");
            if (ys->ndim == 2) {
                fprintf(out, "  largest entry per row:");
                for (int64_t r = 0; r < ys->d[0] && r < 32; r++) {
                    int64_t best = 0;
                    for (int64_t c = 1; c < ys->d[1]; c++) if (y[r * ys->d[1] + c] > y[r * ys->d[1] + best]) best = c;
                    fprintf(out, " %lld", (long long)best);
                }
                fprintf(out, "%s\n", ys->d[0] > 32 ? " ..." : "");
            }
            if (o.out) fprintf(out, "  written: %s\n", o.out);
        }
        if (fflush(out) || ferror(out)) s = weft_fail(WEFT_ERR_IO, "cannot write to the standard output");
    }
    free(y);
    weft_exec_free(ex);
    weft_store_free(&st);
    weft_onnx_free(&m);
    free(data);
    if (s) {
        fprintf(stderr, "weft infer: %s\n", weft_errmsg());
        return weft_exit_code(s);
    }
    return 0;
}
