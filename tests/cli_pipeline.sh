#!/usr/bin/env bash
# `weft pipeline` and `weft train --pipeline`: bad input gets a clear error
# and exit status 2 and writes nothing; a small run of every schedule prints
# the stage table and the utilization table, measures the delays the table
# promises, writes a timeline and a report; a synchronous pipeline trains
# the same weights as plain training (M = 1), a thread per stage the same as
# one thread; every precision policy composes.
# Usage: cli_pipeline.sh path/to/weft
set -u
weft=${1:?usage: cli_pipeline.sh path/to/weft}
. "$(dirname "$0")/lib_cli.sh"
py=/usr/bin/python3

expect 0 "" -- "$weft" pipeline --help
grep -q -- "--microbatches" "$tmp/out" && ok || bad "pipeline --help lacks --microbatches"
expect 2 "--pipeline zigzag: unknown schedule (valid: gpipe, 1f1b, pipedream, pipemare)" -- "$weft" pipeline --model mlp --pipeline zigzag
expect 2 "--pipeline zigzag" -- "$weft" train --model mlp --pipeline zigzag
expect 2 "--stages" -- "$weft" pipeline --model mlp --stages 0
expect 2 "at most" -- "$weft" pipeline --model mlp --stages 40 --no-op-split
expect 2 "--microbatches 5 must divide --batch 64" -- "$weft" pipeline --model mlp --microbatches 5
expect 2 "--split 2: 1 cut points; --stages 3 needs 2" -- "$weft" pipeline --model mlp --stages 3 --split 2
expect 2 "--split: cut 2 is 2; cuts must increase" -- "$weft" pipeline --model mlp --stages 3 --split 2,2
expect 2 "'x' is not a whole number" -- "$weft" pipeline --model mlp --stages 2 --split x
expect 2 "--balance fast" -- "$weft" pipeline --model mlp --balance fast
expect 2 "--stages: only with --pipeline SCHEDULE" -- "$weft" train --model mlp --stages 3
expect 2 "--discrepancy-correction: only with --pipeline pipemare" -- "$weft" train --model mlp --pipeline gpipe --discrepancy-correction
expect 2 "--lr-delay-scale: only with --pipeline pipemare" -- "$weft" pipeline --model mlp --pipeline gpipe,1f1b --lr-delay-scale 2
expect 2 "--discrepancy-correction: under mixed" -- "$weft" train --model mlp --pipeline pipemare --precision mixed --discrepancy-correction
expect 2 "--weight-prediction: only with --pipeline pipemare" -- "$weft" train --model mlp --pipeline 1f1b --weight-prediction
expect 2 "one or the other" -- "$weft" train --model mlp --pipeline pipemare --weight-prediction --discrepancy-correction
expect 2 "--checkpoint-every: with --pipeline, give --checkpoint FILE too" -- "$weft" train --model mlp --pipeline gpipe --checkpoint-every 2
expect 2 "--resume: not with --weight-prediction" -- "$weft" train --model mlp --pipeline pipemare --weight-prediction --resume x.st
expect 2 "x.st: cannot open" -- "$weft" train --model mlp --pipeline gpipe --resume "$tmp/x.st"
expect 2 "--data-parallel: only with --backend mpi" -- "$weft" train --model mlp --pipeline gpipe --data-parallel 2
expect 2 "--backend: only with --pipeline" -- "$weft" train --model mlp --backend mpi
expect 2 "--backend tcp: valid are threads, mpi" -- "$weft" train --model mlp --pipeline gpipe --backend tcp
expect 2 "--slack 1: only with an asynchronous schedule (pipedream, pipemare); 1f1b drains every step" -- "$weft" train --model mlp --pipeline 1f1b --slack 1
expect 2 "--slack 1: only with an asynchronous schedule" -- "$weft" pipeline --model mlp --pipeline gpipe,1f1b --slack 1
expect 2 "--slack: only with --pipeline SCHEDULE" -- "$weft" train --model mlp --slack 1
expect 2 "--slack" -- "$weft" pipeline --model mlp --slack 17
expect 2 "sparse gradient" -- "$weft" pipeline --model dlrm-small --data synthetic:2000 --microbatches 2 --batch 128
expect 2 "--timeline" -- "$weft" pipeline --model mlp --stages 2 --steps 1 --pipeline gpipe --timeline "$tmp/no/such/t.svg"
[[ ! -e "$tmp/no" ]] && ok || bad "a failed --timeline left files behind"

