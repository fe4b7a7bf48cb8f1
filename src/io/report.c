/* report.c — HTML report pages and the SVG charts inlined in them.
 *
 * Charts are plain SVG elements without ids (so that any number of them fit
 * in one page without clashing), scripts or external fonts. Layout is in
 * pixels; text widths are estimated from character counts (there are no font
 * metrics to ask), which is why margins are generous and long labels are
 * clipped. Data never reaches the output unchecked: a point is drawn only
 * when its coordinates are finite and within a sane range, so no "nan" or
 * "inf" can appear in a coordinate. */
#include "weft/report.h"
#include "io/report_int.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEGEND_CHARS 24         /* longest legend label, in characters          */
#define ROW_LABEL_CHARS 40      /* longest heatmap row label                    */
#define MAX_TICKS 64

/* ---- text -------------------------------------------------------------------- */

static void escape_n(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&':  fputs("&amp;", f); break;
        case '<':  fputs("&lt;", f); break;
        case '>':  fputs("&gt;", f); break;
        case '"':  fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        /* XML forbids most control characters, even as references */
        default:   fputc(c < 0x20 && c != '\t' && c != '\n' ? ' ' : c, f);
        }
    }
}

void weft_report_escape(FILE *f, const char *text)
{
    if (text) escape_n(f, text, SIZE_MAX);
}

/* open, text escaped, close: an element around caller text. */
void rp_wrap(FILE *f, const char *open, const char *text, const char *close)
{
    fputs(open, f);
    weft_report_escape(f, text);
    fputs(close, f);
}

