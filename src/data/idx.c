/* idx.c — IDX files (the MNIST format), plain or gzipped, read through zlib.
 *
 * Layout: bytes 0,1 are zero, byte 2 the element type (only 0x08, unsigned
 * byte, is accepted), byte 3 the number of dimensions; then one big-endian
 * uint32 per dimension; then exactly prod(dims) bytes of data. Anything else
 * — a short header, a short or long body, a gzip stream that fails its CRC —
 * is an error naming the file, never a crash. */
#include "weft/data.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A bogus header can claim terabytes; the buffer grows only as data
 * actually arrives, so a tiny file never causes a huge allocation. */
#define IDX_FIRST_ALLOC ((size_t)64 << 20)
/* gzread takes an unsigned count and returns an int: read in pieces. */
#define IDX_MAX_CHUNK ((size_t)1 << 30)

/* The status and message for a failed gzread. Z_ERRNO is the operating
 * system's error (an i/o problem); anything else is in the stream itself. */
static weft_status gz_fail(gzFile g, const char *path)
{
    int errnum = Z_OK;
    const char *msg = gzerror(g, &errnum);
    if (errnum == Z_ERRNO)
        return weft_fail(WEFT_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (errnum == Z_MEM_ERROR)
        return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory decompressing", path);
    /* zlib's message starts with the path itself; say it once. */
    size_t n = strlen(path);
    if (msg && strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') msg += n + 2;
    /* The damage may be found ahead of the bytes asked for (zlib decodes in
     * large blocks), so the message does not say which part was being read. */
    return weft_fail(WEFT_ERR_FORMAT, "%s: corrupt gzip stream: %s", path,
                     msg && *msg ? msg : "unknown zlib error");
}

/* True when zlib saw the compressed stream end before its trailer. */
static bool gz_cut_short(gzFile g)
{
    int errnum = Z_OK;
    gzerror(g, &errnum);
    return errnum == Z_BUF_ERROR;
}

/* Reads up to `want` bytes; *got says how many arrived before end of file. */
static weft_status gz_read_upto(gzFile g, const char *path, uint8_t *buf, size_t want, size_t *got)
{
    *got = 0;
    while (*got < want) {
        size_t chunk = want - *got;
        if (chunk > IDX_MAX_CHUNK) chunk = IDX_MAX_CHUNK;
        int r = gzread(g, buf + *got, (unsigned)chunk);
        if (r < 0) return gz_fail(g, path);
        if (r == 0) break;
        *got += (size_t)r;
    }
    return WEFT_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static weft_status idx_header(gzFile g, const char *path, weft_idx *out, size_t *nbytes)
{
    uint8_t h[4 + 4 * 4];
    size_t got;
    WEFT_TRY(gz_read_upto(g, path, h, 4, &got));
    if (got == 0 && !gz_cut_short(g))
        return weft_fail(WEFT_ERR_FORMAT, "%s: empty file (expected an IDX header)", path);
    if (got < 4)
        return weft_fail(WEFT_ERR_FORMAT, "%s: truncated header: expected 4 bytes of magic, got %zu%s",
                         path, got, gz_cut_short(g) ? " (gzip stream ends early)" : "");
    if (h[0] != 0 || h[1] != 0)
        return weft_fail(WEFT_ERR_FORMAT,
                         "%s: wrong magic %02x %02x %02x %02x: not an IDX file "
                         "(expected 00 00 08 <ndim>)", path, h[0], h[1], h[2], h[3]);
    if (h[2] != 0x08)
        return weft_fail(WEFT_ERR_FORMAT,
                         "%s: unsupported IDX element type 0x%02x in magic "
                         "(only 0x08, unsigned byte, is supported)", path, h[2]);
    int ndim = h[3];
    if (ndim < 1 || ndim > 4)
        return weft_fail(WEFT_ERR_FORMAT,
                         "%s: bad number of dimensions %d in magic (expected 1 to 4)", path, ndim);

    size_t dbytes = 4 * (size_t)ndim;
    WEFT_TRY(gz_read_upto(g, path, h + 4, dbytes, &got));
    if (got < dbytes)
        return weft_fail(WEFT_ERR_FORMAT,
                         "%s: truncated header: expected %zu bytes of dimensions, got %zu%s",
                         path, dbytes, got, gz_cut_short(g) ? " (gzip stream ends early)" : "");

    /* Both size_t and int64_t must hold the byte count. */
    uint64_t limit = (uint64_t)INT64_MAX < (uint64_t)SIZE_MAX ? (uint64_t)INT64_MAX : (uint64_t)SIZE_MAX;
    uint64_t total = 1;
    out->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        uint32_t d = be32(h + 4 + 4 * i);
        if (d == 0)
            return weft_fail(WEFT_ERR_FORMAT, "%s: dimension %d of %d is 0", path, i, ndim);
        if (total > limit / d)
            return weft_fail(WEFT_ERR_FORMAT, "%s: dimensions are too large (their product "
                             "overflows) at dimension %d (%u)", path, i, d);
        total *= d;
        out->dims[i] = d;
    }
    *nbytes = (size_t)total;
    return WEFT_OK;
}

static weft_status idx_body(gzFile g, const char *path, weft_idx *out, size_t total)
{
    size_t cap = total < IDX_FIRST_ALLOC ? total : IDX_FIRST_ALLOC, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) return weft_fail(WEFT_ERR_NOMEM, "%s: out of memory (%zu bytes of data)", path, cap);
    weft_status s = WEFT_OK;
    for (;;) {
        size_t got;
        s = gz_read_upto(g, path, buf + len, cap - len, &got);
        if (s != WEFT_OK) goto fail;
        len += got;
        if (len < cap || cap == total) break;     /* end of file, or all of it */
        size_t ncap = cap > total / 2 ? total : cap * 2;
        uint8_t *nb = realloc(buf, ncap);
        if (!nb) {
            s = weft_fail(WEFT_ERR_NOMEM, "%s: out of memory (%zu bytes of data)", path, ncap);
            goto fail;
        }
        buf = nb; cap = ncap;
    }
    if (len < total) {
        s = weft_fail(WEFT_ERR_FORMAT, "%s: truncated: expected %zu bytes of data, got %zu%s",
                      path, total, len, gz_cut_short(g) ? " (gzip stream ends early)" : "");
        goto fail;
    }
    /* One more byte: it must not exist. Reading on also makes zlib reach the
     * end of the gzip stream and check its CRC and length. */
    uint8_t extra[64];
    size_t more;
    s = gz_read_upto(g, path, extra, sizeof extra, &more);
    if (s != WEFT_OK) goto fail;
    if (more > 0) {
        s = weft_fail(WEFT_ERR_FORMAT, "%s: trailing data: %s%zu byte%s after the %zu bytes "
                      "of data the header declares", path, more == sizeof extra ? "at least " : "",
                      more, more == 1 ? "" : "s", total);
        goto fail;
    }
    if (gz_cut_short(g)) {
        s = weft_fail(WEFT_ERR_FORMAT, "%s: corrupt gzip stream: it ends before its trailer", path);
        goto fail;
    }
    out->data = buf;
    return WEFT_OK;
fail:
    free(buf);
    return s;
}

weft_status weft_idx_read(const char *path, weft_idx *out)
{
    memset(out, 0, sizeof *out);
    errno = 0;
    gzFile g = gzopen(path, "rb");
    if (!g)
        return weft_fail(WEFT_ERR_IO, "%s: cannot open: %s", path,
                         errno ? strerror(errno) : "out of memory");
    gzbuffer(g, 1 << 17);
    size_t total = 0;
    weft_status s = idx_header(g, path, out, &total);
    if (s == WEFT_OK) s = idx_body(g, path, out, total);
    int rc = gzclose_r(g);
    if (s == WEFT_OK && rc != Z_OK) {
        s = rc == Z_ERRNO ? weft_fail(WEFT_ERR_IO, "%s: error closing: %s", path, strerror(errno))
                          : weft_fail(WEFT_ERR_FORMAT, "%s: corrupt gzip stream (zlib error %d at close)",
                                      path, rc);
    }
    if (s != WEFT_OK) weft_idx_free(out);
    return s;
}

void weft_idx_free(weft_idx *x)
{
    if (!x) return;
    free(x->data);
    memset(x, 0, sizeof *x);
}
