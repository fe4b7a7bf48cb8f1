/* safetensors.c — checkpoints in the safetensors format
 * (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
 * length N, N bytes of UTF-8 JSON (padded with spaces), then the tensor bytes.
 *
 * Reading trusts nothing: every field of the header is checked before any
 * tensor pointer is formed, and every error names the file and the tensor or
 * field at fault. Writing goes through weft_outfile, so a failed write leaves
 * no file behind. */
#include "weft/io.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Shapes and offsets arrive as JSON numbers (doubles in cJSON): beyond 2^53
 * they are no longer exact integers. */
#define ST_MAX_EXACT 9007199254740992.0

static const char *const st_dtype_names[WEFT_DTYPE_COUNT] = {
    [WEFT_F32] = "F32", [WEFT_BF16] = "BF16", [WEFT_I32] = "I32", [WEFT_U8] = "U8",
};
/* Bytes per element, here rather than from num so the format is explicit. */
static const size_t st_dtype_sizes[WEFT_DTYPE_COUNT] = {
    [WEFT_F32] = 4, [WEFT_BF16] = 2, [WEFT_I32] = 4, [WEFT_U8] = 1,
};
/* Valid safetensors dtypes that weft does not hold in memory. */
static const char *const st_other_dtypes[] = {
    "BOOL", "I8", "I16", "I64", "U16", "U32", "U64", "F16", "F64",
    "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64",
};

/* ---- shared helpers ----------------------------------------------------------- */

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
 * Returns the offset of the first bad byte, or len when all is well. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) k = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else return i;
        if (len - i <= k) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t j = 2; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return i;
        i += k + 1;
    }
    return len;
}

/* Elements of a shape, or false when the product overflows. */
static bool shape_elems(const int64_t *dims, int ndim, uint64_t *out)
{
    uint64_t p = 1;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)dims[i];
        if (d != 0 && p > (uint64_t)INT64_MAX / d) return false;
        p *= d;
    }
    *out = p;
    return true;
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct { char *p; size_t len, cap; bool oom; } strbuf;

static void sb_put(strbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) { b->oom = true; return; }
        b->p = np; b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_fmt(strbuf *b, const char *fmt, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, fmt, v);
    sb_put(b, tmp, (size_t)n);
}

/* A JSON string literal. Bytes >= 0x80 pass through (already checked to be
 * UTF-8); quotes, backslashes and control characters are escaped. */
static void sb_json_string(strbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"') sb_put(b, "\\\"", 2);
        else if (*p == '\\') sb_put(b, "\\\\", 2);
        else if (*p < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            sb_put(b, esc, 6);
        } else sb_put(b, (const char *)p, 1);
    }
    sb_put(b, "\"", 1);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks the caller's tensors and metadata before a byte is written. */
