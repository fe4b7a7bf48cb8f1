/* test_rdu_fabric.c — the fabric description: presets, the JSON round trip,
 * every kind of malformed input naming its field, and the geometry (links,
 * address generators, site kinds). */
#include "weft/rdu.h"
#include "test_util.h"

/* A valid fabric the malformed cases are made from, one edit each. */
static const char *base_json =
    "{\"name\": \"t\",\n"
    " \"grid\": {\"rows\": 8, \"cols\": 16, \"pattern\": \"checkerboard\"},\n"
    " \"pcu\": {\"lanes\": 16, \"stages\": 6, \"registers\": 16, \"vector_in\": 8, \"vector_out\": 4,\n"
    "         \"scalar_in\": 6, \"scalar_out\": 4},\n"
    " \"pmu\": {\"bytes\": 262144, \"banks\": 16},\n"
    " \"network\": {\"vector_links\": 1, \"scalar_links\": 1, \"control_links\": 1, \"link_latency\": 1},\n"
    " \"offchip\": {\"address_generators\": 8, \"channels\": 4, \"gbps\": 51.2, \"latency_ns\": 100},\n"
    " \"clock_ghz\": 1.0, \"precisions\": [\"fp32\"], \"word_bytes\": 4,\n"
    " \"sources\": [\"a\"], \"assumptions\": [\"b\"]}\n";

/* base_json with the first `from` replaced by `to` (malloc'd). */
static char *edit(const char *from, const char *to)
{
    const char *at = strstr(base_json, from);
    if (!at) { fprintf(stderr, "edit: \"%s\" not in the base fabric\n", from); exit(2); }
    size_t head = (size_t)(at - base_json), nf = strlen(from), nt = strlen(to), nb = strlen(base_json);
    char *s = malloc(nb - nf + nt + 1);
    memcpy(s, base_json, head);
    memcpy(s + head, to, nt);
    memcpy(s + head + nt, at + nf, nb - head - nf + 1);
    return s;
}

static bool fabric_equal(const weft_fabric *a, const weft_fabric *b)
{
    bool eq = !strcmp(a->name, b->name) && a->rows == b->rows && a->cols == b->cols && a->pattern == b->pattern &&
              a->pcu_lanes == b->pcu_lanes && a->pcu_stages == b->pcu_stages && a->pcu_regs == b->pcu_regs &&
              a->pcu_vec_in == b->pcu_vec_in && a->pcu_vec_out == b->pcu_vec_out &&
              a->pcu_scal_in == b->pcu_scal_in && a->pcu_scal_out == b->pcu_scal_out &&
              a->pmu_bytes == b->pmu_bytes && a->pmu_banks == b->pmu_banks && a->vec_links == b->vec_links &&
              a->scal_links == b->scal_links && a->ctrl_links == b->ctrl_links &&
              a->link_latency == b->link_latency && a->ags == b->ags && a->dram_channels == b->dram_channels &&
              a->dram_gbps == b->dram_gbps && a->dram_latency_ns == b->dram_latency_ns &&
              a->clock_ghz == b->clock_ghz && a->fp32 == b->fp32 && a->bf16 == b->bf16 &&
              a->word_bytes == b->word_bytes && a->nsources == b->nsources && a->nassumptions == b->nassumptions;
    for (int i = 0; eq && i < a->nsources; i++) eq = !strcmp(a->sources[i], b->sources[i]);
    for (int i = 0; eq && i < a->nassumptions; i++) eq = !strcmp(a->assumptions[i], b->assumptions[i]);
    return eq;
}

/* write_json, then parse what it wrote. */
static void check_round_trip(const weft_fabric *f)
{
    char *text = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&text, &n);
    weft_fabric_write_json(m, f);
    fclose(m);
    weft_fabric g;
    memset(&g, 0xab, sizeof g);
    CHECK_OK(weft_fabric_parse(&g, text, "written"));
    CHECKF(fabric_equal(f, &g), "%s: the written JSON parses to a different fabric:\n%s", f->name, text);
    free(text);
}

