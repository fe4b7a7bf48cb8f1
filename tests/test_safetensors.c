/* test_safetensors.c — safetensors round trips, hand-made malformed files
 * (each rejected with a message naming the problem), foreign layouts, and
 * writes that fail without leaving a file behind. */
#include "weft/io.h"

#include <dirent.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"




static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Entries of dir whose name contains ".tmp." (left-over temporaries). */
static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}


/* A hand-made file: header length hlen (or strlen(json) when hlen is
 * UINT64_MAX), the JSON, then ndata bytes of data. */
static void write_raw(const char *path, const char *json, uint64_t hlen, size_t ndata)
{
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    size_t jl = strlen(json);
    if (hlen == UINT64_MAX) hlen = jl;
    uint8_t l8[8];
    for (int i = 0; i < 8; i++) l8[i] = (uint8_t)(hlen >> (8 * i));
    fwrite(l8, 1, 8, f);
    fwrite(json, 1, jl, f);
    for (size_t i = 0; i < ndata; i++) fputc((int)(i & 0xFF), f);
    fclose(f);
}

static weft_st_tensor mk(const char *name, weft_dtype dt, int ndim, const int64_t *dims,
                         void *data, size_t nbytes)
{
    weft_st_tensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    t.dtype = dt;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++) t.dims[i] = dims[i];
    t.data = data;
    t.nbytes = nbytes;
    return t;
}

static void test_round_trip(void)
{
    uint8_t u8[5] = { 0, 1, 127, 200, 255 };
    float f32[6] = { 1.0f, -2.5f, 3.25f, 1e-30f, -0.0f, 65504.0f };
    uint16_t bf[4] = { 0x3F80, 0xC000, 0x7FC0, 0x0001 };
    int32_t i32[4] = { 0, -1, INT32_MAX, INT32_MIN };
    float scalar = 42.0f;
    int64_t d_u8[1] = { 5 }, d_f32[2] = { 2, 3 }, d_bf[1] = { 4 }, d_i32[2] = { 2, 2 },
            d_empty[2] = { 0, 3 };
    /* Odd-sized U8 first: the writer must still keep F32 data aligned. */
    weft_st_tensor ts[6] = {
        mk("bytes", WEFT_U8, 1, d_u8, u8, sizeof u8),
        mk("layer.0/w \"q\" \\ \xc3\xbc\n", WEFT_F32, 2, d_f32, f32, sizeof f32),
        mk("half", WEFT_BF16, 1, d_bf, bf, sizeof bf),
        mk("ints", WEFT_I32, 2, d_i32, i32, sizeof i32),
        mk("scalar", WEFT_F32, 0, NULL, &scalar, sizeof scalar),
        mk("empty", WEFT_F32, 2, d_empty, NULL, 0),
    };
    const char *meta[4] = { "format", "pt", "note", "step \"7\"\t\\ \xe2\x82\xac" };
    const char *p = test_tmp_path("rt.safetensors");
    weft_status s = weft_st_write(p, ts, 6, meta, 2);
    CHECK(s == WEFT_OK);
    if (s != WEFT_OK) { fprintf(stderr, "  %s\n", weft_errmsg()); return; }
    CHECK(count_temps(test_tmpdir()) == 0);

    /* The data section starts 8-byte aligned, the header padded with spaces. */
    size_t n;
    uint8_t *raw = test_read_all(p, &n);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)raw[i] << (8 * i);
    CHECK((8 + hlen) % 8 == 0);
    CHECK(8 + hlen + 5 + 24 + 8 + 16 + 4 == n);
    CHECK(raw[8] == '{' && (raw[8 + hlen - 1] == '}' || raw[8 + hlen - 1] == ' '));
    free(raw);

    weft_st_file f;
    s = weft_st_read(p, &f);
    CHECK(s == WEFT_OK);
    if (s != WEFT_OK) { fprintf(stderr, "  %s\n", weft_errmsg()); return; }
    CHECK(f.ntensors == 6);
    for (int i = 0; i < 6 && i < f.ntensors; i++) {
        const weft_st_tensor *t = &f.tensors[i], *w = &ts[i];
        CHECK(strcmp(t->name, w->name) == 0);   /* header order = given order */
        CHECK(t->dtype == w->dtype && t->ndim == w->ndim && t->nbytes == w->nbytes);
        CHECK(memcmp(t->dims, w->dims, sizeof(int64_t) * (size_t)w->ndim) == 0);
        CHECK(w->nbytes == 0 || memcmp(t->data, w->data, w->nbytes) == 0);
        size_t align = t->dtype == WEFT_U8 ? 1 : t->dtype == WEFT_BF16 ? 2 : 4;
        CHECK((uintptr_t)t->data % align == 0);
        CHECK(weft_st_find(&f, w->name) == t);
    }
    const weft_st_tensor *fl = weft_st_find(&f, ts[1].name);
    CHECK(fl && ((const float *)fl->data)[2] == 3.25f);
    CHECK(weft_st_find(&f, "nope") == NULL);
    CHECK(f.nmeta == 2);
    CHECK(weft_st_meta(&f, "format") && strcmp(weft_st_meta(&f, "format"), "pt") == 0);
    CHECK(weft_st_meta(&f, "note") && strcmp(weft_st_meta(&f, "note"), meta[3]) == 0);
    CHECK(weft_st_meta(&f, "absent") == NULL);
    weft_st_free(&f);
    CHECK(f.tensors == NULL && f.buffer == NULL);

    /* Overwrite in place; the reader sees the new file. Nothing at all. */
    s = weft_st_write(p, NULL, 0, NULL, 0);
    CHECK(s == WEFT_OK);
    s = weft_st_read(p, &f);
    CHECK(s == WEFT_OK && f.ntensors == 0 && f.nmeta == 0);
    weft_st_free(&f);
    raw = test_read_all(p, &n);
    CHECK(n == 16 && memcmp(raw + 8, "{}      ", 8) == 0);
    free(raw);
}

