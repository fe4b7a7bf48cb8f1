/* pipe_int.h — the pipeline runtime's insides, shared by runtime.c (set-up,
 * threads, the run) and stage.c (what one action does). */
#ifndef WEFT_PIPE_INT_H
#define WEFT_PIPE_INT_H

#include "weft/pipe.h"

#include <pthread.h>

typedef struct {
    int v, grad, rows;         /* weight, its gradient, a sparse gradient's rows (-1) */
    void *master;              /* the weight's bytes in the store                  */
    int64_t n, bytes, gbytes, rbytes;
    weft_dtype dt, gdt;
    float *acc;                /* M > 1: the step's gradient sum                  */
    void *gbuf, *rbuf;         /* what the update reads                            */
    float *delta, *prev;       /* discrepancy correction: moving average of the change, last weights */
    void *est;                 /* its estimate of the forward's weights             */
} owned;

/* A weight read by stage `stage` but owned (updated) by `owner` < stage:
 * the copy the owner held at F(owner, m), one per arena. */
typedef struct { int v, stage, owner; int64_t bytes; uint8_t *copy; } shared_w;

typedef struct {
    owned *w; int nw;
    int64_t wbytes;            /* all owned weights, as stored                      */
    uint8_t *stash;            /* pipedream: inflight[s] versions of all its weights */
    int nstash;
    int64_t fcount, bcount, version;
    double gamma;              /* discrepancy decay D^(1/tau)                       */
} stage_t;

struct weft_pipe {
    weft_graph *g;
    weft_store *store;
    weft_pipe_opts o;
    weft_optim_hp hp;
    uint64_t seed;
    int S, M, threads;
    weft_exec *ex[WEFT_PIPE_MAX_STAGES];
    stage_t st[WEFT_PIPE_MAX_STAGES];
    shared_w *sh; int nsh;
    uint8_t **arena; int narena;
    int ncopies;               /* arenas the shared weights' copies are sized for     */
    weft_schedule sc;
    bool have_sc;
    weft_pipe_stats stats;
    double *dur;
    int *fver;                 /* version read by F(s, m): [s * nmb + m]           */
    int64_t nmb;               /* microbatches of the run                           */
    float *tmp[WEFT_PIPE_MAX_STAGES]; /* per stage: TMP_FLOATS of scratch          */
    int64_t mb0, upd0;         /* the run's first microbatch and update            */
    const weft_pipe_io *io;
    /* across processes (mpi.c): this rank's stage and replica, of R */
    int me, replica, R;
    struct weft_mpi *mpi;
    bool feeds[WEFT_PIPE_MAX_STAGES];   /* the stage feeds the microbatch's inputs into its arena:
                                           the first (one arena for all stages), or on MPI
                                           every stage that reads one */
    /* threaded mode */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t fdone[WEFT_PIPE_MAX_STAGES], bdone[WEFT_PIPE_MAX_STAGES], fstart[WEFT_PIPE_MAX_STAGES];
    bool abort;
    weft_status err;
    char errmsg[512];
};

enum { TMP_FLOATS = 4096 };

/* Copies of weights are packed at 64-byte boundaries, as the store keeps them. */
static inline int64_t pad64(int64_t b) { return (b + 63) & ~(int64_t)63; }

/* The microbatch of the whole job that run-relative microbatch m of this
 * replica is: with R replicas, step t's R*M microbatches are replica 0's M,
 * then replica 1's, ... — the data one process sees with R*M microbatches. */
static inline int64_t weft_pipe_gmb(const weft_pipe *p, int64_t m)
{
    int64_t l = p->mb0 + m;
    if (p->R <= 1) return l;
    return (l / p->M * p->R + p->replica) * p->M + l % p->M;
}

/* mpi.c: the set-up of a rank's messages, the run of its stage's actions,
 * the sum of a weight's gradient over the replicas (in replica order),
 * and the teardown. */
weft_status weft_pipe_mpi_create(weft_pipe *p);
weft_status weft_pipe_mpi_run(weft_pipe *p);
weft_status weft_pipe_mpi_reduce(weft_pipe *p, float *acc, int64_t n);
weft_status weft_pipe_mpi_gather_stats(weft_pipe *p);
weft_status weft_pipe_mpi_check_replicas(weft_pipe *p);
weft_status weft_pipe_mpi_combine_stats(weft_pipe *p);
void weft_pipe_mpi_free(weft_pipe *p);

/* Runs one action of the table (stage.c); run-relative microbatch a->mb. */
weft_status weft_pipe_do(weft_pipe *p, const weft_pipe_action *a);
/* Weight prediction: the stage's current version's slot, before a run. */
void weft_pipe_predict_init(weft_pipe *p, int s);

#endif