static weft_status st_check_args(const char *path, const weft_st_tensor *ts, int n,
                                 const char *const *meta, int nmeta)
{
    if (n < 0 || nmeta < 0 || (n > 0 && !ts) || (nmeta > 0 && !meta))
        return weft_fail(WEFT_ERR_ARG, "%s: bad tensor or metadata list (n=%d, nmeta=%d)",
                         path, n, nmeta);
    for (int i = 0; i < n; i++) {
        const weft_st_tensor *t = &ts[i];
        size_t len = strnlen(t->name, sizeof t->name);
        if (len == sizeof t->name)
            return weft_fail(WEFT_ERR_ARG, "%s: tensor %d: name is not NUL-terminated", path, i);
        if (utf8_check((const unsigned char *)t->name, len) != len)
            return weft_fail(WEFT_ERR_ARG, "%s: tensor %d: name is not valid UTF-8", path, i);
        if (strcmp(t->name, "__metadata__") == 0)
            return weft_fail(WEFT_ERR_ARG, "%s: tensor %d: the name '__metadata__' is reserved",
                             path, i);
        if ((unsigned)t->dtype >= WEFT_DTYPE_COUNT)
            return weft_fail(WEFT_ERR_ARG, "%s: tensor '%s': unknown dtype %d", path, t->name,
                             (int)t->dtype);
        if (t->ndim < 0 || t->ndim > WEFT_ST_MAX_DIMS)
            return weft_fail(WEFT_ERR_ARG, "%s: tensor '%s': ndim %d is outside 0..%d", path,
                             t->name, t->ndim, WEFT_ST_MAX_DIMS);
        for (int d = 0; d < t->ndim; d++)
            if (t->dims[d] < 0)
                return weft_fail(WEFT_ERR_ARG, "%s: tensor '%s': dimension %d is negative (%lld)",
                                 path, t->name, d, (long long)t->dims[d]);
        uint64_t elems;
        size_t es = st_dtype_sizes[t->dtype];
        if (!shape_elems(t->dims, t->ndim, &elems) || elems > SIZE_MAX / es)
            return weft_fail(WEFT_ERR_ARG, "%s: tensor '%s': shape is too large", path, t->name);
        if (t->nbytes != elems * es)
            return weft_fail(WEFT_ERR_SHAPE, "%s: tensor '%s': nbytes is %zu but the %s shape "
                             "holds %llu bytes", path, t->name, t->nbytes, st_dtype_names[t->dtype],
                             (unsigned long long)(elems * es));
        if (t->nbytes > 0 && !t->data)
            return weft_fail(WEFT_ERR_ARG, "%s: tensor '%s': no data", path, t->name);
    }
    for (int i = 0; i < 2 * nmeta; i++) {
        const char *s = meta[i];
        if (!s)
            return weft_fail(WEFT_ERR_ARG, "%s: metadata %s %d is NULL", path,
                             i % 2 ? "value" : "key", i / 2);
        size_t len = strlen(s);
        if (utf8_check((const unsigned char *)s, len) != len)
            return weft_fail(WEFT_ERR_ARG, "%s: metadata %s '%s' is not valid UTF-8", path,
                             i % 2 ? "value of" : "key", i % 2 ? meta[i - 1] : s);
    }

    /* Duplicates: sort copies of the name pointers. */
    int most = n > nmeta ? n : nmeta;
    const char **names = malloc((size_t)(most > 0 ? most : 1) * sizeof *names);
    if (!names) return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory", path);
    weft_status s = WEFT_OK;
    for (int pass = 0; pass < 2 && s == WEFT_OK; pass++) {
        int m = pass == 0 ? n : nmeta;
        for (int i = 0; i < m; i++) names[i] = pass == 0 ? ts[i].name : meta[2 * i];
        qsort(names, (size_t)m, sizeof *names, cmp_str_ptr);
        for (int i = 1; i < m; i++)
            if (strcmp(names[i - 1], names[i]) == 0) {
                s = weft_fail(WEFT_ERR_ARG, "%s: duplicate %s '%s'", path,
                              pass == 0 ? "tensor name" : "metadata key", names[i]);
                break;
            }
    }
    free(names);
    return s;
}

/* The data section is laid out widest element first (stable), like the
 * reference implementation: with the section itself 8-byte aligned, every
 * tensor then lands aligned to its element size, so readers need no copy.
 * The header lists the tensors in the caller's order. */
static void st_layout(const weft_st_tensor *ts, int n, int *order, uint64_t *begin)
{
    int k = 0;
    for (size_t width = 8; width >= 1; width /= 2)
        for (int i = 0; i < n; i++)
            if (st_dtype_sizes[ts[i].dtype] == width) order[k++] = i;
    uint64_t off = 0;
    for (int j = 0; j < n; j++) {
        begin[order[j]] = off;
        off += ts[order[j]].nbytes;
    }
}

