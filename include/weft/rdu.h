/* weft/rdu.h — the dataflow way (DESIGN.md section 5): a reconfigurable
 * fabric described as data, a compiler that lays a whole training step out on
 * it in space (lowering, unit allocation, sections, placement, routing), and
 * the plan it writes — the contract with the simulator. */
#ifndef WEFT_RDU_H
#define WEFT_RDU_H

#include "weft/exec.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the fabric ----------------------------------------------------------------
 * A grid of rows x cols sites; each site holds one unit, a Pattern Compute
 * Unit (PCU) or a Pattern Memory Unit (PMU), by the pattern, and a switch.
 * Switches join their four neighbours with links in each direction (vector,
 * scalar and control networks). Address generators (AGs), the doors to
 * off-chip memory, sit on the left and right edges, each attached to the
 * switch of an edge site. */
typedef enum { WEFT_SITE_PCU, WEFT_SITE_PMU } weft_site_kind;
typedef enum { WEFT_PATTERN_CHECKERBOARD, WEFT_PATTERN_COLUMNS } weft_fabric_pattern;
enum { WEFT_FABRIC_MAX_NOTES = 16 };

typedef struct {
    char name[64];
    int rows, cols;
    weft_fabric_pattern pattern;   /* checkerboard: (r+c) even is a PCU; columns: even columns are PCUs */
    /* PCU: a SIMD pipeline of `lanes` lanes and `stages` stages; one vector in per cycle */
    int pcu_lanes, pcu_stages, pcu_regs;
    int pcu_vec_in, pcu_vec_out, pcu_scal_in, pcu_scal_out;
    /* PMU: a banked scratchpad; one vector read and one written per cycle */
    int64_t pmu_bytes;
    int pmu_banks;
    /* network: links per direction between neighbouring switches */
    int vec_links, scal_links, ctrl_links;
    int link_latency;              /* cycles per hop */
    /* off-chip */
    int ags;                       /* address generators, split over the two edges */
    int dram_channels;
    double dram_gbps;              /* all channels together, GB/s (1e9 bytes) */
    double dram_latency_ns;
    double clock_ghz;
    bool fp32, bf16;               /* precisions its PCUs compute in */
    int word_bytes;                /* bytes per lane of a vector (4: fp32 words) */
    /* where the figures come from */
    int nsources, nassumptions;
    char sources[WEFT_FABRIC_MAX_NOTES][200];
    char assumptions[WEFT_FABRIC_MAX_NOTES][200];
} weft_fabric;

/* Reads a fabric: "plasticine" or "sn10" (the presets), or a JSON file. Every
 * field is checked; an error names the file and the field. */
weft_status weft_fabric_load(weft_fabric *f, const char *name_or_path);
/* Parses JSON text (origin names it in errors). */
weft_status weft_fabric_parse(weft_fabric *f, const char *json, const char *origin);
/* The presets' names, NULL-terminated. */
const char *const *weft_fabric_presets(void);
/* Writes f as JSON (the format weft_fabric_parse reads). */
void weft_fabric_write_json(FILE *out, const weft_fabric *f);
/* Prints f for a person: its units, peak, memory, network, off-chip, notes. */
void weft_fabric_print(FILE *out, const weft_fabric *f);

static inline int weft_fabric_sites(const weft_fabric *f) { return f->rows * f->cols; }
static inline weft_site_kind weft_fabric_site_kind(const weft_fabric *f, int site)
{
    int r = site / f->cols, c = site % f->cols;
    int even = f->pattern == WEFT_PATTERN_CHECKERBOARD ? (r + c) % 2 == 0 : c % 2 == 0;
    return even ? WEFT_SITE_PCU : WEFT_SITE_PMU;
}
int weft_fabric_count(const weft_fabric *f, weft_site_kind k);
/* Peak FLOP/s: every PCU lane and stage a fused multiply-add each cycle. */
double weft_fabric_peak_flops(const weft_fabric *f);
/* The switch site address generator a (0 .. ags-1) is attached to: the
 * first half down the left edge, the rest down the right, evenly spaced;
 * -1 for an index out of range. */
