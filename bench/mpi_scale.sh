#!/usr/bin/env bash
# weft across processes (--backend mpi, OpenMPI on this machine) beside
# PyTorch's DistributedDataParallel (gloo), measured in the same run:
#   1. throughput, samples/s, of 1 rank against 2 ranks as two replicas of
#      the step's batch (data parallel) and as two pipeline stages (1f1b, 4
#      microbatches), and a thread per stage in one process for the overhead
#      of the messages; PyTorch with 1 and 2 processes (one thread each);
#   2. bytes each rank sends a step between two stages cut at a clean
#      boundary, against the closed-form size of the activation that
#      crosses (and its gradient back);
#   3. a replica killed (SIGKILL) or hung (SIGSTOP) mid-run, 5 s timeouts:
#      how long until the other stops, weft beside PyTorch DDP.
# Usage: bench/mpi_scale.sh [cnn steps] [gpt-mini steps]   (default 60 20)
set -euo pipefail
cd "$(dirname "$0")/.."
weft=${WEFT_BIN:-build/weft}
[[ -x $weft ]] || { echo "build weft first (make)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "mpirun is missing (scripts/deps.sh)" >&2; exit 2; }
mpi=(mpirun --oversubscribe -np)
[[ $(id -u) -eq 0 ]] && mpi=(mpirun --allow-run-as-root --oversubscribe -np)
steps_cnn=${1:-60}
steps_gpt=${2:-20}
err=$(mktemp)
trap 'rm -f "$err"' EXIT
py=/usr/bin/python3
field() { $py -c 'import json,sys; r=json.loads(sys.argv[1]); print(r[sys.argv[2]])' "$1" "$2"; }

# samples/s of one weft run: $1 ranks (0: no mpirun), the rest its flags
weft_rate() {
  local n=$1; shift
  local j
  if [[ $n -eq 0 ]]; then j=$("$weft" train "$@" --no-eval --quiet --json 2>"$err")
  else j=$("${mpi[@]}" "$n" "$weft" train "$@" --backend mpi --no-eval --quiet --json 2>"$err"); fi \
    || { echo "failed: $(tail -2 "$err")" >&2; echo nan; return; }
  field "$j" samples_per_s
}

echo "== throughput (samples/s; 2 cores; each rank or thread one core's worth)"
printf '%-9s %-44s %10s %8s\n' model run samples/s "vs 1"
for model in cnn gpt-mini; do
  if [[ $model == cnn ]]; then st=$steps_cnn; B=64; else st=$steps_gpt; B=16; fi
  base=(--model "$model" --steps "$st" --batch "$B")
  one=$(weft_rate 1 "${base[@]}" --pipeline 1f1b --stages 1)
  dp=$(weft_rate 2 --model "$model" --steps "$st" --batch $((B / 2)) --pipeline 1f1b --stages 1 --data-parallel 2)
  pp=$(weft_rate 2 "${base[@]}" --pipeline 1f1b --stages 2 --microbatches 4)
  th=$(weft_rate 0 "${base[@]}" --pipeline 1f1b --stages 2 --microbatches 4)
  t1=$(cd bench/peers && $py torch_ddp.py --model "$model" --procs 1 --batch "$B" --steps "$st" --json 2>"$err" \
       | $py -c 'import json,sys; print(json.load(sys.stdin)["samples_per_s"])' || echo nan)
  t2=$(cd bench/peers && $py torch_ddp.py --model "$model" --procs 2 --batch "$B" --steps "$st" --json 2>"$err" \
       | $py -c 'import json,sys; print(json.load(sys.stdin)["samples_per_s"])' || echo nan)
  $py - "$model" "$one" "$dp" "$pp" "$th" "$t1" "$t2" <<'PY'
import sys
m, one, dp, pp, th, t1, t2 = sys.argv[1], *map(float, sys.argv[2:])
rows = [("weft, 1 rank", one, one), ("weft, 2 ranks: 2 replicas (data parallel)", dp, one),
        ("weft, 2 ranks: 2 stages (1f1b, M=4)", pp, one), ("weft, 2 threads: 2 stages (1f1b, M=4)", th, one),
        ("pytorch DDP, 1 process", t1, t1), ("pytorch DDP, 2 processes", t2, t1)]
for name, v, ref in rows:
    print(f"{m:9s} {name:44s} {v:10.1f} {v / ref:7.2f}x")
print(f"{m:9s} {'weft / pytorch, 1 and 2 (replicas)':44s} {one / t1:9.2f}x {dp / t2:7.2f}x")
PY
done

echo
echo "== bytes a rank sends a step between 2 stages, against the closed form"
# cnn cut after conv1+pool: (64, 32, 14, 14) floats forward, their gradient back.
# gpt-mini cut after 2 of its 4 blocks: the residual stream (16, 128, 256)
# forward and back, and the tied embedding (256 x 256): the head on stage 1
# reads the copy stage 0 holds, and sends its gradient back.
for spec in "cnn 2 64*32*14*14*4 64*32*14*14*4" "gpt-mini 28 16*128*256*4+256*256*4 16*128*256*4+256*256*4"; do
  read -r model cut fwd bwd <<<"$spec"
  j=$("${mpi[@]}" 2 "$weft" train --model "$model" --pipeline 1f1b --stages 2 --no-op-split --split "$cut" \
      --steps 3 --backend mpi --no-eval --quiet --json 2>"$err") || { echo "$model failed: $(tail -2 "$err")"; continue; }
  $py - "$j" "$model" "$((fwd))" "$((bwd))" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); m = sys.argv[2]; f, b = int(sys.argv[3]), int(sys.argv[4])
s = r["sent_bytes_per_step"]
print(f"{m:9s} stage 0 sends {s[0]:>9d} (closed form {f:>9d}, {s[0] / f:.3f}x); "
      f"stage 1 sends {s[1]:>9d} (closed form {b:>9d}, {s[1] / b:.3f}x)")
PY
done

echo
echo "== a replica killed or hung mid-run (cnn, 2 replicas, timeouts 5 s): seconds until the other stopped"
rank_pid() {   # the pid of weft's rank $1
  for p in $(pgrep -f "weft train --model cnn --pipeline 1f1b --stages 1"); do
    tr '\0' '\n' </proc/$p/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && { echo $p; return; }
  done
}
for sig in KILL STOP; do
  "${mpi[@]}" 2 "$weft" train --model cnn --pipeline 1f1b --stages 1 --batch 32 --data-parallel 2 --steps 2000 \
    --backend mpi --mpi-timeout 5 --no-eval --quiet >/dev/null 2>"$err" &
  job=$!
  sleep 3
  victim=$(rank_pid 1)
  t0=$(date +%s%N)
  [[ -n $victim ]] && kill -$sig "$victim"
  wait $job || true
  w=$(( ($(date +%s%N) - t0) / 1000000 ))
  fail=kill; [[ $sig == STOP ]] && fail=hang
  t=$(cd bench/peers && $py torch_ddp.py --model cnn --procs 2 --batch 64 --steps 2000 --fail $fail --fail-at 40 \
      --timeout 5 --limit 60 --json 2>/dev/null | $py -c 'import json,sys; r=json.load(sys.stdin); t = r["seconds_to_end"]; print("-" if t is None else "%.2f" % t, r["ended"], sep="|")' \
      || echo "nan|failed")
  printf '%-5s weft: %6.2f s (mpirun ended the job)   pytorch DDP: %s s (%s)\n' "$fail" "$(echo "$w / 1000" | bc -l)" "${t%%|*}" "${t#*|}"
done
