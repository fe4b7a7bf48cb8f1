#!/usr/bin/env bash
# Training speed of the language/recommendation presets, weft against the
# PyTorch peer (bench/peers/torch_models.py) on the same shapes, in one run.
# gpt-mini (batch 16, context 128, AdamW), lstm-lm (16 x 64, AdamW),
# bert-tiny (32 x 128, AdamW), dlrm-small (128, SGD): weft fp32 and bf16-sr
# against PyTorch fp32, best of `rounds`, each the peer's recipe (AdamW lr
# 1e-3; dlrm-small SGD lr 0.1 without momentum).
# Usage: bench/models_speed.sh [steps] [rounds] [models...]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-20}
rounds=${2:-2}
shift $(( $# > 2 ? 2 : $# )) || true
models=("$@")
(( ${#models[@]} )) || models=(gpt-mini lstm-lm bert-tiny dlrm-small)
weft=${WEFT_BIN:-build/weft}
py=/usr/bin/python3
[[ -x $weft ]] || { echo "build weft first (make)" >&2; exit 2; }

field() { grep -o "\"$1\": [0-9.e+-]*" | head -1 | awk '{print $2}'; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }

printf '%-11s %12s %14s %12s %12s %10s\n' model weft-fp32 weft-bf16-sr torch-fp32 "fp32/torch" "sr/fp32"
for m in "${models[@]}"; do
  # dlrm steps are short: time ten times as many; the peer trains it with SGD
  n=$steps; rec=(); [[ $m == dlrm-small ]] && { n=$((steps * 10)); rec=(--optimizer sgd --lr 0.1 --momentum 0 --data synthetic:100000); }
  wf=(); ws=(); tf=()
  for ((r = 0; r < rounds; r++)); do
    tf+=("$("$py" bench/peers/torch_models.py --model "$m" --steps "$n" --threads 2 --json | field samples_per_s)")
    wf+=("$("$weft" train --model "$m" --steps $((n + 5)) --threads 2 --no-eval --quiet --json "${rec[@]}" | field samples_per_s)")
    ws+=("$("$weft" train --model "$m" --precision bf16-sr --steps $((n + 5)) --threads 2 --no-eval --quiet --json "${rec[@]}" | field samples_per_s)")
  done
  a=$(best "${wf[@]}"); b=$(best "${ws[@]}"); c=$(best "${tf[@]}")
  printf '%-11s %12.1f %14.1f %12.1f %9.2fx %9.2fx\n' "$m" "$a" "$b" "$c" \
    "$(awk -v x="$a" -v y="$c" 'BEGIN{print x/y}')" "$(awk -v x="$b" -v y="$a" 'BEGIN{print x/y}')"
done