static void st_header_json(strbuf *b, const weft_st_tensor *ts, int n, const uint64_t *begin,
                           const char *const *meta, int nmeta)
{
    sb_str(b, "{");
    bool first = true;
    if (nmeta > 0) {
        sb_str(b, "\"__metadata__\":{");
        for (int i = 0; i < nmeta; i++) {
            if (i) sb_str(b, ",");
            sb_json_string(b, meta[2 * i]);
            sb_str(b, ":");
            sb_json_string(b, meta[2 * i + 1]);
        }
        sb_str(b, "}");
        first = false;
    }
    for (int i = 0; i < n; i++) {
        const weft_st_tensor *t = &ts[i];
        if (!first) sb_str(b, ",");
        first = false;
        sb_json_string(b, t->name);
        sb_str(b, ":{\"dtype\":\"");
        sb_str(b, st_dtype_names[t->dtype]);
        sb_str(b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) sb_fmt(b, d ? ",%lld" : "%lld", (long long)t->dims[d]);
        sb_fmt(b, "],\"data_offsets\":[%lld", (long long)begin[i]);
        sb_fmt(b, ",%lld]}", (long long)(begin[i] + t->nbytes));
    }
    sb_str(b, "}");
    /* Spaces so that the data section (8 + N) starts 8-byte aligned. */
    while (!b->oom && (8 + b->len) % 8 != 0) sb_str(b, " ");
}

weft_status weft_st_write(const char *path, const weft_st_tensor *ts, int n,
                          const char *const *meta, int nmeta)
{
    WEFT_TRY(st_check_args(path, ts, n, meta, nmeta));
    size_t cnt = (size_t)(n > 0 ? n : 1);
    int *order = malloc(cnt * sizeof *order);
    uint64_t *begin = malloc(cnt * sizeof *begin);
    strbuf hb = {0};
    weft_status s = WEFT_OK;
    if (!order || !begin) {
        s = weft_fail(WEFT_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    st_layout(ts, n, order, begin);
    st_header_json(&hb, ts, n, begin, meta, nmeta);
    if (hb.oom) {
        s = weft_fail(WEFT_ERR_NOMEM, "%s: out of memory building the header", path);
        goto done;
    }

    weft_outfile o;
    s = weft_outfile_open(&o, path);
    if (s != WEFT_OK) goto done;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hb.len >> (8 * i));
    bool ok = fwrite(len8, 1, 8, o.f) == 8 && fwrite(hb.p, 1, hb.len, o.f) == hb.len;
    for (int j = 0; ok && j < n; j++) {
        const weft_st_tensor *t = &ts[order[j]];
        ok = t->nbytes == 0 || fwrite(t->data, 1, t->nbytes, o.f) == t->nbytes;
    }
    if (!ok) {
        s = weft_fail(WEFT_ERR_IO, "%s: write failed", path);
        weft_outfile_abort(&o);
        goto done;
    }
    s = weft_outfile_commit(&o);
done:
    free(order);
    free(begin);
    free(hb.p);
    return s;
}

/* ---- reading ------------------------------------------------------------------ */

/* A JSON number that is an exact integer in [0, 2^53]. */
static bool json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d <= ST_MAX_EXACT) || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
}

static weft_status st_parse_dtype(const char *path, const char *name, const cJSON *v,
                                  weft_dtype *out)
{
    if (!cJSON_IsString(v))
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': field 'dtype' is %s",
                         path, name, v ? "not a string" : "missing");
    for (int d = 0; d < WEFT_DTYPE_COUNT; d++)
        if (strcmp(v->valuestring, st_dtype_names[d]) == 0) {
            *out = (weft_dtype)d;
            return WEFT_OK;
        }
    for (size_t i = 0; i < sizeof st_other_dtypes / sizeof *st_other_dtypes; i++)
        if (strcmp(v->valuestring, st_other_dtypes[i]) == 0)
            return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': unsupported dtype '%s' "
                             "(weft reads F32, BF16, I32 and U8)", path, name, v->valuestring);
    return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", path, name,
                     v->valuestring);
}

