/* test_rdu_plan_read.c — the simulator's door: plans compiled here, written
 * as JSON and read back field for field (groups' data in and out against a
 * count from the graph); then a table of broken plans, each refused with a
 * message naming the field at fault; truncations and random byte edits
 * never crash the reader. */
#include "test_util.h"
#include "rdu_test_util.h"
#include "rdu/rdu_int.h"
#include "weft/models.h"
#include "weft/rdu.h"

#include <cjson/cJSON.h>
#include <string.h>

static const zoo_case mlp = { "mlp", 8, { 0 }, WEFT_OPT_SGD };
static const zoo_case gpt = { "gpt-mini", 2, { .layers = 1, .heads = 2, .d_model = 16, .ctx = 8, .vocab = 256 },
                              WEFT_OPT_ADAMW };

/* Compiles z onto a preset and writes the plan's JSON (malloc'd) to *text. */
static bool compile(const zoo_case *z, weft_precision prec, const char *fabric, const weft_compile_opts *o,
                    weft_graph **g, weft_plan *p, char **text)
{
    *g = train_graph(z, prec);
    if (!*g) return false;
    weft_fabric f;
    CHECK_OK(weft_fabric_load(&f, fabric));
    weft_status s = weft_rdu_compile(*g, &f, o, p);
    CHECKF(!s, "%s on %s: %s", z->name, fabric, weft_errmsg());
    if (s) { weft_graph_free(*g); return false; }
    snprintf(p->model, sizeof p->model, "%s", z->name);
    p->batch = z->batch;
    size_t len;
    FILE *mf = open_memstream(text, &len);
    CHECK_OK(weft_plan_write_json(mf, p));
    fclose(mf);
    return true;
}

static bool is_empty(const weft_sim_input *in)
{
    static const weft_sim_input zero;
    return !memcmp(in, &zero, sizeof zero);
}

/* A group's data in (values its nodes read, but for their shape only, that
 * no earlier node of it made, once each) and out (values its nodes make; an update's inputs but the
 * gradient, written in place), counted from the graph. */
static void group_io(const weft_plan *p, const weft_group *G, int64_t *in_b, int64_t *out_b)
{
    const weft_graph *g = p->g;
    bool *made = calloc((size_t)g->nvalues, 1), *got = calloc((size_t)g->nvalues, 1),
         *put = calloc((size_t)g->nvalues, 1);
    *in_b = *out_b = 0;
    for (int t = G->first; t < G->first + G->count; t++) {
        const weft_node *nd = &g->nodes[p->group_nodes[t]];
        for (int j = 0; j < nd->nin; j++) {
            int v = weft_rdu_root(g, nd->in[j]);
            if ((weft_op_get(nd->op)->shape_only >> j) & 1) continue;
            if (!made[v] && !got[v]) { got[v] = true; *in_b += weft_rdu_value_bytes(g, v); }
            if (nd->phase == WEFT_PHASE_UPDATE && j != 1 && !put[v]) { put[v] = true; *out_b += weft_rdu_value_bytes(g, v); }
        }
        for (int j = 0; j < nd->nout; j++) {
            int v = weft_rdu_root(g, nd->out[j]);
            made[v] = true;
            if (!put[v]) { put[v] = true; *out_b += weft_rdu_value_bytes(g, v); }
        }
    }
    free(made);
    free(got);
    free(put);
}

