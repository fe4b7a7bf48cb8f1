/* schedule.c — pipeline schedules as tables of (stage, time slot, kind,
 * microbatch), and the replay that times a table on a virtual clock.
 *
 * Every stage has its own ordered list of actions; the table is those lists
 * merged by the time each action would start if F took 1 unit, B 2 and U 1
 * (the usual assumption that a backward costs two forwards).
 *
 *   gpipe      per step: F0..F(M-1), then B0..B(M-1), then U (a flush)
 *   1f1b       per step: min(S-1-s, M) forwards, then one F and one B in
 *              turn, the remaining Bs, then U (PipeDream-Flush)
 *   pipedream  the whole run as one stream of steps*M microbatches: S-1-s
 *   pipemare   forwards ((K+1)(S-1-s) with slack K), then F and B in turn, and
 *              U after every M-th B; no flush
 *
 * Why slack: with S-1-s forwards ahead, B(s, m) waits for B(s+1, m) of the
 * same iteration, and stage s may trail stage s+1 by no more than an update's
 * time before one of them waits; every action that runs long stalls its
 * neighbours. With K more iterations in flight at each boundary, stage s may
 * trail by up to K whole iterations, and a late action is absorbed.
 *
 * Backward passes run in microbatch order in every schedule, so a
 * synchronous step sums its microbatches' gradients in order 0..M-1. */
#include "weft/pipe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = { "gpipe", "1f1b", "pipedream", "pipemare" };

const char *weft_pipe_kind_name(weft_pipe_kind k) { return kind_names[k]; }
bool weft_pipe_async(weft_pipe_kind k) { return k == WEFT_PIPE_PIPEDREAM || k == WEFT_PIPE_PIPEMARE; }

weft_status weft_pipe_kind_parse(const char *s, weft_pipe_kind *k)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, kind_names[i])) { *k = (weft_pipe_kind)i; return WEFT_OK; }
    return weft_fail(WEFT_ERR_ARG, "--pipeline %s: unknown schedule (valid: gpipe, 1f1b, pipedream, pipemare)", s);
}

double weft_bubble_closed_form(int S, int M) { return (double)(S - 1) / (double)(M + S - 1); }

void weft_schedule_free(weft_schedule *sc)
{
    free(sc->a);
    for (int s = 0; s < WEFT_PIPE_MAX_STAGES; s++) free(sc->order[s]);
    memset(sc, 0, sizeof *sc);
}

typedef struct { weft_pipe_action *a; int64_t n, cap; } alist;

static bool push(alist *l, int stage, weft_pa_kind k, int64_t mb, int64_t update)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 256;
        weft_pipe_action *na = realloc(l->a, (size_t)cap * sizeof *na);
        if (!na) return false;
        l->a = na; l->cap = cap;
    }
    l->a[l->n++] = (weft_pipe_action){ stage, k, mb, update, 0 };
    return true;
}

/* Stage s's actions in its own order. */
static bool stage_list(alist *l, weft_pipe_kind k, int S, int M, int slack, int64_t steps, int s)
{
    int64_t upd = 0;
    bool ok = true;
    if (!weft_pipe_async(k)) {
        for (int64_t t = 0; t < steps && ok; t++) {
            int64_t base = t * M;
            if (k == WEFT_PIPE_GPIPE) {
                for (int m = 0; m < M && ok; m++) ok = push(l, s, WEFT_PA_F, base + m, 0);
                for (int m = 0; m < M && ok; m++) ok = push(l, s, WEFT_PA_B, base + m, 0);
            } else {
                int w = S - 1 - s < M ? S - 1 - s : M;
                for (int m = 0; m < w && ok; m++) ok = push(l, s, WEFT_PA_F, base + m, 0);
                for (int m = 0; m < M && ok; m++) {
                    if (w + m < M) ok = push(l, s, WEFT_PA_F, base + w + m, 0);
                    if (ok) ok = push(l, s, WEFT_PA_B, base + m, 0);
                }
            }
            if (ok) ok = push(l, s, WEFT_PA_U, -1, ++upd);
        }
        return ok;
    }
    int64_t T = steps * M, ahead = (int64_t)(slack + 1) * (S - 1 - s), w = ahead < T ? ahead : T;
    for (int64_t m = 0; m < w && ok; m++) ok = push(l, s, WEFT_PA_F, m, 0);
    for (int64_t m = 0; m < T && ok; m++) {
        if (w + m < T) ok = push(l, s, WEFT_PA_F, w + m, 0);
        if (ok) ok = push(l, s, WEFT_PA_B, m, 0);
        if (ok && (m + 1) % M == 0) ok = push(l, s, WEFT_PA_U, -1, ++upd);
    }
    return ok;
}

static int by_slot(const void *x, const void *y)
{
    const weft_pipe_action *a = x, *b = y;
    if (a->slot != b->slot) return a->slot < b->slot ? -1 : 1;
    if (a->stage != b->stage) return a->stage - b->stage;
    return (a->kind > b->kind) - (a->kind < b->kind);
}