static weft_status st_parse_shape(const char *path, weft_st_tensor *t, const cJSON *v)
{
    if (!cJSON_IsArray(v))
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': field 'shape' is %s",
                         path, t->name, v ? "not an array" : "missing");
    int nd = cJSON_GetArraySize(v);
    if (nd > WEFT_ST_MAX_DIMS)
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': shape has %d dimensions "
                         "(at most %d are supported)", path, t->name, nd, WEFT_ST_MAX_DIMS);
    int d = 0;
    for (const cJSON *e = v->child; e; e = e->next, d++) {
        uint64_t u;
        if (!json_uint(e, &u))
            return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a "
                             "non-negative integer", path, t->name, d);
        t->dims[d] = (int64_t)u;
    }
    t->ndim = nd;
    return WEFT_OK;
}

static weft_status st_parse_tensor(const char *path, const cJSON *item, weft_st_tensor *t,
                                   uint64_t *begin, uint64_t data_len)
{
    const char *name = item->string;
    size_t len = strlen(name);
    if (len >= sizeof t->name)
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%.40s...': name is longer than %zu bytes",
                         path, name, sizeof t->name - 1);
    memcpy(t->name, name, len + 1);
    if (!cJSON_IsObject(item))
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", path, name);
    WEFT_TRY(st_parse_dtype(path, name, cJSON_GetObjectItemCaseSensitive(item, "dtype"), &t->dtype));
    WEFT_TRY(st_parse_shape(path, t, cJSON_GetObjectItemCaseSensitive(item, "shape")));

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': field 'data_offsets' is %s", path, name,
                         !off ? "missing" : "not an array of two integers [begin, end]");
    uint64_t b, e;
    if (!json_uint(off->child, &b) || !json_uint(off->child->next, &e))
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': data_offsets are not non-negative "
                         "integers", path, name);
    if (e < b)
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before "
                         "they begin", path, name, (unsigned long long)b, (unsigned long long)e);
    if (e > data_len)
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] are outside "
                         "the data section (%llu bytes)", path, name, (unsigned long long)b,
                         (unsigned long long)e, (unsigned long long)data_len);
    uint64_t elems, es = st_dtype_sizes[t->dtype];
    bool huge = !shape_elems(t->dims, t->ndim, &elems) || elems > (uint64_t)INT64_MAX / es;
    if (huge)
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu "
                         "bytes but a %s tensor of this shape needs more than 2^63", path, name,
                         (unsigned long long)b, (unsigned long long)e, (unsigned long long)(e - b),
                         st_dtype_names[t->dtype]);
    if (elems * es != e - b)
        return weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu "
                         "bytes but a %s tensor of this shape needs %llu", path, name,
                         (unsigned long long)b, (unsigned long long)e, (unsigned long long)(e - b),
                         st_dtype_names[t->dtype], (unsigned long long)(elems * es));
    t->nbytes = (size_t)(e - b);
    *begin = b;
    return WEFT_OK;
}

static weft_status st_parse_meta(const char *path, const cJSON *m, weft_st_file *f)
{
    if (!cJSON_IsObject(m))
        return weft_fail(WEFT_ERR_FORMAT, "%s: field '__metadata__' is not a JSON object", path);
    int n = cJSON_GetArraySize(m);
    f->meta_keys = calloc((size_t)(n > 0 ? n : 1), sizeof *f->meta_keys);
    f->meta_vals = calloc((size_t)(n > 0 ? n : 1), sizeof *f->meta_vals);
    if (!f->meta_keys || !f->meta_vals)
        return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory for metadata", path);
    for (const cJSON *e = m->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return weft_fail(WEFT_ERR_FORMAT, "%s: metadata '%s': value is not a string", path,
                             e->string);
        for (int i = 0; i < f->nmeta; i++)
            if (strcmp(f->meta_keys[i], e->string) == 0)
                return weft_fail(WEFT_ERR_FORMAT, "%s: metadata '%s': duplicate key", path,
                                 e->string);
        char *k = strdup(e->string), *v = strdup(e->valuestring);
        if (!k || !v) {
            free(k); free(v);
            return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory for metadata", path);
        }
        f->meta_keys[f->nmeta] = k;
        f->meta_vals[f->nmeta] = v;
        f->nmeta++;
    }
    return WEFT_OK;
}