/* Every field read back equals the plan's. */
static void check_same(const weft_plan *p, const weft_sim_input *in, const char *what, bool io)
{
    const weft_graph *g = p->g;
    CHECKF(!memcmp(&in->fabric, &p->fabric, sizeof in->fabric), "%s: fabric", what);
    CHECKF(!strcmp(in->model, p->model) && in->batch == p->batch &&
           !strcmp(in->precision, weft_precision_name(p->precision)), "%s: header", what);
    CHECKF(in->ngroups == p->ngroups && in->nunits == p->nunits && in->nnets == p->nnets &&
           in->nsections == p->nsections, "%s: counts", what);
    if (in->ngroups != p->ngroups || in->nunits != p->nunits || in->nnets != p->nnets || in->nsections != p->nsections)
        return;
    int bad_groups = 0, bad_io = 0, bad_units = 0, bad_nets = 0, bad_links = 0, bad_sections = 0;
    for (int k = 0; k < p->ngroups; k++) {
        const weft_group *G = &p->groups[k];
        const weft_sim_group *H = &in->groups[k];
        int64_t rows = 0;
        for (int t = G->first; t < G->first + G->count; t++) {
            unsigned bi = 0, po = 0;
            int64_t r = 1;
            weft_node_tiling(g, p->group_nodes[t], &bi, &po, &r);
            if (r > rows) rows = r;
        }
        bad_groups += H->kind != G->kind || H->section != G->section || H->chain != G->chain ||
                      H->replicas != G->replicas || H->flops != G->flops || H->cycles != G->cycles ||
                      H->io_whole != G->io_whole || H->io_rows != G->io_rows ||
                      H->replica_cycles != weft_group_cycles(G, G->replicas) || H->tiled != G->tiled ||
                      H->nnodes != G->count || H->rows != rows ||
                      strcmp(H->op, weft_op_name(g->nodes[p->group_nodes[G->first]].op));
        if (io) {
            int64_t a, b;
            group_io(p, G, &a, &b);
            bad_io += H->in_bytes != a || H->out_bytes != b;
        }
    }
    for (int u = 0; u < p->nunits; u++) {
        const weft_unit *x = &p->units[u];
        const weft_sim_unit *y = &in->units[u];
        bad_units += y->kind != x->kind || y->role != x->role || y->section != x->section || y->group != x->group ||
                     y->replica != x->replica || y->link != x->link || y->value != x->value || y->bytes != x->bytes ||
                     y->cycles != x->cycles || y->slot != x->slot;
    }
    for (int e = 0; e < p->nnets; e++) {
        const weft_net *x = &p->nets[e];
        const weft_sim_net *y = &in->nets[e];
        /* rates are written to 6 significant digits */
        bad_nets += y->src != x->src || y->dst != x->dst || y->value != x->value || y->bytes != x->bytes ||
                    fabs(y->rate - x->rate) > 1e-5 * x->rate || y->whole != x->whole ||
                    y->first_link != p->routes.first[e] || y->nlinks != p->routes.first[e + 1] - p->routes.first[e];
    }
    CHECKF(in->nlinks == p->routes.first[p->nnets], "%s: %d links, the plan %d", what, in->nlinks,
           p->routes.first[p->nnets]);
    for (int l = 0; l < in->nlinks && l < p->routes.first[p->nnets]; l++) bad_links += in->links[l] != p->routes.links[l];
    for (int s = 0; s < p->nsections; s++) {
        const weft_section *S = &p->sections[s];
        const weft_sim_section *T = &in->sections[s];
        bad_sections += T->first_group != S->first_group || T->ngroups != S->ngroups ||
                        T->first_unit != S->first_unit || T->nunits != S->nunits || T->first_net != S->first_net ||
                        T->nnets != S->nnets || T->cycles != S->cycles || T->dram_read != S->dram_read ||
                        T->dram_write != S->dram_write || fabs(T->rate_scale - S->rate_scale) > 1e-6;
    }
    CHECKF(!bad_groups && !bad_io && !bad_units && !bad_nets && !bad_links && !bad_sections,
           "%s: differ: %d groups (%d data in/out), %d units, %d nets, %d links, %d sections", what, bad_groups,
           bad_io, bad_units, bad_nets, bad_links, bad_sections);
}

