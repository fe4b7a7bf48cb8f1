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
 * first half down the left edge, the rest down the right, evenly spaced. */
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
    double cost_start;    /* before annealing (the greedy seed placement)           */
    int64_t moves, accepted;
    double seconds;
} weft_place_stats;

/* Places every unit on a free slot of its kind: PCUs and PMUs on sites of
 * that kind (out[u] = site), AGs on address generators (out[u] = AG index).
 * Fails (naming what is short) when the units do not fit. Deterministic for a
 * seed. Annealing starts from the greedy placement. */
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
 * round) until no link carries more than vec_links vectors per cycle or
 * max_iter rounds pass (st->overused > 0 then; not an error). place: from
 * weft_place. The caller frees with weft_routes_free. */
weft_status weft_route(const weft_fabric *f, const weft_netlist *nl, const int *place, int max_iter,
                       weft_routes *r, weft_route_stats *st);
void weft_routes_free(weft_routes *r);
/* The switch site of unit u placed at place[u] (an AG's edge site). */
int weft_unit_site(const weft_fabric *f, weft_unit_kind k, int slot);

#ifdef __cplusplus
}
#endif
#endif
