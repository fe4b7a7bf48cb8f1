/* weft/pipe.h — pipeline-parallel training (DESIGN.md section 5): a
 * partitioner that cuts the training graph into stages, schedule tables
 * (GPipe, 1F1B, PipeDream, PipeMare), and a runtime that runs a table with a
 * thread per stage — or the same table in one thread, in table order — and
 * measures what every stage did. */
#ifndef WEFT_PIPE_H
#define WEFT_PIPE_H

#include "weft/exec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- partition ---------------------------------------------------------------
 * The forward nodes that read data (not only weights) are the "cut items",
 * in graph order; stage s runs items [start[s], start[s+1]). A node that
 * reads only weights (mixed's casts) goes with its first reader; a backward
 * node with the forward node it differentiates (weft_node.origin); an update
 * node with the first stage that reads its weight, its owner. A weight read
 * by later stages too (tied embeddings) reaches them as the copy the owner
 * held when the microbatch passed it. The pass reorders the nodes — forward
 * by stage, backward by stage descending, updates last — so that one
 * microbatch run stage by stage is a run of the graph in order, and plans
 * memory again. */
enum { WEFT_PIPE_MAX_STAGES = 64, WEFT_PIPE_MAX_SLACK = 16 };

typedef struct {
    int stages;
    int nitems;                       /* cut items of the graph            */
    int start[WEFT_PIPE_MAX_STAGES + 1]; /* first item of each stage; start[stages] = nitems */
    double cost[WEFT_PIPE_MAX_STAGES];   /* seconds per microbatch: forward + backward + update,
                                            estimated or measured (see `measured`) */
    int nodes[WEFT_PIPE_MAX_STAGES];     /* nodes of every phase               */
    int64_t param_bytes[WEFT_PIPE_MAX_STAGES];  /* weights the stage owns      */
    int64_t act_bytes[WEFT_PIPE_MAX_STAGES];    /* its forward outputs per microbatch */
    int64_t send_bytes[WEFT_PIPE_MAX_STAGES];   /* activations it passes to later stages */
    bool measured;
} weft_partition;

/* Cuts g (built, autodiffed, with update nodes; planned or not) into
 * `stages` stages. split: NULL to balance by cost, or stages-1 increasing
 * item indices where stages 1.. begin (`--split`). node_seconds: NULL to
 * estimate each node's time from weft_node_flops/bytes, or measured seconds
 * per node of this graph (weft_exec_node_seconds). Balancing minimises the
 * largest stage's cost over all contiguous cuts. */
weft_status weft_pipe_partition(weft_graph *g, int stages, const int *split, const double *node_seconds,
                                weft_partition *p);
/* Before autodiff (and before the precision pass: under mixed, weights
 * reach their ops through casts): splits every forward node whose
 * estimated work (forward and backward) exceeds a quarter of a stage's share
 * (1/S of the whole) into pieces of about a sixth of a share along its batch
 * (weft_pass_split_batch), so S stages can balance. vmap as the pass's;
 * *nsplit: nodes split. */
weft_status weft_pipe_split_heavy(weft_graph *g, int S, int *vmap, int *nsplit);
/* A forward node that is a cut item (reads data, not only weights). */
bool weft_pipe_is_item(const weft_graph *g, int node);
/* "conv2d relu maxpool ..." — the op names of stage s's forward nodes. */
void weft_partition_ops(const weft_graph *g, int s, char *buf, size_t n);

/* ---- schedules --------------------------------------------------------------- */
typedef enum { WEFT_PIPE_GPIPE, WEFT_PIPE_1F1B, WEFT_PIPE_PIPEDREAM, WEFT_PIPE_PIPEMARE } weft_pipe_kind;
const char *weft_pipe_kind_name(weft_pipe_kind k);
weft_status weft_pipe_kind_parse(const char *s, weft_pipe_kind *k);
/* PipeDream and PipeMare never flush: a stage updates its weights after
 * every M of its own backward passes, while other microbatches are in flight. */
bool weft_pipe_async(weft_pipe_kind k);

typedef enum { WEFT_PA_F, WEFT_PA_B, WEFT_PA_U } weft_pa_kind;

typedef struct {
    int stage;
    weft_pa_kind kind;
    int64_t mb;          /* microbatch (from 0, over the whole run); U: -1      */
    int64_t update;      /* U: the stage's update number (from 1); else 0      */
    int64_t slot;        /* time slot: start time with F = 1, B = 2, U = 1 units */
} weft_pipe_action;

typedef struct {
    weft_pipe_kind kind;
    int S, M;
    int slack;                /* asynchronous: iterations of slack per stage boundary */
    int64_t steps;            /* updates of every stage                      */
    int64_t n;                /* actions                                     */
    weft_pipe_action *a;      /* in execution order of the one-thread mode: by slot, then stage */
    int64_t *order[WEFT_PIPE_MAX_STAGES]; /* each stage's actions, in its own order (indices into a) */
    int64_t count[WEFT_PIPE_MAX_STAGES];
    int inflight[WEFT_PIPE_MAX_STAGES];   /* most microbatches between F and B at a stage */
    int buffers;              /* most microbatches in flight at once: activation arenas */
    int64_t makespan;         /* in slots                                    */
    int tau[WEFT_PIPE_MAX_STAGES]; /* steady-state delay of each stage: updates of its weights
                                  between a microbatch's forward and its backward (largest) */
} weft_schedule;

/* The table of `steps` updates of S stages, M microbatches each. slack K
 * (asynchronous schedules only; 0 otherwise): stage s runs (K+1)(S-1-s)
 * forwards ahead of its first backward instead of S-1-s, so each stage
 * boundary holds K whole iterations of slack: a stage that runs late does
 * not stall its neighbours at once, and the delays grow to (K+1)(S-1-s)
 * updates (K = 1 doubles them: about the delays PipeMare analyses, of a
 * pipeline whose forwards and backwards run at once). */
weft_status weft_schedule_build(weft_schedule *sc, weft_pipe_kind k, int S, int M, int slack, int64_t steps);
void weft_schedule_free(weft_schedule *sc);
/* The delay each (stage, microbatch) gets by the table: updates of stage s
 * between F(s, mb) and B(s, mb). delay[s * nmb + mb], nmb = steps * M. */
void weft_schedule_delays(const weft_schedule *sc, int *delay);
/* One line per time slot, a column per stage ("F3", "B2", "U1", "."). */
void weft_schedule_print(FILE *f, const weft_schedule *sc, int64_t max_slots);
/* The bubble of a synchronous schedule with equal stages, in closed form:
 * (S-1)/(M+S-1) (GPipe; PipeDream-Flush has the same). */
double weft_bubble_closed_form(int S, int M);

/* Replays the table with per-action durations (seconds) and each stage on
 * its own device: an action starts when its stage is free and its inputs
 * are done (F(s,m) after F(s-1,m); B(s,m) after B(s+1,m), or F(S-1,m) on the
 * last stage), and F(s,m) waits for room in a queue of `queue` microbatches
 * to stage s+1. start/finish: n entries (out). Returns the makespan, or a
 * negative value when the table deadlocks (the error names the action). */
double weft_schedule_replay(const weft_schedule *sc, const double *dur, int queue, double *start, double *finish);

/* ---- runtime ------------------------------------------------------------------ */
typedef struct {
    weft_pipe_kind kind;
    int stages, microbatches;
    bool serial;            /* one thread, table order (deterministic order too) */
    int threads;            /* serial: threads within a node (0: 1)          */
    int queue;              /* capacity of each queue between stages (0: the table's buffers) */
    int slack;              /* asynchronous schedules: weft_schedule_build's slack */
    double lr_delay_scale;  /* pipemare: C in lr = min(lr_sync, C / tau); 0: no rule */
    int64_t lr_delay_warmup;/* pipemare: the rule fades out linearly over this many updates (0: never) */
    bool discrepancy;       /* pipemare: discrepancy correction */
    double discrepancy_decay; /* D: the moving average's decay is D^(1/tau) */
    bool predict;           /* pipemare: each forward reads its weights extrapolated tau updates
                               ahead, w + tau * delta (delta as discrepancy correction's), and its
                               backward the same, stashed (SpecTrain's weight prediction) */
    bool cpu_node_clock;    /* time every node by its thread's CPU clock (weft_pipe_node_seconds
                               then holds work, not waits: for measuring a balance) */
    bool mpi;               /* a process per stage and replica (weft_mpi_start first): this
                               process runs stage rank % S of replica rank / S; activations and
                               gradients cross stages as MPI messages (src/pipe/mpi.c) */
    int replicas;           /* mpi: R data-parallel replicas (0: 1); the world has S x R ranks */
    double mpi_timeout_s;   /* mpi: a wait for a peer longer than this stops the run (0: 120 s) */
    bool check_replicas;    /* mpi: compare the replicas' weights after every update (else after
                               every run) */
} weft_pipe_opts;

/* What the runtime asks of its caller: a microbatch's inputs, and the
 * synchronous learning rate of update t (from 1). Called from stage
 * threads: feed from the first stage's, progress from the last stage's. */
typedef struct {
    void *ctx;
    weft_status (*feed)(void *ctx, weft_exec *ex, int64_t mb);
    double (*lr)(void *ctx, int64_t update);
    void (*progress)(void *ctx, int64_t mb, double loss);
} weft_pipe_io;

typedef struct {
    double busy_s, idle_s, blocked_s;  /* wall clock, per stage thread (threaded mode)      */
    double work_s;          /* the stage's measured work: CPU time of its actions           */
    double vbusy_s;         /* on the virtual clock: = work_s                               */
    int tau_min, tau_max;   /* delays it produced                                          */
    double tau_mean;
    double lr_scale_last;   /* pipemare: the last update's lr / lr_sync                    */
    int64_t stash_bytes;    /* pipedream: weight versions kept beside the weights          */
    double spread;          /* (p90 - p10) / median of its backward times: how much one
                               action's time varies on this host (what "steady" takes out) */
} weft_stage_stats;

typedef struct {
    double wall_s;          /* the run, wall clock                                      */
    double makespan_s;      /* the virtual clock: every stage its own device             */
    double utilization;     /* sum of work / (S x makespan), virtual clock                */
    double bubble;          /* 1 - utilization                                           */
    double makespan_steady_s, utilization_steady; /* the same with every action charged its
                               stage's median for its kind: the host's noise taken out      */
    int64_t microbatches;
    weft_stage_stats st[WEFT_PIPE_MAX_STAGES];
    int64_t stash_bytes;    /* all stages                                                */
    int64_t arena_bytes;    /* activation arenas: buffers x planned arena                 */
    double *loss;           /* per microbatch (owned by the pipe; valid until the next run) */
    int *delay;             /* measured delay per (stage, microbatch): [s * microbatches + mb] */
    double *start, *finish; /* virtual clock per action of the table                      */
    int64_t sent_bytes[WEFT_PIPE_MAX_STAGES];   /* mpi: bytes each stage's rank sent to other
                               stages (activations, gradients, shared weights), replica 0   */
    int64_t reduce_bytes[WEFT_PIPE_MAX_STAGES]; /* mpi: bytes it sent reducing gradients over
                               the replicas                                                 */
} weft_pipe_stats;

typedef struct weft_pipe weft_pipe;

/* g: partitioned (weft_pipe_partition) with the same S; the store holds its
 * weights and state. hp: the optimizer's hyperparameters (lr is io's). */
weft_status weft_pipe_create(weft_pipe **out, weft_graph *g, weft_store *store, const weft_pipe_opts *o,
                             const weft_optim_hp *hp, uint64_t seed);
void weft_pipe_free(weft_pipe *p);
/* Runs `steps` updates of every stage from update `first` (from 1) on:
 * microbatches first*M-M .. The schedule of the run is built here. */
weft_status weft_pipe_run(weft_pipe *p, int64_t first, int64_t steps, const weft_pipe_io *io);
const weft_pipe_stats *weft_pipe_get_stats(const weft_pipe *p);
/* A resumed run: every stage has made `updates` updates already. */
void weft_pipe_set_done(weft_pipe *p, int64_t updates);
/* Seconds each node of the graph has spent in this pipeline's runs, on its
 * stage's thread (nnodes entries): the measured costs a partition can be
 * refined with (weft_pipe_partition's node_seconds). */
void weft_pipe_node_seconds(const weft_pipe *p, double *out);
const weft_schedule *weft_pipe_get_schedule(const weft_pipe *p);

/* ---- across processes (MPI) ------------------------------------------------------ */
/* Whether this build has MPI. */
bool weft_mpi_available(void);
/* Initialises MPI once (finalised at exit); *rank, *size of the world. */
weft_status weft_mpi_start(int *rank, int *size);
int weft_mpi_rank(void);           /* 0 without MPI */
/* After a run on MPI: every rank gets the weights and optimizer state of
 * every stage from replica 0's rank of that stage, so any rank can evaluate
 * or save the whole model. */
weft_status weft_pipe_mpi_share_store(weft_pipe *p);
/* The stage that updates each tensor of the store (weights, optimizer
 * state, batch-norm statistics): stage_of[i] for store tensor i, -1 none. */
void weft_pipe_tensor_stages(const weft_pipe *p, int *stage_of);
/* The stage and replica this process runs (mpi), 0 and 0 otherwise. */
int weft_pipe_my_stage(const weft_pipe *p);
int weft_pipe_my_replica(const weft_pipe *p);
/* A barrier over the world (mpi), for checkpoints; a timeout stops it. */
weft_status weft_mpi_barrier(double timeout_s, const char *what);
/* Rank 0's v[0..n) on every rank (mpi; a timeout stops it). */
weft_status weft_mpi_bcast_u64(uint64_t *v, int n, double timeout_s);
/* Stops every rank (MPI_Abort) after printing msg: a rank that failed. */
void weft_mpi_abort(int code);

#ifdef __cplusplus
}
#endif
#endif
