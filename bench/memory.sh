#!/usr/bin/env bash
# Memory of every model preset under every precision policy: the peak arena
# (activations, gradients, temporaries, as planned) and the bytes of weights +
# gradients + optimizer state (the store plus the parameters' gradients;
# batch-norm statistics included), with their ratio to fp32. One training
# step each, no evaluation. The issue's bar: weights + gradients + state
# under bf16 / bf16-sr at most ~55% of fp32's, under bf16-kahan ~65%.
# Usage: bench/memory.sh [models...]
set -euo pipefail
cd "$(dirname "$0")/.."
weft=${WEFT_BIN:-build/weft}
[[ -x $weft ]] || { echo "build weft first (make)" >&2; exit 2; }
models=("$@")
(( ${#models[@]} )) || models=(mlp cnn resnet gpt-mini lstm-lm bert-tiny dlrm-small)
field() { grep -o "\"$1\": [0-9.e+-]*" | head -1 | awk '{print $2}'; }
mb() { awk -v x="$1" 'BEGIN{printf "%.1f", x / 1048576}'; }
printf '%-11s %-11s %12s %14s %9s\n' model policy "arena MiB" "w+g+state MiB" "vs fp32"
for m in "${models[@]}"; do
  extra=(); [[ $m == dlrm-small ]] && extra=(--data synthetic:1000)
  base=
  for p in fp32 mixed bf16 bf16-sr bf16-kahan; do
    j=$("$weft" train --model "$m" --precision "$p" --steps 1 --no-eval --quiet --json "${extra[@]}")
    a=$(field peak_arena_bytes <<<"$j"); s=$(field store_bytes <<<"$j"); g=$(field grad_bytes <<<"$j")
    t=$((s + g)); [[ -z $base ]] && base=$t
    printf '%-11s %-11s %12s %14s %8.1f%%\n' "$m" "$p" "$(mb "$a")" "$(mb "$t")" \
      "$(awk -v x="$t" -v y="$base" 'BEGIN{print 100 * x / y}')"
  done
done