static void test_round_trip(void)
{
    struct { const zoo_case *z; weft_precision prec; const char *fabric; weft_compile_opts o; } cases[] = {
        { &mlp, WEFT_PREC_FP32, "plasticine", { .place = WEFT_PLACE_GREEDY, .seed = 1 } },
        { &mlp, WEFT_PREC_BF16_SR, "sn10", { .place = WEFT_PLACE_GREEDY, .seed = 2 } },
        { &gpt, WEFT_PREC_FP32, "plasticine", { .place = WEFT_PLACE_GREEDY, .seed = 7, .max_pcus = 12, .max_pmus = 40 } },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        weft_graph *g;
        weft_plan p;
        char *text, what[96];
        if (!compile(cases[c].z, cases[c].prec, cases[c].fabric, &cases[c].o, &g, &p, &text)) continue;
        snprintf(what, sizeof what, "%s %s on %s", cases[c].z->name, weft_precision_name(cases[c].prec),
                 cases[c].fabric);
        weft_sim_input in;
        CHECK_OK(weft_sim_parse(text, what, &in));
        check_same(&p, &in, what, true);
        if (c == 2) CHECKF(in.nsections > 2, "%s: %d sections", what, in.nsections);
        printf("%-24s %3d groups %4d units %5d nets %6d links %d section(s): read back equal\n", what, in.ngroups,
               in.nunits, in.nnets, in.nlinks, in.nsections);
        weft_sim_input_free(&in);
        CHECK(is_empty(&in));
        weft_sim_input_free(&in);   /* freeing a freed (zeroed) input is fine */
        free(text);
        weft_plan_free(&p);
        weft_graph_free(g);
    }
}

/* ---- broken plans ------------------------------------------------------------------ */

/* Elements the edits aim at, found in the plan. */
enum { T_0, T_1, T_3, T_PCU, T_PMU, T_PMU2, T_AG, T_NET, T_NET_AG, T_NET_S1, T_SEC_LAST, T_COUNT };
typedef struct {
    int at[T_COUNT];
    int ngroups, nunits, ags, pmu_site, link_ids, sec0_units;
    int ag_site;                /* T_NET_AG's source's switch, on the left edge */
} targets;

static cJSON *elem(cJSON *root, const char *arr, int i) { return cJSON_GetArrayItem(cJSON_GetObjectItem(root, arr), i); }

static void set(cJSON *obj, const char *key, cJSON *v)
{
    if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v)) cJSON_AddItemToObject(obj, key, v);
}

static int num_at(cJSON *a, int i) { return (int)cJSON_GetArrayItem(a, i)->valuedouble; }

static targets find_targets(const weft_plan *p)
{
    targets t = { .at = { [T_0] = 0, [T_1] = 1, [T_3] = 3 } };
    for (int k = T_PCU; k < T_COUNT; k++) t.at[k] = -1;
    const weft_fabric *f = &p->fabric;
    for (int u = 0; u < p->nunits; u++) {
        const weft_unit *x = &p->units[u];
        if (x->kind == WEFT_UNIT_PCU && t.at[T_PCU] < 0 && x->section == 0) t.at[T_PCU] = u;
        if (x->kind == WEFT_UNIT_PMU && t.at[T_PMU] < 0) t.at[T_PMU] = u;
        else if (x->kind == WEFT_UNIT_PMU && t.at[T_PMU2] < 0 && x->section == p->units[t.at[T_PMU]].section)
            t.at[T_PMU2] = u;
        if (x->kind == WEFT_UNIT_AG && t.at[T_AG] < 0) t.at[T_AG] = u;
    }
    for (int e = 0; e < p->nnets; e++) {
        const weft_net *n = &p->nets[e];
        int hops = p->routes.first[e + 1] - p->routes.first[e];
        if (t.at[T_NET] < 0 && hops >= 3) t.at[T_NET] = e;
        /* an AG on the left edge: a first step west leaves the grid */
        if (t.at[T_NET_AG] < 0 && p->units[n->src].kind == WEFT_UNIT_AG && p->units[n->src].slot < (f->ags + 1) / 2)
            t.at[T_NET_AG] = e;
        if (t.at[T_NET_S1] < 0 && p->units[n->src].section == 1) t.at[T_NET_S1] = e;
    }
    t.at[T_SEC_LAST] = p->nsections - 1;
    if (t.at[T_NET_AG] >= 0) t.ag_site = weft_unit_site(f, WEFT_UNIT_AG, p->units[p->nets[t.at[T_NET_AG]].src].slot);
    for (int k = 0; k < T_COUNT; k++) CHECKF(t.at[k] >= 0, "no element for target %d", k);
    for (int s = 0; s < weft_fabric_sites(f); s++)
        if (weft_fabric_site_kind(f, s) == WEFT_SITE_PMU) { t.pmu_site = s; break; }
    t.ngroups = p->ngroups;
    t.nunits = p->nunits;
    t.ags = f->ags;
    t.link_ids = weft_fabric_links(f);
    t.sec0_units = p->sections[0].nunits;
    return t;
}

