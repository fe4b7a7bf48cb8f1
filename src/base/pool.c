/* pool.c — a persistent pool of worker threads.
 *
 * The threads are started once by weft_pool_create and live until
 * weft_pool_destroy joins them; weft_pool_for only publishes a job and wakes
 * them, so a training step pays no thread start-up.
 *
 * Hand-off. A job (fn, ctx, n, chunk count) is written under the mutex,
 * then the generation counter is bumped with a release store and the workers
 * are broadcast. A worker that sees a new generation (by an acquire load,
 * either while spinning briefly or after waking on the condition variable)
 * reads the job, runs its chunk (if the job has one for it: a job of fewer
 * than nthreads * grain items has fewer chunks) and decrements `pending`;
 * the one that takes it to zero signals the caller. The caller runs chunk 0
 * itself, then spins briefly on `pending` before sleeping on its own
 * condition variable. Every worker reports on every job, so the job fields
 * are not rewritten while any worker may still read them.
 *
 * Use. One weft_pool_for at a time per pool. A call made while the pool is
 * busy (from inside fn, or from another thread) does not deadlock: it runs
 * inline on the calling thread, which is correct because results must not
 * depend on chunking anyway.
 */
#include "weft/base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* How long a waiting thread spins before it sleeps on a condition
 * variable: long enough to catch back-to-back weft_pool_for calls of a
 * training step (a wake-up through the kernel costs ~10 us here, a spinning
 * hand-off ~1 us), short enough not to burn a shared core for long. */
#define SPIN_SECONDS 300e-6
enum { MAX_THREADS = 1024 };

typedef struct {
    struct weft_pool *pool;
    int index;                 /* chunk this worker runs, 1 .. nthreads-1 */
    pthread_t tid;
} worker;

struct weft_pool {
    int nthreads;              /* including the caller's thread */
    worker *workers;           /* nthreads - 1 of them */

    pthread_mutex_t mu;
    pthread_cond_t wake;       /* a new job or stop: workers wait here */
    pthread_cond_t done;       /* pending reached zero: the caller waits here */

    _Atomic uint64_t gen;      /* bumped once per job */
    _Atomic int pending;       /* workers yet to finish the current job */
    _Atomic bool busy;         /* a weft_pool_for is in progress */
    bool stop;                 /* under mu */

    /* The current job: written before gen is bumped, read-only until
     * pending is zero again. */
    weft_pool_fn fn;
    void *ctx;
    int64_t n;
    int nchunks;
};

/* Chunk t of [0, n) split into `parts` contiguous pieces whose sizes differ
 * by at most one; no intermediate exceeds n. */
static void chunk_bounds(int64_t n, int parts, int t, int64_t *begin, int64_t *end)
{
    int64_t q = n / parts, r = n % parts;
    *begin = q * t + (t < r ? t : r);
    *end = *begin + q + (t < r ? 1 : 0);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    struct weft_pool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        uint64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g == seen) {
            double deadline = weft_now() + SPIN_SECONDS;
            for (unsigned s = 1; g == seen; s++) {
                cpu_relax();
                g = atomic_load_explicit(&p->gen, memory_order_acquire);
                if (s % 64 == 0 && weft_now() > deadline) break;
            }
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen && !p->stop)
                pthread_cond_wait(&p->wake, &p->mu);
            bool stop = p->stop && g == seen;
            pthread_mutex_unlock(&p->mu);
            if (stop) return NULL;
        }
        seen = g;
        /* Every worker reports, with or without a chunk, so that the job
         * is not replaced while a worker may still be reading it. */
        if (w->index < p->nchunks) {
            int64_t b, e;
            chunk_bounds(p->n, p->nchunks, w->index, &b, &e);
            if (e > b) p->fn(p->ctx, b, e);
        }
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void stop_and_join(struct weft_pool *p, int started)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < started; i++) pthread_join(p->workers[i].tid, NULL);
}

/* nthreads counts the caller's thread; 0 means one per online CPU. */
weft_status weft_pool_create(weft_pool **out, int nthreads)
{
    *out = NULL;
    if (nthreads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = c < 1 ? 1 : c > MAX_THREADS ? MAX_THREADS : (int)c;
    }
    if (nthreads < 0 || nthreads > MAX_THREADS)
        return weft_fail(WEFT_ERR_ARG, "thread pool: %d threads (want 1 .. %d, or 0 for one per CPU)",
                         nthreads, MAX_THREADS);
    struct weft_pool *p = weft_calloc(sizeof *p);
    if (!p) return weft_fail(WEFT_ERR_NOMEM, "thread pool: out of memory");
    p->nthreads = nthreads;
    p->nchunks = 1;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->busy, false);
    if (nthreads > 1) {
        p->workers = weft_calloc(sizeof(worker) * (size_t)(nthreads - 1));
        if (!p->workers) {
            weft_free(p);
            return weft_fail(WEFT_ERR_NOMEM, "thread pool: out of memory");
        }
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 0; i < nthreads - 1; i++) {
        p->workers[i].pool = p;
        p->workers[i].index = i + 1;
        int rc = pthread_create(&p->workers[i].tid, NULL, worker_main, &p->workers[i]);
        if (rc != 0) {
            stop_and_join(p, i);
            pthread_cond_destroy(&p->done);
            pthread_cond_destroy(&p->wake);
            pthread_mutex_destroy(&p->mu);
            weft_free(p->workers);
            weft_free(p);
            return weft_fail(WEFT_ERR_INTERNAL, "thread pool: starting thread %d of %d: %s",
                             i + 1, nthreads, strerror(rc));
        }
    }
    *out = p;
    return WEFT_OK;
}

void weft_pool_destroy(weft_pool *p)
{
    if (!p) return;
    stop_and_join(p, p->nthreads - 1);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    weft_free(p->workers);
    weft_free(p);
}

int weft_pool_threads(const weft_pool *p) { return p ? p->nthreads : 1; }

void weft_pool_for(weft_pool *p, int64_t n, int64_t grain, weft_pool_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    /* One chunk per thread, but none smaller than grain. */
    int64_t want = n / grain;
    int nchunks = p ? (want < p->nthreads ? (int)want : p->nthreads) : 1;
    if (nchunks <= 1 || atomic_exchange_explicit(&p->busy, true, memory_order_acquire)) {
        fn(ctx, 0, n);
        return;
    }

    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->nchunks = nchunks;
    atomic_store_explicit(&p->pending, p->nthreads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    int64_t b, e;
    chunk_bounds(n, nchunks, 0, &b, &e);
    fn(ctx, b, e);

    if (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) {
        double deadline = weft_now() + SPIN_SECONDS;
        for (unsigned s = 1; atomic_load_explicit(&p->pending, memory_order_acquire) != 0; s++) {
            cpu_relax();
            if (s % 64 == 0 && weft_now() > deadline) break;
        }
    }
    if (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    atomic_store_explicit(&p->busy, false, memory_order_release);
}
