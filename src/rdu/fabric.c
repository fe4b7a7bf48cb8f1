/* fabric.c — a reconfigurable fabric described as data: the JSON format, its
 * validation, the two presets, and the geometry the compiler asks of it
 * (unit counts, peak, links, where the address generators sit).
 *
 * The format (docs/FABRIC.md has every field's unit and range):
 *
 *   {"name": "plasticine",
 *    "grid": {"rows": 8, "cols": 16, "pattern": "checkerboard"},
 *    "pcu": {"lanes": 16, "stages": 6, "registers": 16, "vector_in": 8, "vector_out": 4,
 *            "scalar_in": 6, "scalar_out": 4},
 *    "pmu": {"bytes": 262144, "banks": 16},
 *    "network": {"vector_links": 1, "scalar_links": 1, "control_links": 1, "link_latency": 1},
 *    "offchip": {"address_generators": 8, "channels": 4, "gbps": 51.2, "latency_ns": 100},
 *    "clock_ghz": 1.0, "precisions": ["fp32"], "word_bytes": 4,
 *    "sources": ["..."], "assumptions": ["..."]}
 *
 * Everything but sources and assumptions is required. Nothing is trusted: a
 * missing field, a wrong JSON type, a number out of range, a fraction where a
 * count belongs, a key the format does not know (a typo must not be silently
 * ignored and leave a default in its place) or a key given twice is an error
 * naming the origin and the field's path ("fabric my.json: pcu.lanes: ...").
 * Presets are JSON text here, parsed by the same code, so they obey the same
 * rules as a user's file. */
#include "rdu/rdu_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the presets ---------------------------------------------------------------- */

typedef struct { const char *name, *json; } fabric_preset;

static const fabric_preset presets[] = {
    { "plasticine",
      "{\"name\": \"plasticine\",\n"
      " \"grid\": {\"rows\": 8, \"cols\": 16, \"pattern\": \"checkerboard\"},\n"
      " \"pcu\": {\"lanes\": 16, \"stages\": 6, \"registers\": 16, \"vector_in\": 8, \"vector_out\": 4,\n"
      "         \"scalar_in\": 6, \"scalar_out\": 4},\n"
      " \"pmu\": {\"bytes\": 262144, \"banks\": 16},\n"
      " \"network\": {\"vector_links\": 1, \"scalar_links\": 1, \"control_links\": 1, \"link_latency\": 1},\n"
      " \"offchip\": {\"address_generators\": 8, \"channels\": 4, \"gbps\": 51.2, \"latency_ns\": 100},\n"
      " \"clock_ghz\": 1.0, \"precisions\": [\"fp32\"], \"word_bytes\": 4,\n"
      " \"sources\": [\n"
      "  \"Prabhakar et al., Plasticine: A Reconfigurable Architecture for Parallel Patterns, ISCA 2017\",\n"
      "  \"from that paper (its commonly cited configuration): 64 PCUs and 64 PMUs in a checkerboard, 1 GHz\",\n"
      "  \"from that paper: a PCU is 16 SIMD lanes x 6 pipeline stages; a PMU is a 256 KB scratchpad in 16 banks\",\n"
      "  \"the open Plasticine compiler's defaults (stanford-ppl/pir): 32-bit words, 16 pipeline registers\",\n"
      "  \"the same defaults: a PCU has 8 vector inputs and 4 outputs, 6 scalar inputs and 4 outputs\"],\n"
      " \"assumptions\": [\n"
      "  \"the checkerboard is 8 rows x 16 columns\",\n"
      "  \"fp32 only, one 4-byte word per lane\",\n"
      "  \"1 vector, 1 scalar and 1 control link per direction between neighbouring switches; 1 cycle a hop\",\n"
      "  \"off-chip memory is DDR3-class: 4 channels giving 51.2 GB/s together, about 100 ns away\",\n"
      "  \"8 address generators, 4 on each of the left and right edges\"]}\n" },
    { "sn10",
      "{\"name\": \"sn10\",\n"
      " \"grid\": {\"rows\": 32, \"cols\": 40, \"pattern\": \"checkerboard\"},\n"
      " \"pcu\": {\"lanes\": 32, \"stages\": 6, \"registers\": 16, \"vector_in\": 8, \"vector_out\": 4,\n"
      "         \"scalar_in\": 6, \"scalar_out\": 4},\n"
      " \"pmu\": {\"bytes\": 524288, \"banks\": 32},\n"
      " \"network\": {\"vector_links\": 2, \"scalar_links\": 1, \"control_links\": 1, \"link_latency\": 1},\n"
      " \"offchip\": {\"address_generators\": 32, \"channels\": 8, \"gbps\": 204.8, \"latency_ns\": 100},\n"
      " \"clock_ghz\": 1.25, \"precisions\": [\"bf16\", \"fp32\"], \"word_bytes\": 2,\n"
      " \"sources\": [\n"
      "  \"SambaNova Cardinal SN10 RDU, public figures (Hot Chips 33, 2021; SambaNova product material)\",\n"
      "  \"from those: 640 PCUs, 640 PMUs, 320 MB of SRAM on chip, more than 300 bf16 TFLOPS\",\n"
      "  \"from those: DDR4 off-chip memory, up to 1.5 TB per chip\"],\n"
      " \"assumptions\": [\n"
      "  \"a 32 x 40 checkerboard, which holds the 640 PCUs and 640 PMUs\",\n"
      "  \"320 MB over 640 PMUs: 0.5 MiB (524288 bytes) per PMU, in 32 banks: one per lane, so a PMU reads or writes a vector a cycle\",\n"
      "  \"a PCU is 32 lanes x 6 stages at 1.25 GHz: 640 x 32 x 6 x 2 x 1.25e9 = 307 TFLOPS, matching more than 300\",\n"
      "  \"bf16 and fp32; a vector lane is a 2-byte bf16 word\",\n"
      "  \"registers and ports as Plasticine's (16 registers; 8/4 vector, 6/4 scalar in/out)\",\n"
      "  \"2 vector links, 1 scalar and 1 control link per direction; 1 cycle a hop\",\n"
      "  \"off-chip: 8 DDR4-3200 channels giving 204.8 GB/s together, about 100 ns away\",\n"
      "  \"32 address generators, 16 on each of the left and right edges\"]}\n" },
};
enum { NPRESETS = sizeof presets / sizeof *presets };

