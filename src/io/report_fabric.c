/* report_fabric.c — fabric maps: a placed-and-routed dataflow fabric seen
 * from above, one panel per section of a plan.
 *
 * Each site is one element (a square for a compute unit, a rounded square for
 * a memory unit) filled by its category; each loaded link between
 * neighbouring sites is one short stroke in the gap between them, its width
 * and ink growing with its load, red and thicker over capacity; doors
 * (address generators to off-chip memory) are small triangles on the left and
 * right edges pointing into the fabric. The output is bounded by the grid
 * (at most FABRIC_MAX_SIDE on a side): sites + 4 links per site per panel,
 * whatever the caller's numbers.
 *
 * Links run "keep right", like traffic: a link heading east sits just below
 * the line joining the two sites and the one heading west just above it (a
 * link heading south sits left of the line, north right of it), so the two
 * directions between a pair of sites never overlap. */
#include "weft/report.h"
#include "io/report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FABRIC_MAX_SIDE 512     /* rows and columns: keeps the output bounded      */
#define FABRIC_MAX_PANELS 4096  /* keeps the height an int                         */
#define LEGEND_CHARS 24         /* longest legend entry, in characters             */
#define MAX_PITCH 28.0          /* site pitch on small grids, px                   */
#define MAX_GRID_H 640.0        /* tall grids shrink to fit this height            */
#define LINK_PITCH 6.0          /* below this pitch the gaps are too thin for links */
#define CAPTION_H 22.0          /* caption line above each panel's grid            */
#define PANEL_GAP 16.0          /* below each panel's grid                         */
#define DOOR_W 8.0              /* door triangles at most this deep and twice as tall */
#define DOOR_STACK 4            /* doors on one row of one side beyond this overlap */
#define UNUSED_FILL "#ececec"
#define UNUSED_STROKE "#c4c4c4"
#define OVER_RGB 0xE41A1Cu      /* over capacity: a red apart from the palette's vermilion */
#define DOOR_FILL "#555555"     /* doors without a load                            */

static const char *const dir_name[4] = { "N", "E", "S", "W" };
static const int dir_dr[4] = { -1, 0, 1, 0 }, dir_dc[4] = { 0, 1, 0, -1 };

typedef struct {
    const weft_svg_fabric_chart *c;
    const weft_svg_fabric_panel *p;
    int np;
    bool any_unused, any_memory, any_links, any_doors;
    int depth;                  /* most doors stacked on one row of one side (<= DOOR_STACK) */
    int per_row;                /* panels side by side                             */
    double W, slot_w, slot_h, margin;  /* svg width; one panel's slot; room for doors */
    double pitch, site;         /* site centre to centre, and a site's side, px    */
} fabric;

/* ---- colors -------------------------------------------------------------------- */

static unsigned hex_rgb(const char *s)
{
    return (unsigned)strtoul(s + 1, NULL, 16);
}

/* Each channel of rgb moved by t towards to (0x000000 or 0xffffff). */
static unsigned mix_rgb(unsigned rgb, unsigned to, double t)
{
    unsigned out = 0;
    for (int sh = 16; sh >= 0; sh -= 8) {
        double a = (rgb >> sh) & 0xff, b = (to >> sh) & 0xff;
        out |= (unsigned)lround(a + t * (b - a)) << sh;
    }
    return out;
}

/* Category k's fill: the caller's color, or the palette; with more than 8
 * categories, the second round of the palette is lighter and the third
 * darker, so that up to 24 categories keep distinct fills. */
static const char *category_color(const weft_svg_fabric_chart *c, int k, char buf[8])
{
    if (k < 0) return UNUSED_FILL;
    if (c->category_colors && c->category_colors[k]) return c->category_colors[k];
    int round = (k / 8) % 3;
    if (round == 0) return rp_palette[k];
    unsigned rgb = hex_rgb(rp_palette[k % 8]);
    if (round == 1) rgb = mix_rgb(rgb, 0xffffff, 0.5);
    if (round == 2) rgb = mix_rgb(rgb, 0x000000, 0.4);
    snprintf(buf, 8, "#%06x", rgb & 0xffffffu);
    return buf;
}

/* A link's or door's ink for load v (finite, > 0): pale grey at a trickle to
 * near black at full capacity, a perceptually plain sequential scale that
 * stays clear of the categories' hues; red above capacity. */
