/* weft/report.h — self-contained HTML reports with inline SVG charts.
 *
 * Everything is written to a FILE* the caller owns (typically the f of a
 * weft_outfile, so a report appears whole or not at all). The output needs no
 * external resources and no JavaScript; every piece of caller text (titles,
 * labels, legend names, table cells) is escaped. Coordinates are in SVG user
 * units (pixels at 100% zoom), written with one decimal. No element ids are
 * used, so any number of charts can be inlined in one HTML page.
 *
 * The chart functions return WEFT_ERR_ARG for impossible arguments (NULL f,
 * negative counts, NULL arrays with a non-zero count) and WEFT_ERR_IO when f
 * reports a write error; degenerate data (no series, empty or constant series,
 * all values non-finite) is not an error: it draws an empty chart or says
 * "no data". */
#ifndef WEFT_REPORT_H
#define WEFT_REPORT_H

#include "weft/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SVG charts ------------------------------------------------------------ */

/* One line of a line chart: n points (x[i], y[i]). A point with a non-finite
 * x or y (or y <= 0 on a log axis) is a gap: the line breaks there; a point
 * with gaps on both sides is drawn as a dot. x need not be sorted (points are
 * joined in the order given). */
typedef struct {
    const char *name;        /* legend label (NULL: no legend entry)           */
    const double *x, *y;     /* n values each                                  */
    int n;
} weft_svg_series;

typedef struct {
    const char *title, *xlabel, *ylabel;   /* each may be NULL                 */
    bool log_y;              /* log10 y axis, ticks at decades ("1e-06")        */
    int width, height;       /* total size in pixels; 0 -> 640 x 360            */
} weft_svg_chart;

/* A line chart as one <svg> element: axes with ticks at 1, 2, 5 x 10^k (or at
 * decades on a log axis) and their labels, light grid lines, axis labels, the
 * title, a legend on the right (names clipped to 24 characters, the whole
 * name as a tooltip), and one line per series. Series colors come
 * from the Okabe-Ito palette (8 colors distinguishable with color-blind
 * vision); series 9 and on reuse them dashed. */
weft_status weft_svg_line_chart(FILE *f, const weft_svg_chart *c,
                                const weft_svg_series *s, int nseries);

/* A heatmap as one <svg> element: values is nrows x ncols, row-major, each in
 * [0,1] (clamped; non-finite values leave their cell blank), drawn on a
 * viridis-like sequential scale with a color bar for 0..1 on the right.
 * row_labels[r] names row r (NULL array or entry: no label); labels over 40
 * characters keep their end and start with "…". Rows are 14 px high up to 40
 * rows, then thinner (every few labelled); the chart is 720 px wide, so keep
 * ncols to a few hundred (one <rect> per run of equal colors). Columns are
 * equally spaced: x0 and x1 are the x values (e.g. steps) at the centres of
 * the first and last column; the x axis below the cells is labelled xlabel. nrows == 0 or ncols == 0 draws a
 * small chart that says "no data". title and xlabel may be NULL. */
weft_status weft_svg_heatmap(FILE *f, const char *title, const char *const *row_labels, int nrows,
                             const double *values, int ncols, double x0, double x1,
                             const char *xlabel);

/* One bar of a Gantt chart: lane `row`, from t0 to t1 (t1 >= t0), of kind
 * `kind` (an index into the chart's kinds), with an optional label drawn
 * inside when it fits (e.g. the microbatch number) and a tooltip. */
typedef struct { int row; double t0, t1; int kind; const char *label; } weft_svg_bar;

typedef struct {
    const char *title, *xlabel;          /* each may be NULL                   */
    const char *const *row_labels;       /* nrows lane names, top to bottom    */
    int nrows;                           /* ("stage 0"); NULL: "0", "1", ...   */
    const char *const *kind_names;       /* the legend: nkinds names ("forward") */
    const char *const *kind_colors;      /* and colors as "#rrggbb"; NULL colors: */
    int nkinds;                          /* the palette                        */
    int width;                           /* 0: 720                             */
} weft_svg_gantt_chart;

/* A Gantt chart (e.g. a pipeline timeline: stages x time) as one <svg>
 * element: the title, a legend (a swatch and the name of each kind, names
 * clipped to 24 characters, then a grey "idle" swatch), one lane per row with
 * its label on the left (clipped to 24 characters), and a time axis at the
 * bottom with ticks at 1, 2, 5 x 10^k, labelled xlabel. The axis runs from 0
 * to the latest t1 (from the earliest t0 instead when that is negative, or
 * when the bars start later than they last, as wall-clock times do). Each
 * lane is a light grey band (idle time) under its bars; a bar is a <rect>
 * colored by its kind (NULL kind_colors or entry: the line charts' palette;
 * NULL kind_names or entry: the kind's number; NULL row_labels or entry: the
 * row's number), at least 0.5 px wide, with the tooltip "lane: KIND label
 * t0–t1"; its label is drawn inside when it fits. Bars are drawn in the order
 * given. Lanes are 18 px apart up to 16 lanes, then thinner down to 6 px
 * (labelled every few lanes then); at most 1000000 lanes. width is clamped to
 * 320..20000 px. With more than 20000 bars, each lane is merged at half-pixel
 * resolution first (bars of a kind less than a quarter pixel apart become one
 * <rect>, its tooltip counting the bars; where kinds mix below a pixel, the
 * kind covering most wins), so the file stays small (no labels then).
 * WEFT_ERR_ARG also for a bar (named by its index) on no lane, of no kind, or
 * with non-finite or decreasing times; nbars == 0 (also with nrows == 0)
 * draws a small chart that says "no data". */
