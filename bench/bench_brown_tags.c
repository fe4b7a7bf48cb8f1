/* bench_brown_tags.c — writes the Brown tagging data exactly as bert-tiny
 * sees it (8192 ids: 8178 words + 14 unknown-word classes; universal tags)
 * to two files — the split's word ids (int32), then its tags (int32) — so a
 * peer trains on the same data. Usage: bench_brown_tags TRAIN_OUT VAL_OUT [CORPUS_DIR] */
#include "weft/corpus.h"

#include <stdio.h>
#include <stdlib.h>

#define VOCAB 8192

static int dump(const weft_brown *b, const weft_brown_vocab *v, weft_brown_split split, const char *path)
{
    weft_brown_tagged t;
    weft_outfile f;
    if (weft_brown_tagged_split(b, v, split, &t)) return 1;
    weft_brown_tagged_classify(b, split, &t, VOCAB);
    int rc = weft_outfile_open(&f, path) != WEFT_OK;
    if (!rc) {
        fwrite(t.words, sizeof *t.words, (size_t)t.ntokens, f.f);
        for (int64_t i = 0; i < t.ntokens; i++) {
            int32_t tag = t.tags[i];
            fwrite(&tag, sizeof tag, 1, f.f);
        }
        rc = weft_outfile_commit(&f) != WEFT_OK;
    }
    weft_brown_tagged_free(&t);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: bench_brown_tags TRAIN_OUT VAL_OUT [CORPUS_DIR]\n"); return 2; }
    char dir[512];
    if (argc > 3) snprintf(dir, sizeof dir, "%s", argv[3]);
    else if (weft_brown_default_dir(dir, sizeof dir)) { fprintf(stderr, "%s\n", weft_errmsg()); return 2; }
    weft_brown b;
    weft_brown_vocab v;
    if (weft_brown_load(dir, &b)) { fprintf(stderr, "bench_brown_tags: %s\n", weft_errmsg()); return 2; }
    int rc = weft_brown_vocab_build(&b, VOCAB - WEFT_BROWN_UNK_CLASSES, &v) != WEFT_OK;
    if (!rc) rc = dump(&b, &v, WEFT_BROWN_TRAIN, argv[1]) || dump(&b, &v, WEFT_BROWN_VALID, argv[2]);
    if (rc) fprintf(stderr, "bench_brown_tags: %s\n", weft_errmsg());
    if (!rc) weft_brown_vocab_free(&v);
    weft_brown_free(&b);
    return rc ? 1 : 0;
}
