/* weft/clicks.h — click-through data (Criteo-shaped) for DLRM-style models:
 * a deterministic synthetic generator with a hidden logistic model whose best
 * achievable AUC is known, a reader and writer for Criteo's tab-separated
 * format, and the metrics (ROC AUC, log loss). Needs only base.
 * docs/DATA_CLICKS.md describes the generator's model and the file format. */
#ifndef WEFT_CLICKS_H
#define WEFT_CLICKS_H

#include "weft/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_CLICKS_NDENSE 13   /* Criteo's integer (count) features I1..I13      */
#define WEFT_CLICKS_NSPARSE 26  /* Criteo's categorical features C1..C26          */
#define WEFT_CLICKS_CARD 100000 /* default rows per embedding table               */

/* What the generator knows about its own data (synthetic sets only). All
 * AUCs and log losses are measured on this set against its drawn labels. */
typedef struct {
    bool known;          /* false for data read from a file: the rest is NaN   */
    double best_auc;     /* AUC of the true click probabilities: no model can
                          * do better in expectation                           */
    double best_logloss; /* log loss of the true probabilities                 */
    double dense_auc;    /* AUC of the hidden model's dense part alone: the best
                          * a model that ignores the categorical ids can do    */
    double head_auc;     /* AUC when only the effects of "head" ids are known
                          * (the rest taken as 0): ids expected at least
                          * WEFT_CLICKS_HEAD_MIN times in n_train examples.
                          * Near the best a model trained on n_train examples
                          * can hope for (= dense_auc when n_train is 0)      */
} weft_clicks_truth;

/* Expected occurrences in the training split that make an id a head id. */
#define WEFT_CLICKS_HEAD_MIN 100

/* n click-through examples in memory. */
typedef struct {
    int64_t n;                           /* number of examples                  */
    int32_t cards[WEFT_CLICKS_NSPARSE];  /* rows of each table: ids of table t
                                          * are in [0, cards[t])                */
    float *dense;    /* (n, 13): log(1 + max(count, 0)); a missing count is 0  */
    int32_t *sparse; /* (n, 26): sparse[i*26 + t] in [0, cards[t])             */
    float *labels;   /* (n): 0 or 1                                            */
    float *prob;     /* (n): the true click probability (synthetic), or NULL   */
    double ctr;      /* mean of labels (NaN when n == 0)                       */
    weft_clicks_truth truth;
} weft_clicks;

void weft_clicks_free(weft_clicks *c);

/* Copies examples idx[0..B) into dense (B,13), sparse (B,26) and labels (B);
 * any output may be NULL. */
void weft_clicks_gather(const weft_clicks *c, const int64_t *idx, int B,
                        float *dense, int32_t *sparse, float *labels);

/* Copies examples [begin, begin+n) into out (a fresh set; truth not kept
 * except that prob is copied when present). Splits a read file into train
 * and validation parts. */
weft_status weft_clicks_slice(const weft_clicks *c, int64_t begin, int64_t n, weft_clicks *out);

/* ---- the synthetic generator --------------------------------------------
 * Example i of a split is a pure function of (cfg, split, i): its dense
 * counts, ids and label come from the counter RNG keyed by (seed, split,
 * field), element i, so any range can be generated alone and in parallel,
 * and the validation set does not depend on n_train. The hidden model
 * (per-id effects, latent vectors, dense weights, bias) is a pure function
 * of the config other than n_train and n_val. */
typedef struct {
    int64_t n_train, n_val;             /* each in [0, 2^32)                   */
    uint64_t seed;
    int32_t cards[WEFT_CLICKS_NSPARSE]; /* rows per table, >= 1 (100000)       */
    double zipf_s;       /* id of rank r (0 = most frequent) has probability
                          * proportional to (r+1)^-zipf_s; 1.2                 */
    double ctr;          /* base click-through rate the bias is solved for; 0.25 */
    double dense_scale;  /* std of the dense part of the logit; 0.6            */
    double sparse_scale; /* std of a rank-0 id's effect on the logit; 0.4      */
    double effect_r0;    /* effect std of rank r is sparse_scale/sqrt(1+r/r0),
                          * so rare ids carry less signal; 1                   */
    int npairs;          /* interaction pairs: tables (2k, 2k+1), k < npairs,
                          * add pair_scale * <z_a, z_b> / sqrt(4) of per-id
                          * latent 4-vectors (std 1/sqrt(1+r/r0)); 0..13, 6    */
    double pair_scale;   /* 0.45                                               */
} weft_clicks_cfg;

/* The defaults above: n_train 1000000, n_val 100000, seed 1. */
void weft_clicks_cfg_default(weft_clicks_cfg *cfg);

/* Generates both splits (either n may be 0) and fills each split's truth.
 * Errors name the config field at fault. */
weft_status weft_clicks_synth(const weft_clicks_cfg *cfg, weft_clicks *train, weft_clicks *val);

/* ---- Criteo's tab-separated format ---------------------------------------
 * One example per line: label (0 or 1), 13 integer counts, 26 categorical
 * values as hexadecimal strings (Criteo writes 8 lowercase digits), 40 fields
 * joined by tabs. A count may be empty (missing: read as 0) or negative
 * (clamped to 0); it is stored as log(1 + count). A categorical value may be
 * empty (missing: read as 0); otherwise 1 to 8 hex digits, parsed as uint32
 * and reduced modulo the table's cardinality, so id 0 is shared by "missing"
 * and values that hash to 0 (as in the DLRM reference loader).
 *
 * cards gives the 26 cardinalities (NULL: WEFT_CLICKS_CARD for all). Reads at
 * most max_rows examples (<= 0: all). .gz files are read through zlib (a plain
 * file works too). A malformed line (wrong number of fields, bad label, a
 * non-integer count, a non-hex category, a line over WEFT_CLICKS_MAX_LINE
 * bytes) is WEFT_ERR_FORMAT naming path:line and the field (1-based, with its
 * Criteo name: label, I1..I13, C1..C26). An empty file is an error. */
#define WEFT_CLICKS_MAX_LINE 4096
weft_status weft_clicks_read_criteo(const char *path, const int *cards, int64_t max_rows,
                                    weft_clicks *out);

/* Writes c in the same format: counts as round(exp(dense) - 1), ids as 8 hex
 * digits; gzipped when path ends in ".gz". The file appears whole or not at
 * all (weft_outfile). */
weft_status weft_clicks_write_criteo(const char *path, const weft_clicks *c);

/* ---- metrics -------------------------------------------------------------- */
/* Exact ROC AUC of scores against labels (label > 0.5 is a positive): the
 * Mann-Whitney statistic with tied scores given their average rank, so a tie
 * between a positive and a negative counts one half. O(n log n). NaN when
 * there is no positive or no negative, or a score is NaN. */
double weft_auc(const float *scores, const float *labels, int64_t n);
/* Mean binary cross-entropy of probabilities p against labels, with p clamped
 * to [1e-7, 1 - 1e-7]; natural log. NaN when n <= 0. */
double weft_logloss(const float *p, const float *labels, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
