/* mpi.c — a pipeline across processes: a rank per stage and replica.
 *
 * Rank r of an S x R world runs stage r mod S of replica r / S. Every rank
 * builds the same graph, cut and schedule table and executes its stage's
 * column of the table, in the table's order, on arenas of its own. What the
 * threads of runtime.c share through one arena per microbatch crosses here
 * as messages, one per (stage pair, direction, microbatch):
 *   - after F(p, m): every value of p's forward that a later stage reads
 *     (activations, and the copy of a weight p owns that a later stage reads
 *     too), to that stage;
 *   - after B(p, m): every gradient of p's backward that an earlier stage
 *     reads, to that stage.
 * The receiver unpacks them at the values' planned offsets in its own arena
 * of m, so its nodes find them where a thread would. Receives are posted
 * ahead into a ring of staging buffers (as deep as the table's microbatches
 * in flight) and sends leave from one, so messages move while stages compute.
 * Messages between two ranks in one direction arrive in the order sent, and
 * each stage consumes its microbatches in order, so one tag per direction
 * suffices.
 *
 * Replicas sum each weight's fp32 gradient in replica order (replica 0's,
 * plus replica 1's, ...: a chain, then a broadcast from the last), the order
 * one process sums R*M microbatches in; the update then scales by 1/(R*M)
 * and every replica applies the same update to the same weights with the
 * same rounding stream (stage and update number), so the replicas stay
 * identical without ever exchanging weights.
 *
 * Every wait polls with a deadline (mpi_timeout_s): a peer that died or hangs
 * stops this rank with a message naming the peer, the microbatch and the step. */
#include "pipe/pipe_int.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int root_of(const weft_graph *g, int v)
{
    while (g->values[v].alias_of >= 0) v = g->values[v].alias_of;
    return v;
}


#ifdef WEFT_HAVE_MPI
#include <mpi.h>
#include <time.h>

typedef struct { int v, sh; int64_t bytes; } item_t;   /* a value of the arena, or shared copy sh */

typedef struct {
    int peer;                  /* the other stage (its rank in the replica's communicator) */
    item_t *it; int nit;
    int64_t size;
    uint8_t **buf;             /* depth staging buffers */
    MPI_Request *req;
    int depth;                 /* buffers allocated */
    int64_t posted;            /* receives: microbatches posted so far */
} link_t;

enum { WEFT_PIPE_MAX_STATS = 512 };

struct weft_mpi {
    MPI_Comm stage_comm;       /* the ranks of this replica; rank = stage */
    MPI_Comm rep_comm;         /* the ranks of this stage; rank = replica */
    link_t in[2][WEFT_PIPE_MAX_STAGES], out[2][WEFT_PIPE_MAX_STAGES];   /* [F=0 / B=1][peer stage] */
    int depth;
    float *red; int64_t nred;  /* the reduce's receive buffer */
    /* the batch-norm running statistics of the stage: each replica's
     * forwards move them; their values after the last update, and the
     * momentum of their moving average */
    weft_tensor *stat[WEFT_PIPE_MAX_STATS]; float *stat0[WEFT_PIPE_MAX_STATS]; float mom[WEFT_PIPE_MAX_STATS];
    int nstat;
    double timeout;
    int64_t step;              /* the update being worked on, for messages */
};

static bool mpi_started, mpi_finalize_registered;

static void finalize_at_exit(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
}

bool weft_mpi_available(void) { return true; }

weft_status weft_mpi_start(int *rank, int *size)
{
    int init = 0;
    MPI_Initialized(&init);
    if (!init) {
        int provided;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return weft_fail(WEFT_ERR_INTERNAL, "--backend mpi: MPI_Init failed");
        if (!mpi_finalize_registered) atexit(finalize_at_exit);
        mpi_finalize_registered = true;
    }
    mpi_started = true;
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return WEFT_OK;
}

