#!/usr/bin/env bash
# `weft import`, `weft infer`, `weft compile --onnx`: an ONNX model from
# PyTorch summarised, run on an input (PyTorch's output back, as .npy), and
# compiled and checked tile by tile; a file that is not ONNX, a missing file,
# an input of the wrong size get a clear error and exit status 2.
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

# infer: the fixture's input as .npy; the output against PyTorch's
/usr/bin/python3 - "$fx/onnx_cnn.io" "$tmp" <<'EOF'
import sys, numpy as np
d = np.fromfile(sys.argv[1], dtype="<f4")
np.save(sys.argv[2] + "/x.npy", d[:2 * 784].reshape(2, 1, 28, 28))
np.save(sys.argv[2] + "/want.npy", d[2 * 784:].reshape(2, 10))
d[:100].tofile(sys.argv[2] + "/short.f32")
EOF
expect 0 "" -- "$weft" infer --onnx "$fx/onnx_cnn.onnx" --input "$tmp/x.npy" -o "$tmp/y.npy"
/usr/bin/python3 -c "
import sys, numpy as np
y, w = np.load(sys.argv[1]), np.load(sys.argv[2])
assert y.shape == (2, 10) and np.abs(y - w).max() < 1e-5, (y, w)" "$tmp/y.npy" "$tmp/want.npy" && ok || bad "infer output differs from PyTorch's"
expect 2 "not a whole number of samples" -- "$weft" infer --onnx "$fx/onnx_cnn.onnx" --input "$tmp/short.f32"
expect 2 "--input" -- "$weft" infer --onnx "$fx/onnx_cnn.onnx"
# compile an imported model's inference step, checked tile by tile
expect 0 "" -- "$weft" compile --onnx "$fx/onnx_cnn.onnx" --batch 4 --fabric sn10 --check --quiet
finish