static unsigned load_rgb(double v)
{
    return v > 1 ? OVER_RGB : mix_rgb(0xd2d2d2, 0x141414, fmin(v, 1.0));
}

/* Stroke width of a link of load v at scale sc (1 on the largest pitch). */
static double load_width(double v, double sc)
{
    return sc * (v > 1 ? 3.6 : 0.7 + 2.1 * fmin(v, 1.0));
}

static const char *name_of(const char *const *names, int i, char buf[16])
{
    if (names && names[i]) return names[i];
    snprintf(buf, 16, "%d", i);
    return buf;
}

/* ---- checks -------------------------------------------------------------------- */

/* Every argument checked before a byte is written; also notes what the
 * legend needs to explain and how deep doors stack. */
static weft_status check(fabric *fb)
{
    const weft_svg_fabric_chart *c = fb->c;
    const char *title = c->title ? c->title : "";
    int rows = c->rows, cols = c->cols;
    size_t n = (size_t)rows * (size_t)cols;
    for (size_t i = 0; c->shape && i < n; i++)
        if (c->shape[i] > 1)
            return weft_fail(WEFT_ERR_ARG, "svg fabric \"%s\": site (%d, %d) has shape %d, not 0 or 1", title,
                             (int)(i / (size_t)cols), (int)(i % (size_t)cols), c->shape[i]);
        else fb->any_memory |= c->shape[i] == 1;
    for (int k = 0; k < fb->np; k++) {
        const weft_svg_fabric_panel *p = &fb->p[k];
        const char *cap = p->title ? p->title : "";
        if ((n > 0 && !p->category) || p->ndoors < 0 || (p->ndoors > 0 && (!p->door_row || !p->door_side)))
            return weft_fail(WEFT_ERR_ARG, "svg fabric \"%s\": panel %d (\"%s\") has %s and %d doors%s", title, k,
                             cap, p->category ? "categories" : "no categories", p->ndoors,
                             p->ndoors > 0 && (!p->door_row || !p->door_side) ? " without rows or sides" : "");
        for (size_t i = 0; i < n; i++) {
            int cat = p->category[i];
            if (cat < -1 || cat >= c->ncategories)
                return weft_fail(WEFT_ERR_ARG, "svg fabric \"%s\": panel %d (\"%s\") site (%d, %d) has category "
                                 "%d, outside -1..%d", title, k, cap, (int)(i / (size_t)cols),
                                 (int)(i % (size_t)cols), cat, c->ncategories - 1);
            fb->any_unused |= cat == -1;
        }
        fb->any_links |= p->link_load != NULL;
        fb->any_doors |= p->ndoors > 0;
        int stack[2][FABRIC_MAX_SIDE] = { { 0 } };
        for (int d = 0; d < p->ndoors; d++) {
            int r = p->door_row[d], side = p->door_side[d];
            if (r < 0 || r >= rows || (side != 0 && side != 1))
                return weft_fail(WEFT_ERR_ARG, "svg fabric \"%s\": panel %d (\"%s\") door %d is on row %d of "
                                 "side %d (rows 0..%d, sides 0 left and 1 right)", title, k, cap, d, r, side,
                                 rows - 1);
            int depth = ++stack[side][r];
            if (depth > fb->depth) fb->depth = depth < DOOR_STACK ? depth : DOOR_STACK;
        }
    }
    return WEFT_OK;
}

/* ---- layout -------------------------------------------------------------------- */

/* Pitch of sites with k panels side by side. */
static double pitch_for(const fabric *fb, int k)
{
    double slot = (fb->W - 20) / k;
    double p = fmin((slot - 2 * fb->margin - 8) / fb->c->cols, MAX_GRID_H / fb->c->rows);
    return fmin(p, MAX_PITCH);
}

/* Two panels side by side when there are two and their sites stay readable
 * (14 px, or as large as one panel per row would make them), else one per
 * row: wide grids stack, square and tall ones pair up. */
