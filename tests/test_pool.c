/* test_pool.c — the persistent thread pool: every index covered once, one
 * contiguous chunk per thread with the caller taking chunk 0, inline runs
 * for NULL pools and small n, the same threads reused call after call,
 * nested calls, and many back-to-back calls (run it under TSan too). */
#include "weft/base.h"
#include "test_util.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long tid(void) { return (long)syscall(SYS_gettid); }

enum { MAXCHUNK = 64 };

typedef struct {
    int32_t *hits;                 /* hits[i]: times index i was visited */
    _Atomic int nchunks;
    int64_t begin[MAXCHUNK], end[MAXCHUNK];
    long who[MAXCHUNK];            /* thread id that ran the chunk */
} cover_ctx;

static void cover(void *vctx, int64_t b, int64_t e)
{
    cover_ctx *c = vctx;
    int k = atomic_fetch_add(&c->nchunks, 1);
    if (k < MAXCHUNK) { c->begin[k] = b; c->end[k] = e; c->who[k] = tid(); }
    for (int64_t i = b; i < e; i++) c->hits[i]++;
}

/* Runs one weft_pool_for and checks: each index once; chunks contiguous,
 * sorted they tile [0, n); `want_chunks` of them; the one starting at 0 ran
 * on the caller. */
static void check_cover(weft_pool *p, int64_t n, int64_t grain, int want_chunks)
{
    cover_ctx *c = weft_calloc(sizeof *c);
    c->hits = weft_calloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    weft_pool_for(p, n, grain, cover, c);
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; i++) wrong += c->hits[i] != 1;
    int k = atomic_load(&c->nchunks);
    CHECKF(wrong == 0, "n=%lld grain=%lld: %lld indices not visited exactly once",
           (long long)n, (long long)grain, (long long)wrong);
    CHECKF(k == want_chunks, "n=%lld grain=%lld threads=%d: %d chunks, want %d",
           (long long)n, (long long)grain, weft_pool_threads(p), k, want_chunks);
    int64_t covered = 0, min_len = INT64_MAX, max_len = 0;
    bool caller_first = k == 0;
    for (int j = 0; j < k && j < MAXCHUNK; j++) {
        int64_t len = c->end[j] - c->begin[j];
        covered += len;
        if (len < min_len) min_len = len;
        if (len > max_len) max_len = len;
        if (c->begin[j] == 0) caller_first = c->who[j] == tid();
    }
    CHECK(covered == n);
    CHECKF(k == 0 || max_len - min_len <= 1, "chunk sizes %lld..%lld", (long long)min_len, (long long)max_len);
    CHECK(caller_first);
    weft_free(c->hits);
    weft_free(c);
}

static void test_cover(void)
{
    /* no pool, and n below grain: one chunk on the caller */
    check_cover(NULL, 1000, 1, 1);
    check_cover(NULL, 0, 1, 0);
    for (int t = 1; t <= 4; t++) {
        weft_pool *p = NULL;
        CHECK_OK(weft_pool_create(&p, t));
        CHECK(weft_pool_threads(p) == t);
        check_cover(p, 0, 1, 0);
        check_cover(p, 1, 1, 1);
        check_cover(p, 99, 100, 1);                /* n < grain: inline */
        check_cover(p, 1000003, 1, t);             /* one chunk per thread */
        check_cover(p, 1000003, 0, t);             /* grain 0 means 1 */
        check_cover(p, 3, 1, t < 3 ? t : 3);       /* more threads than items */
        check_cover(p, 250, 100, t < 2 ? t : 2);   /* no chunk below grain */
        weft_pool_destroy(p);
    }
    CHECK(weft_pool_threads(NULL) == 1);
    weft_pool_destroy(NULL);
}

/* The pool's threads are started once: over many calls the chunks run on
 * at most nthreads distinct thread ids (Linux ids are not reused soon). */
typedef struct {
    _Atomic long ids[8];
    _Atomic int nids;
} ids_ctx;

static void record_id(void *vctx, int64_t b, int64_t e)
{
    (void)b; (void)e;
    ids_ctx *c = vctx;
    long me = tid();
    int n = atomic_load(&c->nids);
    for (int i = 0; i < n && i < 8; i++)
        if (atomic_load(&c->ids[i]) == me) return;
    int k = atomic_fetch_add(&c->nids, 1);
    if (k < 8) atomic_store(&c->ids[k], me);
}

