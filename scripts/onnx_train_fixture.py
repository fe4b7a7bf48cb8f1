#!/usr/bin/python3
"""Fixtures for fine-tuning an imported ONNX model (tests/test_onnx_train.c):
small PyTorch models exported with do_constant_folding=False (so every weight
keeps its state_dict name), a batch, PyTorch's cross-entropy loss, every
parameter's gradient and the weights after one plain SGD step.

    /usr/bin/python3 scripts/onnx_train_fixture.py [OUT_DIR]   (default tests/fixtures)

Writes, per model (mlp, cnn, lm, gpt):
  onnx_train_<name>.onnx          torch.onnx.export, opset 13 (gpt: 17), a
                                  symbolic batch
  onnx_train_<name>.safetensors   x (the batch: f32 images, or i32 token ids),
                                  labels (i32: one per image, or per token),
                                  logits (the model's output), loss (a scalar),
                                  grad.<name> and new.<name> for every
                                  initializer, in the file's layout;
                                  metadata lr (the SGD step's learning rate).
The reference is computed in float64 from the exported float32 weights, so a
comparison measures weft's error alone. The mlp multiplies by a bare
parameter (x @ W: an ONNX MatMul whose weight weft holds transposed), so the
test checks that the transpose is undone. gpt is scripts/export_onnx.py's
transformer (causal attention, GELU, layer norms, a head tied to the token
embedding: one weight, two uses). Needs Debian's python3-torch;
deterministic for a torch version (seed 0). Writes its files atomically.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import Transformer  # noqa: E402

LR = 0.1
BATCH = 4
T = 6   # the language model's context


class MatMulMLP(nn.Module):
    """Flatten, Linear, ReLU, x @ W (a MatMul on an initializer), ReLU, Linear."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 16)
        self.w = nn.Parameter(torch.randn(16, 12) * 0.2)
        self.fc2 = nn.Linear(12, 10)

    def forward(self, x):
        h = torch.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(torch.relu(h @ self.w))


class TinyLM(nn.Module):
    """Byte embedding, ReLU, a linear head to 256 logits per position. The
    head runs on (B*T, d) rows so PyTorch exports a Gemm on the named weight
    (on a 3-D input it would export Transpose + MatMul, which weft does not
    import yet)."""

    def __init__(self, d=8):
        super().__init__()
        self.d = d
        self.emb = nn.Embedding(256, d)
        self.head = nn.Linear(d, 256)

    def forward(self, ids):
        h = torch.relu(self.emb(ids)).reshape(-1, self.d)
        return self.head(h).reshape(-1, T, 256)


def models():
    torch.manual_seed(0)
    mlp = MatMulMLP()
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                        nn.Flatten(), nn.Linear(8 * 7 * 7, 10))
    return {"mlp": mlp, "cnn": cnn, "lm": TinyLM(), "gpt": Transformer()}


def batch(name):
    torch.manual_seed(1)
    if name == "lm":
        x = torch.randint(0, 256, (BATCH, T))
        y = torch.randint(0, 256, (BATCH * T,))
    elif name == "gpt":   # its vocabulary 64, context 16
        x = torch.randint(0, 64, (BATCH, 16))
        y = torch.randint(0, 64, (BATCH * 16,))
    else:
        x = torch.rand(BATCH, 1, 28, 28)
        y = torch.randint(0, 10, (BATCH,))
    return x, y


def write_safetensors(path, tensors, meta):
    """The safetensors format by hand: 8-byte little-endian header length,
    the JSON header (padded to 8 bytes), the raw little-endian data."""
    header, blobs, off = {"__metadata__": meta}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dt = {np.dtype("float32"): "F32", np.dtype("int32"): "I32"}[a.dtype]
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(tmp, path)


def export(m, x, path, opset):
    tmp = path + ".tmp"
    torch.onnx.export(m, x, tmp, opset_version=opset, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=False)
    data = open(tmp, "rb").read()
    # without constant folding every weight keeps its state_dict name
    for k in m.state_dict():
        assert k.encode() in data, f"{path}: {k} is not an initializer of the export"
    os.replace(tmp, path)


def reference(m, x, y):
    """Loss, logits, gradients and one SGD step in float64 from the fp32 weights."""
    md = {k: v.detach().double().clone().requires_grad_(True) for k, v in m.named_parameters()}
    xd = x if x.dtype == torch.int64 else x.double()
    call = torch.func.functional_call if hasattr(torch, "func") else torch.nn.utils.stateless.functional_call
    logits = call(m, md, (xd,))
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y)
    loss.backward()
    out = {"logits": logits.detach().float().numpy(), "loss": np.array(loss.item(), dtype=np.float32)}
    for k, p in md.items():
        out["grad." + k] = p.grad.float().numpy()
        out["new." + k] = (p.detach() - LR * p.grad).float().numpy()
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    os.makedirs(out, exist_ok=True)
    for name, m in models().items():
        m.train()
        x, y = batch(name)
        path = os.path.join(out, f"onnx_train_{name}.onnx")
        export(m, x, path, 17 if name == "gpt" else 13)
        ids = name in ("lm", "gpt")
        t = {"x": x.numpy().astype(np.int32) if ids else x.numpy(), "labels": y.numpy().astype(np.int32)}
        t.update(reference(m, x, y))
        st = os.path.join(out, f"onnx_train_{name}.safetensors")
        write_safetensors(st, t, {"lr": repr(LR), "torch": torch.__version__})
        print(f"{path}: {os.path.getsize(path)} bytes; {st}: {os.path.getsize(st)} bytes; loss {float(t['loss']):.6f}")


if __name__ == "__main__":
    main()