int weft_fabric_ag_site(const weft_fabric *f, int a);

/* Links: link id = site * 4 + dir (dir 0 north (row - 1), 1 east (col + 1),
 * 2 south, 3 west); a link off the grid does not exist. */
enum { WEFT_DIR_N, WEFT_DIR_E, WEFT_DIR_S, WEFT_DIR_W };
static inline int weft_fabric_links(const weft_fabric *f) { return 4 * f->rows * f->cols; }
/* The site a link leads to, or -1 when it leaves the grid. */
int weft_fabric_link_dest(const weft_fabric *f, int link);

/* ---- the netlist: what placement and routing see ------------------------------
 * Units of three kinds (a PCU, a PMU, an AG) joined by two-pin nets, each
 * carrying `rate` vectors per cycle in the steady state (a stream to several
 * readers is one net per reader). */
typedef enum { WEFT_UNIT_PCU, WEFT_UNIT_PMU, WEFT_UNIT_AG } weft_unit_kind;

typedef struct {
    int nunits;
    const weft_unit_kind *kind;  /* nunits */
    int nnets;
    const int *src, *dst;        /* nnets: unit indices */
    const double *rate;          /* nnets: vectors per cycle */
} weft_netlist;

typedef enum { WEFT_PLACE_ANNEAL, WEFT_PLACE_GREEDY, WEFT_PLACE_RANDOM } weft_place_method;

typedef struct {
    double cost;          /* sum over nets of rate x Manhattan distance, at the end */
    double cost_start;    /* before annealing (the greedy seed placement); greedy
                             and random: = cost                                     */
    int64_t moves, accepted; /* annealing only                                      */
    double seconds;
} weft_place_stats;

/* Places every unit on a free slot of its kind: PCUs and PMUs on sites of
 * that kind (out[u] = site), AGs on address generators (out[u] = AG index).
 * Fails (naming what is short) when the units do not fit. Deterministic for a
 * seed. Greedy: breadth-first over the nets from the most connected unit,
 * each on the free slot nearest the rate-weighted median of its placed
 * neighbours. Annealing starts from greedy and keeps the best placement it
 * saw. Placement minimises rate x distance and knows nothing of link
 * capacity: a placement can still be unroutable at full rate. */
weft_status weft_place(const weft_fabric *f, const weft_netlist *nl, weft_place_method m, uint64_t seed,
                       int *out, weft_place_stats *st);

typedef struct {
    int *first;           /* nnets + 1: net n's links are links[first[n] .. first[n+1]) */
    int *links;           /* link ids, source to destination                        */
    double *load;         /* weft_fabric_links(f): vectors per cycle each link carries */
} weft_routes;

typedef struct {
    int64_t wirelength;   /* sum of hops over all nets                             */
    double worst_use;     /* max over links of load / vec_links                    */
    int overused;         /* links above capacity at the end (0: legal)             */
    int iterations;       /* negotiated-congestion rounds                           */
    double seconds;
} weft_route_stats;

/* Routes every net over the vector network by negotiated congestion
 * (PathFinder: rip up and reroute, raising the price of over-used links each
 * round) until no link carries more than vec_links vectors per cycle, or
 * max_iter rounds pass (0: 50), or 10 rounds make no progress; then the best
 * round seen (least worst use) is returned, st->overused > 0 (not an error).
 * place: from weft_place. The caller frees with weft_routes_free. */
weft_status weft_route(const weft_fabric *f, const weft_netlist *nl, const int *place, int max_iter,
                       weft_routes *r, weft_route_stats *st);
void weft_routes_free(weft_routes *r);
/* The switch site of unit u placed at place[u] (an AG's edge site); -1 for
 * a slot out of range. */
int weft_unit_site(const weft_fabric *f, weft_unit_kind k, int slot);