/* Edits a table row cannot say as one field: each returns the field path it breaks. */
static void x_fabric_lanes(cJSON *r, const targets *t, char *path)
{
    (void)t;
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "fabric"), "pcu"), "lanes");
    strcpy(path, "fabric: pcu.lanes");
}
static void x_fabric_rows(cJSON *r, const targets *t, char *path)
{
    (void)t;
    set(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "fabric"), "grid"), "rows", cJSON_CreateNumber(0));
    strcpy(path, "fabric: grid.rows");
}
static void x_values_order(cJSON *r, const targets *t, char *path)
{
    (void)t;
    set(elem(r, "values", 1), "id", cJSON_CreateNumber(cJSON_GetObjectItem(elem(r, "values", 0), "id")->valuedouble));
    strcpy(path, "values[1].id");
}
static cJSON *node0(cJSON *r) { return cJSON_GetArrayItem(cJSON_GetObjectItem(elem(r, "groups", 0), "nodes"), 0); }
static void x_node_in(cJSON *r, const targets *t, char *path)
{
    (void)t;
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(node0(r), "in"), 0, cJSON_CreateNumber(99999));
    strcpy(path, "groups[0].nodes[0].in[0]");
}
static void x_node_phase(cJSON *r, const targets *t, char *path)
{
    (void)t;
    set(node0(r), "phase", cJSON_CreateString("sideways"));
    strcpy(path, "groups[0].nodes[0].phase");
}
static void x_node_rows(cJSON *r, const targets *t, char *path)
{
    (void)t;
    set(node0(r), "rows", cJSON_CreateNumber(-1e300));
    strcpy(path, "groups[0].nodes[0].rows");
}
static void x_nodes_empty(cJSON *r, const targets *t, char *path)
{
    (void)t;
    set(elem(r, "groups", 0), "nodes", cJSON_CreateArray());
    strcpy(path, "groups[0].nodes");
}
static void x_shared_slot(cJSON *r, const targets *t, char *path)
{
    int slot = (int)cJSON_GetObjectItem(elem(r, "units", t->at[T_PMU]), "slot")->valuedouble;
    set(elem(r, "units", t->at[T_PMU2]), "slot", cJSON_CreateNumber(slot));
    sprintf(path, "units[%d].slot", t->at[T_PMU2]);
}
static cJSON *links_of(cJSON *r, int e) { return cJSON_GetObjectItem(elem(r, "nets", e), "links"); }
static void x_route_jump(cJSON *r, const targets *t, char *path)
{
    cJSON *a = links_of(r, t->at[T_NET]);
    int l = num_at(a, 1);
    /* the same direction from another site: the route jumps */
    cJSON_ReplaceItemInArray(a, 1, cJSON_CreateNumber(l >= 8 ? l - 8 : l + 8));
    sprintf(path, "nets[%d].links[1]", t->at[T_NET]);
}
static void x_route_short(cJSON *r, const targets *t, char *path)
{
    cJSON *a = links_of(r, t->at[T_NET]);
    cJSON_DeleteItemFromArray(a, cJSON_GetArraySize(a) - 1);
    sprintf(path, "nets[%d].links", t->at[T_NET]);
}
static void x_route_off_grid(cJSON *r, const targets *t, char *path)
{
    cJSON_InsertItemInArray(links_of(r, t->at[T_NET_AG]), 0, cJSON_CreateNumber(t->ag_site * 4 + WEFT_DIR_W));
    sprintf(path, "nets[%d].links[0]", t->at[T_NET_AG]);
}
static void x_link_range(cJSON *r, const targets *t, char *path)
{
    cJSON_ReplaceItemInArray(links_of(r, t->at[T_NET]), 0, cJSON_CreateNumber(t->link_ids));
    sprintf(path, "nets[%d].links[0]", t->at[T_NET]);
}
static void x_link_type(cJSON *r, const targets *t, char *path)
{
    cJSON_ReplaceItemInArray(links_of(r, t->at[T_NET]), 2, cJSON_CreateString("3"));
    sprintf(path, "nets[%d].links[2]", t->at[T_NET]);
}
static void x_net_cross_section(cJSON *r, const targets *t, char *path)
{
    set(elem(r, "nets", t->at[T_NET_S1]), "src", cJSON_CreateNumber(0));
    sprintf(path, "nets[%d].src", t->at[T_NET_S1]);
}
static cJSON *range_of(cJSON *r, int s, const char *key) { return cJSON_GetObjectItem(elem(r, "sections", s), key); }
static void x_section_skips(cJSON *r, const targets *t, char *path)
{
    cJSON_ReplaceItemInArray(range_of(r, 0, "units"), 1, cJSON_CreateNumber(t->sec0_units - 1));
    strcpy(path, "sections[1].units");
}
static void x_section_past(cJSON *r, const targets *t, char *path)
{
    cJSON *a = range_of(r, t->at[T_SEC_LAST], "units");
    cJSON_ReplaceItemInArray(a, 1, cJSON_CreateNumber(num_at(a, 1) + 1));
    sprintf(path, "sections[%d].units", t->at[T_SEC_LAST]);
}
static void x_section_short(cJSON *r, const targets *t, char *path)
{
    cJSON *a = range_of(r, t->at[T_SEC_LAST], "nets");
    cJSON_ReplaceItemInArray(a, 1, cJSON_CreateNumber(num_at(a, 1) - 1));
    strcpy(path, "sections: cover nets");
}
static void x_section_pair(cJSON *r, const targets *t, char *path)
{
    (void)t;
    cJSON_DeleteItemFromArray(range_of(r, 0, "groups"), 1);
    strcpy(path, "sections[0].groups");
}
static void x_sections_empty(cJSON *r, const targets *t, char *path)
{
    (void)t;
    set(r, "sections", cJSON_CreateArray());
    strcpy(path, "sections");
}

