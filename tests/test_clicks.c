/* test_clicks.c — click-through data: AUC and log loss against brute force,
 * the synthetic generator (determinism, shapes, Zipf ids, CTR, the known
 * best AUC), Criteo TSV writing and reading (plain and gzipped), and every
 * kind of malformed line. */
#include "weft/clicks.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "test_util.h"

#define ND WEFT_CLICKS_NDENSE
#define NS WEFT_CLICKS_NSPARSE



static void write_text(const char *path, const char *text, size_t n)
{
    size_t len = strlen(path);
    if (len > 3 && strcmp(path + len - 3, ".gz") == 0) {
        gzFile g = gzopen(path, "wb");
        if (!g) { perror(path); exit(2); }
        if (n && gzwrite(g, text, (unsigned)n) != (int)n) { fprintf(stderr, "gzwrite %s\n", path); exit(2); }
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f) { perror(path); exit(2); }
        if (n) fwrite(text, 1, n, f);
        fclose(f);
    }
}

/* A small config: few rows per table so the hidden model builds fast. */
static weft_clicks_cfg small_cfg(uint64_t seed, int64_t ntr, int64_t nva)
{
    weft_clicks_cfg c;
    weft_clicks_cfg_default(&c);
    c.seed = seed;
    c.n_train = ntr;
    c.n_val = nva;
    for (int t = 0; t < NS; t++) c.cards[t] = 1000 + 97 * t;
    return c;
}

static bool same_set(const weft_clicks *a, const weft_clicks *b)
{
    if (a->n != b->n) return false;
    if (a->n == 0) return true;
    return memcmp(a->dense, b->dense, (size_t)a->n * ND * sizeof(float)) == 0 &&
           memcmp(a->sparse, b->sparse, (size_t)a->n * NS * sizeof(int32_t)) == 0 &&
           memcmp(a->labels, b->labels, (size_t)a->n * sizeof(float)) == 0;
}

/* ---- metrics ------------------------------------------------------------------ */

