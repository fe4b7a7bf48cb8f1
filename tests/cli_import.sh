#!/usr/bin/env bash
# `weft import`: an ONNX model from PyTorch summarised; a file that is not
# ONNX, a missing file or no file get a clear error and exit status 2.
# Usage: cli_import.sh path/to/weft
set -u
weft=${1:?usage: cli_import.sh path/to/weft}
. "$(dirname "$0")/lib_cli.sh"
fx=${WEFT_FIXTURES:-tests/fixtures}

expect 0 "" -- "$weft" import "$fx/onnx_cnn.onnx" --batch 4
grep -q "Conv x2" "$tmp/out" && grep -q "(4, 1, 28, 28)" "$tmp/out" && grep -q "logits" "$tmp/out" && ok \
  || bad "import summary: $(cat "$tmp/out")"
"$weft" import "$fx/onnx_mlp.onnx" --json >"$tmp/j" && /usr/bin/python3 -c "
import json, sys; j = json.load(open(sys.argv[1])); assert j['ops']['Gemm'] == 3 and j['opset'] == 13, j" "$tmp/j" && ok \
  || bad "import --json: $(cat "$tmp/j")"
expect 2 "which model" -- "$weft" import
echo "not a model" >"$tmp/x.onnx"
expect 2 "x.onnx: not an ONNX model" -- "$weft" import "$tmp/x.onnx"
expect 2 "nosuch.onnx" -- "$weft" import "$tmp/nosuch.onnx"
finish