typedef enum { OP_NUM, OP_STR, OP_DEL, OP_NULL, OP_FN } edit_op;
typedef struct {
    const char *arr;            /* NULL: a top-level field                       */
    int target;                 /* T_*: which element                            */
    const char *key;
    edit_op op;
    double num;                 /* OP_NUM; or, num_from: taken from the targets  */
    const char *str;
    int num_from;               /* 1 ngroups, 2 nunits, 3 ags, 4 a PMU site      */
    void (*fn)(cJSON *, const targets *, char *);
    const char *needle;         /* in the message, beside the path               */
} edit;

static const edit edits[] = {
    { NULL, 0, "version", OP_NUM, 2, NULL, 0, NULL, "version 1 only" },
    { NULL, 0, "format", OP_STR, 0, "weft-fabric", 0, NULL, "not a weft plan" },
    { NULL, 0, "model", OP_DEL, 0, NULL, 0, NULL, "missing" },
    { NULL, 0, "batch", OP_STR, 0, "8", 0, NULL, "got a string" },
    { NULL, 0, "batch", OP_NUM, 1e300, NULL, 0, NULL, "1e+300" },
    { NULL, 0, "batch", OP_NUM, 2147483648.0, NULL, 0, NULL, "2147483648" },
    { NULL, 0, "precision", OP_STR, 0, "fp64", 0, NULL, "unknown" },
    { NULL, 0, "model", OP_STR, 0, "a model name well beyond the sixty-three bytes a plan's model may hold", 0, NULL,
      "1 to 63 bytes" },
    { NULL, 0, "units", OP_DEL, 0, NULL, 0, NULL, "missing" },
    { NULL, 0, "nets", OP_NUM, 3, NULL, 0, NULL, "must be an array" },
    { NULL, 0, "fabric", OP_NULL, 0, NULL, 0, NULL, "fabric: must be a JSON object" },
    { "values", T_0, "bytes", OP_NUM, -1, NULL, 0, NULL, "from 0 to" },
    { "groups", T_0, "kind", OP_STR, 0, "conv", 0, NULL, "known: gemm, map, move" },
    { "groups", T_0, "replicas", OP_NUM, 0, NULL, 0, NULL, "from 1 to" },
    { "groups", T_0, "chain", OP_NUM, 1.5, NULL, 0, NULL, "got 1.5" },
    { "groups", T_0, "tiled", OP_NUM, 1, NULL, 0, NULL, "true or false" },
    { "groups", T_0, "flops", OP_NUM, 1e19, NULL, 0, NULL, "must be an integer" },
    { "groups", T_0, "section", OP_NUM, 1, NULL, 0, NULL, "sections[0]'s range" },
    { "groups", T_1, "io_rows", OP_DEL, 0, NULL, 0, NULL, "missing" },
    { "units", T_PCU, "group", OP_NUM, 0, NULL, 1, NULL, "not a group" },
    { "units", T_PMU, "group", OP_NUM, 0, NULL, 0, NULL, "only a PCU" },
    { "units", T_PCU, "role", OP_STR, 0, "weight", 0, NULL, "not a role of a pcu" },
    { "units", T_PCU, "kind", OP_STR, 0, "dsp", 0, NULL, "known: pcu, pmu, ag" },
    { "units", T_AG, "slot", OP_NUM, 0, NULL, 3, NULL, "not an address generator" },
    { "units", T_PCU, "slot", OP_NUM, 0, NULL, 4, NULL, "is not a PCU site of the fabric (8x16)" },
    { "units", T_PMU, "slot", OP_NUM, 128, NULL, 0, NULL, "128 is not a PMU site of the fabric (8x16)" },
    { "units", T_PCU, "replica", OP_NUM, 1e6, NULL, 0, NULL, "not a replica" },
    { "units", T_PCU, "section", OP_NUM, 1, NULL, 0, NULL, "sections[0]'s range" },
    { "units", T_PMU, "value", OP_NUM, -1, NULL, 0, NULL, "from 0 to" },
    { "units", T_3, "id", OP_NUM, 4, NULL, 0, NULL, "an id is its index" },
    { "units", T_PMU, "bytes", OP_NUM, -4096, NULL, 0, NULL, "from 0 to" },
    { "nets", T_NET, "src", OP_NUM, 0, NULL, 2, NULL, "not a unit" },
    { "nets", T_NET, "dst", OP_NUM, -1, NULL, 0, NULL, "from 0 to" },
    { "nets", T_NET, "rate", OP_NUM, -1, NULL, 0, NULL, "at least 0" },
    { "nets", T_NET, "whole", OP_STR, 0, "yes", 0, NULL, "true or false" },
    { "nets", T_NET, "value", OP_NUM, 99999, NULL, 0, NULL, "not in values" },
    { "nets", T_NET, "links", OP_DEL, 0, NULL, 0, NULL, "missing" },
    { "nets", T_NET, "bytes", OP_NUM, 1e19, NULL, 0, NULL, "must be an integer" },
    { "sections", T_0, "rate_scale", OP_NUM, 0, NULL, 0, NULL, "above 0 and at most 1" },
    { "sections", T_0, "rate_scale", OP_NUM, 1.5, NULL, 0, NULL, "above 0 and at most 1" },
    { "sections", T_0, "cycles", OP_NUM, -5, NULL, 0, NULL, "from 0 to" },
    { "sections", T_0, "units", OP_STR, 0, "0-5", 0, NULL, "must be an array" },
    { .op = OP_FN, .fn = x_fabric_lanes, .needle = "missing" },
    { .op = OP_FN, .fn = x_fabric_rows, .needle = "from 1 to 256" },
    { .op = OP_FN, .fn = x_values_order, .needle = "increasing id order" },
    { .op = OP_FN, .fn = x_node_in, .needle = "value 99999 is not in values" },
    { .op = OP_FN, .fn = x_node_phase, .needle = "known: forward, backward, update" },
    { .op = OP_FN, .fn = x_node_rows, .needle = "-1e+300" },
    { .op = OP_FN, .fn = x_nodes_empty, .needle = "at least one node" },
    { .op = OP_FN, .fn = x_shared_slot, .needle = "two units of section" },
    { .op = OP_FN, .fn = x_route_jump, .needle = "but the route is at site" },
    { .op = OP_FN, .fn = x_route_short, .needle = "the route ends at site" },
    { .op = OP_FN, .fn = x_route_off_grid, .needle = "off the grid" },
    { .op = OP_FN, .fn = x_link_range, .needle = "from 0 to 511" },
    { .op = OP_FN, .fn = x_link_type, .needle = "got a string" },
    { .op = OP_FN, .fn = x_net_cross_section, .needle = "units[0] is in section 0" },
    { .op = OP_FN, .fn = x_section_skips, .needle = "not at" },
    { .op = OP_FN, .fn = x_section_past, .needle = "runs past" },
    { .op = OP_FN, .fn = x_section_short, .needle = "in no section" },
    { .op = OP_FN, .fn = x_section_pair, .needle = "[first, count]" },
    { .op = OP_FN, .fn = x_sections_empty, .needle = "at least one section" },
};