weft_status weft_schedule_build(weft_schedule *sc, weft_pipe_kind k, int S, int M, int slack, int64_t steps)
{
    memset(sc, 0, sizeof *sc);
    if (S < 1 || S > WEFT_PIPE_MAX_STAGES) return weft_fail(WEFT_ERR_ARG, "--stages %d: must be 1 to %d", S, WEFT_PIPE_MAX_STAGES);
    if (M < 1) return weft_fail(WEFT_ERR_ARG, "--microbatches %d: must be at least 1", M);
    if (steps < 1) return weft_fail(WEFT_ERR_ARG, "a pipeline run needs at least one step");
    if (slack < 0 || slack > WEFT_PIPE_MAX_SLACK)
        return weft_fail(WEFT_ERR_ARG, "--slack %d: must be 0 to %d", slack, WEFT_PIPE_MAX_SLACK);
    if (slack && !weft_pipe_async(k))
        return weft_fail(WEFT_ERR_ARG, "--slack %d: only for the asynchronous schedules (pipedream, pipemare); %s "
                         "drains every step", slack, kind_names[k]);
    sc->kind = k; sc->S = S; sc->M = M; sc->slack = slack; sc->steps = steps;
    alist all = { 0 };
    bool ok = true;
    for (int s = 0; s < S && ok; s++) {
        int64_t first = all.n;
        ok = stage_list(&all, k, S, M, slack, steps, s);
        sc->count[s] = all.n - first;
    }
    sc->a = all.a;
    sc->n = all.n;
    for (int s = 0, off = 0; s < S && ok; off += (int)sc->count[s], s++) {
        sc->order[s] = malloc((size_t)sc->count[s] * sizeof(int64_t));
        if (!sc->order[s]) { ok = false; break; }
        for (int64_t i = 0; i < sc->count[s]; i++) sc->order[s][i] = off + i;
    }
    double *dur = malloc((size_t)sc->n * sizeof *dur), *st = malloc((size_t)sc->n * sizeof *st);
    double *fin = malloc((size_t)sc->n * sizeof *fin);
    ok = ok && dur && st && fin;
    if (!ok) {
        free(dur); free(st); free(fin);
        weft_schedule_free(sc);
        return weft_fail(WEFT_ERR_NOMEM, "schedule: out of memory for %lld steps", (long long)steps);
    }
    for (int64_t i = 0; i < sc->n; i++) dur[i] = sc->a[i].kind == WEFT_PA_B ? 2 : 1;
    /* in-flight microbatches per stage, from its order alone */
    for (int s = 0; s < S; s++) {
        int cur = 0;
        for (int64_t i = 0; i < sc->count[s]; i++) {
            weft_pa_kind kk = sc->a[sc->order[s][i]].kind;
            cur += kk == WEFT_PA_F ? 1 : kk == WEFT_PA_B ? -1 : 0;
            if (cur > sc->inflight[s]) sc->inflight[s] = cur;
        }
        if (sc->inflight[s] > sc->buffers) sc->buffers = sc->inflight[s];
    }
    double span = weft_schedule_replay(sc, dur, 0, st, fin);
    weft_status s = WEFT_OK;
    if (span < 0) s = weft_fail(WEFT_ERR_INTERNAL, "schedule %s: %s", kind_names[k], weft_errmsg());
    else {
        sc->makespan = (int64_t)span;
        for (int64_t i = 0; i < sc->n; i++) sc->a[i].slot = (int64_t)st[i];
        /* the per-stage orders index a; sorting a by slot keeps each stage's order */
        qsort(sc->a, (size_t)sc->n, sizeof *sc->a, by_slot);
        int64_t c[WEFT_PIPE_MAX_STAGES] = { 0 };
        for (int64_t i = 0; i < sc->n; i++) sc->order[sc->a[i].stage][c[sc->a[i].stage]++] = i;
        int64_t nmb = steps * M;
        int *d = malloc((size_t)S * (size_t)nmb * sizeof *d);
        if (!d) s = weft_fail(WEFT_ERR_NOMEM, "schedule: out of memory");
        else {
            weft_schedule_delays(sc, d);
            for (int q = 0; q < S; q++)
                for (int64_t m = 0; m < nmb; m++) if (d[q * nmb + m] > sc->tau[q]) sc->tau[q] = d[q * nmb + m];
            free(d);
        }
    }
    free(dur); free(st); free(fin);
    if (s) weft_schedule_free(sc);
    return s;
}

void weft_schedule_delays(const weft_schedule *sc, int *delay)
{
    int64_t nmb = sc->steps * sc->M;
    for (int s = 0; s < sc->S; s++) {
        int64_t v = 0;
        int *d = delay + (size_t)s * (size_t)nmb;
        for (int64_t i = 0; i < sc->count[s]; i++) {
            const weft_pipe_action *a = &sc->a[sc->order[s][i]];
            if (a->kind == WEFT_PA_F) d[a->mb] = (int)v;           /* the version it read */
            else if (a->kind == WEFT_PA_B) d[a->mb] = (int)(v - d[a->mb]);
            else v++;
        }
    }
}