/* Characters (code points) in UTF-8 s: continuation bytes 10xxxxxx do not count. */
int rp_utf8_chars(const char *s)
{
    int n = 0;
    for (; s && *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Byte offset of character k of s (k == rp_utf8_chars(s) gives strlen(s)). */
static size_t utf8_offset(const char *s, int k)
{
    size_t i = 0;
    for (int seen = -1; s[i]; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++seen == k) return i;
    return i;
}

/* Content of a <text> element: s escaped, at most max characters (max >= 2).
 * Longer text becomes "…" + its end (keep_end: tensor names differ in their
 * last parts) or its start + "…", and carries the whole text as a <title>
 * (a tooltip in browsers). */
void rp_clipped_text(FILE *f, const char *s, int max, bool keep_end)
{
    int n = rp_utf8_chars(s);
    if (n <= max) { weft_report_escape(f, s); return; }
    rp_wrap(f, "<title>", s, "</title>");
    if (keep_end) {
        fputs(RP_ELLIPSIS, f);
        weft_report_escape(f, s + utf8_offset(s, n - max + 1));
    } else {
        escape_n(f, s, utf8_offset(s, max - 1));
        fputs(RP_ELLIPSIS, f);
    }
}

/* <text x y attrs>s</text>; attrs are raw SVG attributes (or ""). */
void rp_svg_text(FILE *f, double x, double y, const char *attrs, const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"%s%s>", x, y, *attrs ? " " : "", attrs);
    rp_wrap(f, "", s, "</text>\n");
}

/* Opens an <svg> of w x h pixels with a white background and the title
 * (both as <title>, for accessibility, and drawn centred at the top). */
void rp_svg_open(FILE *f, int w, int h, const char *title)
{
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n",
            w, h, w, h);
    if (title) rp_wrap(f, "<title>", title, "</title>\n");
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", w, h);
    if (title) rp_svg_text(f, w / 2.0, 20, "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"", title);
}

weft_status rp_io_status(FILE *f, const char *what)
{
    return ferror(f) ? weft_fail(WEFT_ERR_IO, "writing %s: write error", what) : WEFT_OK;
}

/* ---- axes -------------------------------------------------------------------- */

/* 1, 2 or 5 x 10^k, the smallest not below raw (raw > 0). The slack absorbs
 * rounding in raw / p so that 0.2 stays 0.2 rather than becoming 0.5. */
static double nice_step(double raw)
{
    double p = pow(10.0, floor(log10(raw)));
    double m = raw / p;
    return (m <= 1.001 ? 1 : m <= 2.001 ? 2 : m <= 5.001 ? 5 : 10) * p;
}

/* About five ticks at 1, 2, 5 x 10^k for data in [lo, hi] (finite, lo <= hi).
 * extend widens the axis to whole steps (line charts); otherwise the axis
 * stays [lo, hi] and only the ticks inside it are drawn. */
rp_axis rp_linear_axis(double lo, double hi, bool extend)
{
    double mag = fmax(fabs(lo), fabs(hi));
    if (!(hi - lo > 1e-12 * mag)) {           /* constant data: pad so it sits mid-axis */
        double pad = mag > 1e-300 ? 0.1 * mag : 1.0;
        lo -= pad;
        hi += pad;
    }
    /* keeps hi - lo and the extended ends finite for data near DBL_MAX */
    lo = fmax(lo, -DBL_MAX / 4);
    hi = fmin(hi, DBL_MAX / 4);
    rp_axis a = { lo, hi, 0, hi, nice_step((hi - lo) / 5), false };
    if (extend) {
        a.lo = floor(lo / a.step) * a.step;
        a.hi = a.last = ceil(hi / a.step) * a.step;
    }
    a.first = ceil(a.lo / a.step - 1e-9) * a.step;
    return a;
}

/* Whole decades around [vmin, vmax] (0 < vmin <= vmax), at most ~8 labelled. */
static rp_axis log_axis(double vmin, double vmax)
{
    double lo = floor(log10(vmin) + 1e-9), hi = ceil(log10(vmax) - 1e-9);
    if (hi <= lo) { lo -= 1; hi += 1; }
    double step = hi - lo <= 8 ? 1 : ceil((hi - lo) / 8);
    lo = floor(lo / step) * step;
    hi = ceil(hi / step) * step;
    return (rp_axis){ lo, hi, lo, hi, step, true };
}

/* Fraction along the axis of data value v (NaN when v <= 0 on a log axis). */
static double axis_frac(const rp_axis *a, double v)
{
    if (a->log) v = v > 0 ? log10(v) : NAN;
    return (v - a->lo) / (a->hi - a->lo);
}

/* Tick label at u. Decades print as %g does ("0.001", "1e-06", "1e+06");
 * linear ticks get the decimals of the step, so that 0.2, 0.4 do not print
 * as "0.2000001" and 2000 does not print as "2e+03". */
static void tick_label(char *buf, size_t n, const rp_axis *a, double u)
{
    if (a->log) {
        int k = (int)lround(u);
        if (k >= -4 && k <= 5) snprintf(buf, n, "%g", pow(10.0, k));
        else snprintf(buf, n, "1e%c%02d", k < 0 ? '-' : '+', abs(k));
        return;
    }
    if (fabs(u) < a->step * 1e-6) u = 0;      /* rounding residue and -0 print as "0" */
    int k = (int)floor(log10(a->step) + 1e-9);
    if (k >= -4 && fmax(fabs(a->lo), fabs(a->hi)) < 1e7) {
        snprintf(buf, n, "%.*f", k < 0 ? -k : 0, u);
    } else {
        int digits = u == 0 ? 1 : (int)floor(log10(fabs(u))) - k + 1;
        snprintf(buf, n, "%.*g", digits < 1 ? 1 : digits > 15 ? 15 : digits, u);
    }
}

/* Ticks, tick labels and (with grid) grid lines of a along the left side
 * (vertical) or the bottom of b. Log axes with few decades also get short
 * unlabelled ticks at 2..9 x 10^k. */
void rp_draw_axis(FILE *f, rp_box b, const rp_axis *a, bool vertical, bool grid)
{
    double pos[MAX_TICKS], val[MAX_TICKS];
    int n = 0;
    for (int i = 0; i < MAX_TICKS; i++) {
        double u = a->first + i * a->step;
        if (u > a->last + 1e-9 * a->step) break;
        double fr = (u - a->lo) / (a->hi - a->lo);
        if (!(fr >= -1e-9 && fr <= 1 + 1e-9)) continue;
        pos[n] = vertical ? b.y + b.h * (1 - fr) : b.x + b.w * fr;
        val[n++] = u;
    }
    if (grid && n) {
        fputs("<path fill=\"none\" stroke=\"#e4e4e4\" d=\"", f);
        for (int i = 0; i < n; i++)
            if (vertical) fprintf(f, "M%.1f %.1fH%.1f", b.x, pos[i], b.x + b.w);
            else fprintf(f, "M%.1f %.1fV%.1f", pos[i], b.y, b.y + b.h);
        fputs("\"/>\n", f);
    }
    fputs("<path fill=\"none\" stroke=\"#444\" d=\"", f);
    for (int i = 0; i < n; i++)
        if (vertical) fprintf(f, "M%.1f %.1fh-5", b.x, pos[i]);
        else fprintf(f, "M%.1f %.1fv5", pos[i], b.y + b.h);
    if (a->log && a->step == 1 && a->hi - a->lo <= 6)
        for (double d = a->lo; d < a->hi; d++)
            for (int m = 2; m <= 9; m++) {
                double p = b.y + b.h * (1 - (d + log10(m) - a->lo) / (a->hi - a->lo));
                fprintf(f, "M%.1f %.1fh-3", b.x, p);
            }
    fputs("\"/>\n", f);
    fprintf(f, "<g text-anchor=\"%s\" fill=\"#222\">\n", vertical ? "end" : "middle");
    for (int i = 0; i < n; i++) {
        char lab[48];
        tick_label(lab, sizeof lab, a, val[i]);
        if (vertical) rp_svg_text(f, b.x - 7, pos[i] + 4, "", lab);
        else rp_svg_text(f, pos[i], b.y + b.h + 17, "", lab);
    }
    fputs("</g>\n", f);
}

/* ---- line charts ------------------------------------------------------------- */

/* Okabe & Ito's palette, ordered so that the first lines get the strongest
 * colors; yellow, the faintest on white, comes last. */
const char *const rp_palette[8] = {
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
};
/* Series 9..16 repeat the colors dashed, 17..24 dotted. */
static const char *const dashes[3] = { "", " stroke-dasharray=\"6 3\"", " stroke-dasharray=\"2 2\"" };

static bool point_ok(const weft_svg_series *s, int i, bool log_y)
{
    return isfinite(s->x[i]) && isfinite(s->y[i]) && (!log_y || s->y[i] > 0);
}

/* One series: a <polyline> per run of drawable points, a dot for a point
 * alone between gaps. Points are rounded to 0.1 px, and a point that rounds
 * onto the previous one is dropped (it would add bytes, not ink). */
static void draw_series(FILE *f, rp_box b, const rp_axis *ax, const rp_axis *ay,
                        const weft_svg_series *s, int k, bool log_y)
{
    const char *color = rp_palette[k % 8];
    fprintf(f, "<g fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" stroke-linejoin=\"round\""
               " stroke-linecap=\"round\"%s>\n", color, dashes[(k / 8) % 3]);
    long fx = 0, fy = 0, lx = 0, ly = 0;      /* first and last point of the run, 0.1 px */
    int run = 0;
    for (int i = 0; i <= s->n; i++) {
        double px = NAN, py = NAN;
        if (i < s->n && point_ok(s, i, log_y)) {
            px = b.x + b.w * axis_frac(ax, s->x[i]);
            py = b.y + b.h * (1 - axis_frac(ay, s->y[i]));
        }
        if (!(fabs(px) < 1e5 && fabs(py) < 1e5)) {   /* a gap (or a wild point) ends the run */
            if (run == 1)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%s\" stroke=\"none\"/>\n",
                        fx / 10.0, fy / 10.0, color);
            else if (run > 1)
                fputs("\"/>\n", f);
            run = 0;
            continue;
        }
        long qx = lround(px * 10), qy = lround(py * 10);
        if (run > 0 && qx == lx && qy == ly) continue;
        if (run == 0) {
            fx = qx;
            fy = qy;
        } else {
            if (run == 1) fprintf(f, "<polyline points=\"%.1f,%.1f", fx / 10.0, fy / 10.0);
            fprintf(f, " %.1f,%.1f", qx / 10.0, qy / 10.0);
        }
        lx = qx;
        ly = qy;
        run++;
    }
    fputs("</g>\n", f);
}

