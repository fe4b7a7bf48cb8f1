/* report_gantt.c — Gantt charts of pipeline timelines: one lane per stage,
 * time along the x axis, a bar per piece of work colored by its kind
 * (forward, backward, update, ...). Each lane is a light grey band, so time
 * without a bar (idle time, pipeline bubbles) shows as grey.
 *
 * A few thousand bars are drawn one <rect> each, with a tooltip. Beyond
 * GANTT_MERGE_BARS, bars far narrower than a pixel would make a file of tens
 * of megabytes that draws nothing more, so each lane is rasterised into half-
 * pixel cells first: a cell at least half covered (or holding a bar's centre)
 * takes the kind that covers most of it, and each run of cells of one kind
 * becomes one <rect>. Gaps under a quarter of a pixel between bars vanish that
 * way, and the output is bounded by lanes x cells whatever the number of
 * bars. */
#include "weft/report.h"
#include "io/report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GANTT_MERGE_BARS 20000  /* more bars than this are merged per cell   */
#define GANTT_MAX_ROWS 1000000  /* lanes of >= 6 px: keeps the height an int  */
#define LEGEND_CHARS 24         /* longest legend / lane label, in characters */
#define CELL 0.5                /* merge resolution, px                       */
#define IDLE_FILL "#ebebeb"

typedef struct {
    const weft_svg_gantt_chart *c;
    rp_box b;
    rp_axis ax;
    double rh, pad;             /* lane pitch; space between neighbouring bands */
} gantt;

/* The name of entry i of names, or its number when there is none. */
static const char *name_of(const char *const *names, int i, char buf[16])
{
    if (names && names[i]) return names[i];
    snprintf(buf, 16, "%d", i);
    return buf;
}

static const char *kind_color(const weft_svg_gantt_chart *c, int k)
{
    return c->kind_colors && c->kind_colors[k] ? c->kind_colors[k] : rp_palette[k % 8];
}

/* Whether bar labels on color col read better in white: "#rrggbb" or "#rgb"
 * with a low luma (other color syntaxes: assume a dark color). */
static bool dark_color(const char *col)
{
    unsigned r, g, b;
    size_t n = strlen(col);
    if (col[0] == '#' && n == 7 && strspn(col + 1, "0123456789abcdefABCDEF") == 6) {
        sscanf(col + 1, "%2x%2x%2x", &r, &g, &b);
    } else if (col[0] == '#' && n == 4 && strspn(col + 1, "0123456789abcdefABCDEF") == 3) {
        sscanf(col + 1, "%1x%1x%1x", &r, &g, &b);
        r *= 17;
        g *= 17;
        b *= 17;
    } else {
        return true;
    }
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 140;
}

/* x of time t, in px from the left edge of the plot, within [0, width]. */
static double px_of(const gantt *g, double t)
{
    double fr = (t - g->ax.lo) / (g->ax.hi - g->ax.lo);
    return fmin(fmax(fr, 0.0), 1.0) * g->b.w;
}

/* <rect> of lane r from px x (relative to the plot) for w px, colored col,
 * opened for a tooltip to follow. */
static void bar_open(FILE *f, const gantt *g, int r, double x, double w, const char *col)
{
    fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"", g->b.x + x,
            g->b.y + r * g->rh + g->pad / 2, w, g->rh - g->pad);
    weft_report_escape(f, col);
    fputs("\">", f);
}

/* <title>lane: KIND label t0–t1</title></rect>. Merged bars (nmerged >= 0)
 * have "(n bars)" in place of the label, or nothing when n is 0 (a run that
 * holds only the middle of longer bars). */