const char *const *weft_fabric_presets(void)
{
    /* a preset added to the table must be named here too */
    _Static_assert(NPRESETS == 2, "list every preset of the table here");
    static const char *const names[NPRESETS + 1] = { "plasticine", "sn10", NULL };
    return names;
}

/* ---- the numeric fields: one table drives parsing, the range messages and writing ---- */

typedef enum { NUM_INT, NUM_I64, NUM_REAL } num_type;

typedef struct {
    const char *sect;     /* the object it lives in; NULL: the top level          */
    const char *key;
    num_type type;
    double lo, hi;
    bool lo_open;         /* lo itself is out of range (a bandwidth must be > 0)   */
    int hi_per_row;       /* > 0: hi is this times grid.rows (parsed before it)    */
    int only[2];          /* nonzero: the value must be one of these two           */
    size_t off;           /* where it goes in weft_fabric                          */
} num_field;

#define OFF(m) offsetof(weft_fabric, m)
static const num_field num_fields[] = {
    { "grid", "rows", NUM_INT, 1, 256, false, 0, {0, 0}, OFF(rows) },
    { "grid", "cols", NUM_INT, 1, 256, false, 0, {0, 0}, OFF(cols) },
    { "pcu", "lanes", NUM_INT, 1, 1024, false, 0, {0, 0}, OFF(pcu_lanes) },
    { "pcu", "stages", NUM_INT, 1, 64, false, 0, {0, 0}, OFF(pcu_stages) },
    { "pcu", "registers", NUM_INT, 1, 1024, false, 0, {0, 0}, OFF(pcu_regs) },
    { "pcu", "vector_in", NUM_INT, 1, 64, false, 0, {0, 0}, OFF(pcu_vec_in) },
    { "pcu", "vector_out", NUM_INT, 1, 64, false, 0, {0, 0}, OFF(pcu_vec_out) },
    { "pcu", "scalar_in", NUM_INT, 1, 64, false, 0, {0, 0}, OFF(pcu_scal_in) },
    { "pcu", "scalar_out", NUM_INT, 1, 64, false, 0, {0, 0}, OFF(pcu_scal_out) },
    { "pmu", "bytes", NUM_I64, 1024, 1073741824.0, false, 0, {0, 0}, OFF(pmu_bytes) },
    { "pmu", "banks", NUM_INT, 1, 256, false, 0, {0, 0}, OFF(pmu_banks) },
    { "network", "vector_links", NUM_INT, 1, 64, false, 0, {0, 0}, OFF(vec_links) },
    { "network", "scalar_links", NUM_INT, 0, 64, false, 0, {0, 0}, OFF(scal_links) },
    { "network", "control_links", NUM_INT, 0, 64, false, 0, {0, 0}, OFF(ctrl_links) },
    { "network", "link_latency", NUM_INT, 1, 1000, false, 0, {0, 0}, OFF(link_latency) },
    { "offchip", "address_generators", NUM_INT, 1, 0, false, 2, {0, 0}, OFF(ags) },
    { "offchip", "channels", NUM_INT, 1, 64, false, 0, {0, 0}, OFF(dram_channels) },
    { "offchip", "gbps", NUM_REAL, 0, 1e5, true, 0, {0, 0}, OFF(dram_gbps) },
    { "offchip", "latency_ns", NUM_REAL, 0, 1e6, false, 0, {0, 0}, OFF(dram_latency_ns) },
    { NULL, "clock_ghz", NUM_REAL, 0.01, 100, false, 0, {0, 0}, OFF(clock_ghz) },
    { NULL, "word_bytes", NUM_INT, 2, 4, false, 0, {2, 4}, OFF(word_bytes) },
};
#undef OFF
enum { NNUM = sizeof num_fields / sizeof *num_fields };

