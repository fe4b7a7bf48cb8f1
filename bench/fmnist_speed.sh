#!/usr/bin/env bash
# Training speed, weft against PyTorch, on the same work in one run:
# 300 steps of batch 64 on 2 threads, mlp and cnn, weft fp32 and bf16-sr,
# PyTorch fp32 (and bf16, for the record). Prints samples/s and the ratios
# the foundation issue asks for. Usage: bench/fmnist_speed.sh [steps] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-300}
rounds=${2:-2}
weft=${WEFT_BIN:-build/weft}
py=/usr/bin/python3
peer=bench/peers/torch_fmnist.py
[[ -x $weft ]] || { echo "build weft first (make)" >&2; exit 2; }

field() { grep -o "\"$1\": [0-9.e+-]*" | head -1 | awk '{print $2}'; }
run_weft()  { "$weft" train --model "$1" --precision "$2" --steps "$steps" --batch 64 --threads 2 --no-eval --quiet --json | field samples_per_s; }
run_torch() { "$py" "$peer" --model "$1" --precision "$2" --steps "$steps" --batch 64 --threads 2 --json | field samples_per_s; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }

printf '%-5s %14s %14s %14s %14s %12s %12s\n' model weft-fp32 weft-bf16-sr torch-fp32 torch-bf16 "fp32/torch" "sr/fp32"
for m in mlp cnn; do
  wf=(); ws=(); tf=(); tb=()
  # Interleave the runs so a noisy neighbour hurts both sides alike; keep the best of each.
  for ((r = 0; r < rounds; r++)); do
    tf+=("$(run_torch "$m" fp32)")
    wf+=("$(run_weft "$m" fp32)")
    ws+=("$(run_weft "$m" bf16-sr)")
  done
  tb+=("$(run_torch "$m" bf16)")
  a=$(best "${wf[@]}"); b=$(best "${ws[@]}"); c=$(best "${tf[@]}"); d=$(best "${tb[@]}")
  printf '%-5s %14.0f %14.0f %14.0f %14.0f %11.2fx %11.2fx\n' "$m" "$a" "$b" "$c" "$d" \
    "$(awk -v x="$a" -v y="$c" 'BEGIN{print x/y}')" "$(awk -v x="$b" -v y="$a" 'BEGIN{print x/y}')"
done
