"""Peer for bench/onnx_import.sh: a transformer of the given shape in PyTorch
(Debian's python3-torch) — the same module scripts/export_onnx.py exports
(pre-norm blocks, causal attention, GELU MLP 4x, tied head) — exported to
ONNX (opset 17, no constant folding) beside a batch of token ids, then timed
forward in PyTorch at batch 1 (median of 5 passes after a warm-up, no
autograd), so weft's import and inference of the same file can be set beside it.
  /usr/bin/python3 bench/peers/torch_onnx.py --out DIR [--vocab 50257 --layers 12 --heads 12 --d 768 --ctx 1024]
Writes DIR/model.onnx and DIR/ids.npy (int64, (1, ctx)); prints JSON."""
import argparse, json, os, statistics, sys, time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from export_onnx import Transformer  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
p.add_argument("--vocab", type=int, default=50257)
p.add_argument("--layers", type=int, default=12)
p.add_argument("--heads", type=int, default=12)
p.add_argument("--d", type=int, default=768)
p.add_argument("--ctx", type=int, default=1024)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
m = Transformer(V=a.vocab, T=a.ctx, D=a.d, H=a.heads, L=a.layers).eval()
ids = torch.randint(0, a.vocab, (1, a.ctx))
os.makedirs(a.out, exist_ok=True)
times = []   # timed first: the export's memory and its 0.5 GB of writing would weigh on it
with torch.no_grad():
    y = m(ids)
    for _ in range(5):
        t0 = time.perf_counter()
        y = m(ids)
        times.append(time.perf_counter() - t0)
np.save(os.path.join(a.out, "torch_logits.npy"), y[0, :8].numpy())
del y
path = os.path.join(a.out, "model.onnx")
t0 = time.perf_counter()
torch.onnx.export(m, ids, path, opset_version=17, input_names=["x"], output_names=["logits"],
                  dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=False)
export_s = time.perf_counter() - t0
np.save(os.path.join(a.out, "ids.npy"), ids.numpy())
print(json.dumps({"params": sum(t.numel() for t in m.parameters()), "onnx_bytes": os.path.getsize(path),
                  "export_seconds": export_s, "seconds": statistics.median(times), "threads": a.threads,
                  "torch": torch.__version__}))