static double auc_brute(const float *s, const float *y, int n)
{
    double num = 0;
    long P = 0, N = 0;
    for (int i = 0; i < n; i++) {
        if (y[i] > 0.5f) P++;
        else N++;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (y[i] > 0.5f && y[j] <= 0.5f) num += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
    return P && N ? num / ((double)P * (double)N) : NAN;
}

static void test_auc(void)
{
    weft_rng_key k = weft_rng_key_make(11, 0, 1);
    uint32_t idx = 0;
    bool all = true;
    for (int trial = 0; trial < 300; trial++) {
        int n = 2 + (int)(weft_rng_u32(k, idx++) % 80);
        int levels = 1 + (int)(weft_rng_u32(k, idx++) % 12);   /* few levels: many ties */
        float s[82], y[82];
        for (int i = 0; i < n; i++) {
            s[i] = (float)(weft_rng_u32(k, idx++) % (uint32_t)levels) - 3.0f;
            if (trial % 3 == 0) s[i] *= 0.37f;
            y[i] = (float)(weft_rng_u32(k, idx++) & 1);
        }
        double want = auc_brute(s, y, n), got = weft_auc(s, y, n);
        bool ok = isnan(want) ? isnan(got) : fabs(got - want) < 1e-12;
        if (!ok) fprintf(stderr, "auc trial %d: n %d got %.15g want %.15g\n", trial, n, got, want);
        all &= ok;
    }
    CHECK(all);

    float y[6] = { 0, 0, 0, 1, 1, 1 };
    float up[6] = { 1, 2, 3, 4, 5, 6 }, down[6] = { 6, 5, 4, 3, 2, 1 }, flat[6] = { 2, 2, 2, 2, 2, 2 };
    CHECK_NEAR(weft_auc(up, y, 6), 1.0, 0);
    CHECK_NEAR(weft_auc(down, y, 6), 0.0, 0);
    CHECK_NEAR(weft_auc(flat, y, 6), 0.5, 0);
    float zeros[2] = { -0.0f, 0.0f }, y01[2] = { 1, 0 };
    CHECK_NEAR(weft_auc(zeros, y01, 2), 0.5, 0);              /* -0 ties +0 */
    float neg[4] = { -5, -1e-30f, 1e-30f, 7 }, yn[4] = { 0, 0, 1, 1 };
    CHECK_NEAR(weft_auc(neg, yn, 4), 1.0, 0);                  /* sign handled in the key */
    float ones[3] = { 1, 1, 1 };
    CHECK(isnan(weft_auc(up, ones, 3)));                       /* no negatives */
    CHECK(isnan(weft_auc(up, y, 0)));
    float withnan[6] = { 1, 2, NAN, 4, 5, 6 };
    CHECK(isnan(weft_auc(withnan, y, 6)));

    float half[2] = { 0.5f, 0.5f }, yl[2] = { 1, 0 };
    CHECK_NEAR(weft_logloss(half, yl, 2), log(2.0), 1e-12);
    float sure[2] = { 0.0f, 1.0f };                            /* both wrong: clamped */
    CHECK_NEAR(weft_logloss(sure, yl, 2), -log(1e-7), 1e-6);
    CHECK(isnan(weft_logloss(half, yl, 0)));
}

/* ---- the generator -------------------------------------------------------------- */

static void test_synth_determinism(void)
{
    weft_clicks_cfg c = small_cfg(5, 3000, 1000);
    weft_clicks a, av, b, bv, d, dv, e, ev;
    CHECK_OK(weft_clicks_synth(&c, &a, &av));
    CHECK_OK(weft_clicks_synth(&c, &b, &bv));
    CHECK(same_set(&a, &b) && same_set(&av, &bv));
    CHECK(memcmp(a.prob, b.prob, (size_t)a.n * sizeof(float)) == 0);
    CHECK(a.truth.best_auc == b.truth.best_auc && av.truth.best_auc == bv.truth.best_auc);

    weft_clicks_cfg c2 = c;
    c2.seed = 6;
    CHECK_OK(weft_clicks_synth(&c2, &d, &dv));
    CHECK(!same_set(&a, &d) && !same_set(&av, &dv));
    int64_t diff = 0;
    for (int64_t i = 0; i < a.n * NS; i++) diff += a.sparse[i] != d.sparse[i];
    CHECKF(diff > a.n * NS / 4, "only %lld of %lld ids differ between seeds", (long long)diff,
           (long long)(a.n * NS));

    /* Example i is a function of (cfg, split, i): more training examples
     * extend the training split and leave the validation split alone. */
    weft_clicks_cfg c3 = c;
    c3.n_train = 5000;
    CHECK_OK(weft_clicks_synth(&c3, &e, &ev));
    CHECK(same_set(&av, &ev));
    weft_clicks pre;
    CHECK_OK(weft_clicks_slice(&e, 0, a.n, &pre));
    CHECK(same_set(&a, &pre));
    CHECK(pre.prob && memcmp(pre.prob, a.prob, (size_t)a.n * sizeof(float)) == 0);
    weft_clicks_free(&pre);

    weft_clicks_free(&a); weft_clicks_free(&av); weft_clicks_free(&b); weft_clicks_free(&bv);
    weft_clicks_free(&d); weft_clicks_free(&dv); weft_clicks_free(&e); weft_clicks_free(&ev);
}

static void test_synth_shapes(void)
{
    weft_clicks_cfg c = small_cfg(7, 4000, 777);
    c.cards[0] = 1;          /* a table of one row: every id is 0 */
    c.cards[25] = 3;
    weft_clicks tr, va;
    CHECK_OK(weft_clicks_synth(&c, &tr, &va));
    CHECK(tr.n == 4000 && va.n == 777);
    bool ids_ok = true, labels_ok = true, dense_ok = true, prob_ok = true;
    for (int s = 0; s < 2; s++) {
        const weft_clicks *x = s ? &va : &tr;
        CHECK(memcmp(x->cards, c.cards, sizeof c.cards) == 0);
        for (int64_t i = 0; i < x->n; i++) {
            for (int t = 0; t < NS; t++) {
                int32_t id = x->sparse[i * NS + t];
                ids_ok &= id >= 0 && id < c.cards[t];
            }
            labels_ok &= x->labels[i] == 0.0f || x->labels[i] == 1.0f;
            prob_ok &= x->prob[i] > 0.0f && x->prob[i] < 1.0f;
            for (int j = 0; j < ND; j++) {
                /* log(1 + count) of a whole count */
                double cnt = expm1((double)x->dense[i * ND + j]);
                dense_ok &= cnt >= -1e-6 && fabs(cnt - nearbyint(cnt)) < 1e-6 * (1 + cnt);
            }
        }
    }
    CHECK(ids_ok);
    CHECK(labels_ok);
    CHECK(dense_ok);
    CHECK(prob_ok);
    bool zero = true;
    for (int64_t i = 0; i < tr.n; i++) zero &= tr.sparse[i * NS] == 0;
    CHECK(zero);
    /* Some features are mostly zero, and some counts run into the hundreds. */
    int64_t zeros = 0;
    float mx = 0;
    for (int64_t i = 0; i < tr.n * ND; i++) {
        zeros += tr.dense[i] == 0;
        if (tr.dense[i] > mx) mx = tr.dense[i];
    }
    CHECKF(zeros > tr.n && zeros < tr.n * ND / 2, "%lld zero counts", (long long)zeros);
    CHECKF(mx > log(500.0), "largest dense value %g", mx);

    /* gather copies rows */
    int64_t idx[3] = { 5, 0, 3999 };
    float d[3 * ND], y[3];
    int32_t sp[3 * NS];
    weft_clicks_gather(&tr, idx, 3, d, sp, y);
    CHECK(memcmp(d + ND, tr.dense, ND * sizeof(float)) == 0);
    CHECK(memcmp(sp + 2 * NS, tr.sparse + 3999 * NS, NS * sizeof(int32_t)) == 0);
    CHECK(y[0] == tr.labels[5]);
    weft_clicks sl;
    CHECK_ERR(weft_clicks_slice(&tr, 3990, 20, &sl), WEFT_ERR_ARG, NULL, "outside the 4000");
    weft_clicks_free(&tr);
    weft_clicks_free(&va);

    /* Either split may be empty. */
    c.n_train = 0;
    CHECK_OK(weft_clicks_synth(&c, &tr, &va));
    CHECK(tr.n == 0 && tr.dense == NULL && isnan(tr.truth.best_auc) && va.n == 777);
    weft_clicks_free(&tr);
    weft_clicks_free(&va);
}

/* Ids follow Zipf's law: id r (rank r) has probability (r+1)^-s / H. */
static void test_synth_zipf(void)
{
    weft_clicks_cfg c = small_cfg(3, 40000, 0);
    for (int t = 0; t < NS; t++) c.cards[t] = 20000;
    weft_clicks tr, va;
    CHECK_OK(weft_clicks_synth(&c, &tr, &va));
    int64_t cnt[100] = { 0 }, n = tr.n * NS;
    for (int64_t i = 0; i < n; i++)
        if (tr.sparse[i] < 100) cnt[tr.sparse[i]]++;
    double H = 0;
    for (int r = c.cards[0] - 1; r >= 0; r--) H += pow(r + 1, -c.zipf_s);
    int ranks[4] = { 0, 1, 9, 99 };
    for (int k = 0; k < 4; k++) {
        int r = ranks[k];
        double p = pow(r + 1, -c.zipf_s) / H, sd = sqrt(p * (1 - p) / (double)n);
        CHECKF(fabs((double)cnt[r] / (double)n - p) < 5 * sd, "rank %d: frequency %g, Zipf says %g",
               r, (double)cnt[r] / (double)n, p);
    }
    /* The exponent read back from the top ids' frequencies. */
    double s_hat = log((double)cnt[0] / (double)cnt[9]) / log(10.0);
    CHECK_NEAR(s_hat, c.zipf_s, 0.02);
    weft_clicks_free(&tr);
    weft_clicks_free(&va);
}

/* The default model: CTR near its target and a best AUC in the documented
 * range, well above what the dense features alone allow. */
static void test_synth_truth(void)
{
    weft_clicks_cfg c;
    weft_clicks_cfg_default(&c);
    c.n_train = 100000;
    c.n_val = 100000;
    weft_clicks tr, va;
    CHECK_OK(weft_clicks_synth(&c, &tr, &va));
    CHECK(va.truth.known && tr.truth.known);
    CHECK_NEAR(va.ctr, c.ctr, 0.01);
    CHECK_NEAR(tr.ctr, c.ctr, 0.01);
    const weft_clicks_truth *t = &va.truth;
    CHECKF(t->best_auc >= 0.76 && t->best_auc <= 0.81, "best AUC %.4f", t->best_auc);
    CHECK_NEAR(t->best_auc, weft_auc(va.prob, va.labels, va.n), 0);
    CHECK_NEAR(t->best_logloss, weft_logloss(va.prob, va.labels, va.n), 0);
    /* A constant predictor at the base rate scores the label entropy. */
    double h = -(c.ctr * log(c.ctr) + (1 - c.ctr) * log(1 - c.ctr));
    CHECKF(t->best_logloss < h - 0.05, "best log loss %.4f vs constant %.4f", t->best_logloss, h);
    CHECKF(t->dense_auc > 0.55 && t->dense_auc < t->best_auc - 0.08, "dense AUC %.4f, best %.4f",
           t->dense_auc, t->best_auc);
    CHECKF(t->head_auc <= t->best_auc + 0.002 && t->head_auc > t->dense_auc, "head AUC %.4f",
           t->head_auc);
    /* No single dense feature, either way round, beats the dense part. */
    float *col = malloc((size_t)va.n * sizeof(float));
    double best1 = 0;
    for (int j = 0; j < ND; j++) {
        for (int64_t i = 0; i < va.n; i++) col[i] = va.dense[i * ND + j];
        double a = weft_auc(col, va.labels, va.n);
        if (fmax(a, 1 - a) > best1) best1 = fmax(a, 1 - a);
    }
    free(col);
    CHECKF(best1 < t->dense_auc + 0.005, "a single dense feature has AUC %.4f", best1);
    weft_clicks_free(&tr);
    weft_clicks_free(&va);
}

static void test_synth_bad_cfg(void)
{
    weft_clicks tr, va;
    weft_clicks_cfg c;
    weft_clicks_cfg_default(&c);
    c.n_train = -1;
    CHECK_ERR(weft_clicks_synth(&c, &tr, &va), WEFT_ERR_ARG, NULL, "n_train");
    weft_clicks_cfg_default(&c);
    c.n_val = INT64_C(1) << 32;
    CHECK_ERR(weft_clicks_synth(&c, &tr, &va), WEFT_ERR_ARG, NULL, "n_val");
    weft_clicks_cfg_default(&c);
    c.cards[3] = 0;
    CHECK_ERR(weft_clicks_synth(&c, &tr, &va), WEFT_ERR_ARG, NULL, "cards[3] (table C4)");
    weft_clicks_cfg_default(&c);
    c.zipf_s = -1;
    CHECK_ERR(weft_clicks_synth(&c, &tr, &va), WEFT_ERR_ARG, NULL, "zipf_s");
    weft_clicks_cfg_default(&c);
    c.ctr = 1;
    CHECK_ERR(weft_clicks_synth(&c, &tr, &va), WEFT_ERR_ARG, NULL, "ctr = 1");
    weft_clicks_cfg_default(&c);
    c.dense_scale = NAN;
    CHECK_ERR(weft_clicks_synth(&c, &tr, &va), WEFT_ERR_ARG, NULL, "dense_scale");
    weft_clicks_cfg_default(&c);
    c.effect_r0 = 0;
    CHECK_ERR(weft_clicks_synth(&c, &tr, &va), WEFT_ERR_ARG, NULL, "effect_r0");
    weft_clicks_cfg_default(&c);
    c.npairs = 14;
    CHECK_ERR(weft_clicks_synth(&c, &tr, &va), WEFT_ERR_ARG, NULL, "npairs");
    CHECK(tr.n == 0 && tr.dense == NULL && va.dense == NULL);
}

/* ---- Criteo files ------------------------------------------------------------- */

static void check_read_back(const weft_clicks *a, const weft_clicks *b)
{
    CHECK(a->n == b->n);
    if (a->n != b->n) return;
    CHECK(memcmp(a->sparse, b->sparse, (size_t)a->n * NS * sizeof(int32_t)) == 0);
    CHECK(memcmp(a->labels, b->labels, (size_t)a->n * sizeof(float)) == 0);
    double worst = 0;
    for (int64_t i = 0; i < a->n * ND; i++) {
        double d = fabs((double)a->dense[i] - (double)b->dense[i]);
        if (d > worst) worst = d;
    }
    CHECKF(worst <= 2e-6, "dense values differ by %g after the round trip", worst);
    CHECK_NEAR(a->ctr, b->ctr, 1e-12);
    CHECK(!b->truth.known && isnan(b->truth.best_auc) && b->prob == NULL);
}

static void test_criteo_round_trip(void)
{
    weft_clicks_cfg c = small_cfg(9, 2500, 0);
    weft_clicks tr, va, rd;
    CHECK_OK(weft_clicks_synth(&c, &tr, &va));
    int cards[NS];
    for (int t = 0; t < NS; t++) cards[t] = c.cards[t];

    const char *p = test_tmp_path("clicks.tsv"), *pz = test_tmp_path("clicks.tsv.gz");
    CHECK_OK(weft_clicks_write_criteo(p, &tr));
    CHECK_OK(weft_clicks_read_criteo(p, cards, 0, &rd));
    check_read_back(&tr, &rd);
    CHECK(memcmp(rd.cards, c.cards, sizeof rd.cards) == 0);
    weft_clicks_free(&rd);

    CHECK_OK(weft_clicks_write_criteo(pz, &tr));
    FILE *f = fopen(pz, "rb");
    unsigned char magic[2] = { 0, 0 };
    CHECK(f && fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b);
    if (f) fclose(f);
    CHECK_OK(weft_clicks_read_criteo(pz, cards, 0, &rd));
    check_read_back(&tr, &rd);
    weft_clicks_free(&rd);

    /* max_rows reads a prefix. */
    CHECK_OK(weft_clicks_read_criteo(pz, cards, 100, &rd));
    CHECK(rd.n == 100 && memcmp(rd.sparse, tr.sparse, 100 * NS * sizeof(int32_t)) == 0);
    weft_clicks_free(&rd);

    /* Smaller tables: ids are reduced modulo the cardinality. */
    int small[NS];
    for (int t = 0; t < NS; t++) small[t] = 7 + t;
    CHECK_OK(weft_clicks_read_criteo(p, small, 0, &rd));
    bool mod = rd.n == tr.n;
    for (int64_t i = 0; mod && i < rd.n; i++)
        for (int t = 0; t < NS; t++) mod &= rd.sparse[i * NS + t] == tr.sparse[i * NS + t] % small[t];
    CHECK(mod);
    weft_clicks_free(&rd);

    /* Default cardinalities when cards is NULL. */
    CHECK_OK(weft_clicks_read_criteo(p, NULL, 10, &rd));
    CHECK(rd.n == 10 && rd.cards[7] == WEFT_CLICKS_CARD);
    weft_clicks_free(&rd);

    weft_clicks_free(&tr);
    weft_clicks_free(&va);
}

/* Criteo's own spellings: missing values, negative counts, upper-case hex,
 * CRLF endings, no newline at the end. */
static void test_criteo_edge_values(void)
{
    char line[1024], text[4096];
    size_t n = 0;
    /* line 1: everything missing */
    n += (size_t)sprintf(text + n, "0");
    for (int f = 1; f < 40; f++) n += (size_t)sprintf(text + n, "\t");
    n += (size_t)sprintf(text + n, "\r\n");
    /* line 2: negative and large counts, upper-case and short hex, no newline */
    int k = sprintf(line, "1\t-3\t0\t7\t123456789012");
    for (int f = 5; f <= 13; f++) k += sprintf(line + k, "\t%d", f);
    k += sprintf(line + k, "\tFFFFFFFF\ta");
    for (int f = 3; f <= 26; f++) k += sprintf(line + k, "\t%08x", 0x68fd1e64u + (unsigned)f);
    memcpy(text + n, line, (size_t)k);
    n += (size_t)k;
    const char *p = test_tmp_path("edge.tsv");
    write_text(p, text, n);
    int cards[NS];
    for (int t = 0; t < NS; t++) cards[t] = 1000;
    weft_clicks c;
    CHECK_OK(weft_clicks_read_criteo(p, cards, 0, &c));
    CHECK(c.n == 2);
    if (c.n == 2) {
        bool zero = true;
        for (int j = 0; j < ND; j++) zero &= c.dense[j] == 0.0f;
        for (int t = 0; t < NS; t++) zero &= c.sparse[t] == 0;
        CHECK(zero && c.labels[0] == 0.0f && c.labels[1] == 1.0f);
        CHECK(c.dense[ND + 0] == 0.0f);                                 /* -3 clamps to 0 */
        CHECK(c.dense[ND + 2] == (float)log(8.0));
        CHECK_NEAR(c.dense[ND + 3], log1p(123456789012.0), 1e-5);
        CHECK(c.sparse[NS + 0] == (int32_t)(0xFFFFFFFFu % 1000));
        CHECK(c.sparse[NS + 1] == 10);
        CHECK(c.sparse[NS + 2] == (int32_t)((0x68fd1e64u + 3) % 1000));
        CHECK_NEAR(c.ctr, 0.5, 0);
    }
    weft_clicks_free(&c);
}

/* A file of two good lines and then `bad` as line 3. */
static const char *bad_file(const char *name, const char *bad, size_t badlen)
{
    static char text[16384];
    char good[1024];
    int k = sprintf(good, "1");
    for (int f = 1; f <= 13; f++) k += sprintf(good + k, "\t%d", f);
    for (int f = 1; f <= 26; f++) k += sprintf(good + k, "\t%08x", 0x1000u * (unsigned)f);
    good[k++] = '\n';
    memcpy(text, good, (size_t)k);
    memcpy(text + k, good, (size_t)k);
    memcpy(text + 2 * k, bad, badlen);
    const char *p = test_tmp_path(name);
    write_text(p, text, 2 * (size_t)k + badlen);
    return p;
}

/* A good line with field `f` (0-based) replaced by `val`. */
static size_t line_with(char *out, int f, const char *val)
{
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        if (i) out[n++] = '\t';
        const char *v = i == f ? val : i == 0 ? "0" : i <= 13 ? "4" : "0000abcd";
        n += (size_t)sprintf(out + n, "%s", v);
    }
    out[n++] = '\n';
    return n;
}

