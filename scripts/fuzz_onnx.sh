#!/usr/bin/env bash
# Fuzzes the ONNX reader with libFuzzer (clang), AddressSanitizer and
# UndefinedBehaviorSanitizer, seeded with the models scripts/export_onnx.py
# exported (tests/fixtures/onnx_*.onnx). Prints the executions run and the
# crashes found; a crash's input is left in the work directory.
# Usage: scripts/fuzz_onnx.sh [seconds (default 60)] [work dir (default /tmp/weft-fuzz)]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
work=${2:-/tmp/weft-fuzz}
command -v clang >/dev/null || { echo "fuzz_onnx: needs clang (Debian's clang package)" >&2; exit 2; }
mkdir -p "$work/corpus"
cp tests/fixtures/onnx_*.onnx "$work/corpus/"
CC=clang cmake -S . -B "$work/build" -DCMAKE_BUILD_TYPE=Debug -DWEFT_FUZZ=ON >/dev/null
cmake --build "$work/build" -j2 --target fuzz_onnx >/dev/null
cd "$work"
set +e
./build/fuzz_onnx corpus -max_total_time="$secs" -rss_limit_mb=2048 -max_len=300000 -print_final_stats=1 \
  >fuzz.log 2>&1
rc=$?
set -e
runs=$(grep -o "stat::number_of_executed_units: *[0-9]*" fuzz.log | grep -o "[0-9]*$" || echo "?")
crashes=$( (ls crash-* leak-* timeout-* oom-* 2>/dev/null || true) | wc -l)
echo "fuzz_onnx: $runs executions in ${secs} s, $crashes crashes (exit $rc); log: $work/fuzz.log"
[[ $crashes -eq 0 && $rc -eq 0 ]]