/* The sub-objects, in the order they are checked and written. */
static const char *const sections[] = { "grid", "pcu", "pmu", "network", "offchip" };
enum { NSECT = sizeof sections / sizeof *sections };
/* Keys that are not numbers: (object, key). */
static const struct { const char *sect, *key; } other_keys[] = {
    { NULL, "name" }, { NULL, "precisions" }, { NULL, "sources" }, { NULL, "assumptions" },
    { "grid", "pattern" },
};
enum { NOTHER = sizeof other_keys / sizeof *other_keys };

static const char *const pattern_names[] = { [WEFT_PATTERN_CHECKERBOARD] = "checkerboard",
                                             [WEFT_PATTERN_COLUMNS] = "columns" };

static bool same_sect(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

/* ---- parsing helpers -------------------------------------------------------------- */

const char *weft_rdu_json_kind(const cJSON *v)
{
    if (!v) return "nothing";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    return "an invalid value";
}

/* "sect.key", or "key" at the top level, for messages. */
static const char *field_path(char *buf, size_t n, const char *sect, const char *key)
{
    if (sect) snprintf(buf, n, "%s.%.60s", sect, key);
    else snprintf(buf, n, "%.60s", key);
    return buf;
}

static bool known_key(const char *sect, const char *key)
{
    for (int i = 0; i < NNUM; i++)
        if (same_sect(num_fields[i].sect, sect) && !strcmp(num_fields[i].key, key)) return true;
    for (int i = 0; i < NOTHER; i++)
        if (same_sect(other_keys[i].sect, sect) && !strcmp(other_keys[i].key, key)) return true;
    if (!sect)
        for (int i = 0; i < NSECT; i++)
            if (!strcmp(sections[i], key)) return true;
    return false;
}

/* The keys an object may hold, comma-separated, so a typo's message shows the right spelling. */
static void list_keys(char *buf, size_t n, const char *sect)
{
    size_t len = 0;
    buf[0] = 0;
#define ADD(k) do { if (len < n) len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", (k)); } while (0)
    for (int i = 0; i < NOTHER; i++)
        if (same_sect(other_keys[i].sect, sect)) ADD(other_keys[i].key);
    if (!sect)
        for (int i = 0; i < NSECT; i++) ADD(sections[i]);
    for (int i = 0; i < NNUM; i++)
        if (same_sect(num_fields[i].sect, sect)) ADD(num_fields[i].key);
#undef ADD
}

/* Every key of obj known to the format, and none given twice (cJSON keeps
 * both copies of a duplicate and lookups see only the first). */
static weft_status check_keys(const cJSON *obj, const char *sect, const char *origin)
{
    char path[160], known[400];
    for (const cJSON *e = obj->child; e; e = e->next) {
        if (!known_key(sect, e->string)) {
            list_keys(known, sizeof known, sect);
            return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: unknown field (known: %s)", origin,
                             field_path(path, sizeof path, sect, e->string), known);
        }
        for (const cJSON *p = obj->child; p != e; p = p->next)
            if (!strcmp(p->string, e->string))
                return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: given twice", origin,
                                 field_path(path, sizeof path, sect, e->string));
    }
    return WEFT_OK;
}