typedef struct { uint64_t begin, end; int i; } st_span;

static int cmp_span(const void *a, const void *b)
{
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->i - y->i;
}

typedef struct { const char *name; int i; } st_named;

static int cmp_named(const void *a, const void *b)
{
    const st_named *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->i - y->i;
}

/* Names are unique; spans, in offset order, tile the data section exactly. */
static weft_status st_check_layout(const char *path, const weft_st_file *f, const uint64_t *begin,
                                   uint64_t data_len)
{
    int n = f->ntensors;
    size_t cnt = (size_t)(n > 0 ? n : 1);
    st_named *names = malloc(cnt * sizeof *names);
    st_span *spans = malloc(cnt * sizeof *spans);
    weft_status s = WEFT_OK;
    if (!names || !spans) {
        s = weft_fail(WEFT_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        names[i] = (st_named){ f->tensors[i].name, i };
        spans[i] = (st_span){ begin[i], begin[i] + f->tensors[i].nbytes, i };
    }
    qsort(names, cnt, sizeof *names, cmp_named);
    for (int i = 1; i < n; i++)
        if (strcmp(names[i - 1].name, names[i].name) == 0) {
            s = weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': duplicate name", path, names[i].name);
            goto done;
        }
    qsort(spans, cnt, sizeof *spans, cmp_span);
    uint64_t at = 0;
    for (int k = 0; k < n; k++) {
        const st_span *sp = &spans[k];
        if (sp->begin != at) {
            char where[64];
            if (k == 0) snprintf(where, sizeof where, "at the start of the data section");
            else snprintf(where, sizeof where, "(the previous tensor ends at %llu)",
                          (unsigned long long)at);
            s = weft_fail(WEFT_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] %s %s",
                          path, f->tensors[sp->i].name, (unsigned long long)sp->begin,
                          (unsigned long long)sp->end,
                          sp->begin < at ? "overlap another tensor" : "leave a gap", where);
            goto done;
        }
        at = sp->end;
    }
    if (at != data_len)
        s = weft_fail(WEFT_ERR_FORMAT, "%s: the data section has %llu bytes but the tensors "
                      "cover %llu", path, (unsigned long long)data_len, (unsigned long long)at);
done:
    free(names);
    free(spans);
    return s;
}

/* Points every tensor into the data section, copying the section into an
 * aligned buffer when a foreign file left some tensor misaligned for its
 * element type. Takes ownership of buf. */
static weft_status st_place(const char *path, weft_st_file *f, char *buf, const uint64_t *begin,
                            const char *data)
{
    bool aligned = true;
    for (int i = 0; i < f->ntensors; i++)
        if ((uintptr_t)(data + begin[i]) % st_dtype_sizes[f->tensors[i].dtype] != 0) aligned = false;
    if (aligned) {
        for (int i = 0; i < f->ntensors; i++) f->tensors[i].data = (void *)(data + begin[i]);
        f->buffer = buf;
        return WEFT_OK;
    }
    size_t total = 0;
    for (int i = 0; i < f->ntensors; i++) total += (f->tensors[i].nbytes + 63) & ~(size_t)63;
    /* aligned_alloc, like weft_read_file's malloc, is released by free(). */
    char *nb = aligned_alloc(64, total > 0 ? total : 64);
    if (!nb) {
        free(buf);
        return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory realigning tensors", path);
    }
    size_t at = 0;
    for (int i = 0; i < f->ntensors; i++) {
        weft_st_tensor *t = &f->tensors[i];
        memcpy(nb + at, data + begin[i], t->nbytes);
        t->data = nb + at;
        at += (t->nbytes + 63) & ~(size_t)63;
    }
    free(buf);
    f->buffer = nb;
    return WEFT_OK;
}

