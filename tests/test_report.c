/* test_report.c — HTML pages and SVG charts: tags nest, text is escaped,
 * gaps break lines, no "nan"/"inf" reaches the output, tick labels are
 * readable (decades on log axes), and degenerate inputs (no series, empty,
 * constant, single-point, all non-finite, huge values, empty heatmaps and
 * Gantt charts) draw something sensible instead of crashing; Gantt charts of
 * very many bars stay small; fabric maps draw one element per site and per
 * loaded link, mark loads over capacity, and name the panel and site of a bad
 * category. */
#include "weft/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define MAX_TICKS_TEST 64

/* ---- capturing output ---------------------------------------------------------- */

typedef struct { FILE *f; char *buf; size_t len; } memout;

static void mem_open(memout *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    if (!m->f) { perror("open_memstream"); exit(2); }
}

/* Closes the stream; the text stays in m->buf (free it). */
static char *mem_close(memout *m)
{
    fclose(m->f);
    return m->buf;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* ---- well-formedness ----------------------------------------------------------- */

static bool is_void_element(const char *name, size_t len)
{
    static const char *const v[] = { "meta", "br", "hr", "img", "link", "input" };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (strlen(v[i]) == len && strncmp(v[i], name, len) == 0) return true;
    return false;
}

/* Whether every tag in s is closed in order (<x/> and HTML void elements
 * close themselves), no '<' or '>' stands in text or inside a tag, and every
 * '&' in text starts one of the references the writer uses. On failure, why
 * says what and where. */
static bool well_formed(const char *s, char *why, size_t nwhy)
{
    static const char *const refs[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#8230;", "&#8211;" };
    char stack[64][16];
    int depth = 0;
    for (const char *p = s; *p; p++) {
        size_t at = (size_t)(p - s);
        if (*p == '&') {
            bool ok = false;
            for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
                ok |= strncmp(p, refs[i], strlen(refs[i])) == 0;
            if (!ok) { snprintf(why, nwhy, "bare '&' at %zu", at); return false; }
        }
        if (*p == '>') { snprintf(why, nwhy, "'>' in text at %zu", at); return false; }
        if (*p != '<') continue;
        const char *end = strchr(p, '>');
        if (!end) { snprintf(why, nwhy, "unclosed tag at %zu", at); return false; }
        if (p[1] == '!') { p = end; continue; }                 /* <!DOCTYPE html> */
        const char *lt = memchr(p + 1, '<', (size_t)(end - p - 1));
        if (lt) { snprintf(why, nwhy, "'<' inside a tag at %zu", at); return false; }
        bool closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " \t\n/>");
        if (len == 0 || len >= sizeof stack[0]) { snprintf(why, nwhy, "bad tag name at %zu", at); return false; }
        if (closing) {
            if (depth == 0 || strlen(stack[depth - 1]) != len || strncmp(stack[depth - 1], name, len)) {
                snprintf(why, nwhy, "</%.*s> at %zu closes <%s>", (int)len, name, at,
                         depth ? stack[depth - 1] : "(nothing)");
                return false;
            }
            depth--;
        } else if (end[-1] != '/' && !is_void_element(name, len)) {
            if (depth == 64) { snprintf(why, nwhy, "nesting too deep at %zu", at); return false; }
            memcpy(stack[depth], name, len);
            stack[depth++][len] = '\0';
        }
        p = end;
    }
    if (depth) { snprintf(why, nwhy, "<%s> never closed", stack[depth - 1]); return false; }
    return true;
}

/* Strict enough UTF-8: every lead byte followed by its continuation bytes. */
static bool utf8_valid(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int more = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (more < 0) return false;
        for (p++; more > 0; more--, p++)
            if ((*p & 0xC0) != 0x80) return false;
    }
    return true;
}

/* The checks every SVG gets: one <svg> element, well formed, no non-finite number. */
static void check_svg(const char *what, const char *s)
{
    char why[160] = "";
    CHECKF(strncmp(s, "<svg ", 5) == 0, "%s: does not start with <svg", what);
    CHECKF(count(s, "<svg") == 1 && count(s, "</svg>") == 1, "%s: not one <svg> element", what);
    CHECKF(well_formed(s, why, sizeof why), "%s: %s", what, why);
    CHECKF(!strcasestr(s, "nan") && !strcasestr(s, "inf"), "%s: a non-finite number in the output", what);
    CHECKF(utf8_valid(s), "%s: invalid UTF-8", what);
}

/* A line chart's text; free it. */
static char *chart(const weft_svg_chart *c, const weft_svg_series *s, int n)
{
    memout m;
    mem_open(&m);
    CHECK_OK(weft_svg_line_chart(m.f, c, s, n));
    return mem_close(&m);
}

static char *heatmap(const char *title, const char *const *labels, int nrows, const double *v, int ncols,
                     double x0, double x1)
{
    memout m;
    mem_open(&m);
    CHECK_OK(weft_svg_heatmap(m.f, title, labels, nrows, v, ncols, x0, x1, "step"));
    return mem_close(&m);
}

/* ---- line charts ----------------------------------------------------------------- */

