/* test_data.c — IDX reading (good files and every kind of bad one),
 * Fashion-MNIST loading, epoch permutations and batch gathering. */
#include "weft/data.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "test_util.h"




/* Writes bytes as a plain file, or gzipped when the name ends in .gz. */
static void write_bytes(const char *path, const uint8_t *b, size_t n)
{
    size_t len = strlen(path);
    if (len > 3 && strcmp(path + len - 3, ".gz") == 0) {
        gzFile g = gzopen(path, "wb");
        if (!g) { perror(path); exit(2); }
        if (n && gzwrite(g, b, (unsigned)n) != (int)n) { fprintf(stderr, "gzwrite %s\n", path); exit(2); }
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f) { perror(path); exit(2); }
        if (n) fwrite(b, 1, n, f);
        fclose(f);
    }
}

/* An IDX file of unsigned bytes: header for dims[0..ndim), then `ndata`
 * bytes of data (value i % 251), so callers can write too few or too many. */
static void write_idx(const char *path, uint8_t type, int ndim, const uint32_t *dims, size_t ndata)
{
    size_t hl = 4 + 4 * (size_t)(ndim > 0 ? ndim : 0);
    uint8_t *b = malloc(hl + ndata + 1);
    b[0] = 0; b[1] = 0; b[2] = type; b[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        b[4 + 4 * i] = (uint8_t)(dims[i] >> 24); b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);  b[7 + 4 * i] = (uint8_t)dims[i];
    }
    for (size_t i = 0; i < ndata; i++) b[hl + i] = (uint8_t)(i % 251);
    write_bytes(path, b, hl + ndata);
    free(b);
}


static void test_idx_good(void)
{
    uint32_t dims[3] = { 3, 4, 5 };
    const char *names[2] = { "good.idx", "good.idx.gz" };
    for (int k = 0; k < 2; k++) {
        const char *p = test_tmp_path(names[k]);
        write_idx(p, 0x08, 3, dims, 60);
        weft_idx x;
        weft_status s = weft_idx_read(p, &x);
        CHECK(s == WEFT_OK);
        if (s != WEFT_OK) { fprintf(stderr, "  %s\n", weft_errmsg()); continue; }
        CHECK(x.ndim == 3);
        CHECK(x.dims[0] == 3 && x.dims[1] == 4 && x.dims[2] == 5);
        bool same = true;
        for (int i = 0; i < 60; i++) same &= x.data[i] == (uint8_t)i;
        CHECK(same);
        weft_idx_free(&x);
        CHECK(x.data == NULL);
    }
    /* 1-D and 4-D, and a body larger than zlib's buffers. */
    uint32_t d1[1] = { 70000 }, d4[4] = { 2, 3, 4, 5 };
    const char *p1 = test_tmp_path("one.gz"), *p4 = test_tmp_path("four");
    write_idx(p1, 0x08, 1, d1, 70000);
    write_idx(p4, 0x08, 4, d4, 120);
    weft_idx x;
    CHECK(weft_idx_read(p1, &x) == WEFT_OK && x.ndim == 1 && x.dims[0] == 70000 &&
          x.data[69999] == 69999 % 251);
    weft_idx_free(&x);
    CHECK(weft_idx_read(p4, &x) == WEFT_OK && x.ndim == 4 && x.dims[3] == 5 && x.data[119] == 119);
    weft_idx_free(&x);
}

