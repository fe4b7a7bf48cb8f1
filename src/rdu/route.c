/* route.c — routes every net over the vector network (weft/rdu.h).
 *
 * The graph: a switch at every site, a directed link from each switch to each
 * neighbour (id site * 4 + dir), each carrying at most cap = vec_links
 * vectors per cycle. A net runs from its source unit's switch to its
 * destination's; when both share a switch its path is empty.
 *
 * PathFinder (McMurchie and Ebeling) negotiated congestion. The first round
 * routes every net; each later one rips up and reroutes the nets that cross
 * a link over capacity (see reroute), in a fixed order (highest rate first,
 * so the heavy streams claim the short paths and the light ones detour),
 * each by A* over links priced
 *
 *     cost(l) = (1 + hist[l]) * (1 + pres_fac * over(l)),
 *     over(l) = max(0, load[l] + rate - cap) / cap,
 *
 * where load[l] is what the other nets put on l now and rate is the net's
 * own. The present term makes a net avoid links that it would push over
 * capacity, in proportion to by how much; pres_fac is 0 in the first round
 * (plain shortest paths: see where demand falls) and grows by PRES_MULT every
 * round after, so nets that cannot agree are pushed harder and harder. The
 * history term remembers, across rounds, the links that stayed over capacity
 * (hist[l] += HIST_FAC * overflow / cap after each round) so that the
 * negotiation does not oscillate between the same two bad choices.
 *
 * Rounds stop when no link exceeds its capacity, after max_iter, or after
 * STALL_ROUNDS rounds without progress: a placement whose demand across some
 * cut exceeds the cut's links cannot be routed legally, and negotiating on
 * only spends time. What is returned is the best round seen (least worst
 * use, then least total excess): the one the section would run fastest on.
 *
 * A search stays within the box of its two ends grown by BOX_MARGIN rows and
 * columns (VPR's bounding-box factor): detours farther out are rarely worth
 * it, and it bounds the work a congested round does per net.
 *
 * Every cost is at least 1 a hop, so the Manhattan distance to the
 * destination is an admissible and consistent A* heuristic; the search stops
 * when the destination is popped. Ties in f go to the smaller heuristic (the
 * deeper node), which on an uncongested grid walks straight to the target
 * instead of flooding the rectangle between the ends. All search arrays are
 * allocated once and invalidated per search by a stamp. */
#include "weft/rdu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ITERS 50
#define BOX_MARGIN 3         /* rows and columns a search may stray beyond the ends' box */
#define PRES_FIRST 0.5       /* pres_fac in the second round                   */
#define PRES_MULT 1.8        /* and its growth per round after                 */
#define PRES_MAX 1e9         /* keeps costs finite however long negotiation goes */
#define HIST_FAC 1.0
#define OVER_EPS 1e-9        /* load above cap + OVER_EPS is over capacity       */
#define STALL_ROUNDS 10      /* rounds without progress before giving up         */
#define STALL_GAIN 0.01      /* progress: the excess down by this fraction        */

/* ---- a binary min-heap on (f, h) -------------------------------------------------- */
typedef struct { double f; int h, site; } hent;

static bool hless(const hent *a, const hent *b) { return a->f < b->f || (a->f == b->f && a->h < b->h); }

static void heap_push(hent *hp, int *n, hent e)
{
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!hless(&e, &hp[p])) break;
        hp[i] = hp[p];
        i = p;
    }
    hp[i] = e;
}

static hent heap_pop(hent *hp, int *n)
{
    hent top = hp[0], last = hp[--(*n)];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && hless(&hp[c + 1], &hp[c])) c++;
        if (!hless(&hp[c], &last)) break;
        hp[i] = hp[c];
        i = c;
    }
    hp[i] = last;
    return top;
}

/* ---- the router's state -------------------------------------------------------------- */
typedef struct {
    const weft_fabric *f;
    const weft_netlist *nl;
    int S, L, cols;
    double cap, pres_fac;
    int *ldest;              /* L: the site each link leads to, -1 off the grid   */
    double *hist, *load;     /* L                                                   */
    int *from, *to;          /* nnets: switch sites                                 */
    int *order;              /* nnets: routing order                                */
    /* paths: net n's links are buf[cur][off[n] .. off[n] + len[n]) */
    int *buf[2];
    size_t bcap[2], bused[2];
    size_t *off;
    int *len;
    int cur;
    /* search scratch: g and prev valid where stamp[site] == now, a site
     * settled where closed[site] == now */
    double *g;
    int *prev;               /* the link a site was reached by                       */
    unsigned *stamp, *closed, now;
    hent *heap;
    int *tmp;                /* S: a path being reversed                             */
    char *hot;               /* L: over capacity as the round began                  */
    int *srow, *scol;        /* S: a site's row and column                           */
    int margin;              /* a search stays within the ends' box grown by this    */
} router;