static void test_lines_and_gaps(void)
{
    double x[6] = { 0, 100, 200, 300, 400, 500 };
    double a[6] = { 1, 2, 3, 4, 5, 6 };
    double b[6] = { 2, 3, NAN, 5, 4, 3 };          /* one gap: two polylines */
    double d[6] = { 1, INFINITY, 2, 3, -INFINITY, 4 };  /* a dot, a line, a dot */
    weft_svg_chart c = { "loss", "step", "loss", false, 0, 0 };
    weft_svg_series s[3] = { { "fp32", x, a, 6 }, { "bf16", x, b, 6 }, { "bf16-sr", x, d, 6 } };

    char *out = chart(&c, &s[1], 1);
    check_svg("gap", out);
    CHECK(count(out, "<polyline") == 2);
    CHECK(strstr(out, "width=\"640\" height=\"360\""));
    free(out);

    out = chart(&c, s, 3);
    check_svg("three series", out);
    CHECK(count(out, "<polyline") == 1 + 2 + 1);
    CHECK(count(out, "<circle") == 2);
    CHECK(strstr(out, ">fp32</text>") && strstr(out, ">bf16</text>") && strstr(out, ">bf16-sr</text>"));
    CHECK(strstr(out, "#0072B2") && strstr(out, "#D55E00") && strstr(out, "#009E73"));
    /* x ticks at whole hundreds, not "1e+02" */
    CHECK(strstr(out, ">0</text>") && strstr(out, ">100</text>") && strstr(out, ">500</text>"));
    CHECK(!strstr(out, "e+0"));
    free(out);

    /* the series' own points only: 6 of them, 0.1 px each */
    out = chart(&c, s, 1);
    const char *pts = strstr(out, "points=\"");
    CHECK(pts != NULL);
    if (pts) {
        int npts = 0;
        for (const char *p = pts + 8; *p != '"'; p++) npts += *p == ',';
        CHECK(npts == 6);
    }
    free(out);
}

static void test_escaping(void)
{
    double x[2] = { 0, 1 }, y[2] = { 0, 1 };
    weft_svg_chart c = { "a<&>\"'b", "x & y", "<y>", false, 0, 0 };
    weft_svg_series s = { "n<1>&", x, y, 2 };
    char *out = chart(&c, &s, 1);
    check_svg("escaping", out);
    CHECK(count(out, "a&lt;&amp;&gt;&quot;&#39;b") == 2);   /* <title> and the drawn title */
    CHECK(!strstr(out, "<&>"));
    CHECK(strstr(out, ">x &amp; y</text>") && strstr(out, ">&lt;y&gt;</text>"));
    CHECK(strstr(out, ">n&lt;1&gt;&amp;</text>"));
    free(out);

    memout m;
    mem_open(&m);
    weft_report_escape(m.f, "<&>\"'\x01ok");
    weft_report_escape(m.f, NULL);
    out = mem_close(&m);
    CHECK(strcmp(out, "&lt;&amp;&gt;&quot;&#39; ok") == 0);
    free(out);
}

/* The y tick labels (the text in the chart's <g text-anchor="end">): at
 * least three, all different (a precision too low would repeat them). */
static void check_y_labels(const char *what, const char *out, const char *want)
{
    const char *g = strstr(out, "<g text-anchor=\"end\"");
    const char *end = g ? strstr(g, "</g>") : NULL;
    char labels[MAX_TICKS_TEST][32];
    int n = 0;
    for (const char *p = g; p && end && (p = strstr(p, "<text ")) && p < end && n < MAX_TICKS_TEST; p++) {
        const char *t = strchr(p, '>') + 1, *q = strstr(t, "</text>");
        if (!q || q - t >= 32) break;
        snprintf(labels[n++], 32, "%.*s", (int)(q - t), t);
    }
    bool distinct = true;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) distinct &= strcmp(labels[i], labels[j]) != 0;
    CHECKF(n >= 3 && distinct, "%s: %d labels, %s", what, n, distinct ? "distinct" : "repeated");
    bool found = false;
    for (int i = 0; i < n; i++) found |= strcmp(labels[i], want) == 0;
    CHECKF(found, "%s: no tick label \"%s\" (first: \"%s\")", what, want, n ? labels[0] : "");
}

static void test_tick_labels(void)
{
    static const struct { double lo, hi; const char *want; } r[] = {
        { 0, 1, "0.2" },        { -5, 5, "-4" },           { 1e6, 1e6 + 1, "1000000.2" },
        { 1e-7, 3e-7, "2e-07" }, { 0.001, 0.0015, "0.0012" }, { 1e15, 1e15 + 1e4, "1.000000000002e+15" },
        { 0, 2.5e7, "1e+07" },  { 2000, 2000, "2000" },    { 0, 0, "0.0" },
    };
    double x[2] = { 0, 1 };
    weft_svg_chart c = { NULL, NULL, NULL, false, 0, 0 };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        double y[2] = { r[i].lo, r[i].hi };
        weft_svg_series s = { "s", x, y, 2 };
        char *out = chart(&c, &s, 1);
        check_svg(r[i].want, out);
        check_y_labels(r[i].want, out, r[i].want);
        free(out);
    }
}

