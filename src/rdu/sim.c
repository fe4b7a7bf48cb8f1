/* sim.c — runs a compiled plan on the fabric it was compiled for: what the
 * chip would achieve (docs/SIMULATOR.md says what is modelled).
 *
 * Granularity: a token. Every net carries its bytes per step as W tokens
 * (W "waves", default 256); token k is the k-th W-th of its bytes.
 *   - A PCU fires W times a step, firing k taking its cycles / W. It fires
 *     when token k of each input has arrived (all W of a `whole` net: an
 *     untiled reader, or a sum over rows complete only after its last tile),
 *     when it has finished firing k - 1, and when each PCU it feeds has room
 *     for token k: credit-based flow control, a reader buffers `buffer`
 *     tokens a net (a double buffer) and a credit travels back over the
 *     net's hops.
 *   - A PMU is storage: it takes every token written to it (a held value
 *     fits it by construction) at a vector a cycle, and serves token k of a
 *     read once every writer has written token k (at once when nothing in
 *     the section writes it), at a vector a cycle, when the reader has room.
 *     Fewer banks than lanes make each vector take lanes / banks cycles.
 *   - An AG is a door to one shared off-chip memory: tokens are served in
 *     request order at the fabric's bandwidth and arrive after its latency.
 *     A read runs at most `buffer` tokens ahead of what its PMU has served;
 *     a write is a sink.
 *   - A token crosses its route hop by hop: each link carries vec_links
 *     vectors a cycle, tokens queue on a busy link, a hop adds the link
 *     latency.
 *   - A write into a memory unit that its writer (transitively) reads from —
 *     an update writing back its weight — gates no read: the step reads the
 *     old value.
 * Sections run one after another, each after reconfiguring the fabric. */
#include "rdu/rdu_int.h"
#include "rdu/sim_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A PCU's input buffer, at least: vectors (a double buffer of 16). */
#define BUFFER_VECTORS 32.0

/* ---- events: a binary heap on time ------------------------------------------- */
typedef enum { EV_DONE, EV_ARRIVE, EV_STORED, EV_CREDIT, EV_ISSUE } ev_kind;
typedef struct { double t; int kind, id, k; int64_t seq; } event;
typedef struct { event *e; int n, cap; int64_t seq; } heap;

static bool ev_before(const event *a, const event *b) { return a->t < b->t || (a->t == b->t && a->seq < b->seq); }

static int push(heap *h, double t, ev_kind kind, int id, int k)
{
    if (h->n == h->cap) {
        int cap = h->cap * 2 + 1024;
        event *e = realloc(h->e, (size_t)cap * sizeof *e);
        if (!e) return -1;
        h->e = e;
        h->cap = cap;
    }
    int i = h->n++;
    event x = { t, kind, id, k, h->seq++ };
    while (i > 0 && ev_before(&x, &h->e[(i - 1) / 2])) { h->e[i] = h->e[(i - 1) / 2]; i = (i - 1) / 2; }
    h->e[i] = x;
    return 0;
}

static event pop(heap *h)
{
    event top = h->e[0], x = h->e[--h->n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && ev_before(&h->e[c + 1], &h->e[c])) c++;
        if (!ev_before(&h->e[c], &x)) break;
        h->e[i] = h->e[c];
        i = c;
    }
    if (h->n) h->e[i] = x;
    return top;
}

/* ---- one section -------------------------------------------------------------------- */
/* Why a firing (or a PMU's read) started when it did: the event that let it. */
typedef enum { CZ_START, CZ_PREV, CZ_TOKEN, CZ_CREDIT, CZ_STORED, CZ_PORT, CZ_DRAM } cause_kind;
typedef struct { int kind, id, k; } cause;
typedef struct {
    const weft_sim_input *in;
    const weft_sim_section *S;
    int W, D;
    double vec_bytes, dram_per_cycle, dram_latency;
    /* per net (section-local) */
    int *arrived, *sent, *consumed, *credited, *stored;
    bool *back;             /* write-backs: they gate nothing                  */
    double *tok_bytes, *tok_vecs;
    int *room;              /* tokens a reader buffers: `buffer` tokens, or as many
                               as hold BUFFER_VECTORS vectors when tokens are small */
    double *tail;           /* [e * W + k]: when token k's last vector arrives
                               (at a PMU: when it is all written)              */
    double *fstart;         /* per PCU: when its current firing started        */
    /* per unit (section-local) */
    int *fired, *in_first, *in_nets, *out_first, *out_nets;
    bool *busy;
    double *dur, *busy_cycles, *rfree, *wfree;
    double bank;            /* cycles a PMU takes per vector */
    cause *fire_cause;      /* per PCU firing: [u * W + k]                     */
    cause *tok_cause;       /* per token a PMU or AG sent: [e * W + k]         */
    int *last_e, *last_k;   /* per PMU: the token it served last               */
    int end_u, end_k;       /* the PCU firing that ended last                  */
    double end_pcu;
    double dram_free, dram_busy, end;
    double *link_free, *link_busy;
    heap h;
    weft_status err;
} sec;

