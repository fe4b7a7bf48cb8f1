/* files.c — whole-file reads, and writes that land whole or not at all. */
#include "weft/base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

weft_status weft_outfile_open(weft_outfile *o, const char *path)
{
    memset(o, 0, sizeof *o);
    /* The rename at the end would replace a device, a link or a directory
     * with a plain file: only ever replace a plain file. */
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return weft_fail(WEFT_ERR_IO, "%s: not a plain file (weft writes a temporary and renames it over the path)",
                         path);
    size_t n = strlen(path) + 32;
    o->path = malloc(strlen(path) + 1);
    o->tmp = malloc(n);
    if (!o->path || !o->tmp) {
        free(o->path); free(o->tmp);
        return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory", path);
    }
    strcpy(o->path, path);
    snprintf(o->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    o->f = fopen(o->tmp, "wb");
    if (!o->f) {
        weft_status s = weft_fail(WEFT_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(o->path); free(o->tmp);
        o->path = o->tmp = NULL;
        return s;
    }
    return WEFT_OK;
}

void weft_outfile_abort(weft_outfile *o)
{
    if (o->f) fclose(o->f);
    if (o->tmp) remove(o->tmp);
    free(o->path); free(o->tmp);
    memset(o, 0, sizeof *o);
}

weft_status weft_outfile_commit(weft_outfile *o)
{
    weft_status s = WEFT_OK;
    if (fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0)
        s = weft_fail(WEFT_ERR_IO, "%s: write failed: %s", o->path, strerror(errno));
    if (fclose(o->f) != 0 && s == WEFT_OK)
        s = weft_fail(WEFT_ERR_IO, "%s: write failed: %s", o->path, strerror(errno));
    o->f = NULL;
    if (s == WEFT_OK && rename(o->tmp, o->path) != 0)
        s = weft_fail(WEFT_ERR_IO, "%s: cannot rename into place: %s", o->path, strerror(errno));
    if (s != WEFT_OK) remove(o->tmp);
    free(o->path); free(o->tmp);
    o->path = o->tmp = NULL;
    return s;
}

weft_status weft_read_file(const char *path, char **data, size_t *size)
{
    *data = NULL; *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return weft_fail(WEFT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* a regular file's size is known: one allocation, no doubling and copying */
    struct stat st;
    size_t cap = 1 << 16, len = 0;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) cap = (size_t)st.st_size + 1;
    char *buf = weft_alloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        char *nb = weft_alloc(cap * 2 + 1);   /* grown (a pipe, or a file that grew) */
        if (nb) memcpy(nb, buf, len);
        free(buf);
        if (!nb) { buf = NULL; break; }
        buf = nb; cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory reading file", path);
    if (err) { free(buf); return weft_fail(WEFT_ERR_IO, "%s: read error", path); }
    buf[len] = 0;
    *data = buf; *size = len;
    return WEFT_OK;
}

void weft_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

weft_status weft_read_text(const char *path, const char *what, char **text)
{
    size_t n;
    weft_status s = weft_read_file(path, text, &n);
    if (s) return weft_fail_wrap(s, "%s", what);
    size_t nul = strlen(*text);
    if (nul != n) {
        free(*text);
        *text = NULL;
        return weft_fail(WEFT_ERR_FORMAT, "%s %s: holds a NUL byte (byte %zu)", what, path, nul);
    }
    return WEFT_OK;
}