static void router_free(router *rt)
{
    free(rt->ldest); free(rt->hist); free(rt->load); free(rt->from); free(rt->to); free(rt->order);
    free(rt->buf[0]); free(rt->buf[1]); free(rt->off); free(rt->len);
    free(rt->g); free(rt->prev); free(rt->stamp); free(rt->closed); free(rt->heap);
    free(rt->tmp); free(rt->hot); free(rt->srow); free(rt->scol);
}

typedef struct { double rate; int net; } rkey;

/* Highest rate first, then by net id: a total order, so qsort is deterministic. */
static int by_rate(const void *a, const void *b)
{
    const rkey *p = a, *q = b;
    if (p->rate != q->rate) return p->rate > q->rate ? -1 : 1;
    return (p->net > q->net) - (p->net < q->net);
}

/* Room for m more links in path buffer b. */
static weft_status grow(router *rt, int b, size_t m)
{
    if (rt->bused[b] + m <= rt->bcap[b]) return WEFT_OK;
    size_t nc = rt->bcap[b] * 2 + m;
    int *p = realloc(rt->buf[b], nc * sizeof(int));
    if (!p) return weft_fail(WEFT_ERR_NOMEM, "route: out of memory (paths)");
    rt->buf[b] = p;
    rt->bcap[b] = nc;
    return WEFT_OK;
}

/* A* for one net from s to t carrying `rate`; appends its links (source to
 * destination) to buf[1 - cur]. */
static weft_status route_net(router *rt, int s, int t, double rate, size_t *at, int *n)
{
    int nb = 1 - rt->cur, cols = rt->cols;
    *at = rt->bused[nb];
    *n = 0;
    if (s == t) return WEFT_OK;
    if (++rt->now == 0) {   /* the stamp wrapped: clear so old marks cannot match */
        memset(rt->stamp, 0, (size_t)rt->S * sizeof(unsigned));
        memset(rt->closed, 0, (size_t)rt->S * sizeof(unsigned));
        rt->now = 1;
    }
    unsigned now = rt->now;
    int sr = s / cols, sc = s % cols, tr = t / cols, tc = t % cols, nh = 0, m = rt->margin;
    int r0 = (sr < tr ? sr : tr) - m, r1 = (sr > tr ? sr : tr) + m;
    int c0 = (sc < tc ? sc : tc) - m, c1 = (sc > tc ? sc : tc) + m;
    double cap = rt->cap, pf = rt->pres_fac;
    rt->g[s] = 0;
    rt->stamp[s] = now;
    heap_push(rt->heap, &nh, (hent){abs(sr - tr) + abs(sc - tc), abs(sr - tr) + abs(sc - tc), s});
    bool found = false;
    while (nh > 0) {
        hent e = heap_pop(rt->heap, &nh);
        int v = e.site;
        if (rt->closed[v] == now) continue;
        rt->closed[v] = now;
        if (v == t) { found = true; break; }
        for (int d = 0; d < 4; d++) {
            int l = v * 4 + d, w = rt->ldest[l];
            if (w < 0 || rt->closed[w] == now) continue;
            int wr = rt->srow[w], wc = rt->scol[w];
            if (wr < r0 || wr > r1 || wc < c0 || wc > c1) continue;
            double over = rt->load[l] + rate - cap;
            double c = (1 + rt->hist[l]) * (over > 0 ? 1 + pf * over / cap : 1);
            double ng = rt->g[v] + c;
            if (rt->stamp[w] != now || ng < rt->g[w]) {
                rt->stamp[w] = now;
                rt->g[w] = ng;
                rt->prev[w] = l;
                int h = abs(wr - tr) + abs(wc - tc);
                heap_push(rt->heap, &nh, (hent){ng + h, h, w});
            }
        }
    }
    if (!found) return weft_fail(WEFT_ERR_INTERNAL, "route: no path from site %d to site %d", s, t);
    m = 0;
    for (int v = t; v != s; v = rt->prev[v] / 4) rt->tmp[m++] = rt->prev[v];
    WEFT_TRY(grow(rt, nb, (size_t)m));
    for (int i = 0; i < m; i++) rt->buf[nb][rt->bused[nb] + (size_t)i] = rt->tmp[m - 1 - i];
    rt->bused[nb] += (size_t)m;
    *n = m;
    return WEFT_OK;
}

