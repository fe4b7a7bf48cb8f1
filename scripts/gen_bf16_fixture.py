#!/usr/bin/python3
"""Writes tests/fixtures/bf16_rne_hashes.txt: PyTorch's fp32 -> bfloat16
conversion of all 2^32 fp32 bit patterns, as 256 hashes (tests/test_bf16.c
recomputes them with weft's conversion and compares).

    /usr/bin/python3 scripts/gen_bf16_fixture.py [tests/fixtures/bf16_rne_hashes.txt]

Chunk c (0..255) holds the 2^24 consecutive patterns c*2^24 .. c*2^24+2^24-1.
Each is viewed int32 -> float32, converted with .to(torch.bfloat16) and viewed
int16 -> uint16, giving y[0..2^24).

Which PyTorch conversion. PyTorch has two fp32 -> bf16 paths that differ on
NaN only: c10::BFloat16's scalar round_to_nearest_even (used for Python
scalars, 0-dim and strided tensors) turns every NaN into 0x7FC0; the AVX2
kernel that converts contiguous CPU tensors (torch 1.13) turns every NaN into
0xFFFF. weft's contract (include/weft/num.h, DESIGN.md section 3) is the c10
one, so the fixture hashes the strided (c10 scalar) conversion. The script
also runs the contiguous (vectorised) conversion, asserts that the two agree
bit for bit on every non-NaN input and that on NaN inputs they give exactly
0x7FC0 and 0xFFFF, and prints the counts.

The hash (one 64-bit number per chunk, "FNV-1a-64 over 4096 lanes"):
  FNV-1a-64 with offset basis 0xcbf29ce484222325 and prime 0x100000001b3,
  applied to 16-bit symbols in 4096 interleaved lanes so that numpy (and the
  C test) can run the lanes side by side:
    lane j = 0..4095 starts at h_j = offset basis;
    for r = 0..4095:  h_j = (h_j XOR y[r*4096 + j]) * prime   (mod 2^64)
  then the chunk hash is plain byte-wise FNV-1a-64 over the 32768 bytes of
  h_0, h_1, ..., h_4095, each written as 8 little-endian bytes.
  Written as 16 lower-case hex digits, one line per chunk, chunk 0 first.
  Lines starting with '#' are comments.
Each step x -> (x XOR v) * prime is a bijection of the lane state, so any
single wrong output changes its lane's hash and hence the chunk's.
"""
import sys
import time

import numpy as np
import torch

CHUNK_BITS = 24
CHUNK = 1 << CHUNK_BITS
NCHUNK = 1 << (32 - CHUNK_BITS)
LANES = 4096
OFFSET = 0xCBF29CE484222325
PRIME = 0x100000001B3
MASK = (1 << 64) - 1


def chunk_hash(y):
    """y: uint16 array of CHUNK outputs -> the 64-bit hash described above."""
    rows = y.reshape(CHUNK // LANES, LANES)
    h = np.full(LANES, OFFSET, dtype=np.uint64)
    prime = np.uint64(PRIME)
    for r in range(rows.shape[0]):
        h ^= rows[r]
        h *= prime  # numpy array arithmetic wraps mod 2^64
    out = OFFSET
    for b in h.astype('<u8').tobytes():
        out = ((out ^ b) * PRIME) & MASK
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/bf16_rne_hashes.txt"
    torch.set_num_threads(1)
    # Strided source: every other float of a 2*CHUNK buffer, so .to() takes
    # the element-wise c10::BFloat16 path rather than the vectorised kernel.
    wide = torch.empty(2 * CHUNK, dtype=torch.float32)
    strided = wide[::2]
    assert not strided.is_contiguous()
    lines = []
    nan_total = 0
    t0 = time.time()
    for c in range(NCHUNK):
        start = c << CHUNK_BITS
        bits = np.arange(start, start + CHUNK, dtype=np.uint64).astype(np.uint32)
        x = torch.from_numpy(bits.view(np.int32)).view(torch.float32)
        strided.copy_(x)  # a float copy keeps NaN payloads bit for bit
        y = strided.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
        yv = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
        isnan = (bits & 0x7FFFFFFF) > 0x7F800000
        if not np.array_equal(y[~isnan], yv[~isnan]):
            sys.exit("chunk %d: torch's strided and contiguous conversions "
                     "disagree on non-NaN inputs" % c)
        if not (np.all(y[isnan] == 0x7FC0) and np.all(yv[isnan] == 0xFFFF)):
            sys.exit("chunk %d: unexpected NaN outputs" % c)
        nan_total += int(isnan.sum())
        lines.append("%016x" % chunk_hash(y))
        if c % 32 == 31:
            print("chunk %d/%d, %.0f s" % (c + 1, NCHUNK, time.time() - t0), file=sys.stderr)
    with open(path, "w") as f:
        f.write("# torch %s fp32->bf16 (c10::BFloat16 nearest-even, NaN -> 0x7FC0) of all\n"
                "# 2^32 fp32 patterns: 256 chunks of 2^24, each hashed with FNV-1a-64 over\n"
                "# 4096 lanes of 16-bit symbols. Written by scripts/gen_bf16_fixture.py.\n"
                % torch.__version__)
        f.write("\n".join(lines) + "\n")
    print("wrote %s: %d chunks; %d NaN inputs (c10 path 0x7FC0, contiguous kernel 0xFFFF), "
          "all other outputs identical on both paths" % (path, NCHUNK, nan_total), file=sys.stderr)


if __name__ == "__main__":
    main()