static void test_idx_bad(void)
{
    weft_idx x;
    uint32_t dims[2] = { 3, 4 };
    const char *p;

    for (int gz = 0; gz < 2; gz++) {
        p = test_tmp_path(gz ? "trunc.gz" : "trunc");
        write_idx(p, 0x08, 2, dims, 11);
        CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "truncated: expected 12 bytes of data, got 11");
        CHECK(x.data == NULL);
        p = test_tmp_path(gz ? "extra.gz" : "extra");
        write_idx(p, 0x08, 2, dims, 13);
        CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "trailing data");
        p = test_tmp_path(gz ? "empty.gz" : "empty");
        write_bytes(p, NULL, 0);
        CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "empty file");
        p = test_tmp_path(gz ? "nodata.gz" : "nodata");
        write_idx(p, 0x08, 2, dims, 0);
        CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "expected 12 bytes of data, got 0");
    }

    p = test_tmp_path("magic");
    write_idx(p, 0x08, 2, dims, 12);
    { size_t n; uint8_t *b = test_read_all(p, &n); b[0] = 0x1f; write_bytes(p, b, n); free(b); }
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "wrong magic");
    p = test_tmp_path("type");
    write_idx(p, 0x0D, 2, dims, 12);
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "element type 0x0d");
    p = test_tmp_path("ndim0");
    write_idx(p, 0x08, 0, dims, 12);
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "number of dimensions 0");
    p = test_tmp_path("ndim5.gz");
    { uint32_t d5[5] = { 1, 1, 1, 1, 1 }; write_idx(p, 0x08, 5, d5, 1); }
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "number of dimensions 5");
    p = test_tmp_path("zerodim");
    { uint32_t dz[2] = { 3, 0 }; write_idx(p, 0x08, 2, dz, 0); }
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "dimension 1 of 2 is 0");
    p = test_tmp_path("overflow");
    { uint32_t dh[4] = { 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 2 }; write_idx(p, 0x08, 4, dh, 8); }
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "too large");
    /* A header claiming 2^62 bytes over an 8-byte body: an error, not an
     * attempt to allocate it. */
    p = test_tmp_path("huge");
    { uint32_t dh[2] = { 0x80000000u, 0x80000000u }; write_idx(p, 0x08, 2, dh, 8); }
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "truncated: expected 4611686018427387904 bytes of data, got 8");
    p = test_tmp_path("shorthdr");
    write_bytes(p, (const uint8_t *)"\0\0", 2);
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "truncated header");
    p = test_tmp_path("shortdims.gz");
    write_bytes(p, (const uint8_t *)"\0\0\x08\x02\0\0\0\x03\0\0", 10);
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "truncated header");

    p = test_tmp_path("missing.gz");
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_IO, p, "cannot open");
    p = test_tmpdir();   /* a directory: an error, whatever kind */
    weft_status s = weft_idx_read(p, &x);
    CHECK(s != WEFT_OK && strstr(weft_errmsg(), p));
}

/* Damaged gzip streams: bytes flipped in the middle, a bad CRC, a stream cut
 * short, a stream without its trailer. */
static void test_idx_gzip_corrupt(void)
{
    const char *good = test_tmp_path("big.gz");
    /* Incompressible-ish data makes the deflate stream long. */
    uint8_t *b = malloc(8 + 200000);
    memcpy(b, "\0\0\x08\x01\x00\x03\x0d\x40", 8);
    uint32_t z = 12345;
    for (int i = 0; i < 200000; i++) { z = z * 1103515245u + 12345u; b[8 + i] = (uint8_t)(z >> 24); }
    write_bytes(good, b, 8 + 200000);
    free(b);
    weft_idx x;
    CHECK(weft_idx_read(good, &x) == WEFT_OK && x.dims[0] == 200000);
    weft_idx_free(&x);

    size_t n;
    uint8_t *gzb = test_read_all(good, &n);
    const char *p = test_tmp_path("flipped.gz");
    uint8_t *c = malloc(n);
    memcpy(c, gzb, n);
    for (size_t i = n / 2; i < n / 2 + 16; i++) c[i] ^= 0xA5;
    FILE *f = fopen(p, "wb"); fwrite(c, 1, n, f); fclose(f);
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, NULL);
    CHECK(x.data == NULL);

    p = test_tmp_path("badcrc.gz");
    memcpy(c, gzb, n);
    c[n - 8] ^= 0xFF;       /* CRC32 of the trailer */
    f = fopen(p, "wb"); fwrite(c, 1, n, f); fclose(f);
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "gzip");

    p = test_tmp_path("cut.gz");
    f = fopen(p, "wb"); fwrite(gzb, 1, n / 2, f); fclose(f);
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "truncated: expected 200000 bytes of data");

    p = test_tmp_path("notrailer.gz");
    f = fopen(p, "wb"); fwrite(gzb, 1, n - 8, f); fclose(f);
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, "gzip");

    p = test_tmp_path("badheader.gz");
    memcpy(c, gzb, n);
    c[2] = 0x07;            /* compression method other than deflate */
    f = fopen(p, "wb"); fwrite(c, 1, n, f); fclose(f);
    CHECK_ERR(weft_idx_read(p, &x), WEFT_ERR_FORMAT, p, NULL);

    /* Every single-byte corruption at a spread of positions: an error or
     * (if the damage is invisible) the right data, never a crash. */
    int errors = 0, oks = 0;
    for (size_t i = 0; i < n; i += n / 97 + 1) {
        memcpy(c, gzb, n);
        c[i] ^= 0x5A;
        f = fopen(p, "wb"); fwrite(c, 1, n, f); fclose(f);
        weft_status s = weft_idx_read(p, &x);
        if (s == WEFT_OK) { oks++; weft_idx_free(&x); }
        else if (strstr(weft_errmsg(), p)) errors++;
    }
    CHECK(errors > 90 && errors + oks >= 97);
    free(c);
    free(gzb);
}

