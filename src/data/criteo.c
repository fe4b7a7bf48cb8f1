/* criteo.c — Criteo's tab-separated click logs: read (plain or gzipped) and
 * write (atomically, plain or gzipped).
 *
 * A line is 40 fields joined by tabs: the label (0 or 1), the counts I1..I13
 * (decimal integers, possibly negative, possibly empty), and the categories
 * C1..C26 (hexadecimal, possibly empty). Every departure — a wrong number of
 * fields, a bad label, a count that is not an integer, a category that is not
 * hex, a line over WEFT_CLICKS_MAX_LINE bytes, a NUL byte, a damaged gzip
 * stream — is an error naming path:line and, for a field, its number and
 * Criteo name. Lines are cut from a large buffer refilled by gzread (which
 * also reads plain files), so a NUL byte cannot hide the rest of a line. */
#include "weft/clicks.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define ND WEFT_CLICKS_NDENSE
#define NS WEFT_CLICKS_NSPARSE
#define NFIELDS (1 + ND + NS)
#define CRT_BUF ((size_t)1 << 20)      /* read buffer; well over one line     */
#define CRT_FIRST_ROWS 65536           /* rows allocated before growing       */
#define CRT_SHOW 40                    /* bytes of a bad field quoted back    */

/* ---- reading ----------------------------------------------------------------- */

typedef struct {
    gzFile g;
    const char *path;
    char *buf;            /* CRT_BUF + 1 bytes: room for a NUL after the data */
    size_t start, end;    /* unread bytes are buf[start, end)                  */
    bool eof;
    long long line;       /* number of the last line returned (from 1)         */
} crt_reader;

static weft_status crt_gz_fail(crt_reader *r)
{
    int errnum = Z_OK;
    const char *msg = gzerror(r->g, &errnum);
    if (errnum == Z_ERRNO)
        return weft_fail(WEFT_ERR_IO, "%s: read error: %s", r->path, strerror(errno));
    if (errnum == Z_MEM_ERROR)
        return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory decompressing", r->path);
    size_t n = strlen(r->path);   /* zlib's message starts with the path: say it once */
    if (msg && strncmp(msg, r->path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
    /* zlib decodes ahead in large blocks, so the damage is not tied to a line. */
    return weft_fail(WEFT_ERR_FORMAT, "%s: corrupt gzip stream: %s", r->path,
                     msg && *msg ? msg : "unknown zlib error");
}

static weft_status crt_too_long(const crt_reader *r)
{
    return weft_fail(WEFT_ERR_FORMAT, "%s:%lld: line is longer than %d bytes (not a Criteo "
                     "file, or a damaged one)", r->path, r->line + 1, WEFT_CLICKS_MAX_LINE);
}

/* The next line without its "\n" (and "\r"), NUL-terminated in place; *line
 * is NULL at the end of the file. */
static weft_status crt_next(crt_reader *r, char **line, size_t *len)
{
    *line = NULL;
    for (;;) {
        char *p = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = memchr(p, '\n', avail);
        if (nl || (r->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - p) : avail;
            if (n > WEFT_CLICKS_MAX_LINE) return crt_too_long(r);
            r->start += n + (nl ? 1 : 0);
            if (n > 0 && p[n - 1] == '\r') n--;
            p[n] = 0;
            r->line++;
            *line = p;
            *len = n;
            return WEFT_OK;
        }
        if (r->eof) return WEFT_OK;
        if (avail > WEFT_CLICKS_MAX_LINE) return crt_too_long(r);
        memmove(r->buf, p, avail);
        r->start = 0;
        r->end = avail;
        int got = gzread(r->g, r->buf + r->end, (unsigned)(CRT_BUF - r->end));
        if (got < 0) return crt_gz_fail(r);
        if (got == 0) {
            int errnum = Z_OK;
            gzerror(r->g, &errnum);
            if (errnum == Z_BUF_ERROR)
                return weft_fail(WEFT_ERR_FORMAT, "%s: corrupt gzip stream: it ends early, "
                                 "after line %lld", r->path, r->line);
            r->eof = true;
        }
        r->end += (size_t)got;
    }
}

/* "label", "I1".."I13", "C1".."C26" for fields 0..39. */
static const char *crt_field_name(int f, char buf[16])
{
    if (f <= 0) return "label";
    snprintf(buf, 16, "%c%d", f <= ND ? 'I' : 'C', f <= ND ? f : f - ND);
    return buf;
}

static weft_status crt_bad_field(const crt_reader *r, int f, const char *s, size_t n, const char *why)
{
    char name[16];
    return weft_fail(WEFT_ERR_FORMAT, "%s:%lld: field %d (%s): '%.*s%s' %s", r->path, r->line,
                     f + 1, crt_field_name(f, name), (int)(n > CRT_SHOW ? CRT_SHOW : n), s,
                     n > CRT_SHOW ? "..." : "", why);
}

/* A count: empty (missing) is 0; otherwise an optional '-' and decimal
 * digits that fit int64. Stored as log(1 + max(count, 0)). */
static weft_status crt_count(const crt_reader *r, int f, const char *s, size_t n, float *out)
{
    if (n == 0) { *out = 0; return WEFT_OK; }
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == n) return crt_bad_field(r, f, s, n, "is not an integer count");
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return crt_bad_field(r, f, s, n, "is not an integer count");
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10) return crt_bad_field(r, f, s, n, "is out of range for a count");
        v = v * 10 + d;
    }
    *out = s[0] == '-' ? 0.0f : (float)log1p((double)v);
    return WEFT_OK;
}

