#!/usr/bin/env bash
# Language-model quality against PyTorch: gpt-mini or lstm-lm trained for the
# same steps and schedule on the same Brown-corpus bytes by weft (fp32 and
# bf16-sr) and by PyTorch; prints validation bits per byte side by side.
# Usage: bench/lm_quality.sh [steps] [model]   (default 300 gpt-mini; a gpt-mini
# step takes ~0.4 s in weft, ~0.8 in PyTorch; lstm-lm ~0.2 s and ~1 s)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-300}
model=${2:-gpt-mini}
weft=${WEFT_BIN:-build/weft}
[[ -x $weft && -x build/bench_brown_text ]] || { echo "build weft first (make)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/bench_brown_text "$tmp/train.txt" "$tmp/val.txt"
field() { grep -o "\"$1\": [0-9.e+-]*" | head -1 | awk '{print $2}'; }
t=$(/usr/bin/python3 bench/peers/torch_lm_brown.py --model "$model" --train "$tmp/train.txt" --val "$tmp/val.txt" --steps "$steps" --json | field val_bpb)
w=$("$weft" train --model "$model" --steps "$steps" --quiet --json | field val_bpb)
s=$("$weft" train --model "$model" --precision bf16-sr --steps "$steps" --quiet --json | field val_bpb)
printf '%s, %d steps, validation bits per byte:\n' "$model" "$steps"
printf '  weft fp32     %.4f\n  weft bf16-sr  %.4f\n  PyTorch fp32  %.4f\n' "$w" "$s" "$t"
printf '  weft fp32 - PyTorch: %+.4f   bf16-sr - fp32: %+.4f\n' \
  "$(awk -v x="$w" -v y="$t" 'BEGIN{print x-y}')" "$(awk -v x="$s" -v y="$w" 'BEGIN{print x-y}')"