/* ---- Fashion-MNIST ------------------------------------------------------------ */

static void write_fake_fmnist(const char *dir, const char *split, uint32_t nimg, uint32_t rows,
                              uint32_t cols, uint32_t nlab, int img_ndim, uint8_t bad_label_at)
{
    char p[512];
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte.gz", dir, split);
    uint32_t d[3] = { nimg, rows, cols };
    if (img_ndim == 3) write_idx(p, 0x08, 3, d, (size_t)nimg * rows * cols);
    else { uint32_t d2[2] = { nimg, rows * cols }; write_idx(p, 0x08, 2, d2, (size_t)nimg * rows * cols); }
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    uint8_t *b = malloc(8 + nlab);
    memcpy(b, "\0\0\x08\x01", 4);
    b[4] = (uint8_t)(nlab >> 24); b[5] = (uint8_t)(nlab >> 16); b[6] = (uint8_t)(nlab >> 8); b[7] = (uint8_t)nlab;
    for (uint32_t i = 0; i < nlab; i++) b[8 + i] = (uint8_t)(i % 10);
    if (bad_label_at) b[8 + bad_label_at] = 10;
    write_bytes(p, b, 8 + nlab);
    free(b);
}

static void test_fmnist_fake(void)
{
    weft_dataset ds;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/fm_good", test_tmpdir());
    write_fake_fmnist(dir, "train", 3, 2, 3, 3, 3, 0);
    weft_status s = weft_fmnist_load(dir, "train", &ds);
    CHECK(s == WEFT_OK);
    if (s == WEFT_OK) {
        CHECK(ds.n == 3 && ds.rows == 2 && ds.cols == 3 && ds.nclasses == 10);
        bool ok = true;
        for (int i = 0; i < 18; i++) ok &= ds.images[i] == (float)i / 255.0f;
        CHECK(ok);
        CHECK(ds.labels[0] == 0 && ds.labels[1] == 1 && ds.labels[2] == 2);
        /* gather */
        int64_t idx[2] = { 2, 0 };
        float x[12];
        int32_t y[2];
        weft_dataset_gather(&ds, idx, 2, x, y);
        CHECK(y[0] == 2 && y[1] == 0);
        CHECK(x[0] == 12.0f / 255.0f && x[5] == 17.0f / 255.0f && x[6] == 0.0f && x[11] == 5.0f / 255.0f);
        weft_dataset_free(&ds);
        CHECK(ds.images == NULL && ds.labels == NULL);
    } else fprintf(stderr, "  %s\n", weft_errmsg());

    snprintf(dir, sizeof dir, "%s/fm_count", test_tmpdir());
    write_fake_fmnist(dir, "t10k", 5, 28, 28, 4, 3, 0);
    s = weft_fmnist_load(dir, "t10k", &ds);
    CHECK_ERR(s, WEFT_ERR_FORMAT, "t10k-images-idx3-ubyte.gz has 5 images", "t10k-labels-idx1-ubyte.gz has 4 labels");
    CHECK(ds.images == NULL);

    snprintf(dir, sizeof dir, "%s/fm_label", test_tmpdir());
    write_fake_fmnist(dir, "train", 6, 4, 4, 6, 3, 4);
    CHECK_ERR(weft_fmnist_load(dir, "train", &ds), WEFT_ERR_FORMAT, "train-labels-idx1-ubyte.gz",
              "label 10 at index 4");

    snprintf(dir, sizeof dir, "%s/fm_2d", test_tmpdir());
    write_fake_fmnist(dir, "train", 2, 4, 4, 2, 2, 0);
    CHECK_ERR(weft_fmnist_load(dir, "train", &ds), WEFT_ERR_FORMAT, "train-images-idx3-ubyte.gz",
              "3 dimensions");

    snprintf(dir, sizeof dir, "%s/fm_none", test_tmpdir());
    CHECK_ERR(weft_fmnist_load(dir, "train", &ds), WEFT_ERR_IO, "fm_none/train-images-idx3-ubyte.gz",
              "cannot open");
    snprintf(dir, sizeof dir, "%s/fm_good", test_tmpdir());
    CHECK_ERR(weft_fmnist_load(dir, "t10k", &ds), WEFT_ERR_IO, "fm_good/t10k-images", NULL);
    CHECK_ERR(weft_fmnist_load(dir, "test", &ds), WEFT_ERR_ARG, NULL, "'test'");
}