static int unit_of(const sec *c, int u) { return u - c->S->first_unit; }

static void fail(sec *c, weft_status s) { if (!c->err) c->err = s; }

static void sched(sec *c, double t, ev_kind k, int id, int tok)
{
    if (push(&c->h, t, k, id, tok)) fail(c, weft_fail(WEFT_ERR_NOMEM, "simulate: out of memory"));
}

/* Sends token k of net e, its first vector leaving at `head` and its last no
 * earlier than `ready` (when its sender finished it), along its route: cut-
 * through, each link it crosses busy for its length, a hop adding the link
 * latency. Returns when its first vector arrives; records when its last does. */
static double travel(sec *c, int e, int k, double head, double ready)
{
    const weft_sim_net *n = &c->in->nets[c->S->first_net + e];
    const weft_fabric *f = &c->in->fabric;
    double ser = c->tok_vecs[e] / f->vec_links, t = head;
    for (int i = 0; i < n->nlinks; i++) {
        int l = c->in->links[n->first_link + i];
        double s = t > c->link_free[l] ? t : c->link_free[l];
        c->link_free[l] = s + ser;
        c->link_busy[l] += ser;
        t = s + f->link_latency;
    }
    if (n->nlinks == 0) t = head + 1;
    double lat = n->nlinks ? n->nlinks * f->link_latency : 1;
    double tail = t + ser > ready + lat ? t + ser : ready + lat;
    c->tail[(size_t)e * c->W + k] = tail;
    /* a reader that needs all of it, and off-chip memory, take it whole */
    return n->whole || c->in->units[n->dst].kind == WEFT_UNIT_AG ? tail : t;
}

/* Off-chip: bytes served in request order at the fabric's bandwidth. */
static double dram(sec *c, double t, double bytes)
{
    double s = t > c->dram_free ? t : c->dram_free, x = bytes / c->dram_per_cycle;
    c->dram_free = s + x;
    c->dram_busy += x;
    return s + x;
}

static int credit_hops(const sec *c, int e) { return c->in->nets[c->S->first_net + e].nlinks + 1; }
static const weft_sim_net *net(const sec *c, int e) { return &c->in->nets[c->S->first_net + e]; }
static weft_unit_kind kind(const sec *c, int u) { return c->in->units[c->S->first_unit + u].kind; }

/* Does the reader of net e limit its writer (credits)? PCUs do, unless they
 * wait for all of it anyway; PMUs and AGs take everything. */
static bool credited_net(const sec *c, int e)
{
    return kind(c, unit_of(c, net(c, e)->dst)) == WEFT_UNIT_PCU && !net(c, e)->whole;
}

static bool pcu_ready(const sec *c, int u, int k)
{
    for (int i = c->in_first[u]; i < c->in_first[u + 1]; i++) {
        int e = c->in_nets[i];
        if (c->back[e]) continue;
        if (net(c, e)->whole ? c->arrived[e] < c->W : c->arrived[e] <= k) return false;
    }
    for (int i = c->out_first[u]; i < c->out_first[u + 1]; i++) {
        int e = c->out_nets[i];
        if (credited_net(c, e) && k - c->credited[e] >= c->room[e]) return false;
    }
    return true;
}