/* The replay: stages are devices; each runs its list in order. */
double weft_schedule_replay(const weft_schedule *sc, const double *dur, int queue, double *start, double *finish)
{
    int S = sc->S;
    int64_t nmb = sc->steps * sc->M;
    if (queue <= 0) queue = sc->buffers > 0 ? sc->buffers : 1;
    double *fF = malloc((size_t)S * (size_t)nmb * sizeof *fF), *fB = malloc((size_t)S * (size_t)nmb * sizeof *fB);
    double *sF = malloc((size_t)S * (size_t)nmb * sizeof *sF);
    if (!fF || !fB || !sF) {
        free(fF); free(fB); free(sF);
        weft_fail(WEFT_ERR_NOMEM, "replay: out of memory");
        return -1;
    }
    for (int64_t i = 0; i < (int64_t)S * nmb; i++) fF[i] = fB[i] = sF[i] = -1;
#define AT(arr, s, m) arr[(size_t)(s) * (size_t)nmb + (size_t)(m)]
    int64_t pos[WEFT_PIPE_MAX_STAGES] = { 0 }, done = 0;
    double free_at[WEFT_PIPE_MAX_STAGES] = { 0 }, span = 0;
    bool progress = true;
    while (done < sc->n && progress) {
        progress = false;
        for (int s = 0; s < S; s++) {
            while (pos[s] < sc->count[s]) {
                int64_t i = sc->order[s][pos[s]];
                const weft_pipe_action *a = &sc->a[i];
                double t = free_at[s];
                if (a->kind == WEFT_PA_F) {
                    if (s > 0) { double d = AT(fF, s - 1, a->mb); if (d < 0) break; if (d > t) t = d; }
                    if (s + 1 < S && a->mb >= queue) {
                        double d = AT(sF, s + 1, a->mb - queue);
                        if (d < 0) break;
                        if (d > t) t = d;
                    }
                } else if (a->kind == WEFT_PA_B) {
                    double d = s + 1 < S ? AT(fB, s + 1, a->mb) : AT(fF, s, a->mb);
                    if (d < 0) break;
                    if (d > t) t = d;
                }
                start[i] = t;
                finish[i] = t + dur[i];
                free_at[s] = finish[i];
                if (finish[i] > span) span = finish[i];
                if (a->kind == WEFT_PA_F) { AT(fF, s, a->mb) = finish[i]; AT(sF, s, a->mb) = t; }
                else if (a->kind == WEFT_PA_B) AT(fB, s, a->mb) = finish[i];
                pos[s]++;
                done++;
                progress = true;
            }
        }
    }
#undef AT
    free(fF); free(fB); free(sF);
    if (done < sc->n) {
        for (int s = 0; s < S; s++)
            if (pos[s] < sc->count[s]) {
                const weft_pipe_action *a = &sc->a[sc->order[s][pos[s]]];
                weft_fail(WEFT_ERR_ARG, "the schedule deadlocks: stage %d waits forever to run %c%lld "
                          "(a queue of %d between stages is too small for it)", s,
                          "FBU"[a->kind], (long long)a->mb, queue);
                break;
            }
        return -1;
    }
    return span;
}

void weft_schedule_print(FILE *f, const weft_schedule *sc, int64_t max_slots)
{
    fprintf(f, "schedule %s: %d stages, %d microbatches a step, %lld steps", kind_names[sc->kind], sc->S, sc->M,
            (long long)sc->steps);
    if (sc->slack) fprintf(f, ", slack %d", sc->slack);
    fprintf(f, "; time slots with F = 1, B = 2, U = 1\n");
    fprintf(f, "%6s", "slot");
    for (int s = 0; s < sc->S; s++) fprintf(f, " %6s%-2d", "stage", s);
    fputc('\n', f);
    int64_t pos[WEFT_PIPE_MAX_STAGES] = { 0 };
    for (int64_t t = 0; t < sc->makespan && t < max_slots; t++) {
        fprintf(f, "%6lld", (long long)t);
        for (int s = 0; s < sc->S; s++) {
            char cell[24] = ".";
            while (pos[s] < sc->count[s]) {
                const weft_pipe_action *a = &sc->a[sc->order[s][pos[s]]];
                int64_t len = a->kind == WEFT_PA_B ? 2 : 1;
                if (a->slot + len <= t) { pos[s]++; continue; }
                if (a->slot <= t) {
                    if (a->kind == WEFT_PA_U) snprintf(cell, sizeof cell, "U%lld", (long long)a->update);
                    else snprintf(cell, sizeof cell, "%c%lld", a->kind == WEFT_PA_F ? 'F' : 'B', (long long)a->mb);
                }
                break;
            }
            fprintf(f, " %8s", cell);
        }
        fputc('\n', f);
    }
    if (sc->makespan > max_slots) fprintf(f, "  ... %lld slots in all\n", (long long)sc->makespan);
}