static void test_presets(void)
{
    const char *const *names = weft_fabric_presets();
    CHECK(names[0] && !strcmp(names[0], "plasticine"));
    CHECK(names[1] && !strcmp(names[1], "sn10"));
    CHECK(names[2] == NULL);

    weft_fabric f;
    CHECK_OK(weft_fabric_load(&f, "plasticine"));
    CHECK(!strcmp(f.name, "plasticine"));
    CHECK(f.rows == 8 && f.cols == 16 && f.pattern == WEFT_PATTERN_CHECKERBOARD);
    CHECK(weft_fabric_count(&f, WEFT_SITE_PCU) == 64);
    CHECK(weft_fabric_count(&f, WEFT_SITE_PMU) == 64);
    CHECK_NEAR(weft_fabric_peak_flops(&f), 12.288e12, 1e6);
    CHECK(f.pmu_bytes * weft_fabric_count(&f, WEFT_SITE_PMU) == 16 << 20);
    CHECK(f.fp32 && !f.bf16 && f.word_bytes == 4);
    CHECK(f.nsources >= 3 && f.nassumptions >= 3);
    CHECK(strstr(f.sources[0], "ISCA 2017") != NULL);
    check_round_trip(&f);

    char *text = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&text, &n);
    weft_fabric_print(m, &f);
    fclose(m);
    CHECKF(strstr(text, "64 PCUs, 64 PMUs") && strstr(text, "12.29 TFLOPS") && strstr(text, "16 MiB") &&
           strstr(text, "64 GB/s") && strstr(text, "51.2 GB/s") && strstr(text, "  - Prabhakar"),
           "print:\n%s", text);
    free(text);

    CHECK_OK(weft_fabric_load(&f, "sn10"));
    CHECK(weft_fabric_count(&f, WEFT_SITE_PCU) == 640);
    CHECK(weft_fabric_count(&f, WEFT_SITE_PMU) == 640);
    CHECK(weft_fabric_peak_flops(&f) >= 3e14);
    CHECK_NEAR(weft_fabric_peak_flops(&f), 307.2e12, 1e6);
    CHECK_NEAR((double)f.pmu_bytes * weft_fabric_count(&f, WEFT_SITE_PMU) / (1 << 20), 320, 1e-9);
    CHECK(f.fp32 && f.bf16 && f.word_bytes == 2 && f.vec_links == 2);
    CHECK(f.nsources >= 2 && f.nassumptions >= 4);
    check_round_trip(&f);
}

static void test_round_trip_odd(void)
{
    /* Numbers that need 17 digits, the columns pattern, text that needs escaping. */
    char *s = edit("\"pattern\": \"checkerboard\"", "\"pattern\": \"columns\"");
    weft_fabric f;
    CHECK_OK(weft_fabric_parse(&f, s, "odd"));
    free(s);
    f.dram_gbps = 0.1 + 0.2;
    f.clock_ghz = 1.0 / 3.0;
    f.dram_latency_ns = 0;
    f.scal_links = f.ctrl_links = 0;
    f.bf16 = true;
    f.word_bytes = 2;
    snprintf(f.name, sizeof f.name, "odd \"one\" \\ é");
    f.nsources = WEFT_FABRIC_MAX_NOTES;
    for (int i = 0; i < f.nsources; i++) snprintf(f.sources[i], sizeof f.sources[i], "source %d: \"quoted\" / \\", i);
    memset(f.assumptions[0], 'x', 199);
    f.assumptions[0][199] = 0;
    f.nassumptions = 1;
    check_round_trip(&f);
    f.nsources = f.nassumptions = 0;
    check_round_trip(&f);

    /* Through a file and weft_fabric_load. */
    if (!test_tmpdir_make("fabric")) { CHECK(0); return; }
    const char *path = test_tmp_path("odd.json");
    FILE *out = fopen(path, "w");
    weft_fabric_write_json(out, &f);
    fclose(out);
    weft_fabric g;
    CHECK_OK(weft_fabric_load(&g, path));
    CHECK(fabric_equal(&f, &g));

    /* A file's errors name the file. */
    out = fopen(path, "w");
    fputs("{\"name\": \"x\",\n \"grid\": 3}", out);
    fclose(out);
    CHECK_ERR(weft_fabric_load(&g, path), WEFT_ERR_FORMAT, path, "grid: must be an object (got a number)");
    out = fopen(path, "w");
    fwrite("{\"name\": \0}", 1, 11, out);
    fclose(out);
    CHECK_ERR(weft_fabric_load(&g, path), WEFT_ERR_FORMAT, path, "NUL byte");
    CHECK_ERR(weft_fabric_load(&g, test_tmpdir()), WEFT_ERR_IO, test_tmpdir(), NULL);
    test_tmpdir_remove();
}

