/* test_rdu_sim.c — the simulator against closed forms: a GEMM runs at its
 * compute bound and a streaming elementwise op at its bandwidth bound (after
 * the pipeline fills, within 5%); no plan beats the fabric's roofline; every
 * token made is taken; kernel by kernel moves every op's data off chip. */
#include "test_util.h"
#include "weft/models.h"
#include "weft/rdu.h"

#include <string.h>

/* A section of three units on plasticine: PMU (input) -> PCU -> PMU
 * (output), the PCU taking `cycles` (the op's bound, as the compiler costs
 * it), the streams `in_bytes` and `out_bytes`: what the simulator adds to
 * the bound is its own overhead. */
typedef struct {
    weft_sim_input in;
    weft_sim_group g;
    weft_sim_unit u[4];
    weft_sim_net n[3];
    weft_sim_section s;
    int links[64];
} tiny;

static void make_tiny(tiny *t, int64_t cycles, int64_t flops, int64_t in_bytes, int64_t out_bytes)
{
    memset(t, 0, sizeof *t);
    CHECK_OK(weft_fabric_load(&t->in.fabric, "plasticine"));
    const weft_fabric *f = &t->in.fabric;
    snprintf(t->in.model, sizeof t->in.model, "tiny");
    t->in.batch = 1;
    t->g = (weft_sim_group){ .kind = WEFT_GROUP_GEMM, .chain = 1, .replicas = 1, .flops = flops, .cycles = cycles,
                             .rows = 1, .in_bytes = in_bytes, .out_bytes = out_bytes, .nnodes = 1 };
    snprintf(t->g.op, sizeof t->g.op, "linear");
    /* sites: (0,0) PCU, (0,1) PMU, (1,0) PMU — neighbours, one hop each */
    t->u[0] = (weft_sim_unit){ .kind = WEFT_UNIT_PCU, .role = WEFT_ROLE_U_COMPUTE, .group = 0, .value = -1,
                               .cycles = cycles, .slot = 0 };
    t->u[1] = (weft_sim_unit){ .kind = WEFT_UNIT_PMU, .role = WEFT_ROLE_U_ACT, .group = -1, .replica = -1, .link = -1,
                               .value = 1, .bytes = in_bytes, .slot = 1 };
    t->u[2] = (weft_sim_unit){ .kind = WEFT_UNIT_PMU, .role = WEFT_ROLE_U_ACT, .group = -1, .replica = -1, .link = -1,
                               .value = 2, .bytes = out_bytes, .slot = f->cols };
    /* in: PMU (0,1) west to (0,0); out: (0,0) south to (1,0) */
    t->links[0] = 1 * 4 + WEFT_DIR_W;
    t->links[1] = 0 * 4 + WEFT_DIR_S;
    t->n[0] = (weft_sim_net){ .src = 1, .dst = 0, .value = 1, .bytes = in_bytes, .first_link = 0, .nlinks = 1 };
    t->n[1] = (weft_sim_net){ .src = 0, .dst = 2, .value = 2, .bytes = out_bytes, .first_link = 1, .nlinks = 1 };
    t->s = (weft_sim_section){ .ngroups = 1, .nunits = 3, .nnets = 2, .rate_scale = 1 };
    t->in.ngroups = 1; t->in.groups = &t->g;
    t->in.nunits = 3; t->in.units = t->u;
    t->in.nnets = 2; t->in.nets = t->n;
    t->in.nsections = 1; t->in.sections = &t->s;
    t->in.nlinks = 2; t->in.links = t->links;
}

static void test_gemm_bound(void)
{
    /* 256 x 256 x 256 on 16 lanes x 6 stages: 2 M N K / (2 x 96) cycles; its
     * input (256 x 256 fp32 = 4096 vectors of 64 bytes) streams far faster */
    int64_t M = 256, N = 256, K = 256, flops = 2 * M * N * K, bound = flops / (2 * 16 * 6);
    tiny t;
    make_tiny(&t, bound, flops, M * K * 4, M * N * 4);
    weft_sim_result r;
    CHECK_OK(weft_simulate(&t.in, &(weft_sim_opts){ .mode = WEFT_SIM_SPATIAL }, &r));
    /* after the pipeline fills (one token's worth): within 5% of the bound */
    double fill = (double)bound / 256;
    CHECKF(r.cycles >= bound && r.cycles - fill <= 1.05 * bound, "GEMM: %lld cycles, bound %lld", (long long)r.cycles,
           (long long)bound);
    CHECK(r.peak_fraction <= 1.0);
    printf("GEMM 256^3: %lld cycles against its compute bound %lld (%.2f%%)\n", (long long)r.cycles, (long long)bound,
           100.0 * (double)r.cycles / (double)bound);
    weft_sim_result_free(&r);
}

static void test_stream_bound(void)
{
    /* relu over 1M fp32: a PMU serves a 64-byte vector a cycle, the PCU takes
     * 16 elements (a vector) a cycle: bound = 1M / 16 cycles either way */
    int64_t n = 1 << 20, bound = n / 16;
    tiny t;
    make_tiny(&t, bound, n, n * 4, n * 4);
    t.g.kind = WEFT_GROUP_MAP;
    weft_sim_result r;
    CHECK_OK(weft_simulate(&t.in, &(weft_sim_opts){ .mode = WEFT_SIM_SPATIAL }, &r));
    double fill = (double)bound / 256;
    CHECKF(r.cycles >= bound && r.cycles - fill <= 1.05 * bound, "stream: %lld cycles, bound %lld", (long long)r.cycles,
           (long long)bound);
    printf("relu 1M: %lld cycles against its bandwidth bound %lld (%.2f%%)\n", (long long)r.cycles, (long long)bound,
           100.0 * (double)r.cycles / (double)bound);
    weft_sim_result_free(&r);
    /* a slower PMU (half the banks a vector needs) halves the stream */
    t.in.fabric.pmu_banks = 8;
    CHECK_OK(weft_simulate(&t.in, &(weft_sim_opts){ .mode = WEFT_SIM_SPATIAL }, &r));
    CHECKF(r.cycles >= 2 * bound && r.cycles - fill <= 1.05 * 2 * bound, "8 banks: %lld cycles, bound %lld",
           (long long)r.cycles, (long long)(2 * bound));
    weft_sim_result_free(&r);
}

