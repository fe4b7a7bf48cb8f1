/* sim_int.h — the simulator's files share one section's run. */
#ifndef WEFT_SIM_INT_H
#define WEFT_SIM_INT_H

#include "weft/rdu.h"

/* Runs section s of the plan spatially; fills r's per-section and per-unit
 * and per-link entries for it. */
weft_status weft_sim_run_section(const weft_sim_input *in, int s, const weft_sim_opts *o, weft_sim_result *r);

#endif
