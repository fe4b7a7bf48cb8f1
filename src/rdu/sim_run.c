/* sim_run.c — one training step of a plan, spatially (section after section
 * through sim.c's token simulation) or kernel by kernel (the seed's "old
 * way": one op at a time on the whole fabric, every input read from and every
 * output written to off-chip memory), and what bounds it. */
#include "rdu/rdu_int.h"
#include "rdu/sim_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void weft_sim_result_free(weft_sim_result *r)
{
    free(r->section_cycles);
    free(r->dram_busy);
    free(r->unit_busy);
    free(r->unit_critical);
    free(r->link_busy);
    memset(r, 0, sizeof *r);
}

/* Loading a configuration: every unit's bits from off-chip memory. */
static double config_cycles(const weft_fabric *f, int units, int config_bytes)
{
    return (double)units * config_bytes / (f->dram_gbps / f->clock_ghz) + f->dram_latency_ns * f->clock_ghz;
}

static void spatial_bound(const weft_sim_input *in, const weft_sim_result *r, int s, char *buf, size_t n)
{
    const weft_sim_section *S = &in->sections[s];
    const weft_fabric *f = &in->fabric;
    double T = (double)r->section_cycles[s], unit = 0, link = 0;
    int bu = -1, bl = -1;
    for (int u = S->first_unit; u < S->first_unit + S->nunits; u++)
        if (r->unit_busy[u] > unit) { unit = r->unit_busy[u]; bu = u; }
    int nl = weft_fabric_links(f);
    for (int l = 0; l < nl; l++)
        if (r->link_busy[(size_t)s * nl + l] > link) { link = r->link_busy[(size_t)s * nl + l]; bl = l; }
    double dram = r->dram_busy[s];
    if (T <= 0) { snprintf(buf, n, "nothing"); return; }
    double most = dram > link ? dram : link;
    if (unit > most) most = unit;
    if (most < 0.5 * T) {
        snprintf(buf, n, "its dependencies (no resource is busy more than %.0f%% of section %d: see the critical path)",
                 100 * most / T, s + 1);
        return;
    }
    if (dram >= unit && dram >= link)
        snprintf(buf, n, "off-chip memory, busy %.0f%% of section %d", 100 * dram / T, s + 1);
    else if (link >= unit)
        snprintf(buf, n, "network link %d (row %d, col %d, dir %d), busy %.0f%% of section %d", bl, bl / 4 / f->cols,
                 bl / 4 % f->cols, bl % 4, 100 * link / T, s + 1);
    else {
        const weft_sim_unit *u = &in->units[bu];
        if (u->kind == WEFT_UNIT_PCU)
            snprintf(buf, n, "PCU %d (%s, group %d, replica %d), busy %.0f%% of section %d", bu, in->groups[u->group].op,
                     u->group, u->replica + 1, 100 * unit / T, s + 1);
        else snprintf(buf, n, "PMU %d (value %d), busy %.0f%% of section %d", bu, u->value, 100 * unit / T, s + 1);
    }
}

/* The ops that spend most of the longest section's critical path, by group. */
static void critical_summary(const weft_sim_input *in, const weft_sim_result *r, int s, char *buf, size_t n)
{
    const weft_sim_section *S = &in->sections[s];
    double T = (double)r->section_cycles[s], total = 0;
    double *per = calloc((size_t)in->ngroups + 1, sizeof *per);
    if (!per || T <= 0) { free(per); snprintf(buf, n, "-"); return; }
    for (int u = S->first_unit; u < S->first_unit + S->nunits; u++)
        if (in->units[u].kind == WEFT_UNIT_PCU && r->unit_critical[u] > 0) {
            per[in->units[u].group] += r->unit_critical[u];
            total += r->unit_critical[u];
        }
    int len = snprintf(buf, n, "%.0f%% of section %d computing on the critical path", 100 * total / T, s + 1);
    for (int top = 0; top < 3 && len > 0 && (size_t)len < n; top++) {
        int best = -1;
        for (int k = 0; k < in->ngroups; k++) if (per[k] > 0 && (best < 0 || per[k] > per[best])) best = k;
        if (best < 0) break;
        len += snprintf(buf + len, n - (size_t)len, "%s %s (group %d) %.0f%%", top ? "," : ":", in->groups[best].op, best,
                        100 * per[best] / T);
        per[best] = 0;
    }
    if (len > 0 && (size_t)len < n) snprintf(buf + len, n - (size_t)len, "; the rest waits on transfers and whole values");
    free(per);
}