/* A category: empty (missing) is 0; otherwise 1 to 8 hex digits, taken as
 * a uint32 and reduced modulo the table's rows. */
static weft_status crt_category(const crt_reader *r, int f, const char *s, size_t n, int card,
                                int32_t *out)
{
    if (n > 8) return crt_bad_field(r, f, s, n, "has more than 8 hex digits");
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0'
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0) return crt_bad_field(r, f, s, n, "is not a hexadecimal category");
        v = v << 4 | (uint32_t)d;
    }
    *out = (int32_t)(v % (uint32_t)card);
    return WEFT_OK;
}

static weft_status crt_parse(const crt_reader *r, char *line, size_t len, const int *cards,
                             float *label, float *dense, int32_t *sparse)
{
    if (memchr(line, 0, len))
        return weft_fail(WEFT_ERR_FORMAT, "%s:%lld: line contains a NUL byte (not a text file?)",
                         r->path, r->line);
    int nf = 1;
    for (size_t i = 0; i < len; i++) nf += line[i] == '\t';
    if (nf != NFIELDS)
        return weft_fail(WEFT_ERR_FORMAT, "%s:%lld: %d field%s, expected %d (label, I1..I13, "
                         "C1..C26, separated by tabs)%s", r->path, r->line, nf, nf == 1 ? "" : "s",
                         NFIELDS, nf == NFIELDS - 1 ? "; Criteo's unlabelled test file has 39: "
                         "only labelled lines can be read" : "");
    const char *s = line;
    for (int f = 0; f < NFIELDS; f++) {
        const char *e = strchr(s, '\t');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (f == 0) {
            if (n != 1 || (s[0] != '0' && s[0] != '1'))
                return crt_bad_field(r, f, s, n, "is not a label (0 or 1)");
            *label = s[0] == '1' ? 1.0f : 0.0f;
        } else if (f <= ND) {
            WEFT_TRY(crt_count(r, f, s, n, &dense[f - 1]));
        } else {
            WEFT_TRY(crt_category(r, f, s, n, cards[f - 1 - ND], &sparse[f - 1 - ND]));
        }
        s = e ? e + 1 : s + n;
    }
    return WEFT_OK;
}

/* Grows out's arrays to hold `cap` examples. */
static weft_status crt_grow(weft_clicks *out, int64_t cap, const char *path)
{
    float *d = realloc(out->dense, (size_t)cap * ND * sizeof(float));
    if (d) out->dense = d;
    int32_t *s = d ? realloc(out->sparse, (size_t)cap * NS * sizeof(int32_t)) : NULL;
    if (s) out->sparse = s;
    float *y = s ? realloc(out->labels, (size_t)cap * sizeof(float)) : NULL;
    if (y) out->labels = y;
    if (!y) return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory for %lld examples", path, (long long)cap);
    return WEFT_OK;
}

static weft_status crt_read_all(crt_reader *r, const int *cards, int64_t max_rows, weft_clicks *out)
{
    int64_t cap = 0;
    for (;;) {
        if (max_rows > 0 && out->n == max_rows) break;
        char *line;
        size_t len;
        WEFT_TRY(crt_next(r, &line, &len));
        if (!line) break;
        if (out->n == cap) {
            int64_t ncap = cap ? cap * 2 : CRT_FIRST_ROWS;
            if (max_rows > 0 && ncap > max_rows) ncap = max_rows;
            WEFT_TRY(crt_grow(out, ncap, r->path));
            cap = ncap;
        }
        int64_t i = out->n;
        WEFT_TRY(crt_parse(r, line, len, cards, &out->labels[i], out->dense + (size_t)i * ND,
                           out->sparse + (size_t)i * NS));
        out->n++;
    }
    if (out->n == 0)
        return weft_fail(WEFT_ERR_FORMAT, "%s: empty file (expected lines of label, I1..I13, "
                         "C1..C26 separated by tabs)", r->path);
    return WEFT_OK;
}