static void test_load_names(void)
{
    weft_fabric f;
    CHECK_ERR(weft_fabric_load(&f, "plastcine"), WEFT_ERR_ARG, "plastcine", "plasticine, sn10");
    CHECK_ERR(weft_fabric_load(&f, "/no/such/dir/fab.json"), WEFT_ERR_ARG, "/no/such/dir/fab.json", "sn10");
    CHECK_ERR(weft_fabric_load(&f, ""), WEFT_ERR_ARG, NULL, "no name");
}

typedef struct { const char *from, *to, *needle; } bad_case;

static void test_malformed(void)
{
    static const bad_case cases[] = {
        /* missing fields */
        { "\"vector_links\": 1, ", "", "network.vector_links: missing" },
        { "\"name\": \"t\",", "", "name: missing" },
        { " \"pmu\": {\"bytes\": 262144, \"banks\": 16},\n", "", "pmu: missing" },
        { "\"precisions\": [\"fp32\"], ", "", "precisions: missing" },
        { ", \"pattern\": \"checkerboard\"", "", "grid.pattern: missing" },
        /* wrong types */
        { "\"lanes\": 16", "\"lanes\": \"16\"", "pcu.lanes: must be an integer from 1 to 1024 (got a string)" },
        { "\"pmu\": {\"bytes\": 262144, \"banks\": 16}", "\"pmu\": 5", "pmu: must be an object (got a number)" },
        { "\"clock_ghz\": 1.0", "\"clock_ghz\": true", "clock_ghz: must be a number from 0.01 to 100 (got a boolean)" },
        { "\"name\": \"t\"", "\"name\": 7", "name: must be a string (got a number)" },
        { "\"precisions\": [\"fp32\"]", "\"precisions\": \"fp32\"", "precisions: must be an array" },
        { "\"sources\": [\"a\"]", "\"sources\": \"a\"", "sources: must be an array of strings (got a string)" },
        { "\"assumptions\": [\"b\"]", "\"assumptions\": [\"b\", 3]", "assumptions[1]: must be a string (got a number)" },
        /* out of range, fractions */
        { "\"lanes\": 16", "\"lanes\": 0", "pcu.lanes: must be an integer from 1 to 1024 (got 0)" },
        { "\"stages\": 6", "\"stages\": 6.5", "pcu.stages: must be an integer from 1 to 64 (got 6.5)" },
        { "\"rows\": 8", "\"rows\": 257", "grid.rows: must be an integer from 1 to 256 (got 257)" },
        { "\"rows\": 8", "\"rows\": 1e999", "grid.rows: must be an integer" },
        { "\"bytes\": 262144", "\"bytes\": 512", "pmu.bytes: must be an integer from 1024 to 1073741824 (got 512)" },
        { "\"banks\": 16", "\"banks\": 300", "pmu.banks" },
        { "\"vector_links\": 1", "\"vector_links\": 0", "network.vector_links: must be an integer from 1 to 64" },
        { "\"control_links\": 1", "\"control_links\": -1", "network.control_links: must be an integer from 0 to 64 (got -1)" },
        { "\"link_latency\": 1", "\"link_latency\": 1001", "network.link_latency" },
        { "\"address_generators\": 8", "\"address_generators\": 17",
          "offchip.address_generators: must be an integer from 1 to 2 x grid.rows = 16 (got 17)" },
        { "\"channels\": 4", "\"channels\": 65", "offchip.channels" },
        { "\"gbps\": 51.2", "\"gbps\": -3", "offchip.gbps: must be a number above 0 and at most 100000 (got -3)" },
        { "\"gbps\": 51.2", "\"gbps\": 0", "offchip.gbps: must be a number above 0" },
        { "\"latency_ns\": 100", "\"latency_ns\": -1", "offchip.latency_ns" },
        { "\"clock_ghz\": 1.0", "\"clock_ghz\": 0", "clock_ghz: must be a number from 0.01 to 100 (got 0)" },
        { "\"word_bytes\": 4", "\"word_bytes\": 3", "word_bytes: must be 2 or 4 (got 3)" },
        { "\"word_bytes\": 4", "\"word_bytes\": 2", "word_bytes: 2-byte lanes cannot hold fp32" },
        /* unknown or repeated keys */
        { "\"banks\": 16", "\"banks\": 16, \"bank\": 2", "pmu.bank: unknown field (known: bytes, banks)" },
        { "\"clock_ghz\"", "\"clock_gz\"", "clock_gz: unknown field" },
        { "\"lanes\": 16", "\"lanes\": 16, \"lanes\": 8", "pcu.lanes: given twice" },
        /* the grid */
        { "\"rows\": 8, \"cols\": 16", "\"rows\": 1, \"cols\": 1", "grid: a 1 x 1 grid" },
        { "\"rows\": 8, \"cols\": 16, \"pattern\": \"checkerboard\"",
          "\"rows\": 8, \"cols\": 1, \"pattern\": \"columns\"", "holds 8 PCU(s) and 0 PMU(s)" },
        { "\"checkerboard\"", "\"diagonal\"", "grid.pattern: must be \"checkerboard\" or \"columns\" (got \"diagonal\")" },
        /* precisions */
        { "[\"fp32\"]", "[\"fp16\"]", "precisions[0]: unknown precision \"fp16\"" },
        { "[\"fp32\"]", "[]", "precisions: must list at least one" },
        { "[\"fp32\"]", "[\"fp32\", \"bf16\", \"fp32\"]", "precisions[2]: \"fp32\" listed twice" },
        /* notes */
        { "\"sources\": [\"a\"]",
          "\"sources\": [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]",
          "sources: at most 16 notes (got 17)" },
        { "\"sources\": [\"a\"]", "\"sources\": [\"\"]", "sources[0]: empty" },
        { "\"name\": \"t\"", "\"name\": \"a\\nb\"", "name: holds a control character" },
        /* not JSON, or not an object */
        { "\"grid\"", "grid", "not valid JSON near line 2" },
        { "\"assumptions\": [\"b\"]}\n", "\"assumptions\": [\"b\"]}\n x", "not valid JSON near line 10" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *s = edit(cases[i].from, cases[i].to);
        weft_fabric f;
        memset(&f, 0x5a, sizeof f);
        weft_fabric g = f;
        CHECK_ERR(weft_fabric_parse(&f, s, "t.json"), WEFT_ERR_FORMAT, "fabric t.json: ", cases[i].needle);
        CHECKF(!memcmp(&f, &g, sizeof f), "case %zu: a failed parse changed the fabric", i);
        free(s);
    }

    /* a too long note and name: an error, never cut short */
    char note[260], *s;
    memset(note, 'n', 200);
    strcpy(note + 200, "\"]");
    s = edit("\"a\"]", "\"");
    char *t = malloc(strlen(s) + sizeof note);
    char *at = strstr(s, "\"sources\": [\"") + strlen("\"sources\": [\"");
    size_t head = (size_t)(at - s);
    memcpy(t, s, head);
    strcpy(t + head, note);
    strcat(t, at);
    weft_fabric f;
    CHECK_ERR(weft_fabric_parse(&f, t, "t.json"), WEFT_ERR_FORMAT, "t.json", "sources[0]: longer than 199 bytes (200)");
    free(s); free(t);
    s = edit("\"name\": \"t\"", "\"name\": \"0123456789012345678901234567890123456789012345678901234567890123\"");
    CHECK_ERR(weft_fabric_parse(&f, s, "t.json"), WEFT_ERR_FORMAT, "t.json", "name: longer than 63 bytes (64)");
    free(s);

    /* whole texts; cut short anywhere, the message says so */
    for (size_t cut = 1; cut < strlen(base_json) - 1; cut += 7) {
        char *trunc = strndup(base_json, cut);
        CHECK_ERR(weft_fabric_parse(&f, trunc, "t.json"), WEFT_ERR_FORMAT, "fabric t.json", "not valid JSON");
        /* (a keyword cut short, "tr", is not detected: cJSON fails at its start; the base has none) */
        CHECKF(strstr(weft_errmsg(), "the text ends early"), "cut at %zu: %s", cut, weft_errmsg());
        free(trunc);
    }
    CHECK_ERR(weft_fabric_parse(&f, "{\"name\": x, \"grid\": {", "t.json"), WEFT_ERR_FORMAT, "t.json", "byte 9");
    CHECK(!strstr(weft_errmsg(), "ends early"));
    CHECK_ERR(weft_fabric_parse(&f, "[1, 2]", "t.json"), WEFT_ERR_FORMAT, "fabric t.json",
              "must be a JSON object (got an array)");
    CHECK_ERR(weft_fabric_parse(&f, "\"plasticine\"", "t.json"), WEFT_ERR_FORMAT, "fabric t.json", "(got a string)");
    CHECK_ERR(weft_fabric_parse(&f, "", "t.json"), WEFT_ERR_FORMAT, "fabric t.json", "empty");
    CHECK_ERR(weft_fabric_parse(&f, " \n\t", "t.json"), WEFT_ERR_FORMAT, "fabric t.json", "empty");
    CHECK_ERR(weft_fabric_parse(&f, "{}", "t.json"), WEFT_ERR_FORMAT, "fabric t.json", "name: missing");

    /* the edges of the ranges are valid */
    s = edit("\"control_links\": 1, \"link_latency\": 1", "\"control_links\": 0, \"link_latency\": 1000");
    CHECK_OK(weft_fabric_parse(&f, s, "t.json"));
    CHECK(f.ctrl_links == 0 && f.link_latency == 1000);
    free(s);
    s = edit("\"address_generators\": 8", "\"address_generators\": 16");
    CHECK_OK(weft_fabric_parse(&f, s, "t.json"));
    free(s);
    s = edit("\"lanes\": 16", "\"lanes\": 16.0");   /* a whole number written with a point is still one */
    CHECK_OK(weft_fabric_parse(&f, s, "t.json"));
    CHECK(f.pcu_lanes == 16);
    free(s);
    s = edit("\"sources\": [\"a\"], \"assumptions\": [\"b\"]", "\"word_bytes\": 8");
    CHECK_ERR(weft_fabric_parse(&f, s, "t.json"), WEFT_ERR_FORMAT, "t.json", "word_bytes: given twice");
    free(s);
    s = edit("\"word_bytes\": 4,\n \"sources\": [\"a\"], \"assumptions\": [\"b\"]", "\"word_bytes\": 4");
    CHECK_OK(weft_fabric_parse(&f, s, "t.json"));
    CHECK(f.nsources == 0 && f.nassumptions == 0);
    free(s);
}

/* A small fabric from base_json with the grid, pattern and AG count replaced. */
static weft_fabric small(int rows, int cols, const char *pattern, int ags)
{
    char grid[128], ag[64];
    snprintf(grid, sizeof grid, "\"rows\": %d, \"cols\": %d, \"pattern\": \"%s\"", rows, cols, pattern);
    snprintf(ag, sizeof ag, "\"address_generators\": %d", ags);
    char *s = edit("\"rows\": 8, \"cols\": 16, \"pattern\": \"checkerboard\"", grid);
    const char *at = strstr(s, "\"address_generators\": 8");
    char *t = malloc(strlen(s) + 64);
    size_t head = (size_t)(at - s);
    memcpy(t, s, head);
    strcpy(t + head, ag);
    strcat(t, at + strlen("\"address_generators\": 8"));
    weft_fabric f;
    memset(&f, 0, sizeof f);
    CHECK_OK(weft_fabric_parse(&f, t, "small"));
    free(s); free(t);
    return f;
}

static void test_links(void)
{
    weft_fabric f;
    CHECK_OK(weft_fabric_load(&f, "plasticine"));   /* 8 x 16 */
    CHECK(weft_fabric_links(&f) == 512);
    CHECK(weft_fabric_link_dest(&f, 0 * 4 + WEFT_DIR_N) == -1);
    CHECK(weft_fabric_link_dest(&f, 0 * 4 + WEFT_DIR_W) == -1);
    CHECK(weft_fabric_link_dest(&f, 0 * 4 + WEFT_DIR_E) == 1);
    CHECK(weft_fabric_link_dest(&f, 0 * 4 + WEFT_DIR_S) == 16);
    CHECK(weft_fabric_link_dest(&f, 15 * 4 + WEFT_DIR_E) == -1);
    CHECK(weft_fabric_link_dest(&f, 15 * 4 + WEFT_DIR_N) == -1);
    CHECK(weft_fabric_link_dest(&f, 15 * 4 + WEFT_DIR_W) == 14);
    CHECK(weft_fabric_link_dest(&f, 15 * 4 + WEFT_DIR_S) == 31);
    CHECK(weft_fabric_link_dest(&f, 112 * 4 + WEFT_DIR_S) == -1);
    CHECK(weft_fabric_link_dest(&f, 112 * 4 + WEFT_DIR_W) == -1);
    CHECK(weft_fabric_link_dest(&f, 112 * 4 + WEFT_DIR_N) == 96);
    CHECK(weft_fabric_link_dest(&f, 127 * 4 + WEFT_DIR_S) == -1);
    CHECK(weft_fabric_link_dest(&f, 127 * 4 + WEFT_DIR_E) == -1);
    CHECK(weft_fabric_link_dest(&f, 127 * 4 + WEFT_DIR_N) == 111);
    CHECK(weft_fabric_link_dest(&f, 127 * 4 + WEFT_DIR_W) == 126);
    CHECK(weft_fabric_link_dest(&f, 20 * 4 + WEFT_DIR_E) == 21);   /* an inner site */
    CHECK(weft_fabric_link_dest(&f, -1) == -1);
    CHECK(weft_fabric_link_dest(&f, 512) == -1);
    /* every link leads to a neighbour whose opposite link leads back; 2(r(c-1) + c(r-1)) exist */
    int exist = 0, back = 0;
    for (int l = 0; l < weft_fabric_links(&f); l++) {
        int d = weft_fabric_link_dest(&f, l);
        if (d < 0) continue;
        exist++;
        back += weft_fabric_link_dest(&f, d * 4 + (l % 4 + 2) % 4) == l / 4;
    }
    CHECK(exist == 2 * (8 * 15 + 16 * 7) && back == exist);

    weft_fabric one = small(2, 1, "checkerboard", 1);   /* a single column: no east or west */
    CHECK(weft_fabric_link_dest(&one, 0 * 4 + WEFT_DIR_S) == 1);
    CHECK(weft_fabric_link_dest(&one, 1 * 4 + WEFT_DIR_N) == 0);
    CHECK(weft_fabric_link_dest(&one, 0 * 4 + WEFT_DIR_E) == -1);
    CHECK(weft_fabric_link_dest(&one, 1 * 4 + WEFT_DIR_W) == -1);
}

static void check_ags(const weft_fabric *f)
{
    int nleft = (f->ags + 1) / 2, prev = -1;
    bool ok = true;
    for (int a = 0; a < f->ags; a++) {
        int s = weft_fabric_ag_site(f, a);
        if (a == nleft) prev = -1;
        int r = s / f->cols, c = s % f->cols;
        ok = ok && s >= 0 && s < weft_fabric_sites(f) && c == (a < nleft ? 0 : f->cols - 1) && r > prev;
        prev = r;   /* down each edge in order, never two on one site of an edge */
        ok = ok && weft_unit_site(f, WEFT_UNIT_AG, a) == s;
    }
    CHECKF(ok, "%s: %d AGs on %d x %d", f->name, f->ags, f->rows, f->cols);
    CHECK(weft_fabric_ag_site(f, -1) == -1 && weft_fabric_ag_site(f, f->ags) == -1);
}

static void test_ags(void)
{
    weft_fabric f;
    CHECK_OK(weft_fabric_load(&f, "plasticine"));
    check_ags(&f);
    /* 8 rows, 4 a side: the middles of four bands of two rows */
    CHECK(weft_fabric_ag_site(&f, 0) == 1 * 16 && weft_fabric_ag_site(&f, 3) == 7 * 16);
    CHECK(weft_fabric_ag_site(&f, 4) == 1 * 16 + 15 && weft_fabric_ag_site(&f, 7) == 7 * 16 + 15);
    CHECK_OK(weft_fabric_load(&f, "sn10"));
    check_ags(&f);
    for (int rows = 1; rows <= 9; rows++)
        for (int ags = 1; ags <= 2 * rows; ags++) {
            weft_fabric g = small(rows, 3, "columns", ags);
            check_ags(&g);
        }
    weft_fabric g = small(3, 4, "checkerboard", 5);   /* odd: 3 left, 2 right */
    CHECK(weft_fabric_ag_site(&g, 2) % 4 == 0 && weft_fabric_ag_site(&g, 3) % 4 == 3);
}

static void test_site_kinds(void)
{
    weft_fabric f = small(3, 5, "checkerboard", 2);
    CHECK(weft_fabric_site_kind(&f, 0) == WEFT_SITE_PCU);
    CHECK(weft_fabric_site_kind(&f, 1) == WEFT_SITE_PMU);
    CHECK(weft_fabric_site_kind(&f, 5) == WEFT_SITE_PMU);   /* row 1, col 0 */
    CHECK(weft_fabric_site_kind(&f, 6) == WEFT_SITE_PCU);
    CHECK(weft_fabric_count(&f, WEFT_SITE_PCU) == 8 && weft_fabric_count(&f, WEFT_SITE_PMU) == 7);
    f = small(3, 5, "columns", 2);
    CHECK(weft_fabric_site_kind(&f, 0) == WEFT_SITE_PCU);
    CHECK(weft_fabric_site_kind(&f, 1) == WEFT_SITE_PMU);
    CHECK(weft_fabric_site_kind(&f, 5) == WEFT_SITE_PCU);   /* row 1, col 0 */
    CHECK(weft_fabric_site_kind(&f, 6) == WEFT_SITE_PMU);
    CHECK(weft_fabric_count(&f, WEFT_SITE_PCU) == 9 && weft_fabric_count(&f, WEFT_SITE_PMU) == 6);
    CHECK_NEAR(weft_fabric_peak_flops(&f), 9.0 * 16 * 6 * 2 * 1e9, 1);
    CHECK(weft_unit_site(&f, WEFT_UNIT_PCU, 7) == 7 && weft_unit_site(&f, WEFT_UNIT_PMU, 14) == 14);
    CHECK(weft_unit_site(&f, WEFT_UNIT_PMU, 15) == -1 && weft_unit_site(&f, WEFT_UNIT_PCU, -1) == -1);
    f = small(1, 2, "checkerboard", 1);   /* the smallest legal fabric */
    CHECK(weft_fabric_count(&f, WEFT_SITE_PCU) == 1 && weft_fabric_count(&f, WEFT_SITE_PMU) == 1);
    check_round_trip(&f);
}

int main(void)
{
    test_presets();
    test_round_trip_odd();
    test_load_names();
    test_malformed();
    test_links();
    test_ags();
    test_site_kinds();
    return test_summary();
}
