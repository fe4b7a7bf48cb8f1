#!/usr/bin/python3
"""Exports small PyTorch models to ONNX for weft's import tests (issue: bring
your own model), with an input and PyTorch's output beside each.

    /usr/bin/python3 scripts/export_onnx.py [OUT_DIR]     (default tests/fixtures)

Writes onnx_<name>.onnx (torch.onnx.export, opset 13, a symbolic batch) and
onnx_<name>.io: the input (2, 1, 28, 28) then the output (2, 10), float32
little-endian, nothing else (embed: its input is (2, 4) token ids, written
as float32 too). Needs Debian's python3-torch. Deterministic for
a torch version (seed 0).
"""
import os
import sys

import torch
import torch.nn as nn


class Block(nn.Module):
    """A residual block: conv, batch norm, relu, conv, batch norm, + x, relu."""

    def __init__(self, c):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(x + self.b2(self.c2(torch.relu(self.b1(self.c1(x))))))


class Res(nn.Module):
    """A small residual net: the exporter folds the 2-D batch norms into the
    convolutions; the 1-D one after the linear layer stays a
    BatchNormalization node; global average pooling; a sigmoid head."""

    def __init__(self):
        super().__init__()
        self.stem, self.bn = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.blk = Block(8)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc, self.bn1 = nn.Linear(8, 10), nn.BatchNorm1d(10)

    def forward(self, x):
        h = self.blk(torch.relu(self.bn(self.stem(x))))
        return torch.sigmoid(self.bn1(self.fc(torch.flatten(self.gap(h), 1))))


def models():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                        nn.Flatten(), nn.Linear(8 * 7 * 7, 32), nn.ReLU(), nn.Linear(32, 10))
    res = Res()
    res.train()
    for _ in range(3):   # running statistics that are not 0 and 1
        res(torch.randn(8, 1, 28, 28))
    embed = nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(32, 10))
    return {"mlp": mlp, "cnn": cnn, "resnet": res, "embed": embed}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    os.makedirs(out, exist_ok=True)
    for name, m in models().items():
        m.eval()
        torch.manual_seed(1)
        x = torch.randint(0, 50, (2, 4)) if name == "embed" else torch.randn(2, 1, 28, 28)
        path = os.path.join(out, f"onnx_{name}.onnx")
        torch.onnx.export(m, x, path, opset_version=13, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
        with torch.no_grad():
            y = m(x)
        with open(os.path.join(out, f"onnx_{name}.io"), "wb") as f:
            f.write(x.numpy().astype("<f4").tobytes())   # ids too: small integers, exact
            f.write(y.numpy().astype("<f4").tobytes())
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
