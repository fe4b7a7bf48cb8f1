#!/usr/bin/env bash
# Tagging quality against PyTorch: bert-tiny trained for the same steps and
# recipe on the same Brown tagging data (build/bench_brown_tags) by weft
# (fp32) and by PyTorch (bench/peers/torch_tagging.py); validation accuracy
# side by side, with the most-frequent-tag baseline.
# Usage: bench/tag_quality.sh [steps] [warmup]   (default 255 = one epoch, 0;
# a step takes ~0.12 s in weft, ~0.35 s in PyTorch)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-255}
warmup=${2:-0}
weft=${WEFT_BIN:-build/weft}
[[ -x $weft && -x build/bench_brown_tags ]] || { echo "build weft first (make)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/bench_brown_tags "$tmp/train.bin" "$tmp/val.bin"
field() { grep -o "\"$1\": [0-9.e+-]*" | head -1 | awk '{print $2}'; }
t=$(/usr/bin/python3 bench/peers/torch_tagging.py --train "$tmp/train.bin" --val "$tmp/val.bin" --steps "$steps" --warmup "$warmup" --json)
w=$("$weft" train --model bert-tiny --steps "$steps" --warmup "$warmup" --quiet --json)
printf 'bert-tiny, %d steps, validation accuracy on Brown universal tags:\n' "$steps"
printf '  weft fp32      %.2f%%\n  PyTorch fp32   %.2f%%\n  baseline       %.2f%%  (most frequent tag per word)\n' \
  "$(awk -v x="$(field test_acc <<<"$w")" 'BEGIN{print 100 * x}')" "$(awk -v x="$(field test_acc <<<"$t")" 'BEGIN{print 100 * x}')" \
  "$(awk -v x="$(field baseline_acc <<<"$w")" 'BEGIN{print 100 * x}')"