static void test_log_axis(void)
{
    enum { N = 61 };
    double x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = i * 10;
        y[i] = pow(10.0, -6.0 + i / 10.0);           /* 1e-6 .. 1 */
    }
    weft_svg_chart c = { "cancelled updates", "step", "fraction", true, 0, 0 };
    weft_svg_series s = { "bf16", x, y, N };
    char *out = chart(&c, &s, 1);
    check_svg("log axis", out);
    CHECK(strstr(out, ">1e-06</text>"));
    CHECK(strstr(out, ">1e-05</text>"));
    CHECK(strstr(out, ">0.001</text>"));
    CHECK(strstr(out, ">1</text>"));
    CHECK(!strstr(out, ">1e-07</text>") && !strstr(out, ">10</text>"));
    CHECK(count(out, "<polyline") == 1);
    free(out);

    /* zero and negative values are gaps on a log axis */
    double y2[5] = { 1e-3, 0, 1e-2, 1e-1, -1 };
    weft_svg_series s2 = { "z", x, y2, 5 };
    out = chart(&c, &s2, 1);
    check_svg("log gaps", out);
    CHECK(count(out, "<polyline") == 1 && count(out, "<circle") == 1);
    free(out);

    /* many decades: labels thinned to every few decades */
    double y3[2] = { 1e-300, 1e300 };
    weft_svg_series s3 = { "wide", x, y3, 2 };
    out = chart(&c, &s3, 1);
    check_svg("600 decades", out);
    CHECK(count(out, "</text>") < 30);
    free(out);

    /* nothing positive: "no data" */
    double y4[3] = { 0, -1, NAN };
    weft_svg_series s4 = { "none", x, y4, 3 };
    out = chart(&c, &s4, 1);
    check_svg("log without positives", out);
    CHECK(strstr(out, ">no data</text>"));
    CHECK(count(out, "<polyline") == 0);
    free(out);
}

static void test_degenerate_charts(void)
{
    weft_svg_chart c = { "t", NULL, NULL, false, 0, 0 };
    double x[4] = { 5, 6, 7, 8 }, same[4] = { 3, 3, 3, 3 }, bad[4] = { NAN, INFINITY, NAN, -INFINITY };

    char *out = chart(&c, NULL, 0);
    check_svg("no series", out);
    CHECK(strstr(out, ">no data</text>"));
    free(out);

    weft_svg_series e = { "empty", x, NULL, 0 };
    out = chart(&c, &e, 1);
    check_svg("empty series", out);
    CHECK(strstr(out, ">no data</text>"));
    free(out);

    weft_svg_series a = { "bad", x, bad, 4 };
    out = chart(&c, &a, 1);
    check_svg("all non-finite", out);
    CHECK(strstr(out, ">no data</text>") && !strstr(out, "<polyline"));
    free(out);

    /* constant y: padded range, a flat line across the middle */
    weft_svg_series k = { "flat", x, same, 4 };
    out = chart(&c, &k, 1);
    check_svg("constant", out);
    CHECK(count(out, "<polyline") == 1 && strstr(out, ">3.0</text>"));
    free(out);

    /* a single point: a dot */
    weft_svg_series one = { "one", x, same, 1 };
    out = chart(&c, &one, 1);
    check_svg("single point", out);
    CHECK(count(out, "<circle") == 1 && !strstr(out, "<polyline"));
    free(out);

    /* values at the ends of the double range, tiny ranges, denormals */
    double huge[4] = { -1.7e308, 1.7e308, 0, 1e308 }, tiny[4] = { 1, 1 + 1e-15, 1, 1 };
    double den[4] = { 5e-324, 0, 1e-310, 0 };
    weft_svg_series w[3] = { { "huge", x, huge, 4 }, { "tiny", x, tiny, 4 }, { "den", x, den, 4 } };
    for (int i = 0; i < 3; i++) {
        out = chart(&c, &w[i], 1);
        check_svg(w[i].name, out);
        free(out);
        c.log_y = true;
        out = chart(&c, &w[i], 1);
        check_svg(w[i].name, out);
        free(out);
        c.log_y = false;
    }

    /* a tiny canvas, long names, more series than colors */
    double y[12][4];
    weft_svg_series many[12];
    char names[12][64];
    for (int i = 0; i < 12; i++) {
        for (int j = 0; j < 4; j++) y[i][j] = i + j;
        snprintf(names[i], sizeof names[i], "series %d with a rather long and winding name", i);
        many[i] = (weft_svg_series){ names[i], x, y[i], 4 };
    }
    weft_svg_chart small = { NULL, "x", "y", false, 10, 10 };
    out = chart(&small, many, 12);
    check_svg("many series", out);
    CHECK(count(out, "<polyline") == 12);
    CHECK(strstr(out, "stroke-dasharray"));
    CHECK(strstr(out, "&#8230;</text>"));                     /* clipped legend names */
    CHECK(strstr(out, "<title>series 0 with a rather long and winding name</title>"));
    free(out);
}

static void test_long_series(void)
{
    enum { N = 10000 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int i = 0; i < N; i++) {
        x[i] = i;
        y[i] = 2.0 + sin(i * 0.01) + 0.1 * sin(i * 1.7);
    }
    weft_svg_chart c = { "long", "step", "loss", false, 0, 0 };
    weft_svg_series s = { "fp32", x, y, N };
    char *out = chart(&c, &s, 1);
    check_svg("10000 points", out);
    CHECK(count(out, "<polyline") == 1);
    CHECKF(strlen(out) < 200000, "%zu bytes", strlen(out));
    CHECK(strstr(out, ">10000</text>"));
    free(out);
    free(x);
    free(y);
}

/* ---- heatmaps -------------------------------------------------------------------- */