/* Why PCU u cannot fire its next token: for the deadlock message. */
static void why_stuck(const sec *c, int u, char *buf, size_t n)
{
    int k = c->fired[u];
    snprintf(buf, n, "nothing");
    for (int i = c->in_first[u]; i < c->in_first[u + 1]; i++) {
        int e = c->in_nets[i];
        if (c->back[e]) continue;
        if (net(c, e)->whole ? c->arrived[e] < c->W : c->arrived[e] <= k) {
            snprintf(buf, n, "token %d of net %d from unit %d (%d sent, %d arrived%s)", k, c->S->first_net + e,
                     net(c, e)->src, c->sent[e], c->arrived[e], net(c, e)->whole ? ", all needed" : "");
            return;
        }
    }
    for (int i = c->out_first[u]; i < c->out_first[u + 1]; i++) {
        int e = c->out_nets[i];
        if (credited_net(c, e) && k - c->credited[e] >= c->room[e]) {
            snprintf(buf, n, "room on net %d to unit %d (it took %d)", c->S->first_net + e, net(c, e)->dst, c->consumed[e]);
            return;
        }
    }
}

static void try_fire(sec *c, int u, double now, cause why)
{
    if (c->busy[u] || c->fired[u] >= c->W || !pcu_ready(c, u, c->fired[u])) return;
    int k = c->fired[u];
    c->fire_cause[(size_t)u * c->W + k] = why;
    c->busy[u] = true;
    c->busy_cycles[u] += c->dur[u];
    c->fstart[u] = now;
    /* it starts on its inputs' first vectors; it cannot end before their last */
    double end = now + c->dur[u];
    for (int i = c->in_first[u]; i < c->in_first[u + 1]; i++) {
        int e = c->in_nets[i];
        if (c->back[e] || net(c, e)->whole) continue;
        double t = c->tail[(size_t)e * c->W + k] + 1;
        if (t > end) end = t;
    }
    sched(c, end, EV_DONE, u, k);
}

/* A PMU serves every read it can: token k of a read once every writer (but
 * write-backs) has stored token k, and its reader has room. */
static void try_serve(sec *c, int u, double now, cause why)
{
    int avail = c->W;
    for (int i = c->in_first[u]; i < c->in_first[u + 1]; i++) {
        int e = c->in_nets[i];
        if (!c->back[e] && c->stored[e] < avail) avail = c->stored[e];
    }
    bool progress = true;
    while (progress) {
        progress = false;
        for (int i = c->out_first[u]; i < c->out_first[u + 1]; i++) {
            int e = c->out_nets[i], k = c->sent[e];
            if (k >= c->W || k >= avail || (credited_net(c, e) && k - c->credited[e] >= c->room[e])) continue;
            double start = now > c->rfree[u] ? now : c->rfree[u], t = start + c->tok_vecs[e] * c->bank;
            double end = t;     /* not before its writers have written all of it */
            for (int w = c->in_first[u]; w < c->in_first[u + 1]; w++) {
                int we = c->in_nets[w];
                if (!c->back[we] && c->tail[(size_t)we * c->W + k] > end) end = c->tail[(size_t)we * c->W + k];
            }
            c->tok_cause[(size_t)e * c->W + k] =
                start > now && c->last_e[u] >= 0 ? (cause){ CZ_PORT, c->last_e[u], c->last_k[u] } : why;
            c->last_e[u] = e;
            c->last_k[u] = k;
            c->busy_cycles[u] += t - start;
            c->rfree[u] = t;
            sched(c, travel(c, e, k, start, end), EV_ARRIVE, e, k);
            c->sent[e]++;
            progress = true;
        }
    }
    /* the reads from off-chip that fill it run ahead of its fastest reader
     * (it keeps what it stored for the slower ones) */
    int served = 0;
    for (int i = c->out_first[u]; i < c->out_first[u + 1]; i++)
        if (c->sent[c->out_nets[i]] > served) served = c->sent[c->out_nets[i]];
    if (c->out_first[u] == c->out_first[u + 1]) served = c->W;
    for (int i = c->in_first[u]; i < c->in_first[u + 1]; i++) {
        int e = c->in_nets[i];
        if (kind(c, unit_of(c, net(c, e)->src)) == WEFT_UNIT_AG && served > c->credited[e]) {
            c->credited[e] = served;
            sched(c, now, EV_ISSUE, e, 0);
        }
    }
}

/* An AG's read net: issue tokens while they run at most D ahead. */
static void try_issue(sec *c, int e, double now)
{
    while (c->sent[e] < c->W && c->sent[e] - c->credited[e] < c->room[e]) {
        int k = c->sent[e];
        double t = dram(c, now, c->tok_bytes[e]) + c->dram_latency;
        c->tok_cause[(size_t)e * c->W + k] = (cause){ CZ_DRAM, e, k };
        sched(c, travel(c, e, k, t - c->tok_bytes[e] / c->dram_per_cycle, t), EV_ARRIVE, e, k);
        c->sent[e]++;
    }
}