/* A file from elsewhere whose data section is not aligned: the reader copies
 * it so every tensor can be read in place as its type. */
static void test_foreign_layout(void)
{
    const char *p = test_tmp_path("odd.safetensors");
    /* Header of 31 bytes: data starts at byte 39. U8 [3] first, then F32 [2]
     * at offset 3 (absolute 42): misaligned both ways. Keys out of data order. */
    const char *json = "{\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[3,11]},"
                       "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}";
    FILE *fp = fopen(p, "wb");
    size_t jl = strlen(json);
    uint8_t l8[8] = { (uint8_t)jl };
    fwrite(l8, 1, 8, fp);
    fwrite(json, 1, jl, fp);
    uint8_t b[3] = { 9, 8, 7 };
    float v[2] = { 1.5f, -7.0f };
    fwrite(b, 1, 3, fp);
    fwrite(v, 1, 8, fp);
    fclose(fp);
    CHECK((8 + jl + 3) % 4 != 0);
    weft_st_file f;
    weft_status s = weft_st_read(p, &f);
    CHECK(s == WEFT_OK);
    if (s != WEFT_OK) { fprintf(stderr, "  %s\n", weft_errmsg()); return; }
    CHECK(f.ntensors == 2 && strcmp(f.tensors[0].name, "f") == 0);
    const weft_st_tensor *tf = weft_st_find(&f, "f"), *tb = weft_st_find(&f, "b");
    CHECK(tf && tb && (uintptr_t)tf->data % 4 == 0);
    if (tf && tb) {
        float got[2];
        memcpy(got, tf->data, 8);
        CHECK(got[0] == 1.5f && got[1] == -7.0f && ((const float *)tf->data)[1] == -7.0f);
        CHECK(memcmp(tb->data, b, 3) == 0);
    }
    weft_st_free(&f);

    /* Header padded with newlines and tabs, zero-size tensors sharing an offset. */
    p = test_tmp_path("ws.safetensors");
    write_raw(p, "{\"a\":{\"dtype\":\"I32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                 "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,0],\"data_offsets\":[0,0]},"
                 "\"c\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}} \n\t ", UINT64_MAX, 2);
    s = weft_st_read(p, &f);
    CHECK(s == WEFT_OK && f.ntensors == 3);
    if (s != WEFT_OK) fprintf(stderr, "  %s\n", weft_errmsg());
    weft_st_free(&f);
}

typedef struct {
    const char *file, *json;
    uint64_t hlen;       /* UINT64_MAX: the JSON's length */
    size_t ndata;
    const char *needle;  /* what the message must say */
} bad_case;

#define T1(name, dtype, shape, offs) "{\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offs "}}"