static void test_heatmap(void)
{
    static const char *const labels[3] = {
        "embed.weight",
        "model.transformer.layers.11.attention.output.dense.weight",   /* 57 characters */
        "h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9"
        "h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9h\xC3\xA9.w",
    };
    double v[3 * 11];
    for (int j = 0; j < 11; j++) {
        v[j] = j % 2 ? 0 : NAN;               /* 0, blank, 0, ...: six rects of the darkest color */
        v[11 + j] = 0.5;                      /* one run: one rect */
        v[22 + j] = j / 10.0;
    }
    char *out = heatmap("bf16 <cancelled>", labels, 3, v, 11, 0, 1000);
    check_svg("heatmap", out);
    CHECK(strstr(out, "bf16 &lt;cancelled&gt;"));
    CHECK(count(out, "fill=\"#440154\"") == 5 + 1);          /* row 0's zeros, row 2's first cell */
    CHECK(count(out, "fill=\"#21918c\"") == 1 + 1);          /* row 1, row 2's middle cell */
    CHECK(strstr(out, "fill=\"#fde725\""));                  /* value 1 */
    CHECK(strstr(out, ">embed.weight</text>"));
    CHECK(strstr(out, "<title>model.transformer.layers.11.attention.output.dense.weight</title>"
                      "&#8230;layers.11.attention.output.dense.weight</text>"));   /* 1 + 39 */
    CHECK(strstr(out, "&#8230;\xC3\xA9h\xC3\xA9"));           /* cut between characters */
    CHECK(strstr(out, ">0</text>") && strstr(out, ">200</text>") && strstr(out, ">1000</text>"));
    CHECK(strstr(out, ">0.5</text>"));                       /* the color bar */
    CHECK(strstr(out, ">step</text>"));
    free(out);

    out = heatmap(NULL, NULL, 0, NULL, 5, 0, 1);
    check_svg("no rows", out);
    CHECK(strstr(out, ">no data</text>"));
    free(out);
    out = heatmap("t", labels, 3, NULL, 0, 0, 1);
    check_svg("no columns", out);
    CHECK(strstr(out, ">no data</text>"));
    free(out);

    /* one column, all blank, values out of range, reversed or non-finite x */
    double odd[3] = { NAN, -5, 7 };
    out = heatmap("t", labels, 3, odd, 1, 42, 42);
    check_svg("one column", out);
    CHECK(strstr(out, ">42</text>"));
    free(out);
    out = heatmap("t", NULL, 1, odd, 3, 300, 100);
    check_svg("reversed x", out);
    free(out);
    out = heatmap("t", NULL, 1, odd, 3, NAN, INFINITY);
    check_svg("non-finite x", out);
    free(out);

    /* many rows: thinner rows, every few labelled */
    enum { R = 300, C = 4 };
    double *big = malloc(R * C * sizeof *big);
    const char **names = malloc(R * sizeof *names);
    for (int i = 0; i < R * C; i++) big[i] = (i % 7) / 6.0;
    for (int r = 0; r < R; r++) names[r] = "layer.weight";
    out = heatmap("many", names, R, big, C, 0, 3);
    check_svg("300 rows", out);
    int nlab = count(out, ">layer.weight</text>");
    CHECKF(nlab > 20 && nlab < R / 2, "%d row labels", nlab);
    free(out);
    free(big);
    free(names);
}

/* ---- Gantt charts ------------------------------------------------------------------ */

static char *gantt(const weft_svg_gantt_chart *c, const weft_svg_bar *b, int n)
{
    memout m;
    mem_open(&m);
    CHECK_OK(weft_svg_gantt(m.f, c, b, n));
    return mem_close(&m);
}

static void test_gantt(void)
{
    static const char *const rows[3] = { "stage 0", "a<b", "stage 2" };
    static const char *const kinds[3] = { "F&B", "backward", "update" };
    static const char *const colors[3] = { "#0072B2", "#D55E00", "#009E73" };
    weft_svg_bar b[6] = {
        { 0, 0, 1, 0, "0" },  { 1, 1, 2, 0, "<1>" },  { 2, 2, 3, 0, NULL },
        { 2, 3.5, 5, 1, "0" }, { 1, 5, 6.5, 1, "0" }, { 0, 10, 10.001, 2, NULL },   /* a sliver */
    };
    weft_svg_gantt_chart c = { "1F1B <s>", "time (ms)", rows, 3, kinds, colors, 3, 0 };
    char *out = gantt(&c, b, 6);
    check_svg("gantt", out);
    CHECK(strstr(out, "width=\"720\""));
    CHECK(count(out, "<rect") >= 6 + 1 + 4);                 /* bars, background, legend */
    CHECK(count(out, "</title></rect>") == 6);               /* one tooltip per bar */
    CHECK(strstr(out, "1F1B &lt;s&gt;") && !strstr(out, "<s>"));
    CHECK(strstr(out, ">a&lt;b</text>") && !strstr(out, "a<b"));
    CHECK(strstr(out, "<title>a&lt;b: F&amp;B &lt;1&gt; 1&#8211;2</title>"));
    CHECK(strstr(out, "<title>stage 2: F&amp;B 2&#8211;3</title>"));
    CHECK(strstr(out, ">F&amp;B</text>") && strstr(out, ">backward</text>") && strstr(out, ">idle</text>"));
    CHECK(count(out, "fill=\"#0072B2\"") == 3 + 1 && count(out, "fill=\"#D55E00\"") == 2 + 1);
    CHECK(strstr(out, "width=\"0.50\" height=\"15.3\" fill=\"#009E73\""));   /* the sliver, widened */
    CHECK(strstr(out, ">&lt;1&gt;</text>"));                 /* a label that fits */
    CHECK(strstr(out, ">0</text>") && strstr(out, ">10</text>") && strstr(out, ">time (ms)</text>"));
    CHECK(!strstr(out, "<script") && !strstr(out, " id="));
    free(out);

    /* no names, no colors: numbers and the palette; wall-clock times start
     * the axis at the first bar */
    weft_svg_gantt_chart bare = { NULL, NULL, NULL, 2, NULL, NULL, 2, 0 };
    weft_svg_bar t[2] = { { 0, 1.7e9, 1.7e9 + 30, 0, NULL }, { 1, 1.7e9 + 40, 1.7e9 + 90, 1, NULL } };
    out = gantt(&bare, t, 2);
    check_svg("bare gantt", out);
    CHECK(strstr(out, "fill=\"#0072B2\"") && strstr(out, "fill=\"#D55E00\""));
    CHECK(strstr(out, "<title>1: 1 1700000040&#8211;1700000090</title>"));   /* to the second */
    CHECK(strstr(out, ">1.7e+09</text>") && !strstr(out, ">5e+08</text>"));
    free(out);

    /* many lanes: thinner, every few labelled */
    enum { R = 100 };
    weft_svg_bar many[R];
    for (int r = 0; r < R; r++) many[r] = (weft_svg_bar){ r, r, r + 10, r % 3, NULL };
    weft_svg_gantt_chart tall = { "tall", NULL, NULL, R, kinds, NULL, 3, 300 };
    out = gantt(&tall, many, R);
    check_svg("100 lanes", out);
    CHECK(strstr(out, "width=\"320\""));                     /* clamped */
    CHECK(count(out, "</title></rect>") == R);
    CHECK(strstr(out, ">0</text>") && strstr(out, ">98</text>") && !strstr(out, ">99</text>"));
    free(out);

    /* nothing to draw */
    out = gantt(&c, NULL, 0);
    check_svg("gantt without bars", out);
    CHECK(strstr(out, ">no data</text>"));
    free(out);
    weft_svg_gantt_chart none = { "t", NULL, NULL, 0, NULL, NULL, 0, 0 };
    out = gantt(&none, NULL, 0);
    check_svg("gantt without lanes", out);
    CHECK(strstr(out, ">no data</text>"));
    free(out);

    /* zero-length bars only: a padded axis, the bars drawn at 0.5 px */
    weft_svg_bar z[2] = { { 0, 0, 0, 0, "x" }, { 1, 0, 0, 1, NULL } };
    out = gantt(&c, z, 2);
    check_svg("zero-length bars", out);
    CHECK(count(out, "width=\"0.50\"") == 2);
    free(out);
}

