/* test_rdu_place.c — placement and routing (src/rdu/place.c, route.c) on
 * hand-built fabrics and synthetic netlists. */
#include "test_util.h"
#include "weft/rdu.h"

#include <stdlib.h>
#include <string.h>

static weft_fabric fab(int rows, int cols, weft_fabric_pattern pat, int vec_links, int ags)
{
    weft_fabric f;
    memset(&f, 0, sizeof f);
    snprintf(f.name, sizeof f.name, "test%dx%d", rows, cols);
    f.rows = rows;
    f.cols = cols;
    f.pattern = pat;
    f.vec_links = vec_links;
    f.scal_links = f.ctrl_links = 1;
    f.link_latency = 1;
    f.ags = ags;
    return f;
}

/* A netlist with its own storage. */
typedef struct {
    weft_netlist nl;
    weft_unit_kind *kind;
    int *src, *dst;
    double *rate;
    int cap;
} tnet;

static void tn_init(tnet *t, int nunits, int cap)
{
    memset(t, 0, sizeof *t);
    t->kind = calloc((size_t)nunits + 1, sizeof *t->kind);
    t->src = calloc((size_t)cap + 1, sizeof(int));
    t->dst = calloc((size_t)cap + 1, sizeof(int));
    t->rate = calloc((size_t)cap + 1, sizeof(double));
    t->cap = cap;
    t->nl = (weft_netlist){nunits, t->kind, 0, t->src, t->dst, t->rate};
}

static void tn_net(tnet *t, int a, int b, double rate)
{
    if (t->nl.nnets >= t->cap) abort();
    t->src[t->nl.nnets] = a;
    t->dst[t->nl.nnets] = b;
    t->rate[t->nl.nnets] = rate;
    t->nl.nnets++;
}

static void tn_free(tnet *t) { free(t->kind); free(t->src); free(t->dst); free(t->rate); }

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* nu units (about 50% PCU, 40% PMU, the rest AG up to ags), nn nets mostly
 * between units close in index (as a lowered graph has), some far. Rates are
 * light enough that a legal routing exists: at twice these rates the annealed
 * placement of the test's netlist already asks more of a column cut than its
 * links carry, which no router can fix. */
static void tn_random(tnet *t, int nu, int nn, int ags, uint64_t seed)
{
    tn_init(t, nu, nn);
    uint64_t s = seed;
    int nag = 0;
    for (int u = 0; u < nu; u++) {
        int r = (int)(lcg(&s) % 10);
        t->kind[u] = r < 5 ? WEFT_UNIT_PCU : r < 9 || nag >= ags ? WEFT_UNIT_PMU : WEFT_UNIT_AG;
        nag += t->kind[u] == WEFT_UNIT_AG;
    }
    for (int e = 0; e < nn; e++) {
        int a = (int)(lcg(&s) % (uint64_t)nu), b;
        if (lcg(&s) % 8 == 0) b = (int)(lcg(&s) % (uint64_t)nu);
        else b = (a + 1 + (int)(lcg(&s) % 12)) % nu;
        if (b == a) b = (a + 1) % nu;
        tn_net(t, a, b, 0.05 + (double)(lcg(&s) % 100) / 200.0);
    }
}

static int manhattan(const weft_fabric *f, int a, int b)
{
    return abs(a / f->cols - b / f->cols) + abs(a % f->cols - b % f->cols);
}

/* Every unit on a slot of its kind, no slot used twice. */
static void check_legal(const weft_fabric *f, const weft_netlist *nl, const int *pl, const char *what)
{
    int S = weft_fabric_sites(f);
    char *used = calloc((size_t)(S + f->ags + 1), 1);
    int bad = 0, twice = 0;
    for (int u = 0; u < nl->nunits; u++) {
        int s = pl[u];
        if (nl->kind[u] == WEFT_UNIT_AG) {
            if (s < 0 || s >= f->ags) { bad++; continue; }
            s += S;
        } else {
            weft_site_kind want = nl->kind[u] == WEFT_UNIT_PCU ? WEFT_SITE_PCU : WEFT_SITE_PMU;
            if (s < 0 || s >= S || weft_fabric_site_kind(f, s) != want) { bad++; continue; }
        }
        twice += used[s];
        used[s] = 1;
    }
    CHECKF(bad == 0 && twice == 0, "%s: %d units on wrong slots, %d slots shared", what, bad, twice);
    free(used);
}

