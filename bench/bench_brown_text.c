/* bench_brown_text.c — writes the Brown corpus's text views (the bytes weft's
 * language models train and validate on) to two files, so a peer trains on
 * exactly the same bytes. Usage: bench_brown_text TRAIN_OUT VAL_OUT [CORPUS_DIR] */
#include "weft/corpus.h"

#include <stdio.h>
#include <stdlib.h>

static int dump(const weft_brown *b, weft_brown_split split, const char *path)
{
    uint8_t *bytes;
    int64_t n;
    weft_outfile f;
    if (weft_brown_text(b, split, &bytes, &n) || weft_outfile_open(&f, path)) return 1;
    fwrite(bytes, 1, (size_t)n, f.f);
    free(bytes);
    return weft_outfile_commit(&f) != WEFT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: bench_brown_text TRAIN_OUT VAL_OUT [CORPUS_DIR]\n"); return 2; }
    char dir[512];
    if (argc > 3) snprintf(dir, sizeof dir, "%s", argv[3]);
    else if (weft_brown_default_dir(dir, sizeof dir)) { fprintf(stderr, "%s\n", weft_errmsg()); return 2; }
    weft_brown b;
    if (weft_brown_load(dir, &b)) { fprintf(stderr, "bench_brown_text: %s\n", weft_errmsg()); return 2; }
    int rc = dump(&b, WEFT_BROWN_TRAIN, argv[1]) || dump(&b, WEFT_BROWN_VALID, argv[2]);
    if (rc) fprintf(stderr, "bench_brown_text: %s\n", weft_errmsg());
    weft_brown_free(&b);
    return rc ? 1 : 0;
}