static void test_gantt_many_bars(void)
{
    /* 100000 bars back to back on 4 lanes, 2.5e-4 px each: in blocks of one
     * kind, then with the kind changing at every bar */
    enum { N = 100000, L = 4 };
    static const char *const kinds[3] = { "F", "B", "U" };
    weft_svg_bar *b = malloc(N * sizeof *b);
    weft_svg_gantt_chart c = { "many", "t", NULL, L, kinds, NULL, 3, 0 };
    for (int mixed = 0; mixed < 2; mixed++) {
        for (int i = 0; i < N; i++) {
            int r = i % L, j = i / L;
            double t0 = j + (j / 1000) * 50.0;                  /* an idle gap every 1000 bars */
            b[i] = (weft_svg_bar){ r, t0, t0 + 1, mixed ? j % 3 : (j / 500) % 3, "m" };
        }
        char *out = gantt(&c, b, N);
        check_svg(mixed ? "100000 mixed bars" : "100000 bars", out);
        size_t len = strlen(out);
        CHECKF(len < 1000000, "%zu bytes", len);
        int nrect = count(out, "</title></rect>");
        CHECKF(nrect >= L * 25 && nrect < L * 2 * 720, "%d bars drawn", nrect);
        CHECK(strstr(out, " bars) ") && !strstr(out, " m "));   /* merged tooltips, no labels */
        if (!mixed) CHECK(nrect < L * 100 * 2);                 /* ~one rect per block */
        free(out);
    }
    free(b);
}

static void test_gantt_errors(void)
{
    static const char *const kinds[2] = { "F", "B" };
    weft_svg_gantt_chart c = { "g", NULL, NULL, 2, kinds, NULL, 2, 0 };
    weft_svg_bar b[3] = { { 0, 0, 1, 0, NULL }, { 1, 1, 2, 1, NULL }, { 1, 2, 3, 0, NULL } };
    memout m;
    mem_open(&m);
    b[2].row = 2;
    CHECK_ERR(weft_svg_gantt(m.f, &c, b, 3), WEFT_ERR_ARG, NULL, "bar 2");
    b[2].row = -1;
    CHECK_ERR(weft_svg_gantt(m.f, &c, b, 3), WEFT_ERR_ARG, NULL, "bar 2");
    b[2].row = 1;
    b[1].kind = 2;
    CHECK_ERR(weft_svg_gantt(m.f, &c, b, 3), WEFT_ERR_ARG, NULL, "bar 1");
    b[1].kind = 1;
    b[0].t1 = -1;
    CHECK_ERR(weft_svg_gantt(m.f, &c, b, 3), WEFT_ERR_ARG, NULL, "bar 0");
    b[0].t1 = NAN;
    CHECK_ERR(weft_svg_gantt(m.f, &c, b, 3), WEFT_ERR_ARG, NULL, "bar 0");
    b[0].t1 = 1;
    CHECK_ERR(weft_svg_gantt(NULL, &c, b, 3), WEFT_ERR_ARG, NULL, NULL);
    CHECK_ERR(weft_svg_gantt(m.f, NULL, b, 3), WEFT_ERR_ARG, NULL, NULL);
    CHECK_ERR(weft_svg_gantt(m.f, &c, b, -1), WEFT_ERR_ARG, NULL, NULL);
    CHECK_ERR(weft_svg_gantt(m.f, &c, NULL, 3), WEFT_ERR_ARG, NULL, "3 bars at NULL");
    c.nkinds = -1;
    CHECK_ERR(weft_svg_gantt(m.f, &c, b, 0), WEFT_ERR_ARG, NULL, NULL);
    c.nkinds = 2;
    c.nrows = 0;                                 /* bars on lanes that do not exist */
    CHECK_ERR(weft_svg_gantt(m.f, &c, b, 3), WEFT_ERR_ARG, NULL, "bar 0");
    c.nrows = 2;
    char *out = mem_close(&m);
    CHECK(out[0] == '\0');                       /* nothing written on a refused call */
    free(out);

    FILE *ro = fopen("/dev/null", "r");
    if (ro) {
        CHECK_ERR(weft_svg_gantt(ro, &c, b, 3), WEFT_ERR_IO, NULL, "gantt");
        fclose(ro);
    }
}