static double place_cost(const weft_fabric *f, const weft_netlist *nl, const int *pl)
{
    double c = 0;
    for (int e = 0; e < nl->nnets; e++)
        c += nl->rate[e] * manhattan(f, weft_unit_site(f, nl->kind[nl->src[e]], pl[nl->src[e]]),
                                     weft_unit_site(f, nl->kind[nl->dst[e]], pl[nl->dst[e]]));
    return c;
}

/* Paths chain from source switch to destination switch, no shorter than
 * Manhattan; loads are the sums of rates; stats agree with the routes. */
static void check_routes(const weft_fabric *f, const weft_netlist *nl, const int *pl, const weft_routes *r,
                         const weft_route_stats *st, const char *what)
{
    int L = weft_fabric_links(f);
    double *load = calloc((size_t)L, sizeof(double));
    int broken = 0, short_ = 0;
    int64_t wl = 0;
    for (int e = 0; e < nl->nnets; e++) {
        int s = weft_unit_site(f, nl->kind[nl->src[e]], pl[nl->src[e]]);
        int t = weft_unit_site(f, nl->kind[nl->dst[e]], pl[nl->dst[e]]);
        int at = s, hops = r->first[e + 1] - r->first[e];
        for (int i = r->first[e]; i < r->first[e + 1]; i++) {
            int l = r->links[i];
            if (l < 0 || l >= L || l / 4 != at || weft_fabric_link_dest(f, l) < 0) { broken++; break; }
            at = weft_fabric_link_dest(f, l);
            load[l] += nl->rate[e];
        }
        broken += at != t;
        short_ += hops < manhattan(f, s, t);
        wl += hops;
    }
    double worst = 0, diff = 0;
    int over = 0;
    for (int l = 0; l < L; l++) {
        diff = fmax(diff, fabs(load[l] - r->load[l]));
        worst = fmax(worst, load[l] / f->vec_links);
        over += load[l] > f->vec_links + 1e-9;
    }
    CHECKF(broken == 0 && short_ == 0, "%s: %d broken paths, %d shorter than Manhattan", what, broken, short_);
    CHECKF(diff < 1e-9, "%s: loads differ from the sum of rates by %g", what, diff);
    CHECKF(st->wirelength == wl && st->overused == over && fabs(st->worst_use - worst) < 1e-9,
           "%s: stats wl %lld over %d worst %g, routes say %lld %d %g", what, (long long)st->wirelength,
           st->overused, st->worst_use, (long long)wl, over, worst);
    free(load);
}

/* A chain of alternating PCU / PMU units on a few fabrics, every method. */
static void test_chain(void)
{
    weft_fabric fs[] = {fab(8, 16, WEFT_PATTERN_CHECKERBOARD, 2, 4), fab(4, 4, WEFT_PATTERN_COLUMNS, 1, 2),
                        fab(1, 2, WEFT_PATTERN_COLUMNS, 1, 1), fab(2, 1, WEFT_PATTERN_CHECKERBOARD, 1, 1)};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        const weft_fabric *f = &fs[i];
        int n = weft_fabric_sites(f);
        tnet t;
        tn_init(&t, n, n);
        for (int u = 0; u < n; u++) t.kind[u] = u % 2 ? WEFT_UNIT_PMU : WEFT_UNIT_PCU;
        for (int u = 0; u + 1 < n; u++) tn_net(&t, u, u + 1, 0.5);
        int *pl = malloc((size_t)n * sizeof(int));
        weft_place_method ms[] = {WEFT_PLACE_GREEDY, WEFT_PLACE_RANDOM, WEFT_PLACE_ANNEAL};
        for (int m = 0; m < 3; m++) {
            weft_place_stats ps;
            CHECK_OK(weft_place(f, &t.nl, ms[m], 7, pl, &ps));
            check_legal(f, &t.nl, pl, test_label("chain %s method %d", f->name, m));
            CHECK_NEAR(ps.cost, place_cost(f, &t.nl, pl), 1e-9);
            weft_routes r;
            weft_route_stats rs;
            CHECK_OK(weft_route(f, &t.nl, pl, 0, &r, &rs));
            check_routes(f, &t.nl, pl, &r, &rs, test_label("chain %s method %d", f->name, m));
            weft_routes_free(&r);
            CHECK(r.first == NULL && r.links == NULL && r.load == NULL);
        }
        free(pl);
        tn_free(&t);
    }
}