static void test_criteo_malformed(void)
{
    weft_clicks c;
    char line[8192];
    struct { int field; const char *val; const char *needle; } cases[] = {
        { 0, "2", ":3: field 1 (label): '2' is not a label" },
        { 0, "", ":3: field 1 (label): '' is not a label" },
        { 0, "01", ":3: field 1 (label)" },
        { 5, "12a", ":3: field 6 (I5): '12a' is not an integer count" },
        { 1, "-", ":3: field 2 (I1)" },
        { 13, "1.5", ":3: field 14 (I13)" },
        { 2, "99999999999999999999", ":3: field 3 (I2): '99999999999999999999' is out of range" },
        { 16, "zz", ":3: field 17 (C3): 'zz' is not a hexadecimal category" },
        { 39, "123456789", ":3: field 40 (C26): '123456789' has more than 8 hex digits" },
        { 20, "0x1f", ":3: field 21 (C7)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = line_with(line, cases[i].field, cases[i].val);
        const char *p = bad_file("bad.tsv", line, n);
        CHECK_ERR(weft_clicks_read_criteo(p, NULL, 0, &c), WEFT_ERR_FORMAT, p, cases[i].needle);
        CHECK(c.n == 0 && c.dense == NULL);
    }
    /* The same through gzip. */
    size_t n = line_with(line, 16, "zz");
    const char *pz = bad_file("bad.tsv.gz", line, n);
    CHECK_ERR(weft_clicks_read_criteo(pz, NULL, 0, &c), WEFT_ERR_FORMAT, pz, ":3: field 17 (C3)");

    /* Field counts: 39 (Criteo's unlabelled test file), 41, a blank line. */
    n = line_with(line, 0, "0");
    char *tab = strchr(line, '\t');
    memmove(line, tab + 1, n - (size_t)(tab + 1 - line));
    const char *p = bad_file("bad39.tsv", line, n - (size_t)(tab + 1 - line));
    CHECK_ERR(weft_clicks_read_criteo(p, NULL, 0, &c), WEFT_ERR_FORMAT, p, ":3: 39 fields, expected 40");
    CHECK_ERR(weft_clicks_read_criteo(p, NULL, 0, &c), WEFT_ERR_FORMAT, p, "unlabelled test file");
    n = line_with(line, 0, "0");
    memcpy(line + n - 1, "\t5\n", 3);
    p = bad_file("bad41.tsv", line, n + 2);
    CHECK_ERR(weft_clicks_read_criteo(p, NULL, 0, &c), WEFT_ERR_FORMAT, p, ":3: 41 fields");
    p = bad_file("blank.tsv", "\n", 1);
    CHECK_ERR(weft_clicks_read_criteo(p, NULL, 0, &c), WEFT_ERR_FORMAT, p, ":3: 1 field, expected 40");

    /* An overlong line, with and without a newline after it; a NUL byte. */
    memset(line, '1', 5000);
    line[5000] = '\n';
    p = bad_file("long.tsv", line, 5001);
    CHECK_ERR(weft_clicks_read_criteo(p, NULL, 0, &c), WEFT_ERR_FORMAT, p, ":3: line is longer than 4096");
    p = bad_file("long2.tsv", line, 5000);
    CHECK_ERR(weft_clicks_read_criteo(p, NULL, 0, &c), WEFT_ERR_FORMAT, p, ":3: line is longer than 4096");
    n = line_with(line, 5, "1");
    line[12] = 0;
    p = bad_file("nul.tsv", line, n);
    CHECK_ERR(weft_clicks_read_criteo(p, NULL, 0, &c), WEFT_ERR_FORMAT, p, ":3: line contains a NUL");

    /* max_rows stops before a bad line. */
    n = line_with(line, 0, "x");
    p = bad_file("stop.tsv", line, n);
    CHECK_OK(weft_clicks_read_criteo(p, NULL, 2, &c));
    CHECK(c.n == 2);
    weft_clicks_free(&c);

    /* Empty files, plain and gzipped; a missing file; a bad cardinality. */
    p = test_tmp_path("empty.tsv");
    write_text(p, "", 0);
    CHECK_ERR(weft_clicks_read_criteo(p, NULL, 0, &c), WEFT_ERR_FORMAT, p, "empty file");
    p = test_tmp_path("empty.tsv.gz");
    write_text(p, "", 0);
    CHECK_ERR(weft_clicks_read_criteo(p, NULL, 0, &c), WEFT_ERR_FORMAT, p, "empty file");
    p = test_tmp_path("nope.tsv");
    CHECK_ERR(weft_clicks_read_criteo(p, NULL, 0, &c), WEFT_ERR_IO, p, "cannot open");
    int cards[NS];
    for (int t = 0; t < NS; t++) cards[t] = 10;
    cards[9] = 0;
    p = bad_file("good.tsv", "", 0);
    CHECK_ERR(weft_clicks_read_criteo(p, cards, 0, &c), WEFT_ERR_ARG, p, "table C10 is 0");
}

/* A gzip stream cut short or damaged is an error, never a quiet prefix. */
static void test_criteo_gzip_damage(void)
{
    weft_clicks_cfg cfg = small_cfg(4, 3000, 0);
    weft_clicks tr, va, c;
    CHECK_OK(weft_clicks_synth(&cfg, &tr, &va));
    const char *pz = test_tmp_path("dmg.tsv.gz");
    CHECK_OK(weft_clicks_write_criteo(pz, &tr));
    FILE *f = fopen(pz, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len);
    CHECK(fread(b, 1, (size_t)len, f) == (size_t)len);
    fclose(f);

    const char *pt = test_tmp_path("trunc.tsv.gz");
    f = fopen(pt, "wb");
    fwrite(b, 1, (size_t)len / 2, f);
    fclose(f);
    CHECK_ERR(weft_clicks_read_criteo(pt, NULL, 0, &c), WEFT_ERR_FORMAT, pt, "gzip");

    const char *pc = test_tmp_path("crc.tsv.gz");
    b[len - 6] ^= 0x55;                   /* the CRC in the trailer */
    f = fopen(pc, "wb");
    fwrite(b, 1, (size_t)len, f);
    fclose(f);
    CHECK_ERR(weft_clicks_read_criteo(pc, NULL, 0, &c), WEFT_ERR_FORMAT, pc, "gzip");
    free(b);
    weft_clicks_free(&tr);
    weft_clicks_free(&va);
}

static void test_criteo_write_errors(void)
{
    weft_clicks_cfg cfg = small_cfg(2, 50, 0);
    weft_clicks tr, va;
    CHECK_OK(weft_clicks_synth(&cfg, &tr, &va));
    const char *p = test_tmp_path("w.tsv");
    tr.labels[7] = 0.5f;
    CHECK_ERR(weft_clicks_write_criteo(p, &tr), WEFT_ERR_ARG, p, "example 7: label 0.5");
    tr.labels[7] = 1;
    tr.dense[3 * ND + 4] = -1;
    CHECK_ERR(weft_clicks_write_criteo(p, &tr), WEFT_ERR_ARG, p, "example 3: I5 = -1");
    tr.dense[3 * ND + 4] = 0;
    tr.sparse[9 * NS + 2] = -4;
    CHECK_ERR(weft_clicks_write_criteo(p, &tr), WEFT_ERR_ARG, p, "example 9: C3 id -4");
    tr.sparse[9 * NS + 2] = 0;
    /* Nothing half-written was left behind: no file, no temporary. */
    struct stat st;
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    CHECK(stat(p, &st) != 0 && stat(tmp, &st) != 0);
    const char *nodir = test_tmp_path("no/such/dir.tsv");
    CHECK_ERR(weft_clicks_write_criteo(nodir, &tr), WEFT_ERR_IO, nodir, NULL);
    weft_clicks empty = tr;
    empty.n = 0;
    CHECK_ERR(weft_clicks_write_criteo(p, &empty), WEFT_ERR_ARG, p, "no examples");
    CHECK_OK(weft_clicks_write_criteo(p, &tr));
    weft_clicks_free(&tr);
    weft_clicks_free(&va);
}


int main(void)
{
    if (!test_tmpdir_make("clicks")) return 2;
    test_auc();
    test_synth_determinism();
    test_synth_shapes();
    test_synth_zipf();
    test_synth_truth();
    test_synth_bad_cfg();
    test_criteo_round_trip();
    test_criteo_edge_values();
    test_criteo_malformed();
    test_criteo_gzip_damage();
    test_criteo_write_errors();
    /* CLICKS_KEEP=1 leaves the files behind for a look at them. */
    if (!getenv("CLICKS_KEEP")) test_tmpdir_remove();
    return test_summary();
}