/* ---- the compiler and its plan --------------------------------------------------
 * Lowering: every node of the training graph (forward, backward, update) but
 * views becomes a compute group — a chain of L PCUs (an op needing more
 * pipeline stages or ports than one PCU has spans several) — and chains of
 * elementwise nodes on the same rows fuse into one group. A group is
 * replicated r times, each replica computing a tile: rows [row0, row0+rows)
 * of every node's batch axis (weft_node_tiling; a node that cannot be tiled
 * keeps r = 1). Values that live across the step (weights, optimizer state,
 * activations saved for the backward, gradients) and the streams between
 * groups get PMUs, or stream through address generators from off-chip memory.
 * When the groups do not fit the fabric at once, the graph is cut into
 * sections in node order that run one after another, each reconfiguring
 * the fabric. See docs/COMPILER.md. */
typedef enum { WEFT_GROUP_GEMM, WEFT_GROUP_MAP, WEFT_GROUP_MOVE } weft_group_kind;
typedef enum {
    WEFT_ROLE_U_COMPUTE,           /* PCU: one link of a replica's chain                 */
    WEFT_ROLE_U_WEIGHT, WEFT_ROLE_U_STATE, WEFT_ROLE_U_ACT, WEFT_ROLE_U_GRAD, /* PMU: holds (part of) a value */
    WEFT_ROLE_U_BUFFER,            /* PMU: a double buffer where a stream crosses units  */
    WEFT_ROLE_U_DRAM               /* AG: a door to off-chip memory                      */
} weft_unit_role;

typedef struct {
    weft_group_kind kind;
    int section;
    int first, count;      /* its nodes: plan.group_nodes[first .. first+count) in order */
    int chain;             /* PCUs per replica (L)                                 */
    int replicas;          /* r                                                    */
    int stage_ops;         /* pipeline stage operations per element (all nodes)    */
    int64_t flops;         /* per step                                             */
    int64_t cycles;        /* per step on one replica: the whole work / 1 chain     */
    int64_t io_whole;      /* vectors one stream must carry to every replica whole
                              (a weight read by each tile, a partial sum written)  */
    int64_t io_rows;       /* vectors of the largest stream split over replicas     */
    bool tiled;            /* every node tileable along its rows                   */
} weft_group;
/* Cycles per step of one of r replicas: its share of the work, or the time
 * its largest input or output stream takes at a vector a cycle, whichever is
 * longer. */
int64_t weft_group_cycles(const weft_group *g, int r);

typedef struct {
    weft_unit_kind kind;
    weft_unit_role role;
    int section;
    int group;             /* compute: its group; -1                               */
    int replica, link;     /* compute: which replica, which PCU of its chain        */
    int value;             /* memory: the graph value it holds part of; -1          */
    int64_t bytes;         /* memory: bytes it holds (a buffer: both halves)        */
    int64_t cycles;        /* compute: cycles per step of its tile                  */
    int slot;              /* placement: site (PCU, PMU) or AG index                */
} weft_unit;

typedef struct {
    int src, dst;          /* units                                                */
    int value;             /* the graph value it carries                           */
    int64_t bytes;         /* per step                                             */
    double rate;           /* vectors per cycle at the section's cycles            */
    bool whole;            /* its reader needs all of it before it starts: an
                              untiled reader, or a sum over rows (done only after
                              its maker's last tile)                              */
    bool writeback;        /* an update writing its weight or state back into the
                              PMUs it read them from: this step's reads take the
                              old value, so nothing waits for it                  */
} weft_net;

typedef struct {
    int first_group, ngroups;
    int first_unit, nunits;
    int first_net, nnets;
    int pcus, pmus, ags;
    int64_t cycles;         /* steady-state cycles: the slowest replica's           */
    int64_t onchip_bytes;   /* held in PMUs                                         */
    int64_t dram_read, dram_write; /* bytes per step through the AGs                */
    int bound_unit;         /* the unit whose cycles set `cycles`                   */
    weft_place_stats place;
    weft_route_stats route;
    double traffic;         /* sum over nets of rate x hops: vector-hops a cycle     */
    double rate_scale;      /* 1, or < 1 when the network could not carry the rates:
                               the section runs slower by 1 / rate_scale          */
} weft_section;