static void bar_close(FILE *f, const gantt *g, int r, int k, const char *label, double t0, double t1,
                      long nmerged)
{
    char buf[16];
    fputs("<title>", f);
    weft_report_escape(f, name_of(g->c->row_labels, r, buf));
    fputs(": ", f);
    weft_report_escape(f, name_of(g->c->kind_names, k, buf));
    if (nmerged > 0) {
        fprintf(f, " (%ld bar%s)", nmerged, nmerged == 1 ? "" : "s");
    } else if (nmerged < 0 && label) {
        fputc(' ', f);
        weft_report_escape(f, label);
    }
    /* digits down to 1e-4 of the axis: wall-clock times keep their seconds */
    double res = (g->ax.hi - g->ax.lo) * 1e-4, big = fmax(fabs(t0), fabs(t1));
    int p = big > res && res > 0 ? (int)floor(log10(big)) - (int)floor(log10(res)) + 1 : 6;
    p = p < 6 ? 6 : p > 15 ? 15 : p;
    fprintf(f, " %.*g&#8211;%.*g</title></rect>\n", p, t0, p, t1);
}

/* Bars one by one, in the order given (later bars paint over earlier ones),
 * then the labels that fit inside their bars. */
static void draw_bars(FILE *f, const gantt *g, const weft_svg_bar *bars, int nbars)
{
    for (int i = 0; i < nbars; i++) {
        const weft_svg_bar *a = &bars[i];
        double x0 = px_of(g, a->t0), w = fmax(px_of(g, a->t1) - x0, CELL);
        if (x0 + w > g->b.w) x0 = g->b.w - w;
        bar_open(f, g, a->row, x0, w, kind_color(g->c, a->kind));
        bar_close(f, g, a->row, a->kind, a->label, a->t0, a->t1, -1);
    }
    if (g->rh - g->pad < 11) return;            /* lanes too thin for 10 px text */
    for (int pass = 0; pass < 2; pass++) {      /* white text, then dark text */
        bool open = false;
        for (int i = 0; i < nbars; i++) {
            const weft_svg_bar *a = &bars[i];
            if (!a->label || !*a->label || dark_color(kind_color(g->c, a->kind)) != (pass == 0)) continue;
            double x0 = px_of(g, a->t0), x1 = px_of(g, a->t1);
            if (x1 - x0 < 6.0 * rp_utf8_chars(a->label) + 4) continue;
            if (!open)
                fprintf(f, "<g font-size=\"10\" text-anchor=\"middle\" pointer-events=\"none\" fill=\"%s\">\n",
                        pass == 0 ? "#fff" : "#222");
            open = true;
            rp_svg_text(f, g->b.x + (x0 + x1) / 2, g->b.y + (a->row + 0.5) * g->rh + 3.5, "", a->label);
        }
        if (open) fputs("</g>\n", f);
    }
}

/* The cells (of CELL px, ncell of them) that bar a spans: from u0 to u1 in
 * cell units, in cells c0..c1. */
static void cells_of(const gantt *g, const weft_svg_bar *a, size_t ncell, double *u0, double *u1,
                     size_t *c0, size_t *c1)
{
    *u0 = px_of(g, a->t0) / CELL;
    *u1 = fmax(px_of(g, a->t1) / CELL, *u0);
    *c0 = (size_t)*u0;
    *c1 = (size_t)*u1;
    *c0 = *c0 < ncell ? *c0 : ncell - 1;         /* u == ncell: the right edge */
    *c1 = *c1 < ncell ? *c1 : ncell - 1;
}

/* Many bars: lane by lane, each cell of CELL px gets the coverage (px) of
 * every kind (a difference array for the cells a bar spans whole, direct
 * sums for its end cells), and the bars centred in it (their number and time
 * span, for the tooltips). */