weft_status weft_svg_line_chart(FILE *f, const weft_svg_chart *c, const weft_svg_series *s, int nseries)
{
    if (!f || !c || nseries < 0 || (nseries > 0 && !s))
        return weft_fail(WEFT_ERR_ARG, "svg line chart: needs a file, a chart and %d series", nseries);
    for (int k = 0; k < nseries; k++)
        if (s[k].n < 0 || (s[k].n > 0 && (!s[k].x || !s[k].y)))
            return weft_fail(WEFT_ERR_ARG, "svg line chart \"%s\": series %d (\"%s\") has n = %d and %s",
                             c->title ? c->title : "", k, s[k].name ? s[k].name : "", s[k].n,
                             s[k].x && s[k].y ? "values" : "no values");

    /* the data range over drawable points only */
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    int maxc = 0;
    for (int k = 0; k < nseries; k++) {
        for (int i = 0; i < s[k].n; i++) {
            if (!point_ok(&s[k], i, c->log_y)) continue;
            x0 = fmin(x0, s[k].x[i]);
            x1 = fmax(x1, s[k].x[i]);
            y0 = fmin(y0, s[k].y[i]);
            y1 = fmax(y1, s[k].y[i]);
        }
        int len = rp_utf8_chars(s[k].name);   /* 0 for NULL: no legend entry */
        maxc = len > maxc ? len : maxc;
    }
    bool empty = !(x0 <= x1);
    rp_axis ax = empty ? rp_linear_axis(0, 1, true) : rp_linear_axis(x0, x1, true);
    rp_axis ay = c->log_y ? (empty ? log_axis(0.1, 1) : log_axis(y0, y1))
                          : (empty ? rp_linear_axis(0, 1, true) : rp_linear_axis(y0, y1, true));

    /* layout: left margin for tick labels and the rotated y label, the legend
     * on the right, about 6.2 px per character at 11 px */
    int W = c->width <= 0 ? 640 : c->width < 240 ? 240 : c->width;
    int H = c->height <= 0 ? 360 : c->height < 160 ? 160 : c->height;
    if (maxc > LEGEND_CHARS) maxc = LEGEND_CHARS;
    double lw = maxc ? 36 + 6.2 * maxc : 0;
    if (lw > 0.35 * W) {
        maxc = (int)((0.35 * W - 36) / 6.2);
        lw = 36 + 6.2 * maxc;
    }
    rp_box b = { c->ylabel ? 74 : 60, c->title ? 34 : 14, 0, 0 };
    b.w = W - b.x - 14 - lw;
    b.h = H - b.y - (c->xlabel ? 44 : 28);

    rp_svg_open(f, W, H, c->title);
    rp_draw_axis(f, b, &ax, false, true);
    rp_draw_axis(f, b, &ay, true, true);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n",
            b.x, b.y, b.w, b.h);
    for (int k = 0; k < nseries; k++) draw_series(f, b, &ax, &ay, &s[k], k, c->log_y);
    if (empty)
        rp_svg_text(f, b.x + b.w / 2, b.y + b.h / 2, "text-anchor=\"middle\" fill=\"#888\" font-size=\"13\"", "no data");

    int row = 0;
    for (int k = 0; k < nseries && maxc; k++) {
        if (!s[k].name) continue;
        double lx = b.x + b.w + 14, ly = b.y + 6 + 16 * row++;
        fprintf(f, "<path d=\"M%.1f %.1fh22\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", lx, ly,
                rp_palette[k % 8], dashes[(k / 8) % 3]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", lx + 28, ly + 4);
        rp_clipped_text(f, s[k].name, maxc, false);
        fputs("</text>\n", f);
    }
    if (c->xlabel) rp_svg_text(f, b.x + b.w / 2, H - 8, "text-anchor=\"middle\"", c->xlabel);
    if (c->ylabel) {
        fprintf(f, "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">",
                b.y + b.h / 2);
        rp_wrap(f, "", c->ylabel, "</text>\n");
    }
    fputs("</svg>\n", f);
    return rp_io_status(f, "an svg line chart");
}

