/* plan_read.c — the simulator's door: a plan (docs/PLAN.md, written by
 * weft_plan_write_json) read back and checked, field by field and against
 * itself, before anything runs on it.
 *
 * A plan may come from another version of weft, a hand edit or a broken
 * disk, so nothing in it is trusted: every required field is looked for and
 * type-checked, every number must be an integer where a count belongs and
 * fit its type (a 1e300 is refused, never cast), every id must name
 * something, the sections must cover the groups, units and nets in order,
 * units must sit on slots of their kind and not share one, and every route
 * must walk the fabric's links from its net's source to its destination. An
 * error names the origin and the field's path
 * ("plan p.json: nets[12].links[3]: ..."). Fields the simulator does not use
 * (summary, stage_ops, a section's place and route statistics, ...) are
 * left unread, so a plan may carry more than this reader knows.
 *
 * Linear in the text but for value ids, found by binary search in the
 * id-ordered values table (ids have gaps, and a dense map sized by the
 * largest id would let one huge id allocate gigabytes); arrays are walked
 * by their links, never indexed (cJSON_GetArrayItem is linear). */
#include "rdu/rdu_int.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The largest integer a double (what cJSON keeps of a number) holds
 * exactly: beyond it "bytes": 9007199254740993 would read back as another
 * number without a word, so it is refused as out of range. */
static const int64_t I64_MAX_EXACT = (int64_t)1 << 53;

typedef struct {
    const char *origin;
    weft_sim_input *in;
    int nvalues;
    int *vid;                /* nvalues: ids, increasing                            */
    int64_t *vbytes;         /* nvalues                                             */
    int *made, *seen_in, *seen_out; /* nvalues: the group (k + 1) that made, read,
                                       wrote the value last, to count it once    */
    int *group_sec, *unit_sec, *net_sec; /* the section whose range holds each      */
    int *occ;                /* per slot (the sites, then the AGs): the last unit on it */
    int links_cap;           /* of in->links                                         */
} reader;

/* "base.key[idx]": base may be empty (the top level), key NULL, idx < 0. */
static const char *path_of(char *buf, size_t n, const char *base, const char *key, int idx)
{
    int len = snprintf(buf, n, "%s%s%s", base, *base && key ? "." : "", key ? key : "");
    if (idx >= 0 && len >= 0 && (size_t)len < n) snprintf(buf + len, n - (size_t)len, "[%d]", idx);
    return buf;
}

