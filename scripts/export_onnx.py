#!/usr/bin/python3
"""Exports small PyTorch models to ONNX for weft's import tests (issue: bring
your own model), with an input and PyTorch's output beside each.

    /usr/bin/python3 scripts/export_onnx.py [OUT_DIR]     (default tests/fixtures)

Writes onnx_<name>.onnx (torch.onnx.export, opset 13, a symbolic batch) and
onnx_<name>.io: the input (2, 1, 28, 28) then the output (2, 10), float32
little-endian, nothing else. Needs Debian's python3-torch. Deterministic for
a torch version (seed 0).
"""
import os
import sys

import torch
import torch.nn as nn


def models():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                        nn.Flatten(), nn.Linear(8 * 7 * 7, 32), nn.ReLU(), nn.Linear(32, 10))
    return {"mlp": mlp, "cnn": cnn}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    os.makedirs(out, exist_ok=True)
    for name, m in models().items():
        m.eval()
        torch.manual_seed(1)
        x = torch.randn(2, 1, 28, 28)
        path = os.path.join(out, f"onnx_{name}.onnx")
        torch.onnx.export(m, x, path, opset_version=13, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
        with torch.no_grad():
            y = m(x)
        with open(os.path.join(out, f"onnx_{name}.io"), "wb") as f:
            f.write(x.numpy().astype("<f4").tobytes())
            f.write(y.numpy().astype("<f4").tobytes())
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