/* ---- heatmaps ---------------------------------------------------------------- */

/* viridis (perceptually uniform, color-blind safe, dark to light) at 0, 1/8,
 * ..., 1; colors in between are interpolated linearly in RGB. */
static const unsigned char viridis[9][3] = {
    { 68, 1, 84 },   { 71, 44, 122 },  { 59, 82, 139 },  { 44, 114, 142 }, { 33, 145, 140 },
    { 40, 174, 128 }, { 94, 201, 98 }, { 170, 220, 50 }, { 253, 231, 37 },
};

/* 0xRRGGBB for v (clamped to [0,1]). */
static unsigned heat_rgb(double v)
{
    v = fmin(fmax(v, 0.0), 1.0) * 8;
    int i = v >= 8 ? 7 : (int)v;
    double t = v - i;
    unsigned rgb = 0;
    for (int ch = 0; ch < 3; ch++)
        rgb = rgb << 8 | (unsigned)lround(viridis[i][ch] + t * (viridis[i + 1][ch] - viridis[i][ch]));
    return rgb;
}

weft_status weft_svg_heatmap(FILE *f, const char *title, const char *const *row_labels, int nrows,
                             const double *values, int ncols, double x0, double x1, const char *xlabel)
{
    if (!f || nrows < 0 || ncols < 0 || (nrows > 0 && ncols > 0 && !values))
        return weft_fail(WEFT_ERR_ARG, "svg heatmap \"%s\": %d x %d values%s", title ? title : "",
                         nrows, ncols, values ? "" : " at NULL");
    if (nrows == 0 || ncols == 0) {
        rp_svg_open(f, 360, 120, title);
        rp_svg_text(f, 180, 74, "text-anchor=\"middle\" fill=\"#888\" font-size=\"13\"", "no data");
        fputs("</svg>\n", f);
        return rp_io_status(f, "an svg heatmap");
    }

    /* layout: row labels at ~6 px per character (10 px text), rows 14 px high
     * while they fit in ~560 px, then thinner (at least 2 px), labelling only
     * every stride-th row so that labels never overlap */
    int maxc = 0;
    for (int r = 0; r < nrows && row_labels; r++) {
        int len = rp_utf8_chars(row_labels[r]);
        maxc = len > maxc ? len : maxc;
    }
    maxc = maxc > ROW_LABEL_CHARS ? ROW_LABEL_CHARS : maxc;
    double rh = nrows <= 40 ? 14 : fmax(2.0, 560.0 / nrows);
    int stride = (int)ceil(11.0 / rh);
    const int W = 720;
    rp_box b = { 12 + 6.0 * maxc, title ? 34 : 12, 0, nrows * rh };
    b.w = W - b.x - 80;
    double cbh = fmin(fmax(b.h, 80), 240);     /* color bar height */
    int H = (int)ceil(b.y + fmax(b.h, cbh) + (xlabel ? 46 : 30));
    double cw = b.w / ncols;

    rp_svg_open(f, W, H, title);
    /* cells: a run of equal colors along a row is one rect (compact output
     * where fractions sit at 0 for long stretches); crispEdges avoids
     * hairline seams between antialiased neighbours, and each rect but the
     * row's last reaches half a pixel under its right neighbour, so rounding
     * the edges to pixels cannot open a seam either */
    fputs("<g shape-rendering=\"crispEdges\">\n", f);
    for (int r = 0; r < nrows; r++) {
        const double *row = values + (size_t)r * (size_t)ncols;
        for (int j = 0; j < ncols;) {
            if (!isfinite(row[j])) { j++; continue; }
            unsigned rgb = heat_rgb(row[j]);
            int e = j + 1;
            while (e < ncols && isfinite(row[e]) && heat_rgb(row[e]) == rgb) e++;
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#%06x\"/>\n",
                    b.x + j * cw, b.y + r * rh, (e - j) * cw + (e < ncols ? 0.5 : 0.0), rh, rgb);
            j = e;
        }
    }
    fputs("</g>\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n",
            b.x, b.y, b.w, b.h);

    fputs("<g font-size=\"10\" text-anchor=\"end\">\n", f);
    for (int r = 0; r < nrows && row_labels; r += stride) {
        if (!row_labels[r]) continue;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", b.x - 5, b.y + (r + 0.5) * rh + 3.5);
        rp_clipped_text(f, row_labels[r], maxc, true);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);

    /* x axis: x0 and x1 are the centres of the first and last column, so the
     * cells' outer edges lie half a column further out */
    if (ncols > 1 && isfinite(x0) && isfinite(x1) && x0 != x1 && isfinite(x1 - x0)) {
        rp_axis ax = rp_linear_axis(fmin(x0, x1), fmax(x0, x1), false);
        double half = (x1 - x0) / (ncols - 1) / 2;
        ax.lo = x0 - half;
        ax.hi = x1 + half;
        rp_draw_axis(f, b, &ax, false, false);
    } else if (isfinite(x0)) {               /* one column (or one x): one tick */
        char lab[48];
        snprintf(lab, sizeof lab, "%g", x0);
        fprintf(f, "<path d=\"M%.1f %.1fv5\" stroke=\"#444\"/>\n", b.x + b.w / 2, b.y + b.h);
        rp_svg_text(f, b.x + b.w / 2, b.y + b.h + 17, "text-anchor=\"middle\"", lab);
    }
    if (xlabel) rp_svg_text(f, b.x + b.w / 2, H - 8, "text-anchor=\"middle\"", xlabel);

    /* color bar: 32 stacked bands (a gradient would need an id), 1 at the top */
    double cx = b.x + b.w + 16;
    fputs("<g shape-rendering=\"crispEdges\">\n", f);
    for (int i = 0; i < 32; i++)
        fprintf(f, "<rect x=\"%.1f\" y=\"%.2f\" width=\"12\" height=\"%.2f\" fill=\"#%06x\"/>\n", cx,
                b.y + cbh * i / 32, cbh / 32, heat_rgb(1 - (i + 0.5) / 32));
    fputs("</g>\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n",
            cx, b.y, cbh);
    for (int i = 0; i <= 2; i++) {
        static const char *const lab[3] = { "1", "0.5", "0" };
        rp_svg_text(f, cx + 16, b.y + cbh * i / 2 + 4, "", lab[i]);
    }
    fputs("</svg>\n", f);
    return rp_io_status(f, "an svg heatmap");
}