/* The random netlist: methods ranked, seeds reproduce, routing legal. */
static void test_random_netlist(void)
{
    weft_fabric f = fab(8, 16, WEFT_PATTERN_CHECKERBOARD, 2, 8);
    tnet t;
    tn_random(&t, 110, 400, 8, 12345);
    int n = t.nl.nunits;
    int *a = malloc((size_t)n * sizeof(int)), *b = malloc((size_t)n * sizeof(int));
    weft_place_stats sg, sr, sa, sa2;

    CHECK_OK(weft_place(&f, &t.nl, WEFT_PLACE_RANDOM, 1, a, &sr));
    CHECK_OK(weft_place(&f, &t.nl, WEFT_PLACE_RANDOM, 1, b, NULL));
    CHECK(memcmp(a, b, (size_t)n * sizeof(int)) == 0);
    CHECK_OK(weft_place(&f, &t.nl, WEFT_PLACE_RANDOM, 2, b, NULL));
    CHECK(memcmp(a, b, (size_t)n * sizeof(int)) != 0);
    check_legal(&f, &t.nl, b, "random seed 2");

    CHECK_OK(weft_place(&f, &t.nl, WEFT_PLACE_GREEDY, 1, a, &sg));
    check_legal(&f, &t.nl, a, "greedy");
    CHECK_OK(weft_place(&f, &t.nl, WEFT_PLACE_GREEDY, 99, b, NULL));
    CHECK(memcmp(a, b, (size_t)n * sizeof(int)) == 0);   /* greedy ignores the seed */

    CHECK_OK(weft_place(&f, &t.nl, WEFT_PLACE_ANNEAL, 5, a, &sa));
    check_legal(&f, &t.nl, a, "anneal");
    CHECK_NEAR(sa.cost, place_cost(&f, &t.nl, a), 1e-6);
    CHECK_NEAR(sa.cost_start, sg.cost, 1e-9);
    CHECK_OK(weft_place(&f, &t.nl, WEFT_PLACE_ANNEAL, 5, b, &sa2));
    CHECK(memcmp(a, b, (size_t)n * sizeof(int)) == 0);
    CHECK(sa2.cost == sa.cost && sa2.moves == sa.moves && sa2.accepted == sa.accepted);
    CHECKF(sa.cost <= sg.cost && sa.cost < sr.cost, "anneal %g greedy %g random %g", sa.cost, sg.cost, sr.cost);
    CHECKF(sg.cost < sr.cost, "greedy %g random %g", sg.cost, sr.cost);
    CHECK(sa.moves > 0 && sa.accepted > 0 && sa.accepted <= sa.moves && sa.seconds >= 0);
    printf("random netlist (%d units, %d nets, 8x16): random %.1f greedy %.1f anneal %.1f (%lld moves, %.3f s)\n",
           n, t.nl.nnets, sr.cost, sg.cost, sa.cost, (long long)sa.moves, sa.seconds);

    weft_routes r;
    weft_route_stats rs;
    CHECK_OK(weft_route(&f, &t.nl, a, 0, &r, &rs));
    check_routes(&f, &t.nl, a, &r, &rs, "random netlist");
    CHECKF(rs.overused == 0 && rs.worst_use <= 1 + 1e-9, "overused %d worst %g after %d rounds", rs.overused,
           rs.worst_use, rs.iterations);
    weft_routes_free(&r);
    free(a); free(b);
    tn_free(&t);
}