static void on_done(sec *c, int u, int k, double now)
{
    c->busy[u] = false;
    c->fired[u] = k + 1;
    if (now > c->end) c->end = now;
    if (now >= c->end_pcu) { c->end_pcu = now; c->end_u = u; c->end_k = k; }
    for (int i = c->out_first[u]; i < c->out_first[u + 1]; i++) {
        int e = c->out_nets[i];
        /* the token streamed out as the firing computed it */
        sched(c, travel(c, e, k, c->fstart[u] + 1, now), EV_ARRIVE, e, k);
        c->sent[e]++;
    }
    /* a credit back to each writer whose token this firing used up */
    for (int i = c->in_first[u]; i < c->in_first[u + 1]; i++) {
        int e = c->in_nets[i];
        c->consumed[e] = k + 1;
        if (credited_net(c, e)) sched(c, now + credit_hops(c, e) * c->in->fabric.link_latency, EV_CREDIT, e, k + 1);
    }
    try_fire(c, u, now, (cause){ CZ_PREV, u, k });
}

static void on_arrive(sec *c, int e, int k, double now)
{
    int d = unit_of(c, net(c, e)->dst);
    c->arrived[e]++;
    if (now > c->end) c->end = now;
    switch (kind(c, d)) {
    case WEFT_UNIT_AG: {       /* a write to off-chip memory */
        double t = dram(c, now, c->tok_bytes[e]);
        if (t > c->end) c->end = t;
        c->consumed[e]++;
        break;
    }
    case WEFT_UNIT_PMU: {      /* written at a vector a cycle as it streams in */
        double len = c->tok_vecs[e] * c->bank, start = now > c->wfree[d] ? now : c->wfree[d];
        double *tail = &c->tail[(size_t)e * c->W + k];
        if (start + len > *tail) *tail = start + len;   /* all written */
        if (*tail > c->end) c->end = *tail;
        c->busy_cycles[d] += len;
        c->wfree[d] = start + len;
        c->consumed[e]++;
        sched(c, start, EV_STORED, e, 0);
        break;
    }
    default:
        try_fire(c, d, now, (cause){ CZ_TOKEN, e, k });
    }
}

static void on_event(sec *c, const event *ev)
{
    switch ((ev_kind)ev->kind) {
    case EV_DONE: on_done(c, ev->id, ev->k, ev->t); break;
    case EV_ARRIVE: on_arrive(c, ev->id, ev->k, ev->t); break;
    case EV_STORED: {
        int d = unit_of(c, net(c, ev->id)->dst);
        c->stored[ev->id]++;
        if (ev->t > c->end) c->end = ev->t;
        try_serve(c, d, ev->t, (cause){ CZ_STORED, ev->id, c->stored[ev->id] - 1 });
        break;
    }
    case EV_CREDIT: {
        int e = ev->id, w = unit_of(c, net(c, e)->src);
        if (ev->k > c->credited[e]) c->credited[e] = ev->k;
        cause why = { CZ_CREDIT, e, ev->k };
        if (kind(c, w) == WEFT_UNIT_PMU) try_serve(c, w, ev->t, why);
        else try_fire(c, w, ev->t, why);
        break;
    }
    case EV_ISSUE: try_issue(c, ev->id, ev->t); break;
    }
}

/* The critical path: from the PCU firing that ended last, back through the
 * events that let each step start (its own previous firing, the token it
 * waited for and who sent it, the room it waited for and who made it), to
 * the start or to off-chip memory. crit[u] gets the cycles unit u's firings
 * spent on it. */
static void critical_path(const sec *c, double *crit)
{
    int u = c->end_u, k = c->end_k, W = c->W;
    int64_t limit = (int64_t)c->S->nunits * W * 4 + 16;
    while (limit-- > 0 && u >= 0 && k >= 0) {
        crit[c->S->first_unit + u] += c->dur[u];
        cause z = c->fire_cause[(size_t)u * W + k];
        if (z.kind == CZ_PREV) { k--; continue; }
        if (z.kind == CZ_CREDIT) { u = unit_of(c, net(c, z.id)->dst); k = z.k - 1; continue; }
        if (z.kind != CZ_TOKEN) break;
        /* a token: from a PCU's firing, or through a PMU (or an AG) */
        int e = z.id, tk = z.k;
        for (;;) {
            int src = unit_of(c, net(c, e)->src);
            if (kind(c, src) == WEFT_UNIT_PCU) { u = src; k = tk; break; }
            if (kind(c, src) == WEFT_UNIT_AG) { u = -1; break; }
            cause y = c->tok_cause[(size_t)e * W + tk];
            if (y.kind == CZ_PORT) { e = y.id; tk = y.k; continue; }
            if (y.kind == CZ_CREDIT) { u = unit_of(c, net(c, y.id)->dst); k = y.k - 1; break; }
            if (y.kind == CZ_STORED) {
                int w = unit_of(c, net(c, y.id)->src);
                if (kind(c, w) == WEFT_UNIT_PCU) { u = w; k = y.k; }
                else u = -1;   /* from off-chip memory */
                break;
            }
            u = -1;
            break;
        }
    }
}