static weft_status need(const cJSON *obj, const char *sect, const char *key, const char *origin,
                        const cJSON **out)
{
    char path[160];
    *out = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!*out)
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: missing", origin, field_path(path, sizeof path, sect, key));
    return WEFT_OK;
}

static weft_status parse_num(weft_fabric *f, const num_field *d, const cJSON *obj, const char *origin)
{
    const cJSON *v;
    char path[160], range[128], got[64];
    WEFT_TRY(need(obj, d->sect, d->key, origin, &v));
    field_path(path, sizeof path, d->sect, d->key);
    double hi = d->hi_per_row ? (double)d->hi_per_row * f->rows : d->hi;
    if (d->only[0])
        snprintf(range, sizeof range, "must be %d or %d", d->only[0], d->only[1]);
    else if (d->type == NUM_REAL && d->lo_open)
        snprintf(range, sizeof range, "must be a number above %.15g and at most %.15g", d->lo, hi);
    else if (d->type == NUM_REAL)
        snprintf(range, sizeof range, "must be a number from %.15g to %.15g", d->lo, hi);
    else if (d->hi_per_row)
        snprintf(range, sizeof range, "must be an integer from %.15g to %d x grid.rows = %.15g", d->lo,
                 d->hi_per_row, hi);
    else
        snprintf(range, sizeof range, "must be an integer from %.15g to %.15g", d->lo, hi);

    if (!cJSON_IsNumber(v))
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: %s (got %s)", origin, path, range, weft_rdu_json_kind(v));
    double x = v->valuedouble;
    snprintf(got, sizeof got, "%.15g", x);
    bool ok = isfinite(x) && x <= hi && (d->lo_open ? x > d->lo : x >= d->lo);
    if (d->type != NUM_REAL) ok = ok && x == floor(x);
    if (d->only[0]) ok = ok && (x == d->only[0] || x == d->only[1]);
    if (!ok) return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: %s (got %s)", origin, path, range, got);

    char *dst = (char *)f + d->off;
    switch (d->type) {
    case NUM_INT: { int i = (int)x; memcpy(dst, &i, sizeof i); break; }
    case NUM_I64: { int64_t i = (int64_t)x; memcpy(dst, &i, sizeof i); break; }
    case NUM_REAL: memcpy(dst, &x, sizeof x); break;
    }
    return WEFT_OK;
}

/* A string with no control characters (it is printed on terminals) that fits
 * in cap - 1 bytes: a longer one is an error, never cut short in silence. */
static weft_status check_text(const cJSON *v, const char *path, size_t cap, const char *origin)
{
    if (!cJSON_IsString(v))
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: must be a string (got %s)", origin, path, weft_rdu_json_kind(v));
    size_t n = strlen(v->valuestring);
    if (n == 0) return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: empty", origin, path);
    if (n > cap - 1)
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: longer than %zu bytes (%zu)", origin, path, cap - 1, n);
    for (const unsigned char *p = (const unsigned char *)v->valuestring; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: holds a control character (byte %zu)", origin, path,
                             (size_t)((const char *)p - v->valuestring));
    return WEFT_OK;
}

static weft_status parse_notes(const cJSON *root, const char *key, char (*notes)[200], int *count,
                               const char *origin)
{
    char path[96];
    *count = 0;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!a) return WEFT_OK;   /* optional: a fabric may come from nowhere in particular */
    if (!cJSON_IsArray(a))
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: must be an array of strings (got %s)", origin, key,
                         weft_rdu_json_kind(a));
    int n = cJSON_GetArraySize(a);
    if (n > WEFT_FABRIC_MAX_NOTES)
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: at most %d notes (got %d)", origin, key,
                         WEFT_FABRIC_MAX_NOTES, n);
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        snprintf(path, sizeof path, "%s[%d]", key, i);
        WEFT_TRY(check_text(e, path, 200, origin));
        strcpy(notes[i], e->valuestring);
    }
    *count = n;
    return WEFT_OK;
}