/* ---- fabric maps ------------------------------------------------------------------- */

static char *fabric(const weft_svg_fabric_chart *c, const weft_svg_fabric_panel *p, int n)
{
    memout m;
    mem_open(&m);
    CHECK_OK(weft_svg_fabric(m.f, c, p, n));
    return mem_close(&m);
}

/* Elements `tag` inside the nth (0-based) group of sites (a panel's sites
 * are one <g> opened with a stroke or with crisp edges). */
static int sites_in_panel(const char *out, int nth, const char *tag)
{
    const char *p = out;
    for (int k = 0; p && k <= nth; k++) {
        const char *a = strstr(p, "<g stroke=\"#666\""), *b = strstr(p, "<g shape-rendering=\"crispEdges\">");
        p = a && b ? (a < b ? a : b) : a ? a : b;
        if (p && k < nth) p++;
    }
    if (!p) return -1;
    const char *end = strstr(p, "</g>");
    int n = 0;
    for (const char *q = p; (q = strstr(q, tag)) && q < end; q += strlen(tag)) n++;
    return n;
}

static void test_fabric(void)
{
    enum { R = 4, C = 6, N = R * C };
    static const char *const cats[4] = { "embed", "attn<q>", "mlp & norm",
                                         "a category name long enough to be clipped" };
    unsigned char shape[N];
    int cat0[N], cat1[N];
    const char *tips[N];
    char tipbuf[N][24];
    double load[N * 4] = { 0 };
    for (int i = 0; i < N; i++) {
        shape[i] = (unsigned char)((i / C + i % C) % 2);      /* a checkerboard of compute and memory */
        cat0[i] = i % 5 - 1;                                   /* -1 .. 3 */
        cat1[i] = i < C ? -1 : 2;
        snprintf(tipbuf[i], sizeof tipbuf[i], "unit <%d>", i);
        tips[i] = tipbuf[i];
    }
    load[(0 * C + 0) * 4 + 1] = 0.5;                           /* (0,0) E */
    load[(0 * C + 1) * 4 + 3] = 0.25;                          /* (0,1) W */
    load[(1 * C + 2) * 4 + 2] = 1.4;                           /* (1,2) S: over capacity */
    load[(3 * C + 5) * 4 + 2] = 0.9;                           /* off the edge: not drawn */
    load[(2 * C + 2) * 4 + 0] = NAN;                           /* not drawn */
    load[(2 * C + 3) * 4 + 1] = -1;                            /* not drawn */
    int drow[3] = { 1, 2, 1 }, dside[3] = { 0, 1, 0 }, drow1[1] = { 3 }, dside1[1] = { 1 };
    double dload[3] = { 0.2, 1.0, 0.7 };
    weft_svg_fabric_panel p[2] = {
        { "section 0 <fwd>", cat0, tips, load, drow, dside, dload, 3 },
        { "section 1", cat1, NULL, NULL, drow1, dside1, NULL, 1 },
    };
    weft_svg_fabric_chart c = { "fabric <plan> & co", R, C, shape, cats, NULL, 4, 0 };
    char *out = fabric(&c, p, 2);
    check_svg("fabric", out);
    CHECK(strstr(out, "width=\"720\""));
    CHECK(strstr(out, "fabric &lt;plan&gt; &amp; co") && !strstr(out, "<plan>"));
    CHECK(strstr(out, ">section 0 &lt;fwd&gt;</text>") && strstr(out, ">section 1</text>"));
    CHECK(sites_in_panel(out, 0, "<rect") == N && sites_in_panel(out, 1, "<rect") == N);
    CHECK(sites_in_panel(out, 0, " rx=") == N / 2 && sites_in_panel(out, 2, "<rect") == -1);
    CHECK(count(out, "</title></rect>") == N);                /* panel 0's tooltips only */
    CHECK(strstr(out, "<title>unit &lt;7&gt;</title></rect>"));
    CHECK(count(out, " to (") == 3);                         /* the three loaded inner links */
    CHECK(strstr(out, "(1, 2) S to (2, 2): load 1.4, over capacity</title>"));
    CHECK(strstr(out, "(0, 1) W to (0, 0): load 0.25</title>"));
    CHECK(count(out, "over capacity</title>") == 1);
    CHECK(count(out, "stroke=\"#e41a1c\"") == 2);            /* the link and the legend */
    CHECK(count(out, "<title>door ") == 4);
    CHECK(strstr(out, "<title>door 1: right edge, row 2, load 1</title>"));
    CHECK(strstr(out, "<title>door 0: right edge, row 3</title>"));   /* no load */
    CHECK(strstr(out, ">embed</text>") && strstr(out, ">attn&lt;q&gt;</text>") && strstr(out, ">mlp &amp; norm<"));
    CHECK(strstr(out, "<title>a category name long enough to be clipped</title>a category"));
    CHECK(strstr(out, ">unused</text>") && strstr(out, ">memory unit</text>") && strstr(out, ">over capacity</text>"));
    CHECK(strstr(out, "fill=\"#ececec\""));
    CHECK(!strstr(out, "<script") && !strstr(out, " id="));
    bool ascii = true;
    for (const char *q = out; *q; q++) ascii &= (unsigned char)*q < 0x80;
    CHECK(ascii);
    free(out);

    /* no loads over capacity: no red link */
    load[(1 * C + 2) * 4 + 2] = 0.6;
    out = fabric(&c, p, 2);
    CHECK(count(out, "over capacity</title>") == 0 && count(out, "stroke=\"#e41a1c\"") == 1);
    free(out);

    /* 1 x 1, nothing optional: no shapes, names, colors, tooltips, loads */
    int one = 0;
    double edge[4] = { 1, 1, 1, 1 };                           /* all off the edge */
    int drow0 = 0, dside0 = 0;
    weft_svg_fabric_panel p1 = { NULL, &one, NULL, edge, &drow0, &dside0, NULL, 1 };
    weft_svg_fabric_chart c1 = { NULL, 1, 1, NULL, NULL, NULL, 1, 0 };
    out = fabric(&c1, &p1, 1);
    check_svg("1 x 1 fabric", out);
    CHECK(sites_in_panel(out, 0, "<rect") == 1 && count(out, " to (") == 0);
    CHECK(strstr(out, "fill=\"#0072B2\"") && strstr(out, ">0</text>"));
    free(out);

    /* a ninth category takes a lighter round of the palette */
    int nine = 8;
    weft_svg_fabric_panel p9 = { "p", &nine, NULL, NULL, NULL, NULL, NULL, 0 };
    weft_svg_fabric_chart c9 = { "nine", 1, 1, NULL, NULL, NULL, 9, 0 };
    out = fabric(&c9, &p9, 1);
    CHECK(count(out, "fill=\"#80b9d9\"") == 2);              /* legend and site */
    free(out);

    /* a wide grid at the limit: one panel per row, sites touching, no links
     * under capacity drawn */
    enum { WIDE = 512 };
    int *wc = calloc(WIDE * 2, sizeof *wc);
    double *wl = calloc(WIDE * 2 * 4, sizeof *wl);
    for (int i = 0; i < WIDE * 2; i++) wl[i * 4 + 1] = i == 7 ? 3.0 : 0.5;
    weft_svg_fabric_panel pw[2] = { { "a", wc, NULL, wl, NULL, NULL, NULL, 0 },
                                    { "b", wc, NULL, NULL, NULL, NULL, NULL, 0 } };
    weft_svg_fabric_chart cw = { "wide", 2, WIDE, NULL, NULL, NULL, 1, 0 };
    out = fabric(&cw, pw, 2);
    check_svg("2 x 512 fabric", out);
    CHECK(sites_in_panel(out, 0, "<rect") == 2 * WIDE && sites_in_panel(out, 1, "<rect") == 2 * WIDE);
    CHECK(count(out, " to (") == 1 && strstr(out, "(0, 7) E to (0, 8): load 3, over capacity"));
    free(out);
    free(wc);
    free(wl);

    /* nothing to draw */
    out = fabric(&c, p, 0);
    check_svg("fabric without panels", out);
    CHECK(strstr(out, ">no data</text>"));
    free(out);
}

