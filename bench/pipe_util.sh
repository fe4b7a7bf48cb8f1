#!/usr/bin/env bash
# Pipeline utilization over S stages and M microbatches a step, every
# schedule, measured on the virtual clock (each stage its own device, charged
# the measured time of its own work) beside the closed form of the
# synchronous schedules, 1 - (S-1)/(M+S-1). Each cell is a run of the same
# number of microbatches (default 256: steps = 256/M), cut with measured
# balance, with a thread per stage; each action is charged its thread's CPU
# time, so the figure does not depend on how S threads share 2 cores; the
# caches and memory bandwidth they (and other work) share still move it. PIPE_SERIAL=1 runs the one-thread mode instead
# (wall time per action: run it on an idle machine). "steady" is pipemare's
# utilization with every action charged its stage's median for its kind: the
# host's noise out, the stages' imbalance kept. SLACK=K runs pipedream and
# pipemare with --slack K (K more iterations in flight per stage boundary).
# Usage: bench/pipe_util.sh MODEL [precision] [microbatches per run] ["S list"] ["M list"]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: pipe_util.sh MODEL [precision] [microbatches] [S list] [M list]}
prec=${2:-fp32}
nmb=${3:-256}
Ss=${4:-"2 4 8"}
Ms=${5:-"1 4 8"}
weft=${WEFT_BIN:-build/weft}
mode=""
[[ ${PIPE_SERIAL:-0} == 1 ]] && mode=--serial
slack=${SLACK:-0}
err=$(mktemp)
trap 'rm -f "$err"' EXIT
[[ -x $weft ]] || { echo "build weft first (make)" >&2; exit 2; }
echo "$model, $prec: utilization on the virtual clock, $nmb microbatches a run, slack $slack (closed form: gpipe/1f1b with equal stages)"
printf '%3s %3s %9s %9s %9s %10s %9s %8s %11s  %s\n' S M closed gpipe 1f1b pipedream pipemare steady "mare/gpipe" "balance (best possible)"
for S in $Ss; do
  for M in $Ms; do
    j=$("$weft" pipeline --model "$model" --precision "$prec" --stages "$S" --microbatches "$M" \
        --steps $((nmb / M)) $mode --slack "$slack" --balance measured --json 2>"$err") \
      || { echo "S=$S M=$M failed: $(tail -1 "$err")"; continue; }
    bal=$(grep -o "at best [0-9]*%" "$err" | head -1 || true)
    /usr/bin/python3 - "$j" "$bal" <<'PY'
import json, sys
j = json.loads(sys.argv[1]); S, M = j["stages"], j["microbatches"]
u = {r["schedule"]: r["utilization"] for r in j["runs"]}
v = {r["schedule"]: r["utilization_steady"] for r in j["runs"]}
print(f"{S:3d} {M:3d} {100 * (1 - (S - 1) / (M + S - 1)):8.1f}% {100 * u['gpipe']:8.1f}% {100 * u['1f1b']:8.1f}% "
      f"{100 * u['pipedream']:9.1f}% {100 * u['pipemare']:8.1f}% {100 * v['pipemare']:7.1f}% "
      f"{u['pipemare'] / u['gpipe']:10.2f}x  {sys.argv[2]}")
PY
  done
done