/* A star: a hub PCU fed by every AG and feeding PMUs; AGs on AG indices. */
static void test_star(void)
{
    weft_fabric f = fab(6, 6, WEFT_PATTERN_COLUMNS, 2, 6);
    tnet t;
    tn_init(&t, 1 + 6 + 10, 16);
    t.kind[0] = WEFT_UNIT_PCU;
    for (int i = 1; i <= 6; i++) { t.kind[i] = WEFT_UNIT_AG; tn_net(&t, i, 0, 0.25); }
    for (int i = 7; i < 17; i++) { t.kind[i] = WEFT_UNIT_PMU; tn_net(&t, 0, i, 0.1); }
    int pl[17];
    weft_place_method ms[] = {WEFT_PLACE_GREEDY, WEFT_PLACE_RANDOM, WEFT_PLACE_ANNEAL};
    for (int m = 0; m < 3; m++) {
        CHECK_OK(weft_place(&f, &t.nl, ms[m], 3, pl, NULL));
        check_legal(&f, &t.nl, pl, test_label("star method %d", m));
        weft_routes r;
        weft_route_stats rs;
        CHECK_OK(weft_route(&f, &t.nl, pl, 0, &r, &rs));
        check_routes(&f, &t.nl, pl, &r, &rs, test_label("star method %d", m));
        weft_routes_free(&r);
    }
    tn_free(&t);
}

/* Too many units of a kind: the error names the kind and the counts. */
static void test_too_many(void)
{
    weft_fabric f = fab(4, 4, WEFT_PATTERN_CHECKERBOARD, 1, 2);
    int pl[16];
    tnet t;
    tn_init(&t, 9, 1);
    for (int u = 0; u < 9; u++) t.kind[u] = WEFT_UNIT_PMU;
    CHECK_ERR(weft_place(&f, &t.nl, WEFT_PLACE_GREEDY, 0, pl, NULL), WEFT_ERR_ARG, "9 PMU", "only 8 PMU");
    for (int u = 0; u < 3; u++) t.kind[u] = WEFT_UNIT_AG;
    t.nl.nunits = 3;
    CHECK_ERR(weft_place(&f, &t.nl, WEFT_PLACE_ANNEAL, 0, pl, NULL), WEFT_ERR_ARG, "3 AG", "only 2 AG");
    tn_net(&t, 0, 5, 1.0);   /* a net to a unit that does not exist */
    CHECK_ERR(weft_place(&f, &t.nl, WEFT_PLACE_RANDOM, 0, pl, NULL), WEFT_ERR_ARG, "net 0", NULL);
    tn_free(&t);
}

/* Units at a fixed placement: PCU sources in column 0, rows 1, 3, 5, ...
 * (every other row, so each source switch has three free ways out), each
 * sending `per` nets of rate 1 to the PMU beside it in column 1 (columns
 * fabric, vec_links 1). The straight link can carry one; the rest must
 * detour through the free rows, which works while the cut between the
 * columns (one link a row) has room for all of them. */
static void congested(int rows, int nsrc, int per, int *over, double *worst, int *iters)
{
    weft_fabric f = fab(rows, 2, WEFT_PATTERN_COLUMNS, 1, 0);
    tnet t;
    tn_init(&t, 2 * nsrc, nsrc * per);
    int pl[64];
    for (int i = 0; i < nsrc; i++) {
        int row = 2 * i + 1;   /* rows >= 2 * nsrc */
        t.kind[2 * i] = WEFT_UNIT_PCU;
        t.kind[2 * i + 1] = WEFT_UNIT_PMU;
        pl[2 * i] = row * 2;
        pl[2 * i + 1] = row * 2 + 1;
        for (int k = 0; k < per; k++) tn_net(&t, 2 * i, 2 * i + 1, 1.0);
    }
    weft_routes r;
    weft_route_stats rs;
    CHECK_OK(weft_route(&f, &t.nl, pl, 60, &r, &rs));
    check_routes(&f, &t.nl, pl, &r, &rs, test_label("congested %d rows %d x %d", rows, nsrc, per));
    *over = rs.overused;
    *worst = rs.worst_use;
    *iters = rs.iterations;
    weft_routes_free(&r);
    tn_free(&t);
}

static void test_congestion(void)
{
    int over, iters;
    double worst;
    /* 3 nets between one pair of neighbours: the straight link, one detour
     * north, one south */
    congested(3, 1, 3, &over, &worst, &iters);
    CHECKF(over == 0 && worst <= 1 + 1e-9, "3x2: overused %d worst %g", over, worst);
    CHECK(iters > 1);
    /* 8 rows, 3 pairs of 2 nets: 6 vectors over a cut of 8 */
    congested(8, 3, 2, &over, &worst, &iters);
    CHECKF(over == 0 && worst <= 1 + 1e-9, "8x2 3x2: overused %d worst %g after %d", over, worst, iters);
    /* 8 rows, 4 pairs of 2: 8 over a cut of 8, tight */
    congested(8, 4, 2, &over, &worst, &iters);
    CHECKF(over == 0 && worst <= 1 + 1e-9, "8x2 4x2: overused %d worst %g after %d", over, worst, iters);
    /* 10 rows, 5 pairs of 3: 15 through a cut of 10 cannot be legal */
    congested(10, 5, 3, &over, &worst, &iters);
    CHECKF(over > 0 && worst > 1, "10x2 5x3: overused %d worst %g", over, worst);
    CHECK(iters > 1 && iters <= 60);
}