/* text must fail to read, naming path and needle, and leave the input empty. */
static void expect_error(const char *text, const char *path, const char *needle, const char *what)
{
    weft_sim_input in;
    memset(&in, 0xab, sizeof in);   /* whatever was there is overwritten, not freed */
    weft_status s = weft_sim_parse(text, "p.json", &in);
    const char *msg = weft_errmsg();
    CHECKF(s == WEFT_ERR_FORMAT && !strncmp(msg, "plan p.json: ", 13) && strstr(msg, path) &&
           (!needle || strstr(msg, needle)), "%s: got %s \"%s\", wanted \"%s\" and \"%s\"", what,
           weft_status_name(s), s ? msg : "", path, needle ? needle : "");
    CHECKF(is_empty(&in), "%s: input not left empty", what);
}

static void test_broken(const char *text, const weft_plan *p)
{
    targets t = find_targets(p);
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        const edit *x = &edits[i];
        cJSON *root = cJSON_Parse(text);
        char path[96], what[128];
        if (x->op == OP_FN) {
            x->fn(root, &t, path);
        } else {
            cJSON *obj = x->arr ? elem(root, x->arr, t.at[x->target]) : root;
            double from[] = { x->num, t.ngroups, t.nunits, t.ags, t.pmu_site };
            if (x->op == OP_NUM) set(obj, x->key, cJSON_CreateNumber(from[x->num_from]));
            if (x->op == OP_STR) set(obj, x->key, cJSON_CreateString(x->str));
            if (x->op == OP_NULL) set(obj, x->key, cJSON_CreateNull());
            if (x->op == OP_DEL) cJSON_DeleteItemFromObject(obj, x->key);
            if (x->arr) snprintf(path, sizeof path, "%s[%d].%s", x->arr, t.at[x->target], x->key);
            else snprintf(path, sizeof path, "%s", x->key);
        }
        char *bad = cJSON_PrintUnformatted(root);
        snprintf(what, sizeof what, "edit %zu (%s)", i, path);
        expect_error(bad, path, x->needle, what);
        free(bad);
        cJSON_Delete(root);
    }

    /* edits of the text itself */
    expect_error("[1, 2]", "must be a JSON object", "got an array", "an array");
    expect_error("  \n", "empty", NULL, "blank");
    expect_error("{\"format\": \"weft-plan\", \"version\": 1} x", "not valid JSON", NULL, "trailing text");
    size_t len = strlen(text);
    char *cut = malloc(len + 1);
    size_t at[] = { 1, 40, len / 7, len / 3, len / 2, len - 3 };
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        memcpy(cut, text, at[i]);
        cut[at[i]] = 0;
        expect_error(cut, "not valid JSON", "the text ends early", test_label("cut at byte %zu", at[i]));
    }
    free(cut);
    /* a number past a double: cJSON reads 1e400 as infinity */
    const char *b = strstr(text, "\"batch\": ");
    char *huge = malloc(len + 16);
    size_t pre = (size_t)(b - text) + 9;
    memcpy(huge, text, pre);
    strcpy(huge + pre, "1e400");
    strcat(huge, b + 9 + strspn(b + 9, "0123456789"));
    expect_error(huge, "batch", "inf", "batch 1e400");
    free(huge);
}

