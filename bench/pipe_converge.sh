#!/usr/bin/env bash
# Does an asynchronous pipeline still converge? One model trained at S
# stages (default 8), M microbatches a step (default 1), under the
# synchronous schedule (gpipe: the same weights as exec with M-way gradient
# accumulation on the same graph) and the asynchronous
# ones: pipemare with its learning-rate rule lr = min(lr, C/tau) (C = lr),
# pipemare without it (--lr-delay-scale 0), pipemare with discrepancy
# correction too, pipemare with weight prediction (--weight-prediction), and
# pipedream (weight stashing, no rule) — every run the same
# data, initial weights and schedule. Prints the held-out metric of each beside
# the synchronous one, the delays, and pipedream's stashed weight memory.
# Runs two at a time in the deterministic one-thread mode (a core each).
# SLACK=K gives the asynchronous runs --slack K (delays (K+1)(S-1-s)).
# Usage: bench/pipe_converge.sh MODEL "TRAIN FLAGS" [precisions] [stages] [microbatches]
#   bench/pipe_converge.sh cnn "--epochs 5" "fp32 bf16-sr" 8 1
#   bench/pipe_converge.sh gpt-mini "--steps 300 --warmup 30" "fp32 bf16-sr" 8 8
set -uo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: pipe_converge.sh MODEL "TRAIN FLAGS" [precisions] [stages]}
flags=${2:-}
precs=${3:-fp32}
S=${4:-8}
M=${5:-1}
weft=${WEFT_BIN:-build/weft}
[[ -x $weft ]] || { echo "build weft first (make)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
all=("gpipe|--pipeline gpipe" "pipemare|--pipeline pipemare" "pipemare-norule|--pipeline pipemare --lr-delay-scale 0"
     "pipemare-dc|--pipeline pipemare --discrepancy-correction" "pipemare-wp|--pipeline pipemare --weight-prediction"
     "pipedream|--pipeline pipedream")
# VARIANTS="gpipe pipemare pipedream" runs only those
variants=()
for v in "${all[@]}"; do
  [[ -z ${VARIANTS:-} || " $VARIANTS " == *" ${v%%|*} "* ]] && variants+=("$v")
done
jobs=()
for p in $precs; do
  for v in "${variants[@]}"; do
    name=${v%%|*} args=${v#*|}
    [[ $name != gpipe && ${SLACK:-0} != 0 ]] && args+=" --slack $SLACK"
    # shellcheck disable=SC2086
    ( "$weft" train --model "$model" $flags --precision "$p" $args --stages "$S" --microbatches "$M" --serial --balance measured \
        --quiet --json >"$out/$p.$name.json" 2>"$out/$p.$name.err" || echo "{\"failed\": true}" >"$out/$p.$name.json" ) &
    jobs+=($!)
    if (( ${#jobs[@]} >= 2 )); then wait "${jobs[0]}"; jobs=("${jobs[@]:1}"); fi
  done
done
wait
/usr/bin/python3 - "$out" "$model" "$precs" "$S" "$M" <<'PY'
import json, os, sys
out, model, precs, S, M = sys.argv[1], sys.argv[2], sys.argv[3].split(), int(sys.argv[4]), int(sys.argv[5])
names = ["gpipe", "pipemare", "pipemare-norule", "pipemare-dc", "pipemare-wp", "pipedream"]
def load(p, n):
    try: return json.load(open(os.path.join(out, f"{p}.{n}.json")))
    except Exception: return {"failed": True}
def metric(r):
    if r.get("failed"): return None, ""
    if r.get("val_bpb") is not None: return r["val_bpb"], "val bits/byte"
    return 100 * r["test_acc"], "test accuracy %"
for p in precs:
    base, unit = metric(load(p, "gpipe"))
    print(f"{model}, {p}, {S} stages, {M} microbatch(es) a step: {unit} (synchronous: gpipe = exec with "
          f"{M}-way accumulation on the same graph)")
    print(f"  {'schedule':<16} {'metric':>9} {'vs sync':>9} {'train loss':>11} {'util':>7} {'stash MiB':>10}  delays by stage")
    for n in names:
        if not os.path.exists(os.path.join(out, f"{p}.{n}.json")): continue
        r = load(p, n)
        m, _ = metric(r)
        if m is None:
            print(f"  {n:<16} {'failed: ' + open(os.path.join(out, f'{p}.{n}.err')).read().strip()[-90:]}")
            continue
        d = "" if base is None else f"{m - base:+.3f}"
        tl = r.get("train_loss")
        tl = f"{tl:.4f}" if isinstance(tl, (int, float)) else "diverged"
        print(f"  {n:<16} {m:9.3f} {d:>9} {tl:>11} {100 * r['utilization']:6.1f}% {r['stash_bytes'] / 2**20:10.2f}  {r['delays']}")
PY