static weft_status parse_precisions(weft_fabric *f, const cJSON *root, const char *origin)
{
    const cJSON *a;
    char path[64];
    WEFT_TRY(need(root, NULL, "precisions", origin, &a));
    if (!cJSON_IsArray(a))
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: precisions: must be an array of \"fp32\" and \"bf16\" (got %s)",
                         origin, weft_rdu_json_kind(a));
    if (!a->child)
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: precisions: must list at least one of fp32, bf16", origin);
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        snprintf(path, sizeof path, "precisions[%d]", i);
        if (!cJSON_IsString(e))
            return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: must be \"fp32\" or \"bf16\" (got %s)", origin, path,
                             weft_rdu_json_kind(e));
        bool *flag = !strcmp(e->valuestring, "fp32") ? &f->fp32 : !strcmp(e->valuestring, "bf16") ? &f->bf16 : NULL;
        if (!flag)
            return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: unknown precision \"%.40s\" (known: fp32, bf16)",
                             origin, path, e->valuestring);
        if (*flag)
            return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: \"%s\" listed twice", origin, path, e->valuestring);
        *flag = true;
    }
    return WEFT_OK;
}

/* grid.pattern, and at least one PCU and one PMU on the grid (a 1 x 1 grid
 * has no room for both). */
static weft_status parse_grid(weft_fabric *f, const cJSON *grid, const char *origin)
{
    const cJSON *v;
    WEFT_TRY(need(grid, "grid", "pattern", origin, &v));
    int pat = -1;
    if (cJSON_IsString(v))
        for (int p = 0; p < 2; p++)
            if (!strcmp(v->valuestring, pattern_names[p])) pat = p;
    if (pat < 0) {
        char got[64];
        if (cJSON_IsString(v)) snprintf(got, sizeof got, "\"%.40s\"", v->valuestring);
        else snprintf(got, sizeof got, "%s", weft_rdu_json_kind(v));
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: grid.pattern: must be \"checkerboard\" or \"columns\" (got %s)",
                         origin, got);
    }
    f->pattern = (weft_fabric_pattern)pat;
    int npcu = weft_fabric_count(f, WEFT_SITE_PCU), npmu = weft_fabric_count(f, WEFT_SITE_PMU);
    if (npcu == 0 || npmu == 0)
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: grid: a %d x %d grid in pattern \"%s\" holds %d PCU(s) and "
                         "%d PMU(s); a fabric needs at least one of each", origin, f->rows, f->cols,
                         pattern_names[f->pattern], npcu, npmu);
    return WEFT_OK;
}

static weft_status parse_root(weft_fabric *f, const cJSON *root, const char *origin)
{
    if (!cJSON_IsObject(root))
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: must be a JSON object (got %s)", origin, weft_rdu_json_kind(root));
    WEFT_TRY(check_keys(root, NULL, origin));

    const cJSON *v;
    WEFT_TRY(need(root, NULL, "name", origin, &v));
    WEFT_TRY(check_text(v, "name", sizeof f->name, origin));
    strcpy(f->name, v->valuestring);

    const cJSON *sect[NSECT];
    for (int i = 0; i < NSECT; i++) {
        WEFT_TRY(need(root, NULL, sections[i], origin, &sect[i]));
        if (!cJSON_IsObject(sect[i]))
            return weft_fail(WEFT_ERR_FORMAT, "fabric %s: %s: must be an object (got %s)", origin, sections[i],
                             weft_rdu_json_kind(sect[i]));
        WEFT_TRY(check_keys(sect[i], sections[i], origin));
    }
    /* Section by section in table order, the grid first: its shape bounds the
     * AG count, and a grid without both kinds of unit is reported as that,
     * not as whatever range it then breaks. */
    for (int s = 0; s <= NSECT; s++) {
        const char *name = s < NSECT ? sections[s] : NULL;
        const cJSON *obj = s < NSECT ? sect[s] : root;
        for (int i = 0; i < NNUM; i++)
            if (same_sect(num_fields[i].sect, name)) WEFT_TRY(parse_num(f, &num_fields[i], obj, origin));
        if (s == 0) WEFT_TRY(parse_grid(f, sect[0], origin));
    }

    WEFT_TRY(parse_precisions(f, root, origin));
    WEFT_TRY(parse_notes(root, "sources", f->sources, &f->nsources, origin));
    WEFT_TRY(parse_notes(root, "assumptions", f->assumptions, &f->nassumptions, origin));

    /* Checks across fields. */
    if (f->word_bytes == 2 && !f->bf16)
        return weft_fail(WEFT_ERR_FORMAT, "fabric %s: word_bytes: 2-byte lanes cannot hold fp32; list \"bf16\" in "
                         "precisions or make word_bytes 4", origin);
    return WEFT_OK;
}