static void test_persistent(void)
{
    weft_pool *p = NULL;
    CHECK_OK(weft_pool_create(&p, 3));
    ids_ctx c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < 2000; i++) weft_pool_for(p, 3, 1, record_id, &c);
    /* each thread records its own id once, the first time it runs */
    CHECKF(atomic_load(&c.nids) == 3, "%d distinct threads over 2000 calls, want 3", atomic_load(&c.nids));
    weft_pool_destroy(p);
}

/* A call from inside fn does not deadlock (it runs inline). */
typedef struct {
    weft_pool *p;
    int64_t *sums;      /* one per outer index */
} nest_ctx;

static void inner(void *vctx, int64_t b, int64_t e)
{
    _Atomic int64_t *sum = vctx;
    int64_t s = 0;
    for (int64_t i = b; i < e; i++) s += i;
    atomic_fetch_add(sum, s);
}

static void outer(void *vctx, int64_t b, int64_t e)
{
    nest_ctx *c = vctx;
    for (int64_t i = b; i < e; i++) {
        _Atomic int64_t s = 0;
        weft_pool_for(c->p, 1000, 1, inner, (void *)&s);
        c->sums[i] = atomic_load(&s);
    }
}

static void test_nested(void)
{
    weft_pool *p = NULL;
    CHECK_OK(weft_pool_create(&p, 2));
    int64_t sums[8] = { 0 };
    nest_ctx c = { p, sums };
    weft_pool_for(p, 8, 1, outer, &c);
    int bad = 0;
    for (int i = 0; i < 8; i++) bad += sums[i] != 999 * 1000 / 2;
    CHECK(bad == 0);
    weft_pool_destroy(p);
}

/* Many back-to-back small jobs: the caller clears y with plain stores, the
 * chunks fill it with plain stores, the caller sums it. Exercises the
 * hand-off (spin and sleep paths) and its memory ordering; TSan reports a
 * race if either direction lacks a happens-before edge. */
typedef struct { const int32_t *x; int32_t *y; } twice_ctx;

static void twice(void *vctx, int64_t b, int64_t e)
{
    twice_ctx *c = vctx;
    for (int64_t i = b; i < e; i++) c->y[i] = 2 * c->x[i];
}

static void test_many_calls(void)
{
    enum { N = 10007 };
    int32_t *x = weft_alloc(sizeof(int32_t) * N), *y = weft_alloc(sizeof(int32_t) * N);
    int64_t want = 0;
    for (int i = 0; i < N; i++) { x[i] = (i * 7919) % 1000 - 500; want += 2 * x[i]; }
    for (int t = 2; t <= 4; t++) {
        weft_pool *p = NULL;
        CHECK_OK(weft_pool_create(&p, t));
        int bad = 0;
        twice_ctx c = { x, y };
        for (int rep = 0; rep < 3000; rep++) {
            memset(y, 0, sizeof(int32_t) * N);
            weft_pool_for(p, N, 1, twice, &c);
            int64_t s = 0;
            for (int i = 0; i < N; i++) s += y[i];
            bad += s != want;
            if (rep % 500 == 0) usleep(2000);   /* let the workers fall asleep */
        }
        CHECKF(bad == 0, "%d of 3000 sums wrong with %d threads", bad, t);
        weft_pool_destroy(p);
    }
    weft_free(x);
    weft_free(y);
}

static void test_create_errors(void)
{
    weft_pool *p = (weft_pool *)&p;
    CHECK(weft_pool_create(&p, -1) == WEFT_ERR_ARG);
    CHECK(p == NULL);
    CHECK(strstr(weft_errmsg(), "-1") != NULL);
    CHECK(weft_pool_create(&p, 100000) == WEFT_ERR_ARG);
    CHECK_OK(weft_pool_create(&p, 0));   /* one per CPU */
    CHECK(weft_pool_threads(p) >= 1);
    weft_pool_destroy(p);
}

int main(void)
{
    test_cover();
    test_persistent();
    test_nested();
    test_many_calls();
    test_create_errors();
    return test_summary();
}