# Every schedule on the MLP: 3 stages, 2 microbatches, 6 steps.
"$weft" pipeline --model mlp --stages 3 --microbatches 2 --steps 6 --timeline "$tmp/t.svg" --report "$tmp/r" \
  --show-schedule 12 --json >"$tmp/p.json" 2>"$tmp/p.txt" && ok || bad "pipeline run: $(tail -3 "$tmp/p.txt")"
grep -q "cut into 3 stages" "$tmp/p.txt" && ok || bad "no stage table: $(head -5 "$tmp/p.txt")"
grep -q "schedule 1f1b: 3 stages" "$tmp/p.txt" && ok || bad "--show-schedule printed no table"
$py - "$tmp/p.json" <<'EOF' && ok || bad "pipeline JSON: $(cat "$tmp/p.json")"
import json, sys
p = json.load(open(sys.argv[1]))
runs = {r["schedule"]: r for r in p["runs"]}
assert set(runs) == {"gpipe", "1f1b", "pipedream", "pipemare"}, runs.keys()
for name, r in runs.items():
    assert 0 < r["utilization"] <= 1 and 0 < r["utilization_steady"] <= 1, r
    for s, st in enumerate(r["stages"]):
        # the runtime's delays are the table's: 0 for the synchronous ones;
        # for the asynchronous ones at most S-1-s updates (M=2: every other backward)
        assert st["tau_max"] == st["table_tau"], (name, s, st)
        assert 0 <= st["spread"] < 10, (name, s, st)   # (p90 - p10) / median of its backward times
        if name in ("gpipe", "1f1b"): assert st["tau_max"] == 0
assert runs["pipedream"]["stash_bytes"] > 0 and runs["pipemare"]["stash_bytes"] == 0
assert runs["gpipe"]["closed_form"] == 1 - 2 / 4 and runs["pipemare"]["closed_form"] is None
EOF
# --slack 2: the asynchronous schedules run (2+1)(S-1-s) forwards ahead, and
# the runtime's delays are the table's (M = 1: exactly that many updates).
"$weft" pipeline --model mlp --stages 3 --steps 8 --slack 2 --pipeline gpipe,pipedream,pipemare --json \
  >"$tmp/k.json" 2>"$tmp/k.txt" && ok || bad "--slack 2: $(tail -3 "$tmp/k.txt")"
grep -q "pipemare: 8 steps of 1 microbatch, slack 2" "$tmp/k.txt" && ok || bad "--slack 2 not reported: $(grep steps "$tmp/k.txt")"
$py - "$tmp/k.json" <<'EOF' && ok || bad "--slack 2 JSON: $(cat "$tmp/k.json")"
import json, sys
runs = {r["schedule"]: r for r in json.load(open(sys.argv[1]))["runs"]}
assert runs["gpipe"]["slack"] == 0 and runs["pipedream"]["slack"] == 2 and runs["pipemare"]["slack"] == 2, runs
for name in ("pipedream", "pipemare"):
    assert [st["table_tau"] for st in runs[name]["stages"]] == [6, 3, 0], (name, runs[name]["stages"])
    assert [st["tau_max"] for st in runs[name]["stages"]] == [6, 3, 0], (name, runs[name]["stages"])
EOF

head -c 5 "$tmp/t.svg" | grep -q "<svg" && grep -q "</svg>" "$tmp/t.svg" && ok || bad "timeline is not an SVG"
grep -q "<svg" "$tmp/r/report.html" && $py -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/r/pipeline.json" \
  && ok || bad "report"

# --balance measured: two rounds of timed streams, then the cut by those times.
"$weft" pipeline --model mlp --stages 3 --steps 2 --pipeline pipemare --balance measured --json \
  >"$tmp/m.json" 2>"$tmp/m.txt" && grep -q "balanced by measured cost" "$tmp/m.txt" \
  && $py -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; assert 0 < r["utilization"] <= 1' "$tmp/m.json" \
  && ok || bad "--balance measured: $(tail -3 "$tmp/m.txt")"