/* Whether a text that failed to parse at byte `at` looks cut short: a string
 * left open where the failure is, or nothing but white space after the
 * failure with an object or array still open (cJSON puts a failure at the
 * very end on the last byte, and one in a string just after its quote). */
static bool ends_early(const char *text, size_t at, size_t len)
{
    int depth = 0;
    bool in_str = false;
    size_t quote = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\' && i + 1 < len) i++;
            else if (c == '"') in_str = false;
        } else if (c == '"') { in_str = true; quote = i; }
        else if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') depth--;
    }
    if (in_str) return quote + 1 >= at;
    bool rest_blank = at + 1 >= len || !text[at + 1 + strspn(text + at + 1, " \t\r\n")];
    return rest_blank && depth > 0;
}

/* Line and column (from 1) of byte `at` of text. */
static void text_position(const char *text, size_t at, int *line, int *col)
{
    *line = 1; *col = 1;
    for (size_t i = 0; i < at && text[i]; i++) {
        if (text[i] == '\n') { (*line)++; *col = 1; }
        else (*col)++;
    }
}

void weft_rdu_json_where(char *buf, size_t n, const char *json, const char *end)
{
    size_t len = strlen(json);
    size_t at = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
    int line, col;
    text_position(json, at, &line, &col);
    snprintf(buf, n, "near line %d, column %d (byte %zu)%s", line, col, at,
             ends_early(json, at, len) ? ": the text ends early" : "");
}

weft_status weft_rdu_json_parse(const char *json, const char *what, const char *origin, cJSON **root)
{
    *root = NULL;
    if (!json) return weft_fail(WEFT_ERR_ARG, "%s %s: no text", what, origin);
    if (!json[strspn(json, " \t\r\n")]) return weft_fail(WEFT_ERR_FORMAT, "%s %s: empty: expected a JSON object", what, origin);
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(json, &end, 1);
    if (*root) return WEFT_OK;
    char where[96];
    weft_rdu_json_where(where, sizeof where, json, end);
    return weft_fail(WEFT_ERR_FORMAT, "%s %s: not valid JSON %s", what, origin, where);
}

weft_status weft_fabric_from_json(weft_fabric *out, const cJSON *root, const char *origin)
{
    weft_fabric f;   /* filled here and copied out whole, so a failure leaves *out as it was */
    memset(&f, 0, sizeof f);
    weft_status s = parse_root(&f, root, origin);
    if (s == WEFT_OK) *out = f;
    return s;
}

weft_status weft_fabric_parse(weft_fabric *out, const char *json, const char *origin)
{
    if (!origin) origin = "(text)";
    cJSON *root;
    WEFT_TRY(weft_rdu_json_parse(json, "fabric", origin, &root));
    weft_status s = weft_fabric_from_json(out, root, origin);
    cJSON_Delete(root);
    return s;
}