typedef struct {
    weft_fabric fabric;
    char model[64];
    int batch;
    weft_precision precision;
    const weft_graph *g;    /* not owned                                           */
    int ngroups;    weft_group *groups;
    int *group_nodes;       /* node indices, by group                              */
    int *node_group;        /* per node: its group, -1 (a view)                    */
    int nunits;     weft_unit *units;
    int nnets;      weft_net *nets;
    int nsections;  weft_section *sections;
    weft_routes routes;     /* all nets, ids as in `nets`; loads per section below */
    double *link_load;      /* nsections x weft_fabric_links: vectors/cycle          */
    int64_t dram_bytes;     /* per step, all sections                               */
    int64_t onchip_bytes;   /* the largest section's                                */
    int64_t wirelength;
    double traffic;         /* all sections' sum of rate x hops                    */
    double worst_use;
    double seconds_lower, seconds_place, seconds_route;
} weft_plan;

typedef struct {
    weft_place_method place;
    uint64_t seed;
    int route_iters;        /* 0: the router's default                              */
    int max_pcus, max_pmus; /* 0: the fabric's; less to force sections (tests)       */
} weft_compile_opts;

/* Lowers g (a training graph: forward, autodiff, optimizer; verified) onto
 * f, places and routes every section. Progress lines go to the log. */
weft_status weft_rdu_compile(const weft_graph *g, const weft_fabric *f, const weft_compile_opts *o, weft_plan *p);
void weft_plan_free(weft_plan *p);
/* The plan as JSON (docs/PLAN.md). */
weft_status weft_plan_write_json(FILE *out, const weft_plan *p);
/* A person's summary: units by kind, on-chip bytes, off-chip bytes per step,
 * wirelength, worst link use, seconds per phase, sections. */
void weft_plan_print(FILE *out, const weft_plan *p);
/* Sections the network slowed (rate_scale < 1: their routes are legal only
 * at a lower rate). */
int weft_plan_network_bound(const weft_plan *p);
/* Cycles per training step: the sections' cycles, one after another. */
int64_t weft_plan_cycles(const weft_plan *p);
const char *weft_unit_role_name(weft_unit_role r);

/* The functional check: runs one training step of g (the graph p was
 * compiled from) on the CPU tile by tile in the plan's order, and the same
 * step with exec on the same inputs and weights, and compares the loss, the
 * weights' gradients, the updated weights and the optimizer state. Errors
 * are max |a - b| over the tensor's largest |a| (tiles sum a weight's
 * gradient in another order than exec). */
typedef struct {
    double loss_err, grad_err, weight_err, state_err, worst_err; /* NaN: a NaN */
    double tolerance;       /* fp32 1e-4; bf16 policies 5e-2 (partial sums rounded) */
    char worst[64];         /* the tensor with the worst error */
    int compared;           /* tensors compared */
    int64_t tiles;          /* node tiles run */
} weft_plan_check_result;
weft_status weft_plan_check(const weft_plan *p, weft_graph *g, uint64_t seed, weft_plan_check_result *r);
/* The same with the weights and constants a model brings (an imported one):
 * fill(ctx, store) overwrites both runs' stores after their initialisation. */
weft_status weft_plan_check_with(const weft_plan *p, weft_graph *g, uint64_t seed,
                                 weft_status (*fill)(void *ctx, weft_store *st), void *ctx, weft_plan_check_result *r);

/* ---- the simulator's input: a plan read back from its JSON ----------------------
 * Everything the simulator needs, and nothing of the graph: the fabric, and
 * per group, unit, net and section the plan's fields (docs/PLAN.md). */
typedef struct {
    weft_group_kind kind;
    int section, chain, replicas;
    int64_t flops, cycles, io_whole, io_rows, replica_cycles;
    int64_t rows;          /* the largest batch extent of its nodes               */
    bool tiled;
    int64_t in_bytes, out_bytes; /* its nodes' data inputs and outputs (values not
                              made inside the group), for the kernel-by-kernel run */
    char op[32];           /* its first node's op                                 */
    int nnodes;
} weft_sim_group;