weft_status weft_svg_gantt(FILE *f, const weft_svg_gantt_chart *c, const weft_svg_bar *bars, int nbars);

/* ---- fabric maps ------------------------------------------------------------
 * A grid of units seen from above (a dataflow fabric, placed and routed): one
 * cell per site, drawn as a square (shape 0: a compute unit) or a circle-ish
 * rounded square (shape 1: a memory unit), filled by the category of what it
 * serves (-1: unused, drawn pale grey), with a tooltip; links between
 * neighbouring cells drawn as short lines with their load (0 .. 1 of
 * capacity, above 1 over capacity) as width and color; doors on the left and
 * right edges (address generators). Several panels (e.g. sections) side by
 * side or stacked. */
typedef struct {
    const char *title;              /* the panel's caption                         */
    const int *category;            /* rows x cols: index into the chart's categories, -1 unused */
    const char *const *tooltip;     /* rows x cols, or NULL (entries NULL: none)   */
    const double *link_load;        /* rows x cols x 4 (N, E, S, W from each site), or NULL */
    const int *door_row;            /* ndoors: row of each door                     */
    const int *door_side;           /* ndoors: 0 left edge, 1 right edge            */
    const double *door_load;        /* ndoors: 0 .. 1 of its share, or NULL         */
    int ndoors;
} weft_svg_fabric_panel;

typedef struct {
    const char *title;
    int rows, cols;
    const unsigned char *shape;     /* rows x cols: 0 compute, 1 memory              */
    const char *const *category_names; /* ncategories: legend entries               */
    const char *const *category_colors; /* "#rrggbb", or NULL: the palette, cycled   */
    int ncategories;
    int width;                      /* 0: 720 per panel row                          */
} weft_svg_fabric_chart;

/* The chart as one <svg>: the title, a legend of categories (names clipped
 * to 24 characters; NULL names: numbers; "unused" when a site is -1) and a
 * key (the shapes, doors, and link load: a scale from a pale grey trickle to
 * black at full, red above 1), then each panel, its caption above it (two
 * panels side by side while sites stay at least 14 px apart, else one per
 * row). Without category_colors the palette of the line charts is used, a
 * lighter round of it for categories 8..15 and a darker one for 16..23.
 * Each site is one element (NULL shape: all compute). A link (r, c, d) with
 * a finite load > 0 and a neighbour in direction d is one stroke in the gap
 * between the sites, to the right of its heading (so that the two directions
 * do not overlap), wider and darker with load, red and widest above 1, with
 * a tooltip; on grids too fine for gaps (sites under 6 px apart) only links
 * over capacity are drawn, from centre to centre. Doors are triangles
 * pointing into the fabric, colored by door_load (dark grey without one),
 * further doors on the same row and side stacked outwards. width is clamped
 * to 320..20000. WEFT_ERR_ARG for a category out of range or a door on no
 * row or side (naming the panel and site or door), a shape other than 0 or
 * 1, a NULL category array, a grid above 512 x 512 or more than 4096 panels;
 * no panels or an empty grid draws a small chart that says "no data". */
weft_status weft_svg_fabric(FILE *f, const weft_svg_fabric_chart *c, const weft_svg_fabric_panel *panels, int npanels);

/* ---- HTML pages ------------------------------------------------------------ */

/* Writes text (UTF-8, NULL for none) with &, <, >, " and ' escaped, and other
 * control characters than tab and newline replaced by spaces: safe in HTML
 * and XML text and in quoted attribute values. */
void weft_report_escape(FILE *f, const char *text);

/* <!DOCTYPE html> up to and including <body> and an <h1> with the title, with
 * a small inline style sheet: sans-serif text, a readable maximum width,
 * tables with borders, zebra rows and right-aligned numbers. */
void weft_report_begin(FILE *f, const char *title);
/* Closes the body and the page. */
void weft_report_end(FILE *f);
/* <hN>text</hN> with N clamped to 1..6; <p>text</p>. */
void weft_report_heading(FILE *f, int level, const char *text);
void weft_report_paragraph(FILE *f, const char *text);

/* An HTML table: header holds ncols column names (NULL: no header row); cells
 * holds nrows x ncols strings, row-major (a NULL cell is empty). Cells that
 * read as a number (as strtod reads it, optionally followed by '%') are
 * right-aligned. */
weft_status weft_report_table(FILE *f, const char *const *header, int ncols,
                              const char *const *cells, int nrows);

#ifdef __cplusplus
}
#endif
#endif