weft_status weft_fabric_load(weft_fabric *f, const char *name_or_path)
{
    if (!name_or_path || !*name_or_path) return weft_fail(WEFT_ERR_ARG, "fabric: no name or file given");
    for (int i = 0; i < NPRESETS; i++)
        if (!strcmp(name_or_path, presets[i].name)) return weft_fabric_parse(f, presets[i].json, presets[i].name);
    if (access(name_or_path, F_OK) != 0) {
        char list[128] = "";
        size_t len = 0;
        for (int i = 0; i < NPRESETS && len < sizeof list; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", presets[i].name);
        return weft_fail(WEFT_ERR_ARG, "fabric %s: neither a preset (%s) nor an existing file", name_or_path, list);
    }
    char *text;
    weft_status s = weft_read_text(name_or_path, "fabric", &text);
    if (s) return s;
    s = weft_fabric_parse(f, text, name_or_path);
    free(text);
    return s;
}

/* ---- writing ------------------------------------------------------------------- */

const char *weft_rdu_shortest(char *buf, size_t n, double x)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    return buf;
}

/* The shortest %g, so a written fabric parses to the same numbers. A
 * non-finite value (a fabric not from the parser) becomes null, which the
 * parser rejects, rather than invalid JSON. */
static void put_real(FILE *out, double x)
{
    char buf[40];
    fputs(isfinite(x) ? weft_rdu_shortest(buf, sizeof buf, x) : "null", out);
}

static void put_num(FILE *out, const weft_fabric *f, const num_field *d)
{
    const char *src = (const char *)f + d->off;
    switch (d->type) {
    case NUM_INT: { int i; memcpy(&i, src, sizeof i); fprintf(out, "%d", i); break; }
    case NUM_I64: { int64_t i; memcpy(&i, src, sizeof i); fprintf(out, "%lld", (long long)i); break; }
    case NUM_REAL: { double x; memcpy(&x, src, sizeof x); put_real(out, x); break; }
    }
}

static void put_notes(FILE *out, const char *key, const char (*notes)[200], int n)
{
    fprintf(out, ",\n  \"%s\": [", key);
    for (int i = 0; i < n; i++) {
        fputs(i ? ",\n    " : "\n    ", out);
        weft_json_string(out, notes[i]);
    }
    fputs(n ? "\n  ]" : "]", out);
}

void weft_fabric_write_json(FILE *out, const weft_fabric *f)
{
    fputs("{\n  \"name\": ", out);
    weft_json_string(out, f->name);
    for (int s = 0; s < NSECT; s++) {
        fprintf(out, ",\n  \"%s\": {", sections[s]);
        int k = 0;
        for (int i = 0; i < NNUM; i++) {
            if (!same_sect(num_fields[i].sect, sections[s])) continue;
            fprintf(out, "%s\"%s\": ", k++ ? ", " : "", num_fields[i].key);
            put_num(out, f, &num_fields[i]);
        }
        if (!strcmp(sections[s], "grid")) {
            fputs(", \"pattern\": ", out);
            weft_json_string(out, f->pattern == WEFT_PATTERN_COLUMNS ? "columns" : "checkerboard");
        }
        fputc('}', out);
    }
    for (int i = 0; i < NNUM; i++) {
        if (num_fields[i].sect) continue;
        fprintf(out, ",\n  \"%s\": ", num_fields[i].key);
        put_num(out, f, &num_fields[i]);
    }
    fputs(",\n  \"precisions\": [", out);
    if (f->fp32) fputs("\"fp32\"", out);
    if (f->bf16) fputs(f->fp32 ? ", \"bf16\"" : "\"bf16\"", out);
    fputc(']', out);
    put_notes(out, "sources", (const char (*)[200])f->sources, f->nsources);
    put_notes(out, "assumptions", (const char (*)[200])f->assumptions, f->nassumptions);
    fputs("\n}\n", out);
}

/* ---- for a person ------------------------------------------------------------------ */

static const char *bytes_text(char *buf, size_t n, int64_t b)
{
    if (b % (1 << 20) == 0) snprintf(buf, n, "%lld MiB", (long long)(b >> 20));
    else if (b % 1024 == 0) snprintf(buf, n, "%lld KiB", (long long)(b >> 10));
    else snprintf(buf, n, "%lld bytes", (long long)b);
    return buf;
}