weft_status weft_sim_run_section(const weft_sim_input *in, int s, const weft_sim_opts *o, weft_sim_result *r)
{
    const weft_fabric *f = &in->fabric;
    const weft_sim_section *S = &in->sections[s];
    sec c = { .in = in, .S = S, .W = o->waves > 0 ? o->waves : 256, .D = o->buffer > 0 ? o->buffer : 2 };
    int nu = S->nunits, ne = S->nnets, nl = weft_fabric_links(f);
    c.vec_bytes = (double)f->pcu_lanes * f->word_bytes;
    c.dram_per_cycle = f->dram_gbps / f->clock_ghz;
    c.dram_latency = f->dram_latency_ns * f->clock_ghz;
    c.bank = f->pmu_banks < f->pcu_lanes ? ceil((double)f->pcu_lanes / f->pmu_banks) : 1;
    size_t ni = (size_t)ne + 1, nui = (size_t)nu + 2;
    c.arrived = calloc(ni, sizeof(int)); c.sent = calloc(ni, sizeof(int)); c.consumed = calloc(ni, sizeof(int));
    c.credited = calloc(ni, sizeof(int)); c.stored = calloc(ni, sizeof(int)); c.back = calloc(ni, sizeof(bool));
    c.tok_bytes = calloc(ni, sizeof(double)); c.tok_vecs = calloc(ni, sizeof(double));
    c.in_nets = malloc(ni * sizeof(int)); c.out_nets = malloc(ni * sizeof(int));
    c.fired = calloc(nui, sizeof(int)); c.busy = calloc(nui, sizeof(bool)); c.dur = calloc(nui, sizeof(double));
    c.rfree = calloc(nui, sizeof(double)); c.wfree = calloc(nui, sizeof(double));
    c.in_first = calloc(nui, sizeof(int)); c.out_first = calloc(nui, sizeof(int));
    c.link_free = calloc((size_t)nl, sizeof(double));
    c.tail = calloc((size_t)ne * (size_t)c.W + 1, sizeof(double));
    c.room = calloc(ni, sizeof(int));
    c.fstart = calloc(nui, sizeof(double));
    c.fire_cause = calloc((size_t)nu * (size_t)c.W + 1, sizeof(cause));
    c.tok_cause = calloc((size_t)ne * (size_t)c.W + 1, sizeof(cause));
    c.last_e = malloc(nui * sizeof(int));
    c.last_k = malloc(nui * sizeof(int));
    c.end_u = -1;
    c.busy_cycles = r->unit_busy + S->first_unit;
    c.link_busy = r->link_busy + (size_t)s * (size_t)nl;
    weft_status st = WEFT_OK;
    if (!c.arrived || !c.sent || !c.consumed || !c.credited || !c.stored || !c.back || !c.tok_bytes || !c.tok_vecs ||
        !c.in_nets || !c.out_nets || !c.fired || !c.busy || !c.dur || !c.rfree || !c.wfree || !c.in_first ||
        !c.out_first || !c.link_free || !c.fire_cause || !c.tok_cause || !c.last_e || !c.last_k || !c.tail || !c.fstart || !c.room)
        st = weft_fail(WEFT_ERR_NOMEM, "simulate: out of memory");
    /* adjacency (section-local ids) */
    for (int e = 0; !st && e < ne; e++) {
        c.in_first[unit_of(&c, net(&c, e)->dst) + 1]++;
        c.out_first[unit_of(&c, net(&c, e)->src) + 1]++;
    }
    for (int u = 0; !st && u < nu; u++) { c.in_first[u + 1] += c.in_first[u]; c.out_first[u + 1] += c.out_first[u]; }
    if (!st) {
        int *fi = calloc((size_t)nu + 1, sizeof(int)), *fo = calloc((size_t)nu + 1, sizeof(int));
        if (!fi || !fo) st = weft_fail(WEFT_ERR_NOMEM, "simulate: out of memory");
        for (int e = 0; !st && e < ne; e++) {
            int d = unit_of(&c, net(&c, e)->dst), sr = unit_of(&c, net(&c, e)->src);
            c.in_nets[c.in_first[d] + fi[d]++] = e;
            c.out_nets[c.out_first[sr] + fo[sr]++] = e;
        }
        free(fi); free(fo);
    }
    for (int u = 0; !st && u < nu; u++) c.last_e[u] = -1;
    for (int e = 0; !st && e < ne; e++) c.back[e] = net(&c, e)->writeback;
    for (int e = 0; !st && e < ne; e++) {
        c.tok_bytes[e] = (double)net(&c, e)->bytes / c.W;
        /* fractional: a token is a share of a stream, not a whole number of
         * vectors (rounding up would make small streams cost more with W) */
        c.tok_vecs[e] = c.tok_bytes[e] / c.vec_bytes;
        /* a reader's buffer holds `buffer` tokens, and at least BUFFER_VECTORS
         * vectors: tokens much smaller than a vector stand for a stream that
         * a real buffer of a few dozen vectors keeps flowing */
        double fit = c.tok_vecs[e] > 0 ? ceil(BUFFER_VECTORS / c.tok_vecs[e]) : c.W;
        c.room[e] = fit > c.D ? (fit < c.W ? (int)fit : c.W) : c.D;
    }
    for (int u = 0; !st && u < nu; u++) {
        c.dur[u] = (double)in->units[S->first_unit + u].cycles / c.W;
    }
    /* go: every PCU tries its first firing, every PMU its first reads */
    for (int u = 0; !st && u < nu; u++) {
        if (kind(&c, u) == WEFT_UNIT_PCU) try_fire(&c, u, 0, (cause){ CZ_START, 0, 0 });
        else if (kind(&c, u) == WEFT_UNIT_PMU) try_serve(&c, u, 0, (cause){ CZ_START, 0, 0 });
    }
    for (int e = 0; !st && e < ne; e++)
        if (kind(&c, unit_of(&c, net(&c, e)->src)) == WEFT_UNIT_AG) try_issue(&c, e, 0);
    while (!st && !c.err && c.h.n) {
        event ev = pop(&c.h);
        on_event(&c, &ev);
    }
    if (!st && c.err) st = c.err;
    /* every unit fired its share and every token made was taken: or say what is stuck */
    for (int u = 0; !st && u < nu; u++)
        if (kind(&c, u) == WEFT_UNIT_PCU && c.fired[u] != c.W) {
            char why[200];
            why_stuck(&c, u, why, sizeof why);
            st = weft_fail(WEFT_ERR_INTERNAL, "simulate: section %d deadlocked: PCU unit %d fired %d of %d times, "
                           "waiting for %s", s + 1, S->first_unit + u, c.fired[u], c.W, why);
        }
    for (int e = 0; !st && e < ne; e++) {
        r->tokens_sent += c.sent[e];
        r->tokens_taken += c.consumed[e];
        if (c.sent[e] != c.W || c.arrived[e] != c.W || c.consumed[e] != c.W)
            st = weft_fail(WEFT_ERR_INTERNAL, "simulate: section %d, net %d: %d tokens sent, %d arrived, %d taken of %d",
                           s + 1, S->first_net + e, c.sent[e], c.arrived[e], c.consumed[e], c.W);
    }
    if (!st) {
        r->section_cycles[s] = (int64_t)ceil(c.end);
        r->dram_busy[s] = c.dram_busy;
        critical_path(&c, r->unit_critical);
    }
    free(c.arrived); free(c.sent); free(c.consumed); free(c.credited); free(c.stored); free(c.back);
    free(c.tok_bytes); free(c.tok_vecs); free(c.in_nets); free(c.out_nets); free(c.fired); free(c.busy);
    free(c.dur); free(c.rfree); free(c.wfree); free(c.in_first); free(c.out_first); free(c.link_free); free(c.h.e);
    free(c.fire_cause); free(c.tok_cause); free(c.last_e); free(c.last_k); free(c.tail); free(c.fstart); free(c.room);
    return st;
}
