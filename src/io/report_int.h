/* report_int.h — the SVG helpers shared by report.c (line charts, heatmaps,
 * HTML pages, and where these helpers are defined) and report_gantt.c
 * (Gantt charts). Not a public interface: see weft/report.h for that. */
#ifndef WEFT_REPORT_INT_H
#define WEFT_REPORT_INT_H

#include "weft/report.h"

#define RP_ELLIPSIS "&#8230;"   /* "…" as a reference: the output stays ASCII  */

/* The plot area, in pixels from the top-left corner of the <svg>. */
typedef struct { double x, y, w, h; } rp_box;

/* An axis maps u in [lo, hi] onto the plot box; u is the data value, or its
 * log10 on a log axis. Ticks sit at u = first + i*step up to last (for a log
 * axis, whole decades: step is a number of decades). */
typedef struct { double lo, hi, first, last, step; bool log; } rp_axis;

/* Okabe & Ito's 8 color-blind-safe colors as "#RRGGBB", strongest first. */
extern const char *const rp_palette[8];

/* open, text escaped, close: an element around caller text. */
void rp_wrap(FILE *f, const char *open, const char *text, const char *close);
/* Characters (code points) in UTF-8 s; 0 for NULL. */
int rp_utf8_chars(const char *s);
/* Content of a <text> element: s escaped, at most max characters (max >= 2);
 * longer text is clipped with "…" (keeping its end with keep_end, else its
 * start) and carries the whole text as a <title>. */
void rp_clipped_text(FILE *f, const char *s, int max, bool keep_end);
/* <text x y attrs>s</text>; attrs are raw SVG attributes (or ""). */
void rp_svg_text(FILE *f, double x, double y, const char *attrs, const char *s);
/* Opens an <svg> of w x h pixels with a white background and the title
 * (as <title> and drawn centred at the top; NULL: none). */
void rp_svg_open(FILE *f, int w, int h, const char *title);
/* WEFT_ERR_IO ("writing <what>: write error") when f has its error flag set. */
weft_status rp_io_status(FILE *f, const char *what);

/* About five ticks at 1, 2, 5 x 10^k for data in [lo, hi] (finite, lo <= hi);
 * extend widens the axis to whole steps, otherwise it stays [lo, hi]. */
rp_axis rp_linear_axis(double lo, double hi, bool extend);
/* Ticks, tick labels and (with grid) grid lines of a along the left side
 * (vertical) or the bottom of b. */
void rp_draw_axis(FILE *f, rp_box b, const rp_axis *a, bool vertical, bool grid);

#endif