void weft_fabric_print(FILE *out, const weft_fabric *f)
{
    int npcu = weft_fabric_count(f, WEFT_SITE_PCU), npmu = weft_fabric_count(f, WEFT_SITE_PMU);
    int left = (f->ags + 1) / 2;
    char pmu[32];
    fprintf(out, "fabric %s: %d x %d grid, %s pattern\n", f->name, f->rows, f->cols,
            f->pattern == WEFT_PATTERN_COLUMNS ? "columns" : "checkerboard");
    fprintf(out, "  units     %d PCUs, %d PMUs\n", npcu, npmu);
    fprintf(out, "  PCU       %d lanes x %d stages, %d registers; ports %d/%d vector in/out, %d/%d scalar in/out\n",
            f->pcu_lanes, f->pcu_stages, f->pcu_regs, f->pcu_vec_in, f->pcu_vec_out, f->pcu_scal_in,
            f->pcu_scal_out);
    fprintf(out, "  peak      %.4g TFLOPS (every lane and stage one multiply-add a cycle); precisions %s%s%s\n",
            weft_fabric_peak_flops(f) / 1e12, f->bf16 ? "bf16" : "", f->bf16 && f->fp32 ? ", " : "",
            f->fp32 ? "fp32" : "");
    fprintf(out, "  PMU       %s in %d banks; on chip %.6g MiB in all\n", bytes_text(pmu, sizeof pmu, f->pmu_bytes),
            f->pmu_banks, (double)npmu * (double)f->pmu_bytes / (1 << 20));
    fprintf(out, "  network   per direction: %d vector, %d scalar, %d control link(s); %d cycle(s) a hop; "
            "a vector link %.6g GB/s\n", f->vec_links, f->scal_links, f->ctrl_links, f->link_latency,
            f->pcu_lanes * f->word_bytes * f->clock_ghz);
    fprintf(out, "  off-chip  %.6g GB/s over %d channel(s), %.6g ns; %d address generator(s) (%d left, %d right)\n",
            f->dram_gbps, f->dram_channels, f->dram_latency_ns, f->ags, left, f->ags - left);
    fprintf(out, "  clock     %.6g GHz; a lane holds %d bytes\n", f->clock_ghz, f->word_bytes);
    if (f->nsources) fputs("sources:\n", out);
    for (int i = 0; i < f->nsources; i++) fprintf(out, "  - %s\n", f->sources[i]);
    if (f->nassumptions) fputs("assumptions:\n", out);
    for (int i = 0; i < f->nassumptions; i++) fprintf(out, "  - %s\n", f->assumptions[i]);
}

/* ---- geometry ----------------------------------------------------------------------- */

int weft_fabric_count(const weft_fabric *f, weft_site_kind k)
{
    /* Counted through weft_fabric_site_kind so the count can never disagree with it. */
    int n = 0, sites = weft_fabric_sites(f);
    for (int s = 0; s < sites; s++) n += weft_fabric_site_kind(f, s) == k;
    return n;
}

double weft_fabric_peak_flops(const weft_fabric *f)
{
    return (double)weft_fabric_count(f, WEFT_SITE_PCU) * f->pcu_lanes * f->pcu_stages * 2.0 * f->clock_ghz * 1e9;
}

int weft_fabric_ag_site(const weft_fabric *f, int a)
{
    if (a < 0 || a >= f->ags) return -1;
    int nleft = (f->ags + 1) / 2;
    bool right = a >= nleft;
    int i = right ? a - nleft : a, n = right ? f->ags - nleft : nleft;
    /* The middle row of the i-th of n equal bands: evenly spread, and distinct
     * rows whenever n <= rows (the parser allows at most 2 x rows AGs). */
    int row = (int)(((2 * (int64_t)i + 1) * f->rows) / (2 * (int64_t)n));
    return row * f->cols + (right ? f->cols - 1 : 0);
}

int weft_fabric_link_dest(const weft_fabric *f, int link)
{
    if (link < 0 || link >= weft_fabric_links(f)) return -1;
    int site = link / 4, r = site / f->cols, c = site % f->cols;
    switch (link % 4) {
    case WEFT_DIR_N: r--; break;
    case WEFT_DIR_E: c++; break;
    case WEFT_DIR_S: r++; break;
    default: c--; break;
    }
    return r < 0 || r >= f->rows || c < 0 || c >= f->cols ? -1 : r * f->cols + c;
}

int weft_unit_site(const weft_fabric *f, weft_unit_kind k, int slot)
{
    if (k == WEFT_UNIT_AG) return weft_fabric_ag_site(f, slot);
    return slot >= 0 && slot < weft_fabric_sites(f) ? slot : -1;
}