/* Plans of small zoo models, through their JSON: the roofline holds, every
 * token is taken, the kernel-by-kernel run moves every op's data off chip. */
static void test_plans(void)
{
    const struct { const char *name; int batch; weft_model_size z; weft_optimizer opt; const char *fabric; } cases[] = {
        { "mlp", 8, { 0 }, WEFT_OPT_SGD, "plasticine" },
        { "cnn", 4, { 0 }, WEFT_OPT_SGD, "sn10" },
        { "gpt-mini", 2, { .layers = 1, .heads = 2, .d_model = 16, .ctx = 8, .vocab = 256 }, WEFT_OPT_ADAMW, "plasticine" },
        { "gpt-mini", 2, { .layers = 1, .heads = 2, .d_model = 16, .ctx = 8, .vocab = 256 }, WEFT_OPT_ADAMW, "sn10" },
        { "lstm-lm", 2, { .layers = 1, .d_model = 16, .ctx = 8 }, WEFT_OPT_ADAMW, "sn10" },
        { "dlrm-small", 8, { .d_model = 4, .vocab = 256 }, WEFT_OPT_SGD, "plasticine" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        weft_graph *g = weft_graph_new();
        weft_model_io io;
        CHECK_OK(weft_model_build_sized(g, cases[c].name, cases[c].batch, &cases[c].z, &io));
        CHECK_OK(weft_pass_autodiff(g, io.loss));
        CHECK_OK(weft_pass_optimizer(g, cases[c].opt));
        CHECK_OK(weft_graph_verify(g));
        weft_fabric f;
        CHECK_OK(weft_fabric_load(&f, cases[c].fabric));
        weft_plan p;
        CHECK_OK(weft_rdu_compile(g, &f, &(weft_compile_opts){ .place = WEFT_PLACE_GREEDY, .seed = 1 }, &p));
        snprintf(p.model, sizeof p.model, "%s", cases[c].name);
        p.batch = cases[c].batch;
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        CHECK_OK(weft_plan_write_json(m, &p));
        fclose(m);
        weft_sim_input in;
        CHECK_OK(weft_sim_parse(buf, "test plan", &in));
        weft_sim_result sp, kn;
        CHECK_OK(weft_simulate(&in, &(weft_sim_opts){ .mode = WEFT_SIM_SPATIAL }, &sp));
        CHECK_OK(weft_simulate(&in, &(weft_sim_opts){ .mode = WEFT_SIM_KERNEL }, &kn));
        CHECKF(sp.peak_fraction <= 1 && kn.peak_fraction <= 1, "%s: above the roofline", cases[c].name);
        /* no section beats its slowest PCU or its off-chip bytes at the fabric's
         * bandwidth; no kernel beats max(compute, off-chip) */
        double bpc = f.dram_gbps / f.clock_ghz;
        for (int s = 0; s < in.nsections; s++) {
            const weft_sim_section *S = &in.sections[s];
            int64_t slowest = 0;
            for (int u = S->first_unit; u < S->first_unit + S->nunits; u++)
                if (in.units[u].kind == WEFT_UNIT_PCU && in.units[u].cycles > slowest) slowest = in.units[u].cycles;
            CHECKF(sp.section_cycles[s] >= slowest && sp.section_cycles[s] >= (S->dram_read + S->dram_write) / bpc,
                   "%s section %d: %lld cycles, slowest PCU %lld", cases[c].name, s, (long long)sp.section_cycles[s],
                   (long long)slowest);
        }
        for (int k = 0; k < in.ngroups; k++)
            CHECK(kn.section_cycles[k] >= (in.groups[k].in_bytes + in.groups[k].out_bytes) / bpc);
        CHECK(kn.dram_bytes > sp.dram_bytes);
        /* the granularity: 4x finer tokens move the answer by little */
        weft_sim_result fine;
        CHECK_OK(weft_simulate(&in, &(weft_sim_opts){ .mode = WEFT_SIM_SPATIAL, .waves = 1024 }, &fine));
        double ratio = (double)fine.cycles / (double)sp.cycles;
        CHECKF(ratio > 0.75 && ratio < 1.33, "%s: 1024 tokens %lld cycles, 256 tokens %lld", cases[c].name,
               (long long)fine.cycles, (long long)sp.cycles);
        weft_sim_result_free(&fine);
        printf("%-10s on %-10s spatial %10lld cycles (%5.2f%% of peak), kernel %10lld (%5.2f%%)\n", cases[c].name,
               cases[c].fabric, (long long)sp.cycles, 100 * sp.peak_fraction, (long long)kn.cycles, 100 * kn.peak_fraction);
        weft_sim_result_free(&sp);
        weft_sim_result_free(&kn);
        weft_sim_input_free(&in);
        free(buf);
        weft_plan_free(&p);
        weft_graph_free(g);
    }
}

int main(void)
{
    weft_log_set_level(WEFT_LOG_QUIET);
    test_gemm_bound();
    test_stream_bound();
    test_plans();
    return test_summary();
}