/* A net whose ends share a switch (two AGs on one edge site, or a unit to
 * itself) has an empty path. */
static void test_empty_paths(void)
{
    weft_fabric f = fab(1, 2, WEFT_PATTERN_COLUMNS, 1, 4);   /* 2 AGs on each edge site */
    tnet t;
    tn_init(&t, 3, 3);
    t.kind[0] = t.kind[1] = WEFT_UNIT_AG;
    t.kind[2] = WEFT_UNIT_PCU;
    tn_net(&t, 0, 1, 1);
    tn_net(&t, 2, 2, 1);
    int pl[3] = {0, 1, 0};
    weft_routes r;
    weft_route_stats rs;
    CHECK(weft_unit_site(&f, WEFT_UNIT_AG, 0) == weft_unit_site(&f, WEFT_UNIT_AG, 1));
    CHECK_OK(weft_route(&f, &t.nl, pl, 0, &r, &rs));
    CHECK(r.first[1] == 0 && r.first[2] == 0 && rs.wirelength == 0 && rs.overused == 0 && rs.iterations == 1);
    weft_routes_free(&r);
    pl[2] = 1;   /* a PMU site: wrong kind */
    CHECK_ERR(weft_route(&f, &t.nl, pl, 0, &r, &rs), WEFT_ERR_ARG, "unit 2", NULL);
    tn_free(&t);
}

/* No nets at all, a 1 x 1 grid, one round only. */
static void test_degenerate(void)
{
    weft_fabric f = fab(1, 1, WEFT_PATTERN_CHECKERBOARD, 1, 0);
    tnet t;
    tn_init(&t, 1, 1);
    t.kind[0] = WEFT_UNIT_PCU;
    int pl[1] = {-1};
    weft_place_stats ps;
    CHECK_OK(weft_place(&f, &t.nl, WEFT_PLACE_ANNEAL, 1, pl, &ps));
    CHECK(pl[0] == 0 && ps.cost == 0 && ps.moves == 0);
    weft_routes r;
    weft_route_stats rs;
    CHECK_OK(weft_route(&f, &t.nl, pl, 0, &r, &rs));
    CHECK(r.first && r.first[0] == 0 && r.load && r.links && rs.wirelength == 0 && rs.overused == 0);
    weft_routes_free(&r);
    tn_net(&t, 0, 0, 2.0);   /* to itself: no hops, however fast */
    CHECK_OK(weft_route(&f, &t.nl, pl, 0, &r, &rs));
    CHECK(r.first[1] == 0 && rs.worst_use == 0);
    weft_routes_free(&r);
    tn_free(&t);

    /* max_iter 1: one round, its overuse reported, not an error */
    weft_fabric g = fab(1, 2, WEFT_PATTERN_COLUMNS, 1, 0);
    tn_init(&t, 2, 2);
    t.kind[0] = WEFT_UNIT_PCU;
    t.kind[1] = WEFT_UNIT_PMU;
    tn_net(&t, 0, 1, 0.75);
    tn_net(&t, 0, 1, 0.75);
    int pl2[2] = {0, 1};
    CHECK_OK(weft_route(&g, &t.nl, pl2, 1, &r, &rs));
    CHECK(rs.iterations == 1 && rs.overused == 1 && rs.wirelength == 2);
    CHECK_NEAR(rs.worst_use, 1.5, 1e-12);
    check_routes(&g, &t.nl, pl2, &r, &rs, "1x2 over");
    weft_routes_free(&r);
    tn_free(&t);
}

int main(void)
{
    test_chain();
    test_random_netlist();
    test_star();
    test_too_many();
    test_congestion();
    test_empty_paths();
    test_degenerate();
    return test_summary();
}