static void layout(fabric *fb)
{
    fb->margin = 6 + (fb->depth ? fb->depth : 1) * (DOOR_W + 1);
    double p1 = pitch_for(fb, 1), p2 = pitch_for(fb, 2);
    fb->per_row = fb->np >= 2 && p2 >= fmin(p1, 14.0) ? 2 : 1;
    fb->pitch = fb->per_row == 2 ? p2 : p1;
    /* sites leave a gap for the links where there is room, and touch (no
     * seams) where the pitch is only a pixel or two */
    double p = fb->pitch;
    fb->site = p >= LINK_PITCH ? 0.6 * p : p >= 3 ? 0.85 * p : p;
    fb->slot_w = (fb->W - 20) / fb->per_row;
    fb->slot_h = CAPTION_H + fb->c->rows * p + PANEL_GAP;
}

/* ---- legend -------------------------------------------------------------------- */

/* Moves the pen for an entry w px wide, wrapping at xmax; returns its x. */
static double flow(double *at, int *lines, double x, double xmax, double w)
{
    if (*at > x && *at + w > xmax) {
        *at = x;
        ++*lines;
    }
    double here = *at;
    *at += w;
    return here;
}

static double entry_w(const char *name)
{
    int n = rp_utf8_chars(name);
    return 14 + 6.2 * (n < LEGEND_CHARS ? n : LEGEND_CHARS) + 14;
}

static void legend_label(FILE *f, double x, double y, const char *name)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x, y + 9);
    rp_clipped_text(f, name, LEGEND_CHARS, false);
    fputs("</text>\n", f);
}

/* The legend from (x, y), wrapping at xmax: the categories (and "unused"),
 * then on a line of their own the shapes, doors and the link-load scale.
 * Returns the number of lines; draws only when draw is set. */
static int legend(FILE *f, const fabric *fb, double x, double y, double xmax, bool draw)
{
    const weft_svg_fabric_chart *c = fb->c;
    int lines = 1;
    double at = x;
    char buf[16], col[8];
    for (int k = 0; k <= c->ncategories; k++) {
        if (k == c->ncategories && !fb->any_unused) break;
        const char *name = k < c->ncategories ? name_of(c->category_names, k, buf) : "unused";
        double ex = flow(&at, &lines, x, xmax, entry_w(name)), ey = y + 16 * (lines - 1);
        if (!draw) continue;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"", ex, ey);
        weft_report_escape(f, category_color(c, k < c->ncategories ? k : -1, col));
        fputs(k < c->ncategories ? "\"/>\n" : "\" stroke=\"" UNUSED_STROKE "\"/>\n", f);
        legend_label(f, ex + 14, ey, name);
    }
    if (c->ncategories > 0 || fb->any_unused) {
        at = x;
        lines++;
    }

    /* the key: what shapes, triangles and strokes mean */
    static const char *const shapes[2] = { "compute unit", "memory unit" };
    for (int s = 0; s < 1 + fb->any_memory; s++) {
        double ex = flow(&at, &lines, x, xmax, entry_w(shapes[s])), ey = y + 16 * (lines - 1);
        if (!draw) continue;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\"%s fill=\"#fff\" stroke=\"#444\"/>\n",
                ex, ey, s ? " rx=\"3.5\"" : "");
        legend_label(f, ex + 14, ey, shapes[s]);
    }
    if (fb->any_doors) {
        double ex = flow(&at, &lines, x, xmax, entry_w("door (address generator)")), ey = y + 16 * (lines - 1);
        if (draw) {
            fprintf(f, "<path d=\"M%.1f %.1fl8 5l-8 5z\" fill=\"" DOOR_FILL "\"/>\n", ex + 1, ey);
            legend_label(f, ex + 14, ey, "door (address generator)");
        }
    }
    if (fb->any_links) {
        /* "link load 0", eight strokes of growing load, "1", a red stroke,
         * "over capacity" */
        double w = 6.2 * 11 + 8 * 10 + 6.2 * 2 + 28 + 6.2 * 13 + 10;
        double ex = flow(&at, &lines, x, xmax, w), ey = y + 16 * (lines - 1) + 5;
        if (draw) {
            rp_svg_text(f, ex, ey + 4, "", "link load 0");
            double sx = ex + 6.2 * 11 + 4;
            fputs("<g fill=\"none\">\n", f);
            for (int i = 0; i < 8; i++) {
                double v = (i + 1) / 8.0;
                fprintf(f, "<path d=\"M%.1f %.1fh9\" stroke=\"#%06x\" stroke-width=\"%.2f\"/>\n", sx + 10 * i, ey,
                        load_rgb(v), load_width(v, 1));
            }
            fprintf(f, "<path d=\"M%.1f %.1fh14\" stroke=\"#%06x\" stroke-width=\"%.2f\"/>\n", sx + 96, ey,
                    OVER_RGB, load_width(2, 1));
            fputs("</g>\n", f);
            rp_svg_text(f, sx + 82, ey + 4, "", "1");
            rp_svg_text(f, sx + 114, ey + 4, "", "over capacity");
        }
    }
    return lines;
}