/* Loads from the current paths, exactly (no rounding drift from rip-ups). */
static void recount(router *rt)
{
    memset(rt->load, 0, (size_t)rt->L * sizeof(double));
    for (int e = 0; e < rt->nl->nnets; e++)
        for (int i = 0; i < rt->len[e]; i++)
            rt->load[rt->buf[rt->cur][rt->off[e] + (size_t)i]] += rt->nl->rate[e];
}

static weft_status check_inputs(const weft_fabric *f, const weft_netlist *nl, const int *place, weft_routes *r)
{
    if (!f || !nl || !place || !r)
        return weft_fail(WEFT_ERR_ARG, "route: NULL fabric, netlist, placement or output");
    if (f->rows < 1 || f->cols < 1 || f->vec_links < 1)
        return weft_fail(WEFT_ERR_ARG, "route: fabric %s has %d x %d sites and vec_links %d", f->name, f->rows,
                         f->cols, f->vec_links);
    if (nl->nunits < 0 || nl->nnets < 0 || (nl->nunits && !nl->kind) ||
        (nl->nnets && (!nl->src || !nl->dst || !nl->rate)))
        return weft_fail(WEFT_ERR_ARG, "route: malformed netlist (%d units, %d nets)", nl->nunits, nl->nnets);
    for (int u = 0; u < nl->nunits; u++) {
        weft_unit_kind k = nl->kind[u];
        bool ok = k == WEFT_UNIT_AG ? place[u] >= 0 && place[u] < f->ags
                : (k == WEFT_UNIT_PCU || k == WEFT_UNIT_PMU) && place[u] >= 0 && place[u] < weft_fabric_sites(f) &&
                  weft_fabric_site_kind(f, place[u]) == (k == WEFT_UNIT_PCU ? WEFT_SITE_PCU : WEFT_SITE_PMU);
        if (!ok) return weft_fail(WEFT_ERR_ARG, "route: unit %d (kind %d) placed on slot %d, not a slot of its kind",
                                  u, (int)k, place[u]);
    }
    for (int e = 0; e < nl->nnets; e++) {
        if (nl->src[e] < 0 || nl->src[e] >= nl->nunits || nl->dst[e] < 0 || nl->dst[e] >= nl->nunits)
            return weft_fail(WEFT_ERR_ARG, "route: net %d joins units %d and %d of %d", e, nl->src[e], nl->dst[e],
                             nl->nunits);
        if (!(nl->rate[e] >= 0) || !isfinite(nl->rate[e]))
            return weft_fail(WEFT_ERR_ARG, "route: net %d has rate %g", e, nl->rate[e]);
    }
    return WEFT_OK;
}