/* ---- HTML pages -------------------------------------------------------------- */

static const char report_css[] =
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,Helvetica,Arial,sans-serif;"
    "max-width:62rem;margin:2rem auto;padding:0 1rem;color:#222;background:#fff;line-height:1.5}\n"
    "h1,h2,h3{line-height:1.25;margin:1.6em 0 .5em}\n"
    "table{border-collapse:collapse;margin:1em 0;font-size:.92em}\n"
    "th,td{border:1px solid #ccc;padding:.3em .7em;text-align:left;vertical-align:top}\n"
    "th{background:#eef1f4}\n"
    "tbody tr:nth-child(even){background:#f6f7f8}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "svg{display:block;max-width:100%;height:auto;margin:1em 0}\n";

void weft_report_begin(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", f);
    weft_report_escape(f, title);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", report_css);
    if (title) weft_report_heading(f, 1, title);
}

void weft_report_end(FILE *f)
{
    fputs("</body>\n</html>\n", f);
}

void weft_report_heading(FILE *f, int level, const char *text)
{
    level = level < 1 ? 1 : level > 6 ? 6 : level;
    fprintf(f, "<h%d>", level);
    weft_report_escape(f, text);
    fprintf(f, "</h%d>\n", level);
}

void weft_report_paragraph(FILE *f, const char *text)
{
    rp_wrap(f, "<p>", text, "</p>\n");
}