static weft_status bad(const reader *r, const char *base, const char *key, int idx, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static weft_status bad(const reader *r, const char *base, const char *key, int idx, const char *fmt, ...)
{
    char path[200], why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return weft_fail(WEFT_ERR_FORMAT, "plan %s: %s: %s", r->origin, path_of(path, sizeof path, base, key, idx), why);
}

/* ---- typed fields ------------------------------------------------------------ */

static weft_status get(const reader *r, const cJSON *obj, const char *base, const char *key, const cJSON **v)
{
    *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return *v ? WEFT_OK : bad(r, base, key, -1, "missing");
}

/* An integer in [lo, hi] (hi <= 2^53): v is base.key[idx]. */
static weft_status as_i64(const reader *r, const cJSON *v, const char *base, const char *key, int idx, int64_t lo,
                          int64_t hi, int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return bad(r, base, key, idx, "must be an integer from %lld to %lld (got %s)", (long long)lo, (long long)hi,
                   weft_rdu_json_kind(v));
    double x = v->valuedouble;
    char got[40];
    /* compared as doubles first: a cast of a value outside int64 is undefined */
    if (!isfinite(x) || x != floor(x) || x < (double)lo || x > (double)hi)
        return bad(r, base, key, idx, "must be an integer from %lld to %lld (got %s)", (long long)lo,
                   (long long)hi, weft_rdu_shortest(got, sizeof got, x));
    *out = (int64_t)x;
    return WEFT_OK;
}

static weft_status as_int(const reader *r, const cJSON *v, const char *base, const char *key, int idx, int lo, int hi,
                          int *out)
{
    int64_t x;
    WEFT_TRY(as_i64(r, v, base, key, idx, lo, hi, &x));
    *out = (int)x;
    return WEFT_OK;
}

static weft_status get_i64(const reader *r, const cJSON *obj, const char *base, const char *key, int64_t lo,
                           int64_t hi, int64_t *out)
{
    const cJSON *v;
    WEFT_TRY(get(r, obj, base, key, &v));
    return as_i64(r, v, base, key, -1, lo, hi, out);
}

static weft_status get_int(const reader *r, const cJSON *obj, const char *base, const char *key, int lo, int hi,
                           int *out)
{
    const cJSON *v;
    WEFT_TRY(get(r, obj, base, key, &v));
    return as_int(r, v, base, key, -1, lo, hi, out);
}

static weft_status get_bool(const reader *r, const cJSON *obj, const char *base, const char *key, bool *out)
{
    const cJSON *v;
    WEFT_TRY(get(r, obj, base, key, &v));
    if (!cJSON_IsBool(v)) return bad(r, base, key, -1, "must be true or false (got %s)", weft_rdu_json_kind(v));
    *out = cJSON_IsTrue(v);
    return WEFT_OK;
}

static weft_status get_str(const reader *r, const cJSON *obj, const char *base, const char *key, const char **out)
{
    const cJSON *v;
    WEFT_TRY(get(r, obj, base, key, &v));
    if (!cJSON_IsString(v)) return bad(r, base, key, -1, "must be a string (got %s)", weft_rdu_json_kind(v));
    *out = v->valuestring;
    return WEFT_OK;
}

/* A finite number in [lo, hi], or (lo, hi] when lo_open; range: the same in words. */
static weft_status get_real(const reader *r, const cJSON *obj, const char *base, const char *key, double lo,
                            bool lo_open, double hi, const char *range, double *out)
{
    const cJSON *v;
    WEFT_TRY(get(r, obj, base, key, &v));
    if (!cJSON_IsNumber(v)) return bad(r, base, key, -1, "must be a number %s (got %s)", range, weft_rdu_json_kind(v));
    double x = v->valuedouble;
    char got[40];
    if (!isfinite(x) || x > hi || (lo_open ? x <= lo : x < lo))
        return bad(r, base, key, -1, "must be a number %s (got %s)", range, weft_rdu_shortest(got, sizeof got, x));
    *out = x;
    return WEFT_OK;
}

/* One of names[0 .. n): its index. */
static weft_status get_name(const reader *r, const cJSON *obj, const char *base, const char *key,
                            const char *const *names, int n, int *out)
{
    const char *s;
    WEFT_TRY(get_str(r, obj, base, key, &s));
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) { *out = i; return WEFT_OK; }
    char known[160];
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof known; i++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", names[i]);
    return bad(r, base, key, -1, "unknown \"%.40s\" (known: %s)", s, known);
}

/* A text that fits cap - 1 bytes, printable (it is shown on terminals). */
static weft_status get_text(const reader *r, const cJSON *obj, const char *key, char *dst, size_t cap)
{
    const char *s;
    WEFT_TRY(get_str(r, obj, "", key, &s));
    size_t n = strlen(s);
    if (n == 0 || n >= cap) return bad(r, "", key, -1, "must be 1 to %zu bytes (got %zu)", cap - 1, n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return bad(r, "", key, -1, "holds a control character (byte %zu)", i);
    memcpy(dst, s, n + 1);
    return WEFT_OK;
}

static int count_items(const cJSON *a)
{
    int n = 0;
    for (const cJSON *e = a->child; e; e = e->next) n++;
    return n;
}

static weft_status get_array(const reader *r, const cJSON *obj, const char *base, const char *key, const cJSON **a,
                             int *n)
{
    WEFT_TRY(get(r, obj, base, key, a));
    if (!cJSON_IsArray(*a)) return bad(r, base, key, -1, "must be an array (got %s)", weft_rdu_json_kind(*a));
    *n = count_items(*a);
    return WEFT_OK;
}

static weft_status need_object(const reader *r, const cJSON *v, const char *base, const char *key, int idx)
{
    return cJSON_IsObject(v) ? WEFT_OK : bad(r, base, key, idx, "must be an object (got %s)", weft_rdu_json_kind(v));
}

/* The optional "id": when given, it must be the element's index. */
static weft_status check_id(const reader *r, const cJSON *obj, const char *base, int idx)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (!v) return WEFT_OK;
    int id;
    WEFT_TRY(as_int(r, v, base, "id", -1, 0, INT_MAX, &id));
    return id == idx ? WEFT_OK : bad(r, base, "id", -1, "%d, but it is element %d (an id is its index)", id, idx);
}

/* ---- values: id -> bytes ------------------------------------------------------ */