static void test_fabric_errors(void)
{
    enum { R = 4, C = 6, N = R * C };
    int cat[N] = { 0 }, cat1[N] = { 0 }, drow[1] = { 0 }, dside[1] = { 0 };
    weft_svg_fabric_panel p[2] = { { "a", cat, NULL, NULL, drow, dside, NULL, 1 },
                                   { "b", cat1, NULL, NULL, NULL, NULL, NULL, 0 } };
    weft_svg_fabric_chart c = { "f", R, C, NULL, NULL, NULL, 2, 0 };
    memout m;
    mem_open(&m);
    cat1[2 * C + 3] = 2;
    CHECK_ERR(weft_svg_fabric(m.f, &c, p, 2), WEFT_ERR_ARG, "panel 1", "site (2, 3)");
    cat1[2 * C + 3] = -2;
    CHECK_ERR(weft_svg_fabric(m.f, &c, p, 2), WEFT_ERR_ARG, "panel 1", "site (2, 3)");
    cat1[2 * C + 3] = 1;
    drow[0] = R;
    CHECK_ERR(weft_svg_fabric(m.f, &c, p, 2), WEFT_ERR_ARG, "panel 0", "door 0");
    drow[0] = 0;
    dside[0] = 2;
    CHECK_ERR(weft_svg_fabric(m.f, &c, p, 2), WEFT_ERR_ARG, "panel 0", "door 0");
    dside[0] = 0;
    p[0].door_side = NULL;
    CHECK_ERR(weft_svg_fabric(m.f, &c, p, 2), WEFT_ERR_ARG, "panel 0", NULL);
    p[0].door_side = dside;
    p[1].category = NULL;
    CHECK_ERR(weft_svg_fabric(m.f, &c, p, 2), WEFT_ERR_ARG, "panel 1", "no categories");
    p[1].category = cat1;
    unsigned char shape[N] = { 0 };
    shape[5] = 3;
    c.shape = shape;
    CHECK_ERR(weft_svg_fabric(m.f, &c, p, 2), WEFT_ERR_ARG, NULL, "site (0, 5)");
    c.shape = NULL;
    weft_svg_fabric_chart big = { "big", 600, 600, NULL, NULL, NULL, 2, 0 };
    CHECK_ERR(weft_svg_fabric(m.f, &big, p, 2), WEFT_ERR_ARG, NULL, "600 x 600");
    big.rows = 1;
    big.cols = 513;
    CHECK_ERR(weft_svg_fabric(m.f, &big, p, 2), WEFT_ERR_ARG, NULL, "1 x 513");
    CHECK_ERR(weft_svg_fabric(NULL, &c, p, 2), WEFT_ERR_ARG, NULL, NULL);
    CHECK_ERR(weft_svg_fabric(m.f, NULL, p, 2), WEFT_ERR_ARG, NULL, NULL);
    CHECK_ERR(weft_svg_fabric(m.f, &c, p, -1), WEFT_ERR_ARG, NULL, NULL);
    CHECK_ERR(weft_svg_fabric(m.f, &c, NULL, 2), WEFT_ERR_ARG, NULL, "2 panels at NULL");
    c.ncategories = -1;
    CHECK_ERR(weft_svg_fabric(m.f, &c, p, 2), WEFT_ERR_ARG, NULL, NULL);
    c.ncategories = 2;
    char *out = mem_close(&m);
    CHECK(out[0] == '\0');                       /* nothing written on a refused call */
    free(out);

    FILE *ro = fopen("/dev/null", "r");
    if (ro) {
        CHECK_ERR(weft_svg_fabric(ro, &c, p, 2), WEFT_ERR_IO, NULL, "fabric");
        fclose(ro);
    }
}