static void test_fmnist_real(void)
{
    struct stat st;
    if (stat(WEFT_FMNIST_DIR, &st) != 0) {
        printf("skip: %s not present\n", WEFT_FMNIST_DIR);
        return;
    }
    const char *splits[2] = { "train", "t10k" };
    const int64_t ns[2] = { 60000, 10000 };
    for (int k = 0; k < 2; k++) {
        weft_dataset ds;
        weft_status s = weft_fmnist_load(WEFT_FMNIST_DIR, splits[k], &ds);
        CHECK(s == WEFT_OK);
        if (s != WEFT_OK) { fprintf(stderr, "  %s\n", weft_errmsg()); continue; }
        CHECK(ds.n == ns[k] && ds.rows == 28 && ds.cols == 28 && ds.nclasses == 10);
        int64_t hist[10] = { 0 };
        bool labels_ok = true;
        for (int64_t i = 0; i < ds.n; i++) {
            if (ds.labels[i] < 0 || ds.labels[i] >= 10) { labels_ok = false; continue; }
            hist[ds.labels[i]]++;
        }
        CHECK(labels_ok);
        bool hist_ok = true;
        for (int c = 0; c < 10; c++) hist_ok &= hist[c] == ns[k] / 10;
        CHECK(hist_ok);
        float lo = 1e9f, hi = -1e9f;
        double sum = 0;
        for (int64_t i = 0; i < ds.n * 784; i++) {
            float v = ds.images[i];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
            sum += v;
        }
        CHECK(lo == 0.0f && hi == 1.0f);
        double mean = sum / (double)(ds.n * 784);
        CHECK(mean > 0.25 && mean < 0.32);   /* Fashion-MNIST's mean is about 0.286 */
        printf("fashion-mnist %s: n=%lld mean pixel %.4f\n", splits[k], (long long)ds.n, mean);
        weft_dataset_free(&ds);
    }
}

/* ---- permutations ------------------------------------------------------------- */

static bool is_perm(const int64_t *p, int64_t n)
{
    char *seen = calloc((size_t)n + 1, 1);
    bool ok = true;
    for (int64_t i = 0; i < n; i++) {
        if (p[i] < 0 || p[i] >= n || seen[p[i]]) { ok = false; break; }
        seen[p[i]] = 1;
    }
    free(seen);
    return ok;
}

static void test_permutation(void)
{
    enum { N = 1000 };
    static int64_t a[N], b[N], c[N], d[N];
    weft_dataset_permutation(N, 42, 0, a);
    weft_dataset_permutation(N, 42, 0, b);
    weft_dataset_permutation(N, 42, 1, c);
    weft_dataset_permutation(N, 43, 0, d);
    CHECK(is_perm(a, N) && is_perm(c, N) && is_perm(d, N));
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    CHECK(memcmp(a, d, sizeof a) != 0);
    int fixed = 0;
    for (int i = 0; i < N; i++) fixed += a[i] == i;
    CHECK(fixed < 10);   /* expected about 1 */

    int64_t one = -1;
    weft_dataset_permutation(1, 7, 3, &one);
    CHECK(one == 0);
    weft_dataset_permutation(0, 7, 3, NULL);   /* nothing to do, no crash */

    /* All 6 orders of 3 items equally often over many epochs. */
    int count[3][3][3] = { 0 };
    enum { EPOCHS = 12000 };
    for (int e = 0; e < EPOCHS; e++) {
        int64_t p[3];
        weft_dataset_permutation(3, 2024, e, p);
        count[p[0]][p[1]][p[2]]++;
    }
    int lo = EPOCHS, hi = 0, total = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) {
                if (i == j || j == k || i == k) { CHECK(count[i][j][k] == 0); continue; }
                total += count[i][j][k];
                if (count[i][j][k] < lo) lo = count[i][j][k];
                if (count[i][j][k] > hi) hi = count[i][j][k];
            }
    CHECK(total == EPOCHS);
    CHECK(lo > 1800 && hi < 2200);   /* 2000 +- 200 is over 5 sigma */

    /* Where element 0 lands in a list of 10: uniform. */
    int where[10] = { 0 };
    for (int e = 0; e < 10000; e++) {
        int64_t p[10];
        weft_dataset_permutation(10, 5, e, p);
        for (int i = 0; i < 10; i++) if (p[i] == 0) where[i]++;
    }
    bool flat = true;
    for (int i = 0; i < 10; i++) flat &= where[i] > 850 && where[i] < 1150;
    CHECK(flat);
}


int main(void)
{
    if (!test_tmpdir_make("data")) return 2;
    test_idx_good();
    test_idx_bad();
    test_idx_gzip_corrupt();
    test_fmnist_fake();
    test_fmnist_real();
    test_permutation();
    test_tmpdir_remove();
    return test_summary();
}
