#!/usr/bin/env bash
# Time per training step and bytes per parameter of every precision policy,
# each model's policies interleaved and timed in the same run (best of
# `rounds`), as ratios to fp32: the cost side of `weft study precision`.
# bytes/param is weights + optimizer state (+ batch-norm statistics) as
# stored, per parameter. dlrm-small runs ten times the steps (its steps are
# short) with its paper preset's plain SGD.
# Usage: bench/precision_speed.sh [steps] [rounds] [models...]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-50}
rounds=${2:-2}
shift $(( $# > 2 ? 2 : $# )) || true
models=("$@")
(( ${#models[@]} )) || models=(mlp cnn resnet gpt-mini lstm-lm bert-tiny dlrm-small)
policies=(fp32 mixed bf16 bf16-sr bf16-kahan)
weft=${WEFT_BIN:-build/weft}
[[ -x $weft ]] || { echo "build weft first (make)" >&2; exit 2; }

field() { grep -o "\"$1\": [0-9.e+-]*" | head -1 | awk '{print $2}'; }

printf '%-11s' model
for p in "${policies[@]}"; do printf ' %18s' "$p ms (x fp32)"; done
printf '   bytes/param: %s\n' "${policies[*]}"
for m in "${models[@]}"; do
  n=$steps; rec=()
  [[ $m == dlrm-small ]] && { n=$((steps * 10)); rec=(--optimizer sgd --lr 0.1 --momentum 0 --data synthetic:100000); }
  declare -A best=() bpp=()
  for ((r = 0; r < rounds; r++)); do
    for p in "${policies[@]}"; do
      j=$("$weft" train --model "$m" --precision "$p" --steps $((n + 5)) --threads 2 --no-eval --quiet --json "${rec[@]}")
      sps=$(field samples_per_s <<<"$j")
      bpp[$p]=$(awk -v s="$(field store_bytes <<<"$j")" -v n="$(field params <<<"$j")" 'BEGIN{printf "%.2f", s/n}')
      if [[ -z ${best[$p]:-} ]] || awk -v a="$sps" -v b="${best[$p]}" 'BEGIN{exit !(a > b)}'; then best[$p]=$sps; fi
    done
  done
  batch=$(field batch <<<"$j")
  printf '%-11s' "$m"
  f=$(awk -v s="${best[fp32]}" -v b="$batch" 'BEGIN{print 1000 * b / s}')
  for p in "${policies[@]}"; do
    ms=$(awk -v s="${best[$p]}" -v b="$batch" 'BEGIN{print 1000 * b / s}')
    printf ' %10.2f (%4.2fx)' "$ms" "$(awk -v a="$ms" -v b="$f" 'BEGIN{print a / b}')"
  done
  printf '   '
  for p in "${policies[@]}"; do printf ' %s' "${bpp[$p]}"; done
  printf '\n'
  unset best bpp
done
