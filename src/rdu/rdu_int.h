/* rdu_int.h — what the compiler's files share while lowering. */
#ifndef WEFT_RDU_INT_H
#define WEFT_RDU_INT_H

#include "graph/ops.h"
#include "weft/rdu.h"

typedef struct { weft_group_kind kind; int ops; int passes; } lw_cost;

typedef struct {
    lw_cost cost;
    bool tiled;
    int64_t rows;            /* batch extent (1 when not tiled)               */
    unsigned batched_in, partial_out;
} lw_node;

typedef struct {
    int producer;            /* group that writes it (-1: input, weight, state) */
    int updated;             /* group that updates it in place (weights, states), -1 */
    int first_reader, last_reader;
    unsigned phases_read;    /* WEFT_PHASE_* of its readers                   */
    unsigned phase_made;     /* its producer's phase (0: not made in the step) */
    bool sum;                /* complete only once its maker's last tile is done
                                (a sum over the rows, or an untiled maker's)    */
    bool read_whole;         /* read by a node that is not tiled              */
} lw_value;

/* A value as one section sees it. */
typedef struct {
    int v;
    bool made, updated;      /* in this section                               */
    bool later;              /* read by a later section                       */
    int readers, last_group; /* groups of this section that read it           */
    bool held;               /* must exist whole (not only stream by)         */
    bool resident;           /* held in PMUs (else off-chip, staged through one) */
    int pmus, first_unit;    /* its PMUs                                       */
    int ag;                  /* off-chip: its address generator's unit, else -1 */
    int64_t bytes, dram_read, dram_write;
} lw_sval;

typedef struct {
    const weft_graph *g;
    const weft_fabric *f;
    const weft_compile_opts *o;
    weft_plan *p;
    int max_pcus, max_pmus;
    lw_node *ln;             /* per node  */
    lw_value *vi;            /* per value */
    int cap_units, cap_nets;
    bool net_overflow;
} lw;

static inline int64_t lw_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

int weft_rdu_root(const weft_graph *g, int v);
/* The values node n moves as data, roots of views: its inputs but those it
 * reads for their shape only, then its outputs. v, is_in: WEFT_MAX_IN +
 * WEFT_MAX_OUT entries each; returns how many. */
int weft_rdu_operands(const weft_graph *g, const weft_node *n, int *v, bool *is_in);
int64_t weft_rdu_value_bytes(const weft_graph *g, int v);
weft_status weft_rdu_groups(lw *L);
weft_status weft_rdu_values(lw *L);
weft_status weft_rdu_sections(lw *L);
void weft_rdu_replicas(lw *L);
/* layout.c: section s's memory decisions, units and nets (appended to the plan). */
weft_status weft_rdu_layout(lw *L, int s);

/* fabric.c, for readers of documents that hold a fabric (the plan): the
 * fabric from an already parsed JSON object, checked as weft_fabric_parse
 * checks text (errors read "fabric <origin>: ..."); and where a failed
 * cJSON parse stopped, as "near line L, column C (byte B)", with ": the
 * text ends early" when it looks cut short. */
struct cJSON;
weft_status weft_fabric_from_json(weft_fabric *f, const struct cJSON *obj, const char *origin);
void weft_rdu_json_where(char *buf, size_t n, const char *json, const char *end);
/* Parses json (a `what` file: "fabric", "plan"; origin names it) into
 * *root, or an error: no text, an empty one, or not JSON with where the
 * parse stopped. The parse end is cJSON's own, not cJSON_GetErrorPtr: that
 * one is a process-wide global another thread's parse can overwrite. */
weft_status weft_rdu_json_parse(const char *json, const char *what, const char *origin, struct cJSON **root);
/* "a string", "a number", ... "nothing": what a JSON value is, for messages. */
const char *weft_rdu_json_kind(const struct cJSON *v);
/* x as the shortest %g that reads back as the same double (1e+300, not
 * 1.0000000000000001e+300); returns buf. */
const char *weft_rdu_shortest(char *buf, size_t n, double x);

#endif