/* ---- panels -------------------------------------------------------------------- */

/* Panel k in the slot whose top-left corner is (x0, y0). */
static void draw_panel(FILE *f, const fabric *fb, int k, double x0, double y0)
{
    const weft_svg_fabric_chart *c = fb->c;
    const weft_svg_fabric_panel *p = &fb->p[k];
    int rows = c->rows, cols = c->cols;
    double P = fb->pitch, S = fb->site, gw = cols * P, gh = rows * P;
    double gx = x0 + (fb->slot_w - gw) / 2, gy = y0 + CAPTION_H;
    char col[8];

    if (p->title) {
        int maxc = (int)(fb->slot_w / 7.2);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"bold\">",
                x0 + fb->slot_w / 2, y0 + 14);
        rp_clipped_text(f, p->title, maxc < 2 ? 2 : maxc, false);
        fputs("</text>\n", f);
    }
    /* the fabric's outline, so that its edge (where the doors are) shows */
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" stroke=\"#bbb\"/>\n",
            gx - 1.5, gy - 1.5, gw + 3, gh + 3);

    /* sites; with no gaps between them, crisp edges keep seams from showing */
    if (P >= LINK_PITCH) fputs("<g stroke=\"#666\" stroke-width=\"0.6\">\n", f);
    else fputs("<g shape-rendering=\"crispEdges\">\n", f);
    double inset = (P - S) / 2, rx = 0.35 * S;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) {
            size_t i = (size_t)r * (size_t)cols + (size_t)j;
            int cat = p->category[i];
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", gx + j * P + inset,
                    gy + r * P + inset, S, S);
            if (c->shape && c->shape[i]) fprintf(f, " rx=\"%.1f\"", rx);
            fputs(" fill=\"", f);
            weft_report_escape(f, category_color(c, cat, col));
            fputs(cat < 0 && P >= LINK_PITCH ? "\" stroke=\"" UNUSED_STROKE "\"" : "\"", f);
            const char *tip = p->tooltip ? p->tooltip[i] : NULL;
            if (tip) rp_wrap(f, "><title>", tip, "</title></rect>\n");
            else fputs("/>\n", f);
        }
    fputs("</g>\n", f);

    /* links: in the gap between two sites, offset to the right of their
     * heading; on a pitch too fine for gaps only the over-capacity ones,
     * from centre to centre, since those are what a reader looks for */
    if (p->link_load) {
        double sc = fmin(1.0, fmax(0.4, P / 24)), off = 0.14 * P;
        fputs("<g fill=\"none\">\n", f);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++)
                for (int d = 0; d < 4; d++) {
                    double v = p->link_load[((size_t)r * (size_t)cols + (size_t)j) * 4 + (size_t)d];
                    int r2 = r + dir_dr[d], j2 = j + dir_dc[d];
                    if (!(v > 0) || !isfinite(v) || r2 < 0 || r2 >= rows || j2 < 0 || j2 >= cols) continue;
                    if (P < LINK_PITCH && !(v > 1)) continue;
                    double cx = gx + (j + 0.5) * P, cy = gy + (r + 0.5) * P;
                    double from = P >= LINK_PITCH ? S / 2 : 0, len = P - 2 * from;
                    /* right of heading (dc, dr) in y-down screen space is (-dr, dc) */
                    double ox = P >= LINK_PITCH ? -dir_dr[d] * off : 0, oy = P >= LINK_PITCH ? dir_dc[d] * off : 0;
                    fprintf(f, "<path d=\"M%.1f %.1f%c%.1f\" stroke=\"#%06x\" stroke-width=\"%.2f\"><title>",
                            cx + dir_dc[d] * from + ox, cy + dir_dr[d] * from + oy, dir_dc[d] ? 'h' : 'v',
                            (dir_dc[d] + dir_dr[d]) * len, load_rgb(v),
                            P >= LINK_PITCH ? load_width(v, sc) : fmax(1.0, 0.8 * P));
                    fprintf(f, "(%d, %d) %s to (%d, %d): load %.3g%s</title></path>\n", r, j, dir_name[d], r2, j2,
                            v, v > 1 ? ", over capacity" : "");
                }
        fputs("</g>\n", f);
    }

    /* doors: triangles pointing into the fabric, a second door on the same
     * row and side further out */
    int stack[2][FABRIC_MAX_SIDE];
    memset(stack, 0, sizeof stack);
    double dw = fmin(DOOR_W, fmax(4.0, 0.7 * P)), dh = fmin(2 * DOOR_W, fmax(6.0, 0.8 * P));
    for (int d = 0; d < p->ndoors; d++) {
        int r = p->door_row[d], side = p->door_side[d];
        int depth = stack[side][r]++;
        depth = depth < DOOR_STACK ? depth : DOOR_STACK - 1;
        double v = p->door_load ? p->door_load[d] : NAN, cy = gy + (r + 0.5) * P;
        double tip = side == 0 ? gx - 3 - depth * (dw + 1) : gx + gw + 3 + depth * (dw + 1);
        double back = side == 0 ? -dw : dw;
        fprintf(f, "<path d=\"M%.1f %.1fl%.1f %.1fv%.1fz\" fill=\"", tip, cy, back, -dh / 2, dh);
        if (isfinite(v) && v > 0) fprintf(f, "#%06x\"", load_rgb(v));
        else fputs(DOOR_FILL "\"", f);
        fprintf(f, " stroke=\"#222\" stroke-width=\"0.5\"><title>door %d: %s edge, row %d", d,
                side == 0 ? "left" : "right", r);
        if (isfinite(v)) fprintf(f, ", load %.3g%s", v, v > 1 ? ", over capacity" : "");
        fputs("</title></path>\n", f);
    }
}