static weft_status spatial(const weft_sim_input *in, const weft_sim_opts *o, weft_sim_result *r)
{
    const weft_fabric *f = &in->fabric;
    r->nsections = in->nsections;
    r->section_cycles = calloc((size_t)in->nsections + 1, sizeof *r->section_cycles);
    r->dram_busy = calloc((size_t)in->nsections + 1, sizeof *r->dram_busy);
    r->unit_busy = calloc((size_t)in->nunits + 1, sizeof *r->unit_busy);
    r->unit_critical = calloc((size_t)in->nunits + 1, sizeof *r->unit_critical);
    r->link_busy = calloc((size_t)in->nsections * (size_t)weft_fabric_links(f) + 1, sizeof *r->link_busy);
    if (!r->section_cycles || !r->dram_busy || !r->unit_busy || !r->unit_critical || !r->link_busy)
        return weft_fail(WEFT_ERR_NOMEM, "simulate: out of memory");
    int longest = 0;
    for (int s = 0; s < in->nsections; s++) {
        WEFT_TRY(weft_sim_run_section(in, s, o, r));
        r->compute_cycles += r->section_cycles[s];
        r->dram_bytes += in->sections[s].dram_read + in->sections[s].dram_write;
        /* one section stays configured from step to step; several reload every step */
        if (in->nsections > 1)
            r->config_cycles += (int64_t)ceil(config_cycles(f, in->sections[s].nunits, o->config_bytes));
        if (r->section_cycles[s] > r->section_cycles[longest]) longest = s;
    }
    spatial_bound(in, r, longest, r->bound, sizeof r->bound);
    critical_summary(in, r, longest, r->critical, sizeof r->critical);
    return WEFT_OK;
}

/* Kernel by kernel: each group alone, as many replicas as the fabric's PCUs
 * allow (its rows permitting), its data inputs read from and its outputs
 * written to off-chip memory while it computes, then the next kernel's
 * configuration loaded. */
static weft_status kernels(const weft_sim_input *in, const weft_sim_opts *o, weft_sim_result *r)
{
    const weft_fabric *f = &in->fabric;
    int pcus = weft_fabric_count(f, WEFT_SITE_PCU);
    double bpc = f->dram_gbps / f->clock_ghz, lat = f->dram_latency_ns * f->clock_ghz;
    r->nsections = in->ngroups;
    r->section_cycles = calloc((size_t)in->ngroups + 1, sizeof *r->section_cycles);
    r->dram_busy = calloc((size_t)in->ngroups + 1, sizeof *r->dram_busy);
    if (!r->section_cycles || !r->dram_busy) return weft_fail(WEFT_ERR_NOMEM, "simulate: out of memory");
    int by_dram = 0, worst = 0;
    for (int k = 0; k < in->ngroups; k++) {
        const weft_sim_group *G = &in->groups[k];
        int64_t r_max = G->tiled ? G->rows : 1, fit = pcus / G->chain;
        int reps = (int)(r_max < fit ? r_max : fit);
        if (reps < 1) reps = 1;
        weft_group g = { .cycles = G->cycles, .io_whole = G->io_whole, .io_rows = G->io_rows };
        double compute = (double)weft_group_cycles(&g, reps);
        double bytes = (double)(G->in_bytes + G->out_bytes), dram = bytes / bpc;
        double fill = (double)G->chain * f->pcu_stages + lat;
        double t = (compute > dram ? compute : dram) + fill;
        by_dram += dram > compute;
        r->section_cycles[k] = (int64_t)ceil(t);
        r->dram_busy[k] = dram;
        r->compute_cycles += r->section_cycles[k];
        r->dram_bytes += G->in_bytes + G->out_bytes;
        r->config_cycles += (int64_t)ceil(config_cycles(f, reps * G->chain + 2, o->config_bytes));
        if (r->section_cycles[k] > r->section_cycles[worst]) worst = k;
    }
    snprintf(r->bound, sizeof r->bound, "off-chip memory in %d of %d kernels; the longest kernel: group %d (%s)", by_dram,
             in->ngroups, worst, in->ngroups ? in->groups[worst].op : "-");
    return WEFT_OK;
}

weft_status weft_simulate(const weft_sim_input *in, const weft_sim_opts *oin, weft_sim_result *r)
{
    memset(r, 0, sizeof *r);
    weft_sim_opts o = *oin;
    if (o.config_bytes <= 0) o.config_bytes = 1024;
    r->mode = o.mode;
    double t0 = weft_now();
    weft_status s = o.mode == WEFT_SIM_KERNEL ? kernels(in, &o, r) : spatial(in, &o, r);
    r->seconds_sim = weft_now() - t0;
    if (s) { weft_sim_result_free(r); return s; }
    const weft_fabric *f = &in->fabric;
    for (int k = 0; k < in->ngroups; k++) r->flops += (double)in->groups[k].flops;
    r->cycles = r->compute_cycles + r->config_cycles;
    r->seconds = (double)r->cycles / (f->clock_ghz * 1e9);
    r->samples_per_s = r->seconds > 0 ? in->batch / r->seconds : 0;
    r->flops_per_s = r->seconds > 0 ? r->flops / r->seconds : 0;
    r->peak_fraction = r->flops_per_s / weft_fabric_peak_flops(f);
    return WEFT_OK;
}