static weft_status router_init(router *rt, const weft_fabric *f, const weft_netlist *nl, const int *place)
{
    memset(rt, 0, sizeof *rt);
    rt->f = f;
    rt->nl = nl;
    rt->S = weft_fabric_sites(f);
    rt->L = weft_fabric_links(f);
    rt->cols = f->cols;
    rt->cap = f->vec_links;
    size_t S = (size_t)rt->S, L = (size_t)rt->L, N = (size_t)nl->nnets + 1;
    rt->ldest = malloc(L * sizeof(int));
    rt->hist = calloc(L, sizeof(double));
    rt->load = calloc(L, sizeof(double));
    rt->from = malloc(N * sizeof(int));
    rt->to = malloc(N * sizeof(int));
    rt->order = malloc(N * sizeof(int));
    rt->off = calloc(N, sizeof(size_t));
    rt->len = calloc(N, sizeof(int));
    rt->g = malloc(S * sizeof(double));
    rt->prev = malloc(S * sizeof(int));
    rt->stamp = calloc(S, sizeof(unsigned));
    rt->closed = calloc(S, sizeof(unsigned));
    rt->heap = malloc((L + 1) * sizeof(hent));   /* at most one push per link relaxed */
    rt->tmp = malloc(S * sizeof(int));
    rt->hot = malloc(L);
    rt->srow = malloc(S * sizeof(int));
    rt->scol = malloc(S * sizeof(int));
    for (int b = 0; b < 2; b++) {
        rt->bcap[b] = 4 * N + 64;
        rt->buf[b] = malloc(rt->bcap[b] * sizeof(int));
    }
    if (!rt->ldest || !rt->hist || !rt->load || !rt->from || !rt->to || !rt->order || !rt->off || !rt->len ||
        !rt->g || !rt->prev || !rt->stamp || !rt->closed || !rt->heap || !rt->tmp || !rt->hot || !rt->srow ||
        !rt->scol || !rt->buf[0] || !rt->buf[1]) {
        router_free(rt);
        return weft_fail(WEFT_ERR_NOMEM, "route: out of memory (%d sites, %d nets)", rt->S, nl->nnets);
    }
    for (int l = 0; l < rt->L; l++) rt->ldest[l] = weft_fabric_link_dest(f, l);
    for (int x = 0; x < rt->S; x++) {
        rt->srow[x] = x / f->cols;
        rt->scol[x] = x % f->cols;
    }
    rt->margin = BOX_MARGIN;
    rkey *keys = malloc(N * sizeof *keys);
    if (!keys) {
        router_free(rt);
        return weft_fail(WEFT_ERR_NOMEM, "route: out of memory (%d nets)", nl->nnets);
    }
    for (int e = 0; e < nl->nnets; e++) {
        rt->from[e] = weft_unit_site(f, nl->kind[nl->src[e]], place[nl->src[e]]);
        rt->to[e] = weft_unit_site(f, nl->kind[nl->dst[e]], place[nl->dst[e]]);
        keys[e] = (rkey){nl->rate[e], e};
    }
    qsort(keys, (size_t)nl->nnets, sizeof *keys, by_rate);
    for (int e = 0; e < nl->nnets; e++) rt->order[e] = keys[e].net;
    free(keys);
    return WEFT_OK;
}

/* One round. The first routes every net; later ones rip up and reroute the
 * nets that use a link over capacity as the round starts, and leave the
 * others where they are (as VPR does): a legal net moving would only shuffle
 * load about, the history cost already steers the congested ones, and on a
 * large netlist most nets are legal after a few rounds, so a round costs in
 * proportion to the congestion that is left. */
static weft_status reroute(router *rt, bool all)
{
    const weft_netlist *nl = rt->nl;
    int nb = 1 - rt->cur;
    for (int l = 0; l < rt->L; l++) rt->hot[l] = rt->load[l] > rt->cap + OVER_EPS;
    rt->bused[nb] = 0;
    for (int k = 0; k < nl->nnets; k++) {
        int e = rt->order[k];
        double rate = nl->rate[e];
        const int *old = rt->buf[rt->cur] + rt->off[e];
        bool redo = all;
        for (int i = 0; i < rt->len[e] && !redo; i++) redo = rt->hot[old[i]];
        size_t at = rt->bused[nb];
        int n = rt->len[e];
        if (redo) {
            for (int i = 0; i < rt->len[e]; i++) rt->load[old[i]] -= rate;
            WEFT_TRY(route_net(rt, rt->from[e], rt->to[e], rate, &at, &n));
            for (int i = 0; i < n; i++) rt->load[rt->buf[nb][at + (size_t)i]] += rate;
        } else {
            WEFT_TRY(grow(rt, nb, (size_t)n));
            memcpy(rt->buf[nb] + at, old, (size_t)n * sizeof(int));
            rt->bused[nb] += (size_t)n;
        }
        /* the new path lives in the other buffer until the round ends */
        rt->off[e] = at;
        rt->len[e] = n;
    }
    rt->cur = nb;
    recount(rt);
    return WEFT_OK;
}

/* Links over capacity; *worst the largest load / cap, *excess the sum of the
 * loads above capacity. */
static int overused(const double *load, int L, double cap, double *worst, double *excess)
{
    int n = 0;
    double w = 0, x = 0;
    for (int l = 0; l < L; l++) {
        if (load[l] > cap + OVER_EPS) { n++; x += load[l] - cap; }
        if (load[l] / cap > w) w = load[l] / cap;
    }
    if (worst) *worst = w;
    if (excess) *excess = x;
    return n;
}

/* Copies the current routing into r (first and load sized by the caller;
 * links grown to fit, *links_cap its size). */