/* Truncations at every offset step and random byte edits: never a crash,
 * and every failure a plan message leaving the input empty. */
static void test_fuzz(const char *text)
{
    size_t len = strlen(text);
    char *buf = malloc(len + 1);
    int fails = 0, oks = 0, bad_msgs = 0;
    for (size_t n = 0; n < len; n += 1 + len / 300) {
        memcpy(buf, text, n);
        buf[n] = 0;
        weft_sim_input in;
        weft_status s = weft_sim_parse(buf, "cut", &in);
        fails += s != WEFT_OK;
        bad_msgs += s == WEFT_OK || strncmp(weft_errmsg(), "plan cut: ", 10) || !is_empty(&in);
        weft_sim_input_free(&in);
    }
    static const char repl[] = "0123456789-.e\"{}[],: tfn";
    weft_rng_key key = weft_rng_key_make(11, 0, 0);
    for (uint32_t i = 0; i < 600; i++) {
        memcpy(buf, text, len + 1);
        for (int k = 0; k < 3; k++) {
            uint32_t r = weft_rng_u32(key, 2 * (3 * i + (uint32_t)k));
            buf[r % len] = repl[weft_rng_u32(key, 2 * (3 * i + (uint32_t)k) + 1) % (sizeof repl - 1)];
        }
        weft_sim_input in;
        weft_status s = weft_sim_parse(buf, "edit", &in);
        if (s == WEFT_OK) oks++;
        else bad_msgs += strncmp(weft_errmsg(), "plan edit: ", 11) || !is_empty(&in);
        weft_sim_input_free(&in);
    }
    CHECKF(bad_msgs == 0, "%d failures without a plan message or with the input left filled", bad_msgs);
    CHECK(fails > 0);
    printf("fuzz: %d cuts refused; 600 random edits, %d still read\n", fails, oks);
    free(buf);
}

