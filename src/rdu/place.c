/* place.c — puts every unit of a netlist on a slot of the fabric (weft/rdu.h).
 *
 * Slots. PCUs go on PCU sites, PMUs on PMU sites, AGs on address generators.
 * Internally one slot space covers all three: slot s < sites is the site s,
 * slot sites + a is address generator a. Every slot has a position, the
 * (row, col) of the switch its unit talks through (an AG's edge site), and
 * the cost of a placement is the rate-weighted wirelength
 *
 *     cost = sum over nets n of rate[n] * (|row[src] - row[dst]| + |col[src] - col[dst]|)
 *
 * which is what the router will later have to carry, link by link.
 *
 * GREEDY is constructive: units are taken in breadth-first order over the
 * nets, starting from the most connected unit (so a unit's neighbours are
 * mostly placed by the time it comes), and each goes on the free slot of its
 * kind nearest its target: the rate-weighted median of its placed neighbours'
 * positions, the point that minimises its own share of the cost (the median,
 * not the centroid, because the distance is Manhattan), or the grid centre
 * when none is placed yet. The nearest free site is found by walking rings of
 * growing Manhattan radius around the target, so a sparsely used fabric costs
 * a few probes per unit rather than a scan of every site.
 *
 * RANDOM shuffles each kind's slots (Fisher-Yates) and deals them out.
 *
 * ANNEAL is simulated annealing after VPR (Betz and Rose), started from the
 * greedy placement. A move picks a unit and a slot of its kind within a range
 * limit window of its position; it swaps with the slot's unit, or moves into
 * the slot when it is free. The cost delta is computed from the nets incident
 * to the one or two units that moved. Schedule:
 *   - initial temperature: the standard deviation of the deltas of random
 *     moves from the greedy placement, scaled down (T0_SCALE) because the
 *     start is already good and a full melt (VPR's 20 sigma, meant for a
 *     random start) would throw the greedy work away;
 *   - moves per temperature: INNER_NUM * units^(4/3), capped (MAX_PER_T);
 *   - after each temperature, with acceptance rate a, T is multiplied by
 *     0.5 (a > 0.96), 0.9 (a > 0.8), 0.95 (a > 0.15) or 0.8, and the range
 *     limit by (1 - 0.44 + a), clamped to [1, max(rows, cols)], which holds
 *     acceptance near 0.44, where VPR found progress fastest;
 *   - stop when T < EXIT_EPS * cost / nets, or when the move budget
 *     (MAX_MOVES) is spent, then quench (a pass at T = 0).
 * The best placement seen at the end of a temperature is kept, so annealing
 * never returns worse than the greedy start. Everything random comes from one
 * splitmix64 stream seeded by `seed`: the same seed gives the same placement
 * on the same build. */
#include "weft/rdu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define INNER_NUM 10.0
/* Measured on 1300 units, 5000 nets, 32 x 40: 60000 moves a temperature
 * (about 75 temperatures, 4.4M moves, ~1 s) come within 1.5% of the full
 * 10 n^(4/3) = 140000 (10M moves, ~2.7 s); a start at 0.2 sigma beats 0.5
 * and 2 sigma at equal moves, the greedy start being worth keeping. */
#define MAX_PER_T 60000      /* moves per temperature: bounds the time at ~1300 units */
#define MAX_MOVES 8000000    /* all temperatures together, quench excluded: a backstop */
#define T0_SCALE 0.2         /* initial T in standard deviations of a random move's delta */
#define EXIT_EPS 0.005
#define WINDOW_TRIES 8       /* draws for a slot of the right kind in the window     */

/* ---- a small deterministic generator (splitmix64) --------------------------------- */
typedef struct { uint64_t s; } prng;

