#!/usr/bin/env python3
"""st_same.py A B [C ...]: every checkpoint holds the same tensors, byte for
byte, as A; exits 1 naming the ones that differ. A checkpoint is a
safetensors file, or the manifest of a pipeline's checkpoint on MPI
(metadata "stages": S), whose tensors are in PATH.step<N>.stage<s>."""
import json
import struct
import sys


def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", {})
    if "stages" in meta:
        out = {}
        for s in range(int(meta["stages"])):
            out.update(tensors("%s.step%s.stage%d" % (path, meta["step"], s)))
        return out
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}


a = tensors(sys.argv[1])
bad = False
for other in sys.argv[2:]:
    b = tensors(other)
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if diff:
        print("%s differs from %s in %d of %d tensors: %s" % (other, sys.argv[1], len(diff), len(a), ", ".join(diff[:6])))
        bad = True
sys.exit(1 if bad else 0)
