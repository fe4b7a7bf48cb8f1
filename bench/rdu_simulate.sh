#!/usr/bin/env bash
# The simulator's figures (docs/SIMULATOR.md): spatial against kernel by
# kernel on the same fabric, the seed's architectural claim checked.
#   zoo      every zoo model at batch 1, 8 and 64 on sn10 (bf16-sr; fp32 for
#            the models whose ops need it): cycles per step spatial and
#            kernel by kernel, the speed-up, off-chip traffic and its ratio
#   gpt2     GPT-2 small's shape (bf16-sr, batch 8) on sn10: the fraction of
#            peak both ways, and the simulation's own time
#   scaling  gpt-mini (batch 16, bf16-sr) on square sn10-like fabrics from 8x8
#            to 32x32 units: throughput, as a table and a chart (SVG)
# There is no peer to run beside it: nothing else here simulates a dataflow
# fabric; the comparison is weft's two ways of running the same graph.
# Usage: bench/rdu_simulate.sh [zoo|gpt2|scaling|all] [chart.svg]
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
chart=${2:-rdu-scaling.svg}
weft=${WEFT_BIN:-build/weft}
[[ -x $weft ]] || { echo "build weft first (make)" >&2; exit 2; }
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sim() {  # compile flags... -> JSON of both runs in $tmp/s.json; 1 on failure
  "$weft" compile "$@" -o "$tmp/p.json" --quiet 2>"$tmp/err" || { echo "compile $*: $(tail -1 "$tmp/err")"; return 1; }
  "$weft" simulate "$tmp/p.json" --json >"$tmp/s.json" 2>"$tmp/err" || { echo "simulate $*: $(tail -1 "$tmp/err")"; return 1; }
}

if [[ $what == zoo || $what == all ]]; then
  echo "spatial against kernel by kernel on sn10, one training step (bf16-sr):"
  printf '%-11s %5s %13s %13s %8s %11s %11s %9s  %s\n' model batch spatial kernel speedup "DRAM MiB" "kernel MiB" "traffic" \
    "spatial bound"
  for m in mlp cnn resnet gpt-mini lstm-lm bert-tiny dlrm-small; do
    for b in 1 8 64; do
      sim --model "$m" --batch "$b" --precision bf16-sr --fabric sn10 || continue
      $py - "$m" "$b" "$tmp/s.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[3])); s, k = j["spatial"], j["kernel"]
mib = lambda x: x / 2**20
r = k['dram_bytes'] / s['dram_bytes'] if s["dram_bytes"] else float("inf")
ratio = f"{r:.1f}x" if r < 1000 else ">1000x"
print(f"{sys.argv[1]:<11} {sys.argv[2]:>5} {s['cycles']:>13} {k['cycles']:>13} {k['cycles'] / s['cycles']:>7.2f}x "
      f"{mib(s['dram_bytes']):>11.2f} {mib(k['dram_bytes']):>11.2f} {ratio:>9}  {s['bound'][:60]}")
EOF
    done
  done
  echo
fi
if [[ $what == gpt2 || $what == all ]]; then
  echo "GPT-2 small's shape on sn10 (bf16-sr, AdamW, batch 8):"
  if sim --model gpt-mini --layers 12 --heads 12 --d-model 768 --ctx 1024 --vocab 50257 --batch 8 --precision bf16-sr \
       --fabric sn10; then
    $py - "$tmp/s.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
for mode in ("spatial", "kernel"):
    r = j[mode]
    print(f"  {mode:<8} {r['cycles']:>12} cycles, {1e3 * r['seconds']:8.2f} ms/step, {r['samples_per_s']:7.1f} samples/s, "
          f"{r['flops_per_s'] / 1e12:6.2f} TFLOP/s = {100 * r['peak_fraction']:.1f}% of peak; simulated in {r['seconds_sim']:.2f} s")
print(f"  bound (spatial): {j['spatial']['bound']}")
EOF
  fi
  echo
fi
if [[ $what == scaling || $what == all ]]; then
  echo "gpt-mini (batch 16, bf16-sr) on square fabrics (sn10's units and off-chip memory, n x n sites):"
  printf '%6s %6s %6s %9s %13s %11s %9s %13s %9s\n' grid PCUs PMUs sections "cycles/step" samples/s "% peak" "kernel cyc" speedup
  "$weft" fabric show sn10 --json >"$tmp/sn10.json"
  : >"$tmp/rows"
  for n in 8 12 16 20 24 28 32; do
    $py - "$tmp/sn10.json" "$n" >"$tmp/f$n.json" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1])); n = int(sys.argv[2])
f["name"] = f"sn10-{n}x{n}"; f["grid"]["rows"] = n; f["grid"]["cols"] = n
f["offchip"]["address_generators"] = min(f["offchip"]["address_generators"], 2 * n)
print(json.dumps(f))
EOF
    sim --model gpt-mini --batch 16 --precision bf16-sr --fabric "$tmp/f$n.json" || continue
    $py - "$n" "$tmp/s.json" <<'EOF' | tee -a "$tmp/rows"
import json, sys
n = int(sys.argv[1]); j = json.load(open(sys.argv[2])); s, k = j["spatial"], j["kernel"]
print(f"{n}x{n:<3} {n * n // 2:>6} {n * n // 2:>6} {s['sections']:>9} {s['cycles']:>13} {s['samples_per_s']:>11.0f} {100 * s['peak_fraction']:>8.2f}% "
      f"{k['cycles']:>13} {k['cycles'] / s['cycles']:>8.2f}x")
EOF
  done
  $py - "$tmp/rows" "$chart" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
if not rows: sys.exit(0)
pts = [(int(r[1]), float(r[5])) for r in rows]
W, H, L, B = 560, 340, 70, 50
xmax = max(p for p, _ in pts) * 1.05; ymax = max(v for _, v in pts) * 1.15
X = lambda x: L + (W - L - 20) * x / xmax; Y = lambda y: H - B - (H - B - 40) * y / ymax
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">gpt-mini samples/s (batch 16, bf16-sr) on square fabrics, simulated</text>',
       f'<line x1="{L}" y1="{H - B}" x2="{W - 20}" y2="{H - B}" stroke="black"/><line x1="{L}" y1="{H - B}" x2="{L}" y2="30" stroke="black"/>',
       f'<text x="{(W + L) / 2}" y="{H - 12}" text-anchor="middle">PCUs (n x n fabric, half of the sites)</text>',
       f'<text x="16" y="{(H - B) / 2}" transform="rotate(-90 16 {(H - B) / 2})" text-anchor="middle">samples/s</text>']
for p, v in pts:
    out.append(f'<text x="{X(p)}" y="{H - B + 16}" text-anchor="middle">{p}</text>')
    out.append(f'<circle cx="{X(p):.1f}" cy="{Y(v):.1f}" r="4" fill="#0072b2"><title>{p} PCUs: {v:.0f} samples/s</title></circle>')
out.append('<polyline fill="none" stroke="#0072b2" stroke-width="2" points="' + " ".join(f"{X(p):.1f},{Y(v):.1f}" for p, v in pts) + '"/>')
for i in range(5):
    y = ymax * i / 4
    out.append(f'<text x="{L - 6}" y="{Y(y) + 4:.1f}" text-anchor="end">{y:.0f}</text>')
out.append("</svg>")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print(f"chart: {sys.argv[2]}")
EOF
fi
