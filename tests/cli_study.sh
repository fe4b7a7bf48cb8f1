#!/usr/bin/env bash
# `weft study precision`: bad input gets a clear error and exit status 2 and
# writes nothing; a small study prints its table and writes a JSON record and
# an HTML report whose numbers hang together (every run's loss for every
# step, the update counts, the summary against fp32), and the cancelled-
# update instrument tells nearest rounding from stochastic rounding.
# Usage: cli_study.sh path/to/weft
set -u
weft=${1:?usage: cli_study.sh path/to/weft}
. "$(dirname "$0")/lib_cli.sh"

expect 2 "usage: weft study precision" -- "$weft" study
expect 2 "unknown study 'accuracy' (valid: precision)" -- "$weft" study accuracy
expect 0 "" -- "$weft" study precision --help
grep -q -- "--policies" "$tmp/out" && ok || bad "study --help lacks --policies"
expect 2 "fp8" -- "$weft" study precision --model mlp --policies fp32,fp8
expect 2 "'fp32' is listed twice" -- "$weft" study precision --model mlp --policies fp32,bf16,fp32
expect 2 "--preset: unknown preset 'fast' (valid: paper)" -- "$weft" study precision --model mlp --preset fast
expect 2 "--seeds" -- "$weft" study precision --model mlp --seeds 0
expect 2 "--checkpoint" -- "$weft" study precision --model mlp --checkpoint x.st
touch "$tmp/afile"
expect 2 "not a directory" -- "$weft" study precision --model mlp --steps 1 --report "$tmp/afile"
expect 2 "--report" -- "$weft" study precision --model mlp --steps 1 --report "$tmp/no/such/dir"
[[ ! -e "$tmp/no" ]] && ok || bad "a failed --report left $tmp/no behind"

expect 2 "no recipe for model 'foo'" -- "$weft" study precision --preset paper --model foo
# the paper preset sets the recipe and flags override it (dlrm-small: plain SGD at 0.1, 1M clicks -> 2000)
"$weft" study precision --model dlrm-small --preset paper --steps 3 --data synthetic:2000 --policies fp32 --quiet \
  --json >"$tmp/p" 2>"$tmp/err" && /usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert (s["optimizer"], s["lr"], s["momentum"], s["steps"], s["seeds"], s["preset"]) == ("sgd", 0.1, 0, 3, 2, "paper"), s' \
  "$tmp/p" && ok || bad "study --preset paper: $(cat "$tmp/err")"
# a run whose loss becomes non-finite is a result (diverged), not a failure
"$weft" study precision --model mlp --steps 5 --lr 100000 --policies fp32,bf16 --quiet >"$tmp/d" 2>"$tmp/err" \
  && grep -q "^bf16 .*diverged" "$tmp/d" && ok || bad "diverging study: $(cat "$tmp/err" "$tmp/d")"

# A small study: 40 steps of the MLP, three policies, two seeds.
r="$tmp/report"
"$weft" study precision --model mlp --steps 40 --policies fp32,bf16,bf16-sr --seeds 2 --quiet --report "$r" \
  >"$tmp/table" 2>"$tmp/err" || bad "study run failed: $(cat "$tmp/err")"
for p in fp32 bf16 bf16-sr; do grep -q "^$p " "$tmp/table" && ok || bad "table lacks a $p row: $(cat "$tmp/table")"; done
grep -q "tolerance: the larger of 0.3" "$tmp/table" && ok || bad "table lacks the tolerance line"
[[ -s "$r/report.html" && -s "$r/study.json" ]] && ok || bad "report files missing"
[[ -z $(find "$r" -name '*.tmp.*') ]] && ok || bad "temporary files left in the report directory"
grep -c "<svg" "$r/report.html" | awk '{ exit !($1 >= 4) }' && ok || bad "report.html has fewer than 4 SVG charts"
/usr/bin/python3 - "$r/study.json" <<'EOF' && ok || bad "study.json does not hang together"
import json, math, sys
s = json.load(open(sys.argv[1]))
assert s["model"] == "mlp" and s["steps"] == 40 and s["seeds"] == 2, s
runs = s["runs"]
assert len(runs) == 6, len(runs)
for r in runs:
    assert len(r["loss"]) == 40 and all(x is not None and math.isfinite(x) for x in r["loss"]), r["policy"]
    u = r["updates"]
    assert u["steps"][0] == 1 and u["steps"][-1] == 40 and len(u["cancelled"]) == len(u["steps"])
    assert len(u["tensors"]) == 6, [t["name"] for t in u["tensors"]]   # 3 linear layers: weight, bias
    assert all(len(t["cancelled"]) == len(u["steps"]) for t in u["tensors"])
    assert r["evals"][-1]["step"] == 40 and abs(r["evals"][-1]["metric"] - r["metric"]) < 1e-9
by = {(r["policy"], r["seed"]): r for r in runs}
# the same seed starts from the same weights and data: fp32 and bf16-sr step-1 losses agree to bf16 precision
assert abs(by[("fp32", 0)]["loss"][0] - by[("bf16-sr", 0)]["loss"][0]) < 0.02
assert by[("fp32", 0)]["loss"][0] != by[("fp32", 1)]["loss"][0]   # another seed, another start
summ = {w["policy"]: w for w in s["summary"]}
assert summ["fp32"]["diff_vs_fp32"] == 0 and summ["fp32"]["within_tolerance"] is None
m = [r["metric"] for r in runs if r["policy"] == "bf16"]
assert abs(summ["bf16"]["metric_mean"] - sum(m) / 2) < 1e-6
assert abs(summ["bf16"]["diff_vs_fp32"] - (summ["bf16"]["metric_mean"] - summ["fp32"]["metric_mean"])) < 1e-6
# the mechanism: nearest rounding cancels far more updates than stochastic rounding at the end of the
# cosine schedule, and fp32 hardly any more than stochastic rounding
assert summ["bf16"]["cancelled_late"] > 0.5, summ["bf16"]
assert summ["bf16-sr"]["cancelled_late"] < 0.5 * summ["bf16"]["cancelled_late"], summ["bf16-sr"]
assert abs(summ["bf16-sr"]["cancelled_late"] - summ["fp32"]["cancelled_late"]) < 0.1
assert summ["fp32"]["bytes_per_param"] == 8 and summ["bf16"]["bytes_per_param"] == 4   # w + momentum
EOF
# --json: the same record on stdout
"$weft" study precision --model mlp --steps 5 --policies fp32 --quiet --json >"$tmp/j" 2>"$tmp/err" \
  && /usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["summary"][0]["policy"] == "fp32"' "$tmp/j" \
  && ok || bad "study --json: $(cat "$tmp/err")"

finish