/* ---- the chart ------------------------------------------------------------------ */

weft_status weft_svg_fabric(FILE *f, const weft_svg_fabric_chart *c, const weft_svg_fabric_panel *panels,
                            int npanels)
{
    if (!f || !c || npanels < 0 || npanels > FABRIC_MAX_PANELS || (npanels > 0 && !panels) || c->rows < 0 ||
        c->cols < 0 || c->rows > FABRIC_MAX_SIDE || c->cols > FABRIC_MAX_SIDE || c->ncategories < 0)
        return weft_fail(WEFT_ERR_ARG, "svg fabric \"%s\": needs a file, a chart, and %d panels%s (at most %d) "
                         "of a %d x %d grid (at most %d x %d) with %d categories",
                         c && c->title ? c->title : "", npanels, npanels > 0 && !panels ? " at NULL" : "",
                         FABRIC_MAX_PANELS, c ? c->rows : 0, c ? c->cols : 0, FABRIC_MAX_SIDE, FABRIC_MAX_SIDE,
                         c ? c->ncategories : 0);
    fabric fb = { .c = c, .p = panels, .np = npanels };
    WEFT_TRY(check(&fb));
    if (npanels == 0 || c->rows == 0 || c->cols == 0) {
        rp_svg_open(f, 360, 120, c->title);
        rp_svg_text(f, 180, 74, "text-anchor=\"middle\" fill=\"#888\" font-size=\"13\"", "no data");
        fputs("</svg>\n", f);
        return rp_io_status(f, "an svg fabric map");
    }

    int W = c->width <= 0 ? 720 : c->width < 320 ? 320 : c->width > 20000 ? 20000 : c->width;
    fb.W = W;
    layout(&fb);
    double ly = c->title ? 34 : 12;
    int lines = legend(f, &fb, 10, ly, W - 10, false);
    double top = ly + 16 * lines + 8;
    int prow = (npanels + fb.per_row - 1) / fb.per_row;
    int H = (int)ceil(top + prow * fb.slot_h);

    rp_svg_open(f, W, H, c->title);
    legend(f, &fb, 10, ly, W - 10, true);
    for (int k = 0; k < npanels; k++)
        draw_panel(f, &fb, k, 10 + (k % fb.per_row) * fb.slot_w, top + (k / fb.per_row) * fb.slot_h);
    fputs("</svg>\n", f);
    return rp_io_status(f, "an svg fabric map");
}