static weft_status st_parse(const char *path, char *buf, size_t size, weft_st_file *f,
                            cJSON **root_out, uint64_t **begin_out)
{
    if (size < 8)
        return weft_fail(WEFT_ERR_FORMAT, "%s: file is %zu bytes, too short for the 8-byte header "
                         "length", path, size);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)(uint8_t)buf[i] << (8 * i);
    if (hlen > size - 8)
        return weft_fail(WEFT_ERR_FORMAT, "%s: header length %llu is larger than the file "
                         "(%zu bytes after the length)", path, (unsigned long long)hlen, size - 8);
    const char *hdr = buf + 8;
    size_t bad = utf8_check((const unsigned char *)hdr, (size_t)hlen);
    if (bad != hlen)
        return weft_fail(WEFT_ERR_FORMAT, "%s: header is not valid UTF-8 (byte %zu)", path, bad);
    if (memchr(hdr, 0, (size_t)hlen))
        return weft_fail(WEFT_ERR_FORMAT, "%s: header contains a NUL byte", path);

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!root) {
        size_t at = end && end >= hdr && end <= hdr + hlen ? (size_t)(end - hdr) : 0;
        return weft_fail(WEFT_ERR_FORMAT, "%s: header is not valid JSON (near byte %zu of %llu)",
                         path, at, (unsigned long long)hlen);
    }
    *root_out = root;
    for (const char *p = end; p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return weft_fail(WEFT_ERR_FORMAT, "%s: header has junk after the JSON object "
                             "(byte %zu)", path, (size_t)(p - hdr));
    if (!cJSON_IsObject(root))
        return weft_fail(WEFT_ERR_FORMAT, "%s: header is not a JSON object", path);

    int n = 0;
    const cJSON *meta = NULL;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") != 0) { n++; continue; }
        if (meta) return weft_fail(WEFT_ERR_FORMAT, "%s: field '__metadata__' appears twice", path);
        meta = e;
    }
    uint64_t data_len = size - 8 - hlen;
    f->tensors = calloc((size_t)(n > 0 ? n : 1), sizeof *f->tensors);
    uint64_t *begin = calloc((size_t)(n > 0 ? n : 1), sizeof *begin);
    *begin_out = begin;
    if (!f->tensors || !begin) return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory", path);
    for (const cJSON *e = root->child; e; e = e->next) {
        if (e == meta) continue;
        WEFT_TRY(st_parse_tensor(path, e, &f->tensors[f->ntensors], &begin[f->ntensors], data_len));
        f->ntensors++;
    }
    if (meta) WEFT_TRY(st_parse_meta(path, meta, f));
    WEFT_TRY(st_check_layout(path, f, begin, data_len));
    return WEFT_OK;
}

weft_status weft_st_read(const char *path, weft_st_file *out)
{
    memset(out, 0, sizeof *out);
    char *buf;
    size_t size;
    WEFT_TRY(weft_read_file(path, &buf, &size));
    cJSON *root = NULL;
    uint64_t *begin = NULL;
    weft_status s = st_parse(path, buf, size, out, &root, &begin);
    cJSON_Delete(root);
    if (s == WEFT_OK) {
        /* st_parse checked that 8 + header length lies inside the file. */
        uint64_t hlen = 0;
        for (int i = 0; i < 8; i++) hlen |= (uint64_t)(uint8_t)buf[i] << (8 * i);
        s = st_place(path, out, buf, begin, buf + 8 + hlen);
        buf = NULL;                       /* st_place took it */
    }
    free(begin);
    if (s != WEFT_OK) {
        free(buf);
        weft_st_free(out);
    }
    return s;
}

const weft_st_tensor *weft_st_find(const weft_st_file *f, const char *name)
{
    for (int i = 0; i < f->ntensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *weft_st_meta(const weft_st_file *f, const char *key)
{
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

void weft_st_free(weft_st_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->tensors);
    free(f->buffer);
    memset(f, 0, sizeof *f);
}