/* Whether a cell reads as a number ("3", "-1.5e-3", " 12.5% "): such cells are
 * right-aligned so that their digits line up. */
static bool looks_numeric(const char *s)
{
    if (!s) return false;
    char *end;
    strtod(s, &end);
    if (end == s) return false;
    if (*end == '%') end++;
    while (*end == ' ') end++;
    return *end == '\0';
}

weft_status weft_report_table(FILE *f, const char *const *header, int ncols,
                              const char *const *cells, int nrows)
{
    if (!f || ncols < 0 || nrows < 0 || (nrows > 0 && ncols > 0 && !cells))
        return weft_fail(WEFT_ERR_ARG, "html table: %d rows x %d columns%s", nrows, ncols,
                         cells ? "" : " at NULL");
    fputs("<table>\n", f);
    if (header) {
        fputs("<thead><tr>", f);
        for (int j = 0; j < ncols; j++) {
            rp_wrap(f, "<th>", header[j], "</th>");
        }
        fputs("</tr></thead>\n", f);
    }
    fputs("<tbody>\n", f);
    for (int r = 0; r < nrows; r++) {
        fputs("<tr>", f);
        for (int j = 0; j < ncols; j++) {
            const char *cell = cells[(size_t)r * (size_t)ncols + j];
            rp_wrap(f, looks_numeric(cell) ? "<td class=\"num\">" : "<td>", cell, "</td>");
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
    return rp_io_status(f, "an html table");
}