weft_status weft_clicks_read_criteo(const char *path, const int *cards, int64_t max_rows,
                                    weft_clicks *out)
{
    memset(out, 0, sizeof *out);
    int def[NS];
    for (int t = 0; t < NS; t++) {
        def[t] = cards ? cards[t] : WEFT_CLICKS_CARD;
        if (def[t] < 1)
            return weft_fail(WEFT_ERR_ARG, "%s: cardinality of table C%d is %d: a table needs at "
                             "least 1 row", path, t + 1, def[t]);
    }
    crt_reader r = { .path = path };
    r.buf = malloc(CRT_BUF + 1);
    if (!r.buf) return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory", path);
    errno = 0;
    r.g = gzopen(path, "rb");
    if (!r.g) {
        free(r.buf);
        return weft_fail(WEFT_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    }
    gzbuffer(r.g, 1 << 17);
    weft_status s = crt_read_all(&r, def, max_rows, out);
    int rc = gzclose_r(r.g);
    if (s == WEFT_OK && rc != Z_OK)
        s = rc == Z_ERRNO ? weft_fail(WEFT_ERR_IO, "%s: error closing: %s", path, strerror(errno))
                          : weft_fail(WEFT_ERR_FORMAT, "%s: corrupt gzip stream (zlib error %d at close)",
                                      path, rc);
    free(r.buf);
    if (s != WEFT_OK) {
        weft_clicks_free(out);
        return s;
    }
    for (int t = 0; t < NS; t++) out->cards[t] = def[t];
    double sum = 0;
    for (int64_t i = 0; i < out->n; i++) sum += out->labels[i];
    out->ctr = sum / (double)out->n;
    out->prob = NULL;
    out->truth.known = false;
    out->truth.best_auc = out->truth.best_logloss = NAN;
    out->truth.dense_auc = out->truth.head_auc = NAN;
    return WEFT_OK;
}

/* ---- writing ----------------------------------------------------------------- */

/* Where lines go: the outfile's FILE, or a gzip stream on a duplicate of its
 * descriptor (closed before the outfile commits, so commit syncs it all). */
typedef struct { FILE *f; gzFile g; const char *path; } crt_sink;

static weft_status sink_put(crt_sink *k, const char *s, size_t n)
{
    if (k->g) {
        if (gzwrite(k->g, s, (unsigned)n) != (int)n)
            return weft_fail(WEFT_ERR_IO, "%s: write failed (gzip)", k->path);
    } else if (fwrite(s, 1, n, k->f) != n) {
        return weft_fail(WEFT_ERR_IO, "%s: write failed: %s", k->path, strerror(errno));
    }
    return WEFT_OK;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static char *put_hex8(char *p, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 7; i >= 0; i--) p[7 - i] = hex[(v >> (4 * i)) & 15];
    return p + 8;
}

/* One example as a line; errors name the example and field of bad values. */
static weft_status crt_format(const weft_clicks *c, int64_t i, const char *path, char *line, size_t *len)
{
    char *p = line;
    float y = c->labels[i];
    if (y != 0.0f && y != 1.0f)
        return weft_fail(WEFT_ERR_ARG, "%s: example %lld: label %g is not 0 or 1", path, (long long)i, y);
    *p++ = y == 1.0f ? '1' : '0';
    for (int j = 0; j < ND; j++) {
        double d = c->dense[(size_t)i * ND + j];
        /* log(1 + count) of a count below 2^62. */
        if (!(d >= 0 && d <= 42.9))
            return weft_fail(WEFT_ERR_ARG, "%s: example %lld: I%d = %g is not log(1 + count) of a "
                             "count", path, (long long)i, j + 1, d);
        *p++ = '\t';
        p = put_u64(p, (uint64_t)llround(expm1(d)));
    }
    for (int t = 0; t < NS; t++) {
        int32_t id = c->sparse[(size_t)i * NS + t];
        if (id < 0)
            return weft_fail(WEFT_ERR_ARG, "%s: example %lld: C%d id %d is negative", path,
                             (long long)i, t + 1, (int)id);
        *p++ = '\t';
        p = put_hex8(p, (uint32_t)id);
    }
    *p++ = '\n';
    *len = (size_t)(p - line);
    return WEFT_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

weft_status weft_clicks_write_criteo(const char *path, const weft_clicks *c)
{
    if (c->n <= 0)
        return weft_fail(WEFT_ERR_ARG, "%s: no examples to write (a Criteo file needs at least one line)",
                         path);
    weft_outfile o;
    WEFT_TRY(weft_outfile_open(&o, path));
    crt_sink k = { .f = o.f, .path = path };
    weft_status s = WEFT_OK;
    if (ends_with(path, ".gz")) {
        /* Level 1: four times faster than zlib's default 6, a quarter more bytes. */
        int fd = dup(fileno(o.f));
        k.g = fd >= 0 ? gzdopen(fd, "wb1") : NULL;
        if (!k.g) {
            if (fd >= 0) close(fd);
            s = weft_fail(WEFT_ERR_IO, "%s: cannot start a gzip stream", path);
        }
    }
    /* A line: 1 + 13 * 20 + 26 * 9 + 40 bytes at most. */
    char line[640];
    for (int64_t i = 0; s == WEFT_OK && i < c->n; i++) {
        size_t len = 0;
        s = crt_format(c, i, path, line, &len);
        if (s == WEFT_OK) s = sink_put(&k, line, len);
    }
    if (k.g) {
        int rc = gzclose_w(k.g);
        if (s == WEFT_OK && rc != Z_OK) s = weft_fail(WEFT_ERR_IO, "%s: write failed (gzip close)", path);
    }
    if (s != WEFT_OK) {
        weft_outfile_abort(&o);
        return s;
    }
    return weft_outfile_commit(&o);
}