static uint64_t prng_next(prng *p)
{
    uint64_t z = (p->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) by multiply-shift; the bias (n / 2^32) is immaterial here. */
static int prng_below(prng *p, int n) { return (int)(((prng_next(p) >> 32) * (uint64_t)n) >> 32); }
static double prng_unit(prng *p) { return (double)(prng_next(p) >> 11) * 0x1.0p-53; }

/* ---- the state ------------------------------------------------------------------ */
typedef struct {
    const weft_fabric *f;
    const weft_netlist *nl;
    int n, sites, nslots;
    int *srow, *scol;      /* nslots: the slot's switch position                 */
    int *occ;              /* nslots: its unit, or -1                            */
    int *slot;             /* n: the unit's slot                                 */
    int *row, *col;        /* n: its position (srow/scol of its slot, cached)    */
    int *afirst, *adj;     /* n + 1 / 2 * nnets: the nets incident to each unit  */
} pstate;

static const char *kind_name(weft_unit_kind k)
{
    return k == WEFT_UNIT_PCU ? "PCU" : k == WEFT_UNIT_PMU ? "PMU" : "AG";
}

static bool slot_fits(const pstate *ps, weft_unit_kind k, int s)
{
    if (k == WEFT_UNIT_AG) return s >= ps->sites;
    weft_site_kind want = k == WEFT_UNIT_PCU ? WEFT_SITE_PCU : WEFT_SITE_PMU;
    return s < ps->sites && weft_fabric_site_kind(ps->f, s) == want;
}

static void put(pstate *ps, int u, int s)
{
    ps->slot[u] = s;
    ps->occ[s] = u;
    ps->row[u] = ps->srow[s];
    ps->col[u] = ps->scol[s];
}

static double net_cost(const pstate *ps, int e)
{
    int a = ps->nl->src[e], b = ps->nl->dst[e];
    return ps->nl->rate[e] * (double)(abs(ps->row[a] - ps->row[b]) + abs(ps->col[a] - ps->col[b]));
}

static double total_cost(const pstate *ps)
{
    double c = 0;
    for (int e = 0; e < ps->nl->nnets; e++) c += net_cost(ps, e);
    return c;
}

static void pstate_free(pstate *ps)
{
    free(ps->srow); free(ps->scol); free(ps->occ); free(ps->slot);
    free(ps->row); free(ps->col); free(ps->afirst); free(ps->adj);
}

static weft_status check_inputs(const weft_fabric *f, const weft_netlist *nl, const int *out)
{
    if (!f || !nl || !out) return weft_fail(WEFT_ERR_ARG, "place: NULL fabric, netlist or output");
    if (f->rows < 1 || f->cols < 1 || f->ags < 0)
        return weft_fail(WEFT_ERR_ARG, "place: fabric %s has %d x %d sites and %d AGs", f->name, f->rows,
                         f->cols, f->ags);
    if (nl->nunits < 0 || nl->nnets < 0 || (nl->nunits && !nl->kind) ||
        (nl->nnets && (!nl->src || !nl->dst || !nl->rate)))
        return weft_fail(WEFT_ERR_ARG, "place: malformed netlist (%d units, %d nets)", nl->nunits, nl->nnets);
    for (int u = 0; u < nl->nunits; u++)
        if (nl->kind[u] != WEFT_UNIT_PCU && nl->kind[u] != WEFT_UNIT_PMU && nl->kind[u] != WEFT_UNIT_AG)
            return weft_fail(WEFT_ERR_ARG, "place: unit %d has unknown kind %d", u, (int)nl->kind[u]);
    for (int e = 0; e < nl->nnets; e++) {
        if (nl->src[e] < 0 || nl->src[e] >= nl->nunits || nl->dst[e] < 0 || nl->dst[e] >= nl->nunits)
            return weft_fail(WEFT_ERR_ARG, "place: net %d joins units %d and %d of %d", e, nl->src[e],
                             nl->dst[e], nl->nunits);
        if (!(nl->rate[e] >= 0) || !isfinite(nl->rate[e]))
            return weft_fail(WEFT_ERR_ARG, "place: net %d has rate %g", e, nl->rate[e]);
    }
    /* enough slots of every kind */
    int have[3] = {weft_fabric_count(f, WEFT_SITE_PCU), weft_fabric_count(f, WEFT_SITE_PMU), f->ags};
    int need[3] = {0, 0, 0};
    for (int u = 0; u < nl->nunits; u++) need[nl->kind[u]]++;
    for (int k = 0; k < 3; k++)
        if (need[k] > have[k])
            return weft_fail(WEFT_ERR_ARG, "place: %d %s units but fabric %s has only %d %s slots", need[k],
                             kind_name((weft_unit_kind)k), f->name, have[k], kind_name((weft_unit_kind)k));
    return WEFT_OK;
}

static weft_status pstate_init(pstate *ps, const weft_fabric *f, const weft_netlist *nl)
{
    memset(ps, 0, sizeof *ps);
    ps->f = f;
    ps->nl = nl;
    ps->n = nl->nunits;
    ps->sites = weft_fabric_sites(f);
    ps->nslots = ps->sites + f->ags;
    size_t ns = (size_t)ps->nslots, nu = (size_t)ps->n + 1;
    ps->srow = malloc(ns * sizeof(int));
    ps->scol = malloc(ns * sizeof(int));
    ps->occ = malloc(ns * sizeof(int));
    ps->slot = malloc(nu * sizeof(int));
    ps->row = malloc(nu * sizeof(int));
    ps->col = malloc(nu * sizeof(int));
    ps->afirst = calloc(nu + 1, sizeof(int));
    ps->adj = malloc((2 * (size_t)nl->nnets + 1) * sizeof(int));
    if (!ps->srow || !ps->scol || !ps->occ || !ps->slot || !ps->row || !ps->col || !ps->afirst || !ps->adj) {
        pstate_free(ps);
        return weft_fail(WEFT_ERR_NOMEM, "place: out of memory (%d units, %d nets)", nl->nunits, nl->nnets);
    }
    for (int s = 0; s < ps->nslots; s++) {
        int site = s < ps->sites ? s : weft_fabric_ag_site(f, s - ps->sites);
        ps->srow[s] = site / f->cols;
        ps->scol[s] = site % f->cols;
        ps->occ[s] = -1;
    }
    for (int u = 0; u < ps->n; u++) ps->slot[u] = -1;
    /* unit -> incident nets, CSR; a net from a unit to itself is listed once
     * (its length is always 0, it never changes a delta) */
    for (int e = 0; e < nl->nnets; e++) {
        ps->afirst[nl->src[e] + 1]++;
        if (nl->dst[e] != nl->src[e]) ps->afirst[nl->dst[e] + 1]++;
    }
    for (int u = 0; u < ps->n; u++) ps->afirst[u + 1] += ps->afirst[u];
    int *fill = ps->slot;   /* borrowed as a cursor; reset below */
    for (int u = 0; u < ps->n; u++) fill[u] = ps->afirst[u];
    for (int e = 0; e < nl->nnets; e++) {
        ps->adj[fill[nl->src[e]]++] = e;
        if (nl->dst[e] != nl->src[e]) ps->adj[fill[nl->dst[e]]++] = e;
    }
    for (int u = 0; u < ps->n; u++) ps->slot[u] = -1;
    return WEFT_OK;
}

/* ---- greedy -------------------------------------------------------------------- */
typedef struct { int x; double w; } wpt;

static int wpt_cmp(const void *a, const void *b)
{
    const wpt *p = a, *q = b;
    return (p->x > q->x) - (p->x < q->x);
}

/* The weighted median of pts[0..n) (sorted here): the x minimising sum w |x - xi|. */
static int weighted_median(wpt *pts, int n, double wsum)
{
    qsort(pts, (size_t)n, sizeof *pts, wpt_cmp);
    double acc = 0;
    for (int i = 0; i < n; i++) {
        acc += pts[i].w;
        if (2 * acc >= wsum) return pts[i].x;
    }
    return pts[n - 1].x;
}

/* The free slot for a unit of kind k nearest (tr, tc); -1 when none (the
 * caller counted slots, so that is a bug). */
static int nearest_free(const pstate *ps, weft_unit_kind k, int tr, int tc)
{
    const weft_fabric *f = ps->f;
    if (k == WEFT_UNIT_AG) {
        int best = -1, bd = 0;
        for (int s = ps->sites; s < ps->nslots; s++) {
            int d = abs(ps->srow[s] - tr) + abs(ps->scol[s] - tc);
            if (ps->occ[s] < 0 && (best < 0 || d < bd)) { best = s; bd = d; }
        }
        return best;
    }
    for (int d = 0; d <= f->rows + f->cols; d++)
        for (int dr = -d; dr <= d; dr++) {
            int r = tr + dr, rem = d - abs(dr);
            if (r < 0 || r >= f->rows) continue;
            for (int side = 0; side < (rem ? 2 : 1); side++) {
                int c = side ? tc + rem : tc - rem;
                if (c < 0 || c >= f->cols) continue;
                int s = r * f->cols + c;
                if (ps->occ[s] < 0 && slot_fits(ps, k, s)) return s;
            }
        }
    return -1;
}

static weft_status place_greedy(pstate *ps)
{
    const weft_netlist *nl = ps->nl;
    int n = ps->n;
    int *seeds = malloc(((size_t)n + 1) * sizeof(int));
    int *queue = malloc(((size_t)n + 1) * sizeof(int));
    char *seen = calloc((size_t)n + 1, 1);
    int maxdeg = 0;
    for (int u = 0; u < n; u++)
        if (ps->afirst[u + 1] - ps->afirst[u] > maxdeg) maxdeg = ps->afirst[u + 1] - ps->afirst[u];
    wpt *rp = malloc(((size_t)maxdeg + 1) * sizeof *rp), *cp = malloc(((size_t)maxdeg + 1) * sizeof *cp);
    if (!seeds || !queue || !seen || !rp || !cp) {
        free(seeds); free(queue); free(seen); free(rp); free(cp);
        return weft_fail(WEFT_ERR_NOMEM, "place: out of memory (greedy, %d units)", n);
    }
    /* seeds by connections, most first, ties by index: a counting sort */
    int *cnt = calloc((size_t)maxdeg + 2, sizeof(int));
    if (!cnt) {
        free(seeds); free(queue); free(seen); free(rp); free(cp);
        return weft_fail(WEFT_ERR_NOMEM, "place: out of memory (greedy, %d units)", n);
    }
    for (int u = 0; u < n; u++) cnt[maxdeg - (ps->afirst[u + 1] - ps->afirst[u]) + 1]++;
    for (int d = 0; d <= maxdeg; d++) cnt[d + 1] += cnt[d];
    for (int u = 0; u < n; u++) seeds[cnt[maxdeg - (ps->afirst[u + 1] - ps->afirst[u])]++] = u;
    free(cnt);

    weft_status st = WEFT_OK;
    int head = 0, tail = 0;
    for (int si = 0; si < n && st == WEFT_OK; si++) {
        if (seen[seeds[si]]) continue;
        seen[seeds[si]] = 1;
        queue[tail++] = seeds[si];
        while (head < tail) {
            int u = queue[head++];
            int m = 0;
            double wsum = 0;
            for (int i = ps->afirst[u]; i < ps->afirst[u + 1]; i++) {
                int e = ps->adj[i], v = nl->src[e] == u ? nl->dst[e] : nl->src[e];
                if (!seen[v]) { seen[v] = 1; queue[tail++] = v; }
                if (v == u || ps->slot[v] < 0) continue;
                rp[m] = (wpt){ps->row[v], nl->rate[e]};
                cp[m] = (wpt){ps->col[v], nl->rate[e]};
                wsum += nl->rate[e];
                m++;
            }
            /* rate-0 nets still pull: weigh them all alike when all are 0 */
            if (m && !(wsum > 0)) {
                for (int i = 0; i < m; i++) rp[i].w = cp[i].w = 1;
                wsum = m;
            }
            int tr = m ? weighted_median(rp, m, wsum) : ps->f->rows / 2;
            int tc = m ? weighted_median(cp, m, wsum) : ps->f->cols / 2;
            int s = nearest_free(ps, nl->kind[u], tr, tc);
            if (s < 0) {
                st = weft_fail(WEFT_ERR_INTERNAL, "place: no free %s slot for unit %d", kind_name(nl->kind[u]), u);
                break;
            }
            put(ps, u, s);
        }
    }
    free(seeds); free(queue); free(seen); free(rp); free(cp);
    return st;
}

/* ---- random -------------------------------------------------------------------- */
static weft_status place_random(pstate *ps, uint64_t seed)
{
    int *pool = malloc(((size_t)ps->nslots + 1) * sizeof(int));
    if (!pool) return weft_fail(WEFT_ERR_NOMEM, "place: out of memory (random)");
    prng g = {seed ^ 0x52414e444f4dull};
    for (int k = 0; k < 3; k++) {
        int m = 0;
        for (int s = 0; s < ps->nslots; s++)
            if (slot_fits(ps, (weft_unit_kind)k, s)) pool[m++] = s;
        for (int i = m - 1; i > 0; i--) {
            int j = prng_below(&g, i + 1), t = pool[i];
            pool[i] = pool[j];
            pool[j] = t;
        }
        int next = 0;
        for (int u = 0; u < ps->n; u++)
            if ((int)ps->nl->kind[u] == k) put(ps, u, pool[next++]);
    }
    free(pool);
    return WEFT_OK;
}

/* ---- annealing ----------------------------------------------------------------- */
typedef struct {
    pstate *ps;
    prng g;
    const int *movable;    /* units with nets and another slot of their kind: moving
                              any other changes nothing                          */
    int nmov;
} annealer;

/* The cost of the nets of u, and of v's nets not shared with u. */
static double local_cost(const pstate *ps, int u, int v)
{
    const weft_netlist *nl = ps->nl;
    double c = 0;
    for (int i = ps->afirst[u]; i < ps->afirst[u + 1]; i++) c += net_cost(ps, ps->adj[i]);
    if (v >= 0)
        for (int i = ps->afirst[v]; i < ps->afirst[v + 1]; i++) {
            int e = ps->adj[i];
            if (nl->src[e] != u && nl->dst[e] != u) c += net_cost(ps, e);
        }
    return c;
}

/* A slot of u's kind within rlim of u other than its own, or -1. */
static int pick_target(annealer *a, int u, int rlim)
{
    pstate *ps = a->ps;
    const weft_fabric *f = ps->f;
    weft_unit_kind k = ps->nl->kind[u];
    int r = ps->row[u], c = ps->col[u];
    for (int t = 0; t < WINDOW_TRIES; t++) {
        int s;
        if (k == WEFT_UNIT_AG) {
            s = ps->sites + prng_below(&a->g, f->ags);
            if (abs(ps->srow[s] - r) > rlim || abs(ps->scol[s] - c) > rlim) continue;
        } else {
            int r0 = r - rlim < 0 ? 0 : r - rlim, r1 = r + rlim >= f->rows ? f->rows - 1 : r + rlim;
            int c0 = c - rlim < 0 ? 0 : c - rlim, c1 = c + rlim >= f->cols ? f->cols - 1 : c + rlim;
            s = (r0 + prng_below(&a->g, r1 - r0 + 1)) * f->cols + c0 + prng_below(&a->g, c1 - c0 + 1);
            if (!slot_fits(ps, k, s)) continue;
        }
        if (s != ps->slot[u]) return s;
    }
    return -1;
}

/* Moves u to slot `to`, swapping with the unit there (returned in *v, -1
 * when the slot was free); returns the change in cost. */
static double do_move(pstate *ps, int u, int to, int *v)
{
    int from = ps->slot[u];
    *v = ps->occ[to];
    double before = local_cost(ps, u, *v);
    ps->occ[from] = -1;
    put(ps, u, to);
    if (*v >= 0) put(ps, *v, from);
    return local_cost(ps, u, *v) - before;
}

/* Undoes do_move(ps, u, to, &v) of u from `from`. */
static void undo_move(pstate *ps, int u, int from, int to, int v)
{
    put(ps, u, from);
    if (v >= 0) put(ps, v, to);
    else ps->occ[to] = -1;
}

/* Proposes one move at temperature T (T <= 0: only moves that do not
 * worsen) and keeps or undoes it: 1 accepted, 0 undone, -1 no slot found. */
static int try_move(annealer *a, double T, int rlim)
{
    pstate *ps = a->ps;
    int u = a->movable[prng_below(&a->g, a->nmov)];
    int to = pick_target(a, u, rlim);
    if (to < 0) return -1;
    int from = ps->slot[u], v;
    double d = do_move(ps, u, to, &v);
    if (d <= 0 || (T > 0 && prng_unit(&a->g) < exp(-d / T))) return 1;
    undo_move(ps, u, from, to, v);
    return 0;
}

static weft_status place_anneal(pstate *ps, uint64_t seed, weft_place_stats *st)
{
    const weft_netlist *nl = ps->nl;
    const weft_fabric *f = ps->f;
    int have[3] = {0, 0, f->ags};
    for (int s = 0; s < ps->sites; s++) have[weft_fabric_site_kind(f, s) == WEFT_SITE_PCU ? 0 : 1]++;
    int *movable = malloc(((size_t)ps->n + 1) * sizeof(int));
    int *best = malloc(((size_t)ps->n + 1) * sizeof(int));
    if (!movable || !best) {
        free(movable); free(best);
        return weft_fail(WEFT_ERR_NOMEM, "place: out of memory (anneal)");
    }
    annealer a = {ps, {seed ^ 0x414e4e45414cull}, movable, 0};
    for (int u = 0; u < ps->n; u++)
        if (have[nl->kind[u]] > 1 && ps->afirst[u + 1] > ps->afirst[u]) movable[a.nmov++] = u;
    double cost = total_cost(ps);
    if (a.nmov == 0 || nl->nnets == 0 || cost <= 0) {
        free(movable); free(best);
        st->cost = cost;
        return WEFT_OK;
    }
    int maxdim = f->rows > f->cols ? f->rows : f->cols;
    double rlim = maxdim;
    double per_t = INNER_NUM * pow((double)a.nmov, 4.0 / 3.0);
    int64_t moves_per_t = per_t > MAX_PER_T ? MAX_PER_T : per_t < 64 ? 64 : (int64_t)per_t;

    /* initial temperature: the spread of random moves' deltas, each undone */
    int ninit = a.nmov < 64 ? 64 : a.nmov > 4096 ? 4096 : a.nmov;
    double s1 = 0, s2 = 0;
    int got = 0;
    for (int i = 0; i < ninit; i++) {
        int u = a.movable[prng_below(&a.g, a.nmov)], to = pick_target(&a, u, (int)rlim), from = ps->slot[u], v;
        if (to < 0) continue;
        double d = do_move(ps, u, to, &v);
        undo_move(ps, u, from, to, v);
        s1 += d;
        s2 += d * d;
        got++;
    }
    double sigma = got > 1 ? sqrt(fmax(0, (s2 - s1 * s1 / got) / (got - 1))) : 0;
    double T = T0_SCALE * sigma;

    double best_cost = cost;
    memcpy(best, ps->slot, (size_t)ps->n * sizeof(int));
    int64_t moves = 0, accepted = 0;
    while (T > 0 && moves < MAX_MOVES) {
        int64_t tried = 0, acc = 0;
        for (int64_t m = 0; m < moves_per_t; m++) {
            int r = try_move(&a, T, (int)rlim);
            if (r < 0) continue;
            tried++;
            acc += r;
        }
        moves += tried;
        accepted += acc;
        cost = total_cost(ps);   /* exact, so rounding never accumulates */
        if (cost < best_cost) {
            best_cost = cost;
            memcpy(best, ps->slot, (size_t)ps->n * sizeof(int));
        }
        double alpha = tried ? (double)acc / (double)tried : 0;
        T *= alpha > 0.96 ? 0.5 : alpha > 0.8 ? 0.9 : alpha > 0.15 ? 0.95 : 0.8;
        rlim *= 1.0 - 0.44 + alpha;
        rlim = rlim < 1 ? 1 : rlim > maxdim ? maxdim : rlim;
        if (T < EXIT_EPS * cost / nl->nnets) break;
    }
    /* quench: only moves that do not worsen */
    for (int64_t m = 0; m < moves_per_t; m++) {
        int r = try_move(&a, 0, (int)rlim);
        if (r < 0) continue;
        moves++;
        accepted += r;
    }
    cost = total_cost(ps);
    if (best_cost < cost) {
        for (int s = 0; s < ps->nslots; s++) ps->occ[s] = -1;
        for (int u = 0; u < ps->n; u++) put(ps, u, best[u]);
        cost = best_cost;
    }
    st->moves = moves;
    st->accepted = accepted;
    st->cost = cost;
    free(movable); free(best);
    return WEFT_OK;
}

weft_status weft_place(const weft_fabric *f, const weft_netlist *nl, weft_place_method m, uint64_t seed,
                       int *out, weft_place_stats *st)
{
    weft_place_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    double t0 = weft_now();
    WEFT_TRY(check_inputs(f, nl, out));
    if (m != WEFT_PLACE_ANNEAL && m != WEFT_PLACE_GREEDY && m != WEFT_PLACE_RANDOM)
        return weft_fail(WEFT_ERR_ARG, "place: unknown method %d", (int)m);
    pstate ps;
    WEFT_TRY(pstate_init(&ps, f, nl));
    weft_status s = m == WEFT_PLACE_RANDOM ? place_random(&ps, seed) : place_greedy(&ps);
    if (s == WEFT_OK) {
        st->cost_start = st->cost = total_cost(&ps);
        if (m == WEFT_PLACE_ANNEAL) s = place_anneal(&ps, seed, st);
    }
    if (s == WEFT_OK)
        for (int u = 0; u < ps.n; u++) out[u] = ps.slot[u] < ps.sites ? ps.slot[u] : ps.slot[u] - ps.sites;
    pstate_free(&ps);
    st->seconds = weft_now() - t0;
    return s;
}