static weft_status snapshot(const router *rt, weft_routes *r, size_t *links_cap)
{
    size_t total = 0;
    for (int e = 0; e < rt->nl->nnets; e++) total += (size_t)rt->len[e];
    if (total > (size_t)0x7fffffff)
        return weft_fail(WEFT_ERR_ARG, "route: %zu links of paths do not fit an int index", total);
    if (total > *links_cap) {
        int *p = realloc(r->links, total * sizeof(int));
        if (!p) return weft_fail(WEFT_ERR_NOMEM, "route: out of memory (%zu links of paths)", total);
        r->links = p;
        *links_cap = total;
    }
    int k = 0;
    for (int e = 0; e < rt->nl->nnets; e++) {
        r->first[e] = k;
        memcpy(r->links + k, rt->buf[rt->cur] + rt->off[e], (size_t)rt->len[e] * sizeof(int));
        k += rt->len[e];
    }
    r->first[rt->nl->nnets] = k;
    memcpy(r->load, rt->load, (size_t)rt->L * sizeof(double));
    return WEFT_OK;
}

weft_status weft_route(const weft_fabric *f, const weft_netlist *nl, const int *place, int max_iter,
                       weft_routes *r, weft_route_stats *st)
{
    weft_route_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    double t0 = weft_now();
    WEFT_TRY(check_inputs(f, nl, place, r));
    memset(r, 0, sizeof *r);
    if (max_iter <= 0) max_iter = DEFAULT_ITERS;
    router rt;
    WEFT_TRY(router_init(&rt, f, nl, place));
    r->first = malloc(((size_t)nl->nnets + 1) * sizeof(int));
    r->load = malloc((size_t)rt.L * sizeof(double));
    r->links = malloc(sizeof(int));   /* never NULL, even with no hops at all */
    size_t links_cap = 1;
    weft_status s = WEFT_OK;
    if (!r->first || !r->load || !r->links)
        s = weft_fail(WEFT_ERR_NOMEM, "route: out of memory (%d nets)", nl->nnets);
    int it = 0, last_gain = 0;
    double best_worst = INFINITY, best_excess = INFINITY, prog_worst = INFINITY, prog_excess = INFINITY;
    rt.pres_fac = 0;   /* the first round: shortest paths, to see where demand falls */
    while (s == WEFT_OK && it < max_iter) {
        s = reroute(&rt, it == 0);
        if (s != WEFT_OK) break;
        it++;
        double worst, excess;
        int over = overused(rt.load, rt.L, rt.cap, &worst, &excess);
        weft_log(WEFT_LOG_DEBUG, "route: round %d: %d links over capacity by %.4g in all, worst use %.3f, "
                 "pres_fac %g", it, over, excess, worst, rt.pres_fac);
        /* keep the round the simulator would run fastest: least worst use,
         * then least excess */
        if (worst < best_worst - OVER_EPS || (worst <= best_worst + OVER_EPS && excess < best_excess)) {
            s = snapshot(&rt, r, &links_cap);
            best_worst = worst;
            best_excess = excess;
        }
        if (over == 0) break;
        /* a round counts as progress when it lowers the worst use or cuts the
         * lowest excess seen by STALL_GAIN; STALL_ROUNDS without any mean the
         * demand does not fit (a cut asks more than its links carry), and more
         * rounds would only spend time */
        if (worst < prog_worst - OVER_EPS) { prog_worst = worst; last_gain = it; }
        if (excess < (1 - STALL_GAIN) * prog_excess) { prog_excess = excess; last_gain = it; }
        if (it - last_gain >= STALL_ROUNDS) break;
        for (int l = 0; l < rt.L; l++)
            if (rt.load[l] > rt.cap + OVER_EPS) rt.hist[l] += HIST_FAC * (rt.load[l] - rt.cap) / rt.cap;
        rt.pres_fac = rt.pres_fac == 0 ? PRES_FIRST : fmin(rt.pres_fac * PRES_MULT, PRES_MAX);
    }
    if (s == WEFT_OK) {
        st->wirelength = r->first[nl->nnets];
        st->overused = overused(r->load, rt.L, rt.cap, &st->worst_use, NULL);
        st->iterations = it;
    } else {
        weft_routes_free(r);
    }
    router_free(&rt);
    st->seconds = weft_now() - t0;
    return s;
}

void weft_routes_free(weft_routes *r)
{
    if (!r) return;
    free(r->first);
    free(r->links);
    free(r->load);
    memset(r, 0, sizeof *r);
}