static weft_status draw_merged(FILE *f, const gantt *g, const weft_svg_bar *bars, int nbars)
{
    const weft_svg_gantt_chart *c = g->c;
    int nrows = c->nrows, nk = c->nkinds;
    size_t ncell = (size_t)ceil(g->b.w / CELL), nck = ncell * (size_t)nk;
    int *start = calloc((size_t)nrows + 1, sizeof *start);
    int *order = malloc((size_t)nbars * sizeof *order);
    long *full = malloc((nck + (size_t)nk) * sizeof *full);      /* ncell + 1 per kind */
    double *part = malloc(nck * sizeof *part);
    int *ncentre = malloc(nck * sizeof *ncentre);
    double *tlo = malloc(nck * sizeof *tlo), *thi = malloc(nck * sizeof *thi);
    weft_status st = WEFT_OK;
    if (!start || !order || !full || !part || !ncentre || !tlo || !thi) {
        st = weft_fail(WEFT_ERR_NOMEM, "svg gantt: out of memory merging %d bars", nbars);
        goto done;
    }
    /* bars grouped by lane (a counting sort) */
    for (int i = 0; i < nbars; i++) start[bars[i].row + 1]++;
    for (int r = 0; r < nrows; r++) start[r + 1] += start[r];
    for (int i = 0; i < nbars; i++) order[start[bars[i].row]++] = i;
    for (int r = nrows; r > 0; r--) start[r] = start[r - 1];
    start[0] = 0;

    for (int r = 0; r < nrows; r++) {
        if (start[r] == start[r + 1]) continue;
        /* only the cells between the lane's first and last bar are cleared and scanned */
        size_t lo = ncell, hi = 0;
        for (int j = start[r]; j < start[r + 1]; j++) {
            double u0, u1;
            size_t c0, c1;
            cells_of(g, &bars[order[j]], ncell, &u0, &u1, &c0, &c1);
            lo = c0 < lo ? c0 : lo;
            hi = c1 > hi ? c1 : hi;
        }
        for (size_t k = 0; k < (size_t)nk; k++) {
            memset(full + k * (ncell + 1) + lo, 0, (hi - lo + 1) * sizeof *full);
            memset(part + k * ncell + lo, 0, (hi - lo + 1) * sizeof *part);
            memset(ncentre + k * ncell + lo, 0, (hi - lo + 1) * sizeof *ncentre);
        }
        for (int j = start[r]; j < start[r + 1]; j++) {
            const weft_svg_bar *a = &bars[order[j]];
            double u0, u1;
            size_t c0, c1, k = (size_t)a->kind;
            cells_of(g, a, ncell, &u0, &u1, &c0, &c1);
            long *fk = full + k * (ncell + 1);
            double *pk = part + k * ncell;
            if (c0 == c1) {
                pk[c0] += (u1 - u0) * CELL;
            } else {
                pk[c0] += (c0 + 1 - u0) * CELL;
                pk[c1] += (u1 - c1) * CELL;
                fk[c0 + 1]++;                    /* cells c0+1 .. c1-1 whole */
                fk[c1]--;
            }
            size_t m = (size_t)((u0 + u1) / 2);
            if (m >= ncell) m = ncell - 1;
            size_t at = k * ncell + m;
            if (ncentre[at]++ == 0) {
                tlo[at] = a->t0;
                thi[at] = a->t1;
            } else {
                tlo[at] = fmin(tlo[at], a->t0);
                thi[at] = fmax(thi[at], a->t1);
            }
        }
        for (int k = 0; k < nk; k++) {           /* whole cells: prefix sums into part */
            long run = 0;
            for (size_t i = lo; i <= hi; i++) {
                run += full[(size_t)k * (ncell + 1) + i];
                part[(size_t)k * ncell + i] += run * CELL;
            }
        }
        /* each cell's kind (-1: idle), and runs of one kind as one rect */
        int cur = -1;
        size_t from = lo;
        for (size_t i = lo; i <= hi + 1; i++) {
            int kind = -1;
            if (i <= hi) {
                double best = 0, total = 0;
                int centred = -1;                /* the first kind centred here */
                for (int k = 0; k < nk; k++) {
                    double v = part[(size_t)k * ncell + i];
                    total += v;
                    if (centred < 0 && ncentre[(size_t)k * ncell + i] > 0) centred = k;
                    if (v > best) {
                        best = v;
                        kind = k;
                    }
                }
                if (kind < 0) kind = centred;    /* only bars of no width */
                if (!(total >= CELL / 2 || centred >= 0)) kind = -1;
            }
            if (kind == cur) continue;
            if (cur >= 0) {
                long n = 0;
                double t0 = INFINITY, t1 = -INFINITY;
                for (size_t j = from; j < i; j++) {
                    size_t at = (size_t)cur * ncell + j;
                    if (!ncentre[at]) continue;
                    n += ncentre[at];
                    t0 = fmin(t0, tlo[at]);
                    t1 = fmax(t1, thi[at]);
                }
                double x0 = from * CELL, x1 = fmin(i * CELL, g->b.w);
                if (!n) {                        /* only the middles of longer bars: the cells' times */
                    t0 = g->ax.lo + x0 / g->b.w * (g->ax.hi - g->ax.lo);
                    t1 = g->ax.lo + x1 / g->b.w * (g->ax.hi - g->ax.lo);
                }
                double w = fmax(x1 - x0, CELL);
                bar_open(f, g, r, fmin(x0, g->b.w - w), w, kind_color(c, cur));
                bar_close(f, g, r, cur, NULL, t0, t1, n);
            }
            cur = kind;
            from = i;
        }
    }
done:
    free(start);
    free(order);
    free(full);
    free(part);
    free(ncentre);
    free(tlo);
    free(thi);
    return st;
}