int weft_mpi_rank(void)
{
    int r = 0;
    if (mpi_started) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

void weft_mpi_abort(int code)
{
    fflush(stdout);
    fflush(stderr);
    if (mpi_started) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

/* Polls the n requests r until all are done or the deadline passes, with a
 * growing sleep (ranks outnumber cores: a spinning waiter would take a core
 * from a stage with work). True when all are done. */
static bool poll_all(MPI_Request *r, int n, double timeout)
{
    int done = 0;
    double t0 = weft_now();
    long ns = 2000;
    for (;;) {
        MPI_Testall(n, r, &done, MPI_STATUSES_IGNORE);   /* until all are done, none is modified */
        if (done) return true;
        if (weft_now() - t0 > timeout) return false;
        struct timespec ts = { 0, ns };
        nanosleep(&ts, NULL);
        ns += ns / 2;
        if (ns > 200000) ns = 200000;
    }
}

/* Waits for r; on the deadline, the message fmt says what it waited for. */
static weft_status wait_for(MPI_Request *r, double timeout, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static weft_status wait_for(MPI_Request *r, double timeout, const char *fmt, ...)
{
    if (poll_all(r, 1, timeout)) return WEFT_OK;
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return weft_fail(WEFT_ERR_IO, "%s for %.0f s; stopping (a peer died or hangs)", msg, timeout);
}

/* Waits for the n requests r, each a message from or to rank peer[k] of
 * MPI_COMM_WORLD; on the deadline, names the ranks whose messages are still
 * pending. Where all ranks meet (barriers, the run's records, the weights'
 * sharing), messages go point to point through such waits, so a rank that
 * never comes is named (a collective could only say that it waited). */
static weft_status wait_all(MPI_Request *r, const int *peer, int n, double timeout, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static weft_status wait_all(MPI_Request *r, const int *peer, int n, double timeout, const char *fmt, ...)
{
    if (n == 0 || poll_all(r, n, timeout)) return WEFT_OK;
    char msg[384], who[256] = "";
    int len = 0, named[8], nn = 0, more = 0;
    for (int k = 0; k < n; k++) {
        int ok = 0;
        MPI_Test(&r[k], &ok, MPI_STATUS_IGNORE);
        bool seen = false;
        for (int j = 0; j < nn; j++) seen |= named[j] == peer[k];
        if (ok || seen) continue;
        if (nn == 8) { more = 1; continue; }
        named[nn++] = peer[k];
        len += snprintf(who + len, sizeof who - (size_t)len, "%s%d", nn > 1 ? ", " : "", peer[k]);
    }
    if (nn == 0) return WEFT_OK;   /* the last ones came while they were tested */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return weft_fail(WEFT_ERR_IO, "%s for %.0f s, with no word from rank%s %s%s; stopping (a peer died or hangs)", msg,
                     timeout, nn > 1 ? "s" : "", who, more ? ", ..." : "");
}

/* Tags of the point-to-point messages where ranks meet; the links use 0 and
 * 1 and the replicas' gradient sums 2, on communicators of their own. */
enum { TAG_BARRIER = 16, TAG_WORD, TAG_REDUCE, TAG_SHARE, TAG_SUM };

/* The ranks of c as ranks of MPI_COMM_WORLD (what messages name), and
 * room for a request per rank; *size: c's size. NULL when out of memory. */
static int *world_ranks(MPI_Comm c, int *size, MPI_Request **r)
{
    MPI_Comm_size(c, size);
    int *wr = malloc(2 * (size_t)*size * sizeof *wr);
    *r = malloc((size_t)*size * sizeof **r);
    if (!wr || !*r) { free(wr); free(*r); *r = NULL; return NULL; }
    MPI_Group gc, gw;
    MPI_Comm_group(c, &gc);
    MPI_Comm_group(MPI_COMM_WORLD, &gw);
    for (int k = 0; k < *size; k++) wr[*size + k] = k;
    MPI_Group_translate_ranks(gc, *size, wr + *size, gw, wr);
    MPI_Group_free(&gc);
    MPI_Group_free(&gw);
    return wr;
}

/* Rank root of c sends n words to every other rank of c (n == 0: a release). */
static weft_status from_root(void *buf, int n, MPI_Datatype t, int root, MPI_Comm c, int tag, double timeout,
                             const char *what)
{
    int me, size;
    MPI_Request *r;
    MPI_Comm_rank(c, &me);
    int *wr = world_ranks(c, &size, &r);
    if (!wr) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    weft_status s;
    if (me != root) {
        MPI_Irecv(buf, n, t, root, tag, c, &r[0]);
        s = wait_all(r, &wr[root], 1, timeout, "waited %s", what);
    } else {
        int m = 0;
        for (int k = 0; k < size; k++)
            if (k != root) { wr[m] = wr[k]; MPI_Isend(buf, n, t, k, tag, c, &r[m++]); }
        s = wait_all(r, wr, m, timeout, "waited %s", what);
    }
    free(wr);
    free(r);
    return s;
}

/* Every other rank of c sends n words to rank 0, which combines them into
 * buf with op in rank order, or only receives (n == 0: a barrier's arrival). */
static weft_status to_root(void *buf, int n, MPI_Datatype t, MPI_Op op, MPI_Comm c, int tag, double timeout,
                           const char *what)
{
    int me, size, tsz;
    MPI_Request *r;
    MPI_Comm_rank(c, &me);
    MPI_Type_size(t, &tsz);
    int *wr = world_ranks(c, &size, &r);
    size_t row = (size_t)n * (size_t)tsz;
    uint8_t *tmp = wr && me == 0 && n > 0 ? malloc((size_t)size * row) : NULL;
    if (!wr || (me == 0 && n > 0 && !tmp)) { free(wr); free(r); return weft_fail(WEFT_ERR_NOMEM, "out of memory"); }
    weft_status s;
    if (me != 0) {
        MPI_Isend(buf, n, t, 0, tag, c, &r[0]);
        s = wait_all(r, wr, 1, timeout, "waited %s", what);
    } else {
        for (int k = 1; k < size; k++) MPI_Irecv(tmp ? tmp + (size_t)k * row : NULL, n, t, k, tag, c, &r[k]);
        s = wait_all(r + 1, wr + 1, size - 1, timeout, "waited %s", what);
        for (int k = 1; k < size && !s && tmp; k++) MPI_Reduce_local(tmp + (size_t)k * row, buf, n, t, op);
    }
    free(wr);
    free(r);
    free(tmp);
    return s;
}

weft_status weft_mpi_bcast_u64(uint64_t *v, int n, double timeout_s)
{
    return from_root(v, n, MPI_UINT64_T, 0, MPI_COMM_WORLD, TAG_WORD, timeout_s > 0 ? timeout_s : 120, "for rank 0's word");
}

/* Every rank reports to rank 0, which releases them all once everyone has
 * come; rank 0 names a rank that never comes. */
weft_status weft_mpi_barrier(double timeout_s, const char *what)
{
    double timeout = timeout_s > 0 ? timeout_s : 120;
    char w[256];
    snprintf(w, sizeof w, "at the barrier of %s", what);
    WEFT_TRY(to_root(NULL, 0, MPI_BYTE, MPI_SUM, MPI_COMM_WORLD, TAG_BARRIER, timeout, w));
    return from_root(NULL, 0, MPI_BYTE, 0, MPI_COMM_WORLD, TAG_BARRIER, timeout, w);
}

static weft_status add_item(link_t *l, int peer, item_t it)
{
    item_t *n = realloc(l->it, (size_t)(l->nit + 1) * sizeof *n);
    if (!n) return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
    l->it = n;
    l->it[l->nit++] = it;
    l->peer = peer;
    l->size += pad64(it.bytes);
    return WEFT_OK;
}

weft_status weft_pipe_mpi_create(weft_pipe *p)
{
    weft_graph *g = p->g;
    int rank, size;
    WEFT_TRY(weft_mpi_start(&rank, &size));
    if (size != p->S * p->R)
        return weft_fail(WEFT_ERR_ARG, "--backend mpi: %d ranks, but --stages %d x --data-parallel %d needs %d (mpirun -np %d)",
                         size, p->S, p->R, p->S * p->R, p->S * p->R);
    struct weft_mpi *x = calloc(1, sizeof *x);
    if (!x) return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
    p->mpi = x;
    x->timeout = p->o.mpi_timeout_s > 0 ? p->o.mpi_timeout_s : 120;
    MPI_Comm_split(MPI_COMM_WORLD, p->replica, p->me, &x->stage_comm);
    MPI_Comm_split(MPI_COMM_WORLD, p->me, p->replica, &x->rep_comm);
    /* which stages read each arena value (through any view of it) */
    uint64_t *readers = calloc((size_t)g->nvalues, sizeof *readers);
    if (!readers) return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
    for (int i = 0; i < g->nnodes; i++)
        for (int a = 0; a < g->nodes[i].nin; a++) {
            int r = root_of(g, g->nodes[i].in[a]);
            readers[r] |= 1ull << g->nodes[i].stage;
            if (g->values[r].role == WEFT_ROLE_INPUT) p->feeds[g->nodes[i].stage] = true;
        }
    weft_status s = WEFT_OK;
    for (int v = 0; v < g->nvalues && !s; v++) {
        const weft_value *x0 = &g->values[v];
        if (x0->alias_of >= 0 || x0->producer < 0 || x0->offset < 0 || x0->role == WEFT_ROLE_PARAM ||
            x0->role == WEFT_ROLE_STATE || x0->role == WEFT_ROLE_INPUT) continue;
        const weft_node *pn = &g->nodes[x0->producer];
        if (pn->phase == WEFT_PHASE_UPDATE) continue;
        int ps = pn->stage, ph = pn->phase == WEFT_PHASE_FWD ? 0 : 1;
        int64_t bytes = weft_shape_numel(&x0->shape) * (int64_t)weft_dtype_size(x0->dtype);
        for (int c = 0; c < p->S && !s; c++) {
            if (c == ps || !(readers[v] >> c & 1)) continue;
            if ((ph == 0 && c < ps) || (ph == 1 && c > ps)) {
                s = weft_fail(WEFT_ERR_INTERNAL, "pipeline: %s of stage %d's %s is read by stage %d", x0->name, ps,
                              ph ? "backward" : "forward", c);
                break;
            }
            if (ps == p->me) s = add_item(&x->out[ph][c], c, (item_t){ v, -1, bytes });
            else if (c == p->me) s = add_item(&x->in[ph][ps], ps, (item_t){ v, -1, bytes });
        }
    }
    free(readers);
    for (int k = 0; k < p->nsh && !s; k++) {
        const shared_w *w = &p->sh[k];
        if (w->owner == p->me) s = add_item(&x->out[0][w->stage], w->stage, (item_t){ w->v, k, w->bytes });
        else if (w->stage == p->me) s = add_item(&x->in[0][w->owner], w->owner, (item_t){ w->v, k, w->bytes });
    }
    for (int ph = 0; ph < 2 && !s; ph++)   /* MPI counts are ints */
        for (int c = 0; c < p->S && !s; c++)
            if (x->out[ph][c].size > INT_MAX || x->in[ph][c].size > INT_MAX)
                s = weft_fail(WEFT_ERR_ARG, "--backend mpi: stages %d and %d would exchange %lld bytes a microbatch, "
                              "more than one MPI message holds (2 GiB); cut elsewhere or use more microbatches",
                              p->me, c, (long long)(x->out[ph][c].size > INT_MAX ? x->out[ph][c].size : x->in[ph][c].size));
    /* the batch-norm running statistics its forward updates: replicas average them */
    for (int i = 0; i < g->nnodes && !s && p->R > 1; i++) {
        const weft_node *n = &g->nodes[i];
        if (n->op != WEFT_OP_BATCHNORM || n->phase != WEFT_PHASE_FWD || n->stage != p->me) continue;
        for (int a = 0; a < n->nin && !s; a++) {
            const weft_value *v = &g->values[n->in[a]];
            if (v->role != WEFT_ROLE_STATE || v->fixed) continue;
            weft_tensor *t = weft_store_find(p->store, v->name);
            if (!t || t->dtype != WEFT_F32 || x->nstat == WEFT_PIPE_MAX_STATS) {
                s = weft_fail(WEFT_ERR_INTERNAL, "pipeline: batch-norm statistic %s: not an fp32 tensor of the store", v->name);
            } else {
                x->stat[x->nstat] = t;
                x->mom[x->nstat] = n->a.p;
                if (!(x->stat0[x->nstat++] = weft_alloc(t->nbytes))) s = weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
            }
        }
    }
    return s;
}

/* Every link, in and out, of both directions: i in [0, NLINKS). */
enum { NLINKS = 4 * WEFT_PIPE_MAX_STAGES };

static link_t *link_at(struct weft_mpi *x, int i)
{
    int c = i % WEFT_PIPE_MAX_STAGES, ph = i / WEFT_PIPE_MAX_STAGES % 2;
    return i < 2 * WEFT_PIPE_MAX_STAGES ? &x->in[ph][c] : &x->out[ph][c];
}

static void free_link(link_t *l)
{
    for (int d = 0; d < l->depth; d++) {
        if (l->req[d] != MPI_REQUEST_NULL) {
            MPI_Cancel(&l->req[d]);
            MPI_Request_free(&l->req[d]);
        }
        weft_free(l->buf[d]);
    }
    free(l->buf);
    free(l->req);
    l->buf = NULL;
    l->req = NULL;
    l->depth = 0;
}

void weft_pipe_mpi_free(weft_pipe *p)
{
    struct weft_mpi *x = p->mpi;
    if (!x) return;
    for (int i = 0; i < NLINKS; i++) {
        free_link(link_at(x, i));
        free(link_at(x, i)->it);
    }
    weft_free(x->red);
    for (int i = 0; i < x->nstat; i++) weft_free(x->stat0[i]);
    MPI_Comm_free(&x->stage_comm);
    MPI_Comm_free(&x->rep_comm);
    free(x);
    p->mpi = NULL;
}

/* Each link's ring of `depth` staging buffers. */
static weft_status provision_links(struct weft_mpi *x, int depth)
{
    if (x->depth == depth) return WEFT_OK;
    x->depth = depth;
    for (int i = 0; i < NLINKS; i++) {
        link_t *l = link_at(x, i);
        free_link(l);
        if (!l->nit) continue;
        l->buf = calloc((size_t)depth, sizeof *l->buf);
        l->req = malloc((size_t)depth * sizeof *l->req);
        if (!l->buf || !l->req) return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
        for (; l->depth < depth; l->depth++) {
            l->req[l->depth] = MPI_REQUEST_NULL;
            if (!(l->buf[l->depth] = weft_alloc((size_t)l->size)))
                return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory for message buffers");
        }
    }
    return WEFT_OK;
}

static uint8_t *item_ptr(const weft_pipe *p, const item_t *it, int slot)
{
    if (it->sh >= 0) return p->sh[it->sh].copy + (size_t)slot * (size_t)pad64(p->sh[it->sh].bytes);
    return p->arena[slot] + p->g->values[it->v].offset;
}

/* Link l's values of the arena slot into its message buffer (pack), or
 * out of it into the slot. */
static void copy_items(weft_pipe *p, const link_t *l, int slot, uint8_t *buf, bool pack)
{
    for (int k = 0; k < l->nit; k++) {
        uint8_t *v = item_ptr(p, &l->it[k], slot);
        size_t n = (size_t)l->it[k].bytes;
        if (pack) memcpy(buf, v, n);
        else memcpy(v, buf, n);
        buf += pad64(l->it[k].bytes);
    }
}

static void post_recv(weft_pipe *p, link_t *l, int ph)
{
    int d = (int)(l->posted % p->mpi->depth);
    MPI_Irecv(l->buf[d], (int)l->size, MPI_BYTE, l->peer, ph, p->mpi->stage_comm, &l->req[d]);
    l->posted++;
}

static const char *what[2] = { "the activations", "the gradients" };

/* Before F (ph 0) or B (ph 1) of microbatch m: every message for it, unpacked. */
static weft_status receive(weft_pipe *p, int ph, int64_t m)
{
    struct weft_mpi *x = p->mpi;
    int slot = (int)(m % p->narena), d = (int)(m % x->depth);
    for (int c = 0; c < p->S; c++) {
        link_t *l = &x->in[ph][c];
        if (!l->nit) continue;
        WEFT_TRY(wait_for(&l->req[d], x->timeout, "stage %d waited for %s of microbatch %lld (update %lld) from rank %d (stage %d)",
                          p->me, what[ph], (long long)(weft_pipe_gmb(p, m) + 1), (long long)x->step, p->replica * p->S + c, c));
        copy_items(p, l, slot, l->buf[d], false);
        if (l->posted < p->nmb) post_recv(p, l, ph);
    }
    return WEFT_OK;
}

/* After F (ph 0) or B (ph 1) of microbatch m: its messages, sent. */
static weft_status send(weft_pipe *p, int ph, int64_t m)
{
    struct weft_mpi *x = p->mpi;
    int slot = (int)(m % p->narena), d = (int)(m % x->depth);
    for (int c = 0; c < p->S; c++) {
        link_t *l = &x->out[ph][c];
        if (!l->nit) continue;
        WEFT_TRY(wait_for(&l->req[d], x->timeout, "stage %d waited for rank %d (stage %d) to take %s of microbatch %lld",
                          p->me, p->replica * p->S + c, c, what[ph], (long long)(weft_pipe_gmb(p, m - x->depth) + 1)));
        copy_items(p, l, slot, l->buf[d], true);
        MPI_Isend(l->buf[d], (int)l->size, MPI_BYTE, c, ph, x->stage_comm, &l->req[d]);
        if (p->replica == 0) p->stats.sent_bytes[p->me] += l->size;
    }
    return WEFT_OK;
}

weft_status weft_pipe_mpi_run(weft_pipe *p)
{
    struct weft_mpi *x = p->mpi;
    int s = p->me;
    weft_stage_stats *ss = &p->stats.st[s];
    WEFT_TRY(provision_links(x, p->sc.buffers > 0 ? p->sc.buffers : 1));
    for (int i = 0; i < x->nstat; i++) memcpy(x->stat0[i], x->stat[i]->data, x->stat[i]->nbytes);
    for (int ph = 0; ph < 2; ph++)
        for (int c = 0; c < p->S; c++) {
            link_t *l = &x->in[ph][c];
            l->posted = 0;
            for (int d = 0; d < x->depth && l->nit && l->posted < p->nmb; d++) post_recv(p, l, ph);
        }
    weft_status r = WEFT_OK;
    for (int64_t k = 0; k < p->sc.count[s] && !r; k++) {
        int64_t i = p->sc.order[s][k];
        const weft_pipe_action *a = &p->sc.a[i];
        x->step = p->st[s].version + 1;
        double w0 = weft_now();
        if (a->kind != WEFT_PA_U) r = receive(p, a->kind == WEFT_PA_F ? 0 : 1, a->mb);
        ss->idle_s += weft_now() - w0;
        if (r) break;
        double t0 = weft_now(), c0 = weft_thread_cpu_now();
        r = weft_pipe_do(p, a);
        p->dur[i] = weft_thread_cpu_now() - c0;
        ss->busy_s += weft_now() - t0;
        if (!r && a->kind != WEFT_PA_U) {
            double b0 = weft_now();
            r = send(p, a->kind == WEFT_PA_F ? 0 : 1, a->mb);
            ss->blocked_s += weft_now() - b0;
        }
    }
    for (int ph = 0; ph < 2 && !r; ph++)   /* the last messages delivered */
        for (int c = 0; c < p->S && !r; c++)
            for (int d = 0; d < x->depth && x->out[ph][c].nit && !r; d++)
                r = wait_for(&x->out[ph][c].req[d], x->timeout, "stage %d waited for rank %d (stage %d) to take its last messages",
                             s, p->replica * p->S + c, c);
    for (int t = 0; t < p->S; t++)   /* the other stages ran their updates on their ranks */
        if (t != s) p->st[t].version += p->sc.count[s] ? p->nmb / p->M : 0;
    if (!r) r = weft_pipe_mpi_check_replicas(p);
    return r;
}

/* Batch norm's running statistics after an update, as one process running
 * the replicas' microbatches one after another would have them. Its moving
 * average v <- a v + (1 - a) x is linear: from v0 (after the last update),
 * replica r's M forwards leave v_r = a^M v0 + d_r, and one process's R*M
 * forwards in replica order a^(RM) v0 + sum_r a^((R-1-r)M) d_r. So each
 * replica weighs its d_r, the weighted sum runs in replica order like the
 * gradients', and a^(RM) v0 is added: equal up to rounding (the tests: 1e-5). */
weft_status weft_pipe_mpi_combine_stats(weft_pipe *p)
{
    struct weft_mpi *x = p->mpi;
    for (int i = 0; i < x->nstat; i++) {
        float *v = x->stat[i]->data, *v0 = x->stat0[i];
        int64_t n = (int64_t)(x->stat[i]->nbytes / sizeof(float));
        double a = 1.0 - (double)x->mom[i], aM = pow(a, p->M), w = pow(a, (double)(p->R - 1 - p->replica) * p->M);
        double aRM = pow(a, (double)p->R * p->M);
        for (int64_t k = 0; k < n; k++) v[k] = (float)(w * ((double)v[k] - aM * v0[k]));
        WEFT_TRY(weft_pipe_mpi_reduce(p, v, n));
        for (int64_t k = 0; k < n; k++) v0[k] = v[k] = (float)((double)v[k] + aRM * v0[k]);
    }
    return WEFT_OK;
}

/* An allreduce through the communicator's rank 0, point to point, so a
 * rank that never comes is named: rank 0 combines every rank's words in
 * rank order and sends the result back. */
static weft_status allreduce_op(void *buf, int n, MPI_Datatype t, MPI_Op op, MPI_Comm c, double timeout,
                               const char *what_, int64_t update)
{
    char w[128];
    snprintf(w, sizeof w, "for the other ranks' %s (update %lld)", what_, (long long)update);
    WEFT_TRY(to_root(buf, n, t, op, c, TAG_REDUCE, timeout, w));
    return from_root(buf, n, t, 0, c, TAG_REDUCE, timeout, w);
}

static weft_status allreduce(void *buf, int n, MPI_Datatype t, MPI_Comm c, double timeout, const char *what_,
                             int64_t update)
{
    return allreduce_op(buf, n, t, MPI_SUM, c, timeout, what_, update);
}

/* The replicas of stage s hold the same weights: a hash of its weights'
 * bytes, compared across them (the smallest and the largest must agree). */
weft_status weft_pipe_mpi_check_replicas(weft_pipe *p)
{
    if (!p->mpi || p->R < 2) return WEFT_OK;
    const stage_t *st = &p->st[p->me];
    if (p->replica == 1 && st->nw && getenv("WEFT_FAULT_REPLICA"))   /* fault injection (docs/MPI.md): a replica gone astray */
        ((uint8_t *)st->w[0].master)[0] ^= 1;
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < st->nw; i++) {
        const uint8_t *b = st->w[i].master;
        for (int64_t k = 0; k < st->w[i].bytes; k++) h = (h ^ b[k]) * 1099511628211ull;
    }
    for (int i = 0; i < p->mpi->nstat; i++) {
        const uint8_t *b = p->mpi->stat[i]->data;
        for (size_t k = 0; k < p->mpi->stat[i]->nbytes; k++) h = (h ^ b[k]) * 1099511628211ull;
    }
    uint64_t m[2] = { h, ~h };   /* one reduction: the smallest h, and ~ the largest */
    WEFT_TRY(allreduce_op(m, 2, MPI_UINT64_T, MPI_MIN, p->mpi->rep_comm, p->mpi->timeout, "weight hashes",
                          (int64_t)st->version));
    if (m[0] != ~m[1])
        return weft_fail(WEFT_ERR_INTERNAL, "stage %d: the replicas' weights or statistics differ after update %lld", p->me,
                         (long long)st->version);
    return WEFT_OK;
}

/* acc (n floats): this replica's gradient sum in, all replicas' out, summed
 * as (((r0 + r1) + r2) + ...) and then broadcast from the last replica. */
weft_status weft_pipe_mpi_reduce(weft_pipe *p, float *acc, int64_t n)
{
    struct weft_mpi *x = p->mpi;
    int r = p->replica, R = p->R;
    if (n > x->nred) {
        weft_free(x->red);
        if (!(x->red = weft_alloc((size_t)n * sizeof(float)))) return weft_fail(WEFT_ERR_NOMEM, "pipeline: out of memory");
        x->nred = n;
    }
    MPI_Request q;
    for (int64_t b = 0; b < n; b += 1 << 28) {   /* counts are ints */
        int c = (int)(n - b < (1 << 28) ? n - b : (1 << 28));
        if (r > 0) {
            MPI_Irecv(x->red, c, MPI_FLOAT, r - 1, 2, x->rep_comm, &q);
            WEFT_TRY(wait_for(&q, x->timeout, "stage %d, replica %d waited for replica %d's gradient sum (update %lld) "
                              "from rank %d", p->me, r, r - 1, (long long)x->step, (r - 1) * p->S + p->me));
            for (int j = 0; j < c; j++) acc[b + j] = x->red[j] + acc[b + j];
        }
        if (r + 1 < R) {
            MPI_Isend(acc + b, c, MPI_FLOAT, r + 1, 2, x->rep_comm, &q);
            p->stats.reduce_bytes[p->me] += (int64_t)c * 4;
            WEFT_TRY(wait_for(&q, x->timeout, "stage %d, replica %d waited for replica %d (rank %d) to take its gradient "
                              "sum (update %lld)", p->me, r, r + 1, (r + 1) * p->S + p->me, (long long)x->step));
        }
        char what[96];
        snprintf(what, sizeof what, "for the summed gradient of stage %d (update %lld)", p->me, (long long)x->step);
        WEFT_TRY(from_root(acc + b, c, MPI_FLOAT, R - 1, x->rep_comm, TAG_SUM, x->timeout, what));
    }
    return WEFT_OK;
}

/* Each rank measured its own stage: the replica's ranks pool their
 * records (each entry is one rank's, the others' zeros), so every rank
 * holds the whole run's; losses are averaged over the replicas. */
weft_status weft_pipe_mpi_gather_stats(weft_pipe *p)
{
    struct weft_mpi *x = p->mpi;
    weft_pipe_stats *ps = &p->stats;
    double t = x->timeout;
    int64_t u = p->st[p->me].version;
    WEFT_TRY(allreduce(p->dur, (int)p->sc.n, MPI_DOUBLE, x->stage_comm, t, "action times", u));
    WEFT_TRY(allreduce(ps->loss, (int)p->nmb, MPI_DOUBLE, x->stage_comm, t, "losses", u));
    WEFT_TRY(allreduce(ps->delay, (int)(p->S * p->nmb), MPI_INT, x->stage_comm, t, "delays", u));
    WEFT_TRY(allreduce(ps->loss, (int)p->nmb, MPI_DOUBLE, x->rep_comm, t, "losses", u));
    for (int64_t m = 0; m < p->nmb; m++) ps->loss[m] /= p->R;
    double st[WEFT_PIPE_MAX_STAGES * 4] = { 0 };
    const weft_stage_stats *me = &ps->st[p->me];
    st[p->me * 4] = me->busy_s; st[p->me * 4 + 1] = me->idle_s; st[p->me * 4 + 2] = me->blocked_s;
    st[p->me * 4 + 3] = me->lr_scale_last;
    WEFT_TRY(allreduce(st, p->S * 4, MPI_DOUBLE, x->stage_comm, t, "stage records", u));
    for (int s = 0; s < p->S; s++) {
        ps->st[s].busy_s = st[s * 4]; ps->st[s].idle_s = st[s * 4 + 1]; ps->st[s].blocked_s = st[s * 4 + 2];
        ps->st[s].lr_scale_last = st[s * 4 + 3];
    }
    int64_t b[2 * WEFT_PIPE_MAX_STAGES] = { 0 };
    b[p->me] = ps->sent_bytes[p->me];
    b[WEFT_PIPE_MAX_STAGES + p->me] = ps->reduce_bytes[p->me];
    WEFT_TRY(allreduce(b, 2 * WEFT_PIPE_MAX_STAGES, MPI_INT64_T, x->stage_comm, t, "byte counts", u));
    for (int s = 0; s < p->S; s++) { ps->sent_bytes[s] = b[s]; ps->reduce_bytes[s] = b[WEFT_PIPE_MAX_STAGES + s]; }
    return WEFT_OK;
}

weft_status weft_pipe_mpi_share_store(weft_pipe *p)
{
    if (!p->mpi) return WEFT_OK;
    int *stage_of = malloc(((size_t)p->store->n + 1) * sizeof *stage_of);
    if (!stage_of) return weft_fail(WEFT_ERR_NOMEM, "out of memory");
    weft_pipe_tensor_stages(p, stage_of);
    /* each tensor from its stage's rank of replica 0 to every other rank,
     * point to point, every message posted at once */
    int me, n;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    int64_t nreq = 0;
    for (int i = 0; i < p->store->n; i++)
        if (stage_of[i] >= 0)
            nreq += (int64_t)((p->store->t[i].nbytes >> 30) + 1) * (stage_of[i] == me ? n - 1 : 1);
    MPI_Request *q = malloc((size_t)(nreq + 1) * sizeof *q);
    int *peer = malloc((size_t)(nreq + 1) * sizeof *peer);
    weft_status s = q && peer ? WEFT_OK : weft_fail(WEFT_ERR_NOMEM, "out of memory");
    int64_t k = 0;
    for (int i = 0; i < p->store->n && !s; i++) {
        if (stage_of[i] < 0) continue;
        weft_tensor *t = &p->store->t[i];
        for (size_t b = 0; b < t->nbytes; b += (size_t)1 << 30) {
            size_t c = t->nbytes - b < ((size_t)1 << 30) ? t->nbytes - b : (size_t)1 << 30;
            uint8_t *at = (uint8_t *)t->data + b;
            if (stage_of[i] != me) {
                peer[k] = stage_of[i];
                MPI_Irecv(at, (int)c, MPI_BYTE, stage_of[i], TAG_SHARE, MPI_COMM_WORLD, &q[k++]);
            } else
                for (int r = 0; r < n; r++)
                    if (r != me) {
                        peer[k] = r;
                        MPI_Isend(at, (int)c, MPI_BYTE, r, TAG_SHARE, MPI_COMM_WORLD, &q[k++]);
                    }
        }
    }
    if (!s) s = wait_all(q, peer, (int)k, p->mpi->timeout, "waited for the weights' sharing (update %lld)",
                         (long long)p->st[p->me].version);
    free(q);
    free(peer);
    free(stage_of);
    return s;
}

#else /* no MPI in this build */

bool weft_mpi_available(void) { return false; }
weft_status weft_mpi_start(int *rank, int *size)
{
    *rank = 0; *size = 1;
    return weft_fail(WEFT_ERR_ARG, "--backend mpi: this weft was built without MPI (install libopenmpi-dev, rebuild)");
}
int weft_mpi_rank(void) { return 0; }
void weft_mpi_abort(int code) { exit(code); }
weft_status weft_mpi_barrier(double timeout_s, const char *what)
{
    (void)timeout_s; (void)what;
    return WEFT_OK;
}
weft_status weft_mpi_bcast_u64(uint64_t *v, int n, double timeout_s)
{
    (void)v; (void)n; (void)timeout_s;
    return WEFT_OK;
}
weft_status weft_pipe_mpi_create(weft_pipe *p)
{
    (void)p;
    int r, n;
    return weft_mpi_start(&r, &n);
}
weft_status weft_pipe_mpi_run(weft_pipe *p) { (void)p; return weft_fail(WEFT_ERR_INTERNAL, "no MPI"); }
weft_status weft_pipe_mpi_reduce(weft_pipe *p, float *acc, int64_t n)
{
    (void)p; (void)acc; (void)n;
    return weft_fail(WEFT_ERR_INTERNAL, "no MPI");
}
weft_status weft_pipe_mpi_gather_stats(weft_pipe *p) { (void)p; return WEFT_OK; }
weft_status weft_pipe_mpi_check_replicas(weft_pipe *p) { (void)p; return WEFT_OK; }
weft_status weft_pipe_mpi_combine_stats(weft_pipe *p) { (void)p; return WEFT_OK; }
weft_status weft_pipe_mpi_share_store(weft_pipe *p) { (void)p; return WEFT_OK; }
void weft_pipe_mpi_free(weft_pipe *p) { (void)p; }

#endif

/* A store tensor belongs to the stage whose update reads it (a weight and
 * its optimizer state), else to the first stage that reads it (batch-norm
 * statistics, which the forward updates). */
void weft_pipe_tensor_stages(const weft_pipe *p, int *stage_of)
{
    const weft_graph *g = p->g;
    for (int i = 0; i < p->store->n; i++) stage_of[i] = -1;
    int *owner = malloc((size_t)g->nvalues * sizeof *owner);
    bool *upd = calloc((size_t)g->nvalues, sizeof *upd);
    if (!owner || !upd) { free(owner); free(upd); return; }
    for (int v = 0; v < g->nvalues; v++) owner[v] = -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int a = 0; a < g->nodes[i].nin; a++) {
            int v = root_of(g, g->nodes[i].in[a]), st = g->nodes[i].stage;
            if (upd[v]) continue;
            if (g->nodes[i].phase == WEFT_PHASE_UPDATE) { owner[v] = st; upd[v] = true; }
            else if (owner[v] < 0 || st < owner[v]) owner[v] = st;
        }
    for (int v = 0; v < g->nvalues; v++) {
        if (owner[v] < 0 || (g->values[v].role != WEFT_ROLE_PARAM && g->values[v].role != WEFT_ROLE_STATE)) continue;
        weft_tensor *t = weft_store_find(p->store, g->values[v].name);
        if (t) stage_of[t - p->store->t] = owner[v];
    }
    free(owner); free(upd);
}

int weft_pipe_my_stage(const weft_pipe *p) { return p->mpi ? p->me : 0; }
int weft_pipe_my_replica(const weft_pipe *p) { return p->mpi ? p->replica : 0; }
