#!/usr/bin/env bash
# ONNX import figures (docs/ONNX.md): a transformer of GPT-2 small's shape
# (12 layers, 12 heads, d 768, context 1024, vocabulary 50257; 124M
# parameters) built in PyTorch, exported to ONNX, then
#   import   the time `weft import` takes to read it into a weft graph
#   latency  one forward pass at batch 1 over the whole context, 2 threads:
#            weft (`weft infer`) beside PyTorch on the model the file came
#            from, measured in the same run; the ratio is weft's time over
#            PyTorch's (below 1: weft is faster)
# and the two outputs' largest difference. Takes a few minutes and ~3 GB.
# Usage: bench/onnx_import.sh [SHAPE_FLAGS for the peer, e.g. --layers 2 --ctx 128]
set -uo pipefail
cd "$(dirname "$0")/.."
weft=${WEFT_BIN:-build/weft}
py=/usr/bin/python3
[[ -x $weft ]] || { echo "build weft first (make)" >&2; exit 2; }
dir=$(mktemp -d /tmp/weft_onnx_bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "exporting GPT-2 small's shape from PyTorch (and timing PyTorch's forward pass)..." >&2
peer=$($py bench/peers/torch_onnx.py --out "$dir" "$@") || { echo "the PyTorch peer failed" >&2; exit 1; }
imp=$($weft import "$dir/model.onnx" --json) || exit 1
inf=$($weft infer --onnx "$dir/model.onnx" --input "$dir/ids.npy" --threads 2 -o "$dir/weft_logits.npy" --json) || exit 1
$py - "$peer" "$imp" "$inf" "$dir" <<'PY'
import json, sys
import numpy as np
peer, imp, inf, d = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
w = np.load(f"{d}/weft_logits.npy")[0, :8]
t = np.load(f"{d}/torch_logits.npy")
print(f"model: {peer['params'] / 1e6:.1f}M parameters, {peer['onnx_bytes'] / 2**20:.0f} MiB of ONNX "
      f"(torch {peer['torch']} export: {peer['export_seconds']:.1f} s)")
print(f"import:  weft {imp['seconds']:.2f} s  ({imp['onnx_nodes']} ONNX nodes -> {imp['weft_nodes']} weft nodes)")
print(f"latency: weft {inf['seconds'] * 1e3:.0f} ms  PyTorch {peer['seconds'] * 1e3:.0f} ms  "
      f"ratio {inf['seconds'] / peer['seconds']:.2f}  (batch 1, {peer['threads']} threads)")
print(f"outputs: max difference {np.abs(w - t).max():.2g} over the logits of the first 8 positions")
PY
