"""Shared by the fixture scripts: the safetensors writer, bf16 rounding and the seeds
(gen_fixtures.py documents the fixtures)."""
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

OP_SEED = 1234
MODEL_SEED = 20240601
BATCH = 4
KINK_MARGIN = 5e-3
FULL_GRAD_MAX = 20000
GRAD_SAMPLES = 512

# ---- safetensors ------------------------------------------------------------------

ST_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32", np.dtype(np.uint16): "BF16"}


def write_safetensors(path, tensors, meta):
    """tensors: list of (name, numpy array) in order; uint16 arrays are bf16 bits."""
    header, blobs, off = {}, [], 0
    for name, a in tensors:
        a = np.ascontiguousarray(a)
        dt = ST_DTYPES[a.dtype]
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {str(k): str(v) for k, v in meta.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# ---- bf16 --------------------------------------------------------------------------

def bf16_bits(t):
    """float tensor -> uint16 numpy bits, rounded to nearest even (finite inputs)."""
    return t.detach().float().to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16).copy()


def bf16_round(t):
    """float tensor -> the same values rounded to bf16, as float32."""
    return t.detach().float().to(torch.bfloat16).float()


def f32(t):
    return t.detach().to(torch.float32).numpy().copy()


# ---- references shared by the op and model fixtures ------------------------------

def lstm_ref(x, w_ih, w_hh, b_ih, b_hh):
    """torch.nn.LSTM (one layer, zero initial state, gates i, f, g, o) step
    by step, in the inputs' dtype: y (T,B,H)."""
    T, B, _ = x.shape
    H = w_hh.shape[1]
    h = x.new_zeros(B, H)
    c = x.new_zeros(B, H)
    ys = []
    for t in range(T):
        a = x[t] @ w_ih.t() + b_ih + h @ w_hh.t() + b_hh
        i, f, g, o = a.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        ys.append(h)
    return torch.stack(ys)


def dot_interact_ref(dense, emb):
    """[dense, dots of features (i,j), i = 1..F-1, j < i], feature 0 = dense,
    1+t = emb[:,t]: the lower triangle in row-major order (1,0),(2,0),(2,1).."""
    feats = torch.cat([dense[:, None, :], emb], 1)
    Fn = feats.shape[1]
    z = feats @ feats.transpose(1, 2)
    li, lj = torch.tril_indices(Fn, Fn, -1)
    return torch.cat([dense, z[:, li, lj]], 1)
