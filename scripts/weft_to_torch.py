#!/usr/bin/python3
"""Loads weights weft trained into a PyTorch module.

`weft train --onnx model.onnx ... --export-weights W.safetensors` writes every
trained parameter under its ONNX initializer name, in the file's layout, as
float32. Exported from PyTorch with do_constant_folding=False, those names are
the module's state_dict keys, so the file loads straight back:

    import sys; sys.path.insert(0, "scripts")
    from weft_to_torch import load_weft_weights
    placed, unplaced, missing = load_weft_weights(model, "W.safetensors")

From the command line (the module built by a Python file's function, or a
torch.save'd module or state_dict):

    /usr/bin/python3 scripts/weft_to_torch.py W.safetensors --list
    /usr/bin/python3 scripts/weft_to_torch.py W.safetensors --module my_model.py:build -o model.pt
    /usr/bin/python3 scripts/weft_to_torch.py W.safetensors --into base.pt -o tuned.pt

The command exits 1 when a tensor found no place, 2 when the file cannot be
read. Tensors the module has no place for (a name it lacks, or a shape that differs:
with constant folding PyTorch may export a transposed anonymous copy of a
weight, such as onnx::MatMul_123) are reported, never loaded by guesswork.
Reads safetensors by hand (8-byte little-endian header length, a JSON header,
raw little-endian data): no safetensors package needed, only numpy and torch.
"""
import argparse
import importlib.util
import json
import os
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I32": "<i4", "I64": "<i8", "U8": "u1", "I8": "i1", "BOOL": "?"}


def read_safetensors(path):
    """{name: numpy array} and the __metadata__ dict of a safetensors file
    (BF16 widened to float32)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: the header length {n} runs past the end of the file")
    header = json.loads(data[8:8 + n])
    base, out = 8 + n, {}
    meta = header.pop("__metadata__", {}) or {}
    for name, h in header.items():
        begin, end = h["data_offsets"]
        shape, dt = tuple(h["shape"]), h["dtype"]
        if not 0 <= begin <= end <= len(data) - base:
            raise ValueError(f"{path}: tensor {name}: its data lies outside the file")
        raw = data[base + begin:base + end]
        if dt == "BF16":   # the top half of a float32
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        elif dt in DTYPES:
            a = np.frombuffer(raw, DTYPES[dt])
        else:
            raise ValueError(f"{path}: tensor {name}: dtype {dt} is not supported")
        if a.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: tensor {name}: {a.size} values for shape {list(shape)}")
        out[name] = a.reshape(shape).copy()
    return out, meta


def load_weft_weights(module, path, verbose=True):
    """Copies the file's tensors into module (load_state_dict, strict=False).
    Returns (placed, unplaced, missing): the keys loaded; the file's tensors
    with no place in the module (name -> why); the module's keys the file
    did not have. verbose prints the last two on stderr."""
    import torch
    tensors, _ = read_safetensors(path)
    own = module.state_dict()
    load, unplaced = {}, {}
    for name, a in tensors.items():
        if name not in own:
            why = "no such key in the module"
            if name.startswith("onnx::"):
                why += " (an anonymous copy from constant folding: export with do_constant_folding=False)"
            unplaced[name] = why
        elif tuple(own[name].shape) != a.shape:
            unplaced[name] = f"shape {list(a.shape)}, the module's is {list(own[name].shape)}"
        else:
            load[name] = torch.from_numpy(a).to(own[name].dtype)
    result = module.load_state_dict(load, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if verbose:
        for name, why in unplaced.items():
            print(f"weft_to_torch: {path}: {name} not placed: {why}", file=sys.stderr)
        if missing:
            print(f"weft_to_torch: {path}: the module's {', '.join(missing)} not in the file (left as they were)",
                  file=sys.stderr)
    return sorted(load), unplaced, missing


def _module_from(spec):
    """FILE.py:FUNCTION (called with no arguments), or a torch.save'd module
    or state_dict (then a dict: loaded into by key)."""
    import torch
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        path, fn = spec.split(":", 1)
        s = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
        return getattr(mod, fn)()
    return torch.load(spec)


class _Dict(object):
    """A state_dict standing in for a module."""

    def __init__(self, sd):
        self.sd = sd

    def state_dict(self):
        return self.sd

    def load_state_dict(self, d, strict=False):
        self.sd.update(d)
        import collections
        R = collections.namedtuple("R", "missing_keys unexpected_keys")
        return R([k for k in self.sd if k not in d], [])


def main(argv=None):
    ap = argparse.ArgumentParser(description="Load weights weft trained (weft train --export-weights) into PyTorch.")
    ap.add_argument("weights", help="the safetensors file weft wrote")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--module", metavar="FILE.py:FUNCTION", help="build the module with this function")
    g.add_argument("--into", metavar="MODEL.pt", help="a torch.save'd module or state_dict to load into")
    ap.add_argument("-o", "--out", metavar="OUT.pt", help="torch.save the result (the module's state_dict); "
                    "without --module/--into, the file's tensors as a state_dict")
    ap.add_argument("--list", action="store_true", help="print the file's tensors and metadata")
    a = ap.parse_args(argv)
    import torch
    try:
        tensors, meta = read_safetensors(a.weights)
    except (OSError, ValueError, KeyError) as e:
        print(f"weft_to_torch: {e}", file=sys.stderr)
        return 2
    if a.list:
        for k, v in meta.items():
            print(f"# {k}: {v}")
        for name, t in tensors.items():
            print(f"{name}\t{t.dtype}\t{list(t.shape)}")
    bad = 0
    if a.module or a.into:
        target = _module_from(a.module or a.into)
        m = target if hasattr(target, "load_state_dict") and not isinstance(target, dict) else _Dict(target)
        placed, unplaced, missing = load_weft_weights(m, a.weights)
        print(f"weft_to_torch: {len(placed)} of {len(tensors)} tensors placed", file=sys.stderr)
        bad = 1 if unplaced else 0
        result = m.state_dict()
    else:
        result = {k: torch.from_numpy(v) for k, v in tensors.items()}
    if a.out:
        tmp = a.out + ".tmp"
        torch.save(result, tmp)
        os.replace(tmp, a.out)
    return bad


if __name__ == "__main__":
    sys.exit(main())
