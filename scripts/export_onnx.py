#!/usr/bin/python3
"""Exports small PyTorch models to ONNX for weft's import tests (issue: bring
your own model), with an input and PyTorch's output beside each.

    /usr/bin/python3 scripts/export_onnx.py [OUT_DIR]     (default tests/fixtures)

Writes onnx_<name>.onnx (torch.onnx.export, a symbolic batch) and
onnx_<name>.io: the input then the output, float32 little-endian, nothing
else. The image models (opset 13) take (2, 1, 28, 28) and give (2, 10); embed
takes (2, 4) token ids; the transformers (opset 17, where LayerNormalization
is one op; gpt14 at opset 14, where it is written out) take (2, 16) token ids (written as float32 too) and give (2, 16,
64) or (2, 16, 12); lstm (opset 17) takes (2, 6) ids and gives (2, 6, 50);
dlrm (opset 17) takes dense features (2, 13) and ids (2, 4), in that order,
and gives (2).
The transformers and the LSTM are exported without constant folding,
as a user should to write weights back (every weight keeps its state_dict
name; the tied head stays tied). Needs Debian's python3-torch.
Deterministic for a torch version (seed 0).
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


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


class TBlock(nn.Module):
    """A pre-norm transformer block as the zoo's gpt builds it: attention on
    one qkv projection split in three, causal (gpt) or not (bert, with a
    fixed linear position bias on the scores), GELU MLP of width 4d."""

    def __init__(self, d, h, causal, bias=None):
        super().__init__()
        self.h, self.causal = h, causal
        self.ln1, self.qkv, self.proj = nn.LayerNorm(d), nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ln2, self.fc1, self.fc2 = nn.LayerNorm(d), nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        if bias is not None:
            self.register_buffer("bias", bias, persistent=False)
        else:
            self.bias = None

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(D, 2)
        q, k, v = (t.view(B, T, self.h, D // self.h).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / (D // self.h) ** 0.5
        if self.bias is not None:
            att = att - self.bias
        if self.causal:
            att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Transformer(nn.Module):
    """gpt: causal, logits through the tied token embedding. bert: an
    encoder with a 12-class token head and a position bias (even heads
    penalise keys behind, odd heads keys ahead)."""

    def __init__(self, bert=False, V=64, T=16, D=32, H=4, L=2):
        super().__init__()
        self.bert = bert
        self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(T, D)
        bias = None
        if bert:
            d = (torch.arange(T)[None, :] - torch.arange(T)[:, None]).float()
            bias = torch.stack([torch.where(d < 0, -d * 0.5, d * 0.1) if h % 2 == 0 else
                                torch.where(d < 0, -d * 0.1, d * 0.5) for h in range(H)])
        self.blocks = nn.ModuleList(TBlock(D, H, not bert, bias) for _ in range(L))
        self.lnf = nn.LayerNorm(D)
        self.head = nn.Linear(D, 12) if bert else None

    def forward(self, tok):
        x = self.wte(tok) + self.wpe(torch.arange(tok.shape[1]))
        for b in self.blocks:
            x = b(x)
        x = self.lnf(x)
        return self.head(x) if self.bert else F.linear(x, self.wte.weight)


class Lstm(nn.Module):
    """The zoo's lstm-lm, small: an embedding, a 2-layer nn.LSTM (time-major
    inside, as weft runs it), a linear layer to the vocabulary."""

    def __init__(self, V=50, E=8, H=16):
        super().__init__()
        self.emb, self.lstm, self.out = nn.Embedding(V, E), nn.LSTM(E, H, 2), nn.Linear(H, V)

    def forward(self, tok):
        h, _ = self.lstm(self.emb(tok).transpose(0, 1))
        return self.out(h.transpose(0, 1))


class Dlrm(nn.Module):
    """The zoo's dlrm-small, small: a bottom MLP on 13 dense features, one
    row of each table (ids global over the tables, one table in all), the
    dot interaction (the lower triangle of the features' dot products, in
    row-major order, beside the dense vector: tril_indices does not export,
    so its indices are a buffer), a top MLP to one logit per example."""

    def __init__(self, tables=4, rows=10, D=8):
        super().__init__()
        self.bot = nn.Sequential(nn.Linear(13, 16), nn.ReLU(), nn.Linear(16, D), nn.ReLU())
        self.emb = nn.Embedding(tables * rows, D)
        F_ = tables + 1
        li, lj = torch.tril_indices(F_, F_, -1)
        self.register_buffer("li", li, persistent=False)
        self.register_buffer("lj", lj, persistent=False)
        self.top = nn.Sequential(nn.Linear(D + F_ * (F_ - 1) // 2, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, dense, ids):
        x = self.bot(dense)
        feats = torch.cat([x[:, None, :], self.emb(ids)], 1)
        z = feats @ feats.transpose(1, 2)
        return self.top(torch.cat([x, z[:, self.li, self.lj]], 1)).reshape(-1)


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
    gpt, bert, gpt14 = Transformer(), Transformer(bert=True), Transformer(L=1)
    return {"mlp": mlp, "cnn": cnn, "resnet": res, "embed": embed, "gpt": gpt, "bert": bert, "gpt14": gpt14,
            "lstm": Lstm(), "dlrm": Dlrm()}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    os.makedirs(out, exist_ok=True)
    for name, m in models().items():
        m.eval()
        torch.manual_seed(1)
        text = name in ("gpt", "bert", "gpt14", "lstm")
        x = (torch.randint(0, 50, (2, 4)) if name == "embed" else torch.randint(0, 50, (2, 6)) if name == "lstm"
             else torch.randint(0, 64, (2, 16)) if text else torch.randn(2, 1, 28, 28))
        xs, names = (x,), ["x"]
        if name == "dlrm":   # two inputs: dense features, and ids (table t's rows from t * 10)
            xs, names = (torch.randn(2, 13), torch.randint(0, 10, (2, 4)) + 10 * torch.arange(4)), ["dense", "ids"]
        path = os.path.join(out, f"onnx_{name}.onnx")
        opset = 14 if name == "gpt14" else 17 if text or name == "dlrm" else 13   # 14: layer norms written out
        axes = {n: {0: "batch"} for n in names}
        axes["logits"] = {0: "batch"}
        torch.onnx.export(m, xs, path, opset_version=opset, input_names=names, output_names=["logits"],
                          dynamic_axes=axes, do_constant_folding=not (text or name == "dlrm"))
        with torch.no_grad():
            y = m(*xs)
        with open(os.path.join(out, f"onnx_{name}.io"), "wb") as f:
            for t in xs:
                f.write(t.numpy().astype("<f4").tobytes())   # ids too: small integers, exact
            f.write(y.numpy().astype("<f4").tobytes())
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
