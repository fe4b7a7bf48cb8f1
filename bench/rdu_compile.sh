#!/usr/bin/env bash
# The dataflow compiler's figures (docs/COMPILER.md):
#   zoo      every zoo model's training step at its preset batch, compiled onto
#            both presets: sections, units, on-chip and off-chip bytes, routes
#   gpt2     GPT-2 small's shape (12 layers, 12 heads, d 768, context 1024,
#            vocabulary 50257; bf16-sr, AdamW, batch 8) on sn10: time per phase
# No peer runs here: nothing else on this machine compiles for a dataflow
# fabric; the comparisons are within weft (placements, fabrics, batch sizes).
#   quality  annealed against greedy and random placement for three models:
#            routed wirelength, traffic (rate x hops), the worst link's use, and
#            the sections the network slowed (routes legal only at a lower rate)
# Usage: bench/rdu_compile.sh [zoo|gpt2|quality|all]
set -uo pipefail
cd "$(dirname "$0")/.."
trap 'rm -f /tmp/rdu_err.$$ /tmp/rdu_plan.$$ /tmp/rdu_json.$$' EXIT
what=${1:-all}
weft=${WEFT_BIN:-build/weft}
[[ -x $weft ]] || { echo "build weft first (make)" >&2; exit 2; }
py=/usr/bin/python3
models="mlp cnn resnet gpt-mini lstm-lm bert-tiny dlrm-small"

row() {  # $1 label, $2 the compile's JSON summary -> one table row
  $py - "$1" "$2" <<'EOF'
import json, sys
j = json.load(open(sys.argv[2]))
mib = lambda b: f"{b / 2**20:.1f}"
print(f"{sys.argv[1]:<22} {j['batch']:>5} {j['sections']:>3} {j['groups']:>5} {j['pcu_units']:>5} {j['pmu_units']:>5} "
      f"{j['ag_units']:>4} {mib(j['onchip_bytes']):>9} {mib(j['dram_bytes_per_step']):>10} {j['wirelength']:>8} "
      f"{j['worst_link_use']:>6.2f} {j['seconds_lower']:>6.3f} {j['seconds_place']:>6.2f} {j['seconds_route']:>6.2f}")
EOF
}
header() {
  printf '%-22s %5s %3s %5s %5s %5s %4s %9s %10s %8s %6s %6s %6s %6s\n' "$1" batch sec groups PCU PMU AG "chip MiB" \
    "DRAM MiB" wirelen worst lower place route
}

if [[ $what == zoo || $what == all ]]; then
  for fab in plasticine sn10; do
    echo "every zoo model's training step on $fab (fp32 on plasticine, bf16-sr on sn10; preset batch):"
    header model
    prec=fp32; [[ $fab == sn10 ]] && prec=bf16-sr
    for m in $models; do
      if "$weft" compile --model "$m" --fabric "$fab" --precision "$prec" --json >/tmp/rdu_json.$$ 2>/tmp/rdu_err.$$; then
        row "$m" /tmp/rdu_json.$$
      else echo "$m: failed: $(tail -1 /tmp/rdu_err.$$)"; fi
    done
    echo
  done
fi
if [[ $what == gpt2 || $what == all ]]; then
  echo "GPT-2 small's shape on sn10 (bf16-sr, AdamW), compile time per phase:"
  header model
  for b in 1 8; do
    if /usr/bin/time -f "  wall %e s, peak memory %M KiB" "$weft" compile --model gpt-mini --layers 12 --heads 12 \
         --d-model 768 --ctx 1024 --vocab 50257 --batch "$b" --precision bf16-sr --fabric sn10 --json \
         >/tmp/rdu_json.$$ 2>/tmp/rdu_err.$$; then
      row "gpt2-small" /tmp/rdu_json.$$
      tail -1 /tmp/rdu_err.$$
    else echo "failed: $(tail -1 /tmp/rdu_err.$$)"; fi
  done
  echo
fi
if [[ $what == quality || $what == all ]]; then
  for fab in plasticine sn10; do
    echo "placement quality on $fab (fp32; the same lowering, three placements):"
    printf '%-12s %-7s %8s %10s %6s %8s %7s %7s\n' model place wirelen traffic worst slowed place_s route_s
    for m in cnn gpt-mini bert-tiny; do
      for pl in random greedy anneal; do
        "$weft" compile --model "$m" --fabric "$fab" --place "$pl" --json >/tmp/rdu_json.$$ 2>/tmp/rdu_err.$$ \
          || { echo "$m $pl: failed: $(tail -1 /tmp/rdu_err.$$)"; continue; }
        $py - "$m" "$pl" /tmp/rdu_json.$$ <<'EOF'
import json, sys
j = json.load(open(sys.argv[3]))
print(f"{sys.argv[1]:<12} {sys.argv[2]:<7} {j['wirelength']:>8} {j['traffic']:>10.1f} {j['worst_link_use']:>6.2f} "
      f"{j['network_bound_sections']:>8} {j['seconds_place']:>7.2f} {j['seconds_route']:>7.2f}")
EOF
      done
    done
    echo
  done
fi
rm -f /tmp/rdu_err.$$ /tmp/rdu_plan.$$ /tmp/rdu_json.$$
