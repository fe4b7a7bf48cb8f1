/* weft/base.h — status codes, error messages, arena, logging, thread pool,
 * counter-based random bits. The bottom layer: includes nothing of weft. */
#ifndef WEFT_BASE_H
#define WEFT_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every function that can fail returns a weft_status and leaves a message
 * (naming the file, field or flag at fault) readable with weft_errmsg().
 * The message lives in thread-local storage, like errno: it belongs to the
 * thread that failed and is overwritten by its next failure. */
typedef enum {
    WEFT_OK = 0,
    WEFT_ERR_ARG,      /* bad argument, flag or value from the caller        */
    WEFT_ERR_IO,       /* a file could not be opened, read or written        */
    WEFT_ERR_FORMAT,   /* a file's content is malformed, truncated, corrupt  */
    WEFT_ERR_SHAPE,    /* shapes or dtypes do not fit together               */
    WEFT_ERR_NOMEM,    /* an allocation failed                               */
    WEFT_ERR_NUMERIC,  /* a non-finite value where a finite one is required  */
    WEFT_ERR_INTERNAL  /* a broken invariant: a bug in weft                  */
} weft_status;

/* Sets the thread's message from a printf format and returns s, so that a
 * failing function can `return weft_fail(WEFT_ERR_IO, "%s: %s", path, why);` */
weft_status weft_fail(weft_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefixes the current message with more context ("loading model: ..."). */
weft_status weft_fail_wrap(weft_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *weft_errmsg(void);
const char *weft_status_name(weft_status s);

/* Propagate a failure: WEFT_TRY(f(x)); */
#define WEFT_TRY(expr) do { weft_status weft_try_s_ = (expr); \
        if (weft_try_s_ != WEFT_OK) return weft_try_s_; } while (0)

/* ---- memory -------------------------------------------------------------- */
/* Aligned (64-byte) allocation; NULL on failure. Free with weft_free. */
void *weft_alloc(size_t bytes);
void *weft_calloc(size_t bytes);
void  weft_free(void *p);

/* ---- logging ------------------------------------------------------------- */
typedef enum { WEFT_LOG_QUIET, WEFT_LOG_INFO, WEFT_LOG_DEBUG } weft_log_level;
/* Log lines go to stderr. The level is per-process configuration set once by
 * the command line before any work starts. */
void weft_log_set_level(weft_log_level l);
void weft_log(weft_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic wall clock in seconds. */
double weft_now(void);
/* The calling thread's CPU time in seconds (its work, not its waits or the
 * time other threads and processes held its core). */
double weft_thread_cpu_now(void);

/* ---- thread pool ----------------------------------------------------------- */
/* A persistent pool of worker threads (created once, reused every step).
 * weft_pool_for splits [0, n) into contiguous chunks, one per thread, and
 * calls fn(ctx, begin, end) on each; the caller's thread takes a chunk too.
 * A pool of 1 thread runs everything on the caller. Chunk boundaries depend
 * on the thread count, so functions must not depend on them for results. */
typedef struct weft_pool weft_pool;
typedef void (*weft_pool_fn)(void *ctx, int64_t begin, int64_t end);
weft_status weft_pool_create(weft_pool **out, int nthreads);
void weft_pool_destroy(weft_pool *p);
int  weft_pool_threads(const weft_pool *p);
/* Runs fn over [0,n); with p == NULL or n < grain runs inline in one chunk. */
void weft_pool_for(weft_pool *p, int64_t n, int64_t grain, weft_pool_fn fn, void *ctx);

/* ---- counter-based random bits --------------------------------------------- */
/* Random bits are a pure function of (seed, step, stream, index): no state,
 * so any thread can draw any element's bits and a resumed run draws the same.
 * `stream` identifies the consumer (a tensor id, or a fixed constant for data
 * shuffling / initialisation). */
typedef struct { uint32_t k0, k1; } weft_rng_key;
weft_rng_key weft_rng_key_make(uint64_t seed, uint64_t step, uint64_t stream);
/* 32 random bits for element `index` under `key`. */
uint32_t weft_rng_u32(weft_rng_key key, uint32_t index);
/* Uniform in [0,1) with 24 bits of resolution. */
static inline float weft_rng_unit(weft_rng_key key, uint32_t index);
/* Fills out[0..n) with weft_rng_u32(key, first + i) (vectorised). */
void weft_rng_fill_u32(weft_rng_key key, uint32_t first, uint32_t *out, int64_t n);

static inline float weft_rng_unit(weft_rng_key key, uint32_t index)
{
    return (float)(weft_rng_u32(key, index) >> 8) * (1.0f / 16777216.0f);
}

/* ---- files written whole or not at all -------------------------------------
 * weft_outfile_open opens "<path>.tmp.<pid>" for writing; commit flushes,
 * fsyncs, closes and renames it onto path; abort (or a failed commit) removes
 * the temporary, so a reader never sees a half-written file. A path that
 * exists as anything but a plain file (a link, a device) is refused. */
typedef struct { FILE *f; char *path; char *tmp; } weft_outfile;
weft_status weft_outfile_open(weft_outfile *o, const char *path);
weft_status weft_outfile_commit(weft_outfile *o);
void weft_outfile_abort(weft_outfile *o);

/* Reads a whole file into a malloc'd buffer (NUL-terminated, size excludes
 * the NUL). Errors name the path. */
weft_status weft_read_file(const char *path, char **data, size_t *size);
/* The same for a text format: a NUL byte in it is an error naming `what`
 * ("fabric", "plan") and the path. */
weft_status weft_read_text(const char *path, const char *what, char **text);

/* Writes s as a JSON string literal (quotes, backslashes and control
 * characters escaped). */
void weft_json_string(FILE *f, const char *s);

#ifdef __cplusplus
}
#endif
#endif