/* From a file: the same plan; a missing file and a NUL byte refused. */
static void test_file(const char *text, const weft_plan *p)
{
    if (!test_tmpdir_make("plan_read")) { CHECK(false); return; }
    const char *path = test_tmp_path("p.json");
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
    weft_sim_input in;
    CHECK_OK(weft_sim_read(path, &in));
    check_same(p, &in, "from a file", false);
    weft_sim_input_free(&in);
    CHECK_ERR(weft_sim_read(test_tmp_path("none.json"), &in), WEFT_ERR_IO, "none.json", NULL);
    CHECK(is_empty(&in));
    f = fopen(path, "wb");
    fputs("{\"format\"", f);
    fputc(0, f);
    fputs(": 1}", f);
    fclose(f);
    CHECK_ERR(weft_sim_read(path, &in), WEFT_ERR_FORMAT, "p.json", "NUL byte (byte 9)");
    CHECK(is_empty(&in));
    test_tmpdir_remove();
}

int main(void)
{
    weft_log_set_level(WEFT_LOG_QUIET);   /* the compiler's progress lines */
    double t0 = weft_now();
    test_round_trip();
    /* the broken plans start from one with sections, AGs and routes */
    weft_graph *g;
    weft_plan p;
    char *text;
    weft_compile_opts o = { .place = WEFT_PLACE_GREEDY, .seed = 7, .max_pcus = 12, .max_pmus = 40 };
    if (compile(&gpt, WEFT_PREC_FP32, "plasticine", &o, &g, &p, &text)) {
        test_broken(text, &p);
        test_file(text, &p);
        test_fuzz(text);
        free(text);
        weft_plan_free(&p);
        weft_graph_free(g);
    }
    printf("%.2f s\n", weft_now() - t0);
    return test_summary();
}