/* The index of value id in the table, or -1. */
static int value_index(const reader *r, int64_t id)
{
    int lo = 0, hi = r->nvalues;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (r->vid[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < r->nvalues && r->vid[lo] == id ? lo : -1;
}

static weft_status read_values(reader *r, const cJSON *root)
{
    const cJSON *a;
    int n;
    WEFT_TRY(get_array(r, root, "", "values", &a, &n));
    size_t m = n ? (size_t)n : 1;
    r->vid = malloc(m * sizeof *r->vid);
    r->vbytes = malloc(m * sizeof *r->vbytes);
    r->made = calloc(m, sizeof *r->made);
    r->seen_in = calloc(m, sizeof *r->seen_in);
    r->seen_out = calloc(m, sizeof *r->seen_out);
    if (!r->vid || !r->vbytes || !r->made || !r->seen_in || !r->seen_out)
        return weft_fail(WEFT_ERR_NOMEM, "plan %s: values: out of memory (%d values)", r->origin, n);
    char base[48];
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        snprintf(base, sizeof base, "values[%d]", i);
        WEFT_TRY(need_object(r, e, "values", NULL, i));
        WEFT_TRY(get_int(r, e, base, "id", 0, INT_MAX, &r->vid[i]));
        if (i > 0 && r->vid[i] <= r->vid[i - 1])
            return bad(r, base, "id", -1, "%d after %d: values must be in increasing id order", r->vid[i],
                       r->vid[i - 1]);
        WEFT_TRY(get_i64(r, e, base, "bytes", 0, I64_MAX_EXACT, &r->vbytes[i]));
    }
    r->nvalues = n;
    return WEFT_OK;
}

/* A value id at base.key[idx]: one of the table's, or -1 where allowed. */
static weft_status value_ref(const reader *r, const cJSON *v, const char *base, const char *key, int idx,
                             bool none_ok, int *id, int *index)
{
    WEFT_TRY(as_int(r, v, base, key, idx, none_ok ? -1 : 0, INT_MAX, id));
    *index = *id >= 0 ? value_index(r, *id) : -1;
    if (*id >= 0 && *index < 0) return bad(r, base, key, idx, "value %d is not in values", *id);
    return WEFT_OK;
}

/* ---- sections --------------------------------------------------------------------- */

/* A [first, count] range that starts where the previous section's ended. */
static weft_status read_range(const reader *r, const cJSON *obj, const char *base, const char *key, int total,
                              int *next, int *first, int *count)
{
    const cJSON *a;
    int n;
    WEFT_TRY(get_array(r, obj, base, key, &a, &n));
    if (n != 2) return bad(r, base, key, -1, "must be [first, count] (got %d item%s)", n, n == 1 ? "" : "s");
    WEFT_TRY(as_int(r, a->child, base, key, 0, 0, INT_MAX, first));
    WEFT_TRY(as_int(r, a->child->next, base, key, 1, 0, INT_MAX, count));
    if (*first != *next)
        return bad(r, base, key, -1, "starts at %d, not at %d where the previous section ends: sections must cover "
                   "the %s in order, each once", *first, *next, key);
    if (*count > total - *first)
        return bad(r, base, key, -1, "[%d, %d] runs past the %d %s of the plan", *first, *count, total, key);
    *next = *first + *count;
    return WEFT_OK;
}

static weft_status read_sections(reader *r, const cJSON *a)
{
    weft_sim_input *in = r->in;
    int next[3] = { 0, 0, 0 }, total[3] = { in->ngroups, in->nunits, in->nnets };
    static const char *const keys[3] = { "groups", "units", "nets" };
    int *sec_of[3] = { r->group_sec, r->unit_sec, r->net_sec };
    char base[48];
    int s = 0;
    for (const cJSON *e = a->child; e; e = e->next, s++) {
        weft_sim_section *S = &in->sections[s];
        snprintf(base, sizeof base, "sections[%d]", s);
        WEFT_TRY(need_object(r, e, "sections", NULL, s));
        WEFT_TRY(check_id(r, e, base, s));
        int *first[3] = { &S->first_group, &S->first_unit, &S->first_net };
        int *count[3] = { &S->ngroups, &S->nunits, &S->nnets };
        for (int k = 0; k < 3; k++) {
            WEFT_TRY(read_range(r, e, base, keys[k], total[k], &next[k], first[k], count[k]));
            for (int i = *first[k]; i < next[k]; i++) sec_of[k][i] = s;
        }
        WEFT_TRY(get_i64(r, e, base, "cycles", 0, I64_MAX_EXACT, &S->cycles));
        WEFT_TRY(get_i64(r, e, base, "dram_read", 0, I64_MAX_EXACT, &S->dram_read));
        WEFT_TRY(get_i64(r, e, base, "dram_write", 0, I64_MAX_EXACT, &S->dram_write));
        /* written to 6 decimals: a tiny scale can read back as 0, which is
         * refused (a section that would never finish), never divided by */
        WEFT_TRY(get_real(r, e, base, "rate_scale", 0, true, 1, "above 0 and at most 1", &S->rate_scale));
    }
    for (int k = 0; k < 3; k++)
        if (next[k] != total[k])
            return bad(r, "sections", NULL, -1, "cover %s [0, %d) of %d: %s %d and on are in no section", keys[k],
                       next[k], total[k], keys[k], next[k]);
    return WEFT_OK;
}

/* ---- groups --------------------------------------------------------------------- */

static const char *const group_kinds[] = { [WEFT_GROUP_GEMM] = "gemm", [WEFT_GROUP_MAP] = "map",
                                           [WEFT_GROUP_MOVE] = "move" };
static const char *const phases[] = { "forward", "backward", "update" };

/* One node of group k: its rows, and its data into and out of the group. */
static weft_status read_node(reader *r, const cJSON *nd, const char *base, int k, weft_sim_group *G)
{
    int phase;
    const char *op;
    int64_t rows;
    WEFT_TRY(get_str(r, nd, base, "op", &op));
    WEFT_TRY(get_name(r, nd, base, "phase", phases, 3, &phase));
    WEFT_TRY(get_i64(r, nd, base, "rows", 1, I64_MAX_EXACT, &rows));
    if (rows > G->rows) G->rows = rows;
    if (G->nnodes == 0) {
        /* the simulator's label: cut to fit, and no control bytes on a terminal */
        size_t n = strnlen(op, sizeof G->op - 1);
        for (size_t i = 0; i < n; i++) G->op[i] = (unsigned char)op[i] < 0x20 || op[i] == 0x7f ? '?' : op[i];
        G->op[n] = 0;
    }
    const cJSON *ins, *outs;
    int nin, nout, id, x;
    int64_t shape_only;
    WEFT_TRY(get_array(r, nd, base, "in", &ins, &nin));
    WEFT_TRY(get_array(r, nd, base, "out", &outs, &nout));
    WEFT_TRY(get_i64(r, nd, base, "shape_only", 0, 0xffff, &shape_only));
    int j = 0;
    for (const cJSON *v = ins->child; v; v = v->next, j++) {
        WEFT_TRY(value_ref(r, v, base, "in", j, false, &id, &x));
        if ((shape_only >> j) & 1) continue;   /* read for its shape: no data moves */
        /* data from outside the group, once however many nodes read it */
        if (r->made[x] != k + 1 && r->seen_in[x] != k + 1) {
            r->seen_in[x] = k + 1;
            G->in_bytes += r->vbytes[x];
        }
        /* an update writes its weight and optimizer state in place: every
         * input but the gradient (input 1) is also written */
        if (phase == 2 && j != 1 && r->seen_out[x] != k + 1) {
            r->seen_out[x] = k + 1;
            G->out_bytes += r->vbytes[x];
        }
    }
    j = 0;
    for (const cJSON *v = outs->child; v; v = v->next, j++) {
        WEFT_TRY(value_ref(r, v, base, "out", j, false, &id, &x));
        r->made[x] = k + 1;
        if (r->seen_out[x] != k + 1) {
            r->seen_out[x] = k + 1;
            G->out_bytes += r->vbytes[x];
        }
    }
    G->nnodes++;
    return WEFT_OK;
}

static weft_status read_groups(reader *r, const cJSON *a)
{
    char base[48], nbase[80];
    int k = 0;
    for (const cJSON *e = a->child; e; e = e->next, k++) {
        weft_sim_group *G = &r->in->groups[k];
        snprintf(base, sizeof base, "groups[%d]", k);
        WEFT_TRY(need_object(r, e, "groups", NULL, k));
        WEFT_TRY(check_id(r, e, base, k));
        int kind;
        WEFT_TRY(get_name(r, e, base, "kind", group_kinds, 3, &kind));
        G->kind = (weft_group_kind)kind;
        WEFT_TRY(get_int(r, e, base, "section", 0, INT_MAX, &G->section));
        if (G->section != r->group_sec[k])
            return bad(r, base, "section", -1, "%d, but the group is in sections[%d]'s range", G->section,
                       r->group_sec[k]);
        WEFT_TRY(get_int(r, e, base, "chain", 1, INT_MAX, &G->chain));
        WEFT_TRY(get_int(r, e, base, "replicas", 1, INT_MAX, &G->replicas));
        WEFT_TRY(get_i64(r, e, base, "flops", 0, I64_MAX_EXACT, &G->flops));
        WEFT_TRY(get_i64(r, e, base, "cycles", 0, I64_MAX_EXACT, &G->cycles));
        WEFT_TRY(get_i64(r, e, base, "io_whole", 0, I64_MAX_EXACT, &G->io_whole));
        WEFT_TRY(get_i64(r, e, base, "io_rows", 0, I64_MAX_EXACT, &G->io_rows));
        WEFT_TRY(get_i64(r, e, base, "replica_cycles", 0, I64_MAX_EXACT, &G->replica_cycles));
        WEFT_TRY(get_bool(r, e, base, "tiled", &G->tiled));
        const cJSON *nodes;
        int n;
        WEFT_TRY(get_array(r, e, base, "nodes", &nodes, &n));
        if (n == 0) return bad(r, base, "nodes", -1, "empty: a group computes at least one node");
        int t = 0;
        for (const cJSON *nd = nodes->child; nd; nd = nd->next, t++) {
            snprintf(nbase, sizeof nbase, "%s.nodes[%d]", base, t);
            WEFT_TRY(need_object(r, nd, base, "nodes", t));
            WEFT_TRY(read_node(r, nd, nbase, k, G));
        }
    }
    return WEFT_OK;
}

/* ---- units ----------------------------------------------------------------------- */

static const char *const unit_kinds[] = { [WEFT_UNIT_PCU] = "pcu", [WEFT_UNIT_PMU] = "pmu", [WEFT_UNIT_AG] = "ag" };
enum { NROLES = WEFT_ROLE_U_DRAM + 1 };

static weft_unit_kind role_kind(weft_unit_role role)
{
    return role == WEFT_ROLE_U_COMPUTE ? WEFT_UNIT_PCU : role == WEFT_ROLE_U_DRAM ? WEFT_UNIT_AG : WEFT_UNIT_PMU;
}

/* A unit's place: a PCU's in its group (of its own section), -1 elsewhere. */
static weft_status read_unit_place(const reader *r, const cJSON *e, const char *base, weft_sim_unit *U)
{
    const weft_sim_input *in = r->in;
    WEFT_TRY(get_int(r, e, base, "group", -1, INT_MAX, &U->group));
    WEFT_TRY(get_int(r, e, base, "replica", -1, INT_MAX, &U->replica));
    WEFT_TRY(get_int(r, e, base, "link", -1, INT_MAX, &U->link));
    if (U->kind != WEFT_UNIT_PCU) {
        if (U->group != -1) return bad(r, base, "group", -1, "%d, but only a PCU has a group (-1)", U->group);
        if (U->replica != -1) return bad(r, base, "replica", -1, "%d, but only a PCU has a replica (-1)", U->replica);
        if (U->link != -1) return bad(r, base, "link", -1, "%d, but only a PCU has a link (-1)", U->link);
        return WEFT_OK;
    }
    if (U->group < 0 || U->group >= in->ngroups)
        return bad(r, base, "group", -1, "%d is not a group (the plan has %d)", U->group, in->ngroups);
    const weft_sim_group *G = &in->groups[U->group];
    if (G->section != U->section)
        return bad(r, base, "group", -1, "groups[%d] runs in section %d, the unit in section %d", U->group, G->section,
                   U->section);
    if (U->replica < 0 || U->replica >= G->replicas)
        return bad(r, base, "replica", -1, "%d is not a replica of groups[%d] (0 to %d)", U->replica, U->group,
                   G->replicas - 1);
    if (U->link < 0 || U->link >= G->chain)
        return bad(r, base, "link", -1, "%d is not a link of groups[%d]'s chain (0 to %d)", U->link, U->group,
                   G->chain - 1);
    return WEFT_OK;
}

/* A unit's slot: a site of its kind, or an address generator; one unit a
 * slot per section. */
static weft_status read_slot(const reader *r, const cJSON *e, const char *base, int u)
{
    const weft_fabric *f = &r->in->fabric;
    weft_sim_unit *U = &r->in->units[u];
    int sites = weft_fabric_sites(f);
    WEFT_TRY(get_int(r, e, base, "slot", INT_MIN, INT_MAX, &U->slot));
    int at;
    if (U->kind == WEFT_UNIT_AG) {
        if (U->slot < 0 || U->slot >= f->ags)
            return bad(r, base, "slot", -1, "%d is not an address generator of the fabric (0 to %d)", U->slot,
                       f->ags - 1);
        at = sites + U->slot;
    } else {
        weft_site_kind want = U->kind == WEFT_UNIT_PCU ? WEFT_SITE_PCU : WEFT_SITE_PMU;
        if (U->slot < 0 || U->slot >= sites || weft_fabric_site_kind(f, U->slot) != want)
            return bad(r, base, "slot", -1, "%d is not a %s site of the fabric (%dx%d)", U->slot,
                       want == WEFT_SITE_PCU ? "PCU" : "PMU", f->rows, f->cols);
        at = U->slot;
    }
    /* sections are contiguous runs of units: an occupant at or after this
     * section's first unit is one of this section's */
    int first = r->in->sections[U->section].first_unit;
    if (r->occ[at] >= first)
        return bad(r, base, "slot", -1, "%d is also units[%d]'s: two units of section %d on one slot", U->slot,
                   r->occ[at], U->section);
    r->occ[at] = u;
    return WEFT_OK;
}

static weft_status read_units(reader *r, const cJSON *a)
{
    weft_sim_input *in = r->in;
    const weft_fabric *f = &in->fabric;
    size_t nslots = (size_t)weft_fabric_sites(f) + (size_t)f->ags;
    r->occ = malloc(nslots * sizeof *r->occ);
    if (!r->occ) return weft_fail(WEFT_ERR_NOMEM, "plan %s: units: out of memory", r->origin);
    for (size_t i = 0; i < nslots; i++) r->occ[i] = -1;
    const char *roles[NROLES];
    for (int i = 0; i < NROLES; i++) roles[i] = weft_unit_role_name((weft_unit_role)i);
    char base[48];
    int u = 0;
    for (const cJSON *e = a->child; e; e = e->next, u++) {
        weft_sim_unit *U = &in->units[u];
        snprintf(base, sizeof base, "units[%d]", u);
        int kind, role, vi;
        WEFT_TRY(need_object(r, e, "units", NULL, u));
        WEFT_TRY(check_id(r, e, base, u));
        WEFT_TRY(get_name(r, e, base, "kind", unit_kinds, 3, &kind));
        WEFT_TRY(get_name(r, e, base, "role", roles, NROLES, &role));
        U->kind = (weft_unit_kind)kind;
        U->role = (weft_unit_role)role;
        if (role_kind(U->role) != U->kind)
            return bad(r, base, "role", -1, "\"%s\" is not a role of a %s", roles[role], unit_kinds[kind]);
        WEFT_TRY(get_int(r, e, base, "section", 0, INT_MAX, &U->section));
        if (U->section != r->unit_sec[u])
            return bad(r, base, "section", -1, "%d, but the unit is in sections[%d]'s range", U->section,
                       r->unit_sec[u]);
        WEFT_TRY(read_unit_place(r, e, base, U));
        const cJSON *v;
        WEFT_TRY(get(r, e, base, "value", &v));
        /* a PMU holds (part of) a value; others may name one or -1 */
        WEFT_TRY(value_ref(r, v, base, "value", -1, U->kind != WEFT_UNIT_PMU, &U->value, &vi));
        WEFT_TRY(get_i64(r, e, base, "bytes", 0, I64_MAX_EXACT, &U->bytes));
        WEFT_TRY(get_i64(r, e, base, "cycles", 0, I64_MAX_EXACT, &U->cycles));
        WEFT_TRY(read_slot(r, e, base, u));
    }
    return WEFT_OK;
}

/* ---- nets ------------------------------------------------------------------------ */

static weft_status push_link(reader *r, int link)
{
    weft_sim_input *in = r->in;
    if (in->nlinks == r->links_cap) {
        if (r->links_cap > INT_MAX / 2)
            return weft_fail(WEFT_ERR_FORMAT, "plan %s: nets: more than %d links", r->origin, r->links_cap);
        int ncap = r->links_cap ? r->links_cap * 2 : 1024;
        int *nl = realloc(in->links, (size_t)ncap * sizeof *nl);
        if (!nl) return weft_fail(WEFT_ERR_NOMEM, "plan %s: nets: out of memory (%d links)", r->origin, ncap);
        in->links = nl;
        r->links_cap = ncap;
    }
    in->links[in->nlinks++] = link;
    return WEFT_OK;
}

/* The net's route: link by link from its source's switch to its destination's. */
static weft_status read_route(reader *r, const cJSON *e, const char *base, weft_sim_net *N)
{
    const weft_sim_input *in = r->in;
    const weft_fabric *f = &in->fabric;
    const weft_sim_unit *src = &in->units[N->src], *dst = &in->units[N->dst];
    int at = weft_unit_site(f, src->kind, src->slot), to = weft_unit_site(f, dst->kind, dst->slot);
    const cJSON *a;
    int n, nlinks = weft_fabric_links(f);
    WEFT_TRY(get_array(r, e, base, "links", &a, &n));
    N->first_link = in->nlinks;
    int j = 0;
    for (const cJSON *v = a->child; v; v = v->next, j++) {
        int link;
        WEFT_TRY(as_int(r, v, base, "links", j, 0, nlinks - 1, &link));
        if (link / 4 != at)
            return bad(r, base, "links", j, "link %d leaves site %d, but the route is at site %d", link, link / 4, at);
        at = weft_fabric_link_dest(f, link);
        if (at < 0) return bad(r, base, "links", j, "link %d leads off the grid", link);
        WEFT_TRY(push_link(r, link));
    }
    N->nlinks = n;
    if (at != to)
        return bad(r, base, "links", -1, "the route ends at site %d, but its destination units[%d] is at site %d", at,
                   N->dst, to);
    return WEFT_OK;
}

static weft_status read_nets(reader *r, const cJSON *a)
{
    weft_sim_input *in = r->in;
    char base[48];
    int e = 0;
    for (const cJSON *x = a->child; x; x = x->next, e++) {
        weft_sim_net *N = &in->nets[e];
        int s = r->net_sec[e], vi;
        snprintf(base, sizeof base, "nets[%d]", e);
        WEFT_TRY(need_object(r, x, "nets", NULL, e));
        WEFT_TRY(check_id(r, x, base, e));
        WEFT_TRY(get_int(r, x, base, "src", 0, INT_MAX, &N->src));
        WEFT_TRY(get_int(r, x, base, "dst", 0, INT_MAX, &N->dst));
        const char *end[2] = { "src", "dst" };
        int unit[2] = { N->src, N->dst };
        for (int k = 0; k < 2; k++) {
            if (unit[k] >= in->nunits)
                return bad(r, base, end[k], -1, "%d is not a unit (the plan has %d)", unit[k], in->nunits);
            if (in->units[unit[k]].section != s)
                return bad(r, base, end[k], -1, "units[%d] is in section %d, the net in section %d", unit[k],
                           in->units[unit[k]].section, s);
        }
        const cJSON *v;
        WEFT_TRY(get(r, x, base, "value", &v));
        WEFT_TRY(value_ref(r, v, base, "value", -1, true, &N->value, &vi));
        WEFT_TRY(get_i64(r, x, base, "bytes", 0, I64_MAX_EXACT, &N->bytes));
        WEFT_TRY(get_real(r, x, base, "rate", 0, false, HUGE_VAL, "at least 0, finite", &N->rate));
        WEFT_TRY(get_bool(r, x, base, "whole", &N->whole));
        WEFT_TRY(get_bool(r, x, base, "writeback", &N->writeback));
        if (N->writeback && (in->units[N->src].kind != WEFT_UNIT_PCU || in->units[N->dst].kind != WEFT_UNIT_PMU))
            return bad(r, base, "writeback", -1, "only a PCU writes back into a PMU");
        WEFT_TRY(read_route(r, x, base, N));
    }
    return WEFT_OK;
}

/* ---- the whole plan ----------------------------------------------------------------- */

/* The fabric, checked by the fabric's own parser; its message ("fabric
 * <origin>: pcu.lanes: ...") is re-worded as the plan's field. */
static weft_status read_fabric(const reader *r, const cJSON *root)
{
    const cJSON *v;
    WEFT_TRY(get(r, root, "", "fabric", &v));
    weft_status s = weft_fabric_from_json(&r->in->fabric, v, r->origin);
    if (s == WEFT_OK) return s;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", weft_errmsg());
    const char *rest = msg;
    size_t n = strlen(r->origin);
    if (!strncmp(rest, "fabric ", 7) && !strncmp(rest + 7, r->origin, n) && !strncmp(rest + 7 + n, ": ", 2))
        rest += 7 + n + 2;
    return weft_fail(s, "plan %s: fabric: %s", r->origin, rest);
}

static weft_status read_header(const reader *r, const cJSON *root)
{
    weft_sim_input *in = r->in;
    const char *format;
    int version;
    WEFT_TRY(get_str(r, root, "", "format", &format));
    if (strcmp(format, "weft-plan"))
        return bad(r, "", "format", -1, "\"%.40s\", not \"weft-plan\": not a weft plan", format);
    WEFT_TRY(get_int(r, root, "", "version", INT_MIN, INT_MAX, &version));
    if (version != 1) return bad(r, "", "version", -1, "%d: this weft reads version 1 only", version);
    WEFT_TRY(get_text(r, root, "model", in->model, sizeof in->model));
    WEFT_TRY(get_text(r, root, "precision", in->precision, sizeof in->precision));
    weft_precision p;
    if (weft_precision_parse(in->precision, &p))
        return bad(r, "", "precision", -1, "unknown \"%s\" (known: fp32, mixed, bf16, bf16-sr, bf16-kahan)",
                   in->precision);
    return get_int(r, root, "", "batch", 1, INT_MAX, &in->batch);
}

static weft_status read_plan(reader *r, const cJSON *root)
{
    weft_sim_input *in = r->in;
    if (!cJSON_IsObject(root)) return weft_fail(WEFT_ERR_FORMAT, "plan %s: must be a JSON object (got %s)", r->origin,
                                                weft_rdu_json_kind(root));
    WEFT_TRY(read_header(r, root));
    WEFT_TRY(read_fabric(r, root));
    WEFT_TRY(read_values(r, root));
    const cJSON *groups, *units, *nets, *sections;
    WEFT_TRY(get_array(r, root, "", "groups", &groups, &in->ngroups));
    WEFT_TRY(get_array(r, root, "", "units", &units, &in->nunits));
    WEFT_TRY(get_array(r, root, "", "nets", &nets, &in->nnets));
    WEFT_TRY(get_array(r, root, "", "sections", &sections, &in->nsections));
    if (in->nsections == 0) return bad(r, "", "sections", -1, "empty: a plan runs at least one section");
    /* +1: calloc(0) may be NULL, which must not read as out of memory */
    in->groups = calloc((size_t)in->ngroups + 1, sizeof *in->groups);
    in->units = calloc((size_t)in->nunits + 1, sizeof *in->units);
    in->nets = calloc((size_t)in->nnets + 1, sizeof *in->nets);
    in->sections = calloc((size_t)in->nsections, sizeof *in->sections);
    r->group_sec = calloc((size_t)in->ngroups + 1, sizeof *r->group_sec);
    r->unit_sec = calloc((size_t)in->nunits + 1, sizeof *r->unit_sec);
    r->net_sec = calloc((size_t)in->nnets + 1, sizeof *r->net_sec);
    if (!in->groups || !in->units || !in->nets || !in->sections || !r->group_sec || !r->unit_sec || !r->net_sec)
        return weft_fail(WEFT_ERR_NOMEM, "plan %s: out of memory", r->origin);
    /* sections first: every element's section is checked against the range that holds it */
    WEFT_TRY(read_sections(r, sections));
    WEFT_TRY(read_groups(r, groups));
    WEFT_TRY(read_units(r, units));
    return read_nets(r, nets);
}

weft_status weft_sim_parse(const char *json, const char *origin, weft_sim_input *in)
{
    if (!in) return weft_fail(WEFT_ERR_ARG, "plan: no input to fill");
    memset(in, 0, sizeof *in);
    if (!origin) origin = "(text)";
    cJSON *root;
    WEFT_TRY(weft_rdu_json_parse(json, "plan", origin, &root));
    reader r = { .origin = origin, .in = in };
    weft_status s = read_plan(&r, root);
    cJSON_Delete(root);
    free(r.vid);
    free(r.vbytes);
    free(r.made);
    free(r.seen_in);
    free(r.seen_out);
    free(r.group_sec);
    free(r.unit_sec);
    free(r.net_sec);
    free(r.occ);
    if (s) weft_sim_input_free(in);
    return s;
}

weft_status weft_sim_read(const char *path, weft_sim_input *in)
{
    if (!in) return weft_fail(WEFT_ERR_ARG, "plan: no input to fill");
    memset(in, 0, sizeof *in);
    if (!path || !*path) return weft_fail(WEFT_ERR_ARG, "plan: no file given");
    char *text;
    weft_status s = weft_read_text(path, "plan", &text);
    if (s) return s;
    s = weft_sim_parse(text, path, in);
    free(text);
    return s;
}

void weft_sim_input_free(weft_sim_input *in)
{
    if (!in) return;
    free(in->groups);
    free(in->units);
    free(in->nets);
    free(in->sections);
    free(in->links);
    memset(in, 0, sizeof *in);
}