/* Legend entries from (x, y), wrapping at xmax; returns the number of lines
 * (draws nothing when draw is false). */
static int legend(FILE *f, const weft_svg_gantt_chart *c, double x, double y, double xmax, bool draw)
{
    int lines = 1;
    double at = x;
    for (int k = 0; k <= c->nkinds; k++) {
        char buf[16];
        const char *name = k < c->nkinds ? name_of(c->kind_names, k, buf) : "idle";
        int n = rp_utf8_chars(name);
        double w = 14 + 6.2 * (n < LEGEND_CHARS ? n : LEGEND_CHARS) + 14;
        if (at > x && at + w > xmax) {
            at = x;
            lines++;
        }
        if (draw) {
            double ly = y + 16 * (lines - 1);
            if (k < c->nkinds) {
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"", at, ly);
                weft_report_escape(f, kind_color(c, k));
                fputs("\"/>\n", f);
            } else {
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"" IDLE_FILL
                           "\" stroke=\"#bbb\"/>\n", at, ly);
            }
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", at + 14, ly + 9);
            rp_clipped_text(f, name, LEGEND_CHARS, false);
            fputs("</text>\n", f);
        }
        at += w;
    }
    return lines;
}

weft_status weft_svg_gantt(FILE *f, const weft_svg_gantt_chart *c, const weft_svg_bar *bars, int nbars)
{
    if (!f || !c || nbars < 0 || (nbars > 0 && !bars) || c->nrows < 0 || c->nkinds < 0 ||
        c->nrows > GANTT_MAX_ROWS)
        return weft_fail(WEFT_ERR_ARG, "svg gantt \"%s\": needs a file, a chart, and %d bars%s on %d lanes "
                         "(at most %d) of %d kinds", c && c->title ? c->title : "", nbars,
                         nbars > 0 && !bars ? " at NULL" : "", c ? c->nrows : 0, GANTT_MAX_ROWS,
                         c ? c->nkinds : 0);
    const char *title = c->title ? c->title : "";
    double tmin = INFINITY, tmax = -INFINITY;
    for (int i = 0; i < nbars; i++) {
        const weft_svg_bar *a = &bars[i];
        if (a->row < 0 || a->row >= c->nrows)
            return weft_fail(WEFT_ERR_ARG, "svg gantt \"%s\": bar %d is on lane %d, outside 0..%d", title, i,
                             a->row, c->nrows - 1);
        if (a->kind < 0 || a->kind >= c->nkinds)
            return weft_fail(WEFT_ERR_ARG, "svg gantt \"%s\": bar %d has kind %d, outside 0..%d", title, i,
                             a->kind, c->nkinds - 1);
        if (!isfinite(a->t0) || !isfinite(a->t1) || a->t1 < a->t0)
            return weft_fail(WEFT_ERR_ARG, "svg gantt \"%s\": bar %d runs from %g to %g", title, i, a->t0,
                             a->t1);
        tmin = fmin(tmin, a->t0);
        tmax = fmax(tmax, a->t1);
    }
    if (nbars == 0 || c->nrows == 0) {
        rp_svg_open(f, 360, 120, c->title);
        rp_svg_text(f, 180, 74, "text-anchor=\"middle\" fill=\"#888\" font-size=\"13\"", "no data");
        fputs("</svg>\n", f);
        return rp_io_status(f, "an svg gantt chart");
    }

    /* layout: the legend under the title, lane labels on the left (~6.2 px
     * per character at 11 px), lanes 18 px apart up to 16 of them, then
     * thinner down to 6 px, labelled every stride-th so labels never
     * overlap; the time axis below */
    gantt g = { .c = c };
    int W = c->width <= 0 ? 720 : c->width < 320 ? 320 : c->width > 20000 ? 20000 : c->width;
    int maxc = 1;
    for (int r = 0; r < c->nrows; r++) {
        char buf[16];
        int len = rp_utf8_chars(name_of(c->row_labels, r, buf));
        maxc = len > maxc ? len : maxc;
    }
    maxc = maxc > LEGEND_CHARS ? LEGEND_CHARS : maxc;
    g.rh = c->nrows <= 16 ? 18 : fmax(6.0, 288.0 / c->nrows);
    g.pad = fmin(3.0, 0.15 * g.rh);
    int stride = (int)ceil(11.0 / g.rh);
    double ly = c->title ? 34 : 12;
    g.b.x = 20 + 6.2 * maxc;
    g.b.w = W - g.b.x - 20;
    int lines = legend(f, c, g.b.x, ly, W - 10, false);
    g.b.y = ly + 16 * lines + 6;
    g.b.h = c->nrows * g.rh;
    int H = (int)ceil(g.b.y + g.b.h + (c->xlabel ? 46 : 30));

    /* time from 0, or from the first bar when it starts before 0 or later
     * than the timeline lasts (wall-clock times) */
    double lo = tmin >= 0 && tmin <= tmax - tmin ? 0 : tmin;
    g.ax = rp_linear_axis(lo, tmax, false);

    rp_svg_open(f, W, H, c->title);
    legend(f, c, g.b.x, ly, W - 10, true);
    /* idle: one band per lane, the bars on top */
    fputs("<path fill=\"" IDLE_FILL "\" d=\"", f);
    for (int r = 0; r < c->nrows; r++)
        fprintf(f, "M%.1f %.1fh%.1fv%.1fh%.1fz", g.b.x, g.b.y + r * g.rh + g.pad / 2, g.b.w, g.rh - g.pad,
                -g.b.w);
    fputs("\"/>\n", f);
    fputs("<g shape-rendering=\"crispEdges\">\n", f);
    weft_status st = WEFT_OK;
    if (nbars > GANTT_MERGE_BARS) st = draw_merged(f, &g, bars, nbars);
    else draw_bars(f, &g, bars, nbars);
    if (st != WEFT_OK) return st;
    fputs("</g>\n", f);

    fputs("<g font-size=\"10\" text-anchor=\"end\">\n", f);
    for (int r = 0; r < c->nrows; r += stride) {
        char buf[16];
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", g.b.x - 6, g.b.y + (r + 0.5) * g.rh + 3.5);
        rp_clipped_text(f, name_of(c->row_labels, r, buf), maxc, false);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
    fprintf(f, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"#444\"/>\n", g.b.x, g.b.y + g.b.h, g.b.x + g.b.w);
    rp_draw_axis(f, g.b, &g.ax, false, false);
    if (c->xlabel) rp_svg_text(f, g.b.x + g.b.w / 2, H - 8, "text-anchor=\"middle\"", c->xlabel);
    fputs("</svg>\n", f);
    return rp_io_status(f, "an svg gantt chart");
}
