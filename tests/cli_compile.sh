#!/usr/bin/env bash
# `weft fabric`, `weft compile` and `weft simulate`: presets show; bad
# fabrics, flags, precisions and plans get a clear error, exit status 2 and no
# file; a compile writes a plan whose JSON matches its summary, a fabric
# picture, and passes the functional check; sections appear when the fabric
# is too small; a plan simulates both ways, within the roofline, every token
# taken, with its utilization map and report.
# Usage: cli_compile.sh path/to/weft
set -u
weft=${1:?usage: cli_compile.sh path/to/weft}
. "$(dirname "$0")/lib_cli.sh"
py=/usr/bin/python3

expect 0 "" -- "$weft" fabric list
grep -q "plasticine" "$tmp/out" && grep -q "sn10" "$tmp/out" && ok || bad "fabric list lacks a preset"
expect 0 "" -- "$weft" fabric show sn10
grep -q "640" "$tmp/out" && ok || bad "fabric show sn10 lacks its 640 PCUs"
"$weft" fabric show plasticine --json >"$tmp/p.json" && ok || bad "fabric show --json failed"
expect 0 "" -- "$weft" fabric show "$tmp/p.json"
sed 's/"lanes": 16/"lanes": 0/' "$tmp/p.json" >"$tmp/bad.json"
expect 2 "pcu.lanes" -- "$weft" fabric show "$tmp/bad.json"
expect 2 "pcu.lanes" -- "$weft" compile --model mlp --fabric "$tmp/bad.json" -o "$tmp/never.json"
[[ ! -e $tmp/never.json ]] && ok || bad "a failed compile left a plan"
expect 2 "nosuch" -- "$weft" compile --model mlp --fabric nosuch
expect 2 "--place" -- "$weft" compile --model mlp --place nowhere
expect 2 "fp32 only" -- "$weft" compile --model mlp --precision bf16-sr --fabric plasticine
expect 2 "unknown flag" -- "$weft" compile --model mlp --stages 2
expect 0 "" -- "$weft" compile --help
grep -q -- "--fabric" "$tmp/out" && ok || bad "compile --help lacks --fabric"

# a plan, its picture and the functional check
"$weft" compile --model cnn --batch 8 --fabric plasticine -o "$tmp/plan.json" --svg "$tmp/f.svg" --check --json \
  >"$tmp/c.json" 2>"$tmp/err" && ok || bad "compile cnn: $(tail -3 "$tmp/err")"
$py - "$tmp/plan.json" "$tmp/c.json" <<'EOF' && ok || bad "plan JSON: $(head -c 300 "$tmp/plan.json")"
import json, sys
p = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
assert p["format"] == "weft-plan" and p["fabric"]["name"] == "plasticine"
s = p["summary"]
assert s["pcu_units"] == c["pcu_units"] > 0 and s["sections"] == c["sections"] >= 1
assert len(p["units"]) == s["pcu_units"] + s["pmu_units"] + s["ag_units"]
assert len(p["nets"]) == s["nets"] and sum(len(n["links"]) for n in p["nets"]) == s["wirelength"]
rows, cols = p["fabric"]["grid"]["rows"], p["fabric"]["grid"]["cols"]
for sec in p["sections"]:
    first, n = sec["units"]
    slots = [(u["kind"] == "ag", u["slot"]) for u in p["units"][first:first + n]]
    assert len(set(slots)) == len(slots), "two units on one slot"
for u in p["units"]:
    if u["kind"] != "ag":
        want = "pcu" if (u["row"] + u["col"]) % 2 == 0 else "pmu"
        assert u["kind"] == want, u
assert c["check"]["tiles"] > 0 and c["check"]["grad_err"] < 1e-4 and c["check"]["weight_err"] < 1e-4, c["check"]
EOF
head -c 5 "$tmp/f.svg" | grep -q "<svg" && grep -q "</svg>" "$tmp/f.svg" && ok || bad "fabric SVG is not an SVG"

# too small a fabric: sections, said so
sed 's/"rows": 8, "cols": 16/"rows": 4, "cols": 4/; s/"address_generators": 8/"address_generators": 4/' \
  "$tmp/p.json" >"$tmp/small.json"
"$weft" compile --model gpt-mini --batch 2 --fabric "$tmp/small.json" >"$tmp/o" 2>"$tmp/err" && ok \
  || bad "compile on a 4x4 fabric: $(tail -2 "$tmp/err")"
grep -Eq "[0-9]+ sections" "$tmp/o" && ok || bad "no sections on a 4x4 fabric: $(head -3 "$tmp/o")"

# the simulator
expect 2 "which plan" -- "$weft" simulate
expect 2 "--mode" -- "$weft" simulate "$tmp/plan.json" --mode sideways
expect 2 "nosuch.json" -- "$weft" simulate "$tmp/nosuch.json"
sed 's/"format": "weft-plan"/"format": "weft-plan?"/' "$tmp/plan.json" >"$tmp/badplan.json"
expect 2 "format" -- "$weft" simulate "$tmp/badplan.json"
"$weft" simulate "$tmp/plan.json" --json --svg "$tmp/u.svg" --report "$tmp/rep" >"$tmp/s.json" 2>"$tmp/err" && ok \
  || bad "simulate: $(tail -2 "$tmp/err")"
$py - "$tmp/s.json" <<'EOF' && ok || bad "simulate JSON: $(cat "$tmp/s.json")"
import json, sys
j = json.load(open(sys.argv[1]))
s, k = j["spatial"], j["kernel"]
assert s["cycles"] > 0 and k["cycles"] > 0, j
assert 0 < s["peak_fraction"] <= 1 and 0 < k["peak_fraction"] <= 1, j
assert s["tokens_sent"] == s["tokens_taken"] > 0, s
assert k["dram_bytes"] > s["dram_bytes"], j
EOF
grep -q "</svg>" "$tmp/u.svg" && grep -q "spatial" "$tmp/rep/report.html" && ok || bad "simulate wrote no map or report"
finish
