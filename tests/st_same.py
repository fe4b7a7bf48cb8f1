#!/usr/bin/env python3
"""st_same.py [--close SUBSTR TOL] A B [C ...]: every checkpoint holds the
same tensors, byte for byte, as A; exits 1 naming the ones that differ.
--close: tensors whose name holds SUBSTR (float32) need only agree within
TOL of their magnitude (at least 1e-3), elementwise. A checkpoint is a
safetensors file, or the manifest of a pipeline's checkpoint on MPI
(metadata "stages": S), whose tensors are in PATH.<tag>.step<N>.stage<s>."""
import array
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
            out.update(tensors("%s.%s.step%s.stage%d" % (path, meta["stage_tag"], meta["step"], s)))
        return out
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}


args = sys.argv[1:]
close, tol = None, 0.0
if args[:1] == ["--close"]:
    close, tol, args = args[1], float(args[2]), args[3:]


def same(name, x, y):
    if x == y:
        return True
    if x is None or y is None or close is None or close not in name or len(x) != len(y):
        return False
    u, v = array.array("f", x), array.array("f", y)
    return all(abs(p - q) <= tol * max(abs(p), 1e-3) for p, q in zip(u, v))


a = tensors(args[0])
bad = False
for other in args[1:]:
    b = tensors(other)
    diff = sorted(k for k in set(a) | set(b) if not same(k, a.get(k), b.get(k)))
    if diff:
        print("%s differs from %s in %d of %d tensors: %s" % (other, args[0], len(diff), len(a), ", ".join(diff[:6])))
        bad = True
sys.exit(1 if bad else 0)