static const bad_case bad_cases[] = {
    { "short",      "",     0,          0, "too short for the 8-byte header length" },
    { "hlen_big",   "{}",   1000,       0, "header length 1000 is larger than the file" },
    { "hlen_huge",  "{}",   UINT64_MAX - 3, 0, "is larger than the file" },
    { "json",       "{\"a\":", UINT64_MAX, 0, "not valid JSON" },
    { "json_empty", "",     UINT64_MAX, 0, "not valid JSON" },
    { "json_array", "[]",   UINT64_MAX, 0, "not a JSON object" },
    { "junk",       "{} x", UINT64_MAX, 0, "junk after the JSON object" },
    { "nul",        "{}",   3,          1, "NUL byte" },
    { "utf8",       "{\"\xff\":{}}", UINT64_MAX, 0, "not valid UTF-8" },
    { "dtype_unknown", T1("w", "F99", "[1]", "[0,4]"), UINT64_MAX, 4, "tensor 'w': unknown dtype 'F99'" },
    { "dtype_f16",  T1("w", "F16", "[2]", "[0,4]"), UINT64_MAX, 4, "tensor 'w': unsupported dtype 'F16'" },
    { "dtype_num",  "{\"w\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}}", UINT64_MAX, 4, "tensor 'w': field 'dtype' is not a string" },
    { "dtype_missing", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", UINT64_MAX, 4, "tensor 'w': field 'dtype' is missing" },
    { "shape_neg",  T1("w", "F32", "[-1]", "[0,4]"), UINT64_MAX, 4, "tensor 'w': shape[0] is not a non-negative integer" },
    { "shape_frac", T1("w", "F32", "[1,1.5]", "[0,4]"), UINT64_MAX, 4, "tensor 'w': shape[1] is not a non-negative integer" },
    { "shape_str",  T1("w", "F32", "[\"1\"]", "[0,4]"), UINT64_MAX, 4, "tensor 'w': shape[0]" },
    { "shape_huge", T1("w", "F32", "[1e300]", "[0,4]"), UINT64_MAX, 4, "tensor 'w': shape[0]" },
    { "shape_obj",  T1("w", "F32", "{}", "[0,4]"), UINT64_MAX, 4, "tensor 'w': field 'shape' is not an array" },
    { "shape_9d",   T1("w", "F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), UINT64_MAX, 4, "tensor 'w': shape has 9 dimensions" },
    { "shape_ovf",  T1("w", "F32", "[4294967296,4294967296,4294967296]", "[0,4]"), UINT64_MAX, 4, "tensor 'w': data_offsets [0, 4] hold 4 bytes but a F32 tensor of this shape needs more than" },
    { "offs_rev",   T1("w", "U8", "[4]", "[8,4]"), UINT64_MAX, 8, "tensor 'w': data_offsets [8, 4] end before" },
    { "offs_out",   T1("w", "U8", "[4]", "[4,8]"), UINT64_MAX, 6, "tensor 'w': data_offsets [4, 8] are outside the data section (6 bytes)" },
    { "offs_size",  T1("w", "F32", "[2]", "[0,4]"), UINT64_MAX, 4, "tensor 'w': data_offsets [0, 4] hold 4 bytes but a F32 tensor of this shape needs 8" },
    { "offs_neg",   T1("w", "U8", "[4]", "[-4,0]"), UINT64_MAX, 4, "tensor 'w': data_offsets are not non-negative integers" },
    { "offs_one",   T1("w", "U8", "[4]", "[4]"), UINT64_MAX, 4, "tensor 'w': field 'data_offsets' is not an array of two" },
    { "offs_three", T1("w", "U8", "[4]", "[0,4,4]"), UINT64_MAX, 4, "tensor 'w': field 'data_offsets' is not an array of two" },
    { "offs_missing", "{\"w\":{\"dtype\":\"U8\",\"shape\":[4]}}", UINT64_MAX, 4, "tensor 'w': field 'data_offsets' is missing" },
    { "overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", UINT64_MAX, 12,
                 "tensor 'b': data_offsets [4, 12] overlap another tensor" },
    { "gap",     "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", UINT64_MAX, 12,
                 "tensor 'b': data_offsets [8, 12] leave a gap" },
    { "not_first", T1("w", "U8", "[4]", "[2,6]"), UINT64_MAX, 6, "tensor 'w': data_offsets [2, 6] leave a gap" },
    { "uncovered", T1("w", "U8", "[4]", "[0,4]"), UINT64_MAX, 8, "the data section has 8 bytes but the tensors cover 4" },
    { "dup",     "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                 "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", UINT64_MAX, 2,
                 "tensor 'a': duplicate name" },
    { "entry_num", "{\"w\":5}", UINT64_MAX, 0, "tensor 'w': entry is not a JSON object" },
    { "meta_num",  "{\"__metadata__\":{\"step\":7}}", UINT64_MAX, 0, "metadata 'step': value is not a string" },
    { "meta_arr",  "{\"__metadata__\":[]}", UINT64_MAX, 0, "field '__metadata__' is not a JSON object" },
    { "meta_dup",  "{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", UINT64_MAX, 0, "metadata 'k': duplicate key" },
    { "meta_twice", "{\"__metadata__\":{},\"__metadata__\":{}}", UINT64_MAX, 0, "'__metadata__' appears twice" },
    { "name_long", "{\"wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww"
                   "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}",
                   UINT64_MAX, 0, "name is longer than 127 bytes" },
};

static void test_malformed(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad_case *c = &bad_cases[i];
        char name[96];
        snprintf(name, sizeof name, "bad_%s.safetensors", c->file);
        const char *p = test_tmp_path(name);
        if (strcmp(c->file, "short") == 0) {
            FILE *f = fopen(p, "wb");
            fwrite("\x02\0\0\0", 1, 4, f);
            fclose(f);
        } else {
            write_raw(p, c->json, c->hlen, c->ndata);
        }
        weft_st_file f;
        weft_status s = weft_st_read(p, &f);
        test_check_err(s, WEFT_ERR_FORMAT, p, c->needle, __FILE__, __LINE__, c->file);
        CHECK(f.tensors == NULL && f.buffer == NULL && f.meta_keys == NULL);
    }
    weft_st_file f;
    const char *p = test_tmp_path("absent.safetensors");
    CHECK_ERR(weft_st_read(p, &f), WEFT_ERR_IO, p, "cannot open");

    /* Every truncation of a good file is rejected (or, at full length, read). */
    int64_t d[1] = { 3 };
    float v[3] = { 1, 2, 3 };
    weft_st_tensor t = mk("v", WEFT_F32, 1, d, v, sizeof v);
    const char *meta[2] = { "k", "v" };
    p = test_tmp_path("whole.safetensors");
    CHECK(weft_st_write(p, &t, 1, meta, 1) == WEFT_OK);
    size_t n;
    uint8_t *raw = test_read_all(p, &n);
    int rejected = 0;
    const char *q = test_tmp_path("cut.safetensors");
    for (size_t len = 0; len < n; len++) {
        FILE *fp = fopen(q, "wb");
        fwrite(raw, 1, len, fp);
        fclose(fp);
        weft_status s = weft_st_read(q, &f);
        rejected += s == WEFT_ERR_FORMAT && strstr(weft_errmsg(), q) != NULL;
        if (s == WEFT_OK) weft_st_free(&f);
    }
    CHECK(rejected == (int)n);
    free(raw);
}

static void test_write_errors(void)
{
    int64_t d[1] = { 2 };
    float v[2] = { 1, 2 };
    weft_st_tensor t = mk("v", WEFT_F32, 1, d, v, sizeof v);

    /* Into a directory that does not exist: an error and nothing left. */
    const char *p = test_tmp_path("no/such/dir/x.safetensors");
    CHECK_ERR(weft_st_write(p, &t, 1, NULL, 0), WEFT_ERR_IO, p, NULL);
    CHECK(!exists(p));
    CHECK(count_temps(test_tmpdir()) == 0);

    /* Onto a path that is a directory: the temporary is written, the rename
     * fails, and the temporary is removed. */
    const char *dir = test_tmp_path("adir");
    mkdir(dir, 0700);
    CHECK_ERR(weft_st_write(dir, &t, 1, NULL, 0), WEFT_ERR_IO, dir, NULL);
    CHECK(count_temps(test_tmpdir()) == 0);

    /* Bad arguments are refused before anything is created. */
    p = test_tmp_path("args.safetensors");
    weft_st_tensor bad = t;
    bad.nbytes = 4;
    CHECK_ERR(weft_st_write(p, &bad, 1, NULL, 0), WEFT_ERR_SHAPE, p, "tensor 'v': nbytes is 4");
    weft_st_tensor two[2] = { t, t };
    CHECK_ERR(weft_st_write(p, two, 2, NULL, 0), WEFT_ERR_ARG, p, "duplicate tensor name 'v'");
    weft_st_tensor md = mk("__metadata__", WEFT_F32, 1, d, v, sizeof v);
    CHECK_ERR(weft_st_write(p, &md, 1, NULL, 0), WEFT_ERR_ARG, p, "reserved");
    weft_st_tensor nd = t;
    nd.ndim = WEFT_ST_MAX_DIMS + 1;
    CHECK_ERR(weft_st_write(p, &nd, 1, NULL, 0), WEFT_ERR_ARG, p, "ndim 9");
    weft_st_tensor dt = t;
    dt.dtype = WEFT_DTYPE_COUNT;
    CHECK_ERR(weft_st_write(p, &dt, 1, NULL, 0), WEFT_ERR_ARG, p, "unknown dtype");
    const char *dupmeta[4] = { "k", "a", "k", "b" };
    CHECK_ERR(weft_st_write(p, &t, 1, dupmeta, 2), WEFT_ERR_ARG, p, "duplicate metadata key 'k'");
    const char *badutf[2] = { "k", "\xc0\xaf" };
    CHECK_ERR(weft_st_write(p, &t, 1, badutf, 1), WEFT_ERR_ARG, p, "not valid UTF-8");
    CHECK(!exists(p));
    CHECK(count_temps(test_tmpdir()) == 0);
}


int main(void)
{
    if (!test_tmpdir_make("st")) return 2;
    test_round_trip();
    test_foreign_layout();
    test_malformed();
    test_write_errors();
    test_tmpdir_remove();
    return test_summary();
}