# A synchronous pipeline with one microbatch trains exactly what exec trains
# on one thread (a stage is one thread; on two, exec splits its GEMMs and
# sums in another order), on the model's own ops (splitting heavy ops
# changes the graph).
"$weft" train --model mlp --steps 8 --no-eval --quiet --threads 1 --checkpoint "$tmp/exec.st" 2>"$tmp/err" && ok || bad "exec train: $(cat "$tmp/err")"
for sched in gpipe 1f1b; do
  "$weft" train --model mlp --steps 8 --no-eval --quiet --pipeline $sched --stages 3 --no-op-split --checkpoint "$tmp/$sched.st" \
    2>"$tmp/err" && ok || bad "train --pipeline $sched: $(cat "$tmp/err")"
done
$py "$(dirname "$0")/st_same.py" "$tmp/exec.st" "$tmp/gpipe.st" "$tmp/1f1b.st" && ok || bad "pipelined weights differ from exec's"

# Threads and one thread: the same weights, for an asynchronous schedule in bf16-sr.
for mode in "" --serial; do
  "$weft" train --model mlp --steps 6 --no-eval --quiet --pipeline pipemare --stages 4 --microbatches 2 \
    --precision bf16-sr --discrepancy-correction $mode --checkpoint "$tmp/pm$mode.st" 2>"$tmp/err" \
    && ok || bad "pipemare $mode: $(cat "$tmp/err")"
done
cmp -s "$tmp/pm.st" "$tmp/pm--serial.st" && ok || bad "pipemare: threads and --serial differ"

# Checkpoints between whole schedules: a run stopped at step 4 and resumed
# ends on the weights of the run that went through (both in chunks of 2).
"$weft" train --model mlp --steps 6 --no-eval --quiet --pipeline pipedream --stages 3 --microbatches 2 \
  --precision bf16-sr --checkpoint "$tmp/whole.st" --checkpoint-every 2 2>"$tmp/err" && ok || bad "whole: $(cat "$tmp/err")"
"$weft" train --model mlp --steps 6 --no-eval --quiet --pipeline pipedream --stages 3 --microbatches 2 \
  --precision bf16-sr --checkpoint "$tmp/cut.st" --checkpoint-every 2 --stop-at 4 2>"$tmp/err" && ok || bad "stop: $(cat "$tmp/err")"
"$weft" train --resume "$tmp/cut.st" --no-eval --quiet --pipeline pipedream --stages 3 --microbatches 2 \
  --checkpoint "$tmp/cut.st" --checkpoint-every 2 2>"$tmp/err" && ok || bad "resume: $(cat "$tmp/err")"
$py "$(dirname "$0")/st_same.py" "$tmp/whole.st" "$tmp/cut.st" && ok || bad "a resumed pipeline differs"
# The slack changes every delay: a resume must repeat it.
expect 2 "--slack 1: $tmp/cut.st was saved with slack 0 (each stage's delays would change); give --slack 0" -- \
  "$weft" train --resume "$tmp/cut.st" --no-eval --quiet --pipeline pipedream --stages 3 --microbatches 2 --slack 1 \
  --checkpoint "$tmp/cut2.st" --checkpoint-every 2

# Every policy composes with a pipeline; the summary reports it.
for p in fp32 mixed bf16 bf16-sr bf16-kahan; do
  "$weft" train --model cnn --steps 3 --batch 8 --no-eval --pipeline pipedream --stages 4 --precision $p \
    >"$tmp/o" 2>"$tmp/err" && grep -q "utilization" "$tmp/o" && ok || bad "cnn $p pipedream: $(cat "$tmp/err")"
done
"$weft" train --model gpt-mini --steps 2 --batch 4 --microbatches 2 --no-eval --pipeline 1f1b --stages 4 --json \
  >"$tmp/g.json" 2>"$tmp/err" && $py -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["pipeline"] == "1f1b" and r["stages"] == 4 and r["delays"] == [0, 0, 0, 0], r' "$tmp/g.json" \
  && ok || bad "gpt-mini 1f1b: $(cat "$tmp/err")"

finish