/* ---- HTML -------------------------------------------------------------------------- */

static void test_html(void)
{
    static const char *const header[3] = { "policy", "a<b", "loss" };
    static const char *const cells[6] = { "x&y", "1.5", "-2e-3", "<script>", " 12.5% ", NULL };
    memout m;
    mem_open(&m);
    weft_report_begin(m.f, "Precision \"study\" <1>");
    weft_report_heading(m.f, 9, "h & h");
    weft_report_paragraph(m.f, "it's");
    CHECK_OK(weft_report_table(m.f, header, 3, cells, 2));
    CHECK_OK(weft_report_table(m.f, NULL, 0, NULL, 0));
    double x[2] = { 0, 1 }, y[2] = { 1, 2 };
    weft_svg_chart c = { "c", NULL, NULL, false, 0, 0 };
    weft_svg_series s = { "s", x, y, 2 };
    CHECK_OK(weft_svg_line_chart(m.f, &c, &s, 1));
    weft_report_end(m.f);
    char *out = mem_close(&m);

    char why[160] = "";
    CHECKF(well_formed(out, why, sizeof why), "page: %s", why);
    CHECK(strncmp(out, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(out, "<meta charset=\"utf-8\">"));
    CHECK(strstr(out, "<title>Precision &quot;study&quot; &lt;1&gt;</title>"));
    CHECK(strstr(out, "<h1>Precision &quot;study&quot; &lt;1&gt;</h1>"));
    CHECK(strstr(out, "<h6>h &amp; h</h6>") && strstr(out, "<p>it&#39;s</p>"));
    CHECK(strstr(out, "<th>a&lt;b</th>"));
    CHECK(strstr(out, "<td>x&amp;y</td><td class=\"num\">1.5</td><td class=\"num\">-2e-3</td>"));
    CHECK(strstr(out, "<td>&lt;script&gt;</td><td class=\"num\"> 12.5% </td><td></td>"));
    CHECK(!strstr(out, "<script"));
    CHECK(!strstr(out, "http://") || count(out, "http://") == count(out, "xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK(strstr(out, "</body>\n</html>\n"));
    free(out);
}

static void test_errors(void)
{
    double x[2] = { 0, 1 };
    weft_svg_chart c = { "c", NULL, NULL, false, 0, 0 };
    weft_svg_series s = { "s", x, NULL, 2 };
    memout m;
    mem_open(&m);
    CHECK_ERR(weft_svg_line_chart(m.f, &c, &s, 1), WEFT_ERR_ARG, NULL, "series 0");
    CHECK_ERR(weft_svg_line_chart(m.f, &c, &s, -1), WEFT_ERR_ARG, NULL, NULL);
    CHECK_ERR(weft_svg_line_chart(NULL, &c, &s, 0), WEFT_ERR_ARG, NULL, NULL);
    CHECK_ERR(weft_svg_heatmap(m.f, "h", NULL, 2, NULL, 2, 0, 1, NULL), WEFT_ERR_ARG, NULL, "2 x 2");
    CHECK_ERR(weft_report_table(m.f, NULL, 2, NULL, 1), WEFT_ERR_ARG, NULL, NULL);
    char *out = mem_close(&m);
    CHECK(out[0] == '\0');                      /* nothing written on a refused call */
    free(out);

    /* a stream that cannot be written reports WEFT_ERR_IO */
    FILE *ro = fopen("/dev/null", "r");
    if (ro) {
        s.y = x;
        CHECK_ERR(weft_svg_line_chart(ro, &c, &s, 1), WEFT_ERR_IO, NULL, "line chart");
        fclose(ro);
    }
}

int main(void)
{
    test_lines_and_gaps();
    test_escaping();
    test_tick_labels();
    test_log_axis();
    test_degenerate_charts();
    test_long_series();
    test_heatmap();
    test_gantt();
    test_gantt_many_bars();
    test_gantt_errors();
    test_fabric();
    test_fabric_errors();
    test_html();
    test_errors();
    return test_summary();
}