typedef struct {
    weft_unit_kind kind;
    weft_unit_role role;
    int section, group, replica, link, value;
    int64_t bytes, cycles;
    int slot;
} weft_sim_unit;

typedef struct {
    int src, dst, value;
    int64_t bytes;
    double rate;
    bool whole, writeback;
    int first_link, nlinks;  /* into weft_sim_input.links                         */
} weft_sim_net;

typedef struct {
    int first_group, ngroups, first_unit, nunits, first_net, nnets;
    int64_t cycles;         /* the compiler's estimate                             */
    int64_t dram_read, dram_write;
    double rate_scale;
} weft_sim_section;

typedef struct {
    weft_fabric fabric;
    char model[64], precision[16];
    int batch;
    int ngroups;    weft_sim_group *groups;
    int nunits;     weft_sim_unit *units;
    int nnets;      weft_sim_net *nets;
    int nsections;  weft_sim_section *sections;
    int nlinks;     int *links;
} weft_sim_input;

/* Reads a plan (weft compile -o); *in is overwritten on entry (not freed)
 * and left zeroed on failure. Every field is checked against the others
 * (ids in range, units on slots of their kind, routes joining their nets'
 * ends, sections' ranges covering the arrays); an error names the file and
 * the field, e.g. "plan p.json: nets[12].links[3]: ...". */
weft_status weft_sim_read(const char *path, weft_sim_input *in);
/* The same from JSON text (origin names it in errors). */
weft_status weft_sim_parse(const char *json, const char *origin, weft_sim_input *in);
void weft_sim_input_free(weft_sim_input *in);

/* ---- the simulator (docs/SIMULATOR.md) ----------------------------------------- */
typedef enum { WEFT_SIM_SPATIAL, WEFT_SIM_KERNEL } weft_sim_mode;

typedef struct {
    weft_sim_mode mode;
    int waves;              /* tokens per net per step (0: 256)                      */
    int buffer;             /* tokens a reader buffers per net (0: 2, double buffer) */
    int config_bytes;       /* configuration a unit loads from off-chip at a section
                               switch or kernel launch (0: 1024)                     */
} weft_sim_opts;

typedef struct {
    weft_sim_mode mode;
    int64_t cycles;         /* per training step                                     */
    int64_t compute_cycles; /* of which running (sections or kernels)                */
    int64_t config_cycles;  /* of which reconfiguring                                */
    double seconds, samples_per_s, flops_per_s, peak_fraction;
    double flops;           /* per step                                              */
    int64_t dram_bytes;     /* per step                                              */
    int nsections;          /* spatial: sections; kernel: kernels (groups)           */
    int64_t *section_cycles;/* per section (spatial) or kernel                       */
    double *dram_busy;      /* per section: cycles the off-chip memory was busy      */
    double *unit_busy;      /* spatial: per unit, busy cycles                        */
    double *unit_critical;  /* spatial: per unit, cycles its firings spent on the
                               critical path of its section                          */
    double *link_busy;      /* spatial: nsections x weft_fabric_links, busy cycles   */
    int64_t tokens_sent, tokens_taken; /* conservation: equal at the end             */
    char bound[160];        /* what bounds the step most (the critical resource)     */
    char critical[256];     /* spatial: the ops on the longest section's critical path */
    double seconds_sim;     /* the simulation's own wall time                        */
} weft_sim_result;

/* Runs one training step of the plan, spatially (the plan as compiled) or
 * kernel by kernel (each group alone on the fabric with as many replicas as it
 * can use, its inputs read from and its outputs written to off-chip memory).
 * Fails (naming the section and unit or net) on a deadlock or when a token
 * made is not taken: the conservation check. */
weft_status weft_simulate(const weft_sim_input *in, const weft_sim_opts *o, weft_sim_result *r);
void weft_sim_result_free(weft_sim_result *r);

#ifdef __cplusplus
}
#endif
#endif
